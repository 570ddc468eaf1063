/* Upload by URL: POST .../pools/{pool}/imports queues the download and
 * answers 202 with the process to watch; GET /v1/processes/{id} reads it;
 * GET .../imports lists them (an admin's: all of the pool's). */
#include <jansson.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_pool.h"
#include "pool_fields.h"
#include "pool_imports.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define IMPORT_BODY_MAX (16 * 1024)

typedef struct {
    const char *pool, *client_id, *url, *name, *callback_url, *id;
    const char *folder;         /* NULL: the client's own */
    apr_time_t ts;
    json_t *process;
    int no_secret;              /* callback_url without a webhook secret */
} import_baton;

static pool_db_rc op_create(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    import_baton *ib = b;
    pool_db_rc rc = POOL_DB_OK;

    /* a retry after a lost connection must not queue the import twice:
     * the first attempt's id is kept and only read back */
    if (!ib->id && ib->callback_url) {
        /* callbacks are signed with the client's webhook secret */
        pool_callback_t *cb = NULL;
        rc = pool_client_callback_get(p, c, ib->pool, ib->client_id, &cb, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
        if (!cb || !cb->secret) {
            ib->no_secret = 1;
            return POOL_DB_CONFLICT;
        }
    }
    if (!ib->id) {
        rc = pool_import_create(p, c, ib->pool, ib->client_id, ib->url,
                                ib->name, ib->folder, ib->ts,
                                ib->callback_url, &ib->id, err);
    }
    if (rc == POOL_DB_OK) {
        rc = pool_process_get(p, c, ib->pool, ib->id, &ib->process, err);
    }
    return rc;
}

static pool_db_rc op_get(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    import_baton *ib = b;
    return pool_process_get(p, c, ib->pool, ib->id, &ib->process, err);
}

typedef struct {
    const char *pool, *client_id, *state, *before, *next;
    int limit;
    json_t *items;
} list_baton;

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    list_baton *lb = b;

    return pool_import_list(p, c, lb->pool, lb->client_id, lb->state,
                            lb->before, lb->limit, &lb->items, &lb->next,
                            err);
}

/* GET .../imports[?client=&state=&before=&limit=], newest first: an
 * admin's are the pool's, anyone else's its own. */
static int list_imports(request_rec *r, pool_principal *who, const char *pool)
{
    apr_table_t *args;
    list_baton lb;
    const char *v, *err;
    pool_db_rc rc;
    long n;

    memset(&lb, 0, sizeof(lb));
    lb.pool = pool;
    lb.limit = 100;
    if (pool_query(r, &args) != OK) {
        return OK;
    }
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, 1000, &n) != 0) {
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "limit must be "
                                "an integer from 1 to 1000", "limit");
        }
        lb.limit = (int)n;
    }
    lb.state = apr_table_get(args, "state");
    if (lb.state && strcmp(lb.state, "queued") && strcmp(lb.state, "done")
        && strcmp(lb.state, "failed")) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "state must be "
                            "queued, done or failed", "state");
    }
    lb.client_id = apr_table_get(args, "client");
    if (strcmp(who->role, "admin")) {
        if (!who->client_id) {
            return pool_problem(r, HTTP_FORBIDDEN, "imports are listed by "
                                "clients", NULL);
        }
        if (lb.client_id && strcmp(lb.client_id, who->client_id)) {
            return pool_problem(r, HTTP_FORBIDDEN, "only an admin sees "
                                "other clients' imports", "client");
        }
        lb.client_id = who->client_id;
    }
    lb.before = apr_table_get(args, "before");
    rc = pool_db_run(r, op_list, &lb, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "before must be "
                            "an import of this pool", "before");
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "imports");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, json_pack("{s:o, s:o}", "items",
                          lb.items, "next", lb.next ? json_string(lb.next)
                                                    : json_null()));
}

static int bad_field(request_rec *r, const char *field, const char *why)
{
    return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                        apr_psprintf(r->pool, "%s: %s", field, why), field);
}

