/* Signed links: HMAC-SHA256 over method, path, expiry and key id with a key
 * derived from a PoolKeyFile key; see pool_link.h. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "pool_link.h"
#include "pool_util.h"

#define LINK_KEY_LABEL    "mod_pool signed link v1"
#define CLIENT_KEY_LABEL  "mod_pool client link v1"
#define LINK_MAC_LEN      32
#define LINK_SIG_CHARS    43      /* unpadded base64url of LINK_MAC_LEN bytes */
#define LINK_EXPIRES_MAX  20      /* digits */

/* The link signature over method, path, expires, the key's id and, for a
 * client link, the link's id; the two kinds use keys derived with labels
 * of their own, so that neither ever verifies as the other. */
static void link_mac(apr_pool_t *p, const pool_key_t *k, const char *method,
                     const char *path, const char *expires,
                     const char *link_id, unsigned char out[LINK_MAC_LEN])
{
    const char *label = link_id ? CLIENT_KEY_LABEL : LINK_KEY_LABEL;
    unsigned char lk[LINK_MAC_LEN];
    const char *msg;

    pool_hmac_sha256(k->key, k->keylen, label, strlen(label), lk);
    msg = apr_pstrcat(p, method, "\n", path, "\n", expires, "\n", k->kid,
                      link_id ? "\n" : NULL, link_id, NULL);
    pool_hmac_sha256(lk, sizeof(lk), msg, strlen(msg), out);
    OPENSSL_cleanse(lk, sizeof(lk));
}

/* An HTTP method: a non-empty token (RFC 9110 5.6.2). */
static int method_ok(const char *m)
{
    if (!m || !*m) {
        return 0;
    }
    for (; *m; m++) {
        if (!apr_isalnum(*m) && !strchr("!#$%&'*+-.^_`|~", *m)) {
            return 0;
        }
    }
    return 1;
}

/* A path we sign: absolute, printable ASCII without space, '?' or '#'. */
static int path_ok(const char *s)
{
    if (!s || *s != '/') {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
            return 0;
        }
    }
    return 1;
}

/* Both kinds of link: link_id NULL for a processor link. */
static const char *link_sign(apr_pool_t *p, const pool_keyring_t *keys,
                             const char *method, const char *path,
                             const char *link_id, apr_int64_t expires,
                             apr_int64_t now, const char **err)
{
    const pool_key_t *k = pool_keyring_signing(keys);
    unsigned char mac[LINK_MAC_LEN];
    const char *exp_s, *q;

    *err = NULL;
    if (!k || !k->kid || k->keylen == 0
        || !pool_kid_valid(k->kid, strlen(k->kid))) {
        *err = "no signing key for links";
        return NULL;
    }
    if (!method_ok(method)) {
        *err = "invalid method for a signed link";
        return NULL;
    }
    if (!path_ok(path)) {
        *err = "invalid path for a signed link (absolute and percent-encoded, "
               "no query)";
        return NULL;
    }
    if (expires <= 0 || expires <= now) {
        *err = "a signed link must expire in the future";
        return NULL;
    }
    if (now <= APR_INT64_MAX - POOL_LINK_MAX_LIFETIME
        && expires > now + POOL_LINK_MAX_LIFETIME) {
        *err = apr_psprintf(p, "a signed link may last at most %d seconds",
                            POOL_LINK_MAX_LIFETIME);
        return NULL;
    }
    if (link_id && !pool_uuid_valid(link_id)) {
        *err = "invalid link id for a signed link";
        return NULL;
    }
    exp_s = apr_psprintf(p, "%" APR_INT64_T_FMT, expires);
    link_mac(p, k, method, path, exp_s, link_id, mac);
    q = apr_pstrcat(p, "expires=", exp_s, "&kid=", k->kid, "&sig=",
                    pool_b64url_encode(p, mac, sizeof(mac)), NULL);
    return link_id ? apr_pstrcat(p, "link=", link_id, "&", q, NULL) : q;
}

const char *pool_link_sign(apr_pool_t *p, const pool_keyring_t *keys,
                           const char *method, const char *path,
                           apr_int64_t expires, apr_int64_t now,
                           const char **err)
{
    return link_sign(p, keys, method, path, NULL, expires, now, err);
}

