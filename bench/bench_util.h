/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every benchmark needs around its measurement (bench/README.md):
 * a clock, CPU pinning, full reads and writes, a raw AF_UNIX peer
 * process, a vucert-server process on a socket in a temp dir, and the
 * median/min/max of a few rounds. One copy, so that the physical limit
 * and the vucert figure of each benchmark are measured by the same
 * machinery in all of them.
 *
 * Errors are negative errnos. Helpers that take `prog` print their own
 * diagnostics prefixed with it ("bench_stream: ..."), as the benchmarks
 * did before they shared them.
 */
#ifndef VUC_BENCH_UTIL_H
#define VUC_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vuc_client;

/* Connection attempts while a server starts, and how long in all. */
#define BENCH_CONNECT_STEP_MS 50
#define BENCH_CONNECT_WAIT_MS 5000
/* How long a child gets to exit after SIGTERM before SIGKILL. */
#define BENCH_STOP_GRACE_MS 3000

uint64_t bench_now_ns(void);

/* Pin the calling process to one CPU. Returns 0 or -errno from
 * sched_setaffinity. */
int bench_pin_to(int cpu);

/* The first two CPUs this process may run on (CPU 0 and 1 on an
 * unrestricted machine, -1 when absent); *n is how many there are in
 * all. Returns 0, -errno from sched_getaffinity, or -ENODEV. */
int bench_usable_cpus(int *first, int *second, int *n);

/* A dead peer must be an error return from write(), not a signal. */
void bench_ignore_sigpipe(void);

/* CPU time a process has run, in ns (/proc/<pid>/schedstat; pid 0: this
 * one); 0 if it cannot be read. */
uint64_t bench_cpu_ns(pid_t pid);

/* All len bytes, retrying on EINTR. Return 0, -errno, or -EPIPE
 * (write) / -ECONNRESET (read) at end of stream. */
int bench_write_full(int fd, const void *buf, size_t len);
int bench_read_full(int fd, void *buf, size_t len);

/* Anonymous private memory, not reserved: untouched pages cost nothing.
 * NULL on failure. */
void *bench_map(size_t n);

/* SIGTERM (sig), then SIGKILL after BENCH_STOP_GRACE_MS. Returns the wait
 * status, 0 for no child (pid <= 0), or -1 if it could not be reaped. */
int bench_stop_child(pid_t pid, int sig);

/* The server binary: `opt` (--server) if given, else vucert-server beside
 * this binary, as vucert finds it; it must be executable. Returns 0, or
 * -1 after printing why. */
int bench_find_server(const char *prog, const char *opt, char *buf, size_t cap);

/* A fresh /tmp/<prog>.XXXXXX in dir. Returns 0, or -errno after printing
 * it (dir is then empty, so a teardown skips the rmdir). */
int bench_make_tmpdir(const char *prog, char *dir, size_t cap);

/* ---- the raw AF_UNIX peer: the physical limit ---- */

struct bench_peer {
    pid_t pid;
    int fd; /* our end of the socketpair; -1 when stopped */
};

/*
 * Fork a peer on a stream socketpair: child_main(fd, arg) runs in the
 * child on its end and must _exit (it is killed if we die). Fork it
 * before any client connects, so it holds no copy of a client socket.
 * Returns 0 or -errno.
 */
int bench_peer_start(struct bench_peer *pe,
                     void (*child_main)(int fd, const void *arg),
                     const void *arg);
/* Close our end (the peer sees end of stream), then reap it. */
void bench_peer_stop(struct bench_peer *pe);

/* ---- a vucert-server process ---- */

struct bench_server {
    const char *role; /* names it in notes: "server", "source", ... */
    pid_t pid;
    char sock[128];
    struct vuc_client *cl;
};

/* Fork and exec path with argv (argv[0] "vucert-server", the socket
 * s->sock among the options), pinned to cpu before exec so that it never
 * runs elsewhere, and killed if we die. Returns 0 or -errno of fork. */
int bench_server_start(struct bench_server *s, const char *path, int cpu,
                       const char *const argv[]);

/*
 * Connect to s->sock, retrying in short attempts so that a server that
 * dies at once is reported at once rather than after the whole wait.
 * Returns 0 with s->cl set, -ECHILD when the server exited before
 * listening (printed here, naming it `who`; s->pid is then 0), or the
 * -errno of vuc_client_connect with s->cl NULL (the caller reports it).
 */
int bench_server_connect(const char *prog, struct bench_server *s,
                         const char *who);

/* Set the client timeout and negotiate VERSION with caps (may be NULL).
 * Returns 0, -EPROTO for an error reply, or vuc_client_negotiate's
 * -errno. */
int bench_negotiate(struct vuc_client *cl, int timeout_ms, const char *caps);

/* Close the client, reap the server (a note on stderr unless it exited
 * with status 0), unlink the socket. Safe to call twice. */
void bench_server_stop(const char *prog, struct bench_server *s);

/* ---- a few rounds of one figure ---- */

struct bench_series {
    double v[64];
    unsigned n;
};

/* A command-line number: decimal, or hex with 0x; no sign, nothing
 * after it, within [min, max]. -EINVAL otherwise. */
int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Values past the 64th are dropped (rounds are capped at 64). */
void bench_series_add(struct bench_series *s, double v);
/* Median (mean of the middle two for an even count); 0 when empty. */
double bench_series_median(const struct bench_series *s);
/* 0 when empty. */
double bench_series_min(const struct bench_series *s);
double bench_series_max(const struct bench_series *s);

#endif
