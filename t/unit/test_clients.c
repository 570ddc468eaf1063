/* A pool's clients (lib/pool_clients.c, sql/012) against a real PostgreSQL
 * (POOL_TEST_DB): labels, listing filters and paging, updates, secret
 * rotation, imports (all or nothing, the keep callback before the commit)
 * and enrollment keys (secret check, states, use counting).  The label
 * checks run without a database. */
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_clients.h"
#include "pool_kdf.h"
#include "pool_util.h"

static apr_pool_t *p;
static PGconn *db;
static const char *pool_name;

static void setup(void)
{
    const char *err = NULL;
    pool_pool_t *pl;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    pool_name = apr_psprintf(p, "cl%s", apr_pstrndup(p, pool_uuid(p), 8));
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_name, &pl, &err),
                     POOL_DB_OK);
}

static void teardown(void)
{
    PQfinish(db);
    db = NULL;
    apr_pool_destroy(p);
    p = NULL;
}

static void setup_pure(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
}

static void teardown_pure(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

static pool_client_t *add(const char *name, const char *role,
                          const char *labels, const char **secret)
{
    pool_client_new_t in = { name, role, labels };
    pool_client_t *cl = NULL;
    const char *err = NULL, *sec;

    ck_assert_msg(pool_client_create(p, db, pool_name, &in, &cl,
                                     secret ? secret : &sec, &err)
                  == POOL_DB_OK, "create: %s", err);
    return cl;
}

static int verifies(const char *client_id, const char *secret)
{
    pool_client_t *cl = NULL;
    const char *err = NULL;

    ck_assert_int_eq(pool_db_client_get(p, db, client_id, &cl, &err),
                     POOL_DB_OK);
    return pool_kdf_verify(secret, cl->secret_hash)
           + 2 * (cl->prev_secret_hash
                  && pool_kdf_verify(secret, cl->prev_secret_hash));
}

/* ------------------------------------------------------------- labels */

START_TEST(labels_checked)
{
    json_t *ok = json_pack("{s:s, s:s}", "site", "north", "a.b/c-d_e", "");
    json_t *merge = json_pack("{s:n}", "site");
    json_t *labels = NULL;
    const char *bad[] = { "{\"Site\": \"x\"}", "{\"s\": 1}", "{\"\": \"x\"}",
                          "{\"s\": \"a\\u0001b\"}", "[]", "\"x\"",
                          "{\"-s\": \"x\"}", "{\"s\": null}" };
    size_t i;

    ck_assert_ptr_null(pool_labels_check(p, ok, 0));
    ck_assert_ptr_null(pool_labels_check(p, merge, 1));
    ck_assert_ptr_nonnull(pool_labels_check(p, merge, 0));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(pool_labels_check(p, j, 0) != NULL, "accepted %s",
                      bad[i]);
        json_decref(j);
    }
    ck_assert_ptr_null(pool_label_parse(p, "site=north=1", &labels));
    ck_assert_str_eq(json_string_value(json_object_get(labels, "site")),
                     "north=1");
    ck_assert_ptr_nonnull(pool_label_parse(p, "nokey", &labels));
    ck_assert_ptr_nonnull(pool_label_parse(p, "K=v", &labels));
    for (i = 0; i < POOL_LABELS_MAX - 1; i++) {
        ck_assert_ptr_null(pool_label_parse(p, apr_psprintf(p, "k%d=v",
                                                            (int)i), &labels));
    }
    ck_assert_ptr_nonnull(pool_label_parse(p, "one=more", &labels));
    json_decref(labels);
    json_decref(ok);
    json_decref(merge);
}
END_TEST

START_TEST(token_ids)
{
    ck_assert_str_eq(pool_enroll_token_id(p, "ek_0123456789abcdef_x"),
                     "ek_0123456789abcdef");
    ck_assert_ptr_null(pool_enroll_token_id(p, "ek_0123456789abcdef_"));
    ck_assert_ptr_null(pool_enroll_token_id(p, "ek_0123456789abcdeF_x"));
    ck_assert_ptr_null(pool_enroll_token_id(p, "ek_0123456789abcde_xx"));
    ck_assert_ptr_null(pool_enroll_token_id(p, "xk_0123456789abcdef_x"));
    ck_assert_ptr_null(pool_enroll_token_id(p, NULL));
}
END_TEST

/* ------------------------------------------------------------ clients */

START_TEST(list_filters_and_pages)
{
    apr_array_header_t *out = NULL;
    pool_client_filter_t f;
    const char *err = NULL;

    add("b-up", "uploader", "{\"site\": \"n\", \"rack\": \"1\"}", NULL);
    add("a-li", "listener", "{\"site\": \"n\"}", NULL);
    add("c-up", "uploader", NULL, NULL);
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(out, 0, pool_client_t *)->name, "a-li");
    f.labels = "{\"site\": \"n\"}";
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 2);
    f.role = "uploader";
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(out, 0, pool_client_t *)->name, "b-up");
    memset(&f, 0, sizeof(f));
    f.limit = 1;
    f.after = "a-li";
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(out, 0, pool_client_t *)->name, "b-up");
    f.after = "c-up";
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 0);
    ck_assert_int_eq(pool_client_list(p, db, "no-such-pool", &f, &out, &err),
                     POOL_DB_NOTFOUND);
}
END_TEST

