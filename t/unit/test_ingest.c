/* pool_ingest: the one ingest path against a real PostgreSQL (POOL_TEST_DB,
 * which scripts/test starts) and the directory store in a temporary
 * directory, without httpd; a second case runs the paths that do not look
 * at the directory layout against the WebDAV store (POOL_TEST_DAV_URL, a
 * real WebDAV server scripts/test starts too).  Every failure point is injected: the store
 * failing to stage or reveal (a store whose table wraps the real one), the
 * record failing for sure, failing after it committed (an answer lost), and
 * the lookup failing too; then poolctl sweep's reconciliation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <ftw.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>

#include "unit.h"
#include "pool_db.h"
#include "pool_clients.h"
#include "pool_ingest.h"
#include "pool_store.h"
#include "pool_sweep.h"
#include "pool_util.h"

static apr_pool_t *p;
static PGconn *db;
static char root[] = "/tmp/pool-ingest-XXXXXX";
static pool_store_t *fs;
static const char *pool_name, *client_id;

/* ------------------------------------------------- a store with faults */

static pool_store_ops_t faulty_ops;
static pool_store_t faulty;
static apr_status_t stage_fails_with;   /* 0: stage works */
static int stage_fail_at;               /* the nth stage fails (1-based) */
static int stages;
static int reveal_fails;

static apr_status_t faulty_stage(pool_spool_t *sp, const char *pool,
                                 const char *id)
{
    if (stage_fails_with && ++stages == stage_fail_at) {
        fs->ops->spool_abort(sp);
        return stage_fails_with;
    }
    return fs->ops->spool_stage(sp, pool, id);
}

static apr_status_t faulty_reveal(pool_store_t *s, apr_pool_t *pp,
                                  const char *pool, const char *id)
{
    if (reveal_fails) {
        return APR_EACCES;
    }
    return fs->ops->reveal(fs, pp, pool, id);
}

/* ------------------------------------------------ a runner with faults */

typedef enum {
    RUN_OK,
    RECORD_FAILS,           /* the record's transaction never commits */
    RECORD_ANSWER_LOST,     /* it commits, but the answer is lost */
} record_fault;

typedef struct {
    pool_db_direct_t direct;
    pool_ingest_t *in;
    record_fault record;
    int lookup_fails;
    int records, lookups;
} fault_runner;

static pool_db_rc run_faulty(void *ctx, pool_db_op *op, void *baton,
                             const char **err)
{
    fault_runner *fr = ctx;
    pool_db_rc rc;

    if (op == fr->in->lookup) {
        fr->lookups++;
        if (fr->lookup_fails) {
            *err = "injected: the connection broke";
            return POOL_DB_UNAVAILABLE;
        }
        return pool_db_run_direct(&fr->direct, op, baton, err);
    }
    fr->records++;
    if (fr->record == RECORD_FAILS) {
        *err = "injected: the connection broke before COMMIT";
        return POOL_DB_UNAVAILABLE;
    }
    rc = pool_db_run_direct(&fr->direct, op, baton, err);
    if (rc == POOL_DB_OK && fr->record == RECORD_ANSWER_LOST) {
        *err = "injected: the answer to COMMIT was lost";
        return POOL_DB_UNAVAILABLE;
    }
    return rc;
}

/* ---------------------------------------------------- record and lookup */

typedef struct {
    apr_array_header_t *in;     /* pool_file_t * */
    apr_array_header_t *out;
    int mark_unused;
    pool_ingest_t *ing;
} rec_baton;

static pool_db_rc op_record(apr_pool_t *pp, PGconn *c, void *b,
                            const char **err)
{
    rec_baton *rb = b;
    pool_db_rc rc = pool_db_file_insert_many(pp, c, rb->in, &rb->out, err);

    if (rc == POOL_DB_OK && rb->mark_unused) {
        APR_ARRAY_IDX(rb->ing->items, 0, pool_ingest_item_t *)->unused = 1;
    }
    return rc;
}

static pool_db_rc op_lookup(apr_pool_t *pp, PGconn *c, void *b,
                            const char **err)
{
    rec_baton *rb = b;
    pool_file_t *f = APR_ARRAY_IDX(rb->in, 0, pool_file_t *), *row;

    return pool_db_file_get(pp, c, f->pool, f->id, &row, err);
}

/* ------------------------------------------------------------ helpers */

typedef struct {
    pool_ingest_t in;
    fault_runner fr;
    rec_baton rb;
} ingest_case;

