/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message framing over a byte-stream backend (spec: Header, "Message
 * size"), shared by the AF_UNIX and in-memory transports.
 *
 * Receive path. Bytes land in a buffer of up to 64 KiB, so a burst of
 * small messages costs one read and the rest are cut out of the buffer
 * with no system call. It starts at 4 KiB and doubles when a read fills
 * it or the message at its head does not fit: a connection that only
 * ever sees one small message at a time (most do, and every one the fuzz
 * targets open) never pays for the 64 KiB. A message of at least
 * DIRECT_MIN bytes that is not yet complete gets its own allocation of
 * the declared size; what is already buffered is copied once and the
 * remainder is read straight into it, so a 1 MiB payload is not copied
 * twice. Partial headers and bodies stay in the connection between
 * calls; a timeout never loses bytes.
 *
 * Fds. Each read that brings fds records them with a stream position;
 * a message takes every batch whose position falls inside it. The
 * in-memory backend knows the exact position (the first byte of the send
 * that carried them). Over AF_UNIX the kernel delivers SCM_RIGHTS with
 * the bytes of the sendmsg that carried them and ends the read after that
 * skb, but one read may also hold earlier bytes sent without fds; so the
 * position taken is the last byte of the read. When each message starts
 * its own sendmsg (as vuc_conn_sendv does) that is exactly the message
 * the fds were sent with. Because a read happens only when the message
 * at the head is incomplete, at most two batches are ever pending; the
 * small queue merges into its last entry rather than fail if that were
 * ever not so.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "transport_priv.h"
#include "vucert/wire.h"

/* Receive buffer: many small messages per read; its first size. */
#define RBUF_SIZE 65536u
#define RBUF_MIN  4096u
/* Incomplete messages this big are read straight into their allocation. */
#define DIRECT_MIN 16384u
/* Pending fd batches (see above: two suffice). */
#define FDQ_LEN 4
/* iovecs on the stack for sendv before falling back to malloc. */
#define STACK_IOV 8
/* Messages up to this size without fds are gathered into one buffer:
 * a plain send() costs measurably less in the kernel than a sendmsg()
 * with an iovec array, and copying this little is cheaper still. */
#define GATHER_MAX 1024u

struct fd_batch {
    uint64_t pos; /* stream offset of the byte the fds belong to */
    size_t n;
    bool truncated;
    int fds[VUC_MAX_FDS];
};

struct vuc_conn {
    const struct vuc_conn_ops *ops;
    void *ctx;
    size_t max_msg;

    /* Buffered bytes are rbuf[rpos, rlen), at stream offsets ending at
     * in_off (the offset of the next byte the backend returns). */
    uint8_t *rbuf;
    size_t rcap; /* RBUF_MIN .. RBUF_SIZE */
    size_t rpos;
    size_t rlen;
    uint64_t in_off;

    /* A large message being read straight into its own buffer; rbuf is
     * empty meanwhile. */
    uint8_t *big;
    size_t big_len;
    size_t big_have;

    /* Bytes of an oversized message still to discard (-EMSGSIZE); rbuf
     * is empty while this is non-zero. */
    size_t skip;

    /* vuc_conn_recv_buf's buffer for the duration of the call */
    uint8_t *ubuf;
    size_t ucap;

    struct fd_batch fdq[FDQ_LEN];
    size_t nfdq;
};

struct deadline {
    int timeout_ms;
    bool started;
    struct timespec end;
};

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}

static void msg_clear(struct vuc_msg *m)
{
    memset(m, 0, sizeof(*m));
    /* Every fd -1: all bits set. No loop, as this runs several times per
     * message and a loop costs a compare per fd under instrumentation. */
    memset(m->fds, 0xff, sizeof(m->fds));
}

void vuc_msg_release(struct vuc_msg *m)
{
    if (!m) {
        return;
    }
    if (!m->borrowed) {
        free(m->buf);
    }
    close_fds(m->fds, m->nfds < VUC_MAX_FDS ? m->nfds : VUC_MAX_FDS);
    msg_clear(m);
}

