/* pool_settings: durations, every range's edges, offset against window,
 * unknown, duplicate and malformed pairs, resets, URL checks, the stored
 * JSON (round trip, unrelated keys kept) and the effective settings. */
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "pool_settings.h"

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

/* Applies the NULL-terminated pairs to cur; the new JSON, or NULL with
 * *why and *bad. */
static const char *apply_v(const char *cur, int *url, const char **why,
                           const char **bad, const char *const *pairs)
{
    const char *out = (const char *)1, *b = (const char *)1;
    int n = 0, u = 99;

    while (pairs[n]) {
        n++;
    }
    *why = pool_settings_apply(p, cur, n, pairs, &out, &u, &b);
    if (url) {
        *url = u;
    }
    if (bad) {
        *bad = b;
    }
    if (*why) {
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(u, 0);
        return NULL;
    }
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_null(b);
    return out;
}
#define APPLY(cur, url, why, bad, ...) \
    apply_v(cur, url, why, bad, (const char *const[]){ __VA_ARGS__, NULL })

/* The stored integer of key in json; -1 when absent. */
static long stored_int(const char *json, const char *key)
{
    json_t *o = json_loads(json, 0, NULL), *v;
    long n = -1;

    ck_assert_ptr_nonnull(o);
    v = json_object_get(o, key);
    if (v) {
        ck_assert(json_is_integer(v));
        n = (long)json_integer_value(v);
    }
    json_decref(o);
    return n;
}

/* The stored string of key in json, from p; NULL when absent. */
static const char *stored_str(const char *json, const char *key)
{
    json_t *o = json_loads(json, 0, NULL), *v;
    const char *s = NULL;

    ck_assert_ptr_nonnull(o);
    v = json_object_get(o, key);
    if (v) {
        ck_assert(json_is_string(v));
        s = apr_pstrdup(p, json_string_value(v));
    }
    json_decref(o);
    return s;
}

/* One pair alone: 1 when accepted, 0 when refused (then the message must
 * name the key and bad_key must be it). */
static int accepts(const char *key, const char *value)
{
    const char *pair = apr_pstrcat(p, key, "=", value, NULL);
    const char *why, *bad, *out;

    out = APPLY("{}", NULL, &why, &bad, pair);
    if (!out) {
        ck_assert_msg(strstr(why, key) == why, "%s: %s", pair, why);
        ck_assert_str_eq(bad, key);
        return 0;
    }
    return 1;
}

static long stored_after(const char *key, const char *value)
{
    const char *pair = apr_pstrcat(p, key, "=", value, NULL);
    const char *why, *out = APPLY("{}", NULL, &why, NULL, pair);

    ck_assert_msg(out != NULL, "%s: %s", pair, why);
    return stored_int(out, key);
}

START_TEST(defaults)
{
    pool_settings_t s;

    memset(&s, 0x55, sizeof(s));
    pool_settings_defaults(&s);
    ck_assert_int_eq(s.window, 0);
    ck_assert_int_eq(s.offset, 0);
    ck_assert_int_eq(s.lateness, 0);
    ck_assert_int_eq(s.min_files, 1);
    ck_assert_int_eq(s.min_clients, 1);
    ck_assert_int_eq(s.quorum_trigger, 0);
    ck_assert_ptr_null(s.processor_url);
    ck_assert_int_eq(s.result_timeout, 600);
    ck_assert_int_eq(s.max_attempts, 3);
    ck_assert_int_eq(s.late_reject, 0);
    ck_assert_int_eq(s.retention, 0);
}
END_TEST

