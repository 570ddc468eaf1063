/* pool_endpoint_doc: an endpoint's document as the API takes it (every
 * member checked, with the member and the reason in the problem; null
 * resets; a secret left out keeps the stored one), as it is shown (never a
 * secret), the authentication header, and the sample event of every event
 * type.  No database. */
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "pool_endpoint_doc.h"
#include "pool_endpoints.h"

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

/* Applies the JSON text over d; the status (0 or 422), pr filled. */
static int apply(pool_ep_doc_t *d, const char *text, pool_problem_t *pr)
{
    json_error_t je;
    json_t *in = json_loads(text, 0, &je);
    int st;

    ck_assert_msg(in != NULL, "bad test JSON %s: %s", text, je.text);
    memset(pr, 0, sizeof(*pr));
    st = pool_ep_doc_apply(p, d, in, pr);
    json_decref(in);
    return st;
}

static void apply_ok(pool_ep_doc_t *d, const char *text)
{
    pool_problem_t pr;
    int st = apply(d, text, &pr);

    ck_assert_msg(st == 0, "%s refused: %s", text,
                  pr.detail ? pr.detail : "?");
}

/* text must be refused: 422 naming field, the detail containing want. */
static void refused(const char *text, const char *field, const char *want)
{
    pool_ep_doc_t d;
    pool_problem_t pr;
    int st;

    pool_ep_doc_defaults(&d);
    d.url = "https://before.example/";
    st = apply(&d, text, &pr);
    ck_assert_msg(st == 422, "%s: %d, not 422", text, st);
    ck_assert_int_eq(pr.status, 422);
    ck_assert_msg(pr.field && !strcmp(pr.field, field),
                  "%s: field %s, not %s", text, pr.field ? pr.field : "NULL",
                  field);
    ck_assert_msg(pr.detail && strstr(pr.detail, want),
                  "%s: detail '%s' lacks '%s'", text,
                  pr.detail ? pr.detail : "NULL", want);
}

START_TEST(defaults_and_full_document)
{
    pool_ep_doc_t d;

    pool_ep_doc_defaults(&d);
    ck_assert_ptr_null(d.url);
    ck_assert_str_eq(d.events, "[]");
    ck_assert_str_eq(d.auth_type, "none");
    ck_assert_str_eq(d.retry, "[5,300,1800,7200,18000,36000,36000]");
    ck_assert_ptr_null(d.rate_limit);
    ck_assert_ptr_null(d.mapping);
    ck_assert_ptr_null(d.rule);
    apply_ok(&d, "{\"url\": \"https://dms.example/api\","
             " \"description\": \"the DMS\","
             " \"events\": [\"file.received\", \"result.published\"],"
             " \"filter\": {\"/data/file/content_type\": [\"a/b\", \"c/d\"],"
             "              \"/data/pool\": \"acme\"},"
             " \"auth\": {\"type\": \"header\", \"name\": \"X-Api-Key\","
             "            \"value\": \"k3y\"},"
             " \"retry_schedule\": [1, 60],"
             " \"rate_limit\": 20,"
             " \"mapping\": {\"body\": {\"id\": {\"$ptr\": \"/data/file/id\"}}},"
             " \"success\": {\"status\": [200, \"2xx\"], \"timeout_ms\": 5000},"
             " \"disabled\": true}");
    ck_assert_str_eq(d.url, "https://dms.example/api");
    ck_assert_str_eq(d.description, "the DMS");
    ck_assert_str_eq(d.events, "[\"file.received\",\"result.published\"]");
    ck_assert_ptr_nonnull(strstr(d.filter, "\"pointer\":\"/data/pool\""));
    ck_assert_ptr_nonnull(strstr(d.filter, "\"in\":[\"acme\"]"));
    ck_assert_str_eq(d.auth_type, "header");
    ck_assert_str_eq(d.auth_name, "X-Api-Key");
    ck_assert_str_eq(d.auth_secret, "k3y");
    ck_assert_str_eq(d.retry, "[1,60]");
    ck_assert_str_eq(d.rate_limit, "20");
    ck_assert_ptr_nonnull(d.mapping);
    ck_assert_ptr_nonnull(d.rule);
    ck_assert_int_eq(d.disabled, 1);
    ck_assert_int_eq(d.disabled_changed, 1);
    /* null resets each member to its default */
    apply_ok(&d, "{\"description\": null, \"events\": null, \"filter\": null,"
             " \"auth\": null, \"retry_schedule\": null, \"rate_limit\": null,"
             " \"mapping\": null, \"success\": null}");
    ck_assert_str_eq(d.url, "https://dms.example/api");
    ck_assert_str_eq(d.description, "");
    ck_assert_str_eq(d.events, "[]");
    ck_assert_ptr_null(d.filter);
    ck_assert_str_eq(d.auth_type, "none");
    ck_assert_ptr_null(d.auth_secret);
    ck_assert_str_eq(d.retry, "[5,300,1800,7200,18000,36000,36000]");
    ck_assert_ptr_null(d.rate_limit);
    ck_assert_ptr_null(d.mapping);
    ck_assert_ptr_null(d.rule);
}
END_TEST

