/* pool_mapping: templates (every expression kind, defaults, missing
 * pointers, pointer escaping, arrays by index, string templates and their
 * escape, paths), templates refused with the place of the error, the
 * limits, the regex matcher (against glibc's, and in linear time), and
 * success rules (status sets, each body condition with its reason,
 * non-JSON bodies, the body prefix, time limits).  No database. */
#include <regex.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "pool_mapping.h"
#include "pool_regex.h"

static apr_pool_t *p;
static json_t *event;

#define EVENT \
    "{\"type\":\"file.received\",\"timestamp\":\"2026-11-21T10:15:00Z\"," \
    "\"data\":{\"pool\":\"acme\",\"file\":{\"id\":\"f-123\"," \
    "\"name\":\"report 1/2.pdf\",\"size\":2048,\"ratio\":0.5,\"ok\":true," \
    "\"none\":null,\"tags\":[\"x\",\"y\",\"z\"]," \
    "\"labels\":{\"a/b\":\"slash\",\"m~n\":\"tilde\",\"\":\"empty\"}," \
    "\"note\":\"say \\\"hi\\\"\\n\",\"dots\":\"..\",\"dot\":\".\"}}}"

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    event = json_loads(EVENT, 0, NULL);
    ck_assert_ptr_nonnull(event);
}

static void teardown(void)
{
    json_decref(event);
    apr_pool_destroy(p);
    p = NULL;
}

static pool_mapping_t *compile_ok(const char *text)
{
    pool_mapping_t *m = (pool_mapping_t *)1;
    pool_mapping_error_t e;
    const char *why = pool_mapping_compile(p, text, strlen(text), &m, &e);

    ck_assert_msg(why == NULL, "%s refused: %s", text, why);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Compiles text that must be refused; the message (also in *e). */
static const char *compile_err(const char *text, pool_mapping_error_t *e)
{
    pool_mapping_t *m = (pool_mapping_t *)1;
    const char *why = pool_mapping_compile(p, text, strlen(text), &m, e);

    ck_assert_msg(why != NULL, "%s accepted", text);
    ck_assert_ptr_null(m);
    ck_assert_ptr_eq(e->msg, why);
    return why;
}

/* Renders m's body over the event; the missing pointers joined by ' '. */
static const char *render(const pool_mapping_t *m, const char **missing)
{
    const char *body = NULL, *why;
    apr_array_header_t *miss = NULL;
    apr_size_t len = 0;
    int i;

    why = pool_mapping_render(p, m, event, &body, &len, &miss);
    ck_assert_msg(why == NULL, "render failed: %s", why);
    ck_assert_uint_eq(len, strlen(body));
    if (missing) {
        *missing = "";
        for (i = 0; i < miss->nelts; i++) {
            *missing = apr_pstrcat(p, *missing, i ? " " : "",
                                   APR_ARRAY_IDX(miss, i, const char *), NULL);
        }
    }
    return body;
}

/* The body of a mapping {"body": tmpl}. */
static const char *body_of(const char *tmpl, const char **missing)
{
    return render(compile_ok(apr_pstrcat(p, "{\"body\":", tmpl, "}", NULL)),
                  missing);
}

static const char *path_of(const char *tmpl, const char **missing)
{
    pool_mapping_t *m = compile_ok(apr_pstrcat(p, "{\"path\":\"", tmpl, "\"}",
                                               NULL));
    const char *path = NULL, *why;
    apr_array_header_t *miss = NULL;
    int i;

    why = pool_mapping_render_path(p, m, event, &path, &miss);
    ck_assert_msg(why == NULL, "render failed: %s", why);
    if (missing) {
        *missing = "";
        for (i = 0; i < miss->nelts; i++) {
            *missing = apr_pstrcat(p, *missing, i ? " " : "",
                                   APR_ARRAY_IDX(miss, i, const char *), NULL);
        }
    }
    return path;
}

START_TEST(event_as_is)
{
    const char *texts[] = { "null", "{}", "{\"method\":\"POST\"}" };
    const char *path = "x", *miss;
    char *compact = json_dumps(event, JSON_COMPACT);
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        pool_mapping_t *m = compile_ok(texts[i]);

        ck_assert_str_eq(pool_mapping_method(m), "POST");
        ck_assert_int_eq(pool_mapping_has_body(m), 0);
        ck_assert_int_eq(pool_mapping_has_path(m), 0);
        ck_assert_str_eq(render(m, &miss), compact);
        ck_assert_str_eq(miss, "");
        ck_assert_ptr_null(pool_mapping_render_path(p, m, event, &path, NULL));
        ck_assert_ptr_null(path);
    }
    /* no mapping at all renders the same */
    ck_assert_str_eq(render(NULL, NULL), compact);
    free(compact);
    ck_assert_str_eq(pool_mapping_method(compile_ok("{\"method\":\"PUT\"}")),
                     "PUT");
}
END_TEST

START_TEST(pointers_any_type)
{
    const char *miss;

    ck_assert_str_eq(body_of("{\"doc_id\":{\"$ptr\":\"/data/file/id\"},"
                             "\"size\":{\"$ptr\":\"/data/file/size\"},"
                             "\"ratio\":{\"$ptr\":\"/data/file/ratio\"},"
                             "\"ok\":{\"$ptr\":\"/data/file/ok\"},"
                             "\"none\":{\"$ptr\":\"/data/file/none\"},"
                             "\"tags\":{\"$ptr\":\"/data/file/tags\"},"
                             "\"labels\":{\"$ptr\":\"/data/file/labels\"}}",
                             &miss),
                     "{\"doc_id\":\"f-123\",\"size\":2048,\"ratio\":0.5,"
                     "\"ok\":true,\"none\":null,\"tags\":[\"x\",\"y\",\"z\"],"
                     "\"labels\":{\"a/b\":\"slash\",\"m~n\":\"tilde\","
                     "\"\":\"empty\"}}");
    /* a value found null is not missing */
    ck_assert_str_eq(miss, "");
    /* "" is the whole event; the body may be a bare expression */
    ck_assert_str_eq(body_of("{\"$ptr\":\"/data/pool\"}", NULL), "\"acme\"");
    ck_assert_str_eq(body_of("[{\"$ptr\":\"/type\"},1]", NULL),
                     "[\"file.received\",1]");
    ck_assert_int_eq(strncmp(body_of("{\"all\":{\"$ptr\":\"\"}}", NULL),
                             "{\"all\":{\"type\":\"file.received\",", 31), 0);
}
END_TEST

