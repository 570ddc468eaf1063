/* Links for clients (docs/api.md, "Links for clients"): a client makes a
 * signed URL for someone without credentials, to download one file
 * (POST .../files/{id}/links) or to upload one file as that client
 * (POST .../upload-links); lists, reads and revokes its links
 * (.../links[/{id}]); and the requests made through them are served here
 * (GET/HEAD of the file, one PUT of the name), after mod_pool.c has
 * checked their signature. */
#include <errno.h>

#include <jansson.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>

#include "mod_pool.h"
#include "pool_clientlinks.h"
#include "pool_digest.h"
#include "pool_fields.h"
#include "pool_json.h"
#include "pool_link.h"
#include "pool_util.h"

#define LINK_BODY_MAX   (4 * 1024)
#define LIST_DEFAULT    100
#define DOWNLOADS_MAX   1000000

static int is_admin(const pool_principal *who)
{
    return !strcmp(who->role, "admin");
}

const char *pool_public_base(request_rec *r)
{
    const char *base = pool_srv(r->server)->conf.public_url;
    apr_size_t n;

    if (!base) {
        base = ap_construct_url(r->pool, "", r);
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    return apr_pstrmemdup(r->pool, base, n);
}

const char *pool_link_canon_path(apr_pool_t *p, const char *path)
{
    /* httpd's own path escaping (partial: '/' stays), which also makes a
     * path printable ASCII without '?' or '#' */
    return ap_os_escape_path(p, path, 1);
}

/* The absolute URL of link l: its path (the file's, or the upload's
 * name) signed for method; NULL with *err. */
static const char *link_url(request_rec *r, const pool_clientlink_t *l,
                            const char *method, apr_int64_t now,
                            const char **err)
{
    const char *path, *q;

    path = pool_link_canon_path(r->pool, apr_pstrcat(r->pool,
                                pool_dir_prefix(r), "/v1/pools/", l->pool,
                                "/files/", l->file_id ? l->file_id : l->name,
                                NULL));
    q = pool_link_sign_client(r->pool, pool_srv(r->server)->keys, method,
                              path, l->id, l->expires, now, err);
    return q ? apr_pstrcat(r->pool, pool_public_base(r), path, "?", q, NULL)
             : NULL;
}

/* ------------------------------------------------------- making links */

static int bad_field(request_rec *r, const char *field, const char *why)
{
    return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                        apr_psprintf(r->pool, "%s: %s", field, why), field);
}

/* Member key of j as an integer from min to max: 0 with *v (def when it
 * is absent or null), else 1 with a 422 answered. */
static int int_member(request_rec *r, json_t *j, const char *key,
                      json_int_t min, json_int_t max, json_int_t def,
                      json_int_t *v)
{
    json_t *m = json_object_get(j, key);

    *v = def;
    if (!m || json_is_null(m)) {
        return 0;
    }
    if (!json_is_integer(m) || json_integer_value(m) < min
        || json_integer_value(m) > max) {
        bad_field(r, key, apr_psprintf(r->pool, "must be an integer from %"
                                       JSON_INTEGER_FORMAT " to %"
                                       JSON_INTEGER_FORMAT, min, max));
        return 1;
    }
    *v = json_integer_value(m);
    return 0;
}

typedef struct {
    pool_clientlink_t in;
    pool_clientlink_t *link;
    int no_file;
} create_baton;

static pool_db_rc op_create(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    create_baton *cb = b;
    pool_db_rc rc;

    /* the rule of GET .../files/{id}: a file of the caller's pool */
    if (cb->in.file_id) {
        rc = pool_db_file_get(p, c, cb->in.pool, cb->in.file_id, NULL, err);
        if (rc != POOL_DB_OK) {
            cb->no_file = rc == POOL_DB_NOTFOUND;
            return rc;
        }
    }
    return pool_clientlink_create(p, c, &cb->in, &cb->link, err);
}

/* Stores cb->in (its id, pool, creator and expiry set here) and answers
 * 201 with the link and its URL for method. */
