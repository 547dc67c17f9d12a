// SPDX-License-Identifier: BSD-3-Clause
/*
 * The expectation tables of the fsm.* cases, written from the spec
 * (spec: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, Direct State Transitions,
 * Complex State Transitions) and the uAPI rules it defers
 * to (docs/decisions.md, FSM arcs and Combination paths). They
 * deliberately do not use fsm/: a unit test (tests/unit/test_expect.c)
 * proves the two agree.
 */
#include <stdio.h>
#include <string.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SC  VUC_MIGRATION_STOP_COPY
#define P2P VUC_MIGRATION_P2P
#define PRE VUC_MIGRATION_PRE_COPY

/*
 * One grid per flag set. Rows: the state the device is in; columns: the
 * state requested, both in spec order ERROR STOP RUNNING STOP_COPY
 * RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P.
 *   A  accepted (a same-state request is accepted and changes nothing)
 *   E  rejected: "ERROR cannot be specified as a device state"
 *   X  rejected: in ERROR only VFIO_USER_DEVICE_RESET leads back
 *   U  rejected: the state is not advertised by the migration flags
 *   B  rejected: "The STOP_COPY -> PRE_COPY transition is explicitly not
 *      allowed" (and, in the uAPI, STOP_COPY -> PRE_COPY_P2P)
 *   -  the row does not apply: the device cannot be in that state
 */
static const char *const grid_sc[VUC_STATE_NR] = {
    /*              E S R C M r P p */
    [VUC_STATE_ERROR] = "EXXXXXXX",    [VUC_STATE_STOP] = "EAAAAUUU",
    [VUC_STATE_RUNNING] = "EAAAAUUU",  [VUC_STATE_STOP_COPY] = "EAAAAUUU",
    [VUC_STATE_RESUMING] = "EAAAAUUU", [VUC_STATE_RUNNING_P2P] = "--------",
    [VUC_STATE_PRE_COPY] = "--------", [VUC_STATE_PRE_COPY_P2P] = "--------",
};

static const char *const grid_sc_p2p[VUC_STATE_NR] = {
    [VUC_STATE_ERROR] = "EXXXXXXX",    [VUC_STATE_STOP] = "EAAAAAUU",
    [VUC_STATE_RUNNING] = "EAAAAAUU",  [VUC_STATE_STOP_COPY] = "EAAAAAUU",
    [VUC_STATE_RESUMING] = "EAAAAAUU", [VUC_STATE_RUNNING_P2P] = "EAAAAAUU",
    [VUC_STATE_PRE_COPY] = "--------", [VUC_STATE_PRE_COPY_P2P] = "--------",
};

static const char *const grid_sc_pre[VUC_STATE_NR] = {
    [VUC_STATE_ERROR] = "EXXXXXXX",    [VUC_STATE_STOP] = "EAAAAUAU",
    [VUC_STATE_RUNNING] = "EAAAAUAU",  [VUC_STATE_STOP_COPY] = "EAAAAUBU",
    [VUC_STATE_RESUMING] = "EAAAAUAU", [VUC_STATE_RUNNING_P2P] = "--------",
    [VUC_STATE_PRE_COPY] = "EAAAAUAU", [VUC_STATE_PRE_COPY_P2P] = "--------",
};

static const char *const grid_all[VUC_STATE_NR] = {
    [VUC_STATE_ERROR] = "EXXXXXXX",    [VUC_STATE_STOP] = "EAAAAAAA",
    [VUC_STATE_RUNNING] = "EAAAAAAA",  [VUC_STATE_STOP_COPY] = "EAAAAABB",
    [VUC_STATE_RESUMING] = "EAAAAAAA", [VUC_STATE_RUNNING_P2P] = "EAAAAAAA",
    [VUC_STATE_PRE_COPY] = "EAAAAAAA", [VUC_STATE_PRE_COPY_P2P] = "EAAAAAAA",
};

static const char *const *grid_for(uint64_t flags)
{
    if (flags == SC)
        return grid_sc;
    if (flags == (SC | P2P))
        return grid_sc_p2p;
    if (flags == (SC | PRE))
        return grid_sc_pre;
    if (flags == (SC | P2P | PRE))
        return grid_all;
    return NULL;
}

enum vuc_expect vuc_expect_set(uint64_t flags, uint32_t from, uint32_t to)
{
    const char *const *g = grid_for(flags);

