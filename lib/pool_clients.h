/* A pool's clients in PostgreSQL (sql/001, sql/012): creating one, many at
 * once (import) or by an application itself with an enrollment key;
 * listing with label filters; disabling, labels; secret rotation with a
 * grace period.  Secrets are made here (pool_secret_new), returned once and
 * stored only as hashes (pool_kdf.h). */
#ifndef POOL_CLIENTS_H
#define POOL_CLIENTS_H

#include <jansson.h>

#include "pool_db.h"
#include "pool_problem.h"

#define POOL_LABELS_MAX        32     /* labels of one client */
#define POOL_LABEL_KEY_MAX     63
#define POOL_LABEL_VALUE_MAX   256
#define POOL_ROTATE_GRACE_MAX  (7 * 86400)   /* seconds */
#define POOL_ENROLL_LIFETIME_MAX (90 * 86400)  /* seconds */
#define POOL_IMPORT_MAX        100000  /* clients in one import */

/* NULL when labels (a JSON object) are valid: at most POOL_LABELS_MAX keys
 * of [a-z0-9][a-z0-9._/-]{0,62}, string values of at most
 * POOL_LABEL_VALUE_MAX bytes without control characters.  merge: values
 * may also be null (a merge patch removing that label).  Else the reason
 * (English, naming the label). */
const char *pool_labels_check(apr_pool_t *p, const json_t *labels, int merge);

/* Parses "key=value" into *labels (an object, created when NULL); NULL or
 * the reason. */
const char *pool_label_parse(apr_pool_t *p, const char *kv, json_t **labels);

/* A client to create.  labels: JSON object text or NULL. */
typedef struct {
    const char *name;
    const char *role;
    const char *labels;
} pool_client_new_t;

/* Creates a client of pool with a new client_id and secret (*secret, shown
 * once).  NOTFOUND: no such pool; CONFLICT: the name is taken. */
pool_db_rc pool_client_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const pool_client_new_t *in,
                              pool_client_t **out, const char **secret,
                              const char **err);

/* pool_client_create without labels. */
pool_db_rc pool_db_client_add(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *name, const char *role,
                              pool_client_t **out, const char **secret,
                              const char **err);
/* Any pool's client by id, with secret_hash (and prev_secret_hash while a
 * rotation's grace runs): for authentication. */
pool_db_rc pool_db_client_get(apr_pool_t *p, PGconn *c, const char *client_id,
                              pool_client_t **out, const char **err);
/* Disables any pool's client by id (again: keeps the first time). */
pool_db_rc pool_db_client_disable(apr_pool_t *p, PGconn *c,
                                  const char *client_id, const char **err);

/* Which clients a listing shows: all when fields are NULL/0.  labels: a
 * JSON object text every shown client's labels contain.  after: a name
 * (the listing is by name); limit 0: no limit. */
typedef struct {
    const char *role;
    const char *labels;
    const char *after;
    int limit;
} pool_client_filter_t;

/* Array of pool_client_t*, by name.  NOTFOUND if the pool does not exist. */
pool_db_rc pool_client_list(apr_pool_t *p, PGconn *c, const char *pool,
                            const pool_client_filter_t *f,
                            apr_array_header_t **out, const char **err);

/* One client of pool (NOTFOUND also for a client of another pool; pool
 * NULL: of any pool). */
pool_db_rc pool_client_show(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *client_id, pool_client_t **out,
                            const char **err);

/* Changes a client of pool (NULL: of any pool): disabled -1 keeps, 0 enables, 1 disables;
 * labels_patch (JSON object text or NULL) is merged (RFC 7396: a null
 * value removes the label).  *out: the client as it is now. */
pool_db_rc pool_client_update(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, int disabled,
                              const char *labels_patch, pool_client_t **out,
                              const char **err);

/* Gives a client of pool (NULL: of any pool) a new secret (*secret, once); the one it had is
 * still accepted for grace seconds (0..POOL_ROTATE_GRACE_MAX; 0: not at
 * all), and *until (RFC 3339, NULL when grace is 0) says until when.  A
 * secret still in its grace period from an earlier rotation is dropped. */
pool_db_rc pool_client_rotate(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, int grace,
                              const char **secret, const char **until,
                              const char **err);

/* Called before the import commits, with the clients (pool_client_t*)
 * and their secrets (const char *) in the order of the items: where the
 * caller keeps the secrets.  Non-zero (with *err): nothing is imported. */
typedef int pool_import_keep_fn(void *baton, apr_array_header_t *clients,
                                apr_array_header_t *secrets,
                                const char **err);

/* Creates every client of items (pool_client_new_t) in one transaction:
 * all or none; keep sees them before the commit.  CONFLICT (with *err
 * naming up to ten of them) when names are taken; NOTFOUND: no such pool.
 * The caller checks the items (names, roles, labels, no name twice). */
pool_db_rc pool_client_import(apr_pool_t *p, PGconn *c, const char *pool,
                              const apr_array_header_t *items,
                              pool_import_keep_fn *keep, void *baton,
                              const char **err);

/* -------------------------------------------------------- enrollment keys */

typedef struct {
    const char *key_id;         /* "ek_" + 16 hex: the public part */
    const char *pool;
    const char *role;
    const char *labels;         /* JSON object text */
    int uses_max;               /* 0: unlimited */
    int uses;
    const char *expires_at;     /* RFC 3339 */
    const char *revoked_at;     /* RFC 3339 or NULL */
    const char *created_by;
    const char *created_at;
    const char *state;          /* "active", "expired", "revoked", "used" */
} pool_enroll_key_t;

/* Makes an enrollment key of pool for role (uploader, listener or
 * processor) valid for lifetime seconds (1..POOL_ENROLL_LIFETIME_MAX),
 * for at most uses_max clients (0: no limit); labels (JSON object text or
 * NULL) are given to every client it makes.  *token is the key to hand
 * out ("ek_<id>_<secret>"), shown once. */
pool_db_rc pool_enroll_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *role, int uses_max, int lifetime,
                              const char *labels, const char *created_by,
                              pool_enroll_key_t **out, const char **token,
                              const char **err);

/* Array of pool_enroll_key_t*, newest first.  NOTFOUND: no such pool. */
pool_db_rc pool_enroll_list(apr_pool_t *p, PGconn *c, const char *pool,
                            apr_array_header_t **out, const char **err);
pool_db_rc pool_enroll_show(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *key_id, pool_enroll_key_t **out,
                            const char **err);
/* Revokes (again: keeps the first time).  NOTFOUND: no such key there. */
pool_db_rc pool_enroll_revoke(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *key_id, pool_enroll_key_t **out,
                              const char **err);

/* The key id of a token, or NULL when it is not shaped like one. */
const char *pool_enroll_token_id(apr_pool_t *p, const char *token);

/* An application registers itself with token as client name of pool,
 * with labels (JSON object text or NULL; the key's labels are added, the
 * application's win).  Counts one use, in the same transaction.  When it
 * refuses, *pr says how to answer (else its status is 0 and rc is a
 * database failure):
 *   401  no such key in this pool, or the secret is wrong;
 *   403  the key is expired, revoked or used up (the detail says which);
 *   409  the name is taken (the use is not counted);
 *   422  the labels with the key's would be too many. */
pool_db_rc pool_enroll_use(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *token, const char *name,
                           const char *labels, pool_client_t **out,
                           const char **secret, pool_problem_t *pr,
                           const char **err);

#endif
