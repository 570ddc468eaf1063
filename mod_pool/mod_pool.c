/* mod_pool: hooks and the API router.  The work is done by the core
 * library (lib/); this file only wires it into httpd. */
#define POOL_MAIN_FILE 1
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <ap_mpm.h>
#include <unixd.h>
#include <unistd.h>

#include "mod_pool.h"
#include "pool_dav.h"
#include "pool_link.h"
#include "pool_log.h"
#include "pool_name.h"
#include "pool_util.h"

static server_rec *log_server;

static void log_to_httpd(void *baton, int level, const char *msg)
{
    int lvl = level <= POOL_LOG_ERR ? APLOG_ERR
            : level == POOL_LOG_WARN ? APLOG_WARNING
            : level == POOL_LOG_NOTICE ? APLOG_NOTICE
            : level == POOL_LOG_INFO ? APLOG_INFO : APLOG_DEBUG;
    ap_log_error(APLOG_MARK, lvl, 0, log_server, "%s", msg);
}

static int remote_store(const char *spec)
{
    return !strncasecmp(spec, "http://", 7) || !strncasecmp(spec, "https://", 8);
}

/* The WebDAV stores of the configuration are probed: OPTIONS must announce
 * DAV class 1, the collection must exist and take our credentials, and its
 * working collections are made; the credentials file is read.  A failure
 * fails `apachectl -t` and the start, with the reason.  unreachable_ok: a
 * store that is only unreachable gets a warning (restarts: a store outage
 * must not take the web server down with it; requests get 503 until the
 * store is back).
 *
 * When (all verified with Debian's httpd 2.4):
 *  - `-t` runs check_config, then test_config (which cannot fail) and
 *    exits: post_config never runs, so -t probes in check_config;
 *  - `-k stop|graceful|restart` read the configuration and run
 *    check_config too, then signal the running server and exit before
 *    post_config: nothing is probed there, or a store outage would stop
 *    `apachectl stop` from stopping httpd;
 *  - a start reads the configuration twice: post_config of the first
 *    reading (generation 0) runs in the process started from the shell,
 *    before it detaches: probed there; the second reading (generation 1)
 *    is not probed again;
 *  - restarts read it with generations from 2 on, in the parent: probed,
 *    unreachable_ok. */
static int probe_stores(server_rec *s, apr_pool_t *ptemp, int unreachable_ok)
{
    apr_array_header_t *seen = apr_array_make(ptemp, 2, sizeof(const char *));
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        pool_srv_conf *sc = pool_srv(sv);
        const char *err = NULL, *key;
        pool_store_t *st;
        apr_status_t rv;
        int i, dup = 0;

        if (!sc->conf.storage) {
            continue;
        }
        key = apr_pstrcat(ptemp, sc->conf.storage, "\n",
                          sc->conf.storage_credentials
                          ? sc->conf.storage_credentials : "", NULL);
        for (i = 0; i < seen->nelts; i++) {
            dup |= !strcmp(APR_ARRAY_IDX(seen, i, const char *), key);
        }
        if (dup) {
            continue;           /* a virtual host inherited it */
        }
        APR_ARRAY_PUSH(seen, const char *) = key;
        st = pool_store_create(ptemp, sc->conf.storage,
                               sc->conf.storage_credentials, &err);
        if (!st) {
            err = apr_psprintf(ptemp, "PoolStorage %s: %s", sc->conf.storage,
                               err);
        }
        else if (!remote_store(sc->conf.storage)) {
            continue;           /* the directory is made in post_config */
        }
        else if ((rv = st->ops->check(st, ptemp, -1, -1, &err))
                 == APR_SUCCESS) {
            continue;
        }
        else if (rv == POOL_STORE_UNAVAILABLE && unreachable_ok) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv, "PoolStorage: %s "
                         "(starting all the same: uploads and downloads get "
                         "503 until the store is back)", err);
            continue;
        }
        else {
            err = apr_pstrcat(ptemp, "PoolStorage: ", err, NULL);
        }
        /* (-t: on the console; a start: in the error log, which httpd has
         * opened by post_config, with its "Configuration Failed") */
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, sv, "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int pool_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    log_server = s;
    pool_log_set(log_to_httpd, NULL);
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST) {
        return OK;              /* see probe_stores */
    }
    return probe_stores(s, ptemp, 0);
}

