/* Files: direct upload (PUT), listing, download (GET/HEAD with Range, ETag,
 * conditional requests, served from the file by httpd's own output path). */
#include <jansson.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <util_script.h>

#include "mod_pool.h"
#include "pool_digest.h"
#include "pool_groups.h"
#include "pool_json.h"
#include "pool_name.h"
#include "pool_ts.h"
#include "pool_fields.h"
#include "pool_util.h"

#define READ_BLOCK      (64 * 1024)
#define LIST_DEFAULT    100
#define LIST_MAX        1000

/* ------------------------------------------------------------- helpers */

static int role_may_upload(const char *role)
{
    return !strcmp(role, "uploader") || !strcmp(role, "admin");
}

/* --------------------------------------------------------------- upload */

static void file_refused(void *b, apr_pool_t *p, pool_db_rc rc,
                         const char *err, pool_problem_t *pr)
{
    pool_problem_db(p, pr, rc, err, "file");
    if (rc == POOL_DB_NOTFOUND) {
        pr->detail = "no such pool";
    }
}

typedef struct {
    const char *pool;
    apr_time_t ts;
    int rejects;
} late_baton;

static pool_db_rc op_late_check(apr_pool_t *p, PGconn *c, void *b,
                                const char **err)
{
    late_baton *lb = b;
    pool_db_rc rc = pool_late_check(p, c, lb->pool, lb->ts, &lb->rejects,
                                    err);

    return rc == POOL_DB_CONFLICT ? POOL_DB_REFUSED : rc;
}

int pool_read_body(request_rec *r, pool_body_sink *sink, void *baton)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    int seen_eos = 0, status = OK;

    do {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, READ_BLOCK);
        if (rv != APR_SUCCESS) {
            status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                          "pool: upload body not received completely");
            break;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                status = HTTP_BAD_REQUEST;
                break;
            }
            if (len && (status = sink(baton, data, len)) != OK) {
                break;
            }
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos && status == OK);
    apr_brigade_destroy(bb);
    return status;
}

typedef struct {
    request_rec *r;
    pool_store_t *st;
    pool_spool_t *sp;
    apr_status_t store_rv;      /* the store's error, when it failed */
} spool_sink_baton;

static int spool_sink(void *baton, const char *data, apr_size_t len)
{
    spool_sink_baton *sb = baton;
    apr_status_t rv = sb->st->ops->spool_write(sb->sp, data, len);

    if (rv == POOL_STORE_TOOBIG) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (rv != APR_SUCCESS) {
        sb->store_rv = rv;
        return HTTP_INSUFFICIENT_STORAGE;
    }
    return OK;
}

/* Reads the body into sp.  OK, or a status; *store_rv (may be NULL) gets
 * the store's error when writing failed. */
static int spool_body(request_rec *r, pool_spool_t *sp, pool_store_t *st,
                      apr_status_t *store_rv)
{
    spool_sink_baton sb;
    int status;

    sb.r = r;
    sb.st = st;
    sb.sp = sp;
    sb.store_rv = APR_SUCCESS;
    status = pool_read_body(r, spool_sink, &sb);
    if (store_rv) {
        *store_rv = sb.store_rv;
    }
    return status;
}

int pool_receive_spool(request_rec *r, const char *what, pool_spool_t **out,
                       int *ret)
{
    pool_srv_conf *sc = pool_srv(r->server);
    pool_store_t *st = sc->store;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *too_big = apr_psprintf(r->pool, "%s larger than the limit of "
                                       "%" APR_OFF_T_FMT " bytes", what,
                                       sc->conf.max_file_size);
    pool_problem_t pr;
    pool_spool_t *sp;
    apr_status_t rv, store_rv;
    int status;

    if (cl) {
        apr_off_t n;
        if (apr_strtoff(&n, cl, NULL, 10) == APR_SUCCESS
            && n > sc->conf.max_file_size) {
            r->connection->keepalive = AP_CONN_CLOSE;
            *ret = pool_problem(r, HTTP_REQUEST_ENTITY_TOO_LARGE, too_big,
                                NULL);
            return 0;
        }
    }
    rv = st->ops->spool_open(st, r->pool, sc->conf.max_file_size, &sp);
    if (rv != APR_SUCCESS) {
        pool_problem_store(r->pool, &pr, rv, what, apr_psprintf(r->pool,
                           "open a spool in %s", st->root));
        *ret = pool_problem_send(r, &pr);
        return 0;
    }
    status = spool_body(r, sp, st, &store_rv);
    if (status != OK) {
        st->ops->spool_abort(sp);
        if (status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            r->connection->keepalive = AP_CONN_CLOSE;
            *ret = pool_problem(r, status, too_big, NULL);
        }
        else if (store_rv != APR_SUCCESS) {
            /* the client sent well; the store could not take it */
            r->connection->keepalive = AP_CONN_CLOSE;
            pool_problem_store(r->pool, &pr, store_rv, what, apr_psprintf(
                               r->pool, "write the %s to %s", what,
                               st->root));
            *ret = pool_problem_send(r, &pr);
        }
        else if (r->connection->aborted || status == AP_FILTER_ERROR) {
            *ret = status;
        }
        else {
            *ret = pool_problem(r, status, "the request body was not "
                                "received completely; nothing was stored",
                                NULL);
        }
        return 0;
    }
    *out = sp;
    return 1;
}

