/* Metadata in PostgreSQL through libpq.
 *
 * Every statement goes through the extended protocol with its values as
 * parameters (PQexecParams, or PQprepare once and PQexecPrepared on a
 * connection with a statement cache); the single exception is the text of
 * an embedded migration, which has no parameters and may hold several
 * statements (PQexec).  Every PGresult is
 * cleared before returning.  Timestamps travel as microseconds since the
 * epoch (bigint), computed exactly, and are formatted here with
 * pool_ts_format, so the session time zone never matters. */
#include <string.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <libpq-events.h>

#include "pool_db.h"
#include "pool_groups.h"
#include "pool_log.h"
#include "pool_migrations.h"
#include "pool_ts.h"
#include "pool_util.h"

#define SQL_US POOL_SQL_US
#define SQL_FROM_US POOL_SQL_FROM_US

/* Key of the session advisory lock that serialises migrations. */
#define MIGRATE_LOCK_KEY   "5795053541357191168"  /* any constant bigint */
#define MIGRATE_LOCK_SQL   "SELECT pg_advisory_lock($1::bigint)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock($1::bigint)"

#define LIST_LIMIT_MAX   10000

/* ---- helpers */

static void set_err(const char **err, const char *msg)
{
    if (err) {
        *err = msg;
    }
}

/* A libpq message on one line: newlines and tabs become single spaces. */
static const char *one_line(apr_pool_t *p, const char *msg)
{
    char *s, *o;
    const char *q;
    int space = 0;

    if (!msg || !*msg) {
        return "unknown error";
    }
    o = s = apr_palloc(p, strlen(msg) + 1);
    for (q = msg; *q; q++) {
        if (apr_isspace(*q)) {
            space = (o != s);
            continue;
        }
        if (space) {
            *o++ = ' ';
            space = 0;
        }
        *o++ = *q;
    }
    *o = '\0';
    return *s ? s : "unknown error";
}

static int sqlstate_unavailable(const char *st)
{
    /* 08: connection exception; 57P01..57P03: shutdown, crash, not now */
    return st && (!strncmp(st, "08", 2) || !strcmp(st, "57P01")
                  || !strcmp(st, "57P02") || !strcmp(st, "57P03"));
}

/* ---- statement cache
 *
 * Parsing and planning cost PostgreSQL more CPU than running the short
 * statements of a request (about 40% of its time during small uploads), so
 * long-lived connections (httpd's) prepare each statement text once and
 * then execute it by name.  The cache hangs on the PGconn as libpq instance
 * data (PQregisterEventProc) and goes with it.  Names are never reused on a
 * connection; texts beyond STMT_CACHE_MAX (statements built with varying
 * text) run unprepared. */
#define STMT_CACHE_MAX 256

typedef struct {
    apr_pool_t *p;
    apr_hash_t *names;          /* statement text -> name */
    unsigned count;             /* names handed out (never reused) */
} stmt_cache;

static int stmt_event(PGEventId id, void *info, void *pass)
{
    stmt_cache *sc;

    (void)pass;
    if (id == PGEVT_REGISTER) {
        PGconn *c = ((PGEventRegister *)info)->conn;
        apr_pool_t *p;

        if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
            return 0;
        }
        sc = apr_pcalloc(p, sizeof(*sc));
        sc->p = p;
        sc->names = apr_hash_make(p);
        return PQsetInstanceData(c, stmt_event, sc);
    }
    if (id == PGEVT_CONNRESET) {
        /* a reset connection is a new session: nothing is prepared */
        sc = PQinstanceData(((PGEventConnReset *)info)->conn, stmt_event);
        if (sc) {
            apr_hash_clear(sc->names);
        }
    }
    else if (id == PGEVT_CONNDESTROY) {
        sc = PQinstanceData(((PGEventConnDestroy *)info)->conn, stmt_event);
        if (sc) {
            apr_pool_destroy(sc->p);
        }
    }
    return 1;
}

int pool_db_cache_statements(PGconn *c)
{
    return c && PQregisterEventProc(c, stmt_event, "mod_pool statements",
                                    NULL);
}

/* The name of sql's prepared statement, preparing it first; NULL when the
 * connection has no cache, the cache is full, or preparing failed (*fail
 * then holds the failed result, to be reported as the statement's). */
