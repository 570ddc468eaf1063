/* Links for clients: their signatures (lib/pool_link.c, a vector computed
 * here with OpenSSL directly, and the separation from processor links),
 * and their rows (lib/pool_clientlinks.c) against a real PostgreSQL
 * (POOL_TEST_DB): creation, counting up to the limit, HEAD, refunds,
 * revocation, expiry, a disabled creator, upload claims and their lease,
 * uses and their bound, and the sweep's purge. */
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "unit.h"
#include "pool_clientlinks.h"
#include "pool_db.h"
#include "pool_keys.h"
#include "pool_link.h"
#include "pool_util.h"

#define NOW     APR_INT64_C(1700000000)
#define LINK    "0b4e7c43-7ad2-4c5e-9d1c-3f1a2b3c4d5e"
#define LINK2   "1b4e7c43-7ad2-4c5e-9d1c-3f1a2b3c4d5e"
#define FPATH   "/pool/v1/pools/demo/files/2c4e7c43-7ad2-4c5e-9d1c-3f1a2b3c4d5e"
#define SHA     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static apr_pool_t *p;
static pool_keyring_t *ring;
static PGconn *db;
static const char *pool_a, *pool_b;     /* two pools */
static const char *alice, *bob;         /* clients of pool_a */
static const char *carol;               /* a client of pool_b */
static const char *file_a, *file_b;     /* a file of each pool */

/* ------------------------------------------------------- signatures */

static void setup_sign(void)
{
    pool_key_t k;
    apr_size_t j;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    ring = apr_pcalloc(p, sizeof(*ring));
    ring->keys = apr_array_make(p, 1, sizeof(pool_key_t));
    memset(&k, 0, sizeof(k));
    k.kid = "kA";
    k.keylen = 32;
    for (j = 0; j < k.keylen; j++) {
        k.key[j] = (unsigned char)j;
    }
    APR_ARRAY_PUSH(ring->keys, pool_key_t) = k;
}

static void teardown_sign(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

static const char *sign_client(const char *method, const char *path,
                               const char *link, apr_int64_t expires)
{
    const char *err = NULL;
    const char *q = pool_link_sign_client(p, ring, method, path, link,
                                          expires, NOW, &err);

    ck_assert_msg(q != NULL, "sign failed: %s", err ? err : "?");
    return q;
}

static pool_link_rc verify_client(const char *method, const char *path,
                                  const char *query, const char **link)
{
    const char *detail = NULL, *dummy;
    pool_link_rc rc = pool_link_verify_client(p, ring, method, path, query,
                                              NOW, link ? link : &dummy,
                                              &detail);

    ck_assert_msg(rc == POOL_LINK_OK || (detail && *detail),
                  "no detail for rc %d", (int)rc);
    return rc;
}

/* unpadded base64url by OpenSSL and hand */
static const char *b64url(const unsigned char *d, int n)
{
    char *out = apr_palloc(p, (apr_size_t)(4 * ((n + 2) / 3) + 1));
    int len = EVP_EncodeBlock((unsigned char *)out, d, n), i;

    while (len > 0 && out[len - 1] == '=') {
        len--;
    }
    out[len] = '\0';
    for (i = 0; i < len; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return out;
}

START_TEST(client_vector)
{
    static const char label[] = "mod_pool client link v1";
    static const char msg[] = "GET\n" FPATH "\n1700000600\nkA\n" LINK;
    const pool_key_t *k = pool_keyring_find(ring, "kA");
    unsigned char lk[32], mac[32];
    unsigned int lklen = 0, maclen = 0;
    const char *q, *link = NULL;

    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k->key, (int)k->keylen,
                               (const unsigned char *)label,
                               sizeof(label) - 1, lk, &lklen));
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), lk, (int)lklen,
                               (const unsigned char *)msg, sizeof(msg) - 1,
                               mac, &maclen));
    q = sign_client("GET", FPATH, LINK, NOW + 600);
    ck_assert_str_eq(q, apr_pstrcat(p, "link=" LINK "&expires=1700000600"
                                    "&kid=kA&sig=", b64url(mac, 32), NULL));
    ck_assert_int_eq(verify_client("GET", FPATH, q, &link), POOL_LINK_OK);
    ck_assert_str_eq(link, LINK);
}
END_TEST