int pool_file_commit(request_rec *r, pool_spool_t *sp,
                     const unsigned char *want, pool_file_t *f,
                     pool_file_t **out, pool_problem_t *pr)
{
    pool_ingest_t in;
    pool_ingest_item_t *it;
    pool_db_file_baton fb;

    pool_ingest_init(&in, r);
    it = pool_ingest_add(r->pool, &in, f->pool, pool_uuid(r->pool), sp,
                         "file");
    it->want = want;
    if (!pool_ingest_prepare(r->pool, &in, pr)) {
        return 0;
    }
    f->id = it->id;
    f->size = it->size;
    f->sha256 = it->sha256_hex;
    fb.in = f;
    fb.out = NULL;
    in.record = pool_db_op_file_record;
    in.lookup = pool_db_op_file_lookup;
    in.refused = file_refused;
    in.baton = &fb;
    if (!pool_ingest_commit(r->pool, &in, pr)) {
        return 0;
    }
    *out = fb.out;
    return 1;
}

static int upload(request_rec *r, pool_principal *who, const char *pool,
                  const char *raw_name)
{
    pool_srv_conf *sc = pool_srv(r->server);
    pool_store_t *st = sc->store;
    apr_table_t *args = NULL;
    const char *name, *why, *ts_s, *digest_h, *err, *field;
    const char *folder_s, *folder = NULL;
    apr_size_t nlen;
    pool_file_fields_t fields;
    unsigned char want[32];
    int have_digest = 0, status;
    pool_spool_t *sp;
    pool_file_t f;
    pool_file_t *out;
    pool_problem_t pr;
    pool_db_rc rc;
    late_baton lb;

    if (!role_may_upload(who->role)) {
        return pool_problem(r, HTTP_FORBIDDEN, apr_psprintf(r->pool,
                            "the %s role may not upload files", who->role),
                            NULL);
    }
    /* the name as the client encoded it: httpd's decoded path cannot tell
     * a '%' of the name ("100%25.txt") from an escape */
    raw_name = pool_raw_tail(r, raw_name);
    name = raw_name ? pool_pct_decode(r->pool, raw_name, strlen(raw_name),
                                      &nlen) : NULL;
    if (!name) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "the file name has "
                            "a malformed %-escape or the path is not "
                            "normalised", "name");
    }
    if (pool_query(r, &args) != OK) {
        return OK;          /* refused, answered */
    }
    ts_s = apr_table_get(args, "ts");
    if (ts_s) {
        /* an unescaped '+' in a query string arrives as a space */
        char *t = apr_pstrdup(r->pool, ts_s), *sp_;
        while ((sp_ = strchr(t, ' ')) != NULL) {
            *sp_ = '+';
        }
        ts_s = t;
    }
    why = pool_fields_check(r->pool, name, nlen, ts_s,
                            apr_table_get(r->headers_in, "Content-Type"),
                            &fields, &field);
    if (why) {
        return pool_problem(r, !strcmp(field, "content_type")
                            ? HTTP_UNSUPPORTED_MEDIA_TYPE
                            : HTTP_UNPROCESSABLE_ENTITY, why, field);
    }
    /* absent: the client's own folder (the database names it) */
    folder_s = apr_table_get(args, "folder");
    if (folder_s
        && (why = pool_folder_check(r->pool, folder_s, strlen(folder_s),
                                    &folder)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, "folder");
    }
    digest_h = apr_table_get(r->headers_in, "Content-Digest");
    if (digest_h) {
        have_digest = pool_parse_content_digest(r->pool, digest_h, want);
        if (have_digest < 0) {
            return pool_problem(r, HTTP_BAD_REQUEST,
                                "malformed Content-Digest: expected "
                                "sha-256=:<base64 of 32 bytes>:", NULL);
        }
    }
    if (!st) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "storage not configured", NULL);
    }
    /* refuse a late file before its bytes arrive (for a pool that refuses
     * late files the insert checks again: the window may close meanwhile) */
    lb.pool = pool;
    lb.ts = fields.ts;
    rc = pool_db_run(r, op_late_check, &lb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "file");
    }
    if (!pool_receive_spool(r, "file", &sp, &status)) {
        return status;
    }
    memset(&f, 0, sizeof(f));
    f.pool = pool;
    f.client_id = who->client_id;
    f.name = fields.name;
    f.content_type = fields.content_type;
    f.ts = fields.ts;
    f.folder = folder;
    f.late_keeps = !lb.rejects;
    if (!pool_file_commit(r, sp, have_digest == 1 ? want : NULL, &f, &out,
                          &pr)) {
        return pool_problem_send(r, &pr);
    }
    apr_table_setn(r->headers_out, "Location",
                   apr_psprintf(r->pool, "%s/v1/pools/%s/files/%s",
                                pool_dir_prefix(r), pool, out->id));
    return pool_send_json(r, HTTP_CREATED, pool_json_file(r->pool, out));
}

