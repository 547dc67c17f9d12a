// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert fuzz: protocol-aware sequences against any live server over its
 * socket. Each run negotiates properly, then sends a sequence of mostly
 * well-formed messages (every command vucert knows, with fds where the
 * command takes them, migration walks, DMA and dirty logging), some of
 * them mutated, reads what comes back, and probes the server's liveness.
 *
 * Isolation: with --server-cmd every sequence meets a fresh server
 * process, ended with SIGTERM after it, so a finding replays on its own;
 * --reuse-server keeps one process and starts each sequence with
 * DEVICE_RESET on a new connection instead (faster, for servers that
 * support it). With --socket the server is the user's: reuse it is.
 *
 * Findings: the server's own testimony (a sanitizer, valgrind or
 * assertion report on its stderr, read after every sequence and at its
 * exit), its death, a hang, or a reply that breaks the framing rules.
 * They are grouped by class; the first reproducer of each class and the
 * server's whole log are kept, the run goes on until --time or --runs.
 *
 * Coverage (--coverage): a server built with AFL++'s compiler wrappers
 * counts its edges into a map vucert names by __AFL_SHM_ID; sequences
 * that reach new edges join the queue that mutation draws from.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness_priv.h"
#include "vucert/client.h"
#include "vucert/codec.h"
#include "vucert/harness.h"

#define GEN_MAX       12   /* messages in a generated sequence */
#define MUT_MAX       48   /* steps in a mutated one */
#define GEN_MSG       8192 /* bytes of a generated message */
#define REPLY_WAIT_MS 2
#define MAX_CLASSES   256
#define QUEUE_MAX     4096
#define COV_MAP_SIZE  (1u << 18) /* edges an instrumented server may have */
#define MAX_MEMFDS    16
#define MAX_TICKS     (24 * 3600) /* a day of progress points */

/* VFIO_IRQ_SET_* and VFIO_USER_F_DMA_REGION_* */
#define IRQ_DATA_NONE      1u
#define IRQ_DATA_BOOL      2u
#define IRQ_DATA_EVENTFD   4u
#define IRQ_ACTION_TRIGGER 32u
#define DMA_READ_WRITE     3u

struct fclass {
    char cls[192];
    long count, first_run;
    char repro[4096], text[2048];
    bool ignored;
};

struct fz {
    struct vuc_target t;
    int timeout_ms;
    uint64_t rng;
    bool reuse; /* one server for all sequences, DEVICE_RESET between */
    /* this sequence's finding: its class, its text and the server's log */
    char cls[192];
    char finding[2048];
    char *log;
    /* the memfds the sequence made, for its shrink steps */
    int memfd[MAX_MEMFDS];
    int nmemfd;
    /* coverage, and the queue mutation draws from */
    struct vuc_cov cov;
    bool coverage, guided;
    struct vuc_seq *queue[QUEUE_MAX];
    int nqueue;
    /* finding classes */
    struct fclass cl[MAX_CLASSES];
    int ncl;
    /* the run's progress, one point per second */
    struct tick {
        double secs;
        long runs;
        unsigned edges;
    } ticks[MAX_TICKS];
    int nticks;
    const char **ignore;
    int nignore;
};

static uint64_t rnd(struct fz *f)
{
    /* xorshift64*: reproducible from --seed */
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 0x2545f4914f6cdd1dull;
}

