/* Token signing keys (PoolKeyFile).  File format, one key per line:
 *     <kid> <base64url secret, at least 32 bytes decoded>
 * '#' starts a comment line; blank lines are ignored.  Every key verifies;
 * the LAST key in the file signs (append a new key to rotate, remove the old
 * one once its tokens have expired). */
#ifndef POOL_KEYS_H
#define POOL_KEYS_H

#include <apr_pools.h>
#include <apr_tables.h>

#define POOL_KEY_MIN 32
#define POOL_KEY_MAX 128
#define POOL_KID_MAX 64

typedef struct {
    const char *kid;            /* [A-Za-z0-9._-]{1,64} */
    unsigned char key[POOL_KEY_MAX];
    apr_size_t keylen;
} pool_key_t;

typedef struct {
    apr_array_header_t *keys;   /* of pool_key_t, in file order */
} pool_keyring_t;

/* On failure returns non-APR_SUCCESS and sets *err to a message naming the
 * file and line.  An empty file (no keys) is an error. */
apr_status_t pool_keyring_load(apr_pool_t *p, const char *path,
                               pool_keyring_t **kr, const char **err);
/* 1 when the n bytes at s are a valid key id ([A-Za-z0-9._-]{1,64}). */
int pool_kid_valid(const char *s, apr_size_t n);

const pool_key_t *pool_keyring_find(const pool_keyring_t *kr, const char *kid);
const pool_key_t *pool_keyring_signing(const pool_keyring_t *kr);
/* A fresh key line "<kid> <secret>\n" (kid = "k" + UTC yyyymmddHHMMSS + 4 hex). */
apr_status_t pool_keyring_new_line(apr_pool_t *p, const char **line);

#endif
