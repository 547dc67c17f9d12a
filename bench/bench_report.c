// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_report: DMA dirty-page LOGGING_REPORT of a big range through
 * vucert's client library to a real vucert-server process, as ratios to
 * the physical limit measured in the same run (bench/README.md).
 *
 * 1. Same page size: LOGGING_START over 1 TiB (iova 2^40) at 4 KiB pages,
 *    1% of the pages made dirty with BAR0 DIRTY_SIM_PERMILLE (the server
 *    marks them as its DMA engine would; 1 TiB cannot be mapped), then a
 *    REPORT of the whole range at 4 KiB: a 32 MiB bitmap in as many
 *    REPORTs as max_data_xfer_size allows (spec: Message sizes; the
 *    server answers E2BIG to a bigger one), each bitmap copied into one
 *    32 MiB buffer as a VMM would. The set bits must number exactly what
 *    DIRTY_SIM_PERMILLE marks, and a second REPORT must be all zeros.
 * 2. The physical limit: memcpy of the same bitmap bytes, plus a raw
 *    AF_UNIX transfer of them between two processes in the same messages
 *    (a 48-byte request, a reply of 48 bytes + one chunk of the bitmap).
 * 3. 16x finer: logging at 64 KiB pages over the same range, 1% dirty,
 *    REPORT at 4 KiB (the same 32 MiB bitmap, each bit repeated 16 times).
 *
 * Every round does 1, 3 and 2, the order rotating between rounds so that
 * drift hits all alike; figures are medians over the rounds.
 *
 * Exit: 0 when everything ran and every bitmap check passed (the ratios
 * are reported, not enforced), 1 when something failed to run or a
 * bitmap check failed, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vucert/client.h"
#include "vucert/wire.h"

#include "bench_util.h"

#define EXIT_USAGE 2

#define GIB          (UINT64_C(1) << 30)
#define RANGE_IOVA   (UINT64_C(1) << 40)
#define REPORT_PAGE  UINT64_C(4096)
#define FINE_LOGPAGE (REPORT_PAGE * 16) /* the report is 16x finer */
#define DIRTY_PM     10u                /* 1% of the logging pages */

#define DEFAULT_RANGE_GIB UINT64_C(1024)
#define QUICK_RANGE_GIB   UINT64_C(16)
#define MAX_RANGE_GIB     UINT64_C(16384) /* 512 MiB of bitmap, x3 here */
#define DEFAULT_XFER      VUC_DEFAULT_MAX_DATA_XFER_SIZE
#define MAX_XFER          (64u << 20) /* vucert-server's own limit */
#define DEFAULT_ROUNDS    9u
#define QUICK_ROUNDS      2u

/* The targets (issue 4, Benchmarks). */
#define TARGET_RATIO 2.0
#define TARGET_FINER 4.0

#define CLIENT_TIMEOUT_MS 30000

/* vucert-server BAR0 (reference-server/README.md, "BAR0 register map") */
#define BAR0           0u
#define BAR0_DIRTY_SIM 0x80u

/* A REPORT request: header, argsz + flags, iova, length, page_size; the
 * reply repeats those 48 bytes before the bitmap. */
#define REPORT_MSG (VUC_HDR_SIZE + VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE)

struct opts {
    uint64_t range_gib;
    uint32_t xfer;
    unsigned rounds;
    bool quick;
    const char *json;
    const char *server; /* NULL: vucert-server beside this binary */
};

enum measure { SAME, FINER, CLEAN, SRV_CPU, MEMCPY, RAW, MEASURES };

struct results {
    struct bench_series s[MEASURES]; /* ms */
    uint64_t want_same, want_finer;
    uint64_t got_same, got_finer;
    bool checks_ok;
};

struct ctx {
    const struct opts *o;
    char server_path[PATH_MAX + 32];
    char dir[64];
    struct bench_server srv;
    struct bench_peer peer;
    int client_cpu, server_cpu;
    uint64_t range; /* bytes of IOVA logged and reported */
    uint64_t chunk; /* bytes of IOVA per REPORT */
    size_t bitmap;  /* bytes of the whole bitmap */
    unsigned msgs;  /* REPORTs per full report */
    uint8_t *vmm;   /* the VMM's bitmap: every REPORT lands here */
    uint8_t *src;   /* the same bytes, for memcpy */
    uint8_t *rbuf;  /* raw receive buffer: one reply */
};

