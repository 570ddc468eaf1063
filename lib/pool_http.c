/* Outbound HTTP on libcurl (pool_http.h).  One exchange at a time
 * (pool_http_perform, a push) reuses the client's easy handle on the
 * client's multi handle, whose connection cache keeps its connections open
 * between requests; many at once (pool_http_multi_*) share a multi
 * handle's connection cache.  All run the same code per exchange:
 * xfer_setup sets the options, exchange_reset clears what one answer
 * leaves, xfer_finish classifies the outcome and decides whether a
 * redirect is followed. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "pool_http.h"

#define MULTI_MAXCONNECTS 128   /* idle connections a multi keeps */
#define MULTI_SPARE_MAX   256   /* idle easy handles a multi keeps */

/* The outbound network guard of a client with a policy: the policy applied
 * to every address a connection is about to use (after DNS, on every
 * redirect), so a denied network never sees a packet. */
typedef struct {
    const pool_netpolicy_t *net;
    apr_pool_t *p;              /* scratch for the address checks */
    int denied;                 /* set when an address was refused */
    char denied_ip[64];         /* the last refused address */
} net_guard_t;

struct pool_http_t {
    apr_pool_t *p;
    const char *user_agent;
    const pool_netpolicy_t *net;
    pool_http_timeouts_t timeouts;
    int direct;                 /* no policy and no proxy either */
    CURL *easy;                 /* one at a time: reused, */
    CURLM *m;                   /* driven here (its connection cache) */
    int busy;                   /* a push is open */
};

struct pool_http_multi_t {
    pool_http_t *http;
    apr_pool_t *p;
    CURLM *m;
    pool_http_xfer_t *active;   /* in flight, linked by next/prev */
    int inflight;
    apr_array_header_t *spare;  /* easy handles of finished transfers, reset
                                 * for the next (CURL *) */
};

struct pool_http_xfer_t {
    pool_http_req_t *req;
    CURL *h;
    int own_handle;             /* h is ours (multi), not the client's */
    struct curl_slist *hdrs;
    net_guard_t guard;
    char errbuf[CURL_ERROR_SIZE];
    const char *url;            /* of this hop */
    const char *host0;          /* of the first URL: redirects stay there */
    /* the answer being read */
    long status;
    int headers_done;
    int to_sink;
    apr_size_t header_bytes;
    char *mem;                  /* malloc'd: a 64 MB limit must not leave
                                 * 128 MB of pool behind */
    apr_size_t mem_len, mem_cap;
    int too_large;              /* 1 body, 2 headers */
    int cb_failed;
    int read_failed;
    int aborted;
    int nomem;
    pool_http_push_t *push;     /* the body comes from pool_http_push_* */
    /* multi */
    pool_http_multi_t *multi;
    pool_http_done_fn *done;
    void *baton;
    pool_http_xfer_t *next, *prev;
};

/* ------------------------------------------------------------ global */

apr_status_t pool_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
           ? APR_SUCCESS : APR_EGENERAL;
}

void pool_http_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ------------------------------------------------------------ guard */

