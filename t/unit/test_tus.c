/* pool_tus: the tus header parsers (Upload-Metadata, Upload-Checksum,
 * Upload-Concat, sizes), the metadata's file fields, checksum algorithms
 * against known digests, CORS origin lists, and the two tus directives
 * (PoolUploadExpiry, PoolCORSOrigins) as poolctl reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "unit.h"
#include "pool_conf.h"
#include "pool_tus.h"

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

/* ------------------------------------------------------------- sizes */

START_TEST(size_good)
{
    apr_off_t v = -1;

    ck_assert_int_eq(pool_tus_parse_size("0", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(pool_tus_parse_size("5242880", &v), 0);
    ck_assert_int_eq(v, 5242880);
    ck_assert_int_eq(pool_tus_parse_size("007", &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(pool_tus_parse_size("999999999999999999", &v), 0);
    ck_assert(v == APR_INT64_C(999999999999999999));
}
END_TEST

START_TEST(size_bad)
{
    static const char *const bad[] = {
        "", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc", "١",
        "1000000000000000000", "99999999999999999999", NULL
    };
    apr_off_t v = 42;
    int i;

    for (i = 0; bad[i]; i++) {
        ck_assert_msg(pool_tus_parse_size(bad[i], &v) == -1, "%s", bad[i]);
    }
    ck_assert_int_eq(pool_tus_parse_size(NULL, &v), -1);
    ck_assert_int_eq(v, 42);
}
END_TEST

/* ---------------------------------------------------------- metadata */

START_TEST(metadata_good)
{
    apr_array_header_t *md = NULL;
    const pool_tus_meta_t *m;
    const char *why;

    /* "filename world_domination_plan.pdf,is_confidential" (tus spec) */
    why = pool_tus_parse_metadata(p, "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,"
                                  "is_confidential", &md);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(md->nelts, 2);
    m = pool_tus_meta_get(md, "filename");
    ck_assert_ptr_nonnull(m);
    ck_assert(m->has_value);
    ck_assert_str_eq(m->value, "world_domination_plan.pdf");
    ck_assert_int_eq(m->value_len, 25);
    m = pool_tus_meta_get(md, "is_confidential");
    ck_assert_ptr_nonnull(m);
    ck_assert(!m->has_value);
    ck_assert_int_eq(m->value_len, 0);
    ck_assert_ptr_null(pool_tus_meta_get(md, "FILENAME"));

    /* spaces around pairs, an empty value (padding only), a NUL inside */
    why = pool_tus_parse_metadata(p, " a YQ== ,\tb AGI= , c", &md);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(md->nelts, 3);
    m = pool_tus_meta_get(md, "b");
    ck_assert_int_eq(m->value_len, 2);
    ck_assert_int_eq(m->value[0], '\0');
    ck_assert_int_eq(m->value[1], 'b');

    /* empty header: no pairs */
    ck_assert_ptr_null(pool_tus_parse_metadata(p, "", &md));
    ck_assert_int_eq(md->nelts, 0);
    ck_assert_ptr_null(pool_tus_parse_metadata(p, "   ", &md));
    ck_assert_int_eq(md->nelts, 0);
}
END_TEST

START_TEST(metadata_bad)
{
    static const char *const bad[] = {
        ",", "a YQ==,", ",a YQ==", "a YQ==,,b YQ==", "a YQ==, ,b YQ==",
        "a !!!!", "a YQ=", "a YQ", "a YQ===", "a  YQ==", "a YQ== x",
        "a Y Q==", "a YQ==,a Yg==", "k\x01y YQ==", "k\xc3\xa9 YQ==",
        "a\tYQ==", "a YQ==\x7f", NULL
    };
    apr_array_header_t *md = NULL;
    const char *many;
    char *longkey, *huge;
    int i;

    for (i = 0; bad[i]; i++) {
        ck_assert_msg(pool_tus_parse_metadata(p, bad[i], &md) != NULL, "%s",
                      bad[i]);
    }
    /* 65 pairs */
    many = "";
    for (i = 0; i < POOL_TUS_META_MAX_PAIRS + 1; i++) {
        many = apr_psprintf(p, "%s%sk%d", many, i ? "," : "", i);
    }
    ck_assert_ptr_nonnull(pool_tus_parse_metadata(p, many, &md));
    /* exactly the limits are fine */
    many = "";
    for (i = 0; i < POOL_TUS_META_MAX_PAIRS; i++) {
        many = apr_psprintf(p, "%s%sk%d", many, i ? "," : "", i);
    }
    ck_assert_ptr_null(pool_tus_parse_metadata(p, many, &md));
    longkey = apr_palloc(p, POOL_TUS_META_KEY_MAX + 2);
    memset(longkey, 'k', POOL_TUS_META_KEY_MAX + 1);
    longkey[POOL_TUS_META_KEY_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(pool_tus_parse_metadata(p, longkey, &md));
    longkey[POOL_TUS_META_KEY_MAX] = '\0';
    ck_assert_ptr_null(pool_tus_parse_metadata(p, longkey, &md));
    huge = apr_palloc(p, POOL_TUS_META_MAX + 2);
    memset(huge, 'A', POOL_TUS_META_MAX + 1);
    memcpy(huge, "a ", 2);
    huge[POOL_TUS_META_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(pool_tus_parse_metadata(p, huge, &md));
    ck_assert_ptr_nonnull(pool_tus_parse_metadata(p, NULL, &md));
}
END_TEST

static apr_array_header_t *md_of(const char *h)
{
    apr_array_header_t *md = NULL;

    ck_assert_ptr_null(pool_tus_parse_metadata(p, h, &md));
    return md;
}

START_TEST(fields_good)
{
    pool_file_fields_t f;
    const char *field = "x";

    /* filename=r.txt filetype=text/plain ts=2026-11-21T10:15:00Z */
    ck_assert_ptr_null(pool_tus_fields(p, md_of(
        "filename ci50eHQ=,filetype dGV4dC9wbGFpbg==,"
        "ts MjAyNi0xMS0yMVQxMDoxNTowMFo="), "dflt", &f, &field));
    ck_assert_ptr_null(field);
    ck_assert_str_eq(f.name, "r.txt");
    ck_assert_str_eq(f.content_type, "text/plain");
    ck_assert(f.ts == APR_INT64_C(1795256100000000));

    /* name and content-type; filename wins over name */
    ck_assert_ptr_null(pool_tus_fields(p, md_of(
        "name YS5iaW4=,content-type aW1hZ2UvcG5n"), "dflt", &f, &field));
    ck_assert_str_eq(f.name, "a.bin");
    ck_assert_str_eq(f.content_type, "image/png");
    ck_assert_ptr_null(pool_tus_fields(p, md_of(
        "name YS5iaW4=,filename Yi5iaW4="), "dflt", &f, &field));
    ck_assert_str_eq(f.name, "b.bin");

    /* nothing: the default name, octet-stream, now; an empty filetype
     * (a browser's File.type) is no type */
    ck_assert_ptr_null(pool_tus_fields(p, md_of(""), "dflt", &f, &field));
    ck_assert_str_eq(f.name, "dflt");
    ck_assert_str_eq(f.content_type, "application/octet-stream");
    ck_assert(f.ts > apr_time_now() - apr_time_from_sec(60));
    ck_assert_ptr_null(pool_tus_fields(p, md_of("filetype"), "d", &f, &field));
    ck_assert_str_eq(f.content_type, "application/octet-stream");
    ck_assert_ptr_null(pool_tus_fields(p, NULL, "d", &f, &field));
    /* Unix seconds */
    ck_assert_ptr_null(pool_tus_fields(p, md_of("ts MTcwMDAwMDAwMA=="), "d",
                                       &f, &field));
    ck_assert(f.ts == APR_INT64_C(1700000000000000));
}
END_TEST

START_TEST(fields_bad)
{
    static const struct {
        const char *h;
        const char *field;
    } bad[] = {
        { "filename", "filename" },                 /* no value */
        { "filename YS9i", "filename" },            /* a/b */
        { "filename Li4=", "filename" },            /* .. */
        { "filename //4=", "filename" },            /* not UTF-8 */
        { "filename YQBi", "filename" },            /* NUL */
        { "filename YQli", "filename" },            /* tab */
        { "name YVxi", "name" },                    /* backslash */
        { "ts eWVzdGVyZGF5", "ts" },                /* yesterday */
        { "ts", "ts" },                             /* no value */
        { "ts MTcwMDAwMDAwMABh", "ts" },            /* NUL inside */
        { "filetype dGV4dA==", "filetype" },        /* text */
        { "content-type bm90IGEgdHlwZQ==", "content-type" },
        { "filetype dGV4dC9wbGFpbgA=", "filetype" },   /* NUL */
        { NULL, NULL }
    };
    pool_file_fields_t f;
    int i;

    for (i = 0; bad[i].h; i++) {
        const char *field = NULL;
        const char *why = pool_tus_fields(p, md_of(bad[i].h), "dflt", &f,
                                          &field);
        ck_assert_msg(why != NULL, "%s", bad[i].h);
        ck_assert_msg(field && !strcmp(field, bad[i].field), "%s: %s",
                      bad[i].h, field ? field : "(null)");
    }
}
END_TEST

/* ---------------------------------------------------------- checksums */

START_TEST(checksum_parse)
{
    pool_tus_checksum_t c;
    const char *why = NULL;

    /* sha1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d */
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
                                             &c, &why), 0);
    ck_assert_int_eq(c.algo, POOL_TUS_SHA1);
    ck_assert_int_eq(c.len, 20);
    ck_assert_int_eq(c.digest[0], 0xa9);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "SHA256 "
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", &c, &why), 0);
    ck_assert_int_eq(c.algo, POOL_TUS_SHA256);
    ck_assert_int_eq(c.len, 32);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "md5 kAFQmDzST7DWlj99KOF/cg==",
                                             &c, &why), 0);
    ck_assert_int_eq(c.algo, POOL_TUS_MD5);
    ck_assert_str_eq(pool_tus_algo_name(c.algo), "md5");

    ck_assert_int_eq(pool_tus_parse_checksum(p, "crc32 AAAAAA==", &c, &why), -2);
    ck_assert_ptr_nonnull(strstr(why, "crc32"));
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha512 AAAA", &c, &why), -2);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha-1 AAAA", &c, &why), -2);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sh\x01 AAAA", &c, &why), -2);
    ck_assert_ptr_null(strchr(why, '\x01'));

    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha1", &c, &why), -1);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha1 ", &c, &why), -1);
    ck_assert_int_eq(pool_tus_parse_checksum(p, " qZk+", &c, &why), -1);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha1 !!!!", &c, &why), -1);
    /* a digest of the wrong length for the algorithm */
    ck_assert_int_eq(pool_tus_parse_checksum(p, "md5 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
                                             &c, &why), -1);
    ck_assert_int_eq(pool_tus_parse_checksum(p, "sha1 kAFQmDzST7DWlj99KOF/cg==",
                                             &c, &why), -1);
    ck_assert_int_eq(pool_tus_parse_checksum(p, NULL, &c, &why), -1);
}
END_TEST