START_TEST(durations)
{
    ck_assert_int_eq(stored_after("window", "60"), 60);
    ck_assert_int_eq(stored_after("window", "90s"), 90);
    ck_assert_int_eq(stored_after("window", "5m"), 300);
    ck_assert_int_eq(stored_after("window", "2h"), 7200);
    ck_assert_int_eq(stored_after("window", "3d"), 3 * 86400);
    ck_assert_int_eq(stored_after("lateness", "0"), 0);
    ck_assert_int_eq(stored_after("lateness", "0m"), 0);
    ck_assert_int_eq(stored_after("window", "007m"), 420);
    ck_assert_int_eq(accepts("window", "5 m"), 0);
    ck_assert_int_eq(accepts("window", "5M"), 0);
    ck_assert_int_eq(accepts("window", "1.5h"), 0);
    ck_assert_int_eq(accepts("window", "-5m"), 0);
    ck_assert_int_eq(accepts("window", "+5m"), 0);
    ck_assert_int_eq(accepts("window", "m"), 0);
    ck_assert_int_eq(accepts("window", "5w"), 0);
    ck_assert_int_eq(accepts("window", "5ms"), 0);
    ck_assert_int_eq(accepts("window", " 5m"), 0);
    ck_assert_int_eq(accepts("window", "99999999999999999999d"), 0);
    ck_assert_int_eq(accepts("window", "2147483647d"), 0);

    ck_assert_str_eq(pool_settings_duration(p, 0), "0");
    ck_assert_str_eq(pool_settings_duration(p, 1), "1s");
    ck_assert_str_eq(pool_settings_duration(p, 90), "90s");
    ck_assert_str_eq(pool_settings_duration(p, 300), "5m");
    ck_assert_str_eq(pool_settings_duration(p, 5400), "90m");
    ck_assert_str_eq(pool_settings_duration(p, 7200), "2h");
    ck_assert_str_eq(pool_settings_duration(p, 30 * 86400), "30d");
}
END_TEST

START_TEST(range_edges)
{
    /* each key at both edges, inside and just outside */
    ck_assert_int_eq(accepts("window", "1m"), 1);
    ck_assert_int_eq(accepts("window", "59"), 0);
    ck_assert_int_eq(accepts("window", "30d"), 1);
    ck_assert_int_eq(accepts("window", "2592001"), 0);
    ck_assert_int_eq(accepts("window", "0"), 0);

    ck_assert_int_eq(accepts("offset", "0"), 1);
    ck_assert_int_eq(accepts("offset", "2591999"), 1);
    ck_assert_int_eq(accepts("offset", "30d"), 0);

    ck_assert_int_eq(accepts("lateness", "0"), 1);
    ck_assert_int_eq(accepts("lateness", "30d"), 1);
    ck_assert_int_eq(accepts("lateness", "2592001"), 0);

    ck_assert_int_eq(accepts("min_files", "1"), 1);
    ck_assert_int_eq(accepts("min_files", "0"), 0);
    ck_assert_int_eq(accepts("min_files", "1000000"), 1);
    ck_assert_int_eq(accepts("min_files", "1000001"), 0);
    ck_assert_int_eq(accepts("min_files", "5m"), 0);
    ck_assert_int_eq(accepts("min_files", "-1"), 0);
    ck_assert_int_eq(accepts("min_files", "99999999999999999999999"), 0);

    ck_assert_int_eq(accepts("min_clients", "1"), 1);
    ck_assert_int_eq(accepts("min_clients", "0"), 0);
    ck_assert_int_eq(accepts("min_clients", "100000"), 1);
    ck_assert_int_eq(accepts("min_clients", "100001"), 0);

    ck_assert_int_eq(accepts("result_timeout", "1s"), 1);
    ck_assert_int_eq(accepts("result_timeout", "0"), 0);
    ck_assert_int_eq(accepts("result_timeout", "7d"), 1);
    ck_assert_int_eq(accepts("result_timeout", "604801"), 0);

    ck_assert_int_eq(accepts("max_attempts", "1"), 1);
    ck_assert_int_eq(accepts("max_attempts", "0"), 0);
    ck_assert_int_eq(accepts("max_attempts", "100"), 1);
    ck_assert_int_eq(accepts("max_attempts", "101"), 0);

    ck_assert_int_eq(accepts("retention", "1h"), 1);
    ck_assert_int_eq(accepts("retention", "3599"), 0);
    ck_assert_int_eq(accepts("retention", "3650d"), 1);
    ck_assert_int_eq(accepts("retention", "3651d"), 0);

    ck_assert_int_eq(accepts("quorum_policy", "skip"), 1);
    ck_assert_int_eq(accepts("quorum_policy", "trigger"), 1);
    ck_assert_int_eq(accepts("quorum_policy", "Skip"), 0);
    ck_assert_int_eq(accepts("late_policy", "keep"), 1);
    ck_assert_int_eq(accepts("late_policy", "reject"), 1);
    ck_assert_int_eq(accepts("late_policy", "drop"), 0);
}
END_TEST

