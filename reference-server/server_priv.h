/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vucert-server internals shared by server.c (connection, dispatch,
 * VERSION), device.c (PCI config space, BAR0, the migratable state,
 * regions), mig.c (migration features, state machine, data sessions),
 * dma.c (DMA_MAP/UNMAP, the DMA engine, the server's own DMA_WRITE
 * requests), dirty.c (DMA logging, features 6, 7, 8), chaos.c (the
 * hostile reply modes), plant.c (the planted defects) and loop.c (the
 * socket event loop). The stream
 * format itself is vuc_stream (include/vucert/stream.h), the bitmaps
 * vuc_bitmap (bitmap.h), the tables of DMA mappings and logged ranges
 * vuc_itree (itree.h).
 */
#ifndef VUCERT_SERVER_PRIV_H
#define VUCERT_SERVER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vucert/bitmap.h"
#include "vucert/server.h"
#include "vucert/stream.h"
#include "vucert/transport.h"
#include "vucert/wire.h"

#include "itree.h"

/* ---- device model (device.c) ---- */

#define DEV_BAR0_SIZE  4096u
#define DEV_CFG_SIZE   256u
#define DEV_BAR2_SIZE  (1u << 20) /* mappable memory, not device state */
#define DEV_BAR2_INDEX 2u
#define DEV_NUM_IRQS   5u /* INTx, MSI, MSI-X, ERR, REQ (<linux/vfio.h>) */

/* BAR0 register map; README.md documents it and the profile uses it. */
#define BAR0_MAGIC        0x00u /* u32 RO */
#define BAR0_REV          0x04u /* u32 RO */
#define BAR0_SCRATCH0     0x08u /* u64 RW */
#define BAR0_SCRATCH1     0x10u /* u64 RW */
#define BAR0_FAULT        0x18u /* u32 RW, bit 0 arms fault injection */
#define BAR0_TRACE_COUNT  0x1cu /* u32 RO */
#define BAR0_TRACE_STATES 0x20u /* 8 x u8 RO */
#define BAR0_COUNTER      0x28u /* u64 RO */
#define BAR0_STATE_SIZE   0x30u /* u64 RO, bytes of the big state */
#define BAR0_STATE_ADDR   0x38u /* u64 RW, offset into the big state */
#define BAR0_STATE_DATA   0x40u /* u64 RW, window at STATE_ADDR */
#define BAR0_DIRTY        0x48u /* u32 WO, DIRTY_PERMILLE */
#define BAR0_RESERVED     0x4cu /* u32 RO 0; ARM with --require-arm */
#define BAR0_ARM          BAR0_RESERVED
#define BAR0_DIGEST       0x50u /* u64 RO, XXH64 of the device state */
#define BAR0_FREE_BASE    0x58u /* 0x58..0xfff: RW device state bytes */
/* The DMA engine, carved out of the free bytes; not device state. */
#define BAR0_DMA_ADDR     0x60u /* u64 RW, IOVA */
#define BAR0_DMA_LEN      0x68u /* u64 RW, bytes */
#define BAR0_DMA_PATTERN  0x70u /* u64 RW, repeated */
#define BAR0_DMA_DOORBELL 0x78u /* u32 WO, 1 writes, 2 reads */
#define BAR0_DMA_STATUS   0x7cu /* u32 RO, 0 or an errno */
#define BAR0_DMA_END      0x80u
/* A benchmark and test aid, not device state: marks logged pages dirty
 * without DMA (dirty.c). */
#define BAR0_DIRTY_SIM     0x80u /* u32 WO, DIRTY_SIM_PERMILLE */
#define BAR0_DIRTY_SIM_END 0x84u
/* The sum of the bytes the engine's last read run read. */
#define BAR0_DMA_SUM     0x88u /* u64 RO */
#define BAR0_DMA_SUM_END 0x90u

#define BAR0_MAGIC_VALUE 0x54435556u /* "VUCT" in little endian */
#define BAR0_REV_VALUE   1u
#define BAR0_TRACE_MAX   8u

/* PCI identity (README.md). */
#define DEV_PCI_VENDOR 0x1de5u
#define DEV_PCI_DEVICE 0x0001u
#define DEV_PCI_CLASS  0xff0000u /* "device does not fit any class" */

