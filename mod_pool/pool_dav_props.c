/* The WebDAV view's properties: live ones from the pool's tree (sizes,
 * times, types, the API's ETag; RFC 4331 quota-used-bytes on folders, and
 * quota-available-bytes when the pool has max_storage_bytes) and
 * dead ones (PROPPATCH) kept in PostgreSQL (lib/pool_view.c). */
#include <string.h>

#include <apr_strings.h>
#include <apr_xml.h>
#include <http_protocol.h>

#include "pool_dav.h"
#include "pool_usage.h"

/* ------------------------------------------------------- live properties */

static const char *const ns_uris[] = { "DAV:", NULL };

enum {
    PROP_QUOTA_USED = 1,        /* a provider's own ids are small */
    PROP_QUOTA_AVAILABLE
};

static const dav_liveprop_spec props[] = {
    { 0, "creationdate", DAV_PROPID_creationdate, 0 },
    { 0, "getcontentlength", DAV_PROPID_getcontentlength, 0 },
    { 0, "getcontenttype", DAV_PROPID_getcontenttype, 0 },
    { 0, "getetag", DAV_PROPID_getetag, 0 },
    { 0, "getlastmodified", DAV_PROPID_getlastmodified, 0 },
    { 0, "quota-used-bytes", PROP_QUOTA_USED, 0 },
    { 0, "quota-available-bytes", PROP_QUOTA_AVAILABLE, 0 },
    { 0 }
};

static const dav_hooks_liveprop liveprop_hooks;

static const dav_liveprop_group group = {
    props, ns_uris, &liveprop_hooks
};

static pool_db_rc op_folder_size(apr_pool_t *p, PGconn *c, void *b,
                                 const char **err)
{
    return pool_view_folder_size(p, c, b, err);
}

/* A folder's sizes, read when a PROPFIND asks for them (a path lookup
 * leaves them out).  0 when the database cannot tell (logged). */
static int folder_size(const dav_resource *res)
{
    pool_view_entry_t *e = res->info->e;
    const char *err;
    pool_db_rc rc;

    if (e->bytes >= 0) {
        return 1;
    }
    rc = pool_db_run(res->info->r, op_folder_size, e, &err);
    if (rc != POOL_DB_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, res->info->r,
                      "pool: folder size of %s: %s", res->info->path,
                      err ? err : "?");
        return 0;
    }
    return 1;
}

typedef struct {
    const char *pool;
    apr_int64_t left;
} quota_baton;

static pool_db_rc op_quota(apr_pool_t *p, PGconn *c, void *b,
                           const char **err)
{
    quota_baton *qb = b;
    return pool_usage_storage_left(p, c, qb->pool, &qb->left, err);
}

/* What the pool may still store (-1: no quota), asked once per request:
 * the same for every folder of a listing. */
static apr_int64_t quota_left(const dav_resource *res)
{
    request_rec *r = res->info->r;
    quota_baton *qb = NULL;
    const char *err;

    apr_pool_userdata_get((void **)&qb, "pool-dav-quota", r->pool);
    if (qb) {
        return qb->left;
    }
    qb = apr_pcalloc(r->pool, sizeof(*qb));
    qb->pool = res->info->pool;
    if (pool_db_run(r, op_quota, qb, &err) != POOL_DB_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "pool: storage quota of %s: %s", qb->pool,
                      err ? err : "?");
        qb->left = -1;
    }
    apr_pool_userdata_setn(qb, "pool-dav-quota", NULL, r->pool);
    return qb->left;
}

