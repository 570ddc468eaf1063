/* Client secrets are stored only as salted PBKDF2-HMAC-SHA256 hashes:
 *   pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>
 * The iteration count is stored with the hash so it can be raised later. */
#ifndef POOL_KDF_H
#define POOL_KDF_H

#include <apr_pools.h>

#define POOL_KDF_ITERATIONS 100000
#define POOL_KDF_SALT_LEN   16
#define POOL_KDF_HASH_LEN   32

/* NULL on failure (no randomness). */
char *pool_kdf_hash(apr_pool_t *p, const char *secret);
/* 1 when secret matches stored, 0 on mismatch or malformed stored value.
 * The comparison is constant-time.  Iterations outside [1000, 10000000] are
 * rejected as malformed. */
int pool_kdf_verify(const char *secret, const char *stored);

/* A new client secret: 32 random bytes, base64url (43 chars). */
char *pool_secret_new(apr_pool_t *p);

#endif
