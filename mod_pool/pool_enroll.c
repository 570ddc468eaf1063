/* Enrollment (docs/api.md, "Enrollment"): an application registers itself
 * as a client of a pool with an enrollment key an admin made:
 *
 *   POST .../pools/{pool}/clients {name, labels?, enrollment_key?}
 *        with "Authorization: Bearer ek_..." or the key in the body
 *        -> 201 {client_id, secret, ...}; the secret is shown once
 *
 * and the pool's admins manage the keys:
 *
 *   GET    .../pools/{pool}/enrollment-keys
 *   POST   .../pools/{pool}/enrollment-keys {role, uses?, expires_in?,
 *                                            labels?}  -> 201 with "key"
 *   GET    .../pools/{pool}/enrollment-keys/{key_id}
 *   DELETE .../pools/{pool}/enrollment-keys/{key_id}   revoke -> 200
 *
 * Wrong keys count against the key id in the auth throttle, like wrong
 * secrets.  The SQL lives in lib/pool_clients.c. */
#include <string.h>

#include <jansson.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_pool.h"
#include "pool_clients.h"
#include "pool_json.h"
#include "pool_name.h"

#define ENROLL_BODY_MAX      (16 * 1024)
#define KEY_LIFETIME_DEFAULT (7 * 86400)
#define TOKEN_MAX            256

typedef struct {
    const char *pool, *token, *name, *labels, *secret, *key_id, *role,
               *by, *key;
    int uses_max, lifetime, revoke;
    pool_problem_t pr;
    pool_client_t *client;
    pool_enroll_key_t *k;
    apr_array_header_t *keys;
} enroll_baton;

static pool_db_rc op_use(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    enroll_baton *eb = b;
    return pool_enroll_use(p, c, eb->pool, eb->token, eb->name, eb->labels,
                           &eb->client, &eb->secret, &eb->pr, err);
}

static pool_db_rc op_create(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    enroll_baton *eb = b;
    return pool_enroll_create(p, c, eb->pool, eb->role, eb->uses_max,
                              eb->lifetime, eb->labels, eb->by, &eb->k,
                              &eb->key, err);
}

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    enroll_baton *eb = b;
    return pool_enroll_list(p, c, eb->pool, &eb->keys, err);
}

static pool_db_rc op_one(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    enroll_baton *eb = b;
    return eb->revoke ? pool_enroll_revoke(p, c, eb->pool, eb->key_id, &eb->k,
                                           err)
                      : pool_enroll_show(p, c, eb->pool, eb->key_id, &eb->k,
                                         err);
}

/* labels (optional) as JSON object text, *rv DECLINED; else NULL with the
 * problem sent and *rv its result. */
static const char *labels_of(request_rec *r, json_t *j, int *rv)
{
    json_t *v = json_object_get(j, "labels");
    const char *why;
    char *text, *copy;

    *rv = DECLINED;
    if (!v) {
        return NULL;
    }
    if ((why = pool_labels_check(r->pool, v, 0)) != NULL) {
        *rv = pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, "labels");
        return NULL;
    }
    text = json_dumps(v, JSON_COMPACT);
    copy = text ? apr_pstrdup(r->pool, text) : NULL;
    free(text);
    return copy;
}

static int enroll_refused(request_rec *r, const char *detail)
{
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   "Bearer realm=\"pool\", error=\"invalid_token\"");
    return pool_problem(r, HTTP_UNAUTHORIZED, detail, NULL);
}

/* The enrollment itself: the key from the header or the body. */
static int enroll(request_rec *r, const char *pool, const char *bearer)
{
    static const char *const allowed[] = { "name", "labels",
                                           "enrollment_key", NULL };
    enroll_baton eb;
    const char *err, *why, *key_id;
    json_t *j, *v;
    pool_db_rc rc;
    int rv, wait;

    memset(&eb, 0, sizeof(eb));
    eb.pool = pool;
    if ((rv = pool_read_json(r, ENROLL_BODY_MAX, &j)) != OK || !j) {
        return rv;
    }
    if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
        return rv;
    }
    v = json_object_get(j, "enrollment_key");
    if (v && bearer) {
        return pool_problem(r, HTTP_BAD_REQUEST, "give the enrollment key "
                            "once: as a Bearer token or in the body",
                            "enrollment_key");
    }
    if (!v && !bearer) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Bearer realm=\"pool\"");
        return pool_problem(r, HTTP_UNAUTHORIZED, "authentication required: "
                            "an admin's credentials, or an enrollment key "
                            "(as a Bearer token or \"enrollment_key\")",
                            NULL);
    }
    eb.token = bearer ? bearer : json_string_value(v);
    if (!eb.token || strlen(eb.token) > TOKEN_MAX
        || !(key_id = pool_enroll_token_id(r->pool, eb.token))) {
        return enroll_refused(r, "not an enrollment key");
    }
    eb.token = apr_pstrdup(r->pool, eb.token);
    v = json_object_get(j, "name");
    if (!json_is_string(v)) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, v ? "name: must be "
                            "a string" : "name: is required", "name");
    }
    eb.name = apr_pstrdup(r->pool, json_string_value(v));
    if ((why = pool_ident_check(eb.name)) != NULL) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            apr_pstrcat(r->pool, "name: ", why, NULL), "name");
    }
    eb.labels = labels_of(r, j, &rv);
    if (rv != DECLINED) {
        return rv;
    }
    if ((wait = pool_auth_wait(r, key_id)) > 0) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, wait));
        return pool_problem(r, HTTP_TOO_MANY_REQUESTS, "too many failed "
                            "enrollments; retry later", NULL);
    }
    rc = pool_db_run(r, op_use, &eb, &err);
    if (eb.pr.status == HTTP_UNAUTHORIZED) {
        pool_auth_failed(r, key_id);
        return enroll_refused(r, eb.pr.detail);
    }
    if (eb.pr.status) {
        return pool_problem_send(r, &eb.pr);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    j = pool_json_client(eb.client);
    json_object_set_new(j, "secret", json_string(eb.secret));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location", apr_psprintf(r->pool,
                   "%s/v1/pools/%s/clients/me", pool_dir_prefix(r), pool));
    return pool_send_json(r, HTTP_CREATED, j);
}

