/* Checks for names coming from clients.  Each returns NULL when the name is
 * acceptable, else a short English reason. */
#ifndef POOL_NAME_H
#define POOL_NAME_H

#define POOL_NAME_MAX 255

/* File names: 1..255 bytes of valid UTF-8, no '/', no '\\', not "." or "..",
 * no control characters (U+0000..U+001F, U+007F..U+009F). */
const char *pool_name_check(const char *name);

/* Pool and client names: [a-z0-9][a-z0-9_-]{0,62} */
const char *pool_ident_check(const char *name);

/* Roles: uploader, listener, processor, admin. */
const char *pool_role_check(const char *role);

/* Content types from clients: 1..255 printable ASCII, "type/subtype[;params]". */
const char *pool_ctype_check(const char *ctype);

#endif
