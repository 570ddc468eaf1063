/* Settings shared by the module and poolctl: the Pool* directives, their
 * checks, and a reader that takes them out of an httpd config file the way
 * httpd itself would tokenise it. */
#include <errno.h>
#include <glob.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_uri.h>

#include "pool_conf.h"
#include "pool_net.h"

#define CONF_FILE_MAX      (8 * 1024 * 1024)  /* bytes per config file */
#define CONF_LINE_MAX      (64 * 1024)        /* bytes per logical line */
#define CONF_ARGS_MAX      64                 /* words per line we look at */
#define CONF_INCLUDE_DEPTH 8
#define CONF_SHOW_MAX      80                 /* value bytes quoted in errors */

void pool_conf_defaults(pool_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->max_file_size = POOL_DEFAULT_MAX_FILE_SIZE;
    c->token_lifetime = POOL_DEFAULT_TOKEN_LIFETIME;
    c->db_connections = POOL_DEFAULT_DB_CONNECTIONS;
    c->import_timeout = POOL_DEFAULT_IMPORT_TIMEOUT;
    c->upload_expiry = POOL_DEFAULT_UPLOAD_EXPIRY;
    c->auth_client_max = POOL_DEFAULT_AUTH_CLIENT_MAX;
    c->auth_addr_max = POOL_DEFAULT_AUTH_ADDR_MAX;
    c->auth_period = POOL_DEFAULT_AUTH_PERIOD;
}

const char *pool_conf_issuer(const pool_conf_t *c)
{
    return (c && c->public_url && *c->public_url) ? c->public_url : "mod_pool";
}

const char *pool_conf_api_path(const pool_conf_t *c)
{
    return (c && c->api_path) ? c->api_path : POOL_DEFAULT_API_PATH;
}

const char *pool_conf_api_url(apr_pool_t *p, const pool_conf_t *c)
{
    apr_size_t n;

    if (!c || !c->public_url || !*c->public_url) {
        return NULL;
    }
    n = strlen(c->public_url);
    while (n > 0 && c->public_url[n - 1] == '/') {
        n--;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, c->public_url, n),
                       pool_conf_api_path(c), NULL);
}

/* ---- numbers */

