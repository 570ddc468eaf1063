/* HTTP digest fields (RFC 9530): Content-Digest / Repr-Digest values and
 * the Want-*-Digest preferences, for sha-256 (the only algorithm we keep). */
#ifndef POOL_DIGEST_H
#define POOL_DIGEST_H

#include <apr_pools.h>

/* "sha-256=:<base64>:" for a SHA-256 given as 64 hex digits; NULL when hex
 * is not that. */
const char *pool_digest_field(apr_pool_t *p, const char *hex);

/* The ETag of stored bytes whose SHA-256 is hex: the digest in base64,
 * quoted ("...", 46 characters, the value Repr-Digest carries).  Shorter
 * than the hex digits so that an If header with a lock token and the tag
 * twice fits clients' buffers (litmus: 200 bytes).  NULL when hex is not
 * 64 hex digits. */
const char *pool_digest_etag(apr_pool_t *p, const char *hex);

/* Content-Digest / Repr-Digest of a request: finds sha-256=:b64: in the
 * dictionary h.  1 with want[] filled, 0 when it has no sha-256 member, -1
 * malformed (also a sha-256 that is not the base64 of 32 bytes). */
int pool_parse_content_digest(apr_pool_t *p, const char *h,
                              unsigned char want[32]);

/* Whether a response may carry a sha-256 digest, given the request's
 * Want-Repr-Digest (or Want-Content-Digest) value, NULL when absent: yes
 * unless the preference gives sha-256 the weight 0 ("not acceptable").
 * Anything unparsable counts as no preference. */
int pool_digest_sha256_wanted(const char *want);

#endif
