/* Storage behind a table of functions, so a remote WebDAV store can be added
 * later.  The filesystem store lays files out as
 *     <root>/<pool>/files/<id[0..1]>/<id>
 * and spools uploads in <root>/.spool/ (same filesystem, so commit is an
 * atomic rename).  Paths are built from ids only, never from client names. */
#ifndef POOL_STORE_H
#define POOL_STORE_H

#include <apr_pools.h>
#include <apr_file_io.h>

#define POOL_STORE_TOOBIG  (APR_OS_START_USERERR + 1)

typedef struct pool_store_t pool_store_t;
typedef struct pool_spool_t pool_spool_t;

typedef struct {
    const char *kind;
    apr_status_t (*check)(pool_store_t *s, apr_pool_t *p, const char **err);
    apr_status_t (*spool_open)(pool_store_t *s, apr_pool_t *p, apr_off_t limit,
                               pool_spool_t **out);
    apr_status_t (*spool_write)(pool_spool_t *sp, const void *buf, apr_size_t n);
    apr_status_t (*spool_commit)(pool_spool_t *sp, const char *pool,
                                 const char *id);
    void (*spool_abort)(pool_spool_t *sp);
    /* Local path of a committed file (filesystem stores), or NULL. */
    const char *(*local_path)(pool_store_t *s, apr_pool_t *p, const char *pool,
                              const char *id);
    apr_status_t (*remove)(pool_store_t *s, apr_pool_t *p, const char *pool,
                           const char *id);
} pool_store_ops_t;

struct pool_store_t {
    const pool_store_ops_t *ops;
    const char *root;
};

pool_store_t *pool_store_fs(apr_pool_t *p, const char *root);

/* Spool state common to every store: size so far and running SHA-256. */
apr_off_t pool_spool_size(const pool_spool_t *sp);
/* Finalises the digest (call once, after the last write). */
void pool_spool_digest(pool_spool_t *sp, unsigned char sha256[32]);

#endif
