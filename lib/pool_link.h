/* Signed links (docs/rounds.md, "Signed links"): the API path plus
 * "?expires=E&kid=K&sig=S", where S is base64url (no padding) of
 *     HMAC-SHA256(linkkey, METHOD "\n" PATH "\n" EXPIRES "\n" KID)
 * and linkkey = HMAC-SHA256(key KID of PoolKeyFile, "mod_pool signed link v1"),
 * so that a link signature never equals a token signature.  PATH is the raw
 * (percent-encoded) request path without the query; EXPIRES is decimal Unix
 * seconds without sign or leading zeros.  The last key of the ring signs;
 * any key of the ring verifies (rotation). */
#ifndef POOL_LINK_H
#define POOL_LINK_H

#include <apr_pools.h>
#include "pool_keys.h"

#define POOL_LINK_MAX_LIFETIME (7 * 86400)   /* seconds */
#define POOL_LINK_CLOCK_SKEW   60            /* seconds, when verifying */

/* The query string "expires=E&kid=K&sig=S" signing METHOD (an HTTP token,
 * e.g. "GET") and PATH (absolute, printable ASCII, no '?' or '#') until
 * expires (Unix seconds) with the keyring's signing key
 * (pool_keyring_signing).  expires must be after now and at most
 * POOL_LINK_MAX_LIFETIME after it.  NULL with *err (English) when there is
 * no key or an argument is refused. */
const char *pool_link_sign(apr_pool_t *p, const pool_keyring_t *keys,
                           const char *method, const char *path,
                           apr_int64_t expires, apr_int64_t now,
                           const char **err);

typedef enum {
    POOL_LINK_OK = 0,
    POOL_LINK_NONE,        /* the query has no sig parameter: not a signed request */
    POOL_LINK_MALFORMED,   /* sig present but expires/kid/sig missing, repeated or malformed */
    POOL_LINK_EXPIRED,     /* expires <= now */
    POOL_LINK_TOO_LONG,    /* expires > now + POOL_LINK_MAX_LIFETIME (+ 60 s clock skew) */
    POOL_LINK_UNKNOWN_KEY, /* kid not in the keyring */
    POOL_LINK_BAD_SIG      /* signature does not match */
} pool_link_rc;

/* Verifies a signed request.  query: the raw query string (r->args; may be
 * NULL, may contain other parameters such as name=x, which are not signed).
 * Parameters are split on '&' and not percent-decoded; an expires, kid or
 * sig value containing '%' is malformed.  The checks run in the order of
 * the codes above (the expiry before the key and the signature); the
 * signature is compared in constant time.  *detail (may be NULL) gets an
 * English reason for the non-OK codes, never the expected signature. */
pool_link_rc pool_link_verify(apr_pool_t *p, const pool_keyring_t *keys,
                              const char *method, const char *path,
                              const char *query, apr_int64_t now,
                              const char **detail);

#endif
