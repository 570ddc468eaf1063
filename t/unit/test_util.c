/* pool_util: base64/base64url (RFC 4648 vectors, strictness), hex,
 * constant-time comparison, UUIDs, SHA-256 and HMAC-SHA256 (RFC 4231). */
#include <stdio.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_util.h"
#include "pool_log.h"
#include "pool_sha.h"
#include "pool_filecache.h"
#include "pool_digest.h"

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

/* RFC 4648 section 10 */
static const struct {
    const char *plain, *b64, *b64url;
} rfc4648[] = {
    { "", "", "" },
    { "f", "Zg==", "Zg" },
    { "fo", "Zm8=", "Zm8" },
    { "foo", "Zm9v", "Zm9v" },
    { "foob", "Zm9vYg==", "Zm9vYg" },
    { "fooba", "Zm9vYmE=", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static void unhex(const char *hex, unsigned char *out)
{
    size_t i, n = strlen(hex) / 2;
    for (i = 0; i < n; i++) {
        unsigned int v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

START_TEST(b64_encode_vectors)
{
    size_t i;
    for (i = 0; i < NVEC; i++) {
        const unsigned char *d = (const unsigned char *)rfc4648[i].plain;
        size_t n = strlen(rfc4648[i].plain);
        ck_assert_str_eq(pool_b64_encode(p, d, n), rfc4648[i].b64);
        ck_assert_str_eq(pool_b64url_encode(p, d, n), rfc4648[i].b64url);
    }
}
END_TEST

START_TEST(b64_decode_vectors)
{
    size_t i;
    for (i = 0; i < NVEC; i++) {
        unsigned char *out = NULL;
        apr_ssize_t n;

        n = pool_b64_decode(p, rfc4648[i].b64, strlen(rfc4648[i].b64), &out);
        ck_assert_int_eq(n, (apr_ssize_t)strlen(rfc4648[i].plain));
        ck_assert(memcmp(out, rfc4648[i].plain, n) == 0);
        ck_assert_int_eq(out[n], 0);

        out = NULL;
        n = pool_b64url_decode(p, rfc4648[i].b64url,
                               strlen(rfc4648[i].b64url), &out);
        ck_assert_int_eq(n, (apr_ssize_t)strlen(rfc4648[i].plain));
        ck_assert(memcmp(out, rfc4648[i].plain, n) == 0);
        ck_assert_int_eq(out[n], 0);
    }
}
END_TEST

START_TEST(b64_alphabets)
{
    /* 0xfb 0xff uses the two characters where the alphabets differ */
    static const unsigned char d[] = { 0xfb, 0xff, 0xbf };
    unsigned char *out;

    ck_assert_str_eq(pool_b64_encode(p, d, 3), "+/+/");
    ck_assert_str_eq(pool_b64url_encode(p, d, 3), "-_-_");
    ck_assert_str_eq(pool_b64_encode(p, d, 2), "+/8=");
    ck_assert_str_eq(pool_b64url_encode(p, d, 2), "-_8");
    ck_assert_int_eq(pool_b64_decode(p, "+/+/", 4, &out), 3);
    ck_assert(memcmp(out, d, 3) == 0);
    ck_assert_int_eq(pool_b64url_decode(p, "-_-_", 4, &out), 3);
    ck_assert(memcmp(out, d, 3) == 0);
    /* each alphabet rejects the other's characters */
    ck_assert_int_eq(pool_b64_decode(p, "-_-_", 4, &out), -1);
    ck_assert_int_eq(pool_b64url_decode(p, "+/+/", 4, &out), -1);
}
END_TEST

START_TEST(b64url_round_trips)
{
    unsigned char d[130];
    size_t n;

    ck_assert_int_eq(pool_random(d, sizeof(d)), APR_SUCCESS);
    for (n = 0; n <= sizeof(d); n++) {
        unsigned char *out = NULL;
        char *e = pool_b64url_encode(p, d, n);
        char *e2 = pool_b64_encode(p, d, n);

        ck_assert_uint_eq(strlen(e), (n * 4 + 2) / 3);
        ck_assert_ptr_null(strchr(e, '='));
        ck_assert_int_eq(pool_b64url_decode(p, e, strlen(e), &out),
                         (apr_ssize_t)n);
        ck_assert(n == 0 || memcmp(out, d, n) == 0);
        ck_assert_uint_eq(strlen(e2) % 4, 0);
        ck_assert_int_eq(pool_b64_decode(p, e2, strlen(e2), &out),
                         (apr_ssize_t)n);
        ck_assert(n == 0 || memcmp(out, d, n) == 0);
    }
}
END_TEST

START_TEST(b64_strict_rejections)
{
    static const char *const bad[] = {
        "Zg=",          /* length not a multiple of 4 */
        "Zg",           /* padding missing */
        "Zm8",
        "Zh==",         /* non-canonical trailing bits */
        "Zm9=",
        "Z===",         /* too much padding */
        "====",
        "Zg==Zg==",     /* padding in the middle */
        "Zm=v",
        "Zm9v=",        /* padding after a full group */
        "Zm9vZm9v==",
        "Zm9vYg=",
        "Zm9v\n",
        "Zm9\n",
        " Zm9v",
        "Zm9 ",
        "Zm-v",         /* base64url characters */
        "Zm_v",
        "Zm9v*A==",
        "Zm9vYg=\x01",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char *out = NULL;
        ck_assert_msg(pool_b64_decode(p, bad[i], strlen(bad[i]), &out) == -1,
                      "accepted base64 \"%s\"", bad[i]);
    }
}
END_TEST

START_TEST(b64url_strict_rejections)
{
    static const char *const bad[] = {
        "Zg==",         /* no padding in base64url */
        "Zm8=",
        "Zg=",
        "=",
        "Z",            /* impossible length */
        "Zm9vY",
        "Zh",           /* non-canonical trailing bits */
        "Zm9",
        "Zm+v",         /* standard alphabet */
        "Zm/v",
        "Zm 9",
        "Zm9v\r",
        "Zm.v",
        "Zm9v\xc3\xa9",
    };
    size_t i;
    unsigned char *out = NULL;
    unsigned char buf[8];

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_b64url_decode(p, bad[i], strlen(bad[i]), &out) == -1,
                      "accepted base64url \"%s\"", bad[i]);
        ck_assert_msg(pool_b64url_decode_buf(bad[i], strlen(bad[i]), buf,
                                             sizeof(buf)) == -1,
                      "accepted base64url \"%s\" (buf)", bad[i]);
    }
    /* an embedded NUL counted in slen is not part of the alphabet */
    ck_assert_int_eq(pool_b64url_decode(p, "Zm9v\0AAA", 8, &out), -1);
    /* slen is honoured: only the first 4 characters are decoded */
    ck_assert_int_eq(pool_b64url_decode(p, "Zm9v!!!!", 4, &out), 3);
    ck_assert_str_eq((char *)out, "foo");
}
END_TEST

START_TEST(b64url_decode_buf_limits)
{
    unsigned char buf[6];

    memset(buf, 0xee, sizeof(buf));
    ck_assert_int_eq(pool_b64url_decode_buf("Zm9vYmFy", 8, buf, 6), 6);
    ck_assert(memcmp(buf, "foobar", 6) == 0);
    ck_assert_int_eq(pool_b64url_decode_buf("Zm9vYmFy", 8, buf, 5), -1);
    ck_assert_int_eq(pool_b64url_decode_buf("Zm9vYmE", 7, buf, 5), 5);
    ck_assert(memcmp(buf, "fooba", 5) == 0);
    ck_assert_int_eq(pool_b64url_decode_buf("", 0, buf, 0), 0);
    ck_assert_int_eq(pool_b64url_decode_buf(NULL, 0, buf, 6), -1);
}
END_TEST

START_TEST(hex_encode)
{
    static const unsigned char d[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
    ck_assert_str_eq(pool_hex(p, d, sizeof(d)), "0001abcdefff");
    ck_assert_str_eq(pool_hex(p, d, 0), "");
}
END_TEST

START_TEST(ct_equal)
{
    ck_assert_int_eq(pool_ct_equal("abcdef", "abcdef", 6), 1);
    ck_assert_int_eq(pool_ct_equal("abcdef", "abcdeg", 6), 0);
    ck_assert_int_eq(pool_ct_equal("xbcdef", "abcdef", 6), 0);
    ck_assert_int_eq(pool_ct_equal("abcdef", "abcdeg", 5), 1);
    ck_assert_int_eq(pool_ct_equal("a", "b", 0), 1);
}
END_TEST

START_TEST(random_bytes)
{
    unsigned char a[32], b[32];

    ck_assert_int_eq(pool_random(a, sizeof(a)), APR_SUCCESS);
    ck_assert_int_eq(pool_random(b, sizeof(b)), APR_SUCCESS);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert_int_eq(pool_random(a, 0), APR_SUCCESS);
}
END_TEST

START_TEST(uuid_format)
{
    int i;

    for (i = 0; i < 64; i++) {
        char *u = pool_uuid(p), *v = pool_uuid(p);
        int j;

        ck_assert_ptr_nonnull(u);
        ck_assert_uint_eq(strlen(u), 36);
        for (j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23) {
                ck_assert_int_eq(u[j], '-');
            }
            else {
                ck_assert_ptr_nonnull(strchr("0123456789abcdef", u[j]));
            }
        }
        ck_assert_int_eq(u[14], '4');                   /* version 4 */
        ck_assert_ptr_nonnull(strchr("89ab", u[19]));   /* variant */
        ck_assert_int_eq(pool_uuid_valid(u), 1);
        ck_assert_str_ne(u, v);
    }
}
END_TEST

START_TEST(uuid_valid)
{
    static const char *const bad[] = {
        "123E4567-e89b-42d3-a456-426614174000",     /* upper case */
        "123e4567e89b-42d3-a456-426614174000-",     /* hyphen misplaced */
        "123e4567-e89b-42d3-a456-42661417400",      /* short */
        "123e4567-e89b-42d3-a456-4266141740000",    /* long */
        "123e4567-e89b-42d3-a456-42661417400g",
        "{23e4567-e89b-42d3-a456-426614174000",
        "",
    };
    size_t i;

    ck_assert_int_eq(pool_uuid_valid("123e4567-e89b-42d3-a456-426614174000"),
                     1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_uuid_valid(bad[i]) == 0, "accepted %s", bad[i]);
    }
    ck_assert_int_eq(pool_uuid_valid(NULL), 0);
}
END_TEST

START_TEST(sha256_vectors)
{
    unsigned char md[32];

    pool_sha256("abc", 3, md);
    ck_assert_str_eq(pool_hex(p, md, 32),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pool_sha256("", 0, md);
    ck_assert_str_eq(pool_hex(p, md, 32),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(hmac_sha256_rfc4231)
{
    unsigned char key[131], md[32], want[32];

    /* test case 1 */
    memset(key, 0x0b, 20);
    pool_hmac_sha256(key, 20, "Hi There", 8, md);
    unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
          want);
    ck_assert(memcmp(md, want, 32) == 0);

    /* test case 2 */
    pool_hmac_sha256((const unsigned char *)"Jefe", 4,
                     "what do ya want for nothing?", 28, md);
    ck_assert_str_eq(pool_hex(p, md, 32),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* test case 6: key longer than the block size */
    memset(key, 0xaa, sizeof(key));
    pool_hmac_sha256(key, sizeof(key),
                     "Test Using Larger Than Block-Size Key - Hash Key First",
                     54, md);
    ck_assert_str_eq(pool_hex(p, md, 32),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

/* ------------------------------------------------------------------- log */

typedef struct {
    int calls, level;
    char msg[4096];
} log_capture;

static void capture(void *baton, int level, const char *msg)
{
    log_capture *c = baton;

    c->calls++;
    c->level = level;
    snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

START_TEST(log_callback)
{
    log_capture c;
    char big[3000];

    memset(&c, 0, sizeof(c));
    pool_log(POOL_LOG_ERR, "dropped %d", 1);            /* no callback yet */
    pool_log_set(capture, &c);
    pool_log(POOL_LOG_WARN, "file %s: %zu bytes, %lld ms, %5.1f%%", "a.txt",
             (size_t)42, (long long)-7, 99.5);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.level, POOL_LOG_WARN);
    ck_assert_str_eq(c.msg, "file a.txt: 42 bytes, -7 ms,  99.5%");
    /* long messages are truncated, not overflowed */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pool_log(POOL_LOG_DEBUG, "%s", big);
    ck_assert_int_eq(c.calls, 2);
    ck_assert_int_eq(c.level, POOL_LOG_DEBUG);
    ck_assert_uint_gt(strlen(c.msg), 1000);
    ck_assert_uint_lt(strlen(c.msg), sizeof(big) - 1);
    pool_log_set(NULL, NULL);
    pool_log(POOL_LOG_ERR, "dropped again");
    ck_assert_int_eq(c.calls, 2);
}
END_TEST

/* A SHA-256 saved and loaded between chunks gives the one-shot digest;
 * damaged states are refused, never used. */
START_TEST(sha_run_saved_between_chunks)
{
    char data[100000];
    unsigned char want[32], got[32];
    pool_sha_run *h = pool_sha_run_new(p);
    const char *saved;
    apr_size_t i, off = 0;
    static const apr_size_t cuts[] = { 1, 63, 64, 65, 1000, 8000, 30000 };

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (char)(i * 7 + i / 256);
    }
    pool_sha256(data, sizeof(data), want);
    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        pool_sha_run_update(h, data + off, cuts[i]);
        off += cuts[i];
        saved = pool_sha_run_save(p, h);
        h = pool_sha_run_load(p, saved);
        ck_assert_ptr_nonnull(h);
    }
    pool_sha_run_update(h, data + off, sizeof(data) - off);
    pool_sha_run_final(h, got);
    ck_assert_mem_eq(got, want, 32);
    /* final does not end the run */
    pool_sha_run_final(h, got);
    ck_assert_mem_eq(got, want, 32);
}
END_TEST

START_TEST(sha_run_refuses_bad_states)
{
    pool_sha_run *h = pool_sha_run_new(p);
    const char *good = pool_sha_run_save(p, h);
    char *bad;
    apr_size_t n = strlen(good);

    ck_assert_ptr_nonnull(pool_sha_run_load(p, good));
    ck_assert_ptr_null(pool_sha_run_load(p, NULL));
    ck_assert_ptr_null(pool_sha_run_load(p, ""));
    ck_assert_ptr_null(pool_sha_run_load(p, "s256v2:1:00"));
    ck_assert_ptr_null(pool_sha_run_load(p, "s256v1:1:00"));
    ck_assert_ptr_null(pool_sha_run_load(p, apr_pstrndup(p, good, n - 2)));
    bad = apr_pstrdup(p, good);
    bad[n - 1] = 'g';
    ck_assert_ptr_null(pool_sha_run_load(p, bad));
    bad = apr_pstrcat(p, good, "00", NULL);
    ck_assert_ptr_null(pool_sha_run_load(p, bad));
}
END_TEST

/* The download row cache: found by (pool, id) only, copies, expiry,
 * replacement in a slot, drop. */
START_TEST(filecache_basics)
{
    pool_filecache_t *fc = pool_filecache_create(p, 8, apr_time_from_sec(60));
    pool_filecache_t *stale = pool_filecache_create(p, 8, 0);
    pool_file_t f, *got = NULL;
    char name[] = "report.pdf";
    int i;

    ck_assert_ptr_null(pool_filecache_create(p, 0, 1));
    memset(&f, 0, sizeof(f));
    f.id = "0b6f3c5e-8a51-4a8e-9a3e-6c9f7c6d2b10";
    f.pool = "alpha";
    f.client_id = "cl_1";
    f.name = name;
    f.size = 12345;
    f.sha256 = "ab";
    f.content_type = "application/pdf";
    f.received_at = NULL;
    f.seq = 7;
    ck_assert_int_eq(pool_filecache_get(fc, p, "alpha", f.id, &got), 0);
    pool_filecache_put(fc, &f);
    name[0] = 'X';              /* the cache holds its own copy */
    ck_assert_int_eq(pool_filecache_get(fc, p, "alpha", f.id, &got), 1);
    ck_assert_str_eq(got->name, "report.pdf");
    ck_assert_int_eq(got->size, 12345);
    ck_assert_int_eq(got->seq, 7);
    ck_assert_ptr_null(got->received_at);
    /* never through another pool */
    ck_assert_int_eq(pool_filecache_get(fc, p, "beta", f.id, &got), 0);
    pool_filecache_drop(fc, "beta", f.id);
    ck_assert_int_eq(pool_filecache_get(fc, p, "alpha", f.id, &got), 1);
    pool_filecache_drop(fc, "alpha", f.id);
    ck_assert_int_eq(pool_filecache_get(fc, p, "alpha", f.id, &got), 0);
    /* expired at once */
    pool_filecache_put(stale, &f);
    ck_assert_int_eq(pool_filecache_get(stale, p, "alpha", f.id, &got), 0);
    /* more rows than slots: each found or replaced, never mixed up */
    for (i = 0; i < 100; i++) {
        pool_file_t g = f;
        g.id = apr_psprintf(p, "%08d-8a51-4a8e-9a3e-6c9f7c6d2b10", i);
        g.size = i;
        pool_filecache_put(fc, &g);
    }
    for (i = 0; i < 100; i++) {
        const char *id = apr_psprintf(p, "%08d-8a51-4a8e-9a3e-6c9f7c6d2b10",
                                      i);
        if (pool_filecache_get(fc, p, "alpha", id, &got)) {
            ck_assert_str_eq(got->id, id);
            ck_assert_int_eq(got->size, i);
        }
    }
}
END_TEST

/* the sha-256 of {"hello": "world"}\n (sha256sum; base64 by openssl) */
START_TEST(digest_field)
{
    const char *hex =
        "44aff4ab2d7c3250525675a08f0cfa9591168cffe51791c5f5bbc417c15a6c38";
    unsigned char bin[32];

    pool_sha256("{\"hello\": \"world\"}\n", 19, bin);
    ck_assert_str_eq(pool_hex(p, bin, 32), hex);
    ck_assert_str_eq(pool_digest_field(p, hex),
                     "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:");
    ck_assert_ptr_null(pool_digest_field(p, NULL));
    ck_assert_ptr_null(pool_digest_field(p, "abc"));
    ck_assert_ptr_null(pool_digest_field(p, apr_pstrcat(p, "zz", hex + 2,
                                                        NULL)));
    ck_assert_ptr_null(pool_digest_field(p, apr_pstrcat(p, hex, "0", NULL)));
    /* the ETag: the same base64, quoted, short enough for litmus's If */
    ck_assert_str_eq(pool_digest_etag(p, hex),
                     "\"RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=\"");
    ck_assert_int_eq(strlen(pool_digest_etag(p, hex)), 46);
    ck_assert_ptr_null(pool_digest_etag(p, "abc"));
    ck_assert_ptr_null(pool_digest_etag(p, NULL));
}
END_TEST

START_TEST(digest_wanted)
{
    ck_assert_int_eq(pool_digest_sha256_wanted(NULL), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted(""), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-256=1"), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-512=3, sha-256=10"), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-512=3"), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-256"), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-256=0"), 0);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-512=3,sha-256=0"), 0);
    ck_assert_int_eq(pool_digest_sha256_wanted("SHA-256 = 00 ;x"), 0);
    ck_assert_int_eq(pool_digest_sha256_wanted("sha-2560=0"), 1);
    ck_assert_int_eq(pool_digest_sha256_wanted("=,,=0"), 1);
}
END_TEST

Suite *suite_util(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("base64");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, b64_encode_vectors);
    tcase_add_test(tc, b64_decode_vectors);
    tcase_add_test(tc, b64_alphabets);
    tcase_add_test(tc, b64url_round_trips);
    tcase_add_test(tc, b64_strict_rejections);
    tcase_add_test(tc, b64url_strict_rejections);
    tcase_add_test(tc, b64url_decode_buf_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("misc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hex_encode);
    tcase_add_test(tc, ct_equal);
    tcase_add_test(tc, random_bytes);
    tcase_add_test(tc, uuid_format);
    tcase_add_test(tc, uuid_valid);
    tcase_add_test(tc, log_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("digests");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sha256_vectors);
    tcase_add_test(tc, hmac_sha256_rfc4231);
    tcase_add_test(tc, sha_run_saved_between_chunks);
    tcase_add_test(tc, sha_run_refuses_bad_states);
    tcase_add_test(tc, filecache_basics);
    tcase_add_test(tc, digest_field);
    tcase_add_test(tc, digest_wanted);
    suite_add_tcase(s, tc);
    return s;
}
