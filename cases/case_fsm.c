// SPDX-License-Identifier: BSD-3-Clause
/*
 * fsm.*: the migration state machine over VFIO_USER_DEVICE_FEATURE
 * (spec: VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
 * Direct and Complex State Transitions). The 8x8 matrix fsm.FROM.TO and
 * the cases around it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_STATE   "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE"
#define SPEC_FEATURE "VFIO_USER_DEVICE_FEATURE"

static const char *flags_str(uint64_t flags, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s",
             (flags & VUC_MIGRATION_STOP_COPY) ? "stop-copy" : "",
             (flags & VUC_MIGRATION_P2P) ? ",p2p" : "",
             (flags & VUC_MIGRATION_PRE_COPY) ? ",pre-copy" : "",
             (flags & ~VUC_MIGRATION_KNOWN) ? ",unknown-bits" : "");
    return buf;
}

/* Read the profile's transition trace and judge the path walked. */
static void check_trace(struct vuc_ctx *ctx, uint64_t flags, uint32_t from,
                        uint32_t to)
{
    const struct vuc_profile *p = ctx->profile;
    uint8_t cnt[8] = {0}, st[64] = {0};
    uint32_t path[64];
    uint64_t n;
    char why[160], text[256];
    size_t off = 0;

    if (p == NULL || !p->has_trace || from == to)
        return;
    if (vuc_case_reg_read(ctx, &p->trace_count, cnt, p->trace_count.size) < 0 ||
        p->trace_states.size > sizeof(st) ||
        vuc_case_reg_read(ctx, &p->trace_states, st, p->trace_states.size) <
            0) {
        /* the accept and the state were judged; the path is extra */
        vuc_note(ctx,
                 "the profile's transition trace could not be read "
                 "(%s), so the path walked was not checked",
                 vuc_client_last_error(ctx->cl));
        return;
    }
    n = vuc_get_u64(cnt);
    if (p->trace_count.size < 8)
        n &= (1ull << (8 * p->trace_count.size)) - 1;
    if (n == 0 || n > p->trace_states.size) {
        vuc_verdict(ctx, VUC_ERROR,
                    "the profile's transition trace holds %llu states",
                    (unsigned long long)n);
        return;
    }
    off += (size_t)snprintf(text, sizeof(text), "%s", vuc_state_name(from));
    for (uint64_t i = 0; i < n; i++) {
        path[i] = st[i];
        off += (size_t)snprintf(text + off, sizeof(text) - off, " -> %s",
                                vuc_state_name(st[i]));
        if (off >= sizeof(text))
            off = sizeof(text) - 1;
    }
    if (path[n - 1] != to) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the transition trace ends in %s, not %s: %s",
                    vuc_state_name(path[n - 1]), vuc_state_name(to), text);
        return;
    }
    switch (
        vuc_expect_path_check(flags, from, path, (size_t)n, why, sizeof(why))) {
    case VUC_PATH_OK:
        vuc_check(ctx);
        break;
    case VUC_PATH_LONGER:
        /* "the path should be selected based on the following rules:
         * Select the shortest path" */
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "the server walked %s: %s; \"the path should be "
                    "selected based on the following rules: Select the "
                    "shortest path\" (spec: Complex State Transitions)",
                    text, why);
        break;
    default:
        /* "The path cannot have saving group states as interior arcs";
         * and every hop must be an arc of the FSM */
        vuc_verdict(ctx, VUC_FAIL,
                    "the server walked %s: %s (spec: Complex State "
                    "Transitions: \"The path cannot have saving group "
                    "states as interior arcs\"; combinations of the FSM's "
                    "arcs)",
                    text, why);
        break;
    }
}

