/* Stored client secrets (pool_kdf.h): salted PBKDF2-HMAC-SHA256 hashes
 *   pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>
 * and, for secrets this server generated, salted HMAC-SHA256
 *   hmac-sha256$<salt b64url>$<hash b64url> */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pool_kdf.h"
#include "pool_util.h"
#include "pool_log.h"

#define KDF_PREFIX      "pbkdf2-sha256$"
#define HMAC_PREFIX     "hmac-sha256$"
#define KDF_ITER_MIN    1000
#define KDF_ITER_MAX    10000000
#define KDF_SALT_MIN    8               /* accepted in stored values */
#define KDF_SALT_MAX    64
#define KDF_SECRET_MAX  4096            /* longer secrets never verify */

static int kdf_derive(const char *secret, apr_size_t slen,
                      const unsigned char *salt, apr_size_t saltlen,
                      int iterations, unsigned char out[POOL_KDF_HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC(secret, (int)slen, salt, (int)saltlen,
                             iterations, EVP_sha256(), POOL_KDF_HASH_LEN,
                             out) == 1;
}

char *pool_kdf_hash(apr_pool_t *p, const char *secret)
{
    unsigned char salt[POOL_KDF_SALT_LEN];
    unsigned char hash[POOL_KDF_HASH_LEN];
    apr_size_t slen;
    char *s;

    if (!secret || (slen = strlen(secret)) > KDF_SECRET_MAX) {
        return NULL;
    }
    if (pool_random(salt, sizeof(salt)) != APR_SUCCESS) {
        return NULL;
    }
    if (!kdf_derive(secret, slen, salt, sizeof(salt), POOL_KDF_ITERATIONS,
                    hash)) {
        pool_log(POOL_LOG_ERR, "PBKDF2 failed in OpenSSL");
        return NULL;
    }
    s = apr_psprintf(p, KDF_PREFIX "%d$%s$%s", POOL_KDF_ITERATIONS,
                     pool_b64url_encode(p, salt, sizeof(salt)),
                     pool_b64url_encode(p, hash, sizeof(hash)));
    OPENSSL_cleanse(hash, sizeof(hash));
    return s;
}

/* Parses the iteration count: decimal digits, no sign, no leading zero, up
 * to '$'.  Returns it, or -1; *end points at the '$'. */
static long kdf_iterations(const char *s, const char **end)
{
    long v = 0;
    int digits = 0;

    if (*s == '0') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        if (++digits > 8) {
            return -1;
        }
        v = v * 10 + (*s - '0');
        s++;
    }
    if (digits == 0 || *s != '$') {
        return -1;
    }
    *end = s;
    return v;
}

/* Decodes "<salt b64url>$<hash b64url>" (the end of a stored value);
 * the salt's length, or -1 when malformed. */
static apr_ssize_t salt_and_hash(const char *s, unsigned char *salt,
                                 apr_size_t saltmax,
                                 unsigned char want[POOL_KDF_HASH_LEN])
{
    const char *dollar = strchr(s, '$'), *hash_b64;
    apr_ssize_t saltlen;

    if (!dollar) {
        return -1;
    }
    hash_b64 = dollar + 1;
    if (strchr(hash_b64, '$')) {
        return -1;
    }
    saltlen = pool_b64url_decode_buf(s, dollar - s, salt, saltmax);
    if (saltlen < KDF_SALT_MIN) {
        return -1;
    }
    if (pool_b64url_decode_buf(hash_b64, strlen(hash_b64), want,
                               POOL_KDF_HASH_LEN) != POOL_KDF_HASH_LEN) {
        return -1;
    }
    return saltlen;
}

char *pool_secret_hash(apr_pool_t *p, const char *secret)
{
    unsigned char salt[POOL_KDF_SALT_LEN];
    unsigned char hash[POOL_KDF_HASH_LEN];
    apr_size_t slen;
    char *s;

    if (!secret || (slen = strlen(secret)) > KDF_SECRET_MAX
        || pool_random(salt, sizeof(salt)) != APR_SUCCESS) {
        return NULL;
    }
    pool_hmac_sha256(salt, sizeof(salt), secret, slen, hash);
    s = apr_pstrcat(p, HMAC_PREFIX, pool_b64url_encode(p, salt, sizeof(salt)),
                    "$", pool_b64url_encode(p, hash, sizeof(hash)), NULL);
    OPENSSL_cleanse(hash, sizeof(hash));
    return s;
}

int pool_kdf_verify(const char *secret, const char *stored)
{
    unsigned char salt[KDF_SALT_MAX];
    unsigned char want[POOL_KDF_HASH_LEN], got[POOL_KDF_HASH_LEN];
    const char *dollar;
    apr_ssize_t saltlen;
    apr_size_t slen;
    long iterations;
    int ok;

    if (!secret || !stored || (slen = strlen(secret)) > KDF_SECRET_MAX) {
        return 0;
    }
    if (!strncmp(stored, HMAC_PREFIX, sizeof(HMAC_PREFIX) - 1)) {
        saltlen = salt_and_hash(stored + sizeof(HMAC_PREFIX) - 1, salt,
                                sizeof(salt), want);
        if (saltlen < 0) {
            return 0;
        }
        pool_hmac_sha256(salt, (apr_size_t)saltlen, secret, slen, got);
    }
    else if (!strncmp(stored, KDF_PREFIX, sizeof(KDF_PREFIX) - 1)) {
        iterations = kdf_iterations(stored + sizeof(KDF_PREFIX) - 1, &dollar);
        if (iterations < KDF_ITER_MIN || iterations > KDF_ITER_MAX) {
            return 0;
        }
        saltlen = salt_and_hash(dollar + 1, salt, sizeof(salt), want);
        if (saltlen < 0) {
            return 0;
        }
        if (!kdf_derive(secret, slen, salt, saltlen, (int)iterations, got)) {
            pool_log(POOL_LOG_ERR, "PBKDF2 failed in OpenSSL");
            return 0;
        }
    }
    else {
        return 0;
    }
    ok = pool_ct_equal(got, want, POOL_KDF_HASH_LEN);
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

char *pool_secret_new(apr_pool_t *p)
{
    unsigned char b[32];
    char *s;

    if (pool_random(b, sizeof(b)) != APR_SUCCESS) {
        return NULL;
    }
    s = pool_b64url_encode(p, b, sizeof(b));
    OPENSSL_cleanse(b, sizeof(b));
    return s;
}
