/* The WebDAV view's repository hooks: resources of the pool's tree
 * (lib/pool_view.h), PUT through the one ingest path, MKCOL, DELETE, MOVE,
 * COPY and walks.  GET and HEAD of a file are answered before mod_dav, by
 * pool_dav_get (Range, conditional GET, sendfile, as the API's download);
 * mod_dav's GET only lists folders. */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>

#include "pool_dav.h"
#include "pool_digest.h"
#include "pool_fields.h"
#include "pool_name.h"
#include "pool_util.h"

/* ------------------------------------------------------------ resources */

typedef struct {
    const char *pool;
    const char *path;
    pool_view_entry_t *e;
} lookup_baton;

static pool_db_rc op_lookup(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    lookup_baton *lb = b;

    return pool_view_locate(p, c, lb->pool, lb->path, &lb->e, err);
}

dav_error *pool_dav_error(request_rec *r, int status, const char *msg)
{
    dav_error *err;

    if (status >= 500) {
        /* logged here: the sample config quiets mod_dav's own log */
        ap_log_rerror(APLOG_MARK, status == HTTP_SERVICE_UNAVAILABLE
                      ? APLOG_WARNING : APLOG_ERR, 0, r,
                      "pool: WebDAV %d: %s", status, msg ? msg : "");
        return dav_new_error(r->pool, status, 0, 0, msg);
    }
    /* the client's doing: said in the answer, logged at info (mod_dav logs
     * a description at error level) */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "pool: WebDAV %d: %s",
                  status, msg ? msg : "");
    if (!msg) {
        return dav_new_error(r->pool, status, 0, 0, NULL);
    }
    err = dav_new_error_tag(r->pool, status, 0, 0, NULL, POOL_DAV_NS,
                            "problem");
    err->childtags = apr_xml_quote_string(r->pool, msg, 0);
    return err;
}

dav_error *pool_dav_db_error(request_rec *r, pool_db_rc rc, const char *err,
                             const char *what)
{
    pool_problem_t pr;

    pool_problem_db(r->pool, &pr, rc, err, what);
    if (pr.log) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "pool: %s", pr.log);
    }
    if (pr.retry_after) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, pr.retry_after));
    }
    if (rc == POOL_DB_CLASH || rc == POOL_DB_CONFLICT
        || rc == POOL_DB_NOTFOUND) {
        /* the view's own words say what is in the way */
        pr.detail = err ? err : pr.detail;
    }
    return pool_dav_error(r, pr.status, pr.detail);
}

static const char *resource_uri(apr_pool_t *p, const char *prefix,
                                const char *pool, const char *path)
{
    if (!pool) {
        return apr_pstrcat(p, prefix, "/", NULL);
    }
    return apr_pstrcat(p, prefix, "/", pool, strcmp(path, "/") ? path : "",
                       NULL);
}

/* A resource of r for path in pool (e: what is there), allocated in p. */
static dav_resource *resource_in(apr_pool_t *p, request_rec *r,
                                 const char *prefix, const char *pool,
                                 const char *path, pool_view_entry_t *e)
{
    dav_resource *res = apr_pcalloc(p, sizeof(*res));
    dav_resource_private *info = apr_pcalloc(p, sizeof(*info));

    info->r = r;
    info->prefix = prefix;
    info->pool = pool;
    info->path = path;
    info->e = e;
    res->type = DAV_RESOURCE_TYPE_REGULAR;
    res->info = info;
    res->hooks = &pool_dav_hooks_repository;
    res->pool = p;
    res->uri = resource_uri(p, prefix, pool, path);
    /* the top (/dav/ itself) exists and lists nothing */
    res->exists = !pool || e != NULL;
    res->collection = !pool || (e && (e->kind == POOL_VIEW_FOLDER
                                      || e->kind == POOL_VIEW_RESULTS_FOLDER));
    return res;
}

static dav_resource *new_resource(request_rec *r, const char *prefix,
                                  const char *pool, const char *path,
                                  pool_view_entry_t *e)
{
    return resource_in(r->pool, r, prefix, pool, path, e);
}

/* A method that only reads may ask for any name (and gets a 404); one that
 * writes is told what is wrong with it. */
static int method_reads(request_rec *r)
{
    return r->method_number == M_GET || r->method_number == M_OPTIONS
        || r->method_number == M_PROPFIND || r->header_only;
}

typedef struct {
    const char *pool;
    const char *path;
    pool_view_locate_t loc;
} locate_baton;