/* fsm.FROM.TO: one cell of the matrix. */
static void matrix_cell(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint32_t from = c->a, to = c->b, st;
    uint64_t flags = vuc_case_flags(ctx);
    enum vuc_expect e;
    struct vuc_reply r;
    char fb[64];
    int rc;

    if (flags == 0)
        return;
    e = vuc_expect_set(flags, from, to);
    if (e == VUC_EXP_SKIP) {
        vuc_verdict(ctx, VUC_SKIP,
                    "%s is not advertised by the device's migration flags "
                    "(%s)",
                    vuc_state_name(from), flags_str(flags, fb, sizeof(fb)));
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL || !vuc_case_fresh(ctx) ||
        !vuc_case_reach(ctx, from))
        return;

    vuc_client_trace_note(ctx->cl, "# the request under test");
    rc = vuc_case_set_state(ctx, to, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "SET MIG_DEVICE_STATE");
        return;
    }
    if (e == VUC_EXP_ACCEPT) {
        if (r.is_error) {
            char eb[16];
            if (from == to)
                /* the spec does not say; the kernel accepts it */
                vuc_verdict(ctx, VUC_IMPL_DEFINED,
                            "a SET to the current state %s was rejected "
                            "(errno %s); the spec does not say what a SET "
                            "to the current state does (the kernel accepts "
                            "it)",
                            vuc_state_name(to),
                            vuc_errno_name(r.error, eb, sizeof(eb)));
            else
                vuc_verdict(ctx, VUC_FAIL,
                            "%s -> %s is a valid transition for flags %s, "
                            "but the server rejected it (errno %s)",
                            vuc_state_name(from), vuc_state_name(to),
                            flags_str(flags, fb, sizeof(fb)),
                            vuc_errno_name(r.error, eb, sizeof(eb)));
            vuc_reply_release(&r);
            return;
        }
        vuc_reply_release(&r);
        if (!vuc_case_get(ctx, &st))
            return;
        if (st != to) {
            vuc_verdict(ctx, VUC_FAIL,
                        "SET %s succeeded but GET reads %s (\"The state "
                        "transition must fully complete before the reply is "
                        "sent\")",
                        vuc_state_name(to), vuc_state_name(st));
            return;
        }
        vuc_check(ctx);
        check_trace(ctx, flags, from, to);
        return;
    }

    if (!r.is_error) {
        vuc_reply_release(&r);
        vuc_verdict(ctx, VUC_FAIL,
                    "%s -> %s must be rejected (%s), but the server "
                    "accepted it",
                    vuc_state_name(from), vuc_state_name(to),
                    vuc_expect_reason(e));
        if (vuc_case_get(ctx, &st))
            vuc_client_trace_note(ctx->cl, "# GET after it reads %s",
                                  vuc_state_name(st));
        return;
    }
    /* the error reply's form is fsm.error-reply.*'s to judge */
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st))
        return;
    if (st != from)
        vuc_verdict(ctx, VUC_FAIL,
                    "after the rejected request GET reads %s; a request "
                    "rejected before any arc ran must leave the state %s",
                    vuc_state_name(st), vuc_state_name(from));
    else
        vuc_check(ctx);
}

/* fsm.get.valid: GET reads the device's current state, one the device
 * supports (spec: "device_state is the current state of the device (for
 * GET)"; RUNNING and ERROR are always supported). */
static void get_valid(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t flags = vuc_case_flags(ctx);
    uint32_t st = 0, err = 0;
    char eb[16];
    int rc;

    (void)c;
    if (flags == 0 || vuc_ctx_connect(ctx) == NULL)
        return;
    rc = vuc_client_get_state(ctx->cl, &st, &err);
    if (rc == -EREMOTEIO) {
        vuc_verdict(ctx, VUC_FAIL, "MIG_DEVICE_STATE GET failed with errno %s",
                    vuc_errno_name(err, eb, sizeof(eb)));
        return;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DEVICE_STATE GET");
        return;
    }
    if (st >= VUC_STATE_NR || !vuc_expect_state_advertised(flags, st)) {
        vuc_verdict(ctx, VUC_FAIL,
                    "MIG_DEVICE_STATE GET reads %u (%s), not a state the "
                    "device supports",
                    st, vuc_state_name(st));
        return;
    }
    vuc_check(ctx);
}

