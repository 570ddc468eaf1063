/* Messages (lib/pool_messages.c, sql/013) against a real PostgreSQL
 * (POOL_TEST_DB): reading send requests, who receives a direct, role and
 * pool message (one row each), the inbox cursor, read marks, the sent box
 * and the sender's readers, bad references that store nothing, a retried
 * send, the message.received deliveries, the notification, and the
 * retention purge. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "pool_clients.h"
#include "pool_db.h"
#include "pool_messages.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static apr_pool_t *p;
static PGconn *db;
static const char *pool_name, *other_pool;
/* alice uploader, bob and carol listeners, dave admin; xavier of another
 * pool */
static pool_msg_caller_t *alice, *bob, *carol, *dave, *xavier;

static pool_msg_caller_t *add_client(const char *pool, const char *name,
                                     const char *role)
{
    const char *err = NULL, *secret;
    pool_client_t *cl;
    pool_msg_caller_t *me;

    ck_assert_int_eq(pool_db_client_add(p, db, pool, name, role, &cl, &secret,
                                        &err), POOL_DB_OK);
    ck_assert_int_eq(pool_msg_caller(p, db, pool, cl->client_id, &me, &err),
                     POOL_DB_OK);
    return me;
}

static void setup(void)
{
    const char *err = NULL;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    pool_name = apr_psprintf(p, "msg%s", apr_pstrndup(p, pool_uuid(p), 8));
    other_pool = apr_pstrcat(p, pool_name, "-b", NULL);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_name, NULL, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_pool_create(p, db, other_pool, NULL, &err),
                     POOL_DB_OK);
    alice = add_client(pool_name, "alice", "uploader");
    bob = add_client(pool_name, "bob", "listener");
    carol = add_client(pool_name, "carol", "listener");
    dave = add_client(pool_name, "dave", "admin");
    xavier = add_client(other_pool, "xavier", "uploader");
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

/* ------------------------------------------------------------ helpers */

static json_t *js(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);

    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
    return j;
}

/* pool_msg_parse of text: its reason (NULL when good). */
static const char *parse(const char *text, pool_msg_new_t *m,
                         const char **field, int *too_large)
{
    json_t *j = js(text);
    const char *why = pool_msg_parse(p, j, m, field, too_large);

    json_decref(j);
    return why;
}

static void refused(const char *text, const char *want_field)
{
    pool_msg_new_t m;
    const char *field;
    int big;

    ck_assert_msg(parse(text, &m, &field, &big) != NULL, "accepted: %s",
                  text);
    ck_assert_msg(want_field ? field && !strcmp(field, want_field) : !field,
                  "%s: field %s, want %s", text, field ? field : "(none)",
                  want_field ? want_field : "(none)");
    ck_assert_int_eq(big, 0);
}

/* The first column of the only row of stmt ($1: the pool's name). */
static const char *one(const char *stmt, const char *arg)
{
    const char *params[2] = { pool_name, arg }, *err = NULL, *v;
    PGresult *r;

    ck_assert_msg(pool_db_exec(p, db, "test", stmt, 2, params, 1, &r, &err)
                  == POOL_DB_OK, "%s: %s", stmt, err ? err : "?");
    ck_assert_int_eq(PQntuples(r), 1);
    v = pool_db_col_str(p, r, 0, 0);
    PQclear(r);
    return v ? v : "(null)";
}

static const char *stored_count(void)
{
    return one("SELECT count(*) FROM messages m JOIN pools p"
               " ON p.id = m.pool_id WHERE p.name = $1 AND $2::text IS NULL",
               NULL);
}

