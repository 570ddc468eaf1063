/* Regular expressions of success rules (pool_mapping.h): POSIX extended
 * syntax (ERE), matched in time linear in the text by a Thompson automaton
 * (no backtracking, no DFA cache).  Not <regex.h>: glibc's regexec takes
 * minutes and hundreds of MB for "(a|b)*a(a|b){20}c" over 64 KB (measured:
 * 485 s, 528 MB), and the pattern is an admin's while the worker is
 * shared.
 *
 * Supported: literals (bytes; UTF-8 sequences match as written), '.',
 * bracket expressions ([abc], [^a-z], ']' first and '-' first or last as
 * literals, [:alpha:] [:digit:] [:alnum:] [:upper:] [:lower:] [:space:]
 * [:blank:] [:punct:] [:print:] [:graph:] [:cntrl:] [:xdigit:], ASCII
 * only), '^' and '$' (start and end of the whole text: there are no
 * lines), groups, '|', '*' '+' '?' {m} {m,} {m,n} (m, n <= 255), and '\'
 * before a character for the character itself, except \d \s \w and \D \S
 * \W (digit, space, word character [A-Za-z0-9_], and their complements).
 * Refused with the character offset: back-references (\1..\9), collating
 * elements ([.x.], [=x=]), a repetition with nothing to repeat, unmatched
 * parentheses, an unclosed bracket, a backwards range, groups nested deeper
 * than 32, and a program of more than POOL_REGEX_PROG_MAX instructions
 * (repetitions are expanded: "(a{100}){20}" is 2000 a's). */
#ifndef POOL_REGEX_H
#define POOL_REGEX_H

#include <apr_pools.h>

#define POOL_REGEX_PATTERN_MAX  512     /* bytes */
#define POOL_REGEX_PROG_MAX     1000    /* instructions */

typedef struct pool_regex_t pool_regex_t;

/* Compiles pat (len bytes, 1..POOL_REGEX_PATTERN_MAX) into *re (from p,
 * immutable: usable by many threads).  NULL on success, else the reason,
 * with *offset the character offset it is about (or -1). */
const char *pool_regex_compile(apr_pool_t *p, const char *pat, apr_size_t len,
                               pool_regex_t **re, int *offset);

/* 1 when re matches somewhere in the n bytes of s (NUL is an ordinary
 * byte), else 0.  Time O(n * program size), no allocation. */
int pool_regex_search(const pool_regex_t *re, const char *s, apr_size_t n);

#endif
