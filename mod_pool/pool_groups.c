/* Rounds over HTTP (docs/rounds.md):
 *   .../pools/{pool}/groups[?state=&after=&limit=]
 *   .../pools/{pool}/groups/{gid}               manifest
 *   .../pools/{pool}/groups/{gid}/claim         POST, processor
 *   .../pools/{pool}/groups/{gid}/progress      POST, processor
 *   .../pools/{pool}/groups/{gid}/result        PUT, processor or signed link
 *   .../pools/{pool}/results[?after=&limit=]    feed
 *   .../pools/{pool}/results/latest             ETag, 304
 *   .../pools/{pool}/results/{seq}              the file
 *   .../pools/{pool}/results/{seq|latest}/receipts   admin
 * The work is in lib/pool_groups.c. */
#include <errno.h>
#include <string.h>

#include <httpd.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_script.h>
#include <apr_strings.h>
#include <jansson.h>

#include "mod_pool.h"
#include "pool_fields.h"
#include "pool_groups.h"
#include "pool_util.h"

#define PROGRESS_BODY_MAX 8192
#define LIST_DEFAULT 100

static int is_role(const pool_principal *who, const char *role)
{
    return !strcmp(who->role, role);
}

static int forbidden(request_rec *r, const pool_principal *who,
                     const char *what)
{
    return pool_problem(r, HTTP_FORBIDDEN,
                        apr_psprintf(r->pool, "the %s role may not %s",
                                     who->role, what), NULL);
}

/* Links in manifests: PoolPublicURL, or this request's own scheme and
 * host; NULL without signing keys. */
static pool_linker_t *linker(request_rec *r)
{
    pool_srv_conf *sc = pool_srv(r->server);
    pool_linker_t *lk;
    const char *base = sc->conf.public_url;
    apr_size_t n;

    if (!sc->keys) {
        return NULL;
    }
    if (!base) {
        base = ap_construct_url(r->pool, "", r);
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    lk = apr_pcalloc(r->pool, sizeof(*lk));
    lk->keys = sc->keys;
    lk->base = apr_pstrmemdup(r->pool, base, n);
    lk->api_path = pool_dir_prefix(r);
    return lk;
}

/* ?after=&limit= of the lists: 0 to go on, 1 when a 422 was sent. */
static int paging(request_rec *r, apr_table_t *args, apr_int64_t *after,
                  int *limit)
{
    const char *v;
    long n;

    *after = 0;
    *limit = LIST_DEFAULT;
    if ((v = apr_table_get(args, "after")) != NULL) {
        char *end;
        apr_int64_t a;

        errno = 0;
        a = apr_strtoi64(v, &end, 10);
        if (!*v || *end || errno || a < 0) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                         "after must be a sequence number (0 or more)",
                         "after");
            return 1;
        }
        *after = a;
    }
    if ((v = apr_table_get(args, "limit")) != NULL) {
        if (pool_parse_int(v, 1, POOL_GROUP_LIST_MAX, &n) != 0) {
            pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                         apr_psprintf(r->pool, "limit must be 1 to %d",
                                      POOL_GROUP_LIST_MAX), "limit");
            return 1;
        }
        *limit = (int)n;
    }
    return 0;
}

/* ---------------------------------------------------------------- groups */

typedef struct {
    const char *pool;
    const char *gid;
    const char *state;
    const char *client;         /* member filter / claimer / sender */
    pool_group_view view;
    const pool_linker_t *lk;
    apr_int64_t after;
    int limit;
    int percent;
    const char *message;
    const pool_result_t *in;
    pool_result_t *out;
    int created;
    json_t *json;
} group_baton;

static pool_db_rc op_list(apr_pool_t *p, PGconn *c, void *b, const char **err)
{
    group_baton *gb = b;
    return pool_group_list(p, c, gb->pool, gb->state, gb->after, gb->limit,
                           gb->client, &gb->json, err);
}

static pool_db_rc op_manifest(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    group_baton *gb = b;
    return pool_group_manifest(p, c, gb->pool, gb->gid, gb->view, gb->client,
                               gb->lk, &gb->json, err);
}

