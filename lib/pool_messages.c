/* Messages: see pool_messages.h. */
#include <string.h>

#include <apr_strings.h>

#include "pool_messages.h"
#include "pool_name.h"
#include "pool_ts.h"
#include "pool_util.h"

#define CLIENT_ID_LEN 27            /* "cl_" + 24 hex */

/* ------------------------------------------------------------ requests */

static int client_id_shape(const char *s)
{
    int i;

    if (strlen(s) != CLIENT_ID_LEN || strncmp(s, "cl_", 3)) {
        return 0;
    }
    for (i = 3; i < CLIENT_ID_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static const char *parse_to(apr_pool_t *p, const json_t *v, pool_msg_new_t *m)
{
    const char *s;

    if (!json_is_string(v)) {
        return "to: must be a string";
    }
    s = json_string_value(v);
    m->to = apr_pstrdup(p, s);
    if (!strcmp(s, "pool")) {
        return NULL;
    }
    if (!strncmp(s, "role:", 5) && !pool_role_check(s + 5)) {
        m->to_role = m->to + 5;
        return NULL;
    }
    if (client_id_shape(s)) {
        m->to_client = m->to;
        return NULL;
    }
    return "to: must be a client id (cl_...), role:uploader, role:listener, "
           "role:processor, role:admin or pool";
}

/* jansson hands out valid UTF-8 only: characters are the bytes that do
 * not continue one; U+0080..U+009F are 0xC2 0x80..0x9F. */
static const char *parse_subject(apr_pool_t *p, const json_t *v,
                                 pool_msg_new_t *m)
{
    const unsigned char *s;
    apr_size_t n, i, chars = 0;

    if (json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v)) {
        return "subject: must be a string";
    }
    s = (const unsigned char *)json_string_value(v);
    n = json_string_length(v);
    if (n == 0) {
        return "subject: must not be empty (leave it out instead)";
    }
    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f
            || (s[i] == 0xc2 && i + 1 < n && s[i + 1] <= 0x9f)) {
            return "subject: must not contain control characters";
        }
        chars += (s[i] & 0xc0) != 0x80;
    }
    if (chars > POOL_MSG_SUBJECT_MAX) {
        return "subject: longer than 200 characters";
    }
    m->subject = apr_pstrmemdup(p, (const char *)s, n);
    return NULL;
}

static const char *parse_body(apr_pool_t *p, const json_t *v,
                              pool_msg_new_t *m, int *too_large)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT
                               | JSON_PRESERVE_ORDER);

    if (!text) {
        return "body: cannot be encoded";
    }
    m->size = strlen(text);
    m->body = apr_pstrmemdup(p, text, m->size);
    free(text);
    if (m->size > POOL_MSG_BODY_MAX) {
        *too_large = 1;
        return apr_psprintf(p, "body: its JSON text is %" APR_SIZE_T_FMT
                            " bytes, more than the 65536 a message may "
                            "have", m->size);
    }
    return NULL;
}

static const char *parse_files(apr_pool_t *p, const json_t *v,
                               pool_msg_new_t *m, const char **field)
{
    size_t i, j, n;

    if (!json_is_array(v)) {
        return "files: must be an array of file ids";
    }
    n = json_array_size(v);
    if (n > POOL_MSG_FILES_MAX) {
        return "files: at most 20 files may be attached";
    }
    for (i = 0; i < n; i++) {
        const json_t *f = json_array_get(v, i);
        const char *id;

        *field = apr_psprintf(p, "files[%d]", (int)i);
        if (!json_is_string(f)) {
            return apr_pstrcat(p, *field, ": must be a file id", NULL);
        }
        id = json_string_value(f);
        for (j = 0; j < i; j++) {
            if (!strcmp(id, APR_ARRAY_IDX(m->files, j, const char *))) {
                return apr_pstrcat(p, *field, ": the file is attached twice",
                                   NULL);
            }
        }
        APR_ARRAY_PUSH(m->files, const char *) = apr_pstrdup(p, id);
    }
    *field = NULL;
    return NULL;
}

