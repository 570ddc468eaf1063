/* pool-processor: lets any server act as a pool's processor by running a
 * command, without writing HTTP code (docs/processor.md).
 *
 *   pool-processor --api URL --pool NAME --client-id ID
 *                  (--secret-file FILE | env POOL_CLIENT_SECRET)
 *                  [--workdir DIR] [--once | --every SECONDS]
 *                  [--listen HOST:PORT --webhook-secret-file FILE]
 *                  [--result-name NAME] [--result-type TYPE] [--keep] [-v]
 *                  -- COMMAND [ARG...]
 *
 * Pull: lists the pool's triggered groups and claims each (409: another
 * processor has it).  Push (--listen): a small HTTP/1.1 listener accepts
 * signed group.ready webhooks (Standard Webhooks, verified with the pool's
 * processor secret) and queues their groups; the pull loop runs as well.
 *
 * A claimed group: its files are downloaded through the manifest's signed
 * links into WORKDIR/GID/in/ (sizes and SHA-256 checked), the manifest is
 * written to WORKDIR/GID/manifest.json, COMMAND runs with the input paths
 * appended (cwd WORKDIR/GID, env POOL_GROUP, POOL_INPUT_DIR, POOL_MANIFEST,
 * POOL_OUTPUT), and the file it leaves at POOL_OUTPUT is streamed to the
 * manifest's signed result_url.  A failure is reported as the group's
 * progress message and the group is left: its lease expires and the server
 * triggers it again.
 *
 * Exit status: 0 success, 1 a group or the server failed (--once), 2 usage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "pool_conf.h"
#include "pool_http.h"
#include "pool_imports.h"
#include "pool_log.h"
#include "pool_name.h"
#include "pool_util.h"
#include "pool_webhook.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define PP_OK       0
#define PP_FAIL     1
#define PP_USAGE    2

#define CONNECT_TIMEOUT     10          /* seconds, every request */
#define API_TIMEOUT         60          /* seconds, a whole API request */
#define STALL_TIME          60          /* seconds below 1 byte/s: abort */
#define API_BODY_MAX        (64 * 1024 * 1024)  /* a manifest, a listing */
#define ERROR_BODY_MAX      (64 * 1024)
#define SECRET_MAX          4096
#define STDERR_TAIL         1200        /* bytes of the command's stderr */
#define STDERR_SHOWN        1500        /* of them joined into one line */
#define MESSAGE_MAX         2000        /* a progress message (the API's) */
#define NAME_KEEP           100         /* bytes of a file name kept */
#define LIST_PAGES_MAX      1000
#define KILL_GRACE          10          /* seconds from SIGTERM to SIGKILL */
#define RMTREE_DEPTH        32

#define LISTEN_HEADERS_MAX  (16 * 1024)
#define LISTEN_BODY_MAX     (1024 * 1024)
#define LISTEN_READ_TIMEOUT 10          /* seconds, each read */
#define LISTEN_DEADLINE     30          /* seconds, a whole request */
#define WEBHOOK_TOLERANCE   300         /* seconds of clock skew */
#define QUEUE_MAX           256

extern char **environ;

static volatile sig_atomic_t stop_requested;
static int verbosity;

typedef struct {
    apr_pool_t *p;
    const char *api;            /* base URL, no trailing '/' */
    const char *pool;
    const char *client_id;
    const char *secret;
    const char *workdir;        /* absolute */
    const char *result_name;
    const char *result_type;
    const char *exe;            /* COMMAND, resolved to an absolute path */
    const char *const *args;    /* COMMAND ARG... */
    int nargs;
    int keep;
    pool_http_t *http;          /* one client: its connection is reused */
    apr_pool_t *token_p;        /* holds token, cleared on renewal */
    const char *token;
    apr_time_t token_renew_at;
} agent_t;

/* ------------------------------------------------------------- messages */

static void on_signal(int sig)
{
    stop_requested = sig;
}

static void log_stderr(void *baton, int level, const char *msg)
{
    const char *tag = level <= POOL_LOG_ERR ? "error: "
                      : level == POOL_LOG_WARN ? "warning: " : "";

    if (level <= POOL_LOG_NOTICE + verbosity) {
        fprintf(stderr, "pool-processor: %s%s\n", tag, msg);
    }
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("pool-processor: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'pool-processor --help'.\n", stderr);
    va_end(ap);
    return PP_USAGE;
}

static void usage(FILE *f)
{
    fputs(
"usage: pool-processor --api URL --pool NAME --client-id ID\n"
"                      [--secret-file FILE] [--workdir DIR]\n"
"                      [--once | --every SECONDS]\n"
"                      [--listen HOST:PORT --webhook-secret-file FILE]\n"
"                      [--result-name NAME] [--result-type TYPE]\n"
"                      [--keep] [-v]\n"
"                      -- COMMAND [ARG...]\n"
"\n"
"Claims the pool's triggered groups, downloads their files, runs COMMAND\n"
"with the input files appended, and returns the file COMMAND writes to\n"
"$POOL_OUTPUT as the group's result.\n"
"\n"
"  --api URL            the API base, e.g. http://127.0.0.1:8080/pool\n"
"  --pool NAME          the pool\n"
"  --client-id ID       a client of the pool with the processor role\n"
"  --secret-file FILE   its secret (else the environment variable\n"
"                       POOL_CLIENT_SECRET)\n"
"  --workdir DIR        where groups are unpacked (default\n"
"                       $TMPDIR/pool-processor-UID-POOL)\n"
"  --once               one pass, then exit (the default without --listen)\n"
"  --every SECONDS      a pass every SECONDS until SIGTERM or SIGINT\n"
"  --listen HOST:PORT   accept group.ready webhooks (push mode); implies\n"
"                       --every 60 unless --every is given\n"
"  --webhook-secret-file FILE  the pool's processor secret (whsec_...; else\n"
"                       the environment's POOL_WEBHOOK_SECRET)\n"
"  --result-name NAME   name of the result (default \"result\")\n"
"  --result-type TYPE   its content type (default application/octet-stream)\n"
"  --keep               keep WORKDIR/GID after the group\n"
"  -v, --verbose        more messages (twice: debug)\n"
"\n"
"COMMAND runs in WORKDIR/GID with POOL_GROUP, POOL_INPUT_DIR, POOL_MANIFEST\n"
"and POOL_OUTPUT set.  Exit status: 0 success, 1 a group failed (--once)\n"
"or the server could not be used, 2 usage error.\n", f);
}

/* Text from a server or a command made fit for a message or a log line:
 * one line (control characters become spaces; the API refuses them in
 * progress messages), at most max bytes, cut on a UTF-8 character
 * boundary. */
static char *clean_text(apr_pool_t *p, const char *s, apr_size_t n,
                        apr_size_t max)
{
    char *out;
    apr_size_t i;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    out = apr_pstrmemdup(p, s, n);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (ch < 0x20 || ch == 0x7f) {
            out[i] = ' ';
        }
    }
    return out;
}

/* A JSON string of s, where every byte that is not part of a valid UTF-8
 * sequence has become '?'. */
