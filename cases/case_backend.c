// SPDX-License-Identifier: BSD-3-Clause
/*
 * backend.*: the Backend Program Conventions, for a server vucert starts
 * (--server-cmd, or the embedded vucert-server): it takes --socket-path
 * and --fd, does not daemonize, keeps fds 0, 1 and 2, and honours
 * SIGTERM. With --socket vucert did not start the server: they SKIP.
 *
 * --socket-path and --fd are tried on a second instance started from the
 * --server-cmd template with the option that carries {socket} replaced
 * (vuc_target_cmd_with): "srv -s {socket} -v" becomes
 * "srv --socket-path=PATH -v" and "srv --fd=3 -v". The server under test
 * is stopped first, so one device runs at a time; the next case starts it
 * again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cases_priv.h"
#include "vucert/transport.h"

#define SPEC_BACKEND "Backend Program Conventions"

/* Did vucert start the server? If not, the case SKIPs. */
static bool started(struct vuc_ctx *ctx)
{
    if (ctx->target->cmd != NULL)
        return true;
    vuc_verdict(ctx, VUC_SKIP,
                "vucert did not start the server (--socket): the Backend "
                "Program Conventions are about how it is started");
    return false;
}

/* The last lines of what a second instance wrote on stderr, or "". */
static void instance_stderr(struct vuc_target *t, char *out, size_t cap)
{
    char *tail = vuc_target_stderr_tail(t, 400);
    char *p = tail;

    out[0] = '\0';
    if (tail == NULL)
        return;
    /* vucert's own "--- vucert: starting" line is not the server's */
    if (strncmp(p, "--- vucert:", 11) == 0 && strchr(p, '\n') != NULL)
        p = strchr(p, '\n') + 1;
    while (*p != '\0' && p[strlen(p) - 1] == '\n')
        p[strlen(p) - 1] = '\0';
    for (char *q = p; *q != '\0'; q++)
        if (*q == '\n')
            *q = ' ';
    if (*p != '\0')
        snprintf(out, cap, " (its stderr: %s)", p);
    free(tail);
}

/*
 * backend.socket-path and backend.fd: "The backend program must accept
 * the following commands line options: --socket-path=PATH ... --fd=FDNUM:
 * file descriptor for UNIX domain socket". Started with the option, the
 * server negotiates VERSION on that socket. For --fd, vucert passes one
 * end of a socketpair as fd 3, as a VMM hands over a connected socket.
 */
