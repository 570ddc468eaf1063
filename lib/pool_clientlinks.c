/* Links for clients: their rows (sql/014); see pool_clientlinks.h. */
#include <string.h>

#include <apr_strings.h>

#include "pool_clientlinks.h"
#include "pool_json.h"
#include "pool_util.h"

#define str_or_null pool_json_str_or_null

#define US(col) POOL_SQL_US(col)

/* A link row with its pool's name and its creator's public id. */
#define LINK_COLS \
    "l.id::text, l.seq, p.name, c.client_id, l.kind, l.file_id::text," \
    " l.name, l.folder, " US("l.ts") ", l.max_size, l.max_downloads," \
    " l.downloads, " US("l.created_at") ", " US("l.expires_at") ", " \
    US("l.revoked_at") ", " US("l.used_at") ", l.uses, " CLAIM_LIVE
#define LINK_NCOLS 18
#define LINK_FROM \
    " FROM client_links l JOIN pools p ON p.id = l.pool_id" \
    " JOIN clients c ON c.id = l.client_id"
/* the joins of an UPDATE of l ($1: pool name, $2: link id) */
#define LINK_JOIN \
    " FROM pools p, clients c WHERE p.id = l.pool_id AND c.id = l.client_id" \
    " AND p.name = $1 AND l.id = $2::uuid"

/* A claim younger than the lease holds the link. */
#define CLAIM_LIVE \
    "(l.claim IS NOT NULL AND l.claimed_at > now() - interval '" \
    APR_STRINGIFY(POOL_CLIENTLINK_CLAIM_LEASE) " seconds')"
/* What every request through a link needs (with LINK_JOIN). */
#define LINK_WORKS \
    " AND l.revoked_at IS NULL AND l.expires_at > now()" \
    " AND c.disabled_at IS NULL"

static pool_clientlink_t *link_row(apr_pool_t *p, const PGresult *r, int i)
{
    pool_clientlink_t *l = apr_pcalloc(p, sizeof(*l));

    l->id = pool_db_col_str(p, r, i, 0);
    l->seq = pool_db_col_i64(r, i, 1);
    l->pool = pool_db_col_str(p, r, i, 2);
    l->client_id = pool_db_col_str(p, r, i, 3);
    l->kind = pool_db_col_str(p, r, i, 4);
    l->file_id = pool_db_col_str(p, r, i, 5);
    l->name = pool_db_col_str(p, r, i, 6);
    l->folder = pool_db_col_str(p, r, i, 7);
    l->has_ts = !PQgetisnull(r, i, 8);
    l->ts = (apr_time_t)pool_db_col_i64(r, i, 8);
    l->ts_at = pool_db_col_time(p, r, i, 8);
    l->max_size = (apr_off_t)pool_db_col_i64(r, i, 9);
    l->max_downloads = (int)pool_db_col_i64(r, i, 10);
    l->downloads = (int)pool_db_col_i64(r, i, 11);
    l->created_at = pool_db_col_time(p, r, i, 12);
    l->expires = apr_time_sec(pool_db_col_i64(r, i, 13));
    l->expires_at = pool_db_col_time(p, r, i, 13);
    l->revoked_at = pool_db_col_time(p, r, i, 14);
    l->used_at = pool_db_col_time(p, r, i, 15);
    l->uses = (int)pool_db_col_i64(r, i, 16);
    l->busy = pool_db_col_bool(r, i, 17);
    return l;
}

/* The one link row a statement returned: OK with *out, or NOTFOUND. */
static pool_db_rc one_link(apr_pool_t *p, PGresult *r, pool_clientlink_t **out)
{
    pool_db_rc rc = POOL_DB_NOTFOUND;

    if (PQntuples(r) == 1) {
        if (out) {
            *out = link_row(p, r, 0);
        }
        rc = POOL_DB_OK;
    }
    PQclear(r);
    return rc;
}

/* Runs sql, which returns a column per row it touched: *n of them. */
static pool_db_rc touch(apr_pool_t *p, PGconn *c, const char *what,
                        const char *sql, int nparams,
                        const char *const *params, int *n, const char **err)
{
    PGresult *r;
    pool_db_rc rc = pool_db_exec(p, c, what, sql, nparams, params, 1, &r,
                                 err);

    *n = 0;
    if (rc == POOL_DB_OK) {
        *n = PQntuples(r);
        PQclear(r);
    }
    return rc;
}

