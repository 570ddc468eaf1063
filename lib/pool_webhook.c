/* Signed webhooks (Standard Webhooks): secrets, signatures, clients'
 * endpoints, the delivery queue and the `deliver` step.
 *
 * The deliver step claims due deliveries in small batches with FOR UPDATE
 * SKIP LOCKED and a lease (locked_until = now + 60 s, longer than any one
 * attempt may take), opens an attempt row for each (so an attempt cut short
 * by a killed runner stays visible), and sends them in parallel through
 * pool_http's multi interface (one for the whole call, so connections to
 * one host are reused), until nothing is due or DELIVER_STEP_TIME has
 * passed.  The outcomes that complete together are written in one
 * statement, each only while this runner still holds its lease (lock_owner
 * and the attempt number must match), so two runners never send one
 * delivery at the same time and a late writer changes nothing. */
#include <string.h>

#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "pool_webhook.h"
#include "pool_http.h"
#include "pool_imports.h"       /* pool_url_check */
#include "pool_json.h"
#include "pool_log.h"
#include "pool_steps.h"
#include "pool_ts.h"
#include "pool_util.h"

#define DELIVER_PARALLEL    32      /* transfers in flight at once */
#define DELIVER_LEASE       60      /* seconds; > connect + total timeout */
#define DELIVER_STEP_TIME   30      /* seconds a call goes on claiming */
#define CONNECT_TIMEOUT     10
#define TOTAL_TIMEOUT       20
#define RESPONSE_MAX        (64 * 1024)     /* response bytes read */
#define SNIPPET_MAX         200     /* of a failure's body, in last_error */
#define ERROR_MAX           1000
#define RETRY_AFTER_MAX     86400
#define LIST_MAX            10000
#define USER_AGENT          "mod_pool"

#define INTERRUPTED_MSG "no outcome recorded: the runner stopped during " \
                        "this attempt"

/* ------------------------------------------------------------ helpers */

static const char *col(apr_pool_t *p, const PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL
                                  : apr_pstrdup(p, PQgetvalue(r, row, c));
}

static const char *col_ts(apr_pool_t *p, const PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL
        : pool_ts_format(p, (apr_time_t)apr_atoi64(PQgetvalue(r, row, c)));
}

static int col_int(const PGresult *r, int row, int c, int dflt)
{
    return PQgetisnull(r, row, c) ? dflt : atoi(PQgetvalue(r, row, c));
}

#define col_bool pool_db_col_bool

