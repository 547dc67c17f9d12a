/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for transport/: framing over a byte stream, fd passing,
 * timeouts, end of stream, and the AF_UNIX listen/accept/connect calls.
 *
 * Most tests run twice, over a socketpair() wrapped with
 * vuc_conn_from_fd() and over vuc_mem_pair(), with "tx" as the peer that
 * writes raw bytes and "rx" as the end under test. Every fixture counts
 * the process's open fds before and after, so any fd the transport
 * forgets to close fails the test that leaked it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vucert/transport.h"

/* One more than a single sendmsg may carry on Linux (SCM_MAX_FD). */
#define RAW_FDS_TOO_MANY 254

enum kind {
    KIND_UNIX,
    KIND_MEM,
};

static const enum kind kind_unix = KIND_UNIX;
static const enum kind kind_mem = KIND_MEM;

struct fx {
    enum kind kind;
    struct vuc_conn *rx; /* end under test */
    struct vuc_conn *tx; /* peer */
    int base_fds;
};

/* ---- helpers ---- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static uint8_t pat(size_t i, uint8_t seed)
{
    return (uint8_t)(i * 7u + seed);
}

/* A message of size bytes (header included); payload bytes follow pat(). */
static void mk_msg(uint8_t *buf, uint16_t id, uint32_t size, uint8_t seed)
{
    struct vuc_hdr h = {id, 3, size, 0, 0};

    assert_int_equal(vuc_hdr_encode(&h, buf, VUC_HDR_SIZE), VUC_HDR_SIZE);
    for (size_t i = VUC_HDR_SIZE; i < size; i++) {
        buf[i] = pat(i, seed);
    }
}

static void check_msg(const struct vuc_msg *m, uint16_t id, uint32_t size,
                      uint8_t seed)
{
    assert_int_equal(m->hdr.id, id);
    assert_int_equal(m->hdr.cmd, 3);
    assert_int_equal(m->hdr.size, size);
    assert_int_equal(m->len, size);
    assert_non_null(m->buf);
    assert_ptr_equal(m->payload, m->buf + VUC_HDR_SIZE);
    assert_int_equal(m->payload_len, size - VUC_HDR_SIZE);
    for (size_t i = VUC_HDR_SIZE; i < size; i++) {
        if (m->buf[i] != pat(i, seed)) {
            fail_msg("byte %zu of message %u differs", i, id);
        }
    }
}

static void raw(struct vuc_conn *c, const void *buf, size_t len)
{
    assert_int_equal(vuc_conn_send_raw(c, buf, len, NULL, 0, 1000), 0);
}

static void raw_fds(struct vuc_conn *c, const void *buf, size_t len,
                    const int *fds, size_t nfds)
{
    assert_int_equal(vuc_conn_send_raw(c, buf, len, fds, nfds, 1000), 0);
}

static void expect_msg(struct vuc_conn *c, int timeout_ms, uint16_t id,
                       uint32_t size, uint8_t seed)
{
    struct vuc_msg m;

    assert_int_equal(vuc_conn_recv(c, &m, timeout_ms), 0);
    check_msg(&m, id, size, seed);
    assert_int_equal(m.nfds, 0);
    vuc_msg_release(&m);
}

static void expect_err(struct vuc_conn *c, int timeout_ms, int err)
{
    struct vuc_msg m;

    assert_int_equal(vuc_conn_recv(c, &m, timeout_ms), err);
    assert_null(m.buf);
    assert_int_equal(m.nfds, 0);
    vuc_msg_release(&m);
}

static void close_peer(struct fx *f)
{
    vuc_conn_close(f->tx);
    f->tx = NULL;
}

/* A send from another thread over AF_UNIX (the socket buffer is smaller
 * than the data); inline for the in-memory pair, which never blocks and
 * belongs to one thread. */
struct async_send {
    struct vuc_conn *c;
    const struct vuc_hdr *hdr; /* NULL: raw bytes */
    const uint8_t *buf;
    size_t len;
    size_t chunk;   /* raw sends of this size; 0 for one send */
    const int *fds; /* with vuc_conn_send only */
    size_t nfds;
    int ret;
    bool threaded;
    pthread_t th;
};

static void *async_fn(void *arg)
{
    struct async_send *a = arg;
    size_t off = 0;

    if (a->hdr) {
        a->ret =
            vuc_conn_send(a->c, a->hdr, a->buf, a->len, a->fds, a->nfds, 10000);
        return NULL;
    }
    a->ret = 0;
    while (off < a->len && a->ret == 0) {
        size_t n = a->chunk ? a->chunk : a->len;

        if (n > a->len - off) {
            n = a->len - off;
        }
        a->ret = vuc_conn_send_raw(a->c, a->buf + off, n, NULL, 0, 10000);
        off += n;
    }
    return NULL;
}

static void async_start(const struct fx *f, struct async_send *a)
{
    a->threaded = f->kind == KIND_UNIX;
    if (a->threaded) {
        assert_int_equal(pthread_create(&a->th, NULL, async_fn, a), 0);
    } else {
        async_fn(a);
    }
}

static void async_join(struct async_send *a)
{
    if (a->threaded) {
        assert_int_equal(pthread_join(a->th, NULL), 0);
    }
    assert_int_equal(a->ret, 0);
}

/* ---- fixture ---- */

