/* tus request headers (lib/pool_tus.c): Upload-Length/Upload-Offset
 * (pool_tus_parse_size), Upload-Checksum (pool_tus_parse_checksum),
 * Upload-Concat (pool_tus_parse_concat) with the part URLs of a final
 * upload (pool_tus_part_id), and Origin against PoolCORSOrigins
 * (pool_cors_allowed).
 *
 * Input: one byte choosing the header, then the value (for CORS: the list,
 * '\n', the origin).  Invariants: a size is 1..18 digits and prints back as
 * the value; a checksum's digest has its algorithm's length and encodes
 * back to the value's base64; concat URLs are printable, non-empty and at
 * most 256; a part id is a canonical uuid at the end of the URL; "*" and
 * the origin itself in the list are always allowed. */
#include <apr_lib.h>

#include "fuzz_common.h"
#include "pool_tus.h"
#include "pool_util.h"

static void fuzz_size(apr_pool_t *p, const char *s)
{
    apr_off_t v = -1;

    if (pool_tus_parse_size(s, &v) == 0) {
        apr_size_t n = strlen(s), z = strspn(s, "0");
        const char *back = apr_off_t_toa(p, v);

        CHECK(n >= 1 && n <= 18 && strspn(s, "0123456789") == n);
        CHECK(v >= 0);
        /* the value without its leading zeros */
        CHECK(!strcmp(back, z == n ? "0" : s + z));
    }
}

static void fuzz_checksum(apr_pool_t *p, const char *s)
{
    pool_tus_checksum_t c;
    const char *why = NULL;
    int rc = pool_tus_parse_checksum(p, s, &c, &why);

    CHECK(rc == 0 || rc == -1 || rc == -2);
    if (rc == 0) {
        const char *b64 = pool_b64_encode(p, c.digest, c.len);
        const char *name = pool_tus_algo_name(c.algo);

        CHECK(c.len == 16 || c.len == 20 || c.len == 32);
        CHECK(strcmp(name, "?"));
        CHECK(strstr(s, b64) != NULL);
        CHECK(!strncasecmp(s + strspn(s, " \t"), name, strlen(name)));
    }
    else {
        CHECK(why && *why);
    }
}

static void fuzz_concat(apr_pool_t *p, const char *s)
{
    pool_tus_concat_kind kind = POOL_TUS_CONCAT_NONE;
    apr_array_header_t *urls = NULL;
    const char *why = pool_tus_parse_concat(p, s, &kind, &urls);
    int i;

    if (why) {
        return;
    }
    if (kind == POOL_TUS_CONCAT_PARTIAL) {
        CHECK(!strcmp(s, "partial") && urls == NULL);
        return;
    }
    CHECK(kind == POOL_TUS_CONCAT_FINAL && urls);
    CHECK(urls->nelts >= 1 && urls->nelts <= POOL_TUS_CONCAT_MAX);
    for (i = 0; i < urls->nelts; i++) {
        const char *u = APR_ARRAY_IDX(urls, i, const char *);
        const char *id = pool_tus_part_id(p, u, "pool-1");
        const char *q;

        CHECK(*u && strlen(u) <= 2048 && strstr(s, u));
        for (q = u; *q; q++) {
            CHECK(*q > 0x20 && *q < 0x7f);
        }
        if (id) {
            size_t n = strlen(u);
            CHECK(pool_uuid_valid(id));
            CHECK(n >= 36 && !strcmp(u + n - 36, id));
            CHECK(strstr(u, "/v1/pools/pool-1/uploads/") != NULL);
        }
    }
}

static void fuzz_part_id(apr_pool_t *p, fz_in *in)
{
    const char *pool = fz_line(p, in), *url = fz_rest(p, in);
    const char *id = pool_tus_part_id(p, url, pool);

    if (id) {
        size_t n = strlen(url);
        CHECK(pool_uuid_valid(id));
        CHECK(n >= 36 && !strcmp(url + n - 36, id));
        CHECK(!strpbrk(url, "?#"));
        CHECK(strstr(url, apr_pstrcat(p, "/v1/pools/", pool, "/uploads/",
                                      id, NULL)) != NULL);
    }
}

static void fuzz_cors(apr_pool_t *p, fz_in *in)
{
    const char *list = fz_line(p, in), *origin = fz_rest(p, in);
    int ok = pool_cors_allowed(list, origin);

    if (ok) {
        CHECK(*origin);
    }
    if (*origin && !strpbrk(origin, " \t")) {
        CHECK(pool_cors_allowed(apr_pstrcat(p, list, " ", origin, NULL),
                                origin));
        CHECK(pool_cors_allowed(apr_pstrcat(p, origin, "\t", list, NULL),
                                origin));
        CHECK(pool_cors_allowed(apr_pstrcat(p, list, " *", NULL), origin));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    unsigned sel;

    if (size > 16 * 1024) {
        return 0;
    }
    p = fz_pool();
    sel = fz_byte(&in) % 5;
    switch (sel) {
    case 0:
        fuzz_size(p, fz_rest(p, &in));
        break;
    case 1:
        fuzz_checksum(p, fz_rest(p, &in));
        break;
    case 2:
        fuzz_concat(p, fz_rest(p, &in));
        break;
    case 3:
        fuzz_part_id(p, &in);
        break;
    default:
        fuzz_cors(p, &in);
        break;
    }
    fz_pool_done(p);
    return 0;
}
