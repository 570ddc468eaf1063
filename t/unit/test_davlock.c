/* The WebDAV locks of lib/pool_davlock.c against a real PostgreSQL
 * (POOL_TEST_DB, which scripts/test starts): taking, finding, refreshing
 * and removing locks; exclusive and shared conflicts; depth-infinity locks
 * covering what is under them; expiry; two pools with the same paths; the
 * lock-null resources of a folder; and two "nodes" (connections) taking
 * conflicting locks at once. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "unit.h"
#include "pool_db.h"
#include "pool_clients.h"
#include "pool_davlock.h"
#include "pool_util.h"
#include "pool_view.h"

static apr_pool_t *p;
static PGconn *db;
static const char *pool_a, *pool_b, *client_a;

static void setup(void)
{
    const char *err = NULL, *secret;
    const char *tag;
    pool_pool_t *pl;
    pool_client_t *cl;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    tag = apr_pstrndup(p, pool_uuid(p), 8);
    pool_a = apr_psprintf(p, "lock%s", tag);
    pool_b = apr_psprintf(p, "lockb%s", tag);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_a, &pl, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_b, &pl, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_client_add(p, db, pool_a, "unit", "uploader",
                                        &cl, &secret, &err), POOL_DB_OK);
    client_a = cl->client_id;
}

static void teardown(void)
{
    PQfinish(db);
    db = NULL;
    apr_pool_destroy(p);
    p = NULL;
}

/* ------------------------------------------------------------ helpers */

static pool_davlock_t *lock_spec(const char *path, int exclusive,
                                 int infinite)
{
    pool_davlock_t *l = apr_pcalloc(p, sizeof(*l));

    l->token = pool_uuid(p);
    l->path = path;
    l->exclusive = exclusive;
    l->infinite = infinite;
    l->auth_user = "cl_unit";
    return l;
}

/* Takes a lock in pool; returns the rc (and the row in *out if asked). */
static pool_db_rc take_in(const char *pool, const pool_davlock_t *l,
                          apr_int64_t timeout, pool_davlock_t **out)
{
    pool_davlock_t *row = NULL;
    const char *err = NULL;
    pool_db_rc rc = pool_davlock_create(p, db, pool, l, timeout, &row, &err);

    ck_assert_msg(rc != POOL_DB_UNAVAILABLE, "create: %s", err ? err : "?");
    if (out) {
        *out = row;
    }
    return rc;
}

/* A lock that must be granted. */
static pool_davlock_t *take(const char *pool, const char *path, int exclusive,
                            int infinite)
{
    pool_davlock_t *l = lock_spec(path, exclusive, infinite), *row;

    ck_assert_int_eq(take_in(pool, l, 600, &row), POOL_DB_OK);
    ck_assert_str_eq(row->token, l->token);
    return row;
}

static apr_array_header_t *covering(const char *pool, const char *path)
{
    apr_array_header_t *out;
    const char *err = NULL;

    ck_assert_msg(pool_davlock_covering(p, db, pool, path, &out, &err)
                  == POOL_DB_OK, "covering %s: %s", path, err ? err : "?");
    return out;
}

static pool_davlock_t *nth(apr_array_header_t *a, int i)
{
    ck_assert_int_gt(a->nelts, i);
    return APR_ARRAY_IDX(a, i, pool_davlock_t *);
}

static int has_token(apr_array_header_t *a, const char *token)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (!strcmp(nth(a, i)->token, token)) {
            return 1;
        }
    }
    return 0;
}

/* Runs stmt with its parameters (NULL-terminated). */
static void sql(const char *stmt, ...)
{
    const char *params[4], *err = NULL;
    int n = 0;
    va_list ap;

    va_start(ap, stmt);
    while (n < 4 && (params[n] = va_arg(ap, const char *)) != NULL) {
        n++;
    }
    va_end(ap);
    ck_assert_msg(pool_db_exec0(p, db, "test", stmt, n, params, &err)
                  == POOL_DB_OK, "%s: %s", stmt, err ? err : "?");
}

