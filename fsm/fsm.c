/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VFIO migration v2 state machine as const data.
 *
 * Paths come from the kernel's algorithm (vfio_mig_get_next_state() in
 * drivers/vfio/vfio_main.c; docs/decisions.md, Combination paths): a
 * next-hop table indexed [current][target], and a table of the flags each
 * state needs; states the flag set lacks are skipped by looking up the
 * next hop again from them.
 * Copying the kernel's tables, rather than searching a graph, makes
 * vucert-server take exactly the kernel's path, which is what QEMU and
 * the kernel drivers expect (docs/decisions.md, Protocol decisions).
 *
 * The vucert policy on top of the kernel (docs/decisions.md, FSM arcs;
 * spec: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE):
 * ERROR and RUNNING are supported states of every valid flag set, but ERROR
 * may never be requested; a SET is classified by vuc_fsm_check() so the
 * server can say why it refused.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vucert/fsm.h"

#define SC  VUC_MIGRATION_STOP_COPY
#define P2P VUC_MIGRATION_P2P
#define PRE VUC_MIGRATION_PRE_COPY

#define ERROR        VUC_STATE_ERROR
#define STOP         VUC_STATE_STOP
#define RUNNING      VUC_STATE_RUNNING
#define STOP_COPY    VUC_STATE_STOP_COPY
#define RESUMING     VUC_STATE_RESUMING
#define RUNNING_P2P  VUC_STATE_RUNNING_P2P
#define PRE_COPY     VUC_STATE_PRE_COPY
#define PRE_COPY_P2P VUC_STATE_PRE_COPY_P2P

_Static_assert(VUC_STATE_NR == 8, "the tables below have 8 states");

const uint64_t vuc_fsm_flag_sets[4] = {
    SC,
    SC | P2P,
    SC | PRE,
    SC | P2P | PRE,
};

/*
 * vfio_from_fsm_table: the next hop from [cur] toward [target], assuming
 * every optional state is supported. ERROR as a next hop means "refused"
 * (STOP_COPY -> PRE_COPY(_P2P); docs/decisions.md, FSM arcs). Copied from
 * the kernel.
 */
static const uint8_t from_fsm_table[VUC_STATE_NR][VUC_STATE_NR] = {
    [STOP] =
        {
            [STOP] = STOP,
            [RUNNING] = RUNNING_P2P,
            [PRE_COPY] = RUNNING_P2P,
            [PRE_COPY_P2P] = RUNNING_P2P,
            [STOP_COPY] = STOP_COPY,
            [RESUMING] = RESUMING,
            [RUNNING_P2P] = RUNNING_P2P,
            [ERROR] = ERROR,
        },
    [RUNNING] =
        {
            [STOP] = RUNNING_P2P,
            [RUNNING] = RUNNING,
            [PRE_COPY] = PRE_COPY,
            [PRE_COPY_P2P] = RUNNING_P2P,
            [STOP_COPY] = RUNNING_P2P,
            [RESUMING] = RUNNING_P2P,
            [RUNNING_P2P] = RUNNING_P2P,
            [ERROR] = ERROR,
        },
    [PRE_COPY] =
        {
            [STOP] = RUNNING,
            [RUNNING] = RUNNING,
            [PRE_COPY] = PRE_COPY,
            [PRE_COPY_P2P] = PRE_COPY_P2P,
            [STOP_COPY] = PRE_COPY_P2P,
            [RESUMING] = RUNNING,
            [RUNNING_P2P] = RUNNING,
            [ERROR] = ERROR,
        },
    [PRE_COPY_P2P] =
        {
            [STOP] = RUNNING_P2P,
            [RUNNING] = RUNNING_P2P,
            [PRE_COPY] = PRE_COPY,
            [PRE_COPY_P2P] = PRE_COPY_P2P,
            [STOP_COPY] = STOP_COPY,
            [RESUMING] = RUNNING_P2P,
            [RUNNING_P2P] = RUNNING_P2P,
            [ERROR] = ERROR,
        },
    [STOP_COPY] =
        {
            [STOP] = STOP,
            [RUNNING] = STOP,
            [PRE_COPY] = ERROR,
            [PRE_COPY_P2P] = ERROR,
            [STOP_COPY] = STOP_COPY,
            [RESUMING] = STOP,
            [RUNNING_P2P] = STOP,
            [ERROR] = ERROR,
        },
    [RESUMING] =
        {
            [STOP] = STOP,
            [RUNNING] = STOP,
            [PRE_COPY] = STOP,
            [PRE_COPY_P2P] = STOP,
            [STOP_COPY] = STOP,
            [RESUMING] = RESUMING,
            [RUNNING_P2P] = STOP,
            [ERROR] = ERROR,
        },
    [RUNNING_P2P] =
        {
            [STOP] = STOP,
            [RUNNING] = RUNNING,
            [PRE_COPY] = RUNNING,
            [PRE_COPY_P2P] = PRE_COPY_P2P,
            [STOP_COPY] = STOP,
            [RESUMING] = STOP,
            [RUNNING_P2P] = RUNNING_P2P,
            [ERROR] = ERROR,
        },
    [ERROR] =
        {
            [STOP] = ERROR,
            [RUNNING] = ERROR,
            [PRE_COPY] = ERROR,
            [PRE_COPY_P2P] = ERROR,
            [STOP_COPY] = ERROR,
            [RESUMING] = ERROR,
            [RUNNING_P2P] = ERROR,
            [ERROR] = ERROR,
        },
};