static const char *stmt_prepared(PGconn *c, const char *sql, int nparams,
                                 PGresult **fail)
{
    stmt_cache *sc = PQinstanceData(c, stmt_event);
    const char *name;
    PGresult *r;

    *fail = NULL;
    if (!sc) {
        return NULL;
    }
    if ((name = apr_hash_get(sc->names, sql, APR_HASH_KEY_STRING))) {
        return name;
    }
    if (apr_hash_count(sc->names) >= STMT_CACHE_MAX) {
        return NULL;
    }
    name = apr_psprintf(sc->p, "pool_%u", ++sc->count);
    r = PQprepare(c, name, sql, nparams, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        *fail = r;
        return NULL;
    }
    PQclear(r);
    apr_hash_set(sc->names, apr_pstrdup(sc->p, sql), APR_HASH_KEY_STRING,
                 name);
    return name;
}

/* Forgets sql's statement (after the server refused to run it). */
static void stmt_forget(PGconn *c, const char *sql)
{
    stmt_cache *sc = PQinstanceData(c, stmt_event);

    if (sc) {
        apr_hash_set(sc->names, sql, APR_HASH_KEY_STRING, NULL);
    }
}

/* A prepared statement the server no longer has (DISCARD ALL, a pooler
 * between us), or whose plan cannot follow a changed table. */
static int stmt_stale(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    return st && (!strcmp(st, "26000") || !strcmp(st, "0A000"));
}

/* Executes sql: prepared when the connection caches statements.  A stale
 * statement is forgotten and, outside a transaction (where nothing was
 * aborted by the failure), sent again unprepared. */
static PGresult *stmt_exec(PGconn *c, const char *sql, int nparams,
                           const char *const *params)
{
    PGresult *r, *fail;
    const char *name = stmt_prepared(c, sql, nparams, &fail);

    if (fail) {
        return fail;
    }
    if (!name) {
        return PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    }
    r = PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
    if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && stmt_stale(r)) {
        stmt_forget(c, sql);
        if (PQtransactionStatus(c) == PQTRANS_IDLE) {
            PQclear(r);
            r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
        }
    }
    return r;
}

static pool_db_rc outcome(apr_pool_t *p, PGconn *c, const char *what,
                          PGresult *r, int nfields, PGresult **res,
                          const char **constraint, const char **err);

/* Runs one parameterised statement.  On success *res holds the result (the
 * caller clears it); otherwise the result is cleared, *res is NULL, *err
 * names `what`, and *constraint (if asked) the violated constraint. */
static pool_db_rc run(apr_pool_t *p, PGconn *c, const char *what,
                      const char *sql, int nparams,
                      const char *const *params, int nfields,
                      PGresult **res, const char **constraint,
                      const char **err)
{
    PGresult *r;

    *res = NULL;
    if (constraint) {
        *constraint = NULL;
    }
    if (!c) {
        set_err(err, apr_pstrcat(p, what, ": no database connection", NULL));
        return POOL_DB_UNAVAILABLE;
    }
    r = stmt_exec(c, sql, nparams, params);
    return outcome(p, c, what, r, nfields, res, constraint, err);
}

/* What r, the result of what, says (r NULL: the connection failed); r is
 * handed to the caller in *res on success, cleared otherwise. */
static pool_db_rc outcome(apr_pool_t *p, PGconn *c, const char *what,
                          PGresult *r, int nfields, PGresult **res,
                          const char **constraint, const char **err)
{
    ExecStatusType st;
    const char *state, *msg, *cn;
    pool_db_rc rc;

    if (!r) {
        set_err(err, apr_pstrcat(p, what, ": ",
                                 one_line(p, PQerrorMessage(c)), NULL));
        return POOL_DB_UNAVAILABLE;
    }
    st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (nfields >= 0 && PQnfields(r) != nfields) {
            set_err(err, apr_psprintf(p, "%s: unexpected result (%d columns, "
                                      "expected %d)", what, PQnfields(r),
                                      nfields));
            PQclear(r);
            return POOL_DB_ERROR;
        }
        *res = r;
        return POOL_DB_OK;
    }

    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg) {
        msg = PQresultErrorMessage(r);
    }
    if (!msg || !*msg) {
        msg = PQerrorMessage(c);
    }
    if (PQstatus(c) != CONNECTION_OK || sqlstate_unavailable(state)) {
        rc = POOL_DB_UNAVAILABLE;
    }
    else if (state && !strcmp(state, "23505")) {
        rc = POOL_DB_CONFLICT;
    }
    else if (state && !strcmp(state, "PF409")) {
        rc = POOL_DB_CLASH;
    }
    else if (state && !strcmp(state, "PF507")) {
        rc = POOL_DB_QUOTA;
    }
    else if (state && !strcmp(state, "23503")
             && (cn = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME)) != NULL
             && !strcmp(cn, "files_folder_id_fkey")) {
        /* the folder was removed while the file went into it */
        rc = POOL_DB_CLASH;
        msg = "the folder was removed meanwhile";
    }
    else {
        rc = POOL_DB_ERROR;
    }
    if (constraint) {
        cn = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        *constraint = cn ? apr_pstrdup(p, cn) : NULL;
    }
    if (rc == POOL_DB_CLASH || rc == POOL_DB_QUOTA) {
        /* our own message for the client (sql/009, sql/015) */
        set_err(err, one_line(p, msg));
    }
    else {
        set_err(err, apr_psprintf(p, "%s: %s%s%s%s", what, one_line(p, msg),
                                  state ? " [" : "", state ? state : "",
                                  state ? "]" : ""));
    }
    PQclear(r);
    return rc;
}