/* At most max bytes of s, printable ASCII only (others become '?'). */
static char *clean_text(apr_pool_t *p, const char *s, apr_size_t n,
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

/* ------------------------------------------------------------ signing */

const char *pool_webhook_secret_new(apr_pool_t *p)
{
    unsigned char key[POOL_WEBHOOK_KEY_BYTES];
    const char *s;

    if (pool_random(key, sizeof(key)) != APR_SUCCESS) {
        return NULL;
    }
    s = apr_pstrcat(p, POOL_WEBHOOK_SECRET_PREFIX,
                    pool_b64_encode(p, key, sizeof(key)), NULL);
    memset(key, 0, sizeof(key));
    return s;
}

const char *pool_webhook_secret_key(apr_pool_t *p, const char *secret,
                                    const unsigned char **key,
                                    apr_size_t *keylen)
{
    const apr_size_t plen = sizeof(POOL_WEBHOOK_SECRET_PREFIX) - 1;
    unsigned char *k = NULL;
    apr_ssize_t n;
    apr_size_t slen;

    if (!secret || strncmp(secret, POOL_WEBHOOK_SECRET_PREFIX, plen)) {
        return "a webhook secret starts with \"whsec_\"";
    }
    slen = strlen(secret + plen);
    /* 64 bytes are 88 base64 characters; refuse anything much longer */
    if (slen == 0 || slen > 128) {
        return "a webhook secret has 24 to 64 bytes of base64 after \"whsec_\"";
    }
    n = pool_b64_decode(p, secret + plen, slen, &k);
    if (n < 0) {
        return "a webhook secret's key is not valid base64";
    }
    if (n < POOL_WEBHOOK_KEY_MIN || n > POOL_WEBHOOK_KEY_MAX) {
        return "a webhook secret has 24 to 64 bytes of base64 after \"whsec_\"";
    }
    *key = k;
    *keylen = (apr_size_t)n;
    return NULL;
}

/* HMAC-SHA256(key, id "." ts "." body) */
static void mac(const unsigned char *key, apr_size_t keylen, apr_pool_t *p,
                const char *id, const char *ts, const char *body,
                apr_size_t len, unsigned char out[32])
{
    apr_size_t ilen = strlen(id), tlen = strlen(ts);
    char *msg = apr_palloc(p, ilen + tlen + len + 3);

    memcpy(msg, id, ilen);
    msg[ilen] = '.';
    memcpy(msg + ilen + 1, ts, tlen);
    msg[ilen + 1 + tlen] = '.';
    if (len) {
        memcpy(msg + ilen + tlen + 2, body, len);
    }
    pool_hmac_sha256(key, keylen, msg, ilen + tlen + 2 + len, out);
}

const char *pool_webhook_sign(apr_pool_t *p, const char *secret,
                              const char *id, apr_int64_t timestamp,
                              const char *body, apr_size_t len,
                              const char **err)
{
    const unsigned char *key;
    apr_size_t keylen;
    unsigned char sig[32];
    const char *why;

    if ((why = pool_webhook_secret_key(p, secret, &key, &keylen)) != NULL) {
        *err = why;
        return NULL;
    }
    if (!id || !*id) {
        *err = "a webhook needs an id";
        return NULL;
    }
    mac(key, keylen, p, id,
        apr_psprintf(p, "%" APR_INT64_T_FMT, timestamp), body, len, sig);
    return apr_pstrcat(p, "v1,", pool_b64_encode(p, sig, sizeof(sig)), NULL);
}

int pool_webhook_verify(apr_pool_t *p, const char *secret, const char *id,
                        const char *timestamp, const char *body,
                        apr_size_t len, const char *sig_header,
                        apr_int64_t now, int tolerance)
{
    const unsigned char *key;
    apr_size_t keylen, i, tlen;
    unsigned char want[32];
    const char *s;
    int ok = 0;

    if (!id || !*id || !timestamp || !sig_header
        || pool_webhook_secret_key(p, secret, &key, &keylen)) {
        return 0;
    }
    tlen = strlen(timestamp);
    if (tlen == 0 || tlen > 18) {
        return 0;
    }
    for (i = 0; i < tlen; i++) {
        if (!apr_isdigit(timestamp[i])) {
            return 0;
        }
    }
    if (tolerance > 0) {
        apr_int64_t ts = apr_atoi64(timestamp);
        if (ts < now - tolerance || ts > now + tolerance) {
            return 0;
        }
    }
    mac(key, keylen, p, id, timestamp, body, len, want);
    /* "v1,<sig> v1,<sig2> ...": any one that matches */
    s = sig_header;
    while (*s) {
        const char *e;
        unsigned char *got = NULL;
        apr_ssize_t n;

        while (*s == ' ') {
            s++;
        }
        e = s;
        while (*e && *e != ' ') {
            e++;
        }
        if (e - s > 3 && !strncmp(s, "v1,", 3)) {
            n = pool_b64_decode(p, s + 3, (apr_size_t)(e - s - 3), &got);
            if (n == (apr_ssize_t)sizeof(want)
                && pool_ct_equal(got, want, sizeof(want))) {
                ok = 1;
            }
        }
        s = e;
    }
    return ok;
}

const char *pool_webhook_event_check(const char *event)
{
    apr_size_t i, n = event ? strlen(event) : 0;

    if (n == 0 || n > POOL_WEBHOOK_EVENT_MAX) {
        return "an event type has 1 to 100 characters";
    }
    for (i = 0; i < n; i++) {
        char ch = event[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || (i > 0 && (ch == '.' || ch == '_' || ch == '-')))) {
            return "an event type is made of a-z, 0-9, '.', '_' and '-'";
        }
    }
    return NULL;
}

/* ------------------------------------------------------- backoff, parsing */

int pool_delivery_backoff(int attempts)
{
    /* one wait after each attempt but the last: about 24 h in all */
    static const int schedule[POOL_DELIVERY_MAX_ATTEMPTS - 1] = {
        30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800
    };
    unsigned char r[2] = { 0, 0 };
    int base;

    if (attempts < 1) {
        attempts = 1;
    }
    if (attempts >= POOL_DELIVERY_MAX_ATTEMPTS) {
        return 0;
    }
    base = schedule[attempts - 1];
    pool_random(r, sizeof(r));
    /* +-10% */
    return base - base / 10 + (int)(((long)base / 5) * ((r[0] << 8) | r[1])
                                     / 65535);
}

long pool_retry_after_parse(const char *value, apr_int64_t now)
{
    const char *s = value, *e;
    apr_size_t n, i;
    long secs;

    if (!s) {
        return -1;
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
                     || e[-1] == '\n')) {
        e--;
    }
    n = (apr_size_t)(e - s);
    if (n == 0 || n > 64) {
        return -1;
    }
    for (i = 0; i < n && apr_isdigit(s[i]); i++) {
    }
    if (i == n) {
        if (n > 9) {
            return RETRY_AFTER_MAX;         /* far future: the cap */
        }
        secs = atol(s);
    }
    else {
        char buf[65];
        apr_time_t t;

        memcpy(buf, s, n);
        buf[n] = '\0';
        t = apr_date_parse_http(buf);
        if (t <= 0) {
            return -1;
        }
        if (apr_time_sec(t) - now > RETRY_AFTER_MAX) {
            return RETRY_AFTER_MAX;
        }
        secs = (long)(apr_time_sec(t) - now);
    }
    if (secs <= 0) {
        return -1;
    }
    return secs > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : secs;
}

/* -------------------------------------------- clients' webhook endpoints */