START_TEST(checksum_hash)
{
    static const char *const sums[] = {
        "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        "sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        "md5 kAFQmDzST7DWlj99KOF/cg==",
        NULL
    };
    int i;

    for (i = 0; sums[i]; i++) {
        pool_tus_checksum_t c;
        const char *why;
        pool_tus_hash *h;

        ck_assert_int_eq(pool_tus_parse_checksum(p, sums[i], &c, &why), 0);
        h = pool_tus_hash_new(p, c.algo);
        ck_assert_ptr_nonnull(h);
        pool_tus_hash_update(h, "a", 1);
        pool_tus_hash_update(h, "", 0);
        pool_tus_hash_update(h, "bc", 2);
        ck_assert_msg(pool_tus_hash_matches(h, &c), "%s", sums[i]);
        h = pool_tus_hash_new(p, c.algo);
        pool_tus_hash_update(h, "abd", 3);
        ck_assert_msg(!pool_tus_hash_matches(h, &c), "%s", sums[i]);
    }
}
END_TEST

/* ------------------------------------------------------------- concat */

START_TEST(concat_parse)
{
    pool_tus_concat_kind k = POOL_TUS_CONCAT_NONE;
    apr_array_header_t *urls = NULL;

    ck_assert_ptr_null(pool_tus_parse_concat(p, "partial", &k, &urls));
    ck_assert_int_eq(k, POOL_TUS_CONCAT_PARTIAL);
    ck_assert_ptr_null(urls);
    ck_assert_ptr_null(pool_tus_parse_concat(p, "final;/a/b http://h/c/d", &k,
                                             &urls));
    ck_assert_int_eq(k, POOL_TUS_CONCAT_FINAL);
    ck_assert_int_eq(urls->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(urls, 0, const char *), "/a/b");
    ck_assert_str_eq(APR_ARRAY_IDX(urls, 1, const char *), "http://h/c/d");
    ck_assert_ptr_null(pool_tus_parse_concat(p, "final; /a   /b ", &k, &urls));
    ck_assert_int_eq(urls->nelts, 2);

    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "final;", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "final; ", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "final", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "Partial", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "partial;x", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "final:/a", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "final;/a\t/b", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "final;/\xc3\xa9", &k,
                                                &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, "", &k, &urls));
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, NULL, &k, &urls));
}
END_TEST

