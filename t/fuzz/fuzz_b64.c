/* The strict base64 decoders of lib/pool_util.c (pool_b64_decode,
 * pool_b64url_decode, pool_b64url_decode_buf) that every token, signature,
 * digest and tus metadata value goes through, and pool_uuid_valid.
 *
 * Input: the text.  Invariants: what decodes encodes back to exactly the
 * text (the decoders accept only the canonical form); the buffer decoder
 * agrees with the pool one and never writes past its buffer; the decoded
 * length is that of the text. */
#include "fuzz_common.h"
#include "pool_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *s = (const char *)data;
    unsigned char *out = NULL, buf[48];
    apr_ssize_t n, m;

    if (size > 4096) {
        return 0;
    }
    p = fz_pool();
    /* not NUL-terminated on purpose: the decoders take a length */
    n = pool_b64_decode(p, s, size, &out);
    if (n >= 0) {
        const char *back = pool_b64_encode(p, out, (apr_size_t)n);
        CHECK(strlen(back) == size && !memcmp(back, s, size));
        CHECK(out[n] == '\0');
    }
    n = pool_b64url_decode(p, s, size, &out);
    if (n >= 0) {
        const char *back = pool_b64url_encode(p, out, (apr_size_t)n);
        CHECK(strlen(back) == size && !memcmp(back, s, size));
        CHECK((apr_size_t)n == size * 3 / 4);
    }
    m = pool_b64url_decode_buf(s, size, buf, sizeof(buf));
    if (n >= 0 && (apr_size_t)n <= sizeof(buf)) {
        CHECK(m == n && !memcmp(buf, out, (apr_size_t)n));
    }
    else {
        CHECK(m == -1);
    }
    if (size == 36) {
        const char *u = apr_pstrndup(p, s, size);
        if (strlen(u) == 36 && pool_uuid_valid(u)) {
            CHECK(u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
            CHECK(strspn(u, "0123456789abcdef-") == 36);
        }
    }
    fz_pool_done(p);
    return 0;
}
