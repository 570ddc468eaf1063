/* The sweep: see pool_sweep.h. */
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_hash.h>

#include "pool_clientlinks.h"
#include "pool_davlock.h"
#include "pool_sweep.h"
#include "pool_conf.h"
#include "pool_log.h"
#include "pool_endpoints.h"
#include "pool_messages.h"
#include "pool_steps.h"
#include "pool_tus.h"
#include "pool_util.h"

#define SWEEP_BATCH     100
#define SWEEP_LEASE     300                     /* seconds */
#define ROWS_PAGE       1000

static const char *errstr(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

static void list_item(pool_sweep_report_t *rep, apr_array_header_t *list,
                      const char *kind, const char *pool, const char *id,
                      const char *name, const char *path, apr_off_t size)
{
    pool_sweep_item_t *it;
    apr_pool_t *lp = list->pool;

    if (list->nelts >= POOL_SWEEP_LIST_MAX) {
        return;
    }
    it = apr_array_push(list);
    it->kind = kind;
    it->pool = pool ? apr_pstrdup(lp, pool) : NULL;
    it->id = apr_pstrdup(lp, id);
    it->name = name ? apr_pstrdup(lp, name) : NULL;
    it->path = path ? apr_pstrdup(lp, path) : NULL;
    it->size = size;
}

/* ----------------------------------------------- resumable uploads */

static pool_db_rc sweep_expired(apr_pool_t *pp, PGconn *c, pool_store_t *st,
                                const char *token, pool_sweep_report_t *rep,
                                const char **err)
{
    for (;;) {
        apr_pool_t *p;
        apr_array_header_t *ids;
        pool_db_rc rc;
        int i, n;

        apr_pool_create(&p, pp);
        rc = pool_upload_claim_expired(p, c, SWEEP_BATCH, token, SWEEP_LEASE,
                                       &ids, err);
        if (rc != POOL_DB_OK) {
            *err = apr_pstrdup(pp, *err);
            apr_pool_destroy(p);
            return rc;
        }
        for (i = 0; i < ids->nelts; i++) {
            const char *id = APR_ARRAY_IDX(ids, i, const char *);
            apr_off_t freed = 0;
            apr_status_t rv = st->ops->upload_remove(st, p, id, &freed);

            if (rv != APR_SUCCESS) {
                /* keep the row: the next sweep tries again */
                pool_log(POOL_LOG_ERR, "upload %s: cannot remove its data: %s",
                         id, errstr(p, rv));
                rep->failures++;
                continue;
            }
            rc = pool_upload_forget(p, c, id, token, err);
            if (rc != POOL_DB_OK && rc != POOL_DB_NOTFOUND) {
                *err = apr_pstrdup(pp, *err);
                apr_pool_destroy(p);
                return rc;
            }
            rep->expired++;
            rep->expired_bytes += freed;
            pool_log(POOL_LOG_INFO, "removed expired upload %s (%"
                     APR_OFF_T_FMT " bytes)", id, freed);
        }
        n = ids->nelts;
        apr_pool_destroy(p);
        if (n < SWEEP_BATCH) {
            return POOL_DB_OK;
        }
    }
}

static pool_db_rc sweep_orphans(apr_pool_t *p, PGconn *c, pool_store_t *st,
                                apr_time_t before, pool_sweep_report_t *rep,
                                const char **err)
{
    apr_array_header_t *ids, *present;
    apr_hash_t *known;
    apr_status_t rv;
    pool_db_rc rc;
    int i, from;

    rv = st->ops->upload_list_stale(st, p, before, &ids);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot list the upload data under %s: %s",
                            st->root, errstr(p, rv));
        return POOL_DB_ERROR;
    }
    /* in slices, so that one statement stays small */
    for (from = 0; from < ids->nelts; from += SWEEP_BATCH) {
        apr_array_header_t *slice = apr_array_make(p, SWEEP_BATCH,
                                                   sizeof(const char *));
        for (i = from; i < ids->nelts && i < from + SWEEP_BATCH; i++) {
            APR_ARRAY_PUSH(slice, const char *) =
                APR_ARRAY_IDX(ids, i, const char *);
        }
        rc = pool_upload_existing(p, c, slice, &present, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
        known = apr_hash_make(p);
        for (i = 0; i < present->nelts; i++) {
            apr_hash_set(known, APR_ARRAY_IDX(present, i, const char *),
                         APR_HASH_KEY_STRING, "");
        }
        for (i = 0; i < slice->nelts; i++) {
            const char *id = APR_ARRAY_IDX(slice, i, const char *);
            apr_off_t freed = 0;

            if (apr_hash_get(known, id, APR_HASH_KEY_STRING)) {
                continue;
            }
            rv = st->ops->upload_remove(st, p, id, &freed);
            if (rv != APR_SUCCESS) {
                pool_log(POOL_LOG_ERR, "cannot remove orphaned upload data "
                         "%s: %s", id, errstr(p, rv));
                rep->failures++;
                continue;
            }
            rep->orphans++;
            rep->orphan_bytes += freed;
            pool_log(POOL_LOG_INFO, "removed upload data %s that had no "
                     "upload (%" APR_OFF_T_FMT " bytes)", id, freed);
        }
    }
    return POOL_DB_OK;
}

