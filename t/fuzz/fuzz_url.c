/* URLs from clients (lib/pool_imports.c: pool_url_check, libcurl's URL
 * parser behind it): import URLs, callback URLs, processor_url.
 *
 * Input: the URL.  Invariants: an accepted URL is 1..2048 bytes of
 * printable ASCII, written scheme://host with http or https, without
 * credentials; libcurl parses it and gives a non-empty host, and accepts
 * it again as it prints it back. */
#include <curl/curl.h>

#include "fuzz_common.h"
#include "pool_imports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    const char *url, *why, *q;
    CURLU *u;
    char *host = NULL, *back = NULL, *user = NULL;

    if (size > POOL_URL_MAX + 64) {
        return 0;
    }
    p = fz_pool();
    url = fz_rest(p, &in);
    why = pool_url_check(p, url);
    if (why) {
        CHECK(*why);
        fz_pool_done(p);
        return 0;
    }
    CHECK(*url && strlen(url) <= POOL_URL_MAX);
    for (q = url; *q; q++) {
        CHECK(*q > 0x20 && *q < 0x7f);
    }
    CHECK(!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8));
    q = strstr(url, "://") + 3;
    CHECK(*q != '/' && *q != '\\');

    u = curl_url();
    CHECK(u != NULL);
    CHECK(curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK);
    CHECK(curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host
          && *host);
    CHECK(curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK);
    if (curl_url_get(u, CURLUPART_URL, &back, 0) == CURLUE_OK && back
        && strlen(back) <= POOL_URL_MAX
        && strspn(back, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
           == strlen(back)) {
        CHECK(pool_url_check(p, back) == NULL);
    }
    curl_free(user);
    curl_free(back);
    curl_free(host);
    curl_url_cleanup(u);
    fz_pool_done(p);
    return 0;
}
