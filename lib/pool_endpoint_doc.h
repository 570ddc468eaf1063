/* An endpoint's settings between the API's JSON and the columns of
 * `endpoints` (sql/016): checking and normalizing what an admin sends,
 * and showing a row.  No SQL here (lib/pool_endpoints.c does it). */
#ifndef POOL_ENDPOINT_DOC_H
#define POOL_ENDPOINT_DOC_H

#include <jansson.h>

#include "pool_problem.h"

/* The settings, as column texts (NULL: SQL NULL). */
typedef struct {
    const char *url;
    const char *description;    /* never NULL */
    const char *events;         /* JSON array text, "[]": every event */
    const char *filter;         /* normalized jsonb text, or NULL */
    const char *auth_type;      /* none, bearer, basic, header */
    const char *auth_name;      /* basic: user; header: its name */
    const char *auth_secret;    /* token, password or header value */
    const char *retry;          /* JSON array text of waits */
    const char *rate_limit;     /* integer text or NULL */
    const char *mapping;        /* JSON text (order kept) or NULL */
    const char *rule;           /* JSON text or NULL */
    int disabled;               /* 1 disabled, 0 enabled */
    int disabled_changed;       /* the document said "disabled" */
} pool_ep_doc_t;

/* The defaults of a new endpoint (url NULL). */
void pool_ep_doc_defaults(pool_ep_doc_t *d);

/* Applies the API document in over *d (create: d from
 * pool_ep_doc_defaults; update: d from the row): members present replace,
 * null resets to the default.  0, or 422 with pr set (field = member). */
int pool_ep_doc_apply(apr_pool_t *p, pool_ep_doc_t *d, const json_t *in,
                      pool_problem_t *pr);

/* The endpoint as shown from its columns (d) and the rest. */
typedef struct {
    const char *id, *pool, *client;
    const char *disabled_at, *disabled_reason;
    const char *created_at, *updated_at, *rotated_until;
} pool_ep_meta_t;

json_t *pool_ep_doc_show(apr_pool_t *p, const pool_ep_doc_t *d,
                         const pool_ep_meta_t *m);

/* The request headers that authenticate to the endpoint (name, value),
 * or none; shown says whether it is for display (the secret replaced by
 * "(secret)"). */
void pool_ep_doc_auth_header(apr_pool_t *p, const char *type,
                             const char *name, const char *secret,
                             int shown, const char **hname,
                             const char **hvalue);

/* 1 when event is one of pool_event_types. */
int pool_event_known(const char *event);

#endif
