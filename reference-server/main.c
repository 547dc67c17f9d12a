// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert-server command line (reference-server/README.md).
 * Exit codes: 0 after SIGINT/SIGTERM, 1 when the server cannot run,
 * 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "vucert/fsm.h"
#include "vucert/server.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vucert-server --socket PATH [options]\n"
            "       vucert-server --fd FDNUM [options]\n"
            "\n"
            "The vucert reference vfio-user device.\n"
            "\n"
            "  --socket PATH            listen on this AF_UNIX socket "
            "(required;\n"
            "                           --socket-path=PATH is accepted too)\n"
            "  --fd FDNUM               serve the one client on this "
            "connected\n"
            "                           socket, and exit when it leaves\n"
            "  --migration-flags LIST   stop-copy[,p2p][,pre-copy] "
            "(default:\n"
            "                           stop-copy,pre-copy)\n"
            "  --quirk NAME             be deliberately wrong in one way "
            "(repeatable)\n"
            "  --bug NAME               handle one input wrongly "
            "(repeatable; list\n"
            "                           below)\n"
            "  --plant NAME             plant a defect for vucert fuzz to "
            "find\n"
            "                           (repeatable; list below)\n"
            "  --max-data-xfer-size N   largest data transfer, bytes "
            "(default 1048576,\n"
            "                           at most %u)\n"
            "  --state-size N           bytes of migratable device state, "
            "with an\n"
            "                           optional K, M or G suffix; a "
            "multiple of 4096\n"
            "                           up to 16G (default 1M)\n"
            "  --resume-fail-to-error   a failed RESUMING -> STOP goes to "
            "ERROR\n"
            "  --require-arm            a device with a precondition: a SET "
            "that enters\n"
            "                           RUNNING needs 1 written to BAR0 ARM "
            "(0x4c) first\n"
            "  --idle-timeout S         drop a client that completes no "
            "message for S\n"
            "                           seconds, so it cannot hold the next "
            "one (default\n"
            "                           60; 0: never)\n"
            "  --logging-page-size N    the device's own dirty-logging page "
            "size, a\n"
            "                           power of two from 4K to 1G (default: "
            "the page\n"
            "                           size LOGGING_START hints)\n"
            "  --chaos NAME             be a hostile server: mangle replies "
            "after\n"
            "                           VERSION in one way (list below)\n"
            "  --chaos-every N          mangle every Nth chosen reply of a "
            "connection\n"
            "                           (default 1: every one)\n"
            "  --chaos-cmd CMD          mangle only replies to CMD (a name "
            "such as\n"
            "                           DEVICE_FEATURE, or a number)\n"
            "  --verbose                one line per message on stderr\n"
            "  --help                   this text\n"
            "  --version                print the version and exit\n"
            "\n"
            "quirks:\n",
            VUC_SRV_MAX_XFER_LIMIT);
    for (unsigned i = 0; vuc_srv_quirk_name(i); i++)
        fprintf(f, "  %-28s %s\n", vuc_srv_quirk_name(i),
                vuc_srv_quirk_desc(i));
    fprintf(f, "\nbugs:\n");
    for (unsigned i = 0; vuc_srv_bug_name(i); i++)
        fprintf(f, "  %-31s %s\n", vuc_srv_bug_name(i), vuc_srv_bug_desc(i));
    fprintf(f, "  %-31s %s\n", "arc=FROM:TO",
            "the SET FROM -> TO is decided the other way (state names, or "
            "*)");
    fprintf(f, "\nchaos modes:\n");
    for (unsigned i = 1; vuc_srv_chaos_name(i); i++)
        fprintf(f, "  %-28s %s\n", vuc_srv_chaos_name(i),
                vuc_srv_chaos_desc(i));
    fprintf(f, "\nplanted defects:\n");
    for (unsigned i = 0; vuc_srv_plant_name(i); i++)
        fprintf(f, "  %-28s %s\n", vuc_srv_plant_name(i),
                vuc_srv_plant_desc(i));
}

static int unknown_plant(const char *name)
{
    fprintf(stderr, "vucert-server: unknown plant '%s'; valid plants:\n", name);
    for (unsigned i = 0; vuc_srv_plant_name(i); i++)
        fprintf(stderr, "  %s\n", vuc_srv_plant_name(i));
    return EXIT_USAGE;
}

static int unknown_chaos(const char *name)
{
    fprintf(stderr, "vucert-server: unknown chaos mode '%s'; valid modes:\n",
            name);
    for (unsigned i = 1; vuc_srv_chaos_name(i); i++)
        fprintf(stderr, "  %s\n", vuc_srv_chaos_name(i));
    return EXIT_USAGE;
}

/* A command by number or by name (DEVICE_FEATURE, device_feature or
 * VFIO_USER_DEVICE_FEATURE); VERSION is refused: its reply is never
 * mangled. */
