/* What went wrong, carried from the core to the handler that answers
 * (RFC 9457 problem+json there) or the job that logs it; after mod_md's
 * md_result.  The core says the status; handlers never remap it. */
#ifndef POOL_PROBLEM_H
#define POOL_PROBLEM_H

#include <apr_pools.h>
#include <apr_errno.h>

#include "pool_db.h"

typedef struct {
    int status;                 /* HTTP status; 0: no problem */
    const char *detail;         /* for the client */
    const char *field;          /* the field at fault, or NULL */
    int retry_after;            /* seconds for Retry-After; 0: none */
    const char *log;            /* for the operator's log, or NULL */
    apr_status_t cause;         /* with log */
} pool_problem_t;

/* Sets every member (log NULL). */
void pool_problem_set(pool_problem_t *pr, int status, const char *detail,
                      const char *field);

/* A database outcome: NOTFOUND 404 "no such <what>", CONFLICT 409, REFUSED
 * and CLASH 409 with err, QUOTA 507 with err, UNAVAILABLE 503 (Retry-After), else 500 (err logged). */
void pool_problem_db(apr_pool_t *p, pool_problem_t *pr, pool_db_rc rc,
                     const char *err, const char *what);

/* A store failure while storing <what>: POOL_STORE_FULL 507 "the store is
 * full", POOL_STORE_UNAVAILABLE 503 with Retry-After, POOL_STORE_TOOBIG
 * 413, anything else 507; rv and action are logged. */
void pool_problem_store(apr_pool_t *p, pool_problem_t *pr, apr_status_t rv,
                        const char *what, const char *action);

#endif