static int setup(void **state)
{
    const enum kind *k = *state;
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->kind = *k;
    f->base_fds = count_fds();
    if (f->kind == KIND_UNIX) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                         0);
        assert_int_equal(vuc_conn_from_fd(sv[0], &f->rx), 0);
        assert_int_equal(vuc_conn_from_fd(sv[1], &f->tx), 0);
    } else {
        assert_int_equal(vuc_mem_pair(&f->rx, &f->tx), 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int base = f->base_fds;

    vuc_conn_close(f->rx);
    vuc_conn_close(f->tx);
    free(f);
    /* Every fd a test received or the transport queued is closed. */
    assert_int_equal(count_fds(), base);
    return 0;
}

/* ---- framing ---- */

static void test_split_1byte(void **state)
{
    struct fx *f = *state;
    uint8_t b[40];

    mk_msg(b, 7, sizeof(b), 1);
    for (size_t i = 0; i < sizeof(b); i++) {
        raw(f->tx, b + i, 1);
        if (i + 1 < sizeof(b)) {
            expect_err(f->rx, 0, -EAGAIN);
            assert_false(vuc_conn_pending(f->rx));
        }
    }
    expect_msg(f->rx, 0, 7, sizeof(b), 1);
    expect_err(f->rx, 0, -EAGAIN);
}

static void test_header_split(void **state)
{
    struct fx *f = *state;
    uint8_t b[48];

    mk_msg(b, 9, sizeof(b), 2);
    raw(f->tx, b, 7);
    expect_err(f->rx, 0, -EAGAIN);
    expect_err(f->rx, 10, -ETIMEDOUT);
    raw(f->tx, b + 7, 8); /* 15 bytes: one short of a header */
    expect_err(f->rx, 0, -EAGAIN);
    raw(f->tx, b + 15, 1); /* exactly the header */
    expect_err(f->rx, 0, -EAGAIN);
    assert_false(vuc_conn_pending(f->rx));
    raw(f->tx, b + 16, sizeof(b) - 16);
    expect_msg(f->rx, 0, 9, sizeof(b), 2);
}

static void test_header_only_msg(void **state)
{
    struct fx *f = *state;
    uint8_t b[16];

    mk_msg(b, 1, 16, 0);
    raw(f->tx, b, sizeof(b));
    expect_msg(f->rx, 0, 1, 16, 0);
}

/* vuc_conn_unread: bytes put back are read before what is buffered, on an
 * empty buffer, in front of a buffered message, and larger than the
 * buffer */
static void test_unread(void **state)
{
    struct fx *f = *state;
    uint8_t a[40], b[48], *big = malloc(10000);

    assert_non_null(big);
    mk_msg(a, 1, sizeof(a), 1);
    mk_msg(b, 2, sizeof(b), 2);
    mk_msg(big, 3, 10000, 3);
    assert_int_equal(vuc_conn_unread(f->rx, a, sizeof(a)), 0);
    assert_true(vuc_conn_pending(f->rx));
    expect_msg(f->rx, 0, 1, sizeof(a), 1);
    raw(f->tx, b, sizeof(b));
    raw(f->tx, a, sizeof(a));
    expect_msg(f->rx, 0, 2, sizeof(b), 2); /* a is buffered behind it */
    assert_int_equal(vuc_conn_unread(f->rx, big, 10000), 0);
    expect_msg(f->rx, 0, 3, 10000, 3);
    expect_msg(f->rx, 0, 1, sizeof(a), 1);
    expect_err(f->rx, 0, -EAGAIN);
    assert_int_equal(vuc_conn_unread(f->rx, NULL, 0), 0);
    assert_int_equal(vuc_conn_unread(f->rx, NULL, 1), -EINVAL);
    free(big);
}

/* 100 messages in one write: one read, then 99 messages cut out of the
 * buffer. Over AF_UNIX the socket is then replaced by /dev/null, so any
 * system call recv made would fail. */
static void test_burst(void **state)
{
    struct fx *f = *state;
    uint8_t b[100 * 60];
    size_t off = 0;
    int devnull = -1;

    for (uint16_t i = 0; i < 100; i++) {
        uint32_t size = 16u + i % 41u;

        mk_msg(b + off, i, size, (uint8_t)i);
        off += size;
    }
    raw(f->tx, b, off);
    expect_msg(f->rx, 0, 0, 16, 0);
    if (f->kind == KIND_UNIX) {
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_true(devnull >= 0);
        assert_int_equal(dup2(devnull, vuc_conn_fd(f->rx)), vuc_conn_fd(f->rx));
    }
    for (uint16_t i = 1; i < 100; i++) {
        assert_true(vuc_conn_pending(f->rx));
        expect_msg(f->rx, 0, i, 16u + i % 41u, (uint8_t)i);
    }
    assert_false(vuc_conn_pending(f->rx));
    if (f->kind == KIND_UNIX) {
        /* Now it does read, and finds /dev/null: proof of the above. */
        expect_err(f->rx, 0, -ENOTSOCK);
        close(devnull);
    } else {
        expect_err(f->rx, 0, -EAGAIN);
    }
}

/* The receive buffer starts small and grows: a message just over its
 * first size, one just under the direct-read threshold, then a burst of
 * small ones far larger than the first size, all in one write. */
static void test_rbuf_grows(void **state)
{
    struct fx *f = *state;
    enum { SMALL = 2000, SMALL_SIZE = 40 };
    size_t total = 4097 + 16383 + SMALL * SMALL_SIZE, off = 0;
    uint8_t *b = malloc(total);

    assert_non_null(b);
    mk_msg(b, 1, 4097, 1);
    off += 4097;
    mk_msg(b + off, 2, 16383, 2);
    off += 16383;
    for (uint16_t i = 0; i < SMALL; i++) {
        mk_msg(b + off, (uint16_t)(3 + i), SMALL_SIZE, (uint8_t)i);
        off += SMALL_SIZE;
    }
    raw(f->tx, b, total);
    expect_msg(f->rx, 1000, 1, 4097, 1);
    expect_msg(f->rx, 1000, 2, 16383, 2);
    for (uint16_t i = 0; i < SMALL; i++) {
        expect_msg(f->rx, 1000, (uint16_t)(3 + i), SMALL_SIZE, (uint8_t)i);
    }
    expect_err(f->rx, 0, -EAGAIN);
    free(b);
}

/* recv_buf: a message that fits lands in the caller's buffer and is
 * not freed by release (ASan would report the free of a stack array);
 * one that does not fit is allocated as usual; an fd still comes. */
static void test_recv_buf(void **state)
{
    struct fx *f = *state;
    uint8_t b[100 + 300], mine[128];
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct vuc_msg m;

    assert_true(fd >= 0);
    mk_msg(b, 1, 100, 1);
    mk_msg(b + 100, 2, 300, 2);
    raw_fds(f->tx, b, 100, &fd, 1);
    raw(f->tx, b + 100, 300);
    assert_int_equal(vuc_conn_recv_buf(f->rx, &m, mine, sizeof(mine), 1000), 0);
    check_msg(&m, 1, 100, 1);
    assert_true(m.borrowed);
    assert_ptr_equal(m.buf, mine);
    assert_int_equal(m.nfds, 1);
    vuc_msg_release(&m);
    assert_int_equal(vuc_conn_recv_buf(f->rx, &m, mine, sizeof(mine), 1000), 0);
    check_msg(&m, 2, 300, 2);
    assert_false(m.borrowed);
    assert_ptr_not_equal(m.buf, mine);
    vuc_msg_release(&m);
    /* the buffer is only for that call */
    raw(f->tx, b, 100);
    expect_msg(f->rx, 1000, 1, 100, 1);
    assert_int_equal(vuc_conn_recv_buf(f->rx, &m, NULL, 1, 0), -EINVAL);
    expect_err(f->rx, 0, -EAGAIN);
    close(fd);
}

/* Random sizes on both sides of the 64 KiB buffer and of the direct-read
 * threshold, written in odd-sized pieces: every boundary case of the
 * buffer management in one stream. */
static void test_stream_mixed(void **state)
{
    struct fx *f = *state;
    enum { N = 300 };
    uint32_t sizes[N];
    size_t total = 0;
    size_t off = 0;
    uint32_t rnd = 12345;
    uint8_t *b;
    struct async_send a;

    for (int i = 0; i < N; i++) {
        rnd = rnd * 1103515245u + 12345u;
        switch (i % 4) {
        case 0:
            sizes[i] = 16u + (rnd >> 8) % 64u;
            break;
        case 1:
            sizes[i] = 16u + (rnd >> 8) % 20000u;
            break;
        case 2:
            sizes[i] = 16u + (rnd >> 8) % 100000u;
            break;
        default:
            sizes[i] = 16u + (rnd >> 8) % 600u;
            break;
        }
        total += sizes[i];
    }
    b = malloc(total);
    assert_non_null(b);
    for (int i = 0; i < N; i++) {
        mk_msg(b + off, (uint16_t)i, sizes[i], (uint8_t)i);
        off += sizes[i];
    }
    a = (struct async_send){.c = f->tx, .buf = b, .len = total, .chunk = 7777};
    async_start(f, &a);
    for (int i = 0; i < N; i++) {
        expect_msg(f->rx, 10000, (uint16_t)i, sizes[i], (uint8_t)i);
    }
    async_join(&a);
    expect_err(f->rx, 0, -EAGAIN);
    free(b);
}

/* 1 MiB of payload there and back. */
static void test_big_round_trip(void **state)
{
    struct fx *f = *state;
    const size_t len = 1u << 20;
    uint8_t *p = malloc(len);
    struct vuc_hdr h = {42, 3, 0, 0, 0};
    struct async_send a;
    struct vuc_msg m, m2;

    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = pat(i + VUC_HDR_SIZE, 5);
    }
    a = (struct async_send){.c = f->tx, .hdr = &h, .buf = p, .len = len};
    async_start(f, &a);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 10000), 0);
    async_join(&a);
    check_msg(&m, 42, (uint32_t)(len + 16), 5);

    /* Echo it back through the other direction. */
    a = (struct async_send){
        .c = f->rx, .hdr = &m.hdr, .buf = m.payload, .len = m.payload_len};
    async_start(f, &a);
    assert_int_equal(vuc_conn_recv(f->tx, &m2, 10000), 0);
    async_join(&a);
    check_msg(&m2, 42, (uint32_t)(len + 16), 5);
    vuc_msg_release(&m);
    vuc_msg_release(&m2);
    free(p);
}