static long rows_with_token(const char *token)
{
    const char *params[1] = { token }, *err = NULL;
    PGresult *r;
    long n;

    ck_assert(pool_db_exec(p, db, "test", "SELECT count(*) FROM dav_locks"
                           " WHERE token = $1::uuid", 1, params, 1, &r,
                           &err) == POOL_DB_OK);
    n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Puts the lock's end in the past, as time would. */
static void expire(const char *token)
{
    sql("UPDATE dav_locks SET expires_at = now() - interval '1 second'"
        " WHERE token = $1::uuid", token, NULL);
}

static apr_array_header_t *locknull(const char *pool, const char *folder)
{
    apr_array_header_t *out;
    const char *err = NULL;

    ck_assert_msg(pool_davlock_locknull_names(p, db, pool, folder, &out, &err)
                  == POOL_DB_OK, "locknull %s: %s", folder, err ? err : "?");
    return out;
}

static const char *names(apr_array_header_t *a)
{
    return apr_array_pstrcat(p, a, ',');
}

/* -------------------------------------------------------------- tests */

START_TEST(timeouts_are_capped)
{
    ck_assert_int_eq(pool_davlock_timeout(0), POOL_DAVLOCK_TIMEOUT_MAX);
    ck_assert_int_eq(pool_davlock_timeout(-5), POOL_DAVLOCK_TIMEOUT_MAX);
    ck_assert_int_eq(pool_davlock_timeout(POOL_DAVLOCK_TIMEOUT_MAX + 1),
                     POOL_DAVLOCK_TIMEOUT_MAX);
    ck_assert_int_eq(pool_davlock_timeout(60), 60);
    ck_assert_int_eq(pool_davlock_timeout(1), 1);
    ck_assert_int_eq(POOL_DAVLOCK_TIMEOUT_MAX, 7 * 24 * 3600);
}
END_TEST

START_TEST(covers_follows_segments)
{
    ck_assert_int_eq(pool_davlock_covers("/a", 0, "/a"), 1);
    ck_assert_int_eq(pool_davlock_covers("/a", 0, "/a/b"), 0);
    ck_assert_int_eq(pool_davlock_covers("/a", 1, "/a/b/c"), 1);
    ck_assert_int_eq(pool_davlock_covers("/a", 1, "/ab"), 0);
    ck_assert_int_eq(pool_davlock_covers("/a/b", 1, "/a"), 0);
    ck_assert_int_eq(pool_davlock_covers("/", 1, "/x/y"), 1);
    ck_assert_int_eq(pool_davlock_covers("/", 0, "/x"), 0);
}
END_TEST

START_TEST(create_find_refresh_remove)
{
    static const char owner[] = "<D:owner xmlns:D=\"DAV:\"><D:href>"
        "mailto:a@example.org</D:href> \"q\" &amp; &lt;x&gt; \xc3\xa9"
        "</D:owner>";
    pool_davlock_t *l = lock_spec("/a", 1, 0), *row, *found;
    apr_array_header_t *tokens, *out;
    const char *err = NULL;
    int removed;

    l->owner = owner;
    ck_assert_int_eq(take_in(pool_a, l, 300, &row), POOL_DB_OK);
    ck_assert_int_eq(row->remaining, 300);

    out = covering(pool_a, "/a");
    ck_assert_int_eq(out->nelts, 1);
    found = nth(out, 0);
    ck_assert_str_eq(found->token, l->token);
    ck_assert_str_eq(found->path, "/a");
    ck_assert_int_eq(found->exclusive, 1);
    ck_assert_int_eq(found->infinite, 0);
    ck_assert_str_eq(found->owner, owner);          /* verbatim */
    ck_assert_str_eq(found->auth_user, "cl_unit");
    ck_assert(found->remaining > 295 && found->remaining <= 300);

    ck_assert_int_eq(pool_davlock_find(p, db, pool_a, "/a", l->token, &found,
                                       &err), POOL_DB_OK);
    ck_assert_str_eq(found->path, "/a");
    ck_assert_int_eq(pool_davlock_find(p, db, pool_a, "/a", pool_uuid(p),
                                       &found, &err), POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_davlock_find(p, db, pool_a, "/a", "not-a-uuid",
                                       &found, &err), POOL_DB_NOTFOUND);
    /* depth 0: nothing under /a */
    ck_assert_int_eq(covering(pool_a, "/a/b")->nelts, 0);

    tokens = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(tokens, const char *) = pool_uuid(p);
    APR_ARRAY_PUSH(tokens, const char *) = l->token;
    ck_assert_int_eq(pool_davlock_refresh(p, db, pool_a, "/a", tokens, 30,
                                          &out, &err), POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_int_eq(nth(out, 0)->remaining, 30);
    ck_assert(nth(covering(pool_a, "/a"), 0)->remaining <= 30);
    /* "Infinite" gets the maximum */
    ck_assert_int_eq(pool_davlock_refresh(p, db, pool_a, "/a", tokens, 0,
                                          &out, &err), POOL_DB_OK);
    ck_assert_int_eq(nth(out, 0)->remaining, POOL_DAVLOCK_TIMEOUT_MAX);

    ck_assert_int_eq(pool_davlock_remove(p, db, pool_a, "/a", l->token,
                                         &removed, &err), POOL_DB_OK);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(covering(pool_a, "/a")->nelts, 0);
    ck_assert_int_eq(rows_with_token(l->token), 0);
    ck_assert_int_eq(pool_davlock_remove(p, db, pool_a, "/a", l->token,
                                         &removed, &err), POOL_DB_OK);
    ck_assert_int_eq(removed, 0);
}
END_TEST

START_TEST(infinite_timeout_is_a_week)
{
    pool_davlock_t *row;

    ck_assert_int_eq(take_in(pool_a, lock_spec("/inf", 1, 0), 0, &row),
                     POOL_DB_OK);
    ck_assert_int_eq(row->remaining, POOL_DAVLOCK_TIMEOUT_MAX);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/long", 1, 0),
                             POOL_DAVLOCK_TIMEOUT_MAX * 10, &row),
                     POOL_DB_OK);
    ck_assert_int_eq(row->remaining, POOL_DAVLOCK_TIMEOUT_MAX);
}
END_TEST

