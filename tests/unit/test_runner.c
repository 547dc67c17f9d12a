// SPDX-License-Identifier: BSD-3-Clause
/*
 * The verdict bookkeeping of the runner (docs/verdicts.md): a BLOCKED
 * step names its owner and ends the case, a step owned by the case
 * itself is its own violation at its level, a FAIL already found stays,
 * checks are counted, notes kept once, and a source keyword gives the
 * level the spec's words give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vucert/harness.h"

struct fix {
    struct vuc_case c;
    struct vuc_result res;
    struct vuc_ctx ctx;
};

static void init(struct fix *f, const char *id, const char *source)
{
    memset(f, 0, sizeof(*f));
    strcpy(f->c.id, id);
    f->c.source = source;
    f->c.level = vuc_source_level(source);
    f->res.c = &f->c;
    f->res.verdict = VUC_PASS;
    f->ctx.res = &f->res;
    f->ctx.c = &f->c;
}

static void fini(struct fix *f)
{
    free(f->res.reason);
    free(f->res.exchange);
    free(f->res.root_cause);
    free(f->res.notes);
}

static void test_source_levels(void **state)
{
    (void)state;
    assert_int_equal(vuc_source_level("must"), VUC_MUST);
    assert_int_equal(vuc_source_level("must only include"), VUC_MUST);
    assert_int_equal(vuc_source_level("cannot"), VUC_MUST);
    assert_int_equal(vuc_source_level("is explicitly not allowed"), VUC_MUST);
    assert_int_equal(vuc_source_level("should"), VUC_SHOULD);
    assert_int_equal(vuc_source_level("should be selected"), VUC_SHOULD);
    assert_int_equal(vuc_source_level("kernel uAPI"), VUC_SHOULD);
    assert_int_equal(vuc_source_level("strongly recommended"), VUC_SHOULD);
    assert_int_equal(vuc_source_level("may be zero"), VUC_MAY);
    assert_int_equal(vuc_source_level("silent"), VUC_MAY);
    assert_int_equal(vuc_level_verdict(VUC_MUST), VUC_FAIL);
    assert_int_equal(vuc_level_verdict(VUC_SHOULD), VUC_NON_STRICT);
    assert_int_equal(vuc_level_verdict(VUC_MAY), VUC_IMPL_DEFINED);
    assert_string_equal(vuc_verdict_name(VUC_BLOCKED), "BLOCKED");
    assert_string_equal(vuc_level_name(VUC_MAY), "MAY");
}

static void test_blocked_names_its_owner(void **state)
{
    struct fix f;

    (void)state;
    init(&f, "fsm.STOP.RUNNING", "need to be supported");
    vuc_blocked(&f.ctx, "fsm.RUNNING.STOP", "after SET STOP, GET reads %s",
                "RUNNING");
    assert_int_equal(f.res.verdict, VUC_BLOCKED);
    assert_string_equal(f.res.root_cause, "fsm.RUNNING.STOP");
    assert_string_equal(f.res.reason, "blocked by fsm.RUNNING.STOP: after "
                                      "SET STOP, GET reads RUNNING");
    assert_true(f.ctx.stopped);
    assert_int_equal(f.res.checks, 0);
    fini(&f);
}

static void test_own_step_is_the_claim(void **state)
{
    struct fix f;

    (void)state;
    init(&f, "stream.read.full-to-end", "must");
    vuc_blocked(&f.ctx, "stream.read.full-to-end", "no end");
    assert_int_equal(f.res.verdict, VUC_FAIL);
    assert_null(f.res.root_cause);
    assert_int_equal(f.res.checks, 1);
    fini(&f);

    init(&f, "dirty.start.twice", "kernel uAPI");
    vuc_blocked(&f.ctx, "dirty.start.twice", "accepted");
    assert_int_equal(f.res.verdict, VUC_NON_STRICT);
    fini(&f);
}

static void test_fail_outranks_blocked(void **state)
{
    struct fix f;

    (void)state;
    init(&f, "fsm.reject.keeps-state", "must");
    vuc_verdict(&f.ctx, VUC_FAIL, "accepted");
    vuc_blocked(&f.ctx, "fsm.get.valid", "GET failed");
    assert_int_equal(f.res.verdict, VUC_FAIL);
    assert_null(f.res.root_cause);
    assert_string_equal(f.res.reason, "accepted");
    fini(&f);

    /* and a second BLOCKED keeps the first root */
    init(&f, "fsm.STOP.RUNNING", "must");
    vuc_blocked(&f.ctx, "fsm.RUNNING.STOP", "one");
    vuc_blocked(&f.ctx, "fsm.get.valid", "two");
    assert_string_equal(f.res.root_cause, "fsm.RUNNING.STOP");
    fini(&f);
}