/* ---- malformed input ---- */

static void test_badmsg(void **state)
{
    struct fx *f = *state;
    uint8_t b[16];
    struct vuc_msg m;

    mk_msg(b, 77, 15, 0);
    raw(f->tx, b, sizeof(b));
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EBADMSG);
    assert_int_equal(m.hdr.id, 77);
    assert_int_equal(m.hdr.size, 15);
    assert_null(m.buf);
    vuc_msg_release(&m);
    /* The stream cannot resynchronise: the answer stays the same, and it
     * needs no system call. */
    assert_true(vuc_conn_pending(f->rx));
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EBADMSG);
    vuc_msg_release(&m);
}

static void test_badmsg_zero(void **state)
{
    struct fx *f = *state;
    uint8_t b[16];
    struct vuc_msg m;

    mk_msg(b, 78, 0, 0);
    raw(f->tx, b, sizeof(b));
    assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), -EBADMSG);
    assert_int_equal(m.hdr.size, 0);
    vuc_msg_release(&m);
}

static void test_max_boundary(void **state)
{
    struct fx *f = *state;
    uint8_t b[101 + 100];
    struct vuc_msg m;

    assert_int_equal(vuc_conn_max_msg(f->rx), VUC_DEFAULT_MAX_MSG);
    vuc_conn_set_max_msg(f->rx, 100);
    assert_int_equal(vuc_conn_max_msg(f->rx), 100);
    mk_msg(b, 1, 100, 1);       /* max: accepted */
    mk_msg(b + 100, 2, 101, 2); /* max + 1: rejected */
    raw(f->tx, b, 100);
    raw(f->tx, b + 100, 101);
    expect_msg(f->rx, 0, 1, 100, 1);
    assert_true(vuc_conn_pending(f->rx)); /* the verdict is buffered */
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EMSGSIZE);
    assert_int_equal(m.hdr.id, 2);
    assert_int_equal(m.hdr.size, 101);
    assert_null(m.buf);
    vuc_msg_release(&m);
    expect_err(f->rx, 0, -EAGAIN);
}

/* Oversized messages are skipped, also their fds, and the next message
 * arrives intact, whether the skipped bytes are buffered or still to
 * come in several reads. */
