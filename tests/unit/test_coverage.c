// SPDX-License-Identifier: BSD-3-Clause
/*
 * The spec traceability table (cases/spec_coverage.tsv): every row names
 * cases that exist, or says why it has none; no two rows share an id; the
 * keyword is one the spec's grading knows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vucert/harness.h"

static struct vuc_case cases[VUC_MAX_CASES];
static size_t n_cases;

static void test_rows_parse(void **state)
{
    const struct vuc_spec_row *rows;
    char err[160] = "";
    size_t n = 0;

    (void)state;
    assert_int_equal(vuc_spec_rows(&rows, &n, err, sizeof(err)), 0);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(rows[i].id[0] && rows[i].section[0] && rows[i].sentence[0]);
        /* cases, or a reason: never both, never neither */
        assert_true((rows[i].cases[0] == '\0') != (rows[i].reason[0] == '\0'));
        for (size_t j = 0; j < i; j++)
            if (strcmp(rows[i].id, rows[j].id) == 0)
                fail_msg("row id %s twice", rows[i].id);
    }
}

/* Every id or glob a row names matches a case that exists. */
static void test_rows_name_real_cases(void **state)
{
    const struct vuc_spec_row *rows;
    size_t n;

    (void)state;
    assert_int_equal(vuc_spec_rows(&rows, &n, NULL, 0), 0);
    for (size_t i = 0; i < n; i++) {
        const char *p = rows[i].cases;

        while (*p) {
            char one[128];
            size_t len = strcspn(p, " ");
            struct vuc_spec_row single = rows[i];
            bool found = false;

            assert_true(len > 0 && len < sizeof(one));
            memcpy(one, p, len);
            one[len] = '\0';
            single.cases = one;
            for (size_t k = 0; k < n_cases && !found; k++)
                found = vuc_spec_row_names(&single, cases[k].id);
            if (!found)
                fail_msg("row %s names %s, which is no case", rows[i].id, one);
            p += len;
            p += strspn(p, " ");
        }
    }
}

/* A reason says which kind it is; a keyword is a normative word. */
static void test_reasons_and_keywords(void **state)
{
    static const char *const kw[] = {"must",
                                     "must not",
                                     "should",
                                     "should not",
                                     "may",
                                     "cannot",
                                     "not allowed",
                                     "is not allowed",
                                     "only",
                                     "will",
                                     "need to",
                                     "need to be supported",
                                     "is expected to",
                                     "strongly recommended",
                                     "required",
                                     "optional"};
    const struct vuc_spec_row *rows;
    struct vuc_coverage cov;
    size_t n, checkable = 0, covered = 0;

    (void)state;
    assert_int_equal(vuc_spec_rows(&rows, &n, NULL, 0), 0);
    for (size_t i = 0; i < n; i++) {
        bool ok = false;

        for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]) && !ok; k++)
            ok = strcmp(rows[i].keyword, kw[k]) == 0;
        if (!ok)
            fail_msg("row %s: keyword '%s'", rows[i].id, rows[i].keyword);
        if (rows[i].reason[0] &&
            strncmp(rows[i].reason, "not checkable: ", 15) != 0 &&
            strncmp(rows[i].reason, "uncovered: ", 11) != 0)
            fail_msg("row %s: a reason starts 'not checkable: ' or "
                     "'uncovered: '",
                     rows[i].id);
        checkable += vuc_spec_row_checkable(&rows[i]);
        covered += rows[i].cases[0] != '\0';
    }
    assert_int_equal(vuc_spec_coverage(&cov), 0);
    assert_int_equal(cov.rows, n);
    assert_int_equal(cov.checkable, checkable);
    assert_int_equal(cov.covered, covered);
    assert_true(cov.covered <= cov.checkable);
}

/* The glob rule: an id, or fnmatch over the whole id. */
static void test_row_names(void **state)
{
    struct vuc_spec_row r = {.cases = "fsm.RUNNING.STOP  robust.*.oversized"};

    (void)state;
    assert_true(vuc_spec_row_names(&r, "fsm.RUNNING.STOP"));
    assert_true(vuc_spec_row_names(&r, "robust.dma-map.oversized"));
    assert_false(vuc_spec_row_names(&r, "fsm.RUNNING.STOP_COPY"));
    assert_false(vuc_spec_row_names(&r, "robust.dma-map.short-payload"));
    r.cases = "";
    assert_false(vuc_spec_row_names(&r, "fsm.RUNNING.STOP"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_parse),
        cmocka_unit_test(test_rows_name_real_cases),
        cmocka_unit_test(test_reasons_and_keywords),
        cmocka_unit_test(test_row_names),
    };

    n_cases = vuc_cases_all(cases, VUC_MAX_CASES);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
