/* A SHA-256 whose state can be saved between requests (a tus upload is
 * hashed as its chunks arrive, on whichever node they land, so completion
 * need not read the upload again).  EVP contexts cannot be saved, so this
 * uses OpenSSL's SHA256_CTX, whose layout is that of the OpenSSL build: the
 * saved text names its size, and a state saved by another build is refused
 * (the caller then reads the data again). */
#ifndef POOL_SHA_H
#define POOL_SHA_H

#include <apr_pools.h>

typedef struct pool_sha_run pool_sha_run;

pool_sha_run *pool_sha_run_new(apr_pool_t *p);
/* The state saved by pool_sha_run_save, or NULL when it is not usable. */
pool_sha_run *pool_sha_run_load(apr_pool_t *p, const char *saved);
void pool_sha_run_update(pool_sha_run *h, const void *d, apr_size_t n);
/* Text ("s256v1:<size>:<hex>") to store and load later. */
const char *pool_sha_run_save(apr_pool_t *p, const pool_sha_run *h);
/* The digest of what was hashed so far (h can go on being updated). */
void pool_sha_run_final(const pool_sha_run *h, unsigned char out[32]);

#endif
