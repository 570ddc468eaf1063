/* tus 1.0.0 resumable uploads at .../pools/{pool}/uploads[/{id}], with the
 * creation, creation-with-upload, creation-defer-length, expiration,
 * checksum, checksum-trailer, termination and concatenation extensions,
 * and CORS for browser clients of the whole API.
 *
 * State lives in the database (lib/pool_db_uploads.c) and the storage tree
 * (the store's upload ops), never in this process, so a resumed upload may
 * reach any child or host.  A request that writes bytes holds the upload's
 * lease (a random token with an expiry, renewed while bytes arrive) and no
 * database connection while it streams.  Bytes are fsynced before their
 * offset is recorded; whatever lies in the data file beyond the recorded
 * offset is cut off when the next writer opens it.  When the last byte has
 * arrived the data becomes a file like a direct PUT's (SHA-256 of the whole,
 * linked into place, the file row and the upload's "done" committed in one
 * transaction).  The file gets the upload's id, which makes completion
 * idempotent when it has to be repeated. */
#include <jansson.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>

#include "mod_pool.h"
#include "pool_sha.h"
#include "pool_groups.h"
#include "pool_tus.h"
#include "pool_util.h"
#include "pool_fields.h"

#define LEASE_SECONDS   60                      /* a writer's lease */
#define PARTS_LEASE_SECONDS 600     /* parts while a final upload is made */
#define RENEW_AFTER     apr_time_from_sec(15)   /* renewed this often */
#define PREFLIGHT_MAX_AGE "86400"
#define OFFSET_CTYPE    "application/offset+octet-stream"
#define CHECK_BLOCK     (64 * 1024)
#define HTTP_CHECKSUM_MISMATCH 460
/* What the helpers below return when all went well and the caller goes on
 * (OK means a response was sent: pool_problem returns OK). */
#define GO_ON           (-100)

#define ALLOW_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
#define ALLOW_HEADERS "Authorization, Content-Type, Content-Digest, " \
    "Tus-Resumable, Upload-Length, Upload-Defer-Length, Upload-Offset, " \
    "Upload-Metadata, Upload-Concat, Upload-Checksum, " \
    "X-HTTP-Method-Override, X-Requested-With, X-Request-Id, " \
    "If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, " \
    "If-Range, Range"
/* beyond the CORS-safelisted ones (Content-Type, Content-Length,
 * Last-Modified, ...): what downloads, retries and errors tell a client */
#define EXPOSE_HEADERS "Location, Content-Location, Pool-File-Id, " \
    "ETag, Content-Disposition, Content-Range, Accept-Ranges, " \
    "Retry-After, WWW-Authenticate, " \
    "Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, " \
    "Tus-Checksum-Algorithm, Upload-Offset, Upload-Length, " \
    "Upload-Defer-Length, Upload-Metadata, Upload-Expires, Upload-Concat, " \
    "X-Request-Id"

typedef enum {
    TUS_OTHER = 0,
    TUS_GET,
    TUS_HEAD,
    TUS_POST,
    TUS_PATCH,
    TUS_DELETE,
    TUS_OPTIONS
} tus_method;

typedef struct {
    request_rec *r;
    pool_principal *who;
    const char *pool;
    pool_srv_conf *sc;
    pool_store_t *st;
} tus_req;

/* ------------------------------------------------------------ helpers */

static int role_may_upload(const char *role)
{
    return !strcmp(role, "uploader") || !strcmp(role, "admin");
}

static const char *off_str(apr_pool_t *p, apr_off_t v)
{
    return apr_psprintf(p, "%" APR_OFF_T_FMT, v);
}

static const char *http_date(apr_pool_t *p, apr_time_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);

    if (apr_rfc822_date(buf, t) != APR_SUCCESS) {
        return NULL;
    }
    return buf;
}

static const char *new_token(apr_pool_t *p)
{
    unsigned char b[16];

    if (pool_random(b, sizeof(b)) != APR_SUCCESS) {
        return NULL;
    }
    return pool_hex(p, b, sizeof(b));
}

static const char *upload_url(tus_req *t, const char *id)
{
    return apr_psprintf(t->r->pool, "%s/v1/pools/%s/uploads/%s",
                        pool_dir_prefix(t->r), t->pool, id);
}

static const char *file_url(tus_req *t, const char *id)
{
    return apr_psprintf(t->r->pool, "%s/v1/pools/%s/files/%s",
                        pool_dir_prefix(t->r), t->pool, id);
}

/* The media type of a Content-Type value is exactly `want`. */
static int ctype_is(const char *ct, const char *want)
{
    apr_size_t n;

    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) {
        n--;
    }
    return n == strlen(want) && !strncasecmp(ct, want, n);
}

/* 1 when the request has a body (announced length > 0, or chunked). */
static int has_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");

    if (te) {
        return 1;
    }
    return cl && strcmp(cl, "0") != 0;
}

/* Content-Length as a number, -1 when absent (chunked), -2 malformed. */
static apr_off_t content_length(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n;

    if (!cl) {
        return -1;
    }
    return pool_tus_parse_size(cl, &n) == 0 ? n : -2;
}

/* A problem with the upload's offset, as tus wants for 409. */
static int offset_problem(tus_req *t, int status, apr_off_t offset,
                          const char *detail)
{
    apr_table_setn(t->r->headers_out, "Upload-Offset",
                   off_str(t->r->pool, offset));
    return pool_problem(t->r, status, detail, NULL);
}

static int checksum_mismatch(tus_req *t, apr_off_t offset, const char *detail)
{
    json_t *extra = json_object();

    json_object_set_new(extra, "title", json_string("Checksum Mismatch"));
    t->r->status_line = "460 Checksum Mismatch";
    apr_table_setn(t->r->headers_out, "Upload-Offset",
                   off_str(t->r->pool, offset));
    return pool_problem_json(t->r, HTTP_CHECKSUM_MISMATCH, detail, NULL,
                             extra);
}

static int too_large(tus_req *t, const char *what)
{
    /* the rest of a large body is not worth reading */
    t->r->connection->keepalive = AP_CONN_CLOSE;
    return pool_problem(t->r, HTTP_REQUEST_ENTITY_TOO_LARGE,
                        apr_psprintf(t->r->pool, "%s larger than the limit "
                                     "of %" APR_OFF_T_FMT " bytes "
                                     "(Tus-Max-Size)", what,
                                     t->sc->conf.max_file_size), NULL);
}

