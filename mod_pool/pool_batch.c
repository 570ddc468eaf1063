/* Multipart batch uploads: not implemented yet. */
#include <http_protocol.h>

#include "mod_pool.h"

int pool_handle_batch(request_rec *r, pool_principal *who, const char *pool)
{
    return pool_problem(r, HTTP_NOT_IMPLEMENTED,
                        "batch (multipart) uploads are not implemented yet",
                        NULL);
}
