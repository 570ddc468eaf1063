/* Rounds: groups, their manifests, claims, results, and the steps group,
 * trigger, expire and publish of `poolctl run` (docs/rounds.md). */
#include <string.h>

#include <apr_strings.h>

#include "pool_endpoints.h"
#include "pool_groups.h"
#include "pool_imports.h"
#include "pool_json.h"
#include "pool_link.h"
#include "pool_log.h"
#include "pool_name.h"
#include "pool_steps.h"
#include "pool_ts.h"
#include "pool_util.h"
#include "pool_webhook.h"

#define str_or_null pool_json_str_or_null

#define US POOL_SQL_US
#define FROM_US POOL_SQL_FROM_US
#define col_str pool_db_col_str
#define col_i64 pool_db_col_i64
#define col_bool pool_db_col_bool
#define col_time pool_db_col_time

/* Settings of pool row p (stored JSON, docs/rounds.md), with defaults. */
#define S_WINDOW       "(p.settings->>'window')::bigint"
#define S_OFFSET       "coalesce((p.settings->>'offset')::bigint, 0)"
#define S_LATENESS     "coalesce((p.settings->>'lateness')::bigint, 0)"
#define S_MIN_FILES    "coalesce((p.settings->>'min_files')::bigint, 1)"
#define S_MIN_CLIENTS  "coalesce((p.settings->>'min_clients')::bigint, 1)"
#define S_Q_TRIGGER    "coalesce(p.settings->>'quorum_policy' = 'trigger', false)"
#define S_PROC_URL     "nullif(p.settings->>'processor_url', '')"
#define S_TIMEOUT      "coalesce((p.settings->>'result_timeout')::bigint, 600)"
#define S_MAX_ATTEMPTS "coalesce((p.settings->>'max_attempts')::bigint, 3)"
#define S_LATE_REJECT  "coalesce(p.settings->>'late_policy' = 'reject', false)"

/* Files a manifest lists at most (a bigger group says files_truncated). */
#define MANIFEST_MAX_FILES 10000
/* A group.ready body larger than this leaves the files out. */
#define TRIGGER_BODY_MAX (900 * 1024)
/* The group step also looks again at files received this long before its
 * last run: an upload's row carries the time its transaction began, and
 * may commit after the step looked. */
#define GROUP_MARGIN "interval '10 minutes'"
/* Advisory lock that lets one `group` step run at a time (any host). */
#define GROUP_LOCK_KEY "5795053541357191169"

static const char *const states[] = {
    "open", "closed", "skipped", "triggered", "claimed", "done", "failed"
};

int pool_group_state_ok(const char *s)
{
    unsigned int i;

    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (!strcmp(states[i], s)) {
            return 1;
        }
    }
    return 0;
}

static pool_db_rc begin(apr_pool_t *p, PGconn *c, const char **err)
{
    return pool_db_exec0(p, c, "begin", "BEGIN", 0, NULL, err);
}

static pool_db_rc commit(apr_pool_t *p, PGconn *c, const char **err)
{
    return pool_db_exec0(p, c, "commit", "COMMIT", 0, NULL, err);
}

static void rollback(apr_pool_t *p, PGconn *c)
{
    const char *ignored;
    pool_db_exec0(p, c, "rollback", "ROLLBACK", 0, NULL, &ignored);
}

/* ------------------------------------------------------------ summaries */

#define GROUP_COLS \
    "g.id::text, g.seq, g.state, " US("g.window_start") ", " \
    US("g.window_end") ", " US("g.closes_at") ", g.files, g.clients," \
    " g.attempts, " US("g.deadline") ", r.seq, g.process_id::text, " \
    S_TIMEOUT ", " S_MAX_ATTEMPTS
#define GROUP_NCOLS 14
#define GROUP_FROM \
    " FROM groups g JOIN pools p ON p.id = g.pool_id" \
    " LEFT JOIN results r ON r.group_id = g.id"

static json_t *window_json(apr_pool_t *p, const char *start, const char *end)
{
    return json_pack("{s:s, s:s}", "start", start, "end", end);
}

static json_t *int_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null()
                                    : json_integer(col_i64(r, row, col));
}

static json_t *group_summary(apr_pool_t *p, const PGresult *r, int i)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(PQgetvalue(r, i, 0)));
    json_object_set_new(o, "seq", json_integer(col_i64(r, i, 1)));
    json_object_set_new(o, "state", json_string(PQgetvalue(r, i, 2)));
    json_object_set_new(o, "window",
                        window_json(p, col_time(p, r, i, 3),
                                    col_time(p, r, i, 4)));
    json_object_set_new(o, "closes_at", json_string(col_time(p, r, i, 5)));
    json_object_set_new(o, "files", int_or_null(r, i, 6));
    json_object_set_new(o, "clients", int_or_null(r, i, 7));
    json_object_set_new(o, "attempts", json_integer(col_i64(r, i, 8)));
    json_object_set_new(o, "max_attempts", json_integer(col_i64(r, i, 13)));
    json_object_set_new(o, "deadline", str_or_null(col_time(p, r, i, 9)));
    json_object_set_new(o, "result_seq", int_or_null(r, i, 10));
    json_object_set_new(o, "process", str_or_null(col_str(p, r, i, 11)));
    return o;
}

