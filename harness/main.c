// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert: the command line (README.md, "Certifying your server").
 *
 *   vucert certify [--socket PATH | --server-cmd 'CMD ... {socket} ...']
 *                  [--profile FILE] [--report-dir DIR] [--case GLOB]...
 *                  [--exclude GLOB]... [--strict] [--timeout SECONDS]
 *                  [--list [--coverage]] [--verbose]
 *                  [--dest-socket PATH | --dest-server-cmd CMD]
 *                  [--stream-limit BYTES] [--server-pid PID]
 *
 * Exit codes: 0 no case failed; 1 a FAIL or ERROR (or, with --strict, a
 * NON-STRICT); 2 usage error, or the server could not be reached or
 * negotiated at all.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "harness_priv.h"
#include "paths.h"
#include "vucert/codec.h"
#include "vucert/harness.h"
#include "vucert/report.h"

#ifndef VUC_VERSION_STRING
#define VUC_VERSION_STRING "0.0.0"
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE  2
#define MAX_GLOBS   64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vucert certify [--socket PATH | --server-cmd 'CMD ... "
            "{socket} ...']\n"
            "                      [--profile FILE] [--report-dir DIR] "
            "[--case GLOB]...\n"
            "                      [--exclude GLOB]... [--strict] "
            "[--timeout SECONDS]\n"
            "                      [--list [--coverage]] [--verbose]\n"
            "                      [--dest-socket PATH | --dest-server-cmd "
            "'CMD ... {socket} ...']\n"
            "                      [--stream-limit BYTES] [--server-pid PID]\n"
            "                      [--record DIR] [--save-sequences DIR] "
            "[--shuffle SEED]\n"
            "                      [--quiet] [--color auto|always|never] "
            "[--jobs N]\n"
            "       vucert fuzz   (--socket PATH | --server-cmd CMD) "
            "[--time S | --runs N]\n"
            "                     [--seed N] [--out DIR] [--timeout S] "
            "[--reuse-server]\n"
            "                     [--seeds DIR] [--coverage[=measure]] "
            "[--ignore CLASS]...\n"
            "                     (vucert fuzz --help)\n"
            "       vucert replay FILE (--socket PATH | --server-cmd CMD) "
            "[--timeout S]\n"
            "                     [--reuse-server]\n"
            "       vucert --version\n"
            "\n"
            "With neither --socket nor --server-cmd, vucert certifies the "
            "vucert-server\nbuilt beside it, with its profile. A destination "
            "server makes the\nround-trip case migrate onto it; without one "
            "the device migrates onto\nitself (save, reset, resume).\n");
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "4096", "64K", "16M", "2G" */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno != 0 || end == s)
        return -EINVAL;
    switch (*end) {
    case 'K':
    case 'k':
        v <<= 10;
        end++;
        break;
    case 'M':
    case 'm':
        v <<= 20;
        end++;
        break;
    case 'G':
    case 'g':
        v <<= 30;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

/* Connect, negotiate and read the migration flags once before the cases,
 * so that a server that cannot be reached at all is an exit 2. */
static int preflight(struct vuc_target *t, const struct vuc_options *o,
                     struct vuc_run_info *info)
{
    struct vuc_client *cl;
    struct vuc_reply r;
    const struct vuc_negotiated *n;
    uint32_t err;
    int rc;

    rc = vuc_client_connect(t->socket, o->timeout_ms, &cl);
    if (rc < 0) {
        fprintf(stderr, "vucert: cannot connect to %s: %s\n", t->socket,
                rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return rc;
    }
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              &r);
    if (rc < 0 || r.is_error) {
        char eb[16];
        fprintf(stderr, "vucert: negotiation with %s failed: %s\n", t->socket,
                rc < 0 ? vuc_client_last_error(cl)
                       : vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        vuc_client_close(cl);
        return rc < 0 ? rc : -EPROTO;
    }
    vuc_reply_release(&r);
    n = vuc_client_negotiated(cl);
    info->negotiated = true;
    info->major = n->major;
    info->minor = n->minor;
    info->server_json = n->json ? strdup(n->json) : NULL;
    rc = vuc_client_mig_flags(cl, &info->mig_flags, &err);
    info->mig_flags_known = rc == 0;
    vuc_client_close(cl);
    if (t->cmd != NULL) {
        /* Some servers end when their client leaves, by design: learn it
         * now, so every case can wait for that and start it again. */
        char msg[256];
        /* Its exit ends the wait at once (a pidfd); a server that serves
         * on costs these 100 ms, once per run. A probe connection would
         * be quicker, but it is a second client: a server that fails on
         * its second connection must fail in the first case, not here. */
        if (vuc_target_wait_exit(t, 100))
            (void)vuc_target_died(t);
        if (t->pid <= 0 && t->daemon_pid <= 0) {
            if (!t->last_exit_clean) {
                fprintf(stderr,
                        "vucert: the server %s after its first "
                        "client left\n",
                        t->last_death);
                return -ECHILD;
            }
            t->exits_on_disconnect = true;
            if (vuc_target_restart(t, msg, sizeof(msg)) < 0) {
                fprintf(stderr, "vucert: restarting the server: %s\n", msg);
                return -ECHILD;
            }
        }
    }
    return 0;
}

/* splitmix64: a seeded, portable sequence for --shuffle, so a seed
 * names the same order on every machine */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fisher-Yates over the selected cases' indexes. */
static void shuffle(size_t *v, size_t n, uint64_t seed)
{
    uint64_t x = seed;

    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&x) % i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* "vucert certify --case 'fsm.*'": the command line, each argument
 * quoted for a POSIX shell when it needs it. */
static char *quote_argv(int argc, char **argv)
{
    size_t cap = 16;
    char *s, *p;

    for (int i = 0; i < argc; i++)
        cap += 4 * strlen(argv[i]) + 3;
    s = p = malloc(cap);
    if (s == NULL)
        return NULL;
    p += sprintf(p, "vucert");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool plain =
            *a != '\0' && strspn(a, "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789-_./=:,+@%") == strlen(a);
        *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
            continue;
        }
        *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *a;
            }
        }
        *p++ = '\'';
        *p = '\0';
    }
    return s;
}

