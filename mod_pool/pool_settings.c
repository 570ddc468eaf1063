/* The admin API for per-pool settings (docs/rounds.md, "Pool settings"):
 *   GET   .../pools/{pool}/settings     the effective settings
 *   PATCH .../pools/{pool}/settings     {"key": value, ...}; null resets
 * The same checks as `poolctl pool set` (lib/pool_settings.c). */
#include <string.h>

#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <jansson.h>

#include "mod_pool.h"
#include "pool_settings.h"

#define SETTINGS_BODY_MAX 8192
#define SETTINGS_MAX_KEYS 32

typedef struct {
    const char *pool;
    int npairs;
    const char *const *pairs;
    const char *json;           /* stored settings */
    int has_secret;
    const char *new_secret;
    const char *bad_key;
    const char *invalid;        /* validation message */
} settings_baton;

static pool_db_rc op_get(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    settings_baton *sb = b;
    return pool_db_settings_get(p, c, sb->pool, &sb->json, &sb->has_secret,
                                err);
}

static pool_db_rc op_set(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    settings_baton *sb = b;
    const char *cur, *next;
    int has_secret, url_changed;
    pool_db_rc rc;

    /* checked first against the stored settings: a bad pair is the
     * caller's error (422), not the database's */
    rc = pool_db_settings_get(p, c, sb->pool, &cur, &has_secret, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    sb->invalid = pool_settings_apply(p, cur, sb->npairs, sb->pairs, &next,
                                      &url_changed, &sb->bad_key);
    if (sb->invalid) {
        return POOL_DB_OK;
    }
    rc = pool_db_settings_set(p, c, sb->pool, sb->npairs, sb->pairs,
                              &sb->new_secret, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    return pool_db_settings_get(p, c, sb->pool, &sb->json, &sb->has_secret,
                                err);
}

static int send_settings(request_rec *r, settings_baton *sb)
{
    pool_settings_t s;
    const char *why = pool_settings_from_json(r->pool, sb->json, &s);
    json_t *j;

    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "pool: the stored settings "
                      "of pool %s are invalid: %s", sb->pool, why);
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "the pool's stored settings are invalid", NULL);
    }
    j = json_object();
    json_object_set_new(j, "pool", json_string(sb->pool));
    json_object_set_new(j, "settings", pool_settings_json(&s));
    json_object_set_new(j, "processor_secret_set",
                        json_boolean(sb->has_secret || sb->new_secret));
    if (sb->new_secret) {
        /* shown once: configure it in the processor */
        json_object_set_new(j, "processor_secret",
                            json_string(sb->new_secret));
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, j);
}

/* One "key=value" pair from a JSON member; NULL with *why when the value
 * is of no usable type. */
static const char *pair_of(apr_pool_t *p, const char *key, json_t *v,
                           const char **why)
{
    if (!*key || strchr(key, '=')) {
        *why = "a key must be a non-empty name without '='";
        return NULL;
    }
    if (json_is_null(v)) {
        return apr_pstrcat(p, key, "=", NULL);
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) {
            *why = "a value must not contain NUL";
            return NULL;
        }
        return apr_pstrcat(p, key, "=", s, NULL);
    }
    if (json_is_integer(v)) {
        return apr_psprintf(p, "%s=%" APR_INT64_T_FMT, key,
                            (apr_int64_t)json_integer_value(v));
    }
    *why = "a value must be a string, an integer or null";
    return NULL;
}

int pool_handle_settings(request_rec *r, pool_principal *who,
                         const char *pool)
{
    settings_baton sb;
    const char *err;
    pool_db_rc rc;

    if (strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, apr_psprintf(r->pool,
                            "the %s role may not see or change the pool's "
                            "settings", who->role), NULL);
    }
    memset(&sb, 0, sizeof(sb));
    sb.pool = pool;
    if (r->method_number == M_GET) {
        rc = pool_db_run(r, op_get, &sb, &err);
        if (rc != POOL_DB_OK) {
            return pool_db_problem(r, rc, err, "pool");
        }
        return send_settings(r, &sb);
    }
    if (r->method_number == M_PATCH) {
        apr_array_header_t *pairs;
        const char *key, *why = NULL;
        json_t *j, *v;
        int st;

        if ((st = pool_read_json(r, SETTINGS_BODY_MAX, &j)) != OK || !j) {
            return st;
        }
        if (json_object_size(j) == 0
            || json_object_size(j) > SETTINGS_MAX_KEYS) {
            return pool_problem(r, HTTP_BAD_REQUEST, "the body must be a JSON "
                                "object of 1 to 32 settings, e.g. "
                                "{\"window\": \"5m\", \"lateness\": null}",
                                NULL);
        }
        pairs = apr_array_make(r->pool, (int)json_object_size(j),
                               sizeof(const char *));
        json_object_foreach(j, key, v) {
            const char *pr = pair_of(r->pool, key, v, &why);
            if (!pr) {
                return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                    apr_pstrcat(r->pool, key, ": ", why,
                                                NULL),
                                    apr_pstrdup(r->pool, key));
            }
            APR_ARRAY_PUSH(pairs, const char *) = pr;
        }
        sb.npairs = pairs->nelts;
        sb.pairs = (const char *const *)pairs->elts;
        rc = pool_db_run(r, op_set, &sb, &err);
        if (rc != POOL_DB_OK) {
            return pool_db_problem(r, rc, err, "pool");
        }
        if (sb.invalid) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, sb.invalid,
                                sb.bad_key);
        }
        return send_settings(r, &sb);
    }
    apr_table_setn(r->headers_out, "Allow", "GET, HEAD, PATCH");
    return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, "settings are read with "
                        "GET and changed with PATCH", NULL);
}
