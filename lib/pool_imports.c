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
#include <curl/curl.h>

#include "pool_imports.h"
#include "pool_ingest.h"
#include "pool_steps.h"
#include "pool_fields.h"
#include "pool_json.h"
#include "pool_log.h"
#include "pool_util.h"
#include "pool_name.h"
#include "pool_ts.h"
#include "pool_webhook.h"
#include "pool_curl.h"

#define MAX_REDIRECTS   5
#define DISCARD_MAX     (64 * 1024)     /* body bytes read of a non-2xx */
#define LEASE_SLACK     60              /* seconds beyond the timeout */

/* ------------------------------------------------------------------ URLs */

static CURLU *parse_url(const char *url)
{
    CURLU *u = curl_url();

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static char *url_part(apr_pool_t *p, CURLU *u, CURLUPart what)
{
    char *v = NULL, *out = NULL;

    if (curl_url_get(u, what, &v, 0) == CURLUE_OK && v) {
        out = apr_pstrdup(p, v);
    }
    curl_free(v);
    return out;
}

const char *pool_url_check(apr_pool_t *p, const char *url)
{
    CURLU *u;
    const char *scheme, *host, *why = NULL;
    apr_size_t i, n = url ? strlen(url) : 0;

    if (!n) {
        return "a URL is required";
    }
    if (n > POOL_URL_MAX) {
        return "the URL is longer than 2048 bytes";
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            return "the URL contains spaces, control or non-ASCII characters";
        }
    }
    if (!(u = parse_url(url))) {
        return "not a valid absolute URL";
    }
    scheme = url_part(p, u, CURLUPART_SCHEME);
    host = url_part(p, u, CURLUPART_HOST);
    if (!scheme || (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
        why = "only http and https URLs are accepted";
    }
    else if (strncmp(url + strlen(scheme), "://", 3)
             || url[strlen(scheme) + 3] == '/' || url[strlen(scheme) + 3] == '\\') {
        /* libcurl reads "http:/x" and "http:///x" as host x, as browsers
         * do; a URL given to us is written out */
        why = "the URL must be scheme://host/...";
    }
    else if (!host || !*host) {
        why = "the URL has no host";
    }
    else if (url_part(p, u, CURLUPART_USER) || url_part(p, u, CURLUPART_PASSWORD)) {
        why = "credentials in the URL are not accepted";
    }
    curl_url_cleanup(u);
    return why;
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

/* --------------------------------------------------------------- download */

typedef struct {
    pool_step_ctx_t *ctx;
    apr_pool_t *p;
    CURL *h;
    pool_spool_t *sp;
    const char *process_id;
    long code;
    pool_curl_guard_t guard;    /* outbound policy on every connect */
    int too_big;
    int write_failed;
    apr_size_t discarded;
    apr_time_t last_progress;
    int last_percent;
} fetch_t;

static size_t write_body(char *data, size_t size, size_t nmemb, void *ud)
{
    fetch_t *f = ud;
    size_t n = size * nmemb;
    apr_status_t rv;

    if (!f->code) {
        curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->code);
    }
    if (f->code < 200 || f->code > 299) {
        /* a redirect's or an error's body: read a little, keep nothing */
        f->discarded += n;
        return f->discarded > DISCARD_MAX ? 0 : n;
    }
    rv = f->ctx->store->ops->spool_write(f->sp, data, n);
    if (rv == POOL_STORE_TOOBIG) {
        f->too_big = 1;
        return 0;
    }
    if (rv != APR_SUCCESS) {
        f->write_failed = 1;
        return 0;
    }
    return n;
}

static int progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                    curl_off_t ultotal, curl_off_t ulnow)
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

