/* Webhook endpoints' field mappings and success rules (lib/pool_mapping.c):
 * pool_mapping_compile, pool_mapping_render, pool_mapping_render_path over
 * a fixed event; pool_rule_compile, pool_rule_check on an answer.
 *
 * Input: a byte (bit 0: a mapping or a rule; bit 1: a regex instead), a
 * byte for the status and one for the time taken, then the mapping's or
 * rule's JSON text (or the regex) up to a NUL byte, and the rest as the
 * answer's body (or the regex's subject).
 * Invariants: a refused text has a message, and either a line (syntax),
 * or a JSON pointer that resolves in the document (with a character offset
 * within the string there); a mapping renders to JSON text (or is refused
 * as too long, never cut), the same twice, with missing pointers that are
 * pointers; without a body, to the event itself; a rendered path starts
 * with '/', has only URL characters and no "."/".." segment, within 2048
 * bytes.  A check is 1 without a reason or 0 with a UTF-8 reason, the same
 * twice; beyond the time limit it fails as "no answer within".  A regex
 * (lib/pool_regex.c) that glibc's regcomp also accepts matches a subject
 * of up to 64 bytes exactly when glibc's regexec does (short: glibc is
 * exponential on some patterns), leaving out what the two read
 * differently on purpose: '\' before anything but a special character
 * (GNU's \w, \`, \< ...), "{,", and a repetition right after '^' or '$'. */
#include <regex.h>

#include <apr_lib.h>

#include "fuzz_common.h"
#include "pool_mapping.h"
#include "pool_regex.h"

#define EVENT \
    "{\"type\":\"file.received\",\"timestamp\":\"2026-11-21T10:15:00Z\"," \
    "\"data\":{\"pool\":\"acme\",\"file\":{\"id\":\"f-123\"," \
    "\"name\":\"report 1/2.pdf\",\"size\":2048,\"ratio\":0.5,\"ok\":true," \
    "\"none\":null,\"tags\":[\"x\",\"y\",{\"z\":[1,2]}]," \
    "\"labels\":{\"a/b\":\"slash\",\"m~n\":\"tilde\",\"\":\"empty\"," \
    "\"{{\":\"}}\"},\"note\":\"say \\\"hi\\\"\\n\\u00e9\",\"dots\":\"..\"}}}"

static json_t *event;
static char *event_text;

/* The value at RFC 6901 pointer ptr in v, NULL when it is not there (the
 * harness's own reading, to check where errors point). */
static const json_t *at(const json_t *v, const char *ptr)
{
    static char tok[8192];

    if (*ptr && *ptr != '/') {
        return NULL;
    }
    while (v && *ptr) {
        size_t k = 0;

        for (ptr++; *ptr && *ptr != '/' && k < sizeof(tok) - 1; ptr++) {
            if (*ptr == '~') {
                ptr++;
                CHECK(*ptr == '0' || *ptr == '1');
                tok[k++] = *ptr == '0' ? '~' : '/';
            }
            else {
                tok[k++] = *ptr;
            }
        }
        tok[k] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        }
        else if (json_is_array(v)) {
            v = json_array_get(v, (size_t)strtoul(tok, NULL, 10));
        }
        else {
            v = NULL;
        }
    }
    return v;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

/* A refusal: the message and where it points. */
static void refused(const char *why, const pool_mapping_error_t *e,
                    const char *text, size_t len)
{
    json_t *doc;
    const json_t *v;

    CHECK(why && *why && e->msg == why);
    if (!e->pointer) {
        CHECK(e->line > 0 || strstr(why, "longer than"));
        return;
    }
    CHECK(e->line == 0);
    doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    CHECK(doc != NULL);
    v = at(doc, e->pointer);
    CHECK(v != NULL);
    if (e->offset >= 0) {
        if (json_is_object(v)) {            /* a $ptr: its pointer */
            v = json_object_get(v, "$ptr");
        }
        CHECK(json_is_string(v));
        CHECK((size_t)e->offset <= utf8_chars(json_string_value(v)));
    }
    json_decref(doc);
}

