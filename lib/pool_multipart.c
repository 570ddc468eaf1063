/* Streaming multipart/form-data parser; see pool_multipart.h for the
 * grammar.  The delimiter is searched with a tiny matcher: it starts with
 * CR and no other byte of it is a CR (RFC 2046 bchars exclude it), so
 * after a mismatch the only possible restart is at a CR.  Matched bytes
 * are not kept: they are a prefix of the delimiter, and are re-emitted from
 * it when they turn out to be data. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pool_multipart.h"
#include "pool_util.h"

#define PAD_MAX 256             /* transport padding after a boundary */

enum {
    S_BODY,                     /* preamble or part data: delimiter search */
    S_AFTER,                    /* delimiter matched: what follows? */
    S_DASH,                     /* ... "-" */
    S_PAD,                      /* ... SP / HTAB */
    S_CR,                       /* ... CR (after padding or not) */
    S_HEADERS,
    S_EPILOGUE,
    S_ERROR
};

struct pool_mp_parser_t {
    apr_pool_t *p;
    apr_pool_t *ppart;          /* cleared at every part */
    const pool_mp_callbacks_t *cb;
    void *baton;
    char *delim;                /* CRLF "--" boundary */
    apr_size_t dlen;
    apr_size_t j;               /* delimiter bytes matched so far */
    int state;
    int in_part;
    int part;                   /* index of the current part, -1 before */
    int pad;
    char *hbuf;                 /* the current part's header lines */
    apr_size_t hlen;
    apr_size_t hmax;
    apr_size_t line_start;
    int hcr;
    int nlines;
    int max_headers;
    int max_parts;
    pool_mp_rc rc;
    const char *err;
};

static pool_mp_rc fail(pool_mp_parser_t *mp, pool_mp_rc rc, const char *msg)
{
    mp->rc = rc;
    mp->err = msg;
    mp->state = S_ERROR;
    return rc;
}

pool_mp_parser_t *pool_mp_create(apr_pool_t *p, const char *boundary,
                                 const pool_mp_limits_t *limits,
                                 const pool_mp_callbacks_t *cb, void *baton)
{
    pool_mp_parser_t *mp = apr_pcalloc(p, sizeof(*mp));

    mp->p = p;
    apr_pool_create(&mp->ppart, p);
    mp->cb = cb;
    mp->baton = baton;
    mp->delim = apr_pstrcat(p, "\r\n--", boundary, NULL);
    mp->dlen = strlen(mp->delim);
    mp->hmax = (limits && limits->max_header_bytes)
               ? limits->max_header_bytes : POOL_MP_DEFAULT_HEADER_MAX;
    mp->max_headers = (limits && limits->max_headers > 0)
                      ? limits->max_headers : POOL_MP_DEFAULT_HEADERS;
    mp->max_parts = (limits && limits->max_parts > 0)
                    ? limits->max_parts : POOL_MP_DEFAULT_PARTS;
    mp->hbuf = apr_palloc(p, mp->hmax + 1);
    mp->part = -1;
    mp->state = S_BODY;
    /* the first delimiter may open the body without its CRLF: act as if
     * the CRLF had been seen */
    mp->j = 2;
    return mp;
}

/* Data of the current part (preamble bytes are dropped). */
static int emit(pool_mp_parser_t *mp, const char *d, apr_size_t n)
{
    if (!n || !mp->in_part || !mp->cb->part_data) {
        return 0;
    }
    if (mp->cb->part_data(mp->baton, d, n) != 0) {
        fail(mp, POOL_MP_ABORTED, "stopped by the receiver");
        return -1;
    }
    return 0;
}

/* A full delimiter match followed by something that makes it data after
 * all: give back the delimiter and the extra byte consumed after it. */
static int not_a_delimiter(pool_mp_parser_t *mp, const char *extra)
{
    if (emit(mp, mp->delim, mp->dlen) != 0
        || (extra && emit(mp, extra, 1) != 0)) {
        return -1;
    }
    mp->j = 0;
    mp->state = S_BODY;
    return 0;
}

static int end_part(pool_mp_parser_t *mp)
{
    if (mp->in_part) {
        mp->in_part = 0;
        if (mp->cb->part_end && mp->cb->part_end(mp->baton) != 0) {
            fail(mp, POOL_MP_ABORTED, "stopped by the receiver");
            return -1;
        }
    }
    return 0;
}