static pool_spool_t *spool_of(pool_store_t *s, const char *data)
{
    pool_spool_t *sp;

    ck_assert_int_eq(s->ops->spool_open(s, p, 1 << 20, &sp), APR_SUCCESS);
    ck_assert_int_eq(s->ops->spool_write(sp, data, strlen(data)),
                     APR_SUCCESS);
    return sp;
}

/* A case of n files with the given contents, on the store s. */
static ingest_case *make_case(pool_store_t *s, int n, const char **data,
                              const char *pool)
{
    ingest_case *ic = apr_pcalloc(p, sizeof(*ic));
    int i;

    ic->in.store = s;
    ic->in.run = run_faulty;
    ic->in.run_ctx = &ic->fr;
    ic->in.record = op_record;
    ic->in.lookup = op_lookup;
    ic->in.baton = &ic->rb;
    ic->in.items = apr_array_make(p, n, sizeof(pool_ingest_item_t *));
    ic->fr.direct.p = p;
    ic->fr.direct.c = db;
    ic->fr.in = &ic->in;
    ic->rb.in = apr_array_make(p, n, sizeof(pool_file_t *));
    ic->rb.ing = &ic->in;
    for (i = 0; i < n; i++) {
        pool_ingest_item_t *it = pool_ingest_add(p, &ic->in, pool,
                                                 pool_uuid(p),
                                                 spool_of(s, data[i]),
                                                 "file");
        pool_file_t *f = apr_pcalloc(p, sizeof(*f));

        f->id = it->id;
        f->pool = pool;
        f->client_id = client_id;
        f->name = apr_psprintf(p, "f%d.txt", i);
        f->content_type = "text/plain";
        f->ts = apr_time_now();
        APR_ARRAY_PUSH(ic->rb.in, pool_file_t *) = f;
    }
    return ic;
}

static int prepare_rows(ingest_case *ic)
{
    pool_problem_t pr;
    int i;

    if (!pool_ingest_prepare(p, &ic->in, &pr)) {
        return 0;
    }
    for (i = 0; i < ic->in.items->nelts; i++) {
        pool_ingest_item_t *it = APR_ARRAY_IDX(ic->in.items, i,
                                               pool_ingest_item_t *);
        pool_file_t *f = APR_ARRAY_IDX(ic->rb.in, i, pool_file_t *);
        f->size = it->size;
        f->sha256 = it->sha256_hex;
    }
    return 1;
}

static const char *item_id(ingest_case *ic, int i)
{
    return APR_ARRAY_IDX(ic->in.items, i, pool_ingest_item_t *)->id;
}

static int has_row(const char *id)
{
    pool_file_t *f;
    const char *err;

    return pool_db_file_get(p, db, pool_name, id, &f, &err) == POOL_DB_OK;
}

static int has_bytes(const char *id)
{
    apr_off_t size;

    return fs->ops->stat(fs, p, pool_name, id, &size) == APR_SUCCESS;
}

static int revealed(const char *id)
{
    const char *path = apr_psprintf(p, "%s/%s/files/%.2s/%s", root,
                                    pool_name, id, id);
    return access(path, F_OK) == 0;
}

static apr_status_t collect(void *baton, const char *buf, apr_size_t n)
{
    char **s = baton;

    *s = apr_pstrcat(p, *s, apr_pstrmemdup(p, buf, n), NULL);
    return APR_SUCCESS;
}

static const char *content(const char *id)
{
    char *s = apr_pstrdup(p, "");

    ck_assert_int_eq(pool_store_read_all(fs, p, pool_name, id, collect, &s),
                     APR_SUCCESS);
    return s;
}