static int pool_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp)
{
    return pool_auth_throttle_pre_config(pconf);
}

static int pool_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;
    int gen, rv;

    log_server = s;
    pool_log_set(log_to_httpd, NULL);
    gen = ap_state_query(AP_SQ_CONFIG_GEN);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return probe_stores(s, ptemp, 0);       /* the first reading */
    }
    if (gen > 1 && (rv = probe_stores(s, ptemp, 1)) != OK) {
        return rv;                              /* a restart */
    }
    pool_auth_init(pconf);
    if ((rv = pool_auth_throttle_post_config(pconf, s)) != OK) {
        return rv;
    }
    for (sv = s; sv; sv = sv->next) {
        pool_srv_conf *sc = pool_srv(sv);
        const char *err = NULL;

        if (!sc->conf.storage) {
            continue;
        }
        sc->store = pool_store_create(pconf, sc->conf.storage,
                                      sc->conf.storage_credentials, &err);
        if (!sc->store) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, sv, "PoolStorage %s: %s",
                         sc->conf.storage, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* post_config runs as root before the children drop privileges:
         * the working directories are created here and handed to User (a
         * WebDAV store was probed: probe_stores) */
        if (!remote_store(sc->conf.storage)
            && sc->store->ops->check(sc->store, ptemp,
                                  geteuid() == 0 ? (long)ap_unixd_config.user_id : -1,
                                  geteuid() == 0 ? (long)ap_unixd_config.group_id : -1,
                                  &err) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv,
                         "PoolStorage: %s", err);
        }
        if (!sc->conf.database) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv,
                         "PoolStorage is set but PoolDatabase is not: "
                         "the pool API will answer 503");
        }
        if (!sc->keys) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv,
                         "PoolKeyFile is not set: tokens cannot be issued "
                         "or verified");
        }
    }
    return OK;
}

static void pool_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *sv;

    pool_auth_throttle_child_init(pchild, s);
    pool_usage_child_init(pchild);
    for (sv = s; sv; sv = sv->next) {
        pool_srv_conf *sc = pool_srv(sv);
        server_rec *prev;

        if (!sc->conf.database) {
            continue;
        }
        /* virtual hosts with the base server's database share its pool */
        for (prev = s; prev != sv; prev = prev->next) {
            pool_srv_conf *pc = pool_srv(prev);
            if (pc->db && !strcmp(pc->conf.database, sc->conf.database)) {
                sc->db = pc->db;
                sc->files = pc->files;
                sc->msgwait = pc->msgwait;
                sc->dlcount = pc->dlcount;
                break;
            }
        }
        if (!sc->db) {
            pool_dbpool_create(pchild, sv, sc);
            sc->files = pool_filecache_create(pchild, POOL_FILECACHE_SLOTS,
                                              apr_time_from_sec(
                                                  POOL_FILECACHE_TTL));
            pool_msgwait_create(pchild, sv, sc);
            sc->dlcount = pool_dlcount_create(pchild, sv, sc->db);
        }
    }
}

/* Splits the next segment off *path (httpd has percent-decoded it).  NULL
 * at the end. */
static char *next_segment(apr_pool_t *p, const char **path)
{
    const char *s = *path, *e;

    if (*s != '/') {
        return NULL;
    }
    s++;
    e = strchr(s, '/');
    if (!e) {
        e = s + strlen(s);
    }
    *path = e;
    return apr_pstrmemdup(p, s, (apr_size_t)(e - s));
}

/* A request whose query has link= and sig= is a client link (docs/api.md,
 * "Links for clients"): its signature is checked here, its row by the
 * handler; it may only GET (or HEAD) its file or PUT its name.  DECLINED
 * when the request is not one. */
