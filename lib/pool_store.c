/* What every store shares: choosing the store PoolStorage names, the
 * spool's size and digest, whole-object reads. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "pool_store_impl.h"
#include "pool_util.h"

pool_store_t *pool_store_create(apr_pool_t *p, const char *spec,
                                const char *credentials_file,
                                const char **err)
{
    if (!strncasecmp(spec, "http://", 7) || !strncasecmp(spec, "https://", 8)) {
        return pool_store_dav(p, spec, credentials_file, err);
    }
    if (credentials_file) {
        *err = "PoolStorageCredentials is only for a WebDAV store (an "
               "http:// or https:// PoolStorage)";
        return NULL;
    }
    return pool_store_fs(p, spec);
}

apr_status_t pool_spool_head_init(pool_spool_head_t *h, pool_store_t *s,
                                  apr_pool_t *p, apr_off_t limit)
{
    h->store = s;
    h->p = p;
    h->size = 0;
    h->limit = limit;
    h->digested = 0;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        pool_spool_head_free(h);
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

apr_status_t pool_spool_head_add(pool_spool_head_t *h, const void *buf,
                                 apr_size_t n)
{
    if (h->digested || !h->md) {
        return APR_EINVAL;
    }
    if (h->limit >= 0 && (apr_off_t)n > h->limit - h->size) {
        return POOL_STORE_TOOBIG;
    }
    if (n && EVP_DigestUpdate(h->md, buf, n) != 1) {
        return APR_EGENERAL;
    }
    h->size += (apr_off_t)n;
    return APR_SUCCESS;
}

void pool_spool_head_free(pool_spool_head_t *h)
{
    if (h->md) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
    }
}

apr_off_t pool_spool_size(const pool_spool_t *sp)
{
    return ((const pool_spool_head_t *)sp)->size;
}

void pool_spool_digest(pool_spool_t *sp, unsigned char sha256[32])
{
    pool_spool_head_t *h = (pool_spool_head_t *)sp;

    if (!h->digested) {
        unsigned int len = 0;

        if (h->writes_done) {
            h->writes_done(sp);
        }
        if (!h->md || EVP_DigestFinal_ex(h->md, h->digest, &len) != 1) {
            memset(h->digest, 0, sizeof(h->digest));
        }
        h->digested = 1;
    }
    memcpy(sha256, h->digest, 32);
}

apr_status_t pool_store_open_known(pool_store_t *s, apr_pool_t *p,
                                   const char *pool, const char *id,
                                   apr_off_t size, apr_time_t mtime,
                                   int sendfile, pool_store_obj_t **out)
{
    if (s->ops->open_known) {
        return s->ops->open_known(s, p, pool, id, size, mtime, out);
    }
    return s->ops->open(s, p, pool, id, sendfile, out);
}

apr_status_t pool_store_read_all(pool_store_t *s, apr_pool_t *p,
                                 const char *pool, const char *id,
                                 pool_store_sink_fn *fn, void *baton)
{
    pool_store_obj_t *o;
    apr_status_t rv = s->ops->open(s, p, pool, id, 0, &o);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = s->ops->obj_read(o, 0, o->size, fn, baton);
    s->ops->obj_close(o);
    return rv;
}

const char *pool_store_errstr(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    switch (rv) {
    case POOL_STORE_TOOBIG:
        return "larger than the limit";
    case POOL_STORE_FULL:
        return "the store is full";
    case POOL_STORE_UNAVAILABLE:
        return "the store is unavailable";
    default:
        return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
    }
}

apr_status_t pool_store_digest_sink(void *md, const char *buf, apr_size_t n)
{
    return EVP_DigestUpdate(md, buf, n) == 1 ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t pool_store_spool_sink(void *sp, const char *buf, apr_size_t n)
{
    pool_spool_t *s = sp;

    return ((pool_spool_head_t *)s)->store->ops->spool_write(s, buf, n);
}
