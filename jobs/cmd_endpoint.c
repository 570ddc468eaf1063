/* poolctl endpoint add|list|show|set|disable|enable|rotate|rm|preview: a
 * pool's webhook endpoints (lib/pool_endpoints.h, docs/poolctl.md).  Each
 * command builds the document the admin API takes, and prints the JSON the
 * library gives back through poolctl_render. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "poolctl.h"
#include "pool_conf.h"
#include "pool_endpoints.h"
#include "pool_endpoint_doc.h"
#include "pool_json.h"
#include "pool_mapping.h"
#include "pool_settings.h"
#include "pool_ts.h"

#define EP_PAGE         1000
#define EP_ID_HEX       24
#define AUTH_SECRET_MAX 4096
#define RATE_MAX        100000
#define EVENT_FILE_MAX  (1024 * 1024)

typedef struct {
    apr_array_header_t *events, *filters;
    const char *url, *description, *auth, *auth_file, *retry, *rate;
    const char *mapping, *success, *grace;
    int json;
    int stdin_used;             /* "-" may stand for stdin once */
} ep_opts;

/* ------------------------------------------------ shared with deliveries */

const char *poolctl_text(apr_pool_t *p, const char *s)
{
    char *t, *q;

    if (!s) {
        return NULL;
    }
    t = apr_pstrdup(p, s);
    for (q = t; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            *q = '?';
        }
    }
    return t;
}

int poolctl_problem(poolctl_t *ctl, const char *what, int st,
                    const pool_problem_t *pr)
{
    poolctl_err("%s: %s", what, pr->detail ? poolctl_text(ctl->p, pr->detail)
                                           : apr_psprintf(ctl->p, "failed "
                                                          "(%d)", st));
    if (st >= 500 && pr->log) {
        /* the operator's side of it: whoever runs poolctl is one */
        poolctl_err("%s: %s", what, poolctl_text(ctl->p, pr->log));
    }
    return (st == 400 || st == 422) ? POOLCTL_USAGE : POOLCTL_FAIL;
}

int poolctl_endpoint_id_check(poolctl_t *ctl, const char *id)
{
    int i;

    if (strncmp(id, "ep_", 3) == 0) {
        for (i = 0; i < EP_ID_HEX; i++) {
            char ch = id[3 + i];

            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
                break;
            }
        }
        if (i == EP_ID_HEX && id[3 + EP_ID_HEX] == '\0') {
            return POOLCTL_OK;
        }
    }
    return poolctl_usage("'%s' is not an endpoint id (ep_ and 24 hex "
                         "digits, as 'endpoint list' shows)",
                         poolctl_show(ctl->p, id));
}

int poolctl_read_file(poolctl_t *ctl, const char *what, const char *path,
                      apr_size_t max, const char **out, apr_size_t *len)
{
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f) {
        return poolctl_usage("%s: cannot open '%s'", what,
                             poolctl_show(ctl->p, path));
    }
    buf = apr_palloc(ctl->p, max + 2);
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        if (!is_stdin) {
            fclose(f);
        }
        return poolctl_usage("%s: cannot read '%s'", what,
                             poolctl_show(ctl->p, path));
    }
    if (!is_stdin) {
        fclose(f);
    }
    if (n > max) {
        return poolctl_usage("%s: '%s' is larger than %lu bytes", what,
                             poolctl_show(ctl->p, path), (unsigned long)max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return POOLCTL_OK;
}

int poolctl_since(poolctl_t *ctl, const char *what, const char *s,
                  const char **out)
{
    apr_time_t t;
    apr_int64_t ago;

    if (strpbrk(s, "Tt")) {
        if (pool_ts_parse(s, &t) == 0) {
            *out = pool_ts_format(ctl->p, t);
            return POOLCTL_OK;
        }
    }
    else if (pool_settings_parse_duration(ctl->p, s, &ago) == 0
             && ago <= APR_INT64_C(100) * 366 * 86400) {
        *out = pool_ts_format(ctl->p, apr_time_now()
                              - apr_time_from_sec(ago));
        return POOLCTL_OK;
    }
    return poolctl_usage("%s: --since must be a time (RFC 3339, e.g. "
                         "2026-11-21T10:00:00Z) or how long ago (e.g. 90m, "
                         "1h, 7d), not '%s'", what, poolctl_show(ctl->p, s));
}

/* ------------------------------------------------------------- columns */

static const char *state_of(apr_pool_t *p, json_t *o)
{
    (void)p;
    return json_is_true(json_object_get(o, "disabled")) ? "disabled"
                                                          : "enabled";
}

static const char *events_of(apr_pool_t *p, json_t *o)
{
    json_t *ev = json_object_get(o, "events"), *e;
    const char *out = NULL;
    size_t i;

    json_array_foreach(ev, i, e) {
        const char *s = poolctl_text(p, json_string_value(e));

        out = out ? apr_pstrcat(p, out, ",", s, NULL) : s;
    }
    return out ? out : "(all)";
}

/* a member as compact JSON, null and absent as "-" */
static const char *json_text(apr_pool_t *p, json_t *v)
{
    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (json_is_string(v)) {
        return poolctl_text(p, json_string_value(v));
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY), *copy;

        copy = s ? apr_pstrdup(p, s) : NULL;
        free(s);
        return copy;
    }
    return poolctl_text(p, pool_json_dump(p, v));
}

