/* Per-child pool of libpq connections (apr_reslist, as mod_dbd does).
 * A connection found broken is invalidated (closed and forgotten), never
 * reset in place; the reslist opens a fresh one on the next acquire. */
#include <apr_strings.h>
#include <http_request.h>

#include "mod_pool.h"

struct pool_dbpool {
    apr_reslist_t *rl;
    server_rec *s;
    const char *conninfo;
    int n;                      /* connections at most */
};

static apr_status_t conn_construct(void **resource, void *params,
                                   apr_pool_t *p)
{
    pool_dbpool *db = params;
    const char *err = NULL;
    PGconn *c = pool_db_connect(p, db->conninfo, &err);

    if (!c) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, db->s,
                     "cannot connect to the database: %s",
                     err ? err : "unknown error");
        return APR_EGENERAL;
    }
    /* a child's connections live long: prepare each statement once */
    if (!pool_db_cache_statements(c)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, db->s,
                     "database statements will not be prepared (libpq "
                     "refused the event procedure)");
    }
    *resource = c;
    return APR_SUCCESS;
}

static apr_status_t conn_destruct(void *resource, void *params, apr_pool_t *p)
{
    PQfinish(resource);
    return APR_SUCCESS;
}

apr_status_t pool_dbpool_create(apr_pool_t *p, server_rec *s, pool_srv_conf *sc)
{
    pool_dbpool *db = apr_pcalloc(p, sizeof(*db));
    int n = sc->conf.db_connections;
    apr_status_t rv;

    db->s = s;
    db->conninfo = sc->conf.database;
    db->n = n;
    /* min 0: a child starts even while the database is down */
    rv = apr_reslist_create(&db->rl, 0, n, n, apr_time_from_sec(300),
                            conn_construct, conn_destruct, db, p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "cannot create the database connection pool");
        return rv;
    }
    /* Waiting longer than this for a free connection gives a 503. */
    apr_reslist_timeout_set(db->rl, apr_time_from_sec(10));
    apr_pool_cleanup_register(p, db->rl, (void *)apr_reslist_destroy,
                              apr_pool_cleanup_null);
    sc->db = db;
    return APR_SUCCESS;
}

pool_db_rc pool_dbpool_run(pool_dbpool *db, apr_pool_t *p, pool_db_op *op,
                           void *baton, const char **err)
{
    int attempt, fresh = 0;
    pool_db_rc rc = POOL_DB_UNAVAILABLE;

    *err = "database not configured";
    if (!db) {
        return POOL_DB_UNAVAILABLE;
    }
    /* After a restart of the server every pooled connection is broken:
     * each one found so is thrown away and does not count, so the op gets
     * at most two tries on connections that were alive (at most the pool's
     * size plus two acquisitions in all) */
    for (attempt = 0; attempt < db->n + 2 && fresh < 2; attempt++) {
        void *res;
        PGconn *c;
        apr_status_t rv = apr_reslist_acquire(db->rl, &res);

        if (rv != APR_SUCCESS) {
            *err = "no database connection available";
            return POOL_DB_UNAVAILABLE;
        }
        c = res;
        if (!pool_db_ok(c)) {
            apr_reslist_invalidate(db->rl, c);
            continue;
        }
        *err = NULL;
        rc = op(p, c, baton, err);
        if (rc == POOL_DB_UNAVAILABLE || !pool_db_ok(c)) {
            /* the server went away (restart, failover): retry fresh; a
             * connection that turned out dead was stale, not a try */
            if (pool_db_ok(c)) {
                fresh++;
            }
            apr_reslist_invalidate(db->rl, c);
            rc = POOL_DB_UNAVAILABLE;
            continue;
        }
        apr_reslist_release(db->rl, c);
        return rc;
    }
    if (!*err) {
        *err = "database unavailable";
    }
    return rc;
}

pool_db_rc pool_db_run(request_rec *r, pool_db_op *op, void *baton,
                       const char **err)
{
    return pool_dbpool_run(pool_srv(r->server)->db, r->pool, op, baton, err);
}

pool_db_rc pool_db_run_ctx(void *r, pool_db_op *op, void *baton,
                           const char **err)
{
    return pool_db_run(r, op, baton, err);
}

void pool_ingest_init(pool_ingest_t *in, request_rec *r)
{
    memset(in, 0, sizeof(*in));
    in->store = pool_srv(r->server)->store;
    in->run = pool_db_run_ctx;
    in->run_ctx = r;
    in->items = apr_array_make(r->pool, 1, sizeof(pool_ingest_item_t *));
}