int pool_parse_size(const char *s, apr_off_t *out)
{
    apr_uint64_t v = 0, mult = 1;
    const apr_uint64_t max = (apr_uint64_t)APR_INT64_MAX;
    const char *q = s;

    if (!s || !apr_isdigit(*s)) {
        return -1;
    }
    for (; apr_isdigit(*q); q++) {
        unsigned d = (unsigned)(*q - '0');
        if (v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (*q) {
        switch (apr_toupper(*q)) {
        case 'K': mult = (apr_uint64_t)1 << 10; break;
        case 'M': mult = (apr_uint64_t)1 << 20; break;
        case 'G': mult = (apr_uint64_t)1 << 30; break;
        case 'T': mult = (apr_uint64_t)1 << 40; break;
        default: return -1;
        }
        if (q[1]) {
            return -1;
        }
    }
    if (v == 0 || v > max / mult) {
        return -1;
    }
    *out = (apr_off_t)(v * mult);
    return 0;
}

int pool_parse_int(const char *s, long min, long max, long *out)
{
    long v = 0;
    const char *q = s;

    if (!s || !apr_isdigit(*s)) {
        return -1;
    }
    for (; apr_isdigit(*q); q++) {
        int d = *q - '0';
        if (v > (APR_INT32_MAX - d) / 10) {
            return -1;          /* far beyond any bound we use */
        }
        v = v * 10 + d;
    }
    if (*q || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- directives */

const char *pool_conf_show(apr_pool_t *p, const char *v)
{
    apr_size_t n, i, lim;
    char *s;

    if (!v) {
        return "";
    }
    n = strlen(v);
    lim = n > CONF_SHOW_MAX ? CONF_SHOW_MAX : n;
    s = apr_palloc(p, lim + 4);
    for (i = 0; i < lim; i++) {
        unsigned char ch = (unsigned char)v[i];
        s[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n > lim) {
        memcpy(s + lim, "...", 3);
        lim += 3;
    }
    s[lim] = '\0';
    return s;
}

/* An absolute path, stored without trailing slashes ("/" stays "/"). */
static const char *set_path(apr_pool_t *p, const char *name, const char *v,
                            const char **out)
{
    apr_size_t n = strlen(v);
    const char *q;

    if (v[0] != '/') {
        return apr_psprintf(p, "%s: '%s' is not an absolute path", name,
                            pool_conf_show(p, v));
    }
    for (q = v; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            return apr_psprintf(p, "%s: '%s' contains control characters",
                                name, pool_conf_show(p, v));
        }
    }
    while (n > 1 && v[n - 1] == '/') {
        n--;
    }
    *out = apr_pstrmemdup(p, v, n);
    return NULL;
}

static const char *set_database(apr_pool_t *p, pool_conf_t *c, const char *name,
                                const char *v)
{
    const char *q;

    for (q = v; *q && apr_isspace(*q); q++) {
    }
    if (!*q) {
        return apr_psprintf(p, "%s: must not be empty (a libpq connection "
                            "string, e.g. 'host=/run/postgresql dbname=pool')",
                            name);
    }
    c->database = apr_pstrdup(p, v);
    return NULL;
}

/* 1 when v is an http:// or https:// URL: scheme (in lower case), host,
 * optional port and path; no credentials, query or fragment. */
static int url_ok(apr_pool_t *p, const char *v)
{
    apr_uri_t uri;
    const char *q;

    /* only characters RFC 3986 allows in a URL */
    for (q = v; *q; q++) {
        if (!apr_isalnum(*q) && !strchr("-._~:/?#[]@!$&'()*+,;=%", *q)) {
            return 0;
        }
    }
    if (apr_uri_parse(p, v, &uri) != APR_SUCCESS
        || !uri.scheme
        || (strcmp(uri.scheme, "http") && strcmp(uri.scheme, "https"))
        || !uri.hostname || !*uri.hostname
        || uri.user || uri.password
        || uri.query || uri.fragment
        || strchr(v, '?') || strchr(v, '#')
        || strchr(v, '@')) {
        return 0;
    }
    /* The scheme must be written in lower case as well. */
    return !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8);
}

static const char *set_storage(apr_pool_t *p, pool_conf_t *c, const char *name,
                               const char *v)
{
    if (!strncasecmp(v, "http://", 7) || !strncasecmp(v, "https://", 8)) {
        if (!url_ok(p, v)) {
            return apr_psprintf(p, "%s: '%s' is not an http:// or https:// "
                                "URL of a WebDAV collection (scheme, host, "
                                "optional port and path; credentials go in "
                                "the file PoolStorageCredentials names)",
                                name, pool_conf_show(p, v));
        }
        c->storage = apr_pstrdup(p, v);
        return NULL;
    }
    if (strstr(v, "://")) {
        return apr_psprintf(p, "%s: '%s': only http:// and https:// URLs "
                            "(a WebDAV store) or a directory", name,
                            pool_conf_show(p, v));
    }
    return set_path(p, name, v, &c->storage);
}

static const char *set_storage_credentials(apr_pool_t *p, pool_conf_t *c,
                                           const char *name, const char *v)
{
    return set_path(p, name, v, &c->storage_credentials);
}

static const char *set_key_file(apr_pool_t *p, pool_conf_t *c, const char *name,
                                const char *v)
{
    return set_path(p, name, v, &c->key_file);
}

static const char *set_public_url(apr_pool_t *p, pool_conf_t *c,
                                  const char *name, const char *v)
{
    apr_uri_t uri;
    apr_size_t n = strlen(v);
    const char *q;
    int ok = 1;

    /* only characters RFC 3986 allows in a URL */
    for (q = v; *q; q++) {
        if (!apr_isalnum(*q) && !strchr("-._~:/?#[]@!$&'()*+,;=%", *q)) {
            ok = 0;
        }
    }
    if (ok && (apr_uri_parse(p, v, &uri) != APR_SUCCESS
               || !uri.scheme
               || (strcmp(uri.scheme, "http") && strcmp(uri.scheme, "https"))
               || !uri.hostname || !*uri.hostname
               || uri.user || uri.password
               || uri.query || uri.fragment
               || strchr(v, '?') || strchr(v, '#'))) {
        ok = 0;
    }
    /* The scheme must be written in lower case as well. */
    if (ok && strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
        ok = 0;
    }
    if (!ok) {
        return apr_psprintf(p, "%s: '%s' is not an http:// or https:// URL "
                            "(scheme, host, optional port and path)",
                            name, pool_conf_show(p, v));
    }
    while (n > 0 && v[n - 1] == '/') {
        n--;
    }
    c->public_url = apr_pstrmemdup(p, v, n);
    return NULL;
}

static const char *set_max_file_size(apr_pool_t *p, pool_conf_t *c,
                                     const char *name, const char *v)
{
    apr_off_t size;

    if (pool_parse_size(v, &size) != 0) {
        return apr_psprintf(p, "%s: '%s' is not a size (bytes, or with "
                            "K/M/G/T)", name, pool_conf_show(p, v));
    }
    c->max_file_size = size;
    return NULL;
}

static const char *set_max_batch_size(apr_pool_t *p, pool_conf_t *c,
                                      const char *name, const char *v)
{
    apr_off_t size;

    if (pool_parse_size(v, &size) != 0) {
        return apr_psprintf(p, "%s: '%s' is not a size (bytes, or with "
                            "K/M/G/T)", name, pool_conf_show(p, v));
    }
    c->max_batch_size = size;
    return NULL;
}

apr_off_t pool_conf_max_batch(const pool_conf_t *c)
{
    if (c->max_batch_size > 0) {
        return c->max_batch_size;
    }
    if (c->max_file_size > APR_INT64_MAX / POOL_BATCH_SIZE_FACTOR) {
        return APR_INT64_MAX;
    }
    return c->max_file_size * POOL_BATCH_SIZE_FACTOR;
}

static const char *set_token_lifetime(apr_pool_t *p, pool_conf_t *c,
                                      const char *name, const char *v)
{
    long n;

    if (pool_parse_int(v, 60, 86400, &n) != 0) {
        return apr_psprintf(p, "%s: '%s' is not a number of seconds between "
                            "60 and 86400", name, pool_conf_show(p, v));
    }
    c->token_lifetime = (int)n;
    return NULL;
}

static const char *set_db_connections(apr_pool_t *p, pool_conf_t *c,
                                      const char *name, const char *v)
{
    long n;

    if (pool_parse_int(v, 1, 256, &n) != 0) {
        return apr_psprintf(p, "%s: '%s' is not a number between 1 and 256",
                            name, pool_conf_show(p, v));
    }
    c->db_connections = (int)n;
    return NULL;
}

static const char *set_networks(apr_pool_t *p, const char *name,
                                const char *v, const char **field)
{
    apr_array_header_t *nets;
    const char *err = pool_net_parse(p, v, &nets);

    if (err) {
        return apr_psprintf(p, "%s: %s", name, err);
    }
    *field = apr_pstrdup(p, v);
    return NULL;
}

static const char *set_outbound_deny(apr_pool_t *p, pool_conf_t *c,
                                     const char *name, const char *v)
{
    return set_networks(p, name, v, &c->outbound_deny);
}

static const char *set_outbound_allow(apr_pool_t *p, pool_conf_t *c,
                                      const char *name, const char *v)
{
    return set_networks(p, name, v, &c->outbound_allow);
}

static const char *set_import_timeout(apr_pool_t *p, pool_conf_t *c,
                                      const char *name, const char *v)
{
    long n;

    if (pool_parse_int(v, 5, 86400, &n) != 0) {
        return apr_psprintf(p, "%s: '%s' is not a number of seconds between "
                            "5 and 86400", name, pool_conf_show(p, v));
    }
    c->import_timeout = (int)n;
    return NULL;
}

static const char *set_upload_expiry(apr_pool_t *p, pool_conf_t *c,
                                     const char *name, const char *v)
{
    long n;

    if (pool_parse_int(v, 1, 31536000, &n) != 0) {
        return apr_psprintf(p, "%s: '%s' is not a number of seconds between "
                            "1 and 31536000", name, pool_conf_show(p, v));
    }
    c->upload_expiry = (int)n;
    return NULL;
}

/* One browser origin: http(s)://host[:port], nothing more. */
static int origin_ok(const char *s, apr_size_t n)
{
    apr_size_t i = 0, host;

    if (n == 1 && *s == '*') {
        return 1;
    }
    if (n > 7 && !strncmp(s, "http://", 7)) {
        i = 7;
    }
    else if (n > 8 && !strncmp(s, "https://", 8)) {
        i = 8;
    }
    else {
        return 0;
    }
    host = i;
    while (i < n && (apr_isalnum(s[i]) || s[i] == '-' || s[i] == '.'
                     || s[i] == '[' || s[i] == ']' || s[i] == ':')) {
        i++;
    }
    return i == n && i > host && s[n - 1] != ':';
}

static const char *set_cors_origins(apr_pool_t *p, pool_conf_t *c,
                                    const char *name, const char *v)
{
    const char *s = v;
    int count = 0;

    while (*s) {
        const char *e;

        while (apr_isspace(*s)) {
            s++;
        }
        if (!*s) {
            break;
        }
        for (e = s; *e && !apr_isspace(*e); e++) {
        }
        if (!origin_ok(s, (apr_size_t)(e - s))) {
            return apr_psprintf(p, "%s: '%s' is not an origin (scheme://host"
                                "[:port] with http or https, no path), nor *",
                                name, pool_conf_show(p, apr_pstrmemdup(p, s,
                                                  (apr_size_t)(e - s))));
        }
        count++;
        s = e;
    }
    if (!count) {
        return apr_psprintf(p, "%s: needs at least one origin", name);
    }
    c->cors_origins = apr_pstrdup(p, v);
    return NULL;
}

/* "CLIENT ADDRESS SECONDS" (failures per client id, per source address,
 * within seconds) or "off". */
static const char *set_auth_throttle(apr_pool_t *p, pool_conf_t *c,
                                     const char *name, const char *v)
{
    char *words = apr_pstrdup(p, v), *last = NULL;
    const char *w[4];
    long n[3];
    int i;

    if (!strcasecmp(v, "off")) {
        c->auth_client_max = c->auth_addr_max = c->auth_period = 0;
        return NULL;
    }
    /* (apr_strtok must not be called again once it returned NULL) */
    for (i = 0; i < 4; i++) {
        w[i] = i && !w[i - 1] ? NULL : apr_strtok(i ? NULL : words, " \t",
                                                  &last);
    }
    if (!w[2] || w[3]
        || pool_parse_int(w[0], 1, 1000000, &n[0]) != 0
        || pool_parse_int(w[1], 1, 1000000, &n[1]) != 0
        || pool_parse_int(w[2], 1, 86400, &n[2]) != 0) {
        return apr_psprintf(p, "%s: '%s' is not 'off' nor three numbers: "
                            "failures per client id, failures per source "
                            "address (1..1000000), within seconds (1..86400)",
                            name, pool_conf_show(p, v));
    }
    c->auth_client_max = (int)n[0];
    c->auth_addr_max = (int)n[1];
    c->auth_period = (int)n[2];
    return NULL;
}

typedef const char *conf_setter(apr_pool_t *p, pool_conf_t *c,
                                const char *name, const char *v);

static const struct {
    const char *name;
    conf_setter *set;
} directives[] = {
    { "PoolDatabase", set_database },
    { "PoolStorage", set_storage },
    { "PoolStorageCredentials", set_storage_credentials },
    { "PoolKeyFile", set_key_file },
    { "PoolPublicURL", set_public_url },
    { "PoolMaxFileSize", set_max_file_size },
    { "PoolMaxBatchSize", set_max_batch_size },
    { "PoolTokenLifetime", set_token_lifetime },
    { "PoolDatabaseConnections", set_db_connections },
    { "PoolOutboundDeny", set_outbound_deny },
    { "PoolOutboundAllow", set_outbound_allow },
    { "PoolImportTimeout", set_import_timeout },
    { "PoolUploadExpiry", set_upload_expiry },
    { "PoolCORSOrigins", set_cors_origins },
    { "PoolAuthThrottle", set_auth_throttle },
};
#define N_DIRECTIVES (sizeof(directives) / sizeof(directives[0]))

static int find_directive(const char *name)
{
    unsigned int i;

    for (i = 0; i < N_DIRECTIVES; i++) {
        if (!strcasecmp(directives[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

const char *pool_conf_set(apr_pool_t *p, pool_conf_t *c, const char *directive,
                          const char *value)
{
    int i;

    if (!directive || (i = find_directive(directive)) < 0) {
        return apr_psprintf(p, "%s: unknown directive",
                            directive ? pool_conf_show(p, directive)
                                      : "(null)");
    }
    if (!value) {
        return apr_psprintf(p, "%s: takes one argument", directives[i].name);
    }
    return directives[i].set(p, c, directives[i].name, value);
}

/* ---- reader */

typedef struct {
    apr_pool_t *p;
    pool_conf_t *c;
    int database_seen;
    const char *location;       /* path of the open <Location>, or NULL */
    const char *api_path;       /* the first <Location> with SetHandler pool */
    const char *err;
} conf_reader;

static apr_status_t read_file(conf_reader *rd, const char *path, int depth);

/* One argument as httpd's ap_getword_conf() reads it: words separated by
 * white space, '...' or "..." quoting, and a backslash escaping a backslash
 * or the quote character.  An unterminated quote runs to the end of line. */
static const char *next_word(apr_pool_t *p, const char **line)
{
    const char *s = *line, *start, *end;
    char quote = 0;
    char *res, *o;

    while (*s && apr_isspace(*s)) {
        s++;
    }
    if (!*s) {
        *line = s;
        return NULL;
    }
    if (*s == '"' || *s == '\'') {
        quote = *s++;
        start = s;
        while (*s && *s != quote) {
            if (*s == '\\' && s[1] && (s[1] == quote || s[1] == '\\')) {
                s += 2;
            }
            else {
                s++;
            }
        }
        end = s;
        if (*s) {
            s++;                /* the closing quote */
        }
    }
    else {
        start = s;
        while (*s && !apr_isspace(*s)) {
            s++;
        }
        end = s;
    }
    while (*s && apr_isspace(*s)) {
        s++;
    }
    *line = s;

    o = res = apr_palloc(p, (apr_size_t)(end - start) + 1);
    for (s = start; s < end; s++) {
        if (*s == '\\' && s + 1 < end
            && (s[1] == '\\' || (quote && s[1] == quote))) {
            s++;
        }
        *o++ = *s;
    }
    *o = '\0';
    return res;
}

static int has_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Reads what an Include names: path is already resolved; a directory
 * means every file in it (recursively, in name order), as httpd does. */
static apr_status_t include_path(conf_reader *rd, const char *file, int line,
                                 const char *path, int wild, int optional,
                                 int depth)
{
    apr_finfo_t fi;
    apr_status_t rv;
    glob_t g;
    int grc;
    size_t i;

    if (depth >= CONF_INCLUDE_DEPTH) {
        rd->err = apr_psprintf(rd->p, "%s:%d: Include nested more than %d "
                               "deep", file, line, CONF_INCLUDE_DEPTH);
        return APR_EINVAL;
    }
    if (!wild) {
        rv = apr_stat(&fi, path, APR_FINFO_TYPE, rd->p);
        if (rv != APR_SUCCESS) {
            if (optional) {
                return APR_SUCCESS;
            }
            rd->err = apr_psprintf(rd->p, "%s:%d: Include: cannot read %s: "
                                   "%pm", file, line, path, &rv);
            return rv;
        }
        if (fi.filetype != APR_DIR) {
            return read_file(rd, path, depth + 1);
        }
        path = apr_pstrcat(rd->p, path, "/*", NULL);
    }

    memset(&g, 0, sizeof(g));
    grc = glob(path, 0, NULL, &g);
    if (grc == GLOB_NOMATCH) {
        globfree(&g);
        if (optional || !wild) {
            return APR_SUCCESS;     /* optional, or an empty directory */
        }
        rd->err = apr_psprintf(rd->p, "%s:%d: Include: no files match %s",
                               file, line, path);
        return APR_ENOENT;
    }
    if (grc != 0) {
        globfree(&g);
        rd->err = apr_psprintf(rd->p, "%s:%d: Include: cannot read %s",
                               file, line, path);
        return APR_EGENERAL;
    }
    rv = APR_SUCCESS;
    for (i = 0; i < g.gl_pathc && rv == APR_SUCCESS; i++) {
        const char *m = apr_pstrdup(rd->p, g.gl_pathv[i]);

        if (apr_stat(&fi, m, APR_FINFO_TYPE, rd->p) != APR_SUCCESS) {
            continue;           /* vanished, or a dangling link */
        }
        if (fi.filetype == APR_DIR) {
            rv = include_path(rd, file, line, m, 0, optional, depth + 1);
        }
        else {
            rv = read_file(rd, m, depth + 1);
        }
    }
    globfree(&g);
    return rv;
}

/* "<Location X>": notes X, without trailing slashes, as the open section
 * when it is a plain path (not "~ regex", no wildcard).  As httpd does, the
 * argument is what comes before the last '>'. */
static void location_open(conf_reader *rd, const char *rest)
{
    const char *gt = strrchr(rest, '>');
    const char *arg, *x;
    apr_size_t n;

    rd->location = NULL;
    if (!gt) {
        return;                 /* httpd refuses it */
    }
    arg = apr_pstrmemdup(rd->p, rest, (apr_size_t)(gt - rest));
    x = next_word(rd->p, &arg);
    if (!x || x[0] != '/' || has_wildcard(x)) {
        return;
    }
    n = strlen(x);
    while (n > 0 && x[n - 1] == '/') {
        n--;
    }
    rd->location = apr_pstrmemdup(rd->p, x, n);
}

/* The sections and directive that tell where the API is mounted. */
static void api_path_line(conf_reader *rd, const char *cmd, const char *rest)
{
    const char *w;

    if (!strcasecmp(cmd, "<Location")) {
        location_open(rd, rest);
    }
    else if (!strcasecmp(cmd, "</Location>")) {
        rd->location = NULL;
    }
    else if (!strcasecmp(cmd, "SetHandler")) {
        /* httpd lower-cases handler names */
        w = next_word(rd->p, &rest);
        if (w && !strcasecmp(w, "pool") && rd->location && !rd->api_path) {
            rd->api_path = rd->location;
        }
    }
}

/* One logical line, already joined; returns APR_SUCCESS or sets rd->err. */
static apr_status_t do_line(conf_reader *rd, const char *file, int lineno,
                            const char *line, int depth)
{
    const char *args[CONF_ARGS_MAX];
    const char *cmd, *rest = line, *w, *path;
    int nargs = 0, i, optional;
    apr_status_t rv;

    while (*rest && apr_isspace(*rest)) {
        rest++;
    }
    if (!*rest || *rest == '#') {
        return APR_SUCCESS;
    }
    cmd = next_word(rd->p, &rest);
    if (!cmd) {
        return APR_SUCCESS;
    }
    optional = !strcasecmp(cmd, "IncludeOptional");
    if (!optional && strcasecmp(cmd, "Include")
        && find_directive(cmd) < 0) {
        api_path_line(rd, cmd, rest);
        return APR_SUCCESS;     /* not ours; httpd is the judge of it */
    }
    while ((w = next_word(rd->p, &rest)) != NULL) {
        if (nargs == CONF_ARGS_MAX) {
            break;
        }
        args[nargs++] = w;
    }

    if (optional || !strcasecmp(cmd, "Include")) {
        if (nargs != 1) {
            rd->err = apr_psprintf(rd->p, "%s:%d: %s takes one argument "
                                   "(quote paths that contain spaces)",
                                   file, lineno, optional ? "IncludeOptional"
                                                          : "Include");
            return APR_EINVAL;
        }
        path = args[0];
        if (path[0] != '/') {
            /* relative to the directory of the including file */
            const char *slash = strrchr(file, '/');
            path = apr_pstrcat(rd->p, slash ? apr_pstrmemdup(rd->p, file,
                                              (apr_size_t)(slash - file) + 1)
                                            : "",
                               path, NULL);
        }
        rv = include_path(rd, file, lineno, path, has_wildcard(args[0]),
                          optional, depth);
        if (rv != APR_SUCCESS && !rd->err) {
            rd->err = apr_psprintf(rd->p, "%s:%d: Include failed", file,
                                   lineno);
        }
        return rv;
    }

    i = find_directive(cmd);
    if (nargs > 1 && !strcmp(directives[i].name, "PoolCORSOrigins")) {
        /* a list: its words are one value */
        int k;
        for (k = 1; k < nargs; k++) {
            args[0] = apr_pstrcat(rd->p, args[0], " ", args[k], NULL);
        }
        nargs = 1;
    }
    if (nargs != 1) {
        rd->err = apr_psprintf(rd->p, "%s:%d: %s takes one argument "
                               "(quote values that contain spaces)", file,
                               lineno, directives[i].name);
        return APR_EINVAL;
    }
    w = pool_conf_set(rd->p, rd->c, cmd, args[0]);
    if (w) {
        rd->err = apr_psprintf(rd->p, "%s:%d: %s", file, lineno, w);
        return APR_EINVAL;
    }
    if (i == find_directive("PoolDatabase")) {
        rd->database_seen = 1;
    }
    return APR_SUCCESS;
}

static apr_status_t read_file(conf_reader *rd, const char *path, int depth)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_size_t len, nread = 0;
    char *buf, *s, *end;
    char *logical;
    apr_size_t llen = 0;
    int lineno = 0, start_line = 0;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, rd->p);
    if (rv != APR_SUCCESS) {
        rd->err = apr_psprintf(rd->p, "cannot open %s: %pm", path, &rv);
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS && fi.size > CONF_FILE_MAX) {
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        apr_file_close(f);
        rd->err = apr_psprintf(rd->p, "%s: not a regular file of at most %d "
                               "bytes", path, CONF_FILE_MAX);
        return rv;
    }
    len = (apr_size_t)fi.size;
    buf = apr_palloc(rd->p, len + 1);
    if (len > 0) {
        rv = apr_file_read_full(f, buf, len, &nread);
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
        }
    }
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        rd->err = apr_psprintf(rd->p, "cannot read %s: %pm", path, &rv);
        return rv;
    }
    buf[nread] = '\0';
    if (memchr(buf, '\0', nread)) {
        rd->err = apr_psprintf(rd->p, "%s: contains NUL bytes", path);
        return APR_EINVAL;
    }

    logical = apr_palloc(rd->p, CONF_LINE_MAX + 1);
    s = buf;
    end = buf + nread;
    while (s < end) {
        char *nl = memchr(s, '\n', (apr_size_t)(end - s));
        char *e = nl ? nl : end;
        apr_size_t n;
        int cont = 0;

        lineno++;
        if (llen == 0) {
            start_line = lineno;
        }
        /* drop CR and trailing white space, as ap_cfg_getline does */
        while (e > s && apr_isspace(e[-1])) {
            e--;
        }
        /* a single trailing backslash continues the line; "\\" does not */
        if (e > s && e[-1] == '\\' && !(e - 1 > s && e[-2] == '\\')) {
            cont = 1;
            e--;
        }
        n = (apr_size_t)(e - s);
        if (llen + n > CONF_LINE_MAX) {
            rd->err = apr_psprintf(rd->p, "%s:%d: line longer than %d bytes",
                                   path, start_line, CONF_LINE_MAX);
            return APR_EINVAL;
        }
        memcpy(logical + llen, s, n);
        llen += n;
        s = nl ? nl + 1 : end;
        if (cont && s < end) {
            continue;
        }
        logical[llen] = '\0';
        rv = do_line(rd, path, start_line, logical, depth);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        llen = 0;
    }
    return APR_SUCCESS;
}

apr_status_t pool_conf_read(apr_pool_t *p, const char *path, pool_conf_t *c,
                            const char **err)
{
    conf_reader rd;
    apr_status_t rv;

    memset(&rd, 0, sizeof(rd));
    rd.p = p;
    rd.c = c;
    *err = NULL;
    if (!path || !*path) {
        *err = "no configuration file given";
        return APR_EINVAL;
    }
    rv = read_file(&rd, path, 0);
    if (rv != APR_SUCCESS) {
        *err = rd.err ? rd.err : apr_psprintf(p, "%s: %pm", path, &rv);
        return rv;
    }
    c->api_path = rd.api_path;
    if (!rd.database_seen) {
        *err = apr_psprintf(p, "%s: PoolDatabase is not set (neither in this "
                            "file nor in the files it includes)", path);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