START_TEST(update_merges_labels)
{
    pool_client_t *cl = add("m", "uploader", "{\"a\": \"1\", \"b\": \"2\"}",
                            NULL), *out = NULL;
    const char *err = NULL;
    json_t *many = json_object();
    char *text;
    int i;

    ck_assert_int_eq(pool_client_update(p, db, pool_name, cl->client_id, 1,
                                        "{\"a\": null, \"c\": \"3\"}", &out,
                                        &err), POOL_DB_OK);
    ck_assert(out->disabled);
    ck_assert_str_eq(out->labels, "{\"b\": \"2\", \"c\": \"3\"}");
    ck_assert_int_eq(pool_client_update(p, db, pool_name, cl->client_id, 0,
                                        NULL, &out, &err), POOL_DB_OK);
    ck_assert(!out->disabled);
    /* 31 more labels would make 33: refused, nothing changed */
    for (i = 0; i < 31; i++) {
        json_object_set_new(many, apr_psprintf(p, "x%d", i), json_string("v"));
    }
    text = json_dumps(many, JSON_COMPACT);
    ck_assert_int_eq(pool_client_update(p, db, pool_name, cl->client_id, 1,
                                        text, &out, &err), POOL_DB_REFUSED);
    free(text);
    json_decref(many);
    ck_assert_int_eq(pool_client_show(p, db, pool_name, cl->client_id, &out,
                                      &err), POOL_DB_OK);
    ck_assert(!out->disabled);
    ck_assert_str_eq(out->labels, "{\"b\": \"2\", \"c\": \"3\"}");
    /* another pool's client is not found through this pool */
    ck_assert_int_eq(pool_client_update(p, db, "no-such-pool", cl->client_id,
                                        1, NULL, &out, &err),
                     POOL_DB_NOTFOUND);
}
END_TEST

START_TEST(rotation_grace)
{
    const char *old, *new1, *new2, *until = NULL, *err = NULL;
    pool_client_t *cl = add("r", "uploader", NULL, &old);

    ck_assert_int_eq(verifies(cl->client_id, old), 1);
    ck_assert_int_eq(pool_client_rotate(p, db, pool_name, cl->client_id, 600,
                                        &new1, &until, &err), POOL_DB_OK);
    ck_assert_ptr_nonnull(until);
    ck_assert_int_eq(verifies(cl->client_id, new1), 1);
    ck_assert_int_eq(verifies(cl->client_id, old), 2);
    ck_assert_int_eq(pool_client_rotate(p, db, pool_name, cl->client_id, 0,
                                        &new2, &until, &err), POOL_DB_OK);
    ck_assert_ptr_null(until);
    ck_assert_int_eq(verifies(cl->client_id, new2), 1);
    ck_assert_int_eq(verifies(cl->client_id, new1), 0);
    ck_assert_int_eq(verifies(cl->client_id, old), 0);
    ck_assert_int_eq(pool_client_rotate(p, db, pool_name, cl->client_id,
                                        POOL_ROTATE_GRACE_MAX + 1, &new2,
                                        &until, &err), POOL_DB_ERROR);
}
END_TEST

typedef struct {
    int calls, fail;
    apr_array_header_t *clients, *secrets;
} keep_t;

static int keep(void *baton, apr_array_header_t *clients,
                apr_array_header_t *secrets, const char **err)
{
    keep_t *k = baton;

    k->calls++;
    k->clients = clients;
    k->secrets = secrets;
    if (k->fail) {
        *err = "the secrets could not be kept";
    }
    return k->fail;
}

static apr_array_header_t *items(int n, const char *prefix)
{
    apr_array_header_t *a = apr_array_make(p, n, sizeof(pool_client_new_t));
    int i;

    for (i = 0; i < n; i++) {
        pool_client_new_t *in = apr_array_push(a);
        in->name = apr_psprintf(p, "%s%04d", prefix, i);
        in->role = i % 2 ? "listener" : "uploader";
        in->labels = i % 3 ? NULL : "{\"third\": \"yes\"}";
    }
    return a;
}

