/* Event timestamps: RFC 3339 (e.g. 2026-11-21T10:15:00Z, 2026-11-21T10:15:00.25+01:00)
 * or Unix seconds (decimal digits only). */
#ifndef POOL_TS_H
#define POOL_TS_H

#include <apr_pools.h>
#include <apr_time.h>

/* 0 on success with *out in microseconds since the epoch (apr_time_t);
 * -1 on any malformation or out of range (years 1970..9999; lower-case 't'/'z'
 * accepted as RFC 3339 allows; fraction up to 9 digits, truncated to us).
 * Leap second :60 is rejected. */
int pool_ts_parse(const char *s, apr_time_t *out);

/* The latest event time a file may have (exclusive): 9999-01-01T00:00:00Z.
 * A file's group window, offset and lateness (up to 30 days each) are
 * derived from its ts and must stay within year 9999, the last RFC 3339 can
 * write. */
#define POOL_TS_ACCEPT_END  (APR_INT64_C(253370764800) * APR_USEC_PER_SEC)

/* RFC 3339 in UTC with 'Z'; microseconds shown only when non-zero. */
char *pool_ts_format(apr_pool_t *p, apr_time_t t);

#endif