/* One GET, following redirects to the same host only. */
static fetch_outcome download(fetch_t *f, const char *url, const char **why,
                              const char **ctype)
{
    const pool_conf_t *conf = f->ctx->conf;
    CURLU *first = parse_url(url);
    const char *host0 = first ? url_part(f->p, first, CURLUPART_HOST) : NULL;
    int hops;

    if (first) {
        curl_url_cleanup(first);
    }
    if (!host0) {
        *why = "not a valid URL";
        return FETCH_FAIL;
    }
    for (hops = 0; hops <= MAX_REDIRECTS; hops++) {
        CURLcode cc;
        apr_status_t rv;
        char *loc = NULL;
        const char *lhost;
        CURLU *lu;

        rv = f->ctx->store->ops->spool_open(f->ctx->store, f->p,
                                            conf->max_file_size, &f->sp);
        if (rv != APR_SUCCESS) {
            *why = "cannot open a spool file in PoolStorage";
            return FETCH_RETRY;
        }
        f->code = 0;
        f->discarded = 0;
        curl_easy_setopt(f->h, CURLOPT_URL, url);
        cc = curl_easy_perform(f->h);
        if (f->guard.denied) {
            *why = apr_psprintf(f->p, "the URL's host resolves to %s, a network "
                                "denied for outbound requests", f->guard.denied_ip);
            return FETCH_FAIL;
        }
        if (f->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
            *why = apr_psprintf(f->p, "the file is larger than the limit of %"
                                APR_OFF_T_FMT " bytes", conf->max_file_size);
            return FETCH_FAIL;
        }
        if (f->write_failed) {
            *why = "cannot write to the spool";
            return FETCH_RETRY;
        }
        if (cc != CURLE_OK) {
            *why = apr_psprintf(f->p, "download failed: %s",
                                curl_easy_strerror(cc));
            switch (cc) {
            case CURLE_UNSUPPORTED_PROTOCOL:
            case CURLE_URL_MALFORMAT:
            case CURLE_TOO_MANY_REDIRECTS:
                return FETCH_FAIL;
            default:
                return FETCH_RETRY;
            }
        }
        curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->code);
        if (f->code >= 200 && f->code <= 299) {
            char *ct = NULL;
            curl_easy_getinfo(f->h, CURLINFO_CONTENT_TYPE, &ct);
            *ctype = ct ? apr_pstrdup(f->p, ct) : NULL;
            return FETCH_OK;
        }
        if (f->code < 300 || f->code > 399) {
            *why = apr_psprintf(f->p, "the server answered %ld", f->code);
            return (f->code == 408 || f->code == 429 || f->code >= 500)
                   ? FETCH_RETRY : FETCH_FAIL;
        }
        curl_easy_getinfo(f->h, CURLINFO_REDIRECT_URL, &loc);
        if (!loc || pool_url_check(f->p, loc)) {
            *why = apr_psprintf(f->p, "the server answered %ld without a usable "
                                "Location", f->code);
            return FETCH_FAIL;
        }
        url = apr_pstrdup(f->p, loc);
        lu = parse_url(url);
        lhost = lu ? url_part(f->p, lu, CURLUPART_HOST) : NULL;
        if (lu) {
            curl_url_cleanup(lu);
        }
        if (!lhost || strcasecmp(lhost, host0)) {
            *why = "redirect to another host refused";
            return FETCH_FAIL;
        }
        f->ctx->store->ops->spool_abort(f->sp);
        f->sp = NULL;
    }
    *why = "too many redirects";
    return FETCH_FAIL;
}

/* The file name: the import's, else the URL's last path segment. */
static const char *name_from_url(apr_pool_t *p, const char *url)
{
    CURLU *u = parse_url(url);
    char *path = u ? url_part(p, u, CURLUPART_PATH) : NULL;
    const char *last, *name = "download";

    if (u) {
        curl_url_cleanup(u);
    }
    if (path && (last = strrchr(path, '/')) != NULL && last[1]) {
        int n = 0;
        char *dec = curl_easy_unescape(NULL, last + 1, 0, &n);
        if (dec && n > 0 && (int)strlen(dec) == n && !pool_name_check(dec)) {
            name = apr_pstrdup(p, dec);
        }
        curl_free(dec);
    }
    return name;
}

/* ------------------------------------------------------------ the step */

typedef struct {
    const char *id, *url, *name, *callback_url, *pool, *client_id;
    const char *folder;         /* NULL: the client's own */
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
        "   i.attempts, p.name, c.client_id, i.folder",
        2, params, 9, &res, err);
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

/* Queues the signed callback of a finished import (when one was asked for):
 * event import.completed or import.failed, data = the process record. */
static void queue_callback(pool_step_ctx_t *ctx, claimed_t *cl, int in_tx)
{
    json_t *pj = NULL;
    const char *err = NULL, *id, *body, *ignored;
    pool_db_rc rc;

    if (!cl->callback_url) {
        return;
    }
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
        body = pool_json_dump(ctx->p, pj);
        rc = pool_delivery_enqueue(ctx->p, ctx->db, cl->pool, cl->client_id,
                                   cl->callback_url, NULL, event, body, &id,
                                   &err);
        json_decref(pj);
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
    int n;

    *done = 0;
    for (n = 0; n < ctx->budget; n++) {
        claimed_t cl;
        fetch_t f;
        int got = 0;
        const char *why = NULL, *ctype = NULL;
        fetch_outcome oc;
        pool_db_rc rc;
        long low_time;

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
        if (!(f.h = curl_easy_init())) {
            *err = "cannot initialise libcurl";
            return POOL_DB_ERROR;
        }
        low_time = ctx->conf->import_timeout < 30 ? ctx->conf->import_timeout
                                                  : 30;
        pool_curl_guard(f.h, &f.guard, ctx->net, ctx->p);
        curl_easy_setopt(f.h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(f.h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(f.h, CURLOPT_TIMEOUT, (long)ctx->conf->import_timeout);
        curl_easy_setopt(f.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(f.h, CURLOPT_LOW_SPEED_TIME, low_time);
        curl_easy_setopt(f.h, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)ctx->conf->max_file_size);
        curl_easy_setopt(f.h, CURLOPT_USERAGENT, "mod_pool-import/1");
        curl_easy_setopt(f.h, CURLOPT_WRITEFUNCTION, write_body);
        curl_easy_setopt(f.h, CURLOPT_WRITEDATA, &f);
        curl_easy_setopt(f.h, CURLOPT_XFERINFOFUNCTION, progress);
        curl_easy_setopt(f.h, CURLOPT_XFERINFODATA, &f);
        curl_easy_setopt(f.h, CURLOPT_NOPROGRESS, 0L);

        oc = download(&f, cl.url, &why, &ctype);
        curl_easy_cleanup(f.h);
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