int vuc_conn_new(const struct vuc_conn_ops *ops, void *ctx,
                 struct vuc_conn **out)
{
    struct vuc_conn *c = calloc(1, sizeof(*c));

    if (!c) {
        return -ENOMEM;
    }
    c->ops = ops;
    c->ctx = ctx;
    c->max_msg = VUC_DEFAULT_MAX_MSG;
    *out = c;
    return 0;
}

void vuc_conn_close(struct vuc_conn *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->nfdq; i++) {
        close_fds(c->fdq[i].fds, c->fdq[i].n);
    }
    free(c->rbuf);
    free(c->big);
    c->ops->close(c->ctx);
    free(c);
}

int vuc_conn_fd(const struct vuc_conn *c)
{
    return c->ops->fd(c->ctx);
}

void vuc_conn_set_max_msg(struct vuc_conn *c, size_t max)
{
    c->max_msg = max;
}

size_t vuc_conn_max_msg(const struct vuc_conn *c)
{
    return c->max_msg;
}

int vuc_conn_shutdown(struct vuc_conn *c)
{
    return c->ops->shutdown(c->ctx);
}

/* ---- timeouts ---- */

static void deadline_init(struct deadline *d, int timeout_ms)
{
    d->timeout_ms = timeout_ms;
    d->started = false;
    /* set on first use; zeroed so that no path reads it uninitialised */
    d->end.tv_sec = 0;
    d->end.tv_nsec = 0;
}

/*
 * The wait for the next backend call (< 0 forever, 0 none, > 0 the whole
 * milliseconds left, rounded up). The clock is read only for a positive
 * timeout. Errors: -ETIMEDOUT when a positive timeout has run out.
 */
static int deadline_left(struct deadline *d, int *ms)
{
    struct timespec now;
    int64_t left;

    if (d->timeout_ms <= 0) {
        *ms = d->timeout_ms;
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!d->started) {
        d->started = true;
        d->end.tv_sec = now.tv_sec + d->timeout_ms / 1000;
        d->end.tv_nsec = now.tv_nsec + (long)(d->timeout_ms % 1000) * 1000000;
        if (d->end.tv_nsec >= 1000000000) {
            d->end.tv_sec++;
            d->end.tv_nsec -= 1000000000;
        }
        *ms = d->timeout_ms;
        return 0;
    }
    left = (int64_t)(d->end.tv_sec - now.tv_sec) * 1000000000 +
           (d->end.tv_nsec - now.tv_nsec);
    if (left <= 0) {
        return -ETIMEDOUT;
    }
    *ms = (int)((left + 999999) / 1000000);
    return 0;
}

/* ---- fd queue ---- */

/* Append fds to an array of VUC_MAX_FDS; close what does not fit. */
static void fds_append(int *dst, size_t *n, bool *truncated, const int *src,
                       size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (*n < VUC_MAX_FDS) {
            dst[(*n)++] = src[i];
        } else {
            close(src[i]);
            *truncated = true;
        }
    }
}

static void fdq_push(struct vuc_conn *c, const struct vuc_rx_fds *rx,
                     uint64_t pos)
{
    struct fd_batch *b;

    if (c->nfdq == FDQ_LEN) {
        b = &c->fdq[FDQ_LEN - 1];
    } else {
        b = &c->fdq[c->nfdq++];
        b->pos = pos;
        b->n = 0;
        b->truncated = false;
    }
    fds_append(b->fds, &b->n, &b->truncated, rx->fds, rx->n);
    b->truncated |= rx->truncated;
}

/*
 * Hand the batches positioned in [start, end) to m; close those before
 * start (they came with discarded bytes). With m NULL, close everything
 * before end.
 */
static void fdq_take(struct vuc_conn *c, uint64_t start, uint64_t end,
                     struct vuc_msg *m)
{
    size_t i = 0;

