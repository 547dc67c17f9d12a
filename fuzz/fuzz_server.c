/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_server: vucert-server's real dispatcher (vuc_srv_serve) fed a
 * session of messages through the in-memory transport, after a valid
 * VERSION unless the input says otherwise. Input format: fuzz_priv.h.
 *
 * Properties, checked after every message:
 * - a Command without No_reply (and any other non-Reply type) gets
 *   exactly one reply within the same serve call, a Reply none; every
 *   reply is well formed: type Reply, the request's id and command, no
 *   flag but Error, size = bytes, an error reply header only with a
 *   non-zero errno, a success reply errno 0 and at least the command's
 *   fixed reply size (spec: Header; docs/decisions.md, Protocol
 *   decisions: error replies);
 * - the server drops the connection exactly for a first VERSION with a
 *   major other than 0 and for a Reply to anything but DMA_READ/WRITE;
 * - the migration state equals this file's own model: the kernel's
 *   next-hop table (docs/decisions.md, Combination paths;
 *   vfio_mig_get_next_state) decides
 *   whether a SET is accepted, an accepted SET ends in the requested
 *   state, a rejected one changes nothing, fault injection (BAR0 FAULT)
 *   sends the first arc to ERROR, only RESUMING -> STOP may fail on its
 *   data, DEVICE_RESET goes to RUNNING, nothing else moves the state, and
 *   a GET reports the model's state;
 * - MIG_DATA_READ succeeds only in a saving state and returns at most
 *   what was asked; MIG_DATA_WRITE succeeds only in RESUMING;
 * - nothing but VERSION succeeds before VERSION;
 * - no memory (LeakSanitizer) or fd leaks once the server is freed.
 * In raw mode (FZS_CFG_RAW) the bytes are unframed and only reply
 * well-formedness, the state range and the leaks are checked.
 *
 * DMA: DMA_MAP gets a memfd when a record asks (FZS_CTL_FD); the
 * server's own DMA_WRITE requests are checked (numbered per connection,
 * framed, bounded by max_data_xfer_size) and, in an FZS_OP_DMA run,
 * answered by replies queued behind the doorbell, with a GET pipelined:
 * DMA_STATUS and the bytes written must be what the run implies.
 *
 * DMA logging (features 6, 7, 8; reference-server/README.md), for every
 * START, STOP and REPORT, whether a record or a macro (FZS_OP_LOG_*)
 * built it; the model knows whether logging is on, the page START chose,
 * its ranges (up to two), and per macro mapping what DMA runs wrote since
 * a REPORT last covered it, or that none of its pages is dirty:
 * - START succeeds only while not logging (EBUSY while logging), for a
 *   page size hint that is a power of two and data of exactly its ranges,
 *   which (up to two checked) are whole pages, neither wrap nor overlap;
 *   the reply is the request with the page chosen (the hint, within
 *   4 KiB .. 1 GiB); from the macro it succeeds exactly when its ranges
 *   are whole pages;
 * - STOP succeeds exactly while logging and echoes the request;
 * - REPORT succeeds only while logging, never for an invalid request (a
 *   page not a power of two of at least 4 KiB, no length, a wrap), and
 *   always for a valid one whose bitmap fits the max_data_xfer_size the
 *   VERSION prefix negotiated; the
 *   reply is {argsz, flags, iova, length, page_size} with argsz 32 plus
 *   the bitmap, and the bitmap only when the request's argsz covers it;
 *   no bit lies past the range or (ranges known) for a page nothing
 *   logged is in; every page the DMA engine wrote is dirty; the pages of
 *   a mapping nothing wrote to since START, its unmapping or a report of
 *   all of it are clear; a second identical report of whole logging
 *   pages right after the first is empty (the first cleared them);
 * - a PROBE of 6, 7 or 8 echoes the request;
 * - logging stops when the client goes away, not on DEVICE_RESET.
 * The bitmap's conversion between page sizes is fuzz_bitmap's to check.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "vucert/fsm.h"
#include "vucert/server.h"
#include "vucert/transport.h"
#include "vucert/wire.h"
#include "fuzz_priv.h"

/* BAR0 (reference-server/README.md, "BAR0 register map") */
#define R_FAULT      0x18u
#define R_STATE_ADDR 0x38u
#define R_STATE_DATA 0x40u
#define R_DIRTY      0x48u
#define BAR0_SIZE    4096u

#define R_DMA_ADDR   0x60u /* then DMA_LEN at 0x68, DMA_PATTERN at 0x70 */
#define R_DMA_BELL   0x78u
#define R_DMA_STATUS 0x7cu

#define CAPTURE_MAX (256u * 1024u)
/* a DMA_WRITE of the whole macro mapping and its headers fits */
#define RX_BUF_SIZE (64u * 1024u + 64u)
#define DEF_PIECE   4096u

/* FZS_OP_DMA: the IOVAs of its two mappings and their size (= memfd's) */
#define DMA_IOVA_NOFD 0x10000000ull
#define DMA_IOVA_FD   0x20000000ull
#define DMA_MAP_SIZE  65536u
#define DMA_PATTERN   0x0706050403020100ull

enum { FAULT_NO, FAULT_ARMED, FAULT_UNKNOWN };
enum { LOG_OFF, LOG_ON, LOG_UNKNOWN };

/* fz.log_nr when START's ranges are not known (more than fit log_r) */
#define LOG_MANY SIZE_MAX

struct fz {
    struct vuc_srv *s;
    struct vuc_conn *cli, *srv;
    int memfd;
    uint64_t flags;
    bool fail_to_error;
    bool prefix;
    bool small_xfer;
    bool verbose;    /* VUC_FUZZ_VERBOSE set: one line per message */
    unsigned budget; /* units the run may still spend (FZS_MSG_BUDGET) */
    unsigned owed;   /* units the last exchange received, not yet spent */
    jmp_buf *out_of_budget; /* where the session ends when it is spent */
    uint16_t id;
    struct vuc_msg rep; /* the reply to the last request, if any */
    bool have_rep;
    /* the model */
    uint32_t state;
    int fault;
    bool negotiated;
    /* data read since the current save session began */
    uint8_t *cap;
    size_t cap_len;
    /* the server's own DMA_WRITE requests on this connection */
    uint16_t dma_id;    /* the last one's id (README: 1, 2, 3, ...) */
    bool dma_run;       /* an FZS_OP_DMA run: check the bytes it writes */
    uint64_t dma_next;  /* the address its next DMA_WRITE must have */
    uint64_t dma_start; /* DMA_ADDR of the run */
    uint64_t dma_writes;
    bool mapped[2];   /* the macro's mappings: without, with an fd */
    bool dma_tainted; /* the input mapped or unmapped memory itself */
    /* DMA logging on this connection (README: "DMA logging") */
    int log;              /* LOG_*: between a START and a STOP */
    uint64_t log_page;    /* the logging page START chose (0: not known) */
    size_t log_nr;        /* START's num_ranges (0: every mapping) */
    uint64_t log_r[2][2]; /* its ranges, [iova, end), if log_nr <= 2 */
    /* bytes from the start of each macro mapping that DMA runs wrote
     * while they were logged, since a REPORT last covered them: a
     * REPORT must show their pages dirty */
    uint64_t dirty[2];
    /* no page of a macro mapping is dirty: a REPORT must show its pages
     * clear (only with logging pages of at most DMA_MAP_SIZE, which
     * never reach past a mapping) */
    bool clean[2];
};

/* ---- the model ---- */

#define ST_ERROR VUC_STATE_ERROR
#define ST_STOP  VUC_STATE_STOP
#define ST_RUN   VUC_STATE_RUNNING
#define ST_SC    VUC_STATE_STOP_COPY
#define ST_RES   VUC_STATE_RESUMING
#define ST_RP2P  VUC_STATE_RUNNING_P2P
#define ST_PC    VUC_STATE_PRE_COPY
#define ST_PP2P  VUC_STATE_PRE_COPY_P2P

/*
 * The kernel's vfio_from_fsm_table: the next state on the way from the
 * row to the column (ERROR: no way; besides the ERROR row and column only
 * STOP_COPY -> PRE_COPY(_P2P)). Written out here from the kernel source,
 * not taken from fsm/, so the two can disagree.
 */
