// SPDX-License-Identifier: BSD-3-Clause
/*
 * The server under test when vucert starts it (--server-cmd, or the
 * embedded vucert-server): a private directory for its socket and stderr,
 * start, death detection, restart and stop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "vucert/harness.h"

#define START_TIMEOUT_MS 10000

static char *substitute(const char *tmpl, const char *socket)
{
    size_t sl = strlen(socket), n = strlen("exec ") + 1;
    const char *p;
    char *out, *o;

    for (p = tmpl; *p; p++)
        n += strncmp(p, "{socket}", 8) == 0 ? sl : 1;
    out = malloc(n);
    if (out == NULL)
        return NULL;
    /* exec: the pid vucert watches is the server's, not a shell's */
    o = out + sprintf(out, "exec ");
    for (p = tmpl; *p;) {
        if (strncmp(p, "{socket}", 8) == 0) {
            memcpy(o, socket, sl);
            o += sl;
            p += 8;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void describe_status(struct vuc_target *t, int status)
{
    t->last_status = status;
    t->last_exit_clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFEXITED(status))
        snprintf(t->last_death, sizeof(t->last_death), "exited with status %d",
                 WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(t->last_death, sizeof(t->last_death),
                 "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(t->last_death, sizeof(t->last_death), "status 0x%x", status);
}

bool vuc_target_died(struct vuc_target *t)
{
    int status;
    pid_t r;

    if (t->pid <= 0)
        return false;
    r = waitpid(t->pid, &status, WNOHANG);
    if (r != t->pid)
        return false;
    describe_status(t, status);
    t->pid = 0;
    /* exited 0, yet its socket is served: it daemonized itself, and the
     * server lives on (backend.no-daemonize judges it) */
    if (t->last_exit_clean && t->pass_fd <= 0 && t->socket != NULL) {
        pid_t l = vuc_target_listener(t);
        if (l > 0) {
            t->daemon_pid = l;
            return false;
        }
    }
    return true;
}

pid_t vuc_target_listener(const struct vuc_target *t)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cr;
    socklen_t len = sizeof(cr);
    pid_t pid = 0;
    int fd;

    /* one attempt, no waiting: nobody listening is an answer too */
    if (t->socket == NULL || strlen(t->socket) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, t->socket);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
        pid = cr.pid;
    close(fd);
    return pid;
}

static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512], *p;
    ssize_t n;
    int fd, ppid;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) state ppid": comm may hold spaces and parentheses */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
        return 0;
    return (pid_t)ppid;
}

bool vuc_pid_descends(pid_t pid, pid_t p)
{
    for (int depth = 0; pid > 1 && depth < 64; depth++) {
        if (pid == p)
            return true;
        pid = parent_of(pid);
    }
    return false;
}

/* A token boundary of a shell command, for vuc_target_cmd_with. */
static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

char *vuc_target_cmd_with(const char *tmpl, const char *arg)
{
    const char *at = strstr(tmpl, "{socket}"), *b, *e, *pb;
    size_t n;
    char *out;

    if (at == NULL)
        return NULL;
    for (b = at; b > tmpl && !blank(b[-1]); b--)
        ;
    for (e = at; *e && !blank(*e); e++)
        ;
    /* {socket} alone (maybe quoted): an option before it goes too */
    n = (size_t)(e - b);
    if (n == 8 || (n == 10 && (*b == '\'' || *b == '"') && e[-1] == *b)) {
        for (pb = b; pb > tmpl && blank(pb[-1]); pb--)
            ;
        const char *pe = pb;
        for (; pb > tmpl && !blank(pb[-1]); pb--)
            ;
        if (pe > pb && *pb == '-' && memchr(pb, '=', (size_t)(pe - pb)) == NULL)
            b = pb;
    }
    n = (size_t)(b - tmpl) + strlen(arg) + strlen(e) + 1;
    out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%.*s%s%s", (int)(b - tmpl), tmpl, arg, e);
    return out;
}

