/* pool_name: file names, identifiers, roles and content types from clients. */
#include <string.h>

#include <apr_pools.h>

#include "unit.h"
#include "pool_groups.h"
#include "pool_name.h"

START_TEST(name_good)
{
    static const char *const good[] = {
        "a",
        "report.pdf",
        "2026-11-21 10.15.00 (1).csv",
        ".hidden",
        "...",
        "a..b",
        "na\xc3\xafve caf\xc3\xa9.txt",             /* U+00EF, U+00E9 */
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",     /* CJK */
        "\xf0\x9f\x98\x80.png",                     /* U+1F600 */
        "\xc2\xa0",                                 /* U+00A0: after C1 */
        "\xef\xbf\xbd",                             /* U+FFFD */
        "\xf4\x8f\xbf\xbf",                         /* U+10FFFF */
        "\xed\x9f\xbf",                             /* U+D7FF */
        "\xee\x80\x80",                             /* U+E000 */
        "~$file#1;&'\"<>|*?:",
    };
    char max[POOL_NAME_MAX + 1];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *why = pool_name_check(good[i]);
        ck_assert_msg(why == NULL, "rejected \"%s\": %s", good[i], why);
    }
    memset(max, 'x', POOL_NAME_MAX);
    max[POOL_NAME_MAX] = '\0';
    ck_assert_ptr_null(pool_name_check(max));
    /* 255 bytes ending in a 2-byte character */
    max[POOL_NAME_MAX - 2] = '\xc3';
    max[POOL_NAME_MAX - 1] = '\xa9';
    ck_assert_ptr_null(pool_name_check(max));
}
END_TEST

START_TEST(name_bad)
{
    static const char *const bad[] = {
        "",
        "/",
        "a/b",
        "/etc/passwd",
        "../x",
        "\\",
        "a\\b",
        ".",
        "..",
        "tab\there",
        "new\nline",
        "\r",
        "\x01",
        "\x1f",
        "del\x7f",
        "c1\xc2\x80",                   /* U+0080 */
        "c1\xc2\x9f",                   /* U+009F */
        "\xc2\x85",                     /* NEL */
        "\x80",                         /* stray continuation byte */
        "abc\xbf",
        "\xc0\xaf",                     /* overlong '/' */
        "\xc1\xbf",
        "\xe0\x80\xaf",                 /* overlong, 3 bytes */
        "\xe0\x9f\xbf",
        "\xf0\x80\x80\xaf",             /* overlong, 4 bytes */
        "\xf0\x8f\xbf\xbf",
        "\xed\xa0\x80",                 /* U+D800 surrogate */
        "\xed\xbf\xbf",                 /* U+DFFF surrogate */
        "\xf4\x90\x80\x80",             /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80",         /* 5-byte form */
        "\xfe",
        "\xff",
        "caf\xc3",                      /* truncated 2-byte */
        "\xe6\x97",                     /* truncated 3-byte */
        "\xf0\x9f\x98",                 /* truncated 4-byte */
        "\xe6\x97x",                    /* bad continuation */
        "\xc3\xc3\xa9",
    };
    char big[POOL_NAME_MAX + 2];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = pool_name_check(bad[i]);
        ck_assert_msg(why != NULL, "accepted bad name #%zu", i);
        ck_assert_uint_gt(strlen(why), 5);
    }
    ck_assert_ptr_nonnull(pool_name_check(NULL));
    memset(big, 'x', POOL_NAME_MAX + 1);
    big[POOL_NAME_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(pool_name_check(big));
    /* a 2-byte character cut by the 255-byte limit */
    big[POOL_NAME_MAX - 1] = '\xc3';
    big[POOL_NAME_MAX] = '\0';
    ck_assert_ptr_nonnull(pool_name_check(big));
    /* the reasons say what is wrong */
    ck_assert_ptr_nonnull(strstr(pool_name_check("a/b"), "/"));
    ck_assert_ptr_nonnull(strstr(pool_name_check("\xc0\xaf"), "UTF-8"));
    ck_assert_ptr_nonnull(strstr(pool_name_check("a\x01"), "control"));
}
END_TEST

