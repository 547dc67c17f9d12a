// SPDX-License-Identifier: BSD-3-Clause
/*
 * robust.*: input a server must survive. Each case sends one kind of
 * malformed (or merely unusual) input and judges one claim: the server
 * answered it with an error reply or closed the connection (or, where the
 * case allows it, took it), and then it still serves a new connection.
 * When vucert knows the server's process, robust.resources.end compares
 * its open fds and resident memory before and after the robustness run.
 *
 * The short-payload and short-data cases cut one request at every length
 * below its fixed part, one length after the other on one connection,
 * and also judge that the stream stays in step: a valid request sent
 * after each gets its own reply (see Steps below).
 *
 * Grading follows the spec's words:
 * - How the server treats the input is graded by the sentence each case
 *   names beside its VUC_CASE. For most it is Security Considerations:
 *   "Standard tools and mechanisms should be used on both sides to
 *   validate input and prevent against denial of service scenarios,
 *   buffer overflow, etc." (SHOULD).
 * - Leaving a command of the Commands table unanswered (no reply, and the
 *   connection left open) breaks Header: "Each command message in
 *   Commands_ must be replied to with a reply message" (FAIL), whatever
 *   the case's own level.
 * - That the server still serves a new connection afterwards is Security
 *   Considerations' "should ... prevent against denial of service"
 *   (NON-STRICT); a server that dies is charged by the runner.
 * - The form of an error reply (a payload, errno 0) is judged by the
 *   fsm.error-reply.* cases alone; here it is noted.
 *
 * None of these cases depends on the device's state: each uses a fresh
 * connection, and what it judges is the answer to its own input.
 *
 * Waiting for silence: after an input whose framing is intact, a case
 * sends a probe request at once, so a server that ignores the input
 * answers the probe and no wait runs out. Where the framing is lost (a
 * size below the header) it polls the socket itself: a silent connection
 * is this case's finding, not a hung server (the new connection shows
 * whether the server still works), so the runner need not restart it.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_HDR           "Header"
#define SPEC_SEC           "Security Considerations"
#define FD_GROWTH_MAX      2
#define RSS_GROWTH_MAX_KIB (32 * 1024)
#define INPUT_ID           0x5a5a
#define PROBE_ID           0x5a5b
#define ZERO_CHUNK         65536
/* The largest server max_data_xfer_size robust.CMD.oversized exceeds. */
#define OVERSIZE_MAX (64u << 20)

/* What the verdicts quote. */
#define Q_SECURITY                                                             \
    "Security Considerations: tools \"should be used on both sides to "        \
    "validate input\""
#define Q_DOS                                                                  \
    "Security Considerations: tools \"should be used ... to prevent against "  \
    "denial of service scenarios\""
#define Q_REPLY                                                                \
    "Header: \"Each command message in Commands_ must be replied to with a "   \
    "reply message\""

/*
 * Wait until the server has read everything sent on this connection (the
 * socket's send queue is empty: SIOCOUTQ counts the bytes the peer has
 * not yet taken), up to cap_ms. It stands for "the server has seen this
 * piece, alone": a fixed pause would cost every server the whole pause;
 * this costs the time the server takes. A server that leaves bytes in
 * the socket until a whole message is there (it peeks) waits out cap_ms,
 * as the pause did. Looks every 100 us.
 */
static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void wait_read(struct vuc_ctx *ctx, int cap_ms)
{
    int fd = vuc_conn_fd(vuc_client_conn(ctx->cl));
    struct timespec ts = {0, 100 * 1000};

    for (long waited = 0; fd >= 0 && waited < cap_ms * 1000L; waited += 100) {
        int queued = 0;
        if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
            return;
        nanosleep(&ts, NULL);
    }
}

/* What the case's own sentence says of a server that takes the input
 * (the case's arg): quoted in a verdict of the case's level. */
static const char *case_rule(const struct vuc_ctx *ctx)
{
    return ctx->c->arg != NULL ? (const char *)ctx->c->arg : Q_SECURITY;
}

/*
 * Connect a new client. A server vucert runs that has exited is noticed
 * between short tries (the runner charges its death) instead of waiting
 * out the whole timeout on a socket nobody listens on.
 */
static int connect_new(struct vuc_ctx *ctx, bool *exited)
{
    struct vuc_target *t = ctx->target;
    int left = ctx->opts->timeout_ms, rc = -ETIMEDOUT;

    *exited = false;
    while (left > 0) {
        int step = left < 100 ? left : 100;
        /* exited, and not as a daemonizing server's parent does (its
         * child serves on: vuc_target_died tells) */
        if (vuc_target_died(t)) {
            *exited = true;
            return -ECHILD;
        }
        rc = vuc_client_connect(t->socket, step, &ctx->cl);
        if (rc == 0) {
            vuc_client_set_timeout(ctx->cl, ctx->opts->timeout_ms);
            if (ctx->opts->record_dir != NULL)
                vuc_client_record(ctx->cl, ctx->opts->record_dir);
            return 0;
        }
        if (rc != -ETIMEDOUT)
            return rc;
        left -= step;
    }
    return rc;
}

/*
 * The second half of every robust claim: after the input, the server
 * accepts a new connection, negotiates and answers DEVICE_GET_INFO. It
 * worked before the input, so a failure here is the server's: NON-STRICT
 * (Q_DOS). true when it served.
 */
static bool serves_on(struct vuc_ctx *ctx, const char *after)
{
    struct vuc_device_info di = {.argsz = 16};
    uint8_t p[16];
    struct vuc_reply r;
    bool exited;
    int rc;

    vuc_ctx_disconnect(ctx);
    if (ctx->stopped || ctx->res->verdict == VUC_ERROR)
        return false;
    rc = connect_new(ctx, &exited);
    if (rc < 0) {
        ctx->cl = NULL;
        if (exited)
            vuc_verdict(ctx, VUC_NON_STRICT, "after %s the server exited (%s)",
                        after, Q_DOS);
        else
            vuc_verdict(ctx, VUC_NON_STRICT,
                        "after %s the server accepts no new connection: %s "
                        "(%s)",
                        after, rc == -ETIMEDOUT ? "timed out" : strerror(-rc),
                        Q_DOS);
        return false;
    }
    vuc_client_trace_reset(ctx->cl);
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              NULL, &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "after %s the server does not negotiate on a new "
                    "connection: %s (%s)",
                    after,
                    rc < 0 ? vuc_client_last_error(ctx->cl) : "error reply",
                    Q_DOS);
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    vuc_device_info_encode(&di, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL,
                         0, &r);
    vuc_reply_release(&r);
    if (rc < 0) {
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "after %s the server does not answer DEVICE_GET_INFO on "
                    "a new connection: %s (%s)",
                    after, vuc_client_last_error(ctx->cl), Q_DOS);
        return false;
    }
    return true;
}

enum answer {
    ANS_ERROR_REPLY, /* an error reply to the input */
    ANS_SUCCESS,     /* a success reply to the input */
    ANS_CLOSED,      /* the server closed the connection */
    ANS_IGNORED,     /* no answer to the input, but the probe's reply */
    ANS_SILENT,      /* nothing within the timeout, the connection open */
    ANS_BAD,         /* a verdict was recorded */
};

/* One input: a header, a payload, then `zeros` zero bytes (sent in
 * pieces, so no buffer of their size is needed) and fds. */
struct input {
    uint16_t cmd;
    uint32_t flags;
    uint32_t size_field;
    const void *payload;
    size_t plen;
    size_t zeros;
    const int *fds;
    size_t nfds;
    bool reject; /* a success reply breaks the case's rule */
    bool probe;  /* the framing is intact: a probe request follows */
    const char *what;
    uint16_t id; /* the message id; 0: INPUT_ID */
    /* Judges a success reply to the input instead of judge() (it records
     * the verdict); steps only (run_step). */
    void (*on_success)(struct vuc_ctx *ctx, const struct input *in,
                       const struct vuc_reply *r);
};

/* A command the spec's Commands table lists (client to server): Header
 * says each must be replied to. */
static bool listed_command(const struct input *in)
{
    const struct vuc_msg_desc *d = vuc_msg_desc(in->cmd);

    return (in->flags & VUC_FLAG_TYPE_MASK) == VUC_TYPE_COMMAND &&
           !(in->flags & VUC_FLAG_NO_REPLY) && d != NULL &&
           d->dir == VUC_DIR_C2S;
}

