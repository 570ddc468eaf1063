/* pool_conf: sizes and integers, every directive (good and bad values,
 * messages naming the directive), reading httpd config files (quotes,
 * continuation lines, comments, Include, unknown directives), and where the
 * API is mounted (<Location> with SetHandler pool). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "unit.h"
#include "pool_conf.h"

static apr_pool_t *p;
static char tmpdir[64];
static apr_array_header_t *created;     /* paths to remove, in order made */

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    strcpy(tmpdir, "/tmp/pool_conf_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    created = apr_array_make(p, 8, sizeof(const char *));
}

static void teardown(void)
{
    int i;

    for (i = created->nelts - 1; i >= 0; i--) {
        const char *path = APR_ARRAY_IDX(created, i, const char *);
        struct stat st;

        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            rmdir(path);
        }
        else {
            unlink(path);
        }
    }
    rmdir(tmpdir);
    apr_pool_destroy(p);
    p = NULL;
}

/* Writes tmpdir/name (name may contain one level of directory). */
static const char *write_file(const char *name, const char *content)
{
    const char *path = apr_pstrcat(p, tmpdir, "/", name, NULL);
    const char *slash = strchr(name, '/');
    FILE *f;

    if (slash) {
        apr_size_t n = (apr_size_t)(slash - name);
        const char *dir = apr_pstrcat(p, tmpdir, "/",
                                      apr_pstrmemdup(p, name, n), NULL);
        if (mkdir(dir, 0700) == 0) {
            APR_ARRAY_PUSH(created, const char *) = dir;
        }
    }
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(content, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    APR_ARRAY_PUSH(created, const char *) = path;
    return path;
}

static int starts_with(const char *s, const char *prefix)
{
    return s && !strncmp(s, prefix, strlen(prefix));
}

/* ---- sizes */

START_TEST(size_good)
{
    apr_off_t v = 0;

    ck_assert_int_eq(pool_parse_size("1", &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(pool_parse_size("123456", &v), 0);
    ck_assert_int_eq(v, 123456);
    ck_assert_int_eq(pool_parse_size("10K", &v), 0);
    ck_assert_int_eq(v, 10240);
    ck_assert_int_eq(pool_parse_size("10k", &v), 0);
    ck_assert_int_eq(v, 10240);
    ck_assert_int_eq(pool_parse_size("3M", &v), 0);
    ck_assert_int_eq(v, 3 * 1024 * 1024);
    ck_assert_int_eq(pool_parse_size("1G", &v), 0);
    ck_assert_int_eq(v, (apr_off_t)1 << 30);
    ck_assert_int_eq(pool_parse_size("2T", &v), 0);
    ck_assert_int_eq(v, (apr_off_t)2 << 40);
    ck_assert_int_eq(pool_parse_size("9223372036854775807", &v), 0);
    ck_assert_int_eq(v, APR_INT64_MAX);
    ck_assert_int_eq(pool_parse_size("8388607T", &v), 0);
    ck_assert_int_eq(v, (apr_off_t)8388607 << 40);
}
END_TEST

START_TEST(size_bad)
{
    static const char *const bad[] = {
        "", "0", "0K", "abc", "K", "-1", "+1", " 1", "1 ", "1.5M", "10KB",
        "10X", "1e6", "0x10", "9223372036854775808",
        "99999999999999999999999", "8388608T", "9007199254740992K",
    };
    apr_off_t v = 42;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_parse_size(bad[i], &v) == -1, "accepted '%s'",
                      bad[i]);
    }
    ck_assert_int_eq(pool_parse_size(NULL, &v), -1);
    ck_assert_int_eq(v, 42);    /* untouched on failure */
}
END_TEST

START_TEST(int_bounds)
{
    long v = 0;

    ck_assert_int_eq(pool_parse_int("60", 60, 86400, &v), 0);
    ck_assert_int_eq(v, 60);
    ck_assert_int_eq(pool_parse_int("86400", 60, 86400, &v), 0);
    ck_assert_int_eq(v, 86400);
    ck_assert_int_eq(pool_parse_int("007", 1, 10, &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(pool_parse_int("59", 60, 86400, &v), -1);
    ck_assert_int_eq(pool_parse_int("86401", 60, 86400, &v), -1);
    ck_assert_int_eq(pool_parse_int("", 0, 10, &v), -1);
    ck_assert_int_eq(pool_parse_int("-1", -5, 10, &v), -1);
    ck_assert_int_eq(pool_parse_int("+1", 0, 10, &v), -1);
    ck_assert_int_eq(pool_parse_int("1x", 0, 10, &v), -1);
    ck_assert_int_eq(pool_parse_int(" 1", 0, 10, &v), -1);
    ck_assert_int_eq(pool_parse_int("99999999999999999999", 0, 10, &v), -1);
    ck_assert_int_eq(pool_parse_int(NULL, 0, 10, &v), -1);
}
END_TEST

/* ---- directives */

START_TEST(defaults)
{
    pool_conf_t c;

    pool_conf_defaults(&c);
    ck_assert_ptr_null(c.database);
    ck_assert_ptr_null(c.storage);
    ck_assert_int_eq(c.max_file_size, POOL_DEFAULT_MAX_FILE_SIZE);
    ck_assert_int_eq(c.token_lifetime, POOL_DEFAULT_TOKEN_LIFETIME);
    ck_assert_int_eq(c.db_connections, POOL_DEFAULT_DB_CONNECTIONS);
    ck_assert_str_eq(pool_conf_issuer(&c), "mod_pool");
    c.public_url = "https://pool.example";
    ck_assert_str_eq(pool_conf_issuer(&c), "https://pool.example");
}
END_TEST

START_TEST(set_good)
{
    pool_conf_t c;

    pool_conf_defaults(&c);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolDatabase",
                                     "host=/run/postgresql dbname=pool"));
    ck_assert_str_eq(c.database, "host=/run/postgresql dbname=pool");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolStorage", "/srv/pool/"));
    ck_assert_str_eq(c.storage, "/srv/pool");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolStorage", "/"));
    ck_assert_str_eq(c.storage, "/");
    /* a WebDAV store: the URL as written */
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolStorage",
                                     "https://store.example:8443/pool/"));
    ck_assert_str_eq(c.storage, "https://store.example:8443/pool/");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolStorage",
                                     "http://10.0.0.5/dav"));
    ck_assert_str_eq(c.storage, "http://10.0.0.5/dav");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolStorageCredentials",
                                     "/etc/apache2/pool-store.pw"));
    ck_assert_str_eq(c.storage_credentials, "/etc/apache2/pool-store.pw");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolKeyFile", "/etc/pool/keys"));
    ck_assert_str_eq(c.key_file, "/etc/pool/keys");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolPublicURL",
                                     "https://pool.example.org/"));
    ck_assert_str_eq(c.public_url, "https://pool.example.org");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolPublicURL",
                                     "http://127.0.0.1:8080/base/"));
    ck_assert_str_eq(c.public_url, "http://127.0.0.1:8080/base");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolMaxFileSize", "64M"));
    ck_assert_int_eq(c.max_file_size, (apr_off_t)64 << 20);
    /* PoolMaxBatchSize: 4 x PoolMaxFileSize until set */
    ck_assert_int_eq(pool_conf_max_batch(&c), (apr_off_t)256 << 20);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolMaxBatchSize", "2G"));
    ck_assert_int_eq(pool_conf_max_batch(&c), (apr_off_t)2 << 30);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolTokenLifetime", "3600"));
    ck_assert_int_eq(c.token_lifetime, 3600);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolDatabaseConnections", "256"));
    ck_assert_int_eq(c.db_connections, 256);
    /* names are case-insensitive, as in httpd */
    ck_assert_ptr_null(pool_conf_set(p, &c, "poolmaxfilesize", "1K"));
    ck_assert_int_eq(c.max_file_size, 1024);
    ck_assert_ptr_null(pool_conf_set(p, &c, "POOLTOKENLIFETIME", "60"));
    ck_assert_int_eq(c.token_lifetime, 60);
    ck_assert_int_eq(c.auth_client_max, POOL_DEFAULT_AUTH_CLIENT_MAX);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolAuthThrottle", "5  50\t600"));
    ck_assert_int_eq(c.auth_client_max, 5);
    ck_assert_int_eq(c.auth_addr_max, 50);
    ck_assert_int_eq(c.auth_period, 600);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolAuthThrottle", "Off"));
    ck_assert_int_eq(c.auth_client_max + c.auth_addr_max + c.auth_period, 0);
}
END_TEST

