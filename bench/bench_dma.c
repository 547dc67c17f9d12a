// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_dma: what one DMA_MAP and one DMA_UNMAP cost in vucert-server as
 * the number of mappings grows (bench/README.md). The server runs in this
 * process: requests go through vuc_srv_serve over a vuc_mem_pair, as in
 * tests/unit/test_server.c and fuzz/fuzz_server.c, so the figure is the
 * dispatcher and the server's tables, not the socket.
 *
 * For each size N, each order (ascending, descending, random IOVA) and
 * with dirty logging off and on (LOGGING_START with num_ranges 0, so
 * that every mapping is logged as it is made): N regions of 4 KiB,
 * without an fd, are mapped into an empty table and then unmapped in
 * the same kind of order (ascending unmaps the lowest first, descending
 * the highest, random a new shuffle). Timed: the last EDGE_OPS maps of
 * the fill and the first EDGE_OPS unmaps of the drain, which run with
 * the table at N - EDGE_OPS .. N mappings (the cost "at N"), and the
 * whole fill and drain (the mean over tables of 0 .. N); each span on
 * the wall clock, or this thread's CPU time when another process took
 * the CPU meanwhile (see struct stamp). Sizes below MIN_OPS are filled
 * and drained again until MIN_OPS of each ran.
 *
 * There is no physical limit to compare with: the figure is the ratio
 * of the cost at the largest size to the cost at the smallest, which a
 * structure of O(log n) per operation keeps near 1 (issue "Speed": at
 * most 1.5 from 1 to 64k mappings).
 *
 * Exit: 0 when every request succeeded (ratios are reported, not
 * enforced), 1 when one failed or the server could not be set up, 2 on a
 * usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vucert/server.h"
#include "vucert/transport.h"
#include "vucert/wire.h"

#include "bench_util.h"

#define EXIT_USAGE 2

/* The regions: 4 KiB each, 8 KiB apart (never adjacent), from 4 GiB. */
#define REGION_SIZE   UINT64_C(4096)
#define REGION_STRIDE UINT64_C(8192)
#define REGION_BASE   (UINT64_C(1) << 32)

/* vucert-server's most mappings (its max_dma_maps, README.md). */
#define MAX_SIZE  65535u
#define MAX_SIZES 8u

#define EDGE_OPS       1024u
#define MIN_OPS        16384u
#define QUICK_MIN_OPS  1024u
#define DEFAULT_ROUNDS 5u
#define TARGET_RATIO   1.5

enum order { ASC, DESC, RANDOM, ORDERS };
enum phase { MAP_EDGE, UNMAP_EDGE, MAP_ALL, UNMAP_ALL, PHASES };

static const char *const order_name[ORDERS] = {"asc", "desc", "random"};
static const char *const phase_key[PHASES] = {"map", "unmap", "map_mean",
                                              "unmap_mean"};

struct opts {
    uint32_t sizes[MAX_SIZES];
    unsigned nsizes;
    unsigned rounds;
    uint32_t min_ops;
    uint64_t seed;
    bool quick;
    const char *json;
};

/* One figure per order, logging off/on, size and phase: us per op. */
struct results {
    struct bench_series s[ORDERS][2][MAX_SIZES][PHASES];
};

struct bench {
    struct vuc_srv *s;
    struct vuc_conn *cli, *srv;
    uint16_t id;
    uint64_t rng;
    uint32_t *slot; /* the order of this fill or drain */
    uint8_t rx[512];
};

/* ---- the server, in process ---- */

/* Send one request, let the server handle it, read its reply: 0, the
 * reply's errno, or -1 when the exchange itself failed. */
static int xchg(struct bench *b, uint16_t cmd, const void *p, size_t len)
{
    struct vuc_hdr h = {.id = ++b->id, .cmd = cmd, .flags = VUC_TYPE_COMMAND};
    struct vuc_msg m;
    int rc;

    if (vuc_conn_send(b->cli, &h, p, len, NULL, 0, 0) < 0 ||
        vuc_srv_serve(b->s, b->srv, 0) != -EAGAIN)
        return -1;
    memset(&m, 0, sizeof(m));
    if (vuc_conn_recv_buf(b->cli, &m, b->rx, sizeof(b->rx), 0) < 0)
        return -1;
    rc = m.hdr.id != h.id || m.hdr.cmd != cmd ? -1
         : (m.hdr.flags & VUC_FLAG_ERROR)     ? (int)m.hdr.error
                                              : 0;
    vuc_msg_release(&m);
    return rc;
}

