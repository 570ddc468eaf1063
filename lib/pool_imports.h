/* Upload by URL: an import is queued by the API (202 + a process), and
 * downloaded by the `fetch` step of poolctl run (lib/pool_steps.h). */
#ifndef POOL_IMPORTS_H
#define POOL_IMPORTS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <libpq-fe.h>
#include <jansson.h>

#include "pool_db.h"

#define POOL_IMPORT_MAX_ATTEMPTS 5
#define POOL_URL_MAX 2048

/* NULL when url is an absolute http(s) URL with a host, no user info, at
 * most POOL_URL_MAX bytes; else the reason. */
const char *pool_url_check(apr_pool_t *p, const char *url);

/* Queues an import; *process_id gets the new process id.  NOTFOUND when the
 * pool or client does not exist.  name may be NULL (taken from the URL);
 * folder (normal form, pool_folder_check) may be NULL (the client's own
 * folder). */
pool_db_rc pool_import_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, const char *url,
                              const char *name, const char *folder,
                              apr_time_t ts, const char *callback_url,
                              const char **process_id, const char **err);

/* A process record as JSON {id, kind, status, percent, message, result,
 * created_at, updated_at}; NOTFOUND unless it belongs to pool. */
pool_db_rc pool_process_get(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *id, json_t **out, const char **err);

/* The pool's imports, newest first: client_id, state ("queued", "done",
 * "failed") and before (an import id: those made before it) may be NULL;
 * limit 1..1000.  *items is an array of {id, client, url (without user
 * info, query or fragment: a presigned URL's signature is a secret), name,
 * state, attempts, file_id, last_error, created_at, process: {status,
 * percent, message, updated_at}}; *next the id to pass as before for the
 * next page, or NULL.  NOTFOUND when before is not an import of pool. */
pool_db_rc pool_import_list(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *client_id, const char *state,
                            const char *before, int limit, json_t **items,
                            const char **next, const char **err);

#endif