static int client_link(request_rec *r, const char *rest)
{
    pool_srv_conf *sc = pool_srv(r->server);
    const char *detail = NULL, *link_id = NULL, *s = rest;
    char *pool, *seg, *x;
    pool_link_rc lrc;

    if (!sc->keys) {
        return DECLINED;        /* signed_link refuses every sig= */
    }
    lrc = pool_link_verify_client(r->pool, sc->keys,
                                  r->method_number == M_GET ? "GET"
                                  : r->method,
                                  pool_link_canon_path(r->pool,
                                                       r->parsed_uri.path),
                                  r->args, apr_time_sec(apr_time_now()),
                                  &link_id, &detail);
    if (lrc == POOL_LINK_NONE) {
        return DECLINED;
    }
    if (lrc == POOL_LINK_EXPIRED) {
        return pool_problem(r, HTTP_GONE, "this link has expired", NULL);
    }
    if (lrc != POOL_LINK_OK) {
        return pool_problem(r, HTTP_FORBIDDEN,
                            apr_pstrcat(r->pool, "signed link refused: ",
                                        detail ? detail : "invalid", NULL),
                            NULL);
    }
    pool = next_segment(r->pool, &s);
    seg = next_segment(r->pool, &s);
    x = next_segment(r->pool, &s);
    if (pool && !pool_ident_check(pool) && seg && !strcmp(seg, "files")
        && x && *x && !*s) {
        if (r->method_number == M_GET) {
            return pool_link_download(r, pool, link_id, x);
        }
        if (r->method_number == M_PUT) {
            return pool_link_upload(r, pool, link_id, x);
        }
    }
    return pool_problem(r, HTTP_FORBIDDEN, "a signed link is valid only for "
                        "the request it was made for", NULL);
}

/* A request whose query has sig= is a signed link (docs/rounds.md): it
 * needs no other credentials and may do only what was signed: GET (or
 * HEAD) of a file, PUT of a group's result.  *who stays NULL when the
 * request is not signed. */
static int signed_link(request_rec *r, const char *rest, pool_principal **who)
{
    pool_srv_conf *sc = pool_srv(r->server);
    const char *detail = NULL, *path = r->parsed_uri.path, *s = rest;
    char *pool, *seg, *id, *what;
    pool_link_rc lrc;

    *who = NULL;
    if (!sc->keys) {
        if (r->args && ap_strstr_c(r->args, "sig=")) {
            pool_problem(r, HTTP_FORBIDDEN, "signed links are not enabled "
                         "here (no PoolKeyFile)", NULL);
            return 1;
        }
        return 0;
    }
    lrc = pool_link_verify(r->pool, sc->keys,
                           r->method_number == M_GET ? "GET" : r->method,
                           path, r->args, apr_time_sec(apr_time_now()),
                           &detail);
    if (lrc == POOL_LINK_NONE) {
        return 0;
    }
    if (lrc != POOL_LINK_OK) {
        pool_problem(r, HTTP_FORBIDDEN,
                     apr_pstrcat(r->pool, "signed link refused: ",
                                 detail ? detail : "invalid", NULL), NULL);
        return 1;
    }
    pool = next_segment(r->pool, &s);
    seg = next_segment(r->pool, &s);
    id = next_segment(r->pool, &s);
    what = next_segment(r->pool, &s);
    if (!pool || pool_ident_check(pool) || !seg || !id || !pool_uuid_valid(id)
        || !((!strcmp(seg, "files") && r->method_number == M_GET && !what)
             || (!strcmp(seg, "groups") && r->method_number == M_PUT
                 && what && !strcmp(what, "result") && !*s))) {
        pool_problem(r, HTTP_FORBIDDEN, "a signed link is valid only for the "
                     "request it was made for", NULL);
        return 1;
    }
    *who = apr_pcalloc(r->pool, sizeof(**who));
    (*who)->pool = pool;
    (*who)->role = "link";
    (*who)->client_id = NULL;
    return 0;
}

