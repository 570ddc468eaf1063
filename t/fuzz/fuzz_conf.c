/* Configuration directives (lib/pool_conf.c): pool_conf_read, which
 * poolctl uses to take the Pool* directives out of httpd-pool.conf (httpd's
 * quoting and line continuation, Include/IncludeOptional, <Location> with
 * SetHandler pool), and through it pool_conf_set with every directive's
 * check (sizes, numbers, paths, URLs, CIDR lists, CORS origins).
 *
 * Input: the configuration file.  It is written to pool.conf in a private
 * directory that also holds other.conf and sub/a.conf; Include may name
 * them (or pool.conf itself: the depth limit ends that).  To stay in that
 * directory, an input with more than one "include" or with a '/' after it
 * is skipped: Include "/" would read the whole file system.
 * Invariants: a file that is read has a PoolDatabase; every value is
 * within its directive's range; api_path starts with '/' and does not end
 * with one; a failure says why. */
#include <unistd.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "pool_conf.h"

static char dir[256];
static char conf[300];

static void write_file(const char *path, const char *text, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    CHECK(fd >= 0);
    CHECK(write(fd, text, n) == (ssize_t)n);
    close(fd);
}

/* in memory when /dev/shm is there: a file is written for every input */
static char root[64];

static void cleanup(void)
{
    char path[300];

    snprintf(path, sizeof(path), "%s/sub/a.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/other.conf", dir);
    unlink(path);
    unlink(conf);
    rmdir(dir);
    rmdir(root);
}

static void setup(void)
{
    char path[300];

    if (*dir) {
        return;
    }
    snprintf(root, sizeof(root), "%s/fuzz_conf.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    CHECK(mkdtemp(root) != NULL);
    atexit(cleanup);
    snprintf(dir, sizeof(dir), "%s/d", root);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof(path), "%s/other.conf", dir);
    write_file(path, "PoolDatabase \"dbname=other\"\nPoolMaxFileSize 2M\n", 45);
    snprintf(path, sizeof(path), "%s/sub", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/sub/a.conf", dir);
    write_file(path, "<Location /api/>\n  SetHandler pool\n</Location>\n", 47);
    snprintf(conf, sizeof(conf), "%s/pool.conf", dir);
}

/* The input stays in the private directory (see above). */
static int contained(const uint8_t *d, size_t n)
{
    const uint8_t *first = NULL;
    size_t i, count = 0;

    for (i = 0; i + 7 <= n; i++) {
        if (!strncasecmp((const char *)d + i, "include", 7)) {
            if (!first) {
                first = d + i;
            }
            count++;
        }
    }
    if (count > 1) {
        return 0;
    }
    return !first || !memchr(first, '/', (size_t)(d + n - first));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    pool_conf_t c;
    const char *err = NULL;
    apr_status_t rv;

    if (size > 16 * 1024 || !contained(data, size)) {
        return 0;
    }
    setup();
    write_file(conf, (const char *)data, size);
    p = fz_pool();
    pool_conf_defaults(&c);
    rv = pool_conf_read(p, conf, &c, &err);
    if (rv != APR_SUCCESS) {
        CHECK(err && *err);
    }
    else {
        const char *api;

        CHECK(err == NULL);
        CHECK(c.database && *c.database);
        CHECK(c.max_file_size > 0 && c.max_batch_size >= 0);
        CHECK(pool_conf_max_batch(&c) > 0);
        CHECK(c.token_lifetime > 0 && c.db_connections > 0);
        CHECK(c.import_timeout >= 5 && c.import_timeout <= 86400);
        CHECK(c.upload_expiry >= 1);
        if (c.api_path) {
            size_t n = strlen(c.api_path);
            CHECK(n == 0 || (c.api_path[0] == '/' && c.api_path[n - 1] != '/'));
        }
        if (c.storage) {
            CHECK(c.storage[0] == '/' || !strncmp(c.storage, "http://", 7)
                  || !strncmp(c.storage, "https://", 8));
        }
        if (c.key_file) {
            CHECK(c.key_file[0] == '/');
        }
        api = pool_conf_api_url(p, &c);
        CHECK((api != NULL) == (c.public_url != NULL && *c.public_url));
        if (api) {
            CHECK(!strncmp(api, "http://", 7) || !strncmp(api, "https://", 8));
        }
        CHECK(*pool_conf_issuer(&c));
    }
    fz_pool_done(p);
    return 0;
}