static pool_db_rc op_locate_for_write(apr_pool_t *p, PGconn *c, void *b,
                                      const char **err)
{
    locate_baton *lb = b;

    return pool_view_locate_for_write(p, c, lb->pool, lb->path, &lb->loc,
                                      err);
}

/* A write looks up its resource, the parent (which mod_dav asks for next)
 * and whether the pool has locks at all in one statement; without locks,
 * the lock hooks need not read them. */
static dav_error *resource_for_write(request_rec *r, const char *prefix,
                                     const char *pool, const char *path,
                                     dav_resource **out)
{
    locate_baton lb;
    const char *err;
    pool_db_rc rc;
    dav_resource *res;

    lb.pool = pool;
    lb.path = path;
    rc = pool_db_run(r, op_locate_for_write, &lb, &err);
    if (rc != POOL_DB_OK) {
        return pool_dav_db_error(r, rc, err, "resource");
    }
    res = new_resource(r, prefix, pool, path, lb.loc.e);
    if (strcmp(path, "/")) {
        res->info->parent = new_resource(r, prefix, pool,
                                         pool_view_parent(r->pool, path),
                                         lb.loc.parent);
    }
    if (!lb.loc.locks) {
        pool_dav_locks_none(r, pool);
    }
    *out = res;
    return NULL;
}

dav_error *pool_dav_resource(request_rec *r, const char *prefix,
                             const char *pool, const char *path,
                             dav_resource **out)
{
    lookup_baton lb;
    const char *err;
    pool_db_rc rc;

    lb.pool = pool;
    lb.path = path;
    lb.e = NULL;
    rc = pool_db_run(r, op_lookup, &lb, &err);
    if (rc != POOL_DB_OK && rc != POOL_DB_NOTFOUND) {
        return pool_dav_db_error(r, rc, err, "resource");
    }
    *out = new_resource(r, prefix, pool, path, rc == POOL_DB_OK ? lb.e : NULL);
    return NULL;
}


static dav_error *get_resource(request_rec *r, const char *root_dir,
                               const char *label, int use_checked_in,
                               dav_resource **out)
{
    apr_size_t n = strlen(root_dir);
    const char *rest, *slash, *pool, *path, *why;

    (void)label;
    (void)use_checked_in;
    while (n > 0 && root_dir[n - 1] == '/') {
        n--;
    }
    if (strncmp(r->uri, root_dir, n)) {
        return pool_dav_error(r, HTTP_INTERNAL_SERVER_ERROR,
                              "the request is not under the Dav location");
    }
    root_dir = apr_pstrmemdup(r->pool, root_dir, n);
    rest = r->uri + n;
    while (*rest == '/') {
        rest++;
    }
    if (!*rest) {
        *out = new_resource(r, root_dir, NULL, "/", NULL);
        return NULL;
    }
    slash = strchr(rest, '/');
    pool = slash ? apr_pstrmemdup(r->pool, rest, slash - rest) : rest;
    if (pool_ident_check(pool)
        || pool_view_path_check(r->pool, slash ? slash : "/", &path)) {
        if (method_reads(r)) {
            *out = new_resource(r, root_dir, pool, "/-", NULL);
            (*out)->uri = r->uri;
            return NULL;
        }
        why = pool_ident_check(pool);
        if (!why) {
            why = pool_view_path_check(r->pool, slash, &path);
        }
        return pool_dav_error(r, HTTP_BAD_REQUEST,
                              apr_psprintf(r->pool, "bad name: %s", why));
    }
    if (!method_reads(r)) {
        return resource_for_write(r, root_dir, pool, path, out);
    }
    return pool_dav_resource(r, root_dir, pool, path, out);
}

static dav_error *get_parent_resource(const dav_resource *res,
                                      dav_resource **parent)
{
    dav_resource_private *info = res->info;
    const char *pp;
    dav_error *err;

    if (!info->pool || !strcmp(info->path, "/")) {
        *parent = NULL;
        return NULL;
    }
    if (info->parent) {
        *parent = info->parent;
        return NULL;
    }
    pp = pool_view_parent(info->r->pool, info->path);
    err = pool_dav_resource(info->r, info->prefix, info->pool, pp, parent);
    if (!err) {
        info->parent = *parent;
    }
    return err;
}

static int is_same_resource(const dav_resource *a, const dav_resource *b)
{
    if (a->hooks != b->hooks || !a->info->pool || !b->info->pool) {
        return a->hooks == b->hooks && !a->info->pool && !b->info->pool;
    }
    return !strcmp(a->info->pool, b->info->pool)
        && !strcmp(a->info->path, b->info->path);
}

