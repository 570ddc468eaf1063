/* mod_pool: thin httpd glue over the core library (lib/). */
#ifndef MOD_POOL_H
#define MOD_POOL_H

#include <jansson.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_reslist.h>

#include "pool_conf.h"
#include "pool_keys.h"
#include "pool_store.h"
#include "pool_db.h"
#include "pool_ingest.h"
#include "pool_filecache.h"
#include "pool_usage.h"

extern module AP_MODULE_DECLARE_DATA pool_module;

#if defined(APLOG_USE_MODULE) && !defined(POOL_MAIN_FILE)
APLOG_USE_MODULE(pool);
#endif

/* Bits of pool_srv_conf.set: which directives were given in this server. */
enum {
    POOL_SET_DATABASE = 1 << 0,
    POOL_SET_STORAGE = 1 << 1,
    POOL_SET_KEYFILE = 1 << 2,
    POOL_SET_PUBLIC_URL = 1 << 3,
    POOL_SET_MAX_FILE_SIZE = 1 << 4,
    POOL_SET_TOKEN_LIFETIME = 1 << 5,
    POOL_SET_DB_CONNECTIONS = 1 << 6,
    POOL_SET_OUTBOUND_DENY = 1 << 7,
    POOL_SET_OUTBOUND_ALLOW = 1 << 8,
    POOL_SET_MAX_BATCH_SIZE = 1 << 20,     /* high: clear of the others */
    POOL_SET_UPLOAD_EXPIRY = 1 << 24,      /* tus: high, clear as well */
    POOL_SET_CORS_ORIGINS = 1 << 25,
    POOL_SET_STORAGE_CREDENTIALS = 1 << 26,
    POOL_SET_IMPORT_TIMEOUT = 1 << 9,
    POOL_SET_AUTH_THROTTLE = 1 << 27
};

typedef struct pool_dbpool pool_dbpool;
typedef struct pool_msgwait pool_msgwait;
typedef struct pool_dlcount pool_dlcount;

typedef struct {
    pool_conf_t conf;
    unsigned int set;
    pool_keyring_t *keys;       /* loaded when PoolKeyFile is read */
    pool_store_t *store;        /* created in post_config */
    pool_dbpool *db;            /* per child, created in child_init */
    pool_filecache_t *files;    /* file rows for downloads, per child */
    pool_msgwait *msgwait;      /* inbox long-polls, per child */
    pool_dlcount *dlcount;      /* download counts held, per child */
    const char *dashboard_dir;  /* PoolDashboardDir, NULL: the installed one */
    int dashboard;              /* PoolDashboard: 0 unset (On), 1 On, -1 Off */
} pool_srv_conf;

/* The file-row cache of each child (lib/pool_filecache.h): rows never
 * change, so a download skips the database for up to a minute. */
#define POOL_FILECACHE_SLOTS 4096
#define POOL_FILECACHE_TTL 60

/* Who is calling: from a Bearer token or HTTP Basic. */
typedef struct {
    const char *client_id;
    const char *pool;
    const char *role;
} pool_principal;

/* pool_config.c */
extern const command_rec pool_cmds[];
void *pool_create_srv_conf(apr_pool_t *p, server_rec *s);
void *pool_merge_srv_conf(apr_pool_t *p, void *base, void *add);
pool_srv_conf *pool_srv(const server_rec *s);
/* The path of the <Location> section r is configured by ("" when none). */
const char *pool_dir_prefix(request_rec *r);

/* pool_dbpool.c: a small per-child libpq pool on apr_reslist.  A request
 * holds a connection only while it talks to the database. */
apr_status_t pool_dbpool_create(apr_pool_t *p, server_rec *s, pool_srv_conf *sc);
/* Runs op on a pooled connection; a broken connection is thrown away and
 * the op retried once on a fresh one.  No connection -> POOL_DB_UNAVAILABLE. */
pool_db_rc pool_db_run(request_rec *r, pool_db_op *op, void *baton,
                       const char **err);
/* The same outside a request (p: the op's pool); db may be NULL. */
pool_db_rc pool_dbpool_run(pool_dbpool *db, apr_pool_t *p, pool_db_op *op,
                           void *baton, const char **err);

/* pool_db_run for pool_db_runner (ctx: the request_rec). */
pool_db_rc pool_db_run_ctx(void *r, pool_db_op *op, void *baton,
                           const char **err);
/* An ingest (lib/pool_ingest.h) of this request: store, runner, no items. */
void pool_ingest_init(pool_ingest_t *in, request_rec *r);

/* pool_http.c */
int pool_problem(request_rec *r, int status, const char *detail,
                 const char *field);
/* Answers a problem from the core (logs pr->log, sets Retry-After); extra
 * (a json_t *, taken) adds members. */
