/* Batch uploads: POST .../pools/{pool}/files as multipart/form-data.
 *
 * Every file part streams into its own spool file (SHA-256 on the fly)
 * through the core library's push parser as the body arrives; nothing is
 * committed until the whole body has been received and every part checked.
 * Then every spool is moved into place and every row inserted in one
 * transaction; when that fails, the files just moved are removed again.
 * All or nothing: a bad part answers one problem naming the part, and no
 * file of the batch is kept.  No database connection is held while the
 * body streams. */
#include <stdarg.h>

#include <jansson.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_pool.h"
#include "pool_digest.h"
#include "pool_fields.h"
#include "pool_json.h"
#include "pool_multipart.h"
#include "pool_name.h"
#include "pool_util.h"

#define BATCH_MAX_PARTS     1000            /* parts of one body, manifest included */
#define BATCH_HEADER_MAX    8192            /* bytes of one part's headers */
#define BATCH_MANIFEST_MAX  (256 * 1024)    /* bytes of the manifest part */
#define LABEL_MAX           64              /* bytes of a bad name shown */

enum {
    PART_NONE = 0,
    PART_FILE,
    PART_MANIFEST
};

typedef struct {
    const char *ts;             /* as text for pool_fields_check; NULL: none */
    const char *folder;         /* NULL: not given */
    apr_size_t folder_len;
    const char *name;           /* NULL: not given */
    apr_size_t name_len;
    int have_sha;
    unsigned char sha[32];
} manifest_entry;

typedef struct {
    int part;                   /* index of its part in the body */
    int index;                  /* index among the batch's files */
    const char *label;          /* files[K] ("name"), for messages */
    pool_spool_t *sp;
    int have_digest;            /* Content-Digest of the part */
    unsigned char digest[32];
    int have_msha;              /* sha256 of the manifest entry */
    unsigned char msha[32];
    pool_file_t f;
} batch_file;

typedef struct {
    request_rec *r;
    pool_srv_conf *sc;
    pool_store_t *st;
    pool_principal *who;
    const char *pool;
    pool_mp_parser_t *mp;
    apr_off_t max_batch;
    apr_off_t total;
    int part;                   /* index of the current part, -1 before */
    int kind;                   /* PART_* of the current part */
    batch_file *cur;
    apr_array_header_t *files;  /* batch_file * in part order */
    int have_manifest;
    char *mbuf;
    apr_size_t mlen;
    manifest_entry *entries;
    int nentries;
    /* the first refusal, answered as a problem */
    int status;
    const char *detail;
    const char *field;
    int err_part;
} batch_ctx;

static int role_may_upload(const char *role)
{
    return !strcmp(role, "uploader") || !strcmp(role, "admin");
}

/* A client-sent string made safe and short for a message: valid names as
 * they are, anything else with its odd bytes as \xNN, cut at LABEL_MAX. */
static const char *shown(apr_pool_t *p, const char *s, apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *out, *o;
    apr_size_t i;

    if (strlen(s) == n && !pool_name_check(s)) {
        return s;
    }
    o = out = apr_palloc(p, LABEL_MAX * 4 + 4);
    for (i = 0; i < n && i < LABEL_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *o++ = (char)c;
        }
        else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    if (i < n) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o = '\0';
    return out;
}

/* Records the first refusal; returns non-zero so that a parser callback
 * can return it to stop the parse. */
