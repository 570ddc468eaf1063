/* A pool's clients over HTTP (docs/api.md, "Clients"):
 *
 *   GET   .../clients[?role=&label=k=v,k=v&after=&limit=]   admin: list
 *   POST  .../clients {name, role, labels?}       admin: create (secret once)
 *         (with an enrollment key instead: pool_enroll.c)
 *   GET   .../clients/{client_id}                 admin
 *   PATCH .../clients/{client_id} {disabled?, labels?}      admin
 *   GET   .../clients/me                          the caller
 *   POST  .../clients/me/secret {grace_seconds?}  the caller: a new secret
 *   ...   .../clients/me/callback[/test]          pool_callback.c
 *
 * The SQL lives in lib/pool_clients.c. */
#include <string.h>

#include <jansson.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_pool.h"
#include "pool_clients.h"
#include "pool_json.h"
#include "pool_name.h"

#define CLIENTS_BODY_MAX  (16 * 1024)
#define LIST_DEFAULT      100
#define LIST_MAX          1000
#define ROTATE_GRACE_DEFAULT 86400

typedef struct {
    const char *pool, *client_id, *secret, *until, *patch;
    int disabled, grace;
    pool_client_new_t in;
    pool_client_filter_t filter;
    pool_client_t *client;
    apr_array_header_t *clients;
} clients_baton;

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    clients_baton *cb = b;
    return pool_client_list(p, c, cb->pool, &cb->filter, &cb->clients, err);
}

static pool_db_rc op_create(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    clients_baton *cb = b;
    return pool_client_create(p, c, cb->pool, &cb->in, &cb->client,
                              &cb->secret, err);
}

static pool_db_rc op_show(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    clients_baton *cb = b;
    return pool_client_show(p, c, cb->pool, cb->client_id, &cb->client, err);
}

static pool_db_rc op_update(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    clients_baton *cb = b;
    return pool_client_update(p, c, cb->pool, cb->client_id, cb->disabled,
                              cb->patch, &cb->client, err);
}

static pool_db_rc op_rotate(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    clients_baton *cb = b;
    return pool_client_rotate(p, c, cb->pool, cb->client_id, cb->grace,
                              &cb->secret, &cb->until, err);
}

static int admin_only(request_rec *r, pool_principal *who)
{
    if (strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, "only a pool's admins manage "
                            "its clients", NULL);
    }
    return DECLINED;
}

static int send_client(request_rec *r, int status, pool_client_t *cl,
                       const char *secret)
{
    json_t *j = pool_json_client(cl);

    if (secret) {
        json_object_set_new(j, "secret", json_string(secret));
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, status, j);
}

/* labels from a JSON member (NULL when absent) as object text, *rv
 * DECLINED; else NULL with the problem sent and *rv its result. */
static const char *labels_member(request_rec *r, json_t *j, int merge,
                                 int *rv)
{
    json_t *v = json_object_get(j, "labels");
    const char *why;
    char *text, *copy;

    *rv = DECLINED;
    if (!v) {
        return NULL;
    }
    if ((why = pool_labels_check(r->pool, v, merge)) != NULL) {
        *rv = pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, "labels");
        return NULL;
    }
    text = json_dumps(v, JSON_COMPACT);
    copy = text ? apr_pstrdup(r->pool, text) : NULL;
    free(text);
    return copy;
}

/* The label=k=v,k=v filter as a JSON object text. */
static const char *label_filter(request_rec *r, const char *v,
                                const char **why)
{
    json_t *labels = NULL;
    char *copy = apr_pstrdup(r->pool, v), *kv, *last, *text;
    const char *out;

    *why = NULL;
    for (kv = apr_strtok(copy, ",", &last); kv && !*why;
         kv = apr_strtok(NULL, ",", &last)) {
        *why = pool_label_parse(r->pool, kv, &labels);
    }
    if (*why || !labels) {
        json_decref(labels);
        *why = *why ? *why : "label must be key=value[,key=value...]";
        return NULL;
    }
    text = json_dumps(labels, JSON_COMPACT);
    json_decref(labels);
    out = text ? apr_pstrdup(r->pool, text) : NULL;
    free(text);
    return out;
}

