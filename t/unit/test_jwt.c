/* pool_jwt and pool_keys: HS256 known vectors, sign/verify, every
 * rejection, key rotation and key file loading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "pool_jwt.h"
#include "pool_keys.h"
#include "pool_util.h"
#include "pool_log.h"

#define ISS "https://pool.example"
#define AUD "pool-api"
#define NOW APR_INT64_C(1700000000)

static apr_pool_t *p;
static pool_keyring_t *ring;            /* k1 (K1), then k2 (K2): k2 signs */
static unsigned char K1[32], K2[48], K3[32];

static apr_status_t unlink_cleanup(void *data)
{
    unlink(data);
    return APR_SUCCESS;
}

/* A temporary file holding content, removed with the test's pool. */
static const char *temp_file(const char *content)
{
    char *path = apr_pstrdup(p, "/tmp/pool-unit-keys-XXXXXX");
    int fd = mkstemp(path);
    size_t n = strlen(content);

    ck_assert_int_ge(fd, 0);
    apr_pool_cleanup_register(p, path, unlink_cleanup, apr_pool_cleanup_null);
    ck_assert_int_eq(write(fd, content, n), (ssize_t)n);
    ck_assert_int_eq(close(fd), 0);
    return path;
}

static const char *b64u(const unsigned char *d, size_t n)
{
    return pool_b64url_encode(p, d, n);
}

static void setup(void)
{
    const char *path, *err = NULL;
    size_t i;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    for (i = 0; i < sizeof(K1); i++) {
        K1[i] = (unsigned char)i;
        K3[i] = (unsigned char)(0xa0 ^ i);
    }
    for (i = 0; i < sizeof(K2); i++) {
        K2[i] = (unsigned char)(0x40 + i);
    }
    path = temp_file(apr_pstrcat(p, "k1 ", b64u(K1, sizeof(K1)), "\n",
                                 "k2 ", b64u(K2, sizeof(K2)), "\n", NULL));
    ring = NULL;
    ck_assert_int_eq(pool_keyring_load(p, path, &ring, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(ring);
}

static void teardown(void)
{
    apr_pool_destroy(p);
    p = NULL;
    ring = NULL;
}

/* --------------------------------------------------------------- helpers */

/* A token of the given header and payload text, signed with key. */
static char *forge(const char *hdr, const char *pl, const unsigned char *key,
                   size_t keylen)
{
    unsigned char mac[32];
    char *input = apr_pstrcat(p, b64u((const unsigned char *)hdr, strlen(hdr)),
                              ".", b64u((const unsigned char *)pl, strlen(pl)),
                              NULL);

    pool_hmac_sha256(key, keylen, input, strlen(input), mac);
    return apr_pstrcat(p, input, ".", b64u(mac, sizeof(mac)), NULL);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT), *r;

    ck_assert_ptr_nonnull(s);
    r = apr_pstrdup(p, s);
    free(s);
    json_decref(j);
    return r;
}

/* Forges with K1 under kid k1; consumes both objects. */
static char *forge_json(json_t *hdr, json_t *pl)
{
    return forge(dump(hdr), dump(pl), K1, sizeof(K1));
}

static json_t *base_header(const char *kid)
{
    json_t *h = json_pack("{s:s,s:s}", "alg", "HS256", "typ", "at+jwt");

    if (kid) {
        json_object_set_new(h, "kid", json_string(kid));
    }
    return h;
}

static json_t *base_payload(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}",
                     "iss", ISS, "aud", AUD, "sub", "client-1",
                     "pool", "pool-a", "role", "uploader", "jti", "j-1",
                     "iat", (json_int_t)NOW, "exp", (json_int_t)(NOW + 300));
}

static pool_jwt_status_t verify(const char *tok)
{
    pool_claims_t out;
    return pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out);
}

static pool_jwt_status_t verify_payload(json_t *pl)
{
    return verify(forge_json(base_header("k1"), pl));
}

static pool_claims_t sample_claims(void)
{
    pool_claims_t c;

    memset(&c, 0, sizeof(c));
    c.iss = ISS;
    c.aud = AUD;
    c.sub = "client-1";
    c.pool = "pool-a";
    c.role = "processor";
    c.jti = "5b7b2a8e-6d8f-4a43-9a39-0b0f5c0c7d11";
    c.iat = NOW;
    c.exp = NOW + 600;
    return c;
}

/* The three parts of a token. */
static void split(const char *tok, char **h, char **pl, char **sig)
{
    char *t = apr_pstrdup(p, tok), *last;

    *h = apr_strtok(t, ".", &last);
    *pl = apr_strtok(NULL, ".", &last);
    *sig = apr_strtok(NULL, ".", &last);
    ck_assert_ptr_nonnull(*sig);
}

/* ---------------------------------------------------------- known vectors */

