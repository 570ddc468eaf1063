/* pool_http (lib/pool_http.c) against a real HTTP server: a small one in a
 * thread of the test (APR sockets, one thread per connection, HTTP/1.1 with
 * "Connection: close"), answering canned responses by path.  Each test
 * starts its own on a free loopback port. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_network_io.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "unit.h"
#include "pool_http.h"
#include "pool_net.h"

#define MAX_CONNS   64
#define HEAD_MAX    (16 * 1024)
#define BODY_MAX    (1024 * 1024)
#define BIG         100000

typedef struct {
    apr_pool_t *p;
    apr_socket_t *ls;
    apr_port_t port;
    apr_thread_t *acceptor;
    apr_thread_t *conns[MAX_CONNS];
    int nconns;
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *cv;
    volatile int stop;
    int accepts;                /* connections accepted */
    int hello_hits;             /* requests for /hello */
    int barrier_n;              /* /wait/K answers once this many wait */
    int barrier_count;
    int push_whole;             /* /push/sink bodies read to their end */
    int push_cut;               /* ... that ended early */
} server_t;

typedef struct {
    server_t *srv;
    apr_pool_t *p;
    apr_socket_t *s;
    char *pend;                 /* /push/: body bytes read with the head */
    apr_size_t npend;
} conn_t;

static apr_pool_t *p;
static server_t srv;

/* ------------------------------------------------------------ the server */

static void send_all(apr_socket_t *s, const char *data, apr_size_t len)
{
    while (len > 0) {
        apr_size_t n = len;
        if (apr_socket_send(s, data, &n) != APR_SUCCESS && n == 0) {
            return;
        }
        data += n;
        len -= n;
    }
}

static void respond(conn_t *c, int status, const char *headers,
                    const char *body, apr_size_t len)
{
    const char *head = apr_psprintf(c->p, "HTTP/1.1 %d X\r\n%s"
                                    "Connection: close\r\n"
                                    "Content-Length: %" APR_SIZE_T_FMT
                                    "\r\n\r\n", status, headers ? headers
                                    : "", len);
    send_all(c->s, head, strlen(head));
    send_all(c->s, body, len);
}

/* Sleeps up to secs, less when the test ends. */
static void nap(server_t *s, int secs)
{
    int i;

    for (i = 0; i < secs * 20 && !s->stop; i++) {
        apr_sleep(apr_time_from_msec(50));
    }
}

/* Reads the head and the body (Content-Length); NULL on a bad request. */
static char *read_request(conn_t *c, apr_table_t *hdrs, char **body,
                          apr_size_t *blen)
{
    char *buf = apr_palloc(c->p, HEAD_MAX + 1), *end = NULL, *line, *st;
    apr_size_t got = 0, want, have;
    const char *cl;

    while (!end && got < HEAD_MAX) {
        apr_size_t n = HEAD_MAX - got;
        if (apr_socket_recv(c->s, buf + got, &n) != APR_SUCCESS && n == 0) {
            return NULL;
        }
        got += n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end) {
        return NULL;
    }
    *end = '\0';
    have = got - (apr_size_t)(end + 4 - buf);
    line = apr_strtok(buf, "\r\n", &st);
    for (char *h = apr_strtok(NULL, "\r\n", &st); h;
         h = apr_strtok(NULL, "\r\n", &st)) {
        char *colon = strchr(h, ':');
        if (colon) {
            *colon = '\0';
            for (colon++; *colon == ' '; colon++) {
            }
            apr_table_set(hdrs, h, colon);
        }
    }
    if (strstr(line, " /push/")) {
        /* the route reads the body itself, as it streams */
        c->pend = end + 4;
        c->npend = have;
        *body = NULL;
        *blen = 0;
        return line;
    }
    cl = apr_table_get(hdrs, "Content-Length");
    want = cl ? (apr_size_t)atol(cl) : 0;
    if (want > BODY_MAX) {
        return NULL;
    }
    *body = apr_palloc(c->p, want + 1);
    memcpy(*body, end + 4, have < want ? have : want);
    while (have < want) {
        apr_size_t n = want - have;
        if (apr_socket_recv(c->s, *body + have, &n) != APR_SUCCESS && !n) {
            return NULL;
        }
        have += n;
    }
    (*body)[want] = '\0';
    *blen = want;
    return line;
}

static const char *hdr(apr_table_t *h, const char *name)
{
    const char *v = apr_table_get(h, name);
    return v ? v : "none";
}

/* /wait/K: answers when barrier_n requests wait at once (5 s at most). */
static void barrier(conn_t *c, const char *k)
{
    server_t *s = c->srv;
    apr_time_t until = apr_time_now() + apr_time_from_sec(5);
    int met;

    apr_thread_mutex_lock(s->mu);
    s->barrier_count++;
    apr_thread_cond_broadcast(s->cv);
    while (s->barrier_count < s->barrier_n && apr_time_now() < until
           && !s->stop) {
        apr_thread_cond_timedwait(s->cv, s->mu, apr_time_from_msec(100));
    }
    met = s->barrier_count >= s->barrier_n;
    apr_thread_mutex_unlock(s->mu);
    if (met) {
        respond(c, 200, NULL, k, strlen(k));
    }
    else {
        respond(c, 504, NULL, "alone", 5);
    }
}

static void send_big(conn_t *c, int chunked)
{
    char chunk[BIG / 10];
    int i;

    memset(chunk, chunked ? 'y' : 'x', sizeof(chunk));
    if (!chunked) {
        char *all = apr_palloc(c->p, BIG);
        memset(all, 'x', BIG);
        respond(c, 200, NULL, all, BIG);
        return;
    }
    {
        static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                   "chunked\r\nConnection: close\r\n\r\n";
        send_all(c->s, head, sizeof(head) - 1);
    }
    for (i = 0; i < 10; i++) {
        const char *size = apr_psprintf(c->p, "%x\r\n",
                                        (unsigned)sizeof(chunk));
        send_all(c->s, size, strlen(size));
        send_all(c->s, chunk, sizeof(chunk));
        send_all(c->s, "\r\n", 2);
    }
    send_all(c->s, "0\r\n\r\n", 5);
}

/* ------------------------------------------- streamed request bodies */