    while (i < c->nfdq && c->fdq[i].pos < end) {
        struct fd_batch *b = &c->fdq[i];

        if (!m || b->pos < start) {
            close_fds(b->fds, b->n);
        } else {
            fds_append(m->fds, &m->nfds, &m->fds_truncated, b->fds, b->n);
            m->fds_truncated |= b->truncated;
        }
        i++;
    }
    if (i > 0) {
        memmove(c->fdq, c->fdq + i, (c->nfdq - i) * sizeof(c->fdq[0]));
        c->nfdq -= i;
    }
}

/* ---- receive ---- */

/* The header as sent, even when its size is below 16. */
static void hdr_fill(const uint8_t *p, struct vuc_hdr *h)
{
    if (vuc_hdr_decode(p, VUC_HDR_SIZE, h) < 0) {
        h->id = vuc_get_u16(p);
        h->cmd = vuc_get_u16(p + 2);
        h->size = vuc_get_u32(p + 4);
        h->flags = vuc_get_u32(p + 8);
        h->error = vuc_get_u32(p + 12);
    }
}

static void msg_fill(struct vuc_msg *m, uint8_t *buf, size_t len)
{
    hdr_fill(buf, &m->hdr);
    m->buf = buf;
    m->len = len;
    m->payload = buf + VUC_HDR_SIZE;
    m->payload_len = len - VUC_HDR_SIZE;
}

static uint64_t head_off(const struct vuc_conn *c)
{
    return c->in_off - (c->rlen - c->rpos);
}

/* Drop buffered bytes of a message being skipped. */
static void skip_buffered(struct vuc_conn *c)
{
    size_t avail = c->rlen - c->rpos;
    size_t take = avail < c->skip ? avail : c->skip;

    c->rpos += take;
    c->skip -= take;
    fdq_take(c, 0, head_off(c), NULL);
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    }
}

/* Double the receive buffer (up to RBUF_SIZE). Errors: -ENOMEM. */
static int rbuf_grow(struct vuc_conn *c)
{
    size_t cap = c->rcap * 2 < RBUF_SIZE ? c->rcap * 2 : RBUF_SIZE;
    uint8_t *nb;

    if (cap <= c->rcap) {
        return 0; /* vuc_conn_unread made it larger already */
    }
    nb = realloc(c->rbuf, cap);

    if (!nb) {
        return -ENOMEM;
    }
    c->rbuf = nb;
    c->rcap = cap;
    return 0;
}

enum step {
    STEP_DONE,      /* *ret is the result */
    STEP_READ_RBUF, /* read into *dst, cap *cap, then account to rbuf */
    STEP_READ_BIG,  /* read into *dst, cap *cap, then account to big */
};

/* Make progress from what is buffered; say where to read if stuck. */
static enum step recv_step(struct vuc_conn *c, struct vuc_msg *m, int *ret,
                           uint8_t **dst, size_t *cap)
{
    size_t avail;
    const uint8_t *p;
    uint32_t size = 0;

    if (c->skip) {
        skip_buffered(c);
        if (c->skip) {
            *dst = c->rbuf;
            *cap = c->rcap;
            return STEP_READ_RBUF;
        }
    }
    if (c->big) {
        if (c->big_have == c->big_len) {
            uint64_t start = c->in_off - c->big_len;

            msg_fill(m, c->big, c->big_len);
            fdq_take(c, start, c->in_off, m);
            c->big = NULL;
            *ret = 0;
            return STEP_DONE;
        }
        *dst = c->big + c->big_have;
        *cap = c->big_len - c->big_have;
        return STEP_READ_BIG;
    }

    avail = c->rlen - c->rpos;
    if (avail >= VUC_HDR_SIZE) {
        p = c->rbuf + c->rpos;
        size = vuc_get_u32(p + 4); /* spec: Header, Message size */
        if (size < VUC_HDR_SIZE) {
            /* Nothing says where the next message starts: keep the
             * bytes, so every later call reports the same. */
            hdr_fill(p, &m->hdr);
            *ret = -EBADMSG;
            return STEP_DONE;
        }
        if (size > c->max_msg) {
            hdr_fill(p, &m->hdr);
            c->skip = size;
            skip_buffered(c);
            *ret = -EMSGSIZE;
            return STEP_DONE;
        }
        if (avail >= size) {
            uint64_t start = head_off(c);
            bool borrow = c->ubuf && size <= c->ucap;
            uint8_t *buf = borrow ? c->ubuf : malloc(size);

            if (!buf) {
                *ret = -ENOMEM;
                return STEP_DONE;
            }
            memcpy(buf, p, size);
            msg_fill(m, buf, size);
            m->borrowed = borrow;
            fdq_take(c, start, start + size, m);
            c->rpos += size;
            if (c->rpos == c->rlen) {
                c->rpos = c->rlen = 0;
            }
            *ret = 0;
            return STEP_DONE;
        }
        if (size >= DIRECT_MIN) {
            c->big = malloc(size);
            if (!c->big) {
                *ret = -ENOMEM;
                return STEP_DONE;
            }
            memcpy(c->big, p, avail);
            c->big_len = size;
            c->big_have = avail;
            c->rpos = c->rlen = 0;
            *dst = c->big + avail;
            *cap = size - avail;
            return STEP_READ_BIG;
        }
    }
    /* The head message is incomplete and small: move it to the front so
     * the read has room for it and for whatever follows. */
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, avail);
        c->rpos = 0;
        c->rlen = avail;
    }
    /* size < DIRECT_MIN <= RBUF_SIZE here, so this ends */
    while (avail >= VUC_HDR_SIZE && size > c->rcap) {
        if (rbuf_grow(c) < 0) {
            *ret = -ENOMEM;
            return STEP_DONE;
        }
    }
    *dst = c->rbuf + c->rlen;
    *cap = c->rcap - c->rlen;
    return STEP_READ_RBUF;
}