/* The headers that describe an upload's state. */
static void upload_headers(tus_req *t, const pool_upload_t *u, int full)
{
    apr_table_t *h = t->r->headers_out;
    apr_pool_t *p = t->r->pool;

    apr_table_setn(h, "Upload-Offset", off_str(p, u->offset));
    if (full) {
        if (u->length >= 0) {
            apr_table_setn(h, "Upload-Length", off_str(p, u->length));
        }
        else {
            apr_table_setn(h, "Upload-Defer-Length", "1");
        }
        if (u->metadata && *u->metadata) {
            apr_table_setn(h, "Upload-Metadata", u->metadata);
        }
        if (u->concat == POOL_TUS_CONCAT_PARTIAL) {
            apr_table_setn(h, "Upload-Concat", "partial");
        }
        else if (u->concat == POOL_TUS_CONCAT_FINAL && u->parts) {
            apr_table_setn(h, "Upload-Concat", u->parts);
        }
    }
    if (!strcmp(u->state, "open")) {
        const char *d = http_date(p, u->expires_at);
        if (d) {
            apr_table_setn(h, "Upload-Expires", d);
        }
    }
    if (u->file_id) {
        apr_table_setn(h, "Pool-File-Id", u->file_id);
        apr_table_setn(h, "Content-Location", file_url(t, u->file_id));
    }
    apr_table_setn(h, "Cache-Control", "no-store");
}

static int no_content(request_rec *r, int status)
{
    r->status = status;
    ap_set_content_length(r, 0);
    return OK;
}

/* ------------------------------------------------------ database ops */

typedef struct {
    const char *pool;
    const char *client_id;
    const char *id;
    const char *token;
    pool_upload_t *in;
    pool_upload_t *u;
    apr_off_t offset;
    apr_off_t length;
    int expiry;
    pool_file_t *f;
    pool_file_t *file;
    const apr_array_header_t *ids;
    apr_array_header_t *sizes;
    const char *bad_id;
    pool_db_rc refused_rc;      /* a failed record's outcome */
    const char *sha256_state;   /* release: the data's state at offset */
} tus_baton;

static pool_db_rc op_create(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    tus_baton *tb = b;
    pool_db_rc rc;

    /* a file the pool would refuse as late is refused before its bytes
     * are sent (the final insert checks again) */
    if (tb->in->concat != POOL_TUS_CONCAT_PARTIAL) {
        rc = pool_late_check(p, c, tb->pool, tb->in->ts, NULL, err);
        if (rc != POOL_DB_OK) {
            return rc == POOL_DB_CONFLICT ? POOL_DB_REFUSED : rc;
        }
    }
    rc = pool_upload_create(p, c, tb->pool, tb->client_id, tb->in,
                            tb->expiry, tb->token, LEASE_SECONDS, &tb->u, err);
    if (rc == POOL_DB_CONFLICT) {
        /* a retry whose first attempt did commit: the id is ours */
        rc = pool_upload_get(p, c, tb->pool, tb->client_id, tb->in->id,
                             &tb->u, err);
    }
    return rc;
}

static pool_db_rc op_get(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    tus_baton *tb = b;
    return pool_upload_get(p, c, tb->pool, tb->client_id, tb->id, &tb->u,
                           err);
}

static pool_db_rc op_lease(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    tus_baton *tb = b;
    return pool_upload_lease(p, c, tb->pool, tb->client_id, tb->id,
                             tb->token, LEASE_SECONDS, &tb->u, err);
}

static pool_db_rc op_renew(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    tus_baton *tb = b;
    return pool_upload_renew(p, c, tb->id, tb->token, LEASE_SECONDS, err);
}

static pool_db_rc op_release(apr_pool_t *p, PGconn *c, void *b,
                             const char **err)
{
    tus_baton *tb = b;
    return pool_upload_release(p, c, tb->id, tb->token, tb->offset,
                               tb->length, tb->expiry, tb->sha256_state,
                               &tb->u, err);
}

static pool_db_rc op_complete(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    tus_baton *tb = b;
    return pool_upload_complete(p, c, tb->id, tb->token, tb->f, &tb->file,
                                err);
}

/* After a failed completion: is the file there (a lost answer)? */
static pool_db_rc op_file_found(apr_pool_t *p, PGconn *c, void *b,
                                const char **err)
{
    tus_baton *tb = b;
    return pool_db_file_get(p, c, tb->pool, tb->f->id, &tb->file, err);
}

static void completion_refused(void *b, apr_pool_t *p, pool_db_rc rc,
                               const char *err, pool_problem_t *pr)
{
    tus_baton *tb = b;

    tb->refused_rc = rc;
    pool_problem_db(p, pr, rc, err, "upload");
}

static pool_db_rc op_delete(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    tus_baton *tb = b;
    return pool_upload_delete(p, c, tb->pool, tb->client_id, tb->id, err);
}

static pool_db_rc op_lease_parts(apr_pool_t *p, PGconn *c, void *b,
                                 const char **err)
{
    tus_baton *tb = b;
    return pool_upload_lease_parts(p, c, tb->pool, tb->client_id, tb->ids,
                                   tb->token, PARTS_LEASE_SECONDS, &tb->sizes,
                                   &tb->bad_id, err);
}

static pool_db_rc op_unlease(apr_pool_t *p, PGconn *c, void *b,
                             const char **err)
{
    tus_baton *tb = b;
    return pool_upload_unlease(p, c, tb->ids, tb->token, err);
}

static pool_db_rc op_create_final(apr_pool_t *p, PGconn *c, void *b,
                                  const char **err)
{
    tus_baton *tb = b;
    return pool_upload_create_final(p, c, tb->pool, tb->client_id, tb->in,
                                    tb->expiry, tb->ids, tb->token, tb->f,
                                    &tb->file, err);
}

static void baton_init(tus_baton *tb, tus_req *t, const char *id,
                       const char *token)
{
    memset(tb, 0, sizeof(*tb));
    tb->pool = t->pool;
    tb->client_id = t->who->client_id;
    tb->id = id;
    tb->token = token;
    tb->length = -1;
}

/* Gives the lease back; offset, length (-1: unchanged) and a fresh expiry
 * when progress was made.  *after gets the row.  The rc is returned; err
 * and after may be NULL. */
static pool_db_rc release(tus_req *t, const pool_upload_t *u,
                          const char *token, apr_off_t offset,
                          apr_off_t length, const char *sha256_state,
                          pool_upload_t **after, const char **err)
{
    tus_baton tb;
    pool_db_rc rc;
    const char *unused;

    /* pool_db_run always writes *err (a completion that could not commit
     * passes NULL: that crashed the child when the database was gone) */
    if (!err) {
        err = &unused;
    }

    baton_init(&tb, t, u->id, token);
    tb.offset = offset;
    tb.sha256_state = sha256_state;
    tb.length = length;     /* recorded only where the length is deferred */
    tb.expiry = (offset != u->offset || (u->length < 0 && length >= 0))
                ? t->sc->conf.upload_expiry : 0;
    rc = pool_db_run(t->r, op_release, &tb, err);
    if (rc == POOL_DB_OK && after) {
        *after = tb.u;
    }
    if (rc == POOL_DB_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, t->r,
                      "pool: upload %s: the lease ran out before the offset "
                      "was recorded", u->id);
    }
    return rc;
}

