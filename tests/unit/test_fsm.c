/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for fsm/: the migration state machine.
 *
 * The central test does not trust fsm.c's tables. It rebuilds the answer
 * from the uAPI text alone: its own list of direct arcs per flag set
 * (docs/decisions.md, FSM arcs, and the arc list above the kernel's
 * vfio_from_fsm_table), a breadth-first search for the shortest valid
 * paths, and its own rejection rules. It then requires vuc_fsm_path(),
 * vuc_fsm_next() and vuc_fsm_check() to agree for every flag set and all
 * 64 (from, to) pairs, plus out-of-range state numbers.
 *
 * What "valid path" means here (spec: Complex State Transitions;
 * docs/decisions.md, Combination paths):
 *
 *   - only direct arcs of the flag set, so only supported states; no arc
 *     touches ERROR and STOP_COPY -> PRE_COPY(_P2P) is no arc;
 *   - the saving-group rule. The uAPI says "The path cannot have saving
 *     group states as interior arcs, only starting/end states", yet the
 *     kernel's own table, with all three flags, goes PRE_COPY ->
 *     PRE_COPY_P2P -> STOP_COPY: an interior PRE_COPY_P2P. The reading
 *     that matches the kernel for every flag set is about the session,
 *     not about states: a path may never ENTER the saving group (an arc
 *     from a non-saving state into a saving state) except with its final
 *     arc, because entering opens a new data session that an interior
 *     state would then have to end again. A path that STARTS in the group
 *     may stay in it for a while (the session simply continues) and then
 *     leave it; once out it can only come back with its last arc.
 *   - among the shortest such paths, the one with the fewest interior
 *     saving-group states wins. After that tie-break exactly one path
 *     must remain: the test fails if the rules ever leave a choice.
 *     (On these four graphs the entering rule never decides alone, the
 *     tie-break would reach the same path; it still removes candidates,
 *     e.g. RUNNING -> PRE_COPY -> STOP_COPY with stop-copy,pre-copy, and
 *     it is what the uAPI says, so the model keeps both.)
 *
 * Rejected requests (-EINVAL, and the reason vuc_fsm_check() gives): flag
 * set not one of the four; target >= 8; target ERROR ("ERROR cannot be
 * requested"); target not supported; current state ERROR (needs a reset);
 * current state not supported; STOP_COPY -> PRE_COPY(_P2P), which the uAPI
 * forbids as a request ("not permitted and return error if requested";
 * docs/decisions.md, FSM arcs) even though a path such as STOP_COPY ->
 * STOP -> RUNNING_P2P -> PRE_COPY_P2P would satisfy the rules above; and
 * any pair with no valid path (the test checks that there is no such pair
 * left).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vucert/fsm.h"

/* The test's own names: nothing below comes from fsm.c. */
enum {
    M_ERROR = 0,
    M_STOP = 1,
    M_RUNNING = 2,
    M_STOP_COPY = 3,
    M_RESUMING = 4,
    M_RUNNING_P2P = 5,
    M_PRE_COPY = 6,
    M_PRE_COPY_P2P = 7,
    M_NSTATES = 8,
};

#define M_SC  1ull /* VFIO_MIGRATION_STOP_COPY */
#define M_P2P 2ull /* VFIO_MIGRATION_P2P */
#define M_PRE 4ull /* VFIO_MIGRATION_PRE_COPY */

#define M_MAXLEN 7 /* a simple path over 8 states has at most 7 arcs */

static const uint64_t model_sets[4] = {
    M_SC,
    M_SC | M_P2P,
    M_SC | M_PRE,
    M_SC | M_P2P | M_PRE,
};

static const char *const names[M_NSTATES] = {
    "ERROR",    "STOP",        "RUNNING",  "STOP_COPY",
    "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

/* State numbers outside the enum that a client may send. */
static const uint32_t out_of_range[] = {8, 9, 0x7fffffff, 0xffffffff};

static bool model_valid_flags(uint64_t f)
{
    return f == model_sets[0] || f == model_sets[1] || f == model_sets[2] ||
           f == model_sets[3];
}

/* docs/decisions.md, Migration flags */
static bool model_supported(uint64_t f, uint32_t s)
{
    switch (s) {
    case M_ERROR:
    case M_STOP:
    case M_RUNNING:
    case M_STOP_COPY:
    case M_RESUMING:
        return true;
    case M_RUNNING_P2P:
        return (f & M_P2P) != 0;
    case M_PRE_COPY:
        return (f & M_PRE) != 0;
    case M_PRE_COPY_P2P:
        return (f & M_P2P) && (f & M_PRE);
    default:
        return false;
    }
}

static bool model_saving(uint32_t s)
{
    return s == M_PRE_COPY || s == M_PRE_COPY_P2P || s == M_STOP_COPY;
}

/*
 * The arcs a device with flag set f implements, written from the uAPI and
 * the kernel comment (docs/decisions.md, FSM arcs): always RESUMING <->
 * STOP and STOP <-> STOP_COPY; RUNNING <-> STOP without P2P; the four
 * RUNNING_P2P arcs with P2P; RUNNING <-> PRE_COPY with PRE_COPY, and
 * PRE_COPY -> STOP_COPY only without P2P; the five PRE_COPY_P2P arcs with
 * both.
 */
static bool model_arc(uint64_t f, uint32_t a, uint32_t b)
{
    bool p2p = (f & M_P2P) != 0, pre = (f & M_PRE) != 0;

#define ARC(x, y) (a == (x) && b == (y))
    if (ARC(M_RESUMING, M_STOP) || ARC(M_STOP, M_RESUMING) ||
        ARC(M_STOP, M_STOP_COPY) || ARC(M_STOP_COPY, M_STOP))
        return true;
    if (!p2p && (ARC(M_RUNNING, M_STOP) || ARC(M_STOP, M_RUNNING)))
        return true;
    if (p2p &&
        (ARC(M_RUNNING, M_RUNNING_P2P) || ARC(M_RUNNING_P2P, M_RUNNING) ||
         ARC(M_RUNNING_P2P, M_STOP) || ARC(M_STOP, M_RUNNING_P2P)))
        return true;
    if (pre && (ARC(M_RUNNING, M_PRE_COPY) || ARC(M_PRE_COPY, M_RUNNING)))
        return true;
    if (pre && !p2p && ARC(M_PRE_COPY, M_STOP_COPY))
        return true;
    if (pre && p2p &&
        (ARC(M_PRE_COPY, M_PRE_COPY_P2P) || ARC(M_PRE_COPY_P2P, M_PRE_COPY) ||
         ARC(M_PRE_COPY_P2P, M_RUNNING_P2P) ||
         ARC(M_PRE_COPY_P2P, M_STOP_COPY) ||
         ARC(M_RUNNING_P2P, M_PRE_COPY_P2P)))
        return true;
#undef ARC
    return false;
}

struct mpath {
    uint32_t s[M_MAXLEN + 1]; /* s[0] = from, s[len] = to */
    size_t len;               /* in arcs */
};

/*
 * Breadth-first search, level by level, over simple paths (a shortest
 * valid path never repeats a state: cutting the loop out keeps every
 * entering arc where it was). Returns how many shortest valid paths there
 * are and stores them in out[]; 0 if there is none.
 */
#define M_FRONTIER 4096
static size_t model_shortest(uint64_t f, uint32_t from, uint32_t to,
                             struct mpath *out, size_t cap)
{
    static struct mpath cur[M_FRONTIER], nxt[M_FRONTIER];
    size_t ncur = 1, nnxt, nout = 0, level, i;
    uint32_t t;

    cur[0].s[0] = from;
    cur[0].len = 0;
    if (from == to) {
        out[0] = cur[0];
        return 1;
    }
    for (level = 1; level <= M_MAXLEN && ncur > 0; level++) {
        nnxt = 0;
        for (i = 0; i < ncur; i++) {
            const struct mpath *p = &cur[i];
            uint32_t last = p->s[p->len];

            for (t = 0; t < M_NSTATES; t++) {
                struct mpath q;
                size_t k;
                bool seen = false;

                if (!model_arc(f, last, t))
                    continue;
                assert_true(model_supported(f, last));
                assert_true(model_supported(f, t));
                for (k = 0; k <= p->len; k++)
                    seen = seen || p->s[k] == t;
                if (seen)
                    continue;
                /* The saving-group rule: entering only as the last arc. */
                if (!model_saving(last) && model_saving(t) && t != to)
                    continue;
                q = *p;
                q.s[++q.len] = t;
                if (t == to) {
                    assert_true(nout < cap);
                    out[nout++] = q;
                } else {
                    assert_true(nnxt < M_FRONTIER);
                    nxt[nnxt++] = q;
                }
            }
        }
        if (nout > 0)
            return nout;
        memcpy(cur, nxt, nnxt * sizeof(nxt[0]));
        ncur = nnxt;
    }
    return 0;
}

static size_t interior_saving(const struct mpath *p)
{
    size_t k, n = 0;

    for (k = 1; k < p->len; k++)
        n += model_saving(p->s[k]);
    return n;
}

/* The reason the model expects, in the documented order of checks. */
static enum vuc_fsm_reject model_reason(uint64_t f, uint32_t cur, uint32_t to)
{
    if (!model_valid_flags(f))
        return VUC_FSM_REJ_BAD_FLAGS;
    if (to >= M_NSTATES)
        return VUC_FSM_REJ_STATE_RANGE;
    if (to == M_ERROR)
        return VUC_FSM_REJ_ERROR_REQUESTED;
    if (!model_supported(f, to))
        return VUC_FSM_REJ_UNSUPPORTED;
    if (cur == M_ERROR)
        return VUC_FSM_REJ_FROM_ERROR;
    if (cur >= M_NSTATES || !model_supported(f, cur))
        return VUC_FSM_REJ_CUR_UNSUPPORTED;
    if (cur == M_STOP_COPY && (to == M_PRE_COPY || to == M_PRE_COPY_P2P))
        return VUC_FSM_REJ_BLOCKED;
    return VUC_FSM_OK;
}

static const char *sname(uint32_t s)
{
    return s < M_NSTATES ? names[s] : "(out of range)";
}

/*
 * Checks one (flags, from, to) request against the model. Returns the
 * model's path length, or -1 when the model rejects it.
 */
static int check_one(uint64_t f, uint32_t from, uint32_t to)
{
    static struct mpath found[64];
    enum vuc_fsm_reject want = model_reason(f, from, to);
    uint32_t path[VUC_FSM_MAX_PATH + 2];
    uint32_t next = 0xdeadbeef;
    size_t nfound = 0, best = 0, nbest = 0, i, k, min_int = SIZE_MAX;
    int n;

    if (want == VUC_FSM_OK) {
        nfound = model_shortest(f, from, to, found, 64);
        if (nfound == 0)
            fail_msg("flags %#llx %s->%s: no valid path and no reason",
                     (unsigned long long)f, sname(from), sname(to));
    }
    assert_int_equal(vuc_fsm_check(f, from, to), want);

    if (want != VUC_FSM_OK) {
        memset(path, 0xa5, sizeof(path));
        assert_int_equal(vuc_fsm_path(f, from, to, path, VUC_FSM_MAX_PATH),
                         -EINVAL);
        assert_int_equal(path[0], 0xa5a5a5a5u); /* nothing written */
        assert_int_equal(vuc_fsm_next(f, from, to, &next), -EINVAL);
        assert_int_equal(next, 0xdeadbeef);
        return -1;
    }

    /* Tie-break: fewest interior saving-group states; must be unique. */
    for (i = 0; i < nfound; i++)
        if (interior_saving(&found[i]) < min_int)
            min_int = interior_saving(&found[i]);
    for (i = 0; i < nfound; i++) {
        if (interior_saving(&found[i]) == min_int) {
            best = i;
            nbest++;
        }
    }
    if (nbest != 1)
        fail_msg("flags %#llx %s->%s: %zu shortest paths left after the "
                 "tie-break",
                 (unsigned long long)f, sname(from), sname(to), nbest);

    memset(path, 0xa5, sizeof(path));
    n = vuc_fsm_path(f, from, to, path, VUC_FSM_MAX_PATH);
    assert_true(n >= 0);
    if ((size_t)n != found[best].len)
        fail_msg("flags %#llx %s->%s: fsm path has %d hops, model %zu",
                 (unsigned long long)f, sname(from), sname(to), n,
                 found[best].len);
    assert_true(n <= VUC_FSM_MAX_PATH);
    assert_int_equal(path[n], 0xa5a5a5a5u); /* no write past n */
    for (k = 0; k < (size_t)n; k++) {
        uint32_t a = k == 0 ? from : path[k - 1];

        if (path[k] != found[best].s[k + 1])
            fail_msg("flags %#llx %s->%s: hop %zu is %s, model says %s",
                     (unsigned long long)f, sname(from), sname(to), k,
                     sname(path[k]), sname(found[best].s[k + 1]));
        /* Every hop is a direct arc, by the module's and our account. */
        assert_true(vuc_fsm_is_direct_arc(f, a, path[k]));
        assert_true(model_arc(f, a, path[k]));
        /* The server steps with vuc_fsm_next(); it must walk the path. */
        assert_int_equal(vuc_fsm_next(f, a, to, &next), 0);
        assert_int_equal(next, path[k]);
    }
    if (n == 0) {
        assert_int_equal(vuc_fsm_next(f, from, to, &next), 0);
        assert_int_equal(next, from);
    } else {
        uint32_t small[VUC_FSM_MAX_PATH + 1];

        /* -ENOSPC one short, success at exactly n, nothing written. */
        memset(small, 0x5a, sizeof(small));
        assert_int_equal(vuc_fsm_path(f, from, to, small, (size_t)n - 1),
                         -ENOSPC);
        assert_int_equal(small[0], 0x5a5a5a5au);
        assert_int_equal(vuc_fsm_path(f, from, to, small, (size_t)n), n);
        assert_memory_equal(small, path, (size_t)n * sizeof(path[0]));
        assert_int_equal(vuc_fsm_path(f, from, to, NULL, 0), -ENOSPC);
    }
    return n;
}

static void test_flag_sets(void **state)
{
    uint64_t f;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        assert_int_equal(vuc_fsm_flag_sets[i], model_sets[i]);
        assert_true(vuc_fsm_flags_valid(model_sets[i]));
    }
    for (f = 0; f < 64; f++)
        assert_int_equal(vuc_fsm_flags_valid(f), model_valid_flags(f));
    assert_false(vuc_fsm_flags_valid(0));
    assert_false(vuc_fsm_flags_valid(M_P2P));
    assert_false(vuc_fsm_flags_valid(M_PRE | M_P2P));
    assert_false(vuc_fsm_flags_valid(0x8 | M_SC));
    assert_false(vuc_fsm_flags_valid(1ull << 63 | M_SC));
    assert_false(vuc_fsm_flags_valid(~0ull));
}

static void test_state_supported(void **state)
{
    static const uint64_t bad[] = {0,          M_P2P, M_PRE, M_P2P | M_PRE,
                                   0x8 | M_SC, ~0ull};
    size_t i, j;
    uint32_t s;

    (void)state;
    for (i = 0; i < 4; i++) {
        for (s = 0; s < M_NSTATES; s++)
            assert_int_equal(vuc_fsm_state_supported(model_sets[i], s),
                             model_supported(model_sets[i], s));
        /* ERROR and RUNNING by every valid set (uAPI) */
        assert_true(vuc_fsm_state_supported(model_sets[i], M_ERROR));
        assert_true(vuc_fsm_state_supported(model_sets[i], M_RUNNING));
        for (j = 0; j < sizeof(out_of_range) / sizeof(out_of_range[0]); j++)
            assert_false(
                vuc_fsm_state_supported(model_sets[i], out_of_range[j]));
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        for (s = 0; s < M_NSTATES; s++)
            assert_false(vuc_fsm_state_supported(bad[i], s));
}

static void test_direct_arcs(void **state)
{
    size_t i, j;
    uint32_t a, b;
    unsigned int count[4] = {0};

    (void)state;
    for (i = 0; i < 4; i++) {
        uint64_t f = model_sets[i];

        for (a = 0; a < M_NSTATES; a++) {
            for (b = 0; b < M_NSTATES; b++) {
                bool want = model_arc(f, a, b);

                if (vuc_fsm_is_direct_arc(f, a, b) != want)
                    fail_msg("flags %#llx arc %s->%s: fsm %d, model %d",
                             (unsigned long long)f, names[a], names[b], !want,
                             want);
                count[i] += want;
            }
            for (j = 0; j < sizeof(out_of_range) / sizeof(out_of_range[0]);
                 j++) {
                assert_false(vuc_fsm_is_direct_arc(f, a, out_of_range[j]));
                assert_false(vuc_fsm_is_direct_arc(f, out_of_range[j], a));
            }
            /* no arc touches ERROR */
            assert_false(vuc_fsm_is_direct_arc(f, a, M_ERROR));
            assert_false(vuc_fsm_is_direct_arc(f, M_ERROR, a));
        }
        assert_false(vuc_fsm_is_direct_arc(f, M_STOP_COPY, M_PRE_COPY));
        assert_false(vuc_fsm_is_direct_arc(f, M_STOP_COPY, M_PRE_COPY_P2P));
    }
    /* 4 always + 2 RUNNING<->STOP; +4 P2P -2; +3 PRE; +5 +2 PRE&P2P */
    assert_int_equal(count[0], 6);
    assert_int_equal(count[1], 8);
    assert_int_equal(count[2], 9);
    assert_int_equal(count[3], 15);
    for (a = 0; a < M_NSTATES; a++)
        for (b = 0; b < M_NSTATES; b++) {
            assert_false(vuc_fsm_is_direct_arc(0, a, b));
            assert_false(vuc_fsm_is_direct_arc(0x8 | M_SC, a, b));
        }
}

/* The core: every flag set, all 64 pairs, and out-of-range states. */
static void test_paths_match_bfs(void **state)
{
    size_t i, j;
    uint32_t a, b;

    (void)state;
    for (i = 0; i < 4; i++) {
        uint64_t f = model_sets[i];
        unsigned int accepted = 0;

        for (a = 0; a < M_NSTATES; a++)
            for (b = 0; b < M_NSTATES; b++)
                accepted += check_one(f, a, b) >= 0;
        for (j = 0; j < sizeof(out_of_range) / sizeof(out_of_range[0]); j++)
            for (a = 0; a < M_NSTATES; a++) {
                assert_int_equal(check_one(f, a, out_of_range[j]), -1);
                assert_int_equal(check_one(f, out_of_range[j], a), -1);
            }
        /* supported non-ERROR states squared, minus the blocked pairs */
        switch (i) {
        case 0:
        case 1:
            assert_int_equal(accepted, i == 0 ? 16 : 25);
            break;
        case 2:
            assert_int_equal(accepted, 25 - 1);
            break;
        case 3:
            assert_int_equal(accepted, 49 - 2);
            break;
        }
    }
}

/*
 * A third, independent oracle: the list of combination transitions in the
 * comment above the kernel's vfio_from_fsm_table, "if all optional
 * features are supported". Every other accepted pair is a single arc.
 */
static void test_kernel_comment_paths(void **state)
{
    static const uint32_t listed[][7] = {
        /* from, hops..., terminated by M_NSTATES */
        {M_PRE_COPY, M_PRE_COPY_P2P, M_STOP_COPY, M_NSTATES},
        {M_PRE_COPY, M_RUNNING, M_RUNNING_P2P, M_NSTATES},
        {M_PRE_COPY, M_RUNNING, M_RUNNING_P2P, M_STOP, M_NSTATES},
        {M_PRE_COPY, M_RUNNING, M_RUNNING_P2P, M_STOP, M_RESUMING, M_NSTATES},
        {M_PRE_COPY_P2P, M_RUNNING_P2P, M_RUNNING, M_NSTATES},
        {M_PRE_COPY_P2P, M_RUNNING_P2P, M_STOP, M_NSTATES},
        {M_PRE_COPY_P2P, M_RUNNING_P2P, M_STOP, M_RESUMING, M_NSTATES},
        {M_RESUMING, M_STOP, M_RUNNING_P2P, M_NSTATES},
        {M_RESUMING, M_STOP, M_RUNNING_P2P, M_PRE_COPY_P2P, M_NSTATES},
        {M_RESUMING, M_STOP, M_RUNNING_P2P, M_RUNNING, M_NSTATES},
        {M_RESUMING, M_STOP, M_RUNNING_P2P, M_RUNNING, M_PRE_COPY, M_NSTATES},
        {M_RESUMING, M_STOP, M_STOP_COPY, M_NSTATES},
        {M_RUNNING, M_RUNNING_P2P, M_PRE_COPY_P2P, M_NSTATES},
        {M_RUNNING, M_RUNNING_P2P, M_STOP, M_NSTATES},
        {M_RUNNING, M_RUNNING_P2P, M_STOP, M_RESUMING, M_NSTATES},
        {M_RUNNING, M_RUNNING_P2P, M_STOP, M_STOP_COPY, M_NSTATES},
        {M_RUNNING_P2P, M_RUNNING, M_PRE_COPY, M_NSTATES},
        {M_RUNNING_P2P, M_STOP, M_RESUMING, M_NSTATES},
        {M_RUNNING_P2P, M_STOP, M_STOP_COPY, M_NSTATES},
        {M_STOP, M_RUNNING_P2P, M_PRE_COPY_P2P, M_NSTATES},
        {M_STOP, M_RUNNING_P2P, M_RUNNING, M_NSTATES},
        {M_STOP, M_RUNNING_P2P, M_RUNNING, M_PRE_COPY, M_NSTATES},
        {M_STOP_COPY, M_STOP, M_RESUMING, M_NSTATES},
        {M_STOP_COPY, M_STOP, M_RUNNING_P2P, M_NSTATES},
        {M_STOP_COPY, M_STOP, M_RUNNING_P2P, M_RUNNING, M_NSTATES},
    };
    const uint64_t f = M_SC | M_P2P | M_PRE;
    bool multi[M_NSTATES][M_NSTATES] = {{false}};
    uint32_t path[VUC_FSM_MAX_PATH];
    size_t i, k, len;
    uint32_t a, b;
    int n;

    (void)state;
    for (i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
        for (len = 1; listed[i][len] != M_NSTATES; len++)
            ;
        len--; /* arcs */
        a = listed[i][0];
        b = listed[i][len];
        assert_false(multi[a][b]); /* the list names each pair once */
        multi[a][b] = true;
        n = vuc_fsm_path(f, a, b, path, VUC_FSM_MAX_PATH);
        assert_int_equal(n, (int)len);
        for (k = 0; k < len; k++)
            assert_int_equal(path[k], listed[i][k + 1]);
    }
    for (a = 1; a < M_NSTATES; a++)
        for (b = 1; b < M_NSTATES; b++) {
            n = vuc_fsm_path(f, a, b, path, VUC_FSM_MAX_PATH);
            if (a == M_STOP_COPY && (b == M_PRE_COPY || b == M_PRE_COPY_P2P)) {
                /* "The following transitions are blocked" */
                assert_int_equal(n, -EINVAL);
                assert_int_equal(vuc_fsm_check(f, a, b), VUC_FSM_REJ_BLOCKED);
            } else if (!multi[a][b]) {
                assert_int_equal(n, a == b ? 0 : 1);
            }
        }
}

static void test_invalid_flag_sets(void **state)
{
    static const uint64_t bad[] = {
        0,
        M_P2P,
        M_PRE,
        M_P2P | M_PRE,
        0x8 | M_SC,
        0x8 | M_SC | M_P2P | M_PRE,
        1ull << 63 | M_SC,
        ~0ull,
    };
    uint32_t path[VUC_FSM_MAX_PATH];
    uint32_t next = 42;
    size_t i;
    uint32_t a, b;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (a = 0; a < M_NSTATES; a++)
            for (b = 0; b < M_NSTATES; b++) {
                assert_int_equal(vuc_fsm_check(bad[i], a, b),
                                 VUC_FSM_REJ_BAD_FLAGS);
                assert_int_equal(
                    vuc_fsm_path(bad[i], a, b, path, VUC_FSM_MAX_PATH),
                    -EINVAL);
                assert_int_equal(vuc_fsm_next(bad[i], a, b, &next), -EINVAL);
                assert_int_equal(next, 42);
            }
        /* bad flags come first, even before a bad state number */
        assert_int_equal(vuc_fsm_check(bad[i], 8, 0xffffffff),
                         VUC_FSM_REJ_BAD_FLAGS);
    }
}

static void test_state_numbers(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        uint64_t f = model_sets[i];
        uint32_t next = 42;

        assert_int_equal(vuc_fsm_check(f, M_RUNNING, 8),
                         VUC_FSM_REJ_STATE_RANGE);
        assert_int_equal(vuc_fsm_check(f, M_RUNNING, 0xffffffff),
                         VUC_FSM_REJ_STATE_RANGE);
        assert_int_equal(vuc_fsm_check(f, M_ERROR, 8), VUC_FSM_REJ_STATE_RANGE);
        assert_int_equal(vuc_fsm_check(f, 8, M_STOP),
                         VUC_FSM_REJ_CUR_UNSUPPORTED);
        assert_int_equal(vuc_fsm_check(f, 0xffffffff, M_RUNNING),
                         VUC_FSM_REJ_CUR_UNSUPPORTED);
        assert_int_equal(vuc_fsm_check(f, 8, M_ERROR),
                         VUC_FSM_REJ_ERROR_REQUESTED);
        assert_int_equal(vuc_fsm_check(f, 0xffffffff, 0xffffffff),
                         VUC_FSM_REJ_STATE_RANGE);
        assert_int_equal(vuc_fsm_next(f, 0xffffffff, M_STOP, &next), -EINVAL);
        assert_int_equal(vuc_fsm_next(f, M_STOP, 8, &next), -EINVAL);
        assert_int_equal(next, 42);
        /* 7 is the last state: PRE_COPY_P2P, supported only with both */
        assert_int_equal(vuc_fsm_check(f, M_RUNNING, 7),
                         f == (M_SC | M_P2P | M_PRE) ? VUC_FSM_OK
                                                     : VUC_FSM_REJ_UNSUPPORTED);
    }
    assert_false(vuc_fsm_is_saving(8));
    assert_false(vuc_fsm_is_saving(0xffffffff));
    assert_int_equal(vuc_fsm_arc_effect(8, M_STOP), VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_STOP, 0xffffffff),
                     VUC_FSM_EFFECT_NONE);
}