static pool_db_rc op_claim(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    group_baton *gb = b;
    pool_db_rc rc = pool_group_claim(p, c, gb->pool, gb->gid, gb->client,
                                     err);

    if (rc != POOL_DB_OK) {
        return rc;
    }
    return pool_group_manifest(p, c, gb->pool, gb->gid, POOL_VIEW_FULL, NULL,
                               gb->lk, &gb->json, err);
}

static pool_db_rc op_progress(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    group_baton *gb = b;
    return pool_group_progress(p, c, gb->pool, gb->gid, gb->percent,
                               gb->message, &gb->json, err);
}

typedef struct {
    group_baton *gb;
    pool_ingest_item_t *it;
    pool_db_rc refused_rc;
} result_rec;

static pool_db_rc op_accept(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    result_rec *rr = b;
    group_baton *gb = rr->gb;
    pool_db_rc rc = pool_result_accept(p, c, gb->pool, gb->gid, gb->client,
                                       gb->in, &gb->out, &gb->created, err);

    /* the group had this result already: from an earlier request (our
     * bytes are not needed), or from this one (a retried statement) */
    if (rc == POOL_DB_OK && !gb->created && strcmp(gb->out->id, gb->in->id)) {
        rr->it->unused = 1;
    }
    return rc;
}

static pool_db_rc op_accepted(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    result_rec *rr = b;
    pool_db_rc rc = pool_result_find(p, c, rr->gb->pool, rr->gb->in->id,
                                     &rr->gb->out, err);

    rr->gb->created = rc == POOL_DB_OK;
    return rc;
}

static void result_refused(void *b, apr_pool_t *p, pool_db_rc rc,
                           const char *err, pool_problem_t *pr)
{
    pool_problem_db(p, pr, rc, err, "group");
    if (rc == POOL_DB_CONFLICT) {
        pr->detail = err;
    }
}

static int group_db_problem(request_rec *r, pool_db_rc rc, const char *err)
{
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such group", NULL);
    }
    if (rc == POOL_DB_CONFLICT) {
        return pool_problem(r, HTTP_CONFLICT, err, NULL);
    }
    return pool_db_problem(r, rc, err, "group");
}

static int list_groups(request_rec *r, pool_principal *who, const char *pool)
{
    apr_table_t *args = NULL;
    group_baton gb;
    const char *err;
    pool_db_rc rc;

    memset(&gb, 0, sizeof(gb));
    if (pool_query(r, &args) != OK) {
        return OK;          /* refused, answered */
    }
    if (paging(r, args, &gb.after, &gb.limit)) {
        return OK;
    }
    gb.state = apr_table_get(args, "state");
    if (gb.state && !pool_group_state_ok(gb.state)) {
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            "state must be one of open, closed, skipped, "
                            "triggered, claimed, done, failed", "state");
    }
    gb.pool = pool;
    gb.client = is_role(who, "uploader") ? who->client_id : NULL;
    rc = pool_db_run(r, op_list, &gb, &err);
    if (rc != POOL_DB_OK) {
        return pool_db_problem(r, rc, err, "groups");
    }
    return pool_send_json(r, HTTP_OK, gb.json);
}

static int get_group(request_rec *r, pool_principal *who, const char *pool,
                     const char *gid)
{
    group_baton gb;
    const char *err;
    pool_db_rc rc;

    memset(&gb, 0, sizeof(gb));
    gb.pool = pool;
    gb.gid = gid;
    if (is_role(who, "uploader")) {
        gb.view = POOL_VIEW_MEMBER;
        gb.client = who->client_id;
    }
    else {
        gb.view = POOL_VIEW_FULL;
        gb.lk = linker(r);
    }
    rc = pool_db_run(r, op_manifest, &gb, &err);
    if (rc != POOL_DB_OK) {
        return group_db_problem(r, rc, err);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "private, no-store");
    return pool_send_json(r, HTTP_OK, gb.json);
}