START_TEST(pointer_escaping_and_arrays)
{
    const char *miss;

    ck_assert_str_eq(body_of("[{\"$ptr\":\"/data/file/labels/a~1b\"},"
                             "{\"$ptr\":\"/data/file/labels/m~0n\"},"
                             "{\"$ptr\":\"/data/file/labels/\"},"
                             "{\"$ptr\":\"/data/file/tags/0\"},"
                             "{\"$ptr\":\"/data/file/tags/2\"}]", &miss),
                     "[\"slash\",\"tilde\",\"empty\",\"x\",\"z\"]");
    ck_assert_str_eq(miss, "");
    /* past the end, "-", leading zeros, signs, a name on an array, a step
     * into a scalar, an unescaped '/': all missing */
    ck_assert_str_eq(body_of("[{\"$ptr\":\"/data/file/tags/3\"},"
                             "{\"$ptr\":\"/data/file/tags/-\"},"
                             "{\"$ptr\":\"/data/file/tags/01\"},"
                             "{\"$ptr\":\"/data/file/tags/-1\"},"
                             "{\"$ptr\":\"/data/file/tags/first\"},"
                             "{\"$ptr\":\"/data/file/id/0\"},"
                             "{\"$ptr\":\"/data/file/labels/a/b\"}]", &miss),
                     "[null,null,null,null,null,null,null]");
    ck_assert_str_eq(miss, "/data/file/tags/3 /data/file/tags/- "
                     "/data/file/tags/01 /data/file/tags/-1 "
                     "/data/file/tags/first /data/file/id/0 "
                     "/data/file/labels/a/b");
}
END_TEST

START_TEST(defaults_and_missing)
{
    const char *miss;

    ck_assert_str_eq(body_of("{\"a\":{\"$ptr\":\"/data/nope\",\"default\":\"x\"},"
                             "\"b\":{\"$ptr\":\"/data/nope\"},"
                             "\"c\":{\"default\":{\"k\":[1,{\"$ptr\":\"/q\"}]},"
                             "\"$ptr\":\"/data/gone\"},"
                             "\"d\":{\"$ptr\":\"/data/pool\",\"default\":0},"
                             "\"e\":\"{{/data/nope}}|{{/data/other}}\","
                             "\"f\":{\"$ptr\":\"/data/nope\"}}", &miss),
                     "{\"a\":\"x\",\"b\":null,\"c\":{\"k\":[1,{\"$ptr\":"
                     "\"/q\"}]},\"d\":\"acme\",\"e\":\"|\",\"f\":null}");
    /* each once, in template order; not those with a default */
    ck_assert_str_eq(miss, "/data/nope /data/other");
    /* a default that is null is still a default */
    ck_assert_str_eq(body_of("[{\"$ptr\":\"/x\",\"default\":null}]", &miss),
                     "[null]");
    ck_assert_str_eq(miss, "");
}
END_TEST

START_TEST(string_templates)
{
    const char *miss;

    ck_assert_str_eq(body_of("{\"t\":\"{{/data/file/name}} ({{/data/file/size}}"
                             " bytes, {{/data/file/ratio}}, "
                             "{{/data/file/ok}}, [{{/data/file/none}}])\"}",
                             &miss),
                     "{\"t\":\"report 1/2.pdf (2048 bytes, 0.5, true, [])\"}");
    ck_assert_str_eq(miss, "");
    /* objects and arrays as compact JSON, escaped in the string */
    ck_assert_str_eq(body_of("\"{{/data/file/tags}}\"", NULL),
                     "\"[\\\"x\\\",\\\"y\\\",\\\"z\\\"]\"");
    /* quotes and control characters of values are escaped */
    ck_assert_str_eq(body_of("\"<{{/data/file/note}}>\"", NULL),
                     "\"<say \\\"hi\\\"\\n>\"");
    /* a lone placeholder still gives a string */
    ck_assert_str_eq(body_of("\"{{/data/file/size}}\"", NULL), "\"2048\"");
    /* missing: "" and reported */
    ck_assert_str_eq(body_of("\"a{{/nope}}b\"", &miss), "\"ab\"");
    ck_assert_str_eq(miss, "/nope");
    /* "{{{{" is a literal "{{"; single braces and "}}" are literal */
    ck_assert_str_eq(body_of("\"{{{{/data/pool}} { } }} {{/data/pool}}}\"",
                             NULL), "\"{{/data/pool}} { } }} acme}\"");
    ck_assert_str_eq(body_of("\"{{{{\"", NULL), "\"{{\"");
    ck_assert_str_eq(body_of("\"{{{{{{/data/pool}}\"", NULL), "\"{{acme\"");
    /* the whole event */
    ck_assert_int_eq(strncmp(body_of("\"{{}}\"", NULL),
                             "\"{\\\"type\\\":\\\"file.received\\\"", 28), 0);
}
END_TEST

START_TEST(literals_and_constants)
{
    ck_assert_str_eq(body_of("{\"a\":{\"$literal\":{\"$ptr\":\"/data/pool\"}},"
                             "\"b\":{\"$literal\":\"{{/data/pool}}\"},"
                             "\"c\":{\"$literal\":[{\"$x\":1}]}}", NULL),
                     "{\"a\":{\"$ptr\":\"/data/pool\"},"
                     "\"b\":\"{{/data/pool}}\",\"c\":[{\"$x\":1}]}");
    /* constants copied as they are, member order kept; strings starting
     * with '/' are constants, not pointers */
    ck_assert_str_eq(body_of("{\"z\":1,\"a\":[true,false,null,-1.5,\"/data/pool\","
                             "{}],\"k\\\"ey\":\"\\u00e9\\t\",\"n\":"
                             "{\"x\":{\"y\":[]}}}", NULL),
                     "{\"z\":1,\"a\":[true,false,null,-1.5,\"/data/pool\",{}],"
                     "\"k\\\"ey\":\"\xc3\xa9\\t\",\"n\":{\"x\":{\"y\":[]}}}");
    /* constants around expressions */
    ck_assert_str_eq(body_of("{\"k\":\"v\",\"in\":[1,{\"id\":{\"$ptr\":"
                             "\"/data/file/id\"},\"c\":[2]}],\"t\":3}", NULL),
                     "{\"k\":\"v\",\"in\":[1,{\"id\":\"f-123\",\"c\":[2]}],"
                     "\"t\":3}");
}
END_TEST