/* ------------------------------------------------------- retention */

/* One batch: the files of finished groups past their pool's retention,
 * locked (SKIP LOCKED: another sweep takes others), their bytes removed,
 * then their rows deleted in the same transaction.  A crash after the
 * unlink leaves rows that still qualify: the next sweep finishes them. */
static pool_db_rc retention_batch(apr_pool_t *p, PGconn *c, pool_store_t *st,
                                  const char *only, pool_sweep_report_t *rep,
                                  int *n,
                                  int *removed, const char **err)
{
    const char *params[2];
    apr_array_header_t *gone;
    PGresult *r;
    pool_db_rc rc;
    int i, rows;

    *n = *removed = 0;
    if ((rc = pool_db_exec0(p, c, "begin", "BEGIN", 0, NULL, err))
        != POOL_DB_OK) {
        return rc;
    }
    params[0] = apr_itoa(p, SWEEP_BATCH);
    params[1] = only;
    rc = pool_db_exec(p, c, "claim retained files",
        "SELECT f.id::text, p.name, f.size FROM files f"
        "  JOIN pools p ON p.id = f.pool_id"
        " WHERE p.settings ? 'retention'"
        "   AND ($2::text IS NULL OR p.name = $2)"
        "   AND f.received_at < now() - make_interval(secs =>"
        "         (p.settings->>'retention')::bigint)"
        "   AND EXISTS (SELECT 1 FROM groups g WHERE g.pool_id = f.pool_id"
        "     AND g.window_start <= f.ts AND g.window_end > f.ts"
        "     AND g.state IN ('done', 'failed', 'skipped'))"
        " LIMIT $1::int FOR UPDATE OF f SKIP LOCKED",
        2, params, 3, &r, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    rows = PQntuples(r);
    gone = apr_array_make(p, rows > 0 ? rows : 1, sizeof(const char *));
    for (i = 0; i < rows; i++) {
        const char *id = PQgetvalue(r, i, 0), *pool = PQgetvalue(r, i, 1);
        apr_status_t rv = st->ops->remove(st, p, pool, id);

        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            /* the row stays (and is not reported missing) */
            pool_log(POOL_LOG_ERR, "retention: cannot remove file %s of pool "
                     "%s: %s", id, pool, errstr(p, rv));
            rep->failures++;
            continue;
        }
        APR_ARRAY_PUSH(gone, const char *) = apr_pstrdup(p, id);
        rep->retained++;
        rep->retained_bytes += (apr_off_t)pool_db_col_i64(r, i, 2);
    }
    PQclear(r);
    if (gone->nelts) {
        params[0] = pool_db_uuid_array(p, gone);
        rc = pool_db_exec0(p, c, "delete retained files",
                           "DELETE FROM files WHERE id = ANY($1::uuid[])",
                           1, params, err);
        if (rc != POOL_DB_OK) {
            return pool_db_rollback(p, c, rc);
        }
    }
    if ((rc = pool_db_exec0(p, c, "commit", "COMMIT", 0, NULL, err))
        != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    *n = rows;
    *removed = gone->nelts;
    return POOL_DB_OK;
}

static pool_db_rc sweep_retention(apr_pool_t *pp, PGconn *c, pool_store_t *st,
                                  const char *only, pool_sweep_report_t *rep,
                                  const char **err)
{
    for (;;) {
        apr_pool_t *p;
        pool_db_rc rc;
        int n, removed;

        apr_pool_create(&p, pp);
        rc = retention_batch(p, c, st, only, rep, &n, &removed, err);
        if (rc != POOL_DB_OK) {
            *err = apr_pstrdup(pp, *err);
        }
        apr_pool_destroy(p);
        /* stop at the last batch, or at one where every file failed (the
         * next would take the same files again; the failures are logged) */
        if (rc != POOL_DB_OK || n < SWEEP_BATCH || removed == 0) {
            return rc;
        }
    }
}

/* ------------------------------------ storage without rows (lost+found) */

typedef struct {
    PGconn *c;
    pool_store_t *st;
    pool_sweep_report_t *rep;
    const char *only;           /* one pool's files (no results), or NULL */
    const char *err;
    pool_db_rc rc;
} walk_baton;

/* A staged file (an ingest a crash or a lost database answer interrupted):
 * with its row it was acknowledged, and is revealed; without one it never
 * was, and is removed. */
static void staged_entry(walk_baton *wb, apr_pool_t *p, const char *pool,
                         const pool_store_entry_t *e, int has_row)
{
    apr_status_t rv;

    if (has_row) {
        rv = wb->st->ops->reveal(wb->st, p, pool, e->id);
        if (rv == APR_SUCCESS) {
            wb->rep->revealed++;
            pool_log(POOL_LOG_NOTICE, "file %s of pool %s was stored but not "
                     "revealed: revealed", e->id, pool);
            return;
        }
    }
    else {
        rv = wb->st->ops->remove(wb->st, p, pool, e->id);
        if (rv == APR_SUCCESS || APR_STATUS_IS_ENOENT(rv)) {
            wb->rep->staged++;
            wb->rep->staged_bytes += e->size;
            pool_log(POOL_LOG_INFO, "removed staged file %s of pool %s "
                     "(%" APR_OFF_T_FMT " bytes): never acknowledged, it has "
                     "no row", e->id, pool, e->size);
            return;
        }
    }
    pool_log(POOL_LOG_ERR, "staged file %s of pool %s: cannot %s it: %s",
             e->id, pool, has_row ? "reveal" : "remove", errstr(p, rv));
    wb->rep->failures++;
}

static apr_status_t lost_batch(void *baton, apr_pool_t *p, const char *pool,
                               const apr_array_header_t *entries)
{
    walk_baton *wb = baton;
    apr_array_header_t *ids = apr_array_make(p, entries->nelts,
                                             sizeof(const char *));
    apr_hash_t *known = apr_hash_make(p);
    const char *params[2];
    PGresult *r;
    int i;

    if (wb->only && (!pool || strcmp(pool, wb->only))) {
        return APR_SUCCESS;
    }
    for (i = 0; i < entries->nelts; i++) {
        APR_ARRAY_PUSH(ids, const char *) =
            APR_ARRAY_IDX(entries, i, pool_store_entry_t).id;
    }
    params[0] = pool_db_uuid_array(p, ids);
    params[1] = pool;
    if (!params[0]) {
        wb->err = "storage walk: invalid id";
        wb->rc = POOL_DB_ERROR;
        return APR_EGENERAL;
    }
    /* a file belongs to the pool whose directory holds it; a result to
     * any pool */
    wb->rc = pool
        ? pool_db_exec(p, wb->c, "find files",
                       "SELECT f.id::text FROM files f"
                       "  JOIN pools p ON p.id = f.pool_id"
                       " WHERE f.id = ANY($1::uuid[]) AND p.name = $2",
                       2, params, 1, &r, &wb->err)
        : pool_db_exec(p, wb->c, "find results",
                       "SELECT id::text FROM results"
                       " WHERE id = ANY($1::uuid[])",
                       1, params, 1, &r, &wb->err);
    if (wb->rc != POOL_DB_OK) {
        return APR_EGENERAL;
    }
    for (i = 0; i < PQntuples(r); i++) {
        apr_hash_set(known, apr_pstrdup(p, PQgetvalue(r, i, 0)),
                     APR_HASH_KEY_STRING, "");
    }
    PQclear(r);
    for (i = 0; i < entries->nelts; i++) {
        const pool_store_entry_t *e = &APR_ARRAY_IDX(entries, i,
                                                     pool_store_entry_t);
        const char *to = NULL;
        apr_status_t rv;

        if (e->staged) {
            staged_entry(wb, p, pool, e,
                         apr_hash_get(known, e->id, APR_HASH_KEY_STRING)
                         != NULL);
            continue;
        }
        if (apr_hash_get(known, e->id, APR_HASH_KEY_STRING)) {
            continue;
        }
        rv = wb->st->ops->lost_found(wb->st, p, pool, e->id, &to);
        if (APR_STATUS_IS_ENOENT(rv)) {
            continue;           /* removed meanwhile (retention, a peer) */
        }
        if (rv != APR_SUCCESS) {
            pool_log(POOL_LOG_ERR, "%s %s%s%s has no row and cannot be "
                     "moved aside: %s", pool ? "file" : "result", e->id,
                     pool ? " of pool " : "", pool ? pool : "",
                     errstr(p, rv));
            wb->rep->failures++;
            continue;
        }
        wb->rep->lost++;
        wb->rep->lost_bytes += e->size;
        list_item(wb->rep, wb->rep->lost_items, pool ? "file" : "result",
                  pool, e->id, NULL, to, e->size);
        pool_log(POOL_LOG_WARN, "%s %s%s%s (%" APR_OFF_T_FMT " bytes) has "
                 "no row: moved to %s", pool ? "file" : "result", e->id,
                 pool ? " of pool " : "", pool ? pool : "", e->size, to);
    }
    return APR_SUCCESS;
}

static pool_db_rc sweep_lost(apr_pool_t *p, PGconn *c, pool_store_t *st,
                             const char *only, apr_time_t before,
                             pool_sweep_report_t *rep, const char **err)
{
    walk_baton wb;
    apr_status_t rv;

    memset(&wb, 0, sizeof(wb));
    wb.c = c;
    wb.st = st;
    wb.rep = rep;
    wb.only = only;
    wb.rc = POOL_DB_OK;
    rv = st->ops->committed_walk(st, p, before, lost_batch, &wb);
    if (wb.rc != POOL_DB_OK) {
        *err = wb.err;
        return wb.rc;
    }
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot read the storage tree under %s: %s",
                            st->root, errstr(p, rv));
        return POOL_DB_ERROR;
    }
    return POOL_DB_OK;
}