START_TEST(ident)
{
    static const char *const good[] = {
        "a", "0", "pool-a", "client_1", "a-", "a_", "9lives",
        "abcdefghijklmnopqrstuvwxyz0123456789-_abcdefghijklmnopqrstuvwxy",
    };
    static const char *const bad[] = {
        "", "-a", "_a", "A", "Pool", "a.b", "a b", "a/b", "\xc3\xa9",
        "a\n", "a@b",
        "abcdefghijklmnopqrstuvwxyz0123456789-_abcdefghijklmnopqrstuvwxyz",
    };
    size_t i;

    ck_assert_uint_eq(strlen(good[7]), 63);
    ck_assert_uint_eq(strlen(bad[11]), 64);
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(pool_ident_check(good[i]) == NULL, "rejected \"%s\"",
                      good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_ident_check(bad[i]) != NULL, "accepted \"%s\"",
                      bad[i]);
    }
    ck_assert_ptr_nonnull(pool_ident_check(NULL));
}
END_TEST

START_TEST(role)
{
    ck_assert_ptr_null(pool_role_check("uploader"));
    ck_assert_ptr_null(pool_role_check("listener"));
    ck_assert_ptr_null(pool_role_check("processor"));
    ck_assert_ptr_null(pool_role_check("admin"));
    ck_assert_ptr_nonnull(pool_role_check("Admin"));
    ck_assert_ptr_nonnull(pool_role_check("admin "));
    ck_assert_ptr_nonnull(pool_role_check("root"));
    ck_assert_ptr_nonnull(pool_role_check("upload"));
    ck_assert_ptr_nonnull(pool_role_check(""));
    ck_assert_ptr_nonnull(pool_role_check(NULL));
}
END_TEST

START_TEST(ctype)
{
    static const char *const good[] = {
        "text/plain",
        "application/octet-stream",
        "text/plain; charset=utf-8",
        "text/plain;charset=\"utf-8\"",
        "application/vnd.api+json",
        "multipart/form-data; boundary=----x",
        "image/svg+xml",
    };
    static const char *const bad[] = {
        "",
        "text",
        "text/",
        "/plain",
        "text/plain/x",
        "text /plain",
        "text/ plain",
        "text/plain x",
        "te(xt/plain",
        "text/plain\r\nX-Injected: 1",
        "text/plain\n",
        "text/pl\xc3\xa4in",
        "text/plain; \x01",
        "text/plain\x7f",
    };
    char big[300];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(pool_ctype_check(good[i]) == NULL, "rejected \"%s\"",
                      good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_ctype_check(bad[i]) != NULL, "accepted \"%s\"",
                      bad[i]);
    }
    ck_assert_ptr_nonnull(pool_ctype_check(NULL));
    /* 255 bytes fine, 256 not */
    memset(big, 'a', sizeof(big));
    memcpy(big, "text/", 5);
    big[255] = '\0';
    ck_assert_ptr_null(pool_ctype_check(big));
    big[255] = 'a';
    big[256] = '\0';
    ck_assert_ptr_nonnull(pool_ctype_check(big));
}
END_TEST

START_TEST(utf8_prefix)
{
    /* 199 ASCII bytes and a 2-byte character: a cut at 200 bytes falls
     * inside the character, which is left out whole */
    char s[300];
    size_t i;

    memset(s, 'a', 199);
    memcpy(s + 199, "\xc3\xa9", 3);
    ck_assert_uint_eq(pool_utf8_prefix(s, 200), 199);
    ck_assert_uint_eq(pool_utf8_prefix(s, 201), 201);
    ck_assert_uint_eq(pool_utf8_prefix(s, 1000), 201);
    /* shorter than max: the whole string */
    ck_assert_uint_eq(pool_utf8_prefix("abc", 200), 3);
    ck_assert_uint_eq(pool_utf8_prefix("", 200), 0);
    ck_assert_uint_eq(pool_utf8_prefix("abc", 0), 0);
    /* 3- and 4-byte characters cut at every byte */
    ck_assert_uint_eq(pool_utf8_prefix("a\xe6\x97\xa5", 1), 1);
    ck_assert_uint_eq(pool_utf8_prefix("a\xe6\x97\xa5", 2), 1);
    ck_assert_uint_eq(pool_utf8_prefix("a\xe6\x97\xa5", 3), 1);
    ck_assert_uint_eq(pool_utf8_prefix("a\xe6\x97\xa5", 4), 4);
    ck_assert_uint_eq(pool_utf8_prefix("\xf0\x9f\x98\x80x", 3), 0);
    ck_assert_uint_eq(pool_utf8_prefix("\xf0\x9f\x98\x80x", 4), 4);
    ck_assert_uint_eq(pool_utf8_prefix("\xf0\x9f\x98\x80x", 5), 5);
    /* invalid input: the prefix stops before the first bad byte */
    ck_assert_uint_eq(pool_utf8_prefix("ab\xff" "cd", 200), 2);
    ck_assert_uint_eq(pool_utf8_prefix("ab\x80", 200), 2);
    ck_assert_uint_eq(pool_utf8_prefix("ab\xc0\xaf", 200), 2);
    ck_assert_uint_eq(pool_utf8_prefix("ab\xed\xa0\x80", 200), 2);
    ck_assert_uint_eq(pool_utf8_prefix("caf\xc3", 200), 3);
    /* every cut of a string of mixed widths is valid UTF-8 */
    {
        static const char mixed[] = "a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"
                                    "b\xc2\xa0";
        char buf[sizeof(mixed)];

        for (i = 0; i <= sizeof(mixed) - 1; i++) {
            size_t n = pool_utf8_prefix(mixed, i);

            ck_assert_uint_le(n, i);
            ck_assert_uint_gt(n + 4, i);
            memcpy(buf, mixed, n);
            buf[n] = '\0';
            ck_assert_msg(n == 0 || pool_name_check(buf) == NULL,
                          "cut at %zu gives invalid \"%s\"", i, buf);
        }
    }
}
END_TEST

