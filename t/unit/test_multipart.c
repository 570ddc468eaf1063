/* pool_multipart: the streaming multipart/form-data parser.  Every body is
 * also fed in 1-byte chunks and in random chunk sizes, and must give the
 * same events and the same outcome as when fed whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_multipart.h"

static apr_pool_t *p;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

/* ---- an event log: "<i|Name=value|...>" data... "</i>" */

typedef struct {
    char *buf;
    size_t len, cap;
    int parts;
    int abort_begin;            /* abort in part_begin of this part, or -1 */
    int abort_data;             /* abort in part_data of this part, or -1 */
    int cur;
} coll;

static void put(coll *c, const char *d, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
        ck_assert_ptr_nonnull(c->buf);
    }
    memcpy(c->buf + c->len, d, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

static void puts_(coll *c, const char *s)
{
    put(c, s, strlen(s));
}

static int on_begin(void *b, const pool_mp_part_t *part)
{
    coll *c = b;
    char tmp[32];
    int i;

    ck_assert_int_eq(part->index, c->parts);
    c->cur = part->index;
    c->parts++;
    snprintf(tmp, sizeof(tmp), "<%d", part->index);
    puts_(c, tmp);
    for (i = 0; i < part->nheaders; i++) {
        puts_(c, "|");
        puts_(c, part->headers[i].name);
        puts_(c, "=");
        puts_(c, part->headers[i].value);
    }
    puts_(c, ">");
    return part->index == c->abort_begin ? 1 : 0;
}

static int on_data(void *b, const char *d, apr_size_t n)
{
    coll *c = b;

    ck_assert_uint_gt(n, 0);
    put(c, d, n);
    return c->cur == c->abort_data ? 1 : 0;
}

static int on_end(void *b)
{
    coll *c = b;
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "</%d>", c->cur);
    puts_(c, tmp);
    return 0;
}

static const pool_mp_callbacks_t cbs = { on_begin, on_data, on_end };

typedef struct {
    pool_mp_rc rc;              /* of the last feed, or of finish */
    int part;                   /* pool_mp_part_index at the end */
    char *log;
    size_t loglen;
    const char *err;
} outcome;

/* chunk: 0 = whole, 1 = byte by byte, -1 = random sizes (seeded) */
static outcome run_chunks(const char *boundary, const char *body, size_t n,
                          const pool_mp_limits_t *lim, int chunk,
                          unsigned seed, int abort_begin, int abort_data)
{
    coll c;
    outcome o;
    pool_mp_parser_t *mp;
    pool_mp_rc rc = POOL_MP_OK;
    size_t off = 0;

    memset(&c, 0, sizeof(c));
    c.abort_begin = abort_begin;
    c.abort_data = abort_data;
    c.cur = -1;
    puts_(&c, "");
    srand(seed);
    mp = pool_mp_create(p, boundary, lim, &cbs, &c);
    while (off < n && rc == POOL_MP_OK) {
        size_t k = chunk == 0 ? n : chunk == 1 ? 1 : 1 + (size_t)rand() % 97;
        if (k > n - off) {
            k = n - off;
        }
        rc = pool_mp_feed(mp, body + off, k);
        off += k;
    }
    if (rc == POOL_MP_OK) {
        rc = pool_mp_finish(mp);
    }
    else {
        /* after an error, the parser keeps answering it */
        ck_assert_int_eq(pool_mp_feed(mp, "x", 1), rc);
        ck_assert_int_eq(pool_mp_finish(mp), rc);
    }
    o.rc = rc;
    o.part = pool_mp_part_index(mp);
    o.log = apr_pstrmemdup(p, c.buf, c.len);
    o.loglen = c.len;
    o.err = pool_mp_error(mp);
    if (rc == POOL_MP_OK) {
        ck_assert_ptr_null(o.err);
    }
    else {
        ck_assert_ptr_nonnull(o.err);
    }
    free(c.buf);
    return o;
}