/* Up to n body bytes (the ones read with the head first); 0 at the end. */
static apr_size_t body_recv(conn_t *c, char *buf, apr_size_t n)
{
    if (c->npend) {
        if (n > c->npend) {
            n = c->npend;
        }
        memcpy(buf, c->pend, n);
        c->pend += n;
        c->npend -= n;
        return n;
    }
    if (apr_socket_recv(c->s, buf, &n) != APR_SUCCESS && n == 0) {
        return 0;
    }
    return n;
}

/* One line (CRLF dropped) into buf; 0 when the connection ended. */
static int body_line(conn_t *c, char *buf, apr_size_t size)
{
    apr_size_t n = 0;

    while (n + 1 < size) {
        if (!body_recv(c, buf + n, 1)) {
            return 0;
        }
        if (buf[n] == '\n') {
            buf[n && buf[n - 1] == '\r' ? n - 1 : n] = '\0';
            return 1;
        }
        n++;
    }
    return 0;
}

typedef struct {
    apr_off_t got;
    apr_off_t bad;              /* bytes not (position % 251) */
    char buf[64 * 1024];
} drain_t;

/* Reads want bytes (-1: to the end), checking each; 0 when cut short. */
static int body_take(conn_t *c, drain_t *d, apr_off_t want)
{
    while (want) {
        apr_size_t ask = sizeof(d->buf), n, i;

        if (want > 0 && (apr_off_t)ask > want) {
            ask = (apr_size_t)want;
        }
        if (!(n = body_recv(c, d->buf, ask))) {
            return want < 0;
        }
        for (i = 0; i < n; i++) {
            if ((unsigned char)d->buf[i] != (d->got + (apr_off_t)i) % 251) {
                d->bad++;
            }
        }
        d->got += (apr_off_t)n;
        if (want > 0) {
            want -= (apr_off_t)n;
        }
    }
    return 1;
}

static int body_chunked(conn_t *c, drain_t *d)
{
    char line[128];

    for (;;) {
        long size;

        if (!body_line(c, line, sizeof(line))) {
            return 0;
        }
        size = strtol(line, NULL, 16);
        if (size <= 0) {
            break;
        }
        if (!body_take(c, d, size) || !body_line(c, line, sizeof(line))) {
            return 0;
        }
    }
    while (body_line(c, line, sizeof(line))) {
        if (!*line) {
            return 1;           /* the end of the trailers */
        }
    }
    return 0;
}

/* /push/sink reads the body as it comes (chunked or sized) and says what
 * it got; /push/early answers 413 at once, then reads and drops the body
 * until the client stops sending. */
static void route_push(conn_t *c, const char *method, const char *path,
                       apr_table_t *h)
{
    server_t *s = c->srv;
    drain_t *d = apr_pcalloc(c->p, sizeof(*d));
    const char *te = apr_table_get(h, "Transfer-Encoding");
    const char *cl = apr_table_get(h, "Content-Length");
    int whole;

    if (!strcmp(path, "/push/early")) {
        respond(c, 413, NULL, "too large", 9);
        apr_socket_timeout_set(c->s, apr_time_from_sec(2));
        body_take(c, d, -1);
        return;
    }
    if (te && !strcasecmp(te, "chunked")) {
        whole = body_chunked(c, d);
    }
    else {
        whole = body_take(c, d, cl ? (apr_off_t)atoll(cl) : 0);
    }
    apr_thread_mutex_lock(s->mu);
    if (whole) {
        s->push_whole++;
    }
    else {
        s->push_cut++;
    }
    apr_thread_mutex_unlock(s->mu);
    if (whole) {
        respond(c, 201, apr_psprintf(c->p, "X-Got: %" APR_OFF_T_FMT "\r\n"
                                     "X-Bad: %" APR_OFF_T_FMT "\r\n"
                                     "X-TE: %s\r\nX-CL: %s\r\nX-CT: %s\r\n"
                                     "X-Expect: %s\r\nX-Method: %s\r\n",
                                     d->got, d->bad, te ? te : "none",
                                     cl ? cl : "none",
                                     hdr(h, "Content-Type"),
                                     hdr(h, "Expect"),
                                     method), "ok", 2);
    }
}

static void route_redirects(conn_t *c, const char *path)
{
    const char *to = NULL;

    if (!strcmp(path, "/redir-same")) {
        to = "/hello";
    }
    else if (!strcmp(path, "/redir-other")) {
        to = apr_psprintf(c->p, "http://localhost:%u/hello",
                          (unsigned)c->srv->port);
    }
    else if (!strcmp(path, "/redir-loop")) {
        to = "/redir-loop";
    }
    else if (!strncmp(path, "/redir-chain/", 13)) {
        int n = atoi(path + 13);
        to = n > 0 ? apr_psprintf(c->p, "/redir-chain/%d", n - 1) : "/hello";
    }
    respond(c, 302, to ? apr_pstrcat(c->p, "Location: ", to, "\r\n", NULL)
                       : NULL, "moved", 5);
}

static void route(conn_t *c, const char *method, const char *path,
                  apr_table_t *h, const char *body, apr_size_t blen)
{
    server_t *s = c->srv;

    if (!strcmp(path, "/hello")) {
        apr_thread_mutex_lock(s->mu);
        s->hello_hits++;
        apr_thread_mutex_unlock(s->mu);
        respond(c, 200, apr_psprintf(c->p, "Content-Type: text/plain\r\n"
                                     "X-Echo: %s\r\nX-UA: %s\r\n",
                                     hdr(h, "X-Test"), hdr(h, "User-Agent")),
                "hello world", 11);
    }
    else if (!strcmp(path, "/echo")) {
        respond(c, 200, apr_psprintf(c->p, "X-Method: %s\r\nX-CT: %s\r\n"
                                     "X-Length: %" APR_SIZE_T_FMT "\r\n"
                                     "X-Expect: %s\r\nX-Auth: %s\r\n",
                                     method, hdr(h, "Content-Type"), blen,
                                     hdr(h, "Expect"),
                                     hdr(h, "Authorization")),
                body, blen);
    }
    else if (!strcmp(path, "/big") || !strcmp(path, "/chunked")) {
        send_big(c, !strcmp(path, "/chunked"));
    }
    else if (!strncmp(path, "/status/", 8)) {
        const char *b = apr_pstrcat(c->p, "status ", path + 8, NULL);
        respond(c, atoi(path + 8), "Retry-After: 7\r\n", b, strlen(b));
    }
    else if (!strcmp(path, "/sleep")) {
        nap(s, 3);
        respond(c, 200, NULL, "late", 4);
    }
    else if (!strcmp(path, "/stall")) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: "
                                   "1000\r\n\r\n";
        send_all(c->s, head, sizeof(head) - 1);
        nap(s, 3);
    }
    else if (!strcmp(path, "/bigheaders")) {
        char *line = apr_palloc(c->p, 1024);
        const char *all = "";
        int i;
        memset(line, 'h', 1000);
        line[1000] = '\0';
        for (i = 0; i < 100; i++) {
            all = apr_psprintf(c->p, "%sX-H%d: %s\r\n", all, i, line);
        }
        respond(c, 200, all, "ok", 2);
    }
    else if (!strncmp(path, "/redir", 6)) {
        route_redirects(c, path);
    }
    else if (!strncmp(path, "/wait/", 6)) {
        barrier(c, path + 6);
    }
    else if (!strncmp(path, "/push/", 6)) {
        route_push(c, method, path, h);
    }
    else {
        respond(c, 404, NULL, "no", 2);
    }
}

