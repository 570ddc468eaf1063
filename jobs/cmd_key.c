/* poolctl key generate FILE: appends a fresh signing key to a PoolKeyFile.
 * The last key of the file signs, so appending rotates; remove an old key
 * once the tokens it signed have expired.  Needs no configuration. */
#include <stdio.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include "poolctl.h"
#include "pool_keys.h"

static const char *errstr(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

/* 1 when the file is non-empty and does not end with a newline. */
static int needs_newline(apr_file_t *f, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_off_t off;
    char ch = '\n';
    apr_size_t n = 1;

    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || fi.size == 0) {
        return 0;
    }
    off = fi.size - 1;
    if (apr_file_seek(f, APR_SET, &off) != APR_SUCCESS
        || apr_file_read(f, &ch, &n) != APR_SUCCESS || n != 1) {
        return 0;
    }
    return ch != '\n';
}

static int key_generate(poolctl_t *ctl, const char *path)
{
    const apr_fileperms_t perms = APR_FPROT_UREAD | APR_FPROT_UWRITE;
    const char *line = NULL, *err = NULL;
    pool_keyring_t *kr = NULL;
    apr_finfo_t fi;
    apr_file_t *f;
    apr_status_t rv;
    apr_size_t n;
    char *kid;

    rv = pool_keyring_new_line(ctl->p, &line);
    if (rv != APR_SUCCESS || !line) {
        poolctl_err("cannot create a key: %s", errstr(ctl->p, rv));
        return POOLCTL_FAIL;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_WRITE
                       | APR_FOPEN_APPEND | APR_FOPEN_CREATE
                       | APR_FOPEN_BINARY, perms, ctl->p);
    if (rv != APR_SUCCESS) {
        poolctl_err("cannot open %s: %s", path, errstr(ctl->p, rv));
        return POOLCTL_FAIL;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_TYPE | APR_FINFO_SIZE, f);
    if (rv != APR_SUCCESS || fi.filetype != APR_REG) {
        apr_file_close(f);
        poolctl_err("%s is not a regular file", path);
        return POOLCTL_FAIL;
    }
    if (needs_newline(f, ctl->p)) {
        line = apr_pstrcat(ctl->p, "\n", line, NULL);
    }
    n = strlen(line);
    rv = apr_file_write_full(f, line, n, NULL);
    if (rv == APR_SUCCESS) {
        rv = apr_file_sync(f);
    }
    if (rv != APR_SUCCESS) {
        apr_file_trunc(f, fi.size);
        apr_file_close(f);
        poolctl_err("cannot write %s: %s", path, errstr(ctl->p, rv));
        return POOLCTL_FAIL;
    }

    /* What httpd will read must load; if it does not (the file was broken
     * before), put it back as it was. */
    rv = pool_keyring_load(ctl->p, path, &kr, &err);
    if (rv != APR_SUCCESS) {
        apr_file_trunc(f, fi.size);
        apr_file_sync(f);
        apr_file_close(f);
        poolctl_err("%s does not load, so it was left unchanged: %s",
                    path, err ? err : "unknown error");
        return POOLCTL_FAIL;
    }
    rv = apr_file_close(f);
    if (rv != APR_SUCCESS) {
        poolctl_err("cannot write %s: %s", path, errstr(ctl->p, rv));
        return POOLCTL_FAIL;
    }

    kid = apr_pstrdup(ctl->p, line[0] == '\n' ? line + 1 : line);
    kid[strcspn(kid, " \t\n")] = '\0';
    printf("%s\n", kid);
    return POOLCTL_OK;
}

int poolctl_cmd_key(poolctl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *pos;
    const char *sub;

    if (poolctl_getopt(ctl, argc, argv, NULL, &pos) != POOLCTL_OK) {
        return POOLCTL_USAGE;
    }
    if (pos->nelts < 1) {
        return poolctl_usage("key: which? generate");
    }
    sub = APR_ARRAY_IDX(pos, 0, const char *);
    if (strcmp(sub, "generate")) {
        return poolctl_usage("key: unknown subcommand '%s' (generate)",
                             poolctl_show(ctl->p, sub));
    }
    if (pos->nelts != 2) {
        return poolctl_usage("usage: key generate FILE");
    }
    return key_generate(ctl, APR_ARRAY_IDX(pos, 1, const char *));
}