START_TEST(vector_rfc7515_a1)
{
    /* RFC 7515 Appendix A.1: the JWK "k" value and the signing input */
    static const char k[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0"
                            "gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char input[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
        "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    unsigned char *key, mac[32];
    apr_ssize_t n = pool_b64url_decode(p, k, strlen(k), &key);

    ck_assert_int_eq(n, 64);
    pool_hmac_sha256(key, n, input, strlen(input), mac);
    ck_assert_str_eq(b64u(mac, 32),
                     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}
END_TEST

START_TEST(vector_jwtio)
{
    static const char tok[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2Mj"
        "M5MDIyfQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    const char *secret = "your-256-bit-secret";
    const char *dot2 = strrchr(tok, '.');
    unsigned char mac[32], *sig;

    pool_hmac_sha256((const unsigned char *)secret, strlen(secret), tok,
                     dot2 - tok, mac);
    ck_assert_int_eq(pool_b64url_decode(p, dot2 + 1, strlen(dot2 + 1), &sig),
                     32);
    ck_assert(memcmp(mac, sig, 32) == 0);
    ck_assert_str_eq(b64u(mac, 32), dot2 + 1);
}
END_TEST

/* ------------------------------------------------------- sign and verify */

START_TEST(round_trip)
{
    pool_claims_t c = sample_claims(), out;
    const pool_key_t *key = pool_keyring_signing(ring);
    char *tok;

    ck_assert_str_eq(key->kid, "k2");
    tok = pool_jwt_sign(p, key, &c);
    ck_assert_ptr_nonnull(tok);
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out),
                     POOL_JWT_OK);
    ck_assert_str_eq(out.iss, ISS);
    ck_assert_str_eq(out.aud, AUD);
    ck_assert_str_eq(out.sub, "client-1");
    ck_assert_str_eq(out.pool, "pool-a");
    ck_assert_str_eq(out.role, "processor");
    ck_assert_str_eq(out.jti, c.jti);
    ck_assert_int_eq(out.iat, NOW);
    ck_assert_int_eq(out.exp, NOW + 600);
    /* signed by the same key twice: the same token (deterministic) */
    ck_assert_str_eq(pool_jwt_sign(p, key, &c), tok);
}
END_TEST

START_TEST(signed_header)
{
    pool_claims_t c = sample_claims();
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    char *h, *pl, *sig;
    unsigned char *d;
    apr_ssize_t n;
    json_t *j;

    split(tok, &h, &pl, &sig);
    n = pool_b64url_decode(p, h, strlen(h), &d);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq((char *)d,
                     "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k2\"}");

    /* a NULL jti is omitted from the payload */
    c.jti = NULL;
    tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    split(tok, &h, &pl, &sig);
    n = pool_b64url_decode(p, pl, strlen(pl), &d);
    ck_assert_int_gt(n, 0);
    j = json_loadb((char *)d, n, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_ptr_null(json_object_get(j, "jti"));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "exp")), NOW + 600);
    json_decref(j);
}
END_TEST

START_TEST(rotation_old_key_verifies)
{
    pool_claims_t c = sample_claims(), out;
    const pool_key_t *old = pool_keyring_find(ring, "k1");
    char *tok;

    ck_assert_ptr_nonnull(old);
    ck_assert_ptr_ne(old, pool_keyring_signing(ring));
    ck_assert_uint_eq(old->keylen, 32);
    ck_assert(memcmp(old->key, K1, 32) == 0);
    tok = pool_jwt_sign(p, old, &c);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out),
                     POOL_JWT_OK);
    ck_assert_str_eq(out.sub, "client-1");
}
END_TEST

START_TEST(optional_jti)
{
    json_t *pl = base_payload();
    pool_claims_t out;

    json_object_del(pl, "jti");
    ck_assert_int_eq(pool_jwt_verify(p, ring, forge_json(base_header("k1"), pl),
                                     ISS, AUD, NOW, &out), POOL_JWT_OK);
    ck_assert_ptr_null(out.jti);
}
END_TEST

START_TEST(typ_variants)
{
    json_t *h = base_header("k1");

    json_object_set_new(h, "typ", json_string("application/at+jwt"));
    ck_assert_int_eq(verify(forge_json(h, base_payload())), POOL_JWT_OK);
    h = base_header("k1");
    json_object_set_new(h, "typ", json_string("AT+JWT"));
    ck_assert_int_eq(verify(forge_json(h, base_payload())), POOL_JWT_OK);
}
END_TEST

