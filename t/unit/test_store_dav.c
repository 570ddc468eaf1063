/* The WebDAV store against a real WebDAV server: Debian's apache2 with
 * mod_dav_fs behind HTTP Basic, which scripts/test starts (scripts/stack.sh
 * store_server_start) and names in POOL_TEST_DAV_URL (its collection) and
 * POOL_TEST_DAV_CREDENTIALS (a user:password file).  Every test works in
 * a collection of its own under that URL.  The same server has /plain/ (no
 * DAV), /full/ (507 to everything) and /down/ (503 to everything). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "unit.h"
#include "pool_log.h"
#include "pool_store.h"
#include "pool_store_impl.h"
#include "pool_util.h"

static apr_pool_t *p;
static const char *base;        /* this test's collection */
static const char *creds;       /* the credentials file */
static char userpwd[256];
static pool_store_t *st;
static const char *pool_name = "davpool";

/* ------------------------------------------------ plain HTTP, for looking */

typedef struct {
    char *buf;
    apr_size_t len, cap;
} membuf;

static size_t mem_write(char *d, size_t size, size_t n, void *ud)
{
    membuf *m = ud;
    size_t k = size * n;

    if (m->len + k + 1 > m->cap) {
        apr_size_t cap = (m->len + k + 1) * 2;
        char *nb = apr_palloc(p, cap);

        if (m->len) {
            memcpy(nb, m->buf, m->len);
        }
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, d, k);
    m->len += k;
    m->buf[m->len] = '\0';
    return k;
}

/* method url -> status; *out gets the body (may be NULL). */
static long http(const char *method, const char *url, const char *h1,
                 const char *body, char **out)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    membuf m = { NULL, 0, 0 };
    long status = 0;

    ck_assert_ptr_nonnull(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    if (h1) {
        hl = curl_slist_append(hl, h1);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    if (hl) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    }
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (out) {
        *out = m.buf ? m.buf : apr_pstrdup(p, "");
    }
    return status;
}

static long http_status(const char *method, const char *rel)
{
    return http(method, apr_pstrcat(p, base, rel, NULL), NULL, NULL, NULL);
}

/* The names in a collection (PROPFIND Depth 1), crudely. */
static int count_members(const char *rel)
{
    char *body, *s;
    int n = -1;             /* the collection itself */

    if (http("PROPFIND", apr_pstrcat(p, base, rel, NULL), "Depth: 1", NULL,
             &body) != 207) {
        return 0;
    }
    for (s = body; (s = strstr(s, "<D:response")) != NULL; s++) {
        n++;
    }
    return n;
}

/* ------------------------------------------------------------ helpers */

static unsigned char *random_bytes(apr_size_t n)
{
    unsigned char *b = apr_palloc(p, n);
    apr_size_t i;
    unsigned int x = 2463534242u;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
    return b;
}

static void sha256(const void *d, apr_size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, d, n);
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
}

/* Spools data in pieces of 8000 bytes (as httpd hands a body over). */
static pool_spool_t *spool(pool_store_t *s, const void *data, apr_size_t n)
{
    pool_spool_t *sp;
    apr_size_t off = 0;

    ck_assert_int_eq(s->ops->spool_open(s, p, 1 << 30, &sp), APR_SUCCESS);
    while (off < n) {
        apr_size_t k = n - off > 8000 ? 8000 : n - off;
        ck_assert_int_eq(s->ops->spool_write(sp, (const char *)data + off, k),
                         APR_SUCCESS);
        off += k;
    }
    return sp;
}

static const char *stage(const void *data, apr_size_t n, const char *pool)
{
    const char *id = pool_uuid(p);
    pool_spool_t *sp = spool(st, data, n);
    unsigned char want[32], got[32];

    sha256(data, n, want);
    ck_assert_int_eq(pool_spool_size(sp), (apr_off_t)n);
    pool_spool_digest(sp, got);
    ck_assert(!memcmp(want, got, 32));
    ck_assert_int_eq(st->ops->spool_stage(sp, pool, id), APR_SUCCESS);
    return id;
}

typedef struct {
    char *buf;
    apr_size_t len;
} collected;

static apr_status_t collect(void *baton, const char *buf, apr_size_t n)
{
    collected *c = baton;

    memcpy(c->buf + c->len, buf, n);
    c->len += n;
    return APR_SUCCESS;
}

static void read_range(pool_store_obj_t *o, const unsigned char *data,
                       apr_off_t off, apr_off_t len)
{
    collected c;

    c.buf = apr_palloc(p, (apr_size_t)len + 1);
    c.len = 0;
    ck_assert_int_eq(st->ops->obj_read(o, off, len, collect, &c),
                     APR_SUCCESS);
    ck_assert_int_eq(c.len, (apr_size_t)len);
    ck_assert(!memcmp(c.buf, data + off, (apr_size_t)len));
}

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);

    ck_assert_msg(v && *v, "%s is not set (scripts/test starts a WebDAV "
                  "server for the unit tests)", name);
    return v;
}

static const char *write_file(const char *content)
{
    char *path = apr_pstrdup(p, "/tmp/pool-dav-creds-XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)),
                     (ssize_t)strlen(content));
    close(fd);
    return path;
}

