/* Usage over HTTP, and the part of metering only the module can do
 * (docs/api.md, "Usage and quotas"):
 *
 *   GET .../pools/{pool}/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&by=day|client
 *       (admins) the pool's counts, exact at the time of asking
 *
 * Downloads are counted after the response, from the bytes sent
 * (pool_usage_log; held and written by pool_dlcount.c), and refused with
 * 429 once a pool has downloaded its max_monthly_download_bytes
 * (pool_usage_download_check).  The SQL lives in
 * lib/pool_usage.c. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <http_protocol.h>

#include "mod_pool.h"
#include "pool_usage.h"
#include "pool_name.h"

#define NOTE_POOL     "pool-download-pool"
#define NOTE_CLIENT   "pool-download-client"
#define QUOTA_SLOTS   64
#define QUOTA_TTL     apr_time_from_sec(5)

/* What each child knows of pools' download quotas, for QUOTA_TTL: the
 * check costs a query, and a download is not worth one.  Downloads that
 * start within that time may take a pool past its quota. */
typedef struct {
    char pool[64];
    apr_int64_t left, reset_in;
    apr_time_t checked;
} quota_slot;

static quota_slot slots[QUOTA_SLOTS];
#if APR_HAS_THREADS
static apr_thread_mutex_t *slots_mutex;
#endif

void pool_usage_child_init(apr_pool_t *pchild)
{
#if APR_HAS_THREADS
    apr_thread_mutex_create(&slots_mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
#endif
}

static void slots_lock(int on)
{
#if APR_HAS_THREADS
    if (slots_mutex) {
        if (on) {
            apr_thread_mutex_lock(slots_mutex);
        }
        else {
            apr_thread_mutex_unlock(slots_mutex);
        }
    }
#endif
}

typedef struct {
    const char *pool, *from, *to, *by;
    apr_int64_t left, reset_in;
    json_t *report;
} usage_baton;

static pool_db_rc op_left(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    usage_baton *ub = b;
    return pool_usage_download_left(p, c, ub->pool, &ub->left, &ub->reset_in,
                                    err);
}

static pool_db_rc op_count(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    pool_usage_download_t *dl = b;
    int counted;
    pool_db_rc rc = pool_usage_downloads(p, c, dl, 1, &counted, err);

    if (rc == POOL_DB_OK && !counted) {
        *err = "no such pool";
        return POOL_DB_NOTFOUND;
    }
    return rc;
}

static pool_db_rc op_report(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    usage_baton *ub = b;
    return pool_usage_report(p, c, ub->pool, ub->from, ub->to, ub->by,
                             &ub->report, err);
}

int pool_usage_download_check(request_rec *r, const char *pool)
{
    apr_ssize_t klen = APR_HASH_KEY_STRING;
    apr_time_t now = apr_time_now();
    quota_slot *sl;
    usage_baton ub;
    const char *err;
    int known;

    if (!pool || r->header_only || strlen(pool) >= sizeof(sl->pool)) {
        return DECLINED;
    }
    sl = &slots[apr_hashfunc_default(pool, &klen) % QUOTA_SLOTS];
    memset(&ub, 0, sizeof(ub));
    ub.pool = pool;
    slots_lock(1);
    known = !strcmp(sl->pool, pool) && now - sl->checked < QUOTA_TTL;
    if (known) {
        ub.left = sl->left;
        ub.reset_in = sl->reset_in - apr_time_sec(now - sl->checked);
    }
    slots_lock(0);
    if (!known) {
        if (pool_db_run(r, op_left, &ub, &err) != POOL_DB_OK) {
            return DECLINED;    /* the download itself will tell */
        }
        slots_lock(1);
        apr_cpystrn(sl->pool, pool, sizeof(sl->pool));
        sl->left = ub.left;
        sl->reset_in = ub.reset_in;
        sl->checked = now;
        slots_lock(0);
    }
    if (ub.left != 0) {
        return DECLINED;        /* -1: no quota */
    }
    apr_table_setn(r->err_headers_out, "Retry-After", apr_psprintf(r->pool,
                   "%" APR_INT64_T_FMT, ub.reset_in > 0 ? ub.reset_in : 1));
    return pool_problem(r, HTTP_TOO_MANY_REQUESTS, "the pool has downloaded "
                        "its max_monthly_download_bytes this month; "
                        "downloads start again next month (UTC)", NULL);
}

void pool_usage_note_download(request_rec *r, const char *pool)
{
    request_rec *mr = r->main ? r->main : r;
    /* the authenticated client (API and WebDAV set r->user to its id);
     * none for a signed link: the pool's own */
    const char *client = mr->user;

    if (!pool || r->header_only) {
        return;
    }
    apr_table_setn(mr->notes, NOTE_POOL, apr_pstrdup(mr->pool, pool));
    if (client) {
        apr_table_setn(mr->notes, NOTE_CLIENT, apr_pstrdup(mr->pool, client));
    }
}

/* The UTC day of t, YYYY-MM-DD (or the first of its month). */
static const char *day_of(apr_pool_t *p, apr_time_t t, int first_of_month)
{
    apr_time_exp_t e;

    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02d", e.tm_year + 1900, e.tm_mon + 1,
                        first_of_month ? 1 : e.tm_mday);
}

