// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert certify --jobs N: the selected cases on N server instances at
 * once. Every case makes the state it needs on its own connection (the
 * verdicts do not depend on the order: --shuffle), so cases can run side
 * by side as long as each server instance serves one of them at a time.
 *
 * Each job is a child process with a server of its own, started from the
 * --server-cmd template on a socket of its own (and a destination of its
 * own for the migration round trip), its stderr read for the cases it
 * runs. Jobs take the next case from a counter they share, so a slow
 * case does not hold the others back, and send each result to the parent
 * on a pipe; the parent puts it in its place in the selection's order,
 * prints it, and writes the reports as for one job.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_priv.h"
#include "vucert/harness.h"

/* A result on the pipe: the fixed part, then the four strings, each
 * as its length (u32, 0xffffffff for NULL) and its bytes. */
struct wire_result {
    uint32_t k; /* its place in the selection */
    uint32_t verdict;
    uint32_t checks;
    uint32_t no_migration;
    double duration_ms;
};

static int write_all(int fd, const void *p, size_t n)
{
    const char *b = p;

    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *b = p;

    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0xffffffffu;

    if (write_all(fd, &n, sizeof(n)) < 0)
        return -1;
    return s ? write_all(fd, s, n) : 0;
}

static int recv_str(int fd, char **out)
{
    uint32_t n;

    *out = NULL;
    if (read_all(fd, &n, sizeof(n)) < 0)
        return -1;
    if (n == 0xffffffffu)
        return 0;
    if (n > (256u << 20))
        return -1;
    *out = malloc((size_t)n + 1);
    if (*out == NULL || read_all(fd, *out, n) < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    (*out)[n] = '\0';
    return 0;
}

static int send_result(int fd, uint32_t k, const struct vuc_result *r)
{
    struct wire_result w = {.k = k,
                            .verdict = (uint32_t)r->verdict,
                            .checks = r->checks,
                            .no_migration = r->no_migration,
                            .duration_ms = r->duration_ms};

    if (write_all(fd, &w, sizeof(w)) < 0 || send_str(fd, r->reason) < 0 ||
        send_str(fd, r->exchange) < 0 || send_str(fd, r->root_cause) < 0 ||
        send_str(fd, r->notes) < 0)
        return -1;
    return 0;
}

/* A job: its own server (and destination), cases from the counter. */
static _Noreturn void job(int fd, unsigned *next, const struct vuc_jobs *j)
{
    struct vuc_target t = {.server_cmd = j->target->server_cmd,
                           .timeout_ms = j->target->timeout_ms,
                           .exits_on_disconnect =
                               j->target->exits_on_disconnect};
    struct vuc_target d = {0};
    char err[512], dest_err[512];
    int rc, drc = 0;

    rc = vuc_target_start(&t, err, sizeof(err));
    if (j->dest != NULL) {
        d.server_cmd = j->dest->server_cmd;
        d.timeout_ms = j->dest->timeout_ms;
        drc = vuc_target_start(&d, dest_err, sizeof(dest_err));
    }
    for (;;) {
        unsigned k = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
        struct vuc_result r = {0};
        if (k >= j->n_sel)
            break;
        r.c = &j->cases[j->order[k]];
        if (rc < 0 || drc < 0) {
            r.verdict = VUC_ERROR;
            r.reason = strdup(rc < 0 ? err : dest_err);
        } else {
            vuc_run_case(&t, j->dest ? &d : NULL, j->profile, j->opts, j->info,
                         r.c, &r);
        }
        if (send_result(fd, k, &r) < 0)
            break;
        free(r.reason);
        free(r.exchange);
        free(r.root_cause);
        free(r.notes);
    }
    vuc_target_cleanup(&t);
    vuc_target_cleanup(&d);
    _exit(0);
}

int vuc_run_jobs(const struct vuc_jobs *j, struct vuc_result *res,
                 void (*done)(void *arg, size_t k, size_t n_done), void *arg)
{
    unsigned *next = mmap(NULL, sizeof(*next), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct pollfd *p = calloc(j->jobs, sizeof(*p));
    pid_t *pids = calloc(j->jobs, sizeof(*pids));
    size_t n_done = 0, open = 0;
    int rc = 0;

    if (next == MAP_FAILED || p == NULL || pids == NULL) {
        free(p);
        free(pids);
        if (next != MAP_FAILED)
            munmap(next, sizeof(*next));
        return -ENOMEM;
    }
    *next = 0;
    fflush(NULL); /* nothing buffered is written twice */
    for (unsigned i = 0; i < j->jobs; i++) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
            rc = -errno;
            break;
        }
        pids[i] = fork();
        if (pids[i] < 0) {
            rc = -errno;
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pids[i] == 0) {
            close(fds[0]);
            for (unsigned k = 0; k < i; k++)
                close(p[k].fd);
            job(fds[1], next, j);
        }
        close(fds[1]);
        p[i] = (struct pollfd){.fd = fds[0], .events = POLLIN};
        open++;
    }
    while (open > 0) {
        if (poll(p, j->jobs, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        for (unsigned i = 0; i < j->jobs; i++) {
            struct wire_result w;
            struct vuc_result *r;
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            if (read_all(p[i].fd, &w, sizeof(w)) < 0 || w.k >= j->n_sel) {
                close(p[i].fd); /* the job is done (or died) */
                p[i].fd = -1;
                open--;
                continue;
            }
            r = &res[w.k];
            r->c = &j->cases[j->order[w.k]];
            r->verdict = (enum vuc_verdict)w.verdict;
            r->checks = w.checks;
            r->no_migration = w.no_migration != 0;
            r->duration_ms = w.duration_ms;
            if (recv_str(p[i].fd, &r->reason) < 0 ||
                recv_str(p[i].fd, &r->exchange) < 0 ||
                recv_str(p[i].fd, &r->root_cause) < 0 ||
                recv_str(p[i].fd, &r->notes) < 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open--;
                continue;
            }
            done(arg, w.k, ++n_done);
        }
    }
    for (unsigned i = 0; i < j->jobs; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
    /* a case no job reported (a job died): vucert's failure, said */
    for (size_t k = 0; k < j->n_sel; k++) {
        if (res[k].c != NULL)
            continue;
        res[k].c = &j->cases[j->order[k]];
        res[k].verdict = VUC_ERROR;
        res[k].reason = strdup("the job that ran this case ended without "
                               "reporting it");
        done(arg, k, ++n_done);
    }
    munmap(next, sizeof(*next));
    free(p);
    free(pids);
    return rc;
}
