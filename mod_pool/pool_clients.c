/* Client self-service (webhook callback registration): not implemented yet. */
#include <http_protocol.h>

#include "mod_pool.h"

int pool_handle_clients(request_rec *r, pool_principal *who, const char *pool,
                        const char *rest)
{
    return pool_problem(r, HTTP_NOT_IMPLEMENTED,
                        "webhook callback registration is not implemented yet",
                        NULL);
}
