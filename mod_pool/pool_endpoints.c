/* A pool's webhook endpoints and its delivery log over HTTP (docs/api.md,
 * "Endpoints" and "Deliveries"), for the pool's admins:
 *
 *   GET    .../endpoints[?after=&limit=]          list
 *   POST   .../endpoints {url, ...}               create -> 201, the
 *                                                 signing secret once
 *   GET    .../endpoints/{id}
 *   PATCH  .../endpoints/{id} {...}               merge (JSON merge patch)
 *   DELETE .../endpoints/{id}                     -> 204
 *   POST   .../endpoints/{id}/rotate {grace_seconds?}
 *   POST   .../endpoints/{id}/preview {event?, mapping?}
 *   POST   .../endpoints/{id}/recover?since=T     -> 202 {"recovered": n}
 *   GET    .../deliveries[?endpoint=&status=&event=&since=&before=&limit=]
 *   GET    .../deliveries/{id}                    with every attempt
 *   POST   .../deliveries/{id}/retry              -> 202
 *   GET    .../deliveries/stats[?since=T]         success and latency
 *                                                 per hour
 *
 * Checking, SQL and JSON shapes live in lib/pool_endpoints.c and
 * lib/pool_deliveries.c; this is the glue. */
#include <string.h>

#include <jansson.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_pool.h"
#include "pool_endpoints.h"
#include "pool_json.h"
#include "pool_util.h"

#define EP_BODY_MAX      (256 * 1024)   /* a mapping is up to 64 KB */
#define SMALL_BODY_MAX   (16 * 1024)
#define LIST_DEFAULT     100
#define LIST_MAX         1000
#define GRACE_DEFAULT    86400
#define EP_ID_LEN        27             /* "ep_" + 24 hex */

typedef enum {
    EP_LIST, EP_CREATE, EP_GET, EP_UPDATE, EP_DELETE, EP_ROTATE,
    EP_PREVIEW, EP_RECOVER, DL_LIST, DL_GET, DL_RETRY, DL_STATS
} ep_call;

typedef struct {
    ep_call call;
    const char *pool, *id, *after, *since;
    int limit, grace, n;
    const json_t *in, *event, *mapping;
    pool_delivery_filter_t filter;
    json_t *out;
    pool_problem_t pr;
} ep_baton;

static int call_lib(apr_pool_t *p, PGconn *c, ep_baton *b)
{
    switch (b->call) {
    case EP_LIST:
        return pool_endpoint_list(p, c, b->pool, NULL, b->after, b->limit,
                                  &b->out, &b->pr);
    case EP_CREATE:
        return pool_endpoint_create(p, c, b->pool, NULL, b->in, &b->out,
                                    &b->pr);
    case EP_GET:
        return pool_endpoint_get(p, c, b->pool, b->id, &b->out, &b->pr);
    case EP_UPDATE:
        return pool_endpoint_update(p, c, b->pool, b->id, b->in, &b->out,
                                    &b->pr);
    case EP_DELETE:
        return pool_endpoint_delete(p, c, b->pool, b->id, &b->pr);
    case EP_ROTATE:
        return pool_endpoint_rotate(p, c, b->pool, b->id, b->grace, &b->out,
                                    &b->pr);
    case EP_PREVIEW:
        return pool_endpoint_preview(p, c, b->pool, b->id, b->event,
                                     b->mapping, &b->out, &b->pr);
    case EP_RECOVER:
        return pool_endpoint_recover(p, c, b->pool, b->id, b->since, &b->n,
                                     &b->pr);
    case DL_LIST:
        return pool_deliveries_list(p, c, b->pool, &b->filter, &b->out,
                                    &b->pr);
    case DL_GET:
        return pool_deliveries_get(p, c, b->pool, b->id, &b->out, &b->pr);
    case DL_STATS:
        return pool_deliveries_stats(p, c, b->pool, b->since, &b->out,
                                     &b->pr);
    case DL_RETRY:
        /* answered with the delivery as it is now */
        return pool_deliveries_retry(p, c, b->pool, b->id, &b->pr)
               ? b->pr.status
               : pool_deliveries_get(p, c, b->pool, b->id, &b->out, &b->pr);
    }
    pool_problem_set(&b->pr, 500, "unknown operation", NULL);
    return 500;
}