/* Delimiter search over [s, end): returns where it stopped. */
static const char *scan_body(pool_mp_parser_t *mp, const char *s,
                             const char *end)
{
    const char *run = s;

    while (s < end) {
        if (mp->j == 0) {
            const char *cr = memchr(s, '\r', (apr_size_t)(end - s));
            if (!cr) {
                s = end;
                break;
            }
            if (emit(mp, run, (apr_size_t)(cr - run)) != 0) {
                return NULL;
            }
            mp->j = 1;
            s = run = cr + 1;
            continue;
        }
        if (*s == mp->delim[mp->j]) {
            s++;
            run = s;
            if (++mp->j == mp->dlen) {
                mp->j = 0;
                mp->state = S_AFTER;
                return s;
            }
            continue;
        }
        /* mismatch: the bytes matched so far were data; look at *s again */
        if (emit(mp, mp->delim, mp->j) != 0) {
            return NULL;
        }
        mp->j = 0;
        run = s;
    }
    if (emit(mp, run, (apr_size_t)(s - run)) != 0) {
        return NULL;
    }
    return s;
}

static int is_tchar(int c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The header block of the current part is complete. */
static int headers_done(pool_mp_parser_t *mp)
{
    pool_mp_header_t *h = apr_pcalloc(mp->ppart, (apr_size_t)(mp->nlines + 1)
                                                 * sizeof(*h));
    pool_mp_part_t part;
    char *line = mp->hbuf;
    int i, k;

    for (i = 0; i < mp->nlines; i++) {
        char *colon, *v, *e, *next = line + strlen(line) + 1;

        if (*line == ' ' || *line == '\t') {
            fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                 "folded header line in part %d", mp->part));
            return -1;
        }
        colon = strchr(line, ':');
        if (!colon || colon == line) {
            fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                 "a header line of part %d is not 'Name: value'", mp->part));
            return -1;
        }
        for (v = line; v < colon; v++) {
            if (!is_tchar((unsigned char)*v)) {
                fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                     "a header name of part %d has a character not allowed "
                     "in a token", mp->part));
                return -1;
            }
        }
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {
        }
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--) {
        }
        *e = '\0';
        for (k = 0; k < i; k++) {
            if (!strcasecmp(h[k].name, line)) {
                fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                     "header %s repeated in part %d", line, mp->part));
                return -1;
            }
        }
        h[i].name = line;
        h[i].value = v;
        line = next;
    }
    part.index = mp->part;
    part.nheaders = mp->nlines;
    part.headers = h;
    mp->in_part = 1;
    mp->state = S_BODY;
    mp->j = 0;
    if (mp->cb->part_begin && mp->cb->part_begin(mp->baton, &part) != 0) {
        fail(mp, POOL_MP_ABORTED, "stopped by the receiver");
        return -1;
    }
    return 0;
}

static const char *scan_headers(pool_mp_parser_t *mp, const char *s,
                                const char *end)
{
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;

        if (mp->hcr) {
            if (c != '\n') {
                fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                     "bare CR in the headers of part %d", mp->part));
                return NULL;
            }
            mp->hcr = 0;
            if (mp->hlen == mp->line_start) {
                if (headers_done(mp) != 0) {
                    return NULL;
                }
                return s + 1;
            }
            if (mp->nlines >= mp->max_headers) {
                fail(mp, POOL_MP_HEADER_TOO_BIG, apr_psprintf(mp->p,
                     "part %d has more than %d header lines", mp->part,
                     mp->max_headers));
                return NULL;
            }
            if (mp->hlen >= mp->hmax) {
                goto too_long;
            }
            mp->hbuf[mp->hlen++] = '\0';
            mp->nlines++;
            mp->line_start = mp->hlen;
            continue;
        }
        if (c == '\r') {
            mp->hcr = 1;
        }
        else if (c == '\n') {
            fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                 "a header line of part %d ends with a bare LF (CRLF needed)",
                 mp->part));
            return NULL;
        }
        else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                 "control character in the headers of part %d", mp->part));
            return NULL;
        }
        else if (mp->hlen >= mp->hmax) {
            goto too_long;
        }
        else {
            mp->hbuf[mp->hlen++] = (char)c;
        }
    }
    return s;

too_long:
    fail(mp, POOL_MP_HEADER_TOO_BIG, apr_psprintf(mp->p,
         "the headers of part %d are longer than %" APR_SIZE_T_FMT " bytes",
         mp->part, mp->hmax));
    return NULL;
}

/* A delimiter line is complete: close the part, open the next. */
static int next_part(pool_mp_parser_t *mp)
{
    if (end_part(mp) != 0) {
        return -1;
    }
    mp->part++;
    if (mp->part >= mp->max_parts) {
        fail(mp, POOL_MP_TOO_MANY_PARTS, apr_psprintf(mp->p,
             "more than %d parts", mp->max_parts));
        return -1;
    }
    apr_pool_clear(mp->ppart);
    mp->hlen = mp->line_start = 0;
    mp->hcr = 0;
    mp->nlines = 0;
    mp->state = S_HEADERS;
    return 0;
}

