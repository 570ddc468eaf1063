/* Gathered, block-aligned direct writes (lib/pool_dio.c) and the directory
 * store's upload files built on them: whatever the chunk sizes, the stops
 * (a tus PATCH ends anywhere) and the cuts, the file holds exactly the
 * bytes written, with direct writes and without. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "unit.h"
#include "pool_dio.h"
#include "pool_store.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, access("var", W_OK) == 0 ? "var/unit-dio.XXXXXX"
                                          : "/tmp/unit-dio.XXXXXX");
    if (!mkdtemp(dir)) {
        abort();
    }
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        abort();
    }
}

/* The whole file, compared with want[0..len). */
static void assert_file(const char *path, const unsigned char *want,
                        size_t len)
{
    struct stat st;
    unsigned char *got;
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq((long)st.st_size, (long)len);
    got = malloc(len + 1);
    ck_assert_int_eq(pread(fd, got, len, 0), (ssize_t)len);
    ck_assert_msg(memcmp(got, want, len) == 0, "%s differs", path);
    free(got);
    close(fd);
}

#define TOTAL (3 * POOL_DIO_BUFFER + 12345)

/* One random run: writers opened at the current end (unaligned most of the
 * time, as a resumed upload), chunks of 1 byte to twice the buffer, flushes
 * at random, now and then a cut back to an earlier offset. */
static void run_writer(int direct, unsigned int seed)
{
    unsigned char *want = malloc(TOTAL), *chunk = malloc(2 * POOL_DIO_BUFFER);
    char *path;
    size_t end = 0;
    int fd, opened = 0, direct_seen = 0;

    ck_assert_int_ge(asprintf(&path, "%s/f%d-%u", dir, direct, seed), 0);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    srandom(seed);
    while (end < TOTAL) {
        pool_dio_t w;
        int pieces = 1 + (int)(random() % 6);

        pool_dio_init(&w, fd, direct ? path : NULL, (apr_off_t)end);
        opened++;
        while (pieces-- > 0 && end < TOTAL) {
            size_t n = random() % 3 ? 1 + (size_t)(random() % 9000)
                                    : 1 + (size_t)(random()
                                                   % (2 * POOL_DIO_BUFFER));
            size_t i;

            if (n > TOTAL - end) {
                n = TOTAL - end;
            }
            for (i = 0; i < n; i++) {
                chunk[i] = (unsigned char)random();
            }
            ck_assert_int_eq(pool_dio_write(&w, chunk, n), APR_SUCCESS);
            memcpy(want + end, chunk, n);
            end += n;
            if (random() % 4 == 0) {
                ck_assert_int_eq(pool_dio_flush(&w), APR_SUCCESS);
                assert_file(path, want, end);
            }
            if (random() % 7 == 0 && end > 1) {
                size_t cut = (size_t)(random() % end);

                ck_assert_int_eq(pool_dio_truncate(&w, (apr_off_t)cut),
                                 APR_SUCCESS);
                end = cut;
                assert_file(path, want, end);
            }
        }
        ck_assert_int_eq(pool_dio_flush(&w), APR_SUCCESS);
        ck_assert_int_eq(w.refused, 0);
        direct_seen |= w.went_direct;
        ck_assert_int_eq(w.direct_path != NULL, direct);   /* kept */
        pool_dio_close(&w);
        ck_assert_int_eq(fsync(fd), 0);
        assert_file(path, want, end);
    }
    ck_assert_int_ge(opened, 2);
    if (direct) {
        ck_assert_msg(direct_seen, "no direct write was made in %s (does "
                      "it take O_DIRECT?)", dir);
    }
    close(fd);
    free(path);
    free(chunk);
    free(want);
}

START_TEST(test_dio_random)
{
    unsigned int seed;

    for (seed = 1; seed <= 12; seed++) {
        run_writer(_i, seed);
    }
}
END_TEST

/* Dropped, not written: what was gathered but not flushed when the writer
 * closes (an upload whose PATCH failed keeps its acknowledged offset). */