static void test_check_order(void **state)
{
    const uint64_t sc = M_SC, all = M_SC | M_P2P | M_PRE;
    uint32_t next = 42;

    (void)state;
    /* target ERROR is reported before current ERROR */
    assert_int_equal(vuc_fsm_check(all, M_ERROR, M_ERROR),
                     VUC_FSM_REJ_ERROR_REQUESTED);
    assert_int_equal(vuc_fsm_check(all, M_STOP, M_ERROR),
                     VUC_FSM_REJ_ERROR_REQUESTED);
    /* unsupported target before current ERROR */
    assert_int_equal(vuc_fsm_check(sc, M_ERROR, M_RUNNING_P2P),
                     VUC_FSM_REJ_UNSUPPORTED);
    assert_int_equal(vuc_fsm_check(sc, M_ERROR, M_STOP),
                     VUC_FSM_REJ_FROM_ERROR);
    /* ERROR -> ERROR is not an empty path: ERROR cannot be requested */
    assert_int_equal(vuc_fsm_next(all, M_ERROR, M_ERROR, &next), -EINVAL);
    assert_int_equal(next, 42);
    /* current state the flag set lacks */
    assert_int_equal(vuc_fsm_check(sc, M_RUNNING_P2P, M_STOP),
                     VUC_FSM_REJ_CUR_UNSUPPORTED);
    assert_int_equal(vuc_fsm_check(sc, M_PRE_COPY, M_RUNNING),
                     VUC_FSM_REJ_CUR_UNSUPPORTED);
    /* blocked needs a supported target first */
    assert_int_equal(vuc_fsm_check(M_SC | M_PRE, M_STOP_COPY, M_PRE_COPY),
                     VUC_FSM_REJ_BLOCKED);
    assert_int_equal(vuc_fsm_check(sc, M_STOP_COPY, M_PRE_COPY),
                     VUC_FSM_REJ_UNSUPPORTED);
    assert_int_equal(vuc_fsm_check(M_SC | M_PRE, M_STOP_COPY, M_PRE_COPY_P2P),
                     VUC_FSM_REJ_UNSUPPORTED);
    assert_int_equal(vuc_fsm_check(all, M_STOP_COPY, M_PRE_COPY_P2P),
                     VUC_FSM_REJ_BLOCKED);
    /* cur == target: accepted, empty path, next is cur */
    assert_int_equal(vuc_fsm_check(all, M_STOP_COPY, M_STOP_COPY), VUC_FSM_OK);
    assert_int_equal(vuc_fsm_path(all, M_STOP_COPY, M_STOP_COPY, NULL, 0), 0);
    assert_int_equal(vuc_fsm_next(all, M_RESUMING, M_RESUMING, &next), 0);
    assert_int_equal(next, M_RESUMING);
}

