/* Declarative field mapping and success rules of webhook endpoints: the
 * format is in pool_mapping.h and docs/webhooks-mapping.md.
 *
 * A mapping is compiled once into a tree of nodes in which every subtree
 * without an expression is folded into its compact JSON text, so that a
 * render only writes text: constants, pointed values (jansson's encoder)
 * and string templates, into a buffer that refuses to grow beyond the
 * limit.  Pointers are interned at compile time and looked up at most once
 * per render. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "pool_mapping.h"
#include "pool_name.h"
#include "pool_regex.h"

#define SHOW_MAX 64             /* bytes of a value quoted in a message */
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* ================================================================ errors */

typedef struct {
    apr_pool_t *p;
    pool_mapping_error_t *e;
    const char *msg;            /* the first error */
} err_t;

__attribute__((format(printf, 4, 5)))
static void fail(err_t *x, const char *where, int offset, const char *fmt, ...)
{
    va_list ap;
    const char *what;

    if (x->msg) {
        return;
    }
    va_start(ap, fmt);
    what = apr_pvsprintf(x->p, fmt, ap);
    va_end(ap);
    x->msg = where && *where ? apr_psprintf(x->p, "%s: %s", where, what) : what;
    if (x->e) {
        x->e->msg = x->msg;
        x->e->pointer = where;
        x->e->line = x->e->column = 0;
        x->e->offset = offset;
    }
}

static void fail_syntax(err_t *x, const json_error_t *je)
{
    x->msg = apr_psprintf(x->p, "line %d, column %d: %s", je->line,
                          je->column, je->text);
    if (x->e) {
        x->e->msg = x->msg;
        x->e->pointer = NULL;
        x->e->line = je->line;
        x->e->column = je->column;
        x->e->offset = -1;
    }
}

/* The JSON pointer of member key of where (RFC 6901 escaping). */
static const char *at_key(apr_pool_t *p, const char *where, const char *key)
{
    apr_size_t n = strlen(key), i, k = 0;
    char *e = apr_palloc(p, 2 * n + 1);

    for (i = 0; i < n; i++) {
        if (key[i] == '~' || key[i] == '/') {
            e[k++] = '~';
            e[k++] = key[i] == '~' ? '0' : '1';
        }
        else {
            e[k++] = key[i];
        }
    }
    e[k] = '\0';
    return apr_pstrcat(p, where, "/", e, NULL);
}

static const char *at_index(apr_pool_t *p, const char *where, size_t i)
{
    return apr_psprintf(p, "%s/%" APR_SIZE_T_FMT, where, (apr_size_t)i);
}

/* Characters (UTF-8 sequences) in the first n bytes of s. */
static int chars(const char *s, size_t n)
{
    int c = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return c;
}

/* v as compact JSON from p ("?" when jansson cannot encode it). */
static const char *dump(apr_pool_t *p, const json_t *v)
{
    char *s = json_dumps(v, DUMP_FLAGS);
    const char *out = apr_pstrdup(p, s ? s : "?");

    free(s);
    return out;
}

/* s cut to SHOW_MAX bytes (on a character boundary) with "...". */
static const char *cut(apr_pool_t *p, const char *s)
{
    if (strlen(s) <= SHOW_MAX) {
        return s;
    }
    return apr_pstrcat(p, apr_pstrndup(p, s, pool_utf8_prefix(s, SHOW_MAX)),
                       "...", NULL);
}

/* v for a message: compact JSON, cut, strings in single quotes as they
 * read better in a sentence. */
static const char *show(apr_pool_t *p, const json_t *v)
{
    char *s = (char *)dump(p, v);
    size_t n = strlen(s);

    if (json_is_string(v) && n >= 2) {
        s[0] = s[n - 1] = '\'';
    }
    return cut(p, s);
}

/* 1 when v (itself level 1) has a value deeper than limit levels. */
static int too_deep(const json_t *v, int limit)
{
    const char *k;
    json_t *x;
    size_t i;

    if (limit < 1) {
        return 1;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        return 0;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if (too_deep(x, limit - 1)) {
                return 1;
            }
        }
        return 0;
    }
    json_object_foreach((json_t *)v, k, x) {
        if (too_deep(x, limit - 1)) {
            return 1;
        }
    }
    return 0;
}

/* ================================================================ pointers */

typedef struct {
    const char *text;           /* as written */
    int n;
    const char **tok;           /* unescaped reference tokens */
} jptr_t;

/* Parses the RFC 6901 pointer s of len bytes into *out.  -1 when valid,
 * else the byte offset of the fault (0: it does not start with '/'). */
static long ptr_parse(apr_pool_t *p, const char *s, size_t len, jptr_t *out)
{
    size_t i, n = 0, start;
    char *t;

    if (len && s[0] != '/') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == '/') {
            n++;
        }
        else if (s[i] == '~' && (i + 1 == len || (s[i + 1] != '0'
                                                  && s[i + 1] != '1'))) {
            return (long)i;
        }
        else if (s[i] == '\0') {
            return (long)i;
        }
    }
    out->text = apr_pstrmemdup(p, s, len);
    out->n = 0;
    out->tok = apr_palloc(p, (n ? n : 1) * sizeof(*out->tok));
    for (i = 1, start = 1; i <= len; i++) {
        if (i == len || s[i] == '/') {
            size_t j, k = 0;

            t = apr_palloc(p, i - start + 1);
            for (j = start; j < i; j++) {
                t[k++] = s[j] == '~' ? (s[++j] == '0' ? '~' : '/') : s[j];
            }
            t[k] = '\0';
            out->tok[out->n++] = t;
            start = i + 1;
        }
    }
    return -1;
}

/* An array index token: "0" or [1-9][0-9]* below 10^9; else -1. */
static long array_index(const char *t)
{
    long v = 0;
    size_t i, n = strlen(t);

    if (n == 0 || n > 9 || (t[0] == '0' && n > 1)) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') {
            return -1;
        }
        v = v * 10 + (t[i] - '0');
    }
    return v;
}