START_TEST(set_bad)
{
    static const struct {
        const char *directive, *value, *prefix;
    } bad[] = {
        { "PoolDatabase", "", "PoolDatabase: " },
        { "PoolDatabase", "   ", "PoolDatabase: " },
        { "PoolStorage", "relative/dir", "PoolStorage: " },
        { "PoolStorage", "", "PoolStorage: " },
        { "PoolStorage", "ftp://store.example/", "PoolStorage: " },
        { "PoolStorage", "https://u:pw@store.example/", "PoolStorage: " },
        { "PoolStorage", "https://store.example/?x=1", "PoolStorage: " },
        { "PoolStorage", "https:///nohost", "PoolStorage: " },
        { "PoolStorageCredentials", "store.pw", "PoolStorageCredentials: " },
        { "PoolStorageCredentials", "", "PoolStorageCredentials: " },
        { "PoolKeyFile", "keys.txt", "PoolKeyFile: " },
        { "PoolPublicURL", "pool.example.org", "PoolPublicURL: " },
        { "PoolPublicURL", "ftp://pool.example.org", "PoolPublicURL: " },
        { "PoolPublicURL", "https://", "PoolPublicURL: " },
        { "PoolPublicURL", "https://h/p?q=1", "PoolPublicURL: " },
        { "PoolPublicURL", "https://h/p#f", "PoolPublicURL: " },
        { "PoolPublicURL", "https://u:pw@h/", "PoolPublicURL: " },
        { "PoolPublicURL", "https://h /", "PoolPublicURL: " },
        { "PoolPublicURL", "https://h/\"x\"", "PoolPublicURL: " },
        { "PoolMaxFileSize", "abc", "PoolMaxFileSize: " },
        { "PoolMaxFileSize", "0", "PoolMaxFileSize: " },
        { "PoolMaxBatchSize", "0", "PoolMaxBatchSize: " },
        { "PoolMaxBatchSize", "1X", "PoolMaxBatchSize: " },
        { "PoolTokenLifetime", "59", "PoolTokenLifetime: " },
        { "PoolTokenLifetime", "86401", "PoolTokenLifetime: " },
        { "PoolTokenLifetime", "1h", "PoolTokenLifetime: " },
        { "PoolDatabaseConnections", "0", "PoolDatabaseConnections: " },
        { "PoolDatabaseConnections", "257", "PoolDatabaseConnections: " },
        { "PoolAuthThrottle", "", "PoolAuthThrottle: " },
        { "PoolAuthThrottle", "5 50", "PoolAuthThrottle: " },
        { "PoolAuthThrottle", "5 50 60 1", "PoolAuthThrottle: " },
        { "PoolAuthThrottle", "0 50 60", "PoolAuthThrottle: " },
        { "PoolAuthThrottle", "5 50 86401", "PoolAuthThrottle: " },
        { "PoolAuthThrottle", "5 x 60", "PoolAuthThrottle: " },
        { "PoolAuthThrottle", "no", "PoolAuthThrottle: " },
        /* the canonical name, whatever case was written */
        { "poolmaxfilesize", "x", "PoolMaxFileSize: " },
    };
    pool_conf_t c, before;
    size_t i;

    pool_conf_defaults(&c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *e;

        before = c;
        e = pool_conf_set(p, &c, bad[i].directive, bad[i].value);
        ck_assert_msg(e != NULL, "%s '%s' accepted", bad[i].directive,
                      bad[i].value);
        ck_assert_msg(starts_with(e, bad[i].prefix), "message '%s'", e);
        ck_assert_msg(!memcmp(&c, &before, sizeof(c)),
                      "%s '%s' changed the config", bad[i].directive,
                      bad[i].value);
    }
    ck_assert_str_eq(pool_conf_set(p, &c, "PoolMaxFileSize", "abc"),
                     "PoolMaxFileSize: 'abc' is not a size (bytes, or with "
                     "K/M/G/T)");
    ck_assert_ptr_nonnull(pool_conf_set(p, &c, "PoolMaxFileSize", NULL));
}
END_TEST

