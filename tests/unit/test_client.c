// SPDX-License-Identifier: BSD-3-Clause
/*
 * The client library's pipelined migration data calls
 * (vuc_client_mig_read_stream, vuc_client_mig_write_stream) against
 * vucert-server's dispatcher serving the other end of an AF_UNIX
 * socketpair from a thread: the stream read with 1 .. 8 requests in
 * flight is the one read a request at a time, it resumes, and errors
 * (an error reply, a sink's error) leave the connection in step.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "vucert/client.h"
#include "vucert/server.h"
#include "vucert/transport.h"
#include "vucert/wire.h"

#define STATE_SIZE (256u * 1024u)
#define CAP        (2u * STATE_SIZE)
#define TIMEOUT_MS 10000

struct fix {
    struct vuc_srv *s;
    struct vuc_conn *srv;
    struct vuc_client *cl;
    pthread_t th;
};

static void *serve(void *arg)
{
    struct fix *f = arg;

    (void)vuc_srv_serve(f->s, f->srv, -1);
    return NULL;
}

static int setup_quirks(void **state, uint64_t quirks)
{
    struct fix *f = calloc(1, sizeof(*f));
    struct vuc_srv_opts o;
    struct vuc_conn *c;
    int sv[2];

    assert_non_null(f);
    vuc_srv_opts_init(&o);
    o.state_size = STATE_SIZE;
    o.quirks = quirks;
    assert_int_equal(vuc_srv_new(&o, &f->s), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(vuc_conn_from_fd(sv[0], &f->srv), 0);
    assert_int_equal(vuc_conn_from_fd(sv[1], &c), 0);
    assert_int_equal(vuc_client_from_conn(c, TIMEOUT_MS, &f->cl), 0);
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
    assert_int_equal(vuc_client_negotiate(f->cl, 0, 1, NULL, NULL), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_quirks(state, 0);
}

static int setup_padded(void **state)
{
    return setup_quirks(state, VUC_SRV_QUIRK_READ_REPLY_PADDED);
}

static int setup_claims_more(void **state)
{
    return setup_quirks(state, VUC_SRV_QUIRK_MAX_XFER_ABOVE);
}

static int setup_fd_attached(void **state)
{
    return setup_quirks(state, VUC_SRV_QUIRK_REPLY_FD_ATTACHED);
}

static int teardown(void **state)
{
    struct fix *f = *state;

    vuc_client_close(f->cl); /* the server sees the peer close */
    pthread_join(f->th, NULL);
    vuc_conn_close(f->srv);
    vuc_srv_free(f->s);
    free(f);
    return 0;
}

static void set(struct fix *f, uint32_t st)
{
    struct vuc_reply r;

    assert_int_equal(vuc_client_set_state(f->cl, st, &r), 0);
    assert_false(r.is_error);
    vuc_reply_release(&r);
}

static void check_state(struct fix *f, uint32_t want)
{
    uint32_t st = 0, err = 0;

    assert_int_equal(vuc_client_get_state(f->cl, &st, &err), 0);
    assert_int_equal(st, want);
}

struct buf {
    uint8_t *p;
    size_t len, cap;
    int fail_after; /* calls before the sink fails; < 0: never */
};