static const json_t *ptr_get(const jptr_t *ptr, const json_t *v)
{
    int i;

    for (i = 0; v && i < ptr->n; i++) {
        if (json_is_object(v)) {
            v = json_object_get(v, ptr->tok[i]);
        }
        else if (json_is_array(v)) {
            long k = array_index(ptr->tok[i]);

            v = k < 0 ? NULL : json_array_get(v, (size_t)k);
        }
        else {
            v = NULL;
        }
    }
    return v;
}

/* Why a pointer ptr_parse refused at byte off is not one. */
static const char *ptr_why(apr_pool_t *p, const char *s, long off)
{
    if (off == 0) {
        return "it must be empty or start with '/'";
    }
    if (s[off] == '\0') {
        return apr_psprintf(p, "a NUL character at character %d",
                            chars(s, (size_t)off));
    }
    return apr_psprintf(p, "'~' at character %d is not followed by 0 or 1",
                        chars(s, (size_t)off));
}

/* ================================================================ output */

/* A buffer from a pool that refuses to grow beyond max bytes. */
typedef struct {
    apr_pool_t *p;
    char *d;
    apr_size_t n, cap, max;
    int over;                   /* a write went beyond max */
    int bad;                    /* jansson could not encode a value */
} obuf_t;

static void ob_init(obuf_t *b, apr_pool_t *p, apr_size_t max)
{
    memset(b, 0, sizeof(*b));
    b->p = p;
    b->max = max;
}

static int put(obuf_t *b, const char *s, apr_size_t n)
{
    if (b->over || n > b->max - b->n) {
        b->over = 1;
        return -1;
    }
    if (n > b->cap - b->n) {
        apr_size_t cap = b->cap ? b->cap : 256;
        char *d;

        while (cap - b->n < n) {
            cap *= 2;
        }
        d = apr_palloc(b->p, cap + 1);
        if (b->n) {
            memcpy(d, b->d, b->n);
        }
        b->d = d;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->d + b->n, s, n);
        b->n += n;
    }
    return 0;
}

static int dump_cb(const char *s, size_t n, void *data)
{
    return put(data, s, n);
}

static int put_json(obuf_t *b, const json_t *v)
{
    if (json_dump_callback(v, dump_cb, b, DUMP_FLAGS) != 0) {
        b->bad = !b->over;
        return -1;
    }
    return 0;
}

/* s (n bytes of UTF-8) as a JSON string, escaped as jansson does. */
static int put_jstr(obuf_t *b, const char *s, apr_size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t i, run = 0;

    put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7] = { '\\', 0, 0, 0, 0, 0, 0 };
        int k = 2;

        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
        }
        else if (c < 0x20) {
            const char *named = strchr("\bb\ff\nn\rr\tt", c);

            if (c && named) {
                esc[1] = named[1];
            }
            else {
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                k = 6;
            }
        }
        else {
            continue;
        }
        put(b, s + run, i - run);
        put(b, esc, (apr_size_t)k);
        run = i + 1;
    }
    put(b, s + run, n - run);
    return put(b, "\"", 1);
}

/* v as text in a string template: strings as they are, null as nothing,
 * anything else as compact JSON. */
static int put_text(obuf_t *b, const json_t *v)
{
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        return put(b, json_string_value(v), json_string_length(v));
    }
    return put_json(b, v);
}

/* The unreserved characters of RFC 3986 stay, every other byte is %XX. */
static int put_pct(obuf_t *b, const char *s, apr_size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[3] = { '%', hex[c >> 4], hex[c & 15] };

        if (b->over) {
            break;
        }
        if (apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            put(b, s + i, 1);
        }
        else {
            put(b, e, 3);
        }
    }
    return b->over ? -1 : 0;
}

/* ================================================================ templates */

enum { N_CONST, N_PTR, N_STR, N_OBJ, N_ARR };

typedef struct {                /* a piece of a string template */
    const char *lit;            /* literal bytes (unescaped), or NULL */
    apr_size_t len;
    int ptr;                    /* pointer index when lit is NULL */
} part_t;

typedef struct node_t node_t;
struct node_t {
    int kind;
    const char *text;           /* N_CONST: its JSON; N_PTR: the default */
    apr_size_t len;
    int ptr;                    /* N_PTR */
    part_t *parts;              /* N_STR */
    int nparts;
    node_t **kids;              /* N_OBJ, N_ARR */
    const char **keys;          /* N_OBJ: "\"name\":" */
    apr_size_t *keylens;
    int nkids;
};

struct pool_mapping_t {
    const char *method;
    node_t *body;               /* NULL: the event as is */
    part_t *path;               /* NULL: no path template */
    int npath;
    jptr_t *ptrs;               /* distinct pointers */
    int nptrs;
};

typedef struct {
    err_t x;
    apr_array_header_t *ptrs;   /* jptr_t */
    apr_hash_t *index;          /* pointer text -> index + 1 */
    int nexpr;
} cc_t;

static node_t *tpl(cc_t *c, const json_t *v, const char *where, int depth);

/* Counts an expression and interns its pointer; its index, or -1. */
static int add_ptr(cc_t *c, const char *where, int offset, const jptr_t *ptr)
{
    intptr_t i;

    if (++c->nexpr > POOL_MAPPING_EXPR_MAX) {
        fail(&c->x, where, offset, "more than %d expressions",
             POOL_MAPPING_EXPR_MAX);
        return -1;
    }
    i = (intptr_t)apr_hash_get(c->index, ptr->text, APR_HASH_KEY_STRING);
    if (i) {
        return (int)(i - 1);
    }
    *(jptr_t *)apr_array_push(c->ptrs) = *ptr;
    apr_hash_set(c->index, ptr->text, APR_HASH_KEY_STRING,
                 (void *)(intptr_t)c->ptrs->nelts);
    return c->ptrs->nelts - 1;
}