static json_t *json_text(char *s)
{
    unsigned char *u = (unsigned char *)s;

    while (*u) {
        int len = *u < 0x80 ? 1 : *u >= 0xC2 && *u <= 0xDF ? 2
                  : *u >= 0xE0 && *u <= 0xEF ? 3
                  : *u >= 0xF0 && *u <= 0xF4 ? 4 : 0, k;

        for (k = 1; k < len; k++) {
            if ((u[k] & 0xC0) != 0x80) {
                len = 0;
                break;
            }
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((len == 3 && ((*u == 0xE0 && u[1] < 0xA0)
                          || (*u == 0xED && u[1] >= 0xA0)))
            || (len == 4 && ((*u == 0xF0 && u[1] < 0x90)
                             || (*u == 0xF4 && u[1] >= 0x90)))) {
            len = 0;
        }
        if (!len) {
            *u++ = '?';
        }
        else {
            u += len;
        }
    }
    return json_string(s);
}

/* ----------------------------------------------------------------- HTTP */

typedef struct {
    const char *method;         /* NULL: GET */
    const char *url;
    const char *bearer;         /* Authorization: Bearer, or NULL */
    const char *user;           /* HTTP Basic (the token request) */
    const char *pass;
    const char *ctype;          /* of the request body */
    const char *body;           /* POST body, or NULL */
    apr_size_t body_len;
    FILE *in;                   /* PUT body, streamed from this file */
    apr_off_t in_len;
    FILE *out;                  /* a 2xx body goes here, not to memory */
    apr_off_t out_max;          /* at most this many bytes into out */
    EVP_MD_CTX *md;             /* SHA-256 of what goes into out */
    int transfer;               /* file transfer: no total timeout; a
                                 * signal stops it */
} http_req_t;

typedef struct {
    long status;                /* 0: no answer */
    const char *body;           /* NUL-terminated (not what went to out) */
    apr_size_t len;
    apr_off_t written;          /* bytes into out */
    const char *error;          /* NULL: an answer arrived (any status) */
    /* while the transfer runs */
    const http_req_t *rq;
    int write_errno;            /* 0: writing to out did not fail */
} http_resp_t;

/* A 2xx body of a file transfer, into rq->out. */
static apr_status_t to_file(void *ud, const char *data, apr_size_t n)
{
    http_resp_t *rs = ud;
    const http_req_t *rq = rs->rq;

    if (fwrite(data, 1, n, rq->out) != n) {
        rs->write_errno = errno ? errno : EIO;
        return APR_EGENERAL;
    }
    if (rq->md) {
        EVP_DigestUpdate(rq->md, data, n);
    }
    rs->written += (apr_off_t)n;
    return APR_SUCCESS;
}

/* The body of a PUT, from rq->in. */
static apr_status_t from_file(void *ud, char *buf, apr_size_t *len)
{
    const http_req_t *rq = ud;
    size_t n = fread(buf, 1, *len, rq->in);

    if (n == 0 && ferror(rq->in)) {
        return APR_EGENERAL;
    }
    *len = n;
    return n ? APR_SUCCESS : APR_EOF;
}

static int on_xfer(void *ud, apr_off_t dltotal, apr_off_t dlnow,
                   apr_off_t ultotal, apr_off_t ulnow)
{
    return stop_requested ? 1 : 0;
}

/* The agent's words for what went wrong (NULL: an answer arrived). */
static const char *http_error(apr_pool_t *p, http_resp_t *rs,
                              const pool_http_resp_t *resp)
{
    const http_req_t *rq = rs->rq;

    switch (resp->err) {
    case POOL_HTTP_OK:
        return NULL;
    case POOL_HTTP_ETOOLARGE:
        return rq->out && rs->status >= 200 && rs->status <= 299
               ? "the server sent more bytes than announced"
               : "the answer is too large";
    case POOL_HTTP_ECALLBACK:
        return rs->write_errno
               ? apr_psprintf(p, "cannot write the answer: %s",
                              strerror(rs->write_errno))
               : "cannot read the file to send";
    case POOL_HTTP_EABORTED:
        return "stopped by a signal";
    default:
        return resp->error;
    }
}

/* One exchange; no redirect is followed (a 3xx is an answer like any
 * other).  rs->error is set when no answer arrived. */
static void http_do(agent_t *a, apr_pool_t *p, const http_req_t *rq,
                    http_resp_t *rs)
{
    pool_http_req_t *hr;

    memset(rs, 0, sizeof(*rs));
    rs->rq = rq;
    hr = pool_http_req_make(a->http, p, rq->method ? rq->method : "GET",
                            rq->url);
    if (rq->transfer) {
        hr->timeout.stall = apr_time_from_sec(STALL_TIME);
        hr->timeout.stall_bytes = 1;
        hr->on_progress = on_xfer;
    }
    else {
        hr->timeout.total = apr_time_from_sec(API_TIMEOUT);
        apr_table_setn(hr->headers, "Accept", "application/json");
    }
    if (rq->bearer) {
        apr_table_setn(hr->headers, "Authorization",
                       apr_pstrcat(p, "Bearer ", rq->bearer, NULL));
    }
    hr->user = rq->user;
    hr->password = rq->pass;
    if (rq->ctype) {
        apr_table_setn(hr->headers, "Content-Type", rq->ctype);
    }
    if (rq->in) {
        hr->read_body = from_file;
        hr->read_baton = (void *)rq;
        hr->body_len = rq->in_len;
    }
    else if (rq->body) {
        hr->body = rq->body;
        hr->body_len = (apr_off_t)rq->body_len;
    }
    if (rq->out) {
        hr->on_body = to_file;
        hr->body_baton = rs;
        hr->body_max = rq->out_max;
        hr->error_body_max = ERROR_BODY_MAX;
    }
    else {
        hr->body_max = API_BODY_MAX;
    }
    pool_http_perform(hr);
    rs->status = hr->resp.status;
    rs->body = hr->resp.body;
    rs->len = hr->resp.len;
    rs->error = http_error(p, rs, &hr->resp);
}

/* Why an exchange did not succeed: the transport error, or the status and
 * the problem's detail (the token endpoint's OAuth error_description). */
static const char *http_why(apr_pool_t *p, const http_resp_t *rs)
{
    json_t *j, *d;
    const char *detail = NULL;

    if (rs->error) {
        return rs->error;
    }
    if (rs->status >= 300 && rs->status <= 399) {
        return apr_psprintf(p, "HTTP %ld (redirects are not followed)",
                            rs->status);
    }
    j = rs->body ? json_loadb(rs->body, rs->len, 0, NULL) : NULL;
    d = json_is_object(j) ? json_object_get(j, "detail") : NULL;
    if (!json_is_string(d) && json_is_object(j)) {
        d = json_object_get(j, "error_description");
    }
    if (json_is_string(d)) {
        detail = clean_text(p, json_string_value(d),
                            strlen(json_string_value(d)), 300);
    }
    json_decref(j);
    return apr_psprintf(p, "HTTP %ld%s%s", rs->status, detail ? ": " : "",
                        detail ? detail : "");
}

/* A URL of the server: absolute as it is, a path resolved against --api. */
static const char *server_url(agent_t *a, apr_pool_t *p, const char *url)
{
    const char *out = pool_http_url_resolve(p, a->api, url);

    return out && !pool_url_check(p, out) ? out : NULL;
}

/* --------------------------------------------------------------- tokens */

/* Whether an answer is the token endpoint's own (a token, or an RFC 6749
 * error document). */
static int oauth_answer(const http_resp_t *rs)
{
    json_t *j = rs->body ? json_loadb(rs->body, rs->len, 0, NULL) : NULL;
    int yes = json_is_object(j) && (json_object_get(j, "error")
                                    || json_object_get(j, "access_token"));

    json_decref(j);
    return yes;
}

/* A token that is valid for a while yet (a new one when force). */
static const char *token_ensure(agent_t *a, int force)
{
    http_req_t rq;
    http_resp_t rs;
    apr_pool_t *p = a->token_p;
    json_t *j, *tok, *exp;
    apr_interval_time_t life, margin;

    if (a->token && !force && apr_time_now() < a->token_renew_at) {
        return NULL;
    }
    a->token = NULL;
    apr_pool_clear(p);
    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.url = apr_pstrcat(p, a->api, "/v1/token", NULL);
    rq.user = a->client_id;
    rq.pass = a->secret;
    rq.ctype = "application/x-www-form-urlencoded";
    rq.body = "grant_type=client_credentials";
    rq.body_len = strlen(rq.body);
    http_do(a, p, &rq, &rs);
    if (!rs.error && rs.status != 200 && !oauth_answer(&rs)) {
        /* not our token endpoint at all: --api is likely the server root */
        return apr_psprintf(p, "no token: HTTP %ld from %s, which is not a "
                            "mod_pool token endpoint: --api must be the API's "
                            "root, where <Location> has SetHandler pool "
                            "(e.g. http://HOST/pool)", rs.status, rq.url);
    }
    if (rs.error || rs.status != 200) {
        /* in token_p: used before the next renewal clears it */
        return apr_psprintf(p, "no token: %s", http_why(p, &rs));
    }
    j = json_loadb(rs.body, rs.len, 0, NULL);
    tok = json_is_object(j) ? json_object_get(j, "access_token") : NULL;
    exp = json_is_object(j) ? json_object_get(j, "expires_in") : NULL;
    if (!json_is_string(tok) || !json_is_integer(exp)
        || json_integer_value(exp) <= 0) {
        json_decref(j);
        return "no token: the answer has no access_token and expires_in";
    }
    a->token = apr_pstrdup(p, json_string_value(tok));
    life = apr_time_from_sec(json_integer_value(exp));
    json_decref(j);
    /* renewed a fifth of its life (5..60 s) before it expires */
    margin = life / 5;
    if (margin < apr_time_from_sec(5)) {
        margin = apr_time_from_sec(5);
    }
    if (margin > apr_time_from_sec(60)) {
        margin = apr_time_from_sec(60);
    }
    a->token_renew_at = apr_time_now() + life - margin;
    pool_log(POOL_LOG_DEBUG, "token renewed, valid for %ld s",
             (long)apr_time_sec(life));
    return NULL;
}

/* The client's role and pool, as its token names them: a client that
 * cannot process the pool is an error that says so, not a listing that is
 * silently empty.  NULL when fine or when no token came (the pass reports
 * that). */
static const char *check_client(agent_t *a, apr_pool_t *p)
{
    const char *dot1, *dot2, *role, *pool, *err = NULL;
    unsigned char *bin;
    apr_ssize_t n;
    json_t *j;

    if (token_ensure(a, 0) != NULL) {
        return NULL;
    }
    dot1 = strchr(a->token, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    n = dot2 ? pool_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1),
                                  &bin) : -1;
    j = n > 0 ? json_loadb((const char *)bin, (size_t)n, 0, NULL) : NULL;
    role = json_string_value(json_object_get(j, "role"));
    pool = json_string_value(json_object_get(j, "pool"));
    if (role && strcmp(role, "processor")) {
        err = apr_psprintf(p, "client %s has the role '%s': pool-processor "
                           "needs a client with the processor role (poolctl "
                           "client add %s NAME --role processor)",
                           a->client_id, role, pool ? pool : a->pool);
    }
    else if (pool && strcmp(pool, a->pool)) {
        err = apr_psprintf(p, "client %s belongs to pool '%s', not to '%s' "
                           "(--pool)", a->client_id, pool, a->pool);
    }
    json_decref(j);
    return err;
}

