/* poolctl run [--once | --every SECONDS] [STEP...]: the cron-driven steps. */
#include <signal.h>
#include <unistd.h>
#include <grp.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "pool_http.h"
#include "poolctl.h"
#include "pool_log.h"
#include "pool_steps.h"
#include "pool_usage.h"
#include "pool_view.h"

/* Folder sizes (lib/pool_view.h): the deltas uploads leave are folded into
 * the folders' rows, and every folder is recounted; a size that had
 * drifted is repaired and named, since it means a change that missed its
 * delta. */
static pool_db_rc step_sizes(pool_step_ctx_t *ctx, int *done,
                             const char **err)
{
    apr_array_header_t *which;
    pool_db_rc rc;
    int i;

    rc = pool_view_sizes(ctx->p, ctx->db, done, &which, err);
    for (i = 0; rc == POOL_DB_OK && i < which->nelts; i++) {
        pool_log(POOL_LOG_NOTICE, "sizes: repaired %s",
                 APR_ARRAY_IDX(which, i, const char *));
    }
    if (rc == POOL_DB_OK && *done > which->nelts) {
        pool_log(POOL_LOG_NOTICE, "sizes: and %d more",
                 *done - which->nelts);
    }
    return rc;
}

/* Usage (lib/pool_usage.h): the counts actions left are folded into the
 * daily rows and storage held since the last run becomes byte-seconds. */
static pool_db_rc step_usage(pool_step_ctx_t *ctx, int *done,
                             const char **err)
{
    pool_db_rc rc = pool_usage_fold(ctx->p, ctx->db, done, err);

    if (rc == POOL_DB_OK && *done < 0) {
        pool_log(POOL_LOG_INFO, "usage: another runner folds now");
        *done = 0;
    }
    return rc;
}

static const struct {
    const char *name;
    pool_step_fn *fn;
    const char *did;            /* "%d <did>" says what a step did */
} steps[] = {
    { "group", pool_step_group, "groups made, closed or skipped" },
    { "trigger", pool_step_trigger, "groups made claimable or sent" },
    { "expire", pool_step_expire, "claims past their deadline ended" },
    { "fetch", pool_step_fetch, "imports handled" },
    { "publish", pool_step_publish, "results handled" },
    { "deliver", pool_step_deliver, "webhook deliveries handled" },
    { "sizes", step_sizes, "folders repaired" },
    { "usage", step_usage, "usage counts folded" },
    /* only when named: it walks the whole storage tree */
    { "sweep", pool_step_sweep, "storage items reclaimed or reconciled" },
};
#define N_DEFAULT_STEPS (N_STEPS - 1)
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = 1;
}