START_TEST(exclusive_and_shared_conflicts)
{
    pool_davlock_t *x = take(pool_a, "/f", 1, 0), *s1, *s2;
    apr_array_header_t *out;

    ck_assert_int_eq(take_in(pool_a, lock_spec("/f", 1, 0), 60, NULL),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/f", 0, 0), 60, NULL),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(covering(pool_a, "/f")->nelts, 1);

    s1 = take(pool_a, "/g", 0, 0);
    s2 = take(pool_a, "/g", 0, 1);                  /* shared + shared */
    ck_assert_int_eq(take_in(pool_a, lock_spec("/g", 1, 0), 60, NULL),
                     POOL_DB_CONFLICT);
    out = covering(pool_a, "/g");
    ck_assert_int_eq(out->nelts, 2);
    ck_assert(has_token(out, s1->token) && has_token(out, s2->token));
    ck_assert(!has_token(out, x->token));
}
END_TEST

START_TEST(depth_infinity_covers_descendants)
{
    pool_davlock_t *d = take(pool_a, "/d", 1, 1), *found;
    apr_array_header_t *out;
    const char *err = NULL;
    int removed;

    out = covering(pool_a, "/d/x/y");
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(nth(out, 0)->token, d->token);
    ck_assert_str_eq(nth(out, 0)->path, "/d");     /* where it was taken */
    ck_assert_int_eq(covering(pool_a, "/dx")->nelts, 0);
    ck_assert_int_eq(covering(pool_a, "/")->nelts, 0);
    ck_assert_int_eq(pool_davlock_find(p, db, pool_a, "/d/x/y", d->token,
                                       &found, &err), POOL_DB_OK);
    ck_assert_str_eq(found->path, "/d");

    /* what it covers cannot be locked; a sibling or the parent (depth 0)
     * can, the parent with depth infinity cannot */
    ck_assert_int_eq(take_in(pool_a, lock_spec("/d/x", 0, 0), 60, NULL),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/d/x/y", 1, 1), 60, NULL),
                     POOL_DB_CONFLICT);
    take(pool_a, "/dx", 1, 1);
    take(pool_a, "/", 0, 0);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/", 0, 1), 60, NULL),
                     POOL_DB_CONFLICT);

    /* the other way round: a lock under a folder stops an exclusive
     * depth-infinity lock on the folder, not a depth-0 one */
    take(pool_a, "/e/1/2", 0, 0);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/e", 1, 1), 60, NULL),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/e", 0, 1), 60, NULL),
                     POOL_DB_OK);                   /* shared + shared */
    /* now a shared lock covers /e/1: exclusive no, shared yes */
    ck_assert_int_eq(take_in(pool_a, lock_spec("/e/1", 1, 0), 60, NULL),
                     POOL_DB_CONFLICT);
    take(pool_a, "/e/1", 0, 0);

    /* UNLOCK anywhere under it removes the lock itself */
    ck_assert_int_eq(pool_davlock_remove(p, db, pool_a, "/d/x/y", d->token,
                                         &removed, &err), POOL_DB_OK);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(covering(pool_a, "/d/x/y")->nelts, 0);
    ck_assert_int_eq(covering(pool_a, "/d")->nelts, 0);
}
END_TEST