/*
 * The device state is the big state (state_size bytes), the BAR0 bytes
 * that are state and COUNTER. The registers image (the stream's REGS
 * record, STREAM.md) holds the latter two: SCRATCH0, SCRATCH1,
 * STATE_ADDR, BAR0 0x58..0xfff, then COUNTER. DIGEST is XXH64 of the big
 * state followed by this image.
 */
#define DEV_REGS_SCRATCH 0u
#define DEV_REGS_ADDR    16u
#define DEV_REGS_FREE    24u
#define DEV_REGS_COUNTER (DEV_REGS_FREE + DEV_BAR0_SIZE - BAR0_FREE_BASE)
#define DEV_REGS_SIZE    (DEV_REGS_COUNTER + 8u)

/* Stream geometry: dirty tracking per 4 KiB block, chunks up to 1 MiB. */
#define DEV_BLOCK_SIZE 4096u
#define DEV_CHUNK_SIZE (1u << 20)
#define DEV_PAGE_SIZE  4096u /* DIRTY_PERMILLE's unit */

struct dev {
    uint8_t bar0[DEV_BAR0_SIZE]; /* registers are kept current in here */
    uint8_t cfg[DEV_CFG_SIZE];
    uint64_t counter;
    bool fault_armed;
    bool arm_reg;   /* --require-arm: BAR0 ARM is writable */
    uint8_t *state; /* the big state, state_size bytes */
    uint64_t state_size;
    int intx_fd; /* the client's INTx trigger eventfd, -1: none */
    /* BAR2: DEV_BAR2_SIZE bytes of plain memory in a memfd, which the
     * client may mmap (made on first use; -1 / NULL before) */
    int bar2_fd;
    uint8_t *bar2;
    /* The open save session: every change of the state marks its blocks
     * pending there (NULL when none is open). */
    struct vuc_save *tracker;
};

void dev_init(struct dev *d, uint8_t *state, uint64_t state_size);
/* Make BAR2's memfd and mapping if not yet there: 0 or an errno. */
int dev_bar2(struct dev *d);
void dev_bar2_release(struct dev *d);
/* Close the client's IRQ eventfds (a disconnect, the end). */
void dev_irqs_release(struct dev *d);
/* Region size and VUC_REGION_FLAG_* flags; size 0 for unused indexes.
 * Errors: EINVAL (index >= 9). Returns a positive errno or 0. */
int dev_region(uint32_t index, uint64_t *size, uint32_t *flags);
/* Bounds are checked by the caller (srv_h_REGION_*). */
void dev_read(const struct dev *d, uint32_t region, uint64_t off, uint8_t *out,
              size_t n);
/* running: the device runs (mig_running); stopped, writes to device
 * state are ignored, so the device does not change. */
void dev_write(struct dev *d, uint32_t region, uint64_t off,
               const uint8_t *data, size_t n, bool running);
/* One message handled while the device runs. */
void dev_tick(struct dev *d);
/* The engine run the write [off, off + n) of BAR0 rings (all 4 bytes of
 * DMA_DOORBELL): DMA_OP_WRITE, DMA_OP_READ or 0; the caller runs the
 * engine (dma_engine_run). */
#define DMA_OP_WRITE 1u
#define DMA_OP_READ  2u
uint32_t dev_doorbell(uint64_t off, const uint8_t *data, size_t n);
/* true if the write [off, off + n) of BAR0 covers all 4 bytes of
 * DIRTY_SIM_PERMILLE; *permille is the value written (the caller runs
 * dirty_simulate while the device runs). */
bool dev_dirty_sim(uint64_t off, const uint8_t *data, size_t n,
                   uint32_t *permille);
/* Record the states entered by the last SET (at most BAR0_TRACE_MAX). */
void dev_set_trace(struct dev *d, const uint32_t *states, size_t n);
/* If fault injection is armed, disarm it and return true. */
bool dev_fault_fire(struct dev *d);
void dev_fault_disarm(struct dev *d);
/* The registers image (DEV_REGS_SIZE bytes). */
void dev_regs_save(const struct dev *d, uint8_t *out);
void dev_regs_load(struct dev *d, const uint8_t *in);
/* This device as the stream describes it. */
void dev_stream_dev(const struct dev *d, struct vuc_stream_dev *out);
/* BAR0 DIGEST. */
uint64_t dev_digest(const struct dev *d);