/* An API request with the token (a new token and a second try after a
 * 401).  path is below --api; json is a POST body or NULL. */
static void api(agent_t *a, apr_pool_t *p, const char *method,
                const char *path, const char *json, http_resp_t *rs)
{
    int tries;

    for (tries = 0; tries < 2; tries++) {
        http_req_t rq;
        const char *err = token_ensure(a, tries > 0);

        if (err) {
            memset(rs, 0, sizeof(*rs));
            rs->error = err;
            return;
        }
        memset(&rq, 0, sizeof(rq));
        rq.method = method;
        rq.url = apr_pstrcat(p, a->api, path, NULL);
        rq.bearer = a->token;
        if (json) {
            rq.body = json;
            rq.body_len = strlen(json);
            rq.ctype = "application/json";
        }
        else if (!strcmp(method, "POST")) {
            rq.body = "";
        }
        http_do(a, p, &rq, rs);
        if (rs->error || rs->status != 401) {
            return;
        }
    }
}

static const char *group_path(agent_t *a, apr_pool_t *p, const char *gid,
                              const char *rest)
{
    return apr_psprintf(p, "/v1/pools/%s/groups/%s%s", a->pool, gid, rest);
}

/* Best effort: a lost progress update only makes the status less precise. */
static void progress(agent_t *a, apr_pool_t *p, const char *gid, int percent,
                     const char *message)
{
    json_t *j = json_object();
    char *body;
    http_resp_t rs;

    json_object_set_new(j, "percent", json_integer(percent));
    json_object_set_new(j, "message",
                        json_text(clean_text(p, message, strlen(message),
                                             MESSAGE_MAX)));
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!body) {
        return;
    }
    api(a, p, "POST", group_path(a, p, gid, "/progress"), body, &rs);
    free(body);
    if (rs.error || rs.status != 200) {
        pool_log(POOL_LOG_INFO, "group %s: progress not recorded: %s", gid,
                 http_why(p, &rs));
    }
}

/* ------------------------------------------------------- files and dirs */

static apr_status_t rmtree(apr_pool_t *p, const char *path, int depth)
{
    apr_finfo_t fi;
    apr_dir_t *d;
    apr_status_t rv;

    rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_LINK, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (fi.filetype != APR_DIR) {
        return apr_file_remove(path, p);
    }
    if (depth > RMTREE_DEPTH) {
        return APR_EGENERAL;
    }
    if ((rv = apr_dir_open(&d, path, p)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) {
            continue;
        }
        rv = rmtree(p, apr_pstrcat(p, path, "/", fi.name, NULL), depth + 1);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    apr_dir_close(d);
    return rv == APR_SUCCESS ? apr_dir_remove(path, p) : rv;
}

/* "NNNN-name" with only [A-Za-z0-9._-] of name (others become '_'). */
static const char *local_name(apr_pool_t *p, int i, int width,
                              const char *name, const char *id)
{
    const char *src = name && *name ? name : id ? id : "file";
    char *s = clean_text(p, src, strlen(src), NAME_KEEP), *c;

    for (c = s; *c; c++) {
        if (!apr_isalnum(*c) && *c != '.' && *c != '_' && *c != '-') {
            *c = '_';
        }
    }
    return apr_psprintf(p, "%0*d-%s", width, i, s);
}

static apr_status_t write_file(apr_pool_t *p, const char *path,
                               const char *data, apr_size_t len)
{
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_EXCL, APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, data, len, NULL);
        if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = APR_EGENERAL;
        }
    }
    return rv;
}

static const char *errtext(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

/* Downloads one file of the manifest into path and checks it.  NULL on
 * success, else why not. */
static const char *download(agent_t *a, apr_pool_t *p, json_t *jf,
                            const char *path, apr_off_t *bytes)
{
    const char *url = json_string_value(json_object_get(jf, "url"));
    const char *sha = json_string_value(json_object_get(jf, "sha256"));
    json_t *jsize = json_object_get(jf, "size");
    unsigned char digest[32];
    unsigned int dlen = 0;
    http_req_t rq;
    http_resp_t rs;
    const char *why = NULL, *got;
    int fd;

    if (!url || !sha || !json_is_integer(jsize)
        || json_integer_value(jsize) < 0) {
        return "the manifest entry lacks url, size or sha256";
    }
    if (!(url = server_url(a, p, url))) {
        return "the manifest's url is not an http(s) URL";
    }
    memset(&rq, 0, sizeof(rq));
    rq.url = url;
    rq.transfer = 1;
    rq.out_max = (apr_off_t)json_integer_value(jsize);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0 || !(rq.out = fdopen(fd, "wb"))) {
        if (fd >= 0) {
            close(fd);
        }
        return apr_psprintf(p, "cannot create %s: %s", path, strerror(errno));
    }
    if (!(rq.md = EVP_MD_CTX_new())
        || EVP_DigestInit_ex(rq.md, EVP_sha256(), NULL) != 1) {
        why = "no SHA-256 from OpenSSL";
    }
    else {
        http_do(a, p, &rq, &rs);
        if (rs.error || rs.status != 200) {
            why = http_why(p, &rs);
        }
        else if (fflush(rq.out) != 0) {
            why = apr_psprintf(p, "cannot write %s: %s", path,
                               strerror(errno));
        }
        else if (rs.written != rq.out_max) {
            why = apr_psprintf(p, "got %" APR_OFF_T_FMT " bytes, the "
                               "manifest says %" APR_OFF_T_FMT, rs.written,
                               rq.out_max);
        }
        else if (EVP_DigestFinal_ex(rq.md, digest, &dlen) != 1
                 || strcasecmp((got = pool_hex(p, digest, 32)), sha)) {
            why = "its SHA-256 is not the manifest's";
        }
        *bytes += rs.written;
    }
    if (rq.md) {
        EVP_MD_CTX_free(rq.md);
    }
    if (fclose(rq.out) != 0 && !why) {
        why = apr_psprintf(p, "cannot write %s: %s", path, strerror(errno));
    }
    return why;
}

/* Streams the result file to the manifest's signed result_url. */
static const char *upload(agent_t *a, apr_pool_t *p, const char *result_url,
                          const char *path, apr_off_t *size)
{
    http_req_t rq;
    http_resp_t rs;
    struct stat st;
    const char *url, *why = NULL, *name;
    int fd;

    if (!(url = server_url(a, p, result_url))) {
        return "the manifest's result_url is not an http(s) URL";
    }
    name = pool_http_url_escape(p, a->result_name);
    url = apr_pstrcat(p, url, strchr(url, '?') ? "&" : "?", "name=",
                      name ? name : "result", NULL);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        return "POOL_OUTPUT is not a regular file";
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "PUT";
    rq.url = url;
    rq.transfer = 1;
    rq.ctype = a->result_type;
    rq.in_len = *size = (apr_off_t)st.st_size;
    if (!(rq.in = fdopen(fd, "rb"))) {
        close(fd);
        return apr_psprintf(p, "cannot read %s: %s", path, strerror(errno));
    }
    http_do(a, p, &rq, &rs);
    fclose(rq.in);
    if (rs.error || (rs.status != 200 && rs.status != 201)) {
        why = apr_psprintf(p, "result upload failed: %s", http_why(p, &rs));
    }
    return why;
}

