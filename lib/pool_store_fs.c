/* Filesystem store: spool in <root>/.spool, commit by fsync + rename into
 * <root>/<pool>/files/<id[0..1]>/<id> + fsync of the directory. */
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

#include <apr_strings.h>
#include <apr_file_info.h>
#include <openssl/evp.h>

#include "pool_store.h"
#include "pool_log.h"

struct pool_spool_t {
    pool_store_t *store;
    apr_pool_t *p;
    apr_file_t *fd;
    char *path;
    apr_off_t size;
    apr_off_t limit;
    EVP_MD_CTX *md;
    int finished;               /* committed or aborted */
    int digested;
    unsigned char digest[32];
};

#define SPOOL_DIR ".spool"

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

static apr_status_t fs_check(pool_store_t *s, apr_pool_t *p, const char **err)
{
    apr_finfo_t fi;
    apr_status_t rv;
    const char *spool = apr_pstrcat(p, s->root, "/" SPOOL_DIR, NULL);

    rv = apr_stat(&fi, s->root, APR_FINFO_TYPE, p);
    if (rv != APR_SUCCESS || fi.filetype != APR_DIR) {
        *err = apr_psprintf(p, "storage root %s is not a directory", s->root);
        return rv != APR_SUCCESS ? rv : APR_ENOTDIR;
    }
    rv = apr_dir_make(spool, APR_FPROT_OS_DEFAULT & 0750, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        char buf[256];
        *err = apr_psprintf(p, "cannot create spool directory %s: %s", spool,
                            apr_strerror(rv, buf, sizeof(buf)));
        return rv;
    }
    if (access(spool, W_OK) != 0) {
        *err = apr_psprintf(p, "spool directory %s is not writable by this user",
                            spool);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

static apr_status_t spool_cleanup(void *data)
{
    pool_spool_t *sp = data;

    if (!sp->finished) {
        sp->finished = 1;
        if (sp->fd) {
            apr_file_close(sp->fd);
            sp->fd = NULL;
        }
        unlink(sp->path);
    }
    if (sp->md) {
        EVP_MD_CTX_free(sp->md);
        sp->md = NULL;
    }
    return APR_SUCCESS;
}

static apr_status_t fs_spool_open(pool_store_t *s, apr_pool_t *p,
                                  apr_off_t limit, pool_spool_t **out)
{
    pool_spool_t *sp = apr_pcalloc(p, sizeof(*sp));
    apr_status_t rv;

    sp->store = s;
    sp->p = p;
    sp->limit = limit;
    sp->path = apr_pstrcat(p, s->root, "/" SPOOL_DIR "/upXXXXXX", NULL);
    sp->md = EVP_MD_CTX_new();
    if (!sp->md || EVP_DigestInit_ex(sp->md, EVP_sha256(), NULL) != 1) {
        if (sp->md) {
            EVP_MD_CTX_free(sp->md);
        }
        return APR_ENOMEM;
    }
    rv = apr_file_mktemp(&sp->fd, sp->path,
                         APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                         | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS) {
        EVP_MD_CTX_free(sp->md);
        return rv;
    }
    apr_pool_cleanup_register(p, sp, spool_cleanup, apr_pool_cleanup_null);
    *out = sp;
    return APR_SUCCESS;
}

static apr_status_t fs_spool_write(pool_spool_t *sp, const void *buf,
                                   apr_size_t n)
{
    apr_size_t written;

    if (sp->finished || sp->digested) {
        return APR_EINVAL;
    }
    if (sp->limit >= 0 && (apr_off_t)n > sp->limit - sp->size) {
        return POOL_STORE_TOOBIG;
    }
    if (n == 0) {
        return APR_SUCCESS;
    }
    EVP_DigestUpdate(sp->md, buf, n);
    sp->size += (apr_off_t)n;
    return apr_file_write_full(sp->fd, buf, n, &written);
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

static apr_status_t fs_spool_commit(pool_spool_t *sp, const char *pool,
                                    const char *id)
{
    pool_store_t *s = sp->store;
    const char *dir, *final;
    apr_status_t rv;

    if (sp->finished) {
        return APR_EINVAL;
    }
    if ((rv = apr_file_sync(sp->fd)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_close(sp->fd);
    sp->fd = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_file_perms_set(sp->path, APR_FPROT_UREAD | APR_FPROT_UWRITE
                       | APR_FPROT_GREAD);
    dir = fs_dir(s, sp->p, pool, id);
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                | APR_FPROT_GEXECUTE, sp->p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return rv;
    }
    final = apr_pstrcat(sp->p, dir, "/", id, NULL);
    /* link(2) refuses to replace an existing file, unlike rename(2):
     * an id is never reused, so an existing target is an error. */
    if (link(sp->path, final) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    unlink(sp->path);
    sp->finished = 1;
    if ((rv = sync_dir(dir)) != APR_SUCCESS) {
        pool_log(POOL_LOG_WARN, "fsync of %s failed", dir);
    }
    sync_dir(apr_pstrcat(sp->p, s->root, "/" SPOOL_DIR, NULL));
    return APR_SUCCESS;
}

static void fs_spool_abort(pool_spool_t *sp)
{
    spool_cleanup(sp);
}

static apr_status_t fs_remove(pool_store_t *s, apr_pool_t *p, const char *pool,
                              const char *id)
{
    return apr_file_remove(fs_local_path(s, p, pool, id), p);
}

static const pool_store_ops_t fs_ops = {
    "filesystem",
    fs_check,
    fs_spool_open,
    fs_spool_write,
    fs_spool_commit,
    fs_spool_abort,
    fs_local_path,
    fs_remove
};

pool_store_t *pool_store_fs(apr_pool_t *p, const char *root)
{
    pool_store_t *s = apr_pcalloc(p, sizeof(*s));
    apr_size_t n = strlen(root);

    while (n > 1 && root[n - 1] == '/') {
        n--;
    }
    s->ops = &fs_ops;
    s->root = apr_pstrmemdup(p, root, n);
    return s;
}

apr_off_t pool_spool_size(const pool_spool_t *sp)
{
    return sp->size;
}

void pool_spool_digest(pool_spool_t *sp, unsigned char sha256[32])
{
    if (!sp->digested) {
        unsigned int len = 0;
        EVP_DigestFinal_ex(sp->md, sp->digest, &len);
        sp->digested = 1;
    }
    memcpy(sha256, sp->digest, 32);
}