/* fsm.flags.valid */
static void flags_valid(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t flags;
    uint32_t err = 0;
    char eb[16];
    int rc;

    (void)c;
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    rc = vuc_client_mig_flags(ctx->cl, &flags, &err);
    if (rc == -EREMOTEIO) {
        ctx->res->no_migration = true;
        vuc_verdict(ctx, VUC_SKIP,
                    "migration not supported: MIGRATION GET fails (errno %s)",
                    vuc_errno_name(err, eb, sizeof(eb)));
        return;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIGRATION GET");
        return;
    }
    if (!(flags & VUC_MIGRATION_STOP_COPY))
        vuc_verdict(ctx, VUC_FAIL,
                    "migration flags 0x%llx lack VFIO_MIGRATION_STOP_COPY "
                    "(\"at least VFIO_MIGRATION_STOP_COPY must be set\")",
                    (unsigned long long)flags);
    if (flags & ~VUC_MIGRATION_KNOWN)
        vuc_verdict(ctx, VUC_FAIL,
                    "migration flags 0x%llx have bits the spec does not "
                    "define (0x%llx)",
                    (unsigned long long)flags,
                    (unsigned long long)(flags & ~VUC_MIGRATION_KNOWN));
    if ((flags & ~VUC_MIGRATION_KNOWN) == 0 &&
        (flags & VUC_MIGRATION_STOP_COPY))
        vuc_check(ctx);
}

/* A PROBE that must succeed and echo the request payload. */
static void probe_ok(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint32_t flags = VUC_FEATURE_PROBE | c->a | c->b;
    uint8_t req[VUC_FEATURE_HDR_SIZE];
    struct vuc_feature f = {.argsz = VUC_FEATURE_HDR_SIZE, .flags = flags};
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL)
        return;
    vuc_feature_encode(&f, req, sizeof(req));
    rc = vuc_client_feature(ctx->cl, flags, VUC_FEATURE_HDR_SIZE, NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE");
        return;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_FAIL,
                    "PROBE of feature %u (flags 0x%x) failed with errno %s, "
                    "though the device supports migration",
                    c->a, flags, vuc_errno_name(r.error, eb, sizeof(eb)));
    } else if (r.payload_len != sizeof(req) ||
               memcmp(r.payload, req, sizeof(req)) != 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the PROBE reply payload (%zu bytes) differs from the "
                    "request payload (\"The reply payload must be the same "
                    "as the request payload for setting or probing\")",
                    r.payload_len);
    } else {
        vuc_check(ctx);
    }
    vuc_reply_release(&r);
}

/* fsm.feature.probe-missing-method: "the probe will only return success
 * if all of the indicated methods are supported": PROBE with a method
 * the feature lacks (SET of MIGRATION) fails. */
static void probe_missing(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint32_t flags = VUC_FEATURE_PROBE | VUC_FEATURE_SET | VUC_FEATURE_GET |
                     VUC_FEATURE_MIGRATION;
    struct vuc_reply r;
    int rc;

    (void)c;
    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL)
        return;
    rc = vuc_client_feature(ctx->cl, flags, VUC_FEATURE_HDR_SIZE, NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE|GET|SET of MIGRATION");
        return;
    }
    if (r.is_error)
        vuc_check(ctx);
    else
        vuc_verdict(ctx, VUC_FAIL,
                    "PROBE|GET|SET of MIGRATION succeeded, though MIGRATION "
                    "has no SET (\"the probe will only return success if all "
                    "of the indicated methods are supported\")");
    vuc_reply_release(&r);
}

/* fsm.feature.set-reply-echo: "The reply payload must be the same as the
 * request payload for setting": a SET of MIG_DEVICE_STATE STOP. */
