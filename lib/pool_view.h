/* The pool's tree (sql/009): folders, the files of the view by name, and the
 * read-only results/ folder with the published results.  The WebDAV view
 * (mod_pool/pool_dav_*.c) and the folder API are adapters over it.
 *
 * Paths are inside one pool: "/" or "/a/b" (no trailing slash), each
 * segment a file name (pool_name_check).  "/results" and what is under it
 * are the results, at the top of every pool. */
#ifndef POOL_VIEW_H
#define POOL_VIEW_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "pool_db.h"

#define POOL_VIEW_DEPTH_MAX 32
#define POOL_VIEW_PATH_MAX 4096
#define POOL_VIEW_RESULTS "/results"

typedef enum {
    POOL_VIEW_FOLDER = 1,
    POOL_VIEW_FILE,
    POOL_VIEW_RESULTS_FOLDER,   /* "/results" */
    POOL_VIEW_RESULT            /* "/results/<name>" */
} pool_view_kind;

typedef struct {
    pool_view_kind kind;
    const char *path;
    const char *name;           /* last segment; "" for the root */
    apr_int64_t folder_id;      /* a folder: its id (0: a root not made
                                 * yet); a file: its folder's */
    const char *id;             /* a file's or result's uuid */
    const char *client_id;      /* a file's uploader (public id) */
    apr_off_t size;
    const char *sha256;
    const char *content_type;
    apr_time_t created;         /* microseconds since the epoch */
    apr_time_t modified;
    apr_time_t ts;              /* a file's event time */
    apr_int64_t bytes;          /* a folder's files in the view, subfolders */
    apr_int64_t files;          /* included (cached: rows and deltas) */
} pool_view_entry_t;

/* Checks a path from a client and gives its normal form in *norm (one
 * trailing slash dropped, "" read as "/").  NULL when acceptable, else a
 * short English reason: a segment that is not a file name ("", ".", "..",
 * control characters, invalid UTF-8), too deep, too long. */
const char *pool_view_path_check(apr_pool_t *p, const char *path,
                                 const char **norm);

/* The parent path of a normal path ("/" for "/a"; NULL for "/"), and its
 * last segment. */
const char *pool_view_parent(apr_pool_t *p, const char *path);
const char *pool_view_basename(const char *path);

/* What is at path in pool's view.  NOTFOUND: nothing (or no such pool). */
pool_db_rc pool_view_lookup(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *path, pool_view_entry_t **out,
                            const char **err);
/* The same without a folder's sizes (bytes and files -1): the WebDAV view
 * looks paths up on every request and shows sizes only when asked,
 * through pool_view_folder_size. */
pool_db_rc pool_view_locate(apr_pool_t *p, PGconn *c, const char *pool,
                            const char *path, pool_view_entry_t **out,
                            const char **err);
/* What a write through the view needs before it starts, in one statement
 * where it can: the entry at path (NULL: nothing there), its parent's
 * (NULL: path is "/" or nothing is there; both without sizes, as
 * pool_view_locate), and locks 0 when the pool had no live WebDAV lock
 * (1: it had, or it was not asked). */
typedef struct {
    pool_view_entry_t *e;
    pool_view_entry_t *parent;
    int locks;
} pool_view_locate_t;

pool_db_rc pool_view_locate_for_write(apr_pool_t *p, PGconn *c,
                                      const char *pool, const char *path,
                                      pool_view_locate_t *out,
                                      const char **err);
pool_db_rc pool_view_folder_size(apr_pool_t *p, PGconn *c,
                                 pool_view_entry_t *e, const char **err);

/* The entries of a folder, subfolders and files (the root's include
 * results/) by name (bytewise), at most limit (<= 0: no limit) after the
 * name `after` (NULL: from the start). */
pool_db_rc pool_view_list(apr_pool_t *p, PGconn *c, const char *pool,
                          const pool_view_entry_t *folder, const char *after,
                          int limit, apr_array_header_t **out,
                          const char **err);

/* Makes the folder at path; its parent must exist.  CONFLICT: something
 * is at path; NOTFOUND: no parent folder; CLASH: a reserved name. */
pool_db_rc pool_view_mkcol(apr_pool_t *p, PGconn *c, const char *pool,
                           const char *path, const char **err);

/* Takes what is at e out of the view: a file leaves the view (it stays a
 * file of its pool and of its group); a folder goes with everything under
 * it.  NOTFOUND when it is not there any more. */
pool_db_rc pool_view_remove(apr_pool_t *p, PGconn *c, const char *pool,
                            const pool_view_entry_t *e, const char **err);

/* Moves what is at src to dst, whose parent folder must exist (NOTFOUND
 * otherwise), in one transaction.  Something at dst is taken out of the
 * view first when overwrite (*replaced = 1), else CONFLICT.  A moved file
 * keeps its id, group and bytes; a folder cannot go into itself (CLASH). */
pool_db_rc pool_view_move(apr_pool_t *p, PGconn *c, const char *pool,
                          const pool_view_entry_t *src, const char *dst,
                          int overwrite, int *replaced, const char **err);

/* Folder sizes: folds the deltas into the folders' rows and recounts every
 * folder of every pool from the files in the view; folders whose size was
 * wrong are repaired and counted in *repaired (their paths, "pool:path",
 * in *which, up to 20). */
pool_db_rc pool_view_sizes(apr_pool_t *p, PGconn *c, int *repaired,
                           apr_array_header_t **which, const char **err);

/* Dead properties (WebDAV PROPPATCH) of a file or a folder; results and
 * a root with no row have none (CLASH on writes). */
typedef struct {
    const char *ns;             /* namespace URI ("" for none) */
    const char *name;
    const char *value;          /* the element as self-contained XML */
} pool_view_prop_t;

pool_db_rc pool_view_props_get(apr_pool_t *p, PGconn *c,
                               const pool_view_entry_t *e,
                               apr_array_header_t **out, const char **err);
/* value NULL: removes it. */
pool_db_rc pool_view_prop_put(apr_pool_t *p, PGconn *c,
                              const pool_view_entry_t *e, const char *ns,
                              const char *name, const char *value,
                              const char **err);
/* Copies every dead property of from onto to (replacing same names). */
pool_db_rc pool_view_props_copy(apr_pool_t *p, PGconn *c,
                                const pool_view_entry_t *from,
                                const pool_view_entry_t *to, const char **err);

#endif
