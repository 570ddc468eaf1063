/* poolctl deliveries list|show|retry|recover: the delivery log of the
 * pools' webhook endpoints (lib/pool_endpoints.h, "deliveries").  The
 * library works on one pool; without a pool, list merges every pool's and
 * show/retry look the id up in each (compatibility with the commands before
 * endpoints, which took no pool). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_conf.h"
#include "pool_endpoints.h"
#include "pool_json.h"
#include "pool_ts.h"
#include "pool_util.h"

#define LIST_DEFAULT 100
#define LIST_MAX     10000
#define PAGE_MAX     1000       /* of pool_deliveries_list */

typedef struct {
    const char *pool, *limit, *endpoint, *status, *event, *since;
    int json, failed;
} dl_opts;

static const poolctl_col_t list_cols[] = {
    { "ID", "id", NULL },
    { "POOL", "pool", NULL },
    { "ENDPOINT", "endpoint", NULL },
    { "EVENT", "event", NULL },
    { "STATE", "state", NULL },
    { "ATTEMPTS", "attempts", NULL },
    { "LAST_STATUS", "last_status", NULL },
    { "NEXT_ATTEMPT", "next_attempt_at", NULL },
    { "CREATED", "created_at", NULL },
    { "URL", "url", NULL },
    { "LAST_ERROR", "last_error", NULL },
    { NULL }
};

/* a member (or a member of a member) as text, not cut: JSON for objects */
static const char *member_text(apr_pool_t *p, json_t *o, const char *k,
                               const char *k2)
{
    json_t *v = json_object_get(o, k);

    if (k2) {
        v = json_object_get(v, k2);
    }
    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (json_is_string(v)) {
        return poolctl_text(p, json_string_value(v));
    }
    if (json_is_integer(v)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(v));
    }
    if (json_is_boolean(v)) {
        return json_is_true(v) ? "true" : "false";
    }
    return poolctl_text(p, pool_json_dump(p, v));
}

#define MEMBER_FMT(fn, k, k2) \
    static const char *fn(apr_pool_t *p, json_t *o) \
    { return member_text(p, o, k, k2); }
MEMBER_FMT(url_of, "url", NULL)
MEMBER_FMT(error_of, "last_error", NULL)
MEMBER_FMT(payload_of, "payload", NULL)
MEMBER_FMT(reason_of, "reason", NULL)
MEMBER_FMT(req_method, "request", "method")
MEMBER_FMT(req_url, "request", "url")
MEMBER_FMT(req_headers, "request", "headers")
MEMBER_FMT(req_body, "request", "body")
MEMBER_FMT(resp_status, "response", "status")
MEMBER_FMT(resp_headers, "response", "headers")
MEMBER_FMT(resp_body, "response", "body")

static const char *resp_truncated(apr_pool_t *p, json_t *o)
{
    (void)p;
    return json_is_true(json_object_get(json_object_get(o, "response"),
                                        "truncated"))
           ? "yes (the first 64 KB are kept)" : "no";
}

static const poolctl_col_t show_cols[] = {
    { "id", "id", NULL },
    { "pool", "pool", NULL },
    { "endpoint", "endpoint", NULL },
    { "client", "client", NULL },
    { "event", "event", NULL },
    { "url", NULL, url_of },
    { "state", "state", NULL },
    { "attempts", "attempts", NULL },
    { "last_status", "last_status", NULL },
    { "last_error", NULL, error_of },
    { "next_attempt_at", "next_attempt_at", NULL },
    { "created_at", "created_at", NULL },
    { "delivered_at", "delivered_at", NULL },
    { "payload", NULL, payload_of },
    { NULL }
};

static const poolctl_col_t attempt_cols[] = {
    { "AT", "at", NULL },
    { "OUTCOME", "outcome", NULL },
    { "STATUS", "status", NULL },
    { "MS", "duration_ms", NULL },
    { "REASON", NULL, reason_of },
    { NULL }
};

static const poolctl_col_t last_cols[] = {
    { "request", NULL, req_method },
    { "url", NULL, req_url },
    { "request_headers", NULL, req_headers },
    { "request_body", NULL, req_body },
    { "response_status", NULL, resp_status },
    { "response_headers", NULL, resp_headers },
    { "response_body", NULL, resp_body },
    { "response_truncated", NULL, resp_truncated },
    { NULL }
};