/* A DEVICE_GET_INFO every server answers: the probe. */
#define PROBE_SIZE (VUC_HDR_SIZE + 16)
static void probe_msg(uint16_t id, uint8_t msg[PROBE_SIZE])
{
    struct vuc_device_info di = {.argsz = 16};
    struct vuc_hdr h = {.id = id,
                        .cmd = VUC_CMD_DEVICE_GET_INFO,
                        .size = PROBE_SIZE,
                        .flags = VUC_TYPE_COMMAND};

    vuc_hdr_encode(&h, msg, VUC_HDR_SIZE);
    vuc_device_info_encode(&di, msg + VUC_HDR_SIZE, 16);
}

/* Send the input; with probe_id (and no zeros), a probe with that id
 * follows in the same write. */
static int send_input(struct vuc_ctx *ctx, const struct input *in,
                      uint16_t probe_id)
{
    struct vuc_conn *conn = vuc_client_conn(ctx->cl);
    struct vuc_hdr h = {.id = in->id != 0 ? in->id : INPUT_ID,
                        .cmd = in->cmd,
                        .size = in->size_field,
                        .flags = in->flags};
    size_t len = VUC_HDR_SIZE + in->plen;
    uint8_t *b = malloc(len + PROBE_SIZE);
    size_t left = in->zeros;
    int rc;

    if (b == NULL)
        return -ENOMEM;
    vuc_hdr_encode(&h, b, VUC_HDR_SIZE);
    if (in->plen)
        memcpy(b + VUC_HDR_SIZE, in->payload, in->plen);
    vuc_client_trace_note(ctx->cl, "-> %s (%zu raw bytes, %zu fds)", in->what,
                          len + in->zeros, in->nfds);
    if (probe_id != 0 && left == 0) {
        probe_msg(probe_id, b + len);
        len += PROBE_SIZE;
        vuc_client_trace_note(ctx->cl,
                              "-> #%u DEVICE_GET_INFO probe, in the same write",
                              probe_id);
    }
    rc = vuc_conn_send_raw(conn, b, len, in->fds, in->nfds,
                           ctx->opts->timeout_ms);
    free(b);
    if (rc < 0 || left == 0)
        return rc;
    b = calloc(1, ZERO_CHUNK);
    if (b == NULL)
        return -ENOMEM;
    while (left > 0 && rc == 0) {
        size_t n = left < ZERO_CHUNK ? left : ZERO_CHUNK;
        rc = vuc_conn_send_raw(conn, b, n, NULL, 0, ctx->opts->timeout_ms);
        left -= n;
    }
    free(b);
    return rc;
}

/* The probe, sent on its own. */
static int send_probe(struct vuc_ctx *ctx, uint16_t id)
{
    uint8_t msg[PROBE_SIZE];

    probe_msg(id, msg);
    return vuc_client_send_raw(ctx->cl, msg, sizeof(msg));
}

/* Wait for the server to send something or close, with poll rather than
 * the client's receive: silence is an answer here, not a hang. */
static bool wait_answer(struct vuc_ctx *ctx)
{
    struct vuc_conn *conn = vuc_client_conn(ctx->cl);
    struct pollfd p = {.fd = vuc_conn_fd(conn), .events = POLLIN};
    int rc;

    if (p.fd < 0 || vuc_conn_pending(conn))
        return true;
    do
        rc = poll(&p, 1, ctx->opts->timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc != 0;
}

/* The form of an error reply is fsm.error-reply.*'s to judge. */
static void note_error_form(struct vuc_ctx *ctx, const struct vuc_reply *r,
                            const char *what)
{
    if (r->payload_len != 0)
        vuc_note(ctx,
                 "the error reply to %s carries %zu payload bytes (judged by "
                 "fsm.error-reply.no-payload)",
                 what, r->payload_len);
    if (r->error == 0)
        vuc_note(ctx,
                 "the error reply to %s has errno 0 (judged by "
                 "fsm.error-reply.errno-nonzero)",
                 what);
}

enum got {
    GOT_MSG,    /* r holds a message that is no command */
    GOT_CLOSED, /* the server closed the connection */
    GOT_SILENT, /* nothing within the timeout, the connection open */
    GOT_BAD,    /* a verdict was recorded */
};

/* The next message from the server that is not a command. Server to
 * client commands may come first (Command Concurrency); none is expected
 * here, so a few are skipped, not served. */
static enum got recv_next(struct vuc_ctx *ctx, struct vuc_reply *r,
                          const char *what)
{
    for (int skipped = 0; skipped < 8; skipped++) {
        int rc;

        if (!wait_answer(ctx))
            return GOT_SILENT;
        rc = vuc_client_recv_any(ctx->cl, r);
        if (rc == -ECONNRESET || rc == -EPIPE)
            return GOT_CLOSED;
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, what);
            return GOT_BAD;
        }
        if (vuc_hdr_type(&r->msg.hdr) != VUC_TYPE_COMMAND)
            return GOT_MSG;
        vuc_reply_release(r);
    }
    return GOT_SILENT;
}

/* A message of a type that is neither Command nor Reply: FAIL. */
static bool reply_type_ok(struct vuc_ctx *ctx, const struct vuc_reply *r,
                          const char *what)
{
    if (vuc_hdr_type(&r->msg.hdr) == VUC_TYPE_REPLY)
        return true;
    vuc_verdict(ctx, VUC_FAIL,
                "the server answered %s with a message of type %u "
                "(Header: Command is 0x0, Reply is 0x1)",
                what, vuc_hdr_type(&r->msg.hdr));
    return false;
}

/* Send the input (and the probe) and see what comes back. */
static enum answer send_judge(struct vuc_ctx *ctx, const struct input *in)
{
    struct vuc_reply r;
    enum answer a;
    int rc = send_input(ctx, in, 0);

    if (rc == -EPIPE || rc == -ECONNRESET)
        return ANS_CLOSED;
    /* -ETIMEDOUT: the server stopped reading the input; it may have
     * answered from what it read */
    if (rc < 0 && rc != -ETIMEDOUT) {
        vuc_verdict(ctx, VUC_ERROR, "sending %s: %s", in->what, strerror(-rc));
        return ANS_BAD;
    }
    if (rc == 0 && in->probe) {
        rc = send_probe(ctx, PROBE_ID);
        if (rc == -EPIPE || rc == -ECONNRESET)
            return ANS_CLOSED;
        if (rc < 0 && rc != -ETIMEDOUT) {
            vuc_verdict(ctx, VUC_ERROR, "sending the probe after %s: %s",
                        in->what, strerror(-rc));
            return ANS_BAD;
        }
    }
    switch (recv_next(ctx, &r, in->what)) {
    case GOT_MSG:
        break;
    case GOT_CLOSED:
        return ANS_CLOSED;
    case GOT_SILENT:
        return ANS_SILENT;
    default:
        return ANS_BAD;
    }
    if (!reply_type_ok(ctx, &r, in->what)) {
        a = ANS_BAD;
    } else if (in->probe && r.msg.hdr.id == PROBE_ID) {
        a = ANS_IGNORED;
    } else if (r.is_error) {
        note_error_form(ctx, &r, in->what);
        a = ANS_ERROR_REPLY;
    } else {
        a = ANS_SUCCESS;
    }
    vuc_reply_release(&r);
    return a;
}

