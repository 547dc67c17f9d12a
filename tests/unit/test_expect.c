// SPDX-License-Identifier: BSD-3-Clause
/*
 * The harness's expectation tables (cases/expect.c, written from the spec)
 * and the reference server's state machine (fsm/, the kernel's algorithm)
 * were written independently; this test proves they agree for all four
 * flag sets and all 64 (from, to) pairs, plus out-of-range states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cases_priv.h"
#include "vucert/fsm.h"

static void test_advertised_states(void **state)
{
    (void)state;
    for (size_t f = 0; f < 4; f++) {
        uint64_t flags = vuc_fsm_flag_sets[f];
        for (uint32_t s = 0; s < VUC_STATE_NR; s++)
            assert_int_equal(vuc_expect_state_advertised(flags, s),
                             vuc_fsm_state_supported(flags, s));
    }
}

static void test_direct_arcs(void **state)
{
    (void)state;
    for (size_t f = 0; f < 4; f++) {
        uint64_t flags = vuc_fsm_flag_sets[f];
        for (uint32_t a = 0; a < VUC_STATE_NR; a++)
            for (uint32_t b = 0; b < VUC_STATE_NR; b++)
                assert_int_equal(vuc_expect_direct_arc(flags, a, b),
                                 vuc_fsm_is_direct_arc(flags, a, b));
    }
}

static void test_matrix_agrees(void **state)
{
    unsigned accepted = 0, rejected = 0, skipped = 0;

    (void)state;
    for (size_t f = 0; f < 4; f++) {
        uint64_t flags = vuc_fsm_flag_sets[f];
        for (uint32_t from = 0; from < VUC_STATE_NR; from++) {
            for (uint32_t to = 0; to < VUC_STATE_NR; to++) {
                enum vuc_expect e = vuc_expect_set(flags, from, to);
                enum vuc_fsm_reject r = vuc_fsm_check(flags, from, to);
                uint32_t path[VUC_FSM_MAX_PATH];
                char why[160];
                int n;

                if (!vuc_fsm_state_supported(flags, from)) {
                    assert_int_equal(e, VUC_EXP_SKIP);
                    skipped++;
                    continue;
                }
                assert_int_not_equal(e, VUC_EXP_SKIP);
                if (r != VUC_FSM_OK) {
                    assert_int_not_equal(e, VUC_EXP_ACCEPT);
                    rejected++;
                    /* the reasons agree where only one applies */
                    if (from != VUC_STATE_ERROR) {
                        switch (e) {
                        case VUC_EXP_REJ_ERROR:
                            assert_int_equal(r, VUC_FSM_REJ_ERROR_REQUESTED);
                            break;
                        case VUC_EXP_REJ_UNADV:
                            assert_int_equal(r, VUC_FSM_REJ_UNSUPPORTED);
                            break;
                        case VUC_EXP_REJ_BLOCKED:
                            assert_int_equal(r, VUC_FSM_REJ_BLOCKED);
                            break;
                        default:
                            fail_msg("unexpected expectation %d", e);
                        }
                    }
                    assert_true(vuc_fsm_path(flags, from, to, path,
                                             VUC_FSM_MAX_PATH) < 0);
                    continue;
                }
                assert_int_equal(e, VUC_EXP_ACCEPT);
                accepted++;
                n = vuc_fsm_path(flags, from, to, path, VUC_FSM_MAX_PATH);
                assert_true(n >= 0);
                if (from == to) {
                    assert_int_equal(n, 0);
                    continue;
                }
                /* the kernel's path is acceptable to the harness ... */
                if (!vuc_expect_path_ok(flags, from, path, (size_t)n, why,
                                        sizeof(why)))
                    fail_msg("flags 0x%llx %u->%u: %s",
                             (unsigned long long)flags, from, to, why);
                /* ... and as short as the harness's shortest */
                assert_int_equal(n, vuc_expect_shortest(flags, from, to));
            }
        }
    }
    /* every cell was classified: 4 sets x 64 */
    assert_int_equal(accepted + rejected + skipped, 4 * 64);
    assert_true(accepted > 0 && rejected > 0 && skipped > 0);
}

static void test_out_of_range(void **state)
{
    static const uint32_t bad[] = {8, 9, 0x7fffffff, 0xffffffff};

    (void)state;
    for (size_t f = 0; f < 4; f++) {
        uint64_t flags = vuc_fsm_flag_sets[f];
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_int_equal(vuc_expect_set(flags, VUC_STATE_RUNNING, bad[i]),
                             VUC_EXP_REJ_UNADV);
            assert_int_equal(vuc_fsm_check(flags, VUC_STATE_RUNNING, bad[i]),
                             VUC_FSM_REJ_STATE_RANGE);
        }
    }
}

/* The harness's path judge must reject the paths the quirks walk. */
static void test_path_judge_rejects(void **state)
{
    const uint64_t sc_pre = VUC_MIGRATION_STOP_COPY | VUC_MIGRATION_PRE_COPY;
    const uint32_t via_precopy[] = {VUC_STATE_PRE_COPY, VUC_STATE_STOP_COPY};
    const uint32_t detour[] = {VUC_STATE_STOP, VUC_STATE_STOP_COPY,
                               VUC_STATE_STOP, VUC_STATE_RESUMING};
    const uint32_t direct_ok[] = {VUC_STATE_STOP, VUC_STATE_STOP_COPY};
    const uint32_t not_arc[] = {VUC_STATE_STOP_COPY};
    char why[160];

    (void)state;
    assert_false(vuc_expect_path_ok(sc_pre, VUC_STATE_RUNNING, via_precopy, 2,
                                    why, sizeof(why)));
    assert_false(vuc_expect_path_ok(VUC_MIGRATION_STOP_COPY, VUC_STATE_RUNNING,
                                    detour, 4, why, sizeof(why)));
    assert_true(vuc_expect_path_ok(sc_pre, VUC_STATE_RUNNING, direct_ok, 2, why,
                                   sizeof(why)));
    assert_false(vuc_expect_path_ok(sc_pre, VUC_STATE_RUNNING, not_arc, 1, why,
                                    sizeof(why)));
    assert_false(vuc_expect_path_ok(sc_pre, VUC_STATE_RUNNING, NULL, 0, why,
                                    sizeof(why)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advertised_states),
        cmocka_unit_test(test_direct_arcs),
        cmocka_unit_test(test_matrix_agrees),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_path_judge_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
