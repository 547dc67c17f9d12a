// SPDX-License-Identifier: BSD-3-Clause
/*
 * robust.*: malformed input against any server (spec: Header, Message
 * sizes, Security Considerations: "vfio-user clients should not trust
 * servers, and vice versa"). After each, the server must have answered
 * with an error reply or closed the connection (both allowed), and must
 * then accept a new connection and answer a liveness probe. When vucert
 * knows the server's process, robust.resources.* compare its open fds and
 * resident memory before and after the robustness run.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_HDR           "Header"
#define FD_GROWTH_MAX      2
#define RSS_GROWTH_MAX_KIB (32 * 1024)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/*
 * Reconnect and ask something every server answers. Any failure here is
 * the server's (it was fine before the malformed input): FAIL, not the
 * ERROR a case's own setup would get.
 */
static void liveness(struct vuc_ctx *ctx, const char *after)
{
    struct vuc_device_info di = {.argsz = 16};
    uint8_t p[16];
    struct vuc_reply r;
    int rc;

    vuc_ctx_disconnect(ctx);
    rc = vuc_client_connect(ctx->target->socket, ctx->opts->timeout_ms,
                            &ctx->cl);
    if (rc < 0) {
        ctx->cl = NULL;
        vuc_verdict(ctx, VUC_FAIL,
                    "after %s the server accepts no new connection: %s", after,
                    rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return;
    }
    vuc_client_trace_reset(ctx->cl);
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              NULL, &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, VUC_FAIL,
                    "after %s the server does not negotiate on a new "
                    "connection: %s",
                    after,
                    rc < 0 ? vuc_client_last_error(ctx->cl) : "error reply");
        vuc_reply_release(&r);
        return;
    }
    vuc_reply_release(&r);
    vuc_device_info_encode(&di, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL,
                         0, &r);
    if (rc < 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "after %s the server does not answer DEVICE_GET_INFO on a "
                    "new connection: %s",
                    after, vuc_client_last_error(ctx->cl));
    vuc_reply_release(&r);
}

enum answer {
    ANS_ERROR_REPLY,
    ANS_SUCCESS,
    ANS_CLOSED,
    ANS_BAD, /* a verdict was recorded */
};

/*
 * Send raw bytes (with fds) and judge what comes back: an error reply or
 * a closed connection; a success reply is returned for the caller to
 * judge; silence until the timeout or a malformed reply is a FAIL.
 */
static enum answer send_judge(struct vuc_ctx *ctx, const void *buf, size_t len,
                              const int *fds, size_t nfds, const char *what)
{
    struct vuc_reply r;
    int rc = vuc_conn_send_raw(vuc_client_conn(ctx->cl), buf, len, fds, nfds,
                               ctx->opts->timeout_ms);
    enum answer a;

    vuc_client_trace_note(ctx->cl, "-> %s (%zu raw bytes)", what, len);
    if (rc == -EPIPE || rc == -ECONNRESET)
        return ANS_CLOSED;
    if (rc < 0) {
        vuc_verdict(ctx, VUC_ERROR, "sending %s: %s", what, strerror(-rc));
        return ANS_BAD;
    }
    rc = vuc_client_recv_any(ctx->cl, &r);
    if (rc == -ECONNRESET || rc == -EPIPE)
        return ANS_CLOSED;
    if (rc == -ETIMEDOUT) {
        vuc_verdict(ctx, VUC_FAIL,
                    "after %s the server neither answered nor closed the "
                    "connection within %d ms",
                    what, ctx->opts->timeout_ms);
        return ANS_BAD;
    }
    if (rc < 0) {
        vuc_verdict(ctx, VUC_FAIL, "the answer to %s is malformed: %s", what,
                    vuc_client_last_error(ctx->cl));
        return ANS_BAD;
    }
    if (vuc_hdr_type(&r.msg.hdr) != VUC_TYPE_REPLY) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the server answered %s with a message of type %u", what,
                    vuc_hdr_type(&r.msg.hdr));
        a = ANS_BAD;
    } else if (r.is_error && r.payload_len != 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the error reply to %s carries %zu payload bytes", what,
                    r.payload_len);
        a = ANS_BAD;
    } else {
        a = r.is_error ? ANS_ERROR_REPLY : ANS_SUCCESS;
    }
    vuc_reply_release(&r);
    return a;
}