const char *pool_msg_parse(apr_pool_t *p, const json_t *req,
                           pool_msg_new_t *m, const char **field,
                           int *too_large)
{
    const char *key, *why = NULL;
    json_t *v;

    memset(m, 0, sizeof(*m));
    m->files = apr_array_make(p, 1, sizeof(const char *));
    *field = NULL;
    *too_large = 0;
    if (!json_is_object(req)) {
        return "the body must be a JSON object {\"to\", \"subject\"?, "
               "\"body\", \"files\"?}";
    }
    json_object_foreach((json_t *)req, key, v) {
        if (strcmp(key, "to") && strcmp(key, "subject")
            && strcmp(key, "body") && strcmp(key, "files")) {
            *field = apr_pstrdup(p, key);
            return apr_pstrcat(p, *field, ": unknown field", NULL);
        }
    }
    *field = "to";
    if (!(v = json_object_get(req, "to"))) {
        return "to: is required";
    }
    if ((why = parse_to(p, v, m)) != NULL) {
        return why;
    }
    *field = "subject";
    if ((v = json_object_get(req, "subject")) != NULL
        && (why = parse_subject(p, v, m)) != NULL) {
        return why;
    }
    *field = NULL;
    if ((v = json_object_get(req, "files")) != NULL
        && (why = parse_files(p, v, m, field)) != NULL) {
        *field = *field ? *field : "files";
        return why;
    }
    *field = "body";
    if (!(v = json_object_get(req, "body"))) {
        return "body: is required";
    }
    if ((why = parse_body(p, v, m, too_large)) != NULL) {
        return why;
    }
    *field = NULL;
    return NULL;
}

/* ------------------------------------------------------------ reading */

/* The message's columns.  Its sender's and receiver's ids (and a read
 * mark) are looked up row by row by primary key: a page has at most 100
 * rows, and a join would let the planner hash the pool's whole clients
 * table for them. */
#define MSG_COLS \
    "m.id::text, m.seq," \
    " (SELECT client_id FROM clients WHERE id = m.sender_id)," \
    " (SELECT client_id FROM clients WHERE id = m.to_client)," \
    " m.to_role, m.subject, m.body::text, octet_length(m.body::text)," \
    " array_to_json(m.files)::text, " POOL_SQL_US("m.created_at")
#define MSG_NCOLS 10
/* The read mark of the client whose clients.id is the SQL expression who. */
#define MSG_READ_AT(who) \
    "(SELECT " POOL_SQL_US("r.read_at") " FROM message_reads r" \
    " WHERE r.message_id = m.id AND r.client_id = " who ")"

/* Received by the client $2 (role $3, messages_after $4): sent to it, or
 * numbered after it came and sent to its role or the pool by another. */
#define MSG_RECEIVED \
    "(m.to_client = $2::bigint OR (m.to_client IS NULL" \
    " AND m.sender_id <> $2::bigint AND m.seq > $4::bigint" \
    " AND (m.to_role IS NULL OR m.to_role = $3)))"

static const char *to_text(apr_pool_t *p, const PGresult *r, int row)
{
    if (!PQgetisnull(r, row, 3)) {
        return pool_db_col_str(p, r, row, 3);
    }
    if (!PQgetisnull(r, row, 4)) {
        return apr_pstrcat(p, "role:", PQgetvalue(r, row, 4), NULL);
    }
    return "pool";
}

/* A JSON column, or JSON null when it does not parse (never: the database
 * checked it). */
static json_t *json_col(const PGresult *r, int row, int col)
{
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(r, row, col),
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    return j ? j : json_null();
}

static json_t *time_or_null(apr_pool_t *p, const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col)
           ? json_null() : json_string(pool_db_col_time(p, r, row, col));
}

static json_t *msg_json(apr_pool_t *p, const PGresult *r, int row)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:o, s:s}",
        "id", PQgetvalue(r, row, 0),
        "from", PQgetvalue(r, row, 2),
        "to", to_text(p, r, row),
        "subject", PQgetisnull(r, row, 5)
                   ? json_null() : json_string(PQgetvalue(r, row, 5)),
        "body", json_col(r, row, 6),
        "size", (json_int_t)pool_db_col_i64(r, row, 7),
        "files", json_col(r, row, 8),
        "created_at", pool_db_col_time(p, r, row, 9));
}

pool_db_rc pool_msg_caller(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *client_id, pool_msg_caller_t **out,
                           const char **err)
{
    const char *params[2] = { client_id, pool };
    pool_msg_caller_t *me;
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "message caller",
        "SELECT c.id, c.pool_id, c.messages_after, c.role FROM clients c"
        " JOIN pools p ON p.id = c.pool_id"
        " WHERE c.client_id = $1 AND p.name = $2",
        2, params, 4, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        *err = "no such client in this pool";
        return POOL_DB_NOTFOUND;
    }
    me = apr_pcalloc(p, sizeof(*me));
    me->id = pool_db_col_i64(r, 0, 0);
    me->pool_id = pool_db_col_i64(r, 0, 1);
    me->after = pool_db_col_i64(r, 0, 2);
    me->role = pool_db_col_str(p, r, 0, 3);
    me->pool = apr_pstrdup(p, pool);
    me->client_id = apr_pstrdup(p, client_id);
    PQclear(r);
    *out = me;
    return POOL_DB_OK;
}

