/* A pool's clients and enrollment keys in PostgreSQL (pool_clients.h).
 * Every statement is parameterised (pool_db_exec). */
#include <string.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "pool_clients.h"
#include "pool_conf.h"
#include "pool_kdf.h"
#include "pool_name.h"
#include "pool_problem.h"
#include "pool_util.h"

#define SQL_US POOL_SQL_US
#define col_str pool_db_col_str
#define col_i64 pool_db_col_i64
#define col_bool pool_db_col_bool
#define col_time pool_db_col_time

#define CLIENT_ID_PREFIX "cl_"
#define CLIENT_ID_BYTES  12         /* 24 hex digits */
#define CLIENT_ID_MAX    64
#define KEY_ID_PREFIX    "ek_"
#define KEY_ID_BYTES     8          /* 16 hex digits */
#define ADD_ATTEMPTS     3
#define TAKEN_SHOWN      10         /* names listed when an import clashes */

static void set_err(const char **err, const char *msg)
{
    if (err) {
        *err = msg;
    }
}

/* ------------------------------------------------------------------ labels */

static const char *label_key_check(const char *k)
{
    apr_size_t i, n = strlen(k);

    if (n == 0 || n > POOL_LABEL_KEY_MAX
        || !(apr_islower(k[0]) || apr_isdigit(k[0]))) {
        return "must start with a-z or 0-9 and have at most 63 characters";
    }
    for (i = 1; i < n; i++) {
        if (!(apr_islower(k[i]) || apr_isdigit(k[i]) || k[i] == '.'
              || k[i] == '_' || k[i] == '/' || k[i] == '-')) {
            return "may hold only a-z, 0-9, '.', '_', '/' and '-'";
        }
    }
    return NULL;
}

static const char *label_value_check(const char *v, apr_size_t n)
{
    apr_size_t i;

    if (n > POOL_LABEL_VALUE_MAX) {
        return "is longer than 256 bytes";
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            return "contains a control character";
        }
    }
    return NULL;
}

const char *pool_labels_check(apr_pool_t *p, const json_t *labels, int merge)
{
    const char *k, *why;
    json_t *v;

    if (!json_is_object(labels)) {
        return "labels must be an object of \"key\": \"value\" strings";
    }
    if (json_object_size(labels) > POOL_LABELS_MAX) {
        return apr_psprintf(p, "at most %d labels", POOL_LABELS_MAX);
    }
    json_object_foreach((json_t *)labels, k, v) {
        if ((why = label_key_check(k)) != NULL) {
            return apr_psprintf(p, "label '%s': the key %s",
                                pool_conf_show(p, k), why);
        }
        if (merge && json_is_null(v)) {
            continue;
        }
        if (!json_is_string(v)) {
            return apr_psprintf(p, "label '%s': the value must be a string%s",
                                k, merge ? " (or null to remove it)" : "");
        }
        if ((why = label_value_check(json_string_value(v),
                                     json_string_length(v))) != NULL) {
            return apr_psprintf(p, "label '%s': the value %s", k, why);
        }
    }
    return NULL;
}

const char *pool_label_parse(apr_pool_t *p, const char *kv, json_t **labels)
{
    const char *eq = strchr(kv, '='), *why;
    char *k;

    if (!eq) {
        return apr_psprintf(p, "label '%s' is not key=value",
                            pool_conf_show(p, kv));
    }
    k = apr_pstrmemdup(p, kv, (apr_size_t)(eq - kv));
    if ((why = label_key_check(k)) != NULL) {
        return apr_psprintf(p, "label '%s': the key %s",
                            pool_conf_show(p, k), why);
    }
    if ((why = label_value_check(eq + 1, strlen(eq + 1))) != NULL) {
        return apr_psprintf(p, "label '%s': the value %s", k, why);
    }
    if (!*labels && !(*labels = json_object())) {
        return "out of memory";
    }
    if (json_object_set_new(*labels, k, json_string(eq + 1)) != 0) {
        return apr_psprintf(p, "label '%s': the value is not UTF-8", k);
    }
    if (json_object_size(*labels) > POOL_LABELS_MAX) {
        return apr_psprintf(p, "at most %d labels", POOL_LABELS_MAX);
    }
    return NULL;
}

/* ----------------------------------------------------------------- clients */

#define CLIENT_COLS \
    "c.id, c.client_id, p.name, c.name, c.role, c.disabled_at IS NOT NULL, " \
    SQL_US("c.created_at") ", c.labels::text"
#define CLIENT_NCOLS 8