/* ----------------------------------------------------------------- list */

typedef struct {
    const char *pool;
    const char *client;
    apr_int64_t after;
    int limit;
    apr_array_header_t *files;
} list_baton;

static pool_db_rc op_file_list(apr_pool_t *p, PGconn *c, void *b,
                               const char **err)
{
    list_baton *lb = b;
    return pool_db_file_list(p, c, lb->pool, lb->client, lb->after, lb->limit,
                             &lb->files, err);
}

static int list(request_rec *r, const char *pool)
{
    apr_table_t *args = NULL;
    const char *v, *err;
    list_baton lb;
    json_t *arr, *j;
    pool_db_rc rc;
    long n;
    int i;

    memset(&lb, 0, sizeof(lb));
    lb.pool = pool;
    lb.limit = LIST_DEFAULT;
    if (pool_query(r, &args) != OK) {
        return OK;          /* refused, answered */
    }
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, LIST_MAX, &n) != 0) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                "limit must be an integer from 1 to 1000",
                                "limit");
        }
        lb.limit = (int)n;
    }
    if ((v = apr_table_get(args, "after")) != NULL) {
        char *end;
        apr_int64_t a;
        errno = 0;
        a = apr_strtoi64(v, &end, 10);
        if (!*v || *end || errno || a < 0 || !apr_isdigit(*v)) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                "after must be a cursor from a previous "
                                "listing's \"next\"", "after");
        }
        lb.after = a;
    }
    if ((v = apr_table_get(args, "client")) != NULL) {
        if (!*v || strlen(v) > 64) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                "client must be a client_id", "client");
        }
        lb.client = v;
    }
    rc = pool_db_run(r, op_file_list, &lb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        lb.files = apr_array_make(r->pool, 0, sizeof(pool_file_t *));
    }
    else if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    arr = json_array();
    for (i = 0; i < lb.files->nelts; i++) {
        json_array_append_new(arr, pool_json_file(r->pool, APR_ARRAY_IDX(lb.files, i, pool_file_t *)));
    }
    j = json_object();
    json_object_set_new(j, "files", arr);
    if (lb.files->nelts == lb.limit && lb.limit > 0) {
        pool_file_t *last = APR_ARRAY_IDX(lb.files, lb.files->nelts - 1,
                                          pool_file_t *);
        json_object_set_new(j, "next", json_string(
                                apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                             last->seq)));
    }
    else {
        json_object_set_new(j, "next", json_null());
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, j);
}

/* ------------------------------------------------------------- download */

typedef struct {
    const char *pool;
    const char *id;
    pool_file_t *file;
} get_baton;

static pool_db_rc op_file_get(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    get_baton *gb = b;
    return pool_db_file_get(p, c, gb->pool, gb->id, &gb->file, err);
}

