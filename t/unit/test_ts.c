/* pool_ts: RFC 3339 and Unix-seconds timestamps.  Expected values were
 * computed independently with python3's datetime. */
#include <string.h>
#include <time.h>

#include <apr_pools.h>

#include "unit.h"
#include "pool_ts.h"

static apr_pool_t *p;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

static const struct {
    const char *text;
    apr_time_t us;
} good[] = {
    { "2026-11-21T10:15:00Z",               APR_INT64_C(1795256100000000) },
    { "2026-11-21t10:15:00z",               APR_INT64_C(1795256100000000) },
    { "2026-11-21T10:15:00+00:00",          APR_INT64_C(1795256100000000) },
    { "2026-11-21T10:15:00-00:00",          APR_INT64_C(1795256100000000) },
    { "2026-11-21T11:15:00+01:00",          APR_INT64_C(1795256100000000) },
    { "2026-11-21T10:15:00.25+01:00",       APR_INT64_C(1795252500250000) },
    { "2026-11-21T10:15:00-05:30",          APR_INT64_C(1795275900000000) },
    { "2026-11-21T10:15:00.123456Z",        APR_INT64_C(1795256100123456) },
    { "2026-11-21T10:15:00.123456789Z",     APR_INT64_C(1795256100123456) },
    { "2026-11-21T10:15:00.1Z",             APR_INT64_C(1795256100100000) },
    { "2026-11-21T10:15:00.000001Z",        APR_INT64_C(1795256100000001) },
    { "2026-11-21T10:15:00.000000000Z",     APR_INT64_C(1795256100000000) },
    { "2024-02-29T00:00:00Z",               APR_INT64_C(1709164800000000) },
    { "2000-02-29T12:00:00Z",               APR_INT64_C(951825600000000) },
    { "2100-03-01T00:00:00Z",               APR_INT64_C(4107542400000000) },
    { "2026-12-31T23:59:59+00:00",          APR_INT64_C(1798761599000000) },
    { "2026-01-01T00:30:00+23:00",          APR_INT64_C(1767144600000000) },
    { "1999-12-31T23:59:59.999999-23:59",   APR_INT64_C(946771139999999) },
    { "2038-01-19T03:14:08Z",               APR_INT64_C(2147483648000000) },
    { "1970-01-01T00:00:00Z",               APR_INT64_C(0) },
    { "1970-01-01T01:00:00+01:00",          APR_INT64_C(0) },
    { "9999-12-31T23:59:59Z",               APR_INT64_C(253402300799000000) },
    { "9999-12-31T23:59:59.999999999Z",     APR_INT64_C(253402300799999999) },
    /* Unix seconds */
    { "0",                                  APR_INT64_C(0) },
    { "1",                                  APR_INT64_C(1000000) },
    { "1795256100",                         APR_INT64_C(1795256100000000) },
    { "001795256100",                       APR_INT64_C(1795256100000000) },
    { "253402300799",                       APR_INT64_C(253402300799000000) },
};

static const char *const bad[] = {
    "",
    " ",
    "2023-02-29T00:00:00Z",             /* not a leap year */
    "2100-02-29T00:00:00Z",             /* not a leap year either */
    "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-32T00:00:00Z",
    "2026-11-21T24:00:00Z",
    "2026-11-21T10:60:00Z",
    "2026-11-21T10:15:60Z",             /* leap second */
    "2026-11-21T10:15:00",              /* no zone */
    "2026-11-21T10:15:00+01",
    "2026-11-21T10:15:00+0100",
    "2026-11-21T10:15:00+24:00",
    "2026-11-21T10:15:00+01:60",
    "2026-11-21T10:15:00 Z",
    "2026-11-21T10:15:00Zx",            /* trailing garbage */
    "2026-11-21T10:15:00Z ",
    " 2026-11-21T10:15:00Z",
    "2026-11-21T10:15:00+01:00:00",
    "2026-11-21 10:15:00Z",             /* only 'T' or 't' */
    "2026-11-21_10:15:00Z",
    "2026-11-21T10:15Z",
    "2026-11-21T10:15:00.Z",
    "2026-11-21T10:15:00.1234567890Z",  /* 10 fraction digits */
    "2026-11-21T10:15:00,5Z",
    "2026-1-21T10:15:00Z",
    "26-11-21T10:15:00Z",
    "+2026-11-21T10:15:00Z",
    "2026-11-21",
    "2026-11-21T",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:30:00+01:00",        /* before the epoch in UTC */
    "9999-12-31T23:59:59-00:01",        /* after 9999 in UTC */
    "10000-01-01T00:00:00Z",
    "1234567890123",                    /* 13 digits */
    "0001795256100",
    "253402300800",                     /* after 9999 */
    "999999999999",
    "-1",
    "+1",
    "1.5",
    "12 34",
    "1795256100 ",
    " 1795256100",
    "0x10",
    "1e9",
    "\xef\xbc\x91",                     /* a full-width digit */
};

