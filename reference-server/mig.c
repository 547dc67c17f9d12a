// SPDX-License-Identifier: BSD-3-Clause
/*
 * Migration: DEVICE_FEATURE (features 1 and 2 here, 6, 7, 8 in dirty.c;
 * kernel vfio_check_feature semantics), the v2 state machine walked one
 * arc at a time with fsm/,
 * the data sessions behind MIG_DATA_READ / MIG_DATA_WRITE, fault
 * injection, and the state-machine and data quirks.
 *
 * A save session (the saving group) is a vuc_save writer over the live
 * state: entering PRE_COPY starts it with the device running (every
 * state change marks its blocks pending again); entering STOP_COPY
 * stops it, takes the registers and lets it finish with REGS and END.
 * Replies point into the state where they can (STOP_COPY). A resume
 * session (RESUMING) is a vuc_resume parser writing into a staging
 * state, which replaces the device's on a successful RESUMING -> STOP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- data sessions ---- */

/* Buffers of a session, allocated before an arc commits to anything. */
struct session_bufs {
    uint64_t *map; /* save: pending; resume: covered */
    uint32_t *crc; /* save: sent_crc; resume: block_crc */
    uint8_t *copy; /* save: copybuf; resume: the staging state */
    bool in_place; /* resume: copy is the device's own state */
};

/* Keep a state-sized buffer for the next resume (struct mig: spare). */
static void keep_spare(struct vuc_srv *s, uint8_t *p)
{
    if (s->mig.spare == NULL) {
        s->mig.spare = p;
        return;
    }
    srv_big_release(s, p, (size_t)s->state_size);
}

static void bufs_release(struct vuc_srv *s, struct session_bufs *b, bool resume)
{
    srv_release(s, b->map);
    srv_release(s, b->crc);
    if (b->in_place)
        ; /* the device's state: it stays */
    else if (resume && b->copy)
        keep_spare(s, b->copy);
    else if (!resume)
        srv_release(s, b->copy);
    memset(b, 0, sizeof(*b));
}

static int bufs_alloc(struct vuc_srv *s, struct session_bufs *b, bool resume)
{
    struct vuc_stream_dev d;

    dev_stream_dev(&s->dev, &d);
    memset(b, 0, sizeof(*b));
    b->map = srv_alloc(s, (size_t)vuc_stream_words(&d) * sizeof(uint64_t));
    b->crc = srv_alloc(s, (size_t)vuc_stream_blocks(&d) * sizeof(uint32_t));
    if (resume && !srv_bug(s, VUC_SRV_BUG(RESUME_DISCARDS))) {
        /* The stream is staged in the device's own state: RESUMING means
         * the device takes a new state, and the spec keeps nothing of the
         * old one (a failed RESUMING -> STOP fails, or goes to ERROR).
         * One state's memory, not two, however often it resumes. */
        b->copy = s->dev.state;
        b->in_place = true;
        srv_big_release(s, s->mig.spare, (size_t)s->state_size);
        s->mig.spare = NULL;
    } else if (resume && s->mig.spare) {
        b->copy = s->mig.spare; /* staged bytes never read before written */
        s->mig.spare = NULL;
    } else if (resume) {
        b->copy = srv_big_alloc(s, (size_t)s->state_size);
    } else
        b->copy =
            srv_alloc(s, d.chunk_size < d.state_size ? d.chunk_size
                                                     : (size_t)d.state_size);
    if (!b->map || !b->crc || !b->copy) {
        bufs_release(s, b, resume);
        return ENOMEM;
    }
    return 0;
}

static void save_end(struct vuc_srv *s)
{
    struct save_session *sv = &s->mig.save;
    struct session_bufs b = {sv->pending, sv->sent_crc, sv->copybuf, false};

    bufs_release(s, &b, false);
    memset(sv, 0, sizeof(*sv));
    s->dev.tracker = NULL;
    srv_release(s, s->mig.bounce);
    s->mig.bounce = NULL;
    s->mig.bounce_cap = 0;
}