static int sink(void *arg, const uint8_t *data, uint32_t len)
{
    struct buf *b = arg;

    if (b->fail_after == 0)
        return -ENOSPC;
    if (b->fail_after > 0)
        b->fail_after--;
    if (b->cap - b->len < len)
        return -ENOBUFS;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

/* The whole STOP_COPY stream, one MIG_DATA_READ at a time. */
static size_t read_serial(struct fix *f, uint8_t *dst, uint32_t chunk)
{
    size_t len = 0;
    uint32_t got = chunk, err = 0;

    while (got == chunk) {
        assert_true(len + chunk <= CAP);
        assert_int_equal(
            vuc_client_mig_read(f->cl, chunk, dst + len, &got, &err), 0);
        len += got;
    }
    return len;
}

/* Every depth reads the stream the serial reads give, whole and in
 * order; a second read after the end gets nothing more. */
static void test_read_depths(void **state)
{
    struct fix *f = *state;
    uint8_t *ref = malloc(CAP);
    struct buf b = {.p = malloc(CAP), .cap = CAP, .fail_after = -1};
    size_t ref_len;
    uint64_t total = 0;
    uint32_t err = 0;

    assert_non_null(ref);
    assert_non_null(b.p);
    set(f, VUC_STATE_STOP);
    set(f, VUC_STATE_STOP_COPY);
    ref_len = read_serial(f, ref, 4096);
    assert_true(ref_len > STATE_SIZE);
    set(f, VUC_STATE_STOP);
    for (unsigned depth = 1; depth <= VUC_CLIENT_MAX_DEPTH; depth++) {
        /* chunks that divide the stream unevenly, and one above it */
        static const uint32_t chunks[] = {4096, 5000, 65536, 1u << 20};

        for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
            b.len = 0;
            set(f, VUC_STATE_STOP_COPY);
            assert_int_equal(vuc_client_mig_read_stream(f->cl, chunks[k], depth,
                                                        sink, &b, &total, &err),
                             0);
            assert_int_equal(total, ref_len);
            assert_int_equal(b.len, ref_len);
            assert_memory_equal(b.p, ref, ref_len);
            /* sticky end: nothing more, the connection in step */
            assert_int_equal(vuc_client_mig_read_stream(f->cl, 4096, depth,
                                                        sink, &b, &total, &err),
                             0);
            assert_int_equal(total, 0);
            set(f, VUC_STATE_STOP);
        }
    }
    free(ref);
    free(b.p);
}

/* Written back with several in flight and an odd chunk size, the stream
 * resumes; the same writes outside RESUMING fail on the first reply and
 * nothing counts as done. */
static void test_write_depths(void **state)
{
    struct fix *f = *state;
    uint8_t *ref = malloc(CAP);
    size_t len, done = 1;
    uint32_t err = 0;

    assert_non_null(ref);
    set(f, VUC_STATE_STOP);
    set(f, VUC_STATE_STOP_COPY);
    len = read_serial(f, ref, 65536);
    set(f, VUC_STATE_STOP);
    for (unsigned depth = 1; depth <= VUC_CLIENT_MAX_DEPTH; depth += 3) {
        set(f, VUC_STATE_RESUMING);
        assert_int_equal(vuc_client_mig_write_stream(f->cl, ref, len, 12345,
                                                     depth, &done, &err),
                         0);
        assert_int_equal(done, len);
        set(f, VUC_STATE_STOP); /* the server validated the stream */
    }
    /* STOP: every write is refused; the first error is reported after
     * the writes in flight were answered */
    assert_int_equal(
        vuc_client_mig_write_stream(f->cl, ref, len, 4096, 4, &done, &err),
        -EREMOTEIO);
    assert_int_equal(done, 0);
    assert_int_not_equal(err, 0);
    check_state(f, VUC_STATE_STOP);
    /* a truncated stream is accepted write by write, refused at STOP */
    set(f, VUC_STATE_RESUMING);
    assert_int_equal(
        vuc_client_mig_write_stream(f->cl, ref, len - 1, 4096, 2, &done, &err),
        0);
    {
        struct vuc_reply r;

        assert_int_equal(vuc_client_set_state(f->cl, VUC_STATE_STOP, &r), 0);
        assert_true(r.is_error);
        vuc_reply_release(&r);
    }
    check_state(f, VUC_STATE_RESUMING);
    free(ref);
}

/* A sink's error and an error reply stop the read after the replies in
 * flight were taken: the next request gets its own reply. */
