/* Signed webhooks (Standard Webhooks, standardwebhooks.com) with visible
 * delivery and retry.
 *
 * Signing: a secret is "whsec_" + base64 of the key (32 random bytes when we
 * make it).  Every request carries
 *     webhook-id:        the delivery's uuid, the same on every retry
 *     webhook-timestamp: Unix seconds of this attempt
 *     webhook-signature: "v1," + base64(HMAC-SHA256(key, id "." ts "." body))
 *
 * Body: the event envelope {"type": EVENT, "timestamp": RFC 3339 of when the
 * event was queued, "data": PAYLOAD}, fixed when queued, so that every
 * attempt sends the same bytes.
 *
 * Delivery: pool_delivery_enqueue() queues a row of `deliveries`; the
 * `deliver` step of poolctl run (pool_step_deliver, lib/pool_steps.h) sends
 * due rows in parallel, records every attempt in `delivery_attempts`, and
 * retries failures with exponential backoff over about a day. */
#ifndef POOL_WEBHOOK_H
#define POOL_WEBHOOK_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <libpq-fe.h>

#include "pool_db.h"

#define POOL_WEBHOOK_SECRET_PREFIX  "whsec_"
#define POOL_WEBHOOK_KEY_BYTES      32          /* of a new secret */
#define POOL_WEBHOOK_KEY_MIN        24          /* accepted when signing */
#define POOL_WEBHOOK_KEY_MAX        64
#define POOL_WEBHOOK_BODY_MAX       (1024 * 1024)  /* a queued envelope */
#define POOL_WEBHOOK_EVENT_MAX      100
#define POOL_DELIVERY_MAX_ATTEMPTS  10

/* ------------------------------------------------------------ signing */

/* A new secret "whsec_" + base64 of POOL_WEBHOOK_KEY_BYTES random bytes;
 * NULL when no randomness is available. */
const char *pool_webhook_secret_new(apr_pool_t *p);

/* Decodes a secret's key (strict base64 after "whsec_", 24..64 bytes).
 * NULL on success, else the reason. */
const char *pool_webhook_secret_key(apr_pool_t *p, const char *secret,
                                    const unsigned char **key,
                                    apr_size_t *keylen);

/* The webhook-signature value "v1,<base64>" for id, timestamp and body;
 * NULL with *err when the secret is malformed. */
const char *pool_webhook_sign(apr_pool_t *p, const char *secret,
                              const char *id, apr_int64_t timestamp,
                              const char *body, apr_size_t len,
                              const char **err);

/* Checks a received webhook: 1 when one of the space-separated "v1,..."
 * signatures of sig_header matches (constant-time compare) and, when
 * tolerance > 0, the timestamp is within tolerance seconds of now (Unix
 * seconds); 0 otherwise (also on any malformed input). */
int pool_webhook_verify(apr_pool_t *p, const char *secret, const char *id,
                        const char *timestamp, const char *body,
                        apr_size_t len, const char *sig_header,
                        apr_int64_t now, int tolerance);

/* NULL when event is a valid event type (1..100 of [a-z0-9._-], starting
 * with a letter or digit), else the reason. */
const char *pool_webhook_event_check(const char *event);

/* -------------------------------------------- clients' webhook endpoints */

typedef struct {
    const char *url;            /* NULL: none registered */
    const char *secret;         /* current whsec_ secret, or NULL */
    const char *disabled_at;    /* RFC 3339 when disabled after a 410 */
} pool_callback_t;

/* Registers (or replaces) the endpoint of client_id in pool, re-enables it,
 * and makes a NEW secret (every call rotates it; queued deliveries are
 * signed with the new one from then on).  *created = 1 when no endpoint was
 * registered before.  NOTFOUND when the pool or client does not exist. */
pool_db_rc pool_client_callback_set(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    const char *url, const char **secret,
                                    int *created, const char **err);

/* Unregisters the endpoint and forgets its secret.  NOTFOUND when none is
 * registered (or no such client). */