static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *addr)
{
    net_guard_t *g = clientp;
    char ip[64] = "";
    apr_pool_t *ptemp;
    int ok = 0;

    if (addr->family == AF_INET) {
        inet_ntop(AF_INET,
                  &((struct sockaddr_in *)(void *)&addr->addr)->sin_addr,
                  ip, sizeof(ip));
    }
    else if (addr->family == AF_INET6) {
        inet_ntop(AF_INET6,
                  &((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr,
                  ip, sizeof(ip));
    }
    if (*ip && apr_pool_create(&ptemp, g->p) == APR_SUCCESS) {
        ok = pool_net_allowed(g->net, ip, ptemp);
        apr_pool_destroy(ptemp);
    }
    if (!ok) {
        /* refused before any connection: nothing is sent */
        g->denied = 1;
        apr_cpystrn(g->denied_ip, *ip ? ip : "?", sizeof(g->denied_ip));
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* The guard on h (g must live as long as h's transfers), and no proxy
 * from the environment, which would hide the addresses. */
static void net_guard(CURL *h, net_guard_t *g, const pool_netpolicy_t *net,
                      apr_pool_t *p)
{
    memset(g, 0, sizeof(*g));
    g->net = net;
    g->p = p;
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
}

/* ------------------------------------------------------------ client */

static apr_status_t client_cleanup(void *data)
{
    pool_http_t *http = data;

    if (http->m && http->easy && http->busy) {
        curl_multi_remove_handle(http->m, http->easy);
    }
    if (http->m) {
        curl_multi_cleanup(http->m);    /* closes the connections */
        http->m = NULL;
    }
    if (http->easy) {
        curl_easy_cleanup(http->easy);
        http->easy = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t pool_http_create(pool_http_t **phttp, apr_pool_t *p,
                              const char *user_agent,
                              const pool_netpolicy_t *net)
{
    pool_http_t *http = apr_pcalloc(p, sizeof(*http));

    http->p = p;
    http->user_agent = user_agent ? apr_pstrdup(p, user_agent) : NULL;
    http->net = net;
    http->timeouts.connect = POOL_HTTP_CONNECT_DEFAULT;
    apr_pool_cleanup_register(p, http, client_cleanup, apr_pool_cleanup_null);
    *phttp = http;
    return APR_SUCCESS;
}

void pool_http_set_direct(pool_http_t *http)
{
    http->direct = 1;
}

void pool_http_set_timeouts(pool_http_t *http, const pool_http_timeouts_t *t)
{
    http->timeouts = *t;
}

pool_http_req_t *pool_http_req_make(pool_http_t *http, apr_pool_t *p,
                                    const char *method, const char *url)
{
    pool_http_req_t *req = apr_pcalloc(p, sizeof(*req));

    req->p = p;
    req->http = http;
    req->method = method ? method : "GET";
    req->url = url;
    req->headers = apr_table_make(p, 8);
    req->body_max = POOL_HTTP_BODY_DEFAULT;
    req->error_body_max = POOL_HTTP_ERROR_BODY_MAX;
    req->timeout = http->timeouts;
    req->max_redirects = 5;
    return req;
}

/* ------------------------------------------------------ the callbacks */

/* Where a body goes is known once the answer's headers are: a 2xx to
 * on_body, refused at once when its Content-Length is over the limit. */
static int headers_complete(pool_http_xfer_t *x)
{
    pool_http_req_t *req = x->req;
    const char *cl;

    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status < 200) {
        return 1;               /* 1xx: the real answer follows */
    }
    x->headers_done = 1;
    req->resp.status = (int)x->status;
    x->to_sink = req->on_body && x->status >= 200 && x->status <= 299;
    cl = apr_table_get(req->resp.headers, "Content-Length");
    if (x->to_sink && cl && !apr_table_get(req->resp.headers,
                                           "Transfer-Encoding")) {
        char *end;
        apr_off_t n;
        if (apr_strtoff(&n, cl, &end, 10) == APR_SUCCESS && !*end
            && n > req->body_max) {
            x->too_large = 1;
            return 0;
        }
    }
    return 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    pool_http_xfer_t *x = ud;
    pool_http_req_t *req = x->req;
    size_t n = size * nmemb, len = n;
    const char *colon;

    if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
        /* a new answer (after a 1xx): its headers only */
        apr_table_clear(req->resp.headers);
        x->header_bytes = 0;
        x->headers_done = 0;
        x->to_sink = 0;
        return n;
    }
    x->header_bytes += n;
    if (x->header_bytes > POOL_HTTP_HEADERS_MAX) {
        x->too_large = 2;
        return 0;
    }
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r')) {
        len--;
    }
    if (!len) {
        if (x->headers_done) {
            return n;           /* the end of trailers */
        }
        return headers_complete(x) ? n : 0;
    }
    colon = memchr(data, ':', len);
    if (colon && colon > data) {
        const char *v = colon + 1, *e = data + len;
        apr_size_t nlen = (apr_size_t)(colon - data);

        while (v < e && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        apr_table_addn(req->resp.headers, apr_pstrmemdup(req->p, data, nlen),
                       apr_pstrmemdup(req->p, v, (apr_size_t)(e - v)));
    }
    return n;
}

/* Appends to the memory body: at most limit bytes, the first ones kept. */
static int mem_append(pool_http_xfer_t *x, const char *data, apr_size_t n,
                      apr_size_t limit)
{
    apr_size_t take = n, want;

    if (x->mem_len + n > limit) {
        take = limit - x->mem_len;
        x->too_large = 1;
    }
    want = x->mem_len + take + 1;
    if (want > x->mem_cap) {
        apr_size_t cap = x->mem_cap ? x->mem_cap : 4096;
        char *nb;
        while (cap < want) {
            cap *= 2;
        }
        if (cap > limit + 1) {
            cap = limit + 1;
        }
        if (!(nb = realloc(x->mem, cap))) {
            x->nomem = 1;
            return 0;
        }
        x->mem = nb;
        x->mem_cap = cap;
    }
    memcpy(x->mem + x->mem_len, data, take);
    x->mem_len += take;
    x->mem[x->mem_len] = '\0';
    return !x->too_large;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    pool_http_xfer_t *x = ud;
    pool_http_req_t *req = x->req;
    size_t n = size * nmemb;
    apr_status_t rv;

    if (!x->headers_done && !headers_complete(x)) {
        return 0;
    }
    if (!x->to_sink) {
        apr_size_t limit = req->on_body ? req->error_body_max
                                        : (apr_size_t)req->body_max;
        return mem_append(x, data, n, limit) ? n : 0;
    }
    if (req->resp.received + (apr_off_t)n > req->body_max) {
        x->too_large = 1;
        return 0;
    }
    if ((rv = req->on_body(req->body_baton, data, n)) != APR_SUCCESS) {
        req->resp.cb_status = rv;
        x->cb_failed = 1;
        return 0;
    }
    req->resp.received += (apr_off_t)n;
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    pool_http_xfer_t *x = ud;
    pool_http_req_t *req = x->req;
    apr_size_t len = size * nmemb;
    apr_status_t rv = req->read_body(req->read_baton, buf, &len);

    if (rv == APR_EOF) {
        return 0;
    }
    if (rv != APR_SUCCESS) {
        req->resp.cb_status = rv;
        x->read_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln,
                       curl_off_t ult, curl_off_t uln)
{
    pool_http_xfer_t *x = ud;
    pool_http_req_t *req = x->req;

    if (req->on_progress(req->progress_baton, (apr_off_t)dlt, (apr_off_t)dln,
                         (apr_off_t)ult, (apr_off_t)uln)) {
        x->aborted = 1;
        return 1;
    }
    return 0;
}

struct pool_http_push_t {
    pool_http_req_t *req;
    pool_http_xfer_t *x;
    char *buf;                  /* small writes gathered (malloc) */
    apr_size_t cap, buffered;
    const char *data;           /* what on_push_read hands out */
    apr_size_t left;
    apr_off_t written;          /* by the caller */
    int started;                /* the handle is in the client's multi */
    int paused;                 /* libcurl asked for more, none was there */
    int eof;                    /* the body is complete */
    int done;                   /* the transfer is over: resp is filled */
};

/* Hands out what the last write gave; with nothing left, pauses the
 * upload until the next write (or ends the body). */
static size_t on_push_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    pool_http_push_t *ps = ud;
    size_t room = size * nmemb, n;

    if (!ps->left) {
        if (ps->eof) {
            return 0;
        }
        ps->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    n = ps->left < room ? ps->left : room;
    memcpy(buf, ps->data, n);
    ps->data += n;
    ps->left -= n;
    return n;
}

/* ----------------------------------------------------------- set up */

static apr_status_t xfer_cleanup(void *data);

static pool_http_xfer_t *xfer_new(pool_http_req_t *req)
{
    pool_http_xfer_t *x = apr_pcalloc(req->p, sizeof(*x));

    x->req = req;
    x->url = req->url;
    req->x = x;
    memset(&req->resp, 0, sizeof(req->resp));
    req->resp.headers = apr_table_make(req->p, 10);
    req->resp.body = "";
    apr_pool_cleanup_register(req->p, x, xfer_cleanup, apr_pool_cleanup_null);
    return x;
}

static void set_error(pool_http_req_t *req, pool_http_err_t err,
                      const char *text)
{
    req->resp.err = err;
    req->resp.error = text;
}

/* The request headers as libcurl takes them.  0 when one has CR or LF. */
static int build_headers(pool_http_xfer_t *x, int has_body)
{
    pool_http_req_t *req = x->req;
    const apr_array_header_t *arr = apr_table_elts(req->headers);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    struct curl_slist *l;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (!e[i].key || !e[i].val || strpbrk(e[i].key, "\r\n:")
            || strpbrk(e[i].val, "\r\n")) {
            return 0;
        }
        l = curl_slist_append(x->hdrs, apr_pstrcat(req->p, e[i].key, ": ",
                                                   e[i].val, NULL));
        if (!l) {
            return 0;
        }
        x->hdrs = l;
    }
    if (has_body) {
        /* "Name:" with no value keeps libcurl from adding its own: no
         * invented form type, no wait for a 100 Continue */
        if (!apr_table_get(req->headers, "Content-Type")
            && (l = curl_slist_append(x->hdrs, "Content-Type:")) != NULL) {
            x->hdrs = l;
        }
        if ((l = curl_slist_append(x->hdrs, "Expect:")) != NULL) {
            x->hdrs = l;
        }
    }
    return 1;
}

static void set_method(pool_http_xfer_t *x, CURL *h)
{
    pool_http_req_t *req = x->req;
    int post = !strcmp(req->method, "POST");

    if (req->body) {
        /* from memory: libcurl can send it again on a fresh connection */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
        if (!post) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        }
    }
    else if (req->read_body || x->push) {
        if (x->push) {
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_push_read);
            curl_easy_setopt(h, CURLOPT_READDATA, x->push);
        }
        else {
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, x);
        }
        if (post) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)req->body_len);
        }
        else {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                             (curl_off_t)req->body_len);
            if (strcmp(req->method, "PUT")) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
            }
        }
    }
    else if (post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    else if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    else if (strcmp(req->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
}

static long ms(apr_interval_time_t t)
{
    return t > 0 && apr_time_as_msec(t) == 0 ? 1L : (long)apr_time_as_msec(t);
}

static long secs_up(apr_interval_time_t t)
{
    return (long)apr_time_sec(t + apr_time_from_sec(1) - 1);
}

static void set_timeouts(CURL *h, const pool_http_timeouts_t *t)
{
    if (t->connect > 0) {
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms(t->connect));
    }
    if (t->total > 0) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms(t->total));
    }
    if (t->stall > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT,
                         t->stall_bytes > 0 ? t->stall_bytes : 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, secs_up(t->stall));
    }
    if (t->reuse_idle > 0) {
        curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, secs_up(t->reuse_idle));
    }
    if (t->keepalive > 0) {
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, secs_up(t->keepalive));
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, secs_up(t->keepalive));
    }
}

