/* Directory store.  Layout (private; docs/storage.md):
 *   .spool/upXXXXXX         bytes arriving
 *   .staged/<pool>/<id>     a file staged: durable, no row yet
 *   <pool>/files/xx/<id>    a file revealed (its row committed)
 *   .results/<id>           results
 *   .uploads/<id>           tus upload data
 *   .lost+found/            revealed bytes that had no row (poolctl sweep)
 * Staging is fsync + link(2) + fsync of the directory; revealing is a
 * rename(2) that needs no sync: until it is durable, reads find the staged
 * name, and sweep reveals what a crash left staged with a row. */
#include <string.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_portable.h>
#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <apr_atomic.h>
#include <apr_thread_cond.h>
#include <openssl/evp.h>

#include "pool_store_impl.h"
#include "pool_dio.h"
#include "pool_log.h"
#include "pool_name.h"

struct pool_spool_t {
    pool_spool_head_t h;        /* first: size, limit, digest */
    apr_file_t *fd;
    char *path;
    pool_dio_t w;               /* writes, gathered (pool_dio.h) */
    apr_status_t flush_rv;      /* of the last flush, a failed one first */
    int finished;               /* staged or aborted */
};

#define SPOOL_DIR ".spool"
#define STAGED_DIR ".staged"
#define UPLOAD_DIR ".uploads"
#define RESULT_DIR ".results"
#define LOST_DIR ".lost+found"
#define COPY_BLOCK (64 * 1024)

/* An open upload data file (tus): a plain descriptor, flock()ed so that two
 * writers on this host can never interleave (the database lease is what
 * orders writers across hosts). */
struct pool_upfile_t {
    pool_store_t *store;
    apr_pool_t *p;
    int fd;
    char *path;
    pool_dio_t w;               /* writes, gathered; direct where possible */
};

static const char *fs_dir(pool_store_t *s, apr_pool_t *p, const char *pool,
                          const char *id)
{
    return apr_psprintf(p, "%s/%s/files/%.2s", s->root, pool, id);
}

static const char *fs_local_path(pool_store_t *s, apr_pool_t *p,
                                 const char *pool, const char *id)
{
    return apr_psprintf(p, "%s/%s", fs_dir(s, p, pool, id), id);
}

static apr_status_t fs_check(pool_store_t *s, apr_pool_t *p, long owner_uid,
                             long owner_gid, const char **err)
{
    static const char *const dirs[] = { SPOOL_DIR, STAGED_DIR, UPLOAD_DIR,
                                        RESULT_DIR, LOST_DIR };
    apr_finfo_t fi;
    apr_status_t rv;
    unsigned int i;

    rv = apr_stat(&fi, s->root, APR_FINFO_TYPE, p);
    if (rv != APR_SUCCESS || fi.filetype != APR_DIR) {
        *err = apr_psprintf(p, "storage root %s is not a directory", s->root);
        return rv != APR_SUCCESS ? rv : APR_ENOTDIR;
    }
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        const char *dir = apr_pstrcat(p, s->root, "/", dirs[i], NULL);
        char buf[256];

        rv = apr_dir_make(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                          | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                          | APR_FPROT_GEXECUTE, p);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            *err = apr_psprintf(p, "cannot create %s: %s", dir,
                                apr_strerror(rv, buf, sizeof(buf)));
            return rv;
        }
        if (owner_uid != -1) {
            if (chown(dir, (uid_t)owner_uid, (gid_t)owner_gid) != 0) {
                *err = apr_psprintf(p, "cannot hand %s to uid %ld: %s", dir,
                                    owner_uid, strerror(errno));
                return APR_FROM_OS_ERROR(errno);
            }
        }
        else if (access(dir, W_OK) != 0) {
            *err = apr_psprintf(p, "%s is not writable by this user", dir);
            return APR_EACCES;
        }
    }
    return APR_SUCCESS;
}

/* After the last write: flush, give the buffer back (a batch keeps many
 * spools open, one buffer each would add up). */
static void spool_unbuffer(pool_spool_t *sp)
{
    if (sp->w.buf) {
        /* a failed flush (disk full) fails the commit later */
        apr_status_t rv = pool_dio_flush(&sp->w);

        if (rv != APR_SUCCESS && sp->flush_rv == APR_SUCCESS) {
            sp->flush_rv = rv;
        }
    }
    pool_dio_close(&sp->w);
}

/* A full disk or quota is the store being full (507), not an error of ours. */
static apr_status_t fs_err(apr_status_t rv)
{
    if (APR_STATUS_IS_ENOSPC(rv) || rv == APR_FROM_OS_ERROR(EDQUOT)) {
        return POOL_STORE_FULL;
    }
    return rv;
}