    if (g == NULL || from >= VUC_STATE_NR)
        return VUC_EXP_SKIP;
    if (to >= VUC_STATE_NR)
        return VUC_EXP_REJ_UNADV;
    switch (g[from][to]) {
    case 'A':
        return VUC_EXP_ACCEPT;
    case 'E':
        return VUC_EXP_REJ_ERROR;
    case 'X':
        return VUC_EXP_REJ_FROM_ERR;
    case 'U':
        return VUC_EXP_REJ_UNADV;
    case 'B':
        return VUC_EXP_REJ_BLOCKED;
    default:
        return VUC_EXP_SKIP;
    }
}

const char *vuc_expect_reason(enum vuc_expect e)
{
    switch (e) {
    case VUC_EXP_SKIP:
        return "the state is not advertised by the device's migration flags";
    case VUC_EXP_ACCEPT:
        return "a valid transition";
    case VUC_EXP_REJ_ERROR:
        return "ERROR cannot be specified as a device state";
    case VUC_EXP_REJ_FROM_ERR:
        return "from ERROR only VFIO_USER_DEVICE_RESET returns to RUNNING";
    case VUC_EXP_REJ_UNADV:
        return "the requested state is not advertised by the migration flags";
    case VUC_EXP_REJ_BLOCKED:
        return "STOP_COPY -> PRE_COPY is explicitly not allowed";
    }
    return "?";
}

bool vuc_expect_state_advertised(uint64_t flags, uint32_t state)
{
    const char *const *g = grid_for(flags);

    /* a row exists exactly for the states the device can be in */
    return g != NULL && state < VUC_STATE_NR && g[state][0] != '-';
}

bool vuc_expect_saving(uint32_t state)
{
    return state == VUC_STATE_PRE_COPY || state == VUC_STATE_PRE_COPY_P2P ||
           state == VUC_STATE_STOP_COPY;
}

/*
 * The direct arcs: the spec's list (Direct State Transitions) plus the
 * uAPI's P2P arcs for devices that advertise P2P (docs/decisions.md, FSM
 * arcs). `need` flags must all be set, `absent` flags must all be clear.
 */
static const struct arc {
    uint8_t from, to;
    uint8_t need, absent;
} arcs[] = {
    {VUC_STATE_RUNNING, VUC_STATE_STOP, SC, P2P},
    {VUC_STATE_STOP, VUC_STATE_RUNNING, SC, P2P},
    {VUC_STATE_STOP_COPY, VUC_STATE_STOP, SC, 0},
    {VUC_STATE_STOP, VUC_STATE_STOP_COPY, SC, 0},
    {VUC_STATE_RESUMING, VUC_STATE_STOP, SC, 0},
    {VUC_STATE_STOP, VUC_STATE_RESUMING, SC, 0},
    {VUC_STATE_RUNNING, VUC_STATE_PRE_COPY, SC | PRE, 0},
    {VUC_STATE_PRE_COPY, VUC_STATE_RUNNING, SC | PRE, 0},
    {VUC_STATE_PRE_COPY, VUC_STATE_STOP_COPY, SC | PRE, P2P},
    {VUC_STATE_RUNNING, VUC_STATE_RUNNING_P2P, SC | P2P, 0},
    {VUC_STATE_RUNNING_P2P, VUC_STATE_RUNNING, SC | P2P, 0},
    {VUC_STATE_RUNNING_P2P, VUC_STATE_STOP, SC | P2P, 0},
    {VUC_STATE_STOP, VUC_STATE_RUNNING_P2P, SC | P2P, 0},
    {VUC_STATE_PRE_COPY, VUC_STATE_PRE_COPY_P2P, SC | P2P | PRE, 0},
    {VUC_STATE_PRE_COPY_P2P, VUC_STATE_PRE_COPY, SC | P2P | PRE, 0},
    {VUC_STATE_PRE_COPY_P2P, VUC_STATE_RUNNING_P2P, SC | P2P | PRE, 0},
    {VUC_STATE_RUNNING_P2P, VUC_STATE_PRE_COPY_P2P, SC | P2P | PRE, 0},
    {VUC_STATE_PRE_COPY_P2P, VUC_STATE_STOP_COPY, SC | P2P | PRE, 0},
};