/* Sends text (a request) from me; returns the new message's id. */
static const char *send_rc(const pool_msg_caller_t *me, const char *text,
                           pool_db_rc want, const char *want_field)
{
    pool_msg_new_t m;
    const char *field = NULL, *err = NULL, *id = pool_uuid(p);
    json_t *out = NULL;
    int big;
    pool_db_rc rc;

    ck_assert_msg(parse(text, &m, &field, &big) == NULL, "refused: %s", text);
    rc = pool_msg_send(p, db, me, id, &m, "https://x.example/m", &out, &field,
                       &err);
    ck_assert_msg(rc == want, "send %s: rc %d, want %d (%s)", text, rc, want,
                  err ? err : "");
    if (want_field) {
        ck_assert_msg(field && !strcmp(field, want_field), "field %s, want %s",
                      field ? field : "(none)", want_field);
    }
    if (rc == POOL_DB_OK) {
        ck_assert_str_eq(json_string_value(json_object_get(out, "id")), id);
        json_decref(out);
    }
    return id;
}

static const char *send_ok(const pool_msg_caller_t *me, const char *text)
{
    return send_rc(me, text, POOL_DB_OK, NULL);
}

static const char *to_client(const pool_msg_caller_t *who)
{
    return apr_psprintf(p, "{\"to\": \"%s\", \"body\": \"to %s\"}",
                        who->client_id, who->client_id);
}

/* The ids of me's inbox (or sent box) after the cursor, comma-separated;
 * *next and *more from the page. */
static const char *box(const pool_msg_caller_t *me, int sent,
                       apr_int64_t after, int limit, apr_int64_t *next,
                       int *more)
{
    json_t *out, *m;
    const char *err = NULL, *ids = "";
    int count;
    size_t i;

    ck_assert_int_eq(pool_msg_list(p, db, me->pool, me->client_id, sent, after,
                                   limit, &out, &count, &err), POOL_DB_OK);
    json_array_foreach(json_object_get(out, "messages"), i, m) {
        ids = apr_pstrcat(p, ids, i ? "," : "",
                          json_string_value(json_object_get(m, "id")), NULL);
    }
    ck_assert_int_eq((int)json_array_size(json_object_get(out, "messages")),
                     count);
    if (next) {
        *next = apr_atoi64(json_string_value(json_object_get(out, "next")));
    }
    if (more) {
        *more = json_is_true(json_object_get(out, "more"));
    }
    json_decref(out);
    return ids;
}

static const char *inbox(const pool_msg_caller_t *me)
{
    return box(me, 0, 0, POOL_MSG_LIST_MAX, NULL, NULL);
}

static const char *ids(const char *a, const char *b, const char *c)
{
    return apr_pstrcat(p, a, b ? "," : "", b ? b : "", c ? "," : "",
                       c ? c : "", NULL);
}

static json_t *get(const pool_msg_caller_t *me, const char *id, pool_db_rc want)
{
    json_t *out = NULL;
    const char *err = NULL;

    ck_assert_int_eq(pool_msg_get(p, db, me, id, &out, &err), want);
    return out;
}

/* ----------------------------------------------------- parsing requests */

START_TEST(parse_addresses)
{
    pool_msg_new_t m;
    const char *field;
    int big;

    ck_assert_ptr_null(parse("{\"to\": \"cl_0123456789abcdef01234567\","
                             " \"body\": \"hi\"}", &m, &field, &big));
    ck_assert_str_eq(m.to_client, "cl_0123456789abcdef01234567");
    ck_assert_ptr_null(m.to_role);
    ck_assert_str_eq(m.body, "\"hi\"");
    ck_assert_int_eq((int)m.size, 4);
    ck_assert_ptr_null(parse("{\"to\": \"role:processor\", \"body\": {\"b\": 1,"
                             " \"a\": [1, 2]}, \"subject\": \"S\"}", &m,
                             &field, &big));
    ck_assert_str_eq(m.to_role, "processor");
    ck_assert_ptr_null(m.to_client);
    /* member order is the sender's */
    ck_assert_str_eq(m.body, "{\"b\":1,\"a\":[1,2]}");
    ck_assert_str_eq(m.subject, "S");
    ck_assert_ptr_null(parse("{\"to\": \"pool\", \"body\": null,"
                             " \"files\": []}", &m, &field, &big));
    ck_assert_ptr_null(m.to_client);
    ck_assert_ptr_null(m.to_role);
    ck_assert_str_eq(m.body, "null");
    ck_assert_int_eq(m.files->nelts, 0);
}
END_TEST

