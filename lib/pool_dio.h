/* Gathered writes to a growing file, in block-aligned direct writes.
 *
 * Large uploads are written once and not read back soon: copying them into
 * the page cache costs more CPU than anything else the server does with
 * them (docs/benchmarks.md).  A writer gathers arriving bytes in an aligned
 * buffer; once more than the first buffer (POOL_DIO_SMALL) arrives, it
 * gathers into an aligned one and writes whole blocks through an O_DIRECT
 * descriptor, and the last partial block through the ordinary descriptor,
 * read back into the buffer when writing goes on, so direct writes always
 * start on a block boundary whatever offset a resumable upload stops at.
 * A writer whose aligned buffer never filled (a small file) writes through
 * the ordinary descriptor only: with the fsync that follows, that was
 * measured faster for small files, and a small file costs no aligned
 * buffer.  Where the file system refuses O_DIRECT, the writer writes
 * through the ordinary descriptor.
 * Durability stays the caller's: fsync(2) of the ordinary descriptor covers
 * both (it is one file).
 *
 * Private to lib/ (no httpd header). */
#ifndef POOL_DIO_H
#define POOL_DIO_H

#include <apr_general.h>
#include <apr_errno.h>

#define POOL_DIO_ALIGN 4096             /* offsets and lengths of direct writes */
#define POOL_DIO_SMALL (128 * 1024)     /* the buffer of every writer */
#define POOL_DIO_BUFFER (256 * 1024)    /* the aligned one of a large file */

typedef struct {
    int fd;             /* ordinary descriptor: tails, reads, fsync (caller's) */
    const char *direct_path;    /* the file, for direct writes; NULL: none */
    int dfd;            /* O_DIRECT descriptor, opened when first needed */
    char *buf;          /* made at the first write */
    apr_size_t cap;     /* its size: POOL_DIO_SMALL, or POOL_DIO_BUFFER */
    int big;            /* buf is the aligned POOL_DIO_BUFFER */
    apr_size_t len;     /* bytes in buf */
    apr_off_t pos;      /* file offset of buf[0] */
    int refused;        /* the file system refused O_DIRECT (EINVAL) */
    int went_direct;    /* a direct write was made */
} pool_dio_t;

/* Starts a writer at file offset pos of fd.  direct_path names the same
 * file, for direct writes (it must live as long as the writer), or is NULL
 * for ordinary writes only. */
void pool_dio_init(pool_dio_t *w, int fd, const char *direct_path,
                   apr_off_t pos);

/* Appends n bytes (at pos + len). */
apr_status_t pool_dio_write(pool_dio_t *w, const void *data, apr_size_t n);

/* Writes everything gathered to the file (not synced). */
apr_status_t pool_dio_flush(pool_dio_t *w);

/* Cuts the file at off (nothing gathered beyond it is written); writing
 * goes on from there. */
apr_status_t pool_dio_truncate(pool_dio_t *w, apr_off_t off);

/* Reads exactly n bytes of fd at off: APR_EOF when the file ends first. */
apr_status_t pool_dio_pread(int fd, void *buf, apr_size_t n, apr_off_t off);

/* Frees the buffer and closes the direct descriptor; what was gathered and
 * not flushed is dropped.  fd stays open (it is the caller's). */
void pool_dio_close(pool_dio_t *w);

#endif
