/* Per-pool settings (docs/rounds.md, "Pool settings"): the time windows that
 * group a pool's files, quorum, processor (push or pull mode), attempts,
 * late files and retention.
 *
 * Stored in pools.settings (jsonb): only the keys set explicitly, durations
 * as integer seconds, "quorum_policy": "skip"|"trigger", "late_policy":
 * "keep"|"reject", "processor_url": "https://...", min_files, min_clients
 * and max_attempts as integers, so that SQL may read them as
 * (settings->>'window')::bigint.  The processor's signing secret is kept
 * apart in pools.processor_secret and never appears in settings. */
#ifndef POOL_SETTINGS_H
#define POOL_SETTINGS_H

#include <apr_pools.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "pool_db.h"

#define POOL_SETTINGS_RESULT_TIMEOUT  600   /* seconds, default */
#define POOL_SETTINGS_MAX_ATTEMPTS    3     /* default */
#define POOL_SETTINGS_DELIVERY_RETENTION (30L * 86400)  /* seconds */

typedef struct {
    long window;          /* seconds; 0 = not set (files are not grouped) */
    long offset;          /* seconds, default 0 */
    long lateness;        /* seconds, default 0 */
    long min_files;       /* default 1 */
    long min_clients;     /* default 1 */
    int quorum_trigger;   /* quorum_policy: 0 skip (default), 1 trigger */
    const char *processor_url;  /* NULL: pull mode */
    long result_timeout;  /* seconds, default 600 */
    long max_attempts;    /* default 3 */
    int late_reject;      /* late_policy: 0 keep (default), 1 reject */
    long retention;       /* seconds; 0 = keep for ever (default) */
    long delivery_retention;  /* seconds the delivery log is kept (30 d) */
    long max_storage_bytes;          /* quotas; 0 = none (default) */
    long max_monthly_download_bytes;
    long max_clients;
} pool_settings_t;

void pool_settings_defaults(pool_settings_t *s);

/* Parses stored settings JSON (the jsonb text; NULL or empty: all
 * defaults); unknown keys ignored.  NULL on success, else an error message
 * (not an object, or a known key of the wrong type). */
const char *pool_settings_from_json(apr_pool_t *p, const char *json,
                                    pool_settings_t *out);

/* Validates "key=value" pairs against the current stored JSON (cur_json,
 * NULL for none) and returns the new stored JSON in *new_json.  All pairs
 * are checked before anything changes; "key=" removes the key (back to its
 * default).  On error returns a message that names the key (e.g. "window:
 * must be between 1m and 30d") and sets *bad_key (the key, or the whole
 * argument when it has no '=').  *url_changed = 1 when processor_url was set
 * to a non-empty value, -1 when it was cleared, 0 otherwise. */
const char *pool_settings_apply(apr_pool_t *p, const char *cur_json,
                                int npairs, const char *const *pairs,
                                const char **new_json, int *url_changed,
                                const char **bad_key);

/* Effective settings (defaults filled in) as a JSON object: durations in
 * seconds (window and retention null when not set), the policies as their
 * words, processor_url null in pull mode, "mode": "push"|"pull" and
 * "grouping": true|false.  Never contains a secret.  NULL on failure. */
json_t *pool_settings_json(const pool_settings_t *s);

/* A duration: whole seconds, or a number with s, m, h or d ("7d").  0 on
 * success, -1 when malformed, -2 when too large for any range. */
int pool_settings_parse_duration(apr_pool_t *p, const char *s,
                                 apr_int64_t *out);

/* A duration for people: the largest of d, h, m, s that divides it ("5m",
 * "90s", "2d"), "0" for zero. */
const char *pool_settings_duration(apr_pool_t *p, long secs);

/* DB: the stored settings JSON text of a pool and whether it has a
 * processor secret.  NOTFOUND for no pool. */
pool_db_rc pool_db_settings_get(apr_pool_t *p, PGconn *c, const char *pool,
                                const char **json, int *has_secret,
                                const char **err);

/* DB: applies pairs in one transaction (the pool's row locked, applied,
 * updated).  When processor_url is set to a non-empty value a NEW whsec_
 * secret is made, stored in pools.processor_secret and returned in
 * *new_secret (else *new_secret = NULL); clearing processor_url clears the
 * secret.  NOTFOUND for no pool; validation errors: POOL_DB_ERROR with *err
 * the message naming the key (nothing changed). */
pool_db_rc pool_db_settings_set(apr_pool_t *p, PGconn *c, const char *pool,
                                int npairs, const char *const *pairs,
                                const char **new_secret, const char **err);

#endif