static const char *filter_of(apr_pool_t *p, json_t *o)
{
    json_t *f = json_object_get(o, "filter");

    return json_object_size(f) ? json_text(p, f) : NULL;
}

static const char *retry_of(apr_pool_t *p, json_t *o)
{
    json_t *r = json_object_get(o, "retry_schedule"), *w;
    const char *out = NULL;
    size_t i;

    json_array_foreach(r, i, w) {
        const char *s = pool_settings_duration(p,
                                               (long)json_integer_value(w));

        out = out ? apr_pstrcat(p, out, ",", s, NULL) : s;
    }
    return out ? out : "none";
}

/* how we authenticate, never the secret (the library does not give it) */
static const char *auth_of(apr_pool_t *p, json_t *o)
{
    json_t *a = json_object_get(o, "auth");
    const char *type = json_string_value(json_object_get(a, "type"));
    const char *name = json_string_value(json_object_get(a, "name"));
    const char *user = json_string_value(json_object_get(a, "username"));
    const char *set = json_is_true(json_object_get(a, "secret_set"))
                      ? " (secret set)" : " (no secret)";

    if (!type || !strcmp(type, "none")) {
        return "none";
    }
    if (!strcmp(type, "basic")) {
        return apr_pstrcat(p, "basic user=", poolctl_text(p, user ? user
                           : "?"), set, NULL);
    }
    if (!strcmp(type, "header")) {
        return apr_pstrcat(p, "header ", poolctl_text(p, name ? name : "?"),
                           set, NULL);
    }
    return apr_pstrcat(p, poolctl_text(p, type), set, NULL);
}

#define MEMBER_FMT(fn, key) \
    static const char *fn(apr_pool_t *p, json_t *o) \
    { return json_text(p, json_object_get(o, key)); }
MEMBER_FMT(url_of, "url")
MEMBER_FMT(desc_of, "description")
MEMBER_FMT(mapping_of, "mapping")
MEMBER_FMT(success_of, "success")
MEMBER_FMT(reason_of, "disabled_reason")
MEMBER_FMT(body_of, "body")
MEMBER_FMT(headers_of, "headers")
MEMBER_FMT(missing_of, "missing")

static const poolctl_col_t list_cols[] = {
    { "ID", "id", NULL },
    { "STATE", NULL, state_of },
    { "EVENTS", NULL, events_of },
    { "CLIENT", "client", NULL },
    { "URL", "url", NULL },
    { "DESCRIPTION", "description", NULL },
    { NULL }
};

#define SHOW_COLS \
    { "id", "id", NULL }, \
    { "pool", "pool", NULL }, \
    { "client", "client", NULL }, \
    { "url", NULL, url_of }, \
    { "description", NULL, desc_of }, \
    { "state", NULL, state_of }, \
    { "disabled_at", "disabled_at", NULL }, \
    { "disabled_reason", NULL, reason_of }, \
    { "events", NULL, events_of }, \
    { "filter", NULL, filter_of }, \
    { "auth", NULL, auth_of }, \
    { "retry_schedule", NULL, retry_of }, \
    { "rate_limit", "rate_limit", NULL }, \
    { "mapping", NULL, mapping_of }, \
    { "success", NULL, success_of }, \
    { "secret_rotated_until", "secret_rotated_until", NULL }, \
    { "created_at", "created_at", NULL }, \
    { "updated_at", "updated_at", NULL }

static const poolctl_col_t show_cols[] = { SHOW_COLS, { NULL } };
static const poolctl_col_t secret_cols[] = {
    { "secret", "secret", NULL }, SHOW_COLS, { NULL }
};