static uint32_t pick(struct fz *f, uint32_t n)
{
    return n ? (uint32_t)(rnd(f) % n) : 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- generation ---- */

/* A message being built: header fields, payload and fds. */
struct gm {
    uint8_t b[GEN_MSG];
    size_t plen;
    uint16_t cmd;
    struct vuc_seq_fd fd[VUC_SEQ_MAX_FDS];
    unsigned nfds;
};

static uint8_t *pl(struct gm *g)
{
    return g->b + VUC_HDR_SIZE;
}

static void feature(struct gm *g, uint32_t flags, uint32_t argsz,
                    const void *data, size_t len)
{
    g->cmd = VUC_CMD_DEVICE_FEATURE;
    vuc_put_u32(pl(g), argsz);
    vuc_put_u32(pl(g) + 4, flags);
    memcpy(pl(g) + 8, data, len);
    g->plen = 8 + len;
}

static void set_state(struct gm *g, uint32_t state)
{
    uint8_t d[VUC_MIG_STATE_DATA_SIZE] = {0};

    vuc_put_u32(d, state);
    feature(g, VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE,
            8 + VUC_MIG_STATE_DATA_SIZE, d, sizeof(d));
}

static void mig_data(struct fz *f, struct gm *g, bool write)
{
    static const uint32_t sizes[] = {
        0, 1, 8, 64, 4096, 65536, 1u << 20, (1u << 20) + 1, 4000, GEN_MSG - 64};
    uint32_t n = sizes[pick(f, 10)];

    g->cmd = write ? VUC_CMD_MIG_DATA_WRITE : VUC_CMD_MIG_DATA_READ;
    if (write && n > GEN_MSG - VUC_HDR_SIZE - 8)
        n = GEN_MSG - VUC_HDR_SIZE - 8;
    vuc_put_u32(pl(g), 8 + (write ? 0 : n));
    vuc_put_u32(pl(g) + 4, n);
    if (write)
        for (uint32_t i = 0; i < n; i++)
            pl(g)[8 + i] = pick(f, 4) ? (uint8_t)i : (uint8_t)rnd(f);
    g->plen = 8 + (write ? n : 0);
}

static void dma_map(struct fz *f, struct gm *g, uint64_t addr, uint64_t size)
{
    struct vuc_dma_map m = {.argsz = 32,
                            .flags = pick(f, 4) ? DMA_READ_WRITE : pick(f, 4),
                            .offset = pick(f, 4) ? 0 : 4096,
                            .addr = addr,
                            .size = size};

    g->cmd = VUC_CMD_DMA_MAP;
    vuc_dma_map_encode(&m, pl(g), 32);
    g->plen = 32;
    if (pick(f, 4)) { /* with memory, sometimes less than it maps */
        g->fd[0].kind = VUC_SEQ_FD_MEMFD;
        g->fd[0].size = m.offset + (pick(f, 8) ? size : size / 2);
        g->nfds = 1;
    }
}

static void log_start(struct fz *f, struct gm *g, uint64_t addr, uint64_t size)
{
    struct vuc_log_range r = {addr, size};
    struct vuc_log_control lc = {.page_size = 4096u << pick(f, 3),
                                 .num_ranges = pick(f, 6) ? 1 : 0};
    uint8_t d[VUC_LOG_CONTROL_SIZE + VUC_LOG_RANGE_SIZE];
    size_t len = VUC_LOG_CONTROL_SIZE + lc.num_ranges * VUC_LOG_RANGE_SIZE;

    vuc_log_control_encode(&lc, &r, d, sizeof(d));
    feature(g, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START,
            (uint32_t)(8 + len), d, len);
}

static void log_report(struct fz *f, struct gm *g, uint64_t addr, uint64_t size)
{
    struct vuc_log_report rep = {
        .iova = addr, .length = size, .page_size = 4096u << pick(f, 2)};
    uint8_t d[VUC_LOG_REPORT_SIZE];
    int64_t bytes = vuc_log_bitmap_bytes(size, rep.page_size);

    vuc_log_report_encode(&rep, d, sizeof(d));
    feature(g, VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_REPORT,
            (uint32_t)(8 + sizeof(d) + (bytes > 0 ? (uint64_t)bytes : 0) +
                       (pick(f, 8) ? 0 : pick(f, 16))),
            d, sizeof(d));
}

/* A well-formed (or nearly) message for cmd. */
static void template(struct fz *f, uint16_t cmd, struct gm *g)
{
    static const uint32_t features[] = {1, 2, 2, 2, 6, 7, 8, 0, 3, 0xffff};
    static const char *const json[] = {
        "{\"capabilities\":{\"max_msg_fds\":1}}", "{}", "", "{\"capa",
        "{\"capabilities\":{\"max_data_xfer_size\":4096}}"};
    uint8_t *p = pl(g);
    uint32_t n;

    memset(g->b, 0, sizeof(g->b));
    g->cmd = cmd;
    g->plen = 0;
    g->nfds = 0;
    switch (cmd) {
    case VUC_CMD_VERSION: {
        const char *j = json[pick(f, 5)];
        vuc_put_u16(p, 0);
        vuc_put_u16(p + 2, (uint16_t)pick(f, 3));
        memcpy(p + 4, j, strlen(j) + 1);
        g->plen = 4 + strlen(j) + (j[0] ? 1 : 0);
        break;
    }
    case VUC_CMD_DMA_MAP:
        dma_map(f, g, (uint64_t)pick(f, 64) << 12,
                (uint64_t)(1 + pick(f, 16)) << 12);
        break;
    case VUC_CMD_DMA_UNMAP:
        vuc_put_u32(p, 24);
        vuc_put_u32(p + 4, pick(f, 8) ? 0 : pick(f, 4));
        vuc_put_u64(p + 8, (uint64_t)pick(f, 64) << 12);
        vuc_put_u64(p + 16, (uint64_t)(1 + pick(f, 16)) << 12);
        g->plen = 24;
        break;
    case VUC_CMD_DEVICE_GET_INFO:
    case VUC_CMD_DEVICE_GET_IRQ_INFO:
    case VUC_CMD_DEVICE_GET_REGION_IO_FDS:
        vuc_put_u32(p, 16);
        vuc_put_u32(p + 8, pick(f, 10));
        g->plen = 16;
        break;
    case VUC_CMD_DEVICE_GET_REGION_INFO:
        vuc_put_u32(p, 32 + (pick(f, 4) ? 0 : 64));
        vuc_put_u32(p + 8, pick(f, 10));
        g->plen = 32;
        break;
    case VUC_CMD_DEVICE_SET_IRQS: {
        uint32_t data = pick(f, 3)
                            ? IRQ_DATA_EVENTFD
                            : (pick(f, 2) ? IRQ_DATA_NONE : IRQ_DATA_BOOL);
        uint32_t count = pick(f, 3);
        vuc_put_u32(p + 4, pick(f, 8) ? (data | IRQ_ACTION_TRIGGER)
                                      : (uint32_t)rnd(f) & 0x3f);
        vuc_put_u32(p + 8, pick(f, 4) ? 0 : pick(f, 6)); /* INTx first */
        vuc_put_u32(p + 12, pick(f, 4) ? 0 : pick(f, 3));
        vuc_put_u32(p + 16, count);
        g->plen = 20;
        if (data == IRQ_DATA_BOOL)
            for (uint32_t i = 0; i < count; i++)
                p[g->plen++] = (uint8_t)pick(f, 2);
        if (data == IRQ_DATA_EVENTFD)
            for (uint32_t i = 0; i < count + (pick(f, 8) ? 0 : 1); i++)
                g->fd[g->nfds++] = (struct vuc_seq_fd){VUC_SEQ_FD_EVENTFD, 0};
        vuc_put_u32(p, (uint32_t)g->plen);
        break;
    }
    case VUC_CMD_REGION_READ:
    case VUC_CMD_REGION_WRITE:
        n = 1u << pick(f, 4);
        vuc_put_u64(p, (uint64_t)pick(f, 0x90) & ~(uint64_t)(n - 1));
        vuc_put_u32(p + 8, pick(f, 3) ? 0 : pick(f, 10));
        vuc_put_u32(p + 12, n);
        if (cmd == VUC_CMD_REGION_READ) {
            g->plen = 16;
            break;
        }
        vuc_put_u64(p + 16, pick(f, 2) ? 1 + pick(f, 2) : rnd(f));
        g->plen = 16 + n;
        break;
    case VUC_CMD_DEVICE_RESET:
        break;
    case VUC_CMD_DMA_READ:
    case VUC_CMD_DMA_WRITE:
        n = 1u << pick(f, 6);
        vuc_put_u64(p, (uint64_t)pick(f, 64) << 12);
        vuc_put_u64(p + 8, n);
        g->plen = 16 + (cmd == VUC_CMD_DMA_WRITE ? n : 0);
        break;
    case VUC_CMD_REGION_WRITE_MULTI:
        vuc_put_u64(p, 1);
        vuc_put_u64(p + 8, pick(f, 0x90) & ~7u);
        vuc_put_u32(p + 20, 8);
        vuc_put_u64(p + 24, rnd(f));
        g->plen = 32;
        break;
    case VUC_CMD_DEVICE_FEATURE: {
        uint32_t idx = features[pick(f, 10)];
        uint32_t m = pick(f, 8);
        uint32_t flags = idx | (m & 1 ? VUC_FEATURE_GET : 0) |
                         (m & 2 ? VUC_FEATURE_SET : 0) |
                         (m == 4 ? VUC_FEATURE_PROBE : 0);
        uint8_t d[64] = {0};
        size_t len;
        if (m == 0)
            flags |= idx == 2 ? VUC_FEATURE_SET : VUC_FEATURE_GET;
        if (idx == 2) {
            set_state(g, pick(f, 10));
            vuc_put_u32(p + 4, flags);
            break;
        }
        if (idx == 6 || idx == 7) {
            log_start(f, g, (uint64_t)pick(f, 8) << 12,
                      (uint64_t)(1 + pick(f, 64)) << 12);
            vuc_put_u32(p + 4, flags);
            break;
        }
        if (idx == 8) {
            log_report(f, g, (uint64_t)pick(f, 8) << 12,
                       (uint64_t)(1 + pick(f, 64)) << 12);
            vuc_put_u32(p + 4, flags);
            break;
        }
        /* a payload of any length up to 64, argsz mostly agreeing */
        len = pick(f, 3) ? 8 : pick(f, 65);
        for (size_t i = 0; i < len; i++)
            d[i] = pick(f, 2) ? 0 : (uint8_t)rnd(f);
        feature(g, flags, (uint32_t)(pick(f, 4) ? 8 + len : 8 + pick(f, 4097)),
                d, len);
        if (pick(f, 8) == 0) /* the header alone, cut anywhere */
            g->plen = pick(f, 8);
        break;
    }
    case VUC_CMD_MIG_DATA_READ:
    case VUC_CMD_MIG_DATA_WRITE:
        mig_data(f, g, cmd == VUC_CMD_MIG_DATA_WRITE);
        break;
    default:
        break;
    }
}

/* The message g as bytes into s, mutated now and then. */
static void emit(struct fz *f, struct gm *g, struct vuc_seq *s, bool mutate)
{
    struct vuc_hdr h = {.id = (uint16_t)rnd(f),
                        .cmd = g->cmd,
                        .size = (uint32_t)(VUC_HDR_SIZE + g->plen),
                        .flags = VUC_TYPE_COMMAND};
    size_t plen = g->plen;

    switch (mutate ? pick(f, 12) : 99) {
    case 0: /* a bit flipped in the payload */
        if (plen)
            pl(g)[pick(f, (uint32_t)plen)] ^= (uint8_t)(1u << pick(f, 8));
        break;
    case 1: /* a size field that lies */
        h.size = pick(f, 2) ? pick(f, 40) : h.size + pick(f, 64);
        break;
    case 2: /* truncated */
        plen = pick(f, (uint32_t)plen + 1);
        h.size = (uint32_t)(VUC_HDR_SIZE + plen);
        break;
    case 3: /* odd flags */
        h.flags = (uint32_t)rnd(f) & 0x3f;
        break;
    case 4: /* another command number */
        h.cmd = (uint16_t)pick(f, 24);
        break;
    case 5: /* its fds dropped, or one too many */
        if (g->nfds > 0)
            g->nfds = 0;
        else
            g->fd[g->nfds++] = (struct vuc_seq_fd){VUC_SEQ_FD_EVENTFD, 0};
        break;
    default:
        break;
    }
    vuc_hdr_encode(&h, g->b, VUC_HDR_SIZE);
    (void)vuc_seq_add(s, g->b, VUC_HDR_SIZE + plen, g->fd, g->nfds);
}

static const uint16_t cmds[] = {
    VUC_CMD_DEVICE_FEATURE,
    VUC_CMD_DEVICE_FEATURE,
    VUC_CMD_DEVICE_FEATURE,
    VUC_CMD_MIG_DATA_READ,
    VUC_CMD_MIG_DATA_WRITE,
    VUC_CMD_REGION_WRITE,
    VUC_CMD_REGION_READ,
    VUC_CMD_DMA_MAP,
    VUC_CMD_DMA_UNMAP,
    VUC_CMD_DEVICE_RESET,
    VUC_CMD_DEVICE_GET_INFO,
    VUC_CMD_DEVICE_GET_REGION_INFO,
    VUC_CMD_DEVICE_SET_IRQS,
    VUC_CMD_REGION_WRITE_MULTI,
    VUC_CMD_VERSION,
    VUC_CMD_DEVICE_GET_IRQ_INFO,
    VUC_CMD_DEVICE_GET_REGION_IO_FDS,
    VUC_CMD_DMA_READ,
    VUC_CMD_DMA_WRITE, /* the server's own commands, sent to it */
};

static void gen_one(struct fz *f, struct vuc_seq *s)
{
    struct gm *g = malloc(sizeof(*g));

    if (g == NULL)
        return;
    template(f, cmds[pick(f, sizeof(cmds) / sizeof(cmds[0]))], g);
    emit(f, g, s, pick(f, 2) == 0);
    free(g);
}

/* A migration walk: states along (mostly) legal arcs, with stream reads
 * where data flows out and writes where it flows in. */
static void gen_walk(struct fz *f, struct vuc_seq *s, struct gm *g)
{
    static const uint32_t walks[][6] = {
        {VUC_STATE_STOP, VUC_STATE_STOP_COPY, VUC_STATE_STOP},
        {VUC_STATE_STOP, VUC_STATE_RESUMING, VUC_STATE_STOP},
        {VUC_STATE_PRE_COPY, VUC_STATE_STOP_COPY, VUC_STATE_STOP},
        {VUC_STATE_RUNNING_P2P, VUC_STATE_STOP, VUC_STATE_STOP_COPY},
        {VUC_STATE_PRE_COPY, VUC_STATE_PRE_COPY_P2P, VUC_STATE_STOP_COPY},
        {VUC_STATE_STOP, VUC_STATE_RUNNING, VUC_STATE_ERROR},
    };
    const uint32_t *w = walks[pick(f, 6)];

    for (int i = 0; i < 6 && (i == 0 || w[i] != 0); i++) {
        int k = (int)pick(f, 4);
        template(f, VUC_CMD_DEVICE_FEATURE, g);
        set_state(g, pick(f, 16) ? w[i] : pick(f, 9));
        emit(f, g, s, pick(f, 8) == 0);
        for (int j = 0; j < k; j++) {
            bool in = w[i] == VUC_STATE_RESUMING;
            template(f, in ? VUC_CMD_MIG_DATA_WRITE : VUC_CMD_MIG_DATA_READ, g);
            emit(f, g, s, pick(f, 6) == 0);
        }
    }
}

/* DMA: memory mapped with a memfd, dirty logging over it, the device
 * made to use it, a report, the memory shrunk under it, an unmap. */
static void gen_dma(struct fz *f, struct vuc_seq *s, struct gm *g)
{
    uint64_t addr = (uint64_t)pick(f, 16) << 12;
    uint64_t size = (uint64_t)(1 + pick(f, 16)) << 12;

    template(f, VUC_CMD_DMA_MAP, g);
    dma_map(f, g, addr, size);
    emit(f, g, s, pick(f, 8) == 0);
    if (pick(f, 2)) {
        template(f, VUC_CMD_DEVICE_FEATURE, g);
        log_start(f, g, addr, size);
        emit(f, g, s, pick(f, 8) == 0);
    }
    for (int i = (int)pick(f, 4); i > 0; i--) { /* the device's DMA block */
        template(f, VUC_CMD_REGION_WRITE, g);
        vuc_put_u64(pl(g), 0x80 + 4 * pick(f, 4));
        vuc_put_u32(pl(g) + 12, 4);
        g->plen = 20;
        vuc_put_u32(pl(g) + 16,
                    pick(f, 2) ? (uint32_t)(addr + pick(f, 256)) : pick(f, 3));
        emit(f, g, s, pick(f, 8) == 0);
    }
    if (pick(f, 4) == 0)
        (void)vuc_seq_add_shrink(s, 0, pick(f, 2) ? 0 : size / 2);
    if (pick(f, 2)) {
        template(f, VUC_CMD_DEVICE_FEATURE, g);
        log_report(f, g, addr, size);
        emit(f, g, s, pick(f, 8) == 0);
    }
    if (pick(f, 2)) {
        template(f, VUC_CMD_DMA_UNMAP, g);
        vuc_put_u64(pl(g) + 8, addr);
        vuc_put_u64(pl(g) + 16, size);
        emit(f, g, s, pick(f, 8) == 0);
    }
}

static void gen_seq(struct fz *f, struct vuc_seq *s)
{
    struct gm *g = malloc(sizeof(*g));
    uint32_t kind = pick(f, 8);

    vuc_seq_clear(s);
    if (g == NULL)
        return;
    if (kind == 0)
        gen_walk(f, s, g);
    else if (kind == 1)
        gen_dma(f, s, g);
    for (int n = kind < 2 ? (int)pick(f, 3) : 1 + (int)pick(f, GEN_MAX); n > 0;
         n--)
        gen_one(f, s);
    free(g);
}

/* ---- mutation of a sequence from the queue ---- */

static void mutate_msg(struct fz *f, struct vuc_seq_msg *m)
{
    uint8_t *b;
    size_t len = m->len;

    if (m->shrink) {
        m->fd[0].size = pick(f, 2) ? 0 : (uint64_t)pick(f, 16) << 12;
        return;
    }
    switch (pick(f, 8)) {
    case 0: /* a bit */
        if (len)
            m->b[pick(f, (uint32_t)len)] ^= (uint8_t)(1u << pick(f, 8));
        return;
    case 1: /* a byte */
        if (len)
            m->b[pick(f, (uint32_t)len)] = (uint8_t)rnd(f);
        return;
    case 2: /* the header's size */
        if (len >= VUC_HDR_SIZE)
            vuc_put_u32(m->b + 4, pick(f, 2) ? (uint32_t)len + pick(f, 9) - 4
                                             : pick(f, 64));
        return;
    case 3: /* an interesting u32 */
        if (len >= 4) {
            static const uint32_t v[] = {
                0, 1, 8, 16, 0x7fffffff, 0xffffffff, 4096, 0x80000000};
            vuc_put_u32(m->b + (pick(f, (uint32_t)len - 3) & ~3u),
                        v[pick(f, 8)]);
        }
        return;
    case 4: /* cut short */
        if (len)
            m->len = pick(f, (uint32_t)len);
        return;
    case 5: /* longer */
        b = realloc(m->b, len + 64);
        if (b == NULL)
            return;
        m->b = b;
        for (int i = 0; i < 64; i++)
            b[len + (size_t)i] = (uint8_t)rnd(f);
        m->len = (uint32_t)(len + 1 + pick(f, 64));
        return;
    case 6: /* fds */
        if (m->nfds > 0 && pick(f, 2))
            m->nfds--;
        else if (m->nfds < VUC_SEQ_MAX_FDS)
            m->fd[m->nfds++] = (struct vuc_seq_fd){
                pick(f, 2) ? VUC_SEQ_FD_MEMFD : VUC_SEQ_FD_EVENTFD,
                (uint64_t)pick(f, 17) << 12};
        return;
    default: /* the flags */
        if (len >= VUC_HDR_SIZE)
            vuc_put_u32(m->b + 8, (uint32_t)rnd(f) & 0x3f);
        return;
    }
}

/* Append o's steps from `from` on to s, up to MUT_MAX. */
static void append_steps(struct vuc_seq *s, const struct vuc_seq *o, int from)
{
    for (int i = from; i < o->n && s->n < MUT_MAX; i++) {
        const struct vuc_seq_msg *m = &o->m[i];
        if (m->shrink)
            (void)vuc_seq_add_shrink(s, m->fd[0].kind, m->fd[0].size);
        else
            (void)vuc_seq_add(s, m->b, m->len, m->fd, m->nfds);
    }
}

static void gen_seq(struct fz *f, struct vuc_seq *s);

/*
 * A sequence from the queue, changed: mostly by growing it (a state it
 * reached is where new steps start from), less often by changing,
 * dropping, repeating or swapping steps, or splicing another's tail.
 */
static void mutate_seq(struct fz *f, struct vuc_seq *s)
{
    for (int k = 1 + (int)pick(f, 3); k > 0; k--) {
        int n = s->n;
        uint32_t op = n == 0 ? 4 : pick(f, 20);

        if (op <= 3) { /* a message changed */
            mutate_msg(f, &s->m[pick(f, (uint32_t)n)]);
        } else if (op <= 8 && n < MUT_MAX) { /* one added, anywhere */
            struct vuc_seq_msg m;
            int at = (int)pick(f, (uint32_t)n + 1);
            gen_one(f, s);
            if (s->n != n + 1)
                continue;
            m = s->m[s->n - 1];
            memmove(&s->m[at + 1], &s->m[at],
                    (size_t)(s->n - 1 - at) * sizeof(m));
            s->m[at] = m;
        } else if (op <= 11) { /* a new walk, DMA scene or run at the end */
            struct vuc_seq t = {0};
            gen_seq(f, &t);
            append_steps(s, &t, 0);
            vuc_seq_free(&t);
        } else if (op <= 13 && n > 1) { /* one dropped */
            int at = (int)pick(f, (uint32_t)n);
            free(s->m[at].b);
            memmove(&s->m[at], &s->m[at + 1],
                    (size_t)(n - 1 - at) * sizeof(s->m[0]));
            s->n--;
        } else if (op <= 15) { /* one repeated */
            struct vuc_seq one = {.m = &s->m[pick(f, (uint32_t)n)], .n = 1};
            append_steps(s, &one, 0);
        } else if (op == 16 && n > 1) { /* two swapped */
            int a = (int)pick(f, (uint32_t)n), b = (int)pick(f, (uint32_t)n);
            struct vuc_seq_msg t = s->m[a];
            s->m[a] = s->m[b];
            s->m[b] = t;
        } else if (op <= 18 && f->nqueue > 0) { /* another's tail spliced */
            const struct vuc_seq *o = f->queue[pick(f, (uint32_t)f->nqueue)];
            append_steps(s, o, o->n ? (int)pick(f, (uint32_t)o->n) : 0);
        } else if (n < MUT_MAX) {
            (void)vuc_seq_add_shrink(s, pick(f, 2), pick(f, 2) ? 0 : 4096);
        }
    }
}

static void queue_add(struct fz *f, const struct vuc_seq *s)
{
    struct vuc_seq *q;

    if (f->nqueue == QUEUE_MAX || s->n == 0)
        return;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return;
    if (vuc_seq_copy(q, s) < 0) {
        vuc_seq_free(q);
        free(q);
        return;
    }
    f->queue[f->nqueue++] = q;
}

/* ---- running a sequence ---- */

static void close_memfds(struct fz *f)
{
    for (int i = 0; i < f->nmemfd; i++)
        close(f->memfd[i]);
    f->nmemfd = 0;
}

/* The fds a step carries, made now; returns how many (-1: none could be
 * made, vucert's own failure). */
static int make_fds(struct fz *f, const struct vuc_seq_msg *m, int *fds)
{
    for (unsigned i = 0; i < m->nfds; i++) {
        int fd;
        if (m->fd[i].kind == VUC_SEQ_FD_MEMFD) {
            fd = memfd_create("vucert-fuzz", MFD_CLOEXEC);
            if (fd >= 0 && ftruncate(fd, (off_t)m->fd[i].size) < 0) {
                close(fd);
                fd = -1;
            }
            if (fd >= 0 && f->nmemfd < MAX_MEMFDS)
                f->memfd[f->nmemfd++] = dup(fd);
        } else {
            fd = eventfd(0, EFD_CLOEXEC);
        }
        if (fd < 0) {
            for (unsigned k = 0; k < i; k++)
                close(fds[k]);
            return -1;
        }
        fds[i] = fd;
    }
    return (int)m->nfds;
}

static void set_finding(struct fz *f, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_finding(struct fz *f, const char *cls, const char *fmt, ...)
{
    va_list ap;

    if (f->cls[0] != '\0')
        return; /* the first thing seen stands, until testimony */
    snprintf(f->cls, sizeof(f->cls), "%s", cls);
    va_start(ap, fmt);
    vsnprintf(f->finding, sizeof(f->finding), fmt, ap);
    va_end(ap);
}

/* Read what the server sends after step i. 1: the connection is closed;
 * -1: a finding; 0: go on. */
static int collect(struct fz *f, struct vuc_client *cl, int i,
                   const struct vuc_hdr *h, bool due)
{
    for (int waits = 0;; waits++) {
        struct vuc_reply r;
        int rc;
        /* the due reply: the full timeout; after it, or after a message
         * that may have no answer, only what is there already: no timer.
         * What a malformed message makes the server do shows on the next
         * message, in the liveness probe (the server finishes this
         * connection before it serves the next) and in its testimony. */
        vuc_client_set_timeout(cl, waits == 0 && due ? f->timeout_ms : 0);
        rc = vuc_client_recv_any(cl, &r);
        if (rc == -ETIMEDOUT && due && waits == 0) {
            char cls[64];
            snprintf(cls, sizeof(cls), "hang:no-reply:%s",
                     vuc_cmd_name(h->cmd));
            set_finding(f, cls,
                        "no reply to message %d (%s #%u) within %d ms and the "
                        "connection stays open",
                        i + 1, vuc_cmd_name(h->cmd), h->id, f->timeout_ms);
            return -1;
        }
        if (rc == -ETIMEDOUT || rc == -EAGAIN)
            return 0;
        if (rc == -ECONNRESET || rc == -EPIPE)
            return 1; /* closing is an answer */
        if (rc < 0) {
            char cls[64];
            snprintf(cls, sizeof(cls), "reply:malformed:%s",
                     vuc_cmd_name(h->cmd));
            set_finding(f, cls, "malformed reply to message %d (%s): %s", i + 1,
                        vuc_cmd_name(h->cmd), vuc_client_last_error(cl));
            return -1;
        }
        if (vuc_hdr_type(&r.msg.hdr) == VUC_TYPE_COMMAND) {
            /* the server's own request (DMA): refuse it */
            struct vuc_hdr rh = {.id = r.msg.hdr.id,
                                 .cmd = r.msg.hdr.cmd,
                                 .flags = VUC_TYPE_REPLY | VUC_FLAG_ERROR,
                                 .error = EFAULT};
            vuc_conn_send(vuc_client_conn(cl), &rh, NULL, 0, NULL, 0,
                          REPLY_WAIT_MS);
        } else if (vuc_hdr_type(&r.msg.hdr) != VUC_TYPE_REPLY ||
                   (r.is_error && r.payload_len != 0)) {
            char cls[64];
            bool err = vuc_hdr_type(&r.msg.hdr) == VUC_TYPE_REPLY;
            snprintf(cls, sizeof(cls), "reply:%s:%s",
                     err ? "error-with-payload" : "wrong-type",
                     vuc_cmd_name(r.msg.hdr.cmd));
            set_finding(f, cls,
                        "malformed reply to message %d: %s #%u type %u, %zu "
                        "payload bytes%s",
                        i + 1, vuc_cmd_name(r.msg.hdr.cmd), r.msg.hdr.id,
                        vuc_hdr_type(&r.msg.hdr), r.payload_len,
                        r.is_error ? " on an error reply" : "");
            vuc_reply_release(&r);
            return -1;
        }
        vuc_reply_release(&r);
    }
}

/* Send the steps; a finding (hang, malformed reply) is set in f. */
static void send_steps(struct fz *f, struct vuc_client *cl,
                       const struct vuc_seq *s)
{
    /* Does the server read messages where vucert sent them? Not after a
     * header whose size is not its message's: the server then reads
     * past it, into the next message, or waits for bytes that never
     * come, and owes no reply to what follows. */
    bool in_step = true;

    for (int i = 0; i < s->n; i++) {
        const struct vuc_seq_msg *m = &s->m[i];
        int fds[VUC_SEQ_MAX_FDS], nfds, rc;
        struct vuc_hdr h = {0};
        bool due;

        if (m->shrink) {
            if (m->fd[0].kind < f->nmemfd)
                (void)ftruncate(f->memfd[m->fd[0].kind], (off_t)m->fd[0].size);
            continue;
        }
        /* a command framed as sent is due its reply: none is a hang */
        if (vuc_hdr_decode(m->b, m->len, &h) < 0 || h.size != m->len)
            in_step = false;
        due = in_step && vuc_hdr_type(&h) == VUC_TYPE_COMMAND &&
              !(h.flags & VUC_FLAG_NO_REPLY);
        nfds = make_fds(f, m, fds);
        if (nfds < 0) {
            set_finding(f, "vucert:fds", "vucert could not make fds: %s",
                        strerror(errno));
            return;
        }
        rc =
            vuc_conn_send_raw(vuc_client_conn(cl), m->b, m->len,
                              nfds ? fds : NULL, (unsigned)nfds, f->timeout_ms);
        for (int k = 0; k < nfds; k++)
            close(fds[k]);
        if (rc < 0)
            return; /* the server closed: what it says at its end tells */
        rc = collect(f, cl, i, &h, due);
        if (rc != 0)
            return;
    }
}

/* Connect; to a server vucert runs, give up as soon as it has exited
 * (a refused connection is retried only while it may still be starting). */
static int connect_to(struct fz *f, struct vuc_client **cl)
{
    int left = f->timeout_ms, rc;

    if (f->t.cmd == NULL)
        return vuc_client_connect(f->t.socket, f->timeout_ms, cl);
    for (;;) {
        int step = left < 20 ? left : 20;
        rc = vuc_client_connect(f->t.socket, step, cl);
        left -= step;
        if (rc == 0)
            vuc_client_set_timeout(*cl, f->timeout_ms); /* not the step */
        if (rc != -ETIMEDOUT || left <= 0)
            return rc;
        if (f->t.pid <= 0 && f->t.daemon_pid <= 0)
            return -ECONNREFUSED;
        if (f->t.pid > 0 && vuc_target_wait_exit(&f->t, 0) &&
            vuc_target_died(&f->t))
            return -ECONNREFUSED; /* it has exited: nothing will listen */
    }
}

static int liveness(struct fz *f, char *why, size_t cap)
{
    struct vuc_client *cl;
    struct vuc_reply r;
    uint8_t p[16] = {16};
    int rc = connect_to(f, &cl);

    if (rc < 0) {
        snprintf(why, cap, "cannot connect: %s", strerror(-rc));
        return rc;
    }
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              &r);
    if (rc == 0 && !r.is_error) {
        vuc_reply_release(&r);
        rc = vuc_client_call(cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL, 0,
                             &r);
    }
    if (rc < 0 || r.is_error)
        snprintf(why, cap, "no answer to VERSION / DEVICE_GET_INFO: %s",
                 rc < 0 ? vuc_client_last_error(cl) : "error reply");
    vuc_reply_release(&r);
    vuc_client_close(cl);
    return rc < 0 ? rc : 0;
}

/* The server's own words: its stderr without vucert's marker lines. */
static const char *own_words(const char *txt)
{
    while (txt != NULL && strncmp(txt, "--- vucert: ", 12) == 0) {
        const char *nl = strchr(txt, '\n');
        txt = nl ? nl + 1 : txt + strlen(txt);
    }
    return txt;
}

static bool killed_by_us(int st)
{
    return WIFSIGNALED(st) &&
           (WTERMSIG(st) == SIGTERM || WTERMSIG(st) == SIGKILL);
}

/*
 * The server's testimony for this sequence: what it wrote on stderr
 * since `from`, and how it ended (ended: it is gone, st its wait status,
 * by_us: vucert sent SIGTERM). A report outranks a death, which outranks
 * what the replies showed.
 */
static void testify(struct fz *f, long from, bool ended, bool by_us)
{
    struct vuc_testimony t;
    char *txt;

    if (f->t.cmd == NULL)
        return;
    txt = vuc_target_stderr_since(&f->t, from, 4 << 20);
    if (txt != NULL && vuc_testimony_parse(txt, &t)) {
        char text[1600];
        vuc_testimony_text(&t, text, sizeof(text));
        snprintf(f->cls, sizeof(f->cls), "%s", t.cls);
        snprintf(f->finding, sizeof(f->finding), "%s%s%s", text,
                 ended && !f->t.last_exit_clean ? "\n  (the server then " : "",
                 ended && !f->t.last_exit_clean ? f->t.last_death : "");
        if (ended && !f->t.last_exit_clean)
            strncat(f->finding, ")",
                    sizeof(f->finding) - strlen(f->finding) - 1);
    } else if (ended && !f->t.last_exit_clean &&
               !(by_us && killed_by_us(f->t.last_status))) {
        int st = f->t.last_status;
        char cls[64];
        if (WIFSIGNALED(st))
            snprintf(cls, sizeof(cls), "signal:SIG%s",
                     sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st))
                                                : "?");
        else
            snprintf(cls, sizeof(cls), "exit:%d", WEXITSTATUS(st));
        snprintf(f->cls, sizeof(f->cls), "%s", cls);
        const char *w = own_words(txt);
        size_t n = w ? strlen(w) : 0;
        snprintf(f->finding, sizeof(f->finding), "the server %s%s%s%s",
                 f->t.last_death,
                 by_us ? " (after SIGTERM at the end of the sequence)" : "",
                 n ? "; the end of its stderr:\n" : "",
                 n ? w + (n > 600 ? n - 600 : 0) : "");
    }
    if (f->cls[0] != '\0') {
        free(f->log);
        f->log = txt;
        txt = NULL;
    }
    free(txt);
}