/* Judge the answer to the input; true when the case's claim allows it. */
static bool judge(struct vuc_ctx *ctx, const struct input *in, enum answer a)
{
    enum vuc_verdict v = VUC_VIOLATION(ctx);

    switch (a) {
    case ANS_ERROR_REPLY:
    case ANS_CLOSED:
        return true;
    case ANS_SUCCESS:
        if (!in->reject)
            return true;
        vuc_verdict(ctx, v, "the server accepted %s with a success reply (%s)",
                    in->what, case_rule(ctx));
        return false;
    case ANS_IGNORED:
        if (listed_command(in))
            vuc_verdict(ctx, VUC_FAIL,
                        "the server never answered %s, though it answered "
                        "the request sent after it (%s)",
                        in->what, Q_REPLY);
        else
            vuc_verdict(ctx, v,
                        "the server dropped %s without an answer and went "
                        "on (%s)",
                        in->what, case_rule(ctx));
        return false;
    case ANS_SILENT:
        /* no answer at all, even to the probe: a hang of that connection,
         * never below the denial-of-service rule */
        if (listed_command(in))
            v = VUC_FAIL;
        else if (v == VUC_IMPL_DEFINED)
            v = VUC_NON_STRICT;
        vuc_verdict(ctx, v,
                    "after %s the server neither answered nor closed the "
                    "connection within %d ms (%s)",
                    in->what, ctx->opts->timeout_ms,
                    listed_command(in) ? Q_REPLY : Q_DOS);
        return false;
    case ANS_BAD:
    default:
        return false;
    }
}

/* The common shape: connect, send, judge, then a new connection. true
 * when the whole claim held. */
static bool one_shot(struct vuc_ctx *ctx, const struct input *in)
{
    bool ok;

    if (vuc_ctx_connect(ctx) == NULL)
        return false;
    ok = judge(ctx, in, send_judge(ctx, in));
    if (ctx->stopped || ctx->res->verdict == VUC_ERROR)
        return false;
    return serves_on(ctx, in->what) && ok;
}

/*
 * Steps: the cases that cut a request at every length below its fixed
 * part send one input per length on one connection, and judge each like
 * one_shot does, plus that the stream is still in step afterwards.
 *
 * A probe (P1) goes in the same write as the input: a dropped input shows
 * without a wait. After the input's error reply a second probe (P2) goes
 * out, and the replies must be P1's and then P2's, each the success reply
 * to its DEVICE_GET_INFO: a server that took the input's length wrong
 * answers a probe out of step, or not at all. P2 is there for a server
 * that drops requests read together with another (robust.header.many-in-
 * one-write judges that): it answers P2 without P1, which is noted, not
 * judged here. One write makes that certain: P1 is read with the input
 * or not at all, and never together with P2, which goes out only once
 * the input is answered. Each step's messages have their own ids.
 */
#define STEP_ID(seq, k) ((uint16_t)(0x6a00u + 4u * (seq) + (k)))

struct steps {
    unsigned seq;     /* the step being run */
    const char *name; /* what is cut, for the notes ("DMA_MAP") */
    bool dead;        /* serves_on failed: the server's life is judged */
};

/* A probe's reply: the success reply to its DEVICE_GET_INFO. false after
 * a verdict. */
static bool probe_reply_ok(struct vuc_ctx *ctx, const struct vuc_reply *r,
                           const struct input *in)
{
    char eb[16];

    if (!reply_type_ok(ctx, r, "a probe"))
        return false;
    if (r->msg.hdr.cmd != VUC_CMD_DEVICE_GET_INFO) {
        vuc_verdict(ctx, VUC_FAIL,
                    "after %s the reply #%u to the DEVICE_GET_INFO probe "
                    "names %s: the stream is out of step (Header: a Reply "
                    "acknowledges \"a previous command with the same message "
                    "ID\")",
                    in->what, r->msg.hdr.id, vuc_cmd_name(r->msg.hdr.cmd));
        return false;
    }
    if (r->is_error) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "after %s the server refused a valid DEVICE_GET_INFO "
                    "probe (errno %s): the stream is out of step (%s)",
                    in->what, vuc_errno_name(r->error, eb, sizeof(eb)),
                    case_rule(ctx));
        return false;
    }
    return true;
}

enum step {
    STEP_OK,     /* refused, and the probes answered in step */
    STEP_CLOSED, /* the server closed the connection */
    STEP_BAD,    /* a verdict was recorded */
};

/* After the input's error reply: P2, then the replies of P1 and P2. */
static enum step step_in_step(struct vuc_ctx *ctx, struct steps *st,
                              const struct input *in)
{
    uint16_t p1 = STEP_ID(st->seq, 1), p2 = STEP_ID(st->seq, 2);
    struct vuc_reply r;
    bool seen1 = false;
    char what[160];
    int rc = send_probe(ctx, p2);

    if (rc == -EPIPE || rc == -ECONNRESET)
        return STEP_CLOSED; /* closing after the error reply is fine */
    if (rc < 0) {
        vuc_verdict(ctx, VUC_ERROR, "sending a probe after %s: %s", in->what,
                    strerror(-rc));
        return STEP_BAD;
    }
    snprintf(what, sizeof(what), "the probes after %s", in->what);
    for (;;) {
        switch (recv_next(ctx, &r, what)) {
        case GOT_MSG:
            break;
        case GOT_CLOSED:
            return STEP_CLOSED;
        case GOT_SILENT:
            vuc_verdict(ctx, VUC_FAIL,
                        "after %s and its error reply the server answered "
                        "no DEVICE_GET_INFO probe within %d ms (%s)",
                        in->what, ctx->opts->timeout_ms, Q_REPLY);
            return STEP_BAD;
        default:
            return STEP_BAD;
        }
        if ((r.msg.hdr.id == p1 && !seen1) || r.msg.hdr.id == p2) {
            bool ok = probe_reply_ok(ctx, &r, in);
            bool last = r.msg.hdr.id == p2;

            vuc_reply_release(&r);
            if (!ok)
                return STEP_BAD;
            if (!last) {
                seen1 = true;
                continue;
            }
            if (!seen1)
                vuc_note(ctx,
                         "after a refused %s the probe sent with it got no "
                         "reply, while the one sent after the error reply "
                         "did: a request read together with another was "
                         "dropped (judged by robust.header.many-in-one-write)",
                         st->name);
            return STEP_OK;
        }
        vuc_verdict(ctx, VUC_FAIL,
                    "after %s and its error reply the next reply is #%u (%s), "
                    "not the probe's #%u: the stream is out of step (Header: "
                    "a Reply acknowledges \"a previous command with the same "
                    "message ID\")",
                    in->what, r.msg.hdr.id, vuc_cmd_name(r.msg.hdr.cmd),
                    seen1 ? p2 : p1);
        vuc_reply_release(&r);
        return STEP_BAD;
    }
}

/* One step: the input with P1, the input's answer judged, then the
 * stream checked. */
static enum step step_once(struct vuc_ctx *ctx, struct steps *st,
                           struct input *in)
{
    struct vuc_reply r;
    enum step e;
    int rc;

    in->id = STEP_ID(st->seq, 0);
    rc = send_input(ctx, in, STEP_ID(st->seq, 1));
    if (rc == -EPIPE || rc == -ECONNRESET)
        return STEP_CLOSED;
    /* -ETIMEDOUT: the server stopped reading; it may have answered */
    if (rc < 0 && rc != -ETIMEDOUT) {
        vuc_verdict(ctx, VUC_ERROR, "sending %s: %s", in->what, strerror(-rc));
        return STEP_BAD;
    }
    switch (recv_next(ctx, &r, in->what)) {
    case GOT_MSG:
        break;
    case GOT_CLOSED:
        return STEP_CLOSED;
    case GOT_SILENT:
        judge(ctx, in, ANS_SILENT);
        return STEP_BAD;
    default:
        return STEP_BAD;
    }
    if (!reply_type_ok(ctx, &r, in->what)) {
        e = STEP_BAD;
    } else if (r.msg.hdr.id == STEP_ID(st->seq, 1)) {
        judge(ctx, in, ANS_IGNORED);
        e = STEP_BAD;
    } else if (!r.is_error) {
        if (in->on_success != NULL)
            in->on_success(ctx, in, &r);
        else
            judge(ctx, in, ANS_SUCCESS);
        e = STEP_BAD;
    } else {
        /* the form is noted once per case, not per length */
        note_error_form(ctx, &r, st->name);
        e = STEP_OK;
    }
    vuc_reply_release(&r);
    return e == STEP_OK ? step_in_step(ctx, st, in) : e;
}

/* Run one step; true to go on with the next. A close is an answer: the
 * server must then serve a new connection (serves_on), which the next
 * step uses. */
static bool run_step(struct vuc_ctx *ctx, struct steps *st, struct input *in)
{
    enum step e = step_once(ctx, st, in);

    st->seq++;
    if (ctx->stopped || ctx->res->verdict == VUC_ERROR)
        return false;
    if (e == STEP_BAD)
        return false;
    vuc_check(ctx);
    if (e == STEP_CLOSED && !serves_on(ctx, in->what)) {
        st->dead = true;
        return false;
    }
    return true;
}