static double ms_of(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* Anonymous memory, every page touched so that no timed copy faults. */
static uint8_t *big_map(size_t n)
{
    uint8_t *p = bench_map(n);

    if (p)
        memset(p, 0, n);
    return p;
}

/* IOVA bytes and bitmap bytes of REPORT i (the last may be shorter). */
static uint64_t chunk_len(const struct ctx *c, unsigned i)
{
    uint64_t off = (uint64_t)i * c->chunk;

    return c->range - off < c->chunk ? c->range - off : c->chunk;
}

static size_t chunk_bitmap(uint64_t len)
{
    return (size_t)((len / REPORT_PAGE + 63) / 64 * 8);
}

/* ---- the raw AF_UNIX peer: the physical limit ---- */

/*
 * Requests of REPORT_MSG bytes: byte 0 the operation, u64 at 8 and 16.
 *   'L' n:      read n bytes into the source (the bitmap), ack one byte;
 *   'R' off n:  reply REPORT_MSG bytes, then source[off, off + n), in one
 *               writev (as vucert-server sends its reply).
 */
/* What the peer needs, read in the child. */
struct peer_arg {
    int cpu;
    size_t cap;
};

static void peer_main(int fd, const void *arg)
{
    int cpu = ((const struct peer_arg *)arg)->cpu;
    size_t cap = ((const struct peer_arg *)arg)->cap;
    uint8_t req[REPORT_MSG], ack = 'k';
    uint8_t *src = NULL;
    size_t have = 0;

    if (bench_pin_to(cpu) < 0)
        _exit(1);
    for (;;) {
        uint64_t a, b;

        if (bench_read_full(fd, req, sizeof(req)) < 0)
            _exit(0);
        a = vuc_get_u64(req + 8);
        b = vuc_get_u64(req + 16);
        if (req[0] == 'L') {
            if (a > cap || src)
                _exit(1);
            src = big_map(cap);
            have = (size_t)a;
            if (!src || bench_read_full(fd, src, have) < 0 ||
                bench_write_full(fd, &ack, 1) < 0)
                _exit(1);
        } else if (req[0] == 'R') {
            struct iovec iov[2] = {{req, sizeof(req)}, {NULL, 0}};
            size_t len;
            ssize_t n;

            if (a > have || b > have - a)
                _exit(1);
            iov[1].iov_base = src + a;
            iov[1].iov_len = (size_t)b;
            len = sizeof(req) + (size_t)b;
            n = writev(fd, iov, 2);
            if (n < 0)
                _exit(1);
            if ((size_t)n < len) {
                /* a short writev: the rest plainly */
                size_t done = (size_t)n;

                if (done < sizeof(req) &&
                    bench_write_full(fd, req + done, sizeof(req) - done) < 0)
                    _exit(1);
                done = done > sizeof(req) ? done - sizeof(req) : 0;
                if (bench_write_full(fd, src + a + done, (size_t)b - done) < 0)
                    _exit(1);
            }
        } else {
            _exit(1);
        }
    }
}

static int peer_start(struct ctx *c)
{
    struct peer_arg a = {.cpu = c->server_cpu, .cap = c->bitmap};

    return bench_peer_start(&c->peer, peer_main, &a);
}

static int peer_req(struct ctx *c, uint8_t op, uint64_t a, uint64_t b)
{
    uint8_t req[REPORT_MSG] = {0};

    req[0] = op;
    vuc_put_u64(req + 8, a);
    vuc_put_u64(req + 16, b);
    return bench_write_full(c->peer.fd, req, sizeof(req));
}

/* Give the peer the bitmap bytes (untimed). */
static int peer_load(struct ctx *c)
{
    uint8_t ack = 0;
    int rc = peer_req(c, 'L', c->bitmap, 0);

    if (rc == 0)
        rc = bench_write_full(c->peer.fd, c->src, c->bitmap);
    if (rc == 0)
        rc = bench_read_full(c->peer.fd, &ack, 1);
    return rc < 0 ? rc : (ack == 'k' ? 0 : -EPROTO);
}

/* The bitmap over the raw socket, in the REPORTs' messages. */
static int raw_once(struct ctx *c, uint64_t *ns)
{
    uint64_t t0 = bench_now_ns();
    size_t off = 0;
    int rc = 0;

    for (unsigned i = 0; i < c->msgs && rc == 0; i++) {
        size_t n = chunk_bitmap(chunk_len(c, i));

        rc = peer_req(c, 'R', off, n);
        if (rc == 0)
            rc = bench_read_full(c->peer.fd, c->rbuf, REPORT_MSG + n);
        off += n;
    }
    *ns = bench_now_ns() - t0;
    return rc;
}

static uint64_t memcpy_once(struct ctx *c)
{
    uint64_t t0 = bench_now_ns();

    memcpy(c->vmm, c->src, c->bitmap);
    /* keep the copy from being optimised away */
    __asm__ volatile("" : : "r"(c->vmm) : "memory");
    return bench_now_ns() - t0;
}

/* ---- vucert-server and the client library ---- */

static int fail(struct ctx *c, const char *what, int rc)
{
    fprintf(stderr, "bench_report: %s failed (%s)%s%s\n", what, strerror(-rc),
            c->srv.cl ? ": " : "",
            c->srv.cl ? vuc_client_last_error(c->srv.cl) : "");
    return rc;
}

static int server_start(struct ctx *c)
{
    char xfer[32];
    const char *const argv[] = {"vucert-server",        "--socket", c->srv.sock,
                                "--max-data-xfer-size", xfer,       NULL};

    snprintf(c->srv.sock, sizeof(c->srv.sock), "%s/sock", c->dir);
    snprintf(xfer, sizeof(xfer), "%" PRIu32, c->o->xfer);
    return bench_server_start(&c->srv, c->server_path, c->server_cpu, argv);
}

static void server_stop(struct ctx *c)
{
    bench_server_stop("bench_report", &c->srv);
}

static int server_connect(struct ctx *c)
{
    char caps[128];
    uint64_t got;
    int rc = bench_server_connect("bench_report", &c->srv, c->server_path);

    if (rc == -ECHILD)
        return rc;
    if (rc < 0)
        return fail(c, "connect", rc);
    snprintf(caps, sizeof(caps),
             "{\"capabilities\":{\"max_data_xfer_size\":%" PRIu32 "}}",
             c->o->xfer);
    rc = bench_negotiate(c->srv.cl, CLIENT_TIMEOUT_MS, caps);
    if (rc < 0)
        return fail(c, "VERSION", rc);
    got = vuc_client_negotiated(c->srv.cl)->limits.max_data_xfer_size;
    if (got != c->o->xfer) {
        fprintf(stderr,
                "bench_report: negotiated max_data_xfer_size %" PRIu64
                ", asked %" PRIu32 "\n",
                got, c->o->xfer);
        return -EPROTO;
    }
    return 0;
}

/* DEVICE_FEATURE with data; an error reply is -EREMOTEIO. The reply is
 * released unless r is given (then the caller releases it). */
static int feature(struct ctx *c, const char *what, uint32_t flags,
                   uint32_t argsz, const void *data, size_t len,
                   struct vuc_reply *r)
{
    struct vuc_reply local;
    int rc;

    if (!r)
        r = &local;
    rc = vuc_client_feature(c->srv.cl, flags, argsz, data, len, r);
    if (rc < 0)
        return fail(c, what, rc);
    if (r->is_error) {
        fprintf(stderr, "bench_report: %s: error reply, errno %" PRIu32 "\n",
                what, r->error);
        vuc_reply_release(r);
        return -EREMOTEIO;
    }
    if (r == &local)
        vuc_reply_release(r);
    return 0;
}

static int log_start(struct ctx *c, uint64_t page)
{
    uint8_t d[VUC_LOG_CONTROL_SIZE + VUC_LOG_RANGE_SIZE] = {0};
    struct vuc_reply r;
    uint64_t chosen;
    int rc;

    vuc_put_u64(d, page);
    vuc_put_u32(d + 8, 1);
    vuc_put_u64(d + 16, RANGE_IOVA);
    vuc_put_u64(d + 24, c->range);
    rc = feature(
        c, "LOGGING_START", VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START,
        (uint32_t)(VUC_FEATURE_HDR_SIZE + sizeof(d)), d, sizeof(d), &r);
    if (rc < 0)
        return rc;
    chosen = r.payload_len >= 16 ? vuc_get_u64(r.payload + 8) : 0;
    vuc_reply_release(&r);
    if (chosen != page) {
        fprintf(stderr,
                "bench_report: LOGGING_START at %" PRIu64
                " chose page size %" PRIu64 "\n",
                page, chosen);
        return -EPROTO;
    }
    return 0;
}

static int log_stop(struct ctx *c)
{
    return feature(c, "LOGGING_STOP",
                   VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_STOP,
                   VUC_FEATURE_HDR_SIZE, NULL, 0, NULL);
}

static int dirty_sim(struct ctx *c, uint32_t permille)
{
    uint8_t b[4];
    uint32_t err = 0;
    int rc;

    vuc_put_u32(b, permille);
    rc = vuc_client_region_write(c->srv.cl, BAR0, BAR0_DIRTY_SIM, b, sizeof(b),
                                 &err);
    return rc < 0 ? fail(c, "BAR0 DIRTY_SIM_PERMILLE write", rc) : 0;
}

/* The whole range at REPORT_PAGE, in c->msgs REPORTs, into c->vmm. */
static int report_all(struct ctx *c, uint64_t *ns)
{
    uint8_t d[VUC_LOG_REPORT_SIZE];
    uint64_t t0 = bench_now_ns();
    size_t off = 0;

    for (unsigned i = 0; i < c->msgs; i++) {
        uint64_t len = chunk_len(c, i);
        size_t n = chunk_bitmap(len);
        size_t need = VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE + n;
        struct vuc_reply r;
        int rc;

        vuc_put_u64(d, RANGE_IOVA + (uint64_t)i * c->chunk);
        vuc_put_u64(d + 8, len);
        vuc_put_u64(d + 16, REPORT_PAGE);
        rc = feature(c, "LOGGING_REPORT",
                     VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_REPORT,
                     (uint32_t)need, d, sizeof(d), &r);
        if (rc < 0)
            return rc;
        if (r.payload_len != need || vuc_get_u32(r.payload) != need) {
            fprintf(stderr,
                    "bench_report: REPORT %u: %zu bytes of payload, argsz "
                    "%" PRIu32 ", want %zu\n",
                    i, r.payload_len,
                    r.payload_len >= 4 ? vuc_get_u32(r.payload) : 0, need);
            vuc_reply_release(&r);
            return -EBADMSG; /* -EPROTO is a failed bitmap check */
        }
        memcpy(c->vmm + off, r.payload + need - n, n);
        vuc_reply_release(&r);
        off += n;
    }
    *ns = bench_now_ns() - t0;
    return 0;
}

/* ---- the checks ---- */

/* Pages DIRTY_SIM_PERMILLE marks in a range of `pages` pages. */
static uint64_t sim_pages(uint64_t pages, uint32_t permille)
{
    return (pages * permille + 999) / 1000;
}

static uint64_t popcount(const uint8_t *p, size_t n)
{
    uint64_t bits = 0;

    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w = vuc_get_u64(p + i);

        if (w) /* most are: 1% dirty */
            bits += (uint64_t)__builtin_popcountll(w);
    }
    return bits;
}