START_TEST(test_dio_close_drops)
{
    char *path;
    pool_dio_t w;
    unsigned char data[10000];
    int fd;

    memset(data, 'a', sizeof(data));
    ck_assert_int_ge(asprintf(&path, "%s/drop", dir), 0);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    pool_dio_init(&w, fd, path, 0);
    ck_assert_int_eq(pool_dio_write(&w, data, sizeof(data)), APR_SUCCESS);
    ck_assert_int_eq(pool_dio_flush(&w), APR_SUCCESS);
    ck_assert_int_eq(w.went_direct, 0);     /* small: through the page cache */
    memset(data, 'b', sizeof(data));
    ck_assert_int_eq(pool_dio_write(&w, data, 100), APR_SUCCESS);
    pool_dio_close(&w);
    memset(data, 'a', sizeof(data));
    assert_file(path, data, sizeof(data));
    /* a cut beyond what was gathered leaves a hole of zeros, as ftruncate */
    pool_dio_init(&w, fd, NULL, sizeof(data));
    ck_assert_int_eq(pool_dio_truncate(&w, 2 * sizeof(data)), APR_SUCCESS);
    pool_dio_close(&w);
    {
        unsigned char *want = calloc(1, 2 * sizeof(data));

        memset(want, 'a', sizeof(data));
        assert_file(path, want, 2 * sizeof(data));
        free(want);
    }
    close(fd);
    free(path);
}
END_TEST

/* A file system that refuses O_DIRECT (open gives EINVAL, as /dev/null
 * does): the writer says so and writes everything ordinarily. */
