// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert fuzz: protocol-aware sequences against any live server over its
 * socket. Each run negotiates properly, then sends a short sequence of
 * mostly well-formed messages (every command vucert knows, with the
 * migration state machine, streams and DMA logging in mind), some of them
 * mutated, reads what comes back, and ends with a liveness probe on a new
 * connection. A crash, a hang past the timeout or a malformed reply saves
 * the exact sequence; `vucert replay FILE` sends it again.
 *
 * Reproducer format: the line "VUCERT-REPRO 1\n", then per message a
 * 4-byte little-endian length and the message bytes exactly as sent.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_priv.h"
#include "vucert/client.h"
#include "vucert/codec.h"
#include "vucert/harness.h"

#define MAX_SEQ       12
#define MAX_MSG       8192
#define REPRO_MAGIC   "VUCERT-REPRO 1\n"
#define REPLY_WAIT_MS 2

struct seq {
    uint8_t msg[MAX_SEQ][MAX_MSG];
    size_t len[MAX_SEQ];
    int n;
};

struct fz {
    struct vuc_target t;
    int timeout_ms;
    uint64_t rng;
    long err_from; /* the server's stderr capture when the sequence began */
    char finding[1024];
};

static uint64_t rnd(struct fz *f)
{
    /* xorshift64*: reproducible from --seed */
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 0x2545f4914f6cdd1dull;
}