static int is_parent_resource(const dav_resource *a, const dav_resource *b)
{
    apr_size_t n;

    if (a->hooks != b->hooks || !b->info->pool) {
        return 0;
    }
    if (!a->info->pool) {
        return 1;               /* the top holds every pool */
    }
    if (strcmp(a->info->pool, b->info->pool)) {
        return 0;
    }
    if (!strcmp(a->info->path, "/")) {
        return strcmp(b->info->path, "/") != 0;
    }
    n = strlen(a->info->path);
    return !strncmp(a->info->path, b->info->path, n)
           && b->info->path[n] == '/';
}

int pool_dav_may_write(request_rec *r)
{
    pool_client_t *client = NULL;

    if (pool_auth_client(r, &client) != POOL_DB_OK || client->disabled) {
        return 0;
    }
    return !strcmp(client->role, "uploader") || !strcmp(client->role, "admin");
}

static int in_results(const char *path)
{
    return !strcmp(path, POOL_VIEW_RESULTS)
        || !strncmp(path, POOL_VIEW_RESULTS "/", sizeof(POOL_VIEW_RESULTS));
}

/* Writes need a writing role, a pool, and a place outside results/. */
static dav_error *check_write(const dav_resource *res)
{
    dav_resource_private *info = res->info;
    request_rec *r = info->r;

    if (!pool_dav_may_write(r)) {
        return pool_dav_error(r, HTTP_FORBIDDEN,
                              "this client's role may only read");
    }
    if (!info->pool) {
        return pool_dav_error(r, HTTP_FORBIDDEN,
                              "nothing can be written here; write in a pool");
    }
    if (in_results(info->path)) {
        return pool_dav_error(r, HTTP_FORBIDDEN, "results/ is read-only");
    }
    return NULL;
}

/* ------------------------------------------------------- PUT (streams) */

struct dav_stream {
    const dav_resource *res;
    request_rec *r;
    pool_store_t *st;
    pool_spool_t *sp;
    apr_off_t written;
    apr_off_t max;
};

static apr_status_t stream_cleanup(void *data)
{
    dav_stream *s = data;

    if (s->sp) {
        s->st->ops->spool_abort(s->sp);
        s->sp = NULL;
    }
    return APR_SUCCESS;
}

static dav_error *store_error(request_rec *r, apr_status_t rv,
                              const char *action)
{
    pool_problem_t pr;

    pool_problem_store(r->pool, &pr, rv, "file", action);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "pool: %s", pr.log);
    if (pr.retry_after) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, pr.retry_after));
    }
    return pool_dav_error(r, pr.status, pr.detail);
}

static dav_error *problem_error(request_rec *r, const pool_problem_t *pr)
{
    if (pr->log) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "pool: %s", pr->log);
    }
    if (pr->retry_after) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, pr->retry_after));
    }
    if (!pr->log && pr->status >= 500) {
        /* a 5xx that is no fault here (a pool's storage quota): info */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "pool: WebDAV %d: %s",
                      pr->status, pr->detail ? pr->detail : "");
        return dav_new_error(r->pool, pr->status, 0, 0, pr->detail);
    }
    return pool_dav_error(r, pr->status, pr->detail);
}

/* The folder a new file at res goes into must be a folder of the tree. */
static dav_error *check_parent(const dav_resource *res)
{
    dav_resource *parent;
    dav_error *err = get_parent_resource(res, &parent);

    if (err) {
        return err;
    }
    if (!parent || !parent->exists || !parent->collection) {
        return pool_dav_error(res->info->r, HTTP_CONFLICT,
                              "the folder it would go into does not exist");
    }
    return NULL;
}