/* A finer report repeats each logging page's bit 16 times: every aligned
 * group of 16 bits is all set or all clear. */
static bool groups_whole(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 2 <= n; i += 2) {
        uint16_t g = vuc_get_u16(p + i);

        if (g != 0 && g != 0xffff)
            return false;
    }
    return true;
}

/* After one REPORT: exactly `want` bits, page 0 among them (the spread
 * starts there), and (finer) whole groups; then a second REPORT is
 * empty. */
static int check_report(struct ctx *c, const char *name, uint64_t want,
                        bool finer, uint64_t *got, struct bench_series *clean)
{
    bool whole = !finer || groups_whole(c->vmm, c->bitmap);
    uint64_t ns;
    int rc;

    *got = popcount(c->vmm, c->bitmap);
    if (*got != want || !(c->vmm[0] & 1) || !whole) {
        fprintf(stderr,
                "bench_report: %s: %" PRIu64 " bits set, want %" PRIu64
                " (page 0 %s%s)\n",
                name, *got, want, c->vmm[0] & 1 ? "dirty" : "clean",
                whole ? "" : ", a 16-bit group partly set");
        return -EPROTO;
    }
    rc = report_all(c, &ns);
    if (rc < 0)
        return rc;
    if (clean)
        bench_series_add(clean, ms_of(ns));
    if (popcount(c->vmm, c->bitmap) != 0) {
        fprintf(stderr,
                "bench_report: %s: a second REPORT shows %" PRIu64
                " bits: not cleared\n",
                name, popcount(c->vmm, c->bitmap));
        return -EPROTO;
    }
    return 0;
}

