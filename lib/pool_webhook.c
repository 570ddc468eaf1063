/* Signed webhooks (Standard Webhooks): secrets, signatures, retry
 * timing, clients' callback endpoints and deliveries to a given URL (a
 * processor's trigger, an import's callback).  Endpoints are in
 * pool_endpoints.c, the deliver step in pool_deliver.c. */
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
#include "pool_ts.h"
#include "pool_util.h"

#define RETRY_AFTER_MAX     86400

/* ------------------------------------------------------------ helpers */

static const char *col(apr_pool_t *p, const PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL
                                  : apr_pstrdup(p, PQgetvalue(r, row, c));
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

/* -------------------------------------------- clients' callback endpoints */

pool_db_rc pool_client_callback_set(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    const char *url, const char **secret,
                                    int *created, const char **err)
{
    const char *params[5], *s = pool_webhook_secret_new(p);
    unsigned char rnd[12];
    PGresult *res;
    pool_db_rc rc;

    if (!s || pool_random(rnd, sizeof(rnd)) != APR_SUCCESS) {
        *err = "no randomness for a webhook secret";
        return POOL_DB_ERROR;
    }
    params[0] = pool;
    params[1] = client_id;
    params[2] = url;
    params[3] = s;
    params[4] = apr_pstrcat(p, "ep_", pool_hex(p, rnd, sizeof(rnd)), NULL);
    /* the client's endpoint (sql/016): moved, re-enabled, a new secret
     * (the previous one stops signing at once: it may have leaked) */
    rc = pool_db_exec(p, c, "register callback",
        "WITH k AS (SELECT c.id, c.pool_id FROM clients c"
        "   JOIN pools p ON p.id = c.pool_id"
        "   WHERE p.name = $1 AND c.client_id = $2),"
        " u AS (UPDATE endpoints e SET url = $3, secret = $4,"
        "   prev_secret = NULL, prev_until = NULL, disabled_at = NULL,"
        "   disabled_reason = NULL, updated_at = now()"
        "   FROM k WHERE e.client_id = k.id RETURNING e.id),"
        " i AS (INSERT INTO endpoints (public_id, pool_id, client_id, url,"
        "                              secret)"
        "   SELECT $5, k.pool_id, k.id, $3, $4 FROM k"
        "   WHERE NOT EXISTS (SELECT 1 FROM endpoints e"
        "                     WHERE e.client_id = k.id)"
        "   RETURNING id)"
        " SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM i)",
        5, params, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (atoi(PQgetvalue(res, 0, 0)) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    *created = atoi(PQgetvalue(res, 0, 1)) == 1;
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
    /* its pending deliveries fail; the log keeps them */
    rc = pool_db_exec(p, c, "unregister callback",
        "WITH e AS (SELECT e.id FROM endpoints e"
        "   JOIN clients c ON c.id = e.client_id"
        "   JOIN pools p ON p.id = c.pool_id"
        "   WHERE p.name = $1 AND c.client_id = $2 FOR UPDATE OF e),"
        " f AS (UPDATE deliveries d SET state = 'failed',"
        "   last_error = 'the endpoint was removed', endpoint_id = NULL"
        "   FROM e WHERE d.endpoint_id = e.id AND d.state = 'pending')"
        " SELECT id FROM e",
        2, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    if (n == 1) {
        params[0] = pool_db_col_str(p, res, 0, 0);
        rc = pool_db_exec0(p, c, "unregister callback",
                           "DELETE FROM endpoints WHERE id = $1::bigint",
                           1, params, err);
    }
    PQclear(res);
    return rc != POOL_DB_OK ? rc : n == 1 ? POOL_DB_OK : POOL_DB_NOTFOUND;
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
        "SELECT e.url, e.secret, " POOL_SQL_US("e.disabled_at") ","
        "   e.public_id"
        " FROM clients c JOIN pools p ON p.id = c.pool_id"
        " LEFT JOIN endpoints e ON e.client_id = c.id"
        " WHERE p.name = $1 AND c.client_id = $2",
        2, params, 4, &res, err);
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
    cb->disabled_at = pool_db_col_time(p, res, 0, 2);
    cb->endpoint_id = col(p, res, 0, 3);
    PQclear(res);
    *out = cb;
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ enqueue */

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


/* A delivery to the callback endpoint of a client (params as in
 * pool_delivery_enqueue). */
static pool_db_rc to_callback(apr_pool_t *p, PGconn *c, const char **params,
                              const char **err)
{
    const char *v[5];
    PGresult *res;
    pool_db_rc rc;
    const char *state;

    v[0] = params[0];
    v[1] = params[1];
    v[2] = params[2];
    v[3] = params[5];
    v[4] = params[6];
    rc = pool_db_exec(p, c, "queue webhook",
        "WITH t AS (SELECT e.id, e.pool_id, e.client_id, e.url,"
        "     e.disabled_at IS NULL AS enabled"
        "   FROM pools p JOIN clients c ON c.pool_id = p.id"
        "   LEFT JOIN endpoints e ON e.client_id = c.id"
        "   WHERE p.name = $2 AND c.client_id = $3),"
        " i AS (INSERT INTO deliveries (id, pool_id, client_id, endpoint_id,"
        "                               url, event, payload)"
        "   SELECT $1::uuid, t.pool_id, t.client_id, t.id, t.url, $4,"
        "     $5::jsonb FROM t WHERE t.id IS NOT NULL AND t.enabled"
        "   RETURNING 1)"
        " SELECT CASE WHEN (SELECT count(*) FROM i) = 1 THEN 'queued'"
        "   WHEN t.id IS NULL THEN 'none' ELSE 'disabled' END FROM t",
        5, v, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    state = PQgetvalue(res, 0, 0);
    rc = !strcmp(state, "queued") ? POOL_DB_OK : POOL_DB_CONFLICT;
    if (!strcmp(state, "none")) {
        *err = "the client has no webhook endpoint registered";
    }
    else if (rc != POOL_DB_OK) {
        *err = "the client's webhook endpoint is disabled (it answered 410 "
               "Gone, or an admin disabled it); registering it again "
               "enables it";
    }
    PQclear(res);
    return rc;
}

pool_db_rc pool_delivery_enqueue(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *client_id, const char *url,
                                 const char *secret, const char *event,
                                 const char *payload_json, const char **id,
                                 const char **err)
{
    const char *params[7], *why, *body;
    const unsigned char *key;
    apr_size_t keylen;
    PGresult *res;
    pool_db_rc rc;
    int n;

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
    if (!(*id = pool_uuid(p))) {
        *err = "no randomness for an id";
        return POOL_DB_ERROR;
    }
    params[0] = *id;
    params[1] = pool;
    params[2] = client_id;
    params[3] = url;
    params[4] = secret;
    params[5] = event;
    params[6] = body;
    if (!url) {
        return to_callback(p, c, params, err);
    }
    /* without a secret: signed with the client's endpoint's secret as it
     * is at sending time (the deliver step looks it up) */
    rc = pool_db_exec(p, c, "queue webhook",
        "WITH t AS (SELECT p.id AS pool_id, c.id AS client_id,"
        "     e.secret IS NOT NULL AS has_secret"
        "   FROM pools p LEFT JOIN clients c ON c.pool_id = p.id"
        "     AND c.client_id = $3"
        "   LEFT JOIN endpoints e ON e.client_id = c.id"
        "   WHERE p.name = $2 AND ($3::text IS NULL OR c.id IS NOT NULL)),"
        " i AS (INSERT INTO deliveries (id, pool_id, client_id, url, secret,"
        "                               event, payload)"
        "   SELECT $1::uuid, t.pool_id, t.client_id, $4, $5, $6, $7::jsonb"
        "   FROM t WHERE $5::text IS NOT NULL OR t.has_secret"
        "   RETURNING 1)"
        " SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM i)",
        7, params, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = atoi(PQgetvalue(res, 0, 0));
    rc = !n ? POOL_DB_NOTFOUND
            : atoi(PQgetvalue(res, 0, 1)) == 1 ? POOL_DB_OK : POOL_DB_CONFLICT;
    PQclear(res);
    if (rc == POOL_DB_CONFLICT) {
        *err = "the client has no webhook secret (it gets one when it "
               "registers a callback)";
    }
    return rc;
}
