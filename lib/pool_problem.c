/* Problems: the mapping of core outcomes to HTTP statuses, in one place. */
#include <apr_strings.h>

#include "pool_problem.h"
#include "pool_store.h"

#define RETRY_AFTER_DB      5
#define RETRY_AFTER_STORE   30

void pool_problem_set(pool_problem_t *pr, int status, const char *detail,
                      const char *field)
{
    pr->status = status;
    pr->detail = detail;
    pr->field = field;
    pr->retry_after = 0;
    pr->log = NULL;
    pr->cause = APR_SUCCESS;
}

void pool_problem_db(apr_pool_t *p, pool_problem_t *pr, pool_db_rc rc,
                     const char *err, const char *what)
{
    switch (rc) {
    case POOL_DB_OK:
        pool_problem_set(pr, 0, NULL, NULL);
        break;
    case POOL_DB_NOTFOUND:
        pool_problem_set(pr, 404, apr_pstrcat(p, "no such ", what, NULL),
                         NULL);
        break;
    case POOL_DB_CONFLICT:
        pool_problem_set(pr, 409, apr_pstrcat(p, what, " already exists",
                                              NULL), NULL);
        break;
    case POOL_DB_REFUSED:
    case POOL_DB_CLASH:
        pool_problem_set(pr, 409, err ? err : "refused", NULL);
        break;
    case POOL_DB_QUOTA:
        pool_problem_set(pr, 507, err ? err : "the pool's storage quota is "
                         "reached; nothing was stored", NULL);
        break;
    case POOL_DB_UNAVAILABLE:
        pool_problem_set(pr, 503, "the metadata database is unavailable; "
                         "retry later", NULL);
        pr->retry_after = RETRY_AFTER_DB;
        pr->log = apr_pstrcat(p, "database unavailable: ", err ? err : "?",
                              NULL);
        break;
    default:
        pool_problem_set(pr, 500, "internal database error", NULL);
        pr->log = apr_pstrcat(p, "database error: ", err ? err : "?", NULL);
        break;
    }
}

void pool_problem_store(apr_pool_t *p, pool_problem_t *pr, apr_status_t rv,
                        const char *what, const char *action)
{
    if (rv == POOL_STORE_FULL) {
        pool_problem_set(pr, 507, apr_psprintf(p, "the store is full: cannot "
                         "store the %s; nothing was stored", what), NULL);
    }
    else if (rv == POOL_STORE_UNAVAILABLE) {
        pool_problem_set(pr, 503, apr_psprintf(p, "the store is unavailable: "
                         "cannot store the %s now; nothing was stored, retry "
                         "later", what), NULL);
        pr->retry_after = RETRY_AFTER_STORE;
    }
    else if (rv == POOL_STORE_TOOBIG) {
        pool_problem_set(pr, 413, apr_psprintf(p, "the %s is larger than the "
                         "limit", what), NULL);
    }
    else {
        pool_problem_set(pr, 507, apr_psprintf(p, "cannot store the %s now; "
                         "nothing was stored", what), NULL);
    }
    pr->log = apr_psprintf(p, "cannot %s: %s", action,
                           pool_store_errstr(p, rv));
}