START_TEST(kinds_apart)
{
    const char *err = NULL, *cq, *pq;

    /* a client link is no processor link, whatever else it carries */
    cq = sign_client("GET", FPATH, LINK, NOW + 600);
    ck_assert_int_eq(pool_link_verify(p, ring, "GET", FPATH, cq, NOW, NULL),
                     POOL_LINK_BAD_SIG);
    /* a processor link with a link id added is no client link */
    pq = pool_link_sign(p, ring, "GET", FPATH, NOW + 600, NOW, &err);
    ck_assert_ptr_nonnull(pq);
    ck_assert_int_eq(verify_client("GET", FPATH, pq, NULL), POOL_LINK_NONE);
    ck_assert_int_eq(verify_client("GET", FPATH,
                                   apr_pstrcat(p, "link=" LINK "&", pq, NULL),
                                   NULL), POOL_LINK_BAD_SIG);
    /* the processor verification of its own links is unchanged */
    ck_assert_int_eq(pool_link_verify(p, ring, "GET", FPATH, pq, NOW, NULL),
                     POOL_LINK_OK);
}
END_TEST

START_TEST(client_tampering)
{
    const char *q = sign_client("PUT", "/pool/v1/pools/demo/files/a.bin",
                                LINK, NOW + 600);
    char *other = apr_pstrdup(p, q), *s = strstr(other, LINK);
    const char *lid = NULL;

    ck_assert_int_eq(verify_client("PUT", "/pool/v1/pools/demo/files/a.bin",
                                   q, NULL), POOL_LINK_OK);
    /* another method, path, pool, link id */
    ck_assert_int_eq(verify_client("GET", "/pool/v1/pools/demo/files/a.bin",
                                   q, NULL), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify_client("PUT", "/pool/v1/pools/demo/files/b.bin",
                                   q, NULL), POOL_LINK_BAD_SIG);
    ck_assert_int_eq(verify_client("PUT", "/pool/v1/pools/other/files/a.bin",
                                   q, NULL), POOL_LINK_BAD_SIG);
    s[0] = '1';
    ck_assert_int_eq(verify_client("PUT", "/pool/v1/pools/demo/files/a.bin",
                                   other, NULL), POOL_LINK_BAD_SIG);
    /* the link parameter's form */
    ck_assert_int_eq(verify_client("PUT", "/x", "link=nope&expires=1&kid=kA"
                                   "&sig=x", NULL), POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify_client("PUT", "/x", apr_pstrcat(p, "link=" LINK
                                   "&", q, NULL), NULL), POOL_LINK_MALFORMED);
    ck_assert_int_eq(verify_client("PUT", "/x", "link=" LINK, NULL),
                     POOL_LINK_NONE);
    /* expiry, as for processor links */
    ck_assert_int_eq(pool_link_verify_client(p, ring, "PUT",
                     "/pool/v1/pools/demo/files/a.bin", q, NOW + 600,
                     &lid, NULL), POOL_LINK_EXPIRED);
}
END_TEST

