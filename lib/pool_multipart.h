/* A streaming multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * A push parser: feed it the body in chunks of any size (one byte at a time
 * works); it calls back with each part's headers, its data in pieces as they
 * arrive, and its end.  Nothing but one part's header block (bounded) is
 * ever held in memory.
 *
 * Syntax as parsed:
 *   body       = preamble delimiter *( part delimiter ) "--" epilogue
 *   delimiter  = CRLF "--" boundary *( SP / HTAB ) CRLF    (the CRLF before
 *                "--" is part of the delimiter, not of the data; the very
 *                first delimiter may start the body without it)
 *   part       = *( header CRLF ) CRLF data
 *   header     = token ":" OWS value OWS
 * Lines end with CRLF (a bare CR or LF in the headers is an error); folded
 * header lines, control characters and a repeated header name within a part
 * are refused.  "CRLF--boundary" followed by anything but "--", padding or
 * CRLF is not a delimiter and stays data.  The preamble and the epilogue
 * are ignored.  A body that ends before the close delimiter is truncated.
 */
#ifndef POOL_MULTIPART_H
#define POOL_MULTIPART_H

#include <apr_pools.h>
#include <apr_tables.h>

#define POOL_MP_BOUNDARY_MAX        70      /* RFC 2046 */
#define POOL_MP_DEFAULT_HEADER_MAX  8192    /* bytes of one part's headers */
#define POOL_MP_DEFAULT_HEADERS     32      /* header lines of one part */
#define POOL_MP_DEFAULT_PARTS       1000

typedef enum {
    POOL_MP_OK = 0,
    POOL_MP_MALFORMED,          /* syntax error */
    POOL_MP_HEADER_TOO_BIG,     /* a part's headers over the limits */
    POOL_MP_TOO_MANY_PARTS,
    POOL_MP_TRUNCATED,          /* pool_mp_finish before the close delimiter */
    POOL_MP_ABORTED             /* a callback returned non-zero */
} pool_mp_rc;

typedef struct {
    const char *name;           /* as sent */
    const char *value;          /* surrounding whitespace removed */
} pool_mp_header_t;

typedef struct {
    int index;                  /* 0 for the first part of the body */
    int nheaders;
    const pool_mp_header_t *headers;
} pool_mp_part_t;

/* Callbacks return 0 to go on; anything else stops the parse with
 * POOL_MP_ABORTED (the caller keeps its own reason).  The part and its
 * strings are valid during part_begin only: copy what must stay.  data is
 * never called with 0 bytes. */
typedef struct {
    int (*part_begin)(void *baton, const pool_mp_part_t *part);
    int (*part_data)(void *baton, const char *data, apr_size_t len);
    int (*part_end)(void *baton);
} pool_mp_callbacks_t;

typedef struct {
    apr_size_t max_header_bytes;    /* 0: POOL_MP_DEFAULT_HEADER_MAX */
    int max_headers;                /* 0: POOL_MP_DEFAULT_HEADERS */
    int max_parts;                  /* 0: POOL_MP_DEFAULT_PARTS */
} pool_mp_limits_t;

typedef struct pool_mp_parser_t pool_mp_parser_t;

/* boundary must have passed pool_mp_boundary_check.  limits may be NULL. */
pool_mp_parser_t *pool_mp_create(apr_pool_t *p, const char *boundary,
                                 const pool_mp_limits_t *limits,
                                 const pool_mp_callbacks_t *cb, void *baton);
/* Feeds the next len bytes.  After an error every further call returns
 * the same code. */
pool_mp_rc pool_mp_feed(pool_mp_parser_t *mp, const char *data,
                        apr_size_t len);
/* The body has ended: POOL_MP_OK only after the close delimiter. */
pool_mp_rc pool_mp_finish(pool_mp_parser_t *mp);
/* English description of the last error (NULL when none). */
const char *pool_mp_error(const pool_mp_parser_t *mp);
/* Index of the part being parsed (of the error, after one); -1 before the
 * first delimiter. */
int pool_mp_part_index(const pool_mp_parser_t *mp);

/* ---- header values */

/* Parses `token *( OWS ";" OWS name "=" ( token / quoted-string ) )`, the
 * shape of Content-Type and Content-Disposition.  *first gets the leading
 * token lower-cased ("multipart/form-data", "form-data"); *params the
 * parameters, names lower-cased, quoted values unquoted (quoted-pairs
 * resolved).  A repeated parameter is an error.  NULL on success, else an
 * English reason. */
const char *pool_mp_parse_params(apr_pool_t *p, const char *value,
                                 const char **first, apr_table_t **params);

/* NULL when b is a valid boundary (1..70 of RFC 2046's bchars, not ending
 * in a space), else a reason. */
const char *pool_mp_boundary_check(const char *b);

/* The boundary of a multipart/form-data Content-Type.  Returns NULL with
 * *boundary set; else a reason, and *is_form says whether the media type
 * at least was multipart/form-data (so the caller can tell 415 from 400). */
const char *pool_mp_form_boundary(apr_pool_t *p, const char *content_type,
                                  const char **boundary, int *is_form);

/* The file name of a Content-Disposition parameter table: filename*
 * (RFC 8187 ext-value, UTF-8 only) when present, else filename.  Returns
 * NULL with *name (NULL when neither is present) and *len (the decoded
 * length: a decoded NUL is kept so the caller can refuse it); else a
 * reason. */
const char *pool_mp_filename(apr_pool_t *p, apr_table_t *params,
                             const char **name, apr_size_t *len);

/* The value of a part's header (case-insensitive name), or NULL. */
const char *pool_mp_header(const pool_mp_part_t *part, const char *name);

#endif
