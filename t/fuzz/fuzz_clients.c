/* The parsers of pool services from untrusted requests: client labels
 * (pool_labels_check on a JSON body's member, pool_label_parse on a
 * "key=value" filter), enrollment keys (pool_enroll_token_id), usage days
 * (pool_usage_day_check) and messages to send (pool_msg_parse).
 *
 * Input: a line for the label filter, a line for the token, a line for the
 * day, then a JSON text used both as labels and as a message.
 * Invariants: what label_parse accepts is accepted by labels_check; a
 * token id is "ek_" and 16 hex digits followed in the token by '_'; an
 * accepted day is 10 characters; an accepted message has a body of its
 * stated size within 64 KB, exactly one kind of receiver, and a refused
 * one names its field. */
#include <ctype.h>

#include "fuzz_common.h"
#include "pool_clients.h"
#include "pool_messages.h"
#include "pool_usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *kv, *token, *day, *id, *why, *field = NULL;
    json_t *labels = NULL, *j;
    pool_msg_new_t m;
    int too_large = 0, i;

    if (size > 70000) {
        return 0;
    }
    p = fz_pool();
    kv = fz_line(p, &in);
    token = fz_line(p, &in);
    day = fz_line(p, &in);
    if (!pool_label_parse(p, kv, &labels)) {
        CHECK(labels && pool_labels_check(p, labels, 0) == NULL);
    }
    json_decref(labels);
    if ((id = pool_enroll_token_id(p, token)) != NULL) {
        CHECK(strlen(id) == 19 && !strncmp(id, "ek_", 3));
        CHECK(!strncmp(token, id, 19) && token[19] == '_' && token[20]);
        for (i = 3; i < 19; i++) {
            CHECK(isxdigit((unsigned char)id[i]) && !isupper((unsigned char)id[i]));
        }
    }
    if (!pool_usage_day_check(day)) {
        CHECK(strlen(day) == 10 && day[4] == '-' && day[7] == '-');
    }
    j = json_loadb((const char *)in.d, in.n, JSON_REJECT_DUPLICATES, NULL);
    if (j) {
        pool_labels_check(p, j, 0);
        pool_labels_check(p, j, 1);
        if (json_is_object(j)) {
            memset(&m, 0, sizeof(m));
            why = pool_msg_parse(p, j, &m, &field, &too_large);
            if (!why) {
                CHECK(m.body && strlen(m.body) == m.size && m.size <= 65536);
                CHECK(!(m.to_client && m.to_role));
                CHECK(m.to != NULL);
            }
            else {
                CHECK(field != NULL);
            }
        }
        json_decref(j);
    }
    fz_pool_done(p);
    return 0;
}