/* The inbox of the client $1 of the pool $2 after $3, at most $4: ONE
 * statement.  The caller's row is read once (me, its values InitPlan
 * parameters of the index conditions below); the messages of each kind of
 * address come from their own partial index (sql/013), each branch
 * stopping after $4 rows in seq order, and are merged (Merge Append): no
 * scan of the pool's other messages and no sort beyond 3 x $4 rows.  Then
 * the page's senders, receivers and the caller's own read marks, by
 * primary key.  A client that does not exist has an empty inbox. */
#define INBOX_ME "(SELECT id FROM me)"
#define INBOX_SINCE "(SELECT since FROM me)"
#define INBOX_SQL \
    "WITH me AS MATERIALIZED (SELECT c.id, c.pool_id, c.role," \
    "   greatest(c.messages_after, $3::bigint) AS since FROM clients c" \
    "   JOIN pools p ON p.id = c.pool_id" \
    "   WHERE c.client_id = $1 AND p.name = $2)" \
    " SELECT " MSG_COLS ", " MSG_READ_AT(INBOX_ME) " FROM (" \
    " SELECT * FROM (" \
    "  (SELECT * FROM messages WHERE to_client = " INBOX_ME \
    "    AND seq > $3::bigint ORDER BY seq LIMIT $4::int)" \
    "  UNION ALL" \
    "  (SELECT * FROM messages WHERE pool_id = (SELECT pool_id FROM me)" \
    "    AND to_role = (SELECT role FROM me) AND seq > " INBOX_SINCE \
    "    AND sender_id <> " INBOX_ME " ORDER BY seq LIMIT $4::int)" \
    "  UNION ALL" \
    "  (SELECT * FROM messages WHERE pool_id = (SELECT pool_id FROM me)" \
    "    AND to_client IS NULL AND to_role IS NULL AND seq > " INBOX_SINCE \
    "    AND sender_id <> " INBOX_ME " ORDER BY seq LIMIT $4::int)" \
    " ) u ORDER BY seq LIMIT $4::int) m ORDER BY m.seq"

/* The sent box, with each message's read count and a direct message's
 * receiver's read mark. */
#define SENT_SQL \
    "SELECT " MSG_COLS "," \
    " (SELECT count(*) FROM message_reads x WHERE x.message_id = m.id)," \
    " " MSG_READ_AT("m.to_client") \
    " FROM (SELECT * FROM messages WHERE sender_id = (SELECT c.id" \
    "   FROM clients c JOIN pools p ON p.id = c.pool_id" \
    "   WHERE c.client_id = $1 AND p.name = $2)" \
    "   AND seq > $3::bigint ORDER BY seq LIMIT $4::int) m ORDER BY m.seq"

