/* An endpoint's settings: checking the API's JSON, showing a row
 * (pool_endpoint_doc.h). */
#include <string.h>

#include <apr_strings.h>

#include "pool_endpoint_doc.h"
#include "pool_endpoints.h"
#include "pool_http.h"
#include "pool_json.h"
#include "pool_mapping.h"
#include "pool_util.h"

#define str_or_null pool_json_str_or_null

#define DESCRIPTION_MAX  500
#define AUTH_NAME_MAX    256
#define AUTH_SECRET_MAX  4096
#define RETRY_WAIT_MAX   (7 * 86400)
#define RATE_MAX         100000
#define FILTER_VALUES_MAX 100
#define POINTER_MAX      512
#define DEFAULT_RETRY    "[5,300,1800,7200,18000,36000,36000]"

const char *const pool_event_types[] = {
    "file.received", "group.closed", "group.ready", "group.failed",
    "result.published", "import.completed", "import.failed",
    "client.enrolled", "message.received", "webhook.test", NULL
};

int pool_event_known(const char *event)
{
    int i;

    for (i = 0; event && pool_event_types[i]; i++) {
        if (!strcmp(event, pool_event_types[i])) {
            return 1;
        }
    }
    return 0;
}

void pool_ep_doc_defaults(pool_ep_doc_t *d)
{
    memset(d, 0, sizeof(*d));
    d->description = "";
    d->events = "[]";
    d->auth_type = "none";
    d->retry = DEFAULT_RETRY;
}

static int bad_msg(pool_problem_t *pr, const char *field, const char *msg)
{
    pool_problem_set(pr, 422, msg, field);
    return 422;
}
/* 422 with a message made from a literal format */
#define bad(p, pr, field, ...) bad_msg(pr, field, apr_psprintf(p, __VA_ARGS__))

