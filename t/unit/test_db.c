/* The statement cache of lib/pool_db.c against a real PostgreSQL
 * (POOL_TEST_DB): statements prepared once and run by name give the same
 * answers and the same errors as unprepared ones, and survive the server
 * forgetting them or a table changing under them. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "pool_db.h"

static apr_pool_t *p;
static PGconn *db;

static void setup(void)
{
    const char *conninfo = getenv("POOL_TEST_DB"), *err = NULL;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = pool_db_connect(p, conninfo, &err);
    ck_assert_msg(db != NULL, "cannot connect: %s", err ? err : "?");
    ck_assert_int_eq(pool_db_cache_statements(db), 1);
}

static void teardown(void)
{
    PQfinish(db);
    apr_pool_destroy(p);
}

/* Runs sql with one parameter; returns the first column of its only row. */
static const char *one(const char *sql, const char *param)
{
    const char *params[1] = { param }, *err = NULL, *v;
    PGresult *r;

    ck_assert_msg(pool_db_exec(p, db, "test", sql, param ? 1 : 0, params, 1,
                               &r, &err) == POOL_DB_OK,
                  "%s: %s", sql, err ? err : "?");
    ck_assert_int_eq(PQntuples(r), 1);
    v = apr_pstrdup(p, PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void raw(const char *sql)
{
    PGresult *r = PQexec(db, sql);

    ck_assert_msg(r && (PQresultStatus(r) == PGRES_COMMAND_OK
                        || PQresultStatus(r) == PGRES_TUPLES_OK),
                  "%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
}

/* Statements of ours this session has prepared (counted by a statement
 * that is not cached: PQexec). */
static int prepared(void)
{
    PGresult *r = PQexec(db, "SELECT count(*) FROM pg_prepared_statements"
                             " WHERE name LIKE 'pool\\_%'");
    int n;

    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

START_TEST(same_text_is_prepared_once)
{
    int i;

    for (i = 0; i < 10; i++) {
        const char *v = apr_itoa(p, i);

        ck_assert_str_eq(one("SELECT $1::int + 1", v), apr_itoa(p, i + 1));
    }
    ck_assert_int_eq(prepared(), 1);
    ck_assert_str_eq(one("SELECT $1::text || 'x'", "a"), "ax");
    ck_assert_int_eq(prepared(), 2);
}
END_TEST

START_TEST(errors_map_as_unprepared)
{
    const char *err = NULL, *params[1] = { "1" };
    PGresult *r;

    raw("CREATE TEMP TABLE t_uniq (a int PRIMARY KEY)");
    ck_assert_int_eq(pool_db_exec0(p, db, "insert",
                                   "INSERT INTO t_uniq VALUES ($1::int)", 1,
                                   params, &err), POOL_DB_OK);
    /* the second run is by name: a unique violation is still a conflict */
    ck_assert_int_eq(pool_db_exec0(p, db, "insert",
                                   "INSERT INTO t_uniq VALUES ($1::int)", 1,
                                   params, &err), POOL_DB_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "23505"));
    /* a text that cannot be prepared fails as it would unprepared, and is
     * not cached */
    ck_assert_int_eq(pool_db_exec(p, db, "broken", "SELEC $1::int", 1,
                                  params, -1, &r, &err), POOL_DB_ERROR);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, "broken: syntax error"));
    ck_assert_int_eq(prepared(), 1);
}
END_TEST

START_TEST(forgotten_statements_are_prepared_again)
{
    const char *err = NULL;

    ck_assert_str_eq(one("SELECT $1::int * 2", "21"), "42");
    raw("DEALLOCATE ALL");
    /* outside a transaction: sent again unprepared, then cached anew */
    ck_assert_str_eq(one("SELECT $1::int * 2", "4"), "8");
    ck_assert_str_eq(one("SELECT $1::int * 2", "5"), "10");
    ck_assert_int_eq(prepared(), 1);

    /* inside one the failure has aborted it: the caller sees the error and
     * the next transaction works */
    raw("DEALLOCATE ALL");
    raw("BEGIN");
    {
        const char *params[1] = { "1" };
        PGresult *r;

        ck_assert_int_eq(pool_db_exec(p, db, "in tx", "SELECT $1::int * 2", 1,
                                      params, 1, &r, &err), POOL_DB_ERROR);
        ck_assert_ptr_nonnull(strstr(err, "26000"));
    }
    raw("ROLLBACK");
    ck_assert_str_eq(one("SELECT $1::int * 2", "6"), "12");
}
END_TEST

START_TEST(changed_table_is_followed)
{
    raw("CREATE TEMP TABLE t_shape (a int)");
    raw("INSERT INTO t_shape VALUES (7)");
    ck_assert_str_eq(one("SELECT * FROM t_shape WHERE a = $1::int", "7"), "7");
    /* the row type of the prepared SELECT * changes */
    raw("ALTER TABLE t_shape ADD COLUMN b int");
    {
        const char *params[1] = { "7" }, *err = NULL;
        PGresult *r;

        ck_assert_msg(pool_db_exec(p, db, "shape",
                                   "SELECT * FROM t_shape WHERE a = $1::int",
                                   1, params, 2, &r, &err) == POOL_DB_OK,
                      "%s", err ? err : "?");
        ck_assert_str_eq(PQgetvalue(r, 0, 0), "7");
        PQclear(r);
    }
}
END_TEST

START_TEST(varying_texts_stay_bounded)
{
    int i;

    for (i = 0; i < 300; i++) {
        const char *sql = apr_psprintf(p, "SELECT $1::int + %d", i);

        ck_assert_str_eq(one(sql, "1"), apr_itoa(p, i + 1));
    }
    ck_assert_int_le(prepared(), 256);
    ck_assert_int_ge(prepared(), 200);
    /* beyond the bound statements still run, unprepared */
    ck_assert_str_eq(one("SELECT $1::int + 1000", "1"), "1001");
}
END_TEST

Suite *suite_db(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("statement_cache");

    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, same_text_is_prepared_once);
    tcase_add_test(tc, errors_map_as_unprepared);
    tcase_add_test(tc, forgotten_statements_are_prepared_again);
    tcase_add_test(tc, changed_table_is_followed);
    tcase_add_test(tc, varying_texts_stay_bounded);
    suite_add_tcase(s, tc);
    return s;
}