/* ---- migration (mig.c) ---- */

struct save_session {
    bool open; /* in the saving group */
    struct vuc_save w;
    uint64_t *pending;
    uint32_t *sent_crc;
    uint8_t *copybuf;
    uint8_t regs[DEV_REGS_SIZE]; /* taken when the device stops */
    bool eof;                    /* a short read in STOP_COPY showed the end */
};

struct resume_session {
    bool open; /* in RESUMING */
    struct vuc_resume r;
    uint8_t *stage; /* becomes the state on success */
    bool in_place;  /* stage is the device's state (not a copy) */
    uint32_t *block_crc;
    uint64_t *covered;
    uint8_t regs[DEV_REGS_SIZE];
    /* MIG_DATA_WRITE data to parse once the reply has gone (it lives in
     * the request, which outlives that) */
    const uint8_t *defer;
    size_t defer_len;
    /* bug write-zero-ends-stream: a 0-byte write was taken for the end */
    bool zero_ended;
};

struct mig {
    uint32_t state;
    uint32_t stale_state; /* state before the last successful SET */
    struct save_session save;
    struct resume_session resume;
    uint8_t *bounce; /* MIG_DATA_READ bytes that must be copied */
    size_t bounce_cap;
    /* bug save-replays-first-registers: what the first save sent */
    uint8_t first_regs[DEV_REGS_SIZE];
    bool first_regs_kept;
    /* A state-sized buffer kept from the last resume (the state it
     * replaced, or its unused staging copy) for the next resume to stage
     * into: its pages are resident, so no page is faulted in and zeroed
     * again. NULL until a resume has ended. */
    uint8_t *spare;
};

/* ---- DMA (dma.c) ---- */

/* A DMA_MAP'ed range of client memory. */
struct dma_map {
    uint64_t iova, size;
    uint32_t flags; /* VUC_DMA_FLAG_* */
    uint8_t *host;  /* the byte at iova, mmap'ed; NULL: no fd was given,
                     * reach it with DMA_WRITE messages */
    void *mmap_base;
    size_t mmap_len;
};

struct dma {
    /* struct dma_map by iova, never overlapping: a lookup, a map and an
     * unmap cost O(log n), whatever the order they come in */
    struct itree maps;
    uint64_t max_maps; /* negotiated max_dma_maps */
    uint16_t next_id;  /* message id of the server's last own request */
};

/* Longest DMA_LEN the engine accepts (longer: status EINVAL). */
#define DMA_ENGINE_MAX (1ull << 30)

/* Commands that arrived while the server waited for the reply to its own
 * DMA_WRITE; handled in order once the current request is done. */
#define SRV_DEFER_MAX 16

/*
 * srv_pump receives a request of up to SRV_REQ_SIZE bytes (most are) into
 * the next of SRV_REQ_BUFS buffers rather than a malloc of its own. Under
 * ASan a buffer is poisoned past the request it holds and wholly once the
 * request is done, so a read past a request, or of one already handled
 * while the next SRV_REQ_BUFS - 1 go to the other buffers, fails as it
 * would in a freed malloc block.
 */
#define SRV_REQ_BUFS 4u
#define SRV_REQ_SIZE 1024u

struct srv_deferred {
    struct vuc_msg m;
    bool oversize; /* only its header: answer EINVAL (-EMSGSIZE) */
};

/* ---- DMA logging (dirty.c) ---- */

/* Most ranges in one LOGGING_START (the kernel's PAGE_SIZE / 16). */
#define LOG_MAX_RANGES 4096u
/* Logging page sizes the device picks from (START's hint is clamped;
 * VUC_SRV_LOG_PAGE_MIN/MAX are the same bounds). */
#define LOG_MIN_SHIFT 12u
#define LOG_MAX_SHIFT 30u
_Static_assert(VUC_SRV_LOG_PAGE_MIN == 1ull << LOG_MIN_SHIFT &&
                   VUC_SRV_LOG_PAGE_MAX == 1ull << LOG_MAX_SHIFT,
               "--logging-page-size takes the sizes a hint is clamped to");
/* Most bitmap bytes all logged ranges may need together (mmap'ed lazily:
 * only pages with dirty bits cost memory). */
#define LOG_BITMAP_MAX (4ull << 30)