/* 1 when s has only characters from 0x20 (0x21 when !space) to 0x7e */
static int visible(const char *s, int space)
{
    for (; *s; s++) {
        if ((unsigned char)*s < (space ? 0x20 : 0x21)
            || (unsigned char)*s > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static int token_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *const reserved_headers[] = {
    "host", "content-type", "content-length", "transfer-encoding",
    "connection", "keep-alive", "te", "trailer", "upgrade", "expect",
    "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature",
    NULL
};

static const char *header_name_check(const char *h)
{
    apr_size_t n = strlen(h), i;

    if (n == 0 || n > 64) {
        return "must be 1 to 64 characters";
    }
    for (i = 0; i < n; i++) {
        if (!token_char((unsigned char)h[i])) {
            return "must be an HTTP header name (RFC 9110 token)";
        }
    }
    for (i = 0; reserved_headers[i]; i++) {
        if (!strcasecmp(h, reserved_headers[i])) {
            return "is a header we set ourselves";
        }
    }
    if (!strncasecmp(h, "proxy-", 6)) {
        return "is a header we set ourselves";
    }
    return NULL;
}

static const char *str_member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* "auth": {"type": ...}.  A missing secret of the same type as before
 * keeps the stored one (an editor need not know it). */
static int apply_auth(apr_pool_t *p, pool_ep_doc_t *d, const json_t *a,
                      pool_problem_t *pr)
{
    const char *type, *name = NULL, *secret = NULL, *why, *k;
    const char *nkey = NULL, *skey = NULL;
    json_t *v;

    if (json_is_null(a)) {
        d->auth_type = "none";
        d->auth_name = d->auth_secret = NULL;
        return 0;
    }
    if (!json_is_object(a) || !(type = str_member(a, "type"))) {
        return bad(p, pr, "auth", "auth: must be an object with a \"type\": "
                   "none, bearer, basic or header%s", "");
    }
    if (!strcmp(type, "bearer")) {
        skey = "token";
    }
    else if (!strcmp(type, "basic")) {
        nkey = "username";
        skey = "password";
    }
    else if (!strcmp(type, "header")) {
        nkey = "name";
        skey = "value";
    }
    else if (strcmp(type, "none")) {
        return bad(p, pr, "auth", "auth: unknown type '%s' (none, bearer, "
                   "basic or header)", apr_pstrndup(p, type, 32));
    }
    json_object_foreach((json_t *)a, k, v) {
        if (strcmp(k, "type") && strcmp(k, "secret_set")
            && (!nkey || strcmp(k, nkey)) && (!skey || strcmp(k, skey))) {
            return bad(p, pr, "auth", "auth: unknown member '%s' for this "
                       "type", apr_pstrndup(p, k, 64));
        }
        if (strcmp(k, "type") && strcmp(k, "secret_set")
            && !json_is_string(v)) {
            return bad(p, pr, "auth", "auth: %s must be a string",
                       apr_pstrndup(p, k, 64));
        }
    }
    if (nkey) {
        name = str_member(a, nkey);
        if (!name && !strcmp(type, d->auth_type)) {
            name = d->auth_name;
        }
        if (!name) {
            return bad(p, pr, "auth", "auth: %s is required", nkey);
        }
        if (strlen(name) > AUTH_NAME_MAX || !*name || !visible(name, 0)) {
            return bad(p, pr, "auth", "auth: %s must be 1 to 256 visible "
                       "ASCII characters", nkey);
        }
        if (!strcmp(type, "basic") && strchr(name, ':')) {
            return bad(p, pr, "auth", "auth: a Basic username cannot "
                       "contain ':'%s", "");
        }
        if (!strcmp(type, "header") && (why = header_name_check(name))) {
            return bad(p, pr, "auth", "auth: the header name %s", why);
        }
    }
    if (skey) {
        secret = str_member(a, skey);
        if (!secret && !strcmp(type, d->auth_type)) {
            secret = d->auth_secret;
        }
        if (!secret) {
            return bad(p, pr, "auth", "auth: %s is required", skey);
        }
        if (!*secret || strlen(secret) > AUTH_SECRET_MAX
            || !visible(secret, strcmp(type, "bearer") != 0)) {
            return bad(p, pr, "auth", "auth: %s must be 1 to 4096 visible "
                       "ASCII characters", skey);
        }
    }
    d->auth_type = apr_pstrdup(p, type);
    d->auth_name = name ? apr_pstrdup(p, name) : NULL;
    d->auth_secret = secret ? apr_pstrdup(p, secret) : NULL;
    return 0;
}

/* An RFC 6901 pointer into its names (a JSON array of strings), or the
 * reason. */
static const char *pointer_path(const char *ptr, json_t *path)
{
    const char *s = ptr;

    if (*s != '/' || strlen(s) > POINTER_MAX) {
        return "must be a JSON pointer starting with '/' (at most 512 "
               "characters)";
    }
    while (*s == '/') {
        char tok[POINTER_MAX + 1];
        apr_size_t n = 0;

        for (s++; *s && *s != '/'; s++) {
            if (*s == '~') {
                if (s[1] != '0' && s[1] != '1') {
                    return "has '~' not followed by 0 or 1";
                }
                tok[n++] = s[1] == '0' ? '~' : '/';
                s++;
            }
            else {
                tok[n++] = *s;
            }
        }
        tok[n] = '\0';
        json_array_append_new(path, json_stringn(tok, n));
    }
    return NULL;
}

static int scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v)
           || json_is_null(v);
}

/* "filter": {P: value | [values]} into [{"pointer","path","in"}]. */
static int apply_filter(apr_pool_t *p, pool_ep_doc_t *d, const json_t *f,
                        pool_problem_t *pr)
{
    json_t *out, *v;
    const char *k, *why;

    if (json_is_null(f) || (json_is_object(f) && !json_object_size(f))) {
        d->filter = NULL;
        return 0;
    }
    if (!json_is_object(f) || json_object_size(f) > POOL_ENDPOINT_FILTER_MAX) {
        return bad(p, pr, "filter", "filter: must be an object of at most 16 "
                   "JSON pointers into the event, each with a value or an "
                   "array of values%s", "");
    }
    out = json_array();
    json_object_foreach((json_t *)f, k, v) {
        json_t *path = json_array(), *in;
        apr_size_t i;

        if ((why = pointer_path(k, path)) != NULL) {
            json_decref(path);
            json_decref(out);
            return bad(p, pr, "filter", "filter: '%s' %s",
                       apr_pstrndup(p, k, 64), why);
        }
        in = json_is_array(v) ? json_deep_copy(v) : json_pack("[O]", v);
        if (!json_array_size(in) || json_array_size(in) > FILTER_VALUES_MAX) {
            json_decref(in);
            json_decref(path);
            json_decref(out);
            return bad(p, pr, "filter", "filter: '%s' needs 1 to 100 values",
                       apr_pstrndup(p, k, 64));
        }
        for (i = 0; i < json_array_size(in); i++) {
            if (!scalar(json_array_get(in, i))) {
                json_decref(in);
                json_decref(path);
                json_decref(out);
                return bad(p, pr, "filter", "filter: the values of '%s' "
                           "must be strings, numbers, booleans or null",
                           apr_pstrndup(p, k, 64));
            }
        }
        json_array_append_new(out, json_pack("{s:s, s:o, s:o}", "pointer", k,
                                             "path", path, "in", in));
    }
    d->filter = pool_json_dump(p, out);
    json_decref(out);
    return 0;
}

static int apply_events(apr_pool_t *p, pool_ep_doc_t *d, const json_t *ev,
                        pool_problem_t *pr)
{
    apr_size_t i, j;

    if (json_is_null(ev)) {
        d->events = "[]";
        return 0;
    }
    if (!json_is_array(ev) || json_array_size(ev) > POOL_ENDPOINT_EVENTS_MAX) {
        return bad(p, pr, "events", "events: must be an array of event types "
                   "(empty: every event)%s", "");
    }
    for (i = 0; i < json_array_size(ev); i++) {
        const char *e = json_string_value(json_array_get(ev, i));

        if (!pool_event_known(e)) {
            return bad(p, pr, "events", "events: unknown event type '%s'",
                       e ? apr_pstrndup(p, e, 64) : "(not a string)");
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(e, json_string_value(json_array_get(ev, j)))) {
                return bad(p, pr, "events", "events: '%s' is listed twice",
                           e);
            }
        }
    }
    d->events = pool_json_dump(p, ev);
    return 0;
}

