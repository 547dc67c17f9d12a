// SPDX-License-Identifier: BSD-3-Clause
/*
 * Steps shared by the case files: a fresh device, walking to a state
 * along direct arcs, saving and restoring a stream, and fault injection
 * through the profile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cases_priv.h"
#include "vucert/transport.h"
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
        ctx->res->no_migration = true;
        vuc_verdict(ctx, VUC_SKIP,
                    "migration not supported: the server does not answer "
                    "VFIO_DEVICE_FEATURE_MIGRATION GET");
        return 0;
    }
    if (!(ctx->info->mig_flags & VUC_MIGRATION_STOP_COPY)) {
        /* fsm.flags.valid judges the flags; nothing else can run */
        ctx->res->no_migration = true;
        vuc_verdict(ctx, VUC_SKIP,
                    "migration not supported: the device's migration flags "
                    "0x%llx lack VFIO_MIGRATION_STOP_COPY",
                    (unsigned long long)ctx->info->mig_flags);
        return 0;
    }
    /* unknown bits are judged by fsm.flags.valid alone */
    return ctx->info->mig_flags & VUC_MIGRATION_KNOWN;
}

void vuc_case_report_rc(struct vuc_ctx *ctx, int rc, const char *what)
{
    const char *why;

    if (rc == -ECANCELED)
        return; /* a profile step failed: its ERROR is recorded */
    if (rc != -ETIMEDOUT && rc != -ECONNRESET && rc != -EPIPE &&
        rc != -EPROTO) {
        vuc_verdict(ctx, VUC_ERROR, "%s: %s", what, strerror(-rc));
        return;
    }
    why = vuc_client_last_error(ctx->cl);
    if (rc == -ETIMEDOUT)
        why = ctx->target->cmd != NULL
                  ? "no reply within the timeout (the server was killed and "
                    "started again for the next case)"
                  : "no reply within the timeout";
    if (ctx->setup_owner != NULL)
        vuc_blocked(ctx, ctx->setup_owner, "%s: %s", what, why);
    else
        vuc_verdict(ctx, VUC_FAIL, "%s: %s", what, why);
}

bool vuc_case_get(struct vuc_ctx *ctx, uint32_t *state)
{
    static const char owner[] = "fsm.get.valid";
    uint32_t err = 0;
    char eb[16];
    int rc = vuc_client_get_state(ctx->cl, state, &err);
    const char *prev;

    if (rc == 0 && *state < VUC_STATE_NR)
        return true;
    /* a GET that fails is fsm.get.valid's to judge; a wire failure is
     * the current step's */
    prev = vuc_setup_begin(ctx, ctx->setup_owner ? ctx->setup_owner : owner);
    if (rc == -EREMOTEIO)
        vuc_blocked(ctx, owner, "MIG_DEVICE_STATE GET failed with errno %s",
                    vuc_errno_name(err, eb, sizeof(eb)));
    else if (rc == 0)
        vuc_blocked(ctx, owner,
                    "MIG_DEVICE_STATE GET reads %u, not a migration state",
                    *state);
    else
        vuc_case_report_rc(ctx, rc, "MIG_DEVICE_STATE GET");
    vuc_setup_end(ctx, prev);
    return false;
}

/* Do what the profile says the device needs before SET from -> to. 0, or
 * -ECANCELED after an ERROR verdict (the profile's step failed). */
static int preconditions(struct vuc_ctx *ctx, uint32_t from, uint32_t to)
{
    const struct vuc_profile *p = ctx->profile;

    for (size_t i = 0; i < p->n_pre; i++) {
        const struct vuc_precondition *pc = &p->pre[i];

        if ((pc->from != VUC_PROFILE_ANY_STATE && pc->from != from) ||
            (pc->to != VUC_PROFILE_ANY_STATE && pc->to != to))
            continue;
        vuc_client_trace_note(ctx->cl,
                              "# profile: precondition %zu before %s -> %s", i,
                              vuc_state_name(from), vuc_state_name(to));
        for (size_t k = 0; k < pc->n_writes; k++) {
            const struct vuc_reg_write *w = &pc->writes[k];
            uint8_t v[8];
            uint32_t err = 0;
            char eb[16];
            int rc;

            vuc_put_u64(v, w->value);
            rc = vuc_client_region_write(ctx->cl, w->reg.region, w->reg.offset,
                                         v, w->reg.size, &err);
            if (rc < 0) {
                vuc_verdict(ctx, VUC_ERROR,
                            "the profile's precondition %zu: the write to "
                            "region %u offset 0x%llx failed: %s",
                            i, w->reg.region, (unsigned long long)w->reg.offset,
                            rc == -EREMOTEIO
                                ? vuc_errno_name(err, eb, sizeof(eb))
                                : vuc_client_last_error(ctx->cl));
                return -ECANCELED;
            }
        }
        if (pc->drain_stream) {
            struct vuc_stream s;
            char err[256];
            int rc = vuc_case_read_stream(ctx, &s, err, sizeof(err));

            vuc_stream_free(&s);
            if (rc < 0) {
                vuc_verdict(ctx, VUC_ERROR,
                            "the profile's precondition %zu: draining the "
                            "stream: %s",
                            i, err);
                return -ECANCELED;
            }
        }
    }
    return 0;
}

