/* Download counts of each httpd child, written in batches (docs/api.md,
 * "Usage and quotas").
 *
 * A download is counted once its response is logged, from the bytes sent.
 * Writing each count in its own transaction cost as much CPU as the rest
 * of a small download (docs/benchmarks.md), so the log hook only adds the
 * bytes to this child's table, keyed by day, pool and client, and one
 * thread per child writes the table in one statement FLUSH_AFTER after
 * its oldest count (sooner when it holds BATCH_KEYS keys), and when the
 * child stops.  A count is written once or, if the database refuses it,
 * logged as not counted; while the database cannot be reached the counts
 * are kept (up to HELD_MAX keys) and written when it is back.  What a
 * child holds is lost only if the child itself dies (a crash, kill -9). */
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "mod_pool.h"
#include "pool_usage.h"

#define FLUSH_AFTER apr_time_from_sec(1)
#define BATCH_KEYS  256             /* a fuller table is written at once */
#define HELD_MAX    8192            /* keys kept while the database is down */
#define RETRY_AFTER apr_time_from_sec(5)
#define KEY_MAX     512             /* longer keys are counted on their own */

typedef struct {
    char *key;                      /* day NUL pool NUL client */
    pool_usage_download_t d;
} held_count;

struct pool_dlcount {
    server_rec *s;
    pool_dbpool *db;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;
    apr_thread_t *thread;
    apr_pool_t *held_p;             /* the table's keys and strings */
    apr_hash_t *held;               /* key -> held_count */
    apr_time_t oldest;              /* when the oldest held count came */
    apr_time_t retry_at;            /* the database was unreachable */
    int stop;
};

/* Adds a count to the table; the caller holds the lock.  0 when the table
 * is full or the key too long (the caller counts it on its own). */
static int hold(pool_dlcount *dc, const pool_usage_download_t *d)
{
    apr_size_t lp = strlen(d->pool), lc = d->client_id ? strlen(d->client_id)
                                                       : 0;
    apr_size_t klen = 11 + lp + 1 + lc + 1;
    char key[KEY_MAX];
    held_count *h;

    if (strlen(d->day) != 10 || klen > sizeof(key)) {
        return 0;
    }
    /* day NUL pool NUL client NUL: no part holds a NUL */
    memcpy(key, d->day, 11);
    memcpy(key + 11, d->pool, lp + 1);
    memcpy(key + 12 + lp, d->client_id ? d->client_id : "", lc + 1);
    h = apr_hash_get(dc->held, key, (apr_ssize_t)klen);
    if (h) {
        h->d.bytes += d->bytes;
        return 1;
    }
    if (apr_hash_count(dc->held) >= HELD_MAX) {
        return 0;
    }
    h = apr_palloc(dc->held_p, sizeof(*h));
    h->key = apr_pmemdup(dc->held_p, key, klen);
    h->d.day = h->key;
    h->d.pool = h->key + 11;
    h->d.client_id = d->client_id ? h->key + 12 + lp : NULL;
    h->d.bytes = d->bytes;
    apr_hash_set(dc->held, h->key, (apr_ssize_t)klen, h);
    if (!dc->oldest) {
        dc->oldest = apr_time_now();
    }
    return 1;
}

static void not_counted(server_rec *s, const pool_usage_download_t *d,
                        const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "pool: %" APR_INT64_T_FMT
                 " bytes downloaded from %s by %s on %s were not counted: %s",
                 d->bytes, d->pool, d->client_id ? d->client_id : "a link",
                 d->day, why);
}

typedef struct {
    pool_usage_download_t *d;
    int n, counted;
} flush_baton;

static pool_db_rc op_flush(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    flush_baton *fb = b;
    return pool_usage_downloads(p, c, fb->d, fb->n, &fb->counted, err);
}

/* Takes the table (the caller holds the lock): its counts copied into p,
 * the table emptied. */
static int take(pool_dlcount *dc, apr_pool_t *p, pool_usage_download_t **out)
{
    int n = (int)apr_hash_count(dc->held), i = 0;
    apr_hash_index_t *hi;

    *out = apr_palloc(p, sizeof(**out) * (apr_size_t)(n ? n : 1));
    for (hi = apr_hash_first(p, dc->held); hi; hi = apr_hash_next(hi)) {
        held_count *h = apr_hash_this_val(hi);

        (*out)[i].day = apr_pstrdup(p, h->d.day);
        (*out)[i].pool = apr_pstrdup(p, h->d.pool);
        (*out)[i].client_id = h->d.client_id ? apr_pstrdup(p, h->d.client_id)
                                             : NULL;
        (*out)[i].bytes = h->d.bytes;
        i++;
    }
    apr_pool_clear(dc->held_p);
    dc->held = apr_hash_make(dc->held_p);
    dc->oldest = 0;
    return n;
}

/* Writes n counts taken from the table (without the lock).  Counts the
 * database could not be asked about go back into the table. */