START_TEST(a_secret_left_out_is_kept_for_the_same_type)
{
    pool_ep_doc_t d;
    pool_problem_t pr;

    pool_ep_doc_defaults(&d);
    apply_ok(&d, "{\"url\": \"https://x.example/\", \"auth\":"
             " {\"type\": \"basic\", \"username\": \"al\","
             "  \"password\": \"pw\"}}");
    apply_ok(&d, "{\"auth\": {\"type\": \"basic\", \"username\": \"bo\","
             " \"secret_set\": true}}");
    ck_assert_str_eq(d.auth_name, "bo");
    ck_assert_str_eq(d.auth_secret, "pw");
    /* another type needs its own secret */
    ck_assert_int_eq(apply(&d, "{\"auth\": {\"type\": \"bearer\"}}", &pr),
                     422);
    ck_assert_ptr_nonnull(strstr(pr.detail, "token is required"));
    apply_ok(&d, "{\"auth\": {\"type\": \"bearer\", \"token\": \"t0k\"}}");
    ck_assert_str_eq(d.auth_secret, "t0k");
}
END_TEST

START_TEST(each_member_refused_with_its_reason)
{
    refused("{\"url\": 5}", "url", "must be a string");
    refused("{\"url\": \"ftp://x.example/\"}", "url", "url:");
    refused("{\"url\": \"https://u:p@x.example/\"}", "url", "url:");
    refused("{\"description\": 1}", "description", "at most 500");
    refused("{\"events\": \"file.received\"}", "events", "must be an array");
    refused("{\"events\": [\"file.eaten\"]}", "events",
            "unknown event type 'file.eaten'");
    refused("{\"events\": [7]}", "events", "(not a string)");
    refused("{\"events\": [\"group.ready\", \"group.ready\"]}", "events",
            "listed twice");
    refused("{\"filter\": [1]}", "filter", "must be an object");
    refused("{\"filter\": {\"data/x\": 1}}", "filter", "JSON pointer");
    refused("{\"filter\": {\"/a~2b\": 1}}", "filter", "'~' not followed");
    refused("{\"filter\": {\"/a\": []}}", "filter", "1 to 100 values");
    refused("{\"filter\": {\"/a\": [{\"x\": 1}]}}", "filter",
            "strings, numbers, booleans or null");
    refused("{\"auth\": \"bearer\"}", "auth", "must be an object");
    refused("{\"auth\": {\"type\": \"digest\"}}", "auth",
            "unknown type 'digest'");
    refused("{\"auth\": {\"type\": \"bearer\", \"token\": \"a b\"}}", "auth",
            "visible ASCII");
    refused("{\"auth\": {\"type\": \"basic\", \"username\": \"a:b\","
            " \"password\": \"x\"}}", "auth", "cannot contain ':'");
    refused("{\"auth\": {\"type\": \"header\", \"name\": \"Content-Type\","
            " \"value\": \"x\"}}", "auth", "a header we set ourselves");
    refused("{\"auth\": {\"type\": \"header\", \"name\": \"webhook-id\","
            " \"value\": \"x\"}}", "auth", "a header we set ourselves");
    refused("{\"auth\": {\"type\": \"header\", \"name\": \"Bad:Name\","
            " \"value\": \"x\"}}", "auth", "RFC 9110 token");
    refused("{\"auth\": {\"type\": \"none\", \"token\": \"x\"}}", "auth",
            "unknown member 'token'");
    refused("{\"retry_schedule\": [0]}", "retry_schedule", "from 1 to 604800");
    refused("{\"retry_schedule\": [604801]}", "retry_schedule",
            "from 1 to 604800");
    refused("{\"retry_schedule\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
            "1]}", "retry_schedule", "at most 20");
    refused("{\"rate_limit\": 0}", "rate_limit", "1 to 100000");
    refused("{\"rate_limit\": 100001}", "rate_limit", "1 to 100000");
    refused("{\"mapping\": {\"body\": {\"$ptr\": \"data\"}}}", "mapping",
            "mapping: /body");
    refused("{\"success\": {\"timeout_ms\": 0}}", "success", "/timeout_ms");
    refused("{\"colour\": \"red\"}", "colour", "colour");
}
END_TEST