static void *APR_THREAD_FUNC conn_main(apr_thread_t *t, void *data)
{
    conn_t *c = data;
    apr_table_t *h = apr_table_make(c->p, 16);
    char *line, *body = NULL, *st, *method, *path;
    apr_size_t blen = 0;

    apr_socket_timeout_set(c->s, apr_time_from_sec(5));
    if ((line = read_request(c, h, &body, &blen)) != NULL
        && (method = apr_strtok(line, " ", &st)) != NULL
        && (path = apr_strtok(NULL, " ", &st)) != NULL) {
        route(c, method, path, h, body, blen);
    }
    apr_socket_close(c->s);
    apr_pool_destroy(c->p);
    return NULL;
}

static void *APR_THREAD_FUNC accept_main(apr_thread_t *t, void *data)
{
    server_t *s = data;

    while (!s->stop) {
        apr_pool_t *cp;
        apr_socket_t *cs;
        conn_t *c;

        apr_pool_create(&cp, NULL);
        if (apr_socket_accept(&cs, s->ls, cp) != APR_SUCCESS) {
            apr_pool_destroy(cp);
            continue;
        }
        c = apr_pcalloc(cp, sizeof(*c));
        c->srv = s;
        c->p = cp;
        c->s = cs;
        apr_thread_mutex_lock(s->mu);
        s->accepts++;
        if (s->nconns < MAX_CONNS
            && apr_thread_create(&s->conns[s->nconns], NULL, conn_main, c,
                                 s->p) == APR_SUCCESS) {
            s->nconns++;
            c = NULL;
        }
        apr_thread_mutex_unlock(s->mu);
        if (c) {
            apr_socket_close(cs);
            apr_pool_destroy(cp);
        }
    }
    return NULL;
}

static void server_start(server_t *s)
{
    apr_sockaddr_t *sa;

    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(apr_pool_create(&s->p, NULL), APR_SUCCESS);
    ck_assert_int_eq(apr_thread_mutex_create(&s->mu, APR_THREAD_MUTEX_DEFAULT,
                                             s->p), APR_SUCCESS);
    ck_assert_int_eq(apr_thread_cond_create(&s->cv, s->p), APR_SUCCESS);
    ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0,
                                           s->p), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_create(&s->ls, APR_INET, SOCK_STREAM,
                                       APR_PROTO_TCP, s->p), APR_SUCCESS);
    apr_socket_opt_set(s->ls, APR_SO_REUSEADDR, 1);
    ck_assert_int_eq(apr_socket_bind(s->ls, sa), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_listen(s->ls, 64), APR_SUCCESS);
    apr_socket_timeout_set(s->ls, apr_time_from_msec(100));
    ck_assert_int_eq(apr_socket_addr_get(&sa, APR_LOCAL, s->ls), APR_SUCCESS);
    s->port = sa->port;
    ck_assert_int_eq(apr_thread_create(&s->acceptor, NULL, accept_main, s,
                                       s->p), APR_SUCCESS);
}

static void server_stop(server_t *s)
{
    apr_status_t rv;
    int i;

    s->stop = 1;
    apr_thread_join(&rv, s->acceptor);
    for (i = 0; i < s->nconns; i++) {
        apr_thread_join(&rv, s->conns[i]);
    }
    apr_socket_close(s->ls);
    apr_pool_destroy(s->p);
}

static int counted(const int *what)
{
    int n;

    apr_thread_mutex_lock(srv.mu);
    n = *what;
    apr_thread_mutex_unlock(srv.mu);
    return n;
}

#define accepts() counted(&srv.accepts)
#define hello_hits() counted(&srv.hello_hits)

/* ------------------------------------------------------------- helpers */

static void setup(void)
{
    /* the server writes to clients that gave up (timeouts) */
    signal(SIGPIPE, SIG_IGN);
    apr_initialize();
    apr_pool_create(&p, NULL);
    server_start(&srv);
}

static void teardown(void)
{
    server_stop(&srv);
    apr_pool_destroy(p);
    apr_terminate();
}

static const char *url(const char *path)
{
    return apr_psprintf(p, "http://127.0.0.1:%u%s", (unsigned)srv.port, path);
}

/* A client that may reach loopback, as the tests' configuration allows. */
static pool_http_t *client(const char *allow)
{
    pool_netpolicy_t *np;
    pool_http_t *http;

    ck_assert_ptr_null(pool_netpolicy_make(p, NULL, allow, &np));
    ck_assert_int_eq(pool_http_create(&http, p, "unit/1", np), APR_SUCCESS);
    return http;
}

static pool_http_req_t *get(pool_http_t *http, const char *path)
{
    return pool_http_req_make(http, p, "GET", url(path));
}

static const char *rh(const pool_http_req_t *rq, const char *name)
{
    const char *v = apr_table_get(rq->resp.headers, name);
    return v ? v : "(missing)";
}

typedef struct {
    const char *data;
    apr_size_t len, off, step;
} reader_t;

