/* A linear-time matcher for POSIX extended regular expressions (the subset
 * in pool_regex.h): the pattern is parsed into a tree, the tree is emitted
 * as a program (repetitions expanded), and the program is run as a
 * Thompson NFA: every thread advances one byte at a time, at most one
 * thread per instruction, so the time is O(text * program). */
#include <string.h>

#include <apr_strings.h>

#include "pool_regex.h"

#define INF        -1           /* no upper bound */
#define DEPTH_MAX  32           /* nested groups */

/* ---------------------------------------------------------------- tree */

enum { R_SET, R_BOL, R_EOL, R_EMPTY, R_CAT, R_ALT, R_REP };

typedef struct rnode rnode;
struct rnode {
    int kind;
    unsigned char *set;         /* R_SET: 256 bits */
    int min, max;               /* R_REP */
    rnode *a, *b;
};

typedef struct {
    apr_pool_t *p;
    const unsigned char *s;
    apr_size_t n, i;
    int depth;
    const char *err;
    apr_size_t erri;            /* byte offset of the error */
} rp_t;

static rnode *node(rp_t *r, int kind, rnode *a, rnode *b)
{
    rnode *x = apr_pcalloc(r->p, sizeof(*x));

    x->kind = kind;
    x->a = a;
    x->b = b;
    return x;
}

static rnode *set_node(rp_t *r)
{
    rnode *x = node(r, R_SET, NULL, NULL);

    x->set = apr_pcalloc(r->p, 32);
    return x;
}

