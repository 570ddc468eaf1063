/* JSON shapes of records (jansson), shared by the API and poolctl --json.
 * Absent strings become null, never an empty string. */
#include <stdlib.h>
#include <apr_strings.h>

#include "pool_json.h"
#include "pool_ts.h"

/* Adds a string member, or null when s is NULL (or not valid UTF-8). */
static void set_str(json_t *o, const char *key, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;

    json_object_set_new(o, key, v ? v : json_null());
}

json_t *pool_json_pool(const pool_pool_t *p)
{
    json_t *o;

    if (!p || !(o = json_object())) {
        return NULL;
    }
    set_str(o, "name", p->name);
    set_str(o, "created_at", p->created_at);
    json_object_set_new(o, "clients", json_integer(p->clients));
    return o;
}

json_t *pool_json_client(const pool_client_t *c)
{
    json_t *o;

    if (!c || !(o = json_object())) {
        return NULL;
    }
    set_str(o, "client_id", c->client_id);
    set_str(o, "pool", c->pool);
    set_str(o, "name", c->name);
    set_str(o, "role", c->role);
    json_object_set_new(o, "disabled", json_boolean(c->disabled));
    json_object_set_new(o, "labels", c->labels
                        ? json_loads(c->labels, 0, NULL) : json_object());
    set_str(o, "created_at", c->created_at);
    /* never secret_hash */
    return o;
}

json_t *pool_json_enroll_key(const pool_enroll_key_t *k)
{
    json_t *o;

    if (!k || !(o = json_object())) {
        return NULL;
    }
    set_str(o, "key_id", k->key_id);
    set_str(o, "pool", k->pool);
    set_str(o, "role", k->role);
    set_str(o, "state", k->state);
    json_object_set_new(o, "uses", json_integer(k->uses));
    json_object_set_new(o, "uses_max", k->uses_max > 0
                        ? json_integer(k->uses_max) : json_null());
    set_str(o, "expires_at", k->expires_at);
    set_str(o, "revoked_at", k->revoked_at);
    json_object_set_new(o, "labels", k->labels
                        ? json_loads(k->labels, 0, NULL) : json_object());
    set_str(o, "created_by", k->created_by);
    set_str(o, "created_at", k->created_at);
    return o;
}

json_t *pool_json_file(apr_pool_t *p, const pool_file_t *f)
{
    json_t *o;

    if (!f || !(o = json_object())) {
        return NULL;
    }
    set_str(o, "id", f->id);
    set_str(o, "pool", f->pool);
    set_str(o, "name", f->name);
    json_object_set_new(o, "size", json_integer((json_int_t)f->size));
    set_str(o, "sha256", f->sha256);
    set_str(o, "content_type", f->content_type);
    set_str(o, "ts", pool_ts_format(p, f->ts));
    set_str(o, "received_at", f->received_at);
    set_str(o, "client", f->client_id);
    /* where the view (WebDAV, folders API) shows it, and whether it is
     * the file of that name there now or an earlier one (replaced or
     * taken out of the view, still a file of its pool and group) */
    set_str(o, "folder", f->folder);
    json_object_set_new(o, "current", json_boolean(f->in_view));
    return o;
}

json_t *pool_json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *pool_json_dump(apr_pool_t *p, const json_t *j)
{
    json_free_t free_fn = NULL;
    char *s, *copy;

    if (!j) {
        return NULL;
    }
    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) {
        return NULL;
    }
    copy = apr_pstrdup(p, s);
    json_get_alloc_funcs(NULL, &free_fn);
    if (free_fn) {
        free_fn(s);
    }
    else {
        free(s);
    }
    return copy;
}