/* ---- measurement ---- */

/* START at logpage, dirty 1%, time one full REPORT, check, STOP. */
static int run_vucert(struct ctx *c, struct results *res, bool finer)
{
    uint64_t logpage = finer ? FINE_LOGPAGE : REPORT_PAGE;
    uint64_t want =
        sim_pages(c->range / logpage, DIRTY_PM) * (logpage / REPORT_PAGE);
    uint64_t ns = 0, cpu0, cpu1, got = 0;
    int rc;

    rc = log_start(c, logpage);
    if (rc == 0)
        rc = dirty_sim(c, DIRTY_PM);
    if (rc < 0)
        return rc;
    cpu0 = bench_cpu_ns(c->srv.pid);
    rc = report_all(c, &ns);
    cpu1 = bench_cpu_ns(c->srv.pid);
    if (rc < 0)
        return rc;
    bench_series_add(&res->s[finer ? FINER : SAME], ms_of(ns));
    if (!finer && cpu0 && cpu1 >= cpu0)
        bench_series_add(&res->s[SRV_CPU], ms_of(cpu1 - cpu0));
    if (finer)
        res->want_finer = want;
    else
        res->want_same = want;
    rc = check_report(c, finer ? "16x finer" : "same page size", want, finer,
                      &got, finer ? NULL : &res->s[CLEAN]);
    if (finer)
        res->got_finer = got;
    else
        res->got_same = got;
    if (rc == -EPROTO)
        res->checks_ok = false;
    if (rc < 0)
        return rc;
    return log_stop(c);
}

