/* poolctl deliveries list|show|retry: outbound webhooks and their attempts. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define LIST_DEFAULT 100
#define LIST_MAX     10000

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *delivery_json(const pool_delivery_t *d)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "pool", json_string(d->pool));
    json_object_set_new(o, "client_id", str_or_null(d->client_id));
    json_object_set_new(o, "event", json_string(d->event));
    json_object_set_new(o, "url", json_string(d->url));
    json_object_set_new(o, "state", json_string(d->state));
    json_object_set_new(o, "attempts", json_integer(d->attempts));
    json_object_set_new(o, "last_status", d->last_status >= 0
                        ? json_integer(d->last_status) : json_null());
    json_object_set_new(o, "last_error", str_or_null(d->last_error));
    json_object_set_new(o, "next_attempt_at", str_or_null(d->next_attempt_at));
    json_object_set_new(o, "created_at", json_string(d->created_at));
    json_object_set_new(o, "delivered_at", str_or_null(d->delivered_at));
    return o;
}

static const char *status_text(apr_pool_t *p, int status)
{
    return status >= 0 ? apr_itoa(p, status) : NULL;
}

static int check_id(poolctl_t *ctl, const char *id)
{
    if (!pool_uuid_valid(id)) {
        return poolctl_usage("'%s' is not a delivery id (a uuid, as "
                             "'deliveries list' shows)",
                             poolctl_show(ctl->p, id));
    }
    return POOLCTL_OK;
}

static int deliveries_list(poolctl_t *ctl, apr_array_header_t *pos,
                           const char *pool, int failed, const char *limit_s,
                           int json)
{
    apr_array_header_t *list = NULL, *rows, *row;
    const char *err = NULL;
    long limit = LIST_DEFAULT;
    pool_db_rc rc;
    PGconn *db;
    int i, r;

    if (pos->nelts != 1) {
        return poolctl_usage("usage: deliveries list [--pool NAME] [--failed] "
                             "[--limit N] [--json]");
    }
    if (pool && (r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if (limit_s && pool_parse_int(limit_s, 1, LIST_MAX, &limit) != 0) {
        return poolctl_usage("deliveries list: --limit takes 1..%d", LIST_MAX);
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_delivery_list(ctl->p, db, pool, failed, (int)limit, &list, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", pool);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        json_t *a = json_array();

        for (i = 0; a && i < list->nelts; i++) {
            json_t *o = delivery_json(APR_ARRAY_IDX(list, i,
                                                    pool_delivery_t *));
            if (!o || json_array_append_new(a, o) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        return poolctl_print_json(ctl, a);
    }
    if (list->nelts == 0) {
        return POOLCTL_OK;
    }
    rows = apr_array_make(ctl->p, list->nelts + 1,
                          sizeof(apr_array_header_t *));
    row = apr_array_make(ctl->p, 10, sizeof(const char *));
    APR_ARRAY_PUSH(row, const char *) = "ID";
    APR_ARRAY_PUSH(row, const char *) = "POOL";
    APR_ARRAY_PUSH(row, const char *) = "EVENT";
    APR_ARRAY_PUSH(row, const char *) = "STATE";
    APR_ARRAY_PUSH(row, const char *) = "ATTEMPTS";
    APR_ARRAY_PUSH(row, const char *) = "LAST_STATUS";
    APR_ARRAY_PUSH(row, const char *) = "NEXT_ATTEMPT";
    APR_ARRAY_PUSH(row, const char *) = "CREATED";
    APR_ARRAY_PUSH(row, const char *) = "URL";
    APR_ARRAY_PUSH(row, const char *) = "LAST_ERROR";
    APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    for (i = 0; i < list->nelts; i++) {
        pool_delivery_t *d = APR_ARRAY_IDX(list, i, pool_delivery_t *);

        row = apr_array_make(ctl->p, 10, sizeof(const char *));
        APR_ARRAY_PUSH(row, const char *) = d->id;
        APR_ARRAY_PUSH(row, const char *) = d->pool;
        APR_ARRAY_PUSH(row, const char *) = poolctl_show(ctl->p, d->event);
        APR_ARRAY_PUSH(row, const char *) = d->state;
        APR_ARRAY_PUSH(row, const char *) = apr_itoa(ctl->p, d->attempts);
        APR_ARRAY_PUSH(row, const char *) = status_text(ctl->p,
                                                        d->last_status);
        APR_ARRAY_PUSH(row, const char *) = d->next_attempt_at;
        APR_ARRAY_PUSH(row, const char *) = d->created_at;
        APR_ARRAY_PUSH(row, const char *) = poolctl_show(ctl->p, d->url);
        APR_ARRAY_PUSH(row, const char *) = d->last_error
            ? poolctl_show(ctl->p, d->last_error) : NULL;
        APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    }
    poolctl_print_table(rows);
    return POOLCTL_OK;
}

static int deliveries_show(poolctl_t *ctl, apr_array_header_t *pos, int json)
{
    apr_array_header_t *attempts = NULL, *rows, *row;
    pool_delivery_t *d = NULL;
    const char *id, *err = NULL;
    pool_db_rc rc;
    PGconn *db;
    int i, r;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: deliveries show ID [--json]");
    }
    id = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = check_id(ctl, id)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_delivery_get(ctl->p, db, id, &d, &attempts, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("delivery '%s' not found", id);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        json_t *o = delivery_json(d), *a = json_array();

        for (i = 0; i < attempts->nelts; i++) {
            pool_delivery_attempt_t *at = APR_ARRAY_IDX(attempts, i,
                                                 pool_delivery_attempt_t *);
            json_array_append_new(a, json_pack("{s:s, s:o, s:o, s:o}",
                "at", at->at,
                "status", at->status >= 0 ? json_integer(at->status)
                                          : json_null(),
                "error", str_or_null(at->error),
                "duration_ms", at->duration_ms >= 0
                               ? json_integer(at->duration_ms) : json_null()));
        }
        json_object_set_new(o, "history", a);
        return poolctl_print_json(ctl, o);
    }
    else {
        const char *kv[] = {
            "id", d->id,
            "pool", d->pool,
            "client_id", d->client_id,
            "event", poolctl_show(ctl->p, d->event),
            "url", d->url,
            "state", d->state,
            "attempts", apr_itoa(ctl->p, d->attempts),
            "last_status", status_text(ctl->p, d->last_status),
            "last_error", d->last_error,
            "next_attempt_at", d->next_attempt_at,
            "created_at", d->created_at,
            "delivered_at", d->delivered_at,
            NULL
        };
        poolctl_print_fields(kv);
    }
    if (attempts->nelts == 0) {
        return POOLCTL_OK;
    }
    fputc('\n', stdout);
    rows = apr_array_make(ctl->p, attempts->nelts + 1,
                          sizeof(apr_array_header_t *));
    row = apr_array_make(ctl->p, 4, sizeof(const char *));
    APR_ARRAY_PUSH(row, const char *) = "AT";
    APR_ARRAY_PUSH(row, const char *) = "STATUS";
    APR_ARRAY_PUSH(row, const char *) = "MS";
    APR_ARRAY_PUSH(row, const char *) = "ERROR";
    APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    for (i = 0; i < attempts->nelts; i++) {
        pool_delivery_attempt_t *at = APR_ARRAY_IDX(attempts, i,
                                                    pool_delivery_attempt_t *);

        row = apr_array_make(ctl->p, 4, sizeof(const char *));
        APR_ARRAY_PUSH(row, const char *) = at->at;
        APR_ARRAY_PUSH(row, const char *) = status_text(ctl->p, at->status);
        APR_ARRAY_PUSH(row, const char *) = at->duration_ms >= 0
            ? apr_itoa(ctl->p, at->duration_ms) : NULL;
        APR_ARRAY_PUSH(row, const char *) = at->error;
        APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
    }
    poolctl_print_table(rows);
    return POOLCTL_OK;
}

static int deliveries_retry(poolctl_t *ctl, apr_array_header_t *pos)
{
    const char *id, *err = NULL;
    pool_db_rc rc;
    PGconn *db;
    int r;

    if (pos->nelts != 2) {
        return poolctl_usage("usage: deliveries retry ID");
    }
    id = APR_ARRAY_IDX(pos, 1, const char *);
    if ((r = check_id(ctl, id)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_delivery_retry(ctl->p, db, id, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("delivery '%s' not found", id);
        return POOLCTL_FAIL;
    }
    if (rc == POOL_DB_CONFLICT) {
        poolctl_err("delivery %s: %s", id, err);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    poolctl_err("delivery %s is due now; the next 'run deliver' sends it", id);
    return POOLCTL_OK;
}

int poolctl_cmd_deliveries(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *pool = NULL, *limit = NULL, *sub;
    int json = 0, failed = 0;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json },
        { "failed", 0, 0, NULL, &failed },
        { "pool", 0, 1, &pool, NULL },
        { "limit", 0, 1, &limit, NULL },
        { NULL }
    };

    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("deliveries: which? list, show or retry");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (!strcmp(sub, "list")) {
        return deliveries_list(ctl, pos, pool, failed, limit, json);
    }
    if (pool || failed || limit) {
        return poolctl_usage("deliveries %s: --pool, --failed and --limit "
                             "apply to 'deliveries list' only",
                             poolctl_show(ctl->p, sub));
    }
    if (!strcmp(sub, "show")) {
        return deliveries_show(ctl, pos, json);
    }
    if (!strcmp(sub, "retry")) {
        if (json) {
            return poolctl_usage("deliveries retry: no --json output");
        }
        return deliveries_retry(ctl, pos);
    }
    return poolctl_usage("deliveries: unknown subcommand '%s' (list, show, "
                         "retry)", poolctl_show(ctl->p, sub));
}
