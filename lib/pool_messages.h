/* Messages between the clients of a pool (docs/api.md, "Messages";
 * sql/013_messages.sql).
 *
 * A message goes to one client ("cl_…"), to every client of a role
 * ("role:listener") or to the whole pool ("pool"), and is stored once
 * whatever the number of receivers.  A client receives the messages sent
 * to it, to its role and to the pool, except its own; a role or pool
 * message reaches the clients that existed when it took its number
 * (clients.messages_after).  Receipts are rows only once a receiver marks
 * a message read.  Sending notifies POOL_MSG_CHANNEL (payload: the pool's
 * name) in the sending transaction, so that long-polling inboxes on every
 * node wake up, and queues a message.received webhook for every receiver
 * with an enabled endpoint in one statement. */
#ifndef POOL_MESSAGES_H
#define POOL_MESSAGES_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "pool_db.h"

#define POOL_MSG_BODY_MAX       65536   /* bytes of the body's JSON text */
#define POOL_MSG_SUBJECT_MAX    200     /* characters */
#define POOL_MSG_FILES_MAX      20
#define POOL_MSG_LIST_MAX       100
#define POOL_MSG_READERS_MAX    1000    /* readers listed for the sender */
#define POOL_MSG_CHANNEL        "pool_messages"
#define POOL_MSG_EVENT          "message.received"

/* The client reading or sending, as the database has it. */
typedef struct {
    apr_int64_t id;             /* clients.id */
    apr_int64_t pool_id;
    apr_int64_t after;          /* clients.messages_after */
    const char *pool;
    const char *client_id;
    const char *role;
} pool_msg_caller_t;

/* A message to send, as pool_msg_parse reads it from a request. */
typedef struct {
    const char *to;             /* as given: "cl_…", "role:R" or "pool" */
    const char *to_client;      /* a direct message's receiver, else NULL */
    const char *to_role;        /* a role message's role, else NULL */
    const char *subject;        /* NULL: none */
    const char *body;           /* the body's compact JSON text */
    apr_size_t size;            /* its length in bytes */
    apr_array_header_t *files;  /* const char *: attached file ids */
} pool_msg_new_t;

/* Reads a send request {"to", "subject"?, "body", "files"?} into m.  NULL
 * when it is good; else the reason (English, naming the field) with
 * *field, and *too_large set when it is the body's size (413, not 422). */
const char *pool_msg_parse(apr_pool_t *p, const json_t *req,
                           pool_msg_new_t *m, const char **field,
                           int *too_large);

/* The client client_id of pool.  NOTFOUND when there is no such client in
 * that pool. */
pool_db_rc pool_msg_caller(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *client_id, pool_msg_caller_t **out,
                           const char **err);

/* Sends m from me with the id the caller chose (a retried call whose
 * first attempt committed finds that message and answers with it): checks
 * the receiver and the attachments (each one as a download of it is
 * checked: pool_db_file_get), stores the message, queues the
 * message.received events (link: the message's URL, given in the event)
 * and notifies, in one transaction.  *out: the message as its sender sees
 * it.  A bad reference (an unknown receiver, a file that is not the
 * pool's, a message to oneself) is NOTFOUND with *field ("to",
 * "files[2]") and *err the reason: nothing is stored. */
pool_db_rc pool_msg_send(apr_pool_t *p, PGconn *c, const pool_msg_caller_t *me,
                         const char *id, const pool_msg_new_t *m,
                         const char *link, json_t **out, const char **field,
                         const char **err);

/* The inbox (sent 0) or the sent box (sent 1) of the client client_id of
 * pool, in one statement (an unknown client has empty boxes): the
 * messages after the cursor, oldest first, at most limit
 * (1..POOL_MSG_LIST_MAX).  *out: {"messages": [...], "next": cursor,
 * "more": bool}; next is the cursor to read on from (after itself when
 * the page is empty); *count the number of messages. */
pool_db_rc pool_msg_list(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *client_id, int sent, apr_int64_t after,
                         int limit, json_t **out, int *count,
                         const char **err);

/* One message, for its sender (with its readers) or a receiver (with its
 * own read mark).  NOTFOUND for anyone else, as for an unknown id. */
pool_db_rc pool_msg_get(apr_pool_t *p, PGconn *c, const pool_msg_caller_t *me,
                        const char *id, json_t **out, const char **err);

/* Marks a message me received as read by me (again: the first time
 * stays).  NOTFOUND when me did not receive it. */
pool_db_rc pool_msg_mark_read(apr_pool_t *p, PGconn *c,
                              const pool_msg_caller_t *me, const char *id,
                              const char **err);

/* Deletes the messages (and their receipts) older than their pool's
 * `retention` setting, of one pool or (pool NULL) of all, in batches
 * (SKIP LOCKED: sweeps may run at once); *purged gets how many. */
pool_db_rc pool_msg_purge(apr_pool_t *p, PGconn *c, const char *pool,
                          int *purged, const char **err);

#endif