/* Build a message: header with the given size field, then payload. */
static uint8_t *build(uint16_t cmd, uint32_t flags, uint32_t size_field,
                      const void *payload, size_t plen, size_t *len)
{
    struct vuc_hdr h = {
        .id = 0x5a5a, .cmd = cmd, .size = size_field, .flags = flags};
    uint8_t *b = calloc(1, VUC_HDR_SIZE + plen + 1);

    if (b == NULL)
        return NULL;
    vuc_hdr_encode(&h, b, VUC_HDR_SIZE);
    if (plen)
        memcpy(b + VUC_HDR_SIZE, payload, plen);
    *len = VUC_HDR_SIZE + plen;
    return b;
}

/* The common shape: connect, send, judge (a success reply is FAIL when
 * must_reject), then the liveness probe. */
static void one_shot(struct vuc_ctx *ctx, uint16_t cmd, uint32_t flags,
                     uint32_t size_field, const void *payload, size_t plen,
                     const int *fds, size_t nfds, bool must_reject,
                     const char *what)
{
    size_t len;
    uint8_t *b;
    enum answer a;

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    b = build(cmd, flags, size_field, payload, plen, &len);
    if (b == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    a = send_judge(ctx, b, len, fds, nfds, what);
    free(b);
    if (a == ANS_SUCCESS && must_reject)
        vuc_verdict(ctx, VUC_FAIL, "the server accepted %s", what);
    liveness(ctx, what);
}

/* robust.header.short-msg-size: a size field below the 16-byte header */
static void short_msg_size(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    (void)c;
    one_shot(ctx, VUC_CMD_DEVICE_GET_INFO, VUC_TYPE_COMMAND, 8, NULL, 0, NULL,
             0, true, "a header whose message size is 8");
}

/* robust.header.unknown-command */
static void unknown_command(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint16_t cmds[] = {0, 14, 19, 0x7fff, 0xffff};
    char what[64];

    (void)c;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        snprintf(what, sizeof(what), "command number %u", cmds[i]);
        one_shot(ctx, cmds[i], VUC_TYPE_COMMAND, VUC_HDR_SIZE, NULL, 0, NULL, 0,
                 true, what);
        if (ctx->res->verdict >= VUC_FAIL)
            return;
    }
}

/* robust.header.reply-type / .error-flag */
static void odd_flags(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint8_t p[16] = {16};

    one_shot(ctx, VUC_CMD_DEVICE_GET_INFO, c->a, VUC_HDR_SIZE + sizeof(p), p,
             sizeof(p), NULL, 0, false,
             c->a & VUC_FLAG_ERROR ? "a request with the Error flag set"
                                   : "a request of type Reply");
}

/* robust.header.split-with-pauses: a valid request in three pieces */
static void split_pauses(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_device_info di = {.argsz = 16};
    uint8_t msg[VUC_HDR_SIZE + 16];
    struct vuc_hdr h = {.id = 0x4242,
                        .cmd = VUC_CMD_DEVICE_GET_INFO,
                        .size = sizeof(msg),
                        .flags = VUC_TYPE_COMMAND};
    static const size_t cuts[] = {0, 3, 11, VUC_HDR_SIZE + 16};
    struct vuc_reply r;
    int rc;

    (void)c;
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    vuc_hdr_encode(&h, msg, VUC_HDR_SIZE);
    vuc_device_info_encode(&di, msg + VUC_HDR_SIZE, 16);
    for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
        if (vuc_conn_send_raw(vuc_client_conn(ctx->cl), msg + cuts[i],
                              cuts[i + 1] - cuts[i], NULL, 0,
                              ctx->opts->timeout_ms) < 0) {
            vuc_verdict(ctx, VUC_FAIL,
                        "the server closed the connection "
                        "while a request arrived in pieces");
            return;
        }
        sleep_ms(50);
    }
    rc = vuc_client_recv_any(ctx->cl, &r);
    if (rc < 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "a request sent in three pieces 50 ms apart got no reply: "
                    "%s",
                    vuc_client_last_error(ctx->cl));
        return;
    }
    if (r.msg.hdr.id != h.id || r.msg.hdr.cmd != h.cmd || r.is_error)
        vuc_verdict(ctx, VUC_FAIL,
                    "the reply to a request sent in pieces is wrong (#%u %s, "
                    "error %d)",
                    r.msg.hdr.id, vuc_cmd_name(r.msg.hdr.cmd), r.is_error);
    vuc_reply_release(&r);
}