int vuc_case_set_state(struct vuc_ctx *ctx, uint32_t to, struct vuc_reply *r)
{
    uint32_t from = 0, err = 0;

    memset(r, 0, sizeof(*r));
    /* only a device with preconditions costs the GET */
    if (ctx->profile != NULL && ctx->profile->n_pre > 0 &&
        vuc_client_get_state(ctx->cl, &from, &err) == 0 &&
        preconditions(ctx, from, to) < 0)
        return -ECANCELED;
    return vuc_client_set_state(ctx->cl, to, r);
}

static bool set_ok(struct vuc_ctx *ctx, uint32_t state, const char *why,
                   bool pre)
{
    struct vuc_reply r;
    char eb[16];
    int rc = pre ? vuc_case_set_state(ctx, state, &r)
                 : vuc_client_set_state(ctx->cl, state, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, why);
        return false;
    }
    if (r.is_error) {
        if (ctx->setup_owner != NULL)
            vuc_blocked(ctx, ctx->setup_owner,
                        "%s: SET %s was rejected with errno %s", why,
                        vuc_state_name(state),
                        vuc_errno_name(r.error, eb, sizeof(eb)));
        else
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "%s: SET %s was rejected with errno %s", why,
                        vuc_state_name(state),
                        vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    return true;
}

bool vuc_case_set_ok(struct vuc_ctx *ctx, uint32_t state, const char *why)
{
    return set_ok(ctx, state, why, true);
}

bool vuc_case_set_ok_as_is(struct vuc_ctx *ctx, uint32_t state, const char *why)
{
    return set_ok(ctx, state, why, false);
}

/* SET `to` from `from` as a setup step, owned by the matrix cell that
 * judges that arc, and check with GET that it took. */
static bool arc(struct vuc_ctx *ctx, uint32_t from, uint32_t to)
{
    char owner[64], why[96];
    const char *prev;
    uint32_t st;
    bool ok;

    snprintf(owner, sizeof(owner), "fsm.%s.%s", vuc_state_name(from),
             vuc_state_name(to));
    snprintf(why, sizeof(why), "setup: SET %s from %s", vuc_state_name(to),
             vuc_state_name(from));
    prev = vuc_setup_begin(ctx, owner);
    ok = vuc_case_set_ok(ctx, to, why) && vuc_case_get(ctx, &st);
    if (ok && st != to) {
        vuc_blocked(ctx, owner, "after SET %s, GET reads %s",
                    vuc_state_name(to), vuc_state_name(st));
        ok = false;
    }
    /* on failure the owner stays set: a death the runner finds after the
     * case is this step's too */
    if (ok)
        vuc_setup_end(ctx, prev);
    return ok;
}

/* Stop dirty logging a device may keep across reconnects and resets:
 * a case must not depend on what an earlier one left. An error reply is
 * fine (most devices answer that logging is not on, or that they have no
 * logging); no usable reply at all is a failure of the step, owned by
 * the case that judges STOP. */
static bool stop_logging(struct vuc_ctx *ctx)
{
    const char *prev = vuc_setup_begin(ctx, "dirty.stop.valid");
    struct vuc_reply r;
    int rc = vuc_client_feature(ctx->cl,
                                VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_STOP,
                                VUC_FEATURE_HDR_SIZE, NULL, 0, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "setup: DMA_LOGGING_STOP");
        return false;
    }
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    return true;
}