static int refuse(batch_ctx *bc, int status, const char *field,
                  const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(batch_ctx *bc, int status, const char *field,
                  const char *fmt, ...)
{
    va_list ap;

    if (!bc->status) {
        va_start(ap, fmt);
        bc->detail = apr_pvsprintf(bc->r->pool, fmt, ap);
        va_end(ap);
        bc->status = status;
        bc->field = field;
        bc->err_part = bc->part;
    }
    return 1;
}

static const char *file_field(batch_ctx *bc, int k, const char *member)
{
    return apr_psprintf(bc->r->pool, "files[%d]%s%s", k, member ? "." : "",
                        member ? member : "");
}

/* ------------------------------------------------------------- manifest */

static int manifest_begin(batch_ctx *bc, const pool_mp_part_t *part)
{
    const char *ct = pool_mp_header(part, "Content-Type"), *mt, *why;
    apr_table_t *params;

    if (part->index != 0) {
        return refuse(bc, HTTP_UNPROCESSABLE_ENTITY, "manifest",
                      "the manifest must be the first part of the body "
                      "(found as part %d)", part->index);
    }
    if (ct) {
        why = pool_mp_parse_params(bc->r->pool, ct, &mt, &params);
        if (why || strcmp(mt, "application/json")) {
            return refuse(bc, HTTP_UNPROCESSABLE_ENTITY, "manifest",
                          "the manifest part must be application/json");
        }
    }
    bc->kind = PART_MANIFEST;
    bc->have_manifest = 1;
    bc->mbuf = apr_palloc(bc->r->pool, BATCH_MANIFEST_MAX);
    bc->mlen = 0;
    return 0;
}

static int bad_entry(batch_ctx *bc, int i, const char *key, const char *why)
{
    return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                  apr_psprintf(bc->r->pool, "manifest.files[%d].%s", i, key),
                  "manifest: files[%d].%s %s", i, key, why);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = apr_tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static int manifest_entry_parse(batch_ctx *bc, int i, json_t *e,
                                manifest_entry *me)
{
    const char *key;
    json_t *v;

    if (!json_is_object(e)) {
        return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                      apr_psprintf(bc->r->pool, "manifest.files[%d]", i),
                      "manifest: files[%d] must be an object {\"ts\"?, "
                      "\"name\"?, \"sha256\"?, \"folder\"?}", i);
    }
    json_object_foreach(e, key, v) {
        if (!strcmp(key, "ts")) {
            if (json_is_string(v)) {
                me->ts = apr_pstrdup(bc->r->pool, json_string_value(v));
            }
            else if (json_is_integer(v) && json_integer_value(v) >= 0) {
                me->ts = apr_psprintf(bc->r->pool, "%" APR_INT64_T_FMT,
                                      (apr_int64_t)json_integer_value(v));
            }
            else {
                return bad_entry(bc, i, "ts", "must be an RFC 3339 string "
                                 "or Unix seconds");
            }
        }
        else if (!strcmp(key, "folder")) {
            if (!json_is_string(v)) {
                return bad_entry(bc, i, "folder", "must be a string");
            }
            me->folder_len = json_string_length(v);
            me->folder = apr_pstrmemdup(bc->r->pool, json_string_value(v),
                                        me->folder_len);
        }
        else if (!strcmp(key, "name")) {
            if (!json_is_string(v)) {
                return bad_entry(bc, i, "name", "must be a string");
            }
            me->name_len = json_string_length(v);
            me->name = apr_pstrmemdup(bc->r->pool, json_string_value(v),
                                      me->name_len);
        }
        else if (!strcmp(key, "sha256")) {
            const char *h = json_is_string(v) ? json_string_value(v) : "";
            int k;

            if (strlen(h) != 64) {
                return bad_entry(bc, i, "sha256", "must be 64 hex digits");
            }
            for (k = 0; k < 32; k++) {
                int hi = hexval((unsigned char)h[2 * k]);
                int lo = hexval((unsigned char)h[2 * k + 1]);
                if (hi < 0 || lo < 0) {
                    return bad_entry(bc, i, "sha256", "must be 64 hex digits");
                }
                me->sha[k] = (unsigned char)(hi * 16 + lo);
            }
            me->have_sha = 1;
        }
        else {
            return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                          apr_psprintf(bc->r->pool, "manifest.files[%d]", i),
                          "manifest: files[%d] has an unknown member \"%s\" "
                          "(known: ts, name, sha256, folder)", i,
                          shown(bc->r->pool, key, strlen(key)));
        }
    }
    return 0;
}