START_TEST(concat_limits)
{
    pool_tus_concat_kind k;
    apr_array_header_t *urls;
    const char *h = "final;";
    char *longurl;
    int i;

    for (i = 0; i < POOL_TUS_CONCAT_MAX; i++) {
        h = apr_psprintf(p, "%s /u%d", h, i);
    }
    ck_assert_ptr_null(pool_tus_parse_concat(p, h, &k, &urls));
    ck_assert_int_eq(urls->nelts, POOL_TUS_CONCAT_MAX);
    h = apr_pstrcat(p, h, " /one-more", NULL);
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, h, &k, &urls));
    longurl = apr_palloc(p, 3000);
    memset(longurl, 'a', 2999);
    longurl[0] = '/';
    longurl[2999] = '\0';
    ck_assert_ptr_nonnull(pool_tus_parse_concat(p, apr_pstrcat(p, "final;",
                                                longurl, NULL), &k, &urls));
}
END_TEST

START_TEST(part_id)
{
    const char *id = "0b2b9f63-8a7e-4c4b-9a34-2d1f5a0e7c11";
    const char *pool = "demo";

    ck_assert_str_eq(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/demo/uploads/", id, NULL), pool), id);
    ck_assert_str_eq(pool_tus_part_id(p, apr_pstrcat(p,
        "http://127.0.0.1:8080/pool/v1/pools/demo/uploads/", id, NULL), pool),
        id);
    ck_assert_str_eq(pool_tus_part_id(p, apr_pstrcat(p,
        "HTTPS://example.org/v1/pools/demo/uploads/", id, NULL), pool), id);

    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/other/uploads/", id, NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/xdemo/uploads/", id, NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/demo/files/", id, NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/demo/uploads/", id, "?x=1", NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/demo/uploads/", id, "#f", NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "/pool/v1/pools/demo/uploads/", id, "/", NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p,
        "/pool/v1/pools/demo/uploads/0B2B9F63-8A7E-4C4B-9A34-2D1F5A0E7C11",
        pool));
    ck_assert_ptr_null(pool_tus_part_id(p,
        "/pool/v1/pools/demo/uploads/not-a-uuid", pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "pool/v1/pools/demo/uploads/", id, NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, apr_pstrcat(p,
        "http:///v1/pools/demo/uploads/", id, NULL), pool));
    ck_assert_ptr_null(pool_tus_part_id(p, "http://host", pool));
    ck_assert_ptr_null(pool_tus_part_id(p, id, pool));
    ck_assert_ptr_null(pool_tus_part_id(p, NULL, pool));
}
END_TEST

