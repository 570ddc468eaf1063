/* Unit tests (Check) for the core library: one suite per area. */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>
#include <apr_pools.h>
#include <libpq-fe.h>

Suite *suite_util(void);
Suite *suite_throttle(void);
Suite *suite_kdf(void);
Suite *suite_clients(void);
Suite *suite_jwt(void);
Suite *suite_link(void);
Suite *suite_ts(void);
Suite *suite_name(void);
Suite *suite_conf(void);
Suite *suite_net(void);
Suite *suite_webhook(void);
Suite *suite_mapping(void);
Suite *suite_endpoint_doc(void);
Suite *suite_multipart(void);
Suite *suite_tus(void);
Suite *suite_settings(void);
Suite *suite_ingest(void);
Suite *suite_db(void);
Suite *suite_store_dav(void);
Suite *suite_view(void);
Suite *suite_davlock(void);
Suite *suite_messages(void);
Suite *suite_usage(void);
Suite *suite_clientlinks(void);
Suite *suite_http(void);
Suite *suite_dio(void);

/* Suites that need a real PostgreSQL (POOL_TEST_DB, started by
 * scripts/test): without one, adds to tc a test that fails saying so and
 * returns 1; the caller then returns its suite as it is. */
int unit_need_db(Suite *s, TCase *tc);
/* A connection to POOL_TEST_DB with the schema migrated (a test's setup;
 * fails the test when there is none). */
PGconn *unit_db_open(apr_pool_t *p);

#endif
