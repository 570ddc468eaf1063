/* bench/load-gen/loadgen.c -- the load generator of bench/load.
 *
 * One process, one thread: libcurl's multi interface driven by epoll
 * (curl_multi_socket_action), so that a thousand keep-alive connections
 * cost the client little CPU.  Built by bench/load:
 *
 *     cc -O2 -o loadgen loadgen.c $(pkg-config --cflags --libs libcurl openssl)
 *
 * Two modes:
 *
 *   loadgen run BASE POOL CLIENTS_FILE OUT_DIR
 *       Environment: LOAD_CLIENTS (connections, 1000), LOAD_SECONDS (60),
 *       LOAD_MIX ("put=40,get=40,tus=10,token=10"), LOAD_SIZE (100000),
 *       LOAD_TUS_CHUNKS (2), LOAD_RAMP (seconds to open all connections, 2),
 *       LOAD_DRAIN (seconds to wait for requests in flight at the end, 120),
 *       LOAD_GET_HASH_EVERY (every Nth GET body is hashed, 10).
 *       CLIENTS_FILE: one "client_id secret token" line per API client;
 *       connection i uses client i % n (its token; its secret for token
 *       requests).  Each connection runs one operation after the other,
 *       with no pause, chosen at random by the weights of LOAD_MIX:
 *         put   PUT .../files/{name} of SIZE bytes (201 acknowledges)
 *         get   GET .../files/{id} of an acknowledged file (ETag compared
 *               with the SHA-256 sent; every Nth body hashed too)
 *         tus   POST .../uploads (Upload-Length), then LOAD_TUS_CHUNKS
 *               PATCHes; the last one's 204 with Pool-File-Id acknowledges
 *         token POST /pool/v1/token, HTTP Basic, grant_type=client_credentials
 *       Every body is SIZE bytes: one random block shared by all uploads,
 *       with a 32-byte unique tail, so every file is distinct and its
 *       SHA-256 costs the client only the tail.
 *       Writes OUT_DIR/acks.txt ("put|tus ID SHA256 SIZE" per acknowledged
 *       upload), OUT_DIR/summary.txt ("key value" lines for the script) and
 *       prints the report table on stdout.
 *
 *   loadgen verify BASE POOL TOKEN ACKS_FILE OUT_DIR
 *       Downloads every acknowledged file (LOAD_VERIFY_CONNS connections,
 *       16) and compares its SHA-256 and size with the acknowledgement;
 *       writes OUT_DIR/verify.txt (key value) and lists failures on stderr.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define TAIL 32

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    char *end;
    long n;
    if (!v || !*v)
        return def;
    n = strtol(v, &end, 10);
    if (*end || n < 0)
        die("%s: not a number: %s", name, v);
    return n;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char x[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = 0;
}

/* The server's ETag of bytes whose SHA-256 is sha (64 hex digits): the
 * digest in base64, quoted.  A static buffer: one caller at a time. */
static const char *etag_of(const char *sha)
{
    static char out[48];
    unsigned char bin[32];
    int i;

    for (i = 0; i < 32; i++) {
        unsigned int v;
        if (sscanf(sha + 2 * i, "%2x", &v) != 1)
            return "";
        bin[i] = (unsigned char)v;
    }
    out[0] = '"';
    EVP_EncodeBlock((unsigned char *)out + 1, bin, 32);
    strcat(out, "\"");
    return out;
}

/* value of "key":"..." in a small JSON document (the API's answers are
 * flat enough for this); 0 when not found */
static int json_str(const char *doc, const char *key, char *out, size_t outsz)
{
    char pat[64];
    const char *p, *e;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = strstr(doc, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"')
        return 0;
    p++;
    e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= outsz)
        return 0;
    memcpy(out, p, e - p);
    out[e - p] = 0;
    return 1;
}

/* ------------------------------------------------------------------ stats */
enum { R_PUT, R_GET, R_TUS_POST, R_TUS_PATCH, R_TOKEN, R_TUS_UPLOAD, NREQ };
static const char *req_name[NREQ] = {
    "PUT", "GET", "tus POST", "tus PATCH", "token", "tus upload"
};
static const char *req_key[NREQ] = {
    "put", "get", "tus_post", "tus_patch", "token", "tus_upload"
};

struct lat { double *v; size_t n, cap; };
static struct lat lat[NREQ];
static long status_n[NREQ][600];
static long xfer_err[NREQ];          /* transport errors (no HTTP answer) */
static long xfer_retried[NREQ];      /* sent again on a new connection */
static long retry_err_n[100];        /* by CURLcode of the first attempt */
static long curl_err_n[100];         /* by CURLcode */
static double bytes_up[NREQ], bytes_down[NREQ];
static long ok2xx[NREQ];
static long n503_no_ra, n503_ra;
static long conns_opened;
static long get_size_bad, get_etag_bad, get_hash_bad, get_hashed;
static long put_sha_bad;             /* 201 whose sha256 is not what was sent */
static long tus_abandoned, tus_offset_bad, tus_noid;
static long aborted_at_end;

static void lat_add(int r, double ms)
{
    struct lat *l = &lat[r];
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof(double));
        if (!l->v)
            die("out of memory");
    }
    l->v[l->n++] = ms;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(struct lat *l, double p)
{
    size_t k;
    if (!l->n)
        return 0;
    k = (size_t)(p / 100.0 * l->n);
    if ((double)k < p / 100.0 * l->n)
        k++;
    if (k < 1)
        k = 1;
    return l->v[k - 1];
}

