/* Webhook endpoints of a pool and their delivery log, in PostgreSQL
 * (sql/016; docs/webhooks.md).  Everything takes and gives JSON (jansson),
 * the objects the API shows, so that the module and poolctl are thin
 * adapters; problems come back in a pool_problem_t with their HTTP status.
 *
 * An endpoint as given (create: url required; update: a merge, every
 * member optional, null resets to the default):
 *   {"url": "https://...",              http(s), checked by pool_url_check
 *    "description": "...",              <= 500 bytes
 *    "events": ["file.received", ...],  [] or absent: every event
 *    "filter": {"/data/file/client": "cl_..." | ["a", "b"]},
 *                                       JSON pointer -> scalar or array of
 *                                       scalars: every entry must hold
 *    "auth": {"type": "none"} | {"type": "bearer", "token": T}
 *          | {"type": "basic", "username": U, "password": P}
 *          | {"type": "header", "name": H, "value": V},
 *    "retry_schedule": [5, 300, ...],   seconds after each failure, <= 20
 *                                       entries of 1..86400
 *    "rate_limit": 10 | null,           attempts per second
 *    "mapping": {...} | null,           lib/pool_mapping.h
 *    "success": {...} | null,           the success rule, pool_mapping.h
 *    "disabled": true | false}
 * An endpoint as shown: the same members, plus "id" ("ep_" + 24 hex),
 * "pool", "client" (the client whose callback it is, or null),
 * "disabled_at", "disabled_reason", "created_at", "updated_at",
 * "secret_rotated_until" (while the previous signing secret still signs);
 * "auth" without its secret (token, password, value), which is never
 * shown again, but with "secret_set": true.  The signing secret ("whsec_")
 * is shown by create and rotate only, as "secret". */
#ifndef POOL_ENDPOINTS_H
#define POOL_ENDPOINTS_H

#include <jansson.h>

#include "pool_db.h"
#include "pool_problem.h"

#define POOL_ENDPOINTS_MAX       1000000  /* of one pool: no real limit */
#define POOL_ENDPOINT_EVENTS_MAX 64
#define POOL_ENDPOINT_FILTER_MAX 16
#define POOL_ENDPOINT_RETRIES_MAX 20
#define POOL_ENDPOINT_GRACE_MAX  (7 * 86400)
#define POOL_DELIVERY_RESPONSE_MAX 65536     /* response body kept */
/* A runner's lease on the delivery it sends (seconds): longer than an
 * attempt may take (lib/pool_deliver.c says by how much). */
#define POOL_DELIVERY_LEASE      300

/* The event types we send, NULL-terminated (docs/webhooks.md has each
 * one's data). */
extern const char *const pool_event_types[];

/* Every function below returns 0, or the HTTP status of the problem it
 * set in *pr: 404 no such pool/endpoint/delivery (or one of another pool),
 * 422 an invalid document (field = the member, detail with the position,
 * e.g. "mapping: /body/x: $ptr must be ..."), 409 conflicts, 5xx. */

/* Creates an endpoint of pool (owner_client: NULL for the pool's own, or
 * a client's public id for its callback: then at most one, CONFLICT).
 * *out: the endpoint as shown, with "secret". */
int pool_endpoint_create(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *owner_client, const json_t *in,
                         json_t **out, pool_problem_t *pr);

/* The pool's endpoints by id (after: an id; limit 1..1000), or only the
 * callback of client when client is not NULL.  *out: {"items": [...],
 * "next": id | null}. */
int pool_endpoint_list(apr_pool_t *p, PGconn *c, const char *pool,
                       const char *client, const char *after, int limit,
                       json_t **out, pool_problem_t *pr);

/* One endpoint of pool (404 for another pool's). */
int pool_endpoint_get(apr_pool_t *p, PGconn *c, const char *pool,
                      const char *id, json_t **out, pool_problem_t *pr);

/* The callback endpoint of a client (404 when it has none). */
int pool_endpoint_of_client(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *client_id, json_t **out,
                            pool_problem_t *pr);

/* Merges in (members as in create; "disabled": false re-enables and
 * clears the reason).  *out: the endpoint as it is now. */
