/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The only code that touches sockets: AF_UNIX stream connections with
 * SCM_RIGHTS, message framing on top of the byte stream, a timeout on
 * every wait; plus an in-memory transport with the same interface for
 * tests and fuzzing.
 *
 * Framing: a message is a 16-byte header whose "Message size" field says
 * how many bytes the whole message has (spec: Header). A message may be
 * split across any number of reads, and one read may hold many messages;
 * both work. Received file descriptors are attached to the message whose
 * first bytes arrived with them.
 *
 * Timeouts are in milliseconds: < 0 waits forever, 0 never waits.
 * The in-memory transport never blocks: when no data is there and the
 * peer is still open it returns -ETIMEDOUT (or -EAGAIN for timeout 0).
 */
#ifndef VUCERT_TRANSPORT_H
#define VUCERT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vucert/codec.h"

/* Most fds kept with one received message; extras are closed and
 * reported through vuc_msg.fds_truncated. */
#define VUC_MAX_FDS 16

/* Default largest message accepted by recv: header + 1 MiB data + a
 * 64 KiB allowance for fixed parts. */
#define VUC_DEFAULT_MAX_MSG                                                    \
    (VUC_HDR_SIZE + VUC_DEFAULT_MAX_DATA_XFER_SIZE + 65536u)

struct vuc_conn;

struct vuc_msg {
    struct vuc_hdr hdr;
    uint8_t *buf;       /* the whole message (header included); owned */
    size_t len;         /* == hdr.size */
    uint8_t *payload;   /* buf + 16 */
    size_t payload_len; /* len - 16 */
    int fds[VUC_MAX_FDS];
    size_t nfds;
    bool fds_truncated;
    bool borrowed; /* buf is the caller's (vuc_conn_recv_buf): not freed */
};

/* Free buf and close every fd still >= 0 in fds (set an entry to -1 to
 * keep it). Safe on a zeroed or already released message. */
void vuc_msg_release(struct vuc_msg *m);

/* ---- AF_UNIX ---- */

/*
 * Create, bind and listen on an AF_UNIX stream socket at path (an old
 * socket file at path is removed first). Errors: -ENAMETOOLONG, and the
 * errno of socket/bind/listen.
 */
int vuc_unix_listen(const char *path, int *lfd);

/* Accept one connection. Errors: -ETIMEDOUT, accept's errno. */
int vuc_unix_accept(int lfd, int timeout_ms, struct vuc_conn **out);

/* Connect to path, retrying while the socket is absent or refuses, until
 * timeout. Errors: -ETIMEDOUT, -ENAMETOOLONG, -ENOMEM, connect's errno. */
int vuc_unix_connect(const char *path, int timeout_ms, struct vuc_conn **out);

/* Wrap a connected stream socket (takes ownership: on failure fd is
 * closed too; it is made blocking). Errors: -EINVAL (fd < 0), -ENOMEM,
 * fcntl's errno. */
int vuc_conn_from_fd(int fd, struct vuc_conn **out);

/* ---- in memory ---- */

/* Two connected in-memory endpoints. Fds sent are dup()ed into the peer's
 * queue. Errors: -ENOMEM. */
int vuc_mem_pair(struct vuc_conn **a, struct vuc_conn **b);

/* ---- any connection ---- */

/* Close and free (NULL is fine). Unreceived fds are closed. */
void vuc_conn_close(struct vuc_conn *c);

/* The socket fd, for poll/epoll; -1 for the in-memory transport. */
int vuc_conn_fd(const struct vuc_conn *c);

/* Largest whole message (header included) recv accepts; default
 * VUC_DEFAULT_MAX_MSG. */
void vuc_conn_set_max_msg(struct vuc_conn *c, size_t max);
size_t vuc_conn_max_msg(const struct vuc_conn *c);