static apr_status_t read_some(void *baton, char *buf, apr_size_t *len)
{
    reader_t *r = baton;
    apr_size_t n = r->len - r->off;

    if (n > r->step) {
        n = r->step;
    }
    if (n > *len) {
        n = *len;
    }
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    *len = n;
    return n ? APR_SUCCESS : APR_EOF;
}

typedef struct {
    apr_off_t bytes;
    int calls;
    int fail;
} sink_t;

static apr_status_t sink(void *baton, const char *data, apr_size_t len)
{
    sink_t *k = baton;

    k->calls++;
    if (k->fail) {
        return APR_EGENERAL;
    }
    k->bytes += (apr_off_t)len;
    return APR_SUCCESS;
}

static int stop_now(void *baton, apr_off_t dlt, apr_off_t dln, apr_off_t ult,
                    apr_off_t uln)
{
    return 1;
}

/* ---------------------------------------------------------- one request */

START_TEST(get_with_headers_both_ways)
{
    pool_http_req_t *rq = get(client("127.0.0.0/8"), "/hello");

    apr_table_set(rq->headers, "X-Test", "abc def");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_uint_eq(rq->resp.len, 11);
    ck_assert_str_eq(rq->resp.body, "hello world");
    ck_assert_str_eq(rh(rq, "X-Echo"), "abc def");
    ck_assert_str_eq(rh(rq, "x-ua"), "unit/1");
    ck_assert_str_eq(rh(rq, "Content-Type"), "text/plain");
    ck_assert_ptr_null(rq->resp.error);
    ck_assert_ptr_null(pool_http_why(p, &rq->resp));
}
END_TEST

START_TEST(post_body_from_memory)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_req_t *rq = pool_http_req_make(http, p, "POST", url("/echo"));

    rq->body = "a=1&b=2";
    rq->body_len = 7;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_str_eq(rh(rq, "X-Method"), "POST");
    /* no invented form type, no 100-continue */
    ck_assert_str_eq(rh(rq, "X-CT"), "none");
    ck_assert_str_eq(rh(rq, "X-Expect"), "none");
    ck_assert_str_eq(rq->resp.body, "a=1&b=2");

    rq = pool_http_req_make(http, p, "POST", url("/echo"));
    apr_table_set(rq->headers, "Content-Type", "application/json");
    rq->body = "{}";
    rq->body_len = 2;
    rq->user = "id";
    rq->password = "secret";
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_str_eq(rh(rq, "X-CT"), "application/json");
    ck_assert_str_eq(rh(rq, "X-Auth"), "Basic aWQ6c2VjcmV0");
    ck_assert_str_eq(rq->resp.body, "{}");

    /* a POST without a body is an empty one */
    rq = pool_http_req_make(http, p, "POST", url("/echo"));
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_str_eq(rh(rq, "X-Method"), "POST");
    ck_assert_str_eq(rh(rq, "X-Length"), "0");
    ck_assert_str_eq(rh(rq, "X-CT"), "none");
}
END_TEST

START_TEST(put_body_from_callback)
{
    pool_http_req_t *rq;
    reader_t r;
    char *data = apr_palloc(p, 1001);
    int i;

    for (i = 0; i < 1000; i++) {
        data[i] = (char)('0' + i % 10);
    }
    data[1000] = '\0';
    memset(&r, 0, sizeof(r));
    r.data = data;
    r.len = 1000;
    r.step = 3;
    rq = pool_http_req_make(client("127.0.0.0/8"), p, "PUT", url("/echo"));
    rq->read_body = read_some;
    rq->read_baton = &r;
    rq->body_len = 1000;
    rq->body_max = 2000;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_str_eq(rh(rq, "X-Method"), "PUT");
    ck_assert_str_eq(rh(rq, "X-Length"), "1000");
    ck_assert_uint_eq(rq->resp.len, 1000);
    ck_assert_str_eq(rq->resp.body, data);
}
END_TEST

START_TEST(status_is_an_answer)
{
    pool_http_req_t *rq = get(client("127.0.0.0/8"), "/status/503");

    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 503);
    ck_assert_str_eq(rq->resp.body, "status 503");
    ck_assert_str_eq(rh(rq, "Retry-After"), "7");
    ck_assert_str_eq(pool_http_why(p, &rq->resp), "the server answered 503");
}
END_TEST

START_TEST(bad_header_is_refused_unsent)
{
    pool_http_req_t *rq = get(client("127.0.0.0/8"), "/hello");
    int before = accepts();

    apr_table_set(rq->headers, "X-Test", "a\r\nX-Evil: 1");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EURL);
    ck_assert_ptr_nonnull(strstr(rq->resp.error, "CR or LF"));
    ck_assert_int_eq(rq->resp.status, 0);
    ck_assert_int_eq(accepts(), before);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST(memory_body_over_the_limit)
{
    pool_http_req_t *rq = get(client("127.0.0.0/8"), "/big");

    rq->body_max = 1000;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_ETOOLARGE);
    /* the status and the first bytes are kept */
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_uint_eq(rq->resp.len, 1000);
    ck_assert_int_eq(rq->resp.body[0], 'x');
    ck_assert_int_eq(rq->resp.body[1000], '\0');
    ck_assert_ptr_nonnull(strstr(rq->resp.error,
                                 "larger than the limit of 1000 bytes"));

    rq = get(rq->http, "/big");
    rq->body_max = BIG;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_uint_eq(rq->resp.len, BIG);
}
END_TEST