static void backend_option(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    bool use_fd = c->a != 0;
    const char *opt = use_fd ? "--fd=3" : "--socket-path={socket}";
    struct vuc_target t2 = {.timeout_ms = ctx->target->timeout_ms};
    struct vuc_conn *conn = NULL;
    struct vuc_reply r;
    char err[512], why[600], tail[480];
    int sv[2] = {-1, -1}, rc;
    char *tmpl;

    if (!started(ctx))
        return;
    tmpl = vuc_target_cmd_with(ctx->target->server_cmd, opt);
    if (tmpl == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    t2.server_cmd = tmpl;
    if (use_fd) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            vuc_verdict(ctx, VUC_ERROR, "socketpair: %s", strerror(errno));
            free(tmpl);
            return;
        }
        t2.pass_fd = sv[1];
    }
    /* one device at a time: the runner starts the usual one again */
    vuc_target_stop(ctx->target);
    rc = vuc_target_start(&t2, err, sizeof(err));
    if (sv[1] >= 0)
        close(sv[1]);
    if (rc < 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "started as '%s', the server did not come up: %s "
                    "(\"The backend program must accept ... %s\")",
                    t2.cmd ? t2.cmd : tmpl, err,
                    use_fd ? "--fd=FDNUM" : "--socket-path=PATH");
        goto out;
    }
    if (use_fd) {
        rc = vuc_conn_from_fd(sv[0], &conn);
        sv[0] = -1; /* the conn's, or closed */
        if (rc == 0)
            rc = vuc_client_from_conn(conn, ctx->opts->timeout_ms, &ctx->cl);
        if (rc < 0 && conn != NULL)
            vuc_conn_close(conn);
    } else {
        rc = vuc_client_connect(t2.socket, ctx->opts->timeout_ms, &ctx->cl);
    }
    if (rc < 0) {
        ctx->cl = NULL;
        vuc_verdict(ctx, VUC_ERROR, "connecting to the second instance: %s",
                    strerror(-rc));
        goto out;
    }
    vuc_client_trace_note(ctx->cl, "# started: %s", t2.cmd);
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              NULL, &r);
    if (rc == 0 && !r.is_error) {
        vuc_check(ctx);
    } else {
        snprintf(why, sizeof(why), "%s",
                 rc < 0 ? vuc_client_last_error(ctx->cl)
                        : "it rejected vucert's VERSION");
        if (vuc_target_wait_exit(&t2, 200) && vuc_target_died(&t2))
            snprintf(why + strlen(why), sizeof(why) - strlen(why),
                     "; the server %s", t2.last_death);
        instance_stderr(&t2, tail, sizeof(tail));
        vuc_verdict(ctx, VUC_FAIL,
                    "started as '%s', the server did not negotiate on %s: "
                    "%s%s (\"The backend program must accept ... %s\")",
                    t2.cmd, use_fd ? "fd 3" : "PATH", why, tail,
                    use_fd ? "--fd=FDNUM" : "--socket-path=PATH");
    }
    vuc_reply_release(&r);
    vuc_ctx_disconnect(ctx);
out:
    if (sv[0] >= 0)
        close(sv[0]);
    vuc_target_cleanup(&t2);
    free(tmpl);
}

/*
 * backend.no-daemonize: "The backend program must not daemonize itself."
 * The process vucert started is the one that serves its socket (it
 * called listen(): SO_PEERCRED), or an ancestor of it, and it is still
 * running. A server whose started process exits 0 while another serves
 * its socket has daemonized.
 */
static void no_daemonize(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_target *t = ctx->target;
    pid_t peer;

    (void)c;
    if (!started(ctx) || vuc_ctx_connect(ctx) == NULL)
        return;
    (void)vuc_target_died(t); /* an exit since: was it a daemon's fork? */
    peer = vuc_case_peer_pid(ctx);
    if (t->daemon_pid > 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the process vucert started ('%s') exited with status 0 "
                    "and pid %d serves its socket: the server daemonized "
                    "itself (\"The backend program must not daemonize "
                    "itself\")",
                    t->cmd, (int)t->daemon_pid);
        return;
    }
    if (peer <= 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the kernel did not say which process serves the socket "
                    "(SO_PEERCRED)");
        return;
    }
    if (t->pid > 0 && vuc_pid_descends(peer, t->pid)) {
        vuc_check(ctx);
        return;
    }
    vuc_verdict(ctx, VUC_FAIL,
                "the socket is served by pid %d, which is neither the "
                "process vucert started (%s) nor a child of it "
                "(\"The backend program must not daemonize itself\")",
                (int)peer, t->pid > 0 ? "still running" : t->last_death);
}

/*
 * backend.stdio: "File descriptors 0, 1 and 2 must exist, must have
 * regular stdin/stdout/stderr semantics, and can be redirected." vucert
 * starts the server with /dev/null on 0 and its log file on 1 and 2;
 * while it serves, each of the three is still open and is either what
 * vucert gave it or a file, terminal or pipe it chose (a server may
 * redirect its own output): not missing, and not a socket or other
 * descriptor of its own that took the number.
 */
static bool stdio_kind(mode_t m)
{
    return S_ISREG(m) || S_ISCHR(m) || S_ISFIFO(m);
}

