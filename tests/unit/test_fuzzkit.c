// SPDX-License-Identifier: BSD-3-Clause
/*
 * The pieces vucert fuzz stands on: reproducer files (format 2 with fds
 * and shrink steps, format 1 still read, every malformed file refused
 * with a reason), and the reading of a server's testimony (a sanitizer,
 * valgrind or assertion report: its first line, kind, type, top frame in
 * the server's code, and the class findings are grouped by).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../harness/harness_priv.h"
#include "vucert/wire.h"

static void seq_round_trip(void **state)
{
    struct vuc_seq s = {0}, t = {0};
    struct vuc_seq_fd fds[2] = {{VUC_SEQ_FD_MEMFD, 8192},
                                {VUC_SEQ_FD_EVENTFD, 0}};
    uint8_t msg[40];
    char path[] = "/tmp/vucert-seq-XXXXXX", err[256], a[65], b[65];
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(vuc_seq_add(&s, msg, sizeof(msg), fds, 2), 0);
    assert_int_equal(vuc_seq_add_shrink(&s, 0, 4096), 0);
    assert_int_equal(vuc_seq_add(&s, msg, 0, NULL, 0), 0);
    assert_int_equal(vuc_seq_save(&s, path), 0);
    assert_int_equal(vuc_seq_load(path, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.m[0].len, sizeof(msg));
    assert_memory_equal(t.m[0].b, msg, sizeof(msg));
    assert_int_equal(t.m[0].nfds, 2);
    assert_int_equal(t.m[0].fd[0].kind, VUC_SEQ_FD_MEMFD);
    assert_int_equal(t.m[0].fd[0].size, 8192);
    assert_int_equal(t.m[0].fd[1].kind, VUC_SEQ_FD_EVENTFD);
    assert_true(t.m[1].shrink);
    assert_int_equal(t.m[1].fd[0].size, 4096);
    assert_int_equal(t.m[2].len, 0);
    /* the name is the content's */
    assert_int_equal(vuc_seq_name(&s, a), 0);
    assert_int_equal(vuc_seq_name(&t, b), 0);
    assert_string_equal(a, b);
    unlink(path);
    vuc_seq_free(&s);
    vuc_seq_free(&t);
}

static void seq_format1_read(void **state)
{
    static const uint8_t f1[] = "VUCERT-REPRO 1\n\x03\0\0\0abc\x00\0\0\0";
    struct vuc_seq s = {0};
    const char *why;

    (void)state;
    assert_int_equal(vuc_seq_parse(f1, sizeof(f1) - 1, &s, &why), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.m[0].len, 3);
    assert_memory_equal(s.m[0].b, "abc", 3);
    assert_int_equal(s.m[1].len, 0);
    vuc_seq_free(&s);
}

static void seq_malformed_refused(void **state)
{
    static const struct {
        const char *data;
        size_t len;
        const char *why;
    } bad[] = {
        {"hello", 5, "not a vucert reproducer"},
        {"VUCERT-REPRO 1\n\x09\0\0\0abc", 22, "cut short"},
        {"VUCERT-REPRO 2\nX", 16, "unknown record"},
        {"VUCERT-REPRO 2\nM\x04\0\0\0\0ab", 23, "cut short"},
        {"VUCERT-REPRO 2\nM\x00\0\0\0\x09", 21, "too many fds"},
        {"VUCERT-REPRO 2\nM\x00\0\0\0\x01\x07", 22, "unknown kind"},
        {"VUCERT-REPRO 2\nM\x00\0\0\0\x01\x01\0\0\0\0\0\0\0\x01", 30,
         "larger than"},
        {"VUCERT-REPRO 2\nS\x00\0\0", 19, "shrink step"},
        {"VUCERT-REPRO 2\nM\xff\xff\xff\xff\0", 21, "too large"},
    };
    struct vuc_seq s = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        assert_int_equal(vuc_seq_parse(bad[i].data, bad[i].len, &s, &why),
                         -EINVAL);
        assert_non_null(why);
        if (strstr(why, bad[i].why) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, why, bad[i].why);
        assert_int_equal(s.n, 0);
    }
    vuc_seq_free(&s);
}

static void seq_limits(void **state)
{
    struct vuc_seq s = {0};
    uint8_t b[1] = {0};

    (void)state;
    for (int i = 0; i < VUC_SEQ_MAX; i++)
        assert_int_equal(vuc_seq_add(&s, b, 1, NULL, 0), 0);
    assert_int_equal(vuc_seq_add(&s, b, 1, NULL, 0), -ENOSPC);
    assert_int_equal(vuc_seq_add_shrink(&s, 0, 0), -ENOSPC);
    vuc_seq_free(&s);
}

