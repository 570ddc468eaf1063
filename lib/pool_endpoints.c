/* Webhook endpoints in PostgreSQL (pool_endpoints.h, sql/016): create,
 * read, change, rotate, remove, preview; and pool_event_emit, the one way
 * an event is queued for endpoints. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pool_endpoint_doc.h"
#include "pool_endpoints.h"
#include "pool_json.h"
#include "pool_mapping.h"
#include "pool_settings.h"
#include "pool_ts.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define LIST_MAX 1000

#define EP_COLS \
    "e.public_id, p.name, cl.client_id, e.url, e.description," \
    " array_to_json(e.events)::text, e.filter::text, e.auth_type," \
    " e.auth_name, e.auth_secret, array_to_json(e.retry_schedule)::text," \
    " e.rate_limit::text, e.mapping, e.rule, e.disabled_at IS NOT NULL," \
    " " POOL_SQL_US("e.disabled_at") ", e.disabled_reason," \
    " " POOL_SQL_US("e.created_at") ", " POOL_SQL_US("e.updated_at") "," \
    " CASE WHEN e.prev_until > now() THEN " POOL_SQL_US("e.prev_until") \
    " END, e.id, e.secret"
#define EP_NCOLS 22
#define EP_FROM \
    " FROM endpoints e JOIN pools p ON p.id = e.pool_id" \
    " LEFT JOIN clients cl ON cl.id = e.client_id"

/* One row of EP_COLS. */
typedef struct {
    pool_ep_doc_t doc;
    pool_ep_meta_t meta;
    const char *pk;
    const char *secret;
} ep_row_t;

static void row_read(apr_pool_t *p, const PGresult *r, int i, ep_row_t *e)
{
    pool_ep_doc_t *d = &e->doc;
    pool_ep_meta_t *m = &e->meta;

    memset(e, 0, sizeof(*e));
    m->id = pool_db_col_str(p, r, i, 0);
    m->pool = pool_db_col_str(p, r, i, 1);
    m->client = pool_db_col_str(p, r, i, 2);
    d->url = pool_db_col_str(p, r, i, 3);
    d->description = pool_db_col_str(p, r, i, 4);
    d->events = pool_db_col_str(p, r, i, 5);
    d->filter = pool_db_col_str(p, r, i, 6);
    d->auth_type = pool_db_col_str(p, r, i, 7);
    d->auth_name = pool_db_col_str(p, r, i, 8);
    d->auth_secret = pool_db_col_str(p, r, i, 9);
    d->retry = pool_db_col_str(p, r, i, 10);
    d->rate_limit = pool_db_col_str(p, r, i, 11);
    d->mapping = pool_db_col_str(p, r, i, 12);
    d->rule = pool_db_col_str(p, r, i, 13);
    d->disabled = pool_db_col_bool(r, i, 14);
    m->disabled_at = pool_db_col_time(p, r, i, 15);
    m->disabled_reason = pool_db_col_str(p, r, i, 16);
    m->created_at = pool_db_col_time(p, r, i, 17);
    m->updated_at = pool_db_col_time(p, r, i, 18);
    m->rotated_until = pool_db_col_time(p, r, i, 19);
    e->pk = pool_db_col_str(p, r, i, 20);
    e->secret = pool_db_col_str(p, r, i, 21);
    if (!d->description) {
        d->description = "";
    }
}

static int db_problem(apr_pool_t *p, pool_problem_t *pr, pool_db_rc rc,
                      const char *err, const char *what)
{
    pool_problem_db(p, pr, rc, err, what);
    return pr->status;
}

static int ok(pool_problem_t *pr)
{
    pool_problem_set(pr, 0, NULL, NULL);
    return 0;
}

/* The endpoint id of pool (a public id), with FOR UPDATE when lock. */
static int ep_read(apr_pool_t *p, PGconn *c, const char *pool, const char *id,
                   int lock, ep_row_t *e, pool_problem_t *pr)
{
    const char *params[2], *err = NULL;
    PGresult *r;
    pool_db_rc rc;

    if (!id || strlen(id) != 27 || strncmp(id, "ep_", 3)) {
        pool_problem_set(pr, 404, "no such endpoint", NULL);
        return 404;
    }
    params[0] = pool;
    params[1] = id;
    rc = pool_db_exec(p, c, "read endpoint",
        lock ? "SELECT " EP_COLS EP_FROM
               " WHERE p.name = $1 AND e.public_id = $2 FOR UPDATE OF e"
             : "SELECT " EP_COLS EP_FROM
               " WHERE p.name = $1 AND e.public_id = $2",
        2, params, EP_NCOLS, &r, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        pool_problem_set(pr, 404, "no such endpoint", NULL);
        return 404;
    }
    row_read(p, r, 0, e);
    PQclear(r);
    return ok(pr);
}

