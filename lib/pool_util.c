/* Small helpers over OpenSSL: randomness, hex, base64(url), constant-time
 * comparison, UUIDs, SHA-256 and HMAC-SHA256. */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "pool_util.h"
#include "pool_log.h"

static const char hexdigits[] = "0123456789abcdef";
static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

apr_status_t pool_random(void *buf, apr_size_t n)
{
    unsigned char *b = buf;

    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(b, chunk) != 1) {
            pool_log(POOL_LOG_ERR, "RAND_bytes failed: no randomness");
            return APR_EGENERAL;
        }
        b += chunk;
        n -= chunk;
    }
    return APR_SUCCESS;
}

int pool_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

char *pool_hex(apr_pool_t *p, const unsigned char *d, apr_size_t n)
{
    char *s, *o;
    apr_size_t i;

    if (n > (APR_SIZE_MAX - 1) / 2) {
        return NULL;
    }
    s = o = apr_palloc(p, 2 * n + 1);
    for (i = 0; i < n; i++) {
        *o++ = hexdigits[d[i] >> 4];
        *o++ = hexdigits[d[i] & 0x0f];
    }
    *o = '\0';
    return s;
}

/* ------------------------------------------------------------------ base64 */

static char *b64_encode(apr_pool_t *p, const unsigned char *d, apr_size_t n,
                        const char *alpha, int pad)
{
    char *s, *o;
    apr_size_t i, rest;

    if (n > (APR_SIZE_MAX / 4 - 1) * 3) {
        return NULL;
    }
    s = o = apr_palloc(p, (n + 2) / 3 * 4 + 1);
    for (i = 0; i + 3 <= n; i += 3) {
        unsigned long v = ((unsigned long)d[i] << 16)
                          | ((unsigned long)d[i + 1] << 8) | d[i + 2];
        *o++ = alpha[(v >> 18) & 0x3f];
        *o++ = alpha[(v >> 12) & 0x3f];
        *o++ = alpha[(v >> 6) & 0x3f];
        *o++ = alpha[v & 0x3f];
    }
    rest = n - i;
    if (rest == 1) {
        unsigned long v = (unsigned long)d[i] << 16;
        *o++ = alpha[(v >> 18) & 0x3f];
        *o++ = alpha[(v >> 12) & 0x3f];
        if (pad) {
            *o++ = '=';
            *o++ = '=';
        }
    }
    else if (rest == 2) {
        unsigned long v = ((unsigned long)d[i] << 16)
                          | ((unsigned long)d[i + 1] << 8);
        *o++ = alpha[(v >> 18) & 0x3f];
        *o++ = alpha[(v >> 12) & 0x3f];
        *o++ = alpha[(v >> 6) & 0x3f];
        if (pad) {
            *o++ = '=';
        }
    }
    *o = '\0';
    return s;
}

char *pool_b64url_encode(apr_pool_t *p, const unsigned char *d, apr_size_t n)
{
    return b64_encode(p, d, n, b64_url, 0);
}

char *pool_b64_encode(apr_pool_t *p, const unsigned char *d, apr_size_t n)
{
    return b64_encode(p, d, n, b64_std, 1);
}

/* Value of one alphabet character, or -1 (padding '=' included). */
static int b64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == (url ? '-' : '+')) {
        return 62;
    }
    if (c == (url ? '_' : '/')) {
        return 63;
    }
    return -1;
}

/* Strict decoding of n alphabet characters (padding already removed).
 * Returns the decoded length or -1. */
static apr_ssize_t b64_decode_chars(const char *s, apr_size_t n, int url,
                                    unsigned char *out, apr_size_t outmax)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t r = n % 4, full = n - r, outlen, i, o = 0;
    int a, b, c, d;

    if (r == 1) {
        return -1;
    }
    outlen = full / 4 * 3 + (r ? r - 1 : 0);
    if (outlen > outmax || outlen > (APR_SIZE_MAX >> 1)) {
        return -1;
    }
    for (i = 0; i < full; i += 4) {
        a = b64_value(u[i], url);
        b = b64_value(u[i + 1], url);
        c = b64_value(u[i + 2], url);
        d = b64_value(u[i + 3], url);
        if ((a | b | c | d) < 0) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        out[o++] = (unsigned char)(((b & 0x0f) << 4) | (c >> 2));
        out[o++] = (unsigned char)(((c & 0x03) << 6) | d);
    }
    if (r == 2) {
        a = b64_value(u[i], url);
        b = b64_value(u[i + 1], url);
        /* the low 4 bits of the last character must be zero (canonical) */
        if ((a | b) < 0 || (b & 0x0f)) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
    }
    else if (r == 3) {
        a = b64_value(u[i], url);
        b = b64_value(u[i + 1], url);
        c = b64_value(u[i + 2], url);
        /* the low 2 bits of the last character must be zero (canonical) */
        if ((a | b | c) < 0 || (c & 0x03)) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        out[o++] = (unsigned char)(((b & 0x0f) << 4) | (c >> 2));
    }
    return (apr_ssize_t)o;
}

