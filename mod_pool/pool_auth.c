/* Authentication: the token endpoint (OAuth2 client credentials), Bearer and
 * Basic on the API, and the httpd auth providers for plain config:
 *   AuthBasicProvider pool
 *   Require pool-member        (first path segment below the <Location> is
 *                               the client's pool)
 *   Require pool-role ROLE...  */
#include <jansson.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_md5.h>
#include <apr_optional.h>
#include <ap_provider.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <mod_auth.h>
#include <openssl/evp.h>

#include "mod_pool.h"
#include "pool_clients.h"
#include "pool_jwt.h"
#include "pool_kdf.h"
#include "pool_util.h"
#include "pool_name.h"

#define TOKEN_BODY_MAX  8192
#define CLIENT_ID_MAX   64
#define SECRET_MAX      256
#define NOTE_CLIENT     "pool-client"

static APR_OPTIONAL_FN_TYPE(ap_authn_cache_store) *authn_cache_store;

/* --------------------------------------------------------------- lookups */

typedef struct {
    const char *client_id;
    pool_client_t *client;
} client_get_baton;

static pool_db_rc op_client_get(apr_pool_t *p, PGconn *c, void *b,
                                const char **err)
{
    client_get_baton *cb = b;
    return pool_db_client_get(p, c, cb->client_id, &cb->client, err);
}

void pool_auth_note_principal(request_rec *r, const pool_principal *who)
{
    request_rec *mr = r->main ? r->main : r;
    pool_client_t *client = apr_pcalloc(mr->pool, sizeof(*client));

    client->client_id = apr_pstrdup(mr->pool, who->client_id);
    client->pool = apr_pstrdup(mr->pool, who->pool);
    client->role = apr_pstrdup(mr->pool, who->role);
    apr_pool_userdata_setn(client, NOTE_CLIENT, NULL, mr->pool);
}

pool_db_rc pool_auth_client(request_rec *r, pool_client_t **client)
{
    client_get_baton cb;
    const char *err;
    pool_db_rc rc;
    request_rec *mr = r->main ? r->main : r;
    void *ud = NULL;

    apr_pool_userdata_get(&ud, NOTE_CLIENT, mr->pool);
    if (ud) {
        *client = ud;
        return POOL_DB_OK;
    }
    if (!r->user || strlen(r->user) > CLIENT_ID_MAX) {
        return POOL_DB_NOTFOUND;
    }
    cb.client_id = r->user;
    cb.client = NULL;
    rc = pool_db_run(r, op_client_get, &cb, &err);
    if (rc == POOL_DB_OK) {
        apr_pool_userdata_setn(cb.client, NOTE_CLIENT, NULL, mr->pool);
        *client = cb.client;
    }
    else if (rc != POOL_DB_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "pool: client lookup failed: %s", err ? err : "?");
    }
    return rc;
}

/* A hash of nothing, verified when the client does not exist, so that the
 * time taken does not tell whether a client_id exists (as long as it has
 * a secret made since 012; older PBKDF2 hashes take longer). */
static const char *dummy_hash;

/* What names a verified secret: the client, its stored hash (so a new
 * secret is a new name) and the secret presented. */
static void cred_digest(const char *client_id, const char *secret_hash,
                        const char *secret, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;

    memset(out, 0, 32);
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL)
        && EVP_DigestUpdate(c, client_id, strlen(client_id) + 1)
        && EVP_DigestUpdate(c, secret_hash, strlen(secret_hash) + 1)
        && EVP_DigestUpdate(c, secret, strlen(secret))) {
        EVP_DigestFinal_ex(c, out, &n);
    }
    EVP_MD_CTX_free(c);
}

/* Checking a secret costs CPU (~30 ms for the PBKDF2 hashes of older
 * clients), so a secret is checked only while neither its client id nor
 * the caller's address has failed too often (unknown ids count as known
 * ones do, and cost the same), and a secret verified in the last minutes is
 * recognised without hashing: its client keeps working while someone
 * else's guesses are refused.  After a rotation the previous secret is
 * accepted too, until its grace period ends. */
