/* The delivery log of a pool's webhooks (lib/pool_endpoints.h, the
 * "deliveries" section): list with filters and keyset paging, one delivery
 * with every attempt's request and response, retry one, recover an
 * endpoint's failures since a time.  Every statement is parameterised and
 * scoped to the pool by name: a delivery of another pool is "no such
 * delivery". */
#include <string.h>

#include <apr_strings.h>

#include "pool_endpoints.h"
#include "pool_json.h"
#include "pool_ts.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define str_or_null pool_json_str_or_null

#define LIST_DEFAULT    100
#define LIST_MAX        1000
#define ATTEMPTS_SHOWN  100     /* the latest; a delivery rarely has 20 */
#define ENDPOINT_ID_LEN 27      /* "ep_" + 24 hex */

#define col_str  pool_db_col_str
#define col_i64  pool_db_col_i64
#define col_time pool_db_col_time

/* The delivery as shown: these columns, in this order (d, p, e, cl). */
#define DELIVERY_COLUMNS \
    "d.id::text, p.name, e.public_id, cl.client_id, d.event, d.url," \
    " d.state, d.attempts, d.last_status, d.last_error," \
    " CASE WHEN d.state = 'pending' THEN " \
    POOL_SQL_US("d.next_attempt_at") " END," \
    " " POOL_SQL_US("d.created_at") "," \
    " " POOL_SQL_US("d.delivered_at")
#define DELIVERY_NCOLS 13
#define DELIVERY_FROM \
    " FROM deliveries d JOIN pools p ON p.id = d.pool_id" \
    " LEFT JOIN endpoints e ON e.id = d.endpoint_id" \
    " LEFT JOIN clients cl ON cl.id = d.client_id"

static json_t *int_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null()
                                    : json_integer(col_i64(r, row, col));
}

static json_t *delivery_json(apr_pool_t *p, const PGresult *r, int i)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", str_or_null(col_str(p, r, i, 0)));
    json_object_set_new(o, "pool", str_or_null(col_str(p, r, i, 1)));
    json_object_set_new(o, "endpoint", str_or_null(col_str(p, r, i, 2)));
    json_object_set_new(o, "client", str_or_null(col_str(p, r, i, 3)));
    json_object_set_new(o, "event", str_or_null(col_str(p, r, i, 4)));
    json_object_set_new(o, "url", str_or_null(col_str(p, r, i, 5)));
    json_object_set_new(o, "state", str_or_null(col_str(p, r, i, 6)));
    json_object_set_new(o, "attempts", json_integer(col_i64(r, i, 7)));
    json_object_set_new(o, "last_status", int_or_null(r, i, 8));
    json_object_set_new(o, "last_error", str_or_null(col_str(p, r, i, 9)));
    json_object_set_new(o, "next_attempt_at",
                        str_or_null(col_time(p, r, i, 10)));
    json_object_set_new(o, "created_at", str_or_null(col_time(p, r, i, 11)));
    json_object_set_new(o, "delivered_at",
                        str_or_null(col_time(p, r, i, 12)));
    return o;
}

static int problem(pool_problem_t *pr, int status, const char *detail,
                   const char *field)
{
    pool_problem_set(pr, status, detail, field);
    return status;
}

static int db_problem(apr_pool_t *p, pool_problem_t *pr, pool_db_rc rc,
                      const char *err, const char *what)
{
    pool_problem_db(p, pr, rc, err, what);
    return pr->status;
}

