/* Outbound request policy: which networks a fetch or webhook may connect
 * to.  Loopback, link-local, private, CGNAT, unspecified, multicast and
 * documentation ranges are denied by default (PoolOutboundDeny replaces
 * that list); PoolOutboundAllow exempts networks from it (the tests allow
 * 127.0.0.0/8).  Every address a connection is about to use is checked,
 * redirects and DNS answers included. */
#ifndef POOL_NET_H
#define POOL_NET_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_network_io.h>

#define POOL_NET_DEFAULT_DENY \
    "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 " \
    "172.16.0.0/12 192.0.0.0/24 192.0.2.0/24 192.168.0.0/16 198.18.0.0/15 " \
    "198.51.100.0/24 203.0.113.0/24 224.0.0.0/4 240.0.0.0/4 " \
    "::/96 ::ffff:0:0:0/96 64:ff9b::/96 64:ff9b:1::/48 100::/64 " \
    "2001::/32 2001:db8::/32 2002::/16 fc00::/7 fe80::/10 ff00::/8"

typedef struct {
    apr_array_header_t *deny;   /* of apr_ipsubnet_t * */
    apr_array_header_t *allow;  /* of apr_ipsubnet_t * */
} pool_netpolicy_t;

/* Parses a space-separated list of CIDR networks ("10.0.0.0/8 ::1/128", a
 * bare address means one host).  NULL on success, else a message naming the
 * bad entry. */
const char *pool_net_parse(apr_pool_t *p, const char *list,
                           apr_array_header_t **out);

/* deny NULL means POOL_NET_DEFAULT_DENY; allow NULL means none. */
const char *pool_netpolicy_make(apr_pool_t *p, const char *deny,
                                const char *allow, pool_netpolicy_t **out);

/* 1 when a connection to the numeric address ip (IPv4 or IPv6 text) is
 * allowed, 0 when denied or unparsable. */
int pool_net_allowed(const pool_netpolicy_t *np, const char *ip,
                     apr_pool_t *ptemp);

#endif