static int check_delivery_id(poolctl_t *ctl, const char *id)
{
    if (!pool_uuid_valid(id)) {
        return poolctl_usage("'%s' is not a delivery id (a uuid, as "
                             "'deliveries list' shows)",
                             poolctl_show(ctl->p, id));
    }
    return POOLCTL_OK;
}

/* Every pool's name; NULL after printing why. */
static apr_array_header_t *pool_names(poolctl_t *ctl, PGconn *db)
{
    apr_array_header_t *pools = NULL, *names;
    const char *err = NULL;
    pool_db_rc rc;
    int i;

    rc = pool_db_pool_list(ctl->p, db, &pools, &err);
    if (rc != POOL_DB_OK) {
        poolctl_db_error(rc, err);
        return NULL;
    }
    names = apr_array_make(ctl->p, pools->nelts + 1, sizeof(const char *));
    for (i = 0; i < pools->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) =
            APR_ARRAY_IDX(pools, i, pool_pool_t *)->name;
    }
    return names;
}

/* Up to limit deliveries of one pool (newest first), appended to all. */
static int list_pool(poolctl_t *ctl, PGconn *db, const char *pool,
                     pool_delivery_filter_t *f, int limit, json_t *all)
{
    pool_problem_t pr = { 0 };
    int got = 0, st;

    f->before = NULL;
    while (got < limit) {
        json_t *page = NULL, *items, *next;

        f->limit = limit - got > PAGE_MAX ? PAGE_MAX : limit - got;
        st = pool_deliveries_list(ctl->p, db, pool, f, &page, &pr);
        if (st) {
            return poolctl_problem(ctl, "deliveries list", st, &pr);
        }
        items = json_object_get(page, "items");
        got += (int)json_array_size(items);
        json_array_extend(all, items);
        next = json_object_get(page, "next");
        f->before = json_is_string(next)
                    ? apr_pstrdup(ctl->p, json_string_value(next)) : NULL;
        json_decref(page);
        if (!f->before) {
            break;
        }
    }
    return POOLCTL_OK;
}

typedef struct {
    apr_time_t t;
    const char *id;
    json_t *o;
} dl_item;

static int newest_first(const void *a, const void *b)
{
    const dl_item *x = a, *y = b;

    if (x->t != y->t) {
        return x->t < y->t ? 1 : -1;
    }
    return -strcmp(x->id, y->id);
}

/* The newest limit of every pool's lists merged. */
static json_t *merge_newest(poolctl_t *ctl, json_t *all, int limit)
{
    size_t n = json_array_size(all), i;
    dl_item *items = apr_pcalloc(ctl->p, sizeof(dl_item) * (n + 1));
    json_t *out = json_array();

    for (i = 0; i < n; i++) {
        json_t *o = json_array_get(all, i);
        const char *at = json_string_value(json_object_get(o, "created_at"));
        const char *id = json_string_value(json_object_get(o, "id"));

        items[i].o = o;
        items[i].id = id ? id : "";
        if (!at || pool_ts_parse(at, &items[i].t) != 0) {
            items[i].t = 0;
        }
    }
    qsort(items, n, sizeof(dl_item), newest_first);
    for (i = 0; i < n && (int)i < limit; i++) {
        json_array_append(out, items[i].o);
    }
    json_decref(all);
    return out;
}