START_TEST(sink_body_limits)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_req_t *rq;
    sink_t k;

    /* refused by its Content-Length before a byte of it is taken */
    memset(&k, 0, sizeof(k));
    rq = get(http, "/big");
    rq->on_body = sink;
    rq->body_baton = &k;
    rq->body_max = BIG / 2;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_ETOOLARGE);
    ck_assert_int_eq(k.calls, 0);
    ck_assert_int_eq(rq->resp.received, 0);

    /* chunked: stopped while streaming, never past the limit */
    memset(&k, 0, sizeof(k));
    rq = get(http, "/chunked");
    rq->on_body = sink;
    rq->body_baton = &k;
    rq->body_max = BIG / 2;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_ETOOLARGE);
    ck_assert_int_gt(k.bytes, 0);
    ck_assert_int_le(k.bytes, BIG / 2);
    ck_assert_int_eq(rq->resp.received, k.bytes);

    /* within the limit: all of it, nothing in memory */
    memset(&k, 0, sizeof(k));
    rq = get(http, "/chunked");
    rq->on_body = sink;
    rq->body_baton = &k;
    rq->body_max = BIG;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(k.bytes, BIG);
    ck_assert_uint_eq(rq->resp.len, 0);

    /* not a 2xx: into memory, not to the sink */
    memset(&k, 0, sizeof(k));
    rq = get(http, "/status/404");
    rq->on_body = sink;
    rq->body_baton = &k;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(k.calls, 0);
    ck_assert_str_eq(rq->resp.body, "status 404");

    /* the sink refuses */
    memset(&k, 0, sizeof(k));
    k.fail = 1;
    rq = get(http, "/hello");
    rq->on_body = sink;
    rq->body_baton = &k;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_ECALLBACK);
    ck_assert_int_eq(rq->resp.cb_status, APR_EGENERAL);
    ck_assert_int_eq(rq->resp.status, 200);
}
END_TEST

START_TEST(headers_over_the_limit)
{
    pool_http_req_t *rq = get(client("127.0.0.0/8"), "/bigheaders");

    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EHEADERS);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_ptr_nonnull(strstr(rq->resp.error, "headers are larger"));
}
END_TEST

START_TEST(timeouts)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_req_t *rq = get(http, "/sleep");

    rq->timeout.total = apr_time_from_msec(500);
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_ETIMEOUT);
    ck_assert_int_eq(rq->resp.status, 0);
    ck_assert_msg(!strncmp(rq->resp.error, "timed out: ", 11), "%s",
                  rq->resp.error);

    /* a stall: the headers, then nothing for 3 s */
    rq = get(http, "/stall");
    rq->timeout.stall = apr_time_from_sec(1);
    rq->timeout.stall_bytes = 1;
    ck_assert_msg(pool_http_perform(rq) == POOL_HTTP_ETIMEOUT, "%s",
                  rq->resp.error);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_uint_eq(rq->resp.len, 0);
}
END_TEST

START_TEST(progress_can_stop_it)
{
    pool_http_req_t *rq = get(client("127.0.0.0/8"), "/sleep");

    rq->on_progress = stop_now;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EABORTED);
    ck_assert_str_eq(rq->resp.error, "stopped by the caller");
}
END_TEST

/* ------------------------------------------------------------ redirects */

START_TEST(redirect_same_host_followed)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_req_t *rq = get(http, "/redir-same");

    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_str_eq(rq->resp.body, "hello world");
    ck_assert_int_eq(rq->resp.redirects, 1);
    ck_assert_int_eq(hello_hits(), 1);

    /* by default a 3xx is the answer */
    rq = get(http, "/redir-same");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 302);
    ck_assert_str_eq(rh(rq, "Location"), "/hello");
    ck_assert_int_eq(rq->resp.redirects, 0);
    ck_assert_int_eq(hello_hits(), 1);
}
END_TEST

START_TEST(redirect_refused_by_policy)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_req_t *rq = get(http, "/redir-other");

    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EREDIRECT);
    ck_assert_str_eq(rq->resp.error, "redirect to another host refused");
    ck_assert_int_eq(rq->resp.status, 302);
    ck_assert_int_eq(hello_hits(), 0);

    rq = get(http, "/redir-none");
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EREDIRECT);
    ck_assert_str_eq(rq->resp.error,
                     "the server answered 302 without a usable Location");

    rq = get(http, "/redir-loop");
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EREDIRECT);
    ck_assert_str_eq(rq->resp.error, "too many redirects");
    ck_assert_int_eq(rq->resp.redirects, 5);

    /* max_redirects counts redirects followed */
    rq = get(http, "/redir-chain/1");
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    rq->max_redirects = 2;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.redirects, 2);
    rq = get(http, "/redir-chain/2");
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    rq->max_redirects = 2;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EREDIRECT);
}
END_TEST

/* ------------------------------------------------------ network failures */

START_TEST(denied_address_never_connected)
{
    pool_http_req_t *rq;
    int before = accepts();

    /* the default deny list holds 127.0.0.0/8 */
    rq = get(client(NULL), "/hello");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EDENIED);
    ck_assert_str_eq(rq->resp.denied_ip, "127.0.0.1");
    ck_assert_ptr_nonnull(strstr(rq->resp.error, "denied"));
    ck_assert_ptr_nonnull(strstr(rq->resp.error, "127.0.0.1"));
    ck_assert_int_eq(rq->resp.status, 0);
    ck_assert_int_eq(accepts(), before);

    /* allowed explicitly */
    rq = get(client("127.0.0.1"), "/hello");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_int_eq(accepts(), before + 1);
}
END_TEST

START_TEST(connect_refused_and_dns)
{
    pool_http_t *http;
    pool_http_req_t *rq;
    apr_socket_t *s;
    apr_sockaddr_t *sa;
    apr_port_t port;

    /* a port nobody listens on: bound, then closed */
    ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0,
                                           p), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_create(&s, APR_INET, SOCK_STREAM,
                                       APR_PROTO_TCP, p), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_bind(s, sa), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_addr_get(&sa, APR_LOCAL, s), APR_SUCCESS);
    port = sa->port;
    apr_socket_close(s);
    ck_assert_int_eq(pool_http_create(&http, p, "unit/1", NULL), APR_SUCCESS);
    rq = pool_http_req_make(http, p, "GET",
                            apr_psprintf(p, "http://127.0.0.1:%u/", port));
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_ECONNECT);
    ck_assert_msg(!strncmp(rq->resp.error, "cannot connect: ", 16), "%s",
                  rq->resp.error);

    rq = pool_http_req_make(http, p, "GET", "http://host.invalid/");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EDNS);
    ck_assert_ptr_nonnull(strstr(rq->resp.error, "host.invalid"));

    rq = pool_http_req_make(http, p, "GET", "ftp://127.0.0.1/");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_EURL);
}
END_TEST

/* ----------------------------------------------------------- many at once */

typedef struct {
    int calls;
    int status;
    pool_http_err_t err;
    char body[64];
} result_t;