static int endpoint_id_valid(const char *s)
{
    int i;

    if (strlen(s) != ENDPOINT_ID_LEN || strncmp(s, "ep_", 3)) {
        return 0;
    }
    for (i = 3; i < ENDPOINT_ID_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* "since" as the microseconds parameter of POOL_SQL_FROM_US; NULL with the
 * problem set. */
static const char *since_param(apr_pool_t *p, const char *since,
                               pool_problem_t *pr)
{
    apr_time_t t;

    if (strlen(since) > 64 || pool_ts_parse(since, &t) != 0) {
        problem(pr, 422, "since: must be a time in RFC 3339 (e.g. "
                "2026-11-21T10:15:00Z) or Unix seconds", "since");
        return NULL;
    }
    return pool_db_i64(p, (apr_int64_t)t);
}

/* The filter checked and its parameters: 0 or the status set in pr. */
static int filter_check(apr_pool_t *p, const pool_delivery_filter_t *f,
                        int *limit, const char **since, pool_problem_t *pr)
{
    *limit = f->limit ? f->limit : LIST_DEFAULT;
    if (*limit < 1 || *limit > LIST_MAX) {
        return problem(pr, 422, "limit: must be an integer from 1 to 1000",
                       "limit");
    }
    if (f->endpoint && !endpoint_id_valid(f->endpoint)) {
        return problem(pr, 422, "endpoint: must be an endpoint id "
                       "(\"ep_\" and 24 hex digits)", "endpoint");
    }
    if (f->status && strcmp(f->status, "pending")
        && strcmp(f->status, "delivered") && strcmp(f->status, "failed")) {
        return problem(pr, 422, "status: must be pending, delivered or "
                       "failed", "status");
    }
    if (f->event && pool_webhook_event_check(f->event)) {
        return problem(pr, 422, apr_pstrcat(p, "event: ",
                       pool_webhook_event_check(f->event), NULL), "event");
    }
    if (f->before && !pool_uuid_valid(f->before)) {
        return problem(pr, 422, "before: must be a delivery id, the \"next\" "
                       "of a previous listing", "before");
    }
    *since = NULL;
    if (f->since && !(*since = since_param(p, f->since, pr))) {
        return pr->status;
    }
    return 0;
}

/* The pool's id, the endpoint's and the cursor's place, each checked:
 * params[0..4] become pool id, endpoint id, cursor time (us), cursor id. */
static int list_resolve(apr_pool_t *p, PGconn *c, const char *pool,
                        const pool_delivery_filter_t *f, const char **ids,
                        pool_problem_t *pr)
{
    const char *params[3], *err = NULL;
    PGresult *res;
    pool_db_rc rc;

    params[0] = pool;
    params[1] = f->endpoint;
    params[2] = f->before;
    rc = pool_db_exec(p, c, "list deliveries",
        "SELECT p.id, e.id, " POOL_SQL_US("b.created_at") ", b.id::text"
        " FROM pools p"
        " LEFT JOIN endpoints e ON e.pool_id = p.id AND e.public_id = $2"
        " LEFT JOIN deliveries b ON b.pool_id = p.id AND b.id = $3::uuid"
        " WHERE p.name = $1",
        3, params, 4, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "pool");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return problem(pr, 404, "no such pool", NULL);
    }
    ids[0] = col_str(p, res, 0, 0);
    ids[1] = col_str(p, res, 0, 1);
    ids[2] = col_str(p, res, 0, 2);
    ids[3] = col_str(p, res, 0, 3);
    PQclear(res);
    if (f->endpoint && !ids[1]) {
        return problem(pr, 404, "no such endpoint", "endpoint");
    }
    if (f->before && !ids[3]) {
        return problem(pr, 422, "before: no such delivery in this pool (it "
                       "must be the \"next\" of a previous listing)",
                       "before");
    }
    return 0;
}

/* Adds a parameter; its placeholder "$N". */
static const char *param(apr_pool_t *p, const char **params, int *n,
                         const char *value)
{
    params[(*n)++] = value;
    return apr_psprintf(p, "$%d", *n);
}

/* POOL_SQL_FROM_US of a placeholder made at run time. */
static const char *from_us(apr_pool_t *p, const char *ph)
{
    return apr_pstrcat(p, "(to_timestamp(", ph, "::bigint / 1000000) + (",
                       ph, "::bigint % 1000000) * interval '1 microsecond')",
                       NULL);
}

int pool_deliveries_list(apr_pool_t *p, PGconn *c, const char *pool,
                         const pool_delivery_filter_t *f, json_t **out,
                         pool_problem_t *pr)
{
    /* pool, endpoint, status, event, since, before (2), limit */
    const char *params[8], *ids[4] = { NULL }, *since = NULL, *sql,
               *err = NULL;
    PGresult *res;
    pool_db_rc rc;
    json_t *items;
    int n = 0, i, limit, st;

    pool_problem_set(pr, 0, NULL, NULL);
    if ((st = filter_check(p, f, &limit, &since, pr)) != 0
        || (st = list_resolve(p, c, pool, f, ids, pr)) != 0) {
        return st;
    }
    /* only the filters given go into the statement, so that each
     * combination gets a plan that uses its index */
    sql = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM " WHERE d.pool_id = ";
    sql = apr_pstrcat(p, sql, param(p, params, &n, ids[0]), "::bigint",
                      NULL);
    if (f->endpoint) {
        sql = apr_pstrcat(p, sql, " AND d.endpoint_id = ",
                          param(p, params, &n, ids[1]), "::bigint", NULL);
    }
    if (f->status) {
        sql = apr_pstrcat(p, sql, " AND d.state = ",
                          param(p, params, &n, f->status), NULL);
    }
    if (f->event) {
        sql = apr_pstrcat(p, sql, " AND d.event = ",
                          param(p, params, &n, f->event), NULL);
    }
    if (since) {
        sql = apr_pstrcat(p, sql, " AND d.created_at >= ",
                          from_us(p, param(p, params, &n, since)), NULL);
    }
    if (f->before) {
        const char *t = from_us(p, param(p, params, &n, ids[2]));
        sql = apr_pstrcat(p, sql, " AND (d.created_at, d.id) < (", t, ", ",
                          param(p, params, &n, ids[3]), "::uuid)", NULL);
    }
    /* one more than asked: whether there is a next page */
    sql = apr_pstrcat(p, sql, " ORDER BY d.created_at DESC, d.id DESC LIMIT ",
                      param(p, params, &n, apr_itoa(p, limit + 1)), "::int",
                      NULL);
    rc = pool_db_exec(p, c, "list deliveries", sql, n, params,
                      DELIVERY_NCOLS, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "pool");
    }
    items = json_array();
    for (i = 0; i < PQntuples(res) && i < limit; i++) {
        json_array_append_new(items, delivery_json(p, res, i));
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next",
                     PQntuples(res) > limit
                     ? json_string(PQgetvalue(res, limit - 1, 0))
                     : json_null());
    PQclear(res);
    return 0;
}