/* release() for the paths that give up without writing: errors of the
 * release are logged, the caller's answer stands. */
static void release_unchanged(tus_req *t, const pool_upload_t *u,
                              const char *token)
{
    const char *err = NULL;
    pool_db_rc rc = release(t, u, token, u->offset, -1, NULL, NULL, &err);

    if (rc != POOL_DB_OK && rc != POOL_DB_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, t->r,
                      "pool: upload %s: cannot give the lease back (it "
                      "expires by itself): %s", u->id, err ? err : "?");
    }
}

/* ---------------------------------------------------------- folders */

/* The "folder" of metadata md, checked: NULL with *folder (NULL when none
 * is given: the client's own folder), else a reason. */
static const char *meta_folder(apr_pool_t *p, const apr_array_header_t *md,
                               const char **folder)
{
    const pool_tus_meta_t *m = pool_tus_meta_get(md, "folder");

    *folder = NULL;
    if (!m) {
        return NULL;
    }
    if (!m->has_value) {
        return "Upload-Metadata key 'folder' needs a value";
    }
    return pool_folder_check(p, m->value, m->value_len, folder);
}

/* The folder of upload u at completion, from its stored metadata (checked
 * at creation).  An upload created before folders were understood may
 * carry a "folder" key that does not pass: it goes to the client's
 * folder rather than never completing. */
static const char *stored_folder(tus_req *t, const pool_upload_t *u)
{
    apr_array_header_t *md = NULL;
    const char *folder = NULL, *why = NULL;

    if (u->metadata && *u->metadata
        && !(why = pool_tus_parse_metadata(t->r->pool, u->metadata, &md))) {
        why = meta_folder(t->r->pool, md, &folder);
    }
    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, t->r, "pool: upload %s: "
                      "its folder is ignored (%s): it goes to the client's "
                      "folder", u->id, why);
        return NULL;
    }
    return folder;
}

/* -------------------------------------------------------- completion */

/* The leased upload u has all its bytes: it becomes a file with the same
 * id.  GO_ON with *after (done, with its file id); else a problem was sent
 * and the lease is given back with the full offset, so that the next HEAD
 * or PATCH completes it. */
static int complete_upload(tus_req *t, pool_upload_t *u, const char *token,
                           pool_upload_t **after)
{
    request_rec *r = t->r;
    pool_ingest_t in;
    pool_ingest_item_t *it;
    pool_problem_t pr;
    pool_sha_run *whole;
    pool_file_t f;
    tus_baton tb;

    pool_ingest_init(&in, r);
    it = pool_ingest_add(r->pool, &in, t->pool, u->id, NULL, "file");
    it->upload_id = u->id;
    it->upload_len = u->length;
    if ((whole = pool_sha_run_load(r->pool, u->sha256_state)) != NULL) {
        /* hashed as the chunks came: nothing to read again */
        pool_sha_run_final(whole, it->sha256);
        it->have_sha256 = 1;
    }
    memset(&f, 0, sizeof(f));
    f.id = u->id;
    f.pool = t->pool;
    f.client_id = t->who->client_id;
    f.name = u->name;
    f.size = u->length;
    f.content_type = u->content_type;
    f.ts = u->ts;
    f.folder = stored_folder(t, u);
    baton_init(&tb, t, u->id, token);
    tb.f = &f;
    tb.refused_rc = POOL_DB_OK;
    in.record = op_complete;
    in.lookup = op_file_found;
    in.refused = completion_refused;
    in.baton = &tb;
    if (pool_ingest_prepare(r->pool, &in, &pr)) {
        f.sha256 = it->sha256_hex;
        if (pool_ingest_commit(r->pool, &in, &pr)) {
            /* the bytes live on under the file's name */
            t->st->ops->upload_remove(t->st, r->pool, u->id, NULL);
            u->offset = u->length;
            u->state = "done";
            u->file_id = tb.file->id;
            *after = u;
            return GO_ON;
        }
    }
    if (tb.refused_rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_LOCKED, "the upload was taken over by "
                            "another request", NULL);
    }
    /* the next HEAD or PATCH completes it */
    release(t, u, token, u->length, u->length, u->sha256_state, NULL, NULL);
    if (pr.status == HTTP_INSUFFICIENT_STORAGE
        || pr.status == HTTP_SERVICE_UNAVAILABLE) {
        pr.detail = apr_pstrcat(r->pool, pr.detail, "; HEAD or PATCH the "
                                "upload again later to complete it", NULL);
    }
    return pool_problem_send(r, &pr);
}

/* An upload whose bytes all arrived but that is not a file yet (a
 * completion that failed, or a crash in between): complete it now when
 * nobody else is at it.  Returns GO_ON (u updated, or left as it was when
 * busy) or OK: a problem was sent. */
static int finish_if_complete(tus_req *t, pool_upload_t **up)
{
    pool_upload_t *u = *up;
    const char *token, *err = NULL;
    tus_baton tb;
    pool_db_rc rc;

    if (strcmp(u->state, "open") || u->concat != POOL_TUS_CONCAT_NONE
        || u->length < 0 || u->offset != u->length || u->expired
        || u->locked) {
        return GO_ON;
    }
    if (!(token = new_token(t->r->pool))) {
        return pool_problem(t->r, HTTP_INTERNAL_SERVER_ERROR,
                            "no randomness", NULL);
    }
    baton_init(&tb, t, u->id, token);
    rc = pool_db_run(t->r, op_lease, &tb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(t->r, rc, err, "upload");
    }
    if (!tb.u->leased) {
        *up = tb.u;
        return GO_ON;
    }
    if (tb.u->offset != tb.u->length) {
        release_unchanged(t, tb.u, token);
        return GO_ON;
    }
    return complete_upload(t, tb.u, token, up);
}

/* ------------------------------------------------------ writing bytes */

typedef struct {
    tus_req *t;
    pool_upload_t *u;
    const char *token;
    pool_upfile_t *f;
    apr_off_t written;
    apr_off_t limit;            /* most bytes this request may add */
    pool_tus_hash *hash;        /* Upload-Checksum from the header */
    apr_time_t renewed;
    int lease_lost;
    pool_sha_run *whole;        /* SHA-256 of the data from 0, or NULL */
    apr_status_t store_rv;      /* the store's error, when writing failed */
} chunk_ctx;