static void flush(pool_dlcount *dc, apr_pool_t *p, pool_usage_download_t *d,
                  int n)
{
    flush_baton fb = { d, n, 0 };
    const char *err = NULL;
    pool_db_rc rc = pool_dbpool_run(dc->db, p, op_flush, &fb, &err);
    int i;

    if (rc == POOL_DB_OK) {
        if (fb.counted < n) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, dc->s, "pool: %d "
                         "download counts were for pools that are gone",
                         n - fb.counted);
        }
        return;
    }
    if (rc != POOL_DB_UNAVAILABLE) {
        for (i = 0; i < n; i++) {
            not_counted(dc->s, &d[i], err ? err : "database error");
        }
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, dc->s, "pool: %d download "
                 "counts are held until the database answers: %s", n,
                 err ? err : "database unavailable");
    apr_thread_mutex_lock(dc->lock);
    for (i = 0; i < n; i++) {
        if (!hold(dc, &d[i])) {
            not_counted(dc->s, &d[i], "the database was unavailable and too "
                        "many counts were held");
        }
    }
    dc->retry_at = apr_time_now() + RETRY_AFTER;
    apr_thread_mutex_unlock(dc->lock);
}

/* The table is due: stopping, full, or its oldest count is old enough
 * (and the database is not being waited for). */
static int due(pool_dlcount *dc, apr_time_t now)
{
    if (!apr_hash_count(dc->held)) {
        return 0;
    }
    if (dc->stop) {
        return 1;
    }
    if (now < dc->retry_at) {
        return 0;
    }
    return apr_hash_count(dc->held) >= BATCH_KEYS
           || now - dc->oldest >= FLUSH_AFTER;
}

static void *APR_THREAD_FUNC writer(apr_thread_t *t, void *data)
{
    pool_dlcount *dc = data;
    apr_pool_t *p;

    apr_pool_create(&p, apr_thread_pool_get(t));
    apr_thread_mutex_lock(dc->lock);
    for (;;) {
        apr_time_t now = apr_time_now(), wait = FLUSH_AFTER;
        pool_usage_download_t *d;
        int n, last;

        if (due(dc, now)) {
            last = dc->stop;
            n = take(dc, p, &d);
            apr_thread_mutex_unlock(dc->lock);
            flush(dc, p, d, n);
            apr_pool_clear(p);
            apr_thread_mutex_lock(dc->lock);
            if (last) {
                break;              /* what failed now is logged, not held */
            }
            continue;
        }
        if (dc->stop) {
            break;
        }
        if (dc->oldest) {
            wait = now < dc->retry_at ? dc->retry_at - now
                                      : dc->oldest + FLUSH_AFTER - now;
        }
        apr_thread_cond_timedwait(dc->cond, dc->lock,
                                  wait > 0 ? wait : 1);
    }
    /* anything put back by the last write could not be written */
    if (apr_hash_count(dc->held)) {
        pool_usage_download_t *d;
        int i, n = take(dc, p, &d);

        for (i = 0; i < n; i++) {
            not_counted(dc->s, &d[i], "the child stopped while the database "
                        "was unavailable");
        }
    }
    apr_thread_mutex_unlock(dc->lock);
    apr_pool_destroy(p);
    return NULL;
}

/* A pre-cleanup of the child's pool: the writer writes what is held and
 * ends before the connection pool goes. */
static apr_status_t dlcount_stop(void *data)
{
    pool_dlcount *dc = data;
    apr_status_t rv;

    apr_thread_mutex_lock(dc->lock);
    dc->stop = 1;
    apr_thread_cond_signal(dc->cond);
    apr_thread_mutex_unlock(dc->lock);
    apr_thread_join(&rv, dc->thread);
    return APR_SUCCESS;
}

pool_dlcount *pool_dlcount_create(apr_pool_t *pchild, server_rec *s,
                                  pool_dbpool *db)
{
    pool_dlcount *dc = apr_pcalloc(pchild, sizeof(*dc));
    apr_status_t rv;

    dc->s = s;
    dc->db = db;
    if ((rv = apr_pool_create(&dc->held_p, pchild)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&dc->lock, APR_THREAD_MUTEX_DEFAULT,
                                         pchild)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&dc->cond, pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "download counts: cannot "
                     "set up; each download is counted on its own");
        return NULL;
    }
    dc->held = apr_hash_make(dc->held_p);
    if ((rv = apr_thread_create(&dc->thread, NULL, writer, dc, pchild))
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "download counts: cannot "
                     "start the writer thread; each download is counted on "
                     "its own");
        return NULL;
    }
    apr_pool_pre_cleanup_register(pchild, dc, dlcount_stop);
    return dc;
}

int pool_dlcount_add(pool_dlcount *dc, const pool_usage_download_t *d)
{
    int ok, wake;

    if (!dc) {
        return 0;
    }
    apr_thread_mutex_lock(dc->lock);
    ok = !dc->stop && hold(dc, d);
    wake = ok && due(dc, apr_time_now());
    if (wake) {
        apr_thread_cond_signal(dc->cond);
    }
    apr_thread_mutex_unlock(dc->lock);
    return ok;
}