static void bit(unsigned char *set, unsigned c)
{
    set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static void *err(rp_t *r, apr_size_t at, const char *what)
{
    if (!r->err) {
        r->err = what;
        r->erri = at;
    }
    return NULL;
}

/* The ASCII members of a named class (C locale); 0 for an unknown name. */
static int class_has(const char *name, apr_size_t len, unsigned c)
{
    static const char *names[] = { "alpha", "digit", "alnum", "upper",
        "lower", "space", "blank", "punct", "print", "graph", "cntrl",
        "xdigit" };
    int k, up = c >= 'A' && c <= 'Z', lo = c >= 'a' && c <= 'z';
    int dg = c >= '0' && c <= '9';

    for (k = 0; k < 12; k++) {
        if (strlen(names[k]) == len && !memcmp(names[k], name, len)) {
            break;
        }
    }
    switch (k) {
    case 0: return up || lo;
    case 1: return dg;
    case 2: return up || lo || dg;
    case 3: return up;
    case 4: return lo;
    case 5: return c == ' ' || (c >= '\t' && c <= '\r');
    case 6: return c == ' ' || c == '\t';
    case 7: return c > ' ' && c < 0x7F && !up && !lo && !dg;
    case 8: return c >= ' ' && c < 0x7F;
    case 9: return c > ' ' && c < 0x7F;
    case 10: return c < ' ' || c == 0x7F;
    case 11: return dg || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    default: return -1;
    }
}

/* Adds class name to set; -1 when there is no such class. */
static int add_class(unsigned char *set, const char *name, apr_size_t len)
{
    unsigned c;

    if (class_has(name, len, 'a') < 0) {
        return -1;
    }
    for (c = 0; c < 128; c++) {
        if (class_has(name, len, c)) {
            bit(set, c);
        }
    }
    return 0;
}

static void invert(unsigned char *set)
{
    int k;

    for (k = 0; k < 32; k++) {
        set[k] = (unsigned char)~set[k];
    }
}

/* A bracket expression starting at '[' (r->i). */
static rnode *bracket(rp_t *r)
{
    apr_size_t start = r->i++;
    rnode *x = set_node(r);
    int neg = 0, first = 1;

    if (r->i < r->n && r->s[r->i] == '^') {
        neg = 1;
        r->i++;
    }
    for (;;) {
        unsigned lo, hi;

        if (r->i >= r->n) {
            return err(r, start, "unclosed '['");
        }
        lo = r->s[r->i];
        if (lo == ']' && !first) {
            r->i++;
            break;
        }
        first = 0;
        if (lo == '[' && r->i + 1 < r->n && r->s[r->i + 1]
            && strchr(".=:", r->s[r->i + 1])) {
            const unsigned char *e = NULL;
            apr_size_t k;

            if (r->s[r->i + 1] != ':') {
                return err(r, r->i, "collating elements are not supported");
            }
            for (k = r->i + 2; k + 1 < r->n && !e; k++) {
                e = r->s[k] == ':' && r->s[k + 1] == ']' ? r->s + k : NULL;
            }
            if (!e || add_class(x->set, (const char *)r->s + r->i + 2,
                                (apr_size_t)(e - r->s) - r->i - 2) < 0) {
                return err(r, r->i, "unknown character class");
            }
            r->i = (apr_size_t)(e - r->s) + 2;
            continue;
        }
        hi = lo;
        r->i++;
        if (r->i + 1 < r->n && r->s[r->i] == '-' && r->s[r->i + 1] != ']') {
            hi = r->s[r->i + 1];
            if (hi < lo) {
                return err(r, r->i - 1, "a range that goes backwards");
            }
            r->i += 2;
        }
        for (; lo <= hi; lo++) {
            bit(x->set, lo);
        }
    }
    if (neg) {
        invert(x->set);
    }
    return x;
}

/* \d \s \w \D \S \W, or the character itself. */
static rnode *escape(rp_t *r)
{
    rnode *x;
    unsigned c;

    if (r->i + 1 >= r->n) {
        return err(r, r->i, "a trailing '\\'");
    }
    c = r->s[r->i + 1];
    if (c >= '1' && c <= '9') {
        return err(r, r->i, "back-references are not supported");
    }
    r->i += 2;
    x = set_node(r);
    switch (c | 0x20) {
    case 'd':
        add_class(x->set, "digit", 5);
        break;
    case 's':
        add_class(x->set, "space", 5);
        break;
    case 'w':
        add_class(x->set, "alnum", 5);
        bit(x->set, '_');
        break;
    default:
        bit(x->set, c);
        return x;
    }
    if (c == 'D' || c == 'S' || c == 'W') {
        invert(x->set);
    }
    return x;
}

static rnode *alt(rp_t *r);

/* 1 when r->i is on '*', '+', '?' or a '{' that starts a bound ("{2"). */
static int at_quantifier(const rp_t *r)
{
    unsigned c = r->s[r->i];

    if (c == '*' || c == '+' || c == '?') {
        return 1;
    }
    return c == '{' && r->i + 1 < r->n && r->s[r->i + 1] >= '0'
        && r->s[r->i + 1] <= '9';
}

static rnode *atom(rp_t *r)
{
    apr_size_t start = r->i;
    unsigned c = r->s[r->i];
    rnode *x;

    switch (c) {
    case '(':
        if (++r->depth > DEPTH_MAX) {
            return err(r, start, "groups nested deeper than 32");
        }
        r->i++;
        x = alt(r);
        if (!r->err && (r->i >= r->n || r->s[r->i] != ')')) {
            return err(r, start, "unclosed '('");
        }
        r->i++;
        r->depth--;
        return x;
    case '[':
        return bracket(r);
    case '\\':
        return escape(r);
    case '^':
    case '$':
        r->i++;
        return node(r, c == '^' ? R_BOL : R_EOL, NULL, NULL);
    }
    if (at_quantifier(r)) {
        return err(r, start, "nothing to repeat");
    }
    r->i++;
    x = set_node(r);
    if (c == '.') {
        invert(x->set);
    }
    else {
        bit(x->set, c);
    }
    return x;
}

/* A bound after '{' (r->i on the first digit): m, or INF when absent. */
static int bound(rp_t *r)
{
    int v = 0;

    if (r->i >= r->n || r->s[r->i] < '0' || r->s[r->i] > '9') {
        return INF;
    }
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
        v = v * 10 + (r->s[r->i++] - '0');
        if (v > 255) {
            v = 256;
        }
    }
    return v;
}

static rnode *repeat(rp_t *r)
{
    rnode *x = atom(r), *q;

    while (x && r->i < r->n) {
        apr_size_t start = r->i;
        unsigned c = r->s[r->i];

        if (!at_quantifier(r)) {
            break;
        }
        q = node(r, R_REP, x, NULL);
        if (c == '*' || c == '+' || c == '?') {
            q->min = c == '+';
            q->max = c == '?' ? 1 : INF;
            r->i++;
        }
        else {
            r->i++;
            q->min = q->max = bound(r);
            if (r->i < r->n && r->s[r->i] == ',') {
                r->i++;
                q->max = bound(r);
            }
            if (r->i >= r->n || r->s[r->i] != '}') {
                return err(r, start, "a repetition {m,n} that is not closed");
            }
            r->i++;
            if (q->min > 255 || q->max > 255) {
                return err(r, start, "a repetition bound above 255");
            }
            if (q->max != INF && q->max < q->min) {
                return err(r, start, "a repetition {m,n} with n < m");
            }
        }
        x = q;
    }
    return x;
}