static int server_open(struct bench *b)
{
    static const char json[] = "{\"capabilities\":{\"max_dma_maps\":65535}}";
    struct vuc_srv_opts o;
    uint8_t v[4 + sizeof(json)];

    vuc_srv_opts_init(&o);
    o.state_size = VUC_SRV_STATE_SIZE_MIN; /* not what is measured */
    if (vuc_srv_new(&o, &b->s) < 0)
        return -1;
    if (vuc_mem_pair(&b->cli, &b->srv) < 0)
        return -1;
    b->id = 0;
    vuc_put_u16(v, VUC_VERSION_MAJOR);
    vuc_put_u16(v + 2, VUC_VERSION_MINOR);
    memcpy(v + 4, json, sizeof(json));
    return xchg(b, VUC_CMD_VERSION, v, sizeof(v)) ? -1 : 0;
}

static void server_close(struct bench *b)
{
    vuc_conn_close(b->cli);
    vuc_conn_close(b->srv);
    vuc_srv_free(b->s);
    b->cli = b->srv = NULL;
    b->s = NULL;
}

static int dma_map(struct bench *b, uint32_t slot)
{
    uint8_t p[32];

    vuc_put_u32(p, sizeof(p));
    vuc_put_u32(p + 4, VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE);
    vuc_put_u64(p + 8, 0); /* offset: no fd */
    vuc_put_u64(p + 16, REGION_BASE + slot * REGION_STRIDE);
    vuc_put_u64(p + 24, REGION_SIZE);
    return xchg(b, VUC_CMD_DMA_MAP, p, sizeof(p));
}

static int dma_unmap(struct bench *b, uint32_t slot)
{
    uint8_t p[24];

    vuc_put_u32(p, sizeof(p));
    vuc_put_u32(p + 4, 0);
    vuc_put_u64(p + 8, REGION_BASE + slot * REGION_STRIDE);
    vuc_put_u64(p + 16, REGION_SIZE);
    return xchg(b, VUC_CMD_DMA_UNMAP, p, sizeof(p));
}

/* LOGGING_START of every mapping (num_ranges 0) at 4 KiB, or STOP. */
static int logging(struct bench *b, bool on)
{
    uint8_t p[24];

    vuc_put_u32(p, on ? 24 : 8);
    vuc_put_u32(p + 4, VUC_FEATURE_SET | (on ? VUC_FEATURE_DMA_LOGGING_START
                                             : VUC_FEATURE_DMA_LOGGING_STOP));
    vuc_put_u64(p + 8, REGION_SIZE);
    vuc_put_u32(p + 16, 0);
    vuc_put_u32(p + 20, 0);
    return xchg(b, VUC_CMD_DEVICE_FEATURE, p, on ? 24 : 8);
}

/* ---- one measurement ---- */

/*
 * A point in time on two clocks: the wall clock, cheap to read (vDSO),
 * and this thread's CPU time, a system call of about a microsecond here
 * but blind to the time slices the scheduler gives to other processes
 * (the machine may be building something else; client and server both
 * run on this thread). A span is the smaller of the two: the wall time
 * when nothing preempted it, else the CPU time. Neither is blind to
 * what another process does to the caches.
 *
 * Spans of fewer than EDGE_OPS requests take the wall clock alone: they
 * are too short to be preempted often, and a system call before each
 * would leave the caches colder for the first request after it, which
 * at size 1 is every request.
 */
struct stamp {
    uint64_t wall, cpu;
    bool slow; /* cpu read too */
};

static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The start of a span: the slow clock first, outside the wall span. */
static void stamp_begin(struct stamp *t, bool slow)
{
    t->slow = slow;
    t->cpu = slow ? cpu_ns() : 0;
    t->wall = bench_now_ns();
}