static dav_error *open_stream(const dav_resource *res, dav_stream_mode mode,
                              dav_stream **out)
{
    request_rec *r = res->info->r;
    pool_srv_conf *sc = pool_srv(r->server);
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    dav_stream *s;
    apr_status_t rv;
    apr_off_t n;
    dav_error *err;

    if ((err = check_write(res)) || (err = check_parent(res))) {
        return err;
    }
    if (mode != DAV_MODE_WRITE_TRUNC) {
        return pool_dav_error(r, HTTP_NOT_IMPLEMENTED,
                              "partial PUT (Content-Range) is not supported; "
                              "use the tus endpoint to resume uploads");
    }
    if (!sc->store) {
        return pool_dav_error(r, HTTP_INTERNAL_SERVER_ERROR,
                              "storage not configured");
    }
    if (cl && apr_strtoff(&n, cl, NULL, 10) == APR_SUCCESS
        && n > sc->conf.max_file_size) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return pool_dav_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the file is larger than the limit");
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    s->res = res;
    s->r = r;
    s->st = sc->store;
    s->max = sc->conf.max_file_size;
    rv = s->st->ops->spool_open(s->st, r->pool, s->max, &s->sp);
    if (rv != APR_SUCCESS) {
        s->sp = NULL;
        return store_error(r, rv, "open a spool");
    }
    apr_pool_cleanup_register(r->pool, s, stream_cleanup,
                              apr_pool_cleanup_null);
    *out = s;
    return NULL;
}

static dav_error *write_stream(dav_stream *s, const void *buf, apr_size_t n)
{
    apr_status_t rv;

    if (!s->sp) {
        return pool_dav_error(s->r, HTTP_INTERNAL_SERVER_ERROR,
                              "write after close");
    }
    if ((apr_off_t)n > s->max - s->written) {
        s->r->connection->keepalive = AP_CONN_CLOSE;
        return pool_dav_error(s->r, HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the file is larger than the limit");
    }
    s->written += n;
    rv = s->st->ops->spool_write(s->sp, buf, n);
    if (rv != APR_SUCCESS) {
        s->r->connection->keepalive = AP_CONN_CLOSE;
        return store_error(s->r, rv, "write the file to the store");
    }
    return NULL;
}

/* The event time of a file from the view: Pool-Ts (RFC 3339 or Unix
 * seconds), or X-OC-Mtime (Unix seconds, as ownCloud and Nextcloud
 * clients send the file's time), else now. */
static const char *request_ts(request_rec *r)
{
    const char *ts = apr_table_get(r->headers_in, "Pool-Ts");

    if (!ts) {
        ts = apr_table_get(r->headers_in, "X-OC-Mtime");
        if (ts) {
            apr_table_setn(r->headers_out, "X-OC-MTime", "accepted");
        }
    }
    return ts;
}

/* Records the spooled bytes sp as file `name` in folder `folder` of pool
 * (the one ingest path); ctype NULL: the request's Content-Type. */
static dav_error *ingest_file(request_rec *r, const char *pool,
                              const char *folder, const char *name,
                              pool_spool_t *sp, const char *ctype,
                              pool_file_t **out)
{
    const char *field, *why, *digest_h;
    pool_file_fields_t fields;
    pool_problem_t pr;
    pool_file_t f;
    unsigned char want[32];
    int have_digest = 0;

    why = pool_fields_check(r->pool, name, strlen(name), request_ts(r),
                            ctype ? ctype
                            : apr_table_get(r->headers_in, "Content-Type"),
                            &fields, &field);
    digest_h = apr_table_get(r->headers_in, "Content-Digest");
    if (!why && digest_h && ctype == NULL) {
        have_digest = pool_parse_content_digest(r->pool, digest_h, want);
        why = have_digest < 0 ? "malformed Content-Digest" : NULL;
        field = "Content-Digest";
    }
    if (why) {
        pool_srv(r->server)->store->ops->spool_abort(sp);
        return pool_dav_error(r, !strcmp(field, "content_type")
                              ? HTTP_UNSUPPORTED_MEDIA_TYPE : HTTP_BAD_REQUEST,
                              apr_psprintf(r->pool, "%s: %s", field, why));
    }
    memset(&f, 0, sizeof(f));
    f.pool = pool;
    f.client_id = r->user;
    f.name = fields.name;
    f.content_type = fields.content_type;
    f.ts = fields.ts;
    f.folder = folder;
    if (!pool_file_commit(r, sp, have_digest == 1 ? want : NULL, &f, out,
                          &pr)) {
        return problem_error(r, &pr);
    }
    return NULL;
}

static dav_error *close_stream(dav_stream *s, int commit)
{
    dav_resource_private *info = s->res->info;
    pool_spool_t *sp = s->sp;
    pool_file_t *f;
    dav_error *err;

    apr_pool_cleanup_kill(s->r->pool, s, stream_cleanup);
    s->sp = NULL;
    if (!sp) {
        return NULL;
    }
    if (!commit) {
        s->st->ops->spool_abort(sp);
        return NULL;
    }
    err = ingest_file(s->r, info->pool, pool_view_parent(s->r->pool,
                      info->path), pool_view_basename(info->path), sp, NULL,
                      &f);
    if (!err) {
        apr_table_setn(s->r->headers_out, "ETag",
                       pool_digest_etag(s->r->pool, f->sha256));
    }
    return err;
}

/* ---------------------------------------------------------- listing GET */

/* Folders are read a page at a time: a PROPFIND of a folder of a million
 * files holds one page in memory, not the folder. */
#define LIST_PAGE 1000

typedef struct {
    apr_pool_t *p;
    const char *pool;
    const pool_view_entry_t *folder;
    const char *after;
    apr_array_header_t *entries;
} list_baton;

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    list_baton *lb = b;

    (void)p;
    return pool_view_list(lb->p, c, lb->pool, lb->folder, lb->after,
                          LIST_PAGE, &lb->entries, err);
}