pool_db_rc pool_group_list(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *state, apr_int64_t after, int limit,
                           const char *member_client, json_t **out,
                           const char **err)
{
    const char *params[5];
    PGresult *res;
    pool_db_rc rc;
    json_t *a;
    int i, n;

    params[0] = pool;
    params[1] = state;
    params[2] = pool_db_i64(p, after);
    params[3] = apr_itoa(p, limit);
    params[4] = member_client;
    rc = pool_db_exec(p, c, "list groups",
        "SELECT " GROUP_COLS GROUP_FROM
        " WHERE p.name = $1 AND ($2::text IS NULL OR g.state = $2)"
        "   AND g.seq > $3::bigint"
        "   AND ($5::text IS NULL OR EXISTS ("
        "     SELECT 1 FROM files f JOIN clients cl ON cl.id = f.client_id"
        "     WHERE f.pool_id = g.pool_id AND cl.client_id = $5"
        "       AND f.ts >= g.window_start AND f.ts < g.window_end))"
        " ORDER BY g.seq LIMIT $4::int",
        5, params, GROUP_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    a = json_array();
    for (i = 0; i < n; i++) {
        json_array_append_new(a, group_summary(p, res, i));
    }
    *out = json_pack("{s:o, s:o}", "groups", a, "next",
                     n == limit ? json_integer(col_i64(res, n - 1, 1))
                                : json_null());
    PQclear(res);
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ manifests */

/* Lifetime of the links a manifest hands out. */
static apr_int64_t link_lifetime(apr_int64_t result_timeout)
{
    apr_int64_t t = 2 * result_timeout;

    if (t < 3600) {
        t = 3600;
    }
    if (t > POOL_LINK_MAX_LIFETIME) {
        t = POOL_LINK_MAX_LIFETIME;
    }
    return t;
}

/* base + path + "?" + signature, or NULL with *err. */
static const char *signed_url(apr_pool_t *p, const pool_linker_t *lk,
                              const char *method, const char *path,
                              apr_int64_t expires, apr_int64_t now,
                              const char **err)
{
    const char *q = pool_link_sign(p, lk->keys, method, path, expires, now,
                                   err);

    return q ? apr_pstrcat(p, lk->base, path, "?", q, NULL) : NULL;
}

pool_db_rc pool_group_manifest(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *gid, pool_group_view view,
                               const char *client_id,
                               const pool_linker_t *linker, json_t **out,
                               const char **err)
{
    const char *params[3];
    PGresult *res;
    pool_db_rc rc;
    json_t *m, *files;
    const char *state, *api_path = linker ? linker->api_path : "";
    apr_int64_t now = apr_time_sec(apr_time_now()), expires = 0;
    int i, n, full = view == POOL_VIEW_FULL;

    if (!pool_uuid_valid(gid)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = pool;
    params[1] = gid;
    rc = pool_db_exec(p, c, "group",
        "SELECT " GROUP_COLS ", r.name, r.size, r.sha256, r.content_type"
        GROUP_FROM " WHERE p.name = $1 AND g.id = $2::uuid",
        2, params, GROUP_NCOLS + 4, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    m = group_summary(p, res, 0);
    state = apr_pstrdup(p, PQgetvalue(res, 0, 2));
    if (full && linker) {
        expires = now + link_lifetime(col_i64(res, 0, 12));
    }
    if (full && !PQgetisnull(res, 0, GROUP_NCOLS)) {
        json_t *rj = json_object();
        apr_int64_t seq = col_i64(res, 0, 10);

        json_object_set_new(rj, "seq", seq ? json_integer(seq) : json_null());
        json_object_set_new(rj, "name",
                            json_string(PQgetvalue(res, 0, GROUP_NCOLS)));
        json_object_set_new(rj, "size",
                            json_integer(col_i64(res, 0, GROUP_NCOLS + 1)));
        json_object_set_new(rj, "sha256",
                            json_string(PQgetvalue(res, 0, GROUP_NCOLS + 2)));
        json_object_set_new(rj, "content_type",
                            json_string(PQgetvalue(res, 0, GROUP_NCOLS + 3)));
        json_object_set_new(rj, "url", seq
            ? json_string(apr_psprintf(p, "%s/v1/pools/%s/results/%"
                                       APR_INT64_T_FMT, api_path, pool, seq))
            : json_null());
        json_object_set_new(m, "result", rj);
    }
    else if (full) {
        json_object_set_new(m, "result", json_null());
    }
    PQclear(res);

    params[2] = full ? NULL : client_id;
    rc = pool_db_exec(p, c, "group files",
        "SELECT f.id::text, cl.client_id, f.name, f.size, f.sha256,"
        " f.content_type, " US("f.ts") ", f.received_at >= g.closes_at,"
        " (SELECT path FROM folders WHERE id = f.folder_id), f.in_view"
        " FROM groups g JOIN files f ON f.pool_id = g.pool_id"
        "   AND f.ts >= g.window_start AND f.ts < g.window_end"
        " JOIN clients cl ON cl.id = f.client_id"
        " JOIN pools p ON p.id = g.pool_id"
        " WHERE p.name = $1 AND g.id = $2::uuid"
        "   AND ($3::text IS NULL OR cl.client_id = $3)"
        " ORDER BY f.seq LIMIT " APR_STRINGIFY(MANIFEST_MAX_FILES) " + 1",
        3, params, 10, &res, err);
    if (rc != POOL_DB_OK) {
        json_decref(m);
        return rc;
    }
    n = PQntuples(res);
    if (!full && n == 0) {
        PQclear(res);
        json_decref(m);
        return POOL_DB_NOTFOUND;
    }
    json_object_set_new(m, "files_truncated",
                        json_boolean(n > MANIFEST_MAX_FILES));
    if (n > MANIFEST_MAX_FILES) {
        n = MANIFEST_MAX_FILES;
    }
    files = json_array();
    for (i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, i, 0);
        json_t *f = json_object();

        json_object_set_new(f, "id", json_string(id));
        json_object_set_new(f, "client", json_string(PQgetvalue(res, i, 1)));
        json_object_set_new(f, "name", json_string(PQgetvalue(res, i, 2)));
        json_object_set_new(f, "size", json_integer(col_i64(res, i, 3)));
        json_object_set_new(f, "sha256", json_string(PQgetvalue(res, i, 4)));
        json_object_set_new(f, "content_type",
                            json_string(PQgetvalue(res, i, 5)));
        json_object_set_new(f, "ts", json_string(col_time(p, res, i, 6)));
        json_object_set_new(f, "late", json_boolean(col_bool(res, i, 7)));
        json_object_set_new(f, "folder", PQgetisnull(res, i, 8) ? json_null()
                            : json_string(PQgetvalue(res, i, 8)));
        json_object_set_new(f, "current", json_boolean(col_bool(res, i, 9)));
        if (expires) {
            const char *u = signed_url(p, linker, "GET",
                                       apr_pstrcat(p, api_path, "/v1/pools/",
                                                   pool, "/files/", id, NULL),
                                       expires, now, err);
            if (!u) {
                PQclear(res);
                json_decref(files);
                json_decref(m);
                return POOL_DB_ERROR;
            }
            json_object_set_new(f, "url", json_string(u));
        }
        json_array_append_new(files, f);
    }
    PQclear(res);
    json_object_set_new(m, "files", files);
    if (expires) {
        if (!strcmp(state, "triggered") || !strcmp(state, "claimed")) {
            const char *u = signed_url(p, linker, "PUT",
                                       apr_pstrcat(p, api_path, "/v1/pools/",
                                                   pool, "/groups/", gid,
                                                   "/result", NULL),
                                       expires, now, err);
            if (!u) {
                json_decref(m);
                return POOL_DB_ERROR;
            }
            json_object_set_new(m, "result_url", json_string(u));
        }
        json_object_set_new(m, "links_expire",
                            json_string(pool_ts_format(
                                p, apr_time_from_sec(expires))));
    }
    json_object_set_new(m, "pool", json_string(pool));
    *out = m;
    return POOL_DB_OK;
}

/* ------------------------------------------------------ claim, progress */

pool_db_rc pool_group_claim(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *gid, const char *client_id,
                            const char **err)
{
    const char *params[5], *state, *holder_until;
    PGresult *res;
    pool_db_rc rc;
    apr_int64_t me, holder, attempts, max_attempts;
    int push, live, counts;

    if (!pool_uuid_valid(gid)) {
        return POOL_DB_NOTFOUND;
    }
    if ((rc = begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    params[0] = pool;
    params[1] = gid;
    params[2] = client_id;
    rc = pool_db_exec(p, c, "claim group",
        "SELECT g.state, cl.id, g.claimed_by, g.deadline > now(),"
        " g.attempts, " S_MAX_ATTEMPTS ", " S_PROC_URL " IS NOT NULL, "
        US("g.deadline")
        " FROM groups g JOIN pools p ON p.id = g.pool_id"
        " JOIN clients cl ON cl.pool_id = p.id AND cl.client_id = $3"
        " WHERE p.name = $1 AND g.id = $2::uuid FOR UPDATE OF g",
        3, params, 8, &res, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        rollback(p, c);
        return POOL_DB_NOTFOUND;
    }
    state = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    me = col_i64(res, 0, 1);
    holder = col_i64(res, 0, 2);
    live = col_bool(res, 0, 3);
    attempts = col_i64(res, 0, 4);
    max_attempts = col_i64(res, 0, 5);
    push = col_bool(res, 0, 6);
    holder_until = col_time(p, res, 0, 7);
    PQclear(res);

    if (strcmp(state, "triggered") && strcmp(state, "claimed")) {
        rollback(p, c);
        *err = apr_psprintf(p, "the group is %s; only a triggered group can "
                            "be claimed", state);
        return POOL_DB_CONFLICT;
    }
    if (!strcmp(state, "claimed") && holder != me && live) {
        rollback(p, c);
        *err = apr_psprintf(p, "another processor holds the group until %s",
                            holder_until ? holder_until : "its deadline");
        return POOL_DB_CONFLICT;
    }
    /* in pull mode every new claim is an attempt; renewing is not */
    counts = !push && !(!strcmp(state, "claimed") && holder == me && live);
    if (counts && attempts >= max_attempts) {
        rollback(p, c);
        *err = apr_psprintf(p, "the group has had all of its %"
                            APR_INT64_T_FMT " attempts", max_attempts);
        return POOL_DB_CONFLICT;
    }
    params[0] = gid;
    params[1] = pool_db_i64(p, me);
    params[2] = counts ? "1" : "0";
    rc = pool_db_exec0(p, c, "claim group",
        "WITH g AS ("
        " UPDATE groups g SET state = 'claimed', claimed_by = $2::bigint,"
        "   attempts = g.attempts + $3::int,"
        "   deadline = now() + make_interval(secs => " S_TIMEOUT ")"
        " FROM pools p WHERE p.id = g.pool_id AND g.id = $1::uuid"
        " RETURNING g.process_id, g.attempts)"
        " UPDATE processes pr SET updated_at = now(),"
        "   message = 'claimed by ' || (SELECT name FROM clients"
        "                               WHERE id = $2::bigint)"
        "             || ' (attempt ' || g.attempts || ')'"
        " FROM g WHERE pr.id = g.process_id",
        3, params, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    return commit(p, c, err);
}

pool_db_rc pool_group_progress(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *gid, int percent,
                               const char *message, json_t **process,
                               const char **err)
{
    const char *params[4], *pid, *state;
    PGresult *res;
    pool_db_rc rc;

    if (!pool_uuid_valid(gid)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = pool;
    params[1] = gid;
    params[2] = apr_itoa(p, percent);
    params[3] = message;
    rc = pool_db_exec(p, c, "group progress",
        "WITH g AS (SELECT g.state, g.process_id FROM groups g"
        "           JOIN pools p ON p.id = g.pool_id"
        "           WHERE p.name = $1 AND g.id = $2::uuid),"
        " u AS (UPDATE processes pr SET percent = $3::smallint,"
        "         message = coalesce($4, pr.message), updated_at = now()"
        "       FROM g WHERE pr.id = g.process_id"
        "         AND g.state IN ('triggered', 'claimed')"
        "       RETURNING pr.id)"
        " SELECT g.state, (SELECT id::text FROM u) FROM g",
        4, params, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    state = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    pid = col_str(p, res, 0, 1);
    PQclear(res);
    if (!pid) {
        *err = apr_psprintf(p, "the group is %s; progress is reported while "
                            "it is triggered or claimed", state);
        return POOL_DB_CONFLICT;
    }
    return pool_process_get(p, c, pool, pid, process, err);
}

/* -------------------------------------------------------------- results */

#define RESULT_COLS \
    "r.id::text, p.name, r.group_id::text, r.name, r.size, r.sha256," \
    " r.content_type, " US("r.received_at") ", r.seq, " \
    US("r.published_at") ", " US("g.window_start") ", " US("g.window_end")
#define RESULT_NCOLS 12
#define RESULT_FROM \
    " FROM results r JOIN pools p ON p.id = r.pool_id" \
    " JOIN groups g ON g.id = r.group_id"

static pool_result_t *result_row(apr_pool_t *p, const PGresult *r, int i)
{
    pool_result_t *x = apr_pcalloc(p, sizeof(*x));

    x->id = col_str(p, r, i, 0);
    x->pool = col_str(p, r, i, 1);
    x->group_id = col_str(p, r, i, 2);
    x->name = col_str(p, r, i, 3);
    x->size = (apr_off_t)col_i64(r, i, 4);
    x->sha256 = col_str(p, r, i, 5);
    x->content_type = col_str(p, r, i, 6);
    x->received_at = col_time(p, r, i, 7);
    x->seq = col_i64(r, i, 8);
    x->published_at = col_time(p, r, i, 9);
    x->window_start = col_time(p, r, i, 10);
    x->window_end = col_time(p, r, i, 11);
    return x;
}

json_t *pool_result_json(apr_pool_t *p, const pool_result_t *r,
                         const char *api_path)
{
    json_t *o = json_object();

    json_object_set_new(o, "seq", r->seq ? json_integer(r->seq) : json_null());
    json_object_set_new(o, "group", json_string(r->group_id));
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "size", json_integer(r->size));
    json_object_set_new(o, "sha256", json_string(r->sha256));
    json_object_set_new(o, "content_type", json_string(r->content_type));
    json_object_set_new(o, "received_at", json_string(r->received_at));
    json_object_set_new(o, "published_at", str_or_null(r->published_at));
    json_object_set_new(o, "window",
                        window_json(p, r->window_start, r->window_end));
    json_object_set_new(o, "url", r->seq
        ? json_string(apr_psprintf(p, "%s/v1/pools/%s/results/%"
                                   APR_INT64_T_FMT, api_path, r->pool,
                                   r->seq))
        : json_null());
    return o;
}

pool_db_rc pool_result_accept(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *gid, const char *client_id,
                              const pool_result_t *r, pool_result_t **out,
                              int *created, const char **err)
{
    const char *params[8], *state;
    PGresult *res;
    pool_db_rc rc;

    *created = 0;
    if (!pool_uuid_valid(gid)) {
        return POOL_DB_NOTFOUND;
    }
    if ((rc = begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    params[0] = pool;
    params[1] = gid;
    rc = pool_db_exec(p, c, "result",
        "SELECT g.state, r.id::text, r.size, r.sha256"
        " FROM groups g JOIN pools p ON p.id = g.pool_id"
        " LEFT JOIN results r ON r.group_id = g.id"
        " WHERE p.name = $1 AND g.id = $2::uuid FOR UPDATE OF g",
        2, params, 4, &res, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        rollback(p, c);
        return POOL_DB_NOTFOUND;
    }
    state = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    if (!PQgetisnull(res, 0, 1)) {
        const char *rid = apr_pstrdup(p, PQgetvalue(res, 0, 1));
        int same = col_i64(res, 0, 2) == (apr_int64_t)r->size
                   && !strcmp(PQgetvalue(res, 0, 3), r->sha256);

        PQclear(res);
        rollback(p, c);
        if (!same) {
            *err = "the group already has a different result (another size "
                   "or SHA-256); a result cannot be replaced";
            return POOL_DB_CONFLICT;
        }
        return pool_result_find(p, c, NULL, rid, out, err);
    }
    PQclear(res);
    if (strcmp(state, "triggered") && strcmp(state, "claimed")) {
        rollback(p, c);
        *err = apr_psprintf(p, "the group is %s; a result is accepted while "
                            "it is triggered or claimed", state);
        return POOL_DB_CONFLICT;
    }
    params[0] = r->id;
    params[1] = gid;
    params[2] = client_id;
    params[3] = r->name;
    params[4] = apr_off_t_toa(p, r->size);
    params[5] = r->sha256;
    params[6] = r->content_type;
    rc = pool_db_exec(p, c, "store result",
        "WITH ins AS ("
        " INSERT INTO results (id, pool_id, group_id, client_id, name, size,"
        "                      sha256, content_type)"
        " SELECT $1::uuid, g.pool_id, g.id,"
        "   (SELECT id FROM clients WHERE client_id = $3"
        "      AND pool_id = g.pool_id),"
        "   $4, $5::bigint, $6, coalesce($7, 'application/octet-stream')"
        " FROM groups g WHERE g.id = $2::uuid RETURNING *),"
        " g AS (UPDATE groups SET state = 'done', finished_at = now(),"
        "         deadline = NULL WHERE id = $2::uuid"
        "       RETURNING process_id, window_start, window_end, delivery_id),"
        " d AS (UPDATE deliveries SET state = 'failed',"
        "         next_attempt_at = now(),"
        "         last_error = 'superseded: the group''s result arrived'"
        "       WHERE id = (SELECT delivery_id FROM g) AND state = 'pending'),"
        " pr AS (UPDATE processes SET percent = 100, updated_at = now(),"
        "          message = 'result received; waiting to be published'"
        "        WHERE id = (SELECT process_id FROM g))"
        " SELECT r.id::text, p.name, r.group_id::text, r.name, r.size,"
        "   r.sha256, r.content_type, " US("r.received_at") ", r.seq, "
        US("r.published_at") ", " US("g.window_start") ", "
        US("g.window_end")
        " FROM ins r JOIN pools p ON p.id = r.pool_id, g",
        7, params, RESULT_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        rollback(p, c);
        *err = "store result: no row";
        return POOL_DB_ERROR;
    }
    *out = result_row(p, res, 0);
    PQclear(res);
    if ((rc = commit(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    *created = 1;
    return POOL_DB_OK;
}

pool_db_rc pool_result_get(apr_pool_t *p, PGconn *c, const char *pool,
                           apr_int64_t seq, pool_result_t **out,
                           const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;

    params[0] = pool;
    params[1] = pool_db_i64(p, seq);
    rc = pool_db_exec(p, c, "result",
        "SELECT " RESULT_COLS RESULT_FROM
        " WHERE p.name = $1 AND r.seq IS NOT NULL"
        "   AND ($2::bigint = 0 OR r.seq = $2::bigint)"
        " ORDER BY r.seq DESC LIMIT 1",
        2, params, RESULT_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    *out = result_row(p, res, 0);
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_result_find(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *id, pool_result_t **out,
                            const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;

    params[0] = pool;
    params[1] = id;
    rc = pool_db_exec(p, c, "result by id",
        "SELECT " RESULT_COLS RESULT_FROM
        " WHERE ($1::text IS NULL OR p.name = $1) AND r.id = $2::uuid",
        2, params, RESULT_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    *out = result_row(p, res, 0);
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_result_list(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *api_path, apr_int64_t after,
                            int limit, json_t **out, const char **err)
{
    const char *params[3];
    PGresult *res;
    pool_db_rc rc;
    json_t *a;
    int i, n;
    apr_int64_t last = 0;

    params[0] = pool;
    params[1] = pool_db_i64(p, after);
    params[2] = apr_itoa(p, limit);
    rc = pool_db_exec(p, c, "list results",
        "SELECT " RESULT_COLS RESULT_FROM
        " WHERE p.name = $1 AND r.seq > $2::bigint"
        " ORDER BY r.seq LIMIT $3::int",
        3, params, RESULT_NCOLS, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    a = json_array();
    for (i = 0; i < n; i++) {
        pool_result_t *x = result_row(p, res, i);
        json_array_append_new(a, pool_result_json(p, x, api_path));
        last = x->seq;
    }
    PQclear(res);
    *out = json_pack("{s:o, s:o}", "results", a, "next",
                     n == limit ? json_integer(last) : json_null());
    return POOL_DB_OK;
}

pool_db_rc pool_result_read(apr_pool_t *p, PGconn *c, const char *result_id,
                            const char *client_id, const char **err)
{
    const char *params[2];

    params[0] = result_id;
    params[1] = client_id;
    return pool_db_exec0(p, c, "read receipt",
        "INSERT INTO result_reads (result_id, client_id)"
        " SELECT $1::uuid, id FROM clients WHERE client_id = $2"
        " ON CONFLICT (result_id, client_id) DO UPDATE"
        "   SET last_at = now(), reads = result_reads.reads + 1",
        2, params, err);
}

pool_db_rc pool_result_receipts(apr_pool_t *p, PGconn *c, const char *pool,
                                apr_int64_t seq, json_t **out,
                                const char **err)
{
    pool_result_t *r;
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;
    json_t *a;
    int i, n, received = 0;

    if ((rc = pool_result_get(p, c, pool, seq, &r, err)) != POOL_DB_OK) {
        return rc;
    }
    params[0] = pool;
    params[1] = r->id;
    rc = pool_db_exec(p, c, "read receipts",
        "SELECT cl.client_id, cl.name, cl.role, " US("rr.first_at") ","
        " " US("rr.last_at") ", coalesce(rr.reads, 0)"
        " FROM clients cl JOIN pools p ON p.id = cl.pool_id"
        " LEFT JOIN result_reads rr ON rr.client_id = cl.id"
        "   AND rr.result_id = $2::uuid"
        " WHERE p.name = $1 AND cl.disabled_at IS NULL ORDER BY cl.name",
        2, params, 6, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(res);
    a = json_array();
    for (i = 0; i < n; i++) {
        const char *at = col_time(p, res, i, 3);

        received += at != NULL;
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o, s:o, s:I}",
            "client_id", PQgetvalue(res, i, 0),
            "name", PQgetvalue(res, i, 1),
            "role", PQgetvalue(res, i, 2),
            "received_at", str_or_null(at),
            "last_read_at", str_or_null(col_time(p, res, i, 4)),
            "reads", (json_int_t)col_i64(res, i, 5)));
    }
    PQclear(res);
    *out = json_pack("{s:I, s:s, s:i, s:i, s:o}", "seq", (json_int_t)r->seq,
                     "group", r->group_id, "clients_total", n,
                     "received", received, "clients", a);
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ late files */

/* Two statements: nearly every upload goes to a pool that accepts late
 * files, and the policy alone is a cheap lookup; the window query (costly
 * to plan) runs only for pools that refuse them. */
pool_db_rc pool_late_check(apr_pool_t *p, PGconn *c, const char *pool,
                           apr_time_t ts, int *rejects, const char **err)
{
    const char *params[2];
    PGresult *res;
    pool_db_rc rc;
    int dummy;

    rejects = rejects ? rejects : &dummy;
    *rejects = 0;
    params[0] = pool;
    rc = pool_db_exec(p, c, "late policy",
        "SELECT p.id FROM pools p WHERE p.name = $1"
        " AND p.settings ? 'window' AND " S_LATE_REJECT,
        1, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_OK;
    }
    params[0] = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    PQclear(res);
    *rejects = 1;
    params[1] = pool_db_i64(p, ts);
    rc = pool_db_exec(p, c, "late check",
        "WITH t AS (SELECT " FROM_US("$2") " AS ts),"
        " s AS (SELECT p.id, " S_WINDOW " AS w, " S_OFFSET " AS o, "
        S_LATENESS " AS l FROM pools p WHERE p.id = $1::bigint"
        "   AND p.settings ? 'window' AND " S_LATE_REJECT "),"
        " win AS (SELECT coalesce(g.window_start, a.ws) AS ws,"
        "   coalesce(g.window_end, a.ws + make_interval(secs => s.w)) AS we,"
        "   coalesce(g.closes_at, a.ws + make_interval(secs => s.w + s.l))"
        "     AS closes"
        "  FROM s CROSS JOIN t"
        "  CROSS JOIN LATERAL (SELECT to_timestamp(floor((extract(epoch FROM"
        "     t.ts) - s.o) / s.w) * s.w + s.o) AS ws) a"
        "  LEFT JOIN LATERAL (SELECT * FROM groups g WHERE g.pool_id = s.id"
        "     AND g.window_start <= t.ts AND g.window_end > t.ts"
        "     ORDER BY g.seq LIMIT 1) g ON true)"
        " SELECT " US("ws") ", " US("we") ", " US("closes")
        " FROM win WHERE closes <= now()",
        2, params, 3, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 1) {
        *err = apr_psprintf(p, "the file's ts is in the window %s to %s, "
                            "which closed at %s; this pool refuses late "
                            "files (late_policy=reject)",
                            col_time(p, res, 0, 0), col_time(p, res, 0, 1),
                            col_time(p, res, 0, 2));
        PQclear(res);
        return POOL_DB_CONFLICT;
    }
    PQclear(res);
    return POOL_DB_OK;
}

/* ------------------------------------------------------------ step group */

/* Pieces of an aligned window that existing groups (made under another
 * window or offset) partly cover: each uncovered file gets the gap between
 * groups around it, cut to its aligned window. */
static pool_db_rc fill_gaps(apr_pool_t *p, PGconn *c, json_t *cand, int *made,
                            const char **err)
{
    const char *params[4];
    PGresult *res;
    pool_db_rc rc;

    params[0] = pool_db_i64(p, (apr_int64_t)json_integer_value(
                                    json_object_get(cand, "pool")));
    params[1] = pool_db_i64(p, (apr_int64_t)json_integer_value(
                                    json_object_get(cand, "ws")));
    params[2] = pool_db_i64(p, (apr_int64_t)json_integer_value(
                                    json_object_get(cand, "we")));
    params[3] = pool_db_i64(p, (apr_int64_t)json_integer_value(
                                    json_object_get(cand, "l")));
    rc = pool_db_exec(p, c, "group gaps",
        "WITH x AS (SELECT DISTINCT"
        "   greatest(" FROM_US("$2") ", (SELECT max(g.window_end) FROM groups g"
        "     WHERE g.pool_id = $1::bigint AND g.window_end <= f.ts)) AS ps,"
        "   least(" FROM_US("$3") ", (SELECT min(g.window_start) FROM groups g"
        "     WHERE g.pool_id = $1::bigint AND g.window_start > f.ts)) AS pe"
        "  FROM files f WHERE f.pool_id = $1::bigint"
        "   AND f.ts >= " FROM_US("$2") " AND f.ts < " FROM_US("$3")
        "   AND NOT EXISTS (SELECT 1 FROM groups g"
        "     WHERE g.pool_id = $1::bigint AND f.ts >= g.window_start"
        "       AND f.ts < g.window_end)),"
        " ins AS (INSERT INTO groups (id, pool_id, window_start, window_end,"
        "                            closes_at)"
        "  SELECT gen_random_uuid(), $1::bigint, ps, pe,"
        "         pe + make_interval(secs => $4::bigint) FROM x"
        "  ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT count(*) FROM ins",
        4, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *made += (int)col_i64(res, 0, 0);
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_step_group(pool_step_ctx_t *ctx, int *done, const char **err)
{
    apr_pool_t *p = ctx->p;
    PGconn *c = ctx->db;
    const char *params[1];
    PGresult *res;
    pool_db_rc rc;
    json_t *partial = NULL;
    json_error_t jerr;
    int made = 0, closed = 0, skipped = 0;
    size_t i;

    *done = 0;
    if ((rc = begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    params[0] = GROUP_LOCK_KEY;
    rc = pool_db_exec(p, c, "group lock",
                      "SELECT pg_try_advisory_xact_lock($1::bigint)",
                      1, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    if (!col_bool(res, 0, 0)) {
        /* another runner is grouping right now */
        PQclear(res);
        rollback(p, c);
        return POOL_DB_OK;
    }
    PQclear(res);

    /* 1. a group for every aligned window holding a new file, unless a
     *    group (of another window or offset) overlaps it */
    rc = pool_db_exec(p, c, "make groups",
        "WITH s AS (SELECT p.id, " S_WINDOW " AS w, " S_OFFSET " AS o, "
        S_LATENESS " AS l, p.grouped_until AS gu"
        "   FROM pools p WHERE p.settings ? 'window'),"
        " k AS (SELECT f.pool_id,"
        "   floor((extract(epoch FROM f.ts) - s.o) / s.w)::bigint AS k"
        "   FROM files f JOIN s ON s.id = f.pool_id"
        "   WHERE s.gu IS NULL OR f.received_at >= s.gu - " GROUP_MARGIN
        "   GROUP BY 1, 2),"
        " c AS (SELECT k.pool_id, s.l,"
        "   to_timestamp(k.k * s.w + s.o) AS ws,"
        "   to_timestamp((k.k + 1) * s.w + s.o) AS we"
        "   FROM k JOIN s ON s.id = k.pool_id),"
        " c2 AS (SELECT c.*,"
        "   EXISTS (SELECT 1 FROM groups g WHERE g.pool_id = c.pool_id"
        "     AND g.window_start = c.ws AND g.window_end = c.we) AS same,"
        "   EXISTS (SELECT 1 FROM groups g WHERE g.pool_id = c.pool_id"
        "     AND g.window_start < c.we AND g.window_end > c.ws) AS overlap"
        "   FROM c),"
        " ins AS (INSERT INTO groups (id, pool_id, window_start, window_end,"
        "                            closes_at)"
        "   SELECT gen_random_uuid(), pool_id, ws, we,"
        "          we + make_interval(secs => l) FROM c2 WHERE NOT overlap"
        "   ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins),"
        "   (SELECT coalesce(json_agg(json_build_object('pool', pool_id,"
        "      'ws', " US("ws") ", 'we', " US("we") ", 'l', l)), '[]')"
        "    FROM c2 WHERE overlap AND NOT same)::text",
        0, NULL, 2, &res, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    made = (int)col_i64(res, 0, 0);
    partial = json_loads(PQgetvalue(res, 0, 1), 0, &jerr);
    PQclear(res);
    if (!json_is_array(partial)) {
        json_decref(partial);
        rollback(p, c);
        *err = "make groups: unreadable list of partial windows";
        return POOL_DB_ERROR;
    }
    /* 2. where a changed window meets older groups: fill the gaps */
    for (i = 0; i < json_array_size(partial); i++) {
        rc = fill_gaps(p, c, json_array_get(partial, i), &made, err);
        if (rc != POOL_DB_OK) {
            json_decref(partial);
            rollback(p, c);
            return rc;
        }
    }
    json_decref(partial);
    rc = pool_db_exec0(p, c, "group watermark",
        "UPDATE pools SET grouped_until = CASE WHEN settings ? 'window'"
        "   THEN now() END"
        " WHERE settings ? 'window' OR grouped_until IS NOT NULL",
        0, NULL, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }

    /* 3. close every open group whose closing time passed (the wall clock
     *    is the watermark, so idle pools close too), checking quorum on the
     *    files that came in time */
    /* 3a. counted one group at a time (a correlated count over the
     *     files_pool_ts index): a join of files to all due groups lets the
     *     planner, misled by groups made in this very transaction, pick a
     *     plan that grows with files x groups (bench/rounds) */
    rc = pool_db_exec0(p, c, "count groups",
        "UPDATE groups g SET closed_at = now(), (files, clients) ="
        "  (SELECT count(*), count(DISTINCT f.client_id) FROM files f"
        "    WHERE f.pool_id = g.pool_id AND f.ts >= g.window_start"
        "      AND f.ts < g.window_end AND f.received_at < g.closes_at)"
        " WHERE g.state = 'open' AND g.closes_at <= now()",
        0, NULL, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    /* 3b. then the quorum decides; the groups counted above are the open
     *     ones with a closed_at (this runner holds the group lock) */
    rc = pool_db_exec(p, c, "close groups",
        "WITH upd AS (UPDATE groups g SET"
        "   state = CASE WHEN (g.files >= " S_MIN_FILES
        "                      AND g.clients >= " S_MIN_CLIENTS ")"
        "                  OR " S_Q_TRIGGER " THEN 'closed' ELSE 'skipped' END,"
        "   finished_at = CASE WHEN (g.files >= " S_MIN_FILES
        "                      AND g.clients >= " S_MIN_CLIENTS ")"
        "                  OR " S_Q_TRIGGER " THEN NULL ELSE now() END"
        "   FROM pools p WHERE p.id = g.pool_id"
        "     AND g.state = 'open' AND g.closed_at IS NOT NULL"
        "   RETURNING g.state)"
        " SELECT count(*) FILTER (WHERE state = 'closed'),"
        "        count(*) FILTER (WHERE state = 'skipped') FROM upd",
        0, NULL, 2, &res, err);
    if (rc != POOL_DB_OK) {
        rollback(p, c);
        return rc;
    }
    closed = (int)col_i64(res, 0, 0);
    skipped = (int)col_i64(res, 0, 1);
    PQclear(res);
    if ((rc = commit(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    if (made || closed || skipped) {
        pool_log(POOL_LOG_INFO, "group: %d groups made, %d closed, %d skipped "
                 "(quorum missed)", made, closed, skipped);
    }
    *done = made + closed + skipped;
    return POOL_DB_OK;
}

/* ---------------------------------------------------------- step trigger */

/* The group.ready body: the manifest, without its files when too big. */
static const char *trigger_payload(apr_pool_t *p, json_t *m)
{
    const char *body = pool_json_dump(p, m);

    if (body && strlen(body) > TRIGGER_BODY_MAX) {
        json_object_del(m, "files");
        json_object_set_new(m, "files_truncated", json_true());
        body = pool_json_dump(p, m);
    }
    return body;
}

pool_db_rc pool_step_trigger(pool_step_ctx_t *ctx, int *done,
                             const char **err)
{
    apr_pool_t *p = ctx->p;
    PGconn *c = ctx->db;
    const pool_linker_t *lk = ctx->linker;
    const char *params[4];
    PGresult *res;
    pool_db_rc rc;
    int n = 0;

    *done = 0;
    while (n < ctx->budget) {
        const char *gid, *pool, *url, *secret, *pid, *did = NULL;
        json_t *m = NULL;

        if ((rc = begin(p, c, err)) != POOL_DB_OK) {
            return rc;
        }
        /* push groups wait while there is no PoolPublicURL to link to */
        params[0] = lk ? "true" : "false";
        rc = pool_db_exec(p, c, "next group to trigger",
            "SELECT g.id::text, p.name, " S_PROC_URL ", p.processor_secret,"
            " g.process_id::text"
            " FROM groups g JOIN pools p ON p.id = g.pool_id"
            " WHERE g.state = 'closed'"
            "   AND ($1::boolean OR " S_PROC_URL " IS NULL)"
            " ORDER BY g.closed_at, g.seq LIMIT 1 FOR UPDATE OF g SKIP LOCKED",
            1, params, 5, &res, err);
        if (rc != POOL_DB_OK) {
            rollback(p, c);
            return rc;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            rollback(p, c);
            break;
        }
        gid = col_str(p, res, 0, 0);
        pool = col_str(p, res, 0, 1);
        url = col_str(p, res, 0, 2);
        secret = col_str(p, res, 0, 3);
        pid = col_str(p, res, 0, 4);
        PQclear(res);
        if (url && !secret) {
            rollback(p, c);
            *err = apr_psprintf(p, "pool %s has a processor_url but no "
                                "processor secret; set processor_url again",
                                pool);
            return POOL_DB_ERROR;
        }
        if (!pid) {
            if (!(pid = pool_uuid(p))) {
                rollback(p, c);
                *err = "no randomness for an id";
                return POOL_DB_ERROR;
            }
            params[0] = pid;
            params[1] = gid;
            rc = pool_db_exec0(p, c, "group process",
                "INSERT INTO processes (id, pool_id, kind, status, percent,"
                "                       message)"
                " SELECT $1::uuid, pool_id, 'group', 0, 0,"
                "        'waiting for the processor'"
                " FROM groups WHERE id = $2::uuid",
                2, params, err);
            if (rc != POOL_DB_OK) {
                rollback(p, c);
                return rc;
            }
        }
        params[0] = gid;
        params[1] = pid;
        params[2] = url ? "true" : "false";
        rc = pool_db_exec0(p, c, "trigger group",
            "UPDATE groups g SET state = 'triggered', triggered_at = now(),"
            "  process_id = $2::uuid, claimed_by = NULL,"
            "  attempts = g.attempts + CASE WHEN $3::boolean THEN 1 ELSE 0 END,"
            "  deadline = CASE WHEN $3::boolean"
            "    THEN now() + make_interval(secs => " S_TIMEOUT ") END"
            " FROM pools p WHERE p.id = g.pool_id AND g.id = $1::uuid",
            3, params, err);
        if (rc == POOL_DB_OK && url) {
            const char *body;

            rc = pool_group_manifest(p, c, pool, gid, POOL_VIEW_FULL, NULL,
                                     lk, &m, err);
            if (rc == POOL_DB_OK) {
                body = trigger_payload(p, m);
                json_decref(m);
                rc = body ? pool_delivery_enqueue(p, c, pool, NULL, url,
                                                  secret, "group.ready", body,
                                                  &did, err)
                          : POOL_DB_ERROR;
                if (!body) {
                    *err = "cannot encode the manifest";
                }
            }
            if (rc == POOL_DB_OK) {
                params[1] = did;
                rc = pool_db_exec0(p, c, "trigger group",
                    "UPDATE groups SET delivery_id = $2::uuid"
                    " WHERE id = $1::uuid", 2, params, err);
            }
        }
        if (rc != POOL_DB_OK) {
            rollback(p, c);
            return rc;
        }
        if ((rc = commit(p, c, err)) != POOL_DB_OK) {
            return rc;
        }
        pool_log(POOL_LOG_INFO, "trigger: group %s of pool %s %s", gid, pool,
                 url ? "sent to its processor" : "is claimable");
        n++;
    }
    if (!lk) {
        /* say so when push groups are waiting for configuration */
        rc = pool_db_exec(p, c, "push groups waiting",
            "SELECT count(*) FROM groups g JOIN pools p ON p.id = g.pool_id"
            " WHERE g.state = 'closed' AND " S_PROC_URL " IS NOT NULL",
            0, NULL, 1, &res, err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
        if (col_i64(res, 0, 0) > 0) {
            pool_log(POOL_LOG_ERR, "trigger: %s groups of pools in push mode "
                     "wait: set PoolPublicURL and PoolKeyFile so that their "
                     "manifests can carry signed links",
                     PQgetvalue(res, 0, 0));
        }
        PQclear(res);
    }
    *done = n;
    return POOL_DB_OK;
}

/* ----------------------------------------------------------- step expire */

pool_db_rc pool_step_expire(pool_step_ctx_t *ctx, int *done, const char **err)
{
    apr_pool_t *p = ctx->p;
    PGresult *res;
    pool_db_rc rc;
    int failed;

    *done = 0;
    rc = pool_db_exec(p, ctx->db, "expire groups",
        "WITH e AS (SELECT g.id, g.attempts >= " S_MAX_ATTEMPTS " AS last,"
        "   " S_PROC_URL " IS NOT NULL AS push"
        "   FROM groups g JOIN pools p ON p.id = g.pool_id"
        "   WHERE g.state IN ('triggered', 'claimed') AND g.deadline <= now()"
        "   FOR UPDATE OF g SKIP LOCKED),"
        " u AS (UPDATE groups g SET"
        "   state = CASE WHEN e.last THEN 'failed'"
        "                WHEN e.push THEN 'closed' ELSE 'triggered' END,"
        "   closed_at = CASE WHEN NOT e.last AND e.push THEN now()"
        "                    ELSE g.closed_at END,"
        "   finished_at = CASE WHEN e.last THEN now() END,"
        "   deadline = NULL, claimed_by = NULL"
        "   FROM e WHERE g.id = e.id"
        "   RETURNING g.id, g.state, g.attempts, g.process_id, g.delivery_id),"
        /* a trigger that is still being retried is not wanted any more */
        " d AS (UPDATE deliveries SET state = 'failed', next_attempt_at = now(),"
        "   last_error = 'superseded: the group''s attempt ended'"
        "   FROM u WHERE deliveries.id = u.delivery_id"
        "     AND deliveries.state = 'pending'),"
        " pr AS (UPDATE processes pr SET updated_at = now(),"
        "   status = CASE WHEN u.state = 'failed' THEN 2 ELSE pr.status END,"
        "   message = CASE WHEN u.state = 'failed'"
        "     THEN 'no result after ' || u.attempts || ' attempt(s)'"
        "     ELSE 'no result by the deadline of attempt ' || u.attempts"
        "          || '; the group is offered again' END"
        "   FROM u WHERE pr.id = u.process_id)"
        " SELECT count(*), count(*) FILTER (WHERE state = 'failed') FROM u",
        0, NULL, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *done = (int)col_i64(res, 0, 0);
    failed = (int)col_i64(res, 0, 1);
    PQclear(res);
    if (*done) {
        pool_log(POOL_LOG_INFO, "expire: %d groups without a result by their "
                 "deadline, %d of them failed", *done, failed);
    }
    return POOL_DB_OK;
}

/* ---------------------------------------------------------- step publish */

/* Bytes of a result's name kept in its published name: "result-SEQ-" and
 * these stay within POOL_NAME_MAX whatever the seq. */
#define RESULT_NAME_KEEP 200
/* Bytes of a failure's text kept on the result's row. */
#define PUBLISH_ERROR_MAX 1000
/* Results failed for good that one run of the step names in its log. */
#define PUBLISH_REPORT_MAX 20
/* the waits between attempts are the deliveries' schedule */
#if POOL_PUBLISH_MAX_ATTEMPTS > POOL_DELIVERY_MAX_ATTEMPTS
#error "pool_delivery_backoff has no wait for every publication attempt"
#endif

const char *pool_result_path_name(apr_pool_t *p, apr_int64_t seq,
                                  const char *name)
{
    size_t n = name ? pool_utf8_prefix(name, RESULT_NAME_KEEP) : 0;
    const char *out;

    if (n == 0) {
        return NULL;
    }
    /* cut on a character boundary: the database refuses invalid UTF-8 */
    out = apr_psprintf(p, "result-%06" APR_INT64_T_FMT "-%.*s", seq, (int)n,
                       name);
    return pool_name_check(out) ? NULL : out;
}

/* Publishes result rid (of pool pool_pk, named name) inside the caller's
 * transaction, once its bytes are found in the store: the pool's next
 * seq, the row (its name in the view's results/), the process, the
 * webhooks.  Any error leaves the caller to roll back (to its savepoint). */
static pool_db_rc publish_one(pool_step_ctx_t *ctx, const char *rid,
                              const char *pool_pk, const char *name,
                              apr_int64_t *seq, const char **pool_name,
                              int *fanout, const char **err)
{
    apr_pool_t *p = ctx->p;
    PGconn *c = ctx->db;
    const char *params[3], *path_name, *body;
    const char *api_path = ctx->linker ? ctx->linker->api_path : "/pool";
    pool_result_t *r;
    PGresult *res;
    pool_db_rc rc;
    apr_status_t rv;
    apr_off_t size;
    json_t *j;

    /* the pool row's lock orders publications of one pool, and a seq is
     * taken only by a publication that commits: the feed has no gaps */
    params[0] = pool_pk;
    rc = pool_db_exec(p, c, "result seq",
        "UPDATE pools SET result_seq = result_seq + 1"
        " WHERE id = $1::bigint RETURNING result_seq, name",
        1, params, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    *seq = col_i64(res, 0, 0);
    *pool_name = col_str(p, res, 0, 1);
    PQclear(res);
    if (!(path_name = pool_result_path_name(p, *seq, name))) {
        *err = "the result's name cannot make a valid published name";
        return POOL_DB_ERROR;
    }
    /* never a place in the feed for a result nobody could download */
    rv = ctx->store->ops->stat(ctx->store, p, NULL, rid, &size);
    if (rv != APR_SUCCESS) {
        char buf[120];
        *err = apr_psprintf(p, "the result's bytes are not readable in the "
                            "store: %s", apr_strerror(rv, buf, sizeof(buf)));
        return POOL_DB_ERROR;
    }
    params[0] = rid;
    params[1] = pool_db_i64(p, *seq);
    params[2] = path_name;
    rc = pool_db_exec0(p, c, "publish result",
        "WITH r AS (UPDATE results SET seq = $2::bigint,"
        "   path_name = $3, published_at = now(), next_publish_at = NULL,"
        "   publish_failed_at = NULL"
        "   WHERE id = $1::uuid RETURNING group_id)"
        " UPDATE processes pr SET status = 1, percent = 100,"
        "   updated_at = now(),"
        "   message = 'published as result ' || $2::bigint,"
        "   result = jsonb_build_object('result_seq', $2::bigint,"
        "                               'result_id', $1::text)"
        " FROM groups g, r WHERE g.id = r.group_id"
        "   AND pr.id = g.process_id",
        3, params, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if ((rc = pool_result_get(p, c, *pool_name, *seq, &r, err))
        != POOL_DB_OK) {
        return rc;
    }
    j = pool_result_json(p, r, api_path);
    json_object_set_new(j, "pool", json_string(r->pool));
    body = pool_json_dump(p, j);
    json_decref(j);
    if (!body) {
        *err = "cannot encode the result";
        return POOL_DB_ERROR;
    }
    /* to the pool's endpoints and every client's callback */
    return pool_event_emit(p, c, apr_atoi64(pool_pk), "result.published",
                           body, 1, NULL, 0, fanout, err);
}

/* Records failed attempt number `attempt` of result rid: due again after
 * the backoff, or failed for good after the last attempt (*wait = 0).  The
 * group's process says so, without the error itself (that is for the
 * operator: on the row and in the log). */
static pool_db_rc publish_failed(apr_pool_t *p, PGconn *c, const char *rid,
                                 int attempt, const char *why, int *wait,
                                 const char **err)
{
    const char *params[4];
    size_t n = why ? pool_utf8_prefix(why, PUBLISH_ERROR_MAX) : 0;

    *wait = attempt < POOL_PUBLISH_MAX_ATTEMPTS
            ? pool_delivery_backoff(attempt) : 0;
    params[0] = rid;
    /* the row must take it whatever bytes the error held */
    params[1] = n ? apr_pstrmemdup(p, why, n) : "unknown error";
    params[2] = apr_itoa(p, *wait);
    params[3] = apr_itoa(p, attempt);
    return pool_db_exec0(p, c, "record failed publication",
        "WITH r AS (UPDATE results SET publish_attempts = $4::int,"
        "   publish_error = $2,"
        "   next_publish_at = CASE WHEN $3::int > 0"
        "     THEN now() + make_interval(secs => $3::int) END,"
        "   publish_failed_at = CASE WHEN $3::int > 0 THEN NULL"
        "     ELSE now() END"
        "   WHERE id = $1::uuid RETURNING group_id)"
        " UPDATE processes pr SET updated_at = now(),"
        "   status = CASE WHEN $3::int > 0 THEN pr.status ELSE 2 END,"
        "   message = CASE WHEN $3::int > 0"
        "     THEN 'result received; publication attempt ' || $4"
        "          || ' failed, it will be tried again'"
        "     ELSE 'result received; publication failed after ' || $4"
        "          || ' attempts' END"
        " FROM groups g, r WHERE g.id = r.group_id"
        "   AND pr.id = g.process_id",
        4, params, err);
}

/* Names, in the log, the results whose publication failed for good, and
 * counts those waiting for another attempt: every run, so that none is
 * forgotten. */
static pool_db_rc publish_report(apr_pool_t *p, PGconn *c, const char **err)
{
    PGresult *res;
    pool_db_rc rc;
    apr_int64_t waiting, failed;
    int i;

    rc = pool_db_exec(p, c, "unpublished results that failed",
        "SELECT count(*) FILTER (WHERE publish_failed_at IS NULL),"
        "       count(*) FILTER (WHERE publish_failed_at IS NOT NULL)"
        " FROM results WHERE seq IS NULL AND publish_attempts > 0",
        0, NULL, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    waiting = col_i64(res, 0, 0);
    failed = col_i64(res, 0, 1);
    PQclear(res);
    if (waiting) {
        pool_log(POOL_LOG_NOTICE, "publish: %" APR_INT64_T_FMT " result(s) "
                 "wait for another attempt after a failed publication",
                 waiting);
    }
    if (!failed) {
        return POOL_DB_OK;
    }
    rc = pool_db_exec(p, c, "results that failed for good",
        "SELECT r.id::text, p.name, r.group_id::text, r.publish_attempts,"
        "       r.publish_error"
        " FROM results r JOIN pools p ON p.id = r.pool_id"
        " WHERE r.seq IS NULL AND r.publish_failed_at IS NOT NULL"
        " ORDER BY r.publish_failed_at, r.id LIMIT " APR_STRINGIFY(
            PUBLISH_REPORT_MAX),
        0, NULL, 5, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    for (i = 0; i < PQntuples(res); i++) {
        pool_log(POOL_LOG_WARN, "publish: result %s of pool %s (group %s) "
                 "failed for good after %" APR_INT64_T_FMT " attempts: %s; "
                 "once the cause is fixed, 'poolctl results retry %s' "
                 "publishes it", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                 PQgetvalue(res, i, 2), col_i64(res, i, 3),
                 PQgetvalue(res, i, 4), PQgetvalue(res, i, 0));
    }
    if (failed > PQntuples(res)) {
        pool_log(POOL_LOG_WARN, "publish: %" APR_INT64_T_FMT " results "
                 "failed for good in all ('poolctl results retry --all')",
                 failed);
    }
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_step_publish(pool_step_ctx_t *ctx, int *done,
                             const char **err)
{
    apr_pool_t *p = ctx->p;
    PGconn *c = ctx->db;
    PGresult *res;
    pool_db_rc rc;
    int n = 0, failed = 0;

    *done = 0;
    /* one transaction per result; a result that fails is recorded and
     * skipped (due again after its backoff), so it never blocks the queue */
    while (n + failed < ctx->budget) {
        const char *rid, *pool_pk, *name, *pool_name, *why = NULL;
        apr_int64_t seq = 0;
        int attempt, fanout = 0, wait = 0;

        if ((rc = begin(p, c, err)) != POOL_DB_OK) {
            return rc;
        }
        rc = pool_db_exec(p, c, "next result to publish",
            "SELECT r.id::text, r.pool_id, r.name, r.publish_attempts,"
            "       (SELECT name FROM pools WHERE id = r.pool_id)"
            " FROM results r"
            " WHERE r.seq IS NULL AND r.publish_failed_at IS NULL"
            "   AND (r.next_publish_at IS NULL OR r.next_publish_at <= now())"
            " ORDER BY r.received_at LIMIT 1 FOR UPDATE SKIP LOCKED",
            0, NULL, 5, &res, err);
        if (rc != POOL_DB_OK) {
            rollback(p, c);
            return rc;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            rollback(p, c);
            break;
        }
        rid = col_str(p, res, 0, 0);
        pool_pk = col_str(p, res, 0, 1);
        name = col_str(p, res, 0, 2);
        attempt = (int)col_i64(res, 0, 3) + 1;
        pool_name = col_str(p, res, 0, 4);
        PQclear(res);
        /* the row stays locked (ours) while a failure is recorded */
        rc = pool_db_exec0(p, c, "savepoint", "SAVEPOINT publish_one", 0,
                           NULL, err);
        if (rc == POOL_DB_OK) {
            rc = publish_one(ctx, rid, pool_pk, name, &seq, &pool_name,
                             &fanout, &why);
            if (rc == POOL_DB_UNAVAILABLE) {
                *err = why;
            }
            else if (rc != POOL_DB_OK) {
                /* undoes the seq too, so that others take it */
                rc = pool_db_exec0(p, c, "rollback to savepoint",
                                   "ROLLBACK TO SAVEPOINT publish_one", 0,
                                   NULL, err);
                if (rc == POOL_DB_OK) {
                    rc = publish_failed(p, c, rid, attempt, why, &wait, err);
                }
                if (rc == POOL_DB_OK) {
                    seq = 0;
                }
            }
        }
        if (rc != POOL_DB_OK) {
            rollback(p, c);
            return rc;
        }
        if ((rc = commit(p, c, err)) != POOL_DB_OK) {
            return rc;
        }
        if (seq) {
            pool_log(POOL_LOG_INFO, "publish: result %" APR_INT64_T_FMT
                     " of pool %s (%d webhooks queued)", seq, pool_name,
                     fanout);
            n++;
        }
        else {
            /* attempts beyond the last are the ones `results retry` gave */
            const char *which = attempt <= POOL_PUBLISH_MAX_ATTEMPTS
                ? apr_psprintf(p, "%d of %d", attempt,
                               POOL_PUBLISH_MAX_ATTEMPTS)
                : apr_psprintf(p, "%d (a retry)", attempt);

            if (!why) {
                why = "unknown error";
            }
            if (wait > 0) {
                pool_log(POOL_LOG_WARN, "publish: result %s of pool %s: "
                         "attempt %s failed: %s; next attempt in %d s, other "
                         "results go on", rid, pool_name, which, why, wait);
            }
            else {
                pool_log(POOL_LOG_WARN, "publish: result %s of pool %s: "
                         "attempt %s failed: %s; no attempt left, it stays "
                         "unpublished, other results go on", rid, pool_name,
                         which, why);
            }
            failed++;
        }
    }
    *done = n;
    return publish_report(p, c, err);
}

pool_db_rc pool_result_publish_retry(apr_pool_t *p, PGconn *c, const char *id,
                                     int *n, const char **err)
{
    const char *params[1];
    PGresult *res;
    pool_db_rc rc;

    *n = 0;
    if (id && !pool_uuid_valid(id)) {
        return POOL_DB_NOTFOUND;
    }
    params[0] = id;
#define RETRY_PROCESS \
    " pr AS (UPDATE processes pr SET status = 0, updated_at = now()," \
    "   message = 'result received; waiting to be published'" \
    "   FROM groups g, upd WHERE g.id = upd.group_id" \
    "     AND pr.id = g.process_id AND pr.status = 2)"
    if (id) {
        rc = pool_db_exec(p, c, "retry publication",
            "WITH old AS (SELECT id, seq FROM results WHERE id = $1::uuid"
            "   FOR UPDATE),"
            " upd AS (UPDATE results r SET publish_failed_at = NULL,"
            "   next_publish_at = NULL"
            "   FROM old WHERE r.id = old.id AND old.seq IS NULL"
            "   RETURNING r.group_id),"
            RETRY_PROCESS
            " SELECT old.seq IS NOT NULL FROM old",
            1, params, 1, &res, err);
    }
    else {
        rc = pool_db_exec(p, c, "retry publications",
            "WITH upd AS (UPDATE results r SET publish_failed_at = NULL,"
            "   next_publish_at = NULL"
            "   WHERE r.seq IS NULL AND r.publish_attempts > 0"
            "   RETURNING r.group_id),"
            RETRY_PROCESS
            " SELECT count(*) FROM upd",
            0, NULL, 1, &res, err);
    }
#undef RETRY_PROCESS
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (!id) {
        *n = (int)col_i64(res, 0, 0);
        PQclear(res);
        return POOL_DB_OK;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return POOL_DB_NOTFOUND;
    }
    if (col_bool(res, 0, 0)) {
        PQclear(res);
        *err = "the result was published already";
        return POOL_DB_CONFLICT;
    }
    PQclear(res);
    *n = 1;
    return POOL_DB_OK;
}