pool_db_rc pool_msg_list(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *client_id, int sent, apr_int64_t after,
                         int limit, json_t **out, int *count, const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    json_t *a;
    int i, n;

    if (limit < 1 || limit > POOL_MSG_LIST_MAX) {
        limit = POOL_MSG_LIST_MAX;
    }
    params[0] = client_id;
    params[1] = pool;
    params[2] = pool_db_i64(p, after);
    params[3] = apr_itoa(p, limit);
    rc = sent ? pool_db_exec(p, c, "sent messages", SENT_SQL, 4, params,
                             MSG_NCOLS + 2, &r, err)
              : pool_db_exec(p, c, "inbox", INBOX_SQL, 4, params,
                             MSG_NCOLS + 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    a = json_array();
    for (i = 0; i < n; i++) {
        json_t *m = msg_json(p, r, i);

        if (sent) {
            json_object_set_new(m, "read_count", json_integer(
                                pool_db_col_i64(r, i, MSG_NCOLS)));
            if (!PQgetisnull(r, i, 3)) {
                json_object_set_new(m, "read_at",
                                    time_or_null(p, r, i, MSG_NCOLS + 1));
            }
        }
        else {
            json_object_set_new(m, "read_at",
                                time_or_null(p, r, i, MSG_NCOLS));
        }
        json_array_append_new(a, m);
    }
    *out = json_pack("{s:o, s:s, s:b}", "messages", a,
                     "next", pool_db_i64(p, n ? pool_db_col_i64(r, n - 1, 1)
                                              : after),
                     "more", n == limit);
    *count = n;
    PQclear(r);
    return POOL_DB_OK;
}

/* The readers of a message its sender looks at, and how many clients it
 * reaches now (a role or pool message: those numbered before it came,
 * not disabled). */
static pool_db_rc add_readers(apr_pool_t *p, PGconn *c, const char *id,
                              json_t *m, const char **err)
{
    const char *params[2] = { id, apr_itoa(p, POOL_MSG_READERS_MAX) };
    PGresult *r;
    pool_db_rc rc;
    json_t *a;
    int i, n;

    rc = pool_db_exec(p, c, "message readers",
        "SELECT c.client_id, " POOL_SQL_US("x.read_at") ","
        " (SELECT count(*) FROM message_reads y WHERE y.message_id = $1::uuid),"
        " (SELECT count(*) FROM messages m JOIN clients k"
        "   ON k.pool_id = m.pool_id AND k.id <> m.sender_id"
        "   AND k.disabled_at IS NULL"
        "   AND (k.id = m.to_client OR (m.to_client IS NULL"
        "     AND k.messages_after < m.seq"
        "     AND (m.to_role IS NULL OR k.role = m.to_role)))"
        "   WHERE m.id = $1::uuid)"
        " FROM (SELECT 1) one LEFT JOIN (message_reads x"
        "   JOIN clients c ON c.id = x.client_id)"
        "   ON x.message_id = $1::uuid"
        " ORDER BY x.read_at, c.client_id LIMIT $2::int",
        2, params, 4, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    a = json_array();
    for (i = 0; i < n; i++) {
        if (!PQgetisnull(r, i, 0)) {
            json_array_append_new(a, json_pack("{s:s, s:s}",
                "client_id", PQgetvalue(r, i, 0),
                "read_at", pool_db_col_time(p, r, i, 1)));
        }
    }
    json_object_set_new(m, "read_count", json_integer(
                        n ? pool_db_col_i64(r, 0, 2) : 0));
    json_object_set_new(m, "recipients", json_integer(
                        n ? pool_db_col_i64(r, 0, 3) : 0));
    json_object_set_new(m, "readers", a);
    PQclear(r);
    return POOL_DB_OK;
}

/* The parameters of MSG_RECEIVED for me, with the message id $1 and the
 * pool $5; 0 when id cannot be a message's. */
static int received_params(apr_pool_t *p, const pool_msg_caller_t *me,
                           const char *id, const char *params[5])
{
    if (!id || !pool_uuid_valid(id)) {
        return 0;
    }
    params[0] = id;
    params[1] = pool_db_i64(p, me->id);
    params[2] = me->role;
    params[3] = pool_db_i64(p, me->after);
    params[4] = pool_db_i64(p, me->pool_id);
    return 1;
}

pool_db_rc pool_msg_get(apr_pool_t *p, PGconn *c, const pool_msg_caller_t *me,
                        const char *id, json_t **out, const char **err)
{
    const char *params[5];
    PGresult *r;
    pool_db_rc rc;
    json_t *m;
    int mine;

    if (!received_params(p, me, id, params)) {
        *err = "no such message";
        return POOL_DB_NOTFOUND;
    }
    rc = pool_db_exec(p, c, "get message",
        "SELECT " MSG_COLS ", m.sender_id = $2::bigint, "
        MSG_READ_AT("$2::bigint") " FROM messages m"
        " WHERE m.id = $1::uuid AND m.pool_id = $5::bigint"
        "   AND (m.sender_id = $2::bigint OR " MSG_RECEIVED ")",
        5, params, MSG_NCOLS + 2, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        *err = "no such message";
        return POOL_DB_NOTFOUND;
    }
    m = msg_json(p, r, 0);
    mine = pool_db_col_bool(r, 0, MSG_NCOLS);
    if (!mine) {
        json_object_set_new(m, "read_at",
                            time_or_null(p, r, 0, MSG_NCOLS + 1));
    }
    PQclear(r);
    if (mine && (rc = add_readers(p, c, id, m, err)) != POOL_DB_OK) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return POOL_DB_OK;
}

pool_db_rc pool_msg_mark_read(apr_pool_t *p, PGconn *c,
                              const pool_msg_caller_t *me, const char *id,
                              const char **err)
{
    const char *params[5];
    PGresult *r;
    pool_db_rc rc;
    int n;

    if (!received_params(p, me, id, params)) {
        *err = "no such message";
        return POOL_DB_NOTFOUND;
    }
    /* the message row is the answer: a mark already there stays */
    rc = pool_db_exec(p, c, "mark message read",
        "WITH m AS (SELECT m.id FROM messages m"
        "   WHERE m.id = $1::uuid AND m.pool_id = $5::bigint"
        "   AND " MSG_RECEIVED "),"
        " ins AS (INSERT INTO message_reads (message_id, client_id)"
        "   SELECT id, $2::bigint FROM m ON CONFLICT DO NOTHING)"
        " SELECT count(*) FROM m",
        5, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = (int)pool_db_col_i64(r, 0, 0);
    PQclear(r);
    if (n != 1) {
        *err = "no such message";
        return POOL_DB_NOTFOUND;
    }
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ sending */

/* The receiver of a direct message: a client of the sender's pool, not
 * the sender.  Its clients.id in *pk. */
static pool_db_rc check_receiver(apr_pool_t *p, PGconn *c,
                                 const pool_msg_caller_t *me,
                                 const char *to_client, const char **pk,
                                 const char **err)
{
    const char *params[2] = { to_client, pool_db_i64(p, me->pool_id) };
    PGresult *r;
    pool_db_rc rc;

    if (!strcmp(to_client, me->client_id)) {
        *err = "to: a client cannot send a message to itself";
        return POOL_DB_NOTFOUND;
    }
    rc = pool_db_exec(p, c, "message receiver",
        "SELECT id FROM clients WHERE client_id = $1 AND pool_id = $2::bigint",
        2, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        *err = apr_psprintf(p, "to: no such client in this pool: %s",
                            to_client);
        return POOL_DB_NOTFOUND;
    }
    *pk = pool_db_col_str(p, r, 0, 0);
    PQclear(r);
    return POOL_DB_OK;
}

/* Every attachment is a file the sender may download: the same lookup as
 * GET .../files/{id}. */
static pool_db_rc check_files(apr_pool_t *p, PGconn *c,
                              const pool_msg_caller_t *me,
                              const apr_array_header_t *files,
                              const char **field, const char **err)
{
    int i;

    for (i = 0; i < files->nelts; i++) {
        const char *id = APR_ARRAY_IDX(files, i, const char *);
        pool_db_rc rc = pool_db_file_get(p, c, me->pool, id, NULL, err);

        if (rc == POOL_DB_NOTFOUND) {
            *field = apr_psprintf(p, "files[%d]", i);
            *err = apr_psprintf(p, "%s: no such file in this pool: %s",
                                *field, id);
        }
        if (rc != POOL_DB_OK) {
            return rc;
        }
    }
    return POOL_DB_OK;
}

/* The message.received event of every receiver with an enabled endpoint,
 * in one statement (pool_emit, sql/016), the envelope
 * built by the database.  Kept small (Standard Webhooks' advice): the
 * message without its body, and the link to fetch it. */
static pool_db_rc queue_events(apr_pool_t *p, PGconn *c,
                               const pool_msg_caller_t *me, const char *id,
                               const pool_msg_new_t *m, const char *to_pk,
                               apr_int64_t seq, const char *created_at,
                               const char *link, const char **err)
{
    const char *params[8];
    json_t *data;
    char *text;
    int i;

    data = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:[], s:s, s:o}",
        "pool", me->pool, "id", id, "from", me->client_id, "to", m->to,
        "subject", m->subject ? json_string(m->subject) : json_null(),
        "size", (json_int_t)m->size, "files", "created_at", created_at,
        "url", link ? json_string(link) : json_null());
    for (i = 0; data && i < m->files->nelts; i++) {
        json_array_append_new(json_object_get(data, "files"), json_string(
                              APR_ARRAY_IDX(m->files, i, const char *)));
    }
    text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text) {
        *err = "message event: cannot encode it";
        return POOL_DB_ERROR;
    }
    params[0] = pool_db_i64(p, me->pool_id);
    params[1] = POOL_MSG_EVENT;
    params[2] = apr_pstrdup(p, text);
    free(text);
    params[3] = pool_db_i64(p, me->id);
    params[4] = pool_db_i64(p, seq);
    params[5] = to_pk;
    params[6] = m->to_role;
    /* the receivers' callbacks (and the pool's endpoints): sql/016 */
    return pool_db_exec0(p, c, "queue message events",
        "SELECT pool_emit($1::bigint, $2, $3::jsonb, false, ARRAY("
        "  SELECT k.id FROM clients k WHERE k.pool_id = $1::bigint"
        "   AND k.id <> $4::bigint"
        "   AND CASE WHEN $6::bigint IS NOT NULL THEN k.id = $6::bigint"
        "       ELSE k.messages_after < $5::bigint"
        "         AND ($7::text IS NULL OR k.role = $7) END))",
        7, params, err);
}

/* Stores the message and what goes with it; *dup when its id was stored
 * already (by a first attempt whose answer was lost). */
static pool_db_rc store(apr_pool_t *p, PGconn *c, const pool_msg_caller_t *me,
                        const char *id, const pool_msg_new_t *m,
                        const char *link, int *dup, const char **field,
                        const char **err)
{
    const char *params[8], *to_pk = NULL, *created;
    PGresult *r;
    pool_db_rc rc;
    apr_int64_t seq;

    *dup = 0;
    if (m->to_client
        && (rc = check_receiver(p, c, me, m->to_client, &to_pk, err))
           != POOL_DB_OK) {
        *field = rc == POOL_DB_NOTFOUND ? "to" : NULL;
        return rc;
    }
    if ((rc = check_files(p, c, me, m->files, field, err)) != POOL_DB_OK) {
        return rc;
    }
    params[0] = id;
    params[1] = pool_db_i64(p, me->pool_id);
    params[2] = pool_db_i64(p, me->id);
    params[3] = to_pk;
    params[4] = m->to_role;
    params[5] = m->subject;
    params[6] = m->body;
    params[7] = pool_db_array(p, (const char *const *)m->files->elts,
                              m->files->nelts);
    rc = pool_db_exec(p, c, "store message",
        "INSERT INTO messages (id, pool_id, sender_id, to_client, to_role,"
        "                      subject, body, files)"
        " VALUES ($1::uuid, $2::bigint, $3::bigint, $4::bigint, $5, $6,"
        "         $7::json, $8::uuid[])"
        " ON CONFLICT (id) DO NOTHING"
        " RETURNING seq, " POOL_SQL_US("created_at"),
        8, params, 2, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        *dup = 1;
        return POOL_DB_OK;
    }
    seq = pool_db_col_i64(r, 0, 0);
    created = pool_db_col_time(p, r, 0, 1);
    PQclear(r);
    if ((rc = queue_events(p, c, me, id, m, to_pk, seq, created, link, err))
        != POOL_DB_OK) {
        return rc;
    }
    params[0] = POOL_MSG_CHANNEL;
    params[1] = me->pool;
    return pool_db_exec0(p, c, "notify message", "SELECT pg_notify($1, $2)",
                         2, params, err);
}

pool_db_rc pool_msg_send(apr_pool_t *p, PGconn *c, const pool_msg_caller_t *me,
                         const char *id, const pool_msg_new_t *m,
                         const char *link, json_t **out, const char **field,
                         const char **err)
{
    pool_db_rc rc;
    int dup;

    *field = NULL;
    if (!pool_uuid_valid(id)) {
        *err = "send message: invalid id";
        return POOL_DB_ERROR;
    }
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = store(p, c, me, id, m, link, &dup, field, err);
    /* a stored duplicate is read back; nothing of this attempt is kept */
    rc = pool_db_end(p, c, dup ? POOL_DB_ERROR : rc, err);
    if (dup || rc == POOL_DB_OK) {
        return pool_msg_get(p, c, me, id, out, err);
    }
    return rc;
}

/* ------------------------------------------------------------ retention */

pool_db_rc pool_msg_purge(apr_pool_t *p, PGconn *c, const char *pool,
                          int *purged, const char **err)
{
    const char *params[2] = { NULL, pool };

    return pool_db_purge(p, c, "purge messages",
            "WITH gone AS (SELECT m.id FROM pools p JOIN messages m"
            "   ON m.pool_id = p.id"
            "   AND m.created_at < now() - make_interval(secs =>"
            "         (p.settings->>'retention')::bigint)"
            "   WHERE p.settings ? 'retention'"
            "     AND ($2::text IS NULL OR p.name = $2)"
            "   LIMIT $1::int FOR UPDATE OF m SKIP LOCKED)"
            " DELETE FROM messages m USING gone WHERE m.id = gone.id"
            " RETURNING 1",
            2, params, purged, err);
}