int pool_usage_log(request_rec *r)
{
    const char *pool = apr_table_get(r->notes, NOTE_POOL), *err;
    pool_usage_download_t dl;

    if (!pool) {
        return DECLINED;
    }
    /* logged once the response is written: r->bytes_sent is the body
     * sent, unless the client went away before its end (not counted) */
    if (r->connection->aborted || r->bytes_sent <= 0
        || (r->status != HTTP_OK && r->status != HTTP_PARTIAL_CONTENT)) {
        return DECLINED;        /* 304 and errors carry no file */
    }
    dl.pool = pool;
    dl.client_id = apr_table_get(r->notes, NOTE_CLIENT);
    dl.day = day_of(r->pool, r->request_time, 0);
    dl.bytes = r->bytes_sent;
    /* held by the child and written within a second (pool_dlcount.c);
     * counted here only when the child's table cannot take it */
    if (pool_dlcount_add(pool_srv(r->server)->dlcount, &dl)) {
        return DECLINED;
    }
    if (pool_db_run(r, op_count, &dl, &err) != POOL_DB_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "pool: a download of %"
                      APR_INT64_T_FMT " bytes from %s was not counted: %s",
                      dl.bytes, pool, err ? err : "?");
    }
    return DECLINED;
}

int pool_handle_usage(request_rec *r, pool_principal *who, const char *pool)
{
    usage_baton ub;
    apr_table_t *args;
    const char *err, *why;
    pool_db_rc rc;

    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "usage is read with "
                            "GET", NULL);
    }
    if (!who->client_id || strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, "only a pool's admins read "
                            "its usage", NULL);
    }
    if (pool_query(r, &args) != OK) {
        return OK;              /* refused, answered */
    }
    memset(&ub, 0, sizeof(ub));
    ub.pool = pool;
    ub.from = apr_table_get(args, "from");
    ub.to = apr_table_get(args, "to");
    ub.by = apr_table_get(args, "by");
    if (ub.from && (why = pool_usage_day_check(ub.from)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_pstrcat(r->pool, "from: ", why, NULL), "from");
    }
    if (ub.to && (why = pool_usage_day_check(ub.to)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_pstrcat(r->pool, "to: ", why, NULL), "to");
    }
    if (ub.by && strcmp(ub.by, "day") && strcmp(ub.by, "client")) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "by: must be day or "
                            "client", "by");
    }
    ub.from = ub.from ? ub.from : day_of(r->pool, apr_time_now(), 1);
    ub.to = ub.to ? ub.to : day_of(r->pool, apr_time_now(), 0);
    ub.by = ub.by ? ub.by : "day";
    if (strcmp(ub.from, ub.to) > 0) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "from: must not be "
                            "after to", "from");
    }
    rc = pool_db_run(r, op_report, &ub, &err);
    if (rc == POOL_DB_ERROR && err && strstr(err, "date")) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "from and to must "
                            "be days of the calendar", "from");
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, ub.report);
}
