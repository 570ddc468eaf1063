/* The WebDAV view's lock hooks: locks live in PostgreSQL
 * (lib/pool_davlock.h), so a lock taken through one node holds on every
 * node of a cluster.
 *
 * mod_dav speaks of direct locks (taken on a resource) and indirect ones
 * (what a depth-infinity lock puts on each member; mod_dav_fs writes a
 * record per member and copies them to new members).  Only direct locks
 * are stored here.  The indirect locks of a resource are computed from its
 * path: the depth-infinity locks of its ancestors.  So append_locks with
 * make_indirect stores nothing, and a member that appears later, through
 * the view or through the API, is covered all the same.
 *
 * A lock-null resource is a path with a lock of its own and nothing in the
 * view.  has_locks therefore counts a resource's own (direct) locks only:
 * were the locks of its ancestors counted, every unmapped URL under a
 * locked folder would be lock-null (PROPFIND 207 instead of 404).
 *
 * Timeouts: "Infinite" and anything longer than a week get a week
 * (POOL_DAVLOCK_TIMEOUT_MAX); the lock's end is kept by the database's
 * clock, so nodes whose clocks differ agree on it. */
#include <string.h>
#include <time.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "pool_dav.h"
#include "pool_davlock.h"
#include "pool_util.h"

#define TOKEN_SCHEME "opaquelocktoken:"
#define TOKEN_SCHEME_LEN (sizeof(TOKEN_SCHEME) - 1)
#define TOKEN_LEN 36

/* The live locks of a pool are read once per request when there are at
 * most this many: a PROPFIND asks for the locks of every member. */
#define SNAPSHOT_MAX 64

struct dav_locktoken {
    char uuid[TOKEN_LEN + 1];   /* lower case */
};

struct dav_lock_private {
    const char *path;           /* where the lock was taken (its direct
                                 * resource): the token finds it anyway */
    dav_lock *self;             /* the lock, writable (append_locks gets it
                                 * const, and sets the timeout granted) */
};

typedef struct {
    dav_lock pub;
    dav_lock_private priv;
    dav_locktoken token;
} lock_combined;

struct dav_lockdb_private {
    request_rec *r;
    apr_hash_t *removed;        /* tokens this request removed */
    apr_array_header_t *cleared;    /* paths whose trees it cleared */
};

typedef struct {
    dav_lockdb pub;
    dav_lockdb_private priv;
} lockdb_combined;

/* A lock read from the database, with its end by this node's clock. */
typedef struct {
    const pool_davlock_t *l;
    time_t expires;
} held_lock;

/* ------------------------------------------------------------ database */

typedef struct {
    const char *pool;
    const char *path;
    const char *token;
    const pool_davlock_t *in;
    const apr_array_header_t *tokens;
    apr_int64_t timeout;
    int limit;
    int more;
    int n;
    apr_array_header_t *out;
    pool_davlock_t *one;
} lock_baton;

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    lock_baton *lb = b;

    return pool_davlock_list(p, c, lb->pool, lb->limit, &lb->out, &lb->more,
                             err);
}

static pool_db_rc op_covering(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    lock_baton *lb = b;

    return pool_davlock_covering(p, c, lb->pool, lb->path, &lb->out, err);
}

static pool_db_rc op_create(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    lock_baton *lb = b;

    return pool_davlock_create(p, c, lb->pool, lb->in, lb->timeout, &lb->one,
                               err);
}

static pool_db_rc op_refresh(apr_pool_t *p, PGconn *c, void *b,
                             const char **err)
{
    lock_baton *lb = b;

    return pool_davlock_refresh(p, c, lb->pool, lb->path, lb->tokens,
                                lb->timeout, &lb->out, err);
}

static pool_db_rc op_remove(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    lock_baton *lb = b;

    if (!lb->token) {
        return pool_davlock_remove_tree(p, c, lb->pool, lb->path, &lb->n,
                                        err);
    }
    return pool_davlock_remove(p, c, lb->pool, lb->path, lb->token, &lb->n,
                               err);
}

static pool_db_rc op_locknull(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    lock_baton *lb = b;

    return pool_davlock_locknull_names(p, c, lb->pool, lb->path, &lb->out,
                                       err);
}

static dav_error *run(request_rec *r, pool_db_op *op, lock_baton *lb)
{
    const char *err = NULL;
    pool_db_rc rc = pool_db_run(r, op, lb, &err);

    return rc == POOL_DB_OK ? NULL : pool_dav_db_error(r, rc, err, "lock");
}