/* ------------------------------------------------------------ one */

/* The attempt's JSON text column as JSON (null when NULL or unreadable). */
static json_t *json_col(const PGresult *r, int row, int col)
{
    json_t *j;

    if (PQgetisnull(r, row, col)) {
        return json_null();
    }
    j = json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
    return j ? j : json_null();
}

static json_t *attempt_json(apr_pool_t *p, const PGresult *r, int i,
                            const char *payload)
{
    const char *body = col_str(p, r, i, 9);
    int recorded = !PQgetisnull(r, i, 6) || !PQgetisnull(r, i, 2);

    /* a NULL body of a recorded attempt was the payload as it is; one
     * without method and outcome was cut before it was recorded */
    if (!body && recorded) {
        body = payload;
    }
    /* id null: the attempt under the lease, without its row yet */
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o,"
                     " s:{s:o, s:o, s:o, s:o},"
                     " s:{s:o, s:o, s:o, s:b}}",
        "id", PQgetisnull(r, i, 0) ? json_null()
                                   : json_integer(col_i64(r, i, 0)),
        "at", str_or_null(col_time(p, r, i, 1)),
        "outcome", str_or_null(col_str(p, r, i, 2)),
        "reason", str_or_null(col_str(p, r, i, 3)),
        "status", int_or_null(r, i, 4),
        "duration_ms", int_or_null(r, i, 5),
        "request",
            "method", str_or_null(col_str(p, r, i, 6)),
            "url", str_or_null(col_str(p, r, i, 7)),
            "headers", json_col(r, i, 8),
            "body", str_or_null(body),
        "response",
            "status", int_or_null(r, i, 4),
            "headers", json_col(r, i, 10),
            "body", str_or_null(col_str(p, r, i, 11)),
            "truncated", pool_db_col_bool(r, i, 12));
}

