/* Outbound HTTP: the one client the core library and its jobs use for
 * requests they send (imports, webhooks, the pool-processor agent, the
 * WebDAV store).  A
 * small request/response interface after mod_md's md_http, implemented on
 * libcurl in pool_http.c; callers never see libcurl.
 *
 * A client (pool_http_t) holds what its requests share: the User-Agent,
 * default timeouts, the outbound network policy and a connection cache.  A
 * request is made with pool_http_req_make, its fields set, then performed
 * alone (pool_http_perform) or with others at once (pool_http_multi_*).
 * Its answer is in req->resp.  A request body comes from memory, from a
 * callback the client calls (read_body), or is pushed by the caller piece
 * by piece (pool_http_push_*).
 *
 * The body of an answer goes into memory, at most body_max bytes, or into
 * a callback (on_body, 2xx answers only).  Nothing is buffered beyond the
 * limits set here.
 *
 * Neither a client nor a request may be used by two threads at once. */
#ifndef POOL_HTTP_H
#define POOL_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "pool_net.h"

#define POOL_HTTP_URL_MAX        2048
#define POOL_HTTP_BODY_DEFAULT   (64 * 1024)    /* body_max unless set */
#define POOL_HTTP_ERROR_BODY_MAX (64 * 1024)    /* error_body_max unless set */
#define POOL_HTTP_HEADERS_MAX    (64 * 1024)    /* an answer's header bytes */
#define POOL_HTTP_CONNECT_DEFAULT apr_time_from_sec(10)

/* What went wrong; the text in resp.error says it with details. */
typedef enum {
    POOL_HTTP_OK = 0,       /* an answer arrived whole (any status) */
    POOL_HTTP_EURL,         /* not a usable http(s) URL, or a bad header */
    POOL_HTTP_EDENIED,      /* every address was refused by the policy */
    POOL_HTTP_EDNS,         /* the host name did not resolve */
    POOL_HTTP_ECONNECT,     /* no connection to the server */
    POOL_HTTP_ETIMEOUT,     /* connect or total timeout, or stalled */
    POOL_HTTP_ETLS,         /* TLS handshake or certificate */
    POOL_HTTP_ECONNECTION,  /* the connection failed during the exchange */
    POOL_HTTP_ETOOLARGE,    /* the body over the limit */
    POOL_HTTP_EHEADERS,     /* the headers over POOL_HTTP_HEADERS_MAX */
    POOL_HTTP_EREDIRECT,    /* a redirect the policy refuses */
    POOL_HTTP_ECALLBACK,    /* on_body or read_body returned an error */
    POOL_HTTP_EABORTED,     /* on_progress asked to stop */
    POOL_HTTP_ECANCELLED,   /* dropped by pool_http_multi_destroy */
    POOL_HTTP_EINTERNAL,    /* out of memory, libcurl not usable, or the
                             * client or a push used wrongly */
    POOL_HTTP_EEARLY        /* push: the server answered (resp.status)
                             * before the request body was complete */
} pool_http_err_t;

typedef enum {
    POOL_HTTP_REDIRECT_NONE = 0,    /* a 3xx is an answer like any other */
    POOL_HTTP_REDIRECT_SAME_HOST    /* followed to the same host only, at
                                     * most max_redirects times */
} pool_http_redirect_t;

typedef struct {
    apr_interval_time_t connect;    /* 0: libcurl's default */
    apr_interval_time_t total;      /* the whole exchange; 0: none */
    apr_interval_time_t stall;      /* abort when slower than stall_bytes
                                     * per second for this long; 0: never */
    long stall_bytes;
    apr_interval_time_t reuse_idle; /* a cached connection idle longer is
                                     * not reused (a server closes its idle
                                     * ones); 0: libcurl's default */
    apr_interval_time_t keepalive;  /* TCP keepalive probes after this
                                     * long idle, and between them; 0: none */
} pool_http_timeouts_t;

/* The request body from the caller: fill at most *len bytes of buf and set
 * *len; APR_EOF (or *len 0) at the end; another status aborts. */
typedef apr_status_t pool_http_read_fn(void *baton, char *buf,
                                       apr_size_t *len);
/* A piece of a 2xx answer's body; anything but APR_SUCCESS aborts. */
typedef apr_status_t pool_http_body_fn(void *baton, const char *data,
                                       apr_size_t len);
/* Progress (totals are 0 while unknown); non-zero stops the exchange. */
typedef int pool_http_progress_fn(void *baton, apr_off_t dl_total,
                                  apr_off_t dl_now, apr_off_t ul_total,
                                  apr_off_t ul_now);

