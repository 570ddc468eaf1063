/* tus 1.0.0 (https://tus.io/protocols/resumable-upload): strict parsers of
 * the request headers, the checksum algorithms, CORS origin lists, and the
 * database side of resumable uploads (lib/pool_db_uploads.c).
 *
 * The parsers take a header value as httpd hands it over (NUL-terminated,
 * any length the server admits) and never allocate more than a small
 * multiple of its length. */
#ifndef POOL_TUS_H
#define POOL_TUS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <libpq-fe.h>

#include "pool_db.h"
#include "pool_fields.h"

#define POOL_TUS_VERSION     "1.0.0"
#define POOL_TUS_EXTENSIONS  "creation,creation-with-upload," \
                             "creation-defer-length,expiration,checksum," \
                             "checksum-trailer,termination,concatenation"
#define POOL_TUS_ALGORITHMS  "sha1,sha256,md5"

#define POOL_TUS_META_MAX_PAIRS  64      /* Upload-Metadata pairs */
#define POOL_TUS_META_KEY_MAX    128     /* bytes of one key */
#define POOL_TUS_META_MAX        (16 * 1024)   /* bytes of the header */
#define POOL_TUS_CONCAT_MAX      256     /* partial uploads in a final */

/* ------------------------------------------------------------- numbers */

/* Upload-Length, Upload-Offset: 1..18 decimal digits, nothing else (no
 * sign, no space).  0 with *out set, or -1. */
int pool_tus_parse_size(const char *s, apr_off_t *out);

/* ------------------------------------------------------ Upload-Metadata */

typedef struct {
    const char *key;            /* ASCII, no space or comma, non-empty */
    const char *value;          /* decoded (NUL-terminated; may hold NULs) */
    apr_size_t value_len;
    int has_value;              /* 0: the key came alone */
} pool_tus_meta_t;

/* "key b64value,key2 b64value2,key3": comma-separated pairs, each a key,
 * optionally a single space and the standard (padded) base64 of the value.
 * Spaces around pairs are allowed; empty pairs, bad keys, bad base64,
 * duplicate keys and more than POOL_TUS_META_MAX_PAIRS pairs are not.
 * NULL with *out (array of pool_tus_meta_t) filled, or an English reason. */
const char *pool_tus_parse_metadata(apr_pool_t *p, const char *h,
                                    apr_array_header_t **out);
/* The pair with key, or NULL. */
const pool_tus_meta_t *pool_tus_meta_get(const apr_array_header_t *md,
                                         const char *key);

/* The file fields carried by the metadata: filename (else name), filetype
 * (else content-type), ts; checked with pool_fields_check.  A missing name
 * becomes default_name, a missing or empty type application/octet-stream,
 * a missing ts now.  NULL when fine, else an English reason with *field
 * naming the metadata key at fault ("filename", "ts", ...). */
const char *pool_tus_fields(apr_pool_t *p, const apr_array_header_t *md,
                            const char *default_name,
                            pool_file_fields_t *out, const char **field);

/* ------------------------------------------------------ Upload-Checksum */

typedef enum {
    POOL_TUS_SHA1 = 0,
    POOL_TUS_SHA256,
    POOL_TUS_MD5
} pool_tus_algo;

typedef struct {
    pool_tus_algo algo;
    unsigned char digest[32];
    apr_size_t len;             /* 20, 32 or 16 */
} pool_tus_checksum_t;

/* "<algorithm> <base64 digest>".  0 when fine; -1 malformed; -2 unknown
 * algorithm.  *why says what was wrong. */
int pool_tus_parse_checksum(apr_pool_t *p, const char *h,
                            pool_tus_checksum_t *out, const char **why);
const char *pool_tus_algo_name(pool_tus_algo a);

/* A running digest (OpenSSL EVP), freed with its pool. */
typedef struct pool_tus_hash pool_tus_hash;
pool_tus_hash *pool_tus_hash_new(apr_pool_t *p, pool_tus_algo a);
void pool_tus_hash_update(pool_tus_hash *h, const void *d, apr_size_t n);
/* 1 when the digest of everything fed equals want (constant time). */
int pool_tus_hash_matches(pool_tus_hash *h, const pool_tus_checksum_t *want);

/* ------------------------------------------------------- Upload-Concat */

typedef enum {
    POOL_TUS_CONCAT_NONE = 0,
    POOL_TUS_CONCAT_PARTIAL,
    POOL_TUS_CONCAT_FINAL
} pool_tus_concat_kind;

/* "partial", or "final;URL URL ..." (one or more URLs separated by single
 * or repeated spaces, at most POOL_TUS_CONCAT_MAX).  NULL with *kind and
 * *urls (array of const char *, final only) set, or a reason. */
const char *pool_tus_parse_concat(apr_pool_t *p, const char *h,
                                  pool_tus_concat_kind *kind,
                                  apr_array_header_t **urls);
/* The upload id named by a part URL of a final upload: an absolute URL or
 * an absolute path whose path ends in "/v1/pools/<pool>/uploads/<uuid>"
 * (no query or fragment).  NULL when it does not name an upload of pool. */
const char *pool_tus_part_id(apr_pool_t *p, const char *url,
                             const char *pool);

/* --------------------------------------------------------------- CORS */

/* 1 when origin is in list (space-separated origins as PoolCORSOrigins
 * holds them, "*" for any), compared case-insensitively. */
int pool_cors_allowed(const char *list, const char *origin);

/* ----------------------------------------------------------- database */