static int run_limit(struct ctx *c, struct results *res)
{
    uint64_t ns = 0;
    int rc = raw_once(c, &ns);

    if (rc < 0) {
        fprintf(stderr, "bench_report: raw transfer failed: %s\n",
                strerror(-rc));
        return rc;
    }
    bench_series_add(&res->s[RAW], ms_of(ns));
    bench_series_add(&res->s[MEMCPY], ms_of(memcpy_once(c)));
    return 0;
}

/* The bytes of a real 1%-dirty report, for memcpy and the raw peer:
 * START, dirty, REPORT (untimed warm-up), keep a copy, STOP. */
static int capture_source(struct ctx *c)
{
    uint64_t ns;
    int rc = log_start(c, REPORT_PAGE);

    if (rc == 0)
        rc = dirty_sim(c, DIRTY_PM);
    if (rc == 0)
        rc = report_all(c, &ns);
    if (rc < 0)
        return rc;
    memcpy(c->src, c->vmm, c->bitmap);
    rc = log_stop(c);
    if (rc == 0)
        rc = peer_load(c);
    if (rc < 0)
        return fail(c, "loading the raw peer", rc);
    return 0;
}

static int run(struct ctx *c, struct results *res)
{
    int rc = capture_source(c);

    /* Rotate the order each round, so that none always follows another's
     * cache footprint. */
    for (unsigned k = 0; rc == 0 && k < c->o->rounds; k++) {
        for (unsigned j = 0; j < 3 && rc == 0; j++) {
            switch ((j + k) % 3) {
            case 0:
                rc = run_vucert(c, res, false);
                break;
            case 1:
                rc = run_vucert(c, res, true);
                break;
            default:
                rc = run_limit(c, res);
                break;
            }
        }
    }
    return rc;
}

/* ---- output ---- */

static const char *const measure_name[MEASURES] = {
    [SAME] = "vucert REPORT, same page size",
    [FINER] = "vucert REPORT, 16x finer",
    [CLEAN] = "vucert REPORT, nothing dirty",
    [SRV_CPU] = "  server CPU in same-size",
    [MEMCPY] = "memcpy of the bitmap",
    [RAW] = "raw AF_UNIX, same messages",
};

