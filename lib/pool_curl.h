/* The outbound network guard on a libcurl handle: http/https only, no
 * proxy from the environment, and the outbound network policy applied to
 * every address a connection is about to use (after DNS, on every
 * redirect), so a denied network never sees a packet.  Its user is
 * pool_http.c (imports, webhooks go through pool_http.h); nothing else
 * should need libcurl for outbound requests. */
#ifndef POOL_CURL_H
#define POOL_CURL_H

#include <apr_pools.h>
#include <curl/curl.h>

#include "pool_net.h"

typedef struct {
    const pool_netpolicy_t *net;
    apr_pool_t *p;              /* scratch for the address checks */
    int denied;                 /* set when an address was refused */
    char denied_ip[64];         /* the last refused address */
} pool_curl_guard_t;

/* Sets the shared options on h; g must live as long as h's transfers. */
void pool_curl_guard(CURL *h, pool_curl_guard_t *g,
                     const pool_netpolicy_t *net, apr_pool_t *p);

#endif