/* The end of a stepped case: the server still serves a new connection. */
static void steps_end(struct vuc_ctx *ctx, const struct steps *st, bool ok)
{
    char after[96];

    if (st->dead || ctx->stopped || ctx->res->verdict == VUC_ERROR)
        return;
    snprintf(after, sizeof(after), "%s cut short at %u lengths", st->name,
             st->seq);
    if (serves_on(ctx, after) && ok)
        vuc_check(ctx);
}

/* robust.header.short-msg-size: a size field below the 16-byte header.
 * The stream cannot be resynchronised, so no probe follows. */
static void short_msg_size(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct input in = {.cmd = VUC_CMD_DEVICE_GET_INFO,
                             .flags = VUC_TYPE_COMMAND,
                             .size_field = 8,
                             .reject = true,
                             .what = "a header whose message size is 8"};

    (void)c;
    if (one_shot(ctx, &in))
        vuc_check(ctx);
}

/* robust.header.unknown-command */
static void unknown_command(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint16_t cmds[] = {0, 14, 19, 0x7fff, 0xffff};
    char what[64];

    (void)c;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const struct input in = {.cmd = cmds[i],
                                 .flags = VUC_TYPE_COMMAND,
                                 .size_field = VUC_HDR_SIZE,
                                 .reject = true,
                                 .probe = true,
                                 .what = what};
        snprintf(what, sizeof(what), "command number %u", cmds[i]);
        if (!one_shot(ctx, &in))
            return;
        vuc_check(ctx);
    }
}

/*
 * robust.header.unknown-command-body: an unknown command that carries a
 * body. The message size says where the next message starts, whatever
 * the command: a server that refuses the command from its header and
 * leaves the body unread reads the body as the next message. The body
 * is made to show that at once: it is itself a whole DEVICE_GET_INFO
 * with an id of its own (FAKE_ID), so a server out of step answers it,
 * before the probes, and the step sees a reply that is not the probe's.
 * A success reply to the command is robust.header.unknown-command's to
 * judge: the stream is not looked at then.
 */
#define FAKE_ID       0x5e5e
#define OWNER_UNKNOWN "robust.header.unknown-command"

static void unknown_body_accepted(struct vuc_ctx *ctx, const struct input *in,
                                  const struct vuc_reply *r)
{
    (void)r;
    vuc_blocked(ctx, OWNER_UNKNOWN, "%s got a success reply", in->what);
}

static void unknown_command_body(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint16_t cmds[] = {0, 0x7fff};
    static const uint32_t bodies[] = {24, 4096};
    struct steps st = {.name = "unknown command with a body"};
    uint8_t *body = calloc(1, 4096);
    char what[96];
    bool ok = true;

    (void)c;
    if (body == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL) {
        free(body);
        return;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && ok; i++) {
        for (size_t j = 0; j < sizeof(bodies) / sizeof(bodies[0]) && ok; j++) {
            uint32_t len = bodies[j];
            struct vuc_hdr fake = {.id = FAKE_ID,
                                   .cmd = VUC_CMD_DEVICE_GET_INFO,
                                   .size = len,
                                   .flags = VUC_TYPE_COMMAND};
            struct input in = {.cmd = cmds[i],
                               .flags = VUC_TYPE_COMMAND,
                               .size_field = VUC_HDR_SIZE + len,
                               .payload = body,
                               .plen = len,
                               .reject = true,
                               .probe = true,
                               .what = what,
                               .on_success = unknown_body_accepted};

            memset(body, 0, 4096);
            vuc_hdr_encode(&fake, body, VUC_HDR_SIZE);
            vuc_put_u32(body + VUC_HDR_SIZE, 16); /* its argsz */
            snprintf(what, sizeof(what),
                     "command number %u with a %u-byte body (itself a "
                     "DEVICE_GET_INFO #%u)",
                     cmds[i], len, FAKE_ID);
            ok = run_step(ctx, &st, &in);
        }
    }
    free(body);
    steps_end(ctx, &st, ok);
}

/* robust.header.reply-type / .error-flag: a DEVICE_GET_INFO of type
 * Reply, or with the Error flag set. Neither is refused by rule: a
 * success reply is allowed too (see the VUC_CASE comments). */
static void odd_flags(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint8_t p[16] = {16};
    const struct input in = {
        .cmd = VUC_CMD_DEVICE_GET_INFO,
        .flags = c->a,
        .size_field = VUC_HDR_SIZE + sizeof(p),
        .payload = p,
        .plen = sizeof(p),
        .reject = (c->a & VUC_FLAG_TYPE_MASK) == VUC_TYPE_REPLY,
        .probe = true,
        .what = c->a & VUC_FLAG_ERROR ? "a request with the Error flag set"
                                      : "a message of type Reply answering "
                                        "no command of the server"};

    if (one_shot(ctx, &in))
        vuc_check(ctx);
}

/* robust.device-get-info.nonzero-fields: DEVICE_GET_INFO's "all other
 * fields must be zero" binds the client; a request that breaks it is
 * still a command, and Header: "Each command message in Commands_ must
 * be replied to with a reply message". Either reply will do; the probe
 * after it must be answered in step. */
static void info_nonzero(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_device_info di = {
        .argsz = 16, .flags = 0xffffffffu, .num_regions = 9, .num_irqs = 5};
    uint8_t p[16];
    const struct input in = {.cmd = VUC_CMD_DEVICE_GET_INFO,
                             .flags = VUC_TYPE_COMMAND,
                             .size_field = VUC_HDR_SIZE + sizeof(p),
                             .payload = p,
                             .plen = sizeof(p),
                             .probe = true,
                             .what = "a DEVICE_GET_INFO whose flags, "
                                     "num_regions and num_irqs are not zero"};

    (void)c;
    vuc_device_info_encode(&di, p, sizeof(p));
    if (one_shot(ctx, &in))
        vuc_check(ctx);
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
    vuc_client_trace_note(
        ctx->cl, "-> #%u DEVICE_GET_INFO in three pieces, 50 ms apart", h.id);
    for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
        rc = vuc_conn_send_raw(vuc_client_conn(ctx->cl), msg + cuts[i],
                               cuts[i + 1] - cuts[i], NULL, 0,
                               ctx->opts->timeout_ms);
        if (rc == -EPIPE || rc == -ECONNRESET) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "the server closed the connection while a request "
                        "arrived in pieces (%s)",
                        Q_REPLY);
            return;
        }
        if (rc < 0) {
            vuc_verdict(ctx, VUC_ERROR, "sending a piece: %s", strerror(-rc));
            return;
        }
        /* the server reads the first piece alone; then a pause within
         * the message, which is this case's point: a client may be
         * descheduled mid-message, and 50 ms is an ordinary delay */
        if (i == 0)
            wait_read(ctx, 50);
        else if (i == 1)
            pause_ms(50);
    }
    rc = vuc_client_recv_any(ctx->cl, &r);
    if (rc < 0) {
        if (rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT)
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "a request sent in three pieces (the first read by "
                        "the server alone, the last 50 ms after the second) "
                        "got no reply: %s (%s)",
                        vuc_client_last_error(ctx->cl), Q_REPLY);
        else
            vuc_case_report_rc(ctx, rc, "DEVICE_GET_INFO sent in pieces");
        return;
    }
    if (r.msg.hdr.id != h.id || r.msg.hdr.cmd != h.cmd || r.is_error ||
        vuc_hdr_type(&r.msg.hdr) != VUC_TYPE_REPLY)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the reply to a DEVICE_GET_INFO sent in pieces is wrong "
                    "(#%u %s, type %u, error %d; expected #%u, a success)",
                    r.msg.hdr.id, vuc_cmd_name(r.msg.hdr.cmd),
                    vuc_hdr_type(&r.msg.hdr), r.is_error, h.id);
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
}

/*
 * robust.header.many-in-one-write: 64 requests in one write, answered in
 * order. Once the first reply is in, one more request goes out on its
 * own: a server that dropped some of the 64 answers it next, so a lost
 * reply shows without waiting out the timeout.
 */