/* ------------------------------------------------------------------ data */
struct client { char *id, *secret, *token; };
static struct client *clients;
static int nclients;

struct ack { char id[40]; char sha[65]; };
static struct ack *acks;
static size_t nacks, acks_cap;
static FILE *acks_f;

static void ack_add(const char *kind, const char *id, const char *sha, long size)
{
    if (nacks == acks_cap) {
        acks_cap = acks_cap ? acks_cap * 2 : 4096;
        acks = realloc(acks, acks_cap * sizeof(*acks));
        if (!acks)
            die("out of memory");
    }
    snprintf(acks[nacks].id, sizeof acks[nacks].id, "%s", id);
    snprintf(acks[nacks].sha, sizeof acks[nacks].sha, "%s", sha);
    nacks++;
    fprintf(acks_f, "%s %s %s %ld\n", kind, id, sha, size);
}

static unsigned char *block;         /* SIZE - TAIL random bytes */
static long body_size;
static EVP_MD_CTX *block_ctx;        /* SHA-256 state after the block */

/* ------------------------------------------------------------------ slots */
enum { OP_PUT, OP_GET, OP_TUS, OP_TOKEN, NOPS };
static const char *op_key[NOPS] = { "put", "get", "tus", "token" };
static int mix[NOPS], mix_total;

struct slot {
    int idx, client, op, req, phase, active, retrying;
    CURL *h;
    struct curl_slist *hdrs;
    double t_req, t_op;
    long seq;
    char tail[TAIL + 1];
    char sha[65];
    char name[64];
    char url[512];
    long rd_start, rd_off, rd_end;   /* what the read callback sends */
    char resp[8192];
    size_t resp_len;
    long got;
    int hashing;
    EVP_MD_CTX *md;
    size_t get_ack;
    char errbuf[CURL_ERROR_SIZE];
};

static struct slot *slots;
static int nslots, nactive;
static CURLM *multi;
static int epfd;
static double timer_at = -1;
static const char *base, *pool;
static int stopping;
static long get_hash_every, get_count;
static int tus_chunks;
static long req_timeout;

static size_t rd_cb(char *buf, size_t sz, size_t nm, void *p)
{
    struct slot *s = p;
    size_t want = sz * nm, n = 0;
    while (n < want && s->rd_off < s->rd_end) {
        long blen = body_size - TAIL;
        size_t k;
        if (s->rd_off < blen) {
            k = blen - s->rd_off;
            if (k > want - n)
                k = want - n;
            if ((long)k > s->rd_end - s->rd_off)
                k = s->rd_end - s->rd_off;
            memcpy(buf + n, block + s->rd_off, k);
        } else {
            k = body_size - s->rd_off;
            if (k > want - n)
                k = want - n;
            if ((long)k > s->rd_end - s->rd_off)
                k = s->rd_end - s->rd_off;
            memcpy(buf + n, s->tail + (s->rd_off - blen), k);
        }
        n += k;
        s->rd_off += k;
    }
    return n;
}

/* libcurl rewinds the body when it sends the request again on a new
 * connection (the reused one was closed by the server meanwhile) */
static int seek_cb(void *p, curl_off_t off, int origin)
{
    struct slot *s = p;
    if (origin != SEEK_SET || off < 0 || s->rd_start + off > s->rd_end)
        return CURL_SEEKFUNC_CANTSEEK;
    s->rd_off = s->rd_start + (long)off;
    return CURL_SEEKFUNC_OK;
}

static size_t wr_cb(char *buf, size_t sz, size_t nm, void *p)
{
    struct slot *s = p;
    size_t n = sz * nm;
    if (s->req == R_GET) {
        s->got += n;
        if (s->hashing)
            EVP_DigestUpdate(s->md, buf, n);
        return n;
    }
    if (s->resp_len + n < sizeof s->resp) {
        memcpy(s->resp + s->resp_len, buf, n);
        s->resp_len += n;
        s->resp[s->resp_len] = 0;
    }
    return n;
}

static const char *header(CURL *h, const char *name)
{
    struct curl_header *hd;
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) == CURLHE_OK)
        return hd->value;
    return NULL;
}

static void new_body(struct slot *s)
{
    unsigned char d[32];
    unsigned int dl;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    char t[80];
    /* 32 bytes, unique per upload: connection, sequence, random */
    snprintf(t, sizeof t, "%05d-%09ld-%015llx", s->idx % 100000,
             s->seq % 1000000000L,
             (unsigned long long)(rnd() & 0xfffffffffffffULL));
    memcpy(s->tail, t, TAIL - 1);
    s->tail[TAIL - 1] = '\n';
    s->tail[TAIL] = 0;
    EVP_MD_CTX_copy_ex(c, block_ctx);
    EVP_DigestUpdate(c, s->tail, TAIL);
    EVP_DigestFinal_ex(c, d, &dl);
    EVP_MD_CTX_free(c);
    hex(d, 32, s->sha);
}

static void add_hdr(struct slot *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->hdrs = curl_slist_append(s->hdrs, line);
}