static int create(request_rec *r, pool_principal *who, const char *pool,
                  create_baton *cb, json_int_t expires_in, const char *method)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *err, *url;
    json_t *j;
    pool_db_rc rc;

    if (!pool_srv(r->server)->keys) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, "links cannot be "
                            "signed here (no PoolKeyFile)", NULL);
    }
    cb->in.id = pool_uuid(r->pool);
    cb->in.pool = pool;
    cb->in.client_id = who->client_id;
    cb->in.expires = now + (apr_int64_t)expires_in;
    rc = pool_db_run(r, op_create, cb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, cb->no_file ? "no such file"
                            : "no such pool", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "link");
    }
    /* signed with the time the expiry was computed from */
    url = link_url(r, cb->link, method, now, &err);
    if (!url) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, err, NULL);
    }
    j = pool_clientlink_json(cb->link, now);
    json_object_set_new(j, "url", json_string(url));
    apr_table_setn(r->headers_out, "Location",
                   apr_psprintf(r->pool, "%s/v1/pools/%s/links/%s",
                                pool_dir_prefix(r), pool, cb->link->id));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_CREATED, j);
}

int pool_handle_file_links(request_rec *r, pool_principal *who,
                           const char *pool, const char *file_id)
{
    static const char *const names[] = { "expires_in", "max_downloads",
                                         NULL };
    create_baton cb;
    json_int_t expires_in, max_downloads;
    json_t *j;
    int st;

    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "links to a file "
                            "are made with POST; list them at .../links",
                            NULL);
    }
    if (!pool_uuid_valid(file_id)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such file", NULL);
    }
    if ((st = pool_read_json(r, LINK_BODY_MAX, &j)) != OK || !j) {
        return st;
    }
    if ((st = pool_json_fields_check(r, j, names)) != DECLINED) {
        return st;
    }
    memset(&cb, 0, sizeof(cb));
    if (int_member(r, j, "expires_in", 1, POOL_LINK_MAX_LIFETIME,
                   POOL_CLIENTLINK_LIFETIME_DEFAULT, &expires_in)
        || int_member(r, j, "max_downloads", 1, DOWNLOADS_MAX, 0,
                      &max_downloads)) {
        return OK;              /* answered */
    }
    cb.in.kind = "download";
    cb.in.file_id = file_id;
    cb.in.max_downloads = (int)max_downloads;
    return create(r, who, pool, &cb, expires_in, "GET");
}

/* The members of an upload link's body into cb->in: 0, else 1 with a 422
 * answered. */
static int upload_members(request_rec *r, json_t *j, create_baton *cb,
                          json_int_t *expires_in)
{
    apr_off_t limit = pool_srv(r->server)->conf.max_file_size;
    json_t *name = json_object_get(j, "name");
    json_t *folder = json_object_get(j, "folder");
    json_t *ts = json_object_get(j, "ts");
    const char *why, *field, *ts_s = NULL;
    pool_file_fields_t fields;
    json_int_t max_size;

    if (!json_is_string(name)) {
        bad_field(r, "name", "is required, a string");
        return 1;
    }
    if (ts && json_is_string(ts)) {
        ts_s = json_string_value(ts);
    }
    else if (ts && json_is_integer(ts) && json_integer_value(ts) >= 0) {
        ts_s = apr_psprintf(r->pool, "%" JSON_INTEGER_FORMAT,
                            json_integer_value(ts));
    }
    else if (ts && !json_is_null(ts)) {
        bad_field(r, "ts", "must be an RFC 3339 string or Unix seconds");
        return 1;
    }
    /* the checks of every way of uploading */
    why = pool_fields_check(r->pool, json_string_value(name),
                            json_string_length(name), ts_s, NULL, &fields,
                            &field);
    if (why) {
        pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, field);
        return 1;
    }
    if (folder && !json_is_null(folder)
        && (!json_is_string(folder)
            || (why = pool_folder_check(r->pool, json_string_value(folder),
                                        json_string_length(folder),
                                        &cb->in.folder)) != NULL)) {
        bad_field(r, "folder", why ? why : "must be a string");
        return 1;
    }
    if (!json_object_get(j, "max_size")) {
        bad_field(r, "max_size", "is required (bytes, at most the server's "
                  "upload limit)");
        return 1;
    }
    if (int_member(r, j, "max_size", 1, limit, 0, &max_size)
        || int_member(r, j, "expires_in", 1, POOL_LINK_MAX_LIFETIME,
                      POOL_CLIENTLINK_LIFETIME_DEFAULT, expires_in)) {
        return 1;
    }
    cb->in.name = fields.name;
    cb->in.has_ts = ts_s != NULL;
    cb->in.ts = fields.ts;
    cb->in.max_size = (apr_off_t)max_size;
    return 0;
}

