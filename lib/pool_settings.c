/* Per-pool settings: parsing "key=value" pairs, checking them (every key
 * against its range, offset against the resulting window), the stored JSON
 * and the effective settings, and reading and writing them in pools.
 *
 * One table (keys[] below) knows every key: its kind, its range and, for
 * policies, its two words.  The same checks run on new pairs and on what
 * is read back, so a value that is stored was accepted by them. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "pool_conf.h"
#include "pool_imports.h"       /* pool_url_check */
#include "pool_json.h"
#include "pool_settings.h"
#include "pool_webhook.h"

#define MINUTE  60L
#define HOUR    (60L * MINUTE)
#define DAY     (24L * HOUR)

#define WINDOW_MIN      MINUTE
#define WINDOW_MAX      (30L * DAY)

typedef enum {
    KIND_DURATION,              /* seconds: integer, or number + s/m/h/d */
    KIND_INT,                   /* a whole number */
    KIND_BYTES,                 /* bytes: a whole number, or with K, M, G
                                 * or T (powers of 1024) */
    KIND_WORD,                  /* one of two words, stored as the word */
    KIND_URL                    /* an http(s) URL */
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    long min, max;              /* KIND_DURATION, KIND_INT */
    const char *word[2];        /* KIND_WORD: the words of 0 and 1 */
} setting_key_t;

/* In the order pool show lists them.  offset's bound here is the longest
 * window; the window in force bounds it further (check_object). */
static const setting_key_t keys[] = {
    { "window",         KIND_DURATION, WINDOW_MIN, WINDOW_MAX, { NULL } },
    { "offset",         KIND_DURATION, 0, WINDOW_MAX - 1, { NULL } },
    { "lateness",       KIND_DURATION, 0, 30L * DAY, { NULL } },
    { "min_files",      KIND_INT, 1, 1000000, { NULL } },
    { "min_clients",    KIND_INT, 1, 100000, { NULL } },
    { "quorum_policy",  KIND_WORD, 0, 0, { "skip", "trigger" } },
    { "processor_url",  KIND_URL, 0, 0, { NULL } },
    { "result_timeout", KIND_DURATION, 1, 7L * DAY, { NULL } },
    { "max_attempts",   KIND_INT, 1, 100, { NULL } },
    { "late_policy",    KIND_WORD, 0, 0, { "keep", "reject" } },
    { "retention",      KIND_DURATION, HOUR, 3650L * DAY, { NULL } },
    { "delivery_retention", KIND_DURATION, HOUR, 3650L * DAY, { NULL } },
    { "max_storage_bytes", KIND_BYTES, 1, 1L << 60, { NULL } },
    { "max_monthly_download_bytes", KIND_BYTES, 1, 1L << 60, { NULL } },
    { "max_clients",    KIND_INT, 1, 10000000, { NULL } },
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const setting_key_t *find_key(const char *name)
{
    apr_size_t i;

    for (i = 0; i < N_KEYS; i++) {
        if (!strcmp(keys[i].name, name)) {
            return &keys[i];
        }
    }
    return NULL;
}

static const char *valid_keys(apr_pool_t *p)
{
    const char *s = keys[0].name;
    apr_size_t i;

    for (i = 1; i < N_KEYS; i++) {
        s = apr_pstrcat(p, s, ", ", keys[i].name, NULL);
    }
    return s;
}

void pool_settings_defaults(pool_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->min_files = 1;
    s->min_clients = 1;
    s->result_timeout = POOL_SETTINGS_RESULT_TIMEOUT;
    s->max_attempts = POOL_SETTINGS_MAX_ATTEMPTS;
    s->delivery_retention = POOL_SETTINGS_DELIVERY_RETENTION;
}

const char *pool_settings_duration(apr_pool_t *p, long secs)
{
    static const struct { long unit; const char *suffix; } units[] = {
        { DAY, "d" }, { HOUR, "h" }, { MINUTE, "m" }, { 1, "s" }
    };
    apr_size_t i;

    if (secs == 0) {
        return "0";
    }
    for (i = 0; secs % units[i].unit; i++) {
        ;                       /* ends at 1 s at the latest */
    }
    return apr_psprintf(p, "%ld%s", secs / units[i].unit, units[i].suffix);
}

/* ------------------------------------------------------------ values */

/* 1 when s is one or more decimal digits and nothing else. */
static int all_digits(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
    }
    return n > 0;
}

int pool_settings_parse_duration(apr_pool_t *p, const char *s,
                                 apr_int64_t *out)
{
    apr_size_t n = strlen(s);
    long unit = 1, v;

    if (n > 1 && !apr_isdigit(s[n - 1])) {
        switch (s[n - 1]) {
        case 's': unit = 1; break;
        case 'm': unit = MINUTE; break;
        case 'h': unit = HOUR; break;
        case 'd': unit = DAY; break;
        default: return -1;
        }
        n--;
    }
    if (!all_digits(s, n)) {
        return -1;
    }
    if (pool_parse_int(apr_pstrmemdup(p, s, n), 0, APR_INT32_MAX, &v) != 0) {
        return -2;
    }
    *out = (apr_int64_t)v * unit;
    return 0;
}