START_TEST(refresh_through_a_descendant)
{
    pool_davlock_t *d = take(pool_a, "/r", 0, 1);
    apr_array_header_t *tokens = apr_array_make(p, 1, sizeof(const char *));
    apr_array_header_t *out;
    const char *err = NULL;

    APR_ARRAY_PUSH(tokens, const char *) = d->token;
    ck_assert_int_eq(pool_davlock_refresh(p, db, pool_a, "/r/m", tokens, 42,
                                          &out, &err), POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(nth(out, 0)->path, "/r");
    ck_assert_int_eq(nth(out, 0)->remaining, 42);
    /* from a path it does not cover: nothing */
    ck_assert_int_eq(pool_davlock_refresh(p, db, pool_a, "/other", tokens,
                                          50, &out, &err), POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 0);
    ck_assert(nth(covering(pool_a, "/r"), 0)->remaining <= 42);
}
END_TEST

START_TEST(expired_locks_are_ignored_then_purged)
{
    pool_davlock_t *old = take(pool_a, "/x", 1, 1), *found;
    apr_array_header_t *tokens = apr_array_make(p, 1, sizeof(const char *));
    apr_array_header_t *out;
    const char *err = NULL;
    int more, purged;

    take(pool_a, "/ghost", 1, 0);
    expire(old->token);
    ck_assert_int_eq(covering(pool_a, "/x")->nelts, 0);
    ck_assert_int_eq(covering(pool_a, "/x/y")->nelts, 0);
    ck_assert_int_eq(pool_davlock_find(p, db, pool_a, "/x", old->token,
                                       &found, &err), POOL_DB_NOTFOUND);
    APR_ARRAY_PUSH(tokens, const char *) = old->token;
    ck_assert_int_eq(pool_davlock_refresh(p, db, pool_a, "/x", tokens, 60,
                                          &out, &err), POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 0);              /* no coming back */
    ck_assert_int_eq(pool_davlock_list(p, db, pool_a, 10, &out, &more, &err),
                     POOL_DB_OK);
    ck_assert(!has_token(out, old->token));
    ck_assert_int_eq(rows_with_token(old->token), 1);  /* still a row */

    /* taking a lock there works, and clears the pool's expired rows */
    take(pool_a, "/x/y", 1, 0);
    ck_assert_int_eq(rows_with_token(old->token), 0);

    /* an expired lock-null resource is no more */
    old = take(pool_a, "/gone", 1, 0);
    ck_assert_str_eq(names(locknull(pool_a, "/")), "ghost,gone");
    expire(old->token);
    ck_assert_str_eq(names(locknull(pool_a, "/")), "ghost");
    ck_assert_int_eq(pool_davlock_purge(p, db, pool_a, &purged, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(purged, 1);
    ck_assert_int_eq(rows_with_token(old->token), 0);
}
END_TEST

START_TEST(pools_never_see_each_other)
{
    pool_davlock_t *a = take(pool_a, "/same", 1, 1), *b, *found;
    apr_array_header_t *tokens = apr_array_make(p, 1, sizeof(const char *));
    apr_array_header_t *out;
    const char *err = NULL;
    int removed, more;

    /* the same path, exclusively, in both pools */
    b = take(pool_b, "/same", 1, 1);
    out = covering(pool_a, "/same/in");
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(nth(out, 0)->token, a->token);
    out = covering(pool_b, "/same");
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(nth(out, 0)->token, b->token);

    /* a's token is worth nothing in b */
    ck_assert_int_eq(pool_davlock_find(p, db, pool_b, "/same", a->token,
                                       &found, &err), POOL_DB_NOTFOUND);
    APR_ARRAY_PUSH(tokens, const char *) = a->token;
    ck_assert_int_eq(pool_davlock_refresh(p, db, pool_b, "/same", tokens, 5,
                                          &out, &err), POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 0);
    ck_assert_int_eq(pool_davlock_remove(p, db, pool_b, "/same", a->token,
                                         &removed, &err), POOL_DB_OK);
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(rows_with_token(a->token), 1);
    ck_assert_int_gt(nth(covering(pool_a, "/same"), 0)->remaining, 5);

    /* a lock-null resource of a is none of b's */
    take(pool_a, "/only-a", 1, 0);
    ck_assert_str_eq(names(locknull(pool_b, "/")), "same");
    ck_assert_int_eq(pool_davlock_list(p, db, pool_b, 10, &out, &more, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 1);

    /* clearing b's whole tree leaves a's locks */
    ck_assert_int_eq(pool_davlock_remove_tree(p, db, pool_b, "/", &removed,
                                              &err), POOL_DB_OK);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(covering(pool_a, "/same")->nelts, 1);
    ck_assert_int_eq(covering(pool_a, "/only-a")->nelts, 1);

    /* a pool that does not exist takes no lock */
    ck_assert_int_eq(take_in("no-such-pool", lock_spec("/z", 1, 0), 60, NULL),
                     POOL_DB_NOTFOUND);
}
END_TEST

START_TEST(locknull_names_of_a_folder)
{
    const char *err = NULL;
    pool_file_t f, *row;
    pool_view_entry_t *e;
    pool_davlock_t *l;

    ck_assert_msg(pool_view_mkcol(p, db, pool_a, "/dir", &err) == POOL_DB_OK,
                  "mkcol: %s", err ? err : "?");
    ck_assert_msg(pool_view_mkcol(p, db, pool_a, "/dir/sub", &err)
                  == POOL_DB_OK, "mkcol: %s", err ? err : "?");
    memset(&f, 0, sizeof(f));
    f.pool = pool_a;
    f.client_id = client_a;
    f.name = "real";
    f.size = 1;
    f.sha256 = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
               "e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1";
    f.content_type = "text/plain";
    f.ts = apr_time_now();
    f.folder = "/dir";
    ck_assert_msg(pool_db_file_insert(p, db, &f, &row, &err) == POOL_DB_OK,
                  "insert: %s", err ? err : "?");

    take(pool_a, "/dir/zeta", 1, 0);         /* nothing there: lock-null */
    take(pool_a, "/dir/alpha", 0, 0);
    take(pool_a, "/dir/alpha", 0, 0);        /* two locks, one name */
    take(pool_a, "/dir/real", 1, 0);         /* a file of the view */
    take(pool_a, "/dir/sub", 0, 1);          /* a folder */
    take(pool_a, "/dir/sub/deep", 0, 0);     /* in another folder */
    take(pool_a, "/dir", 0, 0);
    take(pool_a, "/dirx", 1, 0);             /* a sibling of /dir */
    take(pool_b, "/dir/other-pool", 1, 0);

    ck_assert_str_eq(names(locknull(pool_a, "/dir")), "alpha,zeta");
    ck_assert_str_eq(names(locknull(pool_a, "/dir/sub")), "deep");
    ck_assert_str_eq(names(locknull(pool_a, "/")), "dirx");

    /* results/ always exists and has none */
    take(pool_a, "/results", 0, 0);
    l = take(pool_a, "/results/r1", 0, 0);
    ck_assert_str_eq(names(locknull(pool_a, "/")), "dirx");
    ck_assert_int_eq(locknull(pool_a, "/results")->nelts, 0);
    ck_assert_str_eq(l->path, "/results/r1");

    /* the file leaves the view: its lock is lock-null now */
    ck_assert_int_eq(pool_view_lookup(p, db, pool_a, "/dir/real", &e, &err),
                     POOL_DB_OK);
    ck_assert_str_eq(e->id, row->id);
    ck_assert_int_eq(pool_view_remove(p, db, pool_a, e, &err), POOL_DB_OK);
    ck_assert_str_eq(names(locknull(pool_a, "/dir")), "alpha,real,zeta");
}
END_TEST

START_TEST(remove_tree_keeps_ancestors_and_siblings)
{
    pool_davlock_t *top = take(pool_a, "/", 0, 0);
    pool_davlock_t *sib = take(pool_a, "/tx", 1, 0);
    const char *err = NULL;
    int removed;

    take(pool_a, "/t", 0, 0);
    take(pool_a, "/t/a", 0, 0);
    take(pool_a, "/t/a/b", 1, 1);
    ck_assert_int_eq(pool_davlock_remove_tree(p, db, pool_a, "/t", &removed,
                                              &err), POOL_DB_OK);
    ck_assert_int_eq(removed, 3);
    ck_assert_int_eq(covering(pool_a, "/t/a/b")->nelts, 0);
    ck_assert_int_eq(rows_with_token(top->token), 1);
    ck_assert_int_eq(rows_with_token(sib->token), 1);
}
END_TEST

START_TEST(shared_locks_per_path_are_bounded)
{
    int i;

    for (i = 0; i < POOL_DAVLOCK_PATH_MAX - 1; i++) {
        take(pool_a, "/many/one", 0, 0);
    }
    /* the one at the folder counts for what is under it */
    take(pool_a, "/many", 0, 1);
    ck_assert_int_eq(covering(pool_a, "/many/one")->nelts,
                     POOL_DAVLOCK_PATH_MAX);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/many/one", 0, 0), 60, NULL),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/", 0, 1), 60, NULL),
                     POOL_DB_CONFLICT);
    take(pool_a, "/many/two", 0, 0);          /* 2 apply there */
}
END_TEST

START_TEST(live_locks_per_pool_are_bounded)
{
    pool_davlock_t *l;
    const char *err = NULL, *oldest;
    PGresult *r;
    const char *params[2] = { pool_a, apr_itoa(p, POOL_DAVLOCK_POOL_MAX - 1) };

    /* a pool full of locks but one (made in one statement) */
    sql("INSERT INTO dav_locks (token, pool_id, path, exclusive, infinite,"
        " expires_at) SELECT gen_random_uuid(), p.id, '/cap/' || i, true,"
        " false, now() + interval '1 minute' FROM pools p,"
        " generate_series(1, $2::int) i WHERE p.name = $1",
        params[0], params[1], NULL);
    take(pool_a, "/cap-last", 1, 0);
    l = lock_spec("/cap-over", 1, 0);
    ck_assert_int_eq(take_in(pool_a, l, 60, NULL), POOL_DB_REFUSED);
    ck_assert_int_eq(take_in(pool_b, l, 60, NULL), POOL_DB_OK);
    /* an expired one does not count */
    ck_assert(pool_db_exec(p, db, "test", "SELECT token::text FROM dav_locks"
                           " WHERE path = '/cap/1' AND pool_id = (SELECT id"
                           " FROM pools WHERE name = $1)", 1, params, 1, &r,
                           &err) == POOL_DB_OK);
    oldest = apr_pstrdup(p, PQgetvalue(r, 0, 0));
    PQclear(r);
    expire(oldest);
    take(pool_a, "/cap-over", 1, 0);
}
END_TEST

START_TEST(create_is_retry_safe_and_checks_input)
{
    pool_davlock_t *l = lock_spec("/retry", 1, 0), *row, *again;
    char big[POOL_DAVLOCK_OWNER_MAX + 2];

    ck_assert_int_eq(take_in(pool_a, l, 60, &row), POOL_DB_OK);
    /* the same call again (an answer lost, retried): the same lock */
    ck_assert_int_eq(take_in(pool_a, l, 60, &again), POOL_DB_OK);
    ck_assert_str_eq(again->token, l->token);
    ck_assert_int_eq(rows_with_token(l->token), 1);
    /* that token elsewhere, or in another pool, is an error */
    l->path = "/elsewhere";
    ck_assert_int_eq(take_in(pool_a, l, 60, NULL), POOL_DB_ERROR);
    l->path = "/retry";
    ck_assert_int_eq(take_in(pool_b, l, 60, NULL), POOL_DB_ERROR);

    ck_assert_int_eq(take_in(pool_a, lock_spec("a/b", 1, 0), 60, NULL),
                     POOL_DB_ERROR);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/a//b", 1, 0), 60, NULL),
                     POOL_DB_ERROR);
    ck_assert_int_eq(take_in(pool_a, lock_spec("/a/", 1, 0), 60, NULL),
                     POOL_DB_ERROR);
    l = lock_spec("/t", 1, 0);
    l->token = "opaquelocktoken:nope";
    ck_assert_int_eq(take_in(pool_a, l, 60, NULL), POOL_DB_ERROR);
    l = lock_spec("/big", 1, 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    l->owner = big;
    ck_assert_int_eq(take_in(pool_a, l, 60, NULL), POOL_DB_ERROR);
    big[POOL_DAVLOCK_OWNER_MAX] = '\0';
    ck_assert_int_eq(take_in(pool_a, l, 60, NULL), POOL_DB_OK);
}
END_TEST

START_TEST(list_says_when_there_are_more)
{
    apr_array_header_t *out;
    const char *err = NULL;
    int more;

    take(pool_a, "/l1", 1, 0);
    take(pool_a, "/l2", 1, 0);
    take(pool_a, "/l3", 0, 1);
    ck_assert_int_eq(pool_davlock_list(p, db, pool_a, 2, &out, &more, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 2);
    ck_assert_int_eq(more, 1);
    ck_assert_str_eq(nth(out, 0)->path, "/l1");
    ck_assert_int_eq(pool_davlock_list(p, db, pool_a, 3, &out, &more, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(out->nelts, 3);
    ck_assert_int_eq(more, 0);
    ck_assert_int_eq(nth(out, 2)->infinite, 1);
}
END_TEST

/* Two nodes at once: while one holds the pool's lock lock (in the middle
 * of taking a lock), the other's create waits, then sees the lock the
 * first one committed and refuses its own. */
typedef struct {
    const char *conninfo;
    const pool_davlock_t *l;
    volatile int done;
    pool_db_rc rc;
    const char *err;
} node_baton;

static void *APR_THREAD_FUNC other_node(apr_thread_t *th, void *data)
{
    node_baton *nb = data;
    apr_pool_t *tp;
    PGconn *c;
    pool_davlock_t *row;

    apr_pool_create(&tp, NULL);
    c = pool_db_connect(tp, nb->conninfo, &nb->err);
    nb->rc = c ? pool_davlock_create(tp, c, pool_a, nb->l, 60, &row, &nb->err)
               : POOL_DB_UNAVAILABLE;
    nb->err = nb->err ? strdup(nb->err) : NULL;
    if (c) {
        PQfinish(c);
    }
    apr_pool_destroy(tp);
    nb->done = 1;
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

START_TEST(two_nodes_take_one_lock)
{
    node_baton nb;
    apr_thread_t *th;
    apr_status_t rv;
    const char *first = pool_uuid(p);

    memset(&nb, 0, sizeof(nb));
    nb.conninfo = getenv("POOL_TEST_DB");
    nb.l = lock_spec("/race", 1, 0);
    /* this connection plays a node that is taking a lock on /race */
    sql("BEGIN", NULL);
    sql("SELECT pg_advisory_xact_lock(hashtextextended('dav_locks/' || id,"
        " 10)) FROM pools WHERE name = $1", pool_a, NULL);
    ck_assert_int_eq(apr_thread_create(&th, NULL, other_node, &nb, p),
                     APR_SUCCESS);
    apr_sleep(apr_time_from_msec(300));
    ck_assert_msg(!nb.done, "the other node did not wait: %d %s", nb.rc,
                  nb.err ? nb.err : "");
    sql("INSERT INTO dav_locks (token, pool_id, path, exclusive, infinite,"
        " expires_at) SELECT $2::uuid, id, '/race', true, false,"
        " now() + interval '1 minute' FROM pools WHERE name = $1",
        pool_a, first, NULL);
    sql("COMMIT", NULL);
    apr_thread_join(&rv, th);
    ck_assert_msg(nb.rc == POOL_DB_CONFLICT, "the other node: %d %s", nb.rc,
                  nb.err ? nb.err : "");
    ck_assert_int_eq(covering(pool_a, "/race")->nelts, 1);
    ck_assert_str_eq(nth(covering(pool_a, "/race"), 0)->token, first);
    free((void *)nb.err);
}
END_TEST

Suite *suite_davlock(void)
{
    Suite *s = suite_create("davlock");
    TCase *tc = tcase_create("davlock");
    TCase *pure = tcase_create("davlock_rules");

    tcase_add_test(pure, timeouts_are_capped);
    tcase_add_test(pure, covers_follows_segments);
    suite_add_tcase(s, pure);
    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, create_find_refresh_remove);
    tcase_add_test(tc, infinite_timeout_is_a_week);
    tcase_add_test(tc, exclusive_and_shared_conflicts);
    tcase_add_test(tc, depth_infinity_covers_descendants);
    tcase_add_test(tc, refresh_through_a_descendant);
    tcase_add_test(tc, expired_locks_are_ignored_then_purged);
    tcase_add_test(tc, pools_never_see_each_other);
    tcase_add_test(tc, locknull_names_of_a_folder);
    tcase_add_test(tc, remove_tree_keeps_ancestors_and_siblings);
    tcase_add_test(tc, shared_locks_per_path_are_bounded);
    tcase_add_test(tc, live_locks_per_pool_are_bounded);
    tcase_add_test(tc, create_is_retry_safe_and_checks_input);
    tcase_add_test(tc, list_says_when_there_are_more);
    tcase_add_test(tc, two_nodes_take_one_lock);
    suite_add_tcase(s, tc);
    return s;
}
