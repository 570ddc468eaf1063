/* The `deliver` step (pool_steps.h): sends due webhook deliveries.
 *
 * It claims due deliveries in batches with FOR UPDATE SKIP LOCKED and a
 * lease (locked_until = now + DELIVER_LEASE, longer than any attempt may
 * take), and sends them in parallel through pool_http's multi interface
 * (one for the whole call, so connections to one host are reused), until
 * nothing is due or DELIVER_STEP_TIME has passed.  The outcomes that
 * complete together are written in one statement, each attempt's row with
 * its outcome, only while this runner still holds the lease (lock_owner
 * and the attempt number must match), so two runners never send one
 * delivery at the same time and a late writer changes nothing.  An attempt
 * cut short by a killed runner gets its row, without an outcome, when the
 * delivery is claimed again (sql/017).  The statements are sent without
 * waiting (pool_db_call_t): transfers go on while PostgreSQL works.
 *
 * A delivery to an endpoint (sql/016) is sent as the endpoint is at that
 * moment: its URL, mapping (method, path, body), authentication, signing
 * secrets (two signatures while a rotation's grace runs), success rule and
 * retry schedule; a rate-limited endpoint gets at most rate_limit attempts
 * a second (the rest wait for the next second). */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "pool_endpoint_doc.h"
#include "pool_endpoints.h"
#include "pool_http.h"
#include "pool_json.h"
#include "pool_log.h"
#include "pool_mapping.h"
#include "pool_steps.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define DELIVER_PARALLEL    64      /* transfers in flight at once */
/* A claim takes at most CLAIM_BATCH, when no more than that is queued:
 * its size is in the statement's text, so that PostgreSQL plans it once
 * (a plan for a size given as a parameter was made again for each claim,
 * at the cost of running it; the generic one was slower).  So at most
 * DELIVER_PARALLEL wait for a transfer slot: a queued one starts within
 * the longest time limit (120 s, pool_mapping.h) and ends within another,
 * and the lease covers twice that and a margin. */
#define CLAIM_BATCH         32      /* DELIVER_PARALLEL / 2, a literal */
#define DELIVER_LEASE       POOL_DELIVERY_LEASE
#define FLUSH_BATCH         64      /* outcomes written together ... */
#define FLUSH_DELAY         200     /* ... or after this many ms */
#define DELIVER_STEP_TIME   30      /* seconds a call goes on claiming */
#define CONNECT_TIMEOUT     10
#define TOTAL_TIMEOUT       20      /* without a success rule */
#define SNIPPET_MAX         200     /* of a failure's body, in last_error */
#define ERROR_MAX           1000
#define USER_AGENT          "mod_pool"

#define INTERRUPTED_MSG "no outcome recorded: the runner stopped during " \
                        "this attempt"

/* Outcomes waiting to be written, one column array each: one statement
 * records a whole batch. */
enum {
    R_ID, R_STARTED, R_STATUS, R_ERROR, R_MS, R_STATE, R_WAIT, R_ATTEMPTS,
    R_URL, R_OUTCOME, R_METHOD, R_REQ_HEADERS, R_REQ_BODY, R_RESP_HEADERS,
    R_RESP_BODY, R_TRUNCATED, R_ENDPOINT, REC_COLS
};

typedef struct {
    apr_pool_t *p;              /* the strings; cleared after each flush */
    apr_array_header_t *col[REC_COLS];
    apr_array_header_t *log;    /* (level, line) written once recorded */
    apr_time_t first;           /* when the oldest queued outcome came */
} recorder_t;

/* One call of the step: what its deliveries share. */
/* What the connection is doing: the step's statements are sent without
 * waiting (pool_db_call_t), so transfers go on while PostgreSQL works. */
typedef enum { DB_IDLE, DB_CLAIM, DB_FLUSH } db_state_t;

typedef struct {
    pool_step_ctx_t *ctx;
    pool_http_t *http;
    recorder_t *rec;            /* outcomes coming in */
    recorder_t *flushing;       /* outcomes being written (DB_FLUSH) */
    pool_db_call_t call;
    db_state_t db;
    int exhausted;              /* nothing more is due */
    apr_hash_t *compiled;       /* mapping or rule text -> compiled */
    int *done;
    apr_array_header_t *queue;  /* claimed, not yet started (FIFO) */
    int qhead;                  /* the next one to start */
    apr_array_header_t *paced;  /* claimed, held for the next second by
                                 * their endpoint's rate limit */
    apr_int64_t paced_sec;      /* the second they were held in */
    apr_hash_t *starts;         /* endpoint id -> starts_t */
    int held;                   /* rate limits hold deliveries back */
    int wait;                   /* wait for the next second, then claim */
    json_t *ev;                 /* the event last parsed (event_parsed) */
    char *ev_text;              /* and its text */
} deliver_run_t;

typedef struct {
    deliver_run_t *run;
    apr_pool_t *p;              /* this delivery's; destroyed when done */
    pool_http_req_t *rq;        /* NULL when it is not sent */
    const char *id;
    const char *attempts;       /* the lease's fencing number, as text */
    int n_attempts;
    const char *url;
    const char *secret;
    const char *prev_secret;    /* signs too during a rotation's grace */
    const char *payload;        /* the event envelope */
    const char *body;           /* what is sent */
    const char *endpoint;       /* endpoints.id, or NULL */
    const char *auth_type, *auth_name, *auth_secret;
    const char *mapping, *rule_text, *retry;
    const pool_rule_t *rule;
    const char *method;
    const char *req_headers;    /* JSON text, secrets hidden */
    const char *skip;           /* do not send: fail with this reason */
    int fail_now;               /* skip is permanent */
    long limit_ms;              /* the time limit of an attempt */
    int rate_limit;             /* the endpoint's, a second; 0: none */
    apr_time_t started;
} delivery_t;

