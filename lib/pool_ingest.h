/* The one ingest path.  Every way bytes enter (file PUT, each part of a
 * batch, tus completion and concatenation, the import fetch step, a
 * processor's result, later WebDAV PUT) ends in pool_ingest_commit:
 *
 *   checks        the digest the client announced (size limits are the
 *                 spool's, late policy the record's)
 *   stage         every item durable in the store, visible through no view
 *   record        the caller's rows, in one transaction
 *   reveal        visible
 *
 * and its undo rules, which live only here:
 *   - a failure before the record: every staged item is removed;
 *   - the record failed: the rows are looked up (the answer to a COMMIT may
 *     have been lost, or a retried statement may have failed because the
 *     first one committed): found, it is a success; not found, the items
 *     are removed; the lookup failing too, the outcome is unknown: the
 *     staged bytes are kept (poolctl sweep reveals them if their row turns
 *     up and removes them if not) and the answer is 503, never a guess. */
#ifndef POOL_INGEST_H
#define POOL_INGEST_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pool_db.h"
#include "pool_problem.h"
#include "pool_store.h"

typedef struct {
    /* in */
    const char *pool;           /* pool name; NULL: a result */
    const char *id;             /* the object's id */
    pool_spool_t *sp;           /* the received bytes (owned from here on), */
    const char *upload_id;      /* or the data of a complete tus upload, */
    apr_off_t upload_len;       /* of this length */
    int have_sha256;            /* sha256 below is the upload's digest */
    const unsigned char *want;  /* SHA-256 the client announced, or NULL */
    const char *what;           /* "file", "result": for messages */
    /* out */
    apr_off_t size;
    unsigned char sha256[32];
    const char *sha256_hex;
    /* set by record: the committed row refers to other bytes (a repeated
     * request found its earlier row): these bytes are removed */
    int unused;
    /* private */
    int staged;
} pool_ingest_item_t;

typedef struct pool_ingest_t {
    pool_store_t *store;
    /* runs an operation on a database connection (the module: from its
     * connection pool, retrying once on a broken connection) */
    pool_db_runner *run;
    void *run_ctx;
    /* inserts the rows of every item (and what goes with them) in one
     * transaction; OK only when it committed */
    pool_db_op *record;
    /* after a failed record: OK when the rows are there after all (filling
     * what record fills), NOTFOUND when they are not */
    pool_db_op *lookup;
    void *baton;                /* for record and lookup */
    /* maps a failed record's outcome (rows not there) to a problem; NULL:
     * pool_problem_db with the first item's `what` */
    void (*refused)(void *baton, apr_pool_t *p, pool_db_rc rc,
                    const char *err, pool_problem_t *pr);
    apr_array_header_t *items;  /* pool_ingest_item_t * */
} pool_ingest_t;

/* Adds an item for the bytes in sp (NULL: set upload_id and upload_len) to
 * be stored as (pool, id) (pool NULL: a result); what names it in
 * messages. */
pool_ingest_item_t *pool_ingest_add(apr_pool_t *p, pool_ingest_t *in,
                                    const char *pool, const char *id,
                                    pool_spool_t *sp, const char *what);

/* Fills every item's size and digest (from its spool, or the upload's data
 * when its digest is not known) and checks an announced digest: call it
 * when the rows need them before pool_ingest_commit (which calls it too;
 * it runs once).  0: *pr says why not, and the spools are aborted. */
int pool_ingest_prepare(apr_pool_t *p, pool_ingest_t *in, pool_problem_t *pr);

/* Runs the sequence.  1: the rows are committed and the items visible.
 * 0: *pr says why not (nothing of the items stays visible; staged bytes
 * may be kept when the outcome is unknown, see above). */
int pool_ingest_commit(apr_pool_t *p, pool_ingest_t *in, pool_problem_t *pr);

/* Gives up on items before pool_ingest_commit (spools aborted). */
void pool_ingest_abort(pool_ingest_t *in);

#endif