static apr_status_t spool_cleanup(void *data)
{
    pool_spool_t *sp = data;

    pool_dio_close(&sp->w);     /* what was not flushed is not wanted */
    if (!sp->finished) {
        sp->finished = 1;
        if (sp->fd) {
            apr_file_close(sp->fd);
            sp->fd = NULL;
        }
        unlink(sp->path);
    }
    pool_spool_head_free(&sp->h);
    return APR_SUCCESS;
}

static void spool_writes_done(pool_spool_t *sp)
{
    spool_unbuffer(sp);
}

static apr_status_t fs_spool_open(pool_store_t *s, apr_pool_t *p,
                                  apr_off_t limit, pool_spool_t **out)
{
    pool_spool_t *sp = apr_pcalloc(p, sizeof(*sp));
    apr_os_file_t osfd;
    apr_status_t rv;

    if ((rv = pool_spool_head_init(&sp->h, s, p, limit)) != APR_SUCCESS) {
        return rv;
    }
    sp->h.writes_done = spool_writes_done;
    sp->path = apr_pstrcat(p, s->root, "/" SPOOL_DIR "/upXXXXXX", NULL);
    rv = apr_file_mktemp(&sp->fd, sp->path,
                         APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                         | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS) {
        pool_spool_head_free(&sp->h);
        return fs_err(rv);
    }
    if ((rv = apr_os_file_get(&osfd, sp->fd)) != APR_SUCCESS) {
        apr_file_close(sp->fd);
        unlink(sp->path);
        pool_spool_head_free(&sp->h);
        return rv;
    }
    /* bodies arrive in socket-sized pieces (8000 bytes from httpd's core
     * input filter): they are gathered and written in large blocks.  Not
     * direct: a PUT's writes returning at once (the disk catching up until
     * the fsync) measured faster than direct ones (docs/benchmarks.md) */
    pool_dio_init(&sp->w, osfd, NULL, 0);
    apr_pool_cleanup_register(p, sp, spool_cleanup, apr_pool_cleanup_null);
    *out = sp;
    return APR_SUCCESS;
}

static apr_status_t fs_spool_write(pool_spool_t *sp, const void *buf,
                                   apr_size_t n)
{
    apr_status_t rv;

    if (sp->finished) {
        return APR_EINVAL;
    }
    if ((rv = pool_spool_head_add(&sp->h, buf, n)) != APR_SUCCESS || !n) {
        return rv;
    }
    return fs_err(pool_dio_write(&sp->w, buf, n));
}

static apr_status_t sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (fsync(fd) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    close(fd);
    return rv;
}

/* Group commit of directory syncs: an upload's link is durable once a
 * sync of its directory that started after the link has finished, so
 * concurrent uploads into one directory share one fsync(2) (the threads of
 * an httpd child; each process groups its own).  A waiter whose link came
 * after the running sync started waits for it and starts the next one. */
typedef struct {
    apr_uint64_t requested;     /* links made */
    apr_uint64_t done;          /* links covered by a finished sync */
    int syncing;
    apr_status_t rv;            /* of the last sync */
    apr_thread_cond_t *cond;
} dir_sync_t;

typedef struct {
    apr_pool_t *p;              /* entries; used under lock only */
    apr_thread_mutex_t *lock;
    apr_hash_t *dirs;           /* path -> dir_sync_t */
    volatile apr_uint32_t no_direct;    /* upload data written ordinarily */
} fs_priv;

static apr_status_t sync_dir_grouped(pool_store_t *s, const char *dir)
{
    fs_priv *fp = s->priv;
    dir_sync_t *ds;
    apr_uint64_t mine;
    apr_status_t rv;

    if (!fp || !fp->lock) {
        return sync_dir(dir);
    }
    apr_thread_mutex_lock(fp->lock);
    ds = apr_hash_get(fp->dirs, dir, APR_HASH_KEY_STRING);
    if (!ds) {
        ds = apr_pcalloc(fp->p, sizeof(*ds));
        if (apr_thread_cond_create(&ds->cond, fp->p) != APR_SUCCESS) {
            apr_thread_mutex_unlock(fp->lock);
            return sync_dir(dir);
        }
        apr_hash_set(fp->dirs, apr_pstrdup(fp->p, dir), APR_HASH_KEY_STRING,
                     ds);
    }
    mine = ++ds->requested;
    while (ds->done < mine) {
        if (!ds->syncing) {
            apr_uint64_t target = ds->requested;

            ds->syncing = 1;
            apr_thread_mutex_unlock(fp->lock);
            rv = sync_dir(dir);
            apr_thread_mutex_lock(fp->lock);
            ds->rv = rv;
            ds->done = target;
            ds->syncing = 0;
            apr_thread_cond_broadcast(ds->cond);
        }
        else {
            apr_thread_cond_wait(ds->cond, fp->lock);
        }
    }
    rv = ds->rv;
    apr_thread_mutex_unlock(fp->lock);
    return rv;
}

