/* Client secrets are stored only as salted hashes, in one of two forms:
 *   pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>
 *   hmac-sha256$<salt b64url>$<hash b64url>
 * PBKDF2 (iterations stored so they can be raised) is for secrets a person
 * may have chosen.  The secrets this server makes (pool_secret_new) are 256
 * random bits: stretching cannot make them harder to guess, so they are
 * stored as HMAC-SHA256(salt, secret) (NIST SP 800-63B 5.1.2.2: a salted
 * approved hash for look-up secrets of at least 112 bits), which lets 10,000
 * clients be created in seconds and a secret be checked in microseconds. */
#ifndef POOL_KDF_H
#define POOL_KDF_H

#include <apr_pools.h>

#define POOL_KDF_ITERATIONS 100000
#define POOL_KDF_SALT_LEN   16
#define POOL_KDF_HASH_LEN   32

/* PBKDF2; NULL on failure (no randomness). */
char *pool_kdf_hash(apr_pool_t *p, const char *secret);
/* HMAC-SHA256, for secrets of pool_secret_new only; NULL on failure. */
char *pool_secret_hash(apr_pool_t *p, const char *secret);
/* 1 when secret matches stored (either form), 0 on mismatch or malformed
 * stored value.
 * The comparison is constant-time.  Iterations outside [1000, 10000000] are
 * rejected as malformed. */
int pool_kdf_verify(const char *secret, const char *stored);

/* A new client secret: 32 random bytes, base64url (43 chars). */
char *pool_secret_new(apr_pool_t *p);

#endif
