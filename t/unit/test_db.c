/* The statement cache of lib/pool_db.c against a real PostgreSQL
 * (POOL_TEST_DB): statements prepared once and run by name give the same
 * answers and the same errors as unprepared ones, and survive the server
 * forgetting them or a table changing under them; statements sent without
 * waiting (pool_db_call_t) answer later, as pool_db_exec would. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

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

static void raw_on(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    ck_assert_msg(r && (PQresultStatus(r) == PGRES_COMMAND_OK
                        || PQresultStatus(r) == PGRES_TUPLES_OK),
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static void raw(const char *sql)
{
    raw_on(db, sql);
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

/* ---- statements sent without waiting (pool_db_call_t) */

/* A second connection, to hold locks and watch the first. */
static PGconn *other(void)
{
    const char *err = NULL;
    PGconn *c = pool_db_connect(p, getenv("POOL_TEST_DB"), &err);

    ck_assert_msg(c != NULL, "cannot connect: %s", err ? err : "?");
    return c;
}

/* Waits (on the socket, as the deliver step does) until the answer is
 * there; fails the test after 30 s. */
static void wait_answer(void)
{
    int i;

    for (i = 0; i < 3000 && !pool_db_call_ready(db); i++) {
        struct pollfd pfd;

        pfd.fd = pool_db_call_socket(db);
        pfd.events = POLLIN;
        pfd.revents = 0;
        (void)poll(&pfd, 1, 10);
    }
    ck_assert_msg(pool_db_call_ready(db), "no answer within 30 s");
}

START_TEST(call_answers_later)
{
    PGconn *b = other();
    const char *params[1] = { "41" }, *err = NULL;
    pool_db_call_t q = { "locked", "SELECT pg_advisory_lock(4242)::text,"
                         " $1::int + 1", 1, params, 2, 0 };
    PGresult *r;
    int i;

    raw_on(b, "SELECT pg_advisory_lock(4242)");
    ck_assert_int_eq(pool_db_call_send(p, db, &q, &err), POOL_DB_OK);
    ck_assert_int_eq(q.busy, 1);
    /* the statement waits for b's lock: the caller goes on meanwhile */
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(pool_db_call_ready(db), 0);
        apr_sleep(apr_time_from_msec(20));
    }
    raw_on(b, "SELECT pg_advisory_unlock(4242)");
    wait_answer();
    ck_assert_int_eq(pool_db_call_receive(p, db, &q, &r, &err), POOL_DB_OK);
    ck_assert_int_eq(q.busy, 0);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "42");
    PQclear(r);
    /* prepared, as pool_db_exec's are; and the connection is free again */
    ck_assert_int_eq(prepared(), 1);
    raw("SELECT pg_advisory_unlock_all()");
    ck_assert_str_eq(one("SELECT $1::int * 3", "3"), "9");
    PQfinish(b);
}
END_TEST

START_TEST(call_errors_map_as_exec)
{
    const char *params[1] = { "1" }, *err = NULL;
    pool_db_call_t ins = { "insert", "INSERT INTO t_call VALUES ($1::int)",
                           1, params, -1, 0 };
    pool_db_call_t bad = { "broken", "SELEC $1::int", 1, params, -1, 0 };
    PGresult *r;

    raw("CREATE TEMP TABLE t_call (a int PRIMARY KEY)");
    ck_assert_int_eq(pool_db_call_send(p, db, &ins, &err), POOL_DB_OK);
    wait_answer();
    ck_assert_int_eq(pool_db_call_receive(p, db, &ins, &r, &err), POOL_DB_OK);
    PQclear(r);
    ck_assert_int_eq(pool_db_call_send(p, db, &ins, &err), POOL_DB_OK);
    wait_answer();
    ck_assert_int_eq(pool_db_call_receive(p, db, &ins, &r, &err),
                     POOL_DB_CONFLICT);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, "insert: "));
    ck_assert_ptr_nonnull(strstr(err, "23505"));
    /* a text that cannot be prepared fails at once, nothing in flight */
    ck_assert_int_eq(pool_db_call_send(p, db, &bad, &err), POOL_DB_ERROR);
    ck_assert_int_eq(bad.busy, 0);
    ck_assert_ptr_nonnull(strstr(err, "broken: syntax error"));
    ck_assert_str_eq(one("SELECT $1::int - 1", "1"), "0");
}
END_TEST

START_TEST(call_forgotten_statement_sent_again)
{
    const char *params[1] = { "5" }, *err = NULL;
    pool_db_call_t q = { "twice", "SELECT $1::int * 2", 1, params, 1, 0 };
    PGresult *r;

    ck_assert_str_eq(one("SELECT $1::int * 2", "1"), "2");
    raw("DEALLOCATE ALL");
    /* the cache still names it: the answer says it is gone, and it is sent
     * again unprepared */
    ck_assert_int_eq(pool_db_call_send(p, db, &q, &err), POOL_DB_OK);
    wait_answer();
    ck_assert_msg(pool_db_call_receive(p, db, &q, &r, &err) == POOL_DB_OK,
                  "%s", err ? err : "?");
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "10");
    PQclear(r);
}
END_TEST

START_TEST(call_lost_connection_is_unavailable)
{
    PGconn *b = other();
    const char *params[1] = { "1" }, *err = NULL;
    pool_db_call_t q = { "cut", "SELECT pg_advisory_lock(4343)::text,"
                         " $1::int", 1, params, 2, 0 };
    PGresult *r;

    raw_on(b, "SELECT pg_advisory_lock(4343)");
    ck_assert_int_eq(pool_db_call_send(p, db, &q, &err), POOL_DB_OK);
    raw_on(b, apr_psprintf(p, "SELECT pg_terminate_backend(%d)",
                           PQbackendPID(db)));
    wait_answer();
    ck_assert_int_eq(pool_db_call_receive(p, db, &q, &r, &err),
                     POOL_DB_UNAVAILABLE);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, "cut: "));
    PQfinish(b);
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
    tcase_add_test(tc, call_answers_later);
    tcase_add_test(tc, call_errors_map_as_exec);
    tcase_add_test(tc, call_forgotten_statement_sent_again);
    tcase_add_test(tc, call_lost_connection_is_unavailable);
    suite_add_tcase(s, tc);
    return s;
}