static void common(struct slot *s)
{
    CURL *h = s->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wr_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, req_timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    s->errbuf[0] = 0;
    s->resp_len = 0;
    s->resp[0] = 0;
    s->got = 0;
    s->hashing = 0;
    if (s->hdrs) {
        curl_slist_free_all(s->hdrs);
        s->hdrs = NULL;
    }
}

static void bearer(struct slot *s)
{
    add_hdr(s, "Authorization: Bearer %s", clients[s->client].token);
}

static void launch(struct slot *s)
{
    CURL *h = s->h;
    CURLMcode mc;
    common(s);
    switch (s->req) {
    case R_PUT:
        snprintf(s->url, sizeof s->url, "%s/pool/v1/pools/%s/files/%s", base,
                 pool, s->name);
        bearer(s);
        add_hdr(s, "Content-Type: application/octet-stream");
        add_hdr(s, "Expect:");
        s->rd_start = s->rd_off = 0;
        s->rd_end = body_size;
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, s);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_size);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, rd_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, s);
        break;
    case R_GET:
        snprintf(s->url, sizeof s->url, "%s/pool/v1/pools/%s/files/%s", base,
                 pool, acks[s->get_ack].id);
        bearer(s);
        if (get_hash_every && (++get_count % get_hash_every) == 0) {
            s->hashing = 1;
            EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
        }
        break;
    case R_TUS_POST: {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char enc[128];
        size_t i, n = strlen(s->name), o = 0;
        for (i = 0; i < n; i += 3) {
            unsigned v = (unsigned char)s->name[i] << 16;
            if (i + 1 < n) v |= (unsigned char)s->name[i + 1] << 8;
            if (i + 2 < n) v |= (unsigned char)s->name[i + 2];
            enc[o++] = b64[(v >> 18) & 63];
            enc[o++] = b64[(v >> 12) & 63];
            enc[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
            enc[o++] = i + 2 < n ? b64[v & 63] : '=';
        }
        enc[o] = 0;
        snprintf(s->url, sizeof s->url, "%s/pool/v1/pools/%s/uploads", base, pool);
        bearer(s);
        add_hdr(s, "Tus-Resumable: 1.0.0");
        add_hdr(s, "Upload-Length: %ld", body_size);
        add_hdr(s, "Upload-Metadata: filename %s", enc);
        add_hdr(s, "Content-Type:");
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        break;
    }
    case R_TUS_PATCH: {
        long chunk = (body_size + tus_chunks - 1) / tus_chunks;
        long off = (long)(s->phase - 1) * chunk;
        long end = off + chunk > body_size ? body_size : off + chunk;
        bearer(s);
        add_hdr(s, "Tus-Resumable: 1.0.0");
        add_hdr(s, "Upload-Offset: %ld", off);
        add_hdr(s, "Content-Type: application/offset+octet-stream");
        add_hdr(s, "Expect:");
        s->rd_start = s->rd_off = off;
        s->rd_end = end;
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, s);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(end - off));
        curl_easy_setopt(h, CURLOPT_READFUNCTION, rd_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, s);
        break;
    }
    case R_TOKEN:
        snprintf(s->url, sizeof s->url, "%s/pool/v1/token", base);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, clients[s->client].id);
        curl_easy_setopt(h, CURLOPT_PASSWORD, clients[s->client].secret);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
        break;
    }
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    if (s->hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdrs);
    if (s->retrying)
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);   /* latency from the first try */
    else
        s->t_req = now_s();
    mc = curl_multi_add_handle(multi, h);
    if (mc != CURLM_OK)
        die("curl_multi_add_handle: %s", curl_multi_strerror(mc));
}

/* the next operation of a connection */
static void next_op(struct slot *s)
{
    int r = (int)(rnd() % (uint64_t)mix_total), op = 0;
    while (r >= mix[op]) {
        r -= mix[op];
        op++;
    }
    if (op == OP_GET && nacks == 0)
        op = OP_PUT;                 /* nothing to read yet */
    s->op = op;
    s->seq++;
    s->t_op = now_s();
    switch (op) {
    case OP_PUT:
        s->req = R_PUT;
        snprintf(s->name, sizeof s->name, "p-%d-%ld.bin", s->idx, s->seq);
        new_body(s);
        break;
    case OP_GET:
        s->req = R_GET;
        s->get_ack = (size_t)(rnd() % nacks);
        break;
    case OP_TUS:
        s->req = R_TUS_POST;
        s->phase = 0;
        snprintf(s->name, sizeof s->name, "t-%d-%ld.bin", s->idx, s->seq);
        new_body(s);
        break;
    default:
        s->req = R_TOKEN;
        break;
    }
    launch(s);
}

/* a finished request; returns 1 when the connection goes on with the
 * same operation (the next PATCH of a tus upload) */
