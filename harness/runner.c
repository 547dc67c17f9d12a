// SPDX-License-Identifier: BSD-3-Clause
/*
 * The case runner: a fresh connection per case, verdict bookkeeping, and
 * attribution of a server death to the case that was running.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness_priv.h"
#include "vucert/harness.h"

static const char *const verdict_names[VUC_VERDICT_NR] = {
    [VUC_PASS] = "PASS",
    [VUC_IMPL_DEFINED] = "IMPL-DEFINED",
    [VUC_NON_STRICT] = "NON-STRICT",
    [VUC_FAIL] = "FAIL",
    [VUC_ERROR] = "ERROR",
    [VUC_SKIP] = "SKIP",
    [VUC_BLOCKED] = "BLOCKED",
};

const char *vuc_verdict_name(enum vuc_verdict v)
{
    return (unsigned)v < VUC_VERDICT_NR ? verdict_names[v] : "?";
}

const char *vuc_level_name(enum vuc_level l)
{
    switch (l) {
    case VUC_MUST:
        return "MUST";
    case VUC_SHOULD:
        return "SHOULD";
    default:
        return "MAY";
    }
}

enum vuc_level vuc_source_level(const char *source)
{
    if (source == NULL)
        return VUC_MUST;
    if (strcmp(source, "kernel uAPI") == 0 ||
        strncmp(source, "should", 6) == 0 ||
        strncmp(source, "is expected to", 14) == 0 ||
        strncmp(source, "strongly recommended", 20) == 0 ||
        strncmp(source, "recommended", 11) == 0)
        return VUC_SHOULD;
    if (strncmp(source, "may", 3) == 0 || strcmp(source, "silent") == 0 ||
        strcmp(source, "optional") == 0)
        return VUC_MAY;
    return VUC_MUST;
}

enum vuc_verdict vuc_level_verdict(enum vuc_level l)
{
    switch (l) {
    case VUC_MUST:
        return VUC_FAIL;
    case VUC_SHOULD:
        return VUC_NON_STRICT;
    default:
        return VUC_IMPL_DEFINED;
    }
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Severity for merging: SKIP ranks just above PASS (it ends the case but
 * never hides a failure found before it); BLOCKED below FAIL, so a claim
 * already judged wrong stays FAIL when a later step is blocked. */
static int severity(enum vuc_verdict v)
{
    switch (v) {
    case VUC_PASS:
        return 0;
    case VUC_SKIP:
        return 1;
    case VUC_IMPL_DEFINED:
        return 2;
    case VUC_NON_STRICT:
        return 3;
    case VUC_BLOCKED:
        return 4;
    case VUC_FAIL:
        return 5;
    case VUC_ERROR:
        return 6;
    default:
        return 6;
    }
}

static char *append(char *old, const char *sep, const char *add)
{
    size_t a = old ? strlen(old) : 0, b = strlen(sep), c = strlen(add);
    char *s = realloc(old, a + b + c + 1);

    if (s == NULL)
        return old;
    memcpy(s + a, sep, b);
    memcpy(s + a + b, add, c + 1);
    return s;
}

static void record(struct vuc_ctx *ctx, enum vuc_verdict v, const char *msg)
{
    struct vuc_result *res = ctx->res;
    int sv = severity(v), cur = severity(res->verdict);

    if (v == VUC_SKIP || v == VUC_BLOCKED)
        ctx->stopped = true;
    if (v == VUC_FAIL || v == VUC_NON_STRICT || v == VUC_IMPL_DEFINED)
        res->checks++;
    if (sv > cur || (sv == cur && res->reason == NULL)) {
        res->verdict = v;
        free(res->reason);
        res->reason = strdup(msg);
        if (v != VUC_PASS && v != VUC_SKIP && ctx->cl != NULL) {
            free(res->exchange);
            res->exchange = strdup(vuc_client_trace(ctx->cl));
        }
    } else if (sv == cur && v != VUC_PASS) {
        res->reason = append(res->reason, "; ", msg);
    }
}

void vuc_verdict(struct vuc_ctx *ctx, enum vuc_verdict v, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    record(ctx, v, msg);
}