/* --list --coverage: the spec traceability table, and how much of it the
 * cases check. */
static int print_coverage(FILE *f)
{
    const struct vuc_spec_row *rows;
    struct vuc_coverage cov;
    char err[160];
    size_t n;

    if (vuc_spec_rows(&rows, &n, err, sizeof(err)) < 0 ||
        vuc_spec_coverage(&cov) < 0) {
        fprintf(stderr, "vucert: the built-in spec table: %s\n", err);
        return EXIT_FAILED;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vuc_spec_row *r = &rows[i];
        const char *status = r->cases[0]                 ? "covered"
                             : vuc_spec_row_checkable(r) ? "UNCOVERED"
                                                         : "not-checkable";

        fprintf(f, "%-11s %-13s %-9s %s\n    \"%s\"\n    %s%s\n", r->id, status,
                r->keyword, r->section, r->sentence,
                r->cases[0] ? "cases: " : "",
                r->cases[0] ? r->cases : r->reason);
    }
    fprintf(f,
            "\nspec coverage: %zu of %zu sentences checkable over the wire "
            "have a case (%.1f%%); %zu uncovered; %zu not checkable; %zu "
            "rows\n",
            cov.covered, cov.checkable,
            cov.checkable ? 100.0 * (double)cov.covered / (double)cov.checkable
                          : 100.0,
            cov.checkable - cov.covered, cov.rows - cov.checkable, cov.rows);
    return 0;
}

/* The report directory made and written to before the first case: a
 * path that cannot take the reports is said at once, not after a run. */
