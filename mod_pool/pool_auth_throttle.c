/* The credential throttle of this httpd (lib/pool_throttle.h): one table in
 * anonymous shared memory made in post_config, so that every child counts
 * the same failures, behind a global mutex (its Mutex name: "pool-auth").
 * Counts are per node and start again on a restart: N nodes allow at most
 * N times the configured failures (docs/security.md). */
#include <netinet/in.h>
#include <apr_shm.h>
#include <apr_global_mutex.h>
#include <apr_strings.h>

#include "mod_pool.h"
#include <http_log.h>
#include <util_mutex.h>
#include "pool_throttle.h"
#include "pool_util.h"

#define MUTEX_TYPE  "pool-auth"
#define KNOWN_TTL   300         /* seconds a verified secret is trusted, as
                                 * mod_authn_socache's AuthnCacheTimeout */

static pool_throttle_t *table;
static apr_global_mutex_t *mutex;

int pool_auth_throttle_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0)
           == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

int pool_auth_throttle_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;

    table = NULL;
    mutex = NULL;
    rv = apr_shm_create(&shm, pool_throttle_size(), NULL, pconf);
    if (rv == APR_SUCCESS) {
        rv = pool_throttle_init(apr_shm_baseaddr_get(shm), &table);
    }
    if (rv == APR_SUCCESS) {
        rv = ap_global_mutex_create(&mutex, NULL, MUTEX_TYPE, NULL, s, pconf,
                                    0);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "pool: cannot set up "
                     "the shared table of failed authentications");
        table = NULL;
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void pool_auth_throttle_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&mutex, apr_global_mutex_lockfile(mutex),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "pool: cannot attach to "
                     "the mutex of the authentication throttle: it is off "
                     "in this child");
        mutex = NULL;
    }
}

static int lock(void)
{
    return table && mutex && apr_global_mutex_lock(mutex) == APR_SUCCESS;
}

/* The source address as a key: an IPv4 address, or the /64 of an IPv6 one
 * (one host usually holds a whole /64). */
static const char *addr_key(request_rec *r, apr_size_t *len)
{
    static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                0xff, 0xff };
    apr_sockaddr_t *a = r->useragent_addr;
    char *k = apr_palloc(r->pool, 2 + 16);

    k[0] = 'a';
    k[1] = ':';
    if (a && a->family == APR_INET) {
        memcpy(k + 2, &a->sa.sin.sin_addr, 4);
        *len = 6;
        return k;
    }
#if APR_HAVE_IPV6
    if (a && a->family == APR_INET6) {
        const unsigned char *b = a->sa.sin6.sin6_addr.s6_addr;

        if (!memcmp(b, v4mapped, 12)) {
            memcpy(k + 2, b + 12, 4);
            *len = 6;
        }
        else {
            memcpy(k + 2, b, 8);
            *len = 10;
        }
        return k;
    }
#endif
    k = apr_pstrcat(r->pool, "a:", r->useragent_ip ? r->useragent_ip : "",
                    NULL);
    *len = strlen(k);
    return k;
}

int pool_auth_wait(request_rec *r, const char *client_id)
{
    pool_srv_conf *sc = pool_srv(r->server);
    const char *ck = apr_pstrcat(r->pool, "c:", client_id, NULL), *ak;
    apr_time_t now = apr_time_now();
    apr_size_t alen;
    int wc = 0, wa = 0;

    if (sc->conf.auth_period <= 0 || !lock()) {
        return 0;
    }
    ak = addr_key(r, &alen);
    wc = pool_throttle_wait(table, ck, strlen(ck), now);
    wa = pool_throttle_wait(table, ak, alen, now);
    apr_global_mutex_unlock(mutex);
    if (wc || wa) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "pool: secret of client "
                      "'%s' not checked: too many failures (%s)", client_id,
                      wc ? "this client id" : "this address");
    }
    return wc > wa ? wc : wa;
}

void pool_auth_failed(request_rec *r, const char *client_id)
{
    pool_srv_conf *sc = pool_srv(r->server);
    const char *ck = apr_pstrcat(r->pool, "c:", client_id, NULL), *ak;
    apr_time_t now = apr_time_now();
    apr_size_t alen;
    int bc, ba;

    if (sc->conf.auth_period <= 0 || !lock()) {
        return;
    }
    ak = addr_key(r, &alen);
    bc = pool_throttle_fail(table, ck, strlen(ck), sc->conf.auth_client_max,
                            sc->conf.auth_period, now);
    ba = pool_throttle_fail(table, ak, alen, sc->conf.auth_addr_max,
                            sc->conf.auth_period, now);
    apr_global_mutex_unlock(mutex);
    if (bc) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "pool: %d failed "
                      "secrets for client '%s' within %d s: its secret is not "
                      "checked for %d s (429)", sc->conf.auth_client_max,
                      client_id, sc->conf.auth_period, sc->conf.auth_period);
    }
    if (ba) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "pool: %d failed "
                      "secrets from %s within %d s: its requests are not "
                      "checked for %d s (429)", sc->conf.auth_addr_max,
                      r->useragent_ip, sc->conf.auth_period,
                      sc->conf.auth_period);
    }
}

int pool_auth_known(request_rec *r, const unsigned char cred[32])
{
    int known;

    if (!lock()) {
        return 0;
    }
    known = pool_throttle_known(table, cred, apr_time_now());
    apr_global_mutex_unlock(mutex);
    return known;
}

void pool_auth_remember(request_rec *r, const unsigned char cred[32])
{
    if (!lock()) {
        return;
    }
    pool_throttle_remember(table, cred, KNOWN_TTL, apr_time_now());
    apr_global_mutex_unlock(mutex);
}