/* filename*=UTF-8''… (RFC 6266, RFC 8187) and an ASCII fallback. */
static const char *content_disposition(apr_pool_t *p, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = strlen(name), i;
    char *ascii = apr_palloc(p, n + 1), *ext = apr_palloc(p, 3 * n + 1);
    char *a = ascii, *e = ext;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        *a++ = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%')
               ? '_' : (char)c;
        if (apr_isalnum(c) || strchr("!#$&+-.^_`|~", c)) {
            *e++ = (char)c;
        }
        else {
            *e++ = '%';
            *e++ = hex[c >> 4];
            *e++ = hex[c & 15];
        }
    }
    *a = *e = '\0';
    return apr_psprintf(p, "attachment; filename=\"%s\"; filename*=UTF-8''%s",
                        ascii, ext);
}

static int download(request_rec *r, const char *pool, const char *id)
{
    pool_filecache_t *fc = pool_srv(r->server)->files;
    get_baton gb;
    const char *err;
    pool_db_rc rc;
    int cached, missing = 0, status;

    if (r->method_number != M_GET) {
        /* files/{id} is read; files/{name} is uploaded (PUT) */
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, PUT");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED,
                            "files are read with GET or HEAD and uploaded "
                            "with PUT", NULL);
    }
    if (!pool_uuid_valid(id)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such file", NULL);
    }
    gb.pool = pool;
    gb.id = id;
    gb.file = NULL;
    cached = pool_filecache_get(fc, r->pool, pool, id, &gb.file);
    for (;;) {
        if (!cached) {
            rc = pool_db_run(r, op_file_get, &gb, &err);
            if (rc == POOL_DB_NOTFOUND) {
                pool_filecache_drop(fc, pool, id);
                return pool_problem(r, HTTP_NOT_FOUND, "no such file", NULL);
            }
            if (rc != POOL_DB_OK) {
                return pool_db_problem(r, rc, err, "file");
            }
            pool_filecache_put(fc, gb.file);
        }
        status = pool_send_object(r, pool, pool, id, gb.file->size,
                                  gb.file->received_at, gb.file->content_type,
                                  gb.file->sha256, gb.file->name, "file",
                                  cached ? &missing : NULL);
        if (!missing) {
            return status;
        }
        /* the bytes are gone: is the row (removed by retention)? */
        pool_filecache_drop(fc, pool, id);
        cached = missing = 0;
    }
}

/* Streaming from a store without local files: one byte range of a GET is
 * passed to the store (RFC 9110 14.2: several ranges, or a range that does
 * not parse, are answered with the whole body). */
typedef struct {
    request_rec *r;
    apr_bucket_brigade *bb;
    apr_off_t sent;
} stream_baton;

static apr_status_t stream_sink(void *baton, const char *buf, apr_size_t n)
{
    stream_baton *sb = baton;
    apr_status_t rv;

    if (sb->r->connection->aborted) {
        return APR_ECONNABORTED;
    }
    /* transient: the core output filter copies only what it cannot send
     * at once */
    APR_BRIGADE_INSERT_TAIL(sb->bb, apr_bucket_transient_create(buf, n,
                            sb->r->connection->bucket_alloc));
    sb->sent += (apr_off_t)n;
    rv = ap_pass_brigade(sb->r->output_filters, sb->bb);
    apr_brigade_cleanup(sb->bb);
    return rv;
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against size: 1 with the range,
 * 0 when there is no single range to honour, -1 when unsatisfiable. */
static int one_range(apr_pool_t *p, const char *h, apr_off_t size,
                     apr_off_t *from, apr_off_t *len)
{
    const char *s, *dash;
    apr_off_t a = -1, b = -1;
    char *end;

    if (!h || strncasecmp(h, "bytes=", 6)) {
        return 0;
    }
    if (strchr(h, ',')) {
        /* several: sent whole (RFC 9110 allows it), unless none of them
         * can be satisfied, as httpd's byterange filter answers */
        char *list = apr_pstrdup(p, h + 6), *last, *piece;
        apr_off_t f, l;

        for (piece = apr_strtok(list, ",", &last); piece;
             piece = apr_strtok(NULL, ",", &last)) {
            if (one_range(p, apr_pstrcat(p, "bytes=", piece, NULL),
                          size, &f, &l) >= 0) {
                return 0;
            }
        }
        return -1;
    }
    s = h + 6;
    while (*s == ' ') {
        s++;
    }
    dash = strchr(s, '-');
    if (!dash) {
        return 0;
    }
    if (dash != s && (apr_strtoff(&a, s, &end, 10) != APR_SUCCESS
                      || end != dash || a < 0)) {
        return 0;
    }
    if (dash[1] && (apr_strtoff(&b, dash + 1, &end, 10) != APR_SUCCESS
                    || *end || b < 0)) {
        return 0;
    }
    if (a < 0) {                    /* suffix: the last b bytes */
        if (b <= 0) {
            return b == 0 ? -1 : 0;
        }
        *from = b >= size ? 0 : size - b;
        *len = size - *from;
        return size ? 1 : -1;
    }
    if (b >= 0 && b < a) {
        return 0;
    }
    if (a >= size) {
        return -1;
    }
    *from = a;
    *len = (b < 0 || b >= size ? size - 1 : b) - a + 1;
    return 1;
}

/* The headers pool_send_object set for an object it then did not send. */
static void unset_object_headers(request_rec *r)
{
    static const char *const names[] = { "ETag", "Last-Modified",
        "Content-Disposition", "Cache-Control", "Accept-Ranges",
        "Repr-Digest", "Content-Range", "Content-Length" };
    unsigned int i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        apr_table_unset(r->headers_out, names[i]);
    }
    r->status = HTTP_OK;
}

