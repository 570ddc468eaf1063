/* HTTP plumbing: request ids, RFC 9457 problem responses, JSON bodies. */
#include <jansson.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>

#include "mod_pool.h"
#include "pool_util.h"
#include "pool_json.h"

#define REQUEST_ID_HEADER "X-Request-Id"

/* post_read_request: give every request its log id early, and send it in
 * err_headers_out so that it survives error responses too. */
int pool_request_id_hook(request_rec *r)
{
    if (!r->log_id) {
        const char *id = NULL;
        if (ap_run_generate_log_id(r->connection, r, &id) == OK && id) {
            r->log_id = id;
        }
    }
    if (r->log_id) {
        apr_table_setn(r->err_headers_out, REQUEST_ID_HEADER, r->log_id);
    }
    return DECLINED;
}

static int send_body(request_rec *r, int status, const char *ctype,
                     const char *body)
{
    r->status = status;
    ap_set_content_type(r, ctype);
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only) {
        ap_rputs(body, r);
    }
    return OK;
}

/* The problem document (RFC 9457) of an error on r. */
static char *problem_body(request_rec *r, int status, const char *detail,
                          const char *field, json_t *extra)
{
    json_t *j = json_object();
    const char *title = ap_get_status_line(status);
    char *body;

    /* "404 Not Found" -> "Not Found" */
    if (title && strlen(title) > 4) {
        title += 4;
    }
    json_object_set_new(j, "type", json_string("about:blank"));
    json_object_set_new(j, "title", json_string(title ? title : "Error"));
    json_object_set_new(j, "status", json_integer(status));
    if (detail) {
        json_object_set_new(j, "detail", json_string(detail));
    }
    if (field) {
        json_object_set_new(j, "field", json_string(field));
    }
    json_object_set_new(j, "request_id",
                        r->log_id ? json_string(r->log_id) : json_null());
    if (extra) {
        json_object_update(j, extra);
        json_decref(extra);
    }
    body = pool_json_dump(r->pool, j);
    json_decref(j);
    return body ? body : apr_pstrdup(r->pool, "{}");
}

int pool_problem_json(request_rec *r, int status, const char *detail,
                      const char *field, void *extrav)
{
    char *body = problem_body(r, status, detail, field, extrav);

    if (status == HTTP_UNAUTHORIZED
        || status == HTTP_SERVICE_UNAVAILABLE || status >= 500) {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    }
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", "5");
    }
    /* Error responses close nothing: the body is ours. */
    return send_body(r, status, "application/problem+json", body);
}

/* ---------------------------------------------------- httpd's own errors
 * An error httpd answers itself on the API's paths (the byterange filter's
 * 416, a body that cannot be read, a handler's bare status) goes through
 * ap_send_error_response, whose HTML this filter replaces with the problem
 * document our own errors have.  Errors raised while the request line and
 * headers are read come before any location is known and stay httpd's. */

#define PROBLEM_FILTER "POOL_PROBLEM"

static const char *own_error_detail(request_rec *r, int status)
{
    switch (status) {
    case HTTP_BAD_REQUEST:
        return "the request is malformed (e.g. its body's chunked encoding)";
    case HTTP_REQUEST_TIME_OUT:
        return "the request was not received in time";
    case HTTP_LENGTH_REQUIRED:
        return "a body needs Content-Length or chunked encoding";
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "the request body is larger than the server accepts";
    case HTTP_RANGE_NOT_SATISFIABLE:
        return "the range is outside the file";
    case HTTP_NOT_IMPLEMENTED:
        return "not implemented (e.g. a Transfer-Encoding other than "
               "chunked)";
    default:
        return NULL;
    }
}

static apr_status_t problem_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *e, *eos = NULL;
    const char *body, *size;

    /* drop httpd's HTML; answer at its end */
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); ) {
        apr_bucket *next = APR_BUCKET_NEXT(e);

        if (APR_BUCKET_IS_EOS(e)) {
            eos = e;
            break;
        }
        apr_bucket_delete(e);
        e = next;
    }
    if (!eos) {
        return APR_SUCCESS;
    }
    if (r->status == HTTP_RANGE_NOT_SATISFIABLE
        && (size = apr_table_get(r->notes, POOL_NOTE_SIZE)) != NULL) {
        apr_table_setn(r->headers_out, "Content-Range",
                       apr_pstrcat(r->pool, "bytes */", size, NULL));
    }
    if (r->log_id) {            /* the error path may have lost it */
        apr_table_setn(r->headers_out, REQUEST_ID_HEADER, r->log_id);
    }
    body = problem_body(r, r->status, own_error_detail(r, r->status), NULL,
                        NULL);
    ap_set_content_type(r, "application/problem+json");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    APR_BUCKET_INSERT_BEFORE(eos, apr_bucket_pool_create(body, strlen(body),
                             r->pool, r->connection->bucket_alloc));
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void pool_error_filter_insert(request_rec *r)
{
    if (r->handler && !strcmp(r->handler, "pool") && !r->header_only) {
        ap_add_output_filter(PROBLEM_FILTER, NULL, r, r->connection);
    }
}