static const poolctl_col_t preview_cols[] = {
    { "method", "method", NULL },
    { "url", NULL, url_of },
    { "headers", NULL, headers_of },
    { "missing", NULL, missing_of },
    { "body", NULL, body_of },
    { NULL }
};

/* ------------------------------------------------------ the document */

/* "-" (stdin) may be read once. */
static int take_stdin(ep_opts *o, const char *path)
{
    if (strcmp(path, "-")) {
        return POOLCTL_OK;
    }
    if (o->stdin_used++) {
        return poolctl_usage("endpoint: only one option may read standard "
                             "input ('-')");
    }
    return POOLCTL_OK;
}

/* --mapping/--success FILE: compiled here, so that a bad one is refused
 * before anything is sent, with its file and position; "" resets. */
static int doc_compiled(poolctl_t *ctl, ep_opts *o, const char *what,
                        const char *opt, const char *path, json_t *doc)
{
    pool_mapping_error_t e;
    pool_mapping_t *m;
    pool_rule_t *r;
    const char *text, *why;
    apr_size_t len;
    json_error_t je;
    json_t *v;
    int rc;

    if (!*path) {
        json_object_set_new(doc, !strcmp(opt, "mapping") ? "mapping"
                                                          : "success",
                            json_null());
        return POOLCTL_OK;
    }
    if ((rc = take_stdin(o, path)) != POOLCTL_OK
        || (rc = poolctl_read_file(ctl, apr_pstrcat(ctl->p, what, ": --",
                                                     opt, NULL), path,
                                   !strcmp(opt, "mapping")
                                   ? POOL_MAPPING_TEXT_MAX
                                   : POOL_RULE_TEXT_MAX,
                                   &text, &len)) != POOLCTL_OK) {
        return rc;
    }
    why = !strcmp(opt, "mapping")
          ? pool_mapping_compile(ctl->p, text, len, &m, &e)
          : pool_rule_compile(ctl->p, text, len, &r, &e);
    if (why) {
        return poolctl_usage("%s: --%s %s: %s", what, opt,
                             poolctl_show(ctl->p, path),
                             poolctl_text(ctl->p, why));
    }
    v = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!v) {
        return poolctl_usage("%s: --%s %s: line %d, column %d: %s", what,
                             opt, poolctl_show(ctl->p, path), je.line,
                             je.column, je.text);
    }
    json_object_set_new(doc, !strcmp(opt, "mapping") ? "mapping" : "success",
                        v);
    return POOLCTL_OK;
}

static int doc_events(poolctl_t *ctl, const char *what,
                      apr_array_header_t *evs, json_t *doc)
{
    json_t *a = json_array();
    int i;

    json_object_set_new(doc, "events", a);
    for (i = 0; i < evs->nelts; i++) {
        const char *e = APR_ARRAY_IDX(evs, i, const char *);
        const char *known = NULL;
        int k;

        if ((!*e || !strcmp(e, "all")) && evs->nelts == 1) {
            return POOLCTL_OK;          /* every event */
        }
        if (!pool_event_known(e)) {
            for (k = 0; pool_event_types[k]; k++) {
                known = known ? apr_pstrcat(ctl->p, known, ", ",
                                            pool_event_types[k], NULL)
                              : pool_event_types[k];
            }
            return poolctl_usage("%s: unknown event type '%s' (%s; or "
                                 "'all' alone)", what,
                                 poolctl_show(ctl->p, e), known);
        }
        json_array_append_new(a, json_string(e));
    }
    return POOLCTL_OK;
}

/* --filter P=V (a string) or P:=JSON (a scalar or an array); the same P
 * again adds values; "none" or "" alone: no filter. */