static uint32_t pick(struct fz *f, uint32_t n)
{
    return n ? (uint32_t)(rnd(f) % n) : 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A well-formed payload for cmd; returns its length. */
static size_t template(struct fz *f, uint16_t cmd, uint8_t *p, size_t cap)
{
    static const uint32_t features[] = {1, 2, 2, 2, 6, 7, 8, 0, 3, 0xffff};
    static const uint32_t sizes[] = {
        0, 1, 64, 4096, 65536, 1u << 20, (1u << 20) + 1};
    static const char *const json[] = {
        "{\"capabilities\":{\"max_msg_fds\":1}}", "{}", "", "{\"capa",
        "{\"capabilities\":{\"max_data_xfer_size\":4096}}"};
    uint32_t n;

    memset(p, 0, cap);
    switch (cmd) {
    case VUC_CMD_VERSION: {
        const char *j = json[pick(f, 5)];
        vuc_put_u16(p, 0);
        vuc_put_u16(p + 2, (uint16_t)pick(f, 3));
        memcpy(p + 4, j, strlen(j) + 1);
        return 4 + strlen(j) + (j[0] ? 1 : 0);
    }
    case VUC_CMD_DMA_MAP:
        vuc_put_u32(p, 32);
        vuc_put_u32(p + 4, pick(f, 4));
        vuc_put_u64(p + 16, (uint64_t)pick(f, 64) << 12);
        vuc_put_u64(p + 24, (uint64_t)(1 + pick(f, 16)) << 12);
        return 32;
    case VUC_CMD_DMA_UNMAP:
        vuc_put_u32(p, 24);
        vuc_put_u64(p + 8, (uint64_t)pick(f, 64) << 12);
        vuc_put_u64(p + 16, (uint64_t)(1 + pick(f, 16)) << 12);
        return 24;
    case VUC_CMD_DEVICE_GET_INFO:
    case VUC_CMD_DEVICE_GET_IRQ_INFO:
    case VUC_CMD_DEVICE_GET_REGION_IO_FDS:
        vuc_put_u32(p, 16);
        vuc_put_u32(p + 8, pick(f, 10));
        return 16;
    case VUC_CMD_DEVICE_GET_REGION_INFO:
        vuc_put_u32(p, 32);
        vuc_put_u32(p + 8, pick(f, 10));
        return 32;
    case VUC_CMD_DEVICE_SET_IRQS:
        vuc_put_u32(p, 20);
        vuc_put_u32(p + 4, (uint32_t)rnd(f) & 0x3f);
        vuc_put_u32(p + 8, pick(f, 6));
        vuc_put_u32(p + 16, pick(f, 3));
        return 20;
    case VUC_CMD_REGION_READ:
    case VUC_CMD_REGION_WRITE:
        n = 1u << pick(f, 4);
        vuc_put_u64(p, (uint64_t)pick(f, 0x90) & ~(uint64_t)(n - 1));
        vuc_put_u32(p + 8, pick(f, 3) ? 0 : pick(f, 10));
        vuc_put_u32(p + 12, n);
        if (cmd == VUC_CMD_REGION_READ)
            return 16;
        vuc_put_u64(p + 16, pick(f, 2) ? 1 : rnd(f)); /* 1 arms FAULT */
        return 16 + n;
    case VUC_CMD_DEVICE_RESET:
        return 0;
    case VUC_CMD_REGION_WRITE_MULTI:
        vuc_put_u64(p, 1);
        vuc_put_u64(p + 8, pick(f, 0x90) & ~7u);
        vuc_put_u32(p + 20, 8);
        vuc_put_u64(p + 24, rnd(f));
        return 32;
    case VUC_CMD_DEVICE_FEATURE: {
        uint32_t idx = features[pick(f, 10)];
        uint32_t m = pick(f, 8);
        uint32_t flags = idx | (m & 1 ? VUC_FEATURE_GET : 0) |
                         (m & 2 ? VUC_FEATURE_SET : 0) |
                         (m == 4 ? VUC_FEATURE_PROBE : 0);
        if (m == 0)
            flags |= idx == 2 ? VUC_FEATURE_SET : VUC_FEATURE_GET;
        vuc_put_u32(p, 16 + (pick(f, 4) ? 0 : 4096));
        vuc_put_u32(p + 4, flags);
        if (idx == 2) {
            vuc_put_u32(p + 8, pick(f, 10));
            return 16;
        }
        if (idx == 6 || idx == 8) { /* logging control / report */
            vuc_put_u64(p + 8, 4096u << pick(f, 3));
            vuc_put_u64(p + 16, pick(f, 2));
            vuc_put_u64(p + 24, (uint64_t)pick(f, 8) << 12);
            vuc_put_u64(p + 32, (uint64_t)(1 + pick(f, 64)) << 12);
            return idx == 6 ? 40 : 32;
        }
        return 8;
    }
    case VUC_CMD_MIG_DATA_READ:
    case VUC_CMD_MIG_DATA_WRITE:
        n = sizes[pick(f, 7)];
        if (cmd == VUC_CMD_MIG_DATA_WRITE && n > cap - 8)
            n = (uint32_t)(cap - 8) & ~7u;
        vuc_put_u32(p, 8 + (cmd == VUC_CMD_MIG_DATA_READ ? n : 0));
        vuc_put_u32(p + 4, n);
        return cmd == VUC_CMD_MIG_DATA_READ ? 8 : 8 + n;
    default:
        return 0;
    }
}

/* One message: mostly the template, sometimes mutated. */
static void gen(struct fz *f, uint8_t *m, size_t *len)
{
    static const uint16_t cmds[] = {
        VUC_CMD_DEVICE_FEATURE,  VUC_CMD_DEVICE_FEATURE,
        VUC_CMD_DEVICE_FEATURE,  VUC_CMD_MIG_DATA_READ,
        VUC_CMD_MIG_DATA_WRITE,  VUC_CMD_REGION_WRITE,
        VUC_CMD_REGION_READ,     VUC_CMD_DMA_MAP,
        VUC_CMD_DMA_UNMAP,       VUC_CMD_DEVICE_RESET,
        VUC_CMD_DEVICE_GET_INFO, VUC_CMD_DEVICE_GET_REGION_INFO,
        VUC_CMD_DEVICE_SET_IRQS, VUC_CMD_REGION_WRITE_MULTI,
        VUC_CMD_VERSION,         VUC_CMD_DEVICE_GET_IRQ_INFO,
    };
    uint16_t cmd = cmds[pick(f, sizeof(cmds) / sizeof(cmds[0]))];
    size_t plen = template(f, cmd, m + VUC_HDR_SIZE, MAX_MSG - VUC_HDR_SIZE);
    struct vuc_hdr h = {.id = (uint16_t)rnd(f),
                        .cmd = cmd,
                        .size = (uint32_t)(VUC_HDR_SIZE + plen),
                        .flags = VUC_TYPE_COMMAND};

    switch (pick(f, 10)) {
    case 0: /* a bit flipped in the payload */
        if (plen)
            m[VUC_HDR_SIZE + pick(f, (uint32_t)plen)] ^=
                (uint8_t)(1u << pick(f, 8));
        break;
    case 1: /* a size field that lies */
        h.size = pick(f, 2) ? pick(f, 40) : h.size + pick(f, 64);
        break;
    case 2: /* truncated */
        plen = pick(f, (uint32_t)plen + 1);
        h.size = (uint32_t)(VUC_HDR_SIZE + plen);
        break;
    case 3: /* odd flags */
        h.flags = (uint32_t)rnd(f) & 0x3f;
        break;
    case 4: /* another command number */
        h.cmd = (uint16_t)pick(f, 24);
        break;
    default:
        break;
    }
    vuc_hdr_encode(&h, m, VUC_HDR_SIZE);
    *len = VUC_HDR_SIZE + plen;
}

static int liveness(struct fz *f, char *why, size_t cap)
{
    struct vuc_client *cl;
    struct vuc_reply r;
    uint8_t p[16] = {16};
    int rc = vuc_client_connect(f->t.socket, f->timeout_ms, &cl);

    if (rc < 0) {
        snprintf(why, cap, "cannot connect: %s", strerror(-rc));
        return rc;
    }
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              &r);
    if (rc == 0 && !r.is_error) {
        vuc_reply_release(&r);
        rc = vuc_client_call(cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL, 0,
                             &r);
    }
    if (rc < 0 || r.is_error)
        snprintf(why, cap, "no answer to VERSION / DEVICE_GET_INFO: %s",
                 rc < 0 ? vuc_client_last_error(cl) : "error reply");
    vuc_reply_release(&r);
    vuc_client_close(cl);
    return rc < 0 ? rc : 0;
}

