/* WebDAV store: a remote WebDAV collection (PoolStorage http(s)://...), so
 * that many httpd nodes share one store.  pool_http (libcurl) moves the
 * bytes (always streamed: no path holds a whole object in memory),
 * libxml2's push parser reads PROPFIND answers as they arrive.
 *
 * Layout under the collection (private; docs/storage.md):
 *   staging/<uuid>                   bytes arriving: a streaming PUT
 *   objects/<pool>/<xx>/<id>         files (xx: the first two hex of id)
 *   results/<xx>/<id>                results
 *   uploads/<id>/<offset>            tus data: one immutable part per
 *                                    written segment, named by its start
 *                                    offset (20 digits, zero-padded)
 *   lost+found/<pool>/<id>           objects that had no row (poolctl
 *   lost+found/.results/<id>         sweep moved them aside)
 * check() creates the fixed collections; objects/<pool>/ and its shards
 * are made (MKCOL) the first time this process stages into them.
 *
 * Writing: spool_open/spool_write stream the body to a PUT of a staging
 * name (chunked, from push-style writes: pool_http_push_write gathers
 * PUT_BUFFER bytes, hands them to libcurl and drives the transfer until
 * libcurl has taken them), hashing on the way.  spool_stage finishes the
 * PUT, MOVEs it with "Overwrite: F" to the object's name and checks the
 * size there (the SHA-256 is ours; an ETag is never taken for a hash).
 * A MOVE retried after a lost answer finds the source gone or the target
 * present: a target of the right size is success, so retries are
 * idempotent.  An object is final once moved: nothing sees the store's
 * names, so reveal does nothing, and committed_walk reports every object
 * as revealed (staged = 0).  Times are the later of getlastmodified and
 * creationdate (on mod_dav_fs the latter is the inode's ctime, which the
 * MOVE renews, as the directory store's walk uses ctime).
 *
 * Resumable uploads keep their data on the store, so an upload resumes on
 * any node.  WebDAV has no append: every segment written (upload_write up
 * to upload_sync) is a PUT of a new part; upload_open lists the parts and
 * cuts off what lies beyond the offset the database recorded (parts wholly
 * beyond are deleted; a part straddling it is replaced by its prefix: a GET
 * of the prefix streamed into a PUT of <offset>.cut, MOVEd over the part).
 * upload_stage concatenates the parts into a staging PUT (streamed GETs;
 * this re-reads the data over the network) and MOVEs it into place; a
 * single part is COPYed on the server instead.  No local exclusion
 * (APR_EBUSY) is done: two writers of one upload are ordered by the
 * database lease on every node alike, and a part is invisible until its
 * PUT completed.
 *
 * Errors: connection failures, timeouts, 423 and 5xx are
 * POOL_STORE_UNAVAILABLE (idempotent requests are retried first, a few
 * times), 507 POOL_STORE_FULL, 404 APR_ENOENT, 401/403 APR_EACCES (logged
 * with the store and the status).
 *
 * Threads: the store is shared by every thread of an httpd child.  Its
 * only mutable state (idle clients, the collections known to exist) is
 * behind a mutex; a request takes an idle pool_http client (with its open
 * connection; each in an apr pool of its own) or makes one, uses it alone,
 * and gives it back.  The clients are made for the administrator's own
 * server: no outbound network policy (the store is often on loopback or a
 * private network), no proxy from the environment, no redirects.  Clients
 * made before a fork are never used after it (they are the parent's
 * connections): check() closes them, and a pid check drops any left. */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/types.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_date.h>
#include <apr_escape.h>
#include <apr_file_io.h>
#include <apr_time.h>
#if APR_HAS_THREADS
#include <apr_thread_mutex.h>
#endif
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <openssl/evp.h>

#include "pool_store_impl.h"
#include "pool_http.h"
#include "pool_log.h"
#include "pool_name.h"
#include "pool_util.h"

#define STAGING_COLL    "staging/"
#define OBJECTS_COLL    "objects/"
#define RESULTS_COLL    "results/"
#define UPLOADS_COLL    "uploads/"
#define LOST_COLL       "lost+found/"
#define LOST_RESULTS    ".results"

#define PUT_BUFFER      (128 * 1024)    /* bytes gathered before sending */
#define GET_BUFFER      (128 * 1024)    /* bytes received per callback:
                                         * fewer, larger writes downstream */
#define CONNECT_TIMEOUT 10L             /* seconds */
#define LOW_SPEED_TIME  60L             /* below 1 byte/s this long: dead */
#define SHORT_TIMEOUT   120L            /* requests that move no body */
#define RETRIES         3               /* attempts of an idempotent request */
#define GET_ATTEMPTS    8               /* a GET resumed after progress */
#define CONN_CACHE_MAX  32              /* idle connections kept */
#define CONN_MAX_IDLE   4L              /* seconds: Apache's KeepAliveTimeout
                                         * is 5 by default */
#define KEEPALIVE       60L             /* seconds idle before TCP keepalive
                                         * probes (libcurl's default) */
#define HEADERS_MAX     8               /* request headers of one request */
#define ERROR_MAX       256             /* text of a failure kept */
#define KNOWN_MAX       1024            /* collections remembered */
#define PART_DIGITS     20
#define TEXT_MAX        2048            /* text of one multistatus element */

static const char propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/>"
    "<D:getcontentlength/><D:getlastmodified/><D:creationdate/>"
    "</D:prop></D:propfind>\n";

/* ------------------------------------------------------------ the store */

/* A client of pool_http, taken by one thread at a time.  Its pool is its
 * own (unmanaged: no parent, whose allocator other threads use), so that
 * an idle client can be kept, and dropped, by any thread. */
typedef struct dav_conn dav_conn;
struct dav_conn {
    dav_conn *next;
    apr_pool_t *p;
    pool_http_t *http;          /* holds the connection between requests */
};

typedef struct {
    const char *base;           /* the collection's URL, ending in '/' */
    const char *base_path;      /* its decoded path, no trailing '/' */
    const char *user;           /* NULL: no credentials */
    const char *password;
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock;   /* guards what follows */
#endif
    dav_conn *idle;
    int nidle;
    pid_t pid;                  /* the process the idle clients belong to */
    char **known;               /* collections known to exist (malloc) */
    int nknown;
} dav_store;

#define DS(s) ((dav_store *)(s)->priv)
#define id_ok pool_store_id_ok

static void lock(dav_store *ds)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(ds->lock);
#endif
}

static void unlock(dav_store *ds)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(ds->lock);
#endif
}

static void conn_free(dav_conn *c)
{
    apr_pool_destroy(c->p);     /* the client's cleanup closes its
                                 * connections */
}

/* A new client: the store's own server, so no outbound policy (its address
 * is often loopback or private) and no proxy from the environment; no
 * redirects (pool_http's default). */
