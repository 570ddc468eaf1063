/* tus 1.0.0 header parsers, checksum algorithms and CORS origin lists. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "pool_tus.h"
#include "pool_util.h"

#define SIZE_DIGITS_MAX 18      /* below 2^63 whatever the digits */
#define PART_URL_MAX    2048
#define UUID_LEN        36

/* ------------------------------------------------------------- numbers */

int pool_tus_parse_size(const char *s, apr_off_t *out)
{
    apr_int64_t v = 0;
    apr_size_t n = 0;

    if (!s || !*s) {
        return -1;
    }
    for (; s[n]; n++) {
        if (!apr_isdigit(s[n]) || n >= SIZE_DIGITS_MAX) {
            return -1;
        }
        v = v * 10 + (s[n] - '0');
    }
    *out = (apr_off_t)v;
    return 0;
}

/* ------------------------------------------------------ Upload-Metadata */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int key_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != ',';
}

const char *pool_tus_parse_metadata(apr_pool_t *p, const char *h,
                                    apr_array_header_t **out)
{
    apr_array_header_t *md;
    const char *s = h, *q;

    if (!h) {
        return "no Upload-Metadata";
    }
    if (strlen(h) > POOL_TUS_META_MAX) {
        return apr_psprintf(p, "Upload-Metadata is longer than %d bytes",
                            POOL_TUS_META_MAX);
    }
    md = apr_array_make(p, 4, sizeof(pool_tus_meta_t));
    for (q = s; is_ows(*q); q++) {
    }
    if (!*q) {
        *out = md;              /* empty: no pairs */
        return NULL;
    }
    for (;;) {
        const char *start, *end, *next, *sp;
        pool_tus_meta_t *m;
        int i;

        start = s;
        next = s + strcspn(s, ",");
        end = next;
        while (start < end && is_ows(*start)) {
            start++;
        }
        while (end > start && is_ows(end[-1])) {
            end--;
        }
        if (start == end) {
            return "Upload-Metadata has an empty pair";
        }
        if (md->nelts >= POOL_TUS_META_MAX_PAIRS) {
            return apr_psprintf(p, "Upload-Metadata has more than %d pairs",
                                POOL_TUS_META_MAX_PAIRS);
        }
        for (sp = start; sp < end && *sp != ' '; sp++) {
            if (!key_char((unsigned char)*sp)) {
                return "an Upload-Metadata key holds a character other than "
                       "printable ASCII";
            }
        }
        if (sp - start > POOL_TUS_META_KEY_MAX) {
            return apr_psprintf(p, "an Upload-Metadata key is longer than %d "
                                "bytes", POOL_TUS_META_KEY_MAX);
        }
        m = apr_array_push(md);
        m->key = apr_pstrmemdup(p, start, (apr_size_t)(sp - start));
        m->has_value = 0;
        m->value = "";
        m->value_len = 0;
        if (sp < end) {
            unsigned char *v;
            apr_ssize_t n;

            sp++;               /* the one space between key and value */
            n = pool_b64_decode(p, sp, (apr_size_t)(end - sp), &v);
            if (n < 0) {
                return apr_psprintf(p, "the value of Upload-Metadata key "
                                    "'%s' is not base64", m->key);
            }
            m->has_value = 1;
            m->value = (const char *)v;
            m->value_len = (apr_size_t)n;
        }
        for (i = 0; i < md->nelts - 1; i++) {
            if (!strcmp(APR_ARRAY_IDX(md, i, pool_tus_meta_t).key, m->key)) {
                return apr_psprintf(p, "Upload-Metadata key '%s' appears "
                                    "twice", m->key);
            }
        }
        if (!*next) {
            break;
        }
        s = next + 1;
    }
    *out = md;
    return NULL;
}

const pool_tus_meta_t *pool_tus_meta_get(const apr_array_header_t *md,
                                         const char *key)
{
    int i;

    for (i = 0; md && i < md->nelts; i++) {
        const pool_tus_meta_t *m = &APR_ARRAY_IDX(md, i, pool_tus_meta_t);
        if (!strcmp(m->key, key)) {
            return m;
        }
    }
    return NULL;
}

/* The first of keys present, with *which set to it. */
static const pool_tus_meta_t *meta_first(const apr_array_header_t *md,
                                         const char *a, const char *b,
                                         const char **which)
{
    const pool_tus_meta_t *m = pool_tus_meta_get(md, a);

    *which = a;
    if (!m && b) {
        m = pool_tus_meta_get(md, b);
        *which = b;
    }
    return m;
}

