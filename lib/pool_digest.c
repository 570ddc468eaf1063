/* RFC 9530 digest fields.  Want-*-Digest is a Structured Fields dictionary
 * of algorithm = integer weight 0..10; only an explicit sha-256=0 keeps our
 * digest out, since a digest sent unasked is allowed (RFC 9530 §3). */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "pool_digest.h"
#include "pool_util.h"

/* The base64 of a SHA-256 given as 64 hex digits, or NULL. */
static const char *b64_of_hex(apr_pool_t *p, const char *hex)
{
    unsigned char bin[32];
    int i;

    if (!hex || strlen(hex) != 64) {
        return NULL;
    }
    for (i = 0; i < 32; i++) {
        int hi = pool_hexval((unsigned char)hex[2 * i]);
        int lo = pool_hexval((unsigned char)hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return NULL;
        }
        bin[i] = (unsigned char)(hi << 4 | lo);
    }
    return pool_b64_encode(p, bin, 32);
}

const char *pool_digest_field(apr_pool_t *p, const char *hex)
{
    const char *b = b64_of_hex(p, hex);

    return b ? apr_pstrcat(p, "sha-256=:", b, ":", NULL) : NULL;
}

const char *pool_digest_etag(apr_pool_t *p, const char *hex)
{
    const char *b = b64_of_hex(p, hex);

    return b ? apr_pstrcat(p, "\"", b, "\"", NULL) : NULL;
}

int pool_digest_sha256_wanted(const char *want)
{
    const char *s = want;

    if (!s) {
        return 1;
    }
    while (*s) {
        const char *key;
        apr_size_t klen;

        s += strspn(s, " \t,");
        if (!*s) {
            break;
        }
        key = s;
        klen = strcspn(s, "=,; \t");
        s += klen;
        if (klen == 7 && !strncasecmp(key, "sha-256", 7)) {
            s += strspn(s, " \t");
            /* a bare key is the boolean true: acceptable */
            if (*s != '=') {
                return 1;
            }
            s += 1 + strspn(s + 1, " \t");
            /* weight 0 (also "00", as sf-integer allows) refuses it */
            while (*s == '0') {
                s++;
            }
            return !(*s == '\0' || *s == ',' || *s == ';' || *s == ' '
                     || *s == '\t');
        }
        s += strcspn(s, ",");
    }
    return 1;
}

int pool_parse_content_digest(apr_pool_t *p, const char *h,
                              unsigned char want[32])
{
    const char *s = h;

    while (*s) {
        const char *key, *eq, *end;
        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        if (!*s) {
            break;
        }
        key = s;
        eq = strchr(s, '=');
        if (!eq) {
            return -1;
        }
        if (eq[1] == ':') {
            end = strchr(eq + 2, ':');
            if (!end) {
                return -1;
            }
        }
        else {
            end = eq + 1 + strcspn(eq + 1, ",");
        }
        if (eq - key == 7 && !strncasecmp(key, "sha-256", 7)) {
            unsigned char *bin;
            apr_ssize_t n;
            if (eq[1] != ':') {
                return -1;
            }
            n = pool_b64_decode(p, eq + 2, (apr_size_t)(end - eq - 2), &bin);
            if (n != 32) {
                return -1;
            }
            memcpy(want, bin, 32);
            return 1;
        }
        s = end + (*end == ':' ? 1 : 0);
        s += strcspn(s, ",");
    }
    return 0;
}