void vuc_blocked(struct vuc_ctx *ctx, const char *by, const char *fmt, ...)
{
    struct vuc_result *res = ctx->res;
    char msg[1024], full[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->c != NULL && strcmp(by, ctx->c->id) == 0) {
        /* the step is this case's own claim */
        record(ctx, vuc_level_verdict(ctx->c->level), msg);
        ctx->stopped = true;
        return;
    }
    if (severity(res->verdict) >= severity(VUC_BLOCKED)) {
        ctx->stopped = true;
        return;
    }
    snprintf(full, sizeof(full), "blocked by %s: %s", by, msg);
    record(ctx, VUC_BLOCKED, full);
    free(res->root_cause);
    res->root_cause = strdup(by);
}

void vuc_check(struct vuc_ctx *ctx)
{
    ctx->res->checks++;
}

void vuc_note(struct vuc_ctx *ctx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->res->notes != NULL && strstr(ctx->res->notes, msg) != NULL)
        return; /* once per case is enough */
    ctx->res->notes = append(ctx->res->notes, ctx->res->notes ? "; " : "", msg);
    if (ctx->cl != NULL)
        vuc_client_trace_note(ctx->cl, "# tolerated: %s", msg);
}

const char *vuc_setup_begin(struct vuc_ctx *ctx, const char *owner)
{
    const char *prev = ctx->setup_owner;

    ctx->setup_owner = owner;
    return prev;
}

void vuc_setup_end(struct vuc_ctx *ctx, const char *prev)
{
    ctx->setup_owner = prev;
}

/* Move what the client tolerated into the result's notes. */
static void take_notes(struct vuc_ctx *ctx, struct vuc_client *cl)
{
    char buf[512];

    if (cl == NULL)
        return;
    if (vuc_client_timed_out(cl))
        ctx->timed_out = true;
    vuc_client_take_notes(cl, buf, sizeof(buf));
    if (buf[0] != '\0' &&
        (ctx->res->notes == NULL || strstr(ctx->res->notes, buf) == NULL))
        ctx->res->notes =
            append(ctx->res->notes, ctx->res->notes ? "; " : "", buf);
}

/* The restart of a server that died or hung; after MAX_FAILED_STARTS in
 * a row that did not come up it is a crash loop: the target is marked
 * down, and later cases are BLOCKED by the case that brought it down. */
#define MAX_FAILED_STARTS 3

static int restart(struct vuc_ctx *ctx, char *err, size_t errcap)
{
    struct vuc_target *t = ctx->target;
    int rc;

    if (t->down_by[0] != '\0') {
        snprintf(err, errcap, "%s", t->down_why);
        return -ECHILD;
    }
    for (;;) {
        rc = vuc_target_restart(t, err, errcap);
        if (rc == 0) {
            t->failed_starts = 0;
            return 0;
        }
        if (++t->failed_starts >= MAX_FAILED_STARTS) {
            snprintf(t->down_by, sizeof(t->down_by), "%s",
                     ctx->c ? ctx->c->id : "?");
            snprintf(t->down_why, sizeof(t->down_why),
                     "the server is in a crash loop: it failed to start %u "
                     "times in a row after %s; the last start: %.300s",
                     t->failed_starts, ctx->c ? ctx->c->id : "?", err);
            snprintf(err, errcap, "%s", t->down_why);
            return -ECHILD;
        }
    }
}

/* --save-sequences: what this connection sent, as a reproducer named by
 * the case (a seed for vucert fuzz --seeds). */
static void save_sequence(struct vuc_ctx *ctx)
{
    char path[4096];

    if (ctx->seq == NULL)
        return;
    vuc_client_save_sequence(ctx->cl, NULL);
    if (ctx->seq->n > 0) {
        snprintf(path, sizeof(path), "%s/%s.%u", ctx->opts->seq_dir,
                 ctx->c ? ctx->c->id : "case", ++ctx->seq_saved);
        (void)vuc_seq_save(ctx->seq, path);
    }
    vuc_seq_free(ctx->seq);
    free(ctx->seq);
    ctx->seq = NULL;
}

