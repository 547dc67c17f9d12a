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
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
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
    ep_add(l->ep, l->lfd, TAG_LISTEN);
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
 * true for a signal). One client at a time means there is nothing else to
 * wait for: others wait in the listen backlog, and pending SIGINT/SIGTERM
 * are picked up from the signalfd whenever a read times out and every
 * SIGNAL_CHECK_EVERY messages. Reading straight from the client's socket
 * makes a request cost two system calls (recvmsg, send), like a plain
 * echo, where epoll_wait before every read made it three. A client that
 * sends half a message and goes silent only makes the read time out.
 */
#define CLIENT_WAIT_MS     100
#define SIGNAL_CHECK_EVERY 256

static bool signal_pending(int sfd)
{
    struct signalfd_siginfo si;

    return read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

static bool serve_client(struct loop *l)
{
    unsigned handled = 0;

    while (l->client) {
        int rc = srv_pump(l->s, l->client, CLIENT_WAIT_MS);

        if (rc == 0) {
            if (++handled % SIGNAL_CHECK_EVERY == 0 && signal_pending(l->sfd))
                return true;
            continue;
        }
        if (rc == -ETIMEDOUT || rc == -EAGAIN) {
            if (signal_pending(l->sfd))
                return true;
            continue;
        }
        drop_client(l,
                    rc == -ECONNRESET || rc == -EPIPE ? "closed" : "dropped");
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

int vuc_srv_run(struct vuc_srv *s, const char *socket_path)
{
    struct loop l = {.s = s, .ep = -1, .lfd = -1, .sfd = -1};
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigset_t mask, old;
    bool listening = false, done = false;
    int rc;

    if (!s || !socket_path)
        return -EINVAL;
    /* A client that vanishes must cost an EPIPE, not the process. */
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
        return -errno;
    l.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (l.sfd < 0) {
        rc = -errno;
        goto out;
    }
    rc = vuc_unix_listen(socket_path, &l.lfd);
    if (rc < 0)
        goto out;
    listening = true;
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    if (l.ep < 0) {
        rc = -errno;
        goto out;
    }
    rc = ep_add(l.ep, l.sfd, TAG_SIGNAL);
    if (rc == 0)
        rc = ep_add(l.ep, l.lfd, TAG_LISTEN);
    if (rc < 0)
        goto out;
    if (s->opts.verbose)
        fprintf(stderr, "vucert-server: listening on %s\n", socket_path);

    while (!done) {
        struct epoll_event ev[4];
        int n = epoll_wait(l.ep, ev, 4, -1);

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
        fprintf(stderr, "vucert-server: signal received, exiting\n");

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