/* ------------------------------------------------------------- command */

/* An executable for name: a path as it is (made absolute), else the first
 * match in PATH.  NULL when there is none. */
static const char *find_command(apr_pool_t *p, const char *name)
{
    char *path = NULL, *dirs, *dir, *state = NULL;

    if (strchr(name, '/')) {
        if (apr_filepath_merge(&path, NULL, name, APR_FILEPATH_NOTRELATIVE,
                               p) != APR_SUCCESS
            && apr_filepath_merge(&path, NULL, name, 0, p) != APR_SUCCESS) {
            return NULL;
        }
        return access(path, X_OK) == 0 ? path : NULL;
    }
    if (apr_env_get(&dirs, "PATH", p) != APR_SUCCESS) {
        dirs = apr_pstrdup(p, "/usr/local/bin:/usr/bin:/bin");
    }
    for (dir = apr_strtok(dirs, ":", &state); dir;
         dir = apr_strtok(NULL, ":", &state)) {
        path = apr_pstrcat(p, dir, "/", name, NULL);
        if (*dir == '/' && access(path, X_OK) == 0) {
            return path;
        }
    }
    return NULL;
}

/* The environment of COMMAND: ours without the secrets and old POOL_*
 * values of the group, plus the group's. */
static char **command_env(apr_pool_t *p, const char *const *add)
{
    static const char *const drop[] = {
        "POOL_CLIENT_SECRET=", "POOL_WEBHOOK_SECRET=", "POOL_GROUP=",
        "POOL_INPUT_DIR=", "POOL_MANIFEST=", "POOL_OUTPUT=", NULL
    };
    apr_array_header_t *env = apr_array_make(p, 64, sizeof(char *));
    char **e;
    int i;

    for (e = environ; e && *e; e++) {
        for (i = 0; drop[i] && strncmp(*e, drop[i], strlen(drop[i])); i++) {
        }
        if (!drop[i]) {
            APR_ARRAY_PUSH(env, char *) = *e;
        }
    }
    for (i = 0; add[i]; i++) {
        APR_ARRAY_PUSH(env, char *) = apr_pstrdup(p, add[i]);
    }
    APR_ARRAY_PUSH(env, char *) = NULL;
    return (char **)env->elts;
}

/* Runs COMMAND in dir; stdout and stderr go to dir/stdout.log and
 * dir/stderr.log.  Returns the wait status, or -1 with *why. */
static int run_command(agent_t *a, apr_pool_t *p, const char *dir,
                       char **argv, char **envp, const char **why)
{
    const char *out_log = apr_pstrcat(p, dir, "/stdout.log", NULL);
    const char *err_log = apr_pstrcat(p, dir, "/stderr.log", NULL);
    int fd_in, fd_out, fd_err, status = 0;
    apr_time_t killed_at = 0;
    pid_t pid, w;

    fd_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fd_out = open(out_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fd_err = open(err_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_in < 0 || fd_out < 0 || fd_err < 0) {
        *why = apr_psprintf(p, "cannot open the command's logs in %s: %s",
                            dir, strerror(errno));
        pid = -1;
    }
    else if ((pid = fork()) == 0) {
        /* the child: async-signal-safe calls only */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        setpgid(0, 0);
        if (dup2(fd_in, 0) < 0 || dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0
            || chdir(dir) != 0) {
            _exit(127);
        }
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
        closefrom(3);
#endif
#endif
        execve(a->exe, argv, envp);
        {
            static const char msg[] = "pool-processor: cannot execute the "
                                      "command\n";
            ssize_t ignored = write(2, msg, sizeof(msg) - 1);
            (void)ignored;
        }
        _exit(127);
    }
    else if (pid < 0) {
        *why = apr_psprintf(p, "cannot start the command: %s",
                            strerror(errno));
    }
    if (fd_in >= 0) {
        close(fd_in);
    }
    if (fd_out >= 0) {
        close(fd_out);
    }
    if (fd_err >= 0) {
        close(fd_err);
    }
    if (pid < 0) {
        return -1;
    }
    for (;;) {
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            return status;
        }
        if (w < 0 && errno != EINTR) {
            *why = apr_psprintf(p, "waiting for the command: %s",
                                strerror(errno));
            return -1;
        }
        if (stop_requested && !killed_at) {
            /* the command's whole process group */
            kill(-pid, SIGTERM);
            killed_at = apr_time_now();
        }
        else if (killed_at && apr_time_now() - killed_at
                              > apr_time_from_sec(KILL_GRACE)) {
            kill(-pid, SIGKILL);
        }
        apr_sleep(apr_time_from_msec(50));
    }
}

/* The last lines of the command's stderr (at most STDERR_TAIL bytes). */
static const char *stderr_tail(apr_pool_t *p, const char *dir)
{
    const char *path = apr_pstrcat(p, dir, "/stderr.log", NULL);
    char buf[STDERR_TAIL];
    apr_size_t n = sizeof(buf), skip = 0, i, len = 0;
    apr_off_t off = 0;
    char *out;
    apr_finfo_t fi;
    apr_file_t *f;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
        return "";
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS
        && fi.size > (apr_off_t)sizeof(buf)) {
        off = fi.size - (apr_off_t)sizeof(buf);
    }
    if (apr_file_seek(f, APR_SET, &off) != APR_SUCCESS
        || apr_file_read_full(f, buf, sizeof(buf), &n) != APR_SUCCESS) {
        /* APR_EOF with what was read: n is right */
    }
    apr_file_close(f);
    if (off > 0) {
        /* from the first whole line on */
        while (skip < n && buf[skip] != '\n') {
            skip++;
        }
        skip = skip < n ? skip + 1 : 0;
        while (skip < n && ((unsigned char)buf[skip] & 0xC0) == 0x80) {
            skip++;
        }
    }
    while (n > skip && apr_isspace(buf[n - 1])) {
        n--;
    }
    /* one line: the non-empty lines joined with " | ", its end kept */
    out = apr_palloc(p, 3 * (n - skip) + 1);
    for (i = skip; i < n; i++) {
        if (buf[i] == '\n') {
            if (len && (len < 3 || memcmp(out + len - 3, " | ", 3))) {
                memcpy(out + len, " | ", 3);
                len += 3;
            }
        }
        else if (buf[i] != '\r') {
            out[len++] = buf[i];
        }
    }
    if (len > STDERR_SHOWN) {
        skip = len - STDERR_SHOWN;
        while (skip < len && ((unsigned char)out[skip] & 0xC0) == 0x80) {
            skip++;
        }
    }
    else {
        skip = 0;
    }
    return clean_text(p, out + skip, len - skip, STDERR_SHOWN);
}

