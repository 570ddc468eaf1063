/* Messages between the clients of a pool (docs/api.md, "Messages"):
 *   POST .../pools/{pool}/messages                      send
 *   GET  .../pools/{pool}/messages[?box=&after=&limit=&wait=]
 *   GET  .../pools/{pool}/messages/{id}                 sender or receiver
 *   POST .../pools/{pool}/messages/{id}/read            receiver
 * The work is in lib/pool_messages.c; a long-poll (wait=) sleeps in the
 * child's waiter (pool_msgwait.c) without a database connection. */
#include <errno.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "mod_pool.h"
#include "pool_messages.h"
#include "pool_util.h"

/* a 64 KB body written as JSON, with its subject and attachments */
#define SEND_BODY_MAX   (128 * 1024)
#define LIST_DEFAULT    50
#define WAIT_MAX        30              /* seconds */
#define WAIT_HEADER     "X-Pool-Wait"

typedef struct {
    const char *pool;
    const char *client_id;
    pool_msg_caller_t *me;      /* looked up once per request */
    const char *id;
    const pool_msg_new_t *msg;
    const char *link;
    const char *field;          /* send: the field of a bad reference */
    int sent, limit, count;
    apr_int64_t after;
    json_t *out;
} msg_baton;

static pool_db_rc caller(apr_pool_t *p, PGconn *c, msg_baton *mb,
                         const char **err)
{
    return mb->me ? POOL_DB_OK
                  : pool_msg_caller(p, c, mb->pool, mb->client_id, &mb->me,
                                    err);
}

static pool_db_rc op_send(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    msg_baton *mb = b;
    pool_db_rc rc = caller(p, c, mb, err);

    return rc != POOL_DB_OK ? rc
           : pool_msg_send(p, c, mb->me, mb->id, mb->msg, mb->link, &mb->out,
                           &mb->field, err);
}

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    msg_baton *mb = b;

    if (mb->out) {              /* a long-poll looks again */
        json_decref(mb->out);
        mb->out = NULL;
    }
    return pool_msg_list(p, c, mb->pool, mb->client_id, mb->sent, mb->after,
                         mb->limit, &mb->out, &mb->count, err);
}

static pool_db_rc op_get(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    msg_baton *mb = b;
    pool_db_rc rc = caller(p, c, mb, err);

    return rc != POOL_DB_OK ? rc
           : pool_msg_get(p, c, mb->me, mb->id, &mb->out, err);
}

static pool_db_rc op_read(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    msg_baton *mb = b;
    pool_db_rc rc = caller(p, c, mb, err);

    return rc != POOL_DB_OK ? rc
           : pool_msg_mark_read(p, c, mb->me, mb->id, err);
}

/* A database outcome: NOTFOUND is "no such message", or, when the caller
 * itself was not found (a token outliving its client), "no such client". */
static int db_answer(request_rec *r, msg_baton *mb, pool_db_rc rc,
                     const char *err)
{
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, mb->me ? "no such message"
                            : "no such client in this pool", NULL);
    }
    return pool_db_problem(r, rc, err, "message");
}

/* The message's URL for the event that announces it. */
static const char *message_url(request_rec *r, const char *pool,
                               const char *id)
{
    return apr_pstrcat(r->pool, pool_public_base(r), pool_dir_prefix(r),
                       "/v1/pools/", pool, "/messages/", id, NULL);
}

/* ------------------------------------------------------------- sending */

static int send_message(request_rec *r, msg_baton *mb)
{
    const char *why, *field, *err;
    json_t *j;
    pool_msg_new_t m;
    pool_db_rc rc;
    int status, too_large;

    status = pool_read_json(r, SEND_BODY_MAX, &j);
    if (!j) {
        return status;
    }
    why = pool_msg_parse(r->pool, j, &m, &field, &too_large);
    if (why) {
        return pool_problem(r, too_large ? HTTP_REQUEST_ENTITY_TOO_LARGE
                            : HTTP_UNPROCESSABLE_ENTITY, why, field);
    }
    mb->id = pool_uuid(r->pool);
    mb->msg = &m;
    mb->link = message_url(r, mb->pool, mb->id);
    rc = pool_db_run(r, op_send, mb, &err);
    if (rc == POOL_DB_NOTFOUND && mb->me && mb->field) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, err, mb->field);
    }
    if (rc != POOL_DB_OK) {
        return db_answer(r, mb, rc, err);
    }
    apr_table_setn(r->headers_out, "Location", apr_psprintf(r->pool,
                   "%s/v1/pools/%s/messages/%s", pool_dir_prefix(r),
                   mb->pool, mb->id));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_CREATED, mb->out);
}

/* ------------------------------------------------------------- reading */