static int manifest_end(batch_ctx *bc)
{
    json_error_t jerr;
    json_t *j, *files, *v;
    const char *key;
    size_t i, n;
    int rv = 0;

    j = json_loadb(bc->mbuf, bc->mlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        if (j) {
            json_decref(j);
        }
        return refuse(bc, HTTP_BAD_REQUEST, "manifest",
                      "the manifest (part 0) must be a JSON object "
                      "{\"files\": [{\"ts\": ..., \"name\"?: ..., "
                      "\"sha256\"?: ...}, ...]}");
    }
    json_object_foreach(j, key, v) {
        if (strcmp(key, "files")) {
            rv = refuse(bc, HTTP_UNPROCESSABLE_ENTITY, "manifest",
                        "manifest: unknown member \"%s\" (known: files)",
                        shown(bc->r->pool, key, strlen(key)));
            goto out;
        }
    }
    files = json_object_get(j, "files");
    if (!json_is_array(files)) {
        rv = refuse(bc, HTTP_UNPROCESSABLE_ENTITY, "manifest.files",
                    "manifest: files must be an array with one entry per "
                    "file part, in order");
        goto out;
    }
    n = json_array_size(files);
    if (n >= BATCH_MAX_PARTS) {
        rv = refuse(bc, HTTP_REQUEST_ENTITY_TOO_LARGE, "manifest.files",
                    "manifest: lists %lu files; a batch holds at most %d",
                    (unsigned long)n, BATCH_MAX_PARTS - 1);
        goto out;
    }
    bc->entries = apr_pcalloc(bc->r->pool, (n + 1) * sizeof(manifest_entry));
    bc->nentries = (int)n;
    for (i = 0; i < n && !rv; i++) {
        rv = manifest_entry_parse(bc, (int)i, json_array_get(files, i),
                                  &bc->entries[i]);
    }
out:
    json_decref(j);
    return rv;
}

/* ----------------------------------------------------------- file parts */

/* File K's folder, from its part's Pool-Folder header or its manifest
 * entry (never both), checked: 0 with *folder (NULL: none given, the
 * client's own folder), else a refusal. */
static int part_folder(batch_ctx *bc, const pool_mp_part_t *part,
                       const batch_file *bf, const char **folder)
{
    const char *h = pool_mp_header(part, "Pool-Folder"), *why;
    apr_size_t len = h ? strlen(h) : 0;
    int k = bf->index;

    *folder = NULL;
    if (bc->have_manifest && k < bc->nentries && bc->entries[k].folder) {
        if (h) {
            return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                          file_field(bc, k, "folder"),
                          "%s: folder is given twice, in its Pool-Folder "
                          "header and in the manifest", bf->label);
        }
        h = bc->entries[k].folder;
        len = bc->entries[k].folder_len;
    }
    if (!h) {
        return 0;
    }
    /* the normal form is a copy: the header dies with the callback */
    why = pool_folder_check(bc->r->pool, h, len, folder);
    if (why) {
        return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                      file_field(bc, k, "folder"), "%s: %s", bf->label, why);
    }
    return 0;
}