static pool_client_t *client_row(apr_pool_t *p, const PGresult *r, int row)
{
    pool_client_t *cl = apr_pcalloc(p, sizeof(*cl));

    cl->id = col_i64(r, row, 0);
    cl->client_id = col_str(p, r, row, 1);
    cl->pool = col_str(p, r, row, 2);
    cl->name = col_str(p, r, row, 3);
    cl->role = col_str(p, r, row, 4);
    cl->disabled = col_bool(r, row, 5);
    cl->created_at = col_time(p, r, row, 6);
    cl->labels = col_str(p, r, row, 7);
    return cl;
}

static const char *new_client_id(apr_pool_t *p)
{
    unsigned char rnd[CLIENT_ID_BYTES];

    if (pool_random(rnd, sizeof(rnd)) != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrcat(p, CLIENT_ID_PREFIX, pool_hex(p, rnd, sizeof(rnd)),
                       NULL);
}

/* A new secret and its stored hash. */
static int new_secret(apr_pool_t *p, const char **secret, const char **hash)
{
    *secret = pool_secret_new(p);
    *hash = *secret ? pool_secret_hash(p, *secret) : NULL;
    return *hash != NULL;
}

/* The insert of one client; key_pk: the enrollment key's row or NULL. */
static pool_db_rc client_insert(apr_pool_t *p, PGconn *c, const char *pool,
                                const pool_client_new_t *in,
                                const char *hash, const char *key_pk,
                                pool_client_t **out, const char **err)
{
    const char *params[7], *constraint;
    PGresult *r;
    pool_db_rc rc = POOL_DB_ERROR;
    int attempt;

    params[1] = pool;
    params[2] = in->name;
    params[3] = in->role;
    params[4] = hash;
    params[5] = in->labels;
    params[6] = key_pk;
    for (attempt = 0; attempt < ADD_ATTEMPTS; attempt++) {
        if (!(params[0] = new_client_id(p))) {
            set_err(err, "add client: no randomness for a client id");
            return POOL_DB_ERROR;
        }
        rc = pool_db_exec_constraint(p, c, "add client",
            "WITH c AS (INSERT INTO clients (client_id, pool_id, name, role,"
            " secret_hash, labels, enroll_key_id)"
            " SELECT $1, p.id, $3, $4, $5, coalesce($6::jsonb, '{}'),"
            " $7::bigint FROM pools p WHERE p.name = $2 RETURNING *)"
            " SELECT " CLIENT_COLS " FROM c JOIN pools p ON p.id = c.pool_id",
            7, params, CLIENT_NCOLS, &r, &constraint, err);
        if (rc == POOL_DB_CONFLICT && constraint
            && !strcmp(constraint, "clients_client_id_key")) {
            continue;           /* a client_id collision: draw again */
        }
        break;
    }
    if (rc == POOL_DB_CONFLICT) {
        set_err(err, apr_psprintf(p, "a client named '%s' already exists in "
                                  "pool '%s'", in->name, pool));
        return rc;
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "pool '%s' not found", pool));
        return POOL_DB_NOTFOUND;
    }
    *out = client_row(p, r, 0);
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_client_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const pool_client_new_t *in,
                              pool_client_t **out, const char **secret,
                              const char **err)
{
    const char *hash;

    if (!new_secret(p, secret, &hash)) {
        set_err(err, "add client: cannot create a secret (no randomness)");
        return POOL_DB_ERROR;
    }
    return client_insert(p, c, pool, in, hash, NULL, out, err);
}

pool_db_rc pool_db_client_add(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *name, const char *role,
                              pool_client_t **out, const char **secret,
                              const char **err)
{
    pool_client_new_t in = { name, role, NULL };
    pool_client_t *cl;
    const char *sec;
    pool_db_rc rc = pool_client_create(p, c, pool, &in, &cl, &sec, err);

    if (rc == POOL_DB_OK) {
        if (out) {
            *out = cl;
        }
        if (secret) {
            *secret = sec;
        }
    }
    return rc;
}

