/* Signed webhooks (Standard Webhooks, standardwebhooks.com).
 *
 * Signing: a secret is "whsec_" + base64 of the key (32 random bytes when we
 * make it).  Every request carries
 *     webhook-id:        the delivery's uuid, the same on every retry
 *     webhook-timestamp: Unix seconds of this attempt
 *     webhook-signature: "v1," + base64(HMAC-SHA256(key, id "." ts "." body))
 *                        (two, space-separated, while a rotated endpoint
 *                        secret's grace period runs)
 *
 * Body: the event envelope {"type": EVENT, "timestamp": RFC 3339 of when the
 * event was queued, "data": PAYLOAD}, fixed when queued, or what an
 * endpoint's mapping renders from it.
 *
 * Events for endpoints are queued by pool_event_emit (pool_endpoints.h);
 * pool_delivery_enqueue() queues one to a given URL.  The `deliver` step
 * (pool_step_deliver, lib/pool_deliver.c) sends due rows in parallel and
 * records every attempt in `delivery_attempts`. */
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
    const char *disabled_at;    /* RFC 3339 when disabled (410, an admin) */
    const char *endpoint_id;    /* "ep_...", or NULL */
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

/* Queues one webhook delivery of event with payload_json (a JSON object,
 * the envelope's "data") to url and returns its id (the webhook-id),
 * signed with secret, or (secret NULL) with the secret of client_id's
 * callback endpoint as it is at sending time (CONFLICT when the client has
 * none).  client_id with url NULL: to the client's callback endpoint, as
 * it is at sending time (CONFLICT when it has none or it is disabled).  NOTFOUND when the pool, or the client in that pool, does not
 * exist; ERROR for bad arguments (url, secret, event, payload, size). */
pool_db_rc pool_delivery_enqueue(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *client_id, const char *url,
                                 const char *secret, const char *event,
                                 const char *payload_json, const char **id,
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