START_TEST(range_message)
{
    const char *why, *bad;

    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "window=10s"));
    ck_assert_str_eq(why, "window: must be between 1m and 30d");
    ck_assert_str_eq(bad, "window");
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "retention=1"));
    ck_assert_str_eq(why, "retention: must be between 1h and 3650d");
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "max_attempts=0"));
    ck_assert_str_eq(why, "max_attempts: must be between 1 and 100");
}
END_TEST

START_TEST(offset_vs_window)
{
    const char *why, *bad, *out;

    /* in one call, in either order */
    ck_assert_ptr_nonnull(APPLY("{}", NULL, &why, &bad,
                                "window=5m", "offset=299"));
    ck_assert_ptr_nonnull(APPLY("{}", NULL, &why, &bad,
                                "offset=4m", "window=5m"));
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad,
                             "window=5m", "offset=5m"));
    ck_assert_str_eq(bad, "offset");
    ck_assert_ptr_nonnull(strstr(why, "offset"));
    ck_assert_ptr_nonnull(strstr(why, "5m"));

    /* against the stored window */
    ck_assert_ptr_null(APPLY("{\"window\":300}", NULL, &why, &bad,
                             "offset=300"));
    ck_assert_str_eq(bad, "offset");
    out = APPLY("{\"window\":300}", NULL, &why, &bad, "offset=1m");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(stored_int(out, "offset"), 60);

    /* a smaller window than the stored offset names offset */
    ck_assert_ptr_null(APPLY("{\"window\":600,\"offset\":400}", NULL, &why,
                             &bad, "window=5m"));
    ck_assert_str_eq(bad, "offset");
    ck_assert_ptr_nonnull(strstr(why, "offset"));
    /* ... unless offset goes too */
    out = APPLY("{\"window\":600,\"offset\":400}", NULL, &why, &bad,
                "window=5m", "offset=");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(stored_int(out, "offset"), -1);

    /* offset without a window is kept (checked once a window is set) */
    out = APPLY("{}", NULL, &why, &bad, "offset=2h");
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_null(APPLY(out, NULL, &why, &bad, "window=1h"));
    ck_assert_str_eq(bad, "offset");
    ck_assert_ptr_nonnull(APPLY(out, NULL, &why, &bad, "window=3h"));
    /* removing the window keeps the offset */
    out = APPLY("{\"window\":600,\"offset\":400}", NULL, &why, &bad,
                "window=");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(stored_int(out, "window"), -1);
    ck_assert_int_eq(stored_int(out, "offset"), 400);
}
END_TEST

START_TEST(bad_pairs)
{
    const char *why, *bad;

    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "colour=blue"));
    ck_assert_str_eq(bad, "colour");
    ck_assert_ptr_nonnull(strstr(why, "colour"));
    ck_assert_ptr_nonnull(strstr(why, "window"));
    ck_assert_ptr_nonnull(strstr(why, "retention"));

    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "window"));
    ck_assert_str_eq(bad, "window");
    ck_assert_ptr_nonnull(strstr(why, "key=value"));
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "=5m"));
    ck_assert_str_eq(bad, "=5m");

    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "window=5m",
                             "lateness=1m", "window=10m"));
    ck_assert_str_eq(bad, "window");
    ck_assert_ptr_nonnull(strstr(why, "window"));
    /* a reset and a set of the same key is a duplicate too */
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "window=", "window=5m"));
    ck_assert_str_eq(bad, "window");

    /* a later bad pair refuses the earlier good ones */
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "window=5m",
                             "min_files=0"));
    ck_assert_str_eq(bad, "min_files");
    /* keys are case-sensitive */
    ck_assert_ptr_null(APPLY("{}", NULL, &why, &bad, "Window=5m"));
    ck_assert_str_eq(bad, "Window");
}
END_TEST

