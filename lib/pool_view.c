/* The pool's tree: folders, the files of the view, results/ (sql/009). */
#include <string.h>

#include <apr_strings.h>

#include "pool_name.h"
#include "pool_view.h"

#define US POOL_SQL_US
#define exec0 pool_db_exec0

static void set_err(const char **err, const char *msg)
{
    if (err) {
        *err = msg;
    }
}

const char *pool_view_path_check(apr_pool_t *p, const char *path,
                                 const char **norm)
{
    size_t n;
    char *copy, *seg, *next;
    int depth = 0;

    if (!path) {
        return "no path";
    }
    n = strlen(path);
    if (n > POOL_VIEW_PATH_MAX) {
        return "the path is too long";
    }
    if (n == 0 || !strcmp(path, "/")) {
        *norm = "/";
        return NULL;
    }
    if (path[0] != '/') {
        return "the path must start with /";
    }
    copy = apr_pstrmemdup(p, path, n);
    if (copy[n - 1] == '/') {
        copy[--n] = '\0';
    }
    for (seg = copy + 1; seg; seg = next) {
        const char *why;
        char *slash = strchr(seg, '/');

        next = slash ? slash + 1 : NULL;
        if (slash) {
            *slash = '\0';
        }
        if (!*seg) {
            return "the path has an empty name (//)";
        }
        if ((why = pool_name_check(seg)) != NULL) {
            return apr_psprintf(p, "a name in the path: %s", why);
        }
        if (++depth > POOL_VIEW_DEPTH_MAX) {
            return "the path is too deep";
        }
        if (slash) {
            *slash = '/';
        }
    }
    *norm = copy;
    return NULL;
}

const char *pool_view_parent(apr_pool_t *p, const char *path)
{
    const char *slash;

    if (!path || !strcmp(path, "/")) {
        return NULL;
    }
    slash = strrchr(path, '/');
    if (!slash || slash == path) {
        return "/";
    }
    return apr_pstrmemdup(p, path, slash - path);
}

const char *pool_view_basename(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;

    return slash ? slash + 1 : (path ? path : "");
}

/* ---- reading */

/* The columns of an entry, kind first ('d' folder, 'f' file, 'p' a pool
 * whose root has no row yet, 'r' a result). */
#define ENTRY_NCOLS 13

#define FOLDER_SIZES(d) \
    d ".bytes + coalesce((SELECT sum(x.bytes) FROM folder_deltas x" \
    " WHERE x.folder_id = " d ".id), 0), " \
    d ".files + coalesce((SELECT sum(x.files) FROM folder_deltas x" \
    " WHERE x.folder_id = " d ".id), 0)"

#define FOLDER_COLS(d) \
    "'d', " d ".id, NULL, NULL, 0, NULL, NULL, " US(d ".created_at") ", " \
    US(d ".modified_at") ", 0, " FOLDER_SIZES(d) ", " \
    "regexp_replace(" d ".path, '^.*/', '') AS name"

/* the same, sizes not computed (-1): a path lookup that does not show
 * them need not sum the folder's unfolded deltas */
#define FOLDER_COLS_UNSIZED(d) \
    "'d', " d ".id, NULL, NULL, 0, NULL, NULL, " US(d ".created_at") ", " \
    US(d ".modified_at") ", 0, -1, -1, " \
    "regexp_replace(" d ".path, '^.*/', '') AS name"

#define FILE_COLS(f) \
    "'f', " f ".folder_id, " f ".id::text, c.client_id, " f ".size, " \
    f ".sha256, " f ".content_type, " US(f ".received_at") ", " \
    US(f ".received_at") ", " US(f ".ts") ", 0, 0, " f ".name AS name"

static pool_view_entry_t *entry_row(apr_pool_t *p, const PGresult *r,
                                    int row, const char *parent)
{
    pool_view_entry_t *e = apr_pcalloc(p, sizeof(*e));
    const char *kind = PQgetvalue(r, row, 0);

    e->kind = kind[0] == 'f' ? POOL_VIEW_FILE
            : kind[0] == 'r' ? POOL_VIEW_RESULT : POOL_VIEW_FOLDER;
    e->folder_id = pool_db_col_i64(r, row, 1);
    e->id = pool_db_col_str(p, r, row, 2);
    e->client_id = pool_db_col_str(p, r, row, 3);
    e->size = (apr_off_t)pool_db_col_i64(r, row, 4);
    e->sha256 = pool_db_col_str(p, r, row, 5);
    e->content_type = pool_db_col_str(p, r, row, 6);
    e->created = (apr_time_t)pool_db_col_i64(r, row, 7);
    e->modified = (apr_time_t)pool_db_col_i64(r, row, 8);
    e->ts = (apr_time_t)pool_db_col_i64(r, row, 9);
    e->bytes = pool_db_col_i64(r, row, 10);
    e->files = pool_db_col_i64(r, row, 11);
    e->name = pool_db_col_str(p, r, row, 12);
    if (!e->name) {
        e->name = "";
    }
    if (parent) {
        e->path = *e->name ? apr_pstrcat(p, strcmp(parent, "/") ? parent : "",
                                         "/", e->name, NULL)
                           : parent;
    }
    return e;
}