static json_t *shown(apr_pool_t *p, const ep_row_t *e, int with_secret)
{
    json_t *o = pool_ep_doc_show(p, &e->doc, &e->meta);

    if (with_secret && e->secret) {
        json_object_set_new(o, "secret", json_string(e->secret));
    }
    return o;
}

static const char *public_id(apr_pool_t *p)
{
    unsigned char rnd[12];

    if (pool_random(rnd, sizeof(rnd)) != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrcat(p, "ep_", pool_hex(p, rnd, sizeof(rnd)), NULL);
}

/* The parameters $3.. of an endpoint's settings, in this order:
 * url, description, events, filter, auth_type, auth_name, auth_secret,
 * retry, rate_limit, mapping, rule. */
#define DOC_PARAMS 11
static void doc_params(const pool_ep_doc_t *d, const char **v)
{
    v[0] = d->url;
    v[1] = d->description;
    v[2] = d->events;
    v[3] = d->filter;
    v[4] = d->auth_type;
    v[5] = d->auth_name;
    v[6] = d->auth_secret;
    v[7] = d->retry;
    v[8] = d->rate_limit;
    v[9] = d->mapping;
    v[10] = d->rule;
}

int pool_endpoint_create(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *owner_client, const json_t *in,
                         json_t **out, pool_problem_t *pr)
{
    const char *params[DOC_PARAMS + 5], *err = NULL, *id, *secret, *cons;
    pool_ep_doc_t d;
    ep_row_t e;
    PGresult *r;
    pool_db_rc rc;
    int st, n;

    pool_ep_doc_defaults(&d);
    if ((st = pool_ep_doc_apply(p, &d, in, pr)) != 0) {
        return st;
    }
    if (!(id = public_id(p)) || !(secret = pool_webhook_secret_new(p))) {
        pool_problem_set(pr, 500, "no randomness for an endpoint", NULL);
        return 500;
    }
    params[0] = id;
    params[1] = pool;
    doc_params(&d, params + 2);
    params[DOC_PARAMS + 2] = secret;
    params[DOC_PARAMS + 3] = owner_client;
    params[DOC_PARAMS + 4] = d.disabled ? "true" : "false";
    rc = pool_db_exec_constraint(p, c, "create endpoint",
        "INSERT INTO endpoints (public_id, pool_id, client_id, url,"
        "  description, events, filter, auth_type, auth_name, auth_secret,"
        "  retry_schedule, rate_limit, mapping, rule, secret, disabled_at,"
        "  disabled_reason)"
        " SELECT $1, p.id, cl.id, $3, $4,"
        "  ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6::jsonb,"
        "  $7, $8, $9,"
        "  ARRAY(SELECT jsonb_array_elements_text($10::jsonb)::int),"
        "  $11::int, $12, $13, $14,"
        "  CASE WHEN $16::boolean THEN now() END,"
        "  CASE WHEN $16::boolean THEN 'disabled when it was made' END"
        " FROM pools p LEFT JOIN clients cl ON cl.pool_id = p.id"
        "   AND cl.client_id = $15"
        " WHERE p.name = $2"
        "   AND ($15::text IS NULL OR cl.id IS NOT NULL)"
        " RETURNING id",
        DOC_PARAMS + 5, params, 1, &r, &cons, &err);
    if (rc == POOL_DB_CONFLICT && cons && !strcmp(cons, "endpoints_client")) {
        pool_problem_set(pr, 409, "the client has a callback endpoint "
                         "already; change it instead", NULL);
        return 409;
    }
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        pool_problem_set(pr, 404, owner_client ? "no such client"
                                               : "no such pool", NULL);
        return 404;
    }
    if ((st = ep_read(p, c, pool, id, 0, &e, pr)) != 0) {
        return st;
    }
    *out = shown(p, &e, 1);
    return 0;
}

/* 404 when pool does not exist, else 0. */
static int pool_exists(apr_pool_t *p, PGconn *c, const char *pool,
                       pool_problem_t *pr)
{
    const char *params[1], *err = NULL;
    PGresult *r;
    pool_db_rc rc;
    int n;

    params[0] = pool;
    rc = pool_db_exec(p, c, "find pool", "SELECT 1 FROM pools WHERE name = $1",
                      1, params, 1, &r, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "pool");
    }
    n = PQntuples(r);
    PQclear(r);
    if (!n) {
        pool_problem_set(pr, 404, "no such pool", NULL);
        return 404;
    }
    return ok(pr);
}