static int send_streamed(request_rec *r, pool_store_obj_t *o, const char *what,
                         int *missing)
{
    pool_store_t *st = o->store;
    const char *range = apr_table_get(r->headers_in, "Range");
    apr_off_t from = 0, len = o->size;
    stream_baton sb;
    apr_status_t rv;
    int ranged = 0;

    if (range && r->method_number == M_GET) {
        const char *if_range = apr_table_get(r->headers_in, "If-Range");
        const char *etag = apr_table_get(r->headers_out, "ETag");

        /* If-Range: a strong ETag of ours, or the range is ignored */
        if (!if_range || (etag && !strcmp(if_range, etag))) {
            ranged = one_range(r->pool, range, o->size, &from, &len);
        }
    }
    if (ranged < 0) {
        st->ops->obj_close(o);
        apr_table_setn(r->headers_out, "Content-Range", apr_psprintf(r->pool,
                       "bytes */%" APR_OFF_T_FMT, o->size));
        return pool_problem(r, HTTP_RANGE_NOT_SATISFIABLE, "the range is "
                            "outside the file", NULL);
    }
    if (ranged > 0) {
        r->status = HTTP_PARTIAL_CONTENT;
        apr_table_setn(r->headers_out, "Content-Range", apr_psprintf(r->pool,
                       "bytes %" APR_OFF_T_FMT "-%" APR_OFF_T_FMT "/%"
                       APR_OFF_T_FMT, from, from + len - 1, o->size));
    }
    ap_set_content_length(r, len);
    if (r->header_only) {
        st->ops->obj_close(o);
        return OK;
    }
    sb.r = r;
    sb.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    sb.sent = 0;
    rv = st->ops->obj_read(o, from, len, stream_sink, &sb);
    st->ops->obj_close(o);
    if (rv == APR_ENOENT && sb.sent == 0 && missing
        && !r->connection->aborted) {
        /* opened on the row's word alone, and the store has no such object
         * (removed since the row was cached): the caller looks again */
        unset_object_headers(r);
        *missing = 1;
        return DECLINED;
    }
    if (rv != APR_SUCCESS) {
        /* an unavailable store is a 503 the store has logged already */
        ap_log_rerror(APLOG_MARK, r->connection->aborted ? APLOG_INFO
                      : rv == POOL_STORE_UNAVAILABLE && !sb.sent
                      ? APLOG_WARNING : APLOG_ERR, 0, r, "pool: sending %s "
                      "from the store stopped after %" APR_OFF_T_FMT
                      " bytes: %s", what, sb.sent,
                      pool_store_errstr(r->pool, rv));
        if (sb.sent == 0 && !r->connection->aborted) {
            pool_problem_t pr;

            r->status = HTTP_OK;
            apr_table_unset(r->headers_out, "Content-Range");
            apr_table_unset(r->headers_out, "Content-Length");
            pool_problem_store(r->pool, &pr, rv == POOL_STORE_UNAVAILABLE
                               ? rv : APR_EGENERAL, what, "read it");
            if (rv != POOL_STORE_UNAVAILABLE) {
                pr.status = HTTP_INTERNAL_SERVER_ERROR;
                pr.detail = "the file's data cannot be read now";
            }
            return pool_problem_send(r, &pr);
        }
        /* the head is out: all that is left is to cut the connection */
        r->connection->keepalive = AP_CONN_CLOSE;
        return OK;
    }
    APR_BRIGADE_INSERT_TAIL(sb.bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, sb.bb);
    return OK;
}

