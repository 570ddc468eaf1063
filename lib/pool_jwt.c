/* Access tokens: JWT HS256 with kid, algorithm pinned (RFC 7515, 7519,
 * 9068). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "pool_jwt.h"
#include "pool_conf.h"
#include "pool_util.h"

#define JWT_ALG         "HS256"
#define JWT_TYP         "at+jwt"
#define JWT_SIG_LEN     32
#define JWT_IAT_SKEW    60

/* Serialises j compactly into p; NULL on failure.  Consumes j. */
static char *json_to_b64url(apr_pool_t *p, json_t *j)
{
    char *s, *out = NULL;

    if (!j) {
        return NULL;
    }
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s) {
        out = pool_b64url_encode(p, (const unsigned char *)s, strlen(s));
        free(s);
    }
    return out;
}

/* Sets key to the string v, when v is given; 0 on failure. */
static int set_str(json_t *o, const char *key, const char *v)
{
    json_t *s;

    if (!v) {
        return 1;
    }
    s = json_string(v);             /* NULL for invalid UTF-8 */
    return s && json_object_set_new(o, key, s) == 0;
}

char *pool_jwt_sign(apr_pool_t *p, const pool_key_t *key,
                    const pool_claims_t *c)
{
    json_t *hdr, *pl;
    char *h64, *p64, *input, *tok;
    unsigned char sig[JWT_SIG_LEN];
    int ok;

    if (!key || !c || !key->kid || key->keylen == 0) {
        return NULL;
    }
    hdr = json_object();
    if (!hdr) {
        return NULL;
    }
    ok = set_str(hdr, "alg", JWT_ALG)
         && set_str(hdr, "typ", JWT_TYP)
         && set_str(hdr, "kid", key->kid);
    if (!ok) {
        json_decref(hdr);
        return NULL;
    }
    pl = json_object();
    if (!pl) {
        json_decref(hdr);
        return NULL;
    }
    ok = set_str(pl, "iss", c->iss)
         && set_str(pl, "aud", c->aud)
         && set_str(pl, "sub", c->sub)
         && set_str(pl, "client_id", c->sub)    /* RFC 9068 2.2 */
         && set_str(pl, "pool", c->pool)
         && set_str(pl, "role", c->role)
         && set_str(pl, "jti", c->jti)
         && json_object_set_new(pl, "iat", json_integer(c->iat)) == 0
         && json_object_set_new(pl, "exp", json_integer(c->exp)) == 0;
    if (!ok) {
        json_decref(hdr);
        json_decref(pl);
        return NULL;
    }
    h64 = json_to_b64url(p, hdr);
    p64 = json_to_b64url(p, pl);
    if (!h64 || !p64) {
        return NULL;
    }
    input = apr_pstrcat(p, h64, ".", p64, NULL);
    pool_hmac_sha256(key->key, key->keylen, input, strlen(input), sig);
    tok = apr_pstrcat(p, input, ".", pool_b64url_encode(p, sig, sizeof(sig)),
                      NULL);
    if (strlen(tok) > POOL_JWT_MAX_LEN) {
        return NULL;            /* it would never verify */
    }
    return tok;
}

/* A JSON object from decoded bytes, duplicate keys rejected; NULL if not. */
static json_t *parse_object(const unsigned char *d, apr_size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, &jerr);

    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* A required, non-empty string claim, or NULL. */
static const char *claim_str(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    const char *s;

    if (!json_is_string(v)) {
        return NULL;
    }
    s = json_string_value(v);
    return (s && *s) ? s : NULL;
}

static int typ_ok(const char *typ)
{
    /* media type names are case-insensitive and "application/" may be
     * omitted (RFC 7515 4.1.9) */
    return typ && (!strcasecmp(typ, JWT_TYP)
                   || !strcasecmp(typ, "application/" JWT_TYP));
}