static void test_msgsize_skip(void **state)
{
    struct fx *f = *state;
    uint8_t a[64], big[300], d[20], e[300], g[24];
    int pfd[2];
    struct vuc_msg m;

    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    vuc_conn_set_max_msg(f->rx, 64);
    mk_msg(a, 1, sizeof(a), 1);
    mk_msg(big, 2, sizeof(big), 2);
    mk_msg(d, 3, sizeof(d), 3);
    raw(f->tx, a, sizeof(a));
    raw_fds(f->tx, big, sizeof(big), pfd, 2);
    raw(f->tx, d, sizeof(d));
    expect_msg(f->rx, 0, 1, sizeof(a), 1);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EMSGSIZE);
    assert_int_equal(m.hdr.id, 2);
    assert_int_equal(m.hdr.size, sizeof(big));
    assert_int_equal(m.nfds, 0);
    vuc_msg_release(&m);
    expect_msg(f->rx, 0, 3, sizeof(d), 3);

    /* Now the body of the oversized message trickles in. */
    mk_msg(e, 4, sizeof(e), 4);
    mk_msg(g, 5, sizeof(g), 5);
    raw(f->tx, e, 16);
    assert_false(vuc_conn_pending(f->rx)); /* sent, not read yet */
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EMSGSIZE);
    assert_int_equal(m.hdr.id, 4);
    vuc_msg_release(&m);
    assert_false(vuc_conn_pending(f->rx));
    raw(f->tx, e + 16, 100);
    expect_err(f->rx, 0, -EAGAIN);
    raw_fds(f->tx, e + 116, 50, pfd, 1);
    expect_err(f->rx, 10, -ETIMEDOUT);
    assert_false(vuc_conn_pending(f->rx));
    /* The rest of the oversized message and the next one, together. */
    {
        uint8_t tail[134 + 24];

        memcpy(tail, e + 166, 134);
        memcpy(tail + 134, g, sizeof(g));
        raw(f->tx, tail, sizeof(tail));
    }
    expect_msg(f->rx, 0, 5, sizeof(g), 5);
    expect_err(f->rx, 0, -EAGAIN);
    close(pfd[0]);
    close(pfd[1]);
}

/* vuc_conn_partial: bytes recv has read that end inside a message. */
static void test_partial(void **state)
{
    struct fx *f = *state;
    const size_t big_len = 100000;
    uint8_t a[40], b[24], c[32], three[40 + 24 + 10];
    uint8_t *big = malloc(big_len);
    struct vuc_msg m;

    assert_non_null(big);
    assert_false(vuc_conn_partial(f->rx)); /* nothing read yet */
    mk_msg(a, 1, sizeof(a), 1);
    mk_msg(b, 2, sizeof(b), 2);
    mk_msg(c, 3, sizeof(c), 3);

    /* half a header, a whole header, then the body */
    raw(f->tx, a, 7);
    assert_false(vuc_conn_partial(f->rx)); /* sent, not read yet */
    expect_err(f->rx, 0, -EAGAIN);
    assert_true(vuc_conn_partial(f->rx));
    raw(f->tx, a + 7, 9);
    expect_err(f->rx, 0, -EAGAIN);
    assert_true(vuc_conn_partial(f->rx));
    assert_false(vuc_conn_pending(f->rx));
    raw(f->tx, a + 16, sizeof(a) - 16);
    expect_msg(f->rx, 0, 1, sizeof(a), 1);
    assert_false(vuc_conn_partial(f->rx));

    /* whole, whole, then 10 bytes of a third, in one write */
    memcpy(three, a, sizeof(a));
    memcpy(three + sizeof(a), b, sizeof(b));
    memcpy(three + sizeof(a) + sizeof(b), c, 10);
    raw(f->tx, three, sizeof(three));
    expect_msg(f->rx, 0, 1, sizeof(a), 1);
    assert_true(vuc_conn_pending(f->rx));
    assert_true(vuc_conn_partial(f->rx));
    expect_msg(f->rx, 0, 2, sizeof(b), 2);
    assert_false(vuc_conn_pending(f->rx));
    assert_true(vuc_conn_partial(f->rx));
    raw(f->tx, c + 10, sizeof(c) - 10);
    assert_true(vuc_conn_partial(f->rx)); /* the rest is not read yet */
    expect_msg(f->rx, 0, 3, sizeof(c), 3);
    assert_false(vuc_conn_partial(f->rx));

    /* two whole messages: pending, not partial */
    memcpy(three, a, sizeof(a));
    memcpy(three + sizeof(a), b, sizeof(b));
    raw(f->tx, three, sizeof(a) + sizeof(b));
    expect_msg(f->rx, 0, 1, sizeof(a), 1);
    assert_true(vuc_conn_pending(f->rx));
    assert_false(vuc_conn_partial(f->rx));
    expect_msg(f->rx, 0, 2, sizeof(b), 2);

    /* a large message read into its own buffer */
    mk_msg(big, 4, (uint32_t)big_len, 4);
    raw(f->tx, big, big_len / 2);
    expect_err(f->rx, 0, -EAGAIN);
    assert_true(vuc_conn_partial(f->rx));
    raw(f->tx, big + big_len / 2, big_len - big_len / 2);
    expect_msg(f->rx, 1000, 4, (uint32_t)big_len, 4);
    assert_false(vuc_conn_partial(f->rx));

    /* an oversized message being discarded: nothing is kept */
    vuc_conn_set_max_msg(f->rx, 30);
    raw(f->tx, a, 20);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EMSGSIZE);
    vuc_msg_release(&m);
    assert_false(vuc_conn_partial(f->rx));
    raw(f->tx, a + 20, sizeof(a) - 20);
    expect_err(f->rx, 0, -EAGAIN);
    assert_false(vuc_conn_partial(f->rx));

    /* a header recv rejects at once */
    mk_msg(b, 5, 15, 0);
    raw(f->tx, b, 16);
    expect_err(f->rx, 0, -EBADMSG);
    assert_false(vuc_conn_partial(f->rx));
    free(big);
}

/* ---- end of stream ---- */

static void test_close_boundary(void **state)
{
    struct fx *f = *state;
    uint8_t b[32];

    mk_msg(b, 1, sizeof(b), 1);
    raw(f->tx, b, sizeof(b));
    close_peer(f);
    expect_msg(f->rx, 1000, 1, sizeof(b), 1);
    expect_err(f->rx, 1000, -ECONNRESET);
    expect_err(f->rx, 0, -ECONNRESET);
}

static void test_close_mid_header(void **state)
{
    struct fx *f = *state;
    uint8_t b[32];

    mk_msg(b, 1, sizeof(b), 1);
    raw(f->tx, b, 5);
    close_peer(f);
    expect_err(f->rx, 1000, -EPIPE);
    expect_err(f->rx, 0, -EPIPE);
}