static const char *const measure_key[MEASURES] = {
    [SAME] = "report_same",   [FINER] = "report_finer",
    [CLEAN] = "report_clean", [SRV_CPU] = "server_cpu_same",
    [MEMCPY] = "memcpy",      [RAW] = "raw",
};

static double limit_ms(const struct results *r)
{
    return bench_series_median(&r->s[MEMCPY]) + bench_series_median(&r->s[RAW]);
}

/*
 * The ratios are taken round by round (every round measures everything
 * once, close together), then their median: a burst of load from
 * elsewhere slows the measurements of one round alike, where a ratio of
 * medians would compare a slowed one with an unslowed one. The ratio of
 * the minimums is printed beside it, for a loaded machine.
 */
static double ratio_limit(const struct results *r)
{
    struct bench_series q = {.n = 0};

    for (unsigned i = 0;
         i < r->s[SAME].n && i < r->s[MEMCPY].n && i < r->s[RAW].n; i++)
        bench_series_add(&q, r->s[SAME].v[i] /
                                 (r->s[MEMCPY].v[i] + r->s[RAW].v[i]));
    return bench_series_median(&q);
}

static double ratio_finer(const struct results *r)
{
    struct bench_series q = {.n = 0};

    for (unsigned i = 0; i < r->s[SAME].n && i < r->s[FINER].n; i++)
        bench_series_add(&q, r->s[FINER].v[i] / r->s[SAME].v[i]);
    return bench_series_median(&q);
}

static double ratio_limit_min(const struct results *r)
{
    double l = bench_series_min(&r->s[MEMCPY]) + bench_series_min(&r->s[RAW]);

    return l > 0 ? bench_series_min(&r->s[SAME]) / l : 0;
}

static double ratio_finer_min(const struct results *r)
{
    double s = bench_series_min(&r->s[SAME]);

    return s > 0 ? bench_series_min(&r->s[FINER]) / s : 0;
}

static void print_results(const struct ctx *c, const struct results *r)
{
    double bytes = (double)c->bitmap;

    printf("%-34s %10s %10s %10s\n", "(ms, MiB/s of bitmap)", "median", "min",
           "MiB/s");
    for (int m = 0; m < MEASURES; m++) {
        double med = bench_series_median(&r->s[m]);

        if (r->s[m].n == 0)
            continue;
        printf("%-34s %10.2f %10.2f", measure_name[m], med,
               bench_series_min(&r->s[m]));
        if (m != SRV_CPU && med > 0)
            printf(" %10.0f", bytes / (1 << 20) / (med / 1e3));
        printf("\n");
    }
    printf("%-34s %10.2f\n\n", "memcpy + raw (the physical limit)",
           limit_ms(r));
    printf("ratio REPORT / (memcpy + raw): %.2f (target <= %.2f; "
           "minimums: %.2f)\n",
           ratio_limit(r), TARGET_RATIO, ratio_limit_min(r));
    printf("ratio 16x finer / same page size: %.2f (target <= %.2f; "
           "minimums: %.2f)\n",
           ratio_finer(r), TARGET_FINER, ratio_finer_min(r));
    printf("bits set: same page size %" PRIu64 " (want %" PRIu64
           "), 16x finer %" PRIu64 " (want %" PRIu64
           "); second REPORTs empty: %s\n",
           r->got_same, r->want_same, r->got_finer, r->want_finer,
           r->checks_ok ? "yes" : "NO");
}