pool_mp_rc pool_mp_feed(pool_mp_parser_t *mp, const char *data,
                        apr_size_t len)
{
    const char *s = data, *end = data + len;

    while (s < end && mp->rc == POOL_MP_OK) {
        switch (mp->state) {
        case S_BODY:
            s = scan_body(mp, s, end);
            break;
        case S_HEADERS:
            s = scan_headers(mp, s, end);
            break;
        case S_AFTER:
            if (*s == '-') {
                mp->state = S_DASH;
                s++;
            }
            else if (*s == '\r') {
                mp->pad = 0;
                mp->state = S_CR;
                s++;
            }
            else if (*s == ' ' || *s == '\t') {
                mp->pad = 1;
                mp->state = S_PAD;
                s++;
            }
            else if (not_a_delimiter(mp, NULL) != 0) {
                s = NULL;
            }
            break;
        case S_DASH:
            if (*s == '-') {
                s++;
                if (end_part(mp) == 0) {
                    mp->state = S_EPILOGUE;
                }
            }
            else if (not_a_delimiter(mp, "-") != 0) {
                s = NULL;
            }
            break;
        case S_PAD:
            if (*s == ' ' || *s == '\t') {
                if (++mp->pad > PAD_MAX) {
                    fail(mp, POOL_MP_MALFORMED, "too much white space after "
                         "a boundary");
                }
                s++;
            }
            else if (*s == '\r') {
                mp->state = S_CR;
                s++;
            }
            else {
                fail(mp, POOL_MP_MALFORMED, apr_psprintf(mp->p,
                     "a boundary line%s is followed by other characters "
                     "than white space", mp->part < 0 ? "" : " after a part"));
            }
            break;
        case S_CR:
            if (*s == '\n') {
                s++;
                next_part(mp);
            }
            else if (mp->pad) {
                fail(mp, POOL_MP_MALFORMED, "a boundary line does not end "
                     "with CRLF");
            }
            else if (not_a_delimiter(mp, "\r") != 0) {
                s = NULL;
            }
            break;
        case S_EPILOGUE:
            return POOL_MP_OK;  /* ignored */
        default:
            return mp->rc;
        }
        if (!s) {
            break;
        }
    }
    return mp->rc;
}

pool_mp_rc pool_mp_finish(pool_mp_parser_t *mp)
{
    if (mp->rc != POOL_MP_OK) {
        return mp->rc;
    }
    if (mp->state == S_EPILOGUE) {
        return POOL_MP_OK;
    }
    if (mp->part < 0) {
        return fail(mp, POOL_MP_TRUNCATED, "no part found: the body does not "
                    "contain the boundary of the Content-Type");
    }
    if (mp->state == S_HEADERS) {
        return fail(mp, POOL_MP_TRUNCATED, apr_psprintf(mp->p,
                    "the body ended in the headers of part %d", mp->part));
    }
    return fail(mp, POOL_MP_TRUNCATED, apr_psprintf(mp->p,
                "the body ended in part %d, before the closing boundary",
                mp->part));
}

const char *pool_mp_error(const pool_mp_parser_t *mp)
{
    return mp->err;
}

int pool_mp_part_index(const pool_mp_parser_t *mp)
{
    return mp->part;
}

/* ---- header values */

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

