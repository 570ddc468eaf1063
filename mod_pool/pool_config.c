/* Directives, server and per-directory configuration. */
#include <apr_strings.h>
#include <http_core.h>

#include "mod_pool.h"

static const struct {
    const char *name;
    unsigned int bit;
} directive_bits[] = {
    { "PoolDatabase", POOL_SET_DATABASE },
    { "PoolStorage", POOL_SET_STORAGE },
    { "PoolStorageCredentials", POOL_SET_STORAGE_CREDENTIALS },
    { "PoolKeyFile", POOL_SET_KEYFILE },
    { "PoolPublicURL", POOL_SET_PUBLIC_URL },
    { "PoolMaxFileSize", POOL_SET_MAX_FILE_SIZE },
    { "PoolMaxBatchSize", POOL_SET_MAX_BATCH_SIZE },
    { "PoolTokenLifetime", POOL_SET_TOKEN_LIFETIME },
    { "PoolDatabaseConnections", POOL_SET_DB_CONNECTIONS },
    { "PoolOutboundDeny", POOL_SET_OUTBOUND_DENY },
    { "PoolOutboundAllow", POOL_SET_OUTBOUND_ALLOW },
    { "PoolImportTimeout", POOL_SET_IMPORT_TIMEOUT },
    { "PoolUploadExpiry", POOL_SET_UPLOAD_EXPIRY },
    { "PoolCORSOrigins", POOL_SET_CORS_ORIGINS },
    { "PoolAuthThrottle", POOL_SET_AUTH_THROTTLE },
};

pool_srv_conf *pool_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &pool_module);
}

void *pool_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    pool_srv_conf *sc = apr_pcalloc(p, sizeof(*sc));

    pool_conf_defaults(&sc->conf);
    return sc;
}

void *pool_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    pool_srv_conf *base = basev, *add = addv;
    pool_srv_conf *sc = apr_pcalloc(p, sizeof(*sc));

#define MERGE(bit, field) \
    sc->conf.field = (add->set & (bit)) ? add->conf.field : base->conf.field
    MERGE(POOL_SET_DATABASE, database);
    MERGE(POOL_SET_STORAGE, storage);
    MERGE(POOL_SET_STORAGE_CREDENTIALS, storage_credentials);
    MERGE(POOL_SET_KEYFILE, key_file);
    MERGE(POOL_SET_PUBLIC_URL, public_url);
    MERGE(POOL_SET_MAX_FILE_SIZE, max_file_size);
    MERGE(POOL_SET_MAX_BATCH_SIZE, max_batch_size);
    MERGE(POOL_SET_TOKEN_LIFETIME, token_lifetime);
    MERGE(POOL_SET_DB_CONNECTIONS, db_connections);
    MERGE(POOL_SET_OUTBOUND_DENY, outbound_deny);
    MERGE(POOL_SET_OUTBOUND_ALLOW, outbound_allow);
    MERGE(POOL_SET_IMPORT_TIMEOUT, import_timeout);
    MERGE(POOL_SET_UPLOAD_EXPIRY, upload_expiry);
    MERGE(POOL_SET_CORS_ORIGINS, cors_origins);
    MERGE(POOL_SET_AUTH_THROTTLE, auth_client_max);
    MERGE(POOL_SET_AUTH_THROTTLE, auth_addr_max);
    MERGE(POOL_SET_AUTH_THROTTLE, auth_period);
#undef MERGE
    sc->keys = (add->set & POOL_SET_KEYFILE) ? add->keys : base->keys;
    sc->dashboard_dir = add->dashboard_dir ? add->dashboard_dir
                                           : base->dashboard_dir;
    sc->dashboard = add->dashboard ? add->dashboard : base->dashboard;
    sc->set = base->set | add->set;
    return sc;
}

const char *pool_dir_prefix(request_rec *r)
{
    /* core records the path of the innermost section that configured this
     * request (our own per-dir config exists only where one of our
     * directives appears, so it cannot tell) */
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    const char *d = cd && cd->d ? cd->d : "";
    apr_size_t n = strlen(d);

    /* "<Location /pool/>" and "<Location /pool>" mount the same prefix */
    if (n > 0 && d[n - 1] == '/') {
        return apr_pstrmemdup(r->pool, d, n - 1);
    }
    return d;
}

static const char *set_directive(cmd_parms *cmd, void *dummy, const char *arg)
{
    pool_srv_conf *sc = pool_srv(cmd->server);
    const char *name = cmd->directive->directive;
    const char *err;
    unsigned int i;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) != NULL) {
        return err;
    }
    if ((err = pool_conf_set(cmd->pool, &sc->conf, name, arg)) != NULL) {
        return err;
    }
    for (i = 0; i < sizeof(directive_bits) / sizeof(directive_bits[0]); i++) {
        if (!strcasecmp(directive_bits[i].name, name)) {
            sc->set |= directive_bits[i].bit;
        }
    }
    if (!strcasecmp(name, "PoolKeyFile")) {
        /* Load now, so that apachectl -t fails on a bad key file. */
        const char *path = ap_server_root_relative(cmd->pool, sc->conf.key_file);
        if (pool_keyring_load(cmd->pool, path, &sc->keys, &err) != APR_SUCCESS) {
            return apr_pstrcat(cmd->pool, "PoolKeyFile: ", err, NULL);
        }
    }
    return NULL;
}