const char *pool_link_sign_client(apr_pool_t *p, const pool_keyring_t *keys,
                                  const char *method, const char *path,
                                  const char *link_id, apr_int64_t expires,
                                  apr_int64_t now, const char **err)
{
    if (!link_id) {
        *err = "invalid link id for a signed link";
        return NULL;
    }
    return link_sign(p, keys, method, path, link_id, expires, now, err);
}

/* One parameter we need, as found in the query. */
typedef struct {
    const char *name;
    const char *v;              /* NULL: given without '=' */
    apr_size_t n;
    int count;
} link_param;

/* Finds expires, kid and sig in the raw query (no decoding). */
static void scan_query(const char *query, link_param *params, int nparams)
{
    const char *s = query, *end, *amp, *eq;
    apr_size_t len, nlen;
    int i;

    if (!query) {
        return;
    }
    end = query + strlen(query);
    while (s <= end) {
        amp = memchr(s, '&', (apr_size_t)(end - s));
        if (!amp) {
            amp = end;
        }
        len = (apr_size_t)(amp - s);
        eq = memchr(s, '=', len);
        nlen = eq ? (apr_size_t)(eq - s) : len;
        for (i = 0; i < nparams; i++) {
            if (nlen == strlen(params[i].name)
                && !memcmp(s, params[i].name, nlen)) {
                params[i].count++;
                params[i].v = eq ? eq + 1 : NULL;
                params[i].n = eq ? len - nlen - 1 : 0;
            }
        }
        s = amp + 1;
    }
}

/* NULL when the parameter is there once with a value without '%'. */
static const char *param_problem(apr_pool_t *p, const link_param *a)
{
    if (a->count == 0) {
        return apr_psprintf(p, "signed link: the %s parameter is missing",
                            a->name);
    }
    if (a->count > 1) {
        return apr_psprintf(p, "signed link: the %s parameter is repeated",
                            a->name);
    }
    if (!a->v || a->n == 0) {
        return apr_psprintf(p, "signed link: the %s parameter is empty",
                            a->name);
    }
    if (memchr(a->v, '%', a->n)) {
        return apr_psprintf(p, "signed link: the %s parameter must not be "
                            "percent-encoded", a->name);
    }
    return NULL;
}

/* Decimal without sign or leading zeros; 0 if malformed.  *overflow is set
 * when the number is well-formed but beyond apr_int64_t. */
static int parse_expires(const char *s, apr_size_t n, apr_int64_t *out,
                         int *overflow)
{
    apr_int64_t v = 0;
    apr_size_t i;

    *overflow = 0;
    if (n < 1 || n > LINK_EXPIRES_MAX || (n > 1 && s[0] == '0')) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        int d;

        if (!apr_isdigit(s[i])) {
            return 0;
        }
        d = s[i] - '0';
        if (v > (APR_INT64_MAX - d) / 10) {
            *overflow = 1;
        }
        else {
            v = v * 10 + d;
        }
    }
    *out = v;
    return 1;
}

/* The form of the parameters of a signed query (link NULL: a processor
 * link's).  POOL_LINK_OK with *expires, *overflow and the signature's
 * bytes, else POOL_LINK_MALFORMED with *detail. */
static pool_link_rc check_form(apr_pool_t *p, const link_param *params,
                               int nparams, apr_int64_t *expires,
                               int *overflow, unsigned char *sig,
                               const char **detail)
{
    const link_param *exp_p = &params[0], *kid_p = &params[1];
    const link_param *sig_p = &params[2];
    const char *why;
    int i;

    for (i = 0; i < nparams; i++) {
        why = param_problem(p, &params[i]);
        if (why) {
            *detail = why;
            return POOL_LINK_MALFORMED;
        }
    }
    if (!parse_expires(exp_p->v, exp_p->n, expires, overflow)) {
        *detail = apr_psprintf(p, "signed link: expires must be Unix seconds "
                               "(at most %d digits, no sign or leading "
                               "zeros)", LINK_EXPIRES_MAX);
        return POOL_LINK_MALFORMED;
    }
    if (!pool_kid_valid(kid_p->v, kid_p->n)) {
        *detail = apr_psprintf(p, "signed link: kid must be 1 to %d "
                               "characters of A-Z a-z 0-9 . _ -",
                               POOL_KID_MAX);
        return POOL_LINK_MALFORMED;
    }
    if (sig_p->n != LINK_SIG_CHARS
        || pool_b64url_decode_buf(sig_p->v, sig_p->n, sig, LINK_MAC_LEN)
           != LINK_MAC_LEN) {
        *detail = apr_psprintf(p, "signed link: sig must be %d characters "
                               "of unpadded base64url", LINK_SIG_CHARS);
        return POOL_LINK_MALFORMED;
    }
    if (nparams > 3
        && !pool_uuid_valid(apr_pstrmemdup(p, params[3].v, params[3].n))) {
        *detail = "signed link: link must be a link id (a lower-case UUID)";
        return POOL_LINK_MALFORMED;
    }
    return POOL_LINK_OK;
}

