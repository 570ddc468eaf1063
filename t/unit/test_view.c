/* The pool's tree (lib/pool_view.c, sql/009) against a real PostgreSQL
 * (POOL_TEST_DB): paths from clients, files put into folders by
 * pool_db_file_insert, replacing a name, lookup and listing, MKCOL,
 * removal, moves, and the cached folder sizes, which after every step
 * must equal a recount done here independently (by path prefixes, not by
 * the library's parent links). */
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_db.h"
#include "pool_davlock.h"
#include "pool_clients.h"
#include "pool_fields.h"
#include "pool_util.h"
#include "pool_view.h"

#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIZES_LOCK "5795053541357191170"

static apr_pool_t *p;
static PGconn *db;
static const char *pool_name, *client_id;

static void setup(void)
{
    const char *err = NULL, *secret;
    pool_pool_t *pl;
    pool_client_t *cl;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    pool_name = apr_psprintf(p, "view%s", apr_pstrndup(p, pool_uuid(p), 8));
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_name, &pl, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_client_add(p, db, pool_name, "alice", "uploader",
                                        &cl, &secret, &err), POOL_DB_OK);
    client_id = cl->client_id;
}

static void teardown(void)
{
    PQfinish(db);
    db = NULL;
    apr_pool_destroy(p);
    p = NULL;
}

/* The cases without a database. */
static void setup_pure(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
}

static void teardown_pure(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

/* ------------------------------------------------------------ helpers */

/* The first column of the only row of sql ($1: the pool, $2: arg). */
static const char *one(const char *sql, const char *arg)
{
    const char *params[2] = { pool_name, arg }, *err = NULL, *v;
    PGresult *r;

    ck_assert_msg(pool_db_exec(p, db, "test", sql, 2, params, 1, &r, &err)
                  == POOL_DB_OK, "%s: %s", sql, err ? err : "?");
    ck_assert_int_eq(PQntuples(r), 1);
    v = pool_db_col_str(p, r, 0, 0);
    PQclear(r);
    return v ? v : "(null)";
}

static void sql(const char *stmt, const char *arg)
{
    const char *params[2] = { pool_name, arg }, *err = NULL;

    ck_assert_msg(pool_db_exec0(p, db, "test", stmt, 2, params, &err)
                  == POOL_DB_OK, "%s: %s", stmt, err ? err : "?");
}

/* Folders of the pool whose cached size (row + deltas) differs from the
 * files in the view at or below their path, as "path bytes/files". */
static const char *drifted(void)
{
    return one("SELECT coalesce(string_agg(d.path || ' ' || c.b || '/' || c.n"
               " || ' cached ' || t.b || '/' || t.n, ', ' ORDER BY d.path),"
               " 'none') FROM folders d"
               " JOIN pools pl ON pl.id = d.pool_id AND pl.name = $1"
               " CROSS JOIN LATERAL (SELECT d.bytes + coalesce(sum(x.bytes), 0)"
               "  AS b, d.files + coalesce(sum(x.files), 0) AS n"
               "  FROM folder_deltas x WHERE x.folder_id = d.id) t"
               " CROSS JOIN LATERAL (SELECT coalesce(sum(f.size), 0) AS b,"
               "  count(f.id) AS n FROM files f JOIN folders e"
               "  ON e.id = f.folder_id WHERE f.in_view AND f.pool_id = d.pool_id"
               "  AND (d.path = '/' OR e.path = d.path"
               "   OR left(e.path, length(d.path) + 1) = d.path || '/')) c"
               " WHERE (t.b, t.n) IS DISTINCT FROM (c.b, c.n)"
               " AND $2::text IS NULL", NULL);
}

#define CONSISTENT() \
    ck_assert_str_eq(drifted(), "none")

static pool_file_t *put_rc(const char *folder, const char *name,
                           apr_off_t size, pool_db_rc want)
{
    pool_file_t f, *out = NULL;
    const char *err = NULL;
    pool_db_rc rc;

    memset(&f, 0, sizeof(f));
    f.id = pool_uuid(p);
    f.pool = pool_name;
    f.client_id = client_id;
    f.name = name;
    f.size = size;
    f.sha256 = SHA;
    f.content_type = "text/plain";
    f.ts = apr_time_now();
    f.folder = folder;
    rc = pool_db_file_insert(p, db, &f, &out, &err);
    ck_assert_msg(rc == want, "insert %s into %s: rc %d, want %d (%s)", name,
                  folder ? folder : "(client's)", rc, want, err ? err : "");
    return out;
}

static pool_file_t *put(const char *folder, const char *name, apr_off_t size)
{
    return put_rc(folder, name, size, POOL_DB_OK);
}

static pool_view_entry_t *look(const char *path)
{
    pool_view_entry_t *e = NULL;
    const char *err = NULL;
    pool_db_rc rc = pool_view_lookup(p, db, pool_name, path, &e, &err);

    ck_assert_msg(rc == POOL_DB_OK, "lookup %s: rc %d (%s)", path, rc,
                  err ? err : "");
    return e;
}

static void gone(const char *path)
{
    pool_view_entry_t *e = NULL;

    ck_assert_int_eq(pool_view_lookup(p, db, pool_name, path, &e, NULL),
                     POOL_DB_NOTFOUND);
}

/* The cached size of the folder at path (as the view reports it). */
static void size_is(const char *path, apr_int64_t bytes, apr_int64_t files)
{
    pool_view_entry_t *e = look(path);

    ck_assert_int_eq(e->kind, POOL_VIEW_FOLDER);
    ck_assert_msg(e->bytes == bytes && e->files == files,
                  "%s: %" APR_INT64_T_FMT " bytes, %" APR_INT64_T_FMT
                  " files; want %" APR_INT64_T_FMT ", %" APR_INT64_T_FMT,
                  path, e->bytes, e->files, bytes, files);
}

/* The names of the entries of the folder at path, comma-separated. */
static const char *names(const char *path, const char *after, int limit)
{
    apr_array_header_t *a = NULL;
    const char *err = NULL, *s = "";
    int i;

    ck_assert_int_eq(pool_view_list(p, db, pool_name, look(path), after,
                                     limit, &a, &err), POOL_DB_OK);
    for (i = 0; i < a->nelts; i++) {
        pool_view_entry_t *e = APR_ARRAY_IDX(a, i, pool_view_entry_t *);
        s = apr_pstrcat(p, s, i ? "," : "", e->name,
                        e->kind == POOL_VIEW_FILE ? "" : "/", NULL);
    }
    return s;
}

static pool_db_rc mkcol(const char *path)
{
    return pool_view_mkcol(p, db, pool_name, path, NULL);
}

static pool_db_rc move(const char *src, const char *dst, int overwrite,
                       int *replaced)
{
    int r = -1;
    pool_db_rc rc = pool_view_move(p, db, pool_name, look(src), dst,
                                   overwrite, &r, NULL);

    if (replaced) {
        *replaced = r;
    }
    return rc;
}

static int files_of_pool(void)
{
    return atoi(one("SELECT count(*) FROM files f JOIN pools pl"
                    " ON pl.id = f.pool_id WHERE pl.name = $1"
                    " AND $2::text IS NULL", NULL));
}

/* -------------------------------------------------------------- paths */

START_TEST(path_check_accepts_and_normalises)
{
    static const char *const cases[][2] = {
        { "/", "/" },
        { "", "/" },
        { "/a", "/a" },
        { "/a/", "/a" },
        { "/a/b c/d", "/a/b c/d" },
        { "/na\xc3\xafve/caf\xc3\xa9", "/na\xc3\xafve/caf\xc3\xa9" },
        { "/.hidden/...", "/.hidden/..." },
        { "/results", "/results" },     /* the view's: a path like others */
    };
    const char *norm, *why;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        norm = NULL;
        why = pool_view_path_check(p, cases[i][0], &norm);
        ck_assert_msg(!why, "\"%s\" refused: %s", cases[i][0], why);
        ck_assert_str_eq(norm, cases[i][1]);
    }
}
END_TEST

