/* multipart/form-data (lib/pool_multipart.c): the Content-Type's boundary
 * (pool_mp_form_boundary, pool_mp_parse_params), the streaming body parser
 * (pool_mp_create/feed/finish) and, for every part, its Content-Disposition
 * and file name (pool_mp_header, pool_mp_parse_params, pool_mp_filename),
 * as the batch upload handler uses them.
 *
 * Input: the Content-Type value, '\n', one byte choosing the chunking and
 * the limits, then the body.  Invariant: the body parsed at once and parsed
 * in the chunks chosen give the same events (parts, headers, data,
 * results) and the same outcome; data only flows inside a part, never in
 * empty pieces, and never more of it than the body holds. */
#include "fuzz_common.h"
#include "pool_multipart.h"

#define DEFAULT_BOUNDARY "fuzzb0undary"

typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
    int in_part;
    int in_data;                /* the last event was data: pieces join */
    int parts;
    apr_size_t data;
} tx;

static void put(tx *t, const void *d, apr_size_t n)
{
    if (t->len + n > t->cap) {
        apr_size_t cap = t->cap ? t->cap : 256;
        char *nb;
        while (cap < t->len + n) {
            cap *= 2;
        }
        nb = apr_palloc(t->p, cap);
        if (t->len) {
            memcpy(nb, t->buf, t->len);
        }
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, d, n);
    t->len += n;
}

static void puts0(tx *t, const char *s)
{
    put(t, s ? s : "(null)", strlen(s ? s : "(null)") + 1);
}

static int on_begin(void *baton, const pool_mp_part_t *part)
{
    tx *t = baton;
    const char *cd, *first, *why, *name;
    apr_table_t *params;
    apr_size_t nlen;
    int i;

    CHECK(!t->in_part);
    CHECK(part->index == t->parts);
    t->in_part = 1;
    t->in_data = 0;
    t->parts++;
    put(t, "B", 1);
    for (i = 0; i < part->nheaders; i++) {
        puts0(t, part->headers[i].name);
        puts0(t, part->headers[i].value);
        CHECK(pool_mp_header(part, part->headers[i].name)
              == part->headers[i].value);
    }
    cd = pool_mp_header(part, "Content-Disposition");
    if (cd) {
        why = pool_mp_parse_params(t->p, cd, &first, &params);
        puts0(t, why);
        if (!why) {
            CHECK(first && *first);
            puts0(t, first);
            puts0(t, apr_table_get(params, "name"));
            why = pool_mp_filename(t->p, params, &name, &nlen);
            puts0(t, why);
            if (!why && name) {
                CHECK(nlen <= strlen(cd));
                put(t, name, nlen);
            }
        }
    }
    return 0;
}

static int on_data(void *baton, const char *d, apr_size_t n)
{
    tx *t = baton;

    CHECK(t->in_part);
    CHECK(n > 0);
    t->data += n;
    if (!t->in_data) {
        put(t, "D", 1);
        t->in_data = 1;
    }
    put(t, d, n);
    return 0;
}

static int on_end(void *baton)
{
    tx *t = baton;

    CHECK(t->in_part);
    t->in_part = 0;
    t->in_data = 0;
    put(t, "E", 1);
    return 0;
}

static const pool_mp_callbacks_t cbs = { on_begin, on_data, on_end };

/* Parses body in chunks of the sizes chosen by mode (0: all at once). */
static pool_mp_rc run(apr_pool_t *p, const char *boundary, unsigned mode,
                      const char *body, apr_size_t n, tx *t, int *index,
                      const char **err)
{
    pool_mp_limits_t small = { 96, 3, 4 };
    pool_mp_parser_t *mp;
    pool_mp_rc rc = POOL_MP_OK, rc2;
    apr_size_t off = 0, k = 0;
    apr_size_t span = (mode & 0x1f) + 1;    /* largest chunk */

    memset(t, 0, sizeof(*t));
    t->p = p;
    mp = pool_mp_create(p, boundary, (mode & 0x80) ? &small : NULL, &cbs, t);
    while (off < n) {
        apr_size_t c = (mode & 0x7f) == 0 ? n - off : 1 + (k * 7 + mode) % span;
        if (c > n - off) {
            c = n - off;
        }
        rc2 = pool_mp_feed(mp, body + off, c);
        if (rc != POOL_MP_OK) {
            CHECK(rc2 == rc);   /* an error sticks */
        }
        rc = rc2;
        off += c;
        k++;
    }
    rc2 = pool_mp_finish(mp);
    CHECK(rc == POOL_MP_OK || rc2 == rc);
    CHECK((rc2 == POOL_MP_OK) == (pool_mp_error(mp) == NULL));
    CHECK(rc2 != POOL_MP_OK || !t->in_part);
    CHECK(t->data <= n);
    *index = pool_mp_part_index(mp);
    *err = pool_mp_error(mp);
    return rc2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *ct, *boundary, *why, *body, *e1, *e2;
    unsigned mode;
    int is_form, i1, i2;
    apr_size_t n;
    pool_mp_rc r1, r2;
    tx t1, t2;

    if (size > 64 * 1024) {
        return 0;
    }
    p = fz_pool();
    ct = fz_line(p, &in);
    mode = fz_byte(&in);
    body = (const char *)in.d;
    n = in.n;

    why = pool_mp_form_boundary(p, ct, &boundary, &is_form);
    if (why) {
        CHECK(boundary == NULL);
        boundary = DEFAULT_BOUNDARY;
    }
    else {
        CHECK(is_form);
        CHECK(pool_mp_boundary_check(boundary) == NULL);
        CHECK(strlen(boundary) <= POOL_MP_BOUNDARY_MAX);
    }

    r1 = run(p, boundary, mode & 0x80, body, n, &t1, &i1, &e1);
    r2 = run(p, boundary, (mode & 0x7f) ? mode : mode | 1, body, n, &t2,
             &i2, &e2);
    CHECK(r1 == r2);
    CHECK(i1 == i2);
    CHECK(t1.parts == t2.parts);
    CHECK(t1.len == t2.len && (!t1.len || !memcmp(t1.buf, t2.buf, t1.len)));
    CHECK((e1 == NULL) == (e2 == NULL));
    fz_pool_done(p);
    return 0;
}