START_TEST(test_dio_refused)
{
    unsigned char *want = malloc(TOTAL);
    char *path;
    pool_dio_t w;
    size_t i;
    int fd;

    for (i = 0; i < TOTAL; i++) {
        want[i] = (unsigned char)(i * 31 + 7);
    }
    ck_assert_int_ge(asprintf(&path, "%s/refused", dir), 0);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    pool_dio_init(&w, fd, "/dev/null", 0);
    for (i = 0; i < TOTAL; i += 8000) {
        ck_assert_int_eq(pool_dio_write(&w, want + i,
                                        TOTAL - i > 8000 ? 8000 : TOTAL - i),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(pool_dio_flush(&w), APR_SUCCESS);
    ck_assert_int_eq(w.refused, 1);
    ck_assert_int_eq(w.went_direct, 0);
    ck_assert_ptr_null(w.direct_path);
    pool_dio_close(&w);
    assert_file(path, want, TOTAL);
    close(fd);
    free(path);
    free(want);
}
END_TEST

/* The directory store's upload files: a resumed upload (opened again at the
 * acknowledged offset) and a cut after a failed PATCH, read back through
 * the store and as a file. */
START_TEST(test_dio_store_uploads)
{
    apr_pool_t *p;
    pool_store_t *st;
    pool_upfile_t *u;
    const char *id = "0f0e0d0c-0b0a-4908-8706-050403020100";
    const char *err = NULL;
    unsigned char *want = malloc(TOTAL), *got = malloc(TOTAL);
    size_t end = 0, i;

    apr_pool_create(&p, NULL);
    st = pool_store_fs(p, dir);
    ck_assert_int_eq(st->ops->check(st, p, -1, -1, &err), APR_SUCCESS);
    for (i = 0; i < TOTAL; i++) {
        want[i] = (unsigned char)(i * 7 + i / 4096);
    }
    srandom(99);
    while (end < TOTAL) {
        size_t n = 1 + (size_t)(random() % (POOL_DIO_BUFFER + 5000));
        size_t k;

        if (n > TOTAL - end) {
            n = TOTAL - end;
        }
        ck_assert_int_eq(st->ops->upload_open(st, p, id, (apr_off_t)end,
                                              end == 0, &u), APR_SUCCESS);
        for (k = 0; k < n; k += 8000) {
            ck_assert_int_eq(st->ops->upload_write(u, want + end + k,
                                                   n - k > 8000 ? 8000
                                                                : n - k),
                             APR_SUCCESS);
        }
        if (random() % 3 == 0) {
            /* the PATCH fails: cut back to where it began */
            ck_assert_int_eq(st->ops->upload_truncate(u, (apr_off_t)end),
                             APR_SUCCESS);
        }
        else {
            end += n;
        }
        ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
        if (end) {
            size_t from = end > 5000 ? end - 5000 : 0;

            ck_assert_int_eq(st->ops->upload_read(u, (apr_off_t)from, got,
                                                  end - from), APR_SUCCESS);
            ck_assert(memcmp(got, want + from, end - from) == 0);
        }
        st->ops->upload_close(u);
    }
    assert_file(apr_pstrcat(p, dir, "/.uploads/", id, NULL), want, TOTAL);
    apr_pool_destroy(p);
    free(want);
    free(got);
}
END_TEST

/* The directory store's spools (gathered, written ordinarily), sized around
 * the buffers and the block: the staged object holds the bytes; an aborted
 * spool leaves nothing. */
START_TEST(test_dio_store_spools)
{
    static const size_t sizes[] = { 0, 1, POOL_DIO_ALIGN - 1, 100000,
                                    POOL_DIO_SMALL - 1, POOL_DIO_SMALL,
                                    POOL_DIO_SMALL + 1,
                                    POOL_DIO_BUFFER - 1, POOL_DIO_BUFFER,
                                    POOL_DIO_BUFFER + 1,
                                    3 * POOL_DIO_BUFFER + POOL_DIO_ALIGN,
                                    TOTAL };
    apr_pool_t *p;
    pool_store_t *st;
    const char *err = NULL;
    unsigned char *want = malloc(TOTAL);
    size_t i, k;
    struct stat sb;

    apr_pool_create(&p, NULL);
    st = pool_store_fs(p, dir);
    ck_assert_int_eq(st->ops->check(st, p, -1, -1, &err), APR_SUCCESS);
    for (i = 0; i < TOTAL; i++) {
        want[i] = (unsigned char)(i * 13 + i / 999);
    }
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        pool_spool_t *sp;
        char id[40];

        snprintf(id, sizeof(id), "1f0e0d0c-0b0a-4908-8706-0504030201%02x",
                 (unsigned int)i);
        ck_assert_int_eq(st->ops->spool_open(st, p, -1, &sp), APR_SUCCESS);
        for (k = 0; k < sizes[i]; k += 8000) {
            ck_assert_int_eq(st->ops->spool_write(sp, want + k,
                                                  sizes[i] - k > 8000
                                                  ? 8000 : sizes[i] - k),
                             APR_SUCCESS);
        }
        ck_assert_int_eq(pool_spool_size(sp), (apr_off_t)sizes[i]);
        ck_assert_int_eq(st->ops->spool_stage(sp, "dio", id), APR_SUCCESS);
        assert_file(apr_pstrcat(p, dir, "/.staged/dio/", id, NULL), want,
                    sizes[i]);
    }
    {
        pool_spool_t *sp;
        char *cmd;

        ck_assert_int_eq(st->ops->spool_open(st, p, -1, &sp), APR_SUCCESS);
        ck_assert_int_eq(st->ops->spool_write(sp, want, TOTAL), APR_SUCCESS);
        st->ops->spool_abort(sp);
        cmd = apr_psprintf(p, "test -z \"$(ls -A '%s/.spool')\"", dir);
        ck_assert_msg(system(cmd) == 0, "an aborted spool left a file");
    }
    ck_assert_int_eq(stat(apr_pstrcat(p, dir, "/.staged/dio", NULL), &sb), 0);
    apr_pool_destroy(p);
    free(want);
}
END_TEST

Suite *suite_dio(void)
{
    Suite *s = suite_create("dio");
    TCase *tc = tcase_create("dio");

    /* one directory for the case, removed also when a test fails */
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_dio_random, 0, 2);
    tcase_add_test(tc, test_dio_close_drops);
    tcase_add_test(tc, test_dio_refused);
    tcase_add_test(tc, test_dio_store_uploads);
    tcase_add_test(tc, test_dio_store_spools);
    suite_add_tcase(s, tc);
    return s;
}