pool_db_rc pool_client_callback_clear(apr_pool_t *p, PGconn *c,
                                      const char *pool, const char *client_id,
                                      const char **err);

/* The client's endpoint (url NULL when none).  NOTFOUND for no client. */
pool_db_rc pool_client_callback_get(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    pool_callback_t **out, const char **err);

/* ------------------------------------------------------------ deliveries */

/* Queues one webhook delivery of event with payload_json (any JSON text,
 * the envelope's "data") and returns its id (the webhook-id).
 *
 *   client_id NULL:        to url, signed with secret (both required).
 *   client_id, url NULL:   to the client's registered endpoint, signed with
 *                          its current secret; CONFLICT (with *err saying
 *                          why) when none is registered or it was disabled
 *                          after a 410.
 *   client_id and url:     to url (e.g. an import's callback_url), signed
 *                          with secret, or the client's current secret when
 *                          secret is NULL (CONFLICT when it has none).
 *
 * A delivery of a client is always signed with the client's secret as it is
 * at sending time (a rotated secret applies to queued retries).  NOTFOUND
 * when the pool, or the client in that pool, does not exist; ERROR for bad
 * arguments (url, secret, event, payload, size). */
pool_db_rc pool_delivery_enqueue(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *client_id, const char *url,
                                 const char *secret, const char *event,
                                 const char *payload_json, const char **id,
                                 const char **err);

/* Queues event with payload_json for every enabled client of pool pool_pk
 * that has an enabled endpoint (one delivery each, in one statement);
 * *n gets how many. */
pool_db_rc pool_delivery_enqueue_endpoints(apr_pool_t *p, PGconn *c,
                                           apr_int64_t pool_pk,
                                           const char *event,
                                           const char *payload_json, int *n,
                                           const char **err);

typedef struct {
    const char *id;
    const char *pool;
    const char *client_id;      /* public id, or NULL */
    const char *event;
    const char *url;            /* where the last attempt went */
    const char *state;          /* pending, delivered, failed */
    int attempts;
    int last_status;            /* -1: none */
    const char *last_error;     /* or NULL */
    const char *next_attempt_at;    /* RFC 3339; NULL unless pending */
    const char *created_at;
    const char *delivered_at;   /* or NULL */
} pool_delivery_t;

typedef struct {
    const char *at;             /* RFC 3339 */
    int status;                 /* HTTP status, -1: none */
    const char *error;          /* or NULL */
    int duration_ms;            /* -1: unknown (interrupted) */
} pool_delivery_attempt_t;

/* Deliveries, newest first, at most limit; of one pool when pool is not
 * NULL (NOTFOUND if it does not exist); only failed ones when failed_only.
 * Array of pool_delivery_t *. */
pool_db_rc pool_delivery_list(apr_pool_t *p, PGconn *c, const char *pool,
                              int failed_only, int limit,
                              apr_array_header_t **out, const char **err);

/* One delivery and its attempts (array of pool_delivery_attempt_t *,
 * oldest first).  NOTFOUND if unknown. */
pool_db_rc pool_delivery_get(apr_pool_t *p, PGconn *c, const char *id,
                             pool_delivery_t **out,
                             apr_array_header_t **attempts, const char **err);

/* Makes a pending or failed delivery due now (a failed one becomes pending
 * for one more attempt).  NOTFOUND if unknown, CONFLICT if delivered. */
pool_db_rc pool_delivery_retry(apr_pool_t *p, PGconn *c, const char *id,
                               const char **err);

/* Seconds to wait after failed attempt number `attempts` (1-based) before
 * the next: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h, with
 * +-10% jitter; 0 when no attempt is left (POOL_DELIVERY_MAX_ATTEMPTS). */
int pool_delivery_backoff(int attempts);

/* Seconds from a Retry-After value (delay-seconds or an HTTP-date) at time
 * now (Unix seconds), capped at one day; -1 when malformed or not in the
 * future. */
long pool_retry_after_parse(const char *value, apr_int64_t now);

#endif
