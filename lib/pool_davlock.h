/* WebDAV locks of the view in PostgreSQL (sql/010), shared by every node.
 *
 * A lock is one row at the path it was taken on.  It applies to that path
 * and, with depth infinity, to every path under it: the locks of a path
 * are the rows at the path ("direct") and the depth-infinity rows at its
 * ancestors ("indirect"), computed, never copied.  A lock on a path where
 * the view has nothing is a lock-null resource.
 *
 * Paths are normal paths of the pool's tree ("/", "/a/b": lib/pool_view.h).
 * Every function names the pool, and never sees another pool's locks.
 * Expired locks are invisible; pool_davlock_create purges them. */
#ifndef POOL_DAVLOCK_H
#define POOL_DAVLOCK_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pool_db.h"

/* Timeouts, in seconds: an "Infinite" or longer request gets the maximum
 * (one week), a request for less than the minimum gets the minimum. */
#define POOL_DAVLOCK_TIMEOUT_MAX (7 * 24 * 3600)
#define POOL_DAVLOCK_TIMEOUT_MIN 1

/* Limits on what clients send: the DAV:owner XML (bytes), the lock tokens
 * of one refresh, the live locks that may apply to one path (shared
 * locks), and the live locks of one pool. */
#define POOL_DAVLOCK_OWNER_MAX 8192
#define POOL_DAVLOCK_AUTH_USER_MAX 256
#define POOL_DAVLOCK_TOKENS_MAX 64
#define POOL_DAVLOCK_PATH_MAX 32
#define POOL_DAVLOCK_POOL_MAX 10000

typedef struct {
    const char *token;          /* uuid, lower case (no scheme) */
    const char *path;           /* where it was taken */
    int exclusive;              /* else shared (write locks only) */
    int infinite;               /* depth infinity, else 0 */
    const char *owner;          /* DAV:owner XML, verbatim; NULL: none */
    const char *auth_user;      /* NULL: none */
    apr_int64_t remaining;      /* seconds left, by the database's clock */
} pool_davlock_t;

/* The timeout to grant for a request of `requested` seconds (<= 0 or
 * above the maximum: "Infinite" or too long, the maximum). */
apr_int64_t pool_davlock_timeout(apr_int64_t requested);

/* 1 when a lock taken at lock_path with the given depth applies to path. */
int pool_davlock_covers(const char *lock_path, int infinite,
                        const char *path);

/* The live locks that apply to path (pool_davlock_t *): taken at path, or
 * at an ancestor with depth infinity.  None is not an error. */
pool_db_rc pool_davlock_covering(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *path, apr_array_header_t **out,
                                 const char **err);

/* The live lock with token that applies to path; NOTFOUND if none. */
pool_db_rc pool_davlock_find(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *path, const char *token,
                             pool_davlock_t **out, const char **err);

/* The live locks of the pool, at most limit of them (by path); *more is
 * set when there are others.  For a request's snapshot. */
pool_db_rc pool_davlock_list(apr_pool_t *p, PGconn *c, const char *pool,
                             int limit, apr_array_header_t **out, int *more,
                             const char **err);

/* Takes lock l (token, path, scope, depth, owner, auth_user) for timeout
 * seconds (pool_davlock_timeout applies), after checking in the same
 * transaction, serialised per pool, that no live lock conflicts: an
 * exclusive lock conflicts with any lock that applies to the path (and,
 * with depth infinity, with any lock under it), a shared lock with
 * exclusive ones.  Retry-safe: a token already taken at the same place is
 * answered as taken now.  *out gets the row (remaining filled).
 * CONFLICT: a conflicting lock, or POOL_DAVLOCK_PATH_MAX locks there
 * already (*err says which); REFUSED: the pool holds POOL_DAVLOCK_POOL_MAX
 * live locks; NOTFOUND: no such pool; ERROR: a malformed token or path, or
 * an owner over the limit. */
pool_db_rc pool_davlock_create(apr_pool_t *p, PGconn *c, const char *pool,
                               const pool_davlock_t *l, apr_int64_t timeout,
                               pool_davlock_t **out, const char **err);

/* Gives the live locks that apply to path and whose token is one of tokens
 * (const char *, at most POOL_DAVLOCK_TOKENS_MAX) a new timeout; *out gets
 * the refreshed locks (pool_davlock_t *), maybe none. */
pool_db_rc pool_davlock_refresh(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *path,
                                const apr_array_header_t *tokens,
                                apr_int64_t timeout, apr_array_header_t **out,
                                const char **err);

/* Removes the lock with token that applies to path (wherever it was
 * taken: an UNLOCK anywhere under a depth-infinity lock removes it).
 * *removed: 0 or 1. */
pool_db_rc pool_davlock_remove(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *path, const char *token,
                               int *removed, const char **err);

/* Removes every lock taken at path or under it (what is there is deleted
 * or moved away); the locks of ancestors stay.  *removed: how many. */
pool_db_rc pool_davlock_remove_tree(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *path,
                                    int *removed, const char **err);

/* The names (last segments, const char *, sorted) of the lock-null
 * resources directly in folder `folder`: live locks at folder/name where
 * the view has neither a folder nor a file.  results/ has none. */
pool_db_rc pool_davlock_locknull_names(apr_pool_t *p, PGconn *c,
                                       const char *pool, const char *folder,
                                       apr_array_header_t **out,
                                       const char **err);

/* Deletes expired locks (all pools when pool is NULL); *purged: how many. */
pool_db_rc pool_davlock_purge(apr_pool_t *p, PGconn *c, const char *pool,
                              int *purged, const char **err);

#endif
