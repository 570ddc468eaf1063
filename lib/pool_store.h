/* Storage behind a table of functions, so a remote WebDAV store can be added
 * later.  The filesystem store lays files out as
 *     <root>/<pool>/files/<id[0..1]>/<id>
 * and spools uploads in <root>/.spool/ (same filesystem, so commit is an
 * atomic rename).  Paths are built from ids only, never from client names. */
#ifndef POOL_STORE_H
#define POOL_STORE_H

#include <apr_pools.h>
#include <apr_file_io.h>
#include <apr_tables.h>
#include <apr_time.h>

#define POOL_STORE_TOOBIG  (APR_OS_START_USERERR + 1)

typedef struct pool_store_t pool_store_t;
typedef struct pool_spool_t pool_spool_t;
typedef struct pool_upfile_t pool_upfile_t;

/* One committed file or stored result seen by committed_walk. */
typedef struct {
    const char *id;
    apr_off_t size;
} pool_store_entry_t;

/* Called by committed_walk with one batch of entries (pool NULL: stored
 * results); p is cleared after the call.  An error stops the walk. */
typedef apr_status_t pool_store_walk_fn(void *baton, apr_pool_t *p,
                                        const char *pool,
                                        const apr_array_header_t *entries);

typedef struct {
    const char *kind;
    /* Verifies the store and creates its working directories; when owner_uid
     * is not -1 (a root process), hands them to that user and group. */
    apr_status_t (*check)(pool_store_t *s, apr_pool_t *p, long owner_uid,
                          long owner_gid, const char **err);
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

    /* Resumable (tus) uploads: the data of upload `id`, kept apart from the
     * committed files (the filesystem store: <root>/.uploads/<id>) until
     * it is complete.  Bytes are durable once upload_sync returned; the
     * offset the database records is the truth, so upload_open cuts off
     * whatever lies beyond `offset` (written, never recorded).  create
     * allows making the data (at offset 0).  APR_EBUSY when another writer
     * has it open, APR_ENOENT when it is missing, APR_EINCOMPLETE when it
     * is shorter than offset (lost data). */
    apr_status_t (*upload_open)(pool_store_t *s, apr_pool_t *p, const char *id,
                                apr_off_t offset, int create,
                                pool_upfile_t **out);
    apr_status_t (*upload_write)(pool_upfile_t *u, const void *buf,
                                 apr_size_t n);
    /* Cuts the data back to offset (a discarded chunk) and writes on there. */
    apr_status_t (*upload_truncate)(pool_upfile_t *u, apr_off_t offset);
    apr_status_t (*upload_sync)(pool_upfile_t *u);
    /* Reads exactly n bytes at offset (a checksum over a chunk written). */
    apr_status_t (*upload_read)(pool_upfile_t *u, apr_off_t offset, void *buf,
                                apr_size_t n);
    void (*upload_close)(pool_upfile_t *u);
    /* SHA-256 of the data, which must be exactly len bytes. */
    apr_status_t (*upload_digest)(pool_store_t *s, apr_pool_t *p,
                                  const char *id, apr_off_t len,
                                  unsigned char sha256[32]);
    /* Appends the first len bytes of the data to a spool (concatenation). */
    apr_status_t (*upload_to_spool)(pool_store_t *s, apr_pool_t *p,
                                    const char *id, apr_off_t len,
                                    pool_spool_t *sp);
    /* Makes the complete data (exactly len bytes) the committed file
     * <pool>/<file_id> as spool_commit does (fsync, link, fsync of the
     * directory).  The upload's data stays until upload_remove. */
    apr_status_t (*upload_commit)(pool_store_t *s, apr_pool_t *p,
                                  const char *id, apr_off_t len,
                                  const char *pool, const char *file_id);
    /* Removes the data (no error when it is already gone); *freed (may be
     * NULL) gets the bytes it held. */
    apr_status_t (*upload_remove)(pool_store_t *s, apr_pool_t *p,
                                  const char *id, apr_off_t *freed);

    /* For poolctl sweep: ids of upload data last written before `before`,
     * and removal of spool files last written before `before` (*n, *bytes
     * removed). */
    apr_status_t (*upload_list_stale)(pool_store_t *s, apr_pool_t *p,
                                      apr_time_t before,
                                      apr_array_header_t **ids);
    apr_status_t (*spool_sweep)(pool_store_t *s, apr_pool_t *p,
                                apr_time_t before, int *n, apr_off_t *bytes);

    /* Results of groups (the filesystem store: <root>/.results/<id> when
     * received, linked to <root>/<pool>/results/<name> when published, the
     * pool's WebDAV view).  result_commit is spool_commit for a result;
     * result_publish is idempotent and replaces a name that a publication
     * which did not commit left behind. */
    apr_status_t (*result_commit)(pool_spool_t *sp, const char *id);
    const char *(*result_local_path)(pool_store_t *s, apr_pool_t *p,
                                     const char *id);
    apr_status_t (*result_remove)(pool_store_t *s, apr_pool_t *p,
                                  const char *id);
    apr_status_t (*result_publish)(pool_store_t *s, apr_pool_t *p,
                                   const char *id, const char *pool,
                                   const char *name);

    /* For poolctl sweep: calls fn with the committed files of every pool
     * directory and then with the stored results, in batches (one per
     * storage directory, at most POOL_STORE_WALK_BATCH entries each), of
     * those linked into place (inode change time) before `before`; names
     * that are not ids are left out.  lost_found moves one of them aside,
     * out of every view, to <root>/.lost+found/<pool or .results>/<id>
     * (APR_ENOENT when it is gone already) and gives the new path. */
    apr_status_t (*committed_walk)(pool_store_t *s, apr_pool_t *p,
                                   apr_time_t before, pool_store_walk_fn *fn,
                                   void *baton);
    apr_status_t (*lost_found)(pool_store_t *s, apr_pool_t *p,
                               const char *pool, const char *id,
                               const char **moved_to);
} pool_store_ops_t;

#define POOL_STORE_WALK_BATCH 1000

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