static void many_in_one(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    enum { N = 64, MSG = VUC_HDR_SIZE + 16, LATE_ID = 0x7000 };
    uint8_t *buf = malloc((size_t)(N + 1) * MSG);
    struct vuc_device_info di = {.argsz = 16};
    int rc;

    (void)c;
    if (buf == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL)
        goto out;
    for (int i = 0; i <= N; i++) {
        struct vuc_hdr h = {.id = (uint16_t)(i < N ? 0x6000 + i : LATE_ID),
                            .cmd = VUC_CMD_DEVICE_GET_INFO,
                            .size = MSG,
                            .flags = VUC_TYPE_COMMAND};
        vuc_hdr_encode(&h, buf + (size_t)i * MSG, VUC_HDR_SIZE);
        vuc_device_info_encode(&di, buf + (size_t)i * MSG + VUC_HDR_SIZE, 16);
    }
    vuc_client_trace_note(ctx->cl,
                          "-> #0x6000..#0x603f: 64 DEVICE_GET_INFO in one "
                          "write");
    rc = vuc_conn_send_raw(vuc_client_conn(ctx->cl), buf, (size_t)N * MSG, NULL,
                           0, ctx->opts->timeout_ms);
    if (rc < 0) {
        if (rc == -EPIPE || rc == -ECONNRESET)
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "the server closed the connection on 64 requests "
                        "sent in one write (%s)",
                        Q_REPLY);
        else
            vuc_verdict(ctx, VUC_ERROR, "sending 64 requests: %s",
                        strerror(-rc));
        goto out;
    }
    for (int i = 0; i < N; i++) {
        struct vuc_reply r;
        if (i == 1) {
            rc = vuc_client_send_raw(ctx->cl, buf + (size_t)N * MSG, MSG);
            if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
                vuc_verdict(ctx, VUC_ERROR, "sending request #0x%x: %s",
                            LATE_ID, strerror(-rc));
                goto out;
            }
        }
        rc = vuc_client_recv_any(ctx->cl, &r);
        if (rc < 0) {
            if (rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT)
                vuc_verdict(ctx, VUC_VIOLATION(ctx),
                            "after %d of 64 replies to requests sent in one "
                            "write: %s (%s)",
                            i, vuc_client_last_error(ctx->cl), Q_REPLY);
            else
                vuc_case_report_rc(ctx, rc, "the replies to 64 requests");
            goto out;
        }
        if (r.msg.hdr.id == LATE_ID) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "reply %d of 64 is the one to the request sent after "
                        "them: requests #0x%x..#0x%x were never answered (%s)",
                        i + 1, 0x6000 + i, 0x6000 + N - 1, Q_REPLY);
            vuc_reply_release(&r);
            goto out;
        }
        if (r.msg.hdr.id != 0x6000 + i || r.is_error) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "reply %d of 64 is #0x%x%s; Command Concurrency: "
                        "\"The server will process commands in the order "
                        "they are received\"",
                        i + 1, r.msg.hdr.id, r.is_error ? " (error)" : "");
            vuc_reply_release(&r);
            goto out;
        }
        vuc_reply_release(&r);
    }
    vuc_check(ctx);
out:
    free(buf);
}

/* robust.header.reused-id: "Message IDs belong entirely to the sender,
 * can be re-used (even concurrently) and the receiver must not make any
 * assumptions about their uniqueness": three DEVICE_GET_INFO in a row
 * with one id, each sent once the reply before it came (requests read
 * together are robust.header.many-in-one-write's), each answered. */
static void reused_id(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    enum { N = 3, ID = 0x5151 };
    uint8_t msg[VUC_HDR_SIZE + 16];
    struct vuc_device_info di = {.argsz = 16};
    struct vuc_hdr h = {.id = ID,
                        .cmd = VUC_CMD_DEVICE_GET_INFO,
                        .size = sizeof(msg),
                        .flags = VUC_TYPE_COMMAND};

    (void)c;
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    vuc_hdr_encode(&h, msg, sizeof(msg));
    vuc_device_info_encode(&di, msg + VUC_HDR_SIZE, 16);
    for (int i = 0; i < N; i++) {
        struct vuc_reply r;
        char what[64];
        int rc;

        snprintf(what, sizeof(what), "the reply to request %d of %d (id %u)",
                 i + 1, N, ID);
        vuc_client_trace_note(ctx->cl, "-> #%u DEVICE_GET_INFO (%d of %d)", ID,
                              i + 1, N);
        if (vuc_client_send_raw(ctx->cl, msg, sizeof(msg)) < 0) {
            vuc_case_report_rc(ctx, -EPIPE, "sending a request of one id");
            return;
        }
        rc = vuc_client_recv_any(ctx->cl, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, what);
            return;
        }
        if (vuc_hdr_type(&r.msg.hdr) != VUC_TYPE_REPLY || r.msg.hdr.id != ID ||
            r.msg.hdr.cmd != VUC_CMD_DEVICE_GET_INFO || r.is_error) {
            vuc_verdict(ctx, VUC_FAIL,
                        "%s is %s #%u (type %u%s); each of the requests "
                        "sharing an id gets its own reply (\"the receiver "
                        "must not make any assumptions about their "
                        "uniqueness\")",
                        what, vuc_cmd_name(r.msg.hdr.cmd), r.msg.hdr.id,
                        vuc_hdr_type(&r.msg.hdr),
                        r.is_error ? ", an error" : "");
            vuc_reply_release(&r);
            return;
        }
        vuc_reply_release(&r);
        vuc_check(ctx);
    }
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

/*
 * robust.CMD.short-payload: the command with its payload cut at every
 * length from 0 to one byte below its fixed part (zeros), each refused
 * and the stream in step after it. Stops at the first violation.
 */
static void short_payload(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_msg_desc *d = vuc_msg_desc((uint16_t)c->a);
    uint8_t zero[64] = {0};
    char what[96];
    struct steps st = {.name = d->name};
    bool ok = true;

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    for (uint32_t len = 0; len < d->req_min && ok; len++) {
        struct input in = {.cmd = (uint16_t)c->a,
                           .flags = VUC_TYPE_COMMAND,
                           .size_field = VUC_HDR_SIZE + len,
                           .payload = zero,
                           .plen = len,
                           .reject = true,
                           .probe = true,
                           .what = what};

        snprintf(what, sizeof(what),
                 "%s with a %u-byte payload (the fixed part is %u)", d->name,
                 len, d->req_min);
        ok = run_step(ctx, &st, &in);
    }
    steps_end(ctx, &st, ok);
}

/*
 * robust.feature.NAME.short-data: a DEVICE_FEATURE whose argsz/flags
 * prefix is whole and whose feature data is cut at every length below the
 * fixed data of its feature and method (docs/decisions.md, DEVICE_FEATURE:
 * the minsz), argsz the payload's length, so that only the data is short.
 * A GET whose request carries no data has its fixed data in the reply:
 * there argsz is cut instead (8 up to 8 + the data - 1), and the server
 * must refuse or answer within argsz. DMA_LOGGING_STOP has no fixed data,
 * so nothing to cut and no case. A refusal is taken at its word: that a
 * refused SET changed no state is fsm.reject.keeps-state's to judge, and
 * a refused LOGGING_START leaves nothing on (and the cases that need
 * logging off stop it first, vuc_case_fresh).
 */
static const struct feature_cut {
    const char *label; /* in the case id */
    const char *name;
    uint32_t flags; /* the feature index and the method */
    uint32_t fixed; /* the fixed data */
    bool argsz_cut; /* no request data: argsz is cut */
    uint32_t first; /* the first length judged here */
} feature_cuts[] = {
    {"migration-get", "MIGRATION GET", VUC_FEATURE_MIGRATION | VUC_FEATURE_GET,
     VUC_MIGRATION_DATA_SIZE, true, 0},
    /* argsz 8 is judged by fsm.feature.argsz-small-get: 9 to 15 here */
    {"mig-device-state-get", "MIG_DEVICE_STATE GET",
     VUC_FEATURE_MIG_DEVICE_STATE | VUC_FEATURE_GET, VUC_MIG_STATE_DATA_SIZE,
     true, 1},
    /* fsm.feature.argsz-small-set sends the whole data with argsz 8: a
     * small argsz, not short data */
    {"mig-device-state-set", "MIG_DEVICE_STATE SET",
     VUC_FEATURE_MIG_DEVICE_STATE | VUC_FEATURE_SET, VUC_MIG_STATE_DATA_SIZE,
     false, 0},
    {"dma-logging-start-set", "DMA_LOGGING_START SET",
     VUC_FEATURE_DMA_LOGGING_START | VUC_FEATURE_SET, VUC_LOG_CONTROL_SIZE,
     false, 0},
    {"dma-logging-report-get", "DMA_LOGGING_REPORT GET",
     VUC_FEATURE_DMA_LOGGING_REPORT | VUC_FEATURE_GET, VUC_LOG_REPORT_SIZE,
     false, 0},
};
#define FEATURE_DATA_MAX VUC_LOG_REPORT_SIZE