struct log_range {
    uint64_t iova, len; /* len a multiple of the logging page size */
    struct vuc_bitmap bm;
    size_t bytes;
    uint64_t word; /* bm.words when it is one word (up to 64 pages) */
};

struct dirty {
    bool on;        /* between a successful START and STOP */
    bool all;       /* num_ranges 0: every mapped range, maps to come too */
    bool started;   /* a START succeeded on this connection */
    unsigned shift; /* logging page size = 1 << shift */
    /* struct log_range by iova, never overlapping: a mapping logged, a
     * DMA write marked or a REPORT served costs O(log n + the ranges it
     * meets) */
    struct itree r;
    uint64_t bytes; /* bitmap bytes of all ranges */
    uint8_t *buf;   /* REPORT bitmaps, up to max_data_xfer_size */
    size_t buf_cap;
};

/* ---- the server ---- */

struct vuc_srv {
    struct vuc_srv_opts opts;
    size_t xfer_limit; /* server's own max_data_xfer_size */
    uint64_t state_size;
    uint64_t log_bitmap_max; /* opts.log_bitmap_max, or LOG_BITMAP_MAX */
    int send_timeout_ms;
    /* per connection */
    bool negotiated;
    size_t xfer; /* negotiated max_data_xfer_size */
    /* twin-socket mode: the server's end of the server -> client command
     * channel (NULL: its commands go on the main socket) */
    struct vuc_conn *twin;
    struct dma dma;
    struct dirty log;
    /* where both trees' nodes come from: srv_alloc */
    struct itree_mem tree_mem;
    struct srv_deferred defer[SRV_DEFER_MAX + 1];
    size_t ndefer;
    /* The connection broke while the server waited for a DMA reply: the
     * receive pump returns this after the current request (0: intact). */
    int conn_err;
    /* chaos.c, per connection: eligible replies seen, the framing broken
     * by a mangled reply (nothing more is sent), the garbage generator */
    uint32_t chaos_seen;
    bool chaos_mute;
    uint64_t chaos_rng;
    /* quirk short-size-ignored: nothing more is read from this client */
    bool deaf;
    /* bug reused-id-dropped: the id of the connection's last request */
    uint16_t last_id;
    bool have_last_id;
    /* quirk refuse-after-partial: a client left mid-message; the loop
     * closes the next connection at once (survives the disconnect) */
    bool refuse_next;
    /* plant abort-sequence, per connection: how much of GET_REGION_INFO,
     * SET_IRQS, RESET has been seen, in that order (0..2) */
    uint8_t plant_seq;
    /* REGION_READ's data until its reply is sent: here rather than in
     * struct srv_reply, which lives on the stack of every request */
    uint8_t read_buf[DEV_BAR0_SIZE];
    /* requests of up to SRV_REQ_SIZE bytes, received into each of these
     * SRV_REQ_BUFS in turn (srv_pump) */
    uint8_t *req_bufs;
    unsigned req_next;
    /* device (survives reconnects) */
    struct dev dev;
    struct mig mig;
};

static inline bool srv_quirk(const struct vuc_srv *s, uint64_t q)
{
    return (s->opts.quirks & q) != 0;
}

static inline bool srv_bug(const struct vuc_srv *s, uint64_t b)
{
    return (s->opts.bugs & b) != 0;
}

/* Is the SET from -> to to be decided the other way (--bug arc=)? */
static inline bool srv_arc_flipped(const struct vuc_srv *s, uint32_t from,
                                   uint32_t to)
{
    return from < VUC_SRV_ARC_STATES && to < VUC_SRV_ARC_STATES &&
           (s->opts.arcs[from] & (1u << to)) != 0;
}

void *srv_alloc(struct vuc_srv *s, size_t n);
void srv_release(struct vuc_srv *s, void *p);
/* Zeroed memory for a state image: mmap, so untouched pages cost no RSS
 * (through the allocator hooks when the caller set them). */
uint8_t *srv_big_alloc(struct vuc_srv *s, size_t n);
void srv_big_release(struct vuc_srv *s, uint8_t *p, size_t n);
/* The same without asking for huge pages: for sparse memory (dirty
 * bitmaps), where a huge page would make one set bit cost 2 MiB. */
uint8_t *srv_lazy_alloc(struct vuc_srv *s, size_t n);

