/* Retry-After of webhook answers (lib/pool_webhook.c:
 * pool_retry_after_parse): delay-seconds or an HTTP-date (apr_date).
 *
 * Input: 8 bytes of "now" (reduced to 0..2^40 s), then the value.
 * Invariants: -1 or 1..86400 seconds; delay-seconds give themselves
 * (capped); a date gives the same wait seen one second later, minus one
 * (or the cap, or -1 once past). */
#include <apr_lib.h>

#include "fuzz_common.h"
#include "pool_webhook.h"

#define CAP 86400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    apr_uint64_t raw = 0;
    apr_int64_t now;
    const char *v, *s;
    long r, r2;
    apr_size_t n;
    int i, delay;

    if (size > 512) {
        return 0;
    }
    for (i = 0; i < 8; i++) {
        raw = (raw << 8) | fz_byte(&in);
    }
    now = (apr_int64_t)(raw & ((APR_UINT64_C(1) << 40) - 1));
    p = fz_pool();
    v = fz_rest(p, &in);
    r = pool_retry_after_parse(v, now);
    CHECK(r == -1 || (r >= 1 && r <= CAP));
    for (s = v; *s == ' ' || *s == '\t'; s++) {
    }
    n = strspn(s, "0123456789");
    delay = n > 0 && strspn(s + n, " \t\r\n") == strlen(s + n);
    if (r > 0 && delay && n <= 9) {
        long d = atol(s);
        CHECK(r == (d > CAP ? CAP : d));
    }
    if (delay) {
        CHECK(n > 64 ? r == -1 : n > 9 ? r == CAP : r == (atol(s) > CAP ? CAP : atol(s) > 0 ? atol(s) : -1));
    }
    r2 = pool_retry_after_parse(v, now + 1);
    if (r > 0 && !delay) {
        CHECK(r2 == r - 1 || (r == 1 && r2 == -1) || (r == CAP && r2 >= CAP - 1));
    }
    fz_pool_done(p);
    return 0;
}