static int file_begin(batch_ctx *bc, const pool_mp_part_t *part,
                      const char *name, apr_size_t nlen, const char *name_why)
{
    request_rec *r = bc->r;
    int k = bc->files->nelts;
    const char *ts, *cte, *dh, *why, *field, *ctype, *folder;
    pool_file_fields_t fields;
    batch_file *bf;
    apr_status_t rv;

    bf = apr_pcalloc(r->pool, sizeof(*bf));
    bf->part = part->index;
    bf->index = k;
    bf->label = name ? apr_psprintf(r->pool, "files[%d] (\"%s\")", k,
                                    shown(r->pool, name, nlen))
                     : apr_psprintf(r->pool, "files[%d]", k);
    if (name_why) {
        return refuse(bc, HTTP_UNPROCESSABLE_ENTITY, file_field(bc, k, "name"),
                      "%s: %s", bf->label, name_why);
    }
    cte = pool_mp_header(part, "Content-Transfer-Encoding");
    if (cte && strcasecmp(cte, "binary") && strcasecmp(cte, "8bit")
        && strcasecmp(cte, "7bit")) {
        return refuse(bc, HTTP_BAD_REQUEST, file_field(bc, k, NULL),
                      "%s: Content-Transfer-Encoding %s is not supported: "
                      "send the file's bytes as they are", bf->label,
                      shown(r->pool, cte, strlen(cte)));
    }
    ts = pool_mp_header(part, "Pool-Ts");
    if (bc->have_manifest) {
        manifest_entry *me;

        if (k >= bc->nentries) {
            return refuse(bc, HTTP_UNPROCESSABLE_ENTITY, "manifest.files",
                          "%s: the manifest lists only %d file%s", bf->label,
                          bc->nentries, bc->nentries == 1 ? "" : "s");
        }
        me = &bc->entries[k];
        if (me->ts) {
            if (ts) {
                return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                              file_field(bc, k, "ts"),
                              "%s: ts is given twice, in its Pool-Ts header "
                              "and in the manifest", bf->label);
            }
            ts = me->ts;
        }
        if (me->name && (!name || me->name_len != nlen
                         || memcmp(me->name, name, nlen))) {
            return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                          file_field(bc, k, "name"),
                          "%s: the part's filename differs from the name in "
                          "the manifest (\"%s\")", bf->label,
                          shown(r->pool, me->name, me->name_len));
        }
        if (me->have_sha) {
            bf->have_msha = 1;
            memcpy(bf->msha, me->sha, 32);
        }
    }
    /* the part's header strings live only during this call: copy */
    ctype = pool_mp_header(part, "Content-Type");
    why = pool_fields_check(r->pool, name, nlen, ts,
                            ctype ? apr_pstrdup(r->pool, ctype) : NULL,
                            &fields, &field);
    if (why) {
        return refuse(bc, HTTP_UNPROCESSABLE_ENTITY, file_field(bc, k, field),
                      "%s: %s", bf->label, why);
    }
    if (part_folder(bc, part, bf, &folder)) {
        return 1;
    }
    dh = pool_mp_header(part, "Content-Digest");
    if (dh) {
        bf->have_digest = pool_parse_content_digest(r->pool, dh, bf->digest);
        if (bf->have_digest < 0) {
            return refuse(bc, HTTP_BAD_REQUEST, file_field(bc, k, "sha256"),
                          "%s: malformed Content-Digest: expected "
                          "sha-256=:<base64 of 32 bytes>:", bf->label);
        }
    }
    rv = bc->st->ops->spool_open(bc->st, r->pool, bc->sc->conf.max_file_size,
                                 &bf->sp);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "pool: cannot open a spool file under %s for part %d "
                      "of a batch", bc->st->root, part->index);
        return refuse(bc, HTTP_INSUFFICIENT_STORAGE, NULL,
                      "cannot store the files now; nothing was stored");
    }
    bf->f.pool = bc->pool;
    bf->f.client_id = bc->who->client_id;
    bf->f.name = fields.name;
    bf->f.content_type = fields.content_type;
    bf->f.ts = fields.ts;
    bf->f.folder = folder;
    APR_ARRAY_PUSH(bc->files, batch_file *) = bf;
    bc->cur = bf;
    bc->kind = PART_FILE;
    return 0;
}

static int file_end(batch_ctx *bc)
{
    batch_file *bf = bc->cur;
    unsigned char got[32];

    pool_spool_digest(bf->sp, got);
    if (bf->have_digest == 1 && !pool_ct_equal(bf->digest, got, 32)) {
        return refuse(bc, HTTP_BAD_REQUEST, file_field(bc, bf->index, "sha256"),
                      "%s: Content-Digest sha-256 does not match the part's "
                      "content", bf->label);
    }
    if (bf->have_msha && !pool_ct_equal(bf->msha, got, 32)) {
        return refuse(bc, HTTP_BAD_REQUEST, file_field(bc, bf->index, "sha256"),
                      "%s: the manifest's sha256 does not match the part's "
                      "content", bf->label);
    }
    bf->f.size = pool_spool_size(bf->sp);
    bf->f.sha256 = pool_hex(bc->r->pool, got, 32);
    return 0;
}

/* ------------------------------------------------------ parser callbacks */

static int on_part_begin(void *baton, const pool_mp_part_t *part)
{
    batch_ctx *bc = baton;
    request_rec *r = bc->r;
    const char *cd, *disp, *fname, *name, *why;
    apr_table_t *params;
    apr_size_t nlen;

    bc->part = part->index;
    bc->kind = PART_NONE;
    bc->cur = NULL;
    cd = pool_mp_header(part, "Content-Disposition");
    if (!cd) {
        return refuse(bc, HTTP_BAD_REQUEST, NULL, "part %d has no "
                      "Content-Disposition header", part->index);
    }
    why = pool_mp_parse_params(r->pool, cd, &disp, &params);
    if (why || strcmp(disp, "form-data")) {
        return refuse(bc, HTTP_BAD_REQUEST, NULL, "part %d: Content-"
                      "Disposition must be 'form-data; name=\"...\"'%s%s",
                      part->index, why ? ": " : "", why ? why : "");
    }
    fname = apr_table_get(params, "name");
    if (!fname) {
        return refuse(bc, HTTP_BAD_REQUEST, NULL, "part %d: Content-"
                      "Disposition has no name parameter", part->index);
    }
    if (apr_table_get(params, "filename") || apr_table_get(params, "filename*")
        || !strcmp(fname, "file")) {
        why = pool_mp_filename(r->pool, params, &name, &nlen);
        return file_begin(bc, part, name, nlen, why);
    }
    if (!strcmp(fname, "manifest")) {
        return manifest_begin(bc, part);
    }
    return refuse(bc, HTTP_UNPROCESSABLE_ENTITY,
                  apr_psprintf(r->pool, "parts[%d]", part->index),
                  "part %d: unexpected form field \"%s\": a batch holds file "
                  "parts (name=\"file\" with a filename) and an optional "
                  "leading \"manifest\" part", part->index,
                  shown(r->pool, fname, strlen(fname)));
}

