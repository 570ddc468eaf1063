/* Signed links (lib/pool_link.c: pool_link_verify, pool_link_sign): the
 * query string of a download link, checked before any token.
 *
 * Input: one byte of mode, the method, '\n', the path, '\n', the query.
 *   mode even: the query is verified as sent;
 *   mode odd:  the harness signs method and path with the ring's signing
 *              key (expiring 1..7 days from now) and appends the fuzzed
 *              query to (or puts it before) the signed parameters.
 * Invariants: a query without "sig" is NONE; OK needs a signature over
 * exactly this method and path, so a link the harness signed verifies
 * unless the fuzzed part repeats expires, kid or sig, and never verifies
 * for another path; every non-OK code comes with a detail. */
#include "fuzz_common.h"
#include "pool_link.h"

#define NOW APR_INT64_C(1795000000)

static pool_keyring_t *ring(apr_pool_t *p)
{
    pool_keyring_t *kr = apr_pcalloc(p, sizeof(*kr));
    pool_key_t *k;

    kr->keys = apr_array_make(p, 2, sizeof(pool_key_t));
    k = apr_array_push(kr->keys);
    memset(k->key, 'x', 40);
    k->keylen = 40;
    k->kid = "old";
    k = apr_array_push(kr->keys);
    memset(k->key, 'y', 32);
    k->keylen = 32;
    k->kid = "k20261201";
    return kr;
}

/* 1 when the query has a parameter named name (as the verifier splits) */
static int has_param(const char *q, const char *name)
{
    size_t n = strlen(name);
    const char *s = q;

    for (;;) {
        size_t len = strcspn(s, "&");
        if (len >= n && !memcmp(s, name, n) && (len == n || s[n] == '=')) {
            return 1;
        }
        if (!s[len]) {
            return 0;
        }
        s += len + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const pool_keyring_t *kr;
    const char *method, *path, *query, *detail = NULL, *signed_q, *err;
    unsigned mode;
    pool_link_rc rc;

    if (size > 8192) {
        return 0;
    }
    p = fz_pool();
    kr = ring(p);
    mode = fz_byte(&in);
    method = fz_line(p, &in);
    path = fz_line(p, &in);
    query = fz_rest(p, &in);

    if (!(mode & 1)) {
        rc = pool_link_verify(p, kr, method, path, query, NOW, &detail);
        CHECK(rc >= POOL_LINK_OK && rc <= POOL_LINK_BAD_SIG);
        CHECK(rc == POOL_LINK_OK ? detail == NULL : detail != NULL);
        if (!has_param(query, "sig")) {
            CHECK(rc == POOL_LINK_NONE);
        }
        if (rc == POOL_LINK_OK) {
            CHECK(pool_link_verify(p, kr, method,
                                   apr_pstrcat(p, path, "x", NULL), query,
                                   NOW, NULL) == POOL_LINK_BAD_SIG);
        }
        fz_pool_done(p);
        return 0;
    }

    signed_q = pool_link_sign(p, kr, method, path,
                              NOW + 1 + (apr_int64_t)(mode >> 1) * 4700,
                              NOW, &err);
    if (!signed_q) {
        CHECK(err != NULL);
        fz_pool_done(p);
        return 0;
    }
    CHECK(err == NULL);
    CHECK(pool_link_verify(p, kr, method, path, signed_q, NOW, &detail)
          == POOL_LINK_OK);
    {
        const char *q = (mode & 2) ? apr_pstrcat(p, signed_q, "&", query, NULL)
                                   : apr_pstrcat(p, query, "&", signed_q, NULL);
        int repeats = has_param(query, "sig") || has_param(query, "kid")
                      || has_param(query, "expires");

        rc = pool_link_verify(p, kr, method, path, q, NOW, &detail);
        if (repeats) {
            CHECK(rc == POOL_LINK_MALFORMED);
        }
        else {
            CHECK(rc == POOL_LINK_OK);
        }
        /* another path, or another method */
        CHECK(pool_link_verify(p, kr, method, apr_pstrcat(p, path, "/", NULL),
                               q, NOW, NULL) != POOL_LINK_OK);
        CHECK(pool_link_verify(p, kr, apr_pstrcat(p, method, "X", NULL),
                               path, q, NOW, NULL) != POOL_LINK_OK);
        /* later than its expiry */
        CHECK(pool_link_verify(p, kr, method, path, q,
                               NOW + POOL_LINK_MAX_LIFETIME + 1, NULL)
              != POOL_LINK_OK);
    }
    fz_pool_done(p);
    return 0;
}
