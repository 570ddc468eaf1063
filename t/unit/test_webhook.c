/* pool_webhook: Standard Webhooks signatures (vectors computed with
 * Python's hmac/base64), secrets, verification, event names, backoff and
 * Retry-After. */
#include <string.h>

#include <apr_pools.h>
#include <apr_time.h>

#include "unit.h"
#include "pool_util.h"
#include "pool_webhook.h"

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

/* The example of the Standard Webhooks reference libraries (a 24-byte key),
 * checked with: base64.b64encode(hmac.new(base64.b64decode(KEY),
 * b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + BODY, sha256).digest()) */
#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS     1614265330
#define SPEC_BODY   "{\"test\": 2432232314}"
#define SPEC_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* Our own: key = bytes 0..31, a delivery-shaped id and body. */
#define OWN_SECRET  "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define OWN_ID      "0b9e6a52-3c7d-4f4e-9a55-1c2d3e4f5a6b"
#define OWN_TS      1795256100
#define OWN_BODY    "{\"data\":{\"n\":1},\"timestamp\":\"2026-11-21T10:15:00Z\"," \
                    "\"type\":\"webhook.test\"}"
#define OWN_SIG     "v1,+dA90pn1DvuZ6XO8RnqgQ3Z0AS8Rhr3L6D3foAHeXcw="

START_TEST(sign_known_vectors)
{
    const char *err = NULL, *sig;

    sig = pool_webhook_sign(p, SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY,
                            strlen(SPEC_BODY), &err);
    ck_assert_ptr_nonnull(sig);
    ck_assert_str_eq(sig, SPEC_SIG);
    sig = pool_webhook_sign(p, OWN_SECRET, OWN_ID, OWN_TS, OWN_BODY,
                            strlen(OWN_BODY), &err);
    ck_assert_ptr_nonnull(sig);
    ck_assert_str_eq(sig, OWN_SIG);
}
END_TEST

START_TEST(sign_depends_on_every_part)
{
    const char *err = NULL, *a, *b;

    a = pool_webhook_sign(p, OWN_SECRET, OWN_ID, OWN_TS, OWN_BODY,
                          strlen(OWN_BODY), &err);
    b = pool_webhook_sign(p, OWN_SECRET, OWN_ID, OWN_TS + 1, OWN_BODY,
                          strlen(OWN_BODY), &err);
    ck_assert_str_ne(a, b);
    b = pool_webhook_sign(p, OWN_SECRET, "0b9e6a52-3c7d-4f4e-9a55-1c2d3e4f5a6c",
                          OWN_TS, OWN_BODY, strlen(OWN_BODY), &err);
    ck_assert_str_ne(a, b);
    b = pool_webhook_sign(p, OWN_SECRET, OWN_ID, OWN_TS, OWN_BODY,
                          strlen(OWN_BODY) - 1, &err);
    ck_assert_str_ne(a, b);
    b = pool_webhook_sign(p, SPEC_SECRET, OWN_ID, OWN_TS, OWN_BODY,
                          strlen(OWN_BODY), &err);
    ck_assert_str_ne(a, b);
    /* an empty body is signed too */
    ck_assert_ptr_nonnull(pool_webhook_sign(p, OWN_SECRET, OWN_ID, OWN_TS, "",
                                            0, &err));
}
END_TEST

START_TEST(secret_new_shape)
{
    const char *s = pool_webhook_secret_new(p), *t = pool_webhook_secret_new(p);
    const unsigned char *key;
    apr_size_t keylen;

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(strncmp(s, "whsec_", 6), 0);
    ck_assert_uint_eq(strlen(s), 6 + 44);
    ck_assert_str_ne(s, t);
    ck_assert_ptr_null(pool_webhook_secret_key(p, s, &key, &keylen));
    ck_assert_uint_eq(keylen, 32);
}
END_TEST