const char *pool_tus_fields(apr_pool_t *p, const apr_array_header_t *md,
                            const char *default_name,
                            pool_file_fields_t *out, const char **field)
{
    const pool_tus_meta_t *name, *type, *ts;
    const char *name_key, *type_key, *ts_key, *why, *f = NULL;
    const char *nm, *ct = NULL, *t = NULL;
    apr_size_t nlen;

    name = meta_first(md, "filename", "name", &name_key);
    type = meta_first(md, "filetype", "content-type", &type_key);
    ts = meta_first(md, "ts", NULL, &ts_key);

    if (name) {
        if (!name->has_value) {
            *field = name_key;
            return apr_psprintf(p, "Upload-Metadata key '%s' needs a value",
                                name_key);
        }
        nm = name->value;
        nlen = name->value_len;
    }
    else {
        nm = default_name;
        nlen = strlen(default_name);
    }
    if (type && type->value_len) {
        if (strlen(type->value) != type->value_len) {
            *field = type_key;
            return "bad content type: it contains a NUL character";
        }
        ct = type->value;
    }
    if (ts) {
        if (!ts->has_value || strlen(ts->value) != ts->value_len) {
            *field = ts_key;
            return "ts must be an RFC 3339 timestamp (2026-11-21T10:15:00Z) "
                   "or Unix seconds";
        }
        t = ts->value;
    }
    why = pool_fields_check(p, nm, nlen, t, ct, out, &f);
    if (why) {
        *field = !f ? "filename"
               : !strcmp(f, "name") ? name_key
               : !strcmp(f, "ts") ? ts_key
               : !strcmp(f, "content_type") ? type_key : f;
        return why;
    }
    *field = NULL;
    return NULL;
}

/* ------------------------------------------------------ Upload-Checksum */

static const struct {
    const char *name;
    apr_size_t len;
} algos[] = {
    { "sha1", 20 },
    { "sha256", 32 },
    { "md5", 16 },
};

const char *pool_tus_algo_name(pool_tus_algo a)
{
    return (unsigned)a < sizeof(algos) / sizeof(algos[0]) ? algos[a].name
                                                          : "?";
}

int pool_tus_parse_checksum(apr_pool_t *p, const char *h,
                            pool_tus_checksum_t *out, const char **why)
{
    const char *sp, *s = h;
    apr_size_t alen, i;
    unsigned char *bin;
    apr_ssize_t n;

    if (!h) {
        *why = "no Upload-Checksum";
        return -1;
    }
    while (is_ows(*s)) {
        s++;
    }
    sp = strchr(s, ' ');
    if (!sp || sp == s) {
        *why = "Upload-Checksum must be '<algorithm> <base64 digest>'";
        return -1;
    }
    alen = (apr_size_t)(sp - s);
    for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
        if (strlen(algos[i].name) == alen && !strncasecmp(s, algos[i].name,
                                                          alen)) {
            break;
        }
    }
    if (i == sizeof(algos) / sizeof(algos[0])) {
        apr_size_t show = alen > 32 ? 32 : alen, k;
        char *a = apr_pstrmemdup(p, s, show);

        for (k = 0; k < show; k++) {
            if (!apr_isgraph(a[k])) {
                a[k] = '?';
            }
        }
        *why = apr_psprintf(p, "unsupported Upload-Checksum algorithm '%s' "
                            "(supported: " POOL_TUS_ALGORITHMS ")", a);
        return -2;
    }
    s = sp + 1;
    alen = strlen(s);
    while (alen > 0 && is_ows(s[alen - 1])) {
        alen--;
    }
    if (alen > 64) {
        *why = "the Upload-Checksum digest is too long";
        return -1;
    }
    n = pool_b64_decode(p, s, alen, &bin);
    if (n < 0 || (apr_size_t)n != algos[i].len) {
        *why = apr_psprintf(p, "the Upload-Checksum digest is not the base64 "
                            "of a %s digest (%d bytes)", algos[i].name,
                            (int)algos[i].len);
        return -1;
    }
    out->algo = (pool_tus_algo)i;
    out->len = algos[i].len;
    memcpy(out->digest, bin, out->len);
    return 0;
}

struct pool_tus_hash {
    EVP_MD_CTX *md;
    pool_tus_algo algo;
};

static apr_status_t hash_cleanup(void *data)
{
    pool_tus_hash *h = data;

    if (h->md) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
    }
    return APR_SUCCESS;
}