/*
 * state_flags_table: the migration flags a state needs. ERROR needs every
 * bit, so the kernel's test never counts it as supported; that is what
 * makes a request for ERROR, or any request from ERROR, fail there.
 */
static const uint64_t state_flags_table[VUC_STATE_NR] = {
    [STOP] = SC,
    [RUNNING] = SC,
    [STOP_COPY] = SC,
    [RESUMING] = SC,
    [RUNNING_P2P] = SC | P2P,
    [PRE_COPY] = SC | PRE,
    [PRE_COPY_P2P] = SC | P2P | PRE,
    [ERROR] = ~(uint64_t)0,
};

/*
 * The direct arcs a device implements, per flag set (the arc list in the
 * comment above vfio_from_fsm_table; docs/decisions.md, FSM arcs). An arc
 * exists when the set has every bit of `need` and no bit of `forbid`:
 * with P2P the algorithm routes RUNNING <-> STOP through RUNNING_P2P and
 * PRE_COPY -> STOP_COPY through PRE_COPY_P2P, so those shortcuts are not
 * used and a device need not implement them.
 */
struct arc {
    uint8_t from;
    uint8_t to;
    uint8_t need;
    uint8_t forbid;
};

static const struct arc arcs[] = {
    {RESUMING, STOP, SC, 0},
    {STOP, RESUMING, SC, 0},
    {STOP, STOP_COPY, SC, 0},
    {STOP_COPY, STOP, SC, 0},
    {RUNNING, STOP, SC, P2P},
    {STOP, RUNNING, SC, P2P},
    {RUNNING, RUNNING_P2P, SC | P2P, 0},
    {RUNNING_P2P, RUNNING, SC | P2P, 0},
    {RUNNING_P2P, STOP, SC | P2P, 0},
    {STOP, RUNNING_P2P, SC | P2P, 0},
    {RUNNING, PRE_COPY, SC | PRE, 0},
    {PRE_COPY, RUNNING, SC | PRE, 0},
    {PRE_COPY, STOP_COPY, SC | PRE, P2P},
    {PRE_COPY, PRE_COPY_P2P, SC | P2P | PRE, 0},
    {PRE_COPY_P2P, PRE_COPY, SC | P2P | PRE, 0},
    {PRE_COPY_P2P, RUNNING_P2P, SC | P2P | PRE, 0},
    {PRE_COPY_P2P, STOP_COPY, SC | P2P | PRE, 0},
    {RUNNING_P2P, PRE_COPY_P2P, SC | P2P | PRE, 0},
};

