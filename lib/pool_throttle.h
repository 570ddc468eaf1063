/* Credential-guessing throttle: counts failed secret checks per key (a
 * client id, a source address) in a fixed table that lives in memory the
 * caller provides (httpd: shared memory, so every child sees the same
 * counts) and remembers credentials verified recently, so that a client
 * whose secret was checked keeps working while its id is blocked.  No
 * locking here: the caller serialises calls (httpd: a global mutex). */
#ifndef POOL_THROTTLE_H
#define POOL_THROTTLE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct pool_throttle_t pool_throttle_t;

/* The bytes a table needs. */
apr_size_t pool_throttle_size(void);

/* Makes a table in mem (pool_throttle_size() bytes, suitably aligned).
 * Keys are hashed with a random key drawn here, so that nobody can choose
 * names that collide with someone else's.  APR_EGENERAL without entropy. */
apr_status_t pool_throttle_init(void *mem, pool_throttle_t **out);

/* Seconds key must still wait (blocked), 0 when it may try. */
int pool_throttle_wait(pool_throttle_t *t, const char *key, apr_size_t klen,
                       apr_time_t now);

/* Records a failure of key.  The max-th failure within period seconds
 * blocks the key for period seconds (and starts a new count); returns 1
 * when this failure started a block, else 0. */
int pool_throttle_fail(pool_throttle_t *t, const char *key, apr_size_t klen,
                       int max, int period, apr_time_t now);

/* Verified credentials: cred is a digest naming the client, its stored
 * secret hash and the secret presented (so a new secret or a rotated hash
 * is a different entry). */
int pool_throttle_known(pool_throttle_t *t, const unsigned char cred[32],
                        apr_time_t now);
void pool_throttle_remember(pool_throttle_t *t, const unsigned char cred[32],
                            int ttl, apr_time_t now);

#endif