/*
 * Receive one whole message into m (m is overwritten; release it with
 * vuc_msg_release). Returns 0, or:
 *   -EAGAIN      timeout 0 and no whole message yet (bytes are kept)
 *   -ETIMEDOUT   no whole message within timeout (bytes are kept)
 *   -ECONNRESET  the peer closed at a message boundary
 *   -EPIPE       the peer closed in the middle of a message
 *   -EBADMSG     declared size < 16; m->hdr holds the header. The stream
 *                cannot be resynchronised: close the connection.
 *   -EMSGSIZE    declared size > max; m->hdr holds the header and the
 *                connection discards that message's remaining bytes as
 *                they arrive, so the caller may reply and continue.
 *   -ENOMEM
 */
int vuc_conn_recv(struct vuc_conn *c, struct vuc_msg *m, int timeout_ms);

/*
 * As vuc_conn_recv, but a message of at most cap bytes lands in buf, which
 * stays the caller's: m->borrowed is set and vuc_msg_release does not free
 * it. For a caller that handles each message before it receives the next
 * (the fuzz targets), so that it costs no allocation. Larger messages are
 * allocated as by vuc_conn_recv.
 */
int vuc_conn_recv_buf(struct vuc_conn *c, struct vuc_msg *m, uint8_t *buf,
                      size_t cap, int timeout_ms);

/* true if the bytes already buffered hold at least one whole message, or
 * a header recv rejects (-EBADMSG, -EMSGSIZE): either way recv with
 * timeout 0 answers without a system call, and an event loop that waited
 * for the fd instead might wait forever. */
bool vuc_conn_pending(const struct vuc_conn *c);

/* true if bytes of an incomplete message are buffered: the buffered
 * bytes end partway through a header or body (after any whole messages
 * before them), or a large message is being read into its own buffer.
 * Bytes of an oversized message being discarded (-EMSGSIZE) are not kept,
 * so they do not count; nor does a header recv rejects at once (-EBADMSG,
 * -EMSGSIZE). Only bytes recv has already read count, not those still in
 * the socket. */
bool vuc_conn_partial(const struct vuc_conn *c);

/*
 * Put n bytes back in front of what is buffered, so that the next recv
 * reads them first, as if they had not been taken yet. For vucert-server's
 * bugs that model a server losing its place in the stream (a body left
 * unread); fds are not put back. Errors: -EBUSY while a large or
 * oversized message is half read, -ENOMEM.
 */
int vuc_conn_unread(struct vuc_conn *c, const void *p, size_t n);

/*
 * Send a message: header h (its size field is ignored and set to 16 +
 * the payload length), then the payload from iov. fds go with the first
 * byte. Returns 0, or -ETIMEDOUT (if part of the message had been
 * written, the stream has lost its framing: close the connection),
 * -EPIPE (peer gone), -EINVAL (nfds > VUC_MAX_FDS, payload > UINT32_MAX -
 * 16, or iovcnt < 0 or >= IOV_MAX), -EBADF (an fd to pass is not open),
 * -ENOMEM, or another errno of sendmsg.
 */
int vuc_conn_sendv(struct vuc_conn *c, const struct vuc_hdr *h,
                   const struct iovec *iov, int iovcnt, const int *fds,
                   size_t nfds, int timeout_ms);
/* vuc_conn_sendv with one payload buffer (payload may be NULL if len 0). */
int vuc_conn_send(struct vuc_conn *c, const struct vuc_hdr *h,
                  const void *payload, size_t len, const int *fds, size_t nfds,
                  int timeout_ms);
/* Send raw bytes exactly as given (for malformed-input tests), with up
 * to 253 fds (Linux SCM_MAX_FD), so more than VUC_MAX_FDS can be tried.
 * Errors: as vuc_conn_sendv; -EINVAL also for fds with len 0. */
int vuc_conn_send_raw(struct vuc_conn *c, const void *buf, size_t len,
                      const int *fds, size_t nfds, int timeout_ms);

/* Half-close: the peer sees end of stream after what was sent. */
int vuc_conn_shutdown(struct vuc_conn *c);

#endif /* VUCERT_TRANSPORT_H */
