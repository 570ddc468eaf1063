/* Storage behind a table of functions: the only way to bytes.  Nothing
 * outside a store builds or opens a storage path; the layout is private to
 * each store.  Two stores: a local directory (pool_store_fs.c, the embedded
 * default) and a remote WebDAV collection (pool_store_dav.c).
 *
 * Objects are named by (pool, id): pool is a pool name for files and NULL
 * for results (ids are uuids, unique across pools).  The life of an object
 * (lib/pool_ingest.c runs it, docs/storage.md):
 *   spool_open/spool_write   bytes arrive while their SHA-256 is computed
 *   spool_stage              durable under its id, visible through no view
 *   (the metadata row commits)
 *   reveal                   visible where the store has a view
 * A crash leaves staged objects; poolctl sweep reveals those that have a
 * row and removes those that have none. */
#ifndef POOL_STORE_H
#define POOL_STORE_H

#include <apr_pools.h>
#include <apr_file_io.h>
#include <apr_tables.h>
#include <apr_time.h>

/* Errors a store gives besides APR's own (APR_ENOENT: no such object). */
#define POOL_STORE_TOOBIG       (APR_OS_START_USERERR + 1) /* over the limit */
#define POOL_STORE_FULL         (APR_OS_START_USERERR + 2) /* no space: 507 */
#define POOL_STORE_UNAVAILABLE  (APR_OS_START_USERERR + 3) /* unreachable or
                                                   * 5xx: 503, try later */

typedef struct pool_store_t pool_store_t;
typedef struct pool_spool_t pool_spool_t;
typedef struct pool_upfile_t pool_upfile_t;

/* An object opened for reading. */
typedef struct pool_store_obj_t {
    pool_store_t *store;
    apr_off_t size;
    apr_time_t mtime;
    void *priv;                 /* the store's */
} pool_store_obj_t;

/* One object seen by committed_walk. */
typedef struct {
    const char *id;
    apr_off_t size;
    int staged;                 /* staged, not revealed */
} pool_store_entry_t;

/* Called by committed_walk with one batch of entries (pool NULL: results);
 * p is cleared after the call.  An error stops the walk. */
typedef apr_status_t pool_store_walk_fn(void *baton, apr_pool_t *p,
                                        const char *pool,
                                        const apr_array_header_t *entries);

/* Receives the bytes of a read, block by block. */
typedef apr_status_t pool_store_sink_fn(void *baton, const char *buf,
                                        apr_size_t n);

