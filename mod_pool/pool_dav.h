/* The WebDAV view: a mod_dav repository provider ("Dav pool") over the
 * pool's tree (lib/pool_view.h) and the store, as mod_dav_svn serves a
 * repository that is not a file system.
 *
 *   pool_dav_repos.c   resources, GET, PUT (the one ingest path), MKCOL,
 *                      DELETE, MOVE, COPY, walks
 *   pool_dav_props.c   live properties and dead properties (PostgreSQL)
 *   pool_dav_locks.c   locks, kept in PostgreSQL so every node sees them
 *
 * URIs: <Location>/<pool>/<path in the pool>. */
#ifndef POOL_DAV_H
#define POOL_DAV_H

#include <mod_dav.h>

#include "mod_pool.h"
#include "pool_view.h"

/* resource->info */
struct dav_resource_private {
    request_rec *r;
    const char *prefix;         /* the <Location>'s path, no trailing '/' */
    const char *pool;           /* the pool's name (first segment) */
    const char *path;           /* normal path in the pool: "/", "/a/b" */
    pool_view_entry_t *e;       /* what is there; NULL: nothing */
    dav_resource *parent;       /* looked up once (mod_dav asks again) */
};

extern const dav_hooks_repository pool_dav_hooks_repository;
extern const dav_hooks_liveprop pool_dav_hooks_liveprop;
extern const dav_hooks_propdb pool_dav_hooks_propdb;
extern const dav_hooks_locks pool_dav_hooks_locks;


/* register_hooks: the provider "pool" and its live properties. */
void pool_dav_register(apr_pool_t *p);

/* A resource of the same request for another path of the same pool (the
 * entry looked up); NULL with *err when the database cannot tell. */
dav_error *pool_dav_resource(request_rec *r, const char *prefix,
                             const char *pool, const char *path,
                             dav_resource **out);

/* The caller's client (r->user) may write (uploader, admin). */
int pool_dav_may_write(request_rec *r);

/* The namespace of the <problem> element in our error bodies. */
#define POOL_DAV_NS "urn:x-mod-pool:dav"

/* A dav_error of status: a 4xx is the client's doing, its msg goes into
 * the body (<D:error><problem>) and the log at info; a 5xx is logged by
 * mod_dav at error level. */
dav_error *pool_dav_error(request_rec *r, int status, const char *msg);

/* A dav_error for a database outcome (503 with Retry-After when the
 * database is unavailable, 409 for a name in the way, ...). */
dav_error *pool_dav_db_error(request_rec *r, pool_db_rc rc, const char *err,
                             const char *what);

/* pool_dav_locks.c: the request found that pool has no live lock (as
 * it looked its resource up), so its lock hooks need not read them. */
void pool_dav_locks_none(request_rec *r, const char *pool);

/* pool_dav_locks.c: the names (last segments) of lock-null resources
 * directly in folder `path` of pool (paths with a lock and nothing in the
 * view), for PROPFIND's walk. */
dav_error *pool_dav_locknull_names(request_rec *r, const char *pool,
                                   const char *path,
                                   apr_array_header_t **names);

/* pool_dav_props.c: dead properties follow a MOVE (same ids) and go with
 * what is removed (cascade); a COPY copies them with this. */
dav_error *pool_dav_props_copy_dav(const dav_resource *from,
                                   const dav_resource *to);

/* The GET/HEAD of a file or result of the view, before mod_dav (handler
 * hook); the Dav provider's requests skip the file system (translate_name,
 * map_to_storage); Bearer tokens on the view (check_authn). */
int pool_dav_get(request_rec *r);
int pool_dav_translate(request_rec *r);
int pool_dav_map_to_storage(request_rec *r);
int pool_dav_bearer(request_rec *r);
/* mod_dav answers getcontenttype in an allprop PROPFIND from a subrequest
 * (type_checker): a file's is its stored type, not its extension's. */
int pool_dav_type(request_rec *r);
/* OPTIONS of a client that may only read lists no writing method. */
void pool_dav_insert_filter(request_rec *r);
void pool_dav_filters_register(void);

#endif
