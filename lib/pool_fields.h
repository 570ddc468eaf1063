/* The fields every way of uploading a file shares (direct PUT, tus, batch
 * parts, imports), checked in one place so they all behave the same. */
#ifndef POOL_FIELDS_H
#define POOL_FIELDS_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct {
    const char *name;           /* decoded file name */
    apr_time_t ts;              /* event timestamp */
    const char *content_type;
} pool_file_fields_t;

/* name: as received (decoded, NUL-free: pass name_len to detect NULs);
 * ts: NULL for "now"; ctype: NULL for application/octet-stream.
 * Returns NULL and fills *out when fine; else an English detail, with
 * *field set to "name", "ts" or "content_type". */
const char *pool_fields_check(apr_pool_t *p, const char *name,
                              apr_size_t name_len, const char *ts,
                              const char *ctype, pool_file_fields_t *out,
                              const char **field);

/* The folder a file goes to, as a client gives it (?folder=, a batch part's
 * Pool-Folder or manifest "folder", tus metadata "folder", an import's
 * "folder"): a path of the pool's tree ("/" or "/a/b", one trailing slash
 * allowed; see pool_view_path_check), not /results or below it (the
 * results are read-only).  len: its length as received, to detect NULs.
 * NULL with *norm (its normal form) when fine, else an English reason. */
const char *pool_folder_check(apr_pool_t *p, const char *folder,
                              apr_size_t len, const char **norm);

#endif