static int report_dir_ready(const char *dir, char *err, size_t cap)
{
    char probe[4200];
    int fd, rc = vuc_report_mkdir_p(dir);

    if (rc < 0) {
        snprintf(err, cap, "%s: cannot create it: %s", dir, strerror(-rc));
        return rc;
    }
    snprintf(probe, sizeof(probe), "%s/.vucert-write-test-%d", dir,
             (int)getpid());
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, cap, "%s: cannot write in it: %s", dir, strerror(errno));
        return rc;
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* A server the user started: its socket checked once, so that a wrong
 * path, a socket nobody listens on or a file that is no socket is said
 * at once, with its errno, instead of after the connect timeout. */
static int socket_ready(const char *which, const char *path, char *err,
                        size_t cap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc = 0;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, cap,
                 "%ssocket %s: the path is too long for a unix "
                 "socket (at most %zu bytes)",
                 which, path, sizeof(sa.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    if (stat(path, &st) < 0) {
        rc = -errno;
        snprintf(err, cap, "cannot connect to %ssocket %s: %s", which, path,
                 strerror(errno));
        return rc;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, cap, "cannot connect to %s%s: %s (it is a %s)", which,
                 path, strerror(ENOTSOCK),
                 S_ISDIR(st.st_mode) ? "directory" : "file, not a socket");
        return -ENOTSOCK;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, cap, "socket: %s", strerror(errno));
        return rc;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        snprintf(err, cap, "cannot connect to %ssocket %s: %s%s", which, path,
                 strerror(errno),
                 errno == ECONNREFUSED ? " (nothing listens on it)" : "");
    }
    close(fd);
    return rc;
}

/* --jobs: each result printed as it comes in, counted by arrival. */
struct shown {
    const struct vuc_result *res;
    const struct vuc_console *con;
    size_t n;
    bool quiet;
};

static void show_done(void *arg, size_t k, size_t n_done)
{
    const struct shown *sh = arg;

    if (!sh->quiet)
        vuc_report_console_case(stdout, &sh->res[k], sh->con, n_done, sh->n);
    fflush(stdout);
}