pool_db_rc pool_client_list(apr_pool_t *p, PGconn *c, const char *pool,
                            const pool_client_filter_t *f,
                            apr_array_header_t **out, const char **err)
{
    const char *params[5];
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    params[0] = pool;
    params[1] = f ? f->role : NULL;
    params[2] = f ? f->labels : NULL;
    params[3] = f ? f->after : NULL;
    params[4] = f && f->limit > 0 ? apr_itoa(p, f->limit) : NULL;
    /* The LEFT JOIN tells "no such pool" (no row) from "no clients" (one
     * row of NULLs); the filters are part of the join for that reason. */
    rc = pool_db_exec(p, c, "list clients",
             "SELECT " CLIENT_COLS " FROM pools p"
             " LEFT JOIN clients c ON c.pool_id = p.id"
             " AND ($2::text IS NULL OR c.role = $2)"
             " AND ($3::jsonb IS NULL OR c.labels @> $3::jsonb)"
             " AND ($4::text IS NULL OR c.name > $4)"
             " WHERE p.name = $1 ORDER BY c.name LIMIT $5::int",
             5, params, CLIENT_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "pool '%s' not found", pool));
        return POOL_DB_NOTFOUND;
    }
    *out = apr_array_make(p, n, sizeof(pool_client_t *));
    for (i = 0; i < n; i++) {
        if (!PQgetisnull(r, i, 0)) {
            APR_ARRAY_PUSH(*out, pool_client_t *) = client_row(p, r, i);
        }
    }
    PQclear(r);
    return POOL_DB_OK;
}

/* The one row r holds, or NOTFOUND naming the client. */
static pool_db_rc one_client(apr_pool_t *p, PGresult *r,
                             const char *client_id, pool_client_t **out,
                             const char **err)
{
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "client '%s' not found",
                                  pool_conf_show(p, client_id)));
        return POOL_DB_NOTFOUND;
    }
    *out = client_row(p, r, 0);
    return POOL_DB_OK;
}

pool_db_rc pool_client_show(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *client_id, pool_client_t **out,
                            const char **err)
{
    const char *params[2] = { pool, client_id };
    PGresult *r;
    pool_db_rc rc;

    if (!client_id || strlen(client_id) > CLIENT_ID_MAX) {
        set_err(err, "client not found");
        return POOL_DB_NOTFOUND;
    }
    rc = pool_db_exec(p, c, "show client",
                      "SELECT " CLIENT_COLS " FROM clients c"
                      " JOIN pools p ON p.id = c.pool_id"
                      " WHERE ($1::text IS NULL OR p.name = $1)"
                      " AND c.client_id = $2",
                      2, params, CLIENT_NCOLS, &r, err);
    if (rc == POOL_DB_OK && (rc = one_client(p, r, client_id, out, err))
                            == POOL_DB_OK) {
        PQclear(r);
    }
    return rc;
}

