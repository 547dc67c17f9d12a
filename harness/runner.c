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

#include "vucert/harness.h"

static const char *const verdict_names[VUC_VERDICT_NR] = {
    [VUC_PASS] = "PASS",
    [VUC_IMPL_DEFINED] = "IMPL-DEFINED",
    [VUC_NON_STRICT] = "NON-STRICT",
    [VUC_FAIL] = "FAIL",
    [VUC_ERROR] = "ERROR",
    [VUC_SKIP] = "SKIP",
};

const char *vuc_verdict_name(enum vuc_verdict v)
{
    return (unsigned)v < VUC_VERDICT_NR ? verdict_names[v] : "?";
}

const char *vuc_level_name(enum vuc_level l)
{
    return l == VUC_MUST ? "MUST" : "SHOULD";
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Severity for merging: SKIP ranks just above PASS (it ends the case but
 * never hides a failure found before it). */
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
    case VUC_FAIL:
        return 4;
    case VUC_ERROR:
        return 5;
    default:
        return 5;
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

void vuc_verdict(struct vuc_ctx *ctx, enum vuc_verdict v, const char *fmt, ...)
{
    struct vuc_result *res = ctx->res;
    char msg[1024];
    va_list ap;
    int sv = severity(v), cur = severity(res->verdict);

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (v == VUC_SKIP)
        ctx->stopped = true;
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

void vuc_ctx_disconnect(struct vuc_ctx *ctx)
{
    char err[256];

    if (ctx->cl == NULL)
        return;
    if (vuc_client_lost(ctx->cl))
        ctx->conn_lost = true;
    vuc_client_close(ctx->cl);
    ctx->cl = NULL;
    if (vuc_target_after_disconnect(ctx->target, err, sizeof(err)) < 0)
        vuc_verdict(ctx, VUC_ERROR, "restarting the server: %s", err);
}

/*
 * Has the server vucert runs exited? A death is a FAIL of the case, with
 * its status and stderr, unless it exited with status 0: some servers end
 * when their client leaves, by design, and are started again without a
 * verdict. Returns true if it had exited.
 */
static bool server_died(struct vuc_ctx *ctx)
{
    char *tail;

    if (!vuc_target_died(ctx->target))
        return false;
    if (ctx->target->last_exit_clean)
        return true;
    tail = vuc_target_stderr_tail(ctx->target, 1500);
    vuc_verdict(ctx, VUC_FAIL, "the server died: %s%s%s",
                ctx->target->last_death, tail && *tail ? "; its stderr:\n" : "",
                tail ? tail : "");
    free(tail);
    return true;
}

/* What in a server's stderr is a report of its own failure. */
static const char *const testimony[] = {
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "UndefinedBehaviorSanitizer",
    "Assertion `",
    "Assertion failed",
    "assertion failed",
    "*** stack smashing detected",
    "double free or corruption",
    "free(): invalid",
    "malloc(): ",
    "Invalid read of size",  /* valgrind */
    "Invalid write of size", /* valgrind */
};

/* valgrind's summary line with a non-zero count */
static const char *valgrind_errors(const char *s)
{
    const char *p = s;

    while ((p = strstr(p, "ERROR SUMMARY: ")) != NULL) {
        const char *n = p + strlen("ERROR SUMMARY: ");
        if (*n >= '1' && *n <= '9')
            return p;
        p = n;
    }
    return NULL;
}

/* Charge to this case what the server wrote to stderr during it. */
static void check_testimony(struct vuc_ctx *ctx, long from)
{
    char *txt = vuc_target_stderr_since(ctx->target, from, 1 << 20);
    const char *hit = NULL;

    if (txt == NULL)
        return;
    for (size_t i = 0; i < sizeof(testimony) / sizeof(testimony[0]); i++) {
        const char *p = strstr(txt, testimony[i]);
        if (p != NULL && (hit == NULL || p < hit))
            hit = p;
    }
    if (hit == NULL)
        hit = valgrind_errors(txt);
    if (hit != NULL) {
        /* quote from the start of the line that says it */
        while (hit > txt && hit[-1] != '\n')
            hit--;
        vuc_verdict(ctx, VUC_FAIL, "the server reported an error:\n%.1500s",
                    hit);
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
    char err[256];

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
            if (vuc_target_restart(ctx->target, err, sizeof(err)) < 0) {
                vuc_verdict(ctx, VUC_ERROR, "restarting the server: %s", err);
                return -ECHILD;
            }
        }
    }
    return rc;
}

struct vuc_client *vuc_ctx_connect_raw(struct vuc_ctx *ctx)
{
    int rc;

    vuc_ctx_disconnect(ctx);
    if (ctx->target->cmd != NULL)
        rc = connect_managed(ctx);
    else
        rc = vuc_client_connect(ctx->target->socket, ctx->opts->timeout_ms,
                                &ctx->cl);
    if (rc == 0 && ctx->opts->record_dir != NULL)
        vuc_client_record(ctx->cl, ctx->opts->record_dir);
    if (rc < 0) {
        ctx->cl = NULL;
        if (rc == -ECHILD) {
            /* vuc_target_died reaped it: report how it went */
            char *tail = vuc_target_stderr_tail(ctx->target, 1500);
            if (ctx->res->verdict < VUC_FAIL)
                vuc_verdict(ctx, VUC_FAIL, "the server died: %s%s%s",
                            ctx->target->last_death,
                            tail && *tail ? "; its stderr:\n" : "",
                            tail ? tail : "");
            free(tail);
        } else if (!server_died(ctx)) {
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
        if (!server_died(ctx))
            vuc_verdict(ctx, VUC_ERROR, "negotiation failed: %s",
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
                          .res = res};
    char err[256];
    double t0 = now_ms();
    long err_from;

    memset(res, 0, sizeof(*res));
    res->c = c;
    res->verdict = VUC_PASS;

    /* A server that died between cases (or exits by design when its
     * client leaves) is started again without a verdict. */
    if (t->cmd != NULL && vuc_target_died(t) &&
        vuc_target_restart(t, err, sizeof(err)) < 0) {
        vuc_verdict(&ctx, VUC_ERROR, "restarting the server: %s", err);
        goto out;
    }
    if (dest != NULL && dest->cmd != NULL && vuc_target_died(dest) &&
        vuc_target_restart(dest, err, sizeof(err)) < 0) {
        vuc_verdict(&ctx, VUC_ERROR, "restarting the destination: %s", err);
        goto out;
    }
    /* robust.resources.end compares the server's fds and memory with
     * what they were before the first robust.* case */
    if (strncmp(c->id, "robust.", 7) == 0) {
        pid_t pid = vuc_target_pid(t);
        if (pid > 0 && info->usage_pid != pid &&
            vuc_target_usage(t, &info->usage_fds, &info->usage_rss_kib) == 0) {
            info->usage_pid = pid;
            info->usage_runs = 0;
        }
        info->usage_runs++;
    }
    err_from = vuc_target_stderr_size(t);
    c->run(&ctx, c);
    vuc_ctx_disconnect(&ctx);
    if (t->cmd != NULL) {
        /* A crashing server closes its socket a moment before it can be
         * reaped: when it closed a connection, give it that moment (100 ms) so
         * the death is charged to this case, not found by the next one. */
        bool died = server_died(&ctx);
        for (int i = 0; !died && ctx.conn_lost && i < 20; i++) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            died = server_died(&ctx);
        }
        check_testimony(&ctx, err_from);
        if (died && vuc_target_restart(t, err, sizeof(err)) < 0)
            vuc_verdict(&ctx, VUC_ERROR, "restarting the server: %s", err);
    }
out:
    vuc_ctx_disconnect(&ctx);
    res->duration_ms = now_ms() - t0;
}