typedef struct {
    const char *state;          /* delivered, pending, failed */
    const char *outcome;        /* delivered, retry, failed */
    int status;                 /* -1: none */
    const char *error;
    int wait;                   /* seconds, when pending */
} outcome_t;

/* At most max bytes of s, printable ASCII only (others become '?'). */
static char *clean_ascii(apr_pool_t *p, const char *s, apr_size_t n,
                         apr_size_t max)
{
    apr_size_t i, lim = n > max ? max : n;
    char *o = apr_palloc(p, lim + 4);

    for (i = 0; i < lim; i++) {
        unsigned char ch = (unsigned char)s[i];
        o[i] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
    }
    if (n > lim) {
        memcpy(o + lim, "...", 3);
        lim += 3;
    }
    o[lim] = '\0';
    return o;
}

/* A response body as text PostgreSQL stores: valid UTF-8 kept, NUL and
 * invalid bytes become U+FFFD. */
static char *clean_utf8(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *o = apr_palloc(p, n * 3 + 1), *w = o;
    apr_size_t i = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        apr_size_t k = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2
                       : (c >= 0xe0 && c <= 0xef) ? 3
                       : (c >= 0xf0 && c <= 0xf4) ? 4 : 0, j;

        for (j = 1; k && j < k; j++) {
            if (i + j >= n || ((unsigned char)s[i + j] & 0xc0) != 0x80) {
                k = 0;
            }
        }
        /* overlongs and surrogates: jansson's checker decides */
        if (k > 1 && !json_stringn(s + i, k)) {
            k = 0;
        }
        if (c == 0 || !k) {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
            i++;
            continue;
        }
        memcpy(w, s + i, k);
        w += k;
        i += k;
    }
    *w = '\0';
    return o;
}

/* ------------------------------------------------------------ prepare */

static void event_forget(deliver_run_t *run)
{
    json_decref(run->ev);
    free(run->ev_text);
    run->ev = NULL;
    run->ev_text = NULL;
}

/* A compiled mapping or rule of this call (NULL text: the defaults). */
static const void *compiled(delivery_t *d, const char *text, int rule,
                            const char **why)
{
    apr_hash_t *h = d->run->compiled;
    const char *key;
    void *v;
    pool_mapping_error_t e;

    *why = NULL;
    if (!text) {
        return NULL;
    }
    key = apr_pstrcat(d->p, rule ? "r:" : "m:", text, NULL);
    if ((v = apr_hash_get(h, key, APR_HASH_KEY_STRING)) != NULL) {
        return v;
    }
    /* kept for the call: the step's pool */
    *why = rule ? pool_rule_compile(d->run->ctx->p, text, strlen(text),
                                    (pool_rule_t **)&v, &e)
                : pool_mapping_compile(d->run->ctx->p, text, strlen(text),
                                       (pool_mapping_t **)&v, &e);
    if (*why) {
        return NULL;
    }
    apr_hash_set(h, apr_pstrdup(d->run->ctx->p, key), APR_HASH_KEY_STRING,
                 v);
    return v;
}

/* The event, parsed: a fan-out sends one event to many endpoints, one
 * after the other, so the last one parsed is kept (for the call). */
static json_t *event_parsed(deliver_run_t *run, const char *payload)
{
    json_t *ev;
    char *text;

    if (run->ev && !strcmp(run->ev_text, payload)) {
        return run->ev;
    }
    if (!(ev = json_loads(payload, 0, NULL))) {
        return NULL;
    }
    if (!(text = strdup(payload))) {
        json_decref(ev);
        return NULL;
    }
    event_forget(run);
    run->ev = ev;
    run->ev_text = text;
    return ev;
}

/* Method, URL and body from the endpoint's mapping; NULL or the reason
 * (permanent: the same event renders the same way every time). */
static const char *render(delivery_t *d)
{
    const pool_mapping_t *m;
    const char *why, *path = NULL;
    json_t *ev;

    d->method = "POST";
    d->body = d->payload;
    m = compiled(d, d->mapping, 0, &why);
    if (why) {
        return apr_pstrcat(d->p, "the endpoint's mapping: ", why, NULL);
    }
    if (!m || (!pool_mapping_has_body(m) && !pool_mapping_has_path(m))) {
        d->method = m ? pool_mapping_method(m) : "POST";
        return NULL;
    }
    if (!(ev = event_parsed(d->run, d->payload))) {
        return "the event is not JSON";
    }
    d->method = pool_mapping_method(m);
    why = pool_mapping_has_body(m)
          ? pool_mapping_render(d->p, m, ev, &d->body, NULL, NULL) : NULL;
    if (!why) {
        why = pool_mapping_render_path(d->p, m, ev, &path, NULL);
    }
    if (why) {
        return apr_pstrcat(d->p, "the mapping cannot render this event: ",
                           why, NULL);
    }
    if (path) {
        d->url = apr_pstrcat(d->p, d->url, path, NULL);
        if ((why = pool_http_url_check(d->p, d->url)) != NULL) {
            return apr_pstrcat(d->p, "the mapped URL: ", why, NULL);
        }
    }
    return NULL;
}