static int chunk_sink(void *baton, const char *data, apr_size_t len)
{
    chunk_ctx *c = baton;
    tus_req *t = c->t;
    apr_status_t rv;

    if ((apr_off_t)len > c->limit - c->written) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (apr_time_now() - c->renewed > RENEW_AFTER) {
        tus_baton tb;
        const char *err = NULL;
        pool_db_rc rc;

        baton_init(&tb, t, c->u->id, c->token);
        rc = pool_db_run(t->r, op_renew, &tb, &err);
        if (rc == POOL_DB_NOTFOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, t->r,
                          "pool: upload %s: lease lost while receiving",
                          c->u->id);
            c->lease_lost = 1;
            return HTTP_LOCKED;
        }
        if (rc != POOL_DB_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, t->r,
                          "pool: upload %s: cannot renew the lease: %s",
                          c->u->id, err ? err : "?");
            c->lease_lost = 1;
            return HTTP_SERVICE_UNAVAILABLE;
        }
        c->renewed = apr_time_now();
    }
    rv = t->st->ops->upload_write(c->f, data, len);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, t->r,
                      "pool: upload %s: cannot write its data: %s", c->u->id,
                      pool_store_errstr(t->r->pool, rv));
        c->store_rv = rv;
        return HTTP_INSUFFICIENT_STORAGE;
    }
    pool_tus_hash_update(c->hash, data, len);
    if (c->whole) {
        pool_sha_run_update(c->whole, data, len);
    }
    c->written += (apr_off_t)len;
    return OK;
}

/* Checksum from a trailer: over the chunk as written, read back. */
static int trailer_matches(chunk_ctx *c, apr_off_t start,
                           const pool_tus_checksum_t *want)
{
    pool_tus_hash *h = pool_tus_hash_new(c->t->r->pool, want->algo);
    char *buf = apr_palloc(c->t->r->pool, CHECK_BLOCK);
    apr_off_t off = 0;

    while (h && off < c->written) {
        apr_size_t n = c->written - off > CHECK_BLOCK
                       ? CHECK_BLOCK : (apr_size_t)(c->written - off);
        if (c->t->st->ops->upload_read(c->f, start + off, buf, n)
            != APR_SUCCESS) {
            return 0;
        }
        pool_tus_hash_update(h, buf, n);
        off += (apr_off_t)n;
    }
    return h && pool_tus_hash_matches(h, want);
}

/* 1 when the client announced an Upload-Checksum trailer. */
static int trailer_announced(request_rec *r)
{
    const char *tr = apr_table_get(r->headers_in, "Trailer");

    return tr && ap_strcasestr(tr, "upload-checksum") != NULL;
}

/* A store failure with the upload's data: 503 with Retry-After when the
 * store is unavailable (a WebDAV store that does not answer), 507 when it
 * is full or failed (logged already). */
static int store_problem(tus_req *t, apr_status_t rv)
{
    pool_problem_t pr;

    pool_problem_store(t->r->pool, &pr, rv, "upload's data", "store it");
    pr.log = NULL;
    return pool_problem_send(t->r, &pr);
}

/* 413 for a body that goes beyond the upload's length, or beyond
 * PoolMaxFileSize when that is what bounds it. */
static int beyond_length(tus_req *t, apr_off_t length, int discarded)
{
    if (length < 0 || length >= t->sc->conf.max_file_size) {
        return too_large(t, "upload");
    }
    t->r->connection->keepalive = AP_CONN_CLOSE;
    return pool_problem(t->r, HTTP_REQUEST_ENTITY_TOO_LARGE, discarded
                        ? "the body goes beyond the upload's Upload-Length; "
                          "what arrived was discarded"
                        : "the body goes beyond the upload's Upload-Length",
                        NULL);
}

/* Receives the body of a PATCH (or of a creation) into the upload u, whose
 * lease this request holds, at u->offset.  want: the header checksum or
 * NULL; set_length: an Upload-Length that fixes a deferred length, or -1.
 * The lease is given back (or the upload completed) on every path.
 * Returns GO_ON with *after, or a status (a problem already sent, or an
 * aborted connection's status). */