int pool_endpoint_list(apr_pool_t *p, PGconn *c, const char *pool,
                       const char *client, const char *after, int limit,
                       json_t **out, pool_problem_t *pr)
{
    const char *params[4], *err = NULL;
    json_t *items;
    PGresult *r;
    pool_db_rc rc;
    int i, n, st;

    if (limit < 1 || limit > LIST_MAX) {
        pool_problem_set(pr, 422, "limit must be from 1 to 1000", "limit");
        return 422;
    }
    if ((st = pool_exists(p, c, pool, pr)) != 0) {
        return st;
    }
    params[0] = pool;
    params[1] = client;
    params[2] = after;
    params[3] = apr_itoa(p, limit + 1);
    rc = pool_db_exec(p, c, "list endpoints",
        "SELECT " EP_COLS EP_FROM
        " WHERE p.name = $1 AND ($2::text IS NULL OR cl.client_id = $2)"
        "   AND ($3::text IS NULL OR e.public_id > $3)"
        " ORDER BY e.public_id LIMIT $4::int",
        4, params, EP_NCOLS, &r, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "pool");
    }
    n = PQntuples(r);
    items = json_array();
    for (i = 0; i < n && i < limit; i++) {
        ep_row_t e;

        row_read(p, r, i, &e);
        json_array_append_new(items, shown(p, &e, 0));
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next", n > limit
                     ? json_string(PQgetvalue(r, limit - 1, 0)) : json_null());
    PQclear(r);
    return ok(pr);
}

int pool_endpoint_get(apr_pool_t *p, PGconn *c, const char *pool,
                      const char *id, json_t **out, pool_problem_t *pr)
{
    ep_row_t e;
    int st;

    if ((st = ep_read(p, c, pool, id, 0, &e, pr)) != 0) {
        return st;
    }
    *out = shown(p, &e, 0);
    return 0;
}

int pool_endpoint_of_client(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *client_id, json_t **out,
                            pool_problem_t *pr)
{
    json_t *list = NULL, *items;
    int st;

    if ((st = pool_endpoint_list(p, c, pool, client_id, NULL, 1, &list, pr))) {
        return st;
    }
    items = json_object_get(list, "items");
    if (!json_array_size(items)) {
        json_decref(list);
        pool_problem_set(pr, 404, "no callback endpoint is registered", NULL);
        return 404;
    }
    *out = json_incref(json_array_get(items, 0));
    json_decref(list);
    return 0;
}