START_TEST(parse_good)
{
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        apr_time_t t = -42;
        ck_assert_msg(pool_ts_parse(good[i].text, &t) == 0,
                      "rejected \"%s\"", good[i].text);
        ck_assert_msg(t == good[i].us, "\"%s\": %" APR_TIME_T_FMT
                      " != %" APR_TIME_T_FMT, good[i].text, t, good[i].us);
    }
}
END_TEST

START_TEST(parse_bad)
{
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_time_t t = 7;
        ck_assert_msg(pool_ts_parse(bad[i], &t) == -1, "accepted \"%s\"",
                      bad[i]);
        ck_assert_int_eq(t, 7);
    }
    ck_assert_int_eq(pool_ts_parse(NULL, NULL), -1);
}
END_TEST

START_TEST(format_known)
{
    ck_assert_str_eq(pool_ts_format(p, 0), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(pool_ts_format(p, 1), "1970-01-01T00:00:00.000001Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(1795256100000000)),
                     "2026-11-21T10:15:00Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(1795252500250000)),
                     "2026-11-21T09:15:00.250000Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(1700000000123456)),
                     "2023-11-14T22:13:20.123456Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(1709164800000000)),
                     "2024-02-29T00:00:00Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(951825600000000)),
                     "2000-02-29T12:00:00Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(4102444800000000)),
                     "2100-01-01T00:00:00Z");
    ck_assert_str_eq(pool_ts_format(p, APR_INT64_C(253402300799999999)),
                     "9999-12-31T23:59:59.999999Z");
    /* before the epoch (not parseable, but formatted correctly) */
    ck_assert_str_eq(pool_ts_format(p, -1), "1969-12-31T23:59:59.999999Z");
}
END_TEST

START_TEST(format_round_trips)
{
    apr_pool_t *ptemp;
    apr_time_t t;
    time_t secs;
    struct tm tm;
    char want[32] = "";
    int n = 0;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_int_eq(pool_ts_parse(pool_ts_format(p, good[i].us), &t), 0);
        ck_assert_int_eq(t, good[i].us);
    }
    /* every day from 1970 to 9999, at a varying time of day */
    ck_assert_int_eq(apr_pool_create(&ptemp, p), APR_SUCCESS);
    for (t = 0; t <= APR_INT64_C(253402300799000000);
         t += APR_INT64_C(86400000000) + APR_INT64_C(1234567)) {
        apr_time_t back = -1;
        const char *s = pool_ts_format(ptemp, t);
        /* no ck_assert per iteration: in fork mode each one is a message
         * to the parent process */
        if (pool_ts_parse(s, &back) != 0 || back != t) {
            ck_abort_msg("%" APR_TIME_T_FMT " -> %s", t, s);
        }
        /* and the C library agrees on the calendar */
        secs = (time_t)(t / APR_USEC_PER_SEC);
        if (!gmtime_r(&secs, &tm)
            || strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm) != 19
            || strncmp(s, want, 19) != 0) {
            ck_abort_msg("%" APR_TIME_T_FMT " -> %s, gmtime says %s", t, s,
                         want);
        }
        if (++n % 4096 == 0) {
            apr_pool_clear(ptemp);
        }
    }
    ck_assert_int_gt(n, 2900000);
}
END_TEST

Suite *suite_ts(void)
{
    Suite *s = suite_create("ts");
    TCase *tc = tcase_create("rfc3339");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parse_good);
    tcase_add_test(tc, parse_bad);
    tcase_add_test(tc, format_known);
    tcase_add_test(tc, format_round_trips);
    suite_add_tcase(s, tc);
    return s;
}
