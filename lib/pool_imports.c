/* Imports (upload by URL): queueing, process records, and the fetch step.
 *
 * The fetch step claims one due import at a time with FOR UPDATE SKIP
 * LOCKED and a lease (locked_until = now + PoolImportTimeout + 60 s), so any
 * number of poolctl processes may run it at once.  The download streams into
 * a spool file (SHA-256 on the fly, PoolMaxFileSize enforced while
 * streaming), is committed like a direct upload, and the file row, the
 * import's state and its process record are written in one transaction that
 * only succeeds while this runner still holds the lease. */
#include <string.h>

#include <apr_strings.h>

#include "pool_endpoints.h"
#include "pool_imports.h"
#include "pool_ingest.h"
#include "pool_steps.h"
#include "pool_fields.h"
#include "pool_http.h"
#include "pool_json.h"
#include "pool_log.h"
#include "pool_util.h"
#include "pool_name.h"
#include "pool_ts.h"
#include "pool_webhook.h"

#define MAX_REDIRECTS   5
#define DISCARD_MAX     (64 * 1024)     /* body bytes read of a non-2xx */
#define LEASE_SLACK     60              /* seconds beyond the timeout */
#define STALL_TIME      30              /* seconds without a byte */
#define USER_AGENT      "mod_pool-import/1"

/* ------------------------------------------------------------------ URLs */

const char *pool_url_check(apr_pool_t *p, const char *url)
{
    /* what any outbound request accepts (pool_http.c) */
    return pool_http_url_check(p, url);
}

/* ------------------------------------------------------- create and read */