/* What fn gets lives in p until the next page. */
typedef dav_error *entry_fn(void *baton, apr_pool_t *p,
                            pool_view_entry_t *e);

/* Calls fn with each entry of folder res, by name. */
static dav_error *each_entry(const dav_resource *res, entry_fn *fn,
                             void *baton)
{
    dav_resource_private *info = res->info;
    char after[POOL_NAME_MAX + 1] = "";
    dav_error *err = NULL;
    const char *dberr;
    list_baton lb;
    pool_db_rc rc;
    int i, n;

    if (!info->pool || !info->e) {
        return NULL;            /* the top, or nothing there */
    }
    apr_pool_create(&lb.p, info->r->pool);
    lb.pool = info->pool;
    lb.folder = info->e;
    do {
        apr_pool_clear(lb.p);
        lb.after = *after ? after : NULL;
        rc = pool_db_run(info->r, op_list, &lb, &dberr);
        if (rc != POOL_DB_OK) {
            err = pool_dav_db_error(info->r, rc, dberr, "folder");
            break;
        }
        n = lb.entries->nelts;
        for (i = 0; i < n && !err; i++) {
            err = fn(baton, lb.p, APR_ARRAY_IDX(lb.entries, i,
                                                pool_view_entry_t *));
        }
        if (n > 0) {
            apr_cpystrn(after, APR_ARRAY_IDX(lb.entries, n - 1,
                                             pool_view_entry_t *)->name,
                        sizeof(after));
        }
    } while (!err && n == LIST_PAGE);
    apr_pool_destroy(lb.p);
    return err;
}

static dav_error *set_headers(request_rec *r, const dav_resource *res)
{
    if (!res->collection) {
        /* files are answered by pool_dav_get before mod_dav */
        return pool_dav_error(r, HTTP_INTERNAL_SERVER_ERROR,
                              "a file reached mod_dav's GET");
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "private, no-cache");
    return NULL;
}

typedef struct {
    request_rec *r;
    ap_filter_t *output;
    apr_bucket_brigade *bb;
} html_baton;

static dav_error *html_entry(void *baton, apr_pool_t *p, pool_view_entry_t *e)
{
    html_baton *hb = baton;
    int dir = e->kind == POOL_VIEW_FOLDER
              || e->kind == POOL_VIEW_RESULTS_FOLDER;
    const char *href = ap_escape_html(p, ap_os_escape_path(p, e->name, 0));

    apr_brigade_printf(hb->bb, NULL, NULL, "<li><a href=\"%s%s\">%s%s</a>",
                       href, dir ? "/" : "", ap_escape_html(p, e->name),
                       dir ? "/" : "");
    if (!dir) {
        apr_brigade_printf(hb->bb, NULL, NULL, " %" APR_OFF_T_FMT, e->size);
    }
    apr_brigade_puts(hb->bb, NULL, NULL, "</li>\n");
    if (ap_fflush(hb->output, hb->bb) != APR_SUCCESS) {
        return pool_dav_error(hb->r, HTTP_INTERNAL_SERVER_ERROR,
                              "could not send the listing");
    }
    return NULL;
}