static int certify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"server-cmd", required_argument, NULL, 'c'},
        {"profile", required_argument, NULL, 'p'},
        {"report-dir", required_argument, NULL, 'r'},
        {"case", required_argument, NULL, 'k'},
        {"exclude", required_argument, NULL, 'x'},
        {"strict", no_argument, NULL, 'S'},
        {"timeout", required_argument, NULL, 't'},
        {"list", no_argument, NULL, 'l'},
        {"coverage", no_argument, NULL, 'V'},
        {"verbose", no_argument, NULL, 'v'},
        {"dest-socket", required_argument, NULL, 'D'},
        {"dest-server-cmd", required_argument, NULL, 'C'},
        {"stream-limit", required_argument, NULL, 'L'},
        {"server-pid", required_argument, NULL, 'P'},
        {"record", required_argument, NULL, 'R'},
        {"save-sequences", required_argument, NULL, 'Q'},
        {"shuffle", required_argument, NULL, 'X'},
        {"quiet", no_argument, NULL, 'q'},
        {"jobs", required_argument, NULL, 'j'},
        {"color", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *include[MAX_GLOBS], *exclude[MAX_GLOBS];
    const char *color = "auto";
    bool quiet = false;
    unsigned jobs = 1;
    size_t n_inc = 0, n_exc = 0;
    const char *socket = NULL, *server_cmd = NULL, *report_dir = NULL;
    const char *dest_socket = NULL, *dest_cmd = NULL;
    char *profile_path = NULL, *default_cmd = NULL;
    struct vuc_options opts = {.timeout_ms = 5000, .stream_limit = 2ull << 30};
    struct vuc_target target = {0}, dest = {0};
    struct vuc_profile profile;
    bool have_profile = false, list = false, coverage = false;
    struct vuc_run_info info = {.tool_version = VUC_VERSION_STRING};
    struct vuc_console con = {0};
    struct vuc_case *cases;
    struct vuc_result *res;
    size_t n_cases, n_run = 0, n_sel = 0, *order = NULL;
    char *command_line = NULL;
    char err[512];
    int opt, exit_code = 0;
    double t0;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            socket = optarg;
            break;
        case 'c':
            server_cmd = optarg;
            break;
        case 'p':
            free(profile_path);
            profile_path = strdup(optarg);
            break;
        case 'r':
            report_dir = optarg;
            break;
        case 'k':
        case 'x':
            if ((opt == 'k' ? n_inc : n_exc) == MAX_GLOBS) {
                fprintf(stderr, "vucert: at most %d --case/--exclude\n",
                        MAX_GLOBS);
                return EXIT_USAGE;
            }
            if (opt == 'k')
                include[n_inc++] = optarg;
            else
                exclude[n_exc++] = optarg;
            break;
        case 'S':
            opts.strict = true;
            break;
        case 't': {
            char *end;
            double s = strtod(optarg, &end);
            if (*end != '\0' || !(s > 0) || s > 3600) {
                fprintf(stderr,
                        "vucert: --timeout takes seconds (0 < s <= 3600), "
                        "not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            opts.timeout_ms = (int)(s * 1000);
            if (opts.timeout_ms == 0)
                opts.timeout_ms = 1;
            break;
        }
        case 'l':
            list = true;
            break;
        case 'V':
            coverage = true;
            break;
        case 'D':
            dest_socket = optarg;
            break;
        case 'R':
            if (mkdir(optarg, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "vucert: --record %s: %s\n", optarg,
                        strerror(errno));
                return EXIT_USAGE;
            }
            opts.record_dir = optarg;
            break;
        case 'Q':
            if (mkdir(optarg, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "vucert: --save-sequences %s: %s\n", optarg,
                        strerror(errno));
                return EXIT_USAGE;
            }
            opts.seq_dir = optarg;
            break;
        case 'P': {
            char *end;
            long pid = strtol(optarg, &end, 10);
            if (*end != '\0' || pid <= 0 || pid > INT32_MAX) {
                fprintf(stderr,
                        "vucert: --server-pid takes a process id, "
                        "not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            target.watch_pid = (pid_t)pid;
            break;
        }
        case 'C':
            dest_cmd = optarg;
            break;
        case 'L':
            if (parse_size(optarg, &opts.stream_limit) < 0 ||
                opts.stream_limit < 4096) {
                fprintf(stderr,
                        "vucert: --stream-limit takes a size of at least "
                        "4096 (suffixes K, M, G), not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'v':
            opts.verbose = true;
            break;
        case 'X': {
            char *end;
            errno = 0;
            info.shuffle_seed = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0') {
                fprintf(stderr,
                        "vucert: --shuffle takes a seed (an unsigned "
                        "integer), not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            info.shuffled = true;
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 64) {
                fprintf(stderr, "vucert: --jobs takes 1 to 64, not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            jobs = (unsigned)v;
            break;
        }
        case 'O':
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "always") != 0 &&
                strcmp(optarg, "never") != 0) {
                fprintf(stderr,
                        "vucert: --color takes auto, always or never, "
                        "not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            color = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vucert: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (coverage && !list) {
        fprintf(stderr, "vucert: --coverage goes with --list\n");
        return EXIT_USAGE;
    }
    if (socket != NULL && server_cmd != NULL) {
        fprintf(stderr, "vucert: give --socket or --server-cmd, not both\n");
        return EXIT_USAGE;
    }
    if (jobs > 1 && (socket != NULL || dest_socket != NULL)) {
        fprintf(stderr, "vucert: --jobs needs servers vucert starts "
                        "(--server-cmd, --dest-server-cmd): each job runs "
                        "its own\n");
        return EXIT_USAGE;
    }
    if (dest_socket != NULL && dest_cmd != NULL) {
        fprintf(stderr, "vucert: give --dest-socket or --dest-server-cmd, "
                        "not both\n");
        return EXIT_USAGE;
    }

    cases = calloc(VUC_MAX_CASES, sizeof(*cases));
    res = calloc(VUC_MAX_CASES, sizeof(*res));
    order = calloc(VUC_MAX_CASES, sizeof(*order));
    command_line = quote_argv(argc, argv);
    info.command_line = command_line;
    if (cases == NULL || res == NULL || order == NULL) {
        fprintf(stderr, "vucert: out of memory\n");
        return EXIT_USAGE;
    }
    n_cases = vuc_cases_all(cases, VUC_MAX_CASES);
    if (n_cases > VUC_MAX_CASES)
        n_cases = VUC_MAX_CASES;
    if (list && coverage) {
        exit_code = print_coverage(stdout);
        goto out;
    }
    if (list) {
        for (size_t i = 0; i < n_cases; i++)
            if (vuc_case_selected(cases[i].id, include, n_inc, exclude, n_exc))
                printf("%-44s %-6s %s\n", cases[i].id,
                       vuc_level_name(cases[i].level), cases[i].title);
        goto out;
    }

    (void)vuc_spec_coverage(&info.coverage); /* rows 0 when it fails */
    {
        char serr[160];
        if (vuc_spec_rows(&info.spec_rows, &info.n_spec_rows, serr,
                          sizeof(serr)) < 0) {
            info.spec_rows = NULL;
            info.n_spec_rows = 0;
        }
    }
    for (size_t i = 0; i < n_cases; i++)
        if (vuc_case_selected(cases[i].id, include, n_inc, exclude, n_exc))
            order[n_sel++] = i;
    if (n_sel == 0) {
        /* a typo in --case must not pass a CI job with empty reports */
        fprintf(stderr, "vucert: no case matches the --case/--exclude "
                        "selection (vucert certify --list shows the ids)\n");
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (socket != NULL && socket_ready("", socket, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: %s\n", err);
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (dest_socket != NULL &&
        socket_ready("destination ", dest_socket, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: %s\n", err);
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (socket == NULL && server_cmd == NULL) {
        if (vuc_embedded_default(&default_cmd, &profile_path) < 0) {
            exit_code = EXIT_USAGE;
            goto out;
        }
        server_cmd = default_cmd;
    }
    if (profile_path != NULL) {
        if (vuc_profile_load(profile_path, &profile, err, sizeof(err)) < 0) {
            fprintf(stderr, "vucert: profile %s\n", err);
            exit_code = EXIT_USAGE;
            goto out;
        }
        have_profile = true;
        info.profile = profile.path;
    }
    /* last of the checks, so that a run refused for its arguments or its
     * profile makes no folder */
    if (report_dir != NULL &&
        report_dir_ready(report_dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: --report-dir %s\n", err);
        exit_code = EXIT_USAGE;
        goto out;
    }

    target.socket = socket;
    target.server_cmd = server_cmd;
    target.timeout_ms = opts.timeout_ms;
    info.target_desc = socket ? socket : server_cmd;
    if (server_cmd != NULL && vuc_target_start(&target, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: starting the server: %s\n", err);
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (preflight(&target, &opts, &info) < 0) {
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (dest_socket != NULL || dest_cmd != NULL) {
        struct vuc_run_info dinfo = {0};
        dest.socket = dest_socket;
        dest.server_cmd = dest_cmd;
        dest.timeout_ms = opts.timeout_ms;
        if (dest_cmd != NULL && vuc_target_start(&dest, err, sizeof(err)) < 0) {
            fprintf(stderr, "vucert: starting the destination: %s\n", err);
            exit_code = EXIT_USAGE;
            goto out;
        }
        if (preflight(&dest, &opts, &dinfo) < 0) {
            free(dinfo.server_json);
            exit_code = EXIT_USAGE;
            goto out;
        }
        free(dinfo.server_json);
        info.dest_desc = dest_socket ? dest_socket : dest_cmd;
    }
    if (info.mig_flags_known)
        printf("vucert %s: certifying %s (vfio-user %u.%u, migration flags "
               "0x%llx)\n",
               VUC_VERSION_STRING, info.target_desc, info.major, info.minor,
               (unsigned long long)info.mig_flags);
    else
        printf("vucert %s: certifying %s (vfio-user %u.%u, MIGRATION GET "
               "failed)\n",
               VUC_VERSION_STRING, info.target_desc, info.major, info.minor);

    if (info.shuffled)
        shuffle(order, n_sel, info.shuffle_seed);
    info.timeout_ms = opts.timeout_ms;
    info.strict = opts.strict;
    info.started = (long long)time(NULL);
    con.verbose = opts.verbose;
    con.color = strcmp(color, "always") == 0 ||
                (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) &&
                 getenv("NO_COLOR") == NULL);
    t0 = now_ms();
    if (jobs > 1) {
        struct vuc_jobs j = {.jobs = jobs,
                             .target = &target,
                             .dest = info.dest_desc ? &dest : NULL,
                             .profile = have_profile ? &profile : NULL,
                             .opts = &opts,
                             .info = &info,
                             .cases = cases,
                             .order = order,
                             .n_sel = n_sel};
        struct shown sh = {res, &con, n_sel, quiet};
        /* the jobs start their own servers: these rest meanwhile */
        vuc_target_stop(&target);
        vuc_target_stop(&dest);
        if (vuc_run_jobs(&j, res, show_done, &sh) < 0)
            fprintf(stderr, "vucert: running the jobs: %s\n", strerror(errno));
        n_run = n_sel;
    }
    for (size_t k = 0; jobs == 1 && k < n_sel; k++) {
        size_t i = order[k];
        vuc_run_case(&target, info.dest_desc ? &dest : NULL,
                     have_profile ? &profile : NULL, &opts, &info, &cases[i],
                     &res[n_run]);
        if (!quiet)
            vuc_report_console_case(stdout, &res[n_run], &con, k + 1, n_sel);
        fflush(stdout);
        n_run++;
    }
    info.duration_ms = now_ms() - t0;
    vuc_report_console_summary(stdout, &info, res, n_run);
    printf("wall time: %.1f ms\n", info.duration_ms);

    for (size_t i = 0; i < n_run; i++) {
        enum vuc_verdict v = res[i].verdict;
        if (v == VUC_FAIL || v == VUC_ERROR || v == VUC_BLOCKED ||
            (opts.strict && v == VUC_NON_STRICT))
            exit_code = EXIT_FAILED;
    }
    if (report_dir != NULL) {
        if (vuc_report_write_all(report_dir, &info, res, n_run, err,
                                 sizeof(err)) < 0) {
            fprintf(stderr, "vucert: writing reports: %s\n", err);
            exit_code = EXIT_USAGE;
        } else {
            printf("reports written to %s/\n", report_dir);
        }
    }
out:
    vuc_target_cleanup(&target);
    vuc_target_cleanup(&dest);
    for (size_t i = 0; i < n_run; i++) {
        free(res[i].reason);
        free(res[i].exchange);
        free(res[i].root_cause);
        free(res[i].notes);
    }
    free(res);
    free(cases);
    free(order);
    free(command_line);
    free(info.server_json);
    if (have_profile)
        vuc_profile_free(&profile);
    free(profile_path);
    free(default_cmd);
    return exit_code;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "certify") == 0)
        return certify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("vucert %s\n", VUC_VERSION_STRING);
        return 0;
    }
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "fuzz") == 0)
        return vuc_fuzz_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return vuc_replay_main(argc - 1, argv + 1);
    if (argc >= 2)
        fprintf(stderr,
                "vucert: unknown subcommand '%s' (certify, fuzz or replay; "
                "vucert --help)\n",
                argv[1]);
    else
        usage(stderr);
    return EXIT_USAGE;
}