START_TEST(parse_refuses)
{
    refused("[1]", NULL);
    refused("{\"body\": 1}", "to");
    refused("{\"to\": 5, \"body\": 1}", "to");
    refused("{\"to\": \"everyone\", \"body\": 1}", "to");
    refused("{\"to\": \"role:root\", \"body\": 1}", "to");
    refused("{\"to\": \"cl_0123\", \"body\": 1}", "to");
    refused("{\"to\": \"CL_0123456789ABCDEF01234567\", \"body\": 1}", "to");
    refused("{\"to\": \"pool\"}", "body");
    refused("{\"to\": \"pool\", \"body\": 1, \"cc\": \"x\"}", "cc");
    refused("{\"to\": \"pool\", \"body\": 1, \"subject\": 7}", "subject");
    refused("{\"to\": \"pool\", \"body\": 1, \"subject\": \"\"}", "subject");
    refused("{\"to\": \"pool\", \"body\": 1, \"subject\": \"a\\nb\"}",
            "subject");
    refused("{\"to\": \"pool\", \"body\": 1, \"subject\": \"a\\u0085b\"}",
            "subject");
    refused("{\"to\": \"pool\", \"body\": 1, \"subject\": \"a\\u007fb\"}",
            "subject");
    refused("{\"to\": \"pool\", \"body\": 1, \"files\": \"x\"}", "files");
    refused("{\"to\": \"pool\", \"body\": 1, \"files\": [1]}", "files[0]");
    refused("{\"to\": \"pool\", \"body\": 1, \"files\": [\"a\", \"a\"]}",
            "files[1]");
}
END_TEST

START_TEST(parse_limits)
{
    pool_msg_new_t m;
    const char *field, *why;
    const char *text;
    char *s200 = apr_palloc(p, 401), *big = apr_palloc(p, 65535);
    int too_large, i;

    /* 200 characters of two bytes each fit, 201 do not */
    for (i = 0; i < 200; i++) {
        memcpy(s200 + 2 * i, "\xc3\xa9", 2);
    }
    s200[400] = '\0';
    text = apr_psprintf(p, "{\"to\": \"pool\", \"body\": 1, \"subject\": "
                        "\"%s\"}", s200);
    ck_assert_ptr_null(parse(text, &m, &field, &too_large));
    text = apr_psprintf(p, "{\"to\": \"pool\", \"body\": 1, \"subject\": "
                        "\"%sx\"}", s200);
    ck_assert_ptr_nonnull(parse(text, &m, &field, &too_large));
    ck_assert_str_eq(field, "subject");
    /* a string body of 65534 characters is 65536 bytes of JSON */
    memset(big, 'a', 65534);
    big[65534] = '\0';
    text = apr_psprintf(p, "{\"to\": \"pool\", \"body\": \"%s\"}", big);
    ck_assert_ptr_null(parse(text, &m, &field, &too_large));
    ck_assert_int_eq((int)m.size, 65536);
    text = apr_psprintf(p, "{\"to\": \"pool\", \"body\": \"%sb\"}", big);
    why = parse(text, &m, &field, &too_large);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(field, "body");
    ck_assert_int_eq(too_large, 1);
    /* escapes count as written: 32768 quotes are 65538 bytes */
    {
        char *quotes = apr_palloc(p, 32769);
        json_t *j;

        memset(quotes, '"', 32768);
        quotes[32768] = '\0';
        j = json_pack("{s:s, s:s}", "to", "pool", "body", quotes);
        ck_assert_ptr_nonnull(pool_msg_parse(p, j, &m, &field, &too_large));
        ck_assert_int_eq(too_large, 1);
        json_decref(j);
    }
    /* 21 attachments are too many */
    text = "{\"to\": \"pool\", \"body\": 1, \"files\": [";
    for (i = 0; i < 21; i++) {
        text = apr_psprintf(p, "%s%s\"%d\"", text, i ? "," : "", i);
    }
    refused(apr_pstrcat(p, text, "]}", NULL), "files");
}
END_TEST

/* ------------------------------------------------------------- receiving */