START_TEST(reset_and_keep)
{
    const char *why, *bad, *out;
    int url = 5;
    const char *cur = "{\"window\":300,\"min_files\":5,"
                      "\"late_policy\":\"reject\",\"someone_else\":1}";

    out = APPLY(cur, NULL, &why, &bad, "lateness=2m");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(stored_int(out, "window"), 300);
    ck_assert_int_eq(stored_int(out, "min_files"), 5);
    ck_assert_int_eq(stored_int(out, "lateness"), 120);
    ck_assert_str_eq(stored_str(out, "late_policy"), "reject");
    ck_assert_int_eq(stored_int(out, "someone_else"), 1);

    out = APPLY(out, NULL, &why, &bad, "min_files=", "late_policy=");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(stored_int(out, "min_files"), -1);
    ck_assert_ptr_null(stored_str(out, "late_policy"));
    ck_assert_int_eq(stored_int(out, "window"), 300);
    /* resetting what is not set is fine */
    ck_assert_ptr_nonnull(APPLY("{}", NULL, &why, &bad, "retention="));
    /* no pairs: the same settings */
    ck_assert_ptr_null(pool_settings_apply(p, "{\"window\":60}", 0, NULL,
                                           &out, &url, &bad));
    ck_assert_int_eq(stored_int(out, "window"), 60);
    ck_assert_int_eq(url, 0);
    /* only set keys are stored */
    out = APPLY(NULL, NULL, &why, &bad, "quorum_policy=trigger");
    ck_assert_str_eq(out, "{\"quorum_policy\":\"trigger\"}");
}
END_TEST

START_TEST(urls)
{
    const char *why, *bad, *out;
    int url;

    out = APPLY("{}", &url, &why, &bad,
                "processor_url=https://proc.example/hook?x=1");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(url, 1);
    ck_assert_str_eq(stored_str(out, "processor_url"),
                     "https://proc.example/hook?x=1");
    /* set again to the same value: a change (a new secret) */
    ck_assert_ptr_nonnull(APPLY(out, &url, &why, &bad,
                                "processor_url=https://proc.example/hook?x=1"));
    ck_assert_int_eq(url, 1);
    ck_assert_ptr_nonnull(APPLY(out, &url, &why, &bad, "window=5m"));
    ck_assert_int_eq(url, 0);
    out = APPLY(out, &url, &why, &bad, "processor_url=");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(url, -1);
    ck_assert_ptr_null(stored_str(out, "processor_url"));

    ck_assert_int_eq(accepts("processor_url", "http://10.0.0.1:8080/x"), 1);
    ck_assert_int_eq(accepts("processor_url", "ftp://proc.example/"), 0);
    ck_assert_int_eq(accepts("processor_url", "file:///etc/passwd"), 0);
    ck_assert_int_eq(accepts("processor_url", "proc.example/hook"), 0);
    ck_assert_int_eq(accepts("processor_url", "https://"), 0);
    ck_assert_int_eq(accepts("processor_url", "https://u:pw@proc.example/"),
                     0);
    ck_assert_int_eq(accepts("processor_url", "https://u@proc.example/"), 0);
    ck_assert_int_eq(accepts("processor_url", "https://proc.example/#frag"),
                     0);
    ck_assert_int_eq(accepts("processor_url", "https://proc.example/a b"), 0);
    ck_assert_int_eq(accepts("processor_url", "https://proc.example/\x01"), 0);
    ck_assert_int_eq(accepts("processor_url", " https://proc.example/"), 0);
    {
        char *u = apr_palloc(p, 2100);

        strcpy(u, "https://proc.example/");
        memset(u + strlen(u), 'a', 2048 - strlen(u));
        u[2048] = '\0';
        ck_assert_int_eq(accepts("processor_url", u), 1);
        strcat(u, "a");
        ck_assert_int_eq(accepts("processor_url", u), 0);
    }
    /* a failed set does not count as a change */
    ck_assert_ptr_null(APPLY("{}", &url, &why, &bad,
                             "processor_url=https://proc.example/",
                             "window=1"));
    ck_assert_int_eq(url, 0);
}
END_TEST

