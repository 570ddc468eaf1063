/* poolctl sweep [--json]: reclaims the space of what nobody will come back
 * for.
 *
 *   - resumable (tus) uploads past their expiry (PoolUploadExpiry after
 *     their last progress): the row and the data received so far; a
 *     completed upload's file stays, only the upload record goes;
 *   - upload data without a row, last written more than an hour ago (a
 *     crash between deleting an upload and its data);
 *   - spool files last written more than an hour ago (an upload whose
 *     httpd child died).
 *
 * Safe to run on several hosts at once and again and again: an expired
 * upload is claimed with a lease (FOR UPDATE SKIP LOCKED) before its data
 * is removed, and its row goes last. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_time.h>

#include "poolctl.h"
#include "pool_log.h"
#include "pool_store.h"
#include "pool_tus.h"
#include "pool_util.h"

#define SWEEP_BATCH     100
#define SWEEP_LEASE     300                     /* seconds */
#define STALE_AFTER     apr_time_from_sec(3600)

static const char *errstr(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

typedef struct {
    int expired;
    apr_off_t expired_bytes;
    int orphans;
    apr_off_t orphan_bytes;
    int spool;
    apr_off_t spool_bytes;
} sweep_report;

static int sweep_expired(poolctl_t *ctl, pool_store_t *st, PGconn *db,
                         const char *token, sweep_report *rep)
{
    for (;;) {
        apr_pool_t *p;
        apr_array_header_t *ids;
        const char *err = NULL;
        pool_db_rc rc;
        int i;

        apr_pool_create(&p, ctl->p);
        rc = pool_upload_claim_expired(p, db, SWEEP_BATCH, token, SWEEP_LEASE,
                                       &ids, &err);
        if (rc != POOL_DB_OK) {
            apr_pool_destroy(p);
            return poolctl_db_error(rc, err);
        }
        for (i = 0; i < ids->nelts; i++) {
            const char *id = APR_ARRAY_IDX(ids, i, const char *);
            apr_off_t freed = 0;
            apr_status_t rv = st->ops->upload_remove(st, p, id, &freed);

            if (rv != APR_SUCCESS) {
                /* keep the row: the next sweep tries again */
                poolctl_err("upload %s: cannot remove its data: %s", id,
                            errstr(p, rv));
                continue;
            }
            rc = pool_upload_forget(p, db, id, token, &err);
            if (rc != POOL_DB_OK && rc != POOL_DB_NOTFOUND) {
                apr_pool_destroy(p);
                return poolctl_db_error(rc, err);
            }
            rep->expired++;
            rep->expired_bytes += freed;
            pool_log(POOL_LOG_INFO, "removed expired upload %s (%"
                     APR_OFF_T_FMT " bytes)", id, freed);
        }
        i = ids->nelts;
        apr_pool_destroy(p);
        if (i < SWEEP_BATCH) {
            return POOLCTL_OK;
        }
    }
}

static int sweep_orphans(poolctl_t *ctl, pool_store_t *st, PGconn *db,
                         apr_time_t before, sweep_report *rep)
{
    apr_array_header_t *ids, *present;
    apr_hash_t *known;
    const char *err = NULL;
    apr_status_t rv;
    pool_db_rc rc;
    int i, from;

    rv = st->ops->upload_list_stale(st, ctl->p, before, &ids);
    if (rv != APR_SUCCESS) {
        poolctl_err("cannot list the upload data under %s: %s", st->root,
                    errstr(ctl->p, rv));
        return POOLCTL_FAIL;
    }
    /* in slices, so that one statement stays small */
    for (from = 0; from < ids->nelts; from += SWEEP_BATCH) {
        apr_array_header_t *slice = apr_array_make(ctl->p, SWEEP_BATCH,
                                                   sizeof(const char *));
        for (i = from; i < ids->nelts && i < from + SWEEP_BATCH; i++) {
            APR_ARRAY_PUSH(slice, const char *) =
                APR_ARRAY_IDX(ids, i, const char *);
        }
        rc = pool_upload_existing(ctl->p, db, slice, &present, &err);
        if (rc != POOL_DB_OK) {
            return poolctl_db_error(rc, err);
        }
        known = apr_hash_make(ctl->p);
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
            rv = st->ops->upload_remove(st, ctl->p, id, &freed);
            if (rv != APR_SUCCESS) {
                poolctl_err("cannot remove orphaned upload data %s: %s", id,
                            errstr(ctl->p, rv));
                continue;
            }
            rep->orphans++;
            rep->orphan_bytes += freed;
            pool_log(POOL_LOG_INFO, "removed upload data %s that had no "
                     "upload (%" APR_OFF_T_FMT " bytes)", id, freed);
        }
    }
    return POOLCTL_OK;
}