START_TEST(client_sign_refuses)
{
    const char *err = NULL;

    ck_assert_ptr_null(pool_link_sign_client(p, ring, "GET", FPATH, "nope",
                                             NOW + 60, NOW, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(pool_link_sign_client(p, ring, "GET", FPATH, NULL,
                                             NOW + 60, NOW, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(pool_link_sign_client(p, ring, "GET", FPATH, LINK,
                                             NOW + POOL_LINK_MAX_LIFETIME + 1,
                                             NOW, &err));
}
END_TEST

/* ------------------------------------------------------------ the rows */

/* Runs sql ($1..$3: a, b, c, as many as are not NULL) and returns the
 * first column of its first row (NULL when it has none). */
static const char *sql(const char *stmt, const char *a, const char *b,
                       const char *c)
{
    const char *params[3] = { a, b, c }, *err = NULL, *v = NULL;
    int n = c ? 3 : b ? 2 : a ? 1 : 0;
    PGresult *r;

    ck_assert_msg(pool_db_exec(p, db, "test", stmt, n, params, -1, &r, &err)
                  == POOL_DB_OK, "%s: %s", stmt, err ? err : "?");
    if (PQntuples(r) > 0 && PQnfields(r) > 0) {
        v = pool_db_col_str(p, r, 0, 0);
    }
    PQclear(r);
    return v;
}

/* A client (its public id) of pool, made by hand (no secret needed). */
static const char *add_client(const char *pool, const char *name)
{
    unsigned char rnd[12];
    const char *id;

    ck_assert_int_eq(pool_random(rnd, sizeof(rnd)), APR_SUCCESS);
    id = apr_pstrcat(p, "cl_", pool_hex(p, rnd, sizeof(rnd)), NULL);

    sql("INSERT INTO clients (client_id, pool_id, name, role, secret_hash)"
        " SELECT $2, id, $3, 'uploader', 'x' FROM pools WHERE name = $1"
        " RETURNING 1", pool, id, name);
    return id;
}

static const char *add_file(const char *pool, const char *client)
{
    pool_file_t f, *out = NULL;
    const char *err = NULL;

    memset(&f, 0, sizeof(f));
    f.id = pool_uuid(p);
    f.pool = pool;
    f.client_id = client;
    f.name = "a.bin";
    f.sha256 = SHA;
    f.content_type = "application/octet-stream";
    f.ts = apr_time_now();
    ck_assert_msg(pool_db_file_insert(p, db, &f, &out, &err) == POOL_DB_OK,
                  "file insert: %s", err ? err : "?");
    return f.id;
}

static void setup_db(void)
{
    const char *err = NULL, *tag;
    pool_pool_t *pl;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    db = unit_db_open(p);
    tag = apr_pstrndup(p, pool_uuid(p), 8);
    pool_a = apr_pstrcat(p, "links-a", tag, NULL);
    pool_b = apr_pstrcat(p, "links-b", tag, NULL);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_a, &pl, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_db_pool_create(p, db, pool_b, &pl, &err),
                     POOL_DB_OK);
    alice = add_client(pool_a, "alice");
    bob = add_client(pool_a, "bob");
    carol = add_client(pool_b, "carol");
    file_a = add_file(pool_a, alice);
    file_b = add_file(pool_b, carol);
}

static void teardown_db(void)
{
    PQfinish(db);
    db = NULL;
    apr_pool_destroy(p);
    p = NULL;
}

/* A download link of alice's to file (max: 0 for none), lasting 1 h. */
static pool_db_rc make_download(const char *pool, const char *client,
                                const char *file, int max,
                                pool_clientlink_t **out)
{
    pool_clientlink_t in;
    const char *err = NULL;

    memset(&in, 0, sizeof(in));
    in.id = pool_uuid(p);
    in.pool = pool;
    in.client_id = client;
    in.kind = "download";
    in.file_id = file;
    in.max_downloads = max;
    in.expires = apr_time_sec(apr_time_now()) + 3600;
    return pool_clientlink_create(p, db, &in, out, &err);
}

static pool_clientlink_t *make_upload(const char *name, apr_off_t max_size)
{
    pool_clientlink_t in, *out = NULL;
    const char *err = NULL;

    memset(&in, 0, sizeof(in));
    in.id = pool_uuid(p);
    in.pool = pool_a;
    in.client_id = alice;
    in.kind = "upload";
    in.name = name;
    in.folder = "/inbox";
    in.has_ts = 1;
    in.ts = APR_INT64_C(1795256100) * APR_USEC_PER_SEC;
    in.max_size = max_size;
    in.expires = apr_time_sec(apr_time_now()) + 3600;
    ck_assert_int_eq(pool_clientlink_create(p, db, &in, &out, &err),
                     POOL_DB_OK);
    return out;
}

static pool_db_rc admit(const char *pool, const char *id, int count,
                        const char **why)
{
    pool_clientlink_t *l = NULL;
    const char *err = NULL;
    pool_db_rc rc = pool_clientlink_admit(p, db, pool, id, count, &l, &err);

    if (why) {
        *why = err;
    }
    if (rc == POOL_DB_OK) {
        ck_assert_str_eq(l->id, id);
    }
    return rc;
}

static int downloads(const char *id)
{
    return atoi(sql("SELECT downloads FROM client_links WHERE id = $1::uuid",
                    id, NULL, NULL));
}

START_TEST(create_and_read)
{
    pool_clientlink_t *l = NULL, *again = NULL, in;
    apr_array_header_t *rows = NULL;
    const char *err = NULL;

    /* another pool's file, an unknown file, a client of another pool */
    ck_assert_int_eq(make_download(pool_a, alice, file_b, 0, &l),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(make_download(pool_a, alice, pool_uuid(p), 0, &l),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(make_download(pool_a, carol, file_a, 0, &l),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(make_download(pool_a, alice, file_a, 3, &l), POOL_DB_OK);
    ck_assert_str_eq(l->kind, "download");
    ck_assert_str_eq(l->pool, pool_a);
    ck_assert_str_eq(l->client_id, alice);
    ck_assert_str_eq(l->file_id, file_a);
    ck_assert_int_eq(l->max_downloads, 3);
    ck_assert_int_eq(l->downloads, 0);
    ck_assert_ptr_null(l->revoked_at);
    /* a retried creation finds the first one's row */
    memset(&in, 0, sizeof(in));
    in = *l;
    in.expires = l->expires + 100;
    ck_assert_int_eq(pool_clientlink_create(p, db, &in, &again, &err),
                     POOL_DB_OK);
    ck_assert_str_eq(again->id, l->id);
    ck_assert_int_eq(again->expires, l->expires);
    /* read back only in its own pool */
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_b, l->id, &again, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, "nope", &again, &err),
                     POOL_DB_NOTFOUND);
    /* lists: the pool's, a client's, after a cursor */
    ck_assert_int_eq(make_download(pool_a, bob, file_a, 0, &again),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_list(p, db, pool_a, NULL, 0, 10, &rows,
                                          &err), POOL_DB_OK);
    ck_assert_int_eq(rows->nelts, 2);
    ck_assert_int_eq(pool_clientlink_list(p, db, pool_a, bob, 0, 10, &rows,
                                          &err), POOL_DB_OK);
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 0, pool_clientlink_t *)->id,
                     again->id);
    ck_assert_int_eq(pool_clientlink_list(p, db, pool_a, NULL, l->seq, 10,
                                          &rows, &err), POOL_DB_OK);
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert_int_eq(pool_clientlink_list(p, db, pool_b, NULL, 0, 10, &rows,
                                          &err), POOL_DB_OK);
    ck_assert_int_eq(rows->nelts, 0);
}
END_TEST

START_TEST(counting)
{
    pool_clientlink_t *l = NULL;
    const char *why = NULL, *err = NULL;
    json_t *j;

    ck_assert_int_eq(make_download(pool_a, alice, file_a, 2, &l), POOL_DB_OK);
    /* HEAD checks, GET counts, never past the limit */
    ck_assert_int_eq(admit(pool_a, l->id, 0, NULL), POOL_DB_OK);
    ck_assert_int_eq(downloads(l->id), 0);
    ck_assert_int_eq(admit(pool_a, l->id, 1, NULL), POOL_DB_OK);
    ck_assert_int_eq(admit(pool_a, l->id, 1, NULL), POOL_DB_OK);
    ck_assert_int_eq(downloads(l->id), 2);
    ck_assert_int_eq(admit(pool_a, l->id, 1, &why), POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "used up") != NULL, "%s", why);
    ck_assert_int_eq(admit(pool_a, l->id, 0, &why), POOL_DB_REFUSED);
    ck_assert_int_eq(downloads(l->id), 2);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, l->id, &l, &err),
                     POOL_DB_OK);
    j = pool_clientlink_json(l, apr_time_sec(apr_time_now()));
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "used");
    json_decref(j);
    /* a download the server failed is given back */
    ck_assert_int_eq(pool_clientlink_refund(p, db, l->id, &err), POOL_DB_OK);
    ck_assert_int_eq(downloads(l->id), 1);
    ck_assert_int_eq(admit(pool_a, l->id, 1, NULL), POOL_DB_OK);
    /* another pool's path, an upload link, an unknown id: no such link */
    ck_assert_int_eq(admit(pool_b, l->id, 0, NULL), POOL_DB_NOTFOUND);
    ck_assert_int_eq(admit(pool_a, make_upload("x", 10)->id, 1, NULL),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(admit(pool_a, LINK2, 1, NULL), POOL_DB_NOTFOUND);
    ck_assert_int_eq(admit(pool_a, "nope", 1, NULL), POOL_DB_NOTFOUND);
}
END_TEST