/* Runs whole, byte by byte and with 20 random chunkings; all must agree.
 * Returns the outcome. */
static outcome run_all(const char *boundary, const char *body, size_t n,
                       const pool_mp_limits_t *lim)
{
    outcome whole = run_chunks(boundary, body, n, lim, 0, 0, -1, -1);
    outcome o;
    unsigned seed;

    o = run_chunks(boundary, body, n, lim, 1, 0, -1, -1);
    ck_assert_int_eq(o.rc, whole.rc);
    ck_assert_int_eq(o.part, whole.part);
    ck_assert_uint_eq(o.loglen, whole.loglen);
    ck_assert(memcmp(o.log, whole.log, o.loglen) == 0);
    for (seed = 1; seed <= 20; seed++) {
        o = run_chunks(boundary, body, n, lim, -1, seed, -1, -1);
        ck_assert_int_eq(o.rc, whole.rc);
        ck_assert_int_eq(o.part, whole.part);
        ck_assert_uint_eq(o.loglen, whole.loglen);
        ck_assert(memcmp(o.log, whole.log, o.loglen) == 0);
    }
    return whole;
}

static outcome run_str(const char *boundary, const char *body)
{
    return run_all(boundary, body, strlen(body), NULL);
}

#define B "XyZzy-42"

/* ---- well-formed bodies */

START_TEST(two_parts)
{
    static const char body[] =
        "--" B "\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "hello\r\nworld\r\n"
        "--" B "\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"b.bin\"\r\n"
        "Pool-Ts:   2026-11-21T10:15:00Z  \r\n"
        "\r\n"
        "\x00\x01\x02"
        "\r\n--" B "--\r\n";
    static const char want[] =
        "<0|Content-Disposition=form-data; name=\"file\"; "
        "filename=\"a.txt\"|Content-Type=text/plain>hello\r\nworld</0>"
        "<1|Content-Disposition=form-data; name=\"file\"; "
        "filename=\"b.bin\"|Pool-Ts=2026-11-21T10:15:00Z>\x00\x01\x02</1>";
    outcome o = run_all(B, body, sizeof(body) - 1, NULL);

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_int_eq(o.part, 1);
    ck_assert_uint_eq(o.loglen, sizeof(want) - 1);
    ck_assert(memcmp(o.log, want, sizeof(want) - 1) == 0);
}
END_TEST

START_TEST(preamble_and_epilogue_ignored)
{
    outcome o = run_str(B,
        "This is a preamble.\r\n-- not it\r\n--" B "x not it either\r\n"
        "--" B "\r\n"
        "Content-Disposition: form-data; name=a\r\n\r\n"
        "A\r\n--" B "--\r\n"
        "epilogue\r\n--" B "\r\nContent-Disposition: form-data; name=b\r\n"
        "\r\nignored\r\n--" B "--\r\n");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, "<0|Content-Disposition=form-data; name=a>A</0>");
}
END_TEST

START_TEST(first_delimiter_after_crlf)
{
    outcome o = run_str(B, "\r\n--" B "\r\nX-A: 1\r\n\r\nd\r\n--" B "--");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, "<0|X-A=1>d</0>");
}
END_TEST

START_TEST(close_without_crlf_and_padding)
{
    /* transport padding after a boundary; epilogue without CRLF */
    outcome o = run_str(B, "--" B " \t \r\nX-A: 1\r\n\r\none\r\n--" B
                        "\t\r\nX-B: 2\r\n\r\ntwo\r\n--" B "--");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, "<0|X-A=1>one</0><1|X-B=2>two</1>");
}
END_TEST

START_TEST(no_parts_at_all)
{
    outcome o = run_str(B, "--" B "--\r\n");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_int_eq(o.part, -1);
    ck_assert_str_eq(o.log, "");
}
END_TEST

START_TEST(empty_data_and_no_headers)
{
    outcome o = run_str(B, "--" B "\r\n\r\n\r\n--" B "\r\nX-A: \r\n\r\n"
                        "\r\n--" B "--\r\n");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, "<0></0><1|X-A=></1>");
}
END_TEST