/* A statement whose result is not looked at (BEGIN, COMMIT, locks). */
static pool_db_rc run_simple(apr_pool_t *p, PGconn *c, const char *what,
                             const char *sql, int nparams,
                             const char *const *params, const char **err)
{
    PGresult *r;
    pool_db_rc rc = run(p, c, what, sql, nparams, params, -1, &r, NULL, err);

    if (r) {
        PQclear(r);
    }
    return rc;
}

/* ------------------------------------------------- without waiting */

pool_db_rc pool_db_call_send(apr_pool_t *p, PGconn *c, pool_db_call_t *q,
                             const char **err)
{
    PGresult *fail;
    const char *name;
    int sent;

    q->busy = 0;
    if (!c) {
        set_err(err, apr_pstrcat(p, q->what, ": no database connection",
                                 NULL));
        return POOL_DB_UNAVAILABLE;
    }
    name = stmt_prepared(c, q->sql, q->nparams, &fail);
    if (fail) {
        PGresult *res;

        return outcome(p, c, q->what, fail, -1, &res, NULL, err);
    }
    sent = name ? PQsendQueryPrepared(c, name, q->nparams, q->params, NULL,
                                      NULL, 0)
                : PQsendQueryParams(c, q->sql, q->nparams, NULL, q->params,
                                    NULL, NULL, 0);
    if (!sent) {
        return outcome(p, c, q->what, NULL, -1, NULL, NULL, err);
    }
    q->busy = 1;
    return POOL_DB_OK;
}

int pool_db_call_socket(PGconn *c)
{
    return c ? PQsocket(c) : -1;
}

int pool_db_call_ready(PGconn *c)
{
    /* a failure to read is an answer too: receive reports it */
    return !PQconsumeInput(c) || !PQisBusy(c);
}

pool_db_rc pool_db_call_receive(apr_pool_t *p, PGconn *c, pool_db_call_t *q,
                                PGresult **res, const char **err)
{
    PGresult *r = PQgetResult(c), *extra;

    q->busy = 0;
    *res = NULL;
    /* the end of the answer (one statement: one result) */
    while ((extra = PQgetResult(c)) != NULL) {
        PQclear(extra);
    }
    if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && stmt_stale(r)) {
        /* as stmt_exec does: forgotten, and sent again unprepared outside
         * a transaction, this time waiting */
        stmt_forget(c, q->sql);
        if (PQtransactionStatus(c) == PQTRANS_IDLE) {
            PQclear(r);
            r = PQexecParams(c, q->sql, q->nparams, NULL, q->params, NULL,
                             NULL, 0);
        }
    }
    return outcome(p, c, q->what, r, q->nfields, res, NULL, err);
}

pool_db_rc pool_db_exec(apr_pool_t *p, PGconn *c, const char *what,
                        const char *sql, int nparams,
                        const char *const *params, int nfields,
                        PGresult **res, const char **err)
{
    return run(p, c, what, sql, nparams, params, nfields, res, NULL, err);
}

pool_db_rc pool_db_exec_constraint(apr_pool_t *p, PGconn *c,
                                   const char *what, const char *sql,
                                   int nparams, const char *const *params,
                                   int nfields, PGresult **res,
                                   const char **constraint, const char **err)
{
    return run(p, c, what, sql, nparams, params, nfields, res, constraint,
               err);
}

pool_db_rc pool_db_exec0(apr_pool_t *p, PGconn *c, const char *what,
                         const char *sql, int nparams,
                         const char *const *params, const char **err)
{
    return run_simple(p, c, what, sql, nparams, params, err);
}