START_TEST(sign_failures)
{
    pool_claims_t c = sample_claims();
    char *big = apr_palloc(p, POOL_JWT_MAX_LEN + 1);

    ck_assert_ptr_null(pool_jwt_sign(p, NULL, &c));
    ck_assert_ptr_null(pool_jwt_sign(p, pool_keyring_signing(ring), NULL));
    /* a token that would be too long to verify is not produced */
    memset(big, 'x', POOL_JWT_MAX_LEN);
    big[POOL_JWT_MAX_LEN] = '\0';
    c.sub = big;
    ck_assert_ptr_null(pool_jwt_sign(p, pool_keyring_signing(ring), &c));
    /* nor one with invalid UTF-8 */
    c.sub = "bad\xff";
    ck_assert_ptr_null(pool_jwt_sign(p, pool_keyring_signing(ring), &c));
}
END_TEST

/* ------------------------------------------------------------- rejections */

START_TEST(alg_none)
{
    const char *hdr = "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}";
    const char *pl = dump(base_payload());
    char *tok = forge(hdr, pl, K1, sizeof(K1));
    char *unsigned_tok = apr_pstrndup(p, tok, strrchr(tok, '.') - tok + 1);

    /* "xxx.yyy." : the empty signature part is malformed already */
    ck_assert_int_eq(unsigned_tok[strlen(unsigned_tok) - 1], '.');
    ck_assert_int_eq(verify(unsigned_tok), POOL_JWT_MALFORMED);
    /* with a signature, alg none is refused as such */
    ck_assert_int_eq(verify(tok), POOL_JWT_BAD_ALG);
    hdr = "{\"alg\":\"None\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}";
    ck_assert_int_eq(verify(forge(hdr, pl, K1, sizeof(K1))), POOL_JWT_BAD_ALG);
}
END_TEST

START_TEST(alg_other)
{
    static const char *const hdrs[] = {
        "{\"alg\":\"HS512\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS384\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":\"hs256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS256 \",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":\"\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":256,\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":null,\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"alg\":[\"HS256\"],\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
        "{\"typ\":\"at+jwt\",\"kid\":\"k1\"}",                 /* missing */
    };
    const char *pl = dump(base_payload());
    size_t i;

    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        ck_assert_msg(verify(forge(hdrs[i], pl, K1, sizeof(K1)))
                      == POOL_JWT_BAD_ALG, "header %s", hdrs[i]);
    }
}
END_TEST

START_TEST(typ_wrong)
{
    static const char *const hdrs[] = {
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt2\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"application/jwt\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS256\",\"typ\":1,\"kid\":\"k1\"}",
        "{\"alg\":\"HS256\",\"kid\":\"k1\"}",                   /* missing */
    };
    const char *pl = dump(base_payload());
    size_t i;

    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        ck_assert_msg(verify(forge(hdrs[i], pl, K1, sizeof(K1)))
                      == POOL_JWT_BAD_TYP, "header %s", hdrs[i]);
    }
}
END_TEST

START_TEST(kid_unknown_or_missing)
{
    json_t *h;

    ck_assert_int_eq(verify(forge_json(base_header("k3"), base_payload())),
                     POOL_JWT_UNKNOWN_KID);
    ck_assert_int_eq(verify(forge_json(base_header("K1"), base_payload())),
                     POOL_JWT_UNKNOWN_KID);
    ck_assert_int_eq(verify(forge_json(base_header(""), base_payload())),
                     POOL_JWT_UNKNOWN_KID);
    ck_assert_int_eq(verify(forge_json(base_header(NULL), base_payload())),
                     POOL_JWT_UNKNOWN_KID);
    h = base_header(NULL);
    json_object_set_new(h, "kid", json_integer(1));
    ck_assert_int_eq(verify(forge_json(h, base_payload())),
                     POOL_JWT_UNKNOWN_KID);
}
END_TEST

START_TEST(crit_header)
{
    json_t *h = base_header("k1");

    json_object_set_new(h, "crit", json_pack("[s]", "exp"));
    ck_assert_int_eq(verify(forge_json(h, base_payload())), POOL_JWT_MALFORMED);
}
END_TEST

START_TEST(wrong_key_same_kid)
{
    const char *hdr = dump(base_header("k1"));
    const char *pl = dump(base_payload());

    ck_assert_int_eq(verify(forge(hdr, pl, K3, sizeof(K3))),
                     POOL_JWT_BAD_SIGNATURE);
    /* k2's key under k1's name */
    ck_assert_int_eq(verify(forge(hdr, pl, K2, sizeof(K2))),
                     POOL_JWT_BAD_SIGNATURE);
    ck_assert_int_eq(verify(forge(hdr, pl, K1, sizeof(K1))), POOL_JWT_OK);
}
END_TEST

START_TEST(tampered_payload)
{
    pool_claims_t c = sample_claims();
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    char *h, *pl, *sig, *t2;
    const char *alt;
    json_t *j = base_payload();

    split(tok, &h, &pl, &sig);
    /* another, well-formed payload under the original signature */
    json_object_set_new(j, "role", json_string("admin"));
    alt = dump(j);
    t2 = apr_pstrcat(p, h, ".", b64u((const unsigned char *)alt, strlen(alt)),
                     ".", sig, NULL);
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    /* one character of the payload changed */
    t2 = apr_pstrdup(p, tok);
    t2[strlen(h) + 5] = t2[strlen(h) + 5] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    /* header changed (kid k2 -> k1): signature no longer matches */
    alt = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}";
    t2 = apr_pstrcat(p, b64u((const unsigned char *)alt, strlen(alt)), ".", pl,
                     ".", sig, NULL);
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    ck_assert_int_eq(verify(tok), POOL_JWT_OK);
}
END_TEST

