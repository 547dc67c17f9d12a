// SPDX-License-Identifier: BSD-3-Clause
/*
 * Steps shared by the case files: a fresh device, walking to a state
 * along direct arcs, saving and restoring a stream, fault injection
 * through the profile, and the form of error replies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_priv.h"
#include "vucert/codec.h"

void vuc_stream_free(struct vuc_stream *s)
{
    free(s->data);
    s->data = NULL;
    s->len = 0;
}

uint64_t vuc_case_flags(struct vuc_ctx *ctx)
{
    if (!ctx->info->mig_flags_known) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server does not answer VFIO_DEVICE_FEATURE_MIGRATION "
                    "GET, so its migration states are unknown");
        return 0;
    }
    /* unknown bits are judged by fsm.flags.valid alone */
    return ctx->info->mig_flags & VUC_MIGRATION_KNOWN;
}

void vuc_case_report_rc(struct vuc_ctx *ctx, int rc, const char *what)
{
    if (rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -EPIPE || rc == -EPROTO)
        vuc_verdict(ctx, VUC_FAIL, "%s: %s", what,
                    vuc_client_last_error(ctx->cl));
    else
        vuc_verdict(ctx, VUC_ERROR, "%s: %s", what, strerror(-rc));
}

bool vuc_case_get(struct vuc_ctx *ctx, uint32_t *state)
{
    uint32_t err = 0;
    char eb[16];
    int rc = vuc_client_get_state(ctx->cl, state, &err);

    if (rc == -EREMOTEIO) {
        vuc_verdict(ctx, VUC_FAIL, "MIG_DEVICE_STATE GET failed with errno %s",
                    vuc_errno_name(err, eb, sizeof(eb)));
        return false;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DEVICE_STATE GET");
        return false;
    }
    return true;
}

bool vuc_case_set_ok(struct vuc_ctx *ctx, uint32_t state, const char *why)
{
    struct vuc_reply r;
    char eb[16];
    int rc = vuc_client_set_state(ctx->cl, state, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, why);
        return false;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_FAIL, "%s: SET %s was rejected with errno %s", why,
                    vuc_state_name(state),
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    return true;
}

bool vuc_case_fresh(struct vuc_ctx *ctx)
{
    struct vuc_reply r;
    uint32_t st;
    int rc;

    vuc_client_trace_note(ctx->cl, "# fresh device: DEVICE_RESET");
    rc = vuc_client_reset(ctx->cl, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_RESET");
        return false;
    }
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st))
        return false;
    if (st == VUC_STATE_RUNNING)
        return true;
    /* Reset did not bring RUNNING back (the reset cases judge that);
     * other cases still want a fresh device: walk back, and if even that
     * is refused (RESUMING without a valid stream cannot be left), start
     * the server again when vucert runs it. */
    if (st != VUC_STATE_ERROR && st < VUC_STATE_NR) {
        vuc_client_trace_note(ctx->cl,
                              "# reset left %s; walking back to RUNNING",
                              vuc_state_name(st));
        rc = vuc_client_set_state(ctx->cl, VUC_STATE_RUNNING, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "bringing the device back to RUNNING");
            return false;
        }
        vuc_reply_release(&r);
        if (!vuc_case_get(ctx, &st))
            return false;
        if (st == VUC_STATE_RUNNING)
            return true;
    }
    if (ctx->target->cmd != NULL) {
        char err[256];
        vuc_client_trace_note(ctx->cl, "# reset left %s; restarting the server",
                              vuc_state_name(st));
        vuc_ctx_disconnect(ctx);
        if (vuc_target_restart(ctx->target, err, sizeof(err)) < 0) {
            vuc_verdict(ctx, VUC_ERROR, "restarting the server: %s", err);
            return false;
        }
        return vuc_ctx_connect(ctx) != NULL;
    }
    vuc_verdict(ctx, VUC_ERROR,
                "neither DEVICE_RESET nor SET RUNNING leaves %s, and vucert "
                "cannot restart a server it did not start",
                vuc_state_name(st));
    return false;
}

int vuc_case_reg_read(struct vuc_ctx *ctx, const struct vuc_reg_ref *reg,
                      void *buf, uint32_t size)
{
    return vuc_client_region_read(ctx->cl, reg->region, reg->offset, buf, size,
                                  NULL);
}