START_TEST(paths)
{
    const char *miss, *path, *why;
    pool_mapping_t *m;

    ck_assert_str_eq(path_of("/docs/{{/data/file/id}}/files/"
                             "{{/data/file/name}}?pool={{/data/pool}}&x=1",
                             &miss),
                     "/docs/f-123/files/report%201%2F2.pdf?pool=acme&x=1");
    ck_assert_str_eq(miss, "");
    /* values never add segments or parameters; '.' stays inside one */
    ck_assert_str_eq(path_of("/q?a={{/data/file/labels}}", NULL),
                     "/q?a=%7B%22a%2Fb%22%3A%22slash%22%2C%22m~n%22%3A%22"
                     "tilde%22%2C%22%22%3A%22empty%22%7D");
    ck_assert_str_eq(path_of("/v{{/data/file/dots}}/{{/data/file/dots}}x",
                             NULL), "/v../..x");
    /* literal characters allowed in a path, and %XX */
    ck_assert_str_eq(path_of("/a-b_c.d~e!$&'()*+,;=:@/%20", NULL),
                     "/a-b_c.d~e!$&'()*+,;=:@/%20");
    /* missing: an empty value, reported */
    ck_assert_str_eq(path_of("/docs/{{/nope}}", &miss), "/docs/");
    ck_assert_str_eq(miss, "/nope");
    /* a value that makes a "." or ".." segment is refused at render */
    m = compile_ok("{\"path\":\"/a/{{/data/file/dots}}/b\"}");
    why = pool_mapping_render_path(p, m, event, &path, NULL);
    ck_assert_str_eq(why, "a value made a '.' or '..' segment of the "
                     "rendered path");
    m = compile_ok("{\"path\":\"/a/{{/data/file/dot}}\"}");
    ck_assert_ptr_nonnull(pool_mapping_render_path(p, m, event, &path, NULL));
    /* in the query they are harmless */
    ck_assert_str_eq(path_of("/a?x={{/data/file/dots}}", NULL), "/a?x=..");
    /* the path and the body of one mapping */
    m = compile_ok("{\"method\":\"PUT\",\"path\":\"/d/{{/data/file/id}}\","
                   "\"body\":{\"n\":\"{{/data/file/name}}\"}}");
    ck_assert_str_eq(pool_mapping_method(m), "PUT");
    ck_assert_int_eq(pool_mapping_has_path(m), 1);
    ck_assert_int_eq(pool_mapping_has_body(m), 1);
    ck_assert_str_eq(render(m, NULL), "{\"n\":\"report 1/2.pdf\"}");
}
END_TEST

START_TEST(path_refused)
{
    pool_mapping_error_t e;

    ck_assert_str_eq(compile_err("{\"path\":\"docs\"}", &e),
                     "/path: must be a string that starts with '/', got "
                     "'docs'");
    ck_assert_str_eq(e.pointer, "/path");
    ck_assert_str_eq(compile_err("{\"path\":\"/a b\"}", &e),
                     "/path: character 2 is not allowed in a URL path "
                     "(percent-encode it)");
    ck_assert_int_eq(e.offset, 2);
    /* offsets count characters, not bytes */
    ck_assert_str_eq(compile_err("{\"path\":\"/\xc3\xa9\"}", &e),
                     "/path: character 1 is not allowed in a URL path "
                     "(percent-encode it)");
    compile_err("{\"path\":\"/a#frag\"}", &e);
    ck_assert_int_eq(e.offset, 2);
    compile_err("{\"path\":\"/a%2\"}", &e);
    ck_assert_int_eq(e.offset, 2);
    compile_err("{\"path\":\"/{{{{\"}", &e);
    ck_assert_int_eq(e.offset, 1);
    ck_assert_str_eq(compile_err("{\"path\":\"/a/../b\"}", &e),
                     "/path: the segment at character 3 is '.' or '..'");
    ck_assert_int_eq(e.offset, 3);
    compile_err("{\"path\":\"/a/%2e\"}", &e);
    ck_assert_int_eq(e.offset, 3);
    compile_err("{\"path\":\"/.\"}", &e);
    ck_assert_int_eq(e.offset, 1);
    compile_err("{\"path\":\"/x/{{/a\"}", &e);
    ck_assert_str_eq(e.msg, "/path: placeholder at character 3 is not closed "
                     "by '}}'");
    compile_err("{\"path\":7}", &e);
    /* "..." and ".x" are ordinary segments */
    compile_ok("{\"path\":\"/.../.x/x.?a=..\"}");
}
END_TEST