pid_t vuc_case_peer_pid(struct vuc_ctx *ctx)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);

    if (ctx->cl == NULL || getsockopt(vuc_conn_fd(vuc_client_conn(ctx->cl)),
                                      SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return 0;
    return cr.pid;
}

bool vuc_case_fresh(struct vuc_ctx *ctx)
{
    struct vuc_reply r;
    uint32_t st0, st;
    char owner[64];
    const char *prev;
    int rc;

    vuc_client_trace_note(ctx->cl, "# fresh device: DEVICE_RESET");
    if (!vuc_case_get(ctx, &st0))
        return false;
    snprintf(owner, sizeof(owner), "fsm.reset.from.%s", vuc_state_name(st0));
    prev = vuc_setup_begin(ctx, owner);
    rc = vuc_client_reset(ctx->cl, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_RESET");
        return false;
    }
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st) || !stop_logging(ctx))
        return false;
    if (st == VUC_STATE_RUNNING) {
        vuc_setup_end(ctx, prev);
        return true;
    }
    /* Reset did not bring RUNNING back (the reset cases judge that);
     * other cases still want a fresh device: walk back, and if even that
     * is refused (RESUMING without a valid stream cannot be left), start
     * the server again when vucert runs it. */
    if (st != VUC_STATE_ERROR) {
        vuc_client_trace_note(ctx->cl,
                              "# reset left %s; walking back to RUNNING",
                              vuc_state_name(st));
        rc = vuc_case_set_state(ctx, VUC_STATE_RUNNING, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "bringing the device back to RUNNING");
            return false;
        }
        vuc_reply_release(&r);
        if (!vuc_case_get(ctx, &st))
            return false;
        if (st == VUC_STATE_RUNNING) {
            vuc_setup_end(ctx, prev);
            return true;
        }
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
        vuc_setup_end(ctx, prev);
        return vuc_ctx_connect(ctx) != NULL && vuc_case_get(ctx, &st) &&
               (st == VUC_STATE_RUNNING ||
                (vuc_blocked(ctx, owner,
                             "a freshly started server reads %s, not RUNNING",
                             vuc_state_name(st)),
                 false));
    }
    vuc_blocked(ctx, owner,
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
    rc = vuc_case_set_state(ctx, p->err_trigger_to, &r);
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

uint32_t vuc_case_chunk(struct vuc_ctx *ctx)
{
    uint64_t m = vuc_client_negotiated(ctx->cl)->limits.max_data_xfer_size;

    m /= 2;
    if (m > (1u << 20))
        return 1u << 20;
    return m == 0 ? 1 : (uint32_t)m;
}

int vuc_case_read_stream(struct vuc_ctx *ctx, struct vuc_stream *s, char *err,
                         size_t errcap)
{
    uint32_t chunk = vuc_case_chunk(ctx);
    uint64_t limit = ctx->opts->stream_limit;
    size_t cap = 0;

    s->data = NULL;
    s->len = 0;
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

int vuc_case_image(struct vuc_ctx *ctx, struct vuc_image *img,
                   const char *owner)
{
    const struct vuc_profile *p = ctx->profile;
    uint32_t chunk = vuc_case_chunk(ctx);

    memset(img, 0, sizeof(*img));
    for (uint32_t idx = 0; idx < VUC_PCI_NUM_REGIONS; idx++) {
        struct vuc_region_info ri;
        uint32_t err = 0;
        char eb[16];
        uint8_t *d;
        size_t len;
        int rc = vuc_client_region_info(ctx->cl, idx, &ri, &err);

        if (rc == -EREMOTEIO)
            continue; /* no such region */
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "DEVICE_GET_REGION_INFO");
            return rc;
        }
        if (!(ri.flags & VUC_REGION_FLAG_READ) || ri.size == 0)
            continue;
        len = ri.size < VUC_IMAGE_REGION_MAX ? (size_t)ri.size
                                             : VUC_IMAGE_REGION_MAX;
        d = realloc(img->data, img->len + len);
        if (d == NULL) {
            vuc_verdict(ctx, VUC_ERROR, "out of memory");
            return -ENOMEM;
        }
        img->data = d;
        for (size_t off = 0; off < len;) {
            uint32_t n = len - off < chunk ? (uint32_t)(len - off) : chunk;

            rc = vuc_client_region_read(ctx->cl, idx, off, d + img->len + off,
                                        n, &err);
            if (rc == -EREMOTEIO) {
                vuc_blocked(ctx, owner,
                            "REGION_READ of %u bytes at offset 0x%zx of "
                            "readable region %u failed with errno %s",
                            n, off, idx, vuc_errno_name(err, eb, sizeof(eb)));
                return rc;
            }
            if (rc < 0) {
                vuc_case_report_rc(ctx, rc, "REGION_READ");
                return rc;
            }
            off += n;
        }
        img->part[img->nparts].region = idx;
        img->part[img->nparts].at = img->len;
        img->part[img->nparts].len = len;
        img->nparts++;
        img->len += len;
    }
    /* the profile's volatile registers do not count */
    for (size_t i = 0; p != NULL && i < p->n_image_exclude; i++) {
        const struct vuc_reg_ref *x = &p->image_exclude[i];

        for (size_t k = 0; k < img->nparts; k++) {
            if (img->part[k].region != x->region ||
                x->offset >= img->part[k].len)
                continue;
            memset(img->data + img->part[k].at + x->offset, 0,
                   x->size < img->part[k].len - x->offset
                       ? x->size
                       : img->part[k].len - x->offset);
        }
    }
    return 0;
}