static const char *wait_text(apr_pool_t *p, int status)
{
    if (WIFEXITED(status)) {
        return apr_psprintf(p, "exited with status %d", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return apr_psprintf(p, "was killed by signal %d", WTERMSIG(status));
    }
    return "ended abnormally";
}

/* --------------------------------------------------------------- groups */

typedef enum { GROUP_SKIPPED, GROUP_DONE, GROUP_FAILED } group_outcome;

typedef struct {
    agent_t *a;
    apr_pool_t *p;
    const char *gid;
    const char *dir;
    int percent;
    apr_time_t started;
} group_t;

static group_outcome group_failed(group_t *g, const char *why)
{
    const char *msg = apr_pstrcat(g->p, "pool-processor failed: ", why, NULL);

    pool_log(POOL_LOG_ERR, "group %s: failed after %.1f s: %s", g->gid,
             (double)(apr_time_now() - g->started) / APR_USEC_PER_SEC,
             clean_text(g->p, why, strlen(why), 500));
    progress(g->a, g->p, g->gid, g->percent, msg);
    return GROUP_FAILED;
}

static group_outcome process_group(agent_t *a, const char *gid)
{
    group_t g;
    http_resp_t rs;
    json_t *m, *files, *jf;
    const char *result_url, *why, *in_dir, *out_path, *manifest_path;
    apr_array_header_t *argv;
    apr_off_t bytes = 0, rsize = 0;
    apr_status_t rv;
    size_t i, nfiles;
    int width, status;
    apr_time_t shown;
    char **envp;
    group_outcome out;

    memset(&g, 0, sizeof(g));
    g.a = a;
    g.gid = gid;
    g.started = apr_time_now();
    apr_pool_create(&g.p, a->p);

    api(a, g.p, "POST", group_path(a, g.p, gid, "/claim"), NULL, &rs);
    if (!rs.error && (rs.status == 409 || rs.status == 404)) {
        /* another processor has it, or it is no longer claimable */
        pool_log(POOL_LOG_INFO, "group %s: not claimed: %s", gid,
                 http_why(g.p, &rs));
        apr_pool_destroy(g.p);
        return GROUP_SKIPPED;
    }
    if (rs.error || rs.status != 200) {
        pool_log(POOL_LOG_ERR, "group %s: claim failed: %s", gid,
                 http_why(g.p, &rs));
        apr_pool_destroy(g.p);
        return GROUP_FAILED;
    }
    m = json_loadb(rs.body, rs.len, 0, NULL);
    files = json_is_object(m) ? json_object_get(m, "files") : NULL;
    result_url = json_is_object(m)
                 ? json_string_value(json_object_get(m, "result_url")) : NULL;
    result_url = result_url ? apr_pstrdup(g.p, result_url) : NULL;
    if (!json_is_array(files) || !result_url) {
        json_decref(m);
        out = group_failed(&g, "the claimed manifest has no files or no "
                               "result_url");
        apr_pool_destroy(g.p);
        return out;
    }
    nfiles = json_array_size(files);

    /* a fresh directory of the group */
    g.dir = apr_pstrcat(g.p, a->workdir, "/", gid, NULL);
    in_dir = apr_pstrcat(g.p, g.dir, "/in", NULL);
    out_path = apr_pstrcat(g.p, g.dir, "/out/result", NULL);
    manifest_path = apr_pstrcat(g.p, g.dir, "/manifest.json", NULL);
    if ((rv = rmtree(g.p, g.dir, 0)) != APR_SUCCESS
        || (rv = apr_dir_make(g.dir, APR_FPROT_OS_DEFAULT & 0700, g.p))
           != APR_SUCCESS
        || (rv = apr_dir_make(in_dir, APR_FPROT_OS_DEFAULT & 0700, g.p))
           != APR_SUCCESS
        || (rv = apr_dir_make(apr_pstrcat(g.p, g.dir, "/out", NULL),
                              APR_FPROT_OS_DEFAULT & 0700, g.p))
           != APR_SUCCESS
        || (rv = write_file(g.p, manifest_path, rs.body, rs.len))
           != APR_SUCCESS) {
        json_decref(m);
        out = group_failed(&g, apr_psprintf(g.p, "cannot prepare %s: %s",
                                            g.dir, errtext(g.p, rv)));
        apr_pool_destroy(g.p);
        return out;
    }

    /* COMMAND ARG... INPUT... */
    argv = apr_array_make(g.p, a->nargs + (int)nfiles + 1, sizeof(char *));
    for (i = 0; i < (size_t)a->nargs; i++) {
        APR_ARRAY_PUSH(argv, char *) = apr_pstrdup(g.p, a->args[i]);
    }
    width = nfiles >= 10000 ? (int)strlen(apr_itoa(g.p, (int)nfiles)) : 4;
    progress(a, g.p, gid, 0, apr_psprintf(g.p, "downloading %lu files",
                                          (unsigned long)nfiles));
    shown = apr_time_now();
    why = NULL;
    json_array_foreach(files, i, jf) {
        const char *fname = json_is_object(jf)
            ? json_string_value(json_object_get(jf, "name")) : NULL;
        const char *fid = json_is_object(jf)
            ? json_string_value(json_object_get(jf, "id")) : NULL;
        const char *path = apr_pstrcat(g.p, in_dir, "/",
                                       local_name(g.p, (int)i + 1, width,
                                                  fname, fid), NULL);

        why = json_is_object(jf) ? download(a, g.p, jf, path, &bytes)
                                 : "a manifest entry is not an object";
        if (why) {
            why = apr_psprintf(g.p, "download of file %lu of %lu (%s): %s",
                               (unsigned long)i + 1, (unsigned long)nfiles,
                               fname ? clean_text(g.p, fname, strlen(fname),
                                                  100) : "?", why);
            break;
        }
        APR_ARRAY_PUSH(argv, char *) = (char *)path;
        if (i + 1 < nfiles
            && apr_time_now() - shown >= apr_time_from_sec(2)) {
            shown = apr_time_now();
            progress(a, g.p, gid, (int)(40 * (i + 1) / nfiles),
                     apr_psprintf(g.p, "downloaded %lu of %lu files",
                                  (unsigned long)i + 1,
                                  (unsigned long)nfiles));
        }
    }
    json_decref(m);
    if (why) {
        out = group_failed(&g, why);
        goto done;
    }
    g.percent = 40;
    progress(a, g.p, gid, g.percent,
             apr_psprintf(g.p, "downloaded %lu files (%" APR_OFF_T_FMT
                          " bytes)", (unsigned long)nfiles, bytes));
    APR_ARRAY_PUSH(argv, char *) = NULL;
    {
        const char *add[] = {
            apr_pstrcat(g.p, "POOL_GROUP=", gid, NULL),
            apr_pstrcat(g.p, "POOL_INPUT_DIR=", in_dir, NULL),
            apr_pstrcat(g.p, "POOL_MANIFEST=", manifest_path, NULL),
            apr_pstrcat(g.p, "POOL_OUTPUT=", out_path, NULL),
            NULL
        };
        envp = command_env(g.p, add);
    }
    g.percent = 50;
    progress(a, g.p, gid, g.percent,
             apr_psprintf(g.p, "running %s", a->args[0]));
    status = run_command(a, g.p, g.dir, (char **)argv->elts, envp, &why);
    if (status < 0) {
        out = group_failed(&g, why);
        goto done;
    }
    if (stop_requested) {
        out = group_failed(&g, apr_psprintf(g.p, "stopped by signal %d while "
                                            "the command ran; the group is "
                                            "left for another attempt",
                                            (int)stop_requested));
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0
        || access(out_path, F_OK) != 0) {
        const char *tail = stderr_tail(g.p, g.dir);
        out = group_failed(&g, apr_psprintf(
            g.p, "the command %s%s%s%s", wait_text(g.p, status),
            WIFEXITED(status) && WEXITSTATUS(status) == 0
                ? " but wrote no result to POOL_OUTPUT" : "",
            *tail ? "; stderr: " : " (no stderr)", tail));
        goto done;
    }
    g.percent = 90;
    progress(a, g.p, gid, g.percent, "uploading the result");
    if ((why = upload(a, g.p, result_url, out_path, &rsize)) != NULL) {
        out = group_failed(&g, why);
        goto done;
    }
    pool_log(POOL_LOG_NOTICE, "group %s: done in %.1f s: %lu files "
             "(%" APR_OFF_T_FMT " bytes) in, result %" APR_OFF_T_FMT " bytes",
             gid, (double)(apr_time_now() - g.started) / APR_USEC_PER_SEC,
             (unsigned long)nfiles, bytes, rsize);
    out = GROUP_DONE;

done:
    if (!a->keep && (rv = rmtree(g.p, g.dir, 0)) != APR_SUCCESS) {
        pool_log(POOL_LOG_WARN, "cannot remove %s: %s", g.dir,
                 errtext(g.p, rv));
    }
    apr_pool_destroy(g.p);
    return out;
}

/* The ids of the pool's triggered groups, every page of the listing. */
static const char *list_triggered(agent_t *a, apr_pool_t *p,
                                  apr_array_header_t **gids)
{
    json_int_t after = -1;
    int pages;

    *gids = apr_array_make(p, 16, sizeof(const char *));
    for (pages = 0; pages < LIST_PAGES_MAX; pages++) {
        http_resp_t rs;
        json_t *j, *groups, *g, *next;
        size_t i;

        /* (apr's formatter has no %lld: JSON_INTEGER_FORMAT will not do) */
        const char *page = after < 0 ? "" : apr_psprintf(
            p, "&after=%" APR_INT64_T_FMT, (apr_int64_t)after);

        api(a, p, "GET", apr_psprintf(p, "/v1/pools/%s/groups?state=triggered"
                                      "&limit=100%s", a->pool, page),
            NULL, &rs);
        if (rs.error || rs.status != 200) {
            return apr_psprintf(p, "listing the groups: %s", http_why(p, &rs));
        }
        j = json_loadb(rs.body, rs.len, 0, NULL);
        groups = json_is_object(j) ? json_object_get(j, "groups") : NULL;
        if (!json_is_array(groups)) {
            json_decref(j);
            return "listing the groups: the answer has no \"groups\"";
        }
        json_array_foreach(groups, i, g) {
            const char *id = json_string_value(json_object_get(g, "id"));
            if (id && pool_uuid_valid(id)) {
                APR_ARRAY_PUSH(*gids, const char *) = apr_pstrdup(p, id);
            }
        }
        next = json_object_get(j, "next");
        if (!json_is_integer(next) || json_integer_value(next) <= after) {
            json_decref(j);
            return NULL;
        }
        after = json_integer_value(next);
        json_decref(j);
    }
    return NULL;
}

/* ----------------------------------------------------- webhook listener */

typedef struct {
    apr_socket_t *sock;
    const char *secret;
    apr_thread_mutex_t *mu;
    char queue[QUEUE_MAX][40];  /* group ids, oldest first */
    int nq;
} listener_t;

/* 1 when queued (or already queued), 0 when the queue is full. */
static int queue_push(listener_t *l, const char *gid)
{
    int i, ok = 1;

    apr_thread_mutex_lock(l->mu);
    for (i = 0; i < l->nq && strcmp(l->queue[i], gid); i++) {
    }
    if (i == l->nq) {
        if (l->nq < QUEUE_MAX) {
            apr_cpystrn(l->queue[l->nq++], gid, sizeof(l->queue[0]));
        }
        else {
            ok = 0;
        }
    }
    apr_thread_mutex_unlock(l->mu);
    return ok;
}

static const char *queue_pop(listener_t *l, apr_pool_t *p)
{
    const char *gid = NULL;

    if (!l) {
        return NULL;
    }
    apr_thread_mutex_lock(l->mu);
    if (l->nq) {
        gid = apr_pstrdup(p, l->queue[0]);
        memmove(l->queue[0], l->queue[1], sizeof(l->queue[0]) * --l->nq);
    }
    apr_thread_mutex_unlock(l->mu);
    return gid;
}

static void reply(apr_socket_t *c, apr_pool_t *p, int status,
                  const char *text)
{
    const char *reason = status == 202 ? "Accepted"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 405 ? "Method Not Allowed"
                         : status == 411 ? "Length Required"
                         : status == 413 ? "Content Too Large"
                         : status == 431 ? "Request Header Fields Too Large"
                         : "Service Unavailable";
    const char *msg = apr_psprintf(
        p, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: %lu\r\nConnection: close\r\n%s\r\n%s\n", status,
        reason, (unsigned long)strlen(text) + 1,
        status == 405 ? "Allow: POST\r\n" : "", text);
    apr_size_t off = 0, len = strlen(msg);

    while (off < len) {
        apr_size_t n = len - off;
        if (apr_socket_send(c, msg + off, &n) != APR_SUCCESS && !n) {
            break;
        }
        off += n;
    }
}

/* Reads into buf[have..max) once; 0 when nothing came (closed, timed out,
 * past the deadline). */
static apr_size_t recv_some(apr_socket_t *c, char *buf, apr_size_t have,
                            apr_size_t max, apr_time_t deadline)
{
    apr_size_t n = max - have;

    if (!n || apr_time_now() > deadline) {
        return 0;
    }
    if (apr_socket_recv(c, buf + have, &n) != APR_SUCCESS && !n) {
        return 0;
    }
    return n;
}

/* Length of the header block (through the empty line), or 0. */
static apr_size_t header_end(const char *buf, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i + 1 < n; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n') {
            return i + 2;
        }
        if (buf[i] == '\n' && buf[i + 1] == '\r' && i + 2 < n
            && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

typedef struct {
    const char *content_length;
    const char *id;
    const char *timestamp;
    const char *signature;
    int chunked;
} hook_headers_t;

/* Parses the request line and headers; 0 or the status to answer. */
static int parse_head(apr_pool_t *p, char *head, hook_headers_t *hh,
                      const char **why)
{
    char *line, *state = NULL, *sp1, *sp2;
    int first = 1;

    memset(hh, 0, sizeof(*hh));
    for (line = apr_strtok(head, "\n", &state); line;
         line = apr_strtok(NULL, "\n", &state)) {
        apr_size_t n = strlen(line);
        char *colon, *v, *e;
        const char **slot = NULL;

        if (n && line[n - 1] == '\r') {
            line[--n] = '\0';
        }
        if (!n) {
            break;
        }
        if (first) {
            first = 0;
            sp1 = strchr(line, ' ');
            sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
            if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
                *why = "malformed request line";
                return 400;
            }
            *sp1 = '\0';
            if (strcmp(line, "POST")) {
                *why = "only POST is accepted";
                return 405;
            }
            continue;
        }
        if (*line == ' ' || *line == '\t' || !(colon = strchr(line, ':'))
            || colon == line) {
            *why = "malformed header line";
            return 400;
        }
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {
        }
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--) {
        }
        *e = '\0';
        if (!strcasecmp(line, "content-length")) {
            slot = &hh->content_length;
        }
        else if (!strcasecmp(line, "transfer-encoding")) {
            hh->chunked = 1;
        }
        else if (!strcasecmp(line, "webhook-id")) {
            slot = &hh->id;
        }
        else if (!strcasecmp(line, "webhook-timestamp")) {
            slot = &hh->timestamp;
        }
        else if (!strcasecmp(line, "webhook-signature")) {
            slot = &hh->signature;
        }
        if (slot && *slot) {
            *why = apr_psprintf(p, "repeated header %s", line);
            return 400;
        }
        if (slot) {
            *slot = v;
        }
    }
    if (first) {
        *why = "no request line";
        return 400;
    }
    if (hh->chunked || !hh->content_length) {
        *why = "a Content-Length is required (no chunked bodies)";
        return 411;
    }
    return 0;
}