/* --------------------------------------------------------------- CORS */

START_TEST(cors)
{
    const char *list = "http://app.example https://b.example:8443";

    ck_assert(pool_cors_allowed(list, "http://app.example"));
    ck_assert(pool_cors_allowed(list, "HTTP://APP.EXAMPLE"));
    ck_assert(pool_cors_allowed(list, "https://b.example:8443"));
    ck_assert(!pool_cors_allowed(list, "https://app.example"));
    ck_assert(!pool_cors_allowed(list, "http://app.example:80"));
    ck_assert(!pool_cors_allowed(list, "http://app.exampl"));
    ck_assert(!pool_cors_allowed(list, "http://app.example.evil"));
    ck_assert(!pool_cors_allowed(list, "https://b.example"));
    ck_assert(!pool_cors_allowed(list, ""));
    ck_assert(!pool_cors_allowed(list, NULL));
    ck_assert(!pool_cors_allowed(NULL, "http://app.example"));
    ck_assert(pool_cors_allowed("*", "http://any.example"));
    ck_assert(pool_cors_allowed("http://a.example *", "null"));
}
END_TEST

/* ---------------------------------------------------------- directives */

START_TEST(directives)
{
    pool_conf_t c;

    pool_conf_defaults(&c);
    ck_assert_int_eq(c.upload_expiry, 86400);
    ck_assert_ptr_null(c.cors_origins);

    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolUploadExpiry", "1"));
    ck_assert_int_eq(c.upload_expiry, 1);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolUploadExpiry", "604800"));
    ck_assert_int_eq(c.upload_expiry, 604800);
    ck_assert_ptr_nonnull(strstr(pool_conf_set(p, &c, "PoolUploadExpiry", "0"),
                                 "PoolUploadExpiry"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolUploadExpiry", "1d"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolUploadExpiry", "-5"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolUploadExpiry",
                                        "31536001"));
    ck_assert_int_eq(c.upload_expiry, 604800);

    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolCORSOrigins",
                                     "https://app.example http://h:8080"));
    ck_assert_str_eq(c.cors_origins, "https://app.example http://h:8080");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolCORSOrigins", "*"));
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolCORSOrigins",
                                     "http://[::1]:3000"));
    ck_assert_ptr_nonnull(strstr(pool_conf_set(p, &c, "PoolCORSOrigins",
                                               "https://app.example/"),
                                 "PoolCORSOrigins"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolCORSOrigins",
                                        "app.example"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolCORSOrigins",
                                        "ftp://app.example"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolCORSOrigins",
                                        "https://app.example/path"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolCORSOrigins",
                                        "https://a.example:"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolCORSOrigins",
                                        "https://u@a.example"));
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolCORSOrigins", "  "));
    ck_assert_str_eq(c.cors_origins, "http://[::1]:3000");
}
END_TEST