/* Both kinds of link: client says whether the query must carry a link id
 * (given back in *link_id). */
static pool_link_rc link_verify(apr_pool_t *p, const pool_keyring_t *keys,
                                const char *method, const char *path,
                                const char *query, apr_int64_t now,
                                int client, const char **link_id,
                                const char **detail)
{
    link_param params[4] = {
        { "expires", NULL, 0, 0 },
        { "kid", NULL, 0, 0 },
        { "sig", NULL, 0, 0 },
        { "link", NULL, 0, 0 },
    };
    const link_param *exp_p = &params[0], *kid_p = &params[1];
    const link_param *sig_p = &params[2], *link_p = &params[3];
    const pool_key_t *k;
    const char *exp_s, *kid, *lid = NULL;
    unsigned char sig[LINK_MAC_LEN], mac[LINK_MAC_LEN];
    apr_int64_t expires = 0;
    pool_link_rc rc;
    int overflow;

    *detail = NULL;
    scan_query(query, params, 4);
    if (sig_p->count == 0) {
        *detail = "not a signed link (no sig parameter)";
        return POOL_LINK_NONE;
    }
    if (client && link_p->count == 0) {
        *detail = "not a client link (no link parameter)";
        return POOL_LINK_NONE;
    }
    rc = check_form(p, params, client ? 4 : 3, &expires, &overflow, sig,
                    detail);
    if (rc != POOL_LINK_OK) {
        return rc;
    }
    if (client) {
        lid = apr_pstrmemdup(p, link_p->v, link_p->n);
    }

    /* time */
    if (!overflow && expires <= now) {
        *detail = "signed link expired";
        return POOL_LINK_EXPIRED;
    }
    if (overflow
        || (now <= APR_INT64_MAX - POOL_LINK_MAX_LIFETIME
                   - POOL_LINK_CLOCK_SKEW
            && expires > now + POOL_LINK_MAX_LIFETIME
                         + POOL_LINK_CLOCK_SKEW)) {
        *detail = apr_psprintf(p, "signed link expires too far in the future "
                               "(links last at most %d seconds)",
                               POOL_LINK_MAX_LIFETIME);
        return POOL_LINK_TOO_LONG;
    }

    /* key and signature */
    kid = apr_pstrmemdup(p, kid_p->v, kid_p->n);
    k = pool_keyring_find(keys, kid);
    if (!k) {
        *detail = apr_psprintf(p, "signed link: unknown key id '%s'", kid);
        return POOL_LINK_UNKNOWN_KEY;
    }
    if (!method_ok(method) || !path) {
        *detail = "signed link: signature does not match the request";
        return POOL_LINK_BAD_SIG;
    }
    exp_s = apr_pstrmemdup(p, exp_p->v, exp_p->n);
    link_mac(p, k, method, path, exp_s, lid, mac);
    if (!pool_ct_equal(mac, sig, LINK_MAC_LEN)) {
        *detail = client
                  ? "signed link: signature does not match the request "
                    "(method, path, expires, kid or link changed)"
                  : "signed link: signature does not match the request "
                    "(method, path, expires or kid changed)";
        return POOL_LINK_BAD_SIG;
    }
    if (link_id) {
        *link_id = lid;
    }
    return POOL_LINK_OK;
}

pool_link_rc pool_link_verify(apr_pool_t *p, const pool_keyring_t *keys,
                              const char *method, const char *path,
                              const char *query, apr_int64_t now,
                              const char **detail)
{
    const char *dummy;

    return link_verify(p, keys, method, path, query, now, 0, NULL,
                       detail ? detail : &dummy);
}

pool_link_rc pool_link_verify_client(apr_pool_t *p,
                                     const pool_keyring_t *keys,
                                     const char *method, const char *path,
                                     const char *query, apr_int64_t now,
                                     const char **link_id,
                                     const char **detail)
{
    const char *dummy;

    *link_id = NULL;
    return link_verify(p, keys, method, path, query, now, 1, link_id,
                       detail ? detail : &dummy);
}