/* The server's end as testimony: how it died, and what it wrote during
 * the sequence from its first telling line (a sanitizer's report names
 * the error there; its tail is only the shadow byte legend), else the
 * tail of its stderr. */
static void death_finding(struct fz *f)
{
    char *txt = vuc_target_stderr_since(&f->t, f->err_from, 1 << 16);
    const char *hit = txt != NULL ? vuc_telling_line(txt) : NULL;
    char *tail = hit == NULL ? vuc_target_stderr_tail(&f->t, 1200) : NULL;
    const char *say = hit != NULL ? hit : tail;

    snprintf(f->finding, sizeof(f->finding), "the server %s%s%s",
             f->t.last_death, say && *say ? "; its stderr:\n" : "",
             say ? say : "");
    free(txt);
    free(tail);
}

/*
 * A server that serves one client per process (it exited with status 0
 * when the first client left, vucert_fuzz_main learns): the end of the
 * sequence is its exit. Status 0 is how it always ends, not a finding;
 * anything else is. It is started again for the next sequence.
 */
static int one_client_end(struct fz *f)
{
    char err[512];

    if (!vuc_target_wait_exit(&f->t, f->timeout_ms)) {
        snprintf(f->finding, sizeof(f->finding),
                 "after the sequence the server did not exit, as it does "
                 "when its client leaves, within %d ms",
                 f->timeout_ms);
        vuc_target_kill(&f->t);
        (void)vuc_target_restart(&f->t, err, sizeof(err));
        return 1;
    }
    (void)vuc_target_died(&f->t);
    if (!f->t.last_exit_clean) {
        death_finding(f);
        (void)vuc_target_restart(&f->t, err, sizeof(err));
        return 1;
    }
    if (vuc_target_restart(&f->t, err, sizeof(err)) < 0) {
        snprintf(f->finding, sizeof(f->finding),
                 "starting the server for the next sequence: %s", err);
        return -1;
    }
    return 0;
}

