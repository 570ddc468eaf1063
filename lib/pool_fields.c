#include <string.h>
#include <apr_strings.h>

#include "pool_fields.h"
#include "pool_name.h"
#include "pool_ts.h"
#include "pool_view.h"

const char *pool_fields_check(apr_pool_t *p, const char *name,
                              apr_size_t name_len, const char *ts,
                              const char *ctype, pool_file_fields_t *out,
                              const char **field)
{
    const char *why;

    *field = "name";
    if (!name) {
        return "a file name is required";
    }
    if (strlen(name) != name_len) {
        return "the file name contains a NUL character";
    }
    if ((why = pool_name_check(name)) != NULL) {
        return apr_pstrcat(p, "bad file name: ", why, NULL);
    }
    *field = "ts";
    if (ts) {
        if (pool_ts_parse(ts, &out->ts) != 0) {
            return "ts must be an RFC 3339 timestamp (2026-11-21T10:15:00Z) "
                   "or Unix seconds";
        }
        if (out->ts >= POOL_TS_ACCEPT_END) {
            return "ts must be before 9999-01-01T00:00:00Z (its group's "
                   "window and lateness must stay within year 9999)";
        }
    }
    else {
        out->ts = apr_time_now();
    }
    *field = "content_type";
    if (!ctype || !*ctype) {
        ctype = "application/octet-stream";
    }
    if ((why = pool_ctype_check(ctype)) != NULL) {
        return apr_pstrcat(p, "bad content type: ", why, NULL);
    }
    out->name = name;
    out->content_type = ctype;
    *field = NULL;
    return NULL;
}

const char *pool_folder_check(apr_pool_t *p, const char *folder,
                              apr_size_t len, const char **norm)
{
    const char *why, *n;

    /* pool_view_path_check reads "" as "/"; from a client it is a
     * mistake more likely than a choice */
    if (!folder || !len) {
        return "the folder must not be empty (the top of the pool is /)";
    }
    if (strlen(folder) != len) {
        return "the folder contains a NUL character";
    }
    if ((why = pool_view_path_check(p, folder, &n)) != NULL) {
        return apr_pstrcat(p, "bad folder: ", why, NULL);
    }
    if (!strcmp(n, POOL_VIEW_RESULTS)
        || !strncmp(n, POOL_VIEW_RESULTS "/", sizeof(POOL_VIEW_RESULTS))) {
        return "bad folder: " POOL_VIEW_RESULTS " holds the pool's results "
               "and is read-only";
    }
    *norm = n;
    return NULL;
}