static const uint8_t next_hop[8][8] = {
    [ST_ERROR] = {ST_ERROR, ST_ERROR, ST_ERROR, ST_ERROR, ST_ERROR, ST_ERROR,
                  ST_ERROR, ST_ERROR},
    [ST_STOP] = {ST_ERROR, ST_STOP, ST_RP2P, ST_SC, ST_RES, ST_RP2P, ST_RP2P,
                 ST_RP2P},
    [ST_RUN] = {ST_ERROR, ST_RP2P, ST_RUN, ST_RP2P, ST_RP2P, ST_RP2P, ST_PC,
                ST_RP2P},
    [ST_SC] = {ST_ERROR, ST_STOP, ST_STOP, ST_SC, ST_STOP, ST_STOP, ST_ERROR,
               ST_ERROR},
    [ST_RES] = {ST_ERROR, ST_STOP, ST_STOP, ST_STOP, ST_RES, ST_STOP, ST_STOP,
                ST_STOP},
    [ST_RP2P] = {ST_ERROR, ST_STOP, ST_RUN, ST_STOP, ST_STOP, ST_RP2P, ST_RUN,
                 ST_PP2P},
    [ST_PC] = {ST_ERROR, ST_RUN, ST_RUN, ST_PP2P, ST_RUN, ST_RUN, ST_PC,
               ST_PP2P},
    [ST_PP2P] = {ST_ERROR, ST_RP2P, ST_RP2P, ST_SC, ST_RP2P, ST_RP2P, ST_PC,
                 ST_PP2P},
};

/* The kernel's state_flags_table: the flags a state needs. */
static bool supported(uint64_t flags, uint32_t st)
{
    uint64_t need = VUC_MIGRATION_STOP_COPY;

    if (st == ST_ERROR)
        return false; /* ~0U in the kernel: never satisfied */
    if (st == ST_RP2P)
        need |= VUC_MIGRATION_P2P;
    else if (st == ST_PC)
        need |= VUC_MIGRATION_PRE_COPY;
    else if (st == ST_PP2P)
        need |= VUC_MIGRATION_P2P | VUC_MIGRATION_PRE_COPY;
    return (flags & need) == need;
}

/* vfio_mig_get_next_state, hop after hop: is SET cur -> target allowed? */
static bool allowed(uint64_t flags, uint32_t cur, uint32_t target)
{
    if (target >= VUC_STATE_NR || !supported(flags, cur) ||
        !supported(flags, target))
        return false;
    for (int hops = 0; cur != target; hops++) {
        uint32_t next = next_hop[cur][target];

        while (next != ST_ERROR && !supported(flags, next))
            next = next_hop[next][target];
        if (next == ST_ERROR || hops > 8)
            return false;
        cur = next;
    }
    return true;
}

static bool saving(uint32_t st)
{
    return st == ST_PC || st == ST_PP2P || st == ST_SC;
}

/* ---- messages ---- */

static void release_rep(struct fz *f)
{
    vuc_msg_release(&f->rep);
    memset(&f->rep, 0, sizeof(f->rep));
    f->have_rep = false;
}

/* A reply to request h, checked for its form. */
static void check_reply(const struct vuc_hdr *h, const struct vuc_msg *m)
{
    const struct vuc_hdr *r = &m->hdr;

    FZ_CHECK(vuc_hdr_type(r) == VUC_TYPE_REPLY, "type %u", vuc_hdr_type(r));
    FZ_CHECK((r->flags & ~(VUC_FLAG_TYPE_MASK | VUC_FLAG_ERROR)) == 0,
             "reply flags 0x%x", r->flags);
    FZ_CHECK(r->id == h->id, "reply id %u to request %u", r->id, h->id);
    FZ_CHECK(r->cmd == h->cmd, "reply command %u to %u", r->cmd, h->cmd);
    FZ_CHECK(r->size >= VUC_HDR_SIZE && r->size == m->len, "size %u len %zu",
             r->size, m->len);
    FZ_CHECK(m->payload_len == m->len - VUC_HDR_SIZE, "payload %zu",
             m->payload_len);
    /* fds only where the spec puts them: a mappable region's info
     * (BAR2's memfd) and the twin socket of a VERSION reply, one each */
    FZ_CHECK(m->nfds == 0 || (!(r->flags & VUC_FLAG_ERROR) && m->nfds == 1 &&
                              (h->cmd == VUC_CMD_DEVICE_GET_REGION_INFO ||
                               h->cmd == VUC_CMD_VERSION)),
             "%s reply carries %zu fds", vuc_cmd_name(h->cmd), m->nfds);
    if (r->flags & VUC_FLAG_ERROR) {
        FZ_CHECK(m->payload_len == 0, "error reply with %zu bytes",
                 m->payload_len);
        FZ_CHECK(r->error != 0, "error reply with errno 0 to %s",
                 vuc_cmd_name(h->cmd));
    } else {
        FZ_CHECK(r->error == 0, "success reply with errno %u", r->error);
        FZ_CHECK(vuc_msg_check(r, m->payload_len, true) == 0,
                 "%s reply of %zu bytes", vuc_cmd_name(h->cmd), m->payload_len);
    }
}

/* Only the form of a reply (raw mode: the requests are not known). */
static void check_any_reply(const struct vuc_msg *m)
{
    struct vuc_hdr h = m->hdr;

    check_reply(&h, m);
}

/* What the model knows of the log: only that it is on, off or either. */
static void log_reset(struct fz *f, int log)
{
    f->log = log;
    f->log_page = 0;
    f->log_nr = LOG_MANY;
    f->dirty[0] = f->dirty[1] = 0;
    f->clean[0] = f->clean[1] = false;
}

/* The model's side of a client going away (spec: Client Disconnection;
 * README: every mapping is unmapped, the DMA ids start again at 1, and
 * logging, which belongs to the client, stops). */
static void disconnected(struct fz *f)
{
    f->negotiated = false;
    f->dma_id = 0;
    f->mapped[0] = f->mapped[1] = false;
    log_reset(f, LOG_OFF);
}

static void reconnect(struct fz *f)
{
    release_rep(f);
    vuc_conn_close(f->cli);
    vuc_conn_close(f->srv);
    f->cli = f->srv = NULL;
    FZ_CHECK(vuc_mem_pair(&f->cli, &f->srv) == 0, "mem pair");
    disconnected(f);
}

/* -1: no reply; 0: success; else the errno of the error reply. */
static int64_t outcome(const struct fz *f)
{
    if (!f->have_rep)
        return -1;
    return (f->rep.hdr.flags & VUC_FLAG_ERROR) ? (int64_t)f->rep.hdr.error : 0;
}

/* The model's step for MIG_DEVICE_STATE SET target; st is the server's
 * state afterwards. */
static void model_set(struct fz *f, uint32_t target, int64_t err, uint32_t st)
{
    uint32_t cur = f->state;

    if (!allowed(f->flags, cur, target)) {
        FZ_CHECK(err == EINVAL || err == -1, "SET %s -> %s: errno %lld",
                 vuc_state_name(cur), vuc_state_name(target), (long long)err);
        FZ_CHECK(st == cur, "rejected SET %s -> %s left %s",
                 vuc_state_name(cur), vuc_state_name(target),
                 vuc_state_name(st));
        return;
    }
    if (target == cur) {
        FZ_CHECK(err <= 0 && st == cur, "SET to the same state %s: %lld %s",
                 vuc_state_name(cur), (long long)err, vuc_state_name(st));
        return;
    }
    if (f->fault == FAULT_ARMED ||
        (f->fault == FAULT_UNKNOWN && st == ST_ERROR && err != EINVAL)) {
        /* README: the first arc fails into ERROR with EIO */
        FZ_CHECK(st == ST_ERROR && (err == EIO || err == -1),
                 "armed fault: SET %s -> %s gave %lld, state %s",
                 vuc_state_name(cur), vuc_state_name(target), (long long)err,
                 vuc_state_name(st));
        f->fault = FAULT_NO;
        f->state = ST_ERROR;
        return;
    }
    f->fault = FAULT_NO; /* it did not fire, so it was not armed */
    if (cur == ST_RES && st != target) {
        /* RESUMING -> STOP may fail on bad data (docs/decisions.md,
         * Protocol decisions) */
        FZ_CHECK(st == (f->fail_to_error ? ST_ERROR : ST_RES) &&
                     (err == EINVAL || err == -1),
                 "failed RESUMING -> %s: errno %lld, state %s",
                 vuc_state_name(target), (long long)err, vuc_state_name(st));
        f->state = st;
        return;
    }
    FZ_CHECK(st == target && err <= 0, "SET %s -> %s: errno %lld, state %s",
             vuc_state_name(cur), vuc_state_name(target), (long long)err,
             vuc_state_name(st));
    f->state = target;
}

/* ---- DMA logging (README: "DMA logging") ---- */

static bool pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static uint64_t mapping_iova(bool with_fd)
{
    return with_fd ? DMA_IOVA_FD : DMA_IOVA_NOFD;
}

/* README: the logging page is the hint from 4 KiB to 1 GiB, else the
 * nearer of the two. */
static uint64_t log_pick(uint64_t hint)
{
    if (hint < 4096)
        return 4096;
    return hint > (1ull << 30) ? 1ull << 30 : hint;
}

/* Bytes of [a, b) inside [c, d). */
static uint64_t overlap(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    a = a > c ? a : c;
    b = b < d ? b : d;
    return a < b ? b - a : 0;
}

/* Is all of [a, a + n), written by the DMA engine into a mapping, in
 * what START logs? Only the START ranges the model knows count. */
