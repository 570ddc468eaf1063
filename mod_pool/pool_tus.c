/* tus 1.0.0 resumable uploads: not implemented yet. */
#include <http_protocol.h>

#include "mod_pool.h"

int pool_handle_tus(request_rec *r, pool_principal *who, const char *pool,
                    const char *rest)
{
    return pool_problem(r, HTTP_NOT_IMPLEMENTED,
                        "resumable (tus) uploads are not implemented yet", NULL);
}