bool vuc_expect_direct_arc(uint64_t flags, uint32_t from, uint32_t to)
{
    for (size_t i = 0; i < sizeof(arcs) / sizeof(arcs[0]); i++) {
        const struct arc *a = &arcs[i];
        if (a->from == from && a->to == to && (flags & a->need) == a->need &&
            (flags & a->absent) == 0)
            return true;
    }
    return false;
}

/*
 * Search state for the path rules: (state, still in the saving group
 * since the start). Breadth first, so the first arrival is shortest.
 */
struct node {
    uint8_t state;
    uint8_t in_group;
};

static int bfs(uint64_t flags, uint32_t from, uint32_t to, uint32_t *path,
               size_t max)
{
    /* prev index into visit order; 16 nodes at most */
    struct node q[2 * VUC_STATE_NR];
    int prev[2 * VUC_STATE_NR];
    bool seen[VUC_STATE_NR][2] = {{false}};
    int head = 0, tail = 0;

    if (from >= VUC_STATE_NR || to >= VUC_STATE_NR)
        return -1;
    if (from == to)
        return 0;
    q[tail] = (struct node){(uint8_t)from, vuc_expect_saving(from)};
    prev[tail++] = -1;
    seen[from][vuc_expect_saving(from)] = true;
    while (head < tail) {
        int cur = head++;
        for (uint32_t nx = 0; nx < VUC_STATE_NR; nx++) {
            uint8_t grp;
            if (!vuc_expect_direct_arc(flags, q[cur].state, nx))
                continue;
            if (nx == to) {
                /* found: unwind */
                uint32_t rev[2 * VUC_STATE_NR];
                size_t n = 0;
                rev[n++] = nx;
                for (int i = cur; prev[i] >= 0; i = prev[i])
                    rev[n++] = q[i].state;
                if (path != NULL) {
                    if (n > max)
                        return -1;
                    for (size_t i = 0; i < n; i++)
                        path[i] = rev[n - 1 - i];
                }
                return (int)n;
            }
            /* an interior saving state is allowed only while the path
             * has stayed in the saving group since its start */
            grp = q[cur].in_group && vuc_expect_saving(nx);
            if (vuc_expect_saving(nx) && !grp)
                continue;
            if (seen[nx][grp])
                continue;
            seen[nx][grp] = true;
            q[tail] = (struct node){(uint8_t)nx, grp};
            prev[tail++] = cur;
        }
    }
    return -1;
}

int vuc_expect_shortest(uint64_t flags, uint32_t from, uint32_t to)
{
    return bfs(flags, from, to, NULL, 0);
}

int vuc_expect_path(uint64_t flags, uint32_t from, uint32_t to, uint32_t *path,
                    size_t max)
{
    return bfs(flags, from, to, path, max);
}

int vuc_expect_path_check(uint64_t flags, uint32_t from, const uint32_t *path,
                          size_t n, char *why, size_t whycap)
{
    uint32_t cur = from;
    bool in_group = vuc_expect_saving(from);
    int shortest;

    if (n == 0) {
        snprintf(why, whycap, "empty path");
        return VUC_PATH_BAD;
    }
    for (size_t i = 0; i < n; i++) {
        if (path[i] >= VUC_STATE_NR ||
            !vuc_expect_direct_arc(flags, cur, path[i])) {
            snprintf(why, whycap, "%s -> %s is not a direct arc",
                     vuc_state_name(cur), vuc_state_name(path[i]));
            return VUC_PATH_BAD;
        }
        in_group = in_group && vuc_expect_saving(path[i]);
        if (i + 1 < n && vuc_expect_saving(path[i]) && !in_group) {
            snprintf(why, whycap,
                     "saving-group state %s inside the path (spec: Complex "
                     "State Transitions)",
                     vuc_state_name(path[i]));
            return VUC_PATH_BAD;
        }
        cur = path[i];
    }
    shortest = bfs(flags, from, cur, NULL, 0);
    if (shortest < 0 || (size_t)shortest != n) {
        snprintf(why, whycap,
                 "%zu arcs where the shortest path has %d (spec: Complex "
                 "State Transitions)",
                 n, shortest);
        return VUC_PATH_LONGER;
    }
    return VUC_PATH_OK;
}

bool vuc_expect_path_ok(uint64_t flags, uint32_t from, const uint32_t *path,
                        size_t n, char *why, size_t whycap)
{
    return vuc_expect_path_check(flags, from, path, n, why, whycap) ==
           VUC_PATH_OK;
}