int pool_problem_send(request_rec *r, const pool_problem_t *pr);
int pool_problem_send_json(request_rec *r, const pool_problem_t *pr,
                           void *extra);
int pool_problem_json(request_rec *r, int status, const char *detail,
                      const char *field, void *extra /* json_t *, stolen */);
int pool_db_problem(request_rec *r, pool_db_rc rc, const char *err,
                    const char *what);
int pool_send_json(request_rec *r, int status, void *json /* json_t *, stolen */);
/* Percent-decodes one path segment; NULL on a bad escape.  *len gets the
 * decoded length (a decoded NUL is kept, so callers can refuse it). */
/* httpd hands modules the path percent-decoded (but for %2F under
 * AllowEncodedSlashes NoDecode), so a name's own '%' cannot be told from an
 * escape there.  This is the part of the request's raw path that became
 * tail (the same number of trailing segments), still percent-encoded;
 * NULL when it is not (httpd merged "//" or resolved dot segments). */
const char *pool_raw_tail(request_rec *r, const char *tail);
char *pool_pct_decode(apr_pool_t *p, const char *s, apr_size_t n,
                      apr_size_t *len);
/* The query string as a table (*args; empty when there is none): each
 * parameter at most once, keys and values percent-decoded, '+' read as a
 * space as HTML forms send it.  A repeated parameter (400), a bad escape or
 * a NUL in a key or value (422) is answered with a problem naming the
 * parameter: then the result is not OK and the caller returns OK. */
int pool_query(request_rec *r, apr_table_t **args);
/* ETag (quoted), with "Cache-Control: private, no-cache, no-transform", and
 * no content filter (mod_deflate) may change the body. */
void pool_set_etag(request_rec *r, const char *etag);
/* Reads a small request body (form posts) up to limit bytes. */
int pool_read_small_body(request_rec *r, apr_size_t limit, char **buf,
                         apr_size_t *len);
/* 405 with Allow: allow and a problem saying detail. */
int pool_method_not_allowed(request_rec *r, const char *allow,
                            const char *detail);
/* Reads a JSON object body (application/json, at most limit bytes): OK
 * with *out (freed with r->pool), or *out NULL and the problem sent
 * (415, 413, 400 naming the line and column), whose result to return. */
int pool_read_json(request_rec *r, apr_size_t limit, json_t **out);
/* DECLINED when every member of j is in allowed (NULL-terminated); else
 * 422 naming the first other one is sent, and its result returned. */
int pool_json_fields_check(request_rec *r, json_t *j,
                           const char *const *allowed);
int pool_request_id_hook(request_rec *r);
/* insert_error_filter: httpd's own error pages on the API's paths become
 * problem documents (pool_http.c) */
void pool_error_filter_insert(request_rec *r);
void pool_error_filter_register(void);
/* r->notes: the size of the object a download sends, for a 416 that
 * httpd's byterange filter raises */
#define POOL_NOTE_SIZE "pool-object-size"

/* pool_auth.c */
int pool_authenticate(request_rec *r, pool_principal **who);
/* The principal of a Bearer token (the text after "Bearer "), without
 * answering: OK, HTTP_UNAUTHORIZED or 500, with *why. */
int pool_bearer_principal(request_rec *r, const char *token,
                          pool_principal **who, const char **why);
/* The client record of r->user, looked up once per request (main request
 * and subrequests share it): OK, NOTFOUND, UNAVAILABLE, ERROR. */
pool_db_rc pool_auth_client(request_rec *r, pool_client_t **client);
/* A verified token's principal as the request's client record: its pool
 * and role are the token's (as on the API), no lookup. */
void pool_auth_note_principal(request_rec *r, const pool_principal *who);
int pool_handle_token(request_rec *r);
void pool_register_auth_providers(apr_pool_t *p);
void pool_auth_init(apr_pool_t *pconf);
/* client_id:secret check shared by Basic on the API, the token endpoint
 * and the authn provider: OK, HTTP_UNAUTHORIZED, HTTP_SERVICE_UNAVAILABLE,
 * or HTTP_TOO_MANY_REQUESTS with *retry_after seconds (too many failures
 * for this client id or address: the secret was not checked). */
int pool_check_secret(request_rec *r, const char *client_id,
                      const char *secret, pool_client_t **client,
                      int *retry_after);

/* pool_auth_throttle.c: failed secrets counted per client id and source
 * address in a table shared by every child (PoolAuthThrottle). */
