/* Gathered writes to a growing file, in block-aligned direct writes.
 *
 * Large uploads are written once and not read back soon: copying them into
 * the page cache costs more CPU than anything else the server does with
 * them (docs/benchmarks.md).  A writer gathers arriving bytes in an aligned
 * buffer and writes whole blocks through an O_DIRECT descriptor; the last
 * partial block goes through the ordinary descriptor, and is read back into
 * the buffer when writing goes on, so the direct writes always start on a
 * block boundary whatever offset a resumable upload stops at.  Where the
 * file system refuses O_DIRECT, the same writer writes through the ordinary
 * descriptor.  Durability stays the caller's: fsync(2) of the ordinary
 * descriptor covers both (it is one file).
 *
 * Private to lib/ (no httpd header). */
#ifndef POOL_DIO_H
#define POOL_DIO_H

#include <apr_general.h>
#include <apr_errno.h>

#define POOL_DIO_ALIGN 4096             /* offsets and lengths of direct writes */
#define POOL_DIO_BUFFER (256 * 1024)    /* one buffer per open writer */

typedef struct {
    int fd;             /* ordinary descriptor: tails, reads, fsync (caller's) */
    int dfd;            /* O_DIRECT descriptor, -1 when direct writes are off */
    char *buf;          /* POOL_DIO_BUFFER bytes, aligned; made at first write */
    apr_size_t len;     /* bytes in buf */
    apr_off_t pos;      /* file offset of buf[0] */
    int refused;        /* the file system refused a direct write (EINVAL) */
} pool_dio_t;

/* Opens path for direct writes: the descriptor, or -1 when the file system
 * (or the kernel) does not offer O_DIRECT. */
int pool_dio_open_direct(const char *path);

/* Starts a writer at file offset pos of fd; dfd is -1 or from
 * pool_dio_open_direct (the writer owns it from here). */
void pool_dio_init(pool_dio_t *w, int fd, int dfd, apr_off_t pos);

/* Appends n bytes (at pos + len). */
apr_status_t pool_dio_write(pool_dio_t *w, const void *data, apr_size_t n);

/* Writes everything gathered to the file (not synced). */
apr_status_t pool_dio_flush(pool_dio_t *w);

/* Cuts the file at off (nothing gathered beyond it is written); writing
 * goes on from there. */
apr_status_t pool_dio_truncate(pool_dio_t *w, apr_off_t off);

/* Frees the buffer and closes dfd; what was gathered and not flushed is
 * dropped.  fd stays open (it is the caller's). */
void pool_dio_close(pool_dio_t *w);

#endif