/* ?box=&after=&limit=&wait=: 0 to go on (*wait in seconds), else the
 * request was answered. */
static int list_args(request_rec *r, msg_baton *mb, int *wait)
{
    apr_table_t *args;
    const char *v;
    char *end;
    long n;

    if (pool_query(r, &args) != OK) {
        return 1;
    }
    mb->limit = LIST_DEFAULT;
    *wait = 0;
    if ((v = apr_table_get(args, "box")) != NULL
        && strcmp(v, "inbox") && strcmp(v, "sent")) {
        pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "box must be inbox or "
                     "sent", "box");
        return 1;
    }
    mb->sent = v && !strcmp(v, "sent");
    if ((v = apr_table_get(args, "after")) != NULL) {
        errno = 0;
        mb->after = apr_strtoi64(v, &end, 10);
        if (!apr_isdigit(*v) || *end || errno) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "after must be the "
                         "\"next\" cursor of an earlier listing", "after");
            return 1;
        }
    }
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, POOL_MSG_LIST_MAX, &n) != 0) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, "limit must be an "
                         "integer from 1 to 100", "limit");
            return 1;
        }
        mb->limit = (int)n;
    }
    if ((v = apr_table_get(args, "wait")) != NULL) {
        if (pool_parse_int(v, 0, WAIT_MAX, &n) != 0 || (n && mb->sent)) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY, mb->sent
                         ? "wait applies to the inbox only"
                         : "wait must be seconds from 0 to 30", "wait");
            return 1;
        }
        *wait = (int)n;
    }
    return 0;
}

static int list_messages(request_rec *r, msg_baton *mb)
{
    pool_msgwait *w = pool_srv(r->server)->msgwait;
    pool_msgwait_ticket t;
    apr_time_t deadline;
    const char *err;
    pool_db_rc rc;
    int wait, waiting = 0;

    if (list_args(r, mb, &wait)) {
        return OK;
    }
    deadline = apr_time_now() + apr_time_from_sec(wait);
    /* the ticket is taken before the first look, so that a message sent
     * between the look and the wait wakes it */
    if (wait > 0) {
        waiting = w && pool_msgwait_enter(w, mb->pool, &t);
        if (!waiting) {
            apr_table_setn(r->headers_out, WAIT_HEADER, "busy");
        }
    }
    rc = pool_db_run(r, op_list, mb, &err);
    while (waiting && rc == POOL_DB_OK && mb->count == 0
           && pool_msgwait_wait(&t, deadline)) {
        rc = pool_db_run(r, op_list, mb, &err);
    }
    if (waiting) {
        pool_msgwait_leave(&t);
    }
    if (rc != POOL_DB_OK) {
        if (mb->out) {
            json_decref(mb->out);
        }
        return db_answer(r, mb, rc, err);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, mb->out);
}

static int one_message(request_rec *r, msg_baton *mb, int mark)
{
    const char *err;
    pool_db_rc rc;

    if (!pool_uuid_valid(mb->id)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such message", NULL);
    }
    rc = pool_db_run(r, mark ? op_read : op_get, mb, &err);
    if (rc != POOL_DB_OK) {
        return db_answer(r, mb, rc, err);
    }
    if (mark) {
        r->status = HTTP_NO_CONTENT;
        return OK;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return pool_send_json(r, HTTP_OK, mb->out);
}

/* -------------------------------------------------------------- routing */

int pool_handle_messages(request_rec *r, pool_principal *who, const char *pool,
                         const char *rest)
{
    msg_baton mb;
    const char *slash;

    if (!who->client_id || !strcmp(who->role, "link")) {
        return pool_problem(r, HTTP_FORBIDDEN, "messages are for the "
                            "clients of the pool, not for signed links", NULL);
    }
    memset(&mb, 0, sizeof(mb));
    mb.pool = pool;
    mb.client_id = who->client_id;
    if (!rest) {
        if (r->method_number == M_GET) {
            return list_messages(r, &mb);
        }
        if (r->method_number == M_POST) {
            return send_message(r, &mb);
        }
        return pool_method_not_allowed(r, "GET, HEAD, POST",
                                       "read messages with GET, send one "
                                       "with POST");
    }
    slash = strchr(rest, '/');
    mb.id = slash ? apr_pstrmemdup(r->pool, rest, (apr_size_t)(slash - rest))
                  : rest;
    if (!slash) {
        if (r->method_number != M_GET) {
            return pool_method_not_allowed(r, "GET, HEAD",
                                           "a message is read with GET");
        }
        return one_message(r, &mb, 0);
    }
    if (strcmp(slash, "/read")) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
    }
    if (r->method_number != M_POST) {
        return pool_method_not_allowed(r, "POST",
                                       "a message is marked read with POST");
    }
    return one_message(r, &mb, 1);
}