static int write_json(const struct ctx *c, const struct results *r)
{
    FILE *f = fopen(c->o->json, "w");

    if (!f) {
        fprintf(stderr, "bench_report: %s: %s\n", c->o->json, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\n  \"benchmark\": \"bench_report\",\n"
            "  \"range_bytes\": %" PRIu64 ",\n  \"report_page\": %" PRIu64
            ",\n  \"finer_logging_page\": %" PRIu64
            ",\n  \"dirty_permille\": %u,\n"
            "  \"max_data_xfer_size\": %" PRIu32 ",\n"
            "  \"bitmap_bytes\": %zu,\n  \"reports_per_pass\": %u,\n"
            "  \"rounds\": %u,\n  \"client_cpu\": %d,\n  \"server_cpu\": %d,\n"
            "  \"unit\": \"ms\",\n",
            c->range, REPORT_PAGE, FINE_LOGPAGE, DIRTY_PM, c->o->xfer,
            c->bitmap, c->msgs, c->o->rounds, c->client_cpu, c->server_cpu);
    for (int m = 0; m < MEASURES; m++)
        fprintf(f, "  \"%s\": {\"median\": %.4f, \"min\": %.4f},\n",
                measure_key[m], bench_series_median(&r->s[m]),
                bench_series_min(&r->s[m]));
    fprintf(f,
            "  \"limit\": %.4f,\n"
            "  \"ratio_to_limit\": %.4f,\n  \"ratio_to_limit_min\": %.4f,\n"
            "  \"target_ratio\": %.2f,\n"
            "  \"ratio_finer_to_same\": %.4f,\n"
            "  \"ratio_finer_to_same_min\": %.4f,\n"
            "  \"target_finer\": %.2f,\n"
            "  \"bits_same\": %" PRIu64 ",\n  \"bits_same_want\": %" PRIu64
            ",\n  \"bits_finer\": %" PRIu64 ",\n  \"bits_finer_want\": %" PRIu64
            ",\n  \"checks_ok\": %s\n}\n",
            limit_ms(r), ratio_limit(r), ratio_limit_min(r), TARGET_RATIO,
            ratio_finer(r), ratio_finer_min(r), TARGET_FINER, r->got_same,
            r->want_same, r->got_finer, r->want_finer,
            r->checks_ok ? "true" : "false");
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_report: %s: %s\n", c->o->json, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_report [--range-gib N] [--xfer N] [--rounds R] "
            "[--quick]\n"
            "                    [--json FILE] [--server PATH]\n"
            "\n"
            "LOGGING_REPORT of a range at 4 KiB pages with 1%% of the pages\n"
            "dirty, through vucert's client library to vucert-server,\n"
            "against memcpy + a raw AF_UNIX transfer of the same bitmap;\n"
            "and the same REPORT with logging at 64 KiB pages (16x finer).\n"
            "\n"
            "  --range-gib N  GiB of IOVA logged and reported, 1..%" PRIu64
            " (default %" PRIu64 ": a 32 MiB bitmap)\n"
            "  --xfer N       max_data_xfer_size, a multiple of 8 up to %u\n"
            "                 (default %u); each REPORT covers N x 8 pages\n"
            "  --rounds R     rounds, 1..64 (default %u)\n"
            "  --quick        a %" PRIu64 " GiB range and %u rounds (CI "
            "smoke)\n"
            "  --json FILE    also write the figures as JSON\n"
            "  --server PATH  the server binary (default: vucert-server\n"
            "                 beside bench_report)\n",
            MAX_RANGE_GIB, DEFAULT_RANGE_GIB, MAX_XFER, DEFAULT_XFER,
            DEFAULT_ROUNDS, QUICK_RANGE_GIB, QUICK_ROUNDS);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"range-gib", required_argument, NULL, 'g'},
        {"xfer", required_argument, NULL, 'x'},
        {"rounds", required_argument, NULL, 'r'},
        {"quick", no_argument, NULL, 'q'},
        {"json", required_argument, NULL, 'j'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool range_set = false, rounds_set = false;
    uint64_t v;
    int opt;

    memset(o, 0, sizeof(*o));
    o->range_gib = DEFAULT_RANGE_GIB;
    o->xfer = DEFAULT_XFER;
    o->rounds = DEFAULT_ROUNDS;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case 'g':
            if (bench_parse_u64(optarg, 1, MAX_RANGE_GIB, &o->range_gib) < 0) {
                fprintf(stderr, "bench_report: bad --range-gib '%s'\n", optarg);
                return -EINVAL;
            }
            range_set = true;
            break;
        case 'x':
            if (bench_parse_u64(optarg, 8, MAX_XFER, &v) < 0 || v % 8) {
                fprintf(stderr,
                        "bench_report: bad --xfer '%s' (a multiple of 8, "
                        "8..%u)\n",
                        optarg, MAX_XFER);
                return -EINVAL;
            }
            o->xfer = (uint32_t)v;
            break;
        case 'r':
            if (bench_parse_u64(optarg, 1, 64, &v) < 0) {
                fprintf(stderr, "bench_report: bad --rounds '%s'\n", optarg);
                return -EINVAL;
            }
            o->rounds = (unsigned)v;
            rounds_set = true;
            break;
        case 'q':
            o->quick = true;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 's':
            o->server = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench_report: unexpected argument '%s'\n",
                argv[optind]);
        return -EINVAL;
    }
    if (o->quick && !range_set)
        o->range_gib = QUICK_RANGE_GIB;
    if (o->quick && !rounds_set)
        o->rounds = QUICK_ROUNDS;
    return 0;
}