START_TEST(lookalikes_are_data)
{
    /* the boundary without its CRLF, a longer boundary, a partial one,
     * "--" + boundary + "-x", + CR + x, CR CR LF before a real delimiter */
    const char *data =
        "--" B "\r\n"
        "x--" B "--\r\n"
        "\r\n--" B "X\r\n"
        "\r\n--XyZz\r\n"
        "\r\n--" B "-x"
        "\r\n--" B "\rx"
        "\r\n-" B
        "\r\r\n\n\r\r";
    outcome o = run_str(B, apr_pstrcat(p, "--" B "\r\nX-A: 1\r\n\r\n", data,
                                       "\r\n--" B "--\r\n", NULL));

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, apr_pstrcat(p, "<0|X-A=1>", data, "</0>", NULL));
}
END_TEST

START_TEST(crs_before_a_delimiter)
{
    outcome o = run_str(B, "--" B "\r\nX-A: 1\r\n\r\nab\r\r\r\n--" B
                        "--\r\n");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, "<0|X-A=1>ab\r\r</0>");
}
END_TEST

START_TEST(large_random_data)
{
    size_t n = 300000, i;
    char *data = apr_palloc(p, n);
    const char *head = "--" B "\r\nContent-Disposition: form-data; "
                       "name=file; filename=r.bin\r\n\r\n";
    const char *tail = "\r\n--" B "--\r\n";
    size_t hl = strlen(head), tl = strlen(tail);
    char *body = apr_palloc(p, hl + n + tl);
    outcome o;

    srand(7);
    for (i = 0; i < n; i++) {
        /* many CR, LF and '-' so that partial matches happen a lot */
        static const char pick[] = "\r\n-XyZ" "zy-42ab";
        data[i] = (i % 3) ? pick[rand() % (int)(sizeof(pick) - 1)]
                          : (char)(rand() & 0xff);
    }
    memcpy(body, head, hl);
    memcpy(body + hl, data, n);
    memcpy(body + hl + n, tail, tl);
    o = run_all(B, body, hl + n + tl, NULL);
    ck_assert_int_eq(o.rc, POOL_MP_OK);
    {
        const char *open = "<0|Content-Disposition=form-data; name=file; "
                           "filename=r.bin>";
        size_t ol = strlen(open);
        ck_assert_uint_eq(o.loglen, ol + n + 4);
        ck_assert(memcmp(o.log + ol, data, n) == 0);
        ck_assert(memcmp(o.log + ol + n, "</0>", 4) == 0);
    }
}
END_TEST

START_TEST(boundary_with_special_characters)
{
    const char *b = "'()+_,-./:=? x";
    outcome o = run_str(b, apr_pstrcat(p, "--", b, "\r\nX-A: 1\r\n\r\nd\r\n--",
                                       b, "--", NULL));

    ck_assert_int_eq(o.rc, POOL_MP_OK);
    ck_assert_str_eq(o.log, "<0|X-A=1>d</0>");
}
END_TEST

/* ---- truncated bodies */

START_TEST(missing_close_delimiter)
{
    outcome o = run_str(B, "--" B "\r\nX-A: 1\r\n\r\ndata that goes on");

    ck_assert_int_eq(o.rc, POOL_MP_TRUNCATED);
    ck_assert_int_eq(o.part, 0);
    ck_assert_ptr_nonnull(strstr(o.err, "part 0"));
    /* part_end was not called */
    ck_assert_str_eq(o.log, "<0|X-A=1>data that goes on");
}
END_TEST