int pool_handle_imports(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest)
{
    const char *ctype, *key, *why, *field, *err, *ts_s = NULL;
    char *body;
    apr_size_t len;
    json_t *j, *v;
    json_error_t jerr;
    import_baton ib;
    pool_file_fields_t fields;
    pool_db_rc rc;
    int status;

    if (rest && *rest) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource: watch an "
                            "import at /v1/processes/{id}", NULL);
    }
    if (r->method_number == M_GET) {
        return list_imports(r, who, pool);
    }
    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED,
                            "imports are created with POST and listed "
                            "with GET", NULL);
    }
    if (strcmp(who->role, "uploader") && strcmp(who->role, "admin")) {
        return pool_problem(r, HTTP_FORBIDDEN, apr_psprintf(r->pool,
                            "the %s role may not import files", who->role),
                            NULL);
    }
    ctype = apr_table_get(r->headers_in, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/json", 16)
        || (ctype[16] && ctype[16] != ';' && ctype[16] != ' ')) {
        return pool_problem(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                            "the body must be application/json", NULL);
    }
    status = pool_read_small_body(r, IMPORT_BODY_MAX, &body, &len);
    if (status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return pool_problem(r, status, "the body is larger than 16 KB", NULL);
    }
    if (status != OK) {
        return pool_problem(r, HTTP_BAD_REQUEST,
                            "cannot read the request body", NULL);
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        if (j) {
            json_decref(j);
        }
        return pool_problem(r, HTTP_BAD_REQUEST, "the body must be a JSON "
                            "object {\"url\": ..., \"name\"?, \"ts\"?, "
                            "\"folder\"?, \"callback_url\"?}", NULL);
    }
    memset(&ib, 0, sizeof(ib));
    json_object_foreach(j, key, v) {
        if (!strcmp(key, "url") || !strcmp(key, "name")
            || !strcmp(key, "callback_url") || !strcmp(key, "folder")) {
            if (!json_is_string(v)) {
                status = bad_field(r, key, "must be a string");
                goto out;
            }
        }
        else if (!strcmp(key, "ts")) {
            if (json_is_string(v)) {
                ts_s = apr_pstrdup(r->pool, json_string_value(v));
            }
            else if (json_is_integer(v) && json_integer_value(v) >= 0) {
                ts_s = apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    (apr_int64_t)json_integer_value(v));
            }
            else {
                status = bad_field(r, "ts", "must be an RFC 3339 string or "
                                   "Unix seconds");
                goto out;
            }
        }
        else {
            status = bad_field(r, apr_pstrdup(r->pool, key), "unknown field");
            goto out;
        }
    }
    v = json_object_get(j, "url");
    if (!v) {
        status = bad_field(r, "url", "is required");
        goto out;
    }
    ib.url = apr_pstrdup(r->pool, json_string_value(v));
    if ((why = pool_url_check(r->pool, ib.url)) != NULL) {
        status = bad_field(r, "url", why);
        goto out;
    }
    if ((v = json_object_get(j, "callback_url")) != NULL) {
        ib.callback_url = apr_pstrdup(r->pool, json_string_value(v));
        if ((why = pool_url_check(r->pool, ib.callback_url)) != NULL) {
            status = bad_field(r, "callback_url", why);
            goto out;
        }
    }
    if ((v = json_object_get(j, "name")) != NULL) {
        ib.name = apr_pstrdup(r->pool, json_string_value(v));
    }
    /* the same checks as a direct upload; a missing name is taken from the
     * URL when the download is stored */
    why = pool_fields_check(r->pool, ib.name ? ib.name : "download",
                            ib.name ? strlen(ib.name) : 8, ts_s, NULL,
                            &fields, &field);
    if (why) {
        status = pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, field);
        goto out;
    }
    if ((v = json_object_get(j, "folder")) != NULL
        && (why = pool_folder_check(r->pool, json_string_value(v),
                                    json_string_length(v), &ib.folder))) {
        status = pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, why, "folder");
        goto out;
    }
    ib.ts = fields.ts;
    ib.pool = pool;
    ib.client_id = who->client_id;
    rc = pool_db_run(r, op_create, &ib, &err);
    if (rc == POOL_DB_CONFLICT && ib.no_secret) {
        status = pool_problem(r, HTTP_CONFLICT, "callback_url: callbacks are "
                              "signed with the client's webhook secret, and "
                              "this client has none yet: register one with "
                              "PUT .../clients/me/callback first",
                              "callback_url");
        goto out;
    }
    if (rc == POOL_DB_NOTFOUND) {
        status = pool_problem(r, HTTP_NOT_FOUND, "no such pool", NULL);
        goto out;
    }
    if (rc != POOL_DB_OK) {
        status = pool_db_problem(r, rc, err, "import");
        goto out;
    }
    apr_table_setn(r->headers_out, "Location",
                   apr_psprintf(r->pool, "%s/v1/processes/%s",
                                pool_dir_prefix(r), ib.id));
    status = pool_send_json(r, HTTP_ACCEPTED, ib.process);
out:
    json_decref(j);
    return status;
}

int pool_handle_process(request_rec *r, pool_principal *who, const char *id)
{
    import_baton ib;
    const char *err;
    pool_db_rc rc;

    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return pool_problem(r, HTTP_METHOD_NOT_ALLOWED,
                            "processes are read with GET", NULL);
    }
    memset(&ib, 0, sizeof(ib));
    ib.pool = who->pool;
    ib.id = id;
    if (!pool_uuid_valid(id)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such process", NULL);
    }
    rc = pool_db_run(r, op_get, &ib, &err);
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such process", NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "process");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, ib.process);
}