/* A segment of a path that is "." or "..", also written %2E. */
static int dot_segment(const char *s, size_t n)
{
    size_t dots = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] == '.') {
            dots++;
        }
        else if (i + 2 < n && s[i] == '%' && s[i + 1] == '2'
                 && (s[i + 2] == 'e' || s[i + 2] == 'E')) {
            dots++;
            i += 2;
        }
        else {
            return 0;
        }
    }
    return dots == 1 || dots == 2;
}

static void check_path(const char *path)
{
    size_t n = strlen(path), i, seg = 1;

    CHECK(path[0] == '/' && n <= POOL_MAPPING_PATH_MAX);
    for (i = 0; i < n; i++) {
        CHECK(apr_isalnum(path[i]) || strchr("-._~!$&'()*+,;=:@/?%", path[i]));
        if (path[i] == '%') {
            CHECK(i + 2 < n && apr_isxdigit(path[i + 1])
                  && apr_isxdigit(path[i + 2]));
        }
    }
    for (i = 1; i <= n; i++) {
        if (i == n || path[i] == '/' || path[i] == '?') {
            CHECK(!dot_segment(path + seg, i - seg));
            if (i == n || path[i] == '?') {
                break;
            }
            seg = i + 1;
        }
    }
}

static void missing_ok(apr_array_header_t *miss)
{
    int i;

    for (i = 0; i < miss->nelts; i++) {
        const char *m = APR_ARRAY_IDX(miss, i, const char *);

        CHECK(*m == '\0' || *m == '/');
    }
}

static void mapping(apr_pool_t *p, const char *text, size_t len)
{
    pool_mapping_t *m;
    pool_mapping_error_t e;
    apr_array_header_t *miss, *miss2;
    const char *why, *body, *body2, *path = NULL, *path2;
    apr_size_t blen;
    json_t *j;

    why = pool_mapping_compile(p, text, len, &m, &e);
    if (why) {
        CHECK(m == NULL);
        refused(why, &e, text, len);
        return;
    }
    why = pool_mapping_render(p, m, event, &body, &blen, &miss);
    if (why) {
        CHECK(strstr(why, "longer than"));
    }
    else {
        CHECK(blen == strlen(body) && blen <= POOL_MAPPING_BODY_MAX);
        j = json_loads(body, JSON_DECODE_ANY, NULL);
        CHECK(j != NULL);
        json_decref(j);
        missing_ok(miss);
        CHECK(!pool_mapping_render(p, m, event, &body2, NULL, &miss2));
        CHECK(!strcmp(body, body2) && miss->nelts == miss2->nelts);
        if (!pool_mapping_has_body(m)) {
            CHECK(!strcmp(body, event_text));
        }
    }
    why = pool_mapping_render_path(p, m, event, &path, &miss);
    if (!why && path) {
        check_path(path);
        missing_ok(miss);
        CHECK(!pool_mapping_render_path(p, m, event, &path2, NULL));
        CHECK(!strcmp(path, path2));
    }
    CHECK(why || !path == !pool_mapping_has_path(m));
    CHECK(!strcmp(pool_mapping_method(m), "POST")
          || !strcmp(pool_mapping_method(m), "PUT"));
}

static void judge(apr_pool_t *p, const pool_rule_t *r, int status,
                  const char *body, size_t blen, long elapsed)
{
    const char *reason, *reason2;
    int ok = pool_rule_check(p, r, status, body, blen, elapsed, &reason);
    json_t *s;

    CHECK(ok == 0 || ok == 1);
    CHECK(ok == (reason == NULL));
    if (!ok) {
        s = json_string(reason);        /* valid UTF-8 */
        CHECK(s != NULL && strlen(reason) < 2048);
        json_decref(s);
    }
    CHECK(pool_rule_check(p, r, status, body, blen, elapsed, &reason2) == ok);
    CHECK(ok || !strcmp(reason, reason2));
    if (elapsed > pool_rule_timeout_ms(r)) {
        CHECK(!ok && !strncmp(reason, "no answer within ", 17));
    }
}

