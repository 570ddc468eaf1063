/* poolctl client add|list|show|disable|enable|label|secret|import|token.
 * Each command builds its answer as JSON; poolctl_render prints it. */
#include <stdio.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "poolctl.h"
#include "pool_clients.h"
#include "pool_json.h"
#include "pool_jwt.h"
#include "pool_name.h"
#include "pool_settings.h"

#define CLIENT_ID_PREFIX "cl_"
#define CLIENT_ID_HEX    24

typedef struct {
    const char *role, *grace, *out;
    apr_array_header_t *labels;
    int json;
} client_opts;

static const char *state_of(apr_pool_t *p, json_t *c)
{
    (void)p;
    return json_is_true(json_object_get(c, "disabled")) ? "disabled"
                                                          : "active";
}

static const poolctl_col_t client_cols[] = {
    { "CLIENT_ID", "client_id", NULL },
    { "NAME", "name", NULL },
    { "ROLE", "role", NULL },
    { "STATE", NULL, state_of },
    { "LABELS", "labels", NULL },
    { "CREATED", "created_at", NULL },
    { NULL }
};

static const poolctl_col_t secret_cols[] = {
    { "client_id", "client_id", NULL },
    { "secret", "secret", NULL },
    { "pool", "pool", NULL },
    { "name", "name", NULL },
    { "role", "role", NULL },
    { "labels", "labels", NULL },
    { NULL }
};

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

/* The CLIENT_ID argument at pos[1] of a command taking only it (and
 * nargs - 2 more); NULL after printing the usage error. */
static const char *client_arg(poolctl_t *ctl, apr_array_header_t *pos,
                              int nargs, const char *usage)
{
    const char *id;

    if ((nargs > 0 && pos->nelts != nargs) || pos->nelts < 2) {
        poolctl_usage("usage: %s", usage);
        return NULL;
    }
    id = APR_ARRAY_IDX(pos, 1, const char *);
    if (!client_id_valid(id)) {
        poolctl_usage("'%s' is not a client id (cl_ and 24 hex digits, as "
                      "'client list' shows)", poolctl_show(ctl->p, id));
        return NULL;
    }
    return id;
}

/* --label k=v options as JSON object text (NULL when none); NULL with
 * *bad on an error. */
static const char *labels_opt(poolctl_t *ctl, apr_array_header_t *kvs,
                              const char **bad)
{
    json_t *labels = NULL;
    const char *kv;
    char *text;
    int i;

    *bad = NULL;
    for (i = 0; kvs && i < kvs->nelts; i++) {
        *bad = pool_label_parse(ctl->p, APR_ARRAY_IDX(kvs, i, const char *),
                                &labels);
        if (*bad) {
            json_decref(labels);
            return NULL;
        }
    }
    if (!labels) {
        return NULL;
    }
    text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(labels);
    if (!text) {
        *bad = "out of memory";
        return NULL;
    }
    kv = apr_pstrdup(ctl->p, text);
    free(text);
    return kv;
}