/* Why link id of pool admits nothing of kind (after the statement that
 * would have admitted it found no row): NOTFOUND, REFUSED with the reason
 * in *err, or CONFLICT (an upload another request holds; token: ours). */
static pool_db_rc why_not(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, const char *kind,
                          const char *token, const char **err)
{
    const char *params[3] = { pool, id, token };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "look at a link",
                      "SELECT l.kind, l.revoked_at IS NOT NULL,"
                      " l.expires_at <= now(), c.disabled_at IS NOT NULL,"
                      " l.used_at IS NOT NULL, l.downloads, "
                      CLAIM_LIVE " AND l.claim IS DISTINCT FROM $3"
                      LINK_FROM " WHERE p.name = $1 AND l.id = $2::uuid",
                      3, params, 7, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = POOL_DB_REFUSED;
    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), kind)) {
        *err = "this link does not exist (any more)";
        rc = POOL_DB_NOTFOUND;
    }
    else if (pool_db_col_bool(r, 0, 1)) {
        *err = "this link was revoked";
    }
    else if (pool_db_col_bool(r, 0, 2)) {
        *err = "this link has expired";
    }
    else if (pool_db_col_bool(r, 0, 3)) {
        *err = "the client that made this link is disabled";
    }
    else if (pool_db_col_bool(r, 0, 4)) {
        *err = "this link was used: its one upload is stored";
    }
    else if (!strcmp(kind, "download")) {
        /* still refused: what is left is its limit */
        *err = apr_psprintf(p, "this link is used up (%s downloads)",
                            PQgetvalue(r, 0, 5));
    }
    else {
        *err = pool_db_col_bool(r, 0, 6)
               ? "another upload through this link is in progress"
               : "this link changed meanwhile (another upload through it "
                 "started or ended): retry";
        rc = POOL_DB_CONFLICT;
    }
    PQclear(r);
    return rc;
}

/* ----------------------------------------------------------- the rows */

