/* poolctl sweep [--json] [--min-age SECONDS] [--pool NAME]: reclaims space and reconciles
 * storage with the database (lib/pool_sweep.h says what it does).  The
 * same sweep is the `sweep` step of poolctl run. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_store.h"
#include "pool_sweep.h"
#include "pool_util.h"
#include "pool_name.h"

static json_t *items_json(const apr_array_header_t *items)
{
    json_t *a = json_array();
    int i;

    for (i = 0; i < items->nelts; i++) {
        const pool_sweep_item_t *it = &APR_ARRAY_IDX(items, i,
                                                     pool_sweep_item_t);
        json_t *o = json_object();

        json_object_set_new(o, "kind", json_string(it->kind));
        json_object_set_new(o, "pool", it->pool ? json_string(it->pool)
                                                : json_null());
        json_object_set_new(o, "id", json_string(it->id));
        if (it->name) {
            /* a client's name: may be any UTF-8 (jansson checks) */
            json_t *n = json_string(it->name);
            json_object_set_new(o, "name", n ? n : json_null());
        }
        json_object_set_new(o, "path", json_string(it->path));
        json_object_set_new(o, "size", json_integer(it->size));
        json_array_append_new(a, o);
    }
    return a;
}

static void print_items(const char *title, const apr_array_header_t *items,
                        int total)
{
    int i;

    if (!total) {
        return;
    }
    printf("%s:\n", title);
    for (i = 0; i < items->nelts; i++) {
        const pool_sweep_item_t *it = &APR_ARRAY_IDX(items, i,
                                                     pool_sweep_item_t);
        printf("  %-6s %s  pool %s  %" APR_OFF_T_FMT " bytes  %s\n",
               it->kind, it->id, it->pool ? it->pool : "-", it->size,
               it->path);
    }
    if (total > items->nelts) {
        printf("  ... and %d more (see the warnings above)\n",
               total - items->nelts);
    }
}

int poolctl_cmd_sweep(poolctl_t *ctl, int argc, const char *const *argv)
{
    int json = 0, rc;
    const char *min_age_s = NULL, *only = NULL;
    long min_age = POOL_SWEEP_MIN_AGE;
    apr_array_header_t *pos;
    poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &json },
        { "min-age", 0, 1, &min_age_s, NULL },
        { "pool", 0, 1, &only, NULL },
        { NULL, 0, 0, NULL, NULL }
    };
    pool_sweep_report_t rep;
    pool_store_t *st;
    PGconn *db;
    const char *token, *err = NULL;
    unsigned char rnd[16];
    pool_db_rc drc;

    if ((rc = poolctl_getopt(ctl, argc, argv, opts, &pos)) != POOLCTL_OK) {
        return rc;
    }
    if (pos->nelts) {
        return poolctl_usage("sweep takes no arguments");
    }
    if (min_age_s && pool_parse_int(min_age_s, 0, 31536000, &min_age) != 0) {
        return poolctl_usage("sweep: --min-age takes seconds (0..31536000)");
    }
    if (only && pool_ident_check(only)) {
        return poolctl_usage("sweep: --pool takes a pool name, not '%s'",
                             poolctl_show(ctl->p, only));
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
    if (only) {
        pool_pool_t *pl;
        drc = pool_db_pool_get(ctl->p, db, only, &pl, &err);
        if (drc == POOL_DB_NOTFOUND) {
            poolctl_err("pool '%s' not found", only);
            return POOLCTL_FAIL;
        }
        if (drc != POOL_DB_OK) {
            return poolctl_db_error(drc, err);
        }
    }
    if (pool_random(rnd, sizeof(rnd)) != APR_SUCCESS) {
        poolctl_err("no randomness");
        return POOLCTL_FAIL;
    }
    token = apr_pstrcat(ctl->p, "sweep-", pool_hex(ctl->p, rnd, sizeof(rnd)),
                        NULL);
    st = poolctl_store(ctl);
    if (!st) {
        return POOLCTL_FAIL;
    }
    drc = pool_sweep(ctl->p, db, st, only, token, apr_time_from_sec(min_age), &rep,
                     &err);
    if (drc != POOL_DB_OK) {
        return poolctl_db_error(drc, err);
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
        json_object_set_new(j, "staged_files", json_integer(rep.staged));
        json_object_set_new(j, "staged_bytes", json_integer(rep.staged_bytes));
        json_object_set_new(j, "revealed_files", json_integer(rep.revealed));
        json_object_set_new(j, "retained_files", json_integer(rep.retained));
        json_object_set_new(j, "retained_bytes",
                            json_integer(rep.retained_bytes));
        json_object_set_new(j, "lost_found", json_integer(rep.lost));
        json_object_set_new(j, "lost_found_bytes",
                            json_integer(rep.lost_bytes));
        json_object_set_new(j, "missing", json_integer(rep.missing));
        json_object_set_new(j, "expired_locks",
                            json_integer(rep.expired_locks));
        json_object_set_new(j, "messages_removed",
                            json_integer(rep.messages));
        json_object_set_new(j, "failures", json_integer(rep.failures));
        json_object_set_new(j, "lost_found_items",
                            items_json(rep.lost_items));
        json_object_set_new(j, "missing_items",
                            items_json(rep.missing_items));
        rc = poolctl_print_json(ctl, j);
    }
    else {
        printf("expired uploads removed:        %d (%" APR_OFF_T_FMT
               " bytes)\n", rep.expired, rep.expired_bytes);
        printf("orphaned upload data removed:   %d (%" APR_OFF_T_FMT
               " bytes)\n", rep.orphans, rep.orphan_bytes);
        printf("stale spool files removed:      %d (%" APR_OFF_T_FMT
               " bytes)\n", rep.spool, rep.spool_bytes);
        printf("unacknowledged staged removed:  %d (%" APR_OFF_T_FMT
               " bytes)\n", rep.staged, rep.staged_bytes);
        printf("staged with a row, revealed:    %d\n", rep.revealed);
        printf("files past retention removed:   %d (%" APR_OFF_T_FMT
               " bytes)\n", rep.retained, rep.retained_bytes);
        printf("without a row, to lost+found:   %d (%" APR_OFF_T_FMT
               " bytes)\n", rep.lost, rep.lost_bytes);
        printf("rows whose bytes are missing:   %d\n", rep.missing);
        printf("expired WebDAV locks removed:   %d\n", rep.expired_locks);
        printf("messages removed (retention):   %d\n", rep.messages);
        print_items("moved to lost+found (no row)", rep.lost_items, rep.lost);
        print_items("missing from storage (row kept)", rep.missing_items,
                    rep.missing);
    }
    /* what could not be removed or moved was logged: a cron job notices */
    return rep.failures && rc == POOLCTL_OK ? POOLCTL_FAIL : rc;
}
