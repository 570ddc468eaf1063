/* pool_throttle: failure counts and blocks per key, the table under a flood
 * of keys, verified credentials remembered and forgotten. */
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_throttle.h"
#include "pool_util.h"

static void *mem;
static pool_throttle_t *t;

#define SEC(s) apr_time_from_sec(s)

static void setup(void)
{
    mem = calloc(1, pool_throttle_size());
    ck_assert_ptr_nonnull(mem);
    ck_assert_int_eq(pool_throttle_init(mem, &t), APR_SUCCESS);
}

static void teardown(void)
{
    free(mem);
    mem = NULL;
}

START_TEST(blocks_after_max_failures)
{
    apr_time_t now = SEC(1000000);
    int i;

    for (i = 1; i < 5; i++) {
        ck_assert_int_eq(pool_throttle_fail(t, "c:a", 3, 5, 60, now), 0);
        ck_assert_int_eq(pool_throttle_wait(t, "c:a", 3, now), 0);
    }
    ck_assert_int_eq(pool_throttle_fail(t, "c:a", 3, 5, 60, now), 1);
    ck_assert_int_eq(pool_throttle_wait(t, "c:a", 3, now), 60);
    ck_assert_int_eq(pool_throttle_wait(t, "c:a", 3, now + SEC(59)), 1);
    ck_assert_int_eq(pool_throttle_wait(t, "c:a", 3, now + SEC(60)), 0);
    /* other keys are not touched */
    ck_assert_int_eq(pool_throttle_wait(t, "c:b", 3, now), 0);
    ck_assert_int_eq(pool_throttle_wait(t, "a:a", 3, now), 0);
    /* after the block, a fresh count */
    for (i = 1; i < 5; i++) {
        ck_assert_int_eq(pool_throttle_fail(t, "c:a", 3, 5, 60,
                                            now + SEC(61)), 0);
    }
    ck_assert_int_eq(pool_throttle_fail(t, "c:a", 3, 5, 60, now + SEC(61)), 1);
}
END_TEST

START_TEST(window_expires)
{
    apr_time_t now = SEC(2000000);
    int i;

    /* 4 failures, then a pause longer than the period: the count restarts */
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pool_throttle_fail(t, "k", 1, 5, 60, now), 0);
    }
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pool_throttle_fail(t, "k", 1, 5, 60,
                                            now + SEC(61)), 0);
    }
    ck_assert_int_eq(pool_throttle_wait(t, "k", 1, now + SEC(61)), 0);
    ck_assert_int_eq(pool_throttle_fail(t, "k", 1, 5, 60, now + SEC(62)), 1);
    /* off: never blocks */
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(pool_throttle_fail(t, "off", 3, 0, 60, now), 0);
    }
    ck_assert_int_eq(pool_throttle_wait(t, "off", 3, now), 0);
}
END_TEST

/* Many distinct keys cannot unblock a blocked key while counting slots
 * remain to be reused, and the table never grows. */
START_TEST(flood_of_keys)
{
    apr_time_t now = SEC(3000000);
    char key[32];
    int i;

    ck_assert_int_eq(pool_throttle_fail(t, "victim", 6, 1, 300, now), 1);
    for (i = 0; i < 200000; i++) {
        int n = apr_snprintf(key, sizeof(key), "a:%d", i);
        pool_throttle_fail(t, key, (apr_size_t)n, 10, 300, now + SEC(1));
    }
    ck_assert_int_eq(pool_throttle_wait(t, "victim", 6, now + SEC(1)), 299);
}
END_TEST

START_TEST(known_credentials)
{
    apr_time_t now = SEC(4000000);
    unsigned char a[32], b[32];

    pool_sha256("a", 1, a);
    memcpy(b, a, 32);
    b[31] ^= 1;                     /* same slot, other credentials */
    ck_assert_int_eq(pool_throttle_known(t, a, now), 0);
    pool_throttle_remember(t, a, 300, now);
    ck_assert_int_eq(pool_throttle_known(t, a, now), 1);
    ck_assert_int_eq(pool_throttle_known(t, b, now), 0);
    ck_assert_int_eq(pool_throttle_known(t, a, now + SEC(299)), 1);
    ck_assert_int_eq(pool_throttle_known(t, a, now + SEC(300)), 0);
    pool_throttle_remember(t, b, 300, now);
    ck_assert_int_eq(pool_throttle_known(t, a, now), 0);
    ck_assert_int_eq(pool_throttle_known(t, b, now), 1);
}
END_TEST

Suite *suite_throttle(void)
{
    Suite *s = suite_create("throttle");
    TCase *tc = tcase_create("throttle");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, blocks_after_max_failures);
    tcase_add_test(tc, window_expires);
    tcase_add_test(tc, flood_of_keys);
    tcase_add_test(tc, known_credentials);
    suite_add_tcase(s, tc);
    return s;
}