/*
 * SIGINT, SIGTERM and SIGHUP end vucert without leaving its temporary
 * folders or its servers behind: every target with a folder is in this
 * table while it has one, and the handler ends its server and removes
 * the files vucert put there (async-signal-safe calls only), then dies
 * of the signal as it would have.
 */
#define LIVE_MAX 8
static struct vuc_target *volatile live[LIVE_MAX];

static void on_fatal(int sig)
{
    for (int i = 0; i < LIVE_MAX; i++) {
        struct vuc_target *t = live[i];
        if (t == NULL)
            continue;
        if (t->pgid > 0)
            kill(-t->pgid, SIGKILL);
        if (t->pid > 0)
            kill(t->pid, SIGKILL);
        if (t->daemon_pid > 0)
            kill(t->daemon_pid, SIGKILL);
        if (t->socket != NULL)
            unlink(t->socket);
        if (t->stderr_path != NULL)
            unlink(t->stderr_path);
        if (t->tmpdir != NULL)
            rmdir(t->tmpdir);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void track(struct vuc_target *t)
{
    static bool handlers;

    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == t)
            return;
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == NULL) {
            live[i] = t;
            break;
        }
    if (!handlers) {
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        struct sigaction sa = {.sa_handler = on_fatal};
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaddset(&sa.sa_mask, sigs[i]);
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaction(sigs[i], &sa, NULL);
        handlers = true;
    }
}

static void untrack(struct vuc_target *t)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == t)
            live[i] = NULL;
}

void vuc_target_cleanup(struct vuc_target *t)
{
    untrack(t);
    vuc_target_stop(t);
    if (t->tmpdir != NULL) {
        /* the folder is vucert's own: whatever the server left there
         * (its socket, a marker, a core file) goes with it */
        DIR *d = opendir(t->tmpdir);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        if (d != NULL)
            closedir(d);
        rmdir(t->tmpdir);
        free((char *)t->socket); /* prepare made it */
    }
    free(t->tmpdir);
    free(t->stderr_path);
    free(t->cmd);
    memset(t, 0, sizeof(*t));
}

static int prepare(struct vuc_target *t, char *err, size_t errcap)
{
    char path[4096];

    if (t->tmpdir == NULL) {
        /* $TMPDIR, when the socket path still fits in sun_path (108) */
        const char *base = getenv("TMPDIR");
        char tmpl[128];
        if (base == NULL || base[0] != '/' || strlen(base) > 64)
            base = "/tmp";
        snprintf(tmpl, sizeof(tmpl), "%s/vucert-XXXXXX", base);
        if (mkdtemp(tmpl) == NULL) {
            snprintf(err, errcap, "mkdtemp: %s", strerror(errno));
            return -errno;
        }
        t->tmpdir = strdup(tmpl);
        snprintf(path, sizeof(path), "%s/server.sock", tmpl);
        t->socket = strdup(path);
        snprintf(path, sizeof(path), "%s/server-stderr.log", tmpl);
        t->stderr_path = strdup(path);
        if (t->tmpdir == NULL || t->socket == NULL || t->stderr_path == NULL)
            return -ENOMEM;
        track(t);
    }
    if (t->cmd == NULL) {
        if (t->pass_fd <= 0 && strstr(t->server_cmd, "{socket}") == NULL) {
            snprintf(err, errcap,
                     "--server-cmd must contain {socket}, where vucert puts "
                     "the socket path");
            return -EINVAL;
        }
        t->cmd = substitute(t->server_cmd, t->socket);
        if (t->cmd == NULL)
            return -ENOMEM;
    }
    return 0;
}

