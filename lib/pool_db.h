/* Metadata in PostgreSQL.  Every statement is parameterised.  Functions take
 * a connection the caller owns; they never keep it.  On POOL_DB_UNAVAILABLE
 * the connection is broken: the caller must throw it away (never reset it
 * in place) and may answer 503. */
#ifndef POOL_DB_H
#define POOL_DB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <libpq-fe.h>

typedef enum {
    POOL_DB_OK = 0,
    POOL_DB_NOTFOUND,
    POOL_DB_CONFLICT,           /* unique violation and the like */
    POOL_DB_UNAVAILABLE,        /* connection broken / server gone */
    POOL_DB_ERROR,              /* anything else; *err says what */
    POOL_DB_CLASH,              /* a name in a pool's tree is in the way
                                 * (SQLSTATE PF409 from sql/009) */
    POOL_DB_REFUSED,            /* a pool's policy refuses it (late files);
                                 * *err says why, in English: send 409 */
    POOL_DB_QUOTA               /* a pool's storage quota is reached
                                 * (SQLSTATE PF507 from sql/015); *err says
                                 * so, in English: send 507 */
} pool_db_rc;

typedef struct {
    apr_int64_t id;
    const char *name;
    const char *created_at;     /* RFC 3339 */
    int clients;                /* number of clients (lists and show) */
} pool_pool_t;

typedef struct {
    apr_int64_t id;
    const char *client_id;      /* public id, "cl_" + 24 hex */
    const char *pool;           /* pool name */
    const char *name;
    const char *role;
    int disabled;
    const char *created_at;
    const char *labels;         /* JSON object text */
    const char *secret_hash;    /* only from pool_db_client_get */
    const char *prev_secret_hash; /* the same, while a rotation's grace runs */
} pool_client_t;

typedef struct {
    const char *id;             /* uuid */
    apr_int64_t seq;            /* paging cursor, increasing */
    const char *pool;
    const char *client_id;      /* public client id of the uploader */
    const char *name;
    apr_off_t size;
    const char *sha256;         /* 64 lower-case hex */
    const char *content_type;
    apr_time_t ts;              /* event timestamp, microseconds */
    const char *received_at;    /* RFC 3339 */
    /* its folder's path ("/a/b"); on insert NULL: the client's own folder */
    const char *folder;
    int in_view;                /* the file at folder/name in the view */
    /* on insert: the upload's own request found, before the body, that
     * the pool keeps late files (pool_late_check), so the insert need not
     * ask again */
    int late_keeps;
} pool_file_t;

/* An operation on a connection the caller lends for its duration. */
typedef pool_db_rc pool_db_op(apr_pool_t *p, PGconn *c, void *baton,
                              const char **err);
/* Runs op on some connection (the module: one of its pool, retried once on
 * a fresh one when it was broken; poolctl: its own). */
typedef pool_db_rc pool_db_runner(void *ctx, pool_db_op *op, void *baton,
                                  const char **err);

/* A runner on one connection the caller owns (poolctl, the job steps):
 * ctx is a pool_db_direct_t; no retry. */
typedef struct {
    apr_pool_t *p;
    PGconn *c;
} pool_db_direct_t;
pool_db_rc pool_db_run_direct(void *ctx, pool_db_op *op, void *baton,
                              const char **err);

/* Runs one parameterised statement (the shared primitive for every SQL file
 * of the library).  nfields >= 0 checks the column count.  On POOL_DB_OK
 * *res holds the result (the caller PQclear()s it); otherwise *res is NULL
 * and *err names `what`: CONFLICT for unique violations, UNAVAILABLE for a
 * broken connection, ERROR else. */
pool_db_rc pool_db_exec(apr_pool_t *p, PGconn *c, const char *what,
                        const char *sql, int nparams,
                        const char *const *params, int nfields,
                        PGresult **res, const char **err);