/* robust.header.many-in-one-write: 64 requests in one write */
static void many_in_one(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    enum { N = 64, MSG = VUC_HDR_SIZE + 16 };
    uint8_t *buf = malloc((size_t)N * MSG);
    struct vuc_device_info di = {.argsz = 16};

    (void)c;
    if (buf == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL)
        goto out;
    for (int i = 0; i < N; i++) {
        struct vuc_hdr h = {.id = (uint16_t)(0x6000 + i),
                            .cmd = VUC_CMD_DEVICE_GET_INFO,
                            .size = MSG,
                            .flags = VUC_TYPE_COMMAND};
        vuc_hdr_encode(&h, buf + (size_t)i * MSG, VUC_HDR_SIZE);
        vuc_device_info_encode(&di, buf + (size_t)i * MSG + VUC_HDR_SIZE, 16);
    }
    if (vuc_conn_send_raw(vuc_client_conn(ctx->cl), buf, (size_t)N * MSG, NULL,
                          0, ctx->opts->timeout_ms) < 0) {
        vuc_verdict(ctx, VUC_FAIL, "sending 64 requests in one write failed");
        goto out;
    }
    for (int i = 0; i < N; i++) {
        struct vuc_reply r;
        if (vuc_client_recv_any(ctx->cl, &r) < 0) {
            vuc_verdict(ctx, VUC_FAIL,
                        "after %d of 64 replies to requests sent in one "
                        "write: %s",
                        i, vuc_client_last_error(ctx->cl));
            goto out;
        }
        if (r.msg.hdr.id != 0x6000 + i || r.is_error) {
            vuc_verdict(ctx, VUC_FAIL,
                        "reply %d of 64 is #%u%s; replies come in order "
                        "(spec: Command Concurrency)",
                        i + 1, r.msg.hdr.id, r.is_error ? " (error)" : "");
            vuc_reply_release(&r);
            goto out;
        }
        vuc_reply_release(&r);
    }
out:
    free(buf);
}

/* The command of a per-command case, from c->a. */
static const char *cmd_label(uint16_t cmd, char *buf, size_t cap)
{
    const char *n = vuc_cmd_name(cmd);
    size_t i;

    for (i = 0; n[i] && i + 1 < cap; i++)
        buf[i] = n[i] == '_' ? '-' : (char)tolower((unsigned char)n[i]);
    buf[i] = '\0';
    return buf;
}

/* robust.CMD.short-payload: payload one byte below the fixed request */
static void short_payload(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_msg_desc *d = vuc_msg_desc((uint16_t)c->a);
    uint8_t zero[64] = {0};
    char what[96];

    snprintf(what, sizeof(what),
             "%s with a %u-byte payload (the fixed part is "
             "%u)",
             d->name, d->req_min - 1, d->req_min);
    one_shot(ctx, (uint16_t)c->a, VUC_TYPE_COMMAND,
             VUC_HDR_SIZE + d->req_min - 1, zero, d->req_min - 1, NULL, 0, true,
             what);
}

