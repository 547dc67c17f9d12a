// SPDX-License-Identifier: BSD-3-Clause
/*
 * The helpers shared by bench_latency, bench_stream and bench_report
 * (see bench_util.h).
 */
#include "bench_util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vucert/client.h"
#include "vucert/wire.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_pin_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int bench_usable_cpus(int *first, int *second, int *n)
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

void bench_ignore_sigpipe(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};

    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
}

uint64_t bench_cpu_ns(pid_t pid)
{
    char path[64];
    unsigned long long run = 0;
    FILE *f;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/schedstat");
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu", &run) != 1)
        run = 0;
    fclose(f);
    return (uint64_t)run;
}

int bench_write_full(int fd, const void *buf, size_t len)
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

int bench_read_full(int fd, void *buf, size_t len)
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

void *bench_map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

int bench_stop_child(pid_t pid, int sig)
{
    int status = -1;

    if (pid <= 0)
        return 0;
    kill(pid, sig);
    for (int waited = 0; waited < BENCH_STOP_GRACE_MS; waited++) {
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

int bench_find_server(const char *prog, const char *opt, char *buf, size_t cap)
{
    if (opt) {
        snprintf(buf, cap, "%s", opt);
    } else if (default_server(buf, cap) < 0) {
        fprintf(stderr, "%s: cannot find my own directory\n", prog);
        return -1;
    }
    if (access(buf, X_OK) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, buf, strerror(errno));
        return -1;
    }
    return 0;
}

int bench_make_tmpdir(const char *prog, char *dir, size_t cap)
{
    int e;

    snprintf(dir, cap, "/tmp/%s.XXXXXX", prog);
    if (mkdtemp(dir))
        return 0;
    e = errno;
    fprintf(stderr, "%s: mkdtemp: %s\n", prog, strerror(e));
    dir[0] = '\0';
    return -e;
}

/* ---- the raw AF_UNIX peer ---- */

int bench_peer_start(struct bench_peer *pe,
                     void (*child_main)(int fd, const void *arg),
                     const void *arg)
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
        child_main(sv[1], arg);
        _exit(1); /* child_main must not return */
    }
    close(sv[1]);
    pe->pid = pid;
    pe->fd = sv[0];
    return 0;
}

void bench_peer_stop(struct bench_peer *pe)
{
    if (pe->fd >= 0)
        close(pe->fd); /* the peer sees end of stream */
    pe->fd = -1;
    if (pe->pid > 0)
        bench_stop_child(pe->pid, SIGTERM);
    pe->pid = 0;
}

/* ---- a vucert-server process ---- */

int bench_server_start(struct bench_server *s, const char *path, int cpu,
                       const char *const argv[])
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Pinned before exec so the server never runs elsewhere. */
        if (bench_pin_to(cpu) < 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* execv's argv is not const for historical reasons only. */
        execv(path, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    return 0;
}

int bench_server_connect(const char *prog, struct bench_server *s,
                         const char *who)
{
    int rc;

    for (int waited = 0;; waited += BENCH_CONNECT_STEP_MS) {
        int st;

        rc = vuc_client_connect(s->sock, BENCH_CONNECT_STEP_MS, &s->cl);
        if (rc != -ETIMEDOUT || waited >= BENCH_CONNECT_WAIT_MS)
            break;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            fprintf(stderr, "%s: %s %s %d before listening\n", prog, who,
                    WIFEXITED(st) ? "exited with status" : "died of signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            return -ECHILD;
        }
    }
    if (rc < 0)
        s->cl = NULL;
    return rc;
}

int bench_negotiate(struct vuc_client *cl, int timeout_ms, const char *caps)
{
    struct vuc_reply rep;
    int rc;

    vuc_client_set_timeout(cl, timeout_ms);
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, caps,
                              &rep);
    if (rc == 0 && rep.is_error)
        rc = -EPROTO;
    vuc_reply_release(&rep);
    return rc;
}

void bench_server_stop(const char *prog, struct bench_server *s)
{
    int st;

    vuc_client_close(s->cl);
    s->cl = NULL;
    if (s->pid > 0) {
        st = bench_stop_child(s->pid, SIGTERM);
        if (st < 0)
            fprintf(stderr, "%s: note: could not reap the %s\n", prog, s->role);
        else if (WIFSIGNALED(st))
            fprintf(stderr, "%s: note: the %s died of signal %d\n", prog,
                    s->role, WTERMSIG(st));
        else if (WEXITSTATUS(st) != 0)
            fprintf(stderr, "%s: note: the %s exited with status %d\n", prog,
                    s->role, WEXITSTATUS(st));
    }
    s->pid = 0;
    if (s->sock[0])
        unlink(s->sock);
}

/* ---- a few rounds of one figure ---- */

void bench_series_add(struct bench_series *s, double v)
{
    if (s->n < sizeof(s->v) / sizeof(s->v[0]))
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_series_median(const struct bench_series *s)
{
    double v[64];

    if (s->n == 0)
        return 0;
    memcpy(v, s->v, s->n * sizeof(v[0]));
    qsort(v, s->n, sizeof(v[0]), cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

double bench_series_min(const struct bench_series *s)
{
    double m = s->n ? s->v[0] : 0;

    for (unsigned i = 1; i < s->n; i++)
        if (s->v[i] < m)
            m = s->v[i];
    return m;
}

double bench_series_max(const struct bench_series *s)
{
    double m = s->n ? s->v[0] : 0;

    for (unsigned i = 1; i < s->n; i++)
        if (s->v[i] > m)
            m = s->v[i];
    return m;
}

int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    int base = 10;
    char *end;

    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!*s || *s == '-' || *s == '+')
            return -EINVAL;
    }
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}
