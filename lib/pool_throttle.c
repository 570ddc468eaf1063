/* The throttle's table: FAIL_SLOTS counters found by a keyed hash with a
 * short linear probe (a full probe run reuses a free slot, else a counting
 * one, a blocked one last: a flood of distinct keys can make a count be
 * forgotten, and only a run full of blocks can cut one short), and
 * KNOWN_SLOTS verified credentials, direct-mapped. */
#include <string.h>

#include "pool_throttle.h"
#include "pool_util.h"

#define FAIL_SLOTS   4096
#define KNOWN_SLOTS  1024
#define PROBE        8

typedef struct {
    apr_uint64_t tag;           /* 0: free */
    apr_int64_t window;         /* seconds: start of the count */
    apr_int64_t blocked_until;  /* seconds */
    apr_int64_t touched;        /* seconds: last use */
    apr_uint32_t count;
} fail_slot;

typedef struct {
    unsigned char cred[32];
    apr_int64_t expires;        /* seconds; 0: free */
} known_slot;

struct pool_throttle_t {
    unsigned char key[32];
    fail_slot fail[FAIL_SLOTS];
    known_slot known[KNOWN_SLOTS];
};

apr_size_t pool_throttle_size(void)
{
    return sizeof(pool_throttle_t);
}

apr_status_t pool_throttle_init(void *mem, pool_throttle_t **out)
{
    pool_throttle_t *t = mem;

    memset(t, 0, sizeof(*t));
    if (pool_random(t->key, sizeof(t->key)) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = t;
    return APR_SUCCESS;
}

static apr_uint64_t tag_of(const pool_throttle_t *t, const char *key,
                           apr_size_t klen)
{
    unsigned char h[32];
    apr_uint64_t v = 0;
    int i;

    pool_hmac_sha256(t->key, sizeof(t->key), key, klen, h);
    for (i = 0; i < 8; i++) {
        v = v << 8 | h[i];
    }
    return v ? v : 1;
}

/* How willingly a slot is reused: free, then counting, then blocked. */
static int reuse_rank(const fail_slot *s, apr_int64_t sec)
{
    return !s->tag ? 0 : s->blocked_until > sec ? 2 : 1;
}

/* The slot of tag, or NULL (make: the most reusable slot of the probe run,
 * the one idle longest among equals, cleared). */
static fail_slot *slot_of(pool_throttle_t *t, apr_uint64_t tag,
                          apr_int64_t sec, int make)
{
    unsigned int i, at = (unsigned int)(tag % FAIL_SLOTS);
    fail_slot *victim = NULL;

    for (i = 0; i < PROBE; i++) {
        fail_slot *s = &t->fail[(at + i) % FAIL_SLOTS];

        if (s->tag == tag) {
            return s;
        }
        if (!victim || reuse_rank(s, sec) < reuse_rank(victim, sec)
            || (reuse_rank(s, sec) == reuse_rank(victim, sec)
                && s->touched < victim->touched)) {
            victim = s;
        }
    }
    if (!make) {
        return NULL;
    }
    memset(victim, 0, sizeof(*victim));
    victim->tag = tag;
    return victim;
}

int pool_throttle_wait(pool_throttle_t *t, const char *key, apr_size_t klen,
                       apr_time_t now)
{
    apr_int64_t sec = apr_time_sec(now);
    fail_slot *s = slot_of(t, tag_of(t, key, klen), sec, 0);

    if (!s || s->blocked_until <= sec) {
        return 0;
    }
    return (int)(s->blocked_until - sec);
}

int pool_throttle_fail(pool_throttle_t *t, const char *key, apr_size_t klen,
                       int max, int period, apr_time_t now)
{
    apr_int64_t sec = apr_time_sec(now);
    fail_slot *s;

    if (max <= 0 || period <= 0) {
        return 0;
    }
    s = slot_of(t, tag_of(t, key, klen), sec, 1);
    s->touched = sec;
    if (s->count == 0 || sec >= s->window + period) {
        s->window = sec;
        s->count = 0;
    }
    if (++s->count < (apr_uint32_t)max) {
        return 0;
    }
    s->blocked_until = sec + period;
    s->window = s->blocked_until;   /* counting starts again after it */
    s->count = 0;
    return 1;
}

static known_slot *known_slot_of(pool_throttle_t *t,
                                 const unsigned char cred[32])
{
    unsigned int i = ((unsigned int)cred[0] << 8 | cred[1]) % KNOWN_SLOTS;

    return &t->known[i];
}

int pool_throttle_known(pool_throttle_t *t, const unsigned char cred[32],
                        apr_time_t now)
{
    known_slot *k = known_slot_of(t, cred);

    return k->expires > apr_time_sec(now)
           && pool_ct_equal(k->cred, cred, 32);
}

void pool_throttle_remember(pool_throttle_t *t, const unsigned char cred[32],
                            int ttl, apr_time_t now)
{
    known_slot *k = known_slot_of(t, cred);

    memcpy(k->cred, cred, 32);
    k->expires = apr_time_sec(now) + ttl;
}