START_TEST(set_unknown)
{
    pool_conf_t c;
    const char *e;

    pool_conf_defaults(&c);
    e = pool_conf_set(p, &c, "PoolNoSuchThing", "1");
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(starts_with(e, "PoolNoSuchThing: "), "message '%s'", e);
}
END_TEST

START_TEST(set_long_value_bounded)
{
    pool_conf_t c;
    char big[4096];
    const char *e;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pool_conf_defaults(&c);
    e = pool_conf_set(p, &c, "PoolMaxFileSize", big);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strlen(e) < 300, "message of %d bytes", (int)strlen(e));
}
END_TEST

/* ---- files */

START_TEST(read_quotes_continuation_comments)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("httpd-pool.conf",
        "# a comment\n"
        "   # PoolMaxFileSize 1K (indented comment)\n"
        "ServerName localhost\n"
        "<IfModule pool_module>\n"
        "    PoolDatabase \"host=/tmp/pg user=pool \\\n"
        "        dbname=pool\"\n"
        "    PoolStorage '/srv/pool storage/'\n"
        "    PoolKeyFile \"/etc/pool/a\\\"b\\\\c\"\n"
        "    PoolPublicURL \"https://example.org/a\"\n"
        "    PoolMaxFileSize \\\n"
        "        10M\r\n"
        "    PoolTokenLifetime 600   \n"
        "</IfModule>\n"
        "pooldatabaseconnections 4");     /* no final newline */

    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(c.database, "host=/tmp/pg user=pool         dbname=pool");
    ck_assert_str_eq(c.storage, "/srv/pool storage");
    ck_assert_str_eq(c.key_file, "/etc/pool/a\"b\\c");
    ck_assert_str_eq(c.public_url, "https://example.org/a");
    ck_assert_int_eq(c.max_file_size, (apr_off_t)10 << 20);
    ck_assert_int_eq(c.token_lifetime, 600);
    ck_assert_int_eq(c.db_connections, 4);
}
END_TEST