int pool_endpoint_update(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *id, const json_t *in, json_t **out,
                         pool_problem_t *pr)
{
    const char *params[DOC_PARAMS + 3], *err = NULL;
    pool_db_rc rc;
    ep_row_t e;
    int st;

    if ((rc = pool_db_begin(p, c, &err)) != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    if ((st = ep_read(p, c, pool, id, 1, &e, pr)) != 0
        || (st = pool_ep_doc_apply(p, &e.doc, in, pr)) != 0) {
        pool_db_rollback(p, c, POOL_DB_ERROR);
        return st;
    }
    params[0] = e.pk;
    params[1] = e.doc.disabled_changed ? "true" : "false";
    doc_params(&e.doc, params + 2);
    params[DOC_PARAMS + 2] = e.doc.disabled ? "true" : "false";
    rc = pool_db_exec0(p, c, "change endpoint",
        "UPDATE endpoints SET url = $3, description = $4,"
        "  events = ARRAY(SELECT jsonb_array_elements_text($5::jsonb)),"
        "  filter = $6::jsonb, auth_type = $7, auth_name = $8,"
        "  auth_secret = $9,"
        "  retry_schedule = ARRAY(SELECT jsonb_array_elements_text("
        "    $10::jsonb)::int),"
        "  rate_limit = $11::int, mapping = $12, rule = $13,"
        "  disabled_at = CASE WHEN NOT $2::boolean THEN disabled_at"
        "    WHEN $14::boolean THEN coalesce(disabled_at, now()) END,"
        "  disabled_reason = CASE WHEN NOT $2::boolean THEN disabled_reason"
        "    WHEN $14::boolean THEN coalesce(disabled_reason,"
        "      'disabled by an admin') END,"
        "  updated_at = now()"
        " WHERE id = $1::bigint",
        DOC_PARAMS + 3, params, &err);
    if ((rc = pool_db_end(p, c, rc, &err)) != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    return pool_endpoint_get(p, c, pool, id, out, pr);
}

int pool_endpoint_rotate(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *id, int grace, json_t **out,
                         pool_problem_t *pr)
{
    const char *params[4], *err = NULL, *secret;
    PGresult *r;
    pool_db_rc rc;
    ep_row_t e;
    int n;

    if (grace < 0 || grace > POOL_ENDPOINT_GRACE_MAX) {
        pool_problem_set(pr, 422, "grace_seconds must be from 0 to 604800 "
                         "(7 days)", "grace_seconds");
        return 422;
    }
    if (!(secret = pool_webhook_secret_new(p))) {
        pool_problem_set(pr, 500, "no randomness for a secret", NULL);
        return 500;
    }
    params[0] = pool;
    params[1] = id;
    params[2] = secret;
    params[3] = apr_itoa(p, grace);
    /* rotating again during a grace period drops the older secret */
    rc = pool_db_exec(p, c, "rotate endpoint secret",
        "UPDATE endpoints e SET"
        "  prev_secret = CASE WHEN $4::int > 0 THEN e.secret END,"
        "  prev_until = CASE WHEN $4::int > 0"
        "    THEN now() + make_interval(secs => $4::int) END,"
        "  secret = $3, updated_at = now()"
        " FROM pools p WHERE p.id = e.pool_id AND p.name = $1"
        "   AND e.public_id = $2 RETURNING e.id",
        4, params, 1, &r, &err);
    if (rc != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        pool_problem_set(pr, 404, "no such endpoint", NULL);
        return 404;
    }
    if ((n = ep_read(p, c, pool, id, 0, &e, pr)) != 0) {
        return n;
    }
    *out = shown(p, &e, 1);
    return 0;
}

int pool_endpoint_delete(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *id, pool_problem_t *pr)
{
    const char *params[1], *err = NULL;
    pool_db_rc rc;
    ep_row_t e;
    int st;

    if ((rc = pool_db_begin(p, c, &err)) != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    if ((st = ep_read(p, c, pool, id, 1, &e, pr)) != 0) {
        pool_db_rollback(p, c, POOL_DB_ERROR);
        return st;
    }
    params[0] = e.pk;
    rc = pool_db_exec0(p, c, "fail the endpoint's deliveries",
        "UPDATE deliveries SET state = 'failed',"
        "  last_error = 'the endpoint was removed'"
        " WHERE endpoint_id = $1::bigint AND state = 'pending'",
        1, params, &err);
    if (rc == POOL_DB_OK) {
        rc = pool_db_exec0(p, c, "remove endpoint",
            "DELETE FROM endpoints WHERE id = $1::bigint", 1, params, &err);
    }
    if ((rc = pool_db_end(p, c, rc, &err)) != POOL_DB_OK) {
        return db_problem(p, pr, rc, err, "endpoint");
    }
    return ok(pr);
}

/* ------------------------------------------------------------ preview */

/* The headers we would send, secrets shown as "(secret)". */
static json_t *preview_headers(apr_pool_t *p, const ep_row_t *e,
                               const char *id, apr_int64_t ts)
{
    json_t *h = json_object();
    const char *hn, *hv;

    json_object_set_new(h, "Content-Type", json_string("application/json"));
    json_object_set_new(h, "webhook-id", json_string(id));
    json_object_set_new(h, "webhook-timestamp",
                        json_string(apr_psprintf(p, "%" APR_INT64_T_FMT, ts)));
    json_object_set_new(h, "webhook-signature", json_string(
                        e->meta.rotated_until ? "v1,(signature) v1,(signature "
                        "with the previous secret)" : "v1,(signature)"));
    pool_ep_doc_auth_header(p, e->doc.auth_type, e->doc.auth_name,
                            e->doc.auth_secret, 1, &hn, &hv);
    if (hn) {
        json_object_set_new(h, hn, json_string(hv));
    }
    return h;
}

int pool_endpoint_preview(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, const json_t *event,
                          const json_t *mapping_override, json_t **out,
                          pool_problem_t *pr)
{
    pool_mapping_t *m = NULL;
    pool_mapping_error_t me;
    apr_array_header_t *missing = NULL, *pmissing = NULL;
    const char *why, *body, *path = NULL;
    json_t *ev = NULL, *miss;
    ep_row_t e;
    int st, i;

    if ((st = ep_read(p, c, pool, id, 0, &e, pr)) != 0) {
        return st;
    }
    if (mapping_override && !json_is_null(mapping_override)) {
        why = pool_mapping_compile_json(p, mapping_override, &m, &me);
    }
    else if (e.doc.mapping) {
        why = pool_mapping_compile(p, e.doc.mapping, strlen(e.doc.mapping),
                                   &m, &me);
    }
    else {
        why = pool_mapping_compile(p, "null", 4, &m, &me);
    }
    if (why) {
        pool_problem_set(pr, 422, apr_pstrcat(p, "mapping: ", why, NULL),
                         "mapping");
        return 422;
    }
    if (event) {
        if (!json_is_object(event)) {
            pool_problem_set(pr, 422, "event: must be an event envelope "
                             "{\"type\", \"timestamp\", \"data\"}", "event");
            return 422;
        }
        ev = json_incref((json_t *)event);
    }
    else {
        json_t *types = json_loads(e.doc.events, 0, NULL);
        const char *t = json_string_value(json_array_get(types, 0));

        ev = pool_event_sample(p, pool, t ? t : "file.received");
        json_decref(types);
    }
    why = pool_mapping_render(p, m, ev, &body, NULL, &missing);
    if (!why) {
        why = pool_mapping_render_path(p, m, ev, &path, &pmissing);
    }
    if (why) {
        json_decref(ev);
        pool_problem_set(pr, 422, apr_pstrcat(p, "the mapping cannot render "
                         "this event: ", why, NULL), "mapping");
        return 422;
    }
    miss = json_array();
    for (i = 0; missing && i < missing->nelts; i++) {
        json_array_append_new(miss, json_string(
                              APR_ARRAY_IDX(missing, i, const char *)));
    }
    for (i = 0; pmissing && i < pmissing->nelts; i++) {
        json_array_append_new(miss, json_string(
                              APR_ARRAY_IDX(pmissing, i, const char *)));
    }
    *out = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o}",
        "method", pool_mapping_method(m),
        "url", path ? apr_pstrcat(p, e.doc.url, path, NULL) : e.doc.url,
        "headers", preview_headers(p, &e, "msg_preview",
                                   apr_time_sec(apr_time_now())),
        "body", body, "missing", miss, "event", ev);
    return 0;
}

/* ------------------------------------------------------------ emit */

pool_db_rc pool_event_emit(apr_pool_t *p, PGconn *c, apr_int64_t pool_pk,
                           const char *event, const char *data_json,
                           int all_clients, const char *const *clients,
                           int nclients, int *n, const char **err)
{
    const char *params[5], *why;
    PGresult *r;
    pool_db_rc rc;

    if ((why = pool_webhook_event_check(event)) != NULL) {
        *err = why;
        return POOL_DB_ERROR;
    }
    if (data_json && strlen(data_json) > POOL_WEBHOOK_BODY_MAX) {
        *err = "the event is larger than 1 MB";
        return POOL_DB_ERROR;
    }
    params[0] = pool_db_i64(p, pool_pk);
    params[1] = event;
    params[2] = data_json ? data_json : "{}";
    params[3] = all_clients ? "true" : "false";
    params[4] = nclients > 0 ? pool_db_array(p, clients, nclients) : NULL;
    rc = pool_db_exec(p, c, "queue event",
        "SELECT pool_emit($1::bigint, $2, $3::jsonb, $4::boolean,"
        "  ARRAY(SELECT k.id FROM clients k WHERE k.pool_id = $1::bigint"
        "        AND k.client_id = ANY ($5::text[])))",
        5, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (n) {
        *n = atoi(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ retention */

pool_db_rc pool_delivery_purge(apr_pool_t *p, PGconn *c, const char *pool,
                               int *purged, const char **err)
{
    const char *params[3];

    params[1] = pool;
    params[2] = apr_ltoa(p, POOL_SETTINGS_DELIVERY_RETENTION);
    return pool_db_purge(p, c, "purge deliveries",
            "WITH gone AS (SELECT d.id FROM pools p JOIN deliveries d"
            "   ON d.pool_id = p.id AND d.state <> 'pending'"
            "   AND d.created_at < now() - make_interval(secs => coalesce("
            "     (p.settings->>'delivery_retention')::bigint, $3::bigint))"
            "   WHERE $2::text IS NULL OR p.name = $2"
            "   LIMIT $1::int FOR UPDATE OF d SKIP LOCKED)"
            " DELETE FROM deliveries d USING gone WHERE d.id = gone.id"
            " RETURNING 1",
            3, params, purged, err);
}