/* The data a valid request of the feature carries, which is cut. */
static void feature_data(uint32_t flags, uint8_t p[FEATURE_DATA_MAX])
{
    memset(p, 0, FEATURE_DATA_MAX);
    switch (vuc_feature_index(flags)) {
    case VUC_FEATURE_MIG_DEVICE_STATE: /* RUNNING, no data_fd */
        vuc_put_u32(p, VUC_STATE_RUNNING);
        vuc_put_u32(p + 4, 0xffffffffu);
        break;
    case VUC_FEATURE_DMA_LOGGING_START: /* 4 KiB pages, every mapping */
        vuc_put_u64(p, 4096);
        break;
    case VUC_FEATURE_DMA_LOGGING_REPORT: /* [0, 4 KiB) at 4 KiB */
        vuc_put_u64(p + 8, 4096);
        vuc_put_u64(p + 16, 4096);
        break;
    default:
        break;
    }
}

/* A success reply to a GET whose argsz is below its fixed data, judged as
 * fsm.feature.argsz-small-get does: more than argsz allows is FAIL; the
 * argsz needed without the data is what Message sizes allows
 * (IMPL-DEFINED); any other success is the case's violation. */
static void feature_get_success(struct vuc_ctx *ctx, const struct input *in,
                                const struct vuc_reply *r)
{
    const struct feature_cut *fc = &feature_cuts[ctx->c->a];
    uint32_t argsz = vuc_get_u32(in->payload);
    uint32_t need = VUC_FEATURE_HDR_SIZE + fc->fixed;
    struct vuc_feature f;

    if (r->payload_len > argsz)
        vuc_verdict(ctx, VUC_FAIL,
                    "the server answered %s with %zu payload bytes, more "
                    "than argsz allows (Message sizes: when the reply needs "
                    "more than argsz, \"the full payload is not included in "
                    "the reply\")",
                    in->what, r->payload_len);
    else if (vuc_feature_decode(r->payload, r->payload_len, &f) >= 0 &&
             f.argsz >= need)
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "the server answered %s with argsz %u and %zu data "
                    "bytes instead of refusing (Message sizes: \"the argsz "
                    "field in the reply indicates the needed size\")",
                    in->what, f.argsz, f.data_len);
    else
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the server accepted %s with a %zu-byte success reply "
                    "that neither carries the %u bytes of data nor says the "
                    "argsz they need (%s)",
                    in->what, r->payload_len, fc->fixed, case_rule(ctx));
}

static void feature_short_data(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct feature_cut *fc = &feature_cuts[c->a];
    uint8_t p[VUC_FEATURE_HDR_SIZE + FEATURE_DATA_MAX];
    char what[128];
    struct steps st = {.name = fc->name};
    bool ok = true;

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    feature_data(fc->flags, p + VUC_FEATURE_HDR_SIZE);
    vuc_put_u32(p + 4, fc->flags);
    for (uint32_t len = fc->first; len < fc->fixed && ok; len++) {
        uint32_t plen = VUC_FEATURE_HDR_SIZE + (fc->argsz_cut ? 0 : len);
        struct input in = {.cmd = VUC_CMD_DEVICE_FEATURE,
                           .flags = VUC_TYPE_COMMAND,
                           .size_field = VUC_HDR_SIZE + plen,
                           .payload = p,
                           .plen = plen,
                           .reject = true,
                           .probe = true,
                           .what = what,
                           .on_success =
                               fc->argsz_cut ? feature_get_success : NULL};

        vuc_put_u32(p, VUC_FEATURE_HDR_SIZE + len);
        if (fc->argsz_cut)
            snprintf(what, sizeof(what),
                     "%s with argsz %u (its data takes %u bytes after the "
                     "8-byte prefix)",
                     fc->name, VUC_FEATURE_HDR_SIZE + len, fc->fixed);
        else
            snprintf(what, sizeof(what),
                     "%s with %u of its %u bytes of data (argsz %u)", fc->name,
                     len, fc->fixed, VUC_FEATURE_HDR_SIZE + len);
        ok = run_step(ctx, &st, &in);
    }
    steps_end(ctx, &st, ok);
}

/*
 * robust.CMD.oversized: a message above the server's max_data_xfer_size
 * plus any fixed part, sent whole. The bound is the server's own claim
 * (the most it takes; vucert's capped limit could be below it), read only
 * to size what is sent: the zeros go out in pieces, nothing of that size
 * is allocated, and a claim above OVERSIZE_MAX is not tried.
 */
static void oversized(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_msg_desc *d = vuc_msg_desc((uint16_t)c->a);
    uint8_t fixed[64] = {0};
    uint64_t max;
    size_t plen;
    char what[128];
    struct input in = {.cmd = (uint16_t)c->a,
                       .flags = VUC_TYPE_COMMAND,
                       .payload = fixed,
                       .reject = true,
                       .probe = true,
                       .what = what};

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    max = vuc_client_negotiated(ctx->cl)->caps.max_data_xfer_size;
    if (max > OVERSIZE_MAX) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server's max_data_xfer_size %llu is too large to "
                    "exceed here (vucert sends at most %u bytes)",
                    (unsigned long long)max, OVERSIZE_MAX);
        return;
    }
    /* beyond any data the limit allows, plus a generous fixed part */
    plen = (size_t)max + d->req_min + 65536 + 1;
    in.plen = d->req_min < sizeof(fixed) ? d->req_min : sizeof(fixed);
    in.zeros = plen - in.plen;
    in.size_field = (uint32_t)(VUC_HDR_SIZE + plen);
    snprintf(what, sizeof(what),
             "%s of %zu bytes, above max_data_xfer_size %llu plus headers",
             d->name, plen + VUC_HDR_SIZE, (unsigned long long)max);
    if (one_shot(ctx, &in))
        vuc_check(ctx);
}

/* robust.CMD.truncated-silence: a size larger than what is sent, then
 * silence; the client leaves and a new one must be served. The wait is a
 * sleep, not a receive: nothing is expected on that connection. */
static void truncated_silence(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_msg_desc *d = vuc_msg_desc((uint16_t)c->a);
    uint8_t zero[64] = {0};
    char what[96];
    const struct input in = {.cmd = (uint16_t)c->a,
                             .flags = VUC_TYPE_COMMAND,
                             .size_field = VUC_HDR_SIZE + d->req_min + 4096,
                             .payload = zero,
                             .plen = d->req_min < sizeof(zero) ? d->req_min
                                                               : sizeof(zero),
                             .what = what};
    int rc;

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    snprintf(what, sizeof(what),
             "%s declaring 4096 bytes more than were sent, then silence",
             d->name);
    rc = send_input(ctx, &in, 0);
    if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
        vuc_verdict(ctx, VUC_ERROR, "sending %s: %s", what, strerror(-rc));
        return;
    }
    wait_read(ctx, 100); /* the server holds the cut message, waiting */
    if (serves_on(ctx, what))
        vuc_check(ctx);
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
        /* argsz is the most the client takes (Message sizes): a large
         * one is legal and a small one the server may refuse or answer
         * in part, so any answer will do, as long as the server lives */
        const struct input in = {.cmd = reqs[i].cmd,
                                 .flags = VUC_TYPE_COMMAND,
                                 .size_field = VUC_HDR_SIZE + d->req_min,
                                 .payload = p,
                                 .plen = d->req_min,
                                 .probe = true,
                                 .what = what};

        vuc_put_u32(p, argsz);
        vuc_put_u32(p + 4, reqs[i].flags_word);
        snprintf(what, sizeof(what), "%s with argsz 0x%x", d->name, argsz);
        if (!one_shot(ctx, &in))
            return;
        vuc_check(ctx);
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
    struct input in = {.cmd = VUC_CMD_DMA_MAP,
                       .flags = VUC_TYPE_COMMAND,
                       .size_field = VUC_HDR_SIZE + 32,
                       .payload = p,
                       .plen = 32,
                       .reject = true,
                       .probe = true};

    vuc_dma_map_encode(&dm, p, sizeof(p));
    if (c->a == 0) {
        in.what = "DMA_MAP with a file offset but no file descriptor";
        if (one_shot(ctx, &in))
            vuc_check(ctx);
        return;
    }
    fds[0] = memfd_create("vucert-a", MFD_CLOEXEC);
    fds[1] = memfd_create("vucert-b", MFD_CLOEXEC);
    if (fds[0] < 0 || fds[1] < 0 || ftruncate(fds[0], 8192) < 0 ||
        ftruncate(fds[1], 8192) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
    } else {
        in.fds = fds;
        in.nfds = 2;
        in.what = "DMA_MAP with two file descriptors";
        if (one_shot(ctx, &in))
            vuc_check(ctx);
    }
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
}

