/* Job steps run by `poolctl run` (cron or a loop).  Each step claims its
 * due work with FOR UPDATE SKIP LOCKED and a lease (locked_until), so any
 * number of poolctl processes on any number of hosts may run at once; each
 * is idempotent when repeated or killed halfway. */
#ifndef POOL_STEPS_H
#define POOL_STEPS_H

#include <apr_pools.h>
#include <libpq-fe.h>

#include "pool_conf.h"
#include "pool_groups.h"
#include "pool_db.h"
#include "pool_net.h"
#include "pool_store.h"

typedef struct {
    apr_pool_t *p;                  /* cleared by the caller after the step */
    PGconn *db;
    const pool_conf_t *conf;
    const pool_netpolicy_t *net;    /* outbound policy from the conf */
    pool_store_t *store;
    const char *owner;              /* lease owner: "host:pid" */
    int budget;                     /* at most this many items per call */
    /* signed links for manifests (PoolPublicURL + PoolKeyFile); NULL when
     * either is missing: then push-mode groups wait, with an error */
    const pool_linker_t *linker;
} pool_step_ctx_t;

/* Returns POOL_DB_OK (also when there was nothing to do) with *done = items
 * handled, or an error with *err. */
typedef pool_db_rc pool_step_fn(pool_step_ctx_t *ctx, int *done,
                                const char **err);

/* lib/pool_imports.c: downloads queued imports (upload by URL). */
pool_db_rc pool_step_fetch(pool_step_ctx_t *ctx, int *done, const char **err);

/* lib/pool_webhook.c: sends due webhook deliveries (Standard Webhooks). */
pool_db_rc pool_step_deliver(pool_step_ctx_t *ctx, int *done,
                             const char **err);

/* lib/pool_groups.c: the steps of rounds (docs/rounds.md). */
pool_db_rc pool_step_group(pool_step_ctx_t *ctx, int *done, const char **err);
pool_db_rc pool_step_trigger(pool_step_ctx_t *ctx, int *done,
                             const char **err);
pool_db_rc pool_step_expire(pool_step_ctx_t *ctx, int *done, const char **err);
pool_db_rc pool_step_publish(pool_step_ctx_t *ctx, int *done,
                             const char **err);

/* lib/pool_sweep.c: the sweep (pool_sweep.h) with its default minimum age;
 * logs what it did. */
pool_db_rc pool_step_sweep(pool_step_ctx_t *ctx, int *done, const char **err);

#endif