int poolctl_cmd_sweep(poolctl_t *ctl, int argc, const char *const *argv)
{
    int json = 0, rc;
    apr_array_header_t *pos;
    poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json },
        { NULL, 0, 0, NULL, NULL }
    };
    sweep_report rep;
    pool_store_t *st;
    PGconn *db;
    const char *token;
    unsigned char rnd[16];
    apr_time_t before;
    apr_status_t rv;

    if ((rc = poolctl_getopt(ctl, argc, argv, opts, &pos)) != POOLCTL_OK) {
        return rc;
    }
    if (pos->nelts) {
        return poolctl_usage("sweep takes no arguments");
    }
    if (poolctl_conf(ctl) != POOLCTL_OK) {
        return POOLCTL_FAIL;
    }
    if (!ctl->conf.storage) {
        poolctl_err("PoolStorage is not set in %s", ctl->conf_path);
        return POOLCTL_FAIL;
    }
    if (poolctl_become_storage_owner(ctl) != POOLCTL_OK) {
        return POOLCTL_FAIL;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    if (pool_random(rnd, sizeof(rnd)) != APR_SUCCESS) {
        poolctl_err("no randomness");
        return POOLCTL_FAIL;
    }
    token = apr_pstrcat(ctl->p, "sweep-", pool_hex(ctl->p, rnd, sizeof(rnd)),
                        NULL);
    st = pool_store_fs(ctl->p, ctl->conf.storage);
    memset(&rep, 0, sizeof(rep));
    before = apr_time_now() - STALE_AFTER;

    if ((rc = sweep_expired(ctl, st, db, token, &rep)) != POOLCTL_OK) {
        return rc;
    }
    if ((rc = sweep_orphans(ctl, st, db, before, &rep)) != POOLCTL_OK) {
        return rc;
    }
    rv = st->ops->spool_sweep(st, ctl->p, before, &rep.spool,
                              &rep.spool_bytes);
    if (rv != APR_SUCCESS) {
        poolctl_err("cannot sweep the spool under %s: %s", st->root,
                    errstr(ctl->p, rv));
        return POOLCTL_FAIL;
    }

    if (json) {
        json_t *j = json_object();

        json_object_set_new(j, "expired_uploads", json_integer(rep.expired));
        json_object_set_new(j, "expired_bytes",
                            json_integer(rep.expired_bytes));
        json_object_set_new(j, "orphaned_uploads", json_integer(rep.orphans));
        json_object_set_new(j, "orphaned_bytes",
                            json_integer(rep.orphan_bytes));
        json_object_set_new(j, "spool_files", json_integer(rep.spool));
        json_object_set_new(j, "spool_bytes", json_integer(rep.spool_bytes));
        return poolctl_print_json(ctl, j);
    }
    printf("expired uploads removed:        %d (%" APR_OFF_T_FMT " bytes)\n",
           rep.expired, rep.expired_bytes);
    printf("orphaned upload data removed:   %d (%" APR_OFF_T_FMT " bytes)\n",
           rep.orphans, rep.orphan_bytes);
    printf("stale spool files removed:      %d (%" APR_OFF_T_FMT " bytes)\n",
           rep.spool, rep.spool_bytes);
    return POOLCTL_OK;
}
