/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-memory backend: two byte queues and two fd queues shared by a pair
 * of endpoints, for unit tests and fuzzing. It never blocks: with no data
 * and the peer open, a read returns -EAGAIN at once and conn.c reports
 * -ETIMEDOUT (or -EAGAIN for timeout 0). Not thread-safe: both ends
 * belong to one thread.
 *
 * Sent fds are dup()ed (close-on-exec) into the queue at the stream
 * position of the first byte of that send, and a read never runs past a
 * position that carries fds, so fds come with exactly the bytes they
 * were sent with (rx->off is always 0), like SCM_RIGHTS.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport_priv.h"

struct mem_fd {
    uint64_t pos;
    int fd;
};

/*
 * Bytes a direction holds before its buffer is allocated: most messages
 * fit, and under ASan an allocation costs fuzz_server far more than its
 * bytes (a cold chunk from the quarantine, a stack trace, its fill).
 */
#define MEM_DIR_INLINE 1024

/* One direction: bytes buf[head, tail) start at stream offset head_pos. */
struct mem_dir {
    uint8_t *buf; /* inline, or allocated once it outgrew it */
    size_t head;
    size_t tail;
    size_t cap;
    uint64_t head_pos;
    struct mem_fd *fds; /* fds[fhead, ftail), ordered by pos */
    size_t fhead;
    size_t ftail;
    size_t fcap;
    bool eof; /* the writer shut down or closed */
    uint8_t inline_buf[MEM_DIR_INLINE];
};

struct mem_shared;

struct mem_end {
    struct mem_shared *sh;
    int side;
};

/* A pair is one allocation: both directions and both ends. */
struct mem_shared {
    struct mem_dir dir[2]; /* dir[i] is read by end i */
    struct mem_end end[2];
    bool open[2];
};

static void dir_free(struct mem_dir *d)
{
    for (size_t i = d->fhead; i < d->ftail; i++) {
        close(d->fds[i].fd);
    }
    free(d->fds);
    if (d->buf != d->inline_buf) {
        free(d->buf);
    }
    d->buf = d->inline_buf;
    d->cap = sizeof(d->inline_buf);
    d->head = d->tail = 0;
    d->fds = NULL;
    d->fhead = d->ftail = d->fcap = 0;
}

/* Room for len more bytes and nfds more fds. Errors: -ENOMEM. */
static int dir_reserve(struct mem_dir *d, size_t len, size_t nfds)
{
    if (d->cap - d->tail < len && d->head > 0) {
        memmove(d->buf, d->buf + d->head, d->tail - d->head);
        d->tail -= d->head;
        d->head = 0;
    }
    if (d->cap - d->tail < len) {
        size_t cap = d->cap;
        uint8_t *nb;

        while (cap - d->tail < len) {
            if (cap > SIZE_MAX / 2) {
                return -ENOMEM;
            }
            cap *= 2;
        }
        if (d->buf == d->inline_buf) {
            nb = malloc(cap);
            if (nb) {
                memcpy(nb, d->buf, d->tail);
            }
        } else {
            nb = realloc(d->buf, cap);
        }
        if (!nb) {
            return -ENOMEM;
        }
        d->buf = nb;
        d->cap = cap;
    }
    if (nfds == 0) {
        return 0;
    }
    if (d->fcap - d->ftail < nfds && d->fhead > 0) {
        memmove(d->fds, d->fds + d->fhead,
                (d->ftail - d->fhead) * sizeof(d->fds[0]));
        d->ftail -= d->fhead;
        d->fhead = 0;
    }
    if (d->fcap - d->ftail < nfds) {
        size_t fcap = d->fcap ? d->fcap : 16;
        struct mem_fd *nf;

        while (fcap - d->ftail < nfds) {
            fcap *= 2;
        }
        nf = realloc(d->fds, fcap * sizeof(*nf));
        if (!nf) {
            return -ENOMEM;
        }
        d->fds = nf;
        d->fcap = fcap;
    }
    return 0;
}

static ssize_t mem_read_some(void *ctx, void *buf, size_t cap,
                             struct vuc_rx_fds *rx, int timeout_ms)
{
    struct mem_end *e = ctx;
    struct mem_dir *d = &e->sh->dir[e->side];
    size_t avail = d->tail - d->head;
    size_t n;