static rnode *cat(rp_t *r)
{
    rnode *x = NULL, *y;

    while (!r->err && r->i < r->n && r->s[r->i] != '|' && r->s[r->i] != ')') {
        if (!(y = repeat(r))) {
            return NULL;
        }
        x = x ? node(r, R_CAT, x, y) : y;
    }
    return x ? x : node(r, R_EMPTY, NULL, NULL);
}

static rnode *alt(rp_t *r)
{
    rnode *x = cat(r);

    while (x && !r->err && r->i < r->n && r->s[r->i] == '|') {
        r->i++;
        x = node(r, R_ALT, x, cat(r));
    }
    return r->err ? NULL : x;
}

/* ---------------------------------------------------------------- program */

enum { I_SET, I_SPLIT, I_JMP, I_BOL, I_EOL, I_MATCH };

typedef struct {
    int op;
    int x, y;                   /* I_SPLIT: both; I_JMP: x */
    const unsigned char *set;
} rinst_t;

struct pool_regex_t {
    rinst_t *prog;
    int n;
};

/* Instructions x needs, saturated at POOL_REGEX_PROG_MAX + 1. */
static long size(const rnode *x)
{
    const long cap = POOL_REGEX_PROG_MAX + 1;
    long s, t;

    switch (x->kind) {
    case R_EMPTY:
        return 0;
    case R_CAT:
    case R_ALT:
        s = size(x->a) + size(x->b) + (x->kind == R_ALT ? 2 : 0);
        return s > cap ? cap : s;
    case R_REP:
        s = size(x->a);
        t = x->max == INF ? (x->min ? x->min * s + 1 : s + 2)
            : x->min * s + (x->max - x->min) * (s + 1);
        return t > cap ? cap : t;
    default:
        return 1;
    }
}

static void emit(pool_regex_t *re, const rnode *x)
{
    rinst_t *in = re->prog;
    int k, l;

    switch (x->kind) {
    case R_SET:
        in[re->n].op = I_SET;
        in[re->n++].set = x->set;
        break;
    case R_BOL:
    case R_EOL:
        in[re->n++].op = x->kind == R_BOL ? I_BOL : I_EOL;
        break;
    case R_CAT:
        emit(re, x->a);
        emit(re, x->b);
        break;
    case R_ALT:
        l = re->n++;
        in[l].op = I_SPLIT;
        in[l].x = re->n;
        emit(re, x->a);
        k = re->n++;
        in[k].op = I_JMP;
        in[l].y = re->n;
        emit(re, x->b);
        in[k].x = re->n;
        break;
    case R_REP:
        for (k = 0; k < x->min - (x->max == INF && x->min > 0); k++) {
            emit(re, x->a);
        }
        if (x->max == INF && x->min > 0) {      /* the last copy loops */
            l = re->n;
            emit(re, x->a);
            in[re->n].op = I_SPLIT;
            in[re->n].x = l;
            in[re->n].y = re->n + 1;
            re->n++;
        }
        else if (x->max == INF) {
            l = re->n++;
            in[l].op = I_SPLIT;
            in[l].x = re->n;
            emit(re, x->a);
            in[re->n].op = I_JMP;
            in[re->n++].x = l;
            in[l].y = re->n;
        }
        else {
            int first = re->n;

            for (k = x->min; k < x->max; k++) {
                l = re->n++;
                in[l].op = I_SPLIT;
                in[l].x = re->n;
                emit(re, x->a);
            }
            /* every optional copy's way out is the end */
            for (l = first; l < re->n; l++) {
                if (in[l].op == I_SPLIT && in[l].y == -2) {
                    in[l].y = re->n;
                }
            }
        }
        break;
    default:
        break;
    }
}