static void test_path_buffer(void **state)
{
    const uint64_t all = M_SC | M_P2P | M_PRE;
    uint32_t path[VUC_FSM_MAX_PATH];
    static const uint32_t want[4] = {M_STOP, M_RUNNING_P2P, M_RUNNING,
                                     M_PRE_COPY};

    (void)state;
    /* the longest path (VUC_FSM_MAX_PATH's comment): RESUMING->PRE_COPY */
    memset(path, 0, sizeof(path));
    assert_int_equal(vuc_fsm_path(all, M_RESUMING, M_PRE_COPY, path, 3),
                     -ENOSPC);
    assert_int_equal(path[0], 0);
    assert_int_equal(vuc_fsm_path(all, M_RESUMING, M_PRE_COPY, path, 4), 4);
    assert_memory_equal(path, want, sizeof(want));
    assert_int_equal(vuc_fsm_path(all, M_RESUMING, M_PRE_COPY, path, 0),
                     -ENOSPC);
    /* -EINVAL wins over -ENOSPC */
    assert_int_equal(vuc_fsm_path(all, M_STOP_COPY, M_PRE_COPY, NULL, 0),
                     -EINVAL);
    assert_int_equal(vuc_fsm_path(all, M_STOP, M_STOP, path, 0), 0);
}