pool_db_rc pool_client_callback_set(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    const char *url, const char **secret,
                                    int *created, const char **err)
{
    const char *params[4];
    const char *s = pool_webhook_secret_new(p);
    PGresult *res;
    pool_db_rc rc;

    if (!s) {
        *err = "no randomness for a webhook secret";
        return POOL_DB_ERROR;
    }
    params[0] = pool;
    params[1] = client_id;
    params[2] = url;
    params[3] = s;
    rc = pool_db_exec(p, c, "register callback",
        "WITH old AS ("
        "  SELECT c.id, c.callback_url FROM clients c"
        "  JOIN pools p ON p.id = c.pool_id"
        "  WHERE p.name = $1 AND c.client_id = $2 FOR UPDATE OF c)"
        " UPDATE clients c SET callback_url = $3, webhook_secret = $4,"
        "   callback_disabled_at = NULL"
        " FROM old WHERE c.id = old.id"
        " RETURNING old.callback_url IS NULL",
        4, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    *created = col_bool(res, 0, 0);
    *secret = s;
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_client_callback_clear(apr_pool_t *p, PGconn *c,
                                      const char *pool, const char *client_id,
                                      const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;
    int n;

    params[0] = pool;
    params[1] = client_id;
    rc = pool_db_exec(p, c, "unregister callback",
        "UPDATE clients c SET callback_url = NULL, webhook_secret = NULL,"
        "   callback_disabled_at = NULL"
        " FROM pools p WHERE p.id = c.pool_id AND p.name = $1"
        " AND c.client_id = $2 AND c.callback_url IS NOT NULL"
        " RETURNING c.id",
        2, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    PQclear(res);
    return n == 1 ? POOL_DB_OK : POOL_DB_NOTFOUND;
}

pool_db_rc pool_client_callback_get(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    pool_callback_t **out, const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;
    pool_callback_t *cb;

    params[0] = pool;
    params[1] = client_id;
    rc = pool_db_exec(p, c, "read callback",
        "SELECT c.callback_url, c.webhook_secret,"
        "   (extract(epoch FROM c.callback_disabled_at) * 1000000)::bigint"
        " FROM clients c JOIN pools p ON p.id = c.pool_id"
        " WHERE p.name = $1 AND c.client_id = $2",
        2, params, 3, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    cb = apr_pcalloc(p, sizeof(*cb));
    cb->url = col(p, res, 0, 0);
    cb->secret = col(p, res, 0, 1);
    cb->disabled_at = col_ts(p, res, 0, 2);
    PQclear(res);
    *out = cb;
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ enqueue */

/* {"type": event, "timestamp": now, "data": payload} as text. */
static const char *envelope(apr_pool_t *p, const char *event,
                            const char *payload_json, const char **err)
{
    json_error_t jerr;
    json_t *data, *env;
    const char *body;

    data = json_loads(payload_json ? payload_json : "{}",
                      JSON_REJECT_DUPLICATES, &jerr);
    if (!data || !json_is_object(data)) {
        if (data) {
            json_decref(data);
        }
        *err = "a webhook payload must be a JSON object";
        return NULL;
    }
    env = json_object();
    json_object_set_new(env, "type", json_string(event));
    json_object_set_new(env, "timestamp",
                        json_string(pool_ts_format(p, apr_time_now())));
    json_object_set_new(env, "data", data);
    body = pool_json_dump(p, env);
    json_decref(env);
    if (!body) {
        *err = "cannot encode the webhook payload";
        return NULL;
    }
    if (strlen(body) > POOL_WEBHOOK_BODY_MAX) {
        *err = "the webhook payload is larger than 1 MB";
        return NULL;
    }
    return body;
}

pool_db_rc pool_delivery_enqueue(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *client_id, const char *url,
                                 const char *secret, const char *event,
                                 const char *payload_json, const char **id,
                                 const char **err)
{
    const char *params[8], *why, *body, *pool_pk, *client_pk = NULL;
    const unsigned char *key;
    apr_size_t keylen;
    PGresult *res;
    pool_db_rc rc;
    int endpoint = 0;

    if ((why = pool_webhook_event_check(event)) != NULL) {
        *err = why;
        return POOL_DB_ERROR;
    }
    if (!client_id && (!url || !secret)) {
        *err = "a delivery without a client needs a URL and a secret";
        return POOL_DB_ERROR;
    }
    if (url && (why = pool_url_check(p, url)) != NULL) {
        *err = apr_pstrcat(p, "webhook URL: ", why, NULL);
        return POOL_DB_ERROR;
    }
    if (secret && (why = pool_webhook_secret_key(p, secret, &key, &keylen))) {
        *err = why;
        return POOL_DB_ERROR;
    }
    if (!(body = envelope(p, event, payload_json, err))) {
        return POOL_DB_ERROR;
    }
    params[0] = pool;
    params[1] = client_id;
    if (client_id) {
        rc = pool_db_exec(p, c, "webhook target",
            "SELECT p.id, c.id, c.callback_url, c.webhook_secret,"
            "   c.callback_disabled_at IS NOT NULL"
            " FROM pools p JOIN clients c ON c.pool_id = p.id"
            " WHERE p.name = $1 AND c.client_id = $2",
            2, params, 5, &res, err);
    }
    else {
        rc = pool_db_exec(p, c, "webhook target",
            "SELECT id FROM pools WHERE name = $1", 1, params, 1, &res, err);
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    pool_pk = col(p, res, 0, 0);
    if (client_id) {
        const char *cb_url = col(p, res, 0, 2);
        const char *cb_secret = col(p, res, 0, 3);
        int disabled = col_bool(res, 0, 4);

        client_pk = col(p, res, 0, 1);
        if (!url) {
            if (!cb_url || !cb_secret) {
                *err = "the client has no webhook endpoint registered";
                PQclear(res);
                return POOL_DB_CONFLICT;
            }
            if (disabled) {
                *err = "the client's webhook endpoint was disabled after it "
                       "answered 410 Gone; registering it again enables it";
                PQclear(res);
                return POOL_DB_CONFLICT;
            }
            url = cb_url;
            secret = cb_secret;
            endpoint = 1;
        }
        else if (!secret) {
            if (!cb_secret) {
                *err = "the client has no webhook secret (it gets one when it "
                       "registers a callback)";
                PQclear(res);
                return POOL_DB_CONFLICT;
            }
            secret = cb_secret;
        }
    }
    PQclear(res);
    if (!(*id = pool_uuid(p))) {
        *err = "no randomness for an id";
        return POOL_DB_ERROR;
    }
    params[0] = *id;
    params[1] = pool_pk;
    params[2] = client_pk;
    params[3] = url;
    params[4] = secret;
    params[5] = event;
    params[6] = body;
    params[7] = endpoint ? "true" : "false";
    return pool_db_exec0(p, c, "queue webhook",
        "INSERT INTO deliveries (id, pool_id, client_id, url, secret, event,"
        "                        payload, endpoint)"
        " VALUES ($1::uuid, $2::bigint, $3::bigint, $4, $5, $6, $7::jsonb,"
        "         $8::boolean)",
        8, params, err);
}

pool_db_rc pool_delivery_enqueue_endpoints(apr_pool_t *p, PGconn *c,
                                           apr_int64_t pool_pk,
                                           const char *event,
                                           const char *payload_json, int *n,
                                           const char **err)
{
    const char *params[3], *why, *body;
    PGresult *res;
    pool_db_rc rc;

    *n = 0;
    if ((why = pool_webhook_event_check(event)) != NULL) {
        *err = why;
        return POOL_DB_ERROR;
    }
    if (!(body = envelope(p, event, payload_json, err))) {
        return POOL_DB_ERROR;
    }
    params[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, pool_pk);
    params[1] = event;
    params[2] = body;
    /* url and secret are the endpoint's at queueing time; the deliver step
     * uses the endpoint's current ones (endpoint = true) */
    rc = pool_db_exec(p, c, "queue webhooks",
        "WITH ins AS (INSERT INTO deliveries (id, pool_id, client_id, url,"
        "                                     secret, event, payload, endpoint)"
        " SELECT gen_random_uuid(), c.pool_id, c.id, c.callback_url,"
        "        c.webhook_secret, $2, $3::jsonb, true"
        " FROM clients c WHERE c.pool_id = $1::bigint"
        "   AND c.callback_url IS NOT NULL AND c.webhook_secret IS NOT NULL"
        "   AND c.callback_disabled_at IS NULL AND c.disabled_at IS NULL"
        " RETURNING 1)"
        " SELECT count(*) FROM ins",
        3, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return POOL_DB_OK;
}

/* ------------------------------------------------------ list, get, retry */

#define DELIVERY_COLUMNS \
    "d.id::text, p.name, cl.client_id, d.event, d.url, d.state, d.attempts," \
    " d.last_status, d.last_error," \
    " CASE WHEN d.state = 'pending'" \
    "   THEN (extract(epoch FROM d.next_attempt_at) * 1000000)::bigint END," \
    " (extract(epoch FROM d.created_at) * 1000000)::bigint," \
    " (extract(epoch FROM d.delivered_at) * 1000000)::bigint"
#define DELIVERY_NCOLS 12
#define DELIVERY_FROM \
    " FROM deliveries d JOIN pools p ON p.id = d.pool_id" \
    " LEFT JOIN clients cl ON cl.id = d.client_id"

static pool_delivery_t *delivery_row(apr_pool_t *p, const PGresult *r,
                                     int i)
{
    pool_delivery_t *d = apr_pcalloc(p, sizeof(*d));

    d->id = col(p, r, i, 0);
    d->pool = col(p, r, i, 1);
    d->client_id = col(p, r, i, 2);
    d->event = col(p, r, i, 3);
    d->url = col(p, r, i, 4);
    d->state = col(p, r, i, 5);
    d->attempts = col_int(r, i, 6, 0);
    d->last_status = col_int(r, i, 7, -1);
    d->last_error = col(p, r, i, 8);
    d->next_attempt_at = col_ts(p, r, i, 9);
    d->created_at = col_ts(p, r, i, 10);
    d->delivered_at = col_ts(p, r, i, 11);
    return d;
}

pool_db_rc pool_delivery_list(apr_pool_t *p, PGconn *c, const char *pool,
                              int failed_only, int limit,
                              apr_array_header_t **out, const char **err)
{
    const char *params[3];
    PGresult *res;
    pool_db_rc rc;
    int i;

    if (pool) {
        pool_pool_t *pp;
        rc = pool_db_pool_get(p, c, pool, &pp, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
    }
    if (limit < 1 || limit > LIST_MAX) {
        limit = LIST_MAX;
    }
    params[0] = pool;
    params[1] = failed_only ? "true" : "false";
    params[2] = apr_itoa(p, limit);
    rc = pool_db_exec(p, c, "list deliveries",
        "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
        " WHERE ($1::text IS NULL OR p.name = $1)"
        " AND (NOT $2::boolean OR d.state = 'failed')"
        " ORDER BY d.created_at DESC, d.id LIMIT $3::int",
        3, params, DELIVERY_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *out = apr_array_make(p, PQntuples(res) + 1, sizeof(pool_delivery_t *));
    for (i = 0; i < PQntuples(res); i++) {
        APR_ARRAY_PUSH(*out, pool_delivery_t *) = delivery_row(p, res, i);
    }
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_delivery_get(apr_pool_t *p, PGconn *c, const char *id,
                             pool_delivery_t **out,
                             apr_array_header_t **attempts, const char **err)
{
    const char *params[1];
    PGresult *res;
    pool_db_rc rc;
    int i;

    if (!pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
    rc = pool_db_exec(p, c, "read delivery",
        "SELECT " DELIVERY_COLUMNS DELIVERY_FROM " WHERE d.id = $1::uuid",
        1, params, DELIVERY_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    *out = delivery_row(p, res, 0);
    PQclear(res);
    if (!attempts) {
        return POOL_DB_OK;
    }
    rc = pool_db_exec(p, c, "read delivery attempts",
        "SELECT (extract(epoch FROM at) * 1000000)::bigint, status, error,"
        "   duration_ms"
        " FROM delivery_attempts WHERE delivery_id = $1::uuid"
        " ORDER BY at, id LIMIT 1000",
        1, params, 4, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *attempts = apr_array_make(p, PQntuples(res) + 1,
                               sizeof(pool_delivery_attempt_t *));
    for (i = 0; i < PQntuples(res); i++) {
        pool_delivery_attempt_t *a = apr_pcalloc(p, sizeof(*a));
        a->at = col_ts(p, res, i, 0);
        a->status = col_int(res, i, 1, -1);
        a->error = col(p, res, i, 2);
        a->duration_ms = col_int(res, i, 3, -1);
        APR_ARRAY_PUSH(*attempts, pool_delivery_attempt_t *) = a;
    }
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_delivery_retry(apr_pool_t *p, PGconn *c, const char *id,
                               const char **err)
{
    const char *params[1];
    PGresult *res;
    pool_db_rc rc;
    const char *state;

    if (!pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
    /* the lease is left alone: an attempt in flight finishes first */
    rc = pool_db_exec(p, c, "retry delivery",
        "WITH old AS (SELECT id, state FROM deliveries WHERE id = $1::uuid"
        "   FOR UPDATE),"
        " upd AS (UPDATE deliveries d SET state = 'pending',"
        "   next_attempt_at = now()"
        "   FROM old WHERE d.id = old.id AND old.state <> 'delivered'"
        "   RETURNING d.id)"
        " SELECT old.state FROM old",
        1, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    state = col(p, res, 0, 0);
    PQclear(res);
    if (state && !strcmp(state, "delivered")) {
        *err = "the delivery was delivered already";
        return POOL_DB_CONFLICT;
    }
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ the step */

/* Outcomes waiting to be written, one column array each: one statement
 * records a whole batch (a round trip per delivery held fan-out to a few
 * hundred a second, bench/rounds). */
#define REC_COLS 9
typedef struct {
    apr_pool_t *p;              /* the strings; cleared after each flush */
    apr_array_header_t *col[REC_COLS];
    apr_array_header_t *log;    /* (level, line) written once recorded */
} recorder_t;

/* One call of the step: what its deliveries share. */
typedef struct {
    pool_step_ctx_t *ctx;
    pool_http_t *http;
    recorder_t *rec;
    int *done;
} deliver_run_t;

typedef struct {
    deliver_run_t *run;
    apr_pool_t *p;              /* this delivery's; destroyed when done */
    pool_http_req_t *rq;        /* NULL when it is not sent */
    const char *id;
    const char *attempt_id;
    const char *attempts;       /* the lease's fencing number, as text */
    int n_attempts;
    const char *url;
    const char *secret;
    const char *body;
    const char *skip;           /* do not send: fail with this reason */
    int fail_now;               /* skip is permanent */
    int registered;             /* url is the client's registered endpoint */
    apr_time_t started;
} delivery_t;

typedef struct {
    const char *state;          /* delivered, pending, failed */
    int status;                 /* -1: none */
    const char *error;
    int wait;                   /* seconds, when pending */
} outcome_t;

/* Prepares the request; sets d->skip on a permanent problem. */
static void prepare(delivery_t *d)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *sig, *why = NULL;
    pool_http_req_t *rq;

    sig = pool_webhook_sign(d->p, d->secret, d->id, now, d->body,
                            strlen(d->body), &why);
    if (!sig) {
        d->skip = apr_pstrcat(d->p, "cannot sign: ", why, NULL);
        d->fail_now = 1;
        return;
    }
    rq = pool_http_req_make(d->run->http, d->p, "POST", d->url);
    apr_table_setn(rq->headers, "Content-Type", "application/json");
    apr_table_setn(rq->headers, "webhook-id", d->id);
    apr_table_setn(rq->headers, "webhook-timestamp",
                   apr_psprintf(d->p, "%" APR_INT64_T_FMT, now));
    apr_table_setn(rq->headers, "webhook-signature", sig);
    rq->body = d->body;
    rq->body_len = (apr_off_t)strlen(d->body);
    /* the receiver's answer is not used: read a little, then stop */
    rq->body_max = RESPONSE_MAX;
    rq->timeout.connect = apr_time_from_sec(CONNECT_TIMEOUT);
    rq->timeout.total = apr_time_from_sec(TOTAL_TIMEOUT);
    d->rq = rq;
    d->started = apr_time_now();
}

static void release(delivery_t *d)
{
    apr_pool_destroy(d->p);     /* the request's memory with it */
}

/* A failure: retried with backoff (or Retry-After, when retry_after > 0)
 * until the last attempt. */
static void retry_or_fail(delivery_t *d, outcome_t *o, long retry_after)
{
    int wait = pool_delivery_backoff(d->n_attempts);

    if (wait <= 0) {
        o->state = "failed";
        o->error = apr_psprintf(d->p, "%s; gave up after %d attempts",
                                o->error, d->n_attempts);
        return;
    }
    if (retry_after > 0) {
        wait = (int)retry_after;
    }
    o->state = "pending";
    o->wait = wait;
}

/* No answer: refused by the policy, or why none came. */
static void classify_no_answer(delivery_t *d, const pool_http_resp_t *resp,
                               outcome_t *o)
{
    const char *e = resp->error ? resp->error : "?";

    if (resp->err == POOL_HTTP_EDENIED) {
        o->state = "failed";
        o->error = e;
        return;
    }
    o->error = apr_pstrcat(d->p, "no answer: ",
                           clean_text(d->p, e, strlen(e), 400), NULL);
    if (resp->err == POOL_HTTP_EURL) {
        o->state = "failed";
        return;
    }
    retry_or_fail(d, o, 0);
}

static void classify(delivery_t *d, outcome_t *o)
{
    const pool_http_resp_t *resp;
    int code;

    memset(o, 0, sizeof(*o));
    o->status = -1;
    if (d->skip) {
        o->error = d->skip;
        if (d->fail_now) {
            o->state = "failed";
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
        classify_no_answer(d, resp, o);
        return;
    }
    /* an answer: its status decides, even if reading its body failed */
    if (code >= 200 && code <= 299) {
        o->state = "delivered";
        return;
    }
    if (code == 410) {
        o->state = "failed";
        o->error = d->registered
                   ? "the endpoint answered 410 Gone: it is disabled, no "
                     "more events are sent to it until it is registered again"
                   : "the endpoint answered 410 Gone";
        return;
    }
    if (code >= 300 && code <= 399) {
        o->error = apr_psprintf(d->p, "the endpoint answered %d: redirects "
                                "are not followed (register the final URL)",
                                code);
    }
    else {
        apr_size_t n = resp->len < SNIPPET_MAX ? resp->len : SNIPPET_MAX;
        o->error = apr_psprintf(d->p, "the endpoint answered %d%s%s", code,
                                n ? ": " : "",
                                clean_text(d->p, resp->body, n, SNIPPET_MAX));
    }
    retry_or_fail(d, o, (code == 429 || code == 503)
                  ? pool_retry_after_parse(apr_table_get(resp->headers,
                                                         "Retry-After"),
                                           apr_time_sec(apr_time_now()))
                  : 0);
}

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

/* Classifies the outcome of d and queues it (copied: d goes next). */
static void record(recorder_t *rec, delivery_t *d)
{
    apr_time_t took = d->started ? apr_time_now() - d->started : 0;
    const char *v[REC_COLS];
    rec_log_t *l;
    outcome_t o;
    int i;

    classify(d, &o);
    if (o.error && strlen(o.error) > ERROR_MAX) {
        o.error = clean_text(d->p, o.error, strlen(o.error), ERROR_MAX);
    }
    v[0] = d->id;
    v[1] = d->attempt_id;
    v[2] = o.status >= 0 ? apr_itoa(d->p, o.status) : NULL;
    v[3] = o.error;
    v[4] = d->started ? apr_ltoa(d->p, (long)apr_time_as_msec(took)) : "0";
    v[5] = o.state;
    v[6] = apr_itoa(d->p, o.wait);
    v[7] = d->attempts;
    v[8] = d->url;              /* where this attempt went (list shows it) */
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
static pool_db_rc flush(pool_step_ctx_t *ctx, recorder_t *rec,
                        const char **err)
{
    const char *params[REC_COLS + 1];
    pool_db_rc rc;
    int i, n = rec->col[0]->nelts;

    if (!n) {
        return POOL_DB_OK;
    }
    for (i = 0; i < REC_COLS; i++) {
        params[i] = pool_db_array(rec->p,
                                  (const char *const *)rec->col[i]->elts, n);
    }
    params[REC_COLS] = ctx->owner;
    rc = pool_db_exec0(ctx->p, ctx->db, "record webhook attempts",
        "WITH o AS (SELECT * FROM unnest($1::uuid[], $2::bigint[],"
        "   $3::int[], $4::text[], $5::int[], $6::text[], $7::int[],"
        "   $8::int[], $9::text[])"
        "   AS o(id, attempt_id, status, error, duration_ms, state, wait,"
        "        attempts, url)),"
        " a AS (UPDATE delivery_attempts da SET status = o.status,"
        "   error = o.error, duration_ms = o.duration_ms"
        "   FROM o WHERE da.id = o.attempt_id),"
        " d AS (UPDATE deliveries d SET state = o.state,"
        "   last_status = o.status, last_error = o.error,"
        "   locked_until = NULL, lock_owner = NULL, url = o.url,"
        "   next_attempt_at = CASE WHEN o.state = 'pending'"
        "     THEN now() + make_interval(secs => o.wait)"
        "     ELSE d.next_attempt_at END,"
        "   delivered_at = CASE WHEN o.state = 'delivered' THEN now() END"
        "   FROM o WHERE d.id = o.id AND d.lock_owner = $10"
        "   AND d.attempts = o.attempts AND d.state = 'pending'"
        "   RETURNING d.client_id, d.url, o.state, o.status)"
        " UPDATE clients c SET callback_disabled_at = now()"
        " FROM d WHERE d.state = 'failed' AND d.status = 410"
        " AND c.id = d.client_id AND c.callback_url = d.url"
        " AND c.callback_disabled_at IS NULL",
        REC_COLS + 1, params, err);
    if (rc == POOL_DB_OK) {
        for (i = 0; i < rec->log->nelts; i++) {
            rec_log_t *l = &APR_ARRAY_IDX(rec->log, i, rec_log_t);
            pool_log(l->level, "%s", l->line);
        }
    }
    recorder_reset(rec);
    return rc;
}

/* Claims up to n due deliveries and turns them into prepared transfers
 * (pushed on out).  *got = number claimed. */
static pool_db_rc claim(deliver_run_t *run, int n, apr_array_header_t *out,
                        int *got, const char **err)
{
    pool_step_ctx_t *ctx = run->ctx;
    const char *params[4];
    PGresult *res;
    pool_db_rc rc;
    int i;

    params[0] = ctx->owner;
    params[1] = apr_itoa(ctx->p, n);
    params[2] = apr_itoa(ctx->p, DELIVER_LEASE);
    params[3] = INTERRUPTED_MSG;
    rc = pool_db_exec(ctx->p, ctx->db, "claim webhooks",
        "WITH due AS ("
        "  SELECT id FROM deliveries"
        "  WHERE state = 'pending' AND next_attempt_at <= now()"
        "  AND (locked_until IS NULL OR locked_until < now())"
        "  ORDER BY next_attempt_at, id LIMIT $2::int"
        "  FOR UPDATE SKIP LOCKED),"
        " c AS ("
        "  UPDATE deliveries d SET lock_owner = $1, attempts = d.attempts + 1,"
        "    locked_until = now() + make_interval(secs => $3::int)"
        "  FROM due WHERE d.id = due.id"
        "  RETURNING d.id, d.client_id, d.url, d.secret, d.payload,"
        "    d.attempts, d.endpoint),"
        " a AS ("
        "  INSERT INTO delivery_attempts (delivery_id, error)"
        "  SELECT id, $4 FROM c RETURNING id, delivery_id)"
        " SELECT c.id::text, a.id, c.attempts, c.payload::text, c.url,"
        "   c.secret, c.endpoint, cl.callback_url, cl.webhook_secret,"
        "   cl.callback_disabled_at IS NOT NULL, cl.disabled_at IS NOT NULL,"
        "   cl.id IS NOT NULL"
        " FROM c JOIN a ON a.delivery_id = c.id"
        " LEFT JOIN clients cl ON cl.id = c.client_id",
        4, params, 12, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *got = PQntuples(res);
    for (i = 0; i < *got; i++) {
        delivery_t *d;
        apr_pool_t *dp;
        int endpoint = col_bool(res, i, 6), has_client = col_bool(res, i, 11);

        if (apr_pool_create(&dp, ctx->p) != APR_SUCCESS) {
            PQclear(res);
            *err = "out of memory";
            return POOL_DB_ERROR;
        }
        d = apr_pcalloc(dp, sizeof(*d));
        d->run = run;
        d->p = dp;
        d->id = col(dp, res, i, 0);
        d->attempt_id = col(dp, res, i, 1);
        d->attempts = col(dp, res, i, 2);
        d->n_attempts = col_int(res, i, 2, 1);
        d->body = col(dp, res, i, 3);
        d->url = col(dp, res, i, 4);
        d->secret = col(dp, res, i, 5);
        if (has_client && col_bool(res, i, 10)) {
            d->skip = "the client was disabled";
            d->fail_now = 1;
        }
        else if (endpoint) {
            if (!col(dp, res, i, 7) || !col(dp, res, i, 8)) {
                d->skip = "the client unregistered its webhook endpoint";
                d->fail_now = 1;
            }
            else if (col_bool(res, i, 9)) {
                d->skip = "the client's webhook endpoint is disabled (it "
                          "answered 410 Gone)";
                d->fail_now = 1;
            }
            else {
                /* the endpoint as it is now: re-registering moves it */
                d->url = col(dp, res, i, 7);
                d->secret = col(dp, res, i, 8);
            }
        }
        else if (has_client && col(dp, res, i, 8)) {
            d->secret = col(dp, res, i, 8);     /* rotated secrets apply */
        }
        d->registered = has_client && !PQgetisnull(res, i, 7)
                        && !strcmp(d->url, PQgetvalue(res, i, 7));
        if (!d->skip) {
            prepare(d);
        }
        APR_ARRAY_PUSH(out, delivery_t *) = d;
    }
    PQclear(res);
    return POOL_DB_OK;
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

/* Claims a batch and starts its transfers; those that cannot start are
 * recorded at once.  *exhausted when nothing more is due. */
static pool_db_rc refill(deliver_run_t *run, pool_http_multi_t *m, int room,
                         apr_array_header_t *batch, int *exhausted,
                         const char **err)
{
    pool_db_rc rc;
    int got = 0, i;

    batch->nelts = 0;
    if ((rc = claim(run, room, batch, &got, err)) != POOL_DB_OK) {
        return rc;
    }
    if (got < room) {
        *exhausted = 1;
    }
    for (i = 0; i < batch->nelts; i++) {
        delivery_t *d = APR_ARRAY_IDX(batch, i, delivery_t *);

        if (!d->skip
            && pool_http_multi_add(m, d->rq, on_done, d) == POOL_HTTP_OK) {
            continue;
        }
        if (!d->skip) {
            d->skip = apr_pstrcat(d->p, "cannot start the transfer: ",
                                  d->rq->resp.error, NULL);
        }
        record(run->rec, d);
        release(d);
        (*run->done)++;
    }
    return POOL_DB_OK;
}

pool_db_rc pool_step_deliver(pool_step_ctx_t *ctx, int *done,
                             const char **err)
{
    pool_http_multi_t *m;
    apr_array_header_t *batch;
    deliver_run_t run;
    recorder_t rec;
    int exhausted = 0;
    apr_time_t until = apr_time_now() + apr_time_from_sec(DELIVER_STEP_TIME);
    pool_db_rc rc = POOL_DB_OK;

    *done = 0;
    run.ctx = ctx;
    run.rec = &rec;
    run.done = done;
    /* one multi for the whole call, so connections to one host are reused */
    if (pool_http_create(&run.http, ctx->p, USER_AGENT, ctx->net)
            != APR_SUCCESS
        || pool_http_multi_create(&m, run.http, ctx->p) != APR_SUCCESS) {
        *err = "cannot set up outbound HTTP";
        return POOL_DB_ERROR;
    }
    apr_pool_create(&rec.p, ctx->p);
    recorder_reset(&rec);
    batch = apr_array_make(ctx->p, DELIVER_PARALLEL, sizeof(delivery_t *));
    for (;;) {
        int inflight = pool_http_multi_inflight(m);
        int room = DELIVER_PARALLEL - inflight;

        /* refill in batches while there is work, room and time: one call
         * sends everything due (a fan-out), for at most DELIVER_STEP_TIME */
        if (!exhausted && (inflight == 0 || room >= DELIVER_PARALLEL / 4)
            && apr_time_now() < until) {
            rc = refill(&run, m, room, batch, &exhausted, err);
            if (rc != POOL_DB_OK) {
                break;
            }
        }
        if (pool_http_multi_inflight(m) == 0) {
            if ((rc = flush(ctx, &rec, err)) != POOL_DB_OK
                || exhausted || apr_time_now() >= until) {
                break;
            }
            continue;
        }
        pool_http_multi_run(m, apr_time_from_msec(500));
        /* what finished in this round, in one statement */
        if ((rc = flush(ctx, &rec, err)) != POOL_DB_OK) {
            break;
        }
    }
    /* after a database error: drop what is still in flight */
    pool_http_multi_destroy(m);
    return rc;
}
