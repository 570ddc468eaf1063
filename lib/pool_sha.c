/* pool_sha.h: SHA-256 with a state saved as text. */
#define OPENSSL_SUPPRESS_DEPRECATED 1   /* SHA256_CTX: the only saveable state */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_strings.h>
#include <openssl/sha.h>

#include "pool_sha.h"
#include "pool_util.h"

#define PREFIX "s256v1:"

struct pool_sha_run {
    SHA256_CTX ctx;
};

pool_sha_run *pool_sha_run_new(apr_pool_t *p)
{
    pool_sha_run *h = apr_pcalloc(p, sizeof(*h));

    SHA256_Init(&h->ctx);
    return h;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

pool_sha_run *pool_sha_run_load(apr_pool_t *p, const char *saved)
{
    pool_sha_run *h;
    unsigned char *b;
    const char *s;
    char *end;
    unsigned long n;
    apr_size_t i;

    if (!saved || strncmp(saved, PREFIX, sizeof(PREFIX) - 1)) {
        return NULL;
    }
    s = saved + sizeof(PREFIX) - 1;
    n = strtoul(s, &end, 10);
    if (end == s || *end != ':' || n != sizeof(SHA256_CTX)
        || strlen(end + 1) != 2 * n) {
        return NULL;
    }
    s = end + 1;
    h = apr_pcalloc(p, sizeof(*h));
    b = (unsigned char *)&h->ctx;
    for (i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return NULL;
        }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    /* the fields that index into the block must be in range */
    if (h->ctx.num >= SHA256_CBLOCK || h->ctx.md_len != SHA256_DIGEST_LENGTH) {
        return NULL;
    }
    return h;
}

void pool_sha_run_update(pool_sha_run *h, const void *d, apr_size_t n)
{
    SHA256_Update(&h->ctx, d, n);
}

const char *pool_sha_run_save(apr_pool_t *p, const pool_sha_run *h)
{
    return apr_psprintf(p, PREFIX "%lu:%s", (unsigned long)sizeof(h->ctx),
                        pool_hex(p, (const unsigned char *)&h->ctx,
                                 sizeof(h->ctx)));
}

void pool_sha_run_final(const pool_sha_run *h, unsigned char out[32])
{
    SHA256_CTX copy = h->ctx;

    SHA256_Final(out, &copy);
}