pool_tus_hash *pool_tus_hash_new(apr_pool_t *p, pool_tus_algo a)
{
    pool_tus_hash *h = apr_pcalloc(p, sizeof(*h));
    const EVP_MD *type = a == POOL_TUS_SHA1 ? EVP_sha1()
                       : a == POOL_TUS_MD5 ? EVP_md5() : EVP_sha256();

    h->algo = a;
    h->md = EVP_MD_CTX_new();
    if (!h->md) {
        return NULL;
    }
    apr_pool_cleanup_register(p, h, hash_cleanup, apr_pool_cleanup_null);
    if (EVP_DigestInit_ex(h->md, type, NULL) != 1) {
        return NULL;
    }
    return h;
}

void pool_tus_hash_update(pool_tus_hash *h, const void *d, apr_size_t n)
{
    if (h && h->md && n) {
        EVP_DigestUpdate(h->md, d, n);
    }
}

int pool_tus_hash_matches(pool_tus_hash *h, const pool_tus_checksum_t *want)
{
    unsigned char got[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!h || !h->md || h->algo != want->algo
        || EVP_DigestFinal_ex(h->md, got, &len) != 1) {
        return 0;
    }
    return len == want->len && pool_ct_equal(got, want->digest, len);
}

/* ------------------------------------------------------- Upload-Concat */

const char *pool_tus_parse_concat(apr_pool_t *p, const char *h,
                                  pool_tus_concat_kind *kind,
                                  apr_array_header_t **urls)
{
    const char *s;

    *urls = NULL;
    if (!h) {
        return "no Upload-Concat";
    }
    if (!strcmp(h, "partial")) {
        *kind = POOL_TUS_CONCAT_PARTIAL;
        return NULL;
    }
    if (strncmp(h, "final;", 6)) {
        return "Upload-Concat must be 'partial' or 'final;<URL> <URL> ...'";
    }
    *kind = POOL_TUS_CONCAT_FINAL;
    *urls = apr_array_make(p, 4, sizeof(const char *));
    s = h + 6;
    for (;;) {
        const char *e;

        while (*s == ' ') {
            s++;
        }
        if (!*s) {
            break;
        }
        for (e = s; *e && *e != ' '; e++) {
            if ((unsigned char)*e <= 0x20 || (unsigned char)*e >= 0x7f) {
                return "an Upload-Concat URL holds a character other than "
                       "printable ASCII";
            }
        }
        if (e - s > PART_URL_MAX) {
            return "an Upload-Concat URL is too long";
        }
        if ((*urls)->nelts >= POOL_TUS_CONCAT_MAX) {
            return apr_psprintf(p, "Upload-Concat names more than %d partial "
                                "uploads", POOL_TUS_CONCAT_MAX);
        }
        APR_ARRAY_PUSH(*urls, const char *) =
            apr_pstrmemdup(p, s, (apr_size_t)(e - s));
        s = e;
    }
    if ((*urls)->nelts == 0) {
        return "Upload-Concat: final names no partial upload";
    }
    return NULL;
}

const char *pool_tus_part_id(apr_pool_t *p, const char *url,
                             const char *pool)
{
    const char *path = url, *mid, *id;
    apr_size_t plen, mlen;

    if (!url || !pool || strpbrk(url, "?#")) {
        return NULL;
    }
    if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) {
        const char *host = strstr(url, "//") + 2;
        path = strchr(host, '/');
        if (!path || path == host) {
            return NULL;
        }
    }
    if (*path != '/') {
        return NULL;
    }
    mid = apr_pstrcat(p, "/v1/pools/", pool, "/uploads/", NULL);
    mlen = strlen(mid);
    plen = strlen(path);
    if (plen < mlen + UUID_LEN) {
        return NULL;
    }
    id = path + plen - UUID_LEN;
    if (memcmp(id - mlen, mid, mlen) || !pool_uuid_valid(id)) {
        return NULL;
    }
    return apr_pstrdup(p, id);
}

/* --------------------------------------------------------------- CORS */

int pool_cors_allowed(const char *list, const char *origin)
{
    const char *s = list;
    apr_size_t olen;

    if (!list || !origin || !*origin) {
        return 0;
    }
    olen = strlen(origin);
    while (*s) {
        const char *e;

        while (*s == ' ' || *s == '\t') {
            s++;
        }
        e = s;
        while (*e && *e != ' ' && *e != '\t') {
            e++;
        }
        if (e - s == 1 && *s == '*') {
            return 1;
        }
        if ((apr_size_t)(e - s) == olen && !strncasecmp(s, origin, olen)) {
            return 1;
        }
        s = e;
    }
    return 0;
}