static int pool_handler(request_rec *r)
{
    const char *prefix, *path;
    char *seg, *pool;
    pool_principal *who = NULL;
    int rv;

    if (!r->handler || strcmp(r->handler, "pool")) {
        return DECLINED;
    }
    prefix = pool_dir_prefix(r);
    path = r->parsed_uri.path ? r->parsed_uri.path : r->uri;
    if (strncmp(path, prefix, strlen(prefix))) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    path += strlen(prefix);
    seg = next_segment(r->pool, &path);
    if (seg && !strcmp(seg, "dashboard")) {
        return pool_handle_dashboard(r, path);
    }
    if (!seg || strcmp(seg, "v1")) {
        return pool_problem(r, HTTP_NOT_FOUND,
                            "no such resource: the API lives under /v1/", NULL);
    }
    if ((rv = pool_api_early(r, path)) != DECLINED) {
        return rv;
    }
    seg = next_segment(r->pool, &path);
    if (seg && !strcmp(seg, "token") && !*path) {
        return pool_handle_token(r);
    }
    if (!seg || (strcmp(seg, "pools") && strcmp(seg, "processes"))) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    /* an application enrolling itself has an enrollment key, no client */
    if (!strcmp(seg, "pools")
        && (rv = pool_enroll_request(r, path)) != DECLINED) {
        return rv;
    }
    /* everything below needs a caller: a signed link, or credentials */
    if (!strcmp(seg, "pools") && (rv = client_link(r, path)) != DECLINED) {
        return rv;
    }
    if (!strcmp(seg, "pools") && signed_link(r, path, &who)) {
        return OK;
    }
    if (!who && ((rv = pool_authenticate(r, &who)) != OK || !who)) {
        return rv;
    }
    if (!strcmp(seg, "processes")) {
        char *id = next_segment(r->pool, &path);
        if (!id || *path) {
            return pool_problem(r, HTTP_NOT_FOUND, "no such process", NULL);
        }
        return pool_handle_process(r, who, id);
    }
    pool = next_segment(r->pool, &path);
    if (!pool || pool_ident_check(pool) || strcmp(pool, who->pool)) {
        /* the same answer whether another pool exists or not */
        return pool_problem(r, HTTP_NOT_FOUND, "no such pool", NULL);
    }
    seg = next_segment(r->pool, &path);
    if (seg && !strcmp(seg, "files")) {
        if (!*path && r->method_number == M_POST) {
            return pool_handle_batch(r, who, pool);
        }
        if (!*path || (!strcmp(path, "/") && r->method_number != M_PUT)) {
            return pool_handle_files(r, who, pool, NULL);
        }
        return pool_handle_files(r, who, pool, path + 1);
    }
    if (seg && !strcmp(seg, "uploads")) {
        return pool_handle_tus(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "clients")) {
        return pool_handle_clients(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "enrollment-keys")) {
        return pool_handle_enroll_keys(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "imports")) {
        return pool_handle_imports(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "groups")) {
        return pool_handle_groups(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "results")) {
        return pool_handle_results(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "folders")) {
        return pool_handle_folders(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "messages")) {
        return pool_handle_messages(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "usage") && !*path) {
        return pool_handle_usage(r, who, pool);
    }
    if (seg && !strcmp(seg, "settings") && !*path) {
        return pool_handle_settings(r, who, pool);
    }
    if (seg && !strcmp(seg, "links")) {
        return pool_handle_links(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "endpoints")) {
        return pool_handle_endpoints(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "deliveries")) {
        return pool_handle_deliveries(r, who, pool, *path ? path + 1 : NULL);
    }
    if (seg && !strcmp(seg, "upload-links")) {
        return pool_handle_upload_links(r, who, pool,
                                        *path ? path + 1 : NULL);
    }
    return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
}

static void pool_register_hooks(apr_pool_t *p)
{
    pool_register_auth_providers(p);
    ap_hook_pre_config(pool_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(pool_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(pool_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(pool_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(pool_request_id_hook, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_handler(pool_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(pool_usage_log, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(pool_error_filter_insert, NULL, NULL,
                                APR_HOOK_MIDDLE);
    pool_error_filter_register();
    /* the WebDAV view: "Dav pool" */
    pool_dav_register(p);
    ap_hook_translate_name(pool_dav_translate, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(pool_dav_map_to_storage, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_check_authn(pool_dav_bearer, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_handler(pool_dav_get, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_type_checker(pool_dav_type, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_insert_filter(pool_dav_insert_filter, NULL, NULL,
                          APR_HOOK_MIDDLE);
    pool_dav_filters_register();
}

AP_DECLARE_MODULE(pool) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    pool_create_srv_conf,
    pool_merge_srv_conf,
    pool_cmds,
    pool_register_hooks
};
