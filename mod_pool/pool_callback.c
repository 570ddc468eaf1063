/* A client's own webhook endpoint (docs/api.md, "Webhooks").
 *
 *   GET    .../clients/me/callback         {url, disabled_at} (never the secret)
 *   PUT    .../clients/me/callback {url}   register; returns {url, secret}
 *                                          with a NEW whsec_ secret (201 the
 *                                          first time, 200 after)
 *   DELETE .../clients/me/callback         unregister -> 204
 *   POST   .../clients/me/callback/test    queue a "webhook.test" event -> 202
 *
 * Any role may register.  The callback is the client's endpoint
 * (sql/016, lib/pool_endpoints.h); the SQL lives in lib/pool_webhook.c. */
#include <stdlib.h>

#include <jansson.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_pool.h"
#include "pool_imports.h"
#include "pool_webhook.h"

#define CALLBACK_BODY_MAX (16 * 1024)

typedef struct {
    const char *pool, *client_id, *url, *secret, *delivery_id, *why;
    int created;
    pool_callback_t *cb;
} cb_baton;

static pool_db_rc op_set(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    cb_baton *cb = b;

    return pool_client_callback_set(p, c, cb->pool, cb->client_id, cb->url,
                                    &cb->secret, &cb->created, err);
}

static pool_db_rc op_clear(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    cb_baton *cb = b;

    return pool_client_callback_clear(p, c, cb->pool, cb->client_id, err);
}

static pool_db_rc op_get(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    cb_baton *cb = b;

    return pool_client_callback_get(p, c, cb->pool, cb->client_id, &cb->cb,
                                    err);
}

static pool_db_rc op_test(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    cb_baton *cb = b;
    const char *id = NULL;
    json_t *data;
    char *payload;
    pool_db_rc rc;

    /* a retry after a lost connection must not queue the event twice */
    if (cb->delivery_id) {
        return POOL_DB_OK;
    }
    data = json_pack("{s:s, s:s, s:s}", "pool", cb->pool,
                     "client_id", cb->client_id,
                     "message", "a test event, sent on request");
    payload = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (data) {
        json_decref(data);
    }
    if (!payload) {
        *err = "cannot encode the test event";
        return POOL_DB_ERROR;
    }
    rc = pool_delivery_enqueue(p, c, cb->pool, cb->client_id, NULL, NULL,
                               "webhook.test", payload, &id, err);
    free(payload);
    if (rc == POOL_DB_OK) {
        cb->delivery_id = id;
    }
    else if (rc == POOL_DB_CONFLICT) {
        cb->why = *err;
    }
    return rc;
}

static int bad_field(request_rec *r, const char *field, const char *why)
{
    return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                        apr_psprintf(r->pool, "%s: %s", field, why), field);
}

static int callback_put(request_rec *r, cb_baton *cb)
{
    static const char *const allowed[] = { "url", NULL };
    const char *why, *err;
    json_t *j, *v, *out;
    pool_db_rc rc;
    int status;

    if ((status = pool_read_json(r, CALLBACK_BODY_MAX, &j)) != OK || !j) {
        return status;
    }
    if ((status = pool_json_fields_check(r, j, allowed)) != DECLINED) {
        return status;
    }
    v = json_object_get(j, "url");
    if (!v) {
        return bad_field(r, "url", "is required");
    }
    if (!json_is_string(v)) {
        return bad_field(r, "url", "must be a string");
    }
    cb->url = apr_pstrmemdup(r->pool, json_string_value(v),
                             json_string_length(v));
    if (strlen(cb->url) != json_string_length(v)) {
        return bad_field(r, "url", "contains a NUL character");
    }
    if ((why = pool_url_check(r->pool, cb->url)) != NULL) {
        return bad_field(r, "url", why);
    }
    rc = pool_db_run(r, op_set, cb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such client", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "callback");
    }
    out = json_pack("{s:s, s:s}", "url", cb->url, "secret", cb->secret);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (cb->created) {
        apr_table_setn(r->headers_out, "Location",
                       apr_psprintf(r->pool, "%s/v1/pools/%s/clients/me/"
                                    "callback", pool_dir_prefix(r),
                                    cb->pool));
    }
    return pool_send_json(r, cb->created ? HTTP_CREATED : HTTP_OK, out);
}

static int callback_get(request_rec *r, cb_baton *cb)
{
    const char *err;
    pool_db_rc rc = pool_db_run(r, op_get, cb, &err);

    if (rc == POOL_DB_OK && !cb->cb->url) {
        rc = POOL_DB_NOTFOUND;
    }
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no callback is registered; "
                            "register one with PUT {\"url\": ...}", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "callback");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    /* the client's callback is an endpoint (sql/016): its id shows where
     * its deliveries are in the pool's delivery log */
    return pool_send_json(r, HTTP_OK, json_pack("{s:s, s:s, s:o, s:b}",
        "url", cb->cb->url, "endpoint", cb->cb->endpoint_id,
        "disabled_at", cb->cb->disabled_at ? json_string(cb->cb->disabled_at)
                                           : json_null(),
        "enabled", !cb->cb->disabled_at));
}

static int callback_delete(request_rec *r, cb_baton *cb)
{
    const char *err;
    pool_db_rc rc = pool_db_run(r, op_clear, cb, &err);

    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no callback is registered",
                            NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "callback");
    }
    r->status = HTTP_NO_CONTENT;
    return OK;
}

static int callback_test(request_rec *r, cb_baton *cb)
{
    const char *err;
    pool_db_rc rc = pool_db_run(r, op_test, cb, &err);

    if (rc == POOL_DB_CONFLICT) {
        return pool_problem(r, HTTP_CONFLICT,
                            cb->why ? cb->why
                                    : "no usable callback is registered",
                            NULL);
    }
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such client", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "callback");
    }
    return pool_send_json(r, HTTP_ACCEPTED,
                          json_pack("{s:s, s:s}", "delivery_id",
                                    cb->delivery_id, "event", "webhook.test"));
}

int pool_handle_callback(request_rec *r, pool_principal *who,
                         const char *pool, const char *rest)
{
    cb_baton cb;

    memset(&cb, 0, sizeof(cb));
    cb.pool = pool;
    cb.client_id = who->client_id;
    if (!strcmp(rest, "me/callback")) {
        switch (r->method_number) {
        case M_GET:
            return callback_get(r, &cb);
        case M_PUT:
            return callback_put(r, &cb);
        case M_DELETE:
            return callback_delete(r, &cb);
        default:
            apr_table_setn(r->headers_out, "Allow", "GET, HEAD, PUT, DELETE");
            return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "a callback is "
                                "read with GET, registered with PUT and "
                                "removed with DELETE", NULL);
        }
    }
    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED,
                            "a test event is requested with POST", NULL);
    }
    return callback_test(r, &cb);
}