static int apply_retry(apr_pool_t *p, pool_ep_doc_t *d, const json_t *r,
                       pool_problem_t *pr)
{
    apr_size_t i;

    if (json_is_null(r)) {
        d->retry = DEFAULT_RETRY;
        return 0;
    }
    if (!json_is_array(r) || json_array_size(r) > POOL_ENDPOINT_RETRIES_MAX) {
        return bad(p, pr, "retry_schedule", "retry_schedule: must be an array "
                   "of at most 20 waits in seconds%s", "");
    }
    for (i = 0; i < json_array_size(r); i++) {
        json_t *w = json_array_get(r, i);

        if (!json_is_integer(w) || json_integer_value(w) < 1
            || json_integer_value(w) > RETRY_WAIT_MAX) {
            return bad(p, pr, "retry_schedule", "retry_schedule: every wait "
                       "must be a whole number of seconds from 1 to 604800 "
                       "(7 days)%s", "");
        }
    }
    d->retry = pool_json_dump(p, r);
    return 0;
}

/* "mapping" or "success": compiled now, so that a bad one is refused with
 * where it is wrong; stored as the text given (member order kept). */
static int apply_compiled(apr_pool_t *p, const char **dst, const char *field,
                          const json_t *v, pool_problem_t *pr)
{
    pool_mapping_error_t e;
    pool_mapping_t *m;
    pool_rule_t *r;
    const char *why;

    if (json_is_null(v)) {
        *dst = NULL;
        return 0;
    }
    why = !strcmp(field, "mapping") ? pool_mapping_compile_json(p, v, &m, &e)
                                    : pool_rule_compile_json(p, v, &r, &e);
    if (why) {
        pool_problem_set(pr, 422, apr_pstrcat(p, field, ": ", why, NULL),
                         field);
        return 422;
    }
    *dst = pool_json_dump(p, v);
    return 0;
}