int pool_handle_upload_links(request_rec *r, pool_principal *who,
                             const char *pool, const char *rest)
{
    static const char *const names[] = { "name", "folder", "ts", "max_size",
                                         "expires_in", NULL };
    create_baton cb;
    json_int_t expires_in;
    json_t *j;
    int st;

    if (rest) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource: upload "
                            "links are read at .../links/{id}", NULL);
    }
    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "upload links are "
                            "made with POST", NULL);
    }
    if (strcmp(who->role, "uploader") && !is_admin(who)) {
        return pool_problem(r, HTTP_FORBIDDEN, apr_psprintf(r->pool,
                            "the %s role may not upload files", who->role),
                            NULL);
    }
    if ((st = pool_read_json(r, LINK_BODY_MAX, &j)) != OK || !j) {
        return st;
    }
    if ((st = pool_json_fields_check(r, j, names)) != DECLINED) {
        return st;
    }
    memset(&cb, 0, sizeof(cb));
    if (upload_members(r, j, &cb, &expires_in)) {
        return OK;              /* answered */
    }
    cb.in.kind = "upload";
    return create(r, who, pool, &cb, expires_in, "PUT");
}

/* ------------------------------------------------ listing and revoking */

typedef struct {
    const char *pool, *id, *client;
    apr_int64_t after;
    int limit;
    pool_clientlink_t *link;
    apr_array_header_t *rows;
} links_baton;

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    links_baton *lb = b;

    return pool_clientlink_list(p, c, lb->pool, lb->client, lb->after,
                                lb->limit, &lb->rows, err);
}

static pool_db_rc op_show(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    links_baton *lb = b;
    pool_db_rc rc = pool_clientlink_get(p, c, lb->pool, lb->id, &lb->link,
                                        err);

    /* another client's link is not there for the caller */
    if (rc == POOL_DB_OK && lb->client
        && strcmp(lb->link->client_id, lb->client)) {
        return POOL_DB_NOTFOUND;
    }
    return rc != POOL_DB_OK ? rc
           : pool_clientlink_uses(p, c, lb->id, &lb->rows, err);
}

static pool_db_rc op_revoke(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    links_baton *lb = b;

    return pool_clientlink_revoke(p, c, lb->pool, lb->id, lb->client, err);
}

/* ?client=&after=&limit=: 0, else 1 with the problem answered. */
static int list_args(request_rec *r, pool_principal *who, links_baton *lb)
{
    apr_table_t *args;
    const char *v;
    long n;

    if (pool_query(r, &args) != OK) {
        return 1;
    }
    lb->limit = LIST_DEFAULT;
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, POOL_CLIENTLINK_LIST_MAX, &n) != 0) {
            bad_field(r, "limit", apr_psprintf(r->pool, "must be an integer "
                      "from 1 to %d", POOL_CLIENTLINK_LIST_MAX));
            return 1;
        }
        lb->limit = (int)n;
    }
    if ((v = apr_table_get(args, "after")) != NULL) {
        char *end;

        errno = 0;
        lb->after = apr_strtoi64(v, &end, 10);
        if (!apr_isdigit(*v) || *end || errno || lb->after < 0) {
            bad_field(r, "after", "must be a cursor from a previous "
                      "listing's \"next\"");
            return 1;
        }
    }
    /* a client lists its own links; an admin the pool's, or a client's */
    lb->client = is_admin(who) ? apr_table_get(args, "client")
                               : who->client_id;
    if (!is_admin(who) && (v = apr_table_get(args, "client")) != NULL
        && strcmp(v, who->client_id)) {
        pool_problem(r, HTTP_FORBIDDEN, "only the pool's admins list other "
                     "clients' links", NULL);
        return 1;
    }
    return 0;
}