const char *pool_regex_compile(apr_pool_t *p, const char *pat, apr_size_t len,
                               pool_regex_t **re, int *offset)
{
    rp_t r;
    rnode *tree;
    pool_regex_t *out;
    long n;
    apr_size_t k;
    int chars = 0;

    *re = NULL;
    *offset = -1;
    if (!pat || len == 0 || len > POOL_REGEX_PATTERN_MAX) {
        return apr_psprintf(p, "a regular expression has 1 to %d bytes",
                            POOL_REGEX_PATTERN_MAX);
    }
    memset(&r, 0, sizeof(r));
    r.p = p;
    r.s = (const unsigned char *)pat;
    r.n = len;
    tree = alt(&r);
    if (!r.err && r.i < r.n) {
        err(&r, r.i, "unmatched ')'");
    }
    if (r.err) {
        for (k = 0; k < r.erri; k++) {
            chars += (r.s[k] & 0xC0) != 0x80;
        }
        *offset = chars;
        return apr_psprintf(p, "%s at character %d", r.err, chars);
    }
    if ((n = size(tree) + 1) > POOL_REGEX_PROG_MAX) {
        return apr_psprintf(p, "too complex: repetitions expand it beyond %d "
                            "instructions", POOL_REGEX_PROG_MAX);
    }
    out = apr_palloc(p, sizeof(*out));
    out->prog = apr_palloc(p, (apr_size_t)n * sizeof(rinst_t));
    for (k = 0; k < (apr_size_t)n; k++) {
        out->prog[k].op = I_MATCH;
        out->prog[k].x = out->prog[k].y = -2;   /* -2: patched later */
        out->prog[k].set = NULL;
    }
    out->n = 0;
    emit(out, tree);
    out->prog[out->n++].op = I_MATCH;
    *re = out;
    return NULL;
}

/* ---------------------------------------------------------------- search */

typedef struct {
    const pool_regex_t *re;
    unsigned long *mark;        /* generation that last added each pc */
    int *stack;
} rs_t;

/* Adds pc and what it reaches without a byte (at position i of n) to list;
 * 1 when that reaches MATCH. */
static int add(rs_t *st, int *list, int *cnt, unsigned long gen, int pc,
               apr_size_t i, apr_size_t n)
{
    const rinst_t *in = st->re->prog;
    int top = 0;

    st->stack[top++] = pc;
    while (top) {
        pc = st->stack[--top];
        if (st->mark[pc] == gen) {
            continue;
        }
        st->mark[pc] = gen;
        switch (in[pc].op) {
        case I_MATCH:
            return 1;
        case I_JMP:
            st->stack[top++] = in[pc].x;
            break;
        case I_SPLIT:
            st->stack[top++] = in[pc].y;
            st->stack[top++] = in[pc].x;
            break;
        case I_BOL:
            if (i == 0) {
                st->stack[top++] = pc + 1;
            }
            break;
        case I_EOL:
            if (i == n) {
                st->stack[top++] = pc + 1;
            }
            break;
        default:
            list[(*cnt)++] = pc;
        }
    }
    return 0;
}

int pool_regex_search(const pool_regex_t *re, const char *s, apr_size_t n)
{
    int a[POOL_REGEX_PROG_MAX], b[POOL_REGEX_PROG_MAX];
    int stack[2 * POOL_REGEX_PROG_MAX + 2];
    unsigned long mark[POOL_REGEX_PROG_MAX];
    int *cur = a, *next = b, *t, nc = 0, nn, k;
    int anchored = re->prog[0].op == I_BOL;
    unsigned long gen = 1;
    rs_t st = { re, mark, stack };
    apr_size_t i;

    memset(mark, 0, sizeof(mark));
    if (add(&st, cur, &nc, gen, 0, 0, n)) {
        return 1;
    }
    for (i = 0; i < n && (nc || !anchored); i++) {
        unsigned c = (unsigned char)s[i];

        gen++;
        nn = 0;
        for (k = 0; k < nc; k++) {
            const unsigned char *set = re->prog[cur[k]].set;

            if ((set[c >> 3] >> (c & 7)) & 1
                && add(&st, next, &nn, gen, cur[k] + 1, i + 1, n)) {
                return 1;
            }
        }
        /* a match may start at every position */
        if (!anchored && add(&st, next, &nn, gen, 0, i + 1, n)) {
            return 1;
        }
        t = cur;
        cur = next;
        next = t;
        nc = nn;
    }
    return 0;
}
