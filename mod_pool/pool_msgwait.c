/* The long-poll waiter of each httpd child (docs/operations.md, "Inbox
 * long-polls").
 *
 * One thread per child keeps a libpq connection of its own (not one of
 * the request pool's) that LISTENs on POOL_MSG_CHANNEL; every sending
 * transaction notifies it with the pool's name, on every node.  Requests
 * that wait (GET .../messages?wait=N) hold no database connection: they
 * sleep on a condition variable until a notification names their pool
 * (hashed into one of SLOTS counters, so another pool's message may wake
 * them for nothing, never the reverse), their deadline passes, or the
 * child stops.  When the listener's connection is lost it reconnects with
 * backoff, and meanwhile the waiters look again every FALLBACK seconds;
 * notifications missed while it was down are made up for by waking every
 * waiter once when it is back. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <ap_mpm.h>

#include "mod_pool.h"
#include "pool_messages.h"

#define SLOTS           256
#define BACKOFF_MAX     30              /* seconds between reconnections */
#define FALLBACK        2               /* seconds, listener down */
#define PING            60              /* seconds: an idle listener checks */
#define SLICE           apr_time_from_sec(1)    /* waiters check the MPM */

struct pool_msgwait {
    server_rec *s;
    const char *conninfo;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;
    apr_thread_t *thread;
    int wake[2];                /* a byte on it stops the listener */
    int max_waiters;
    int waiters;
    int listening;              /* LISTEN is in place */
    int stop;
    apr_uint32_t epoch;         /* bumped when the listener comes or goes */
    apr_uint32_t gen[SLOTS];    /* notifications per slot */
};

static unsigned int slot_of(const char *pool)
{
    apr_ssize_t len = APR_HASH_KEY_STRING;

    return apr_hashfunc_default(pool, &len) % SLOTS;
}

/* ------------------------------------------------------------ listener */

static void set_listening(pool_msgwait *w, int on)
{
    apr_thread_mutex_lock(w->lock);
    w->listening = on;
    w->epoch++;
    apr_thread_cond_broadcast(w->cond);
    apr_thread_mutex_unlock(w->lock);
}

static void take_notifications(pool_msgwait *w, PGconn *c)
{
    PGnotify *n;
    int any = 0;

    apr_thread_mutex_lock(w->lock);
    while ((n = PQnotifies(c)) != NULL) {
        w->gen[slot_of(n->extra ? n->extra : "")]++;
        PQfreemem(n);
        any = 1;
    }
    if (any) {
        apr_thread_cond_broadcast(w->cond);
    }
    apr_thread_mutex_unlock(w->lock);
}

/* Waits up to secs for input on fd (none when < 0) or for the stop byte:
 * 1 input, 0 timeout, -1 stop. */
static int wait_input(pool_msgwait *w, int fd, int secs)
{
    struct pollfd pf[2];
    int rv, n = 1;

    pf[0].fd = w->wake[0];
    pf[0].events = POLLIN;
    if (fd >= 0) {
        pf[1].fd = fd;
        pf[1].events = POLLIN;
        n = 2;
    }
    do {
        rv = poll(pf, (nfds_t)n, secs * 1000);
    } while (rv < 0 && errno == EINTR);
    if (rv > 0 && pf[0].revents) {
        return -1;
    }
    return rv > 0;
}

static PGconn *listen_connect(pool_msgwait *w, apr_pool_t *p,
                              const char **err)
{
    PGconn *c = pool_db_connect(p, w->conninfo, err);

    if (c && pool_db_exec0(p, c, "listen", "LISTEN " POOL_MSG_CHANNEL, 0,
                           NULL, err) != POOL_DB_OK) {
        PQfinish(c);
        c = NULL;
    }
    return c;
}

/* Input on a listening connection, or (idle) a ping: 0 when it is lost. */
static int listen_alive(pool_msgwait *w, PGconn *c, int input,
                        apr_pool_t *p)
{
    const char *err;

    if (input ? !PQconsumeInput(c)
              : pool_db_exec0(p, c, "listen ping", "SELECT 1", 0, NULL,
                              &err) != POOL_DB_OK) {
        return 0;
    }
    take_notifications(w, c);
    return PQstatus(c) == CONNECTION_OK;
}