/*
 * Send the sequence on a fresh, negotiated connection, reading whatever
 * comes back, then probe liveness. Returns 1 with f->finding set when
 * something is wrong with the server, 0 when not, < 0 when vucert could
 * not run it.
 */
static int run_seq(struct fz *f, const struct seq *s)
{
    struct vuc_client *cl;
    char why[512];
    int rc;

    f->err_from = vuc_target_stderr_size(&f->t);
    rc = vuc_client_connect(f->t.socket, f->timeout_ms, &cl);
    f->finding[0] = '\0';
    if (rc < 0)
        goto dead;
    if (vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                             NULL) < 0) {
        vuc_client_close(cl);
        goto dead;
    }
    for (int i = 0; i < s->n; i++) {
        struct vuc_hdr h;
        bool closed = false, due;
        int waits = 0;

        /* a well-formed command is due its reply: wait the full timeout
         * for it (none is a hang); after anything else, only collect what
         * is already there */
        due = vuc_hdr_decode(s->msg[i], s->len[i], &h) == 0 &&
              h.size == s->len[i] && vuc_hdr_type(&h) == VUC_TYPE_COMMAND &&
              !(h.flags & VUC_FLAG_NO_REPLY);
        if (vuc_client_send_raw(cl, s->msg[i], s->len[i]) < 0)
            break;
        for (;;) {
            struct vuc_reply r;
            /* the due reply: the full timeout; a message that may have
             * no answer: a moment; after that: only what is buffered */
            vuc_client_set_timeout(cl, waits > 0 ? 0
                                       : due     ? f->timeout_ms
                                                 : REPLY_WAIT_MS);
            rc = vuc_client_recv_any(cl, &r);
            waits++;
            if (rc == -ETIMEDOUT && due && waits == 1) {
                snprintf(f->finding, sizeof(f->finding),
                         "no reply to message %d (%s #%u) within %d ms and "
                         "the connection stays open",
                         i + 1, vuc_cmd_name(h.cmd), h.id, f->timeout_ms);
                vuc_client_close(cl);
                return 1;
            }
            if (rc == -ETIMEDOUT || rc == -EAGAIN)
                break;
            if (rc == -ECONNRESET || rc == -EPIPE) {
                closed = true; /* closing is an answer */
                break;
            }
            if (rc < 0) {
                snprintf(f->finding, sizeof(f->finding),
                         "malformed reply to message %d: %s", i + 1,
                         vuc_client_last_error(cl));
                vuc_client_close(cl);
                return 1;
            }
            if (vuc_hdr_type(&r.msg.hdr) == VUC_TYPE_COMMAND) {
                /* the server's own request (DMA): refuse it */
                struct vuc_hdr rh = {.id = r.msg.hdr.id,
                                     .cmd = r.msg.hdr.cmd,
                                     .flags = VUC_TYPE_REPLY | VUC_FLAG_ERROR,
                                     .error = EFAULT};
                vuc_conn_send(vuc_client_conn(cl), &rh, NULL, 0, NULL, 0,
                              REPLY_WAIT_MS);
            } else if (vuc_hdr_type(&r.msg.hdr) != VUC_TYPE_REPLY ||
                       (r.is_error && r.payload_len != 0)) {
                snprintf(f->finding, sizeof(f->finding),
                         "malformed reply to message %d: %s #%u type %u, "
                         "%zu payload bytes%s",
                         i + 1, vuc_cmd_name(r.msg.hdr.cmd), r.msg.hdr.id,
                         vuc_hdr_type(&r.msg.hdr), r.payload_len,
                         r.is_error ? " on an error reply" : "");
                vuc_reply_release(&r);
                vuc_client_close(cl);
                return 1;
            }
            vuc_reply_release(&r);
        }
        if (closed)
            break;
    }
    vuc_client_close(cl);
    if (f->t.exits_on_disconnect)
        return one_client_end(f);
    rc = liveness(f, why, sizeof(why));
    if (f->t.cmd != NULL && (rc < 0 || vuc_target_died(&f->t))) {
        /* a crash shows as an exit shortly after the bytes that did it */
        for (int i = 0; i < 100 && f->t.pid > 0 && !vuc_target_died(&f->t);
             i++) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (f->t.cmd != NULL && f->t.pid <= 0 && f->t.daemon_pid <= 0) {
        death_finding(f);
        return 1;
    }
    if (rc < 0) {
        snprintf(f->finding, sizeof(f->finding),
                 "after the sequence the server is unresponsive (%s)", why);
        return 1;
    }
    return 0;
dead:
    snprintf(f->finding, sizeof(f->finding),
             "the server could not be reached before the sequence");
    return -1;
}