START_TEST(path_check_refuses)
{
    static const char *const bad[] = {
        "a", "a/b", "//", "/a//b", "/a/b//", "/..", "/.", "/a/../b",
        "/a/./b", "/a\\b", "/tab\there", "/a\x7f", "/\xc2\x85",
        "/\xff", "/\xc3", "/\xed\xa0\x80",
    };
    char deep[POOL_VIEW_DEPTH_MAX * 2 + 3], *longp, *longname;
    const char *norm;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_view_path_check(p, bad[i], &norm) != NULL,
                      "accepted \"%s\"", bad[i]);
    }
    ck_assert_ptr_nonnull(pool_view_path_check(p, NULL, &norm));
    /* depth: 32 names pass, 33 do not */
    for (i = 0; i < POOL_VIEW_DEPTH_MAX; i++) {
        memcpy(deep + 2 * i, "/a", 2);
    }
    deep[2 * POOL_VIEW_DEPTH_MAX] = '\0';
    ck_assert_ptr_null(pool_view_path_check(p, deep, &norm));
    strcat(deep, "/a");
    ck_assert_ptr_nonnull(pool_view_path_check(p, deep, &norm));
    /* length: 4096 bytes pass (16 names of 255 + '/'), one more does not */
    longp = apr_palloc(p, POOL_VIEW_PATH_MAX + 2);
    for (i = 0; i < 16; i++) {
        longp[256 * i] = '/';
        memset(longp + 256 * i + 1, 'x', 255);
    }
    longp[POOL_VIEW_PATH_MAX] = '\0';
    ck_assert_ptr_null(pool_view_path_check(p, longp, &norm));
    longp[POOL_VIEW_PATH_MAX] = '/';
    longp[POOL_VIEW_PATH_MAX + 1] = '\0';   /* trailing: still too long */
    ck_assert_ptr_nonnull(pool_view_path_check(p, longp, &norm));
    /* a name of 256 bytes */
    longname = apr_palloc(p, 258);
    longname[0] = '/';
    memset(longname + 1, 'y', 256);
    longname[257] = '\0';
    ck_assert_ptr_nonnull(pool_view_path_check(p, longname, &norm));
}
END_TEST