START_TEST(refused_with_position)
{
    pool_mapping_error_t e;

    /* JSON syntax: line and column */
    compile_err("{\n  \"body\": {\"a\": }\n}", &e);
    ck_assert_ptr_null(e.pointer);
    ck_assert_int_eq(e.line, 2);
    ck_assert_int_eq(e.column, 17);      /* the '}' */
    ck_assert_int_eq(strncmp(e.msg, "line 2, column 17: ", 19), 0);
    compile_err("{\"body\": 1, \"body\": 2}", &e);
    ck_assert_int_eq(e.line, 1);
    ck_assert_ptr_nonnull(strstr(e.msg, "duplicate"));
    compile_err("", &e);
    ck_assert_int_eq(e.line, 1);

    /* semantics: the pointer of the place */
    ck_assert_str_eq(compile_err("{\"body\":{\"doc_id\":{\"$ptr\":\"data/file\"}}}",
                                 &e),
                     "/body/doc_id: $ptr must be a string that is a JSON "
                     "pointer (RFC 6901), got 'data/file' (it must be empty "
                     "or start with '/')");
    ck_assert_str_eq(e.pointer, "/body/doc_id");
    ck_assert_int_eq(e.offset, 0);
    ck_assert_int_eq(e.line, 0);
    ck_assert_str_eq(compile_err("{\"body\":[0,{\"$ptr\":\"/a~2b\"}]}", &e),
                     "/body/1: $ptr must be a string that is a JSON pointer "
                     "(RFC 6901), got '/a~2b' ('~' at character 2 is not "
                     "followed by 0 or 1)");
    ck_assert_int_eq(e.offset, 2);
    ck_assert_str_eq(compile_err("{\"body\":{\"a/b\":{\"x~\":{\"$ptr\":12}}}}",
                                 &e),
                     "/body/a~1b/x~0: $ptr must be a string that is a JSON "
                     "pointer (RFC 6901), got 12");
    ck_assert_int_eq(e.offset, -1);
    compile_err("{\"body\":{\"$ptr\":\"/a~\"}}", &e);
    ck_assert_int_eq(e.offset, 2);

    ck_assert_str_eq(compile_err("{\"body\":{\"a\":{\"$ptrs\":\"/x\"}}}", &e),
                     "/body/a/$ptrs: unknown expression (names starting with "
                     "'$' are reserved: write a constant with one as "
                     "{\"$literal\": ...})");
    ck_assert_str_eq(compile_err("{\"body\":{\"$ptr\":\"/x\",\"dflt\":1}}", &e),
                     "/body/dflt: not allowed next to $ptr: an expression is "
                     "{\"$ptr\": P}, {\"$ptr\": P, \"default\": V} or "
                     "{\"$literal\": V}");
    compile_err("{\"body\":{\"$literal\":1,\"x\":2}}", &e);
    ck_assert_str_eq(e.pointer, "/body/x");
    compile_err("{\"body\":{\"x\":1,\"$literal\":1,\"$ptr\":\"\"}}", &e);
    ck_assert_str_eq(e.pointer, "/body/x");

    /* placeholders: the character offset in that string */
    ck_assert_str_eq(compile_err("{\"body\":{\"t\":\"\xc3\xa9t\xc3\xa9 "
                                 "{{data}}\"}}", &e),
                     "/body/t: placeholder at character 4 is not a JSON "
                     "pointer (RFC 6901): it must be empty or start with '/' "
                     "(a literal '{{' is written '{{{{')");
    ck_assert_str_eq(e.pointer, "/body/t");
    ck_assert_int_eq(e.offset, 4);
    compile_err("{\"body\":[\"ok {{/a}} then {{/b\"]}", &e);
    ck_assert_str_eq(e.msg, "/body/0: placeholder at character 15 is not "
                     "closed by '}}'");
    ck_assert_int_eq(e.offset, 15);
    compile_err("{\"body\":\"{{{/a}}\"}", &e);
    ck_assert_int_eq(e.offset, 0);
    compile_err("{\"body\":\"x{{/a~}}\"}", &e);
    ck_assert_int_eq(e.offset, 1);

    /* the document's own shape */
    ck_assert_str_eq(compile_err("{\"bdy\":{}}", &e),
                     "/bdy: unknown member (a mapping has method, path and "
                     "body)");
    ck_assert_str_eq(compile_err("{\"method\":\"GET\"}", &e),
                     "/method: must be \"POST\" or \"PUT\", got 'GET'");
    compile_err("{\"method\":\"post\"}", &e);
    ck_assert_str_eq(compile_err("[1]", &e),
                     "a mapping is a JSON object with method, path and body "
                     "(or null), got [1]");
    ck_assert_str_eq(e.pointer, "");
}
END_TEST

/* {"body": [[...[1]...]]} with n arrays: the 1 is at depth n + 2. */
static const char *nested(int n)
{
    char *s = apr_palloc(p, 2 * (apr_size_t)n + 16);
    int i, k = 0;

    k += sprintf(s, "{\"body\":");
    for (i = 0; i < n; i++) {
        s[k++] = '[';
    }
    s[k++] = '1';
    for (i = 0; i < n; i++) {
        s[k++] = ']';
    }
    strcpy(s + k, "}");
    return s;
}

START_TEST(limits)
{
    pool_mapping_error_t e;
    apr_array_header_t *miss;
    pool_mapping_t *m;
    const char *body, *why;
    char *big;
    json_t *ev;
    int i;

    /* depth: the document is level 1, "body" 2, so 30 arrays put the 1 at
     * level 32 */
    compile_ok(nested(30));
    compile_err(nested(31), &e);
    ck_assert_int_eq(strncmp(e.msg, "/body/0/0/0/", 12), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, ": nested deeper than 32 levels"));
    compile_ok("{\"body\":{\"$literal\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]"
               "]]]]]]]]]]]]]]]]]]]]}}");
    compile_err("{\"body\":{\"$literal\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]"
                "]]]]]]]]]]]]]]]]]]]]]}}", &e);
    ck_assert_str_eq(e.pointer, "/body/$literal");

    /* the text's size */
    big = apr_palloc(p, POOL_MAPPING_TEXT_MAX + 2);
    memset(big, ' ', POOL_MAPPING_TEXT_MAX + 1);
    memcpy(big, "null", 4);
    big[POOL_MAPPING_TEXT_MAX + 1] = '\0';
    ck_assert_ptr_null(pool_mapping_compile(p, big, POOL_MAPPING_TEXT_MAX, &m,
                                            &e));
    ck_assert_str_eq(pool_mapping_compile(p, big, POOL_MAPPING_TEXT_MAX + 1,
                                          &m, &e),
                     "the mapping is longer than 65536 bytes");
    ck_assert_ptr_null(e.pointer);

    /* expressions: 1000, counting placeholders and $ptr */
    big = apr_pstrdup(p, "{\"path\":\"/{{/a}}\",\"body\":[\"{{/b}}{{/c}}\"");
    for (i = 3; i < POOL_MAPPING_EXPR_MAX; i++) {
        big = apr_pstrcat(p, big, ",{\"$ptr\":\"/x\"}", NULL);
    }
    compile_ok(apr_pstrcat(p, big, "]}", NULL));
    compile_err(apr_pstrcat(p, big, ",\"{{/y}}\"]}", NULL), &e);
    ck_assert_str_eq(e.msg, "/body/998: more than 1000 expressions");
    ck_assert_int_eq(e.offset, 0);

    /* the rendered body: at most 1 MB */
    big = apr_palloc(p, 600 * 1024 + 1);
    memset(big, 'a', 600 * 1024);
    big[600 * 1024] = '\0';
    ev = json_pack("{s:s}", "s", big);
    m = compile_ok("{\"body\":[{\"$ptr\":\"/s\"}]}");
    ck_assert_ptr_null(pool_mapping_render(p, m, ev, &body, NULL, &miss));
    m = compile_ok("{\"body\":[{\"$ptr\":\"/s\"},{\"$ptr\":\"/s\"}]}");
    body = NULL;
    why = pool_mapping_render(p, m, ev, &body, NULL, &miss);
    ck_assert_str_eq(why, "the rendered body is longer than 1048576 bytes");
    ck_assert_ptr_null(body);
    m = compile_ok("{\"body\":\"{{/s}}{{/s}}\"}");
    ck_assert_ptr_nonnull(pool_mapping_render(p, m, ev, &body, NULL, &miss));
    /* and the path at most 2048 bytes */
    m = compile_ok("{\"path\":\"/{{/s}}\"}");
    ck_assert_str_eq(pool_mapping_render_path(p, m, ev, &body, &miss),
                     "the rendered path is longer than 2048 bytes");
    json_decref(ev);
}
END_TEST