/* pool_db_exec, with the name of the violated constraint (or NULL) in
 * *constraint on CONFLICT. */
pool_db_rc pool_db_exec_constraint(apr_pool_t *p, PGconn *c,
                                   const char *what, const char *sql,
                                   int nparams, const char *const *params,
                                   int nfields, PGresult **res,
                                   const char **constraint, const char **err);
/* The same for statements whose result is not looked at (BEGIN, COMMIT). */
pool_db_rc pool_db_exec0(apr_pool_t *p, PGconn *c, const char *what,
                         const char *sql, int nparams,
                         const char *const *params, const char **err);
/* One statement sent without waiting for its answer, for a caller with
 * other work meanwhile (the deliver step's transfers): pool_db_call_send,
 * then wait for pool_db_call_socket to be readable until
 * pool_db_call_ready, then pool_db_call_receive, which returns what
 * pool_db_exec would have.  One call at a time on a connection, and
 * nothing else on it meanwhile; q and its params live until the answer. */
typedef struct {
    const char *what;
    const char *sql;
    int nparams;
    const char *const *params;
    int nfields;                /* as pool_db_exec's; -1: not checked */
    int busy;                   /* sent, not yet received */
} pool_db_call_t;

pool_db_rc pool_db_call_send(apr_pool_t *p, PGconn *c, pool_db_call_t *q,
                             const char **err);
int pool_db_call_socket(PGconn *c);
int pool_db_call_ready(PGconn *c);
pool_db_rc pool_db_call_receive(apr_pool_t *p, PGconn *c, pool_db_call_t *q,
                                PGresult **res, const char **err);

/* Runs a batched DELETE ... RETURNING 1 until it deletes fewer rows than
 * a batch (each batch its own transaction, short locks): $1 is the batch
 * size, params[1..nparams-1] are the caller's ($2...; params[0] is set
 * here).  *n = rows deleted in all. */
#define POOL_DB_PURGE_BATCH 1000
pool_db_rc pool_db_purge(apr_pool_t *p, PGconn *c, const char *what,
                         const char *sql, int nparams, const char **params,
                         int *n, const char **err);
/* Ends the transaction a failed step leaves open (ROLLBACK, unless the
 * connection is gone) and returns rc, for "return pool_db_rollback(...)". */
pool_db_rc pool_db_rollback(apr_pool_t *p, PGconn *c, pool_db_rc rc);
/* BEGIN; and the end of a transaction of several steps: COMMIT when rc is
 * OK (a failed COMMIT is that failure), else ROLLBACK; returns the
 * outcome, for "return pool_db_end(p, c, rc, err)". */
pool_db_rc pool_db_begin(apr_pool_t *p, PGconn *c, const char **err);
pool_db_rc pool_db_end(apr_pool_t *p, PGconn *c, pool_db_rc rc,
                       const char **err);

/* Microseconds since the epoch of a timestamptz column, exact on every
 * server version (no floating point on the whole value). */
#define POOL_SQL_US(col) \
    "(extract(epoch from date_trunc('second', " col "))::bigint * 1000000" \
    " + extract(microseconds from " col ")::bigint % 1000000)"

/* A bigint parameter of microseconds back into a timestamptz, exactly. */
#define POOL_SQL_FROM_US(param) \
    "(to_timestamp(" param "::bigint / 1000000)" \
    " + (" param "::bigint % 1000000) * interval '1 microsecond')"

/* Column readers for results of pool_db_exec: a copy of the text (NULL for
 * SQL NULL), a bigint (0 for NULL), a boolean, RFC 3339 of a POOL_SQL_US
 * column (NULL for NULL); and the text of a bigint parameter. */
const char *pool_db_col_str(apr_pool_t *p, const PGresult *r, int row,
                            int col);
apr_int64_t pool_db_col_i64(const PGresult *r, int row, int col);
int pool_db_col_bool(const PGresult *r, int row, int col);
const char *pool_db_col_time(apr_pool_t *p, const PGresult *r, int row,
                             int col);
