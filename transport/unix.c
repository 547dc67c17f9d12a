/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AF_UNIX stream backend (spec: Connection Initiation; fds travel as
 * SCM_RIGHTS ancillary data).
 *
 * The socket stays blocking and each wait is the kernel's: SO_RCVTIMEO /
 * SO_SNDTIMEO bound a blocking recvmsg/sendmsg, and timeout 0 uses
 * MSG_DONTWAIT. The options are set only when the value changes, so the
 * usual request/reply costs one send and one recvmsg per message and no
 * poll(). A send without fds from one buffer (conn.c gathers small
 * messages) uses send(), which the kernel handles measurably faster than
 * sendmsg(); everything else is one sendmsg() with the iovecs. Every send
 * has MSG_NOSIGNAL: a vanished peer is -EPIPE, never SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "transport_priv.h"

/* Cached SO_*TIMEO value meaning "not known, set it on first use". */
#define TIMEO_UNKNOWN INT_MIN
/* Retry period of vuc_unix_connect while nobody listens. */
#define CONNECT_RETRY_MS 10

struct unix_ctx {
    int fd;
    int rcv_ms; /* value last set with SO_RCVTIMEO; -1 forever */
    int snd_ms; /* value last set with SO_SNDTIMEO; -1 forever */
};

/* timeout_ms > 0 or < 0 (forever); 0 is handled with MSG_DONTWAIT. */
static int set_timeo(int fd, int opt, int timeout_ms, int *cache)
{
    struct timeval tv = {0, 0}; /* 0 means forever to the kernel */
    int ms = timeout_ms < 0 ? -1 : timeout_ms;

    if (*cache == ms) {
        return 0;
    }
    if (ms > 0) {
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
    }
    if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)) < 0) {
        *cache = TIMEO_UNKNOWN;
        return -errno;
    }
    *cache = ms;
    return 0;
}

static ssize_t unix_read_some(void *ctx, void *buf, size_t cap,
                              struct vuc_rx_fds *rx, int timeout_ms)
{
    struct unix_ctx *u = ctx;
    union {
        char buf[CMSG_SPACE(sizeof(int) * VUC_MAX_FDS)];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {buf, cap};
    struct msghdr mh;
    struct cmsghdr *cm;
    int flags = MSG_CMSG_CLOEXEC;
    ssize_t n;

    if (timeout_ms == 0) {
        flags |= MSG_DONTWAIT;
    } else {
        int r = set_timeo(u->fd, SO_RCVTIMEO, timeout_ms, &u->rcv_ms);

        if (r < 0) {
            return r;
        }
    }
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf.buf;
    mh.msg_controllen = sizeof(cbuf.buf);
    n = recvmsg(u->fd, &mh, flags);
    if (n < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t count;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
            if (rx->n < VUC_MAX_FDS) {
                rx->fds[rx->n++] = fd;
            } else {
                close(fd);
                rx->truncated = true;
            }
        }
    }
    /* The kernel dropped fds that did not fit the control buffer. */
    if (mh.msg_flags & MSG_CTRUNC) {
        rx->truncated = true;
    }
    /* SCM_RIGHTS come with the last skb of a read (see conn.c). */
    rx->off = n > 0 ? (size_t)n - 1 : 0;
    return n;
}