/* robust.feature.unknown-flags: MIG_DEVICE_STATE GET with flag bit 20 */
static void feature_unknown_flags(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint8_t p[8];
    const struct input in = {.cmd = VUC_CMD_DEVICE_FEATURE,
                             .flags = VUC_TYPE_COMMAND,
                             .size_field = VUC_HDR_SIZE + 8,
                             .payload = p,
                             .plen = 8,
                             .reject = true,
                             .probe = true,
                             .what = "DEVICE_FEATURE with flag bit 20 set"};

    (void)c;
    vuc_put_u32(p, 16);
    vuc_put_u32(p + 4,
                VUC_FEATURE_GET | VUC_FEATURE_MIG_DEVICE_STATE | (1u << 20));
    if (one_shot(ctx, &in))
        vuc_check(ctx);
}

/* One client of the resources workload: negotiate, a request cut short,
 * a DMA_MAP that passes an fd, then leave without unmapping: everything
 * the server took for this client must go with it (spec: Client
 * Disconnection: "all client memory regions are unmapped and cleaned up
 * (including closing any passed file descriptors)"). false after a
 * verdict. */
static bool resources_client(struct vuc_ctx *ctx, int memfd, unsigned i)
{
    struct vuc_dma_map m = {.argsz = 32,
                            .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                            .offset = 0,
                            .addr = 0x100000000ull + (uint64_t)i * 4096u,
                            .size = 4096};
    uint8_t p[32], shortp[8] = {0};
    struct vuc_reply r;
    int rc;

    const char *prev;

    if (vuc_ctx_connect(ctx) == NULL)
        return false;
    /* how the server answers it is robust.device-get-info.short-payload's
     * to judge: any whole reply will do (a success reply too short to
     * decode is -EPROTO, and the stream is still in step); no answer at
     * all blocks this case */
    prev = vuc_setup_begin(ctx, "robust.device-get-info.short-payload");
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, shortp,
                         sizeof(shortp), NULL, 0, &r);
    if (rc == 0)
        vuc_reply_release(&r);
    else if (rc == -EPROTO && !vuc_client_timed_out(ctx->cl))
        rc = 0;
    else if (rc != -ECONNRESET)
        return (vuc_case_report_rc(ctx, rc, "DEVICE_GET_INFO cut short"),
                false);
    vuc_setup_end(ctx, prev);
    if (rc == 0) {
        vuc_dma_map_encode(&m, p, sizeof(p));
        rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), &memfd, 1,
                             &r);
        if (rc == 0)
            vuc_reply_release(&r);
        else if (rc != -ECONNRESET)
            return (vuc_case_report_rc(ctx, rc, "DMA_MAP with an fd"), false);
    }
    vuc_ctx_disconnect(ctx);
    return true;
}

/* A fresh client that gets an answer: a server that serves one client at
 * a time has then finished with the ones before. The caller measures
 * with it connected (the same at both ends of the comparison) and then
 * disconnects. */
static bool settled(struct vuc_ctx *ctx)
{
    struct vuc_device_info di = {.argsz = 16};
    uint8_t p[16];
    struct vuc_reply r;
    int rc;

    if (vuc_ctx_connect(ctx) == NULL)
        return false;
    vuc_device_info_encode(&di, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL,
                         0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_GET_INFO");
        return false;
    }
    vuc_reply_release(&r);
    return true;
}

/*
 * robust.resources.end: the server's fds and memory do not grow over 64
 * clients that each leave something behind. The case makes its own
 * workload, so its verdict does not depend on which cases ran before it.
 */
static void resources(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    enum { CLIENTS = 64 };
    pid_t pid = vuc_target_pid(ctx->target);
    long fds0, rss0, fds, rss;
    bool ok = true;
    int memfd;

    (void)c;
    if (pid <= 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "vucert does not know the server's process (use "
                    "--server-cmd or --server-pid)");
        return;
    }
    /* one client first, so that what a server sets up once is counted
     * before the measurement */
    memfd = memfd_create("vucert-resources", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, 4096) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "memfd_create: %s", strerror(errno));
        if (memfd >= 0)
            close(memfd);
        return;
    }
    if (!resources_client(ctx, memfd, 0) || !settled(ctx))
        goto out;
    if (vuc_target_usage(ctx->target, &fds0, &rss0) < 0) {
        vuc_verdict(ctx, VUC_SKIP, "cannot read /proc/%d", (int)pid);
        goto out;
    }
    for (unsigned i = 1; i <= CLIENTS; i++)
        if (!resources_client(ctx, memfd, i))
            goto out;
    if (!settled(ctx))
        goto out;
    if (vuc_target_pid(ctx->target) != pid) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server is a new process after the workload (it "
                    "exits when its client leaves, or was restarted), so "
                    "its usage cannot be compared");
        goto out;
    }
    if (vuc_target_usage(ctx->target, &fds, &rss) < 0) {
        vuc_verdict(ctx, VUC_SKIP, "cannot read /proc/%d", (int)pid);
        goto out;
    }
    if (fds > fds0 + FD_GROWTH_MAX) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the server's open file descriptors grew from %ld to %ld "
                    "over %d clients that each mapped memory with an fd and "
                    "left (a leak: \"all client memory regions are unmapped "
                    "and cleaned up (including closing any passed file "
                    "descriptors)\"; %s)",
                    fds0, fds, CLIENTS, Q_DOS);
        ok = false;
    }
    if (rss > rss0 + RSS_GROWTH_MAX_KIB) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the server's resident memory grew from %ld KiB to %ld "
                    "KiB over %d clients (bound: +%d KiB; %s)",
                    rss0, rss, CLIENTS, RSS_GROWTH_MAX_KIB, Q_DOS);
        ok = false;
    }
    if (ok)
        vuc_check(ctx);
out:
    close(memfd);
}

/* What the spec says of a server that takes each input (case arg). */
static const char q_short_size[] =
    "Header: \"Message size contains the size of the entire message, "
    "including the header\", and a command \"must be replied to\": a "
    "size below 16 is no message to accept";
static const char q_reply_type[] =
    "Header: a Reply \"acknowledg[es] a previous command with the same "
    "message ID\"; the spec does not say what a server does with one that "
    "acknowledges nothing";
static const char q_dma_offset[] =
    "VFIO_USER_DMA_MAP: offset is \"zero if the region is not mappable\"; "
    "the spec does not say the server must refuse another";
static const char q_dma_fds[] =
    "VFIO_USER_DMA_MAP: \"a file descriptor must be sent\" for a mappable "
    "region, a rule for the client; the spec does not say the server must "
    "refuse two";
static const char q_feature_flags[] =
    "kernel rule: VFIO_DEVICE_FEATURE fails unknown flag bits with EINVAL, "
    "and VFIO_USER_DEVICE_FEATURE \"is analogous to VFIO_DEVICE_FEATURE\"";