static node_t *node_const(cc_t *c, const char *text, apr_size_t len)
{
    node_t *n = apr_pcalloc(c->x.p, sizeof(*n));

    n->kind = N_CONST;
    n->text = text;
    n->len = len;
    return n;
}

/* A constant value: its compact JSON. */
static node_t *constant(cc_t *c, const json_t *v, const char *where, int depth)
{
    char *s;
    node_t *n;

    if (too_deep(v, POOL_MAPPING_DEPTH_MAX - depth + 1)) {
        fail(&c->x, where, -1, "nested deeper than %d levels",
             POOL_MAPPING_DEPTH_MAX);
        return NULL;
    }
    /* only a document built by hand can fail here (invalid UTF-8) */
    if (!(s = json_dumps(v, DUMP_FLAGS))) {
        fail(&c->x, where, -1, "cannot be written as JSON");
        return NULL;
    }
    n = node_const(c, apr_pstrdup(c->x.p, s), strlen(s));
    free(s);
    return n;
}

/* A character of a path template's literal text: 1 when allowed (RFC 3986
 * pchar, '/', '?'; '%' is checked by the caller). */
static int path_char(unsigned char ch)
{
    return apr_isalnum(ch) || (ch && strchr("-._~!$&'()*+,;=:@/?", ch));
}

/* A path segment ending at byte i: refused when it is "." or ".." in its
 * literal text (dots counted as written or as %2E). */
static int dot_segment(int dots, int other)
{
    return !other && (dots == 1 || dots == 2);
}

/* Parses string template s (len bytes) at where into *out (the number of
 * parts, or -1).  For a path, literal characters are checked too. */
static int parse_tpl(cc_t *c, const char *where, const char *s, size_t len,
                     int path, part_t **out)
{
    apr_array_header_t *parts = apr_array_make(c->x.p, 4, sizeof(part_t));
    obuf_t lit;
    size_t i = 0, seg = 0;
    int dots = 0, other = 0, query = 0;
    part_t *pt;

    ob_init(&lit, c->x.p, len);
    while (i <= len) {
        const char *close;
        jptr_t ptr;
        long off;
        int k;

        if (path && !query && (i == len || s[i] == '/' || s[i] == '?')) {
            if (i > 0 && dot_segment(dots, other)) {
                fail(&c->x, where, chars(s, seg), "the segment at character "
                     "%d is '.' or '..'", chars(s, seg));
                return -1;
            }
            seg = i + 1;
            dots = other = 0;
            query = i < len && s[i] == '?';
        }
        if (i == len) {
            break;
        }
        if (s[i] != '{' || i + 1 == len || s[i + 1] != '{') {
            if (path && s[i] == '%' && i + 2 < len && apr_isxdigit(s[i + 1])
                && apr_isxdigit(s[i + 2])) {
                if (s[i + 1] == '2' && (s[i + 2] == 'e' || s[i + 2] == 'E')) {
                    dots++;
                }
                else {
                    other = 1;
                }
                put(&lit, s + i, 3);
                i += 3;
                continue;
            }
            if (path && !path_char((unsigned char)s[i])) {
                fail(&c->x, where, chars(s, i), "character %d is not allowed "
                     "in a URL path (percent-encode it)", chars(s, i));
                return -1;
            }
            if (s[i] == '.') {
                dots++;
            }
            else if (s[i] != '/') {
                other = 1;
            }
            put(&lit, s + i++, 1);
            continue;
        }
        other = 1;
        if (i + 3 < len && s[i + 2] == '{' && s[i + 3] == '{') {
            if (path) {
                fail(&c->x, where, chars(s, i), "character %d is not allowed "
                     "in a URL path (percent-encode it)", chars(s, i));
                return -1;
            }
            put(&lit, "{{", 2);             /* "{{{{" is a literal "{{" */
            i += 4;
            continue;
        }
        close = memmem(s + i + 2, len - i - 2, "}}", 2);
        if (!close) {
            fail(&c->x, where, chars(s, i), "placeholder at character %d is "
                 "not closed by '}}'", chars(s, i));
            return -1;
        }
        off = ptr_parse(c->x.p, s + i + 2, (size_t)(close - s) - i - 2, &ptr);
        if (off >= 0) {
            fail(&c->x, where, chars(s, i), "placeholder at character %d is "
                 "not a JSON pointer (RFC 6901): %s (a literal '{{' is "
                 "written '{{{{')", chars(s, i),
                 ptr_why(c->x.p, s + i + 2, off));
            return -1;
        }
        if ((k = add_ptr(c, where, chars(s, i), &ptr)) < 0) {
            return -1;
        }
        if (lit.n) {
            pt = apr_array_push(parts);
            pt->lit = apr_pstrmemdup(c->x.p, lit.d, lit.n);
            pt->len = lit.n;
            lit.n = 0;
        }
        pt = apr_array_push(parts);
        pt->lit = NULL;
        pt->ptr = k;
        i = (size_t)(close - s) + 2;
    }
    if (lit.n) {
        pt = apr_array_push(parts);
        pt->lit = apr_pstrmemdup(c->x.p, lit.d, lit.n);
        pt->len = lit.n;
    }
    *out = (part_t *)parts->elts;
    return parts->nelts;
}

static node_t *tpl_string(cc_t *c, const json_t *v, const char *where)
{
    node_t *n;
    part_t *parts;
    int np = parse_tpl(c, where, json_string_value(v), json_string_length(v),
                       0, &parts);
    obuf_t b;

    if (np < 0) {
        return NULL;
    }
    if (np == 0 || (np == 1 && parts[0].lit)) {
        ob_init(&b, c->x.p, 6 * json_string_length(v) + 2);
        put_jstr(&b, np ? parts[0].lit : "", np ? parts[0].len : 0);
        return node_const(c, b.d, b.n);
    }
    n = apr_pcalloc(c->x.p, sizeof(*n));
    n->kind = N_STR;
    n->parts = parts;
    n->nparts = np;
    return n;
}