START_TEST(read_storage_url_and_credentials)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("dav.conf",
        "PoolDatabase dbname=pool\n"
        "PoolStorage \"https://store.example/pool/\"\n"
        "PoolStorageCredentials /etc/apache2/pool-store.pw\n");

    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_str_eq(c.storage, "https://store.example/pool/");
    ck_assert_str_eq(c.storage_credentials, "/etc/apache2/pool-store.pw");
}
END_TEST

START_TEST(read_comment_continues)
{
    /* As in httpd, a trailing backslash continues a comment line too. */
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("a.conf",
        "PoolDatabase dbname=x\n"
        "# comment \\\n"
        "PoolMaxFileSize 1K\n"
        "PoolTokenLifetime 120\n");

    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_int_eq(c.max_file_size, POOL_DEFAULT_MAX_FILE_SIZE);
    ck_assert_int_eq(c.token_lifetime, 120);
}
END_TEST

START_TEST(read_unknown_ignored)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("a.conf",
        "LoadModule pool_module modules/mod_pool.so\n"
        "PoolFutureDirective with several \"args here\"\n"
        "PoolDatabase dbname=x\n"
        "<Location /pool>\n"
        "    SetHandler pool\n"
        "    Require all granted\n"
        "</Location>\n"
        "SomethingElse \"unterminated\n");

    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_str_eq(c.database, "dbname=x");
}
END_TEST

START_TEST(read_include_relative)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path;

    write_file("conf.d/10-db.conf", "PoolDatabase \"dbname=inc\"\n");
    write_file("conf.d/20-size.conf", "PoolMaxFileSize 2K\n");
    write_file("conf.d/ignored.txt", "PoolMaxFileSize 5K\n");
    write_file("extra.conf", "PoolTokenLifetime 300\n");
    path = write_file("main.conf",
        "Include extra.conf\n"
        "Include conf.d/*.conf\n"
        "IncludeOptional missing/*.conf\n"
        "IncludeOptional does-not-exist.conf\n"
        "PoolDatabaseConnections 3\n");

    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_str_eq(c.database, "dbname=inc");
    ck_assert_int_eq(c.max_file_size, 2048);
    ck_assert_int_eq(c.token_lifetime, 300);
    ck_assert_int_eq(c.db_connections, 3);
}
END_TEST