static void set_reply_echo(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_mig_state ms = {.device_state = VUC_STATE_STOP,
                               .data_fd = UINT32_MAX};
    uint8_t d[VUC_MIG_STATE_DATA_SIZE], req[VUC_FEATURE_HDR_SIZE + sizeof(d)];
    uint32_t flags = VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE;
    struct vuc_feature f = {.argsz = sizeof(req), .flags = flags};
    struct vuc_reply r;
    int rc;

    (void)c;
    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL ||
        !vuc_case_fresh(ctx))
        return;
    vuc_mig_state_encode(&ms, d, sizeof(d));
    vuc_feature_encode(&f, req, sizeof(req));
    memcpy(req + VUC_FEATURE_HDR_SIZE, d, sizeof(d));
    /* the SET itself is fsm.RUNNING.STOP's: a refusal blocks this case */
    rc = vuc_client_feature(ctx->cl, flags, sizeof(req), d, sizeof(d), &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "SET MIG_DEVICE_STATE STOP");
        return;
    }
    if (r.is_error) {
        char eb[16];

        vuc_blocked(ctx, "fsm.RUNNING.STOP",
                    "SET MIG_DEVICE_STATE STOP from RUNNING failed with "
                    "errno %s",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
    } else if (r.payload_len != sizeof(req) ||
               memcmp(r.payload, req, sizeof(req)) != 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the reply to SET MIG_DEVICE_STATE STOP (%zu payload "
                    "bytes) differs from the request (%zu bytes) (\"The "
                    "reply payload must be the same as the request payload "
                    "for setting or probing\")",
                    r.payload_len, sizeof(req));
    } else {
        vuc_check(ctx);
    }
    vuc_reply_release(&r);
}

/* A request that must be rejected, leaving the state RUNNING. */
struct bad_request {
    uint32_t flags;
    uint32_t argsz;
    uint32_t state; /* data: device_state, unless no_data */
    const char *why;
    bool no_data;
};

static const struct bad_request bad_get_set = {
    VUC_FEATURE_GET | VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE, 16,
    VUC_STATE_STOP,
    "\"VFIO_DEVICE_FEATURE_GET and VFIO_DEVICE_FEATURE_SET are mutually "
    "exclusive, except for use with VFIO_DEVICE_FEATURE_PROBE\"",
    false};
static const struct bad_request bad_index = {
    VUC_FEATURE_GET | 0x1234, 16, 0,
    "feature 0x1234 is not a vfio-user feature (spec: Device Features)", true};
static const struct bad_request bad_argsz_set = {
    VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE, 8, VUC_STATE_STOP,
    "argsz 8 is below the 16 bytes of argsz, flags and the mig_state data "
    "(kernel rule: feature argsz counts the 8-byte prefix; "
    "docs/decisions.md, DEVICE_FEATURE)",
    false};
static const struct bad_request bad_state8 = {
    VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE, 16, 8,
    "device_state 8 is not a vfio_device_mig_state value", false};
static const struct bad_request bad_state_max = {
    VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE, 16, 0xffffffffu,
    "device_state 0xffffffff is not a vfio_device_mig_state value", false};

static void must_reject(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct bad_request *b = c->arg;
    struct vuc_mig_state ms = {.device_state = b->state, .data_fd = UINT32_MAX};
    bool r_rejected;
    uint8_t d[8];
    struct vuc_reply r;
    uint32_t st;
    int rc;

    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL ||
        !vuc_case_fresh(ctx))
        return;
    vuc_mig_state_encode(&ms, d, sizeof(d));
    rc = vuc_client_feature(ctx->cl, b->flags, b->argsz, b->no_data ? NULL : d,
                            b->no_data ? 0 : sizeof(d), &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_FEATURE");
        return;
    }
    r_rejected = r.is_error;
    if (!r.is_error)
        vuc_verdict(ctx, VUC_FAIL, "the server accepted it; %s", b->why);
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st))
        return;
    if (st != VUC_STATE_RUNNING)
        vuc_verdict(ctx, VUC_FAIL,
                    "the state changed from RUNNING to %s after a request "
                    "that must be rejected",
                    vuc_state_name(st));
    else if (r_rejected)
        vuc_check(ctx);
}