START_TEST(truncated_in_delimiter)
{
    static const char *const bodies[] = {
        "--" B "\r\nX-A: 1\r\n\r\nd\r\n--" B,
        "--" B "\r\nX-A: 1\r\n\r\nd\r\n--" B "-",
        "--" B "\r\nX-A: 1\r\n\r\nd\r\n--" B "\r",
        "--" B "\r\nX-A: 1\r\n\r\nd\r\n--Xy",
        "--" B "\r\nX-A: 1\r\n\r\nd\r\n",
    };
    unsigned i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        outcome o = run_str(B, bodies[i]);
        ck_assert_int_eq(o.rc, POOL_MP_TRUNCATED);
        ck_assert_int_eq(o.part, 0);
    }
}
END_TEST

START_TEST(truncated_in_headers)
{
    outcome o = run_str(B, "--" B "\r\nX-A: 1\r\nX-B");

    ck_assert_int_eq(o.rc, POOL_MP_TRUNCATED);
    ck_assert_ptr_nonnull(strstr(o.err, "headers of part 0"));
    ck_assert_str_eq(o.log, "");
}
END_TEST

START_TEST(no_boundary_in_body)
{
    static const char *const bodies[] = {
        "",
        "garbage, garbage\r\n",
        "--OtherBoundary\r\nX-A: 1\r\n\r\nd\r\n--OtherBoundary--\r\n",
        "-" B "\r\n",
    };
    unsigned i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        outcome o = run_str(B, bodies[i]);
        ck_assert_int_eq(o.rc, POOL_MP_TRUNCATED);
        ck_assert_int_eq(o.part, -1);
        ck_assert_ptr_nonnull(strstr(o.err, "boundary"));
    }
}
END_TEST

/* ---- malformed */

START_TEST(malformed_headers)
{
    static const char *const bodies[] = {
        "--" B "\r\nX-A: 1\nX-B: 2\r\n\r\nd\r\n--" B "--",     /* bare LF */
        "--" B "\r\nX-A: 1\r\n\n\r\nd\r\n--" B "--",
        "--" B "\r\nX-A: 1\rX-B: 2\r\n\r\nd\r\n--" B "--",     /* bare CR */
        "--" B "\r\nX-A: 1\r\n folded\r\n\r\nd\r\n--" B "--",
        "--" B "\r\nno colon here\r\n\r\nd\r\n--" B "--",
        "--" B "\r\n: empty name\r\n\r\nd\r\n--" B "--",
        "--" B "\r\nX A: space in name\r\n\r\nd\r\n--" B "--",
        "--" B "\r\nX-A : space before colon\r\n\r\nd\r\n--" B "--",
        "--" B "\r\nX-A: 1\r\nx-a: 2\r\n\r\nd\r\n--" B "--",   /* repeated */
        "--" B "\r\nX-A: a\x01z\r\n\r\nd\r\n--" B "--",        /* CTL */
        "--" B "\r\nX-A: a\x7fz\r\n\r\nd\r\n--" B "--",
        "--" B "  x\r\nX-A: 1\r\n\r\nd\r\n--" B "--",          /* junk */
        "--" B "  \rX-A: 1\r\n\r\nd\r\n--" B "--",
    };
    unsigned i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        outcome o = run_str(B, bodies[i]);
        ck_assert_msg(o.rc == POOL_MP_MALFORMED, "body %u: rc %d", i,
                      (int)o.rc);
        ck_assert_str_eq(o.log, "");
    }
}
END_TEST

START_TEST(header_in_utf8_is_fine)
{
    outcome o = run_str(B, "--" B "\r\nContent-Disposition: form-data; "
                        "name=file; filename=\"\xe6\x97\xa5.bin\"\r\n\r\n"
                        "d\r\n--" B "--");

    ck_assert_int_eq(o.rc, POOL_MP_OK);
}
END_TEST

