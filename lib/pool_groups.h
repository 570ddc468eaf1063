/* Rounds (docs/rounds.md): files of a pool whose ts fall in one time window
 * form a group; a processor returns one result per group; results are
 * published with a per-pool sequence number.
 *
 * A file belongs to the group whose [window_start, window_end) holds its
 * ts: membership is a range, never a per-file write, so the `group` step
 * costs about one GROUP BY over the new files.  A file is late when it was
 * received at or after its group's closes_at (window end + lateness).
 *
 * The steps (pool_step_group ... pool_step_publish) are in pool_steps.h. */
#ifndef POOL_GROUPS_H
#define POOL_GROUPS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "pool_db.h"
#include "pool_keys.h"

#define POOL_GROUP_LIST_MAX   1000
#define POOL_PROGRESS_MSG_MAX 2000

/* Where signed links in manifests point: base is scheme://host[:port]
 * (PoolPublicURL, or the request's own), api_path the path the API is
 * mounted at ("/pool"). */
typedef struct {
    const pool_keyring_t *keys;
    const char *base;
    const char *api_path;
} pool_linker_t;

/* What a caller may see of a group. */
typedef enum {
    POOL_VIEW_FULL,         /* admins and processors: the whole manifest */
    POOL_VIEW_MEMBER        /* an uploader: summary and its own files */
} pool_group_view;

/* The manifest of group gid of pool as JSON (docs/rounds.md).  For
 * POOL_VIEW_MEMBER, client_id is the uploader, and a group without any of
 * its files is NOTFOUND.  linker NULL: no links.  *out is a new reference. */
pool_db_rc pool_group_manifest(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *gid, pool_group_view view,
                               const char *client_id,
                               const pool_linker_t *linker, json_t **out,
                               const char **err);

/* {"groups": [summary...], "next": seq|null}: groups with seq > after, of
 * one state when state is not NULL, holding a file of member_client when
 * that is not NULL. */
pool_db_rc pool_group_list(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *state, apr_int64_t after, int limit,
                           const char *member_client, json_t **out,
                           const char **err);

/* 1 when s is a group state name. */
int pool_group_state_ok(const char *s);

/* Processor claims (or renews its claim of) group gid.  CONFLICT with *err
 * saying why (another holder, wrong state, no attempt left). */
pool_db_rc pool_group_claim(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *gid, const char *client_id,
                            const char **err);

/* Progress of the group's process; *process gets the process JSON.
 * CONFLICT unless the group is triggered or claimed. */
pool_db_rc pool_group_progress(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *gid, int percent,
                               const char *message, json_t **process,
                               const char **err);

/* A group's result. */
typedef struct {
    const char *id;
    const char *pool;
    const char *group_id;
    const char *name;
    apr_off_t size;
    const char *sha256;
    const char *content_type;
    const char *received_at;
    apr_int64_t seq;            /* 0 until published */
    const char *published_at;
    const char *window_start;
    const char *window_end;
} pool_result_t;

/* Records the result r (id, name, size, sha256, content_type used; its data
 * is already staged by the ingest) of group gid, sent by client_id
 * (NULL for a signed link).  *created = 1: stored, the group is done;
 * *created = 0: the group already had this very result (same size and
 * sha256), *out is that one and r's data is not needed.  CONFLICT with *err:
 * a different result, or a group not waiting for one.  NOTFOUND: no such
 * group in pool. */
pool_db_rc pool_result_accept(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *gid, const char *client_id,
                              const pool_result_t *r, pool_result_t **out,
                              int *created, const char **err);

/* A published result: seq > 0, or the latest when seq is 0.  NOTFOUND when
 * there is none. */
pool_db_rc pool_result_get(apr_pool_t *p, PGconn *c, const char *pool,
                           apr_int64_t seq, pool_result_t **out,
                           const char **err);

/* The result with this id in pool (NULL: any), published or not
 * (NOTFOUND). */
pool_db_rc pool_result_find(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *id, pool_result_t **out,
                            const char **err);

/* {"results": [RESULT...], "next": seq|null} of published results with
 * seq > after. */
pool_db_rc pool_result_list(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *api_path, apr_int64_t after,
                            int limit, json_t **out, const char **err);

/* The RESULT object of docs/rounds.md. */
json_t *pool_result_json(apr_pool_t *p, const pool_result_t *r,
                         const char *api_path);

/* Attempts at publishing one result before it is left failed (the publish
 * step, docs/rounds.md); between them it waits as webhook deliveries do
 * (pool_delivery_backoff: 30 s, 2 min, ... about a day in all). */
#define POOL_PUBLISH_MAX_ATTEMPTS 10

/* The name result seq is published under ("result-NNNNNN-NAME", the WebDAV
 * view): the name cut to at most 200 bytes on a UTF-8 character boundary.
 * NULL when that is not a valid file name (pool_name_check), which never
 * happens for a name that pool_name_check accepted. */
const char *pool_result_path_name(apr_pool_t *p, apr_int64_t seq,
                                  const char *name);

/* Makes unpublished result id due for publication now, also one whose
 * attempts ran out (it gets one more); id NULL: every unpublished result
 * that failed at least once.  *n = results made due.  NOTFOUND: no such
 * result; CONFLICT: it was published already. */
pool_db_rc pool_result_publish_retry(apr_pool_t *p, PGconn *c, const char *id,
                                     int *n, const char **err);

/* Remembers that client_id downloaded result_id. */
pool_db_rc pool_result_read(apr_pool_t *p, PGconn *c, const char *result_id,
                            const char *client_id, const char **err);

/* {"seq": n, "clients": [...]}: who of the pool's enabled clients has
 * downloaded result seq (0: the latest). */
pool_db_rc pool_result_receipts(apr_pool_t *p, PGconn *c, const char *pool,
                                apr_int64_t seq, json_t **out,
                                const char **err);

/* late_policy=reject: CONFLICT with *err when a file of pool with this ts
 * received now would be late; OK otherwise (also when the pool does not
 * group or keeps late files).  Called by every way of uploading.  When
 * rejects is not NULL, *rejects says whether the pool refuses late files
 * (0: the check passes whatever the ts, as long as the policy stays). */
pool_db_rc pool_late_check(apr_pool_t *p, PGconn *c, const char *pool,
                           apr_time_t ts, int *rejects, const char **err);

#endif