static int save_repro(const struct seq *s, const char *dir, char *path,
                      size_t cap)
{
    char name[65];
    FILE *fp;
    size_t total = 0;
    uint8_t *all;

    for (int i = 0; i < s->n; i++)
        total += 4 + s->len[i];
    all = malloc(total + 1);
    if (all == NULL)
        return -ENOMEM;
    total = 0;
    for (int i = 0; i < s->n; i++) {
        vuc_put_u32(all + total, (uint32_t)s->len[i]);
        memcpy(all + total + 4, s->msg[i], s->len[i]);
        total += 4 + s->len[i];
    }
    vuc_sha256_hex(all, total, name);
    snprintf(path, cap, "%s/repro-%.16s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL) {
        free(all);
        return -errno;
    }
    fputs(REPRO_MAGIC, fp);
    fwrite(all, 1, total, fp);
    free(all);
    return fclose(fp) == 0 ? 0 : -EIO;
}

static int load_repro(const char *path, struct seq *s, char *err, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    char magic[sizeof(REPRO_MAGIC)] = {0};
    uint8_t lb[4];

    memset(s, 0, sizeof(*s));
    if (fp == NULL) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return -ENOENT;
    }
    if (fread(magic, 1, strlen(REPRO_MAGIC), fp) != strlen(REPRO_MAGIC) ||
        strcmp(magic, REPRO_MAGIC) != 0) {
        snprintf(err, cap, "%s: not a vucert reproducer", path);
        fclose(fp);
        return -EINVAL;
    }
    while (fread(lb, 1, 4, fp) == 4) {
        uint32_t n = vuc_get_u32(lb);
        if (s->n == MAX_SEQ || n > MAX_MSG ||
            fread(s->msg[s->n], 1, n, fp) != n) {
            snprintf(err, cap, "%s: a message is cut short or too large", path);
            fclose(fp);
            return -EINVAL;
        }
        s->len[s->n++] = n;
    }
    fclose(fp);
    return 0;
}

static const struct option target_opts[] = {
    {"socket", required_argument, NULL, 's'},
    {"server-cmd", required_argument, NULL, 'c'},
    {"time", required_argument, NULL, 'T'},
    {"runs", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 'S'},
    {"out", required_argument, NULL, 'o'},
    {"timeout", required_argument, NULL, 't'},
    {NULL, 0, NULL, 0},
};

struct fz_args {
    const char *socket, *cmd, *out;
    double time_s, timeout_s;
    long runs;
    uint64_t seed;
};

static int parse(int argc, char **argv, struct fz_args *a, bool fuzzing)
{
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", target_opts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 's':
            a->socket = optarg;
            break;
        case 'c':
            a->cmd = optarg;
            break;
        case 'T':
            a->time_s = strtod(optarg, &end);
            break;
        case 'n':
            a->runs = strtol(optarg, &end, 10);
            break;
        case 'S':
            a->seed = strtoull(optarg, &end, 0);
            break;
        case 'o':
            a->out = optarg;
            break;
        case 't':
            a->timeout_s = strtod(optarg, &end);
            break;
        default:
            return -EINVAL;
        }
        if (end != NULL && *end != '\0') {
            fprintf(stderr, "vucert: bad number '%s'\n", optarg);
            return -EINVAL;
        }
    }
    if ((a->socket == NULL) == (a->cmd == NULL)) {
        fprintf(stderr, "vucert: give --socket or --server-cmd\n");
        return -EINVAL;
    }
    if (fuzzing && (a->time_s < 0 || a->runs < 0))
        return -EINVAL;
    if (!(a->timeout_s > 0) || a->timeout_s > 3600)
        a->timeout_s = 2;
    return 0;
}