/* A folder read with a browser: a plain list of links. */
static dav_error *deliver(const dav_resource *res, ap_filter_t *output)
{
    request_rec *r = res->info->r;
    const char *title = ap_escape_html(r->pool, res->uri);
    html_baton hb;
    dav_error *err;

    hb.r = r;
    hb.output = output;
    hb.bb = apr_brigade_create(r->pool, output->c->bucket_alloc);
    apr_brigade_printf(hb.bb, NULL, NULL, "<!DOCTYPE html>\n<html><head>"
                       "<meta charset=\"utf-8\"><title>%s</title></head>"
                       "<body><h1>%s</h1><ul>\n", title, title);
    if ((err = each_entry(res, html_entry, &hb))) {
        return err;
    }
    apr_brigade_puts(hb.bb, NULL, NULL, "</ul></body></html>\n");
    APR_BRIGADE_INSERT_TAIL(hb.bb,
                            apr_bucket_eos_create(output->c->bucket_alloc));
    if (ap_pass_brigade(output, hb.bb) != APR_SUCCESS) {
        return pool_dav_error(r, HTTP_INTERNAL_SERVER_ERROR,
                              "could not send the listing");
    }
    return NULL;
}

/* ------------------------------------------------------ changing things */

/* Looks at res's path again after a change. */
static dav_error *refresh(dav_resource *res)
{
    dav_resource_private *info = res->info;
    dav_resource *now;
    dav_error *err = pool_dav_resource(info->r, info->prefix, info->pool,
                                       info->path, &now);

    if (!err) {
        info->e = now->info->e;
        res->exists = now->exists;
        res->collection = now->collection;
    }
    return err;
}

typedef struct {
    const char *pool;
    const char *path;
    const pool_view_entry_t *e;
    const char *dst;
    int replaced;
} change_baton;

static pool_db_rc op_mkcol(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    change_baton *cb = b;

    return pool_view_mkcol(p, c, cb->pool, cb->path, err);
}

static pool_db_rc op_remove(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    change_baton *cb = b;

    return pool_view_remove(p, c, cb->pool, cb->e, err);
}

static pool_db_rc op_move(apr_pool_t *p, PGconn *c, void *b,
                          const char **err)
{
    change_baton *cb = b;

    return pool_view_move(p, c, cb->pool, cb->e, cb->dst, 0, &cb->replaced,
                          err);
}

/* Runs a change; the view's refusals become 409 (a missing parent or a
 * name in the way, RFC 4918 9.3.1). */
static dav_error *run_change(request_rec *r, pool_db_op *op,
                             change_baton *cb, const char *what)
{
    const char *err;
    pool_db_rc rc = pool_db_run(r, op, cb, &err);

    if (rc == POOL_DB_OK) {
        return NULL;
    }
    if (rc == POOL_DB_NOTFOUND || rc == POOL_DB_CLASH
        || rc == POOL_DB_CONFLICT) {
        return pool_dav_error(r, HTTP_CONFLICT, err);
    }
    return pool_dav_db_error(r, rc, err, what);
}

static dav_error *create_collection(dav_resource *res)
{
    dav_resource_private *info = res->info;
    change_baton cb;
    dav_error *err;

    if ((err = check_write(res))) {
        return err;
    }
    cb.pool = info->pool;
    cb.path = info->path;
    if ((err = run_change(info->r, op_mkcol, &cb, "folder"))) {
        return err;
    }
    return refresh(res);
}

static dav_error *remove_resource(dav_resource *res, dav_response **response)
{
    dav_resource_private *info = res->info;
    change_baton cb;
    dav_error *err;

    *response = NULL;
    if ((err = check_write(res))) {
        return err;
    }
    if (!info->e) {
        return pool_dav_error(info->r, HTTP_NOT_FOUND, NULL);
    }
    if (!strcmp(info->path, "/")) {
        return pool_dav_error(info->r, HTTP_FORBIDDEN,
                              "the top of a pool cannot be removed");
    }
    cb.pool = info->pool;
    cb.e = info->e;
    if ((err = run_change(info->r, op_remove, &cb, "resource"))) {
        return err;
    }
    res->exists = 0;
    res->collection = 0;
    info->e = NULL;
    return NULL;
}

static dav_error *same_pool(const dav_resource *src, const dav_resource *dst)
{
    if (!dst->info->pool || strcmp(src->info->pool, dst->info->pool)) {
        return pool_dav_error(src->info->r, HTTP_FORBIDDEN,
                              "files move and copy within their pool only");
    }
    return NULL;
}

static dav_error *move_resource(dav_resource *src, dav_resource *dst,
                                dav_response **response)
{
    dav_resource_private *info = src->info;
    change_baton cb;
    dav_error *err;

    *response = NULL;
    if ((err = check_write(src)) || (err = check_write(dst))
        || (err = same_pool(src, dst))) {
        return err;
    }
    if (!info->e) {
        return pool_dav_error(info->r, HTTP_NOT_FOUND, NULL);
    }
    cb.pool = info->pool;
    cb.e = info->e;
    cb.dst = dst->info->path;
    if ((err = run_change(info->r, op_move, &cb, "resource"))) {
        return err;
    }
    src->exists = 0;
    dst->exists = 1;
    dst->collection = src->collection;
    src->collection = 0;
    return NULL;
}

