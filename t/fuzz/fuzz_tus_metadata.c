/* tus Upload-Metadata (lib/pool_tus.c: pool_tus_parse_metadata,
 * pool_tus_meta_get) and the file fields it carries (pool_tus_fields, so
 * pool_fields_check, pool_name_check, pool_ctype_check, pool_ts_parse).
 *
 * Input: the header value.  Invariants: at most 64 pairs, non-empty
 * distinct keys of printable ASCII, decoded values no longer than the
 * header; the pairs written back (key, space, base64) parse to the same
 * pairs; accepted fields are a valid name and content type. */
#include "fuzz_common.h"
#include "pool_name.h"
#include "pool_tus.h"
#include "pool_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *h, *why, *field = NULL, *back = NULL;
    apr_array_header_t *md = NULL, *md2 = NULL;
    pool_file_fields_t ff;
    int i, j;

    if (size > POOL_TUS_META_MAX + 16) {
        return 0;
    }
    p = fz_pool();
    h = fz_rest(p, &in);
    why = pool_tus_parse_metadata(p, h, &md);
    if (why) {
        CHECK(*why);
        fz_pool_done(p);
        return 0;
    }
    CHECK(md && md->nelts <= POOL_TUS_META_MAX_PAIRS);
    for (i = 0; i < md->nelts; i++) {
        const pool_tus_meta_t *m = &APR_ARRAY_IDX(md, i, pool_tus_meta_t);
        const char *k;

        CHECK(*m->key && strlen(m->key) <= POOL_TUS_META_KEY_MAX);
        for (k = m->key; *k; k++) {
            CHECK(*k > 0x20 && *k < 0x7f && *k != ',');
        }
        CHECK(m->value_len <= strlen(h));
        CHECK(m->has_value || m->value_len == 0);
        CHECK(m->value[m->value_len] == '\0');
        CHECK(pool_tus_meta_get(md, m->key) == m);
        for (j = 0; j < i; j++) {
            CHECK(strcmp(APR_ARRAY_IDX(md, j, pool_tus_meta_t).key, m->key));
        }
        back = apr_pstrcat(p, back ? back : "", back ? "," : "", m->key,
                           m->has_value ? " " : "",
                           m->has_value ? pool_b64_encode(p,
                               (const unsigned char *)m->value, m->value_len)
                           : "", NULL);
    }
    /* written back, the pairs read the same */
    why = pool_tus_parse_metadata(p, back ? back : "", &md2);
    CHECK(why == NULL);
    CHECK(md2->nelts == md->nelts);
    for (i = 0; i < md->nelts; i++) {
        const pool_tus_meta_t *a = &APR_ARRAY_IDX(md, i, pool_tus_meta_t);
        const pool_tus_meta_t *b = &APR_ARRAY_IDX(md2, i, pool_tus_meta_t);

        CHECK(!strcmp(a->key, b->key) && a->has_value == b->has_value);
        CHECK(a->value_len == b->value_len
              && !memcmp(a->value, b->value, a->value_len));
    }

    why = pool_tus_fields(p, md, "upload.bin", &ff, &field);
    if (why) {
        CHECK(field && *field);
    }
    else {
        CHECK(field == NULL);
        CHECK(pool_name_check(ff.name) == NULL);
        CHECK(pool_ctype_check(ff.content_type) == NULL);
    }
    fz_pool_done(p);
    return 0;
}