void pool_error_filter_register(void)
{
    ap_register_output_filter(PROBLEM_FILTER, problem_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}

int pool_problem(request_rec *r, int status, const char *detail,
                 const char *field)
{
    return pool_problem_json(r, status, detail, field, NULL);
}

int pool_problem_send_json(request_rec *r, const pool_problem_t *pr,
                           void *extra)
{
    if (pr->log) {
        ap_log_rerror(APLOG_MARK, pr->status >= 500 ? APLOG_ERR : APLOG_INFO,
                      pr->cause, r, "pool: %s", pr->log);
    }
    if (pr->retry_after > 0) {
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, pr->retry_after));
    }
    if (pr->status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    return pool_problem_json(r, pr->status, pr->detail, pr->field, extra);
}

int pool_problem_send(request_rec *r, const pool_problem_t *pr)
{
    return pool_problem_send_json(r, pr, NULL);
}

int pool_db_problem(request_rec *r, pool_db_rc rc, const char *err,
                    const char *what)
{
    pool_problem_t pr;

    pool_problem_db(r->pool, &pr, rc, err, what);
    return pool_problem_send(r, &pr);
}

int pool_send_json(request_rec *r, int status, void *jsonv)
{
    json_t *j = jsonv;
    char *body = pool_json_dump(r->pool, j);

    json_decref(j);
    if (!body) {
        return pool_problem(r, HTTP_INTERNAL_SERVER_ERROR,
                            "cannot encode the response", NULL);
    }
    return send_body(r, status, "application/json", body);
}

/* Our ETags name bytes (a file's SHA-256, a result's seq), so what carries
 * one must reach the client untransformed: mod_deflate would gzip it,
 * append "-gzip" to the ETag (which If-None-Match then never matches) and
 * ignore Range.  "no-gzip" is mod_deflate's own opt-out; "no-transform"
 * says the same to proxies. */
void pool_set_etag(request_rec *r, const char *etag)
{
    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(r->headers_out, "Cache-Control",
                   "private, no-cache, no-transform");
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
}

char *pool_pct_decode(apr_pool_t *p, const char *s, apr_size_t n,
                      apr_size_t *len)
{
    char *out = apr_palloc(p, n + 1);
    apr_size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                return NULL;
            }
            hi = pool_hexval((unsigned char)s[i + 1]);
            lo = pool_hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* 1 when raw, percent-decoded except for %2F, is tail. */
static int same_as_decoded(apr_pool_t *p, const char *raw, const char *tail)
{
    apr_size_t i, n = strlen(raw), o = 0, len;
    char *kept = apr_palloc(p, 3 * n + 1), *dec;

    /* %2F becomes %252F, which decodes back to %2F */
    for (i = 0; i < n; i++) {
        if (raw[i] == '%' && i + 2 < n && raw[i + 1] == '2'
            && (raw[i + 2] == 'F' || raw[i + 2] == 'f')) {
            memcpy(kept + o, "%25", 3);
            o += 3;
            continue;
        }
        kept[o++] = raw[i];
    }
    kept[o] = '\0';
    dec = pool_pct_decode(p, kept, o, &len);
    return dec && len == strlen(tail) && !memcmp(dec, tail, len);
}

const char *pool_raw_tail(request_rec *r, const char *tail)
{
    const char *raw = r->unparsed_uri, *end, *s;
    int k = 1;

    if (!raw || !tail) {
        return NULL;
    }
    if (*raw != '/') {
        apr_uri_t u;            /* absolute-form: http://host/path */
        if (apr_uri_parse(r->pool, raw, &u) != APR_SUCCESS || !u.path) {
            return NULL;
        }
        raw = u.path;
    }
    end = raw + strcspn(raw, "?#");
    for (s = tail; *s; s++) {
        k += *s == '/';
    }
    for (s = end; s > raw; s--) {
        if (s[-1] == '/' && --k == 0) {
            break;
        }
    }
    if (k || s == raw) {
        return NULL;
    }
    raw = apr_pstrmemdup(r->pool, s, (apr_size_t)(end - s));
    /* it must be what httpd made tail of: decoded as httpd does (but for
     * %2F, which AllowEncodedSlashes NoDecode keeps), nothing merged or
     * resolved */
    return same_as_decoded(r->pool, raw, tail) ? raw : NULL;
}