bool vuc_case_inject_error(struct vuc_ctx *ctx)
{
    const struct vuc_profile *p = ctx->profile;
    struct vuc_reply r;
    uint32_t st;
    int rc;

    if (p == NULL || !p->has_error_injection) {
        vuc_verdict(ctx, VUC_SKIP,
                    "ERROR is reachable only through device-specific fault "
                    "injection, and no profile describes one (--profile)");
        return false;
    }
    if (p->err_trigger_from != VUC_STATE_RUNNING &&
        !vuc_case_reach(ctx, p->err_trigger_from))
        return false;
    vuc_client_trace_note(ctx->cl, "# profile: arm fault injection");
    for (size_t i = 0; i < p->n_err_writes; i++) {
        const struct vuc_reg_write *w = &p->err_writes[i];
        uint8_t v[8];
        vuc_put_u64(v, w->value);
        rc = vuc_client_region_write(ctx->cl, w->reg.region, w->reg.offset, v,
                                     w->reg.size, NULL);
        if (rc < 0) {
            vuc_verdict(ctx, VUC_ERROR,
                        "the profile's fault-injection write to region %u "
                        "offset 0x%llx failed: %s",
                        w->reg.region, (unsigned long long)w->reg.offset,
                        rc == -EREMOTEIO ? "error reply"
                                         : vuc_client_last_error(ctx->cl));
            return false;
        }
    }
    rc = vuc_client_set_state(ctx->cl, p->err_trigger_to, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "the fault-injection trigger SET");
        return false;
    }
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st))
        return false;
    if (st != VUC_STATE_ERROR) {
        vuc_verdict(ctx, VUC_ERROR,
                    "the profile's fault injection did not bring the device "
                    "to ERROR (GET reads %s)",
                    vuc_state_name(st));
        return false;
    }
    return true;
}

int vuc_case_read_stream(struct vuc_ctx *ctx, struct vuc_stream *s, char *err,
                         size_t errcap)
{
    const struct vuc_negotiated *n = vuc_client_negotiated(ctx->cl);
    uint64_t chunk64 = n->limits.max_data_xfer_size;
    uint32_t chunk = chunk64 > (1u << 20) ? (1u << 20) : (uint32_t)chunk64;
    uint64_t limit = ctx->opts->stream_limit;
    size_t cap = 0;

    s->data = NULL;
    s->len = 0;
    if (chunk == 0)
        chunk = 4096;
    for (;;) {
        uint32_t got = 0, e = 0;
        int rc;

        if (s->len >= limit) {
            snprintf(err, errcap,
                     "the stream did not end within %llu bytes (--stream-"
                     "limit): every read of %u bytes returned %u bytes, so "
                     "the end of the stream was never signalled",
                     (unsigned long long)limit, chunk, chunk);
            return -EFBIG;
        }
        if (s->len + chunk > cap) {
            size_t ncap = cap ? cap * 2 : (size_t)chunk * 4;
            uint8_t *d = realloc(s->data, ncap);
            if (d == NULL) {
                snprintf(err, errcap, "out of memory at %zu bytes", s->len);
                return -ENOMEM;
            }
            s->data = d;
            cap = ncap;
        }
        rc = vuc_client_mig_read(ctx->cl, chunk, s->data + s->len, &got, &e);
        if (rc < 0) {
            char eb[16];
            snprintf(err, errcap, "MIG_DATA_READ at offset %zu: %s", s->len,
                     rc == -EREMOTEIO ? vuc_errno_name(e, eb, sizeof(eb))
                                      : vuc_client_last_error(ctx->cl));
            return rc;
        }
        s->len += got;
        if (got < chunk)
            return 0; /* spec: a short reply is the end of the stream */
    }
}

/* Append the rest of the current session's stream to s. */
int vuc_case_read_more(struct vuc_ctx *ctx, struct vuc_stream *s, char *err,
                       size_t errcap)
{
    struct vuc_stream more;
    uint8_t *d;
    int rc = vuc_case_read_stream(ctx, &more, err, errcap);

    if (rc < 0) {
        vuc_stream_free(&more);
        return rc;
    }
    d = realloc(s->data, s->len + more.len + 1);
    if (d == NULL) {
        vuc_stream_free(&more);
        return -ENOMEM;
    }
    if (more.len)
        memcpy(d + s->len, more.data, more.len);
    s->data = d;
    s->len += more.len;
    vuc_stream_free(&more);
    return 0;
}

bool vuc_case_mutate(struct vuc_ctx *ctx)
{
    const struct vuc_profile *p = ctx->profile;

    if (p == NULL || p->n_mut_writes == 0)
        return false;
    vuc_client_trace_note(ctx->cl, "# profile: change the device state");
    for (size_t i = 0; i < p->n_mut_writes; i++) {
        const struct vuc_reg_write *w = &p->mut_writes[i];
        uint8_t v[8];
        vuc_put_u64(v, w->value);
        if (vuc_client_region_write(ctx->cl, w->reg.region, w->reg.offset, v,
                                    w->reg.size, NULL) < 0) {
            vuc_verdict(ctx, VUC_ERROR,
                        "the profile's state_mutation write failed: %s",
                        vuc_client_last_error(ctx->cl));
            return false;
        }
    }
    return true;
}