static bool logged(const struct fz *f, uint64_t a, uint64_t n)
{
    uint64_t in = 0;

    if (f->log != LOG_ON || f->log_nr == LOG_MANY)
        return false;
    if (f->log_nr == 0)
        return true; /* num_ranges 0: every mapping */
    /* START refuses overlapping ranges, so the overlaps add up */
    for (size_t i = 0; i < f->log_nr; i++)
        in += overlap(a, a + n, f->log_r[i][0], f->log_r[i][1]);
    return in == n;
}

/* A DMA engine run wrote n bytes at the start of a macro mapping. */
static void log_dma(struct fz *f, bool with_fd, uint64_t n)
{
    if (n > f->dirty[with_fd] && logged(f, mapping_iova(with_fd), n))
        f->dirty[with_fd] = n;
}

/* LOGGING_START (flags SET | 6): p, len the request payload. */
static void log_start(struct fz *f, const uint8_t *p, size_t len, int64_t err)
{
    const uint8_t *rp = f->rep.payload;
    uint64_t hint, page;
    uint32_t nr;

    if (err == -1) {
        if (f->log != LOG_ON) /* logging already: it cannot start */
            log_reset(f, LOG_UNKNOWN);
        return;
    }
    if (err != 0) {
        /* uAPI: "Another start is not allowed in the meantime" */
        FZ_CHECK(f->log != LOG_ON || len < VUC_FEATURE_HDR_SIZE + 16 ||
                     vuc_get_u32(p) < VUC_FEATURE_HDR_SIZE + 16 || err == EBUSY,
                 "LOGGING_START while logging: errno %lld", (long long)err);
        return;
    }
    FZ_CHECK(f->log != LOG_ON, "a second LOGGING_START succeeded");
    FZ_CHECK(vuc_get_u32(p) >= VUC_FEATURE_HDR_SIZE + 16 &&
                 len >= VUC_FEATURE_HDR_SIZE + 16,
             "LOGGING_START with argsz %u, %zu bytes succeeded", vuc_get_u32(p),
             len);
    hint = vuc_get_u64(p + 8);
    page = log_pick(hint);
    nr = vuc_get_u32(p + 16);
    FZ_CHECK(pow2(hint) && len == 24 + 16ull * nr,
             "LOGGING_START of page size 0x%llx, %u ranges in %zu bytes "
             "succeeded",
             (unsigned long long)hint, nr, len);
    /* README: the reply is the request with the page size chosen */
    FZ_CHECK(f->rep.payload_len == len && memcmp(rp, p, 8) == 0 &&
                 vuc_get_u64(rp + 8) == page &&
                 memcmp(rp + 16, p + 16, len - 16) == 0,
             "LOGGING_START of page 0x%llx: a reply of %zu bytes, page 0x%llx",
             (unsigned long long)hint, f->rep.payload_len,
             f->rep.payload_len >= 16 ? (unsigned long long)vuc_get_u64(rp + 8)
                                      : 0ull);
    log_reset(f, LOG_ON);
    f->log_page = page;
    f->clean[0] = f->clean[1] = page <= DMA_MAP_SIZE; /* nothing yet */
    if (nr > 2)
        return; /* the model keeps only a few */
    for (uint32_t i = 0; i < nr; i++) {
        uint64_t a = vuc_get_u64(p + 24 + 16 * i);
        uint64_t n = vuc_get_u64(p + 32 + 16 * i);

        /* README: whole pages, no wrap, no overlap */
        FZ_CHECK(
            n && !((a | n) & (page - 1)) && a + n > a &&
                (i == 0 || !overlap(a, a + n, f->log_r[0][0], f->log_r[0][1])),
            "LOGGING_START accepted range 0x%llx+0x%llx at page 0x%llx",
            (unsigned long long)a, (unsigned long long)n,
            (unsigned long long)page);
        f->log_r[i][0] = a;
        f->log_r[i][1] = a + n;
    }
    f->log_nr = nr;
}

/* LOGGING_STOP (flags SET | 7): the spec gives it no data. */
static void log_stop(struct fz *f, const uint8_t *p, size_t len, int64_t err)
{
    /* an argsz below the 8-byte head fails before it is a STOP */
    bool stop = vuc_get_u32(p) >= VUC_FEATURE_HDR_SIZE;

    if (err == 0) {
        FZ_CHECK(f->log != LOG_OFF, "LOGGING_STOP succeeded while not logging");
        FZ_CHECK(f->rep.payload_len == len &&
                     memcmp(f->rep.payload, p, len) == 0,
                 "LOGGING_STOP reply is not the request");
        log_reset(f, LOG_OFF);
    } else if (err > 0) {
        FZ_CHECK(f->log != LOG_ON || !stop,
                 "LOGGING_STOP while logging: errno %lld", (long long)err);
        if (stop)
            log_reset(f, LOG_OFF); /* it was not logging */
    } else if (stop) {
        log_reset(f, LOG_OFF); /* it stopped, or it was not logging */
    }
}

/* The bits of word w of a bitmap that stand for pages lo to hi. */
static uint64_t word_bits(uint64_t w, uint64_t lo, uint64_t hi)
{
    uint64_t first = w * 64, last = first + 63, m = ~0ull;

    if (hi < first || lo > last)
        return 0;
    if (lo > first)
        m &= ~0ull << (lo - first);
    if (hi < last)
        m &= ~0ull >> (last - hi);
    return m;
}

/* Bits lo to hi of bitmap bm are all set (set) or all clear. */
static bool bits_are(const uint8_t *bm, uint64_t lo, uint64_t hi, bool set)
{
    for (uint64_t w = lo / 64; w <= hi / 64; w++) {
        uint64_t m = word_bits(w, lo, hi);

        if ((vuc_get_u64(bm + 8 * w) & m) != (set ? m : 0))
            return false;
    }
    return true;
}

/* The pages lo to hi of a report of [iova, end) at page pg that bytes
 * [a, b) lie in; false if none. */
static bool pages_of(uint64_t iova, uint64_t end, uint64_t pg, uint64_t a,
                     uint64_t b, uint64_t *lo, uint64_t *hi)
{
    a = a > iova ? a : iova;
    b = b < end ? b : end;
    if (a >= b)
        return false;
    *lo = (a - iova) / pg;
    *hi = (b - 1 - iova) / pg;
    return true;
}

/*
 * LOGGING_REPORT (flags GET | 8). Not the conversion (fuzz_bitmap checks
 * it), only what must hold whatever it does: served exactly while
 * logging for a valid request; the reply's size follows from the request;
 * no bit past the range or, when the model knows the ranges, for a page
 * nothing logged lies in; and every page the DMA engine wrote since it
 * was last reported is dirty.
 */
