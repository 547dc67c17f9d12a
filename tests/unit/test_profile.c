// SPDX-License-Identifier: BSD-3-Clause
/*
 * Device profile loading (harness/profile.c): what a profile sets, and
 * how a broken one is named, "FILE:LINE: $.json.path: message". The line
 * comes from a scan of the raw text, so these check what the scan must
 * get right beyond tests/e2e/profiles/broken: keys written with escapes,
 * CRLF line ends, array elements on their own lines, odd keys in paths,
 * JSON that json-c accepts and RFC 8259 does not, and the number edges.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vucert/codec.h"
#include "vucert/harness.h"

static char path[64];

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/vuc-profile-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* Load text as a profile: its return code, the message in err. */
static int load(const char *text, struct vuc_profile *p, char *err, size_t cap)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    err[0] = '\0';
    return vuc_profile_load(path, p, err, cap);
}

/* text must be refused with "PATH:line: where" followed by message. */
static void refused(const char *text, int line, const char *where,
                    const char *message)
{
    struct vuc_profile p;
    char err[512], want[512];

    assert_int_equal(load(text, &p, err, sizeof(err)), -EINVAL);
    if (where != NULL)
        snprintf(want, sizeof(want), "%s:%d: %s: %s", path, line, where,
                 message);
    else
        snprintf(want, sizeof(want), "%s:%d: %s", path, line, message);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got  %s\nwant %s...", err, want);
    assert_null(p.path);
}

static void test_loads_everything(void **state)
{
    struct vuc_profile p;
    char err[512];

    (void)state;
    assert_int_equal(
        load(
            "{\"schema\": 1, \"name\": \"dev\", \"description\": \"d\",\n"
            " \"error_injection\": {\"writes\": [{\"region\": \"0x1\", "
            "\"offset\": \"0x18\", \"size\": 4, \"value\": \"4294967295\"}]},\n"
            " \"transition_trace\": {\"count\": {\"region\": 0, \"offset\": "
            "28, \"size\": 4}, \"states\": {\"region\": 0, \"offset\": 32, "
            "\"size\": 64}},\n"
            " \"dma_write\": {\"writes\": [{\"region\": 0, \"offset\": 96, "
            "\"size\": 8, \"value\": \"{iova}\"}, {\"region\": 0, "
            "\"offset\": 104, \"size\": 8, \"value\": \"{length}\"}, "
            "{\"region\": 0, \"offset\": 112, \"size\": 8, \"value\": "
            "18446744073709551615}]},\n"
            " \"preconditions\": [{\"to\": \"RUNNING\", \"writes\": "
            "[{\"region\": 0, \"offset\": 76, \"size\": 1, \"value\": "
            "\"0xff\"}]}, {\"from\": \"STOP_COPY\", \"to\": \"*\", "
            "\"drain_stream\": true}],\n"
            " \"image_exclude\": [],\n"
            " \"state_digest\": {\"region\": 4294967295, \"offset\": "
            "\"0xffffffffffffffff\", \"size\": 1}}\n",
            &p, err, sizeof(err)),
        0);
    assert_string_equal(p.path, path);
    assert_string_equal(p.name, "dev");
    assert_true(p.has_error_injection);
    assert_int_equal(p.n_err_writes, 1);
    assert_int_equal(p.err_writes[0].reg.region, 1);
    assert_int_equal(p.err_writes[0].reg.offset, 0x18);
    assert_int_equal(p.err_writes[0].value, UINT32_MAX);
    /* the trigger's defaults */
    assert_int_equal(p.err_trigger_from, VUC_STATE_RUNNING);
    assert_int_equal(p.err_trigger_to, VUC_STATE_STOP);
    assert_true(p.has_trace);
    assert_int_equal(p.trace_states.size, 64);
    assert_int_equal(p.n_dma_writes, 3);
    assert_int_equal(p.dma_writes[0].kind, VUC_VALUE_IOVA);
    assert_int_equal(p.dma_writes[1].kind, VUC_VALUE_LENGTH);
    assert_int_equal(p.dma_writes[2].kind, VUC_VALUE_CONST);
    assert_true(p.dma_writes[2].value == UINT64_MAX);
    assert_false(p.has_dma_status);
    assert_int_equal(p.n_pre, 2);
    assert_int_equal(p.pre[0].from, VUC_PROFILE_ANY_STATE);
    assert_int_equal(p.pre[0].to, VUC_STATE_RUNNING);
    assert_int_equal(p.pre[0].writes[0].value, 0xff);
    assert_int_equal(p.pre[1].from, VUC_STATE_STOP_COPY);
    assert_int_equal(p.pre[1].to, VUC_PROFILE_ANY_STATE);
    assert_true(p.pre[1].drain_stream);
    assert_int_equal(p.n_image_exclude, 0);
    assert_true(p.has_digest);
    assert_int_equal(p.digest.region, UINT32_MAX);
    assert_true(p.digest.offset == UINT64_MAX);
    vuc_profile_free(&p);

    /* every section is optional; "schema" too (it is 1) */
    assert_int_equal(load(" {}\n", &p, err, sizeof(err)), 0);
    assert_false(p.has_error_injection || p.has_trace || p.has_digest);
    vuc_profile_free(&p);
}