static void test_arc_effects(void **state)
{
    size_t i;
    uint32_t a, b;

    (void)state;
    /* the named ones */
    assert_int_equal(vuc_fsm_arc_effect(M_STOP, M_STOP_COPY),
                     VUC_FSM_EFFECT_OPEN_SAVE);
    assert_int_equal(vuc_fsm_arc_effect(M_RUNNING, M_PRE_COPY),
                     VUC_FSM_EFFECT_OPEN_SAVE);
    assert_int_equal(vuc_fsm_arc_effect(M_RUNNING_P2P, M_PRE_COPY_P2P),
                     VUC_FSM_EFFECT_OPEN_SAVE);
    assert_int_equal(vuc_fsm_arc_effect(M_PRE_COPY, M_STOP_COPY),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_PRE_COPY, M_PRE_COPY_P2P),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_PRE_COPY_P2P, M_STOP_COPY),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_STOP_COPY, M_STOP),
                     VUC_FSM_EFFECT_END_SAVE);
    assert_int_equal(vuc_fsm_arc_effect(M_PRE_COPY, M_RUNNING),
                     VUC_FSM_EFFECT_END_SAVE);
    assert_int_equal(vuc_fsm_arc_effect(M_PRE_COPY_P2P, M_RUNNING_P2P),
                     VUC_FSM_EFFECT_END_SAVE);
    assert_int_equal(vuc_fsm_arc_effect(M_STOP, M_RESUMING),
                     VUC_FSM_EFFECT_OPEN_RESUME);
    assert_int_equal(vuc_fsm_arc_effect(M_RESUMING, M_STOP),
                     VUC_FSM_EFFECT_END_RESUME);
    assert_int_equal(vuc_fsm_arc_effect(M_RUNNING, M_STOP),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_STOP, M_RUNNING_P2P),
                     VUC_FSM_EFFECT_NONE);
    /* every arc of every set, by the model's account */
    for (i = 0; i < 4; i++)
        for (a = 0; a < M_NSTATES; a++)
            for (b = 0; b < M_NSTATES; b++) {
                enum vuc_fsm_effect want = VUC_FSM_EFFECT_NONE;

                if (!model_arc(model_sets[i], a, b))
                    continue;
                if (a == M_STOP && b == M_RESUMING)
                    want = VUC_FSM_EFFECT_OPEN_RESUME;
                else if (a == M_RESUMING && b == M_STOP)
                    want = VUC_FSM_EFFECT_END_RESUME;
                else if (!model_saving(a) && model_saving(b))
                    want = VUC_FSM_EFFECT_OPEN_SAVE;
                else if (model_saving(a) && !model_saving(b))
                    want = VUC_FSM_EFFECT_END_SAVE;
                assert_int_equal(vuc_fsm_arc_effect(a, b), want);
            }
    /* pairs that are no arc of any set have no effect */
    assert_int_equal(vuc_fsm_arc_effect(M_STOP, M_STOP), VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_STOP_COPY, M_STOP_COPY),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_STOP_COPY, M_PRE_COPY),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_RUNNING, M_RESUMING),
                     VUC_FSM_EFFECT_NONE);
    assert_int_equal(vuc_fsm_arc_effect(M_RUNNING, M_ERROR),
                     VUC_FSM_EFFECT_NONE);

    /* a whole migration, source and destination: one session each */
    {
        const uint64_t all = M_SC | M_P2P | M_PRE;
        uint32_t path[VUC_FSM_MAX_PATH];
        int opened = 0, ended = 0, k, n;
        uint32_t s = M_RUNNING;

        n = vuc_fsm_path(all, s, M_PRE_COPY, path, VUC_FSM_MAX_PATH);
        assert_int_equal(n, 1);
        opened += vuc_fsm_arc_effect(s, path[0]) == VUC_FSM_EFFECT_OPEN_SAVE;
        s = path[0];
        n = vuc_fsm_path(all, s, M_STOP_COPY, path, VUC_FSM_MAX_PATH);
        assert_int_equal(n, 2);
        for (k = 0; k < n; k++) {
            assert_int_equal(vuc_fsm_arc_effect(s, path[k]),
                             VUC_FSM_EFFECT_NONE);
            s = path[k];
        }
        n = vuc_fsm_path(all, s, M_STOP, path, VUC_FSM_MAX_PATH);
        assert_int_equal(n, 1);
        ended += vuc_fsm_arc_effect(s, path[0]) == VUC_FSM_EFFECT_END_SAVE;
        assert_int_equal(opened, 1);
        assert_int_equal(ended, 1);
    }
}