static const char asan[] =
    "--- vucert: starting: vucert-server\n"
    "=================================================================\n"
    "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address "
    "0x602000000015 at pc 0x55 bp 0x7ff sp 0x7fe\n"
    "READ of size 4 at 0x602000000015 thread T0\n"
    "    #0 0x55d1 in plant_overread /src/reference-server/device.c:120\n"
    "    #1 0x55d2 in srv_h_DEVICE_FEATURE /src/reference-server/mig.c:88\n"
    "    #2 0x55d3 in vuc_srv_handle /src/reference-server/server.c:300\n"
    "    #3 0x55d4 in main /src/reference-server/main.c:400\n"
    "\n"
    "0x602000000015 is located 0 bytes to the right of 5-byte region\n"
    "SUMMARY: AddressSanitizer: heap-buffer-overflow device.c:120\n";

static const char lsan[] =
    "==77==ERROR: LeakSanitizer: detected memory leaks\n"
    "\n"
    "Direct leak of 64 byte(s) in 1 object(s) allocated from:\n"
    "    #0 0x7f in __interceptor_malloc ../asan_malloc_linux.cpp:69\n"
    "    #1 0x55 in plant_leak /src/reference-server/device.c:200\n"
    "    #2 0x56 in srv_h_DEVICE_GET_IRQ_INFO /src/device.c:210\n"
    "\n"
    "SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).\n";

static const char valgrind[] =
    "==9== Memcheck, a memory error detector\n"
    "==9== Invalid read of size 4\n"
    "==9==    at 0x10A: plant_overread (device.c:120)\n"
    "==9==    by 0x10B: srv_h_DEVICE_FEATURE (mig.c:88)\n"
    "==9==  Address 0x4a is 5 bytes inside a block of size 5 alloc'd\n"
    "==9==    at 0x48: malloc (vg_replace_malloc.c:381)\n";

static const char vg_leak[] =
    "==9== 64 bytes in 1 blocks are definitely lost in loss record 1 of 1\n"
    "==9==    at 0x48: malloc (vg_replace_malloc.c:381)\n"
    "==9==    by 0x10C: plant_leak (device.c:200)\n"
    "==9== \n";

static const char ubsan[] =
    "/src/reference-server/dirty.c:42:9: runtime error: shift exponent 64 "
    "is too large for 64-bit type 'long unsigned int'\n";

static const char assertion[] =
    "vucert-server: reference-server/mig.c:77: mig_set: Assertion `s < 8' "
    "failed.\n";

static void testimony_classes(void **state)
{
    static const struct {
        const char *txt, *cls, *first;
    } want[] = {
        {asan, "asan:heap-buffer-overflow:plant_overread",
         "==4242==ERROR: AddressSanitizer: heap-buffer-overflow"},
        {lsan, "lsan:leak:plant_leak", "==77==ERROR: LeakSanitizer"},
        {valgrind, "valgrind:invalid-read:plant_overread",
         "==9== Invalid read of size 4"},
        {vg_leak, "valgrind:definitely-lost:plant_leak", "==9== 64 bytes"},
        {ubsan, "ubsan:shift-exponent:dirty.c:42", "/src/reference-server"},
        {assertion, "assert:assertion:mig_set", "vucert-server: reference"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct vuc_testimony t;
        char text[1024];
        assert_true(vuc_testimony_parse(want[i].txt, &t));
        assert_string_equal(t.cls, want[i].cls);
        assert_true(strncmp(t.first, want[i].first, strlen(want[i].first)) ==
                    0);
        vuc_testimony_text(&t, text, sizeof(text));
        /* the finding leads with the first line */
        assert_true(strncmp(text, want[i].first, strlen(want[i].first)) == 0);
    }
}

static void testimony_frames_lead(void **state)
{
    struct vuc_testimony t;
    char text[1024];

    (void)state;
    assert_true(vuc_testimony_parse(asan, &t));
    vuc_testimony_text(&t, text, sizeof(text));
    assert_non_null(strstr(text, "#0 0x55d1 in plant_overread"));
    assert_non_null(strstr(text, "#2 0x55d3 in vuc_srv_handle"));
    assert_null(strstr(text, "#3")); /* the first three frames */
    assert_null(strstr(text, "vucert: starting"));
}

static void testimony_none(void **state)
{
    struct vuc_testimony t;

    (void)state;
    assert_false(vuc_testimony_parse("", &t));
    assert_false(vuc_testimony_parse(NULL, &t));
    assert_false(vuc_testimony_parse("--- vucert: starting: x\nhello\n"
                                     "==1== ERROR SUMMARY: 0 errors from 0 "
                                     "contexts\n",
                                     &t));
    /* a report without a stack still has a class */
    assert_true(vuc_testimony_parse("*** stack smashing detected ***\n", &t));
    assert_string_equal(t.cls, "libc:stack-smashing:?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seq_round_trip),
        cmocka_unit_test(seq_format1_read),
        cmocka_unit_test(seq_malformed_refused),
        cmocka_unit_test(seq_limits),
        cmocka_unit_test(testimony_classes),
        cmocka_unit_test(testimony_frames_lead),
        cmocka_unit_test(testimony_none),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
