/* WebDAV locks of the view in PostgreSQL (sql/010). */
#include <string.h>

#include <apr_strings.h>

#include "pool_davlock.h"
#include "pool_util.h"
#include "pool_view.h"

#define exec pool_db_exec
#define exec0 pool_db_exec0

static void set_err(const char **err, const char *msg)
{
    if (err) {
        *err = msg;
    }
}

apr_int64_t pool_davlock_timeout(apr_int64_t requested)
{
    if (requested <= 0 || requested > POOL_DAVLOCK_TIMEOUT_MAX) {
        return POOL_DAVLOCK_TIMEOUT_MAX;
    }
    if (requested < POOL_DAVLOCK_TIMEOUT_MIN) {
        return POOL_DAVLOCK_TIMEOUT_MIN;
    }
    return requested;
}

int pool_davlock_covers(const char *lock_path, int infinite, const char *path)
{
    size_t n = strlen(lock_path);

    if (!strcmp(lock_path, path)) {
        return 1;
    }
    if (!infinite) {
        return 0;
    }
    if (!strcmp(lock_path, "/")) {
        return 1;
    }
    return !strncmp(lock_path, path, n) && path[n] == '/';
}

/* ---- parameters */

/* Paths come from the module in normal form; anything else is refused
 * rather than stored (a stray "//" would never match its ancestors). */
static int path_ok(apr_pool_t *p, const char *path)
{
    const char *norm;

    return path && !pool_view_path_check(p, path, &norm)
           && !strcmp(norm, path);
}

/* The text[] parameter of path and its ancestors: {"/","/a","/a/b"}. */
static const char *ancestors(apr_pool_t *p, const char *path)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));
    const char *s;

    APR_ARRAY_PUSH(a, const char *) = "/";
    for (s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(p, path, s - path);
    }
    if (strcmp(path, "/")) {
        APR_ARRAY_PUSH(a, const char *) = path;
    }
    return pool_db_array(p, (const char *const *)a->elts, a->nelts);
}

/* What every path under path starts with. */
static const char *subtree(apr_pool_t *p, const char *path)
{
    return strcmp(path, "/") ? apr_pstrcat(p, path, "/", NULL) : "/";
}

/* ---- rows */

#define LOCK_NCOLS 7
#define LOCK_COLS(l) \
    l ".token::text, " l ".path, " l ".exclusive, " l ".infinite, " \
    l ".owner, " l ".auth_user, " \
    "greatest(0, ceil(extract(epoch from " l ".expires_at - now())))::bigint"

/* The lock `path` covers, and only live ones. */
#define COVERING(l) \
    l ".path = ANY($2::text[]) AND (" l ".path = $3 OR " l ".infinite)" \
    " AND " l ".expires_at > now()"

static pool_davlock_t *row(apr_pool_t *p, const PGresult *r, int i)
{
    pool_davlock_t *l = apr_pcalloc(p, sizeof(*l));

    l->token = pool_db_col_str(p, r, i, 0);
    l->path = pool_db_col_str(p, r, i, 1);
    l->exclusive = pool_db_col_bool(r, i, 2);
    l->infinite = pool_db_col_bool(r, i, 3);
    l->owner = pool_db_col_str(p, r, i, 4);
    l->auth_user = pool_db_col_str(p, r, i, 5);
    l->remaining = pool_db_col_i64(r, i, 6);
    return l;
}

static apr_array_header_t *rows(apr_pool_t *p, PGresult *r)
{
    int i, n = PQntuples(r);
    apr_array_header_t *a = apr_array_make(p, n > 0 ? n : 1,
                                           sizeof(pool_davlock_t *));

    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(a, pool_davlock_t *) = row(p, r, i);
    }
    PQclear(r);
    return a;
}

/* ---- reading */

pool_db_rc pool_davlock_covering(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *path, apr_array_header_t **out,
                                 const char **err)
{
    const char *params[3];
    PGresult *r;
    pool_db_rc rc;

    *out = NULL;
    if (!path_ok(p, path)) {
        set_err(err, "dav locks: malformed path");
        return POOL_DB_ERROR;
    }
    params[0] = pool;
    params[1] = ancestors(p, path);
    params[2] = path;
    rc = exec(p, c, "dav locks of a path",
              "SELECT " LOCK_COLS("l") " FROM dav_locks l"
              " JOIN pools p ON p.id = l.pool_id"
              " WHERE p.name = $1 AND " COVERING("l")
              " ORDER BY l.path, l.created_at, l.token",
              3, params, LOCK_NCOLS, &r, err);
    if (rc == POOL_DB_OK) {
        *out = rows(p, r);
    }
    return rc;
}