/* One request on connection c: answered and done. */
static void serve(listener_t *l, apr_socket_t *c, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(LISTEN_DEADLINE);
    char *buf = apr_palloc(p, LISTEN_HEADERS_MAX);
    apr_size_t have = 0, hlen, got, blen;
    const char *why = NULL, *ip = "?", *type, *gid;
    hook_headers_t hh;
    apr_sockaddr_t *sa;
    char *body, *ip_s;
    apr_int64_t clen;
    json_t *j, *data;
    int status;

    if (apr_socket_addr_get(&sa, APR_REMOTE, c) == APR_SUCCESS
        && apr_sockaddr_ip_get(&ip_s, sa) == APR_SUCCESS) {
        ip = ip_s;
    }
    apr_socket_timeout_set(c, apr_time_from_sec(LISTEN_READ_TIMEOUT));
    while (!(hlen = header_end(buf, have))) {
        if (have == LISTEN_HEADERS_MAX) {
            reply(c, p, 431, "request headers larger than 16 KiB");
            return;
        }
        if (!(got = recv_some(c, buf, have, LISTEN_HEADERS_MAX, deadline))) {
            return;
        }
        have += got;
    }
    if (memchr(buf, '\0', hlen)) {
        reply(c, p, 400, "NUL in the request headers");
        return;
    }
    if ((status = parse_head(p, apr_pstrmemdup(p, buf, hlen), &hh, &why))) {
        reply(c, p, status, why);
        return;
    }
    if (!*hh.content_length || strlen(hh.content_length) > 12
        || strspn(hh.content_length, "0123456789")
           != strlen(hh.content_length)) {
        reply(c, p, 400, "malformed Content-Length");
        return;
    }
    if ((clen = apr_atoi64(hh.content_length)) > LISTEN_BODY_MAX) {
        reply(c, p, 413, "the body is larger than 1 MiB");
        return;
    }
    body = apr_palloc(p, (apr_size_t)clen + 1);
    blen = have - hlen < (apr_size_t)clen ? have - hlen : (apr_size_t)clen;
    memcpy(body, buf + hlen, blen);
    while (blen < (apr_size_t)clen) {
        if (!(got = recv_some(c, body, blen, (apr_size_t)clen, deadline))) {
            return;
        }
        blen += got;
    }
    body[blen] = '\0';
    if (!pool_webhook_verify(p, l->secret, hh.id, hh.timestamp, body, blen,
                             hh.signature, apr_time_sec(apr_time_now()),
                             WEBHOOK_TOLERANCE)) {
        pool_log(POOL_LOG_WARN, "webhook from %s refused: bad or missing "
                 "signature, or a timestamp more than %d s away", ip,
                 WEBHOOK_TOLERANCE);
        reply(c, p, 401, "bad or missing webhook signature");
        return;
    }
    j = json_loadb(body, blen, 0, NULL);
    type = json_is_object(j) ? json_string_value(json_object_get(j, "type"))
                             : NULL;
    data = json_is_object(j) ? json_object_get(j, "data") : NULL;
    gid = json_is_object(data) ? json_string_value(json_object_get(data, "id"))
                               : NULL;
    if (!type) {
        reply(c, p, 400, "not a webhook envelope");
    }
    else if (strcmp(type, "group.ready")) {
        pool_log(POOL_LOG_INFO, "webhook %s: %s ignored",
                 clean_text(p, hh.id, strlen(hh.id), 100),
                 clean_text(p, type, strlen(type), 100));
        reply(c, p, 202, "ignored");
    }
    else if (!gid || !pool_uuid_valid(gid)) {
        reply(c, p, 400, "group.ready without a group id in data.id");
    }
    else if (!queue_push(l, gid)) {
        reply(c, p, 503, "too many groups queued");
    }
    else {
        pool_log(POOL_LOG_INFO, "webhook %s: group.ready for group %s",
                 clean_text(p, hh.id, strlen(hh.id), 100), gid);
        reply(c, p, 202, "queued");
    }
    json_decref(j);
}