pool_jwt_status_t pool_jwt_verify(apr_pool_t *p, const pool_keyring_t *kr,
                                  const char *token, const char *iss,
                                  const char *aud, apr_int64_t now,
                                  pool_claims_t *out)
{
    const char *dot1, *dot2, *alg, *typ, *kid;
    const char *c_iss, *c_sub, *c_pool, *c_role, *c_jti = NULL;
    const pool_key_t *key;
    unsigned char *hdr_raw, *pl_raw, *sig;
    unsigned char mac[JWT_SIG_LEN];
    apr_ssize_t hdr_len, pl_len, sig_len;
    apr_size_t len;
    json_t *hdr = NULL, *pl = NULL, *v, *jaud;
    json_int_t iat, exp, nbf;
    pool_jwt_status_t st;

    if (!token) {
        return POOL_JWT_MALFORMED;
    }
    len = strnlen(token, POOL_JWT_MAX_LEN + 1);
    if (len > POOL_JWT_MAX_LEN) {
        return POOL_JWT_MALFORMED;
    }
    /* exactly three non-empty parts */
    dot1 = memchr(token, '.', len);
    if (!dot1) {
        return POOL_JWT_MALFORMED;
    }
    dot2 = memchr(dot1 + 1, '.', token + len - (dot1 + 1));
    if (!dot2 || memchr(dot2 + 1, '.', token + len - (dot2 + 1))) {
        return POOL_JWT_MALFORMED;
    }
    if (dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len) {
        return POOL_JWT_MALFORMED;
    }
    hdr_len = pool_b64url_decode(p, token, dot1 - token, &hdr_raw);
    pl_len = pool_b64url_decode(p, dot1 + 1, dot2 - (dot1 + 1), &pl_raw);
    sig_len = pool_b64url_decode(p, dot2 + 1, token + len - (dot2 + 1), &sig);
    if (hdr_len <= 0 || pl_len <= 0 || sig_len <= 0) {
        return POOL_JWT_MALFORMED;
    }

    /* header */
    hdr = parse_object(hdr_raw, hdr_len);
    if (!hdr) {
        return POOL_JWT_MALFORMED;
    }
    v = json_object_get(hdr, "alg");
    alg = json_is_string(v) ? json_string_value(v) : NULL;
    if (!alg || strcmp(alg, JWT_ALG)) {
        st = POOL_JWT_BAD_ALG;
        goto done;
    }
    v = json_object_get(hdr, "typ");
    typ = json_is_string(v) ? json_string_value(v) : NULL;
    if (!typ_ok(typ)) {
        st = POOL_JWT_BAD_TYP;
        goto done;
    }
    if (json_object_get(hdr, "crit")) {
        /* no header extension is understood here (RFC 7515 4.1.11) */
        st = POOL_JWT_MALFORMED;
        goto done;
    }
    v = json_object_get(hdr, "kid");
    kid = json_is_string(v) ? json_string_value(v) : NULL;
    key = kid ? pool_keyring_find(kr, kid) : NULL;
    if (!key) {
        st = POOL_JWT_UNKNOWN_KID;
        goto done;
    }

    /* signature over the first two parts, as sent */
    if (sig_len != JWT_SIG_LEN) {
        st = POOL_JWT_BAD_SIGNATURE;
        goto done;
    }
    pool_hmac_sha256(key->key, key->keylen, token, dot2 - token, mac);
    if (CRYPTO_memcmp(mac, sig, JWT_SIG_LEN) != 0) {
        st = POOL_JWT_BAD_SIGNATURE;
        goto done;
    }

    /* claims */
    pl = parse_object(pl_raw, pl_len);
    if (!pl) {
        st = POOL_JWT_MALFORMED;
        goto done;
    }
    st = POOL_JWT_BAD_CLAIMS;
    c_iss = claim_str(pl, "iss");
    c_sub = claim_str(pl, "sub");
    c_pool = claim_str(pl, "pool");
    c_role = claim_str(pl, "role");
    if (!c_iss || !c_sub || !c_pool || !c_role) {
        goto done;
    }
    v = json_object_get(pl, "jti");
    if (v) {
        if (!json_is_string(v)) {
            goto done;
        }
        c_jti = json_string_value(v);
    }
    v = json_object_get(pl, "iat");
    if (!json_is_integer(v)) {
        goto done;
    }
    iat = json_integer_value(v);
    v = json_object_get(pl, "exp");
    if (!json_is_integer(v)) {
        goto done;
    }
    exp = json_integer_value(v);
    /* optional (RFC 7519 4.1.5); ours carry none, but one that does is
     * held to it */
    v = json_object_get(pl, "nbf");
    if (v && !json_is_integer(v)) {
        goto done;
    }
    nbf = v ? json_integer_value(v) : iat;
    /* RFC 9068 2.2: the client the token was issued to; ours is also sub
     * (tokens from before it was added have only sub) */
    v = json_object_get(pl, "client_id");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), c_sub))) {
        goto done;
    }
    jaud = json_object_get(pl, "aud");
    if (json_is_array(jaud)) {
        size_t i;
        for (i = 0; i < json_array_size(jaud); i++) {
            if (!json_is_string(json_array_get(jaud, i))) {
                goto done;
            }
        }
    }
    else if (!json_is_string(jaud)) {
        goto done;
    }

    if (!iss || strcmp(c_iss, iss)) {
        st = POOL_JWT_BAD_ISS;
        goto done;
    }
    st = POOL_JWT_BAD_AUD;
    if (!aud) {
        goto done;
    }
    if (json_is_string(jaud)) {
        if (strcmp(json_string_value(jaud), aud)) {
            goto done;
        }
    }
    else {
        size_t i;
        int found = 0;
        for (i = 0; i < json_array_size(jaud); i++) {
            if (!strcmp(json_string_value(json_array_get(jaud, i)), aud)) {
                found = 1;
            }
        }
        if (!found) {
            goto done;
        }
    }
    if (now >= exp) {
        st = POOL_JWT_EXPIRED;
        goto done;
    }
    if (now <= APR_INT64_MAX - JWT_IAT_SKEW
        && (iat > now + JWT_IAT_SKEW || nbf > now + JWT_IAT_SKEW)) {
        st = POOL_JWT_NOT_YET;
        goto done;
    }

    st = POOL_JWT_OK;
    if (out) {
        out->iss = apr_pstrdup(p, c_iss);
        out->aud = apr_pstrdup(p, aud);
        out->sub = apr_pstrdup(p, c_sub);
        out->pool = apr_pstrdup(p, c_pool);
        out->role = apr_pstrdup(p, c_role);
        out->jti = c_jti ? apr_pstrdup(p, c_jti) : NULL;
        out->iat = iat;
        out->exp = exp;
    }

