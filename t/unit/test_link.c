/* pool_link: signed links.  A known vector computed here with OpenSSL
 * directly, round trips, every tampering, time limits, key rotation and
 * the parsing of the query. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "unit.h"
#include "pool_link.h"
#include "pool_keys.h"

#define NOW   APR_INT64_C(1700000000)
#define PATH  "/pool/files/0b4e%2Fx"

static apr_pool_t *p;
static pool_keyring_t *ring_ab;         /* kA, then kB: kB signs */
static pool_keyring_t *ring_a;
static pool_keyring_t *ring_b;

/* A keyring of the given keys (kid, fill byte pattern). */
static pool_keyring_t *make_ring(int n, const char *const *kids,
                                 const unsigned char *seeds)
{
    pool_keyring_t *kr = apr_pcalloc(p, sizeof(*kr));
    int i;
    apr_size_t j;

    kr->keys = apr_array_make(p, n, sizeof(pool_key_t));
    for (i = 0; i < n; i++) {
        pool_key_t k;

        memset(&k, 0, sizeof(k));
        k.kid = kids[i];
        k.keylen = 32;
        for (j = 0; j < k.keylen; j++) {
            k.key[j] = (unsigned char)(seeds[i] + j);
        }
        APR_ARRAY_PUSH(kr->keys, pool_key_t) = k;
    }
    return kr;
}

static void setup(void)
{
    static const char *const ab[] = { "kA", "kB" };
    static const unsigned char seeds[] = { 0x00, 0x80 };

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    ring_ab = make_ring(2, ab, seeds);
    ring_a = make_ring(1, ab, seeds);
    ring_b = make_ring(1, ab + 1, seeds + 1);
}

static void teardown(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

/* --------------------------------------------------------------- helpers */

static const char *sign(const pool_keyring_t *kr, const char *method,
                        const char *path, apr_int64_t expires)
{
    const char *err = NULL;
    const char *q = pool_link_sign(p, kr, method, path, expires, NOW, &err);

    ck_assert_msg(q != NULL, "sign failed: %s", err ? err : "(no error)");
    ck_assert_ptr_null(err);
    return q;
}

static pool_link_rc verify(const pool_keyring_t *kr, const char *method,
                           const char *path, const char *query,
                           apr_int64_t now)
{
    const char *detail = NULL;
    pool_link_rc rc = pool_link_verify(p, kr, method, path, query, now,
                                       &detail);

    if (rc == POOL_LINK_OK) {
        ck_assert_ptr_null(detail);
    }
    else {
        ck_assert_msg(detail != NULL && *detail, "no detail for rc %d",
                      (int)rc);
    }
    return rc;
}

/* The value of parameter name in q (no decoding), or NULL. */
static const char *param(const char *q, const char *name)
{
    const char *s = q;
    apr_size_t n = strlen(name);

    while (s) {
        if (!strncmp(s, name, n) && s[n] == '=') {
            const char *e = strchr(s + n + 1, '&');
            return e ? apr_pstrmemdup(p, s + n + 1, (apr_size_t)(e - s - n - 1))
                     : apr_pstrdup(p, s + n + 1);
        }
        s = strchr(s, '&');
        if (s) {
            s++;
        }
    }
    return NULL;
}

static const char *query(const char *expires, const char *kid,
                         const char *sig)
{
    return apr_pstrcat(p, "expires=", expires, "&kid=", kid, "&sig=", sig,
                       NULL);
}

/* base64url without padding, by OpenSSL and hand (not pool_util). */
static const char *ossl_b64url(const unsigned char *d, int n)
{
    char *out = apr_palloc(p, (apr_size_t)(4 * ((n + 2) / 3) + 1));
    int len = EVP_EncodeBlock((unsigned char *)out, d, n), i;

    while (len > 0 && out[len - 1] == '=') {
        len--;
    }
    out[len] = '\0';
    for (i = 0; i < len; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        }
        else if (out[i] == '/') {
            out[i] = '_';
        }
    }
    return out;
}

/* ----------------------------------------------------------------- tests */

