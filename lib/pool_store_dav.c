/* WebDAV store: not in this build yet (docs/storage.md). */
#include "pool_store_impl.h"

pool_store_t *pool_store_dav(apr_pool_t *p, const char *url,
                             const char *credentials_file, const char **err)
{
    *err = "a WebDAV PoolStorage (http:// or https://) is not supported by "
           "this build yet";
    return NULL;
}