static int deliveries_list(poolctl_t *ctl, apr_array_header_t *pos,
                           dl_opts *o)
{
    pool_delivery_filter_t f;
    apr_array_header_t *pools;
    const char *pool = o->pool;
    long limit = LIST_DEFAULT;
    json_t *all;
    PGconn *db;
    int r, i;

    memset(&f, 0, sizeof(f));
    if (pos->nelts > 2) {
        return poolctl_usage("usage: deliveries list [POOL] [--endpoint ID] "
                             "[--status S] [--event E] [--since T] "
                             "[--limit N] [--json]");
    }
    if (pos->nelts == 2) {
        if (pool && strcmp(pool, APR_ARRAY_IDX(pos, 1, const char *))) {
            return poolctl_usage("deliveries list: two different pools "
                                 "(POOL and --pool)");
        }
        pool = APR_ARRAY_IDX(pos, 1, const char *);
    }
    if (pool && (r = poolctl_check_ident(ctl->p, "pool", pool))
                != POOLCTL_OK) {
        return r;
    }
    if (o->limit && pool_parse_int(o->limit, 1, LIST_MAX, &limit) != 0) {
        return poolctl_usage("deliveries list: --limit takes 1..%d",
                             LIST_MAX);
    }
    if (o->failed && o->status && strcmp(o->status, "failed")) {
        return poolctl_usage("deliveries list: --failed is --status failed");
    }
    f.status = o->failed ? "failed" : o->status;
    if (f.status && strcmp(f.status, "pending")
        && strcmp(f.status, "delivered") && strcmp(f.status, "failed")) {
        return poolctl_usage("deliveries list: --status must be pending, "
                             "delivered or failed");
    }
    if (o->endpoint) {
        if (!pool) {
            return poolctl_usage("deliveries list: --endpoint needs the "
                                 "POOL");
        }
        if ((r = poolctl_endpoint_id_check(ctl, o->endpoint))
            != POOLCTL_OK) {
            return r;
        }
        f.endpoint = o->endpoint;
    }
    f.event = o->event;
    if (o->since && (r = poolctl_since(ctl, "deliveries list", o->since,
                                       &f.since)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    if (pool) {
        pools = apr_array_make(ctl->p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(pools, const char *) = pool;
    }
    else if (!(pools = pool_names(ctl, db))) {
        return POOLCTL_FAIL;
    }
    all = json_array();
    for (i = 0; i < pools->nelts; i++) {
        r = list_pool(ctl, db, APR_ARRAY_IDX(pools, i, const char *), &f,
                      (int)limit, all);
        if (r != POOLCTL_OK) {
            json_decref(all);
            return r;
        }
    }
    if (pools->nelts > 1) {
        all = merge_newest(ctl, all, (int)limit);
    }
    return poolctl_render(ctl, all, list_cols, o->json);
}

/* pos: SUB [POOL] ID.  Finds the delivery (in every pool when POOL is not
 * given); *d its JSON with the attempts.  An exit code. */
static int find_delivery(poolctl_t *ctl, apr_array_header_t *pos,
                         const char *what, const char *usage, PGconn **dbp,
                         const char **pool, const char **id, json_t **d)
{
    apr_array_header_t *pools;
    pool_problem_t pr = { 0 };
    PGconn *db;
    int r, i, st = 404;

    if (pos->nelts != 2 && pos->nelts != 3) {
        return poolctl_usage("usage: deliveries %s", usage);
    }
    *id = APR_ARRAY_IDX(pos, pos->nelts - 1, const char *);
    *pool = pos->nelts == 3 ? APR_ARRAY_IDX(pos, 1, const char *) : NULL;
    if ((*pool && (r = poolctl_check_ident(ctl->p, "pool", *pool))
                  != POOLCTL_OK)
        || (r = check_delivery_id(ctl, *id)) != POOLCTL_OK) {
        return r;
    }
    if (!(db = *dbp = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    if (*pool) {
        pools = apr_array_make(ctl->p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(pools, const char *) = *pool;
    }
    else if (!(pools = pool_names(ctl, db))) {
        return POOLCTL_FAIL;
    }
    for (i = 0; i < pools->nelts && st == 404; i++) {
        *pool = APR_ARRAY_IDX(pools, i, const char *);
        st = pool_deliveries_get(ctl->p, db, *pool, *id, d, &pr);
    }
    if (st == 404) {
        poolctl_err("%s: delivery %s not found", what, *id);
        return POOLCTL_FAIL;
    }
    return st ? poolctl_problem(ctl, what, st, &pr) : POOLCTL_OK;
}

static int deliveries_show(poolctl_t *ctl, apr_array_header_t *pos,
                           dl_opts *o)
{
    const char *pool = NULL, *id = NULL;
    json_t *d = NULL, *attempts;
    PGconn *db;
    size_t n;
    int r;

    r = find_delivery(ctl, pos, "deliveries show", "show [POOL] ID [--json]",
                      &db, &pool, &id, &d);
    if (r != POOLCTL_OK || o->json) {
        return r != POOLCTL_OK ? r : poolctl_render(ctl, d, NULL, 1);
    }
    attempts = json_incref(json_object_get(d, "history"));
    n = json_array_size(attempts);
    r = poolctl_render(ctl, d, show_cols, 0);
    if (r == POOLCTL_OK && n) {
        json_t *last = json_incref(json_array_get(attempts, n - 1));

        fputs("\nattempts:\n", stdout);
        r = poolctl_render(ctl, json_incref(attempts), attempt_cols, 0);
        fputs("\nlast attempt:\n", stdout);
        if (r == POOLCTL_OK) {
            r = poolctl_render(ctl, last, last_cols, 0);
        }
        else {
            json_decref(last);
        }
    }
    json_decref(attempts);
    return r;
}

static int deliveries_retry(poolctl_t *ctl, apr_array_header_t *pos)
{
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *id = NULL;
    json_t *d = NULL;
    PGconn *db;
    int r, st;

    r = find_delivery(ctl, pos, "deliveries retry", "retry [POOL] ID", &db,
                      &pool, &id, &d);
    json_decref(d);
    if (r != POOLCTL_OK) {
        return r;
    }
    st = pool_deliveries_retry(ctl->p, db, pool, id, &pr);
    if (st) {
        return poolctl_problem(ctl, "deliveries retry", st, &pr);
    }
    poolctl_err("delivery %s is due now; the next 'run deliver' sends it",
                id);
    return POOLCTL_OK;
}

static int deliveries_recover(poolctl_t *ctl, apr_array_header_t *pos,
                              dl_opts *o)
{
    static const poolctl_col_t cols[] = {
        { "pool", "pool", NULL },
        { "endpoint", "endpoint", NULL },
        { "since", "since", NULL },
        { "recovered", "recovered", NULL },
        { NULL }
    };
    pool_problem_t pr = { 0 };
    const char *pool, *ep, *since = NULL;
    PGconn *db;
    int r, st, n = 0;

    if (pos->nelts != 3 || !o->since) {
        return poolctl_usage("usage: deliveries recover POOL ENDPOINT "
                             "--since T [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    ep = APR_ARRAY_IDX(pos, 2, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK
        || (r = poolctl_endpoint_id_check(ctl, ep)) != POOLCTL_OK
        || (r = poolctl_since(ctl, "deliveries recover", o->since, &since))
           != POOLCTL_OK) {
        return r;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    st = pool_endpoint_recover(ctl->p, db, pool, ep, since, &n, &pr);
    if (st) {
        return poolctl_problem(ctl, "deliveries recover", st, &pr);
    }
    r = poolctl_render(ctl, json_pack("{s:s, s:s, s:s, s:i}", "pool", pool,
                                      "endpoint", ep, "since", since,
                                      "recovered", n), cols, o->json);
    if (!o->json) {
        poolctl_err("%d failed deliveries are due again (the endpoint is "
                    "enabled); the next 'run deliver' sends them", n);
    }
    return r;
}

int poolctl_cmd_deliveries(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *sub;
    dl_opts o;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &o.json, NULL },
        { "failed", 0, 0, NULL, &o.failed, NULL },
        { "pool", 0, 1, &o.pool, NULL, NULL },
        { "limit", 0, 1, &o.limit, NULL, NULL },
        { "endpoint", 0, 1, &o.endpoint, NULL, NULL },
        { "status", 0, 1, &o.status, NULL, NULL },
        { "event", 0, 1, &o.event, NULL, NULL },
        { "since", 0, 1, &o.since, NULL, NULL },
        { NULL }
    };

    memset(&o, 0, sizeof(o));
    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("deliveries: which? list, show, retry or "
                             "recover");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (!strcmp(sub, "list")) {
        return deliveries_list(ctl, pos, &o);
    }
    if (o.pool || o.failed || o.limit || o.endpoint || o.status || o.event) {
        return poolctl_usage("deliveries %s: --pool, --failed, --limit, "
                             "--endpoint, --status and --event apply to "
                             "'deliveries list' only",
                             poolctl_show(ctl->p, sub));
    }
    if (o.since && strcmp(sub, "recover")) {
        return poolctl_usage("deliveries %s: --since applies to list and "
                             "recover", poolctl_show(ctl->p, sub));
    }
    if (!strcmp(sub, "show")) {
        return deliveries_show(ctl, pos, &o);
    }
    if (!strcmp(sub, "retry")) {
        if (o.json) {
            return poolctl_usage("deliveries retry: no --json output");
        }
        return deliveries_retry(ctl, pos);
    }
    if (!strcmp(sub, "recover")) {
        return deliveries_recover(ctl, pos, &o);
    }
    return poolctl_usage("deliveries: unknown subcommand '%s' (list, show, "
                         "retry, recover)", poolctl_show(ctl->p, sub));
}