START_TEST(known_vector)
{
    /* key kA: bytes 0..31 */
    static const char expected[] =
        "jSyHluuuSJzXWA2msxEW0DpoO1_51hSJ7hq3TK1R9mo";
    static const char label[] = "mod_pool signed link v1";
    static const char msg[] = "GET\n" PATH "\n1700000600\nkA";
    const pool_key_t *k = pool_keyring_find(ring_a, "kA");
    unsigned char lk[32], mac[32], plain[32];
    unsigned int lklen = 0, maclen = 0, plainlen = 0;
    const char *q, *sig;

    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->key[0], 0);
    ck_assert_uint_eq(k->key[31], 31);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k->key, (int)k->keylen,
                               (const unsigned char *)label, sizeof(label) - 1,
                               lk, &lklen));
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), lk, (int)lklen,
                               (const unsigned char *)msg, sizeof(msg) - 1,
                               mac, &maclen));
    ck_assert_uint_eq(maclen, 32);
    sig = ossl_b64url(mac, (int)maclen);
    ck_assert_str_eq(sig, expected);      /* also computed with Python */

    q = sign(ring_a, "GET", PATH, NOW + 600);
    ck_assert_str_eq(q, apr_pstrcat(p, "expires=1700000600&kid=kA&sig=",
                                    expected, NULL));
    ck_assert_int_eq(verify(ring_a, "GET", PATH, q, NOW), POOL_LINK_OK);

    /* a derived key: the plain HMAC (a token's) is a different signature */
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k->key, (int)k->keylen,
                               (const unsigned char *)msg, sizeof(msg) - 1,
                               plain, &plainlen));
    ck_assert_str_ne(ossl_b64url(plain, (int)plainlen), expected);
    ck_assert_int_eq(verify(ring_a, "GET", PATH,
                            query("1700000600", "kA",
                                  ossl_b64url(plain, (int)plainlen)), NOW),
                     POOL_LINK_BAD_SIG);
}
END_TEST

START_TEST(round_trip)
{
    const char *q = sign(ring_ab, "PUT", "/pool/groups/g1/result",
                         NOW + 3600);
    const char *sig = param(q, "sig");

    ck_assert_str_eq(param(q, "expires"), "1700003600");
    ck_assert_str_eq(param(q, "kid"), "kB");       /* the last key signs */
    ck_assert_ptr_nonnull(sig);
    ck_assert_uint_eq(strlen(sig), 43);
    ck_assert_int_eq(verify(ring_ab, "PUT", "/pool/groups/g1/result", q, NOW),
                     POOL_LINK_OK);
    /* until the second before expiry */
    ck_assert_int_eq(verify(ring_ab, "PUT", "/pool/groups/g1/result", q,
                            NOW + 3599), POOL_LINK_OK);
    /* detail may be NULL */
    ck_assert_int_eq(pool_link_verify(p, ring_ab, "PUT",
                                      "/pool/groups/g1/result", q, NOW, NULL),
                     POOL_LINK_OK);
}
END_TEST

START_TEST(tamper_method_path)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    char *path = apr_pstrdup(p, PATH);
    apr_size_t i;

    ck_assert_int_eq(verify(ring_ab, "PUT", PATH, q, NOW), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "get", PATH, q, NOW), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "HEAD", PATH, q, NOW), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, NULL, PATH, q, NOW), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET\n/pool", "files/0b4e%2Fx", q, NOW),
                     POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", "/pool/files/other", q, NOW),
                     POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", "/pool/files/0b4e/x", q, NOW),
                     POOL_LINK_BAD_SIG);              /* decoded form */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH "/", q, NOW),
                     POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", "", q, NOW), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", NULL, q, NOW), POOL_LINK_BAD_SIG);
    /* every single character of the path */
    for (i = 0; i < strlen(path); i++) {
        char c = path[i];

        path[i] = (char)(c == 'a' ? 'b' : 'a');
        ck_assert_msg(verify(ring_ab, "GET", path, q, NOW) == POOL_LINK_BAD_SIG,
                      "path '%s' verified", path);
        path[i] = c;
    }
    ck_assert_int_eq(verify(ring_ab, "GET", path, q, NOW), POOL_LINK_OK);
}
END_TEST