int vuc_target_start(struct vuc_target *t, char *err, size_t errcap)
{
    struct stat st;
    int rc, fd;
    long waited = 0, exited_at = -1, step; /* microseconds */
    off_t start_at;
    pid_t pid, parent;

    if (t->server_cmd == NULL)
        return 0;
    /* a server that daemonizes leaves an orphan: it becomes vucert's
     * child, to be ended and reaped, not a zombie of whatever runs as
     * pid 1 */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
    rc = prepare(t, err, errcap);
    if (rc < 0)
        return rc;
    unlink(t->socket);
    fd = open(t->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", t->stderr_path, strerror(errno));
        return -errno;
    }
    dprintf(fd, "--- vucert: starting: %s\n", t->cmd);
    start_at = lseek(fd, 0, SEEK_END);
    parent = getpid();
    pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "fork: %s", strerror(errno));
        close(fd);
        return -errno;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        /* If vucert itself dies, its server must not outlive it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (t->pass_fd > 0)
            dup2(t->pass_fd, 3); /* --fd=3; dup2 clears FD_CLOEXEC */
        execl("/bin/sh", "sh", "-c", t->cmd, (char *)NULL);
        _exit(127);
    }
    close(fd);
    t->pid = pid;
    t->pgid = pid;
    t->daemon_pid = 0;
    t->last_death[0] = '\0';
    if (t->pass_fd > 0)
        return 0; /* it serves the socket it was given */
    /* wait for the socket file to appear */
    while (stat(t->socket, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        if (t->pid > 0 && vuc_target_died(t) && t->last_exit_clean)
            exited_at = waited;
        /* an exit with status 0 may be a daemon's fork: its child
         * creates the socket; give it up to a second */
        if (t->pid <= 0 && t->daemon_pid <= 0 &&
            !(t->last_exit_clean && waited - exited_at < 1000000)) {
            /* what it said first: a usage error leads, its help after */
            char *said = vuc_target_stderr_since(t, (long)start_at, 1000);
            snprintf(err, errcap, "the server %s before creating %s%s%s",
                     t->last_death, t->socket, said ? "; it said:\n" : "",
                     said ? said : "");
            free(said);
            return -ECHILD;
        }
        if (waited >= START_TIMEOUT_MS * 1000L) {
            snprintf(err, errcap, "the server did not create %s within %d s",
                     t->socket, START_TIMEOUT_MS / 1000);
            vuc_target_stop(t);
            return -ETIMEDOUT;
        }
        /* most servers listen within a millisecond or two: look every
         * 100 us for 5 ms (a fresh server per fuzz sequence pays what
         * this overshoots), then back off to 5 ms */
        step = waited < 5000 ? 100 : waited < 50000 ? 1000 : 5000;
        {
            struct timespec ts = {0, step * 1000L};
            nanosleep(&ts, NULL);
        }
        waited += step;
    }
    if (t->pid <= 0 && t->daemon_pid <= 0) {
        /* it exited 0 and something created the socket after: the
         * daemon binds before it listens, so ask until one answers */
        t->daemon_pid = vuc_target_listener(t);
        for (int i = 0; i < 1000 && t->daemon_pid <= 0; i++) {
            sleep_ms(1);
            t->daemon_pid = vuc_target_listener(t);
        }
        if (t->daemon_pid <= 0) {
            snprintf(err, errcap, "the server %s, and nothing serves %s",
                     t->last_death, t->socket);
            return -ECHILD;
        }
    }
    return 0;
}

/* A daemon is not vucert's child: wait for it through a pidfd. */
static void end_daemon(struct vuc_target *t)
{
    pid_t d = t->daemon_pid;
    int fd;

    t->daemon_pid = 0;
    if (d <= 0 || kill(d, SIGTERM) < 0)
        return;
    fd = (int)syscall(SYS_pidfd_open, d, 0);
    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1)
            kill(d, SIGKILL);
        close(fd);
    } else {
        kill(d, SIGKILL);
    }
    /* vucert is a subreaper (vuc_target_start): the orphan is its child */
    (void)waitpid(d, NULL, 0);
}

