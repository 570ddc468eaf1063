/* Signed links (docs/rounds.md, "Signed links"): the API path plus
 * "?expires=E&kid=K&sig=S", where S is base64url (no padding) of
 *     HMAC-SHA256(linkkey, METHOD "\n" PATH "\n" EXPIRES "\n" KID)
 * and linkkey = HMAC-SHA256(key KID of PoolKeyFile, "mod_pool signed link v1"),
 * so that a link signature never equals a token signature.  PATH is the raw
 * (percent-encoded) request path without the query; EXPIRES is decimal Unix
 * seconds without sign or leading zeros.  The last key of the ring signs;
 * any key of the ring verifies (rotation).
 *
 * Client links (docs/api.md, "Links for clients") carry the id of their
 * row too: "?link=L&expires=E&kid=K&sig=S", S over
 *     METHOD "\n" PATH "\n" EXPIRES "\n" KID "\n" L
 * with linkkey = HMAC-SHA256(key KID, "mod_pool client link v1"): a client
 * link's signature never verifies as a processor link's, nor the other way
 * round, nor as a token's. */
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

/* A client link: the query "link=L&expires=E&kid=K&sig=S" for the link
 * whose row has id link_id (a lower-case UUID); otherwise as
 * pool_link_sign. */
const char *pool_link_sign_client(apr_pool_t *p, const pool_keyring_t *keys,
                                  const char *method, const char *path,
                                  const char *link_id, apr_int64_t expires,
                                  apr_int64_t now, const char **err);

/* Verifies a client link as pool_link_verify does a processor link's;
 * POOL_LINK_NONE when the query lacks sig or link (a malformed or repeated
 * link is POOL_LINK_MALFORMED).  On POOL_LINK_OK *link_id is the link's id,
 * whose row the caller then looks up. */
pool_link_rc pool_link_verify_client(apr_pool_t *p,
                                     const pool_keyring_t *keys,
                                     const char *method, const char *path,
                                     const char *query, apr_int64_t now,
                                     const char **link_id,
                                     const char **detail);

#endif