static void test_missing_file(void **state)
{
    struct vuc_profile p;
    char err[512], want[128];

    (void)state;
    unlink(path);
    assert_int_equal(vuc_profile_load(path, &p, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(err, want);
}

/* A key written with escapes is the key it decodes to, as for json-c. */
static void test_escaped_keys(void **state)
{
    struct vuc_profile p;
    char err[512];

    (void)state;
    assert_int_equal(load("{\"state_digest\": {\"region\": 0, \"offset\": 8, "
                          "\"\\u0073ize\": 8}}",
                          &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.digest.size, 8);
    vuc_profile_free(&p);
    /* so it is a duplicate of the plain one */
    refused("{\"state_digest\": {\n\"size\": 4, \"region\": 0, \"offset\": 1,"
            "\n\n\"\\u0073ize\": 8}}",
            4, "$.state_digest.size", "duplicate key (first on line 2)");
    /* an odd key is quoted in the path, and found on its line */
    refused("{\"state_digest\": {\"region\": 0, \"offset\": 1, \"size\": 8,\n"
            "\"a b\\\"\\u00e9\": 1}}",
            2, "$.state_digest[\"a b\\\"\xc3\xa9\"]", "unknown key");
}

static void test_lines(void **state)
{
    (void)state;
    /* CRLF line ends count once */
    refused("{\r\n\"name\": \"x\",\r\n\r\n\"nmae\": 1\r\n}\r\n", 4, "$.nmae",
            "unknown key; did you mean \"name\"?");
    /* an array element: the line it starts on */
    refused("{\"image_exclude\": [\n  {\"region\": 0, \"offset\": 0, "
            "\"size\": 1},\n\n  5\n]}",
            4, "$.image_exclude[1]", "must be an object, not a number");
    /* a member: the line of its key, not of its value */
    refused("{\"state_digest\":\n  {\"region\": 0, \"offset\": 1, \"size\"\n"
            "  :\n  99}}",
            2, "$.state_digest.size", "99 is out of range: 1 to 64 bytes");
    /* a missing member: the line of the object's own key */
    refused("{\n\"error_injection\": {\"writes\": [\n {\"region\": 0,\n "
            "\"size\": 4, \"value\": 1}]}}",
            3, "$.error_injection.writes[0]", "\"offset\" is missing");
    /* the same key in another object is not the one meant */
    refused("{\"dma_read\": {\"writes\": [{\"region\": 0, \"offset\": 0, "
            "\"size\": 4, \"value\": 1}]},\n\"dma_write\": {\"writes\": "
            "[{\"region\": 0, \"offset\": 0,\n\"size\": 4, \"value\": "
            "\"{len}\"}]}}",
            3, "$.dma_write.writes[0].value", "\"{len}\" is not a number");
}

/* json-c takes these; RFC 8259 (and so Python and the schema) does not */
static void test_strict_json(void **state)
{
    (void)state;
    refused("{\n'name': \"x\"}", 2, "$",
            "not valid JSON: a key in double quotes expected");
    refused("{\"name\":\n\"a\tb\"}", 2, "$.name",
            "not valid JSON: a control character in a string (write it as "
            "\\u0009)");
    refused("{\"state_digest\": {\"region\": 0, \"offset\": Infinity, "
            "\"size\": 1}}",
            1, "$.state_digest.offset", "not valid JSON: a value expected");
    refused("{\"state_digest\": {\"region\": 0, \"offset\": 1., "
            "\"size\": 1}}",
            1, "$.state_digest.offset", "not valid JSON: a bad number");
    refused("{}\n\n{}", 3, NULL, "not valid JSON");
    refused("", 1, NULL, "not valid JSON: the file ends early");
    refused("{\"name\": \"x\"\n", 2, NULL,
            "not valid JSON: the file ends early");
}

static void test_numbers(void **state)
{
    struct vuc_profile p;
    char err[512];

    (void)state;
    /* -0 is 0 */
    assert_int_equal(load("{\"state_digest\": {\"region\": -0, \"offset\": 0, "
                          "\"size\": \"0x08\"}}",
                          &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.digest.size, 8);
    vuc_profile_free(&p);
    refused("{\"state_digest\": {\"region\": 0, \"offset\": \"010\", "
            "\"size\": 1}}",
            1, "$.state_digest.offset", "\"010\" is not a number");
    refused("{\"state_digest\": {\"region\": 0, \"offset\": \" 1\", "
            "\"size\": 1}}",
            1, "$.state_digest.offset", "\" 1\" is not a number");
    refused("{\"state_digest\": {\"region\": 0, \"offset\": "
            "\"18446744073709551616\", \"size\": 1}}",
            1, "$.state_digest.offset",
            "\"18446744073709551616\" is not a number");
    refused("{\"state_digest\": {\"region\": 0, \"offset\": 4.0, "
            "\"size\": 1}}",
            1, "$.state_digest.offset",
            "must be a non-negative integer, or a string such as \"0x18\"; "
            "not a number with a fraction or exponent");
    refused("{\"state_digest\": {\"region\": 0, \"offset\": true, "
            "\"size\": 1}}",
            1, "$.state_digest.offset",
            "must be a non-negative integer, or a string such as \"0x18\"; "
            "not a boolean");
    refused("{\"state_mutation\": {\"writes\": [{\"region\": 0, \"offset\": "
            "0, \"size\": 2, \"value\": \"0x10000\"}]}}",
            1, "$.state_mutation.writes[0].value",
            "65536 does not fit in size 2: at most 65535");
    refused("{\"schema\": 1.0}", 1, "$.schema",
            "must be an integer (1), not a number with a fraction");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