static apr_array_header_t *held(apr_pool_t *p, const apr_array_header_t *ls,
                                time_t now)
{
    apr_array_header_t *a = apr_array_make(p, ls->nelts + 1,
                                           sizeof(held_lock));
    int i;

    for (i = 0; i < ls->nelts; i++) {
        held_lock *h = apr_array_push(a);

        h->l = APR_ARRAY_IDX(ls, i, const pool_davlock_t *);
        h->expires = now + (time_t)h->l->remaining;
    }
    return a;
}

/* ------------------------------------------------------------ snapshot */

/* The snapshot lives with the request (the main one: a subrequest, such
 * as the Destination of a COPY, shares it); NULL locks: too many. */
typedef struct {
    apr_array_header_t *locks;  /* held_lock */
} snapshot;

static apr_pool_t *snapshot_pool(request_rec *r, const char *pool,
                                 const char **key)
{
    while (r->main) {
        r = r->main;
    }
    *key = apr_pstrcat(r->pool, "pool_dav_locks:", pool, NULL);
    return r->pool;
}

static void snapshot_drop(request_rec *r, const char *pool)
{
    const char *key;
    apr_pool_t *p = snapshot_pool(r, pool, &key);

    apr_pool_userdata_setn(NULL, key, NULL, p);
}

void pool_dav_locks_none(request_rec *r, const char *pool)
{
    const char *key;
    apr_pool_t *p = snapshot_pool(r, pool, &key);
    snapshot *s = apr_pcalloc(p, sizeof(*s));

    s->locks = apr_array_make(p, 1, sizeof(held_lock));
    apr_pool_userdata_setn(s, key, NULL, p);
}

