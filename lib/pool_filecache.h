/* A small cache of file rows for downloads, shared by the threads of one
 * process.  A file's row never changes once written, so a download need
 * not ask the database again for a while; a row that went away (retention
 * removes the bytes first) is noticed when its bytes cannot be opened, and
 * the caller then drops it and asks the database.  Entries live at most
 * ttl; the cache holds at most `slots` of them (a new row replaces the one
 * in its slot).  Keys are (pool, id): a row is never found through another
 * pool. */
#ifndef POOL_FILECACHE_H
#define POOL_FILECACHE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "pool_db.h"

typedef struct pool_filecache_t pool_filecache_t;

/* NULL when slots is 0 (no cache) or on failure. */
pool_filecache_t *pool_filecache_create(apr_pool_t *p, int slots,
                                        apr_interval_time_t ttl);
/* 1 with *out (a copy in p) when (pool, id) is cached and fresh. */
int pool_filecache_get(pool_filecache_t *fc, apr_pool_t *p, const char *pool,
                       const char *id, pool_file_t **out);
void pool_filecache_put(pool_filecache_t *fc, const pool_file_t *f);
void pool_filecache_drop(pool_filecache_t *fc, const char *pool,
                         const char *id);

#endif
