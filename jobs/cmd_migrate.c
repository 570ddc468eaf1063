/* poolctl migrate: applies the embedded sql/ migrations not yet applied.
 * Safe to run again (applies nothing) and from several hosts at once (an
 * advisory lock serialises them). */
#include <stdio.h>

#include "poolctl.h"

int poolctl_cmd_migrate(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *err = NULL;
    PGconn *db;
    pool_db_rc rc;
    int applied = 0;

    if (poolctl_getopt(ctl, argc, argv, NULL, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts > 0) {
        return poolctl_usage("migrate takes no arguments");
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_db_migrate(ctl->p, db, &applied, &err);
    if (rc != POOL_DB_OK) {
        if (applied > 0) {
            poolctl_err("%d migration%s applied before the failure", applied,
                        applied == 1 ? "" : "s");
        }
        return poolctl_db_error(rc, err);
    }
    printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    return POOLCTL_OK;
}
