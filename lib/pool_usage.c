/* Usage metering and quotas in PostgreSQL (pool_usage.h, sql/015). */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pool_usage.h"

#define col_str pool_db_col_str
#define col_i64 pool_db_col_i64

/* Key of the advisory lock of the usage step. */
#define USAGE_LOCK_KEY "5795053541357191171"
#define DAY_SECONDS    86400

const char *const pool_usage_metrics[] = {
    "files_received", "bytes_received", "bytes_downloaded",
    "results_published", "deliveries_sent", "deliveries_failed",
    "processing_seconds", "messages_sent", "storage_byte_seconds", NULL
};

static void set_err(const char **err, const char *msg)
{
    if (err) {
        *err = msg;
    }
}

pool_db_rc pool_usage_downloads(apr_pool_t *p, PGconn *c,
                                const pool_usage_download_t *d, int n,
                                int *counted, const char **err)
{
    const char **pools = apr_palloc(p, sizeof(*pools) * (apr_size_t)n);
    const char **clients = apr_palloc(p, sizeof(*clients) * (apr_size_t)n);
    const char **days = apr_palloc(p, sizeof(*days) * (apr_size_t)n);
    const char **bytes = apr_palloc(p, sizeof(*bytes) * (apr_size_t)n);
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    int i;

    *counted = 0;
    for (i = 0; i < n; i++) {
        pools[i] = d[i].pool;
        clients[i] = d[i].client_id;
        days[i] = d[i].day;
        bytes[i] = apr_psprintf(p, "%" APR_INT64_T_FMT, d[i].bytes);
    }
    params[0] = pool_db_array(p, pools, n);
    params[1] = pool_db_array(p, clients, n);
    params[2] = pool_db_array(p, days, n);
    params[3] = pool_db_array(p, bytes, n);
    /* one row per client count and one per pool total; the ordinality
     * tells the caller how many of its counts found their pool */
    rc = pool_db_exec(p, c, "count downloads",
        "WITH d AS (SELECT b.i, p.id AS pool_id, cl.id AS client_id, b.day,"
        "  b.bytes"
        "  FROM unnest($1::text[], $2::text[], $3::date[], $4::bigint[])"
        "   WITH ORDINALITY AS b(pool, client, day, bytes, i)"
        "  JOIN pools p ON p.name = b.pool"
        "  LEFT JOIN clients cl ON cl.pool_id = p.id"
        "   AND cl.client_id = b.client),"
        " ins AS (INSERT INTO usage_deltas (pool_id, client_id, day, metric,"
        "  amount)"
        "  SELECT d.pool_id, x.c, d.day, 'bytes_downloaded', d.bytes FROM d,"
        "  unnest(CASE WHEN d.client_id IS NULL THEN ARRAY[0::bigint]"
        "   ELSE ARRAY[d.client_id, 0] END) AS x(c)"
        "  WHERE d.bytes <> 0)"
        " SELECT count(*) FROM d",
        4, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *counted = (int)col_i64(r, 0, 0);
    PQclear(r);
    return POOL_DB_OK;
}

/* The first column of r's one row as what a quota leaves: NULL (no quota)
 * -1, over it 0.  NOTFOUND when r has no row (no such pool). */
static pool_db_rc quota_left(const PGresult *r, apr_int64_t *left,
                             const char **err)
{
    if (PQntuples(r) != 1) {
        set_err(err, "no such pool");
        return POOL_DB_NOTFOUND;
    }
    *left = PQgetisnull(r, 0, 0) ? -1 : col_i64(r, 0, 0);
    if (*left < -1 || (!PQgetisnull(r, 0, 0) && *left < 0)) {
        *left = 0;
    }
    return POOL_DB_OK;
}

pool_db_rc pool_usage_download_left(apr_pool_t *p, PGconn *c,
                                    const char *pool, apr_int64_t *left,
                                    apr_int64_t *reset_in, const char **err)
{
    const char *params[1] = { pool };
    PGresult *r;
    pool_db_rc rc;

    /* this month's downloads: the pool's daily totals and its deltas */
    rc = pool_db_exec(p, c, "download quota",
        "WITH m AS (SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date"
        " AS first)"
        " SELECT CASE WHEN p.settings ? 'max_monthly_download_bytes' THEN"
        " (p.settings->>'max_monthly_download_bytes')::bigint"
        " - coalesce((SELECT sum(amount) FROM usage_daily u, m"
        "   WHERE u.pool_id = p.id AND u.client_id = 0"
        "   AND u.metric = 'bytes_downloaded' AND u.day >= m.first), 0)"
        " - coalesce((SELECT sum(amount) FROM usage_deltas d, m"
        "   WHERE d.pool_id = p.id AND d.client_id = 0"
        "   AND d.metric = 'bytes_downloaded' AND d.day >= m.first), 0)"
        " END,"
        " ceil(extract(epoch FROM (m.first + interval '1 month')"
        " - (now() AT TIME ZONE 'UTC')))::bigint"
        " FROM pools p, m WHERE p.name = $1",
        1, params, 2, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if ((rc = quota_left(r, left, err)) == POOL_DB_OK) {
        *reset_in = col_i64(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

pool_db_rc pool_usage_storage_left(apr_pool_t *p, PGconn *c,
                                   const char *pool, apr_int64_t *left,
                                   const char **err)
{
    const char *params[1] = { pool };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "storage quota",
                      "SELECT (p.settings->>'max_storage_bytes')::bigint"
                      " - pool_stored_bytes(p.id) FROM pools p"
                      " WHERE p.name = $1", 1, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = quota_left(r, left, err);
    PQclear(r);
    return rc;
}

pool_db_rc pool_usage_fold(apr_pool_t *p, PGconn *c, int *folded,
                           const char **err)
{
    const char *params[1] = { USAGE_LOCK_KEY };
    PGresult *r;
    pool_db_rc rc;

    *folded = -1;
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = pool_db_exec(p, c, "usage lock",
                      "SELECT pg_try_advisory_xact_lock($1::bigint)",
                      1, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    if (strcmp(PQgetvalue(r, 0, 0), "t")) {
        PQclear(r);
        return pool_db_end(p, c, POOL_DB_OK, err);   /* another runner */
    }
    PQclear(r);
    /* The deltas visible now are removed and added where they belong in
     * one statement: a delta committed meanwhile waits for the next run. */
    rc = pool_db_exec(p, c, "fold usage",
        "WITH d AS (DELETE FROM usage_deltas RETURNING *),"
        " daily AS (INSERT INTO usage_daily AS u"
        "  (pool_id, day, client_id, metric, amount)"
        "  SELECT pool_id, day, client_id, metric, sum(amount) FROM d"
        "  WHERE metric <> 'stored_bytes' GROUP BY 1, 2, 3, 4"
        "  ON CONFLICT (pool_id, day, client_id, metric)"
        "  DO UPDATE SET amount = u.amount + EXCLUDED.amount),"
        " held AS (INSERT INTO pool_storage AS s (pool_id, client_id, bytes)"
        "  SELECT pool_id, client_id, sum(amount) FROM d"
        "  WHERE metric = 'stored_bytes' GROUP BY 1, 2"
        "  ON CONFLICT (pool_id, client_id)"
        "  DO UPDATE SET bytes = s.bytes + EXCLUDED.bytes)"
        " SELECT count(*) FROM d", 0, NULL, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    *folded = (int)col_i64(r, 0, 0);
    PQclear(r);
    /* Storage held since the last run, at what is held now (the next
     * statement sees the fold above): byte-seconds on today's date. */
    rc = pool_db_exec0(p, c, "storage byte-seconds",
        "WITH st AS (UPDATE usage_state SET sampled_at = now()"
        "  RETURNING (SELECT sampled_at FROM usage_state) AS since),"
        " secs AS (SELECT greatest(0, floor(extract(epoch FROM now() - since)))"
        "  ::bigint AS n FROM st)"
        " INSERT INTO usage_daily AS u (pool_id, day, client_id, metric,"
        "  amount)"
        " SELECT s.pool_id, (now() AT TIME ZONE 'UTC')::date, s.client_id,"
        "  'storage_byte_seconds', s.bytes * secs.n"
        " FROM pool_storage s, secs WHERE s.bytes > 0 AND secs.n > 0"
        " ON CONFLICT (pool_id, day, client_id, metric)"
        " DO UPDATE SET amount = u.amount + EXCLUDED.amount",
        0, NULL, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    return pool_db_end(p, c, rc, err);
}

const char *pool_usage_day_check(const char *s)
{
    int i;

    for (i = 0; i < 10; i++) {
        if (!s[i] || ((i == 4 || i == 7) ? s[i] != '-' : !apr_isdigit(s[i]))) {
            return "must be a day YYYY-MM-DD";
        }
    }
    return s[10] ? "must be a day YYYY-MM-DD" : NULL;
}

/* A row object with every metric at 0. */
static json_t *zero_row(void)
{
    json_t *o = json_object();
    int i;

    for (i = 0; pool_usage_metrics[i]; i++) {
        json_object_set_new(o, pool_usage_metrics[i], json_integer(0));
    }
    return o;
}

/* storage_byte_seconds shown as storage_byte_days */
static void byte_days(json_t *o)
{
    json_t *v = json_object_get(o, "storage_byte_seconds");

    json_object_set_new(o, "storage_byte_days", json_real(
        v ? (double)json_integer_value(v) / DAY_SECONDS : 0.0));
    json_object_del(o, "storage_byte_seconds");
}

pool_db_rc pool_usage_report(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *from, const char *to,
                             const char *by, json_t **out, const char **err)
{
    const char *params[4] = { pool, from, to, NULL };
    int per_client = !strcmp(by, "client");
    json_t *rows, *totals, *row = NULL;
    const char *key = NULL;
    apr_int64_t held;
    PGresult *r;
    pool_db_rc rc;
    size_t idx;
    int i, n;

    params[3] = per_client ? "1" : "0";
    /* $4 = 1: per client (client_id > 0, by client), else the pool's
     * totals (client_id 0, by day).  Both the folded rows and the deltas. */
    rc = pool_db_exec(p, c, "usage report",
        "WITH pl AS (SELECT id FROM pools WHERE name = $1),"
        " u AS (SELECT day, client_id, metric, amount FROM usage_daily, pl"
        "   WHERE pool_id = pl.id AND day BETWEEN $2::date AND $3::date"
        "   UNION ALL SELECT day, client_id, metric, amount"
        "   FROM usage_deltas, pl WHERE pool_id = pl.id"
        "   AND metric <> 'stored_bytes'"
        "   AND day BETWEEN $2::date AND $3::date),"
        " g AS (SELECT CASE WHEN $4::int = 1 THEN u.client_id::text"
        "   ELSE u.day::text END AS k, metric, sum(amount)::bigint AS n"
        "   FROM u WHERE (u.client_id > 0) = ($4::int = 1)"
        "   GROUP BY 1, 2)"
        " SELECT (SELECT count(*) FROM pl), pool_stored_bytes("
        "   (SELECT id FROM pl)), g.k, g.metric, g.n,"
        "   (SELECT c.client_id || ' ' || c.name FROM clients c"
        "    WHERE $4::int = 1 AND c.id::text = g.k)"
        " FROM (SELECT 1) one LEFT JOIN g ON true ORDER BY g.k, g.metric",
        4, params, 6, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) < 1 || col_i64(r, 0, 0) != 1) {
        PQclear(r);
        set_err(err, "no such pool");
        return POOL_DB_NOTFOUND;
    }
    held = col_i64(r, 0, 1);
    rows = json_array();
    totals = zero_row();
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        const char *k = col_str(p, r, i, 2), *metric = col_str(p, r, i, 3);
        apr_int64_t v = col_i64(r, i, 4);
        json_t *t;

        if (!k) {
            continue;           /* nothing counted in the range */
        }
        if (!key || strcmp(key, k)) {
            const char *who = col_str(p, r, i, 5), *sp;

            key = k;
            row = zero_row();
            if (per_client) {
                sp = who ? strchr(who, ' ') : NULL;
                json_object_set_new(row, "client_id", sp ? json_stringn(who,
                                    (size_t)(sp - who)) : json_null());
                json_object_set_new(row, "name", sp ? json_string(sp + 1)
                                                    : json_null());
            }
            else {
                json_object_set_new(row, "day", json_string(k));
            }
            json_array_append_new(rows, row);
        }
        json_object_set_new(row, metric, json_integer(v));
        t = json_object_get(totals, metric);
        json_object_set_new(totals, metric, json_integer(
            (t ? json_integer_value(t) : 0) + v));
    }
    PQclear(r);
    json_array_foreach(rows, idx, row) {
        byte_days(row);
    }
    byte_days(totals);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I}", "pool", pool,
                     "from", from, "to", to, "by", by, "rows", rows,
                     "totals", totals, "stored_bytes", (json_int_t)held);
    return POOL_DB_OK;
}