START_TEST(render_from_text)
{
    pool_mapping_t *m = compile_ok("{\"body\":{\"id\":{\"$ptr\":\"/id\"}}}");
    const char *body = NULL, *why;
    apr_array_header_t *miss;
    apr_size_t len;

    why = pool_mapping_render_text(p, m, "{\"id\":7}", 8, &body, &len, &miss);
    ck_assert_ptr_null(why);
    ck_assert_str_eq(body, "{\"id\":7}");
    ck_assert_int_eq(miss->nelts, 0);
    why = pool_mapping_render_text(p, m, "{\"id\":", 6, &body, &len, &miss);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(strncmp(why, "the event is not JSON: line 1", 29), 0);
}
END_TEST

/* ---------------------------------------------------------------- rules */

/* pool_regex against glibc's regexec (C locale) where both speak POSIX
 * ERE alike: every pattern on every subject. */
START_TEST(regex_agrees_with_glibc)
{
    static const char *pats[] = {
        "^ok", "ok$", "^$", "a|b", "(ab|cd)+e", "a{2,3}", "^a{2}$", "a{2,}",
        "x*", "[[:digit:]]+\\.[0-9]{2}$", "[^a-c]", "[]a]", "[a-]", "[^]a]",
        "\"status\": *\"(done|ok)\"", "(a|b)*a(a|b){3}c", "colou?r",
        "^(ab)*$", ".", "^.{3}$", "[[:upper:]][[:lower:]]*", "a.c", "\\.",
        "(^a|b$)", "((a))", "[[:space:]]", "(a*)*b", "(|a)b", "x(y|)z",
        "^(a|ab)(c|bcd)(d*)$", "[[:alnum:]_-]+@[a-z]+", "^[^\n]*$", "a{0}b",
        "(a{1,2}){2}$", "[[:punct:]]", "^[[:xdigit:]]+$", "a+?b", "(a|)+$",
    };
    static const char *subjects[] = {
        "", "ok", "ok\n", "not ok", "a", "b", "abcde", "cdabe", "aa", "aaa",
        "aaaa", "3.14", "x3.145", "d", "]", "-", "{\"status\": \"done\"}",
        "ababaabbc", "color", "colour", "abab", "A", "Hello", "abc", "a.c",
        ".", "x z", "xyz", "xz", "ab", " \t", "abcd", "abbcd", "me_1@x",
        "Ff09", "!", "aab", "line\nnext",
    };
    size_t i, j;

    for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
        pool_regex_t *re;
        regex_t gre;
        int off;
        const char *why = pool_regex_compile(p, pats[i], strlen(pats[i]), &re,
                                             &off);

        ck_assert_msg(why == NULL, "%s: %s", pats[i], why);
        ck_assert_int_eq(regcomp(&gre, pats[i], REG_EXTENDED | REG_NOSUB), 0);
        for (j = 0; j < sizeof(subjects) / sizeof(subjects[0]); j++) {
            int ours = pool_regex_search(re, subjects[j], strlen(subjects[j]));
            int theirs = regexec(&gre, subjects[j], 0, NULL, 0) == 0;

            ck_assert_msg(ours == theirs, "/%s/ on \"%s\": ours %d, glibc %d",
                          pats[i], subjects[j], ours, theirs);
        }
        regfree(&gre);
    }
}
END_TEST