/* robust.CMD.oversized: a message above the negotiated maximum, sent whole */
static void oversized(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_msg_desc *d = vuc_msg_desc((uint16_t)c->a);
    uint64_t max;
    size_t plen;
    uint8_t *payload;
    char what[128];

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    max = vuc_client_negotiated(ctx->cl)->limits.max_data_xfer_size;
    if (max > (64u << 20)) {
        vuc_verdict(ctx, VUC_SKIP,
                    "max_data_xfer_size %llu is too large to "
                    "exceed here",
                    (unsigned long long)max);
        return;
    }
    /* beyond any data the limit allows, plus a generous fixed part */
    plen = (size_t)max + d->req_min + 65536 + 1;
    payload = calloc(1, plen);
    if (payload == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    snprintf(what, sizeof(what),
             "%s of %zu bytes, above max_data_xfer_size %llu plus headers",
             d->name, plen + VUC_HDR_SIZE, (unsigned long long)max);
    one_shot(ctx, (uint16_t)c->a, VUC_TYPE_COMMAND,
             (uint32_t)(VUC_HDR_SIZE + plen), payload, plen, NULL, 0, true,
             what);
    free(payload);
}

/* robust.CMD.truncated-silence: a size larger than what is sent, then
 * silence; the client leaves and a new one must be served */
static void truncated_silence(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_msg_desc *d = vuc_msg_desc((uint16_t)c->a);
    uint8_t zero[64] = {0};
    size_t len;
    uint8_t *b;
    char what[96];

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    b = build((uint16_t)c->a, VUC_TYPE_COMMAND,
              VUC_HDR_SIZE + d->req_min + 4096, zero,
              d->req_min < sizeof(zero) ? d->req_min : sizeof(zero), &len);
    if (b == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    snprintf(what, sizeof(what),
             "%s declaring 4096 bytes more than were sent, then silence",
             d->name);
    vuc_conn_send_raw(vuc_client_conn(ctx->cl), b, len, NULL, 0,
                      ctx->opts->timeout_ms);
    free(b);
    sleep_ms(100);
    liveness(ctx, what);
}

/* robust.argsz.below-min / .huge over every request that has argsz */
static void argsz_extremes(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const struct {
        uint16_t cmd;
        uint32_t flags_word; /* the word after argsz */
        uint32_t min;
    } reqs[] = {
        {VUC_CMD_DEVICE_GET_INFO, 0, 16},
        {VUC_CMD_DEVICE_GET_REGION_INFO, 0, 32},
        {VUC_CMD_DEVICE_GET_IRQ_INFO, 0, 16},
        {VUC_CMD_DEVICE_FEATURE, VUC_FEATURE_GET | VUC_FEATURE_MIG_DEVICE_STATE,
         16},
        {VUC_CMD_MIG_DATA_READ, 64, 8},
    };
    bool huge = c->a != 0;

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        const struct vuc_msg_desc *d = vuc_msg_desc(reqs[i].cmd);
        uint8_t p[32] = {0};
        char what[96];
        uint32_t argsz = huge ? 0xffffffffu : reqs[i].min - 1;

        vuc_put_u32(p, argsz);
        vuc_put_u32(p + 4, reqs[i].flags_word);
        snprintf(what, sizeof(what), "%s with argsz 0x%x", d->name, argsz);
        /* a large argsz is legal (the most the client accepts); any
         * well-formed answer will do, as long as the server lives */
        one_shot(ctx, reqs[i].cmd, VUC_TYPE_COMMAND, VUC_HDR_SIZE + d->req_min,
                 p, d->req_min, NULL, 0, false, what);
        if (ctx->res->verdict >= VUC_FAIL)
            return;
    }
}

/* robust.dma-map.offset-without-fd / .two-fds */
static void dma_map_fds(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .offset = c->a == 0 ? 4096 : 0,
                             .addr = 0x80000000ull,
                             .size = 8192};
    uint8_t p[32];
    int fds[2] = {-1, -1};

    vuc_dma_map_encode(&dm, p, sizeof(p));
    if (c->a == 0) {
        one_shot(ctx, VUC_CMD_DMA_MAP, VUC_TYPE_COMMAND, VUC_HDR_SIZE + 32, p,
                 32, NULL, 0, true,
                 "DMA_MAP with a file offset but no file descriptor");
        return;
    }
    fds[0] = memfd_create("vucert-a", MFD_CLOEXEC);
    fds[1] = memfd_create("vucert-b", MFD_CLOEXEC);
    if (fds[0] < 0 || fds[1] < 0 || ftruncate(fds[0], 8192) < 0 ||
        ftruncate(fds[1], 8192) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
    } else {
        one_shot(ctx, VUC_CMD_DMA_MAP, VUC_TYPE_COMMAND, VUC_HDR_SIZE + 32, p,
                 32, fds, 2, true, "DMA_MAP with two file descriptors");
    }
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
}

/* robust.feature.unknown-flags */
static void feature_unknown_flags(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint8_t p[8];

    (void)c;
    vuc_put_u32(p, 16);
    vuc_put_u32(p + 4,
                VUC_FEATURE_GET | VUC_FEATURE_MIG_DEVICE_STATE | (1u << 20));
    one_shot(ctx, VUC_CMD_DEVICE_FEATURE, VUC_TYPE_COMMAND, VUC_HDR_SIZE + 8, p,
             8, NULL, 0, true, "DEVICE_FEATURE with flag bit 20 set");
}

/* robust.resources.end: the runner recorded the server's usage before the
 * first robust.* case; compare now. */
