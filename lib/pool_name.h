/* Checks for names coming from clients.  Each returns NULL when the name is
 * acceptable, else a short English reason. */
#ifndef POOL_NAME_H
#define POOL_NAME_H

#include <stddef.h>

#define POOL_NAME_MAX 255

/* File names: 1..255 bytes of valid UTF-8, no '/', no '\\', not "." or "..",
 * no control characters (U+0000..U+001F, U+007F..U+009F). */
const char *pool_name_check(const char *name);

/* Length of the longest prefix of s, at most max bytes, that is valid
 * UTF-8 and ends on a character boundary: cutting a name there never splits
 * a character (and stops before any invalid byte).  0 when even the first
 * character does not fit or is invalid. */
size_t pool_utf8_prefix(const char *s, size_t max);

/* Pool and client names: [a-z0-9][a-z0-9_-]{0,62} */
const char *pool_ident_check(const char *name);

/* Roles: uploader, listener, processor, admin. */
const char *pool_role_check(const char *role);

/* Content types from clients: 1..255 printable ASCII, "type/subtype[;params]". */
const char *pool_ctype_check(const char *ctype);

#endif