/* The webhook-signature value: one v1 signature per secret. */
static const char *signatures(delivery_t *d, apr_int64_t now,
                              const char **why)
{
    const char *sig, *prev;

    sig = pool_webhook_sign(d->p, d->secret, d->id, now, d->body,
                            strlen(d->body), why);
    if (!sig || !d->prev_secret) {
        return sig;
    }
    prev = pool_webhook_sign(d->p, d->prev_secret, d->id, now, d->body,
                             strlen(d->body), why);
    return prev ? apr_pstrcat(d->p, sig, " ", prev, NULL) : NULL;
}

static int headers_shown(void *baton, const char *k, const char *v)
{
    json_object_set_new(baton, k, json_string(v));
    return 1;
}

/* Prepares the request; sets d->skip on a permanent problem. */
static void prepare(delivery_t *d)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *sig, *why = NULL, *hn, *hv;
    pool_http_req_t *rq;
    json_t *shown;
    long limit = TOTAL_TIMEOUT * 1000L;

    if (d->endpoint) {
        if ((why = render(d)) != NULL) {
            d->skip = why;
            d->fail_now = 1;
            return;
        }
        d->rule = compiled(d, d->rule_text, 1, &why);
        if (why) {
            d->skip = apr_pstrcat(d->p, "the endpoint's success rule: ", why,
                                  NULL);
            d->fail_now = 1;
            return;
        }
        limit = pool_rule_timeout_ms(d->rule);
    }
    else {
        d->method = "POST";
        d->body = d->payload;
    }
    if (!(sig = signatures(d, now, &why))) {
        d->skip = apr_pstrcat(d->p, "cannot sign: ", why, NULL);
        d->fail_now = 1;
        return;
    }
    rq = pool_http_req_make(d->run->http, d->p, d->method, d->url);
    apr_table_setn(rq->headers, "Content-Type", "application/json");
    apr_table_setn(rq->headers, "webhook-id", d->id);
    apr_table_setn(rq->headers, "webhook-timestamp",
                   apr_psprintf(d->p, "%" APR_INT64_T_FMT, now));
    apr_table_setn(rq->headers, "webhook-signature", sig);
    shown = json_object();
    apr_table_do(headers_shown, shown, rq->headers, NULL);
    pool_ep_doc_auth_header(d->p, d->auth_type, d->auth_name, d->auth_secret,
                            0, &hn, &hv);
    if (hn) {
        apr_table_setn(rq->headers, hn, hv);
        pool_ep_doc_auth_header(d->p, d->auth_type, d->auth_name,
                                d->auth_secret, 1, &hn, &hv);
        json_object_set_new(shown, hn, json_string(hv));
    }
    d->req_headers = pool_json_dump(d->p, shown);
    json_decref(shown);
    rq->body = d->body;
    rq->body_len = (apr_off_t)strlen(d->body);
    rq->body_max = POOL_DELIVERY_RESPONSE_MAX;
    rq->error_body_max = POOL_DELIVERY_RESPONSE_MAX;
    rq->timeout.connect = apr_time_from_sec(CONNECT_TIMEOUT);
    rq->timeout.total = apr_time_from_msec(limit);
    d->limit_ms = limit;
    d->rq = rq;
    d->started = apr_time_now();
}

/* ------------------------------------------------------------ classify */

/* Seconds to wait after failed attempt n (1-based) on the endpoint's
 * schedule (a JSON array); 0: no attempt left. */
static int schedule_wait(const char *retry, int n)
{
    json_t *a = retry ? json_loads(retry, 0, NULL) : NULL;
    int wait = 0;

    if (a && n >= 1 && (size_t)n <= json_array_size(a)) {
        wait = (int)json_integer_value(json_array_get(a, (size_t)n - 1));
    }
    json_decref(a);
    return wait;
}

/* A failure: retried on the schedule (or after Retry-After, when
 * retry_after > 0) until the last attempt. */
static void retry_or_fail(delivery_t *d, outcome_t *o, long retry_after)
{
    int wait = d->endpoint ? schedule_wait(d->retry, d->n_attempts)
                           : pool_delivery_backoff(d->n_attempts);

    if (wait <= 0) {
        o->state = o->outcome = "failed";
        o->error = apr_psprintf(d->p, "%s; gave up after %d attempt%s",
                                o->error, d->n_attempts,
                                d->n_attempts == 1 ? "" : "s");
        return;
    }
    if (retry_after > 0) {
        wait = (int)retry_after;
    }
    o->state = "pending";
    o->outcome = "retry";
    o->wait = wait;
}

/* No answer: refused by the policy, or why none came. */
static void classify_no_answer(delivery_t *d, const pool_http_resp_t *resp,
                               long ms, outcome_t *o)
{
    const char *e = resp->error ? resp->error : "?";

    if (resp->err == POOL_HTTP_EDENIED) {
        o->state = o->outcome = "failed";
        o->error = e;
        return;
    }
    /* A timeout is the attempt's limit unless it came from the connect
     * limit, which only fires at CONNECT_TIMEOUT; curl's clock is not ours,
     * so the elapsed time can read a little under the limit. */
    if (resp->err == POOL_HTTP_ETIMEOUT
        && (d->limit_ms <= CONNECT_TIMEOUT * 1000L
            || ms + 100 >= d->limit_ms)) {
        o->error = apr_psprintf(d->p, "no answer within %ld ms", d->limit_ms);
    }
    else {
        o->error = apr_pstrcat(d->p, "no answer: ",
                               clean_ascii(d->p, e, strlen(e), 400), NULL);
    }
    if (resp->err == POOL_HTTP_EURL) {
        o->state = o->outcome = "failed";
        return;
    }
    retry_or_fail(d, o, 0);
}