static int doc_filter(poolctl_t *ctl, const char *what,
                      apr_array_header_t *fs, json_t *doc)
{
    json_t *f = json_object();
    int i;

    json_object_set_new(doc, "filter", f);
    for (i = 0; i < fs->nelts; i++) {
        const char *kv = APR_ARRAY_IDX(fs, i, const char *);
        const char *eq = strchr(kv, '=');
        char *ptr;
        json_t *v, *cur;

        if ((!*kv || !strcmp(kv, "none")) && fs->nelts == 1) {
            json_object_set_new(doc, "filter", json_null());
            return POOLCTL_OK;
        }
        if (kv[0] != '/' || !eq) {
            return poolctl_usage("%s: --filter takes POINTER=VALUE or "
                                 "POINTER:=JSON with a JSON pointer into the "
                                 "event (e.g. /data/file/client=cl_...), not "
                                 "'%s'", what, poolctl_show(ctl->p, kv));
        }
        ptr = apr_pstrndup(ctl->p, kv, (apr_size_t)(eq - kv));
        if (eq > kv + 1 && eq[-1] == ':') {
            json_error_t je;

            ptr[eq - kv - 1] = '\0';
            v = json_loads(eq + 1, JSON_DECODE_ANY, &je);
            if (!v) {
                return poolctl_usage("%s: --filter %s:=: not JSON: %s", what,
                                     poolctl_show(ctl->p, ptr), je.text);
            }
        }
        else {
            v = json_string(eq + 1);
            if (!v) {
                return poolctl_usage("%s: --filter %s: the value is not "
                                     "UTF-8", what, poolctl_show(ctl->p, ptr));
            }
        }
        if ((cur = json_object_get(f, ptr)) != NULL) {
            if (!json_is_array(cur)) {
                cur = json_pack("[O]", cur);
                json_object_set_new(f, ptr, cur);
            }
            if (json_is_array(v)) {
                json_array_extend(cur, v);
                json_decref(v);
            }
            else {
                json_array_append_new(cur, v);
            }
        }
        else {
            json_object_set_new(f, ptr, v);
        }
    }
    return POOLCTL_OK;
}

/* --auth-file: the secret part, one line (a final newline is dropped). */
static int auth_secret_file(poolctl_t *ctl, ep_opts *o, const char *what,
                            const char **secret)
{
    const char *text, *c;
    apr_size_t len;
    int rc;

    if ((rc = take_stdin(o, o->auth_file)) != POOLCTL_OK
        || (rc = poolctl_read_file(ctl, apr_pstrcat(ctl->p, what,
                                                     ": --auth-file", NULL),
                                   o->auth_file, AUTH_SECRET_MAX + 2, &text,
                                   &len)) != POOLCTL_OK) {
        return rc;
    }
    if (len && text[len - 1] == '\n') {
        len--;
        if (len && text[len - 1] == '\r') {
            len--;
        }
    }
    for (c = text; c < text + len; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return poolctl_usage("%s: --auth-file: the secret must be one "
                                 "line without control characters", what);
        }
    }
    if (len == 0 || len > AUTH_SECRET_MAX) {
        return poolctl_usage("%s: --auth-file: the secret must be 1 to %d "
                             "bytes", what, AUTH_SECRET_MAX);
    }
    *secret = apr_pstrndup(ctl->p, text, len);
    return POOLCTL_OK;
}

/* --auth none | bearer[:TOKEN] | basic:USER[:PASS] | header:NAME[:VALUE];
 * the secret part may come from --auth-file instead.  Without either, set
 * keeps the stored secret (the library's rule for the same type). */
static int doc_auth(poolctl_t *ctl, ep_opts *o, const char *what,
                    json_t *doc)
{
    const char *a = o->auth, *type, *rest = NULL, *name = NULL;
    const char *secret = NULL, *c;
    const char *nkey = NULL, *skey = NULL;
    json_t *j;
    int rc;

    if (!a) {
        return o->auth_file ? poolctl_usage("%s: --auth-file needs --auth "
                                            "(bearer, basic:USER or "
                                            "header:NAME)", what)
                            : POOLCTL_OK;
    }
    c = strchr(a, ':');
    type = c ? apr_pstrndup(ctl->p, a, (apr_size_t)(c - a)) : a;
    rest = c ? c + 1 : NULL;
    if (!strcmp(type, "bearer")) {
        skey = "token";
        secret = rest;
    }
    else if (!strcmp(type, "basic") || !strcmp(type, "header")) {
        nkey = !strcmp(type, "basic") ? "username" : "name";
        skey = !strcmp(type, "basic") ? "password" : "value";
        if (rest && (c = strchr(rest, ':')) != NULL) {
            name = apr_pstrndup(ctl->p, rest, (apr_size_t)(c - rest));
            secret = c + 1;
        }
        else {
            name = rest;
        }
    }
    else if (strcmp(type, "none") || rest) {
        /* never echo it: it may hold a secret */
        return poolctl_usage("%s: --auth must be none, bearer:TOKEN, "
                             "basic:USER:PASS or header:NAME:VALUE", what);
    }
    if (o->auth_file) {
        if (!skey) {
            return poolctl_usage("%s: --auth none takes no --auth-file",
                                 what);
        }
        if (secret) {
            return poolctl_usage("%s: give the secret in --auth or in "
                                 "--auth-file, not both (--auth bearer, "
                                 "basic:USER or header:NAME with "
                                 "--auth-file)", what);
        }
        if ((rc = auth_secret_file(ctl, o, what, &secret)) != POOLCTL_OK) {
            return rc;
        }
    }
    j = json_pack("{s:s}", "type", type);
    if (nkey && name) {
        json_object_set_new(j, nkey, json_string(name));
    }
    if (skey && secret) {
        json_object_set_new(j, skey, json_string(secret));
    }
    json_object_set_new(doc, "auth", j);
    return POOLCTL_OK;
}