static int list(request_rec *r, pool_principal *who, const char *pool)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    links_baton lb;
    const char *err;
    json_t *arr, *j;
    pool_db_rc rc;
    int i;

    memset(&lb, 0, sizeof(lb));
    lb.pool = pool;
    if (list_args(r, who, &lb)) {
        return OK;              /* answered */
    }
    rc = pool_db_run(r, op_list, &lb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "link");
    }
    arr = json_array();
    for (i = 0; i < lb.rows->nelts; i++) {
        json_array_append_new(arr, pool_clientlink_json(
            APR_ARRAY_IDX(lb.rows, i, pool_clientlink_t *), now));
    }
    j = json_object();
    json_object_set_new(j, "links", arr);
    json_object_set_new(j, "next", lb.rows->nelts == lb.limit
        ? json_string(apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
              APR_ARRAY_IDX(lb.rows, lb.rows->nelts - 1,
                            pool_clientlink_t *)->seq))
        : json_null());
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, j);
}

static int show(request_rec *r, links_baton *lb)
{
    const char *err;
    json_t *j, *uses;
    pool_db_rc rc;
    int i;

    rc = pool_db_run(r, op_show, lb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "link");
    }
    j = pool_clientlink_json(lb->link, apr_time_sec(apr_time_now()));
    uses = json_array();
    for (i = 0; i < lb->rows->nelts; i++) {
        json_array_append_new(uses, pool_clientlink_use_json(
            APR_ARRAY_IDX(lb->rows, i, pool_clientlink_use_t *)));
    }
    json_object_set_new(j, "uses", uses);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, j);
}

int pool_handle_links(request_rec *r, pool_principal *who, const char *pool,
                      const char *rest)
{
    links_baton lb;
    const char *err;
    pool_db_rc rc;

    if (!rest) {
        if (r->method_number == M_GET) {
            return list(r, who, pool);
        }
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "links are listed "
                            "with GET; made with POST .../files/{id}/links "
                            "or .../upload-links", NULL);
    }
    memset(&lb, 0, sizeof(lb));
    lb.pool = pool;
    lb.id = rest;
    lb.client = is_admin(who) ? NULL : who->client_id;
    if (!pool_uuid_valid(rest)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such link", NULL);
    }
    if (r->method_number == M_GET) {
        return show(r, &lb);
    }
    if (r->method_number != M_DELETE) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, DELETE");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "a link is read with "
                            "GET and revoked with DELETE", NULL);
    }
    rc = pool_db_run(r, op_revoke, &lb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "link");
    }
    r->status = HTTP_NO_CONTENT;
    return OK;
}

/* ---------------------------------------- requests through the links */

/* A link that admits nothing: 410 (it will never work again), or 409 (an
 * upload through it is in progress). */
static int refused(request_rec *r, pool_db_rc rc, const char *err)
{
    if (rc == POOL_DB_NOTFOUND || rc == POOL_DB_REFUSED) {
        return pool_problem(r, HTTP_GONE, err, NULL);
    }
    if (rc == POOL_DB_CONFLICT) {
        return pool_problem(r, HTTP_CONFLICT, err, NULL);
    }
    return pool_db_problem(r, rc, err, "link");
}

typedef struct {
    const char *pool, *id, *token, *file_id;
    int count;
    pool_clientlink_t *link;
    pool_file_t *file;
    pool_clientlink_use_t use;
    int refund;
} through_baton;

static pool_db_rc op_admit(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    through_baton *tb = b;
    pool_db_rc rc = pool_clientlink_admit(p, c, tb->pool, tb->id, tb->count,
                                          &tb->link, err);

    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = pool_db_file_get(p, c, tb->pool, tb->link->file_id, &tb->file, err);
    if (rc == POOL_DB_NOTFOUND) {
        *err = "the file of this link was removed";
    }
    return rc;
}

/* After a request through a link: its use recorded (a GET the server
 * failed gives its download back); the upload's claim settled. */