static dav_conn *conn_new(void)
{
    pool_http_timeouts_t t;
    apr_pool_t *cp;
    dav_conn *c;

    if (apr_pool_create_unmanaged_ex(&cp, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    c = apr_pcalloc(cp, sizeof(*c));
    c->p = cp;
    if (pool_http_create(&c->http, cp, NULL, NULL) != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return NULL;
    }
    pool_http_set_direct(c->http);
    memset(&t, 0, sizeof(t));
    t.connect = apr_time_from_sec(CONNECT_TIMEOUT);
    t.stall = apr_time_from_sec(LOW_SPEED_TIME);
    t.stall_bytes = 1;
    t.reuse_idle = apr_time_from_sec(CONN_MAX_IDLE);
    t.keepalive = apr_time_from_sec(KEEPALIVE);
    pool_http_set_timeouts(c->http, &t);
    return c;
}

/* An idle client (and its connection), or a new one. */
static dav_conn *conn_get(dav_store *ds)
{
    dav_conn *c = NULL;

    lock(ds);
    if (ds->pid != getpid()) {
        /* made before a fork: the sockets are the parent's, never touch
         * them (not even to close them cleanly) */
        ds->idle = NULL;
        ds->nidle = 0;
        ds->pid = getpid();
    }
    if (ds->idle) {
        c = ds->idle;
        ds->idle = c->next;
        ds->nidle--;
    }
    unlock(ds);
    return c ? c : conn_new();
}

/* Gives a client back; one whose transfer failed or was cut is closed. */
static void conn_put(dav_store *ds, dav_conn *c, int reusable)
{
    if (!c) {
        return;
    }
    if (reusable) {
        lock(ds);
        if (ds->pid == getpid() && ds->nidle < CONN_CACHE_MAX) {
            c->next = ds->idle;
            ds->idle = c;
            ds->nidle++;
            c = NULL;
        }
        unlock(ds);
    }
    if (c) {
        conn_free(c);
    }
}

/* Closes the idle connections (before a fork, at the end). */
static void conn_drop_all(dav_store *ds)
{
    dav_conn *c, *next;

    lock(ds);
    c = ds->pid == getpid() ? ds->idle : NULL;
    ds->idle = NULL;
    ds->nidle = 0;
    unlock(ds);
    for (; c; c = next) {
        next = c->next;
        conn_free(c);
    }
}

static int known_has(dav_store *ds, const char *coll)
{
    int i, found = 0;

    lock(ds);
    for (i = 0; i < ds->nknown && !found; i++) {
        found = !strcmp(ds->known[i], coll);
    }
    unlock(ds);
    return found;
}

static void known_set(dav_store *ds, const char *coll, int yes)
{
    int i;

    lock(ds);
    for (i = 0; i < ds->nknown; i++) {
        if (!strcmp(ds->known[i], coll)) {
            break;
        }
    }
    if (!yes && i < ds->nknown) {
        free(ds->known[i]);
        ds->known[i] = ds->known[--ds->nknown];
    }
    else if (yes && i == ds->nknown) {
        char *copy = strdup(coll);

        if (ds->nknown == KNOWN_MAX) {
            /* forget them all: each costs one MKCOL to learn again */
            while (ds->nknown > 0) {
                free(ds->known[--ds->nknown]);
            }
        }
        if (copy) {
            ds->known[ds->nknown++] = copy;
        }
    }
    unlock(ds);
}

static apr_status_t store_cleanup(void *data)
{
    dav_store *ds = data;

    conn_drop_all(ds);
    while (ds->nknown > 0) {
        free(ds->known[--ds->nknown]);
    }
    free(ds->known);
    ds->known = NULL;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ names */

static int name_ok(const char *pool, const char *id)
{
    return id_ok(id) && (!pool || !pool_ident_check(pool));
}

static const char *object_rel(apr_pool_t *p, const char *pool,
                              const char *id)
{
    if (!pool) {
        return apr_psprintf(p, RESULTS_COLL "%.2s/%s", id, id);
    }
    return apr_psprintf(p, OBJECTS_COLL "%s/%.2s/%s", pool, id, id);
}

static const char *url_of(dav_store *ds, apr_pool_t *p, const char *rel)
{
    return apr_pstrcat(p, ds->base, rel, NULL);
}

static const char *upload_coll(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, UPLOADS_COLL, id, "/", NULL);
}

static const char *part_rel(apr_pool_t *p, const char *id, apr_off_t start)
{
    return apr_psprintf(p, UPLOADS_COLL "%s/%020" APR_OFF_T_FMT, id, start);
}

/* ------------------------------------------------------------ requests */

typedef struct dav_req dav_req;
/* Receives a piece of the body of a 2xx answer; anything but APR_SUCCESS
 * stops the transfer (and is the request's outcome). */
typedef apr_status_t dav_body_fn(dav_req *rq, const char *buf, apr_size_t n);

struct dav_req {
    dav_store *ds;
    const char *method;
    const char *url;
    const char *hdrs[HEADERS_MAX];  /* "Name: value" */
    int nhdrs;
    const char *body;           /* a small request body (PROPFIND) */
    apr_size_t body_len;
    long timeout;               /* seconds in all; 0: low-speed limit only */
    dav_body_fn *on_body;       /* NULL: the answer's body is dropped */
    void *baton;
    pool_http_req_t *hreq;      /* while it runs */
    /* the answer */
    pool_http_err_t err;        /* POOL_HTTP_OK: an answer came */
    int err_transient;          /* err may pass (pool_http's judgement) */
    long status;
    apr_off_t length;           /* Content-Length, or -1 */
    apr_time_t mtime;           /* Last-Modified, or 0 */
    apr_off_t range_start;      /* first byte of a Content-Range, or -1 */
    int dav1;                   /* a DAV header with compliance class 1 */
    int answer_read;            /* the fields above are the answer's */
    int delivered;              /* on_body passed something on: no retry */
    apr_status_t body_rv;       /* why on_body stopped the transfer */
    char error[ERROR_MAX];      /* err's text */
};

static void req_init(dav_req *rq, dav_store *ds, const char *method,
                     const char *url)
{
    memset(rq, 0, sizeof(*rq));
    rq->ds = ds;
    rq->method = method;
    rq->url = url;
}

/* h ("Name: value") must outlive rq; NULL when rq has too many. */
static const char *add_header(dav_req *rq, const char *h)
{
    if (rq->nhdrs == HEADERS_MAX) {
        return NULL;
    }
    return rq->hdrs[rq->nhdrs++] = h;
}

static int dav_token(void *baton, const char *key, const char *v)
{
    dav_req *rq = baton;

    while (*v) {
        const char *e;
        apr_size_t n;

        while (*v == ' ' || *v == '\t' || *v == ',') {
            v++;
        }
        for (e = v; *e && *e != ','; e++) {
        }
        n = (apr_size_t)(e - v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
            n--;
        }
        if (n == 1 && *v == '1') {
            rq->dav1 = 1;
        }
        v = e;
    }
    return 1;
}

static void answer_reset(dav_req *rq)
{
    rq->err = POOL_HTTP_OK;
    rq->err_transient = 0;
    rq->error[0] = '\0';
    rq->status = 0;
    rq->length = -1;
    rq->mtime = 0;
    rq->range_start = -1;
    rq->dav1 = 0;
    rq->answer_read = 0;
    rq->body_rv = APR_SUCCESS;
}

/* What the store reads of an answer's status and headers. */
static void answer_read(dav_req *rq, const pool_http_resp_t *resp)
{
    const char *v;
    apr_off_t l;
    char *end;

    rq->answer_read = 1;
    rq->status = resp->status;
    if (!resp->headers) {
        return;
    }
    v = apr_table_get(resp->headers, "Content-Length");
    if (v && apr_strtoff(&l, v, &end, 10) == APR_SUCCESS && end != v
        && l >= 0) {
        rq->length = l;
    }
    if ((v = apr_table_get(resp->headers, "Last-Modified")) != NULL) {
        apr_time_t t = apr_date_parse_http(v);

        rq->mtime = t == APR_DATE_BAD ? 0 : t;
    }
    v = apr_table_get(resp->headers, "Content-Range");
    if (v && !strncasecmp(v, "bytes ", 6)
        && apr_strtoff(&l, v + 6, &end, 10) == APR_SUCCESS
        && end != v + 6 && *end == '-') {
        rq->range_start = l;
    }
    apr_table_do(dav_token, rq, resp->headers, "DAV", NULL);
}

/* pool_http's on_body: the answer is read before its first piece. */
static apr_status_t req_body(void *baton, const char *buf, apr_size_t n)
{
    dav_req *rq = baton;
    apr_status_t rv;

    if (!rq->answer_read) {
        answer_read(rq, &rq->hreq->resp);
    }
    if (!rq->on_body) {
        return APR_SUCCESS;
    }
    if ((rv = rq->on_body(rq, buf, n)) != APR_SUCCESS) {
        rq->body_rv = rv;
    }
    return rv;
}

/* rq as a request of http in rp (the store's options); NULL when a header
 * is not "Name: value". */
static pool_http_req_t *req_make(dav_req *rq, pool_http_t *http,
                                 apr_pool_t *rp)
{
    pool_http_req_t *req = pool_http_req_make(http, rp, rq->method, rq->url);
    int i;

    for (i = 0; i < rq->nhdrs; i++) {
        const char *h = rq->hdrs[i], *colon = strchr(h, ':'), *v;

        if (!colon || colon == h) {
            return NULL;
        }
        for (v = colon + 1; *v == ' '; v++) {
        }
        apr_table_addn(req->headers,
                       apr_pstrmemdup(rp, h, (apr_size_t)(colon - h)), v);
    }
    req->user = rq->ds->user;
    req->password = rq->ds->password;
    if (rq->body) {
        req->body = rq->body;
        req->body_len = (apr_off_t)rq->body_len;
    }
    if (rq->timeout) {
        req->timeout.total = apr_time_from_sec(rq->timeout);
    }
    /* every 2xx body through req_body, however long; other answers' bodies
     * (error pages) to memory, at most pool_http's error_body_max */
    req->on_body = req_body;
    req->body_baton = rq;
    req->body_max = APR_INT64_MAX;
    if (!strcmp(rq->method, "GET")) {
        req->recv_buffer = GET_BUFFER;
    }
    rq->hreq = req;
    return req;
}

/* The outcome of req in rq.  An error page over pool_http's limit is an
 * answer all the same: its status is what counts here. */
static void req_done(dav_req *rq, pool_http_req_t *req)
{
    const pool_http_resp_t *resp = &req->resp;

    answer_read(rq, resp);
    rq->err = resp->err;
    rq->err_transient = resp->transient;
    if (resp->err == POOL_HTTP_ETOOLARGE && rq->status >= 200
        && rq->body_rv == APR_SUCCESS) {
        rq->err = POOL_HTTP_OK;
    }
    else if (resp->err != POOL_HTTP_OK) {
        apr_cpystrn(rq->error, resp->error ? resp->error : "failed",
                    sizeof(rq->error));
    }
    rq->hreq = NULL;
}

static void req_exec(dav_req *rq)
{
    dav_conn *c = conn_get(rq->ds);
    pool_http_req_t *req = NULL;
    apr_pool_t *rp = NULL;

    answer_reset(rq);
    if (!c || apr_pool_create(&rp, c->p) != APR_SUCCESS) {
        rq->err = POOL_HTTP_EINTERNAL;
        apr_cpystrn(rq->error, "out of memory", sizeof(rq->error));
        if (c) {
            conn_put(rq->ds, c, 1);
        }
        return;
    }
    if (!(req = req_make(rq, c->http, rp))) {
        rq->err = POOL_HTTP_EURL;
        apr_cpystrn(rq->error, "a bad request header", sizeof(rq->error));
    }
    else {
        pool_http_perform(req);
        req_done(rq, req);
    }
    apr_pool_destroy(rp);
    conn_put(rq->ds, c, req && req->resp.err == POOL_HTTP_OK);
}

static int status_transient(long s)
{
    return (s >= 500 && s != 501 && s != 505 && s != 507) || s == 423
           || s == 408 || s == 429;
}

static int transient(const dav_req *rq)
{
    if (rq->body_rv != APR_SUCCESS) {
        return 0;               /* stopped on purpose */
    }
    if (rq->err != POOL_HTTP_OK) {
        return rq->err_transient;
    }
    return status_transient(rq->status);
}

/* Runs rq; an idempotent one (retry) is tried again, a few times, after a
 * connection failure, a 5xx or a 423, unless its answer was passed on. */
static void req_call(dav_req *rq, int retry)
{
    static const int backoff_ms[] = { 100, 400, 1000 };
    int i;

    for (i = 0; ; i++) {
        req_exec(rq);
        if (!retry || i >= RETRIES - 1 || !transient(rq) || rq->delivered) {
            break;
        }
        apr_sleep(apr_time_from_msec(backoff_ms[i]));
    }
}

/* The error of an HTTP status (APR_SUCCESS for 2xx). */
static apr_status_t status_rv(const dav_req *rq)
{
    long s = rq->status;

    if (s >= 200 && s < 300) {
        return APR_SUCCESS;
    }
    if (s == 404 || s == 410) {
        return APR_ENOENT;
    }
    if (s == 401 || s == 403) {
        pool_log(POOL_LOG_ERR, "WebDAV store %s: %s %s was refused with "
                 "HTTP %ld: check PoolStorageCredentials and the store's "
                 "access rules", rq->ds->base, rq->method, rq->url, s);
        return APR_EACCES;
    }
    if (s == 507) {
        pool_log(POOL_LOG_WARN, "WebDAV store %s: %s %s: HTTP 507, the "
                 "store is full", rq->ds->base, rq->method, rq->url);
        return POOL_STORE_FULL;
    }
    if (status_transient(s)) {
        pool_log(POOL_LOG_WARN, "WebDAV store %s: %s %s: HTTP %ld, the "
                 "store is unavailable", rq->ds->base, rq->method, rq->url,
                 s);
        return POOL_STORE_UNAVAILABLE;
    }
    pool_log(POOL_LOG_ERR, "WebDAV store %s: %s %s: unexpected answer "
             "HTTP %ld", rq->ds->base, rq->method, rq->url, s);
    return APR_EGENERAL;
}

/* The outcome of a request that ran. */
static apr_status_t req_rv(const dav_req *rq)
{
    if (rq->body_rv != APR_SUCCESS) {
        return rq->body_rv;
    }
    if (rq->err != POOL_HTTP_OK) {
        pool_log(POOL_LOG_WARN, "WebDAV store %s: %s %s: %s", rq->ds->base,
                 rq->method, rq->url, rq->error);
        return rq->err == POOL_HTTP_EINTERNAL ? APR_ENOMEM
                                              : POOL_STORE_UNAVAILABLE;
    }
    return status_rv(rq);
}

static int in_list(long s, const long *l)
{
    for (; l && *l; l++) {
        if (*l == s) {
            return 1;
        }
    }
    return 0;
}

/* A request without bodies either way; *status gets the HTTP status (0
 * when there was no answer).  Returns the request's outcome; a status in
 * handled (0-terminated) is the caller's to judge: APR_EGENERAL, not
 * logged. */
static apr_status_t simple(dav_store *ds, apr_pool_t *p, const char *method,
                           const char *rel, const char *h1, const char *h2,
                           int retry, const long *handled, long *status)
{
    dav_req rq;
    apr_status_t rv;

    req_init(&rq, ds, method, url_of(ds, p, rel));
    rq.timeout = SHORT_TIMEOUT;
    if ((h1 && !add_header(&rq, h1)) || (h2 && !add_header(&rq, h2))) {
        return APR_ENOMEM;
    }
    req_call(&rq, retry);
    if (status) {
        *status = rq.err == POOL_HTTP_OK ? rq.status : 0;
    }
    if (rq.err == POOL_HTTP_OK && in_list(rq.status, handled)) {
        return APR_EGENERAL;
    }
    rv = req_rv(&rq);
    return rv;
}

static const long mkcol_handled[] = { 403, 405, 409, 0 };
static const long move_handled[] = { 404, 409, 412, 0 };
static const long copy_handled[] = { 412, 0 };

static apr_status_t head_propfind(dav_store *ds, apr_pool_t *p,
                                  const char *rel, apr_off_t *size,
                                  apr_time_t *mtime);

/* Size (and time) of an object, by HEAD. */
static apr_status_t head(dav_store *ds, apr_pool_t *p, const char *rel,
                         apr_off_t *size, apr_time_t *mtime)
{
    dav_req rq;
    apr_status_t rv;

    req_init(&rq, ds, "HEAD", url_of(ds, p, rel));
    rq.timeout = SHORT_TIMEOUT;
    req_call(&rq, 1);
    if ((rv = req_rv(&rq)) != APR_SUCCESS) {
        return rv;
    }
    if (rq.length < 0) {
        /* Apache drops "Content-Length: 0" from the answer to a HEAD */
        return head_propfind(ds, p, rel, size, mtime);
    }
    *size = rq.length;
    if (mtime) {
        *mtime = rq.mtime ? rq.mtime : apr_time_now();
    }
    return APR_SUCCESS;
}

/* DELETE; APR_ENOENT when it was not there. */
static apr_status_t del(dav_store *ds, apr_pool_t *p, const char *rel)
{
    return simple(ds, p, "DELETE", rel, NULL, NULL, 1, NULL, NULL);
}

/* MKCOL of one collection whose parent exists.  201 made, 405 there
 * already; mod_dav_fs answers 403 when another node made it a moment
 * before (mkdir's EEXIST): asked again, it says 405. */
static apr_status_t mkcol_one(dav_store *ds, apr_pool_t *p, const char *coll)
{
    long status = 0;
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        status = 0;
        rv = simple(ds, p, "MKCOL", coll, NULL, NULL, 1, mkcol_handled,
                    &status);
        if (status == 201 || status == 405
            || (rv == APR_SUCCESS && status != 403 && status != 409)) {
            known_set(ds, coll, 1);
            return APR_SUCCESS;
        }
        if (status != 403) {
            break;
        }
    }
    if (status == 403) {
        return APR_EACCES;
    }
    return rv == APR_SUCCESS ? APR_EGENERAL : rv;
}

/* MKCOL of coll (ending in '/') and of its missing parents, from the top
 * (a missing parent would make the server answer 409, and log it). */
static apr_status_t mkcol(dav_store *ds, apr_pool_t *p, const char *coll,
                          int depth)
{
    const char *e;
    apr_status_t rv;

    (void)depth;
    for (e = strchr(coll, '/'); e; e = strchr(e + 1, '/')) {
        const char *prefix = apr_pstrmemdup(p, coll,
                                            (apr_size_t)(e - coll) + 1);

        if (known_has(ds, prefix)) {
            continue;
        }
        if ((rv = mkcol_one(ds, p, prefix)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* The collection rel lives in exists (made when this process has not
 * seen it yet). */
static apr_status_t ensure_parent(dav_store *ds, apr_pool_t *p,
                                  const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *coll;

    if (!slash) {
        return APR_SUCCESS;
    }
    coll = apr_pstrmemdup(p, rel, (apr_size_t)(slash - rel) + 1);
    if (known_has(ds, coll)) {
        return APR_SUCCESS;
    }
    return mkcol(ds, p, coll, 0);
}

/* ------------------------------------------------------------ streaming PUT
 * Push-style writes into one PUT (pool_http_push_*): pool_http gathers
 * PUT_BUFFER bytes, then hands them to libcurl and drives the transfer
 * until libcurl asked for more, i.e. until every byte was written to the
 * connection.  put_finish ends the chunked body and waits for the answer.
 * The PUT holds a client of its own until then. */

typedef struct {
    dav_store *ds;
    dav_conn *c;
    apr_pool_t *rp;             /* the request's, in the client's pool;
                                 * holds this */
    dav_req rq;
    pool_http_req_t *req;
    pool_http_push_t *push;     /* until finished or aborted */
    apr_status_t rv;            /* the first failure */
} dav_put;

static void put_close(dav_put *pt, int reusable)
{
    dav_store *ds = pt->ds;
    dav_conn *c = pt->c;

    if (pt->push) {
        pool_http_push_abort(pt->push);     /* cut: its connection closed */
    }
    apr_pool_destroy(pt->rp);
    conn_put(ds, c, reusable);
}

/* What the push's failure means for the store.  An answer before the end
 * of the body is judged by its status: even a 2xx is a failure. */
static apr_status_t put_outcome(dav_put *pt)
{
    dav_req *rq = &pt->rq;
    apr_status_t rv;

    req_done(rq, pt->req);
    if (rq->err != POOL_HTTP_EEARLY) {
        return req_rv(rq);
    }
    rq->err = POOL_HTTP_OK;     /* an answer */
    if ((rv = req_rv(rq)) == APR_SUCCESS) {
        pool_log(POOL_LOG_ERR, "WebDAV store %s: PUT %s was answered (HTTP "
                 "%ld) before its body was complete", pt->ds->base,
                 rq->url, rq->status);
        rv = APR_EGENERAL;
    }
    return rv;
}

/* A PUT of url (which must outlive it); nothing is sent before the first
 * PUT_BUFFER bytes or put_finish. */
static apr_status_t put_open(dav_store *ds, const char *url, dav_put **out)
{
    dav_conn *c = conn_get(ds);
    apr_pool_t *rp;
    dav_put *pt;
    apr_status_t rv;

    if (!c) {
        return APR_ENOMEM;
    }
    if (apr_pool_create(&rp, c->p) != APR_SUCCESS) {
        conn_put(ds, c, 1);
        return APR_ENOMEM;
    }
    pt = apr_pcalloc(rp, sizeof(*pt));
    pt->ds = ds;
    pt->c = c;
    pt->rp = rp;
    req_init(&pt->rq, ds, "PUT", url);
    answer_reset(&pt->rq);
    add_header(&pt->rq, "Content-Type: application/octet-stream");
    if (!(pt->req = req_make(&pt->rq, c->http, rp))) {
        put_close(pt, 1);
        return APR_ENOMEM;
    }
    pt->req->body_len = -1;                 /* chunked */
    pt->req->send_buffer = PUT_BUFFER;
    if (pool_http_push_open(pt->req, &pt->push) != POOL_HTTP_OK) {
        rv = put_outcome(pt);
        put_close(pt, 0);
        return rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    *out = pt;
    return APR_SUCCESS;
}

static apr_status_t put_write(dav_put *pt, const char *buf, apr_size_t n)
{
    if (pt->rv != APR_SUCCESS) {
        return pt->rv;
    }
    if (pool_http_push_write(pt->push, buf, n) != POOL_HTTP_OK) {
        pt->rv = put_outcome(pt);
    }
    return pt->rv;
}

/* Ends the body, waits for the answer (2xx: success) and frees pt. */
static apr_status_t put_finish(dav_put *pt)
{
    apr_status_t rv = pt->rv;

    if (rv == APR_SUCCESS) {
        pool_http_push_finish(pt->push);
        rv = put_outcome(pt);
    }
    else {
        pool_http_push_abort(pt->push);
    }
    pt->push = NULL;
    put_close(pt, pt->rq.err == POOL_HTTP_OK);
    return rv;
}

/* Gives up: a PUT cut short leaves nothing on the store. */
static void put_abort(dav_put *pt)
{
    put_close(pt, 0);
}

/* ------------------------------------------------------------ streaming GET
 * Bytes [from, from + len) of rel (size bytes long, -1 unknown) to fn; a
 * transfer cut short is resumed where it stopped. */

typedef struct {
    pool_store_sink_fn *fn;
    void *baton;
    apr_off_t pos, end;
    int whole;                  /* asked without a Range */
    int checked, discard;
} get_ctx;

static apr_status_t get_body(dav_req *rq, const char *buf, apr_size_t n)
{
    get_ctx *g = rq->baton;
    apr_status_t rv;

    if (!g->checked) {
        g->checked = 1;
        if (rq->status < 200 || rq->status >= 300) {
            g->discard = 1;     /* an error page */
        }
        else if (g->whole ? rq->status != 200
                          : (rq->status != 206 || rq->range_start != g->pos)) {
            pool_log(POOL_LOG_ERR, "WebDAV store %s: GET %s answered HTTP "
                     "%ld to a request for bytes %" APR_OFF_T_FMT "-%"
                     APR_OFF_T_FMT, rq->ds->base, rq->url, rq->status,
                     g->pos, g->end - 1);
            return APR_EGENERAL;
        }
    }
    if (g->discard) {
        return APR_SUCCESS;
    }
    if ((apr_off_t)n > g->end - g->pos) {
        pool_log(POOL_LOG_ERR, "WebDAV store %s: GET %s sent more than was "
                 "asked for", rq->ds->base, rq->url);
        return APR_EGENERAL;
    }
    if ((rv = g->fn(g->baton, buf, n)) != APR_SUCCESS) {
        return rv;
    }
    g->pos += (apr_off_t)n;
    return APR_SUCCESS;
}

static apr_status_t get_range(dav_store *ds, apr_pool_t *p, const char *rel,
                              apr_off_t size, apr_off_t from, apr_off_t len,
                              pool_store_sink_fn *fn, void *baton)
{
    static const int backoff_ms[] = { 100, 400, 1000, 1000, 1000, 1000,
                                      1000, 1000 };
    const char *url = url_of(ds, p, rel);
    get_ctx g;
    int attempts = 0, idle = 0;

    memset(&g, 0, sizeof(g));
    g.fn = fn;
    g.baton = baton;
    g.pos = from;
    g.end = from + len;
    while (g.pos < g.end) {
        apr_off_t before = g.pos;
        dav_req rq;
        apr_status_t rv;

        req_init(&rq, ds, "GET", url);
        rq.on_body = get_body;
        rq.baton = &g;
        g.whole = g.pos == 0 && size >= 0 && g.end == size;
        g.checked = g.discard = 0;
        if (!g.whole
            && !add_header(&rq, apr_psprintf(p, "Range: bytes=%"
                                             APR_OFF_T_FMT "-%" APR_OFF_T_FMT,
                                             g.pos, g.end - 1))) {
            return APR_ENOMEM;
        }
        req_exec(&rq);
        if (rq.body_rv != APR_SUCCESS) {
            return rq.body_rv;
        }
        if (g.pos == g.end) {
            return APR_SUCCESS;
        }
        if (g.pos > before) {
            idle = 0;           /* progress: resume from there */
        }
        if (rq.err == POOL_HTTP_OK && rq.status >= 200 && rq.status < 300) {
            /* an answer shorter than asked: the object is shorter */
            pool_log(POOL_LOG_ERR, "WebDAV store %s: GET %s ended at byte %"
                     APR_OFF_T_FMT " of %" APR_OFF_T_FMT, ds->base, url,
                     g.pos, g.end);
            return APR_EOF;
        }
        rv = req_rv(&rq);
        if (!transient(&rq) || ++idle >= RETRIES
            || attempts >= GET_ATTEMPTS - 1) {
            return rv;
        }
        apr_sleep(apr_time_from_msec(backoff_ms[attempts++]));
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ PROPFIND
 * The answer is parsed as it arrives (libxml2's SAX2 push parser); every
 * <response> becomes a dav_entry for the caller's function. */

typedef struct {
    const char *name;           /* last segment, decoded; "" for the
                                 * collection asked about */
    int self;
    int collection;
    apr_off_t size;             /* -1 unknown */
    apr_time_t mtime;           /* later of getlastmodified and
                                 * creationdate; 0 unknown */
} dav_entry;

typedef apr_status_t dav_entry_fn(void *baton, apr_pool_t *p,
                                  const dav_entry *e);

enum { T_NONE, T_HREF, T_STATUS, T_LENGTH, T_MODIFIED, T_CREATED };

typedef struct {
    apr_pool_t *p;              /* cleared for every entry */
    const char *self;           /* decoded path asked about, no '/' at end */
    dav_entry_fn *fn;
    void *baton;
    apr_status_t rv;            /* fn's error */
    xmlParserCtxtPtr ctx;
    int in_response, in_propstat, in_resourcetype;
    int kind;                   /* the text being gathered */
    char text[TEXT_MAX];
    apr_size_t tlen;
    char href[TEXT_MAX];
    int ps_ok, ps_coll;
    apr_off_t ps_size;
    apr_time_t ps_mod, ps_created;
    int r_coll;
    apr_off_t r_size;
    apr_time_t r_mod, r_created;
    int entries;
} ms_parser;

/* "2026-11-21T10:15:00Z", "...T10:15:00.5+01:00" (RFC 3339). */
static apr_time_t parse_iso(const char *s)
{
    apr_time_exp_t tm;
    apr_time_t t;
    int y, mo, d, h, mi, sec, n = 0, off = 0;
    const char *z;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
               &n) != 6 || n == 0) {
        return 0;
    }
    z = s + n;
    if (*z == '.') {
        z++;
        while (apr_isdigit(*z)) {
            z++;
        }
    }
    if ((*z == '+' || *z == '-') && apr_isdigit(z[1]) && apr_isdigit(z[2])
        && z[3] == ':' && apr_isdigit(z[4]) && apr_isdigit(z[5])) {
        off = ((z[1] - '0') * 10 + (z[2] - '0')) * 3600
              + ((z[4] - '0') * 10 + (z[5] - '0')) * 60;
        if (*z == '+') {
            off = -off;
        }
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) {
        return 0;
    }
    return t + apr_time_from_sec(off);
}

static void ms_start(void *ctx, const xmlChar *localname,
                     const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces,
                     int nb_attributes, int nb_defaulted,
                     const xmlChar **attributes)
{
    ms_parser *ms = ctx;
    const char *n = (const char *)localname;

    if (!uri || strcmp((const char *)uri, "DAV:")) {
        return;
    }
    ms->kind = T_NONE;
    if (!strcmp(n, "response")) {
        ms->in_response = 1;
        ms->in_propstat = 0;
        ms->href[0] = '\0';
        ms->r_coll = 0;
        ms->r_size = -1;
        ms->r_mod = ms->r_created = 0;
        return;
    }
    if (!ms->in_response) {
        return;
    }
    if (!ms->in_propstat) {
        if (!strcmp(n, "href")) {
            ms->kind = T_HREF;
        }
        else if (!strcmp(n, "propstat")) {
            ms->in_propstat = 1;
            ms->ps_ok = ms->ps_coll = 0;
            ms->ps_size = -1;
            ms->ps_mod = ms->ps_created = 0;
        }
    }
    else if (!strcmp(n, "status")) {
        ms->kind = T_STATUS;
    }
    else if (!strcmp(n, "getcontentlength")) {
        ms->kind = T_LENGTH;
    }
    else if (!strcmp(n, "getlastmodified")) {
        ms->kind = T_MODIFIED;
    }
    else if (!strcmp(n, "creationdate")) {
        ms->kind = T_CREATED;
    }
    else if (!strcmp(n, "resourcetype")) {
        ms->in_resourcetype = 1;
    }
    else if (!strcmp(n, "collection") && ms->in_resourcetype) {
        ms->ps_coll = 1;
    }
    ms->tlen = 0;
}

static void ms_chars(void *ctx, const xmlChar *ch, int len)
{
    ms_parser *ms = ctx;
    apr_size_t n = len > 0 ? (apr_size_t)len : 0;

    if (ms->kind == T_NONE) {
        return;
    }
    if (n > sizeof(ms->text) - 1 - ms->tlen) {
        n = sizeof(ms->text) - 1 - ms->tlen;
    }
    memcpy(ms->text + ms->tlen, ch, n);
    ms->tlen += n;
}

static void ms_text_done(ms_parser *ms)
{
    char *t = ms->text, *e;
    apr_off_t l;

    t[ms->tlen] = '\0';
    while (apr_isspace(*t)) {
        t++;
    }
    e = t + strlen(t);
    while (e > t && apr_isspace(e[-1])) {
        *--e = '\0';
    }
    switch (ms->kind) {
    case T_HREF:
        apr_cpystrn(ms->href, t, sizeof(ms->href));
        break;
    case T_STATUS:
        e = strchr(t, ' ');
        ms->ps_ok = e && strtol(e + 1, NULL, 10) == 200;
        break;
    case T_LENGTH:
        if (apr_strtoff(&l, t, &e, 10) == APR_SUCCESS && e != t && !*e
            && l >= 0) {
            ms->ps_size = l;
        }
        break;
    case T_MODIFIED:
        ms->ps_mod = apr_date_parse_http(t);
        if (ms->ps_mod == APR_DATE_BAD) {
            ms->ps_mod = 0;
        }
        break;
    case T_CREATED:
        ms->ps_created = parse_iso(t);
        break;
    default:
        break;
    }
    ms->kind = T_NONE;
}

static void ms_emit(ms_parser *ms)
{
    dav_entry e;
    const char *path = ms->href, *dec;
    char *s, *slash;
    apr_size_t n;

    if (ms->rv != APR_SUCCESS) {
        return;
    }
    apr_pool_clear(ms->p);
    if (!strncasecmp(path, "http://", 7) || !strncasecmp(path, "https://", 8)) {
        path = strchr(strstr(path, "//") + 2, '/');
        if (!path) {
            path = "/";
        }
    }
    dec = apr_punescape_url(ms->p, path, NULL, NULL, 0);
    s = apr_pstrdup(ms->p, dec ? dec : path);
    n = strlen(s);
    while (n > 0 && s[n - 1] == '/') {
        s[--n] = '\0';
    }
    memset(&e, 0, sizeof(e));
    if (!strcmp(s, ms->self)) {
        e.self = 1;
        e.name = "";
    }
    else {
        slash = strrchr(s, '/');
        e.name = slash ? slash + 1 : s;
    }
    e.collection = ms->r_coll;
    e.size = ms->r_size;
    e.mtime = ms->r_mod > ms->r_created ? ms->r_mod : ms->r_created;
    ms->entries++;
    ms->rv = ms->fn(ms->baton, ms->p, &e);
    if (ms->rv != APR_SUCCESS) {
        xmlStopParser(ms->ctx);
    }
}

static void ms_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                   const xmlChar *uri)
{
    ms_parser *ms = ctx;
    const char *n = (const char *)localname;

    if (!uri || strcmp((const char *)uri, "DAV:")) {
        return;
    }
    if (ms->kind != T_NONE) {
        ms_text_done(ms);
        return;
    }
    if (!strcmp(n, "resourcetype")) {
        ms->in_resourcetype = 0;
    }
    else if (!strcmp(n, "propstat") && ms->in_propstat) {
        ms->in_propstat = 0;
        if (ms->ps_ok) {
            ms->r_coll |= ms->ps_coll;
            if (ms->ps_size >= 0) {
                ms->r_size = ms->ps_size;
            }
            if (ms->ps_mod) {
                ms->r_mod = ms->ps_mod;
            }
            if (ms->ps_created) {
                ms->r_created = ms->ps_created;
            }
        }
    }
    else if (!strcmp(n, "response") && ms->in_response) {
        ms->in_response = 0;
        ms_emit(ms);
    }
}

static void ms_error(void *ctx, xmlErrorPtr err)
{
    /* not printed: a broken answer is reported once, by propfind() */
}

static apr_status_t ms_body(dav_req *rq, const char *buf, apr_size_t n)
{
    ms_parser *ms = rq->baton;

    if (rq->status != 207) {
        return APR_SUCCESS;     /* not multistatus: dropped */
    }
    rq->delivered = 1;
    if (xmlParseChunk(ms->ctx, buf, (int)n, 0) != 0
        || ms->rv != APR_SUCCESS) {
        return ms->rv != APR_SUCCESS ? ms->rv : APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* A multistatus parser for entries of the decoded path self; NULL when
 * out of memory.  Freed with ms_free (ms itself is from p). */
static ms_parser *ms_new(apr_pool_t *p, const char *self, dav_entry_fn *fn,
                         void *baton)
{
    xmlSAXHandler sax;
    ms_parser *ms = apr_pcalloc(p, sizeof(*ms));

    memset(&sax, 0, sizeof(sax));
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = ms_start;
    sax.endElementNs = ms_end;
    sax.characters = ms_chars;
    sax.serror = ms_error;
    ms->self = self;
    ms->fn = fn;
    ms->baton = baton;
    apr_pool_create(&ms->p, p);
    ms->ctx = xmlCreatePushParserCtxt(&sax, ms, NULL, 0, NULL);
    if (!ms->ctx) {
        apr_pool_destroy(ms->p);
        return NULL;
    }
    xmlCtxtUseOptions(ms->ctx, XML_PARSE_NONET | XML_PARSE_NOERROR
                      | XML_PARSE_NOWARNING);
    return ms;
}

/* Frees what ms_new made.  In SAX mode libxml2 keeps the entities a
 * DOCTYPE declares in a document of its own (ctx->myDoc), which
 * xmlFreeParserCtxt leaves to the caller. */
static void ms_free(ms_parser *ms)
{
    if (ms->ctx->myDoc) {
        xmlFreeDoc(ms->ctx->myDoc);
        ms->ctx->myDoc = NULL;
    }
    xmlFreeParserCtxt(ms->ctx);
    apr_pool_destroy(ms->p);
}

/* For the fuzz harness t/fuzz/fuzz_dav_xml.c only (the parser's functions
 * are static): parses body as propfind() parses the body of a 207 answer,
 * in chunks of at most chunk bytes (0: at once); see pool_store_impl.h. */
typedef struct {
    pool_dav_ms_entry_fn *fn;
    void *baton;
} ms_test_baton;

static apr_status_t ms_test_entry(void *baton, apr_pool_t *p,
                                  const dav_entry *e)
{
    ms_test_baton *tb = baton;

    return tb->fn(tb->baton, e->name, e->self, e->collection, e->size,
                  e->mtime);
}

apr_status_t pool_store_dav_parse_multistatus(apr_pool_t *p, const char *self,
                                              const char *body,
                                              apr_size_t len,
                                              apr_size_t chunk,
                                              pool_dav_ms_entry_fn *fn,
                                              void *baton)
{
    ms_test_baton tb = { fn, baton };
    ms_parser *ms = ms_new(p, self, ms_test_entry, &tb);
    apr_status_t rv = APR_SUCCESS;
    apr_size_t off = 0;

    if (!ms) {
        return APR_ENOMEM;
    }
    while (off < len && rv == APR_SUCCESS) {
        apr_size_t n = chunk && chunk < len - off ? chunk : len - off;

        if (xmlParseChunk(ms->ctx, body + off, (int)n, 0) != 0
            || ms->rv != APR_SUCCESS) {
            rv = ms->rv != APR_SUCCESS ? ms->rv : APR_EGENERAL;
        }
        off += n;
    }
    if (rv == APR_SUCCESS
        && (xmlParseChunk(ms->ctx, NULL, 0, 1) != 0 || !ms->ctx->wellFormed
            || ms->rv != APR_SUCCESS)) {
        rv = ms->rv != APR_SUCCESS ? ms->rv : APR_EGENERAL;
    }
    ms_free(ms);
    return rv;
}

/* PROPFIND rel (a collection ending in '/', or an object) with Depth
 * depth; fn gets every entry, the collection itself included (self). */
static apr_status_t propfind(dav_store *ds, apr_pool_t *p, const char *rel,
                             int depth, dav_entry_fn *fn, void *baton)
{
    static const int backoff_ms[] = { 100, 400, 1000 };
    const char *self = apr_pstrcat(p, ds->base_path, "/", rel, NULL);
    apr_size_t n = strlen(self);
    int attempt;

    while (n > 0 && self[n - 1] == '/') {
        n--;
    }
    self = apr_pstrmemdup(p, self, n);
    for (attempt = 0; ; attempt++) {
        ms_parser *ms = ms_new(p, self, fn, baton);
        dav_req rq;
        apr_status_t rv;

        if (!ms) {
            return APR_ENOMEM;
        }
        req_init(&rq, ds, "PROPFIND", url_of(ds, p, rel));
        rq.body = propfind_body;
        rq.body_len = sizeof(propfind_body) - 1;
        rq.on_body = ms_body;
        rq.baton = ms;
        if (!add_header(&rq, depth ? "Depth: 1" : "Depth: 0")
            || !add_header(&rq, "Content-Type: application/xml; "
                                "charset=utf-8")) {
            ms_free(ms);
            return APR_ENOMEM;
        }
        req_exec(&rq);
        rv = req_rv(&rq);
        if (rv == APR_SUCCESS && rq.status != 207) {
            pool_log(POOL_LOG_ERR, "WebDAV store %s: PROPFIND %s answered "
                     "HTTP %ld instead of 207 Multi-Status", ds->base,
                     rq.url, rq.status);
            rv = APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            if (xmlParseChunk(ms->ctx, NULL, 0, 1) != 0
                || !ms->ctx->wellFormed) {
                rv = ms->rv != APR_SUCCESS ? ms->rv : APR_EGENERAL;
            }
            else if (ms->rv != APR_SUCCESS) {
                rv = ms->rv;
            }
        }
        if (rv == APR_EGENERAL && rq.body_rv == APR_EGENERAL
            && ms->rv == APR_SUCCESS) {
            pool_log(POOL_LOG_ERR, "WebDAV store %s: PROPFIND %s: the "
                     "answer is not multistatus XML", ds->base, rq.url);
        }
        ms_free(ms);
        if (rv == APR_SUCCESS || ms->entries || rq.delivered
            || !transient(&rq) || attempt >= RETRIES - 1) {
            return rv;
        }
        apr_sleep(apr_time_from_msec(backoff_ms[attempt]));
    }
}

typedef struct {
    int seen, collection;
    apr_off_t size;
    apr_time_t mtime;
} self_probe;

static apr_status_t probe_self(void *baton, apr_pool_t *p, const dav_entry *e)
{
    self_probe *sp = baton;

    if (e->self) {
        sp->seen = 1;
        sp->collection = e->collection;
        sp->size = e->size;
        sp->mtime = e->mtime;
    }
    return APR_SUCCESS;
}

/* Size (and time) of an object, by PROPFIND. */
static apr_status_t head_propfind(dav_store *ds, apr_pool_t *p,
                                  const char *rel, apr_off_t *size,
                                  apr_time_t *mtime)
{
    self_probe sp;
    apr_status_t rv;

    memset(&sp, 0, sizeof(sp));
    if ((rv = propfind(ds, p, rel, 0, probe_self, &sp)) != APR_SUCCESS) {
        return rv;
    }
    if (!sp.seen || sp.collection || sp.size < 0) {
        pool_log(POOL_LOG_ERR, "WebDAV store %s: %s has no size (neither "
                 "Content-Length nor getcontentlength)", ds->base, rel);
        return APR_EGENERAL;
    }
    *size = sp.size;
    if (mtime) {
        *mtime = sp.mtime ? sp.mtime : apr_time_now();
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ MOVE */

/* MOVE from to (Overwrite: F), then checks that `to` holds size bytes.
 * Idempotent: a target of the right size with the source gone (a MOVE
 * retried after its answer was lost) or still there (a stage repeated)
 * is success. */
static apr_status_t move_into_place(dav_store *ds, apr_pool_t *p,
                                    const char *from, const char *to,
                                    apr_off_t size)
{
    const char *dest = apr_pstrcat(p, "Destination: ", url_of(ds, p, to),
                                   NULL);
    apr_off_t got = -1;
    long status = 0;
    apr_status_t rv;
    int again = 0;

    if ((rv = ensure_parent(ds, p, to)) != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        rv = simple(ds, p, "MOVE", from, dest, "Overwrite: F", 1,
                    move_handled, &status);
        if ((status == 409 || status == 500) && !again) {
            /* the parent is gone after all (mod_dav_fs says 500): make it
             * again, once */
            const char *slash = strrchr(to, '/');

            again = 1;
            known_set(ds, apr_pstrmemdup(p, to, (apr_size_t)(slash - to) + 1),
                      0);
            if ((rv = ensure_parent(ds, p, to)) != APR_SUCCESS) {
                return rv;
            }
            continue;
        }
        break;
    }
    if (rv != APR_SUCCESS && status != 412 && status != 404) {
        return rv;
    }
    rv = head(ds, p, to, &got, NULL);
    if (rv == APR_ENOENT && status == 404) {
        return APR_ENOENT;      /* neither there nor here */
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (got != size) {
        pool_log(POOL_LOG_ERR, "WebDAV store %s: %s holds %" APR_OFF_T_FMT
                 " bytes, %" APR_OFF_T_FMT " were %s", ds->base, to, got,
                 size, status == 412 ? "to be moved there" : "sent");
        return status == 412 ? APR_EEXIST : APR_EGENERAL;
    }
    if (status == 412) {
        del(ds, p, from);       /* the same bytes twice: one goes */
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ check */

static apr_status_t dav_check(pool_store_t *s, apr_pool_t *p, long owner_uid,
                              long owner_gid, const char **err)
{
    static const char *const colls[] = { STAGING_COLL, OBJECTS_COLL,
                                         RESULTS_COLL, UPLOADS_COLL,
                                         LOST_COLL };
    dav_store *ds = DS(s);
    self_probe sp = { 0, 0, 0, 0 };
    apr_status_t rv;
    dav_req rq;
    unsigned int i;

    req_init(&rq, ds, "OPTIONS", ds->base);
    rq.timeout = SHORT_TIMEOUT;
    req_call(&rq, 1);
    if (rq.err != POOL_HTTP_OK) {
        *err = apr_psprintf(p, "cannot reach the WebDAV store %s: %s",
                            ds->base, rq.error);
        rv = POOL_STORE_UNAVAILABLE;
        goto out;
    }
    if (rq.status == 401 || rq.status == 403) {
        *err = apr_psprintf(p, "the WebDAV store %s refused us (HTTP %ld): "
                            "check PoolStorageCredentials", ds->base,
                            rq.status);
        rv = APR_EACCES;
        goto out;
    }
    if (status_transient(rq.status)) {
        *err = apr_psprintf(p, "the WebDAV store %s is unavailable (OPTIONS "
                            "answered HTTP %ld)", ds->base, rq.status);
        rv = POOL_STORE_UNAVAILABLE;
        goto out;
    }
    if (rq.status < 200 || rq.status >= 300 || !rq.dav1) {
        *err = apr_psprintf(p, "PoolStorage URL is not a WebDAV collection: "
                            "%s (OPTIONS answered HTTP %ld %s)", ds->base,
                            rq.status, rq.dav1 ? "" : "without \"DAV: 1\"");
        rv = APR_EINVAL;
        goto out;
    }
    rv = propfind(ds, p, "", 0, probe_self, &sp);
    if (rv == APR_EACCES) {
        *err = apr_psprintf(p, "the WebDAV store %s refused us: check "
                            "PoolStorageCredentials", ds->base);
        goto out;
    }
    if (rv == POOL_STORE_UNAVAILABLE) {
        *err = apr_psprintf(p, "the WebDAV store %s is unavailable", ds->base);
        goto out;
    }
    if (rv != APR_SUCCESS || !sp.seen || !sp.collection) {
        *err = apr_psprintf(p, "PoolStorage URL is not a WebDAV collection: "
                            "%s (%s)", ds->base, rv == APR_ENOENT
                            ? "it does not exist" : rv != APR_SUCCESS
                            ? "PROPFIND failed" : "not a collection");
        rv = rv != APR_SUCCESS ? rv : APR_ENOTDIR;
        goto out;
    }
    for (i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
        if ((rv = mkcol(ds, p, colls[i], 0)) != APR_SUCCESS) {
            char buf[120];

            *err = apr_psprintf(p, "cannot create the collection %s%s on the "
                                "WebDAV store: %s", ds->base, colls[i],
                                rv == POOL_STORE_FULL ? "the store is full"
                                : apr_strerror(rv, buf, sizeof(buf)));
            goto out;
        }
    }
    rv = APR_SUCCESS;
out:
    /* httpd forks its children after this: they must not share these
     * connections */
    conn_drop_all(ds);
    return rv;
}

/* ------------------------------------------------------------ spools */

struct pool_spool_t {
    pool_spool_head_t h;        /* first: size, limit, digest */
    dav_store *ds;
    const char *rel;            /* staging/<uuid> */
    const char *url;
    dav_put *put;               /* the PUT, until finished */
    apr_status_t rv;            /* its first error */
    int put_done;               /* finished (rv says how) */
    int finished;               /* staged or aborted */
};

static void spool_finish_put(pool_spool_t *sp)
{
    if (sp->put) {
        if (sp->rv == APR_SUCCESS) {
            sp->rv = put_finish(sp->put);
        }
        else {
            put_abort(sp->put);
        }
        sp->put = NULL;
    }
    sp->put_done = 1;
}

/* The last write was made (the digest is taken): the body is complete,
 * so the PUT is finished now, not when the spool is staged (a batch
 * keeps many spools open: one connection each would add up). */
static void spool_writes_done(pool_spool_t *sp)
{
    if (!sp->finished) {
        spool_finish_put(sp);
    }
}

static apr_status_t spool_cleanup(void *data)
{
    pool_spool_t *sp = data;

    if (!sp->finished) {
        sp->finished = 1;
        if (sp->put) {
            put_abort(sp->put);
            sp->put = NULL;
        }
        else if (sp->put_done && sp->rv == APR_SUCCESS) {
            /* the staging object exists: remove it (no pool to allocate
             * from here) */
            dav_req rq;

            req_init(&rq, sp->ds, "DELETE", sp->url);
            rq.timeout = SHORT_TIMEOUT;
            req_call(&rq, 1);
            if (req_rv(&rq) != APR_SUCCESS && rq.status != 404) {
                pool_log(POOL_LOG_WARN, "WebDAV store %s: cannot remove %s "
                         "(poolctl sweep will)", sp->ds->base, sp->rel);
            }
        }
    }
    pool_spool_head_free(&sp->h);
    return APR_SUCCESS;
}

static apr_status_t dav_spool_open(pool_store_t *s, apr_pool_t *p,
                                   apr_off_t limit, pool_spool_t **out)
{
    pool_spool_t *sp = apr_pcalloc(p, sizeof(*sp));
    apr_status_t rv;

    if ((rv = pool_spool_head_init(&sp->h, s, p, limit)) != APR_SUCCESS) {
        return rv;
    }
    sp->h.writes_done = spool_writes_done;
    sp->ds = DS(s);
    sp->rel = apr_pstrcat(p, STAGING_COLL, pool_uuid(p), NULL);
    sp->url = url_of(sp->ds, p, sp->rel);
    if ((rv = put_open(sp->ds, sp->url, &sp->put)) != APR_SUCCESS) {
        pool_spool_head_free(&sp->h);
        return rv;
    }
    apr_pool_cleanup_register(p, sp, spool_cleanup, apr_pool_cleanup_null);
    *out = sp;
    return APR_SUCCESS;
}

static apr_status_t dav_spool_write(pool_spool_t *sp, const void *buf,
                                    apr_size_t n)
{
    apr_status_t rv;

    if (sp->finished || sp->put_done) {
        return APR_EINVAL;
    }
    if (sp->rv != APR_SUCCESS) {
        return sp->rv;
    }
    if ((rv = pool_spool_head_add(&sp->h, buf, n)) != APR_SUCCESS || !n) {
        return rv;
    }
    if ((rv = put_write(sp->put, buf, n)) != APR_SUCCESS) {
        sp->rv = rv;
    }
    return rv;
}

static apr_status_t dav_spool_stage(pool_spool_t *sp, const char *pool,
                                    const char *id)
{
    apr_status_t rv;

    if (sp->finished) {
        return APR_EINVAL;
    }
    if (!name_ok(pool, id)) {
        rv = APR_EINVAL;
    }
    else {
        spool_finish_put(sp);
        rv = sp->rv;
        if (rv == APR_SUCCESS) {
            rv = move_into_place(sp->ds, sp->h.p, sp->rel,
                                 object_rel(sp->h.p, pool, id), sp->h.size);
        }
    }
    if (rv != APR_SUCCESS) {
        spool_cleanup(sp);
    }
    else {
        sp->finished = 1;
    }
    return rv;
}

static void dav_spool_abort(pool_spool_t *sp)
{
    spool_cleanup(sp);
}

/* No view on this store: an object is final once moved into place. */
static apr_status_t dav_reveal(pool_store_t *s, apr_pool_t *p,
                               const char *pool, const char *id)
{
    return name_ok(pool, id) ? APR_SUCCESS : APR_EINVAL;
}

static apr_status_t dav_remove(pool_store_t *s, apr_pool_t *p,
                               const char *pool, const char *id)
{
    if (!name_ok(pool, id)) {
        return APR_EINVAL;
    }
    return del(DS(s), p, object_rel(p, pool, id));
}

/* ------------------------------------------------------------ reading */

typedef struct {
    const char *rel;
    apr_pool_t *p;
} dav_obj;

static apr_status_t dav_open(pool_store_t *s, apr_pool_t *p, const char *pool,
                             const char *id, int sendfile,
                             pool_store_obj_t **out)
{
    pool_store_obj_t *o;
    dav_obj *d;
    apr_status_t rv;

    if (!name_ok(pool, id)) {
        return APR_ENOENT;
    }
    o = apr_pcalloc(p, sizeof(*o));
    d = apr_pcalloc(p, sizeof(*d));
    d->rel = object_rel(p, pool, id);
    d->p = p;
    if ((rv = head(DS(s), p, d->rel, &o->size, &o->mtime)) != APR_SUCCESS) {
        return rv;
    }
    o->store = s;
    o->priv = d;
    *out = o;
    return APR_SUCCESS;
}

/* The row gives the size: no HEAD (a GET of a missing object answers 404,
 * APR_ENOENT, before any byte). */
static apr_status_t dav_open_known(pool_store_t *s, apr_pool_t *p,
                                   const char *pool, const char *id,
                                   apr_off_t size, apr_time_t mtime,
                                   pool_store_obj_t **out)
{
    pool_store_obj_t *o;
    dav_obj *d;

    if (!name_ok(pool, id) || size < 0) {
        return APR_ENOENT;
    }
    o = apr_pcalloc(p, sizeof(*o));
    d = apr_pcalloc(p, sizeof(*d));
    d->rel = object_rel(p, pool, id);
    d->p = p;
    o->size = size;
    o->mtime = mtime;
    o->store = s;
    o->priv = d;
    *out = o;
    return APR_SUCCESS;
}

static apr_file_t *dav_obj_file(pool_store_obj_t *o)
{
    return NULL;
}

static apr_status_t dav_obj_read(pool_store_obj_t *o, apr_off_t offset,
                                 apr_off_t len, pool_store_sink_fn *fn,
                                 void *baton)
{
    dav_obj *d = o->priv;

    if (offset < 0 || len < 0 || offset > o->size || len > o->size - offset) {
        return APR_EINVAL;
    }
    if (len == 0) {
        return APR_SUCCESS;
    }
    return get_range(DS(o->store), d->p, d->rel, o->size, offset, len, fn,
                     baton);
}

static void dav_obj_close(pool_store_obj_t *o)
{
}

static apr_status_t dav_stat(pool_store_t *s, apr_pool_t *p, const char *pool,
                             const char *id, apr_off_t *size)
{
    if (!name_ok(pool, id)) {
        return APR_ENOENT;
    }
    return head(DS(s), p, object_rel(p, pool, id), size, NULL);
}

/* ------------------------------------------------ resumable uploads */

typedef struct {
    apr_off_t start;
    apr_off_t size;
    apr_time_t mtime;
} dav_part;

typedef struct {
    apr_array_header_t *parts;  /* dav_part, by name (unsorted) */
    apr_array_header_t *junk;   /* const char *: other names */
    apr_time_t newest;
} part_list;

static int part_name(const char *name, apr_off_t *start)
{
    apr_off_t v = 0;
    int i;

    for (i = 0; i < PART_DIGITS; i++) {
        if (!apr_isdigit(name[i])) {
            return 0;
        }
        if (v > (APR_INT64_MAX - 9) / 10) {
            return 0;
        }
        v = v * 10 + (name[i] - '0');
    }
    if (name[PART_DIGITS]) {
        return 0;
    }
    *start = v;
    return 1;
}

static apr_status_t collect_part(void *baton, apr_pool_t *ep,
                                 const dav_entry *e)
{
    part_list *pl = baton;
    dav_part *pt;
    apr_off_t start;

    if (e->mtime > pl->newest) {
        pl->newest = e->mtime;  /* the collection's own time counts too */
    }
    if (e->self) {
        return APR_SUCCESS;
    }
    if (e->collection || !part_name(e->name, &start) || e->size < 0) {
        if (!e->collection && e->name[0] && e->name[0] != '.') {
            APR_ARRAY_PUSH(pl->junk, const char *) =
                apr_pstrdup(pl->junk->pool, e->name);
        }
        return APR_SUCCESS;
    }
    pt = apr_array_push(pl->parts);
    pt->start = start;
    pt->size = e->size;
    pt->mtime = e->mtime;
    return APR_SUCCESS;
}

static int part_cmp(const void *a, const void *b)
{
    const dav_part *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start ? 1
           : x->size < y->size ? -1 : x->size > y->size;
}

/* The parts of upload id, sorted by start (APR_ENOENT: no data). */
static apr_status_t list_parts(dav_store *ds, apr_pool_t *p, const char *id,
                               part_list *pl)
{
    apr_status_t rv;

    pl->parts = apr_array_make(p, 8, sizeof(dav_part));
    pl->junk = apr_array_make(p, 2, sizeof(const char *));
    pl->newest = 0;
    rv = propfind(ds, p, upload_coll(p, id), 1, collect_part, pl);
    if (rv == APR_SUCCESS && pl->parts->nelts > 1) {
        qsort(pl->parts->elts, (size_t)pl->parts->nelts, sizeof(dav_part),
              part_cmp);
    }
    return rv;
}

/* How many parts from the first make a contiguous run from 0, and where
 * it ends. */
static int part_chain(const part_list *pl, apr_off_t *end)
{
    int i;

    *end = 0;
    for (i = 0; i < pl->parts->nelts; i++) {
        const dav_part *pt = &APR_ARRAY_IDX(pl->parts, i, dav_part);

        if (pt->start != *end) {
            break;
        }
        *end += pt->size;
    }
    return i;
}

static apr_status_t put_sink(void *baton, const char *buf, apr_size_t n)
{
    return put_write(baton, buf, n);
}

/* Replaces part `start` by its first keep bytes: its prefix to
 * <start>.cut, then MOVEd over it. */
static apr_status_t cut_part(dav_store *ds, apr_pool_t *p, const char *id,
                             const dav_part *pt, apr_off_t keep)
{
    const char *rel = part_rel(p, id, pt->start);
    const char *tmp = apr_pstrcat(p, rel, ".cut", NULL);
    dav_put *put;
    apr_status_t rv;

    if ((rv = put_open(ds, url_of(ds, p, tmp), &put)) != APR_SUCCESS) {
        return rv;
    }
    rv = get_range(ds, p, rel, pt->size, 0, keep, put_sink, put);
    if (rv != APR_SUCCESS) {
        put_abort(put);
        return rv;
    }
    if ((rv = put_finish(put)) != APR_SUCCESS) {
        return rv;
    }
    rv = simple(ds, p, "MOVE", tmp, apr_pstrcat(p, "Destination: ",
                url_of(ds, p, rel), NULL), "Overwrite: T", 1, NULL, NULL);
    if (rv != APR_SUCCESS) {
        del(ds, p, tmp);
    }
    return rv;
}

/* Cuts the data of upload id back to offset: parts beyond it are deleted
 * (the last first, so that what is left is always a prefix), a part across
 * it is cut, other names are deleted.  pl: the parts, kept up to date. */
static apr_status_t cut_back(dav_store *ds, apr_pool_t *p, const char *id,
                             part_list *pl, apr_off_t offset)
{
    apr_off_t end;
    int i, chain = part_chain(pl, &end);
    apr_status_t rv;

    for (i = pl->parts->nelts - 1; i >= 0; i--) {
        dav_part *pt = &APR_ARRAY_IDX(pl->parts, i, dav_part);

        if (pt->start >= offset || i >= chain) {
            rv = del(ds, p, part_rel(p, id, pt->start));
            if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
                return rv;
            }
            pt->size = -1;
        }
        else if (pt->start + pt->size > offset) {
            if ((rv = cut_part(ds, p, id, pt, offset - pt->start))
                != APR_SUCCESS) {
                return rv;
            }
            pt->size = offset - pt->start;
        }
    }
    for (i = 0; i < pl->junk->nelts; i++) {
        rv = del(ds, p, apr_pstrcat(p, upload_coll(p, id),
                                    APR_ARRAY_IDX(pl->junk, i, const char *),
                                    NULL));
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            return rv;
        }
    }
    apr_array_clear(pl->junk);
    /* keep the parts that are left */
    {
        int o = 0;

        for (i = 0; i < pl->parts->nelts; i++) {
            dav_part *pt = &APR_ARRAY_IDX(pl->parts, i, dav_part);
            if (pt->size > 0) {
                APR_ARRAY_IDX(pl->parts, o++, dav_part) = *pt;
            }
        }
        pl->parts->nelts = o;
    }
    return APR_SUCCESS;
}

struct pool_upfile_t {
    dav_store *ds;
    apr_pool_t *p;
    const char *id;
    part_list pl;               /* the durable parts */
    apr_off_t offset;           /* where the next write goes */
    dav_put *put;               /* the part being written, */
    apr_off_t part_start;       /* from here */
    const char *part_url;
    apr_status_t rv;            /* its first error */
    int closed;
};

static apr_status_t upfile_cleanup(void *data)
{
    pool_upfile_t *u = data;

    if (u->put) {
        put_abort(u->put);      /* never synced: never there */
        u->put = NULL;
    }
    u->closed = 1;
    return APR_SUCCESS;
}

static apr_status_t dav_upload_open(pool_store_t *s, apr_pool_t *p,
                                    const char *id, apr_off_t offset,
                                    int create, pool_upfile_t **out)
{
    dav_store *ds = DS(s);
    pool_upfile_t *u;
    apr_off_t end;
    apr_status_t rv;

    if (!id_ok(id) || offset < 0) {
        return APR_EINVAL;
    }
    u = apr_pcalloc(p, sizeof(*u));
    u->ds = ds;
    u->p = p;
    u->id = apr_pstrdup(p, id);
    rv = list_parts(ds, p, id, &u->pl);
    if (APR_STATUS_IS_ENOENT(rv) && create && offset == 0) {
        if ((rv = mkcol(ds, p, upload_coll(p, id), 0)) != APR_SUCCESS) {
            return rv;
        }
        u->pl.parts = apr_array_make(p, 8, sizeof(dav_part));
        u->pl.junk = apr_array_make(p, 2, sizeof(const char *));
    }
    else if (rv != APR_SUCCESS) {
        return rv;
    }
    part_chain(&u->pl, &end);
    if (end < offset) {
        return APR_EINCOMPLETE;
    }
    /* the database's offset is the truth: what lies beyond was never
     * recorded */
    if ((rv = cut_back(ds, p, id, &u->pl, offset)) != APR_SUCCESS) {
        return rv;
    }
    u->offset = offset;
    apr_pool_cleanup_register(p, u, upfile_cleanup, apr_pool_cleanup_null);
    *out = u;
    return APR_SUCCESS;
}

static apr_status_t dav_upload_write(pool_upfile_t *u, const void *buf,
                                     apr_size_t n)
{
    apr_status_t rv;

    if (u->closed) {
        return APR_EINVAL;
    }
    if (u->rv != APR_SUCCESS) {
        return u->rv;
    }
    if (!n) {
        return APR_SUCCESS;
    }
    if (!u->put) {
        u->part_start = u->offset;
        u->part_url = url_of(u->ds, u->p, part_rel(u->p, u->id, u->offset));
        if ((rv = put_open(u->ds, u->part_url, &u->put)) != APR_SUCCESS) {
            return rv;
        }
    }
    if ((rv = put_write(u->put, buf, n)) != APR_SUCCESS) {
        u->rv = rv;
        return rv;
    }
    u->offset += (apr_off_t)n;
    return APR_SUCCESS;
}

/* Finishes the part being written: durable once the store answered. */
static apr_status_t finish_part(pool_upfile_t *u)
{
    apr_status_t rv;
    dav_part *pt;

    if (!u->put) {
        return u->rv;
    }
    if (u->rv != APR_SUCCESS) {
        put_abort(u->put);
        u->put = NULL;
        u->offset = u->part_start;
        return u->rv;
    }
    rv = put_finish(u->put);
    u->put = NULL;
    if (rv != APR_SUCCESS) {
        u->offset = u->part_start;
        u->rv = rv;
        return rv;
    }
    pt = apr_array_push(u->pl.parts);
    pt->start = u->part_start;
    pt->size = u->offset - u->part_start;
    pt->mtime = apr_time_now();
    return APR_SUCCESS;
}

static apr_status_t dav_upload_sync(pool_upfile_t *u)
{
    if (u->closed) {
        return APR_EINVAL;
    }
    return finish_part(u);
}

static apr_status_t dav_upload_truncate(pool_upfile_t *u, apr_off_t offset)
{
    apr_status_t rv;

    if (u->closed || offset < 0) {
        return APR_EINVAL;
    }
    if (u->put) {
        /* the part never becomes durable */
        put_abort(u->put);
        u->put = NULL;
        u->offset = u->part_start;
    }
    u->rv = APR_SUCCESS;
    if (offset < u->offset) {
        if ((rv = cut_back(u->ds, u->p, u->id, &u->pl, offset))
            != APR_SUCCESS) {
            return rv;
        }
    }
    else if (offset > u->offset) {
        return APR_EINVAL;
    }
    u->offset = offset;
    return APR_SUCCESS;
}

typedef struct {
    char *buf;
} mem_sink_ctx;

static apr_status_t mem_sink(void *baton, const char *buf, apr_size_t n)
{
    mem_sink_ctx *m = baton;

    memcpy(m->buf, buf, n);
    m->buf += n;
    return APR_SUCCESS;
}

static apr_status_t dav_upload_read(pool_upfile_t *u, apr_off_t offset,
                                    void *buf, apr_size_t n)
{
    mem_sink_ctx m;
    apr_off_t end = offset + (apr_off_t)n;
    apr_status_t rv;
    apr_pool_t *sp;
    int i;

    if (u->closed || offset < 0) {
        return APR_EINVAL;
    }
    /* what was written is read back from the store: durable first */
    if ((rv = finish_part(u)) != APR_SUCCESS) {
        return rv;
    }
    if (end > u->offset) {
        return APR_EOF;
    }
    m.buf = buf;
    /* (called block by block: what a read allocates goes with it) */
    apr_pool_create(&sp, u->p);
    for (i = 0; i < u->pl.parts->nelts && offset < end; i++) {
        const dav_part *pt = &APR_ARRAY_IDX(u->pl.parts, i, dav_part);
        apr_off_t from, to;

        if (pt->start + pt->size <= offset || pt->start > offset) {
            continue;
        }
        from = offset - pt->start;
        to = end < pt->start + pt->size ? end - pt->start : pt->size;
        rv = get_range(u->ds, sp, part_rel(sp, u->id, pt->start), pt->size,
                       from, to - from, mem_sink, &m);
        if (rv != APR_SUCCESS) {
            break;
        }
        offset = pt->start + to;
    }
    apr_pool_destroy(sp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return offset == end ? APR_SUCCESS : APR_EOF;
}

static void dav_upload_close(pool_upfile_t *u)
{
    apr_pool_cleanup_run(u->p, u, upfile_cleanup);
}

/* Feeds the first len bytes of upload id to fn, part by part. */
static apr_status_t each_upload_block(dav_store *ds, apr_pool_t *p,
                                      const char *id, apr_off_t len,
                                      pool_store_sink_fn *fn, void *baton,
                                      part_list *out)
{
    part_list pl;
    apr_off_t end, done = 0;
    apr_status_t rv;
    int i, chain;

    if (!id_ok(id)) {
        return APR_EINVAL;
    }
    if ((rv = list_parts(ds, p, id, &pl)) != APR_SUCCESS) {
        return rv;
    }
    chain = part_chain(&pl, &end);
    if (end < len) {
        return APR_EINCOMPLETE;
    }
    if (out) {
        *out = pl;
    }
    if (!fn) {
        return APR_SUCCESS;
    }
    for (i = 0; i < chain && done < len; i++) {
        const dav_part *pt = &APR_ARRAY_IDX(pl.parts, i, dav_part);
        apr_off_t n = pt->size < len - done ? pt->size : len - done;
        apr_pool_t *sp;

        apr_pool_create(&sp, p);
        rv = get_range(ds, sp, part_rel(sp, id, pt->start), pt->size, 0, n,
                       fn, baton);
        apr_pool_destroy(sp);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        done += n;
    }
    return APR_SUCCESS;
}

static apr_status_t dav_upload_digest(pool_store_t *s, apr_pool_t *p,
                                      const char *id, apr_off_t len,
                                      unsigned char sha256[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    apr_status_t rv;

    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rv = APR_ENOMEM;
    }
    else {
        rv = each_upload_block(DS(s), p, id, len, pool_store_digest_sink, md, NULL);
    }
    if (rv == APR_SUCCESS && EVP_DigestFinal_ex(md, sha256, &dlen) != 1) {
        rv = APR_EGENERAL;
    }
    if (md) {
        EVP_MD_CTX_free(md);
    }
    return rv;
}

static apr_status_t dav_upload_to_spool(pool_store_t *s, apr_pool_t *p,
                                        const char *id, apr_off_t len,
                                        pool_spool_t *sp)
{
    return each_upload_block(DS(s), p, id, len, pool_store_spool_sink, sp, NULL);
}

static apr_status_t dav_upload_stage(pool_store_t *s, apr_pool_t *p,
                                     const char *id, apr_off_t len,
                                     const char *pool, const char *file_id)
{
    dav_store *ds = DS(s);
    const char *target, *staging;
    apr_off_t got;
    part_list pl;
    apr_status_t rv;

    if (!name_ok(pool, file_id) || !pool || !id_ok(id)) {
        return APR_EINVAL;
    }
    target = object_rel(p, pool, file_id);
    if (head(ds, p, target, &got, NULL) == APR_SUCCESS && got == len) {
        return APR_SUCCESS;     /* staged before */
    }
    if ((rv = each_upload_block(ds, p, id, len, NULL, NULL, &pl))
        != APR_SUCCESS) {
        return rv;
    }
    staging = apr_pstrcat(p, STAGING_COLL, pool_uuid(p), NULL);
    if (len > 0 && pl.parts->nelts >= 1
        && APR_ARRAY_IDX(pl.parts, 0, dav_part).start == 0
        && APR_ARRAY_IDX(pl.parts, 0, dav_part).size == len) {
        /* one part holds it all: the store copies it itself (412: a
         * COPY retried after its answer was lost found its copy) */
        long status = 0;

        rv = simple(ds, p, "COPY", part_rel(p, id, 0),
                    apr_pstrcat(p, "Destination: ", url_of(ds, p, staging),
                                NULL), "Overwrite: F", 1, copy_handled, &status);
        if (status == 412) {
            rv = APR_SUCCESS;
        }
    }
    else {
        /* the parts, read back, into one PUT */
        dav_put *put;

        if ((rv = put_open(ds, url_of(ds, p, staging), &put))
            == APR_SUCCESS) {
            rv = each_upload_block(ds, p, id, len, put_sink, put, NULL);
            if (rv != APR_SUCCESS) {
                put_abort(put);
            }
            else {
                rv = put_finish(put);
            }
        }
    }
    if (rv == APR_SUCCESS) {
        rv = move_into_place(ds, p, staging, target, len);
    }
    if (rv != APR_SUCCESS) {
        del(ds, p, staging);
    }
    return rv;
}

static apr_status_t sum_parts(void *baton, apr_pool_t *ep, const dav_entry *e)
{
    apr_off_t *sum = baton;

    if (!e->self && !e->collection && e->size > 0) {
        *sum += e->size;
    }
    return APR_SUCCESS;
}

static apr_status_t dav_upload_remove(pool_store_t *s, apr_pool_t *p,
                                      const char *id, apr_off_t *freed)
{
    dav_store *ds = DS(s);
    apr_off_t sum = 0;
    apr_status_t rv;

    if (freed) {
        *freed = 0;
    }
    if (!id_ok(id)) {
        return APR_EINVAL;
    }
    if (freed) {
        rv = propfind(ds, p, upload_coll(p, id), 1, sum_parts, &sum);
        if (APR_STATUS_IS_ENOENT(rv)) {
            return APR_SUCCESS;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = del(ds, p, upload_coll(p, id));
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    if (freed) {
        *freed = sum;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------ listings for sweep */

typedef struct {
    apr_array_header_t *names;
    apr_time_t before;
    int collections;            /* collect collections (1) or objects (0) */
    int ids_only;
    apr_array_header_t *sizes;  /* apr_off_t, for objects */
} name_list;

static apr_status_t collect_name(void *baton, apr_pool_t *ep,
                                 const dav_entry *e)
{
    name_list *nl = baton;

    if (e->self || !e->collection != !nl->collections) {
        return APR_SUCCESS;
    }
    if (nl->ids_only && !id_ok(e->name)) {
        return APR_SUCCESS;
    }
    if (nl->before && (!e->mtime || e->mtime >= nl->before)) {
        return APR_SUCCESS;     /* unknown times are never old */
    }
    APR_ARRAY_PUSH(nl->names, const char *) =
        apr_pstrdup(nl->names->pool, e->name);
    if (nl->sizes) {
        APR_ARRAY_PUSH(nl->sizes, apr_off_t) = e->size > 0 ? e->size : 0;
    }
    return APR_SUCCESS;
}

static apr_status_t dav_upload_list_stale(pool_store_t *s, apr_pool_t *p,
                                          apr_time_t before,
                                          apr_array_header_t **ids)
{
    dav_store *ds = DS(s);
    name_list nl;
    apr_status_t rv;
    apr_pool_t *ip;
    int i;

    memset(&nl, 0, sizeof(nl));
    nl.names = apr_array_make(p, 16, sizeof(const char *));
    nl.collections = 1;
    nl.ids_only = 1;
    *ids = apr_array_make(p, 8, sizeof(const char *));
    rv = propfind(ds, p, UPLOADS_COLL, 1, collect_name, &nl);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&ip, p);
    for (i = 0; i < nl.names->nelts; i++) {
        const char *id = APR_ARRAY_IDX(nl.names, i, const char *);
        part_list pl;

        apr_pool_clear(ip);
        /* the newest part decides (a collection's own time need not
         * follow its members on every server) */
        pl.parts = apr_array_make(ip, 8, sizeof(dav_part));
        pl.junk = apr_array_make(ip, 2, sizeof(const char *));
        pl.newest = 0;
        rv = propfind(ds, ip, upload_coll(ip, id), 1, collect_part, &pl);
        if (APR_STATUS_IS_ENOENT(rv)) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        if (pl.newest < before) {
            APR_ARRAY_PUSH(*ids, const char *) = apr_pstrdup(p, id);
        }
    }
    apr_pool_destroy(ip);
    return rv == APR_ENOENT ? APR_SUCCESS : rv;
}

static apr_status_t dav_spool_sweep(pool_store_t *s, apr_pool_t *p,
                                    apr_time_t before, int *n,
                                    apr_off_t *bytes)
{
    dav_store *ds = DS(s);
    name_list nl;
    apr_status_t rv;
    int i;

    *n = 0;
    *bytes = 0;
    memset(&nl, 0, sizeof(nl));
    nl.names = apr_array_make(p, 16, sizeof(const char *));
    nl.sizes = apr_array_make(p, 16, sizeof(apr_off_t));
    nl.ids_only = 1;
    nl.before = before;
    rv = propfind(ds, p, STAGING_COLL, 1, collect_name, &nl);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < nl.names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(nl.names, i, const char *);

        rv = del(ds, p, apr_pstrcat(p, STAGING_COLL, name, NULL));
        if (rv == APR_SUCCESS) {
            (*n)++;
            *bytes += APR_ARRAY_IDX(nl.sizes, i, apr_off_t);
        }
        else if (!APR_STATUS_IS_ENOENT(rv)) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ walk */

typedef struct {
    apr_pool_t *bp;             /* the batch's, cleared after every batch */
    apr_array_header_t *batch;
    const char *pool;
    apr_time_t before;
    pool_store_walk_fn *fn;
    void *baton;
} walk_ctx;

static apr_status_t walk_flush(walk_ctx *w)
{
    apr_status_t rv = APR_SUCCESS;

    if (w->batch->nelts) {
        rv = w->fn(w->baton, w->bp, w->pool, w->batch);
    }
    apr_pool_clear(w->bp);
    w->batch = apr_array_make(w->bp, 64, sizeof(pool_store_entry_t));
    return rv;
}

/* One shard: its objects go to the batch as the answer arrives; a full
 * batch is handed on from within the parse. */
static apr_status_t walk_entry(void *baton, apr_pool_t *ep,
                               const dav_entry *e)
{
    walk_ctx *w = baton;
    pool_store_entry_t *pe;

    if (e->self || e->collection || !id_ok(e->name) || e->size < 0
        || !e->mtime || e->mtime >= w->before) {
        return APR_SUCCESS;
    }
    pe = apr_array_push(w->batch);
    pe->id = apr_pstrdup(w->bp, e->name);
    pe->size = e->size;
    pe->staged = 0;             /* final once moved: no view to reveal in */
    if (w->batch->nelts >= POOL_STORE_WALK_BATCH) {
        return walk_flush(w);
    }
    return APR_SUCCESS;
}

static int shard_ok(const char *s)
{
    return apr_isxdigit(s[0]) && apr_isxdigit(s[1]) && !s[2]
           && !apr_isupper(s[0]) && !apr_isupper(s[1]);
}

/* The shards of coll (objects/<pool>/ or results/), then their objects. */
static apr_status_t walk_shards(dav_store *ds, apr_pool_t *p, walk_ctx *w,
                                const char *coll)
{
    name_list nl;
    apr_status_t rv;
    apr_pool_t *sp;
    int i;

    memset(&nl, 0, sizeof(nl));
    nl.names = apr_array_make(p, 256, sizeof(const char *));
    nl.collections = 1;
    rv = propfind(ds, p, coll, 1, collect_name, &nl);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&sp, p);
    for (i = 0; i < nl.names->nelts && rv == APR_SUCCESS; i++) {
        const char *shard = APR_ARRAY_IDX(nl.names, i, const char *);

        if (!shard_ok(shard)) {
            continue;
        }
        apr_pool_clear(sp);
        rv = propfind(ds, sp, apr_pstrcat(sp, coll, shard, "/", NULL), 1,
                      walk_entry, w);
        if (APR_STATUS_IS_ENOENT(rv)) {
            rv = APR_SUCCESS;
        }
        if (rv == APR_SUCCESS) {
            rv = walk_flush(w);
        }
    }
    apr_pool_destroy(sp);
    return rv;
}

static apr_status_t dav_committed_walk(pool_store_t *s, apr_pool_t *p,
                                       apr_time_t before,
                                       pool_store_walk_fn *fn, void *baton)
{
    dav_store *ds = DS(s);
    walk_ctx w;
    name_list pools;
    apr_status_t rv;
    apr_pool_t *pp;
    int i;

    memset(&w, 0, sizeof(w));
    w.fn = fn;
    w.baton = baton;
    w.before = before;
    apr_pool_create(&w.bp, p);
    w.batch = apr_array_make(w.bp, 64, sizeof(pool_store_entry_t));
    memset(&pools, 0, sizeof(pools));
    pools.names = apr_array_make(p, 16, sizeof(const char *));
    pools.collections = 1;
    rv = propfind(ds, p, OBJECTS_COLL, 1, collect_name, &pools);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = APR_SUCCESS;
    }
    apr_pool_create(&pp, p);
    for (i = 0; i < pools.names->nelts && rv == APR_SUCCESS; i++) {
        const char *pool = APR_ARRAY_IDX(pools.names, i, const char *);

        if (pool_ident_check(pool)) {
            continue;
        }
        apr_pool_clear(pp);
        w.pool = apr_pstrdup(pp, pool);
        rv = walk_shards(ds, pp, &w,
                         apr_pstrcat(pp, OBJECTS_COLL, pool, "/", NULL));
    }
    if (rv == APR_SUCCESS) {
        w.pool = NULL;
        rv = walk_shards(ds, p, &w, RESULTS_COLL);
    }
    apr_pool_destroy(pp);
    apr_pool_destroy(w.bp);
    return rv;
}

static apr_status_t dav_lost_found(pool_store_t *s, apr_pool_t *p,
                                   const char *pool, const char *id,
                                   const char **moved_to)
{
    dav_store *ds = DS(s);
    const char *to;
    long status = 0;
    apr_status_t rv;

    if (!id_ok(id) || (pool && pool_ident_check(pool))) {
        return APR_EINVAL;
    }
    to = apr_pstrcat(p, LOST_COLL, pool ? pool : LOST_RESULTS, "/", id, NULL);
    if ((rv = ensure_parent(ds, p, to)) != APR_SUCCESS) {
        return rv;
    }
    rv = simple(ds, p, "MOVE", object_rel(p, pool, id),
                apr_pstrcat(p, "Destination: ", url_of(ds, p, to), NULL),
                "Overwrite: T", 1, NULL, &status);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *moved_to = url_of(ds, p, to);
    return APR_SUCCESS;
}

static const pool_store_ops_t dav_ops = {
    "webdav",
    dav_check,
    dav_spool_open,
    dav_spool_write,
    dav_spool_stage,
    dav_spool_abort,
    dav_reveal,
    dav_remove,
    dav_open,
    dav_obj_file,
    dav_obj_read,
    dav_obj_close,
    dav_stat,
    dav_upload_open,
    dav_upload_write,
    dav_upload_truncate,
    dav_upload_sync,
    dav_upload_read,
    dav_upload_close,
    dav_upload_digest,
    dav_upload_to_spool,
    dav_upload_stage,
    dav_upload_remove,
    dav_upload_list_stale,
    dav_spool_sweep,
    dav_committed_walk,
    dav_lost_found,
    dav_open_known
};

/* ------------------------------------------------------------ creation */

/* "user:password" from the first line of path. */
static const char *read_credentials(apr_pool_t *p, const char *path,
                                    const char **user, const char **password)
{
    apr_file_t *f;
    apr_status_t rv;
    char line[1024], *colon;
    apr_size_t n;
    char buf[120];

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "PoolStorageCredentials %s: cannot read it: "
                            "%s", path, apr_strerror(rv, buf, sizeof(buf)));
    }
    rv = apr_file_gets(line, sizeof(line), f);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(p, "PoolStorageCredentials %s: cannot read it: "
                            "%s", path, apr_strerror(rv, buf, sizeof(buf)));
    }
    if (rv == APR_EOF) {
        line[0] = '\0';
    }
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    colon = strchr(line, ':');
    if (!colon || colon == line || !colon[1]) {
        return apr_psprintf(p, "PoolStorageCredentials %s: the first line "
                            "must be user:password", path);
    }
    for (n = 0; line[n]; n++) {
        if ((unsigned char)line[n] < 0x20 || line[n] == 0x7f) {
            return apr_psprintf(p, "PoolStorageCredentials %s: the first "
                                "line contains control characters", path);
        }
    }
    *user = apr_pstrmemdup(p, line, (apr_size_t)(colon - line));
    *password = apr_pstrdup(p, colon + 1);
    memset(line, 0, sizeof(line));
    return NULL;
}

static int dav_globals_done;

pool_store_t *pool_store_dav(apr_pool_t *p, const char *url,
                             const char *credentials_file, const char **err)
{
    pool_store_t *s;
    dav_store *ds;
    apr_uri_t uri;
    const char *path, *dec;
    apr_size_t n;

    if (apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme
        || (strcasecmp(uri.scheme, "http") && strcasecmp(uri.scheme, "https"))
        || !uri.hostname || !*uri.hostname || uri.query || uri.fragment
        || strchr(url, '?') || strchr(url, '#')) {
        *err = "not an http:// or https:// URL of a WebDAV collection "
               "(scheme, host, optional port and path)";
        return NULL;
    }
    if (uri.user || uri.password) {
        *err = "the URL must not contain credentials: put user:password in "
               "the file that PoolStorageCredentials names";
        return NULL;
    }
    if (!dav_globals_done) {
        /* at configuration time, before any thread */
        if (pool_http_global_init() != APR_SUCCESS) {
            *err = "cannot initialise libcurl";
            return NULL;
        }
        xmlInitParser();
        dav_globals_done = 1;
    }
    ds = apr_pcalloc(p, sizeof(*ds));
    n = strlen(url);
    ds->base = url[n - 1] == '/' ? apr_pstrdup(p, url)
                                 : apr_pstrcat(p, url, "/", NULL);
    path = uri.path && *uri.path ? uri.path : "/";
    dec = apr_punescape_url(p, path, NULL, NULL, 0);
    path = dec ? dec : path;
    n = strlen(path);
    while (n > 0 && path[n - 1] == '/') {
        n--;
    }
    ds->base_path = apr_pstrmemdup(p, path, n);
    if (credentials_file) {
        if ((*err = read_credentials(p, credentials_file, &ds->user,
                                     &ds->password)) != NULL) {
            return NULL;
        }
    }
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&ds->lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS) {
        *err = "cannot create a mutex";
        return NULL;
    }
#endif
    ds->pid = getpid();
    ds->known = calloc(KNOWN_MAX, sizeof(char *));
    if (!ds->known) {
        *err = "out of memory";
        return NULL;
    }
    apr_pool_cleanup_register(p, ds, store_cleanup, apr_pool_cleanup_null);
    s = apr_pcalloc(p, sizeof(*s));
    s->ops = &dav_ops;
    s->root = ds->base;
    s->priv = ds;
    return s;
}