static void test_close_mid_body(void **state)
{
    struct fx *f = *state;
    uint8_t b[40];

    mk_msg(b, 1, sizeof(b), 1);
    raw(f->tx, b, 20);
    close_peer(f);
    expect_err(f->rx, -1, -EPIPE);
}

static void test_close_mid_big_body(void **state)
{
    struct fx *f = *state;
    const size_t len = 100000;
    uint8_t *b = malloc(len);

    assert_non_null(b);
    mk_msg(b, 1, (uint32_t)len, 1);
    raw(f->tx, b, len / 2);
    expect_err(f->rx, 0, -EAGAIN);
    close_peer(f);
    expect_err(f->rx, 1000, -EPIPE);
    free(b);
}

static void test_close_mid_skip(void **state)
{
    struct fx *f = *state;
    uint8_t b[100];
    struct vuc_msg m;

    vuc_conn_set_max_msg(f->rx, 50);
    mk_msg(b, 1, sizeof(b), 1);
    raw(f->tx, b, 60);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 0), -EMSGSIZE);
    vuc_msg_release(&m);
    close_peer(f);
    expect_err(f->rx, 1000, -EPIPE);
}

static void test_shutdown(void **state)
{
    struct fx *f = *state;
    uint8_t b[24];
    struct vuc_hdr h = {1, 3, 0, 0, 0};

    mk_msg(b, 1, sizeof(b), 1);
    raw(f->tx, b, sizeof(b));
    assert_int_equal(vuc_conn_shutdown(f->tx), 0);
    assert_int_equal(vuc_conn_send(f->tx, &h, NULL, 0, NULL, 0, 100), -EPIPE);
    expect_msg(f->rx, 1000, 1, sizeof(b), 1);
    expect_err(f->rx, 1000, -ECONNRESET);
    /* Half-close: the other direction still works. */
    raw(f->rx, b, sizeof(b));
    expect_msg(f->tx, 1000, 1, sizeof(b), 1);
}

static void test_send_peer_gone(void **state)
{
    struct fx *f = *state;
    struct vuc_hdr h = {1, 3, 0, 0, 0};
    uint8_t p[100] = {0};

    vuc_conn_close(f->rx);
    f->rx = NULL;
    /* Would kill the process with SIGPIPE without MSG_NOSIGNAL. */
    assert_int_equal(vuc_conn_send(f->tx, &h, p, sizeof(p), NULL, 0, 100),
                     -EPIPE);
    assert_int_equal(vuc_conn_send(f->tx, &h, p, sizeof(p), NULL, 0, 0),
                     -EPIPE);
}

/* ---- timeouts ---- */

static void test_timeout_partial(void **state)
{
    struct fx *f = *state;
    uint8_t b[40];
    double t0, dt;

    mk_msg(b, 3, sizeof(b), 3);
    raw(f->tx, b, 20);
    t0 = now_ms();
    expect_err(f->rx, 50, -ETIMEDOUT);
    dt = now_ms() - t0;
    if (f->kind == KIND_UNIX) {
        assert_true(dt >= 40 && dt <= 500);
    } else {
        assert_true(dt < 40); /* never blocks */
    }
    expect_err(f->rx, 0, -EAGAIN);
    raw(f->tx, b + 20, 20);
    expect_msg(f->rx, 1000, 3, sizeof(b), 3);
}

struct dribble {
    struct vuc_conn *c;
    const uint8_t *buf;
    size_t n;
};

static void *dribble_fn(void *arg)
{
    struct dribble *d = arg;
    struct timespec ts = {0, 10 * 1000000};

    for (size_t i = 0; i < d->n; i++) {
        nanosleep(&ts, NULL);
        if (vuc_conn_send_raw(d->c, d->buf + i, 1, NULL, 0, 1000) < 0) {
            break;
        }
    }
    return NULL;
}

/* Bytes that keep arriving do not extend the timeout. */
static void test_timeout_dribble(void **state)
{
    struct fx *f = *state;
    uint8_t b[400];
    struct dribble d = {f->tx, b, 30};
    pthread_t th;
    double t0, dt;

    mk_msg(b, 4, sizeof(b), 4);
    assert_int_equal(pthread_create(&th, NULL, dribble_fn, &d), 0);
    t0 = now_ms();
    expect_err(f->rx, 100, -ETIMEDOUT);
    dt = now_ms() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(dt >= 90 && dt <= 600);
    raw(f->tx, b + 30, sizeof(b) - 30);
    expect_msg(f->rx, 1000, 4, sizeof(b), 4);
}

static void test_send_timeout(void **state)
{
    struct fx *f = *state;
    const size_t len = 8u << 20;
    uint8_t *p = calloc(1, len);
    struct vuc_hdr h = {1, 3, 0, 0, 0};
    double t0, dt;

    assert_non_null(p);
    t0 = now_ms();
    assert_int_equal(vuc_conn_send(f->tx, &h, p, len, NULL, 0, 50), -ETIMEDOUT);
    dt = now_ms() - t0;
    assert_true(dt >= 40 && dt <= 500);
    free(p);
}

/* ---- fds ---- */