/* fsync the spool, then link it to dir/name (made when missing) and fsync
 * dir.  link(2) refuses to replace an existing file, unlike rename(2):
 * names are ids, never reused, so an existing target is an error. */
static apr_status_t commit_to(pool_spool_t *sp, const char *dir,
                              const char *name)
{
    apr_pool_t *p = sp->h.p;
    const char *final;
    apr_status_t rv;
    int linked;

    if (sp->finished) {
        return APR_EINVAL;
    }
    spool_unbuffer(sp);
    if ((rv = sp->flush_rv) != APR_SUCCESS
        || (rv = apr_file_sync(sp->fd)) != APR_SUCCESS) {
        return fs_err(rv);
    }
    rv = apr_file_close(sp->fd);
    sp->fd = NULL;
    if (rv != APR_SUCCESS) {
        return fs_err(rv);
    }
    apr_file_perms_set(sp->path, APR_FPROT_UREAD | APR_FPROT_UWRITE
                       | APR_FPROT_GREAD);
    final = apr_pstrcat(p, dir, "/", name, NULL);
    /* dir exists but before a pool's first file: made then, not tried
     * at every commit */
    linked = link(sp->path, final);
    if (linked != 0 && errno == ENOENT) {
        rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                    | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                    | APR_FPROT_GEXECUTE, p);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            return fs_err(rv);
        }
        linked = link(sp->path, final);
    }
    if (linked != 0) {
        return fs_err(APR_FROM_OS_ERROR(errno));
    }
    /* the name must be durable before a row may point at it */
    if ((rv = sync_dir_grouped(sp->h.store, dir)) != APR_SUCCESS) {
        unlink(final);
        return fs_err(rv);
    }
    unlink(sp->path);
    sp->finished = 1;
    /* the spool directory is not synced: a spool name that survives a
     * crash is debris, which poolctl sweep removes */
    return APR_SUCCESS;
}

static const char *staged_dir(pool_store_t *s, apr_pool_t *p,
                              const char *pool)
{
    return apr_pstrcat(p, s->root, "/" STAGED_DIR "/", pool, NULL);
}

static const char *staged_path(pool_store_t *s, apr_pool_t *p,
                               const char *pool, const char *id)
{
    return apr_pstrcat(p, staged_dir(s, p, pool), "/", id, NULL);
}

static const char *result_path(pool_store_t *s, apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, s->root, "/" RESULT_DIR "/", id, NULL);
}

/* Names are built from checked idents and ids only. */
static int name_ok(const char *pool, const char *id)
{
    return pool_store_id_ok(id) && (!pool || !pool_ident_check(pool));
}

static apr_status_t fs_spool_stage(pool_spool_t *sp, const char *pool,
                                   const char *id)
{
    pool_store_t *s = sp->h.store;
    apr_status_t rv;

    if (!name_ok(pool, id)) {
        rv = APR_EINVAL;
    }
    else {
        rv = commit_to(sp, pool ? staged_dir(s, sp->h.p, pool)
                                : apr_pstrcat(sp->h.p, s->root,
                                              "/" RESULT_DIR, NULL), id);
    }
    if (rv != APR_SUCCESS) {
        spool_cleanup(sp);
    }
    return rv;
}

static void fs_spool_abort(pool_spool_t *sp)
{
    spool_cleanup(sp);
}

static apr_status_t fs_reveal(pool_store_t *s, apr_pool_t *p,
                              const char *pool, const char *id)
{
    const char *dir, *final, *staged;
    apr_status_t rv;
    struct stat st;

    if (!name_ok(pool, id)) {
        return APR_EINVAL;
    }
    if (!pool) {
        return APR_SUCCESS;     /* results stay in .results/ */
    }
    dir = fs_dir(s, p, pool, id);
    final = apr_pstrcat(p, dir, "/", id, NULL);
    staged = staged_path(s, p, pool, id);
    if (rename(staged, final) != 0) {
        if (errno != ENOENT) {
            return fs_err(APR_FROM_OS_ERROR(errno));
        }
        if (stat(final, &st) == 0) {
            return APR_SUCCESS; /* revealed already */
        }
        /* the shard's directory, made with its first file */
        rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                    | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                    | APR_FPROT_GEXECUTE, p);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            return fs_err(rv);
        }
        if (rename(staged, final) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
            if (errno == ENOENT && stat(final, &st) == 0) {
                return APR_SUCCESS;
            }
            return fs_err(rv);
        }
    }
    /* rename(2) of a name onto another name of the same file does nothing */
    unlink(staged);
    return APR_SUCCESS;
}

