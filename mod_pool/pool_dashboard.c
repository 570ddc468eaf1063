/* The pool admins' dashboard (docs/dashboard.md): static files served
 * from PoolDashboardDir at {API path}/dashboard/.  Nothing here talks to
 * the database: the page signs in and calls the API itself, like any other
 * client.  Only GET and HEAD, only names made of [A-Za-z0-9._-] (no leading
 * dot, so no "..", no hidden files), only the few file types the page is
 * made of; everything else is 404, before the file system is asked. */
#include <string.h>

#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_lib.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_pool.h"

#ifndef POOL_DASHBOARD_DIR
#define POOL_DASHBOARD_DIR "/usr/local/share/mod_pool/dashboard"
#endif

#define NAME_MAX_LEN 200        /* the whole relative path */
#define DEPTH_MAX 3             /* segments: "js/screens/x.js" */

/* The page loads only its own files and talks only to its own origin; no
 * inline script or style, no frames, no plugins, no <base> tricks. */
#define DASHBOARD_CSP "default-src 'self'; script-src 'self'; " \
    "style-src 'self'; img-src 'self'; connect-src 'self'; " \
    "font-src 'self'; object-src 'none'; base-uri 'none'; " \
    "form-action 'self'; frame-ancestors 'none'"

static const struct {
    const char *ext;
    const char *type;
} dashboard_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".json", "application/json" },
};

const char *pool_dashboard_dir(const pool_srv_conf *sc)
{
    return sc->dashboard_dir ? sc->dashboard_dir : POOL_DASHBOARD_DIR;
}

/* 0 when rel ("index.html", "js/app.js") is a name we may serve. */
static int bad_name(const char *rel)
{
    const char *s = rel;
    int depth = 0;

    if (!*rel || strlen(rel) > NAME_MAX_LEN) {
        return 1;
    }
    while (*s) {
        const char *e = s;

        if (*s == '.' || ++depth > DEPTH_MAX) {
            return 1;           /* "..", ".hidden", or too deep */
        }
        while (*e && *e != '/') {
            if (!apr_isalnum(*e) && *e != '.' && *e != '_' && *e != '-') {
                return 1;       /* '%', '\\', NUL, anything else */
            }
            e++;
        }
        if (e == s || (*e == '/' && !e[1])) {
            return 1;           /* an empty segment: "a//b", "js/" */
        }
        s = *e ? e + 1 : e;
    }
    return 0;
}

static const char *type_of(const char *rel)
{
    const char *dot = strrchr(rel, '.');
    unsigned int i;

    for (i = 0; dot && i < sizeof(dashboard_types) / sizeof(dashboard_types[0]);
         i++) {
        if (!strcmp(dot, dashboard_types[i].ext)) {
            return dashboard_types[i].type;
        }
    }
    return NULL;
}

/* Headers for every answer of the dashboard, errors included. */
static void security_headers(request_rec *r)
{
    apr_table_t *h = r->err_headers_out;

    apr_table_setn(h, "Content-Security-Policy", DASHBOARD_CSP);
    apr_table_setn(h, "X-Content-Type-Options", "nosniff");
    apr_table_setn(h, "Referrer-Policy", "no-referrer");
    apr_table_setn(h, "X-Frame-Options", "DENY");
    apr_table_setn(h, "Cross-Origin-Opener-Policy", "same-origin");
}

/* "/pool/dashboard" -> "/pool/dashboard/", as mod_dir does for a
 * directory (the page's relative links need the slash). */
static int redirect_slash(request_rec *r)
{
    const char *to = apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri),
                                 "/", NULL);

    apr_table_setn(r->headers_out, "Location",
                   ap_construct_url(r->pool, to, r));
    return HTTP_MOVED_PERMANENTLY;
}

/* Sends the regular file fn (found by stat as fi) as httpd's default
 * handler would: Last-Modified, ETag (FileETag), conditional GET, HEAD. */
static int send_file(request_rec *r, const char *fn, const apr_finfo_t *fi,
                     const char *ctype)
{
    apr_file_t *fd;
    apr_bucket_brigade *bb;
    apr_status_t rv;
    int cond;

    rv = apr_file_open(&fd, fn, APR_FOPEN_READ | APR_FOPEN_BINARY
                       | APR_FOPEN_SENDFILE_ENABLED, APR_FPROT_OS_DEFAULT,
                       r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "pool: dashboard file %s cannot be read", fn);
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    r->filename = apr_pstrdup(r->pool, fn);
    r->finfo = *fi;
    ap_set_content_type(r, ctype);
    ap_update_mtime(r, fi->mtime);
    ap_set_last_modified(r);
    ap_set_etag(r);
    /* revalidated on every load: a new version is seen at once, an
     * unchanged one costs a 304 */
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    cond = ap_meets_conditions(r);
    if (cond != OK) {
        apr_file_close(fd);
        return cond;
    }
    ap_set_content_length(r, fi->size);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_insert_file(bb, fd, 0, fi->size, r->pool);
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      "pool: sending dashboard file %s failed", fn);
    }
    return OK;
}

int pool_handle_dashboard(request_rec *r, const char *rest)
{
    pool_srv_conf *sc = pool_srv(r->server);
    const char *rel, *ctype, *fn;
    apr_finfo_t fi;
    apr_status_t rv;

    if (sc->dashboard < 0) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    security_headers(r);
    if (r->method_number != M_GET) {
        return pool_method_not_allowed(r, "GET, HEAD", "the dashboard's "
                                       "files are read with GET or HEAD");
    }
    if (!*rest) {
        return redirect_slash(r);
    }
    rel = rest + 1;             /* rest begins with '/' */
    if (!*rel) {
        rel = "index.html";
    }
    if (bad_name(rel) || !(ctype = type_of(rel))) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    fn = apr_pstrcat(r->pool, pool_dashboard_dir(sc), "/", rel, NULL);
    rv = apr_stat(&fi, fn, APR_FINFO_MIN, r->pool);
    if (rv != APR_SUCCESS || fi.filetype != APR_REG) {
        if (!strcmp(rel, "index.html")) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, "pool: the dashboard "
                          "is not installed in %s (PoolDashboardDir)",
                          pool_dashboard_dir(sc));
        }
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    return send_file(r, fn, &fi, ctype);
}