static int make_memfd(void)
{
    int fd = memfd_create("vuc-test", MFD_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

/* The received fd is a working fd for the same file. */
static void check_same_file(int sent, int got)
{
    char buf[8] = {0};

    assert_true(got >= 0);
    assert_int_not_equal(got, sent);
    assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(pwrite(got, "hello", 5, 0), 5);
    assert_int_equal(pread(sent, buf, 5, 0), 5);
    assert_memory_equal(buf, "hello", 5);
}

static void test_fd_pass(void **state)
{
    struct fx *f = *state;
    int mfd = make_memfd();
    struct vuc_hdr h = {5, 3, 0, 0, 0};
    uint8_t p[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct vuc_msg m;
    int got;

    assert_int_equal(vuc_conn_send(f->tx, &h, p, sizeof(p), &mfd, 1, 1000), 0);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), 0);
    assert_int_equal(m.hdr.id, 5);
    assert_int_equal(m.hdr.size, 24);
    assert_memory_equal(m.payload, p, sizeof(p));
    assert_int_equal(m.nfds, 1);
    assert_false(m.fds_truncated);
    check_same_file(mfd, m.fds[0]);
    got = m.fds[0];
    vuc_msg_release(&m);
    assert_false(fd_is_open(got)); /* release closed it */
    assert_int_equal(m.nfds, 0);
    close(mfd);
}

static void test_two_fds(void **state)
{
    struct fx *f = *state;
    int pfd[2];
    int fds[2];
    struct vuc_hdr h = {6, 3, 0, 0, 0};
    struct vuc_msg m;
    char c = 0;

    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    fds[0] = make_memfd();
    fds[1] = pfd[1];
    assert_int_equal(vuc_conn_send(f->tx, &h, NULL, 0, fds, 2, 1000), 0);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), 0);
    assert_int_equal(m.hdr.size, 16);
    assert_int_equal(m.nfds, 2);
    check_same_file(fds[0], m.fds[0]);
    assert_int_equal(write(m.fds[1], "x", 1), 1);
    assert_int_equal(read(pfd[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    /* An entry set to -1 is kept by release. */
    {
        int keep = m.fds[1];

        m.fds[1] = -1;
        vuc_msg_release(&m);
        assert_true(fd_is_open(keep));
        close(keep);
    }
    close(fds[0]);
    close(pfd[0]);
    close(pfd[1]);
}

static void test_too_many_fds(void **state)
{
    struct fx *f = *state;
    enum { N = VUC_MAX_FDS + 4 };
    int fds[N];
    uint8_t b[32];
    struct vuc_hdr h = {1, 3, 0, 0, 0};
    struct vuc_msg m;
    int mfd = make_memfd();

    for (int i = 0; i < N; i++) {
        fds[i] = mfd;
    }
    /* sendv refuses more than a message may carry... */
    assert_int_equal(
        vuc_conn_send(f->tx, &h, NULL, 0, fds, VUC_MAX_FDS + 1, 1000), -EINVAL);
    /* ...raw sends allow it, for tests like this one. */
    mk_msg(b, 8, sizeof(b), 8);
    raw_fds(f->tx, b, sizeof(b), fds, N);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), 0);
    check_msg(&m, 8, sizeof(b), 8);
    assert_int_equal(m.nfds, VUC_MAX_FDS);
    assert_true(m.fds_truncated);
    for (size_t i = 0; i < m.nfds; i++) {
        check_same_file(mfd, m.fds[i]);
    }
    vuc_msg_release(&m);
    close(mfd);
    /* The teardown's fd count shows the extras were closed. */
}

/* Fds that come with a message's later bytes belong to it. */
static void test_fd_with_later_bytes(void **state)
{
    struct fx *f = *state;
    uint8_t b[40];
    int mfd = make_memfd();
    struct vuc_msg m;

    mk_msg(b, 9, sizeof(b), 9);
    raw(f->tx, b, 10);
    expect_err(f->rx, 0, -EAGAIN);
    raw_fds(f->tx, b + 10, 30, &mfd, 1);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), 0);
    check_msg(&m, 9, sizeof(b), 9);
    assert_int_equal(m.nfds, 1);
    check_same_file(mfd, m.fds[0]);
    vuc_msg_release(&m);

    /* Fds from two pieces of one message add up, in order. */
    {
        int pfd[2];
        char c = 0;

        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        raw_fds(f->tx, b, 10, &mfd, 1);
        expect_err(f->rx, 0, -EAGAIN);
        raw_fds(f->tx, b + 10, 30, &pfd[1], 1);
        assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), 0);
        check_msg(&m, 9, sizeof(b), 9);
        assert_int_equal(m.nfds, 2);
        check_same_file(mfd, m.fds[0]);
        assert_int_equal(write(m.fds[1], "y", 1), 1);
        assert_int_equal(read(pfd[0], &c, 1), 1);
        assert_int_equal(c, 'y');
        vuc_msg_release(&m);
        close(pfd[0]);
        close(pfd[1]);
    }
    close(mfd);
}

/* A, then B with an fd, then C, all queued before the first read: only B
 * gets the fd, although one read may return A and B together. */
static void test_fd_between_messages(void **state)
{
    struct fx *f = *state;
    uint8_t a[24], b[32], c[40];
    int mfd = make_memfd();
    struct vuc_msg m;

    mk_msg(a, 1, sizeof(a), 1);
    mk_msg(b, 2, sizeof(b), 2);
    mk_msg(c, 3, sizeof(c), 3);
    raw(f->tx, a, sizeof(a));
    raw_fds(f->tx, b, sizeof(b), &mfd, 1);
    raw(f->tx, c, sizeof(c));
    expect_msg(f->rx, 1000, 1, sizeof(a), 1);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 1000), 0);
    check_msg(&m, 2, sizeof(b), 2);
    assert_int_equal(m.nfds, 1);
    check_same_file(mfd, m.fds[0]);
    vuc_msg_release(&m);
    expect_msg(f->rx, 1000, 3, sizeof(c), 3);
    close(mfd);
}

static void test_fd_with_big_message(void **state)
{
    struct fx *f = *state;
    const size_t len = 300000;
    uint8_t *p = malloc(len);
    int mfd = make_memfd();
    struct vuc_hdr h = {11, 3, 0, 0, 0};
    struct vuc_msg m;
    struct async_send a;

    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = pat(i + VUC_HDR_SIZE, 11);
    }
    a = (struct async_send){
        .c = f->tx, .hdr = &h, .buf = p, .len = len, .fds = &mfd, .nfds = 1};
    async_start(f, &a);
    assert_int_equal(vuc_conn_recv(f->rx, &m, 10000), 0);
    async_join(&a);
    check_msg(&m, 11, (uint32_t)(len + 16), 11);
    assert_int_equal(m.nfds, 1);
    check_same_file(mfd, m.fds[0]);
    vuc_msg_release(&m);
    close(mfd);
    free(p);
}