pool_db_rc pool_davlock_find(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *path, const char *token,
                             pool_davlock_t **out, const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;

    *out = NULL;
    if (!path_ok(p, path)) {
        set_err(err, "dav locks: malformed path");
        return POOL_DB_ERROR;
    }
    if (!pool_uuid_valid(token)) {
        return POOL_DB_NOTFOUND;        /* no such token can exist */
    }
    params[0] = pool;
    params[1] = ancestors(p, path);
    params[2] = path;
    params[3] = token;
    rc = exec(p, c, "find a dav lock",
              "SELECT " LOCK_COLS("l") " FROM dav_locks l"
              " JOIN pools p ON p.id = l.pool_id"
              " WHERE p.name = $1 AND " COVERING("l")
              " AND l.token = $4::uuid",
              4, params, LOCK_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return POOL_DB_NOTFOUND;
    }
    *out = row(p, r, 0);
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_davlock_list(apr_pool_t *p, PGconn *c, const char *pool,
                             int limit, apr_array_header_t **out, int *more,
                             const char **err)
{
    const char *params[2];
    PGresult *r;
    pool_db_rc rc;

    *out = NULL;
    *more = 0;
    if (limit < 1) {
        limit = 1;
    }
    params[0] = pool;
    params[1] = apr_itoa(p, limit + 1);
    rc = exec(p, c, "dav locks of a pool",
              "SELECT " LOCK_COLS("l") " FROM dav_locks l"
              " JOIN pools p ON p.id = l.pool_id"
              " WHERE p.name = $1 AND l.expires_at > now()"
              " ORDER BY l.path, l.created_at, l.token LIMIT $2::int",
              2, params, LOCK_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *out = rows(p, r);
    if ((*out)->nelts > limit) {
        (*out)->nelts = limit;
        *more = 1;
    }
    return POOL_DB_OK;
}

/* ---- taking a lock */

/* The pool's id, with the pool's advisory lock held to the end of the
 * transaction: two nodes taking locks in one pool check and insert one
 * after the other, never both on the same snapshot. */
static pool_db_rc lock_pool(apr_pool_t *p, PGconn *c, const char *pool,
                            const char **id, const char **err)
{
    const char *params[1] = { pool };
    PGresult *r;
    pool_db_rc rc;

    rc = exec(p, c, "lock the pool's dav locks",
              "SELECT p.id::text,"
              " pg_advisory_xact_lock("
              "hashtextextended('dav_locks/' || p.id, 10))"
              " FROM pools p WHERE p.name = $1",
              1, params, 2, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "no pool %s", pool));
        return POOL_DB_NOTFOUND;
    }
    *id = pool_db_col_str(p, r, 0, 0);
    PQclear(r);
    return POOL_DB_OK;
}

/* A retried create whose first attempt committed finds its own row. */
static pool_db_rc already_taken(apr_pool_t *p, PGconn *c, const char *pool_id,
                                const pool_davlock_t *l,
                                pool_davlock_t **out, const char **err)
{
    const char *params[1] = { l->token };
    PGresult *r;
    pool_db_rc rc;

    rc = exec(p, c, "find a dav lock token",
              "SELECT " LOCK_COLS("l") ", l.pool_id::text FROM dav_locks l"
              " WHERE l.token = $1::uuid",
              1, params, LOCK_NCOLS + 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return POOL_DB_NOTFOUND;
    }
    *out = row(p, r, 0);
    if (strcmp(PQgetvalue(r, 0, LOCK_NCOLS), pool_id)
        || strcmp((*out)->path, l->path)) {
        PQclear(r);
        *out = NULL;
        set_err(err, "dav lock token already in use");
        return POOL_DB_ERROR;
    }
    PQclear(r);
    return POOL_DB_OK;
}