/* An object with '$' members: {"$ptr": P[, "default": V]} or
 * {"$literal": V}. */
static node_t *tpl_expr(cc_t *c, const json_t *v, const char *where, int depth)
{
    const json_t *ptr = json_object_get(v, "$ptr");
    const json_t *lit = json_object_get(v, "$literal"), *dflt, *x;
    const char *k, *s;
    node_t *n;
    jptr_t jp;
    long off;

    json_object_foreach((json_t *)v, k, x) {
        if (ptr ? !strcmp(k, "$ptr") || !strcmp(k, "default")
            : lit ? !strcmp(k, "$literal") : k[0] != '$') {
            continue;
        }
        if (ptr || lit) {
            fail(&c->x, at_key(c->x.p, where, k), -1, "not allowed next to "
                 "%s: an expression is {\"$ptr\": P}, {\"$ptr\": P, "
                 "\"default\": V} or {\"$literal\": V}",
                 ptr ? "$ptr" : "$literal");
        }
        else {
            fail(&c->x, at_key(c->x.p, where, k), -1, "unknown expression "
                 "(names starting with '$' are reserved: write a constant "
                 "with one as {\"$literal\": ...})");
        }
        return NULL;
    }
    if (lit) {
        return constant(c, lit, at_key(c->x.p, where, "$literal"), depth + 1);
    }
    s = json_is_string(ptr) ? json_string_value(ptr) : NULL;
    if (!s || (off = ptr_parse(c->x.p, s, json_string_length(ptr), &jp)) >= 0) {
        fail(&c->x, where, s ? chars(s, (size_t)off) : -1, "$ptr must be a "
             "string that is a JSON pointer (RFC 6901), got %s%s%s%s",
             show(c->x.p, ptr), s ? " (" : "",
             s ? ptr_why(c->x.p, s, off) : "", s ? ")" : "");
        return NULL;
    }
    n = apr_pcalloc(c->x.p, sizeof(*n));
    n->kind = N_PTR;
    if ((n->ptr = add_ptr(c, where, -1, &jp)) < 0) {
        return NULL;
    }
    if ((dflt = json_object_get(v, "default")) != NULL) {
        node_t *d = constant(c, dflt, at_key(c->x.p, where, "default"),
                             depth + 1);

        if (!d) {
            return NULL;
        }
        n->text = d->text;
        n->len = d->len;
    }
    return n;
}

/* Folds a container whose members are all constants into one constant. */
static node_t *fold(cc_t *c, node_t *n, int obj)
{
    obuf_t b;
    int i;

    for (i = 0; i < n->nkids; i++) {
        if (n->kids[i]->kind != N_CONST) {
            return n;
        }
    }
    ob_init(&b, c->x.p, APR_SIZE_MAX);
    put(&b, obj ? "{" : "[", 1);
    for (i = 0; i < n->nkids; i++) {
        if (i) {
            put(&b, ",", 1);
        }
        if (obj) {
            put(&b, n->keys[i], n->keylens[i]);
        }
        put(&b, n->kids[i]->text, n->kids[i]->len);
    }
    put(&b, obj ? "}" : "]", 1);
    return node_const(c, b.d, b.n);
}

static node_t *tpl_container(cc_t *c, const json_t *v, const char *where,
                             int depth)
{
    node_t *n = apr_pcalloc(c->x.p, sizeof(*n));
    int obj = json_is_object(v);
    size_t cnt = obj ? json_object_size(v) : json_array_size(v), i = 0;
    const char *k;
    json_t *x;

    n->kind = obj ? N_OBJ : N_ARR;
    n->kids = apr_pcalloc(c->x.p, (cnt ? cnt : 1) * sizeof(*n->kids));
    if (!obj) {
        json_array_foreach(v, i, x) {
            n->kids[i] = tpl(c, x, at_index(c->x.p, where, i), depth + 1);
            if (!n->kids[i]) {
                return NULL;
            }
        }
        n->nkids = (int)cnt;
        return fold(c, n, 0);
    }
    n->keys = apr_pcalloc(c->x.p, (cnt ? cnt : 1) * sizeof(*n->keys));
    n->keylens = apr_pcalloc(c->x.p, (cnt ? cnt : 1) * sizeof(*n->keylens));
    json_object_foreach((json_t *)v, k, x) {
        obuf_t b;

        ob_init(&b, c->x.p, APR_SIZE_MAX);
        put_jstr(&b, k, strlen(k));
        put(&b, ":", 1);
        n->keys[i] = b.d;
        n->keylens[i] = b.n;
        n->kids[i] = tpl(c, x, at_key(c->x.p, where, k), depth + 1);
        if (!n->kids[i++]) {
            return NULL;
        }
    }
    n->nkids = (int)cnt;
    return fold(c, n, 1);
}

static int has_dollar_key(const json_t *v)
{
    const char *k;
    json_t *x;

    json_object_foreach((json_t *)v, k, x) {
        if (k[0] == '$') {
            return 1;
        }
    }
    return 0;
}

/* Compiles template v found at where, depth levels deep in the document. */
static node_t *tpl(cc_t *c, const json_t *v, const char *where, int depth)
{
    if (depth > POOL_MAPPING_DEPTH_MAX) {
        fail(&c->x, where, -1, "nested deeper than %d levels",
             POOL_MAPPING_DEPTH_MAX);
        return NULL;
    }
    if (json_is_object(v) && has_dollar_key(v)) {
        return tpl_expr(c, v, where, depth);
    }
    if (json_is_object(v) || json_is_array(v)) {
        return tpl_container(c, v, where, depth);
    }
    if (json_is_string(v)) {
        return tpl_string(c, v, where);
    }
    return constant(c, v, where, depth);
}