static pool_store_t *store_at(const char *url, const char *cred_file)
{
    const char *err = NULL;
    pool_store_t *s = pool_store_create(p, url, cred_file, &err);

    ck_assert_msg(s != NULL, "pool_store_create: %s", err ? err : "?");
    return s;
}

/* The server's root: http://127.0.0.1:PORT/ */
static const char *server_root(void)
{
    const char *url = env_or_fail("POOL_TEST_DAV_URL");
    const char *s = strstr(url, "://");
    const char *slash = s ? strchr(s + 3, '/') : NULL;

    ck_assert_ptr_nonnull(slash);
    return apr_pstrmemdup(p, url, (apr_size_t)(slash - url) + 1);
}

/* The store's log lines go to the test's output (var/unit.out). */
static void log_stderr(void *baton, int level, const char *msg)
{
    fprintf(stderr, "[store %d] %s\n", level, msg);
}

static void setup(void)
{
    const char *url, *err = NULL;
    apr_file_t *f;
    char line[256];
    apr_size_t n;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    pool_log_set(log_stderr, NULL);
    url = env_or_fail("POOL_TEST_DAV_URL");
    creds = env_or_fail("POOL_TEST_DAV_CREDENTIALS");
    ck_assert_int_eq(apr_file_open(&f, creds, APR_FOPEN_READ,
                                   APR_FPROT_OS_DEFAULT, p), APR_SUCCESS);
    ck_assert_int_eq(apr_file_gets(line, sizeof(line), f), APR_SUCCESS);
    apr_file_close(f);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    apr_cpystrn(userpwd, line, sizeof(userpwd));
    base = apr_pstrcat(p, url, url[strlen(url) - 1] == '/' ? "" : "/",
                       "t-", pool_uuid(p), "/", NULL);
    ck_assert_int_eq(http("MKCOL", base, NULL, NULL, NULL), 201);
    st = store_at(base, creds);
    ck_assert_msg(st->ops->check(st, p, -1, -1, &err) == APR_SUCCESS,
                  "check: %s", err ? err : "?");
}

static void teardown(void)
{
    if (base) {
        http("DELETE", base, NULL, NULL, NULL);
    }
    apr_pool_destroy(p);
    p = NULL;
    base = NULL;
}

/* -------------------------------------------------------------- tests */

START_TEST(check_makes_the_collections)
{
    const char *err = NULL;
    static const char *const colls[] = { "staging/", "objects/", "results/",
                                         "uploads/", "lost+found/" };
    unsigned int i;

    ck_assert_str_eq(st->ops->kind, "webdav");
    for (i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
        ck_assert_int_eq(http(
            "PROPFIND", apr_pstrcat(p, base, colls[i], NULL), "Depth: 0",
            NULL, NULL), 207);
    }
    /* twice is fine */
    ck_assert_int_eq(st->ops->check(st, p, -1, -1, &err), APR_SUCCESS);
}
END_TEST

/* A download opens with the row's size and time: no request until the
 * read, and a missing object is APR_ENOENT from that read. */
START_TEST(open_known_reads_with_one_get)
{
    apr_size_t n = 70 * 1000 + 3;
    unsigned char *data = random_bytes(n);
    const char *id = stage(data, n, pool_name);
    apr_time_t t = apr_time_from_sec(1700000000);
    pool_store_obj_t *o;

    ck_assert_int_eq(pool_store_open_known(st, p, pool_name, id, (apr_off_t)n,
                                           t, 0, &o), APR_SUCCESS);
    ck_assert_int_eq(o->size, (apr_off_t)n);
    ck_assert(o->mtime == t);
    read_range(o, data, 0, (apr_off_t)n);
    read_range(o, data, 1000, 2000);
    st->ops->obj_close(o);
    ck_assert_int_eq(st->ops->remove(st, p, pool_name, id), APR_SUCCESS);
    /* gone: opening still works (nothing is asked), reading says so */
    ck_assert_int_eq(pool_store_open_known(st, p, pool_name, id, (apr_off_t)n,
                                           t, 0, &o), APR_SUCCESS);
    ck_assert_int_eq(st->ops->obj_read(o, 0, (apr_off_t)n, collect, NULL),
                     APR_ENOENT);
    st->ops->obj_close(o);
}
END_TEST