pool_db_rc pool_db_client_get(apr_pool_t *p, PGconn *c, const char *client_id,
                              pool_client_t **out, const char **err)
{
    const char *params[1] = { client_id };
    PGresult *r;
    pool_db_rc rc;

    if (!client_id || strlen(client_id) > CLIENT_ID_MAX) {
        set_err(err, "client not found");
        return POOL_DB_NOTFOUND;
    }
    rc = pool_db_exec(p, c, "get client",
             "SELECT " CLIENT_COLS ", c.secret_hash,"
             " CASE WHEN c.prev_secret_until > now()"
             " THEN c.prev_secret_hash END"
             " FROM clients c JOIN pools p ON p.id = c.pool_id"
             " WHERE c.client_id = $1",
             1, params, CLIENT_NCOLS + 2, &r, err);
    if (rc != POOL_DB_OK
        || (rc = one_client(p, r, client_id, out, err)) != POOL_DB_OK) {
        return rc;
    }
    (*out)->secret_hash = col_str(p, r, 0, CLIENT_NCOLS);
    (*out)->prev_secret_hash = col_str(p, r, 0, CLIENT_NCOLS + 1);
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_db_client_disable(apr_pool_t *p, PGconn *c,
                                  const char *client_id, const char **err)
{
    const char *params[1] = { client_id };
    PGresult *r;
    pool_db_rc rc;
    int n;

    if (!client_id || strlen(client_id) > CLIENT_ID_MAX) {
        set_err(err, "client not found");
        return POOL_DB_NOTFOUND;
    }
    /* Disabling twice keeps the first time. */
    rc = pool_db_exec(p, c, "disable client",
                      "UPDATE clients SET disabled_at = coalesce(disabled_at,"
                      " now()) WHERE client_id = $1 RETURNING id",
                      1, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        set_err(err, apr_psprintf(p, "client '%s' not found", client_id));
        return POOL_DB_NOTFOUND;
    }
    return POOL_DB_OK;
}

pool_db_rc pool_client_update(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, int disabled,
                              const char *labels_patch, pool_client_t **out,
                              const char **err)
{
    const char *params[4];
    PGresult *r;
    pool_db_rc rc;
    apr_int64_t nlabels;

    if (!client_id || strlen(client_id) > CLIENT_ID_MAX) {
        set_err(err, "client not found");
        return POOL_DB_NOTFOUND;
    }
    params[0] = pool;
    params[1] = client_id;
    params[2] = apr_itoa(p, disabled);
    params[3] = labels_patch;
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    /* jsonb_strip_nulls(old || patch) is RFC 7396 for flat objects.
     * Disabling twice keeps the first time. */
    rc = pool_db_exec(p, c, "update client",
             "WITH c AS (UPDATE clients c SET disabled_at = CASE $3::int"
             " WHEN 1 THEN coalesce(c.disabled_at, now()) WHEN 0 THEN NULL"
             " ELSE c.disabled_at END,"
             " labels = CASE WHEN $4::jsonb IS NULL THEN c.labels"
             " ELSE jsonb_strip_nulls(c.labels || $4::jsonb) END"
             " FROM pools p WHERE p.id = c.pool_id"
             " AND ($1::text IS NULL OR p.name = $1)"
             " AND c.client_id = $2 RETURNING c.*)"
             " SELECT " CLIENT_COLS ","
             " (SELECT count(*) FROM jsonb_object_keys(c.labels))"
             " FROM c JOIN pools p ON p.id = c.pool_id",
             4, params, CLIENT_NCOLS + 1, &r, err);
    if (rc != POOL_DB_OK
        || (rc = one_client(p, r, client_id, out, err)) != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    nlabels = col_i64(r, 0, CLIENT_NCOLS);
    PQclear(r);
    if (nlabels > POOL_LABELS_MAX) {
        set_err(err, apr_psprintf(p, "the client would have %" APR_INT64_T_FMT
                                  " labels; at most %d", nlabels,
                                  POOL_LABELS_MAX));
        return pool_db_rollback(p, c, POOL_DB_REFUSED);
    }
    return pool_db_end(p, c, rc, err);
}

pool_db_rc pool_client_rotate(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, int grace,
                              const char **secret, const char **until,
                              const char **err)
{
    const char *params[4], *hash;
    PGresult *r;
    pool_db_rc rc;

    if (!client_id || strlen(client_id) > CLIENT_ID_MAX) {
        set_err(err, "client not found");
        return POOL_DB_NOTFOUND;
    }
    if (grace < 0 || grace > POOL_ROTATE_GRACE_MAX) {
        set_err(err, "the grace period must be 0 to 604800 seconds");
        return POOL_DB_ERROR;
    }
    if (!new_secret(p, secret, &hash)) {
        set_err(err, "rotate secret: cannot create a secret (no randomness)");
        return POOL_DB_ERROR;
    }
    params[0] = pool;
    params[1] = client_id;
    params[2] = hash;
    params[3] = apr_itoa(p, grace);
    rc = pool_db_exec(p, c, "rotate secret",
             "UPDATE clients c SET"
             " prev_secret_hash = CASE WHEN $4::int > 0 THEN c.secret_hash END,"
             " prev_secret_until = CASE WHEN $4::int > 0"
             " THEN now() + $4::int * interval '1 second' END,"
             " secret_hash = $3"
             " FROM pools p WHERE p.id = c.pool_id"
             " AND ($1::text IS NULL OR p.name = $1)"
             " AND c.client_id = $2 RETURNING " SQL_US("c.prev_secret_until"),
             4, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "client '%s' not found", client_id));
        return POOL_DB_NOTFOUND;
    }
    *until = col_time(p, r, 0, 0);
    PQclear(r);
    return POOL_DB_OK;
}

/* NOTFOUND when pool does not exist, else OK with *names: the names of
 * items already taken (up to TAKEN_SHOWN, ", "-separated) or NULL. */