static int compile_path(cc_t *c, pool_mapping_t *m, const json_t *v)
{
    const char *s = json_string_value(v);

    if (!s || s[0] != '/') {
        fail(&c->x, "/path", -1, "must be a string that starts with '/', "
             "got %s", show(c->x.p, v));
        return -1;
    }
    if (json_string_length(v) > POOL_MAPPING_PATH_MAX) {
        fail(&c->x, "/path", -1, "longer than %d bytes", POOL_MAPPING_PATH_MAX);
        return -1;
    }
    m->npath = parse_tpl(c, "/path", s, json_string_length(v), 1, &m->path);
    return m->npath < 0 ? -1 : 0;
}

static int compile_members(cc_t *c, pool_mapping_t *m, const json_t *doc)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)doc, k, v) {
        if (!strcmp(k, "method")) {
            const char *s = json_string_value(v);

            if (!s || (strcmp(s, "POST") && strcmp(s, "PUT"))) {
                fail(&c->x, "/method", -1, "must be \"POST\" or \"PUT\", "
                     "got %s", show(c->x.p, v));
                return -1;
            }
            m->method = s[1] == 'O' ? "POST" : "PUT";
        }
        else if (!strcmp(k, "path")) {
            if (compile_path(c, m, v) < 0) {
                return -1;
            }
        }
        else if (!strcmp(k, "body")) {
            if (!(m->body = tpl(c, v, "/body", 2))) {
                return -1;
            }
        }
        else {
            fail(&c->x, at_key(c->x.p, "", k), -1, "unknown member (a "
                 "mapping has method, path and body)");
            return -1;
        }
    }
    return 0;
}

const char *pool_mapping_compile_json(apr_pool_t *p, const json_t *doc,
                                      pool_mapping_t **m,
                                      pool_mapping_error_t *e)
{
    cc_t c;
    pool_mapping_t *out = apr_pcalloc(p, sizeof(*out));

    memset(&c, 0, sizeof(c));
    c.x.p = p;
    c.x.e = e;
    c.ptrs = apr_array_make(p, 8, sizeof(jptr_t));
    c.index = apr_hash_make(p);
    out->method = "POST";
    *m = NULL;
    if (doc && !json_is_null(doc)) {
        if (!json_is_object(doc)) {
            fail(&c.x, "", -1, "a mapping is a JSON object with method, path "
                 "and body (or null), got %s", show(p, doc));
            return c.x.msg;
        }
        if (compile_members(&c, out, doc) < 0) {
            return c.x.msg;
        }
    }
    out->ptrs = (jptr_t *)c.ptrs->elts;
    out->nptrs = c.ptrs->nelts;
    *m = out;
    return NULL;
}

/* Parses a mapping's or rule's text (at most max bytes); NULL with the
 * error in x. */
static json_t *load(err_t *x, const char *text, apr_size_t len,
                    apr_size_t max, const char *what)
{
    json_error_t je;
    json_t *doc;

    if (len > max) {
        fail(x, NULL, -1, "the %s is longer than %" APR_SIZE_T_FMT " bytes",
             what, max);
        return NULL;
    }
    doc = json_loadb(text ? text : "", len,
                     JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        fail_syntax(x, &je);
    }
    return doc;
}

const char *pool_mapping_compile(apr_pool_t *p, const char *text,
                                 apr_size_t len, pool_mapping_t **m,
                                 pool_mapping_error_t *e)
{
    err_t x = { p, e, NULL };
    json_t *doc = load(&x, text, len, POOL_MAPPING_TEXT_MAX, "mapping");
    const char *why;

    *m = NULL;
    if (!doc) {
        return x.msg;
    }
    why = pool_mapping_compile_json(p, doc, m, e);
    json_decref(doc);
    return why;
}

const char *pool_mapping_method(const pool_mapping_t *m)
{
    return m ? m->method : "POST";
}

int pool_mapping_has_body(const pool_mapping_t *m)
{
    return m && m->body;
}

int pool_mapping_has_path(const pool_mapping_t *m)
{
    return m && m->path;
}

/* ================================================================ render */

static const pool_mapping_t no_mapping = { "POST", NULL, NULL, 0, NULL, 0 };

typedef struct {
    const pool_mapping_t *m;
    const json_t *event;
    const json_t **val;         /* per pointer, once looked up */
    char *state;                /* 0 not looked up, 1 found, 2 missing */
    char *reported;
    apr_array_header_t *missing;
    obuf_t raw;                 /* a string template's text */
} rc_t;

static void rc_init(rc_t *r, apr_pool_t *p, apr_pool_t *ptemp,
                    const pool_mapping_t *m, const json_t *event)
{
    int n = m->nptrs ? m->nptrs : 1;

    r->m = m;
    r->event = event;
    r->val = apr_pcalloc(ptemp, n * sizeof(*r->val));
    r->state = apr_pcalloc(ptemp, n);
    r->reported = apr_pcalloc(ptemp, n);
    r->missing = apr_array_make(p, 2, sizeof(const char *));
    ob_init(&r->raw, ptemp, POOL_MAPPING_BODY_MAX);
}

/* The value at pointer i, NULL when missing (then reported once unless the
 * expression has a default). */
static const json_t *lookup(rc_t *r, int i, int has_default)
{
    if (!r->state[i]) {
        r->val[i] = ptr_get(&r->m->ptrs[i], r->event);
        r->state[i] = r->val[i] ? 1 : 2;
    }
    if (r->state[i] == 2 && !has_default && !r->reported[i]) {
        r->reported[i] = 1;
        *(const char **)apr_array_push(r->missing) = r->m->ptrs[i].text;
    }
    return r->val[i];
}

/* A string template's text into r->raw. */
static int render_text(rc_t *r, const part_t *parts, int n)
{
    int i;

    r->raw.n = 0;
    for (i = 0; i < n; i++) {
        if (parts[i].lit) {
            put(&r->raw, parts[i].lit, parts[i].len);
        }
        else {
            put_text(&r->raw, lookup(r, parts[i].ptr, 0));
        }
    }
    return r->raw.over || r->raw.bad ? -1 : 0;
}