static const char *const reject_text[] = {
    [VUC_FSM_OK] = "ok",
    [VUC_FSM_REJ_BAD_FLAGS] = "migration flags lack STOP_COPY or have "
                              "unknown bits",
    [VUC_FSM_REJ_STATE_RANGE] = "requested state is not a known state",
    [VUC_FSM_REJ_ERROR_REQUESTED] = "ERROR cannot be requested",
    [VUC_FSM_REJ_UNSUPPORTED] = "requested state is not supported by the "
                                "migration flags",
    [VUC_FSM_REJ_FROM_ERROR] = "device is in ERROR; a reset is needed",
    [VUC_FSM_REJ_BLOCKED] = "STOP_COPY -> PRE_COPY(_P2P) is not permitted",
    [VUC_FSM_REJ_CUR_UNSUPPORTED] = "current state is not supported by the "
                                    "migration flags",
};

/* The kernel's notion of "supported": ERROR never is. */
static bool kernel_supported(uint64_t flags, uint32_t state)
{
    return (state_flags_table[state] & flags) == state_flags_table[state];
}

/* Pure predicate; no errno. */
bool vuc_fsm_flags_valid(uint64_t flags)
{
    /* docs/decisions.md, Migration flags: STOP_COPY is mandatory; other
     * combinations of flags have "behavior to be defined in the future". */
    return (flags & ~VUC_MIGRATION_KNOWN) == 0 && (flags & SC) != 0;
}

/* Pure predicate; false for an invalid flag set or state >= 8. No errno. */
bool vuc_fsm_state_supported(uint64_t flags, uint32_t state)
{
    if (!vuc_fsm_flags_valid(flags) || state >= VUC_STATE_NR)
        return false;
    /* uAPI: "If this GET succeeds, the RUNNING and ERROR states are always
     * supported"; the device can be in ERROR, it just cannot be asked to. */
    if (state == ERROR)
        return true;
    return kernel_supported(flags, state);
}

/* Pure predicate; false for an invalid flag set or a state >= 8. No errno. */
bool vuc_fsm_is_direct_arc(uint64_t flags, uint32_t from, uint32_t to)
{
    size_t i;

    if (!vuc_fsm_flags_valid(flags) || from >= VUC_STATE_NR ||
        to >= VUC_STATE_NR)
        return false;
    for (i = 0; i < sizeof(arcs) / sizeof(arcs[0]); i++) {
        const struct arc *a = &arcs[i];

        if (a->from == from && a->to == to)
            return (flags & a->need) == a->need && (flags & a->forbid) == 0;
    }
    return false;
}

/* Pure predicate; false for states >= 8. No errno. */
bool vuc_fsm_is_saving(uint32_t state)
{
    /* uAPI: "PRE_COPY, PRE_COPY_P2P and STOP_COPY form the 'saving group'
     * of states which share a data transfer session" (docs/decisions.md,
     * FSM arcs). */
    return state == PRE_COPY || state == PRE_COPY_P2P || state == STOP_COPY;
}

/* Returns a reason code, never an errno. */
enum vuc_fsm_reject vuc_fsm_check(uint64_t flags, uint32_t cur, uint32_t target)
{
    if (!vuc_fsm_flags_valid(flags))
        return VUC_FSM_REJ_BAD_FLAGS;
    if (target >= VUC_STATE_NR)
        return VUC_FSM_REJ_STATE_RANGE;
    if (target == ERROR)
        return VUC_FSM_REJ_ERROR_REQUESTED;
    if (!vuc_fsm_state_supported(flags, target))
        return VUC_FSM_REJ_UNSUPPORTED;
    if (cur == ERROR)
        return VUC_FSM_REJ_FROM_ERROR;
    if (!vuc_fsm_state_supported(flags, cur))
        return VUC_FSM_REJ_CUR_UNSUPPORTED;
    if (cur == STOP_COPY && (target == PRE_COPY || target == PRE_COPY_P2P))
        return VUC_FSM_REJ_BLOCKED;
    return VUC_FSM_OK;
}

