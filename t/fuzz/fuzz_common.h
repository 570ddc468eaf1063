/* Shared by the libFuzzer harnesses of t/fuzz/ (docs/testing.md,
 * "Fuzzing"): APR set up once, a pool per input, a small reader over the
 * input bytes, and CHECK for the invariants a harness asserts. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: a failure aborts, which libFuzzer reports as a crash with
 * the input that caused it. */
#define CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                    __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

static apr_pool_t *fz_root;

static inline void fz_init(void);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}

static inline void fz_init(void)
{
    if (!fz_root) {
        apr_initialize();
        apr_pool_create(&fz_root, NULL);
    }
}

/* The pool of one input: destroy it with fz_pool_done. */
static inline apr_pool_t *fz_pool(void)
{
    apr_pool_t *p;

    fz_init();
    apr_pool_create(&p, fz_root);
    return p;
}

static inline void fz_pool_done(apr_pool_t *p)
{
    apr_pool_destroy(p);
}

/* A reader over the input. */
typedef struct {
    const uint8_t *d;
    size_t n;
} fz_in;

/* One byte (0 when the input is used up). */
static inline unsigned fz_byte(fz_in *in)
{
    unsigned b;

    if (!in->n) {
        return 0;
    }
    b = in->d[0];
    in->d++;
    in->n--;
    return b;
}

/* The bytes up to the next '\n' (not included), or the rest, as a
 * NUL-terminated string (it stops at an embedded NUL, as the C strings
 * httpd hands over do). */
static inline const char *fz_line(apr_pool_t *p, fz_in *in)
{
    const uint8_t *nl = memchr(in->d, '\n', in->n);
    size_t k = nl ? (size_t)(nl - in->d) : in->n;
    const char *s = apr_pstrndup(p, (const char *)in->d, k);

    in->d += k + (nl ? 1 : 0);
    in->n -= k + (nl ? 1 : 0);
    return s;
}

/* The rest of the input as a NUL-terminated string. */
static inline const char *fz_rest(apr_pool_t *p, fz_in *in)
{
    const char *s = apr_pstrndup(p, (const char *)in->d, in->n);

    in->d += in->n;
    in->n = 0;
    return s;
}

#endif