int vuc_case_digest(struct vuc_ctx *ctx, uint8_t *buf, size_t cap)
{
    const struct vuc_profile *p = ctx->profile;

    if (p == NULL || !p->has_digest || p->digest.size > cap)
        return -ENOENT;
    return vuc_case_reg_read(ctx, &p->digest, buf, p->digest.size);
}

int vuc_case_write_stream(struct vuc_ctx *ctx, const struct vuc_stream *s,
                          char *err, size_t errcap)
{
    const struct vuc_negotiated *n = vuc_client_negotiated(ctx->cl);
    uint64_t chunk64 = n->limits.max_data_xfer_size;
    uint32_t chunk = chunk64 > (1u << 20) ? (1u << 20) : (uint32_t)chunk64;
    size_t off = 0;

    if (chunk == 0)
        chunk = 4096;
    while (off < s->len) {
        uint32_t len = s->len - off < chunk ? (uint32_t)(s->len - off) : chunk;
        uint32_t e = 0;
        int rc = vuc_client_mig_write(ctx->cl, s->data + off, len, &e);
        if (rc < 0) {
            char eb[16];
            snprintf(err, errcap, "MIG_DATA_WRITE at offset %zu: %s", off,
                     rc == -EREMOTEIO ? vuc_errno_name(e, eb, sizeof(eb))
                                      : vuc_client_last_error(ctx->cl));
            return rc;
        }
        off += len;
    }
    return 0;
}

/* Walk direct arcs from the current state `cur` to `to`. */
static bool walk(struct vuc_ctx *ctx, uint64_t flags, uint32_t cur, uint32_t to)
{
    uint32_t path[VUC_STATE_NR * 2];
    int n = vuc_expect_path(flags, cur, to, path, VUC_STATE_NR * 2);
    char why[96];

    if (n < 0) {
        vuc_verdict(ctx, VUC_ERROR, "no path from %s to %s",
                    vuc_state_name(cur), vuc_state_name(to));
        return false;
    }
    for (int i = 0; i < n; i++) {
        snprintf(why, sizeof(why), "setup: direct arc %s -> %s",
                 vuc_state_name(i ? path[i - 1] : cur),
                 vuc_state_name(path[i]));
        if (!vuc_case_set_ok(ctx, path[i], why))
            return false;
    }
    return true;
}

bool vuc_case_reach(struct vuc_ctx *ctx, uint32_t state)
{
    uint64_t flags = vuc_case_flags(ctx);
    struct vuc_stream s = {0};
    char err[256];
    uint32_t st;

    if (flags == 0)
        return false;
    if (state == VUC_STATE_ERROR)
        return vuc_case_inject_error(ctx);
    vuc_client_trace_note(ctx->cl, "# setup: reach %s", vuc_state_name(state));
    if (state != VUC_STATE_RESUMING) {
        if (!walk(ctx, flags, VUC_STATE_RUNNING, state))
            return false;
    } else {
        /* A real stream, so that RESUMING -> STOP is a valid request. */
        if (!walk(ctx, flags, VUC_STATE_RUNNING, VUC_STATE_STOP_COPY))
            return false;
        if (vuc_case_read_stream(ctx, &s, err, sizeof(err)) < 0) {
            /* the stream.* cases judge the stream; this case cannot run */
            vuc_verdict(ctx, VUC_ERROR,
                        "setup: could not save a stream to resume from: %s",
                        err);
            vuc_stream_free(&s);
            return false;
        }
        if (!walk(ctx, flags, VUC_STATE_STOP_COPY, VUC_STATE_RESUMING)) {
            vuc_stream_free(&s);
            return false;
        }
        if (vuc_case_write_stream(ctx, &s, err, sizeof(err)) < 0) {
            vuc_verdict(ctx, VUC_FAIL,
                        "setup: writing back the saved stream (%zu bytes): "
                        "%s",
                        s.len, err);
            vuc_stream_free(&s);
            return false;
        }
        vuc_stream_free(&s);
    }
    if (!vuc_case_get(ctx, &st))
        return false;
    if (st != state) {
        vuc_verdict(ctx, VUC_FAIL, "setup: after walking to %s, GET reads %s",
                    vuc_state_name(state), vuc_state_name(st));
        return false;
    }
    return true;
}

void vuc_case_check_error_form(struct vuc_ctx *ctx, const struct vuc_reply *r,
                               const char *what)
{
    if (r->payload_len != 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "the error reply to %s carries %zu payload bytes; \"If "
                    "an error occurs, the reply message must only include "
                    "the reply header\" (spec: Header)",
                    what, r->payload_len);
    if (r->error == 0)
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "the error reply to %s has errno 0 (allowed by the spec, "
                    "but it tells the client nothing)",
                    what);
}