static void log_report(struct fz *f, const uint8_t *p, size_t len, int64_t err)
{
    const uint8_t *rp = f->rep.payload, *bm;
    uint32_t argsz = vuc_get_u32(p);
    uint64_t iova, length, page, end = 0, nbits, bytes;
    uint64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    uint64_t xfer = f->small_xfer ? 4096u : VUC_DEFAULT_MAX_DATA_XFER_SIZE;
    bool valid, in[2] = {false, false};

    if (len != VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE) {
        FZ_CHECK(err != 0, "LOGGING_REPORT of %zu bytes succeeded", len);
        return;
    }
    iova = vuc_get_u64(p + 8);
    length = vuc_get_u64(p + 16);
    page = vuc_get_u64(p + 24);
    /* README: the checks, but for E2BIG (the bitmap above xfer) */
    valid = argsz >= 32 && pow2(page) && page >= 4096 && length &&
            !__builtin_add_overflow(iova, length, &end);
    nbits = valid ? length / page + (length % page != 0) : 0;
    bytes = (nbits + 63) / 64 * 8;
    if (err == -1) {
        /* served or not: what it reported is clear now */
        f->dirty[0] = f->dirty[1] = 0;
        return;
    }
    if (err != 0) {
        FZ_CHECK(f->log != LOG_ON || !valid || !f->prefix || bytes > xfer,
                 "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx refused while "
                 "logging: errno %lld",
                 (unsigned long long)iova, (unsigned long long)length,
                 (unsigned long long)page, (long long)err);
        return;
    }
    /* spec: "only valid if logging ... has been previously started" */
    FZ_CHECK(f->log != LOG_OFF, "LOGGING_REPORT served while not logging");
    FZ_CHECK(valid, "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx served",
             (unsigned long long)iova, (unsigned long long)length,
             (unsigned long long)page);
    if (f->log == LOG_UNKNOWN)
        log_reset(f, LOG_ON); /* it was on, with a log unknown */
    /* README: {argsz, flags, iova, length, page_size} then the bitmap,
     * argsz = 32 + its bytes; a smaller argsz gets the 32 bytes alone */
    FZ_CHECK(
        f->rep.payload_len == (argsz >= 32 + bytes ? 32 + bytes : 32) &&
            vuc_get_u32(rp) == 32 + bytes && memcmp(rp + 4, p + 4, 28) == 0,
        "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx, argsz %u: a reply of "
        "%zu bytes, argsz %u",
        (unsigned long long)iova, (unsigned long long)length,
        (unsigned long long)page, argsz, f->rep.payload_len, vuc_get_u32(rp));
    if (argsz < 32 + bytes)
        return; /* README: and the log is left as it was */
    bm = rp + 32;

    for (size_t r = 0; f->log_nr >= 1 && f->log_nr <= 2 && r < f->log_nr; r++)
        in[r] = pages_of(iova, end, page, f->log_r[r][0], f->log_r[r][1],
                         &lo[r], &hi[r]);
    for (uint64_t w = 0; w < bytes / 8; w++) {
        uint64_t v = vuc_get_u64(bm + 8 * w), ok = word_bits(w, 0, nbits - 1);

        if (f->log_nr >= 1 && f->log_nr <= 2)
            ok = (in[0] ? word_bits(w, lo[0], hi[0]) : 0) |
                 (in[1] ? word_bits(w, lo[1], hi[1]) : 0);
        FZ_CHECK(!(v & ~ok),
                 "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx: word %llu is "
                 "0x%llx, bits outside the range or what is logged",
                 (unsigned long long)iova, (unsigned long long)length,
                 (unsigned long long)page, (unsigned long long)w,
                 (unsigned long long)v);
    }
    for (int m = 0; m < 2; m++) {
        uint64_t a = mapping_iova(m), b = a + DMA_MAP_SIZE, l, h;

        if (f->dirty[m] &&
            pages_of(iova, end, page, a, a + f->dirty[m], &l, &h)) {
            FZ_CHECK(bits_are(bm, l, h, true),
                     "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx: pages %llu "
                     "to %llu not all dirty, but DMA wrote 0x%llx bytes at "
                     "0x%llx",
                     (unsigned long long)iova, (unsigned long long)length,
                     (unsigned long long)page, (unsigned long long)l,
                     (unsigned long long)h, (unsigned long long)f->dirty[m],
                     (unsigned long long)a);
            f->dirty[m] = 0; /* reported, and cleared where wholly inside */
        }
        /* the report's pages that lie wholly in a clean mapping */
        if (f->clean[m] && pages_of(iova, end, page, a, b, &l, &h)) {
            bool first_in = iova + l * page >= a;
            bool last_in = (h + 1 == nbits ? end : iova + (h + 1) * page) <= b;

            l += !first_in;
            if (h >= l + !last_in)
                FZ_CHECK(bits_are(bm, l, h - !last_in, false),
                         "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx: a page "
                         "from %llu to %llu is dirty, but nothing wrote to "
                         "0x%llx since it was clear",
                         (unsigned long long)iova, (unsigned long long)length,
                         (unsigned long long)page, (unsigned long long)l,
                         (unsigned long long)(h - !last_in),
                         (unsigned long long)a);
        }
        /* README: the logging pages wholly inside the report are cleared;
         * pages of at most the mapping's size lie in it or outside */
        if (iova <= a && end >= b && f->log_page && f->log_page <= DMA_MAP_SIZE)
            f->clean[m] = true;
    }
}

static void model_feature(struct fz *f, const uint8_t *p, size_t len,
                          int64_t err, uint32_t st)
{
    uint32_t argsz, flags, idx;

    if (len < VUC_FEATURE_HDR_SIZE)
        return;
    argsz = vuc_get_u32(p);
    flags = vuc_get_u32(p + 4);
    idx = flags & VUC_FEATURE_MASK;
    /* the only flags that reach the logging methods (a PROBE changes
     * nothing, other flags are EINVAL) */
    if (flags == (VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START))
        log_start(f, p, len, err);
    else if (flags == (VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_STOP))
        log_stop(f, p, len, err);
    else if (flags == (VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_REPORT))
        log_report(f, p, len, err);
    /* spec: "These features can also be probed": a PROBE (with SET for
     * START and STOP, GET for REPORT, or neither) echoes the request */
    if (idx >= VUC_FEATURE_DMA_LOGGING_START &&
        idx <= VUC_FEATURE_DMA_LOGGING_REPORT && (flags & VUC_FEATURE_PROBE) &&
        argsz >= VUC_FEATURE_HDR_SIZE &&
        !(flags & ~(VUC_FEATURE_PROBE | idx |
                    (idx == VUC_FEATURE_DMA_LOGGING_REPORT ? VUC_FEATURE_GET
                                                           : VUC_FEATURE_SET))))
        FZ_CHECK(err == -1 || (err == 0 && f->rep.payload_len == len &&
                               memcmp(f->rep.payload, p, len) == 0),
                 "PROBE of feature %u (flags 0x%x): errno %lld", idx, flags,
                 (long long)err);
    if ((flags & ~VUC_FEATURE_FLAGS_KNOWN) || idx != 2 ||
        argsz < VUC_FEATURE_HDR_SIZE + 8)
        return;
    if (flags == (VUC_FEATURE_SET | 2) && len >= VUC_FEATURE_HDR_SIZE + 8)
        model_set(f, vuc_get_u32(p + 8), err, st);
    if (flags == (VUC_FEATURE_GET | 2) && err == 0) {
        FZ_CHECK(f->rep.payload_len >= 16, "GET reply of %zu bytes",
                 f->rep.payload_len);
        FZ_CHECK(vuc_get_u32(f->rep.payload + 8) == st,
                 "GET says %u, the state is %s",
                 vuc_get_u32(f->rep.payload + 8), vuc_state_name(st));
    }
}

static void capture(struct fz *f, const uint8_t *p, size_t n)
{
    /* One buffer for the whole run: a 256 KiB allocation is an mmap and
     * an munmap under ASan, on every input that reads migration data. */
    static uint8_t buf[CAPTURE_MAX];

    f->cap = buf;
    if (n > CAPTURE_MAX - f->cap_len)
        n = CAPTURE_MAX - f->cap_len;
    memcpy(f->cap + f->cap_len, p, n);
    f->cap_len += n;
}

/* After request (h, p, len) and its outcome: advance and check the model. */
static void model_step(struct fz *f, const struct vuc_hdr *h, const uint8_t *p,
                       size_t len, bool aborted)
{
    uint32_t st = vuc_srv_mig_state(f->s), from = f->state;
    int64_t err = outcome(f);
    bool was_neg = f->negotiated;

    FZ_CHECK(st < VUC_STATE_NR, "state %u", st);
    if (vuc_hdr_type(h) != VUC_TYPE_COMMAND) {
        FZ_CHECK(err == -1 || err == EINVAL, "type %u got %lld",
                 vuc_hdr_type(h), (long long)err);
        /* an unsolicited Reply closes the connection, which ends the
         * negotiation (the device state stays) */
        FZ_CHECK(st == f->state &&
                     vuc_srv_negotiated(f->s) == (aborted ? false : was_neg),
                 "type %u changed the server", vuc_hdr_type(h));
        return;
    }
    if (!was_neg && h->cmd != VUC_CMD_VERSION) {
        FZ_CHECK(err == -1 || err == EINVAL, "%s before VERSION: %lld",
                 vuc_cmd_name(h->cmd), (long long)err);
        FZ_CHECK(st == f->state && !vuc_srv_negotiated(f->s),
                 "%s before VERSION changed the server", vuc_cmd_name(h->cmd));
        return;
    }
    switch (h->cmd) {
    case VUC_CMD_VERSION:
        if (was_neg)
            FZ_CHECK(err == -1 || err == EINVAL, "second VERSION: %lld",
                     (long long)err);
        if (aborted) {
            f->negotiated = false;
        } else {
            f->negotiated = vuc_srv_negotiated(f->s);
            FZ_CHECK(err != 0 || f->negotiated, "VERSION ok, not negotiated");
            FZ_CHECK(err <= 0 || f->negotiated == was_neg,
                     "failed VERSION changed the negotiation");
        }
        break;
    case VUC_CMD_DEVICE_FEATURE:
        model_feature(f, p, len, err, st);
        break;
    case VUC_CMD_DEVICE_RESET:
        if (len == 0) {
            FZ_CHECK(err <= 0, "DEVICE_RESET failed: %lld", (long long)err);
            f->state = ST_RUN;
            f->fault = FAULT_NO;
        }
        break;
    case VUC_CMD_REGION_WRITE:
        if (len >= 16 && vuc_get_u32(p + 8) == 0) {
            uint64_t off = vuc_get_u64(p);
            uint32_t count = vuc_get_u32(p + 12);

            if (err == 0)
                FZ_CHECK(count == len - 16,
                         "REGION_WRITE of %u bytes with "
                         "%zu accepted",
                         count, len - 16);
            /* README: FAULT is byte 0x18, bit 0; an error writes nothing */
            if (off <= R_FAULT && count > R_FAULT - off && err == 0)
                f->fault =
                    (p[16 + R_FAULT - off] & 1u) ? FAULT_ARMED : FAULT_NO;
            else if (off <= R_FAULT && count > R_FAULT - off && err == -1)
                f->fault = FAULT_UNKNOWN;
        }
        break;
    case VUC_CMD_MIG_DATA_READ:
        if (err == 0) {
            const uint8_t *rp = f->rep.payload;
            size_t rl = f->rep.payload_len;

            FZ_CHECK(saving(from), "MIG_DATA_READ served in %s",
                     vuc_state_name(from));
            FZ_CHECK(len >= 8 && rl >= 8 && rl - 8 == vuc_get_u32(rp + 4) &&
                         vuc_get_u32(rp + 4) <= vuc_get_u32(p + 4),
                     "MIG_DATA_READ of %u: reply of %zu bytes, size %u",
                     len >= 8 ? vuc_get_u32(p + 4) : 0, rl,
                     rl >= 8 ? vuc_get_u32(rp + 4) : 0);
            capture(f, rp + 8, rl - 8);
        }
        break;
    case VUC_CMD_MIG_DATA_WRITE:
        FZ_CHECK(err != 0 || from == ST_RES, "MIG_DATA_WRITE accepted in %s",
                 vuc_state_name(from));
        break;
    default:
        break;
    }
    FZ_CHECK(st == f->state, "%s: the model says %s, the server is in %s",
             vuc_cmd_name(h->cmd), vuc_state_name(f->state),
             vuc_state_name(st));
    if (!saving(from) && saving(st))
        f->cap_len = 0; /* a new save session: a new stream */
}

