// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_latency: the round trip of a VFIO_USER_DEVICE_FEATURE
 * MIG_DEVICE_STATE GET sent with vucert's client library to a real
 * vucert-server process, as a ratio to the physical limit measured in the
 * same run (design.md: bench/): a raw AF_UNIX stream ping-pong of the
 * same sizes between two processes with plain blocking write()/read().
 *
 * Sizes (spec: Header; VFIO_USER_DEVICE_FEATURE): the request is the
 * 16-byte header + argsz/flags = 24 bytes, the reply adds the 8 bytes of
 * struct vfio_device_feature_mig_state = 32 bytes.
 *
 * Both placements are measured: client and server on the same CPU (every
 * round trip is two context switches), then on two CPUs (two cross-CPU
 * wake-ups). Raw and vucert rounds alternate so that drift (frequency,
 * noisy neighbours) hits both alike; medians are over all samples.
 *
 * Exit: 0 when the measurement ran (the ratio is reported, not
 * enforced), 1 when something failed to run, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vucert/client.h"
#include "vucert/wire.h"

#define EXIT_USAGE 2

#define DEFAULT_ITERATIONS 20000u
#define DEFAULT_ROUNDS     5u
/* Untimed round trips at the start of each round: the other method has
 * just evicted this one's caches and branch history. */
#define ROUND_WARMUP 200u
/* The target of the foundation issue: at most 15% above the raw socket. */
#define TARGET_RATIO 1.15
/* As vucert certify's default --timeout. */
#define CLIENT_TIMEOUT_MS 5000
/* Connection attempts while the server starts. */
#define CONNECT_STEP_MS 50
/* How long the server gets to exit after SIGTERM before SIGKILL. */
#define STOP_GRACE_MS 3000

/* spec: VFIO_USER_DEVICE_FEATURE with MIG_DEVICE_STATE data */
#define REQ_BYTES   (VUC_HDR_SIZE + VUC_FEATURE_HDR_SIZE)
#define REPLY_BYTES (REQ_BYTES + VUC_MIG_STATE_DATA_SIZE)

struct opts {
    unsigned iterations;
    unsigned rounds;
    const char *json;
    const char *server; /* NULL: vucert-server beside this binary */
};

struct stats {
    double median_us, p90_us, p99_us, min_us;
};

struct placement {
    const char *name;
    int client_cpu, server_cpu;
    bool skipped;
    const char *why_skipped;
    struct stats raw, vuc;
    double ratio;
};

/* Everything one placement needs; torn down by placement_end. */
struct run {
    const struct opts *o;
    const char *server_path;
    char dir[64];
    char sock[96];
    pid_t server_pid;
    pid_t echo_pid;
    int echo_fd;
    struct vuc_client *cl;
    uint64_t *raw_ns, *vuc_ns;
    size_t raw_n, vuc_n;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

/* The first two CPUs this process may run on (CPU 0 and 1 on an
 * unrestricted machine); *n is how many there are in all. */
static int usable_cpus(int *first, int *second, int *n)
{
    cpu_set_t set;

    *first = *second = -1;
    *n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return -errno;
    *n = CPU_COUNT(&set);
    for (int c = 0; c < CPU_SETSIZE && *second < 0; c++) {
        if (!CPU_ISSET((size_t)c, &set))
            continue;
        if (*first < 0)
            *first = c;
        else
            *second = c;
    }
    return *first < 0 ? -ENODEV : 0;
}

/* ---- raw ping-pong: the physical limit ---- */

static int write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ECONNRESET;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The echo child: 24 bytes in, 32 bytes out, until end of stream. */
static void echo_main(int fd, int cpu)
{
    uint8_t req[REQ_BYTES];
    uint8_t rep[REPLY_BYTES];

    memset(rep, 0, sizeof(rep));
    if (pin_to(cpu) < 0)
        _exit(1);
    for (;;) {
        if (read_full(fd, req, sizeof(req)) < 0)
            _exit(0);
        memcpy(rep, req, sizeof(req));
        if (write_full(fd, rep, sizeof(rep)) < 0)
            _exit(1);
    }
}

static int start_echo(struct run *r, int cpu)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        int e = errno;

