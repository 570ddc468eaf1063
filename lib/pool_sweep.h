/* poolctl sweep (and the `sweep` step of poolctl run): reclaims what
 * nobody will come back for and reconciles storage with the database.
 *
 *   - resumable (tus) uploads past their expiry: the row and the data;
 *   - upload data without an upload row, spool files left by a dead child;
 *   - retention: the files of finished groups (done, failed, skipped)
 *     received longer ago than their pool's `retention` setting, and the
 *     messages sent longer ago than it (pool_msg_purge);
 *   - committed files and stored results that have no row (debris of a
 *     crash between linking into place and the commit): moved aside to
 *     <storage>/.lost+found/, never deleted, and reported;
 *   - rows whose file or result is missing from storage: reported, never
 *     deleted.
 *
 * Safe on several hosts at once and when repeated: expired uploads and
 * retained files are claimed with FOR UPDATE SKIP LOCKED; a row is only
 * ever deleted after its bytes are gone, and re-checked under a lock
 * before it is reported missing. */
#ifndef POOL_SWEEP_H
#define POOL_SWEEP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <libpq-fe.h>

#include "pool_db.h"
#include "pool_store.h"

/* Storage entries younger than this (seconds) are left alone by default. */
#define POOL_SWEEP_MIN_AGE 3600

/* Reports list at most this many items of each kind (counts are exact). */
#define POOL_SWEEP_LIST_MAX 100

typedef struct {
    const char *kind;           /* "file" or "result" */
    const char *pool;           /* pool name (results: NULL when unknown) */
    const char *id;
    const char *name;           /* the client's name (missing rows only) */
    const char *path;           /* lost+found: where it was moved */
    apr_off_t size;
} pool_sweep_item_t;

typedef struct {
    int expired;                /* tus uploads past their expiry */
    apr_off_t expired_bytes;
    int orphans;                /* upload data without an upload */
    apr_off_t orphan_bytes;
    int spool;                  /* stale spool files */
    apr_off_t spool_bytes;
    int staged;                 /* staged files without rows, removed */
    apr_off_t staged_bytes;
    int revealed;               /* staged files with rows, revealed */
    int retained;               /* files removed by retention */
    apr_off_t retained_bytes;
    int lost;                   /* files/results without rows, moved aside */
    apr_off_t lost_bytes;
    int missing;                /* rows without their bytes (reported) */
    int expired_locks;          /* WebDAV locks past their timeout */
    int messages;               /* messages past retention removed */
    int deliveries;             /* deliveries past retention removed */
    int failures;               /* items it could not handle (logged) */
    apr_array_header_t *lost_items;     /* pool_sweep_item_t */
    apr_array_header_t *missing_items;  /* pool_sweep_item_t */
} pool_sweep_report_t;

/* Runs every part of the sweep.  `only` (a pool name, or NULL for all)
 * limits retention and both checks to that pool's files and results
 * (results without a row, which name no pool, are then not looked for);
 * uploads and the spool are swept whole either way.  Storage entries (spool, upload data,
 * committed files) younger than min_age are left alone: they may belong
 * to a request in flight.  token names this sweep's leases.  Per-item
 * failures are logged and counted, and the sweep goes on; a database
 * error or an unreadable storage tree ends it with *err. */
pool_db_rc pool_sweep(apr_pool_t *p, PGconn *c, pool_store_t *st,
                      const char *only, const char *token,
                      apr_interval_time_t min_age,
                      pool_sweep_report_t *rep, const char **err);

#endif
