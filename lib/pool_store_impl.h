/* For store implementations only (pool_store_*.c): the part of a spool that
 * every store shares.  Callers use pool_store.h. */
#ifndef POOL_STORE_IMPL_H
#define POOL_STORE_IMPL_H

#include <openssl/evp.h>

#include "pool_store.h"
#include "pool_util.h"

/* The first member of every store's struct pool_spool_t. */
typedef struct {
    pool_store_t *store;
    apr_pool_t *p;
    apr_off_t size;
    apr_off_t limit;            /* < 0: none */
    EVP_MD_CTX *md;
    int digested;
    unsigned char digest[32];
    /* called once before the digest is taken (the last write was made):
     * the directory store flushes and frees its write buffer there */
    void (*writes_done)(pool_spool_t *sp);
} pool_spool_head_t;

/* Sets up size, limit and the running SHA-256 (APR_ENOMEM). */
apr_status_t pool_spool_head_init(pool_spool_head_t *h, pool_store_t *s,
                                  apr_pool_t *p, apr_off_t limit);
/* Counts and hashes n bytes about to be written; POOL_STORE_TOOBIG past
 * the limit (nothing counted), APR_EINVAL after the digest was taken. */
apr_status_t pool_spool_head_add(pool_spool_head_t *h, const void *buf,
                                 apr_size_t n);
void pool_spool_head_free(pool_spool_head_t *h);

/* Sinks (pool_store_sink_fn) for reading an upload's data: into a running
 * SHA-256 (baton: an EVP_MD_CTX), and into a spool (baton: the spool). */
apr_status_t pool_store_digest_sink(void *md, const char *buf, apr_size_t n);
apr_status_t pool_store_spool_sink(void *sp, const char *buf, apr_size_t n);

/* Ids name objects: only canonical lower-case uuids are accepted. */
#define pool_store_id_ok pool_uuid_valid

pool_store_t *pool_store_dav(apr_pool_t *p, const char *url,
                             const char *credentials_file, const char **err);

/* For the fuzz harness of the WebDAV store's multistatus parser
 * (t/fuzz/fuzz_dav_xml.c), whose functions are static: parses body as the
 * body of a 207 answer to a PROPFIND of the decoded path self, fed to the
 * same libxml2 push parser in chunks of at most chunk bytes (0: at once),
 * and calls fn for every response entry (name: its last path segment, ""
 * for self; size -1 and mtime 0 when unknown).  APR_SUCCESS when the body
 * is well-formed and fn never failed. */
typedef apr_status_t pool_dav_ms_entry_fn(void *baton, const char *name,
                                          int self, int collection,
                                          apr_off_t size, apr_time_t mtime);
apr_status_t pool_store_dav_parse_multistatus(apr_pool_t *p, const char *self,
                                              const char *body,
                                              apr_size_t len,
                                              apr_size_t chunk,
                                              pool_dav_ms_entry_fn *fn,
                                              void *baton);

#endif