static void test_read_errors(void **state)
{
    struct fix *f = *state;
    struct buf b = {.p = malloc(CAP), .cap = CAP, .fail_after = 2};
    uint64_t total = 0;
    uint32_t err = 0;

    assert_non_null(b.p);
    set(f, VUC_STATE_STOP);
    set(f, VUC_STATE_STOP_COPY);
    assert_int_equal(
        vuc_client_mig_read_stream(f->cl, 4096, 4, sink, &b, &total, &err),
        -ENOSPC);
    assert_int_equal(total, 2 * 4096);
    check_state(f, VUC_STATE_STOP_COPY);
    set(f, VUC_STATE_STOP);
    /* MIG_DATA_READ in STOP is refused */
    b.fail_after = -1;
    assert_int_equal(
        vuc_client_mig_read_stream(f->cl, 4096, 3, sink, &b, &total, &err),
        -EREMOTEIO);
    assert_int_not_equal(err, 0);
    assert_int_equal(total, 0);
    check_state(f, VUC_STATE_STOP);
    /* bad arguments */
    assert_int_equal(
        vuc_client_mig_read_stream(f->cl, 4096, 0, sink, &b, &total, &err),
        -EINVAL);
    assert_int_equal(vuc_client_mig_read_stream(f->cl, 4096,
                                                VUC_CLIENT_MAX_DEPTH + 1, sink,
                                                &b, &total, &err),
                     -EINVAL);
    assert_int_equal(
        vuc_client_mig_write_stream(f->cl, b.p, 10, 0, 1, &b.len, &err),
        -EINVAL);
    check_state(f, VUC_STATE_STOP);
    free(b.p);
}

/* A MIG_DATA_READ reply padded after its data: the data is the size
 * field's bytes, the rest is noted, and the whole stream is the one a
 * clean server gives. */
static void test_padded_read_takes_size(void **state)
{
    struct fix *f = *state;
    uint8_t *buf = malloc(CAP);
    uint32_t got = 0, err = 0;
    size_t total = 0;
    char notes[512];

    assert_non_null(buf);
    set(f, VUC_STATE_STOP);
    set(f, VUC_STATE_STOP_COPY);
    for (;;) {
        assert_int_equal(
            vuc_client_mig_read(f->cl, 65536, buf + total, &got, &err), 0);
        total += got;
        if (got < 65536)
            break;
    }
    assert_true(total > 0 && total < CAP);
    vuc_client_take_notes(f->cl, notes, sizeof(notes));
    assert_non_null(strstr(notes, "stream.read.reply-size"));
    /* taken once: the notes are forgotten */
    vuc_client_take_notes(f->cl, notes, sizeof(notes));
    assert_string_equal(notes, "");
    /* after the end, reads give 0 bytes though the messages are padded */
    assert_int_equal(vuc_client_mig_read(f->cl, 4096, buf, &got, &err), 0);
    assert_int_equal(got, 0);
    free(buf);
}

/* A server announcing 4 GiB does not make vucert take more than the
 * 1 MiB it proposed. */
static void test_claim_above_proposal_is_capped(void **state)
{
    struct fix *f = *state;
    const struct vuc_negotiated *n = vuc_client_negotiated(f->cl);
    char notes[512];

    assert_true(n->caps.max_data_xfer_size > (1ull << 31));
    assert_int_equal(n->limits.max_data_xfer_size, 1u << 20);
    vuc_client_take_notes(f->cl, notes, sizeof(notes));
    assert_non_null(strstr(notes, "negotiate.limits.not-above-proposal"));
}

/* fds on replies that carry none are counted, noted and closed. */
static void test_stray_fds_are_counted(void **state)
{
    struct fix *f = *state;
    uint64_t flags = 0;
    char notes[512];

    assert_int_equal(vuc_client_stray_fds(f->cl), 0);
    assert_int_equal(vuc_client_mig_flags(f->cl, &flags, NULL), 0);
    check_state(f, VUC_STATE_RUNNING);
    assert_int_equal(vuc_client_stray_fds(f->cl), 2);
    vuc_client_take_notes(f->cl, notes, sizeof(notes));
    assert_non_null(strstr(notes, "fds"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_depths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_depths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_padded_read_takes_size,
                                        setup_padded, teardown),
        cmocka_unit_test_setup_teardown(test_claim_above_proposal_is_capped,
                                        setup_claims_more, teardown),
        cmocka_unit_test_setup_teardown(test_stray_fds_are_counted,
                                        setup_fd_attached, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
