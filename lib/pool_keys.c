/* Token signing keys (PoolKeyFile): "<kid> <base64url secret>" per line. */
#include <string.h>

#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_time.h>
#include <openssl/crypto.h>

#include "pool_keys.h"
#include "pool_util.h"
#include "pool_log.h"

#define KEYFILE_MAX     (1024 * 1024)   /* a larger key file is refused */
/* unpadded base64url characters of the longest accepted key */
#define KEY_B64_MAX     ((POOL_KEY_MAX * 4 + 2) / 3)

/* Array elements through void *, so that -Wcast-align (clang) is quiet:
 * apr_array_make aligns elts for any type. */
static pool_key_t *key_at(const apr_array_header_t *a, int i)
{
    return (pool_key_t *)(void *)a->elts + i;
}

static int line_at(const apr_array_header_t *a, int i)
{
    return ((const int *)(const void *)a->elts)[i];
}

int pool_kid_valid(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n < 1 || n > POOL_KID_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_'
              || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads the whole file (at most KEYFILE_MAX bytes) into *buf from p. */
static apr_status_t read_file(apr_pool_t *p, const char *path, char **buf,
                              apr_size_t *len, const char **err)
{
    apr_file_t *fd;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_size_t got = 0;
    char ebuf[256];
    char *b;

    rv = apr_file_open(&fd, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: cannot open key file: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_TYPE | APR_FINFO_SIZE
                           | APR_FINFO_PROT, fd);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        apr_file_close(fd);
        *err = apr_psprintf(p, "%s: key file is not a regular file", path);
        return APR_EINVAL;
    }
    if (rv == APR_SUCCESS && (fi.protection & APR_FPROT_WREAD)) {
        pool_log(POOL_LOG_WARN, "key file %s is readable by other users",
                 path);
    }
    b = apr_palloc(p, KEYFILE_MAX + 1);
    for (;;) {
        apr_size_t n = KEYFILE_MAX + 1 - got;
        if (n == 0) {
            apr_file_close(fd);
            OPENSSL_cleanse(b, got);
            *err = apr_psprintf(p, "%s: key file larger than %d bytes", path,
                                KEYFILE_MAX);
            return APR_EINVAL;
        }
        rv = apr_file_read(fd, b + got, &n);
        got += n;
        if (APR_STATUS_IS_EOF(rv)) {
            break;
        }
        if (rv != APR_SUCCESS) {
            apr_file_close(fd);
            OPENSSL_cleanse(b, got);
            *err = apr_psprintf(p, "%s: cannot read key file: %s", path,
                                apr_strerror(rv, ebuf, sizeof(ebuf)));
            return rv;
        }
    }
    apr_file_close(fd);
    if (got > KEYFILE_MAX) {
        OPENSSL_cleanse(b, got);
        *err = apr_psprintf(p, "%s: key file larger than %d bytes", path,
                            KEYFILE_MAX);
        return APR_EINVAL;
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return APR_SUCCESS;
}

/* Parses one line (without its newline) into *k.  NULL when fine, else the
 * reason. */
static const char *parse_line(apr_pool_t *p, const char *line, apr_size_t len,
                              pool_key_t *k, int *skip)
{
    const char *kid, *sec, *end = line + len;
    apr_size_t kidlen, seclen;
    apr_ssize_t n;

    *skip = 0;
    while (line < end && is_blank(*line)) {
        line++;
    }
    while (end > line && (is_blank(end[-1]) || end[-1] == '\r')) {
        end--;
    }
    if (line == end || *line == '#') {
        *skip = 1;
        return NULL;
    }
    if (memchr(line, '\0', end - line)) {
        return "NUL byte in line";
    }
    kid = line;
    while (line < end && !is_blank(*line)) {
        line++;
    }
    kidlen = line - kid;
    while (line < end && is_blank(*line)) {
        line++;
    }
    if (line == end) {
        return "expected '<kid> <base64url secret>', found no secret";
    }
    sec = line;
    while (line < end && !is_blank(*line)) {
        line++;
    }
    seclen = line - sec;
    if (line != end) {
        return "unexpected text after the secret "
               "(expected '<kid> <base64url secret>')";
    }
    if (!pool_kid_valid(kid, kidlen)) {
        return apr_psprintf(p, "invalid key id (1 to %d characters of "
                            "A-Z a-z 0-9 . _ -)", POOL_KID_MAX);
    }
    if (seclen > KEY_B64_MAX) {
        return apr_psprintf(p, "key too long (at most %d bytes)",
                            POOL_KEY_MAX);
    }
    n = pool_b64url_decode_buf(sec, seclen, k->key, sizeof(k->key));
    if (n < 0) {
        return "secret is not valid unpadded base64url";
    }
    if (n < POOL_KEY_MIN) {
        OPENSSL_cleanse(k->key, sizeof(k->key));
        return apr_psprintf(p, "key too short (%d bytes, at least %d)",
                            (int)n, POOL_KEY_MIN);
    }
    k->kid = apr_pstrmemdup(p, kid, kidlen);
    k->keylen = (apr_size_t)n;
    return NULL;
}

apr_status_t pool_keyring_load(apr_pool_t *p, const char *path,
                               pool_keyring_t **kr, const char **err)
{
    apr_pool_t *ptemp;
    apr_array_header_t *keys;
    apr_array_header_t *lines;     /* line number of each key */
    apr_status_t rv;
    char *buf = NULL;
    const char *line, *end, *nl, *why;
    apr_size_t len = 0;
    int lineno = 0, i;

    *kr = NULL;
    *err = NULL;
    if (!path || !*path) {
        *err = "no key file given";
        return APR_EINVAL;
    }
    rv = apr_pool_create(&ptemp, p);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: out of memory", path);
        return rv;
    }
    rv = read_file(ptemp, path, &buf, &len, &why);
    if (rv != APR_SUCCESS) {
        *err = apr_pstrdup(p, why);
        apr_pool_destroy(ptemp);
        return rv;
    }
    keys = apr_array_make(p, 4, sizeof(pool_key_t));
    lines = apr_array_make(ptemp, 4, sizeof(int));
    line = buf;
    end = buf + len;
    while (line < end) {
        pool_key_t k;
        int skip;

        lineno++;
        nl = memchr(line, '\n', end - line);
        if (!nl) {
            nl = end;
        }
        memset(&k, 0, sizeof(k));
        why = parse_line(p, line, nl - line, &k, &skip);
        if (why) {
            *err = apr_psprintf(p, "%s:%d: %s", path, lineno, why);
            rv = APR_EINVAL;
            break;
        }
        if (!skip) {
            for (i = 0; i < keys->nelts; i++) {
                if (!strcmp(key_at(keys, i)->kid, k.kid)) {
                    *err = apr_psprintf(p, "%s:%d: duplicate key id '%s' "
                                        "(first on line %d)", path, lineno,
                                        k.kid, line_at(lines, i));
                    rv = APR_EINVAL;
                    break;
                }
            }
            if (rv != APR_SUCCESS) {
                OPENSSL_cleanse(&k, sizeof(k));
                break;
            }
            APR_ARRAY_PUSH(keys, pool_key_t) = k;
            APR_ARRAY_PUSH(lines, int) = lineno;
            OPENSSL_cleanse(&k, sizeof(k));
        }
        line = nl + 1;
    }
    OPENSSL_cleanse(buf, len);
    apr_pool_destroy(ptemp);
    if (rv == APR_SUCCESS && keys->nelts == 0) {
        *err = apr_psprintf(p, "%s: no keys in key file (expected lines "
                            "'<kid> <base64url secret>')", path);
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        for (i = 0; i < keys->nelts; i++) {
            OPENSSL_cleanse(key_at(keys, i), sizeof(pool_key_t));
        }
        return rv;
    }
    *kr = apr_pcalloc(p, sizeof(**kr));
    (*kr)->keys = keys;
    return APR_SUCCESS;
}

