/* poolctl pool create|list|show */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_json.h"

static int pool_create(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    const char *name, *err = NULL;
    pool_pool_t *pl = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: pool create NAME [--json]");
    }
    name = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", name)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_pool_create(ctl->p, db, name, &pl, &err);
    if (rc == POOL_DB_CONFLICT) {
        poolctl_err("pool '%s' already exists", name);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        return poolctl_print_json(ctl, pool_json_pool(pl));
    }
    return POOLCTL_OK;
}

static int pool_list(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    apr_array_header_t *pools = NULL, *rows, *row;
    const char *err = NULL;
    pool_db_rc rc;
    PGconn *db;
    int i;

    if (pos->nelts != 1) {
        return poolctl_usage("usage: pool list [--json]");
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_pool_list(ctl->p, db, &pools, &err);
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        json_t *a = json_array();

        for (i = 0; a && i < pools->nelts; i++) {
            json_t *o = pool_json_pool(APR_ARRAY_IDX(pools, i, pool_pool_t *));

            if (!o || json_array_append_new(a, o) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        return poolctl_print_json(ctl, a);
    }
    if (pools->nelts == 0) {
        return POOLCTL_OK;
    }
    rows = apr_array_make(ctl->p, pools->nelts + 1,
                          sizeof(apr_array_header_t *));
    row = apr_array_make(ctl->p, 3, sizeof(const char *));
    APR_ARRAY_PUSH(row, const char *) = "NAME";
    APR_ARRAY_PUSH(row, const char *) = "CLIENTS";
    APR_ARRAY_PUSH(row, const char *) = "CREATED";
    APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    for (i = 0; i < pools->nelts; i++) {
        pool_pool_t *pl = APR_ARRAY_IDX(pools, i, pool_pool_t *);

        row = apr_array_make(ctl->p, 3, sizeof(const char *));
        APR_ARRAY_PUSH(row, const char *) = pl->name;
        APR_ARRAY_PUSH(row, const char *) = apr_itoa(ctl->p, pl->clients);
        APR_ARRAY_PUSH(row, const char *) = pl->created_at;
        APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    }
    poolctl_print_table(rows);
    return POOLCTL_OK;
}

static int pool_show(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    const char *name, *err = NULL;
    pool_pool_t *pl = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: pool show NAME [--json]");
    }
    name = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", name)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_pool_get(ctl->p, db, name, &pl, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", name);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        return poolctl_print_json(ctl, pool_json_pool(pl));
    }
    else {
        const char *kv[] = {
            "name", pl->name,
            "clients", apr_itoa(ctl->p, pl->clients),
            "created_at", pl->created_at,
            NULL
        };
        poolctl_print_fields(kv);
    }
    return POOLCTL_OK;
}

int poolctl_cmd_pool(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    int json = 0;
    const char *sub;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json },
        { NULL }
    };

    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("pool: which? create, list or show");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (!strcmp(sub, "create")) {
        return pool_create(ctl, pos, json);
    }
    if (!strcmp(sub, "list")) {
        return pool_list(ctl, pos, json);
    }
    if (!strcmp(sub, "show")) {
        return pool_show(ctl, pos, json);
    }
    return poolctl_usage("pool: unknown subcommand '%s' (create, list, show)",
                         poolctl_show(ctl->p, sub));
}