START_TEST(parent_and_basename)
{
    ck_assert_ptr_null(pool_view_parent(p, "/"));
    ck_assert_str_eq(pool_view_parent(p, "/a"), "/");
    ck_assert_str_eq(pool_view_parent(p, "/a/b/c"), "/a/b");
    ck_assert_str_eq(pool_view_basename("/a/b/c"), "c");
    ck_assert_str_eq(pool_view_basename("/a"), "a");
    ck_assert_str_eq(pool_view_basename("/"), "");
}
END_TEST

/* pool_folder_check: a folder from a client at upload. */
START_TEST(folder_check)
{
    const char *norm = NULL;

    ck_assert_ptr_null(pool_folder_check(p, "/a/b/", 5, &norm));
    ck_assert_str_eq(norm, "/a/b");
    ck_assert_ptr_null(pool_folder_check(p, "/", 1, &norm));
    ck_assert_str_eq(norm, "/");
    ck_assert_ptr_null(pool_folder_check(p, "/a/results", 10, &norm));
    ck_assert_ptr_null(pool_folder_check(p, "/resultsx", 9, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "", 0, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "a/b", 3, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/a/../b", 7, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/a//b", 5, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/a\x01", 3, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/a\0b", 4, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/results", 8, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/results/", 9, &norm));
    ck_assert_ptr_nonnull(pool_folder_check(p, "/results/x", 10, &norm));
}
END_TEST

/* ------------------------------------------------------------- inserts */

START_TEST(default_folder_is_the_clients)
{
    pool_file_t *f = put(NULL, "a.txt", 10);
    pool_view_entry_t *e;

    ck_assert_str_eq(f->folder, "/alice");
    ck_assert_int_eq(f->in_view, 1);
    e = look("/alice/a.txt");
    ck_assert_int_eq(e->kind, POOL_VIEW_FILE);
    ck_assert_str_eq(e->id, f->id);
    ck_assert_str_eq(e->client_id, client_id);
    ck_assert_int_eq(e->size, 10);
    ck_assert_str_eq(e->path, "/alice/a.txt");
    size_is("/alice", 10, 1);
    size_is("/", 10, 1);
    CONSISTENT();
}
END_TEST

START_TEST(folder_is_made_with_its_parents)
{
    pool_file_t *f = put("/x/y/z", "b.bin", 7), *g;

    ck_assert_str_eq(f->folder, "/x/y/z");
    ck_assert_int_eq(look("/x")->kind, POOL_VIEW_FOLDER);
    ck_assert_int_eq(look("/x/y")->kind, POOL_VIEW_FOLDER);
    size_is("/x", 7, 1);
    size_is("/x/y/z", 7, 1);
    g = put("/x", "c.bin", 5);
    ck_assert_str_eq(g->folder, "/x");
    size_is("/x", 12, 2);
    size_is("/x/y", 7, 1);
    size_is("/", 12, 2);
    /* the root is a folder too */
    ck_assert_str_eq(put("/", "top.txt", 1)->folder, "/");
    size_is("/", 13, 3);
    /* and the stored row reads back with its folder */
    ck_assert_int_eq(pool_db_file_get(p, db, pool_name, f->id, &g, NULL),
                     POOL_DB_OK);
    ck_assert_str_eq(g->folder, "/x/y/z");
    ck_assert_int_eq(g->in_view, 1);
    CONSISTENT();
}
END_TEST

START_TEST(a_new_file_replaces_the_name)
{
    pool_file_t *a = put("/d", "same.txt", 100), *b, *old;

    b = put("/d", "same.txt", 30);
    ck_assert_int_eq(b->in_view, 1);
    ck_assert_str_eq(look("/d/same.txt")->id, b->id);
    /* the earlier file is still a file of the pool, out of the view */
    ck_assert_int_eq(pool_db_file_get(p, db, pool_name, a->id, &old, NULL),
                     POOL_DB_OK);
    ck_assert_int_eq(old->in_view, 0);
    ck_assert_str_eq(old->folder, "/d");
    ck_assert_str_eq(one("SELECT replaced_by::text || ' ' ||"
                         " (left_view_at IS NOT NULL)::text FROM files"
                         " WHERE id = $2::uuid AND $1::text IS NOT NULL", a->id),
                     apr_pstrcat(p, b->id, " true", NULL));
    ck_assert_str_eq(one("SELECT coalesce(replaced_by::text, 'null')"
                         " FROM files WHERE id = $2::uuid AND $1::text IS NOT NULL",
                         b->id), "null");
    size_is("/d", 30, 1);
    size_is("/", 30, 1);
    /* the same name elsewhere is another file */
    put("/e", "same.txt", 1);
    ck_assert_str_eq(look("/d/same.txt")->id, b->id);
    ck_assert_int_eq(files_of_pool(), 3);
    CONSISTENT();
}
END_TEST

