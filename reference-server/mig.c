// SPDX-License-Identifier: BSD-3-Clause
/*
 * Migration: DEVICE_FEATURE (features 1 and 2, kernel vfio_check_feature
 * semantics), the v2 state machine walked one arc at a time with fsm/,
 * the data sessions behind MIG_DATA_READ / MIG_DATA_WRITE, fault
 * injection, and the state-machine quirks.
 */
#include <errno.h>
#include <string.h>

#include "vucert/codec.h"
#include "vucert/fsm.h"
#include "server_priv.h"

/* Room for a kernel path (<= 4 arcs) plus quirk detours. */
#define PATH_MAX_ARCS 16

bool mig_running(uint32_t state)
{
    /* P2P states run, only without initiating P2P DMA (uAPI). */
    return state == VUC_STATE_RUNNING || state == VUC_STATE_RUNNING_P2P ||
           state == VUC_STATE_PRE_COPY || state == VUC_STATE_PRE_COPY_P2P;
}

void mig_init(struct mig *g)
{
    memset(g, 0, sizeof(*g));
    g->state = VUC_STATE_RUNNING;
    g->stale_state = VUC_STATE_RUNNING;
}

static void save_end(struct vuc_srv *s)
{
    srv_release(s, s->mig.save.buf);
    memset(&s->mig.save, 0, sizeof(s->mig.save));
}

static void resume_end(struct vuc_srv *s)
{
    srv_release(s, s->mig.resume.buf);
    memset(&s->mig.resume, 0, sizeof(s->mig.resume));
}

void mig_free(struct vuc_srv *s)
{
    save_end(s);
    resume_end(s);
}

void mig_reset(struct vuc_srv *s)
{
    if (srv_quirk(s, VUC_SRV_QUIRK_RESET_KEEPS_STATE))
        return; /* quirk: state and its session stay as they were */
    save_end(s);
    resume_end(s);
    s->mig.state = VUC_STATE_RUNNING;
}

/* ---- the state machine ---- */

/*
 * Quirk saving-state-inside-path: RUNNING -> STOP_COPY goes through
 * PRE_COPY when it exists, and every interior STOP takes a detour
 * STOP -> STOP_COPY -> STOP (unless the next hop is STOP_COPY anyway).
 */
static int detour(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *path,
                  int n)
{
    uint32_t out[PATH_MAX_ARCS];
    int k = 0;

    if (cur == VUC_STATE_RUNNING && target == VUC_STATE_STOP_COPY &&
        (flags & VUC_MIGRATION_PRE_COPY)) {
        path[0] = VUC_STATE_PRE_COPY;
        path[1] = VUC_STATE_STOP_COPY;
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (k + 3 > PATH_MAX_ARCS)
            return -EINVAL; /* cannot happen: paths are <= 4 arcs */
        out[k++] = path[i];
        if (path[i] == VUC_STATE_STOP && i + 1 < n &&
            path[i + 1] != VUC_STATE_STOP_COPY) {
            out[k++] = VUC_STATE_STOP_COPY;
            out[k++] = VUC_STATE_STOP;
        }
    }
    memcpy(path, out, (size_t)k * sizeof(*out));
    return k;
}

/*
 * The states a SET cur -> target walks through (path[n-1] == target), or
 * -EINVAL when it must be rejected. The fsm module decides; the quirks
 * bend exactly their one rule.
 */
