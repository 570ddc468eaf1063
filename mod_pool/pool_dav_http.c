/* The WebDAV view's place in httpd's request cycle: its URIs are no files
 * (translate_name, map_to_storage, as mod_dav_svn does), a Bearer token is
 * as good as HTTP Basic (check_authn), and a file's GET/HEAD is the API's
 * download (handler, before mod_dav). */
#include <string.h>

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include "pool_dav.h"
#include "pool_groups.h"
#include "pool_ts.h"

#define FILENAME_PREFIX "pool-dav:"

/* r is in a location served by "Dav pool". */
static int is_ours(request_rec *r)
{
    const char *name = dav_get_provider_name(r);

    return name && !strcmp(name, "pool");
}

int pool_dav_translate(request_rec *r)
{
    if (!is_ours(r)) {
        return DECLINED;
    }
    /* no file system path: nothing of DocumentRoot may answer for it */
    r->filename = apr_pstrcat(r->pool, FILENAME_PREFIX, r->uri, NULL);
    return OK;
}

int pool_dav_map_to_storage(request_rec *r)
{
    if (r->filename && !strncmp(r->filename, FILENAME_PREFIX,
                                sizeof(FILENAME_PREFIX) - 1)) {
        return OK;              /* skips the directory walk: no path_info */
    }
    return DECLINED;
}

int pool_dav_bearer(request_rec *r)
{
    const char *auth;
    pool_principal *who;
    const char *why;
    int rv;

    if (!is_ours(r)) {
        return DECLINED;
    }
    auth = apr_table_get(r->headers_in, r->proxyreq == PROXYREQ_PROXY
                         ? "Proxy-Authorization" : "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) {
        return DECLINED;        /* HTTP Basic: mod_auth_basic */
    }
    rv = pool_bearer_principal(r, auth + 7, &who, &why);
    if (rv == HTTP_UNAUTHORIZED) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "pool: WebDAV Bearer token refused: %s", why);
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(r->pool, "Bearer realm=\"pool\", "
                                    "error=\"invalid_token\", "
                                    "error_description=\"%s\"", why));
    }
    if (rv != OK) {
        return rv;
    }
    r->user = apr_pstrdup(r->pool, who->client_id);
    r->ap_auth_type = (char *)"Bearer";
    pool_auth_note_principal(r, who);
    return OK;
}

int pool_dav_type(request_rec *r)
{
    dav_resource *res;

    if (!r->main || !r->filename
        || strncmp(r->filename, FILENAME_PREFIX, sizeof(FILENAME_PREFIX) - 1)
        || dav_get_resource(r, 0, 0, &res) || !res->exists
        || res->collection || !res->info->e) {
        return DECLINED;
    }
    ap_set_content_type(r, res->info->e->content_type);
    return OK;
}

typedef struct {
    const char *result;
    const char *client;
} read_baton;

static pool_db_rc op_result_read(apr_pool_t *p, PGconn *c, void *b,
                                 const char **err)
{
    read_baton *rb = b;

    return pool_result_read(p, c, rb->result, rb->client, err);
}

int pool_dav_get(request_rec *r)
{
    dav_resource *res;
    pool_view_entry_t *e;
    dav_error *err;

    if (r->method_number != M_GET || !r->handler
        || strcmp(r->handler, "dav-handler") || !is_ours(r)) {
        return DECLINED;
    }
    err = dav_get_resource(r, 0, 0, &res);
    if (err || !res->exists || res->collection || !res->info->e) {
        return DECLINED;        /* mod_dav answers: errors, folders, 404 */
    }
    e = res->info->e;
    if (e->kind == POOL_VIEW_RESULT && !r->header_only && r->user) {
        /* a download of a result is a read receipt, as on the API */
        read_baton rb;
        const char *why;

        rb.result = e->id;
        rb.client = r->user;
        if (pool_db_run(r, op_result_read, &rb, &why) != POOL_DB_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "pool: read receipt of result %s: %s", e->id,
                          why ? why : "?");
        }
    }
    return pool_send_object(r, res->info->pool,
                            e->kind == POOL_VIEW_RESULT ? NULL
                            : res->info->pool, e->id, e->size,
                            pool_ts_format(r->pool, e->modified),
                            e->content_type, e->sha256, e->name, "file",
                            NULL);
}

/* OPTIONS tells the truth: a client that may only read is not offered the
 * methods that write (mod_dav lists what the resource supports), and
 * nobody POST, which the view does not take. */
#define OPTIONS_FILTER "POOL_DAV_OPTIONS"

static int writes(const char *m)
{
    static const char *const names[] = { "PUT", "DELETE", "MKCOL",
        "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK", NULL };
    int i;

    for (i = 0; names[i]; i++) {
        if (!strcasecmp(m, names[i])) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t options_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *allow = apr_table_get(r->headers_out, "Allow");
    int ro = !pool_dav_may_write(r);

    if (allow) {
        char *list = apr_pstrdup(r->pool, allow), *last, *m;
        const char *out = "";

        for (m = apr_strtok(list, ", ", &last); m;
             m = apr_strtok(NULL, ", ", &last)) {
            if (strcasecmp(m, "POST") && !(ro && writes(m))) {
                out = apr_pstrcat(r->pool, out, *out ? "," : "", m, NULL);
            }
        }
        apr_table_setn(r->headers_out, "Allow", out);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void pool_dav_insert_filter(request_rec *r)
{
    if (r->method_number == M_OPTIONS && is_ours(r)) {
        ap_add_output_filter(OPTIONS_FILTER, NULL, r, r->connection);
    }
}

void pool_dav_filters_register(void)
{
    ap_register_output_filter(OPTIONS_FILTER, options_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}