START_TEST(read_include_directory)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path;

    write_file("d/a.conf", "PoolMaxFileSize 1K\n");
    write_file("d/b.conf", "PoolMaxFileSize 2K\nPoolDatabase dbname=d\n");
    path = write_file("main.conf", "Include d\n");

    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_int_eq(c.max_file_size, 2048);     /* name order: b last */
    ck_assert_str_eq(c.database, "dbname=d");
}
END_TEST

START_TEST(read_include_missing)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("main.conf",
        "PoolDatabase dbname=x\n"
        "\n"
        "Include nothere.conf\n");

    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(starts_with(err, apr_pstrcat(p, path, ":3: ", NULL)),
                  "message '%s'", err);
    ck_assert_ptr_nonnull(strstr(err, "nothere.conf"));

    /* a wildcard that matches nothing fails Include, as in httpd */
    path = write_file("main2.conf",
        "PoolDatabase dbname=x\n"
        "Include none/*.conf\n");
    err = NULL;
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_msg(starts_with(err, apr_pstrcat(p, path, ":2: ", NULL)),
                  "message '%s'", err);
}
END_TEST

START_TEST(read_include_loop)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("loop.conf",
        "PoolDatabase dbname=x\n"
        "Include loop.conf\n");

    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "Include nested") != NULL, "message '%s'", err);
    ck_assert_msg(strstr(err, "loop.conf:2: ") != NULL, "message '%s'", err);
}
END_TEST

START_TEST(read_include_depth_8)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path;
    int i;

    /* main -> i1 -> ... -> i8: eight levels are fine */
    write_file("i8.conf", "PoolDatabase dbname=deep\n");
    for (i = 7; i >= 1; i--) {
        write_file(apr_psprintf(p, "i%d.conf", i),
                   apr_psprintf(p, "Include i%d.conf\n", i + 1));
    }
    path = write_file("main.conf", "Include i1.conf\n");
    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_str_eq(c.database, "dbname=deep");

    /* nine are not */
    write_file("i8.conf", "Include i9.conf\n");
    write_file("i9.conf", "PoolDatabase dbname=deeper\n");
    pool_conf_defaults(&c);
    err = NULL;
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err, "i8.conf:1: Include nested") != NULL,
                  "message '%s'", err);
}
END_TEST

START_TEST(read_missing_database)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("main.conf",
        "PoolStorage /srv/pool\n"
        "# PoolDatabase dbname=x\n");

    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "PoolDatabase"));
    ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(read_bad_value_names_file_line)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path;

    write_file("inc.conf", "\n\nPoolMaxFileSize lots\n");
    path = write_file("main.conf",
        "PoolDatabase dbname=x\n"
        "Include inc.conf\n");
    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_str_eq(err, apr_pstrcat(p, tmpdir, "/inc.conf:3: "
                                      "PoolMaxFileSize: 'lots' is not a size "
                                      "(bytes, or with K/M/G/T)", NULL));
}
END_TEST

START_TEST(read_continued_line_numbers)
{
    /* An error on a continued line names the line it starts on. */
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("main.conf",
        "PoolDatabase dbname=x\n"
        "PoolTokenLifetime \\\n"
        "  5\n");

    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_msg(starts_with(err, apr_pstrcat(p, path, ":2: "
                                               "PoolTokenLifetime: ", NULL)),
                  "message '%s'", err);
}
END_TEST

START_TEST(read_arg_count)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = write_file("main.conf",
        "PoolDatabase host=/tmp dbname=x\n");

    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_msg(starts_with(err, apr_pstrcat(p, path, ":1: PoolDatabase "
                                               "takes one argument", NULL)),
                  "message '%s'", err);

    path = write_file("main2.conf", "PoolDatabase dbname=x\nPoolStorage\n");
    err = NULL;
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_msg(starts_with(err, apr_pstrcat(p, path, ":2: PoolStorage ",
                                               NULL)),
                  "message '%s'", err);
}
END_TEST

