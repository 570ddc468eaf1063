/* poolctl client add|list|disable|token */
#include <stdio.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "poolctl.h"
#include "pool_json.h"
#include "pool_jwt.h"

#define CLIENT_ID_PREFIX "cl_"
#define CLIENT_ID_HEX    24

/* "cl_" + 24 lower-case hex digits. */
static int client_id_valid(const char *s)
{
    int i;

    if (strncmp(s, CLIENT_ID_PREFIX, 3)) {
        return 0;
    }
    for (i = 0; i < CLIENT_ID_HEX; i++) {
        char ch = s[3 + i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }
    return s[3 + CLIENT_ID_HEX] == '\0';
}

static int client_add(poolctl_t *ctl, apr_array_header_t *pos,
                      const char *role, int json)
{
    const char *pool, *name, *secret = NULL, *err = NULL;
    pool_client_t *cl = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 3) {
        return poolctl_usage("usage: client add POOL NAME --role ROLE "
                             "[--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    name = APR_ARRAY_IDX(pos, 2, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK
        || (r = poolctl_check_ident(ctl->p, "client", name)) != POOLCTL_OK) {
        return r;
    }
    if (!role) {
        return poolctl_usage("client add: --role is required (uploader, "
                             "listener, processor or admin)");
    }
    if ((r = poolctl_check_role(ctl->p, role)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_client_add(ctl->p, db, pool, name, role, &cl, &secret, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", pool);
        return POOLCTL_FAIL;
    }
    if (rc == POOL_DB_CONFLICT) {
        poolctl_err("client '%s' already exists in pool '%s'", name, pool);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}",
                              "client_id", cl->client_id,
                              "secret", secret,
                              "pool", cl->pool,
                              "name", cl->name,
                              "role", cl->role);
        return poolctl_print_json(ctl, o);
    }
    else {
        const char *kv[] = {
            "client_id", cl->client_id,
            "secret", secret,
            "pool", cl->pool,
            "name", cl->name,
            "role", cl->role,
            NULL
        };
        poolctl_print_fields(kv);
        fflush(stdout);
        poolctl_err("note: the secret is shown only this once; keep it now");
    }
    return POOLCTL_OK;
}

static int client_list(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    apr_array_header_t *clients = NULL, *rows, *row;
    const char *pool, *err = NULL;
    pool_db_rc rc;
    PGconn *db;
    int i, r;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: client list POOL [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_client_list(ctl->p, db, pool, &clients, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", pool);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        json_t *a = json_array();

        for (i = 0; a && i < clients->nelts; i++) {
            json_t *o = pool_json_client(APR_ARRAY_IDX(clients, i,
                                                       pool_client_t *));

            if (!o || json_array_append_new(a, o) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        return poolctl_print_json(ctl, a);
    }
    if (clients->nelts == 0) {
        return POOLCTL_OK;
    }
    rows = apr_array_make(ctl->p, clients->nelts + 1,
                          sizeof(apr_array_header_t *));
    row = apr_array_make(ctl->p, 5, sizeof(const char *));
    APR_ARRAY_PUSH(row, const char *) = "CLIENT_ID";
    APR_ARRAY_PUSH(row, const char *) = "NAME";
    APR_ARRAY_PUSH(row, const char *) = "ROLE";
    APR_ARRAY_PUSH(row, const char *) = "STATE";
    APR_ARRAY_PUSH(row, const char *) = "CREATED";
    APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    for (i = 0; i < clients->nelts; i++) {
        pool_client_t *cl = APR_ARRAY_IDX(clients, i, pool_client_t *);

        row = apr_array_make(ctl->p, 5, sizeof(const char *));
        APR_ARRAY_PUSH(row, const char *) = cl->client_id;
        APR_ARRAY_PUSH(row, const char *) = cl->name;
        APR_ARRAY_PUSH(row, const char *) = cl->role;
        APR_ARRAY_PUSH(row, const char *) = cl->disabled ? "disabled"
                                                         : "active";
        APR_ARRAY_PUSH(row, const char *) = cl->created_at;
        APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    }
    poolctl_print_table(rows);
    return POOLCTL_OK;
}

static int client_disable(poolctl_t *ctl, apr_array_header_t *pos)
{
    const char *id, *err = NULL;
    pool_db_rc rc;
    PGconn *db;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: client disable CLIENT_ID");
    }
    id = APR_ARRAY_IDX(pos, 1, const char *);
    if (!client_id_valid(id)) {
        return poolctl_usage("'%s' is not a client id (cl_ and 24 hex "
                             "digits, as 'client list' shows)",
                             poolctl_show(ctl->p, id));
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_client_disable(ctl->p, db, id, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("client '%s' not found", id);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    return POOLCTL_OK;
}

/* An access token for a client, signed here with the PoolKeyFile's signing
 * key as the token endpoint would (no secret needed: whoever runs poolctl
 * can read the database and the keys anyway). */
static int client_token(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    const char *id, *err = NULL, *tok;
    pool_keyring_t *keys;
    pool_client_t *cl = NULL;
    pool_db_rc rc;
    PGconn *db;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: client token CLIENT_ID [--json]");
    }
    id = APR_ARRAY_IDX(pos, 1, const char *);
    if (!client_id_valid(id)) {
        return poolctl_usage("'%s' is not a client id (cl_ and 24 hex "
                             "digits, as 'client list' shows)",
                             poolctl_show(ctl->p, id));
    }
    if (poolctl_conf(ctl) != POOLCTL_OK) {
        return POOLCTL_FAIL;
    }
    if (!ctl->conf.key_file) {
        poolctl_err("client token: PoolKeyFile is not set in %s: no token "
                    "can be signed", ctl->conf_path);
        return POOLCTL_FAIL;
    }
    if (pool_keyring_load(ctl->p, ctl->conf.key_file, &keys, &err)
        != APR_SUCCESS) {
        poolctl_err("client token: %s", err);
        return POOLCTL_FAIL;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_client_get(ctl->p, db, id, &cl, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("client '%s' not found", id);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (cl->disabled) {
        poolctl_err("client '%s' is disabled: no token for it", id);
        return POOLCTL_FAIL;
    }
    tok = pool_token_issue(ctl->p, keys, pool_conf_issuer(&ctl->conf),
                           ctl->conf.token_lifetime, cl->client_id, cl->pool,
                           cl->role, apr_time_sec(apr_time_now()));
    if (!tok) {
        poolctl_err("client token: cannot sign with %s", ctl->conf.key_file);
        return POOLCTL_FAIL;
    }
    if (json) {
        return poolctl_print_json(ctl, json_pack(
            "{s:s, s:s, s:i, s:s, s:s, s:s}", "access_token", tok,
            "token_type", "Bearer", "expires_in", ctl->conf.token_lifetime,
            "client_id", cl->client_id, "pool", cl->pool, "role", cl->role));
    }
    /* the token alone, for TOKEN=$(poolctl client token ID) */
    printf("%s\n", tok);
    return POOLCTL_OK;
}

int poolctl_cmd_client(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *role = NULL, *sub;
    int json = 0;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json },
        { "role", 'r', 1, &role, NULL },
        { NULL }
    };

    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("client: which? add, list, disable or token");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (!strcmp(sub, "add")) {
        return client_add(ctl, pos, role, json);
    }
    if (role) {
        return poolctl_usage("client %s: --role applies to 'client add' only",
                             poolctl_show(ctl->p, sub));
    }
    if (!strcmp(sub, "list")) {
        return client_list(ctl, pos, json);
    }
    if (!strcmp(sub, "disable")) {
        if (json) {
            return poolctl_usage("client disable: no --json output");
        }
        return client_disable(ctl, pos);
    }
    if (!strcmp(sub, "token")) {
        return client_token(ctl, pos, json);
    }
    return poolctl_usage("client: unknown subcommand '%s' (add, list, "
                         "disable, token)", poolctl_show(ctl->p, sub));
}