const char *pool_db_i64(apr_pool_t *p, apr_int64_t v);
/* A uuid[] parameter ("{a,b,...}") of an array of id strings; NULL when
 * one of them is not a canonical uuid. */
const char *pool_db_uuid_array(apr_pool_t *p, const apr_array_header_t *ids);
/* An array parameter of n values (NULL elements are SQL NULL), every other
 * element quoted, for any element type: "$1::int[]", "$2::text[]"... */
const char *pool_db_array(apr_pool_t *p, const char *const *vals, int n);

/* Opens a connection (application_name=mod_pool); NULL with *err. */
PGconn *pool_db_connect(apr_pool_t *p, const char *conninfo, const char **err);
/* 1 when the connection looks usable. */
int pool_db_ok(PGconn *c);
/* Prepares each statement text once on c and runs it by name from then on
 * (for connections that live long, such as httpd's); 0 when it could not
 * be set up (statements then run unprepared). */
int pool_db_cache_statements(PGconn *c);

/* Applies the embedded sql/ migrations not yet applied, each in its own
 * transaction, under an advisory lock.  *applied = number applied now. */
pool_db_rc pool_db_migrate(apr_pool_t *p, PGconn *c, int *applied,
                           const char **err);

pool_db_rc pool_db_pool_create(apr_pool_t *p, PGconn *c, const char *name,
                               pool_pool_t **out, const char **err);
pool_db_rc pool_db_pool_get(apr_pool_t *p, PGconn *c, const char *name,
                            pool_pool_t **out, const char **err);
/* Array of pool_pool_t*, by name. */
pool_db_rc pool_db_pool_list(apr_pool_t *p, PGconn *c,
                             apr_array_header_t **out, const char **err);

/* The ingest's record and lookup (lib/pool_ingest.h) of one file: baton
 * is a pool_db_file_baton.  record: the insert, where a conflict on the id
 * (ours and random) is a retried insert whose first attempt committed, so
 * the row is the answer; lookup: the row, after a failed record. */
typedef struct {
    const pool_file_t *in;
    pool_file_t *out;
} pool_db_file_baton;
pool_db_rc pool_db_op_file_record(apr_pool_t *p, PGconn *c, void *baton,
                                  const char **err);
pool_db_rc pool_db_op_file_lookup(apr_pool_t *p, PGconn *c, void *baton,
                                  const char **err);

/* f->id, pool, client_id, name, size, sha256, content_type, ts are used;
 * *out gets the stored row (seq, received_at filled).  REFUSED when the
 * pool refuses late files and this one would be late (pool_late_check). */
pool_db_rc pool_db_file_insert(apr_pool_t *p, PGconn *c, const pool_file_t *f,
                               pool_file_t **out, const char **err);
/* Inserts every file of files (pool_file_t *, fields as for
 * pool_db_file_insert; each needs its id) in one transaction: all rows or
 * none.  *out gets the stored rows (pool_file_t *) in the same order.
 * Retry-safe: when a retried call finds its ids taken by a transaction that
 * did commit (the same rows: pool, client, size and sha256 match), it
 * returns those rows; a conflict with any other row is POOL_DB_CONFLICT.
 * NOTFOUND when a file's pool or client does not exist. */
pool_db_rc pool_db_file_insert_many(apr_pool_t *p, PGconn *c,
                                    apr_array_header_t *files,
                                    apr_array_header_t **out,
                                    const char **err);
pool_db_rc pool_db_file_get(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *id, pool_file_t **out,
                            const char **err);
/* Files of pool with seq > after, optionally of one client, ascending,
 * at most limit.  Array of pool_file_t*. */
pool_db_rc pool_db_file_list(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *client_id, apr_int64_t after,
                             int limit, apr_array_header_t **out,
                             const char **err);

#endif