/* fsm.feature.argsz-small-get: GET MIG_DEVICE_STATE with argsz 8. */
static void argsz_small_get(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    struct vuc_feature f;
    int rc;

    (void)c;
    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL)
        return;
    rc = vuc_client_feature(ctx->cl,
                            VUC_FEATURE_GET | VUC_FEATURE_MIG_DEVICE_STATE,
                            VUC_FEATURE_HDR_SIZE, NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "GET MIG_DEVICE_STATE");
        return;
    }
    if (r.is_error) {
        vuc_reply_release(&r);
        vuc_check(ctx); /* rejected, like the kernel */
        return;
    }
    if (vuc_feature_decode(r.payload, r.payload_len, &f) >= 0 &&
        f.data_len == 0 && f.argsz >= VUC_FEATURE_HDR_SIZE + 8) {
        /* spec: Message sizes: reply argsz says what is needed */
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "the server answered with argsz %u and no data instead "
                    "of rejecting (spec: Message sizes allows this)",
                    f.argsz);
    } else {
        vuc_verdict(ctx, VUC_FAIL,
                    "argsz 8 leaves no room for the 8-byte mig_state data, "
                    "yet the reply carries %zu payload bytes (argsz is \"the "
                    "maximum size of the reply payload\")",
                    r.payload_len);
    }
    vuc_reply_release(&r);
}

/* fsm.reset.from.STATE */
static void reset_from(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t flags = vuc_case_flags(ctx);
    struct vuc_reply r;
    uint32_t st;
    char fb[64];
    int rc;

    if (flags == 0)
        return;
    if (!vuc_expect_state_advertised(flags, c->a)) {
        vuc_verdict(ctx, VUC_SKIP, "%s is not advertised (flags %s)",
                    vuc_state_name(c->a), flags_str(flags, fb, sizeof(fb)));
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL || !vuc_case_fresh(ctx) ||
        !vuc_case_reach(ctx, c->a))
        return;
    vuc_client_trace_note(ctx->cl, "# the request under test");
    rc = vuc_client_reset(ctx->cl, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_RESET");
        return;
    }
    if (r.is_error) {
        char eb[16];
        vuc_verdict(ctx, c->a == VUC_STATE_ERROR ? VUC_FAIL : VUC_NON_STRICT,
                    "DEVICE_RESET failed with errno %s",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return;
    }
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st))
        return;
    if (st == VUC_STATE_RUNNING) {
        vuc_check(ctx);
        return;
    }
    if (c->a == VUC_STATE_ERROR)
        vuc_verdict(ctx, VUC_FAIL,
                    "after DEVICE_RESET from ERROR, GET reads %s (\"To "
                    "recover from ERROR, VFIO_USER_DEVICE_RESET must be used "
                    "to return back to RUNNING\")",
                    vuc_state_name(st));
    else
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "after DEVICE_RESET from %s, GET reads %s; kernel rule: "
                    "the kernel and QEMU expect RUNNING",
                    vuc_state_name(c->a), vuc_state_name(st));
}

/* fsm.reject.keeps-state: several rejections in STOP_COPY change nothing. */
static void reject_keeps_state(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint32_t bad[] = {VUC_STATE_ERROR, VUC_STATE_PRE_COPY, 8,
                                   0x7fffffff};
    uint64_t flags = vuc_case_flags(ctx);
    uint32_t st;

    (void)c;
    if (flags == 0 || vuc_ctx_connect(ctx) == NULL || !vuc_case_fresh(ctx) ||
        !vuc_case_reach(ctx, VUC_STATE_STOP_COPY))
        return;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vuc_reply r;
        int rc = vuc_case_set_state(ctx, bad[i], &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "SET MIG_DEVICE_STATE");
            return;
        }
        if (!r.is_error)
            vuc_verdict(ctx, VUC_FAIL,
                        "STOP_COPY -> %s (%u) was accepted; it must be "
                        "rejected",
                        vuc_state_name(bad[i]), bad[i]);
        vuc_reply_release(&r);
        if (!vuc_case_get(ctx, &st))
            return;
        if (st != VUC_STATE_STOP_COPY) {
            vuc_verdict(ctx, VUC_FAIL,
                        "after the rejected request for %u, GET reads %s, "
                        "not STOP_COPY",
                        bad[i], vuc_state_name(st));
            return;
        }
    }
    vuc_check(ctx);
}