static void classify(delivery_t *d, outcome_t *o, long ms)
{
    const pool_http_resp_t *resp;
    const char *reason = NULL;
    int code, good;

    memset(o, 0, sizeof(*o));
    o->status = -1;
    if (d->skip) {
        o->error = d->skip;
        if (d->fail_now) {
            o->state = o->outcome = "failed";
        }
        else {
            retry_or_fail(d, o, 0);
        }
        return;
    }
    resp = &d->rq->resp;
    code = resp->status;
    if (code >= 100 && code <= 599) {
        o->status = code;
    }
    if (code < 200) {
        classify_no_answer(d, resp, ms, o);
        return;
    }
    /* an answer: the rule decides (default: any 2xx), even if reading its
     * body failed */
    good = d->endpoint ? pool_rule_check(d->p, d->rule, code, resp->body,
                                         resp->len, 0, &reason)
                       : code >= 200 && code <= 299;
    if (good) {
        o->state = o->outcome = "delivered";
        return;
    }
    if (code == 410) {
        o->state = o->outcome = "failed";
        o->error = d->endpoint
                   ? "the endpoint answered 410 Gone: it is disabled, no "
                     "more events are sent to it until it is enabled again"
                   : "the endpoint answered 410 Gone";
        return;
    }
    if (code >= 300 && code <= 399) {
        o->error = apr_psprintf(d->p, "the endpoint answered %d: redirects "
                                "are not followed (register the final URL)",
                                code);
    }
    else if (reason && d->rule_text) {
        o->error = reason;      /* what the admin's rule says */
    }
    else {
        apr_size_t n = resp->len < SNIPPET_MAX ? resp->len : SNIPPET_MAX;
        o->error = apr_psprintf(d->p, "the endpoint answered %d%s%s", code,
                                n ? ": " : "",
                                clean_ascii(d->p, resp->body, n, SNIPPET_MAX));
    }
    retry_or_fail(d, o, (code == 429 || code == 503)
                  ? pool_retry_after_parse(apr_table_get(resp->headers,
                                                         "Retry-After"),
                                           apr_time_sec(apr_time_now()))
                  : 0);
}

/* ------------------------------------------------------------ record */

typedef struct {
    int level;
    const char *line;
} rec_log_t;

static void recorder_reset(recorder_t *rec)
{
    int i;

    apr_pool_clear(rec->p);
    for (i = 0; i < REC_COLS; i++) {
        rec->col[i] = apr_array_make(rec->p, DELIVER_PARALLEL,
                                     sizeof(const char *));
    }
    rec->log = apr_array_make(rec->p, DELIVER_PARALLEL, sizeof(rec_log_t));
}

/* The response's headers as a JSON object text, or NULL. */
static const char *response_headers(delivery_t *d)
{
    json_t *h;
    const char *s;

    if (!d->rq || !d->rq->resp.headers || d->rq->resp.status < 100) {
        return NULL;
    }
    h = json_object();
    apr_table_do(headers_shown, h, d->rq->resp.headers, NULL);
    s = pool_json_dump(d->p, h);
    json_decref(h);
    return s;
}

/* Classifies the outcome of d and queues it (copied: d goes next). */
static void record(recorder_t *rec, delivery_t *d)
{
    apr_time_t took = d->started ? apr_time_now() - d->started : 0;
    long ms = (long)apr_time_as_msec(took);
    const char *v[REC_COLS];
    const pool_http_resp_t *resp = d->rq ? &d->rq->resp : NULL;
    rec_log_t *l;
    outcome_t o;
    int i;

    classify(d, &o, ms);
    if (o.error && strlen(o.error) > ERROR_MAX) {
        o.error = clean_ascii(d->p, o.error, strlen(o.error), ERROR_MAX);
    }
    if (!rec->col[0]->nelts) {
        rec->first = apr_time_now();
    }
    memset(v, 0, sizeof(v));
    v[R_ID] = d->id;
    v[R_STARTED] = apr_psprintf(d->p, "%" APR_TIME_T_FMT,
                                d->started ? d->started : apr_time_now());
    v[R_STATUS] = o.status >= 0 ? apr_itoa(d->p, o.status) : NULL;
    v[R_ERROR] = o.error;
    v[R_MS] = d->started ? apr_ltoa(d->p, ms) : "0";
    v[R_STATE] = o.state;
    v[R_WAIT] = apr_itoa(d->p, o.wait);
    v[R_ATTEMPTS] = d->attempts;
    v[R_URL] = d->url;
    v[R_OUTCOME] = o.outcome;
    v[R_METHOD] = d->rq ? d->method : NULL;
    v[R_REQ_HEADERS] = d->rq ? d->req_headers : NULL;
    /* the payload as it is is not stored twice */
    v[R_REQ_BODY] = d->rq && d->body != d->payload ? d->body : NULL;
    v[R_RESP_HEADERS] = response_headers(d);
    if (resp && resp->status >= 100 && resp->body) {
        v[R_RESP_BODY] = clean_utf8(d->p, resp->body,
                                    resp->len > POOL_DELIVERY_RESPONSE_MAX
                                    ? POOL_DELIVERY_RESPONSE_MAX : resp->len);
        if (strlen(v[R_RESP_BODY]) > POOL_DELIVERY_RESPONSE_MAX) {
            /* U+FFFD took more room: cut on a character boundary */
            char *b = (char *)v[R_RESP_BODY];
            apr_size_t n = POOL_DELIVERY_RESPONSE_MAX;

            while (n > 0 && ((unsigned char)b[n] & 0xc0) == 0x80) {
                n--;
            }
            b[n] = '\0';
        }
    }
    v[R_TRUNCATED] = resp && resp->err == POOL_HTTP_ETOOLARGE ? "true"
                                                              : "false";
    v[R_ENDPOINT] = d->endpoint;
    for (i = 0; i < REC_COLS; i++) {
        APR_ARRAY_PUSH(rec->col[i], const char *) =
            v[i] ? apr_pstrdup(rec->p, v[i]) : NULL;
    }
    l = apr_array_push(rec->log);
    l->level = !strcmp(o.state, "failed") ? POOL_LOG_NOTICE : POOL_LOG_INFO;
    l->line = apr_psprintf(rec->p, "webhook %s attempt %d: %s%s%s", d->id,
                           d->n_attempts, o.state, o.error ? " - " : "",
                           o.error ? o.error : "");
}

