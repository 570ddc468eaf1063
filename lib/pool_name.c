/* Checks for names coming from clients: NULL when acceptable, else a short
 * English reason. */
#include <stddef.h>
#include <string.h>

#include "pool_name.h"

#define IDENT_MAX   63
#define CTYPE_MAX   255

/* Decodes one UTF-8 sequence at s (n >= 1 bytes available).  Returns its
 * length and sets *cp, or 0 when the sequence is invalid: stray or missing
 * continuation bytes, overlong forms, surrogates, values above U+10FFFF. */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
    unsigned long c = s[0], min;
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {           /* 0xc0, 0xc1: always overlong */
        len = 2;
        c &= 0x1f;
        min = 0x80;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
        min = 0x800;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
        min = 0x10000;
    }
    else {
        return 0;                           /* continuation or 0xf5..0xff */
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return len;
}

size_t pool_utf8_prefix(const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, max), i = 0;

    while (i < n) {
        unsigned long cp;
        size_t len = utf8_next(u + i, n - i, &cp);

        /* a sequence cut by max, or invalid: stop before it */
        if (len == 0) {
            break;
        }
        i += len;
    }
    return i;
}

const char *pool_name_check(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n, i = 0;

    if (!name || !*name) {
        return "name is empty";
    }
    n = strnlen(name, POOL_NAME_MAX + 1);
    if (n > POOL_NAME_MAX) {
        return "name is longer than 255 bytes";
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        return "name may not be '.' or '..'";
    }
    while (i < n) {
        unsigned long cp;
        size_t len = utf8_next(s + i, n - i, &cp);

        if (len == 0) {
            return "name is not valid UTF-8";
        }
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            return "name contains a control character";
        }
        if (cp == '/') {
            return "name contains '/'";
        }
        if (cp == '\\') {
            return "name contains a backslash";
        }
        i += len;
    }
    return NULL;
}

const char *pool_ident_check(const char *name)
{
    size_t i;

    if (!name || !*name) {
        return "name is empty";
    }
    for (i = 0; name[i]; i++) {
        char c = name[i];
        if (i >= IDENT_MAX) {
            return "name is longer than 63 characters";
        }
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            continue;
        }
        if (i > 0 && (c == '_' || c == '-')) {
            continue;
        }
        return "name must be lower-case letters, digits, '_' or '-', "
               "starting with a letter or digit";
    }
    return NULL;
}

const char *pool_role_check(const char *role)
{
    static const char *const roles[] = {
        "uploader", "listener", "processor", "admin"
    };
    size_t i;

    if (role) {
        for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
            if (!strcmp(role, roles[i])) {
                return NULL;
            }
        }
    }
    return "role must be uploader, listener, processor or admin";
}

/* RFC 9110 token characters. */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

const char *pool_ctype_check(const char *ctype)
{
    const char *s = ctype;
    size_t n, i;

    if (!ctype || !*ctype) {
        return "content type is empty";
    }
    n = strnlen(ctype, CTYPE_MAX + 1);
    if (n > CTYPE_MAX) {
        return "content type is longer than 255 bytes";
    }
    for (i = 0; i < n; i++) {
        if (ctype[i] < 0x20 || ctype[i] > 0x7e) {
            return "content type must be printable ASCII";
        }
    }
    for (i = 0; is_tchar(s[i]); i++) {
    }
    if (i == 0 || s[i] != '/') {
        return "content type must be type/subtype";
    }
    s += i + 1;
    for (i = 0; is_tchar(s[i]); i++) {
    }
    if (i == 0) {
        return "content type must be type/subtype";
    }
    s += i;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s != '\0' && *s != ';') {
        return "content type must be type/subtype, then optional "
               "';'-separated parameters";
    }
    return NULL;
}