/* The end of a span: the wall clock first. */
static void stamp_end(struct stamp *t, bool slow)
{
    t->slow = slow;
    t->wall = bench_now_ns();
    t->cpu = slow ? cpu_ns() : 0;
}

/* What an empty span measures on each clock (calibrate()). */
static uint64_t wall_zero, cpu_zero;

static uint64_t span(const struct stamp *a, const struct stamp *b)
{
    uint64_t w = b->wall - a->wall, c = b->cpu - a->cpu;

    /* less what reading the clocks adds to it: the wall clock's 20 to
     * 70 ns here are a tenth of a request at size 1 */
    w = w > wall_zero ? w - wall_zero : 0;
    if (!a->slow || !b->slow)
        return w;
    c = c > cpu_zero ? c - cpu_zero : 0;
    return w < c ? w : c;
}

/* The least of many empty spans, on each clock. */
static void calibrate(void)
{
    wall_zero = cpu_zero = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        struct stamp a, b;

        stamp_begin(&a, true);
        stamp_end(&b, true);
        if (b.wall - a.wall < wall_zero)
            wall_zero = b.wall - a.wall;
        if (b.cpu - a.cpu < cpu_zero)
            cpu_zero = b.cpu - a.cpu;
    }
}

static uint64_t next_rand(struct bench *b)
{
    /* splitmix64: a fixed sequence per --seed */
    uint64_t z = (b->rng += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void arrange(struct bench *b, enum order o, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        b->slot[i] = o == DESC ? n - 1 - i : i;
    if (o != RANDOM)
        return;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(next_rand(b) % (i + 1));
        uint32_t t = b->slot[i];

        b->slot[i] = b->slot[j];
        b->slot[j] = t;
    }
}

/*
 * One sample: a fresh server, N regions mapped and unmapped in order o
 * (again until min_ops of each ran); us per op of each phase into r.
 */
static int sample(struct bench *b, enum order o, bool log, uint32_t n,
                  uint32_t min_ops, double r[PHASES])
{
    uint32_t edge = n < EDGE_OPS ? n : EDGE_OPS;
    uint32_t reps = n >= min_ops ? 1 : (min_ops + n - 1) / n;
    bool slow = edge >= EDGE_OPS;
    uint64_t ns[PHASES] = {0};
    int rc = -1;

    if (server_open(b) < 0) {
        fprintf(stderr, "bench_dma: cannot set up the server\n");
        goto out;
    }
    for (uint32_t k = 0; k < reps; k++) {
        struct stamp t0, t1, t2;

        if (log && logging(b, true) != 0) {
            fprintf(stderr, "bench_dma: LOGGING_START failed\n");
            goto out;
        }
        arrange(b, o, n);
        stamp_begin(&t0, slow);
        t1 = t0;
        for (uint32_t i = 0; i < n; i++) {
            if (i == n - edge && i > 0)
                stamp_begin(&t1, slow);
            if (dma_map(b, b->slot[i]) != 0) {
                fprintf(stderr, "bench_dma: DMA_MAP %u of %u failed\n", i, n);
                goto out;
            }
        }
        stamp_end(&t2, slow);
        ns[MAP_ALL] += span(&t0, &t2);
        ns[MAP_EDGE] += span(&t1, &t2);

        arrange(b, o, n);
        stamp_begin(&t0, slow);
        for (uint32_t i = 0; i < n; i++) {
            if (i == edge)
                stamp_end(&t1, slow);
            if (dma_unmap(b, b->slot[i]) != 0) {
                fprintf(stderr, "bench_dma: DMA_UNMAP %u of %u failed\n", i, n);
                goto out;
            }
        }
        stamp_end(&t2, slow);
        if (edge == n)
            t1 = t2;
        ns[UNMAP_ALL] += span(&t0, &t2);
        ns[UNMAP_EDGE] += span(&t0, &t1);
        if (log && logging(b, false) != 0) {
            fprintf(stderr, "bench_dma: LOGGING_STOP failed\n");
            goto out;
        }
    }
    r[MAP_EDGE] = (double)ns[MAP_EDGE] / 1e3 / ((double)edge * reps);
    r[UNMAP_EDGE] = (double)ns[UNMAP_EDGE] / 1e3 / ((double)edge * reps);
    r[MAP_ALL] = (double)ns[MAP_ALL] / 1e3 / ((double)n * reps);
    r[UNMAP_ALL] = (double)ns[UNMAP_ALL] / 1e3 / ((double)n * reps);
    rc = 0;
out:
    server_close(b);
    return rc;
}

/* ---- output ---- */

/* cost(last size) / cost(first size), of the medians or (min) of the
 * minimums over the rounds */
static double ratio(const struct results *res, const struct opts *o, int ord,
                    int log, int ph, bool min)
{
    const struct bench_series *a = &res->s[ord][log][0][ph];
    const struct bench_series *b = &res->s[ord][log][o->nsizes - 1][ph];
    double lo = min ? bench_series_min(a) : bench_series_median(a);
    double hi = min ? bench_series_min(b) : bench_series_median(b);

    return lo > 0 ? hi / lo : 0;
}

/* The worst of the twelve "at N" ratios: the figure. */
static double worst_ratio(const struct results *res, const struct opts *o,
                          bool min, int *wo, int *wl, int *wp)
{
    double worst = 0;

    for (int ord = 0; ord < ORDERS; ord++)
        for (int log = 0; log < 2; log++)
            for (int ph = MAP_EDGE; ph <= UNMAP_EDGE; ph++)
                if (ratio(res, o, ord, log, ph, min) > worst) {
                    worst = ratio(res, o, ord, log, ph, min);
                    *wo = ord;
                    *wl = log;
                    *wp = ph;
                }
    return worst;
}

static void print_table(const struct results *res, const struct opts *o,
                        int first, const char *title)
{
    printf("%s\n%-7s %-4s %-6s", title, "order", "log", "op");
    for (unsigned z = 0; z < o->nsizes; z++)
        printf(" %8" PRIu32, o->sizes[z]);
    printf("  %s\n", o->nsizes > 1 ? "last/first" : "");
    for (int ord = 0; ord < ORDERS; ord++)
        for (int log = 0; log < 2; log++)
            for (int ph = first; ph < first + 2; ph++) {
                printf("%-7s %-4s %-6s", order_name[ord], log ? "on" : "off",
                       ph == first ? "map" : "unmap");
                for (unsigned z = 0; z < o->nsizes; z++)
                    printf(" %8.2f",
                           bench_series_median(&res->s[ord][log][z][ph]));
                if (o->nsizes > 1)
                    printf("  %10.2f", ratio(res, o, ord, log, ph, false));
                printf("\n");
            }
    printf("\n");
}

static void print_results(const struct results *res, const struct opts *o)
{
    double worst, worst_min;
    int wo = 0, wl = 0, wp = 0, mo = 0, ml = 0, mp = 0;

    print_table(res, o, MAP_EDGE,
                "us per request at N mappings: the last 1024 maps of the "
                "fill,\nthe first 1024 unmaps of the drain (median over the "
                "rounds)");
    print_table(res, o, MAP_ALL,
                "us per request over the whole fill and drain (tables of "
                "0..N mappings)");
    if (o->nsizes < 2)
        return;
    worst = worst_ratio(res, o, false, &wo, &wl, &wp);
    worst_min = worst_ratio(res, o, true, &mo, &ml, &mp);
    printf("worst ratio cost(%" PRIu32 ") / cost(%" PRIu32
           "): %.2f (%s, logging %s, %s; target <= %.2f);\n"
           "of the minimums over the rounds: %.2f (%s, logging %s, %s)\n",
           o->sizes[o->nsizes - 1], o->sizes[0], worst, order_name[wo],
           wl ? "on" : "off", wp == MAP_EDGE ? "map" : "unmap", TARGET_RATIO,
           worst_min, order_name[mo], ml ? "on" : "off",
           mp == MAP_EDGE ? "map" : "unmap");
}

static int write_json(const struct results *res, const struct opts *o)
{
    FILE *f = fopen(o->json, "w");
    bool first = true;

    if (!f) {
        fprintf(stderr, "bench_dma: %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\n  \"benchmark\": \"bench_dma\",\n  \"unit\": \"us\",\n"
            "  \"region_size\": %" PRIu64 ",\n  \"edge_ops\": %u,\n"
            "  \"rounds\": %u,\n  \"seed\": %" PRIu64 ",\n"
            "  \"target_ratio\": %.2f,\n  \"sizes\": [",
            REGION_SIZE, EDGE_OPS, o->rounds, o->seed, TARGET_RATIO);
    for (unsigned z = 0; z < o->nsizes; z++)
        fprintf(f, "%s%" PRIu32, z ? ", " : "", o->sizes[z]);
    fprintf(f, "],\n  \"cells\": [");
    for (int ord = 0; ord < ORDERS; ord++)
        for (int log = 0; log < 2; log++) {
            fprintf(f, "%s\n    {\"order\": \"%s\", \"logging\": %s",
                    first ? "" : ",", order_name[ord], log ? "true" : "false");
            first = false;
            for (int ph = 0; ph < PHASES; ph++) {
                fprintf(f, ", \"%s\": [", phase_key[ph]);
                for (unsigned z = 0; z < o->nsizes; z++)
                    fprintf(f, "%s%.4f", z ? ", " : "",
                            bench_series_median(&res->s[ord][log][z][ph]));
                fprintf(f, "], \"%s_min\": [", phase_key[ph]);
                for (unsigned z = 0; z < o->nsizes; z++)
                    fprintf(f, "%s%.4f", z ? ", " : "",
                            bench_series_min(&res->s[ord][log][z][ph]));
                fprintf(f, "]");
            }
            fprintf(f,
                    ", \"ratio_map\": %.4f, \"ratio_unmap\": %.4f"
                    ", \"ratio_map_min\": %.4f, \"ratio_unmap_min\": %.4f}",
                    ratio(res, o, ord, log, MAP_EDGE, false),
                    ratio(res, o, ord, log, UNMAP_EDGE, false),
                    ratio(res, o, ord, log, MAP_EDGE, true),
                    ratio(res, o, ord, log, UNMAP_EDGE, true));
        }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_dma: %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_dma [--sizes N,N,...] [--rounds R] [--seed S] "
            "[--quick]\n"
            "                 [--json FILE]\n"
            "\n"
            "DMA_MAP and DMA_UNMAP of N regions in ascending, descending\n"
            "and random order, with dirty logging off and on, against\n"
            "vucert-server in this process; the cost per request at each\n"
            "size and the ratio of the last size's to the first's.\n"
            "\n"
            "  --sizes LIST  up to %u sizes, ascending, 1..%u (default\n"
            "                1,1024,16384,65535)\n"
            "  --rounds R    rounds, 1..64 (default %u)\n"
            "  --seed S      the random order's seed (default 1)\n"
            "  --quick       sizes 1,64,1024, one round, %u ops per size\n"
            "                at least (CI smoke)\n"
            "  --json FILE   also write the figures as JSON\n",
            MAX_SIZES, MAX_SIZE, DEFAULT_ROUNDS, QUICK_MIN_OPS);
}

static int parse_sizes(const char *arg, struct opts *o)
{
    char buf[128], *save = NULL, *tok;
    uint64_t v;

    if (strlen(arg) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, arg);
    o->nsizes = 0;
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (o->nsizes == MAX_SIZES ||
            bench_parse_u64(tok, 1, MAX_SIZE, &v) < 0 ||
            (o->nsizes && v <= o->sizes[o->nsizes - 1]))
            return -EINVAL;
        o->sizes[o->nsizes++] = (uint32_t)v;
    }
    return o->nsizes ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"sizes", required_argument, NULL, 'z'},
        {"rounds", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 'S'},
        {"quick", no_argument, NULL, 'q'},
        {"json", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const uint32_t def[] = {1, 1024, 16384, MAX_SIZE};
    static const uint32_t quick[] = {1, 64, 1024};
    bool sizes_set = false, rounds_set = false;
    uint64_t v;
    int opt;

    memset(o, 0, sizeof(*o));
    memcpy(o->sizes, def, sizeof(def));
    o->nsizes = sizeof(def) / sizeof(def[0]);
    o->rounds = DEFAULT_ROUNDS;
    o->min_ops = MIN_OPS;
    o->seed = 1;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case 'z':
            if (parse_sizes(optarg, o) < 0) {
                fprintf(stderr,
                        "bench_dma: bad --sizes '%s' (up to %u, ascending, "
                        "1..%u)\n",
                        optarg, MAX_SIZES, MAX_SIZE);
                return -EINVAL;
            }
            sizes_set = true;
            break;
        case 'r':
            if (bench_parse_u64(optarg, 1, 64, &v) < 0) {
                fprintf(stderr, "bench_dma: bad --rounds '%s'\n", optarg);
                return -EINVAL;
            }
            o->rounds = (unsigned)v;
            rounds_set = true;
            break;
        case 'S':
            if (bench_parse_u64(optarg, 0, UINT64_MAX, &o->seed) < 0) {
                fprintf(stderr, "bench_dma: bad --seed '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        case 'q':
            o->quick = true;
            break;
        case 'j':
            o->json = optarg;
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
        fprintf(stderr, "bench_dma: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (o->quick) {
        if (!sizes_set) {
            memcpy(o->sizes, quick, sizeof(quick));
            o->nsizes = sizeof(quick) / sizeof(quick[0]);
        }
        if (!rounds_set)
            o->rounds = 1;
        o->min_ops = QUICK_MIN_OPS;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct bench b;
    struct results *res;
    int cpu0 = -1, cpu1 = -1, ncpu = 0, rc, status = 0;

    if (parse_args(argc, argv, &o) < 0)
        return EXIT_USAGE;
    memset(&b, 0, sizeof(b));
    b.rng = o.seed;
    res = calloc(1, sizeof(*res));
    b.slot = calloc(MAX_SIZE, sizeof(*b.slot));
    if (!res || !b.slot) {
        fprintf(stderr, "bench_dma: out of memory\n");
        status = 1;
        goto out;
    }
    rc = bench_usable_cpus(&cpu0, &cpu1, &ncpu);
    if (rc == 0)
        rc = bench_pin_to(cpu0);
    if (rc < 0) {
        fprintf(stderr, "bench_dma: cannot pin to a CPU: %s\n", strerror(-rc));
        status = 1;
        goto out;
    }

    calibrate();
    printf("bench_dma: DMA_MAP / DMA_UNMAP of %" PRIu64
           " KiB regions without an fd,\n"
           "vucert-server in process (vuc_srv_serve over vuc_mem_pair); "
           "%u rounds, seed %" PRIu64 ", CPU %d;\n"
           "an empty span: %" PRIu64 " ns wall clock, %" PRIu64
           " ns CPU time (subtracted)\n\n",
           REGION_SIZE >> 10, o.rounds, o.seed, cpu0, wall_zero, cpu_zero);
    fflush(stdout);

    /* Rounds outermost: drift over the run hits every cell alike. */
    for (unsigned r = 0; r < o.rounds && !status; r++)
        for (unsigned z = 0; z < o.nsizes && !status; z++)
            for (int ord = 0; ord < ORDERS && !status; ord++)
                for (int log = 0; log < 2 && !status; log++) {
                    double v[PHASES];

                    if (sample(&b, (enum order)ord, log, o.sizes[z], o.min_ops,
                               v) < 0) {
                        status = 1;
                        break;
                    }
                    for (int ph = 0; ph < PHASES; ph++)
                        bench_series_add(&res->s[ord][log][z][ph], v[ph]);
                }
    if (status) {
        fprintf(stderr, "bench_dma: measurement failed\n");
        goto out;
    }
    print_results(res, &o);
    if (o.json && write_json(res, &o) < 0)
        status = 1;
out:
    free(b.slot);
    free(res);
    return status;
}
