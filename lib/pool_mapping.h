/* Declarative field mapping and success rules of webhook endpoints
 * (docs/webhooks-mapping.md).  Pure C over jansson and lib/pool_regex.c: no
 * database, no HTTP.  Everything here parses untrusted text (admins'
 * templates and rules, receivers' answers) with lengths checked, a depth
 * limit and bounded allocation.
 *
 * MAPPING (the request we send).  A JSON object, every member optional:
 *     {"method": "POST" | "PUT",                      default "POST"
 *      "path":   "/docs/{{/data/file/id}}",          default: none
 *      "body":   TEMPLATE}                            default: the event
 * or JSON null (all defaults).  Without "body" the event is sent as is.
 *
 * A TEMPLATE is any JSON value in which
 *   {"$ptr": P}                 is replaced by the value at the RFC 6901
 *                               JSON pointer P in the event (any JSON type);
 *   {"$ptr": P, "default": V}   gives the constant V when P is missing;
 *   {"$literal": V}             is V, copied as is (nothing inside is
 *                               interpreted: the way to send "$"-keys or
 *                               "{{");
 *   a string with placeholders  "{{P}}" is a string template: each
 *                               placeholder becomes the pointed value as
 *                               text (strings as they are, numbers and
 *                               booleans as JSON text, null as "", objects
 *                               and arrays as compact JSON); "{{{{" is a
 *                               literal "{{" (a single "{" or "}" and "}}"
 *                               outside a placeholder are literal);
 * and everything else is a constant.  Object member names are constants;
 * a name starting with '$' is reserved for expressions (wrap a constant
 * that has one in {"$literal": ...}).  A string placeholder ends at the
 * first "}}", so a key containing "}}" is reachable only through $ptr.
 *
 * Missing pointers: {"$ptr": P} without a default gives null, a
 * placeholder gives "" (also in the path), and P is reported in the
 * render's list of missing pointers (pointers with a default are not).
 *
 * The path is a string template that starts with '/': literal characters
 * must be allowed in a URL path or query (RFC 3986 pchar, '/', '?', "%XX");
 * values are percent-encoded keeping only unreserved characters
 * (A-Z a-z 0-9 - . _ ~), so a value never adds a '/' segment or a query
 * parameter.  A "." or ".." segment (also as %2E) is refused, and so are
 * '{' and '}' outside placeholders (write %7B, %7D).  The caller appends
 * the rendered path to the endpoint's URL.
 *
 * SUCCESS RULE (what counts as delivered).  A JSON object, every member
 * optional, or null (a regex is POSIX extended syntax, matched in linear
 * time by lib/pool_regex.c, not <regex.h>: see pool_regex.h):
 *     {"status": [200, "201-204", "2xx"],            default "2xx"
 *      "body": {"equals": "OK"}                      exact body text
 *            | {"regex": "^ok"}                      regex (pool_regex.h)
 *            | {"pointer": "/ok", "equals": true},   JSON value at pointer
 *      "timeout_ms": 15000}                          1..120000
 *
 * Limits (each refused with a message, see the constants below).  Errors of
 * compile name the place: JSON syntax errors by line and column, the others
 * by the JSON pointer of the offending value in the document, and for
 * strings also the character offset (0-based, in Unicode characters) in
 * it (for a bad $ptr, the pointer names the {"$ptr": ...} object and the
 * offset is in its pointer string). */
#ifndef POOL_MAPPING_H
#define POOL_MAPPING_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#define POOL_MAPPING_TEXT_MAX   65536           /* a mapping's JSON text */
#define POOL_MAPPING_DEPTH_MAX  32              /* nesting of the document */
#define POOL_MAPPING_EXPR_MAX   1000            /* $ptr + placeholders */
#define POOL_MAPPING_BODY_MAX   (1024 * 1024)   /* a rendered body */
#define POOL_MAPPING_PATH_MAX   2048            /* a path, template or rendered */

#define POOL_RULE_TEXT_MAX      16384           /* a rule's JSON text */
#define POOL_RULE_STATUS_MAX    32              /* entries of "status" */
#define POOL_RULE_BODY_MAX      65536           /* body prefix looked at */
#define POOL_RULE_TIMEOUT_DEF   15000           /* ms */
#define POOL_RULE_TIMEOUT_MAX   120000          /* ms */

typedef struct pool_mapping_t pool_mapping_t;
typedef struct pool_rule_t pool_rule_t;