/* ------------------------------------ rows without bytes (reported) */

/* Anything but a clear "not there" counts as present (never report a
 * store that did not answer as missing bytes). */
static int present(pool_store_t *st, apr_pool_t *p, const char *pool,
                   const char *id)
{
    apr_off_t size;

    return !APR_STATUS_IS_ENOENT(st->ops->stat(st, p, pool, id, &size));
}

/* Pages through files (kind "file") or results by seq-like key; a row
 * whose bytes are missing is checked again under FOR SHARE (which waits
 * for a sweep deleting it) before it is reported. */
static pool_db_rc sweep_missing(apr_pool_t *pp, PGconn *c, pool_store_t *st,
                                const char *only, int results,
                                pool_sweep_report_t *rep, const char **err)
{
    const char *after = results ? "00000000-0000-0000-0000-000000000000"
                                : "0";
    for (;;) {
        apr_pool_t *p;
        const char *params[3];
        apr_array_header_t *gone;
        PGresult *r;
        pool_db_rc rc;
        int i, n;

        apr_pool_create(&p, pp);
        params[0] = after;
        params[1] = apr_itoa(p, ROWS_PAGE);
        params[2] = only;
        rc = results
            ? pool_db_exec(p, c, "list results",
                           "SELECT r.id::text, p.name, r.name, r.size,"
                           "  r.id::text FROM results r"
                           "  JOIN pools p ON p.id = r.pool_id"
                           " WHERE r.id > $1::uuid"
                           "   AND ($3::text IS NULL OR p.name = $3)"
                           " ORDER BY r.id LIMIT $2::int",
                           3, params, 5, &r, err)
            : pool_db_exec(p, c, "list files",
                           "SELECT f.id::text, p.name, f.name, f.size,"
                           "  f.seq::text FROM files f"
                           "  JOIN pools p ON p.id = f.pool_id"
                           " WHERE f.seq > $1::bigint"
                           "   AND ($3::text IS NULL OR p.name = $3)"
                           " ORDER BY f.seq LIMIT $2::int",
                           3, params, 5, &r, err);
        if (rc != POOL_DB_OK) {
            *err = apr_pstrdup(pp, *err);
            apr_pool_destroy(p);
            return rc;
        }
        n = PQntuples(r);
        gone = apr_array_make(p, 8, sizeof(int));
        for (i = 0; i < n; i++) {
            const char *id = PQgetvalue(r, i, 0);

            if (!present(st, p, results ? NULL : PQgetvalue(r, i, 1), id)) {
                APR_ARRAY_PUSH(gone, int) = i;
            }
        }
        if (gone->nelts) {
            apr_array_header_t *ids = apr_array_make(p, gone->nelts,
                                                     sizeof(const char *));
            apr_hash_t *still = apr_hash_make(p);
            const char *q[1];
            PGresult *r2;

            for (i = 0; i < gone->nelts; i++) {
                APR_ARRAY_PUSH(ids, const char *) =
                    PQgetvalue(r, APR_ARRAY_IDX(gone, i, int), 0);
            }
            q[0] = pool_db_uuid_array(p, ids);
            rc = pool_db_exec(p, c, "recheck rows", results
                ? "SELECT id::text FROM results WHERE id = ANY($1::uuid[])"
                  " FOR SHARE"
                : "SELECT id::text FROM files WHERE id = ANY($1::uuid[])"
                  " FOR SHARE",
                1, q, 1, &r2, err);
            if (rc != POOL_DB_OK) {
                *err = apr_pstrdup(pp, *err);
                PQclear(r);
                apr_pool_destroy(p);
                return rc;
            }
            for (i = 0; i < PQntuples(r2); i++) {
                apr_hash_set(still, apr_pstrdup(p, PQgetvalue(r2, i, 0)),
                             APR_HASH_KEY_STRING, "");
            }
            PQclear(r2);
            for (i = 0; i < gone->nelts; i++) {
                int row = APR_ARRAY_IDX(gone, i, int);
                const char *id = PQgetvalue(r, row, 0);
                const char *pool = PQgetvalue(r, row, 1);
                const char *path = apr_psprintf(p, "%s (%s %s)", st->root,
                                                results ? "result" : "file",
                                                id);

                /* gone from the table meanwhile, or back on disk */
                if (!apr_hash_get(still, id, APR_HASH_KEY_STRING)
                    || present(st, p, results ? NULL : pool, id)) {
                    continue;
                }
                rep->missing++;
                list_item(rep, rep->missing_items,
                          results ? "result" : "file", pool, id,
                          PQgetvalue(r, row, 2), path,
                          (apr_off_t)pool_db_col_i64(r, row, 3));
                pool_log(POOL_LOG_WARN, "%s %s of pool %s (%s) is missing "
                         "from storage: %s", results ? "result" : "file",
                         id, pool, pool_conf_show(p, PQgetvalue(r, row, 2)),
                         path);
            }
        }
        if (n > 0) {
            after = apr_pstrdup(pp, PQgetvalue(r, n - 1, 4));
        }
        PQclear(r);
        apr_pool_destroy(p);
        if (n < ROWS_PAGE) {
            return POOL_DB_OK;
        }
    }
}

