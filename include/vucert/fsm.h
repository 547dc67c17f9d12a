/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VFIO migration v2 state machine as data (spec: Direct State
 * Transitions, Complex State Transitions; kernel: vfio_mig_get_next_state
 * in drivers/vfio/vfio_main.c, see docs/decisions.md, Combination paths).
 *
 * A "flag set" is the u64 returned by VFIO_DEVICE_FEATURE_MIGRATION GET.
 * Only the four sets with STOP_COPY are meaningful:
 *   STOP_COPY, STOP_COPY|P2P, STOP_COPY|PRE_COPY, STOP_COPY|P2P|PRE_COPY.
 * Any set without STOP_COPY or with unknown bits supports no transition.
 *
 * This module is used by vucert-server to decide transitions. The harness
 * must NOT use it to judge a server (its expectations are its own tables,
 * cases/expect.c); only a unit test compares it with those tables.
 */
#ifndef VUCERT_FSM_H
#define VUCERT_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vucert/wire.h"

/* Longest combination path, in arcs (RESUMING->...->PRE_COPY is 4). */
#define VUC_FSM_MAX_PATH 8

/* Why a SET of MIG_DEVICE_STATE is rejected. */
enum vuc_fsm_reject {
    VUC_FSM_OK = 0,
    VUC_FSM_REJ_BAD_FLAGS,   /* flag set lacks STOP_COPY or has unknown bits */
    VUC_FSM_REJ_STATE_RANGE, /* requested state number >= 8 */
    VUC_FSM_REJ_ERROR_REQUESTED, /* ERROR cannot be requested */
    VUC_FSM_REJ_UNSUPPORTED,     /* target not supported by the flag set */
    VUC_FSM_REJ_FROM_ERROR,      /* current state is ERROR: reset needed */
    VUC_FSM_REJ_BLOCKED,         /* STOP_COPY -> PRE_COPY(_P2P) */
    VUC_FSM_REJ_CUR_UNSUPPORTED, /* current state not in the flag set (bug) */
};

/* Session effect of one direct arc (spec: the "saving group"). */
enum vuc_fsm_effect {
    VUC_FSM_EFFECT_NONE = 0,
    VUC_FSM_EFFECT_OPEN_SAVE,   /* enters the saving group: new read session */
    VUC_FSM_EFFECT_OPEN_RESUME, /* STOP -> RESUMING: new write session */
    VUC_FSM_EFFECT_END_SAVE,    /* leaves the saving group: session ends */
    VUC_FSM_EFFECT_END_RESUME,  /* RESUMING -> STOP: validate and load */
};

/* The four flag sets, for iteration in tests and reports. */
extern const uint64_t vuc_fsm_flag_sets[4];

/* true if flags is one of the four meaningful sets */
bool vuc_fsm_flags_valid(uint64_t flags);

/* true if `state` (< 8) is supported with `flags`. ERROR and RUNNING are
 * supported by every valid set. */
bool vuc_fsm_state_supported(uint64_t flags, uint32_t state);

/* true if from -> to is a direct arc a device with `flags` implements. */
bool vuc_fsm_is_direct_arc(uint64_t flags, uint32_t from, uint32_t to);

/* true for PRE_COPY, PRE_COPY_P2P, STOP_COPY */
bool vuc_fsm_is_saving(uint32_t state);

/*
 * Why SET cur -> target would be rejected, or VUC_FSM_OK. Checks in the
 * kernel's order: flag set, target range, target ERROR / unsupported,
 * current ERROR, blocked arcs.
 */
enum vuc_fsm_reject vuc_fsm_check(uint64_t flags, uint32_t cur,
                                  uint32_t target);

/* Human-readable reason text for a reject code. */
const char *vuc_fsm_reject_str(enum vuc_fsm_reject r);

/*
 * Next hop from cur toward target (the kernel algorithm: next-hop table,
 * skipping states the flag set does not support). cur == target yields
 * cur. Returns 0 and sets *next, or -EINVAL (see vuc_fsm_check).
 */
int vuc_fsm_next(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *next);

/*
 * Whole path cur -> target: path[0] is the first hop, path[n-1] ==
 * target. Returns n (0 when cur == target), or -EINVAL. max >= 8 always
 * suffices; -ENOSPC otherwise.
 */
int vuc_fsm_path(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *path,
                 size_t max);

/* Session effect of the direct arc from -> to. */
enum vuc_fsm_effect vuc_fsm_arc_effect(uint32_t from, uint32_t to);

/* Parse "stop-copy[,p2p][,pre-copy]" into a flag set; -EINVAL if a name
 * is unknown or stop-copy is missing. */
int vuc_fsm_flags_parse(const char *s, uint64_t *flags);
/* Write "stop-copy,pre-copy" style text; returns buf. */
const char *vuc_fsm_flags_str(uint64_t flags, char *buf, size_t cap);

#endif /* VUCERT_FSM_H */