static int parse_cmd(const char *s, uint16_t *out)
{
    const struct vuc_msg_desc *t;
    unsigned long v;
    size_t n;
    char *end;

    if (!s || !*s)
        return -EINVAL;
    if (strncasecmp(s, "VFIO_USER_", 10) == 0)
        s += 10;
    errno = 0;
    v = strtoul(s, &end, 0);
    if (!errno && end != s && !*end) {
        if (v == 0 || v > UINT16_MAX || !vuc_msg_desc((uint16_t)v) ||
            v == VUC_CMD_VERSION)
            return -EINVAL;
        *out = (uint16_t)v;
        return 0;
    }
    t = vuc_msg_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(s, vuc_cmd_name(t[i].cmd)) == 0 &&
            t[i].cmd != VUC_CMD_VERSION) {
            *out = t[i].cmd;
            return 0;
        }
    }
    return -EINVAL;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                             ...)
{
    va_list ap;

    fprintf(stderr, "vucert-server: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vucert-server --help'.\n");
    return EXIT_USAGE;
}

static int parse_size(const char *s, size_t *out)
{
    unsigned long long v;
    char *end;

    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end || v == 0 || v > VUC_SRV_MAX_XFER_LIMIT)
        return -EINVAL;
    *out = (size_t)v;
    return 0;
}

