/* Event timestamps: strict RFC 3339 or Unix seconds, computed without the
 * C library's time zone machinery. */
#include <string.h>

#include <apr_strings.h>

#include "pool_ts.h"

#define TS_YEAR_MIN     1970
#define TS_YEAR_MAX     9999
#define TS_SECS_MAX     APR_INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */
#define TS_UNIX_DIGITS  12
#define TS_FRAC_DIGITS  9

static const int days_before_month[12] = {
    0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
};

static int is_leap(apr_int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(apr_int64_t y, int m)
{
    static const int dim[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    return dim[m - 1] + (m == 2 && is_leap(y));
}

/* Division rounding toward minus infinity (b > 0). */
static apr_int64_t floor_div(apr_int64_t a, apr_int64_t b)
{
    apr_int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static apr_int64_t days_from_civil(apr_int64_t y, int m, int d)
{
    apr_int64_t py = y - 1;         /* whole years before y, from year 1 */
    apr_int64_t days = 365 * py + floor_div(py, 4) - floor_div(py, 100)
                       + floor_div(py, 400);

    days += days_before_month[m - 1] + (m > 2 && is_leap(y)) + (d - 1);
    return days - 719162;           /* days from 0001-01-01 to 1970-01-01 */
}

/* The inverse of days_from_civil. */
static void civil_from_days(apr_int64_t days, apr_int64_t *y, int *m, int *d)
{
    apr_int64_t yy = 1970 + floor_div(days * 400, 146097);
    apr_int64_t rest;
    int mm;

    while (days_from_civil(yy, 1, 1) > days) {
        yy--;
    }
    while (days_from_civil(yy + 1, 1, 1) <= days) {
        yy++;
    }
    rest = days - days_from_civil(yy, 1, 1);     /* 0..365 */
    for (mm = 12; mm > 1; mm--) {
        if (rest >= days_before_month[mm - 1] + (mm > 2 && is_leap(yy))) {
            break;
        }
    }
    *y = yy;
    *m = mm;
    *d = (int)(rest - days_before_month[mm - 1] - (mm > 2 && is_leap(yy))) + 1;
}

/* Exactly n decimal digits at *s; advances *s.  -1 if not. */
static int take_digits(const char **s, int n)
{
    const char *p = *s;
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    *s = p + n;
    return v;
}

static int take_char(const char **s, char c)
{
    if (**s != c) {
        return 0;
    }
    (*s)++;
    return 1;
}

static int parse_unix(const char *s, apr_size_t n, apr_time_t *out)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (n < 1 || n > TS_UNIX_DIGITS) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    if (v > TS_SECS_MAX) {
        return -1;
    }
    *out = apr_time_from_sec(v);
    return 0;
}

int pool_ts_parse(const char *s, apr_time_t *out)
{
    int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
    apr_int64_t secs, usec = 0;
    apr_size_t n;

    if (!s || !*s || !out) {
        return -1;
    }
    n = strspn(s, "0123456789");
    if (s[n] == '\0') {
        return parse_unix(s, n, out);
    }

    /* YYYY-MM-DD(T|t)HH:MM:SS[.frac](Z|z|+hh:mm|-hh:mm) */
    if ((year = take_digits(&s, 4)) < 0 || !take_char(&s, '-')
        || (mon = take_digits(&s, 2)) < 0 || !take_char(&s, '-')
        || (day = take_digits(&s, 2)) < 0
        || !(take_char(&s, 'T') || take_char(&s, 't'))
        || (hour = take_digits(&s, 2)) < 0 || !take_char(&s, ':')
        || (min = take_digits(&s, 2)) < 0 || !take_char(&s, ':')
        || (sec = take_digits(&s, 2)) < 0) {
        return -1;
    }
    if (take_char(&s, '.')) {
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            if (++digits > TS_FRAC_DIGITS) {
                return -1;
            }
            if (digits <= 6) {
                usec = usec * 10 + (*s - '0');
            }
            s++;
        }
        if (digits == 0) {
            return -1;
        }
        for (; digits < 6; digits++) {
            usec *= 10;
        }
    }
    if (take_char(&s, 'Z') || take_char(&s, 'z')) {
        /* UTC */
    }
    else if (*s == '+' || *s == '-') {
        sign = (*s == '+') ? 1 : -1;
        s++;
        if ((oh = take_digits(&s, 2)) < 0 || !take_char(&s, ':')
            || (om = take_digits(&s, 2)) < 0 || oh > 23 || om > 59) {
            return -1;
        }
    }
    else {
        return -1;
    }
    if (*s != '\0') {
        return -1;
    }
    if (year < TS_YEAR_MIN || year > TS_YEAR_MAX || mon < 1 || mon > 12
        || day < 1 || day > days_in_month(year, mon)
        || hour > 23 || min > 59 || sec > 59) {
        return -1;
    }
    secs = days_from_civil(year, mon, day) * 86400
           + hour * 3600 + min * 60 + sec
           - sign * (oh * 3600 + om * 60);
    if (secs < 0 || secs > TS_SECS_MAX) {
        return -1;
    }
    *out = apr_time_from_sec(secs) + usec;
    return 0;
}

char *pool_ts_format(apr_pool_t *p, apr_time_t t)
{
    apr_int64_t secs = floor_div(t, APR_USEC_PER_SEC);
    apr_int64_t usec = t - secs * APR_USEC_PER_SEC;
    apr_int64_t days = floor_div(secs, 86400);
    apr_int64_t tod = secs - days * 86400;
    apr_int64_t year;
    int mon, day;
    char frac[16] = "";

    civil_from_days(days, &year, &mon, &day);
    if (usec) {
        apr_snprintf(frac, sizeof(frac), ".%06d", (int)usec);
    }
    return apr_psprintf(p, "%04" APR_INT64_T_FMT "-%02d-%02dT%02d:%02d:%02d%sZ",
                        year, mon, day, (int)(tod / 3600),
                        (int)(tod / 60 % 60), (int)(tod % 60), frac);
}
