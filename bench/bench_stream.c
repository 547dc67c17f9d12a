// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_stream: migration data throughput of vucert's client library
 * against real vucert-server processes, as ratios to the physical limit
 * measured in the same run (bench/README.md).
 *
 * 1. STOP_COPY read: the whole stream of a filled state read with 1 MiB
 *    MIG_DATA_READs (spec: VFIO_USER_MIG_DATA_READ), against a raw
 *    AF_UNIX stream between two processes moving the same number of bytes
 *    in 1 MiB write()s, the receiver reading each 1 MiB fully into one
 *    buffer as the client does. A memcpy figure is printed for context.
 * 2. RESUMING write: that stream written into a second server in 1 MiB
 *    MIG_DATA_WRITEs, then RESUMING -> STOP (which validates the stream);
 *    the same raw comparison in the other direction. The devices' digests
 *    (BAR0 DIGEST) must match.
 * 3. Peak RSS (--rss): VmHWM of both servers around the save and the
 *    resume of a 1 GiB state, against 1.1 x state + 16 MiB (the stream is
 *    staged in the device's own state).
 * 4. Pre-copy: bytes sent in STOP_COPY with and without a PRE_COPY phase
 *    during which 10% of the pages change; the pre-copied migration must
 *    arrive whole (digests match).
 *
 * Raw and vucert alternate round by round; a ratio is taken per round
 * from the two measurements made next to each other, then the median over
 * the rounds. The CPU time each side used (/proc/<pid>/schedstat) is
 * printed per GiB, to show which side limits the transfer.
 *
 * Exit: 0 when every step ran and every digest matched (the ratios are
 * reported, not enforced), 1 when a step failed or a digest mismatched,
 * 2 on a usage error.
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
#include <unistd.h>

#include "vucert/client.h"
#include "vucert/server.h"
#include "vucert/wire.h"

#include "bench_util.h"

#define EXIT_USAGE 2

#define MIB (UINT64_C(1) << 20)
/* Every transfer, the negotiated max_data_xfer_size and the raw chunk. */
#define XFER ((uint32_t)MIB)

#define DEFAULT_STATE  (UINT64_C(256) << 20)
#define QUICK_STATE    (UINT64_C(16) << 20)
#define RSS_STATE      (UINT64_C(1) << 30)
#define DEFAULT_ROUNDS 5u
/* Two requests in flight: the server answers one while the next waits
 * (spec: Command Concurrency). --depth 1 shows the serial figure. */
#define DEFAULT_DEPTH 2u
/* The targets: throughput at least 0.8 of the raw socket; peak
 * RSS at most twice the state plus 16 MiB. */
#define TARGET_RATIO 0.8
#define RSS_SLACK    (UINT64_C(16) << 20)

/* DIRTY_PERMILLE = 1000 writes a word in every page: after this many
 * passes the state is resident and not all zero. */
#define FILL_PASSES 3u
/* During PRE_COPY, this per mille of the pages change (10%). */
#define PRECOPY_DIRTY 100u

/* Generous: RESUMING -> STOP checks a whole 1 GiB state. */
#define CLIENT_TIMEOUT_MS 60000

/* vucert-server BAR0 (reference-server/README.md, "BAR0 register map") */
#define BAR0             0u
#define BAR0_STATE_SIZE  0x30u
#define BAR0_DIRTY       0x48u
#define BAR0_DIGEST      0x50u
#define SERVER_XFER_SIZE "1048576"

static const char caps_json[] =
    "{\"capabilities\":{\"max_data_xfer_size\":1048576}}";

struct opts {
    uint64_t state_size;
    uint64_t rss_size;
    unsigned rounds;
    unsigned depth; /* MIG_DATA_READ/WRITEs in flight */
    bool rss;
    bool quick;
    bool verbose;
    const char *json;
    const char *server; /* NULL: vucert-server beside this binary */
};

struct server {
    struct bench_server b;
    uint64_t state_size;
};

struct ctx {
    const struct opts *o;
    const char *server_path;
    char dir[64];
    int client_cpu, server_cpu;
    struct bench_peer peer; /* obeys one-byte commands (peer_main) */
    uint8_t *xbuf; /* the 1 MiB receive buffer, as the raw receiver's */
};

/* A captured stream: mapped once at its largest size; pages cost only
 * once the stream fills them. */
struct capture {
    uint8_t *p;
    size_t cap;
    size_t len;
};

enum method { RAW_READ, VUC_READ, RAW_WRITE, VUC_WRITE, METHODS };

struct results {
    uint64_t state_size;
    uint64_t stream_bytes;
    unsigned rounds;
    struct bench_series memcpy_bps;
    struct bench_series bps[METHODS];
    struct bench_series vuc_write_stop;
    /* CPU ms per GiB: this process, and the server or the raw peer */
    struct bench_series cpu_client[METHODS], cpu_other[METHODS];
    struct bench_series validate_s;
    double cold_write_bps; /* the destination's first resume */
    double ratio_read, ratio_write, ratio_write_stop;
    uint64_t digest_src, digest_dst;
    bool digest_ok;
    /* pre-copy */
    bool pc_ran;
    uint64_t pc_stopcopy_only;
    uint64_t pc_precopy_bytes, pc_stopcopy_bytes;
    uint64_t pc_digest_src, pc_digest_dst;
    bool pc_digest_ok;
    /* RSS */
    bool rss_ran;
    uint64_t rss_state;
    uint64_t hwm_src_fill, hwm_src_save, hwm_dst_save;
    uint64_t hwm_src_resume, hwm_dst_resume, hwm_dst_again;
    uint64_t rss_bound;
    double rss_save_s, rss_resume_s;
    uint64_t rss_digest_src, rss_digest_dst;
    bool rss_digest_ok;
};

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

static double mibps(double bps)
{
    return bps / (double)MIB;
}

/* Median over rounds of a[k] / b[k]. */
static double paired_ratio(const struct bench_series *a,
                           const struct bench_series *b)
{
    struct bench_series r = {.n = 0};

    for (unsigned k = 0; k < a->n && k < b->n; k++)
        bench_series_add(&r, b->v[k] > 0 ? a->v[k] / b->v[k] : 0);
    return bench_series_median(&r);
}

static size_t chunk_of(uint64_t left)
{
    return left < XFER ? (size_t)left : XFER;
}

/* ---- the raw AF_UNIX peer: the physical limit ---- */

enum { PEER_PREPARE = 'P', PEER_SEND = 'S', PEER_RECV = 'R' };

/*
 * Commands: 9 bytes, a letter and a u64 n.
 *   P n: map a source of n bytes and write every page (as a filled device
 *        state is), then ack with one byte;
 *   S n: write n bytes of the source in 1 MiB write()s;
 *   R n: read n bytes, each 1 MiB fully into one buffer, then ack.
 */
static void peer_main(int fd, const void *arg)
{
    int cpu = *(const int *)arg;
    uint8_t *buf = malloc(XFER);
    uint8_t *src = NULL;
    size_t src_len = 0;
    uint8_t cmd[9], ack = 'k';

    if (!buf || bench_pin_to(cpu) < 0)
        _exit(1);
    memset(buf, 0x5a, XFER);
    for (;;) {
        uint64_t n, off = 0;

        if (bench_read_full(fd, cmd, sizeof(cmd)) < 0)
            _exit(0);
        n = vuc_get_u64(cmd + 1);
        switch (cmd[0]) {
        case PEER_PREPARE:
            if (src)
                munmap(src, src_len);
            src_len = (size_t)n;
            src = bench_map(src_len);
            if (!src)
                _exit(1);
            for (size_t i = 0; i < src_len; i++)
                src[i] = (uint8_t)(i * 131u);
            if (bench_write_full(fd, &ack, 1) < 0)
                _exit(1);
            break;
        case PEER_SEND:
            if (!src || src_len == 0)
                _exit(1);
            while (n > 0) {
                size_t k = chunk_of(n);

                if (off + k > src_len)
                    off = 0;
                if (bench_write_full(fd, src + off, k) < 0)
                    _exit(1);
                off += k;
                n -= k;
            }
            break;
        case PEER_RECV:
            while (n > 0) {
                size_t k = chunk_of(n);

                if (bench_read_full(fd, buf, k) < 0)
                    _exit(1);
                n -= k;
            }
            if (bench_write_full(fd, &ack, 1) < 0)
                _exit(1);
            break;
        default:
            _exit(1);
        }
    }
}

static int peer_cmd(struct bench_peer *pe, uint8_t op, uint64_t n)
{
    uint8_t cmd[9];

    cmd[0] = op;
    vuc_put_u64(cmd + 1, n);
    return bench_write_full(pe->fd, cmd, sizeof(cmd));
}

static int peer_ack(struct bench_peer *pe)
{
    uint8_t ack;
    int rc = bench_read_full(pe->fd, &ack, 1);

    return rc < 0 ? rc : (ack == 'k' ? 0 : -EPROTO);
}

/* The peer sends n bytes; we read each 1 MiB fully into buf. */
static int raw_read(struct ctx *c, uint64_t n, uint64_t *ns)
{
    uint64_t t0 = bench_now_ns(), left = n;
    int rc = peer_cmd(&c->peer, PEER_SEND, n);

    while (rc == 0 && left > 0) {
        size_t k = chunk_of(left);

        rc = bench_read_full(c->peer.fd, c->xbuf, k);
        left -= k;
    }
    *ns = bench_now_ns() - t0;
    return rc;
}

/* We send n bytes of src in 1 MiB write()s; the peer acks the last. */
static int raw_write(struct ctx *c, const uint8_t *src, uint64_t n,
                     uint64_t *ns)
{
    uint64_t t0 = bench_now_ns(), off = 0;
    int rc = peer_cmd(&c->peer, PEER_RECV, n);

    while (rc == 0 && off < n) {
        size_t k = chunk_of(n - off);

        rc = bench_write_full(c->peer.fd, src + off, k);
        off += k;
    }
    if (rc == 0)
        rc = peer_ack(&c->peer);
    *ns = bench_now_ns() - t0;
    return rc;
}

/* ---- vucert-server and the client library ---- */

static int server_start(struct ctx *c, struct server *s, const char *role,
                        uint64_t state_size)
{
    char size[32];
    const char *const argv[] = {
        "vucert-server",  "--socket", s->b.sock,
        "--state-size",   size,       "--max-data-xfer-size",
        SERVER_XFER_SIZE, NULL};

    memset(s, 0, sizeof(*s));
    s->b.role = role;
    s->state_size = state_size;
    snprintf(s->b.sock, sizeof(s->b.sock), "%s/%s.sock", c->dir, role);
    snprintf(size, sizeof(size), "%" PRIu64, state_size);
    return bench_server_start(&s->b, c->server_path, c->server_cpu, argv);
}

static void server_stop(struct server *s)
{
    bench_server_stop("bench_stream", &s->b);
}

static int fail(const struct server *s, const char *what, int rc)
{
    fprintf(stderr, "bench_stream: %s: %s failed (%s)%s%s\n", s->b.role, what,
            strerror(-rc), s->b.cl ? ": " : "",
            s->b.cl ? vuc_client_last_error(s->b.cl) : "");
    return rc;
}

static int bar0_read64(struct server *s, uint32_t off, uint64_t *v)
{
    uint8_t b[8];
    uint32_t err = 0;
    int rc = vuc_client_region_read(s->b.cl, BAR0, off, b, sizeof(b), &err);

    if (rc < 0)
        return fail(s, "BAR0 read", rc);
    *v = vuc_get_u64(b);
    return 0;
}

static int bar0_write32(struct server *s, uint32_t off, uint32_t v)
{
    uint8_t b[4];
    uint32_t err = 0;
    int rc;

    vuc_put_u32(b, v);
    rc = vuc_client_region_write(s->b.cl, BAR0, off, b, sizeof(b), &err);
    return rc < 0 ? fail(s, "BAR0 write", rc) : 0;
}

static int server_connect(struct server *s)
{
    const struct vuc_negotiated *neg;
    uint64_t size = 0;
    int rc = bench_server_connect("bench_stream", &s->b, s->b.role);

    if (rc == -ECHILD)
        return rc;
    if (rc < 0)
        return fail(s, "connect", rc);
    rc = bench_negotiate(s->b.cl, CLIENT_TIMEOUT_MS, caps_json);
    if (rc < 0)
        return fail(s, "VERSION", rc);
    neg = vuc_client_negotiated(s->b.cl);
    if (neg->limits.max_data_xfer_size != XFER) {
        fprintf(stderr,
                "bench_stream: %s: negotiated max_data_xfer_size %" PRIu64
                ", need %u\n",
                s->b.role, (uint64_t)neg->limits.max_data_xfer_size, XFER);
        return -EPROTO;
    }
    rc = bar0_read64(s, BAR0_STATE_SIZE, &size);
    if (rc < 0)
        return rc;
    if (size != s->state_size) {
        fprintf(stderr,
                "bench_stream: %s: STATE_SIZE is %" PRIu64 ", asked %" PRIu64
                "\n",
                s->b.role, size, s->state_size);
        return -EPROTO;
    }
    return 0;
}

static int server_up(struct ctx *c, struct server *s, const char *role,
                     uint64_t state_size)
{
    int rc = server_start(c, s, role, state_size);

    if (rc < 0) {
        fprintf(stderr, "bench_stream: cannot start the %s: %s\n", role,
                strerror(-rc));
        return rc;
    }
    return server_connect(s);
}

static int set_state(struct server *s, uint32_t state)
{
    struct vuc_reply r;
    int rc = vuc_client_set_state(s->b.cl, state, &r);
    uint32_t e = r.error;
    bool is_err = rc == 0 && r.is_error;

    if (rc == 0)
        vuc_reply_release(&r);
    if (rc < 0)
        return fail(s, "MIG_DEVICE_STATE SET", rc);
    if (is_err) {
        fprintf(stderr, "bench_stream: %s: SET %s failed with errno %u\n",
                s->b.role, vuc_state_name(state), e);
        return -EREMOTEIO;
    }
    return 0;
}

static int digest(struct server *s, uint64_t *d)
{
    return bar0_read64(s, BAR0_DIGEST, d);
}

/* VmHWM of a process in bytes, or 0 if it cannot be read. */
static uint64_t vm_hwm(pid_t pid)
{
    char path[64], line[256];
    unsigned long long kb = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}

/* Make the state real: every page written (while RUNNING). */
static int fill_state(struct server *s)
{
    int rc = 0;

    for (unsigned i = 0; i < FILL_PASSES && rc == 0; i++)
        rc = bar0_write32(s, BAR0_DIRTY, 1000);
    return rc;
}

/* Where the read data goes: appended to a capture, or (cap NULL) left
 * where the client received it, as the raw receiver leaves its bytes. */
struct sink {
    struct capture *cap;
    const char *role;
};

static int sink_data(void *arg, const uint8_t *data, uint32_t len)
{
    struct sink *k = arg;

    if (k->cap == NULL)
        return 0;
    if (k->cap->cap - k->cap->len < len) {
        fprintf(stderr, "bench_stream: %s: the stream outgrew %zu bytes\n",
                k->role, k->cap->cap);
        return -ENOBUFS;
    }
    memcpy(k->cap->p + k->cap->len, data, len);
    k->cap->len += len;
    return 0;
}

/*
 * Read the stream with 1 MiB MIG_DATA_READs, --depth of them in flight,
 * until a short reply (the end in STOP_COPY; in PRE_COPY the end of what
 * is ready now), into cap (may be NULL: see struct sink). *bytes is what
 * came; *ns the time from the first request to the last reply.
 */
static int mig_read_all(struct ctx *c, struct server *s, struct capture *cap,
                        uint64_t *bytes, uint64_t *ns)
{
    struct sink k = {.cap = cap, .role = s->b.role};
    uint64_t t0 = bench_now_ns();
    uint32_t err = 0;
    int rc = vuc_client_mig_read_stream(s->b.cl, XFER, c->o->depth, sink_data,
                                        &k, bytes, &err);

    if (ns)
        *ns = bench_now_ns() - t0;
    return rc < 0 ? fail(s, "MIG_DATA_READ", rc) : 0;
}

/* A whole STOP_COPY save from STOP, back to STOP. *ns runs from the SET
 * STOP_COPY (where the session opens) to the last reply. */
static int save(struct ctx *c, struct server *s, struct capture *cap,
                uint64_t *bytes, uint64_t *ns)
{
    uint64_t t0 = bench_now_ns();
    int rc = set_state(s, VUC_STATE_STOP_COPY);

    if (rc == 0)
        rc = mig_read_all(c, s, cap, bytes, NULL);
    if (ns)
        *ns = bench_now_ns() - t0;
    if (rc == 0)
        rc = set_state(s, VUC_STATE_STOP);
    return rc;
}

/*
 * The stream into s: RESUMING, 1 MiB MIG_DATA_WRITEs, then STOP (the
 * server validates and loads). *write_ns: from the SET RESUMING (where
 * the session opens) to the last write's reply; *stop_ns: the SET STOP.
 */
static int resume(struct ctx *c, struct server *s, const uint8_t *p, size_t len,
                  uint64_t *write_ns, uint64_t *stop_ns)
{
    uint64_t t0 = bench_now_ns(), t1;
    uint32_t err = 0;
    size_t done = 0;
    int rc = set_state(s, VUC_STATE_RESUMING);

    if (rc < 0)
        return rc;
    rc = vuc_client_mig_write_stream(s->b.cl, p, len, XFER, c->o->depth, &done,
                                     &err);
    if (rc < 0)
        return fail(s, "MIG_DATA_WRITE", rc);
    t1 = bench_now_ns();
    rc = set_state(s, VUC_STATE_STOP);
    if (write_ns)
        *write_ns = t1 - t0;
    if (stop_ns)
        *stop_ns = bench_now_ns() - t1;
    return rc;
}

static int check_digests(struct server *src, struct server *dst, uint64_t *ds,
                         uint64_t *dd, bool *ok)
{
    int rc = digest(src, ds);

    if (rc == 0)
        rc = digest(dst, dd);
    if (rc < 0)
        return rc;
    *ok = *ds == *dd;
    if (!*ok)
        fprintf(stderr,
                "bench_stream: digest mismatch: %s 0x%016" PRIx64
                ", %s 0x%016" PRIx64 "\n",
                src->b.role, *ds, dst->b.role, *dd);
    return 0;
}

static int capture_map(struct capture *cap, size_t n)
{
    cap->p = bench_map(n);
    cap->cap = cap->p ? n : 0;
    cap->len = 0;
    return cap->p ? 0 : -ENOMEM;
}

static void capture_unmap(struct capture *cap)
{
    if (cap->p)
        munmap(cap->p, cap->cap);
    memset(cap, 0, sizeof(*cap));
}

/* Room for a stream of a state of n bytes, pre-copy rounds included. */
static size_t capture_room(uint64_t n)
{
    return (size_t)(2 * n + 8 * MIB);
}

/* ---- 1 and 2: throughput ---- */

/* memcpy of n bytes from src into one 1 MiB buffer, 1 MiB at a time. */
static double memcpy_bps(uint8_t *dst, const uint8_t *src, uint64_t n)
{
    uint64_t t0 = bench_now_ns(), ns;

    for (uint64_t off = 0; off < n; off += XFER) {
        size_t k = chunk_of(n - off);

        memcpy(dst, src + off, k);
        /* keep the copy from being optimised away */
        __asm__ volatile("" : : "r"(dst) : "memory");
    }
    ns = bench_now_ns() - t0;
    return ns ? (double)n / secs(ns) : 0;
}

static const char *const method_name[METHODS] = {
    [RAW_READ] = "raw read",
    [VUC_READ] = "vucert read",
    [RAW_WRITE] = "raw write",
    [VUC_WRITE] = "vucert write",
};

/* One timed transfer of the n-byte stream by method m. */
static int measure(struct ctx *c, struct server *src, struct server *dst,
                   const struct capture *cap, enum method m,
                   struct results *res)
{
    pid_t other = m == VUC_READ    ? src->b.pid
                  : m == VUC_WRITE ? dst->b.pid
                                   : c->peer.pid;
    uint64_t n = cap->len, ns = 0, sns = 0, got = 0;
    uint64_t cpu0 = bench_cpu_ns(0), cpu1 = bench_cpu_ns(other);
    double per_gib;
    int rc;

    switch (m) {
    case RAW_READ:
        rc = raw_read(c, n, &ns);
        break;
    case VUC_READ:
        rc = save(c, src, NULL, &got, &ns);
        if (rc == 0 && got != n) {
            fprintf(stderr,
                    "bench_stream: source: stream of %" PRIu64
                    " bytes, the first was %" PRIu64 "\n",
                    got, n);
            rc = -EPROTO;
        }
        break;
    case RAW_WRITE:
        rc = raw_write(c, cap->p, n, &ns);
        break;
    default:
        rc = resume(c, dst, cap->p, cap->len, &ns, &sns);
        break;
    }
    if (rc < 0) {
        if (m == RAW_READ || m == RAW_WRITE)
            fprintf(stderr, "bench_stream: %s: %s\n", method_name[m],
                    strerror(-rc));
        return rc;
    }
    /* CPU per GiB moved, on each side (a resume: SET STOP included). */
    per_gib = (double)(1u << 30) / (double)n / 1e6;
    bench_series_add(&res->cpu_client[m],
                     (double)(bench_cpu_ns(0) - cpu0) * per_gib);
    bench_series_add(&res->cpu_other[m],
                     (double)(bench_cpu_ns(other) - cpu1) * per_gib);
    bench_series_add(&res->bps[m], (double)n / secs(ns));
    if (m == VUC_WRITE) {
        bench_series_add(&res->vuc_write_stop, (double)n / secs(ns + sns));
        bench_series_add(&res->validate_s, secs(sns));
    }
    return 0;
}

static int run_throughput(struct ctx *c, struct server *src, struct server *dst,
                          struct capture *cap, struct results *res)
{
    uint64_t n, ns;
    int rc;

    /* The source gets a real state; both end in STOP. */
    rc = fill_state(src);
    if (rc == 0)
        rc = set_state(src, VUC_STATE_STOP);
    if (rc == 0)
        rc = set_state(dst, VUC_STATE_STOP);
    /* Untimed capture: the stream for the resumes, and a warm-up. */
    if (rc == 0)
        rc = save(c, src, cap, &n, NULL);
    if (rc < 0)
        return rc;
    res->stream_bytes = n;
    rc = peer_cmd(&c->peer, PEER_PREPARE, n);
    if (rc == 0)
        rc = peer_ack(&c->peer);
    if (rc < 0) {
        fprintf(stderr, "bench_stream: raw peer: %s\n", strerror(-rc));
        return rc;
    }
    /* Warm-ups of the raw paths and the first resume. */
    rc = raw_read(c, n, &ns);
    if (rc == 0)
        rc = raw_write(c, cap->p, n, &ns);
    if (rc < 0) {
        fprintf(stderr, "bench_stream: raw warm-up: %s\n", strerror(-rc));
        return rc;
    }
    /*
     * Two untimed resumes: vucert-server stages a resume in the buffer the
     * previous one left free (reference-server/README.md), so only from
     * the third on are both of its state-sized buffers resident. The
     * first, into pages the kernel must still fault in and zero, is
     * reported on its own ("cold").
     */
    rc = resume(c, dst, cap->p, cap->len, &ns, NULL);
    if (rc == 0)
        res->cold_write_bps = (double)n / secs(ns);
    if (rc == 0)
        rc = resume(c, dst, cap->p, cap->len, NULL, NULL);
    if (rc < 0)
        return rc;

    for (unsigned k = 0; k < c->o->rounds; k++) {
        /* Alternate which goes first, so neither always follows the
         * other's cache footprint. */
        static const enum method order[2][METHODS] = {
            {RAW_READ, VUC_READ, RAW_WRITE, VUC_WRITE},
            {VUC_READ, RAW_READ, VUC_WRITE, RAW_WRITE},
        };
        bool ok = false;

        bench_series_add(&res->memcpy_bps, memcpy_bps(c->xbuf, cap->p, n));
        for (int j = 0; j < METHODS; j++) {
            rc = measure(c, src, dst, cap, order[k % 2][j], res);
            if (rc < 0)
                return rc;
        }
        if (c->o->verbose)
            fprintf(
                stderr,
                "round %u: read raw %.0f vucert %.0f; write raw %.0f "
                "vucert %.0f (+STOP %.1f ms) MiB/s\n",
                k, mibps(res->bps[RAW_READ].v[k]),
                mibps(res->bps[VUC_READ].v[k]), mibps(res->bps[RAW_WRITE].v[k]),
                mibps(res->bps[VUC_WRITE].v[k]), res->validate_s.v[k] * 1e3);
        /* Every resume must have brought the whole state. */
        rc = check_digests(src, dst, &res->digest_src, &res->digest_dst, &ok);
        if (rc < 0)
            return rc;
        res->digest_ok = ok;
        if (!ok)
            return -EBADMSG;
    }
    /* Each round's vucert figure over the raw one measured next to it,
     * so that drift between rounds (a noisy neighbour, the host backing
     * fresh memory) cancels; the median of those ratios. */
    res->ratio_read = paired_ratio(&res->bps[VUC_READ], &res->bps[RAW_READ]);
    res->ratio_write = paired_ratio(&res->bps[VUC_WRITE], &res->bps[RAW_WRITE]);
    res->ratio_write_stop =
        paired_ratio(&res->vuc_write_stop, &res->bps[RAW_WRITE]);
    return 0;
}

/* ---- 4: pre-copy ---- */

static int run_precopy(struct ctx *c, struct server *src, struct server *dst,
                       struct capture *cap, struct results *res)
{
    uint64_t n = 0;
    bool ok = false;
    int rc;

    /* (a) STOP_COPY only, from a running device. */
    rc = set_state(src, VUC_STATE_RUNNING);
    if (rc == 0)
        rc = set_state(src, VUC_STATE_STOP_COPY);
    if (rc == 0)
        rc = mig_read_all(c, src, NULL, &res->pc_stopcopy_only, NULL);
    /* (b) PRE_COPY to its end, 10% of the pages change, STOP_COPY. */
    if (rc == 0)
        rc = set_state(src, VUC_STATE_RUNNING);
    if (rc == 0)
        rc = set_state(src, VUC_STATE_PRE_COPY);
    cap->len = 0;
    if (rc == 0)
        rc = mig_read_all(c, src, cap, &res->pc_precopy_bytes, NULL);
    if (rc == 0)
        rc = bar0_write32(src, BAR0_DIRTY, PRECOPY_DIRTY);
    if (rc == 0)
        rc = set_state(src, VUC_STATE_STOP_COPY);
    if (rc == 0)
        rc = mig_read_all(c, src, cap, &n, NULL);
    if (rc == 0)
        rc = set_state(src, VUC_STATE_STOP);
    if (rc < 0)
        return rc;
    res->pc_stopcopy_bytes = n;
    res->pc_ran = true;
    /* The pre-copied stream must bring the destination the state. */
    rc = resume(c, dst, cap->p, cap->len, NULL, NULL);
    if (rc == 0)
        rc = check_digests(src, dst, &res->pc_digest_src, &res->pc_digest_dst,
                           &ok);
    if (rc < 0)
        return rc;
    res->pc_digest_ok = ok;
    return ok ? 0 : -EBADMSG;
}

/* ---- 3: peak RSS ---- */

static int run_rss(struct ctx *c, struct results *res)
{
    struct server src, dst;
    struct capture cap = {0};
    uint64_t n, size = c->o->rss_size, wns = 0, sns = 0, t0;
    bool ok = false;
    int rc;

    memset(&src, 0, sizeof(src));
    memset(&dst, 0, sizeof(dst));
    res->rss_state = size;
    res->rss_bound = size + size / 10 + RSS_SLACK;
    rc = capture_map(&cap, capture_room(size));
    if (rc < 0) {
        fprintf(stderr, "bench_stream: cannot map %zu bytes\n",
                capture_room(size));
        return rc;
    }
    rc = server_up(c, &src, "rss-source", size);
    if (rc == 0)
        rc = server_up(c, &dst, "rss-destination", size);
    if (rc == 0)
        rc = fill_state(&src);
    if (rc == 0)
        rc = set_state(&src, VUC_STATE_STOP);
    if (rc < 0)
        goto out;
    res->hwm_src_fill = vm_hwm(src.b.pid);
    t0 = bench_now_ns();
    rc = save(c, &src, &cap, &n, NULL);
    if (rc < 0)
        goto out;
    res->rss_save_s = secs(bench_now_ns() - t0);
    res->hwm_src_save = vm_hwm(src.b.pid);
    res->hwm_dst_save = vm_hwm(dst.b.pid);
    rc = resume(c, &dst, cap.p, cap.len, &wns, &sns);
    if (rc < 0)
        goto out;
    res->rss_resume_s = secs(wns + sns);
    res->hwm_src_resume = vm_hwm(src.b.pid);
    res->hwm_dst_resume = vm_hwm(dst.b.pid);
    res->rss_ran = true;
    rc = check_digests(&src, &dst, &res->rss_digest_src, &res->rss_digest_dst,
                       &ok);
    res->rss_digest_ok = ok;
    if (rc == 0 && !ok)
        rc = -EBADMSG;
    /* The worst case: a destination whose own state is resident (this
     * one's, now) resumes again, holding that state and the staging
     * copy at once. */
    if (rc == 0)
        rc = resume(c, &dst, cap.p, cap.len, NULL, NULL);
    if (rc == 0) {
        res->hwm_dst_again = vm_hwm(dst.b.pid);
        rc = check_digests(&src, &dst, &res->rss_digest_src,
                           &res->rss_digest_dst, &ok);
        res->rss_digest_ok = ok;
        if (rc == 0 && !ok)
            rc = -EBADMSG;
    }
out:
    server_stop(&src);
    server_stop(&dst);
    capture_unmap(&cap);
    return rc;
}

/* ---- output ---- */

static void print_series(const char *name, const struct bench_series *s)
{
    printf("  %-34s %9.0f  (%.0f..%.0f)\n", name, mibps(bench_series_median(s)),
           mibps(bench_series_min(s)), mibps(bench_series_max(s)));
}

static void print_throughput(const struct results *r)
{
    printf("\nthroughput, MiB/s: median over %u rounds (min..max)\n",
           r->rounds);
    print_series("memcpy 1 MiB chunks (context)", &r->memcpy_bps);
    print_series("STOP_COPY read    raw AF_UNIX", &r->bps[RAW_READ]);
    print_series("STOP_COPY read    vucert", &r->bps[VUC_READ]);
    print_series("RESUMING write    raw AF_UNIX", &r->bps[RAW_WRITE]);
    print_series("RESUMING write    vucert", &r->bps[VUC_WRITE]);
    print_series("RESUMING write    vucert + ->STOP", &r->vuc_write_stop);
    printf("  %-34s %9.0f  (once: the pages faulted in)\n",
           "RESUMING write    vucert, cold", mibps(r->cold_write_bps));
    printf("  RESUMING->STOP (validate, load): %.1f ms median (%.1f..%.1f)\n",
           bench_series_median(&r->validate_s) * 1e3,
           bench_series_min(&r->validate_s) * 1e3,
           bench_series_max(&r->validate_s) * 1e3);
    printf("  digest: source 0x%016" PRIx64 ", destination 0x%016" PRIx64
           ": %s\n",
           r->digest_src, r->digest_dst, r->digest_ok ? "match" : "MISMATCH");
    printf("\nCPU ms per GiB moved, median (client process / server or "
           "raw peer)\n");
    for (int m = 0; m < METHODS; m++)
        printf("  %-34s %7.0f / %-7.0f\n", method_name[m],
               bench_series_median(&r->cpu_client[m]),
               bench_series_median(&r->cpu_other[m]));
    printf("\nratios: vucert / raw per round, median over the rounds\n");
    printf("ratio read:  %.2f (target >= %.2f)\n", r->ratio_read, TARGET_RATIO);
    printf("ratio write: %.2f without the final STOP, %.2f with it "
           "(target >= %.2f)\n",
           r->ratio_write, r->ratio_write_stop, TARGET_RATIO);
}

static void print_precopy(const struct results *r)
{
    double frac = r->pc_stopcopy_only ? (double)r->pc_stopcopy_bytes /
                                            (double)r->pc_stopcopy_only
                                      : 0;

    printf("\npre-copy (%u per mille of the pages changed during PRE_COPY)\n",
           PRECOPY_DIRTY);
    printf("  STOP_COPY only:          %12" PRIu64 " bytes in STOP_COPY\n",
           r->pc_stopcopy_only);
    printf("  PRE_COPY, then STOP_COPY:%12" PRIu64
           " bytes in STOP_COPY (%" PRIu64 " before, in PRE_COPY)\n",
           r->pc_stopcopy_bytes, r->pc_precopy_bytes);
    printf("  STOP_COPY bytes with/without pre-copy: %.3f (saves %.1f%%)\n",
           frac, (1 - frac) * 100);
    printf("  digest: source 0x%016" PRIx64 ", destination 0x%016" PRIx64
           ": %s\n",
           r->pc_digest_src, r->pc_digest_dst,
           r->pc_digest_ok ? "match" : "MISMATCH");
}

static void print_rss(const struct results *r)
{
    double b = (double)r->rss_bound;

    printf("\npeak RSS (VmHWM), %" PRIu64 " MiB state; bound 1.1 x state + "
           "16 MiB = %" PRIu64 " MiB\n",
           r->rss_state / MIB, r->rss_bound / MIB);
    printf("  source after fill:          %6" PRIu64 " MiB\n",
           r->hwm_src_fill / MIB);
    printf("  source after save:          %6" PRIu64 " MiB (%.2f of bound)\n",
           r->hwm_src_save / MIB, (double)r->hwm_src_save / b);
    printf("  destination after save:     %6" PRIu64 " MiB\n",
           r->hwm_dst_save / MIB);
    printf("  source after resume:        %6" PRIu64 " MiB (%.2f of bound)\n",
           r->hwm_src_resume / MIB, (double)r->hwm_src_resume / b);
    printf("  destination after resume:   %6" PRIu64 " MiB (%.2f of bound)\n",
           r->hwm_dst_resume / MIB, (double)r->hwm_dst_resume / b);
    printf("  destination, second resume: %6" PRIu64 " MiB (%.2f of bound)\n",
           r->hwm_dst_again / MIB, (double)r->hwm_dst_again / b);
    printf("  save %.2f s, resume %.2f s; digest 0x%016" PRIx64
           " / 0x%016" PRIx64 ": %s\n",
           r->rss_save_s, r->rss_resume_s, r->rss_digest_src, r->rss_digest_dst,
           r->rss_digest_ok ? "match" : "MISMATCH");
}

static void json_series(FILE *f, const char *key, const struct bench_series *s,
                        bool last)
{
    fprintf(f,
            "    \"%s\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}%s\n",
            key, bench_series_median(s), bench_series_min(s),
            bench_series_max(s), last ? "" : ",");
}

static int write_json(const struct opts *o, const struct results *r)
{
    FILE *f = fopen(o->json, "w");

    if (!f) {
        fprintf(stderr, "bench_stream: %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\n  \"benchmark\": \"bench_stream\",\n"
            "  \"state_size\": %" PRIu64 ",\n  \"transfer_size\": %u,\n"
            "  \"stream_bytes\": %" PRIu64 ",\n  \"rounds\": %u,\n"
            "  \"target_ratio\": %.2f,\n"
            "  \"throughput_bytes_per_s\": {\n",
            r->state_size, XFER, r->stream_bytes, r->rounds, TARGET_RATIO);
    json_series(f, "memcpy", &r->memcpy_bps, false);
    json_series(f, "raw_read", &r->bps[RAW_READ], false);
    json_series(f, "vucert_read", &r->bps[VUC_READ], false);
    json_series(f, "raw_write", &r->bps[RAW_WRITE], false);
    json_series(f, "vucert_write", &r->bps[VUC_WRITE], false);
    json_series(f, "vucert_write_and_stop", &r->vuc_write_stop, true);
    fprintf(f, "  },\n  \"cpu_ms_per_gib\": {\n");
    for (int m = 0; m < METHODS; m++) {
        static const char *const key[METHODS] = {"raw_read", "vucert_read",
                                                 "raw_write", "vucert_write"};

        fprintf(f, "    \"%s\": {\"client\": %.1f, \"other\": %.1f}%s\n",
                key[m], bench_series_median(&r->cpu_client[m]),
                bench_series_median(&r->cpu_other[m]),
                m + 1 < METHODS ? "," : "");
    }
    fprintf(f,
            "  },\n  \"validate_s\": {\"median\": %.6f, \"min\": %.6f, "
            "\"max\": %.6f},\n"
            "  \"cold_write_bytes_per_s\": %.0f,\n"
            "  \"ratio_read\": %.4f,\n  \"ratio_write\": %.4f,\n"
            "  \"ratio_write_and_stop\": %.4f,\n"
            "  \"digest\": {\"source\": \"0x%016" PRIx64
            "\", \"destination\": \"0x%016" PRIx64 "\", \"match\": %s},\n",
            bench_series_median(&r->validate_s),
            bench_series_min(&r->validate_s), bench_series_max(&r->validate_s),
            r->cold_write_bps, r->ratio_read, r->ratio_write,
            r->ratio_write_stop, r->digest_src, r->digest_dst,
            r->digest_ok ? "true" : "false");
    fprintf(f,
            "  \"precopy\": {\"dirty_permille\": %u, "
            "\"stopcopy_only_bytes\": %" PRIu64 ", "
            "\"precopy_phase_bytes\": %" PRIu64 ", "
            "\"stopcopy_after_precopy_bytes\": %" PRIu64 ", "
            "\"digest_match\": %s}",
            PRECOPY_DIRTY, r->pc_stopcopy_only, r->pc_precopy_bytes,
            r->pc_stopcopy_bytes, r->pc_digest_ok ? "true" : "false");
    if (r->rss_ran)
        fprintf(f,
                ",\n  \"rss\": {\"state_size\": %" PRIu64
                ", \"bound\": %" PRIu64 ", \"source_after_fill\": %" PRIu64
                ", \"source_after_save\": %" PRIu64
                ", \"destination_after_save\": %" PRIu64
                ", \"source_after_resume\": %" PRIu64
                ", \"destination_after_resume\": %" PRIu64
                ", \"destination_after_second_resume\": %" PRIu64
                ", \"save_s\": %.3f, \"resume_s\": %.3f"
                ", \"digest_match\": %s}",
                r->rss_state, r->rss_bound, r->hwm_src_fill, r->hwm_src_save,
                r->hwm_dst_save, r->hwm_src_resume, r->hwm_dst_resume,
                r->hwm_dst_again, r->rss_save_s, r->rss_resume_s,
                r->rss_digest_ok ? "true" : "false");
    fprintf(f, "\n}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_stream: %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_stream [--state-size N] [--rounds R] [--depth D]\n"
            "                    [--rss] [--rss-size N] [--quick]\n"
            "                    [--json FILE]\n"
            "                    [--server PATH]\n"
            "\n"
            "Migration data throughput through vucert's client library to\n"
            "vucert-server (1 MiB MIG_DATA_READ in STOP_COPY, 1 MiB\n"
            "MIG_DATA_WRITE in RESUMING) against a raw AF_UNIX stream of\n"
            "the same bytes in the same chunks; STOP_COPY bytes with and\n"
            "without PRE_COPY; optionally the servers' peak RSS.\n"
            "\n"
            "  --state-size N  device state (K/M/G suffixes; default 256M)\n"
            "  --rounds R      timed rounds (default %u)\n"
            "  --depth D       MIG_DATA requests in flight (1..%u;\n"
            "                  default %u)\n"
            "  --rss           also measure peak RSS streaming a big state\n"
            "                  (needs about 4 x --rss-size of memory)\n"
            "  --rss-size N    the state for --rss (default 1G)\n"
            "  --quick         a 16M state and one round (ctest smoke)\n"
            "  --verbose       every round's figures on stderr\n"
            "  --json FILE     also write the figures as JSON\n"
            "  --server PATH   the server binary (default: vucert-server\n"
            "                  beside bench_stream)\n",
            DEFAULT_ROUNDS, VUC_CLIENT_MAX_DEPTH, DEFAULT_DEPTH);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"state-size", required_argument, NULL, 's'},
        {"rounds", required_argument, NULL, 'r'},
        {"depth", required_argument, NULL, 'd'},
        {"rss", no_argument, NULL, 'R'},
        {"rss-size", required_argument, NULL, 'S'},
        {"quick", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"json", required_argument, NULL, 'j'},
        {"server", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool size_set = false, rounds_set = false;
    uint64_t v;
    int opt;

    memset(o, 0, sizeof(*o));
    o->state_size = DEFAULT_STATE;
    o->rss_size = RSS_STATE;
    o->rounds = DEFAULT_ROUNDS;
    o->depth = DEFAULT_DEPTH;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (vuc_srv_size_parse(optarg, &o->state_size) < 0) {
                fprintf(stderr, "bench_stream: bad --state-size '%s'\n",
                        optarg);
                return -EINVAL;
            }
            size_set = true;
            break;
        case 'S':
            if (vuc_srv_size_parse(optarg, &o->rss_size) < 0) {
                fprintf(stderr, "bench_stream: bad --rss-size '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        case 'r':
            if (bench_parse_u64(optarg, 1, 64, &v) < 0) {
                fprintf(stderr, "bench_stream: bad --rounds '%s' (1..64)\n",
                        optarg);
                return -EINVAL;
            }
            o->rounds = (unsigned)v;
            rounds_set = true;
            break;
        case 'd':
            if (bench_parse_u64(optarg, 1, VUC_CLIENT_MAX_DEPTH, &v) < 0) {
                fprintf(stderr, "bench_stream: bad --depth '%s' (1..%u)\n",
                        optarg, VUC_CLIENT_MAX_DEPTH);
                return -EINVAL;
            }
            o->depth = (unsigned)v;
            break;
        case 'R':
            o->rss = true;
            break;
        case 'q':
            o->quick = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'b':
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
        fprintf(stderr, "bench_stream: unexpected argument '%s'\n",
                argv[optind]);
        return -EINVAL;
    }
    if (o->quick) {
        if (!size_set)
            o->state_size = QUICK_STATE;
        if (!rounds_set)
            o->rounds = 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct ctx c;
    struct results res;
    struct server src, dst;
    struct capture cap = {0};
    char server[PATH_MAX + 32];
    int cpu0 = -1, cpu1 = -1, ncpu = 0, rc;
    int status = 0;

    if (parse_args(argc, argv, &o) < 0)
        return EXIT_USAGE;
    if (bench_find_server("bench_stream", o.server, server, sizeof(server)) < 0)
        return 1;
    rc = bench_usable_cpus(&cpu0, &cpu1, &ncpu);
    if (rc < 0) {
        fprintf(stderr, "bench_stream: no usable CPU: %s\n", strerror(-rc));
        return 1;
    }
    /* A dead peer must be an error return, not a signal. */
    bench_ignore_sigpipe();

    memset(&c, 0, sizeof(c));
    memset(&res, 0, sizeof(res));
    memset(&src, 0, sizeof(src));
    memset(&dst, 0, sizeof(dst));
    c.o = &o;
    c.server_path = server;
    c.peer.fd = -1;
    c.client_cpu = cpu0;
    c.server_cpu = cpu1 >= 0 ? cpu1 : cpu0;
    res.state_size = o.state_size;
    res.rounds = o.rounds;
    if (bench_make_tmpdir("bench_stream", c.dir, sizeof(c.dir)) < 0)
        return 1;
    c.xbuf = malloc(XFER);
    if (!c.xbuf || capture_map(&cap, capture_room(o.state_size)) < 0) {
        fprintf(stderr, "bench_stream: out of memory\n");
        status = 1;
        goto out;
    }
    memset(c.xbuf, 0, XFER);
    rc = bench_pin_to(c.client_cpu);
    if (rc < 0) {
        fprintf(stderr, "bench_stream: pin to CPU %d: %s\n", c.client_cpu,
                strerror(-rc));
        status = 1;
        goto out;
    }
    /* The peer is forked before any client connects, so it holds no
     * copy of a client socket. */
    rc = bench_peer_start(&c.peer, peer_main, &c.server_cpu);
    if (rc == 0)
        rc = server_up(&c, &src, "source", o.state_size);
    if (rc == 0)
        rc = server_up(&c, &dst, "destination", o.state_size);
    if (rc < 0) {
        status = 1;
        goto out;
    }

    printf("bench_stream: %" PRIu64 " MiB state, %u-byte transfers, "
           "%u round%s\n",
           o.state_size / MIB, XFER, o.rounds, o.rounds == 1 ? "" : "s");
    printf("server %s\nclient on CPU %d; servers and the raw peer on CPU %d "
           "(%d usable CPUs)\n",
           server, c.client_cpu, c.server_cpu, ncpu);
    fflush(stdout);

    rc = run_throughput(&c, &src, &dst, &cap, &res);
    if (rc < 0) {
        fprintf(stderr, "bench_stream: throughput: step failed\n");
        status = 1;
        goto out;
    }
    printf("stream: %" PRIu64 " bytes in STOP_COPY\n", res.stream_bytes);
    print_throughput(&res);
    fflush(stdout);

    rc = run_precopy(&c, &src, &dst, &cap, &res);
    if (res.pc_ran)
        print_precopy(&res);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "bench_stream: pre-copy: step failed\n");
        status = 1;
        goto out;
    }

    server_stop(&src);
    server_stop(&dst);
    bench_peer_stop(&c.peer);
    capture_unmap(&cap);
    if (o.rss) {
        rc = run_rss(&c, &res);
        if (res.rss_ran)
            print_rss(&res);
        if (rc < 0) {
            fprintf(stderr, "bench_stream: peak RSS: step failed\n");
            status = 1;
            goto out;
        }
    } else {
        printf("\npeak RSS: not measured (--rss; needs about %" PRIu64
               " MiB)\n",
               4 * o.rss_size / MIB);
    }
    if (o.json && write_json(&o, &res) < 0)
        status = 1;
out:
    server_stop(&src);
    server_stop(&dst);
    bench_peer_stop(&c.peer);
    capture_unmap(&cap);
    free(c.xbuf);
    rmdir(c.dir);
    return status;
}
