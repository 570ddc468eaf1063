#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <apr_strings.h>

#include "pool_curl.h"

static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *addr)
{
    pool_curl_guard_t *g = clientp;
    char ip[64] = "";
    apr_pool_t *ptemp;
    int ok = 0;

    if (addr->family == AF_INET) {
        inet_ntop(AF_INET,
                  &((struct sockaddr_in *)(void *)&addr->addr)->sin_addr,
                  ip, sizeof(ip));
    }
    else if (addr->family == AF_INET6) {
        inet_ntop(AF_INET6,
                  &((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr,
                  ip, sizeof(ip));
    }
    if (*ip && apr_pool_create(&ptemp, g->p) == APR_SUCCESS) {
        ok = pool_net_allowed(g->net, ip, ptemp);
        apr_pool_destroy(ptemp);
    }
    if (!ok) {
        /* refused before any connection: nothing is sent */
        g->denied = 1;
        apr_cpystrn(g->denied_ip, *ip ? ip : "?", sizeof(g->denied_ip));
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

void pool_curl_guard(CURL *h, pool_curl_guard_t *g,
                     const pool_netpolicy_t *net, apr_pool_t *p)
{
    memset(g, 0, sizeof(*g));
    g->net = net;
    g->p = p;
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
}