int pool_check_secret(request_rec *r, const char *client_id,
                      const char *secret, pool_client_t **client,
                      int *retry_after)
{
    client_get_baton cb;
    unsigned char cred[32], prev[32];
    const char *err;
    pool_db_rc rc;
    int wait;

    *retry_after = 0;
    if (!client_id || !secret || !*client_id
        || strlen(client_id) > CLIENT_ID_MAX || strlen(secret) > SECRET_MAX) {
        return HTTP_UNAUTHORIZED;
    }
    cb.client_id = client_id;
    cb.client = NULL;
    rc = pool_db_run(r, op_client_get, &cb, &err);
    if (rc != POOL_DB_OK && rc != POOL_DB_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "pool: client lookup failed: %s", err ? err : "?");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (rc == POOL_DB_OK) {
        cred_digest(client_id, cb.client->secret_hash, secret, cred);
        if (pool_auth_known(r, cred)) {
            goto verified;
        }
        if (cb.client->prev_secret_hash) {
            cred_digest(client_id, cb.client->prev_secret_hash, secret, prev);
            if (pool_auth_known(r, prev)) {
                goto verified;
            }
        }
    }
    if ((wait = pool_auth_wait(r, client_id)) > 0) {
        *retry_after = wait;
        return HTTP_TOO_MANY_REQUESTS;
    }
    if (rc == POOL_DB_NOTFOUND) {
        if (dummy_hash) {
            pool_kdf_verify(secret, dummy_hash);
        }
        pool_auth_failed(r, client_id);
        return HTTP_UNAUTHORIZED;
    }
    if (pool_kdf_verify(secret, cb.client->secret_hash)) {
        pool_auth_remember(r, cred);
    }
    else if (cb.client->prev_secret_hash
             && pool_kdf_verify(secret, cb.client->prev_secret_hash)) {
        pool_auth_remember(r, prev);
    }
    else {
        pool_auth_failed(r, client_id);
        return HTTP_UNAUTHORIZED;
    }
verified:
    if (cb.client->disabled) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "pool: disabled client %s refused", client_id);
        return HTTP_UNAUTHORIZED;
    }
    *client = cb.client;
    return OK;
}

/* --------------------------------------------------------------- the API */

static int unauthorized(request_rec *r, const char *error, const char *detail)
{
    const char *challenge = "Bearer realm=\"pool\"";

    if (error) {
        challenge = apr_psprintf(r->pool,
                                 "Bearer realm=\"pool\", error=\"%s\", "
                                 "error_description=\"%s\"", error, detail);
    }
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", challenge);
    return pool_problem(r, HTTP_UNAUTHORIZED, detail, NULL);
}

int pool_bearer_principal(request_rec *r, const char *tok,
                          pool_principal **who, const char **why)
{
    pool_srv_conf *sc = pool_srv(r->server);
    pool_claims_t cl;
    pool_jwt_status_t st;
    pool_principal *pr;

    while (*tok == ' ') {
        tok++;
    }
    if (!sc->keys) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "pool: no PoolKeyFile configured for this server");
        *why = "token keys not configured";
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    st = pool_jwt_verify(r->pool, sc->keys, tok, pool_conf_issuer(&sc->conf),
                         POOL_TOKEN_AUDIENCE, apr_time_sec(apr_time_now()),
                         &cl);
    if (st != POOL_JWT_OK) {
        *why = pool_jwt_strerror(st);
        return HTTP_UNAUTHORIZED;
    }
    if (pool_role_check(cl.role) || pool_ident_check(cl.pool)) {
        *why = "token has an unknown role or pool";
        return HTTP_UNAUTHORIZED;
    }
    pr = apr_pcalloc(r->pool, sizeof(*pr));
    pr->client_id = cl.sub;
    pr->pool = cl.pool;
    pr->role = cl.role;
    *who = pr;
    return OK;
}

