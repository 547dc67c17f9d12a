/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vucert-server: the reference vfio-user device (design.md: "The reference
 * server"). A PCI device with a 4 KiB BAR0 register file, the full
 * migration v2 state machine over vfio-user (DEVICE_FEATURE 1 and 2,
 * MIG_DATA_READ/WRITE), fault injection and deliberate quirks.
 *
 * The library is single threaded and keeps no globals; every call takes
 * the server context. It never trusts the client: nothing a client sends
 * makes it abort, assert, leak or hang. Register map, stream format and
 * quirks: reference-server/README.md.
 */
#ifndef VUCERT_SERVER_H
#define VUCERT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vuc_conn;
struct vuc_msg;
struct vuc_srv;

/*
 * Quirks: each makes the server deliberately wrong in exactly one way, so
 * that the conformance suite can prove each case catches its bug.
 * VUC_SRV_QUIRK_<X> is bit (1 << VUC_SRV_QUIRK_BIT_<X>); the names are
 * the ones --quirk accepts (see vuc_srv_quirk_name).
 */
enum vuc_srv_quirk_bit {
    VUC_SRV_QUIRK_BIT_STOPCOPY_TO_PRECOPY = 0, /* stopcopy-to-precopy-allowed */
    VUC_SRV_QUIRK_BIT_SAVING_INSIDE_PATH,      /* saving-state-inside-path */
    VUC_SRV_QUIRK_BIT_UNADVERTISED_STATE,      /* unadvertised-state-accepted */
    VUC_SRV_QUIRK_BIT_RESET_KEEPS_STATE,       /* reset-keeps-state */
    VUC_SRV_QUIRK_BIT_ERROR_WITH_PAYLOAD,      /* error-reply-with-payload */
    VUC_SRV_QUIRK_BIT_ERRNO_ZERO,              /* error-errno-zero */
    VUC_SRV_QUIRK_BIT_STALE_GET,               /* get-returns-stale-state */
    VUC_SRV_QUIRK_BIT_STATE8_ACCEPTED,         /* state-8-accepted */
    VUC_SRV_QUIRK_COUNT
};

#define VUC_SRV_QUIRK(b)                  (1ull << VUC_SRV_QUIRK_BIT_##b)
#define VUC_SRV_QUIRK_STOPCOPY_TO_PRECOPY VUC_SRV_QUIRK(STOPCOPY_TO_PRECOPY)
#define VUC_SRV_QUIRK_SAVING_INSIDE_PATH  VUC_SRV_QUIRK(SAVING_INSIDE_PATH)
#define VUC_SRV_QUIRK_UNADVERTISED_STATE  VUC_SRV_QUIRK(UNADVERTISED_STATE)
#define VUC_SRV_QUIRK_RESET_KEEPS_STATE   VUC_SRV_QUIRK(RESET_KEEPS_STATE)
#define VUC_SRV_QUIRK_ERROR_WITH_PAYLOAD  VUC_SRV_QUIRK(ERROR_WITH_PAYLOAD)
#define VUC_SRV_QUIRK_ERRNO_ZERO          VUC_SRV_QUIRK(ERRNO_ZERO)
#define VUC_SRV_QUIRK_STALE_GET           VUC_SRV_QUIRK(STALE_GET)
#define VUC_SRV_QUIRK_STATE8_ACCEPTED     VUC_SRV_QUIRK(STATE8_ACCEPTED)
#define VUC_SRV_QUIRKS_KNOWN              ((1ull << VUC_SRV_QUIRK_COUNT) - 1)

/* Largest --max-data-xfer-size accepted (it also bounds one message). */
#define VUC_SRV_MAX_XFER_LIMIT (64u * 1024u * 1024u)

/* Default wait for a reply to be accepted by the socket, in ms. */
#define VUC_SRV_SEND_TIMEOUT_MS 5000

/*
 * Optional allocator, so tests can fail the Nth allocation. All zero
 * means malloc/free. alloc returns NULL on failure.
 */
struct vuc_srv_alloc {
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *p);
    void *ctx;
};