START_TEST(shown_without_secrets)
{
    pool_ep_doc_t d;
    pool_ep_meta_t m;
    json_t *o, *auth;
    char *text;

    pool_ep_doc_defaults(&d);
    apply_ok(&d, "{\"url\": \"https://x.example/\", \"auth\": {\"type\":"
             " \"header\", \"name\": \"X-Key\", \"value\": \"s3cr3t-v4lue\"},"
             " \"filter\": {\"/data/pool\": \"acme\"}}");
    memset(&m, 0, sizeof(m));
    m.id = "ep_0123456789abcdef01234567";
    m.pool = "acme";
    o = pool_ep_doc_show(p, &d, &m);
    text = json_dumps(o, 0);
    ck_assert_ptr_null(strstr(text, "s3cr3t-v4lue"));
    auth = json_object_get(o, "auth");
    ck_assert_str_eq(json_string_value(json_object_get(auth, "type")),
                     "header");
    ck_assert_str_eq(json_string_value(json_object_get(auth, "name")),
                     "X-Key");
    ck_assert(json_is_true(json_object_get(auth, "secret_set")));
    /* the filter as given: one value shows as that value */
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(o, "filter"), "/data/pool")), "acme");
    ck_assert(json_is_null(json_object_get(o, "client")));
    ck_assert(json_is_false(json_object_get(o, "disabled")));
    free(text);
    json_decref(o);
}
END_TEST

START_TEST(auth_headers)
{
    const char *n = NULL, *v = NULL;

    pool_ep_doc_auth_header(p, "bearer", NULL, "t0k", 0, &n, &v);
    ck_assert_str_eq(n, "Authorization");
    ck_assert_str_eq(v, "Bearer t0k");
    pool_ep_doc_auth_header(p, "bearer", NULL, "t0k", 1, &n, &v);
    ck_assert_ptr_null(strstr(v, "t0k"));
    pool_ep_doc_auth_header(p, "basic", "al", "pw", 0, &n, &v);
    ck_assert_str_eq(n, "Authorization");
    ck_assert_str_eq(v, "Basic YWw6cHc=");    /* base64("al:pw") */
    pool_ep_doc_auth_header(p, "header", "X-Key", "k", 0, &n, &v);
    ck_assert_str_eq(n, "X-Key");
    ck_assert_str_eq(v, "k");
    pool_ep_doc_auth_header(p, "header", "X-Key", "k", 1, &n, &v);
    ck_assert_str_eq(v, "(secret)");
    n = v = "unset";
    pool_ep_doc_auth_header(p, "none", NULL, NULL, 0, &n, &v);
    ck_assert_ptr_null(n);
}
END_TEST

START_TEST(a_sample_of_every_event_type)
{
    int i;

    for (i = 0; pool_event_types[i]; i++) {
        json_t *ev = pool_event_sample(p, "acme", pool_event_types[i]);
        json_t *data;

        ck_assert_msg(ev != NULL, "no sample of %s", pool_event_types[i]);
        ck_assert_str_eq(json_string_value(json_object_get(ev, "type")),
                         pool_event_types[i]);
        ck_assert(json_is_string(json_object_get(ev, "timestamp")));
        data = json_object_get(ev, "data");
        ck_assert_msg(json_is_object(data), "%s: data", pool_event_types[i]);
        ck_assert_msg(json_object_get(data, "pool") != NULL,
                      "%s: no pool", pool_event_types[i]);
        ck_assert(pool_event_known(pool_event_types[i]));
        json_decref(ev);
    }
    ck_assert(!pool_event_known("file.eaten"));
    ck_assert(!pool_event_known(NULL));
    ck_assert_ptr_null(pool_event_sample(p, "acme", "file.eaten"));
}
END_TEST

Suite *suite_endpoint_doc(void)
{
    Suite *s = suite_create("endpoint_doc");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_and_full_document);
    tcase_add_test(tc, a_secret_left_out_is_kept_for_the_same_type);
    tcase_add_test(tc, each_member_refused_with_its_reason);
    tcase_add_test(tc, shown_without_secrets);
    tcase_add_test(tc, auth_headers);
    tcase_add_test(tc, a_sample_of_every_event_type);
    suite_add_tcase(s, tc);
    return s;
}