START_TEST(padding_too_long)
{
    char pad[400];
    outcome o;

    memset(pad, ' ', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    o = run_str(B, apr_pstrcat(p, "--" B, pad, "\r\n\r\nd\r\n--" B "--",
                               NULL));
    ck_assert_int_eq(o.rc, POOL_MP_MALFORMED);
}
END_TEST

/* ---- limits */

START_TEST(headers_too_long)
{
    pool_mp_limits_t lim = { 100, 0, 0 };
    char v[200];
    outcome o;

    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    {
        const char *body = apr_pstrcat(p, "--" B "\r\nX-A: ", v,
                                       "\r\n\r\nd\r\n--" B "--", NULL);
        o = run_all(B, body, strlen(body), &lim);
    }
    ck_assert_int_eq(o.rc, POOL_MP_HEADER_TOO_BIG);
    ck_assert_int_eq(o.part, 0);
    ck_assert_ptr_nonnull(strstr(o.err, "100 bytes"));

    /* just at the limit: 99 bytes of line + its terminator */
    v[99 - 5] = '\0';
    {
        const char *body = apr_pstrcat(p, "--" B "\r\nX-A: ", v,
                                       "\r\n\r\nd\r\n--" B "--", NULL);
        o = run_all(B, body, strlen(body), &lim);
    }
    ck_assert_int_eq(o.rc, POOL_MP_OK);
}
END_TEST

START_TEST(default_header_limit)
{
    char v[POOL_MP_DEFAULT_HEADER_MAX + 10];
    const char *body;
    outcome o;

    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    body = apr_pstrcat(p, "--" B "\r\nX-A: ", v, "\r\n\r\nd\r\n--" B "--",
                       NULL);
    o = run_chunks(B, body, strlen(body), NULL, 0, 0, -1, -1);
    ck_assert_int_eq(o.rc, POOL_MP_HEADER_TOO_BIG);
    /* and the header never ending is caught by the same limit */
    body = apr_pstrcat(p, "--" B "\r\nX-A: ", v, NULL);
    o = run_chunks(B, body, strlen(body), NULL, -1, 3, -1, -1);
    ck_assert_int_eq(o.rc, POOL_MP_HEADER_TOO_BIG);
}
END_TEST

START_TEST(too_many_header_lines)
{
    pool_mp_limits_t lim = { 0, 3, 0 };
    outcome o;

    o = run_all(B, "--" B "\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nd\r\n--" B "--",
                strlen("--" B "\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nd\r\n--" B
                       "--"), &lim);
    ck_assert_int_eq(o.rc, POOL_MP_OK);
    o = run_all(B, "--" B "\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\nd\r\n--"
                B "--", strlen("--" B "\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
                               "\r\nd\r\n--" B "--"), &lim);
    ck_assert_int_eq(o.rc, POOL_MP_HEADER_TOO_BIG);
}
END_TEST

START_TEST(too_many_parts)
{
    pool_mp_limits_t lim = { 0, 0, 3 };
    const char *three = "--" B "\r\n\r\na\r\n--" B "\r\n\r\nb\r\n--" B
                        "\r\n\r\nc\r\n--" B "--";
    const char *four = "--" B "\r\n\r\na\r\n--" B "\r\n\r\nb\r\n--" B
                       "\r\n\r\nc\r\n--" B "\r\n\r\nd\r\n--" B "--";
    outcome o;

    o = run_all(B, three, strlen(three), &lim);
    ck_assert_int_eq(o.rc, POOL_MP_OK);
    o = run_all(B, four, strlen(four), &lim);
    ck_assert_int_eq(o.rc, POOL_MP_TOO_MANY_PARTS);
    ck_assert_int_eq(o.part, 3);
    /* the first three were complete */
    ck_assert_str_eq(o.log, "<0>a</0><1>b</1><2>c</2>");
}
END_TEST

/* ---- callbacks stop the parse */

START_TEST(callback_aborts)
{
    const char *body = "--" B "\r\nX-A: 1\r\n\r\naaaa\r\n--" B
                       "\r\nX-B: 2\r\n\r\nbbbb\r\n--" B "--";
    outcome o;

    o = run_chunks(B, body, strlen(body), NULL, 1, 0, 1, -1);
    ck_assert_int_eq(o.rc, POOL_MP_ABORTED);
    ck_assert_int_eq(o.part, 1);
    ck_assert_str_eq(o.log, "<0|X-A=1>aaaa</0><1|X-B=2>");
    o = run_chunks(B, body, strlen(body), NULL, 0, 0, -1, 0);
    ck_assert_int_eq(o.rc, POOL_MP_ABORTED);
    ck_assert_int_eq(o.part, 0);
}
END_TEST

/* ---- header values */

START_TEST(form_boundary)
{
    const char *b, *why;
    int is_form;
    char b70[71], b71[72];

    why = pool_mp_form_boundary(p, "multipart/form-data; boundary=abc",
                                &b, &is_form);
    ck_assert_ptr_null(why);
    ck_assert_str_eq(b, "abc");
    ck_assert_int_eq(is_form, 1);
    why = pool_mp_form_boundary(p, "Multipart/Form-Data ;BOUNDARY=\"a b:c\"; "
                                "charset=utf-8", &b, &is_form);
    ck_assert_ptr_null(why);
    ck_assert_str_eq(b, "a b:c");
    memset(b70, 'b', 70);
    b70[70] = '\0';
    memset(b71, 'b', 71);
    b71[71] = '\0';
    ck_assert_ptr_null(pool_mp_form_boundary(p, apr_pstrcat(p,
                       "multipart/form-data; boundary=", b70, NULL), &b,
                       &is_form));
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, apr_pstrcat(p,
                          "multipart/form-data; boundary=", b71, NULL), &b,
                          &is_form));
    ck_assert_int_eq(is_form, 1);

    /* missing or bad boundary: still form-data (a 400, not a 415) */
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data",
                                                &b, &is_form));
    ck_assert_int_eq(is_form, 1);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data; "
                                                "boundary=", &b, &is_form));
    ck_assert_int_eq(is_form, 1);
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data; "
                                                "boundary=\"\"", &b, &is_form));
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data; "
                                                "boundary=\"ab \"", &b,
                                                &is_form));
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data; "
                                                "boundary=\"a\\\"b\"", &b,
                                                &is_form));
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data; "
                                                "boundary=\"a;b", &b,
                                                &is_form));
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/form-data; "
                                                "boundary=a; boundary=b", &b,
                                                &is_form));
    ck_assert_int_eq(is_form, 1);

    /* other media types */
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "multipart/mixed; "
                                                "boundary=abc", &b, &is_form));
    ck_assert_int_eq(is_form, 0);
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "application/json",
                                                &b, &is_form));
    ck_assert_int_eq(is_form, 0);
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, NULL, &b, &is_form));
    ck_assert_int_eq(is_form, 0);
    ck_assert_ptr_nonnull(pool_mp_form_boundary(p, "", &b, &is_form));
    ck_assert_int_eq(is_form, 0);
}
END_TEST