/* Never NULL; an out-of-range code gives "unknown reason". No errno. */
const char *vuc_fsm_reject_str(enum vuc_fsm_reject r)
{
    if ((unsigned int)r >= sizeof(reject_text) / sizeof(reject_text[0]) ||
        reject_text[r] == NULL)
        return "unknown reason";
    return reject_text[r];
}

/*
 * One step of the kernel's algorithm, for a request vuc_fsm_check()
 * accepted. The kernel loops "while next is unsupported"; since ERROR is
 * never supported by that test and every ERROR entry leads to ERROR, its
 * loop would not end on a next hop of ERROR, so we stop there and let the
 * caller refuse. The bound only guards against a broken table; the unit
 * test walks every accepted request of every flag set.
 */
static uint32_t step(uint64_t flags, uint32_t cur, uint32_t target)
{
    uint32_t next = from_fsm_table[cur][target];
    unsigned int guard;

    for (guard = 0; guard < VUC_STATE_NR; guard++) {
        if (next == ERROR || kernel_supported(flags, next))
            return next;
        next = from_fsm_table[next][target];
    }
    return ERROR;
}

/*
 * Errors: -EINVAL when vuc_fsm_check() is not VUC_FSM_OK (and, defensively,
 * if the table walk ends in ERROR). *next is written only on success.
 */
int vuc_fsm_next(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *next)
{
    uint32_t n;

    assert(next != NULL);
    if (vuc_fsm_check(flags, cur, target) != VUC_FSM_OK)
        return -EINVAL;
    if (cur == target) {
        *next = cur;
        return 0;
    }
    n = step(flags, cur, target);
    if (n == ERROR)
        return -EINVAL;
    *next = n;
    return 0;
}

/*
 * Errors: -EINVAL when vuc_fsm_check() is not VUC_FSM_OK; -ENOSPC when the
 * path has more than `max` hops (VUC_FSM_MAX_PATH always suffices). On
 * error nothing is written to path. path may be NULL only if max is 0.
 */
int vuc_fsm_path(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *path,
                 size_t max)
{
    uint32_t hops[VUC_FSM_MAX_PATH];
    size_t n = 0;
    uint32_t s = cur;

    assert(path != NULL || max == 0);
    if (vuc_fsm_check(flags, cur, target) != VUC_FSM_OK)
        return -EINVAL;
    while (s != target) {
        if (n == VUC_FSM_MAX_PATH)
            return -EINVAL; /* a table bug; the unit test rules it out */
        s = step(flags, s, target);
        if (s == ERROR)
            return -EINVAL;
        hops[n++] = s;
    }
    if (n > max)
        return -ENOSPC;
    if (n > 0)
        memcpy(path, hops, n * sizeof(hops[0]));
    return (int)n;
}

/* true if from -> to is a direct arc of at least one flag set */
static bool arc_of_any_set(uint32_t from, uint32_t to)
{
    size_t i;

    for (i = 0; i < sizeof(vuc_fsm_flag_sets) / sizeof(vuc_fsm_flag_sets[0]);
         i++)
        if (vuc_fsm_is_direct_arc(vuc_fsm_flag_sets[i], from, to))
            return true;
    return false;
}

/*
 * Depends only on the two states, not on the flag set. A pair that is a
 * direct arc of no flag set (including from == to and states >= 8) has no
 * effect. No errno.
 */
enum vuc_fsm_effect vuc_fsm_arc_effect(uint32_t from, uint32_t to)
{
    bool was, is;