typedef struct pool_http_t pool_http_t;
typedef struct pool_http_req_t pool_http_req_t;
typedef struct pool_http_multi_t pool_http_multi_t;
typedef struct pool_http_xfer_t pool_http_xfer_t;   /* private */
typedef struct pool_http_push_t pool_http_push_t;

typedef struct {
    int status;             /* of the final answer; 0: none (1xx: none
                             * final); kept when the body failed later;
                             * set (with headers) before on_body is called */
    apr_table_t *headers;   /* of the final answer */
    const char *body;       /* what went to memory, NUL-terminated */
    apr_size_t len;
    apr_off_t received;     /* bytes given to on_body */
    int redirects;          /* followed */
    pool_http_err_t err;
    const char *error;      /* NULL when err is POOL_HTTP_OK */
    int transient;          /* err is a failure that may pass (no
                             * connection, a connection lost or reset, a
                             * timeout, a TLS handshake cut): the same
                             * request may work again */
    const char *denied_ip;  /* POOL_HTTP_EDENIED: the refused address */
    apr_status_t cb_status; /* POOL_HTTP_ECALLBACK: what it returned */
} pool_http_resp_t;

struct pool_http_req_t {
    apr_pool_t *p;          /* the request's and its answer's memory */
    pool_http_t *http;
    const char *method;     /* GET, HEAD, POST, PUT, ... */
    const char *url;
    apr_table_t *headers;   /* sent as given; CR or LF in one is refused.
                             * A body without Content-Type goes without. */
    const char *user;       /* HTTP Basic, when set */
    const char *password;

    /* the request body: from memory, or from read_body; body_len bytes */
    const void *body;
    pool_http_read_fn *read_body;
    void *read_baton;
    apr_off_t body_len;

    /* the answer's body: to on_body for a 2xx answer (at most body_max
     * bytes, also refused early by Content-Length), other answers' bodies
     * to memory (at most error_body_max); without on_body every body goes
     * to memory, at most body_max.  Over the limit: POOL_HTTP_ETOOLARGE,
     * with the status and the first bytes kept. */
    pool_http_body_fn *on_body;
    void *body_baton;
    apr_off_t body_max;
    apr_size_t error_body_max;

    pool_http_progress_fn *on_progress;
    void *progress_baton;

    /* libcurl's buffers, 0: its defaults.  recv_buffer: the most bytes
     * given to on_body at once (at most 10 MB); send_buffer: of the
     * request body (at most 2 MB), and for a push, the bytes gathered
     * from small writes before they are sent. */
    apr_size_t recv_buffer;
    apr_size_t send_buffer;

    pool_http_timeouts_t timeout;   /* the client's, unless changed */
    pool_http_redirect_t redirects;
    int max_redirects;

    pool_http_resp_t resp;
    pool_http_xfer_t *x;
};

/* Once per process, before threads start (libcurl's global init). */
apr_status_t pool_http_global_init(void);
void pool_http_global_cleanup(void);

/* A client in p (its connections close when p goes).  net: the outbound
 * policy checked on every address a connection is about to use (after
 * DNS, on redirects), and no proxy from the environment, which would hide
 * the addresses; NULL: no check, and libcurl's environment proxy applies
 * (pool-processor talks to its own server, maybe through a proxy). */
apr_status_t pool_http_create(pool_http_t **phttp, apr_pool_t *p,
                              const char *user_agent,
                              const pool_netpolicy_t *net);

/* For a server the administrator named (a store): no policy check (its
 * address may well be loopback or private), and no proxy from the
 * environment either.  For a client made with net NULL. */
void pool_http_set_direct(pool_http_t *http);

/* Defaults for new requests (connect: POOL_HTTP_CONNECT_DEFAULT). */
void pool_http_set_timeouts(pool_http_t *http, const pool_http_timeouts_t *t);

/* A GET-ready request in p: body_max POOL_HTTP_BODY_DEFAULT, no redirects,
 * the client's timeouts. */
pool_http_req_t *pool_http_req_make(pool_http_t *http, apr_pool_t *p,
                                    const char *method, const char *url);

/* Performs req (following redirects as it says); returns req->resp.err.
 * The client's connections are kept for its next requests. */
pool_http_err_t pool_http_perform(pool_http_req_t *req);

/* ------------------------------------------------ a body pushed in pieces
 * The caller writes the request body as it gets it: each write hands the
 * bytes to libcurl and moves the transfer on until libcurl has taken them
 * (sent them, or holds them in its send buffer), so a write may block
 * while the server is slow, and nothing is kept beyond send_buffer bytes.
 * Then pool_http_push_finish waits for the answer (in req->resp), or
 * pool_http_push_abort drops the transfer (its connection is closed: the
 * server sees a body cut short).  Like pool_http_perform, it runs on the
 * client's connections; the client does nothing else meanwhile. */

