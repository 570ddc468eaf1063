/* Names from clients (lib/pool_name.c): file names (pool_name_check,
 * pool_utf8_prefix), pool and client names (pool_ident_check), roles
 * (pool_role_check) and content types (pool_ctype_check).
 *
 * Input: the name.  Invariants: an accepted file name is 1..255 bytes of
 * valid UTF-8 without '/', '\\' or control characters; the UTF-8 prefix is
 * never longer than asked nor than the name, and is itself valid (an
 * accepted name is its own prefix); identifiers are [a-z0-9][a-z0-9_-]*
 * up to 63; roles are the four words; content types are printable ASCII
 * with a '/'. */
#include "fuzz_common.h"
#include "pool_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *s;
    size_t n, k, max;

    if (size > 1024) {
        return 0;
    }
    p = fz_pool();
    max = fz_byte(&in);
    s = fz_rest(p, &in);
    n = strlen(s);

    if (pool_name_check(s) == NULL) {
        CHECK(n >= 1 && n <= POOL_NAME_MAX);
        CHECK(!strchr(s, '/') && !strchr(s, '\\'));
        CHECK(strcmp(s, ".") && strcmp(s, ".."));
        CHECK(pool_utf8_prefix(s, n) == n);
    }
    k = pool_utf8_prefix(s, max);
    CHECK(k <= max && k <= n);
    if (k > 0) {
        char *pre = apr_pstrndup(p, s, k);
        CHECK(pool_utf8_prefix(pre, k) == k);
        if (pool_name_check(s) == NULL && strcmp(pre, ".") && strcmp(pre, "..")) {
            CHECK(pool_name_check(pre) == NULL);
        }
    }
    if (pool_ident_check(s) == NULL) {
        CHECK(n >= 1 && n <= 63);
        CHECK(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n);
        CHECK(s[0] != '_' && s[0] != '-');
    }
    if (pool_role_check(s) == NULL) {
        CHECK(!strcmp(s, "uploader") || !strcmp(s, "listener")
              || !strcmp(s, "processor") || !strcmp(s, "admin"));
    }
    if (pool_ctype_check(s) == NULL) {
        const char *q;
        CHECK(n >= 1 && n <= 255 && strchr(s, '/'));
        for (q = s; *q; q++) {
            CHECK(*q >= 0x20 && *q < 0x7f);
        }
    }
    fz_pool_done(p);
    return 0;
}