static int claim(request_rec *r, pool_principal *who, const char *pool,
                 const char *gid)
{
    group_baton gb;
    const char *err;
    pool_db_rc rc;

    if (!is_role(who, "processor")) {
        return forbidden(r, who, "claim groups");
    }
    memset(&gb, 0, sizeof(gb));
    gb.pool = pool;
    gb.gid = gid;
    gb.client = who->client_id;
    gb.lk = linker(r);
    rc = pool_db_run(r, op_claim, &gb, &err);
    if (rc != POOL_DB_OK) {
        return group_db_problem(r, rc, err);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "private, no-store");
    return pool_send_json(r, HTTP_OK, gb.json);
}

static int progress(request_rec *r, pool_principal *who, const char *pool,
                    const char *gid)
{
    group_baton gb;
    char *body;
    apr_size_t len;
    json_t *j, *v;
    json_error_t jerr;
    const char *err;
    pool_db_rc rc;
    int st;

    if (!is_role(who, "processor")) {
        return forbidden(r, who, "report progress");
    }
    st = pool_read_small_body(r, PROGRESS_BODY_MAX, &body, &len);
    if (st == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return pool_problem(r, st, "the body is larger than 8 KB", NULL);
    }
    if (st != OK) {
        return pool_problem(r, HTTP_BAD_REQUEST,
                            "cannot read the request body", NULL);
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return pool_problem(r, HTTP_BAD_REQUEST, "the body must be a JSON "
                            "object {\"percent\": 0..100, \"message\": ...}",
                            NULL);
    }
    memset(&gb, 0, sizeof(gb));
    v = json_object_get(j, "percent");
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || json_integer_value(v) > 100) {
        json_decref(j);
        return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                            "percent must be an integer from 0 to 100",
                            "percent");
    }
    gb.percent = (int)json_integer_value(v);
    v = json_object_get(j, "message");
    if (v && !json_is_null(v)) {
        const char *m = json_string_value(v);
        apr_size_t i, n = json_string_length(v);

        if (!m || n > POOL_PROGRESS_MSG_MAX) {
            json_decref(j);
            return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                "message must be a string of at most 2000 "
                                "bytes", "message");
        }
        for (i = 0; i < n; i++) {
            if ((unsigned char)m[i] < 0x20 && m[i] != '\t') {
                json_decref(j);
                return pool_problem(r, HTTP_UNPROCESSABLE_ENTITY,
                                    "message must not contain control "
                                    "characters", "message");
            }
        }
        gb.message = apr_pstrmemdup(r->pool, m, n);
    }
    json_decref(j);
    gb.pool = pool;
    gb.gid = gid;
    rc = pool_db_run(r, op_progress, &gb, &err);
    if (rc != POOL_DB_OK) {
        return group_db_problem(r, rc, err);
    }
    return pool_send_json(r, HTTP_OK, gb.json);
}

static int put_result(request_rec *r, pool_principal *who, const char *pool,
                      const char *gid)
{
    apr_table_t *args = NULL;
    pool_file_fields_t fields;
    pool_result_t in;
    group_baton gb;
    result_rec rr;
    pool_ingest_t ing;
    pool_ingest_item_t *it;
    pool_problem_t pr;
    pool_spool_t *sp;
    const char *name, *why, *field;
    int status;

    if (!is_role(who, "processor") && !is_role(who, "link")) {
        return forbidden(r, who, "return results");
    }
    if (!pool_uuid_valid(gid)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such group", NULL);
    }
    if (pool_query(r, &args) != OK) {
        return OK;          /* refused, answered */
    }
    name = apr_table_get(args, "name");
    why = pool_fields_check(r->pool, name ? name : "result",
                            strlen(name ? name : "result"), NULL,
                            apr_table_get(r->headers_in, "Content-Type"),
                            &fields, &field);
    if (why) {
        return pool_problem(r, !strcmp(field, "content_type")
                            ? HTTP_UNSUPPORTED_MEDIA_TYPE
                            : HTTP_UNPROCESSABLE_ENTITY, why, field);
    }
    if (!pool_receive_spool(r, "result", &sp, &status)) {
        return status;
    }
    pool_ingest_init(&ing, r);
    it = pool_ingest_add(r->pool, &ing, NULL, pool_uuid(r->pool), sp,
                         "result");
    pool_ingest_prepare(r->pool, &ing, &pr);    /* a spool: cannot fail */
    memset(&in, 0, sizeof(in));
    in.id = it->id;
    in.name = fields.name;
    in.size = it->size;
    in.sha256 = it->sha256_hex;
    in.content_type = fields.content_type;
    memset(&gb, 0, sizeof(gb));
    gb.pool = pool;
    gb.gid = gid;
    gb.client = who->client_id;
    gb.in = &in;
    rr.gb = &gb;
    rr.it = it;
    ing.record = op_accept;
    ing.lookup = op_accepted;
    ing.refused = result_refused;
    ing.baton = &rr;
    if (!pool_ingest_commit(r->pool, &ing, &pr)) {
        return pool_problem_send(r, &pr);
    }
    apr_table_setn(r->headers_out, "Location",
                   apr_psprintf(r->pool, "%s/v1/pools/%s/groups/%s",
                                pool_dir_prefix(r), pool, gid));
    return pool_send_json(r, gb.created ? HTTP_CREATED : HTTP_OK,
                          pool_result_json(r->pool, gb.out,
                                           pool_dir_prefix(r)));
}