/* All options of req on h.  0 (with resp.error) when req is unusable. */
static int xfer_setup(pool_http_xfer_t *x, CURL *h)
{
    pool_http_req_t *req = x->req;
    pool_http_t *http = req->http;
    /* a POST has a body, if an empty one */
    int has_body = req->body || req->read_body || x->push
                   || !strcmp(req->method, "POST");

    x->h = h;
    if (!req->url || !build_headers(x, has_body)) {
        set_error(req, POOL_HTTP_EURL, !req->url ? "no URL"
                  : "a request header holds CR or LF, or its name a colon");
        return 0;
    }
    if (req->redirects == POOL_HTTP_REDIRECT_SAME_HOST) {
        pool_http_url_t u;
        if (pool_http_url_parse(req->p, req->url, &u) != APR_SUCCESS
            || !u.host) {
            set_error(req, POOL_HTTP_EURL, "not a valid URL");
            return 0;
        }
        x->host0 = u.host;
    }
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (http->net) {
        net_guard(h, &x->guard, http->net, req->p);
    }
    else if (http->direct) {
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    }
    if (http->user_agent) {
        curl_easy_setopt(h, CURLOPT_USERAGENT, http->user_agent);
    }
    set_timeouts(h, &req->timeout);
    if (req->recv_buffer) {
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)req->recv_buffer);
    }
    if (req->send_buffer) {
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE,
                         (long)req->send_buffer);
    }
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    if (req->on_progress) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (req->user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, req->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD,
                         req->password ? req->password : "");
    }
    set_method(x, h);
    if (x->hdrs) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    }
    return 1;
}