/* Opens a push for req: method, URL, headers as set; body_len bytes
 * (chunked when body_len < 0); body and read_body unused, no redirects.
 * Nothing is sent before the first send_buffer bytes are written (or the
 * push is finished).  On failure, *push is NULL and req->resp says why. */
pool_http_err_t pool_http_push_open(pool_http_req_t *req,
                                    pool_http_push_t **push);

/* Writes len bytes of the body (buf may be reused on return).  Returns
 * POOL_HTTP_OK, or the failure in req->resp, POOL_HTTP_EEARLY when an
 * answer came before the body was complete (a 413, say; its status,
 * headers and body are in req->resp).  Writing more than body_len bytes
 * fails (EINTERNAL).  After a failure, writes return the same failure. */
pool_http_err_t pool_http_push_write(pool_http_push_t *push, const void *buf,
                                     apr_size_t len);

/* Ends the body and waits for the answer; frees push.  Returns
 * req->resp.err (EEARLY when the answer came before the end; EINTERNAL
 * when fewer than body_len bytes were written: the body is dropped). */
pool_http_err_t pool_http_push_finish(pool_http_push_t *push);

/* Drops the transfer (EABORTED in req->resp unless over already); frees
 * push.  Also done when req->p goes first (it must go before the client's
 * pool). */
void pool_http_push_abort(pool_http_push_t *push);

/* Why req did not give a 2xx answer: resp.error, or "the server answered
 * NNN"; NULL for a whole 2xx answer. */
const char *pool_http_why(apr_pool_t *p, const pool_http_resp_t *resp);

/* -------------------------------------------------- many at once */

/* Called once per request added, when it is over (resp filled); may
 * destroy req->p. */
typedef void pool_http_done_fn(pool_http_req_t *req, void *baton);

/* Requests in flight together, sharing connections (to one host, reused).
 * Lives in p; pool_http_multi_destroy ends it earlier. */
apr_status_t pool_http_multi_create(pool_http_multi_t **pm, pool_http_t *http,
                                    apr_pool_t *p);

/* Starts req; done is called from pool_http_multi_run.  On failure req is
 * not started, done is not called, and req->resp says why. */
pool_http_err_t pool_http_multi_add(pool_http_multi_t *m, pool_http_req_t *req,
                                    pool_http_done_fn *done, void *baton);

/* One round: moves every transfer on, waits at most wait for activity when
 * none finished, and calls done for those that did.  Returns how many are
 * still in flight. */
int pool_http_multi_run(pool_http_multi_t *m, apr_interval_time_t wait);
/* The same, also waking when fd (>= 0) is readable, even with nothing in
 * flight: a caller's other work (a database answer) goes on meanwhile. */
int pool_http_multi_run_fd(pool_http_multi_t *m, apr_interval_time_t wait,
                           int fd);

/* Runs rounds until none is in flight. */
void pool_http_multi_perform(pool_http_multi_t *m);

int pool_http_multi_inflight(const pool_http_multi_t *m);

/* Stops what is in flight: done is called for each, with
 * POOL_HTTP_ECANCELLED; then frees the multi. */
void pool_http_multi_destroy(pool_http_multi_t *m);

/* -------------------------------------------------------- URLs */

typedef struct {
    const char *scheme, *user, *password, *host, *port, *path, *query;
} pool_http_url_t;

/* The parts of an absolute URL (missing ones NULL; path "/" at least);
 * APR_EINVAL when it is not one. */
apr_status_t pool_http_url_parse(apr_pool_t *p, const char *url,
                                 pool_http_url_t *u);

/* NULL when url may be requested: absolute http(s), written out as
 * scheme://host..., a host, no user info, at most POOL_HTTP_URL_MAX
 * printable ASCII bytes; else the reason. */
const char *pool_http_url_check(apr_pool_t *p, const char *url);

/* ref (absolute, or relative to base) as an absolute URL; NULL when it is
 * not one. */
const char *pool_http_url_resolve(apr_pool_t *p, const char *base,
                                  const char *ref);

/* Percent-encodes all but unreserved characters. */
const char *pool_http_url_escape(apr_pool_t *p, const char *s);

/* Decodes %XX; *len gets the length (the result may hold NUL bytes). */
const char *pool_http_url_unescape(apr_pool_t *p, const char *s,
                                   apr_size_t *len);

#endif