    (void)timeout_ms; /* never blocks */
    if (avail == 0) {
        return d->eof ? 0 : -EAGAIN;
    }
    /* Fds sent with the byte at the head come with this read... */
    while (d->fhead < d->ftail && d->fds[d->fhead].pos <= d->head_pos) {
        int fd = d->fds[d->fhead++].fd;

        if (rx->n < VUC_MAX_FDS) {
            rx->fds[rx->n++] = fd;
        } else {
            close(fd);
            rx->truncated = true;
        }
    }
    if (d->fhead == d->ftail) {
        d->fhead = d->ftail = 0;
    }
    /* ...and the read stops before bytes that carry other fds. */
    n = avail < cap ? avail : cap;
    if (d->fhead < d->ftail && d->fds[d->fhead].pos - d->head_pos < n) {
        n = (size_t)(d->fds[d->fhead].pos - d->head_pos);
    }
    memcpy(buf, d->buf + d->head, n);
    d->head += n;
    d->head_pos += n;
    if (d->head == d->tail) {
        d->head = d->tail = 0;
    }
    rx->off = 0;
    return (ssize_t)n;
}

static ssize_t mem_write_some(void *ctx, const struct iovec *iov, int iovcnt,
                              const int *fds, size_t nfds, int timeout_ms)
{
    struct mem_end *e = ctx;
    struct mem_dir *d = &e->sh->dir[!e->side];
    size_t total = 0;
    uint64_t pos;
    int r;

    (void)timeout_ms; /* never blocks */
    if (!e->sh->open[!e->side] || d->eof) {
        return -EPIPE;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total) {
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    r = dir_reserve(d, total, nfds);
    if (r < 0) {
        return r;
    }
    pos = d->head_pos + (d->tail - d->head);
    for (size_t i = 0; i < nfds; i++) {
        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

        if (fd < 0) {
            r = -errno;
            while (i-- > 0) {
                close(d->fds[--d->ftail].fd);
            }
            return r;
        }
        d->fds[d->ftail].pos = pos;
        d->fds[d->ftail].fd = fd;
        d->ftail++;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0) {
            memcpy(d->buf + d->tail, iov[i].iov_base, iov[i].iov_len);
            d->tail += iov[i].iov_len;
        }
    }
    return (ssize_t)total;
}

static int mem_shutdown(void *ctx)
{
    struct mem_end *e = ctx;

    e->sh->dir[!e->side].eof = true;
    return 0;
}

static void mem_close(void *ctx)
{
    struct mem_end *e = ctx;
    struct mem_shared *sh = e->sh;

    sh->open[e->side] = false;
    sh->dir[!e->side].eof = true;
    /* Nobody will read what was sent to this end. */
    dir_free(&sh->dir[e->side]);
    if (!sh->open[!e->side]) {
        dir_free(&sh->dir[!e->side]);
        free(sh);
    }
}

static int mem_fd(const void *ctx)
{
    (void)ctx;
    return -1;
}

static const struct vuc_conn_ops mem_ops = {
    .read_some = mem_read_some,
    .write_some = mem_write_some,
    .shutdown = mem_shutdown,
    .close = mem_close,
    .fd = mem_fd,
};

/* Errors: -ENOMEM (nothing allocated is left behind). */
int vuc_mem_pair(struct vuc_conn **a, struct vuc_conn **b)
{
    struct mem_shared *sh;
    struct vuc_conn *c[2] = {NULL, NULL};

    if (!a || !b) {
        return -EINVAL;
    }
    sh = malloc(sizeof(*sh));
    if (!sh) {
        return -ENOMEM;
    }
    for (int i = 0; i < 2; i++) {
        struct mem_dir *d = &sh->dir[i];

        /* the inline bytes are written before they are read */
        memset(d, 0, offsetof(struct mem_dir, inline_buf));
        d->buf = d->inline_buf;
        d->cap = sizeof(d->inline_buf);
        sh->end[i].sh = sh;
        sh->end[i].side = i;
        sh->open[i] = true;
    }
    for (int i = 0; i < 2; i++) {
        if (vuc_conn_new(&mem_ops, &sh->end[i], &c[i]) < 0) {
            goto fail;
        }
    }
    *a = c[0];
    *b = c[1];
    return 0;
fail:
    /* Closing the conn closes its end, and the pair with it once the
     * other end is marked closed. */
    if (c[0]) {
        sh->open[1] = false;
        vuc_conn_close(c[0]);
    } else {
        free(sh);
    }
    return -ENOMEM;
}
