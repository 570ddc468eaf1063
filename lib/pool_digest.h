/* HTTP digest fields (RFC 9530): Content-Digest / Repr-Digest values and
 * the Want-*-Digest preferences, for sha-256 (the only algorithm we keep). */
#ifndef POOL_DIGEST_H
#define POOL_DIGEST_H

#include <apr_pools.h>

/* "sha-256=:<base64>:" for a SHA-256 given as 64 hex digits; NULL when hex
 * is not that. */
const char *pool_digest_field(apr_pool_t *p, const char *hex);

/* Whether a response may carry a sha-256 digest, given the request's
 * Want-Repr-Digest (or Want-Content-Digest) value, NULL when absent: yes
 * unless the preference gives sha-256 the weight 0 ("not acceptable").
 * Anything unparsable counts as no preference. */
int pool_digest_sha256_wanted(const char *want);

#endif