static void stdio(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct stat given[3], now;
    char path[64], link[256];
    pid_t pid;

    (void)c;
    if (!started(ctx) || vuc_ctx_connect(ctx) == NULL)
        return;
    pid = vuc_case_peer_pid(ctx);
    if (pid <= 0 || stat("/dev/null", &given[0]) < 0 ||
        stat(ctx->target->stderr_path, &given[1]) < 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "vucert cannot tell which process serves the socket");
        return;
    }
    given[2] = given[1];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    if (access(path, R_OK | X_OK) < 0) {
        vuc_verdict(ctx, VUC_SKIP, "%s cannot be read: %s", path,
                    strerror(errno));
        return;
    }
    for (int fd = 0; fd < 3; fd++) {
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
        if (stat(path, &now) < 0) {
            vuc_verdict(ctx, VUC_FAIL,
                        "fd %d of the server (pid %d) is not open (\"File "
                        "descriptors 0, 1 and 2 must exist\")",
                        fd, (int)pid);
            return;
        }
        if ((now.st_dev == given[fd].st_dev &&
             now.st_ino == given[fd].st_ino) ||
            stdio_kind(now.st_mode))
            continue;
        n = readlink(path, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        vuc_verdict(ctx, VUC_FAIL,
                    "fd %d of the server (pid %d) is %s, not the %s vucert "
                    "started it with nor a file, terminal or pipe (\"File "
                    "descriptors 0, 1 and 2 must exist, must have regular "
                    "stdin/stdout/stderr semantics\")",
                    fd, (int)pid, link[0] ? link : "no file",
                    fd == 0 ? "/dev/null" : "log file");
        return;
    }
    vuc_check(ctx);
}

/* backend.sigterm: "The backend program must honor the SIGTERM signal."
 * Only for a server vucert started: it must exit within the timeout. */
static void sigterm(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    /* a daemon, too: it is the server (backend.no-daemonize judges it) */
    pid_t pid =
        ctx->target->pid > 0 ? ctx->target->pid : ctx->target->daemon_pid;

    (void)c;
    if (ctx->target->cmd == NULL || pid <= 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "vucert did not start the server (--socket): it cannot "
                    "signal it");
        return;
    }
    /* a live server first, and its client stays: a server that exits
     * when its client leaves must not pass for one that honours SIGTERM */
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    vuc_client_trace_note(ctx->cl, "# SIGTERM to the server, pid %d", (int)pid);
    if (kill(pid, SIGTERM) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "kill(%d, SIGTERM): %s", (int)pid,
                    strerror(errno));
        return;
    }
    if (vuc_target_wait_exit(ctx->target, ctx->opts->timeout_ms)) {
        vuc_target_stop(ctx->target); /* reaps it; the next case restarts */
        vuc_check(ctx);
        return;
    }
    vuc_verdict(ctx, VUC_FAIL,
                "the server was still running %d ms after SIGTERM (\"The "
                "backend program must honor the SIGTERM signal\"); vucert "
                "killed it",
                ctx->opts->timeout_ms);
    vuc_target_kill(ctx->target);
}

size_t vuc_cases_backend(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    VUC_CASE("backend.socket-path", "the server starts with --socket-path=PATH",
             SPEC_BACKEND, "must accept", backend_option, 0, 0, NULL);
    VUC_CASE("backend.fd", "the server starts with --fd=FDNUM", SPEC_BACKEND,
             "must accept", backend_option, 1, 0, NULL);
    VUC_CASE("backend.no-daemonize",
             "the process started serves the socket and stays", SPEC_BACKEND,
             "must not daemonize", no_daemonize, 0, 0, NULL);
    VUC_CASE("backend.stdio", "fds 0, 1 and 2 stay open as stdio", SPEC_BACKEND,
             "must exist", stdio, 0, 0, NULL);
    VUC_CASE("backend.sigterm", "the server exits on SIGTERM", SPEC_BACKEND,
             "must honor", sigterm, 0, 0, NULL);
    return n;
}