/* Linux errno values are below 4096 (MAX_ERRNO); the spec's Error field
 * is "a UNIX errno value". */
#define ERRNO_LIMIT 4096u

/* Error replies provoked by requests every server must reject. */
static void error_reply_form(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const struct bad_request *const reqs[] = {&bad_index, &bad_state8};
    bool payload_check = c->a == 1, valid_check = c->a == 2;
    unsigned judged = 0, zero = 0, invalid = 0;
    uint32_t first_invalid = 0;

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        const struct bad_request *b = reqs[i];
        struct vuc_mig_state ms = {.device_state = b->state,
                                   .data_fd = UINT32_MAX};
        uint8_t d[8];
        struct vuc_reply r;
        int rc;

        vuc_mig_state_encode(&ms, d, sizeof(d));
        rc = vuc_client_feature(ctx->cl, b->flags, b->argsz,
                                b->no_data ? NULL : d,
                                b->no_data ? 0 : sizeof(d), &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "DEVICE_FEATURE");
            return;
        }
        if (!r.is_error) {
            vuc_reply_release(&r);
            continue; /* judged by fsm.feature.* / fsm.set.* */
        }
        judged++;
        if (payload_check && r.payload_len != 0)
            vuc_verdict(ctx, VUC_FAIL,
                        "an error reply carries %zu payload bytes (\"If an "
                        "error occurs, the reply message must only include "
                        "the reply header\")",
                        r.payload_len);
        if (r.error == 0)
            zero++;
        if (r.error >= ERRNO_LIMIT && invalid++ == 0)
            first_invalid = r.error;
        vuc_reply_release(&r);
    }
    /* and a MIG_DATA_READ, which a device that is not saving rejects:
     * the rule holds for every command (spec: Header) */
    if (ctx->info->mig_flags_known &&
        (ctx->info->mig_flags & VUC_MIGRATION_STOP_COPY) &&
        vuc_case_fresh(ctx)) {
        uint8_t p[VUC_MIG_DATA_HDR_SIZE];
        struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE + 64,
                                  .size = 64};
        struct vuc_reply r;
        int rc;

        vuc_mig_data_encode(&md, p, sizeof(p));
        rc = vuc_client_call(ctx->cl, VUC_CMD_MIG_DATA_READ, p, sizeof(p), NULL,
                             0, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "MIG_DATA_READ in RUNNING");
            return;
        }
        if (r.is_error) {
            judged++;
            if (payload_check && r.payload_len != 0)
                vuc_verdict(ctx, VUC_FAIL,
                            "the error reply to MIG_DATA_READ carries %zu "
                            "payload bytes (\"If an error occurs, the reply "
                            "message must only include the reply header\")",
                            r.payload_len);
            if (r.error == 0)
                zero++;
            if (r.error >= ERRNO_LIMIT && invalid++ == 0)
                first_invalid = r.error;
        }
        vuc_reply_release(&r);
    } else if (ctx->stopped) {
        return;
    }
    if (judged == 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server answered none of the invalid requests with "
                    "an error reply (judged by fsm.feature.unknown-index and "
                    "fsm.set.state-8)");
        return;
    }
    if (valid_check) {
        if (invalid > 0)
            vuc_verdict(ctx, VUC_FAIL,
                        "%u of %u error replies carry an errno field of "
                        "%u (0x%x), which is no errno value (\"In this "
                        "case, the Error field will be valid\")",
                        invalid, judged, first_invalid, first_invalid);
        else
            vuc_check(ctx);
        return;
    }
    if (!payload_check && zero > 0)
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "%u of %u error replies have errno 0: allowed (\"It may "
                    "be zero even if the Error bit is set\"), but it tells "
                    "the client nothing",
                    zero, judged);
    else
        vuc_check(ctx);
}