const pool_key_t *pool_keyring_find(const pool_keyring_t *kr, const char *kid)
{
    int i;

    if (!kr || !kr->keys || !kid) {
        return NULL;
    }
    for (i = 0; i < kr->keys->nelts; i++) {
        const pool_key_t *k = key_at(kr->keys, i);
        if (!strcmp(k->kid, kid)) {
            return k;
        }
    }
    return NULL;
}

const pool_key_t *pool_keyring_signing(const pool_keyring_t *kr)
{
    if (!kr || !kr->keys || kr->keys->nelts == 0) {
        return NULL;
    }
    return key_at(kr->keys, kr->keys->nelts - 1);
}

apr_status_t pool_keyring_new_line(apr_pool_t *p, const char **line)
{
    unsigned char key[32], tag[2];
    apr_time_exp_t tm;
    apr_status_t rv;

    *line = NULL;
    if ((rv = pool_random(key, sizeof(key))) != APR_SUCCESS
        || (rv = pool_random(tag, sizeof(tag))) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_time_exp_gmt(&tm, apr_time_now());
    if (rv != APR_SUCCESS) {
        OPENSSL_cleanse(key, sizeof(key));
        return rv;
    }
    *line = apr_psprintf(p, "k%04d%02d%02d%02d%02d%02d%s %s\n",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec,
                         pool_hex(p, tag, sizeof(tag)),
                         pool_b64url_encode(p, key, sizeof(key)));
    OPENSSL_cleanse(key, sizeof(key));
    return APR_SUCCESS;
}