/* ---------------------------------------------------------------- COPY */

typedef struct {
    pool_store_t *st;
    pool_spool_t *sp;
} copy_sink_baton;

static apr_status_t copy_sink(void *b, const char *buf, apr_size_t n)
{
    copy_sink_baton *cb = b;

    return cb->st->ops->spool_write(cb->sp, buf, n);
}

/* A copy is a new file of the pool (a new id, received now, by this
 * client) whose bytes are read from the store and go through the one
 * ingest path like any upload. */
static dav_error *copy_file(request_rec *r, const char *pool,
                            const pool_view_entry_t *e, const char *dst,
                            pool_file_t **out)
{
    pool_srv_conf *sc = pool_srv(r->server);
    pool_store_obj_t *o;
    copy_sink_baton cb;
    apr_status_t rv;

    rv = pool_store_open_known(sc->store, r->pool,
                               e->kind == POOL_VIEW_RESULT ? NULL : pool,
                               e->id, e->size, e->modified, 0, &o);
    if (rv != APR_SUCCESS) {
        return store_error(r, rv, "open the file to copy");
    }
    cb.st = sc->store;
    rv = cb.st->ops->spool_open(cb.st, r->pool, sc->conf.max_file_size,
                                &cb.sp);
    if (rv != APR_SUCCESS) {
        cb.st->ops->obj_close(o);
        return store_error(r, rv, "open a spool");
    }
    rv = cb.st->ops->obj_read(o, 0, e->size, copy_sink, &cb);
    cb.st->ops->obj_close(o);
    if (rv != APR_SUCCESS) {
        cb.st->ops->spool_abort(cb.sp);
        return store_error(r, rv, "copy the file");
    }
    return ingest_file(r, pool, pool_view_parent(r->pool, dst),
                       pool_view_basename(dst), cb.sp, e->content_type, out);
}

typedef struct {
    const dav_resource *src;
    const char *dst;
    int depth;
} copy_baton;

static dav_error *copy_tree(request_rec *r, const dav_resource *src,
                            const char *dst, int depth);

static dav_error *copy_entry(void *baton, apr_pool_t *p, pool_view_entry_t *e)
{
    copy_baton *cb = baton;
    dav_resource_private *info = cb->src->info;
    const char *to = apr_pstrcat(p, strcmp(cb->dst, "/") ? cb->dst : "", "/",
                                 e->name, NULL);

    return copy_tree(info->r, resource_in(p, info->r, info->prefix,
                                          info->pool, e->path, e),
                     to, cb->depth);
}

static dav_error *copy_tree(request_rec *r, const dav_resource *src,
                            const char *dst, int depth)
{
    dav_resource_private *info = src->info;
    change_baton chb;
    copy_baton cb;
    pool_file_t *f;
    dav_error *err;

    if (!src->collection) {
        return copy_file(r, info->pool, info->e, dst, &f);
    }
    chb.pool = info->pool;
    chb.path = dst;
    if ((err = run_change(r, op_mkcol, &chb, "folder")) || depth == 0) {
        return err;
    }
    cb.src = src;
    cb.dst = dst;
    cb.depth = depth;
    return each_entry(src, copy_entry, &cb);
}

static dav_error *copy_resource(const dav_resource *src, dav_resource *dst,
                                int depth, dav_response **response)
{
    dav_error *err;

    *response = NULL;
    if ((err = check_write(dst)) || (err = same_pool(src, dst))
        || (err = check_parent(dst))) {
        return err;
    }
    if (!src->info->e) {
        return pool_dav_error(src->info->r, HTTP_NOT_FOUND, NULL);
    }
    if ((err = copy_tree(src->info->r, src, dst->info->path, depth))) {
        return err;
    }
    if ((err = refresh(dst))) {
        return err;
    }
    return pool_dav_props_copy_dav(src, dst);
}

/* ---------------------------------------------------------------- walks */

typedef struct {
    const dav_walk_params *params;
    dav_walk_resource wres;
} walk_ctx;

static dav_error *walk_call(walk_ctx *wc, const dav_resource *res, int type)
{
    wc->wres.resource = res;
    return (*wc->params->func)(&wc->wres, type);
}