static const char *prop_value(const dav_resource *res, int propid,
                              apr_pool_t *p)
{
    pool_view_entry_t *e = res->info->e;
    char buf[APR_RFC822_DATE_LEN];
    apr_time_exp_t t;
    int file = e && (e->kind == POOL_VIEW_FILE || e->kind == POOL_VIEW_RESULT);

    switch (propid) {
    case DAV_PROPID_creationdate:
        if (!e || apr_time_exp_gmt(&t, e->created) != APR_SUCCESS) {
            return NULL;
        }
        return apr_psprintf(p, "%.4d-%.2d-%.2dT%.2d:%.2d:%.2dZ",
                            t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                            t.tm_hour, t.tm_min, t.tm_sec);
    case DAV_PROPID_getlastmodified:
        if (!e || apr_rfc822_date(buf, e->modified) != APR_SUCCESS) {
            return NULL;
        }
        return apr_pstrdup(p, buf);
    case DAV_PROPID_getcontentlength:
        return file ? apr_off_t_toa(p, e->size) : NULL;
    case DAV_PROPID_getcontenttype:
        return file ? apr_xml_quote_string(p, e->content_type, 0) : NULL;
    case DAV_PROPID_getetag: {
        const char *etag = res->hooks->getetag(res);
        return *etag ? apr_xml_quote_string(p, etag, 0) : NULL;
    }
    case PROP_QUOTA_USED:
        if (!e || e->kind != POOL_VIEW_FOLDER || !folder_size(res)) {
            return NULL;
        }
        return apr_psprintf(p, "%" APR_INT64_T_FMT, e->bytes);
    case PROP_QUOTA_AVAILABLE: {
        apr_int64_t left;

        if (!e || e->kind != POOL_VIEW_FOLDER
            || (left = quota_left(res)) < 0) {
            return NULL;
        }
        return apr_psprintf(p, "%" APR_INT64_T_FMT, left);
    }
    default:
        return NULL;
    }
}

static dav_prop_insert insert_prop(const dav_resource *res, int propid,
                                   dav_prop_insert what, apr_text_header *phdr)
{
    apr_pool_t *p = res->pool;
    const dav_liveprop_spec *info;
    const char *value, *s;
    long ns;

    if (!res->exists || !(value = prop_value(res, propid, p))) {
        return DAV_PROP_INSERT_NOTDEF;
    }
    ns = dav_get_liveprop_info(propid, &group, &info);
    if (what == DAV_PROP_INSERT_VALUE) {
        s = apr_psprintf(p, "<lp%ld:%s>%s</lp%ld:%s>\n", ns, info->name,
                         value, ns, info->name);
    }
    else if (what == DAV_PROP_INSERT_NAME) {
        s = apr_psprintf(p, "<lp%ld:%s/>\n", ns, info->name);
    }
    else {
        s = apr_pstrcat(p, "<D:supported-live-property D:name=\"", info->name,
                        "\" D:namespace=\"", ns_uris[info->ns], "\"/>\n",
                        NULL);
    }
    apr_text_append(p, phdr, s);
    return what;
}

static int is_writable(const dav_resource *res, int propid)
{
    (void)res;
    (void)propid;
    return 0;
}

static const dav_hooks_liveprop liveprop_hooks = {
    insert_prop,
    is_writable,
    ns_uris,
    NULL, NULL, NULL, NULL      /* no live property is writable */
};

static int find_liveprop(const dav_resource *res, const char *ns_uri,
                         const char *name, const dav_hooks_liveprop **hooks)
{
    if (res->hooks != &pool_dav_hooks_repository) {
        return 0;
    }
    return dav_do_find_liveprop(ns_uri, name, &group, hooks);
}

static void insert_all_liveprops(request_rec *r, const dav_resource *res,
                                 dav_prop_insert what, apr_text_header *phdr)
{
    const dav_liveprop_spec *s;

    (void)r;
    if (res->hooks != &pool_dav_hooks_repository || !res->exists) {
        return;
    }
    for (s = props; s->name; s++) {
        /* (mod_dav adds getcontenttype itself, from a subrequest that
         * pool_dav_type answers with the stored type) */
        if (s->propid != DAV_PROPID_getcontenttype) {
            (void)insert_prop(res, s->propid, what, phdr);
        }
    }
}

/* ------------------------------------------------------- dead properties */

struct dav_db {
    apr_pool_t *p;
    const dav_resource *res;
    apr_array_header_t *props;          /* pool_view_prop_t, as loaded */
    apr_array_header_t *namespaces;     /* of the PROPPATCH body */
    int iter;
    int ro;
};

struct dav_deadprop_rollback {
    dav_prop_name name;
    const char *value;          /* NULL: it was not there */
};

typedef struct {
    const pool_view_entry_t *e;
    const pool_view_entry_t *to;
    const char *ns, *name, *value;
    apr_array_header_t *props;
} prop_baton;