/* Writes the queued outcomes (attempt rows, deliveries, endpoints), each
 * only under its lease: this runner's, at the attempt it claimed. */
#define FLUSH_SQL \
    "WITH o AS (SELECT * FROM unnest($1::uuid[], $2::bigint[]," \
    "   $3::int[], $4::text[], $5::int[], $6::text[], $7::int[]," \
    "   $8::int[], $9::text[], $10::text[], $11::text[], $12::jsonb[]," \
    "   $13::text[], $14::jsonb[], $15::text[], $16::boolean[]," \
    "   $17::bigint[])" \
    "   AS o(id, started, status, error, duration_ms, state, wait," \
    "        attempts, url, outcome, method, req_headers, req_body," \
    "        resp_headers, resp_body, truncated, endpoint_id))," \
    " d AS (UPDATE deliveries d SET state = o.state," \
    "   last_status = o.status, last_error = o.error," \
    "   locked_until = NULL, lock_owner = NULL, url = o.url," \
    "   next_attempt_at = CASE WHEN o.state = 'pending'" \
    "     THEN now() + make_interval(secs => o.wait)" \
    "     ELSE d.next_attempt_at END," \
    "   delivered_at = CASE WHEN o.state = 'delivered' THEN now() END" \
    "   FROM o WHERE d.id = o.id AND d.lock_owner = $18" \
    "   AND d.attempts = o.attempts AND d.state = 'pending'" \
    "   RETURNING o.id, o.endpoint_id, o.state, o.status)," \
    " a AS (INSERT INTO delivery_attempts (delivery_id, at, status, error," \
    "   duration_ms, outcome, method, url, request_headers, request_body," \
    "   response_headers, response_body, response_truncated)" \
    "  SELECT o.id, " POOL_SQL_FROM_US("o.started") ", o.status, o.error," \
    "   o.duration_ms, o.outcome, o.method, o.url, o.req_headers," \
    "   o.req_body, o.resp_headers, o.resp_body, o.truncated" \
    "  FROM o JOIN d ON d.id = o.id)" \
    " UPDATE endpoints e SET disabled_at = now()," \
    "   disabled_reason = 'the endpoint answered 410 Gone'" \
    " FROM d WHERE d.state = 'failed' AND d.status = 410" \
    " AND e.id = d.endpoint_id AND e.disabled_at IS NULL"

/* Sends the queued outcomes' statement; they are written (and logged) when
 * its answer comes (flush_done), meanwhile new ones queue in the other
 * recorder. */
static pool_db_rc flush_send(deliver_run_t *run, const char **err)
{
    recorder_t *rec = run->rec;
    const char **params = apr_palloc(rec->p, (REC_COLS + 1)
                                              * sizeof(*params));
    pool_db_rc rc;
    int i, n = rec->col[0]->nelts;

    for (i = 0; i < REC_COLS; i++) {
        params[i] = pool_db_array(rec->p,
                                  (const char *const *)rec->col[i]->elts, n);
    }
    params[REC_COLS] = run->ctx->owner;
    run->call.what = "record webhook attempts";
    run->call.sql = FLUSH_SQL;
    run->call.nparams = REC_COLS + 1;
    run->call.params = params;
    run->call.nfields = -1;
    rc = pool_db_call_send(run->ctx->p, run->ctx->db, &run->call, err);
    if (rc == POOL_DB_OK) {
        run->rec = run->flushing;   /* the spare, empty */
        run->flushing = rec;
        run->db = DB_FLUSH;
    }
    return rc;
}

/* The outcomes are written: their log lines now. */
static void flush_done(deliver_run_t *run)
{
    recorder_t *rec = run->flushing;
    int i;

    for (i = 0; i < rec->log->nelts; i++) {
        rec_log_t *l = &APR_ARRAY_IDX(rec->log, i, rec_log_t);
        pool_log(l->level, "%s", l->line);
    }
    recorder_reset(rec);
}

/* ------------------------------------------------------------ claim */

/* Claims at most CLAIM_BATCH due deliveries: at most rate_limit a second
 * of a rate-limited endpoint (the others wait for the next second; the
 * last column says how many).  A delivery whose last lease ran out without
 * an outcome gets that attempt's row now ("cut"). */