START_TEST(names_in_the_way_clash)
{
    put("/", "f.txt", 3);
    put("/dir/sub", "g.txt", 4);
    /* "results" at the top */
    put_rc("/", "results", 1, POOL_DB_CLASH);
    put_rc("/results", "x", 1, POOL_DB_CLASH);
    put_rc("/results/deep", "x", 1, POOL_DB_CLASH);
    /* a folder where the file would go */
    put_rc("/dir", "sub", 1, POOL_DB_CLASH);
    put_rc("/", "dir", 1, POOL_DB_CLASH);
    /* a file where a folder would be made */
    put_rc("/f.txt", "h.txt", 1, POOL_DB_CLASH);
    put_rc("/f.txt/deeper", "h.txt", 1, POOL_DB_CLASH);
    /* nothing of them stayed */
    ck_assert_int_eq(files_of_pool(), 2);
    gone("/f.txt/deeper");
    ck_assert_int_eq(look("/f.txt")->kind, POOL_VIEW_FILE);
    ck_assert_int_eq(look("/dir/sub")->kind, POOL_VIEW_FOLDER);
    /* "results" deeper down is an ordinary name */
    put("/dir", "results", 2);
    put("/dir/results2", "results", 2);
    CONSISTENT();
}
END_TEST

START_TEST(an_unknown_client_or_pool_inserts_nothing)
{
    pool_file_t f, *out = NULL;

    memset(&f, 0, sizeof(f));
    f.id = pool_uuid(p);
    f.pool = "no-such-pool-here";
    f.client_id = client_id;
    f.name = "x";
    f.sha256 = SHA;
    f.ts = apr_time_now();
    ck_assert_int_eq(pool_db_file_insert(p, db, &f, &out, NULL),
                     POOL_DB_NOTFOUND);
    f.pool = pool_name;
    f.client_id = "cl_000000000000000000000000";
    ck_assert_int_eq(pool_db_file_insert(p, db, &f, &out, NULL),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(files_of_pool(), 0);
}
END_TEST

/* ------------------------------------------------------ lookup, list */

START_TEST(lookup_and_list)
{
    pool_view_entry_t *e;

    put("/l", "e.txt", 1);
    put("/l", "a.txt", 2);
    put("/l", "c.txt", 3);
    put("/l/d", "x", 4);
    put("/l/b", "y", 5);
    /* by name (bytes), folders and files together */
    ck_assert_str_eq(names("/l", NULL, 0), "a.txt,b/,c.txt,d/,e.txt");
    /* paged by name */
    ck_assert_str_eq(names("/l", NULL, 2), "a.txt,b/");
    ck_assert_str_eq(names("/l", "b", 2), "c.txt,d/");
    ck_assert_str_eq(names("/l", "d", 2), "e.txt");
    ck_assert_str_eq(names("/l", "e.txt", 2), "");
    ck_assert_str_eq(names("/l", "bb", 0), "c.txt,d/,e.txt");
    /* the root lists results/ too, in its place by name */
    put("/s", "x", 6);
    ck_assert_str_eq(names("/", NULL, 0), "l/,results/,s/");
    ck_assert_str_eq(names("/", NULL, 1), "l/");
    ck_assert_str_eq(names("/", "l", 1), "results/");
    ck_assert_str_eq(names("/", "results", 1), "s/");
    ck_assert_str_eq(names("/", "m", 0), "results/,s/");
    ck_assert_str_eq(names("/", "s", 0), "");
    /* subfolders carry their sizes */
    e = look("/l/b");
    ck_assert_str_eq(e->path, "/l/b");
    ck_assert_str_eq(e->name, "b");
    ck_assert_int_eq(e->bytes, 5);
    size_is("/l", 15, 5);
    /* what is not there */
    gone("/l/nope");
    gone("/nope/a.txt");
    gone("/results/nothing-published");
    gone("/results/a/b");
    ck_assert_int_eq(look("/results")->kind, POOL_VIEW_RESULTS_FOLDER);
    e = NULL;
    ck_assert_int_eq(pool_view_lookup(p, db, "no-such-pool-here", "/", &e,
                                      NULL), POOL_DB_NOTFOUND);
    CONSISTENT();
}
END_TEST

/* A write's lookup: the entry, its parent and whether the pool has live
 * locks, in one statement; the same entries as two lookups give. */
static pool_view_locate_t locate(const char *path)
{
    pool_view_locate_t loc;
    const char *err = NULL;

    ck_assert_msg(pool_view_locate_for_write(p, db, pool_name, path, &loc,
                                             &err) == POOL_DB_OK,
                  "%s: %s", path, err ? err : "?");
    return loc;
}

START_TEST(locate_for_write_gives_entry_parent_and_locks)
{
    pool_view_locate_t loc;
    pool_davlock_t l, *got;
    const char *err = NULL;

    put("/w/x", "f.txt", 7);
    loc = locate("/w/x/f.txt");
    ck_assert_ptr_nonnull(loc.e);
    ck_assert_int_eq(loc.e->kind, POOL_VIEW_FILE);
    ck_assert_str_eq(loc.e->path, "/w/x/f.txt");
    ck_assert_str_eq(loc.e->name, "f.txt");
    ck_assert_int_eq(loc.e->size, 7);
    ck_assert_str_eq(loc.e->sha256, look("/w/x/f.txt")->sha256);
    ck_assert_ptr_nonnull(loc.parent);
    ck_assert_int_eq(loc.parent->kind, POOL_VIEW_FOLDER);
    ck_assert_str_eq(loc.parent->path, "/w/x");
    ck_assert_str_eq(loc.parent->name, "x");
    ck_assert_int_eq(loc.parent->folder_id, look("/w/x")->folder_id);
    ck_assert_int_eq(loc.locks, 0);
    /* a new name in an existing folder; a name whose parent is missing */
    loc = locate("/w/x/new.txt");
    ck_assert_ptr_null(loc.e);
    ck_assert_str_eq(loc.parent->path, "/w/x");
    loc = locate("/w/nope/new.txt");
    ck_assert_ptr_null(loc.e);
    ck_assert_ptr_null(loc.parent);
    /* at the top the parent is the root; the root has none */
    loc = locate("/w");
    ck_assert_int_eq(loc.e->kind, POOL_VIEW_FOLDER);
    ck_assert_str_eq(loc.parent->path, "/");
    ck_assert_str_eq(loc.parent->name, "");
    loc = locate("/");
    ck_assert_int_eq(loc.e->kind, POOL_VIEW_FOLDER);
    ck_assert_ptr_null(loc.parent);
    ck_assert_int_eq(loc.locks, 1);     /* not asked there */
    /* results/ is looked up as before */
    loc = locate("/results/none");
    ck_assert_ptr_null(loc.e);
    ck_assert_int_eq(loc.parent->kind, POOL_VIEW_RESULTS_FOLDER);
    /* a parent that is a file is given as it is */
    loc = locate("/w/x/f.txt/y");
    ck_assert_ptr_null(loc.e);
    ck_assert_int_eq(loc.parent->kind, POOL_VIEW_FILE);
    /* a live lock anywhere in the pool is reported */
    memset(&l, 0, sizeof(l));
    l.token = "0b9c2d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
    l.path = "/elsewhere";
    l.exclusive = 1;
    ck_assert_msg(pool_davlock_create(p, db, pool_name, &l, 60, &got, &err)
                  == POOL_DB_OK, "lock: %s", err ? err : "?");
    loc = locate("/w/x/f.txt");
    ck_assert_int_eq(loc.locks, 1);
    ck_assert_str_eq(loc.e->path, "/w/x/f.txt");
    /* no such pool: nothing, and no error */
    ck_assert_int_eq(pool_view_locate_for_write(p, db, "no-such-pool-here",
                                                "/a/b", &loc, &err),
                     POOL_DB_OK);
    ck_assert_ptr_null(loc.e);
    ck_assert_ptr_null(loc.parent);
}
END_TEST

START_TEST(an_empty_pool_has_a_root)
{
    pool_view_entry_t *e = look("/");

    ck_assert_int_eq(e->kind, POOL_VIEW_FOLDER);
    ck_assert_int_eq(e->bytes, 0);
    ck_assert_int_eq(e->files, 0);
    ck_assert_str_eq(names("/", NULL, 0), "results/");
}
END_TEST

/* ------------------------------------------------------------- mkcol */

START_TEST(mkcol_cases)
{
    put("/", "file", 1);
    ck_assert_int_eq(mkcol("/m"), POOL_DB_OK);
    ck_assert_int_eq(look("/m")->kind, POOL_VIEW_FOLDER);
    ck_assert_int_eq(mkcol("/m/n"), POOL_DB_OK);
    size_is("/m/n", 0, 0);
    ck_assert_int_eq(mkcol("/m"), POOL_DB_CONFLICT);       /* exists */
    ck_assert_int_eq(mkcol("/"), POOL_DB_CONFLICT);
    ck_assert_int_eq(mkcol("/file"), POOL_DB_CONFLICT);    /* a file there */
    ck_assert_int_eq(mkcol("/no/parent"), POOL_DB_NOTFOUND);
    ck_assert_int_eq(mkcol("/file/sub"), POOL_DB_NOTFOUND);  /* not a folder */
    ck_assert_int_eq(mkcol("/results"), POOL_DB_CLASH);
    ck_assert_int_eq(mkcol("/results/x"), POOL_DB_CLASH);
    gone("/no");
    gone("/file/sub");
    /* a file put there afterwards cannot take a folder's name */
    put_rc("/m", "n", 1, POOL_DB_CLASH);
    CONSISTENT();
}
END_TEST

/* ------------------------------------------------------------ remove */

START_TEST(remove_a_file)
{
    pool_file_t *f = put("/r", "a", 10), *row;
    pool_view_entry_t *e;

    put("/r", "b", 5);
    e = look("/r/a");
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, e, NULL), POOL_DB_OK);
    gone("/r/a");
    size_is("/r", 5, 1);
    size_is("/", 5, 1);
    /* still a file of the pool */
    ck_assert_int_eq(pool_db_file_get(p, db, pool_name, f->id, &row, NULL),
                     POOL_DB_OK);
    ck_assert_int_eq(row->in_view, 0);
    /* a stale entry */
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, e, NULL),
                     POOL_DB_NOTFOUND);
    /* the name is free again */
    put("/r", "a", 1);
    size_is("/r", 6, 2);
    CONSISTENT();
}
END_TEST