int pool_handle_groups(request_rec *r, pool_principal *who, const char *pool,
                       const char *rest)
{
    const char *slash, *gid, *action;

    if (is_role(who, "listener")) {
        return forbidden(r, who, "see groups");
    }
    if (is_role(who, "link")) {
        /* a signed link only ever covers the result upload */
        if (!rest || !(slash = strchr(rest, '/')) || strcmp(slash, "/result")
            || r->method_number != M_PUT) {
            return pool_problem(r, HTTP_FORBIDDEN, "a signed link is valid "
                                "only for the request it was made for", NULL);
        }
    }
    if (!rest || !*rest) {
        if (r->method_number != M_GET) {
            return pool_method_not_allowed(r, "GET, HEAD",
                                           "groups are listed with GET");
        }
        return list_groups(r, who, pool);
    }
    slash = strchr(rest, '/');
    gid = slash ? apr_pstrmemdup(r->pool, rest, (apr_size_t)(slash - rest))
                : rest;
    if (!pool_uuid_valid(gid)) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such group", NULL);
    }
    if (!slash) {
        if (r->method_number != M_GET) {
            return pool_method_not_allowed(r, "GET, HEAD",
                                           "a group's manifest is read with "
                                           "GET");
        }
        return get_group(r, who, pool, gid);
    }
    action = slash + 1;
    if (!strcmp(action, "claim")) {
        if (r->method_number != M_POST) {
            return pool_method_not_allowed(r, "POST",
                                           "claim with POST");
        }
        return claim(r, who, pool, gid);
    }
    if (!strcmp(action, "progress")) {
        if (r->method_number != M_POST) {
            return pool_method_not_allowed(r, "POST",
                                           "report progress with POST");
        }
        return progress(r, who, pool, gid);
    }
    if (!strcmp(action, "result")) {
        if (r->method_number != M_PUT) {
            return pool_method_not_allowed(r, "PUT",
                                           "return the result with PUT; "
                                           "published results are under "
                                           "results/");
        }
        return put_result(r, who, pool, gid);
    }
    return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
}

/* --------------------------------------------------------------- results */

typedef struct {
    const char *pool;
    const char *api_path;
    apr_int64_t seq;            /* 0: latest */
    apr_int64_t after;
    int limit;
    const char *client;         /* reader, or NULL */
    pool_result_t *res;
    json_t *json;
} result_baton;

static pool_db_rc op_results(apr_pool_t *p, PGconn *c, void *b,
                             const char **err)
{
    result_baton *rb = b;
    return pool_result_list(p, c, rb->pool, rb->api_path, rb->after,
                            rb->limit, &rb->json, err);
}

static pool_db_rc op_result(apr_pool_t *p, PGconn *c, void *b,
                            const char **err)
{
    result_baton *rb = b;
    pool_db_rc rc = pool_result_get(p, c, rb->pool, rb->seq, &rb->res, err);

    if (rc == POOL_DB_OK && rb->client) {
        rc = pool_result_read(p, c, rb->res->id, rb->client, err);
    }
    return rc;
}