/* A server that hung: SIGTERM and a moment to speak, then SIGKILL (a
 * hung server often ignores SIGTERM: 2 s per finding otherwise). */
static void end_hung(struct fz *f)
{
    kill(-f->t.pid, SIGTERM);
    if (vuc_target_wait_exit(&f->t, 200)) {
        (void)vuc_target_died(&f->t);
        return;
    }
    vuc_target_kill(&f->t);
    f->t.last_exit_clean = false;
    f->t.last_status = SIGKILL; /* as wait reports a SIGKILL death */
    snprintf(f->t.last_death, sizeof(f->t.last_death),
             "killed by signal %d by vucert (it hung)", SIGKILL);
}

/* A fresh server for the sequence (and a clean coverage map). */
static int fresh_start(struct fz *f)
{
    char err[512];

    if (f->t.pid > 0 || f->t.daemon_pid > 0)
        return 0;
    if (f->t.stderr_path != NULL)
        (void)truncate(f->t.stderr_path, 0); /* read and judged already */
    if (f->coverage)
        vuc_cov_reset(&f->cov);
    if (vuc_target_start(&f->t, err, sizeof(err)) < 0) {
        snprintf(f->finding, sizeof(f->finding), "starting the server: %s",
                 err);
        return -1;
    }
    return 0;
}