static int dir_entries(const char *sub)
{
    DIR *d = opendir(apr_pstrcat(p, root, "/", sub, NULL));
    struct dirent *e;
    int n = 0;

    if (!d) {
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static pool_sweep_report_t sweep(void)
{
    pool_sweep_report_t rep;
    const char *err = NULL;
    pool_db_rc rc;

    sleep(1);   /* sweep takes what changed before now, in whole seconds */
    rc = pool_sweep(p, db, fs, pool_name, "unit-sweep", 0, &rep, &err);
    ck_assert_msg(rc == POOL_DB_OK, "sweep: %s", err ? err : "?");
    return rep;
}

/* ------------------------------------------------------------- set-up */

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    const char *err = NULL, *secret;
    pool_pool_t *pl;
    pool_client_t *cl;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    strcpy(root, "/tmp/pool-ingest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    fs = pool_store_fs(p, root);
    ck_assert_int_eq(fs->ops->check(fs, p, -1, -1, &err), APR_SUCCESS);
    faulty_ops = *fs->ops;
    faulty_ops.spool_stage = faulty_stage;
    faulty_ops.reveal = faulty_reveal;
    faulty.ops = &faulty_ops;
    faulty.root = fs->root;
    stage_fails_with = 0;
    stage_fail_at = 1;
    stages = 0;
    reveal_fails = 0;
    pool_name = apr_psprintf(p, "ingest%s",
                             apr_pstrndup(p, pool_uuid(p), 8));
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_name, &pl, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_client_add(p, db, pool_name, "unit", "uploader",
                                        &cl, &secret, &err), POOL_DB_OK);
    client_id = cl->client_id;
}

/* The same, with the WebDAV store in place of the directory store (the
 * faulty store wraps it alike). */
static void setup_dav(void)
{
    const char *url = getenv("POOL_TEST_DAV_URL"), *err = NULL;

    setup();
    fs = pool_store_create(p, url, getenv("POOL_TEST_DAV_CREDENTIALS"),
                           &err);
    ck_assert_msg(fs != NULL, "WebDAV store: %s", err ? err : "?");
    ck_assert_msg(fs->ops->check(fs, p, -1, -1, &err) == APR_SUCCESS,
                  "WebDAV store: %s", err);
    faulty_ops = *fs->ops;
    faulty_ops.spool_stage = faulty_stage;
    faulty_ops.reveal = faulty_reveal;
    faulty.ops = &faulty_ops;
    faulty.root = fs->root;
    faulty.priv = fs->priv;
}

static void teardown(void)
{
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    PQfinish(db);
    db = NULL;
    apr_pool_destroy(p);
    p = NULL;
}

/* -------------------------------------------------------------- tests */

START_TEST(success_is_visible_with_its_bytes)
{
    const char *data[] = { "hello, pool" };
    ingest_case *ic = make_case(fs, 1, data, pool_name);
    pool_problem_t pr;
    pool_ingest_item_t *it;

    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 1);
    it = APR_ARRAY_IDX(ic->in.items, 0, pool_ingest_item_t *);
    ck_assert_int_eq(it->size, 11);
    ck_assert_str_eq(it->sha256_hex, "d4bc8327303b022f6d3249885241d719"
                     "4431acdaf84d4a32eec5b05503f13a35");
    ck_assert(has_row(it->id));
    ck_assert(revealed(it->id));
    ck_assert_str_eq(content(it->id), "hello, pool");
    ck_assert_int_eq(dir_entries(".spool"), 0);
    ck_assert_int_eq(dir_entries(apr_pstrcat(p, ".staged/", pool_name,
                                             NULL)), 0);
}
END_TEST

START_TEST(digest_mismatch_stores_nothing)
{
    const char *data[] = { "abc" };
    ingest_case *ic = make_case(fs, 1, data, pool_name);
    static const unsigned char zero[32];
    pool_problem_t pr;

    APR_ARRAY_IDX(ic->in.items, 0, pool_ingest_item_t *)->want = zero;
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 400);
    ck_assert_int_eq(ic->fr.records, 0);
    ck_assert(!has_bytes(item_id(ic, 0)));
    ck_assert_int_eq(dir_entries(".spool"), 0);
}
END_TEST

START_TEST(store_full_at_stage_stores_nothing)
{
    const char *data[] = { "one", "two", "three" };
    ingest_case *ic = make_case(&faulty, 3, data, pool_name);
    pool_problem_t pr;
    int i;

    stage_fails_with = POOL_STORE_FULL;
    stage_fail_at = 2;          /* the first is staged by then */
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 507);
    ck_assert_int_eq(ic->fr.records, 0);
    for (i = 0; i < 3; i++) {
        ck_assert(!has_bytes(item_id(ic, i)));
        ck_assert(!has_row(item_id(ic, i)));
    }
    ck_assert_int_eq(dir_entries(".spool"), 0);
}
END_TEST

START_TEST(store_unavailable_is_503_with_retry_after)
{
    const char *data[] = { "x" };
    ingest_case *ic = make_case(&faulty, 1, data, pool_name);
    pool_problem_t pr;

    stage_fails_with = POOL_STORE_UNAVAILABLE;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 503);
    ck_assert_int_gt(pr.retry_after, 0);
    ck_assert(!has_bytes(item_id(ic, 0)));
}
END_TEST

START_TEST(refused_record_removes_the_bytes)
{
    const char *data[] = { "late or lost" };
    /* a pool that does not exist: the insert is refused for sure */
    ingest_case *ic = make_case(fs, 1, data, "nosuchpool");
    pool_problem_t pr;
    apr_off_t size;

    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 404);
    ck_assert_int_eq(ic->fr.lookups, 1);
    ck_assert_int_eq(fs->ops->stat(fs, p, "nosuchpool", item_id(ic, 0),
                                   &size), APR_ENOENT);
}
END_TEST