pool_db_rc pool_clientlink_create(apr_pool_t *p, PGconn *c,
                                  const pool_clientlink_t *in,
                                  pool_clientlink_t **out, const char **err)
{
    const char *params[11];
    pool_clientlink_t *l;
    pool_db_rc rc;

    params[0] = in->id;
    params[1] = in->client_id;
    params[2] = in->pool;
    params[3] = in->kind;
    params[4] = in->file_id;
    params[5] = in->name;
    params[6] = in->folder;
    params[7] = in->has_ts ? pool_db_i64(p, in->ts) : NULL;
    params[8] = in->max_size > 0 ? pool_db_i64(p, in->max_size) : NULL;
    params[9] = in->max_downloads > 0 ? apr_itoa(p, in->max_downloads) : NULL;
    params[10] = pool_db_i64(p, in->expires);
    /* the file must be one of the pool's (the caller has checked that the
     * creator may read it); a retried insert finds its row */
    rc = pool_db_exec0(p, c, "create a link",
            "INSERT INTO client_links (id, pool_id, client_id, kind, file_id,"
            " name, folder, ts, max_size, max_downloads, expires_at)"
            " SELECT $1::uuid, p.id, c.id, $4, $5::uuid, $6, $7, "
            POOL_SQL_FROM_US("$8") ", $9::bigint, $10::int,"
            " to_timestamp($11::bigint)"
            " FROM pools p JOIN clients c ON c.pool_id = p.id"
            " AND c.client_id = $2"
            " WHERE p.name = $3 AND ($5::uuid IS NULL OR EXISTS (SELECT 1"
            " FROM files f WHERE f.id = $5::uuid AND f.pool_id = p.id))"
            " ON CONFLICT (id) DO NOTHING",
            11, params, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = pool_clientlink_get(p, c, in->pool, in->id, &l, err);
    if (rc == POOL_DB_OK && strcmp(l->client_id, in->client_id)) {
        rc = POOL_DB_CONFLICT;          /* a uuid taken: never in practice */
        *err = "create a link: its id is taken";
    }
    if (rc == POOL_DB_OK && out) {
        *out = l;
    }
    return rc;
}

pool_db_rc pool_clientlink_get(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *id, pool_clientlink_t **out,
                               const char **err)
{
    const char *params[2] = { pool, id };
    PGresult *r;
    pool_db_rc rc;

    if (!pool_uuid_valid(id)) {
        *err = "no such link";
        return POOL_DB_NOTFOUND;
    }
    rc = pool_db_exec(p, c, "get a link",
                      "SELECT " LINK_COLS LINK_FROM
                      " WHERE p.name = $1 AND l.id = $2::uuid",
                      2, params, LINK_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if ((rc = one_link(p, r, out)) == POOL_DB_NOTFOUND) {
        *err = "no such link";
    }
    return rc;
}

pool_db_rc pool_clientlink_list(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *client_id, apr_int64_t after,
                                int limit, apr_array_header_t **out,
                                const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    if (limit < 1 || limit > POOL_CLIENTLINK_LIST_MAX) {
        limit = POOL_CLIENTLINK_LIST_MAX;
    }
    params[0] = pool;
    params[1] = client_id;
    params[2] = pool_db_i64(p, after);
    params[3] = apr_itoa(p, limit);
    rc = pool_db_exec(p, c, "list links",
                      "SELECT " LINK_COLS LINK_FROM
                      " WHERE p.name = $1"
                      " AND ($2::text IS NULL OR c.client_id = $2)"
                      " AND l.seq > $3::bigint ORDER BY l.seq LIMIT $4::int",
                      4, params, LINK_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *out = apr_array_make(p, n > 0 ? n : 1, sizeof(pool_clientlink_t *));
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*out, pool_clientlink_t *) = link_row(p, r, i);
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_clientlink_uses(apr_pool_t *p, PGconn *c, const char *id,
                                apr_array_header_t **out, const char **err)
{
    const char *params[1] = { id };
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    rc = pool_db_exec(p, c, "list a link's uses",
                      "SELECT " US("at") ", method, remote_addr, status,"
                      " bytes_sent, bytes_received FROM client_link_uses"
                      " WHERE link_id = $1::uuid ORDER BY id",
                      1, params, 6, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *out = apr_array_make(p, n > 0 ? n : 1, sizeof(pool_clientlink_use_t *));
    for (i = 0; i < n; i++) {
        pool_clientlink_use_t *u = apr_pcalloc(p, sizeof(*u));

        u->at = pool_db_col_time(p, r, i, 0);
        u->method = pool_db_col_str(p, r, i, 1);
        u->remote_addr = pool_db_col_str(p, r, i, 2);
        u->status = (int)pool_db_col_i64(r, i, 3);
        u->bytes_sent = (apr_off_t)pool_db_col_i64(r, i, 4);
        u->bytes_received = (apr_off_t)pool_db_col_i64(r, i, 5);
        APR_ARRAY_PUSH(*out, pool_clientlink_use_t *) = u;
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_clientlink_revoke(apr_pool_t *p, PGconn *c, const char *pool,
                                  const char *id, const char *client_id,
                                  const char **err)
{
    const char *params[3] = { pool, id, client_id };
    pool_db_rc rc;
    int n = 0;

    if (!pool_uuid_valid(id)) {
        *err = "no such link";
        return POOL_DB_NOTFOUND;
    }
    rc = touch(p, c, "revoke a link",
               "UPDATE client_links l"
               " SET revoked_at = coalesce(l.revoked_at, now())"
               LINK_JOIN " AND ($3::text IS NULL OR c.client_id = $3)"
               " RETURNING 1", 3, params, &n, err);
    if (rc == POOL_DB_OK && n != 1) {
        *err = "no such link";
        rc = POOL_DB_NOTFOUND;
    }
    return rc;
}

/* ----------------------------------------------- requests through links */

pool_db_rc pool_clientlink_admit(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *id, int count,
                                 pool_clientlink_t **out, const char **err)
{
    const char *params[2] = { pool, id };
    PGresult *r;
    pool_db_rc rc;

    if (!pool_uuid_valid(id)) {
        *err = "this link does not exist (any more)";
        return POOL_DB_NOTFOUND;
    }
    /* counted in the statement that checks: never past max_downloads */
    if (count) {
        rc = pool_db_exec(p, c, "count a download",
                          "UPDATE client_links l"
                          " SET downloads = l.downloads + 1" LINK_JOIN
                          LINK_WORKS " AND l.kind = 'download'"
                          " AND (l.max_downloads IS NULL"
                          "      OR l.downloads < l.max_downloads)"
                          " RETURNING " LINK_COLS,
                          2, params, LINK_NCOLS, &r, err);
    }
    else {
        rc = pool_db_exec(p, c, "check a download link",
                          "SELECT " LINK_COLS LINK_FROM
                          " WHERE p.name = $1 AND l.id = $2::uuid"
                          LINK_WORKS " AND l.kind = 'download'"
                          " AND (l.max_downloads IS NULL"
                          "      OR l.downloads < l.max_downloads)",
                          2, params, LINK_NCOLS, &r, err);
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (one_link(p, r, out) == POOL_DB_OK) {
        return POOL_DB_OK;
    }
    return why_not(p, c, pool, id, "download", NULL, err);
}

pool_db_rc pool_clientlink_refund(apr_pool_t *p, PGconn *c, const char *id,
                                  const char **err)
{
    const char *params[1] = { id };

    return pool_db_exec0(p, c, "give a download back",
                         "UPDATE client_links SET downloads = downloads - 1"
                         " WHERE id = $1::uuid AND downloads > 0",
                         1, params, err);
}

pool_db_rc pool_clientlink_claim(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *id, const char *token,
                                 pool_clientlink_t **out, const char **err)
{
    const char *params[3] = { pool, id, token };
    PGresult *r;
    pool_db_rc rc;

    if (!pool_uuid_valid(id)) {
        *err = "this link does not exist (any more)";
        return POOL_DB_NOTFOUND;
    }
    /* the row lock orders two claims: the second sees the first's */
    rc = pool_db_exec(p, c, "claim an upload link",
                      "UPDATE client_links l"
                      " SET claim = $3, claimed_at = now()" LINK_JOIN
                      LINK_WORKS " AND l.kind = 'upload' AND l.used_at IS NULL"
                      " AND NOT " CLAIM_LIVE
                      " RETURNING " LINK_COLS,
                      3, params, LINK_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (one_link(p, r, out) == POOL_DB_OK) {
        return POOL_DB_OK;
    }
    return why_not(p, c, pool, id, "upload", token, err);
}

pool_db_rc pool_clientlink_renew(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *id, const char *token,
                                 const char **err)
{
    const char *params[3] = { pool, id, token };
    pool_db_rc rc;
    int n = 0;

    /* a revocation, or its creator disabled, while the body arrived stops
     * the upload; its expiry does not (it was admitted in time) */
    rc = touch(p, c, "renew an upload link's claim",
               "UPDATE client_links l SET claimed_at = now()"
               LINK_JOIN " AND l.claim = $3 AND l.revoked_at IS NULL"
               " AND c.disabled_at IS NULL RETURNING 1", 3, params, &n, err);
    if (rc != POOL_DB_OK || n == 1) {
        return rc;
    }
    return why_not(p, c, pool, id, "upload", token, err);
}

pool_db_rc pool_clientlink_settle(apr_pool_t *p, PGconn *c, const char *id,
                                  const char *token, const char *file_id,
                                  const char **err)
{
    const char *params[3] = { id, token, file_id };
    pool_db_rc rc;
    int n = 0;

    rc = touch(p, c, "settle an upload link's claim",
               "UPDATE client_links SET claim = NULL, claimed_at = NULL,"
               " used_at = CASE WHEN $3::uuid IS NULL THEN NULL"
               "                ELSE now() END,"
               " file_id = $3::uuid"
               " WHERE id = $1::uuid AND claim = $2 RETURNING 1",
               3, params, &n, err);
    if (rc == POOL_DB_OK && n != 1 && file_id) {
        *err = "the upload link's claim was lost";
        rc = POOL_DB_CONFLICT;
    }
    return rc;
}

pool_db_rc pool_clientlink_use(apr_pool_t *p, PGconn *c, const char *id,
                               const pool_clientlink_use_t *u,
                               const char **err)
{
    const char *params[6];

    params[0] = id;
    params[1] = u->method;
    params[2] = u->remote_addr ? u->remote_addr : "";
    params[3] = apr_itoa(p, u->status);
    params[4] = pool_db_i64(p, u->bytes_sent);
    params[5] = pool_db_i64(p, u->bytes_received);
    /* the count of uses bounds them (a link lives at most 7 days, but a
     * refused upload may be retried at will) */
    return pool_db_exec0(p, c, "record a link's use",
            "WITH l AS (UPDATE client_links SET uses = uses + 1"
            " WHERE id = $1::uuid AND uses < "
            APR_STRINGIFY(POOL_CLIENTLINK_USES_MAX) " RETURNING id)"
            " INSERT INTO client_link_uses (link_id, method, remote_addr,"
            " status, bytes_sent, bytes_received)"
            " SELECT l.id, $2, $3, $4::int, $5::bigint, $6::bigint FROM l",
            6, params, err);
}

pool_db_rc pool_clientlinks_purge(apr_pool_t *p, PGconn *c, const char *pool,
                                  apr_int64_t keep, int *n, const char **err)
{
    const char *params[2];

    params[0] = pool;
    params[1] = pool_db_i64(p, keep);
    return touch(p, c, "purge old links",
                 "DELETE FROM client_links l USING pools p"
                 " WHERE p.id = l.pool_id"
                 " AND ($1::text IS NULL OR p.name = $1)"
                 " AND least(l.expires_at, l.revoked_at)"
                 "     < now() - $2::bigint * interval '1 second'"
                 " RETURNING 1", 2, params, n, err);
}

/* ----------------------------------------------------------------- JSON */

json_t *pool_clientlink_json(const pool_clientlink_t *l, apr_int64_t now)
{
    json_t *j = json_object();
    int upload = !strcmp(l->kind, "upload");
    const char *state = "active";

    if (l->revoked_at) {
        state = "revoked";
    }
    else if (l->used_at || (l->max_downloads > 0
                            && l->downloads >= l->max_downloads)) {
        state = "used";
    }
    else if (l->expires <= now) {
        state = "expired";
    }
    json_object_set_new(j, "id", json_string(l->id));
    json_object_set_new(j, "kind", json_string(l->kind));
    json_object_set_new(j, "client", json_string(l->client_id));
    json_object_set_new(j, "file_id", str_or_null(l->file_id));
    json_object_set_new(j, "state", json_string(state));
    json_object_set_new(j, "created_at", str_or_null(l->created_at));
    json_object_set_new(j, "expires_at", str_or_null(l->expires_at));
    json_object_set_new(j, "revoked_at", str_or_null(l->revoked_at));
    json_object_set_new(j, "use_count", json_integer(l->uses));
    if (upload) {
        json_object_set_new(j, "name", str_or_null(l->name));
        json_object_set_new(j, "folder", str_or_null(l->folder));
        json_object_set_new(j, "ts", str_or_null(l->ts_at));
        json_object_set_new(j, "max_size", json_integer(l->max_size));
        json_object_set_new(j, "used_at", str_or_null(l->used_at));
        json_object_set_new(j, "in_progress", json_boolean(l->busy));
    }
    else {
        json_object_set_new(j, "max_downloads", l->max_downloads > 0
                            ? json_integer(l->max_downloads) : json_null());
        json_object_set_new(j, "downloads", json_integer(l->downloads));
    }
    return j;
}

json_t *pool_clientlink_use_json(const pool_clientlink_use_t *u)
{
    json_t *j = json_object();

    json_object_set_new(j, "at", str_or_null(u->at));
    json_object_set_new(j, "method", json_string(u->method));
    json_object_set_new(j, "remote_addr", json_string(u->remote_addr
                                                      ? u->remote_addr : ""));
    json_object_set_new(j, "status", json_integer(u->status));
    json_object_set_new(j, "bytes_sent", json_integer(u->bytes_sent));
    json_object_set_new(j, "bytes_received", json_integer(u->bytes_received));
    return j;
}