START_TEST(read_missing_file)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path = apr_pstrcat(p, tmpdir, "/none.conf", NULL);

    pool_conf_defaults(&c);
    ck_assert_int_ne(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

/* ---- where the API is mounted */

/* Reads content as main.conf (after "PoolDatabase dbname=x"). */
static const char *api_path_of(const char *content, pool_conf_t *c)
{
    const char *err = NULL;
    const char *path = write_file("api.conf",
                                  apr_pstrcat(p, "PoolDatabase dbname=x\n",
                                              content, NULL));

    pool_conf_defaults(c);
    ck_assert_int_eq(pool_conf_read(p, path, c, &err), APR_SUCCESS);
    ck_assert_ptr_null(err);
    return c->api_path;
}

START_TEST(api_path_plain_and_quoted)
{
    pool_conf_t c;

    ck_assert_str_eq(api_path_of("<Location /pool>\n"
                                 "    SetHandler pool\n"
                                 "</Location>\n", &c), "/pool");
    ck_assert_str_eq(pool_conf_api_path(&c), "/pool");
    ck_assert_str_eq(api_path_of("<Location \"/data/api\">\n"
                                 "    SetHandler \"pool\"\n"
                                 "</Location>\n", &c), "/data/api");
    ck_assert_str_eq(api_path_of("<Location '/q'>\n"
                                 "SetHandler pool\n"
                                 "</Location>\n", &c), "/q");
    /* names case-insensitive, as httpd; white space before '>' */
    ck_assert_str_eq(api_path_of("<location /lower >\n"
                                 "  sethandler POOL\n"
                                 "</LOCATION>\n", &c), "/lower");
    /* other directives in the section are still read */
    ck_assert_str_eq(api_path_of("<Location /p>\n"
                                 "    SetHandler pool\n"
                                 "    PoolMaxFileSize 3K\n"
                                 "</Location>\n", &c), "/p");
    ck_assert_int_eq(c.max_file_size, 3072);
}
END_TEST

START_TEST(api_path_trailing_slash)
{
    pool_conf_t c;

    ck_assert_str_eq(api_path_of("<Location /pool/>\n"
                                 "    SetHandler pool\n"
                                 "</Location>\n", &c), "/pool");
    ck_assert_str_eq(api_path_of("<Location \"/a/b//\">\n"
                                 "    SetHandler pool\n"
                                 "</Location>\n", &c), "/a/b");
    /* mounted at the root: the empty path */
    ck_assert_str_eq(api_path_of("<Location />\n"
                                 "    SetHandler pool\n"
                                 "</Location>\n", &c), "");
    ck_assert_str_eq(pool_conf_api_path(&c), "");
}
END_TEST

START_TEST(api_path_first_with_handler)
{
    pool_conf_t c;

    ck_assert_str_eq(api_path_of(
        "SetHandler pool\n"                    /* outside any Location */
        "<Location /status>\n"
        "    SetHandler server-status\n"
        "</Location>\n"
        "<Location /other>\n"
        "    Require all granted\n"
        "</Location>\n"
        "SetHandler pool\n"
        "<Directory /var/www>\n"
        "    SetHandler pool\n"
        "</Directory>\n"
        "<LocationMatch \"^/re\">\n"
        "    SetHandler pool\n"
        "</LocationMatch>\n"
        "<Location ~ \"/tilde\">\n"
        "    SetHandler pool\n"
        "</Location>\n"
        "<Location /wild*>\n"
        "    SetHandler pool\n"
        "</Location>\n"
        "<Location /poolish>\n"
        "    SetHandler pool-other\n"
        "</Location>\n"
        "<Location /api>\n"
        "    Require all granted\n"
        "    SetHandler pool\n"
        "</Location>\n"
        "<Location /second>\n"
        "    SetHandler pool\n"
        "</Location>\n", &c), "/api");
}
END_TEST

START_TEST(api_path_included)
{
    pool_conf_t c;
    const char *err = NULL;
    const char *path;

    write_file("sites/a.conf", "<Location /a>\n"
                               "    Require all granted\n"
                               "</Location>\n");
    write_file("sites/b.conf", "<Location \"/mounted/\">\n"
                               "    SetHandler pool\n"
                               "</Location>\n");
    path = write_file("main.conf", "PoolDatabase dbname=x\n"
                                   "Include sites/*.conf\n"
                                   "<Location /later>\n"
                                   "    SetHandler pool\n"
                                   "</Location>\n");
    pool_conf_defaults(&c);
    ck_assert_int_eq(pool_conf_read(p, path, &c, &err), APR_SUCCESS);
    ck_assert_str_eq(c.api_path, "/mounted");
}
END_TEST

START_TEST(api_path_none)
{
    pool_conf_t c;

    ck_assert_ptr_null(api_path_of("<Location /pool>\n"
                                   "    Require all granted\n"
                                   "</Location>\n", &c));
    ck_assert_str_eq(pool_conf_api_path(&c), "/pool");
    ck_assert_str_eq(pool_conf_api_path(NULL), "/pool");

    /* read again into a configuration that had one: none */
    ck_assert_str_eq(api_path_of("<Location /x>\nSetHandler pool\n"
                                 "</Location>\n", &c), "/x");
    api_path_of("", &c);
    ck_assert_ptr_null(c.api_path);
    pool_conf_defaults(&c);
    ck_assert_ptr_null(c.api_path);
}
END_TEST

START_TEST(api_url)
{
    pool_conf_t c;

    pool_conf_defaults(&c);
    ck_assert_ptr_null(pool_conf_api_url(p, &c));        /* no PoolPublicURL */
    ck_assert_ptr_null(pool_conf_api_url(p, NULL));
    c.api_path = "/api";
    ck_assert_ptr_null(pool_conf_api_url(p, &c));

    pool_conf_defaults(&c);
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolPublicURL",
                                     "https://pool.example/"));
    ck_assert_str_eq(pool_conf_api_url(p, &c), "https://pool.example/pool");
    ck_assert_ptr_null(pool_conf_set(p, &c, "PoolPublicURL",
                                     "https://pool.example/base"));
    ck_assert_str_eq(pool_conf_api_url(p, &c),
                     "https://pool.example/base/pool");
    c.api_path = "/api/v1";
    ck_assert_str_eq(pool_conf_api_url(p, &c),
                     "https://pool.example/base/api/v1");
    /* set directly, with trailing slashes */
    c.public_url = "http://127.0.0.1:8080//";
    ck_assert_str_eq(pool_conf_api_url(p, &c), "http://127.0.0.1:8080/api/v1");
    c.api_path = "";
    ck_assert_str_eq(pool_conf_api_url(p, &c), "http://127.0.0.1:8080");
    c.public_url = "";
    ck_assert_ptr_null(pool_conf_api_url(p, &c));
}
END_TEST