done:
    json_decref(hdr);
    json_decref(pl);            /* NULL is fine */
    return st;
}

const char *pool_jwt_strerror(pool_jwt_status_t s)
{
    switch (s) {
    case POOL_JWT_OK:
        return "valid token";
    case POOL_JWT_MALFORMED:
        return "malformed token";
    case POOL_JWT_BAD_ALG:
        return "unsupported token algorithm";
    case POOL_JWT_BAD_TYP:
        return "wrong token type";
    case POOL_JWT_UNKNOWN_KID:
        return "unknown signing key";
    case POOL_JWT_BAD_SIGNATURE:
        return "invalid token signature";
    case POOL_JWT_EXPIRED:
        return "token expired";
    case POOL_JWT_NOT_YET:
        return "token issued in the future or not valid yet";
    case POOL_JWT_BAD_ISS:
        return "wrong token issuer";
    case POOL_JWT_BAD_AUD:
        return "wrong token audience";
    case POOL_JWT_BAD_CLAIMS:
        return "missing or invalid token claims";
    }
    return "invalid token";
}

char *pool_token_issue(apr_pool_t *p, const pool_keyring_t *kr,
                       const char *issuer, int lifetime,
                       const char *client_id, const char *pool,
                       const char *role, apr_int64_t now)
{
    const pool_key_t *key = kr ? pool_keyring_signing(kr) : NULL;
    pool_claims_t cl;

    if (!key) {
        return NULL;
    }
    memset(&cl, 0, sizeof(cl));
    cl.iss = issuer;
    cl.aud = POOL_TOKEN_AUDIENCE;
    cl.sub = client_id;
    cl.pool = pool;
    cl.role = role;
    cl.jti = pool_uuid(p);
    cl.iat = now;
    cl.exp = now + lifetime;
    return pool_jwt_sign(p, key, &cl);
}