/* Copies what it needs, then frees the request, as webhooks do. */
static void done_copy(pool_http_req_t *rq, void *baton)
{
    result_t *r = baton;

    r->calls++;
    r->status = rq->resp.status;
    r->err = rq->resp.err;
    apr_cpystrn(r->body, rq->resp.body, sizeof(r->body));
    apr_pool_destroy(rq->p);
}

static pool_http_req_t *sub_get(pool_http_t *http, const char *path)
{
    apr_pool_t *rp;

    apr_pool_create(&rp, p);
    return pool_http_req_make(http, rp, "GET", url(path));
}

START_TEST(multi_concurrent_each_its_answer)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_multi_t *m;
    result_t r[6];
    int i;

    /* each /wait/K answers only once all six wait at the same time: one
     * after another, they would get 504 */
    srv.barrier_n = 6;
    memset(r, 0, sizeof(r));
    ck_assert_int_eq(pool_http_multi_create(&m, http, p), APR_SUCCESS);
    for (i = 0; i < 6; i++) {
        pool_http_req_t *rq = sub_get(http, apr_psprintf(p, "/wait/%d", i));
        ck_assert_int_eq(pool_http_multi_add(m, rq, done_copy, &r[i]),
                         POOL_HTTP_OK);
    }
    ck_assert_int_eq(pool_http_multi_inflight(m), 6);
    pool_http_multi_perform(m);
    ck_assert_int_eq(pool_http_multi_inflight(m), 0);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_int_eq(r[i].err, POOL_HTTP_OK);
        ck_assert_int_eq(r[i].status, 200);
        ck_assert_str_eq(r[i].body, apr_itoa(p, i));
    }
    pool_http_multi_destroy(m);
}
END_TEST

START_TEST(multi_outcomes_and_redirects)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_multi_t *m;
    pool_http_req_t *rq;
    result_t r[3];
    int i;

    memset(r, 0, sizeof(r));
    ck_assert_int_eq(pool_http_multi_create(&m, http, p), APR_SUCCESS);
    rq = sub_get(http, "/redir-same");
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    ck_assert_int_eq(pool_http_multi_add(m, rq, done_copy, &r[0]),
                     POOL_HTTP_OK);
    rq = sub_get(http, "/redir-other");
    rq->redirects = POOL_HTTP_REDIRECT_SAME_HOST;
    ck_assert_int_eq(pool_http_multi_add(m, rq, done_copy, &r[1]),
                     POOL_HTTP_OK);
    rq = sub_get(http, "/status/410");
    ck_assert_int_eq(pool_http_multi_add(m, rq, done_copy, &r[2]),
                     POOL_HTTP_OK);
    /* one that cannot start: refused at once, no completion */
    rq = sub_get(http, "/hello");
    apr_table_set(rq->headers, "Bad", "x\ny");
    ck_assert_int_eq(pool_http_multi_add(m, rq, done_copy, NULL),
                     POOL_HTTP_EURL);
    ck_assert_int_eq(pool_http_multi_inflight(m), 3);
    while (pool_http_multi_run(m, apr_time_from_msec(200)) > 0) {
    }
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(r[i].calls, 1);
    }
    ck_assert_int_eq(r[0].err, POOL_HTTP_OK);
    ck_assert_int_eq(r[0].status, 200);
    ck_assert_str_eq(r[0].body, "hello world");
    ck_assert_int_eq(r[1].err, POOL_HTTP_EREDIRECT);
    ck_assert_int_eq(r[2].err, POOL_HTTP_OK);
    ck_assert_int_eq(r[2].status, 410);
    ck_assert_str_eq(r[2].body, "status 410");
    pool_http_multi_destroy(m);
}
END_TEST

START_TEST(multi_destroy_cancels_in_flight)
{
    pool_http_t *http = client("127.0.0.0/8");
    pool_http_multi_t *m;
    result_t r[2];
    int i;

    memset(r, 0, sizeof(r));
    ck_assert_int_eq(pool_http_multi_create(&m, http, p), APR_SUCCESS);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(pool_http_multi_add(m, sub_get(http, "/sleep"),
                                             done_copy, &r[i]), POOL_HTTP_OK);
    }
    ck_assert_int_eq(pool_http_multi_run(m, apr_time_from_msec(100)), 2);
    pool_http_multi_destroy(m);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_int_eq(r[i].err, POOL_HTTP_ECANCELLED);
    }
}
END_TEST

/* ------------------------------------------------------------------ URLs */

/* ------------------------------------------------- a body pushed in pieces */

#define PATTERN_LEN (251 * 256)     /* whole periods of position % 251 */

static const char *pattern(void)
{
    char *b = apr_palloc(p, PATTERN_LEN + 251);
    int i;

    for (i = 0; i < PATTERN_LEN + 251; i++) {
        b[i] = (char)(i % 251);
    }
    return b;
}

/* Writes n bytes of the pattern from position *pos, in pieces of sizes
 * that vary (1 byte to 3 x 64 KB); the first failure is returned. */
static pool_http_err_t push_pattern(pool_http_push_t *ps, const char *pat,
                                    apr_off_t *pos, apr_off_t n)
{
    static const apr_size_t sizes[] = { 1, 7, 4096, 100, 65536, 3,
                                        200000, 16384, 16383, 50 };
    pool_http_err_t err = POOL_HTTP_OK;
    int i = 0;

    while (n > 0 && err == POOL_HTTP_OK) {
        apr_size_t k = sizes[i++ % 10];
        const char *from = pat + *pos % 251;

        if ((apr_off_t)k > n) {
            k = (apr_size_t)n;
        }
        if (k > PATTERN_LEN) {
            /* in two writes: the pattern is shorter */
            err = pool_http_push_write(ps, from, PATTERN_LEN);
            *pos += PATTERN_LEN;
            n -= PATTERN_LEN;
            continue;
        }
        err = pool_http_push_write(ps, from, k);
        *pos += (apr_off_t)k;
        n -= (apr_off_t)k;
    }
    return err;
}

/* A client for a server the administrator named: no policy, no proxy. */
static pool_http_t *direct_client(void)
{
    pool_http_t *http;

    ck_assert_int_eq(pool_http_create(&http, p, NULL, NULL), APR_SUCCESS);
    pool_http_set_direct(http);
    return http;
}

