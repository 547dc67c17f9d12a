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
 *   fixed reply size (spec: Header; design.md: error replies);
 * - the server drops the connection exactly for a first VERSION with a
 *   major other than 0 and for a Reply to anything but DMA_READ/WRITE;
 * - the migration state equals this file's own model: the kernel's
 *   next-hop table (spec/notes.md 2.6, vfio_mig_get_next_state) decides
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
 * Not modelled yet: DMA logging (features 6, 7, 8; fuzz_bitmap will
 * check REPORT's conversion).
 */
#include <errno.h>
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
#define DEF_PIECE   4096u

/* FZS_OP_DMA: the IOVAs of its two mappings and their size (= memfd's) */
#define DMA_IOVA_NOFD 0x10000000ull
#define DMA_IOVA_FD   0x20000000ull
#define DMA_MAP_SIZE  65536u
#define DMA_PATTERN   0x0706050403020100ull

enum { FAULT_NO, FAULT_ARMED, FAULT_UNKNOWN };

struct fz {
    struct vuc_srv *s;
    struct vuc_conn *cli, *srv;
    int memfd;
    uint64_t flags;
    bool fail_to_error;
    bool prefix;
    bool small_xfer;
    bool verbose; /* VUC_FUZZ_VERBOSE set: one line per message */
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
    FZ_CHECK(m->nfds == 0, "reply carries %zu fds", m->nfds);
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

static void reconnect(struct fz *f)
{
    release_rep(f);
    vuc_conn_close(f->cli);
    vuc_conn_close(f->srv);
    f->cli = f->srv = NULL;
    FZ_CHECK(vuc_mem_pair(&f->cli, &f->srv) == 0, "mem pair");
    f->negotiated = false;
    /* spec: Client Disconnection: the server unmaps everything */
    f->dma_id = 0;
    f->mapped[0] = f->mapped[1] = false;
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
        /* RESUMING -> STOP may fail on bad data (design.md) */
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

static void model_feature(struct fz *f, const uint8_t *p, size_t len,
                          int64_t err, uint32_t st)
{
    uint32_t argsz, flags, idx;

    if (len < VUC_FEATURE_HDR_SIZE)
        return;
    argsz = vuc_get_u32(p);
    flags = vuc_get_u32(p + 4);
    idx = flags & VUC_FEATURE_MASK;
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
        rc = vuc_conn_recv(f->cli, &m, 0);
        if (rc == -EAGAIN)
            break;
        FZ_CHECK(rc == 0, "recv: %d", rc);
        if (vuc_hdr_type(&m.hdr) != VUC_TYPE_REPLY) {
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
    uint32_t max = f->small_xfer ? 4096u : 65536u;
    uint8_t *b;
    size_t k = 0;

    if (piece == 0 || piece > max)
        piece = piece ? max : DEF_PIECE;
    b = malloc(8 + (size_t)max);
    FZ_CHECK(b != NULL, "malloc");
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
    free(b);
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
    uint8_t *tail = malloc((size_t)nrep * 32 + 1);
    uint64_t sent_before = f->dma_writes;
    int64_t err;

    FZ_CHECK(tail != NULL, "malloc");
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
        f->dma_run = true;
        f->dma_start = f->dma_next = iova;
        xchg_tail(f, VUC_CMD_REGION_WRITE, (uint8_t)(ctl & ~FZS_CTL_FD), w,
                  sizeof(w), (flags & 4u) != 0, tail, (size_t)nrep * 32);
        f->dma_run = false;
    }
    free(tail);
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
unmap:
    if (flags & 8u) {
        uint8_t u[24];

        vuc_put_u32(u, 24);
        vuc_put_u32(u + 4, 0);
        vuc_put_u64(u + 8, iova);
        vuc_put_u64(u + 16, DMA_MAP_SIZE);
        xchg(f, VUC_CMD_DMA_UNMAP, 0, u, sizeof(u));
        if (outcome(f) == 0)
            f->mapped[with_fd] = false;
    }
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
        release_rep(f);
        vuc_conn_close(f->cli);
        f->cli = NULL;
        FZ_CHECK(vuc_srv_serve(f->s, f->srv, 0) == 0, "peer gone");
        FZ_CHECK(!vuc_srv_negotiated(f->s), "negotiation kept");
        FZ_CHECK(vuc_srv_mig_state(f->s) == f->state, "state lost");
        vuc_conn_close(f->srv);
        f->srv = NULL;
        FZ_CHECK(vuc_mem_pair(&f->cli, &f->srv) == 0, "mem pair");
        f->negotiated = false;
        f->dma_id = 0;
        f->mapped[0] = f->mapped[1] = false;
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
        rc = vuc_conn_send_raw(f->cli, p, n,
                               (ctl & FZS_CTL_FD) ? &f->memfd : NULL,
                               (ctl & FZS_CTL_FD) ? 1 : 0, 0);
        FZ_CHECK(rc == 0, "send_raw: %d", rc);
        rc = vuc_srv_serve(f->s, f->srv, 0);
        FZ_CHECK(rc == -EAGAIN || rc == -ECONNABORTED, "serve: %d", rc);
        for (;;) {
            memset(&m, 0, sizeof(m));
            if (vuc_conn_recv(f->cli, &m, 0) != 0)
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
    struct fz_in in = {data, size};
    struct vuc_srv_opts o;
    struct fz f;
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
    o.resume_fail_to_error = (cfg & FZS_CFG_FAIL_ERROR) != 0;
    f.flags = o.mig_flags;
    f.fail_to_error = o.resume_fail_to_error;
    f.prefix = !(cfg & FZS_CFG_NO_PREFIX);
    f.small_xfer = (cfg & FZS_CFG_SMALL_XFER) != 0;
    f.verbose = getenv("VUC_FUZZ_VERBOSE") != NULL;
    f.state = ST_RUN;
    f.fault = FAULT_NO;
    FZ_CHECK(vuc_srv_new(&o, &f.s) == 0, "vuc_srv_new");
    FZ_CHECK(vuc_mem_pair(&f.cli, &f.srv) == 0, "vuc_mem_pair");
    FZ_CHECK(vuc_srv_mig_state(f.s) == ST_RUN, "power-on state");
    if (f.prefix)
        version_prefix(&f);

    if (cfg & FZS_CFG_RAW) {
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
            if (op == VUC_CMD_DMA_MAP || op == VUC_CMD_DMA_UNMAP)
                f.dma_tainted = true;
        }
    }

    release_rep(&f);
    vuc_conn_close(f.cli);
    vuc_conn_close(f.srv);
    vuc_srv_free(f.s);
    fz_fds_check(fds);
    return 0;
}