START_TEST(secret_malformed)
{
    static const char *bad[] = {
        "",
        "whsec_",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",             /* no prefix */
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",       /* wrong case */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",        /* bad length */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS*",       /* outside alphabet */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",      /* trailing space */
        "whsec_MfKQ9r8G_YqrTwjUPD8ILPZIo2LaLaSw",       /* base64url char */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMU",           /* 21 bytes: short */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
        "LS4vMDEyMzQ1Njc4OTo7PD0+P0A=",                 /* 65 bytes: long */
    };
    const unsigned char *key;
    apr_size_t keylen, i;
    const char *err;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_webhook_secret_key(p, bad[i], &key, &keylen) != NULL,
                      "accepted %s", bad[i]);
        err = NULL;
        ck_assert_ptr_null(pool_webhook_sign(p, bad[i], OWN_ID, OWN_TS, "x",
                                             1, &err));
        ck_assert_ptr_nonnull(err);
    }
    ck_assert_ptr_nonnull(pool_webhook_secret_key(p, NULL, &key, &keylen));
    err = NULL;
    ck_assert_ptr_null(pool_webhook_sign(p, OWN_SECRET, "", OWN_TS, "x", 1,
                                         &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(verify_roundtrip_and_tampering)
{
    const char *ts = "1795256100";

    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
                                         strlen(OWN_BODY), OWN_SIG, 0, 0), 1);
    /* one of several signatures (as during a secret rotation) */
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), "v1,AAAA " OWN_SIG "  v2,zzz", 0, 0), 1);
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, "1795256101",
        OWN_BODY, strlen(OWN_BODY), OWN_SIG, 0, 0), 0);
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY) - 1, OWN_SIG, 0, 0), 0);
    ck_assert_int_eq(pool_webhook_verify(p, SPEC_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), OWN_SIG, 0, 0), 0);
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), OWN_SIG + 3, 0, 0), 0);        /* no "v1," */
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), "v1,", 0, 0), 0);
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, "-5", OWN_BODY,
        strlen(OWN_BODY), OWN_SIG, 0, 0), 0);
    ck_assert_int_eq(pool_webhook_verify(p, "whsec_x", OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), OWN_SIG, 0, 0), 0);
    /* tolerance */
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), OWN_SIG, 1795256100 + 299, 300), 1);
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), OWN_SIG, 1795256100 + 301, 300), 0);
    ck_assert_int_eq(pool_webhook_verify(p, OWN_SECRET, OWN_ID, ts, OWN_BODY,
        strlen(OWN_BODY), OWN_SIG, 1795256100 - 301, 300), 0);
}
END_TEST

START_TEST(event_names)
{
    ck_assert_ptr_null(pool_webhook_event_check("webhook.test"));
    ck_assert_ptr_null(pool_webhook_event_check("result.published"));
    ck_assert_ptr_null(pool_webhook_event_check("import.done_2-x"));
    ck_assert_ptr_nonnull(pool_webhook_event_check(NULL));
    ck_assert_ptr_nonnull(pool_webhook_event_check(""));
    ck_assert_ptr_nonnull(pool_webhook_event_check(".x"));
    ck_assert_ptr_nonnull(pool_webhook_event_check("Webhook.test"));
    ck_assert_ptr_nonnull(pool_webhook_event_check("a b"));
    ck_assert_ptr_nonnull(pool_webhook_event_check("a\"b"));
}
END_TEST

START_TEST(backoff_schedule)
{
    static const int base[] = { 30, 120, 600, 1800, 3600, 7200, 14400, 28800,
                                28800 };
    long total = 0;
    int i, k;

    for (i = 1; i < POOL_DELIVERY_MAX_ATTEMPTS; i++) {
        for (k = 0; k < 50; k++) {
            int w = pool_delivery_backoff(i);
            ck_assert_int_ge(w, base[i - 1] - base[i - 1] / 10);
            ck_assert_int_le(w, base[i - 1] + base[i - 1] / 10);
        }
        total += base[i - 1];
    }
    /* about a day in all */
    ck_assert_int_ge(total, 20 * 3600);
    ck_assert_int_le(total, 26 * 3600);
    ck_assert_int_eq(pool_delivery_backoff(POOL_DELIVERY_MAX_ATTEMPTS), 0);
    ck_assert_int_eq(pool_delivery_backoff(POOL_DELIVERY_MAX_ATTEMPTS + 5), 0);
}
END_TEST

START_TEST(retry_after_values)
{
    /* Sun, 22 Nov 2026 00:00:00 GMT = 1795305600 */
    const apr_int64_t now = 1795305600;

    ck_assert_int_eq(pool_retry_after_parse("120", now), 120);
    ck_assert_int_eq(pool_retry_after_parse("  7 ", now), 7);
    ck_assert_int_eq(pool_retry_after_parse("0", now), -1);
    ck_assert_int_eq(pool_retry_after_parse("999999", now), 86400);
    ck_assert_int_eq(pool_retry_after_parse("99999999999999999999", now),
                     86400);
    ck_assert_int_eq(pool_retry_after_parse("Sun, 22 Nov 2026 01:00:00 GMT",
                                            now), 3600);
    ck_assert_int_eq(pool_retry_after_parse("Sat, 21 Nov 2026 23:00:00 GMT",
                                            now), -1);
    ck_assert_int_eq(pool_retry_after_parse("Mon, 30 Nov 2026 00:00:00 GMT",
                                            now), 86400);
    ck_assert_int_eq(pool_retry_after_parse("-5", now), -1);
    ck_assert_int_eq(pool_retry_after_parse("soon", now), -1);
    ck_assert_int_eq(pool_retry_after_parse("", now), -1);
    ck_assert_int_eq(pool_retry_after_parse(NULL, now), -1);
}
END_TEST

Suite *suite_webhook(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("standard-webhooks");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sign_known_vectors);
    tcase_add_test(tc, sign_depends_on_every_part);
    tcase_add_test(tc, secret_new_shape);
    tcase_add_test(tc, secret_malformed);
    tcase_add_test(tc, verify_roundtrip_and_tampering);
    tcase_add_test(tc, event_names);
    tcase_add_test(tc, backoff_schedule);
    tcase_add_test(tc, retry_after_values);
    suite_add_tcase(s, tc);
    return s;
}