static void *APR_THREAD_FUNC listener(apr_thread_t *t, void *data)
{
    pool_msgwait *w = data;
    apr_pool_t *p, *ptemp;
    PGconn *c = NULL;
    const char *err = NULL;
    int backoff = 1, down = 0, rv;

    apr_pool_create(&p, apr_thread_pool_get(t));
    apr_pool_create(&ptemp, p);
    for (;;) {
        apr_pool_clear(ptemp);
        if (!c) {
            if (!(c = listen_connect(w, ptemp, &err))) {
                if (!down++) {
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, "message "
                                 "long-polls: cannot listen for new messages "
                                 "(%s); waiting inboxes look again every %d s "
                                 "until it can", err, FALLBACK);
                }
                if (wait_input(w, -1, backoff) < 0) {
                    break;
                }
                backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX
                                                    : backoff * 2;
                continue;
            }
            if (down) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s, "message "
                             "long-polls: listening for new messages again");
            }
            down = 0;
            backoff = 1;
            set_listening(w, 1);
        }
        if ((rv = wait_input(w, PQsocket(c), PING)) < 0) {
            break;
        }
        if (!listen_alive(w, c, rv, ptemp)) {
            char *why = apr_pstrdup(ptemp, PQerrorMessage(c)), *q;

            for (q = why; *q; q++) {    /* libpq's message on one line */
                *q = apr_iscntrl(*q) ? ' ' : *q;
            }
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, "message "
                         "long-polls: the listening connection was lost "
                         "(%s); reconnecting", *why ? why : "no answer");
            PQfinish(c);
            c = NULL;
            down = 1;
            set_listening(w, 0);
        }
    }
    if (c) {
        PQfinish(c);
    }
    apr_pool_destroy(p);
    /* returned, not apr_thread_exit(): pthread_exit's unwinding leaves the
     * frames of instrumented code poisoned, and ASan then reports its own
     * thread teardown (a stack-buffer-overflow in sigaltstack) */
    return NULL;
}

/* A pre-cleanup of the child's pool: the thread is stopped and joined
 * before the pools it uses go. */
static apr_status_t msgwait_stop(void *data)
{
    pool_msgwait *w = data;
    apr_status_t rv;
    char b = 1;

    apr_thread_mutex_lock(w->lock);
    w->stop = 1;
    apr_thread_cond_broadcast(w->cond);
    apr_thread_mutex_unlock(w->lock);
    if (write(w->wake[1], &b, 1) != 1) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, w->s, "message "
                     "long-polls: cannot stop the listener thread");
        return APR_SUCCESS;     /* not joined: it would never end */
    }
    apr_thread_join(&rv, w->thread);
    close(w->wake[0]);
    close(w->wake[1]);
    return APR_SUCCESS;
}

apr_status_t pool_msgwait_create(apr_pool_t *pchild, server_rec *s,
                                 pool_srv_conf *sc)
{
    pool_msgwait *w = apr_pcalloc(pchild, sizeof(*w));
    int threads = 0;
    apr_status_t rv;

    w->s = s;
    w->conninfo = sc->conf.database;
    /* long-polls may take half of the child's threads, never all */
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) == APR_SUCCESS) {
        w->max_waiters = threads / 2;
    }
    if (pipe2(w->wake, O_CLOEXEC) != 0) {
        rv = errno;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "message long-polls: "
                     "cannot make a pipe; inboxes will not wait");
        return rv;
    }
    if ((rv = apr_thread_mutex_create(&w->lock, APR_THREAD_MUTEX_DEFAULT,
                                      pchild)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&w->cond, pchild)) != APR_SUCCESS
        || (rv = apr_thread_create(&w->thread, NULL, listener, w, pchild))
           != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "message long-polls: "
                     "cannot start the listener thread; inboxes will not "
                     "wait");
        close(w->wake[0]);
        close(w->wake[1]);
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, w, msgwait_stop);
    sc->msgwait = w;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------- waiters */

int pool_msgwait_enter(pool_msgwait *w, const char *pool,
                       pool_msgwait_ticket *t)
{
    int ok;

    apr_thread_mutex_lock(w->lock);
    ok = !w->stop && w->waiters < w->max_waiters;
    if (ok) {
        w->waiters++;
        t->w = w;
        t->slot = slot_of(pool);
        t->gen = w->gen[t->slot];
        t->epoch = w->epoch;
        t->recheck = apr_time_now() + apr_time_from_sec(FALLBACK);
    }
    apr_thread_mutex_unlock(w->lock);
    return ok;
}

static int stopping(const pool_msgwait *w)
{
    int state = AP_MPMQ_RUNNING;

    return w->stop || (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
                       && state == AP_MPMQ_STOPPING);
}

int pool_msgwait_wait(pool_msgwait_ticket *t, apr_time_t deadline)
{
    pool_msgwait *w = t->w;
    int again = 0;

    apr_thread_mutex_lock(w->lock);
    for (;;) {
        apr_time_t now = apr_time_now(), until = deadline;

        if (w->gen[t->slot] != t->gen || w->epoch != t->epoch) {
            t->gen = w->gen[t->slot];
            t->epoch = w->epoch;
            again = 1;
            break;
        }
        if (!w->listening && now >= t->recheck) {
            t->recheck = now + apr_time_from_sec(FALLBACK);
            again = 1;
            break;
        }
        if (now >= deadline || stopping(w)) {
            break;
        }
        if (!w->listening && t->recheck < until) {
            until = t->recheck;
        }
        /* a graceful stop of the child does not wait for the deadline */
        if (until > now + SLICE) {
            until = now + SLICE;
        }
        apr_thread_cond_timedwait(w->cond, w->lock, until - now);
    }
    apr_thread_mutex_unlock(w->lock);
    return again;
}

void pool_msgwait_leave(pool_msgwait_ticket *t)
{
    apr_thread_mutex_lock(t->w->lock);
    t->w->waiters--;
    apr_thread_mutex_unlock(t->w->lock);
}