START_TEST(record_failing_before_commit_removes_the_bytes)
{
    const char *data[] = { "a", "b" };
    ingest_case *ic = make_case(fs, 2, data, pool_name);
    pool_problem_t pr;

    ic->fr.record = RECORD_FAILS;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 503);
    ck_assert_int_eq(ic->fr.lookups, 1);
    ck_assert(!has_bytes(item_id(ic, 0)) && !has_bytes(item_id(ic, 1)));
    ck_assert(!has_row(item_id(ic, 0)) && !has_row(item_id(ic, 1)));
}
END_TEST

START_TEST(lost_answer_after_commit_is_a_success)
{
    const char *data[] = { "committed", "too" };
    ingest_case *ic = make_case(fs, 2, data, pool_name);
    pool_problem_t pr;

    ic->fr.record = RECORD_ANSWER_LOST;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 1);
    ck_assert_int_eq(ic->fr.lookups, 1);
    ck_assert(has_row(item_id(ic, 0)) && has_row(item_id(ic, 1)));
    ck_assert(revealed(item_id(ic, 0)) && revealed(item_id(ic, 1)));
    ck_assert_str_eq(content(item_id(ic, 1)), "too");
}
END_TEST

START_TEST(unknown_outcome_keeps_bytes_then_sweep_removes_them)
{
    const char *data[] = { "never acknowledged" };
    ingest_case *ic = make_case(fs, 1, data, pool_name);
    pool_sweep_report_t rep;
    pool_problem_t pr;

    ic->fr.record = RECORD_FAILS;
    ic->fr.lookup_fails = 1;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 503);
    ck_assert_int_gt(pr.retry_after, 0);
    /* kept, never guessed away; but in no view */
    ck_assert(has_bytes(item_id(ic, 0)));
    ck_assert(!revealed(item_id(ic, 0)));
    ck_assert(!has_row(item_id(ic, 0)));
    rep = sweep();
    ck_assert_int_eq(rep.staged, 1);
    ck_assert_int_eq(rep.revealed, 0);
    ck_assert(!has_bytes(item_id(ic, 0)));
}
END_TEST

START_TEST(unknown_outcome_that_committed_is_revealed_by_sweep)
{
    const char *data[] = { "acknowledged later" };
    ingest_case *ic = make_case(fs, 1, data, pool_name);
    pool_sweep_report_t rep;
    pool_problem_t pr;

    ic->fr.record = RECORD_ANSWER_LOST;
    ic->fr.lookup_fails = 1;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 0);
    ck_assert_int_eq(pr.status, 503);
    ck_assert(has_row(item_id(ic, 0)));
    ck_assert(has_bytes(item_id(ic, 0)));
    /* readable under its staged name meanwhile */
    ck_assert_str_eq(content(item_id(ic, 0)), "acknowledged later");
    rep = sweep();
    ck_assert_int_eq(rep.revealed, 1);
    ck_assert_int_eq(rep.staged, 0);
    ck_assert_int_eq(rep.missing, 0);
    ck_assert(revealed(item_id(ic, 0)));
}
END_TEST

START_TEST(failed_reveal_is_still_a_success)
{
    const char *data[] = { "durable" };
    ingest_case *ic = make_case(&faulty, 1, data, pool_name);
    pool_sweep_report_t rep;
    pool_problem_t pr;

    reveal_fails = 1;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 1);
    ck_assert(has_row(item_id(ic, 0)));
    ck_assert(!revealed(item_id(ic, 0)));
    ck_assert_str_eq(content(item_id(ic, 0)), "durable");
    rep = sweep();
    ck_assert_int_eq(rep.revealed, 1);
    ck_assert(revealed(item_id(ic, 0)));
}
END_TEST

START_TEST(unused_bytes_are_removed)
{
    const char *data[] = { "the row points elsewhere" };
    ingest_case *ic = make_case(fs, 1, data, pool_name);
    pool_problem_t pr;

    ic->rb.mark_unused = 1;
    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 1);
    ck_assert(!has_bytes(item_id(ic, 0)));
}
END_TEST

START_TEST(abort_discards_spools)
{
    const char *data[] = { "a", "b" };
    ingest_case *ic = make_case(fs, 2, data, pool_name);

    ck_assert_int_eq(dir_entries(".spool"), 2);
    pool_ingest_abort(&ic->in);
    ck_assert_int_eq(dir_entries(".spool"), 0);
}
END_TEST

/* Staging from many threads at once into one directory (their directory
 * syncs are shared): every object is there, whole. */
#define STAGERS 16