START_TEST(who_receives_what)
{
    const char *d, *r, *r2, *all;

    d = send_ok(alice, to_client(bob));
    r = send_ok(alice, "{\"to\": \"role:listener\", \"body\": {\"n\": 1}}");
    all = send_ok(alice, "{\"to\": \"pool\", \"body\": \"all\","
                         " \"subject\": \"hello\"}");
    /* one row each, whatever the number of receivers */
    ck_assert_str_eq(stored_count(), "3");
    ck_assert_str_eq(inbox(bob), ids(d, r, all));
    ck_assert_str_eq(inbox(carol), ids(r, all, NULL));
    ck_assert_str_eq(inbox(dave), all);
    /* the sender does not receive its own role or pool message */
    ck_assert_str_eq(inbox(alice), "");
    ck_assert_str_eq(inbox(xavier), "");
    {
        /* another pool's client named with this pool: nothing */
        pool_msg_caller_t stray = *xavier;

        stray.pool = pool_name;
        ck_assert_str_eq(inbox(&stray), "");
        ck_assert_str_eq(box(&stray, 1, 0, 100, NULL, NULL), "");
    }
    ck_assert_str_eq(box(alice, 1, 0, 100, NULL, NULL), ids(d, r, all));
    ck_assert_str_eq(box(bob, 1, 0, 100, NULL, NULL), "");
    /* a listener's message to its own role reaches the other listener */
    r2 = send_ok(carol, "{\"to\": \"role:listener\", \"body\": 2}");
    ck_assert_str_eq(inbox(bob), apr_pstrcat(p, ids(d, r, all), ",", r2,
                                             NULL));
    ck_assert_str_eq(inbox(carol), ids(r, all, NULL));
}
END_TEST

START_TEST(a_later_client_gets_only_later_broadcasts)
{
    const char *before, *after, *direct, *err = NULL;
    pool_msg_caller_t *eve;

    before = send_ok(alice, "{\"to\": \"pool\", \"body\": 1}");
    send_ok(alice, "{\"to\": \"role:listener\", \"body\": 1}");
    eve = add_client(pool_name, "eve", "listener");
    after = send_ok(alice, "{\"to\": \"pool\", \"body\": 2}");
    direct = send_ok(alice, to_client(eve));
    ck_assert_str_eq(inbox(eve), ids(after, direct, NULL));
    ck_assert_int_eq(pool_msg_mark_read(p, db, eve, before, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_ptr_null(get(eve, before, POOL_DB_NOTFOUND));
    /* bob, there before, has both */
    ck_assert_str_eq(apr_pstrndup(p, inbox(bob), 36), before);
}
END_TEST

START_TEST(cursor_pages_oldest_first)
{
    const char *a, *b, *c;
    apr_int64_t next, next2;
    int more;

    a = send_ok(alice, to_client(bob));
    b = send_ok(dave, "{\"to\": \"pool\", \"body\": 1}");
    c = send_ok(carol, "{\"to\": \"role:listener\", \"body\": 1}");
    ck_assert_str_eq(box(bob, 0, 0, 2, &next, &more), ids(a, b, NULL));
    ck_assert_int_eq(more, 1);
    ck_assert_str_eq(box(bob, 0, next, 2, &next2, &more), c);
    ck_assert_int_eq(more, 0);
    /* an empty page keeps the cursor */
    ck_assert_str_eq(box(bob, 0, next2, 2, &next, &more), "");
    ck_assert_int_eq(next, next2);
    ck_assert_int_eq(more, 0);
}
END_TEST

START_TEST(read_marks)
{
    const char *d, *all, *err = NULL;
    json_t *m, *again, *readers;

    d = send_ok(alice, to_client(bob));
    all = send_ok(alice, "{\"to\": \"pool\", \"body\": 1}");
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, d, &err), POOL_DB_OK);
    m = get(bob, d, POOL_DB_OK);
    ck_assert(json_is_string(json_object_get(m, "read_at")));
    /* again: the first mark stays */
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, d, &err), POOL_DB_OK);
    again = get(bob, d, POOL_DB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(again, "read_at")),
                     json_string_value(json_object_get(m, "read_at")));
    json_decref(again);
    json_decref(m);
    /* only a receiver marks: not the sender, another client, another
     * pool's, an unknown id */
    ck_assert_int_eq(pool_msg_mark_read(p, db, alice, d, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_msg_mark_read(p, db, carol, d, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_msg_mark_read(p, db, xavier, all, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, pool_uuid(p), &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, "nope", &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_msg_mark_read(p, db, dave, all, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_msg_mark_read(p, db, carol, all, &err), POOL_DB_OK);
    ck_assert_str_eq(one("SELECT count(*) FROM message_reads r JOIN messages m"
                         " ON m.id = r.message_id JOIN pools p"
                         " ON p.id = m.pool_id WHERE p.name = $1"
                         " AND $2::text IS NULL", NULL), "3");
    /* the sender sees who read it; others see their own mark only */
    m = get(alice, all, POOL_DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "read_count")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "recipients")), 3);
    readers = json_object_get(m, "readers");
    ck_assert_int_eq((int)json_array_size(readers), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(readers,
                     0), "client_id")), dave->client_id);
    json_decref(m);
    m = get(alice, d, POOL_DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "recipients")), 1);
    json_decref(m);
    ck_assert_ptr_null(get(carol, d, POOL_DB_NOTFOUND));
    ck_assert_ptr_null(get(xavier, d, POOL_DB_NOTFOUND));
}
END_TEST

