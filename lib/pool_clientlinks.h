/* Links for clients (sql/014, docs/api.md "Links for clients"): a client
 * hands a signed URL (lib/pool_link.h, pool_link_sign_client) to someone
 * without credentials, to download one file of its pool ("download") or to
 * upload one file into it as that client ("upload").  Each link has a row:
 * it expires, counts its downloads, can be revoked, stops working when its
 * creator is disabled, and records its uses.
 *
 * Admitting a request is one statement on the row found by its primary
 * key: a GET's download is counted there (atomically, never past
 * max_downloads); an upload claims the row for the time its body arrives,
 * so that of two concurrent PUTs only one can store a file.
 *
 * Outcomes of the admission functions: POOL_DB_OK; POOL_DB_NOTFOUND (no
 * such link of this kind in this pool: purged, its file removed, or never
 * made); POOL_DB_REFUSED with *err saying why the link no longer works
 * (revoked, expired, used up, used, its creator disabled); POOL_DB_CONFLICT
 * (an upload link another request holds). */
#ifndef POOL_CLIENTLINKS_H
#define POOL_CLIENTLINKS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "pool_db.h"

#define POOL_CLIENTLINK_LIFETIME_DEFAULT 86400  /* seconds */
/* An upload's claim lasts this long (seconds) without renewal: an httpd
 * child that died mid-upload blocks its link no longer than that. */
#define POOL_CLIENTLINK_CLAIM_LEASE 3600
/* Uses recorded per link (downloads are counted past it). */
#define POOL_CLIENTLINK_USES_MAX 1000
/* Rows stay this long (seconds) after their expiry or revocation, so that
 * their uses can be read; then poolctl sweep removes them. */
#define POOL_CLIENTLINK_KEEP (7 * 86400)
#define POOL_CLIENTLINK_LIST_MAX 1000

typedef struct {
    const char *id;             /* uuid */
    apr_int64_t seq;            /* listing cursor */
    const char *pool;
    const char *client_id;      /* its creator (public client id) */
    const char *kind;           /* "download" or "upload" */
    /* download: the file; upload: the file it stored, NULL until then */
    const char *file_id;
    /* upload: the file's name, folder (NULL: the creator's own folder),
     * event timestamp (has_ts 0: the time of the upload) and limit */
    const char *name;
    const char *folder;
    apr_time_t ts;
    int has_ts;
    const char *ts_at;          /* ts in RFC 3339 (read rows), or NULL */
    apr_off_t max_size;
    int max_downloads;          /* download: 0 for no limit */
    int downloads;
    apr_int64_t expires;        /* Unix seconds */
    const char *created_at;     /* RFC 3339 */
    const char *expires_at;
    const char *revoked_at;     /* NULL unless revoked */
    const char *used_at;        /* upload: when its file was stored */
    int uses;                   /* uses recorded */
    int busy;                   /* upload: a request holds it now */
} pool_clientlink_t;

typedef struct {
    const char *at;             /* RFC 3339 */
    const char *method;
    const char *remote_addr;
    int status;
    apr_off_t bytes_sent;
    apr_off_t bytes_received;
} pool_clientlink_use_t;

/* Stores a link: in->id (a new uuid), pool, client_id (its creator, a
 * client of pool), kind, expires, and file_id and max_downloads (0: none)
 * for a download link, or name, folder, ts/has_ts and max_size for an
 * upload link.  Retry-safe: a repeated call with the same id finds the row
 * its first one stored.  *out gets the row.  NOTFOUND when the pool, the
 * client in it or (download) the file in it does not exist. */
pool_db_rc pool_clientlink_create(apr_pool_t *p, PGconn *c,
                                  const pool_clientlink_t *in,
                                  pool_clientlink_t **out, const char **err);

/* The link id of pool; NOTFOUND when there is none. */
pool_db_rc pool_clientlink_get(apr_pool_t *p, PGconn *c, const char *pool,
                               const char *id, pool_clientlink_t **out,
                               const char **err);

/* The links of pool (of one creator when client_id is not NULL) with seq
 * > after, in the order they were made, at most limit (1 to
 * POOL_CLIENTLINK_LIST_MAX).  Array of pool_clientlink_t *. */
pool_db_rc pool_clientlink_list(apr_pool_t *p, PGconn *c, const char *pool,
                                const char *client_id, apr_int64_t after,
                                int limit, apr_array_header_t **out,
                                const char **err);

/* The recorded uses of link id, oldest first.  Array of
 * pool_clientlink_use_t *. */
pool_db_rc pool_clientlink_uses(apr_pool_t *p, PGconn *c, const char *id,
                                apr_array_header_t **out, const char **err);

/* Revokes link id of pool (already revoked: unchanged, OK).  client_id not
 * NULL: only when that client made it (else NOTFOUND). */
pool_db_rc pool_clientlink_revoke(apr_pool_t *p, PGconn *c, const char *pool,
                                  const char *id, const char *client_id,
                                  const char **err);

/* Admits a download through link id of pool: count 1 (a GET) counts it
 * in the same statement, count 0 (a HEAD) only checks.  *out: the link. */
pool_db_rc pool_clientlink_admit(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *id, int count,
                                 pool_clientlink_t **out, const char **err);

/* Gives back the download a GET counted when the server failed it. */
pool_db_rc pool_clientlink_refund(apr_pool_t *p, PGconn *c, const char *id,
                                  const char **err);

/* Claims upload link id of pool for the request with the random token;
 * *out: the link. */
pool_db_rc pool_clientlink_claim(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *id, const char *token,
                                 pool_clientlink_t **out, const char **err);

/* Renews token's claim on link id of pool for another lease, before the
 * file is recorded: REFUSED when the link was revoked or its creator
 * disabled meanwhile (its expiry does not matter any more), CONFLICT when
 * the claim was lost. */
pool_db_rc pool_clientlink_renew(apr_pool_t *p, PGconn *c, const char *pool,
                                 const char *id, const char *token,
                                 const char **err);

/* Ends token's claim: with file_id, the link is used (it stored that
 * file; CONFLICT when the claim was lost meanwhile), without, the link is
 * free again. */
pool_db_rc pool_clientlink_settle(apr_pool_t *p, PGconn *c, const char *id,
                                  const char *token, const char *file_id,
                                  const char **err);

/* Records a use of link id, unless it has POOL_CLIENTLINK_USES_MAX. */
pool_db_rc pool_clientlink_use(apr_pool_t *p, PGconn *c, const char *id,
                               const pool_clientlink_use_t *u,
                               const char **err);

/* Removes the links (and their uses) of pool (NULL: every pool) that
 * expired or were revoked more than keep seconds ago; *n of them. */
pool_db_rc pool_clientlinks_purge(apr_pool_t *p, PGconn *c, const char *pool,
                                  apr_int64_t keep, int *n, const char **err);

/* The JSON of a link for its creator and the pool's admins (no URL: the
 * caller adds it when it makes one); now: Unix seconds, for its state. */
json_t *pool_clientlink_json(const pool_clientlink_t *l, apr_int64_t now);
json_t *pool_clientlink_use_json(const pool_clientlink_use_t *u);

#endif