/* The latest ATTEMPTS_SHOWN attempts of delivery id, oldest first. */
static int attempts_of(apr_pool_t *p, PGconn *c, const char *id,
                       const char *payload, json_t **out, pool_problem_t *pr)
{
    const char *params[3], *err = NULL;
    PGresult *res;
    pool_db_rc rc;
    int i;

    params[0] = id;
    params[1] = apr_itoa(p, ATTEMPTS_SHOWN);
    params[2] = "no outcome recorded yet: the attempt is in flight, or its "
                "runner stopped (then it is tried again when its lease ends, "
                "at ";
    /* an attempt's row is written with its outcome (sql/017): the one
     * under a lease is shown from the lease */
    rc = pool_db_exec(p, c, "read delivery attempts",
        "SELECT * FROM (SELECT a.id, " POOL_SQL_US("a.at") ", a.outcome,"
        "   a.error, a.status, a.duration_ms, a.method, a.url,"
        "   a.request_headers::text, a.request_body,"
        "   a.response_headers::text, a.response_body, a.response_truncated"
        "  FROM delivery_attempts a WHERE a.delivery_id = $1::uuid"
        "  UNION ALL"
        "  SELECT NULL::bigint, " POOL_SQL_US("(d.locked_until - make_interval("
                                 "secs => " APR_STRINGIFY(POOL_DELIVERY_LEASE)
                                 "))") ","
        "   NULL, $3 || pool_rfc3339(d.locked_until) || ')', NULL::int,"
        "   NULL::int, NULL, NULL, NULL, NULL, NULL, NULL, false"
        "  FROM deliveries d WHERE d.id = $1::uuid AND d.state = 'pending'"
        "  AND d.lock_owner IS NOT NULL"
        "  ORDER BY 2 DESC, 1 DESC NULLS FIRST LIMIT $2::int) x"
        " ORDER BY 2, 1",
        3, params, 13, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "delivery");
    }
    *out = json_array();
    for (i = 0; i < PQntuples(res); i++) {
        json_array_append_new(*out, attempt_json(p, res, i, payload));
    }
    PQclear(res);
    return 0;
}

int pool_deliveries_get(apr_pool_t *p, PGconn *c, const char *pool,
                        const char *id, json_t **out, pool_problem_t *pr)
{
    const char *params[2], *payload, *err = NULL;
    PGresult *res;
    pool_db_rc rc;
    json_t *d, *attempts = NULL;
    int st;

    pool_problem_set(pr, 0, NULL, NULL);
    if (!pool_uuid_valid(id)) {
        return problem(pr, 404, "no such delivery", NULL);
    }
    params[0] = pool;
    params[1] = id;
    rc = pool_db_exec(p, c, "read delivery",
        "SELECT " DELIVERY_COLUMNS ", d.payload::text" DELIVERY_FROM
        " WHERE p.name = $1 AND d.id = $2::uuid",
        2, params, DELIVERY_NCOLS + 1, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "delivery");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return problem(pr, 404, "no such delivery", NULL);
    }
    d = delivery_json(p, res, 0);
    payload = col_str(p, res, 0, DELIVERY_NCOLS);
    json_object_set_new(d, "payload", json_col(res, 0, DELIVERY_NCOLS));
    PQclear(res);
    if ((st = attempts_of(p, c, id, payload, &attempts, pr)) != 0) {
        json_decref(d);
        return st;
    }
    /* "attempts" stays the count, as in the list; the log is "history" */
    json_object_set_new(d, "history", attempts);
    *out = d;
    return 0;
}

/* ------------------------------------------------------------ again */