static apr_status_t fs_remove(pool_store_t *s, apr_pool_t *p, const char *pool,
                              const char *id)
{
    apr_status_t rv;

    if (!name_ok(pool, id)) {
        return APR_EINVAL;
    }
    if (!pool) {
        return apr_file_remove(result_path(s, p, id), p);
    }
    rv = apr_file_remove(fs_local_path(s, p, pool, id), p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = apr_file_remove(staged_path(s, p, pool, id), p);
    }
    return rv;
}

/* ------------------------------------------------------------ reading */

typedef struct {
    apr_file_t *fd;
} fs_obj;

/* The revealed name first, then the staged one (a reveal not done yet). */
static apr_status_t open_object(pool_store_t *s, apr_pool_t *p,
                                const char *pool, const char *id,
                                apr_int32_t flags, apr_file_t **fd)
{
    apr_status_t rv;

    if (!name_ok(pool, id)) {
        return APR_ENOENT;
    }
    if (!pool) {
        return apr_file_open(fd, result_path(s, p, id), flags, 0, p);
    }
    rv = apr_file_open(fd, fs_local_path(s, p, pool, id), flags, 0, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = apr_file_open(fd, staged_path(s, p, pool, id), flags, 0, p);
    }
    return rv;
}

static apr_status_t fs_open(pool_store_t *s, apr_pool_t *p, const char *pool,
                            const char *id, int sendfile,
                            pool_store_obj_t **out)
{
    pool_store_obj_t *o;
    fs_obj *fo = apr_pcalloc(p, sizeof(*fo));
    apr_finfo_t fi;
    apr_status_t rv;

    rv = open_object(s, p, pool, id, APR_FOPEN_READ | APR_FOPEN_BINARY
                     | (sendfile ? APR_FOPEN_SENDFILE_ENABLED : 0), &fo->fd);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_MTIME, fo->fd);
    if (rv != APR_SUCCESS) {
        apr_file_close(fo->fd);
        return rv;
    }
    o = apr_pcalloc(p, sizeof(*o));
    o->store = s;
    o->size = fi.size;
    o->mtime = fi.mtime;
    o->priv = fo;
    *out = o;
    return APR_SUCCESS;
}

static apr_file_t *fs_obj_file(pool_store_obj_t *o)
{
    return ((fs_obj *)o->priv)->fd;
}

static apr_status_t fs_obj_read(pool_store_obj_t *o, apr_off_t offset,
                                apr_off_t len, pool_store_sink_fn *fn,
                                void *baton)
{
    fs_obj *fo = o->priv;
    char buf[COPY_BLOCK];
    apr_os_file_t fd;
    apr_status_t rv = APR_SUCCESS;

    if (offset < 0 || len < 0 || offset > o->size || len > o->size - offset) {
        return APR_EINVAL;
    }
    apr_os_file_get(&fd, fo->fd);
    while (len > 0 && rv == APR_SUCCESS) {
        apr_size_t n = len > COPY_BLOCK ? COPY_BLOCK : (apr_size_t)len;
        ssize_t got = pread(fd, buf, n, offset);

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return got < 0 ? APR_FROM_OS_ERROR(errno) : APR_EOF;
        }
        rv = fn(baton, buf, (apr_size_t)got);
        offset += got;
        len -= got;
    }
    return rv;
}

static void fs_obj_close(pool_store_obj_t *o)
{
    fs_obj *fo = o->priv;

    if (fo->fd) {
        apr_file_close(fo->fd);
        fo->fd = NULL;
    }
}

static apr_status_t fs_stat(pool_store_t *s, apr_pool_t *p, const char *pool,
                            const char *id, apr_off_t *size)
{
    struct stat st;

    if (!name_ok(pool, id)) {
        return APR_ENOENT;
    }
    if (!pool) {
        if (stat(result_path(s, p, id), &st) != 0) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
    else if (stat(fs_local_path(s, p, pool, id), &st) != 0
             && (errno != ENOENT
                 || stat(staged_path(s, p, pool, id), &st) != 0)) {
        return APR_FROM_OS_ERROR(errno);
    }
    *size = (apr_off_t)st.st_size;
    return APR_SUCCESS;
}

/* ------------------------------------------------ resumable uploads */

static const char *upload_path(pool_store_t *s, apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, s->root, "/" UPLOAD_DIR "/", id, NULL);
}

#define id_ok pool_store_id_ok

static apr_status_t upfile_cleanup(void *data)
{
    pool_upfile_t *u = data;

    pool_dio_close(&u->w);
    if (u->fd >= 0) {
        close(u->fd);           /* releases the flock */
        u->fd = -1;
    }
    return APR_SUCCESS;
}