START_TEST(push_chunked_and_sized)
{
    pool_http_t *http = direct_client();
    const char *pat = pattern();
    pool_http_req_t *rq;
    pool_http_push_t *ps;
    apr_off_t pos = 0;

    /* chunked, gathered in 16 KB */
    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    apr_table_set(rq->headers, "Content-Type", "application/octet-stream");
    rq->body_len = -1;
    rq->send_buffer = 16 * 1024;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(push_pattern(ps, pat, &pos, 1000000), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 201);
    ck_assert_str_eq(rh(rq, "X-Got"), "1000000");
    ck_assert_str_eq(rh(rq, "X-Bad"), "0");
    ck_assert_str_eq(rh(rq, "X-TE"), "chunked");
    ck_assert_str_eq(rh(rq, "X-Method"), "PUT");
    ck_assert_str_eq(rh(rq, "X-CT"), "application/octet-stream");
    ck_assert_str_eq(rh(rq, "X-Expect"), "none");

    /* with its length, no gathering, another method; an empty body */
    pos = 0;
    rq = pool_http_req_make(http, p, "PROPPATCH", url("/push/sink"));
    rq->body_len = 300001;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(push_pattern(ps, pat, &pos, 300001), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 201);
    ck_assert_str_eq(rh(rq, "X-Got"), "300001");
    ck_assert_str_eq(rh(rq, "X-Bad"), "0");
    ck_assert_str_eq(rh(rq, "X-TE"), "none");
    ck_assert_str_eq(rh(rq, "X-CL"), "300001");
    ck_assert_str_eq(rh(rq, "X-Method"), "PROPPATCH");
    ck_assert_str_eq(rh(rq, "X-CT"), "none");

    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = -1;
    rq->send_buffer = 1024;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 201);
    ck_assert_str_eq(rh(rq, "X-Got"), "0");

    /* more than the length: refused, nothing answered */
    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = 10;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_write(ps, pat, 5), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_write(ps, pat, 6), POOL_HTTP_EINTERNAL);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_EINTERNAL);

    /* less than the length: dropped */
    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = 10;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_write(ps, pat, 5), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_EINTERNAL);

    /* the client goes on with other requests */
    rq = get(http, "/hello");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 200);
}
END_TEST

START_TEST(push_busy_client_refuses)
{
    pool_http_t *http = direct_client();
    pool_http_req_t *rq, *other;
    pool_http_push_t *ps, *ps2;

    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = -1;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    other = get(http, "/hello");
    ck_assert_int_eq(pool_http_perform(other), POOL_HTTP_EINTERNAL);
    other = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    ck_assert_int_eq(pool_http_push_open(other, &ps2), POOL_HTTP_EINTERNAL);
    ck_assert_ptr_null(ps2);
    ck_assert_int_eq(pool_http_push_write(ps, "abc", 3), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_OK);
    ck_assert_str_eq(rh(rq, "X-Got"), "3");
    ck_assert_int_eq(rq->resp.status, 201);
}
END_TEST

START_TEST(push_abort_mid_body)
{
    pool_http_t *http = direct_client();
    const char *pat = pattern();
    pool_http_req_t *rq;
    pool_http_push_t *ps;
    apr_off_t pos = 0;
    int i;

    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = -1;
    rq->send_buffer = 128 * 1024;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(push_pattern(ps, pat, &pos, 1000000), POOL_HTTP_OK);
    pool_http_push_abort(ps);
    ck_assert_int_eq(rq->resp.err, POOL_HTTP_EABORTED);
    /* the server saw the body end early, never its end */
    for (i = 0; i < 100 && !counted(&srv.push_cut); i++) {
        apr_sleep(apr_time_from_msec(20));
    }
    ck_assert_int_eq(counted(&srv.push_cut), 1);
    ck_assert_int_eq(counted(&srv.push_whole), 0);

    /* the same with a length, before anything was sent; then the pool
     * of a request still open goes */
    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = 100;
    rq->send_buffer = 1024;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    ck_assert_int_eq(pool_http_push_write(ps, pat, 50), POOL_HTTP_OK);
    pool_http_push_abort(ps);
    {
        apr_pool_t *rp;

        apr_pool_create(&rp, p);
        rq = pool_http_req_make(http, rp, "PUT", url("/push/sink"));
        rq->body_len = -1;
        ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
        ck_assert_int_eq(pool_http_push_write(ps, pat, 5000), POOL_HTTP_OK);
        apr_pool_destroy(rp);
    }
    /* the client is free again */
    rq = get(http, "/hello");
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 200);
    ck_assert_int_eq(counted(&srv.push_whole), 0);
}
END_TEST

START_TEST(push_early_answer)
{
    pool_http_t *http = direct_client();
    const char *pat = pattern();
    pool_http_req_t *rq;
    pool_http_push_t *ps;
    pool_http_err_t err = POOL_HTTP_OK;
    apr_off_t pos = 0;

    rq = pool_http_req_make(http, p, "PUT", url("/push/early"));
    rq->body_len = -1;
    rq->send_buffer = 64 * 1024;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    while (err == POOL_HTTP_OK && pos < 256 * 1024 * 1024) {
        err = pool_http_push_write(ps, pat + pos % 251, PATTERN_LEN);
        pos += PATTERN_LEN;
    }
    /* the answer is seen while writing: the rest is not sent */
    ck_assert_int_eq(err, POOL_HTTP_EEARLY);
    ck_assert_int_eq(rq->resp.status, 413);
    ck_assert_str_eq(rq->resp.body, "too large");
    ck_assert_ptr_nonnull(strstr(rq->resp.error, "413"));
    ck_assert_int_eq(pool_http_push_write(ps, pat, 10), POOL_HTTP_EEARLY);
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_EEARLY);
    ck_assert_int_eq(rq->resp.status, 413);

    /* a connection refused is a transient failure, on the first write */
    {
        apr_port_t port = srv.port;

        server_stop(&srv);
        rq = pool_http_req_make(http, p, "PUT", apr_psprintf(p,
                                "http://127.0.0.1:%u/push/sink",
                                (unsigned)port));
        rq->body_len = -1;
        ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
        ck_assert_int_eq(pool_http_push_write(ps, pat, 10),
                         POOL_HTTP_ECONNECT);
        ck_assert_int_eq(rq->resp.transient, 1);
        ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_ECONNECT);
        server_start(&srv);
    }
}
END_TEST