/* What glibc does not have or where the text is not a C string. */
START_TEST(regex_own)
{
    static const struct {
        const char *pat, *text;
        int match;
    } cases[] = {
        { "\\d+", "a12", 1 }, { "^\\d", "a1", 0 }, { "\\D", "123", 0 },
        { "\\s", "a b", 1 }, { "^\\S+$", "a b", 0 }, { "\\w+$", "x_1", 1 },
        { "^\\W", "_", 0 }, { "\\*", "a*", 1 }, { "a\\{", "a{", 1 },
        { "a{x", "a{x", 1 }, { "}", "}", 1 }, { "\xc3\xa9+$", "caf\xc3\xa9", 1 },
    };
    const char *bad[][2] = {
        { "*a", "nothing to repeat at character 0" },
        { "a|+", "nothing to repeat at character 2" },
        { "({1}a)", "nothing to repeat at character 1" },
        { "a)", "unmatched ')' at character 1" },
        { "(a", "unclosed '(' at character 0" },
        { "[a", "unclosed '[' at character 0" },
        { "[z-a]", "a range that goes backwards at character 1" },
        { "[[:word:]]", "unknown character class at character 1" },
        { "[[.a.]]", "collating elements are not supported at character 1" },
        { "a\\", "a trailing '\\' at character 1" },
        { "a{2", "a repetition {m,n} that is not closed at character 1" },
        { "a{3,2}", "a repetition {m,n} with n < m at character 1" },
        { "a{1,256}", "a repetition bound above 255 at character 1" },
        { "((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))"
          ")", "groups nested deeper than 32 at character 32" },
    };
    pool_regex_t *re;
    char *big;
    size_t i, n = 65536;
    int off;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_ptr_null(pool_regex_compile(p, cases[i].pat,
                                              strlen(cases[i].pat), &re, &off));
        ck_assert_msg(pool_regex_search(re, cases[i].text,
                                        strlen(cases[i].text))
                      == cases[i].match, "/%s/ on %s", cases[i].pat,
                      cases[i].text);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = pool_regex_compile(p, bad[i][0], strlen(bad[i][0]),
                                             &re, &off);

        ck_assert_msg(why && !strcmp(why, bad[i][1]), "/%s/: %s", bad[i][0],
                      why ? why : "accepted");
        ck_assert_ptr_null(re);
    }
    /* NUL bytes are text */
    ck_assert_ptr_null(pool_regex_compile(p, "a.b$", 4, &re, &off));
    ck_assert_int_eq(pool_regex_search(re, "xa\0b", 4), 1);
    ck_assert_ptr_null(pool_regex_compile(p, "a\0b", 3, &re, &off));
    ck_assert_int_eq(pool_regex_search(re, "a\0b", 3), 1);
    ck_assert_int_eq(pool_regex_search(re, "ab", 2), 0);

    /* linear time: glibc needs minutes for this one over 64 KB (Check's
     * time limit would stop an exponential matcher) */
    big = apr_palloc(p, n);
    for (i = 0; i < n; i++) {
        big[i] = "ab"[(i * 7 + i / 3) % 2];
    }
    ck_assert_ptr_null(pool_regex_compile(p, "(a|b)*a(a|b){20}c", 17, &re,
                                          &off));
    ck_assert_int_eq(pool_regex_search(re, big, n), 0);
    big[n - 1] = 'c';
    big[n - 22] = 'a';
    ck_assert_int_eq(pool_regex_search(re, big, n), 1);
    /* the largest program over the largest body */
    ck_assert_ptr_null(pool_regex_compile(p, "([ab]*[ab]*){165}c", 18, &re,
                                          &off));
    big[n - 1] = 'a';
    ck_assert_int_eq(pool_regex_search(re, big, n), 0);
}
END_TEST

static pool_rule_t *rule_ok(const char *text)
{
    pool_rule_t *r = NULL;
    pool_mapping_error_t e;
    const char *why = pool_rule_compile(p, text, strlen(text), &r, &e);

    ck_assert_msg(why == NULL, "%s refused: %s", text, why);
    ck_assert_ptr_nonnull(r);
    return r;
}

static const char *rule_err(const char *text, pool_mapping_error_t *e)
{
    pool_rule_t *r = (pool_rule_t *)1;
    const char *why = pool_rule_compile(p, text, strlen(text), &r, e);

    ck_assert_msg(why != NULL, "%s accepted", text);
    ck_assert_ptr_null(r);
    ck_assert_ptr_eq(e->msg, why);
    return why;
}

/* The reason r gives for (status, body, elapsed), or "ok". */
static const char *judge(const pool_rule_t *r, int status, const char *body,
                         long elapsed)
{
    const char *reason = (const char *)1;
    int ok = pool_rule_check(p, r, status, body, body ? strlen(body) : 0,
                             elapsed, &reason);

    ck_assert_int_eq(ok, reason == NULL);
    return ok ? "ok" : reason;
}

START_TEST(rule_defaults)
{
    const char *texts[] = { "null", "{}" };
    size_t i;

    for (i = 0; i < 2; i++) {
        pool_rule_t *r = rule_ok(texts[i]);

        ck_assert_int_eq(pool_rule_timeout_ms(r), 15000);
        ck_assert_str_eq(judge(r, 200, "", 5), "ok");
        ck_assert_str_eq(judge(r, 204, NULL, 5), "ok");
        ck_assert_str_eq(judge(r, 299, "anything", 5), "ok");
        ck_assert_str_eq(judge(r, 199, "", 5), "status 199 is not in 2xx");
        ck_assert_str_eq(judge(r, 300, "", 5), "status 300 is not in 2xx");
        ck_assert_str_eq(judge(r, 500, "", 5), "status 500 is not in 2xx");
    }
    ck_assert_int_eq(pool_rule_timeout_ms(NULL), 15000);
    ck_assert_str_eq(judge(NULL, 201, "", 15000), "ok");
    ck_assert_str_eq(judge(NULL, 404, "", 1), "status 404 is not in 2xx");
}
END_TEST

START_TEST(rule_status_sets)
{
    pool_rule_t *r = rule_ok("{\"status\":[200,\"201-204\",\"3XX\",\"418\"]}");
    pool_mapping_error_t e;

    ck_assert_str_eq(judge(r, 200, "", 1), "ok");
    ck_assert_str_eq(judge(r, 203, "", 1), "ok");
    ck_assert_str_eq(judge(r, 302, "", 1), "ok");
    ck_assert_str_eq(judge(r, 418, "", 1), "ok");
    ck_assert_str_eq(judge(r, 205, "", 1),
                     "status 205 is not in 200, 201-204, 3xx, 418");
    r = rule_ok("{\"status\":202}");
    ck_assert_str_eq(judge(r, 200, "", 1), "status 200 is not in 202");
    r = rule_ok("{\"status\":\"4xx\"}");
    ck_assert_str_eq(judge(r, 404, "", 1), "ok");

    ck_assert_str_eq(rule_err("{\"status\":[200,\"20x\"]}", &e),
                     "/status/1: '20x' is not a status (100..599), a range "
                     "like '200-204' or a class like '2xx'");
    ck_assert_str_eq(e.pointer, "/status/1");
    rule_err("{\"status\":600}", &e);
    ck_assert_str_eq(e.pointer, "/status");
    rule_err("{\"status\":[\"204-201\"]}", &e);
    rule_err("{\"status\":[\"6xx\"]}", &e);
    rule_err("{\"status\":[200.0]}", &e);
    rule_err("{\"status\":[\"200-20\"]}", &e);
    ck_assert_str_eq(rule_err("{\"status\":[]}", &e),
                     "/status: must list 1 to 32 statuses, ranges or classes");
}
END_TEST