static int clients_list(request_rec *r, clients_baton *cb)
{
    apr_table_t *args;
    const char *v, *err, *why;
    json_t *arr, *j;
    pool_db_rc rc;
    long n;
    int i;

    if (pool_query(r, &args) != OK) {
        return OK;              /* refused, answered */
    }
    cb->filter.limit = LIST_DEFAULT;
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, LIST_MAX, &n) != 0) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "limit must be "
                                "an integer from 1 to 1000", "limit");
        }
        cb->filter.limit = (int)n;
    }
    if ((v = apr_table_get(args, "after")) != NULL) {
        if (pool_ident_check(v)) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "after must be "
                                "a cursor from a previous listing's \"next\"",
                                "after");
        }
        cb->filter.after = v;
    }
    if ((v = apr_table_get(args, "role")) != NULL) {
        if ((why = pool_role_check(v)) != NULL) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                apr_pstrcat(r->pool, "role: ", why, NULL),
                                "role");
        }
        cb->filter.role = v;
    }
    if ((v = apr_table_get(args, "label")) != NULL
        && !(cb->filter.labels = label_filter(r, v, &why))) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, "label");
    }
    rc = pool_db_run(r, op_list, cb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    arr = json_array();
    for (i = 0; i < cb->clients->nelts; i++) {
        json_array_append_new(arr, pool_json_client(
            APR_ARRAY_IDX(cb->clients, i, pool_client_t *)));
    }
    j = json_pack("{s:o}", "clients", arr);
    json_object_set_new(j, "next", cb->clients->nelts == cb->filter.limit
        ? json_string(APR_ARRAY_IDX(cb->clients, cb->clients->nelts - 1,
                                    pool_client_t *)->name)
        : json_null());
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, j);
}

/* A string member that must be there; NULL and the problem sent (*rv). */
static const char *required_str(request_rec *r, json_t *j, const char *key,
                                int *rv)
{
    json_t *v = json_object_get(j, key);

    if (!json_is_string(v)) {
        *rv = pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(r->pool,
                           "%s: %s", key, v ? "must be a string"
                                            : "is required"), key);
        return NULL;
    }
    return apr_pstrdup(r->pool, json_string_value(v));
}

static int clients_create(request_rec *r, clients_baton *cb)
{
    static const char *const allowed[] = { "name", "role", "labels", NULL };
    const char *err, *why;
    json_t *j;
    pool_db_rc rc;
    int rv;

    if ((rv = pool_read_json(r, CLIENTS_BODY_MAX, &j)) != OK || !j) {
        return rv;
    }
    if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED
        || !(cb->in.name = required_str(r, j, "name", &rv))
        || !(cb->in.role = required_str(r, j, "role", &rv))) {
        return rv;
    }
    if ((why = pool_ident_check(cb->in.name)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_pstrcat(r->pool, "name: ", why, NULL), "name");
    }
    if ((why = pool_role_check(cb->in.role)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_pstrcat(r->pool, "role: ", why, NULL), "role");
    }
    cb->in.labels = labels_member(r, j, 0, &rv);
    if (rv != DECLINED) {
        return rv;
    }
    rc = pool_db_run(r, op_create, cb, &err);
    if (rc == POOL_DB_CONFLICT) {
        return pool_problem(r, HTTP_CONFLICT, err, "name");
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    apr_table_setn(r->headers_out, "Location", apr_psprintf(r->pool,
                   "%s/v1/pools/%s/clients/%s", pool_dir_prefix(r), cb->pool,
                   cb->client->client_id));
    return send_client(r, HTTP_CREATED, cb->client, cb->secret);
}