START_TEST(remove_a_folder_with_everything_under_it)
{
    pool_view_entry_t *e;

    put("/keep", "k", 1);
    put("/t", "a", 10);
    put("/t/u", "b", 20);
    put("/t/u/v", "c", 40);
    ck_assert_int_eq(mkcol("/t/empty"), POOL_DB_OK);
    size_is("/", 71, 4);
    e = look("/t/u");
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, e, NULL), POOL_DB_OK);
    gone("/t/u");
    gone("/t/u/v");
    gone("/t/u/v/c");
    size_is("/t", 10, 1);
    size_is("/", 11, 2);
    ck_assert_int_eq(files_of_pool(), 4);       /* the files stay */
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, e, NULL),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, look("/t"), NULL),
                     POOL_DB_OK);
    gone("/t/empty");
    size_is("/", 1, 1);
    /* neither the top nor results/ go */
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, look("/"), NULL),
                     POOL_DB_CLASH);
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, look("/results"),
                                      NULL), POOL_DB_CLASH);
    CONSISTENT();
}
END_TEST

/* -------------------------------------------------------------- move */

START_TEST(move_a_file)
{
    pool_file_t *f = put("/src", "a", 10), *g = put("/dst", "taken", 3);
    pool_file_t *row;
    int replaced;

    put("/src", "b", 1);
    /* rename in its folder */
    ck_assert_int_eq(move("/src/a", "/src/a2", 0, &replaced), POOL_DB_OK);
    ck_assert_int_eq(replaced, 0);
    ck_assert_str_eq(look("/src/a2")->id, f->id);
    gone("/src/a");
    size_is("/src", 11, 2);
    CONSISTENT();
    /* to another folder: its size follows */
    ck_assert_int_eq(move("/src/a2", "/dst/a", 0, NULL), POOL_DB_OK);
    size_is("/src", 1, 1);
    size_is("/dst", 13, 2);
    size_is("/", 14, 3);
    ck_assert_int_eq(pool_db_file_get(p, db, pool_name, f->id, &row, NULL),
                     POOL_DB_OK);
    ck_assert_str_eq(row->folder, "/dst");
    ck_assert_str_eq(row->name, "a");
    CONSISTENT();
    /* onto a taken name: only with overwrite */
    ck_assert_int_eq(move("/dst/a", "/dst/taken", 0, NULL), POOL_DB_CONFLICT);
    ck_assert_str_eq(look("/dst/taken")->id, g->id);
    ck_assert_int_eq(move("/dst/a", "/dst/taken", 1, &replaced), POOL_DB_OK);
    ck_assert_int_eq(replaced, 1);
    ck_assert_str_eq(look("/dst/taken")->id, f->id);
    ck_assert_int_eq(pool_db_file_get(p, db, pool_name, g->id, &row, NULL),
                     POOL_DB_OK);
    ck_assert_int_eq(row->in_view, 0);
    size_is("/dst", 10, 1);
    CONSISTENT();
    /* nowhere */
    ck_assert_int_eq(move("/dst/taken", "/nope/x", 0, NULL),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(move("/dst/taken", "/results/x", 0, NULL),
                     POOL_DB_CLASH);
    ck_assert_int_eq(move("/dst/taken", "/results", 1, NULL), POOL_DB_CLASH);
    ck_assert_int_eq(move("/dst/taken", "/src/b/x", 0, NULL),
                     POOL_DB_NOTFOUND);      /* b is a file */
    /* onto its own folder, overwriting: refused, nothing lost */
    ck_assert_int_eq(move("/dst/taken", "/dst", 1, NULL), POOL_DB_CLASH);
    ck_assert_str_eq(look("/dst/taken")->id, f->id);
    /* to the top */
    ck_assert_int_eq(move("/dst/taken", "/t", 0, NULL), POOL_DB_OK);
    size_is("/", 11, 2);
    CONSISTENT();
}
END_TEST

START_TEST(move_a_folder)
{
    pool_file_t *deep;
    int replaced;

    put("/a/b", "one", 10);
    deep = put("/a/b/c", "two", 20);
    put("/a", "three", 40);
    put("/z", "four", 80);
    ck_assert_int_eq(mkcol("/a/b/c/empty"), POOL_DB_OK);
    ck_assert_int_eq(move("/a/b", "/z/b2", 0, &replaced), POOL_DB_OK);
    ck_assert_int_eq(replaced, 0);
    gone("/a/b");
    gone("/a/b/c/two");
    ck_assert_str_eq(look("/z/b2/c/two")->id, deep->id);
    ck_assert_int_eq(look("/z/b2/c/empty")->kind, POOL_VIEW_FOLDER);
    size_is("/a", 40, 1);
    size_is("/z", 110, 3);
    size_is("/z/b2", 30, 2);
    size_is("/z/b2/c", 20, 1);
    size_is("/", 150, 4);
    CONSISTENT();
    /* a folder cannot go into itself, nor onto what holds it */
    ck_assert_int_eq(move("/z/b2", "/z/b2/c/x", 0, NULL), POOL_DB_CLASH);
    ck_assert_int_eq(move("/z/b2", "/z/b2", 1, NULL), POOL_DB_CLASH);
    ck_assert_int_eq(move("/z/b2/c", "/z", 1, NULL), POOL_DB_CLASH);
    ck_assert_int_eq(move("/z/b2/c", "/z/b2", 1, NULL), POOL_DB_CLASH);
    ck_assert_str_eq(look("/z/b2/c/two")->id, deep->id);
    ck_assert_int_eq(move("/", "/q", 0, NULL), POOL_DB_CLASH);
    /* onto a folder: only with overwrite, and the one there leaves */
    ck_assert_int_eq(move("/z/b2", "/a", 0, NULL), POOL_DB_CONFLICT);
    ck_assert_int_eq(move("/z/b2", "/a", 1, &replaced), POOL_DB_OK);
    ck_assert_int_eq(replaced, 1);
    gone("/a/three");
    ck_assert_str_eq(look("/a/c/two")->id, deep->id);
    size_is("/a", 30, 2);
    size_is("/z", 80, 1);
    size_is("/", 110, 3);
    /* to the top, renamed */
    ck_assert_int_eq(move("/a/c", "/c", 0, NULL), POOL_DB_OK);
    size_is("/c", 20, 1);
    size_is("/a", 10, 1);
    ck_assert_int_eq(move("/c", "/results", 0, NULL), POOL_DB_CLASH);
    CONSISTENT();
}
END_TEST

/* ------------------------------------------------------------- sizes */

static int repaired_here(apr_array_header_t *which, const char *path)
{
    const char *want = apr_pstrcat(p, pool_name, ":", path, NULL);
    int i;

    for (i = 0; i < which->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(which, i, const char *), want)) {
            return 1;
        }
    }
    return 0;
}

