#include <string.h>
#include <apr_strings.h>

#include "pool_net.h"

const char *pool_net_parse(apr_pool_t *p, const char *list,
                           apr_array_header_t **out)
{
    apr_array_header_t *arr = apr_array_make(p, 16, sizeof(apr_ipsubnet_t *));
    char *copy = apr_pstrdup(p, list ? list : ""), *tok, *state = NULL;

    for (tok = apr_strtok(copy, " \t,", &state); tok;
         tok = apr_strtok(NULL, " \t,", &state)) {
        char *slash = strchr(tok, '/');
        apr_ipsubnet_t *sub = NULL;
        apr_status_t rv;

        if (strlen(tok) > 64) {
            return apr_psprintf(p, "'%.64s...' is not a network", tok);
        }
        if (slash) {
            *slash = '\0';
            if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1)) {
                return apr_psprintf(p, "'%s/%s' is not a network (address/bits)",
                                    tok, slash + 1);
            }
        }
        /* apr_ipsubnet_create needs an address literal, never a name */
        if (!strchr(tok, ':') && strspn(tok, "0123456789.") != strlen(tok)) {
            return apr_psprintf(p, "'%s' is not an IP address", tok);
        }
        rv = apr_ipsubnet_create(&sub, tok, slash ? slash + 1 : NULL, p);
        if (rv != APR_SUCCESS) {
            return apr_psprintf(p, "'%s%s%s' is not a network", tok,
                                slash ? "/" : "", slash ? slash + 1 : "");
        }
        APR_ARRAY_PUSH(arr, apr_ipsubnet_t *) = sub;
    }
    *out = arr;
    return NULL;
}

const char *pool_netpolicy_make(apr_pool_t *p, const char *deny,
                                const char *allow, pool_netpolicy_t **out)
{
    pool_netpolicy_t *np = apr_pcalloc(p, sizeof(*np));
    const char *err;

    if ((err = pool_net_parse(p, deny ? deny : POOL_NET_DEFAULT_DENY,
                              &np->deny)) != NULL) {
        return err;
    }
    if ((err = pool_net_parse(p, allow, &np->allow)) != NULL) {
        return err;
    }
    *out = np;
    return NULL;
}

static int matches(const apr_array_header_t *arr, apr_sockaddr_t *sa)
{
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(arr, i, apr_ipsubnet_t *), sa)) {
            return 1;
        }
    }
    return 0;
}

int pool_net_allowed(const pool_netpolicy_t *np, const char *ip,
                     apr_pool_t *ptemp)
{
    apr_sockaddr_t *sa = NULL;
    apr_int32_t family = strchr(ip, ':') ? APR_INET6 : APR_INET;

    if (strlen(ip) > 64) {
        return 0;
    }
    if (apr_sockaddr_info_get(&sa, ip, family, 0, 0, ptemp)
        != APR_SUCCESS || !sa) {
        return 0;
    }
    if (matches(np->allow, sa)) {
        return 1;
    }
    return !matches(np->deny, sa);
}