static pool_db_rc import_check(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *names, const char **taken,
                               const char **err)
{
    const char *params[3] = { pool, names, apr_itoa(p, TAKEN_SHOWN) };
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    rc = pool_db_exec(p, c, "check import",
                      "SELECT c.name FROM pools p LEFT JOIN clients c"
                      " ON c.pool_id = p.id AND c.name = ANY($2::text[])"
                      " WHERE p.name = $1 ORDER BY c.name LIMIT $3::int",
                      3, params, 1, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    n = PQntuples(r);
    *taken = NULL;
    for (i = 0; i < n; i++) {
        if (!PQgetisnull(r, i, 0)) {
            const char *name = col_str(p, r, i, 0);
            *taken = *taken ? apr_pstrcat(p, *taken, ", ", name, NULL) : name;
        }
    }
    PQclear(r);
    if (n == 0) {
        set_err(err, apr_psprintf(p, "pool '%s' not found", pool));
        return POOL_DB_NOTFOUND;
    }
    return POOL_DB_OK;
}

/* One INSERT of every item, with new ids and the hashes of *secrets. */
static pool_db_rc import_insert(apr_pool_t *p, PGconn *c, const char *pool,
                                const apr_array_header_t *items,
                                apr_array_header_t *secrets,
                                apr_array_header_t **out, const char **err)
{
    int i, n = items->nelts, attempt;
    const char **ids = apr_pcalloc(p, sizeof(char *) * (n + 1));
    const char **names = apr_pcalloc(p, sizeof(char *) * (n + 1));
    const char **roles = apr_pcalloc(p, sizeof(char *) * (n + 1));
    const char **hashes = apr_pcalloc(p, sizeof(char *) * (n + 1));
    const char **labels = apr_pcalloc(p, sizeof(char *) * (n + 1));
    const char *params[6], *constraint;
    apr_hash_t *by_id;
    PGresult *r;
    pool_db_rc rc = POOL_DB_ERROR;

    for (i = 0; i < n; i++) {
        const pool_client_new_t *in = &APR_ARRAY_IDX(items, i,
                                                     pool_client_new_t);
        const char *secret, *hash;

        if (!new_secret(p, &secret, &hash)) {
            set_err(err, "import: cannot create a secret (no randomness)");
            return POOL_DB_ERROR;
        }
        APR_ARRAY_PUSH(secrets, const char *) = secret;
        names[i] = in->name;
        roles[i] = in->role;
        hashes[i] = hash;
        labels[i] = in->labels ? in->labels : "{}";
    }
    params[0] = pool;
    params[2] = pool_db_array(p, names, n);
    params[3] = pool_db_array(p, roles, n);
    params[4] = pool_db_array(p, hashes, n);
    params[5] = pool_db_array(p, labels, n);
    for (attempt = 0; attempt < ADD_ATTEMPTS; attempt++) {
        for (i = 0; i < n; i++) {
            if (!(ids[i] = new_client_id(p))) {
                set_err(err, "import: no randomness for client ids");
                return POOL_DB_ERROR;
            }
        }
        params[1] = pool_db_array(p, ids, n);
        rc = pool_db_exec0(p, c, "savepoint", "SAVEPOINT import", 0, NULL,
                           err);
        if (rc != POOL_DB_OK) {
            return rc;
        }
        rc = pool_db_exec_constraint(p, c, "import clients",
            "WITH c AS (INSERT INTO clients (client_id, pool_id, name, role,"
            " secret_hash, labels)"
            " SELECT u.id, p.id, u.name, u.role, u.hash, u.labels::jsonb"
            " FROM pools p, unnest($2::text[], $3::text[], $4::text[],"
            " $5::text[], $6::text[]) AS u(id, name, role, hash, labels)"
            " WHERE p.name = $1 RETURNING *)"
            " SELECT " CLIENT_COLS " FROM c JOIN pools p ON p.id = c.pool_id",
            6, params, CLIENT_NCOLS, &r, &constraint, err);
        if (rc == POOL_DB_CONFLICT && constraint
            && !strcmp(constraint, "clients_client_id_key")) {
            rc = pool_db_exec0(p, c, "rollback to savepoint",
                               "ROLLBACK TO SAVEPOINT import", 0, NULL, err);
            if (rc != POOL_DB_OK) {
                return rc;
            }
            continue;           /* an id collision: draw them all again */
        }
        break;
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != n) {
        PQclear(r);
        set_err(err, "import: not every client was created");
        return POOL_DB_ERROR;
    }
    /* RETURNING's order is not promised: put the rows in the items' order */
    by_id = apr_hash_make(p);
    for (i = 0; i < n; i++) {
        pool_client_t *cl = client_row(p, r, i);
        apr_hash_set(by_id, cl->client_id, APR_HASH_KEY_STRING, cl);
    }
    PQclear(r);
    *out = apr_array_make(p, n, sizeof(pool_client_t *));
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(*out, pool_client_t *) =
            apr_hash_get(by_id, ids[i], APR_HASH_KEY_STRING);
    }
    return POOL_DB_OK;
}