static int sizes(apr_array_header_t **which)
{
    const char *err = NULL;
    int n = -1;

    ck_assert_msg(pool_view_sizes(p, db, &n, which, &err) == POOL_DB_OK,
                  "sizes: %s", err ? err : "?");
    return n;
}

START_TEST(sizes_repairs_a_broken_size)
{
    apr_array_header_t *which;

    put("/s/t", "a", 10);
    put("/s", "b", 5);
    sizes(&which);              /* whatever other pools needed */
    ck_assert_str_eq(one("SELECT count(*) FROM folder_deltas x"
                         " JOIN folders d ON d.id = x.folder_id"
                         " JOIN pools pl ON pl.id = d.pool_id"
                         " WHERE pl.name = $1 AND $2::text IS NULL", NULL),
                     "0");      /* folded */
    size_is("/s", 15, 2);
    sql("UPDATE folders SET bytes = 1 WHERE path = $2"
        " AND pool_id = (SELECT id FROM pools WHERE name = $1)", "/s");
    ck_assert_str_ne(drifted(), "none");
    size_is("/s", 1, 2);
    ck_assert_int_ge(sizes(&which), 1);
    ck_assert_msg(repaired_here(which, "/s"), "/s not reported");
    ck_assert_int_eq(repaired_here(which, "/s/t"), 0);
    size_is("/s", 15, 2);
    CONSISTENT();
    /* nothing left to repair */
    ck_assert_int_eq(sizes(&which), 0);
    ck_assert_int_eq(which->nelts, 0);
}
END_TEST