static int on_part_data(void *baton, const char *data, apr_size_t len)
{
    batch_ctx *bc = baton;
    apr_status_t rv;

    if (bc->kind == PART_MANIFEST) {
        if (len > BATCH_MANIFEST_MAX - bc->mlen) {
            return refuse(bc, HTTP_REQUEST_ENTITY_TOO_LARGE, "manifest",
                          "the manifest is larger than %d KB",
                          BATCH_MANIFEST_MAX / 1024);
        }
        memcpy(bc->mbuf + bc->mlen, data, len);
        bc->mlen += len;
        return 0;
    }
    rv = bc->st->ops->spool_write(bc->cur->sp, data, len);
    if (rv == POOL_STORE_TOOBIG) {
        return refuse(bc, HTTP_REQUEST_ENTITY_TOO_LARGE,
                      file_field(bc, bc->cur->index, NULL),
                      "%s: larger than the limit of %" APR_OFF_T_FMT
                      " bytes (PoolMaxFileSize)", bc->cur->label,
                      bc->sc->conf.max_file_size);
    }
    if (rv != APR_SUCCESS) {
        pool_problem_t pr;

        pool_problem_store(bc->r->pool, &pr, rv, "files", "write a part");
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, bc->r,
                      "pool: cannot write batch part %d: %s", bc->part,
                      pool_store_errstr(bc->r->pool, rv));
        if (pr.retry_after) {
            apr_table_setn(bc->r->headers_out, "Retry-After",
                           apr_itoa(bc->r->pool, pr.retry_after));
        }
        return refuse(bc, pr.status, NULL, "%s", pr.detail);
    }
    return 0;
}

static int on_part_end(void *baton)
{
    batch_ctx *bc = baton;
    int rv = bc->kind == PART_FILE ? file_end(bc)
           : bc->kind == PART_MANIFEST ? manifest_end(bc) : 0;

    bc->kind = PART_NONE;
    return rv;
}

static const pool_mp_callbacks_t batch_callbacks = {
    on_part_begin, on_part_data, on_part_end
};

/* A parser error (not one of ours) as a refusal. */
static void parser_refusal(batch_ctx *bc, pool_mp_rc rc)
{
    const char *err = pool_mp_error(bc->mp);
    const char *where = "";

    if (!err) {
        err = "?";
    }
    bc->part = pool_mp_part_index(bc->mp);
    if (bc->cur && bc->cur->part == bc->part) {
        where = apr_pstrcat(bc->r->pool, bc->cur->label, ": ", NULL);
    }
    switch (rc) {
    case POOL_MP_TRUNCATED:
        refuse(bc, HTTP_BAD_REQUEST, NULL, "%s%s; nothing was stored", where,
               err);
        break;
    case POOL_MP_HEADER_TOO_BIG:
        refuse(bc, HTTP_REQUEST_ENTITY_TOO_LARGE, NULL, "%s", err);
        break;
    case POOL_MP_TOO_MANY_PARTS:
        refuse(bc, HTTP_REQUEST_ENTITY_TOO_LARGE, "files", "the batch has %s: "
               "send at most %d parts in one request", err, BATCH_MAX_PARTS);
        break;
    default:
        refuse(bc, HTTP_BAD_REQUEST, NULL, "%smalformed multipart body: %s",
               where, err);
        break;
    }
}