static int apply_member(apr_pool_t *p, pool_ep_doc_t *d, const char *k,
                        json_t *v, pool_problem_t *pr)
{
    const char *why;

    if (!strcmp(k, "url")) {
        if (!json_is_string(v)) {
            return bad(p, pr, "url", "url: must be a string%s", "");
        }
        if ((why = pool_http_url_check(p, json_string_value(v))) != NULL) {
            return bad(p, pr, "url", "url: %s", why);
        }
        d->url = apr_pstrdup(p, json_string_value(v));
        return 0;
    }
    if (!strcmp(k, "description")) {
        const char *s = json_is_null(v) ? "" : json_string_value(v);

        if (!s || strlen(s) > DESCRIPTION_MAX) {
            return bad(p, pr, "description", "description: must be a string "
                       "of at most 500 bytes%s", "");
        }
        d->description = apr_pstrdup(p, s);
        return 0;
    }
    if (!strcmp(k, "events")) {
        return apply_events(p, d, v, pr);
    }
    if (!strcmp(k, "filter")) {
        return apply_filter(p, d, v, pr);
    }
    if (!strcmp(k, "auth")) {
        return apply_auth(p, d, v, pr);
    }
    if (!strcmp(k, "retry_schedule")) {
        return apply_retry(p, d, v, pr);
    }
    if (!strcmp(k, "rate_limit")) {
        if (json_is_null(v)) {
            d->rate_limit = NULL;
            return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > RATE_MAX) {
            return bad(p, pr, "rate_limit", "rate_limit: must be null or "
                       "attempts per second from 1 to 100000%s", "");
        }
        d->rate_limit = apr_psprintf(p, "%" APR_INT64_T_FMT,
                                     (apr_int64_t)json_integer_value(v));
        return 0;
    }
    if (!strcmp(k, "mapping")) {
        return apply_compiled(p, &d->mapping, "mapping", v, pr);
    }
    if (!strcmp(k, "success")) {
        return apply_compiled(p, &d->rule, "success", v, pr);
    }
    if (!strcmp(k, "disabled")) {
        if (!json_is_boolean(v)) {
            return bad(p, pr, "disabled", "disabled: must be true or false%s",
                       "");
        }
        d->disabled = json_is_true(v);
        d->disabled_changed = 1;
        return 0;
    }
    /* the field outlives the document: a copy, not its key */
    k = apr_pstrndup(p, k, 64);
    return bad(p, pr, k, "unknown member '%s' (url, description, events, "
               "filter, auth, retry_schedule, rate_limit, mapping, success, "
               "disabled)", k);
}

/* members only shown, accepted back unchanged (a GET document PATCHed) */
static int shown_only(const char *k)
{
    static const char *const names[] = {
        "id", "pool", "client", "disabled_at", "disabled_reason",
        "created_at", "updated_at", "secret_rotated_until", NULL
    };
    int i;

    for (i = 0; names[i]; i++) {
        if (!strcmp(k, names[i])) {
            return 1;
        }
    }
    return 0;
}

int pool_ep_doc_apply(apr_pool_t *p, pool_ep_doc_t *d, const json_t *in,
                      pool_problem_t *pr)
{
    const char *k;
    json_t *v;
    int st;

    if (!json_is_object(in)) {
        return bad(p, pr, NULL, "the endpoint must be a JSON object%s", "");
    }
    json_object_foreach((json_t *)in, k, v) {
        if (shown_only(k)) {
            continue;
        }
        if ((st = apply_member(p, d, k, v, pr)) != 0) {
            return st;
        }
    }
    if (!d->url) {
        return bad(p, pr, "url", "url: is required%s", "");
    }
    return 0;
}