bool vuc_image_diff(const struct vuc_image *a, const struct vuc_image *b,
                    char *where, size_t cap)
{
    if (a->nparts != b->nparts || a->len != b->len) {
        snprintf(where, cap,
                 "the readable regions differ (%zu regions, %zu bytes vs %zu, "
                 "%zu)",
                 a->nparts, a->len, b->nparts, b->len);
        return true;
    }
    for (size_t k = 0; k < a->nparts; k++) {
        const uint8_t *x = a->data + a->part[k].at,
                      *y = b->data + b->part[k].at;

        if (a->part[k].region != b->part[k].region ||
            a->part[k].len != b->part[k].len) {
            snprintf(where, cap, "the readable regions differ");
            return true;
        }
        for (size_t i = 0; i < a->part[k].len; i++)
            if (x[i] != y[i]) {
                snprintf(where, cap,
                         "region %u offset 0x%zx reads 0x%02x, "
                         "not 0x%02x",
                         a->part[k].region, i, y[i], x[i]);
                return true;
            }
    }
    return false;
}

void vuc_image_free(struct vuc_image *img)
{
    free(img->data);
    memset(img, 0, sizeof(*img));
}

int vuc_case_write_stream(struct vuc_ctx *ctx, const struct vuc_stream *s,
                          char *err, size_t errcap)
{
    uint32_t chunk = vuc_case_chunk(ctx);
    size_t off = 0;

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

    if (n < 0) {
        vuc_verdict(ctx, VUC_ERROR, "no path from %s to %s",
                    vuc_state_name(cur), vuc_state_name(to));
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!arc(ctx, i ? path[i - 1] : cur, path[i]))
            return false;
    return true;
}

bool vuc_case_walk(struct vuc_ctx *ctx, uint32_t from, uint32_t to)
{
    uint64_t flags = vuc_case_flags(ctx);

    return flags != 0 && walk(ctx, flags, from, to);
}

bool vuc_case_reach(struct vuc_ctx *ctx, uint32_t state)
{
    uint64_t flags = vuc_case_flags(ctx);
    struct vuc_stream s = {0};
    const char *prev;
    char err[256];
    bool ok;

    if (flags == 0)
        return false;
    if (state == VUC_STATE_ERROR)
        return vuc_case_inject_error(ctx);
    vuc_client_trace_note(ctx->cl, "# setup: reach %s", vuc_state_name(state));
    if (state != VUC_STATE_RESUMING)
        return walk(ctx, flags, VUC_STATE_RUNNING, state);

    /* A real stream, so that RESUMING -> STOP is a valid request. */
    if (!walk(ctx, flags, VUC_STATE_RUNNING, VUC_STATE_STOP_COPY))
        return false;
    prev = vuc_setup_begin(ctx, "stream.read.full-to-end");
    ok = vuc_case_read_stream(ctx, &s, err, sizeof(err)) == 0;
    if (!ok && !ctx->stopped)
        vuc_blocked(ctx, "stream.read.full-to-end",
                    "could not save a stream to resume from: %s", err);
    if (ok)
        vuc_setup_end(ctx, prev);
    if (!ok || !walk(ctx, flags, VUC_STATE_STOP_COPY, VUC_STATE_RESUMING)) {
        vuc_stream_free(&s);
        return false;
    }
    prev = vuc_setup_begin(ctx, "stream.resume.odd-segments");
    ok = vuc_case_write_stream(ctx, &s, err, sizeof(err)) == 0;
    if (!ok && !ctx->stopped)
        vuc_blocked(ctx, "stream.resume.odd-segments",
                    "writing back the saved stream (%zu bytes): %s", s.len,
                    err);
    if (ok)
        vuc_setup_end(ctx, prev);
    vuc_stream_free(&s);
    return ok;
}