/* Fds sent but never received are closed with the connection. */
static void test_unreceived_fds_closed(void **state)
{
    struct fx *f = *state;
    uint8_t b[40];
    int mfd = make_memfd();

    mk_msg(b, 1, sizeof(b), 1);
    raw_fds(f->tx, b, 20, &mfd, 1);
    expect_err(f->rx, 0, -EAGAIN); /* now queued inside rx */
    raw_fds(f->tx, b, 20, &mfd, 1);
    raw_fds(f->tx, b, 20, &mfd, 1); /* left in the socket / queue */
    close(mfd);
    /* teardown closes both ends and counts fds */
}

static void test_bad_args(void **state)
{
    struct fx *f = *state;
    struct vuc_hdr h = {1, 3, 0, 0, 0};
    uint8_t p[4] = {0};
    struct iovec iov = {p, (size_t)UINT32_MAX - 15};
    int fds[RAW_FDS_TOO_MANY] = {0};

    /* payload > UINT32_MAX - 16 is refused before anything is sent */
    assert_int_equal(vuc_conn_sendv(f->tx, &h, &iov, 1, NULL, 0, 100), -EINVAL);
    assert_int_equal(
        vuc_conn_send_raw(f->tx, p, sizeof(p), fds, RAW_FDS_TOO_MANY, 100),
        -EINVAL);
    assert_int_equal(vuc_conn_send_raw(f->tx, p, 0, fds, 1, 100), -EINVAL);
    assert_int_equal(vuc_conn_send_raw(f->tx, p, 0, NULL, 0, 100), 0);
    /* an fd that is not open */
    {
        int bad = make_memfd();

        close(bad);
        assert_int_equal(vuc_conn_send(f->tx, &h, NULL, 0, &bad, 1, 100),
                         -EBADF);
    }
    expect_err(f->rx, 0, -EAGAIN);
}

/* Header plus iovecs, some empty: the message arrives as one. */
static void test_sendv(void **state)
{
    struct fx *f = *state;
    static const size_t piece[] = {3, 0, 5, 1, 0, 7, 2, 4, 8};
    uint8_t b[16 + 30];
    struct iovec iov[9];
    struct vuc_hdr h = {12, 3, 999, 0, 0}; /* size is recomputed */
    size_t off = 16;

    mk_msg(b, 12, sizeof(b), 12);
    for (int i = 0; i < 9; i++) {
        iov[i].iov_base = b + off;
        iov[i].iov_len = piece[i];
        off += piece[i];
    }
    assert_int_equal(off, sizeof(b));
    assert_int_equal(vuc_conn_sendv(f->tx, &h, iov, 9, NULL, 0, 1000), 0);
    expect_msg(f->rx, 1000, 12, sizeof(b), 12);
}

/* Many iovecs and more than fits one small gathered send. */
static void test_sendv_many(void **state)
{
    struct fx *f = *state;
    enum { PIECES = 20, PIECE = 100 };
    uint8_t b[16 + PIECES * PIECE];
    struct iovec iov[PIECES];
    struct vuc_hdr h = {13, 3, 0, 0, 0};

    mk_msg(b, 13, sizeof(b), 13);
    for (int i = 0; i < PIECES; i++) {
        iov[i].iov_base = b + 16 + i * PIECE;
        iov[i].iov_len = PIECE;
    }
    assert_int_equal(vuc_conn_sendv(f->tx, &h, iov, PIECES, NULL, 0, 1000), 0);
    expect_msg(f->rx, 1000, 13, sizeof(b), 13);
}

static void test_conn_fd(void **state)
{
    struct fx *f = *state;

    if (f->kind == KIND_UNIX) {
        assert_true(vuc_conn_fd(f->rx) >= 0);
    } else {
        assert_int_equal(vuc_conn_fd(f->rx), -1);
    }
}

/* ---- vuc_msg_release ---- */

static void test_release_zeroed(void **state)
{
    struct vuc_msg m;
    bool open0 = fd_is_open(0);

    (void)state;
    memset(&m, 0, sizeof(m));
    vuc_msg_release(&m); /* nfds 0: fd 0 is not touched */
    assert_int_equal(fd_is_open(0), open0);
    assert_int_equal(m.nfds, 0);
    assert_null(m.buf);
    vuc_msg_release(&m);
    vuc_msg_release(NULL);
}

/* ---- AF_UNIX paths ---- */

struct tmpdir {
    char dir[64];
    char path[128];
};

static void mk_tmpdir(struct tmpdir *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/vuc-transport-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/sock", t->dir);
}

static void rm_tmpdir(struct tmpdir *t)
{
    unlink(t->path);
    assert_int_equal(rmdir(t->dir), 0);
}