/* One backend read; records fds with their stream position. */
static ssize_t conn_read(struct vuc_conn *c, uint8_t *dst, size_t cap,
                         struct deadline *dl)
{
    struct vuc_rx_fds rx;
    ssize_t n;
    int ms;
    int r = deadline_left(dl, &ms);

    if (r < 0) {
        return r;
    }
    rx.n = 0;
    rx.truncated = false;
    rx.off = 0;
    n = c->ops->read_some(c->ctx, dst, cap, &rx, ms);
    if (n > 0) {
        if (rx.n > 0 || rx.truncated) {
            size_t off = rx.off < (size_t)n ? rx.off : (size_t)n - 1;

            fdq_push(c, &rx, c->in_off + off);
        }
        c->in_off += (uint64_t)n;
    } else {
        close_fds(rx.fds, rx.n);
    }
    return n;
}

int vuc_conn_recv(struct vuc_conn *c, struct vuc_msg *m, int timeout_ms)
{
    struct deadline dl;

    if (!c || !m) {
        return -EINVAL;
    }
    msg_clear(m);
    if (!c->rbuf) {
        c->rbuf = malloc(RBUF_MIN);
        if (!c->rbuf) {
            return -ENOMEM;
        }
        c->rcap = RBUF_MIN;
    }
    deadline_init(&dl, timeout_ms);
    for (;;) {
        uint8_t *dst = NULL;
        size_t cap = 0;
        int ret = 0;
        enum step s = recv_step(c, m, &ret, &dst, &cap);
        ssize_t n;

        if (s == STEP_DONE) {
            return ret;
        }
        n = conn_read(c, dst, cap, &dl);
        if (n > 0) {
            if (s == STEP_READ_BIG) {
                c->big_have += (size_t)n;
            } else {
                c->rlen += (size_t)n;
                /* a full buffer: more may be waiting */
                if (c->rlen == c->rcap && c->rcap < RBUF_SIZE &&
                    rbuf_grow(c) < 0) {
                    return -ENOMEM;
                }
            }
            continue;
        }
        if (n == -EINTR) {
            continue;
        }
        if (n == 0 || n == -ECONNRESET) {
            bool boundary = !c->big && !c->skip && c->rpos == c->rlen;

            return boundary ? -ECONNRESET : -EPIPE;
        }
        if (n == -EAGAIN || n == -ETIMEDOUT) {
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        }
        return (int)n;
    }
}