struct vuc_srv_opts {
    uint64_t mig_flags; /* VUC_MIGRATION_* set, one of vuc_fsm_flag_sets */
    uint64_t quirks;    /* VUC_SRV_QUIRK_* bits */
    size_t max_data_xfer_size; /* server's limit; 0 means 1 MiB */
    bool verbose;              /* one line per message on stderr */
    int send_timeout_ms;       /* reply send timeout; 0 means default */
    struct vuc_srv_alloc alloc;
};

/* Fill o with the defaults: stop-copy,pre-copy, no quirks, 1 MiB. */
void vuc_srv_opts_init(struct vuc_srv_opts *o);

/*
 * Create a server with a device in its power-on state (migration state
 * RUNNING). o may be NULL for the defaults. Errors: -EINVAL (flag set not
 * one of the four valid sets, unknown quirk bits, max_data_xfer_size above
 * VUC_SRV_MAX_XFER_LIMIT), -ENOMEM.
 */
int vuc_srv_new(const struct vuc_srv_opts *o, struct vuc_srv **out);
/* Free everything (NULL is fine). Does not close any connection. */
void vuc_srv_free(struct vuc_srv *s);

/*
 * Handle one received message m (a whole message as vuc_conn_recv returns
 * it) and send its reply on c, unless the request set No_reply. m stays
 * owned by the caller, who releases it. Returns:
 *   -EINVAL       s, c or m is NULL
 *   0             handled (successfully or with an error reply)
 *   -ECONNABORTED the server wants the connection closed (VERSION with an
 *                 unsupported major); the error reply has been sent
 *   the errno of vuc_conn_sendv when the reply could not be sent
 *                 (-EPIPE, -ETIMEDOUT, ...): drop the connection
 */
int vuc_srv_handle(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m);

/*
 * Receive and handle messages on c until the peer closes, the server
 * drops the connection, or nothing arrives within timeout_ms (< 0 waits
 * forever; the in-memory transport never waits). Returns:
 *   0             the peer closed (vuc_srv_disconnect has been called)
 *   -ECONNABORTED the server dropped the connection: unsupported major,
 *                 an undecodable header, or a reply that could not be sent
 *                 (vuc_srv_disconnect has been called)
 *   -EAGAIN, -ETIMEDOUT  nothing more arrived; the connection is intact
 *   -ENOMEM
 *   -EINVAL       s or c is NULL
 * c is never closed here; the caller owns it.
 */
int vuc_srv_serve(struct vuc_srv *s, struct vuc_conn *c, int timeout_ms);

/*
 * The client went away: forget the negotiation (the next client must send
 * VERSION again) and per-connection resources. The device state, the
 * migration state and any migration data session are kept (spec: Client
 * Disconnection).
 */
void vuc_srv_disconnect(struct vuc_srv *s);

/*
 * Serve socket_path with an epoll loop: one client at a time (others wait
 * in the listen backlog), SIGINT/SIGTERM through a signalfd. SIGPIPE is
 * set to ignored and SIGINT/SIGTERM are blocked for the calling thread
 * while it runs (the old mask is restored on return). Removes the socket
 * file on exit. Returns 0 after a SIGINT/SIGTERM, or a negative errno when
 * setup or the event loop fails (-ENAMETOOLONG, socket/bind/listen/epoll
 * errors).
 */
int vuc_srv_run(struct vuc_srv *s, const char *socket_path);

/* The current migration state (enum vuc_mig_state). */
uint32_t vuc_srv_mig_state(const struct vuc_srv *s);

/* true once VERSION has been negotiated on the current connection. */
bool vuc_srv_negotiated(const struct vuc_srv *s);

/* Quirk i's --quirk name (i < VUC_SRV_QUIRK_COUNT), else NULL. */
const char *vuc_srv_quirk_name(unsigned i);
/* Quirk i's one-line description, else NULL. */
const char *vuc_srv_quirk_desc(unsigned i);
/* Map a --quirk name to its bit (VUC_SRV_QUIRK_*). Errors: -EINVAL. */
int vuc_srv_quirk_parse(const char *name, uint64_t *bit);

#endif /* VUCERT_SERVER_H */