/* A direct write the file system refused turns them off for the store. */
static void store_note_refusal(pool_store_t *s, const pool_dio_t *w)
{
    fs_priv *fp = s->priv;

    if (w->refused && fp && !apr_atomic_read32(&fp->no_direct)) {
        apr_atomic_set32(&fp->no_direct, 1);
        pool_log(POOL_LOG_INFO, "%s does not take O_DIRECT writes: "
                 "uploads go through the page cache", s->root);
    }
}

static void upfile_note_refusal(pool_upfile_t *u)
{
    store_note_refusal(u->store, &u->w);
}

/* Writes what is gathered (before a sync or read); a direct write the file
 * system refused turns direct writes off for the whole store. */
static apr_status_t upfile_flush(pool_upfile_t *u)
{
    apr_status_t rv = pool_dio_flush(&u->w);

    upfile_note_refusal(u);
    return fs_err(rv);
}

/* path, for direct writes, unless the store's file system refused them
 * (pool_dio.h). */
static const char *fs_direct_path(pool_store_t *s, const char *path)
{
    fs_priv *fp = s->priv;

    return fp && !apr_atomic_read32(&fp->no_direct) ? path : NULL;
}

static apr_status_t fs_upload_open(pool_store_t *s, apr_pool_t *p,
                                   const char *id, apr_off_t offset,
                                   int create, pool_upfile_t **out)
{
    pool_upfile_t *u;
    struct stat st;
    int flags = O_RDWR | O_CLOEXEC;
    apr_status_t rv;

    if (!id_ok(id) || offset < 0) {
        return APR_EINVAL;
    }
    if (create && offset == 0) {
        const char *dir = apr_pstrcat(p, s->root, "/" UPLOAD_DIR, NULL);

        /* made by the first upload, as the user that writes it */
        rv = apr_dir_make(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                          | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                          | APR_FPROT_GEXECUTE, p);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            return rv;
        }
        flags |= O_CREAT;
    }
    u = apr_pcalloc(p, sizeof(*u));
    u->store = s;
    u->p = p;
    u->path = (char *)upload_path(s, p, id);
    pool_dio_init(&u->w, -1, NULL, offset);    /* nothing to close yet */
    u->fd = open(u->path, flags, 0640);
    if (u->fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    apr_pool_cleanup_register(p, u, upfile_cleanup, apr_pool_cleanup_null);
    if (flock(u->fd, LOCK_EX | LOCK_NB) != 0) {
        rv = errno == EWOULDBLOCK ? APR_EBUSY : APR_FROM_OS_ERROR(errno);
        upfile_cleanup(u);
        return rv;
    }
    if (fstat(u->fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        upfile_cleanup(u);
        return rv;
    }
    if (st.st_size < offset) {
        upfile_cleanup(u);
        return APR_EINCOMPLETE;
    }
    if (st.st_size > offset && ftruncate(u->fd, offset) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        upfile_cleanup(u);
        return rv;
    }
    if (create && offset == 0 && st.st_size == 0) {
        sync_dir(apr_pstrcat(p, s->root, "/" UPLOAD_DIR, NULL));
    }
    pool_dio_init(&u->w, u->fd, fs_direct_path(s, u->path), offset);
    *out = u;
    return APR_SUCCESS;
}

/* Bodies arrive in socket-sized pieces (8000 bytes from httpd's core input
 * filter): they are gathered and written in large aligned blocks, past the
 * page cache where the file system allows (pool_dio.h). */
static apr_status_t fs_upload_write(pool_upfile_t *u, const void *buf,
                                    apr_size_t n)
{
    apr_status_t rv;

    if (u->fd < 0) {
        return APR_EINVAL;
    }
    rv = pool_dio_write(&u->w, buf, n);
    upfile_note_refusal(u);
    return fs_err(rv);
}

static apr_status_t fs_upload_truncate(pool_upfile_t *u, apr_off_t offset)
{
    apr_status_t rv;

    if (u->fd < 0 || offset < 0) {
        return APR_EINVAL;
    }
    rv = pool_dio_truncate(&u->w, offset);
    upfile_note_refusal(u);
    return fs_err(rv);
}

static apr_status_t fs_upload_sync(pool_upfile_t *u)
{
    apr_status_t rv;

    if (u->fd < 0) {
        return APR_EINVAL;
    }
    if ((rv = upfile_flush(u)) != APR_SUCCESS) {
        return rv;
    }
    /* one file: this covers what went through the direct descriptor too */
    return fsync(u->fd) == 0 ? APR_SUCCESS : fs_err(APR_FROM_OS_ERROR(errno));
}

static apr_status_t fs_upload_read(pool_upfile_t *u, apr_off_t offset,
                                   void *buf, apr_size_t n)
{
    apr_status_t rv;

    if (u->fd < 0) {
        return APR_EINVAL;
    }
    if ((rv = upfile_flush(u)) != APR_SUCCESS) {
        return rv;
    }
    return pool_dio_pread(u->fd, buf, n, offset);
}

static void fs_upload_close(pool_upfile_t *u)
{
    apr_pool_cleanup_run(u->p, u, upfile_cleanup);
}

/* Opens upload data for reading; it must hold exactly len bytes. */
static apr_status_t open_exact(pool_store_t *s, apr_pool_t *p, const char *id,
                               apr_off_t len, int *fd)
{
    struct stat st;

    if (!id_ok(id)) {
        return APR_EINVAL;
    }
    *fd = open(upload_path(s, p, id), O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (fstat(*fd, &st) != 0 || st.st_size != len) {
        close(*fd);
        *fd = -1;
        return APR_EINCOMPLETE;
    }
    return APR_SUCCESS;
}

typedef apr_status_t block_fn(void *baton, const char *buf, apr_size_t n);

/* Feeds the len bytes of fd to fn block by block. */
static apr_status_t each_block(apr_pool_t *p, int fd, apr_off_t len,
                               block_fn *fn, void *baton)
{
    char *buf = apr_palloc(p, COPY_BLOCK);
    apr_off_t off = 0;
    apr_status_t rv = APR_SUCCESS;

    while (off < len && rv == APR_SUCCESS) {
        apr_size_t n = (len - off) > COPY_BLOCK ? COPY_BLOCK
                                                : (apr_size_t)(len - off);
        rv = pool_dio_pread(fd, buf, n, off);
        if (rv == APR_SUCCESS) {
            rv = fn(baton, buf, n);
            off += (apr_off_t)n;
        }
    }
    return rv;
}

static apr_status_t fs_upload_digest(pool_store_t *s, apr_pool_t *p,
                                     const char *id, apr_off_t len,
                                     unsigned char sha256[32])
{
    EVP_MD_CTX *md;
    unsigned int dlen = 0;
    apr_status_t rv;
    int fd;

    if ((rv = open_exact(s, p, id, len, &fd)) != APR_SUCCESS) {
        return rv;
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rv = APR_ENOMEM;
    }
    else {
        rv = each_block(p, fd, len, pool_store_digest_sink, md);
    }
    if (rv == APR_SUCCESS && EVP_DigestFinal_ex(md, sha256, &dlen) != 1) {
        rv = APR_EGENERAL;
    }
    if (md) {
        EVP_MD_CTX_free(md);
    }
    close(fd);
    return rv;
}

static apr_status_t fs_upload_to_spool(pool_store_t *s, apr_pool_t *p,
                                       const char *id, apr_off_t len,
                                       pool_spool_t *sp)
{
    apr_status_t rv;
    int fd;

    if ((rv = open_exact(s, p, id, len, &fd)) != APR_SUCCESS) {
        return rv;
    }
    rv = each_block(p, fd, len, pool_store_spool_sink, sp);
    close(fd);
    return rv;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev
           && sa.st_ino == sb.st_ino;
}

static apr_status_t fs_upload_stage(pool_store_t *s, apr_pool_t *p,
                                    const char *id, apr_off_t len,
                                    const char *pool, const char *file_id)
{
    const char *dir, *final, *src;
    apr_status_t rv;
    int fd;

    if (!name_ok(pool, file_id) || !pool) {
        return APR_EINVAL;
    }
    if ((rv = open_exact(s, p, id, len, &fd)) != APR_SUCCESS) {
        return rv;
    }
    if (fsync(fd) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS && fchmod(fd, 0640) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    close(fd);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    src = upload_path(s, p, id);
    if (same_file(src, fs_local_path(s, p, pool, file_id))) {
        return APR_SUCCESS;     /* staged and revealed before */
    }
    dir = staged_dir(s, p, pool);
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                | APR_FPROT_GEXECUTE, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return fs_err(rv);
    }
    final = apr_pstrcat(p, dir, "/", file_id, NULL);
    /* a second name for the same bytes: nothing is copied, and link(2)
     * never replaces an existing file; the same file there already is a
     * repeated stage */
    if (link(src, final) != 0) {
        rv = fs_err(APR_FROM_OS_ERROR(errno));
        if (errno != EEXIST || !same_file(src, final)) {
            return rv;
        }
    }
    if ((rv = sync_dir(dir)) != APR_SUCCESS) {
        return fs_err(rv);
    }
    return APR_SUCCESS;
}

static apr_status_t fs_upload_remove(pool_store_t *s, apr_pool_t *p,
                                     const char *id, apr_off_t *freed)
{
    const char *path;
    struct stat st;

    if (freed) {
        *freed = 0;
    }
    if (!id_ok(id)) {
        return APR_EINVAL;
    }
    path = upload_path(s, p, id);
    if (freed && stat(path, &st) == 0) {
        *freed = st.st_size;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        return APR_FROM_OS_ERROR(errno);
    }
    return APR_SUCCESS;
}

/* Regular files of dir last modified before `before`: calls fn for each. */
typedef void stale_fn(void *baton, const char *name, const char *path,
                      apr_off_t size);

static apr_status_t each_stale(apr_pool_t *p, const char *dir,
                               apr_time_t before, stale_fn *fn, void *baton)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;

    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        const char *path;
        struct stat st;

        if (!fi.name || fi.name[0] == '.') {
            continue;
        }
        path = apr_pstrcat(p, dir, "/", fi.name, NULL);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)
            || apr_time_from_sec(st.st_mtime) >= before) {
            continue;
        }
        fn(baton, fi.name, path, (apr_off_t)st.st_size);
    }
    apr_dir_close(d);
    return APR_SUCCESS;
}