static ssize_t unix_write_some(void *ctx, const struct iovec *iov, int iovcnt,
                               const int *fds, size_t nfds, int timeout_ms)
{
    struct unix_ctx *u = ctx;
    union {
        char buf[CMSG_SPACE(sizeof(int) * VUC_SCM_MAX_FD)];
        struct cmsghdr align;
    } cbuf;
    struct msghdr mh;
    int flags = MSG_NOSIGNAL;
    ssize_t n;

    if (timeout_ms == 0) {
        flags |= MSG_DONTWAIT;
    } else {
        int r = set_timeo(u->fd, SO_SNDTIMEO, timeout_ms, &u->snd_ms);

        if (r < 0) {
            return r;
        }
    }
    if (nfds == 0 && iovcnt == 1) {
        /* send() skips sendmsg's msghdr and iovec import. */
        n = send(u->fd, iov[0].iov_base, iov[0].iov_len, flags);
        if (n < 0) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        return n;
    }
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = (struct iovec *)(uintptr_t)iov;
    mh.msg_iovlen = (size_t)iovcnt;
    if (nfds > 0) {
        struct cmsghdr *cm;

        if (nfds > VUC_SCM_MAX_FD) {
            return -EINVAL;
        }
        /* CMSG_SPACE pads an odd number of fds to 8 bytes: those bytes
         * go to the kernel too, so they are zeroed (valgrind) */
        memset(cbuf.buf, 0, CMSG_SPACE(sizeof(int) * nfds));
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    n = sendmsg(u->fd, &mh, flags);
    if (n < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    return n;
}

static int unix_shutdown(void *ctx)
{
    struct unix_ctx *u = ctx;

    return shutdown(u->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void unix_close(void *ctx)
{
    struct unix_ctx *u = ctx;

    close(u->fd);
    free(u);
}

static int unix_fd(const void *ctx)
{
    const struct unix_ctx *u = ctx;

    return u->fd;
}

static const struct vuc_conn_ops unix_ops = {
    .read_some = unix_read_some,
    .write_some = unix_write_some,
    .shutdown = unix_shutdown,
    .close = unix_close,
    .fd = unix_fd,
};

/*
 * Takes ownership of fd: on failure it is closed too. The socket is made
 * blocking (the timeouts rely on it; O_NONBLOCK belongs to the open file
 * description, so dups of fd see it too). Errors: -EINVAL (fd < 0),
 * -ENOMEM, fcntl's errno.
 */
int vuc_conn_from_fd(int fd, struct vuc_conn **out)
{
    struct unix_ctx *u;
    int fl;
    int r;

    if (fd < 0 || !out) {
        return -EINVAL;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))) {
        r = -errno;
        close(fd);
        return r;
    }
    u = malloc(sizeof(*u));
    if (!u) {
        close(fd);
        return -ENOMEM;
    }
    u->fd = fd;
    u->rcv_ms = TIMEO_UNKNOWN;
    u->snd_ms = TIMEO_UNKNOWN;
    r = vuc_conn_new(&unix_ops, u, out);
    if (r < 0) {
        unix_close(u);
    }
    return r;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
    size_t len;

    if (!path || !*path) {
        return -EINVAL;
    }
    len = strlen(path);
    memset(sa, 0, sizeof(*sa));
    if (len >= sizeof(sa->sun_path)) {
        return -ENAMETOOLONG;
    }
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len + 1);
    return 0;
}

/*
 * Only a socket at path is removed, so a typo never deletes a file. The
 * listening socket is non-blocking so that accept after poll cannot hang
 * when the client gave up in between. Errors: -EINVAL (empty path),
 * -ENAMETOOLONG, and the errno of socket/bind/listen (-EADDRINUSE when
 * path is something other than a socket).
 */
int vuc_unix_listen(const char *path, int *lfd)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;
    int r = make_addr(path, &sa);

    if (r < 0) {
        return r;
    }
    if (!lfd) {
        return -EINVAL;
    }
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    *lfd = fd;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until end (>= 0), or -1 for forever (end < 0). */
static int ms_left(int64_t end)
{
    int64_t left;

    if (end < 0) {
        return -1;
    }
    left = end - now_ms();
    if (left <= 0) {
        return 0;
    }
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Errors: -ETIMEDOUT, -ENOMEM, accept's and poll's errno. */
int vuc_unix_accept(int lfd, int timeout_ms, struct vuc_conn **out)
{
    int64_t end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

    if (!out) {
        return -EINVAL;
    }
    for (;;) {
        struct pollfd pfd = {lfd, POLLIN, 0};
        int wait = ms_left(end);
        int r = poll(&pfd, 1, wait);
        int fd;

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            return vuc_conn_from_fd(fd, out);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            return -errno;
        }
        if (wait == 0) {
            return -ETIMEDOUT;
        }
    }
}

/*
 * The socket is non-blocking while connecting: a full backlog gives
 * EAGAIN (retried) instead of an unbounded wait. Errors: -ETIMEDOUT,
 * -ENAMETOOLONG, -EINVAL (empty path), -ENOMEM, connect's errno.
 */
int vuc_unix_connect(const char *path, int timeout_ms, struct vuc_conn **out)
{
    struct sockaddr_un sa;
    int64_t end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int r = make_addr(path, &sa);

    if (r < 0) {
        return r;
    }
    if (!out) {
        return -EINVAL;
    }
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int err;
        int left;
        struct timespec ts;

        if (fd < 0) {
            return -errno;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return vuc_conn_from_fd(fd, out);
        }
        err = errno;
        close(fd);
        if (err == EINTR) {
            continue;
        }
        if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN) {
            return -err;
        }
        left = ms_left(end);
        if (left == 0) {
            return -ETIMEDOUT;
        }
        if (left < 0 || left > CONNECT_RETRY_MS) {
            left = CONNECT_RETRY_MS;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
}
