/* Settings shared by the module (as httpd directives) and poolctl (which
 * reads the Pool* directives out of the same httpd-pool.conf). */
#ifndef POOL_CONF_H
#define POOL_CONF_H

#include <apr_pools.h>

#define POOL_DEFAULT_MAX_FILE_SIZE   ((apr_off_t)1 << 30)   /* 1 GiB */
#define POOL_DEFAULT_TOKEN_LIFETIME  900                   /* seconds */
#define POOL_DEFAULT_DB_CONNECTIONS  8                     /* per child */
#define POOL_TOKEN_AUDIENCE          "mod_pool"
#define POOL_DEFAULT_IMPORT_TIMEOUT  600                   /* seconds */
#define POOL_DEFAULT_UPLOAD_EXPIRY   86400                 /* seconds */
#define POOL_DEFAULT_AUTH_CLIENT_MAX 20    /* failed secrets per client id */
#define POOL_DEFAULT_AUTH_ADDR_MAX   100   /* ... per source address */
#define POOL_DEFAULT_AUTH_PERIOD     60    /* ... within seconds */

typedef struct {
    const char *database;       /* PoolDatabase: libpq conninfo */
    const char *storage;        /* PoolStorage: a directory, or the http(s)
                                 * URL of a WebDAV collection */
    const char *storage_credentials; /* PoolStorageCredentials: a file whose
                                 * first line is user:password */
    const char *key_file;       /* PoolKeyFile */
    const char *public_url;     /* PoolPublicURL, also the token issuer */
    apr_off_t max_file_size;    /* PoolMaxFileSize */
    apr_off_t max_batch_size;   /* PoolMaxBatchSize, 0: see pool_conf_max_batch */
    int token_lifetime;         /* PoolTokenLifetime, seconds */
    int db_connections;         /* PoolDatabaseConnections */
    const char *outbound_deny;  /* PoolOutboundDeny: CIDR list, NULL = default */
    const char *outbound_allow; /* PoolOutboundAllow: CIDR list exempted */
    int import_timeout;         /* PoolImportTimeout, seconds */
    int upload_expiry;          /* PoolUploadExpiry: tus uploads, seconds */
    const char *cors_origins;   /* PoolCORSOrigins: space-separated, or NULL */
    int auth_client_max;        /* PoolAuthThrottle: failures per client id, */
    int auth_addr_max;          /* per source address, */
    int auth_period;            /* within seconds; 0 0 0 = off */
    const char *api_path;       /* pool_conf_read only: the path of the first
                                 * <Location> with SetHandler pool, without
                                 * trailing '/' ("" for "/"); NULL if none */
} pool_conf_t;

void pool_conf_defaults(pool_conf_t *c);

/* The largest multipart batch body: PoolMaxBatchSize, or by default
 * POOL_BATCH_SIZE_FACTOR times PoolMaxFileSize. */
#define POOL_BATCH_SIZE_FACTOR 4
apr_off_t pool_conf_max_batch(const pool_conf_t *c);

/* The token issuer for a configuration: public_url or "mod_pool". */
const char *pool_conf_issuer(const pool_conf_t *c);

/* The URL path where the API is mounted: api_path, or "/pool" when NULL
 * (the module, which has no pool_conf_read, always gets "/pool"). */
#define POOL_DEFAULT_API_PATH "/pool"
const char *pool_conf_api_path(const pool_conf_t *c);

/* The absolute URL of the API: PoolPublicURL (trailing '/' trimmed) +
 * pool_conf_api_path; NULL when PoolPublicURL is not set. */
const char *pool_conf_api_url(apr_pool_t *p, const pool_conf_t *c);

/* Sizes: decimal bytes with optional K, M, G, T suffix (binary multiples).
 * 0 on success, -1 when malformed, zero or overflowing. */
int pool_parse_size(const char *s, apr_off_t *out);
/* Positive decimal integers within [min, max]; 0 on success, -1 otherwise. */
int pool_parse_int(const char *s, long min, long max, long *out);

/* A value made safe to quote in a message: at most 80 bytes (then "..."),
 * control bytes as '?'; "" for NULL. */
const char *pool_conf_show(apr_pool_t *p, const char *v);

/* Directive value checks used by both httpd and poolctl; NULL if fine,
 * else a message. */
const char *pool_conf_set(apr_pool_t *p, pool_conf_t *c, const char *directive,
                          const char *value);

/* Reads every Pool* directive of an httpd config file (quoted values allowed,
 * other lines ignored, Include/IncludeOptional followed), and sets api_path
 * from the <Location> sections (see above).  Missing PoolDatabase is an
 * error.  *err names the file, line and directive. */
apr_status_t pool_conf_read(apr_pool_t *p, const char *path, pool_conf_t *c,
                            const char **err);

#endif