static const char *range_msg(apr_pool_t *p, const setting_key_t *k)
{
    if (k->kind == KIND_INT || k->kind == KIND_BYTES) {
        return apr_psprintf(p, "%s: must be between %ld and %ld", k->name,
                            k->min, k->max);
    }
    if (!strcmp(k->name, "offset")) {
        return apr_psprintf(p, "%s: must be less than %s (the longest "
                            "window)", k->name,
                            pool_settings_duration(p, WINDOW_MAX));
    }
    return apr_psprintf(p, "%s: must be between %s and %s", k->name,
                        pool_settings_duration(p, k->min),
                        pool_settings_duration(p, k->max));
}

/* The stored JSON value of a pair's (non-empty) value; NULL with *why. */
static json_t *parse_value(apr_pool_t *p, const setting_key_t *k,
                           const char *v, const char **why)
{
    apr_int64_t n = 0;
    int rc;

    switch (k->kind) {
    case KIND_DURATION:
        rc = pool_settings_parse_duration(p, v, &n);
        if (rc == -1) {
            *why = apr_psprintf(p, "%s: '%s' is not a duration (whole "
                                "seconds, or a number with s, m, h or d)",
                                k->name, pool_conf_show(p, v));
            return NULL;
        }
        if (rc != 0) {
            *why = range_msg(p, k);
            return NULL;
        }
        break;
    case KIND_INT:
        if (!all_digits(v, strlen(v))) {
            *why = apr_psprintf(p, "%s: '%s' is not a whole number", k->name,
                                pool_conf_show(p, v));
            return NULL;
        }
        if (strlen(v) > 18) {
            *why = range_msg(p, k);
            return NULL;
        }
        n = apr_atoi64(v);
        break;
    case KIND_BYTES: {
        apr_size_t len = strlen(v);
        int shift = 0;

        if (len > 1 && strchr("KMGT", v[len - 1])) {
            shift = 10 * (int)(strchr("KMGT", v[len - 1]) - "KMGT" + 1);
            len--;
        }
        if (!all_digits(v, len)) {
            *why = apr_psprintf(p, "%s: '%s' is not a number of bytes (a "
                                "whole number, or with K, M, G or T)",
                                k->name, pool_conf_show(p, v));
            return NULL;
        }
        if (len > 18 || (n = apr_atoi64(apr_pstrmemdup(p, v, len)))
                        > (k->max >> shift)) {
            *why = range_msg(p, k);
            return NULL;
        }
        n <<= shift;
        break;
    }
    case KIND_WORD:
    case KIND_URL:
        return json_string(v);  /* checked as stored values are */
    }
    return json_integer((json_int_t)n);
}

/* NULL when v is a valid stored value of k, else the message. */
static const char *check_value(apr_pool_t *p, const setting_key_t *k,
                               json_t *v)
{
    const char *s, *why;
    json_int_t n;

    switch (k->kind) {
    case KIND_DURATION:
    case KIND_INT:
    case KIND_BYTES:
        if (!json_is_integer(v)) {
            return apr_psprintf(p, "%s: the stored value is not an integer",
                                k->name);
        }
        n = json_integer_value(v);
        if (n < k->min || n > k->max) {
            return range_msg(p, k);
        }
        return NULL;
    case KIND_WORD:
        s = json_string_value(v);
        if (!s || (strcmp(s, k->word[0]) && strcmp(s, k->word[1]))) {
            return apr_psprintf(p, "%s: must be %s or %s", k->name,
                                k->word[0], k->word[1]);
        }
        return NULL;
    case KIND_URL:
        s = json_string_value(v);
        if (!s) {
            return apr_psprintf(p, "%s: the stored value is not a string",
                                k->name);
        }
        if ((why = pool_url_check(p, s)) != NULL) {
            return apr_psprintf(p, "%s: %s", k->name, why);
        }
        if (strchr(s, '#')) {
            return apr_psprintf(p, "%s: a fragment (#...) is not accepted",
                                k->name);
        }
        return NULL;
    }
    return NULL;
}

/* Every known key of o checked, then offset against window.  NULL when all
 * is well, else the message and *bad_key. */