size_t vuc_cases_robust(struct vuc_case *out, size_t max)
{
    size_t table_n;
    const struct vuc_msg_desc *table = vuc_msg_table(&table_n);
    size_t n = 0;
    char id[64], title[128], label[26];

    /* Header: "Each command message in Commands_ must be replied to with
     * a reply message" and "Message size contains the size of the entire
     * message, including the header": a header with size 8 is answered
     * (an error reply) or the connection closed, never left hanging. */
    VUC_CASE("robust.header.short-msg-size",
             "a message size below the header is refused", SPEC_HDR, "must",
             short_msg_size, 0, 0, q_short_size);
    /* Security Considerations: "should ... validate input". Commands_
     * lists the numbers; its must-reply rule covers only those. */
    VUC_CASE("robust.header.unknown-command",
             "unknown command numbers are refused", SPEC_SEC, "should",
             unknown_command, 0, 0, NULL);
    /* Header: "Message size contains the size of the entire message,
     * including the header": it, not the command, says where the next
     * message starts. Refusing the command is Security Considerations'
     * "should"; a request after it answered out of step breaks "Each
     * command message in Commands_ must be replied to" (FAIL). */
    VUC_CASE("robust.header.unknown-command-body",
             "an unknown command with a body is refused, the stream in step",
             SPEC_SEC, "should", unknown_command_body, 0, 0, NULL);
    /* Header: a Reply "indicates a reply message acknowledging a previous
     * command with the same message ID"; the spec is silent on one that
     * acknowledges nothing: answering, closing and dropping are all the
     * server's choice (dropping it is recorded, IMPL-DEFINED). */
    VUC_CASE("robust.header.reused-id",
             "requests sharing a message id each get their reply", SPEC_HDR,
             "must not make any assumptions", reused_id, 0, 0, NULL);
    VUC_CASE("robust.device-get-info.nonzero-fields",
             "DEVICE_GET_INFO with non-zero request fields is answered",
             SPEC_HDR, "must", info_nonzero, 0, 0, NULL);
    VUC_CASE("robust.header.reply-type", "a request of type Reply", SPEC_HDR,
             "silent", odd_flags, VUC_TYPE_REPLY, 0, q_reply_type);
    /* Header: the Error flag is defined for replies only, so any answer
     * will do; but the message is a command, and "Each command message in
     * Commands_ must be replied to with a reply message". */
    VUC_CASE("robust.header.error-flag", "a request with the Error flag",
             SPEC_HDR, "must", odd_flags, VUC_TYPE_COMMAND | VUC_FLAG_ERROR, 0,
             NULL);
    /* Header: "Each command message in Commands_ must be replied to with
     * a reply message"; how the bytes arrive on the socket does not
     * change what the message is. */
    VUC_CASE("robust.header.split-with-pauses",
             "a request split across writes with pauses is served", SPEC_HDR,
             "must", split_pauses, 0, 0, NULL);
    /* Command Concurrency: "A client may pipeline multiple commands
     * without waiting for previous command replies. The server will
     * process commands in the order they are received", and Header: each
     * "must be replied to". "will" leaves the server no choice. */
    VUC_CASE("robust.header.many-in-one-write",
             "64 requests in one write are served in order",
             "Command Concurrency", "will", many_in_one, 0, 0, NULL);
    for (size_t i = 0; i < table_n; i++) {
        const struct vuc_msg_desc *d = &table[i];
        if (d->dir != VUC_DIR_C2S)
            continue;
        cmd_label(d->cmd, label, sizeof(label));
        /* Security Considerations: "should ... validate input ... buffer
         * overflow": the spec gives the fixed request but no rule for
         * a shorter one. */
        if (d->req_min > 0) {
            snprintf(id, sizeof(id), "robust.%s.short-payload", label);
            snprintf(title, sizeof(title),
                     "%s cut at every length below its fixed part is "
                     "refused, the stream in step",
                     d->name);
            VUC_CASE(id, title, SPEC_SEC, "should", short_payload, d->cmd, 0,
                     NULL);
        }
        /* Security Considerations: "should ... validate input ... denial
         * of service". Read and Write Operations' "The count field must
         * not exceed the value of max_data_xfer_size of the peer" binds
         * the sender, not how the server refuses. */
        snprintf(id, sizeof(id), "robust.%s.oversized", label);
        snprintf(title, sizeof(title),
                 "%s above the server's max_data_xfer_size is refused",
                 d->name);
        VUC_CASE(id, title, SPEC_SEC, "should", oversized, d->cmd, 0, NULL);
        /* Security Considerations: "should ... prevent against denial of
         * service scenarios"; Client Disconnection's expectation that a
         * client reconnects is a "should" too. */
        snprintf(id, sizeof(id), "robust.%s.truncated-silence", label);
        snprintf(title, sizeof(title),
                 "%s cut short, then silence: others are still served",
                 d->name);
        VUC_CASE(id, title, SPEC_SEC, "should", truncated_silence, d->cmd, 0,
                 NULL);
    }
    /* Message sizes: argsz is "the maximum expected reply payload size,
     * which should be at least the size of the fixed reply payload
     * headers" (the client's rule); any answer will do, and Security
     * Considerations' "should ... prevent against denial of service"
     * asks the server to live on. */
    VUC_CASE("robust.argsz.below-min", "argsz below the minimum", SPEC_SEC,
             "should", argsz_extremes, 0, 0, NULL);
    VUC_CASE("robust.argsz.huge", "argsz 0xffffffff", SPEC_SEC, "should",
             argsz_extremes, 1, 0, NULL);
    /* VFIO_USER_DMA_MAP: "offset is the file offset of the region with
     * respect to the associated file descriptor, or zero if the region is
     * not mappable" describes the request; nothing says the server must
     * refuse a non-zero one without an fd: silent, IMPL-DEFINED. */
    VUC_CASE("robust.dma-map.offset-without-fd",
             "DMA_MAP with a file offset and no fd is refused",
             "VFIO_USER_DMA_MAP", "silent", dma_map_fds, 0, 0, q_dma_offset);
    /* VFIO_USER_DMA_MAP: "a file descriptor must be sent as part of the
     * message meta-data" binds the client; the server's answer to two is
     * not stated: silent, IMPL-DEFINED. */
    VUC_CASE("robust.dma-map.two-fds", "DMA_MAP with two fds is refused",
             "VFIO_USER_DMA_MAP", "silent", dma_map_fds, 1, 0, q_dma_fds);
    /* VFIO_USER_DEVICE_FEATURE "is analogous to VFIO_DEVICE_FEATURE" and
     * defines flag bits 0-18 only; that unknown bits fail (EINVAL) is the
     * kernel's rule (vfio core), not the spec's: SHOULD. */
    VUC_CASE("robust.feature.unknown-flags",
             "DEVICE_FEATURE with unknown flag bits is refused",
             "VFIO_USER_DEVICE_FEATURE", "kernel uAPI", feature_unknown_flags,
             0, 0, q_feature_flags);
    /* Security Considerations: "should ... validate input ... buffer
     * overflow", as robust.CMD.short-payload, for the data of each device
     * feature (a GET without request data: its argsz; more reply than
     * argsz allows is FAIL, Message sizes, as fsm.feature.argsz-small-get
     * judges it). */
    for (size_t i = 0; i < sizeof(feature_cuts) / sizeof(feature_cuts[0]);
         i++) {
        const struct feature_cut *fc = &feature_cuts[i];

        snprintf(id, sizeof(id), "robust.feature.%s.short-data", fc->label);
        if (fc->argsz_cut)
            snprintf(title, sizeof(title),
                     "%s with argsz cut at every length below its %u-byte "
                     "data is refused",
                     fc->name, fc->fixed);
        else
            snprintf(title, sizeof(title),
                     "%s with its data cut at every length below its fixed "
                     "part is refused",
                     fc->name);
        VUC_CASE(id, title, SPEC_SEC, "should", feature_short_data, (uint32_t)i,
                 0, NULL);
    }
    /* Security Considerations: "should ... prevent against denial of
     * service scenarios"; Client Disconnection: on a disconnect the server
     * "should" close the fds the client passed. */
    VUC_CASE("robust.resources.end",
             "the server's fds and memory did not grow over the run", SPEC_SEC,
             "should", resources, 0, 0, NULL);
    return n;
}