pool_db_rc pool_sweep(apr_pool_t *p, PGconn *c, pool_store_t *st,
                      const char *only, const char *token,
                      apr_interval_time_t min_age,
                      pool_sweep_report_t *rep, const char **err)
{
    apr_time_t before = apr_time_now() - min_age;
    apr_status_t rv;
    pool_db_rc rc;

    memset(rep, 0, sizeof(*rep));
    rep->lost_items = apr_array_make(p, 8, sizeof(pool_sweep_item_t));
    rep->missing_items = apr_array_make(p, 8, sizeof(pool_sweep_item_t));

    if ((rc = sweep_expired(p, c, st, token, rep, err)) != POOL_DB_OK
        || (rc = sweep_orphans(p, c, st, before, rep, err)) != POOL_DB_OK) {
        return rc;
    }
    rv = st->ops->spool_sweep(st, p, before, &rep->spool, &rep->spool_bytes);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot sweep the spool under %s: %s",
                            st->root, errstr(p, rv));
        return POOL_DB_ERROR;
    }
    /* retention before the checks, so that its files are not counted
     * missing or lost */
    if ((rc = sweep_retention(p, c, st, only, rep, err)) != POOL_DB_OK
        || (rc = pool_msg_purge(p, c, only, &rep->messages, err))
           != POOL_DB_OK
        || (rc = pool_delivery_purge(p, c, only, &rep->deliveries, err))
           != POOL_DB_OK
        || (rc = sweep_lost(p, c, st, only, before, rep, err)) != POOL_DB_OK
        || (rc = sweep_missing(p, c, st, only, 0, rep, err)) != POOL_DB_OK
        || (rc = sweep_missing(p, c, st, only, 1, rep, err)) != POOL_DB_OK) {
        return rc;
    }
    /* expired locks are ignored already; their rows go here */
    if ((rc = pool_davlock_purge(p, c, only, &rep->expired_locks, err))
        != POOL_DB_OK) {
        return rc;
    }
    /* links for clients, a while after they expired or were revoked */
    {
        int links = 0;

        rc = pool_clientlinks_purge(p, c, only, POOL_CLIENTLINK_KEEP, &links,
                                    err);
        if (rc == POOL_DB_OK && links) {
            pool_log(POOL_LOG_INFO, "removed %d links for clients past "
                     "their expiry or revocation", links);
        }
    }
    return rc;
}