/*
 * Run one sequence. Returns 1 with f->cls and f->finding set when the
 * server did something wrong, 0 when not, < 0 when vucert could not run
 * it (f->finding says why).
 */
static int run_seq(struct fz *f, const struct vuc_seq *s)
{
    struct vuc_client *cl = NULL;
    bool fresh = f->t.cmd != NULL && !f->reuse;
    long from;
    char why[512];
    int rc;

    f->cls[0] = f->finding[0] = '\0';
    free(f->log);
    f->log = NULL;
    if (f->t.cmd != NULL && (fresh || f->t.pid <= 0) && f->t.daemon_pid <= 0 &&
        fresh_start(f) < 0)
        return -1;
    /* a fresh server's whole log is this sequence's */
    from = f->t.cmd && !fresh ? vuc_target_stderr_size(&f->t) : 0;
    if (f->coverage && !fresh)
        vuc_cov_reset(&f->cov);
    rc = connect_to(f, &cl);
    if (rc == 0)
        rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                                  NULL, NULL);
    if (rc < 0) {
        vuc_client_close(cl);
        if (f->t.cmd != NULL && vuc_target_wait_exit(&f->t, 100)) {
            (void)vuc_target_died(&f->t);
            testify(f, from, true, false);
            if (f->cls[0] != '\0')
                return 1;
        }
        snprintf(f->finding, sizeof(f->finding),
                 "the server could not be reached before the sequence: %s",
                 strerror(-rc));
        return -1;
    }
    if (f->reuse) { /* from the device's reset state */
        struct vuc_reply r;
        if (vuc_client_reset(cl, &r) == 0)
            vuc_reply_release(&r);
    }
    send_steps(f, cl, s);
    vuc_client_close(cl);
    close_memfds(f);
    if (f->t.exits_on_disconnect) {
        /* one client per process: its exit ends the sequence */
        if (!vuc_target_wait_exit(&f->t, f->timeout_ms)) {
            set_finding(f, "hang:no-exit",
                        "after the sequence the server did not exit, as it "
                        "does when its client leaves, within %d ms",
                        f->timeout_ms);
            vuc_target_kill(&f->t);
        }
        (void)vuc_target_died(&f->t);
        testify(f, from, f->t.pid <= 0, false);
    } else {
        rc = f->cls[0] ? 0 : liveness(f, why, sizeof(why));
        if (rc < 0 && f->t.cmd != NULL && vuc_target_wait_exit(&f->t, 200))
            (void)vuc_target_died(&f->t); /* it died: its end tells */
        else if (rc < 0)
            set_finding(f, "unresponsive",
                        "after the sequence the server is unresponsive (%s)",
                        why);
        if (f->t.cmd != NULL && f->t.pid > 0 &&
            (strncmp(f->cls, "hang:", 5) == 0 ||
             strcmp(f->cls, "unresponsive") == 0)) {
            end_hung(f); /* reused or not, it cannot go on */
            testify(f, from, true, true);
        } else if (fresh && f->t.pid > 0) {
            vuc_target_stop(&f->t); /* its exit speaks (LeakSanitizer) */
            testify(f, from, true, true);
        } else if (f->t.cmd != NULL) {
            bool gone = f->t.pid <= 0 && f->t.daemon_pid <= 0;
            if (!gone)
                gone = vuc_target_died(&f->t);
            testify(f, from, gone, false);
        }
    }
    if (f->coverage && vuc_cov_merge(&f->cov) > 0 && f->guided)
        queue_add(f, s);
    return f->cls[0] != '\0' ? 1 : 0;
}