static int finish(struct slot *s, CURLcode cc)
{
    CURL *h = s->h;
    long st = 0;
    curl_off_t up = 0, down = 0;
    long nc = 0;
    double ms = (now_s() - s->t_req) * 1000.0;
    int r = s->req;

    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
    conns_opened += nc;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
    bytes_up[r] += up;
    bytes_down[r] += down;
    if (cc != CURLE_OK) {
        long hdr = 0;
        curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &hdr);
        /* The server closed a kept-alive connection while this request was
         * being sent on it (httpd's event MPM closes idle keep-alive
         * connections when a child has no idle worker): nothing was
         * answered, the connection was not new.  Send it again once on a
         * new connection, as HTTP clients do (RFC 9112 9.3.1). */
        if (!s->retrying && nc == 0 && hdr == 0
            && (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING)) {
            xfer_retried[r]++;
            retry_err_n[cc < 100 ? cc : 99]++;
            s->retrying = 1;
            return 1;
        }
        s->retrying = 0;
        xfer_err[r]++;
        curl_err_n[cc < 100 ? cc : 99]++;
        if (xfer_err[r] <= 5)
            fprintf(stderr, "loadgen: %s %s: %s (%s)\n", req_name[r], s->url,
                    curl_easy_strerror(cc), s->errbuf);
        if (r == R_TUS_POST || r == R_TUS_PATCH)
            tus_abandoned++;
        return 0;
    }
    s->retrying = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    lat_add(r, ms);
    if (st < 0 || st > 599)
        st = 0;
    status_n[r][st]++;
    if (st == 503) {
        if (header(h, "Retry-After"))
            n503_ra++;
        else
            n503_no_ra++;
    }
    if (st >= 200 && st < 300)
        ok2xx[r]++;
    else if (status_n[r][st] <= 3)
        fprintf(stderr, "loadgen: %s %s: HTTP %ld %.300s\n", req_name[r], s->url,
                st, s->resp);

    switch (r) {
    case R_PUT:
        if (st == 201) {
            char id[64], sha[80];
            if (!json_str(s->resp, "id", id, sizeof id)
                || !json_str(s->resp, "sha256", sha, sizeof sha)) {
                fprintf(stderr, "loadgen: PUT 201 without id/sha256: %.300s\n", s->resp);
                put_sha_bad++;
            } else {
                if (strcmp(sha, s->sha) != 0) {
                    put_sha_bad++;
                    fprintf(stderr, "loadgen: PUT %s: 201 with sha256 %s, sent %s\n",
                            id, sha, s->sha);
                }
                ack_add("put", id, s->sha, body_size);
            }
        }
        return 0;
    case R_GET: {
        const char *et = header(h, "ETag");
        if (st != 200)
            return 0;
        if (s->got != body_size)
            get_size_bad++;
        if (!et || strcmp(et, etag_of(acks[s->get_ack].sha)) != 0) {
            if (get_etag_bad++ < 3)
                fprintf(stderr, "loadgen: GET %s: ETag %s, want \"%s\"\n",
                        acks[s->get_ack].id, et ? et : "(none)", acks[s->get_ack].sha);
        }
        if (s->hashing) {
            unsigned char d[32];
            unsigned int dl;
            char hx[65];
            EVP_DigestFinal_ex(s->md, d, &dl);
            hex(d, 32, hx);
            get_hashed++;
            if (strcmp(hx, acks[s->get_ack].sha) != 0) {
                if (get_hash_bad++ < 3)
                    fprintf(stderr, "loadgen: GET %s: body sha256 %s, want %s\n",
                            acks[s->get_ack].id, hx, acks[s->get_ack].sha);
            }
        }
        return 0;
    }
    case R_TUS_POST: {
        const char *loc = header(h, "Location");
        if (st != 201 || !loc) {
            tus_abandoned++;
            return 0;
        }
        if (strncmp(loc, "http", 4) == 0)
            snprintf(s->url, sizeof s->url, "%s", loc);
        else
            snprintf(s->url, sizeof s->url, "%s%s", base, loc);
        s->phase = 1;
        s->req = R_TUS_PATCH;
        return 1;
    }
    case R_TUS_PATCH: {
        const char *off = header(h, "Upload-Offset");
        long chunk = (body_size + tus_chunks - 1) / tus_chunks;
        long want = (long)s->phase * chunk;
        if (want > body_size)
            want = body_size;
        if (st != 204) {
            tus_abandoned++;
            return 0;
        }
        if (!off || atol(off) != want) {
            tus_offset_bad++;
            tus_abandoned++;
            return 0;
        }
        if (s->phase < tus_chunks) {
            s->phase++;
            return 1;
        }
        {
            const char *id = header(h, "Pool-File-Id");
            if (!id) {
                tus_noid++;
                return 0;
            }
            ack_add("tus", id, s->sha, body_size);
            lat_add(R_TUS_UPLOAD, (now_s() - s->t_op) * 1000.0);
            status_n[R_TUS_UPLOAD][204]++;
            ok2xx[R_TUS_UPLOAD]++;
            bytes_up[R_TUS_UPLOAD] += body_size;
        }
        return 0;
    }
    case R_TOKEN:
        if (st == 200) {
            char tok[2048];
            if (json_str(s->resp, "access_token", tok, sizeof tok)) {
                free(clients[s->client].token);
                clients[s->client].token = strdup(tok);
            } else {
                fprintf(stderr, "loadgen: token 200 without access_token\n");
            }
        }
        return 0;
    }
    return 0;
}

static void check_done(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        struct slot *s;
        CURLcode cc;
        if (m->msg != CURLMSG_DONE)
            continue;
        cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        curl_multi_remove_handle(multi, s->h);
        if (finish(s, cc)) {
            launch(s);               /* the same tus upload goes on */
        } else if (stopping) {
            s->active = 0;
            nactive--;
        } else {
            next_op(s);
        }
    }
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *cbp, void *sockp)
{
    struct epoll_event ev;
    (void)e; (void)cbp; (void)sockp;
    memset(&ev, 0, sizeof ev);
    ev.data.fd = fd;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0)
              | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
        if (errno != ENOENT || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl(%d): %s", fd, strerror(errno));
    }
    return 0;
}