static void collect_id(void *baton, const char *name, const char *path,
                       apr_off_t size)
{
    apr_array_header_t *ids = baton;

    if (id_ok(name)) {
        APR_ARRAY_PUSH(ids, const char *) = apr_pstrdup(ids->pool, name);
    }
}

static apr_status_t fs_upload_list_stale(pool_store_t *s, apr_pool_t *p,
                                         apr_time_t before,
                                         apr_array_header_t **ids)
{
    *ids = apr_array_make(p, 8, sizeof(const char *));
    return each_stale(p, apr_pstrcat(p, s->root, "/" UPLOAD_DIR, NULL),
                      before, collect_id, *ids);
}

typedef struct {
    int n;
    apr_off_t bytes;
} sweep_count;

static void remove_stale(void *baton, const char *name, const char *path,
                         apr_off_t size)
{
    sweep_count *sc = baton;

    if (unlink(path) == 0) {
        sc->n++;
        sc->bytes += size;
    }
}

static apr_status_t fs_spool_sweep(pool_store_t *s, apr_pool_t *p,
                                   apr_time_t before, int *n,
                                   apr_off_t *bytes)
{
    sweep_count sc = { 0, 0 };
    apr_status_t rv = each_stale(p, apr_pstrcat(p, s->root, "/" SPOOL_DIR,
                                                NULL),
                                 before, remove_stale, &sc);

    *n = sc.n;
    *bytes = sc.bytes;
    return rv;
}

