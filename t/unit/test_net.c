/* pool_net: the outbound network policy (deny list, allow list). */
#include <string.h>
#include <apr_general.h>

#include "unit.h"
#include "pool_net.h"

static apr_pool_t *p;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&p, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(p);
    apr_terminate();
}

START_TEST(net_default_denies_internal)
{
    static const char *const denied[] = {
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
        "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::5",
        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
        "2001:db8::1",
        /* IPv4 inside IPv6, whose embedded address the policy cannot see:
         * compatible (::/96), SIIT-translated, local-use NAT64, 6to4,
         * Teredo; and the discard prefix */
        "::127.0.0.1", "::a00:1", "::ffff:0:7f00:1", "64:ff9b:1::a00:1",
        "2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1",
    };
    static const char *const allowed[] = {
        "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "192.169.0.1",
        "2a00:1450:4001::1", "::ffff:8.8.8.8", "2001:4860:4860::8888",
        "2003::1",
    };
    pool_netpolicy_t *np;
    size_t i;

    ck_assert_ptr_null(pool_netpolicy_make(p, NULL, NULL, &np));
    for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        ck_assert_msg(!pool_net_allowed(np, denied[i], p), "%s allowed",
                      denied[i]);
    }
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        ck_assert_msg(pool_net_allowed(np, allowed[i], p), "%s denied",
                      allowed[i]);
    }
}
END_TEST

START_TEST(net_allow_exempts)
{
    pool_netpolicy_t *np;

    ck_assert_ptr_null(pool_netpolicy_make(p, NULL, "127.0.0.0/8", &np));
    ck_assert_int_eq(pool_net_allowed(np, "127.0.0.1", p), 1);
    ck_assert_int_eq(pool_net_allowed(np, "::1", p), 0);
    ck_assert_int_eq(pool_net_allowed(np, "10.0.0.1", p), 0);
    ck_assert_ptr_null(pool_netpolicy_make(p, NULL, "::1 10.9.9.9", &np));
    ck_assert_int_eq(pool_net_allowed(np, "::1", p), 1);
    ck_assert_int_eq(pool_net_allowed(np, "10.9.9.9", p), 1);
    ck_assert_int_eq(pool_net_allowed(np, "10.9.9.8", p), 0);
}
END_TEST

START_TEST(net_custom_deny_replaces_default)
{
    pool_netpolicy_t *np;

    ck_assert_ptr_null(pool_netpolicy_make(p, "8.8.8.0/24", "", &np));
    ck_assert_int_eq(pool_net_allowed(np, "8.8.8.8", p), 0);
    ck_assert_int_eq(pool_net_allowed(np, "10.0.0.1", p), 1);
}
END_TEST

START_TEST(net_bad_input)
{
    apr_array_header_t *a;
    pool_netpolicy_t *np;

    ck_assert_ptr_nonnull(pool_net_parse(p, "example.org", &a));
    ck_assert_ptr_nonnull(pool_net_parse(p, "10.0.0.0/33", &a));
    ck_assert_ptr_nonnull(pool_net_parse(p, "10.0.0.0/", &a));
    ck_assert_ptr_nonnull(pool_net_parse(p, "10.0.0.0/x", &a));
    ck_assert_ptr_nonnull(pool_net_parse(p, "10.0.0.256", &a));
    ck_assert_ptr_nonnull(pool_net_parse(p, "::1/129", &a));
    ck_assert_ptr_null(pool_net_parse(p, "", &a));
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_ptr_null(pool_net_parse(p, " 10.0.0.0/8,  ::1 ", &a));
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_ptr_null(pool_netpolicy_make(p, NULL, NULL, &np));
    /* unparsable addresses are never allowed */
    ck_assert_int_eq(pool_net_allowed(np, "", p), 0);
    ck_assert_int_eq(pool_net_allowed(np, "not-an-ip", p), 0);
}
END_TEST

Suite *suite_net(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("policy");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, net_default_denies_internal);
    tcase_add_test(tc, net_allow_exempts);
    tcase_add_test(tc, net_custom_deny_replaces_default);
    tcase_add_test(tc, net_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
