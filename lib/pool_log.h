/* Logging through a callback, so the core library never prints or exits
 * (the module routes it to ap_log_error, poolctl to stderr). */
#ifndef POOL_LOG_H
#define POOL_LOG_H

enum {
    POOL_LOG_ERR = 3,
    POOL_LOG_WARN = 4,
    POOL_LOG_NOTICE = 5,
    POOL_LOG_INFO = 6,
    POOL_LOG_DEBUG = 7
};

typedef void pool_log_fn(void *baton, int level, const char *msg);

/* Set once at start-up, before threads exist. */
void pool_log_set(pool_log_fn *fn, void *baton);
void pool_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