int pool_send_object(request_rec *r, const char *owner, const char *pool,
                     const char *id, apr_off_t size, const char *stored_at,
                     const char *ctype, const char *sha256, const char *name,
                     const char *what, int *missing)
{
    pool_store_t *st = pool_srv(r->server)->store;
    pool_store_obj_t *o;
    apr_file_t *fd;
    apr_bucket_brigade *bb;
    apr_bucket *e;
    core_dir_config *cd;
    apr_status_t rv;
    apr_time_t mtime;
    int cond;

    if ((cond = pool_usage_download_check(r, owner)) != DECLINED) {
        return cond;
    }
    pool_usage_note_download(r, owner);
    /* as httpd's own default handler: sendfile and mmap as configured
     * (EnableSendfile, EnableMMAP) */
    cd = ap_get_core_module_config(r->per_dir_config);
    if (!stored_at || pool_ts_parse(stored_at, &mtime) != 0) {
        mtime = 0;
    }
    /* the row knows size and time: a store that reads remotely need not
     * ask for them first */
    rv = pool_store_open_known(st, r->pool, pool, id, size, mtime,
                               cd->enable_sendfile == ENABLE_SENDFILE_ON, &o);
    if (rv != APR_SUCCESS) {
        pool_problem_t pr;

        if (missing && APR_STATUS_IS_ENOENT(rv)) {
            *missing = 1;
            return DECLINED;
        }
        if (rv == POOL_STORE_UNAVAILABLE) {
            pool_problem_store(r->pool, &pr, rv, what, "open it");
            pr.detail = "the store is unavailable; retry later";
            return pool_problem_send(r, &pr);
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "pool: %s %s has a row but no readable data in %s "
                      "(poolctl sweep reports these)", what, id, st->root);
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "the file's data is missing", NULL);
    }
    ap_set_content_type(r, ctype);
    pool_set_etag(r, pool_digest_etag(r->pool, sha256));
    if (pool_digest_sha256_wanted(apr_table_get(r->headers_in,
                                                "Want-Repr-Digest"))) {
        const char *d = pool_digest_field(r->pool, sha256);

        if (d) {
            /* the whole file's digest, also on a 206 (RFC 9530 §3) */
            apr_table_setn(r->headers_out, "Repr-Digest", d);
        }
    }
    ap_update_mtime(r, o->mtime);
    ap_set_last_modified(r);
    apr_table_setn(r->headers_out, "Content-Disposition",
                   content_disposition(r->pool, name));
    apr_table_setn(r->headers_out, "Accept-Ranges", "bytes");
    cond = ap_meets_conditions(r);
    if (cond != OK) {
        st->ops->obj_close(o);
        if (cond == HTTP_NOT_MODIFIED) {
            return cond;
        }
        return pool_problem(r, cond, "a precondition of the request "
                            "(If-Match, If-Unmodified-Since) failed", NULL);
    }
    fd = st->ops->obj_file(o);
    if (!fd) {
        return send_streamed(r, o, what, missing);
    }
    ap_set_content_length(r, o->size);
    apr_table_setn(r->notes, POOL_NOTE_SIZE,
                   apr_off_t_toa(r->pool, o->size));
    /* the byterange filter answers Range and If-Range from this brigade */
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    e = apr_brigade_insert_file(bb, fd, 0, o->size, r->pool);
#if APR_HAS_MMAP
    if (cd->enable_mmap == ENABLE_MMAP_OFF) {
        apr_bucket_file_enable_mmap(e, 0);
    }
#endif
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, "pool: sending %s failed",
                      what);
    }
    return OK;
}

/* -------------------------------------------------------------- routing */

int pool_handle_files(request_rec *r, pool_principal *who, const char *pool,
                      const char *rest)
{
    if (!rest) {
        if (r->method_number == M_GET) {
            return list(r, pool);
        }
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED,
                            "list files with GET, upload a batch with POST, "
                            "one file with PUT to files/{name}", NULL);
    }
    if (r->method_number == M_PUT) {
        if (strchr(rest, '/')) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                "bad file name: must not contain '/'", "name");
        }
        return upload(r, who, pool, rest);
    }
    if (strchr(rest, '/')) {
        /* files/{id}/links: links for clients (pool_links.c) */
        const char *sl = strchr(rest, '/');

        if (!strcmp(sl, "/links")) {
            return pool_handle_file_links(r, who, pool,
                                          apr_pstrmemdup(r->pool, rest,
                                                         sl - rest));
        }
        return pool_problem(r, HTTP_NOT_FOUND, "no such file", NULL);
    }
    return download(r, pool, rest);
}