void vuc_target_stop(struct vuc_target *t)
{
    int status;

    if (t->pgid > 0 && t->pid <= 0) {
        /* the started process is gone; what it left in its group is not */
        kill(-t->pgid, SIGTERM);
        end_daemon(t);
        kill(-t->pgid, SIGKILL);
        t->pgid = 0;
    }
    t->pgid = 0;
    end_daemon(t);
    if (t->pid <= 0)
        return;
    /* One SIGTERM: the server leads its process group (vuc_target_start),
     * so the group's covers it. A second one could land after the server
     * has taken the first and unblocked signals on its way out, and kill
     * it before a sanitizer's at-exit report (LeakSanitizer's) is
     * written; the pid alone only when there is no such group. */
    if (kill(-t->pid, SIGTERM) < 0)
        kill(t->pid, SIGTERM);
    /* up to 2 s to end, woken by its exit (a pidfd), not a polling step */
    if (vuc_target_wait_exit(t, 2000) &&
        waitpid(t->pid, &status, 0) == t->pid) {
        describe_status(t, status); /* how it took SIGTERM */
        t->pid = 0;
        return;
    }
    kill(-t->pid, SIGKILL);
    kill(t->pid, SIGKILL);
    if (waitpid(t->pid, &status, 0) == t->pid)
        describe_status(t, status);
    t->pid = 0;
}

void vuc_target_kill(struct vuc_target *t)
{
    int status;

    if (t->daemon_pid > 0)
        kill(t->daemon_pid, SIGKILL);
    t->daemon_pid = 0;
    if (t->pgid > 0)
        kill(-t->pgid, SIGKILL);
    t->pgid = 0;
    if (t->pid <= 0)
        return;
    kill(-t->pid, SIGKILL);
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &status, 0);
    t->pid = 0;
}

bool vuc_target_wait_exit(struct vuc_target *t, int timeout_ms)
{
    pid_t pid = t->pid > 0 ? t->pid : t->daemon_pid;
    siginfo_t si;
    int fd;

    if (pid <= 0)
        return false;
    /* a pidfd turns readable when the process exits: no polling loop */
    fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, timeout_ms);
        close(fd);
        if (rc <= 0)
            return false;
    } else {
        for (int waited = 0; waited < timeout_ms && t->pid > 0; waited++) {
            memset(&si, 0, sizeof(si));
            if (waitid(P_PID, (id_t)t->pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
                    0 &&
                si.si_pid == t->pid)
                return true;
            sleep_ms(1);
        }
        return false;
    }
    return true;
}

/*
 * Does the server still serve? A new connection sends VERSION and waits
 * for whichever comes first: the reply (1) or the server's exit (0), so
 * neither a live server nor a dying one costs a fixed wait. A refused
 * connection waits for the exit alone. < 0: neither within timeout_ms.
 */
int vuc_target_answers(struct vuc_target *t, int timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    uint8_t msg[VUC_HDR_SIZE + 4] = {0};
    struct vuc_hdr h = {.id = 0x7e57,
                        .cmd = VUC_CMD_VERSION,
                        .size = sizeof(msg),
                        .flags = VUC_TYPE_COMMAND};
    struct vuc_version v = {.major = VUC_VERSION_MAJOR,
                            .minor = VUC_VERSION_MINOR};
    struct pollfd p[2];
    int fd, pfd, rc = -ETIMEDOUT;

    if (t->pid <= 0 || t->socket == NULL ||
        strlen(t->socket) >= sizeof(sa.sun_path))
        return -EINVAL;
    pfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
    if (pfd < 0)
        return vuc_target_wait_exit(t, timeout_ms) ? 0 : -ETIMEDOUT;
    memcpy(sa.sun_path, t->socket, strlen(t->socket) + 1);
    vuc_hdr_encode(&h, msg, VUC_HDR_SIZE);
    vuc_version_encode(&v, msg + VUC_HDR_SIZE, 4);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    send(fd, msg, sizeof(msg), MSG_NOSIGNAL) < 0)) {
        close(fd);
        fd = -1;
    }
    p[0] = (struct pollfd){.fd = pfd, .events = POLLIN};
    p[1] = (struct pollfd){.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(p, fd >= 0 ? 2 : 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0 && (p[0].revents & POLLIN))
            rc = 0; /* it exited */
        else if (n > 0 && fd >= 0 && (p[1].revents & POLLIN)) {
            char b[64];
            /* a reply: it serves; its end without one: it may be dying */
            if (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0) {
                rc = 1;
            } else {
                close(fd);
                fd = -1;
                continue;
            }
        }
        break;
    }
    if (fd >= 0)
        close(fd);
    close(pfd);
    return rc;
}

