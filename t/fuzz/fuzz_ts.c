/* Event timestamps (lib/pool_ts.c: pool_ts_parse, pool_ts_format): the ts
 * field of uploads, tus metadata and batch parts.
 *
 * Input: the value.  Invariants: an accepted value lies in 1970..9999;
 * formatted back (RFC 3339, UTC) it parses to the same time, and formatting
 * that again gives the same text; Unix seconds format as whole seconds. */
#include "fuzz_common.h"
#include "pool_ts.h"

#define TS_MAX (APR_INT64_C(253402300799) * APR_USEC_PER_SEC + 999999)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *s, *f1, *f2;
    apr_time_t t = -1, t2 = -1;

    if (size > 256) {
        return 0;
    }
    p = fz_pool();
    s = fz_rest(p, &in);
    if (pool_ts_parse(s, &t) == 0) {
        CHECK(t >= 0 && t <= TS_MAX);
        f1 = pool_ts_format(p, t);
        CHECK(strlen(f1) >= 20 && f1[strlen(f1) - 1] == 'Z');
        CHECK(pool_ts_parse(f1, &t2) == 0);
        CHECK(t2 == t);
        f2 = pool_ts_format(p, t2);
        CHECK(!strcmp(f1, f2));
        if (strspn(s, "0123456789") == strlen(s)) {
            CHECK(t % APR_USEC_PER_SEC == 0);
        }
        else {
            /* the date part is as written when the offset is zero */
            if (strlen(s) >= 20 && (s[strlen(s) - 1] | 0x20) == 'z') {
                CHECK(!memcmp(s, f1, 10) && !memcmp(s + 11, f1 + 11, 8));
            }
        }
    }
    fz_pool_done(p);
    return 0;
}