typedef struct {
    const char *id;
    apr_status_t rv;
} stager;

static void *APR_THREAD_FUNC stage_one(apr_thread_t *th, void *data)
{
    stager *sg = data;
    apr_pool_t *tp;
    pool_spool_t *sp;

    apr_pool_create(&tp, NULL);
    sg->rv = fs->ops->spool_open(fs, tp, -1, &sp);
    if (sg->rv == APR_SUCCESS) {
        sg->rv = fs->ops->spool_write(sp, sg->id, strlen(sg->id));
    }
    if (sg->rv == APR_SUCCESS) {
        sg->rv = fs->ops->spool_stage(sp, pool_name, sg->id);
    }
    apr_pool_destroy(tp);
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

START_TEST(concurrent_stages_are_all_durable)
{
    apr_thread_t *th[STAGERS];
    stager sg[STAGERS];
    apr_status_t trv;
    int i;

    for (i = 0; i < STAGERS; i++) {
        sg[i].id = pool_uuid(p);
        sg[i].rv = APR_EGENERAL;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, stage_one, &sg[i],
                                           p), APR_SUCCESS);
    }
    for (i = 0; i < STAGERS; i++) {
        apr_thread_join(&trv, th[i]);
    }
    for (i = 0; i < STAGERS; i++) {
        ck_assert_int_eq(sg[i].rv, APR_SUCCESS);
        ck_assert_str_eq(content(sg[i].id), sg[i].id);
    }
    ck_assert_int_eq(dir_entries(apr_pstrcat(p, ".staged/", pool_name,
                                             NULL)), STAGERS);
}
END_TEST

START_TEST(dav_success_is_stored)
{
    const char *data[] = { "hello, pool", "and a second file" };
    ingest_case *ic = make_case(fs, 2, data, pool_name);
    pool_problem_t pr;
    pool_ingest_item_t *it;

    ck_assert(prepare_rows(ic));
    ck_assert_int_eq(pool_ingest_commit(p, &ic->in, &pr), 1);
    it = APR_ARRAY_IDX(ic->in.items, 0, pool_ingest_item_t *);
    ck_assert_int_eq(it->size, 11);
    ck_assert_str_eq(it->sha256_hex, "d4bc8327303b022f6d3249885241d719"
                     "4431acdaf84d4a32eec5b05503f13a35");
    ck_assert(has_row(it->id) && has_row(item_id(ic, 1)));
    ck_assert_str_eq(content(it->id), "hello, pool");
    ck_assert_str_eq(content(item_id(ic, 1)), "and a second file");
    ck_assert_int_eq(fs->ops->remove(fs, p, pool_name, it->id), APR_SUCCESS);
    ck_assert_int_eq(fs->ops->remove(fs, p, pool_name, item_id(ic, 1)),
                     APR_SUCCESS);
}
END_TEST

Suite *suite_ingest(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("ingest");

    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, success_is_visible_with_its_bytes);
    tcase_add_test(tc, digest_mismatch_stores_nothing);
    tcase_add_test(tc, store_full_at_stage_stores_nothing);
    tcase_add_test(tc, store_unavailable_is_503_with_retry_after);
    tcase_add_test(tc, refused_record_removes_the_bytes);
    tcase_add_test(tc, record_failing_before_commit_removes_the_bytes);
    tcase_add_test(tc, lost_answer_after_commit_is_a_success);
    tcase_add_test(tc, unknown_outcome_keeps_bytes_then_sweep_removes_them);
    tcase_add_test(tc, unknown_outcome_that_committed_is_revealed_by_sweep);
    tcase_add_test(tc, failed_reveal_is_still_a_success);
    tcase_add_test(tc, unused_bytes_are_removed);
    tcase_add_test(tc, abort_discards_spools);
    tcase_add_test(tc, concurrent_stages_are_all_durable);
    suite_add_tcase(s, tc);
    if (getenv("POOL_TEST_DAV_URL")) {
        TCase *dav = tcase_create("ingest_dav");

        tcase_add_checked_fixture(dav, setup_dav, teardown);
        tcase_set_timeout(dav, 30);
        tcase_add_test(dav, dav_success_is_stored);
        tcase_add_test(dav, digest_mismatch_stores_nothing);
        tcase_add_test(dav, store_full_at_stage_stores_nothing);
        tcase_add_test(dav, store_unavailable_is_503_with_retry_after);
        tcase_add_test(dav, refused_record_removes_the_bytes);
        tcase_add_test(dav, record_failing_before_commit_removes_the_bytes);
        tcase_add_test(dav, unused_bytes_are_removed);
        suite_add_tcase(s, dav);
    }
    return s;
}
