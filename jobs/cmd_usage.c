/* poolctl usage POOL [--from DAY] [--to DAY] [--by day|client]
 * [--csv|--json]: what billing needs (lib/pool_usage.h). */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "poolctl.h"
#include "pool_usage.h"

static const char *byte_days(apr_pool_t *p, json_t *o)
{
    return apr_psprintf(p, "%.1f", json_real_value(
                            json_object_get(o, "storage_byte_days")));
}

#define METRIC_COLS \
    { "FILES", "files_received", NULL }, \
    { "BYTES_IN", "bytes_received", NULL }, \
    { "BYTES_OUT", "bytes_downloaded", NULL }, \
    { "RESULTS", "results_published", NULL }, \
    { "SENT", "deliveries_sent", NULL }, \
    { "FAILED", "deliveries_failed", NULL }, \
    { "PROC_S", "processing_seconds", NULL }, \
    { "MESSAGES", "messages_sent", NULL }, \
    { "BYTE_DAYS", "storage_byte_days", byte_days }

static const poolctl_col_t by_day[] = {
    { "DAY", "day", NULL }, METRIC_COLS, { NULL }
};
static const poolctl_col_t by_client[] = {
    { "CLIENT_ID", "client_id", NULL }, { "NAME", "name", NULL },
    METRIC_COLS, { NULL }
};

static const char *today(apr_pool_t *p, int first)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, apr_time_now());
    return apr_psprintf(p, "%04d-%02d-%02d", t.tm_year + 1900, t.tm_mon + 1,
                        first ? 1 : t.tm_mday);
}

int poolctl_cmd_usage(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *from = NULL, *to = NULL, *by = NULL, *pool, *err = NULL, *why;
    json_t *report = NULL, *rows;
    int json = 0, csv = 0, r;
    pool_db_rc rc;
    PGconn *db;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json, NULL },
        { "csv", 0, 0, NULL, &csv, NULL },
        { "from", 0, 1, &from, NULL, NULL },
        { "to", 0, 1, &to, NULL, NULL },
        { "by", 0, 1, &by, NULL, NULL },
        { NULL }
    };

    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts != 1 || (json && csv)) {
        return poolctl_usage("usage: usage POOL [--from DAY] [--to DAY] "
                             "[--by day|client] [--csv|--json]");
    }
    pool = APR_ARRAY_IDX(pos, 0, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return r;
    }
    if ((from && (why = pool_usage_day_check(from)))
        || (to && (why = pool_usage_day_check(to)))) {
        return poolctl_usage("usage: --from and --to %s", why);
    }
    if (by && strcmp(by, "day") && strcmp(by, "client")) {
        return poolctl_usage("usage: --by must be day or client");
    }
    from = from ? from : today(ctl->p, 1);
    to = to ? to : today(ctl->p, 0);
    if (strcmp(from, to) > 0) {
        return poolctl_usage("usage: --from must not be after --to");
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_usage_report(ctl->p, db, pool, from, to, by ? by : "day",
                           &report, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("pool '%s' not found", pool);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (json) {
        return poolctl_print_json(ctl, report);
    }
    rows = json_incref(json_object_get(report, "rows"));
    json_decref(report);
    if (csv) {
        return poolctl_render_csv(ctl, rows, by && !strcmp(by, "client")
                                  ? by_client : by_day);
    }
    return poolctl_render(ctl, rows, by && !strcmp(by, "client")
                          ? by_client : by_day, 0);
}