START_TEST(tampered_signature)
{
    pool_claims_t c = sample_claims();
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    char *h, *pl, *sig, *t2;
    unsigned char *raw;
    size_t at;

    split(tok, &h, &pl, &sig);
    at = strlen(h) + strlen(pl) + 2;
    t2 = apr_pstrdup(p, tok);
    t2[at] = t2[at] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);

    /* one bit flipped in the decoded signature */
    ck_assert_int_eq(pool_b64url_decode(p, sig, strlen(sig), &raw), 32);
    raw[31] ^= 0x01;
    t2 = apr_pstrcat(p, h, ".", pl, ".", b64u(raw, 32), NULL);
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    raw[31] ^= 0x01;

    /* truncated: the first 31 bytes, and 33 bytes */
    t2 = apr_pstrcat(p, h, ".", pl, ".", b64u(raw, 31), NULL);
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    t2 = apr_pstrcat(p, h, ".", pl, ".", b64u(raw, 16), NULL);
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    t2 = apr_pstrcat(p, h, ".", pl, ".AAAA", NULL);
    ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    {
        unsigned char longer[33];
        memcpy(longer, raw, 32);
        longer[32] = 0;
        t2 = apr_pstrcat(p, h, ".", pl, ".", b64u(longer, 33), NULL);
        ck_assert_int_eq(verify(t2), POOL_JWT_BAD_SIGNATURE);
    }
    /* text truncation of the signature part */
    t2 = apr_pstrndup(p, tok, strlen(tok) - 1);
    ck_assert_int_ne(verify(t2), POOL_JWT_OK);
    t2 = apr_pstrndup(p, tok, strlen(tok) - 2);
    ck_assert_int_ne(verify(t2), POOL_JWT_OK);
    ck_assert_int_eq(verify(tok), POOL_JWT_OK);
}
END_TEST

START_TEST(expired)
{
    pool_claims_t c = sample_claims(), out;
    char *tok;

    c.exp = NOW;
    tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out),
                     POOL_JWT_EXPIRED);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW - 1, &out),
                     POOL_JWT_OK);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW + 3600, &out),
                     POOL_JWT_EXPIRED);
}
END_TEST

START_TEST(not_yet)
{
    pool_claims_t c = sample_claims(), out;
    char *tok;

    c.iat = NOW + 61;
    c.exp = NOW + 900;
    tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out),
                     POOL_JWT_NOT_YET);
    /* 60 s of clock skew is allowed */
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW + 1, &out),
                     POOL_JWT_OK);
}
END_TEST

/* nbf (RFC 7519 4.1.5) is held to, with the same 60 s of skew as iat */
START_TEST(not_before)
{
    json_t *pl;
    pool_claims_t out;
    char *tok;

    pl = base_payload();
    json_object_set_new(pl, "nbf", json_integer(NOW + 61));
    tok = forge_json(base_header("k1"), pl);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out),
                     POOL_JWT_NOT_YET);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW + 1, &out),
                     POOL_JWT_OK);
    pl = base_payload();
    json_object_set_new(pl, "nbf", json_integer(NOW - 10));
    ck_assert_int_eq(verify_payload(pl), POOL_JWT_OK);
}
END_TEST

/* RFC 9068: the token names its client; another client_id than sub is a
 * forgery of our format */
START_TEST(client_id_claim)
{
    pool_claims_t c = sample_claims(), out;
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    char *h, *pl, *sig;
    unsigned char *raw;
    apr_ssize_t n;
    json_t *j;

    split(tok, &h, &pl, &sig);
    n = pool_b64url_decode(p, pl, strlen(pl), &raw);
    ck_assert_int_gt(n, 0);
    j = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "client_id")), c.sub);
    json_decref(j);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, AUD, NOW, &out),
                     POOL_JWT_OK);

    j = base_payload();
    json_object_set_new(j, "client_id", json_string("someone-else"));
    ck_assert_int_eq(verify_payload(j), POOL_JWT_BAD_CLAIMS);
    j = base_payload();
    json_object_set_new(j, "client_id", json_integer(7));
    ck_assert_int_eq(verify_payload(j), POOL_JWT_BAD_CLAIMS);
    j = base_payload();
    json_object_set_new(j, "client_id",
                        json_incref(json_object_get(j, "sub")));
    ck_assert_int_eq(verify_payload(j), POOL_JWT_OK);
}
END_TEST