static void teardown(struct ctx *c)
{
    server_stop(c);
    bench_peer_stop(&c->peer);
    if (c->dir[0])
        rmdir(c->dir);
    if (c->vmm)
        munmap(c->vmm, c->bitmap);
    if (c->src)
        munmap(c->src, c->bitmap);
    free(c->rbuf);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct ctx c;
    struct results *res;
    int cpu0 = -1, cpu1 = -1, ncpu = 0, rc, status = 0;

    if (parse_args(argc, argv, &o) < 0)
        return EXIT_USAGE;
    memset(&c, 0, sizeof(c));
    c.o = &o;
    c.peer.fd = -1;
    c.srv.role = "server";
    if (bench_find_server("bench_report", o.server, c.server_path,
                          sizeof(c.server_path)) < 0)
        return 1;
    rc = bench_usable_cpus(&cpu0, &cpu1, &ncpu);
    if (rc < 0) {
        fprintf(stderr, "bench_report: no usable CPU: %s\n", strerror(-rc));
        return 1;
    }
    /* A dead peer must be an error return, not a signal. */
    bench_ignore_sigpipe();

    c.client_cpu = cpu0;
    c.server_cpu = cpu1 >= 0 ? cpu1 : cpu0;
    c.range = o.range_gib * GIB;
    c.chunk = (uint64_t)(o.xfer / 8) * 64 * REPORT_PAGE;
    c.bitmap = chunk_bitmap(c.range);
    c.msgs = (unsigned)((c.range + c.chunk - 1) / c.chunk);
    res = calloc(1, sizeof(*res));
    c.vmm = big_map(c.bitmap);
    c.src = big_map(c.bitmap);
    c.rbuf = malloc(REPORT_MSG + (size_t)o.xfer);
    if (!res || !c.vmm || !c.src || !c.rbuf) {
        fprintf(stderr, "bench_report: out of memory\n");
        status = 1;
        goto out;
    }
    memset(c.rbuf, 0, REPORT_MSG + (size_t)o.xfer);
    res->checks_ok = true;

    rc = bench_pin_to(c.client_cpu);
    if (rc < 0) {
        fprintf(stderr, "bench_report: pin to CPU %d: %s\n", c.client_cpu,
                strerror(-rc));
        status = 1;
        goto out;
    }
    if (bench_make_tmpdir("bench_report", c.dir, sizeof(c.dir)) < 0) {
        status = 1;
        goto out;
    }
    /* The peer is forked before the client connects, so it holds no copy
     * of the client's socket. */
    rc = peer_start(&c);
    if (rc == 0)
        rc = server_start(&c);
    if (rc < 0) {
        fprintf(stderr, "bench_report: cannot start: %s\n", strerror(-rc));
        status = 1;
        goto out;
    }
    rc = server_connect(&c);
    if (rc < 0) {
        status = 1;
        goto out;
    }

    printf("bench_report: LOGGING_REPORT of %" PRIu64 " GiB at %" PRIu64
           " KiB pages, %u per mille dirty\n",
           o.range_gib, REPORT_PAGE >> 10, DIRTY_PM);
    printf("server %s\nmax_data_xfer_size %" PRIu32
           ": %u REPORTs of up to %" PRIu32 " bitmap bytes, %zu KiB in all; "
           "%u rounds\n",
           c.server_path, o.xfer, c.msgs, o.xfer, c.bitmap >> 10, o.rounds);
    printf("client on CPU %d, server and raw peer on CPU %d (%d usable)\n\n",
           c.client_cpu, c.server_cpu, ncpu);
    fflush(stdout);

    rc = run(&c, res);
    if (rc < 0) {
        fprintf(stderr, "bench_report: %s\n",
                res->checks_ok ? "measurement failed"
                               : "a bitmap check failed");
        status = 1;
        goto out;
    }
    print_results(&c, res);
    if (o.json && write_json(&c, res) < 0)
        status = 1;
out:
    teardown(&c);
    free(res);
    return status;
}