static int client_add(poolctl_t *ctl, apr_array_header_t *pos,
                      const client_opts *o)
{
    const char *pool, *secret = NULL, *err = NULL, *bad;
    pool_client_new_t in;
    pool_client_t *cl = NULL;
    json_t *j;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 3) {
        return poolctl_usage("usage: client add POOL NAME --role ROLE "
                             "[--label KEY=VALUE]... [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    in.name = APR_ARRAY_IDX(pos, 2, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK
        || (r = poolctl_check_ident(ctl->p, "client", in.name))
           != POOLCTL_OK) {
        return r;
    }
    if (!o->role) {
        return poolctl_usage("client add: --role is required (uploader, "
                             "listener, processor or admin)");
    }
    if ((r = poolctl_check_role(ctl->p, o->role)) != POOLCTL_OK) {
        return r;
    }
    in.role = o->role;
    in.labels = labels_opt(ctl, o->labels, &bad);
    if (bad) {
        return poolctl_usage("client add: %s", bad);
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_client_create(ctl->p, db, pool, &in, &cl, &secret, &err);
    if (rc == POOL_DB_NOTFOUND || rc == POOL_DB_CONFLICT) {
        poolctl_err("%s", err);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    j = pool_json_client(cl);
    json_object_set_new(j, "secret", json_string(secret));
    r = poolctl_render(ctl, j, secret_cols, o->json);
    if (!o->json) {
        poolctl_err("note: the secret is shown only this once; keep it now");
    }
    return r;
}

static json_t *clients_json(apr_array_header_t *clients)
{
    json_t *a = json_array();
    int i;

    for (i = 0; a && i < clients->nelts; i++) {
        json_t *o = pool_json_client(APR_ARRAY_IDX(clients, i,
                                                   pool_client_t *));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int client_list(poolctl_t *ctl, apr_array_header_t *pos,
                       const client_opts *o)
{
    apr_array_header_t *clients = NULL;
    pool_client_filter_t f;
    const char *pool, *err = NULL, *bad;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: client list POOL [--role ROLE] "
                             "[--label KEY=VALUE]... [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if (o->role && (r = poolctl_check_role(ctl->p, o->role)) != POOLCTL_OK) {
        return r;
    }
    memset(&f, 0, sizeof(f));
    f.role = o->role;
    f.labels = labels_opt(ctl, o->labels, &bad);
    if (bad) {
        return poolctl_usage("client list: %s", bad);
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_client_list(ctl->p, db, pool, &f, &clients, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", pool);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    return poolctl_render(ctl, clients_json(clients), client_cols, o->json);
}

/* The end of show, enable, disable and label: the client as it is. */
static int client_done(poolctl_t *ctl, pool_db_rc rc, const char *err,
                       pool_client_t *cl, const client_opts *o)
{
    if (rc == POOL_DB_NOTFOUND || rc == POOL_DB_REFUSED) {
        poolctl_err("%s", err);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    return poolctl_render(ctl, pool_json_client(cl), client_cols, o->json);
}

static int client_show(poolctl_t *ctl, apr_array_header_t *pos,
                       const client_opts *o)
{
    const char *id = client_arg(ctl, pos, 2, "client show CLIENT_ID "
                                "[--json]"), *err = NULL;
    pool_client_t *cl = NULL;
    pool_db_rc rc;
    PGconn *db;

    if (!id) {
        return POOLCTL_USAGE;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_client_show(ctl->p, db, NULL, id, &cl, &err);
    return client_done(ctl, rc, err, cl, o);
}

/* disable, enable, and label KEY=VALUE|KEY=... (KEY= removes it) */
static int client_change(poolctl_t *ctl, apr_array_header_t *pos,
                         int disabled, const client_opts *o)
{
    const char *id, *err = NULL, *patch = NULL, *bad;
    pool_client_t *cl = NULL;
    pool_db_rc rc;
    PGconn *db;

    id = client_arg(ctl, pos, disabled >= 0 ? 2 : 0, disabled >= 0
                    ? "client disable|enable CLIENT_ID"
                    : "client label CLIENT_ID KEY=VALUE|KEY=...");
    if (!id) {
        return POOLCTL_USAGE;
    }
    if (disabled < 0) {
        json_t *labels = json_object();
        char *text;
        int i;

        if (pos->nelts < 3) {
            json_decref(labels);
            return poolctl_usage("usage: client label CLIENT_ID "
                                 "KEY=VALUE|KEY=... (KEY= removes it)");
        }
        for (i = 2; i < pos->nelts; i++) {
            const char *kv = APR_ARRAY_IDX(pos, i, const char *);
            const char *eq = strchr(kv, '=');

            if (eq && !eq[1]) {
                /* KEY=: a null in the merge patch */
                json_t *one = NULL;
                bad = pool_label_parse(ctl->p, apr_pstrcat(ctl->p, kv, "x",
                                                           NULL), &one);
                json_decref(one);
                if (!bad) {
                    json_object_set_new(labels, apr_pstrmemdup(ctl->p, kv,
                                        eq - kv), json_null());
                }
            }
            else {
                bad = pool_label_parse(ctl->p, kv, &labels);
            }
            if (bad) {
                json_decref(labels);
                return poolctl_usage("client label: %s", bad);
            }
        }
        text = json_dumps(labels, JSON_COMPACT);
        json_decref(labels);
        patch = text ? apr_pstrdup(ctl->p, text) : NULL;
        free(text);
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_client_update(ctl->p, db, NULL, id, disabled, patch, &cl, &err);
    return client_done(ctl, rc, err, cl, o);
}

static int client_secret(poolctl_t *ctl, apr_array_header_t *pos,
                         const client_opts *o)
{
    const char *id = client_arg(ctl, pos, 2, "client secret CLIENT_ID "
                                "[--grace DURATION] [--json]");
    const char *err = NULL, *secret = NULL, *until = NULL;
    apr_int64_t grace = 0;
    pool_db_rc rc;
    PGconn *db;
    static const poolctl_col_t cols[] = {
        { "client_id", "client_id", NULL },
        { "secret", "secret", NULL },
        { "previous_secret_valid_until", "previous_secret_valid_until",
          NULL },
        { NULL }
    };

    if (!id) {
        return POOLCTL_USAGE;
    }
    if (o->grace && (pool_settings_parse_duration(ctl->p, o->grace, &grace)
                     || grace > POOL_ROTATE_GRACE_MAX)) {
        return poolctl_usage("client secret: --grace must be a duration of "
                             "at most 7d (e.g. 3600, 30m, 1d; 0: none)");
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_client_rotate(ctl->p, db, NULL, id, (int)grace, &secret, &until,
                            &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("%s", err);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    rc = poolctl_render(ctl, json_pack("{s:s, s:s, s:o}", "client_id", id,
                                       "secret", secret,
                                       "previous_secret_valid_until",
                                       until ? json_string(until)
                                             : json_null()),
                        cols, o->json);
    if (!o->json) {
        poolctl_err("note: the secret is shown only this once; keep it now");
    }
    return rc;
}

/* An access token for a client, signed here with the PoolKeyFile's signing
 * key as the token endpoint would (no secret needed: whoever runs poolctl
 * can read the database and the keys anyway). */
static int client_token(poolctl_t *ctl, apr_array_header_t *pos,
                        const client_opts *o)
{
    const char *id, *err = NULL, *tok;
    pool_keyring_t *keys;
    pool_client_t *cl = NULL;
    pool_db_rc rc;
    PGconn *db;

    if (!(id = client_arg(ctl, pos, 2, "client token CLIENT_ID [--json]"))) {
        return POOLCTL_USAGE;
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
    if (o->json) {
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
    client_opts o;
    const char *sub;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &o.json, NULL },
        { "role", 'r', 1, &o.role, NULL, NULL },
        { "label", 'l', 1, NULL, NULL, &o.labels },
        { "grace", 0, 1, &o.grace, NULL, NULL },
        { "out", 'o', 1, &o.out, NULL, NULL },
        { NULL }
    };

    memset(&o, 0, sizeof(o));
    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("client: which? add, list, show, disable, "
                             "enable, label, secret, import or token");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (o.role && strcmp(sub, "add") && strcmp(sub, "list")
        && strcmp(sub, "import")) {
        return poolctl_usage("client %s: --role applies to add, list and "
                             "import", poolctl_show(ctl->p, sub));
    }
    if (o.labels && strcmp(sub, "add") && strcmp(sub, "list")) {
        return poolctl_usage("client %s: --label applies to add and list",
                             poolctl_show(ctl->p, sub));
    }
    if ((o.grace && strcmp(sub, "secret"))
        || (o.out && strcmp(sub, "import"))) {
        return poolctl_usage("client %s: --%s does not apply here",
                             poolctl_show(ctl->p, sub),
                             o.grace ? "grace" : "out");
    }
    if (!strcmp(sub, "add")) {
        return client_add(ctl, pos, &o);
    }
    if (!strcmp(sub, "list")) {
        return client_list(ctl, pos, &o);
    }
    if (!strcmp(sub, "show")) {
        return client_show(ctl, pos, &o);
    }
    if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
        return client_change(ctl, pos, !strcmp(sub, "disable"), &o);
    }
    if (!strcmp(sub, "label")) {
        return client_change(ctl, pos, -1, &o);
    }
    if (!strcmp(sub, "secret")) {
        return client_secret(ctl, pos, &o);
    }
    if (!strcmp(sub, "import")) {
        return poolctl_client_import(ctl, pos, o.role, o.out, o.json);
    }
    if (!strcmp(sub, "token")) {
        return client_token(ctl, pos, &o);
    }
    return poolctl_usage("client: unknown subcommand '%s' (add, list, show, "
                         "disable, enable, label, secret, import, token)",
                         poolctl_show(ctl->p, sub));
}