static pool_db_rc lookup_result(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *name, pool_view_entry_t **out,
                                const char **err)
{
    const char *params[2] = { pool, name };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "look up result",
                      "SELECT 'r', 0, s.id::text, NULL, s.size, s.sha256,"
                      " s.content_type, " US("s.published_at") ", "
                      US("s.published_at") ", 0, 0, 0, s.path_name"
                      " FROM results s JOIN pools p ON p.id = s.pool_id"
                      " WHERE p.name = $1 AND s.path_name = $2"
                      " AND s.seq IS NOT NULL",
                      2, params, ENTRY_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) < 1) {
        PQclear(r);
        set_err(err, "no such result");
        return POOL_DB_NOTFOUND;
    }
    *out = entry_row(p, r, 0, POOL_VIEW_RESULTS);
    PQclear(r);
    return POOL_DB_OK;
}

static pool_db_rc pool_exists(apr_pool_t *p, PGconn *c, const char *pool,
                              const char **err)
{
    const char *params[1] = { pool };
    PGresult *r;
    pool_db_rc rc = pool_db_exec(p, c, "look up pool",
                                 "SELECT 1 FROM pools WHERE name = $1",
                                 1, params, 1, &r, err);

    if (rc == POOL_DB_OK) {
        rc = PQntuples(r) == 1 ? POOL_DB_OK : POOL_DB_NOTFOUND;
        PQclear(r);
    }
    if (rc == POOL_DB_NOTFOUND) {
        set_err(err, "no such pool");
    }
    return rc;
}

/* What is at path (whose parent folder is at parent and whose last
 * segment is base; each a parameter number) in the pool named by $1: a
 * folder, a file in the view, or the root of a pool that has no folder
 * row yet; the first of them (one row at most). */
#define LOOKUP_AT(folder_cols, path, parent, base) \
    "SELECT " folder_cols " FROM folders d" \
    " JOIN pools p ON p.id = d.pool_id" \
    " WHERE p.name = $1 AND d.path = " path \
    " UNION ALL" \
    " SELECT " FILE_COLS("f") " FROM files f" \
    " JOIN folders d ON d.id = f.folder_id" \
    " JOIN pools p ON p.id = d.pool_id" \
    " JOIN clients c ON c.id = f.client_id" \
    " WHERE p.name = $1 AND d.path = " parent " AND f.name = " base \
    " AND f.in_view" \
    " UNION ALL" \
    " SELECT 'p', 0, NULL, NULL, 0, NULL, NULL, " \
    US("p.created_at") ", " US("p.created_at") ", 0, 0, 0," \
    " '' FROM pools p WHERE p.name = $1 AND " path " = '/'" \
    " ORDER BY 1 LIMIT 1"

static pool_db_rc lookup(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *path, int sized,
                         pool_view_entry_t **out, const char **err)
{
    const char *params[4];
    const char *parent = pool_view_parent(p, path);
    PGresult *r;
    pool_db_rc rc;
    pool_view_entry_t *e;

    if (!strcmp(path, POOL_VIEW_RESULTS)) {
        if ((rc = pool_exists(p, c, pool, err)) != POOL_DB_OK) {
            return rc;
        }
        e = apr_pcalloc(p, sizeof(*e));
        e->kind = POOL_VIEW_RESULTS_FOLDER;
        e->path = POOL_VIEW_RESULTS;
        e->name = "results";
        e->created = e->modified = apr_time_now();
        *out = e;
        return POOL_DB_OK;
    }
    if (parent && !strcmp(parent, POOL_VIEW_RESULTS)) {
        return lookup_result(p, c, pool, pool_view_basename(path), out, err);
    }
    if (!strncmp(path, POOL_VIEW_RESULTS "/", sizeof(POOL_VIEW_RESULTS))) {
        set_err(err, "not found");
        return POOL_DB_NOTFOUND;
    }
    params[0] = pool;
    params[1] = path;
    params[2] = parent;
    params[3] = pool_view_basename(path);
#define LOOKUP_SQL(folder_cols) LOOKUP_AT(folder_cols, "$2", "$3", "$4")
    rc = pool_db_exec(p, c, "look up path",
                      sized ? LOOKUP_SQL(FOLDER_COLS("d"))
                            : LOOKUP_SQL(FOLDER_COLS_UNSIZED("d")),
                      4, params, ENTRY_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) < 1) {
        PQclear(r);
        set_err(err, "not found");
        return POOL_DB_NOTFOUND;
    }
    e = entry_row(p, r, 0, NULL);
    e->path = path;
    e->name = parent ? pool_view_basename(path) : "";
    PQclear(r);
    *out = e;
    return POOL_DB_OK;
}