pool_db_rc pool_import_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, const char *url,
                              const char *name, const char *folder,
                              apr_time_t ts, const char *callback_url,
                              const char **process_id, const char **err)
{
    const char *id = pool_uuid(p);
    const char *params[8];
    PGresult *res;
    pool_db_rc rc;

    if (!id) {
        *err = "no randomness for an id";
        return POOL_DB_ERROR;
    }
    params[0] = id;
    params[1] = pool;
    params[2] = client_id;
    params[3] = url;
    params[4] = name;
    params[5] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)ts);
    params[6] = callback_url;
    params[7] = folder;
    rc = pool_db_exec(p, c, "create import",
        "WITH target AS ("
        "  SELECT p.id AS pool_id, c.id AS client_id FROM pools p"
        "  JOIN clients c ON c.pool_id = p.id"
        "  WHERE p.name = $2 AND c.client_id = $3 AND c.disabled_at IS NULL),"
        " pr AS ("
        "  INSERT INTO processes (id, pool_id, client_id, kind, status, percent,"
        "                        message)"
        "  SELECT $1::uuid, pool_id, client_id, 'import', 0, 0, 'queued'"
        "  FROM target RETURNING id, pool_id, client_id)"
        " INSERT INTO imports (process_id, pool_id, client_id, url, name, ts,"
        "                      callback_url, folder)"
        " SELECT id, pool_id, client_id, $4, $5,"
        "        'epoch'::timestamptz + $6::bigint * interval '1 microsecond',"
        "        $7, $8"
        " FROM pr RETURNING process_id::text",
        8, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    *process_id = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_process_get(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *id, json_t **out, const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;
    json_t *j, *result = NULL;

    if (!pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
    params[1] = pool;
    rc = pool_db_exec(p, c, "read process",
        "SELECT pr.id::text, pr.kind, pr.status, pr.percent, pr.message,"
        "       pr.result::text,"
        "       (extract(epoch FROM pr.created_at) * 1000000)::bigint,"
        "       (extract(epoch FROM pr.updated_at) * 1000000)::bigint"
        " FROM processes pr JOIN pools p ON p.id = pr.pool_id"
        " WHERE pr.id = $1::uuid AND p.name = $2",
        2, params, 8, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    if (!PQgetisnull(res, 0, 5)) {
        result = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
    }
    j = json_object();
    json_object_set_new(j, "id", json_string(PQgetvalue(res, 0, 0)));
    json_object_set_new(j, "kind", json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(j, "status", json_integer(atoi(PQgetvalue(res, 0, 2))));
    json_object_set_new(j, "percent", PQgetisnull(res, 0, 3) ? json_null()
                        : json_integer(atoi(PQgetvalue(res, 0, 3))));
    json_object_set_new(j, "message", PQgetisnull(res, 0, 4) ? json_null()
                        : json_string(PQgetvalue(res, 0, 4)));
    json_object_set_new(j, "result", result ? result : json_null());
    json_object_set_new(j, "created_at", json_string(
        pool_ts_format(p, apr_atoi64(PQgetvalue(res, 0, 6)))));
    json_object_set_new(j, "updated_at", json_string(
        pool_ts_format(p, apr_atoi64(PQgetvalue(res, 0, 7)))));
    PQclear(res);
    *out = j;
    return POOL_DB_OK;
}

/* --------------------------------------------------------------- list */

/* What of an import's URL may be shown: scheme, host, port and path. */
static const char *url_shown(apr_pool_t *p, const char *url)
{
    pool_http_url_t u;

    if (pool_http_url_parse(p, url, &u) != APR_SUCCESS || !u.host) {
        return NULL;
    }
    return apr_pstrcat(p, u.scheme, "://", u.host, u.port ? ":" : "",
                       u.port ? u.port : "", u.path, NULL);
}

static json_t *import_json(apr_pool_t *p, const PGresult *r, int i)
{
    json_t *j = json_object(), *pr = json_object();

    json_object_set_new(j, "id", json_string(PQgetvalue(r, i, 0)));
    json_object_set_new(j, "client", json_string(PQgetvalue(r, i, 1)));
    json_object_set_new(j, "url", pool_json_str_or_null(
        url_shown(p, PQgetvalue(r, i, 2))));
    json_object_set_new(j, "name", pool_json_str_or_null(
        pool_db_col_str(p, r, i, 3)));
    json_object_set_new(j, "state", json_string(PQgetvalue(r, i, 4)));
    json_object_set_new(j, "attempts",
                        json_integer(pool_db_col_i64(r, i, 5)));
    json_object_set_new(j, "file_id", pool_json_str_or_null(
        pool_db_col_str(p, r, i, 6)));
    json_object_set_new(j, "last_error", pool_json_str_or_null(
        pool_db_col_str(p, r, i, 7)));
    json_object_set_new(j, "created_at", pool_json_str_or_null(
        pool_db_col_time(p, r, i, 8)));
    json_object_set_new(pr, "status", json_integer(pool_db_col_i64(r, i, 9)));
    json_object_set_new(pr, "percent", PQgetisnull(r, i, 10) ? json_null()
                        : json_integer(pool_db_col_i64(r, i, 10)));
    json_object_set_new(pr, "message", pool_json_str_or_null(
        pool_db_col_str(p, r, i, 11)));
    json_object_set_new(pr, "updated_at", pool_json_str_or_null(
        pool_db_col_time(p, r, i, 12)));
    json_object_set_new(j, "process", pr);
    return j;
}

/* NOTFOUND unless before is an import of pool. */
static pool_db_rc import_exists(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *id, const char **err)
{
    const char *params[2] = { pool, id };
    PGresult *res;
    pool_db_rc rc;
    int n;

    rc = pool_db_exec(p, c, "find import",
        "SELECT 1 FROM imports i JOIN pools p ON p.id = i.pool_id"
        " WHERE p.name = $1 AND i.process_id = $2::uuid",
        2, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    PQclear(res);
    return n ? POOL_DB_OK : POOL_DB_NOTFOUND;
}

pool_db_rc pool_import_list(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *client_id, const char *state,
                            const char *before, int limit, json_t **items,
                            const char **next, const char **err)
{
    const char *params[5];
    PGresult *res;
    pool_db_rc rc;
    int i, n;

    if (before) {
        rc = pool_uuid_valid(before) ? import_exists(p, c, pool, before, err)
                                     : POOL_DB_NOTFOUND;
        if (rc != POOL_DB_OK) {
            return rc;
        }
    }
    params[0] = pool;
    params[1] = client_id;
    params[2] = state;
    params[3] = before;
    params[4] = apr_itoa(p, limit + 1);     /* one more: is there a next? */
    /* keyset paging on (created_at, id), newest first */
    rc = pool_db_exec(p, c, "list imports",
        "SELECT i.process_id::text, c.client_id, i.url, i.name, i.state,"
        "  i.attempts, i.file_id::text, i.last_error,"
        "  " POOL_SQL_US("i.created_at") ", pr.status, pr.percent,"
        "  pr.message, " POOL_SQL_US("pr.updated_at")
        " FROM imports i JOIN pools p ON p.id = i.pool_id"
        " JOIN clients c ON c.id = i.client_id"
        " JOIN processes pr ON pr.id = i.process_id"
        " WHERE p.name = $1"
        " AND ($2::text IS NULL OR c.client_id = $2)"
        " AND ($3::text IS NULL OR i.state = $3)"
        " AND ($4::uuid IS NULL OR (i.created_at, i.process_id)"
        "      < (SELECT created_at, process_id FROM imports"
        "         WHERE process_id = $4::uuid))"
        " ORDER BY i.created_at DESC, i.process_id DESC LIMIT $5::int",
        5, params, 13, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    *items = json_array();
    for (i = 0; i < n && i < limit; i++) {
        json_array_append_new(*items, import_json(p, res, i));
    }
    *next = n > limit ? pool_db_col_str(p, res, limit - 1, 0) : NULL;
    PQclear(res);
    return POOL_DB_OK;
}

/* --------------------------------------------------------------- download */

typedef struct {
    pool_step_ctx_t *ctx;
    apr_pool_t *p;
    pool_spool_t *sp;
    const char *process_id;
    int too_big;
    int write_failed;
    apr_time_t last_progress;
    int last_percent;
} fetch_t;

/* A 2xx body (a redirect's or an error's never comes here). */
static apr_status_t write_body(void *ud, const char *data, apr_size_t n)
{
    fetch_t *f = ud;
    apr_status_t rv = f->ctx->store->ops->spool_write(f->sp, data, n);

    if (rv == POOL_STORE_TOOBIG) {
        f->too_big = 1;
    }
    else if (rv != APR_SUCCESS) {
        f->write_failed = 1;
    }
    return rv;
}

static int progress(void *ud, apr_off_t dltotal, apr_off_t dlnow,
                    apr_off_t ultotal, apr_off_t ulnow)
{
    fetch_t *f = ud;
    apr_time_t now = apr_time_now();
    int percent;

    if (dltotal <= 0 || now - f->last_progress < apr_time_from_sec(1)) {
        return 0;
    }
    percent = (int)(dlnow * 100 / dltotal);
    if (percent > 99) {
        percent = 99;
    }
    if (percent != f->last_percent) {
        const char *params[3];
        const char *err;
        params[0] = f->process_id;
        params[1] = apr_itoa(f->p, percent);
        params[2] = "downloading";
        /* best effort: a lost progress update is harmless */
        pool_db_exec0(f->p, f->ctx->db, "import progress",
                      "UPDATE processes SET percent = $2::int, message = $3,"
                      " updated_at = now() WHERE id = $1::uuid",
                      3, params, &err);
        f->last_percent = percent;
    }
    f->last_progress = now;
    return 0;
}

typedef enum { FETCH_OK, FETCH_RETRY, FETCH_FAIL } fetch_outcome;

/* What the exchange gave: the file in f->sp, or why not (in f->p). */
static fetch_outcome outcome(fetch_t *f, const pool_http_req_t *rq,
                             const char **why, const char **ctype)
{
    const pool_http_resp_t *resp = &rq->resp;
    int ok = resp->status >= 200 && resp->status <= 299;

    if (resp->err == POOL_HTTP_EDENIED) {
        *why = apr_pstrdup(f->p, resp->error);
        return FETCH_FAIL;
    }
    if (f->too_big || (resp->err == POOL_HTTP_ETOOLARGE && ok)) {
        *why = apr_psprintf(f->p, "the file is larger than the limit of %"
                            APR_OFF_T_FMT " bytes",
                            f->ctx->conf->max_file_size);
        return FETCH_FAIL;
    }
    if (f->write_failed) {
        *why = "cannot write to the spool";
        return FETCH_RETRY;
    }
    if (resp->err == POOL_HTTP_EREDIRECT) {
        *why = apr_pstrdup(f->p, resp->error);
        return FETCH_FAIL;
    }
    if (resp->err != POOL_HTTP_OK) {
        *why = apr_psprintf(f->p, "download failed: %s", resp->error);
        return resp->err == POOL_HTTP_EURL ? FETCH_FAIL : FETCH_RETRY;
    }
    if (ok) {
        const char *ct = apr_table_get(resp->headers, "Content-Type");
        *ctype = ct ? apr_pstrdup(f->p, ct) : NULL;
        return FETCH_OK;
    }
    *why = pool_http_why(f->p, resp);
    return (resp->status == 408 || resp->status == 429 || resp->status >= 500)
           ? FETCH_RETRY : FETCH_FAIL;
}

/* One GET into a spool, following redirects to the same host only. */
static fetch_outcome download(fetch_t *f, pool_http_t *http, const char *url,
                              const char **why, const char **ctype)
{
    const pool_conf_t *conf = f->ctx->conf;
    pool_http_req_t *rq;
    apr_pool_t *rp;
    fetch_outcome oc;
    apr_status_t rv;

    rv = f->ctx->store->ops->spool_open(f->ctx->store, f->p,
                                        conf->max_file_size, &f->sp);
    if (rv != APR_SUCCESS) {
        *why = "cannot open a spool file in PoolStorage";
        return FETCH_RETRY;
    }
    /* the request's memory (an error body) goes with this download */
    apr_pool_create(&rp, f->p);
    rq = pool_http_req_make(http, rp, "GET", url);
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    rq->max_redirects = MAX_REDIRECTS;
    rq->timeout.total = apr_time_from_sec(conf->import_timeout);
    rq->timeout.stall = apr_time_from_sec(conf->import_timeout < STALL_TIME
                                          ? conf->import_timeout : STALL_TIME);
    rq->timeout.stall_bytes = 1;
    rq->on_body = write_body;
    rq->body_baton = f;
    rq->body_max = conf->max_file_size;
    rq->error_body_max = DISCARD_MAX;
    rq->on_progress = progress;
    rq->progress_baton = f;
    pool_http_perform(rq);
    oc = outcome(f, rq, why, ctype);
    apr_pool_destroy(rp);
    return oc;
}

/* The file name: the import's, else the URL's last path segment. */
static const char *name_from_url(apr_pool_t *p, const char *url)
{
    pool_http_url_t u;
    const char *last, *dec;
    apr_size_t n = 0;

    if (pool_http_url_parse(p, url, &u) == APR_SUCCESS && u.path
        && (last = strrchr(u.path, '/')) != NULL && last[1]
        && (dec = pool_http_url_unescape(p, last + 1, &n)) != NULL
        && n > 0 && strlen(dec) == n && !pool_name_check(dec)) {
        return dec;
    }
    return "download";
}

/* ------------------------------------------------------------ the step */

typedef struct {
    const char *id, *url, *name, *callback_url, *pool, *client_id;
    const char *folder;         /* NULL: the client's own */
    apr_int64_t pool_pk;
    apr_time_t ts;
    int attempts;
} claimed_t;

static pool_db_rc claim(pool_step_ctx_t *ctx, claimed_t *cl, int *got,
                        const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;

    params[0] = ctx->owner;
    params[1] = apr_itoa(ctx->p, ctx->conf->import_timeout + LEASE_SLACK);
    rc = pool_db_exec(ctx->p, ctx->db, "claim import",
        "UPDATE imports i SET locked_until = now() + make_interval(secs => $2::int),"
        "       lock_owner = $1, attempts = i.attempts + 1"
        " FROM pools p, clients c"
        " WHERE i.process_id = ("
        "   SELECT process_id FROM imports WHERE state = 'queued'"
        "   AND next_attempt_at <= now()"
        "   AND (locked_until IS NULL OR locked_until < now())"
        "   ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " AND p.id = i.pool_id AND c.id = i.client_id"
        " RETURNING i.process_id::text, i.url, i.name,"
        "   (extract(epoch FROM i.ts) * 1000000)::bigint, i.callback_url,"
        "   i.attempts, p.name, c.client_id, i.folder, i.pool_id",
        2, params, 10, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *got = PQntuples(res) == 1;
    if (*got) {
        cl->id = apr_pstrdup(ctx->p, PQgetvalue(res, 0, 0));
        cl->url = apr_pstrdup(ctx->p, PQgetvalue(res, 0, 1));
        cl->name = PQgetisnull(res, 0, 2) ? NULL
                   : apr_pstrdup(ctx->p, PQgetvalue(res, 0, 2));
        cl->ts = apr_atoi64(PQgetvalue(res, 0, 3));
        cl->callback_url = PQgetisnull(res, 0, 4) ? NULL
                           : apr_pstrdup(ctx->p, PQgetvalue(res, 0, 4));
        cl->attempts = atoi(PQgetvalue(res, 0, 5));
        cl->pool = apr_pstrdup(ctx->p, PQgetvalue(res, 0, 6));
        cl->client_id = apr_pstrdup(ctx->p, PQgetvalue(res, 0, 7));
        cl->folder = PQgetisnull(res, 0, 8) ? NULL
                     : apr_pstrdup(ctx->p, PQgetvalue(res, 0, 8));
        cl->pool_pk = apr_atoi64(PQgetvalue(res, 0, 9));
    }
    PQclear(res);
    return POOL_DB_OK;
}

/* Backoff before attempt n+1: 30 s, 2 min, 8 min, 32 min, with jitter. */
static int backoff_seconds(int attempts)
{
    int base = 30, i;
    unsigned char r = 0;

    for (i = 1; i < attempts && base < 3600; i++) {
        base *= 4;
    }
    pool_random(&r, 1);
    return base + base * r / 1024;      /* up to +25% */
}

/* Queues the events of a finished import: import.completed or
 * import.failed, data = the process record, to the pool's endpoints and,
 * signed with the client's secret, to the import's callback_url when one
 * was asked for. */
static void queue_callback(pool_step_ctx_t *ctx, claimed_t *cl, int in_tx)
{
    json_t *pj = NULL;
    const char *err = NULL, *id, *body, *ignored;
    pool_db_rc rc;

    /* inside the import's transaction a failure here must not abort it */
    if (in_tx && pool_db_exec0(ctx->p, ctx->db, "savepoint", "SAVEPOINT cb",
                               0, NULL, &ignored) != POOL_DB_OK) {
        return;
    }
    rc = pool_process_get(ctx->p, ctx->db, cl->pool, cl->id, &pj, &err);
    if (rc == POOL_DB_OK) {
        json_t *status = json_object_get(pj, "status");
        const char *event = json_integer_value(status) == 1
                            ? "import.completed" : "import.failed";

        /* every event's data names its pool (filters on /data/pool) */
        json_object_set_new(pj, "pool", json_string(cl->pool));
        body = pool_json_dump(ctx->p, pj);
        json_decref(pj);
        rc = pool_event_emit(ctx->p, ctx->db, cl->pool_pk, event, body, 0,
                             NULL, 0, NULL, &err);
        if (rc == POOL_DB_OK && cl->callback_url) {
            rc = pool_delivery_enqueue(ctx->p, ctx->db, cl->pool,
                                       cl->client_id, cl->callback_url, NULL,
                                       event, body, &id, &err);
        }
    }
    if (rc != POOL_DB_OK) {
        pool_log(POOL_LOG_WARN, "import %s: its callback was not queued: %s",
                 cl->id, err ? err : "?");
    }
    if (in_tx) {
        pool_db_exec0(ctx->p, ctx->db, "savepoint",
                      rc == POOL_DB_OK ? "RELEASE SAVEPOINT cb"
                                       : "ROLLBACK TO SAVEPOINT cb",
                      0, NULL, &ignored);
    }
}

static pool_db_rc finish_failure(pool_step_ctx_t *ctx, claimed_t *cl,
                                 fetch_outcome oc, const char *why,
                                 const char **err)
{
    const char *params[4];
    pool_db_rc rc;

    params[0] = cl->id;
    params[1] = why;
    params[2] = ctx->owner;
    if (oc == FETCH_RETRY && cl->attempts < POOL_IMPORT_MAX_ATTEMPTS) {
        int wait = backoff_seconds(cl->attempts);
        params[3] = apr_itoa(ctx->p, wait);
        pool_log(POOL_LOG_INFO, "import %s: attempt %d failed (%s); retry in "
                 "%d s", cl->id, cl->attempts, why, wait);
        rc = pool_db_exec0(ctx->p, ctx->db, "reschedule import",
            "WITH i AS (UPDATE imports SET locked_until = NULL, lock_owner = NULL,"
            "   last_error = $2,"
            "   next_attempt_at = now() + make_interval(secs => $4::int)"
            "   WHERE process_id = $1::uuid AND lock_owner = $3"
            "   AND state = 'queued' RETURNING process_id)"
            " UPDATE processes SET percent = 0, updated_at = now(),"
            "   message = 'retrying after: ' || $2"
            " WHERE id IN (SELECT process_id FROM i)",
            4, params, err);
        return rc;
    }
    pool_log(POOL_LOG_NOTICE, "import %s failed: %s", cl->id, why);
    rc = pool_db_exec0(ctx->p, ctx->db, "fail import",
        "WITH i AS (UPDATE imports SET state = 'failed', locked_until = NULL,"
        "   lock_owner = NULL, last_error = $2"
        "   WHERE process_id = $1::uuid AND lock_owner = $3 AND state = 'queued'"
        "   RETURNING process_id)"
        " UPDATE processes SET status = 2, updated_at = now(), message = $2"
        " WHERE id IN (SELECT process_id FROM i)",
        3, params, err);
    if (rc == POOL_DB_OK) {
        queue_callback(ctx, cl, 0);
    }
    return rc;
}

typedef struct {
    pool_step_ctx_t *ctx;
    claimed_t *cl;
    pool_file_t *in;
    pool_file_t *out;
    pool_db_rc refused_rc;      /* the record's outcome when it failed */
} import_rec;

static void import_refused(void *b, apr_pool_t *p, pool_db_rc rc,
                           const char *err, pool_problem_t *pr)
{
    import_rec *ir = b;

    ir->refused_rc = rc;
    pool_problem_db(p, pr, rc, err, "file");
    if (rc == POOL_DB_REFUSED || rc == POOL_DB_CONFLICT
        || rc == POOL_DB_CLASH) {
        pr->detail = err;
    }
}

/* The file row, the import done and its callback queued: one transaction. */
static pool_db_rc op_import_record(apr_pool_t *p, PGconn *c, void *b,
                                   const char **err)
{
    import_rec *ir = b;
    const char *params[4];
    PGresult *res;
    json_t *fj;
    pool_db_rc rc;

    rc = pool_db_exec0(p, c, "begin", "BEGIN", 0, NULL, err);
    if (rc == POOL_DB_OK) {
        rc = pool_db_file_insert(p, c, ir->in, &ir->out, err);
    }
    if (rc == POOL_DB_OK) {
        fj = pool_json_file(p, ir->out);
        params[0] = ir->cl->id;
        params[1] = ir->out->id;
        params[2] = ir->ctx->owner;
        params[3] = pool_json_dump(p, fj);
        json_decref(fj);
        rc = pool_db_exec(p, c, "complete import",
            "WITH i AS (UPDATE imports SET state = 'done', file_id = $2::uuid,"
            "   locked_until = NULL, lock_owner = NULL, last_error = NULL"
            "   WHERE process_id = $1::uuid AND lock_owner = $3"
            "   AND state = 'queued' RETURNING process_id)"
            " UPDATE processes SET status = 1, percent = 100, message = 'done',"
            "   result = $4::jsonb, updated_at = now()"
            " WHERE id IN (SELECT process_id FROM i) RETURNING id",
            4, params, 1, &res, err);
        if (rc == POOL_DB_OK) {
            if (PQntuples(res) != 1) {
                *err = "the lease on the import was lost";
                rc = POOL_DB_CONFLICT;
            }
            PQclear(res);
        }
    }
    if (rc == POOL_DB_OK) {
        /* in the same transaction: a stored import always has its callback */
        queue_callback(ir->ctx, ir->cl, 1);
        rc = pool_db_exec0(p, c, "commit", "COMMIT", 0, NULL, err);
    }
    return rc == POOL_DB_OK ? rc : pool_db_rollback(p, c, rc);
}

static pool_db_rc op_import_found(apr_pool_t *p, PGconn *c, void *b,
                                  const char **err)
{
    import_rec *ir = b;
    return pool_db_file_get(p, c, ir->in->pool, ir->in->id, &ir->out, err);
}

static pool_db_rc finish_success(pool_step_ctx_t *ctx, fetch_t *f,
                                 claimed_t *cl, const char *ctype,
                                 const char **err)
{
    pool_file_fields_t fields;
    pool_file_t in;
    pool_db_direct_t direct;
    pool_ingest_t ing;
    pool_ingest_item_t *it;
    pool_problem_t pr;
    import_rec ir;
    const char *field, *why;
    const char *name = cl->name ? cl->name : name_from_url(ctx->p, cl->url);

    /* the stored type: the server's when it is a sane one */
    if (!ctype || pool_ctype_check(ctype)) {
        ctype = NULL;
    }
    why = pool_fields_check(ctx->p, name, strlen(name), NULL, ctype, &fields,
                            &field);
    if (why) {
        ctx->store->ops->spool_abort(f->sp);
        return finish_failure(ctx, cl, FETCH_FAIL, why, err);
    }
    memset(&ing, 0, sizeof(ing));
    direct.p = ctx->p;
    direct.c = ctx->db;
    ing.store = ctx->store;
    ing.run = pool_db_run_direct;
    ing.run_ctx = &direct;
    ing.items = apr_array_make(ctx->p, 1, sizeof(pool_ingest_item_t *));
    it = pool_ingest_add(ctx->p, &ing, cl->pool, pool_uuid(ctx->p), f->sp,
                         "file");
    f->sp = NULL;
    pool_ingest_prepare(ctx->p, &ing, &pr);     /* a spool: cannot fail */

    memset(&in, 0, sizeof(in));
    in.id = it->id;
    in.pool = cl->pool;
    in.client_id = cl->client_id;
    in.name = fields.name;
    in.size = it->size;
    in.sha256 = it->sha256_hex;
    in.content_type = fields.content_type;
    in.ts = cl->ts;
    in.folder = cl->folder;
    ir.ctx = ctx;
    ir.cl = cl;
    ir.in = &in;
    ir.out = NULL;
    ing.record = op_import_record;
    ing.lookup = op_import_found;
    ing.baton = &ir;
    ing.refused = import_refused;
    ir.refused_rc = POOL_DB_OK;
    if (!pool_ingest_commit(ctx->p, &ing, &pr)) {
        if (pr.log) {
            pool_log(POOL_LOG_WARN, "import %s: %s", cl->id, pr.log);
        }
        switch (ir.refused_rc) {
        case POOL_DB_OK:        /* not the record: the store, or unknown */
            if (!pool_db_ok(ctx->db)) {
                *err = pr.detail;
                return POOL_DB_UNAVAILABLE;
            }
            return finish_failure(ctx, cl, FETCH_RETRY, pr.detail, err);
        case POOL_DB_REFUSED:
        case POOL_DB_CLASH:
        case POOL_DB_NOTFOUND:
            return finish_failure(ctx, cl, FETCH_FAIL, pr.detail, err);
        case POOL_DB_CONFLICT:
            pool_log(POOL_LOG_WARN, "import %s: %s; dropped this download",
                     cl->id, pr.detail);
            return POOL_DB_OK;
        default:
            *err = pr.log ? pr.log : pr.detail;
            return ir.refused_rc;
        }
    }
    pool_log(POOL_LOG_NOTICE, "import %s: stored file %s (%" APR_OFF_T_FMT
             " bytes)", cl->id, ir.out->id, ir.out->size);
    return POOL_DB_OK;
}

pool_db_rc pool_step_fetch(pool_step_ctx_t *ctx, int *done, const char **err)
{
    pool_http_t *http;
    int n;

    *done = 0;
    /* one client for the call: a second import from a host reuses the
     * connection */
    if (pool_http_create(&http, ctx->p, USER_AGENT, ctx->net) != APR_SUCCESS) {
        *err = "cannot set up outbound HTTP";
        return POOL_DB_ERROR;
    }
    for (n = 0; n < ctx->budget; n++) {
        claimed_t cl;
        fetch_t f;
        int got = 0;
        const char *why = NULL, *ctype = NULL;
        fetch_outcome oc;
        pool_db_rc rc;

        memset(&cl, 0, sizeof(cl));
        rc = claim(ctx, &cl, &got, err);
        if (rc != POOL_DB_OK || !got) {
            return rc;
        }
        memset(&f, 0, sizeof(f));
        f.ctx = ctx;
        f.p = ctx->p;
        f.process_id = cl.id;
        f.last_percent = -1;

        oc = download(&f, http, cl.url, &why, &ctype);
        if (oc == FETCH_OK) {
            rc = finish_success(ctx, &f, &cl, ctype, err);
        }
        else {
            if (f.sp) {
                ctx->store->ops->spool_abort(f.sp);
            }
            rc = finish_failure(ctx, &cl, oc, why, err);
        }
        if (rc != POOL_DB_OK) {
            return rc;
        }
        (*done)++;
    }
    return POOL_DB_OK;
}