START_TEST(sent_box_counts_reads)
{
    const char *d, *all, *err = NULL;
    json_t *out, *msgs;
    int count;

    d = send_ok(alice, to_client(bob));
    all = send_ok(alice, "{\"to\": \"pool\", \"body\": 1}");
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, d, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, all, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_msg_mark_read(p, db, carol, all, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_msg_list(p, db, alice->pool, alice->client_id, 1, 0,
                                   10, &out, &count, &err), POOL_DB_OK);
    msgs = json_object_get(out, "messages");
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(msgs,
                     0), "read_count")), 1);
    ck_assert(json_is_string(json_object_get(json_array_get(msgs, 0),
                                             "read_at")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(msgs,
                     1), "read_count")), 2);
    /* a broadcast has no single read_at */
    ck_assert_ptr_null(json_object_get(json_array_get(msgs, 1), "read_at"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs,
                     1), "to")), "pool");
    json_decref(out);
}
END_TEST

/* ------------------------------------------------------------- sending */

START_TEST(bad_references_store_nothing)
{
    pool_file_t f, *mine = NULL, *theirs = NULL;
    const char *err = NULL;

    memset(&f, 0, sizeof(f));
    f.id = pool_uuid(p);
    f.pool = pool_name;
    f.client_id = alice->client_id;
    f.name = "a.txt";
    f.sha256 = SHA;
    f.ts = apr_time_now();
    ck_assert_int_eq(pool_db_file_insert(p, db, &f, &mine, &err), POOL_DB_OK);
    f.id = pool_uuid(p);
    f.pool = other_pool;
    f.client_id = xavier->client_id;
    ck_assert_int_eq(pool_db_file_insert(p, db, &f, &theirs, &err),
                     POOL_DB_OK);

    send_rc(alice, to_client(xavier), POOL_DB_NOTFOUND, "to");
    send_rc(alice, "{\"to\": \"cl_000000000000000000000000\", \"body\": 1}",
            POOL_DB_NOTFOUND, "to");
    send_rc(alice, to_client(alice), POOL_DB_NOTFOUND, "to");
    send_rc(alice, apr_psprintf(p, "{\"to\": \"pool\", \"body\": 1, \"files\":"
                                " [\"%s\", \"%s\"]}", mine->id, theirs->id),
            POOL_DB_NOTFOUND, "files[1]");
    send_rc(alice, apr_psprintf(p, "{\"to\": \"pool\", \"body\": 1, \"files\":"
                                " [\"%s\"]}", pool_uuid(p)),
            POOL_DB_NOTFOUND, "files[0]");
    send_rc(alice, "{\"to\": \"pool\", \"body\": 1, \"files\": [\"x\"]}",
            POOL_DB_NOTFOUND, "files[0]");
    ck_assert_str_eq(stored_count(), "0");
    ck_assert_str_eq(one("SELECT count(*) FROM deliveries d JOIN pools p"
                         " ON p.id = d.pool_id WHERE p.name = $1"
                         " AND $2::text IS NULL", NULL), "0");
    /* any role may attach any file of its pool (as any may download it) */
    send_ok(bob, apr_psprintf(p, "{\"to\": \"role:uploader\", \"body\": 1,"
                              " \"files\": [\"%s\"]}", mine->id));
    ck_assert_str_eq(one("SELECT files[1]::text FROM messages m JOIN pools p"
                         " ON p.id = m.pool_id WHERE p.name = $1"
                         " AND $2::text IS NULL", NULL), mine->id);
}
END_TEST