pool_db_rc pool_view_lookup(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *path, pool_view_entry_t **out,
                            const char **err)
{
    return lookup(p, c, pool, path, 1, out, err);
}

pool_db_rc pool_view_locate(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *path, pool_view_entry_t **out,
                            const char **err)
{
    return lookup(p, c, pool, path, 0, out, err);
}

/* The entry rows of a located resource, its parent, and a row when the
 * pool has live locks: told apart by a last column (0, 1, 2). */
#define LOCATE_NCOLS (ENTRY_NCOLS + 1)

static pool_db_rc locate_both(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *path, const char *parent,
                              pool_view_locate_t *out, const char **err)
{
    const char *grand = pool_view_parent(p, parent);
    const char *params[6];
    PGresult *r;
    pool_db_rc rc;
    int i;

    params[0] = pool;
    params[1] = path;
    params[2] = parent;
    params[3] = pool_view_basename(path);
    params[4] = grand;
    params[5] = grand ? pool_view_basename(parent) : "";
    rc = pool_db_exec(p, c, "look up path and parent",
                      "SELECT *, 0 FROM ("
                      LOOKUP_AT(FOLDER_COLS_UNSIZED("d"), "$2", "$3", "$4")
                      ") a UNION ALL SELECT *, 1 FROM ("
                      LOOKUP_AT(FOLDER_COLS_UNSIZED("d"), "$3", "$5", "$6")
                      ") b UNION ALL (SELECT 'l', 0, NULL, NULL, 0, NULL,"
                      " NULL, 0, 0, 0, 0, 0, NULL, 2 FROM dav_locks l"
                      " JOIN pools p ON p.id = l.pool_id"
                      " WHERE p.name = $1 AND l.expires_at > now() LIMIT 1)",
                      6, params, LOCATE_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    for (i = 0; i < PQntuples(r); i++) {
        apr_int64_t which = pool_db_col_i64(r, i, ENTRY_NCOLS);
        pool_view_entry_t *e;

        if (which == 2) {
            out->locks = 1;
            continue;
        }
        e = entry_row(p, r, i, NULL);
        e->path = which ? parent : path;
        e->name = which ? (grand ? pool_view_basename(parent) : "")
                        : pool_view_basename(path);
        if (which) {
            out->parent = e;
        }
        else {
            out->e = e;
        }
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_view_locate_for_write(apr_pool_t *p, PGconn *c,
                                      const char *pool, const char *path,
                                      pool_view_locate_t *out,
                                      const char **err)
{
    const char *parent = pool_view_parent(p, path);
    pool_db_rc rc;

    memset(out, 0, sizeof(*out));
    if (parent && strcmp(path, POOL_VIEW_RESULTS)
        && strncmp(path, POOL_VIEW_RESULTS "/", sizeof(POOL_VIEW_RESULTS))) {
        return locate_both(p, c, pool, path, parent, out, err);
    }
    /* "/", results/ and what is in it: looked up one by one, and the
     * pool's locks are not known */
    out->locks = 1;
    rc = lookup(p, c, pool, path, 0, &out->e, err);
    if (rc == POOL_DB_NOTFOUND) {
        out->e = NULL;
    }
    else if (rc != POOL_DB_OK) {
        return rc;
    }
    if (parent) {
        rc = lookup(p, c, pool, parent, 0, &out->parent, err);
        if (rc == POOL_DB_NOTFOUND) {
            out->parent = NULL;
        }
        else if (rc != POOL_DB_OK) {
            return rc;
        }
    }
    return POOL_DB_OK;
}

pool_db_rc pool_view_folder_size(apr_pool_t *p, PGconn *c,
                                 pool_view_entry_t *e, const char **err)
{
    const char *params[1];
    PGresult *r;
    pool_db_rc rc;

    if (e->kind != POOL_VIEW_FOLDER || !e->folder_id) {
        e->bytes = e->files = 0;
        return POOL_DB_OK;
    }
    params[0] = pool_db_i64(p, e->folder_id);
    rc = pool_db_exec(p, c, "folder size",
                      "SELECT " FOLDER_SIZES("d") " FROM folders d"
                      " WHERE d.id = $1::bigint", 1, params, 2, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) == 1) {
        e->bytes = pool_db_col_i64(r, 0, 0);
        e->files = pool_db_col_i64(r, 0, 1);
    }
    PQclear(r);
    return POOL_DB_OK;
}

static pool_db_rc list_results(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *after, int limit,
                               apr_array_header_t *out, const char **err)
{
    const char *params[3] = { pool, after ? after : "",
                              limit > 0 ? apr_itoa(p, limit) : NULL };
    PGresult *r;
    pool_db_rc rc;
    int i;

    rc = pool_db_exec(p, c, "list results",
                      "SELECT 'r', 0, s.id::text, NULL, s.size, s.sha256,"
                      " s.content_type, " US("s.published_at") ", "
                      US("s.published_at") ", 0, 0, 0, s.path_name"
                      " FROM results s JOIN pools p ON p.id = s.pool_id"
                      " WHERE p.name = $1 AND s.seq IS NOT NULL"
                      " AND s.path_name COLLATE \"C\" > $2"
                      " ORDER BY s.path_name COLLATE \"C\" LIMIT $3::int",
                      3, params, ENTRY_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    for (i = 0; i < PQntuples(r); i++) {
        APR_ARRAY_PUSH(out, pool_view_entry_t *) =
            entry_row(p, r, i, POOL_VIEW_RESULTS);
    }
    PQclear(r);
    return POOL_DB_OK;
}

/* The root's results/ entry. */
static pool_view_entry_t *results_entry(apr_pool_t *p,
                                        const pool_view_entry_t *root)
{
    pool_view_entry_t *e = apr_pcalloc(p, sizeof(*e));

    e->kind = POOL_VIEW_RESULTS_FOLDER;
    e->path = POOL_VIEW_RESULTS;
    e->name = &POOL_VIEW_RESULTS[1];     /* without the slash */
    e->created = e->modified = root->created;
    return e;
}

pool_db_rc pool_view_list(apr_pool_t *p, PGconn *c, const char *pool,
                          const pool_view_entry_t *folder, const char *after,
                          int limit, apr_array_header_t **out,
                          const char **err)
{
    const char *params[3];
    PGresult *r;
    pool_db_rc rc;
    int i, results;

    *out = apr_array_make(p, 16, sizeof(pool_view_entry_t *));
    if (folder->kind == POOL_VIEW_RESULTS_FOLDER) {
        return list_results(p, c, pool, after, limit, *out, err);
    }
    if (folder->kind != POOL_VIEW_FOLDER) {
        set_err(err, "not a folder");
        return POOL_DB_ERROR;
    }
    /* results/ takes its place by name like any entry, so that a page
     * after any name goes on where the previous one ended (the name is
     * reserved at the top: nothing else there is called so) */
    results = !strcmp(folder->path, "/")
              && (!after || strcmp(after, &POOL_VIEW_RESULTS[1]) < 0);
    if (!folder->folder_id) {
        /* a root with no row: nothing else yet */
        if (results) {
            APR_ARRAY_PUSH(*out, pool_view_entry_t *) =
                results_entry(p, folder);
        }
        return POOL_DB_OK;
    }
    params[0] = pool_db_i64(p, folder->folder_id);
    params[1] = after ? after : "";
    params[2] = limit > 0 ? apr_itoa(p, limit) : NULL;
    rc = pool_db_exec(p, c, "list folder",
                      "SELECT * FROM ("
                      " SELECT " FOLDER_COLS("d") " FROM folders d"
                      " WHERE d.parent_id = $1::bigint"
                      " UNION ALL"
                      " SELECT " FILE_COLS("f") " FROM files f"
                      " JOIN clients c ON c.id = f.client_id"
                      " WHERE f.folder_id = $1::bigint AND f.in_view) e"
                      " WHERE e.name COLLATE \"C\" > $2"
                      " ORDER BY e.name COLLATE \"C\", 1 LIMIT $3::int",
                      3, params, ENTRY_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    for (i = 0; i < PQntuples(r); i++) {
        pool_view_entry_t *e = entry_row(p, r, i, folder->path);

        if (results && strcmp(e->name, &POOL_VIEW_RESULTS[1]) > 0) {
            APR_ARRAY_PUSH(*out, pool_view_entry_t *) =
                results_entry(p, folder);
            results = 0;
        }
        APR_ARRAY_PUSH(*out, pool_view_entry_t *) = e;
    }
    PQclear(r);
    if (results) {
        APR_ARRAY_PUSH(*out, pool_view_entry_t *) = results_entry(p, folder);
    }
    if (limit > 0 && (*out)->nelts > limit) {
        (*out)->nelts = limit;      /* results/ pushed one out */
    }
    return POOL_DB_OK;
}

/* ---- changing */

/* The folder at path must be a folder of the tree (not results/). */
static pool_db_rc writable_folder(apr_pool_t *p, PGconn *c, const char *pool,
                                  const char *path, pool_view_entry_t **out,
                                  const char **err)
{
    pool_db_rc rc = pool_view_locate(p, c, pool, path, out, err);

    if (rc == POOL_DB_OK && (*out)->kind != POOL_VIEW_FOLDER) {
        if ((*out)->kind == POOL_VIEW_FILE) {
            set_err(err, apr_psprintf(p, "%s is a file, not a folder", path));
            return POOL_DB_NOTFOUND;
        }
        set_err(err, "results/ is read-only");
        return POOL_DB_CLASH;
    }
    if (rc == POOL_DB_NOTFOUND) {
        set_err(err, apr_psprintf(p, "no folder %s", path));
    }
    return rc;
}

static int in_results(const char *path)
{
    return !strcmp(path, POOL_VIEW_RESULTS)
        || !strncmp(path, POOL_VIEW_RESULTS "/", sizeof(POOL_VIEW_RESULTS));
}

/* Makes (with its parents) the folder at path: its id. */
static pool_db_rc ensure_folder(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *path, apr_int64_t *id,
                                const char **err)
{
    const char *params[2] = { pool, path };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "make folder",
                      "SELECT pool_folder_ensure(p.id, $2) FROM pools p"
                      " WHERE p.name = $1", 2, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, "no such pool");
        return POOL_DB_NOTFOUND;
    }
    *id = pool_db_col_i64(r, 0, 0);
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_view_mkcol(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *path, const char **err)
{
    pool_view_entry_t *e;
    const char *parent = pool_view_parent(p, path);
    apr_int64_t id;
    pool_db_rc rc;

    if (!parent) {
        set_err(err, "the top of the pool exists");
        return POOL_DB_CONFLICT;
    }
    if (in_results(path)) {
        set_err(err, "results/ is read-only");
        return POOL_DB_CLASH;
    }
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = writable_folder(p, c, pool, parent, &e, err);
    if (rc == POOL_DB_OK) {
        rc = pool_view_locate(p, c, pool, path, &e, err);
        if (rc == POOL_DB_OK) {
            set_err(err, apr_psprintf(p, "%s exists", path));
            rc = POOL_DB_CONFLICT;
        }
        else if (rc == POOL_DB_NOTFOUND) {
            rc = ensure_folder(p, c, pool, path, &id, err);
        }
    }
    return pool_db_end(p, c, rc, err);
}

#define SUBTREE \
    "WITH RECURSIVE sub(id) AS (SELECT $1::bigint UNION ALL" \
    " SELECT d.id FROM folders d JOIN sub ON d.parent_id = sub.id) "

static pool_db_rc remove_entry(apr_pool_t *p, PGconn *c,
                               const pool_view_entry_t *e, const char **err)
{
    const char *params[1];
    PGresult *r;
    pool_db_rc rc;

    if (e->kind == POOL_VIEW_FILE) {
        params[0] = e->id;
        rc = pool_db_exec(p, c, "remove file from view",
                          "UPDATE files SET in_view = false,"
                          " left_view_at = now()"
                          " WHERE id = $1::uuid AND in_view RETURNING 1",
                          1, params, 1, &r, err);
    }
    else if (e->kind == POOL_VIEW_FOLDER && e->folder_id
             && strcmp(e->path, "/")) {
        params[0] = pool_db_i64(p, e->folder_id);
        /* the folders first: an upload into one of them (its foreign key
         * check shares the row) either committed before, and leaves the
         * view below, or waits and then finds its folder gone */
        rc = pool_db_exec0(p, c, "lock folders",
                           SUBTREE "SELECT 1 FROM folders"
                           " WHERE id IN (SELECT id FROM sub) FOR UPDATE",
                           1, params, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
        rc = pool_db_exec0(p, c, "remove folder's files from view",
                           SUBTREE "UPDATE files SET in_view = false,"
                           " left_view_at = now()"
                           " WHERE folder_id IN (SELECT id FROM sub)"
                           " AND in_view", 1, params, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
        rc = pool_db_exec(p, c, "remove folder",
                          SUBTREE "DELETE FROM folders"
                          " WHERE id IN (SELECT id FROM sub) RETURNING 1",
                          1, params, 1, &r, err);
    }
    else {
        set_err(err, e->kind == POOL_VIEW_FOLDER
                     ? "the top of a pool cannot be removed"
                     : "results/ is read-only");
        return POOL_DB_CLASH;
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = PQntuples(r) > 0 ? POOL_DB_OK : POOL_DB_NOTFOUND;
    PQclear(r);
    if (rc == POOL_DB_NOTFOUND) {
        set_err(err, apr_psprintf(p, "%s is gone", e->path));
    }
    return rc;
}

pool_db_rc pool_view_remove(apr_pool_t *p, PGconn *c, const char *pool,
                            const pool_view_entry_t *e, const char **err)
{
    pool_db_rc rc;

    (void)pool;
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    return pool_db_end(p, c, remove_entry(p, c, e, err), err);
}

static pool_db_rc move_file(apr_pool_t *p, PGconn *c,
                            const pool_view_entry_t *src, apr_int64_t dir,
                            const char *name, const char **err)
{
    const char *params[3] = { src->id, pool_db_i64(p, dir), name };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "move file",
                      "UPDATE files SET folder_id = $2::bigint, name = $3"
                      " WHERE id = $1::uuid AND in_view RETURNING 1",
                      3, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = PQntuples(r) > 0 ? POOL_DB_OK : POOL_DB_NOTFOUND;
    PQclear(r);
    if (rc == POOL_DB_NOTFOUND) {
        set_err(err, apr_psprintf(p, "%s is gone", src->path));
    }
    return rc;
}

/* A folder's subtree moves: its sizes leave the old ancestors and join the
 * new ones (deltas, as the trigger does for files), the paths below it
 * change, and it hangs under its new parent. */
static pool_db_rc move_folder(apr_pool_t *p, PGconn *c, const char *pool,
                              const pool_view_entry_t *src, apr_int64_t dir,
                              const char *dst, const char **err)
{
    const char *params[5];
    pool_db_rc rc;

    (void)pool;
    params[0] = pool_db_i64(p, src->folder_id);
    params[1] = pool_db_i64(p, dir);
    params[2] = src->path;
    params[3] = dst;
    rc = exec0(p, c, "move folder sizes",
               "WITH s(bytes, files) AS (SELECT " FOLDER_SIZES("d")
               " FROM folders d"
               " WHERE d.id = $1::bigint),"
               " old AS (SELECT a FROM folders d,"
               " pool_folder_ancestors(d.parent_id) a"
               " WHERE d.id = $1::bigint),"
               " new AS (SELECT a FROM pool_folder_ancestors($2::bigint) a)"
               " INSERT INTO folder_deltas (folder_id, bytes, files)"
               " SELECT a, -s.bytes, -s.files FROM old, s"
               " UNION ALL SELECT a, s.bytes, s.files FROM new, s",
               2, params, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = exec0(p, c, "move folder",
               "UPDATE folders SET path = $4 || substr(path, length($3) + 1),"
               " parent_id = CASE WHEN id = $1::bigint THEN $2::bigint"
               " ELSE parent_id END, modified_at = CASE WHEN id = $1::bigint"
               " THEN now() ELSE modified_at END"
               " WHERE pool_id = (SELECT pool_id FROM folders"
               " WHERE id = $1::bigint)"
               " AND (path = $3 OR left(path, length($3) + 1) = $3 || '/')",
               4, params, err);
    return rc;
}

pool_db_rc pool_view_move(apr_pool_t *p, PGconn *c, const char *pool,
                          const pool_view_entry_t *src, const char *dst,
                          int overwrite, int *replaced, const char **err)
{
    const char *parent = pool_view_parent(p, dst);
    pool_view_entry_t *dir, *there;
    apr_int64_t dir_id;
    size_t n = strlen(src->path), m = strlen(dst);
    pool_db_rc rc;

    *replaced = 0;
    if (src->kind != POOL_VIEW_FILE && src->kind != POOL_VIEW_FOLDER) {
        set_err(err, "results/ is read-only");
        return POOL_DB_CLASH;
    }
    if (!parent || in_results(dst)) {
        set_err(err, !parent ? "the top of the pool cannot be replaced"
                             : "results/ is read-only");
        return POOL_DB_CLASH;
    }
    if (src->kind == POOL_VIEW_FOLDER
        && (!src->folder_id || !strcmp(src->path, "/")
            || (!strncmp(dst, src->path, n)
                && (dst[n] == '/' || dst[n] == '\0')))) {
        set_err(err, "a folder cannot move into itself");
        return POOL_DB_CLASH;
    }
    /* a destination above the source: overwriting it would take the
     * source out of the view with it (and a folder's move would then
     * succeed with nothing moved) */
    if (!strncmp(src->path, dst, m) && src->path[m] == '/') {
        set_err(err, "the destination contains what moves");
        return POOL_DB_CLASH;
    }
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = writable_folder(p, c, pool, parent, &dir, err);
    if (rc == POOL_DB_OK) {
        rc = pool_view_locate(p, c, pool, dst, &there, err);
        if (rc == POOL_DB_OK) {
            if (!overwrite) {
                set_err(err, apr_psprintf(p, "%s exists", dst));
                rc = POOL_DB_CONFLICT;
            }
            else if ((rc = remove_entry(p, c, there, err)) == POOL_DB_OK) {
                *replaced = 1;
            }
        }
        else if (rc == POOL_DB_NOTFOUND) {
            rc = POOL_DB_OK;
        }
    }
    if (rc == POOL_DB_OK) {
        /* a root with no row yet gets one */
        rc = dir->folder_id ? (dir_id = dir->folder_id, POOL_DB_OK)
                            : ensure_folder(p, c, pool, parent, &dir_id, err);
    }
    if (rc == POOL_DB_OK) {
        rc = src->kind == POOL_VIEW_FILE
             ? move_file(p, c, src, dir_id, pool_view_basename(dst), err)
             : move_folder(p, c, pool, src, dir_id, dst, err);
    }
    return pool_db_end(p, c, rc, err);
}

/* ---- sizes */

/* One runner at a time folds and recounts (the others skip): two at once
 * would delete the same deltas, and the later snapshot's transaction
 * fails to serialise.  A session lock, taken before the snapshot, so that
 * the snapshot is younger than the previous holder's commit. */
#define SIZES_LOCK_KEY "5795053541357191170"    /* next to group's */

static pool_db_rc sizes_lock(apr_pool_t *p, PGconn *c, int take, int *got,
                             const char **err)
{
    const char *params[1] = { SIZES_LOCK_KEY };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "sizes lock", take
                      ? "SELECT pg_try_advisory_lock($1::bigint)"
                      : "SELECT pg_advisory_unlock($1::bigint)",
                      1, params, 1, &r, err);
    if (rc == POOL_DB_OK) {
        *got = pool_db_col_bool(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

static pool_db_rc sizes_fix(apr_pool_t *p, PGconn *c, int *repaired,
                            apr_array_header_t *which, const char **err)
{
    PGresult *r;
    pool_db_rc rc;
    int i;

    /* one snapshot: the deltas folded and the files counted are the same
     * moment's; later changes keep their deltas for the next run */
    rc = exec0(p, c, "sizes", "BEGIN ISOLATION LEVEL REPEATABLE READ",
               0, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    rc = exec0(p, c, "fold folder deltas",
               "WITH d AS (DELETE FROM folder_deltas"
               " RETURNING folder_id, bytes, files),"
               " s AS (SELECT folder_id, sum(bytes) b, sum(files) n FROM d"
               " GROUP BY folder_id)"
               " UPDATE folders f SET bytes = f.bytes + s.b,"
               " files = f.files + s.n FROM s WHERE f.id = s.folder_id",
               0, NULL, err);
    if (rc == POOL_DB_OK) {
        rc = pool_db_exec(p, c, "recount folder sizes",
            "WITH RECURSIVE direct AS (SELECT folder_id AS id,"
            " sum(size) AS b, count(*) AS n FROM files"
            " WHERE in_view AND folder_id IS NOT NULL GROUP BY folder_id),"
            " closure(id, anc) AS (SELECT id, id FROM folders UNION ALL"
            " SELECT cl.id, d.parent_id FROM closure cl"
            " JOIN folders d ON d.id = cl.anc WHERE d.parent_id IS NOT NULL),"
            " total AS (SELECT cl.anc AS id, sum(direct.b) AS b,"
            " sum(direct.n) AS n FROM closure cl"
            " JOIN direct ON direct.id = cl.id GROUP BY cl.anc),"
            " fixed AS (UPDATE folders f SET bytes = coalesce(t.b, 0),"
            " files = coalesce(t.n, 0) FROM folders f0"
            " LEFT JOIN total t ON t.id = f0.id"
            " WHERE f.id = f0.id AND (f.bytes, f.files) IS DISTINCT FROM"
            " (coalesce(t.b, 0), coalesce(t.n, 0))"
            " RETURNING f.pool_id, f.path)"
            " SELECT p.name || ':' || fixed.path FROM fixed"
            " JOIN pools p ON p.id = fixed.pool_id ORDER BY 1",
            0, NULL, 1, &r, err);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    *repaired = PQntuples(r);
    for (i = 0; i < PQntuples(r) && i < 20; i++) {
        APR_ARRAY_PUSH(which, const char *) = pool_db_col_str(p, r, i, 0);
    }
    PQclear(r);
    return pool_db_end(p, c, POOL_DB_OK, err);
}

pool_db_rc pool_view_sizes(apr_pool_t *p, PGconn *c, int *repaired,
                           apr_array_header_t **which, const char **err)
{
    pool_db_rc rc;
    int got = 0, unlocked;

    *repaired = 0;
    *which = apr_array_make(p, 4, sizeof(const char *));
    if ((rc = sizes_lock(p, c, 1, &got, err)) != POOL_DB_OK || !got) {
        return rc;              /* another runner is at it */
    }
    rc = sizes_fix(p, c, repaired, *which, err);
    if (rc != POOL_DB_UNAVAILABLE) {
        sizes_lock(p, c, 0, &unlocked, NULL);
    }
    return rc;
}

/* ---- dead properties */

/* The target columns of an entry: (file_id, folder_id) parameters. */
static int prop_target(apr_pool_t *p, const pool_view_entry_t *e,
                       const char **file_id, const char **folder_id)
{
    *file_id = NULL;
    *folder_id = NULL;
    if (e->kind == POOL_VIEW_FILE && e->id) {
        *file_id = e->id;
        return 1;
    }
    if (e->kind == POOL_VIEW_FOLDER && e->folder_id) {
        *folder_id = pool_db_i64(p, e->folder_id);
        return 1;
    }
    return 0;
}

pool_db_rc pool_view_props_get(apr_pool_t *p, PGconn *c,
                               const pool_view_entry_t *e,
                               apr_array_header_t **out, const char **err)
{
    const char *params[2];
    PGresult *r;
    pool_db_rc rc;
    int i;

    *out = apr_array_make(p, 4, sizeof(pool_view_prop_t));
    if (!prop_target(p, e, &params[0], &params[1])) {
        return POOL_DB_OK;
    }
    rc = pool_db_exec(p, c, "get properties",
                      "SELECT ns, name, value FROM dav_props"
                      " WHERE ($1::uuid IS NOT NULL AND file_id = $1::uuid)"
                      " OR ($2::bigint IS NOT NULL AND folder_id = $2::bigint)"
                      " ORDER BY ns, name", 2, params, 3, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    for (i = 0; i < PQntuples(r); i++) {
        pool_view_prop_t *pr = apr_array_push(*out);

        pr->ns = pool_db_col_str(p, r, i, 0);
        pr->name = pool_db_col_str(p, r, i, 1);
        pr->value = pool_db_col_str(p, r, i, 2);
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_view_prop_put(apr_pool_t *p, PGconn *c,
                              const pool_view_entry_t *e, const char *ns,
                              const char *name, const char *value,
                              const char **err)
{
    const char *params[5];

    if (!prop_target(p, e, &params[0], &params[1])) {
        set_err(err, "this resource has no properties of its own");
        return POOL_DB_CLASH;
    }
    params[2] = ns;
    params[3] = name;
    params[4] = value;
    if (!value) {
        return exec0(p, c, "remove property",
                     "DELETE FROM dav_props WHERE ns = $3 AND name = $4"
                     " AND (($1::uuid IS NOT NULL AND file_id = $1::uuid)"
                     " OR ($2::bigint IS NOT NULL"
                     " AND folder_id = $2::bigint))", 4, params, err);
    }
    /* two statements would race; the partial unique indexes decide */
    return exec0(p, c, "set property", params[0]
                 ? "INSERT INTO dav_props"
                   " (file_id, folder_id, ns, name, value)"
                   " VALUES ($1::uuid, $2::bigint, $3, $4, $5)"
                   " ON CONFLICT (file_id, ns, name)"
                   " WHERE file_id IS NOT NULL DO UPDATE SET value = $5"
                 : "INSERT INTO dav_props"
                   " (file_id, folder_id, ns, name, value)"
                   " VALUES ($1::uuid, $2::bigint, $3, $4, $5)"
                   " ON CONFLICT (folder_id, ns, name)"
                   " WHERE folder_id IS NOT NULL DO UPDATE SET value = $5",
                 5, params, err);
}

pool_db_rc pool_view_props_copy(apr_pool_t *p, PGconn *c,
                                const pool_view_entry_t *from,
                                const pool_view_entry_t *to, const char **err)
{
    apr_array_header_t *props;
    pool_db_rc rc = pool_view_props_get(p, c, from, &props, err);
    int i;

    for (i = 0; rc == POOL_DB_OK && i < props->nelts; i++) {
        pool_view_prop_t *pr = &APR_ARRAY_IDX(props, i, pool_view_prop_t);

        rc = pool_view_prop_put(p, c, to, pr->ns, pr->name, pr->value, err);
    }
    return rc;
}