static pool_db_rc op_props_get(apr_pool_t *p, PGconn *c, void *b,
                               const char **err)
{
    prop_baton *pb = b;

    return pool_view_props_get(p, c, pb->e, &pb->props, err);
}

static pool_db_rc op_prop_put(apr_pool_t *p, PGconn *c, void *b,
                              const char **err)
{
    prop_baton *pb = b;

    return pool_view_prop_put(p, c, pb->e, pb->ns, pb->name, pb->value, err);
}

static pool_db_rc op_props_copy(apr_pool_t *p, PGconn *c, void *b,
                                const char **err)
{
    prop_baton *pb = b;

    return pool_view_props_copy(p, c, pb->e, pb->to, err);
}

static dav_error *db_open(apr_pool_t *p, const dav_resource *res, int ro,
                          dav_db **out)
{
    request_rec *r = res->info->r;
    prop_baton pb;
    const char *err;
    pool_db_rc rc;
    dav_db *db;

    *out = NULL;
    if (!res->info->e) {
        return NULL;            /* nothing there: no properties */
    }
    if (!ro && !pool_dav_may_write(r)) {
        return pool_dav_error(r, HTTP_FORBIDDEN,
                             "this client's role may only read");
    }
    memset(&pb, 0, sizeof(pb));
    pb.e = res->info->e;
    rc = pool_db_run(r, op_props_get, &pb, &err);
    if (rc != POOL_DB_OK) {
        return pool_dav_db_error(r, rc, err, "properties");
    }
    db = apr_pcalloc(p, sizeof(*db));
    db->p = p;
    db->res = res;
    db->props = pb.props;
    db->ro = ro;
    *out = db;
    return NULL;
}

static void db_close(dav_db *db)
{
    (void)db;
}

static dav_error *db_define_namespaces(dav_db *db, dav_xmlns_info *xi)
{
    (void)db;
    (void)xi;
    return NULL;                /* each value declares its own */
}

static pool_view_prop_t *find(dav_db *db, const dav_prop_name *name)
{
    int i;

    for (i = 0; i < db->props->nelts; i++) {
        pool_view_prop_t *pr = &APR_ARRAY_IDX(db->props, i, pool_view_prop_t);

        if (!strcmp(pr->ns, name->ns) && !strcmp(pr->name, name->name)) {
            return pr;
        }
    }
    return NULL;
}

static dav_error *db_output_value(dav_db *db, const dav_prop_name *name,
                                  dav_xmlns_info *xi, apr_text_header *phdr,
                                  int *found)
{
    pool_view_prop_t *pr = find(db, name);

    (void)xi;
    *found = pr != NULL;
    if (pr) {
        apr_text_append(db->p, phdr, pr->value);
    }
    return NULL;
}

static dav_error *db_map_namespaces(dav_db *db,
                                    const apr_array_header_t *namespaces,
                                    dav_namespace_map **mapping)
{
    /* apr_xml_to_text takes it non-const; it only reads it */
    db->namespaces = (apr_array_header_t *)namespaces;
    *mapping = NULL;
    return NULL;
}

#define PROP_VALUE_MAX 65536

/* Writes one property now (PROPPATCH's rollback undoes it on failure). */
static dav_error *put(dav_db *db, const char *ns, const char *name,
                      const char *value)
{
    request_rec *r = db->res->info->r;
    prop_baton pb;
    const char *err;
    pool_db_rc rc;
    pool_view_prop_t *pr;
    dav_prop_name pn;

    memset(&pb, 0, sizeof(pb));
    pb.e = db->res->info->e;
    pb.ns = ns;
    pb.name = name;
    pb.value = value;
    rc = pool_db_run(r, op_prop_put, &pb, &err);
    if (rc == POOL_DB_CLASH) {
        return pool_dav_error(db->res->info->r, HTTP_FORBIDDEN, err);
    }
    if (rc != POOL_DB_OK) {
        return pool_dav_db_error(r, rc, err, "property");
    }
    pn.ns = ns;
    pn.name = name;
    pr = find(db, &pn);
    if (!pr && value) {
        pr = apr_array_push(db->props);
        pr->ns = apr_pstrdup(db->p, ns);
        pr->name = apr_pstrdup(db->p, name);
    }
    if (pr) {
        pr->value = value ? apr_pstrdup(db->p, value) : NULL;
        if (!value) {
            pr->ns = pr->name = "";     /* gone; find skips it */
        }
    }
    return NULL;
}