static pool_db_rc op_used(apr_pool_t *p, PGconn *c, void *b,
                          const char **err)
{
    through_baton *tb = b;
    pool_db_rc rc = POOL_DB_OK;

    if (tb->refund) {
        rc = pool_clientlink_refund(p, c, tb->id, err);
    }
    if (rc == POOL_DB_OK && tb->token) {
        rc = pool_clientlink_settle(p, c, tb->id, tb->token, tb->file_id,
                                    err);
        if (rc == POOL_DB_CONFLICT) {
            pool_clientlink_use(p, c, tb->id, &tb->use, err);
            return rc;
        }
    }
    return rc != POOL_DB_OK ? rc : pool_clientlink_use(p, c, tb->id,
                                                       &tb->use, err);
}

/* Records the use (status: what the handler returned). */
static void used(request_rec *r, through_baton *tb, int status,
                 apr_off_t received)
{
    const char *err;
    pool_db_rc rc;

    tb->use.method = r->method;
    tb->use.remote_addr = r->useragent_ip;
    /* a problem answered returns OK with its status in r->status */
    tb->use.status = status >= 100 && status < 600 ? status : r->status;
    tb->use.bytes_sent = r->bytes_sent;
    tb->use.bytes_received = received;
    tb->refund = tb->count && tb->use.status >= 500;
    rc = pool_db_run(r, op_used, tb, &err);
    if (rc == POOL_DB_CONFLICT) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "pool: upload link %s "
                      "stored file %s after its claim was lost (another "
                      "upload may have used the link too)", tb->id,
                      tb->file_id);
    }
    else if (rc != POOL_DB_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "pool: link %s: its "
                      "use was not recorded: %s", tb->id, err);
    }
}

int pool_link_download(request_rec *r, const char *pool, const char *link_id,
                       const char *file_id)
{
    through_baton tb;
    const char *err;
    pool_db_rc rc;
    int status;

    memset(&tb, 0, sizeof(tb));
    tb.pool = pool;
    tb.id = link_id;
    tb.count = !r->header_only;         /* every GET counts, HEAD does not */
    rc = pool_db_run(r, op_admit, &tb, &err);
    if (rc != POOL_DB_OK) {
        return refused(r, rc, err);
    }
    if (strcmp(tb.link->file_id, file_id)) {
        /* the signature covers both: only a forged link gets here */
        return pool_problem(r, HTTP_FORBIDDEN, "a link is valid only for "
                            "the request it was made for", NULL);
    }
    status = pool_send_object(r, pool, pool, tb.file->id, tb.file->size,
                              tb.file->received_at, tb.file->content_type,
                              tb.file->sha256, tb.file->name, "file", NULL);
    if (tb.count) {
        used(r, &tb, status, 0);
    }
    return status;
}

static pool_db_rc op_claim(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    through_baton *tb = b;

    return pool_clientlink_claim(p, c, tb->pool, tb->id, tb->token,
                                 &tb->link, err);
}

static pool_db_rc op_renew(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    through_baton *tb = b;

    return pool_clientlink_renew(p, c, tb->pool, tb->id, tb->token, err);
}

/* What a PUT through link l must have before its body is read: 0, else 1
 * with the problem answered.  Fills *fields, *want and *have_digest. */
static int upload_checks(request_rec *r, const pool_clientlink_t *l,
                         const char *too_big, pool_file_fields_t *fields,
                         unsigned char *want, int *have_digest)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *why, *field, *digest_h;
    apr_off_t n;

    if (cl && apr_strtoff(&n, cl, NULL, 10) == APR_SUCCESS
        && n > l->max_size) {
        r->connection->keepalive = AP_CONN_CLOSE;
        pool_problem(r, HTTP_REQUEST_ENTITY_TOO_LARGE, too_big, NULL);
        return 1;
    }
    why = pool_fields_check(r->pool, l->name, strlen(l->name), NULL,
                            apr_table_get(r->headers_in, "Content-Type"),
                            fields, &field);
    if (why) {
        pool_problem(r, !strcmp(field, "content_type")
                     ? HTTP_UNSUPPORTED_MEDIA_TYPE
                     : HTTP_UNPROCESSABLE_ENTITY, why, field);
        return 1;
    }
    digest_h = apr_table_get(r->headers_in, "Content-Digest");
    if (digest_h && (*have_digest = pool_parse_content_digest(r->pool,
                                                              digest_h,
                                                              want)) < 0) {
        pool_problem(r, HTTP_BAD_REQUEST, "malformed Content-Digest: "
                     "expected sha-256=:<base64 of 32 bytes>:", NULL);
        return 1;
    }
    if (!pool_srv(r->server)->store) {
        pool_problem(r, HTTP_INTERNAL_SERVER_ERROR, "storage not configured",
                     NULL);
        return 1;
    }
    return 0;
}