START_TEST(spool_stage_open_read_remove)
{
    apr_size_t n = 300 * 1000 + 7;
    unsigned char *data = random_bytes(n);
    const char *id = stage(data, n, pool_name);
    pool_store_obj_t *o;
    apr_off_t size = 0;

    ck_assert_int_eq(st->ops->open(st, p, pool_name, id, 1, &o), APR_SUCCESS);
    ck_assert_int_eq(o->size, (apr_off_t)n);
    ck_assert(o->mtime > apr_time_now() - apr_time_from_sec(60));
    ck_assert_ptr_null(st->ops->obj_file(o));
    read_range(o, data, 0, 1);                      /* first byte */
    read_range(o, data, (apr_off_t)n - 1, 1);       /* last byte */
    read_range(o, data, 12345, 100000);             /* middle */
    read_range(o, data, 0, (apr_off_t)n);           /* whole */
    read_range(o, data, 5, 0);                      /* nothing */
    ck_assert_int_eq(st->ops->obj_read(o, 1, (apr_off_t)n, collect, NULL),
                     APR_EINVAL);
    st->ops->obj_close(o);
    ck_assert_int_eq(st->ops->stat(st, p, pool_name, id, &size), APR_SUCCESS);
    ck_assert_int_eq(size, (apr_off_t)n);
    /* nothing left in staging/, the object at its place */
    ck_assert_int_eq(count_members("staging/"), 0);
    ck_assert_int_eq(http_status("HEAD", apr_psprintf(p, "objects/%s/%.2s/%s",
                                                      pool_name, id, id)),
                     200);
    ck_assert_int_eq(st->ops->reveal(st, p, pool_name, id), APR_SUCCESS);
    ck_assert_int_eq(st->ops->remove(st, p, pool_name, id), APR_SUCCESS);
    ck_assert_int_eq(st->ops->stat(st, p, pool_name, id, &size), APR_ENOENT);
    ck_assert_int_eq(st->ops->open(st, p, pool_name, id, 0, &o), APR_ENOENT);
    ck_assert_int_eq(st->ops->remove(st, p, pool_name, id), APR_ENOENT);
}
END_TEST

START_TEST(small_and_empty_objects_and_results)
{
    const char *id1 = stage("", 0, pool_name);
    const char *id2 = stage("x", 1, NULL);
    collected c;
    apr_off_t size = -1;

    ck_assert_int_eq(st->ops->stat(st, p, pool_name, id1, &size),
                     APR_SUCCESS);
    ck_assert_int_eq(size, 0);
    ck_assert_int_eq(st->ops->stat(st, p, NULL, id2, &size), APR_SUCCESS);
    ck_assert_int_eq(size, 1);
    c.buf = apr_palloc(p, 4);
    c.len = 0;
    ck_assert_int_eq(pool_store_read_all(st, p, NULL, id2, collect, &c),
                     APR_SUCCESS);
    ck_assert_int_eq(c.len, 1);
    ck_assert_int_eq(c.buf[0], 'x');
    ck_assert_int_eq(st->ops->remove(st, p, NULL, id2), APR_SUCCESS);
    ck_assert_int_eq(st->ops->stat(st, p, NULL, id2, &size), APR_ENOENT);
}
END_TEST

START_TEST(stage_twice_is_idempotent)
{
    /* the same id staged again with the same bytes (a stage retried after
     * its answer was lost): the MOVE finds the target there, of the right
     * size, and succeeds; other bytes under that id are refused */
    const char *id = stage("same bytes", 10, pool_name);
    pool_spool_t *sp = spool(st, "same bytes", 10);
    apr_off_t size;

    ck_assert_int_eq(st->ops->spool_stage(sp, pool_name, id), APR_SUCCESS);
    ck_assert_int_eq(count_members("staging/"), 0);
    sp = spool(st, "other, longer bytes", 19);
    ck_assert_int_eq(st->ops->spool_stage(sp, pool_name, id), APR_EEXIST);
    ck_assert_int_eq(count_members("staging/"), 0);
    ck_assert_int_eq(st->ops->stat(st, p, pool_name, id, &size), APR_SUCCESS);
    ck_assert_int_eq(size, 10);
}
END_TEST

