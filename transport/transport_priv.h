/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend interface under struct vuc_conn. conn.c does all framing,
 * buffering, fd bookkeeping and timeout arithmetic once; a backend only
 * moves bytes (and fds) with a bounded wait.
 *
 * The waits are inside read_some/write_some rather than in a separate
 * poll-style call on purpose: the AF_UNIX backend waits in the kernel
 * through SO_RCVTIMEO/SO_SNDTIMEO, so receiving a small message costs one
 * recvmsg() and sending one costs one sendmsg(), with no poll() first.
 */
#ifndef VUCERT_TRANSPORT_PRIV_H
#define VUCERT_TRANSPORT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vucert/transport.h"

/* Most fds one sendmsg may carry on Linux (SCM_MAX_FD); also the limit
 * of vuc_conn_send_raw, so tests can send more than VUC_MAX_FDS. */
#define VUC_SCM_MAX_FD 253

/* Fds that arrived with one read_some. */
struct vuc_rx_fds {
    int fds[VUC_MAX_FDS];
    size_t n;
    bool truncated; /* more arrived than fit; the backend closed them */
    size_t off;     /* offset, in the bytes returned, they belong to */
};

struct vuc_conn_ops {
    /*
     * Read up to cap (> 0) bytes, waiting at most timeout_ms (< 0 forever,
     * 0 not at all). Returns the byte count (> 0), 0 at end of stream, or
     * -EAGAIN (nothing arrived in time; a backend that never blocks
     * returns it at once), -EINTR, or another -errno. rx is filled (n = 0
     * when no fds came); fds come only with a positive count.
     */
    ssize_t (*read_some)(void *ctx, void *buf, size_t cap,
                         struct vuc_rx_fds *rx, int timeout_ms);
    /*
     * Write some of iov (iovcnt > 0, total > 0), with fds attached to the
     * first byte, waiting at most timeout_ms. Returns the byte count
     * (> 0; the fds went with it), or -EAGAIN (nothing written in time),
     * -EINTR, -EPIPE, -ECONNRESET, or another -errno.
     */
    ssize_t (*write_some)(void *ctx, const struct iovec *iov, int iovcnt,
                          const int *fds, size_t nfds, int timeout_ms);
    /* Half-close the sending side. 0 or -errno. */
    int (*shutdown)(void *ctx);
    /* Release everything the backend holds, ctx included. */
    void (*close)(void *ctx);
    /* The pollable fd, or -1. */
    int (*fd)(const void *ctx);
};

/*
 * Make a connection over a backend. On success the connection owns ctx
 * (ops->close releases it). Errors: -ENOMEM (ctx untouched).
 */
int vuc_conn_new(const struct vuc_conn_ops *ops, void *ctx,
                 struct vuc_conn **out);

#endif /* VUCERT_TRANSPORT_PRIV_H */
