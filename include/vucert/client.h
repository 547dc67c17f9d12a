/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vucert's client library: typed requests to a vfio-user server, strict
 * checks of every reply's framing, and a wire trace of the exchange so a
 * verdict can quote the messages that showed it.
 *
 * Return convention: 0 when a reply arrived (a success reply or an error
 * reply: see vuc_reply.is_error); a negative errno when no usable reply
 * arrived:
 *   -ETIMEDOUT   no reply within the client's timeout
 *   -ECONNRESET  the server closed the connection (or -EPIPE mid-message)
 *   -EPROTO      a reply arrived but its framing is wrong (wrong type,
 *                message id or command; size below the fixed reply size).
 *                vuc_client_last_error() says exactly what.
 *   -ENOMEM, -EINVAL (bad arguments)
 * The payload checks that belong to a conformance case (an error reply
 * with a payload, errno 0) are NOT failures here: they are recorded in the
 * reply so that only the cases written for them judge them.
 */
#ifndef VUCERT_CLIENT_H
#define VUCERT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vucert/codec.h"
#include "vucert/transport.h"

struct vuc_client;

struct vuc_reply {
    struct vuc_msg msg; /* owned; release with vuc_reply_release */
    bool is_error;      /* Error flag set */
    uint32_t error;     /* the header's errno field */
    const uint8_t *payload;
    size_t payload_len;
};

void vuc_reply_release(struct vuc_reply *r);

/* Connect to a server socket (retrying until timeout_ms). The timeout is
 * also the default for every later wait. */
int vuc_client_connect(const char *path, int timeout_ms,
                       struct vuc_client **out);
/* Wrap an existing connection (tests). Takes ownership of conn. */
int vuc_client_from_conn(struct vuc_conn *conn, int timeout_ms,
                         struct vuc_client **out);
void vuc_client_close(struct vuc_client *cl);

void vuc_client_set_timeout(struct vuc_client *cl, int timeout_ms);
int vuc_client_timeout(const struct vuc_client *cl);
struct vuc_conn *vuc_client_conn(struct vuc_client *cl);

/* true once the server closed the connection under this client. */
bool vuc_client_lost(const struct vuc_client *cl);
/* true once a wait for the server ran out (it may be hung). */
bool vuc_client_timed_out(const struct vuc_client *cl);
/* fds received on replies that carry none (closed by the client). */
unsigned vuc_client_stray_fds(const struct vuc_client *cl);
/*
 * Violations the client tolerated since the last call, "; "-separated,
 * copied into buf ("" if none), and forgotten. A violation of a rule
 * that a conformance case of its own judges (a MIG_DATA_READ reply
 * padded after its data, a max_data_xfer_size above the proposal, fds on
 * a reply that carries none) does not stop a call: the client takes what
 * the fields the spec defines say, notes the rest here and goes on.
 */
const char *vuc_client_take_notes(struct vuc_client *cl, char *buf, size_t cap);

/* What went wrong in the last call that failed (framing, timeouts). */
const char *vuc_client_last_error(const struct vuc_client *cl);

/* ---- trace ---- */

/* Start a fresh trace (cases call this before the exchange they judge). */
void vuc_client_trace_reset(struct vuc_client *cl);
/* One line per message sent or received since the last reset, oldest
 * first, with older lines elided when many; "" when empty. Valid until
 * the next call on cl. */