START_TEST(a_retried_send_stores_once)
{
    pool_msg_new_t m;
    const char *field, *err = NULL, *id = pool_uuid(p);
    json_t *out;
    int big;

    ck_assert_ptr_null(parse("{\"to\": \"pool\", \"body\": 1}", &m, &field,
                             &big));
    ck_assert_int_eq(pool_msg_send(p, db, alice, id, &m, NULL, &out, &field,
                                   &err), POOL_DB_OK);
    json_decref(out);
    ck_assert_int_eq(pool_msg_send(p, db, alice, id, &m, NULL, &out, &field,
                                   &err), POOL_DB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")), id);
    json_decref(out);
    ck_assert_str_eq(stored_count(), "1");
    ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
}
END_TEST

START_TEST(events_for_receivers_with_endpoints)
{
    const char *secret, *err = NULL, *d, *q;
    int created;
    json_t *payload;
    json_error_t jerr;

    ck_assert_int_eq(pool_client_callback_set(p, db, pool_name, bob->client_id,
                     "https://bob.example/hook", &secret, &created, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_client_callback_set(p, db, pool_name,
                     carol->client_id, "https://carol.example/hook", &secret,
                     &created, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_client_callback_set(p, db, pool_name,
                     alice->client_id, "https://alice.example/hook", &secret,
                     &created, &err), POOL_DB_OK);
    d = send_ok(alice, to_client(bob));
    send_ok(alice, "{\"to\": \"role:listener\", \"body\": 1}");
    send_ok(alice, "{\"to\": \"role:admin\", \"body\": 1}");
    send_ok(alice, "{\"to\": \"pool\", \"body\": 1}");
    q = "SELECT string_agg(c.name, ',' ORDER BY d.created_at, c.name)"
        " FROM deliveries d JOIN clients c ON c.id = d.client_id"
        " JOIN pools p ON p.id = d.pool_id"
        " WHERE p.name = $1 AND d.event = $2 AND d.endpoint_id IS NOT NULL";
    /* bob (direct), bob and carol (role), nobody (admin: dave has no
     * endpoint), bob and carol (pool); never alice, the sender */
    ck_assert_str_eq(one(q, POOL_MSG_EVENT), "bob,bob,carol,bob,carol");
    payload = json_loads(one("SELECT d.payload::text FROM deliveries d"
                             " JOIN pools p ON p.id = d.pool_id"
                             " WHERE p.name = $1 AND d.payload->'data'->>'id'"
                             " = $2", d), 0, &jerr);
    ck_assert_ptr_nonnull(payload);
    ck_assert_str_eq(json_string_value(json_object_get(payload, "type")),
                     POOL_MSG_EVENT);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(payload,
                     "data"), "to")), bob->client_id);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(payload,
                     "data"), "url")), "https://x.example/m");
    /* small: the body is fetched from the url */
    ck_assert_ptr_null(json_object_get(json_object_get(payload, "data"),
                                       "body"));
    json_decref(payload);
}
END_TEST