int vuc_conn_recv_buf(struct vuc_conn *c, struct vuc_msg *m, uint8_t *buf,
                      size_t cap, int timeout_ms)
{
    int rc;

    if (!c || !m || (cap > 0 && !buf)) {
        return -EINVAL;
    }
    c->ubuf = buf;
    c->ucap = cap;
    rc = vuc_conn_recv(c, m, timeout_ms);
    c->ubuf = NULL;
    c->ucap = 0;
    return rc;
}

/*
 * Also true when the buffered header is one recv rejects (-EBADMSG,
 * -EMSGSIZE): recv answers it without a system call too, and an event
 * loop that waited for the fd instead could wait forever.
 */
bool vuc_conn_pending(const struct vuc_conn *c)
{
    size_t avail;
    uint32_t size;

    if (c->skip || c->big) {
        return false;
    }
    avail = c->rlen - c->rpos;
    if (avail < VUC_HDR_SIZE) {
        return false;
    }
    size = vuc_get_u32(c->rbuf + c->rpos + 4);
    return size < VUC_HDR_SIZE || size > c->max_msg || avail >= size;
}

/*
 * Walk the whole messages buffered; true if bytes are left over that
 * start one not complete yet. A header recv rejects ends the walk: recv
 * answers it without waiting for more.
 */
bool vuc_conn_partial(const struct vuc_conn *c)
{
    size_t pos;

    if (c->big) {
        return c->big_have < c->big_len;
    }
    if (c->skip) {
        return false; /* rbuf is empty while skipping */
    }
    pos = c->rpos;
    while (c->rlen - pos >= VUC_HDR_SIZE) {
        uint32_t size = vuc_get_u32(c->rbuf + pos + 4);

        if (size < VUC_HDR_SIZE || size > c->max_msg) {
            return false;
        }
        if (c->rlen - pos < size) {
            return true;
        }
        pos += size;
    }
    return pos < c->rlen;
}

int vuc_conn_unread(struct vuc_conn *c, const void *p, size_t n)
{
    size_t avail, cap;
    uint8_t *nb;

    if (!c || (n > 0 && !p)) {
        return -EINVAL;
    }
    if (c->big || c->skip) {
        return -EBUSY;
    }
    if (n == 0) {
        return 0;
    }
    avail = c->rlen - c->rpos;
    if (c->rbuf && c->rpos >= n) {
        c->rpos -= n;
        memcpy(c->rbuf + c->rpos, p, n);
        return 0;
    }
    cap = c->rcap > n + avail ? c->rcap : n + avail;
    if (cap < RBUF_MIN) {
        cap = RBUF_MIN;
    }
    nb = malloc(cap);
    if (!nb) {
        return -ENOMEM;
    }
    memcpy(nb, p, n);
    if (avail > 0) {
        memcpy(nb + n, c->rbuf + c->rpos, avail);
    }
    free(c->rbuf);
    c->rbuf = nb;
    c->rcap = cap;
    c->rpos = 0;
    c->rlen = n + avail;
    return 0;
}

/* ---- send ---- */

/*
 * Write all of v (entries non-empty; v is consumed). fds go with the
 * first write only. Errors: -ETIMEDOUT, -EPIPE, backend errnos.
 */
static int send_all(struct vuc_conn *c, struct iovec *v, int cnt,
                    const int *fds, size_t nfds, int timeout_ms)
{
    struct deadline dl;
    int i = 0;

    deadline_init(&dl, timeout_ms);
    while (i < cnt) {
        int ms;
        int r = deadline_left(&dl, &ms);
        ssize_t n;
        size_t left;

        if (r < 0) {
            return r;
        }
        n = c->ops->write_some(c->ctx, v + i, cnt - i, fds, nfds, ms);
        if (n < 0) {
            if (n == -EINTR) {
                continue;
            }
            if (n == -EAGAIN) {
                return -ETIMEDOUT;
            }
            if (n == -ECONNRESET) {
                return -EPIPE;
            }
            return (int)n;
        }
        fds = NULL;
        nfds = 0;
        left = (size_t)n;
        while (left > 0 && i < cnt) {
            if (left >= v[i].iov_len) {
                left -= v[i].iov_len;
                i++;
            } else {
                v[i].iov_base = (uint8_t *)v[i].iov_base + left;
                v[i].iov_len -= left;
                left = 0;
            }
        }
    }
    return 0;
}

