/* poolctl pool create|list|show|set */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_json.h"
#include "pool_settings.h"

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

/* ---- settings */

/* The exit code of a failed call about pool name, after printing why. */
static int pool_failed(const char *name, pool_db_rc rc, const char *err)
{
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", name);
        return POOLCTL_FAIL;
    }
    return poolctl_db_error(rc, err);
}

/* The effective settings of a pool, and the stored object (for which keys
 * are set); POOLCTL_OK, or POOLCTL_FAIL after printing why. */
static int read_settings(poolctl_t *ctl, PGconn *db, const char *name,
                         pool_settings_t *s, json_t **stored, int *has_secret)
{
    const char *json = NULL, *err = NULL, *why;
    pool_db_rc rc;

    rc = pool_db_settings_get(ctl->p, db, name, &json, has_secret, &err);
    if (rc != POOL_DB_OK) {
        return pool_failed(name, rc, err);
    }
    if ((why = pool_settings_from_json(ctl->p, json, s)) != NULL) {
        poolctl_err("pool '%s': stored settings: %s", name, why);
        return POOLCTL_FAIL;
    }
    *stored = json ? json_loads(json, 0, NULL) : json_object();
    if (!*stored) {
        poolctl_err("pool '%s': cannot read the stored settings", name);
        return POOLCTL_FAIL;
    }
    return POOLCTL_OK;
}

/* Appends "key", "value" of the mode and every setting to kv, a value not
 * set in stored marked "(default)". */
static void settings_fields(apr_pool_t *p, apr_array_header_t *kv,
                            const pool_settings_t *s, json_t *stored,
                            int has_secret)
{
#define FIELD(key, value) do { \
        int set_ = json_object_get(stored, key) != NULL; \
        APR_ARRAY_PUSH(kv, const char *) = key; \
        APR_ARRAY_PUSH(kv, const char *) = set_ ? (value) \
            : apr_pstrcat(p, value, " (default)", NULL); \
    } while (0)
#define DURATION(secs) pool_settings_duration(p, secs)
#define NUMBER(n) apr_ltoa(p, n)

    APR_ARRAY_PUSH(kv, const char *) = "mode";
    APR_ARRAY_PUSH(kv, const char *) = !s->processor_url ? "pull"
        : has_secret ? "push (processor secret set)"
                     : "push (no processor secret: set processor_url again)";
    FIELD("window", s->window ? DURATION(s->window)
                              : "not set, files are not grouped");
    FIELD("offset", DURATION(s->offset));
    FIELD("lateness", DURATION(s->lateness));
    FIELD("min_files", NUMBER(s->min_files));
    FIELD("min_clients", NUMBER(s->min_clients));
    FIELD("quorum_policy", s->quorum_trigger ? "trigger" : "skip");
    FIELD("processor_url", s->processor_url ? s->processor_url : "none");
    FIELD("result_timeout", DURATION(s->result_timeout));
    FIELD("max_attempts", NUMBER(s->max_attempts));
    FIELD("late_policy", s->late_reject ? "reject" : "keep");
    FIELD("retention", s->retention ? DURATION(s->retention)
                                    : "keep for ever");
    FIELD("max_storage_bytes", s->max_storage_bytes
          ? NUMBER(s->max_storage_bytes) : "no limit");
    FIELD("max_monthly_download_bytes", s->max_monthly_download_bytes
          ? NUMBER(s->max_monthly_download_bytes) : "no limit");
    FIELD("max_clients", s->max_clients ? NUMBER(s->max_clients)
                                        : "no limit");
#undef NUMBER
#undef DURATION
#undef FIELD
}

static void print_fields(apr_array_header_t *kv)
{
    APR_ARRAY_PUSH(kv, const char *) = NULL;
    poolctl_print_fields((const char *const *)kv->elts);
}