START_TEST(rule_body_equals)
{
    pool_rule_t *r = rule_ok("{\"body\":{\"equals\":\"OK\"}}");

    ck_assert_str_eq(judge(r, 200, "OK", 1), "ok");
    ck_assert_str_eq(judge(r, 200, "OK\n", 1),
                     "status 200 but the body is not \"OK\"");
    ck_assert_str_eq(judge(r, 200, "", 1),
                     "status 200 but the body is not \"OK\"");
    /* the status is judged first */
    ck_assert_str_eq(judge(r, 500, "OK", 1), "status 500 is not in 2xx");
    r = rule_ok("{\"body\":{\"equals\":\"\"}}");
    ck_assert_str_eq(judge(r, 204, NULL, 1), "ok");
    ck_assert_str_eq(judge(r, 200, "x", 1),
                     "status 200 but the body is not \"\"");
}
END_TEST

START_TEST(rule_body_regex)
{
    pool_rule_t *r = rule_ok("{\"body\":{\"regex\":\"^ok\"}}");
    pool_mapping_error_t e;
    const char *reason;

    ck_assert_str_eq(judge(r, 200, "ok, thanks", 1), "ok");
    ck_assert_str_eq(judge(r, 200, "not ok", 1),
                     "status 200 but the body does not match ^ok");
    /* NUL is an ordinary byte */
    ck_assert_int_eq(pool_rule_check(p, r, 200, "ok\0\xff", 4, 1, &reason), 1);
    ck_assert_int_eq(pool_rule_check(p, r, 200, "\0ok", 3, 1, &reason), 0);
    r = rule_ok("{\"body\":{\"regex\":\"a.b\"}}");
    ck_assert_int_eq(pool_rule_check(p, r, 200, "xa\0b", 4, 1, &reason), 1);
    r = rule_ok("{\"body\":{\"regex\":\"\\\"status\\\": *\\\"(done|ok)\\\"\"}}");
    ck_assert_str_eq(judge(r, 200, "{\"status\": \"done\"}", 1), "ok");
    /* the whole body is one text: ^ and $ are its ends */
    r = rule_ok("{\"body\":{\"regex\":\"^a+b{2,3}$\"}}");
    ck_assert_str_eq(judge(r, 200, "aabbb", 1), "ok");
    ck_assert_str_eq(judge(r, 200, "aab\nb", 1),
                     "status 200 but the body does not match ^a+b{2,3}$");

    /* refused with the character offset in the regex */
    ck_assert_str_eq(rule_err("{\"body\":{\"regex\":\"\u00e9(\"}}", &e),
                     "/body/regex: unclosed '(' at character 1");
    ck_assert_str_eq(e.pointer, "/body/regex");
    ck_assert_int_eq(e.offset, 1);
    ck_assert_str_eq(rule_err("{\"body\":{\"regex\":\"(a)\\\\1\"}}", &e),
                     "/body/regex: back-references are not supported at "
                     "character 3");
    ck_assert_str_eq(rule_err("{\"body\":{\"regex\":\"a{256}\"}}", &e),
                     "/body/regex: a repetition bound above 255 at character "
                     "1");
    ck_assert_str_eq(rule_err("{\"body\":{\"regex\":\"(a{100}){20}\"}}", &e),
                     "/body/regex: too complex: repetitions expand it beyond "
                     "1000 instructions");
    ck_assert_int_eq(e.offset, -1);
    rule_ok("{\"body\":{\"regex\":\"(a{10}){9}[{(]x{2,}\"}}");
    ck_assert_str_eq(rule_err("{\"body\":{\"regex\":\"\"}}", &e),
                     "/body/regex: a regular expression has 1 to 512 bytes");
    ck_assert_str_eq(rule_err("{\"body\":{\"regex\":1}}", &e),
                     "/body/regex: must be a string (a POSIX extended regular "
                     "expression), got 1");
}
END_TEST

START_TEST(rule_body_pointer)
{
    pool_rule_t *r = rule_ok("{\"body\":{\"pointer\":\"/ok\",\"equals\":true}}");
    pool_mapping_error_t e;

    ck_assert_str_eq(judge(r, 200, "{\"ok\":true}", 1), "ok");
    ck_assert_str_eq(judge(r, 200, "{\"ok\":false}", 1),
                     "status 200 but body /ok was false (expected true)");
    ck_assert_str_eq(judge(r, 200, "{\"ok\":\"true\"}", 1),
                     "status 200 but body /ok was 'true' (expected true)");
    ck_assert_str_eq(judge(r, 200, "{}", 1),
                     "status 200 but body /ok is missing (expected true)");
    /* receivers that do not answer JSON */
    ck_assert_str_eq(judge(r, 200, "<html>OK</html>", 1),
                     "status 200 but the body is not JSON");
    ck_assert_str_eq(judge(r, 200, "", 1),
                     "status 200 but the body is not JSON");
    ck_assert_str_eq(judge(r, 200, "{\"ok\":true} trailing", 1),
                     "status 200 but the body is not JSON");
    /* values: numbers by value, nested by structure, long ones cut */
    r = rule_ok("{\"body\":{\"pointer\":\"/r/0/n\",\"equals\":1}}");
    ck_assert_str_eq(judge(r, 200, "{\"r\":[{\"n\":1.0}]}", 1), "ok");
    ck_assert_str_eq(judge(r, 200, "{\"r\":[{\"n\":2}]}", 1),
                     "status 200 but body /r/0/n was 2 (expected 1)");
    r = rule_ok("{\"body\":{\"pointer\":\"\",\"equals\":{\"a\":[1,\"x\"]}}}");
    ck_assert_str_eq(judge(r, 200, "{\"a\":[1,\"x\"]}", 1), "ok");
    ck_assert_str_eq(judge(r, 200, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                           1),
                     "status 200 but the body was 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... (expected "
                     "{\"a\":[1,\"x\"]})");
    r = rule_ok("{\"body\":{\"pointer\":\"/a~1b\",\"equals\":null}}");
    ck_assert_str_eq(judge(r, 200, "{\"a/b\":null}", 1), "ok");

    ck_assert_str_eq(rule_err("{\"body\":{\"pointer\":\"ok\",\"equals\":1}}", &e),
                     "/body/pointer: must be a string that is a JSON pointer "
                     "(RFC 6901), got 'ok' (it must be empty or start with "
                     "'/')");
    ck_assert_int_eq(e.offset, 0);
    ck_assert_str_eq(rule_err("{\"body\":{\"pointer\":\"/ok\"}}", &e),
                     "/body: \"pointer\" needs \"equals\": the value expected "
                     "there");
    ck_assert_str_eq(rule_err("{\"body\":{\"equals\":true}}", &e),
                     "/body/equals: must be a string (the exact text of the "
                     "body; a JSON value is compared with \"pointer\"), got "
                     "true");
    rule_err("{\"body\":{\"regex\":\"x\",\"equals\":\"x\"}}", &e);
    ck_assert_str_eq(e.pointer, "/body");
    rule_err("{\"body\":{}}", &e);
    ck_assert_str_eq(rule_err("{\"body\":{\"equal\":\"x\"}}", &e),
                     "/body/equal: unknown member (a body condition has "
                     "equals, regex or pointer)");
    rule_err("{\"body\":\"OK\"}", &e);
}
END_TEST