START_TEST(directives_read)
{
    char path[] = "/tmp/pool_tus_conf.XXXXXX";
    const char *err = NULL;
    pool_conf_t c;
    FILE *f;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("PoolDatabase \"dbname=x\"\n"
          "PoolUploadExpiry 3600\n"
          "PoolCORSOrigins https://a.example \"http://b.example:81\"\n", f);
    fclose(f);
    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_int_eq(c.upload_expiry, 3600);
    ck_assert_str_eq(c.cors_origins, "https://a.example http://b.example:81");

    f = fopen(path, "w");
    fputs("PoolDatabase \"dbname=x\"\nPoolCORSOrigins https://a.example "
          "nope\n", f);
    fclose(f);
    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "PoolCORSOrigins"));
    ck_assert_ptr_nonnull(strstr(err, ":2:"));
    unlink(path);
}
END_TEST

Suite *suite_tus(void)
{
    Suite *s = suite_create("tus");
    TCase *tc = tcase_create("headers");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, size_good);
    tcase_add_test(tc, size_bad);
    tcase_add_test(tc, metadata_good);
    tcase_add_test(tc, metadata_bad);
    tcase_add_test(tc, fields_good);
    tcase_add_test(tc, fields_bad);
    tcase_add_test(tc, checksum_parse);
    tcase_add_test(tc, checksum_hash);
    tcase_add_test(tc, concat_parse);
    tcase_add_test(tc, concat_limits);
    tcase_add_test(tc, part_id);
    tcase_add_test(tc, cors);
    suite_add_tcase(s, tc);

    tc = tcase_create("directives");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, directives);
    tcase_add_test(tc, directives_read);
    suite_add_tcase(s, tc);
    return s;
}