/* The body of a PUT through link tb->link (claimed with tb->token),
 * recorded as a file of its creator: 1 with *out, else 0 with the problem
 * answered and *ret the handler's status.  *received: the bytes spooled. */
static int link_receive(request_rec *r, through_baton *tb, pool_file_t **out,
                        apr_off_t *received, int *ret)
{
    const pool_clientlink_t *l = tb->link;
    pool_store_t *st = pool_srv(r->server)->store;
    const char *too_big = apr_psprintf(r->pool, "the file is larger than "
                                       "this link's max_size of %"
                                       APR_OFF_T_FMT " bytes", l->max_size);
    const char *err;
    pool_file_fields_t fields;
    unsigned char want[32];
    int have_digest = 0;
    pool_spool_t *sp;
    pool_problem_t pr;
    pool_file_t f;
    pool_db_rc rc;

    *received = 0;
    *ret = OK;
    if (upload_checks(r, l, too_big, &fields, want, &have_digest)) {
        return 0;
    }
    /* the body as every PUT receives it (PoolMaxFileSize), then the
     * link's own limit */
    if (!pool_receive_spool(r, "file", &sp, ret)) {
        return 0;
    }
    *received = pool_spool_size(sp);
    if (*received > l->max_size) {
        st->ops->spool_abort(sp);
        r->connection->keepalive = AP_CONN_CLOSE;
        *ret = pool_problem(r, HTTP_REQUEST_ENTITY_TOO_LARGE, too_big, NULL);
        return 0;
    }
    rc = pool_db_run(r, op_renew, tb, &err);
    if (rc != POOL_DB_OK) {
        st->ops->spool_abort(sp);
        *ret = refused(r, rc, err);
        return 0;
    }
    memset(&f, 0, sizeof(f));
    f.pool = l->pool;
    f.client_id = l->client_id;         /* as its creator */
    f.name = l->name;
    f.content_type = fields.content_type;
    f.ts = l->has_ts ? l->ts : fields.ts;
    f.folder = l->folder;
    if (!pool_file_commit(r, sp, have_digest == 1 ? want : NULL, &f, out,
                          &pr)) {
        *ret = pool_problem_send(r, &pr);
        return 0;
    }
    return 1;
}

int pool_link_upload(request_rec *r, const char *pool, const char *link_id,
                     const char *name)
{
    through_baton tb;
    pool_file_t *out = NULL;
    const char *err;
    apr_off_t received = 0;
    pool_db_rc rc;
    int ok = 0, status;

    memset(&tb, 0, sizeof(tb));
    tb.pool = pool;
    tb.id = link_id;
    tb.token = pool_uuid(r->pool);
    rc = pool_db_run(r, op_claim, &tb, &err);
    if (rc != POOL_DB_OK) {
        return refused(r, rc, err);
    }
    if (strcmp(name, tb.link->name)) {
        /* the signature covers both: only a forged link gets here */
        status = pool_problem(r, HTTP_FORBIDDEN, "a link is valid only for "
                              "the request it was made for", NULL);
    }
    else {
        ok = link_receive(r, &tb, &out, &received, &status);
    }
    /* settled before the answer: a PUT after this one finds it used */
    tb.file_id = ok ? out->id : NULL;
    used(r, &tb, ok ? HTTP_CREATED : status, received);
    if (!ok) {
        return status;
    }
    return pool_send_json(r, HTTP_CREATED, pool_json_file(r->pool, out));
}