static int write_chunk(tus_req *t, pool_upload_t *u, const char *token,
                       const pool_tus_checksum_t *want, apr_off_t set_length,
                       pool_upload_t **after)
{
    request_rec *r = t->r;
    apr_off_t length = u->length >= 0 ? u->length : set_length;
    apr_off_t cl = content_length(r), start = u->offset, new_offset;
    const char *err = NULL, *why = NULL, *detail = NULL;
    int status, discard = 0, answer = OK;
    chunk_ctx c;
    apr_status_t rv;
    pool_db_rc rc;

    memset(&c, 0, sizeof(c));
    c.t = t;
    c.u = u;
    c.token = token;
    c.limit = (length >= 0 ? length : t->sc->conf.max_file_size) - start;
    c.renewed = apr_time_now();
    /* hashed as it arrives; a state that is missing (an upload from before
     * it was kept) leaves the digest to completion */
    c.whole = start == 0 ? pool_sha_run_new(r->pool)
                         : pool_sha_run_load(r->pool, u->sha256_state);
    if (cl > c.limit) {
        release_unchanged(t, u, token);
        return beyond_length(t, length, 0);
    }
    if (want && !(c.hash = pool_tus_hash_new(r->pool, want->algo))) {
        release_unchanged(t, u, token);
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "cannot compute checksums", NULL);
    }
    rv = t->st->ops->upload_open(t->st, r->pool, u->id, start, start == 0,
                                 &c.f);
    if (rv != APR_SUCCESS) {
        release_unchanged(t, u, token);
        if (rv == APR_EBUSY) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "pool: upload %s "
                          "is still open for writing here", u->id);
            return pool_problem(r, HTTP_LOCKED, "the upload is being "
                                "written to by another request", NULL);
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "pool: upload %s: cannot open its data at offset %"
                      APR_OFF_T_FMT, u->id, start);
        return store_problem(t, rv);
    }

    status = pool_read_body(r, chunk_sink, &c);

    if (c.lease_lost) {
        /* somebody else may own the data now: touch nothing */
        t->st->ops->upload_close(c.f);
        if (status == HTTP_SERVICE_UNAVAILABLE) {
            return pool_problem(r, status, "the metadata database is "
                                "unavailable; retry later", NULL);
        }
        return pool_problem(r, HTTP_LOCKED, "the upload was taken over by "
                            "another request", NULL);
    }
    if (status == OK) {
        const char *tr = apr_table_get(r->trailers_in, "Upload-Checksum");

        if (want && !pool_tus_hash_matches(c.hash, want)) {
            discard = 1;
            answer = HTTP_CHECKSUM_MISMATCH;
            detail = apr_psprintf(r->pool, "Upload-Checksum (%s) does not "
                                  "match the %" APR_OFF_T_FMT " bytes "
                                  "received; they were discarded",
                                  pool_tus_algo_name(want->algo), c.written);
        }
        else if (!want && tr) {
            pool_tus_checksum_t tw;

            if (pool_tus_parse_checksum(r->pool, tr, &tw, &why) != 0) {
                discard = 1;
                answer = HTTP_BAD_REQUEST;
                detail = apr_pstrcat(r->pool, why, " (in the trailer); the "
                                     "bytes received were discarded", NULL);
            }
            else if (!trailer_matches(&c, start, &tw)) {
                discard = 1;
                answer = HTTP_CHECKSUM_MISMATCH;
                detail = apr_psprintf(r->pool, "the Upload-Checksum trailer "
                                      "(%s) does not match the %"
                                      APR_OFF_T_FMT " bytes received; they "
                                      "were discarded",
                                      pool_tus_algo_name(tw.algo), c.written);
            }
        }
        else if (!want && trailer_announced(r)) {
            discard = 1;
            answer = HTTP_BAD_REQUEST;
            detail = "the announced Upload-Checksum trailer did not come; "
                     "the bytes received were discarded";
        }
    }
    else if (status == HTTP_REQUEST_ENTITY_TOO_LARGE
             || status == HTTP_INSUFFICIENT_STORAGE
             || status == HTTP_SERVICE_UNAVAILABLE) {
        discard = 1;
        answer = status;
    }
    else if (want || trailer_announced(r)) {
        discard = 1;
        answer = status;
        detail = "the request body was not received completely; what "
                 "arrived could not be verified and was discarded";
    }
    else {
        /* the client went away: keep what arrived */
        answer = status;
        detail = "the request body was not received completely; the bytes "
                 "that arrived were kept";
    }

    new_offset = discard ? start : start + c.written;
    rv = APR_SUCCESS;
    if (discard && c.written) {
        rv = t->st->ops->upload_truncate(c.f, start);
    }
    else if (c.written) {
        rv = t->st->ops->upload_sync(c.f);
    }
    if (rv != APR_SUCCESS) {
        pool_problem_t pr;

        t->st->ops->upload_close(c.f);
        release_unchanged(t, u, token);
        pool_problem_store(r->pool, &pr, rv, "upload's data", apr_psprintf(
                           r->pool, "make the data of upload %s durable",
                           u->id));
        return pool_problem_send(r, &pr);
    }

    if (answer == OK && length >= 0 && new_offset == length
        && u->concat == POOL_TUS_CONCAT_NONE) {
        t->st->ops->upload_close(c.f);
        u->length = length;
        u->offset = new_offset;
        u->sha256_state = c.whole ? pool_sha_run_save(r->pool, c.whole) : NULL;
        return complete_upload(t, u, token, after);
    }

    rc = release(t, u, token, new_offset, set_length,
                 new_offset != start && c.whole
                 ? pool_sha_run_save(r->pool, c.whole) : NULL, after, &err);
    t->st->ops->upload_close(c.f);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_LOCKED, "the upload was taken over by "
                            "another request", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "upload");
    }
    switch (answer) {
    case OK:
        return GO_ON;
    case HTTP_CHECKSUM_MISMATCH:
        return checksum_mismatch(t, new_offset, detail);
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return beyond_length(t, length, 1);
    case HTTP_INSUFFICIENT_STORAGE: {
        pool_problem_t pr;

        pool_problem_store(r->pool, &pr, c.store_rv, "upload's data",
                           "write the upload's data");
        pr.log = NULL;          /* logged as it happened */
        pr.detail = apr_pstrcat(r->pool, pr.detail, "; the upload stays at "
                                "offset ", off_str(r->pool, new_offset),
                                NULL);
        return pool_problem_send(r, &pr);
    }
    default:
        break;
    }
    if (r->connection->aborted || answer == AP_FILTER_ERROR) {
        return answer;
    }
    return offset_problem(t, answer, new_offset, detail);
}

/* ------------------------------------------------------------ requests */

static int tus_options(request_rec *r)
{
    pool_srv_conf *sc = pool_srv(r->server);

    apr_table_setn(r->err_headers_out, "Tus-Resumable", POOL_TUS_VERSION);
    apr_table_setn(r->headers_out, "Tus-Version", POOL_TUS_VERSION);
    apr_table_setn(r->headers_out, "Tus-Extension", POOL_TUS_EXTENSIONS);
    apr_table_setn(r->headers_out, "Tus-Max-Size",
                   off_str(r->pool, sc->conf.max_file_size));
    apr_table_setn(r->headers_out, "Tus-Checksum-Algorithm",
                   POOL_TUS_ALGORITHMS);
    apr_table_setn(r->headers_out, "Allow", "OPTIONS, HEAD, POST, PATCH, "
                   "DELETE");
    return no_content(r, HTTP_NO_CONTENT);
}

/* Parses Upload-Metadata into the file fields and the folder (NULL: the
 * client's own): GO_ON, or a problem was sent. */
static int metadata_fields(tus_req *t, const char *h, const char *default_name,
                           pool_file_fields_t *fields, const char **folder)
{
    apr_array_header_t *md = NULL;
    const char *why, *field = NULL;

    if (h) {
        why = pool_tus_parse_metadata(t->r->pool, h, &md);
        if (why) {
            return pool_problem(t->r, HTTP_BAD_REQUEST, why,
                                "Upload-Metadata");
        }
    }
    why = pool_tus_fields(t->r->pool, md, default_name, fields, &field);
    if (why) {
        return pool_problem(t->r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_psprintf(t->r->pool, "Upload-Metadata %s: %s",
                                         field, why), field);
    }
    if ((why = meta_folder(t->r->pool, md, folder)) != NULL) {
        return pool_problem(t->r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_psprintf(t->r->pool, "Upload-Metadata "
                                         "folder: %s", why), "folder");
    }
    return GO_ON;
}

/* The concatenated bytes in sp become upload u's file (one ingest).  1
 * when stored; 0 when a problem was sent. */
static int store_final(tus_req *t, pool_spool_t *sp, pool_upload_t *u,
                       const pool_file_fields_t *fields, const char *folder,
                       tus_baton *tb)
{
    request_rec *r = t->r;
    pool_ingest_t in;
    pool_ingest_item_t *it;
    pool_problem_t pr;
    pool_file_t *f = apr_pcalloc(r->pool, sizeof(*f));

    pool_ingest_init(&in, r);
    it = pool_ingest_add(r->pool, &in, t->pool, u->id, sp, "file");
    pool_ingest_prepare(r->pool, &in, &pr);     /* a spool: cannot fail */
    f->id = u->id;
    f->pool = t->pool;
    f->client_id = t->who->client_id;
    f->name = fields->name;
    f->size = it->size;
    f->sha256 = it->sha256_hex;
    f->content_type = fields->content_type;
    f->ts = fields->ts;
    f->folder = folder;
    tb->in = u;
    tb->f = f;
    tb->expiry = t->sc->conf.upload_expiry;
    tb->refused_rc = POOL_DB_OK;
    in.record = op_create_final;
    in.lookup = op_file_found;
    in.refused = completion_refused;
    in.baton = tb;
    if (pool_ingest_commit(r->pool, &in, &pr)) {
        return 1;
    }
    if (tb->refused_rc == POOL_DB_CONFLICT) {
        pool_problem(r, HTTP_CONFLICT, "a partial upload was taken over by "
                     "another request meanwhile", NULL);
    }
    else {
        pool_problem_send(r, &pr);
    }
    return 0;
}