START_TEST(tamper_expires_kid)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *sig = param(q, "sig");

    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB", sig), NOW),
                     POOL_LINK_OK);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000601", "kB", sig), NOW),
                     POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700086400", "kB", sig), NOW),
                     POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1699999999", "kB", sig), NOW),
                     POOL_LINK_EXPIRED);
    /* another key of the ring */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kA", sig), NOW),
                     POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kb", sig), NOW),
                     POOL_LINK_UNKNOWN_KEY);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kC", sig), NOW),
                     POOL_LINK_UNKNOWN_KEY);
}
END_TEST

START_TEST(tamper_sig)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *sig = param(q, "sig");
    char *s = apr_pstrdup(p, sig);
    apr_size_t i;

    ck_assert_uint_eq(strlen(s), 43);
    for (i = 0; i < 43; i++) {
        char c = s[i];

        /* the last character holds 4 bits: keep the 2 others zero */
        if (i < 42) {
            s[i] = (char)(c == 'A' ? 'B' : 'A');
        }
        else {
            s[i] = (char)(c == 'A' ? 'E' : 'A');
        }
        ck_assert_msg(verify(ring_ab, "GET", PATH,
                             query("1700000600", "kB", s), NOW)
                      == POOL_LINK_BAD_SIG, "sig '%s' at %d", s, (int)i);
        s[i] = c;
    }
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB", s), NOW), POOL_LINK_OK);

    /* truncated, extended, padded, outside the alphabet, non-canonical */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB",
                                  apr_pstrndup(p, sig, 42)), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB",
                                  apr_pstrndup(p, sig, 1)), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB",
                                  apr_pstrcat(p, sig, "A", NULL)), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB",
                                  apr_pstrcat(p, sig, "=", NULL)), NOW),
                     POOL_LINK_MALFORMED);
    s[5] = '+';
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB", s), NOW),
                     POOL_LINK_MALFORMED);
    s[5] = sig[5];
    s[42] = (char)(sig[42] == 'B' ? 'C' : 'B');  /* low bits not zero */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("1700000600", "kB", s), NOW),
                     POOL_LINK_MALFORMED);
}
END_TEST

START_TEST(expired)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);

    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW + 600),
                     POOL_LINK_EXPIRED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW + 601),
                     POOL_LINK_EXPIRED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW + 86400 * 365),
                     POOL_LINK_EXPIRED);
    /* the expiry is checked before the signature */
    ck_assert_int_eq(verify(ring_ab, "GET", "/other", q, NOW + 600),
                     POOL_LINK_EXPIRED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("0", "kB", param(q, "sig")), NOW),
                     POOL_LINK_EXPIRED);
}
END_TEST

START_TEST(too_long)
{
    const apr_int64_t max = NOW + POOL_LINK_MAX_LIFETIME;
    const char *q = sign(ring_ab, "GET", PATH, max);   /* the longest */
    const char *sig = param(q, "sig");

    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW), POOL_LINK_OK);
    /* 60 s of clock skew between signer and verifier */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW - 60), POOL_LINK_OK);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW - 61),
                     POOL_LINK_TOO_LONG);
    /* checked before the key and the signature */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query(apr_psprintf(p, "%" APR_INT64_T_FMT,
                                               max + 61), "kZ", sig), NOW),
                     POOL_LINK_TOO_LONG);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("99999999999999999999", "kB", sig), NOW),
                     POOL_LINK_TOO_LONG);         /* beyond 64 bits */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("9223372036854775807", "kB", sig), NOW),
                     POOL_LINK_TOO_LONG);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query("100000000000000000000", "kB", sig), NOW),
                     POOL_LINK_MALFORMED);        /* 21 digits */
}
END_TEST