static int timer_cb(CURLM *m, long ms, void *p)
{
    (void)m; (void)p;
    timer_at = ms < 0 ? -1 : now_s() + ms / 1000.0;
    return 0;
}

static void parse_mix(const char *s)
{
    char *copy = strdup(s), *tok, *save = NULL;
    int i;
    memset(mix, 0, sizeof mix);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int found = 0;
        while (isspace((unsigned char)*tok))
            tok++;
        if (!eq)
            die("LOAD_MIX: %s: want op=weight", tok);
        *eq = 0;
        for (i = 0; i < NOPS; i++) {
            if (strcmp(tok, op_key[i]) == 0) {
                mix[i] = atoi(eq + 1);
                found = 1;
            }
        }
        if (!found)
            die("LOAD_MIX: unknown operation %s (put, get, tus, token)", tok);
    }
    free(copy);
    mix_total = 0;
    for (i = 0; i < NOPS; i++)
        mix_total += mix[i];
    if (mix_total <= 0)
        die("LOAD_MIX: all weights are 0");
}

static void read_clients(const char *path)
{
    FILE *f = fopen(path, "r");
    char id[256], sec[256], tok[4096];
    if (!f)
        die("%s: %s", path, strerror(errno));
    while (fscanf(f, "%255s %255s %4095s", id, sec, tok) == 3) {
        clients = realloc(clients, (nclients + 1) * sizeof(*clients));
        clients[nclients].id = strdup(id);
        clients[nclients].secret = strdup(sec);
        clients[nclients].token = strdup(tok);
        nclients++;
    }
    fclose(f);
    if (!nclients)
        die("%s: no clients", path);
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
         + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmd_run(int argc, char **argv)
{
    const char *mixs, *outdir;
    long seconds, ramp, drain;
    double t0, tdead, tend, tlast = 0, cpu0;
    int started = 0, i;
    struct epoll_event evs[1024];
    char path[1024];
    FILE *sf;
    long total_req = 0;

    if (argc != 6)
        die("usage: loadgen run BASE POOL CLIENTS_FILE OUT_DIR");
    base = argv[2];
    pool = argv[3];
    outdir = argv[5];
    read_clients(argv[4]);
    nslots = (int)env_long("LOAD_CLIENTS", 1000);
    seconds = env_long("LOAD_SECONDS", 60);
    ramp = env_long("LOAD_RAMP", 2);
    drain = env_long("LOAD_DRAIN", 120);
    body_size = env_long("LOAD_SIZE", 100000);
    tus_chunks = (int)env_long("LOAD_TUS_CHUNKS", 2);
    get_hash_every = env_long("LOAD_GET_HASH_EVERY", 10);
    req_timeout = env_long("LOAD_REQ_TIMEOUT", 300);
    mixs = getenv("LOAD_MIX");
    parse_mix(mixs && *mixs ? mixs : "put=40,get=40,tus=10,token=10");
    if (nslots < 1 || body_size <= TAIL || tus_chunks < 1)
        die("bad LOAD_CLIENTS / LOAD_SIZE / LOAD_TUS_CHUNKS");
    rng_state ^= (uint64_t)getpid() * 2654435761ULL ^ (uint64_t)time(NULL);

    /* the shared block, and the SHA-256 state after it */
    block = malloc(body_size);
    {
        int fd = open("/dev/urandom", O_RDONLY);
        long n = 0;
        if (fd < 0)
            die("/dev/urandom: %s", strerror(errno));
        while (n < body_size - TAIL) {
            ssize_t k = read(fd, block + n, body_size - TAIL - n);
            if (k <= 0)
                die("/dev/urandom: short read");
            n += k;
        }
        close(fd);
    }
    block_ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(block_ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(block_ctx, block, body_size - TAIL);

    snprintf(path, sizeof path, "%s/acks.txt", outdir);
    acks_f = fopen(path, "w");
    if (!acks_f)
        die("%s: %s", path, strerror(errno));

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    /* keep every connection: one per slot, never closed by the client */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)nslots + 16);
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);

    slots = calloc(nslots, sizeof(*slots));
    for (i = 0; i < nslots; i++) {
        slots[i].idx = i;
        slots[i].client = i % nclients;
        slots[i].h = curl_easy_init();
        slots[i].md = EVP_MD_CTX_new();
        if (!slots[i].h || !slots[i].md)
            die("curl_easy_init failed");
    }

    cpu0 = cpu_self();
    t0 = now_s();
    tdead = t0 + seconds;
    fprintf(stderr, "loadgen: %d connections (%d API clients), %ld s, mix %s, %ld-byte bodies\n",
            nslots, nclients, seconds, mixs && *mixs ? mixs : "put=40,get=40,tus=10,token=10",
            body_size);
    for (;;) {
        double now = now_s(), next = now + 1.0;
        int n, timeout_ms;

        /* open the connections over the first LOAD_RAMP seconds */
        while (!stopping && started < nslots
               && (ramp == 0 || now >= t0 + (double)ramp * started / nslots)) {
            slots[started].active = 1;
            nactive++;
            next_op(&slots[started]);
            started++;
        }
        if (started < nslots && !stopping)
            next = t0 + (double)ramp * started / nslots;
        if (!stopping && now >= tdead) {
            stopping = 1;
            fprintf(stderr, "loadgen: %ld s are up; waiting for %d requests in flight\n",
                    seconds, nactive);
        }
        if (stopping && nactive == 0)
            break;
        if (stopping && now >= tdead + drain) {
            for (i = 0; i < nslots; i++) {
                if (slots[i].active) {
                    curl_multi_remove_handle(multi, slots[i].h);
                    slots[i].active = 0;
                    aborted_at_end++;
                }
            }
            fprintf(stderr, "loadgen: %ld requests still in flight after %ld s: aborted\n",
                    aborted_at_end, drain);
            break;
        }
        if (!stopping && tdead < next)
            next = tdead;
        if (timer_at >= 0 && timer_at < next)
            next = timer_at;
        timeout_ms = (int)((next - now) * 1000.0 + 0.999);
        if (timeout_ms < 0)
            timeout_ms = 0;
        n = epoll_wait(epfd, evs, 1024, timeout_ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++) {
            int flags = 0, running;
            if (evs[i].events & EPOLLIN)
                flags |= CURL_CSELECT_IN;
            if (evs[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
        }
        if (timer_at >= 0 && now_s() >= timer_at) {
            int running;
            timer_at = -1;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        {
            long before = 0, after = 0;
            int r;
            for (r = 0; r < R_TUS_UPLOAD; r++)
                before += lat[r].n + xfer_err[r];
            check_done();
            for (r = 0; r < R_TUS_UPLOAD; r++)
                after += lat[r].n + xfer_err[r];
            if (after != before)
                tlast = now_s();
        }
    }
    tend = tlast > t0 ? tlast : now_s();
    fclose(acks_f);

    {
        double cpu = cpu_self() - cpu0, wall = tend - t0;
        int r, st;
        long non2xx = 0, n5xx_other = 0, xerr = 0;

        for (r = 0; r < NREQ; r++)
            qsort(lat[r].v, lat[r].n, sizeof(double), cmpd);

        printf("%-12s %8s %9s %8s %8s %9s %9s %9s\n", "request", "count", "2xx",
               "req/s", "MB/s", "p50 ms", "p99 ms", "max ms");
        for (r = 0; r < NREQ; r++) {
            long cnt = r == R_TUS_UPLOAD ? (long)lat[r].n : (long)lat[r].n + xfer_err[r];
            double mb = (bytes_up[r] + bytes_down[r]) / 1e6;
            if (r < R_TUS_UPLOAD)
                total_req += cnt;
            printf("%-12s %8ld %9ld %8.1f %8.1f %9.1f %9.1f %9.1f\n", req_name[r], cnt,
                   ok2xx[r], cnt / wall, mb / wall, pct(&lat[r], 50), pct(&lat[r], 99),
                   lat[r].n ? lat[r].v[lat[r].n - 1] : 0.0);
        }
        printf("%-12s %8ld %9s %8.1f\n", "all requests", total_req, "", total_req / wall);
        printf("(tus upload = POST + %d PATCHes of one file, from the POST to the last 204;"
               " MB/s counts bodies sent and received)\n", tus_chunks);

        printf("non-2xx answers by status:");
        for (st = 0; st < 600; st++) {
            long c = 0;
            for (r = 0; r < R_TUS_UPLOAD; r++)
                c += (st < 200 || st >= 300) ? status_n[r][st] : 0;
            if (c) {
                printf(" %d: %ld (", st, c);
                {
                    int first = 1;
                    for (r = 0; r < R_TUS_UPLOAD; r++) {
                        if (status_n[r][st]) {
                            printf("%s%s %ld", first ? "" : ", ", req_name[r], status_n[r][st]);
                            first = 0;
                        }
                    }
                }
                printf(")");
                non2xx += c;
                if (st >= 500 && st != 503)
                    n5xx_other += c;
            }
        }
        if (!non2xx)
            printf(" none");
        printf("\n");
        for (r = 0; r < R_TUS_UPLOAD; r++)
            xerr += xfer_err[r];
        printf("transport errors (no HTTP answer): %ld", xerr);
        if (xerr) {
            int c;
            printf(" (");
            for (c = 0; c < 100; c++)
                if (curl_err_n[c])
                    printf(" %s: %ld;", curl_easy_strerror((CURLcode)c), curl_err_n[c]);
            printf(" )");
        }
        printf("\n");
        {
            long rt = 0;
            for (r = 0; r < R_TUS_UPLOAD; r++)
                rt += xfer_retried[r];
            printf("sent again on a new connection (the server had closed the kept-alive one as the "
                   "request went out; nothing answered): %ld", rt);
            if (rt) {
                int c, first = 1;
                printf(" (");
                for (r = 0; r < R_TUS_UPLOAD; r++)
                    if (xfer_retried[r]) {
                        printf("%s%s %ld", first ? "" : ", ", req_name[r], xfer_retried[r]);
                        first = 0;
                    }
                for (c = 0; c < 100; c++)
                    if (retry_err_n[c])
                        printf("; %s: %ld", curl_easy_strerror((CURLcode)c), retry_err_n[c]);
                printf(")");
            }
            printf("\n");
        }
        printf("503 with Retry-After: %ld, without: %ld\n", n503_ra, n503_no_ra);
        printf("acknowledged uploads: %zu (PUT 201: %ld, tus final PATCH 204: %ld); "
               "tus uploads abandoned after a failed request: %ld\n",
               nacks, status_n[R_PUT][201], ok2xx[R_TUS_UPLOAD], tus_abandoned);
        printf("checks during the run: PUT 201 with another sha256: %ld; GET size wrong: %ld, "
               "ETag wrong: %ld, body sha256 wrong: %ld of %ld hashed; tus Upload-Offset "
               "wrong: %ld, final 204 without Pool-File-Id: %ld\n",
               put_sha_bad, get_size_bad, get_etag_bad, get_hash_bad, get_hashed,
               tus_offset_bad, tus_noid);
        printf("connections: %d kept by the client, %ld opened in all (a new one whenever the "
               "server had closed one)\n", nslots, conns_opened);
        printf("generator: %.2f CPU s in %.1f s of load (%.0f%% of one core, %.1f ms per request)\n",
               cpu, wall, 100.0 * cpu / wall, total_req ? 1000.0 * cpu / total_req : 0.0);
        if (aborted_at_end)
            printf("requests still in flight when the drain time ran out: %ld (aborted)\n",
                   aborted_at_end);

        snprintf(path, sizeof path, "%s/summary.txt", outdir);
        sf = fopen(path, "w");
        if (!sf)
            die("%s: %s", path, strerror(errno));
        fprintf(sf, "wall %.3f\ncpu %.3f\nrequests %ld\nacks %zu\nnon2xx %ld\n"
                "n5xx_other %ld\nn503 %ld\nn503_no_retry_after %ld\nxfer_errors %ld\n"
                "put_sha_bad %ld\nget_size_bad %ld\nget_etag_bad %ld\nget_hash_bad %ld\n"
                "get_hashed %ld\ntus_offset_bad %ld\ntus_noid %ld\ntus_abandoned %ld\n"
                "aborted %ld\nconns_opened %ld\nretried %ld\n",
                wall, cpu, total_req, nacks, non2xx, n5xx_other, n503_ra + n503_no_ra,
                n503_no_ra, xerr, put_sha_bad, get_size_bad, get_etag_bad, get_hash_bad,
                get_hashed, tus_offset_bad, tus_noid, tus_abandoned, aborted_at_end,
                conns_opened, xfer_retried[R_PUT] + xfer_retried[R_GET] + xfer_retried[R_TUS_POST]
                + xfer_retried[R_TUS_PATCH] + xfer_retried[R_TOKEN]);
        for (r = 0; r < NREQ; r++) {
            long cnt = r == R_TUS_UPLOAD ? (long)lat[r].n : (long)lat[r].n + xfer_err[r];
            fprintf(sf, "%s_count %ld\n%s_2xx %ld\n%s_rps %.1f\n%s_mbs %.1f\n%s_p50 %.1f\n"
                    "%s_p99 %.1f\n",
                    req_key[r], cnt, req_key[r], ok2xx[r], req_key[r], cnt / wall,
                    req_key[r], (bytes_up[r] + bytes_down[r]) / 1e6 / wall,
                    req_key[r], pct(&lat[r], 50), req_key[r], pct(&lat[r], 99));
        }
        fclose(sf);
    }
    return 0;
}

/* ------------------------------------------------------------------ verify */
struct vitem { char kind[8]; char id[64]; char sha[80]; long size; };
struct vslot { CURL *h; EVP_MD_CTX *md; long got; size_t item; char url[512]; };

static struct vitem *v_items;
static size_t v_n, v_next, *v_todo, v_ntodo;
static struct vslot *v_slots;
static struct curl_slist *v_hdrs;
static CURLM *v_multi;

static size_t v_write(char *b, size_t sz, size_t nm, void *p)
{
    struct vslot *v = p;
    EVP_DigestUpdate(v->md, b, sz * nm);
    v->got += sz * nm;
    return sz * nm;
}

static void v_start(struct vslot *v)
{
    v->item = v_todo[v_next++];
    v->got = 0;
    EVP_DigestInit_ex(v->md, EVP_sha256(), NULL);
    snprintf(v->url, sizeof v->url, "%s/pool/v1/pools/%s/files/%s", base, pool,
             v_items[v->item].id);
    curl_easy_reset(v->h);
    curl_easy_setopt(v->h, CURLOPT_URL, v->url);
    curl_easy_setopt(v->h, CURLOPT_HTTPHEADER, v_hdrs);
    curl_easy_setopt(v->h, CURLOPT_WRITEFUNCTION, v_write);
    curl_easy_setopt(v->h, CURLOPT_WRITEDATA, v);
    curl_easy_setopt(v->h, CURLOPT_PRIVATE, v);
    curl_easy_setopt(v->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(v->h, CURLOPT_TIMEOUT, 120L);
    curl_multi_add_handle(v_multi, v->h);
}

static int cmd_verify(int argc, char **argv)
{
    const char *token, *outdir;
    FILE *f, *out;
    size_t cap = 0, ok = 0, bad = 0, failed = 0, unverified = 0, retried = 0, *again = NULL,
           nagain = 0, k;
    int pass;
    int conns = (int)env_long("LOAD_VERIFY_CONNS", 16), i, running = 0;
    char kind[8], id[64], sha[80], auth[4200], path[1024];
    long size;
    double t0 = now_s(), cpu0 = cpu_self();

    if (argc != 7)
        die("usage: loadgen verify BASE POOL TOKEN ACKS_FILE OUT_DIR");
    base = argv[2];
    pool = argv[3];
    token = argv[4];
    outdir = argv[6];
    f = fopen(argv[5], "r");
    if (!f)
        die("%s: %s", argv[5], strerror(errno));
    while (fscanf(f, "%7s %63s %79s %ld", kind, id, sha, &size) == 4) {
        if (v_n == cap) {
            cap = cap ? cap * 2 : 4096;
            v_items = realloc(v_items, cap * sizeof(*v_items));
            if (!v_items)
                die("out of memory");
        }
        snprintf(v_items[v_n].kind, sizeof v_items[v_n].kind, "%s", kind);
        snprintf(v_items[v_n].id, sizeof v_items[v_n].id, "%s", id);
        snprintf(v_items[v_n].sha, sizeof v_items[v_n].sha, "%s", sha);
        v_items[v_n].size = size;
        v_n++;
    }
    fclose(f);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    v_hdrs = curl_slist_append(NULL, auth);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    v_multi = curl_multi_init();
    curl_multi_setopt(v_multi, CURLMOPT_MAXCONNECTS, (long)conns + 4);
    v_slots = calloc(conns, sizeof(*v_slots));
    for (i = 0; i < conns; i++) {
        v_slots[i].h = curl_easy_init();
        v_slots[i].md = EVP_MD_CTX_new();
    }
    v_todo = malloc((v_n + 1) * sizeof(size_t));
    again = malloc((v_n + 1) * sizeof(size_t));
    for (k = 0; k < v_n; k++)
        v_todo[k] = k;
    v_ntodo = v_n;
    /* a 503 (or no answer) is not a loss: such files are tried again, in up
     * to 5 more passes 5 s apart; only the last pass's failures count */
    for (pass = 0; pass < 6 && v_ntodo > 0; pass++) {
        int last = pass == 5;
        if (pass > 0) {
            fprintf(stderr, "verify: %zu files answered 503 or nothing: again in 5 s\n", v_ntodo);
            retried += v_ntodo;
            sleep(5);
        }
        nagain = 0;
        v_next = 0;
        for (i = 0; i < conns && v_next < v_ntodo; i++)
            v_start(&v_slots[i]);
        running = 1;
        do {
            CURLMsg *msg;
            int left;
            curl_multi_perform(v_multi, &running);
            while ((msg = curl_multi_info_read(v_multi, &left))) {
                struct vslot *v;
                struct vitem *it;
                long st = 0;
                unsigned char d[32];
                unsigned int dl;
                char hx[65];
                if (msg->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&v);
                it = &v_items[v->item];
                curl_easy_getinfo(v->h, CURLINFO_RESPONSE_CODE, &st);
                EVP_DigestFinal_ex(v->md, d, &dl);
                hex(d, 32, hx);
                if ((msg->data.result != CURLE_OK || st == 503) && !last) {
                    again[nagain++] = v->item;
                } else if (msg->data.result == CURLE_OK && st == 503) {
                    unverified++;
                    fprintf(stderr, "verify: UNVERIFIED %s %s: HTTP 503 in every pass\n",
                            it->kind, it->id);
                } else if (msg->data.result != CURLE_OK || st != 200) {
                    failed++;
                    fprintf(stderr, "verify: LOST? %s %s: %s, HTTP %ld\n", it->kind, it->id,
                            curl_easy_strerror(msg->data.result), st);
                } else if (strcmp(hx, it->sha) != 0 || v->got != it->size) {
                    bad++;
                    fprintf(stderr, "verify: MISMATCH %s %s: got %ld bytes sha256 %s, sent %ld "
                            "bytes sha256 %s\n", it->kind, it->id, v->got, hx, it->size, it->sha);
                } else {
                    ok++;
                }
                curl_multi_remove_handle(v_multi, v->h);
                if (v_next < v_ntodo) {
                    v_start(v);
                    running = 1;
                }
            }
            if (running)
                curl_multi_poll(v_multi, NULL, 0, 1000, NULL);
        } while (running);
        memcpy(v_todo, again, nagain * sizeof(size_t));
        v_ntodo = nagain;
    }

    snprintf(path, sizeof path, "%s/verify.txt", outdir);
    out = fopen(path, "w");
    if (!out)
        die("%s: %s", path, strerror(errno));
    fprintf(out, "verify_total %zu\nverify_ok %zu\nverify_mismatch %zu\nverify_failed %zu\n"
            "verify_seconds %.1f\nverify_cpu %.2f\nverify_retried %zu\nverify_unverified %zu\n",
            v_n, ok, bad, failed, now_s() - t0, cpu_self() - cpu0, retried, unverified);
    fclose(out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc, argv);
    fprintf(stderr, "usage: loadgen run BASE POOL CLIENTS_FILE OUT_DIR\n"
                    "       loadgen verify BASE POOL TOKEN ACKS_FILE OUT_DIR\n");
    return 2;
}