static void test_checks_and_notes(void **state)
{
    struct fix f;

    (void)state;
    init(&f, "fsm.RUNNING.STOP", "must");
    vuc_check(&f.ctx);
    vuc_check(&f.ctx);
    assert_int_equal(f.res.checks, 2);
    assert_int_equal(f.res.verdict, VUC_PASS);
    vuc_verdict(&f.ctx, VUC_SKIP, "not advertised");
    assert_int_equal(f.res.checks, 2); /* a SKIP is no check */
    vuc_verdict(&f.ctx, VUC_IMPL_DEFINED, "seen");
    assert_int_equal(f.res.checks, 3);
    vuc_note(&f.ctx, "padded %d", 1);
    vuc_note(&f.ctx, "padded %d", 1);
    vuc_note(&f.ctx, "argsz");
    assert_string_equal(f.res.notes, "padded 1; argsz");
    fini(&f);
}

static void test_setup_owner_nests(void **state)
{
    struct fix f;
    const char *a, *b;

    (void)state;
    init(&f, "x", "must");
    a = vuc_setup_begin(&f.ctx, "fsm.RUNNING.STOP");
    assert_null(a);
    b = vuc_setup_begin(&f.ctx, "fsm.get.valid");
    assert_string_equal(b, "fsm.RUNNING.STOP");
    assert_string_equal(f.ctx.setup_owner, "fsm.get.valid");
    vuc_setup_end(&f.ctx, b);
    assert_string_equal(f.ctx.setup_owner, "fsm.RUNNING.STOP");
    vuc_setup_end(&f.ctx, a);
    assert_null(f.ctx.setup_owner);
    fini(&f);
}

/* backend.socket-path / backend.fd: the option carrying {socket} is
 * replaced, whatever its spelling */
static void test_cmd_with(void **state)
{
    static const struct {
        const char *tmpl, *want;
    } t[] = {
        {"srv --socket {socket}", "srv --socket-path={socket}"},
        {"srv -s {socket} -v", "srv --socket-path={socket} -v"},
        {"srv --socket={socket} -v", "srv --socket-path={socket} -v"},
        {"srv {socket}", "srv --socket-path={socket}"},
        {"srv -v '{socket}'", "srv --socket-path={socket}"},
        {"srv --x=1 {socket}", "srv --x=1 --socket-path={socket}"},
        {"srv -s\t{socket}\t-v", "srv --socket-path={socket}\t-v"},
    };
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        out = vuc_target_cmd_with(t[i].tmpl, "--socket-path={socket}");
        assert_non_null(out);
        assert_string_equal(out, t[i].want);
        free(out);
    }
    out = vuc_target_cmd_with("srv -s {socket}", "--fd=3");
    assert_string_equal(out, "srv --fd=3");
    free(out);
    assert_null(vuc_target_cmd_with("srv --no-socket", "--fd=3"));
}

static void test_pid_descends(void **state)
{
    (void)state;
    assert_true(vuc_pid_descends(getpid(), getpid()));
    assert_true(vuc_pid_descends(getpid(), getppid()));
    assert_false(vuc_pid_descends(getppid(), getpid()));
    assert_false(vuc_pid_descends(1, getpid()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_levels),
        cmocka_unit_test(test_blocked_names_its_owner),
        cmocka_unit_test(test_own_step_is_the_claim),
        cmocka_unit_test(test_fail_outranks_blocked),
        cmocka_unit_test(test_checks_and_notes),
        cmocka_unit_test(test_setup_owner_nests),
        cmocka_unit_test(test_cmd_with),
        cmocka_unit_test(test_pid_descends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