static void resume_end(struct vuc_srv *s)
{
    struct resume_session *rs = &s->mig.resume;
    struct session_bufs b = {rs->covered, rs->block_crc, rs->stage,
                             rs->in_place};

    bufs_release(s, &b, true);
    memset(rs, 0, sizeof(*rs));
}

void mig_free(struct vuc_srv *s)
{
    save_end(s);
    resume_end(s);
    srv_big_release(s, s->mig.spare, (size_t)s->state_size);
    s->mig.spare = NULL;
}

static void save_open(struct vuc_srv *s, struct session_bufs *b, bool live)
{
    struct save_session *sv = &s->mig.save;
    struct vuc_save_cfg cfg = {
        .state = s->dev.state,
        .pending = b->map,
        .sent_crc = b->crc,
        .copybuf = b->copy,
        .live = live,
        .lose_resent = srv_quirk(s, VUC_SRV_QUIRK_PRECOPY_LOSES_DIRTY),
    };

    dev_stream_dev(&s->dev, &cfg.dev);
    memset(sv, 0, sizeof(*sv));
    sv->pending = b->map;
    sv->sent_crc = b->crc;
    sv->copybuf = b->copy;
    memset(b, 0, sizeof(*b));
    /* Cannot fail: the buffers are there and the geometry is ours. */
    (void)vuc_save_init(&sv->w, &cfg);
    sv->open = true;
    s->dev.tracker = &sv->w;
}

/* The device has stopped: the stream ends with its registers. */
static void save_stop(struct vuc_srv *s)
{
    struct save_session *sv = &s->mig.save;

    dev_regs_save(&s->dev, sv->regs);
    /* bug save-replays-first-registers: the registers of the first save
     * since the server started, whatever they are now */
    if (srv_bug(s, VUC_SRV_BUG(REPLAY_FIRST_REGS))) {
        if (!s->mig.first_regs_kept)
            memcpy(s->mig.first_regs, sv->regs, sizeof(sv->regs));
        s->mig.first_regs_kept = true;
        memcpy(sv->regs, s->mig.first_regs, sizeof(sv->regs));
    }
    vuc_save_live(&sv->w, false);
    vuc_save_end(&sv->w, sv->regs);
}

static void resume_open(struct vuc_srv *s, struct session_bufs *b)
{
    struct resume_session *rs = &s->mig.resume;
    struct vuc_resume_cfg cfg = {
        .stage = b->copy,
        .block_crc = b->crc,
        .covered = b->map,
        .regs = rs->regs,
    };

    dev_stream_dev(&s->dev, &cfg.dev);
    if (srv_quirk(s, VUC_SRV_QUIRK_RESUME_CORRUPT))
        cfg.flags |= VUC_RESUME_NO_VERIFY;
    if (srv_quirk(s, VUC_SRV_QUIRK_RESUME_TRUNCATED))
        cfg.flags |= VUC_RESUME_TRUNCATED;
    rs->stage = b->copy;
    rs->in_place = b->in_place;
    rs->block_crc = b->crc;
    rs->covered = b->map;
    rs->zero_ended = false;
    memset(b, 0, sizeof(*b));
    (void)vuc_resume_init(&rs->r, &cfg);
    rs->open = true;
}

/* RESUMING -> STOP, after vuc_resume_finish agreed: the staged state
 * becomes the device's (no copy) and the registers are loaded. */
static void resume_load(struct vuc_srv *s)
{
    struct resume_session *rs = &s->mig.resume;

    /* bug resume-discards-data: the device keeps the state it had */
    if (srv_bug(s, VUC_SRV_BUG(RESUME_DISCARDS)))
        return;
    if (!rs->in_place) {
        keep_spare(s, s->dev.state);
        s->dev.state = rs->stage;
    }
    rs->stage = NULL;
    /* Only resume-accepts-truncated gets here without REGS. */
    if (rs->r.seen_regs)
        dev_regs_load(&s->dev, rs->regs);
}