static int find_step(const char *name)
{
    unsigned int i;

    for (i = 0; i < N_STEPS; i++) {
        if (!strcmp(steps[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

int poolctl_cmd_run(poolctl_t *ctl, int argc, const char *const *argv)
{
    const char *every_s = NULL;
    int once = 0, i, rc;
    long every = 0;
    apr_array_header_t *pos;
    apr_array_header_t *chosen = apr_array_make(ctl->p, N_STEPS, sizeof(int));
    poolctl_opt_t opts[] = {
        { "once", 0, 0, NULL, &once },
        { "every", 0, 1, &every_s, NULL },
        { NULL, 0, 0, NULL, NULL }
    };
    pool_step_ctx_t sctx;
    pool_netpolicy_t *net;
    pool_linker_t *linker = NULL;
    const char *err;
    char host[256];

    if ((rc = poolctl_getopt(ctl, argc, argv, opts, &pos)) != POOLCTL_OK) {
        return rc;
    }
    if (once && every_s) {
        return poolctl_usage("run: --once and --every exclude each other");
    }
    if (every_s && pool_parse_int(every_s, 1, 86400, &every) != 0) {
        return poolctl_usage("run: --every takes seconds (1..86400)");
    }
    for (i = 0; i < pos->nelts; i++) {
        const char *name = APR_ARRAY_IDX(pos, i, const char *);
        int k = find_step(name);
        if (k < 0) {
            return poolctl_usage("run: unknown step '%s'",
                                 poolctl_show(ctl->p, name));
        }
        APR_ARRAY_PUSH(chosen, int) = k;
    }
    if (!chosen->nelts) {
        for (i = 0; i < (int)N_DEFAULT_STEPS; i++) {
            APR_ARRAY_PUSH(chosen, int) = i;
        }
    }
    if (poolctl_conf(ctl) != POOLCTL_OK) {
        return POOLCTL_FAIL;
    }
    if (!ctl->conf.storage) {
        poolctl_err("run: PoolStorage is not set in %s", ctl->conf_path);
        return POOLCTL_FAIL;
    }
    if ((err = pool_netpolicy_make(ctl->p, ctl->conf.outbound_deny,
                                   ctl->conf.outbound_allow, &net)) != NULL) {
        poolctl_err("%s", err);
        return POOLCTL_FAIL;
    }
    if (ctl->conf.public_url && ctl->conf.key_file) {
        pool_keyring_t *keys;
        apr_size_t n = strlen(ctl->conf.public_url);

        if (pool_keyring_load(ctl->p, ctl->conf.key_file, &keys, &err)
            != APR_SUCCESS) {
            poolctl_err("%s", err);
            return POOLCTL_FAIL;
        }
        while (n > 0 && ctl->conf.public_url[n - 1] == '/') {
            n--;
        }
        linker = apr_pcalloc(ctl->p, sizeof(*linker));
        linker->keys = keys;
        linker->base = apr_pstrmemdup(ctl->p, ctl->conf.public_url, n);
        linker->api_path = pool_conf_api_path(&ctl->conf);
    }
    if (poolctl_become_storage_owner(ctl) != POOLCTL_OK) {
        return POOLCTL_FAIL;
    }
    if (gethostname(host, sizeof(host)) != 0) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    host[sizeof(host) - 1] = '\0';

    memset(&sctx, 0, sizeof(sctx));
    sctx.conf = &ctl->conf;
    sctx.net = net;
    sctx.store = poolctl_store(ctl);
    if (!sctx.store) {
        return POOLCTL_FAIL;
    }
    sctx.owner = apr_psprintf(ctl->p, "%s:%ld", host, (long)getpid());
    sctx.budget = 100;
    sctx.linker = linker;

    pool_http_global_init();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    rc = POOLCTL_OK;
    do {
        apr_time_t started = apr_time_now();
        int total = 0;

        for (i = 0; i < chosen->nelts && !stop_requested; i++) {
            int k = APR_ARRAY_IDX(chosen, i, int), done = 0;
            pool_db_rc drc;

            /* a database restart between rounds: reconnect, never reuse */
            if (ctl->db && !pool_db_ok(ctl->db)) {
                PQfinish(ctl->db);
                ctl->db = NULL;
            }
            if (!(sctx.db = poolctl_db(ctl))) {
                rc = POOLCTL_FAIL;
                break;
            }
            apr_pool_create(&sctx.p, ctl->p);
            err = NULL;
            drc = steps[k].fn(&sctx, &done, &err);
            if (drc != POOL_DB_OK) {
                poolctl_err("step %s: %s", steps[k].name,
                            err ? err : "failed");
                rc = POOLCTL_FAIL;
            }
            else if (done) {
                pool_log(POOL_LOG_NOTICE, "%s: %d %s", steps[k].name, done,
                         steps[k].did);
            }
            else {
                pool_log(POOL_LOG_INFO, "%s: nothing to do", steps[k].name);
            }
            total += done;
            apr_pool_destroy(sctx.p);
        }
        /* someone at a terminal learns that the run did happen; cron (no
         * terminal: its mail) and loops stay quiet, -v says it anyway */
        if (!every && !total && rc == POOLCTL_OK && !stop_requested) {
            pool_log(isatty(STDERR_FILENO) ? POOL_LOG_NOTICE : POOL_LOG_INFO,
                     "nothing to do: no step found due work%s",
                     isatty(STDERR_FILENO) ? " (-v names each step)" : "");
        }
        if (every && !stop_requested) {
            apr_interval_time_t left = apr_time_from_sec(every)
                                       - (apr_time_now() - started);
            while (left > 0 && !stop_requested) {
                apr_sleep(left > apr_time_from_msec(200)
                          ? apr_time_from_msec(200) : left);
                left -= apr_time_from_msec(200);
            }
            if (rc != POOLCTL_OK) {
                rc = POOLCTL_OK;    /* a loop keeps going after a bad round */
            }
        }
    } while (every && !stop_requested);
    return rc;
}