static dav_error *snapshot_get(request_rec *r, const char *pool,
                               snapshot **out)
{
    const char *key;
    apr_pool_t *p = snapshot_pool(r, pool, &key);
    lock_baton lb;
    snapshot *s;
    void *data = NULL;
    dav_error *err;

    apr_pool_userdata_get(&data, key, p);
    if (data) {
        *out = data;
        return NULL;
    }
    memset(&lb, 0, sizeof(lb));
    lb.pool = pool;
    lb.limit = SNAPSHOT_MAX;
    if ((err = run(r, op_list, &lb))) {
        return err;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->locks = lb.more ? NULL : held(p, lb.out, time(NULL));
    apr_pool_userdata_setn(s, key, NULL, p);
    *out = s;
    return NULL;
}

/* The live locks that apply to res (held_lock): its own and the
 * depth-infinity locks of its ancestors. */
static dav_error *applying(dav_lockdb *db, const dav_resource *res,
                           apr_array_header_t **out)
{
    request_rec *r = db->info->r;
    dav_resource_private *info = res->info;
    time_t now = time(NULL);
    snapshot *s;
    lock_baton lb;
    dav_error *err;
    int i;

    *out = apr_array_make(r->pool, 2, sizeof(held_lock));
    if (!info->pool) {
        return NULL;            /* the top, above the pools */
    }
    if ((err = snapshot_get(r, info->pool, &s))) {
        return err;
    }
    if (s->locks) {
        for (i = 0; i < s->locks->nelts; i++) {
            held_lock *h = &APR_ARRAY_IDX(s->locks, i, held_lock);

            if (h->expires > now
                && pool_davlock_covers(h->l->path, h->l->infinite,
                                       info->path)) {
                *(held_lock *)apr_array_push(*out) = *h;
            }
        }
        return NULL;
    }
    memset(&lb, 0, sizeof(lb));
    lb.pool = info->pool;
    lb.path = info->path;
    if ((err = run(r, op_covering, &lb))) {
        return err;
    }
    *out = held(r->pool, lb.out, now);
    return NULL;
}

/* -------------------------------------------------------------- tokens */

static dav_error *parse_locktoken(apr_pool_t *p, const char *text,
                                  dav_locktoken **out)
{
    dav_locktoken *t;
    int i;

    /* A token that is not one of ours (another scheme, or no uuid after
     * ours) is an unknown state: mod_dav then evaluates its If condition
     * as false, as RFC 4918 has it, where another error id would fail the
     * whole request with 400; an UNLOCK of it is a 400 either way. */
    if (strncasecmp(text, TOKEN_SCHEME, TOKEN_SCHEME_LEN)) {
        return dav_new_error(p, HTTP_BAD_REQUEST,
                             DAV_ERR_LOCK_UNK_STATE_TOKEN, 0,
                             "The lock token uses an unknown State-token "
                             "format and could not be parsed.");
    }
    text += TOKEN_SCHEME_LEN;
    t = apr_pcalloc(p, sizeof(*t));
    for (i = 0; i < TOKEN_LEN && text[i]; i++) {
        t->uuid[i] = apr_tolower(text[i]);
    }
    if (text[i] || !pool_uuid_valid(t->uuid)) {
        return dav_new_error(p, HTTP_BAD_REQUEST,
                             DAV_ERR_LOCK_UNK_STATE_TOKEN, 0,
                             "The opaquelocktoken has an incorrect format "
                             "and could not be parsed.");
    }
    *out = t;
    return NULL;
}

static const char *format_locktoken(apr_pool_t *p, const dav_locktoken *t)
{
    return apr_pstrcat(p, TOKEN_SCHEME, t->uuid, NULL);
}

static int compare_locktoken(const dav_locktoken *a, const dav_locktoken *b)
{
    return strcmp(a->uuid, b->uuid);
}

/* --------------------------------------------------------------- locks */

static const char *get_supportedlock(const dav_resource *res)
{
    static const char supported[] =
        "<D:lockentry>"
        "<D:lockscope><D:exclusive/></D:lockscope>"
        "<D:locktype><D:write/></D:locktype>"
        "</D:lockentry>"
        "<D:lockentry>"
        "<D:lockscope><D:shared/></D:lockscope>"
        "<D:locktype><D:write/></D:locktype>"
        "</D:lockentry>";

    return res->info->pool ? supported : NULL;
}

static lock_combined *new_lock(apr_pool_t *p, const dav_resource *res,
                               const char *path)
{
    lock_combined *lc = apr_pcalloc(p, sizeof(*lc));

    lc->pub.rectype = DAV_LOCKREC_DIRECT;
    lc->pub.is_locknull = !res->exists;
    lc->pub.locktoken = &lc->token;
    lc->pub.info = &lc->priv;
    lc->priv.path = path;
    lc->priv.self = &lc->pub;
    return lc;
}

/* A dav_lock for h as it applies to res: direct when taken on res, else
 * `indirect` (mod_dav_fs answers a lock resolved to its direct lock as
 * DIRECT too, with all its fields). */
static dav_lock *dav_lock_of(apr_pool_t *p, const dav_resource *res,
                             const held_lock *h, dav_lock_rectype indirect)
{
    lock_combined *lc = new_lock(p, res, h->l->path);

    if (strcmp(h->l->path, res->info->path)) {
        lc->pub.rectype = indirect;
    }
    lc->pub.scope = h->l->exclusive ? DAV_LOCKSCOPE_EXCLUSIVE
                                    : DAV_LOCKSCOPE_SHARED;
    lc->pub.type = DAV_LOCKTYPE_WRITE;
    lc->pub.depth = h->l->infinite ? DAV_INFINITY : 0;
    lc->pub.timeout = h->expires;
    apr_cpystrn(lc->token.uuid, h->l->token, sizeof(lc->token.uuid));
    lc->pub.owner = h->l->owner;
    lc->pub.auth_user = h->l->auth_user;
    return &lc->pub;
}

static dav_error *open_lockdb(request_rec *r, int ro, int force,
                              dav_lockdb **out)
{
    lockdb_combined *db = apr_pcalloc(r->pool, sizeof(*db));

    (void)force;                /* nothing to open: every call is a query */
    db->pub.hooks = &pool_dav_hooks_locks;
    db->pub.ro = ro;
    db->pub.info = &db->priv;
    db->priv.r = r;
    db->priv.removed = apr_hash_make(r->pool);
    db->priv.cleared = apr_array_make(r->pool, 1, sizeof(const char *));
    *out = &db->pub;
    return NULL;
}

static void close_lockdb(dav_lockdb *db)
{
    (void)db;
}

static dav_error *remove_locknull_state(dav_lockdb *db,
                                        const dav_resource *res)
{
    /* lock-null is what the view does not have: once it has it, the lock
     * is an ordinary lock of the resource, nothing to move */
    (void)db;
    (void)res;
    return NULL;
}

static dav_error *create_lock(dav_lockdb *db, const dav_resource *res,
                              dav_lock **out)
{
    request_rec *r = db->info->r;
    lock_combined *lc = new_lock(r->pool, res, res->info->path);
    const char *uuid = pool_uuid(r->pool);

    if (!uuid) {
        return dav_new_error(r->pool, HTTP_INTERNAL_SERVER_ERROR, 0, 0,
                             "no randomness for a lock token");
    }
    apr_cpystrn(lc->token.uuid, uuid, sizeof(lc->token.uuid));
    *out = &lc->pub;
    return NULL;
}

static dav_error *get_locks(dav_lockdb *db, const dav_resource *res,
                            int calltype, dav_lock **locks)
{
    apr_array_header_t *hs;
    dav_lock_rectype indirect = calltype == DAV_GETLOCKS_PARTIAL
                                ? DAV_LOCKREC_INDIRECT_PARTIAL
                                : calltype == DAV_GETLOCKS_COMPLETE
                                ? DAV_LOCKREC_INDIRECT : DAV_LOCKREC_DIRECT;
    dav_lock **tail = locks;
    dav_error *err;
    int i;

    *locks = NULL;
    if ((err = applying(db, res, &hs))) {
        return err;
    }
    for (i = 0; i < hs->nelts; i++) {
        *tail = dav_lock_of(db->info->r->pool, res,
                            &APR_ARRAY_IDX(hs, i, held_lock), indirect);
        tail = &(*tail)->next;
    }
    return NULL;
}

/* The live lock with token t that applies to res, or NULL. */
static dav_error *find_held(dav_lockdb *db, const dav_resource *res,
                            const dav_locktoken *t, const held_lock **out)
{
    apr_array_header_t *hs;
    dav_error *err;
    int i;

    *out = NULL;
    if ((err = applying(db, res, &hs))) {
        return err;
    }
    for (i = 0; i < hs->nelts; i++) {
        const held_lock *h = &APR_ARRAY_IDX(hs, i, held_lock);

        if (!strcmp(h->l->token, t->uuid)) {
            *out = h;
            break;
        }
    }
    return NULL;
}

static dav_error *find_lock(dav_lockdb *db, const dav_resource *res,
                            const dav_locktoken *t, int partial_ok,
                            dav_lock **out)
{
    const held_lock *h;
    dav_error *err;

    *out = NULL;
    if ((err = find_held(db, res, t, &h))) {
        return err;
    }
    if (h) {
        *out = dav_lock_of(db->info->r->pool, res, h,
                           partial_ok ? DAV_LOCKREC_INDIRECT_PARTIAL
                                      : DAV_LOCKREC_INDIRECT);
    }
    return NULL;
}

static dav_error *has_locks(dav_lockdb *db, const dav_resource *res,
                            int *present)
{
    apr_array_header_t *hs;
    dav_error *err;
    int i;

    *present = 0;
    if ((err = applying(db, res, &hs))) {
        return err;
    }
    for (i = 0; i < hs->nelts && !*present; i++) {
        *present = !strcmp(APR_ARRAY_IDX(hs, i, held_lock).l->path,
                           res->info->path);
    }
    return NULL;
}

/* ---------------------------------------------------- taking a lock */

static int in_results(const char *path)
{
    size_t n = sizeof(POOL_VIEW_RESULTS) - 1;

    return !strncmp(path, POOL_VIEW_RESULTS, n)
           && (path[n] == '\0' || path[n] == '/');
}

/* What a client may lock: in a pool, with a role that writes, and no
 * lock-null resource in results/ (nothing can be made there). */
static dav_error *check_take(request_rec *r, const dav_resource *res,
                             const dav_lock *lock)
{
    if (!res->info->pool) {
        return dav_new_error(r->pool, HTTP_FORBIDDEN, 0, 0,
                             "locks are taken in a pool");
    }
    if (!pool_dav_may_write(r)) {
        return dav_new_error(r->pool, HTTP_FORBIDDEN, 0, 0,
                             "this client's role may only read");
    }
    if (!res->exists && in_results(res->info->path)) {
        return dav_new_error(r->pool, HTTP_FORBIDDEN, 0, 0,
                             "results/ is read-only");
    }
    if (lock->type != DAV_LOCKTYPE_WRITE
        || (lock->scope != DAV_LOCKSCOPE_EXCLUSIVE
            && lock->scope != DAV_LOCKSCOPE_SHARED)) {
        return dav_new_error(r->pool, HTTP_BAD_REQUEST, 0, 0,
                             "a LOCK asks for a write lock, exclusive or "
                             "shared (DAV:locktype, DAV:lockscope)");
    }
    if (lock->owner && strlen(lock->owner) > POOL_DAVLOCK_OWNER_MAX) {
        return dav_new_error(r->pool, HTTP_BAD_REQUEST, 0, 0,
                             apr_psprintf(r->pool, "the DAV:owner of a lock "
                                          "is at most %d bytes",
                                          POOL_DAVLOCK_OWNER_MAX));
    }
    return NULL;
}

/* Seconds asked for by mod_dav's time_t (DAV_TIMEOUT_INFINITE: 0, which
 * pool_davlock_timeout reads as "Infinite"); one already past is the
 * shortest lock, not an infinite one. */
static apr_int64_t requested(time_t timeout)
{
    time_t now = time(NULL);

    if (timeout == DAV_TIMEOUT_INFINITE) {
        return 0;
    }
    return timeout > now ? (apr_int64_t)(timeout - now)
                         : POOL_DAVLOCK_TIMEOUT_MIN;
}

static dav_error *take(dav_lockdb *db, const dav_resource *res,
                       const dav_lock *lock)
{
    request_rec *r = db->info->r;
    pool_davlock_t l;
    lock_baton lb;
    const char *err = NULL;
    pool_db_rc rc;
    dav_error *derr;

    if ((derr = check_take(r, res, lock))) {
        return derr;
    }
    memset(&l, 0, sizeof(l));
    l.token = lock->locktoken->uuid;
    l.path = res->info->path;
    l.exclusive = lock->scope == DAV_LOCKSCOPE_EXCLUSIVE;
    l.infinite = lock->depth == DAV_INFINITY;
    l.owner = lock->owner;
    l.auth_user = lock->auth_user
                  && strlen(lock->auth_user) <= POOL_DAVLOCK_AUTH_USER_MAX
                  ? lock->auth_user : NULL;
    memset(&lb, 0, sizeof(lb));
    lb.pool = res->info->pool;
    lb.in = &l;
    lb.timeout = requested(lock->timeout);
    rc = pool_db_run(r, op_create, &lb, &err);
    snapshot_drop(r, res->info->pool);
    if (rc == POOL_DB_CONFLICT) {
        /* another node may have taken it since mod_dav looked */
        return dav_new_error_tag(r->pool, HTTP_LOCKED, 0, 0, err, NULL,
                                 "no-conflicting-lock");
    }
    if (rc == POOL_DB_REFUSED) {
        return dav_new_error(r->pool, HTTP_INSUFFICIENT_STORAGE, 0, 0, err);
    }
    if (rc != POOL_DB_OK) {
        return pool_dav_db_error(r, rc, err, "pool");
    }
    /* the LOCK answer shows the lock as granted (a capped timeout) */
    lock->info->self->timeout = time(NULL) + (time_t)lb.one->remaining;
    return NULL;
}

static dav_error *append_locks(dav_lockdb *db, const dav_resource *res,
                               int make_indirect, const dav_lock *lock)
{
    dav_error *err;

    if (make_indirect) {
        return NULL;            /* computed from the path: nothing to keep */
    }
    for (; lock; lock = lock->next) {
        if (lock->rectype == DAV_LOCKREC_DIRECT
            && (err = take(db, res, lock))) {
            return err;
        }
    }
    return NULL;
}

/* ------------------------------------------------ removing, refreshing */

/* path is in a tree this request cleared already. */
static int cleared(dav_lockdb_private *info, const char *path)
{
    int i;

    for (i = 0; i < info->cleared->nelts; i++) {
        if (pool_davlock_covers(APR_ARRAY_IDX(info->cleared, i, const char *),
                                1, path)) {
            return 1;
        }
    }
    return 0;
}

/* mod_dav removes a lock by walking from its direct resource and asking
 * for each member (UNLOCK), or every lock of every member (DELETE, MOVE):
 * the first call does it all, the others need no query. */
static dav_error *remove_lock(dav_lockdb *db, const dav_resource *res,
                              const dav_locktoken *t)
{
    dav_lockdb_private *info = db->info;
    lock_baton lb;
    dav_error *err;

    if (!res->info->pool) {
        return NULL;
    }
    if (t ? apr_hash_get(info->removed, t->uuid, APR_HASH_KEY_STRING) != NULL
          : cleared(info, res->info->path)) {
        return NULL;
    }
    memset(&lb, 0, sizeof(lb));
    lb.pool = res->info->pool;
    lb.path = res->info->path;
    lb.token = t ? t->uuid : NULL;
    err = run(info->r, op_remove, &lb);
    snapshot_drop(info->r, res->info->pool);
    if (err) {
        return err;
    }
    if (t) {
        apr_hash_set(info->removed, apr_pstrdup(info->r->pool, t->uuid),
                     APR_HASH_KEY_STRING, "");
    }
    else {
        APR_ARRAY_PUSH(info->cleared, const char *) = lb.path;
    }
    return NULL;
}

static dav_error *refresh_locks(dav_lockdb *db, const dav_resource *res,
                                const dav_locktoken_list *ltl,
                                time_t new_time, dav_lock **locks)
{
    request_rec *r = db->info->r;
    apr_array_header_t *tokens = apr_array_make(r->pool, 4,
                                                sizeof(const char *));
    apr_array_header_t *hs;
    dav_lock **tail = locks;
    lock_baton lb;
    dav_error *err;
    int i;

    *locks = NULL;
    for (; ltl; ltl = ltl->next) {
        if (tokens->nelts == POOL_DAVLOCK_TOKENS_MAX) {
            return dav_new_error(r->pool, HTTP_BAD_REQUEST, 0, 0,
                                 apr_psprintf(r->pool, "a refresh names at "
                                              "most %d lock tokens",
                                              POOL_DAVLOCK_TOKENS_MAX));
        }
        APR_ARRAY_PUSH(tokens, const char *) = ltl->locktoken->uuid;
    }
    if (!res->info->pool) {
        return NULL;
    }
    memset(&lb, 0, sizeof(lb));
    lb.pool = res->info->pool;
    lb.path = res->info->path;
    lb.tokens = tokens;
    lb.timeout = requested(new_time);
    err = run(r, op_refresh, &lb);
    snapshot_drop(r, res->info->pool);
    if (err) {
        return err;
    }
    /* refreshed locks are answered resolved: their own fields */
    hs = held(r->pool, lb.out, time(NULL));
    for (i = 0; i < hs->nelts; i++) {
        *tail = dav_lock_of(r->pool, res, &APR_ARRAY_IDX(hs, i, held_lock),
                            DAV_LOCKREC_DIRECT);
        tail = &(*tail)->next;
    }
    return NULL;
}

/* The resource a lock was taken on, from any resource it applies to. */
static dav_error *lookup_resource(dav_lockdb *db, const dav_locktoken *t,
                                  const dav_resource *start,
                                  const dav_resource **out)
{
    dav_resource_private *info = start->info;
    const held_lock *h;
    dav_resource *res;
    dav_error *err;

    *out = NULL;
    if ((err = find_held(db, start, t, &h))) {
        return err;
    }
    if (!h) {
        return dav_new_error(db->info->r->pool, HTTP_BAD_REQUEST, 0, 0,
                             "The specified locktoken does not correspond "
                             "to an existing lock on this resource.");
    }
    if (!strcmp(h->l->path, info->path)) {
        *out = start;
        return NULL;
    }
    err = pool_dav_resource(info->r, info->prefix, info->pool, h->l->path,
                            &res);
    *out = res;
    return err;
}

dav_error *pool_dav_locknull_names(request_rec *r, const char *pool,
                                   const char *path,
                                   apr_array_header_t **names)
{
    lock_baton lb;
    dav_error *err;

    *names = apr_array_make(r->pool, 1, sizeof(const char *));
    memset(&lb, 0, sizeof(lb));
    lb.pool = pool;
    lb.path = path;
    if ((err = run(r, op_locknull, &lb))) {
        return err;
    }
    *names = lb.out;
    return NULL;
}

const dav_hooks_locks pool_dav_hooks_locks = {
    get_supportedlock,
    parse_locktoken,
    format_locktoken,
    compare_locktoken,
    open_lockdb,
    close_lockdb,
    remove_locknull_state,
    create_lock,
    get_locks,
    find_lock,
    has_locks,
    append_locks,
    remove_lock,
    refresh_locks,
    lookup_resource,
    NULL                        /* ctx */
};