/* A list directive: its words (quoted or not) make one value. */
static const char *set_list_directive(cmd_parms *cmd, void *dummy,
                                      const char *args)
{
    const char *joined = NULL, *w;

    while (*(w = ap_getword_conf(cmd->temp_pool, &args)) != '\0') {
        joined = joined ? apr_pstrcat(cmd->temp_pool, joined, " ", w, NULL)
                        : w;
    }
    if (!joined) {
        return apr_pstrcat(cmd->pool, cmd->directive->directive,
                           ": needs at least one value", NULL);
    }
    return set_directive(cmd, dummy, joined);
}

/* The dashboard's directives are the module's alone (poolctl has no use
 * for them and skips them: lib/pool_conf.c reads only its own). */
static const char *set_dashboard(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err) {
        return err;
    }
    pool_srv(cmd->server)->dashboard = on ? 1 : -1;
    return NULL;
}

static const char *set_dashboard_dir(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *dir;
    apr_finfo_t fi;

    if (err) {
        return err;
    }
    dir = ap_server_root_relative(cmd->pool, arg);
    if (!dir || apr_stat(&fi, dir, APR_FINFO_TYPE, cmd->temp_pool)
                != APR_SUCCESS || fi.filetype != APR_DIR) {
        return apr_pstrcat(cmd->pool, "PoolDashboardDir: ",
                           pool_conf_show(cmd->pool, arg),
                           " is not a directory", NULL);
    }
    pool_srv(cmd->server)->dashboard_dir = dir;
    return NULL;
}

const command_rec pool_cmds[] = {
    AP_INIT_TAKE1("PoolDatabase", set_directive, NULL, RSRC_CONF,
                  "libpq connection string of the metadata database"),
    AP_INIT_TAKE1("PoolStorage", set_directive, NULL, RSRC_CONF,
                  "the store: a directory, or the http(s):// URL of a WebDAV "
                  "collection shared by several nodes"),
    AP_INIT_TAKE1("PoolStorageCredentials", set_directive, NULL, RSRC_CONF,
                  "file whose first line is user:password for a WebDAV "
                  "PoolStorage (read at start-up, as root)"),
    AP_INIT_TAKE1("PoolKeyFile", set_directive, NULL, RSRC_CONF,
                  "file of token signing keys: '<kid> <base64url key>' lines; the last signs"),
    AP_INIT_TAKE1("PoolPublicURL", set_directive, NULL, RSRC_CONF,
                  "public base URL of this server; the token issuer"),
    AP_INIT_TAKE1("PoolMaxFileSize", set_directive, NULL, RSRC_CONF,
                  "largest accepted file, bytes or with K/M/G/T"),
    AP_INIT_TAKE1("PoolMaxBatchSize", set_directive, NULL, RSRC_CONF,
                  "largest multipart batch request body, bytes or with K/M/G/T "
                  "(default 4 x PoolMaxFileSize)"),
    AP_INIT_TAKE1("PoolTokenLifetime", set_directive, NULL, RSRC_CONF,
                  "lifetime of access tokens in seconds (60..86400)"),
    AP_INIT_TAKE1("PoolDatabaseConnections", set_directive, NULL, RSRC_CONF,
                  "database connections kept per httpd child (1..256)"),
    AP_INIT_TAKE1("PoolOutboundDeny", set_directive, NULL, RSRC_CONF,
                  "networks outbound requests may not reach (quoted CIDR list; "
                  "replaces the default of loopback, link-local and private)"),
    AP_INIT_TAKE1("PoolOutboundAllow", set_directive, NULL, RSRC_CONF,
                  "networks exempted from PoolOutboundDeny (quoted CIDR list)"),
    AP_INIT_TAKE1("PoolImportTimeout", set_directive, NULL, RSRC_CONF,
                  "total time allowed for one import download, seconds"),
    AP_INIT_TAKE1("PoolUploadExpiry", set_directive, NULL, RSRC_CONF,
                  "seconds after which an abandoned resumable (tus) upload "
                  "expires (default 86400)"),
    AP_INIT_RAW_ARGS("PoolCORSOrigins", set_list_directive, NULL, RSRC_CONF,
                     "browser origins (scheme://host[:port], or *) allowed "
                     "to call the API cross-origin"),
    AP_INIT_RAW_ARGS("PoolAuthThrottle", set_list_directive, NULL, RSRC_CONF,
                     "failed secrets allowed per client id and per source "
                     "address within seconds before 429 (default 20 100 60), "
                     "or off"),
    AP_INIT_FLAG("PoolDashboard", set_dashboard, NULL, RSRC_CONF,
                 "On (default): serve the pool admins' dashboard at the "
                 "API's path + /dashboard/; Off: 404 there"),
    AP_INIT_TAKE1("PoolDashboardDir", set_dashboard_dir, NULL, RSRC_CONF,
                  "directory of the dashboard's files (default: where "
                  "make install puts them)"),
    { NULL }
};