START_TEST(sizes_waits_for_no_other_runner)
{
    const char *conninfo = getenv("POOL_TEST_DB"), *err = NULL;
    apr_array_header_t *which;
    PGconn *other = pool_db_connect(p, conninfo, &err);
    PGresult *r;

    ck_assert_ptr_nonnull(other);
    put("/w", "a", 10);
    sizes(&which);
    sql("UPDATE folders SET files = 7 WHERE path = $2"
        " AND pool_id = (SELECT id FROM pools WHERE name = $1)", "/w");
    r = PQexec(other, "SELECT pg_advisory_lock(" SIZES_LOCK ")");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    /* another runner at it: this one skips */
    ck_assert_int_eq(sizes(&which), 0);
    size_is("/w", 10, 7);
    r = PQexec(other, "SELECT pg_advisory_unlock(" SIZES_LOCK ")");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(other);
    ck_assert_int_ge(sizes(&which), 1);
    ck_assert(repaired_here(which, "/w"));
    size_is("/w", 10, 1);
    /* and this runner gave the lock back */
    ck_assert_str_eq(one("SELECT count(*) FROM pg_locks WHERE locktype ="
                         " 'advisory' AND objid = (" SIZES_LOCK
                         "::bigint & 4294967295)::oid AND $1::text IS NOT NULL"
                         " AND $2::text IS NULL", NULL), "0");
}
END_TEST