static int plan(const struct vuc_srv *s, uint32_t cur, uint32_t target,
                uint32_t *path)
{
    uint64_t flags = s->opts.mig_flags;
    int n;

    switch (vuc_fsm_check(flags, cur, target)) {
    case VUC_FSM_OK:
        n = vuc_fsm_path(flags, cur, target, path, PATH_MAX_ARCS);
        if (n > 1 && srv_quirk(s, VUC_SRV_QUIRK_SAVING_INSIDE_PATH))
            n = detour(flags, cur, target, path, n);
        return n;
    case VUC_FSM_REJ_STATE_RANGE:
        if (srv_quirk(s, VUC_SRV_QUIRK_STATE8_ACCEPTED))
            return 0;
        break;
    case VUC_FSM_REJ_BLOCKED:
        if (srv_quirk(s, VUC_SRV_QUIRK_STOPCOPY_TO_PRECOPY) &&
            vuc_fsm_state_supported(flags, target)) {
            path[0] = target;
            return 1;
        }
        break;
    case VUC_FSM_REJ_UNSUPPORTED:
    case VUC_FSM_REJ_CUR_UNSUPPORTED:
        /* Plan as if every optional state were advertised. */
        if (srv_quirk(s, VUC_SRV_QUIRK_UNADVERTISED_STATE))
            return vuc_fsm_path(VUC_MIGRATION_KNOWN, cur, target, path,
                                PATH_MAX_ARCS);
        break;
    default:
        break;
    }
    return -EINVAL;
}

/* Take the STOP_COPY snapshot: the stream of the (now stopped) device. */
static int snapshot(struct vuc_srv *s, uint8_t **out)
{
    uint8_t *buf = srv_alloc(s, STREAM_SIZE);

    if (!buf)
        return ENOMEM;
    dev_state_save(&s->dev, buf + STREAM_HDR_SIZE);
    stream_seal(buf);
    *out = buf;
    return 0;
}

/* RESUMING -> STOP: the data must be exactly one valid stream. */
static int resume_load(struct vuc_srv *s)
{
    const uint8_t *state;

    if (stream_decode(s->mig.resume.buf, s->mig.resume.len, &state))
        return EINVAL;
    dev_state_load(&s->dev, state);
    return 0;
}

/*
 * Perform one arc from -> to, applying its session effect. On failure
 * nothing has changed and the device stays in `from`.
 */
static int arc(struct vuc_srv *s, uint32_t from, uint32_t to)
{
    enum vuc_fsm_effect eff = vuc_fsm_arc_effect(from, to);
    uint8_t *snap = NULL;
    int err;

    /* Fallible work first, so a failure leaves everything as it was. */
    if (eff == VUC_FSM_EFFECT_END_RESUME) {
        err = resume_load(s);
        if (err)
            return err;
    }
    if (to == VUC_STATE_STOP_COPY &&
        (eff == VUC_FSM_EFFECT_OPEN_SAVE || !s->mig.save.buf)) {
        err = snapshot(s, &snap);
        if (err)
            return err;
    }

    switch (eff) {
    case VUC_FSM_EFFECT_OPEN_SAVE:
    case VUC_FSM_EFFECT_END_SAVE:
        save_end(s);
        break;
    case VUC_FSM_EFFECT_OPEN_RESUME:
    case VUC_FSM_EFFECT_END_RESUME:
        resume_end(s); /* STOP -> RESUMING discards earlier data */
        break;
    default:
        break;
    }
    /*
     * Keep the sessions consistent with the new state whatever the arc
     * (quirks walk arcs the table does not have): a save session exists
     * exactly in the saving group, resume data only in RESUMING.
     */
    if (vuc_fsm_is_saving(to)) {
        s->mig.save.open = true;
        if (snap) {
            s->mig.save.buf = snap;
            s->mig.save.len = STREAM_SIZE;
            s->mig.save.pos = 0;
        }
    } else {
        save_end(s);
    }
    if (to != VUC_STATE_RESUMING)
        resume_end(s);
    s->mig.state = to;
    return 0;
}