/* Does the server end when its client leaves (one client per process)?
 * A first client comes and goes; an exit with status 0 within 100 ms
 * says so, and the server is started again. */
static int learn_disconnect(struct fz *f)
{
    struct vuc_client *cl;
    char err[512];
    int rc = vuc_client_connect(f->t.socket, f->timeout_ms, &cl);

    if (rc < 0) {
        fprintf(stderr, "vucert: connecting to the server: %s\n",
                strerror(-rc));
        return -1;
    }
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              NULL);
    vuc_client_close(cl);
    if (rc < 0 || !vuc_target_wait_exit(&f->t, 100))
        return 0; /* the sequences will say what is wrong */
    (void)vuc_target_died(&f->t);
    if (f->t.pid > 0 || f->t.daemon_pid > 0)
        return 0;
    if (!f->t.last_exit_clean) {
        fprintf(stderr, "vucert: the server %s after its first client left\n",
                f->t.last_death);
        return -1;
    }
    f->t.exits_on_disconnect = true;
    if (vuc_target_restart(&f->t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: restarting the server: %s\n", err);
        return -1;
    }
    return 0;
}

static int start(struct fz *f, const struct fz_args *a)
{
    char err[512];

    f->t.socket = a->socket;
    f->t.server_cmd = a->cmd;
    f->timeout_ms = (int)(a->timeout_s * 1000);
    f->t.timeout_ms = f->timeout_ms;
    if (a->cmd != NULL && vuc_target_start(&f->t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: starting the server: %s\n", err);
        return -1;
    }
    return a->cmd != NULL ? learn_disconnect(f) : 0;
}

static void stop(struct fz *f, const struct fz_args *a)
{
    vuc_target_stop(&f->t);
    if (f->t.tmpdir != NULL) {
        unlink(f->t.socket);
        unlink(f->t.stderr_path);
        rmdir(f->t.tmpdir);
        free((char *)f->t.socket);
    }
    (void)a;
    free(f->t.tmpdir);
    free(f->t.stderr_path);
    free(f->t.cmd);
}

int vuc_fuzz_main(int argc, char **argv)
{
    struct fz_args a = {.out = "fuzz-findings", .seed = 1};
    struct fz *f = calloc(1, sizeof(*f));
    struct seq *s = calloc(1, sizeof(*s));
    double t0, last;
    long runs = 0;
    int exit_code = 0;

    if (f == NULL || s == NULL || parse(argc, argv, &a, true) < 0) {
        fprintf(stderr, "usage: vucert fuzz (--socket PATH | --server-cmd "
                        "CMD) [--time S | --runs N] [--seed N] [--out DIR] "
                        "[--timeout S]\n");
        free(f);
        free(s);
        return 2;
    }
    if (a.time_s == 0 && a.runs == 0)
        a.time_s = 60;
    f->rng = a.seed ? a.seed : 1;
    if (start(f, &a) < 0) {
        free(f);
        free(s);
        return 2;
    }
    if (mkdir(a.out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "vucert: %s: %s\n", a.out, strerror(errno));
        exit_code = 2;
        goto out;
    }
    t0 = last = now_s();
    for (;;) {
        char path[4096];
        int rc;

        if ((a.runs > 0 && runs >= a.runs) ||
            (a.time_s > 0 && now_s() - t0 >= a.time_s))
            break;
        s->n = 1 + (int)pick(f, MAX_SEQ);
        for (int i = 0; i < s->n; i++)
            gen(f, s->msg[i], &s->len[i]);
        rc = run_seq(f, s);
        runs++;
        if (rc < 0) {
            fprintf(stderr, "vucert fuzz: %s\n", f->finding);
            exit_code = 2;
            break;
        }
        if (rc == 1) {
            if (save_repro(s, a.out, path, sizeof(path)) < 0)
                snprintf(path, sizeof(path), "(could not save)");
            printf("vucert fuzz: FINDING after %ld runs: %s\n"
                   "  reproducer: %s\n"
                   "  replay it:  vucert replay %s %s '%s'\n",
                   runs, f->finding, path, path,
                   a.cmd ? "--server-cmd" : "--socket",
                   a.cmd ? a.cmd : a.socket);
            exit_code = 1;
            break;
        }
        if (now_s() - last >= 1.0) {
            last = now_s();
            printf("vucert fuzz: %ld runs, %.0f runs/s\n", runs,
                   (double)runs / (last - t0));
            fflush(stdout);
        }
    }
    if (exit_code == 0)
        printf("vucert fuzz: %ld runs in %.1f s, no finding\n", runs,
               now_s() - t0);
out:
    stop(f, &a);
    free(f);
    free(s);
    return exit_code;
}

/*
 * The server's testimony at its exit: vucert ends it with SIGTERM after
 * the sequence; a sanitizer or valgrind report written since `from`
 * (LeakSanitizer speaks only at exit), or an exit status other than 0,
 * is a finding. A server vucert had to kill (it ignored SIGTERM) is not
 * one here: backend.sigterm judges that.
 */
static bool exit_testimony(struct fz *f, long from)
{
    const char *hit;
    char *txt;
    int st, n;

    if (f->t.cmd == NULL || f->t.pid <= 0)
        return false;
    vuc_target_stop(&f->t);
    st = f->t.last_status;
    txt = vuc_target_stderr_since(&f->t, from, 1 << 16);
    hit = txt != NULL ? vuc_telling_line(txt) : NULL;
    if (hit == NULL && (f->t.last_exit_clean ||
                        (WIFSIGNALED(st) && (WTERMSIG(st) == SIGTERM ||
                                             WTERMSIG(st) == SIGKILL)))) {
        free(txt);
        return false;
    }
    n = snprintf(f->finding, sizeof(f->finding),
                 "at its exit (SIGTERM after the sequence) the server %s%s",
                 f->t.last_death, hit ? "; its stderr:\n" : "");
    /* the report from its first line, as much as the finding holds */
    if (hit != NULL && n > 0 && (size_t)n < sizeof(f->finding))
        snprintf(f->finding + n, sizeof(f->finding) - (size_t)n, "%s", hit);
    free(txt);
    return true;
}

int vuc_replay_main(int argc, char **argv)
{
    struct fz_args a = {0};
    struct fz *f = calloc(1, sizeof(*f));
    struct seq *s = calloc(1, sizeof(*s));
    char err[512];
    int rc, exit_code;
    long from;

    if (f == NULL || s == NULL || argc < 2 || argv[1][0] == '-' ||
        parse(argc - 1, argv + 1, &a, false) < 0) {
        fprintf(stderr, "usage: vucert replay FILE (--socket PATH | "
                        "--server-cmd CMD) [--timeout S]\n");
        free(f);
        free(s);
        return 2;
    }
    if (load_repro(argv[1], s, err, sizeof(err)) < 0) {
        fprintf(stderr, "vucert: %s\n", err);
        free(f);
        free(s);
        return 2;
    }
    if (start(f, &a) < 0) {
        free(f);
        free(s);
        return 2;
    }
    from = vuc_target_stderr_size(&f->t);
    rc = run_seq(f, s);
    if (rc == 0 && exit_testimony(f, from))
        rc = 1;
    if (rc == 1) {
        printf("vucert replay: reproduced (%d messages): %s\n", s->n,
               f->finding);
        exit_code = 1;
    } else if (rc < 0) {
        fprintf(stderr, "vucert replay: %s\n", f->finding);
        exit_code = 2;
    } else {
        printf("vucert replay: not reproduced: the server answered all %d "
               "messages and stays responsive\n",
               s->n);
        exit_code = 0;
    }
    stop(f, &a);
    free(f);
    free(s);
    return exit_code;
}