static pool_db_rc op_receipts(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    result_baton *rb = b;
    return pool_result_receipts(p, c, rb->pool, rb->seq, &rb->json, err);
}

static int result_db_problem(request_rec *r, pool_db_rc rc, const char *err,
                             apr_int64_t seq)
{
    if (rc == POOL_DB_NOTFOUND) {
        return pool_problem(r, HTTP_NOT_FOUND, seq
                            ? "no such result"
                            : "no result has been published yet", NULL);
    }
    return pool_db_problem(r, rc, err, "result");
}

/* "latest" -> 0, a positive decimal -> it; -1 otherwise. */
static apr_int64_t parse_seq(const char *s)
{
    apr_int64_t v = 0;
    apr_size_t i, n = strlen(s);

    if (!strcmp(s, "latest")) {
        return 0;
    }
    if (n == 0 || n > 18 || s[0] == '0') {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int pool_handle_results(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest)
{
    result_baton rb;
    const char *err, *slash, *seg;
    pool_db_rc rc;

    if (is_role(who, "link")) {
        return pool_problem(r, HTTP_FORBIDDEN, "a signed link is valid only "
                            "for the request it was made for", NULL);
    }
    if (r->method_number != M_GET) {
        return pool_method_not_allowed(r, "GET, HEAD",
                                       "results are read with GET");
    }
    memset(&rb, 0, sizeof(rb));
    rb.pool = pool;
    rb.api_path = pool_dir_prefix(r);
    if (!rest || !*rest) {
        apr_table_t *args = NULL;

        if (pool_query(r, &args) != OK) {
            return OK;          /* refused, answered */
        }
        if (paging(r, args, &rb.after, &rb.limit)) {
            return OK;
        }
        rc = pool_db_run(r, op_results, &rb, &err);
        if (rc != POOL_DB_OK) {
            return pool_db_problem(r, rc, err, "results");
        }
        return pool_send_json(r, HTTP_OK, rb.json);
    }
    slash = strchr(rest, '/');
    seg = slash ? apr_pstrmemdup(r->pool, rest, (apr_size_t)(slash - rest))
                : rest;
    if ((rb.seq = parse_seq(seg)) < 0) {
        return pool_problem(r, HTTP_NOT_FOUND, "no such result", NULL);
    }
    if (slash) {
        if (strcmp(slash, "/receipts")) {
            return pool_problem(r, HTTP_NOT_FOUND, "no such resource", NULL);
        }
        if (!is_role(who, "admin")) {
            return forbidden(r, who, "see who received a result");
        }
        rc = pool_db_run(r, op_receipts, &rb, &err);
        if (rc != POOL_DB_OK) {
            return result_db_problem(r, rc, err, rb.seq);
        }
        apr_table_setn(r->headers_out, "Cache-Control", "private, no-cache");
        return pool_send_json(r, HTTP_OK, rb.json);
    }
    if (rb.seq == 0) {
        /* latest: the metadata, with an ETag naming its seq */
        int cond;

        rc = pool_db_run(r, op_result, &rb, &err);
        if (rc != POOL_DB_OK) {
            return result_db_problem(r, rc, err, 0);
        }
        pool_set_etag(r, apr_psprintf(r->pool, "\"result-%" APR_INT64_T_FMT
                                      "\"", rb.res->seq));
        cond = ap_meets_conditions(r);
        if (cond == HTTP_NOT_MODIFIED) {
            return cond;
        }
        return pool_send_json(r, HTTP_OK,
                              pool_result_json(r->pool, rb.res, rb.api_path));
    }
    /* the file; a download (not HEAD) is remembered as a read receipt */
    rb.client = r->header_only ? NULL : who->client_id;
    rc = pool_db_run(r, op_result, &rb, &err);
    if (rc != POOL_DB_OK) {
        return result_db_problem(r, rc, err, rb.seq);
    }
    return pool_send_object(r, pool, NULL, rb.res->id, rb.res->size,
                            rb.res->received_at, rb.res->content_type,
                            rb.res->sha256, rb.res->name, "result", NULL);
}