START_TEST(result_path_name)
{
    apr_pool_t *p;
    char name[POOL_NAME_MAX + 1];
    const char *out, *fill[] = { "a", "\xc3\xa9", "\xe6\x97\xa5",
                                 "\xf0\x9f\x98\x80" };
    size_t i, k;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    ck_assert_str_eq(pool_result_path_name(p, 1, "avg.txt"),
                     "result-000001-avg.txt");
    ck_assert_str_eq(pool_result_path_name(p, 1234567, "x"),
                     "result-1234567-x");
    /* the defect found by outside testing: 199 bytes then a 2-byte
     * character made a name with half a character */
    memset(name, 'a', 199);
    memcpy(name + 199, "\xc3\xa9", 3);
    ck_assert_ptr_null(pool_name_check(name));
    out = pool_result_path_name(p, 7, name);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_null(pool_name_check(out));
    ck_assert_uint_eq(strlen(out), strlen("result-000007-") + 199);
    /* any name the API accepts (up to 255 bytes, any character width) has
     * a valid published name, whatever the seq */
    for (k = 0; k < sizeof(fill) / sizeof(fill[0]); k++) {
        size_t w = strlen(fill[k]), len;

        for (len = 1; len <= POOL_NAME_MAX; len++) {
            size_t n = 0;

            for (i = 0; n + w <= len; i++, n += w) {
                memcpy(name + n, fill[k], w);
            }
            if (n == 0) {
                continue;
            }
            name[n] = '\0';
            ck_assert_ptr_null(pool_name_check(name));
            out = pool_result_path_name(p, APR_INT64_C(9223372036854775807),
                                        name);
            ck_assert_msg(out && pool_name_check(out) == NULL,
                          "no valid published name for %zu bytes of "
                          "width %zu", n, w);
            ck_assert_uint_le(strlen(out), POOL_NAME_MAX);
            out = pool_result_path_name(p, 1, name);
            ck_assert_msg(out && pool_name_check(out) == NULL,
                          "no valid published name for %zu bytes of "
                          "width %zu", n, w);
        }
    }
    /* never a name that would be refused (it is not published then) */
    ck_assert_ptr_null(pool_result_path_name(p, 1, ""));
    ck_assert_ptr_null(pool_result_path_name(p, 1, NULL));
    ck_assert_ptr_null(pool_result_path_name(p, 1, "\xff"));
    ck_assert_ptr_null(pool_result_path_name(p, 1, "a/b"));
    apr_pool_destroy(p);
}
END_TEST

Suite *suite_name(void)
{
    Suite *s = suite_create("name");
    TCase *tc = tcase_create("checks");

    tcase_add_test(tc, name_good);
    tcase_add_test(tc, name_bad);
    tcase_add_test(tc, ident);
    tcase_add_test(tc, role);
    tcase_add_test(tc, ctype);
    tcase_add_test(tc, utf8_prefix);
    tcase_add_test(tc, result_path_name);
    suite_add_tcase(s, tc);
    return s;
}