/* Characters of standard base64 left after removing its padding, or -1
 * when the length or the padding is wrong. */
static apr_ssize_t b64_std_unpadded(const char *s, apr_size_t slen)
{
    apr_size_t n = slen;

    if (slen % 4 != 0) {
        return -1;
    }
    if (n > 0 && s[n - 1] == '=') {
        n--;
        if (s[n - 1] == '=') {
            n--;
        }
    }
    /* any other '=' is rejected by the alphabet */
    return (apr_ssize_t)n;
}

apr_ssize_t pool_b64url_decode_buf(const char *s, apr_size_t slen,
                                   unsigned char *out, apr_size_t outmax)
{
    if (!s || (!out && outmax)) {
        return -1;
    }
    return b64_decode_chars(s, slen, 1, out, outmax);
}

apr_ssize_t pool_b64url_decode(apr_pool_t *p, const char *s, apr_size_t slen,
                               unsigned char **out)
{
    apr_size_t max;
    unsigned char *buf;
    apr_ssize_t n;

    if (!s || !out) {
        return -1;
    }
    max = slen / 4 * 3 + 2;
    buf = apr_palloc(p, max + 1);
    n = b64_decode_chars(s, slen, 1, buf, max);
    if (n < 0) {
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    return n;
}

apr_ssize_t pool_b64_decode(apr_pool_t *p, const char *s, apr_size_t slen,
                            unsigned char **out)
{
    apr_size_t max;
    apr_ssize_t chars, n;
    unsigned char *buf;

    if (!s || !out) {
        return -1;
    }
    chars = b64_std_unpadded(s, slen);
    if (chars < 0) {
        return -1;
    }
    max = slen / 4 * 3;
    buf = apr_palloc(p, max + 1);
    n = b64_decode_chars(s, (apr_size_t)chars, 0, buf, max);
    if (n < 0) {
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    return n;
}

/* ------------------------------------------------------------ comparisons */

int pool_ct_equal(const void *a, const void *b, apr_size_t n)
{
    if (n == 0) {
        return 1;
    }
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* ------------------------------------------------------------------ UUIDs */

char *pool_uuid(apr_pool_t *p)
{
    unsigned char u[16];
    char *s, *o;
    int i;

    if (pool_random(u, sizeof(u)) != APR_SUCCESS) {
        return NULL;
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);     /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
    s = o = apr_palloc(p, 37);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *o++ = '-';
        }
        *o++ = hexdigits[u[i] >> 4];
        *o++ = hexdigits[u[i] & 0x0f];
    }
    *o = '\0';
    return s;
}

int pool_uuid_valid(const char *s)
{
    int i;

    if (!s) {
        return 0;
    }
    for (i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }
        }
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;        /* also stops at a NUL before 36 characters */
        }
    }
    return s[36] == '\0';
}

/* ---------------------------------------------------------------- digests */

/* Should a digest ever fail (no provider, no memory), leave unpredictable
 * bytes rather than zeros, so that no comparison can succeed by accident. */
static void digest_failed(unsigned char out[32], const char *what)
{
    pool_log(POOL_LOG_ERR, "%s failed in OpenSSL", what);
    if (RAND_bytes(out, 32) != 1) {
        OPENSSL_cleanse(out, 32);
        out[0] = 0x5a;
        out[31] = 0xa5;
    }
}

void pool_sha256(const void *d, apr_size_t n, unsigned char out[32])
{
    unsigned int len = 0;

    if (!d) {
        d = "";
        n = 0;
    }
    if (EVP_Digest(d, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32) {
        digest_failed(out, "SHA-256");
    }
}

void pool_hmac_sha256(const unsigned char *key, apr_size_t keylen,
                      const void *d, apr_size_t n, unsigned char out[32])
{
    unsigned char hashed[32];
    unsigned int len = 0;

    if (!key) {
        key = (const unsigned char *)"";
        keylen = 0;
    }
    if (!d) {
        d = "";
        n = 0;
    }
    if (keylen > INT_MAX) {
        /* HMAC replaces keys longer than the block size by their digest */
        pool_sha256(key, keylen, hashed);
        key = hashed;
        keylen = sizeof(hashed);
    }
    if (!HMAC(EVP_sha256(), key, (int)keylen, d, n, out, &len) || len != 32) {
        digest_failed(out, "HMAC-SHA256");
    }
    OPENSSL_cleanse(hashed, sizeof(hashed));
}