/* A mixed sequence: every change's deltas must add up exactly, so that
 * the sizes step finds nothing of this pool to repair. */
START_TEST(sizes_stay_exact_through_a_mixed_sequence)
{
    apr_array_header_t *which;
    int i;

    sizes(&which);
    for (i = 0; i < 6; i++) {
        put(apr_psprintf(p, "/m/%d", i % 3), apr_psprintf(p, "f%d", i % 4),
            100 + i);
    }
    put(NULL, "mine", 9);
    put(NULL, "mine", 11);
    put("/m/0", "f0", 1);
    CONSISTENT();
    ck_assert_int_eq(move("/m/1", "/m/0/inner", 0, NULL), POOL_DB_OK);
    ck_assert_int_eq(move("/m/0/f0", "/alice/f0", 0, NULL), POOL_DB_OK);
    ck_assert_int_eq(move("/m/2/f2", "/m/0/inner/f1", 1, NULL), POOL_DB_OK);
    ck_assert_int_eq(pool_view_remove(p, db, pool_name, look("/m/2"), NULL),
                     POOL_DB_OK);
    ck_assert_int_eq(mkcol("/m/2"), POOL_DB_OK);
    put("/m/2", "again", 5);
    ck_assert_int_eq(move("/m", "/n", 0, NULL), POOL_DB_OK);
    put("/n/0/inner", "f1", 2);
    sql("DELETE FROM files WHERE id = (SELECT f.id FROM files f"
        " JOIN folders d ON d.id = f.folder_id JOIN pools pl"
        " ON pl.id = f.pool_id WHERE pl.name = $1 AND d.path = $2"
        " AND f.in_view)", "/n/2");      /* retention deletes rows */
    CONSISTENT();
    sizes(&which);
    for (i = 0; i < which->nelts; i++) {
        const char *w = APR_ARRAY_IDX(which, i, const char *);
        ck_assert_msg(strncmp(w, pool_name, strlen(pool_name)),
                      "%s drifted", w);
    }
    CONSISTENT();
    size_is("/n", 103 + 104 + 2, 3);     /* f3, inner/f0, inner/f1 */
    size_is("/alice", 11 + 1, 2);
}
END_TEST

Suite *suite_view(void)
{
    Suite *s = suite_create("view");
    TCase *pure = tcase_create("view_paths");
    TCase *tc = tcase_create("view");

    tcase_add_test(pure, path_check_accepts_and_normalises);
    tcase_add_test(pure, path_check_refuses);
    tcase_add_test(pure, parent_and_basename);
    tcase_add_test(pure, folder_check);
    tcase_add_checked_fixture(pure, setup_pure, teardown_pure);
    suite_add_tcase(s, pure);
    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, default_folder_is_the_clients);
    tcase_add_test(tc, folder_is_made_with_its_parents);
    tcase_add_test(tc, a_new_file_replaces_the_name);
    tcase_add_test(tc, names_in_the_way_clash);
    tcase_add_test(tc, an_unknown_client_or_pool_inserts_nothing);
    tcase_add_test(tc, lookup_and_list);
    tcase_add_test(tc, an_empty_pool_has_a_root);
    tcase_add_test(tc, mkcol_cases);
    tcase_add_test(tc, remove_a_file);
    tcase_add_test(tc, remove_a_folder_with_everything_under_it);
    tcase_add_test(tc, locate_for_write_gives_entry_parent_and_locks);
    tcase_add_test(tc, move_a_file);
    tcase_add_test(tc, move_a_folder);
    tcase_add_test(tc, sizes_repairs_a_broken_size);
    tcase_add_test(tc, sizes_waits_for_no_other_runner);
    tcase_add_test(tc, sizes_stay_exact_through_a_mixed_sequence);
    suite_add_tcase(s, tc);
    return s;
}
