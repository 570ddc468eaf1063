/* Access tokens: JWT (RFC 7519) signed with HS256 (RFC 7515), header
 * {"alg":"HS256","typ":"at+jwt","kid":...}.  The algorithm is pinned. */
#ifndef POOL_JWT_H
#define POOL_JWT_H

#include <apr_pools.h>
#include "pool_keys.h"

#define POOL_JWT_MAX_LEN 4096   /* longer tokens are rejected unparsed */

typedef struct {
    const char *iss;
    const char *aud;
    const char *sub;            /* client_id (signed as both sub and
                                 * client_id, RFC 9068) */
    const char *pool;           /* pool name */
    const char *role;           /* uploader|listener|processor|admin */
    const char *jti;
    apr_int64_t iat;            /* seconds since epoch */
    apr_int64_t exp;
} pool_claims_t;

typedef enum {
    POOL_JWT_OK = 0,
    POOL_JWT_MALFORMED,         /* not three base64url parts, bad JSON, too long */
    POOL_JWT_BAD_ALG,           /* alg other than HS256 ("none" included) */
    POOL_JWT_BAD_TYP,           /* typ other than at+jwt */
    POOL_JWT_UNKNOWN_KID,       /* kid missing or not in the keyring */
    POOL_JWT_BAD_SIGNATURE,
    POOL_JWT_EXPIRED,           /* now >= exp */
    POOL_JWT_NOT_YET,           /* iat or nbf more than 60 s in the future */
    POOL_JWT_BAD_ISS,
    POOL_JWT_BAD_AUD,
    POOL_JWT_BAD_CLAIMS         /* a required claim missing or of wrong type */
} pool_jwt_status_t;

/* Signs claims with key; NULL on failure. */
char *pool_jwt_sign(apr_pool_t *p, const pool_key_t *key,
                    const pool_claims_t *c);

/* Verifies token against the keyring, issuer, audience and time `now`
 * (seconds).  On POOL_JWT_OK fills *out (strings from p). */
pool_jwt_status_t pool_jwt_verify(apr_pool_t *p, const pool_keyring_t *kr,
                                  const char *token, const char *iss,
                                  const char *aud, apr_int64_t now,
                                  pool_claims_t *out);

/* An access token for a client, as the token endpoint issues it (and
 * `poolctl client token`): signed with the keyring's signing key, audience
 * POOL_TOKEN_AUDIENCE, valid lifetime seconds from now.  NULL when the
 * keyring has no signing key or signing fails. */
char *pool_token_issue(apr_pool_t *p, const pool_keyring_t *kr,
                       const char *issuer, int lifetime,
                       const char *client_id, const char *pool,
                       const char *role, apr_int64_t now);

/* A short English reason, suitable for error_description. */
const char *pool_jwt_strerror(pool_jwt_status_t s);

#endif