/* Where a compile error is. */
typedef struct {
    const char *msg;        /* the whole message, as returned */
    const char *pointer;    /* JSON pointer into the document; NULL for a
                             * syntax error or the document's size */
    int line, column;       /* syntax errors: 1-based (jansson); else 0 */
    int offset;             /* character offset in the string at pointer;
                             * -1 when the error is about the whole value */
} pool_mapping_error_t;

/* ------------------------------------------------------------ mapping */

/* Compiles a mapping from JSON text of len bytes.  NULL on success with
 * *m (allocated from p, immutable: one compiled mapping may be rendered by
 * many threads), else the message, also in *e when e is not NULL, e.g.
 *   "line 2, column 9: unexpected newline near '\"a'"
 *   "/body/doc_id: $ptr must be a string that is a JSON pointer
 *    (RFC 6901), got 'data/file' (it must be empty or start with '/')"
 *   "/body/title: placeholder at character 7 is not closed by '}}'" */
const char *pool_mapping_compile(apr_pool_t *p, const char *text,
                                 apr_size_t len, pool_mapping_t **m,
                                 pool_mapping_error_t *e);
/* The same from a parsed document (no line and column then). */
const char *pool_mapping_compile_json(apr_pool_t *p, const json_t *doc,
                                      pool_mapping_t **m,
                                      pool_mapping_error_t *e);

const char *pool_mapping_method(const pool_mapping_t *m); /* POST or PUT */
int pool_mapping_has_body(const pool_mapping_t *m);  /* 0: event as is */
int pool_mapping_has_path(const pool_mapping_t *m);  /* 0: the URL as is */

/* Renders the body for event (our event envelope) as compact JSON text
 * (NUL-terminated, from p; *len its length when len is not NULL); without
 * a body template, the event itself.  *missing (when not NULL) gets the
 * distinct pointers without a default that were not found, in template
 * order (const char *, from p).  NULL on success, else the reason (the
 * body would exceed POOL_MAPPING_BODY_MAX); nothing is set then. */
const char *pool_mapping_render(apr_pool_t *p, const pool_mapping_t *m,
                                const json_t *event, const char **body,
                                apr_size_t *len,
                                apr_array_header_t **missing);
/* The same from the event's JSON text (at most POOL_MAPPING_BODY_MAX). */
const char *pool_mapping_render_text(apr_pool_t *p, const pool_mapping_t *m,
                                     const char *event, apr_size_t elen,
                                     const char **body, apr_size_t *len,
                                     apr_array_header_t **missing);
/* Renders the path template (*path = NULL when there is none).  Errors:
 * longer than POOL_MAPPING_PATH_MAX, or a value made a "."/".." segment. */
const char *pool_mapping_render_path(apr_pool_t *p, const pool_mapping_t *m,
                                     const json_t *event, const char **path,
                                     apr_array_header_t **missing);

/* ------------------------------------------------------------ success rule */

/* Compiles a rule from JSON text (null: the defaults).  As for mappings:
 * NULL on success with *r (from p, immutable), else the message, also in
 * *e. */
const char *pool_rule_compile(apr_pool_t *p, const char *text, apr_size_t len,
                              pool_rule_t **r, pool_mapping_error_t *e);
const char *pool_rule_compile_json(apr_pool_t *p, const json_t *doc,
                                   pool_rule_t **r, pool_mapping_error_t *e);

/* The time limit in ms (r NULL: the default rule). */
long pool_rule_timeout_ms(const pool_rule_t *r);

/* Judges one attempt: status is the HTTP status (0 or less: no HTTP answer,
 * e.g. the connection failed or the time limit cut it), body and len the
 * start of the answer's body (only the first POOL_RULE_BODY_MAX bytes are
 * looked at), elapsed_ms the time it
 * took.  r NULL: the default rule.  1 on success (*reason NULL), 0 on
 * failure with *reason (from p), one of:
 *   "no answer within 15000 ms"       (elapsed beyond the limit)
 *   "no answer"                       (status <= 0 within the limit)
 *   "status 500 is not in 2xx"        (the set as written: "200, 201-204")
 *   "status 200 but the body is not \"OK\""
 *   "status 200 but the body does not match ^ok"
 *   "status 200 but the body is not JSON"
 *   "status 200 but body /ok is missing (expected true)"
 *   "status 200 but body /ok was false (expected true)"
 * (values in reasons are compact JSON cut to 64 bytes with "..."). */
int pool_rule_check(apr_pool_t *p, const pool_rule_t *r, int status,
                    const char *body, apr_size_t len, long elapsed_ms,
                    const char **reason);

#endif
