/* Outbound address checks (lib/pool_net.c: pool_net_parse,
 * pool_netpolicy_make, pool_net_allowed): PoolOutboundDeny and
 * PoolOutboundAllow lists, and the addresses a fetch or webhook connects
 * to (DNS answers included).
 *
 * Input: the deny list, '\n', the allow list, '\n', then addresses, one a
 * line.  A deny line "-" means the default list.  Invariants: a list parses
 * to as many networks as it has entries; an address allowed by the allow
 * list is allowed; with the default deny list, loopback, private and
 * link-local addresses are refused and a public one passes (no allow
 * list); an address is judged alike twice.  Only numeric addresses are
 * judged (see numeric()). */
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <apr_network_io.h>

#include "fuzz_common.h"
#include "pool_net.h"

/* 1 when ip is a numeric address: pool_net_allowed is only ever given
 * those (curl's resolved addresses), and a name would make it query DNS */
static int numeric(const char *ip)
{
    struct addrinfo hints, *res = NULL;
    int ok;

    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_UNSPEC;
    ok = *ip && getaddrinfo(ip, NULL, &hints, &res) == 0;
    if (res) {
        freeaddrinfo(res);
    }
    return ok;
}

static int entries(const char *list)
{
    int n = 0;
    const char *s = list;

    for (;;) {
        s += strspn(s, " \t,");
        if (!*s) {
            return n;
        }
        n++;
        s += strcspn(s, " \t,");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *deny, *allow, *why;
    static pool_netpolicy_t *def;
    static apr_array_header_t *all;
    apr_array_header_t *arr;
    pool_netpolicy_t *np;
    int lines = 0;

    if (size > 4096) {
        return 0;
    }
    p = fz_pool();
    deny = fz_line(p, &in);
    allow = fz_line(p, &in);

    if (pool_net_parse(p, allow, &arr) == NULL) {
        CHECK(arr->nelts == entries(allow));
    }
    if (strcmp(deny, "-") && pool_net_parse(p, deny, &arr) == NULL) {
        CHECK(arr->nelts == entries(deny));
    }
    why = pool_netpolicy_make(p, strcmp(deny, "-") ? deny : NULL,
                              *allow ? allow : NULL, &np);
    if (why) {
        CHECK(*why);
        np = NULL;
    }
    if (!def) {
        /* made once, in the root pool */
        CHECK(pool_netpolicy_make(fz_root, NULL, NULL, &def) == NULL);
        CHECK(pool_net_parse(fz_root, "0.0.0.0/1 128.0.0.0/1 ::/1 8000::/1",
                             &all) == NULL);
        CHECK(!pool_net_allowed(def, "127.0.0.1", p));
        CHECK(!pool_net_allowed(def, "::ffff:10.1.2.3", p));
        CHECK(pool_net_allowed(def, "93.184.216.34", p));
    }

    while (in.n && lines++ < 16) {
        const char *ip = fz_line(p, &in);
        unsigned char v4[4];
        int a;

        if (!numeric(ip)) {
            continue;
        }
        a = pool_net_allowed(def, ip, p);
        CHECK(a == pool_net_allowed(def, ip, p));
        if (inet_pton(AF_INET, ip, v4) == 1
            && (v4[0] == 127 || v4[0] == 10 || v4[0] == 0 || v4[0] >= 224
                || (v4[0] == 192 && v4[1] == 168)
                || (v4[0] == 169 && v4[1] == 254))) {
            CHECK(!a);
        }
        if (np) {
            int b = pool_net_allowed(np, ip, p);
            pool_netpolicy_t only_allow;

            CHECK(b == pool_net_allowed(np, ip, p));
            /* what the allow list lets through (with everything else
             * denied), the policy lets through whatever its deny list */
            only_allow.allow = np->allow;
            only_allow.deny = all;
            if (pool_net_allowed(&only_allow, ip, p)) {
                CHECK(b);
            }
        }
    }
    fz_pool_done(p);
    return 0;
}