static void test_is_saving(void **state)
{
    uint32_t s;

    (void)state;
    for (s = 0; s < M_NSTATES; s++)
        assert_int_equal(vuc_fsm_is_saving(s), model_saving(s));
}

static void test_reject_str(void **state)
{
    const char *seen[8];
    int r, k;

    (void)state;
    for (r = VUC_FSM_OK; r <= VUC_FSM_REJ_CUR_UNSUPPORTED; r++) {
        seen[r] = vuc_fsm_reject_str((enum vuc_fsm_reject)r);
        assert_non_null(seen[r]);
        assert_true(strlen(seen[r]) > 0);
        for (k = 0; k < r; k++)
            assert_string_not_equal(seen[k], seen[r]);
    }
    assert_non_null(vuc_fsm_reject_str((enum vuc_fsm_reject)8));
    assert_non_null(vuc_fsm_reject_str((enum vuc_fsm_reject) - 1));
}

static void test_flags_parse(void **state)
{
    static const struct {
        const char *s;
        uint64_t f;
    } good[] = {
        {"stop-copy", M_SC},
        {"stop_copy", M_SC},
        {"stop-copy,p2p", M_SC | M_P2P},
        {"p2p,stop-copy", M_SC | M_P2P},
        {"stop-copy,pre-copy", M_SC | M_PRE},
        {"pre_copy,stop_copy", M_SC | M_PRE},
        {"stop-copy,p2p,pre-copy", M_SC | M_P2P | M_PRE},
        {"pre-copy,stop-copy,p2p", M_SC | M_P2P | M_PRE},
        {"p2p,pre_copy,stop-copy", M_SC | M_P2P | M_PRE},
        {"stop-copy,stop_copy", M_SC},
        {"p2p,stop-copy,p2p", M_SC | M_P2P},
    };
    static const char *const bad[] = {
        "",
        "p2p",
        "pre-copy",
        "p2p,pre-copy",
        "stop-copy,",
        ",stop-copy",
        "stop-copy,,p2p",
        ",",
        "stop-copy,bogus",
        "Stop-Copy",
        "STOP_COPY",
        "stop-copy ,p2p",
        " stop-copy",
        "stopcopy",
        "stop-cop",
        "stop-copyx",
        "stop-copy,p2p2",
        "stop-copy;p2p",
        "stop-copy,p2p,pre-copy,extra",
    };
    size_t i;
    uint64_t f;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        f = 0xdead;
        assert_int_equal(vuc_fsm_flags_parse(good[i].s, &f), 0);
        assert_int_equal(f, good[i].f);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = 0xdead;
        if (vuc_fsm_flags_parse(bad[i], &f) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(f, 0xdead);
    }
}