/* Before each exchange (the first, and each redirect followed). */
static void exchange_reset(pool_http_xfer_t *x)
{
    pool_http_resp_t *resp = &x->req->resp;

    apr_table_clear(resp->headers);
    resp->status = 0;
    resp->received = 0;
    x->status = 0;
    x->headers_done = x->to_sink = 0;
    x->header_bytes = 0;
    x->mem_len = 0;
    x->too_large = x->cb_failed = x->read_failed = x->aborted = 0;
    x->nomem = 0;
    x->errbuf[0] = '\0';
    x->guard.denied = 0;
    curl_easy_setopt(x->h, CURLOPT_URL, x->url);
}

/* ------------------------------------------------------ the outcome */

static pool_http_err_t curl_err(CURLcode cc, const char **what)
{
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        *what = "not a usable URL";
        return POOL_HTTP_EURL;
    case CURLE_COULDNT_RESOLVE_HOST:
        *what = "DNS lookup failed";
        return POOL_HTTP_EDNS;
    case CURLE_COULDNT_CONNECT:
        *what = "cannot connect";
        return POOL_HTTP_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        *what = "timed out";
        return POOL_HTTP_ETIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        *what = "TLS failed";
        return POOL_HTTP_ETLS;
    case CURLE_TOO_MANY_REDIRECTS:
        *what = "too many redirects";
        return POOL_HTTP_EREDIRECT;
    case CURLE_FILESIZE_EXCEEDED:
        *what = "the answer is too large";
        return POOL_HTTP_ETOOLARGE;
    case CURLE_OUT_OF_MEMORY:
        *what = "out of memory";
        return POOL_HTTP_EINTERNAL;
    default:
        *what = "the connection failed";
        return POOL_HTTP_ECONNECTION;
    }
}

/* Failures that may pass: trying the same request again may work. */
static int curl_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* What failed, when something did: the caller's own doing first, then the
 * policy, then libcurl's code. */
static void classify(pool_http_xfer_t *x, CURLcode cc)
{
    pool_http_req_t *req = x->req;
    apr_pool_t *p = req->p;
    const char *what;
    pool_http_err_t err;

    if (x->too_large == 2) {
        set_error(req, POOL_HTTP_EHEADERS, apr_psprintf(p, "the answer's "
                  "headers are larger than %d bytes", POOL_HTTP_HEADERS_MAX));
    }
    else if (x->too_large) {
        apr_off_t limit = x->to_sink || !req->on_body
                          ? req->body_max : (apr_off_t)req->error_body_max;
        set_error(req, POOL_HTTP_ETOOLARGE, apr_psprintf(p, "the answer is "
                  "larger than the limit of %" APR_OFF_T_FMT " bytes", limit));
    }
    else if (x->nomem) {
        set_error(req, POOL_HTTP_EINTERNAL, "out of memory for the answer");
    }
    else if (x->aborted) {
        set_error(req, POOL_HTTP_EABORTED, "stopped by the caller");
    }
    else if (x->cb_failed || x->read_failed) {
        set_error(req, POOL_HTTP_ECALLBACK, x->cb_failed
                  ? "the answer's body could not be stored"
                  : "the request body could not be read");
    }
    else if (x->guard.denied && x->status < 200) {
        req->resp.denied_ip = apr_pstrdup(p, x->guard.denied_ip);
        set_error(req, POOL_HTTP_EDENIED, apr_psprintf(p, "refused before "
                  "connecting: the URL's host resolves to %s, a network "
                  "denied for outbound requests (PoolOutboundDeny, "
                  "PoolOutboundAllow)", x->guard.denied_ip));
    }
    else {
        err = curl_err(cc, &what);
        set_error(req, err, apr_psprintf(p, "%s: %s", what,
                                         x->errbuf[0] ? x->errbuf
                                                      : curl_easy_strerror(cc)));
        req->resp.transient = curl_transient(cc);
    }
}

/* A 3xx under REDIRECT_SAME_HOST: 1 with x->url moved on, 0 with
 * resp.error when it is refused. */
