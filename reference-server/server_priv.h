/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vucert-server internals shared by server.c (connection, dispatch,
 * VERSION), device.c (PCI config space, BAR0, regions), mig.c (migration
 * features, state machine, data sessions), stream.c (the migration stream
 * format) and loop.c (the socket event loop).
 */
#ifndef VUCERT_SERVER_PRIV_H
#define VUCERT_SERVER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vucert/server.h"
#include "vucert/transport.h"
#include "vucert/wire.h"

/* ---- device model (device.c) ---- */

#define DEV_BAR0_SIZE 4096u
#define DEV_CFG_SIZE  256u
#define DEV_NUM_IRQS  5u /* INTx, MSI, MSI-X, ERR, REQ (<linux/vfio.h>) */

/* BAR0 register map; README.md documents it and the profile uses it. */
#define BAR0_MAGIC        0x00u /* u32 RO */
#define BAR0_REV          0x04u /* u32 RO */
#define BAR0_SCRATCH0     0x08u /* u64 RW */
#define BAR0_SCRATCH1     0x10u /* u64 RW */
#define BAR0_FAULT        0x18u /* u32 RW, bit 0 arms fault injection */
#define BAR0_TRACE_COUNT  0x1cu /* u32 RO */
#define BAR0_TRACE_STATES 0x20u /* 8 x u8 RO */
#define BAR0_COUNTER      0x28u /* u64 RO */
#define BAR0_FREE_BASE    0x30u /* 0x30..0xfff: RW device state bytes */

#define BAR0_MAGIC_VALUE 0x54435556u /* "VUCT" in little endian */
#define BAR0_REV_VALUE   1u
#define BAR0_TRACE_MAX   8u

/* PCI identity (README.md). */
#define DEV_PCI_VENDOR 0x1de5u
#define DEV_PCI_DEVICE 0x0001u
#define DEV_PCI_CLASS  0xff0000u /* "device does not fit any class" */

/*
 * The device state image saved in a migration stream: u64 counter, the
 * BAR0 image (FAULT and TRACE written as zero), the whole config space.
 * Loading takes only the parts that are device state (BAR0 RW bytes other
 * than FAULT, config writable bits, the counter).
 */
#define DEV_STATE_COUNTER_OFF 0u
#define DEV_STATE_BAR0_OFF    8u
#define DEV_STATE_CFG_OFF     (DEV_STATE_BAR0_OFF + DEV_BAR0_SIZE)
#define DEV_STATE_SIZE        (DEV_STATE_CFG_OFF + DEV_CFG_SIZE)

struct dev {
    uint8_t bar0[DEV_BAR0_SIZE]; /* registers are kept current in here */
    uint8_t cfg[DEV_CFG_SIZE];
    uint64_t counter;
    bool fault_armed;
};

void dev_init(struct dev *d);
/* Region size and VUC_REGION_FLAG_* flags; size 0 for unused indexes.
 * Errors: EINVAL (index >= 9). Returns a positive errno or 0. */
int dev_region(uint32_t index, uint64_t *size, uint32_t *flags);
/* Bounds are checked by the caller (srv_h_REGION_*). */
void dev_read(const struct dev *d, uint32_t region, uint64_t off, uint8_t *out,
              size_t n);
void dev_write(struct dev *d, uint32_t region, uint64_t off,
               const uint8_t *data, size_t n);
/* One message handled while the device runs. */
void dev_tick(struct dev *d);
/* Record the states entered by the last SET (at most BAR0_TRACE_MAX). */
void dev_set_trace(struct dev *d, const uint32_t *states, size_t n);
/* If fault injection is armed, disarm it and return true. */
bool dev_fault_fire(struct dev *d);
void dev_fault_disarm(struct dev *d);
void dev_state_save(const struct dev *d, uint8_t *out);
void dev_state_load(struct dev *d, const uint8_t *in);

/* ---- migration stream format (stream.c) ---- */