pool_db_rc pool_db_purge(apr_pool_t *p, PGconn *c, const char *what,
                         const char *sql, int nparams, const char **params,
                         int *n, const char **err)
{
    int got;

    params[0] = apr_itoa(p, POOL_DB_PURGE_BATCH);
    *n = 0;
    do {
        PGresult *r;
        pool_db_rc rc = pool_db_exec(p, c, what, sql, nparams, params, 1,
                                     &r, err);

        if (rc != POOL_DB_OK) {
            return rc;
        }
        got = PQntuples(r);
        PQclear(r);
        *n += got;
    } while (got == POOL_DB_PURGE_BATCH);
    return POOL_DB_OK;
}

pool_db_rc pool_db_rollback(apr_pool_t *p, PGconn *c, pool_db_rc rc)
{
    if (rc != POOL_DB_UNAVAILABLE) {
        run_simple(p, c, "rollback", "ROLLBACK", 0, NULL, NULL);
    }
    return rc;
}

pool_db_rc pool_db_begin(apr_pool_t *p, PGconn *c, const char **err)
{
    return pool_db_exec0(p, c, "begin", "BEGIN", 0, NULL, err);
}

pool_db_rc pool_db_end(apr_pool_t *p, PGconn *c, pool_db_rc rc,
                       const char **err)
{
    if (rc == POOL_DB_OK) {
        rc = pool_db_exec0(p, c, "commit", "COMMIT", 0, NULL, err);
        if (rc == POOL_DB_OK) {
            return rc;
        }
    }
    return pool_db_rollback(p, c, rc);
}

const char *pool_db_col_str(apr_pool_t *p, const PGresult *r, int row,
                            int col)
{
    return PQgetisnull(r, row, col) ? NULL
                                    : apr_pstrdup(p, PQgetvalue(r, row, col));
}

apr_int64_t pool_db_col_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : apr_atoi64(PQgetvalue(r, row, col));
}

int pool_db_col_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

const char *pool_db_col_time(apr_pool_t *p, const PGresult *r, int row,
                             int col)
{
    return PQgetisnull(r, row, col)
           ? NULL : pool_ts_format(p, pool_db_col_i64(r, row, col));
}