static long max_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

START_TEST(push_large_streamed)
{
    pool_http_t *http = direct_client();
    const char *pat = pattern();
    apr_off_t total = (apr_off_t)256 * 1024 * 1024, pos = 0;
    pool_http_req_t *rq;
    pool_http_push_t *ps;
    long before;

    rq = pool_http_req_make(http, p, "PUT", url("/push/sink"));
    rq->body_len = -1;
    rq->send_buffer = 128 * 1024;
    ck_assert_int_eq(pool_http_push_open(rq, &ps), POOL_HTTP_OK);
    /* the first MB, then what the rest adds to the high-water mark */
    ck_assert_int_eq(push_pattern(ps, pat, &pos, 1024 * 1024), POOL_HTTP_OK);
    before = max_rss_kb();
    while (pos < total) {
        ck_assert_int_eq(pool_http_push_write(ps, pat + pos % 251,
                                              PATTERN_LEN), POOL_HTTP_OK);
        pos += PATTERN_LEN;
    }
    ck_assert_int_eq(pool_http_push_finish(ps), POOL_HTTP_OK);
    ck_assert_int_eq(rq->resp.status, 201);
    ck_assert_str_eq(rh(rq, "X-Got"), apr_off_t_toa(p, pos));
    ck_assert_str_eq(rh(rq, "X-Bad"), "0");
    ck_assert_int_lt(max_rss_kb() - before, 8 * 1024);
}
END_TEST

typedef struct {
    pool_http_req_t *rq;
    apr_size_t most;
    int status;
} seen_t;

static apr_status_t note_piece(void *baton, const char *data, apr_size_t len)
{
    seen_t *s = baton;

    s->status = s->rq->resp.status;
    if (len > s->most) {
        s->most = len;
    }
    return APR_SUCCESS;
}

START_TEST(sink_sees_status_and_buffer_size)
{
    pool_http_req_t *rq = get(direct_client(), "/big");
    seen_t s = { rq, 0, 0 };

    rq->on_body = note_piece;
    rq->body_baton = &s;
    rq->recv_buffer = 1024;
    rq->body_max = BIG;
    ck_assert_int_eq(pool_http_perform(rq), POOL_HTTP_OK);
    ck_assert_int_eq(s.status, 200);
    ck_assert_uint_le(s.most, 1024);
    ck_assert_int_eq(rq->resp.received, BIG);
}
END_TEST

START_TEST(url_helpers)
{
    pool_http_url_t u;
    apr_size_t n = 0;
    const char *s;

    ck_assert_ptr_null(pool_http_url_check(p, "https://example.org/a?b=c"));
    ck_assert_str_eq(pool_http_url_check(p, "ftp://example.org/x"),
                     "only http and https URLs are accepted");
    ck_assert_str_eq(pool_http_url_check(p, "http:///x"),
                     "the URL must be scheme://host/...");
    ck_assert_str_eq(pool_http_url_check(p, "http://u:pw@example.org/"),
                     "credentials in the URL are not accepted");
    ck_assert_str_eq(pool_http_url_check(p, "http://a b/"),
                     "the URL contains spaces, control or non-ASCII "
                     "characters");
    ck_assert_str_eq(pool_http_url_check(p, ""), "a URL is required");
    ck_assert_str_eq(pool_http_url_check(p, "example.org"),
                     "not a valid absolute URL");

    ck_assert_int_eq(pool_http_url_parse(p, "http://Ex.org:81/d/f%20g?q=1",
                                         &u), APR_SUCCESS);
    ck_assert_str_eq(u.scheme, "http");
    ck_assert_str_eq(u.host, "Ex.org");
    ck_assert_str_eq(u.port, "81");
    ck_assert_str_eq(u.path, "/d/f%20g");
    ck_assert_str_eq(u.query, "q=1");
    ck_assert_ptr_null(u.user);
    ck_assert_int_eq(pool_http_url_parse(p, "no url", &u), APR_EINVAL);

    ck_assert_str_eq(pool_http_url_resolve(p, "http://h:8/pool", "/v1/x?a=b"),
                     "http://h:8/v1/x?a=b");
    ck_assert_str_eq(pool_http_url_resolve(p, "http://h/pool/", "v1"),
                     "http://h/pool/v1");
    ck_assert_str_eq(pool_http_url_resolve(p, "http://h/pool", "https://o/y"),
                     "https://o/y");

    ck_assert_str_eq(pool_http_url_escape(p, "a b/c~"), "a%20b%2Fc~");
    s = pool_http_url_unescape(p, "report%20one.csv", &n);
    ck_assert_str_eq(s, "report one.csv");
    ck_assert_uint_eq(n, 14);
    s = pool_http_url_unescape(p, "a%00b", &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(s[2], 'b');
}
END_TEST

Suite *suite_http(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, get_with_headers_both_ways);
    tcase_add_test(tc, post_body_from_memory);
    tcase_add_test(tc, put_body_from_callback);
    tcase_add_test(tc, status_is_an_answer);
    tcase_add_test(tc, bad_header_is_refused_unsent);
    tcase_add_test(tc, memory_body_over_the_limit);
    tcase_add_test(tc, sink_body_limits);
    tcase_add_test(tc, headers_over_the_limit);
    tcase_add_test(tc, timeouts);
    tcase_add_test(tc, progress_can_stop_it);
    tcase_add_test(tc, redirect_same_host_followed);
    tcase_add_test(tc, redirect_refused_by_policy);
    tcase_add_test(tc, denied_address_never_connected);
    tcase_add_test(tc, connect_refused_and_dns);
    tcase_add_test(tc, multi_concurrent_each_its_answer);
    tcase_add_test(tc, multi_outcomes_and_redirects);
    tcase_add_test(tc, multi_destroy_cancels_in_flight);
    tcase_add_test(tc, push_chunked_and_sized);
    tcase_add_test(tc, push_busy_client_refuses);
    tcase_add_test(tc, push_abort_mid_body);
    tcase_add_test(tc, push_early_answer);
    tcase_add_test(tc, push_large_streamed);
    tcase_add_test(tc, sink_sees_status_and_buffer_size);
    tcase_add_test(tc, url_helpers);
    suite_add_tcase(s, tc);
    return s;
}