/* ---- findings ---- */

static bool ignored(const struct fz *f, const char *cls)
{
    for (int i = 0; i < f->nignore; i++)
        if (fnmatch(f->ignore[i], cls, 0) == 0)
            return true;
    return false;
}

static int save_finding(const struct vuc_seq *s, const char *dir,
                        const char *log, char *path, size_t cap)
{
    char name[65];
    int rc = vuc_seq_name(s, name);

    if (rc < 0)
        return rc;
    snprintf(path, cap, "%s/repro-%.16s", dir, name);
    rc = vuc_seq_save(s, path);
    if (rc == 0 && log != NULL && *log) {
        char lp[4200];
        FILE *fp;
        snprintf(lp, sizeof(lp), "%s.log", path);
        fp = fopen(lp, "w");
        if (fp != NULL) {
            fputs(log, fp);
            fclose(fp);
        }
    }
    return rc;
}

static void json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", fp);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* ---- the command line ---- */

struct fz_args {
    const char *socket, *cmd, *out, *seeds;
    double time_s, timeout_s;
    long runs;
    uint64_t seed;
    bool reuse, coverage, measure;
    const char *ignore[64];
    int nignore;
};

enum { OPT_REUSE = 256, OPT_COVERAGE, OPT_IGNORE, OPT_SEEDS };