pool_db_rc pool_client_import(apr_pool_t *p, PGconn *c, const char *pool,
                              const apr_array_header_t *items,
                              pool_import_keep_fn *keep, void *baton,
                              const char **err)
{
    apr_array_header_t *out = NULL, *secrets;
    const char **names, *taken = NULL;
    pool_db_rc rc;
    int i;

    if (items->nelts < 1 || items->nelts > POOL_IMPORT_MAX) {
        set_err(err, apr_psprintf(p, "an import has 1 to %d clients",
                                  POOL_IMPORT_MAX));
        return POOL_DB_ERROR;
    }
    names = apr_pcalloc(p, sizeof(char *) * items->nelts);
    for (i = 0; i < items->nelts; i++) {
        names[i] = APR_ARRAY_IDX(items, i, pool_client_new_t).name;
    }
    secrets = apr_array_make(p, items->nelts, sizeof(const char *));
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = import_check(p, c, pool, pool_db_array(p, names, items->nelts),
                      &taken, err);
    if (rc == POOL_DB_OK && taken) {
        set_err(err, apr_psprintf(p, "names already taken in pool '%s': %s",
                                  pool, taken));
        rc = POOL_DB_CONFLICT;
    }
    if (rc == POOL_DB_OK) {
        rc = import_insert(p, c, pool, items, secrets, &out, err);
    }
    if (rc == POOL_DB_OK && keep && keep(baton, out, secrets, err)) {
        rc = POOL_DB_ERROR;
    }
    if (rc == POOL_DB_CONFLICT && !taken) {
        set_err(err, "a name was taken by another client while importing; "
                "nothing was imported");
    }
    return pool_db_end(p, c, rc, err);
}

/* --------------------------------------------------------- enrollment keys */

#define KEY_COLS \
    "k.key_id, p.name, k.role, k.labels::text, coalesce(k.uses_max, 0)," \
    " k.uses, " SQL_US("k.expires_at") ", " SQL_US("k.revoked_at") "," \
    " k.created_by, " SQL_US("k.created_at") "," \
    " CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'" \
    " WHEN k.expires_at <= now() THEN 'expired'" \
    " WHEN k.uses_max IS NOT NULL AND k.uses >= k.uses_max THEN 'used'" \
    " ELSE 'active' END"
#define KEY_NCOLS 11

static pool_enroll_key_t *key_row(apr_pool_t *p, const PGresult *r, int row)
{
    pool_enroll_key_t *k = apr_pcalloc(p, sizeof(*k));

    k->key_id = col_str(p, r, row, 0);
    k->pool = col_str(p, r, row, 1);
    k->role = col_str(p, r, row, 2);
    k->labels = col_str(p, r, row, 3);
    k->uses_max = (int)col_i64(r, row, 4);
    k->uses = (int)col_i64(r, row, 5);
    k->expires_at = col_time(p, r, row, 6);
    k->revoked_at = col_time(p, r, row, 7);
    k->created_by = col_str(p, r, row, 8);
    k->created_at = col_time(p, r, row, 9);
    k->state = col_str(p, r, row, 10);
    return k;
}

static pool_db_rc one_key(apr_pool_t *p, PGresult *r, const char *key_id,
                          pool_enroll_key_t **out, const char **err)
{
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "enrollment key '%s' not found",
                                  pool_conf_show(p, key_id)));
        return POOL_DB_NOTFOUND;
    }
    *out = key_row(p, r, 0);
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_enroll_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *role, int uses_max, int lifetime,
                              const char *labels, const char *created_by,
                              pool_enroll_key_t **out, const char **token,
                              const char **err)
{
    unsigned char rnd[KEY_ID_BYTES];
    const char *params[8], *secret, *hash, *constraint;
    PGresult *r;
    pool_db_rc rc = POOL_DB_ERROR;
    int attempt;

    if (lifetime < 1 || lifetime > POOL_ENROLL_LIFETIME_MAX || uses_max < 0) {
        set_err(err, "an enrollment key lives 1 s to 90 days, for 1 or more "
                "uses");
        return POOL_DB_ERROR;
    }
    if (!new_secret(p, &secret, &hash)) {
        set_err(err, "enrollment key: no randomness");
        return POOL_DB_ERROR;
    }
    params[1] = pool;
    params[2] = role;
    params[3] = hash;
    params[4] = labels;
    params[5] = uses_max > 0 ? apr_itoa(p, uses_max) : NULL;
    params[6] = apr_itoa(p, lifetime);
    params[7] = created_by;
    for (attempt = 0; attempt < ADD_ATTEMPTS; attempt++) {
        if (pool_random(rnd, sizeof(rnd)) != APR_SUCCESS) {
            set_err(err, "enrollment key: no randomness");
            return POOL_DB_ERROR;
        }
        params[0] = apr_pstrcat(p, KEY_ID_PREFIX, pool_hex(p, rnd,
                                                           sizeof(rnd)), NULL);
        rc = pool_db_exec_constraint(p, c, "create enrollment key",
            "WITH k AS (INSERT INTO enroll_keys (key_id, pool_id, role,"
            " secret_hash, labels, uses_max, expires_at, created_by)"
            " SELECT $1, p.id, $3, $4, coalesce($5::jsonb, '{}'), $6::int,"
            " now() + $7::int * interval '1 second', $8"
            " FROM pools p WHERE p.name = $2 RETURNING *)"
            " SELECT " KEY_COLS " FROM k JOIN pools p ON p.id = k.pool_id",
            8, params, KEY_NCOLS, &r, &constraint, err);
        if (rc != POOL_DB_CONFLICT) {
            break;              /* else a key_id collision: draw again */
        }
    }
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if ((rc = one_key(p, r, pool, out, err)) == POOL_DB_NOTFOUND) {
        set_err(err, apr_psprintf(p, "pool '%s' not found", pool));
        return rc;
    }
    *token = apr_pstrcat(p, (*out)->key_id, "_", secret, NULL);
    return POOL_DB_OK;
}