static void rule(apr_pool_t *p, const char *text, size_t len, int status,
                 long elapsed, const char *body, size_t blen)
{
    pool_rule_t *r;
    pool_mapping_error_t e;
    const char *why = pool_rule_compile(p, text, len, &r, &e);

    if (why) {
        CHECK(r == NULL);
        refused(why, &e, text, len);
        judge(p, NULL, status, body, blen, elapsed);
        return;
    }
    CHECK(pool_rule_timeout_ms(r) >= 1
          && pool_rule_timeout_ms(r) <= POOL_RULE_TIMEOUT_MAX);
    judge(p, r, status, body, blen, elapsed);
}

/* The patterns both matchers read alike (see the top), and small enough
 * for glibc's regcomp, which copies the tree for every '+' and {m,n}: it
 * runs out of memory on "(a)++++++++++++++++++++++++++++++". */
static int comparable(const char *pat, size_t n)
{
    size_t i;
    unsigned long copies = 1;

    if (n > 64 || strlen(pat) != n || strstr(pat, "{,")) {
        return 0;
    }
    for (i = 0; i < n && copies <= 1000; i++) {
        if (pat[i] == '+') {
            copies *= 2;
        }
        else if (pat[i] == '{' || pat[i] == ',') {
            copies *= strtoul(pat + i + 1, NULL, 10) + 1;
        }
    }
    if (copies > 1000) {
        return 0;
    }
    for (i = 0; i + 1 < n; i++) {
        if ((pat[i] == '\\' && !strchr(".[]()*+?{}|^$\\", pat[i + 1]))
            || ((pat[i] == '^' || pat[i] == '$') && strchr("*+?{", pat[i + 1]))) {
            return 0;
        }
    }
    return 1;
}

static void regex(apr_pool_t *p, const char *pat, size_t n, const char *text,
                  size_t tlen)
{
    pool_regex_t *re;
    regex_t gre;
    int off, ours;
    const char *why = pool_regex_compile(p, pat, n, &re, &off);

    if (why) {
        CHECK(re == NULL && (off == -1 || (off >= 0 && (size_t)off <= n)));
        return;
    }
    ours = pool_regex_search(re, text, tlen);
    CHECK(ours == 0 || ours == 1);
    tlen = strnlen(text, tlen);
    if (tlen > 64 || !comparable(pat, n)
        || regcomp(&gre, pat, REG_EXTENDED | REG_NOSUB) != 0) {
        return;
    }
    ours = pool_regex_search(re, text, tlen);
    CHECK(ours == (regexec(&gre, apr_pstrndup(p, text, tlen), 0, NULL, 0)
                   == 0));
    regfree(&gre);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    unsigned mode, sb, eb;
    const uint8_t *nul;
    size_t tlen;
    const char *text, *body;

    if (size > 8192) {
        return 0;
    }
    if (!event) {
        event = json_loads(EVENT, 0, NULL);
        event_text = json_dumps(event, JSON_COMPACT);
        CHECK(event && event_text);
    }
    p = fz_pool();
    mode = fz_byte(&in);
    sb = fz_byte(&in);
    eb = fz_byte(&in);
    nul = memchr(in.d, '\0', in.n);
    tlen = nul ? (size_t)(nul - in.d) : in.n;
    text = apr_pstrmemdup(p, (const char *)in.d, tlen);
    body = nul ? (const char *)nul + 1 : "";
    if (mode & 2) {
        regex(p, text, tlen, body, nul ? in.n - tlen - 1 : 0);
    }
    else if (mode & 1) {
        rule(p, text, tlen, (int)(sb * 3 % 620), (long)eb * 700, body,
             nul ? in.n - tlen - 1 : 0);
    }
    else {
        mapping(p, text, tlen);
    }
    fz_pool_done(p);
    return 0;
}