void mig_reset(struct vuc_srv *s)
{
    if (srv_quirk(s, VUC_SRV_QUIRK_RESET_KEEPS_STATE))
        return; /* quirk: state and its session stay as they were */
    save_end(s);
    resume_end(s);
    /* quirk reset-goes-to-stop: sessions end as they should, but the
     * device is left stopped instead of running */
    s->mig.state = srv_quirk(s, VUC_SRV_QUIRK_RESET_GOES_TO_STOP)
                       ? VUC_STATE_STOP
                       : VUC_STATE_RUNNING;
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

    /* quirk planted-crash: the bug vucert fuzz must find and replay */
    if (srv_quirk(s, VUC_SRV_QUIRK_PLANTED_CRASH) &&
        target == VUC_STATE_PRE_COPY_P2P && !(flags & VUC_MIGRATION_P2P))
        abort();
    /* bug arc=FROM:TO: this one request decided the other way; a SET
     * that must be refused goes straight to its target */
    if (srv_arc_flipped(s, cur, target)) {
        if (vuc_fsm_check(flags, cur, target) == VUC_FSM_OK)
            return -EINVAL;
        path[0] = target;
        return 1;
    }
    /* bug stop-copy-exit-needs-end: STOP_COPY is left only once its
     * stream has been read to the end */
    if (cur == VUC_STATE_STOP_COPY && target != cur &&
        srv_bug(s, VUC_SRV_BUG(STOP_COPY_NEEDS_END)) && s->mig.save.open &&
        !s->mig.save.eof)
        return -EINVAL;
    switch (vuc_fsm_check(flags, cur, target)) {
    case VUC_FSM_OK:
        /* a same-state SET succeeds and walks nothing; the quirk refuses
         * it (only where it would otherwise be accepted) */
        if (cur == target && srv_quirk(s, VUC_SRV_QUIRK_SAME_STATE_REJECTED))
            return -EINVAL;
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

/*
 * Perform one arc from -> to, applying its session effect. On failure
 * nothing has changed and the device stays in `from` (errno ENOMEM, or
 * EINVAL when RESUMING -> STOP finds the stream incomplete or corrupt).
 */
static int arc(struct vuc_srv *s, uint32_t from, uint32_t to)
{
    enum vuc_fsm_effect eff = vuc_fsm_arc_effect(from, to);
    struct session_bufs sb = {0}, rb = {0};
    /* Quirks walk arcs the table does not have: whatever the arc, a save
     * session exists exactly in the saving group, and a resume session
     * exactly in RESUMING. */
    /* bug precopy-stream-restarts: PRE_COPY -> STOP_COPY opens a new
     * stream instead of going on with the one PRE_COPY began */
    bool restart = to == VUC_STATE_STOP_COPY && from != to &&
                   vuc_fsm_is_saving(from) &&
                   srv_bug(s, VUC_SRV_BUG(PRECOPY_RESTARTS));
    bool new_save = vuc_fsm_is_saving(to) && (eff == VUC_FSM_EFFECT_OPEN_SAVE ||
                                              !s->mig.save.open || restart);
    bool new_resume =
        to == VUC_STATE_RESUMING &&
        (eff == VUC_FSM_EFFECT_OPEN_RESUME || !s->mig.resume.open);
    bool load = false;
    int err;

    /* Fallible work first, so a failure leaves everything as it was. */
    if (eff == VUC_FSM_EFFECT_END_RESUME) {
        if (!s->mig.resume.open || s->mig.resume.zero_ended ||
            vuc_resume_finish(&s->mig.resume.r) < 0)
            return EINVAL;
        load = true;
    }
    if (new_save && (err = bufs_alloc(s, &sb, false)) != 0)
        return err;
    if (new_resume && (err = bufs_alloc(s, &rb, true)) != 0) {
        bufs_release(s, &sb, false);
        return err;
    }

    if (load)
        resume_load(s);
    if (!vuc_fsm_is_saving(to) || new_save)
        save_end(s);
    if (to != VUC_STATE_RESUMING || new_resume)
        resume_end(s); /* STOP -> RESUMING starts a fresh parse */
    if (new_save) {
        save_open(s, &sb, mig_running(to));
        if (to == VUC_STATE_STOP_COPY)
            save_stop(s);
    } else if (vuc_fsm_is_saving(to) && to != from) {
        if (to == VUC_STATE_STOP_COPY)
            save_stop(s);
        else if (from == VUC_STATE_STOP_COPY)
            vuc_save_live(&s->mig.save.w, true); /* a quirk's arc */
    }
    if (new_resume)
        resume_open(s, &rb);
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

    /* --require-arm: RUNNING is entered only when armed, and every SET
     * takes the arm away */
    if (s->opts.require_arm) {
        bool armed = vuc_get_u32(s->dev.bar0 + BAR0_ARM) == 1;

        memset(s->dev.bar0 + BAR0_ARM, 0, 4);
        if (target == VUC_STATE_RUNNING && from != target && !armed) {
            dev_set_trace(&s->dev, NULL, 0);
            return EBUSY;
        }
    }
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
        if (err == EINVAL && s->opts.resume_fail_to_error) {
            /* --resume-fail-to-error: bad resume data is fatal. */
            save_end(s);
            resume_end(s);
            s->mig.state = VUC_STATE_ERROR;
            entered[ne++] = VUC_STATE_ERROR;
        }
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

/*
 * The features and their methods. min_argsz is the kernel's minsz for the
 * feature's fixed data (vfio_check_feature), plus the 8-byte prefix
 * (docs/decisions.md, DEVICE_FEATURE). get_data and set_data are the
 * fixed data a GET or SET request itself carries. DMA logging: dirty.c.
 */
static const struct {
    uint32_t ops;
    uint32_t min_argsz;
    uint32_t get_data, set_data;
} features[] = {
    [VUC_FEATURE_MIGRATION] = {VUC_FEATURE_GET, VUC_FEATURE_HDR_SIZE + 8, 0, 0},
    [VUC_FEATURE_MIG_DEVICE_STATE] = {VUC_FEATURE_GET | VUC_FEATURE_SET,
                                      VUC_FEATURE_HDR_SIZE + 8, 0,
                                      VUC_MIG_STATE_DATA_SIZE},
    [VUC_FEATURE_DMA_LOGGING_START] = {VUC_FEATURE_SET,
                                       VUC_FEATURE_HDR_SIZE +
                                           VUC_LOG_CONTROL_SIZE,
                                       0, VUC_LOG_CONTROL_SIZE},
    [VUC_FEATURE_DMA_LOGGING_STOP] = {VUC_FEATURE_SET, VUC_FEATURE_HDR_SIZE, 0,
                                      0},
    [VUC_FEATURE_DMA_LOGGING_REPORT] = {VUC_FEATURE_GET,
                                        VUC_FEATURE_HDR_SIZE +
                                            VUC_LOG_REPORT_SIZE,
                                        VUC_LOG_REPORT_SIZE, 0},
};

static int feature_get_reply(struct srv_reply *r, uint32_t flags,
                             const uint8_t data[8])
{
    struct vuc_feature f = {
        .argsz = VUC_FEATURE_HDR_SIZE + 8, /* counts the prefix */
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
     * vfio_check_feature() (docs/decisions.md, DEVICE_FEATURE). */
    if (f.argsz < VUC_FEATURE_HDR_SIZE)
        return EINVAL;
    /* bug feature-unknown-flags-accepted: the undefined bits ignored */
    if (f.flags & ~VUC_FEATURE_FLAGS_KNOWN) {
        if (!srv_bug(s, VUC_SRV_BUG(FEATURE_FLAGS)))
            return EINVAL;
        f.flags &= VUC_FEATURE_FLAGS_KNOWN;
    }
    get = (f.flags & VUC_FEATURE_GET) != 0;
    set = (f.flags & VUC_FEATURE_SET) != 0;
    probe = (f.flags & VUC_FEATURE_PROBE) != 0;
    if (get && set && !probe) {
        if (!srv_quirk(s, VUC_SRV_QUIRK_GET_SET_ACCEPTED))
            return EINVAL;
        get = false; /* quirk: taken for a SET */
    }

    idx = vuc_feature_index(f.flags);
    ops = idx < sizeof(features) / sizeof(features[0]) ? features[idx].ops : 0;
    /* quirk no-migration: a device without the migration features, so
     * they are unknown indexes like any other (DMA logging stays) */
    if ((idx == VUC_FEATURE_MIGRATION || idx == VUC_FEATURE_MIG_DEVICE_STATE) &&
        srv_quirk(s, VUC_SRV_QUIRK_NO_MIGRATION))
        ops = 0;
    if (!ops) {
        if (!srv_quirk(s, VUC_SRV_QUIRK_UNKNOWN_FEATURE))
            return ENOTTY;
        /* quirk: "done", echoing the request */
        reply_add(r, m->payload, m->payload_len);
        return 0;
    }
    /* bug probe-ignores-methods: a PROBE says yes to any method */
    if (((get && !(ops & VUC_FEATURE_GET)) ||
         (set && !(ops & VUC_FEATURE_SET))) &&
        !(probe && srv_bug(s, VUC_SRV_BUG(PROBE_ANY_METHOD))))
        return EINVAL;
    if (probe) {
        /* quirks: a PROBE of some logging methods fails, though the
         * methods work */
        if ((idx == VUC_FEATURE_DMA_LOGGING_START &&
             srv_quirk(s, VUC_SRV_QUIRK_PROBE_START_FAILS)) ||
            ((idx == VUC_FEATURE_DMA_LOGGING_STOP ||
              idx == VUC_FEATURE_DMA_LOGGING_REPORT) &&
             srv_quirk(s, VUC_SRV_QUIRK_PROBE_STOP_REPORT_FAIL)))
            return ENOTTY;
        /* spec: the reply payload equals the request payload; the quirk
         * echoes the flags without PROBE */
        if (srv_quirk(s, VUC_SRV_QUIRK_PROBE_REPLY_DIFFERS)) {
            uint8_t *p = reply_fixed(r, VUC_FEATURE_HDR_SIZE);

            if (!p)
                return EIO;
            memcpy(p, m->payload, VUC_FEATURE_HDR_SIZE);
            vuc_put_u32(p + 4, f.flags & ~(uint32_t)VUC_FEATURE_PROBE);
            reply_add(r, m->payload + VUC_FEATURE_HDR_SIZE,
                      m->payload_len - VUC_FEATURE_HDR_SIZE);
            return 0;
        }
        reply_add(r, m->payload, m->payload_len);
        return 0;
    }
    if (!get && !set)
        return EINVAL;
    /* bug feature-short-data-accepted: request data shorter than the
     * fixed part of its feature and method is "done", echoed, with
     * nothing read or done */
    if (f.data_len < (get ? features[idx].get_data : features[idx].set_data) &&
        srv_bug(s, VUC_SRV_BUG(FEATURE_SHORT_DATA))) {
        reply_add(r, m->payload, m->payload_len);
        return 0;
    }
    /* the kernel's minsz; the quirk serves whatever argsz says */
    if (f.argsz < features[idx].min_argsz &&
        !srv_quirk(s, VUC_SRV_QUIRK_ARGSZ_IGNORED))
        return EINVAL;
    if (idx != VUC_FEATURE_MIGRATION && idx != VUC_FEATURE_MIG_DEVICE_STATE)
        return dirty_feature(s, m, &f, r);

    if (idx == VUC_FEATURE_MIGRATION) {
        /* quirk migration-flags-zero: a device that claims no migration
         * capability at all here, though the feature is there and works */
        uint64_t flags =
            srv_quirk(s, VUC_SRV_QUIRK_MIG_FLAGS_ZERO) ? 0 : s->opts.mig_flags;

        if (vuc_feat_migration_encode(flags, data, 8) != 8)
            return EIO;
        /* quirk: bit 3 too, which no spec defines */
        if (srv_quirk(s, VUC_SRV_QUIRK_MIG_FLAGS_EXTRA_BIT))
            data[0] = (uint8_t)(data[0] | 0x08u);
        return feature_get_reply(r, f.flags, data);
    }
    if (get) {
        ms.device_state = srv_quirk(s, VUC_SRV_QUIRK_STALE_GET)
                              ? s->mig.stale_state
                              : s->mig.state;
        /* bug get-reads-unsupported: RUNNING reads as 8 */
        if (ms.device_state == VUC_STATE_RUNNING &&
            srv_bug(s, VUC_SRV_BUG(GET_UNSUPPORTED)))
            ms.device_state = VUC_STATE_NR;
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
    /* bug set-reply-differs: data_fd 0 instead of the request's */
    if (srv_bug(s, VUC_SRV_BUG(SET_REPLY_DIFFERS))) {
        uint8_t *p = reply_fixed(r, m->payload_len);

        if (!p)
            return EIO;
        memcpy(p, m->payload, m->payload_len);
        vuc_put_u32(p + VUC_FEATURE_HDR_SIZE + 4, 0);
        return 0;
    }
    reply_add(r, m->payload, m->payload_len);
    return 0;
}

/* ---- data transfer (spec: VFIO_USER_MIG_DATA_READ / WRITE) ---- */

/* Room to copy n bytes of a reply. */
static int bounce_reserve(struct vuc_srv *s, size_t n)
{
    if (s->mig.bounce_cap >= n)
        return 0;
    srv_release(s, s->mig.bounce);
    s->mig.bounce_cap = 0;
    s->mig.bounce = srv_alloc(s, n ? n : 1);
    if (!s->mig.bounce)
        return ENOMEM;
    s->mig.bounce_cap = n;
    return 0;
}

/* Append n copied bytes (already at bounce + at) to the reply. */
static void add_copied(struct vuc_srv *s, struct srv_reply *r, size_t at,
                       size_t n)
{
    uint8_t *p = s->mig.bounce + at;
    struct iovec *last = r->iovcnt ? &r->iov[r->iovcnt - 1] : NULL;

    if (last && (uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += n;
        return;
    }
    /* fill_data keeps a slot free for this */
    r->iov[r->iovcnt].iov_base = p;
    r->iov[r->iovcnt].iov_len = n;
    r->iovcnt++;
}

/*
 * Up to max bytes of stream into the reply: pieces of the stopped state
 * by reference, everything else (record headers, payloads copied while
 * the device ran) copied into the bounce buffer, *copied bytes of it.
 * Returns the bytes.
 */
static size_t fill_data(struct vuc_srv *s, struct srv_reply *r, size_t max,
                        size_t *copied_out)
{
    struct vuc_save *w = &s->mig.save.w;
    size_t n = 0, copied = 0;

    while (n < max) {
        const uint8_t *p;
        bool stable;
        size_t k = vuc_save_next(w, max - n, &p, &stable);

        if (k == 0)
            break;
        if (stable && r->iovcnt < REPLY_MAX_IOV - 1) {
            r->iov[r->iovcnt].iov_base = (void *)(uintptr_t)p;
            r->iov[r->iovcnt].iov_len = k;
            r->iovcnt++;
        } else {
            memcpy(s->mig.bounce + copied, p, k);
            add_copied(s, r, copied, k);
            copied += k;
        }
        n += k;
    }
    *copied_out = copied;
    return n;
}

void mig_after_reply(struct vuc_srv *s)
{
    struct resume_session *rs = &s->mig.resume;

    /* MIG_DATA_WRITE's data, parsed after the reply went: the reply does
     * not depend on it (errors stick until RESUMING -> STOP), and the
     * client sends on meanwhile. */
    if (rs->defer) {
        if (rs->open)
            (void)vuc_resume_feed(&rs->r, rs->defer, rs->defer_len);
        rs->defer = NULL;
        rs->defer_len = 0;
    }
    /*
     * In STOP_COPY the next chunk's CRCs can be computed now, while the
     * client is still reading this reply out of the socket, rather than
     * when its next read comes (the state cannot change: stopped).
     */
    if (s->mig.save.open && s->mig.state == VUC_STATE_STOP_COPY)
        (void)vuc_save_work_ahead(&s->mig.save.w);
}

/* The eof-not-sticky quirk: the stream starts over after its end. */
static void save_restart(struct vuc_srv *s)
{
    struct save_session *sv = &s->mig.save;
    struct vuc_save_cfg cfg = {
        .state = s->dev.state,
        .pending = sv->pending,
        .sent_crc = sv->sent_crc,
        .copybuf = sv->copybuf,
        .live = false,
    };

    dev_stream_dev(&s->dev, &cfg.dev);
    (void)vuc_save_init(&sv->w, &cfg);
    vuc_save_end(&sv->w, sv->regs);
    sv->eof = false;
}

/*
 * Quirk hang-on-zero-read: a deadlocked server. It never replies and
 * never reads again, and vuc_srv_run keeps SIGINT and SIGTERM blocked (to
 * its signalfd, which nobody reads now), so only SIGKILL ends it: what a
 * client or harness must be able to do to a server that stops answering.
 */
static _Noreturn void hang(const struct vuc_srv *s)
{
    if (s->opts.verbose)
        fprintf(stderr, "vucert-server: MIG_DATA_READ of 0 bytes: hanging "
                        "for ever (quirk)\n");
    for (;;)
        pause();
}

int srv_h_MIG_DATA_READ(struct vuc_srv *s, struct vuc_conn *c,
                        struct vuc_msg *m, struct srv_reply *r)
{
    struct save_session *sv = &s->mig.save;
    struct vuc_mig_data req, rep = {0};
    bool stop_copy = s->mig.state == VUC_STATE_STOP_COPY;
    size_t max, n = 0, copied;
    uint8_t *p;
    int rc;

    (void)c;
    /* quirk no-migration: no data to read, as libvfio-user answers
     * without migration */
    if (srv_quirk(s, VUC_SRV_QUIRK_NO_MIGRATION))
        return EINVAL;
    rc = vuc_mig_data_decode(m->payload, m->payload_len, false, &req);
    if (rc < 0 || (size_t)rc != m->payload_len ||
        m->payload_len != VUC_MIG_DATA_HDR_SIZE)
        return EINVAL;
    if (req.size == 0 && srv_quirk(s, VUC_SRV_QUIRK_HANG_ON_ZERO_READ))
        hang(s); /* in any state, whatever argsz says */
    if (req.argsz < VUC_MIG_DATA_HDR_SIZE)
        return EINVAL;
    if (!vuc_fsm_is_saving(s->mig.state) || !sv->open) {
        if (!srv_quirk(s, VUC_SRV_QUIRK_READ_IN_RUNNING))
            return EINVAL;
        req.size = 0; /* quirk: an empty "success" */
    }

    /*
     * The reply carries min(size, argsz - 8) bytes unless the stream has
     * fewer ready: a shorter reply is the end of the stream (STOP_COPY)
     * or of what is ready now (PRE_COPY). Above max_data_xfer_size is
     * an error; the quirk serves it, still bounded by the largest
     * transfer the server ever allows.
     */
    max = req.size;
    /* quirk: the limit taken as exclusive */
    if (req.size == s->xfer && srv_quirk(s, VUC_SRV_QUIRK_MAX_XFER_EXCLUSIVE))
        return EINVAL;
    if (req.size > s->xfer) {
        if (!srv_quirk(s, VUC_SRV_QUIRK_READ_OVER_MAX))
            return EINVAL;
        if (max > VUC_SRV_MAX_XFER_LIMIT)
            max = VUC_SRV_MAX_XFER_LIMIT;
    }
    if (max > req.argsz - VUC_MIG_DATA_HDR_SIZE)
        max = req.argsz - VUC_MIG_DATA_HDR_SIZE;
    if (bounce_reserve(s, max))
        return ENOMEM;

    p = reply_fixed(r, VUC_MIG_DATA_HDR_SIZE);
    if (!p)
        return EIO;
    if (max && sv->open) {
        if (stop_copy && sv->eof && srv_quirk(s, VUC_SRV_QUIRK_EOF_NOT_STICKY))
            save_restart(s);
        n = fill_data(s, r, max, &copied);
        if (stop_copy && n < max) {
            if (srv_quirk(s, VUC_SRV_QUIRK_READ_PADS)) {
                /* quirk: zeros to the size asked, the end never shows
                 * (copied <= n, so they fit) */
                memset(s->mig.bounce + copied, 0, max - n);
                add_copied(s, r, copied, max - n);
                n = max;
            } else {
                sv->eof = true; /* every later read returns 0 bytes */
            }
        }
        if (n < max && srv_quirk(s, VUC_SRV_QUIRK_READ_REPLY_PADDED)) {
            /* quirk: the message padded with zeros to the size asked
             * while argsz and size say what the data is (copied <= n,
             * so they fit) */
            memset(s->mig.bounce + copied, 0, max - n);
            add_copied(s, r, copied, max - n);
        }
    }
    rep.argsz = (uint32_t)(VUC_MIG_DATA_HDR_SIZE + n);
    rep.size = (uint32_t)n;
    if (vuc_mig_data_encode(&rep, p, VUC_MIG_DATA_HDR_SIZE) !=
        (int)VUC_MIG_DATA_HDR_SIZE)
        return EIO;
    return 0;
}

int srv_h_MIG_DATA_WRITE(struct vuc_srv *s, struct vuc_conn *c,
                         struct vuc_msg *m, struct srv_reply *r)
{
    struct resume_session *rs = &s->mig.resume;
    struct vuc_mig_data w;
    int rc;

    (void)c;
    if (srv_quirk(s, VUC_SRV_QUIRK_NO_MIGRATION))
        return EINVAL; /* quirk: nowhere to write to */
    /* with_data: exactly `size` bytes must follow */
    rc = vuc_mig_data_decode(m->payload, m->payload_len, true, &w);
    if (rc < 0 || (size_t)rc != m->payload_len || w.data_len != w.size)
        return EINVAL;
    if (s->mig.state != VUC_STATE_RESUMING || !rs->open)
        return srv_quirk(s, VUC_SRV_QUIRK_WRITE_OUTSIDE_RESUMING) ? 0 : EINVAL;
    if (w.size > s->xfer ||
        (w.size == s->xfer && srv_quirk(s, VUC_SRV_QUIRK_MAX_XFER_EXCLUSIVE)))
        return EINVAL;
    /* bug write-odd-size-refused: the stream taken in 8-byte units only */
    if (w.size % 8 != 0 && srv_bug(s, VUC_SRV_BUG(WRITE_ODD_REFUSED)))
        return EINVAL;
    /*
     * Any segmentation: the parser takes what comes. What it finds wrong
     * sticks and fails RESUMING -> STOP, where the spec's decision is
     * (docs/verdicts.md: resume data incomplete or corrupt); the write itself
     * succeeds. So the data is parsed after the reply has gone
     * (mig_after_reply), before the next request is read.
     */
    rs->defer = w.data;
    rs->defer_len = w.size;
    if (w.size == 0 && srv_bug(s, VUC_SRV_BUG(WRITE_ZERO_ENDS)))
        rs->zero_ended = true;
    /* bug write-reply-echoes: argsz and size come back */
    if (srv_bug(s, VUC_SRV_BUG(WRITE_REPLY_ECHOES)))
        reply_add(r, m->payload, VUC_MIG_DATA_HDR_SIZE);
    return 0;
}