/* One row of the uploads table.  Every lookup is by id, pool name and the
 * creating client's public id: an upload of another client is not found. */
typedef struct {
    const char *id;                 /* uuid */
    apr_off_t length;               /* -1 while deferred */
    apr_off_t offset;
    const char *metadata;           /* Upload-Metadata as received, or NULL */
    const char *name;
    const char *content_type;
    apr_time_t ts;
    pool_tus_concat_kind concat;
    const char *parts;              /* a final's Upload-Concat value */
    const char *state;              /* "open", "done" or "consumed" */
    const char *file_id;            /* set when done */
    apr_time_t expires_at;
    int expired;                    /* expires_at has passed */
    const char *sha256_state;       /* SHA-256 up to offset (pool_sha.h) */
    int locked;                     /* another request holds the lease */
    int leased;                     /* this call took the lease */
} pool_upload_t;

/* Creates an upload.  u: id, length (-1 deferred), metadata, name,
 * content_type, ts, concat.  With lock_token the new row is leased to the
 * caller for lease_s seconds.  NOTFOUND when pool or client is unknown. */
pool_db_rc pool_upload_create(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, const pool_upload_t *u,
                              int expiry_s, const char *lock_token,
                              int lease_s, pool_upload_t **out,
                              const char **err);
pool_db_rc pool_upload_get(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *client_id, const char *id,
                           pool_upload_t **out, const char **err);
/* Takes the lease when the upload is open, unexpired and free; *out
 * describes the row either way (out->leased says whether it was taken). */
pool_db_rc pool_upload_lease(apr_pool_t *p, PGconn *c, const char *pool,
                             const char *client_id, const char *id,
                             const char *lock_token, int lease_s,
                             pool_upload_t **out, const char **err);
/* Extends a lease held with lock_token; NOTFOUND when it is lost. */
pool_db_rc pool_upload_renew(apr_pool_t *p, PGconn *c, const char *id,
                             const char *lock_token, int lease_s,
                             const char **err);
/* Records the new offset (and a length that was deferred, when length >=
 * 0) and gives the lease back; with expiry_s > 0 the upload expires that
 * long from now.  sha256_state: the data's SHA-256 state up to offset, or
 * NULL (the stored one is kept while the offset stays, else forgotten).
 * NOTFOUND when the lease was lost. */
pool_db_rc pool_upload_release(apr_pool_t *p, PGconn *c, const char *id,
                               const char *lock_token, apr_off_t offset,
                               apr_off_t length, int expiry_s,
                               const char *sha256_state,
                               pool_upload_t **out, const char **err);
/* In one transaction: inserts the file row f (its id chosen by the
 * caller) and marks the leased upload done with that file, lease given
 * back.  Retry-safe: a retried call whose first attempt committed returns
 * that row.  NOTFOUND when the lease was lost. */
pool_db_rc pool_upload_complete(apr_pool_t *p, PGconn *c, const char *id,
                                const char *lock_token, const pool_file_t *f,
                                pool_file_t **out, const char **err);
/* Leases every one of ids (distinct) when each is a complete, open,
 * unexpired, free partial upload of the client.  *sizes gets their lengths
 * in the order of ids.  When one is not, nothing stays leased, and
 * *bad_id names the first culprit: NOTFOUND when it is not a partial
 * upload of the client, CONFLICT when it is not complete, expired, in use
 * or already concatenated. */
pool_db_rc pool_upload_lease_parts(apr_pool_t *p, PGconn *c, const char *pool,
                                   const char *client_id,
                                   const apr_array_header_t *ids,
                                   const char *lock_token, int lease_s,
                                   apr_array_header_t **sizes,
                                   const char **bad_id, const char **err);
/* Gives back leases taken with lock_token (on ids). */
pool_db_rc pool_upload_unlease(apr_pool_t *p, PGconn *c,
                               const apr_array_header_t *ids,
                               const char *lock_token, const char **err);
/* In one transaction: inserts the file row f, the final upload u (done,
 * with f) and marks the leased parts consumed.  Retry-safe like
 * pool_upload_complete. */
pool_db_rc pool_upload_create_final(apr_pool_t *p, PGconn *c,
                                    const char *pool, const char *client_id,
                                    const pool_upload_t *u, int expiry_s,
                                    const apr_array_header_t *ids,
                                    const char *lock_token,
                                    const pool_file_t *f, pool_file_t **out,
                                    const char **err);
/* Deletes an upload that no request holds.  NOTFOUND when there is none;
 * CONFLICT when it is leased. */
pool_db_rc pool_upload_delete(apr_pool_t *p, PGconn *c, const char *pool,
                              const char *client_id, const char *id,
                              const char **err);

/* For poolctl sweep: leases (SKIP LOCKED) up to limit expired uploads that
 * no request holds; *ids gets their ids. */
pool_db_rc pool_upload_claim_expired(apr_pool_t *p, PGconn *c, int limit,
                                     const char *lock_token, int lease_s,
                                     apr_array_header_t **ids,
                                     const char **err);
/* Deletes an upload leased with lock_token. */
pool_db_rc pool_upload_forget(apr_pool_t *p, PGconn *c, const char *id,
                              const char *lock_token, const char **err);
/* Which of ids have an upload row: *present gets those ids. */
pool_db_rc pool_upload_existing(apr_pool_t *p, PGconn *c,
                                const apr_array_header_t *ids,
                                apr_array_header_t **present,
                                const char **err);

#endif
