// SPDX-License-Identifier: BSD-3-Clause
/*
 * The socket event loop: one epoll set holding the signalfd, and either
 * the listening socket (no client) or the client's socket (one client at
 * a time; others wait in the listen backlog). Nothing here blocks on a
 * client: messages are received with timeout 0 and partial messages stay
 * buffered in the connection, so a client that goes silent mid-message
 * never delays shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_priv.h"

enum { TAG_SIGNAL = 1, TAG_LISTEN };

/* Socket send buffer asked for (the kernel caps it at wmem_max): a whole
 * 1 MiB migration data reply fits, so the server prepares the next one
 * (mig_after_reply) while the client is still reading this one. */
#define CLIENT_SNDBUF (4 << 20)

/* Messages handled per wake-up before looking at signals again. */

struct loop {
    struct vuc_srv *s;
    int ep, lfd, sfd;
    struct vuc_conn *client;
    bool client_gone;  /* quirk exit-after-client: the end of the loop */
    const char *path;  /* the socket's */
    unsigned accepted; /* connections accepted (quirk crash-loop) */
};

static int ep_add(int ep, int fd, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void ep_del(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

static void drop_client(struct loop *l, const char *why)
{
    if (l->s->opts.verbose)
        fprintf(stderr, "vucert-server: client gone (%s)\n", why);
    vuc_conn_close(l->client);
    l->client = NULL;
    vuc_srv_disconnect(l->s);
    /* Let the next client in. */
    if (l->lfd >= 0)
        ep_add(l->ep, l->lfd, TAG_LISTEN);
}

/*
 * Quirk crash-loop: a server that crashes and then cannot start again,
 * because the crash left state on disk that start-up trips over (a stale
 * lock or pid file). The marker is the socket path + ".crashed", so it
 * lies wherever the socket does (the harness's temporary directory).
 */
#define CRASH_MARKER ".crashed"

/* The marker's path into out; false when it would not fit. */
static bool crash_marker(const char *path, char *out, size_t n)
{
    int k = snprintf(out, n, "%s" CRASH_MARKER, path);

    return k > 0 && (size_t)k < n;
}

/* A deliberate abort leaves no core file in whatever folder the server
 * was started from (a test's, a user's checkout). */
_Noreturn void srv_quiet_abort(void)
{
    struct rlimit no = {0, 0};

    setrlimit(RLIMIT_CORE, &no);
    abort();
}

/* The second connection: leave the marker, then fail an assertion. */
static _Noreturn void crash_loop_crash(const char *path)
{
    char marker[PATH_MAX];

    if (crash_marker(path, marker, sizeof(marker))) {
        int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd >= 0)
            close(fd);
    }
    fprintf(stderr,
            "vucert-server: crash-loop quirk: Assertion 'state_ok' failed\n");
    srv_quiet_abort();
}

/* Start-up: the marker of an earlier crash is there, so start-up fails
 * again, before the socket is created. */
static void crash_loop_check(const char *path)
{
    char marker[PATH_MAX];

    if (!crash_marker(path, marker, sizeof(marker)) ||
        access(marker, F_OK) != 0)
        return;
    fprintf(stderr,
            "vucert-server: crash-loop quirk: stale %s from an earlier "
            "crash\n",
            marker);
    srv_quiet_abort();
}

static void accept_client(struct loop *l)
{
    struct vuc_conn *c;
    int rc;

    if (l->client)
        return;
    rc = vuc_unix_accept(l->lfd, 0, &c);
    if (rc < 0) {
        if (l->s->opts.verbose && rc != -ETIMEDOUT && rc != -EAGAIN)
            fprintf(stderr, "vucert-server: accept: %s\n", strerror(-rc));
        return;
    }
    if (++l->accepted == 2 && srv_quirk(l->s, VUC_SRV_QUIRK_CRASH_LOOP))
        crash_loop_crash(l->path);
    if (l->s->refuse_next) {
        /* quirk refuse-after-partial: the client before left in the
         * middle of a message; this one is closed at once, the next
         * served again */
        l->s->refuse_next = false;
        if (l->s->opts.verbose)
            fprintf(stderr, "vucert-server: closing a new client (quirk)\n");
        vuc_conn_close(c);
        return;
    }
    if (srv_quirk(l->s, VUC_SRV_QUIRK_LEAK_FD)) {
        /* quirk leak-fd-per-connection: a per-client resource that is
         * never released (an eventfd, not the socket: the connection
         * itself still closes) */
        int leak = eventfd(0, EFD_CLOEXEC);

        (void)leak;
    }
    {
        int sz = CLIENT_SNDBUF;

        (void)setsockopt(vuc_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &sz,
                         sizeof(sz));
    }
    ep_del(l->ep, l->lfd); /* others wait in the backlog */
    l->client = c;
    if (l->s->opts.verbose)
        fprintf(stderr, "vucert-server: client connected\n");
}

/*
 * Serve the connected client until it leaves or a signal arrives (returns
 * true for a signal, or, quirk exit-after-client, when the client is
 * gone). One client at a time means there is nothing else to
 * wait for: others wait in the listen backlog, and pending SIGINT/SIGTERM
 * are picked up from the signalfd whenever a read times out and every
 * SIGNAL_CHECK_EVERY messages. Reading straight from the client's socket
 * makes a request cost two system calls (recvmsg, send), like a plain
 * echo, where epoll_wait before every read made it three. A client that
 * sends half a message and goes silent only makes the read time out.
 */
/* how soon SIGTERM is seen while a connected client is silent: 20 ms
 * (50 wakeups a second of an idle client cost nothing worth saving) */
#define CLIENT_WAIT_MS     20
#define SIGNAL_CHECK_EVERY 256

/*
 * Quirk partial-message-dropped: a client that sends nothing for
 * PARTIAL_WAIT_MS while a message of its is incomplete is dropped. The
 * wait is for silence, not for the whole message (a large message that
 * keeps arriving is fine), so the loop waits with poll() and reads
 * without waiting; and it is shorter than the 50 ms pauses of
 * robust.header.split-with-pauses with room to spare either way.
 */
#define PARTIAL_WAIT_MS 25

static bool signal_pending(int sfd)
{
    struct signalfd_siginfo si;

    return read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

/* The quirk's wait: -ETIMEDOUT when the client has been silent for a
 * whole wait, -ECONNABORTED when that happened mid-message, 0 when
 * something came (or the connection changed state). */
static int quirk_wait(struct loop *l)
{
    bool partial = vuc_conn_partial(l->client);
    struct pollfd p = {.fd = vuc_conn_fd(l->client), .events = POLLIN};
    int n = poll(&p, 1, partial ? PARTIAL_WAIT_MS : CLIENT_WAIT_MS);

    if (n != 0)
        return 0;
    if (!partial)
        return -ETIMEDOUT;
    if (l->s->opts.verbose)
        fprintf(stderr, "vucert-server: client stalled mid-message: "
                        "dropping it (quirk)\n");
    return -ECONNABORTED;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool serve_client(struct loop *l)
{
    unsigned handled = 0;
    int idle_ms =
        l->s->opts.idle_ms ? l->s->opts.idle_ms : VUC_SRV_IDLE_DEFAULT_MS;
    int64_t last = mono_ms(); /* when the client last completed a message */

    while (l->client) {
        /* (a deaf client, quirk short-size-ignored, is read no more) */
        bool impatient =
            srv_quirk(l->s, VUC_SRV_QUIRK_PARTIAL_DROPPED) && !l->s->deaf;
        int rc = srv_pump(l->s, l->client, impatient ? 0 : CLIENT_WAIT_MS);

        if (impatient && rc == -EAGAIN) {
            rc = quirk_wait(l);
            if (rc == 0)
                continue; /* bytes came: read them */
        }
        if (rc == 0) {
            if (++handled % SIGNAL_CHECK_EVERY == 0 && signal_pending(l->sfd))
                return true;
            if (idle_ms > 0)
                last = mono_ms(); /* the vDSO: no system call */
            continue;
        }
        if (rc == -ETIMEDOUT || rc == -EAGAIN) {
            if (signal_pending(l->sfd))
                return true;
            if (idle_ms > 0 && mono_ms() - last >= idle_ms) {
                /* others wait in the backlog: a silent client, or one
                 * stopped mid-message, must not hold them for ever */
                drop_client(l, "idle");
                if (srv_quirk(l->s, VUC_SRV_QUIRK_EXIT_AFTER_CLIENT)) {
                    l->client_gone = true;
                    return true;
                }
                return false;
            }
            continue;
        }
        drop_client(l,
                    rc == -ECONNRESET || rc == -EPIPE ? "closed" : "dropped");
        /* quirk exit-after-client: a server that serves one client per
         * process, however that client ended */
        if (srv_quirk(l->s, VUC_SRV_QUIRK_EXIT_AFTER_CLIENT)) {
            l->client_gone = true;
            return true;
        }
    }
    return false;
}

/* Read every queued signal so none is delivered when the mask returns. */
static void drain_signals(int sfd)
{
    struct signalfd_siginfo si;

    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
}

/*
 * Bug daemonize: fork before listening, the process that was started exits
 * 0, and its child serves. The child listens only once its parent is gone
 * (the pipe's end closes when it exits), as a real daemon's socket appears
 * after the fork: whoever waits for the socket sees the start exit first.
 * The child stays in its process group, so whoever started it can still
 * end it.
 */
static int daemonize(void)
{
    char b;
    int p[2];
    pid_t pid;

    if (pipe(p) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    close(p[1]);
    while (read(p[0], &b, 1) < 0 && errno == EINTR)
        ;
    close(p[0]);
    return 0;
}

/* Serve on a listening socket at socket_path, or (fd >= 0) on one
 * connected socket until its client leaves. */
static int run(struct vuc_srv *s, const char *socket_path, int fd)
{
    struct loop l = {
        .s = s, .ep = -1, .lfd = -1, .sfd = -1, .path = socket_path};
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigset_t mask, old;
    bool listening = false, done = false;
    int rc;

    if (fd < 0 && srv_quirk(s, VUC_SRV_QUIRK_CRASH_LOOP))
        crash_loop_check(socket_path);
    /* before the signalfd: its readiness would stay the parent's */
    if (fd < 0 && srv_bug(s, VUC_SRV_BUG(DAEMONIZE))) {
        rc = daemonize();
        if (rc < 0)
            return rc;
    }
    /* A client that vanishes must cost an EPIPE, not the process. */
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    /* bug sigterm-ignored: SIGTERM does nothing (SIGKILL ends it) */
    if (srv_bug(s, VUC_SRV_BUG(SIGTERM_IGNORED)))
        sigaction(SIGTERM, &ign, NULL);
    else
        sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
        return -errno;
    l.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (l.sfd < 0) {
        rc = -errno;
        goto out;
    }
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    if (l.ep < 0) {
        rc = -errno;
        goto out;
    }
    rc = ep_add(l.ep, l.sfd, TAG_SIGNAL);
    if (rc < 0)
        goto out;
    if (fd >= 0) {
        int sz = CLIENT_SNDBUF;

        rc = vuc_conn_from_fd(fd, &l.client);
        if (rc < 0)
            goto out;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        if (s->opts.verbose)
            fprintf(stderr, "vucert-server: serving fd %d\n", fd);
    } else {
        rc = vuc_unix_listen(socket_path, &l.lfd);
        if (rc < 0)
            goto out;
        listening = true;
        rc = ep_add(l.ep, l.lfd, TAG_LISTEN);
        if (rc < 0)
            goto out;
        if (s->opts.verbose)
            fprintf(stderr, "vucert-server: listening on %s\n", socket_path);
    }

    while (!done) {
        struct epoll_event ev[4];
        int n;

        if (fd >= 0) {
            /* the one client: its leaving ends the server */
            done = l.client == NULL || serve_client(&l) || l.client == NULL;
            continue;
        }
        n = epoll_wait(l.ep, ev, 4, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        for (int i = 0; i < n; i++) {
            switch (ev[i].data.u32) {
            case TAG_SIGNAL:
                done = true;
                break;
            case TAG_LISTEN:
                accept_client(&l);
                break;
            default:
                break;
            }
        }
        if (!done && l.client)
            done = serve_client(&l);
    }
    rc = 0;
    if (s->opts.verbose)
        fprintf(stderr, "vucert-server: %s, exiting\n",
                l.client_gone        ? "client gone (quirk)"
                : l.client || fd < 0 ? "signal received"
                                     : "client gone");

out:
    if (l.client) {
        vuc_conn_close(l.client);
        vuc_srv_disconnect(s);
    }
    if (l.ep >= 0)
        close(l.ep);
    if (l.lfd >= 0)
        close(l.lfd);
    if (listening)
        unlink(socket_path);
    if (l.sfd >= 0) {
        drain_signals(l.sfd);
        close(l.sfd);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int vuc_srv_run(struct vuc_srv *s, const char *socket_path)
{
    if (!s || !socket_path)
        return -EINVAL;
    return run(s, socket_path, -1);
}

int vuc_srv_run_fd(struct vuc_srv *s, int fd)
{
    if (!s || fd < 0)
        return -EINVAL;
    return run(s, NULL, fd);
}