int pool_deliveries_retry(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, pool_problem_t *pr)
{
    const char *params[2], *err = NULL, *state;
    PGresult *res;
    pool_db_rc rc;

    pool_problem_set(pr, 0, NULL, NULL);
    if (!pool_uuid_valid(id)) {
        return problem(pr, 404, "no such delivery", NULL);
    }
    params[0] = pool;
    params[1] = id;
    /* the lease is left alone: an attempt in flight finishes first; the
     * attempt count is kept, so a failed delivery gets one more try */
    rc = pool_db_exec(p, c, "retry delivery",
        "WITH old AS (SELECT d.id, d.state FROM deliveries d"
        "   JOIN pools p ON p.id = d.pool_id"
        "   WHERE p.name = $1 AND d.id = $2::uuid FOR UPDATE OF d),"
        " upd AS (UPDATE deliveries d SET state = 'pending',"
        "   next_attempt_at = now()"
        "   FROM old WHERE d.id = old.id AND old.state <> 'delivered'"
        "   RETURNING d.id)"
        " SELECT old.state FROM old",
        2, params, 1, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "delivery");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return problem(pr, 404, "no such delivery", NULL);
    }
    state = col_str(p, res, 0, 0);
    PQclear(res);
    if (state && !strcmp(state, "delivered")) {
        return problem(pr, 409, "the delivery was delivered already; "
                       "nothing to retry", NULL);
    }
    return 0;
}