static void *APR_THREAD_FUNC listener_main(apr_thread_t *t, void *data)
{
    listener_t *l = data;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    while (!stop_requested) {
        apr_socket_t *c;
        apr_pollfd_t pfd;
        apr_int32_t ready = 0;
        apr_status_t rv;

        apr_pool_clear(p);
        /* apr_socket_accept() does not wait for the socket's timeout: on
         * the non-blocking socket that a timeout makes it fails at once
         * with EAGAIN when no connection is pending.  Wait here instead,
         * half a second at most, to see whether to stop. */
        memset(&pfd, 0, sizeof(pfd));
        pfd.p = p;
        pfd.desc_type = APR_POLL_SOCKET;
        pfd.reqevents = APR_POLLIN;
        pfd.desc.s = l->sock;
        rv = apr_poll(&pfd, 1, &ready, apr_time_from_msec(500));
        if (rv == APR_SUCCESS && ready > 0) {
            rv = apr_socket_accept(&c, l->sock, p);
        }
        else if (rv == APR_SUCCESS) {
            continue;
        }
        /* (EAGAIN, ECONNABORTED: the connection went away before the
         * accept) */
        if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EINTR(rv)
            || APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_ECONNABORTED(rv)) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            pool_log(POOL_LOG_WARN, "accept: %s", errtext(p, rv));
            apr_sleep(apr_time_from_msec(200));
            continue;
        }
        serve(l, c, p);
        /* let the peer read the answer before the close */
        apr_socket_shutdown(c, APR_SHUTDOWN_WRITE);
        apr_socket_timeout_set(c, apr_time_from_msec(500));
        {
            char drain[4096];
            apr_size_t n = sizeof(drain), total = 0;
            while (total < 64 * 1024
                   && apr_socket_recv(c, drain, &n) == APR_SUCCESS && n) {
                total += n;
                n = sizeof(drain);
            }
        }
        apr_socket_close(c);
    }
    apr_pool_destroy(p);
    /* a plain return, not apr_thread_exit(): ASan (gcc 12) reports its own
     * sigaltstack clean-up when a thread ends through pthread_exit() */
    return NULL;
}

static const char *listener_start(apr_pool_t *p, const char *addr,
                                  listener_t *l)
{
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    apr_sockaddr_t *sa;
    apr_status_t rv;

    if (apr_parse_addr_port(&host, &scope, &port, addr, p) != APR_SUCCESS
        || !host || !port || scope) {
        return apr_psprintf(p, "--listen takes HOST:PORT, not '%s'", addr);
    }
    if ((rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, p))
            != APR_SUCCESS
        || (rv = apr_socket_create(&l->sock, sa->family, SOCK_STREAM,
                                   APR_PROTO_TCP, p)) != APR_SUCCESS
        || (rv = apr_socket_opt_set(l->sock, APR_SO_REUSEADDR, 1))
            != APR_SUCCESS
        || (rv = apr_socket_bind(l->sock, sa)) != APR_SUCCESS
        || (rv = apr_socket_listen(l->sock, 64)) != APR_SUCCESS) {
        return apr_psprintf(p, "cannot listen on %s: %s", addr,
                            errtext(p, rv));
    }
    /* non-blocking (a timeout): an accept after the connection went away
     * must not block; the listener polls twice a second to see whether to
     * stop */
    apr_socket_timeout_set(l->sock, apr_time_from_msec(500));
    return NULL;
}

/* ----------------------------------------------------------------- main */

/* A secret from a file (one line; surrounding whitespace dropped) or,
 * without a file, from the environment variable env.  NULL with *err. */
static const char *read_secret(apr_pool_t *p, const char *path,
                               const char *env, const char **err)
{
    char *buf, *s, *e;
    apr_size_t n = SECRET_MAX;
    apr_file_t *f;
    apr_status_t rv;

    *err = NULL;
    if (!path) {
        if (apr_env_get(&s, env, p) != APR_SUCCESS || !*s) {
            return NULL;
        }
        buf = apr_pstrdup(p, s);
    }
    else {
        if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p))
            != APR_SUCCESS) {
            *err = apr_psprintf(p, "cannot read %s: %s", path,
                                errtext(p, rv));
            return NULL;
        }
        buf = apr_palloc(p, SECRET_MAX + 1);
        rv = apr_file_read_full(f, buf, SECRET_MAX, &n);
        apr_file_close(f);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
            *err = apr_psprintf(p, "cannot read %s: %s", path,
                                errtext(p, rv));
            return NULL;
        }
        if (n == SECRET_MAX) {
            *err = apr_psprintf(p, "%s is too long for a secret", path);
            return NULL;
        }
        buf[n] = '\0';
    }
    for (s = buf; apr_isspace(*s); s++) {
    }
    for (e = s + strlen(s); e > s && apr_isspace(e[-1]); e--) {
    }
    *e = '\0';
    if (!*s || strpbrk(s, "\r\n")) {
        *err = apr_psprintf(p, "%s holds no secret (one line expected)",
                            path ? path : env);
        return NULL;
    }
    return s;
}

/* The default workdir, or --workdir: made absolute and created (0700).
 * The default one, in a shared temporary directory, must be ours. */
static const char *prepare_workdir(apr_pool_t *p, const char *given,
                                   const char *pool, const char **dir)
{
    const char *tmp = NULL;
    char *abs;
    struct stat st;
    apr_status_t rv;

    if (!given) {
        if (apr_temp_dir_get(&tmp, p) != APR_SUCCESS) {
            tmp = "/tmp";
        }
        given = apr_psprintf(p, "%s/pool-processor-%lu-%s", tmp,
                             (unsigned long)geteuid(), pool);
    }
    if ((rv = apr_filepath_merge(&abs, NULL, given, 0, p)) != APR_SUCCESS) {
        return apr_psprintf(p, "bad --workdir %s: %s", given, errtext(p, rv));
    }
    rv = apr_dir_make_recursive(abs, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return apr_psprintf(p, "cannot create %s: %s", abs, errtext(p, rv));
    }
    if (lstat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return apr_psprintf(p, "%s is not a directory", abs);
    }
    if (tmp && (st.st_uid != geteuid() || (st.st_mode & 077))) {
        return apr_psprintf(p, "%s belongs to another user or is open to "
                            "others: remove it or give --workdir", abs);
    }
    *dir = abs;
    return NULL;
}

typedef struct {
    const char *name;
    const char **value;         /* an option with a value */
    int *flag;                  /* a flag */
} opt_t;