int vuc_target_restart(struct vuc_target *t, char *err, size_t errcap)
{
    vuc_target_stop(t);
    t->restarts++;
    return vuc_target_start(t, err, errcap);
}

char *vuc_target_stderr_tail(struct vuc_target *t, size_t max_bytes)
{
    char *buf;
    off_t size;
    ssize_t n;
    int fd;

    if (t->stderr_path == NULL)
        return NULL;
    fd = open(t->stderr_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        close(fd);
        return NULL;
    }
    if ((size_t)size < max_bytes)
        max_bytes = (size_t)size;
    buf = malloc(max_bytes + 1);
    if (buf == NULL) {
        close(fd);
        return NULL;
    }
    n = pread(fd, buf, max_bytes, size - (off_t)max_bytes);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    if ((size_t)size > max_bytes) { /* cut: start at a whole line */
        char *nl = strchr(buf, '\n');
        if (nl != NULL && nl[1] != '\0')
            memmove(buf, nl + 1, strlen(nl + 1) + 1);
    }
    return buf;
}

pid_t vuc_target_pid(const struct vuc_target *t)
{
    return t->pid > 0          ? t->pid
           : t->daemon_pid > 0 ? t->daemon_pid
                               : t->watch_pid;
}

int vuc_target_usage(const struct vuc_target *t, long *fds, long *rss_kib)
{
    pid_t pid = vuc_target_pid(t);
    char path[64], line[256];
    struct dirent *de;
    FILE *f;
    DIR *d;

    if (pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -errno;
    *fds = 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            (*fds)++;
    closedir(d);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    *rss_kib = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", rss_kib) == 1)
            break;
    fclose(f);
    return *rss_kib < 0 ? -ENODATA : 0;
}

long vuc_target_stderr_size(const struct vuc_target *t)
{
    struct stat st;

    if (t->stderr_path == NULL || stat(t->stderr_path, &st) != 0)
        return 0;
    return (long)st.st_size;
}

char *vuc_target_stderr_since(const struct vuc_target *t, long from,
                              size_t max_bytes)
{
    long end = vuc_target_stderr_size(t);
    size_t n;
    char *buf;
    ssize_t got;
    int fd;

    if (end <= from || t->stderr_path == NULL)
        return NULL;
    n = (size_t)(end - from);
    if (n > max_bytes)
        n = max_bytes;
    fd = open(t->stderr_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    buf = malloc(n + 1);
    got = buf ? pread(fd, buf, n, from) : -1;
    close(fd);
    if (got < 0) {
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    return buf;
}

int vuc_target_after_disconnect(struct vuc_target *t, char *err, size_t errcap)
{
    if (!t->exits_on_disconnect || t->pid <= 0)
        return 0;
    if (vuc_target_wait_exit(t, 2000)) /* its exit, not a polling step */
        (void)vuc_target_died(t);
    if (t->pid > 0) {
        snprintf(err, errcap,
                 "the server did not exit after its client "
                 "left, as it did before");
        t->exits_on_disconnect = false;
        return 0;
    }
    return vuc_target_restart(t, err, errcap);
}