/* fsm.feature.reply-no-fds: DEVICE_FEATURE replies carry no fds. The
 * spec names the replies that carry fds (REGION_INFO, REGION_IO_FDS) and
 * gives others none; it does not forbid them, so an fd seen is recorded
 * (the client closes it) as IMPL-DEFINED. */
static void reply_no_fds(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t flags;
    uint32_t st;

    (void)c;
    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL)
        return;
    if (vuc_client_mig_flags(ctx->cl, &flags, NULL) < 0 ||
        vuc_client_get_state(ctx->cl, &st, NULL) < 0) {
        vuc_blocked(ctx, "fsm.get.valid",
                    "MIGRATION or MIG_DEVICE_STATE GET "
                    "failed: %s",
                    vuc_client_last_error(ctx->cl));
        return;
    }
    if (vuc_client_stray_fds(ctx->cl) > 0)
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "DEVICE_FEATURE GET replies carried %u fds, which the "
                    "spec gives no meaning there; vucert closed them",
                    vuc_client_stray_fds(ctx->cl));
    else
        vuc_check(ctx);
}

/* The sentence a matrix cell checks, whatever the flag set: the arcs
 * "need to be supported"; STOP_COPY -> PRE_COPY "is explicitly not
 * allowed"; "ERROR cannot be specified as a device state"; from ERROR
 * "VFIO_USER_DEVICE_RESET must be used"; a SET to the current state is
 * not mentioned. */
static const char *cell_source(uint32_t from, uint32_t to)
{
    if (from == to && from != VUC_STATE_ERROR)
        return "silent";
    if (to == VUC_STATE_ERROR)
        return "cannot";
    if (from == VUC_STATE_ERROR)
        return "must";
    if (from == VUC_STATE_STOP_COPY &&
        (to == VUC_STATE_PRE_COPY || to == VUC_STATE_PRE_COPY_P2P))
        return "is explicitly not allowed";
    return "need to be supported";
}

