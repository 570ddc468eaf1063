/* Gathered, block-aligned direct writes (pool_dio.h). */
#include <string.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

#include "pool_dio.h"

static apr_status_t pwrite_all(int fd, const char *b, apr_size_t n,
                               apr_off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, b, n, off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return APR_FROM_OS_ERROR(errno);
        }
        b += w;
        n -= (apr_size_t)w;
        off += w;
    }
    return APR_SUCCESS;
}

apr_status_t pool_dio_pread(int fd, void *buf, apr_size_t n, apr_off_t off)
{
    char *b = buf;

    while (n > 0) {
        ssize_t got = pread(fd, b, n, off);

        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return APR_FROM_OS_ERROR(errno);
        }
        if (got == 0) {
            return APR_EOF;
        }
        b += got;
        n -= (apr_size_t)got;
        off += got;
    }
    return APR_SUCCESS;
}

static void direct_off(pool_dio_t *w)
{
    if (w->dfd >= 0) {
        close(w->dfd);
        w->dfd = -1;
    }
    w->direct_path = NULL;
}

/* The direct descriptor, opened when first needed (opening it for every
 * small file would cost them for nothing); 0 when there is none. */
static int direct_fd(pool_dio_t *w)
{
    if (w->dfd < 0 && w->direct_path) {
#ifdef O_DIRECT
        w->dfd = open(w->direct_path, O_WRONLY | O_DIRECT | O_CLOEXEC);
#else
        errno = EINVAL;
#endif
        if (w->dfd < 0) {
            w->refused = errno == EINVAL;
            w->direct_path = NULL;
        }
    }
    return w->dfd >= 0;
}

void pool_dio_init(pool_dio_t *w, int fd, const char *direct_path,
                   apr_off_t pos)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->dfd = -1;
    w->direct_path = direct_path;
    w->pos = pos;
}

/* An empty aligned buffer at an offset inside a block: read the block's
 * start back, so that the buffer begins on a block boundary (the next
 * direct write rewrites that block whole). */
static void align_start(pool_dio_t *w)
{
    apr_size_t head = (apr_size_t)(w->pos % POOL_DIO_ALIGN);

    if (!w->big || !w->direct_path || w->len || !head) {
        return;
    }
    if (pool_dio_pread(w->fd, w->buf, head, w->pos - (apr_off_t)head)
        != APR_SUCCESS) {
        direct_off(w);          /* the file is not what we think: no tricks */
        return;
    }
    w->pos -= (apr_off_t)head;
    w->len = head;
}

/* The small buffer is full and direct writes are wanted: move to an
 * aligned buffer that starts on a block boundary (reading the block's
 * start back).  Fails (and changes nothing) without memory for it. */
static apr_status_t grow(pool_dio_t *w)
{
    apr_size_t head = (apr_size_t)(w->pos % POOL_DIO_ALIGN);
    void *b = NULL;

    if (posix_memalign(&b, POOL_DIO_ALIGN, POOL_DIO_BUFFER) != 0) {
        return APR_ENOMEM;
    }
    if (head && pool_dio_pread(w->fd, b, head, w->pos - (apr_off_t)head)
                != APR_SUCCESS) {
        free(b);
        return APR_EGENERAL;
    }
    memcpy((char *)b + head, w->buf, w->len);
    free(w->buf);
    w->buf = b;
    w->cap = POOL_DIO_BUFFER;
    w->big = 1;
    w->pos -= (apr_off_t)head;
    w->len += head;
    return APR_SUCCESS;
}

/* Writes the buffer.  Direct (an aligned buffer only): whole blocks direct,
 * a partial last block through the ordinary descriptor; that block stays
 * in the buffer (it is on the file too), so the buffer still starts on a
 * block boundary.  Not direct: all of it through the ordinary descriptor. */
static apr_status_t write_out(pool_dio_t *w, int direct)
{
    apr_size_t blocks = w->len - w->len % POOL_DIO_ALIGN;
    apr_size_t tail;
    apr_status_t rv;

    if (!w->len) {
        return APR_SUCCESS;
    }
    direct = direct && w->big;
    if (direct && blocks && direct_fd(w)) {
        rv = pwrite_all(w->dfd, w->buf, blocks, w->pos);
        if (rv == APR_EINVAL) {
            /* alignment this file system does not take: write ordinarily */
            w->refused = 1;
            direct_off(w);
        }
        else if (rv != APR_SUCCESS) {
            return rv;
        }
        else {
            w->went_direct = 1;
            tail = w->len - blocks;
            if (tail && (rv = pwrite_all(w->fd, w->buf + blocks, tail,
                                         w->pos + (apr_off_t)blocks))
                        != APR_SUCCESS) {
                return rv;
            }
            memmove(w->buf, w->buf + blocks, tail);
            w->pos += (apr_off_t)blocks;
            w->len = tail;
            return APR_SUCCESS;
        }
    }
    if (w->direct_path && direct) {     /* less than a block gathered */
        return pwrite_all(w->fd, w->buf, w->len, w->pos);
    }
    if ((rv = pwrite_all(w->fd, w->buf, w->len, w->pos)) != APR_SUCCESS) {
        return rv;
    }
    w->pos += (apr_off_t)w->len;
    w->len = 0;
    return APR_SUCCESS;
}

/* A full buffer: the small one grows when direct writes are wanted, and is
 * written ordinarily otherwise; the aligned one is written direct. */
static apr_status_t buffer_full(pool_dio_t *w)
{
    if (w->big) {
        return write_out(w, 1);
    }
    if (w->direct_path && grow(w) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    return write_out(w, 0);
}

apr_status_t pool_dio_write(pool_dio_t *w, const void *data, apr_size_t n)
{
    const char *d = data;
    apr_status_t rv;

    if (!w->buf) {
        if (!(w->buf = malloc(POOL_DIO_SMALL))) {
            /* no memory for a buffer: write as it comes */
            direct_off(w);
            if ((rv = pwrite_all(w->fd, d, n, w->pos)) == APR_SUCCESS) {
                w->pos += (apr_off_t)n;
            }
            return rv;
        }
        w->cap = POOL_DIO_SMALL;
    }
    align_start(w);
    while (n > 0) {
        apr_size_t take = w->cap - w->len;

        if (take > n) {
            take = n;
        }
        memcpy(w->buf + w->len, d, take);
        w->len += take;
        d += take;
        n -= take;
        if (w->len == w->cap && (rv = buffer_full(w)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t pool_dio_flush(pool_dio_t *w)
{
    return write_out(w, w->went_direct);
}

apr_status_t pool_dio_truncate(pool_dio_t *w, apr_off_t off)
{
    apr_status_t rv;

    /* bytes before off may still be only in the buffer */
    if (off > w->pos && (rv = write_out(w, w->went_direct)) != APR_SUCCESS) {
        return rv;
    }
    w->len = 0;
    if (ftruncate(w->fd, off) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    w->pos = off;
    return APR_SUCCESS;
}

void pool_dio_close(pool_dio_t *w)
{
    direct_off(w);
    free(w->buf);
    w->buf = NULL;
    w->cap = 0;
    w->big = 0;
    w->len = 0;
}