START_TEST(rule_body_prefix)
{
    pool_rule_t *r = rule_ok("{\"body\":{\"regex\":\"b$\"}}");
    apr_size_t n = POOL_RULE_BODY_MAX + 1;
    char *big = apr_palloc(p, n + 1);
    const char *reason;

    /* only the first 64 KB are looked at */
    memset(big, 'a', n);
    big[n - 1] = 'b';
    big[n] = '\0';
    ck_assert_int_eq(pool_rule_check(p, r, 200, big, n, 1, &reason), 0);
    ck_assert_int_eq(pool_rule_check(p, r, 200, big + 1, n - 1, 1, &reason),
                     1);
    /* a JSON answer cut there is not JSON any more */
    r = rule_ok("{\"body\":{\"pointer\":\"/ok\",\"equals\":true}}");
    memcpy(big, "{\"ok\":true,\"pad\":\"", 18);
    memcpy(big + n - 2, "\"}", 2);
    ck_assert_int_eq(pool_rule_check(p, r, 200, big, n, 1, &reason), 0);
    ck_assert_str_eq(reason, "status 200 but the body is not JSON");
    ck_assert_int_eq(pool_rule_check(p, r, 200, big, n - 1, 1, &reason), 0);
    memcpy(big + n - 3, "\"}", 2);
    ck_assert_int_eq(pool_rule_check(p, r, 200, big, n - 1, 1, &reason), 1);
}
END_TEST

START_TEST(rule_time_limit)
{
    pool_rule_t *r = rule_ok("{\"timeout_ms\":500,\"status\":\"2xx\"}");
    pool_mapping_error_t e;

    ck_assert_int_eq(pool_rule_timeout_ms(r), 500);
    ck_assert_str_eq(judge(r, 200, "", 500), "ok");
    ck_assert_str_eq(judge(r, 200, "", 501), "no answer within 500 ms");
    ck_assert_str_eq(judge(r, 0, NULL, 501), "no answer within 500 ms");
    ck_assert_str_eq(judge(r, 0, NULL, 20), "no answer");
    ck_assert_str_eq(judge(NULL, 0, NULL, 15001), "no answer within 15000 ms");
    ck_assert_str_eq(judge(NULL, -1, NULL, 3), "no answer");

    ck_assert_str_eq(rule_err("{\"timeout_ms\":0}", &e),
                     "/timeout_ms: must be an integer from 1 to 120000 "
                     "(milliseconds), got 0");
    rule_err("{\"timeout_ms\":120001}", &e);
    rule_err("{\"timeout_ms\":\"15000\"}", &e);
    rule_ok("{\"timeout_ms\":120000}");
}
END_TEST

START_TEST(rule_refused_with_position)
{
    pool_mapping_error_t e;
    char *big;

    rule_err("{\"status\": [200,\n 201,]}", &e);
    ck_assert_int_eq(e.line, 2);
    ck_assert_ptr_null(e.pointer);
    ck_assert_str_eq(rule_err("{\"retries\":3}", &e),
                     "/retries: unknown member (a success rule has status, "
                     "body and timeout_ms)");
    ck_assert_str_eq(e.pointer, "/retries");
    ck_assert_str_eq(rule_err("\"2xx\"", &e),
                     "a success rule is a JSON object with status, body and "
                     "timeout_ms (or null), got '2xx'");
    big = apr_palloc(p, POOL_RULE_TEXT_MAX + 2);
    memset(big, ' ', POOL_RULE_TEXT_MAX + 1);
    memcpy(big, "{}", 2);
    big[POOL_RULE_TEXT_MAX + 1] = '\0';
    ck_assert_str_eq(rule_err(big, &e),
                     "the success rule is longer than 16384 bytes");
    big[POOL_RULE_TEXT_MAX] = '\0';
    rule_ok(big);
}
END_TEST

Suite *suite_mapping(void)
{
    Suite *s = suite_create("mapping");
    TCase *tc = tcase_create("mapping");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, event_as_is);
    tcase_add_test(tc, pointers_any_type);
    tcase_add_test(tc, pointer_escaping_and_arrays);
    tcase_add_test(tc, defaults_and_missing);
    tcase_add_test(tc, string_templates);
    tcase_add_test(tc, literals_and_constants);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, path_refused);
    tcase_add_test(tc, refused_with_position);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, render_from_text);
    tcase_add_test(tc, regex_agrees_with_glibc);
    tcase_add_test(tc, regex_own);
    tcase_add_test(tc, rule_defaults);
    tcase_add_test(tc, rule_status_sets);
    tcase_add_test(tc, rule_body_equals);
    tcase_add_test(tc, rule_body_regex);
    tcase_add_test(tc, rule_body_pointer);
    tcase_add_test(tc, rule_body_prefix);
    tcase_add_test(tc, rule_time_limit);
    tcase_add_test(tc, rule_refused_with_position);
    suite_add_tcase(s, tc);
    return s;
}