const char *vuc_client_trace(struct vuc_client *cl);
/* Add a free-text note to the trace ("# reset device"). */
void vuc_client_trace_note(struct vuc_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write every message sent and received from now on into dir, one file
 * per message named by the SHA-256 of its bytes (fuzzing seeds; dir must
 * exist). NULL stops. */
void vuc_client_record(struct vuc_client *cl, const char *dir);

/* ---- client memory ---- */

#define VUC_CLIENT_MAX_MEMORY 16

/*
 * Memory the server may read and write with VFIO_USER_DMA_READ/WRITE
 * (for DMA_MAP without an fd). While vucert waits for a reply it answers
 * such requests from these regions (EFAULT outside them; other server
 * commands get ENOSYS). Errors: -ENOSPC, -EINVAL.
 */
int vuc_client_add_memory(struct vuc_client *cl, uint64_t iova, void *ptr,
                          uint64_t len);
void vuc_client_del_memory(struct vuc_client *cl, uint64_t iova);
/* The DMA_READ/DMA_WRITE requests the server sent (decoded) since the last
 * reset, the largest count among them, and how many came on the twin
 * socket; reset: start counting again. */
void vuc_client_dma_stats(struct vuc_client *cl, unsigned *requests,
                          uint64_t *count_max, unsigned *on_twin, bool reset);
/* Is twin-socket mode on (the VERSION reply gave a command channel)? */
bool vuc_client_twin(const struct vuc_client *cl);

/* ---- generic ---- */

/* Send a request with the next message id and wait for its reply. */
int vuc_client_call(struct vuc_client *cl, uint16_t cmd, const void *payload,
                    size_t len, const int *fds, size_t nfds,
                    struct vuc_reply *r);
/* Send raw bytes (already framed by the caller) without waiting. */
int vuc_client_send_raw(struct vuc_client *cl, const void *buf, size_t len);
/* Wait for the next message from the server, whatever it is. */
int vuc_client_recv_any(struct vuc_client *cl, struct vuc_reply *r);
/* The next message id the client will use. */
uint16_t vuc_client_next_id(const struct vuc_client *cl);

/* ---- negotiation ---- */

struct vuc_negotiated {
    uint16_t major, minor;
    struct vuc_caps caps;   /* the server's reply (keys it sent) */
    struct vuc_caps limits; /* effective: defaults overridden by the reply */
    char *json;             /* the server's JSON text, or NULL */
};

/*
 * VERSION with the given JSON (NULL: vucert's default proposal; "" : no
 * version data at all). On a success reply, fills the negotiated limits
 * (also kept in the client) and returns 0; an error reply returns 0 with
 * r->is_error; a reply whose JSON is malformed returns -EPROTO.
 * r may be NULL when the caller only needs the outcome.
 */
int vuc_client_negotiate(struct vuc_client *cl, uint16_t major, uint16_t minor,
                         const char *json, struct vuc_reply *r);
const struct vuc_negotiated *vuc_client_negotiated(const struct vuc_client *cl);
/* The JSON vucert proposes by default. */
const char *vuc_client_default_caps_json(void);

/* ---- typed requests ---- */

int vuc_client_feature(struct vuc_client *cl, uint32_t flags, uint32_t argsz,
                       const void *data, size_t len, struct vuc_reply *r);
/* MIGRATION GET. 0 and *flags; -EREMOTEIO on an error reply (errno in
 * *err if err); -EPROTO on a malformed reply. */
int vuc_client_mig_flags(struct vuc_client *cl, uint64_t *flags, uint32_t *err);
/* MIG_DEVICE_STATE GET, same convention. */
int vuc_client_get_state(struct vuc_client *cl, uint32_t *state, uint32_t *err);
/* MIG_DEVICE_STATE SET; the reply is returned for the caller to judge. */
int vuc_client_set_state(struct vuc_client *cl, uint32_t state,
                         struct vuc_reply *r);
int vuc_client_reset(struct vuc_client *cl, struct vuc_reply *r);

int vuc_client_region_info(struct vuc_client *cl, uint32_t index,
                           struct vuc_region_info *info, uint32_t *err);
/* REGION_READ of len bytes into buf: 0, -EREMOTEIO (error reply), -EPROTO
 * (reply count or data length wrong). */
int vuc_client_region_read(struct vuc_client *cl, uint32_t region,
                           uint64_t offset, void *buf, uint32_t len,
                           uint32_t *err);
int vuc_client_region_write(struct vuc_client *cl, uint32_t region,
                            uint64_t offset, const void *buf, uint32_t len,
                            uint32_t *err);

/* MIG_DATA_READ of up to size bytes into buf (cap >= size): *got is the
 * size the server returned. -EREMOTEIO, -EPROTO (size above the request,
 * or data length disagreeing with size). */
int vuc_client_mig_read(struct vuc_client *cl, uint32_t size, void *buf,
                        uint32_t *got, uint32_t *err);
/* MIG_DATA_WRITE of size bytes from buf (sent from buf, not copied). */
int vuc_client_mig_write(struct vuc_client *cl, const void *buf, uint32_t size,
                         uint32_t *err);

/* ---- pipelined migration data (spec: Command Concurrency) ---- */

#define VUC_CLIENT_MAX_DEPTH 8

/* Takes each MIG_DATA_READ reply's data, in stream order; valid only
 * during the call. A negative return stops the read. */
typedef int (*vuc_client_sink)(void *arg, const uint8_t *data, uint32_t len);

/*
 * Read a migration stream with MIG_DATA_READs of chunk bytes, up to depth
 * (1 .. VUC_CLIENT_MAX_DEPTH) of them in flight, until a reply shorter
 * than its request (spec: the end of the stream; in PRE_COPY the end of
 * what is ready now). The requests still in flight then are answered too
 * and their data (none in STOP_COPY; in PRE_COPY, what became ready
 * meanwhile) also goes to sink, so no byte is lost and the connection is
 * left in step. *total: the bytes sink took.
 * Returns 0; -EREMOTEIO (an error reply, errno in *err) or a sink's
 * error, each after the requests in flight were answered; -EPROTO (a
 * reply's size above the request, or malformed), or a wire error
 * (-ETIMEDOUT, -ECONNRESET) at once; -EINVAL.
 */
int vuc_client_mig_read_stream(struct vuc_client *cl, uint32_t chunk,
                               unsigned depth, vuc_client_sink sink, void *arg,
                               uint64_t *total, uint32_t *err);

/*
 * Write len bytes as MIG_DATA_WRITEs of chunk bytes (the last may be
 * shorter), up to depth in flight. After an error reply nothing more is
 * sent; the writes in flight are answered first. *done: the bytes of the
 * writes the server accepted before the first error.
 * Returns 0, -EREMOTEIO (errno of the first error reply in *err), a wire
 * error, -EINVAL.
 */
int vuc_client_mig_write_stream(struct vuc_client *cl, const void *buf,
                                size_t len, uint32_t chunk, unsigned depth,
                                size_t *done, uint32_t *err);

#endif /* VUCERT_CLIENT_H */