const char *pool_mp_parse_params(apr_pool_t *p, const char *value,
                                 const char **first, apr_table_t **params)
{
    const char *s = skip_ows(value), *b;
    apr_table_t *t = apr_table_make(p, 4);

    *first = NULL;
    *params = t;
    for (b = s; is_tchar((unsigned char)*s) || *s == '/'; s++) {
    }
    if (s == b) {
        return "the value does not start with a token";
    }
    {
        char *f = apr_pstrmemdup(p, b, (apr_size_t)(s - b));
        *first = f;
        for (; *f; f++) {
            *f = (char)apr_tolower(*f);
        }
    }
    for (;;) {
        char *name, *val, *o;

        s = skip_ows(s);
        if (!*s) {
            return NULL;
        }
        if (*s != ';') {
            return "parameters must be separated by ';'";
        }
        s = skip_ows(s + 1);
        if (!*s) {
            return NULL;        /* a trailing ';' */
        }
        for (b = s; is_tchar((unsigned char)*s); s++) {
        }
        if (s == b) {
            return "a parameter name is missing";
        }
        name = apr_pstrmemdup(p, b, (apr_size_t)(s - b));
        for (o = name; *o; o++) {
            *o = (char)apr_tolower(*o);
        }
        s = skip_ows(s);
        if (*s != '=') {
            return apr_psprintf(p, "parameter %s has no value", name);
        }
        s = skip_ows(s + 1);
        if (*s == '"') {
            o = val = apr_palloc(p, strlen(s) + 1);
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\') {
                    if (!s[1]) {
                        break;
                    }
                    s++;
                }
                *o++ = *s;
            }
            if (*s != '"') {
                return apr_psprintf(p, "the quoted value of parameter %s is "
                                    "not closed", name);
            }
            *o = '\0';
            s++;
        }
        else {
            for (b = s; is_tchar((unsigned char)*s); s++) {
            }
            if (s == b) {
                return apr_psprintf(p, "parameter %s has no value", name);
            }
            val = apr_pstrmemdup(p, b, (apr_size_t)(s - b));
        }
        if (apr_table_get(t, name)) {
            return apr_psprintf(p, "parameter %s is repeated", name);
        }
        apr_table_setn(t, name, val);
    }
}

const char *pool_mp_boundary_check(const char *b)
{
    apr_size_t n = b ? strlen(b) : 0, i;

    if (n == 0) {
        return "the boundary is empty";
    }
    if (n > POOL_MP_BOUNDARY_MAX) {
        return "the boundary is longer than 70 characters";
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!apr_isalnum(c) && !strchr("'()+_,-./:=? ", c)) {
            return "the boundary has a character RFC 2046 does not allow";
        }
    }
    if (b[n - 1] == ' ') {
        return "the boundary ends with a space";
    }
    return NULL;
}

const char *pool_mp_form_boundary(apr_pool_t *p, const char *content_type,
                                  const char **boundary, int *is_form)
{
    const char *first, *why, *b;
    apr_table_t *params;

    *boundary = NULL;
    *is_form = 0;
    if (!content_type) {
        return "no Content-Type";
    }
    why = pool_mp_parse_params(p, content_type, &first, &params);
    *is_form = first && !strcmp(first, "multipart/form-data");
    if (!*is_form) {
        return "the Content-Type is not multipart/form-data";
    }
    if (why) {
        return apr_pstrcat(p, "malformed Content-Type: ", why, NULL);
    }
    b = apr_table_get(params, "boundary");
    if (!b) {
        return "the Content-Type has no boundary parameter";
    }
    if ((why = pool_mp_boundary_check(b)) != NULL) {
        return why;
    }
    *boundary = b;
    return NULL;
}

/* RFC 8187 ext-value: charset "'" [ language ] "'" value-chars */
static const char *ext_value(apr_pool_t *p, const char *v, const char **name,
                             apr_size_t *len)
{
    const char *q1 = strchr(v, '\''), *q2, *s;
    char *out, *o;

    if (!q1 || !(q2 = strchr(q1 + 1, '\''))) {
        return "filename* is not charset'language'value (RFC 8187)";
    }
    if (q1 - v != 5 || strncasecmp(v, "UTF-8", 5)) {
        return "filename* must use the UTF-8 charset";
    }
    o = out = apr_palloc(p, strlen(q2) + 1);
    for (s = q2 + 1; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '%') {
            int hi = pool_hexval((unsigned char)s[1]), lo;
            if (hi < 0 || (lo = pool_hexval((unsigned char)s[2])) < 0) {
                return "filename* has a malformed %-escape";
            }
            *o++ = (char)(hi * 16 + lo);
            s += 2;
        }
        else if (apr_isalnum(c) || strchr("!#$&+-.^_`|~", c)) {
            *o++ = (char)c;
        }
        else {
            return "filename* has a character that must be %-escaped";
        }
    }
    *o = '\0';
    *name = out;
    *len = (apr_size_t)(o - out);
    return NULL;
}

const char *pool_mp_filename(apr_pool_t *p, apr_table_t *params,
                             const char **name, apr_size_t *len)
{
    const char *v;

    *name = NULL;
    *len = 0;
    if ((v = apr_table_get(params, "filename*")) != NULL) {
        return ext_value(p, v, name, len);
    }
    if ((v = apr_table_get(params, "filename")) != NULL) {
        *name = v;
        *len = strlen(v);
    }
    return NULL;
}

const char *pool_mp_header(const pool_mp_part_t *part, const char *name)
{
    int i;

    for (i = 0; i < part->nheaders; i++) {
        if (!strcasecmp(part->headers[i].name, name)) {
            return part->headers[i].value;
        }
    }
    return NULL;
}