/* --fd: an open socket (spec: Backend Program Conventions, --fd=FDNUM) */
static int parse_fd(const char *s, int *out)
{
    unsigned long v;
    char *end;
    int type;
    socklen_t len = sizeof(type);

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > INT_MAX)
        return -EINVAL;
    if (getsockopt((int)v, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_SOCKET = 256,
        OPT_SOCKET_PATH,
        OPT_FD,
        OPT_FLAGS,
        OPT_QUIRK,
        OPT_BUG,
        OPT_XFER,
        OPT_STATE_SIZE,
        OPT_RESUME_FAIL,
        OPT_REQUIRE_ARM,
        OPT_LOG_PAGE,
        OPT_CHAOS,
        OPT_CHAOS_EVERY,
        OPT_CHAOS_CMD,
        OPT_PLANT,
        OPT_IDLE,
    };
    static const struct option lopts[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        /* spec: Backend Program Conventions */
        {"socket-path", required_argument, NULL, OPT_SOCKET_PATH},
        {"fd", required_argument, NULL, OPT_FD},
        {"migration-flags", required_argument, NULL, OPT_FLAGS},
        {"quirk", required_argument, NULL, OPT_QUIRK},
        {"bug", required_argument, NULL, OPT_BUG},
        {"max-data-xfer-size", required_argument, NULL, OPT_XFER},
        {"state-size", required_argument, NULL, OPT_STATE_SIZE},
        {"resume-fail-to-error", no_argument, NULL, OPT_RESUME_FAIL},
        {"require-arm", no_argument, NULL, OPT_REQUIRE_ARM},
        {"logging-page-size", required_argument, NULL, OPT_LOG_PAGE},
        {"chaos", required_argument, NULL, OPT_CHAOS},
        {"chaos-every", required_argument, NULL, OPT_CHAOS_EVERY},
        {"chaos-cmd", required_argument, NULL, OPT_CHAOS_CMD},
        {"plant", required_argument, NULL, OPT_PLANT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct vuc_srv_opts o;
    struct vuc_srv *s;
    const char *socket_path = NULL;
    bool spelled_path = false;
    uint64_t bit;
    uint32_t plant;
    int opt, rc, fd = -1;

    vuc_srv_opts_init(&o);
    /* bug closes-stdio: before anything opens a file */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "closes-stdio") == 0 ||
            strcmp(argv[i], "--bug=closes-stdio") == 0) {
            close(0);
            close(1);
            close(2);
        }
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hv", lopts, NULL)) != -1) {
        switch (opt) {
        case OPT_SOCKET:
        case OPT_SOCKET_PATH:
            socket_path = optarg;
            spelled_path |= opt == OPT_SOCKET_PATH;
            break;
        case OPT_FD:
            if (parse_fd(optarg, &fd) < 0)
                return usage_error("bad --fd '%s' (want an open socket's "
                                   "file descriptor number)",
                                   optarg);
            break;
        case OPT_FLAGS:
            if (vuc_fsm_flags_parse(optarg, &o.mig_flags) < 0)
                return usage_error("bad --migration-flags '%s' (want "
                                   "stop-copy[,p2p][,pre-copy])",
                                   optarg);
            break;
        case OPT_QUIRK:
            if (vuc_srv_quirk_parse(optarg, &bit) < 0) {
                fprintf(stderr,
                        "vucert-server: unknown quirk '%s'; valid quirks:\n",
                        optarg);
                for (unsigned i = 0; vuc_srv_quirk_name(i); i++)
                    fprintf(stderr, "  %s\n", vuc_srv_quirk_name(i));
                return EXIT_USAGE;
            }
            o.quirks |= bit;
            break;
        case OPT_BUG:
            if (vuc_srv_bug_parse(optarg, &o) < 0) {
                fprintf(stderr,
                        "vucert-server: unknown bug '%s'; valid bugs:\n",
                        optarg);
                for (unsigned i = 0; vuc_srv_bug_name(i); i++)
                    fprintf(stderr, "  %s\n", vuc_srv_bug_name(i));
                fprintf(stderr, "  arc=FROM:TO (state names or *)\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_XFER:
            if (parse_size(optarg, &o.max_data_xfer_size) < 0)
                return usage_error("bad --max-data-xfer-size '%s'", optarg);
            break;
        case OPT_STATE_SIZE:
            if (vuc_srv_size_parse(optarg, &o.state_size) < 0)
                return usage_error("bad --state-size '%s' (want a multiple "
                                   "of 4096 from 4K to 16G)",
                                   optarg);
            break;
        case OPT_RESUME_FAIL:
            o.resume_fail_to_error = true;
            break;
        case OPT_REQUIRE_ARM:
            o.require_arm = true;
            break;
        case OPT_IDLE: {
            char *end;
            double sec = strtod(optarg, &end);
            if (*end != '\0' || !(sec >= 0) || sec > 86400)
                return usage_error("bad --idle-timeout '%s' (want seconds, "
                                   "0 for never, at most 86400)",
                                   optarg);
            o.idle_ms = sec == 0            ? -1
                        : (int)(sec * 1000) ? (int)(sec * 1000)
                                            : 1;
            break;
        }
        case OPT_LOG_PAGE:
            /* the --state-size syntax (a multiple of 4096, K/M/G), and a
             * power of two up to 1G (vuc_srv_new checks again) */
            if (vuc_srv_size_parse(optarg, &o.logging_page_size) < 0 ||
                (o.logging_page_size & (o.logging_page_size - 1)) ||
                o.logging_page_size > VUC_SRV_LOG_PAGE_MAX)
                return usage_error("bad --logging-page-size '%s' (want a "
                                   "power of two from 4K to 1G)",
                                   optarg);
            break;
        case OPT_CHAOS:
            if (vuc_srv_chaos_parse(optarg, &o.chaos) < 0)
                return unknown_chaos(optarg);
            break;
        case OPT_CHAOS_EVERY: {
            unsigned long long v;
            char *end;

            errno = 0;
            v = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || *optarg == '-' || v == 0 ||
                v > UINT32_MAX)
                return usage_error("bad --chaos-every '%s' (want 1 to %u)",
                                   optarg, UINT32_MAX);
            o.chaos_every = (uint32_t)v;
            break;
        }
        case OPT_CHAOS_CMD:
            if (parse_cmd(optarg, &o.chaos_cmd) < 0)
                return usage_error("bad --chaos-cmd '%s' (want a command "
                                   "name or number other than VERSION)",
                                   optarg);
            break;
        case OPT_PLANT:
            if (vuc_srv_plant_parse(optarg, &plant) < 0)
                return unknown_plant(optarg);
            o.plants |= plant;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("vucert-server %s\n", VUC_VERSION_STRING);
            return 0;
        case ':':
            return usage_error("option '%s' needs an argument",
                               argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    /* the bugs are known only now, whatever the options' order */
    if (spelled_path && (o.bugs & VUC_SRV_BUG(SOCKET_PATH_REFUSED)))
        return usage_error("%s", "unknown option '--socket-path'");
    if (fd >= 0 && (o.bugs & VUC_SRV_BUG(FD_REFUSED)))
        return usage_error("%s", "unknown option '--fd'");
    if (fd >= 0 && socket_path)
        return usage_error("%s", "--fd and --socket-path exclude each other");
    if (fd < 0 && (!socket_path || !*socket_path))
        return usage_error("%s", "--socket PATH (or --fd FDNUM) is required");
    if ((o.chaos_every || o.chaos_cmd) && !o.chaos)
        return usage_error("%s", "--chaos-every and --chaos-cmd need --chaos");

    rc = vuc_srv_new(&o, &s);
    if (rc < 0) {
        fprintf(stderr, "vucert-server: %s\n", strerror(-rc));
        return 1;
    }
    rc = fd >= 0 ? vuc_srv_run_fd(s, fd) : vuc_srv_run(s, socket_path);
    vuc_srv_free(s);
    if (rc < 0) {
        if (fd >= 0)
            fprintf(stderr, "vucert-server: fd %d: %s\n", fd, strerror(-rc));
        else
            fprintf(stderr, "vucert-server: %s: %s\n", socket_path,
                    strerror(-rc));
        return 1;
    }
    return 0;
}