/* ------------------------------------------------------------ results */

/* ------------------------------------------------------------ sweep */

typedef struct {
    apr_pool_t *bp;                 /* cleared after every batch */
    apr_array_header_t *batch;
    const char *pool;
    int staged;                     /* walking .staged/<pool> */
    pool_store_walk_fn *fn;
    void *baton;
} walk_ctx;

static apr_status_t walk_flush(walk_ctx *w)
{
    apr_status_t rv = APR_SUCCESS;

    if (w->batch->nelts) {
        rv = w->fn(w->baton, w->bp, w->pool, w->batch);
    }
    apr_pool_clear(w->bp);
    w->batch = apr_array_make(w->bp, 64, sizeof(pool_store_entry_t));
    return rv;
}

/* The id-named regular files of dir whose inode changed before `before`,
 * in batches; a missing dir is empty. */
static apr_status_t walk_dir(walk_ctx *w, apr_pool_t *p, const char *dir,
                             apr_time_t before)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_pool_t *ep;

    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&ep, p);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        pool_store_entry_t *e;
        struct stat st;

        apr_pool_clear(ep);
        if (!fi.name || !id_ok(fi.name)) {
            continue;
        }
        if (lstat(apr_pstrcat(ep, dir, "/", fi.name, NULL), &st) != 0
            || !S_ISREG(st.st_mode)
            || apr_time_from_sec(st.st_ctime) >= before) {
            continue;
        }
        e = apr_array_push(w->batch);
        e->id = apr_pstrdup(w->bp, fi.name);
        e->size = (apr_off_t)st.st_size;
        e->staged = w->staged;
        if (w->batch->nelts >= POOL_STORE_WALK_BATCH
            && (rv = walk_flush(w)) != APR_SUCCESS) {
            break;
        }
    }
    apr_dir_close(d);
    apr_pool_destroy(ep);
    if (rv == APR_SUCCESS) {
        rv = walk_flush(w);
    }
    return rv;
}

/* The shard directories <root>/<pool>/files/xx of one pool. */
static apr_status_t walk_pool(walk_ctx *w, apr_pool_t *p, const char *dir,
                              apr_time_t before)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_pool_t *sp;

    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&sp, p);
    while (rv == APR_SUCCESS
           && apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)
              == APR_SUCCESS) {
        apr_pool_clear(sp);
        if (!fi.name || fi.name[0] == '.' || fi.filetype != APR_DIR) {
            continue;
        }
        rv = walk_dir(w, sp, apr_pstrcat(sp, dir, "/", fi.name, NULL),
                      before);
    }
    apr_dir_close(d);
    apr_pool_destroy(sp);
    return rv;
}