void vuc_ctx_disconnect(struct vuc_ctx *ctx)
{
    char err[256];

    if (ctx->cl == NULL)
        return;
    if (vuc_client_lost(ctx->cl))
        ctx->conn_lost = true;
    save_sequence(ctx);
    take_notes(ctx, ctx->cl);
    vuc_client_close(ctx->cl);
    ctx->cl = NULL;
    if (vuc_target_after_disconnect(ctx->target, err, sizeof(err)) < 0)
        vuc_verdict(ctx, VUC_ERROR, "restarting the server: %s", err);
}

/* What the server wrote during this case, from its first telling line
 * (or its last lines when none tells), for a reason; caller frees. */
static char *case_stderr(struct vuc_ctx *ctx, long from)
{
    char *txt = vuc_target_stderr_since(ctx->target, from, 1 << 20);
    const char *hit;
    char *out;

    if (txt == NULL)
        return NULL;
    hit = vuc_telling_line(txt);
    if (hit == NULL) {
        size_t n = strlen(txt);
        hit = n > 1000 ? txt + n - 1000 : txt;
    }
    out = strndup(hit, 1500);
    free(txt);
    return out;
}

/*
 * A failure of the server that the case caused (a death, a hang, a
 * sanitizer report): a FAIL of the case while it judged its claim, or
 * BLOCKED by the owner of the setup step it happened in.
 */
static void charge(struct vuc_ctx *ctx, const char *owner, const char *what,
                   const char *log)
{
    const char *sep = log && *log ? "; its stderr:\n" : "";

    if (log == NULL)
        log = "";
    if (owner != NULL)
        vuc_blocked(ctx, owner, "in setup, %s%s%s", what, sep, log);
    else
        vuc_verdict(ctx, VUC_FAIL, "%s%s%s", what, sep, log);
}

/*
 * Has the server vucert runs exited? A death is charged to the case
 * (charge()), with its status and what it wrote during the case, unless
 * it exited with status 0: some servers end when their client leaves,
 * by design, and are started again without a verdict. Returns true if
 * it had exited.
 */
static bool server_died(struct vuc_ctx *ctx, long err_from)
{
    char what[320], *log;

    if (!vuc_target_died(ctx->target))
        return false;
    if (ctx->target->last_exit_clean)
        return true;
    log = case_stderr(ctx, err_from);
    snprintf(what, sizeof(what), "the server %s", ctx->target->last_death);
    charge(ctx, ctx->setup_owner, what, log);
    free(log);
    return true;
}

/* Charge to this case a report the server wrote to stderr during it. */
static void check_testimony(struct vuc_ctx *ctx, long from)
{
    char *txt = vuc_target_stderr_since(ctx->target, from, 1 << 20);
    const char *hit;

    if (txt == NULL)
        return;
    hit = vuc_telling_line(txt);
    if (hit != NULL) {
        char *q = strndup(hit, 1500);
        if (ctx->res->verdict != VUC_FAIL && ctx->res->verdict != VUC_BLOCKED)
            charge(ctx, ctx->setup_owner, "the server reported an error", q);
        else if (ctx->res->reason == NULL ||
                 strstr(ctx->res->reason, "its stderr") == NULL)
            ctx->res->reason = append(ctx->res->reason,
                                      "; the server reported an error:\n", q);
        free(q);
    }
    free(txt);
}

/*
 * Connect to a server vucert runs: retry in short steps, and between them
 * notice that the server has exited, so a server that ends by design when
 * its client leaves is started again at once instead of costing a timeout.
 */
static int connect_managed(struct vuc_ctx *ctx)
{
    int left = ctx->opts->timeout_ms, rc = -ETIMEDOUT;
    char err[512];

    while (left > 0) {
        int step = left < 100 ? left : 100;
        rc = vuc_client_connect(ctx->target->socket, step, &ctx->cl);
        if (rc == 0)
            /* the step was for connecting; the case waits the full time */
            vuc_client_set_timeout(ctx->cl, ctx->opts->timeout_ms);
        if (rc != -ETIMEDOUT)
            return rc;
        left -= step;
        if (vuc_target_died(ctx->target)) {
            if (!ctx->target->last_exit_clean)
                return -ECHILD;
            if (restart(ctx, err, sizeof(err)) < 0) {
                vuc_verdict(ctx, VUC_ERROR, "restarting the server: %s", err);
                return -ECHILD;
            }
        }
    }
    return rc;
}