static int pool_show(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    const char *name, *err = NULL;
    pool_pool_t *pl = NULL;
    pool_settings_t s;
    json_t *stored = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r, has_secret = 0;

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
    if (rc != POOL_DB_OK) {
        return pool_failed(name, rc, err);
    }
    r = read_settings(ctl, db, name, &s, &stored, &has_secret);
    if (r != POOLCTL_OK) {
        return r;
    }
    if (json) {
        json_t *o = pool_json_pool(pl);

        if (o && (json_object_set_new(o, "settings",
                                      pool_settings_json(&s)) != 0
                  || json_object_set_new(o, "processor_secret_set",
                                         json_boolean(has_secret)) != 0)) {
            json_decref(o);
            o = NULL;
        }
        json_decref(stored);
        return poolctl_print_json(ctl, o);
    }
    else {
        apr_array_header_t *kv = apr_array_make(ctl->p, 32,
                                                sizeof(const char *));

        APR_ARRAY_PUSH(kv, const char *) = "name";
        APR_ARRAY_PUSH(kv, const char *) = pl->name;
        APR_ARRAY_PUSH(kv, const char *) = "clients";
        APR_ARRAY_PUSH(kv, const char *) = apr_itoa(ctl->p, pl->clients);
        APR_ARRAY_PUSH(kv, const char *) = "created_at";
        APR_ARRAY_PUSH(kv, const char *) = pl->created_at;
        settings_fields(ctl->p, kv, &s, stored, has_secret);
        json_decref(stored);
        print_fields(kv);
    }
    return POOLCTL_OK;
}

static int pool_set(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    const char *name, *cur = NULL, *next, *bad, *why, *secret = NULL;
    const char *err = NULL;
    const char *const *pairs;
    pool_settings_t s;
    json_t *stored = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r, npairs, url, had_secret = 0, has_secret = 0;

    if (pos->nelts < 3) {
        return poolctl_usage("usage: pool set NAME key=value... [--json]");
    }
    name = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", name)) != POOLCTL_OK) {
        return r;
    }
    pairs = (const char *const *)pos->elts + 2;
    npairs = pos->nelts - 2;
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    /* checked here first, so that a bad pair is a usage error (2); the set
     * checks again under the row lock */
    rc = pool_db_settings_get(ctl->p, db, name, &cur, &had_secret, &err);
    if (rc != POOL_DB_OK) {
        return pool_failed(name, rc, err);
    }
    why = pool_settings_apply(ctl->p, cur, npairs, pairs, &next, &url, &bad);
    if (why) {
        poolctl_err("pool set: %s", why);
        return POOLCTL_USAGE;
    }
    rc = pool_db_settings_set(ctl->p, db, name, npairs, pairs, &secret, &err);
    if (rc != POOL_DB_OK) {
        return pool_failed(name, rc, err);
    }
    r = read_settings(ctl, db, name, &s, &stored, &has_secret);
    if (r != POOLCTL_OK) {
        return r;
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:o}", "pool", name,
                              "settings", pool_settings_json(&s));

        if (o && secret && json_object_set_new(o, "processor_secret",
                                               json_string(secret)) != 0) {
            json_decref(o);
            o = NULL;
        }
        json_decref(stored);
        if ((r = poolctl_print_json(ctl, o)) != POOLCTL_OK) {
            return r;
        }
    }
    else {
        apr_array_header_t *kv = apr_array_make(ctl->p, 32,
                                                sizeof(const char *));

        APR_ARRAY_PUSH(kv, const char *) = "name";
        APR_ARRAY_PUSH(kv, const char *) = name;
        settings_fields(ctl->p, kv, &s, stored, has_secret);
        json_decref(stored);
        print_fields(kv);
        if (secret) {
            printf("processor_secret: %s\n", secret);
        }
    }
    fflush(stdout);
    if (secret) {
        poolctl_err("note: configure processor_secret in the processor (it "
                    "verifies the signatures of the webhooks to %s); it is "
                    "shown only this once, and setting processor_url again "
                    "makes a new one", poolctl_show(ctl->p, s.processor_url));
    }
    else if (url < 0 && had_secret) {
        poolctl_err("note: processor_url cleared: pull mode; the processor "
                    "secret is forgotten");
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
        return poolctl_usage("pool: which? create, list, show or set");
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
    if (!strcmp(sub, "set")) {
        return pool_set(ctl, pos, json);
    }
    return poolctl_usage("pool: unknown subcommand '%s' (create, list, show, "
                         "set)",
                         poolctl_show(ctl->p, sub));
}