START_TEST(from_json_round_trip)
{
    const char *why, *bad, *out;
    pool_settings_t s;

    out = APPLY("{}", NULL, &why, &bad, "window=1h", "offset=15m",
                "lateness=2m", "min_files=10", "min_clients=3",
                "quorum_policy=trigger", "processor_url=https://p.example/",
                "result_timeout=1h", "max_attempts=7", "late_policy=reject",
                "retention=90d");
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_null(pool_settings_from_json(p, out, &s));
    ck_assert_int_eq(s.window, 3600);
    ck_assert_int_eq(s.offset, 900);
    ck_assert_int_eq(s.lateness, 120);
    ck_assert_int_eq(s.min_files, 10);
    ck_assert_int_eq(s.min_clients, 3);
    ck_assert_int_eq(s.quorum_trigger, 1);
    ck_assert_str_eq(s.processor_url, "https://p.example/");
    ck_assert_int_eq(s.result_timeout, 3600);
    ck_assert_int_eq(s.max_attempts, 7);
    ck_assert_int_eq(s.late_reject, 1);
    ck_assert_int_eq(s.retention, 90 * 86400);

    /* stored the way SQL reads it */
    ck_assert_int_eq(stored_int(out, "window"), 3600);
    ck_assert_str_eq(stored_str(out, "quorum_policy"), "trigger");
    ck_assert_str_eq(stored_str(out, "late_policy"), "reject");

    /* defaults for what is absent; unknown keys ignored */
    ck_assert_ptr_null(pool_settings_from_json(p, "{\"future\":[1]}", &s));
    ck_assert_int_eq(s.window, 0);
    ck_assert_int_eq(s.result_timeout, 600);
    ck_assert_ptr_null(s.processor_url);
    ck_assert_ptr_null(pool_settings_from_json(p, NULL, &s));
    ck_assert_ptr_null(pool_settings_from_json(p, "{}", &s));

    /* what the checks would refuse is refused when read */
    ck_assert_ptr_nonnull(pool_settings_from_json(p, "[]", &s));
    ck_assert_ptr_nonnull(pool_settings_from_json(p, "{", &s));
    ck_assert_ptr_nonnull(pool_settings_from_json(p, "{\"window\":\"5m\"}",
                                                  &s));
    ck_assert_ptr_nonnull(pool_settings_from_json(p, "{\"window\":1}", &s));
    ck_assert_ptr_nonnull(pool_settings_from_json(p,
        "{\"window\":60,\"offset\":60}", &s));
    ck_assert_ptr_nonnull(pool_settings_from_json(p,
        "{\"late_policy\":\"drop\"}", &s));
}
END_TEST

START_TEST(effective_json)
{
    pool_settings_t s;
    json_t *j;

    pool_settings_defaults(&s);
    j = pool_settings_json(&s);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_null(json_object_get(j, "window")));
    ck_assert(json_is_null(json_object_get(j, "processor_url")));
    ck_assert(json_is_null(json_object_get(j, "retention")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_timeout")),
                     600);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "max_attempts")),
                     3);
    ck_assert_str_eq(json_string_value(json_object_get(j, "mode")), "pull");
    ck_assert_str_eq(json_string_value(json_object_get(j, "quorum_policy")),
                     "skip");
    ck_assert_str_eq(json_string_value(json_object_get(j, "late_policy")),
                     "keep");
    ck_assert(json_is_false(json_object_get(j, "grouping")));
    json_decref(j);

    s.window = 300;
    s.processor_url = "https://p.example/";
    s.late_reject = 1;
    j = pool_settings_json(&s);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "window")), 300);
    ck_assert_str_eq(json_string_value(json_object_get(j, "mode")), "push");
    ck_assert_str_eq(json_string_value(json_object_get(j, "processor_url")),
                     "https://p.example/");
    ck_assert_str_eq(json_string_value(json_object_get(j, "late_policy")),
                     "reject");
    ck_assert(json_is_true(json_object_get(j, "grouping")));
    ck_assert_ptr_null(json_object_get(j, "processor_secret"));
    json_decref(j);
}
END_TEST

Suite *suite_settings(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("settings");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, range_edges);
    tcase_add_test(tc, range_message);
    tcase_add_test(tc, offset_vs_window);
    tcase_add_test(tc, bad_pairs);
    tcase_add_test(tc, reset_and_keep);
    tcase_add_test(tc, urls);
    tcase_add_test(tc, from_json_round_trip);
    tcase_add_test(tc, effective_json);
    suite_add_tcase(s, tc);
    return s;
}
