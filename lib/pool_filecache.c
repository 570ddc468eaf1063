/* pool_filecache.h: direct-mapped slots, striped locks, malloc'd entries. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "pool_filecache.h"

#define STRIPES 64

typedef struct {
    pool_file_t f;              /* strings point into the same block */
    apr_time_t expires;
} entry;

struct pool_filecache_t {
    int slots;
    apr_interval_time_t ttl;
    entry **e;
    apr_thread_mutex_t *lock[STRIPES];
};

static apr_status_t cache_free(void *data)
{
    pool_filecache_t *fc = data;
    int i;

    for (i = 0; i < fc->slots; i++) {
        free(fc->e[i]);
        fc->e[i] = NULL;
    }
    free(fc->e);
    fc->e = NULL;
    return APR_SUCCESS;
}

pool_filecache_t *pool_filecache_create(apr_pool_t *p, int slots,
                                        apr_interval_time_t ttl)
{
    pool_filecache_t *fc;
    int i;

    if (slots <= 0) {
        return NULL;
    }
    fc = apr_pcalloc(p, sizeof(*fc));
    fc->slots = slots;
    fc->ttl = ttl;
    fc->e = calloc((size_t)slots, sizeof(entry *));
    if (!fc->e) {
        return NULL;
    }
    for (i = 0; i < STRIPES; i++) {
        if (apr_thread_mutex_create(&fc->lock[i], APR_THREAD_MUTEX_DEFAULT, p)
            != APR_SUCCESS) {
            free(fc->e);
            return NULL;
        }
    }
    apr_pool_cleanup_register(p, fc, cache_free, apr_pool_cleanup_null);
    return fc;
}

/* The slot of an id (uuids are random: their bytes are a fine hash). */
static int slot_of(const pool_filecache_t *fc, const char *id)
{
    unsigned long h = 5381;

    while (*id) {
        h = h * 33 + (unsigned char)*id++;
    }
    return (int)(h % (unsigned long)fc->slots);
}

static int same(const entry *e, const char *pool, const char *id)
{
    return e && !strcmp(e->f.id, id) && !strcmp(e->f.pool, pool);
}

static apr_size_t len0(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copies s to *at (when not NULL) and moves *at on. */
static const char *put_str(char **at, const char *s)
{
    char *d;

    if (!s) {
        return NULL;
    }
    d = *at;
    memcpy(d, s, strlen(s) + 1);
    *at += strlen(s) + 1;
    return d;
}

static entry *entry_new(const pool_file_t *f, apr_time_t expires)
{
    apr_size_t n = sizeof(entry) + len0(f->id) + len0(f->pool)
                   + len0(f->client_id) + len0(f->name) + len0(f->sha256)
                   + len0(f->content_type) + len0(f->received_at);
    entry *e = malloc(n);
    char *at;

    if (!e) {
        return NULL;
    }
    at = (char *)(e + 1);
    e->f = *f;
    e->f.id = put_str(&at, f->id);
    e->f.pool = put_str(&at, f->pool);
    e->f.client_id = put_str(&at, f->client_id);
    e->f.name = put_str(&at, f->name);
    e->f.sha256 = put_str(&at, f->sha256);
    e->f.content_type = put_str(&at, f->content_type);
    e->f.received_at = put_str(&at, f->received_at);
    e->expires = expires;
    return e;
}

int pool_filecache_get(pool_filecache_t *fc, apr_pool_t *p, const char *pool,
                       const char *id, pool_file_t **out)
{
    int i, hit = 0;
    apr_thread_mutex_t *lk;
    entry *e;

    if (!fc || !pool || !id) {
        return 0;
    }
    i = slot_of(fc, id);
    lk = fc->lock[i % STRIPES];
    apr_thread_mutex_lock(lk);
    e = fc->e[i];
    if (same(e, pool, id) && e->expires > apr_time_now()) {
        pool_file_t *f = apr_palloc(p, sizeof(*f));

        *f = e->f;
        f->id = apr_pstrdup(p, e->f.id);
        f->pool = apr_pstrdup(p, e->f.pool);
        f->client_id = apr_pstrdup(p, e->f.client_id);
        f->name = apr_pstrdup(p, e->f.name);
        f->sha256 = apr_pstrdup(p, e->f.sha256);
        f->content_type = apr_pstrdup(p, e->f.content_type);
        f->received_at = apr_pstrdup(p, e->f.received_at);
        *out = f;
        hit = 1;
    }
    apr_thread_mutex_unlock(lk);
    return hit;
}

void pool_filecache_put(pool_filecache_t *fc, const pool_file_t *f)
{
    entry *e, *old;
    int i;

    if (!fc || !f->id || !f->pool) {
        return;
    }
    e = entry_new(f, apr_time_now() + fc->ttl);
    if (!e) {
        return;
    }
    i = slot_of(fc, f->id);
    apr_thread_mutex_lock(fc->lock[i % STRIPES]);
    old = fc->e[i];
    fc->e[i] = e;
    apr_thread_mutex_unlock(fc->lock[i % STRIPES]);
    free(old);
}

void pool_filecache_drop(pool_filecache_t *fc, const char *pool,
                         const char *id)
{
    entry *old = NULL;
    int i;

    if (!fc || !pool || !id) {
        return;
    }
    i = slot_of(fc, id);
    apr_thread_mutex_lock(fc->lock[i % STRIPES]);
    if (same(fc->e[i], pool, id)) {
        old = fc->e[i];
        fc->e[i] = NULL;
    }
    apr_thread_mutex_unlock(fc->lock[i % STRIPES]);
    free(old);
}
