/* The one ingest path (pool_ingest.h says the sequence and its rules). */
#include <string.h>

#include <apr_strings.h>

#include "pool_ingest.h"
#include "pool_log.h"
#include "pool_util.h"

#define ITEM(in, i) APR_ARRAY_IDX((in)->items, (i), pool_ingest_item_t *)

static const char *errstr(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

pool_ingest_item_t *pool_ingest_add(apr_pool_t *p, pool_ingest_t *in,
                                    const char *pool, const char *id,
                                    pool_spool_t *sp, const char *what)
{
    pool_ingest_item_t *it = apr_pcalloc(p, sizeof(*it));

    it->pool = pool;
    it->id = id;
    it->sp = sp;
    it->what = what;
    APR_ARRAY_PUSH(in->items, pool_ingest_item_t *) = it;
    return it;
}

void pool_ingest_abort(pool_ingest_t *in)
{
    int i;

    for (i = 0; i < in->items->nelts; i++) {
        pool_ingest_item_t *it = ITEM(in, i);

        if (it->sp) {
            in->store->ops->spool_abort(it->sp);
            it->sp = NULL;
        }
    }
}

/* Removes what was staged (the rows are known not to exist). */
static void unstage(apr_pool_t *p, pool_ingest_t *in)
{
    int i;

    for (i = 0; i < in->items->nelts; i++) {
        pool_ingest_item_t *it = ITEM(in, i);
        apr_status_t rv;

        if (!it->staged) {
            continue;
        }
        rv = in->store->ops->remove(in->store, p, it->pool, it->id);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            pool_log(POOL_LOG_WARN, "%s %s has no row and cannot be removed "
                     "(poolctl sweep will): %s", it->what, it->id,
                     errstr(p, rv));
        }
        it->staged = 0;
    }
}

/* The digests and sizes, and the check of an announced digest. */
static int check(apr_pool_t *p, pool_ingest_t *in, pool_problem_t *pr)
{
    int i;

    for (i = 0; i < in->items->nelts; i++) {
        pool_ingest_item_t *it = ITEM(in, i);

        if (it->sha256_hex) {
            continue;           /* measured before */
        }
        if (it->sp) {
            it->size = pool_spool_size(it->sp);
            pool_spool_digest(it->sp, it->sha256);
            it->sha256_hex = pool_hex(p, it->sha256, 32);
        }
        else if (!it->have_sha256) {
            apr_status_t rv = in->store->ops->upload_digest(
                in->store, p, it->upload_id, it->upload_len, it->sha256);
            if (rv != APR_SUCCESS) {
                pool_problem_store(p, pr, rv, it->what, apr_psprintf(p,
                                   "read upload %s", it->upload_id));
                return 0;
            }
            it->size = it->upload_len;
            it->sha256_hex = pool_hex(p, it->sha256, 32);
        }
        else {
            it->size = it->upload_len;
            it->sha256_hex = pool_hex(p, it->sha256, 32);
        }
        if (it->want && !pool_ct_equal(it->want, it->sha256, 32)) {
            pool_problem_set(pr, 400, apr_psprintf(p, "the sha-256 digest "
                             "announced for the %s does not match its bytes; "
                             "nothing was stored", it->what), NULL);
            return 0;
        }
    }
    return 1;
}

static int stage(apr_pool_t *p, pool_ingest_t *in, pool_problem_t *pr)
{
    int i;

    for (i = 0; i < in->items->nelts; i++) {
        pool_ingest_item_t *it = ITEM(in, i);
        apr_status_t rv;

        if (it->sp) {
            rv = in->store->ops->spool_stage(it->sp, it->pool, it->id);
            it->sp = NULL;      /* finished either way */
        }
        else {
            rv = in->store->ops->upload_stage(in->store, p, it->upload_id,
                                              it->upload_len, it->pool,
                                              it->id);
        }
        if (rv != APR_SUCCESS) {
            pool_problem_store(p, pr, rv, it->what, apr_psprintf(p,
                               "stage %s %s", it->what, it->id));
            return 0;
        }
        it->staged = 1;
    }
    return 1;
}

/* The rows are committed: the items become visible.  A reveal that fails
 * is not the client's problem: the bytes are durable and readable under
 * their staged name, and sweep reveals them. */
static void reveal(apr_pool_t *p, pool_ingest_t *in)
{
    int i;

    for (i = 0; i < in->items->nelts; i++) {
        pool_ingest_item_t *it = ITEM(in, i);
        apr_status_t rv;

        if (it->unused) {
            rv = in->store->ops->remove(in->store, p, it->pool, it->id);
            if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
                pool_log(POOL_LOG_WARN, "%s %s is not used and cannot be "
                         "removed (poolctl sweep will): %s", it->what, it->id,
                         errstr(p, rv));
            }
        }
        else if ((rv = in->store->ops->reveal(in->store, p, it->pool,
                                              it->id)) != APR_SUCCESS) {
            pool_log(POOL_LOG_WARN, "%s %s is stored but not revealed yet "
                     "(poolctl sweep will): %s", it->what, it->id,
                     errstr(p, rv));
        }
        it->staged = 0;
    }
}

int pool_ingest_prepare(apr_pool_t *p, pool_ingest_t *in, pool_problem_t *pr)
{
    pool_problem_set(pr, 0, NULL, NULL);
    if (!check(p, in, pr)) {
        pool_ingest_abort(in);
        return 0;
    }
    return 1;
}

int pool_ingest_commit(apr_pool_t *p, pool_ingest_t *in, pool_problem_t *pr)
{
    const char *what = in->items->nelts ? ITEM(in, 0)->what : "file";
    const char *err = NULL, *lerr = NULL;
    pool_db_rc rc, lrc;

    if (!pool_ingest_prepare(p, in, pr)) {
        return 0;
    }
    if (!stage(p, in, pr)) {
        pool_ingest_abort(in);
        unstage(p, in);
        return 0;
    }
    rc = in->run(in->run_ctx, in->record, in->baton, &err);
    if (rc == POOL_DB_OK) {
        reveal(p, in);
        return 1;
    }
    /* did it commit after all? */
    lrc = in->run(in->run_ctx, in->lookup, in->baton, &lerr);
    if (lrc == POOL_DB_OK) {
        pool_log(POOL_LOG_NOTICE, "%s %s: the database's answer was %s, but "
                 "the row is there: stored", what, ITEM(in, 0)->id,
                 err ? err : "lost");
        reveal(p, in);
        return 1;
    }
    if (lrc == POOL_DB_NOTFOUND) {
        unstage(p, in);
        if (in->refused) {
            in->refused(in->baton, p, rc, err, pr);
        }
        else {
            pool_problem_db(p, pr, rc, err, what);
        }
        return 0;
    }
    pool_log(POOL_LOG_WARN, "%s %s: outcome unknown (%s; looking the row up: "
             "%s): its bytes stay staged until poolctl sweep resolves it",
             what, ITEM(in, 0)->id, err ? err : "?", lerr ? lerr : "?");
    pool_problem_db(p, pr, POOL_DB_UNAVAILABLE, err, what);
    pr->detail = apr_psprintf(p, "the metadata database did not confirm "
                              "that the %s was stored; retry later", what);
    return 0;
}
