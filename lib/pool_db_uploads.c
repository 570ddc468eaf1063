/* Resumable (tus) uploads in PostgreSQL: the uploads table (sql/002).
 *
 * A request that writes an upload's data holds its lease: lock_token (random,
 * the request's own) and locked_until.  Taking it is one UPDATE that only
 * succeeds while the upload is open, unexpired and nobody else's lease is
 * running; every later write of the row (renewal, new offset, completion)
 * names the token, so a request whose lease ran out cannot record anything.
 * Every statement is parameterised (pool_db_exec). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>

#include "pool_tus.h"
#include "pool_util.h"

/* Microseconds since the epoch of a timestamptz column, exactly. */
#define SQL_US(col) \
    "(extract(epoch from date_trunc('second', " col "))::bigint * 1000000" \
    " + extract(microseconds from " col ")::bigint % 1000000)"
/* A bigint parameter of microseconds back into a timestamptz, exactly. */
#define SQL_FROM_US(param) \
    "(to_timestamp(" param "::bigint / 1000000)" \
    " + (" param "::bigint % 1000000) * interval '1 microsecond')"

#define UPLOAD_COLS \
    "u.id::text, u.upload_length, u.upload_offset, u.metadata, u.name," \
    " u.content_type, " SQL_US("u.ts") ", u.concat, u.parts, u.state," \
    " u.file_id::text, " SQL_US("u.expires_at") ", u.expires_at <= now()," \
    " u.sha256_state"
#define UPLOAD_NCOLS 14

/* The caller's own upload: u joined to its pool and client by name. */
#define OWNED_BY(idp, poolp, clientp) \
    " u.id = " idp "::uuid AND p.id = u.pool_id AND p.name = " poolp \
    " AND c.id = u.client_id AND c.client_id = " clientp

#define col_str pool_db_col_str
#define col_i64 pool_db_col_i64
#define col_bool pool_db_col_bool

static pool_upload_t *upload_row(apr_pool_t *p, const PGresult *r, int row)
{
    pool_upload_t *u = apr_pcalloc(p, sizeof(*u));
    const char *concat = PQgetvalue(r, row, 7);

    u->id = col_str(p, r, row, 0);
    u->length = PQgetisnull(r, row, 1) ? -1 : (apr_off_t)col_i64(r, row, 1);
    u->offset = (apr_off_t)col_i64(r, row, 2);
    u->metadata = col_str(p, r, row, 3);
    u->name = col_str(p, r, row, 4);
    u->content_type = col_str(p, r, row, 5);
    u->ts = (apr_time_t)col_i64(r, row, 6);
    u->concat = !strcmp(concat, "partial") ? POOL_TUS_CONCAT_PARTIAL
              : !strcmp(concat, "final") ? POOL_TUS_CONCAT_FINAL
              : POOL_TUS_CONCAT_NONE;
    u->parts = col_str(p, r, row, 8);
    u->state = col_str(p, r, row, 9);
    u->file_id = col_str(p, r, row, 10);
    u->expires_at = (apr_time_t)col_i64(r, row, 11);
    u->expired = col_bool(r, row, 12);
    u->sha256_state = col_str(p, r, row, 13);
    return u;
}

static const char *concat_name(pool_tus_concat_kind k)
{
    return k == POOL_TUS_CONCAT_PARTIAL ? "partial"
         : k == POOL_TUS_CONCAT_FINAL ? "final" : "none";
}

#define i64s pool_db_i64

/* One row expected: NOTFOUND when there is none. */
static pool_db_rc one_upload(apr_pool_t *p, PGconn *c, const char *what,
                             const char *sql, int n, const char *const *params,
                             int ncols, pool_upload_t **out, PGresult **keep,
                             const char **err)
{
    PGresult *r;
    pool_db_rc rc = pool_db_exec(p, c, what, sql, n, params, ncols, &r, err);

    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return POOL_DB_NOTFOUND;
    }
    *out = upload_row(p, r, 0);
    if (keep) {
        *keep = r;
    }
    else {
        PQclear(r);
    }
    return POOL_DB_OK;
}