static int follow(pool_http_xfer_t *x)
{
    pool_http_req_t *req = x->req;
    pool_http_url_t u;
    char *loc = NULL;

    curl_easy_getinfo(x->h, CURLINFO_REDIRECT_URL, &loc);
    if (!loc || pool_http_url_check(req->p, loc)) {
        set_error(req, POOL_HTTP_EREDIRECT, apr_psprintf(req->p, "the server "
                  "answered %d without a usable Location", req->resp.status));
        return 0;
    }
    if (pool_http_url_parse(req->p, loc, &u) != APR_SUCCESS || !u.host
        || strcasecmp(u.host, x->host0)) {
        set_error(req, POOL_HTTP_EREDIRECT,
                  "redirect to another host refused");
        return 0;
    }
    if (req->resp.redirects >= req->max_redirects) {
        set_error(req, POOL_HTTP_EREDIRECT, "too many redirects");
        return 0;
    }
    x->url = apr_pstrdup(req->p, loc);
    req->resp.redirects++;
    return 1;
}

/* After an exchange: fills resp; 1 when a redirect is to be followed. */
static int xfer_finish(pool_http_xfer_t *x, CURLcode cc)
{
    pool_http_req_t *req = x->req;
    pool_http_resp_t *resp = &req->resp;
    long code = 0;

    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    resp->status = (int)code;
    x->status = code;
    resp->body = x->mem ? x->mem : "";
    resp->len = x->mem_len;
    resp->transient = 0;
    if (cc == CURLE_OK && !x->too_large) {
        set_error(req, POOL_HTTP_OK, NULL);
    }
    else {
        classify(x, cc);
    }
    if (resp->err == POOL_HTTP_OK && code >= 300 && code <= 399
        && req->redirects == POOL_HTTP_REDIRECT_SAME_HOST) {
        return follow(x);
    }
    return 0;
}

static void unlink_xfer(pool_http_multi_t *m, pool_http_xfer_t *x)
{
    curl_multi_remove_handle(m->m, x->h);
    if (x->prev) {
        x->prev->next = x->next;
    }
    else {
        m->active = x->next;
    }
    if (x->next) {
        x->next->prev = x->prev;
    }
    x->next = x->prev = NULL;
    x->multi = NULL;
    m->inflight--;
}

static apr_status_t xfer_cleanup(void *data)
{
    pool_http_xfer_t *x = data;

    if (x->multi) {
        unlink_xfer(x->multi, x);   /* its pool went while in flight */
    }
    if (x->own_handle && x->h) {
        curl_easy_cleanup(x->h);
    }
    x->h = NULL;
    if (x->hdrs) {
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
    }
    free(x->mem);
    x->mem = NULL;
    return APR_SUCCESS;
}

/* ------------------------------------------------------ one at a time
 * The client's easy handle on the client's multi handle, one exchange at
 * a time: what curl_easy_perform does, with the connection cache in a
 * multi handle that a push, which must be driven step by step, shares. */

/* The client's handles, ready for req; 0 (with resp.error) when not. */
static int client_take(pool_http_t *http, pool_http_req_t *req)
{
    if (http->busy) {
        set_error(req, POOL_HTTP_EINTERNAL, "the client is in use by a push");
        return 0;
    }
    if (!http->easy && !(http->easy = curl_easy_init())) {
        set_error(req, POOL_HTTP_EINTERNAL, "cannot initialise libcurl");
        return 0;
    }
    if (!http->m && !(http->m = curl_multi_init())) {
        set_error(req, POOL_HTTP_EINTERNAL, "cannot initialise libcurl");
        return 0;
    }
    curl_easy_reset(http->easy);
    return 1;
}

/* After an exchange: the handle stays the client's (its connections are
 * in the multi); nothing of this request may stay set on it. */
static void client_release(pool_http_t *http, pool_http_xfer_t *x)
{
    curl_easy_reset(http->easy);
    x->h = NULL;
    if (x->hdrs) {
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
    }
}

