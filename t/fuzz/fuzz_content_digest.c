/* Content-Digest (RFC 9530) of direct uploads and batch parts:
 * pool_parse_content_digest (lib/pool_digest.c).
 *
 * Input: the header value.  Invariants: 1 only when the value has a
 * sha-256 member whose byte sequence is the base64 of the 32 bytes found;
 * the digest is untouched otherwise; a well-formed dictionary with the
 * member appended to a value that had none finds it. */
#include "fuzz_common.h"
#include "pool_digest.h"
#include "pool_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *h, *b64;
    unsigned char want[32], ref[32];
    int rc, i;

    if (size > 8192) {
        return 0;
    }
    p = fz_pool();
    h = fz_rest(p, &in);
    memset(want, 0xa5, sizeof(want));
    rc = pool_parse_content_digest(p, h, want);
    CHECK(rc == 1 || rc == 0 || rc == -1);
    if (rc == 1) {
        b64 = pool_b64_encode(p, want, 32);
        CHECK(strstr(h, apr_pstrcat(p, ":", b64, ":", NULL)) != NULL);
    }
    else {
        for (i = 0; i < 32; i++) {
            CHECK(want[i] == 0xa5);
        }
    }
    if (rc == 0 && !strpbrk(h, ":")) {
        for (i = 0; i < 32; i++) {
            ref[i] = (unsigned char)(i * 7 + 1);
        }
        b64 = pool_b64_encode(p, ref, 32);
        CHECK(pool_parse_content_digest(p, apr_pstrcat(p, h, ", sha-256=:",
                                                       b64, ":", NULL),
                                        want) == 1);
        CHECK(!memcmp(want, ref, 32));
    }
    fz_pool_done(p);
    return 0;
}
