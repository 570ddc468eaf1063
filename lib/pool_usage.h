/* Usage metering and quotas (sql/015, docs/api.md "Usage and quotas").
 *
 * The counts are written by the database in the transaction of each action
 * (usage_deltas); only downloads are counted by the module, after the
 * response, from the bytes it sent (pool_usage_downloads).  The `usage` job
 * step folds the deltas into daily rows and adds storage byte-seconds;
 * reports add the deltas not folded yet, so they are exact at any time. */
#ifndef POOL_USAGE_H
#define POOL_USAGE_H

#include <jansson.h>

#include "pool_db.h"

/* The metrics, in the order reports show them. */
extern const char *const pool_usage_metrics[];

/* Bytes downloaded from a pool by a client on a day, as held by a
 * module until it writes them (pool_usage_downloads). */
typedef struct {
    const char *pool;
    const char *client_id;      /* NULL: the pool's own (signed links) */
    const char *day;            /* YYYY-MM-DD, UTC */
    apr_int64_t bytes;
} pool_usage_download_t;

/* Counts n downloads in one statement (each for its client and for its
 * pool's total).  A count for a pool that is gone is dropped: *counted
 * says how many of the n were written. */
pool_db_rc pool_usage_downloads(apr_pool_t *p, PGconn *c,
                                const pool_usage_download_t *d, int n,
                                int *counted, const char **err);

/* Download quota: *left = bytes the pool may still download this month
 * (UTC), or -1 when it has no max_monthly_download_bytes; *reset_in =
 * seconds until the month ends. */
pool_db_rc pool_usage_download_left(apr_pool_t *p, PGconn *c,
                                    const char *pool, apr_int64_t *left,
                                    apr_int64_t *reset_in, const char **err);

/* Storage quota: *left = bytes the pool may still store (0 when over), or
 * -1 when it has no max_storage_bytes. */
pool_db_rc pool_usage_storage_left(apr_pool_t *p, PGconn *c,
                                   const char *pool, apr_int64_t *left,
                                   const char **err);

/* The `usage` step: folds the deltas into usage_daily and pool_storage
 * and adds the byte-seconds held since the last run, under an advisory
 * lock (a second runner skips: *folded = -1).  *folded: deltas folded. */
pool_db_rc pool_usage_fold(apr_pool_t *p, PGconn *c, int *folded,
                           const char **err);

/* A report of pool from day `from` to day `to` (YYYY-MM-DD, inclusive):
 *   by "day":    {"day": ..., metrics...} per day with any count;
 *   by "client": {"client_id", "name", metrics...} per client;
 * metrics are the names of pool_usage_metrics (storage as
 * "storage_byte_days", a number), zeros included.  *out: {"pool", "from",
 * "to", "by", "rows": [...], "totals": {...}, "stored_bytes": now}.
 * NOTFOUND: no such pool. */
pool_db_rc pool_usage_report(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *from, const char *to,
                             const char *by, json_t **out, const char **err);

/* NULL when s is a day YYYY-MM-DD, else the reason. */
const char *pool_usage_day_check(const char *s);

#endif