static const struct option target_opts[] = {
    {"socket", required_argument, NULL, 's'},
    {"server-cmd", required_argument, NULL, 'c'},
    {"time", required_argument, NULL, 'T'},
    {"runs", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 'S'},
    {"out", required_argument, NULL, 'o'},
    {"timeout", required_argument, NULL, 't'},
    {"reuse-server", no_argument, NULL, OPT_REUSE},
    {"coverage", optional_argument, NULL, OPT_COVERAGE},
    {"ignore", required_argument, NULL, OPT_IGNORE},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char fuzz_usage[] =
    "usage: vucert fuzz (--socket PATH | --server-cmd CMD) [options]\n"
    "  --server-cmd CMD   start the server with CMD ({socket}: its socket "
    "path);\n"
    "                     every sequence meets a fresh server process\n"
    "  --socket PATH      fuzz a server already listening (it is reused)\n"
    "  --reuse-server     one server process; DEVICE_RESET before each "
    "sequence\n"
    "  --time S | --runs N  how long to fuzz (default 60 s)\n"
    "  --seed N           the random seed (default 1)\n"
    "  --seeds DIR        start from these reproducers (certify "
    "--save-sequences)\n"
    "  --coverage[=measure]  AFL++ edge coverage from an instrumented "
    "server:\n"
    "                     keep inputs that reach new edges (measure: only "
    "count)\n"
    "  --ignore CLASS     mute a finding class (a glob), repeatable\n"
    "  --out DIR          reproducers, logs and summary.json (default "
    "fuzz-findings)\n"
    "  --timeout S        a reply is due within S seconds (default 2)\n";

static const char replay_usage[] =
    "usage: vucert replay FILE (--socket PATH | --server-cmd CMD) "
    "[--timeout S] [--reuse-server]\n";

/* 0: parsed; 1: --help; < 0: usage error (said). */
static int parse(int argc, char **argv, struct fz_args *a, bool fuzzing)
{
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", target_opts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 's':
            a->socket = optarg;
            break;
        case 'c':
            a->cmd = optarg;
            break;
        case 'T':
            a->time_s = strtod(optarg, &end);
            break;
        case 'n':
            a->runs = strtol(optarg, &end, 10);
            break;
        case 'S':
            a->seed = strtoull(optarg, &end, 0);
            break;
        case 'o':
            a->out = optarg;
            break;
        case 't':
            a->timeout_s = strtod(optarg, &end);
            break;
        case OPT_REUSE:
            a->reuse = true;
            break;
        case OPT_COVERAGE:
            a->coverage = true;
            if (optarg != NULL && strcmp(optarg, "measure") == 0) {
                a->measure = true;
            } else if (optarg != NULL && strcmp(optarg, "guide") != 0) {
                fprintf(stderr,
                        "vucert: --coverage=%s: want guide or "
                        "measure\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case OPT_IGNORE:
            if (a->nignore == 64) {
                fprintf(stderr, "vucert: at most 64 --ignore\n");
                return -EINVAL;
            }
            a->ignore[a->nignore++] = optarg;
            break;
        case OPT_SEEDS:
            a->seeds = optarg;
            break;
        case 'h':
            return 1;
        default:
            return -EINVAL;
        }
        if (end != NULL && *end != '\0') {
            fprintf(stderr, "vucert: bad number '%s'\n", optarg);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vucert: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if ((a->socket == NULL) == (a->cmd == NULL)) {
        fprintf(stderr, "vucert: give --socket or --server-cmd\n");
        return -EINVAL;
    }
    if (a->coverage && a->cmd == NULL) {
        fprintf(stderr, "vucert: --coverage needs --server-cmd (vucert "
                        "names the map to the servers it starts)\n");
        return -EINVAL;
    }
    if (fuzzing && (a->time_s < 0 || a->runs < 0)) {
        fprintf(stderr, "vucert: --time and --runs cannot be negative\n");
        return -EINVAL;
    }
    if (!(a->timeout_s > 0) || a->timeout_s > 3600)
        a->timeout_s = 2;
    return 0;
}

/* Does the server end when its client leaves (one client per process)?
 * A first client comes and goes; an exit with status 0 within 100 ms
 * says so. */
static int learn_disconnect(struct fz *f)
{
    struct vuc_client *cl;
    char err[512];
    int rc = vuc_client_connect(f->t.socket, f->timeout_ms, &cl);

    if (rc < 0) {
        fprintf(stderr, "vucert: connecting to the server: %s\n",
                strerror(-rc));
        return -1;
    }
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              NULL);
    vuc_client_close(cl);
    if (rc < 0 || !vuc_target_wait_exit(&f->t, 100))
        return 0; /* the sequences will say what is wrong */
    (void)vuc_target_died(&f->t);
    if (f->t.pid > 0 || f->t.daemon_pid > 0)
        return 0;
    if (!f->t.last_exit_clean) {
        fprintf(stderr, "vucert: the server %s after its first client left\n",
                f->t.last_death);
        return -1;
    }
    f->t.exits_on_disconnect = true;
    if (f->reuse && vuc_target_start(&f->t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: restarting the server: %s\n", err);
        return -1;
    }
    return 0;
}

static int start(struct fz *f, const struct fz_args *a)
{
    char err[512];

    f->t.socket = a->socket;
    f->t.server_cmd = a->cmd;
    f->timeout_ms = (int)(a->timeout_s * 1000);
    f->t.timeout_ms = f->timeout_ms;
    f->reuse = a->reuse || a->cmd == NULL;
    if (a->coverage) {
        if (vuc_cov_open(&f->cov, COV_MAP_SIZE, err, sizeof(err)) < 0) {
            fprintf(stderr, "vucert: the coverage map: %s\n", err);
            return -1;
        }
        f->coverage = true;
        f->guided = !a->measure;
    }
    if (a->cmd == NULL)
        return 0;
    if (vuc_target_start(&f->t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: starting the server: %s\n", err);
        return -1;
    }
    if (learn_disconnect(f) < 0)
        return -1;
    if (!f->reuse)
        vuc_target_stop(&f->t); /* each sequence starts its own */
    return 0;
}

static void stop(struct fz *f)
{
    vuc_target_cleanup(&f->t);
    free(f->log);
    close_memfds(f);
    if (f->coverage)
        vuc_cov_close(&f->cov);
    for (int i = 0; i < f->nqueue; i++) {
        vuc_seq_free(f->queue[i]);
        free(f->queue[i]);
    }
}

/* Seeds: every reproducer in dir joins the queue. */
static int load_seeds(struct fz *f, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct vuc_seq s = {0};
    int bad = 0;

    if (d == NULL) {
        fprintf(stderr, "vucert: --seeds %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096], err[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (vuc_seq_load(path, &s, err, sizeof(err)) < 0)
            bad++;
        else
            queue_add(f, &s);
    }
    closedir(d);
    vuc_seq_free(&s);
    if (f->nqueue == 0) {
        fprintf(stderr, "vucert: --seeds %s: no reproducer in it\n", dir);
        return -1;
    }
    printf("vucert fuzz: %d seeds from %s%s\n", f->nqueue, dir,
           bad ? " (other files skipped: not reproducers)" : "");
    return 0;
}

static struct fclass *class_of(struct fz *f, const char *cls)
{
    for (int i = 0; i < f->ncl; i++)
        if (strcmp(f->cl[i].cls, cls) == 0)
            return &f->cl[i];
    if (f->ncl == MAX_CLASSES)
        return NULL;
    snprintf(f->cl[f->ncl].cls, sizeof(f->cl[0].cls), "%s", cls);
    return &f->cl[f->ncl++];
}

/* A finding of this run: counted in its class; the first of a class is
 * saved and told. */
/* Count this run's finding in its class; the class when the run is the
 * first of it, else NULL. */
static struct fclass *first_of_class(struct fz *f, long run)
{
    struct fclass *c = class_of(f, f->cls);

    if (c == NULL || c->count++ > 0)
        return NULL;
    c->first_run = run;
    c->ignored = ignored(f, f->cls);
    snprintf(c->text, sizeof(c->text), "%s", f->finding);
    return c;
}

static void found(struct fz *f, const struct fz_args *a,
                  const struct vuc_seq *s, long run)
{
    struct fclass *c = first_of_class(f, run);

    if (c == NULL || c->ignored)
        return;
    if (save_finding(s, a->out, f->log, c->repro, sizeof(c->repro)) < 0)
        snprintf(c->repro, sizeof(c->repro), "(could not save)");
    printf("vucert fuzz: FINDING %s (run %ld)\n  %s\n  reproducer: %s\n"
           "%s%s%s  replay it:  vucert replay %s %s '%s'\n",
           f->cls, run, f->finding, c->repro, f->log ? "  its log:    " : "",
           f->log ? c->repro : "", f->log ? ".log\n" : "", c->repro,
           a->cmd ? "--server-cmd" : "--socket", a->cmd ? a->cmd : a->socket);
    fflush(stdout);
}

/* Is the class one of a report on the server's stderr? */
static bool is_report(const char *cls)
{
    static const char *const kinds[] = {
        "asan:",     "lsan:",   "ubsan:", "msan:",  "tsan:",
        "valgrind:", "assert:", "libc:",  "report:"};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strncmp(cls, kinds[i], strlen(kinds[i])) == 0)
            return true;
    return false;
}

/* A reused server's testimony at its exit, after the last run: what it
 * says then (a leak) belongs to no one sequence, so it has no
 * reproducer; the fresh-server mode attributes it. */
static void exit_findings(struct fz *f, const struct fz_args *a, long runs)
{
    long from = vuc_target_stderr_size(&f->t);
    struct fclass *c;

    f->cls[0] = f->finding[0] = '\0';
    vuc_target_stop(&f->t);
    testify(f, from, true, true);
    if (f->cls[0] == '\0')
        return;
    if (strncmp(f->cls, "exit:", 5) == 0) {
        /* an exit status alone, after reports the run has found: valgrind's
         * --error-exitcode (or the like) for them, not a defect of its own */
        for (int i = 0; i < f->ncl; i++)
            if (is_report(f->cl[i].cls)) {
                printf("vucert fuzz: after the last run the server %s (the "
                       "reports above)\n",
                       f->t.last_death);
                return;
            }
    }
    if ((c = first_of_class(f, runs)) == NULL)
        return;
    snprintf(c->repro, sizeof(c->repro),
             "(none: at the server's exit "
             "after all runs)");
    if (!c->ignored)
        printf("vucert fuzz: FINDING %s (at the server's exit after run "
               "%ld; no one sequence is its cause: fuzz without "
               "--reuse-server to find which)\n  %s\n",
               f->cls, runs, f->finding);
    (void)a;
}

static int write_summary(const struct fz *f, const struct fz_args *a, long runs,
                         double secs)
{
    char path[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/summary.json", a->out);
    fp = fopen(path, "w");
    if (fp == NULL)
        return -errno;
    fprintf(fp, "{\n  \"runs\": %ld,\n  \"seconds\": %.3f,\n", runs, secs);
    fprintf(fp, "  \"runs_per_second\": %.1f,\n",
            secs > 0 ? (double)runs / secs : 0.0);
    fprintf(fp, "  \"seed\": %llu,\n  \"mode\": \"%s\",\n",
            (unsigned long long)a->seed,
            a->cmd == NULL ? "socket"
            : a->reuse     ? "reuse-server"
                           : "fresh");
    fputs("  \"target\": ", fp);
    json_str(fp, a->cmd ? a->cmd : a->socket);
    if (f->coverage)
        fprintf(fp,
                ",\n  \"coverage\": \"%s\",\n  \"edges\": %u,\n  "
                "\"queue\": %d",
                f->guided ? "guide" : "measure", f->cov.edges, f->nqueue);
    /* edges (and runs) over time: one point per second of the run */
    fputs(",\n  \"progress\": [", fp);
    for (int i = 0; i < f->nticks; i++) {
        fprintf(fp, "%s{\"seconds\": %.1f, \"runs\": %ld", i ? ", " : "",
                f->ticks[i].secs, f->ticks[i].runs);
        if (f->coverage)
            fprintf(fp, ", \"edges\": %u", f->ticks[i].edges);
        fputc('}', fp);
    }
    fputs("]", fp);
    fputs(",\n  \"classes\": [", fp);
    for (int i = 0; i < f->ncl; i++) {
        const struct fclass *c = &f->cl[i];
        fprintf(fp, "%s\n    {\"class\": ", i ? "," : "");
        json_str(fp, c->cls);
        fprintf(fp, ", \"count\": %ld, \"first_run\": %ld, \"ignored\": %s",
                c->count, c->first_run, c->ignored ? "true" : "false");
        if (!c->ignored) {
            fputs(", \"reproducer\": ", fp);
            json_str(fp, c->repro);
        }
        fputs(", \"text\": ", fp);
        json_str(fp, c->text);
        fputc('}', fp);
    }
    fputs(f->ncl ? "\n  ]\n}\n" : "]\n}\n", fp);
    return fclose(fp) == 0 ? 0 : -EIO;
}

int vuc_fuzz_main(int argc, char **argv)
{
    struct fz_args a = {.out = "fuzz-findings", .seed = 1};
    struct fz *f = calloc(1, sizeof(*f));
    struct vuc_seq s = {0};
    double t0, last;
    long runs = 0;
    int exit_code = 0, nreal = 0, rc;

    if (f == NULL)
        return 2;
    rc = parse(argc, argv, &a, true);
    if (rc != 0) {
        fputs(fuzz_usage, rc > 0 ? stdout : stderr);
        free(f);
        return rc > 0 ? 0 : 2;
    }
    if (a.time_s == 0 && a.runs == 0)
        a.time_s = 60;
    f->rng = a.seed ? a.seed : 1;
    f->ignore = a.ignore;
    f->nignore = a.nignore;
    if (mkdir(a.out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "vucert: --out %s: %s\n", a.out, strerror(errno));
        free(f);
        return 2;
    }
    if ((a.seeds != NULL && load_seeds(f, a.seeds) < 0) || start(f, &a) < 0) {
        stop(f);
        free(f);
        return 2;
    }
    t0 = last = now_s();
    for (;;) {
        if ((a.runs > 0 && runs >= a.runs) ||
            (a.time_s > 0 && now_s() - t0 >= a.time_s))
            break;
        /* from the queue (seeds, and inputs that found new edges) or new */
        if (f->nqueue > 0 && pick(f, 10) < (f->guided ? 8u : 5u)) {
            (void)vuc_seq_copy(&s, f->queue[pick(f, (uint32_t)f->nqueue)]);
            mutate_seq(f, &s);
        } else {
            gen_seq(f, &s);
        }
        rc = run_seq(f, &s);
        runs++;
        if (rc < 0) {
            fprintf(stderr, "vucert fuzz: %s\n", f->finding);
            exit_code = 2;
            break;
        }
        if (rc == 1)
            found(f, &a, &s, runs);
        if (runs == 1 && f->coverage && f->cov.edges == 0)
            fprintf(stderr, "vucert fuzz: warning: the server counts no "
                            "edges into the coverage map: is it built with "
                            "afl-clang-fast or afl-clang-lto?\n");
        if (now_s() - last >= 1.0) {
            last = now_s();
            printf("vucert fuzz: %ld runs, %.0f runs/s, %d finding classes",
                   runs, (double)runs / (last - t0), f->ncl);
            if (f->coverage)
                printf(", %u edges, queue %d", f->cov.edges, f->nqueue);
            putchar('\n');
            if (f->nticks < MAX_TICKS)
                f->ticks[f->nticks++] = (struct tick){
                    last - t0, runs, f->coverage ? f->cov.edges : 0};
            fflush(stdout);
        }
    }
    if (exit_code == 0 && f->reuse && a.cmd != NULL && f->t.pid > 0)
        exit_findings(f, &a, runs);
    last = now_s() - t0;
    for (int i = 0; i < f->ncl; i++)
        nreal += !f->cl[i].ignored;
    printf("vucert fuzz: %ld runs in %.1f s (%.0f runs/s)", runs, last,
           last > 0 ? (double)runs / last : 0.0);
    if (f->coverage)
        printf(", %u edges", f->cov.edges);
    if (f->ncl == 0) {
        printf(", no finding\n");
    } else {
        printf(", %d finding class%s%s:\n", nreal, nreal == 1 ? "" : "es",
               nreal < f->ncl ? " (and ignored ones)" : "");
        for (int i = 0; i < f->ncl; i++)
            printf("  %6ld x  first at run %-6ld %s%s%s\n", f->cl[i].count,
                   f->cl[i].first_run, f->cl[i].cls,
                   f->cl[i].ignored ? "  (ignored)" : "  ",
                   f->cl[i].ignored ? "" : f->cl[i].repro);
    }
    if (write_summary(f, &a, runs, last) < 0) {
        fprintf(stderr, "vucert fuzz: writing %s/summary.json: %s\n", a.out,
                strerror(errno));
        if (exit_code == 0)
            exit_code = 2;
    }
    if (exit_code == 0 && nreal > 0)
        exit_code = 1;
    stop(f);
    vuc_seq_free(&s);
    free(f);
    return exit_code;
}

int vuc_replay_main(int argc, char **argv)
{
    struct fz_args a = {0};
    struct fz *f = calloc(1, sizeof(*f));
    struct vuc_seq s = {0};
    char err[512];
    int rc, exit_code;

    if (f == NULL)
        return 2;
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(replay_usage, stdout);
        free(f);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-' ||
        parse(argc - 1, argv + 1, &a, false) != 0) {
        fputs(replay_usage, stderr);
        free(f);
        return 2;
    }
    if (vuc_seq_load(argv[1], &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: %s\n", err);
        free(f);
        return 2;
    }
    if (start(f, &a) < 0) {
        stop(f);
        vuc_seq_free(&s);
        free(f);
        return 2;
    }
    rc = run_seq(f, &s);
    if (rc == 1) {
        printf("vucert replay: reproduced (%d steps): %s: %s\n", s.n, f->cls,
               f->finding);
        exit_code = 1;
    } else if (rc < 0) {
        fprintf(stderr, "vucert replay: %s\n", f->finding);
        exit_code = 2;
    } else {
        printf("vucert replay: not reproduced: the server answered all %d "
               "steps, stays responsive%s\n",
               s.n, f->t.cmd && !f->reuse ? " and ends cleanly" : "");
        exit_code = 0;
    }
    stop(f);
    vuc_seq_free(&s);
    free(f);
    return exit_code;
}