int pool_authenticate(request_rec *r, pool_principal **who)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    pool_principal *pr;

    if (!auth) {
        return unauthorized(r, NULL, "authentication required: send a Bearer "
                            "token from /v1/token");
    }
    if (!strncasecmp(auth, "Bearer ", 7)) {
        const char *why;
        int rv = pool_bearer_principal(r, auth + 7, &pr, &why);

        if (rv == HTTP_UNAUTHORIZED) {
            return unauthorized(r, "invalid_token", why);
        }
        if (rv != OK) {
            return pool_problem(r, rv, why, NULL);
        }
    }
    else if (!strncasecmp(auth, "Basic ", 6)) {
        const char *user = NULL, *pw = NULL;
        pool_client_t *client = NULL;
        int rv, wait;

        if (ap_get_basic_auth_components(r, &user, &pw) != APR_SUCCESS) {
            apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                           "Basic realm=\"pool\"");
            return pool_problem(r, HTTP_UNAUTHORIZED,
                                "malformed Basic credentials", NULL);
        }
        rv = pool_check_secret(r, user, pw, &client, &wait);
        if (rv == HTTP_SERVICE_UNAVAILABLE) {
            return pool_db_problem(r, POOL_DB_UNAVAILABLE, "client lookup",
                                   "client");
        }
        if (rv == HTTP_TOO_MANY_REQUESTS) {
            apr_table_setn(r->err_headers_out, "Retry-After",
                           apr_itoa(r->pool, wait));
            return pool_problem(r, HTTP_TOO_MANY_REQUESTS, "too many failed "
                                "authentications; retry later", NULL);
        }
        if (rv != OK) {
            apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                           "Basic realm=\"pool\"");
            return pool_problem(r, HTTP_UNAUTHORIZED,
                                "unknown client or wrong secret", NULL);
        }
        pr = apr_pcalloc(r->pool, sizeof(*pr));
        pr->client_id = client->client_id;
        pr->pool = client->pool;
        pr->role = client->role;
    }
    else {
        return unauthorized(r, "invalid_request",
                            "unsupported authorization scheme");
    }
    r->user = apr_pstrdup(r->pool, pr->client_id);
    r->ap_auth_type = (char *)"Bearer";
    *who = pr;
    return OK;
}

/* ------------------------------------------------------ the token endpoint */

/* RFC 6749 §5.2: application/json with error and error_description (and
 * our request_id), not a problem document: OAuth clients parse this shape.
 * 500 and 503 use the codes of §4.1.2.1, as most servers do. */
static int oauth_error(request_rec *r, int status, const char *error,
                       const char *detail)
{
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Basic realm=\"pool\"");
    }
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", "5");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Pragma", "no-cache");
    return pool_send_json(r, status,
                          json_pack("{s:s,s:s,s:s?}", "error", error,
                                    "error_description", detail,
                                    "request_id", r->log_id));
}