size_t vuc_cases_fsm(struct vuc_case *out, size_t max)
{
    size_t n = 0;
    char id[64], title[128];

    /* "at least VFIO_MIGRATION_STOP_COPY must be set" */
    VUC_CASE("fsm.flags.valid",
             "migration flags have STOP_COPY and no unknown bit",
             "VFIO_DEVICE_FEATURE_MIGRATION", "must", flags_valid, 0, 0, NULL);
    /* "device_state is the current state of the device (for GET)" */
    VUC_CASE("fsm.get.valid", "GET MIG_DEVICE_STATE reads a supported state",
             SPEC_STATE, "is the current state", get_valid, 0, 0, NULL);
    /* "The reply payload must be the same as the request payload for
     * setting or probing" */
    VUC_CASE("fsm.probe.migration-get", "PROBE|GET of MIGRATION succeeds",
             SPEC_FEATURE, "must", probe_ok, VUC_FEATURE_MIGRATION,
             VUC_FEATURE_GET, NULL);
    VUC_CASE("fsm.probe.mig-state-get-set",
             "PROBE|GET|SET of MIG_DEVICE_STATE succeeds", SPEC_FEATURE, "must",
             probe_ok, VUC_FEATURE_MIG_DEVICE_STATE,
             VUC_FEATURE_GET | VUC_FEATURE_SET, NULL);
    /* "If VFIO_DEVICE_FEATURE_GET and/or VFIO_DEVICE_FEATURE_SET are also
     * set, the probe will only return success if all of the indicated
     * methods are supported." */
    VUC_CASE("fsm.feature.probe-missing-method",
             "PROBE with a method the feature lacks fails", SPEC_FEATURE,
             "will only return success", probe_missing, 0, 0, NULL);
    /* "The reply payload must be the same as the request payload for
     * setting or probing" */
    VUC_CASE("fsm.feature.set-reply-echo",
             "a SET reply's payload is the request's", SPEC_FEATURE, "must",
             set_reply_echo, 0, 0, NULL);
    /* "mutually exclusive, except for use with VFIO_DEVICE_FEATURE_PROBE" */
    VUC_CASE("fsm.feature.get-and-set", "GET|SET without PROBE is rejected",
             SPEC_FEATURE, "are mutually exclusive", must_reject, 0, 0,
             &bad_get_set);
    VUC_CASE("fsm.feature.unknown-index",
             "an unknown feature index is rejected", "Device Features", "must",
             must_reject, 0, 0, &bad_index);
    VUC_CASE("fsm.feature.argsz-small-get",
             "GET with argsz below the minimum is rejected", "Message sizes",
             "must", argsz_small_get, 0, 0, NULL);
    VUC_CASE("fsm.feature.argsz-small-set",
             "SET with argsz below the minimum is rejected", "Message sizes",
             "must", must_reject, 0, 0, &bad_argsz_set);
    /* "It is defined by the vfio_device_mig_state enum" */
    VUC_CASE("fsm.set.state-8", "device_state 8 is rejected", SPEC_STATE,
             "must", must_reject, 0, 0, &bad_state8);
    VUC_CASE("fsm.set.state-0xffffffff", "device_state 0xffffffff is rejected",
             SPEC_STATE, "must", must_reject, 0, 0, &bad_state_max);
    VUC_CASE("fsm.feature.reply-no-fds", "DEVICE_FEATURE replies carry no fds",
             "Header", "silent", reply_no_fds, 0, 0, NULL);
    VUC_CASE("fsm.reject.keeps-state",
             "rejected requests leave STOP_COPY unchanged", SPEC_STATE, "must",
             reject_keeps_state, 0, 0, NULL);

    for (uint32_t from = 0; from < VUC_STATE_NR; from++) {
        for (uint32_t to = 0; to < VUC_STATE_NR; to++) {
            snprintf(id, sizeof(id), "fsm.%s.%s", vuc_state_name(from),
                     vuc_state_name(to));
            snprintf(title, sizeof(title), "SET %s from %s", vuc_state_name(to),
                     vuc_state_name(from));
            VUC_CASE(id, title, "Direct/Complex State Transitions",
                     cell_source(from, to), matrix_cell, from, to, NULL);
        }
    }

    /* from ERROR: "VFIO_USER_DEVICE_RESET must be used to return back to
     * RUNNING"; from the others only the kernel and QEMU expect RUNNING */
    for (uint32_t s = 0; s < VUC_STATE_NR; s++) {
        snprintf(id, sizeof(id), "fsm.reset.from.%s", vuc_state_name(s));
        snprintf(title, sizeof(title), "DEVICE_RESET from %s gives RUNNING",
                 vuc_state_name(s));
        VUC_CASE(id, title, "VFIO_USER_DEVICE_RESET",
                 s == VUC_STATE_ERROR ? "must" : "kernel uAPI", reset_from, s,
                 0, NULL);
    }

    VUC_CASE("fsm.error-reply.no-payload", "error replies are header only",
             "Header", "must only include", error_reply_form, 1, 0, NULL);
    VUC_CASE("fsm.error-reply.errno-nonzero", "error replies carry an errno",
             "Header", "may be zero", error_reply_form, 0, 0, NULL);
    /* "In this case, the Error field will be valid." */
    VUC_CASE("fsm.error-reply.errno-valid",
             "error replies carry 0 or an errno value", "Header",
             "will be valid", error_reply_form, 2, 0, NULL);
    return n;
}