START_TEST(params)
{
    const char *first;
    apr_table_t *t;

    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; name=\"a\\\"b\\\\\";"
                                            " filename=x.bin;", &first, &t));
    ck_assert_str_eq(first, "form-data");
    ck_assert_str_eq(apr_table_get(t, "name"), "a\"b\\");
    ck_assert_str_eq(apr_table_get(t, "filename"), "x.bin");
    ck_assert_ptr_null(pool_mp_parse_params(p, "Form-Data;Name=a", &first,
                                            &t));
    ck_assert_str_eq(first, "form-data");
    ck_assert_str_eq(apr_table_get(t, "name"), "a");

    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "; name=a", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "form-data name=a", &first,
                                               &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "form-data; name", &first,
                                               &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "form-data; =a", &first,
                                               &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "form-data; name=\"a",
                                               &first, &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "form-data; name=a; "
                                               "NAME=b", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_parse_params(p, "form-data; name=a b",
                                               &first, &t));
}
END_TEST

START_TEST(filenames)
{
    const char *first, *name;
    apr_table_t *t;
    apr_size_t len;

    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; name=file; "
                                            "filename=\"plain.txt\"", &first,
                                            &t));
    ck_assert_ptr_null(pool_mp_filename(p, t, &name, &len));
    ck_assert_str_eq(name, "plain.txt");
    ck_assert_uint_eq(len, 9);

    /* filename* wins over filename */
    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; name=file; "
                                            "filename=\"fallback.txt\"; "
                                            "filename*=utf-8''%E6%97%A5%20"
                                            "x.txt", &first, &t));
    ck_assert_ptr_null(pool_mp_filename(p, t, &name, &len));
    ck_assert_str_eq(name, "\xe6\x97\xa5 x.txt");
    ck_assert_uint_eq(len, 9);

    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; name=file; "
                                            "filename*=UTF-8'en'a%00b", &first,
                                            &t));
    ck_assert_ptr_null(pool_mp_filename(p, t, &name, &len));
    ck_assert_uint_eq(len, 3);  /* the NUL is kept for the caller to refuse */

    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; name=file",
                                            &first, &t));
    ck_assert_ptr_null(pool_mp_filename(p, t, &name, &len));
    ck_assert_ptr_null(name);

    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; filename*="
                                            "ISO-8859-1''a%E9", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_filename(p, t, &name, &len));
    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; filename*="
                                            "UTF-8''a%E", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_filename(p, t, &name, &len));
    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; filename*="
                                            "UTF-8''a%zz", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_filename(p, t, &name, &len));
    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; filename*="
                                            "\"UTF-8''a b\"", &first, &t));
    ck_assert_ptr_nonnull(pool_mp_filename(p, t, &name, &len));
    ck_assert_ptr_null(pool_mp_parse_params(p, "form-data; filename*="
                                            "UTF-8'no-second-quote", &first,
                                            &t));
    ck_assert_ptr_nonnull(pool_mp_filename(p, t, &name, &len));
}
END_TEST