/* The target is down (crash loop, or hung and not restartable): the case
 * is BLOCKED by the case that brought it down. */
static bool target_down(struct vuc_ctx *ctx)
{
    struct vuc_target *t = ctx->target;

    if (t->down_by[0] == '\0')
        return false;
    vuc_blocked(ctx, t->down_by, "%s", t->down_why);
    return true;
}

struct vuc_client *vuc_ctx_connect_raw(struct vuc_ctx *ctx)
{
    int rc;

    vuc_ctx_disconnect(ctx);
    if (target_down(ctx))
        return NULL;
    if (ctx->target->cmd != NULL)
        rc = connect_managed(ctx);
    else
        rc = vuc_client_connect(ctx->target->socket, ctx->opts->timeout_ms,
                                &ctx->cl);
    if (rc == 0 && ctx->opts->record_dir != NULL)
        vuc_client_record(ctx->cl, ctx->opts->record_dir);
    if (rc == 0 && ctx->opts->seq_dir != NULL) {
        ctx->seq = calloc(1, sizeof(*ctx->seq));
        if (ctx->seq != NULL)
            vuc_client_save_sequence(ctx->cl, ctx->seq);
    }
    if (rc < 0) {
        ctx->cl = NULL;
        if (rc == -ECHILD) {
            /* vuc_target_died reaped it: report how it went */
            if (ctx->res->verdict < VUC_FAIL && !ctx->stopped) {
                char what[320], *log = case_stderr(ctx, ctx->err_from);
                snprintf(what, sizeof(what), "the server %s",
                         ctx->target->last_death);
                charge(ctx, ctx->setup_owner, what, log);
                free(log);
            }
        } else if (!server_died(ctx, ctx->err_from)) {
            vuc_verdict(ctx, VUC_ERROR, "cannot connect to %s: %s",
                        ctx->target->socket,
                        rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        }
        return NULL;
    }
    return ctx->cl;
}

struct vuc_client *vuc_ctx_connect(struct vuc_ctx *ctx)
{
    struct vuc_reply r;
    int rc;

    if (vuc_ctx_connect_raw(ctx) == NULL)
        return NULL;
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              NULL, &r);
    if (rc < 0 || r.is_error) {
        /* it negotiated before the run: what changed is judged by the
         * negotiation cases, or a death found by the runner */
        if (!server_died(ctx, ctx->err_from))
            vuc_blocked(ctx, "negotiate.version.major",
                        "negotiating a fresh connection failed: %s",
                        rc < 0 ? vuc_client_last_error(ctx->cl)
                               : "the server rejected vucert's VERSION");
        vuc_reply_release(&r);
        vuc_ctx_disconnect(ctx);
        return NULL;
    }
    vuc_reply_release(&r);
    /* the trace of a case starts after the negotiation */
    vuc_client_trace_reset(ctx->cl);
    return ctx->cl;
}

struct vuc_client *vuc_ctx_connect_dest(struct vuc_ctx *ctx)
{
    struct vuc_client *cl;
    struct vuc_reply r;
    int rc;

    if (ctx->dest == NULL)
        return NULL;
    rc = vuc_client_connect(ctx->dest->socket, ctx->opts->timeout_ms, &cl);
    if (rc < 0) {
        vuc_verdict(ctx, VUC_ERROR, "cannot connect to the destination %s: %s",
                    ctx->dest->socket,
                    rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return NULL;
    }
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, VUC_ERROR, "negotiation with the destination failed");
        vuc_reply_release(&r);
        vuc_client_close(cl);
        return NULL;
    }
    vuc_reply_release(&r);
    return cl;
}

/* Has a server vucert cannot restart come back after a hang? A fresh
 * connection must negotiate within the timeout. */
static bool alive(const struct vuc_target *t, int timeout_ms)
{
    struct vuc_client *cl;
    struct vuc_reply r;
    int rc = vuc_client_connect(t->socket, timeout_ms, &cl);

    if (rc < 0)
        return false;
    rc = vuc_client_negotiate(cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL,
                              &r);
    vuc_reply_release(&r);
    vuc_client_close(cl);
    return rc == 0;
}