#define CLAIM_SQL \
    "WITH due AS (" \
    "  SELECT id, endpoint_id, lock_owner IS NOT NULL AS cut, locked_until" \
    "  FROM deliveries" \
    "  WHERE state = 'pending' AND next_attempt_at <= now()" \
    "  AND (locked_until IS NULL OR locked_until < now())" \
    "  ORDER BY next_attempt_at LIMIT " APR_STRINGIFY(CLAIM_BATCH) \
    "  FOR UPDATE SKIP LOCKED)," \
    " sec AS (SELECT floor(extract(epoch FROM clock_timestamp()))::bigint" \
    "   AS s)," \
    " lim AS (" \
    "  SELECT e.id, e.rate_limit," \
    "    CASE WHEN e.rl_second = sec.s THEN e.rl_used ELSE 0 END AS used" \
    "  FROM endpoints e, sec WHERE e.rate_limit IS NOT NULL" \
    "  AND e.id IN (SELECT endpoint_id FROM due)" \
    "  ORDER BY e.id FOR UPDATE OF e)," \
    " ranked AS (" \
    "  SELECT due.id, due.endpoint_id, row_number() OVER" \
    "    (PARTITION BY due.endpoint_id ORDER BY due.id) AS rn FROM due)," \
    " take AS (" \
    "  SELECT r.id, r.endpoint_id FROM ranked r" \
    "  LEFT JOIN lim ON lim.id = r.endpoint_id" \
    "  WHERE lim.id IS NULL OR r.rn <= lim.rate_limit - lim.used)," \
    " later AS (" \
    "  UPDATE deliveries d SET next_attempt_at =" \
    "    to_timestamp((SELECT s FROM sec) + 1)" \
    "  FROM ranked r WHERE d.id = r.id" \
    "  AND NOT EXISTS (SELECT 1 FROM take t WHERE t.id = r.id)" \
    "  RETURNING d.id)," \
    " used AS (" \
    "  UPDATE endpoints e SET rl_second = sec.s, rl_used = lim.used + t.n" \
    "  FROM lim, sec, (SELECT endpoint_id, count(*) AS n FROM take" \
    "                  GROUP BY endpoint_id) t" \
    "  WHERE e.id = lim.id AND t.endpoint_id = lim.id)," \
    " c AS (" \
    "  UPDATE deliveries d SET lock_owner = $1," \
    "    attempts = d.attempts + 1," \
    "    locked_until = now() + make_interval(secs => $2::int)" \
    "  FROM take WHERE d.id = take.id" \
    "  RETURNING d.id, d.client_id, d.endpoint_id, d.url, d.secret," \
    "    d.payload, d.attempts)," \
    " cut AS (" \
    "  INSERT INTO delivery_attempts (delivery_id, at, error)" \
    "  SELECT due.id, due.locked_until - make_interval(secs => $2::int), $3" \
    "  FROM due JOIN take ON take.id = due.id WHERE due.cut)" \
    " SELECT x.*, lc.n FROM (SELECT count(*) AS n FROM later) lc" \
    " LEFT JOIN (SELECT c.id::text, c.attempts," \
    "   c.payload::text, c.endpoint_id," \
    "   coalesce(e.url, c.url), coalesce(e.secret, ce.secret, c.secret)," \
    "   CASE WHEN e.prev_until > now() THEN e.prev_secret END," \
    "   e.auth_type, e.auth_name, e.auth_secret, e.mapping, e.rule," \
    "   array_to_json(e.retry_schedule)::text," \
    "   e.disabled_at IS NOT NULL, cl.disabled_at IS NOT NULL," \
    "   e.rate_limit" \
    "  FROM c" \
    "  LEFT JOIN endpoints e ON e.id = c.endpoint_id" \
    "  LEFT JOIN clients cl ON cl.id = c.client_id" \
    "  LEFT JOIN endpoints ce ON ce.client_id = c.client_id" \
    "    AND c.endpoint_id IS NULL) x ON true"
#define CLAIM_NCOLS 17

static delivery_t *claimed(deliver_run_t *run, apr_pool_t *dp,
                           const PGresult *res, int i)
{
    delivery_t *d = apr_pcalloc(dp, sizeof(*d));

    d->run = run;
    d->p = dp;
    d->id = pool_db_col_str(dp, res, i, 0);
    d->attempts = pool_db_col_str(dp, res, i, 1);
    d->n_attempts = atoi(d->attempts);
    d->payload = pool_db_col_str(dp, res, i, 2);
    d->endpoint = pool_db_col_str(dp, res, i, 3);
    d->url = pool_db_col_str(dp, res, i, 4);
    d->secret = pool_db_col_str(dp, res, i, 5);
    d->prev_secret = pool_db_col_str(dp, res, i, 6);
    d->auth_type = pool_db_col_str(dp, res, i, 7);
    d->auth_name = pool_db_col_str(dp, res, i, 8);
    d->auth_secret = pool_db_col_str(dp, res, i, 9);
    d->mapping = pool_db_col_str(dp, res, i, 10);
    d->rule_text = pool_db_col_str(dp, res, i, 11);
    d->retry = pool_db_col_str(dp, res, i, 12);
    d->rate_limit = (int)pool_db_col_i64(res, i, 15);
    if (pool_db_col_bool(res, i, 14)) {
        d->skip = "the client was disabled";
        d->fail_now = 1;
    }
    else if (d->endpoint && pool_db_col_bool(res, i, 13)) {
        d->skip = "the endpoint is disabled";
        d->fail_now = 1;
    }
    else if (!d->secret) {
        d->skip = "no signing secret (the client's endpoint was removed)";
        d->fail_now = 1;
    }
    return d;
}

/* Sends the claim of up to CLAIM_BATCH due deliveries; claim_done queues
 * them. */
static pool_db_rc claim_send(deliver_run_t *run, const char **err)
{
    pool_step_ctx_t *ctx = run->ctx;
    const char **params = apr_palloc(ctx->p, 3 * sizeof(*params));
    pool_db_rc rc;

    params[0] = ctx->owner;
    params[1] = APR_STRINGIFY(POOL_DELIVERY_LEASE);
    params[2] = INTERRUPTED_MSG;
    run->call.what = "claim webhooks";
    run->call.sql = CLAIM_SQL;
    run->call.nparams = 3;
    run->call.params = params;
    run->call.nfields = CLAIM_NCOLS;
    rc = pool_db_call_send(ctx->p, ctx->db, &run->call, err);
    if (rc == POOL_DB_OK) {
        run->db = DB_CLAIM;
    }
    return rc;
}