START_TEST(header_lookup)
{
    pool_mp_header_t h[2] = { { "Content-Type", "text/plain" },
                              { "Pool-Ts", "0" } };
    pool_mp_part_t part = { 0, 2, h };

    ck_assert_str_eq(pool_mp_header(&part, "content-type"), "text/plain");
    ck_assert_str_eq(pool_mp_header(&part, "POOL-TS"), "0");
    ck_assert_ptr_null(pool_mp_header(&part, "Content-Digest"));
}
END_TEST

Suite *suite_multipart(void)
{
    Suite *s = suite_create("multipart");
    TCase *tc = tcase_create("parser");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_parts);
    tcase_add_test(tc, preamble_and_epilogue_ignored);
    tcase_add_test(tc, first_delimiter_after_crlf);
    tcase_add_test(tc, close_without_crlf_and_padding);
    tcase_add_test(tc, no_parts_at_all);
    tcase_add_test(tc, empty_data_and_no_headers);
    tcase_add_test(tc, lookalikes_are_data);
    tcase_add_test(tc, crs_before_a_delimiter);
    tcase_add_test(tc, large_random_data);
    tcase_add_test(tc, boundary_with_special_characters);
    tcase_add_test(tc, missing_close_delimiter);
    tcase_add_test(tc, truncated_in_delimiter);
    tcase_add_test(tc, truncated_in_headers);
    tcase_add_test(tc, no_boundary_in_body);
    tcase_add_test(tc, malformed_headers);
    tcase_add_test(tc, header_in_utf8_is_fine);
    tcase_add_test(tc, padding_too_long);
    tcase_add_test(tc, headers_too_long);
    tcase_add_test(tc, default_header_limit);
    tcase_add_test(tc, too_many_header_lines);
    tcase_add_test(tc, too_many_parts);
    tcase_add_test(tc, callback_aborts);
    tcase_add_test(tc, form_boundary);
    tcase_add_test(tc, params);
    tcase_add_test(tc, filenames);
    tcase_add_test(tc, header_lookup);
    suite_add_tcase(s, tc);
    return s;
}