/* The filter as given: {P: value} for one value, {P: [values]} else. */
static json_t *filter_shown(const char *filter)
{
    json_t *f = filter ? json_loads(filter, 0, NULL) : NULL, *out, *x;
    apr_size_t i;

    out = json_object();
    json_array_foreach(f, i, x) {
        json_t *in = json_object_get(x, "in");
        const char *ptr = json_string_value(json_object_get(x, "pointer"));

        if (ptr && json_is_array(in)) {
            json_object_set(out, ptr, json_array_size(in) == 1
                            ? json_array_get(in, 0) : in);
        }
    }
    json_decref(f);
    return out;
}

static json_t *text_json(const char *s, json_t *dflt)
{
    json_t *j = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;

    if (!j) {
        return dflt;
    }
    json_decref(dflt);
    return j;
}

json_t *pool_ep_doc_show(apr_pool_t *p, const pool_ep_doc_t *d,
                         const pool_ep_meta_t *m)
{
    json_t *o = json_object(), *auth = json_object();

    (void)p;
    json_object_set_new(o, "id", str_or_null(m->id));
    json_object_set_new(o, "pool", str_or_null(m->pool));
    json_object_set_new(o, "client", str_or_null(m->client));
    json_object_set_new(o, "url", str_or_null(d->url));
    json_object_set_new(o, "description", json_string(d->description));
    json_object_set_new(o, "events", text_json(d->events, json_array()));
    json_object_set_new(o, "filter", filter_shown(d->filter));
    json_object_set_new(auth, "type", json_string(d->auth_type));
    if (!strcmp(d->auth_type, "basic")) {
        json_object_set_new(auth, "username", str_or_null(d->auth_name));
    }
    else if (!strcmp(d->auth_type, "header")) {
        json_object_set_new(auth, "name", str_or_null(d->auth_name));
    }
    if (strcmp(d->auth_type, "none")) {
        json_object_set_new(auth, "secret_set",
                            json_boolean(d->auth_secret != NULL));
    }
    json_object_set_new(o, "auth", auth);
    json_object_set_new(o, "retry_schedule", text_json(d->retry,
                                                       json_array()));
    json_object_set_new(o, "rate_limit", d->rate_limit
                        ? json_integer(apr_atoi64(d->rate_limit))
                        : json_null());
    json_object_set_new(o, "mapping", text_json(d->mapping, json_null()));
    json_object_set_new(o, "success", text_json(d->rule, json_null()));
    json_object_set_new(o, "disabled", json_boolean(d->disabled));
    json_object_set_new(o, "disabled_at", str_or_null(m->disabled_at));
    json_object_set_new(o, "disabled_reason", str_or_null(m->disabled_reason));
    json_object_set_new(o, "secret_rotated_until",
                        str_or_null(m->rotated_until));
    json_object_set_new(o, "created_at", str_or_null(m->created_at));
    json_object_set_new(o, "updated_at", str_or_null(m->updated_at));
    return o;
}

void pool_ep_doc_auth_header(apr_pool_t *p, const char *type,
                             const char *name, const char *secret,
                             int shown, const char **hname,
                             const char **hvalue)
{
    const char *s = shown ? "(secret)" : secret;

    *hname = *hvalue = NULL;
    if (!type || !secret) {
        return;
    }
    if (!strcmp(type, "bearer")) {
        *hname = "Authorization";
        *hvalue = apr_pstrcat(p, "Bearer ", s, NULL);
    }
    else if (!strcmp(type, "basic") && name) {
        const char *up = apr_pstrcat(p, name, ":", secret, NULL);

        *hname = "Authorization";
        *hvalue = shown ? apr_pstrcat(p, "Basic (", name, ":secret)", NULL)
                        : apr_pstrcat(p, "Basic ", pool_b64_encode(p,
                                      (const unsigned char *)up, strlen(up)),
                                      NULL);
    }
    else if (!strcmp(type, "header") && name) {
        *hname = name;
        *hvalue = s;
    }
}