static void test_flags_str(void **state)
{
    static const char *const canon[4] = {
        "stop-copy",
        "stop-copy,p2p",
        "stop-copy,pre-copy",
        "stop-copy,p2p,pre-copy",
    };
    char buf[48];
    uint64_t f;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        assert_ptr_equal(vuc_fsm_flags_str(model_sets[i], buf, sizeof(buf)),
                         buf);
        assert_string_equal(buf, canon[i]);
        f = 0;
        assert_int_equal(vuc_fsm_flags_parse(buf, &f), 0);
        assert_int_equal(f, model_sets[i]);
    }
    assert_string_equal(vuc_fsm_flags_str(0, buf, sizeof(buf)), "");
    assert_string_equal(vuc_fsm_flags_str(M_P2P, buf, sizeof(buf)), "p2p");
    assert_string_equal(vuc_fsm_flags_str(0x8 | M_SC, buf, sizeof(buf)),
                        "stop-copy,0x8");
    assert_string_equal(vuc_fsm_flags_str(1ull << 63, buf, sizeof(buf)),
                        "0x8000000000000000");
    /* the longest possible text fits the documented 48 bytes */
    assert_string_equal(vuc_fsm_flags_str(~0ull, buf, sizeof(buf)),
                        "stop-copy,p2p,pre-copy,0xfffffffffffffff8");
    /* an invalid set never round-trips into a valid one */
    vuc_fsm_flags_str(0x8 | M_SC, buf, sizeof(buf));
    assert_int_equal(vuc_fsm_flags_parse(buf, &f), -EINVAL);
    /* truncation */
    assert_string_equal(vuc_fsm_flags_str(M_SC | M_P2P, buf, 5), "stop");
    assert_string_equal(vuc_fsm_flags_str(M_SC | M_P2P, buf, 10), "stop-copy");
    assert_string_equal(vuc_fsm_flags_str(M_SC | M_P2P, buf, 11), "stop-copy,");
    assert_string_equal(vuc_fsm_flags_str(M_SC | M_P2P, buf, 1), "");
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(vuc_fsm_flags_str(M_SC, buf, 0), buf);
    assert_int_equal(buf[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_sets),
        cmocka_unit_test(test_state_supported),
        cmocka_unit_test(test_direct_arcs),
        cmocka_unit_test(test_paths_match_bfs),
        cmocka_unit_test(test_kernel_comment_paths),
        cmocka_unit_test(test_invalid_flag_sets),
        cmocka_unit_test(test_state_numbers),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_path_buffer),
        cmocka_unit_test(test_arc_effects),
        cmocka_unit_test(test_is_saving),
        cmocka_unit_test(test_reject_str),
        cmocka_unit_test(test_flags_parse),
        cmocka_unit_test(test_flags_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