int pool_enroll_request(request_rec *r, const char *path)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const char *s = path, *slash;
    char *pool;

    /* only POST /{pool}/clients without credentials or with a key */
    if (r->method_number != M_POST || *s != '/'
        || (auth && (strncasecmp(auth, "Bearer ", 7)
                     || strncmp(auth + 7 + strspn(auth + 7, " "), "ek_", 3)))) {
        return DECLINED;
    }
    slash = strchr(s + 1, '/');
    if (!slash || strcmp(slash, "/clients")) {
        return DECLINED;
    }
    pool = apr_pstrmemdup(r->pool, s + 1, (apr_size_t)(slash - s - 1));
    if (pool_ident_check(pool)) {
        return DECLINED;
    }
    return enroll(r, pool, auth ? auth + 7 + strspn(auth + 7, " ") : NULL);
}

/* ------------------------------------------------------- the admin API */

static int keys_create(request_rec *r, enroll_baton *eb, pool_principal *who)
{
    static const char *const allowed[] = { "role", "uses", "expires_in",
                                           "labels", NULL };
    const char *err;
    json_t *j, *v, *out;
    pool_db_rc rc;
    int rv;

    if ((rv = pool_read_json(r, ENROLL_BODY_MAX, &j)) != OK || !j) {
        return rv;
    }
    if ((rv = pool_json_fields_check(r, j, allowed)) != DECLINED) {
        return rv;
    }
    v = json_object_get(j, "role");
    if (!json_is_string(v) || (strcmp(json_string_value(v), "uploader")
                               && strcmp(json_string_value(v), "listener")
                               && strcmp(json_string_value(v),
                                         "processor"))) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "role: must be "
                            "uploader, listener or processor (admins are not "
                            "made by enrollment)", "role");
    }
    eb->role = apr_pstrdup(r->pool, json_string_value(v));
    if ((v = json_object_get(j, "uses")) != NULL
        && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > 1000000000) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "uses: must be "
                                "an integer from 1, or null for no limit",
                                "uses");
        }
        eb->uses_max = (int)json_integer_value(v);
    }
    eb->lifetime = KEY_LIFETIME_DEFAULT;
    if ((v = json_object_get(j, "expires_in")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > POOL_ENROLL_LIFETIME_MAX) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "expires_in: "
                                "must be seconds from 1 to 7776000 (90 days)",
                                "expires_in");
        }
        eb->lifetime = (int)json_integer_value(v);
    }
    eb->labels = labels_of(r, j, &rv);
    if (rv != DECLINED) {
        return rv;
    }
    eb->by = who->client_id;
    rc = pool_db_run(r, op_create, eb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    out = pool_json_enroll_key(eb->k);
    json_object_set_new(out, "key", json_string(eb->key));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location", apr_psprintf(r->pool,
                   "%s/v1/pools/%s/enrollment-keys/%s", pool_dir_prefix(r),
                   eb->pool, eb->k->key_id));
    return pool_send_json(r, HTTP_CREATED, out);
}

static int keys_list(request_rec *r, enroll_baton *eb)
{
    const char *err;
    pool_db_rc rc = pool_db_run(r, op_list, eb, &err);
    json_t *a;
    int i;

    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "pool");
    }
    a = json_array();
    for (i = 0; i < eb->keys->nelts; i++) {
        json_array_append_new(a, pool_json_enroll_key(
            APR_ARRAY_IDX(eb->keys, i, pool_enroll_key_t *)));
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, json_pack("{s:o}", "keys", a));
}

int pool_handle_enroll_keys(request_rec *r, pool_principal *who,
                            const char *pool, const char *rest)
{
    enroll_baton eb;
    const char *err;
    pool_db_rc rc;

    memset(&eb, 0, sizeof(eb));
    eb.pool = pool;
    if (!who->client_id || strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, "only a pool's admins manage "
                            "its enrollment keys", NULL);
    }
    if (!rest || !*rest) {
        if (r->method_number == M_GET) {
            return keys_list(r, &eb);
        }
        if (r->method_number == M_POST) {
            return keys_create(r, &eb, who);
        }
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "enrollment keys are "
                            "listed with GET and made with POST", NULL);
    }
    if (strchr(rest, '/') || strlen(rest) > 64) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such enrollment key", NULL);
    }
    if (r->method_number != M_GET && r->method_number != M_DELETE) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, DELETE");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "an enrollment key "
                            "is read with GET and revoked with DELETE", NULL);
    }
    eb.key_id = rest;
    eb.revoke = r->method_number == M_DELETE;
    rc = pool_db_run(r, op_one, &eb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "enrollment key");
    }
    return pool_send_json(r, HTTP_OK, pool_json_enroll_key(eb.k));
}