/* pool_read_body's sink: counts and parses. */
static int batch_sink(void *baton, const char *data, apr_size_t len)
{
    batch_ctx *bc = baton;
    pool_mp_rc rc;

    if ((apr_off_t)len > bc->max_batch - bc->total) {
        refuse(bc, HTTP_REQUEST_ENTITY_TOO_LARGE, NULL, "the batch is larger "
               "than the limit of %" APR_OFF_T_FMT " bytes (PoolMaxBatchSize)",
               bc->max_batch);
        return bc->status;
    }
    bc->total += (apr_off_t)len;
    rc = pool_mp_feed(bc->mp, data, len);
    if (rc == POOL_MP_OK) {
        return OK;
    }
    if (rc != POOL_MP_ABORTED) {
        parser_refusal(bc, rc);
    }
    return bc->status ? bc->status : HTTP_BAD_REQUEST;
}

/* ---------------------------------------------------------------- commit */

typedef struct {
    apr_array_header_t *in;     /* pool_file_t * */
    apr_array_header_t *out;
} many_baton;

static pool_db_rc op_insert_many(apr_pool_t *p, PGconn *c, void *b,
                                 const char **err)
{
    many_baton *mb = b;
    return pool_db_file_insert_many(p, c, mb->in, &mb->out, err);
}

/* After a failed insert: the rows are all there (one transaction) or none. */
static pool_db_rc op_found_many(apr_pool_t *p, PGconn *c, void *b,
                                const char **err)
{
    many_baton *mb = b;
    int i;

    mb->out = apr_array_make(p, mb->in->nelts, sizeof(pool_file_t *));
    for (i = 0; i < mb->in->nelts; i++) {
        pool_file_t *f = APR_ARRAY_IDX(mb->in, i, pool_file_t *), *row;
        pool_db_rc rc = pool_db_file_get(p, c, f->pool, f->id, &row, err);

        if (rc != POOL_DB_OK) {
            return rc;
        }
        APR_ARRAY_PUSH(mb->out, pool_file_t *) = row;
    }
    return POOL_DB_OK;
}

static void batch_refused(void *b, apr_pool_t *p, pool_db_rc rc,
                          const char *err, pool_problem_t *pr)
{
    pool_problem_db(p, pr, rc, err, "file");
    if (rc == POOL_DB_NOTFOUND) {
        pr->detail = "no such pool";
    }
}

static void discard(batch_ctx *bc)
{
    int i;

    for (i = 0; i < bc->files->nelts; i++) {
        batch_file *bf = APR_ARRAY_IDX(bc->files, i, batch_file *);
        if (bf->sp) {
            bc->st->ops->spool_abort(bf->sp);
        }
        bf->sp = NULL;
    }
}

static int answer_refusal(batch_ctx *bc)
{
    request_rec *r = bc->r;
    json_t *extra = NULL;

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "pool: batch refused (%d): %s",
                  bc->status, bc->detail);
    if (bc->err_part >= 0) {
        extra = json_object();
        json_object_set_new(extra, "part", json_integer(bc->err_part));
    }
    if (bc->status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", "30");
    }
    return pool_problem_json(r, bc->status, bc->detail, bc->field, extra);
}

static int store_all(batch_ctx *bc)
{
    request_rec *r = bc->r;
    pool_ingest_t in;
    pool_problem_t pr;
    many_baton mb;
    json_t *arr, *j;
    int i;

    pool_ingest_init(&in, r);
    mb.in = apr_array_make(r->pool, bc->files->nelts, sizeof(pool_file_t *));
    mb.out = NULL;
    for (i = 0; i < bc->files->nelts; i++) {
        batch_file *bf = APR_ARRAY_IDX(bc->files, i, batch_file *);
        pool_ingest_item_t *it;

        bf->f.id = pool_uuid(r->pool);
        it = pool_ingest_add(r->pool, &in, bc->pool, bf->f.id, bf->sp,
                             "file");
        /* measured and checked as the part ended (errors name the part) */
        it->size = bf->f.size;
        it->sha256_hex = bf->f.sha256;
        bf->sp = NULL;
        APR_ARRAY_PUSH(mb.in, pool_file_t *) = &bf->f;
    }
    in.record = op_insert_many;
    in.lookup = op_found_many;
    in.refused = batch_refused;
    in.baton = &mb;
    if (!pool_ingest_commit(r->pool, &in, &pr)) {
        return pool_problem_send(r, &pr);
    }
    arr = json_array();
    for (i = 0; i < mb.out->nelts; i++) {
        json_array_append_new(arr, pool_json_file(r->pool,
                              APR_ARRAY_IDX(mb.out, i, pool_file_t *)));
    }
    j = json_object();
    json_object_set_new(j, "files", arr);
    return pool_send_json(r, HTTP_CREATED, j);
}