static int create_final(tus_req *t, const char *concat_h,
                        apr_array_header_t *urls, const char *meta_h)
{
    request_rec *r = t->r;
    apr_array_header_t *ids = apr_array_make(r->pool, urls->nelts,
                                             sizeof(const char *));
    const char *id, *token, *err = NULL, *url, *folder;
    pool_file_fields_t fields;
    pool_upload_t u;
    pool_spool_t *sp = NULL;
    apr_off_t total = 0;
    tus_baton tb;
    apr_status_t rv = APR_SUCCESS;
    pool_db_rc rc;
    int i, j, status;

    if (apr_table_get(r->headers_in, "Upload-Length")
        || apr_table_get(r->headers_in, "Upload-Defer-Length")) {
        return pool_problem(r, HTTP_BAD_REQUEST, "a final upload takes its "
                            "length from its partial uploads: send no "
                            "Upload-Length", NULL);
    }
    if (has_body(r)) {
        return pool_problem(r, HTTP_BAD_REQUEST, "a final upload has no "
                            "body of its own", NULL);
    }
    for (i = 0; i < urls->nelts; i++) {
        url = APR_ARRAY_IDX(urls, i, const char *);
        id = pool_tus_part_id(r->pool, url, t->pool);
        if (!id) {
            return pool_problem(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool,
                                "Upload-Concat: '%s' is not the URL of an "
                                "upload of this pool", url), NULL);
        }
        for (j = 0; j < ids->nelts; j++) {
            if (!strcmp(APR_ARRAY_IDX(ids, j, const char *), id)) {
                return pool_problem(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool,
                                    "Upload-Concat names upload %s twice",
                                    id), NULL);
            }
        }
        APR_ARRAY_PUSH(ids, const char *) = id;
    }
    if (!(id = pool_uuid(r->pool)) || !(token = new_token(r->pool))) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, "no randomness",
                            NULL);
    }
    if ((status = metadata_fields(t, meta_h, id, &fields, &folder))
        != GO_ON) {
        return status;
    }

    baton_init(&tb, t, NULL, token);
    tb.ids = ids;
    rc = pool_db_run(r, op_lease_parts, &tb, &err);
    if (rc == POOL_DB_NOTFOUND && tb.bad_id) {
        return pool_problem(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool,
                            "Upload-Concat: %s is not a partial upload of "
                            "this client", tb.bad_id), NULL);
    }
    if (rc == POOL_DB_CONFLICT) {
        return pool_problem(r, HTTP_CONFLICT, apr_psprintf(r->pool,
                            "Upload-Concat: partial upload %s is not "
                            "complete, has expired, is being written to or "
                            "was concatenated already",
                            tb.bad_id ? tb.bad_id : "?"), NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "upload");
    }
    for (i = 0; i < tb.sizes->nelts; i++) {
        total += APR_ARRAY_IDX(tb.sizes, i, apr_off_t);
    }
    if (total > t->sc->conf.max_file_size) {
        pool_db_run(r, op_unlease, &tb, &err);
        return too_large(t, "the concatenated upload is");
    }

    rv = t->st->ops->spool_open(t->st, r->pool, t->sc->conf.max_file_size,
                                &sp);
    for (i = 0; rv == APR_SUCCESS && i < ids->nelts; i++) {
        rv = t->st->ops->upload_to_spool(t->st, r->pool,
                                         APR_ARRAY_IDX(ids, i, const char *),
                                         APR_ARRAY_IDX(tb.sizes, i, apr_off_t),
                                         sp);
    }
    if (rv != APR_SUCCESS) {
        pool_problem_t pr;

        if (sp) {
            t->st->ops->spool_abort(sp);
        }
        pool_db_run(r, op_unlease, &tb, &err);
        pool_problem_store(r->pool, &pr, rv, "file",
                           "concatenate partial uploads");
        return pool_problem_send(r, &pr);
    }

    memset(&u, 0, sizeof(u));
    u.id = id;
    u.length = total;
    u.offset = total;
    u.metadata = meta_h;
    u.name = fields.name;
    u.content_type = fields.content_type;
    u.ts = fields.ts;
    u.concat = POOL_TUS_CONCAT_FINAL;
    u.parts = concat_h;
    u.state = "done";
    u.file_id = id;
    if (!store_final(t, sp, &u, &fields, folder, &tb)) {
        const char *uerr = NULL;

        pool_db_run(r, op_unlease, &tb, &uerr);
        return OK;
    }
    for (i = 0; i < ids->nelts; i++) {
        t->st->ops->upload_remove(t->st, r->pool,
                                  APR_ARRAY_IDX(ids, i, const char *), NULL);
    }
    apr_table_setn(r->headers_out, "Location", upload_url(t, id));
    upload_headers(t, &u, 1);
    return no_content(r, HTTP_CREATED);
}