START_TEST(no_longer_working)
{
    pool_clientlink_t *l = NULL, *m = NULL, *n = NULL;
    const char *why = NULL, *err = NULL;
    json_t *j;

    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &l), POOL_DB_OK);
    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &m), POOL_DB_OK);
    ck_assert_int_eq(make_download(pool_a, bob, file_a, 0, &n), POOL_DB_OK);
    /* revoked: only by its creator, or without a client (an admin) */
    ck_assert_int_eq(pool_clientlink_revoke(p, db, pool_a, l->id, bob, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_clientlink_revoke(p, db, pool_b, l->id, NULL, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(admit(pool_a, l->id, 1, NULL), POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_revoke(p, db, pool_a, l->id, alice,
                                            &err), POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_revoke(p, db, pool_a, l->id, NULL, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(admit(pool_a, l->id, 1, &why), POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "revoked") != NULL, "%s", why);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, l->id, &l, &err),
                     POOL_DB_OK);
    ck_assert_ptr_nonnull(l->revoked_at);
    j = pool_clientlink_json(l, apr_time_sec(apr_time_now()));
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")),
                     "revoked");
    json_decref(j);
    /* expired */
    sql("UPDATE client_links SET expires_at = now() - interval '1 second'"
        " WHERE id = $1::uuid", m->id, NULL, NULL);
    ck_assert_int_eq(admit(pool_a, m->id, 0, &why), POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "expired") != NULL, "%s", why);
    /* its creator disabled: alice's links stop, bob's go on */
    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &m), POOL_DB_OK);
    sql("UPDATE clients SET disabled_at = now() WHERE client_id = $1",
        alice, NULL, NULL);
    ck_assert_int_eq(admit(pool_a, m->id, 1, &why), POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "disabled") != NULL, "%s", why);
    ck_assert_int_eq(admit(pool_a, n->id, 1, NULL), POOL_DB_OK);
    ck_assert_int_eq(downloads(m->id), 0);
}
END_TEST