/* SET device_state: returns 0 or a positive errno; records the trace. */
static int mig_set(struct vuc_srv *s, uint32_t target)
{
    uint32_t path[PATH_MAX_ARCS], entered[PATH_MAX_ARCS + 1];
    uint32_t from = s->mig.state;
    size_t ne = 0;
    int n, err = 0;

    n = plan(s, from, target, path);
    if (n < 0) {
        dev_set_trace(&s->dev, NULL, 0);
        return EINVAL;
    }
    for (int i = 0; i < n; i++) {
        if (dev_fault_fire(&s->dev)) {
            /* Injected failure: the arc cannot run and no valid state can
             * be restored (spec: any transition may go to ERROR). */
            save_end(s);
            resume_end(s);
            s->mig.state = VUC_STATE_ERROR;
            entered[ne++] = VUC_STATE_ERROR;
            err = EIO;
            break;
        }
        err = arc(s, s->mig.state, path[i]);
        if (err)
            break; /* the state is the last one reached on the path */
        entered[ne++] = path[i];
    }
    dev_set_trace(&s->dev, entered, ne);
    if (!err)
        s->mig.stale_state = from;
    return err;
}

/* ---- DEVICE_FEATURE (spec: VFIO_USER_DEVICE_FEATURE) ---- */

#define FEAT_MIN_ARGSZ (VUC_FEATURE_HDR_SIZE + 8u) /* prefix + u64 / struct */

static int feature_get_reply(struct srv_reply *r, uint32_t flags,
                             const uint8_t data[8])
{
    struct vuc_feature f = {
        .argsz = VUC_FEATURE_HDR_SIZE + 8, /* design.md: counts the prefix */
        .flags = flags,
        .data = data,
        .data_len = 8,
    };
    uint8_t *p = reply_fixed(r, VUC_FEATURE_HDR_SIZE + 8);

    if (!p || vuc_feature_encode(&f, p, VUC_FEATURE_HDR_SIZE + 8) !=
                  (int)(VUC_FEATURE_HDR_SIZE + 8))
        return EIO;
    return 0;
}

int srv_h_DEVICE_FEATURE(struct vuc_srv *s, struct vuc_conn *c,
                         struct vuc_msg *m, struct srv_reply *r)
{
    struct vuc_feature f;
    struct vuc_mig_state ms;
    uint32_t idx, ops;
    uint8_t data[8];
    bool get, set, probe;
    int err;

    (void)c;
    if (vuc_feature_decode(m->payload, m->payload_len, &f) < 0)
        return EINVAL;
    /* The order follows the kernel: vfio_ioctl_device_feature() then
     * vfio_check_feature() (spec/notes.md 2.1). */
    if (f.argsz < VUC_FEATURE_HDR_SIZE)
        return EINVAL;
    if (f.flags & ~VUC_FEATURE_FLAGS_KNOWN)
        return EINVAL;
    get = (f.flags & VUC_FEATURE_GET) != 0;
    set = (f.flags & VUC_FEATURE_SET) != 0;
    probe = (f.flags & VUC_FEATURE_PROBE) != 0;
    if (get && set && !probe)
        return EINVAL;

    idx = vuc_feature_index(f.flags);
    switch (idx) {
    case VUC_FEATURE_MIGRATION:
        ops = VUC_FEATURE_GET;
        break;
    case VUC_FEATURE_MIG_DEVICE_STATE:
        ops = VUC_FEATURE_GET | VUC_FEATURE_SET;
        break;
    default:
        /* DMA logging (6, 7, 8) comes with the DMA work. */
        return ENOTTY;
    }
    if ((get && !(ops & VUC_FEATURE_GET)) || (set && !(ops & VUC_FEATURE_SET)))
        return EINVAL;
    if (probe) {
        /* spec: the reply payload equals the request payload */
        reply_add(r, m->payload, m->payload_len);
        return 0;
    }
    if (!get && !set)
        return EINVAL;
    if (f.argsz < FEAT_MIN_ARGSZ)
        return EINVAL;