START_TEST(sending_notifies_the_pool)
{
    const char *conninfo = getenv("POOL_TEST_DB"), *err = NULL;
    PGconn *l = pool_db_connect(p, conninfo, &err);
    PGnotify *n;
    int seen = 0, i;

    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(pool_db_exec0(p, l, "listen", "LISTEN " POOL_MSG_CHANNEL,
                                   0, NULL, &err), POOL_DB_OK);
    send_ok(alice, "{\"to\": \"pool\", \"body\": 1}");
    /* it comes once the sending transaction committed, within 5 s */
    for (i = 0; i < 50 && !seen; i++) {
        struct pollfd pf;

        pf.fd = PQsocket(l);
        pf.events = POLLIN;
        poll(&pf, 1, 100);
        ck_assert_int_eq(PQconsumeInput(l), 1);
        while ((n = PQnotifies(l)) != NULL) {
            seen += !strcmp(n->relname, POOL_MSG_CHANNEL)
                    && !strcmp(n->extra, pool_name);
            PQfreemem(n);
        }
    }
    ck_assert_int_eq(seen, 1);
    PQfinish(l);
}
END_TEST

/* ------------------------------------------------------------ retention */

START_TEST(purge_keeps_what_retention_keeps)
{
    const char *old, *young, *theirs, *err = NULL;
    int purged;

    old = send_ok(alice, "{\"to\": \"pool\", \"body\": 1}");
    young = send_ok(alice, "{\"to\": \"pool\", \"body\": 2}");
    theirs = send_ok(xavier, "{\"to\": \"pool\", \"body\": 3}");
    ck_assert_int_eq(pool_msg_mark_read(p, db, bob, old, &err), POOL_DB_OK);
    /* two hours old; this pool keeps messages for one hour, the other
     * for ever */
    one("WITH u AS (UPDATE pools SET settings = settings"
        " || '{\"retention\": 3600}' WHERE name = $1 RETURNING 1)"
        " SELECT count(*) FROM u WHERE $2::text IS NULL", NULL);
    one("WITH u AS (UPDATE messages SET created_at = now() - interval '2 h'"
        " WHERE id = $2::uuid RETURNING 1)"
        " SELECT count(*) FROM u WHERE $1::text IS NOT NULL", old);
    one("WITH u AS (UPDATE messages SET created_at = now() - interval '2 h'"
        " WHERE id = $2::uuid RETURNING 1)"
        " SELECT count(*) FROM u WHERE $1::text IS NOT NULL", theirs);
    ck_assert_int_eq(pool_msg_purge(p, db, other_pool, &purged, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(purged, 0);
    ck_assert_int_eq(pool_msg_purge(p, db, NULL, &purged, &err), POOL_DB_OK);
    ck_assert_int_ge(purged, 1);
    ck_assert_str_eq(inbox(bob), young);
    ck_assert_str_eq(stored_count(), "1");
    ck_assert_str_eq(one("SELECT count(*) FROM messages WHERE id = $2::uuid"
                         " AND $1::text IS NOT NULL", theirs), "1");
    ck_assert_str_eq(one("SELECT count(*) FROM message_reads"
                         " WHERE message_id = $2::uuid"
                         " AND $1::text IS NOT NULL",
                         old), "0");
}
END_TEST

Suite *suite_messages(void)
{
    Suite *s = suite_create("messages");
    TCase *pure = tcase_create("messages_parse");
    TCase *tc = tcase_create("messages");

    tcase_add_test(pure, parse_addresses);
    tcase_add_test(pure, parse_refuses);
    tcase_add_test(pure, parse_limits);
    tcase_add_checked_fixture(pure, setup_pure, teardown_pure);
    suite_add_tcase(s, pure);
    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, who_receives_what);
    tcase_add_test(tc, a_later_client_gets_only_later_broadcasts);
    tcase_add_test(tc, cursor_pages_oldest_first);
    tcase_add_test(tc, read_marks);
    tcase_add_test(tc, sent_box_counts_reads);
    tcase_add_test(tc, bad_references_store_nothing);
    tcase_add_test(tc, a_retried_send_stores_once);
    tcase_add_test(tc, events_for_receivers_with_endpoints);
    tcase_add_test(tc, sending_notifies_the_pool);
    tcase_add_test(tc, purge_keeps_what_retention_keeps);
    suite_add_tcase(s, tc);
    return s;
}