static int render_node(rc_t *r, const node_t *n, obuf_t *out)
{
    const json_t *v;
    int i;

    switch (n->kind) {
    case N_CONST:
        return put(out, n->text, n->len);
    case N_PTR:
        if ((v = lookup(r, n->ptr, n->text != NULL)) != NULL) {
            return put_json(out, v);
        }
        return n->text ? put(out, n->text, n->len) : put(out, "null", 4);
    case N_STR:
        if (render_text(r, n->parts, n->nparts) < 0) {
            out->over |= r->raw.over;
            out->bad |= r->raw.bad;
            return -1;
        }
        return put_jstr(out, r->raw.d ? r->raw.d : "", r->raw.n);
    default:
        put(out, n->kind == N_OBJ ? "{" : "[", 1);
        for (i = 0; i < n->nkids; i++) {
            if (i) {
                put(out, ",", 1);
            }
            if (n->kind == N_OBJ) {
                put(out, n->keys[i], n->keylens[i]);
            }
            if (render_node(r, n->kids[i], out) < 0) {
                return -1;
            }
        }
        return put(out, n->kind == N_OBJ ? "}" : "]", 1);
    }
}

const char *pool_mapping_render(apr_pool_t *p, const pool_mapping_t *m,
                                const json_t *event, const char **body,
                                apr_size_t *len,
                                apr_array_header_t **missing)
{
    apr_pool_t *ptemp;
    obuf_t out;
    rc_t r;
    const char *why = NULL;

    if (!event) {
        return "no event";
    }
    if (!m) {
        m = &no_mapping;
    }
    apr_pool_create(&ptemp, p);
    rc_init(&r, p, ptemp, m, event);
    ob_init(&out, ptemp, POOL_MAPPING_BODY_MAX);
    if (m->body) {
        render_node(&r, m->body, &out);
    }
    else {
        put_json(&out, event);
    }
    if (out.over) {
        why = apr_psprintf(p, "the rendered body is longer than %d bytes",
                           POOL_MAPPING_BODY_MAX);
    }
    else if (out.bad) {
        why = "a value of the event cannot be written as JSON";
    }
    else {
        *body = apr_pstrmemdup(p, out.d ? out.d : "", out.n);
        if (len) {
            *len = out.n;
        }
        if (missing) {
            *missing = r.missing;
        }
    }
    apr_pool_destroy(ptemp);
    return why;
}

const char *pool_mapping_render_text(apr_pool_t *p, const pool_mapping_t *m,
                                     const char *event, apr_size_t elen,
                                     const char **body, apr_size_t *len,
                                     apr_array_header_t **missing)
{
    json_error_t je;
    json_t *ev;
    const char *why;

    if (!event || elen > POOL_MAPPING_BODY_MAX) {
        return apr_psprintf(p, "the event is longer than %d bytes",
                            POOL_MAPPING_BODY_MAX);
    }
    if (!(ev = json_loadb(event, elen, JSON_DECODE_ANY, &je))) {
        return apr_psprintf(p, "the event is not JSON: line %d, column %d: "
                            "%s", je.line, je.column, je.text);
    }
    why = pool_mapping_render(p, m, ev, body, len, missing);
    json_decref(ev);
    return why;
}

/* 1 when the path (up to its query) has a "." or ".." segment, also
 * written with %2E. */
static int has_dot_segment(const char *s, apr_size_t n)
{
    apr_size_t i = 1;
    int dots = 0, other = 0;

    for (; i <= n; i++) {
        if (i == n || s[i] == '/' || s[i] == '?') {
            if (dot_segment(dots, other)) {
                return 1;
            }
            if (i == n || s[i] == '?') {
                return 0;
            }
            dots = other = 0;
        }
        else if (s[i] == '.') {
            dots++;
        }
        else if (s[i] == '%' && i + 2 < n && s[i + 1] == '2'
                 && (s[i + 2] == 'e' || s[i + 2] == 'E')) {
            dots++;
            i += 2;
        }
        else {
            other = 1;
        }
    }
    return 0;
}

const char *pool_mapping_render_path(apr_pool_t *p, const pool_mapping_t *m,
                                     const json_t *event, const char **path,
                                     apr_array_header_t **missing)
{
    apr_pool_t *ptemp;
    obuf_t out;
    rc_t r;
    const char *why = NULL;
    int i;

    if (!event) {
        return "no event";
    }
    if (!m) {
        m = &no_mapping;
    }
    if (!m->path) {
        *path = NULL;
        if (missing) {
            *missing = apr_array_make(p, 1, sizeof(const char *));
        }
        return NULL;
    }
    apr_pool_create(&ptemp, p);
    rc_init(&r, p, ptemp, m, event);
    ob_init(&out, ptemp, POOL_MAPPING_PATH_MAX);
    for (i = 0; i < m->npath && !out.over && !r.raw.over; i++) {
        if (m->path[i].lit) {
            put(&out, m->path[i].lit, m->path[i].len);
        }
        else if (render_text(&r, m->path + i, 1) == 0) {
            put_pct(&out, r.raw.d, r.raw.n);
        }
    }
    if (out.over || r.raw.over) {
        why = apr_psprintf(p, "the rendered path is longer than %d bytes",
                           POOL_MAPPING_PATH_MAX);
    }
    else if (r.raw.bad) {
        why = "a value of the event cannot be written as JSON";
    }
    else if (has_dot_segment(out.d, out.n)) {
        why = "a value made a '.' or '..' segment of the rendered path";
    }
    else {
        *path = apr_pstrmemdup(p, out.d, out.n);
        if (missing) {
            *missing = r.missing;
        }
    }
    apr_pool_destroy(ptemp);
    return why;
}

/* ================================================================ rules */

enum { B_NONE, B_EQUALS, B_REGEX, B_POINTER };