static dav_error *db_store(dav_db *db, const dav_prop_name *name,
                           const apr_xml_elem *elem,
                           dav_namespace_map *mapping)
{
    const char *text;
    apr_size_t len;

    (void)mapping;
    /* the element with its own xmlns and xml:lang: self-contained */
    apr_xml_to_text(db->p, elem, APR_XML_X2T_FULL_NS_LANG, db->namespaces,
                    NULL, &text, &len);
    if (len > PROP_VALUE_MAX || strlen(name->ns) > 1024
        || strlen(name->name) > 1024) {
        return pool_dav_error(db->res->info->r, HTTP_INSUFFICIENT_STORAGE,
                             "the property is larger than 64 KB");
    }
    return put(db, name->ns, name->name, text);
}

static dav_error *db_remove(dav_db *db, const dav_prop_name *name)
{
    return put(db, name->ns, name->name, NULL);
}

static int db_exists(dav_db *db, const dav_prop_name *name)
{
    return find(db, name) != NULL;
}

static dav_error *next(dav_db *db, dav_prop_name *pname)
{
    pname->ns = pname->name = NULL;
    while (db->iter < db->props->nelts) {
        pool_view_prop_t *pr = &APR_ARRAY_IDX(db->props, db->iter,
                                              pool_view_prop_t);
        db->iter++;
        if (*pr->name) {
            pname->ns = pr->ns;
            pname->name = pr->name;
            break;
        }
    }
    return NULL;
}

static dav_error *db_first_name(dav_db *db, dav_prop_name *pname)
{
    db->iter = 0;
    return next(db, pname);
}

static dav_error *db_next_name(dav_db *db, dav_prop_name *pname)
{
    return next(db, pname);
}

static dav_error *db_get_rollback(dav_db *db, const dav_prop_name *name,
                                  dav_deadprop_rollback **out)
{
    dav_deadprop_rollback *rb = apr_pcalloc(db->p, sizeof(*rb));
    pool_view_prop_t *pr = find(db, name);

    rb->name.ns = apr_pstrdup(db->p, name->ns);
    rb->name.name = apr_pstrdup(db->p, name->name);
    rb->value = pr ? pr->value : NULL;
    *out = rb;
    return NULL;
}

static dav_error *db_apply_rollback(dav_db *db, dav_deadprop_rollback *rb)
{
    return put(db, rb->name.ns, rb->name.name, rb->value);
}

const dav_hooks_propdb pool_dav_hooks_propdb = {
    db_open,
    db_close,
    db_define_namespaces,
    db_output_value,
    db_map_namespaces,
    db_store,
    db_remove,
    db_exists,
    db_first_name,
    db_next_name,
    db_get_rollback,
    db_apply_rollback,
    NULL
};

dav_error *pool_dav_props_copy_dav(const dav_resource *from,
                                   const dav_resource *to)
{
    request_rec *r = to->info->r;
    prop_baton pb;
    const char *err;
    pool_db_rc rc;

    if (!from->info->e || !to->info->e) {
        return NULL;
    }
    memset(&pb, 0, sizeof(pb));
    pb.e = from->info->e;
    pb.to = to->info->e;
    rc = pool_db_run(r, op_props_copy, &pb, &err);
    return rc == POOL_DB_OK || rc == POOL_DB_CLASH
           ? NULL : pool_dav_db_error(r, rc, err, "properties");
}

/* ---------------------------------------------------------- registering */

static const dav_provider provider = {
    &pool_dav_hooks_repository,
    &pool_dav_hooks_propdb,
    &pool_dav_hooks_locks,
    NULL,                       /* vsn */
    NULL,                       /* binding */
    NULL,                       /* search */
    NULL                        /* ctx */
};

void pool_dav_register(apr_pool_t *p)
{
    dav_hook_find_liveprop(find_liveprop, NULL, NULL, APR_HOOK_MIDDLE);
    dav_hook_insert_all_liveprops(insert_all_liveprops, NULL, NULL,
                                  APR_HOOK_MIDDLE);
    dav_register_liveprop_group(p, &group);
    dav_register_provider(p, "pool", &provider);
}