/* --------------------------------------------------------------- handler */

int pool_handle_batch(request_rec *r, pool_principal *who, const char *pool)
{
    pool_srv_conf *sc = pool_srv(r->server);
    pool_mp_limits_t limits;
    const char *boundary, *why, *cl;
    batch_ctx bc;
    int is_form, status;
    pool_mp_rc rc;

    if (!role_may_upload(who->role)) {
        return pool_problem(r, HTTP_FORBIDDEN, apr_psprintf(r->pool,
                            "the %s role may not upload files", who->role),
                            NULL);
    }
    why = pool_mp_form_boundary(r->pool, apr_table_get(r->headers_in,
                                                       "Content-Type"),
                                &boundary, &is_form);
    if (!is_form) {
        return pool_problem(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                            "a batch is sent as multipart/form-data, one part "
                            "per file; upload a single file with PUT to "
                            "files/{name}", NULL);
    }
    if (why) {
        return pool_problem(r, HTTP_BAD_REQUEST, apr_pstrcat(r->pool,
                            "malformed multipart/form-data Content-Type: ",
                            why, NULL), NULL);
    }
    if (!sc->store) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "storage not configured", NULL);
    }
    memset(&bc, 0, sizeof(bc));
    bc.r = r;
    bc.sc = sc;
    bc.st = sc->store;
    bc.who = who;
    bc.pool = pool;
    bc.part = -1;
    bc.err_part = -1;
    bc.max_batch = pool_conf_max_batch(&sc->conf);
    bc.files = apr_array_make(r->pool, 8, sizeof(batch_file *));
    cl = apr_table_get(r->headers_in, "Content-Length");
    if (cl) {
        apr_off_t n;
        if (apr_strtoff(&n, cl, NULL, 10) == APR_SUCCESS && n > bc.max_batch) {
            r->connection->keepalive = AP_CONN_CLOSE;
            refuse(&bc, HTTP_REQUEST_ENTITY_TOO_LARGE, NULL, "the batch is "
                   "larger than the limit of %" APR_OFF_T_FMT " bytes "
                   "(PoolMaxBatchSize)", bc.max_batch);
            return answer_refusal(&bc);
        }
    }
    memset(&limits, 0, sizeof(limits));
    limits.max_header_bytes = BATCH_HEADER_MAX;
    limits.max_parts = BATCH_MAX_PARTS;
    bc.mp = pool_mp_create(r->pool, boundary, &limits, &batch_callbacks, &bc);

    status = pool_read_body(r, batch_sink, &bc);
    if (status == OK) {
        rc = pool_mp_finish(bc.mp);
        if (rc != POOL_MP_OK) {
            if (rc != POOL_MP_ABORTED) {
                parser_refusal(&bc, rc);
            }
        }
    }
    else {
        /* the rest of the body is not read: the connection cannot be
         * used for another request */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (status == OK && !bc.status) {
        if (bc.files->nelts == 0) {
            bc.part = -1;
            refuse(&bc, HTTP_UNPROCESSABLE_ENTITY, "files", "the batch holds "
                   "no file part (parts with name=\"file\" and a filename)");
        }
        else if (bc.have_manifest && bc.nentries != bc.files->nelts) {
            bc.part = 0;
            refuse(&bc, HTTP_UNPROCESSABLE_ENTITY, "manifest.files",
                   "the manifest lists %d file%s but the body holds %d",
                   bc.nentries, bc.nentries == 1 ? "" : "s",
                   bc.files->nelts);
        }
    }
    if (status == OK && !bc.status) {
        return store_all(&bc);
    }
    discard(&bc);
    if (bc.status) {
        return answer_refusal(&bc);
    }
    /* the body itself did not arrive: client gone, timeout, bad chunking */
    if (status == AP_FILTER_ERROR || r->connection->aborted) {
        return status;
    }
    if (status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return pool_problem(r, status, "the request body is larger than "
                            "this server accepts (LimitRequestBody); nothing "
                            "was stored", NULL);
    }
    return pool_problem(r, status, "the request body was not received "
                        "completely; nothing was stored", NULL);
}
