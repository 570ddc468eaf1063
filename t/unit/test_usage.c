/* Download counts (lib/pool_usage.c, sql/015) against a real PostgreSQL
 * (POOL_TEST_DB): a batch of counts is written in one statement, each for
 * its client and its pool's total, on its own day; a count for a pool that
 * is gone is dropped and reported, one for an unknown client counts for
 * the pool only; a refused batch writes nothing. */
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_clients.h"
#include "pool_db.h"
#include "pool_usage.h"
#include "pool_util.h"

static apr_pool_t *p;
static PGconn *db;
static const char *pool_a, *pool_b, *alice, *bob;

static const char *add_client(const char *pool, const char *name)
{
    const char *err = NULL, *secret;
    pool_client_t *cl;

    ck_assert_int_eq(pool_db_client_add(p, db, pool, name, "listener", &cl,
                                        &secret, &err), POOL_DB_OK);
    return cl->client_id;
}

static void setup(void)
{
    const char *err = NULL, *tag;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    tag = apr_pstrndup(p, pool_uuid(p), 8);
    pool_a = apr_pstrcat(p, "use", tag, NULL);
    pool_b = apr_pstrcat(p, "use", tag, "-b", NULL);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_a, NULL, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_b, NULL, &err),
                     POOL_DB_OK);
    alice = add_client(pool_a, "alice");
    bob = add_client(pool_b, "bob");
}

static void teardown(void)
{
    PQfinish(db);
    db = NULL;
    apr_pool_destroy(p);
    p = NULL;
}

/* The bytes_downloaded deltas of pool on day for client_id (NULL: the
 * pool's total, client 0), summed; "0" when none. */
static apr_int64_t counted(const char *pool, const char *client_id,
                           const char *day)
{
    const char *params[3] = { pool, client_id, day }, *err = NULL;
    apr_int64_t v;
    PGresult *r;

    ck_assert_int_eq(pool_db_exec(p, db, "test",
        "SELECT coalesce(sum(d.amount), 0) FROM usage_deltas d"
        " JOIN pools p ON p.id = d.pool_id"
        " WHERE p.name = $1 AND d.metric = 'bytes_downloaded'"
        " AND d.day = $3::date AND d.client_id = coalesce((SELECT c.id"
        "  FROM clients c WHERE c.pool_id = p.id AND c.client_id = $2), 0)",
        3, params, 1, &r, &err), POOL_DB_OK);
    v = pool_db_col_i64(r, 0, 0);
    PQclear(r);
    return v;
}

START_TEST(a_batch_counts_each_client_and_pool_on_its_day)
{
    pool_usage_download_t d[] = {
        { pool_a, NULL, "2026-12-01", 0 },
        { pool_a, NULL, "2026-12-01", 7 },      /* a signed link */
        { pool_b, NULL, "2026-12-02", 0 },
        { "no-such-pool", NULL, "2026-12-01", 100 },
        { pool_a, "cl_000000000000000000000000", "2026-12-01", 5 },
        { pool_b, NULL, "2026-12-02", 0 },      /* nothing sent */
    };
    const char *err = NULL;
    int n = 0;

    d[0].client_id = alice;
    d[0].bytes = 1000;
    d[2].client_id = bob;
    d[2].bytes = 40;
    ck_assert_int_eq(pool_usage_downloads(p, db, d, 6, &n, &err), POOL_DB_OK);
    ck_assert_int_eq(n, 5);     /* all but the pool that is gone */
    ck_assert_int_eq(counted(pool_a, alice, "2026-12-01"), 1000);
    ck_assert_int_eq(counted(pool_a, NULL, "2026-12-01"), 1012);
    ck_assert_int_eq(counted(pool_a, NULL, "2026-12-02"), 0);
    ck_assert_int_eq(counted(pool_b, bob, "2026-12-02"), 40);
    ck_assert_int_eq(counted(pool_b, NULL, "2026-12-02"), 40);
    ck_assert_int_eq(counted(pool_b, bob, "2026-12-01"), 0);
    /* a second batch adds to the first */
    ck_assert_int_eq(pool_usage_downloads(p, db, d, 1, &n, &err), POOL_DB_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(counted(pool_a, alice, "2026-12-01"), 2000);
    ck_assert_int_eq(counted(pool_a, NULL, "2026-12-01"), 2012);
}
END_TEST

START_TEST(a_refused_batch_writes_nothing)
{
    pool_usage_download_t d[] = {
        { NULL, NULL, "2026-12-01", 10 },
        { NULL, NULL, "2026-13-01", 10 },       /* not a day */
    };
    const char *err = NULL;
    int n = -1;

    d[0].pool = pool_a;
    d[1].pool = pool_a;
    ck_assert_int_eq(pool_usage_downloads(p, db, d, 2, &n, &err),
                     POOL_DB_ERROR);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(counted(pool_a, NULL, "2026-12-01"), 0);
}
END_TEST

Suite *suite_usage(void)
{
    Suite *s = suite_create("usage");
    TCase *tc = tcase_create("usage");

    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_batch_counts_each_client_and_pool_on_its_day);
    tcase_add_test(tc, a_refused_batch_writes_nothing);
    suite_add_tcase(s, tc);
    return s;
}