pool_db_rc pool_upload_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, const pool_upload_t *u,
                              int expiry_s, const char *lock_token,
                              int lease_s, pool_upload_t **out,
                              const char **err)
{
    const char *params[12];

    if (!u->id || !pool_uuid_valid(u->id)) {
        *err = "create upload: invalid id";
        return POOL_DB_ERROR;
    }
    params[0] = u->id;
    params[1] = pool;
    params[2] = client_id;
    params[3] = u->length >= 0 ? i64s(p, u->length) : NULL;
    params[4] = u->metadata;
    params[5] = u->name;
    params[6] = u->content_type;
    params[7] = i64s(p, u->ts);
    params[8] = concat_name(u->concat);
    params[9] = apr_itoa(p, expiry_s);
    params[10] = lock_token;
    params[11] = apr_itoa(p, lease_s);
    return one_upload(p, c, "create upload",
        "INSERT INTO uploads AS u (id, pool_id, client_id, upload_length,"
        "  metadata, name, content_type, ts, concat, expires_at, lock_token,"
        "  locked_until)"
        " SELECT $1::uuid, p.id, c.id, $4::bigint, $5, $6,"
        "  coalesce($7, 'application/octet-stream'), " SQL_FROM_US("$8") ","
        "  $9, now() + $10::int * interval '1 second', $11::text,"
        "  CASE WHEN $11::text IS NULL THEN NULL"
        "       ELSE now() + $12::int * interval '1 second' END"
        " FROM pools p JOIN clients c ON c.pool_id = p.id"
        " WHERE p.name = $2 AND c.client_id = $3"
        " RETURNING " UPLOAD_COLS,
        12, params, UPLOAD_NCOLS, out, NULL, err);
}