typedef struct {
    int lo, hi;
} range_t;

struct pool_rule_t {
    range_t status[POOL_RULE_STATUS_MAX];
    int nstatus;
    const char *status_text;    /* "200, 201-204, 2xx" */
    int body;
    const char *text;           /* B_EQUALS: the text; B_REGEX: the regex */
    apr_size_t len;
    const char *quoted;         /* B_EQUALS: the text as JSON, cut */
    pool_regex_t *re;
    jptr_t ptr;                 /* B_POINTER */
    json_t *expected;
    const char *expected_text;
    long timeout_ms;
};

static const pool_rule_t default_rule = {
    { { 200, 299 } }, 1, "2xx", B_NONE, NULL, 0, NULL, NULL,
    { NULL, 0, NULL }, NULL, NULL, POOL_RULE_TIMEOUT_DEF
};

static apr_status_t json_cleanup(void *d)
{
    json_decref(d);
    return APR_SUCCESS;
}

/* Digits s[0..n) as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* One entry of "status": 200, "200", "201-204" or "2xx". */
static int status_entry(err_t *x, const json_t *v, const char *where,
                        range_t *out, const char **text)
{
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;

    out->lo = out->hi = -1;
    if (json_is_integer(v) && json_integer_value(v) >= 100
        && json_integer_value(v) <= 599) {
        out->lo = out->hi = (int)json_integer_value(v);
    }
    else if (n == 3 && (s[1] == 'x' || s[1] == 'X') && s[1] == s[2]
             && s[0] >= '1' && s[0] <= '5') {
        out->lo = (s[0] - '0') * 100;
        out->hi = out->lo + 99;
        *text = apr_psprintf(x->p, "%cxx", s[0]);
        return 0;
    }
    else if (n == 3) {
        out->lo = out->hi = digits(s, 3);
    }
    else if (n == 7 && s[3] == '-') {
        out->lo = digits(s, 3);
        out->hi = digits(s + 4, 3);
    }
    if (out->lo < 100 || out->hi > 599 || out->lo > out->hi) {
        fail(x, where, -1, "%s is not a status (100..599), a range like "
             "'200-204' or a class like '2xx'", show(x->p, v));
        return -1;
    }
    *text = out->lo == out->hi ? apr_itoa(x->p, out->lo)
        : apr_psprintf(x->p, "%d-%d", out->lo, out->hi);
    return 0;
}

static int rule_status(err_t *x, pool_rule_t *r, const json_t *v)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1, i;
    const char *text;

    if (n == 0 || n > POOL_RULE_STATUS_MAX) {
        fail(x, "/status", -1, "must list 1 to %d statuses, ranges or classes",
             POOL_RULE_STATUS_MAX);
        return -1;
    }
    r->status_text = "";
    for (i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        const char *where = json_is_array(v) ? at_index(x->p, "/status", i)
            : "/status";

        if (status_entry(x, e, where, &r->status[i], &text) < 0) {
            return -1;
        }
        r->status_text = i ? apr_pstrcat(x->p, r->status_text, ", ", text,
                                         NULL) : text;
    }
    r->nstatus = (int)n;
    return 0;
}

static int rule_regex(err_t *x, pool_rule_t *r, const json_t *v)
{
    const char *s = json_string_value(v), *why;
    int offset;

    if (!s || strlen(s) != json_string_length(v)) {
        fail(x, "/body/regex", -1, "must be a string (a POSIX extended "
             "regular expression), got %s", show(x->p, v));
        return -1;
    }
    why = pool_regex_compile(x->p, s, json_string_length(v), &r->re, &offset);
    if (why) {
        fail(x, "/body/regex", offset, "%s", why);
        return -1;
    }
    r->body = B_REGEX;
    r->text = apr_pstrdup(x->p, s);
    return 0;
}

static int rule_pointer(err_t *x, pool_rule_t *r, const json_t *ptr,
                        const json_t *eq)
{
    const char *s = json_string_value(ptr);
    long off;

    if (!s || (off = ptr_parse(x->p, s, json_string_length(ptr), &r->ptr)) >= 0) {
        fail(x, "/body/pointer", s ? chars(s, (size_t)off) : -1, "must be a "
             "string that is a JSON pointer (RFC 6901), got %s%s%s%s",
             show(x->p, ptr), s ? " (" : "", s ? ptr_why(x->p, s, off) : "",
             s ? ")" : "");
        return -1;
    }
    if (!eq) {
        fail(x, "/body", -1, "\"pointer\" needs \"equals\": the value "
             "expected there");
        return -1;
    }
    if (too_deep(eq, POOL_MAPPING_DEPTH_MAX - 2)) {
        fail(x, "/body/equals", -1, "nested deeper than %d levels",
             POOL_MAPPING_DEPTH_MAX);
        return -1;
    }
    r->expected = json_deep_copy(eq);
    if (!r->expected) {
        fail(x, "/body/equals", -1, "out of memory");
        return -1;
    }
    apr_pool_cleanup_register(x->p, r->expected, json_cleanup,
                              apr_pool_cleanup_null);
    r->expected_text = show(x->p, eq);
    r->body = B_POINTER;
    return 0;
}

