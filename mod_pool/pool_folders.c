/* Folders: GET .../pools/{pool}/folders[/{path}], one folder of the pool's
 * tree (lib/pool_view.h) with its cached sizes and its entries, subfolders
 * and the files in the view, by name, paged.  The tree's results/ folder
 * is the WebDAV view's: here the results have their own endpoints. */
#include <jansson.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_pool.h"
#include "pool_name.h"
#include "pool_ts.h"
#include "pool_util.h"
#include "pool_view.h"

#define LIST_DEFAULT    100
#define LIST_MAX        1000

typedef struct {
    const char *pool;
    const char *path;
    const char *after;          /* NULL: from the start */
    int limit;
    pool_view_entry_t *folder;
    apr_array_header_t *entries;
} folder_baton;

static int is_results(const pool_view_entry_t *e)
{
    return e->kind == POOL_VIEW_RESULTS_FOLDER || e->kind == POOL_VIEW_RESULT;
}

/* The folder and one page of it, on one connection. */
static pool_db_rc op_folder(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    folder_baton *fb = b;
    int limit = fb->limit;
    pool_db_rc rc;

    rc = pool_view_lookup(p, c, fb->pool, fb->path, &fb->folder, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (fb->folder->kind != POOL_VIEW_FOLDER) {
        return POOL_DB_NOTFOUND;
    }
    /* results/ is left out of the answer: where a page of the root may
     * hold it, one more keeps the page full */
    if (!strcmp(fb->path, "/")
        && (!fb->after || strcmp(fb->after, &POOL_VIEW_RESULTS[1]) < 0)) {
        limit++;
    }
    return pool_view_list(p, c, fb->pool, fb->folder, fb->after, limit,
                          &fb->entries, err);
}

/* "/" + rest with each segment percent-decoded from the raw path (httpd's
 * decoded one cannot tell a name's '%' from an escape), or NULL with *why.
 * A segment is decoded alone, so an escaped '/' cannot make two names. */
static const char *decode_path(request_rec *r, const char *rest,
                               const char **why)
{
    const char *s = rest && *rest ? pool_raw_tail(r, rest) : "", *slash;
    char *out = apr_pstrdup(r->pool, "");

    if (!s) {
        /* httpd merged "//" or resolved dot segments: what it made of the
         * path is all there is (and a listing changes nothing) */
        return apr_pstrcat(r->pool, "/", rest, NULL);
    }
    for (;;) {
        apr_size_t n, len;
        char *seg;

        slash = strchr(s, '/');
        n = slash ? (apr_size_t)(slash - s) : strlen(s);
        seg = pool_pct_decode(r->pool, s, n, &len);
        if (!seg) {
            *why = "the folder path has a malformed %-escape";
            return NULL;
        }
        if (strlen(seg) != len || memchr(seg, '/', len)) {
            *why = "a name in the folder path contains an escaped '/' or NUL";
            return NULL;
        }
        out = apr_pstrcat(r->pool, out, "/", seg, NULL);
        if (!slash) {
            return out;
        }
        s = slash + 1;
    }
}

static json_t *entry_json(apr_pool_t *p, const pool_view_entry_t *e)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string(
                        e->kind == POOL_VIEW_FILE ? "file" : "folder"));
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "path", json_string(e->path));
    if (e->kind != POOL_VIEW_FILE) {
        json_object_set_new(o, "bytes", json_integer(e->bytes));
        json_object_set_new(o, "files", json_integer(e->files));
        return o;
    }
    json_object_set_new(o, "id", json_string(e->id));
    json_object_set_new(o, "size", json_integer((json_int_t)e->size));
    json_object_set_new(o, "sha256", json_string(e->sha256));
    json_object_set_new(o, "content_type", json_string(e->content_type));
    json_object_set_new(o, "ts", json_string(pool_ts_format(p, e->ts)));
    json_object_set_new(o, "received_at",
                        json_string(pool_ts_format(p, e->created)));
    json_object_set_new(o, "client", json_string(e->client_id));
    return o;
}

static int send_folder(request_rec *r, folder_baton *fb)
{
    json_t *j = json_object(), *arr = json_array();
    const pool_view_entry_t *last = NULL;
    int i, n = 0;

    for (i = 0; i < fb->entries->nelts && n < fb->limit; i++) {
        const pool_view_entry_t *e = APR_ARRAY_IDX(fb->entries, i,
                                                   pool_view_entry_t *);
        if (!is_results(e)) {
            json_array_append_new(arr, entry_json(r->pool, e));
            last = e;
            n++;
        }
    }
    json_object_set_new(j, "path", json_string(fb->folder->path));
    json_object_set_new(j, "name", json_string(fb->folder->name));
    json_object_set_new(j, "bytes", json_integer(fb->folder->bytes));
    json_object_set_new(j, "files", json_integer(fb->folder->files));
    json_object_set_new(j, "entries", arr);
    /* names are unique in a folder and listed in byte order: the last one
     * is the cursor */
    json_object_set_new(j, "next", n == fb->limit && last
                                   ? json_string(last->name) : json_null());
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, j);
}

/* limit and after: OK, or a problem was sent (the caller returns OK). */
static int page_args(request_rec *r, folder_baton *fb)
{
    apr_table_t *args = NULL;
    const char *v;
    long n;

    if (pool_query(r, &args) != OK) {
        return DONE;
    }
    fb->limit = LIST_DEFAULT;
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, LIST_MAX, &n) != 0) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "limit must be an "
                         "integer from 1 to 1000", "limit");
            return DONE;
        }
        fb->limit = (int)n;
    }
    if ((v = apr_table_get(args, "after")) != NULL) {
        if (pool_name_check(v)) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "after must be a "
                         "cursor from a previous listing's \"next\" (a "
                         "name)", "after");
            return DONE;
        }
        fb->after = v;
    }
    return OK;
}

int pool_handle_folders(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest)
{
    folder_baton fb;
    const char *raw, *why = NULL, *err = NULL;
    pool_db_rc rc;

    (void)who;                  /* any client of the pool may look */
    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED,
                            "folders are read with GET", NULL);
    }
    memset(&fb, 0, sizeof(fb));
    fb.pool = pool;
    if (!(raw = decode_path(r, rest, &why))
        || (why = pool_view_path_check(r->pool, raw, &fb.path)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, "path");
    }
    if (!strcmp(fb.path, POOL_VIEW_RESULTS)
        || !strncmp(fb.path, POOL_VIEW_RESULTS "/",
                    sizeof(POOL_VIEW_RESULTS))) {
        return pool_problem(r, HTTP_NOT_FOUND, apr_psprintf(r->pool,
                            "no such folder: the results are at "
                            "%s/v1/pools/%s/results", pool_dir_prefix(r),
                            pool), NULL);
    }
    if (page_args(r, &fb) != OK) {
        return OK;              /* refused, answered */
    }
    rc = pool_db_run(r, op_folder, &fb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, apr_psprintf(r->pool,
                            "no such folder: %s", fb.path), NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "folder");
    }
    return send_folder(r, &fb);
}