int pool_auth_throttle_pre_config(apr_pool_t *pconf);
int pool_auth_throttle_post_config(apr_pool_t *pconf, server_rec *s);
void pool_auth_throttle_child_init(apr_pool_t *pchild, server_rec *s);
/* Seconds r must wait before its secret for client_id is checked, or 0. */
int pool_auth_wait(request_rec *r, const char *client_id);
void pool_auth_failed(request_rec *r, const char *client_id);
/* Credentials verified in the last minutes (cred: see pool_check_secret). */
int pool_auth_known(request_rec *r, const unsigned char cred[32]);
void pool_auth_remember(request_rec *r, const unsigned char cred[32]);

/* pool_tus.c: tus 1.0.0 resumable uploads at .../pools/{pool}/uploads[/{id}].
 * rest is NULL for the collection, else the raw text after "uploads/". */
int pool_handle_tus(request_rec *r, pool_principal *who, const char *pool,
                    const char *rest);
/* Before authentication, for every API request (rest: the path after
 * ".../v1"): CORS headers for allowed origins (PoolCORSOrigins) and
 * Tus-Resumable on upload paths, in err_headers_out; answers CORS
 * preflights and tus OPTIONS itself.  DECLINED to go on. */
int pool_api_early(request_rec *r, const char *rest);

/* pool_batch.c: POST .../pools/{pool}/files as multipart/form-data. */
int pool_handle_batch(request_rec *r, pool_principal *who, const char *pool);

/* pool_clients.c: .../pools/{pool}/clients/me/callback[/test]. */
/* .../clients/me/callback[/test] (pool_callback.c) */
int pool_handle_callback(request_rec *r, pool_principal *who,
                         const char *pool, const char *rest);
/* POST .../pools/{pool}/clients with an enrollment key (or none): handled
 * before authentication; DECLINED for any other request.  path: after
 * "/v1/pools". */
int pool_enroll_request(request_rec *r, const char *path);
/* .../enrollment-keys[/{key_id}] (admins) */
int pool_handle_enroll_keys(request_rec *r, pool_principal *who,
                            const char *pool, const char *rest);
/* Usage (pool_usage.c): GET .../usage; the download quota (DECLINED, or
 * the 429 sent and its result) and counting (noted by pool_send_object,
 * counted by the log_transaction hook). */
int pool_handle_usage(request_rec *r, pool_principal *who, const char *pool);
void pool_usage_child_init(apr_pool_t *pchild);
int pool_usage_download_check(request_rec *r, const char *pool);
void pool_usage_note_download(request_rec *r, const char *pool);
int pool_usage_log(request_rec *r);

/* pool_dlcount.c: download counts held by each child and written in
 * batches by a thread of its own.  NULL when it cannot start. */
pool_dlcount *pool_dlcount_create(apr_pool_t *pchild, server_rec *s,
                                  pool_dbpool *db);
/* Holds a count; 0 when it was not taken (no table, stopping, full): the
 * caller counts it itself. */
int pool_dlcount_add(pool_dlcount *dc, const pool_usage_download_t *d);
int pool_handle_clients(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest);

/* pool_imports.c: POST .../pools/{pool}/imports and GET /v1/processes/{id}. */
int pool_handle_imports(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest);
int pool_handle_process(request_rec *r, pool_principal *who, const char *id);

/* pool_groups.c: .../pools/{pool}/groups[/...] and .../results[/...]. */
int pool_handle_groups(request_rec *r, pool_principal *who, const char *pool,
                       const char *rest);
int pool_handle_results(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest);

/* pool_folders.c: GET .../pools/{pool}/folders[/{path}]; rest is NULL
 * for the root, else the raw text after "folders/". */
int pool_handle_folders(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest);

/* pool_messages.c: .../pools/{pool}/messages[/{id}[/read]]; rest is NULL
 * for the collection, else the raw text after "messages/". */
int pool_handle_messages(request_rec *r, pool_principal *who, const char *pool,
                         const char *rest);

/* pool_msgwait.c: the long-poll waiter of a child.  One thread with its
 * own connection LISTENs for new messages (lib/pool_messages.h) and wakes
 * the requests waiting on the pool named in a notification; at most half
 * the child's threads may wait at once. */
apr_status_t pool_msgwait_create(apr_pool_t *pchild, server_rec *s,
                                 pool_srv_conf *sc);
typedef struct {
    pool_msgwait *w;
    unsigned int slot;          /* of the pool's name */
    apr_uint32_t gen, epoch;    /* what was seen */
    apr_time_t recheck;         /* while the listener is down */
} pool_msgwait_ticket;
/* Takes a ticket for the pool's notifications from now on; 0 when as many
 * requests as allowed wait already (then do not wait). */
int pool_msgwait_enter(pool_msgwait *w, const char *pool,
                       pool_msgwait_ticket *t);
/* Sleeps until the pool may have a new message (1: look again) or the
 * deadline (0); without a listener it wakes every few seconds (1). */