START_TEST(wrong_iss_aud)
{
    pool_claims_t c = sample_claims(), out;
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);

    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, "https://other.example",
                                     AUD, NOW, &out), POOL_JWT_BAD_ISS);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS "/", AUD, NOW, &out),
                     POOL_JWT_BAD_ISS);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, NULL, AUD, NOW, &out),
                     POOL_JWT_BAD_ISS);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, "other-api", NOW, &out),
                     POOL_JWT_BAD_AUD);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, "POOL-API", NOW, &out),
                     POOL_JWT_BAD_AUD);
    ck_assert_int_eq(pool_jwt_verify(p, ring, tok, ISS, NULL, NOW, &out),
                     POOL_JWT_BAD_AUD);
}
END_TEST

START_TEST(aud_array)
{
    pool_claims_t out;
    json_t *pl = base_payload();

    json_object_set_new(pl, "aud", json_pack("[s,s]", "other", AUD));
    ck_assert_int_eq(pool_jwt_verify(p, ring,
                                     forge_json(base_header("k1"), pl),
                                     ISS, AUD, NOW, &out), POOL_JWT_OK);
    ck_assert_str_eq(out.aud, AUD);

    pl = base_payload();
    json_object_set_new(pl, "aud", json_pack("[s,s]", "other", "third"));
    ck_assert_int_eq(verify_payload(pl), POOL_JWT_BAD_AUD);

    pl = base_payload();
    json_object_set_new(pl, "aud", json_array());
    ck_assert_int_eq(verify_payload(pl), POOL_JWT_BAD_AUD);

    pl = base_payload();
    json_object_set_new(pl, "aud", json_pack("[s,i]", AUD, 1));
    ck_assert_int_eq(verify_payload(pl), POOL_JWT_BAD_CLAIMS);
}
END_TEST

START_TEST(missing_claims)
{
    static const char *const names[] = {
        "iss", "aud", "sub", "pool", "role", "iat", "exp"
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *pl = base_payload();
        json_object_del(pl, names[i]);
        ck_assert_msg(verify_payload(pl) == POOL_JWT_BAD_CLAIMS,
                      "accepted without %s", names[i]);
    }
}
END_TEST