int pool_endpoint_recover(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, const char *since, int *n,
                          pool_problem_t *pr)
{
    const char *params[3], *err = NULL;
    PGresult *res;
    pool_db_rc rc;
    int found;

    pool_problem_set(pr, 0, NULL, NULL);
    *n = 0;
    if (!id || !endpoint_id_valid(id)) {
        return problem(pr, 404, "no such endpoint", NULL);
    }
    if (!since) {
        return problem(pr, 422, "since: is required (the time from which "
                       "failed deliveries are sent again)", "since");
    }
    params[0] = pool;
    params[1] = id;
    if (!(params[2] = since_param(p, since, pr))) {
        return pr->status;
    }
    /* attempts start again at 0: the full retry schedule once more */
    rc = pool_db_exec(p, c, "recover deliveries",
        "WITH ep AS (SELECT e.id FROM endpoints e"
        "   JOIN pools p ON p.id = e.pool_id"
        "   WHERE p.name = $1 AND e.public_id = $2 FOR UPDATE OF e),"
        " upd AS (UPDATE deliveries d SET state = 'pending', attempts = 0,"
        "   next_attempt_at = now()"
        "   FROM ep WHERE d.endpoint_id = ep.id AND d.state = 'failed'"
        "   AND d.created_at >= " POOL_SQL_FROM_US("$3")
        "   RETURNING d.id),"
        " en AS (UPDATE endpoints e SET disabled_at = NULL,"
        "   disabled_reason = NULL, updated_at = now()"
        "   FROM ep WHERE e.id = ep.id AND e.disabled_at IS NOT NULL"
        "   RETURNING e.id)"
        " SELECT (SELECT count(*) FROM ep), (SELECT count(*) FROM upd),"
        "   (SELECT count(*) FROM en)",
        3, params, 3, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    found = (int)col_i64(res, 0, 0);
    *n = (int)col_i64(res, 0, 1);
    PQclear(res);
    if (!found) {
        return problem(pr, 404, "no such endpoint", NULL);
    }
    return 0;
}

/* ------------------------------------------------------------ stats */

/* The window's start: the since given ($2, microseconds) or a day ago. */
#define STATS_SINCE \
    "coalesce(" POOL_SQL_FROM_US("$2") ", now() - interval '24 hours')"
/* A time's whole UTC hour (date_trunc alone follows the session's zone). */
#define UTC_HOUR(t) \
    "(date_trunc('hour', (" t ") AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"

/* since as the parameter of STATS_SINCE (NULL for a day ago): 0, or the
 * status of the problem set. */
static int stats_since(apr_pool_t *p, const char *since, const char **param,
                       pool_problem_t *pr)
{
    apr_time_t t, now = apr_time_now();

    *param = NULL;
    if (!since) {
        return 0;
    }
    if (strlen(since) > 64 || pool_ts_parse(since, &t) != 0) {
        return problem(pr, 422, "since: must be a time in RFC 3339 (e.g. "
                       "2026-11-21T10:15:00Z) or Unix seconds", "since");
    }
    if (t > now) {
        return problem(pr, 422, "since: is in the future", "since");
    }
    if (now - t > apr_time_from_sec(POOL_DELIVERY_STATS_MAX_AGE)) {
        return problem(pr, 422, "since: must be at most 7 days ago",
                       "since");
    }
    *param = pool_db_i64(p, (apr_int64_t)t);
    return 0;
}

static json_t *stats_bucket(apr_pool_t *p, const PGresult *r, int i)
{
    return json_pack("{s:o, s:I, s:I, s:I, s:o, s:o}",
        "start", str_or_null(col_time(p, r, i, 2)),
        "attempts", (json_int_t)col_i64(r, i, 3),
        "delivered", (json_int_t)col_i64(r, i, 4),
        "failed", (json_int_t)col_i64(r, i, 5),
        "latency_ms_p50", int_or_null(r, i, 6),
        "latency_ms_p95", int_or_null(r, i, 7));
}

int pool_deliveries_stats(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *since, json_t **out,
                          pool_problem_t *pr)
{
    const char *params[2], *err = NULL;
    PGresult *res;
    pool_db_rc rc;
    json_t *buckets;
    int i, st;

    pool_problem_set(pr, 0, NULL, NULL);
    if ((st = stats_since(p, since, &params[1], pr)) != 0) {
        return st;
    }
    params[0] = pool;
    /* every hour from since's to now's (at least one: the clocks of
     * httpd and the database may differ a little), each joined to the
     * attempts recorded in it (NULL outcome: in flight, or cut) */
    rc = pool_db_exec(p, c, "delivery stats",
        "WITH w AS (SELECT " STATS_SINCE " AS since, now() AS until,"
        "   (SELECT id FROM pools WHERE name = $1) AS pool_id),"
        " b AS (SELECT g AS start FROM w, generate_series("
                UTC_HOUR("w.since") ","
        "   greatest(w.until, w.since), interval '1 hour') g),"
        " a AS (SELECT " UTC_HOUR("a.at") " AS start, a.outcome,"
        "   a.duration_ms FROM delivery_attempts a"
        "   JOIN deliveries d ON d.id = a.delivery_id"
        "   WHERE a.at >= " STATS_SINCE " AND a.at <= now()"
        "   AND d.pool_id = (SELECT pool_id FROM w)"
        "   AND a.outcome IS NOT NULL)"
        " SELECT " POOL_SQL_US("w.since") ", " POOL_SQL_US("w.until") ","
        "   " POOL_SQL_US("b.start") ", count(a.outcome),"
        "   count(*) FILTER (WHERE a.outcome = 'delivered'),"
        "   count(*) FILTER (WHERE a.outcome IN ('failed', 'retry')),"
        "   round(percentile_cont(0.5) WITHIN GROUP"
        "     (ORDER BY a.duration_ms))::bigint,"
        "   round(percentile_cont(0.95) WITHIN GROUP"
        "     (ORDER BY a.duration_ms))::bigint,"
        "   w.pool_id IS NOT NULL"
        " FROM w CROSS JOIN b LEFT JOIN a ON a.start = b.start"
        " GROUP BY w.since, w.until, w.pool_id, b.start ORDER BY b.start",
        2, params, 9, &res, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "pool");
    }
    if (PQntuples(res) < 1 || !pool_db_col_bool(res, 0, 8)) {
        PQclear(res);
        return problem(pr, 404, "no such pool", NULL);
    }
    buckets = json_array();
    for (i = 0; i < PQntuples(res); i++) {
        json_array_append_new(buckets, stats_bucket(p, res, i));
    }
    *out = json_pack("{s:o, s:o, s:i, s:o}",
        "since", str_or_null(col_time(p, res, 0, 0)),
        "until", str_or_null(col_time(p, res, 0, 1)),
        "bucket_seconds", 3600, "buckets", buckets);
    PQclear(res);
    return 0;
}