pool_db_rc pool_enroll_list(apr_pool_t *p, PGconn *c, const char *pool,
                            apr_array_header_t **out, const char **err)
{
    const char *params[1] = { pool };
    PGresult *r;
    pool_db_rc rc;
    int i, n;

    rc = pool_db_exec(p, c, "list enrollment keys",
                      "SELECT " KEY_COLS " FROM pools p LEFT JOIN enroll_keys"
                      " k ON k.pool_id = p.id WHERE p.name = $1"
                      " ORDER BY k.created_at DESC, k.id DESC",
                      1, params, KEY_NCOLS, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if ((n = PQntuples(r)) == 0) {
        PQclear(r);
        set_err(err, apr_psprintf(p, "pool '%s' not found", pool));
        return POOL_DB_NOTFOUND;
    }
    *out = apr_array_make(p, n, sizeof(pool_enroll_key_t *));
    for (i = 0; i < n; i++) {
        if (!PQgetisnull(r, i, 0)) {
            APR_ARRAY_PUSH(*out, pool_enroll_key_t *) = key_row(p, r, i);
        }
    }
    PQclear(r);
    return POOL_DB_OK;
}

pool_db_rc pool_enroll_show(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *key_id, pool_enroll_key_t **out,
                            const char **err)
{
    const char *params[2] = { pool, key_id };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "show enrollment key",
                      "SELECT " KEY_COLS " FROM enroll_keys k"
                      " JOIN pools p ON p.id = k.pool_id"
                      " WHERE p.name = $1 AND k.key_id = $2",
                      2, params, KEY_NCOLS, &r, err);
    return rc == POOL_DB_OK ? one_key(p, r, key_id, out, err) : rc;
}

pool_db_rc pool_enroll_revoke(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *key_id, pool_enroll_key_t **out,
                              const char **err)
{
    const char *params[2] = { pool, key_id };
    PGresult *r;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "revoke enrollment key",
                      "WITH k AS (UPDATE enroll_keys k"
                      " SET revoked_at = coalesce(k.revoked_at, now())"
                      " FROM pools p WHERE p.id = k.pool_id AND p.name = $1"
                      " AND k.key_id = $2 RETURNING k.*)"
                      " SELECT " KEY_COLS " FROM k JOIN pools p"
                      " ON p.id = k.pool_id",
                      2, params, KEY_NCOLS, &r, err);
    return rc == POOL_DB_OK ? one_key(p, r, key_id, out, err) : rc;
}

const char *pool_enroll_token_id(apr_pool_t *p, const char *token)
{
    apr_size_t idlen = sizeof(KEY_ID_PREFIX) - 1 + 2 * KEY_ID_BYTES;
    apr_size_t i;

    if (!token || strncmp(token, KEY_ID_PREFIX, sizeof(KEY_ID_PREFIX) - 1)
        || strlen(token) <= idlen + 1 || token[idlen] != '_'
        || strlen(token) > idlen + 1 + 128) {
        return NULL;
    }
    for (i = sizeof(KEY_ID_PREFIX) - 1; i < idlen; i++) {
        if (!apr_isdigit(token[i]) && !(token[i] >= 'a' && token[i] <= 'f')) {
            return NULL;
        }
    }
    return apr_pstrmemdup(p, token, idlen);
}