static pool_db_rc claim(const pool_clientlink_t *l, const char *token,
                        const char **why)
{
    pool_clientlink_t *out = NULL;
    const char *err = NULL;
    pool_db_rc rc = pool_clientlink_claim(p, db, l->pool, l->id, token, &out,
                                          &err);

    if (why) {
        *why = err;
    }
    if (rc == POOL_DB_OK) {
        ck_assert_str_eq(out->name, l->name);
        ck_assert_int_eq(out->busy, 1);
    }
    return rc;
}

START_TEST(upload_claims)
{
    pool_clientlink_t *l = make_upload("report.csv", 100), *g = NULL;
    const char *why = NULL, *err = NULL, *file;

    ck_assert_str_eq(l->kind, "upload");
    ck_assert_str_eq(l->folder, "/inbox");
    ck_assert_int_eq(l->has_ts, 1);
    ck_assert_str_eq(l->ts_at, "2026-11-21T10:15:00Z");
    ck_assert_int_eq(l->max_size, 100);
    ck_assert_ptr_null(l->file_id);
    /* one request at a time */
    ck_assert_int_eq(claim(l, "A", NULL), POOL_DB_OK);
    ck_assert_int_eq(claim(l, "B", &why), POOL_DB_CONFLICT);
    ck_assert_msg(strstr(why, "in progress") != NULL, "%s", why);
    /* a failed upload frees it */
    ck_assert_int_eq(pool_clientlink_settle(p, db, l->id, "A", NULL, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(claim(l, "B", NULL), POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_renew(p, db, pool_a, l->id, "B", &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_renew(p, db, pool_a, l->id, "A", &err),
                     POOL_DB_CONFLICT);
    ck_assert_int_eq(pool_clientlink_settle(p, db, l->id, "A", file_a, &err),
                     POOL_DB_CONFLICT);
    /* a stored file uses it up */
    file = add_file(pool_a, alice);
    ck_assert_int_eq(pool_clientlink_settle(p, db, l->id, "B", file, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(claim(l, "C", &why), POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "used") != NULL, "%s", why);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, l->id, &g, &err),
                     POOL_DB_OK);
    ck_assert_str_eq(g->file_id, file);
    ck_assert_ptr_nonnull(g->used_at);
    ck_assert_int_eq(g->busy, 0);
    /* an upload link is no download link, nor another pool's */
    ck_assert_int_eq(pool_clientlink_claim(p, db, pool_b, l->id, "D", &g,
                                           &err), POOL_DB_NOTFOUND);
    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &g), POOL_DB_OK);
    ck_assert_int_eq(claim(g, "D", NULL), POOL_DB_NOTFOUND);
}
END_TEST