START_TEST(wrong_claim_types)
{
    static const struct {
        const char *name, *json;
    } cases[] = {
        { "iss", "1" },
        { "iss", "null" },
        { "aud", "{}" },
        { "aud", "7" },
        { "sub", "null" },
        { "sub", "\"\"" },
        { "sub", "123" },
        { "pool", "[\"pool-a\"]" },
        { "role", "{\"r\":\"admin\"}" },
        { "role", "true" },
        { "jti", "42" },
        { "iat", "\"1700000000\"" },
        { "iat", "1700000000.5" },
        { "iat", "true" },
        { "exp", "1700000300.0" },
        { "exp", "null" },
        { "exp", "\"tomorrow\"" },
        { "nbf", "\"1700000000\"" },
        { "nbf", "1700000000.5" },
        { "client_id", "null" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *pl = base_payload();
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

        ck_assert_ptr_nonnull(v);
        json_object_set_new(pl, cases[i].name, v);
        ck_assert_msg(verify_payload(pl) == POOL_JWT_BAD_CLAIMS,
                      "accepted %s=%s", cases[i].name, cases[i].json);
    }
}
END_TEST

START_TEST(bad_json)
{
    const char *pl = dump(base_payload());
    const char *hdr = dump(base_header("k1"));

    ck_assert_int_eq(verify(forge("not json", pl, K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge("[\"HS256\"]", pl, K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge("\"HS256\"", pl, K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge("{\"alg\":\"HS256\",", pl, K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\","
                                  "\"kid\":\"k1\"} x", pl, K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    /* a correctly signed payload that is not a JSON object */
    ck_assert_int_eq(verify(forge(hdr, "not json", K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge(hdr, "[1,2]", K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    /* NUL escaped inside a string */
    ck_assert_int_eq(verify(forge(hdr, "{\"iss\":\"a\\u0000b\"}", K1,
                                  sizeof(K1))), POOL_JWT_MALFORMED);
}
END_TEST

START_TEST(duplicate_keys)
{
    const char *pl = dump(base_payload());
    const char *hdr = dump(base_header("k1"));
    char *dup;

    ck_assert_int_eq(verify(forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\","
                                  "\"kid\":\"k1\",\"alg\":\"none\"}",
                                  pl, K1, sizeof(K1))), POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\","
                                  "\"kid\":\"k9\",\"kid\":\"k1\"}",
                                  pl, K1, sizeof(K1))), POOL_JWT_MALFORMED);
    /* payload {..., "role":"uploader", "role":"admin"} */
    dup = apr_pstrndup(p, pl, strlen(pl) - 1);
    dup = apr_pstrcat(p, dup, ",\"role\":\"admin\"}", NULL);
    ck_assert_int_eq(verify(forge(hdr, dup, K1, sizeof(K1))),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(forge(hdr, pl, K1, sizeof(K1))), POOL_JWT_OK);
}
END_TEST

START_TEST(part_counts)
{
    pool_claims_t c = sample_claims();
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    char *h, *pl, *sig;

    split(tok, &h, &pl, &sig);
    ck_assert_int_eq(verify(apr_pstrcat(p, h, ".", pl, NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, tok, ".", sig, NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, tok, ".", NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, ".", tok, NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, h, "..", sig, NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, ".", pl, ".", sig, NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(h), POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(".."), POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(""), POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(NULL), POOL_JWT_MALFORMED);
}
END_TEST

START_TEST(too_long)
{
    char *ok_tok = NULL, *long_tok = NULL, *junk;
    size_t n;

    /* grow an extra claim until the (correctly signed) token passes the
     * limit: the last one below verifies, the first one above does not */
    for (n = 2500; n < 3200 && !long_tok; n++) {
        json_t *pl = base_payload();
        char *pad = apr_palloc(p, n + 1);
        char *tok;

        memset(pad, 'x', n);
        pad[n] = '\0';
        json_object_set_new(pl, "pad", json_string(pad));
        tok = forge_json(base_header("k1"), pl);
        if (strlen(tok) <= POOL_JWT_MAX_LEN) {
            ok_tok = tok;
        }
        else {
            long_tok = tok;
        }
    }
    ck_assert_ptr_nonnull(ok_tok);
    ck_assert_ptr_nonnull(long_tok);
    ck_assert_uint_ge(strlen(ok_tok), POOL_JWT_MAX_LEN - 2);
    ck_assert_int_eq(verify(ok_tok), POOL_JWT_OK);
    ck_assert_int_eq(verify(long_tok), POOL_JWT_MALFORMED);

    junk = apr_palloc(p, 100001);
    memset(junk, 'A', 100000);
    junk[100000] = '\0';
    junk[10] = '.';
    junk[20] = '.';
    ck_assert_int_eq(verify(junk), POOL_JWT_MALFORMED);
}
END_TEST

START_TEST(bad_base64url)
{
    pool_claims_t c = sample_claims();
    char *tok = pool_jwt_sign(p, pool_keyring_signing(ring), &c);
    char *h, *pl, *sig, *t2;
    size_t i;
    static const char bad[] = { '+', '/', '=', ' ', '*', '\t', '\n' };

    split(tok, &h, &pl, &sig);
    for (i = 0; i < sizeof(bad); i++) {
        /* in the header, the payload and the signature */
        t2 = apr_pstrdup(p, tok);
        t2[3] = bad[i];
        ck_assert_int_eq(verify(t2), POOL_JWT_MALFORMED);
        t2 = apr_pstrdup(p, tok);
        t2[strlen(h) + 4] = bad[i];
        ck_assert_int_eq(verify(t2), POOL_JWT_MALFORMED);
        t2 = apr_pstrdup(p, tok);
        t2[strlen(h) + strlen(pl) + 5] = bad[i];
        ck_assert_int_eq(verify(t2), POOL_JWT_MALFORMED);
    }
    /* padded parts and standard-alphabet parts */
    ck_assert_int_eq(verify(apr_pstrcat(p, tok, "=", NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, h, "=.", pl, ".", sig, NULL)),
                     POOL_JWT_MALFORMED);
    /* trailing whitespace or a leading one */
    ck_assert_int_eq(verify(apr_pstrcat(p, tok, " ", NULL)),
                     POOL_JWT_MALFORMED);
    ck_assert_int_eq(verify(apr_pstrcat(p, " ", tok, NULL)),
                     POOL_JWT_MALFORMED);
}
END_TEST

START_TEST(strerror_texts)
{
    int s;

    for (s = POOL_JWT_OK; s <= POOL_JWT_BAD_CLAIMS; s++) {
        int t;
        const char *a = pool_jwt_strerror((pool_jwt_status_t)s);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_gt(strlen(a), 3);
        for (t = POOL_JWT_OK; t < s; t++) {
            ck_assert_str_ne(a, pool_jwt_strerror((pool_jwt_status_t)t));
        }
    }
    ck_assert_str_eq(pool_jwt_strerror(POOL_JWT_EXPIRED), "token expired");
}
END_TEST

/* ---------------------------------------------------------------- key files */

static apr_status_t load(const char *content, pool_keyring_t **kr,
                         const char **err, const char **path)
{
    *path = temp_file(content);
    *kr = NULL;
    *err = NULL;
    return pool_keyring_load(p, *path, kr, err);
}

/* Loading fails with an error naming the file and containing want. */
static void load_fails(const char *content, const char *want)
{
    pool_keyring_t *kr;
    const char *err, *path;

    ck_assert_int_ne(load(content, &kr, &err, &path), APR_SUCCESS);
    ck_assert_ptr_null(kr);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, path) != NULL, "no file name in \"%s\"", err);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
}

START_TEST(keyfile_good)
{
    pool_keyring_t *kr;
    const char *err, *path;
    const pool_key_t *k;
    char *content = apr_pstrcat(p,
        "# pool signing keys\n"
        "\n"
        "   # indented comment\n"
        "old.key_1 ", b64u(K1, sizeof(K1)), "\r\n"
        "\t \n"
        "  new-Key.2\t ", b64u(K2, sizeof(K2)), "   \n"
        "# last line without newline follows\n"
        "k3 ", b64u(K3, sizeof(K3)), NULL);

    ck_assert_int_eq(load(content, &kr, &err, &path), APR_SUCCESS);
    ck_assert_ptr_nonnull(kr);
    ck_assert_int_eq(kr->keys->nelts, 3);
    k = pool_keyring_find(kr, "old.key_1");
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->keylen, sizeof(K1));
    ck_assert(memcmp(k->key, K1, sizeof(K1)) == 0);
    k = pool_keyring_find(kr, "new-Key.2");
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->keylen, sizeof(K2));
    ck_assert(memcmp(k->key, K2, sizeof(K2)) == 0);
    k = pool_keyring_signing(kr);
    ck_assert_str_eq(k->kid, "k3");
    ck_assert(memcmp(k->key, K3, sizeof(K3)) == 0);
    ck_assert_ptr_null(pool_keyring_find(kr, "k4"));
    ck_assert_ptr_null(pool_keyring_find(kr, NULL));
    ck_assert_ptr_null(pool_keyring_signing(NULL));
}
END_TEST

START_TEST(keyfile_limits)
{
    unsigned char big[POOL_KEY_MAX + 1];
    char kid64[POOL_KID_MAX + 2];
    pool_keyring_t *kr;
    const char *err, *path;

    memset(big, 0x55, sizeof(big));
    memset(kid64, 'a', POOL_KID_MAX);
    kid64[POOL_KID_MAX] = '\0';
    /* a 64-character kid and a 128-byte key are fine */
    ck_assert_int_eq(load(apr_pstrcat(p, kid64, " ", b64u(big, POOL_KEY_MAX),
                                      "\n", NULL), &kr, &err, &path),
                     APR_SUCCESS);
    ck_assert_uint_eq(pool_keyring_signing(kr)->keylen, POOL_KEY_MAX);
    /* 65 characters and 129 bytes are not */
    kid64[POOL_KID_MAX] = 'a';
    kid64[POOL_KID_MAX + 1] = '\0';
    load_fails(apr_pstrcat(p, kid64, " ", b64u(K1, 32), "\n", NULL),
               ":1: invalid key id");
    load_fails(apr_pstrcat(p, "k1 ", b64u(big, POOL_KEY_MAX + 1), "\n", NULL),
               ":1: key too long");
}
END_TEST

START_TEST(keyfile_bad_kid)
{
    const char *k = b64u(K1, sizeof(K1));

    load_fails(apr_pstrcat(p, "# c\n\nk/1 ", k, "\n", NULL),
               ":3: invalid key id");
    load_fails(apr_pstrcat(p, "k\xc3\xa9 ", k, "\n", NULL),
               ":1: invalid key id");
    load_fails(apr_pstrcat(p, "k:1 ", k, "\n", NULL), ":1: invalid key id");
}
END_TEST

START_TEST(keyfile_bad_key)
{
    unsigned char std[33];

    load_fails(apr_pstrcat(p, "k1 ", b64u(K1, 31), "\n", NULL),
               ":1: key too short (31 bytes");
    load_fails("k1\n", ":1: expected");
    load_fails(apr_pstrcat(p, "k1 ", b64u(K1, 32), "=\n", NULL),
               ":1: secret is not valid");
    /* standard base64 ('+' and '/') is not base64url */
    memset(std, 0xfb, sizeof(std));
    ck_assert_ptr_nonnull(strchr(pool_b64_encode(p, std, sizeof(std)), '+'));
    load_fails(apr_pstrcat(p, "k1 ", pool_b64_encode(p, std, sizeof(std)),
                           "\n", NULL), ":1: secret is not valid");
    load_fails(apr_pstrcat(p, "k1 ", b64u(K1, 32), " trailing\n", NULL),
               ":1: unexpected text");
}
END_TEST

START_TEST(keyfile_duplicate)
{
    load_fails(apr_pstrcat(p, "k1 ", b64u(K1, 32), "\n",
                           "k2 ", b64u(K2, 48), "\n",
                           "k1 ", b64u(K3, 32), "\n", NULL),
               ":3: duplicate key id 'k1' (first on line 1)");
}
END_TEST

START_TEST(keyfile_empty_or_missing)
{
    pool_keyring_t *kr = (pool_keyring_t *)1;
    const char *err = NULL;

    load_fails("", "no keys");
    load_fails("# only a comment\n\n   \n", "no keys");
    ck_assert_int_ne(pool_keyring_load(p, "/nonexistent/pool-keys", &kr, &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(kr);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/pool-keys"));
    ck_assert_int_ne(pool_keyring_load(p, "/tmp", &kr, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "/tmp"));
}
END_TEST

static void count_warnings(void *baton, int level, const char *msg)
{
    if (level == POOL_LOG_WARN && strstr(msg, "readable by other users")) {
        ++*(int *)baton;
    }
}

START_TEST(keyfile_readable_warns)
{
    pool_keyring_t *kr;
    const char *err, *path;
    int warnings = 0;

    pool_log_set(count_warnings, &warnings);
    path = temp_file(apr_pstrcat(p, "k1 ", b64u(K1, 32), "\n", NULL));
    ck_assert_int_eq(pool_keyring_load(p, path, &kr, &err), APR_SUCCESS);
    ck_assert_int_eq(warnings, 0);              /* mkstemp: mode 0600 */
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_int_eq(pool_keyring_load(p, path, &kr, &err), APR_SUCCESS);
    ck_assert_int_eq(warnings, 1);
    pool_log_set(NULL, NULL);
}
END_TEST

START_TEST(keyfile_new_line)
{
    const char *line = NULL, *line2 = NULL, *err, *path;
    pool_keyring_t *kr;
    size_t i;

    ck_assert_int_eq(pool_keyring_new_line(p, &line), APR_SUCCESS);
    ck_assert_int_eq(pool_keyring_new_line(p, &line2), APR_SUCCESS);
    ck_assert_str_ne(line, line2);
    /* k + yyyymmddHHMMSS + 4 hex, a space, 43 base64url, newline */
    ck_assert_uint_eq(strlen(line), 1 + 14 + 4 + 1 + 43 + 1);
    ck_assert_int_eq(line[0], 'k');
    ck_assert(line[1] == '2');
    for (i = 1; i < 15; i++) {
        ck_assert(line[i] >= '0' && line[i] <= '9');
    }
    for (i = 15; i < 19; i++) {
        ck_assert_ptr_nonnull(strchr("0123456789abcdef", line[i]));
    }
    ck_assert_int_eq(line[19], ' ');
    ck_assert_int_eq(line[63], '\n');
    ck_assert_int_eq(load(apr_pstrcat(p, line, line2, NULL), &kr, &err, &path),
                     APR_SUCCESS);
    ck_assert_int_eq(kr->keys->nelts, 2);
    ck_assert_uint_eq(pool_keyring_signing(kr)->keylen, 32);
    ck_assert(strncmp(pool_keyring_signing(kr)->kid, line2, 19) == 0);
}
END_TEST

Suite *suite_jwt(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("vectors");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vector_rfc7515_a1);
    tcase_add_test(tc, vector_jwtio);
    suite_add_tcase(s, tc);

    tc = tcase_create("sign");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, not_before);
    tcase_add_test(tc, client_id_claim);
    tcase_add_test(tc, signed_header);
    tcase_add_test(tc, rotation_old_key_verifies);
    tcase_add_test(tc, optional_jti);
    tcase_add_test(tc, typ_variants);
    tcase_add_test(tc, sign_failures);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, alg_none);
    tcase_add_test(tc, alg_other);
    tcase_add_test(tc, typ_wrong);
    tcase_add_test(tc, kid_unknown_or_missing);
    tcase_add_test(tc, crit_header);
    tcase_add_test(tc, wrong_key_same_kid);
    tcase_add_test(tc, tampered_payload);
    tcase_add_test(tc, tampered_signature);
    tcase_add_test(tc, expired);
    tcase_add_test(tc, not_yet);
    tcase_add_test(tc, wrong_iss_aud);
    tcase_add_test(tc, aud_array);
    tcase_add_test(tc, missing_claims);
    tcase_add_test(tc, wrong_claim_types);
    tcase_add_test(tc, bad_json);
    tcase_add_test(tc, duplicate_keys);
    tcase_add_test(tc, part_counts);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, bad_base64url);
    tcase_add_test(tc, strerror_texts);
    suite_add_tcase(s, tc);

    tc = tcase_create("keyfile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, keyfile_good);
    tcase_add_test(tc, keyfile_limits);
    tcase_add_test(tc, keyfile_bad_kid);
    tcase_add_test(tc, keyfile_bad_key);
    tcase_add_test(tc, keyfile_duplicate);
    tcase_add_test(tc, keyfile_empty_or_missing);
    tcase_add_test(tc, keyfile_readable_warns);
    tcase_add_test(tc, keyfile_new_line);
    suite_add_tcase(s, tc);
    return s;
}