/* --retry 5,300,30m: waits after each failed attempt; "none": no retry;
 * "default" or "": the default schedule. */
static int doc_retry(poolctl_t *ctl, const char *what, const char *s,
                     json_t *doc)
{
    json_t *a;
    char *copy, *tok, *last = NULL;

    if (!*s || !strcmp(s, "default")) {
        json_object_set_new(doc, "retry_schedule", json_null());
        return POOLCTL_OK;
    }
    a = json_array();
    json_object_set_new(doc, "retry_schedule", a);
    if (!strcmp(s, "none")) {
        return POOLCTL_OK;
    }
    copy = apr_pstrdup(ctl->p, s);
    for (tok = apr_strtok(copy, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        apr_int64_t secs;

        if (pool_settings_parse_duration(ctl->p, tok, &secs) || secs < 1
            || secs > 7 * 86400 || json_array_size(a)
               >= POOL_ENDPOINT_RETRIES_MAX) {
            return poolctl_usage("%s: --retry takes up to %d waits from 1s "
                                 "to 7d separated by commas (e.g. "
                                 "5,300,30m,2h), 'none' or 'default'", what,
                                 POOL_ENDPOINT_RETRIES_MAX);
        }
        json_array_append_new(a, json_integer(secs));
    }
    if (!json_array_size(a)) {
        return poolctl_usage("%s: --retry: no waits in '%s'", what,
                             poolctl_show(ctl->p, s));
    }
    return POOLCTL_OK;
}

static int doc_rate(poolctl_t *ctl, const char *what, const char *s,
                    json_t *doc)
{
    long n;

    (void)ctl;
    if (!*s || !strcmp(s, "none")) {
        json_object_set_new(doc, "rate_limit", json_null());
        return POOLCTL_OK;
    }
    if (pool_parse_int(s, 1, RATE_MAX, &n)) {
        return poolctl_usage("%s: --rate takes attempts per second from 1 to "
                             "%d, or 'none'", what, RATE_MAX);
    }
    json_object_set_new(doc, "rate_limit", json_integer(n));
    return POOLCTL_OK;
}

/* The API document from the options (what: "endpoint add" or ...). */
static int build_doc(poolctl_t *ctl, ep_opts *o, const char *what,
                     json_t *doc)
{
    int rc = POOLCTL_OK;

    if (o->url) {
        json_object_set_new(doc, "url", json_string(o->url));
        if (!json_object_get(doc, "url")) {
            return poolctl_usage("%s: the URL is not UTF-8", what);
        }
    }
    if (o->description) {
        json_t *d = json_string(o->description);

        if (!d) {
            return poolctl_usage("%s: --description is not UTF-8", what);
        }
        json_object_set_new(doc, "description", d);
    }
    if (o->events) {
        rc = doc_events(ctl, what, o->events, doc);
    }
    if (rc == POOLCTL_OK && o->filters) {
        rc = doc_filter(ctl, what, o->filters, doc);
    }
    if (rc == POOLCTL_OK) {
        rc = doc_auth(ctl, o, what, doc);
    }
    if (rc == POOLCTL_OK && o->retry) {
        rc = doc_retry(ctl, what, o->retry, doc);
    }
    if (rc == POOLCTL_OK && o->rate) {
        rc = doc_rate(ctl, what, o->rate, doc);
    }
    if (rc == POOLCTL_OK && o->mapping) {
        rc = doc_compiled(ctl, o, what, "mapping", o->mapping, doc);
    }
    if (rc == POOLCTL_OK && o->success) {
        rc = doc_compiled(ctl, o, what, "success", o->success, doc);
    }
    return rc;
}

/* ------------------------------------------------------------ commands */

/* pos: SUB POOL [ID]; NULL after printing the usage error. */
static int pool_id_args(poolctl_t *ctl, apr_array_header_t *pos, int with_id,
                        const char *usage, const char **pool, const char **id)
{
    int rc;

    if (pos->nelts != (with_id ? 3 : 2)) {
        return poolctl_usage("usage: endpoint %s", usage);
    }
    *pool = APR_ARRAY_IDX(pos, 1, const char *);
    if ((rc = poolctl_check_ident(ctl->p, "pool", *pool)) != POOLCTL_OK) {
        return rc;
    }
    if (with_id) {
        *id = APR_ARRAY_IDX(pos, 2, const char *);
        return poolctl_endpoint_id_check(ctl, *id);
    }
    return POOLCTL_OK;
}

static int ep_add(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o)
{
    pool_problem_t pr = { 0 };
    const char *pool;
    json_t *doc, *out = NULL;
    PGconn *db;
    int rc, st;

    if (pos->nelts != 3) {
        return poolctl_usage("usage: endpoint add POOL URL [--event E]... "
                             "[--filter P=V]... [--auth ...] [--retry ...] "
                             "[--rate N] [--mapping FILE] [--success FILE] "
                             "[--description D] [--json]");
    }
    if (o->url) {
        return poolctl_usage("endpoint add: the URL is the second argument, "
                             "not --url");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    if ((rc = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK) {
        return rc;
    }
    o->url = APR_ARRAY_IDX(pos, 2, const char *);
    doc = json_object();
    if ((rc = build_doc(ctl, o, "endpoint add", doc)) != POOLCTL_OK) {
        json_decref(doc);
        return rc;
    }
    if (!(db = poolctl_db(ctl))) {
        json_decref(doc);
        return POOLCTL_FAIL;
    }
    st = pool_endpoint_create(ctl->p, db, pool, NULL, doc, &out, &pr);
    json_decref(doc);
    if (st) {
        return poolctl_problem(ctl, "endpoint add", st, &pr);
    }
    rc = poolctl_render(ctl, out, secret_cols, o->json);
    if (!o->json) {
        poolctl_err("note: the signing secret is shown only this once "
                    "(again with 'endpoint rotate'); give it to the "
                    "receiver now");
    }
    return rc;
}

static int ep_list(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o)
{
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *after = NULL;
    json_t *all = json_array();
    PGconn *db;
    int rc, st;

    if ((rc = pool_id_args(ctl, pos, 0, "list POOL [--json]", &pool, NULL))
        != POOLCTL_OK || !(db = poolctl_db(ctl))) {
        json_decref(all);
        return rc != POOLCTL_OK ? rc : POOLCTL_FAIL;
    }
    do {
        json_t *page = NULL, *next;

        st = pool_endpoint_list(ctl->p, db, pool, NULL, after, EP_PAGE,
                                &page, &pr);
        if (st) {
            json_decref(all);
            return poolctl_problem(ctl, "endpoint list", st, &pr);
        }
        json_array_extend(all, json_object_get(page, "items"));
        next = json_object_get(page, "next");
        after = json_is_string(next) ? apr_pstrdup(ctl->p,
                                                   json_string_value(next))
                                     : NULL;
        json_decref(page);
    } while (after);
    return poolctl_render(ctl, all, list_cols, o->json);
}

static int ep_show(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o)
{
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *id = NULL;
    json_t *out = NULL;
    PGconn *db;
    int rc, st;

    if ((rc = pool_id_args(ctl, pos, 1, "show POOL ID [--json]", &pool, &id))
        != POOLCTL_OK) {
        return rc;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    st = pool_endpoint_get(ctl->p, db, pool, id, &out, &pr);
    if (st) {
        return poolctl_problem(ctl, "endpoint show", st, &pr);
    }
    return poolctl_render(ctl, out, show_cols, o->json);
}

/* set, disable and enable: an update with doc */
static int ep_update(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o,
                     const char *sub, int disabled)
{
    const char *what = apr_pstrcat(ctl->p, "endpoint ", sub, NULL);
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *id = NULL;
    json_t *doc = json_object(), *out = NULL;
    PGconn *db;
    int rc, st;

    rc = pool_id_args(ctl, pos, 1, disabled < 0
                      ? "set POOL ID [--url URL] [--event E]... "
                        "[--filter P=V]... [--auth ...] [--retry ...] "
                        "[--rate N] [--mapping FILE] [--success FILE] "
                        "[--description D] [--json]"
                      : apr_pstrcat(ctl->p, sub, " POOL ID [--json]", NULL),
                      &pool, &id);
    if (rc == POOLCTL_OK && disabled < 0) {
        rc = build_doc(ctl, o, what, doc);
        if (rc == POOLCTL_OK && json_object_size(doc) == 0) {
            rc = poolctl_usage("endpoint set: nothing to change (give "
                               "--url, --event, --filter, --auth, --retry, "
                               "--rate, --mapping, --success or "
                               "--description)");
        }
    }
    else if (rc == POOLCTL_OK) {
        json_object_set_new(doc, "disabled", json_boolean(disabled));
    }
    if (rc != POOLCTL_OK || !(db = poolctl_db(ctl))) {
        json_decref(doc);
        return rc != POOLCTL_OK ? rc : POOLCTL_FAIL;
    }
    st = pool_endpoint_update(ctl->p, db, pool, id, doc, &out, &pr);
    json_decref(doc);
    if (st) {
        return poolctl_problem(ctl, what, st, &pr);
    }
    return poolctl_render(ctl, out, show_cols, o->json);
}

static int ep_rotate(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o)
{
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *id = NULL;
    apr_int64_t grace = 0;
    json_t *out = NULL;
    PGconn *db;
    int rc, st;

    if ((rc = pool_id_args(ctl, pos, 1, "rotate POOL ID [--grace DURATION] "
                           "[--json]", &pool, &id)) != POOLCTL_OK) {
        return rc;
    }
    if (o->grace && (pool_settings_parse_duration(ctl->p, o->grace, &grace)
                     || grace > POOL_ENDPOINT_GRACE_MAX)) {
        return poolctl_usage("endpoint rotate: --grace must be a duration of "
                             "at most 7d (e.g. 3600, 30m, 1d; 0: none)");
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    st = pool_endpoint_rotate(ctl->p, db, pool, id, (int)grace, &out, &pr);
    if (st) {
        return poolctl_problem(ctl, "endpoint rotate", st, &pr);
    }
    rc = poolctl_render(ctl, out, secret_cols, o->json);
    if (!o->json) {
        poolctl_err("note: the new signing secret is shown only this once%s",
                    grace ? "; the previous one signs too until "
                            "secret_rotated_until" : "");
    }
    return rc;
}

static int ep_rm(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o)
{
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *id = NULL;
    PGconn *db;
    int rc, st;

    if ((rc = pool_id_args(ctl, pos, 1, "rm POOL ID", &pool, &id))
        != POOLCTL_OK) {
        return rc;
    }
    if (o->json) {
        return poolctl_usage("endpoint rm: no --json output");
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    st = pool_endpoint_delete(ctl->p, db, pool, id, &pr);
    if (st) {
        return poolctl_problem(ctl, "endpoint rm", st, &pr);
    }
    poolctl_err("endpoint %s removed; its pending deliveries fail, the "
                "delivery log stays", id);
    return POOLCTL_OK;
}

/* preview --event: a known event type (a sample of it) or a FILE with an
 * event envelope. */
static int preview_event(poolctl_t *ctl, ep_opts *o, const char *pool,
                         json_t **ev)
{
    const char *arg, *text;
    apr_size_t len;
    json_error_t je;
    int rc;

    *ev = NULL;
    if (!o->events) {
        return POOLCTL_OK;
    }
    if (o->events->nelts != 1) {
        return poolctl_usage("endpoint preview: one --event (an event type "
                             "or a FILE)");
    }
    arg = APR_ARRAY_IDX(o->events, 0, const char *);
    if (pool_event_known(arg)) {
        *ev = pool_event_sample(ctl->p, pool, arg);
        return *ev ? POOLCTL_OK : poolctl_usage("endpoint preview: no "
                                                "sample of '%s'", arg);
    }
    if ((rc = take_stdin(o, arg)) != POOLCTL_OK
        || (rc = poolctl_read_file(ctl, "endpoint preview: --event", arg,
                                   EVENT_FILE_MAX, &text, &len))
           != POOLCTL_OK) {
        return rc;
    }
    *ev = json_loadb(text, len, 0, &je);
    if (!*ev) {
        return poolctl_usage("endpoint preview: --event %s: line %d, column "
                             "%d: %s", poolctl_show(ctl->p, arg), je.line,
                             je.column, je.text);
    }
    return POOLCTL_OK;
}

static int ep_preview(poolctl_t *ctl, apr_array_header_t *pos, ep_opts *o)
{
    pool_problem_t pr = { 0 };
    const char *pool = NULL, *id = NULL;
    json_t *ev = NULL, *doc = json_object(), *out = NULL;
    PGconn *db;
    int rc, st;

    rc = pool_id_args(ctl, pos, 1, "preview POOL ID [--event TYPE|FILE] "
                      "[--mapping FILE] [--json]", &pool, &id);
    if (rc == POOLCTL_OK) {
        rc = preview_event(ctl, o, pool, &ev);
    }
    if (rc == POOLCTL_OK && o->mapping) {
        rc = doc_compiled(ctl, o, "endpoint preview", "mapping", o->mapping,
                          doc);
    }
    if (rc != POOLCTL_OK || !(db = poolctl_db(ctl))) {
        json_decref(ev);
        json_decref(doc);
        return rc != POOLCTL_OK ? rc : POOLCTL_FAIL;
    }
    st = pool_endpoint_preview(ctl->p, db, pool, id, ev,
                               json_object_get(doc, "mapping"), &out, &pr);
    json_decref(ev);
    json_decref(doc);
    if (st) {
        return poolctl_problem(ctl, "endpoint preview", st, &pr);
    }
    return poolctl_render(ctl, out, preview_cols, o->json);
}

/* Which options each subcommand takes, for a clear refusal of others. */
static int check_opts(const char *sub, const ep_opts *o)
{
    int doc = o->filters || o->description || o->auth || o->auth_file
              || o->retry || o->rate || o->success;
    int is_doc = !strcmp(sub, "add") || !strcmp(sub, "set");

    if (doc && !is_doc) {
        return poolctl_usage("endpoint %s: --filter, --auth, --auth-file, "
                             "--retry, --rate, --success and --description "
                             "apply to 'endpoint add' and 'endpoint set'",
                             sub);
    }
    if ((o->events || o->mapping) && !is_doc && strcmp(sub, "preview")) {
        return poolctl_usage("endpoint %s: --event and --mapping apply to "
                             "add, set and preview", sub);
    }
    if (o->url && strcmp(sub, "set")) {
        return poolctl_usage("endpoint %s: --url applies to 'endpoint set' "
                             "(add takes the URL as its argument)", sub);
    }
    if (o->grace && strcmp(sub, "rotate")) {
        return poolctl_usage("endpoint %s: --grace applies to 'endpoint "
                             "rotate'", sub);
    }
    return POOLCTL_OK;
}

int poolctl_cmd_endpoint(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *sub;
    ep_opts o;
    const poolctl_opt_t opts[] = {
        { "json", 0, 0, NULL, &o.json, NULL },
        { "event", 'e', 1, NULL, NULL, &o.events },
        { "filter", 0, 1, NULL, NULL, &o.filters },
        { "url", 0, 1, &o.url, NULL, NULL },
        { "description", 0, 1, &o.description, NULL, NULL },
        { "auth", 0, 1, &o.auth, NULL, NULL },
        { "auth-file", 0, 1, &o.auth_file, NULL, NULL },
        { "retry", 0, 1, &o.retry, NULL, NULL },
        { "rate", 0, 1, &o.rate, NULL, NULL },
        { "mapping", 0, 1, &o.mapping, NULL, NULL },
        { "success", 0, 1, &o.success, NULL, NULL },
        { "grace", 0, 1, &o.grace, NULL, NULL },
        { NULL }
    };
    int rc;

    memset(&o, 0, sizeof(o));
    if (poolctl_getopt(ctl, argc, argv, opts, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("endpoint: which? add, list, show, set, "
                             "disable, enable, rotate, rm or preview");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (!strcmp(sub, "add") || !strcmp(sub, "list") || !strcmp(sub, "show")
        || !strcmp(sub, "set") || !strcmp(sub, "disable")
        || !strcmp(sub, "enable") || !strcmp(sub, "rotate")
        || !strcmp(sub, "rm") || !strcmp(sub, "preview")) {
        if ((rc = check_opts(sub, &o)) != POOLCTL_OK) {
            return rc;
        }
    }
    if (!strcmp(sub, "add")) {
        return ep_add(ctl, pos, &o);
    }
    if (!strcmp(sub, "list")) {
        return ep_list(ctl, pos, &o);
    }
    if (!strcmp(sub, "show")) {
        return ep_show(ctl, pos, &o);
    }
    if (!strcmp(sub, "set")) {
        return ep_update(ctl, pos, &o, sub, -1);
    }
    if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
        return ep_update(ctl, pos, &o, sub, !strcmp(sub, "disable"));
    }
    if (!strcmp(sub, "rotate")) {
        return ep_rotate(ctl, pos, &o);
    }
    if (!strcmp(sub, "rm")) {
        return ep_rm(ctl, pos, &o);
    }
    if (!strcmp(sub, "preview")) {
        return ep_preview(ctl, pos, &o);
    }
    return poolctl_usage("endpoint: unknown subcommand '%s' (add, list, "
                         "show, set, disable, enable, rotate, rm, preview)",
                         poolctl_show(ctl->p, sub));
}