static int rule_body(err_t *x, pool_rule_t *r, const json_t *b)
{
    const json_t *eq = json_object_get(b, "equals");
    const json_t *re = json_object_get(b, "regex");
    const json_t *ptr = json_object_get(b, "pointer"), *v;
    const char *k;

    if (!json_is_object(b)) {
        fail(x, "/body", -1, "must be an object: {\"equals\": TEXT}, "
             "{\"regex\": RE} or {\"pointer\": P, \"equals\": VALUE}");
        return -1;
    }
    json_object_foreach((json_t *)b, k, v) {
        if (strcmp(k, "equals") && strcmp(k, "regex") && strcmp(k, "pointer")) {
            fail(x, at_key(x->p, "/body", k), -1, "unknown member (a body "
                 "condition has equals, regex or pointer)");
            return -1;
        }
    }
    if ((re && (eq || ptr)) || (!re && !eq && !ptr)) {
        fail(x, "/body", -1, "use one of {\"equals\": TEXT}, {\"regex\": RE} "
             "or {\"pointer\": P, \"equals\": VALUE}");
        return -1;
    }
    if (ptr) {
        return rule_pointer(x, r, ptr, eq);
    }
    if (re) {
        return rule_regex(x, r, re);
    }
    if (!json_is_string(eq)) {
        fail(x, "/body/equals", -1, "must be a string (the exact text of the "
             "body; a JSON value is compared with \"pointer\"), got %s",
             show(x->p, eq));
        return -1;
    }
    r->body = B_EQUALS;
    r->len = json_string_length(eq);
    r->text = apr_pstrmemdup(x->p, json_string_value(eq), r->len);
    r->quoted = cut(x->p, dump(x->p, eq));
    return 0;
}

static int rule_members(err_t *x, pool_rule_t *r, const json_t *doc)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)doc, k, v) {
        if (!strcmp(k, "status")) {
            if (rule_status(x, r, v) < 0) {
                return -1;
            }
        }
        else if (!strcmp(k, "body")) {
            if (rule_body(x, r, v) < 0) {
                return -1;
            }
        }
        else if (!strcmp(k, "timeout_ms")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1
                || json_integer_value(v) > POOL_RULE_TIMEOUT_MAX) {
                fail(x, "/timeout_ms", -1, "must be an integer from 1 to %d "
                     "(milliseconds), got %s", POOL_RULE_TIMEOUT_MAX,
                     show(x->p, v));
                return -1;
            }
            r->timeout_ms = (long)json_integer_value(v);
        }
        else {
            fail(x, at_key(x->p, "", k), -1, "unknown member (a success rule "
                 "has status, body and timeout_ms)");
            return -1;
        }
    }
    return 0;
}

const char *pool_rule_compile_json(apr_pool_t *p, const json_t *doc,
                                   pool_rule_t **r, pool_mapping_error_t *e)
{
    err_t x = { p, e, NULL };
    pool_rule_t *out = apr_palloc(p, sizeof(*out));

    *out = default_rule;
    *r = NULL;
    if (doc && !json_is_null(doc)) {
        if (!json_is_object(doc)) {
            fail(&x, "", -1, "a success rule is a JSON object with status, "
                 "body and timeout_ms (or null), got %s", show(p, doc));
            return x.msg;
        }
        if (rule_members(&x, out, doc) < 0) {
            return x.msg;
        }
    }
    *r = out;
    return NULL;
}

const char *pool_rule_compile(apr_pool_t *p, const char *text, apr_size_t len,
                              pool_rule_t **r, pool_mapping_error_t *e)
{
    err_t x = { p, e, NULL };
    json_t *doc = load(&x, text, len, POOL_RULE_TEXT_MAX, "success rule");
    const char *why;

    *r = NULL;
    if (!doc) {
        return x.msg;
    }
    why = pool_rule_compile_json(p, doc, r, e);
    json_decref(doc);
    return why;
}

long pool_rule_timeout_ms(const pool_rule_t *r)
{
    return (r ? r : &default_rule)->timeout_ms;
}

/* Numbers equal by value (200 and 200.0), anything else as json_equal. */
static int same_value(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        return json_integer_value(a) == json_integer_value(b);
    }
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* The body condition of r on body (len bytes); NULL when it holds. */
static const char *check_body(apr_pool_t *p, const pool_rule_t *r, int status,
                              const char *body, apr_size_t len)
{
    const char *what;
    const json_t *v;
    json_t *j;

    switch (r->body) {
    case B_EQUALS:
        if (len == r->len && !memcmp(body, r->text, len)) {
            return NULL;
        }
        return apr_psprintf(p, "status %d but the body is not %s", status,
                            r->quoted);
    case B_REGEX:
        if (pool_regex_search(r->re, body, len)) {
            return NULL;
        }
        return apr_psprintf(p, "status %d but the body does not match %s",
                            status, r->text);
    case B_POINTER:
        if (!(j = json_loadb(body, len, JSON_DECODE_ANY, NULL))) {
            return apr_psprintf(p, "status %d but the body is not JSON",
                                status);
        }
        v = ptr_get(&r->ptr, j);
        what = r->ptr.n ? apr_pstrcat(p, "body ", r->ptr.text, NULL)
            : "the body";
        what = !v ? apr_psprintf(p, "status %d but %s is missing (expected "
                                 "%s)", status, what, r->expected_text)
            : same_value(v, r->expected) ? NULL
            : apr_psprintf(p, "status %d but %s was %s (expected %s)", status,
                           what, show(p, v), r->expected_text);
        json_decref(j);
        return what;
    default:
        return NULL;
    }
}

int pool_rule_check(apr_pool_t *p, const pool_rule_t *r, int status,
                    const char *body, apr_size_t len, long elapsed_ms,
                    const char **reason)
{
    int i;

    if (!r) {
        r = &default_rule;
    }
    *reason = NULL;
    if (elapsed_ms > r->timeout_ms) {
        *reason = apr_psprintf(p, "no answer within %ld ms", r->timeout_ms);
        return 0;
    }
    if (status <= 0) {
        *reason = "no answer";
        return 0;
    }
    for (i = 0; i < r->nstatus; i++) {
        if (status >= r->status[i].lo && status <= r->status[i].hi) {
            break;
        }
    }
    if (i == r->nstatus) {
        *reason = apr_psprintf(p, "status %d is not in %s", status,
                               r->status_text);
        return 0;
    }
    if (!body) {
        len = 0;
        body = "";
    }
    *reason = check_body(p, r, status, body,
                         len > POOL_RULE_BODY_MAX ? POOL_RULE_BODY_MAX : len);
    return *reason == NULL;
}