/* Expired locks of the pool go, then the count of the rest is checked. */
static pool_db_rc purge_and_count(apr_pool_t *p, PGconn *c,
                                  const char *pool_id, const char **err)
{
    const char *params[1] = { pool_id };
    PGresult *r;
    pool_db_rc rc;
    apr_int64_t n;

    rc = exec0(p, c, "purge expired dav locks",
               "DELETE FROM dav_locks WHERE pool_id = $1::bigint"
               " AND expires_at <= now()", 1, params, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = exec(p, c, "count dav locks",
              "SELECT count(*) FROM dav_locks WHERE pool_id = $1::bigint",
              1, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = pool_db_col_i64(r, 0, 0);
    PQclear(r);
    if (n >= POOL_DAVLOCK_POOL_MAX) {
        set_err(err, apr_psprintf(p, "the pool holds %d WebDAV locks, the "
                                  "most it may", POOL_DAVLOCK_POOL_MAX));
        return POOL_DB_REFUSED;
    }
    return POOL_DB_OK;
}

/* The live locks that apply to l's path and, when l has depth infinity,
 * those taken under it: l conflicts with any of them when exclusive, with
 * an exclusive one when shared.  Refusing a lock when POOL_DAVLOCK_PATH_MAX
 * of them are there bounds the locks that apply to any path: of the locks
 * on a path, the last one taken saw all the others in this set. */
static pool_db_rc conflict(apr_pool_t *p, PGconn *c, const char *pool_id,
                           const pool_davlock_t *l, const char **err)
{
    const char *params[5];
    PGresult *r;
    pool_db_rc rc;
    apr_int64_t n, exclusive;

    params[0] = pool_id;
    params[1] = ancestors(p, l->path);
    params[2] = l->path;
    params[3] = l->infinite ? "t" : "f";
    params[4] = subtree(p, l->path);
    rc = exec(p, c, "check dav lock conflicts",
              "SELECT count(*), count(*) FILTER (WHERE l.exclusive),"
              " coalesce(min(l.path) FILTER (WHERE l.exclusive), min(l.path))"
              " FROM dav_locks l"
              " WHERE l.pool_id = $1::bigint AND l.expires_at > now()"
              " AND ((l.path = ANY($2::text[])"
              " AND (l.path = $3 OR l.infinite))"
              " OR ($4::boolean"
              " AND left(l.path, length($5::text)) = $5::text))",
              5, params, 3, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = pool_db_col_i64(r, 0, 0);
    exclusive = pool_db_col_i64(r, 0, 1);
    if (exclusive > 0 || (n > 0 && l->exclusive)) {
        set_err(err, apr_psprintf(p, "%s is locked (%s lock on %s)", l->path,
                                  exclusive ? "an exclusive" : "a shared",
                                  PQgetvalue(r, 0, 2)));
        rc = POOL_DB_CONFLICT;
    }
    else if (n >= POOL_DAVLOCK_PATH_MAX) {
        set_err(err, apr_psprintf(p, "%d locks apply to %s already, the "
                                  "most there may be", POOL_DAVLOCK_PATH_MAX,
                                  l->path));
        rc = POOL_DB_CONFLICT;
    }
    PQclear(r);
    return rc;
}

static pool_db_rc insert(apr_pool_t *p, PGconn *c, const char *pool_id,
                         const pool_davlock_t *l, apr_int64_t timeout,
                         pool_davlock_t **out, const char **err)
{
    const char *params[8];
    PGresult *r;
    pool_db_rc rc;

    params[0] = l->token;
    params[1] = pool_id;
    params[2] = l->path;
    params[3] = l->exclusive ? "t" : "f";
    params[4] = l->infinite ? "t" : "f";
    params[5] = l->owner;
    params[6] = l->auth_user;
    params[7] = pool_db_i64(p, pool_davlock_timeout(timeout));
    rc = exec(p, c, "take a dav lock",
              "INSERT INTO dav_locks AS l (token, pool_id, path, exclusive,"
              " infinite, owner, auth_user, expires_at)"
              " VALUES ($1::uuid, $2::bigint, $3, $4::boolean, $5::boolean,"
              " $6, $7, now() + $8::bigint * interval '1 second')"
              " RETURNING " LOCK_COLS("l"),
              8, params, LOCK_NCOLS, &r, err);
    if (rc == POOL_DB_OK) {
        *out = row(p, r, 0);
        PQclear(r);
    }
    return rc;
}

static const char *check_new(apr_pool_t *p, const pool_davlock_t *l)
{
    if (!pool_uuid_valid(l->token)) {
        return "dav locks: malformed token";
    }
    if (!path_ok(p, l->path)) {
        return "dav locks: malformed path";
    }
    if (l->owner && strlen(l->owner) > POOL_DAVLOCK_OWNER_MAX) {
        return "dav locks: the lock owner is too long";
    }
    if (l->auth_user && strlen(l->auth_user) > POOL_DAVLOCK_AUTH_USER_MAX) {
        return "dav locks: the user name is too long";
    }
    return NULL;
}

pool_db_rc pool_davlock_create(apr_pool_t *p, PGconn *c, const char *pool,
                               const pool_davlock_t *l, apr_int64_t timeout,
                               pool_davlock_t **out, const char **err)
{
    const char *why = check_new(p, l), *pool_id = NULL;
    pool_db_rc rc;

    *out = NULL;
    if (why) {
        set_err(err, why);
        return POOL_DB_ERROR;
    }
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = lock_pool(p, c, pool, &pool_id, err);
    if (rc == POOL_DB_OK) {
        rc = already_taken(p, c, pool_id, l, out, err);
        if (rc != POOL_DB_NOTFOUND) {
            return pool_db_end(p, c, rc, err);
        }
        rc = purge_and_count(p, c, pool_id, err);
    }
    if (rc == POOL_DB_OK) {
        rc = conflict(p, c, pool_id, l, err);
    }
    if (rc == POOL_DB_OK) {
        rc = insert(p, c, pool_id, l, timeout, out, err);
    }
    return pool_db_end(p, c, rc, err);
}

/* ---- refreshing and removing */

pool_db_rc pool_davlock_refresh(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *path,
                                const apr_array_header_t *tokens,
                                apr_int64_t timeout, apr_array_header_t **out,
                                const char **err)
{
    apr_array_header_t *valid;
    const char *params[5];
    PGresult *r;
    pool_db_rc rc;
    int i;

    *out = apr_array_make(p, 1, sizeof(pool_davlock_t *));
    if (!path_ok(p, path)) {
        set_err(err, "dav locks: malformed path");
        return POOL_DB_ERROR;
    }
    if (tokens->nelts > POOL_DAVLOCK_TOKENS_MAX) {
        set_err(err, "dav locks: too many lock tokens");
        return POOL_DB_ERROR;
    }
    valid = apr_array_make(p, tokens->nelts + 1, sizeof(const char *));
    for (i = 0; i < tokens->nelts; i++) {
        const char *t = APR_ARRAY_IDX(tokens, i, const char *);
        if (pool_uuid_valid(t)) {       /* others match nothing */
            APR_ARRAY_PUSH(valid, const char *) = t;
        }
    }
    if (valid->nelts == 0) {
        return POOL_DB_OK;
    }
    params[0] = pool;
    params[1] = ancestors(p, path);
    params[2] = path;
    params[3] = pool_db_uuid_array(p, valid);
    params[4] = pool_db_i64(p, pool_davlock_timeout(timeout));
    rc = exec(p, c, "refresh dav locks",
              "UPDATE dav_locks l"
              " SET expires_at = now() + $5::bigint * interval '1 second'"
              " FROM pools p WHERE p.id = l.pool_id AND p.name = $1"
              " AND " COVERING("l") " AND l.token = ANY($4::uuid[])"
              " RETURNING " LOCK_COLS("l"),
              5, params, LOCK_NCOLS, &r, err);
    if (rc == POOL_DB_OK) {
        *out = rows(p, r);
    }
    return rc;
}

pool_db_rc pool_davlock_remove(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *path, const char *token,
                               int *removed, const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;

    *removed = 0;
    if (!path_ok(p, path)) {
        set_err(err, "dav locks: malformed path");
        return POOL_DB_ERROR;
    }
    if (!pool_uuid_valid(token)) {
        return POOL_DB_OK;
    }
    params[0] = pool;
    params[1] = ancestors(p, path);
    params[2] = path;
    params[3] = token;
    /* expired or not: an expired row is garbage either way */
    rc = exec(p, c, "remove a dav lock",
              "DELETE FROM dav_locks l USING pools p"
              " WHERE p.id = l.pool_id AND p.name = $1"
              " AND l.path = ANY($2::text[]) AND (l.path = $3 OR l.infinite)"
              " AND l.token = $4::uuid RETURNING 1",
              4, params, 1, &r, err);
    if (rc == POOL_DB_OK) {
        *removed = PQntuples(r);
        PQclear(r);
    }
    return rc;
}

pool_db_rc pool_davlock_remove_tree(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *path,
                                    int *removed, const char **err)
{
    const char *params[3];
    PGresult *r;
    pool_db_rc rc;

    *removed = 0;
    if (!path_ok(p, path)) {
        set_err(err, "dav locks: malformed path");
        return POOL_DB_ERROR;
    }
    params[0] = pool;
    params[1] = path;
    params[2] = subtree(p, path);
    rc = exec(p, c, "remove the dav locks of a tree",
              "DELETE FROM dav_locks l USING pools p"
              " WHERE p.id = l.pool_id AND p.name = $1"
              " AND (l.path = $2 OR left(l.path, length($3::text)) = $3::text)"
              " RETURNING 1",
              3, params, 1, &r, err);
    if (rc == POOL_DB_OK) {
        *removed = PQntuples(r);
        PQclear(r);
    }
    return rc;
}

/* ---- lock-null resources */

static int in_results(const char *path)
{
    size_t n = strlen(POOL_VIEW_RESULTS);

    return !strncmp(path, POOL_VIEW_RESULTS, n)
           && (path[n] == '\0' || path[n] == '/');
}

pool_db_rc pool_davlock_locknull_names(apr_pool_t *p, PGconn *c,
                                       const char *pool, const char *folder,
                                       apr_array_header_t **out,
                                       const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    *out = apr_array_make(p, 4, sizeof(const char *));
    if (!path_ok(p, folder)) {
        set_err(err, "dav locks: malformed path");
        return POOL_DB_ERROR;
    }
    if (in_results(folder)) {
        return POOL_DB_OK;
    }
    params[0] = pool;
    params[1] = subtree(p, folder);
    params[2] = folder;
    params[3] = apr_itoa(p, POOL_DAVLOCK_POOL_MAX);
    /* the name is what follows the folder's path and holds no '/'; the
     * view has nothing there: no folder at the path, no file of the view
     * by that name in the folder (the root's results/ always exists) */
    rc = exec(p, c, "lock-null resources of a folder",
              "SELECT DISTINCT"
              " substr(l.path, length($2::text) + 1) COLLATE \"C\""
              " FROM dav_locks l JOIN pools p ON p.id = l.pool_id"
              " WHERE p.name = $1 AND l.expires_at > now()"
              " AND l.path <> '/' AND l.path <> '/results'"
              " AND left(l.path, length($2::text)) = $2::text"
              " AND strpos(substr(l.path, length($2::text) + 1), '/') = 0"
              " AND NOT EXISTS (SELECT 1 FROM folders d"
              " WHERE d.pool_id = l.pool_id AND d.path = l.path)"
              " AND NOT EXISTS (SELECT 1 FROM files f"
              " JOIN folders d ON d.id = f.folder_id"
              " WHERE d.pool_id = l.pool_id AND d.path = $3 AND f.in_view"
              " AND f.name = substr(l.path, length($2::text) + 1))"
              " ORDER BY 1 LIMIT $4::int",
              4, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*out, const char *) = pool_db_col_str(p, r, i, 0);
    }
    PQclear(r);
    return POOL_DB_OK;
}

/* ---- expiry */

pool_db_rc pool_davlock_purge(apr_pool_t *p, PGconn *c, const char *pool,
                              int *purged, const char **err)
{
    const char *params[1] = { pool };
    PGresult *r;
    pool_db_rc rc;

    *purged = 0;
    if (pool) {
        rc = exec(p, c, "purge a pool's expired dav locks",
                  "DELETE FROM dav_locks l USING pools p"
                  " WHERE p.id = l.pool_id AND p.name = $1"
                  " AND l.expires_at <= now() RETURNING 1",
                  1, params, 1, &r, err);
    }
    else {
        rc = exec(p, c, "purge expired dav locks",
                  "DELETE FROM dav_locks WHERE expires_at <= now()"
                  " RETURNING 1", 0, NULL, 1, &r, err);
    }
    if (rc == POOL_DB_OK) {
        *purged = PQntuples(r);
        PQclear(r);
    }
    return rc;
}
