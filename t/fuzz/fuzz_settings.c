/* Pool settings (lib/pool_settings.c): the stored JSON as read back
 * (pool_settings_from_json, also through the API) and "key=value" pairs
 * from poolctl and the admin API (pool_settings_apply), with
 * pool_settings_json and pool_settings_duration.
 *
 * Input: the stored JSON, '\n', then up to 16 pairs, one a line.
 * Invariants: the stored JSON is accepted by from_json exactly when apply
 * with no pairs accepts it; what from_json accepts is within the ranges;
 * what apply returns is accepted by from_json, and applying the same pairs
 * to it again changes nothing; a refused pair names a key. */
#include "fuzz_common.h"
#include "pool_settings.h"

#define DAY 86400L

static void in_range(const pool_settings_t *s)
{
    CHECK(s->window == 0 || (s->window >= 60 && s->window <= 30 * DAY));
    CHECK(s->offset >= 0 && (s->window == 0 || s->offset < s->window));
    CHECK(s->lateness >= 0 && s->lateness <= 30 * DAY);
    CHECK(s->min_files >= 1 && s->min_clients >= 1);
    CHECK(s->result_timeout >= 1 && s->max_attempts >= 1);
    CHECK(s->retention == 0 || s->retention >= 3600);
    CHECK(s->max_storage_bytes >= 0 && s->max_monthly_download_bytes >= 0);
    CHECK(s->max_clients >= 0 && s->max_clients <= 10000000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *cur, *pairs[16], *why, *why0, *new_json, *new2, *bad;
    pool_settings_t s;
    json_t *j;
    int n = 0, url, url2;

    if (size > 8192) {
        return 0;
    }
    p = fz_pool();
    cur = fz_line(p, &in);
    while (in.n && n < 16) {
        pairs[n++] = fz_line(p, &in);
    }

    why = pool_settings_from_json(p, cur, &s);
    why0 = pool_settings_apply(p, cur, 0, NULL, &new_json, &url, &bad);
    CHECK((why == NULL) == (why0 == NULL));
    if (!why) {
        in_range(&s);
        j = pool_settings_json(&s);
        CHECK(j != NULL);
        json_decref(j);
        CHECK(*pool_settings_duration(p, s.window));
        CHECK(*pool_settings_duration(p, s.retention));
    }

    why = pool_settings_apply(p, cur, n, pairs, &new_json, &url, &bad);
    if (why) {
        CHECK(new_json == NULL && url == 0);
    }
    else {
        CHECK(new_json && bad == NULL && url >= -1 && url <= 1);
        CHECK(pool_settings_from_json(p, new_json, &s) == NULL);
        in_range(&s);
        why = pool_settings_apply(p, new_json, n, pairs, &new2, &url2, &bad);
        CHECK(why == NULL);
        CHECK(!strcmp(new_json, new2) && url == url2);
    }
    fz_pool_done(p);
    return 0;
}