int pool_handle_token(request_rec *r)
{
    pool_srv_conf *sc = pool_srv(r->server);
    apr_table_t *form = apr_table_make(r->pool, 8);
    const char *ctype, *grant, *cid = NULL, *secret = NULL;
    const char *hdr_user = NULL, *hdr_pw = NULL;
    pool_client_t *client = NULL;
    char *body, *pair, *state = NULL, *tok;
    apr_size_t len;
    int rv, wait;

    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return oauth_error(r, HTTP_METHOD_NOT_ALLOWED, "invalid_request",
                           "the token endpoint takes POST only");
    }
    ctype = apr_table_get(r->headers_in, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33)) {
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           "the body must be application/x-www-form-urlencoded");
    }
    rv = pool_read_small_body(r, TOKEN_BODY_MAX, &body, &len);
    if (rv == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return oauth_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "invalid_request",
                           "request body too large");
    }
    if (rv != OK) {
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           "cannot read the request body");
    }
    if (memchr(body, '\0', len)) {
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           "NUL byte in the request body");
    }
    for (pair = apr_strtok(body, "&", &state); pair;
         pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');
        char *k = pair, *v = eq ? eq + 1 : (char *)"";

        if (eq) {
            *eq = '\0';
        }
        if (ap_unescape_urlencoded(k) != OK || ap_unescape_urlencoded(v) != OK) {
            return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                               "malformed form encoding");
        }
        if (apr_table_get(form, k)) {
            return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                               apr_psprintf(r->pool, "parameter '%s' repeated",
                                            k));
        }
        apr_table_setn(form, k, v);
    }
    grant = apr_table_get(form, "grant_type");
    if (!grant || !*grant) {
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           "grant_type is required");
    }
    if (strcmp(grant, "client_credentials")) {
        return oauth_error(r, HTTP_BAD_REQUEST, "unsupported_grant_type",
                           "only grant_type=client_credentials is supported");
    }
    if (apr_table_get(r->headers_in, "Authorization")) {
        if (ap_get_basic_auth_components(r, &hdr_user, &hdr_pw) != APR_SUCCESS) {
            return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client",
                               "client authentication must use HTTP Basic");
        }
        if (apr_table_get(form, "client_secret")) {
            return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                               "send credentials either in HTTP Basic or in "
                               "the body, not both");
        }
        cid = hdr_user;
        secret = hdr_pw;
    }
    else {
        cid = apr_table_get(form, "client_id");
        secret = apr_table_get(form, "client_secret");
    }
    if (!cid || !secret) {
        return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client",
                           "client credentials are required");
    }
    rv = pool_check_secret(r, cid, secret, &client, &wait);
    if (rv == HTTP_SERVICE_UNAVAILABLE) {
        return oauth_error(r, HTTP_SERVICE_UNAVAILABLE,
                           "temporarily_unavailable",
                           "the database is unavailable; retry later");
    }
    if (rv == HTTP_TOO_MANY_REQUESTS) {
        apr_table_setn(r->headers_out, "Retry-After", apr_itoa(r->pool, wait));
        return oauth_error(r, HTTP_TOO_MANY_REQUESTS,
                           "temporarily_unavailable", "too many failed "
                           "authentications; retry later");
    }
    if (rv != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "pool: token refused for client '%s'", cid);
        return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client",
                           "unknown client, wrong secret or disabled client");
    }
    if (!sc->keys || !pool_keyring_signing(sc->keys)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "pool: no PoolKeyFile configured for this server");
        return oauth_error(r, HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           "token keys not configured");
    }
    tok = pool_token_issue(r->pool, sc->keys, pool_conf_issuer(&sc->conf),
                           sc->conf.token_lifetime, client->client_id,
                           client->pool, client->role,
                           apr_time_sec(apr_time_now()));
    if (!tok) {
        return oauth_error(r, HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           "cannot sign the token");
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Pragma", "no-cache");
    return pool_send_json(r, HTTP_OK,
                          json_pack("{s:s,s:s,s:i}", "access_token", tok,
                                    "token_type", "Bearer", "expires_in",
                                    sc->conf.token_lifetime));
}

/* ------------------------------------------------------- httpd providers */

static authn_status authn_check_password(request_rec *r, const char *user,
                                         const char *password)
{
    pool_client_t *client = NULL;
    int wait;
    int rv = pool_check_secret(r, user, password, &client, &wait);

    if (rv == HTTP_SERVICE_UNAVAILABLE) {
        return AUTH_GENERAL_ERROR;
    }
    if (rv == HTTP_TOO_MANY_REQUESTS) {
        /* an authn provider can only deny: a 401 that says when to retry */
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, wait));
        return AUTH_DENIED;
    }
    if (rv != OK) {
        return AUTH_DENIED;
    }
    apr_pool_userdata_setn(client, NOTE_CLIENT, NULL,
                           (r->main ? r->main : r)->pool);
    if (authn_cache_store) {
        /* mod_authn_socache keeps a hash of the secret, so cached requests
         * skip the database and the expensive KDF; it checks that hash
         * (apr_password_validate) on every request.  A slow hash is there
         * to protect guessable passwords: our secrets are 256 random bits,
         * which no hash's cost makes easier or harder to guess, and SHA-1's
         * preimage resistance (not its broken collisions) is what counts
         * here.  So {SHA}: bcrypt even at cost 4 took about as much CPU as
         * the rest of a small WebDAV PUT. */
        char hash[APR_SHA1PW_IDLEN + 29];
        apr_sha1_base64(password, (int)strlen(password), hash);
        authn_cache_store(r, "pool", user, NULL, hash);
    }
    return AUTH_GRANTED;
}