int main(int argc, const char *const *argv)
{
    agent_t agent, *a = &agent;
    listener_t *l = NULL;
    apr_thread_t *thread = NULL;
    apr_pool_t *pass_p;
    const char *api_url = NULL, *pool = NULL, *client_id = NULL,
        *secret_file = NULL, *workdir = NULL, *every_s = NULL,
        *listen_addr = NULL, *hook_file = NULL, *result_name = "result",
        *result_type = "application/octet-stream", *err, *hook_secret = NULL;
    int once = 0, keep = 0, help = 0, version = 0, i, failures = 0, handled = 0;
    long every = 0;
    const opt_t opts[] = {
        { "api", &api_url, NULL },
        { "pool", &pool, NULL },
        { "client-id", &client_id, NULL },
        { "secret-file", &secret_file, NULL },
        { "workdir", &workdir, NULL },
        { "every", &every_s, NULL },
        { "listen", &listen_addr, NULL },
        { "webhook-secret-file", &hook_file, NULL },
        { "result-name", &result_name, NULL },
        { "result-type", &result_type, NULL },
        { "once", NULL, &once },
        { "keep", NULL, &keep },
        { "help", NULL, &help },
        { "version", NULL, &version },
        { NULL, NULL, NULL }
    };
    struct sigaction sa;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fputs("pool-processor: cannot initialise APR\n", stderr);
        return PP_FAIL;
    }
    atexit(apr_terminate);
    memset(a, 0, sizeof(*a));
    apr_pool_create(&a->p, NULL);
    pool_log_set(log_stderr, NULL);

    /* options, then "--" (or the first non-option) and the command */
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *name;
        const opt_t *o;

        if (!strcmp(arg, "--")) {
            i++;
            break;
        }
        if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            verbosity++;
            continue;
        }
        if (!strcmp(arg, "-vv")) {
            verbosity += 2;
            continue;
        }
        if (!strcmp(arg, "-h")) {
            help = 1;
            continue;
        }
        if (strncmp(arg, "--", 2)) {
            if (*arg == '-') {
                return usage_error("unknown option %s", arg);
            }
            break;
        }
        eq = strchr(arg + 2, '=');
        name = eq ? apr_pstrmemdup(a->p, arg + 2, (apr_size_t)(eq - arg - 2))
                  : arg + 2;
        for (o = opts; o->name && strcmp(o->name, name); o++) {
        }
        if (!o->name) {
            return usage_error("unknown option --%s", name);
        }
        if (o->flag) {
            if (eq) {
                return usage_error("--%s takes no value", name);
            }
            *o->flag = 1;
        }
        else if (eq) {
            *o->value = eq + 1;
        }
        else if (i + 1 < argc) {
            *o->value = argv[++i];
        }
        else {
            return usage_error("--%s needs a value", name);
        }
    }
    if (help) {
        usage(stdout);
        return PP_OK;
    }
    if (version) {
        printf("pool-processor %s\n", PACKAGE_VERSION);
        return PP_OK;
    }
    if (!api_url || !pool || !client_id) {
        return usage_error("--api, --pool and --client-id are required");
    }
    if (i >= argc) {
        return usage_error("no COMMAND given (after --)");
    }
    if ((err = pool_url_check(a->p, api_url)) != NULL) {
        return usage_error("--api: %s", err);
    }
    if ((err = pool_ident_check(pool)) != NULL) {
        return usage_error("--pool: %s", err);
    }
    if (!*client_id || strlen(client_id) > 255
        || strcspn(client_id, ": \t\r\n") != strlen(client_id)) {
        return usage_error("--client-id: not a client id");
    }
    if (once && every_s) {
        return usage_error("--once and --every exclude each other");
    }
    if (listen_addr && once) {
        return usage_error("--listen runs until stopped: use --every, not "
                           "--once");
    }
    if (every_s && pool_parse_int(every_s, 1, 86400, &every) != 0) {
        return usage_error("--every takes seconds (1..86400)");
    }
    if (listen_addr && !every) {
        every = 60;
    }
    if (hook_file && !listen_addr) {
        return usage_error("--webhook-secret-file goes with --listen");
    }
    if ((err = pool_name_check(result_name)) != NULL) {
        return usage_error("--result-name: %s", err);
    }
    if ((err = pool_ctype_check(result_type)) != NULL) {
        return usage_error("--result-type: %s", err);
    }
    a->secret = read_secret(a->p, secret_file, "POOL_CLIENT_SECRET", &err);
    if (!a->secret) {
        return usage_error("%s", err ? err : "no secret: give --secret-file "
                           "or set POOL_CLIENT_SECRET");
    }
    if (listen_addr) {
        const unsigned char *key;
        apr_size_t keylen;

        hook_secret = read_secret(a->p, hook_file, "POOL_WEBHOOK_SECRET",
                                  &err);
        if (!hook_secret) {
            return usage_error("%s", err ? err : "--listen needs the pool's "
                               "processor secret: give --webhook-secret-file "
                               "or set POOL_WEBHOOK_SECRET");
        }
        if ((err = pool_webhook_secret_key(a->p, hook_secret, &key, &keylen))
            != NULL) {
            return usage_error("webhook secret: %s", err);
        }
    }
    a->args = argv + i;
    a->nargs = argc - i;
    if (!(a->exe = find_command(a->p, a->args[0]))) {
        return usage_error("COMMAND %s: not found or not executable",
                           a->args[0]);
    }
    if ((err = prepare_workdir(a->p, workdir, pool, &a->workdir)) != NULL) {
        return usage_error("%s", err);
    }
    a->api = apr_pstrdup(a->p, api_url);
    for (i = (int)strlen(a->api); i > 0 && a->api[i - 1] == '/'; i--) {
        ((char *)a->api)[i - 1] = '\0';
    }
    a->pool = pool;
    a->client_id = client_id;
    a->result_name = result_name;
    a->result_type = result_type;
    a->keep = keep;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pool_http_global_init() != APR_SUCCESS
        || pool_http_create(&a->http, a->p, "pool-processor/" PACKAGE_VERSION,
                            NULL) != APR_SUCCESS) {
        pool_log(POOL_LOG_ERR, "cannot initialise libcurl");
        return PP_FAIL;
    }
    apr_pool_create(&a->token_p, a->p);
    apr_pool_create(&pass_p, a->p);

    if (listen_addr) {
        l = apr_pcalloc(a->p, sizeof(*l));
        l->secret = hook_secret;
        if ((err = listener_start(a->p, listen_addr, l)) != NULL) {
            pool_log(POOL_LOG_ERR, "%s", err);
            return PP_FAIL;
        }
        if (apr_thread_mutex_create(&l->mu, APR_THREAD_MUTEX_DEFAULT, a->p)
                != APR_SUCCESS
            || apr_thread_create(&thread, NULL, listener_main, l, a->p)
                != APR_SUCCESS) {
            pool_log(POOL_LOG_ERR, "cannot start the listener thread");
            return PP_FAIL;
        }
        pool_log(POOL_LOG_NOTICE, "listening for group.ready webhooks on %s",
                 listen_addr);
    }
    pool_log(POOL_LOG_INFO, "pool %s at %s, work in %s%s", a->pool, a->api,
             a->workdir, every ? apr_psprintf(a->p, ", a pass every %ld s",
                                              every) : "");
    if ((err = check_client(a, pass_p)) != NULL) {
        pool_log(POOL_LOG_ERR, "%s", err);
        stop_requested = SIGTERM;
        every = 0;
        failures++;
        goto out;
    }

    do {
        apr_time_t started = apr_time_now();
        apr_array_header_t *gids;
        const char *gid;

        apr_pool_clear(pass_p);
        if ((err = list_triggered(a, pass_p, &gids)) != NULL) {
            pool_log(POOL_LOG_ERR, "%s", err);
            failures++;
            gids = apr_array_make(pass_p, 1, sizeof(const char *));
        }
        pool_log(POOL_LOG_DEBUG, "%d triggered groups", gids->nelts);
        for (i = 0; !stop_requested; i++) {
            /* webhooks first: they name groups that are ready now */
            if (!(gid = queue_pop(l, pass_p))) {
                if (i >= gids->nelts) {
                    break;
                }
                gid = APR_ARRAY_IDX(gids, i, const char *);
            }
            else {
                i--;
            }
            if (process_group(a, gid) == GROUP_FAILED) {
                failures++;
            }
            handled++;
        }
        /* one pass by hand says that it ran; cron (no terminal) and loops
         * stay quiet, -v says it anyway */
        if (!every && !l && !handled && !failures && !stop_requested) {
            pool_log(isatty(STDERR_FILENO) ? POOL_LOG_NOTICE : POOL_LOG_INFO,
                     "nothing to do: no triggered group in pool %s", a->pool);
        }
        while (every && !stop_requested
               && apr_time_now() - started < apr_time_from_sec(every)) {
            if ((gid = queue_pop(l, pass_p)) != NULL) {
                if (process_group(a, gid) == GROUP_FAILED) {
                    failures++;
                }
            }
            else {
                apr_sleep(apr_time_from_msec(200));
            }
        }
    } while (every && !stop_requested);

out:
    if (thread) {
        apr_status_t trv;
        stop_requested = stop_requested ? stop_requested : SIGTERM;
        apr_thread_join(&trv, thread);
    }
    apr_pool_destroy(a->p);     /* the client's connections with it */
    pool_http_global_cleanup();
    if (every) {
        return PP_OK;
    }
    return failures ? PP_FAIL : PP_OK;
}