/*
 * Errors: -EINVAL (nfds > VUC_MAX_FDS, payload > UINT32_MAX - 16, bad
 * iovcnt), -ENOMEM, -ETIMEDOUT (if part of the message was written the
 * stream has lost its framing: close the connection), -EPIPE (peer gone),
 * -EBADF (an fd to pass is not open), other errnos of sendmsg.
 */
int vuc_conn_sendv(struct vuc_conn *c, const struct vuc_hdr *h,
                   const struct iovec *iov, int iovcnt, const int *fds,
                   size_t nfds, int timeout_ms)
{
    struct iovec stack_v[STACK_IOV];
    struct iovec *v = stack_v;
    struct vuc_hdr hh;
    uint8_t hb[VUC_HDR_SIZE];
    size_t total = 0;
    int cnt = 1;
    int r;

    if (!c || !h || nfds > VUC_MAX_FDS || (nfds > 0 && !fds) || iovcnt < 0 ||
        (iovcnt > 0 && !iov) || iovcnt >= IOV_MAX) {
        return -EINVAL;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > UINT32_MAX - VUC_HDR_SIZE - total) {
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    hh = *h;
    hh.size = (uint32_t)(VUC_HDR_SIZE + total);
    if (nfds == 0 && VUC_HDR_SIZE + total <= GATHER_MAX) {
        uint8_t g[GATHER_MAX];
        size_t off = VUC_HDR_SIZE;

        vuc_hdr_encode(&hh, g, sizeof(g));
        for (int i = 0; i < iovcnt; i++) {
            if (iov[i].iov_len > 0) {
                memcpy(g + off, iov[i].iov_base, iov[i].iov_len);
                off += iov[i].iov_len;
            }
        }
        v[0].iov_base = g;
        v[0].iov_len = off;
        return send_all(c, v, 1, NULL, 0, timeout_ms);
    }
    if ((size_t)iovcnt + 1 > STACK_IOV) {
        v = malloc(((size_t)iovcnt + 1) * sizeof(*v));
        if (!v) {
            return -ENOMEM;
        }
    }
    vuc_hdr_encode(&hh, hb, sizeof(hb));
    v[0].iov_base = hb;
    v[0].iov_len = sizeof(hb);
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0) {
            v[cnt++] = iov[i];
        }
    }
    r = send_all(c, v, cnt, fds, nfds, timeout_ms);
    if (v != stack_v) {
        free(v);
    }
    return r;
}

/* Errors: as vuc_conn_sendv. */
int vuc_conn_send(struct vuc_conn *c, const struct vuc_hdr *h,
                  const void *payload, size_t len, const int *fds, size_t nfds,
                  int timeout_ms)
{
    struct iovec iov;

    if (len > 0 && !payload) {
        return -EINVAL;
    }
    iov.iov_base = (void *)(uintptr_t)payload;
    iov.iov_len = len;
    return vuc_conn_sendv(c, h, &iov, len > 0 ? 1 : 0, fds, nfds, timeout_ms);
}

/*
 * Up to VUC_SCM_MAX_FD fds, so tests can send more than a message may
 * keep. Errors: -EINVAL (too many fds, or fds with no bytes to carry
 * them), -ETIMEDOUT, -EPIPE, -EBADF, other errnos of sendmsg.
 */
int vuc_conn_send_raw(struct vuc_conn *c, const void *buf, size_t len,
                      const int *fds, size_t nfds, int timeout_ms)
{
    struct iovec v;

    if (!c || nfds > VUC_SCM_MAX_FD || (nfds > 0 && (!fds || len == 0)) ||
        (len > 0 && !buf)) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    v.iov_base = (void *)(uintptr_t)buf;
    v.iov_len = len;
    return send_all(c, &v, 1, fds, nfds, timeout_ms);
}