    if (idx == VUC_FEATURE_MIGRATION) {
        if (vuc_feat_migration_encode(s->opts.mig_flags, data, 8) != 8)
            return EIO;
        return feature_get_reply(r, f.flags, data);
    }
    if (get) {
        ms.device_state = srv_quirk(s, VUC_SRV_QUIRK_STALE_GET)
                              ? s->mig.stale_state
                              : s->mig.state;
        ms.data_fd = 0xffffffffu; /* unused in vfio-user; -1 as the kernel */
        if (vuc_mig_state_encode(&ms, data, 8) != 8)
            return EIO;
        return feature_get_reply(r, f.flags, data);
    }
    if (f.data_len < VUC_MIG_STATE_DATA_SIZE ||
        vuc_mig_state_decode(f.data, f.data_len, &ms) < 0)
        return EINVAL;
    err = mig_set(s, ms.device_state);
    if (err)
        return err;
    reply_add(r, m->payload, m->payload_len);
    return 0;
}

/* ---- data transfer (spec: VFIO_USER_MIG_DATA_READ / WRITE) ---- */

int srv_h_MIG_DATA_READ(struct vuc_srv *s, struct vuc_conn *c,
                        struct vuc_msg *m, struct srv_reply *r)
{
    struct save_session *sv = &s->mig.save;
    struct vuc_mig_data req, rep = {0};
    size_t n, avail;
    uint8_t *p;
    int rc;

    (void)c;
    rc = vuc_mig_data_decode(m->payload, m->payload_len, false, &req);
    if (rc < 0 || (size_t)rc != m->payload_len ||
        m->payload_len != VUC_MIG_DATA_HDR_SIZE)
        return EINVAL;
    if (!vuc_fsm_is_saving(s->mig.state))
        return EINVAL;
    if (req.size > s->xfer || req.argsz < VUC_MIG_DATA_HDR_SIZE)
        return EINVAL;

    /*
     * argsz bounds the reply payload. In PRE_COPY nothing is ready until
     * STOP_COPY takes the snapshot, so reads return 0 bytes ("end of what
     * is ready now"); in STOP_COPY a short read is the end of the stream
     * and every later read returns 0 bytes.
     */
    n = req.size;
    if (n > req.argsz - VUC_MIG_DATA_HDR_SIZE)
        n = req.argsz - VUC_MIG_DATA_HDR_SIZE;
    avail = sv->buf ? sv->len - sv->pos : 0;
    if (n > avail)
        n = avail;

    rep.argsz = (uint32_t)(VUC_MIG_DATA_HDR_SIZE + n);
    rep.size = (uint32_t)n;
    p = reply_fixed(r, VUC_MIG_DATA_HDR_SIZE);
    if (!p || vuc_mig_data_encode(&rep, p, VUC_MIG_DATA_HDR_SIZE) !=
                  (int)VUC_MIG_DATA_HDR_SIZE)
        return EIO;
    if (n) {
        reply_add(r, sv->buf + sv->pos, n);
        sv->pos += n;
    }
    return 0;
}

int srv_h_MIG_DATA_WRITE(struct vuc_srv *s, struct vuc_conn *c,
                         struct vuc_msg *m, struct srv_reply *r)
{
    struct resume_session *rs = &s->mig.resume;
    struct vuc_mig_data w;
    int rc;

    (void)c, (void)r;
    /* with_data: exactly `size` bytes must follow */
    rc = vuc_mig_data_decode(m->payload, m->payload_len, true, &w);
    if (rc < 0 || (size_t)rc != m->payload_len || w.data_len != w.size)
        return EINVAL;
    if (s->mig.state != VUC_STATE_RESUMING)
        return EINVAL;
    if (w.size > s->xfer)
        return EINVAL;
    /* Bounded by the largest valid stream: more cannot be valid. */
    if (w.size > STREAM_SIZE - rs->len)
        return EINVAL;
    if (w.size == 0)
        return 0;
    if (!rs->buf) {
        rs->buf = srv_alloc(s, STREAM_SIZE);
        if (!rs->buf)
            return ENOMEM;
    }
    memcpy(rs->buf + rs->len, w.data, w.size);
    rs->len += w.size;
    return 0;
}