/*
 * After a case in which the server stopped answering: one that vucert
 * runs is killed and started again, so the next case runs on a fresh
 * server; one it only connects to must answer a fresh connection, or it
 * is down and the remaining cases are BLOCKED by this one.
 */
static void after_hang(struct vuc_ctx *ctx)
{
    struct vuc_target *t = ctx->target;
    char err[512];

    if (t->cmd != NULL) {
        vuc_target_kill(t);
        if (restart(ctx, err, sizeof(err)) < 0)
            vuc_verdict(ctx, VUC_ERROR, "restarting the server: %s", err);
        return;
    }
    if (!alive(t, ctx->opts->timeout_ms)) {
        snprintf(t->down_by, sizeof(t->down_by), "%s", ctx->c->id);
        snprintf(t->down_why, sizeof(t->down_why),
                 "the server stopped answering during %s and does not "
                 "answer a fresh connection; vucert cannot restart a "
                 "server it did not start (--server-cmd)",
                 ctx->c->id);
    }
}

void vuc_run_case(struct vuc_target *t, struct vuc_target *dest,
                  const struct vuc_profile *p, const struct vuc_options *o,
                  struct vuc_run_info *info, const struct vuc_case *c,
                  struct vuc_result *res)
{
    struct vuc_ctx ctx = {.target = t,
                          .dest = dest,
                          .profile = p,
                          .opts = o,
                          .info = info,
                          .res = res,
                          .c = c};
    char err[512];
    double t0 = now_ms();

    memset(res, 0, sizeof(*res));
    res->c = c;
    res->verdict = VUC_PASS;

    /* A server that died between cases (or exits by design when its
     * client leaves) is started again without a verdict. */
    if (t->cmd != NULL &&
        ((t->pid <= 0 && t->daemon_pid <= 0) || vuc_target_died(t)) &&
        restart(&ctx, err, sizeof(err)) < 0 && !target_down(&ctx)) {
        vuc_verdict(&ctx, VUC_ERROR, "restarting the server: %s", err);
        goto out;
    }
    if (dest != NULL && dest->cmd != NULL && vuc_target_died(dest) &&
        vuc_target_restart(dest, err, sizeof(err)) < 0) {
        vuc_verdict(&ctx, VUC_ERROR, "restarting the destination: %s", err);
        goto out;
    }
    ctx.err_from = vuc_target_stderr_size(t);
    c->run(&ctx, c);
    take_notes(&ctx, ctx.cl);
    if (ctx.timed_out && t->down_by[0] == '\0') {
        /* the hang is the case's (or its setup owner's), recorded by the
         * case from the timeout; the next case gets a live server */
        vuc_ctx_disconnect(&ctx);
        after_hang(&ctx);
    }
    vuc_ctx_disconnect(&ctx);
    if (t->cmd != NULL) {
        /* A crashing server closes its socket a moment before it can be
         * reaped: when it closed a connection, a new connection tells
         * (answered: it lives; its exit: it died), so the death is
         * charged to this case, not found by the next one, and a live
         * server costs no wait. */
        if (!server_died(&ctx, ctx.err_from) && ctx.conn_lost &&
            !t->exits_on_disconnect && t->pid > 0 &&
            vuc_target_answers(t, ctx.opts->timeout_ms) == 0)
            server_died(&ctx, ctx.err_from);
        check_testimony(&ctx, ctx.err_from);
        if (t->pid <= 0 && t->daemon_pid <= 0 &&
            restart(&ctx, err, sizeof(err)) < 0 && t->down_by[0] == '\0')
            vuc_verdict(&ctx, VUC_ERROR, "restarting the server: %s", err);
    }
    if (res->verdict == VUC_PASS && res->checks == 0)
        vuc_verdict(&ctx, VUC_ERROR,
                    "the case ended without a verdict and without making a "
                    "check (a vucert bug: please report it)");
out:
    vuc_ctx_disconnect(&ctx);
    res->duration_ms = now_ms() - t0;
}