        close(sv[0]);
        close(sv[1]);
        return -e;
    }
    if (pid == 0) {
        close(sv[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        echo_main(sv[1], cpu);
    }
    close(sv[1]);
    r->echo_pid = pid;
    r->echo_fd = sv[0];
    return 0;
}

/* One timed raw round trip; the request looks like the real one. */
static int raw_once(int fd, uint64_t *ns)
{
    uint8_t req[REQ_BYTES] = {0};
    uint8_t rep[REPLY_BYTES];
    uint64_t t0;
    int rc;

    vuc_put_u32(req + 4, REQ_BYTES);
    t0 = now_ns();
    rc = write_full(fd, req, sizeof(req));
    if (rc == 0)
        rc = read_full(fd, rep, sizeof(rep));
    *ns = now_ns() - t0;
    return rc;
}

/* ---- vucert-server and the client library ---- */

static int start_server(struct run *r, int cpu)
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Pinned before exec so the server never runs elsewhere. */
        if (pin_to(cpu) < 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execl(r->server_path, "vucert-server", "--socket", r->sock,
              (char *)NULL);
        _exit(127);
    }
    r->server_pid = pid;
    return 0;
}

/* SIGTERM, then SIGKILL after a grace period. Returns the wait status or
 * -1 if the child could not be reaped. */
static int stop_child(pid_t pid, int sig)
{
    int status = -1;

    if (pid <= 0)
        return 0;
    kill(pid, sig);
    for (int waited = 0; waited < STOP_GRACE_MS; waited++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        struct timespec ms = {0, 1000000};

        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return -1;
        nanosleep(&ms, NULL);
    }
    kill(pid, SIGKILL);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static int vuc_once(struct vuc_client *cl, uint64_t *ns)
{
    uint32_t state = 0, err = 0;
    uint64_t t0 = now_ns();
    int rc = vuc_client_get_state(cl, &state, &err);

    *ns = now_ns() - t0;
    return rc;
}

static int connect_client(struct run *r)
{
    uint32_t state, err = 0;
    struct vuc_reply rep;
    int rc;

    /* Short attempts, so a server that dies at once is reported at once
     * rather than after the whole timeout. */
    for (int waited = 0;; waited += CONNECT_STEP_MS) {
        int st;

        rc = vuc_client_connect(r->sock, CONNECT_STEP_MS, &r->cl);
        if (rc != -ETIMEDOUT || waited >= CLIENT_TIMEOUT_MS)
            break;
        if (waitpid(r->server_pid, &st, WNOHANG) == r->server_pid) {
            r->server_pid = 0;
            fprintf(stderr, "bench_latency: %s %s %d before listening\n",
                    r->server_path,
                    WIFEXITED(st) ? "exited with status" : "died of signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            return -ECHILD;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "bench_latency: connect %s: %s\n", r->sock,
                strerror(-rc));
        return rc;
    }
    vuc_client_set_timeout(r->cl, CLIENT_TIMEOUT_MS);
    rc = vuc_client_negotiate(r->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              &rep);
    if (rc == 0 && rep.is_error)
        rc = -EPROTO;
    vuc_reply_release(&rep);
    if (rc == 0)
        rc = vuc_client_get_state(r->cl, &state, &err);
    if (rc < 0) {
        fprintf(stderr, "bench_latency: first GET failed (%s): %s\n",
                strerror(-rc), vuc_client_last_error(r->cl));
        return rc;
    }
    return 0;
}

/* ---- measurement ---- */

enum method { RAW, VUC };

/* count timed round trips (stored when out is not NULL). */
static int measure(struct run *r, enum method m, size_t count, uint64_t *out)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t ns;
        int rc = m == RAW ? raw_once(r->echo_fd, &ns) : vuc_once(r->cl, &ns);

        if (rc < 0) {
            fprintf(stderr, "bench_latency: %s round trip failed: %s%s%s\n",
                    m == RAW ? "raw" : "vucert", strerror(-rc),
                    m == VUC ? ": " : "",
                    m == VUC ? vuc_client_last_error(r->cl) : "");
            return rc;
        }
        if (out)
            out[i] = ns;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v (n > 0), in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)(p * (double)n + 0.999999);

    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

static void summarize(uint64_t *v, size_t n, struct stats *s)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    s->min_us = (double)v[0] / 1000.0;
    s->median_us = pct_us(v, n, 0.50);
    s->p90_us = pct_us(v, n, 0.90);
    s->p99_us = pct_us(v, n, 0.99);
}