static void version_prefix(struct fz *f);

/* What a DMA run of DMA_PATTERN writes, from its first byte on. */
static const uint8_t *pattern(void)
{
    static uint8_t p[DMA_MAP_SIZE];

    if (p[1] == 0)
        for (size_t i = 0; i < sizeof(p); i++)
            p[i] = (uint8_t)(DMA_PATTERN >> (8 * (i % 8)));
    return p;
}

/*
 * A request the server sent us: only DMA_WRITE (README: the engine never
 * reads), numbered 1, 2, 3, ... per connection, waiting for its reply, at
 * most max_data_xfer_size bytes, its count exactly the data it carries;
 * in an FZS_OP_DMA run, consecutive and carrying DMA_PATTERN.
 */
static void check_server_request(struct fz *f, const struct vuc_msg *m)
{
    const struct vuc_hdr *h = &m->hdr;
    uint32_t xfer = f->small_xfer ? 4096u : VUC_DEFAULT_MAX_DATA_XFER_SIZE;
    struct vuc_dma_rw w;

    FZ_CHECK(h->flags == VUC_TYPE_COMMAND && h->cmd == VUC_CMD_DMA_WRITE,
             "server request %s flags 0x%x", vuc_cmd_name(h->cmd), h->flags);
    FZ_CHECK(h->id == (uint16_t)(f->dma_id + 1), "DMA_WRITE #%u after #%u",
             h->id, f->dma_id);
    f->dma_id = h->id;
    FZ_CHECK(h->size == m->len && m->nfds == 0, "DMA_WRITE framing");
    FZ_CHECK(vuc_dma_rw_decode(m->payload, m->payload_len, true, &w) ==
                     (int)m->payload_len &&
                 w.count > 0,
             "DMA_WRITE of %zu bytes does not decode", m->payload_len);
    FZ_CHECK(!f->prefix || w.count <= xfer, "DMA_WRITE of %llu bytes",
             (unsigned long long)w.count);
    f->dma_writes++;
    if (!f->dma_run)
        return;
    FZ_CHECK(w.addr == f->dma_next, "DMA_WRITE at 0x%llx, expected 0x%llx",
             (unsigned long long)w.addr, (unsigned long long)f->dma_next);
    FZ_CHECK(w.addr - f->dma_start + w.data_len <= DMA_MAP_SIZE &&
                 memcmp(w.data, pattern() + (w.addr - f->dma_start),
                        w.data_len) == 0,
             "DMA_WRITE of %zu bytes at 0x%llx: not the pattern", w.data_len,
             (unsigned long long)w.addr);
    f->dma_next += w.count;
}

/*
 * Receive the next message from the server. Each is done with before the
 * next is received, but for the reply kept in f->rep: the first buffer
 * takes messages while none is kept, the second while one is, and only
 * larger messages get an allocation of their own (with one 4 KiB buffer,
 * 1.5 of the 28 allocations a run of the corpus made).
 */
static int recv_reply(struct fz *f, struct vuc_msg *m)
{
    static uint8_t rx[2][RX_BUF_SIZE];

    return vuc_conn_recv_buf(f->cli, m, rx[f->have_rep], RX_BUF_SIZE, 0);
}

/*
 * n units of the run's FZS_MSG_BUDGET (fuzz_priv.h), and what the last
 * exchange received. Called where nothing is in flight, so a spent
 * budget ends the session there as if the input had ended.
 */
static void spend(struct fz *f, unsigned n)
{
    n += f->owed;
    f->owed = 0;
    if (n > f->budget)
        longjmp(*f->out_of_budget, 1);
    f->budget -= n;
}

/* A message's units beyond the first: one per whole 4 KiB of payload. */
static unsigned data_units(size_t payload_len)
{
    return (unsigned)(payload_len / 4096u);
}

/*
 * Send one message (and, for FZS_OP_DMA, a GET pipelined behind it and
 * raw bytes after that: replies to the DMA_WRITEs to come), let the
 * server handle everything, collect the replies and check them and the
 * model. Requests the server sends meanwhile are checked, not answered.
 */
static void xchg_tail(struct fz *f, uint16_t cmd, uint8_t ctl, const uint8_t *p,
                      size_t len, bool pipe_get, const uint8_t *tail,
                      size_t tail_len)
{
    struct vuc_hdr h = {.id = ++f->id, .cmd = cmd};
    struct vuc_hdr g = {.cmd = VUC_CMD_DEVICE_FEATURE};
    uint8_t gp[8];
    bool expect_abort, aborted, want_reply;
    struct vuc_msg m;
    size_t n = 0, ng = 0;
    int rc;

    spend(f, 1 + data_units(len));
    if (ctl & FZS_CTL_REPLY)
        h.flags = VUC_TYPE_REPLY;
    else if (ctl & FZS_CTL_TYPE)
        h.flags = 1u + ((ctl & FZS_CTL_TYPE) >> 5);
    if (ctl & FZS_CTL_NO_REPLY)
        h.flags |= VUC_FLAG_NO_REPLY;
    if (ctl & FZS_CTL_ERROR)
        h.flags |= VUC_FLAG_ERROR;
    if (ctl & FZS_CTL_RESERVED) {
        /* README: reserved header bits and a command's errno are ignored */
        h.flags |= 0xffffffc0u;
        h.error = 0x5a5a5a5au;
    }
    want_reply =
        vuc_hdr_type(&h) != VUC_TYPE_REPLY && !(h.flags & VUC_FLAG_NO_REPLY);
    expect_abort = vuc_hdr_type(&h) == VUC_TYPE_COMMAND &&
                   cmd == VUC_CMD_VERSION && !f->negotiated && len >= 4 &&
                   vuc_get_u16(p) != VUC_VERSION_MAJOR;
    /* README: a Reply to a command the server never sends (anything but
     * DMA_READ/WRITE) is a protocol error and the server closes; a stray
     * DMA reply is dropped */
    if (vuc_hdr_type(&h) == VUC_TYPE_REPLY && cmd != VUC_CMD_DMA_WRITE &&
        cmd != VUC_CMD_DMA_READ)
        expect_abort = true;

    release_rep(f);
    rc =
        vuc_conn_send(f->cli, &h, p, len, (ctl & FZS_CTL_FD) ? &f->memfd : NULL,
                      (ctl & FZS_CTL_FD) ? 1 : 0, 0);
    FZ_CHECK(rc == 0, "send: %d", rc);
    if (pipe_get) {
        g.id = ++f->id;
        vuc_put_u32(gp, 16);
        vuc_put_u32(gp + 4, VUC_FEATURE_GET | 2);
        FZ_CHECK(vuc_conn_send(f->cli, &g, gp, sizeof(gp), NULL, 0, 0) == 0,
                 "send");
    }
    if (tail_len)
        FZ_CHECK(vuc_conn_send_raw(f->cli, tail, tail_len, NULL, 0, 0) == 0,
                 "send_raw");
    rc = vuc_srv_serve(f->s, f->srv, 0);
    FZ_CHECK(rc == (expect_abort ? -ECONNABORTED : -EAGAIN),
             "serve after %s returned %d", vuc_cmd_name(cmd), rc);
    aborted = rc == -ECONNABORTED;
    for (;;) {
        memset(&m, 0, sizeof(m));
        rc = recv_reply(f, &m);
        if (rc == -EAGAIN)
            break;
        FZ_CHECK(rc == 0, "recv: %d", rc);
        f->owed += data_units(m.payload_len);
        if (vuc_hdr_type(&m.hdr) != VUC_TYPE_REPLY) {
            f->owed++;
            check_server_request(f, &m);
            vuc_msg_release(&m);
            continue;
        }
        if (pipe_get && m.hdr.id == g.id) {
            /* README: commands that came while the server waited are
             * handled, in order, after the reply to the doorbell */
            check_reply(&g, &m);
            FZ_CHECK(++ng == 1 && n == (want_reply ? 1u : 0u),
                     "pipelined GET answered out of order");
            if (!f->negotiated)
                FZ_CHECK(m.hdr.error == EINVAL, "GET before VERSION: %u",
                         m.hdr.error);
            else
                FZ_CHECK(!(m.hdr.flags & VUC_FLAG_ERROR) &&
                             m.payload_len >= 16 &&
                             vuc_get_u32(m.payload + 8) == f->state,
                         "pipelined GET: %u, the state is %s",
                         m.payload_len >= 16 ? vuc_get_u32(m.payload + 8) : 99,
                         vuc_state_name(f->state));
            vuc_msg_release(&m);
            continue;
        }
        check_reply(&h, &m);
        n++;
        FZ_CHECK(n == 1 && want_reply, "%zu replies to %s (flags 0x%x)", n,
                 vuc_cmd_name(cmd), h.flags);
        f->rep = m;
        f->have_rep = true;
    }
    FZ_CHECK(n == (want_reply ? 1u : 0u), "no reply to %s (flags 0x%x)",
             vuc_cmd_name(cmd), h.flags);
    /* a connection dropped for the first message takes the GET with it */
    FZ_CHECK(ng == (pipe_get && !aborted ? 1u : 0u),
             "%zu replies to the pipelined GET", ng);
    model_step(f, &h, p, len, aborted);
    if (f->verbose)
        fprintf(stderr, "#%u %s flags=0x%x len=%zu -> %lld, state %s%s\n", h.id,
                vuc_cmd_name(cmd), h.flags, len, (long long)outcome(f),
                vuc_state_name(f->state), aborted ? ", hung up" : "");
    if (aborted) {
        /* a new client, which negotiates as the first one did */
        spend(f, 1);
        reconnect(f);
        if (f->prefix)
            version_prefix(f);
    }
}