/*
 * A successful reply under construction: the payload is the iov list;
 * small fixed parts live in `fixed`. Handlers return 0 after filling it,
 * or a positive errno for an error reply (then r is ignored).
 */
#define REPLY_MAX_IOV 64
struct srv_reply {
    struct iovec iov[REPLY_MAX_IOV];
    int iovcnt;
    uint8_t fixed[512];
    size_t fixed_used;
    int fds[2]; /* the server's own fds to pass with a success reply */
    size_t nfds;
    int give_fd; /* > 0: passed after fds, then closed (the twin's end) */
    bool close;  /* drop the connection after replying */
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
/* The reply to a request has gone, or failed to (the request is still
 * alive): finish its deferred work, and use the time the client spends
 * reading the reply or sending the next request. */
void mig_after_reply(struct vuc_srv *s);

/* dma.c */
/* An empty table whose tree nodes come from mem (vuc_srv.tree_mem). */
void dma_init(struct dma *d, const struct itree_mem *mem);
/* Unmap everything (disconnect, free). */
void dma_release(struct vuc_srv *s);
/* The doorbell rang op (DMA_OP_*): run the engine and set DMA_STATUS
 * (and DMA_SUM for a read). Before the REGION_WRITE reply; may exchange
 * DMA_WRITE or DMA_READ messages on c. */
void dma_engine_run(struct vuc_srv *s, struct vuc_conn *c, uint32_t op);

/* dirty.c */
/* Features 6, 7, 8 after the generic DEVICE_FEATURE checks (mig.c); f is
 * the decoded request. Returns 0 (r filled) or a positive errno. */
int dirty_feature(struct vuc_srv *s, struct vuc_msg *m,
                  const struct vuc_feature *f, struct srv_reply *r);
/* The device wrote [start, end) of client memory. */
void dirty_mark(struct vuc_srv *s, uint64_t start, uint64_t end);
/* DMA_MAP of [iova, iova + size) is about to succeed: log it too if
 * logging every mapped range. Returns 0 or ENOMEM (nothing changed). */
int dirty_mapped(struct vuc_srv *s, uint64_t iova, uint64_t size);
/* BAR0 DIRTY_SIM_PERMILLE = permille (1..1000, others ignored): that
 * share of the logging pages of every logged range becomes dirty, as if
 * the device had written them (README.md). Nothing when not logging. */
void dirty_simulate(struct vuc_srv *s, uint32_t permille);
/* DMA_UNMAP of [iova, iova + size): its logged pages are dropped. */
void dirty_unmapped(struct vuc_srv *s, uint64_t iova, uint64_t size);
/* Stop logging and free everything (disconnect, free). */
void dirty_release(struct vuc_srv *s);

/* chaos.c */
/* Send the reply rh + iov (and the nfds fds) to request req, mangled the
 * chaos mode's way when it is one of the replies chosen
 * (vuc_srv_opts.chaos_*; a mangled reply carries no fd). Returns 0 or a
 * negative errno as vuc_conn_sendv; -ECONNABORTED: the chaos mode closes
 * the connection. */
int chaos_sendv(struct vuc_srv *s, struct vuc_conn *c,
                const struct vuc_hdr *req, struct vuc_hdr *rh,
                const struct iovec *iov, int iovcnt, const int *fds,
                size_t nfds);
/* A new connection: count from the start again, framing intact. */
void chaos_reset(struct vuc_srv *s);

/* plant.c */
/* A message arrived (whatever it is, valid or not, before it is
 * handled): plants overread and abort-sequence look at it. */
void plant_msg(struct vuc_srv *s, const struct vuc_hdr *h,
               const uint8_t *payload, size_t payload_len);
/* DEVICE_GET_IRQ_INFO is being handled: plant leak. */
void plant_irq_info(struct vuc_srv *s);

/* loop.c */
/* abort() without leaving a core file in whatever folder the server was
 * started from (the deliberate crashes of quirks and plants). */
_Noreturn void srv_quiet_abort(void);

/* Receive one message (timeout_ms) and handle it. Returns 0 when one was
 * handled, -EAGAIN/-ETIMEDOUT when none came, -ECONNRESET/-EPIPE when the
 * peer closed, -ECONNABORTED when the server drops the connection. */
int srv_pump(struct vuc_srv *s, struct vuc_conn *c, int timeout_ms);

#endif /* VUCERT_SERVER_PRIV_H */