/* pool_db_op over the library: a 503 (connection lost) is told to the
 * runner, which retries on a fresh connection. */
static pool_db_rc op_call(apr_pool_t *p, PGconn *c, void *baton,
                          const char **err)
{
    ep_baton *b = baton;

    json_decref(b->out);
    b->out = NULL;
    pool_problem_set(&b->pr, 0, NULL, NULL);
    if (call_lib(p, c, b) == 0) {
        return POOL_DB_OK;
    }
    *err = b->pr.log ? b->pr.log : b->pr.detail;
    return b->pr.status == HTTP_SERVICE_UNAVAILABLE ? POOL_DB_UNAVAILABLE
                                                    : POOL_DB_OK;
}

static apr_status_t json_release(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

/* Runs the call: OK with b->out (freed with r->pool), or the problem sent
 * and *rv its result. */
static int run(request_rec *r, ep_baton *b, int *rv)
{
    const char *err = NULL;
    pool_db_rc rc = pool_db_run(r, op_call, b, &err);

    if (b->out) {
        apr_pool_cleanup_register(r->pool, b->out, json_release,
                                  apr_pool_cleanup_null);
    }
    if (b->pr.status) {
        *rv = pool_problem_send(r, &b->pr);
        return 0;
    }
    if (rc != POOL_DB_OK) {
        *rv = pool_db_problem(r, rc, err, "pool");
        return 0;
    }
    return 1;
}

/* Sends b->out (kept by r->pool: a reference is given away). */
static int send_out(request_rec *r, int status, ep_baton *b)
{
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, status, json_incref(b->out));
}

static int ep_id_valid(const char *s)
{
    int i;

    if (strlen(s) != EP_ID_LEN || strncmp(s, "ep_", 3)) {
        return 0;
    }
    for (i = 3; i < EP_ID_LEN; i++) {
        if (!apr_isdigit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) {
            return 0;
        }
    }
    return 1;
}

/* 1 when the request has a body (a JSON one is then required). */
static int has_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");

    return apr_table_get(r->headers_in, "Transfer-Encoding")
           || (cl && strcmp(cl, "0"))
           || apr_table_get(r->headers_in, "Content-Type");
}

/* A JSON merge patch (RFC 7396, application/merge-patch+json) is read as
 * application/json: the same object. */
static int read_patch(request_rec *r, json_t **j)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");

    if (ct && !strncasecmp(ct, "application/merge-patch+json", 28)
        && (!ct[28] || ct[28] == ';' || ct[28] == ' ')) {
        apr_table_setn(r->headers_in, "Content-Type",
                       apr_pstrcat(r->pool, "application/json", ct + 28,
                                   NULL));
    }
    return pool_read_json(r, EP_BODY_MAX, j);
}

/* A time from a query string: an unescaped '+' (of "+01:00") arrives as
 * a space, as for ts (api.md). */
static const char *query_time(request_rec *r, const char *v)
{
    char *t, *sp;

    if (!v) {
        return NULL;
    }
    t = apr_pstrdup(r->pool, v);
    while ((sp = strchr(t, ' ')) != NULL) {
        *sp = '+';
    }
    return t;
}

/* ------------------------------------------------------------ endpoints */

static int endpoints_list(request_rec *r, ep_baton *b)
{
    apr_table_t *args;
    const char *v;
    long n;
    int rv;

    if (pool_query(r, &args) != OK) {
        return OK;              /* refused, answered */
    }
    b->limit = LIST_DEFAULT;
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, LIST_MAX, &n) != 0) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "limit must be "
                                "an integer from 1 to 1000", "limit");
        }
        b->limit = (int)n;
    }
    if ((v = apr_table_get(args, "after")) != NULL) {
        if (!ep_id_valid(v)) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "after must be "
                                "an endpoint id, the \"next\" of a previous "
                                "listing", "after");
        }
        b->after = v;
    }
    b->call = EP_LIST;
    return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
}