/* One key or value of a query string, decoded ('+' first, so that "%2B"
 * stays a plus); NULL on a bad escape or a decoded NUL. */
static char *query_piece(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *raw = apr_pstrmemdup(p, s, n), *c, *out;
    apr_size_t len;

    for (c = raw; *c; c++) {
        if (*c == '+') {
            *c = ' ';
        }
    }
    out = pool_pct_decode(p, raw, n, &len);
    return out && !memchr(out, '\0', len) ? out : NULL;
}

/* A parameter name fit to be quoted back in a problem (printable ASCII,
 * short), or NULL. */
static const char *key_shown(const char *key)
{
    const char *c;

    if (strlen(key) > 64) {
        return NULL;
    }
    for (c = key; *c; c++) {
        if (*c < 0x20 || *c > 0x7e) {
            return NULL;
        }
    }
    return key;
}

int pool_query(request_rec *r, apr_table_t **args)
{
    const char *q = r->args ? r->args : "";

    *args = apr_table_make(r->pool, 4);
    while (*q) {
        apr_size_t n = strcspn(q, "&"), kn;
        const char *eq = memchr(q, '=', n);
        char *key, *val;

        kn = eq ? (apr_size_t)(eq - q) : n;
        if (n > 0) {
            key = query_piece(r->pool, q, kn);
            if (!key) {
                pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "a query "
                             "parameter's name has a malformed %-escape or "
                             "a NUL", NULL);
                return DONE;
            }
            val = eq ? query_piece(r->pool, eq + 1, n - kn - 1)
                     : apr_pstrdup(r->pool, "");
            if (!val) {
                const char *k = key_shown(key);

                pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(
                             r->pool, "the query parameter %s%s%s has a "
                             "malformed %%-escape or a NUL", k ? "'" : "",
                             k ? k : "", k ? "'" : ""), k);
                return DONE;
            }
            if (apr_table_get(*args, key)) {
                const char *k = key_shown(key);

                pool_problem(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool,
                             "the query parameter %s%s%s is given more than "
                             "once", k ? "'" : "", k ? k : "", k ? "'" : ""),
                             k);
                return DONE;
            }
            apr_table_setn(*args, key, val);
        }
        q += n;
        if (*q == '&') {
            q++;
        }
    }
    return OK;
}

int pool_read_small_body(request_rec *r, apr_size_t limit, char **buf,
                         apr_size_t *len)
{
    apr_size_t got = 0;
    char *b;
    int rv;

    if ((rv = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rv;
    }
    b = apr_palloc(r->pool, limit + 1);
    if (ap_should_client_block(r)) {
        long n;
        while ((n = ap_get_client_block(r, b + got, limit + 1 - got)) > 0) {
            got += (apr_size_t)n;
            if (got > limit) {
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (n < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return OK;
}

static apr_status_t json_release(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

int pool_read_json(request_rec *r, apr_size_t limit, json_t **out)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    json_error_t jerr;
    char *body;
    apr_size_t len;
    int st;

    *out = NULL;
    if (!ct || strncasecmp(ct, "application/json", 16)
        || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        return pool_problem(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                            "the body must be application/json", NULL);
    }
    st = pool_read_small_body(r, limit, &body, &len);
    if (st == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return pool_problem(r, st, apr_psprintf(r->pool, "the body is larger "
                            "than %" APR_SIZE_T_FMT " bytes", limit), NULL);
    }
    if (st != OK) {
        return pool_problem(r, HTTP_BAD_REQUEST,
                            "cannot read the request body", NULL);
    }
    *out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out) {
        return pool_problem(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool,
                            "the body is not JSON: line %d, column %d: %s",
                            jerr.line, jerr.column, jerr.text), NULL);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return pool_problem(r, HTTP_BAD_REQUEST,
                            "the body must be a JSON object", NULL);
    }
    apr_pool_cleanup_register(r->pool, *out, json_release,
                              apr_pool_cleanup_null);
    return OK;
}

int pool_json_fields_check(request_rec *r, json_t *j,
                           const char *const *allowed)
{
    const char *key;
    json_t *v;
    int i;

    json_object_foreach(j, key, v) {
        for (i = 0; allowed[i] && strcmp(allowed[i], key); i++) {
        }
        if (!allowed[i]) {
            const char *k = apr_pstrdup(r->pool, key);
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                apr_psprintf(r->pool, "%s: unknown field",
                                             pool_conf_show(r->pool, k)), k);
        }
    }
    return DECLINED;
}

int pool_method_not_allowed(request_rec *r, const char *allow,
                            const char *detail)
{
    apr_table_setn(r->headers_out, "Allow", allow);
    return pool_problem(r, HTTP_METHOD_NOT_ALLOWED, detail, NULL);
}