static void xchg(struct fz *f, uint16_t cmd, uint8_t ctl, const uint8_t *p,
                 size_t len)
{
    xchg_tail(f, cmd, ctl, p, len, false, NULL, 0);
}

static void version_prefix(struct fz *f)
{
    static const char big[] =
        "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":1048576}}";
    static const char small[] =
        "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":4096}}";
    const char *json = f->small_xfer ? small : big;
    uint8_t buf[128];
    size_t n = strlen(json) + 1;

    vuc_put_u16(buf, VUC_VERSION_MAJOR);
    vuc_put_u16(buf + 2, VUC_VERSION_MINOR);
    memcpy(buf + 4, json, n);
    xchg(f, VUC_CMD_VERSION, 0, buf, 4 + n);
    FZ_CHECK(f->negotiated, "the VERSION prefix was refused");
}

/* ---- macros: well-formed messages built from a few parameter bytes ---- */

static void send_feature(struct fz *f, uint8_t ctl, uint32_t flags,
                         uint32_t state)
{
    uint8_t b[16];
    size_t n = 8;

    vuc_put_u32(b, 16);
    vuc_put_u32(b + 4, flags);
    if (flags & VUC_FEATURE_SET) {
        vuc_put_u32(b + 8, state);
        vuc_put_u32(b + 12, UINT32_MAX);
        n = 16;
    }
    xchg(f, VUC_CMD_DEVICE_FEATURE, ctl, b, n);
}

static void region_write(struct fz *f, uint8_t ctl, uint64_t off,
                         const void *data, uint32_t count)
{
    uint8_t b[16 + 24];

    vuc_put_u64(b, off);
    vuc_put_u32(b + 8, 0);
    vuc_put_u32(b + 12, count);
    memcpy(b + 16, data, count);
    xchg(f, VUC_CMD_REGION_WRITE, ctl, b, 16u + count);
}

/* Returns the bytes the server returned (0 on an error reply). */
static uint32_t mig_read(struct fz *f, uint8_t ctl, uint32_t size)
{
    uint8_t b[8];

    vuc_put_u32(b, 8 + size);
    vuc_put_u32(b + 4, size);
    xchg(f, VUC_CMD_MIG_DATA_READ, ctl, b, sizeof(b));
    if (outcome(f) != 0)
        return 0;
    return vuc_get_u32(f->rep.payload + 4);
}

/*
 * The first REPLAY_ASKED pieces are the size asked, the rest grow so that
 * the whole replay takes at most 2 * REPLAY_ASKED messages (more only
 * when max caps them): 1-byte pieces of a 16 KiB stream would be 16k
 * messages, an input a thousand times slower than the others.
 */
#define REPLAY_ASKED 32u

static void replay(struct fz *f, uint8_t ctl, uint32_t piece, uint32_t skip)
{
    /* static: the session may end in xchg (FZS_MSG_BUDGET) */
    static uint8_t b[8 + 65536];
    uint32_t max = f->small_xfer ? 4096u : 65536u;
    size_t k = 0;

    if (piece == 0 || piece > max)
        piece = piece ? max : DEF_PIECE;
    for (size_t at = skip, n; at < f->cap_len; at += n, k++) {
        size_t left = f->cap_len - at, fit = piece, msgs;

        if (k >= REPLAY_ASKED) {
            /* the messages left in the budget, this one included */
            msgs = k + 1 < 2 * REPLAY_ASKED ? 2 * REPLAY_ASKED - k : 1;
            fit = (left + msgs - 1) / msgs;
        }
        n = fit > piece ? fit : piece;
        n = n > max ? max : n;
        n = n > left ? left : n;
        vuc_put_u32(b, (uint32_t)(8 + n));
        vuc_put_u32(b + 4, (uint32_t)n);
        memcpy(b + 8, f->cap + at, n);
        xchg(f, VUC_CMD_MIG_DATA_WRITE, ctl, b, 8u + n);
    }
}

static bool device_runs(uint32_t st)
{
    return st == ST_RUN || st == ST_RP2P || st == ST_PC || st == ST_PP2P;
}

static void dma_map(struct fz *f, uint8_t ctl, bool with_fd)
{
    uint8_t b[32];

    vuc_put_u32(b, 32);
    vuc_put_u32(b + 4, VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE);
    vuc_put_u64(b + 8, 0);
    vuc_put_u64(b + 16, with_fd ? DMA_IOVA_FD : DMA_IOVA_NOFD);
    vuc_put_u64(b + 24, DMA_MAP_SIZE);
    xchg(f, VUC_CMD_DMA_MAP, (uint8_t)(ctl | (with_fd ? FZS_CTL_FD : 0)), b,
         sizeof(b));
    /* README: EEXIST when it is there already */
    if (outcome(f) == 0 || outcome(f) == EEXIST)
        f->mapped[with_fd] = true;
}

/*
 * A DMA engine run (README: "The DMA engine") into one of two mappings,
 * with replies to the server's DMA_WRITEs queued behind the doorbell:
 * u8 flags (bit 0 the mapping with an fd, bit 1 the last reply for a
 * wrong address, bit 2 a GET pipelined behind the doorbell, bit 3 unmap
 * afterwards), u8 replies, u16 length. Then DMA_STATUS must say what
 * happened: EBUSY unless the device runs, 0 with the bytes in the memfd,
 * or, without an fd, 0 exactly when every DMA_WRITE got its reply.
 */