static dav_error *walk_locknull(walk_ctx *wc, const dav_resource *dir)
{
    dav_resource_private *info = dir->info;
    apr_array_header_t *names;
    dav_error *err;
    int i;

    err = pool_dav_locknull_names(info->r, info->pool, info->path, &names);
    for (i = 0; !err && i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *path = apr_pstrcat(info->r->pool,
                                       strcmp(info->path, "/") ? info->path
                                       : "", "/", name, NULL);
        dav_resource *res = new_resource(info->r, info->prefix, info->pool,
                                         path, NULL);

        err = walk_call(wc, res, DAV_CALLTYPE_LOCKNULL);
    }
    return err;
}

typedef struct {
    walk_ctx *wc;
    const dav_resource *parent;
    int depth;
} walk_baton;

static dav_error *walk_tree(walk_ctx *wc, const dav_resource *res, int depth);

static dav_error *walk_entry(void *baton, apr_pool_t *p, pool_view_entry_t *e)
{
    walk_baton *wb = baton;
    dav_resource_private *info = wb->parent->info;
    dav_resource *child = resource_in(p, info->r, info->prefix, info->pool,
                                      e->path, e);

    if (child->collection) {
        child->uri = apr_pstrcat(p, child->uri, "/", NULL);
    }
    return walk_tree(wb->wc, child, wb->depth);
}

static dav_error *walk_tree(walk_ctx *wc, const dav_resource *res, int depth)
{
    walk_baton wb;
    dav_error *err;

    if (!res->collection) {
        return walk_call(wc, res, res->exists ? DAV_CALLTYPE_MEMBER
                                              : DAV_CALLTYPE_LOCKNULL);
    }
    if ((err = walk_call(wc, res, DAV_CALLTYPE_COLLECTION)) || depth == 0) {
        return err;
    }
    wb.wc = wc;
    wb.parent = res;
    wb.depth = depth == DAV_INFINITY ? depth : depth - 1;
    if ((err = each_entry(res, walk_entry, &wb))) {
        return err;
    }
    if ((wc->params->walk_type & DAV_WALKTYPE_LOCKNULL) && res->info->pool) {
        return walk_locknull(wc, res);
    }
    return NULL;
}

static dav_error *walk(const dav_walk_params *params, int depth,
                       dav_response **response)
{
    walk_ctx wc;
    dav_resource *root = apr_pmemdup(params->pool, params->root,
                                     sizeof(*root));
    dav_error *err;
    apr_size_t n = strlen(root->uri);

    memset(&wc, 0, sizeof(wc));
    wc.params = params;
    wc.wres.walk_ctx = params->walk_ctx;
    wc.wres.pool = params->pool;
    /* collections are walked with a trailing slash, as mod_dav_fs does */
    if (root->collection && (n == 0 || root->uri[n - 1] != '/')) {
        root->uri = apr_pstrcat(params->pool, root->uri, "/", NULL);
    }
    err = walk_tree(&wc, root, depth);
    *response = wc.wres.response;
    return err;
}

/* ------------------------------------------------------------ the rest */

static const char *getetag(const dav_resource *res)
{
    pool_view_entry_t *e = res->info->e;

    if (!e) {
        return "";
    }
    if (e->kind == POOL_VIEW_FILE || e->kind == POOL_VIEW_RESULT) {
        const char *etag = pool_digest_etag(res->pool, e->sha256);

        return etag ? etag : "";
    }
    if (e->kind == POOL_VIEW_FOLDER && e->folder_id) {
        return apr_psprintf(res->pool, "W/\"d%" APR_INT64_T_FMT "-%"
                            APR_TIME_T_FMT "\"", e->folder_id, e->modified);
    }
    return "";
}

static request_rec *get_request_rec(const dav_resource *res)
{
    return res->info->r;
}

static const char *get_pathname(const dav_resource *res)
{
    (void)res;
    return NULL;
}

const dav_hooks_repository pool_dav_hooks_repository = {
    1,                          /* handle_get */
    get_resource,
    get_parent_resource,
    is_same_resource,
    is_parent_resource,
    open_stream,
    close_stream,
    write_stream,
    NULL,                       /* seek_stream: no partial PUT */
    set_headers,
    deliver,
    create_collection,
    copy_resource,
    move_resource,
    remove_resource,
    walk,
    getetag,
    NULL,                       /* ctx */
    get_request_rec,
    get_pathname
};