pool_db_rc pool_upload_get(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *client_id, const char *id,
                           pool_upload_t **out, const char **err)
{
    const char *params[3];
    PGresult *r = NULL;
    pool_db_rc rc;

    if (!pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
    params[1] = pool;
    params[2] = client_id;
    rc = one_upload(p, c, "read upload",
        "SELECT " UPLOAD_COLS ","
        "  u.locked_until IS NOT NULL AND u.locked_until > now()"
        " FROM uploads u, pools p, clients c"
        " WHERE" OWNED_BY("$1", "$2", "$3"),
        3, params, UPLOAD_NCOLS + 1, out, &r, err);
    if (rc == POOL_DB_OK) {
        (*out)->locked = col_bool(r, 0, UPLOAD_NCOLS);
        PQclear(r);
    }
    return rc;
}

pool_db_rc pool_upload_lease(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *client_id, const char *id,
                             const char *lock_token, int lease_s,
                             pool_upload_t **out, const char **err)
{
    const char *params[5];
    PGresult *r = NULL;
    pool_db_rc rc;

    if (!pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
    params[1] = pool;
    params[2] = client_id;
    params[3] = lock_token;
    params[4] = apr_itoa(p, lease_s);
    /* The row is locked and re-read by the UPDATE itself, so the test of
     * "free" and the taking are one step; the CASEs leave a busy, finished
     * or expired upload as it was. */
#define FREE "(u.state = 'open' AND u.expires_at > now()" \
             " AND (u.locked_until IS NULL OR u.locked_until <= now()))"
    rc = one_upload(p, c, "lease upload",
        "UPDATE uploads u SET"
        "  lock_token = CASE WHEN " FREE " THEN $4 ELSE u.lock_token END,"
        "  locked_until = CASE WHEN " FREE
        "    THEN now() + $5::int * interval '1 second'"
        "    ELSE u.locked_until END"
        " FROM pools p, clients c"
        " WHERE" OWNED_BY("$1", "$2", "$3")
        " RETURNING " UPLOAD_COLS ","
        "  u.lock_token IS NOT DISTINCT FROM $4,"
        "  u.locked_until IS NOT NULL AND u.locked_until > now()",
        5, params, UPLOAD_NCOLS + 2, out, &r, err);
#undef FREE
    if (rc == POOL_DB_OK) {
        (*out)->leased = col_bool(r, 0, UPLOAD_NCOLS);
        (*out)->locked = !(*out)->leased && col_bool(r, 0, UPLOAD_NCOLS + 1);
        PQclear(r);
    }
    return rc;
}

pool_db_rc pool_upload_renew(apr_pool_t *p, PGconn *c, const char *id,
                             const char *lock_token, int lease_s,
                             const char **err)
{
    const char *params[3];
    PGresult *r;
    pool_db_rc rc;
    int n;

    params[0] = id;
    params[1] = lock_token;
    params[2] = apr_itoa(p, lease_s);
    rc = pool_db_exec(p, c, "renew upload lease",
                      "UPDATE uploads"
                      " SET locked_until = now() + $3::int * interval '1 second'"
                      " WHERE id = $1::uuid AND lock_token = $2"
                      " AND state = 'open'",
                      3, params, 0, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n == 1 ? POOL_DB_OK : POOL_DB_NOTFOUND;
}

pool_db_rc pool_upload_release(apr_pool_t *p, PGconn *c, const char *id,
                               const char *lock_token, apr_off_t offset,
                               apr_off_t length, int expiry_s,
                               const char *sha256_state,
                               pool_upload_t **out, const char **err)
{
    const char *params[6];
    pool_upload_t *u = NULL;
    pool_db_rc rc;

    params[0] = id;
    params[1] = lock_token;
    params[2] = i64s(p, offset);
    params[3] = length >= 0 ? i64s(p, length) : NULL;
    params[4] = apr_itoa(p, expiry_s);
    params[5] = sha256_state;
    /* a state describes the data up to the offset: kept while the offset
     * stays, forgotten when it moves without a new one */
    rc = one_upload(p, c, "record upload offset",
        "UPDATE uploads u SET upload_offset = $3::bigint,"
        "  sha256_state = CASE WHEN $6::text IS NOT NULL THEN $6::text"
        "    WHEN $3::bigint = u.upload_offset THEN u.sha256_state END,"
        "  upload_length = coalesce(u.upload_length, $4::bigint),"
        "  lock_token = NULL, locked_until = NULL, updated_at = now(),"
        "  expires_at = CASE WHEN $5::int > 0"
        "    THEN now() + $5::int * interval '1 second'"
        "    ELSE u.expires_at END"
        " WHERE u.id = $1::uuid AND u.lock_token = $2"
        " RETURNING " UPLOAD_COLS,
        6, params, UPLOAD_NCOLS, &u, NULL, err);
    if (rc == POOL_DB_OK && out) {
        *out = u;
    }
    return rc;
}

/* After a unique conflict on the file row: did an earlier attempt of the
 * same call commit?  Then upload `id` names the file f->id. */
static pool_db_rc committed_before(apr_pool_t *p, PGconn *c, const char *id,
                                   const pool_file_t *f, pool_file_t **out,
                                   const char **err)
{
    const char *params[2];
    PGresult *r;
    pool_db_rc rc;
    int same;

    params[0] = id;
    params[1] = f->id;
    rc = pool_db_exec(p, c, "check upload",
                      "SELECT 1 FROM uploads"
                      " WHERE id = $1::uuid AND file_id = $2::uuid",
                      2, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    same = PQntuples(r) == 1;
    PQclear(r);
    if (!same) {
        *err = apr_psprintf(p, "file %s already exists", f->id);
        return POOL_DB_CONFLICT;
    }
    return pool_db_file_get(p, c, f->pool, f->id, out, err);
}

pool_db_rc pool_upload_complete(apr_pool_t *p, PGconn *c, const char *id,
                                const char *lock_token, const pool_file_t *f,
                                pool_file_t **out, const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    int n;

    rc = pool_db_exec0(p, c, "complete upload", "BEGIN", 0, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = pool_db_file_insert(p, c, f, out, err);
    if (rc == POOL_DB_CONFLICT) {
        pool_db_rollback(p, c, rc);
        return committed_before(p, c, id, f, out, err);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    params[0] = id;
    params[1] = f->id;
    params[2] = lock_token;
    params[3] = i64s(p, f->size);
    /* a deferred length is the file's size */
    rc = pool_db_exec(p, c, "complete upload",
                      "UPDATE uploads SET state = 'done', file_id = $2::uuid,"
                      "  upload_length = $4::bigint, upload_offset = $4::bigint,"
                      "  lock_token = NULL, locked_until = NULL,"
                      "  updated_at = now()"
                      " WHERE id = $1::uuid AND lock_token = $3"
                      "  AND state = 'open'"
                      "  AND (upload_length IS NULL OR upload_length = $4::bigint)",
                      4, params, 0, &r, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n != 1) {
        *err = "complete upload: the upload's lease was lost";
        return pool_db_rollback(p, c, POOL_DB_NOTFOUND);
    }
    rc = pool_db_exec0(p, c, "complete upload", "COMMIT", 0, NULL, err);
    return rc == POOL_DB_OK ? rc : pool_db_rollback(p, c, rc);
}

pool_db_rc pool_upload_unlease(apr_pool_t *p, PGconn *c,
                               const apr_array_header_t *ids,
                               const char *lock_token, const char **err)
{
    const char *params[2];

    params[0] = pool_db_uuid_array(p, ids);
    params[1] = lock_token;
    if (!params[0]) {
        *err = "unlease uploads: invalid id";
        return POOL_DB_ERROR;
    }
    return pool_db_exec0(p, c, "unlease uploads",
                         "UPDATE uploads SET lock_token = NULL,"
                         "  locked_until = NULL"
                         " WHERE id = ANY($1::uuid[]) AND lock_token = $2",
                         2, params, err);
}

pool_db_rc pool_upload_lease_parts(apr_pool_t *p, PGconn *c, const char *pool,
                                   const char *client_id,
                                   const apr_array_header_t *ids,
                                   const char *lock_token, int lease_s,
                                   apr_array_header_t **sizes,
                                   const char **bad_id, const char **err)
{
    const char *params[5];
    PGresult *r;
    pool_db_rc rc;
    apr_hash_t *got;
    int i, n;

    *bad_id = NULL;
    params[0] = pool_db_uuid_array(p, ids);
    params[1] = pool;
    params[2] = client_id;
    params[3] = lock_token;
    params[4] = apr_itoa(p, lease_s);
    if (!params[0]) {
        *err = "lease partial uploads: invalid id";
        return POOL_DB_ERROR;
    }
    rc = pool_db_exec(p, c, "lease partial uploads",
        "UPDATE uploads u SET lock_token = $4,"
        "  locked_until = now() + $5::int * interval '1 second'"
        " FROM pools p, clients c"
        " WHERE u.id = ANY($1::uuid[]) AND p.id = u.pool_id AND p.name = $2"
        "  AND c.id = u.client_id AND c.client_id = $3"
        "  AND u.concat = 'partial' AND u.state = 'open'"
        "  AND u.expires_at > now()"
        "  AND (u.locked_until IS NULL OR u.locked_until <= now())"
        "  AND u.upload_length IS NOT NULL"
        "  AND u.upload_offset = u.upload_length"
        " RETURNING u.id::text, u.upload_length",
        5, params, 2, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    got = apr_hash_make(p);
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        apr_off_t *len = apr_palloc(p, sizeof(*len));
        *len = (apr_off_t)col_i64(r, i, 1);
        apr_hash_set(got, apr_pstrdup(p, PQgetvalue(r, i, 0)),
                     APR_HASH_KEY_STRING, len);
    }
    PQclear(r);
    if (n == ids->nelts) {
        *sizes = apr_array_make(p, n, sizeof(apr_off_t));
        for (i = 0; i < ids->nelts; i++) {
            apr_off_t *len = apr_hash_get(got, APR_ARRAY_IDX(ids, i,
                                                             const char *),
                                          APR_HASH_KEY_STRING);
            APR_ARRAY_PUSH(*sizes, apr_off_t) = len ? *len : 0;
        }
        return POOL_DB_OK;
    }
    if (n > 0) {
        rc = pool_upload_unlease(p, c, ids, lock_token, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
    }
    /* why not: the first id that was not leased */
    for (i = 0; i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        pool_upload_t *u;

        if (apr_hash_get(got, id, APR_HASH_KEY_STRING)) {
            continue;
        }
        *bad_id = id;
        rc = pool_upload_get(p, c, pool, client_id, id, &u, err);
        if (rc == POOL_DB_OK && u->concat != POOL_TUS_CONCAT_PARTIAL) {
            rc = POOL_DB_NOTFOUND;
        }
        else if (rc == POOL_DB_OK) {
            rc = POOL_DB_CONFLICT;
        }
        return rc;
    }
    return POOL_DB_CONFLICT;    /* duplicates: the caller refuses those */
}

pool_db_rc pool_upload_create_final(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    const pool_upload_t *u, int expiry_s,
                                    const apr_array_header_t *ids,
                                    const char *lock_token,
                                    const pool_file_t *f, pool_file_t **out,
                                    const char **err)
{
    const char *params[12];
    PGresult *r;
    pool_db_rc rc;
    int n;

    rc = pool_db_exec0(p, c, "concatenate uploads", "BEGIN", 0, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = pool_db_file_insert(p, c, f, out, err);
    if (rc == POOL_DB_CONFLICT) {
        pool_db_rollback(p, c, rc);
        return committed_before(p, c, u->id, f, out, err);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    params[0] = u->id;
    params[1] = pool;
    params[2] = client_id;
    params[3] = i64s(p, u->length);
    params[4] = u->metadata;
    params[5] = u->name;
    params[6] = u->content_type;
    params[7] = i64s(p, u->ts);
    params[8] = u->parts;
    params[9] = apr_itoa(p, expiry_s);
    params[10] = f->id;
    rc = pool_db_exec(p, c, "concatenate uploads",
        "INSERT INTO uploads (id, pool_id, client_id, upload_length,"
        "  upload_offset, metadata, name, content_type, ts, concat, parts,"
        "  state, file_id, expires_at)"
        " SELECT $1::uuid, p.id, c.id, $4::bigint, $4::bigint, $5, $6,"
        "  coalesce($7, 'application/octet-stream'), " SQL_FROM_US("$8") ","
        "  'final', $9, 'done', $11::uuid,"
        "  now() + $10::int * interval '1 second'"
        " FROM pools p JOIN clients c ON c.pool_id = p.id"
        " WHERE p.name = $2 AND c.client_id = $3",
        11, params, 0, &r, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n != 1) {
        *err = "concatenate uploads: pool or client not found";
        return pool_db_rollback(p, c, POOL_DB_NOTFOUND);
    }
    params[0] = pool_db_uuid_array(p, ids);
    params[1] = lock_token;
    if (!params[0]) {
        *err = "concatenate uploads: invalid id";
        return pool_db_rollback(p, c, POOL_DB_ERROR);
    }
    rc = pool_db_exec(p, c, "concatenate uploads",
                      "UPDATE uploads SET state = 'consumed', lock_token = NULL,"
                      "  locked_until = NULL, updated_at = now()"
                      " WHERE id = ANY($1::uuid[]) AND lock_token = $2"
                      "  AND state = 'open'",
                      2, params, 0, &r, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n != ids->nelts) {
        *err = "concatenate uploads: the partial uploads' lease was lost";
        return pool_db_rollback(p, c, POOL_DB_CONFLICT);
    }
    rc = pool_db_exec0(p, c, "concatenate uploads", "COMMIT", 0, NULL, err);
    return rc == POOL_DB_OK ? rc : pool_db_rollback(p, c, rc);
}

pool_db_rc pool_upload_delete(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, const char *id,
                              const char **err)
{
    const char *params[3];
    PGresult *r;
    pool_db_rc rc;
    pool_upload_t *u;
    int n;

    if (!pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
    params[1] = pool;
    params[2] = client_id;
    rc = pool_db_exec(p, c, "delete upload",
                      "DELETE FROM uploads u USING pools p, clients c"
                      " WHERE" OWNED_BY("$1", "$2", "$3")
                      "  AND (u.locked_until IS NULL"
                      "       OR u.locked_until <= now())",
                      3, params, 0, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n == 1) {
        return POOL_DB_OK;
    }
    rc = pool_upload_get(p, c, pool, client_id, id, &u, err);
    return rc == POOL_DB_OK ? POOL_DB_CONFLICT : rc;
}

pool_db_rc pool_upload_claim_expired(apr_pool_t *p, PGconn *c, int limit,
                                     const char *lock_token, int lease_s,
                                     apr_array_header_t **ids,
                                     const char **err)
{
    const char *params[3];
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    params[0] = lock_token;
    params[1] = apr_itoa(p, lease_s);
    params[2] = apr_itoa(p, limit);
    rc = pool_db_exec(p, c, "claim expired uploads",
        "UPDATE uploads SET lock_token = $1,"
        "  locked_until = now() + $2::int * interval '1 second'"
        " WHERE id IN (SELECT id FROM uploads"
        "  WHERE expires_at <= now()"
        "   AND (locked_until IS NULL OR locked_until <= now())"
        "  ORDER BY expires_at LIMIT $3::int FOR UPDATE SKIP LOCKED)"
        " RETURNING id::text",
        3, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *ids = apr_array_make(p, n > 0 ? n : 1, sizeof(const char *));
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*ids, const char *) = apr_pstrdup(p,
                                                         PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_upload_forget(apr_pool_t *p, PGconn *c, const char *id,
                              const char *lock_token, const char **err)
{
    const char *params[2];
    PGresult *r;
    pool_db_rc rc;
    int n;

    params[0] = id;
    params[1] = lock_token;
    rc = pool_db_exec(p, c, "delete expired upload",
                      "DELETE FROM uploads WHERE id = $1::uuid"
                      " AND lock_token = $2",
                      2, params, 0, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n == 1 ? POOL_DB_OK : POOL_DB_NOTFOUND;
}

pool_db_rc pool_upload_existing(apr_pool_t *p, PGconn *c,
                                const apr_array_header_t *ids,
                                apr_array_header_t **present,
                                const char **err)
{
    const char *params[1];
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    params[0] = pool_db_uuid_array(p, ids);
    if (!params[0]) {
        *err = "find uploads: invalid id";
        return POOL_DB_ERROR;
    }
    rc = pool_db_exec(p, c, "find uploads",
                      "SELECT id::text FROM uploads WHERE id = ANY($1::uuid[])",
                      1, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *present = apr_array_make(p, n > 0 ? n : 1, sizeof(const char *));
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*present, const char *) =
            apr_pstrdup(p, PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return POOL_DB_OK;
}