static int tus_create(tus_req *t)
{
    request_rec *r = t->r;
    const char *len_h = apr_table_get(r->headers_in, "Upload-Length");
    const char *defer_h = apr_table_get(r->headers_in, "Upload-Defer-Length");
    const char *concat_h = apr_table_get(r->headers_in, "Upload-Concat");
    const char *meta_h = apr_table_get(r->headers_in, "Upload-Metadata");
    const char *sum_h = apr_table_get(r->headers_in, "Upload-Checksum");
    pool_tus_concat_kind kind = POOL_TUS_CONCAT_NONE;
    apr_array_header_t *urls = NULL;
    pool_tus_checksum_t want;
    pool_file_fields_t fields;
    pool_upload_t in, *u, *after = NULL;
    const char *why, *id, *token = NULL, *err = NULL, *folder;
    apr_off_t length = -1, cl;
    int body, status;
    tus_baton tb;
    pool_db_rc rc;

    if (!role_may_upload(t->who->role)) {
        return pool_problem(r, HTTP_FORBIDDEN, apr_psprintf(r->pool,
                            "the %s role may not upload files",
                            t->who->role), NULL);
    }
    if (concat_h) {
        why = pool_tus_parse_concat(r->pool, concat_h, &kind, &urls);
        if (why) {
            return pool_problem(r, HTTP_BAD_REQUEST, why, NULL);
        }
        if (kind == POOL_TUS_CONCAT_FINAL) {
            return create_final(t, concat_h, urls, meta_h);
        }
    }
    if (len_h && defer_h) {
        return pool_problem(r, HTTP_BAD_REQUEST, "send Upload-Length or "
                            "Upload-Defer-Length, not both", NULL);
    }
    if (defer_h) {
        if (strcmp(defer_h, "1")) {
            return pool_problem(r, HTTP_BAD_REQUEST,
                                "Upload-Defer-Length must be 1", NULL);
        }
    }
    else if (!len_h) {
        return pool_problem(r, HTTP_BAD_REQUEST, "Upload-Length (or "
                            "Upload-Defer-Length: 1) is required", NULL);
    }
    else if (pool_tus_parse_size(len_h, &length) != 0) {
        return pool_problem(r, HTTP_BAD_REQUEST, "Upload-Length must be a "
                            "non-negative decimal number", NULL);
    }
    else if (length > t->sc->conf.max_file_size) {
        return too_large(t, "Upload-Length is");
    }
    body = has_body(r);
    if (body) {
        if (!ctype_is(apr_table_get(r->headers_in, "Content-Type"),
                      OFFSET_CTYPE)) {
            return pool_problem(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                                "a creation request with data needs "
                                "Content-Type: " OFFSET_CTYPE, NULL);
        }
        if ((cl = content_length(r)) == -2) {
            return pool_problem(r, HTTP_BAD_REQUEST, "malformed "
                                "Content-Length", NULL);
        }
        if (cl > (length >= 0 ? length : t->sc->conf.max_file_size)) {
            return beyond_length(t, length, 0);
        }
        if (sum_h) {
            int prc = pool_tus_parse_checksum(r->pool, sum_h, &want, &why);
            if (prc != 0) {
                return pool_problem(r, HTTP_BAD_REQUEST, why, NULL);
            }
        }
    }
    if (!(id = pool_uuid(r->pool))) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, "no randomness",
                            NULL);
    }
    /* the folder is checked now and applied at completion, from the
     * metadata stored with the upload */
    if ((status = metadata_fields(t, meta_h, id, &fields, &folder))
        != GO_ON) {
        return status;
    }
    /* leased from birth when it gets bytes (or is complete) right away */
    if ((body || (length == 0 && kind == POOL_TUS_CONCAT_NONE))
        && !(token = new_token(r->pool))) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, "no randomness",
                            NULL);
    }
    memset(&in, 0, sizeof(in));
    in.id = id;
    in.length = length;
    in.metadata = meta_h;
    in.name = fields.name;
    in.content_type = fields.content_type;
    in.ts = fields.ts;
    in.concat = kind;
    baton_init(&tb, t, id, token);
    tb.in = &in;
    tb.expiry = t->sc->conf.upload_expiry;
    rc = pool_db_run(r, op_create, &tb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such pool", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "upload");
    }
    u = tb.u;
    apr_table_setn(r->headers_out, "Location", upload_url(t, id));
    if (token) {
        status = write_chunk(t, u, token, body && sum_h ? &want : NULL, -1,
                             &after);
        if (status != GO_ON) {
            return status;
        }
        u = after;
    }
    upload_headers(t, u, 0);
    return no_content(r, HTTP_CREATED);
}

static int tus_head(tus_req *t, const char *id)
{
    const char *err = NULL;
    tus_baton tb;
    pool_db_rc rc;
    int status;

    baton_init(&tb, t, id, NULL);
    rc = pool_db_run(t->r, op_get, &tb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(t->r, HTTP_NOT_FOUND, "no such upload", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(t->r, rc, err, "upload");
    }
    if (tb.u->expired) {
        return pool_problem(t->r, HTTP_GONE, "the upload has expired", NULL);
    }
    if ((status = finish_if_complete(t, &tb.u)) != GO_ON) {
        return status;
    }
    upload_headers(t, tb.u, 1);
    return no_content(t->r, HTTP_OK);
}

static int tus_patch(tus_req *t, const char *id)
{
    request_rec *r = t->r;
    const char *off_h = apr_table_get(r->headers_in, "Upload-Offset");
    const char *sum_h = apr_table_get(r->headers_in, "Upload-Checksum");
    const char *len_h = apr_table_get(r->headers_in, "Upload-Length");
    const char *token, *why, *err = NULL;
    pool_tus_checksum_t want;
    apr_off_t offset, set_length = -1;
    pool_upload_t *u, *after = NULL;
    tus_baton tb;
    pool_db_rc rc;
    int status;

    if (!ctype_is(apr_table_get(r->headers_in, "Content-Type"),
                  OFFSET_CTYPE)) {
        return pool_problem(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                            "PATCH needs Content-Type: " OFFSET_CTYPE, NULL);
    }
    if (!off_h || pool_tus_parse_size(off_h, &offset) != 0) {
        return pool_problem(r, HTTP_BAD_REQUEST, "Upload-Offset (a "
                            "non-negative decimal number) is required", NULL);
    }
    if (sum_h) {
        if (pool_tus_parse_checksum(r->pool, sum_h, &want, &why) != 0) {
            return pool_problem(r, HTTP_BAD_REQUEST, why, NULL);
        }
    }
    if (len_h) {
        if (pool_tus_parse_size(len_h, &set_length) != 0) {
            return pool_problem(r, HTTP_BAD_REQUEST, "Upload-Length must be "
                                "a non-negative decimal number", NULL);
        }
        if (set_length > t->sc->conf.max_file_size) {
            return too_large(t, "Upload-Length is");
        }
    }
    if (content_length(r) == -2) {
        return pool_problem(r, HTTP_BAD_REQUEST, "malformed Content-Length",
                            NULL);
    }
    if (!(token = new_token(r->pool))) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, "no randomness",
                            NULL);
    }
    baton_init(&tb, t, id, token);
    rc = pool_db_run(r, op_lease, &tb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such upload", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "upload");
    }
    u = tb.u;
    if (u->concat == POOL_TUS_CONCAT_FINAL) {
        return pool_problem(r, HTTP_FORBIDDEN, "a final upload is made of "
                            "its partial uploads and takes no PATCH", NULL);
    }
    if (!u->leased) {
        if (u->expired) {
            return pool_problem(r, HTTP_GONE, "the upload has expired", NULL);
        }
        if (strcmp(u->state, "open")) {
            /* finished: a repeated last PATCH is answered as before */
            if (offset == u->offset && !has_body(r)) {
                upload_headers(t, u, 0);
                return no_content(r, HTTP_NO_CONTENT);
            }
            return offset_problem(t, HTTP_CONFLICT, u->offset,
                                  "the upload is complete");
        }
        return offset_problem(t, HTTP_LOCKED, u->offset,
                              "the upload is being written to by another "
                              "request; retry later");
    }
    if (offset != u->offset) {
        release_unchanged(t, u, token);
        return offset_problem(t, HTTP_CONFLICT, u->offset, apr_psprintf(
                              r->pool, "Upload-Offset %" APR_OFF_T_FMT
                              " does not match the upload's offset %"
                              APR_OFF_T_FMT, offset, u->offset));
    }
    if (len_h) {
        if (u->length >= 0 && set_length != u->length) {
            release_unchanged(t, u, token);
            return pool_problem(r, HTTP_BAD_REQUEST, "the upload's length "
                                "is set already and cannot change", NULL);
        }
        if (u->length >= 0) {
            set_length = -1;
        }
        else if (set_length < u->offset) {
            release_unchanged(t, u, token);
            return pool_problem(r, HTTP_BAD_REQUEST, "Upload-Length is "
                                "smaller than the bytes received", NULL);
        }
    }
    if (u->length >= 0 && u->offset == u->length
        && u->concat == POOL_TUS_CONCAT_NONE && !has_body(r)) {
        /* every byte is there but it is not a file yet */
        status = complete_upload(t, u, token, &after);
    }
    else {
        status = write_chunk(t, u, token, sum_h ? &want : NULL, set_length,
                             &after);
    }
    if (status != GO_ON) {
        return status;
    }
    upload_headers(t, after, 0);
    return no_content(r, HTTP_NO_CONTENT);
}