#define STREAM_MAGIC    0x53435556u /* "VUCS" in little endian */
#define STREAM_VERSION  1u
#define STREAM_HDR_SIZE 24u
#define STREAM_SIZE     (STREAM_HDR_SIZE + DEV_STATE_SIZE)

/* CRC-32/ISO-HDLC (the IEEE 802.3 / zlib CRC). */
uint32_t stream_crc32(const uint8_t *p, size_t n);
/* buf holds STREAM_SIZE bytes with the state at buf + STREAM_HDR_SIZE:
 * write the header in front of it. */
void stream_seal(uint8_t *buf);
/* Check buf is exactly one valid stream; returns 0 and points *state at
 * the state bytes, or EINVAL. */
int stream_decode(const uint8_t *buf, size_t len, const uint8_t **state);

/* ---- migration (mig.c) ---- */

struct save_session {
    bool open;    /* in the saving group */
    uint8_t *buf; /* the stream, taken on entering STOP_COPY */
    size_t len;
    size_t pos; /* bytes already read */
};

struct resume_session {
    uint8_t *buf; /* STREAM_SIZE bytes, allocated on first write */
    size_t len;
};

struct mig {
    uint32_t state;
    uint32_t stale_state; /* state before the last successful SET */
    struct save_session save;
    struct resume_session resume;
};

/* ---- the server ---- */

struct vuc_srv {
    struct vuc_srv_opts opts;
    size_t xfer_limit; /* server's own max_data_xfer_size */
    int send_timeout_ms;
    /* per connection */
    bool negotiated;
    size_t xfer; /* negotiated max_data_xfer_size */
    /* device (survives reconnects) */
    struct dev dev;
    struct mig mig;
};

static inline bool srv_quirk(const struct vuc_srv *s, uint64_t q)
{
    return (s->opts.quirks & q) != 0;
}

void *srv_alloc(struct vuc_srv *s, size_t n);
void srv_release(struct vuc_srv *s, void *p);

/*
 * A successful reply under construction: the payload is the iov list;
 * small fixed parts live in `fixed`. Handlers return 0 after filling it,
 * or a positive errno for an error reply (then r is ignored).
 */
#define REPLY_MAX_IOV 4
struct srv_reply {
    struct iovec iov[REPLY_MAX_IOV];
    int iovcnt;
    uint8_t fixed[512];
    size_t fixed_used;
    uint8_t bulk[DEV_BAR0_SIZE]; /* region read data */
    bool close;                  /* drop the connection after replying */
};

/* Reserve n bytes of r->fixed (zeroed) and append them to the payload. */
uint8_t *reply_fixed(struct srv_reply *r, size_t n);
/* Append caller-owned bytes that outlive the send. */
void reply_add(struct srv_reply *r, const void *p, size_t n);

/* One handler per command, generated from msgs.def (server.c). */
typedef int (*srv_handler)(struct vuc_srv *s, struct vuc_conn *c,
                           struct vuc_msg *m, struct srv_reply *r);
#define VUC_MSG(name, num, dir, req, rep)                                      \
    int srv_h_##name(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m, \
                     struct srv_reply *r);
#include "vucert/msgs.def"
#undef VUC_MSG

/* mig.c */
void mig_init(struct mig *g);
void mig_free(struct vuc_srv *s);
/* DEVICE_RESET: back to RUNNING, sessions ended (quirk aside). */
void mig_reset(struct vuc_srv *s);
/* States in which the device runs (the COUNTER advances). */
bool mig_running(uint32_t state);

/* Receive one message (timeout_ms) and handle it. Returns 0 when one was
 * handled, -EAGAIN/-ETIMEDOUT when none came, -ECONNRESET/-EPIPE when the
 * peer closed, -ECONNABORTED when the server drops the connection. */
int srv_pump(struct vuc_srv *s, struct vuc_conn *c, int timeout_ms);

#endif /* VUCERT_SERVER_PRIV_H */