int pool_msgwait_wait(pool_msgwait_ticket *t, apr_time_t deadline);
void pool_msgwait_leave(pool_msgwait_ticket *t);

/* pool_dashboard.c: GET|HEAD {API path}/dashboard[/{file}], the pool
 * admins' web page (static files); rest: the path after "/dashboard". */
int pool_handle_dashboard(request_rec *r, const char *rest);
/* PoolDashboardDir, or the compiled-in install location. */
const char *pool_dashboard_dir(const pool_srv_conf *sc);

/* pool_endpoints.c (admins): .../endpoints[/{id}[/rotate|preview|recover]]
 * and .../deliveries[/{id}[/retry]]; rest is NULL for the collection, else
 * the text after "endpoints/" or "deliveries/". */
int pool_handle_endpoints(request_rec *r, pool_principal *who,
                          const char *pool, const char *rest);
int pool_handle_deliveries(request_rec *r, pool_principal *who,
                           const char *pool, const char *rest);

/* pool_settings.c: GET/PATCH .../pools/{pool}/settings (admin). */
int pool_handle_settings(request_rec *r, pool_principal *who,
                         const char *pool);

/* pool_links.c: links for clients (docs/api.md "Links for clients").
 * POST .../files/{id}/links; POST .../upload-links (rest NULL); GET
 * .../links, GET|DELETE .../links/{id} (rest: the text after "links/"). */
int pool_handle_file_links(request_rec *r, pool_principal *who,
                           const char *pool, const char *file_id);
int pool_handle_upload_links(request_rec *r, pool_principal *who,
                             const char *pool, const char *rest);
int pool_handle_links(request_rec *r, pool_principal *who, const char *pool,
                      const char *rest);
/* A request through a client link whose signature mod_pool.c verified:
 * GET/HEAD of file_id, PUT of name (decoded, as httpd decodes the path). */
int pool_link_download(request_rec *r, const char *pool, const char *link_id,
                       const char *file_id);
int pool_link_upload(request_rec *r, const char *pool, const char *link_id,
                     const char *name);
/* The path a client link signs: the request's path as httpd has decoded
 * and normalised it (r->parsed_uri.path), escaped the one way httpd
 * escapes paths, so that every way of writing the URL that decodes to the
 * same path verifies. */
const char *pool_link_canon_path(apr_pool_t *p, const char *path);
/* PoolPublicURL, or this request's own scheme and host, without a
 * trailing '/': what absolute links begin with. */
const char *pool_public_base(request_rec *r);

/* pool_files.c */
int pool_handle_files(request_rec *r, pool_principal *who, const char *pool,
                      const char *rest);
/* Streams the request body to sink block by block as it arrives (never
 * whole in memory).  sink returns OK to go on, else an HTTP status that
 * stops reading and is returned.  Returns OK at the end of the body, the
 * sink's status, or the status of a body not received completely (logged
 * at info). */
typedef int pool_body_sink(void *baton, const char *data, apr_size_t len);
int pool_read_body(request_rec *r, pool_body_sink *sink, void *baton);
/* Opens a spool and streams the request body into it (PoolMaxFileSize
 * applies; a Content-Length over it is refused before reading); what
 * ("file", "result") names it in messages.  1 with *sp when the whole body
 * is spooled; else 0 with the request answered and *ret the handler's
 * return value. */
int pool_receive_spool(request_rec *r, const char *what, pool_spool_t **sp,
                       int *ret);
/* Records the spooled bytes sp as a file (the one ingest path): f gives
 * pool, client, name, type, ts and folder (NULL: the client's); its id,
 * size and digest are filled here; want: the SHA-256 the client announced
 * or NULL.  1 with *out (the row), else 0 with *pr (sp is consumed either
 * way).  The file PUT and the WebDAV view's PUT and COPY use it. */
int pool_file_commit(request_rec *r, pool_spool_t *sp,
                     const unsigned char *want, pool_file_t *f,
                     pool_file_t **out, pool_problem_t *pr);
/* Serves the stored object (pool, id) (pool NULL: a result) of pool owner
 * (whose download quota and usage it counts against) as httpd's
 * default handler would (Range, conditional GET, HEAD, sendfile/mmap as
 * configured; from a store without local files, streamed with one range
 * passed to the store) with ETag "sha256", the content type and a
 * Content-Disposition for name; what ("file", "result") names it.  With
 * missing not NULL, an object the store does not have sets *missing and
 * returns DECLINED without answering (the caller's row may be stale). */
int pool_send_object(request_rec *r, const char *owner, const char *pool,
                     const char *id, apr_off_t size, const char *stored_at,
                     const char *ctype, const char *sha256, const char *name,
                     const char *what, int *missing);

#endif