static int endpoint_create(request_rec *r, ep_baton *b)
{
    json_t *j;
    int rv;

    if ((rv = pool_read_json(r, EP_BODY_MAX, &j)) != OK || !j) {
        return rv;
    }
    b->in = j;
    b->call = EP_CREATE;
    if (!run(r, b, &rv)) {
        return rv;
    }
    apr_table_setn(r->headers_out, "Location", apr_psprintf(r->pool,
                   "%s/v1/pools/%s/endpoints/%s", pool_dir_prefix(r), b->pool,
                   json_string_value(json_object_get(b->out, "id"))));
    return send_out(r, HTTP_CREATED, b);
}

static int endpoint_one(request_rec *r, ep_baton *b)
{
    json_t *j;
    int rv;

    if (r->method_number == M_GET) {
        b->call = EP_GET;
        return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
    }
    if (r->method_number == M_DELETE) {
        b->call = EP_DELETE;
        if (!run(r, b, &rv)) {
            return rv;
        }
        r->status = HTTP_NO_CONTENT;
        return OK;
    }
    if (r->method_number == M_PATCH) {
        if ((rv = read_patch(r, &j)) != OK || !j) {
            return rv;
        }
        b->in = j;
        b->call = EP_UPDATE;
        return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
    }
    return pool_method_not_allowed(r, "GET, HEAD, PATCH, DELETE",
                                   "an endpoint is read with GET, changed "
                                   "with PATCH and removed with DELETE");
}

static int endpoint_rotate(request_rec *r, ep_baton *b)
{
    static const char *const allowed[] = { "grace_seconds", NULL };
    json_t *j, *v;
    int rv;

    b->grace = GRACE_DEFAULT;
    if (has_body(r)) {
        if ((rv = pool_read_json(r, SMALL_BODY_MAX, &j)) != OK || !j) {
            return rv;
        }
        if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
            return rv;
        }
        if ((v = json_object_get(j, "grace_seconds")) != NULL) {
            if (!json_is_integer(v) || json_integer_value(v) < 0
                || json_integer_value(v) > POOL_ENDPOINT_GRACE_MAX) {
                return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                    "grace_seconds: must be an integer from "
                                    "0 to 604800 (7 days)", "grace_seconds");
            }
            b->grace = (int)json_integer_value(v);
        }
    }
    b->call = EP_ROTATE;
    return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
}

static int endpoint_preview(request_rec *r, ep_baton *b)
{
    static const char *const allowed[] = { "event", "mapping", NULL };
    json_t *j;
    int rv;

    if (has_body(r)) {
        if ((rv = pool_read_json(r, EP_BODY_MAX, &j)) != OK || !j) {
            return rv;
        }
        if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
            return rv;
        }
        b->event = json_object_get(j, "event");
        b->mapping = json_object_get(j, "mapping");
    }
    b->call = EP_PREVIEW;
    return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
}

static int endpoint_recover(request_rec *r, ep_baton *b)
{
    static const char *const allowed[] = { "since", NULL };
    apr_table_t *args;
    json_t *j, *v;
    int rv;

    if (pool_query(r, &args) != OK) {
        return OK;
    }
    b->since = query_time(r, apr_table_get(args, "since"));
    if (has_body(r)) {
        if ((rv = pool_read_json(r, SMALL_BODY_MAX, &j)) != OK || !j) {
            return rv;
        }
        if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
            return rv;
        }
        if ((v = json_object_get(j, "since")) != NULL) {
            if (b->since) {
                return pool_problem(r, HTTP_BAD_REQUEST, "give since once: "
                                    "in the query or in the body", "since");
            }
            if (!json_is_string(v)) {
                return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "since: "
                                    "must be a time in RFC 3339", "since");
            }
            b->since = json_string_value(v);
        }
    }
    b->call = EP_RECOVER;
    if (!run(r, b, &rv)) {
        return rv;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_ACCEPTED,
                          json_pack("{s:i}", "recovered", b->n));
}