START_TEST(api_url_from_file)
{
    pool_conf_t c;

    ck_assert_str_eq(api_path_of("PoolPublicURL https://h.example/\n"
                                 "<Location /files/>\n"
                                 "    SetHandler pool\n"
                                 "</Location>\n", &c), "/files");
    ck_assert_str_eq(pool_conf_api_url(p, &c), "https://h.example/files");
    api_path_of("PoolPublicURL https://h.example/\n", &c);
    ck_assert_str_eq(pool_conf_api_url(p, &c), "https://h.example/pool");
}
END_TEST

Suite *suite_conf(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, size_good);
    tcase_add_test(tc, size_bad);
    tcase_add_test(tc, int_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("set");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, set_good);
    tcase_add_test(tc, set_bad);
    tcase_add_test(tc, set_unknown);
    tcase_add_test(tc, set_long_value_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, read_quotes_continuation_comments);
    tcase_add_test(tc, read_storage_url_and_credentials);
    tcase_add_test(tc, read_comment_continues);
    tcase_add_test(tc, read_unknown_ignored);
    tcase_add_test(tc, read_include_relative);
    tcase_add_test(tc, read_include_directory);
    tcase_add_test(tc, read_include_missing);
    tcase_add_test(tc, read_include_loop);
    tcase_add_test(tc, read_include_depth_8);
    tcase_add_test(tc, read_missing_database);
    tcase_add_test(tc, read_bad_value_names_file_line);
    tcase_add_test(tc, read_continued_line_numbers);
    tcase_add_test(tc, read_arg_count);
    tcase_add_test(tc, read_missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("api_path");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, api_path_plain_and_quoted);
    tcase_add_test(tc, api_path_trailing_slash);
    tcase_add_test(tc, api_path_first_with_handler);
    tcase_add_test(tc, api_path_included);
    tcase_add_test(tc, api_path_none);
    tcase_add_test(tc, api_url);
    tcase_add_test(tc, api_url_from_file);
    suite_add_tcase(s, tc);
    return s;
}