static const authn_provider authn_pool_provider = {
    &authn_check_password,
    NULL
};

/* The pool named by the first path segment below the <Location> prefix. */
static int path_pool_matches(request_rec *r, const char *pool)
{
    const char *prefix = pool_dir_prefix(r);
    apr_size_t n = strlen(prefix), plen = strlen(pool);
    const char *seg;

    if (strncmp(r->uri, prefix, n) || r->uri[n] != '/') {
        return 0;
    }
    seg = r->uri + n + 1;
    return !strncmp(seg, pool, plen) && (seg[plen] == '/' || seg[plen] == '\0');
}

static authz_status member_check(request_rec *r, const char *req_line,
                                 const void *parsed)
{
    pool_client_t *client = NULL;
    pool_db_rc rc;

    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    rc = pool_auth_client(r, &client);
    if (rc == POOL_DB_NOTFOUND) {
        return AUTHZ_DENIED;
    }
    if (rc != POOL_DB_OK) {
        return AUTHZ_GENERAL_ERROR;
    }
    if (client->disabled || !path_pool_matches(r, client->pool)) {
        return AUTHZ_DENIED;
    }
    return AUTHZ_GRANTED;
}

static authz_status role_check(request_rec *r, const char *req_line,
                               const void *parsed)
{
    pool_client_t *client = NULL;
    const char *t = req_line;
    char *w;
    pool_db_rc rc;

    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    rc = pool_auth_client(r, &client);
    if (rc == POOL_DB_NOTFOUND) {
        return AUTHZ_DENIED;
    }
    if (rc != POOL_DB_OK) {
        return AUTHZ_GENERAL_ERROR;
    }
    if (client->disabled) {
        return AUTHZ_DENIED;
    }
    while ((w = ap_getword_conf(r->pool, &t)) && *w) {
        if (!strcmp(w, client->role)) {
            return AUTHZ_GRANTED;
        }
    }
    return AUTHZ_DENIED;
}

static const char *role_parse(cmd_parms *cmd, const char *req_line,
                              const void **parsed)
{
    const char *t = req_line;
    char *w;
    int n = 0;

    while ((w = ap_getword_conf(cmd->temp_pool, &t)) && *w) {
        const char *why = pool_role_check(w);
        if (why) {
            return apr_psprintf(cmd->pool, "Require pool-role: '%s': %s", w,
                                why);
        }
        n++;
    }
    if (!n) {
        return "Require pool-role needs at least one role";
    }
    return NULL;
}

static const authz_provider authz_member_provider = { &member_check, NULL };
static const authz_provider authz_role_provider = { &role_check, &role_parse };

static void retrieve_optional_fns(void)
{
    authn_cache_store = APR_RETRIEVE_OPTIONAL_FN(ap_authn_cache_store);
}

void pool_register_auth_providers(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "pool",
                              AUTHN_PROVIDER_VERSION, &authn_pool_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "pool-member",
                              AUTHZ_PROVIDER_VERSION, &authz_member_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "pool-role",
                              AUTHZ_PROVIDER_VERSION, &authz_role_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_optional_fn_retrieve(retrieve_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
}

/* Called from post_config (single-threaded). */
void pool_auth_init(apr_pool_t *pconf)
{
    /* pconf is new after every restart: always recompute */
    dummy_hash = pool_secret_hash(pconf, "not a secret");
}