static void test_listen_accept_connect(void **state)
{
    int base = count_fds();
    struct tmpdir t;
    struct vuc_conn *cl, *sv;
    uint8_t b[24];
    int lfd;
    struct stat st;

    (void)state;
    mk_tmpdir(&t);
    assert_int_equal(vuc_unix_listen(t.path, &lfd), 0);
    assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(vuc_unix_connect(t.path, 1000, &cl), 0);
    assert_int_equal(vuc_unix_accept(lfd, 1000, &sv), 0);
    assert_true(fcntl(vuc_conn_fd(sv), F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(vuc_conn_fd(cl), F_GETFD) & FD_CLOEXEC);
    /* blocking, for SO_RCVTIMEO */
    assert_false(fcntl(vuc_conn_fd(cl), F_GETFL) & O_NONBLOCK);
    assert_false(fcntl(vuc_conn_fd(sv), F_GETFL) & O_NONBLOCK);
    mk_msg(b, 1, sizeof(b), 1);
    raw(cl, b, sizeof(b));
    expect_msg(sv, 1000, 1, sizeof(b), 1);
    mk_msg(b, 2, sizeof(b), 2);
    raw(sv, b, sizeof(b));
    expect_msg(cl, 1000, 2, sizeof(b), 2);
    vuc_conn_close(cl);
    vuc_conn_close(sv);
    close(lfd);

    /* A stale socket file left behind is replaced. */
    assert_int_equal(stat(t.path, &st), 0);
    assert_int_equal(vuc_unix_listen(t.path, &lfd), 0);
    close(lfd);

    /* Anything else at the path is left alone. */
    unlink(t.path);
    {
        int fd = open(t.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        close(fd);
    }
    assert_int_equal(vuc_unix_listen(t.path, &lfd), -EADDRINUSE);
    assert_int_equal(stat(t.path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    rm_tmpdir(&t);
    assert_int_equal(count_fds(), base);
}

struct late_listen {
    const char *path;
    int lfd;
    int ret;
};

static void *late_listen_fn(void *arg)
{
    struct late_listen *l = arg;
    struct timespec ts = {0, 50 * 1000000};

    nanosleep(&ts, NULL);
    l->ret = vuc_unix_listen(l->path, &l->lfd);
    return NULL;
}

/* connect keeps trying until the server is there. */
static void test_connect_retry(void **state)
{
    int base = count_fds();
    struct tmpdir t;
    struct late_listen l;
    struct vuc_conn *cl, *sv;
    pthread_t th;
    double t0, dt;

    (void)state;
    mk_tmpdir(&t);
    l.path = t.path;
    l.lfd = -1;
    l.ret = -1;
    assert_int_equal(pthread_create(&th, NULL, late_listen_fn, &l), 0);
    t0 = now_ms();
    assert_int_equal(vuc_unix_connect(t.path, 2000, &cl), 0);
    dt = now_ms() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(l.ret, 0);
    assert_true(dt >= 40 && dt < 1000);
    assert_int_equal(vuc_unix_accept(l.lfd, 1000, &sv), 0);
    vuc_conn_close(cl);
    vuc_conn_close(sv);
    close(l.lfd);
    rm_tmpdir(&t);
    assert_int_equal(count_fds(), base);
}

static void test_connect_timeout(void **state)
{
    int base = count_fds();
    struct tmpdir t;
    struct vuc_conn *c = NULL;
    double t0, dt;

    (void)state;
    mk_tmpdir(&t);
    t0 = now_ms();
    assert_int_equal(vuc_unix_connect(t.path, 100, &c), -ETIMEDOUT);
    dt = now_ms() - t0;
    assert_null(c);
    assert_true(dt >= 90 && dt <= 1000);
    assert_int_equal(vuc_unix_connect(t.path, 0, &c), -ETIMEDOUT);
    rm_tmpdir(&t);
    assert_int_equal(count_fds(), base);
}

static void test_accept_timeout(void **state)
{
    int base = count_fds();
    struct tmpdir t;
    struct vuc_conn *c = NULL;
    int lfd;
    double t0, dt;

    (void)state;
    mk_tmpdir(&t);
    assert_int_equal(vuc_unix_listen(t.path, &lfd), 0);
    t0 = now_ms();
    assert_int_equal(vuc_unix_accept(lfd, 50, &c), -ETIMEDOUT);
    dt = now_ms() - t0;
    assert_true(dt >= 40 && dt <= 500);
    assert_int_equal(vuc_unix_accept(lfd, 0, &c), -ETIMEDOUT);
    assert_null(c);
    close(lfd);
    rm_tmpdir(&t);
    assert_int_equal(count_fds(), base);
}

static void test_name_too_long(void **state)
{
    char path[200];
    struct vuc_conn *c = NULL;
    int lfd = -1;

    (void)state;
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(vuc_unix_listen(path, &lfd), -ENAMETOOLONG);
    assert_int_equal(vuc_unix_connect(path, 100, &c), -ENAMETOOLONG);
    assert_int_equal(lfd, -1);
    assert_null(c);
    /* 107 characters plus the NUL fit sun_path (108); 108 do not. */
    path[108] = '\0';
    assert_int_equal(vuc_unix_connect(path, 0, &c), -ENAMETOOLONG);
    path[107] = '\0';
    assert_int_equal(vuc_unix_connect(path, 0, &c), -ETIMEDOUT);
}

static void test_from_fd_nonblocking(void **state)
{
    int sv[2];
    struct vuc_conn *a, *b;
    uint8_t m[32];

    (void)state;
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
        0);
    assert_int_equal(vuc_conn_from_fd(sv[0], &a), 0);
    assert_int_equal(vuc_conn_from_fd(sv[1], &b), 0);
    /* Still honours timeouts: it was made blocking. */
    expect_err(a, 20, -ETIMEDOUT);
    mk_msg(m, 1, sizeof(m), 1);
    raw(b, m, sizeof(m));
    expect_msg(a, 100, 1, sizeof(m), 1);
    vuc_conn_close(a);
    vuc_conn_close(b);
    assert_int_equal(vuc_conn_from_fd(-1, &a), -EINVAL);
}

#define BOTH(fn)                                                               \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown,              \
                                             (void *)&kind_unix),              \
        cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown,          \
                                                 (void *)&kind_mem)
#define UNIX_ONLY(fn)                                                          \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown,              \
                                             (void *)&kind_unix)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_split_1byte),
        BOTH(test_header_split),
        BOTH(test_header_only_msg),
        BOTH(test_unread),
        BOTH(test_burst),
        BOTH(test_rbuf_grows),
        BOTH(test_recv_buf),
        BOTH(test_stream_mixed),
        BOTH(test_big_round_trip),
        BOTH(test_badmsg),
        BOTH(test_badmsg_zero),
        BOTH(test_max_boundary),
        BOTH(test_msgsize_skip),
        BOTH(test_partial),
        BOTH(test_close_boundary),
        BOTH(test_close_mid_header),
        BOTH(test_close_mid_body),
        BOTH(test_close_mid_big_body),
        BOTH(test_close_mid_skip),
        BOTH(test_shutdown),
        BOTH(test_send_peer_gone),
        BOTH(test_timeout_partial),
        UNIX_ONLY(test_timeout_dribble),
        UNIX_ONLY(test_send_timeout),
        BOTH(test_fd_pass),
        BOTH(test_two_fds),
        BOTH(test_too_many_fds),
        BOTH(test_fd_with_later_bytes),
        BOTH(test_fd_between_messages),
        BOTH(test_fd_with_big_message),
        BOTH(test_unreceived_fds_closed),
        BOTH(test_bad_args),
        BOTH(test_sendv),
        BOTH(test_sendv_many),
        BOTH(test_conn_fd),
        cmocka_unit_test(test_release_zeroed),
        cmocka_unit_test(test_listen_accept_connect),
        cmocka_unit_test(test_connect_retry),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_accept_timeout),
        cmocka_unit_test(test_name_too_long),
        cmocka_unit_test(test_from_fd_nonblocking),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
