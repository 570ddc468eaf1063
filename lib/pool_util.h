/* Small helpers over OpenSSL: randomness, hex, base64(url), constant-time
 * comparison, UUIDs, SHA-256 and HMAC-SHA256. */
#ifndef POOL_UTIL_H
#define POOL_UTIL_H

#include <apr_pools.h>

/* Cryptographically secure random bytes; APR_SUCCESS or APR_EGENERAL. */
apr_status_t pool_random(void *buf, apr_size_t n);

/* The value of one hex digit (either case), or -1. */
int pool_hexval(int c);

/* Lower-case hex of n bytes, NUL-terminated, from p. */
char *pool_hex(apr_pool_t *p, const unsigned char *d, apr_size_t n);

/* base64url without padding (RFC 4648 §5), NUL-terminated. */
char *pool_b64url_encode(apr_pool_t *p, const unsigned char *d, apr_size_t n);
/* Standard base64 with padding (RFC 4648 §4). */
char *pool_b64_encode(apr_pool_t *p, const unsigned char *d, apr_size_t n);

/* Decoders are strict: any character outside the alphabet, wrong padding or
 * non-canonical trailing bits fails.  Return decoded length, or -1.  *out
 * is allocated from p (with one extra NUL byte). */
apr_ssize_t pool_b64url_decode(apr_pool_t *p, const char *s, apr_size_t slen,
                               unsigned char **out);
apr_ssize_t pool_b64_decode(apr_pool_t *p, const char *s, apr_size_t slen,
                            unsigned char **out);
/* The same strict base64url decoder into a caller's buffer of outmax bytes
 * (no pool needed, e.g. for fixed-size keys and hashes).  Returns the decoded
 * length, or -1 when malformed or longer than outmax. */
apr_ssize_t pool_b64url_decode_buf(const char *s, apr_size_t slen,
                                   unsigned char *out, apr_size_t outmax);

/* 1 when equal, 0 otherwise; time depends only on n. */
int pool_ct_equal(const void *a, const void *b, apr_size_t n);

/* Random (version 4) UUID, lower-case canonical text form. */
char *pool_uuid(apr_pool_t *p);
/* 1 if s is a canonical lower-case UUID text (36 chars), else 0. */
int pool_uuid_valid(const char *s);

/* One-shot digests. */
void pool_sha256(const void *d, apr_size_t n, unsigned char out[32]);
void pool_hmac_sha256(const unsigned char *key, apr_size_t keylen,
                      const void *d, apr_size_t n, unsigned char out[32]);

#endif