int pool_handle_endpoints(request_rec *r, pool_principal *who,
                          const char *pool, const char *rest)
{
    const char *slash, *action = NULL;
    ep_baton b;

    memset(&b, 0, sizeof(b));
    b.pool = pool;
    if (!who->client_id || strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, "only a pool's admins manage "
                            "its endpoints", NULL);
    }
    if (!rest || !*rest) {
        if (r->method_number == M_GET) {
            return endpoints_list(r, &b);
        }
        return r->method_number == M_POST ? endpoint_create(r, &b)
               : pool_method_not_allowed(r, "GET, HEAD, POST",
                                         "endpoints are listed with GET and "
                                         "made with POST");
    }
    if ((slash = strchr(rest, '/')) != NULL) {
        action = slash + 1;
        rest = apr_pstrmemdup(r->pool, rest, (apr_size_t)(slash - rest));
    }
    if (!ep_id_valid(rest)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such endpoint", NULL);
    }
    b.id = rest;
    if (!action) {
        return endpoint_one(r, &b);
    }
    if (strcmp(action, "rotate") && strcmp(action, "preview")
        && strcmp(action, "recover")) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    if (r->method_number != M_POST) {
        return pool_method_not_allowed(r, "POST", apr_pstrcat(r->pool,
                                       action, " is asked for with POST",
                                       NULL));
    }
    if (!strcmp(action, "rotate")) {
        return endpoint_rotate(r, &b);
    }
    return !strcmp(action, "preview") ? endpoint_preview(r, &b)
                                      : endpoint_recover(r, &b);
}

/* ------------------------------------------------------------ deliveries */

static int deliveries_list(request_rec *r, ep_baton *b)
{
    apr_table_t *args;
    const char *v;
    long n;
    int rv;

    /* parameters it does not know are ignored, as everywhere (api.md) */
    if (pool_query(r, &args) != OK) {
        return OK;
    }
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, LIST_MAX, &n) != 0) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "limit must be "
                                "an integer from 1 to 1000", "limit");
        }
        b->filter.limit = (int)n;
    }
    b->filter.endpoint = apr_table_get(args, "endpoint");
    b->filter.status = apr_table_get(args, "status");
    b->filter.event = apr_table_get(args, "event");
    b->filter.since = query_time(r, apr_table_get(args, "since"));
    b->filter.before = apr_table_get(args, "before");
    b->call = DL_LIST;
    return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
}

static int deliveries_stats(request_rec *r, ep_baton *b)
{
    apr_table_t *args;
    int rv;

    if (r->method_number != M_GET) {
        return pool_method_not_allowed(r, "GET, HEAD", "the delivery "
                                       "statistics are read with GET");
    }
    if (pool_query(r, &args) != OK) {
        return OK;
    }
    b->since = query_time(r, apr_table_get(args, "since"));
    b->call = DL_STATS;
    return run(r, b, &rv) ? send_out(r, HTTP_OK, b) : rv;
}

int pool_handle_deliveries(request_rec *r, pool_principal *who,
                           const char *pool, const char *rest)
{
    const char *slash, *action = NULL;
    ep_baton b;
    int rv;

    memset(&b, 0, sizeof(b));
    b.pool = pool;
    if (!who->client_id || strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, "only a pool's admins see "
                            "its deliveries", NULL);
    }
    if (!rest || !*rest) {
        return r->method_number == M_GET ? deliveries_list(r, &b)
               : pool_method_not_allowed(r, "GET, HEAD", "deliveries are "
                                         "listed with GET");
    }
    if ((slash = strchr(rest, '/')) != NULL) {
        action = slash + 1;
        rest = apr_pstrmemdup(r->pool, rest, (apr_size_t)(slash - rest));
    }
    /* "stats" is no delivery id (ids are uuids): a resource of its own */
    if (!strcmp(rest, "stats")) {
        return action ? pool_problem(r, HTTP_NOT_FOUND, "no such resource",
                                     NULL)
                      : deliveries_stats(r, &b);
    }
    if (!pool_uuid_valid(rest)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such delivery", NULL);
    }
    b.id = rest;
    if (!action) {
        if (r->method_number != M_GET) {
            return pool_method_not_allowed(r, "GET, HEAD", "a delivery is "
                                           "read with GET");
        }
        b.call = DL_GET;
        return run(r, &b, &rv) ? send_out(r, HTTP_OK, &b) : rv;
    }
    if (strcmp(action, "retry")) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    if (r->method_number != M_POST) {
        return pool_method_not_allowed(r, "POST", "a retry is asked for "
                                       "with POST");
    }
    b.call = DL_RETRY;
    return run(r, &b, &rv) ? send_out(r, HTTP_ACCEPTED, &b) : rv;
}