/* Calls walk_one for every pool directory under dir (a pool name). */
static apr_status_t each_pool_dir(walk_ctx *w, apr_pool_t *p, const char *dir,
                                  const char *below, apr_time_t before)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_pool_t *pp;

    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&pp, p);
    while (rv == APR_SUCCESS
           && apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)
              == APR_SUCCESS) {
        const char *sub;

        apr_pool_clear(pp);
        /* pool directories only: .spool, .results, lost+found... are not */
        if (!fi.name || fi.filetype != APR_DIR || pool_ident_check(fi.name)) {
            continue;
        }
        w->pool = apr_pstrdup(pp, fi.name);
        sub = apr_pstrcat(pp, dir, "/", fi.name, below, NULL);
        rv = w->staged ? walk_dir(w, pp, sub, before)
                       : walk_pool(w, pp, sub, before);
    }
    apr_dir_close(d);
    apr_pool_destroy(pp);
    return rv;
}

static apr_status_t fs_committed_walk(pool_store_t *s, apr_pool_t *p,
                                      apr_time_t before,
                                      pool_store_walk_fn *fn, void *baton)
{
    walk_ctx w;
    apr_status_t rv;

    memset(&w, 0, sizeof(w));
    w.fn = fn;
    w.baton = baton;
    apr_pool_create(&w.bp, p);
    w.batch = apr_array_make(w.bp, 64, sizeof(pool_store_entry_t));
    rv = each_pool_dir(&w, p, s->root, "/files", before);
    if (rv == APR_SUCCESS) {
        w.staged = 1;
        rv = each_pool_dir(&w, p, apr_pstrcat(p, s->root, "/" STAGED_DIR,
                                              NULL), "", before);
        w.staged = 0;
    }
    if (rv == APR_SUCCESS) {
        w.pool = NULL;
        rv = walk_dir(&w, p, apr_pstrcat(p, s->root, "/" RESULT_DIR, NULL),
                      before);
    }
    apr_pool_destroy(w.bp);
    return rv;
}

static apr_status_t fs_lost_found(pool_store_t *s, apr_pool_t *p,
                                  const char *pool, const char *id,
                                  const char **moved_to)
{
    const char *from, *dir, *to;
    apr_status_t rv;

    if (!id_ok(id) || (pool && pool_ident_check(pool))) {
        return APR_EINVAL;
    }
    from = pool ? fs_local_path(s, p, pool, id) : result_path(s, p, id);
    dir = apr_pstrcat(p, s->root, "/" LOST_DIR "/", pool ? pool : RESULT_DIR,
                      NULL);
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return rv;
    }
    to = apr_pstrcat(p, dir, "/", id, NULL);
    if (rename(from, to) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if ((rv = sync_dir(dir)) != APR_SUCCESS) {
        pool_log(POOL_LOG_WARN, "fsync of %s failed", dir);
    }
    *moved_to = to;
    return APR_SUCCESS;
}

static const pool_store_ops_t fs_ops = {
    "filesystem",
    fs_check,
    fs_spool_open,
    fs_spool_write,
    fs_spool_stage,
    fs_spool_abort,
    fs_reveal,
    fs_remove,
    fs_open,
    fs_obj_file,
    fs_obj_read,
    fs_obj_close,
    fs_stat,
    fs_upload_open,
    fs_upload_write,
    fs_upload_truncate,
    fs_upload_sync,
    fs_upload_read,
    fs_upload_close,
    fs_upload_digest,
    fs_upload_to_spool,
    fs_upload_stage,
    fs_upload_remove,
    fs_upload_list_stale,
    fs_spool_sweep,
    fs_committed_walk,
    fs_lost_found
};

pool_store_t *pool_store_fs(apr_pool_t *p, const char *root)
{
    pool_store_t *s = apr_pcalloc(p, sizeof(*s));
    fs_priv *fp = apr_pcalloc(p, sizeof(*fp));
    apr_size_t n = strlen(root);

    while (n > 1 && root[n - 1] == '/') {
        n--;
    }

    s->ops = &fs_ops;
    s->root = apr_pstrmemdup(p, root, n);
    if (apr_pool_create(&fp->p, p) == APR_SUCCESS
        && apr_thread_mutex_create(&fp->lock, APR_THREAD_MUTEX_DEFAULT, p)
           == APR_SUCCESS) {
        fp->dirs = apr_hash_make(fp->p);
    }
    else {
        fp->lock = NULL;        /* each sync on its own */
    }
    s->priv = fp;
    return s;
}