static void dma_run(struct fz *f, uint8_t ctl, struct fz_in *a)
{
    uint8_t flags = fz_u8(a), nrep = fz_u8(a), b[24];
    bool with_fd = flags & 1u;
    uint64_t iova = with_fd ? DMA_IOVA_FD : DMA_IOVA_NOFD;
    uint32_t len = fz_u16(a), xfer = f->small_xfer ? 4096u : (1u << 20);
    uint32_t chunks, status;
    uint8_t plain = ctl & (FZS_CTL_RESERVED | FZS_CTL_ERROR);
    static uint8_t tail[256 * 32]; /* static: as replay's */
    uint64_t sent_before = f->dma_writes;
    int64_t err;

    if (len > DMA_MAP_SIZE)
        len = DMA_MAP_SIZE;
    chunks = (len + xfer - 1) / xfer;
    /* Ignored flag bits only: these must take effect. */
    dma_map(f, plain, with_fd);
    /* DMA_ADDR, DMA_LEN and DMA_PATTERN in one write (README: the engine
     * registers are plain bytes) */
    vuc_put_u64(b, iova);
    vuc_put_u64(b + 8, len);
    vuc_put_u64(b + 16, DMA_PATTERN);
    region_write(f, plain, R_DMA_ADDR, b, 24);

    /* replies for the DMA_WRITEs the server will send, in order */
    for (uint32_t k = 0; k < nrep; k++) {
        uint8_t *r = tail + 32 * (size_t)k;
        uint64_t at = iova + (uint64_t)k * xfer;

        if (k + 1 == nrep && (flags & 2u))
            at ^= 8;
        vuc_put_u16(r, (uint16_t)(f->dma_id + 1 + k));
        vuc_put_u16(r + 2, VUC_CMD_DMA_WRITE);
        vuc_put_u32(r + 4, 32);
        vuc_put_u32(r + 8, VUC_TYPE_REPLY);
        vuc_put_u32(r + 12, 0);
        vuc_put_u64(r + 16, at);
        vuc_put_u64(r + 24, k + 1 < chunks ? xfer : len - k * xfer);
    }
    vuc_put_u32(b, 1);
    {
        uint8_t w[16 + 4];

        vuc_put_u64(w, R_DMA_BELL);
        vuc_put_u32(w + 8, 0);
        vuc_put_u32(w + 12, 4);
        memcpy(w + 16, b, 4);
        /* the replies and the pipelined GET are messages too: 255 stray
         * replies behind a doorbell made one run cost 2.5 ms */
        spend(f, nrep + ((flags & 4u) ? 1u : 0u));
        f->dma_run = true;
        f->dma_start = f->dma_next = iova;
        if (len)
            f->clean[with_fd] = false; /* whatever the run's fate */
        xchg_tail(f, VUC_CMD_REGION_WRITE, (uint8_t)(ctl & ~FZS_CTL_FD), w,
                  sizeof(w), (flags & 4u) != 0, tail, (size_t)nrep * 32);
        f->dma_run = false;
    }
    err = outcome(f);

    /* DMA_STATUS */
    {
        uint8_t r[16];

        vuc_put_u64(r, R_DMA_STATUS);
        vuc_put_u32(r + 8, 0);
        vuc_put_u32(r + 12, 4);
        xchg(f, VUC_CMD_REGION_READ, 0, r, sizeof(r));
    }
    if (err != 0 || outcome(f) != 0 || !f->prefix || f->dma_tainted ||
        (ctl & (FZS_CTL_REPLY | FZS_CTL_TYPE | FZS_CTL_NO_REPLY)))
        goto unmap; /* not run as planned, or mappings the input made */
    status = vuc_get_u32(f->rep.payload + 16);
    if (f->verbose)
        fprintf(stderr, "DMA of %u bytes (%s fd, %u replies): status %u\n", len,
                with_fd ? "with" : "no", nrep, status);
    if (!device_runs(f->state)) {
        FZ_CHECK(status == EBUSY, "DMA in %s: status %u",
                 vuc_state_name(f->state), status);
    } else if (!f->mapped[with_fd]) {
        FZ_CHECK(status == EFAULT, "DMA to nothing mapped: status %u", status);
    } else if (with_fd) {
        static uint8_t got[DMA_MAP_SIZE];

        FZ_CHECK(status == 0 && f->dma_writes == sent_before,
                 "DMA to an fd mapping: status %u", status);
        FZ_CHECK(pread(f->memfd, got, len, 0) == (ssize_t)len, "pread");
        FZ_CHECK(memcmp(got, pattern(), len) == 0,
                 "DMA of %u bytes: not the pattern", len);
    } else {
        bool answered =
            len == 0 || (nrep >= chunks && !(nrep == chunks && (flags & 2u)));

        FZ_CHECK(status == (answered ? 0u : EIO),
                 "DMA of %u bytes in %u messages, %u replies: status %u", len,
                 chunks, nrep, status);
    }
    if (status == 0)
        log_dma(f, with_fd, len);
unmap:
    if (flags & 8u) {
        uint8_t u[24];

        vuc_put_u32(u, 24);
        vuc_put_u32(u + 4, 0);
        vuc_put_u64(u + 8, iova);
        vuc_put_u64(u + 16, DMA_MAP_SIZE);
        xchg(f, VUC_CMD_DMA_UNMAP, 0, u, sizeof(u));
        if (outcome(f) == 0) {
            /* README: its logging pages (of at most its size) are clear */
            f->mapped[with_fd] = false;
            f->dirty[with_fd] = 0;
            f->clean[with_fd] =
                f->log == LOG_ON && f->log_page && f->log_page <= DMA_MAP_SIZE;
        }
    }
}

/* The ctl bits that leave a request a command the server answers. */
static bool plain_command(uint8_t ctl)
{
    return !(ctl & (FZS_CTL_REPLY | FZS_CTL_TYPE | FZS_CTL_NO_REPLY));
}

/*
 * FZS_OP_LOG_START: u8 ranges (FZS_LOG_NOFD, FZS_LOG_FD: the macro
 * mappings, whole; neither: num_ranges 0), u8 page (the hint is
 * 1 << (page & 63)). From LOG_OFF it must start exactly when the ranges
 * are whole pages of the page chosen (README).
 */
static void log_start_run(struct fz *f, uint8_t ctl, struct fz_in *a)
{
    uint8_t sel = fz_u8(a), b[VUC_FEATURE_HDR_SIZE + 16 + 2 * 16];
    uint64_t hint = 1ull << (fz_u8(a) & 63);
    uint32_t nr = 0;
    int was = f->log;

    for (int m = 0; m < 2; m++) {
        if (!(sel & (m ? FZS_LOG_FD : FZS_LOG_NOFD)))
            continue;
        vuc_put_u64(b + 24 + 16 * nr, mapping_iova(m));
        vuc_put_u64(b + 32 + 16 * nr, DMA_MAP_SIZE);
        nr++;
    }
    vuc_put_u32(b, 24 + 16 * nr);
    vuc_put_u32(b + 4, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START);
    vuc_put_u64(b + 8, hint);
    vuc_put_u32(b + 16, nr);
    vuc_put_u32(b + 20, 0);
    xchg(f, VUC_CMD_DEVICE_FEATURE, ctl, b, 24 + 16 * nr);
    /* mappings the input made could be too big to log (ENOMEM) */
    if (was == LOG_OFF && plain_command(ctl) && f->prefix &&
        (nr || !f->dma_tainted))
        FZ_CHECK((outcome(f) == 0) ==
                     (nr == 0 || log_pick(hint) <= DMA_MAP_SIZE),
                 "LOGGING_START of %u ranges at 0x%llx: errno %lld", nr,
                 (unsigned long long)hint, (long long)outcome(f));
}

/*
 * FZS_OP_LOG_REPORT: u8 flags (FZS_LOG_FD: the mapping with an fd;
 * FZS_LOG_SHORT: argsz 32; FZS_LOG_TWICE: the same request again at
 * once), u8 page (1 << (page & 63)), u16 offset into the mapping, u16
 * length (0: DMA_MAP_SIZE). It must be served exactly while logging and
 * for a page of at least 4 KiB; a second report of a range that is whole
 * logging pages finds them all clear.
 */
static void log_report_run(struct fz *f, uint8_t ctl, struct fz_in *a)
{
    uint8_t fl = fz_u8(a), b[VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE];
    uint64_t page = 1ull << (fz_u8(a) & 63);
    uint64_t iova = mapping_iova(fl & FZS_LOG_FD) + fz_u16(a);
    uint64_t len = fz_u16(a), bytes;
    int was = f->log;

    len = len ? len : DMA_MAP_SIZE;
    bytes = ((len / page + (len % page != 0)) + 63) / 64 * 8;
    vuc_put_u32(b, (fl & FZS_LOG_SHORT) ? 32 : (uint32_t)(32 + bytes));
    vuc_put_u32(b + 4, VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_REPORT);
    vuc_put_u64(b + 8, iova);
    vuc_put_u64(b + 16, len);
    vuc_put_u64(b + 24, page);
    xchg(f, VUC_CMD_DEVICE_FEATURE, ctl, b, sizeof(b));
    if (!plain_command(ctl) || !f->prefix)
        return;
    if (was == LOG_OFF)
        FZ_CHECK(outcome(f) == EINVAL, "LOGGING_REPORT not logging: %lld",
                 (long long)outcome(f));
    else if (was == LOG_ON)
        FZ_CHECK((outcome(f) == 0) == (page >= 4096),
                 "LOGGING_REPORT at 0x%llx: errno %lld",
                 (unsigned long long)page, (long long)outcome(f));
    /* README: the report cleared the logging pages wholly inside it */
    if (!(fl & FZS_LOG_TWICE) || (fl & FZS_LOG_SHORT) || outcome(f) != 0 ||
        !f->log_page || iova % f->log_page || (iova + len) % f->log_page)
        return;
    xchg(f, VUC_CMD_DEVICE_FEATURE, ctl, b, sizeof(b));
    FZ_CHECK(outcome(f) == 0 && f->rep.payload_len == 32 + bytes,
             "LOGGING_REPORT again: errno %lld", (long long)outcome(f));
    for (uint64_t w = 0; w < bytes / 8; w++)
        FZ_CHECK(vuc_get_u64(f->rep.payload + 32 + 8 * w) == 0,
                 "LOGGING_REPORT of 0x%llx+0x%llx at 0x%llx again: word "
                 "%llu is 0x%llx, not cleared by the first",
                 (unsigned long long)iova, (unsigned long long)len,
                 (unsigned long long)page, (unsigned long long)w,
                 (unsigned long long)vuc_get_u64(f->rep.payload + 32 + 8 * w));
}