START_TEST(upload_stage_repeated)
{
    /* a completion retried after its answer was lost stages the same
     * upload onto the same id again: the object is there with its size */
    unsigned char *data = random_bytes(1000);
    const char *id = pool_uuid(p), *file_id = pool_uuid(p);
    pool_upfile_t *u;
    apr_off_t size;

    ck_assert_int_eq(st->ops->upload_open(st, p, id, 0, 1, &u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, data, 1000), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    st->ops->upload_close(u);
    ck_assert_int_eq(st->ops->upload_stage(st, p, id, 1000, pool_name,
                                           file_id), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_stage(st, p, id, 1000, pool_name,
                                           file_id), APR_SUCCESS);
    ck_assert_int_eq(st->ops->stat(st, p, pool_name, file_id, &size),
                     APR_SUCCESS);
    ck_assert_int_eq(size, 1000);
    ck_assert_int_eq(count_members("staging/"), 0);
}
END_TEST

START_TEST(too_big)
{
    pool_spool_t *sp;
    unsigned char *data = random_bytes(200);

    ck_assert_int_eq(st->ops->spool_open(st, p, 150, &sp), APR_SUCCESS);
    ck_assert_int_eq(st->ops->spool_write(sp, data, 100), APR_SUCCESS);
    ck_assert_int_eq(st->ops->spool_write(sp, data, 51), POOL_STORE_TOOBIG);
    ck_assert_int_eq(pool_spool_size(sp), 100);
    st->ops->spool_abort(sp);
    ck_assert_int_eq(count_members("staging/"), 0);
}
END_TEST

START_TEST(abort_after_the_put_removes_it)
{
    pool_spool_t *sp = spool(st, "abc", 3);
    unsigned char d[32];

    pool_spool_digest(sp, d);       /* finishes the PUT */
    ck_assert_int_eq(count_members("staging/"), 1);
    st->ops->spool_abort(sp);
    ck_assert_int_eq(count_members("staging/"), 0);
}
END_TEST

START_TEST(wrong_credentials_are_eacces)
{
    const char *bad = write_file("pool-store:not-the-password\n");
    pool_store_t *s = store_at(base, bad);
    const char *err = NULL;
    pool_spool_t *sp;
    apr_off_t size;

    ck_assert_int_eq(s->ops->check(s, p, -1, -1, &err), APR_EACCES);
    ck_assert_ptr_nonnull(strstr(err, "PoolStorageCredentials"));
    ck_assert_int_eq(s->ops->stat(s, p, pool_name, pool_uuid(p), &size),
                     APR_EACCES);
    ck_assert_int_eq(s->ops->spool_open(s, p, -1, &sp), APR_SUCCESS);
    ck_assert_int_eq(s->ops->spool_write(sp, "x", 1), APR_SUCCESS);
    ck_assert_int_eq(s->ops->spool_stage(sp, pool_name, pool_uuid(p)),
                     APR_EACCES);
    /* and none at all */
    s = store_at(base, NULL);
    ck_assert_int_eq(s->ops->check(s, p, -1, -1, &err), APR_EACCES);
    unlink(bad);
}
END_TEST

START_TEST(bad_credentials_files)
{
    const char *err = NULL;
    const char *empty = write_file("");
    const char *nocolon = write_file("justauser\n");
    const char *nouser = write_file(":pw\n");

    ck_assert_ptr_null(pool_store_create(p, base, "/nonexistent/pw", &err));
    ck_assert_ptr_nonnull(strstr(err, "cannot read"));
    ck_assert_ptr_null(pool_store_create(p, base, empty, &err));
    ck_assert_ptr_nonnull(strstr(err, "user:password"));
    ck_assert_ptr_null(pool_store_create(p, base, nocolon, &err));
    ck_assert_ptr_nonnull(strstr(err, "user:password"));
    ck_assert_ptr_null(pool_store_create(p, base, nouser, &err));
    ck_assert_ptr_null(pool_store_create(p, "http://u:p@127.0.0.1/x/", creds,
                                         &err));
    ck_assert_ptr_null(pool_store_create(p, "/srv/store", creds, &err));
    ck_assert_ptr_nonnull(strstr(err, "only for a WebDAV store"));
    unlink(empty);
    unlink(nocolon);
    unlink(nouser);
}
END_TEST

START_TEST(unreachable_is_unavailable)
{
    /* a port nobody listens on */
    pool_store_t *s = store_at("http://127.0.0.1:9/store/", creds);
    const char *err = NULL;
    apr_off_t size;
    pool_spool_t *sp;
    unsigned char d[32];

    ck_assert_int_eq(s->ops->check(s, p, -1, -1, &err),
                     POOL_STORE_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err, "cannot reach"));
    ck_assert_int_eq(s->ops->stat(s, p, pool_name, pool_uuid(p), &size),
                     POOL_STORE_UNAVAILABLE);
    ck_assert_int_eq(s->ops->spool_open(s, p, -1, &sp), APR_SUCCESS);
    ck_assert_int_eq(s->ops->spool_write(sp, "x", 1), APR_SUCCESS);
    pool_spool_digest(sp, d);
    ck_assert_int_eq(s->ops->spool_stage(sp, pool_name, pool_uuid(p)),
                     POOL_STORE_UNAVAILABLE);
}
END_TEST

START_TEST(not_webdav_fails_check)
{
    pool_store_t *s = store_at(apr_pstrcat(p, server_root(), "plain/", NULL),
                               creds);
    const char *err = NULL;

    ck_assert_int_ne(s->ops->check(s, p, -1, -1, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err, "PoolStorage URL is not a WebDAV collection")
                  != NULL, "%s", err);
    /* a DAV server, but no such collection */
    s = store_at(apr_pstrcat(p, base, "nothing-here/", NULL), creds);
    ck_assert_int_ne(s->ops->check(s, p, -1, -1, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err, "not a WebDAV collection") != NULL, "%s", err);
}
END_TEST

START_TEST(full_and_down)
{
    pool_store_t *full = store_at(apr_pstrcat(p, server_root(), "full/",
                                              NULL), creds);
    pool_store_t *down = store_at(apr_pstrcat(p, server_root(), "down/",
                                              NULL), creds);
    pool_spool_t *sp;
    apr_off_t size;
    const char *err = NULL;

    sp = spool(full, "abc", 3);
    ck_assert_int_eq(full->ops->spool_stage(sp, pool_name, pool_uuid(p)),
                     POOL_STORE_FULL);
    /* a big body: the answer comes while it is being sent */
    ck_assert_int_eq(full->ops->spool_open(full, p, -1, &sp), APR_SUCCESS);
    {
        unsigned char *data = random_bytes(64 * 1024);
        apr_status_t rv = APR_SUCCESS;
        int i;

        for (i = 0; i < 200 && rv == APR_SUCCESS; i++) {
            rv = full->ops->spool_write(sp, data, 64 * 1024);
        }
        if (rv == APR_SUCCESS) {
            rv = full->ops->spool_stage(sp, pool_name, pool_uuid(p));
        }
        else {
            full->ops->spool_abort(sp);
        }
        ck_assert_int_eq(rv, POOL_STORE_FULL);
    }
    ck_assert_int_eq(down->ops->stat(down, p, pool_name, pool_uuid(p),
                                     &size), POOL_STORE_UNAVAILABLE);
    sp = spool(down, "abc", 3);
    ck_assert_int_eq(down->ops->spool_stage(sp, pool_name, pool_uuid(p)),
                     POOL_STORE_UNAVAILABLE);
    ck_assert_int_eq(down->ops->check(down, p, -1, -1, &err),
                     POOL_STORE_UNAVAILABLE);
}
END_TEST