START_TEST(import_all_or_nothing)
{
    apr_array_header_t *in = items(500, "imp"), *out = NULL;
    pool_client_filter_t f;
    const char *err = NULL;
    keep_t k;
    int i;

    memset(&k, 0, sizeof(k));
    ck_assert_int_eq(pool_client_import(p, db, pool_name, in, keep, &k, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(k.calls, 1);
    ck_assert_int_eq(k.clients->nelts, 500);
    for (i = 0; i < 500; i += 97) {
        pool_client_t *cl = APR_ARRAY_IDX(k.clients, i, pool_client_t *);
        ck_assert_str_eq(cl->name, APR_ARRAY_IDX(in, i,
                                                 pool_client_new_t).name);
        ck_assert_int_eq(verifies(cl->client_id, APR_ARRAY_IDX(k.secrets, i,
                                                 const char *)), 1);
    }
    memset(&f, 0, sizeof(f));
    f.labels = "{\"third\": \"yes\"}";
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 167);
    /* a taken name: nothing of the second import */
    in = items(10, "new");
    APR_ARRAY_IDX(in, 9, pool_client_new_t).name = "imp0003";
    ck_assert_int_eq(pool_client_import(p, db, pool_name, in, keep, &k, &err),
                     POOL_DB_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "imp0003"));
    /* keep fails: nothing either */
    k.fail = 1;
    in = items(10, "new");
    ck_assert_int_eq(pool_client_import(p, db, pool_name, in, keep, &k, &err),
                     POOL_DB_ERROR);
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(pool_client_list(p, db, pool_name, &f, &out, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 500);
    ck_assert_int_eq(pool_client_import(p, db, "no-such-pool", in, NULL, NULL,
                                        &err), POOL_DB_NOTFOUND);
}
END_TEST

START_TEST(enrollment)
{
    pool_enroll_key_t *k = NULL;
    pool_client_t *cl = NULL;
    pool_problem_t pr;
    const char *token, *secret, *err = NULL, *wrong;

    ck_assert_int_eq(pool_enroll_create(p, db, pool_name, "listener", 2, 600,
                                        "{\"fleet\": \"a\"}", "unit", &k,
                                        &token, &err), POOL_DB_OK);
    ck_assert_str_eq(k->state, "active");
    ck_assert_int_eq(pool_enroll_use(p, db, pool_name, token, "dev1",
                                     "{\"fleet\": \"b\", \"x\": \"1\"}", &cl,
                                     &secret, &pr, &err), POOL_DB_OK);
    ck_assert_int_eq(pr.status, 0);
    ck_assert_str_eq(cl->role, "listener");
    ck_assert_str_eq(cl->labels, "{\"x\": \"1\", \"fleet\": \"b\"}");
    ck_assert_int_eq(verifies(cl->client_id, secret), 1);
    /* wrong secret, another pool: 401; name taken: 409, not counted */
    wrong = apr_pstrcat(p, k->key_id, "_", pool_secret_new(p), NULL);
    ck_assert_int_eq(pool_enroll_use(p, db, pool_name, wrong, "dev2", NULL,
                                     &cl, &secret, &pr, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pr.status, 401);
    ck_assert_int_eq(pool_enroll_use(p, db, "no-such-pool", token, "dev2",
                                     NULL, &cl, &secret, &pr, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_enroll_use(p, db, pool_name, token, "dev1", NULL,
                                     &cl, &secret, &pr, &err),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(pr.status, 409);
    ck_assert_int_eq(pool_enroll_show(p, db, pool_name, k->key_id, &k, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(k->uses, 1);
    ck_assert_int_eq(pool_enroll_use(p, db, pool_name, token, "dev2", NULL,
                                     &cl, &secret, &pr, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_enroll_use(p, db, pool_name, token, "dev3", NULL,
                                     &cl, &secret, &pr, &err),
                     POOL_DB_REFUSED);
    ck_assert_int_eq(pr.status, 403);
    ck_assert_ptr_nonnull(strstr(pr.detail, "used up"));
    ck_assert_int_eq(pool_enroll_show(p, db, pool_name, k->key_id, &k, &err),
                     POOL_DB_OK);
    ck_assert_str_eq(k->state, "used");
    /* revoked */
    ck_assert_int_eq(pool_enroll_create(p, db, pool_name, "uploader", 0, 600,
                                        NULL, "unit", &k, &token, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_enroll_revoke(p, db, pool_name, k->key_id, &k,
                                        &err), POOL_DB_OK);
    ck_assert_str_eq(k->state, "revoked");
    ck_assert_int_eq(pool_enroll_use(p, db, pool_name, token, "dev4", NULL,
                                     &cl, &secret, &pr, &err),
                     POOL_DB_REFUSED);
    ck_assert_ptr_nonnull(strstr(pr.detail, "revoked"));
    ck_assert_int_eq(pool_enroll_create(p, db, pool_name, "admin", 0, 600,
                                        NULL, "unit", &k, &token, &err),
                     POOL_DB_ERROR);
}
END_TEST

Suite *suite_clients(void)
{
    Suite *s = suite_create("clients");
    TCase *pure = tcase_create("labels");
    TCase *tc = tcase_create("db");

    tcase_add_checked_fixture(pure, setup_pure, teardown_pure);
    tcase_add_test(pure, labels_checked);
    tcase_add_test(pure, token_ids);
    suite_add_tcase(s, pure);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, list_filters_and_pages);
    tcase_add_test(tc, update_merges_labels);
    tcase_add_test(tc, rotation_grace);
    tcase_add_test(tc, import_all_or_nothing);
    tcase_add_test(tc, enrollment);
    suite_add_tcase(s, tc);
    return s;
}
