/* Logging through a callback: the core library never prints or exits.
 * Without a callback, messages are dropped.  Formats are standard printf
 * ones (vsnprintf, matching the format attribute on pool_log), so %zu and
 * friends are fine; longer messages are truncated. */
#include <stdarg.h>
#include <stdio.h>

#include "pool_log.h"

#define POOL_LOG_BUFSIZE 2048

static pool_log_fn *log_fn;
static void *log_baton;

void pool_log_set(pool_log_fn *fn, void *baton)
{
    log_fn = fn;
    log_baton = baton;
}

void pool_log(int level, const char *fmt, ...)
{
    char buf[POOL_LOG_BUFSIZE];
    va_list ap;

    if (!log_fn || !fmt) {
        return;
    }
    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0) {
        buf[0] = '\0';
    }
    va_end(ap);
    log_fn(log_baton, level, buf);
}