/* ------------------------------------------------ resumable uploads */

static const char *upload_read_all(const char *id, apr_off_t len)
{
    pool_spool_t *sp;
    const char *fid = pool_uuid(p);
    collected c;

    ck_assert_int_eq(st->ops->spool_open(st, p, -1, &sp), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_to_spool(st, p, id, len, sp),
                     APR_SUCCESS);
    ck_assert_int_eq(pool_spool_size(sp), len);
    ck_assert_int_eq(st->ops->spool_stage(sp, pool_name, fid), APR_SUCCESS);
    c.buf = apr_pcalloc(p, (apr_size_t)len + 1);
    c.len = 0;
    ck_assert_int_eq(pool_store_read_all(st, p, pool_name, fid, collect, &c),
                     APR_SUCCESS);
    return c.buf;
}

START_TEST(tus_parts)
{
    const char *id = pool_uuid(p), *fid = pool_uuid(p);
    pool_upfile_t *u;
    char buf[16];
    unsigned char want[32], got[32];
    apr_off_t freed = 0;
    collected c;

    /* missing: ENOENT unless created */
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 0, 0, &u), APR_ENOENT);
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 0, 1, &u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, "hel", 3), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, "lo ", 3), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, "world", 5), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    /* a read of what was written (a trailer's checksum) */
    ck_assert_int_eq(st->ops->upload_read(u, 4, buf, 5), APR_SUCCESS);
    ck_assert(!memcmp(buf, "o wor", 5));
    /* written, never synced, then discarded */
    ck_assert_int_eq(st->ops->upload_write(u, "XYZ", 3), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_truncate(u, 11), APR_SUCCESS);
    st->ops->upload_close(u);
    ck_assert_int_eq(count_members(apr_pstrcat(p, "uploads/", id, "/",
                                               NULL)), 2);
    /* the database says 8: the second part ("world") is cut to "wo" */
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 20, 0, &u),
                     APR_EINCOMPLETE);
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 8, 0, &u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_read(u, 0, buf, 8), APR_SUCCESS);
    ck_assert(!memcmp(buf, "hello wo", 8));
    ck_assert_int_eq(st->ops->upload_read(u, 0, buf, 9), APR_EOF);
    ck_assert_int_eq(st->ops->upload_write(u, "rld!!", 5), APR_SUCCESS);
    /* read before sync: the part is finished first */
    ck_assert_int_eq(st->ops->upload_read(u, 6, buf, 7), APR_SUCCESS);
    ck_assert(!memcmp(buf, "world!!", 7));
    st->ops->upload_close(u);
    ck_assert_int_eq(count_members(apr_pstrcat(p, "uploads/", id, "/",
                                               NULL)), 3);
    /* a part wholly beyond the offset goes */
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 6, 0, &u), APR_SUCCESS);
    st->ops->upload_close(u);
    ck_assert_int_eq(count_members(apr_pstrcat(p, "uploads/", id, "/",
                                               NULL)), 1);
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 6, 0, &u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, "world!!", 7), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    st->ops->upload_close(u);

    sha256("hello world!!", 13, want);
    ck_assert_int_eq(st->ops->upload_digest(st, p, id, 13, got), APR_SUCCESS);
    ck_assert(!memcmp(want, got, 32));
    ck_assert_int_eq(st->ops->upload_digest(st, p, id, 14, got),
                     APR_EINCOMPLETE);
    ck_assert_str_eq(upload_read_all(id, 13), "hello world!!");
    ck_assert_int_eq(st->ops->upload_stage(st, p, id, 13, pool_name, fid),
                     APR_SUCCESS);
    c.buf = apr_pcalloc(p, 20);
    c.len = 0;
    ck_assert_int_eq(pool_store_read_all(st, p, pool_name, fid, collect, &c),
                     APR_SUCCESS);
    ck_assert_str_eq(c.buf, "hello world!!");
    ck_assert_int_eq(st->ops->upload_remove(st, p, id, &freed), APR_SUCCESS);
    ck_assert_int_eq(freed, 13);
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 0, 0, &u), APR_ENOENT);
    ck_assert_int_eq(st->ops->upload_remove(st, p, id, &freed), APR_SUCCESS);
    ck_assert_int_eq(freed, 0);
    ck_assert_int_eq(count_members("staging/"), 0);
}
END_TEST

