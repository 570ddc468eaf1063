/* poolctl enroll create|list|show|revoke: the keys with which client
 * applications register themselves (docs/api.md, "Enrollment"). */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_clients.h"
#include "pool_json.h"
#include "pool_name.h"
#include "pool_settings.h"

#define ENROLL_DEFAULT_LIFETIME (7 * 86400)

static const poolctl_col_t key_cols[] = {
    { "KEY_ID", "key_id", NULL },
    { "ROLE", "role", NULL },
    { "STATE", "state", NULL },
    { "USES", "uses", NULL },
    { "MAX", "uses_max", NULL },
    { "EXPIRES", "expires_at", NULL },
    { "LABELS", "labels", NULL },
    { "CREATED_BY", "created_by", NULL },
    { NULL }
};

static const poolctl_col_t created_cols[] = {
    { "key", "key", NULL },
    { "key_id", "key_id", NULL },
    { "pool", "pool", NULL },
    { "role", "role", NULL },
    { "uses_max", "uses_max", NULL },
    { "expires_at", "expires_at", NULL },
    { "labels", "labels", NULL },
    { NULL }
};

static int key_done(poolctl_t *ctl, pool_db_rc rc, const char *err,
                    json_t *data, const poolctl_col_t *cols, int json)
{
    if (rc == POOL_DB_NOTFOUND) {
        json_decref(data);
        poolctl_err("%s", err);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        json_decref(data);
        return poolctl_db_error(rc, err);
    }
    return poolctl_render(ctl, data, cols, json);
}

static int enroll_create(poolctl_t *ctl, apr_array_header_t *pos,
                         const char *role, const char *uses,
                         const char *expires, apr_array_header_t *kvs,
                         int json)
{
    const char *pool, *err = NULL, *token = NULL, *labels = NULL, *why;
    pool_enroll_key_t *k = NULL;
    apr_int64_t lifetime = ENROLL_DEFAULT_LIFETIME;
    json_t *lj = NULL, *data = NULL;
    long nuses = 0;
    pool_db_rc rc;
    PGconn *db;
    char *text;
    int r, i;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: enroll create POOL --role ROLE "
                             "[--uses N] [--expires DURATION] "
                             "[--label KEY=VALUE]... [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if (!role || (strcmp(role, "uploader") && strcmp(role, "listener")
                  && strcmp(role, "processor"))) {
        return poolctl_usage("enroll create: --role must be uploader, "
                             "listener or processor (admins are made with "
                             "'client add')");
    }
    if (uses && pool_parse_int(uses, 1, 1000000000, &nuses)) {
        return poolctl_usage("enroll create: --uses must be a number from 1");
    }
    if (expires && (pool_settings_parse_duration(ctl->p, expires, &lifetime)
                    || lifetime < 1 || lifetime > POOL_ENROLL_LIFETIME_MAX)) {
        return poolctl_usage("enroll create: --expires must be a duration "
                             "from 1s to 90d (e.g. 3600, 12h, 7d)");
    }
    for (i = 0; kvs && i < kvs->nelts; i++) {
        if ((why = pool_label_parse(ctl->p, APR_ARRAY_IDX(kvs, i,
                                                          const char *),
                                    &lj)) != NULL) {
            json_decref(lj);
            return poolctl_usage("enroll create: %s", why);
        }
    }
    if (lj) {
        text = json_dumps(lj, JSON_COMPACT);
        json_decref(lj);
        labels = text ? apr_pstrdup(ctl->p, text) : NULL;
        free(text);
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_enroll_create(ctl->p, db, pool, role, (int)nuses, (int)lifetime,
                            labels, "poolctl", &k, &token, &err);
    if (rc == POOL_DB_OK) {
        data = pool_json_enroll_key(k);
        json_object_set_new(data, "key", json_string(token));
    }
    r = key_done(ctl, rc, err, data, created_cols, json);
    if (rc == POOL_DB_OK && !json) {
        poolctl_err("note: the key is shown only this once; hand it to the "
                    "applications that will enroll");
    }
    return r;
}

static int enroll_list(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    apr_array_header_t *keys = NULL;
    const char *pool, *err = NULL;
    json_t *a = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r, i;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: enroll list POOL [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_enroll_list(ctl->p, db, pool, &keys, &err);
    if (rc == POOL_DB_OK) {
        a = json_array();
        for (i = 0; a && i < keys->nelts; i++) {
            json_array_append_new(a, pool_json_enroll_key(
                APR_ARRAY_IDX(keys, i, pool_enroll_key_t *)));
        }
    }
    return key_done(ctl, rc, err, a, key_cols, json);
}

/* show and revoke: POOL KEY_ID */
static int enroll_one(poolctl_t *ctl, apr_array_header_t *pos, int revoke,
                      int json)
{
    const char *pool, *id, *err = NULL;
    pool_enroll_key_t *k = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 3) {
        return poolctl_usage("usage: enroll %s POOL KEY_ID [--json]",
                             revoke ? "revoke" : "show");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    id = APR_ARRAY_IDX(pos, 2, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = revoke ? pool_enroll_revoke(ctl->p, db, pool, id, &k, &err)
                : pool_enroll_show(ctl->p, db, pool, id, &k, &err);
    return key_done(ctl, rc, err, rc == POOL_DB_OK ? pool_json_enroll_key(k)
                                                   : NULL, key_cols, json);
}

int poolctl_cmd_enroll(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos, *labels = NULL;
    const char *role = NULL, *uses = NULL, *expires = NULL, *sub;
    int json = 0;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json, NULL },
        { "role", 'r', 1, &role, NULL, NULL },
        { "uses", 0, 1, &uses, NULL, NULL },
        { "expires", 0, 1, &expires, NULL, NULL },
        { "label", 'l', 1, NULL, NULL, &labels },
        { NULL }
    };

    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("enroll: which? create, list, show or revoke");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (strcmp(sub, "create") && (role || uses || expires || labels)) {
        return poolctl_usage("enroll %s: --role, --uses, --expires and "
                             "--label apply to 'enroll create'",
                             poolctl_show(ctl->p, sub));
    }
    if (!strcmp(sub, "create")) {
        return enroll_create(ctl, pos, role, uses, expires, labels, json);
    }
    if (!strcmp(sub, "list")) {
        return enroll_list(ctl, pos, json);
    }
    if (!strcmp(sub, "show") || !strcmp(sub, "revoke")) {
        return enroll_one(ctl, pos, !strcmp(sub, "revoke"), json);
    }
    return poolctl_usage("enroll: unknown subcommand '%s' (create, list, "
                         "show, revoke)", poolctl_show(ctl->p, sub));
}