/* Moves the client's transfer on; 1 when it is over (*cc says how). */
static int client_step(pool_http_t *http, CURLcode *cc)
{
    CURLMsg *msg;
    int running = 0, left = 0;

    if (curl_multi_perform(http->m, &running) != CURLM_OK) {
        *cc = CURLE_SEND_ERROR;
        return 1;
    }
    while ((msg = curl_multi_info_read(http->m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            *cc = msg->data.result;
            return 1;
        }
    }
    return 0;
}

static void client_wait(pool_http_t *http)
{
    curl_multi_poll(http->m, NULL, 0, 1000, NULL);
}

/* One exchange of x, to its end. */
static CURLcode client_exchange(pool_http_t *http, pool_http_xfer_t *x)
{
    CURLcode cc = CURLE_OK;

    exchange_reset(x);
    if (curl_multi_add_handle(http->m, http->easy) != CURLM_OK) {
        return CURLE_OUT_OF_MEMORY;
    }
    while (!client_step(http, &cc)) {
        client_wait(http);
    }
    curl_multi_remove_handle(http->m, http->easy);
    return cc;
}

pool_http_err_t pool_http_perform(pool_http_req_t *req)
{
    pool_http_t *http = req->http;
    pool_http_xfer_t *x = xfer_new(req);

    if (!client_take(http, req)) {
        return req->resp.err;
    }
    if (xfer_setup(x, http->easy)) {
        while (xfer_finish(x, client_exchange(http, x))) {
        }
    }
    client_release(http, x);
    return req->resp.err;
}

/* ------------------------------------------------ a body pushed in pieces */

/* The transfer is over: resp is filled, the client free again. */
static void push_over(pool_http_push_t *ps, CURLcode cc)
{
    pool_http_t *http = ps->req->http;

    ps->done = 1;
    if (ps->started) {
        curl_multi_remove_handle(http->m, http->easy);
        ps->started = 0;
    }
    xfer_finish(ps->x, cc);     /* no redirects: never followed */
    client_release(http, ps->x);
    http->busy = 0;
}

/* Moves the transfer on until libcurl has taken every byte handed out and
 * asked for more, or, with the body complete, until the answer. */
static void push_drive(pool_http_push_t *ps)
{
    pool_http_t *http = ps->req->http;
    CURLcode cc = CURLE_OK;

    while (!ps->done) {
        if (client_step(http, &cc)) {
            push_over(ps, cc);
            return;
        }
        if (!ps->eof && !ps->left && ps->paused) {
            return;
        }
        client_wait(http);
    }
}

/* What the caller is told: an answer before the end is a failure. */
static pool_http_err_t push_result(pool_http_push_t *ps)
{
    pool_http_req_t *req = ps->req;

    if (ps->done && !ps->eof && req->resp.err == POOL_HTTP_OK) {
        set_error(req, POOL_HTTP_EEARLY, apr_psprintf(req->p, "the server "
                  "answered %d before the request body was complete",
                  req->resp.status));
    }
    return ps->done ? req->resp.err : POOL_HTTP_OK;
}

/* Hands n bytes at data to libcurl (none with eof: the end) and drives
 * the transfer until it took them. */
static pool_http_err_t push_feed(pool_http_push_t *ps, const char *data,
                                 apr_size_t n)
{
    pool_http_t *http = ps->req->http;

    ps->data = data;
    ps->left = n;
    if (!ps->started) {
        exchange_reset(ps->x);
        if (curl_multi_add_handle(http->m, http->easy) != CURLM_OK) {
            push_over(ps, CURLE_OUT_OF_MEMORY);
            return push_result(ps);
        }
        ps->started = 1;
    }
    else if (ps->paused) {
        ps->paused = 0;
        curl_easy_pause(http->easy, CURLPAUSE_CONT);
    }
    push_drive(ps);
    ps->data = NULL;            /* the caller's, gone after the write */
    return push_result(ps);
}

/* Ends the transfer early with a failure of the caller's. */
static pool_http_err_t push_fail(pool_http_push_t *ps, pool_http_err_t err,
                                 const char *why)
{
    if (!ps->done) {
        push_over(ps, CURLE_OK);
    }
    set_error(ps->req, err, why);
    ps->req->resp.transient = 0;
    return err;
}

static void push_free(pool_http_push_t *ps)
{
    free(ps->buf);
    ps->buf = NULL;
}

static apr_status_t push_cleanup(void *data)
{
    pool_http_push_t *ps = data;

    if (!ps->done) {
        push_fail(ps, POOL_HTTP_EABORTED, "abandoned by the caller");
    }
    push_free(ps);
    return APR_SUCCESS;
}

pool_http_err_t pool_http_push_open(pool_http_req_t *req,
                                    pool_http_push_t **push)
{
    pool_http_t *http = req->http;
    pool_http_xfer_t *x = xfer_new(req);
    pool_http_push_t *ps = apr_pcalloc(req->p, sizeof(*ps));

    *push = NULL;
    ps->req = req;
    ps->x = x;
    x->push = ps;
    req->body = NULL;
    req->read_body = NULL;
    req->redirects = POOL_HTTP_REDIRECT_NONE;   /* the body is not kept */
    ps->cap = req->send_buffer;
    if (ps->cap && !(ps->buf = malloc(ps->cap))) {
        set_error(req, POOL_HTTP_EINTERNAL, "out of memory");
        return req->resp.err;
    }
    if (!client_take(http, req) || !xfer_setup(x, http->easy)) {
        if (http->easy && !http->busy) {
            client_release(http, x);
        }
        push_free(ps);
        return req->resp.err;
    }
    http->busy = 1;
    apr_pool_cleanup_register(req->p, ps, push_cleanup,
                              apr_pool_cleanup_null);
    *push = ps;
    return POOL_HTTP_OK;
}

pool_http_err_t pool_http_push_write(pool_http_push_t *ps, const void *buf,
                                     apr_size_t len)
{
    pool_http_req_t *req = ps->req;
    const char *b = buf;
    pool_http_err_t err;
    int last;

    if (ps->done) {
        return push_result(ps);
    }
    if (ps->eof || (req->body_len >= 0
                    && (apr_off_t)len > req->body_len - ps->written)) {
        return push_fail(ps, POOL_HTTP_EINTERNAL, "more bytes written than "
                         "the request body's length");
    }
    ps->written += (apr_off_t)len;
    last = req->body_len >= 0 && ps->written == req->body_len;
    while (len > 0) {
        apr_size_t k;

        if (!ps->buffered && len >= ps->cap) {
            ps->eof = last;     /* as large as a gathering: at once */
            return push_feed(ps, b, len);
        }
        k = ps->cap - ps->buffered < len ? ps->cap - ps->buffered : len;
        memcpy(ps->buf + ps->buffered, b, k);
        ps->buffered += k;
        b += k;
        len -= k;
        if (ps->buffered == ps->cap) {
            ps->buffered = 0;
            ps->eof = last && !len;
            if ((err = push_feed(ps, ps->buf, ps->cap)) != POOL_HTTP_OK) {
                return err;
            }
        }
    }
    if (last && !ps->eof) {
        apr_size_t n = ps->buffered;

        ps->buffered = 0;
        ps->eof = 1;
        return push_feed(ps, ps->buf, n);
    }
    return POOL_HTTP_OK;
}

pool_http_err_t pool_http_push_finish(pool_http_push_t *ps)
{
    pool_http_req_t *req = ps->req;
    pool_http_err_t err;

    if (!ps->done && req->body_len >= 0 && ps->written < req->body_len) {
        err = push_fail(ps, POOL_HTTP_EINTERNAL, "fewer bytes written than "
                        "the request body's length");
    }
    else if (!ps->done && !ps->eof) {
        apr_size_t n = ps->buffered;

        ps->buffered = 0;
        ps->eof = 1;
        err = push_feed(ps, ps->buf, n);
    }
    else {
        err = push_result(ps);
    }
    apr_pool_cleanup_run(req->p, ps, push_cleanup);
    return err;
}

void pool_http_push_abort(pool_http_push_t *ps)
{
    apr_pool_cleanup_run(ps->req->p, ps, push_cleanup);
}

const char *pool_http_why(apr_pool_t *p, const pool_http_resp_t *resp)
{
    if (resp->err != POOL_HTTP_OK) {
        return resp->error;
    }
    if (resp->status >= 200 && resp->status <= 299) {
        return NULL;
    }
    return apr_psprintf(p, "the server answered %d", resp->status);
}

/* --------------------------------------------------------- many at once */

/* A finished transfer's easy handle, kept for the next: setting one up
 * anew for each transfer cost more than the reset (which keeps nothing of
 * the request; connections are the multi's). */
static void handle_back(pool_http_multi_t *m, CURL *h)
{
    if (m->spare->nelts >= MULTI_SPARE_MAX) {
        curl_easy_cleanup(h);
        return;
    }
    curl_easy_reset(h);
    APR_ARRAY_PUSH(m->spare, CURL *) = h;
}

/* Frees what libcurl holds for x, then tells its caller (who may destroy
 * x's pool: nothing of x is touched afterwards). */
static void complete(pool_http_multi_t *m, pool_http_xfer_t *x)
{
    pool_http_req_t *req = x->req;

    unlink_xfer(m, x);
    handle_back(m, x->h);
    x->h = NULL;
    if (x->hdrs) {
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
    }
    if (x->done) {
        x->done(req, x->baton);
    }
}

static apr_status_t multi_cleanup(void *data)
{
    pool_http_multi_t *m = data;

    /* requests whose pools outlive this one: dropped without a call */
    while (m->active) {
        pool_http_xfer_t *x = m->active;
        unlink_xfer(m, x);
        curl_easy_cleanup(x->h);
        x->h = NULL;
    }
    while (m->spare->nelts) {
        curl_easy_cleanup(*(CURL **)apr_array_pop(m->spare));
    }
    if (m->m) {
        curl_multi_cleanup(m->m);
        m->m = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t pool_http_multi_create(pool_http_multi_t **pm, pool_http_t *http,
                                    apr_pool_t *p)
{
    pool_http_multi_t *m = apr_pcalloc(p, sizeof(*m));

    m->http = http;
    m->p = p;
    m->spare = apr_array_make(p, 16, sizeof(CURL *));
    if (!(m->m = curl_multi_init())) {
        return APR_ENOMEM;
    }
    /* libcurl's default keeps 4 idle connections per transfer in flight:
     * when few are in flight for a moment (a caller waiting for other
     * work), the connections of the others would be closed */
    curl_multi_setopt(m->m, CURLMOPT_MAXCONNECTS, (long)MULTI_MAXCONNECTS);
    apr_pool_cleanup_register(p, m, multi_cleanup, apr_pool_cleanup_null);
    *pm = m;
    return APR_SUCCESS;
}

static int multi_start(pool_http_multi_t *m, pool_http_xfer_t *x)
{
    exchange_reset(x);
    if (curl_multi_add_handle(m->m, x->h) != CURLM_OK) {
        set_error(x->req, POOL_HTTP_EINTERNAL, "cannot start the transfer");
        return 0;
    }
    x->multi = m;
    x->prev = NULL;
    x->next = m->active;
    if (m->active) {
        m->active->prev = x;
    }
    m->active = x;
    m->inflight++;
    return 1;
}

pool_http_err_t pool_http_multi_add(pool_http_multi_t *m, pool_http_req_t *req,
                                    pool_http_done_fn *done, void *baton)
{
    pool_http_xfer_t *x = xfer_new(req);
    CURL *h;

    x->done = done;
    x->baton = baton;
    h = m->spare->nelts ? *(CURL **)apr_array_pop(m->spare) : curl_easy_init();
    if (!h) {
        set_error(req, POOL_HTTP_EINTERNAL, "cannot initialise libcurl");
        return req->resp.err;
    }
    x->own_handle = 1;
    x->h = h;
    if (!xfer_setup(x, h) || !multi_start(m, x)) {
        return req->resp.err;   /* the pool's cleanup frees h */
    }
    return POOL_HTTP_OK;
}

/* Handles what libcurl says is over; returns how many completed. */
static int dispatch(pool_http_multi_t *m)
{
    CURLMsg *msg;
    int left, n = 0;

    while ((msg = curl_multi_info_read(m->m, &left)) != NULL) {
        pool_http_xfer_t *x = NULL;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x) {
            continue;
        }
        if (xfer_finish(x, msg->data.result)) {
            /* a redirect followed: the same handle, again */
            curl_multi_remove_handle(m->m, x->h);
            exchange_reset(x);
            if (curl_multi_add_handle(m->m, x->h) == CURLM_OK) {
                continue;
            }
            set_error(x->req, POOL_HTTP_EINTERNAL,
                      "cannot start the transfer");
        }
        complete(m, x);
        n++;
    }
    return n;
}

int pool_http_multi_run_fd(pool_http_multi_t *m, apr_interval_time_t wait,
                           int fd)
{
    struct curl_waitfd extra;
    int running = 0;

    curl_multi_perform(m->m, &running);
    if (dispatch(m) == 0 && (m->inflight > 0 || fd >= 0) && wait > 0) {
        extra.fd = fd;
        extra.events = CURL_WAIT_POLLIN;
        extra.revents = 0;
        curl_multi_poll(m->m, fd >= 0 ? &extra : NULL, fd >= 0 ? 1 : 0,
                        (int)apr_time_as_msec(wait), NULL);
        curl_multi_perform(m->m, &running);
        dispatch(m);
    }
    return m->inflight;
}

int pool_http_multi_run(pool_http_multi_t *m, apr_interval_time_t wait)
{
    return pool_http_multi_run_fd(m, wait, -1);
}

void pool_http_multi_perform(pool_http_multi_t *m)
{
    while (pool_http_multi_run(m, apr_time_from_sec(1)) > 0) {
    }
}

int pool_http_multi_inflight(const pool_http_multi_t *m)
{
    return m->inflight;
}

void pool_http_multi_destroy(pool_http_multi_t *m)
{
    while (m->active) {
        pool_http_xfer_t *x = m->active;
        set_error(x->req, POOL_HTTP_ECANCELLED, "cancelled");
        complete(m, x);
    }
    apr_pool_cleanup_run(m->p, m, multi_cleanup);
}

/* -------------------------------------------------------------- URLs */

static const char *url_part(apr_pool_t *p, CURLU *u, CURLUPart what)
{
    char *v = NULL;
    const char *out = NULL;

    if (curl_url_get(u, what, &v, 0) == CURLUE_OK && v) {
        out = apr_pstrdup(p, v);
    }
    curl_free(v);
    return out;
}

apr_status_t pool_http_url_parse(apr_pool_t *p, const char *url,
                                 pool_http_url_t *out)
{
    CURLU *u = curl_url();

    memset(out, 0, sizeof(*out));
    if (!u || !url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        if (u) {
            curl_url_cleanup(u);
        }
        return APR_EINVAL;
    }
    out->scheme = url_part(p, u, CURLUPART_SCHEME);
    out->user = url_part(p, u, CURLUPART_USER);
    out->password = url_part(p, u, CURLUPART_PASSWORD);
    out->host = url_part(p, u, CURLUPART_HOST);
    out->port = url_part(p, u, CURLUPART_PORT);
    out->path = url_part(p, u, CURLUPART_PATH);
    out->query = url_part(p, u, CURLUPART_QUERY);
    curl_url_cleanup(u);
    return APR_SUCCESS;
}

const char *pool_http_url_check(apr_pool_t *p, const char *url)
{
    pool_http_url_t u;
    apr_size_t i, n = url ? strlen(url) : 0, sl;

    if (!n) {
        return "a URL is required";
    }
    if (n > POOL_HTTP_URL_MAX) {
        return "the URL is longer than 2048 bytes";
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            return "the URL contains spaces, control or non-ASCII characters";
        }
    }
    if (pool_http_url_parse(p, url, &u) != APR_SUCCESS) {
        return "not a valid absolute URL";
    }
    if (!u.scheme || (strcasecmp(u.scheme, "http")
                      && strcasecmp(u.scheme, "https"))) {
        return "only http and https URLs are accepted";
    }
    sl = strlen(u.scheme);
    if (strncmp(url + sl, "://", 3) || url[sl + 3] == '/'
        || url[sl + 3] == '\\') {
        /* libcurl reads "http:/x" and "http:///x" as host x, as browsers
         * do; a URL given to us is written out */
        return "the URL must be scheme://host/...";
    }
    if (!u.host || !*u.host) {
        return "the URL has no host";
    }
    if (u.user || u.password) {
        return "credentials in the URL are not accepted";
    }
    return NULL;
}

const char *pool_http_url_resolve(apr_pool_t *p, const char *base,
                                  const char *ref)
{
    CURLU *u = curl_url();
    const char *out = NULL;

    if (u && base && ref
        && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK) {
        out = url_part(p, u, CURLUPART_URL);
    }
    if (u) {
        curl_url_cleanup(u);
    }
    return out;
}

const char *pool_http_url_escape(apr_pool_t *p, const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    const char *out = e ? apr_pstrdup(p, e) : NULL;

    curl_free(e);
    return out;
}

const char *pool_http_url_unescape(apr_pool_t *p, const char *s,
                                   apr_size_t *len)
{
    int n = 0;
    char *d = curl_easy_unescape(NULL, s, 0, &n);
    const char *out = NULL;

    if (d && n >= 0) {
        out = apr_pstrmemdup(p, d, (apr_size_t)n);
        *len = (apr_size_t)n;
    }
    curl_free(d);
    return out;
}