START_TEST(tus_big_parts_and_single_part_stage)
{
    /* parts bigger than the write buffer; a one-part upload staged by COPY */
    apr_size_t n = 700 * 1000;
    unsigned char *data = random_bytes(n);
    const char *id = pool_uuid(p), *id2 = pool_uuid(p);
    const char *f1 = pool_uuid(p), *f2 = pool_uuid(p);
    unsigned char want[32], got[32];
    pool_upfile_t *u;
    pool_store_obj_t *o;
    apr_size_t off;

    ck_assert_int_eq(st->ops->upload_open(st, p, id, 0, 1, &u), APR_SUCCESS);
    for (off = 0; off < n; off += 7000) {
        ck_assert_int_eq(st->ops->upload_write(u, data + off, 7000),
                         APR_SUCCESS);
        if (off == 350000) {
            ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
        }
    }
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    st->ops->upload_close(u);
    /* cut inside the second part, at a byte that is not a write boundary */
    ck_assert_int_eq(st->ops->upload_open(st, p, id, 500001, 0, &u),
                     APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, data + 500001, n - 500001),
                     APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    st->ops->upload_close(u);
    sha256(data, n, want);
    ck_assert_int_eq(st->ops->upload_digest(st, p, id, (apr_off_t)n, got),
                     APR_SUCCESS);
    ck_assert(!memcmp(want, got, 32));
    ck_assert_int_eq(st->ops->upload_stage(st, p, id, (apr_off_t)n,
                                           pool_name, f1), APR_SUCCESS);
    ck_assert_int_eq(st->ops->open(st, p, pool_name, f1, 0, &o), APR_SUCCESS);
    read_range(o, data, 0, (apr_off_t)n);

    ck_assert_int_eq(st->ops->upload_open(st, p, id2, 0, 1, &u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, data, n), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    st->ops->upload_close(u);
    ck_assert_int_eq(st->ops->upload_stage(st, p, id2, (apr_off_t)n,
                                           pool_name, f2), APR_SUCCESS);
    ck_assert_int_eq(st->ops->open(st, p, pool_name, f2, 0, &o), APR_SUCCESS);
    read_range(o, data, 0, (apr_off_t)n);
    /* the upload's data stays until removed */
    ck_assert_int_eq(count_members(apr_pstrcat(p, "uploads/", id2, "/",
                                               NULL)), 1);
    ck_assert_int_eq(count_members("staging/"), 0);
}
END_TEST

START_TEST(list_stale_uploads)
{
    const char *id = pool_uuid(p);
    apr_array_header_t *ids;
    pool_upfile_t *u;
    int i, found = 0;

    ck_assert_int_eq(st->ops->upload_open(st, p, id, 0, 1, &u), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_write(u, "abc", 3), APR_SUCCESS);
    ck_assert_int_eq(st->ops->upload_sync(u), APR_SUCCESS);
    st->ops->upload_close(u);
    ck_assert_int_eq(st->ops->upload_list_stale(st, p, apr_time_now()
                                                - apr_time_from_sec(3600),
                                                &ids), APR_SUCCESS);
    ck_assert_int_eq(ids->nelts, 0);
    ck_assert_int_eq(st->ops->upload_list_stale(st, p, apr_time_now()
                                                + apr_time_from_sec(10),
                                                &ids), APR_SUCCESS);
    for (i = 0; i < ids->nelts; i++) {
        found |= !strcmp(APR_ARRAY_IDX(ids, i, const char *), id);
    }
    ck_assert(found);
}
END_TEST

START_TEST(spool_sweep_removes_old_debris)
{
    int n = -1;
    apr_off_t bytes = -1;
    const char *debris = apr_pstrcat(p, "staging/", pool_uuid(p), NULL);

    ck_assert_int_eq(http("PUT", apr_pstrcat(p, base, debris, NULL), NULL,
                          "left behind", NULL), 201);
    /* not a staging name: left alone */
    ck_assert_int_eq(http("PUT", apr_pstrcat(p, base, "staging/other", NULL),
                          NULL, "x", NULL), 201);
    ck_assert_int_eq(st->ops->spool_sweep(st, p, apr_time_now()
                                          - apr_time_from_sec(3600), &n,
                                          &bytes), APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(http_status("HEAD", debris), 200);
    ck_assert_int_eq(st->ops->spool_sweep(st, p, apr_time_now()
                                          + apr_time_from_sec(10), &n,
                                          &bytes), APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(bytes, 11);
    ck_assert_int_eq(http_status("HEAD", debris), 404);
    ck_assert_int_eq(http_status("HEAD", "staging/other"), 200);
}
END_TEST

typedef struct {
    apr_hash_t *seen;           /* "pool/id" -> size */
    int batches;
} walk_seen;

static apr_status_t walk_fn(void *baton, apr_pool_t *bp, const char *pool,
                            const apr_array_header_t *entries)
{
    walk_seen *ws = baton;
    int i;

    ws->batches++;
    for (i = 0; i < entries->nelts; i++) {
        const pool_store_entry_t *e = &APR_ARRAY_IDX(entries, i,
                                                     pool_store_entry_t);
        apr_off_t *size = apr_palloc(p, sizeof(*size));

        ck_assert_int_eq(e->staged, 0);
        *size = e->size;
        apr_hash_set(ws->seen, apr_pstrcat(p, pool ? pool : "(results)", "/",
                                           e->id, NULL),
                     APR_HASH_KEY_STRING, size);
    }
    return APR_SUCCESS;
}

static apr_off_t seen_size(walk_seen *ws, const char *pool, const char *id)
{
    apr_off_t *size = apr_hash_get(ws->seen, apr_pstrcat(p, pool, "/", id,
                                                         NULL),
                                   APR_HASH_KEY_STRING);
    return size ? *size : -1;
}

START_TEST(committed_walk_and_lost_found)
{
    const char *a = stage("aaaa", 4, pool_name);
    const char *b = stage("bbbbbbb", 7, "otherpool");
    const char *r = stage("result!", 7, NULL);
    const char *to = NULL;
    walk_seen ws;
    apr_off_t size;

    ws.seen = apr_hash_make(p);
    ws.batches = 0;
    /* nothing is old enough yet */
    ck_assert_int_eq(st->ops->committed_walk(st, p, apr_time_now()
                                             - apr_time_from_sec(3600),
                                             walk_fn, &ws), APR_SUCCESS);
    ck_assert_int_eq(apr_hash_count(ws.seen), 0);
    ck_assert_int_eq(st->ops->committed_walk(st, p, apr_time_now()
                                             + apr_time_from_sec(10),
                                             walk_fn, &ws), APR_SUCCESS);
    ck_assert_int_eq(apr_hash_count(ws.seen), 3);
    ck_assert_int_eq(seen_size(&ws, pool_name, a), 4);
    ck_assert_int_eq(seen_size(&ws, "otherpool", b), 7);
    ck_assert_int_eq(seen_size(&ws, "(results)", r), 7);

    ck_assert_int_eq(st->ops->lost_found(st, p, "otherpool", b, &to),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(to, "lost+found/otherpool/"));
    ck_assert_int_eq(st->ops->stat(st, p, "otherpool", b, &size), APR_ENOENT);
    ck_assert_int_eq(http_status("HEAD", apr_pstrcat(p, "lost+found/"
                                                     "otherpool/", b, NULL)),
                     200);
    ck_assert_int_eq(st->ops->lost_found(st, p, NULL, r, &to), APR_SUCCESS);
    ck_assert_int_eq(http_status("HEAD", apr_pstrcat(p, "lost+found/"
                                                     ".results/", r, NULL)),
                     200);
    ck_assert_int_eq(st->ops->lost_found(st, p, NULL, r, &to), APR_ENOENT);
}
END_TEST

/* ------------------------------------------------------------ memory */

/* VmRSS in kB, from /proc/self/statm with plain system calls: nothing is
 * allocated to measure (under ASan every freed block would be held in its
 * quarantine and counted). */
static long rss_kb(void)
{
    char buf[128];
    long pages = -1, resident = -1;
    ssize_t n;
    int fd = open("/proc/self/statm", O_RDONLY);

    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    if (sscanf(buf, "%ld %ld", &pages, &resident) != 2) {
        return -1;
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The growth allowed: a few MB; with AddressSanitizer, whose quarantine
 * holds on to freed blocks (libcurl's and libxml2's small allocations per
 * request), more. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_GROWTH_MAX_KB (24 * 1024)
#else
#define RSS_GROWTH_MAX_KB (8 * 1024)
#endif

typedef struct {
    long base, peak;
    apr_off_t n;
    EVP_MD_CTX *md;
} rss_sink;

static apr_status_t measure_sink(void *baton, const char *buf, apr_size_t n)
{
    rss_sink *rs = baton;

    EVP_DigestUpdate(rs->md, buf, n);
    if ((rs->n >> 20) != ((rs->n + (apr_off_t)n) >> 20)) {     /* per MB */
        long kb = rss_kb();
        if (kb > rs->peak) {
            rs->peak = kb;
        }
    }
    rs->n += (apr_off_t)n;
    return APR_SUCCESS;
}

START_TEST(streams_200mb_in_bounded_memory)
{
    /* 200 MB through spool_write and obj_read: the resident size of the
     * process does not grow with the object */
    const apr_size_t total = 200u * 1024 * 1024, block = 8000;
    unsigned char *data = random_bytes(64 * 1024 + block);
    const char *id = pool_uuid(p);
    unsigned char want[32], got[32];
    unsigned int dlen;
    pool_store_obj_t *o;
    pool_spool_t *sp;
    rss_sink rs;
    apr_size_t off = 0;
    long before, peak_write;

    /* warm up: connections, TLS-less curl state, buffers */
    stage("warm", 4, pool_name);
    before = rss_kb();
    peak_write = before;
    ck_assert_int_eq(st->ops->spool_open(st, p, -1, &sp), APR_SUCCESS);
    while (off < total) {
        apr_size_t k = total - off > block ? block : total - off;

        ck_assert_int_eq(st->ops->spool_write(sp, data + (off % 65536), k),
                         APR_SUCCESS);
        off += k;
        if (off % (1024 * 1024) < block) {
            long kb = rss_kb();
            if (kb > peak_write) {
                peak_write = kb;
            }
        }
    }
    pool_spool_digest(sp, want);
    ck_assert_int_eq(st->ops->spool_stage(sp, pool_name, id), APR_SUCCESS);
    ck_assert_int_eq(st->ops->open(st, p, pool_name, id, 0, &o), APR_SUCCESS);
    ck_assert_int_eq(o->size, (apr_off_t)total);
    memset(&rs, 0, sizeof(rs));
    rs.base = rss_kb();
    rs.peak = rs.base;
    rs.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(rs.md, EVP_sha256(), NULL);
    ck_assert_int_eq(st->ops->obj_read(o, 0, o->size, measure_sink, &rs),
                     APR_SUCCESS);
    EVP_DigestFinal_ex(rs.md, got, &dlen);
    EVP_MD_CTX_free(rs.md);
    ck_assert_int_eq(rs.n, (apr_off_t)total);
    ck_assert(!memcmp(want, got, 32));
    fprintf(stderr, "streams_200mb_in_bounded_memory: RSS %ld kB before, "
            "peak %+ld kB while writing, %+ld kB while reading\n", before,
            peak_write - before, rs.peak - rs.base);
    ck_assert_msg(peak_write - before < RSS_GROWTH_MAX_KB, "RSS grew by %ld "
                  "kB while writing 200 MB", peak_write - before);
    ck_assert_msg(rs.peak - rs.base < RSS_GROWTH_MAX_KB, "RSS grew by %ld kB "
                  "while reading 200 MB", rs.peak - rs.base);
    ck_assert_int_eq(st->ops->remove(st, p, pool_name, id), APR_SUCCESS);
}
END_TEST

START_TEST(no_server_configured)
{
    ck_assert_msg(getenv("POOL_TEST_DAV_URL") != NULL, "POOL_TEST_DAV_URL is "
                  "not set: run the unit tests through scripts/test, which "
                  "starts a WebDAV server for them");
}
END_TEST

/* The multistatus parser alone (no server): a DOCTYPE that declares an
 * entity made libxml2 keep a document that was never freed (found by
 * t/fuzz/fuzz_dav_xml.c; LeakSanitizer reports it in the sanitizer pass). */
static apr_status_t count_entry(void *baton, const char *name, int self,
                                int collection, apr_off_t size,
                                apr_time_t mtime)
{
    int *n = baton;

    ck_assert_str_eq(name, "g");
    ck_assert_int_eq(size, 7);
    (*n)++;
    return APR_SUCCESS;
}

START_TEST(multistatus_with_entities)
{
    static const char body[] =
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"/e f\">]>"
        "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/d/g</D:href>"
        "<D:propstat><D:prop><D:getcontentlength>7</D:getcontentlength>"
        "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
        "</D:response></D:multistatus>";
    apr_pool_t *mp;
    int n = 0, chunk;

    apr_pool_create(&mp, NULL);
    for (chunk = 0; chunk < 3; chunk++) {
        ck_assert_int_eq(pool_store_dav_parse_multistatus(mp, "/d",
                             body, sizeof(body) - 1, (apr_size_t)chunk * 5,
                             count_entry, &n), APR_SUCCESS);
    }
    ck_assert_int_eq(n, 3);
    apr_pool_destroy(mp);
}
END_TEST

Suite *suite_store_dav(void)
{
    Suite *s = suite_create("store_dav");
    TCase *tc = tcase_create("store_dav");
    TCase *mem = tcase_create("store_dav_memory");
    TCase *ms = tcase_create("store_dav_multistatus");

    tcase_add_test(ms, multistatus_with_entities);
    suite_add_tcase(s, ms);
    if (!getenv("POOL_TEST_DAV_URL")) {
        tcase_add_test(tc, no_server_configured);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, check_makes_the_collections);
    tcase_add_test(tc, spool_stage_open_read_remove);
    tcase_add_test(tc, open_known_reads_with_one_get);
    tcase_add_test(tc, small_and_empty_objects_and_results);
    tcase_add_test(tc, stage_twice_is_idempotent);
    tcase_add_test(tc, upload_stage_repeated);
    tcase_add_test(tc, too_big);
    tcase_add_test(tc, abort_after_the_put_removes_it);
    tcase_add_test(tc, wrong_credentials_are_eacces);
    tcase_add_test(tc, bad_credentials_files);
    tcase_add_test(tc, unreachable_is_unavailable);
    tcase_add_test(tc, not_webdav_fails_check);
    tcase_add_test(tc, full_and_down);
    tcase_add_test(tc, tus_parts);
    tcase_add_test(tc, tus_big_parts_and_single_part_stage);
    tcase_add_test(tc, list_stale_uploads);
    tcase_add_test(tc, spool_sweep_removes_old_debris);
    tcase_add_test(tc, committed_walk_and_lost_found);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(mem, setup, teardown);
    tcase_set_timeout(mem, 300);
    tcase_add_test(mem, streams_200mb_in_bounded_memory);
    suite_add_tcase(s, mem);
    return s;
}