static void placement_end(struct run *r)
{
    int st;

    vuc_client_close(r->cl);
    r->cl = NULL;
    if (r->echo_fd >= 0)
        close(r->echo_fd); /* the echo child sees end of stream */
    r->echo_fd = -1;
    if (r->echo_pid > 0)
        stop_child(r->echo_pid, SIGTERM);
    r->echo_pid = 0;
    if (r->server_pid > 0) {
        st = stop_child(r->server_pid, SIGTERM);
        if (st < 0)
            fprintf(stderr, "bench_latency: note: could not reap the server\n");
        else if (WIFSIGNALED(st))
            fprintf(stderr,
                    "bench_latency: note: the server died of signal %d\n",
                    WTERMSIG(st));
        else if (WEXITSTATUS(st) != 0)
            fprintf(stderr,
                    "bench_latency: note: the server exited with status %d\n",
                    WEXITSTATUS(st));
    }
    r->server_pid = 0;
    unlink(r->sock);
}

static int run_placement(struct run *r, struct placement *pl)
{
    const struct opts *o = r->o;
    size_t warm = o->iterations / 10;
    size_t per = o->iterations / o->rounds;
    size_t extra = o->iterations % o->rounds;
    int rc;

    if (warm < 1000)
        warm = 1000;
    if (warm > 20000)
        warm = 20000;
    r->raw_n = r->vuc_n = 0;
    rc = pin_to(pl->client_cpu);
    if (rc < 0) {
        fprintf(stderr, "bench_latency: pin to CPU %d: %s\n", pl->client_cpu,
                strerror(-rc));
        return rc;
    }
    /* The echo child is forked before the client connects, so it holds
     * no copy of the client's socket. */
    rc = start_server(r, pl->server_cpu);
    if (rc == 0)
        rc = start_echo(r, pl->server_cpu);
    if (rc == 0)
        rc = connect_client(r);
    if (rc == 0)
        rc = measure(r, RAW, warm, NULL);
    if (rc == 0)
        rc = measure(r, VUC, warm, NULL);
    for (unsigned k = 0; rc == 0 && k < o->rounds; k++) {
        size_t n = per + (k < extra ? 1 : 0);
        /* Alternate which goes first, so neither always follows the
         * other's cache footprint. */
        enum method first = (k % 2 == 0) ? RAW : VUC;

        for (int j = 0; j < 2 && rc == 0; j++) {
            enum method m = j == 0 ? first : (first == RAW ? VUC : RAW);
            uint64_t *dst =
                m == RAW ? r->raw_ns + r->raw_n : r->vuc_ns + r->vuc_n;

            rc = measure(r, m, ROUND_WARMUP, NULL);
            if (rc == 0)
                rc = measure(r, m, n, dst);
            if (rc == 0 && m == RAW)
                r->raw_n += n;
            else if (rc == 0)
                r->vuc_n += n;
        }
    }
    placement_end(r);
    if (rc < 0)
        return rc;
    summarize(r->raw_ns, r->raw_n, &pl->raw);
    summarize(r->vuc_ns, r->vuc_n, &pl->vuc);
    pl->ratio = pl->vuc.median_us / pl->raw.median_us;
    return 0;
}

/* ---- output ---- */

static void print_row(const char *place, const char *method,
                      const struct stats *s)
{
    printf("%-10s %-22s %9.2f %9.2f %9.2f %9.2f\n", place, method, s->median_us,
           s->p90_us, s->p99_us, s->min_us);
}