const char *pool_db_i64(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

const char *pool_db_array(apr_pool_t *p, const char *const *vals, int n)
{
    apr_size_t len = 3;
    char *out, *o;
    int i;

    for (i = 0; i < n; i++) {
        len += vals[i] ? 2 * strlen(vals[i]) + 3 : 5;
    }
    o = out = apr_palloc(p, len);
    *o++ = '{';
    for (i = 0; i < n; i++) {
        const char *v = vals[i];

        if (i) {
            *o++ = ',';
        }
        if (!v) {
            memcpy(o, "NULL", 4);
            o += 4;
            continue;
        }
        *o++ = '"';
        for (; *v; v++) {
            if (*v == '"' || *v == '\\') {
                *o++ = '\\';
            }
            *o++ = *v;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

const char *pool_db_uuid_array(apr_pool_t *p, const apr_array_header_t *ids)
{
    apr_array_header_t *parts = apr_array_make(p, ids->nelts > 0
                                               ? ids->nelts : 1,
                                               sizeof(const char *));
    int i;

    for (i = 0; i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        if (!pool_uuid_valid(id)) {
            return NULL;
        }
        APR_ARRAY_PUSH(parts, const char *) = id;
    }
    return apr_pstrcat(p, "{", apr_array_pstrcat(p, parts, ','), "}", NULL);
}

#define col_str pool_db_col_str
#define col_i64 pool_db_col_i64
#define col_bool pool_db_col_bool
#define col_time pool_db_col_time
#define i64_param pool_db_i64

/* ---- connections */

static void notice_receiver(void *arg, const PGresult *r)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    int level = POOL_LOG_DEBUG;

    if (sev && !strcmp(sev, "WARNING")) {
        level = POOL_LOG_WARN;
    }
    pool_log(level, "database %s: %s", sev ? sev : "notice",
             msg ? msg : "(no message)");
}

PGconn *pool_db_connect(apr_pool_t *p, const char *conninfo, const char **err)
{
    /* Processed in order: the connection string (expanded from dbname) may
     * override what comes before it, but not what comes after it. */
    static const char *const keys[] = {
        "connect_timeout", "application_name", "dbname", "client_encoding",
        NULL
    };
    const char *vals[5];
    PGconn *c;

    if (!conninfo) {
        set_err(err, "no database configured (PoolDatabase)");
        return NULL;
    }
    vals[0] = "5";
    vals[1] = "mod_pool";
    vals[2] = conninfo;
    vals[3] = "UTF8";
    vals[4] = NULL;
    c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        set_err(err, "out of memory creating a database connection");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        set_err(err, apr_pstrcat(p, "cannot connect to the database: ",
                                 one_line(p, PQerrorMessage(c)), NULL));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeReceiver(c, notice_receiver, NULL);
    return c;
}

int pool_db_ok(PGconn *c)
{
    /* A connection left inside a transaction is no use to the next caller. */
    return c && PQstatus(c) == CONNECTION_OK
           && PQtransactionStatus(c) == PQTRANS_IDLE;
}

/* ---- migrations */

static int migration_applied(const PGresult *r, int version)
{
    int i, n = PQntuples(r);

    for (i = 0; i < n; i++) {
        if (col_i64(r, i, 0) == version) {
            return 1;
        }
    }
    return 0;
}

static pool_db_rc apply_one(apr_pool_t *p, PGconn *c,
                            const pool_migration_t *m, const char **err)
{
    const char *what = apr_psprintf(p, "migration %s", m->name);
    const char *params[2];
    PGresult *r;
    ExecStatusType st;
    pool_db_rc rc;

    rc = run_simple(p, c, what, "BEGIN", 0, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    /* The migration's own text: no parameters, possibly many statements. */
    r = PQexec(c, m->sql);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK
        && st != PGRES_EMPTY_QUERY) {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                            : NULL;

        if (!msg || !*msg) {
            msg = PQerrorMessage(c);
        }
        set_err(err, apr_psprintf(p, "%s: %s%s%s%s", what, one_line(p, msg),
                                  state ? " [" : "", state ? state : "",
                                  state ? "]" : ""));
        rc = (!r || PQstatus(c) != CONNECTION_OK || sqlstate_unavailable(state))
             ? POOL_DB_UNAVAILABLE : POOL_DB_ERROR;
        if (r) {
            PQclear(r);
        }
        if (rc != POOL_DB_UNAVAILABLE) {
            run_simple(p, c, what, "ROLLBACK", 0, NULL, NULL);
        }
        return rc;
    }
    PQclear(r);

    params[0] = apr_itoa(p, m->version);
    params[1] = m->name;
    rc = run_simple(p, c, what,
                    "INSERT INTO pool_schema_migrations (version, name)"
                    " VALUES ($1::int, $2)", 2, params, err);
    if (rc == POOL_DB_OK) {
        rc = run_simple(p, c, what, "COMMIT", 0, NULL, err);
    }
    if (rc != POOL_DB_OK && rc != POOL_DB_UNAVAILABLE) {
        run_simple(p, c, what, "ROLLBACK", 0, NULL, NULL);
    }
    return rc;
}

pool_db_rc pool_db_migrate(apr_pool_t *p, PGconn *c, int *applied,
                           const char **err)
{
    const char *lock[1] = { MIGRATE_LOCK_KEY };
    PGresult *r = NULL;
    pool_db_rc rc;
    int i, n = 0, last = 0;

    *applied = 0;
    for (i = 0; i < pool_migrations_count; i++) {
        if (pool_migrations[i].version <= last) {
            set_err(err, apr_psprintf(p, "migration %s: versions are not "
                                      "strictly increasing",
                                      pool_migrations[i].name));
            return POOL_DB_ERROR;
        }
        last = pool_migrations[i].version;
    }

    rc = run_simple(p, c, "migration lock", MIGRATE_LOCK_SQL, 1, lock, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = run_simple(p, c, "migration table",
                    "CREATE TABLE IF NOT EXISTS pool_schema_migrations ("
                    " version int PRIMARY KEY,"
                    " name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL, err);
    if (rc == POOL_DB_OK) {
        rc = run(p, c, "migration list",
                 "SELECT version, name FROM pool_schema_migrations"
                 " ORDER BY version", 0, NULL, 2, &r, NULL, err);
    }
    if (rc == POOL_DB_OK) {
        int rows = PQntuples(r);

        for (i = 0; i < rows; i++) {
            if (col_i64(r, i, 0) > last) {
                pool_log(POOL_LOG_WARN, "the database has migration %s "
                         "(version %d), which this program does not know: "
                         "the program is older than the schema",
                         PQgetvalue(r, i, 1), (int)col_i64(r, i, 0));
            }
        }
        for (i = 0; i < pool_migrations_count && rc == POOL_DB_OK; i++) {
            const pool_migration_t *m = &pool_migrations[i];

            if (migration_applied(r, m->version)) {
                continue;
            }
            rc = apply_one(p, c, m, err);
            if (rc == POOL_DB_OK) {
                pool_log(POOL_LOG_NOTICE, "applied migration %s", m->name);
                n++;
            }
        }
        PQclear(r);
    }
    if (rc != POOL_DB_UNAVAILABLE) {
        /* On the error path keep the first error message. */
        pool_db_rc urc = run_simple(p, c, "migration unlock",
                                    MIGRATE_UNLOCK_SQL, 1, lock,
                                    rc == POOL_DB_OK ? err : NULL);
        if (rc == POOL_DB_OK) {
            rc = urc;
        }
    }
    *applied = n;
    return rc;
}

/* ---- pools */

#define POOL_COLS \
    "p.id, p.name, " SQL_US("p.created_at") ", " \
    "(SELECT count(*) FROM clients c WHERE c.pool_id = p.id)::int"
#define POOL_NCOLS 4

static pool_pool_t *pool_row(apr_pool_t *p, const PGresult *r, int row)
{
    pool_pool_t *pl = apr_pcalloc(p, sizeof(*pl));

    pl->id = col_i64(r, row, 0);
    pl->name = col_str(p, r, row, 1);
    pl->created_at = col_time(p, r, row, 2);
    pl->clients = (int)col_i64(r, row, 3);
    return pl;
}

pool_db_rc pool_db_pool_create(apr_pool_t *p, PGconn *c, const char *name,
                               pool_pool_t **out, const char **err)
{
    const char *params[1] = { name };
    PGresult *r;
    pool_db_rc rc;

    rc = run(p, c, "create pool",
             "INSERT INTO pools AS p (name) VALUES ($1)"
             " RETURNING " POOL_COLS, 1, params, POOL_NCOLS, &r, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, "create pool: no row returned");
        return POOL_DB_ERROR;
    }
    if (out) {
        *out = pool_row(p, r, 0);
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_db_pool_get(apr_pool_t *p, PGconn *c, const char *name,
                            pool_pool_t **out, const char **err)
{
    const char *params[1] = { name };
    PGresult *r;
    pool_db_rc rc;

    rc = run(p, c, "get pool",
             "SELECT " POOL_COLS " FROM pools p WHERE p.name = $1",
             1, params, POOL_NCOLS, &r, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "pool '%s' not found", name));
        return POOL_DB_NOTFOUND;
    }
    if (out) {
        *out = pool_row(p, r, 0);
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_db_pool_list(apr_pool_t *p, PGconn *c,
                             apr_array_header_t **out, const char **err)
{
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    rc = run(p, c, "list pools",
             "SELECT " POOL_COLS " FROM pools p ORDER BY p.name",
             0, NULL, POOL_NCOLS, &r, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *out = apr_array_make(p, n > 0 ? n : 1, sizeof(pool_pool_t *));
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*out, pool_pool_t *) = pool_row(p, r, i);
    }
    PQclear(r);
    return POOL_DB_OK;
}

/* ---- files */

/* folder: the expression of the file's folder path */
#define FILE_COLS_F(folder) \
    "f.id::text, f.seq, p.name, c.client_id, f.name, f.size, f.sha256," \
    " f.content_type, " SQL_US("f.ts") ", " SQL_US("f.received_at") ", " \
    folder ", f.in_view"
#define FILE_COLS \
    FILE_COLS_F("(SELECT path FROM folders WHERE id = f.folder_id)")
#define FILE_NCOLS 12

static pool_file_t *file_row(apr_pool_t *p, const PGresult *r, int row)
{
    pool_file_t *f = apr_pcalloc(p, sizeof(*f));

    f->id = col_str(p, r, row, 0);
    f->seq = col_i64(r, row, 1);
    f->pool = col_str(p, r, row, 2);
    f->client_id = col_str(p, r, row, 3);
    f->name = col_str(p, r, row, 4);
    f->size = (apr_off_t)col_i64(r, row, 5);
    f->sha256 = col_str(p, r, row, 6);
    f->content_type = col_str(p, r, row, 7);
    f->ts = (apr_time_t)col_i64(r, row, 8);
    f->received_at = col_time(p, r, row, 9);
    f->folder = PQgetisnull(r, row, 10) ? NULL : col_str(p, r, row, 10);
    f->in_view = col_bool(r, row, 11);
    return f;
}

pool_db_rc pool_db_file_insert(apr_pool_t *p, PGconn *c, const pool_file_t *f,
                               pool_file_t **out, const char **err)
{
    const char *params[9];
    PGresult *r;
    pool_db_rc rc;
    const char *id = f->id ? f->id : pool_uuid(p);

    if (!id || !pool_uuid_valid(id)) {
        set_err(err, "insert file: invalid id");
        return POOL_DB_ERROR;
    }
    if (!f->late_keeps) {
        rc = pool_late_check(p, c, f->pool, f->ts, NULL, err);
        if (rc == POOL_DB_CONFLICT) {
            return POOL_DB_REFUSED;
        }
        if (rc != POOL_DB_OK) {
            return rc;
        }
    }
    params[0] = id;
    params[1] = f->pool;
    params[2] = f->client_id;
    params[3] = f->name;
    params[4] = apr_off_t_toa(p, f->size);
    params[5] = f->sha256;
    params[6] = f->content_type;
    params[7] = i64_param(p, f->ts);
    params[8] = f->folder;
    /* Pool and client are resolved in the same statement; no row means
     * they do not exist or do not belong together.  pool_file_insert
     * (sql/009) also puts the file in the view, in its folder.  The folder
     * path is the one it was put in ($9, else the client's): a folder the
     * function makes is not visible to this statement's own snapshot. */
    rc = run(p, c, "insert file",
             "SELECT " FILE_COLS_F("coalesce($9, pool_client_folder(c.name))")
             " FROM pool_file_insert($1::uuid, $2, $3, $4,"
             " $5::bigint, $6, $7, " SQL_FROM_US("$8") ", $9) f"
             " JOIN pools p ON p.id = f.pool_id"
             " JOIN clients c ON c.id = f.client_id",
             9, params, FILE_NCOLS, &r, NULL, err);
    if (rc == POOL_DB_CONFLICT) {
        set_err(err, apr_psprintf(p, "file %s already exists", id));
        return rc;
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "pool '%s' or its client '%s' not found",
                                  f->pool ? f->pool : "",
                                  f->client_id ? f->client_id : ""));
        return POOL_DB_NOTFOUND;
    }
    if (out) {
        *out = file_row(p, r, 0);
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_db_op_file_record(apr_pool_t *p, PGconn *c, void *baton,
                                  const char **err)
{
    pool_db_file_baton *fb = baton;
    pool_db_rc rc = pool_db_file_insert(p, c, fb->in, &fb->out, err);

    if (rc == POOL_DB_CONFLICT) {
        rc = pool_db_file_get(p, c, fb->in->pool, fb->in->id, &fb->out, err);
    }
    return rc;
}

pool_db_rc pool_db_op_file_lookup(apr_pool_t *p, PGconn *c, void *baton,
                                  const char **err)
{
    pool_db_file_baton *fb = baton;

    return pool_db_file_get(p, c, fb->in->pool, fb->in->id, &fb->out, err);
}

/* After a unique conflict in a batch insert: a retried call whose first
 * attempt committed finds every one of its ids stored with the same
 * content; then those rows are the answer. */
static pool_db_rc batch_committed(apr_pool_t *p, PGconn *c,
                                  apr_array_header_t *files,
                                  apr_array_header_t **out, const char **err)
{
    apr_array_header_t *rows = apr_array_make(p, files->nelts,
                                              sizeof(pool_file_t *));
    int i;

    for (i = 0; i < files->nelts; i++) {
        const pool_file_t *f = APR_ARRAY_IDX(files, i, const pool_file_t *);
        pool_file_t *row = NULL;
        pool_db_rc rc = pool_db_file_get(p, c, f->pool, f->id, &row, err);

        if (rc == POOL_DB_NOTFOUND
            || (rc == POOL_DB_OK
                && (!row->client_id || !f->client_id
                    || strcmp(row->client_id, f->client_id)
                    || row->size != f->size
                    || !row->sha256 || !f->sha256
                    || strcmp(row->sha256, f->sha256)))) {
            set_err(err, apr_psprintf(p, "insert files: file %s conflicts "
                                      "with another row", f->id));
            return POOL_DB_CONFLICT;
        }
        if (rc != POOL_DB_OK) {
            return rc;
        }
        APR_ARRAY_PUSH(rows, pool_file_t *) = row;
    }
    *out = rows;
    return POOL_DB_OK;
}

pool_db_rc pool_db_file_insert_many(apr_pool_t *p, PGconn *c,
                                    apr_array_header_t *files,
                                    apr_array_header_t **out,
                                    const char **err)
{
    apr_array_header_t *rows;
    pool_db_rc rc;
    int i;

    rows = apr_array_make(p, files && files->nelts ? files->nelts : 1,
                          sizeof(pool_file_t *));
    if (!files || files->nelts == 0) {
        *out = rows;
        return POOL_DB_OK;
    }
    for (i = 0; i < files->nelts; i++) {
        const pool_file_t *f = APR_ARRAY_IDX(files, i, const pool_file_t *);
        if (!f || !f->id || !pool_uuid_valid(f->id)) {
            set_err(err, "insert files: every file needs a valid id");
            return POOL_DB_ERROR;
        }
    }
    rc = run_simple(p, c, "insert files", "BEGIN", 0, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    for (i = 0; i < files->nelts && rc == POOL_DB_OK; i++) {
        pool_file_t *row = NULL;

        rc = pool_db_file_insert(p, c, APR_ARRAY_IDX(files, i, pool_file_t *),
                                 &row, err);
        if (rc == POOL_DB_OK) {
            APR_ARRAY_PUSH(rows, pool_file_t *) = row;
        }
        else if ((rc == POOL_DB_REFUSED || rc == POOL_DB_CLASH) && err) {
            *err = apr_psprintf(p, "file %d of the batch: %s", i, *err);
        }
    }
    if (rc == POOL_DB_OK) {
        rc = run_simple(p, c, "insert files", "COMMIT", 0, NULL, err);
        if (rc == POOL_DB_OK) {
            *out = rows;
            return POOL_DB_OK;
        }
    }
    if (rc != POOL_DB_UNAVAILABLE) {
        run_simple(p, c, "insert files", "ROLLBACK", 0, NULL, NULL);
    }
    if (rc == POOL_DB_CONFLICT) {
        const char *ferr = NULL;
        pool_db_rc frc = batch_committed(p, c, files, out, &ferr);

        if (frc == POOL_DB_OK) {
            return POOL_DB_OK;
        }
        if (frc != POOL_DB_CONFLICT) {
            set_err(err, ferr);
            return frc;
        }
    }
    return rc;
}

pool_db_rc pool_db_file_get(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *id, pool_file_t **out,
                            const char **err)
{
    const char *params[2] = { pool, id };
    PGresult *r;
    pool_db_rc rc;

    if (!id || !pool_uuid_valid(id)) {
        set_err(err, "file not found");
        return POOL_DB_NOTFOUND;
    }
    rc = run(p, c, "get file",
             "SELECT " FILE_COLS " FROM files f"
             " JOIN pools p ON p.id = f.pool_id"
             " JOIN clients c ON c.id = f.client_id"
             " WHERE p.name = $1 AND f.id = $2::uuid",
             2, params, FILE_NCOLS, &r, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "file %s not found", id));
        return POOL_DB_NOTFOUND;
    }
    if (out) {
        *out = file_row(p, r, 0);
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_db_file_list(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *client_id, apr_int64_t after,
                             int limit, apr_array_header_t **out,
                             const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    if (limit <= 0 || limit > LIST_LIMIT_MAX) {
        limit = LIST_LIMIT_MAX;
    }
    params[0] = pool;
    params[1] = i64_param(p, after);
    params[2] = client_id;
    params[3] = apr_itoa(p, limit);
    /* The client filter is resolved to the internal id first so the
     * (pool_id, client_id, seq) index serves it. */
    rc = run(p, c, "list files",
             "SELECT " FILE_COLS " FROM files f"
             " JOIN pools p ON p.id = f.pool_id"
             " JOIN clients c ON c.id = f.client_id"
             " WHERE p.name = $1 AND f.seq > $2::bigint"
             " AND ($3::text IS NULL OR f.client_id ="
             "      (SELECT id FROM clients WHERE client_id = $3))"
             " ORDER BY f.seq LIMIT $4::int",
             4, params, FILE_NCOLS, &r, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *out = apr_array_make(p, n > 0 ? n : 1, sizeof(pool_file_t *));
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*out, pool_file_t *) = file_row(p, r, i);
    }
    PQclear(r);
    if (n == 0) {
        /* An empty page of a pool, or no such pool? */
        rc = pool_db_pool_get(p, c, pool, NULL, err);
    }
    return rc;
}

pool_db_rc pool_db_run_direct(void *ctx, pool_db_op *op, void *baton,
                              const char **err)
{
    pool_db_direct_t *d = ctx;

    if (!pool_db_ok(d->c)) {
        *err = "the database connection is broken";
        return POOL_DB_UNAVAILABLE;
    }
    return op(d->p, d->c, baton, err);
}