static int tus_delete(tus_req *t, const char *id)
{
    const char *err = NULL;
    tus_baton tb;
    pool_db_rc rc;
    apr_status_t rv;

    baton_init(&tb, t, id, NULL);
    rc = pool_db_run(t->r, op_delete, &tb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(t->r, HTTP_NOT_FOUND, "no such upload", NULL);
    }
    if (rc == POOL_DB_CONFLICT) {
        return pool_problem(t->r, HTTP_LOCKED, "the upload is being written "
                            "to; retry later", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(t->r, rc, err, "upload");
    }
    rv = t->st->ops->upload_remove(t->st, t->r->pool, id, NULL);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, t->r,
                      "pool: upload %s deleted, but not its data (poolctl "
                      "sweep removes it)", id);
    }
    return no_content(t->r, HTTP_NO_CONTENT);
}

/* ------------------------------------------------------------- entry */

static tus_method method_of(request_rec *r, int *bad)
{
    const char *o = apr_table_get(r->headers_in, "X-HTTP-Method-Override");

    *bad = 0;
    if (r->method_number == M_POST && o) {
        if (!strcasecmp(o, "PATCH")) {
            return TUS_PATCH;
        }
        if (!strcasecmp(o, "DELETE")) {
            return TUS_DELETE;
        }
        if (!strcasecmp(o, "HEAD")) {
            return TUS_HEAD;
        }
        if (!strcasecmp(o, "POST")) {
            return TUS_POST;
        }
        *bad = 1;
        return TUS_OTHER;
    }
    switch (r->method_number) {
    case M_GET:
        return r->header_only ? TUS_HEAD : TUS_GET;
    case M_POST:
        return TUS_POST;
    case M_PATCH:
        return TUS_PATCH;
    case M_DELETE:
        return TUS_DELETE;
    case M_OPTIONS:
        return TUS_OPTIONS;
    default:
        return TUS_OTHER;
    }
}

int pool_handle_tus(request_rec *r, pool_principal *who, const char *pool,
                    const char *rest)
{
    tus_req t;
    tus_method m;
    const char *v;
    int bad;

    apr_table_setn(r->err_headers_out, "Tus-Resumable", POOL_TUS_VERSION);
    m = method_of(r, &bad);
    if (bad) {
        return pool_problem(r, HTTP_BAD_REQUEST, "X-HTTP-Method-Override "
                            "must be PATCH, DELETE or HEAD", NULL);
    }
    if (m == TUS_OPTIONS) {
        return tus_options(r);
    }
    v = apr_table_get(r->headers_in, "Tus-Resumable");
    if (!v || strcmp(v, POOL_TUS_VERSION)) {
        apr_table_setn(r->headers_out, "Tus-Version", POOL_TUS_VERSION);
        return pool_problem(r, HTTP_PRECONDITION_FAILED, apr_psprintf(r->pool,
                            "this server speaks tus %s: send Tus-Resumable: "
                            "%s", POOL_TUS_VERSION, POOL_TUS_VERSION), NULL);
    }
    t.r = r;
    t.who = who;
    t.pool = pool;
    t.sc = pool_srv(r->server);
    t.st = t.sc->store;
    if (!t.st) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "storage not configured", NULL);
    }

    if (!rest || !*rest) {
        if (m == TUS_POST) {
            return tus_create(&t);
        }
        apr_table_setn(r->headers_out, "Allow", "POST, OPTIONS");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "create uploads "
                            "with POST", NULL);
    }
    if (!pool_uuid_valid(rest)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such upload", NULL);
    }
    switch (m) {
    case TUS_HEAD:
        return tus_head(&t, rest);
    case TUS_PATCH:
        return tus_patch(&t, rest);
    case TUS_DELETE:
        return tus_delete(&t, rest);
    default:
        apr_table_setn(r->headers_out, "Allow", "HEAD, PATCH, DELETE, "
                       "OPTIONS");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "an upload takes "
                            "HEAD, PATCH and DELETE", NULL);
    }
}

/* ----------------------------------------------------------------- CORS */

/* rest: the path after ".../v1".  1 when it is .../pools/{pool}/uploads[/…] */
static int is_uploads_path(const char *rest)
{
    const char *s;

    if (strncmp(rest, "/pools/", 7)) {
        return 0;
    }
    s = strchr(rest + 7, '/');
    if (!s || s == rest + 7 || strncmp(s, "/uploads", 8)) {
        return 0;
    }
    return s[8] == '\0' || s[8] == '/';
}

int pool_api_early(request_rec *r, const char *rest)
{
    pool_srv_conf *sc = pool_srv(r->server);
    const char *origin = apr_table_get(r->headers_in, "Origin");
    int tus = is_uploads_path(rest);

    if (tus) {
        apr_table_setn(r->err_headers_out, "Tus-Resumable", POOL_TUS_VERSION);
    }
    if (sc->conf.cors_origins) {
        apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    }
    if (origin && pool_cors_allowed(sc->conf.cors_origins, origin)) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin",
                       origin);
        if (r->method_number == M_OPTIONS
            && apr_table_get(r->headers_in,
                             "Access-Control-Request-Method")) {
            /* a preflight: answered without credentials, as browsers send
             * none */
            apr_table_setn(r->headers_out, "Access-Control-Allow-Methods",
                           ALLOW_METHODS);
            apr_table_setn(r->headers_out, "Access-Control-Allow-Headers",
                           ALLOW_HEADERS);
            apr_table_setn(r->headers_out, "Access-Control-Max-Age",
                           PREFLIGHT_MAX_AGE);
            if (tus) {
                return tus_options(r);
            }
            return no_content(r, HTTP_NO_CONTENT);
        }
        apr_table_setn(r->err_headers_out, "Access-Control-Expose-Headers",
                       EXPOSE_HEADERS);
    }
    if (tus && r->method_number == M_OPTIONS) {
        /* capabilities: the same for everybody, no credentials needed */
        return tus_options(r);
    }
    return DECLINED;
}