pool_db_rc pool_step_sweep(pool_step_ctx_t *ctx, int *done, const char **err)
{
    pool_sweep_report_t rep;
    pool_db_rc rc;

    *done = 0;
    rc = pool_sweep(ctx->p, ctx->db, ctx->store, NULL,
                    apr_pstrcat(ctx->p, "sweep-", ctx->owner, NULL),
                    apr_time_from_sec(POOL_SWEEP_MIN_AGE), &rep, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *done = rep.expired + rep.orphans + rep.spool + rep.retained + rep.lost
            + rep.staged + rep.revealed + rep.messages + rep.deliveries;
    if (*done || rep.missing || rep.failures) {
        pool_log(POOL_LOG_NOTICE, "sweep: %d expired uploads, %d orphaned "
                 "upload data, %d spool files, %d unacknowledged staged "
                 "files, %d files past retention removed, %d messages past "
                 "retention removed, %d deliveries past retention removed; "
                 "%d staged files revealed; %d moved to "
                 "lost+found; %d missing from storage; %d failures",
                 rep.expired, rep.orphans, rep.spool, rep.staged,
                 rep.retained, rep.messages, rep.deliveries, rep.revealed,
                 rep.lost,
                 rep.missing, rep.failures);
    }
    return POOL_DB_OK;
}