/* The claimed deliveries join the queue.  What a rate limit held back is
 * due at the next second: once nothing else is due, the step waits for it,
 * until no more is held; with nothing held and fewer than asked for,
 * nothing more is due. */
static pool_db_rc claim_done(deliver_run_t *run, PGresult *res,
                             const char **err)
{
    int i, got, held;

    if (run->qhead == run->queue->nelts) {
        run->qhead = run->queue->nelts = 0;
    }
    /* one row with the count held back, with nothing claimed or not */
    got = PQgetisnull(res, 0, 0) ? 0 : PQntuples(res);
    held = atoi(PQgetvalue(res, 0, 16));
    for (i = 0; i < got; i++) {
        apr_pool_t *dp;

        if (apr_pool_create(&dp, run->ctx->p) != APR_SUCCESS) {
            *err = "out of memory";
            return POOL_DB_ERROR;
        }
        APR_ARRAY_PUSH(run->queue, delivery_t *) = claimed(run, dp, res, i);
    }
    if (held) {
        run->held = 1;
    }
    else if (got < CLAIM_BATCH) {
        if (!run->held) {
            run->exhausted = 1;
        }
        else if (got == 0) {
            run->held = 0;
            run->wait = 1;
        }
    }
    return POOL_DB_OK;
}

/* The answer to the statement in flight. */
static pool_db_rc db_answer(deliver_run_t *run, const char **err)
{
    db_state_t was = run->db;
    PGresult *res;
    pool_db_rc rc;

    run->db = DB_IDLE;
    rc = pool_db_call_receive(run->ctx->p, run->ctx->db, &run->call, &res,
                              err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (was == DB_CLAIM) {
        rc = claim_done(run, res, err);
    }
    else {
        flush_done(run);
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------ the step */

static void release(delivery_t *d)
{
    apr_pool_destroy(d->p);     /* the request's memory with it */
}

/* A transfer is over: its outcome is queued for the next flush. */
static void on_done(pool_http_req_t *rq, void *baton)
{
    delivery_t *d = baton;
    deliver_run_t *run = d->run;

    /* cancelled after a database error: nothing is recorded, the lease
     * expires and the delivery is tried again */
    if (rq->resp.err != POOL_HTTP_ECANCELLED) {
        record(run->rec, d);
        (*run->done)++;
    }
    release(d);
}

/* A delivery that is not sent: its outcome is recorded as it is. */
static void not_sent(deliver_run_t *run, delivery_t *d)
{
    record(run->rec, d);
    release(d);
    (*run->done)++;
}

/* The attempts this runner started in one second for an endpoint. */
typedef struct {
    apr_int64_t sec;
    int used;
} starts_t;

/* Whether d may start in the second of now.  The claim counts an
 * endpoint's rate limit by the database's second; a claimed delivery may
 * still wait for a transfer slot, or its claim's answer come in the next
 * second, so the attempts are paced again by the seconds they start in
 * (the time their rows show). */
static int may_start(deliver_run_t *run, const delivery_t *d, apr_time_t now)
{
    apr_int64_t sec = (apr_int64_t)apr_time_sec(now);
    starts_t *st;

    if (d->rate_limit <= 0 || !d->endpoint) {
        return 1;
    }
    st = apr_hash_get(run->starts, d->endpoint, APR_HASH_KEY_STRING);
    if (!st) {
        st = apr_pcalloc(run->ctx->p, sizeof(*st));
        apr_hash_set(run->starts, apr_pstrdup(run->ctx->p, d->endpoint),
                     APR_HASH_KEY_STRING, st);
    }
    if (st->sec != sec) {
        st->sec = sec;
        st->used = 0;
    }
    if (st->used >= d->rate_limit) {
        return 0;
    }
    st->used++;
    return 1;
}

/* Starts queued deliveries while there is room: each is prepared (and
 * signed) now, as it is sent; those that cannot start are recorded, those
 * that must not start in this second are held for the next. */
static void start_queued(deliver_run_t *run, pool_http_multi_t *m)
{
    apr_time_t now = apr_time_now();
    int i;

    if (run->paced->nelts && apr_time_sec(now) != run->paced_sec) {
        for (i = 0; i < run->paced->nelts; i++) {
            APR_ARRAY_PUSH(run->queue, delivery_t *) =
                APR_ARRAY_IDX(run->paced, i, delivery_t *);
        }
        apr_array_clear(run->paced);
    }
    while (run->qhead < run->queue->nelts
           && pool_http_multi_inflight(m) < DELIVER_PARALLEL) {
        delivery_t *d = APR_ARRAY_IDX(run->queue, run->qhead, delivery_t *);

        run->qhead++;
        if (!d->skip && !may_start(run, d, now)) {
            APR_ARRAY_PUSH(run->paced, delivery_t *) = d;
            run->paced_sec = (apr_int64_t)apr_time_sec(now);
            continue;
        }
        if (!d->skip) {
            prepare(d);
            d->started = now;   /* the second it was paced in */
        }
        if (!d->skip
            && pool_http_multi_add(m, d->rq, on_done, d) == POOL_HTTP_OK) {
            continue;
        }
        if (!d->skip) {
            d->skip = apr_pstrcat(d->p, "cannot start the transfer: ",
                                  d->rq->resp.error, NULL);
        }
        not_sent(run, d);
    }
}

/* Until the next second starts: what a rate limit waits for. */
static void wait_next_second(void)
{
    apr_time_t now = apr_time_now();

    apr_sleep(APR_USEC_PER_SEC - now % APR_USEC_PER_SEC + 1000);
}

/* Whether the queued outcomes are to be written now: enough of them, or
 * the oldest has waited long enough, or nothing else is going on. */
static int flush_due(const recorder_t *rec, int idle)
{
    int n = rec->col[0]->nelts;

    return n && (idle || n >= FLUSH_BATCH
                 || apr_time_now() - rec->first
                    >= apr_time_from_msec(FLUSH_DELAY));
}

/* Back to durable commits, also after an error: the connection goes on
 * to other steps.  rc is the step's outcome so far. */
static pool_db_rc durable_again(pool_step_ctx_t *ctx, pool_db_rc rc,
                                const char **err)
{
    const char *rerr = NULL;
    pool_db_rc rrc = pool_db_exec0(ctx->p, ctx->db, "deliver settings",
                                   "RESET synchronous_commit", 0, NULL,
                                   &rerr);

    if (rc == POOL_DB_OK && rrc != POOL_DB_OK) {
        *err = rerr;
        return rrc;
    }
    return rc;
}

/* The next statement, when the connection is free: a claim when the queue
 * runs low (transfers must not wait for work), otherwise the outcomes when
 * they are due; after a claim the outcomes go first, so neither waits for
 * long. */
static pool_db_rc db_next(deliver_run_t *run, int idle, int *last_claim,
                          apr_time_t until, const char **err)
{
    int queued = run->queue->nelts - run->qhead;
    int want = !run->exhausted && !run->wait
               && queued <= CLAIM_BATCH && apr_time_now() < until;
    int flush = flush_due(run->rec, idle);

    if (want && !(flush && *last_claim)) {
        *last_claim = 1;
        return claim_send(run, err);
    }
    *last_claim = 0;
    return flush ? flush_send(run, err) : POOL_DB_OK;
}

pool_db_rc pool_step_deliver(pool_step_ctx_t *ctx, int *done,
                             const char **err)
{
    pool_http_multi_t *m;
    deliver_run_t run;
    recorder_t rec[2];
    int last_claim = 0;
    apr_time_t until = apr_time_now() + apr_time_from_sec(DELIVER_STEP_TIME);
    pool_db_rc rc = POOL_DB_OK;

    *done = 0;
    memset(&run, 0, sizeof(run));
    run.ctx = ctx;
    run.rec = &rec[0];
    run.flushing = &rec[1];
    run.done = done;
    run.compiled = apr_hash_make(ctx->p);
    run.queue = apr_array_make(ctx->p, DELIVER_PARALLEL, sizeof(delivery_t *));
    run.paced = apr_array_make(ctx->p, 8, sizeof(delivery_t *));
    run.starts = apr_hash_make(ctx->p);
    /* one multi for the whole call, so connections to one host are reused */
    if (pool_http_create(&run.http, ctx->p, USER_AGENT, ctx->net)
            != APR_SUCCESS
        || pool_http_multi_create(&m, run.http, ctx->p) != APR_SUCCESS) {
        *err = "cannot set up outbound HTTP";
        return POOL_DB_ERROR;
    }
    apr_pool_create(&rec[0].p, ctx->p);
    apr_pool_create(&rec[1].p, ctx->p);
    recorder_reset(&rec[0]);
    recorder_reset(&rec[1]);
    /* Claims and outcomes need not wait for the WAL to reach the disk:
     * delivery is at least once, and what a database crash could take back
     * (the last fraction of a second of them) is only sent again, under
     * the same webhook-id.  The events themselves were queued durably.
     * Without this each batch waits for a disk flush and the transfers
     * wait for the batch. */
    if ((rc = pool_db_exec0(ctx->p, ctx->db, "deliver settings",
                            "SET synchronous_commit = off", 0, NULL, err))
        != POOL_DB_OK) {
        pool_http_multi_destroy(m);
        return rc;
    }
    /* One loop moves the transfers, the claims and the outcomes on, and
     * waits for whichever of them comes next.  One call sends everything
     * due (a fan-out) for at most DELIVER_STEP_TIME; what a rate limit
     * holds back is claimed after wait_next_second. */
    for (;;) {
        int idle;

        if (run.db != DB_IDLE && pool_db_call_ready(ctx->db)
            && (rc = db_answer(&run, err)) != POOL_DB_OK) {
            break;
        }
        start_queued(&run, m);
        idle = pool_http_multi_inflight(m) == 0
               && run.qhead == run.queue->nelts;
        if (run.db == DB_IDLE
            && (rc = db_next(&run, idle, &last_claim, until, err))
               != POOL_DB_OK) {
            break;
        }
        if (idle && run.db == DB_IDLE) {
            if (run.paced->nelts) {
                wait_next_second();     /* claimed: they must go */
                continue;
            }
            if (run.exhausted || apr_time_now() >= until) {
                break;
            }
            if (run.wait) {
                wait_next_second();
                run.wait = 0;
            }
            continue;
        }
        pool_http_multi_run_fd(m, apr_time_from_msec(FLUSH_DELAY),
                               run.db != DB_IDLE
                               ? pool_db_call_socket(ctx->db) : -1);
    }
    /* after a database error: drop what is still in flight or queued (the
     * leases expire; each is tried again) */
    pool_http_multi_destroy(m);
    event_forget(&run);
    return durable_again(ctx, rc, err);
}
