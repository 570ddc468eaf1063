/* JSON shapes of records, shared by the API and poolctl --json (jansson). */
#ifndef POOL_JSON_H
#define POOL_JSON_H

#include <jansson.h>
#include "pool_db.h"
#include "pool_clients.h"

json_t *pool_json_pool(const pool_pool_t *p);
json_t *pool_json_client(const pool_client_t *c);     /* never the hash */
json_t *pool_json_enroll_key(const pool_enroll_key_t *k); /* never the key */
json_t *pool_json_file(apr_pool_t *p, const pool_file_t *f);
/* A JSON string of s, or null when s is NULL. */
json_t *pool_json_str_or_null(const char *s);
/* json_dumps with compact, ordered output into p; NULL on failure. */
char *pool_json_dump(apr_pool_t *p, const json_t *j);

#endif