static int client_patch(request_rec *r, clients_baton *cb)
{
    static const char *const allowed[] = { "disabled", "labels", NULL };
    const char *err;
    json_t *j, *v;
    pool_db_rc rc;
    int rv;

    if ((rv = pool_read_json(r, CLIENTS_BODY_MAX, &j)) != OK || !j) {
        return rv;
    }
    if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
        return rv;
    }
    cb->disabled = -1;
    if ((v = json_object_get(j, "disabled")) != NULL) {
        if (!json_is_boolean(v)) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                "disabled: must be true or false", "disabled");
        }
        cb->disabled = json_is_true(v);
    }
    cb->patch = labels_member(r, j, 1, &rv);
    if (rv != DECLINED) {
        return rv;
    }
    rc = pool_db_run(r, op_update, cb, &err);
    if (rc == POOL_DB_REFUSED) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, err, "labels");
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "client");
    }
    return send_client(r, HTTP_OK, cb->client, NULL);
}

static int client_rotate(request_rec *r, clients_baton *cb)
{
    static const char *const allowed[] = { "grace_seconds", NULL };
    const char *err;
    json_t *j, *v;
    pool_db_rc rc;
    int rv;

    cb->grace = ROTATE_GRACE_DEFAULT;
    if (apr_table_get(r->headers_in, "Content-Type")
        || apr_table_get(r->headers_in, "Transfer-Encoding")
        || (apr_table_get(r->headers_in, "Content-Length")
            && strcmp(apr_table_get(r->headers_in, "Content-Length"), "0"))) {
        if ((rv = pool_read_json(r, CLIENTS_BODY_MAX, &j)) != OK || !j) {
            return rv;
        }
        if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
            return rv;
        }
        if ((v = json_object_get(j, "grace_seconds")) != NULL) {
            if (!json_is_integer(v) || json_integer_value(v) < 0
                || json_integer_value(v) > POOL_ROTATE_GRACE_MAX) {
                return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                    "grace_seconds: must be an integer from "
                                    "0 to 604800 (7 days)", "grace_seconds");
            }
            cb->grace = (int)json_integer_value(v);
        }
    }
    rc = pool_db_run(r, op_rotate, cb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "client");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, json_pack("{s:s, s:s, s:o}",
        "client_id", cb->client_id, "secret", cb->secret,
        "previous_secret_valid_until",
        cb->until ? json_string(cb->until) : json_null()));
}

static int client_get(request_rec *r, clients_baton *cb)
{
    const char *err;
    pool_db_rc rc = pool_db_run(r, op_show, cb, &err);

    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "client");
    }
    return send_client(r, HTTP_OK, cb->client, NULL);
}

int pool_handle_clients(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest)
{
    clients_baton cb;
    int rv;

    memset(&cb, 0, sizeof(cb));
    cb.pool = pool;
    if (!who->client_id) {
        return pool_problem(r, HTTP_FORBIDDEN, "a signed link cannot do "
                            "this", NULL);
    }
    if (rest && (!strcmp(rest, "me/callback")
                 || !strcmp(rest, "me/callback/test"))) {
        return pool_handle_callback(r, who, pool, rest);
    }
    if (rest && (!strcmp(rest, "me") || !strcmp(rest, "me/secret"))) {
        cb.client_id = who->client_id;
        if (!strcmp(rest, "me")) {
            return r->method_number == M_GET ? client_get(r, &cb)
                   : pool_method_not_allowed(r, "GET, HEAD",
                                             "a client reads itself with GET");
        }
        return r->method_number == M_POST ? client_rotate(r, &cb)
               : pool_method_not_allowed(r, "POST",
                                         "a new secret is asked for with "
                                         "POST");
    }
    if ((rv = admin_only(r, who)) != DECLINED) {
        return rv;
    }
    if (!rest || !*rest) {
        if (r->method_number == M_GET) {
            return clients_list(r, &cb);
        }
        return r->method_number == M_POST ? clients_create(r, &cb)
               : pool_method_not_allowed(r, "GET, HEAD, POST",
                                         "clients are listed with GET and "
                                         "created with POST");
    }
    if (strchr(rest, '/') || strlen(rest) > 64) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such client", NULL);
    }
    cb.client_id = rest;
    if (r->method_number == M_GET) {
        return client_get(r, &cb);
    }
    return r->method_number == M_PATCH ? client_patch(r, &cb)
           : pool_method_not_allowed(r, "GET, HEAD, PATCH",
                                     "a client is read with GET and changed "
                                     "with PATCH");
}
