/* Sample events, one per type, in the shapes we send (docs/webhooks.md
 * documents each; t/integration/test_endpoint_events.py compares real
 * events with these): what an endpoint's preview renders when the editor
 * gives no event. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pool_endpoints.h"
#include "pool_json.h"
#include "pool_ts.h"

#define FILE_SAMPLE \
    "{\"id\":\"0b9e6a52-3c7d-4f4e-9a55-1c2d3e4f5a6b\",\"pool\":\"%s\"," \
    "\"name\":\"scan-0042.pdf\",\"size\":48213,\"sha256\":" \
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"," \
    "\"content_type\":\"application/pdf\",\"ts\":\"2026-11-21T10:14:58Z\"," \
    "\"received_at\":\"2026-11-21T10:15:00.120000Z\"," \
    "\"client\":\"cl_5f1c0a2b3c4d5e6f7a8b9c0d\",\"folder\":\"/scanner-3\"," \
    "\"current\":true}"
#define GROUP_SAMPLE(state) \
    "{\"id\":\"6a3e2b1c-9d8f-4e7a-b6c5-d4e3f2a1b0c9\",\"seq\":17,\"state\":\"" \
    state "\",\"window\":{\"start\":\"2026-11-21T10:00:00Z\"," \
    "\"end\":\"2026-11-21T10:15:00Z\"},\"closes_at\":" \
    "\"2026-11-21T10:20:00Z\",\"files\":12,\"clients\":4,\"attempts\":1," \
    "\"max_attempts\":3,\"deadline\":null,\"result_seq\":null," \
    "\"process\":\"1e2d3c4b-5a69-4788-9766-554433221100\"}"
#define CLIENT_SAMPLE \
    "{\"client_id\":\"cl_5f1c0a2b3c4d5e6f7a8b9c0d\",\"pool\":\"%s\"," \
    "\"name\":\"scanner-3\",\"role\":\"uploader\",\"labels\":{\"site\":" \
    "\"north\"},\"disabled\":false,\"created_at\":\"2026-11-21T10:00:00Z\"}"

static const struct {
    const char *type;
    const char *data;           /* every %s: the pool's name */
} samples[] = {
    { "file.received", "{\"pool\":\"%s\",\"file\":" FILE_SAMPLE "}" },
    { "group.closed", "{\"pool\":\"%s\",\"group\":" GROUP_SAMPLE("closed")
      "}" },
    { "group.ready", "{\"pool\":\"%s\",\"group\":" GROUP_SAMPLE("triggered")
      "}" },
    { "group.failed", "{\"pool\":\"%s\",\"group\":" GROUP_SAMPLE("failed")
      ",\"reason\":\"the processor did not answer within 600 s\"}" },
    { "result.published", "{\"seq\":9,\"group\":"
      "\"6a3e2b1c-9d8f-4e7a-b6c5-d4e3f2a1b0c9\",\"name\":\"merged.pdf\","
      "\"size\":912345,\"sha256\":"
      "\"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\","
      "\"content_type\":\"application/pdf\",\"received_at\":"
      "\"2026-11-21T10:21:00Z\",\"published_at\":\"2026-11-21T10:21:01Z\","
      "\"window\":{\"start\":\"2026-11-21T10:00:00Z\",\"end\":"
      "\"2026-11-21T10:15:00Z\"},\"url\":\"/pool/v1/pools/%s/results/9\","
      "\"pool\":\"%s\"}" },
    { "import.completed", "{\"id\":\"3f2e1d0c-ba98-4765-8432-10fedcba9876\","
      "\"pool\":\"%s\",\"kind\":\"import\",\"status\":1,\"percent\":100,"
      "\"message\":\"done\",\"result\":" FILE_SAMPLE ",\"created_at\":"
      "\"2026-11-21T10:14:59.500000Z\",\"updated_at\":"
      "\"2026-11-21T10:15:00.120000Z\"}" },
    { "import.failed", "{\"id\":\"3f2e1d0c-ba98-4765-8432-10fedcba9876\","
      "\"pool\":\"%s\",\"kind\":\"import\",\"status\":2,\"percent\":0,"
      "\"message\":\"the server answered 404\",\"result\":null,"
      "\"created_at\":\"2026-11-21T10:14:59.500000Z\",\"updated_at\":"
      "\"2026-11-21T10:15:00.120000Z\"}" },
    { "client.enrolled", "{\"pool\":\"%s\",\"client\":" CLIENT_SAMPLE
      ",\"enrollment_key\":\"ek_0123456789abcdef\"}" },
    { "message.received", "{\"pool\":\"%s\",\"id\":"
      "\"7c6b5a49-3827-4165-9f4e-3d2c1b0a9988\",\"from\":"
      "\"cl_5f1c0a2b3c4d5e6f7a8b9c0d\",\"to\":\"pool\",\"subject\":"
      "\"maintenance\",\"size\":120,\"files\":[],\"created_at\":"
      "\"2026-11-21T10:30:00Z\",\"url\":null}" },
    { "webhook.test", "{\"pool\":\"%s\",\"client_id\":"
      "\"cl_5f1c0a2b3c4d5e6f7a8b9c0d\",\"message\":"
      "\"a test event, sent on request\"}" },
};

/* tmpl with every "%s" replaced by pool */
static const char *with_pool(apr_pool_t *p, const char *tmpl,
                             const char *pool)
{
    const char *out = "", *s = tmpl, *at;

    while ((at = strstr(s, "%s")) != NULL) {
        out = apr_pstrcat(p, out, apr_pstrndup(p, s, (apr_size_t)(at - s)),
                          pool, NULL);
        s = at + 2;
    }
    return apr_pstrcat(p, out, s, NULL);
}

json_t *pool_event_sample(apr_pool_t *p, const char *pool, const char *type)
{
    const char *pj;
    json_t *data, *ev, *jpool;
    char *text;
    size_t i;

    if (!type) {
        return NULL;
    }
    /* the pool's name as JSON text, so that no name can change the shape */
    jpool = json_string(pool ? pool : "my-pool");
    text = jpool ? json_dumps(jpool, JSON_ENCODE_ANY) : NULL;
    json_decref(jpool);
    if (!text) {
        return NULL;
    }
    pj = apr_pstrndup(p, text + 1, strlen(text) - 2);   /* without quotes */
    free(text);
    for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        if (!strcmp(type, samples[i].type)) {
            break;
        }
    }
    if (i == sizeof(samples) / sizeof(samples[0])) {
        return NULL;
    }
    data = json_loads(with_pool(p, samples[i].data, pj), 0, NULL);
    if (!data) {
        return NULL;
    }
    ev = json_pack("{s:s, s:s, s:o}", "type", type, "timestamp",
                   pool_ts_format(p, apr_time_now()), "data", data);
    return ev;
}
