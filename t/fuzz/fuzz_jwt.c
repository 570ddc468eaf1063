/* Access tokens (lib/pool_jwt.c: pool_jwt_verify, pool_jwt_sign).
 *
 * A fuzzer cannot forge an HMAC, so the input takes one of two shapes,
 * chosen by its first byte:
 *   even: the token as sent (Authorization: Bearer ...), verified as is;
 *   odd:  a JOSE header and a claims set (JSON text, split at the first
 *         '\n'), which the harness encodes and signs with a key of the
 *         ring, so that the claim checks behind the signature are reached.
 * Invariants: only a token that verifies fills the claims; every OK
 * carries all required claims; a verified token whose claims are signed
 * again by pool_jwt_sign verifies to the same claims; and a token altered
 * in one byte of its signature does not verify. */
#include <jansson.h>

#include "fuzz_common.h"
#include "pool_jwt.h"
#include "pool_util.h"

#define NOW     APR_INT64_C(1795000000)
#define ISS     "https://pool.example"
#define AUD     "mod_pool"

static pool_keyring_t *ring(apr_pool_t *p)
{
    static const char *kids[] = { "k1", "k2.rot_ate-2026" };
    pool_keyring_t *kr = apr_pcalloc(p, sizeof(*kr));
    int i;

    kr->keys = apr_array_make(p, 2, sizeof(pool_key_t));
    for (i = 0; i < 2; i++) {
        pool_key_t *k = apr_array_push(kr->keys);
        memset(k->key, 'A' + i, 32);
        k->keylen = 32;
        k->kid = kids[i];
    }
    return kr;
}

static char *b64url(apr_pool_t *p, const char *s, apr_size_t n)
{
    return pool_b64url_encode(p, (const unsigned char *)s, n);
}

/* header.claims signed with key k (its HMAC over the encoded parts) */
static const char *forge(apr_pool_t *p, const pool_key_t *k, const char *hdr,
                         apr_size_t hlen, const char *pl, apr_size_t plen)
{
    unsigned char mac[32];
    const char *input = apr_pstrcat(p, b64url(p, hdr, hlen), ".",
                                    b64url(p, pl, plen), NULL);

    pool_hmac_sha256(k->key, k->keylen, input, strlen(input), mac);
    return apr_pstrcat(p, input, ".",
                       pool_b64url_encode(p, mac, sizeof(mac)), NULL);
}

static void verified(apr_pool_t *p, const pool_keyring_t *kr,
                     const char *token, const pool_claims_t *c)
{
    pool_claims_t c2;
    char *tok2, *bad;
    apr_size_t n;

    CHECK(c->iss && !strcmp(c->iss, ISS));
    CHECK(c->aud && !strcmp(c->aud, AUD));
    CHECK(c->sub && *c->sub && c->pool && *c->pool && c->role && *c->role);
    CHECK(NOW < c->exp);
    /* the same claims signed by us verify alike (when they fit) */
    tok2 = pool_jwt_sign(p, pool_keyring_signing(kr), c);
    if (tok2) {
        memset(&c2, 0, sizeof(c2));
        CHECK(pool_jwt_verify(p, kr, tok2, ISS, AUD, NOW, &c2) == POOL_JWT_OK);
        CHECK(!strcmp(c2.sub, c->sub) && !strcmp(c2.pool, c->pool)
              && !strcmp(c2.role, c->role) && c2.exp == c->exp
              && c2.iat == c->iat);
        CHECK((c2.jti == NULL) == (c->jti == NULL)
              && (!c->jti || !strcmp(c2.jti, c->jti)));
    }
    /* one signature character changed: refused */
    n = strlen(token);
    bad = apr_pstrdup(p, token);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    CHECK(pool_jwt_verify(p, kr, bad, ISS, AUD, NOW, &c2) != POOL_JWT_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const pool_keyring_t *kr;
    const char *token;
    pool_claims_t c;
    pool_jwt_status_t st;
    unsigned mode;

    if (size > 2 * POOL_JWT_MAX_LEN) {
        return 0;
    }
    p = fz_pool();
    kr = ring(p);
    mode = fz_byte(&in);
    if (mode & 1) {
        const uint8_t *nl = memchr(in.d, '\n', in.n);
        apr_size_t hlen = nl ? (apr_size_t)(nl - in.d) : in.n;
        const pool_key_t *k = &APR_ARRAY_IDX(kr->keys, (mode >> 1) & 1,
                                             pool_key_t);

        token = forge(p, k, (const char *)in.d, hlen,
                      nl ? (const char *)nl + 1 : "",
                      nl ? in.n - hlen - 1 : 0);
    }
    else {
        token = fz_rest(p, &in);
    }
    memset(&c, 0, sizeof(c));
    st = pool_jwt_verify(p, kr, token, ISS, AUD, NOW, &c);
    CHECK(pool_jwt_strerror(st) != NULL);
    if (st == POOL_JWT_OK) {
        verified(p, kr, token, &c);
    }
    else {
        CHECK(c.sub == NULL && c.pool == NULL);
    }
    fz_pool_done(p);
    return 0;
}