/* Locks the key (concurrent enrollments count exactly) and checks token's
 * secret and the key's state.  *key_pk, *role, *labels on OK. */
static pool_db_rc enroll_claim(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *token, const char **key_pk,
                               const char **role, const char **labels,
                               const char **err)
{
    const char *key_id = pool_enroll_token_id(p, token), *params[2], *state;
    apr_size_t idlen;
    PGresult *r;
    pool_db_rc rc;

    if (!key_id) {
        set_err(err, "not an enrollment key");
        return POOL_DB_NOTFOUND;
    }
    idlen = strlen(key_id);
    params[0] = pool;
    params[1] = key_id;
    rc = pool_db_exec(p, c, "use enrollment key",
                      "SELECT k.id, k.secret_hash, k.role, k.labels::text,"
                      " CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'"
                      " WHEN k.expires_at <= now() THEN 'expired'"
                      " WHEN k.uses_max IS NOT NULL AND k.uses >= k.uses_max"
                      " THEN 'used up' END"
                      " FROM enroll_keys k JOIN pools p ON p.id = k.pool_id"
                      " WHERE p.name = $1 AND k.key_id = $2 FOR UPDATE OF k",
                      2, params, 5, &r, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(r) != 1
        || !pool_kdf_verify(token + idlen + 1, PQgetvalue(r, 0, 1))) {
        PQclear(r);
        set_err(err, "unknown or wrong enrollment key");
        return POOL_DB_NOTFOUND;
    }
    *key_pk = col_str(p, r, 0, 0);
    *role = col_str(p, r, 0, 2);
    *labels = col_str(p, r, 0, 3);
    state = col_str(p, r, 0, 4);
    PQclear(r);
    if (state) {
        set_err(err, apr_psprintf(p, "the enrollment key is %s", state));
        return POOL_DB_REFUSED;
    }
    return POOL_DB_OK;
}

pool_db_rc pool_enroll_use(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *token, const char *name,
                           const char *labels, pool_client_t **out,
                           const char **secret, pool_problem_t *pr,
                           const char **err)
{
    const char *key_pk, *role, *key_labels, *hash, *params[2];
    pool_client_new_t in;
    PGresult *r;
    pool_db_rc rc;

    pool_problem_set(pr, 0, NULL, NULL);
    if (!new_secret(p, secret, &hash)) {
        set_err(err, "enroll: cannot create a secret (no randomness)");
        return POOL_DB_ERROR;
    }
    if ((rc = pool_db_begin(p, c, err)) != POOL_DB_OK) {
        return rc;
    }
    rc = enroll_claim(p, c, pool, token, &key_pk, &role, &key_labels, err);
    if (rc == POOL_DB_NOTFOUND) {
        pool_problem_set(pr, 401, *err, NULL);
    }
    else if (rc == POOL_DB_REFUSED) {
        pool_problem_set(pr, 403, *err, NULL);
    }
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    in.name = name;
    in.role = role;
    in.labels = key_labels;
    if (labels) {
        /* the application's labels win over the key's */
        const char *lp[2] = { key_labels, labels };
        rc = pool_db_exec(p, c, "merge labels",
                          "SELECT ($1::jsonb || $2::jsonb)::text,"
                          " (SELECT count(*) FROM jsonb_object_keys("
                          "$1::jsonb || $2::jsonb))", 2, lp, 2, &r, err);
        if (rc != POOL_DB_OK) {
            return pool_db_rollback(p, c, rc);
        }
        in.labels = col_str(p, r, 0, 0);
        if (col_i64(r, 0, 1) > POOL_LABELS_MAX) {
            PQclear(r);
            pool_problem_set(pr, 422, apr_psprintf(p, "with the labels of "
                             "the enrollment key the client would have more "
                             "than %d labels", POOL_LABELS_MAX), "labels");
            set_err(err, pr->detail);
            return pool_db_rollback(p, c, POOL_DB_REFUSED);
        }
        PQclear(r);
    }
    rc = client_insert(p, c, pool, &in, hash, key_pk, out, err);
    if (rc == POOL_DB_CONFLICT) {
        pool_problem_set(pr, 409, *err, "name");
    }
    if (rc == POOL_DB_OK) {
        params[0] = key_pk;
        rc = pool_db_exec0(p, c, "count enrollment",
                           "UPDATE enroll_keys SET uses = uses + 1"
                           " WHERE id = $1::bigint", 1, params, err);
    }
    return pool_db_end(p, c, rc, err);
}