static void resources(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_run_info *info = ctx->info;
    pid_t pid = vuc_target_pid(ctx->target);
    long fds, rss;

    (void)c;
    if (pid <= 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "vucert does not know the server's process (use "
                    "--server-cmd or --server-pid)");
        return;
    }
    if (info->usage_pid != pid || info->usage_runs < 2) {
        vuc_verdict(ctx, VUC_SKIP,
                    info->usage_pid == 0 || info->usage_runs < 2
                        ? "no other robust.* case ran, so there is nothing "
                          "to compare"
                        : "the server was restarted during the robustness "
                          "run, so its usage cannot be compared");
        return;
    }
    sleep_ms(100); /* let the server finish with the last disconnect */
    if (vuc_target_usage(ctx->target, &fds, &rss) < 0) {
        vuc_verdict(ctx, VUC_SKIP, "cannot read /proc/%d", (int)pid);
        return;
    }
    if (fds > info->usage_fds + FD_GROWTH_MAX)
        vuc_verdict(ctx, VUC_FAIL,
                    "the server's open file descriptors grew from %ld to %ld "
                    "over %u robustness cases (a leak: every connection, fd "
                    "and mapping of those cases is gone)",
                    info->usage_fds, fds, info->usage_runs - 1);
    if (rss > info->usage_rss_kib + RSS_GROWTH_MAX_KIB)
        vuc_verdict(ctx, VUC_FAIL,
                    "the server's resident memory grew from %ld KiB to %ld "
                    "KiB over the robustness run (bound: +%d KiB)",
                    info->usage_rss_kib, rss, RSS_GROWTH_MAX_KIB);
}

size_t vuc_cases_robust(struct vuc_case *out, size_t max)
{
    size_t table_n;
    const struct vuc_msg_desc *table = vuc_msg_table(&table_n);
    size_t n = 0;
    char id[64], title[128], label[26];

    VUC_CASE("robust.header.short-msg-size",
             "a message size below the header is refused", SPEC_HDR, "must",
             short_msg_size, 0, 0, NULL);
    VUC_CASE("robust.header.unknown-command",
             "unknown command numbers are refused", "Commands", "must",
             unknown_command, 0, 0, NULL);
    VUC_CASE("robust.header.reply-type", "a request of type Reply", SPEC_HDR,
             "must", odd_flags, VUC_TYPE_REPLY, 0, NULL);
    VUC_CASE("robust.header.error-flag", "a request with the Error flag",
             SPEC_HDR, "must", odd_flags, VUC_TYPE_COMMAND | VUC_FLAG_ERROR, 0,
             NULL);
    VUC_CASE("robust.header.split-with-pauses",
             "a request split across writes with pauses is served",
             "Message sizes", "must", split_pauses, 0, 0, NULL);
    VUC_CASE("robust.header.many-in-one-write",
             "64 requests in one write are served in order",
             "Command Concurrency", "must", many_in_one, 0, 0, NULL);
    for (size_t i = 0; i < table_n; i++) {
        const struct vuc_msg_desc *d = &table[i];
        if (d->dir != VUC_DIR_C2S)
            continue;
        cmd_label(d->cmd, label, sizeof(label));
        if (d->req_min > 0) {
            snprintf(id, sizeof(id), "robust.%s.short-payload", label);
            snprintf(title, sizeof(title),
                     "%s below its fixed request size is refused", d->name);
            VUC_CASE(id, title, d->name, "must", short_payload, d->cmd, 0,
                     NULL);
        }
        snprintf(id, sizeof(id), "robust.%s.oversized", label);
        snprintf(title, sizeof(title),
                 "%s above the negotiated maximum is refused", d->name);
        VUC_CASE(id, title, "Message sizes", "must", oversized, d->cmd, 0,
                 NULL);
        snprintf(id, sizeof(id), "robust.%s.truncated-silence", label);
        snprintf(title, sizeof(title),
                 "%s cut short, then silence: others are still served",
                 d->name);
        VUC_CASE(id, title, "Security Considerations", "must",
                 truncated_silence, d->cmd, 0, NULL);
    }
    VUC_CASE("robust.argsz.below-min", "argsz below the minimum",
             "Message sizes", "must", argsz_extremes, 0, 0, NULL);
    VUC_CASE("robust.argsz.huge", "argsz 0xffffffff", "Message sizes", "must",
             argsz_extremes, 1, 0, NULL);
    VUC_CASE("robust.dma-map.offset-without-fd",
             "DMA_MAP with a file offset and no fd is refused",
             "VFIO_USER_DMA_MAP", "must", dma_map_fds, 0, 0, NULL);
    VUC_CASE("robust.dma-map.two-fds", "DMA_MAP with two fds is refused",
             "VFIO_USER_DMA_MAP", "must", dma_map_fds, 1, 0, NULL);
    VUC_CASE("robust.feature.unknown-flags",
             "DEVICE_FEATURE with unknown flag bits is refused",
             "VFIO_USER_DEVICE_FEATURE", "must", feature_unknown_flags, 0, 0,
             NULL);
    VUC_CASE("robust.resources.end",
             "the server's fds and memory did not grow over the run",
             "Security Considerations", "must", resources, 0, 0, NULL);
    return n;
}