static const char *check_object(apr_pool_t *p, json_t *o,
                                const char **bad_key)
{
    json_t *w, *off;
    const char *why;
    apr_size_t i;

    for (i = 0; i < N_KEYS; i++) {
        json_t *v = json_object_get(o, keys[i].name);

        if (v && (why = check_value(p, &keys[i], v)) != NULL) {
            *bad_key = keys[i].name;
            return why;
        }
    }
    w = json_object_get(o, "window");
    off = json_object_get(o, "offset");
    if (w && off && json_integer_value(off) >= json_integer_value(w)) {
        *bad_key = "offset";
        return apr_psprintf(p, "offset: must be less than window (%s)",
                            pool_settings_duration(p,
                                (long)json_integer_value(w)));
    }
    return NULL;
}

/* The stored JSON as an object (a new reference); NULL with *why. */
static json_t *load_object(apr_pool_t *p, const char *json, const char **why)
{
    json_error_t jerr;
    json_t *o;

    if (!json || !*json) {
        return json_object();
    }
    o = json_loads(json, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        *why = apr_psprintf(p, "stored settings are not a JSON object: %s",
                            o ? "wrong type" : jerr.text);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------ interface */

const char *pool_settings_from_json(apr_pool_t *p, const char *json,
                                    pool_settings_t *out)
{
    const char *why = NULL, *bad = NULL;
    json_t *o = load_object(p, json, &why);
    json_t *v;

    pool_settings_defaults(out);
    if (!o) {
        return why;
    }
    if ((why = check_object(p, o, &bad)) != NULL) {
        json_decref(o);
        return why;
    }
#define GET_LONG(key, field) \
    if ((v = json_object_get(o, key)) != NULL) { \
        out->field = (long)json_integer_value(v); \
    }
    GET_LONG("window", window);
    GET_LONG("offset", offset);
    GET_LONG("lateness", lateness);
    GET_LONG("min_files", min_files);
    GET_LONG("min_clients", min_clients);
    GET_LONG("result_timeout", result_timeout);
    GET_LONG("max_attempts", max_attempts);
    GET_LONG("retention", retention);
    GET_LONG("delivery_retention", delivery_retention);
    GET_LONG("max_clients", max_clients);
    GET_LONG("max_storage_bytes", max_storage_bytes);
    GET_LONG("max_monthly_download_bytes", max_monthly_download_bytes);
#undef GET_LONG
    if ((v = json_object_get(o, "quorum_policy")) != NULL) {
        out->quorum_trigger = !strcmp(json_string_value(v), "trigger");
    }
    if ((v = json_object_get(o, "late_policy")) != NULL) {
        out->late_reject = !strcmp(json_string_value(v), "reject");
    }
    if ((v = json_object_get(o, "processor_url")) != NULL) {
        out->processor_url = apr_pstrdup(p, json_string_value(v));
    }
    json_decref(o);
    return NULL;
}

const char *pool_settings_apply(apr_pool_t *p, const char *cur_json,
                                int npairs, const char *const *pairs,
                                const char **new_json, int *url_changed,
                                const char **bad_key)
{
    const char *why = NULL, *dump = NULL;
    apr_table_t *seen = apr_table_make(p, npairs > 0 ? npairs : 1);
    json_t *o = load_object(p, cur_json, &why);
    int i, url = 0;

    *new_json = NULL;
    *url_changed = 0;
    *bad_key = NULL;
    if (!o) {
        return why;
    }
    for (i = 0; i < npairs && !why; i++) {
        const char *pair = pairs[i], *eq = strchr(pair, '=');
        const setting_key_t *k;
        const char *name, *value;
        json_t *v;

        if (!eq || eq == pair) {
            *bad_key = pair;
            why = apr_psprintf(p, "'%s': expected key=value",
                               pool_conf_show(p, pair));
            break;
        }
        name = apr_pstrmemdup(p, pair, (apr_size_t)(eq - pair));
        value = eq + 1;
        *bad_key = name;
        if (!(k = find_key(name))) {
            why = apr_psprintf(p, "%s: unknown key (valid keys: %s)",
                               pool_conf_show(p, name), valid_keys(p));
            break;
        }
        if (apr_table_get(seen, name)) {
            why = apr_psprintf(p, "%s: given more than once", name);
            break;
        }
        apr_table_setn(seen, k->name, "");
        if (!*value) {
            json_object_del(o, k->name);
            if (k->kind == KIND_URL) {
                url = -1;
            }
            continue;
        }
        if (!(v = parse_value(p, k, value, &why))) {
            if (!why) {
                why = apr_psprintf(p, "%s: out of memory", k->name);
            }
            break;
        }
        json_object_set_new(o, k->name, v);
        if (k->kind == KIND_URL) {
            url = 1;
        }
    }
    if (!why) {
        why = check_object(p, o, bad_key);
    }
    if (!why && !(dump = pool_json_dump(p, o))) {
        why = "cannot build the settings JSON";
    }
    json_decref(o);
    if (why) {
        return why;
    }
    *bad_key = NULL;
    *new_json = dump;
    *url_changed = url;
    return NULL;
}

json_t *pool_settings_json(const pool_settings_t *s)
{
    json_t *o = json_object();

#define SET(key, value) \
    if (o && json_object_set_new(o, key, value) != 0) { \
        json_decref(o); \
        o = NULL; \
    }
    SET("window", s->window ? json_integer(s->window) : json_null());
    SET("offset", json_integer(s->offset));
    SET("lateness", json_integer(s->lateness));
    SET("min_files", json_integer(s->min_files));
    SET("min_clients", json_integer(s->min_clients));
    SET("quorum_policy", json_string(s->quorum_trigger ? "trigger" : "skip"));
    SET("processor_url", s->processor_url ? json_string(s->processor_url)
                                          : json_null());
    SET("result_timeout", json_integer(s->result_timeout));
    SET("max_attempts", json_integer(s->max_attempts));
    SET("late_policy", json_string(s->late_reject ? "reject" : "keep"));
    SET("retention", s->retention ? json_integer(s->retention) : json_null());
    SET("delivery_retention", json_integer(s->delivery_retention));
    SET("max_storage_bytes", s->max_storage_bytes
        ? json_integer(s->max_storage_bytes) : json_null());
    SET("max_monthly_download_bytes", s->max_monthly_download_bytes
        ? json_integer(s->max_monthly_download_bytes) : json_null());
    SET("max_clients", s->max_clients ? json_integer(s->max_clients)
                                      : json_null());
    SET("mode", json_string(s->processor_url ? "push" : "pull"));
    SET("grouping", json_boolean(s->window > 0));
#undef SET
    return o;
}

/* ------------------------------------------------------------ database */

pool_db_rc pool_db_settings_get(apr_pool_t *p, PGconn *c, const char *pool,
                                const char **json, int *has_secret,
                                const char **err)
{
    const char *params[1] = { pool };
    PGresult *res;
    pool_db_rc rc;

    rc = pool_db_exec(p, c, "read pool settings",
                      "SELECT settings::text, processor_secret IS NOT NULL"
                      " FROM pools WHERE name = $1",
                      1, params, 2, &res, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        *err = apr_psprintf(p, "pool '%s' not found", pool);
        return POOL_DB_NOTFOUND;
    }
    *json = PQgetisnull(res, 0, 0) ? NULL
                                   : apr_pstrdup(p, PQgetvalue(res, 0, 0));
    *has_secret = !strcmp(PQgetvalue(res, 0, 1), "t");
    PQclear(res);
    return POOL_DB_OK;
}

pool_db_rc pool_db_settings_set(apr_pool_t *p, PGconn *c, const char *pool,
                                int npairs, const char *const *pairs,
                                const char **new_secret, const char **err)
{
    const char *params[4], *cur, *next, *bad, *why, *secret = NULL;
    PGresult *res;
    pool_db_rc rc;
    int url;

    *new_secret = NULL;
    rc = pool_db_exec0(p, c, "set pool settings", "BEGIN", 0, NULL, err);
    if (rc != POOL_DB_OK) {
        return rc;
    }
    params[0] = pool;
    rc = pool_db_exec(p, c, "set pool settings",
                      "SELECT settings::text FROM pools WHERE name = $1"
                      " FOR UPDATE",
                      1, params, 1, &res, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        *err = apr_psprintf(p, "pool '%s' not found", pool);
        return pool_db_rollback(p, c, POOL_DB_NOTFOUND);
    }
    cur = PQgetisnull(res, 0, 0) ? NULL
                                 : apr_pstrdup(p, PQgetvalue(res, 0, 0));
    PQclear(res);
    why = pool_settings_apply(p, cur, npairs, pairs, &next, &url, &bad);
    if (why) {
        *err = why;
        return pool_db_rollback(p, c, POOL_DB_ERROR);
    }
    if (url > 0 && !(secret = pool_webhook_secret_new(p))) {
        *err = "no randomness for a processor secret";
        return pool_db_rollback(p, c, POOL_DB_ERROR);
    }
    /* $3: 'keep' the secret, 'set' it to $4, or 'clear' it */
    params[1] = next;
    params[2] = url > 0 ? "set" : url < 0 ? "clear" : "keep";
    params[3] = secret;
    rc = pool_db_exec0(p, c, "set pool settings",
                       "UPDATE pools SET settings = $2::jsonb,"
                       "  processor_secret = CASE $3::text"
                       "    WHEN 'set' THEN $4::text"
                       "    WHEN 'clear' THEN NULL"
                       "    ELSE processor_secret END"
                       " WHERE name = $1",
                       4, params, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    rc = pool_db_exec0(p, c, "set pool settings", "COMMIT", 0, NULL, err);
    if (rc != POOL_DB_OK) {
        return pool_db_rollback(p, c, rc);
    }
    *new_secret = secret;
    return POOL_DB_OK;
}
