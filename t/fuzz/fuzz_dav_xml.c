/* The WebDAV store's PROPFIND answers (lib/pool_store_dav.c: the
 * multistatus SAX parser ms_start/ms_chars/ms_end/ms_emit over libxml2's
 * push parser, reached through pool_store_dav_parse_multistatus, which
 * pool_store_impl.h declares for this harness): hrefs (absolute URLs or
 * paths, percent-decoded), propstat status, getcontentlength,
 * getlastmodified (HTTP-date) and creationdate (RFC 3339).
 *
 * Input: one byte choosing the chunk size, then the body.  Invariants: a
 * body parsed at once and in chunks that goes through both ways gives the
 * same entries (libxml2 may find a malformed body malformed at another
 * point when it comes in pieces); an entry's name has no '/', is "" exactly for the collection
 * asked about, and its size is -1 or more; entries stop when the callback
 * fails. */
#include "fuzz_common.h"
#include "pool_store_impl.h"

#define SELF "/dav/store/uploads/0b8e4c2e-4f7a-4b8e-9a51-3c0e2d7f6a10"

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *tx;     /* of char: the entries, one a line */
    int entries;
    int stop_after;             /* fail on that entry (0: never) */
} seen;

static apr_status_t on_entry(void *baton, const char *name, int self,
                             int collection, apr_off_t size,
                             apr_time_t mtime)
{
    seen *s = baton;
    const char *line;
    size_t n;

    CHECK(name != NULL && !strchr(name, '/'));
    CHECK(!self || !*name);
    CHECK(size >= -1);
    s->entries++;
    line = apr_psprintf(s->p, "%s|%d|%d|%" APR_OFF_T_FMT "|%"
                        APR_TIME_T_FMT "\n", name, self, collection, size,
                        mtime);
    for (n = 0; line[n]; n++) {
        APR_ARRAY_PUSH(s->tx, char) = line[n];
    }
    if (s->stop_after && s->entries == s->stop_after) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fz_in in = { data, size };
    unsigned mode;
    apr_status_t r1, r2;
    seen s1, s2;

    if (size > 32 * 1024) {
        return 0;
    }
    p = fz_pool();
    mode = fz_byte(&in);
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    s1.p = s2.p = p;
    s1.tx = apr_array_make(p, 256, 1);
    s2.tx = apr_array_make(p, 256, 1);
    s1.stop_after = s2.stop_after = (mode & 0xc0) == 0xc0 ? 2 : 0;
    r1 = pool_store_dav_parse_multistatus(p, SELF, (const char *)in.d, in.n,
                                          0, on_entry, &s1);
    r2 = pool_store_dav_parse_multistatus(p, SELF, (const char *)in.d, in.n,
                                          1 + (mode & 0x3f), on_entry, &s2);
    if (s1.stop_after) {
        CHECK(s1.entries <= 2 && s2.entries <= 2);
        CHECK(s1.entries < 2 || r1 == APR_EINVAL);
    }
    CHECK(r1 == APR_SUCCESS || r1 == APR_EGENERAL || r1 == APR_EINVAL);
    CHECK(r2 == APR_SUCCESS || r2 == APR_EGENERAL || r2 == APR_EINVAL);
    /* libxml2 itself may tell a malformed body (an unknown encoding, say)
     * at another point when it comes in pieces: entries are compared when
     * both parses went through (or both were stopped by the callback) */
    if (r1 == r2 && r1 != APR_EGENERAL) {
        CHECK(s1.entries == s2.entries && s1.tx->nelts == s2.tx->nelts
              && !memcmp(s1.tx->elts, s2.tx->elts, (size_t)s1.tx->nelts));
    }
    fz_pool_done(p);
    return 0;
}