typedef struct {
    const char *kind;           /* "filesystem", "webdav" */
    /* Verifies the store (the WebDAV store: OPTIONS must announce DAV) and
     * creates its working places; when owner_uid is not -1 (a root
     * process), hands local ones to that user and group. */
    apr_status_t (*check)(pool_store_t *s, apr_pool_t *p, long owner_uid,
                          long owner_gid, const char **err);

    /* ---- writing: spool, stage, reveal */
    apr_status_t (*spool_open)(pool_store_t *s, apr_pool_t *p, apr_off_t limit,
                               pool_spool_t **out);
    /* POOL_STORE_TOOBIG past the limit. */
    apr_status_t (*spool_write)(pool_spool_t *sp, const void *buf, apr_size_t n);
    /* Makes the spooled bytes durable as object (pool, id), visible through
     * no view; the spool is finished either way (a failure discards it). */
    apr_status_t (*spool_stage)(pool_spool_t *sp, const char *pool,
                                const char *id);
    void (*spool_abort)(pool_spool_t *sp);
    /* After the row committed: makes a staged object visible where the store
     * has a view.  Idempotent (success when it is revealed already). */
    apr_status_t (*reveal)(pool_store_t *s, apr_pool_t *p, const char *pool,
                           const char *id);
    /* Removes the object, staged or revealed (APR_ENOENT when gone). */
    apr_status_t (*remove)(pool_store_t *s, apr_pool_t *p, const char *pool,
                           const char *id);

    /* ---- reading */
    /* APR_ENOENT when there is no such object, staged or revealed.
     * sendfile: the caller may hand obj_file to sendfile(2) (httpd's
     * EnableSendfile). */
    apr_status_t (*open)(pool_store_t *s, apr_pool_t *p, const char *pool,
                         const char *id, int sendfile,
                         pool_store_obj_t **out);
    /* A local file of the object for httpd's sendfile/mmap path, or NULL
     * (the WebDAV store): then read with obj_read. */
    apr_file_t *(*obj_file)(pool_store_obj_t *o);
    /* Sends the bytes [offset, offset + len) to fn. */
    apr_status_t (*obj_read)(pool_store_obj_t *o, apr_off_t offset,
                             apr_off_t len, pool_store_sink_fn *fn,
                             void *baton);
    void (*obj_close)(pool_store_obj_t *o);
    /* Size of an object, staged or revealed; APR_ENOENT when missing. */
    apr_status_t (*stat)(pool_store_t *s, apr_pool_t *p, const char *pool,
                         const char *id, apr_off_t *size);

    /* ---- resumable (tus) uploads: the data of upload `id`, kept apart
     * from objects until it is complete.  Bytes are durable once
     * upload_sync returned; the offset the database records is the truth,
     * so upload_open cuts off whatever lies beyond `offset` (written, never
     * recorded).  create allows making the data (at offset 0).  APR_EBUSY
     * when another writer has it open, APR_ENOENT when it is missing,
     * APR_EINCOMPLETE when it is shorter than offset (lost data). */
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
    /* Makes the complete data (exactly len bytes) the staged object
     * (pool, file_id), as spool_stage does.  The upload's data stays until
     * upload_remove. */
    apr_status_t (*upload_stage)(pool_store_t *s, apr_pool_t *p,
                                 const char *id, apr_off_t len,
                                 const char *pool, const char *file_id);
    /* Removes the data (no error when it is already gone); *freed (may be
     * NULL) gets the bytes it held. */
    apr_status_t (*upload_remove)(pool_store_t *s, apr_pool_t *p,
                                  const char *id, apr_off_t *freed);

    /* ---- poolctl sweep: ids of upload data last written before `before`;
     * removal of spool debris last written before `before` (*n, *bytes). */
    apr_status_t (*upload_list_stale)(pool_store_t *s, apr_pool_t *p,
                                      apr_time_t before,
                                      apr_array_header_t **ids);
    apr_status_t (*spool_sweep)(pool_store_t *s, apr_pool_t *p,
                                apr_time_t before, int *n, apr_off_t *bytes);

    /* Calls fn with the objects of every pool and then with the results, in
     * batches of at most POOL_STORE_WALK_BATCH, of those stored before
     * `before`; names that are not ids are left out.  lost_found moves a
     * revealed object aside, out of every view, to the store's lost+found
     * (APR_ENOENT when it is gone already) and says where (for the log). */
    apr_status_t (*committed_walk)(pool_store_t *s, apr_pool_t *p,
                                   apr_time_t before, pool_store_walk_fn *fn,
                                   void *baton);
    apr_status_t (*lost_found)(pool_store_t *s, apr_pool_t *p,
                               const char *pool, const char *id,
                               const char **moved_to);

    /* Optional (NULL: open is used): opens an object whose size and time
     * the caller knows from its row, without asking the store; a missing
     * object then shows as APR_ENOENT from obj_read, before any byte. */
    apr_status_t (*open_known)(pool_store_t *s, apr_pool_t *p,
                               const char *pool, const char *id,
                               apr_off_t size, apr_time_t mtime,
                               pool_store_obj_t **out);
} pool_store_ops_t;

#define POOL_STORE_WALK_BATCH 1000

struct pool_store_t {
    const pool_store_ops_t *ops;
    const char *root;           /* for messages: a directory or a URL */
    void *priv;                 /* the store's */
};

pool_store_t *pool_store_fs(apr_pool_t *p, const char *root);

/* The store PoolStorage names: an http:// or https:// URL of a WebDAV
 * collection (credentials "user:password" on the first line of
 * credentials_file, which may be NULL), else a directory.  NULL with *err
 * when the URL or the credentials file is unusable. */
pool_store_t *pool_store_create(apr_pool_t *p, const char *spec,
                                const char *credentials_file,
                                const char **err);

/* Spool state common to every store: size so far and running SHA-256. */
apr_off_t pool_spool_size(const pool_spool_t *sp);
/* Finalises the digest (call once, after the last write). */
void pool_spool_digest(pool_spool_t *sp, unsigned char sha256[32]);

/* Text for a store's error (its own codes included). */
const char *pool_store_errstr(apr_pool_t *p, apr_status_t rv);

/* Reads a whole object into fn (open, obj_read, close). */
/* open, or open_known where the store has it (downloads: the row gives size
 * and time, so the WebDAV store sends one GET instead of HEAD + GET). */
apr_status_t pool_store_open_known(pool_store_t *s, apr_pool_t *p,
                                   const char *pool, const char *id,
                                   apr_off_t size, apr_time_t mtime,
                                   int sendfile, pool_store_obj_t **out);

apr_status_t pool_store_read_all(pool_store_t *s, apr_pool_t *p,
                                 const char *pool, const char *id,
                                 pool_store_sink_fn *fn, void *baton);

#endif