    if (!arc_of_any_set(from, to))
        return VUC_FSM_EFFECT_NONE;
    /* docs/decisions.md, FSM arcs: RESUMING is entered only from STOP (new
     * data_fd) and left only to STOP (the driver validates and loads the
     * data). */
    if (from == STOP && to == RESUMING)
        return VUC_FSM_EFFECT_OPEN_RESUME;
    if (from == RESUMING && to == STOP)
        return VUC_FSM_EFFECT_END_RESUME;
    /* Entering the saving group returns a new data_fd; moving inside it
     * keeps the session; leaving it ends the session (docs/decisions.md,
     * FSM arcs). */
    was = vuc_fsm_is_saving(from);
    is = vuc_fsm_is_saving(to);
    if (!was && is)
        return VUC_FSM_EFFECT_OPEN_SAVE;
    if (was && !is)
        return VUC_FSM_EFFECT_END_SAVE;
    return VUC_FSM_EFFECT_NONE;
}

static const struct {
    const char *name;
    uint64_t bit;
} flag_names[] = {
    {"stop-copy", SC}, {"stop_copy", SC}, {"p2p", P2P},
    {"pre-copy", PRE}, {"pre_copy", PRE},
};

/*
 * Names: stop-copy (or stop_copy), p2p, pre-copy (or pre_copy), separated
 * by single commas, in any order; repeats are harmless. Case matters and no
 * spaces are allowed. Errors: -EINVAL for an unknown or empty name or when
 * stop-copy is missing; *flags is written only on success.
 */
int vuc_fsm_flags_parse(const char *s, uint64_t *flags)
{
    uint64_t f = 0;
    const char *p = s;

    assert(s != NULL && flags != NULL);
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t i;
        bool known = false;

        /* An empty name ("", "a,,b", "a,") is as unknown as a misspelt
         * one: the command line should say exactly what it means. */
        for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
            if (strlen(flag_names[i].name) == len &&
                memcmp(flag_names[i].name, p, len) == 0) {
                f |= flag_names[i].bit;
                known = true;
                break;
            }
        }
        if (!known)
            return -EINVAL;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    if (!(f & SC))
        return -EINVAL;
    *flags = f;
    return 0;
}

/* Append `text` at *pos, truncating; buf stays NUL-terminated. */
static void append(char *buf, size_t cap, size_t *pos, const char *text)
{
    size_t len = strlen(text);
    size_t room;

    if (*pos + 1 >= cap)
        return;
    room = cap - 1 - *pos;
    if (len > room)
        len = room;
    memcpy(buf + *pos, text, len);
    *pos += len;
    buf[*pos] = '\0';
}

/*
 * Canonical order stop-copy,p2p,pre-copy, then unknown bits as one hex
 * token (",0x8"); 0 gives "". Output is truncated to cap - 1 characters
 * and always NUL-terminated when cap > 0; 48 bytes always suffice. No errno.
 */
const char *vuc_fsm_flags_str(uint64_t flags, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        uint64_t bit;
    } canon[] = {{"stop-copy", SC}, {"p2p", P2P}, {"pre-copy", PRE}};
    size_t pos = 0;
    size_t i;
    bool first = true;
    uint64_t unknown = flags & ~VUC_MIGRATION_KNOWN;

    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
        if (!(flags & canon[i].bit))
            continue;
        if (!first)
            append(buf, cap, &pos, ",");
        append(buf, cap, &pos, canon[i].name);
        first = false;
    }
    if (unknown) {
        /* Unknown bits are shown, not dropped, so a report never makes
         * an invalid set look valid. */
        char hex[2 + 16 + 1];
        static const char digits[] = "0123456789abcdef";
        int shift;
        size_t h = 0;

        hex[h++] = '0';
        hex[h++] = 'x';
        for (shift = 60; shift > 0 && !((unknown >> shift) & 0xf); shift -= 4)
            ;
        for (; shift >= 0; shift -= 4)
            hex[h++] = digits[(unknown >> shift) & 0xf];
        hex[h] = '\0';
        if (!first)
            append(buf, cap, &pos, ",");
        append(buf, cap, &pos, hex);
    }
    return buf;
}