static void print_stats_json(FILE *f, const char *key, const struct stats *s)
{
    fprintf(f,
            "      \"%s\": {\"median\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
            "\"min\": %.3f}",
            key, s->median_us, s->p90_us, s->p99_us, s->min_us);
}

static int write_json(const struct opts *o, const struct placement *pls,
                      size_t n)
{
    FILE *f = fopen(o->json, "w");

    if (!f) {
        fprintf(stderr, "bench_latency: %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\n  \"benchmark\": \"bench_latency\",\n"
            "  \"message\": \"DEVICE_FEATURE MIG_DEVICE_STATE GET\",\n"
            "  \"request_bytes\": %u,\n  \"reply_bytes\": %u,\n"
            "  \"iterations\": %u,\n  \"rounds\": %u,\n"
            "  \"unit\": \"us\",\n  \"target_ratio\": %.2f,\n"
            "  \"placements\": [\n",
            (unsigned)REQ_BYTES, (unsigned)REPLY_BYTES, o->iterations,
            o->rounds, TARGET_RATIO);
    for (size_t i = 0; i < n; i++) {
        const struct placement *p = &pls[i];

        fprintf(f, "    {\n      \"name\": \"%s\",\n", p->name);
        if (p->skipped) {
            fprintf(f, "      \"skipped\": true,\n      \"reason\": \"%s\"\n",
                    p->why_skipped);
        } else {
            fprintf(f,
                    "      \"skipped\": false,\n      \"client_cpu\": %d,\n"
                    "      \"server_cpu\": %d,\n",
                    p->client_cpu, p->server_cpu);
            print_stats_json(f, "raw", &p->raw);
            fprintf(f, ",\n");
            print_stats_json(f, "vucert", &p->vuc);
            fprintf(f, ",\n      \"ratio\": %.4f\n", p->ratio);
        }
        fprintf(f, "    }%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_latency: %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_latency [--iterations N] [--rounds R] "
            "[--json FILE] [--server PATH]\n"
            "\n"
            "Round trip of a MIG_DEVICE_STATE GET through vucert's client\n"
            "library to vucert-server, against a raw AF_UNIX ping-pong of\n"
            "the same sizes (%u-byte request, %u-byte reply), on the same\n"
            "CPU and on two CPUs.\n"
            "\n"
            "  --iterations N  timed round trips per method and placement\n"
            "                  (default %u)\n"
            "  --rounds R      alternating raw/vucert rounds (default %u)\n"
            "  --json FILE     also write the figures as JSON\n"
            "  --server PATH   the server binary (default: vucert-server\n"
            "                  beside bench_latency)\n",
            (unsigned)REQ_BYTES, (unsigned)REPLY_BYTES, DEFAULT_ITERATIONS,
            DEFAULT_ROUNDS);
}

static int parse_uint(const char *s, unsigned min, unsigned *out)
{
    unsigned long v;
    char *end;

    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > UINT_MAX / 2)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'},
        {"json", required_argument, NULL, 'j'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    o->iterations = DEFAULT_ITERATIONS;
    o->rounds = DEFAULT_ROUNDS;
    o->json = NULL;
    o->server = NULL;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (parse_uint(optarg, 1, &o->iterations) < 0) {
                fprintf(stderr, "bench_latency: bad --iterations '%s'\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case 'r':
            if (parse_uint(optarg, 1, &o->rounds) < 0) {
                fprintf(stderr, "bench_latency: bad --rounds '%s'\n", optarg);
                return -EINVAL;
            }
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
        fprintf(stderr, "bench_latency: unexpected argument '%s'\n",
                argv[optind]);
        return -EINVAL;
    }
    if (o->rounds > o->iterations)
        o->rounds = o->iterations;
    return 0;
}

/* vucert-server beside this binary, as vucert finds it. */
static int default_server(char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int w;

    if (n <= 0)
        return -errno;
    self[n] = '\0';
    w = snprintf(buf, cap, "%s/vucert-server", dirname(self));
    return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct run r;
    struct placement pls[2] = {
        {.name = "same-cpu"},
        {.name = "cross-cpu"},
    };
    struct sigaction ign = {.sa_handler = SIG_IGN};
    char server[PATH_MAX + 32];
    int cpu0 = -1, cpu1 = -1, ncpu = 0, rc;
    int status = 0;

    if (parse_args(argc, argv, &o) < 0)
        return EXIT_USAGE;
    if (o.server) {
        snprintf(server, sizeof(server), "%s", o.server);
    } else if (default_server(server, sizeof(server)) < 0) {
        fprintf(stderr, "bench_latency: cannot find my own directory\n");
        return 1;
    }
    if (access(server, X_OK) < 0) {
        fprintf(stderr, "bench_latency: %s: %s\n", server, strerror(errno));
        return 1;
    }
    rc = usable_cpus(&cpu0, &cpu1, &ncpu);
    if (rc < 0) {
        fprintf(stderr, "bench_latency: no usable CPU: %s\n", strerror(-rc));
        return 1;
    }
    /* A dead echo child must be an error return, not a signal. */
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);

    memset(&r, 0, sizeof(r));
    r.o = &o;
    r.server_path = server;
    r.echo_fd = -1;
    snprintf(r.dir, sizeof(r.dir), "/tmp/bench_latency.XXXXXX");
    if (!mkdtemp(r.dir)) {
        fprintf(stderr, "bench_latency: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(r.sock, sizeof(r.sock), "%s/sock", r.dir);
    r.raw_ns = calloc(o.iterations, sizeof(uint64_t));
    r.vuc_ns = calloc(o.iterations, sizeof(uint64_t));
    if (!r.raw_ns || !r.vuc_ns) {
        fprintf(stderr, "bench_latency: out of memory\n");
        status = 1;
        goto out;
    }

    pls[0].client_cpu = pls[0].server_cpu = cpu0;
    pls[1].client_cpu = cpu0;
    pls[1].server_cpu = cpu1;
    if (cpu1 < 0) {
        pls[1].skipped = true;
        pls[1].why_skipped = "only 1 CPU available";
    }

    printf("bench_latency: DEVICE_FEATURE MIG_DEVICE_STATE GET round trip, "
           "%u-byte request, %u-byte reply\n",
           (unsigned)REQ_BYTES, (unsigned)REPLY_BYTES);
    printf("server %s\n%u iterations per method in %u alternating rounds; "
           "%d usable CPUs\n",
           server, o.iterations, o.rounds, ncpu);
    printf("same-cpu: client and server on CPU %d", cpu0);
    if (cpu1 >= 0)
        printf("; cross-cpu: client on CPU %d, server on CPU %d", cpu0, cpu1);
    printf("\n\n");
    printf("%-10s %-22s %9s %9s %9s %9s\n", "placement", "method (us)",
           "median", "p90", "p99", "min");
    for (size_t i = 0; i < 2; i++) {
        if (pls[i].skipped) {
            printf("%-10s skipped: %s\n", pls[i].name, pls[i].why_skipped);
            continue;
        }
        rc = run_placement(&r, &pls[i]);
        if (rc < 0) {
            fprintf(stderr, "bench_latency: %s: measurement failed\n",
                    pls[i].name);
            status = 1;
            goto out;
        }
        print_row(pls[i].name, "raw AF_UNIX", &pls[i].raw);
        print_row(pls[i].name, "vucert client+server", &pls[i].vuc);
        fflush(stdout);
    }
    printf("\n");
    for (size_t i = 0; i < 2; i++) {
        if (pls[i].skipped)
            printf("ratio %s: skipped (%s)\n", pls[i].name, pls[i].why_skipped);
        else
            printf("ratio %s: %.2f (target <= %.2f)\n", pls[i].name,
                   pls[i].ratio, TARGET_RATIO);
    }
    if (o.json && write_json(&o, pls, 2) < 0)
        status = 1;
out:
    placement_end(&r);
    rmdir(r.dir);
    free(r.raw_ns);
    free(r.vuc_ns);
    return status;
}