START_TEST(unknown_key)
{
    static const char *const other[] = { "kZ" };
    static const unsigned char seed[] = { 0x00 };   /* kA's bytes */
    pool_keyring_t *ring_z = make_ring(1, other, seed);
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);

    ck_assert_int_eq(verify(ring_z, "GET", PATH, q, NOW),
                     POOL_LINK_UNKNOWN_KEY);
    ck_assert_int_eq(verify(NULL, "GET", PATH, q, NOW),
                     POOL_LINK_UNKNOWN_KEY);
}
END_TEST

START_TEST(rotation)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *old = sign(ring_a, "GET", PATH, NOW + 600);

    ck_assert_str_eq(param(q, "kid"), "kB");
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, q, NOW), POOL_LINK_OK);
    ck_assert_int_eq(verify(ring_b, "GET", PATH, q, NOW), POOL_LINK_OK);
    ck_assert_int_eq(verify(ring_a, "GET", PATH, q, NOW),
                     POOL_LINK_UNKNOWN_KEY);
    /* a link of the old key still verifies while the key is in the ring */
    ck_assert_str_eq(param(old, "kid"), "kA");
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, old, NOW), POOL_LINK_OK);
    ck_assert_int_eq(verify(ring_b, "GET", PATH, old, NOW),
                     POOL_LINK_UNKNOWN_KEY);
}
END_TEST

START_TEST(other_params)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *e = param(q, "expires"), *k = param(q, "kid");
    const char *s = param(q, "sig");

    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "name=x&", q, "&download=1", NULL),
                            NOW), POOL_LINK_OK);
    /* any order, empty parts, lookalike names */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "sig=", s, "&&kid=", k,
                                        "&xsig=1&Sig=2&sig_=3&expires=", e,
                                        "&", NULL), NOW), POOL_LINK_OK);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "kid=", k, "&name=%41%42&expires=",
                                        e, "&sig=", s, "&n", NULL), NOW),
                     POOL_LINK_OK);
}
END_TEST

START_TEST(duplicates_malformed)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *e = param(q, "expires"), *k = param(q, "kid");
    const char *s = param(q, "sig");

    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, q, "&sig=", s, NULL), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, q, "&kid=", k, NULL), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "expires=", e, "&", q, NULL), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, q, "&expires", NULL), NOW),
                     POOL_LINK_MALFORMED);
}
END_TEST

START_TEST(missing_and_malformed)
{
    static const char *const bad_expires[] = {
        "", "01700000600", "+1700000600", "-1", "1700000600 ", " 1700000600",
        "1.7e9", "0x65", "1700000600%20", "%31700000600", "1700000600x",
    };
    static const char *const bad_kid[] = {
        "", "k B", "k!", "k%42", "%6bB", "k/B",
        "01234567890123456789012345678901234567890123456789012345678901234",
    };
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *e = param(q, "expires"), *k = param(q, "kid");
    const char *s = param(q, "sig");
    size_t i;

    /* no sig: not a signed request */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, NULL, NOW), POOL_LINK_NONE);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, "", NOW), POOL_LINK_NONE);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, "name=x", NOW),
                     POOL_LINK_NONE);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "expires=", e, "&kid=", k, NULL),
                            NOW), POOL_LINK_NONE);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "expires=", e, "&kid=", k,
                                        "&Sig=", s, NULL), NOW),
                     POOL_LINK_NONE);

    /* sig without the others, or without a value */
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "sig=", s, NULL), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "kid=", k, "&sig=", s, NULL), NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "expires=", e, "&sig=", s, NULL),
                            NOW), POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "expires=", e, "&kid=", k, "&sig",
                                        NULL), NOW), POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            apr_pstrcat(p, "expires=", e, "&kid=", k, "&sig=",
                                        NULL), NOW), POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH, "sig", NOW),
                     POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify(ring_ab, "GET", PATH,
                            query(e, k, apr_pstrcat(p, "%41",
                                                    s + 3, NULL)), NOW),
                     POOL_LINK_MALFORMED);

    for (i = 0; i < sizeof(bad_expires) / sizeof(bad_expires[0]); i++) {
        ck_assert_msg(verify(ring_ab, "GET", PATH, query(bad_expires[i], k, s),
                             NOW) == POOL_LINK_MALFORMED,
                      "expires '%s'", bad_expires[i]);
    }
    for (i = 0; i < sizeof(bad_kid) / sizeof(bad_kid[0]); i++) {
        ck_assert_msg(verify(ring_ab, "GET", PATH, query(e, bad_kid[i], s),
                             NOW) == POOL_LINK_MALFORMED,
                      "kid '%s'", bad_kid[i]);
    }
}
END_TEST

