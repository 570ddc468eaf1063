/* Runs every unit suite; exits non-zero when a test fails.  Works in
 * Check's default fork mode and with CK_FORK=no. */
#include <stdlib.h>

#include <apr_general.h>

#include "pool_db.h"
#include "unit.h"

START_TEST(no_database_configured)
{
    ck_assert_msg(getenv("POOL_TEST_DB") != NULL, "POOL_TEST_DB is not set: "
                  "run the unit tests through scripts/test, which starts a "
                  "private PostgreSQL for them");
}
END_TEST

int unit_need_db(Suite *s, TCase *tc)
{
    if (getenv("POOL_TEST_DB")) {
        return 0;
    }
    tcase_add_test(tc, no_database_configured);
    suite_add_tcase(s, tc);
    return 1;
}

PGconn *unit_db_open(apr_pool_t *p)
{
    const char *conninfo = getenv("POOL_TEST_DB"), *err = NULL;
    PGconn *db;
    int applied;

    ck_assert_msg(conninfo != NULL, "POOL_TEST_DB is not set (scripts/test "
                  "sets it to a private PostgreSQL)");
    db = pool_db_connect(p, conninfo, &err);
    ck_assert_msg(db != NULL, "cannot connect: %s", err ? err : "?");
    ck_assert_int_eq(pool_db_migrate(p, db, &applied, &err), POOL_DB_OK);
    return db;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (apr_initialize() != APR_SUCCESS) {
        return EXIT_FAILURE;
    }
    sr = srunner_create(suite_util());
    srunner_add_suite(sr, suite_throttle());
    srunner_add_suite(sr, suite_kdf());
    srunner_add_suite(sr, suite_jwt());
    srunner_add_suite(sr, suite_link());
    srunner_add_suite(sr, suite_ts());
    srunner_add_suite(sr, suite_name());
    srunner_add_suite(sr, suite_conf());
    srunner_add_suite(sr, suite_net());
    srunner_add_suite(sr, suite_webhook());
    srunner_add_suite(sr, suite_mapping());
    srunner_add_suite(sr, suite_endpoint_doc());
    srunner_add_suite(sr, suite_multipart());
    srunner_add_suite(sr, suite_tus());
    srunner_add_suite(sr, suite_settings());
    srunner_add_suite(sr, suite_db());
    srunner_add_suite(sr, suite_ingest());
    srunner_add_suite(sr, suite_store_dav());
    srunner_add_suite(sr, suite_view());
    srunner_add_suite(sr, suite_clients());
    srunner_add_suite(sr, suite_davlock());
    srunner_add_suite(sr, suite_messages());
    srunner_add_suite(sr, suite_usage());
    srunner_add_suite(sr, suite_clientlinks());
    srunner_add_suite(sr, suite_http());
    srunner_add_suite(sr, suite_dio());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