static void macro(struct fz *f, uint8_t op, uint8_t ctl, struct fz_in *a)
{
    uint8_t b[8] = {0};
    uint32_t v;

    switch (op) {
    case FZS_OP_SET:
        send_feature(f, ctl, VUC_FEATURE_SET | 2, fz_u8(a));
        break;
    case FZS_OP_GET:
        send_feature(f, ctl, VUC_FEATURE_GET | 2, 0);
        break;
    case FZS_OP_READ:
        v = fz_u16(a);
        mig_read(f, ctl, v ? v : DEF_PIECE);
        break;
    case FZS_OP_REPLAY:
        v = fz_u16(a);
        replay(f, ctl, v, fz_u16(a));
        break;
    case FZS_OP_FAULT:
        b[0] = fz_empty(a) ? 1 : fz_u8(a);
        region_write(f, ctl, R_FAULT, b, 1);
        break;
    case FZS_OP_RECONNECT:
        spend(f, 1);
        release_rep(f);
        vuc_conn_close(f->cli);
        f->cli = NULL;
        FZ_CHECK(vuc_srv_serve(f->s, f->srv, 0) == 0, "peer gone");
        FZ_CHECK(!vuc_srv_negotiated(f->s), "negotiation kept");
        FZ_CHECK(vuc_srv_mig_state(f->s) == f->state, "state lost");
        vuc_conn_close(f->srv);
        f->srv = NULL;
        FZ_CHECK(vuc_mem_pair(&f->cli, &f->srv) == 0, "mem pair");
        disconnected(f);
        if (f->prefix)
            version_prefix(f);
        break;
    case FZS_OP_DRAIN:
        v = fz_u16(a);
        v = v ? v : DEF_PIECE;
        for (int i = 0; i < 64 && mig_read(f, ctl, v) == v; i++)
            ;
        break;
    case FZS_OP_POKE:
        v = fz_u16(a);
        vuc_put_u64(b, ((uint64_t)v * 8u) % FZS_STATE_SIZE);
        region_write(f, ctl, R_STATE_ADDR, b, 8);
        for (size_t i = 0; i < 8; i++)
            b[i] = fz_u8(a);
        region_write(f, ctl, R_STATE_DATA, b, 8);
        break;
    case FZS_OP_DIRTY:
        vuc_put_u32(b, fz_u16(a));
        region_write(f, ctl, R_DIRTY, b, 4);
        break;
    case FZS_OP_RESET:
        xchg(f, VUC_CMD_DEVICE_RESET, ctl, NULL, 0);
        break;
    case FZS_OP_DMA:
        dma_run(f, ctl, a);
        break;
    case FZS_OP_LOG_START:
        log_start_run(f, ctl, a);
        break;
    case FZS_OP_LOG_STOP:
        vuc_put_u32(b, VUC_FEATURE_HDR_SIZE);
        vuc_put_u32(b + 4, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_STOP);
        xchg(f, VUC_CMD_DEVICE_FEATURE, ctl, b, VUC_FEATURE_HDR_SIZE);
        break;
    case FZS_OP_LOG_REPORT:
        log_report_run(f, ctl, a);
        break;
    default:
        break;
    }
}

/* ---- raw mode ---- */

static void raw(struct fz *f, struct fz_in *in)
{
    struct vuc_msg m;
    size_t n;
    const uint8_t *p;
    int rc;

    while (!fz_empty(in)) {
        uint8_t ctl;

        (void)fz_u8(in); /* op: unused here, as in the record format */
        ctl = fz_u8(in);
        p = fz_take(in, fz_u16(in), &n);
        if (n == 0)
            continue;
        if (f->budget == 0)
            return;
        f->budget--;
        rc = vuc_conn_send_raw(f->cli, p, n,
                               (ctl & FZS_CTL_FD) ? &f->memfd : NULL,
                               (ctl & FZS_CTL_FD) ? 1 : 0, 0);
        FZ_CHECK(rc == 0, "send_raw: %d", rc);
        rc = vuc_srv_serve(f->s, f->srv, 0);
        FZ_CHECK(rc == -EAGAIN || rc == -ECONNABORTED, "serve: %d", rc);
        for (;;) {
            memset(&m, 0, sizeof(m));
            if (recv_reply(f, &m) != 0)
                break;
            check_any_reply(&m);
            vuc_msg_release(&m);
        }
        FZ_CHECK(vuc_srv_mig_state(f->s) < VUC_STATE_NR, "state");
        if (rc == -ECONNABORTED)
            return; /* a stream it cannot resynchronise: it hung up */
    }
}

/* ---- the target ---- */

/* The server's allocator hooks (vuc_srv_opts.alloc): its state images
 * come from malloc rather than mmap, so ASan puts redzones around them
 * (an mmap'd image has none) and a session costs no mmap and munmap. */
static void *srv_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n ? n : 1);
}

static void srv_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static int memfd_get(void)
{
    static int fd = -1;

    /* One for the whole run; the transport dup()s it per message. */
    if (fd < 0) {
        fd = memfd_create("fuzz_server_dma", MFD_CLOEXEC);
        FZ_CHECK(fd >= 0 && ftruncate(fd, 65536) == 0, "memfd");
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* static, and out of reach of the optimiser across longjmp */
    static struct fz f;
    struct fz_in in = {data, size};
    struct vuc_srv_opts o;
    jmp_buf out_of_budget;
    uint8_t cfg;
    struct fz_fds fds;

    if (size == 0)
        return 0;
    memset(&f, 0, sizeof(f));
    f.memfd = memfd_get();
    fds = fz_fds_begin();
    cfg = fz_u8(&in);
    vuc_srv_opts_init(&o);
    o.mig_flags = vuc_fsm_flag_sets[cfg & FZS_CFG_FLAGSET];
    o.state_size = FZS_STATE_SIZE;
    /* A REPORT reads every bitmap word of what it covers: a START of a
     * TiB at 4 KiB made one input take 290 ms. 4 KiB of bitmap (128 MiB
     * at 4 KiB pages) logs both macro mappings at any page size. */
    o.log_bitmap_max = 4096;
    o.alloc.alloc = srv_malloc;
    o.alloc.release = srv_free;
    o.resume_fail_to_error = (cfg & FZS_CFG_FAIL_ERROR) != 0;
    f.flags = o.mig_flags;
    f.fail_to_error = o.resume_fail_to_error;
    f.prefix = !(cfg & FZS_CFG_NO_PREFIX);
    f.small_xfer = (cfg & FZS_CFG_SMALL_XFER) != 0;
    f.verbose = getenv("VUC_FUZZ_VERBOSE") != NULL;
    f.state = ST_RUN;
    f.fault = FAULT_NO;
    f.budget = FZS_MSG_BUDGET + (f.prefix ? 1u : 0u); /* and the prefix */
    f.out_of_budget = &out_of_budget;
    FZ_CHECK(vuc_srv_new(&o, &f.s) == 0, "vuc_srv_new");
    FZ_CHECK(vuc_mem_pair(&f.cli, &f.srv) == 0, "vuc_mem_pair");
    FZ_CHECK(vuc_srv_mig_state(f.s) == ST_RUN, "power-on state");
    if (f.prefix)
        version_prefix(&f);

    if (setjmp(out_of_budget) != 0) {
        /* the budget is spent: what is left of the input is not run */
    } else if (cfg & FZS_CFG_RAW) {
        raw(&f, &in);
    } else {
        while (!fz_empty(&in)) {
            uint8_t op = fz_u8(&in), ctl = fz_u8(&in);
            struct fz_in arg;

            arg.p = fz_take(&in, fz_u16(&in), &arg.n);
            if (op == 0 && ctl == 0 && arg.n == 0)
                continue; /* zero padding (fuzz_priv.h) */
            if (op >= FZS_OP_MACRO)
                macro(&f, op, ctl, &arg);
            else
                xchg(&f, op, ctl, arg.p, arg.n);
            if (op == VUC_CMD_DMA_MAP || op == VUC_CMD_DMA_UNMAP) {
                f.dma_tainted = true;
                f.dirty[0] = f.dirty[1] = 0; /* an unmap clears them */
            }
            /* the DMA engine's doorbell, DIRTY_SIM_PERMILLE, a mapping
             * over the macro's: the model no longer knows what is dirty */
            if (op == VUC_CMD_REGION_WRITE || op == VUC_CMD_DMA_MAP ||
                op == VUC_CMD_DMA_UNMAP)
                f.clean[0] = f.clean[1] = false;
        }
    }

    release_rep(&f);
    vuc_conn_close(f.cli);
    vuc_conn_close(f.srv);
    vuc_srv_free(f.s);
    fz_fds_check(fds);
    return 0;
}