START_TEST(claim_lease)
{
    pool_clientlink_t *l = make_upload("a.txt", 10);
    const char *why = NULL, *err = NULL;

    /* a claim its request left behind (a dead child) ends with its lease */
    ck_assert_int_eq(claim(l, "A", NULL), POOL_DB_OK);
    sql("UPDATE client_links SET claimed_at = now() - interval '1 second'"
        " * ($2::int + 1) WHERE id = $1::uuid", l->id,
        apr_itoa(p, POOL_CLIENTLINK_CLAIM_LEASE), NULL);
    ck_assert_int_eq(claim(l, "B", NULL), POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_renew(p, db, pool_a, l->id, "A", &err),
                     POOL_DB_CONFLICT);
    /* revoked while its body arrived: refused before it is recorded */
    ck_assert_int_eq(pool_clientlink_revoke(p, db, pool_a, l->id, NULL, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_renew(p, db, pool_a, l->id, "B", &why),
                     POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "revoked") != NULL, "%s", why);
    /* expired while its body arrived: it was admitted in time */
    l = make_upload("b.txt", 10);
    ck_assert_int_eq(claim(l, "E", NULL), POOL_DB_OK);
    sql("UPDATE client_links SET expires_at = now() - interval '1 second'"
        " WHERE id = $1::uuid", l->id, NULL, NULL);
    ck_assert_int_eq(pool_clientlink_renew(p, db, pool_a, l->id, "E", &err),
                     POOL_DB_OK);
    ck_assert_int_eq(claim(l, "F", &why), POOL_DB_REFUSED);
    ck_assert_msg(strstr(why, "expired") != NULL, "%s", why);
}
END_TEST