int pool_endpoint_update(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *id, const json_t *in, json_t **out,
                         pool_problem_t *pr);

/* A new signing secret; the previous one keeps signing (a second v1
 * signature) for grace seconds (0..POOL_ENDPOINT_GRACE_MAX).  *out: the
 * endpoint with "secret". */
int pool_endpoint_rotate(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *id, int grace, json_t **out,
                         pool_problem_t *pr);

/* Removes an endpoint; its pending deliveries fail ("the endpoint was
 * removed"), the log stays. */
int pool_endpoint_delete(apr_pool_t *p, PGconn *c, const char *pool,
                         const char *id, pool_problem_t *pr);

/* Renders event (an envelope {"type","timestamp","data"}; NULL: a sample
 * of the endpoint's first event type) through the endpoint's mapping, or
 * through mapping_override when not NULL (an unsaved mapping: the editor's
 * preview), without sending.  *out: {"method", "url", "headers" (without
 * secrets), "body" (text), "missing": [pointers], "event"}. */
int pool_endpoint_preview(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, const json_t *event,
                          const json_t *mapping_override, json_t **out,
                          pool_problem_t *pr);

/* A sample event of type (the documented shapes), NULL for an unknown
 * type. */
json_t *pool_event_sample(apr_pool_t *p, const char *pool, const char *type);

/* ---------------------------------------- deliveries (lib/pool_deliveries.c) */

typedef struct {
    const char *endpoint;       /* "ep_..." */
    const char *status;         /* pending, delivered, failed */
    const char *event;
    const char *since;          /* RFC 3339: created at or after */
    const char *before;         /* a delivery id: page after it (newest
                                 * first) */
    int limit;                  /* 1..1000; 0: 100 */
} pool_delivery_filter_t;

/* Deliveries of pool, newest first.  *out: {"items": [...], "next"}. */
int pool_deliveries_list(apr_pool_t *p, PGconn *c, const char *pool,
                         const pool_delivery_filter_t *f, json_t **out,
                         pool_problem_t *pr);

/* One delivery of pool with "attempts": every attempt with its request
 * and response. */
int pool_deliveries_get(apr_pool_t *p, PGconn *c, const char *pool,
                        const char *id, json_t **out, pool_problem_t *pr);

/* Sends a pending or failed delivery again now (409 delivered). */
int pool_deliveries_retry(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, pool_problem_t *pr);

/* Delivery success and latency of pool per hour (whole UTC hours, oldest
 * first, every one present) from since (RFC 3339 or Unix seconds; NULL:
 * a day ago; 422 naming "since" when malformed, in the future or more
 * than POOL_DELIVERY_STATS_MAX_AGE seconds ago) to now, over the attempts
 * with an outcome.  *out: {"since", "until", "bucket_seconds": 3600,
 * "buckets": [{"start", "attempts", "delivered", "failed" (failed or
 * retry), "latency_ms_p50", "latency_ms_p95" (null when empty)}]}. */
#define POOL_DELIVERY_STATS_MAX_AGE (7 * 86400)
int pool_deliveries_stats(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *since, json_t **out,
                          pool_problem_t *pr);

/* Every failed delivery of an endpoint created since (RFC 3339) is
 * pending again, due now (the endpoint is enabled when it was disabled).
 * *n: how many. */
int pool_endpoint_recover(apr_pool_t *p, PGconn *c, const char *pool,
                          const char *id, const char *since, int *n,
                          pool_problem_t *pr);

/* Queues event of pool (its id) with data for every endpoint that takes
 * it (sql/016 pool_emit): the pool's own, and the callbacks of clients
 * (public ids; all_clients: every client).  *n: how many (may be NULL). */
pool_db_rc pool_event_emit(apr_pool_t *p, PGconn *c, apr_int64_t pool_pk,
                           const char *event, const char *data_json,
                           int all_clients, const char *const *clients,
                           int nclients, int *n, const char **err);

/* Removes the finished deliveries (and their attempts) of pool (NULL:
 * every pool) older than the pool's delivery_retention; *purged: how
 * many. */
pool_db_rc pool_delivery_purge(apr_pool_t *p, PGconn *c, const char *pool,
                               int *purged, const char **err);

#endif