START_TEST(detail_hides_signature)
{
    const char *q = sign(ring_ab, "GET", PATH, NOW + 600);
    const char *s = param(q, "sig");
    const char *detail = NULL;
    pool_link_rc rc;

    rc = pool_link_verify(p, ring_ab, "GET", "/pool/files/other", q, NOW,
                          &detail);
    ck_assert_int_eq(rc, POOL_LINK_BAD_SIG);
    ck_assert_ptr_nonnull(detail);
    ck_assert_ptr_null(strstr(detail, s));
    ck_assert_ptr_nonnull(strstr(detail, "signature"));

    /* what the right signature for the changed path would be */
    s = param(sign(ring_ab, "GET", "/pool/files/other", NOW + 600), "sig");
    ck_assert_ptr_null(strstr(detail, s));

    detail = NULL;
    rc = pool_link_verify(p, ring_ab, "GET", PATH, q, NOW + 600, &detail);
    ck_assert_int_eq(rc, POOL_LINK_EXPIRED);
    ck_assert_ptr_nonnull(strstr(detail, "expired"));
}
END_TEST

START_TEST(sign_refuses)
{
    static const char *const bad[] = { "k&sig=x" };
    static const unsigned char seed[] = { 0 };
    pool_keyring_t empty, *badkid;
    const char *err;

    empty.keys = apr_array_make(p, 1, sizeof(pool_key_t));
    err = NULL;
    ck_assert_ptr_null(pool_link_sign(p, NULL, "GET", PATH, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(pool_link_sign(p, &empty, "GET", PATH, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_nonnull(err);
    badkid = make_ring(1, bad, seed);
    err = NULL;
    ck_assert_ptr_null(pool_link_sign(p, badkid, "GET", PATH, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_nonnull(err);

    /* methods and paths */
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, NULL, PATH, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "", PATH, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GE T", PATH, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET\n", PATH, NOW + 60,
                                      NOW, &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", NULL, NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "", NOW + 60, NOW,
                                      &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "pool/files/1",
                                      NOW + 60, NOW, &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "/pool/files/1?x=1",
                                      NOW + 60, NOW, &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "/pool/files/1#x",
                                      NOW + 60, NOW, &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "/pool/a b",
                                      NOW + 60, NOW, &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "/pool/a\nb",
                                      NOW + 60, NOW, &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", "/pool/\xc3\xa9",
                                      NOW + 60, NOW, &err));

    /* times */
    err = NULL;
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", PATH, NOW, NOW,
                                      &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", PATH, NOW - 1, NOW,
                                      &err));
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", PATH, -5, -10,
                                      &err));
    err = NULL;
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", PATH,
                                      NOW + POOL_LINK_MAX_LIFETIME + 1, NOW,
                                      &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(pool_link_sign(p, ring_ab, "GET", PATH,
                                      APR_INT64_MAX, NOW, &err));
    ck_assert_ptr_nonnull(pool_link_sign(p, ring_ab, "GET", PATH, NOW + 1,
                                         NOW, &err));
    ck_assert_ptr_null(err);
}
END_TEST

Suite *suite_link(void)
{
    Suite *s = suite_create("link");
    TCase *tc = tcase_create("sign_verify");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, known_vector);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, tamper_method_path);
    tcase_add_test(tc, tamper_expires_kid);
    tcase_add_test(tc, tamper_sig);
    tcase_add_test(tc, expired);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, unknown_key);
    tcase_add_test(tc, rotation);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, other_params);
    tcase_add_test(tc, duplicates_malformed);
    tcase_add_test(tc, missing_and_malformed);
    tcase_add_test(tc, detail_hides_signature);
    tcase_add_test(tc, sign_refuses);
    suite_add_tcase(s, tc);
    return s;
}