START_TEST(uses_recorded)
{
    pool_clientlink_t *l = NULL;
    pool_clientlink_use_t u, *got;
    apr_array_header_t *rows = NULL;
    const char *err = NULL;
    int i;

    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &l), POOL_DB_OK);
    memset(&u, 0, sizeof(u));
    u.method = "GET";
    u.remote_addr = "192.0.2.7";
    for (i = 0; i < 3; i++) {
        u.status = 200 + i;
        u.bytes_sent = 1000 + i;
        ck_assert_int_eq(pool_clientlink_use(p, db, l->id, &u, &err),
                         POOL_DB_OK);
    }
    ck_assert_int_eq(pool_clientlink_uses(p, db, l->id, &rows, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(rows->nelts, 3);
    got = APR_ARRAY_IDX(rows, 2, pool_clientlink_use_t *);
    ck_assert_str_eq(got->method, "GET");
    ck_assert_str_eq(got->remote_addr, "192.0.2.7");
    ck_assert_int_eq(got->status, 202);
    ck_assert_int_eq(got->bytes_sent, 1002);
    ck_assert_int_eq(got->bytes_received, 0);
    ck_assert_ptr_nonnull(got->at);
    /* bounded: past the limit nothing more is recorded */
    sql("UPDATE client_links SET uses = $2::int WHERE id = $1::uuid", l->id,
        apr_itoa(p, POOL_CLIENTLINK_USES_MAX), NULL);
    ck_assert_int_eq(pool_clientlink_use(p, db, l->id, &u, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_uses(p, db, l->id, &rows, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(rows->nelts, 3);
}
END_TEST

START_TEST(purge)
{
    pool_clientlink_t *old = NULL, *revoked = NULL, *fresh = NULL;
    pool_clientlink_t *other = NULL, *g = NULL;
    pool_clientlink_use_t u;
    const char *err = NULL;
    int n = -1;

    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &old),
                     POOL_DB_OK);
    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &revoked),
                     POOL_DB_OK);
    ck_assert_int_eq(make_download(pool_a, alice, file_a, 0, &fresh),
                     POOL_DB_OK);
    ck_assert_int_eq(make_download(pool_b, carol, file_b, 0, &other),
                     POOL_DB_OK);
    memset(&u, 0, sizeof(u));
    u.method = "GET";
    u.status = 200;
    ck_assert_int_eq(pool_clientlink_use(p, db, old->id, &u, &err),
                     POOL_DB_OK);
    sql("UPDATE client_links SET expires_at = now() - interval '8 days'"
        " WHERE id IN ($1::uuid, $2::uuid)", old->id, other->id, NULL);
    sql("UPDATE client_links SET revoked_at = now() - interval '8 days'"
        " WHERE id = $1::uuid", revoked->id, NULL, NULL);
    /* expired a day ago: kept */
    sql("UPDATE client_links SET expires_at = now() - interval '1 day'"
        " WHERE id = $1::uuid", fresh->id, NULL, NULL);
    /* one pool's */
    ck_assert_int_eq(pool_clientlinks_purge(p, db, pool_a,
                                            POOL_CLIENTLINK_KEEP, &n, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, old->id, &g, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, revoked->id, &g,
                                         &err), POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, fresh->id, &g, &err),
                     POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_b, other->id, &g, &err),
                     POOL_DB_OK);
    ck_assert_ptr_null(sql("SELECT 1 FROM client_link_uses"
                           " WHERE link_id = $1::uuid", old->id, NULL,
                           NULL));
    /* every pool's */
    ck_assert_int_eq(pool_clientlinks_purge(p, db, NULL, POOL_CLIENTLINK_KEEP,
                                            &n, &err), POOL_DB_OK);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_b, other->id, &g, &err),
                     POOL_DB_NOTFOUND);
    ck_assert_int_eq(pool_clientlink_get(p, db, pool_a, fresh->id, &g, &err),
                     POOL_DB_OK);
}
END_TEST

Suite *suite_clientlinks(void)
{
    Suite *s = suite_create("clientlinks");
    TCase *tc = tcase_create("sign");

    tcase_add_checked_fixture(tc, setup_sign, teardown_sign);
    tcase_add_test(tc, client_vector);
    tcase_add_test(tc, kinds_apart);
    tcase_add_test(tc, client_tampering);
    tcase_add_test(tc, client_sign_refuses);
    suite_add_tcase(s, tc);

    tc = tcase_create("rows");
    if (unit_need_db(s, tc)) {
        return s;
    }
    tcase_add_checked_fixture(tc, setup_db, teardown_db);
    tcase_add_test(tc, create_and_read);
    tcase_add_test(tc, counting);
    tcase_add_test(tc, no_longer_working);
    tcase_add_test(tc, upload_claims);
    tcase_add_test(tc, claim_lease);
    tcase_add_test(tc, uses_recorded);
    tcase_add_test(tc, purge);
    suite_add_tcase(s, tc);
    return s;
}
