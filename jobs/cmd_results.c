/* poolctl results retry ID|--all: publish again results whose publication
 * failed (docs/rounds.md, "When a publication fails"). */
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_groups.h"
#include "pool_util.h"

static int results_retry(poolctl_t *ctl, apr_array_header_t *pos, int all)
{
    const char *id = NULL, *err = NULL;
    pool_db_rc rc;
    PGconn *db;
    int n = 0;

    if (pos->nelts != (all ? 1 : 2)) {
        return poolctl_usage("usage: results retry ID | results retry --all");
    }
    if (!all) {
        id = APR_ARRAY_IDX(pos, 1, const char *);
        if (!pool_uuid_valid(id)) {
            return poolctl_usage("'%s' is not a result id (a uuid, as the "
                                 "publish step's warnings name it)",
                                 poolctl_show(ctl->p, id));
        }
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    rc = pool_result_publish_retry(ctl->p, db, id, &n, &err);
    if (rc == POOL_DB_NOTFOUND) {
        poolctl_err("result '%s' not found", id);
        return POOLCTL_FAIL;
    }
    if (rc == POOL_DB_CONFLICT) {
        poolctl_err("result %s: %s", id, err);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        return poolctl_db_error(rc, err);
    }
    if (id) {
        poolctl_err("result %s is due now; the next 'run publish' publishes "
                    "it", id);
    }
    else {
        poolctl_err("%d result(s) due now; the next 'run publish' publishes "
                    "them", n);
    }
    return POOLCTL_OK;
}

int poolctl_cmd_results(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *sub;
    int all = 0;
    const poolctl_opt_t opts[] = {
        { "all", 0, 0, NULL, &all },
        { NULL }
    };

    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("results: which? retry");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (!strcmp(sub, "retry")) {
        return results_retry(ctl, pos, all);
    }
    return poolctl_usage("results: unknown subcommand '%s' (retry)",
                         poolctl_show(ctl->p, sub));
}
