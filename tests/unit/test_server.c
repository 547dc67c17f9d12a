/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for reference-server/ (vucert-server), driven through the
 * wire: requests are written with vuc_conn_send on one end of an
 * in-memory pair, the server handles them with vuc_srv_serve, and the
 * replies are read and checked byte by byte on the client end. Request
 * payloads are built here with the wire.h put helpers, not with the codec
 * the server uses, so an encode/decode bug shared by both cannot hide.
 *
 * Every reply goes through check_reply(): id and command echoed, type
 * Reply, size consistent; error replies header only with a non-zero errno
 * (or, under the two reply quirks, exactly the quirk's shape).
 *
 * The 8x8 matrix runs for each flag set with no quirk and with each quirk
 * alone, against a fresh server per cell, and compares acceptance, the
 * resulting state, GET and the BAR0 TRACE registers with vuc_fsm_check /
 * vuc_fsm_path plus a model of the quirk: so each quirk is shown to change
 * exactly its own rule and nothing else in the state machine.
 *
 * Migration data goes from one server to another over the wire and the
 * two devices' BAR0 DIGEST must agree; the DIGEST itself is checked
 * against XXH64 of the state as read back through STATE_DATA. The stream
 * format has its own tests (test_stream.c); here only its outline is
 * checked (record magic, sizes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "vucert/fsm.h"
#include "vucert/server.h"
#include "vucert/stream.h"
#include "vucert/transport.h"
#include "vucert/wire.h"

/* BAR0 register map (reference-server/README.md), written out here. */
#define R_MAGIC        0x00u
#define R_REV          0x04u
#define R_SCRATCH0     0x08u
#define R_SCRATCH1     0x10u
#define R_FAULT        0x18u
#define R_TRACE_COUNT  0x1cu
#define R_TRACE_STATES 0x20u
#define R_COUNTER      0x28u
#define R_STATE_SIZE   0x30u
#define R_STATE_ADDR   0x38u
#define R_STATE_DATA   0x40u
#define R_DIRTY        0x48u
#define R_DIGEST       0x50u
#define R_FREE         0x58u
#define BAR0_SIZE      4096u
#define CFG_SIZE       256u
#define CFG_REGION     7u

/*
 * The save stream (STREAM.md): records of a 32-byte header ("VUCR",
 * type, flags, seq, len, offset, CRCs) and a payload. Fixtures use a
 * 16 KiB state so streams stay small: HEADER, one CHUNK, REGS, END.
 */
#define FX_STATE  (16u * 1024u)
#define REC_MAGIC 0x52435556u
#define REGS_SIZE 4040u
#define STREAM_LEN(state, chunks)                                              \
    (64u + (chunks)*32u + (state) + 32u + REGS_SIZE + 48u)
#define S_SIZE     STREAM_LEN(FX_STATE, 1u)
#define STREAM_BUF (S_SIZE + 4096) /* room for one over-long read */

#define ST_ERROR        VUC_STATE_ERROR
#define ST_STOP         VUC_STATE_STOP
#define ST_RUNNING      VUC_STATE_RUNNING
#define ST_STOP_COPY    VUC_STATE_STOP_COPY
#define ST_RESUMING     VUC_STATE_RESUMING
#define ST_RUNNING_P2P  VUC_STATE_RUNNING_P2P
#define ST_PRE_COPY     VUC_STATE_PRE_COPY
#define ST_PRE_COPY_P2P VUC_STATE_PRE_COPY_P2P

#define F_GET      VUC_FEATURE_GET
#define F_SET      VUC_FEATURE_SET
#define F_PROBE    VUC_FEATURE_PROBE
#define FEAT_MIG   1u
#define FEAT_STATE 2u

#define ALL_FLAGS                                                              \
    (VUC_MIGRATION_STOP_COPY | VUC_MIGRATION_P2P | VUC_MIGRATION_PRE_COPY)
#define DEF_FLAGS (VUC_MIGRATION_STOP_COPY | VUC_MIGRATION_PRE_COPY)

/* An error reply whose errno field is 0 (quirk error-errno-zero). */
#define ERR_ZERO 0xffffffffu

struct fx {
    struct vuc_srv *s;
    struct vuc_conn *cli, *srv;
    uint16_t id;
    uint64_t quirks;
    struct vuc_msg rep;
    int serve_rc;
};

/* ---- fixture ---- */

static void fx_open_opts(struct fx *f, const struct vuc_srv_opts *o)
{
    memset(f, 0, sizeof(*f));
    f->quirks = o->quirks;
    assert_int_equal(vuc_srv_new(o, &f->s), 0);
    assert_int_equal(vuc_mem_pair(&f->cli, &f->srv), 0);
    assert_int_equal(vuc_srv_mig_state(f->s), ST_RUNNING);
}

static void fx_open(struct fx *f, uint64_t flags, uint64_t quirks)
{
    struct vuc_srv_opts o;

    vuc_srv_opts_init(&o);
    o.mig_flags = flags;
    o.quirks = quirks;
    o.state_size = FX_STATE;
    fx_open_opts(f, &o);
}

static void fx_close(struct fx *f)
{
    vuc_msg_release(&f->rep);
    vuc_conn_close(f->cli);
    vuc_conn_close(f->srv);
    vuc_srv_free(f->s);
    memset(f, 0, sizeof(*f));
}

/*
 * Send one message and let the server process everything queued. Returns
 * 0 with the reply in f->rep, or -EAGAIN when the server sent none.
 */
static int xmit(struct fx *f, uint16_t cmd, uint32_t hflags, const void *p,
                size_t len)
{
    struct vuc_hdr h = {.id = ++f->id, .cmd = cmd, .flags = hflags};

    vuc_msg_release(&f->rep);
    assert_int_equal(vuc_conn_send(f->cli, &h, p, len, NULL, 0, 0), 0);
    f->serve_rc = vuc_srv_serve(f->s, f->srv, 0);
    return vuc_conn_recv(f->cli, &f->rep, 0);
}

/* Check the reply to request (f->id, cmd); returns 0 or its errno. */
static uint32_t check_reply(struct fx *f, uint16_t cmd)
{
    const struct vuc_hdr *h = &f->rep.hdr;

    assert_int_equal(h->id, f->id);
    assert_int_equal(h->cmd, cmd);
    assert_int_equal(h->flags & ~VUC_FLAG_ERROR, VUC_TYPE_REPLY);
    assert_int_equal(h->size, f->rep.len);
    assert_int_equal(f->rep.payload_len, f->rep.len - VUC_HDR_SIZE);
    if (!(h->flags & VUC_FLAG_ERROR)) {
        assert_int_equal(h->error, 0);
        return 0;
    }
    /* spec: Header: "the reply message must only include the header" */
    assert_int_equal(f->rep.payload_len,
                     (f->quirks & VUC_SRV_QUIRK_ERROR_WITH_PAYLOAD) ? 8 : 0);
    if (f->quirks & VUC_SRV_QUIRK_ERRNO_ZERO) {
        assert_int_equal(h->error, 0);
        return ERR_ZERO;
    }
    assert_int_not_equal(h->error, 0);
    return h->error;
}

static uint32_t req(struct fx *f, uint16_t cmd, const void *p, size_t len)
{
    assert_int_equal(xmit(f, cmd, VUC_TYPE_COMMAND, p, len), 0);
    assert_int_equal(f->serve_rc, -EAGAIN);
    return check_reply(f, cmd);
}

/* The errno an error reply carries on this server. */
static uint32_t E(const struct fx *f, uint32_t e)
{
    return (f->quirks & VUC_SRV_QUIRK_ERRNO_ZERO) ? ERR_ZERO : e;
}

static const uint8_t *pl(const struct fx *f)
{
    return f->rep.payload;
}

/* ---- request helpers ---- */

static uint32_t version(struct fx *f, uint16_t major, uint16_t minor,
                        const char *json)
{
    uint8_t buf[1024];
    size_t n = 4;

    vuc_put_u16(buf, major);
    vuc_put_u16(buf + 2, minor);
    if (json) {
        size_t l = strlen(json);

        assert_true(l + 5 <= sizeof(buf));
        memcpy(buf + 4, json, l + 1);
        n += l + 1;
    }
    return req(f, VUC_CMD_VERSION, buf, n);
}

static void negotiate(struct fx *f)
{
    assert_int_equal(
        version(f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":1048576}}"),
        0);
    assert_true(vuc_srv_negotiated(f->s));
}

static uint32_t feature(struct fx *f, uint32_t argsz, uint32_t flags,
                        const void *data, size_t dlen)
{
    uint8_t buf[64];

    assert_true(dlen + 8 <= sizeof(buf));
    vuc_put_u32(buf, argsz);
    vuc_put_u32(buf + 4, flags);
    if (dlen)
        memcpy(buf + 8, data, dlen);
    return req(f, VUC_CMD_DEVICE_FEATURE, buf, 8 + dlen);
}

static uint32_t set_state(struct fx *f, uint32_t st)
{
    uint8_t d[8], want[16];
    uint32_t e;

    vuc_put_u32(d, st);
    vuc_put_u32(d + 4, 0xffffffffu);
    e = feature(f, 16, F_SET | FEAT_STATE, d, 8);
    if (e == 0) {
        /* spec: for SET the reply payload equals the request payload */
        vuc_put_u32(want, 16);
        vuc_put_u32(want + 4, F_SET | FEAT_STATE);
        memcpy(want + 8, d, 8);
        assert_int_equal(f->rep.payload_len, 16);
        assert_memory_equal(pl(f), want, 16);
    }
    return e;
}

/* MIG_DEVICE_STATE GET over the wire. */
static uint32_t get_state(struct fx *f)
{
    assert_int_equal(feature(f, 16, F_GET | FEAT_STATE, NULL, 0), 0);
    assert_int_equal(f->rep.payload_len, 16);
    assert_int_equal(vuc_get_u32(pl(f)), 16);
    assert_int_equal(vuc_get_u32(pl(f) + 4), F_GET | FEAT_STATE);
    assert_int_equal(vuc_get_u32(pl(f) + 12), 0xffffffffu);
    return vuc_get_u32(pl(f) + 8);
}

/* The true state; also checks GET unless GET is deliberately stale. */
static uint32_t state_now(struct fx *f)
{
    uint32_t st = vuc_srv_mig_state(f->s);

    if (!(f->quirks & VUC_SRV_QUIRK_STALE_GET))
        assert_int_equal(get_state(f), st);
    return st;
}

static uint32_t region_read(struct fx *f, uint32_t region, uint64_t off,
                            uint32_t count, void *out)
{
    uint8_t b[16];
    uint32_t e;

    vuc_put_u64(b, off);
    vuc_put_u32(b + 8, region);
    vuc_put_u32(b + 12, count);
    e = req(f, VUC_CMD_REGION_READ, b, sizeof(b));
    if (e == 0) {
        assert_int_equal(f->rep.payload_len, 16 + (size_t)count);
        assert_memory_equal(pl(f), b, 16); /* offset, region, count */
        if (out && count)
            memcpy(out, pl(f) + 16, count);
    }
    return e;
}

static uint32_t region_write(struct fx *f, uint32_t region, uint64_t off,
                             const void *data, uint32_t count)
{
    uint8_t *b = malloc(16 + (size_t)count);
    uint32_t e;

    assert_non_null(b);
    vuc_put_u64(b, off);
    vuc_put_u32(b + 8, region);
    vuc_put_u32(b + 12, count);
    if (count)
        memcpy(b + 16, data, count);
    e = req(f, VUC_CMD_REGION_WRITE, b, 16 + (size_t)count);
    if (e == 0) {
        assert_int_equal(f->rep.payload_len, 16);
        assert_memory_equal(pl(f), b, 16);
    }
    free(b);
    return e;
}

static uint64_t bar_rd(struct fx *f, uint32_t off, uint32_t size)
{
    uint8_t b[8] = {0};
    uint64_t v = 0;

    assert_int_equal(region_read(f, 0, off, size, b), 0);
    for (uint32_t i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void bar_wr(struct fx *f, uint32_t off, uint64_t v, uint32_t size)
{
    uint8_t b[8];

    for (uint32_t i = 0; i < size; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    assert_int_equal(region_write(f, 0, off, b, size), 0);
}

static size_t trace(struct fx *f, uint32_t *states)
{
    uint8_t b[8];
    uint32_t n = (uint32_t)bar_rd(f, R_TRACE_COUNT, 4);

    assert_true(n <= 8);
    assert_int_equal(region_read(f, 0, R_TRACE_STATES, 8, b), 0);
    for (uint32_t i = 0; i < 8; i++) {
        if (i < n)
            states[i] = b[i];
        else
            assert_int_equal(b[i], 0);
    }
    return n;
}

static uint32_t reset(struct fx *f)
{
    return req(f, VUC_CMD_DEVICE_RESET, NULL, 0);
}

/* MIG_DATA_READ; checks the reply layout, returns the bytes in *n. */
static uint32_t mig_read(struct fx *f, uint32_t argsz, uint32_t size,
                         uint8_t *out, size_t *n)
{
    uint8_t b[8];
    uint32_t e, rsize;

    vuc_put_u32(b, argsz);
    vuc_put_u32(b + 4, size);
    e = req(f, VUC_CMD_MIG_DATA_READ, b, 8);
    if (e)
        return e;
    assert_true(f->rep.payload_len >= 8);
    rsize = vuc_get_u32(pl(f) + 4);
    assert_int_equal(vuc_get_u32(pl(f)), 8 + rsize);
    assert_int_equal(f->rep.payload_len, 8 + (size_t)rsize);
    assert_true(rsize <= size);
    assert_true(rsize + 8 <= argsz);
    if (out && rsize)
        memcpy(out, pl(f) + 8, rsize);
    *n = rsize;
    return 0;
}

static uint32_t mig_write(struct fx *f, const uint8_t *data, uint32_t size)
{
    uint8_t *b = malloc(8 + (size_t)size);
    uint32_t e;

    assert_non_null(b);
    vuc_put_u32(b, 8);
    vuc_put_u32(b + 4, size);
    if (size)
        memcpy(b + 8, data, size);
    e = req(f, VUC_CMD_MIG_DATA_WRITE, b, 8 + (size_t)size);
    if (e == 0)
        assert_int_equal(f->rep.payload_len, 0);
    free(b);
    return e;
}

/* Read a whole stream in odd chunk sizes, until a short read. */
static size_t read_stream(struct fx *f, uint8_t *out, size_t cap)
{
    static const uint32_t chunks[] = {1, 7, 1000, 3, 4096, 333, 2048};
    size_t total = 0, n;

    for (unsigned i = 0;; i++) {
        uint32_t want = chunks[i % 7];

        assert_true(total + want <= cap);
        assert_int_equal(mig_read(f, 8 + want, want, out + total, &n), 0);
        total += n;
        if (n < want)
            break;
    }
    return total;
}

/* Write a stream in odd segment sizes. */
static void write_stream(struct fx *f, const uint8_t *p, size_t len)
{
    static const uint32_t segs[] = {1, 2, 4000, 5, 77};
    size_t off = 0;

    for (unsigned i = 0; off < len; i++) {
        size_t n = segs[i % 5];

        if (n > len - off)
            n = len - off;
        assert_int_equal(mig_write(f, p + off, (uint32_t)n), 0);
        off += n;
    }
}

/* Read a whole stream with reads of `step` bytes, until a short read. */
static size_t read_all(struct fx *f, uint8_t *out, size_t cap, uint32_t step)
{
    size_t total = 0, n;

    for (;;) {
        assert_true(total + step <= cap);
        assert_int_equal(mig_read(f, 8 + step, step, out + total, &n), 0);
        total += n;
        if (n < step)
            return total;
    }
}

/* Write a stream in segments of `step` bytes. */
static void write_all(struct fx *f, const uint8_t *p, size_t len, uint32_t step)
{
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;

        assert_int_equal(mig_write(f, p + off, (uint32_t)n), 0);
    }
}

static uint64_t digest(struct fx *f)
{
    return bar_rd(f, R_DIGEST, 8);
}

/* Walk a stream's records: their count, and that they are well formed. */
static size_t count_records(const uint8_t *p, size_t len)
{
    size_t off = 0, n = 0;

    while (off < len) {
        assert_true(len - off >= 32);
        assert_int_equal(vuc_get_u32(p + off), REC_MAGIC);
        assert_int_equal(vuc_get_u32(p + off + 8), n);
        off += 32 + (size_t)vuc_get_u32(p + off + 12);
        n++;
    }
    assert_int_equal(off, len);
    return n;
}

/* A valid save stream of a fresh FX_STATE device (for RESUMING cells). */
static size_t fresh_stream(uint8_t *out, size_t cap)
{
    struct fx f;
    size_t n;

    fx_open(&f, VUC_MIGRATION_STOP_COPY, 0);
    negotiate(&f);
    bar_wr(&f, R_SCRATCH0, 0x5a5a5a5a5a5a5a5aull, 8);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    n = read_stream(&f, out, cap);
    assert_int_equal(n, S_SIZE);
    assert_int_equal(count_records(out, n), 4);
    fx_close(&f);
    return n;
}

/*
 * Bring a fresh server (RUNNING) to state st: ERROR through the FAULT
 * register, others with one SET. RESUMING gets a valid stream so that
 * arcs out of it can complete.
 */
static void reach(struct fx *f, uint32_t st, const uint8_t *stream, size_t slen)
{
    uint32_t tr[8];

    if (st == ST_ERROR) {
        bar_wr(f, R_FAULT, 1, 4);
        assert_int_equal(bar_rd(f, R_FAULT, 4), 1);
        assert_int_equal(set_state(f, ST_STOP), E(f, EIO));
        assert_int_equal(vuc_srv_mig_state(f->s), ST_ERROR);
        assert_int_equal(bar_rd(f, R_FAULT, 4), 0); /* self-clearing */
        assert_int_equal(trace(f, tr), 1);
        assert_int_equal(tr[0], ST_ERROR);
        return;
    }
    if (st != ST_RUNNING)
        assert_int_equal(set_state(f, st), 0);
    assert_int_equal(vuc_srv_mig_state(f->s), st);
    if (st == ST_RESUMING && stream)
        write_stream(f, stream, slen);
}

/* ---- negotiation ---- */

static void test_version_valid(void **state)
{
    struct vuc_caps caps;
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    assert_int_equal(version(&f, 0, 7,
                             "{\"capabilities\":{\"max_msg_fds\":8,"
                             "\"max_data_xfer_size\":4194304,\"pgsizes\":12288,"
                             "\"twin_socket\":{\"supported\":true},"
                             "\"write_multiple\":true,\"x-unknown\":1}}"),
                     0);
    assert_int_equal(vuc_get_u16(pl(&f)), 0);
    assert_int_equal(vuc_get_u16(pl(&f) + 2), 1); /* min(7, 1) */
    /* version data ends with its NUL */
    assert_true(f.rep.payload_len > 5);
    assert_int_equal(pl(&f)[f.rep.payload_len - 1], 0);
    assert_int_equal(
        vuc_caps_parse((const char *)pl(&f) + 4, f.rep.payload_len - 5, &caps),
        0);
    /* subset rule: exactly the proposed known keys, no max_dma_maps */
    assert_int_equal(caps.present, VUC_CAP_MAX_MSG_FDS |
                                       VUC_CAP_MAX_DATA_XFER_SIZE |
                                       VUC_CAP_PGSIZES | VUC_CAP_TWIN_SOCKET |
                                       VUC_CAP_WRITE_MULTIPLE);
    assert_int_equal(caps.max_msg_fds, 1);
    assert_int_equal(caps.max_data_xfer_size, 1048576); /* server's */
    assert_int_equal(caps.pgsizes, 4096);
    /* twin-socket mode, proposed: on, the client's end as fd 0 */
    assert_true(caps.twin_supported);
    assert_true(caps.twin_has_fd_index);
    assert_int_equal(caps.twin_fd_index, 0);
    assert_int_equal(f.rep.nfds, 1);
    assert_false(caps.write_multiple);
    assert_true(vuc_srv_negotiated(f.s));

    /* A second VERSION is refused, the first negotiation stands. */
    assert_int_equal(version(&f, 0, 1, NULL), EINVAL);
    assert_true(vuc_srv_negotiated(f.s));
    fx_close(&f);

    /* reply minor = min(proposed, 1) at 0, max, max + 1 and the top */
    static const uint16_t minors[][2] = {{0, 0}, {1, 1}, {2, 1}, {0xffff, 1}};
    for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
        fx_open(&f, DEF_FLAGS, 0);
        assert_int_equal(version(&f, 0, minors[i][0], NULL), 0);
        assert_int_equal(vuc_get_u16(pl(&f) + 2), minors[i][1]);
        fx_close(&f);
    }

    /* max_dma_maps is answered when proposed */
    fx_open(&f, DEF_FLAGS, 0);
    assert_int_equal(version(&f, 0, 0,
                             "{\"capabilities\":{\"max_dma_maps\":100,"
                             "\"max_data_xfer_size\":512}}"),
                     0);
    assert_int_equal(vuc_get_u16(pl(&f) + 2), 0);
    assert_int_equal(
        vuc_caps_parse((const char *)pl(&f) + 4, f.rep.payload_len - 5, &caps),
        0);
    assert_int_equal(caps.present,
                     VUC_CAP_MAX_DMA_MAPS | VUC_CAP_MAX_DATA_XFER_SIZE);
    assert_int_equal(caps.max_dma_maps, 100);
    assert_int_equal(caps.max_data_xfer_size, 512);
    fx_close(&f);
}

static void test_version_absent_json(void **state)
{
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    assert_int_equal(version(&f, 0, 1, NULL), 0);
    assert_int_equal(f.rep.payload_len, 4);
    assert_int_equal(vuc_get_u16(pl(&f)), 0);
    assert_int_equal(vuc_get_u16(pl(&f) + 2), 1);
    /* defaults apply: 1 MiB transfers */
    assert_int_equal(region_read(&f, 0, 0, 4, NULL), 0);
    fx_close(&f);

    /* JSON without "capabilities": defaults, and an empty object back */
    fx_open(&f, DEF_FLAGS, 0);
    assert_int_equal(version(&f, 0, 1, "{}"), 0);
    assert_string_equal((const char *)pl(&f) + 4, "{\"capabilities\":{}}");
    fx_close(&f);
}

static void test_version_malformed(void **state)
{
    static const char *bad[] = {
        "{",
        "not json",
        "[1,2]",
        "{\"capabilities\":{\"max_data_xfer_size\":\"big\"}}",
        "{\"capabilities\":{\"max_msg_fds\":-1}}",
        "{\"capabilities\":{\"max_data_xfer_size\":0}}",
        "{\"capabilities\":{\"write_multiple\":1}}",
        "{\"capabilities\":7}",
    };
    uint8_t raw[8] = {0, 0, 1, 0, '{', '}', ' ', ' '};
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(version(&f, 0, 1, bad[i]), EINVAL);
        assert_false(vuc_srv_negotiated(f.s));
    }
    /* version data without its terminating NUL */
    assert_int_equal(req(&f, VUC_CMD_VERSION, raw, sizeof(raw)), EINVAL);
    /* payload shorter than major + minor */
    assert_int_equal(req(&f, VUC_CMD_VERSION, raw, 3), EINVAL);
    /* the connection stays open: a retry works */
    assert_int_equal(version(&f, 0, 1, "{}"), 0);
    fx_close(&f);
}

static void test_version_wrong_major(void **state)
{
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    assert_int_equal(xmit(&f, VUC_CMD_VERSION, 0, "\x01\x00\x01\x00", 4), 0);
    assert_int_equal(check_reply(&f, VUC_CMD_VERSION), EINVAL);
    /* the server dropped the connection after the error reply */
    assert_int_equal(f.serve_rc, -ECONNABORTED);
    assert_false(vuc_srv_negotiated(f.s));
    fx_close(&f);
}

static void test_before_version(void **state)
{
    uint8_t info[16] = {0};
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    vuc_put_u32(info, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, info, 16), EINVAL);
    assert_int_equal(reset(&f), EINVAL);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG, NULL, 0), EINVAL);
    /* an unknown command before VERSION is also just "not yet" */
    assert_int_equal(req(&f, 99, NULL, 0), EINVAL);
    negotiate(&f);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, info, 16), 0);
    fx_close(&f);
}

static void test_reconnect_keeps_device(void **state)
{
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    bar_wr(&f, R_SCRATCH1, 0xfeedfacecafebeefull, 8);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    /* the client closes: serve reports it and forgets the negotiation */
    vuc_conn_close(f.cli);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    assert_false(vuc_srv_negotiated(f.s));
    vuc_conn_close(f.srv);
    assert_int_equal(vuc_mem_pair(&f.cli, &f.srv), 0);
    assert_int_equal(reset(&f), EINVAL); /* must negotiate again */
    negotiate(&f);
    /* spec: Client Disconnection: the device state is retained */
    assert_int_equal(state_now(&f), ST_STOP);
    assert_int_equal(bar_rd(&f, R_SCRATCH1, 8), 0xfeedfacecafebeefull);
    fx_close(&f);
}

static void test_max_xfer(void **state)
{
    struct vuc_srv_opts o;
    struct vuc_caps caps;
    uint8_t *big = calloc(1, 70000);
    size_t n;
    struct fx f;

    (void)state;
    assert_non_null(big);
    /* the server's own limit caps the client's proposal */
    vuc_srv_opts_init(&o);
    o.max_data_xfer_size = 8192;
    fx_open_opts(&f, &o);
    assert_int_equal(
        version(&f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":65536}}"),
        0);
    assert_int_equal(
        vuc_caps_parse((const char *)pl(&f) + 4, f.rep.payload_len - 5, &caps),
        0);
    assert_int_equal(caps.max_data_xfer_size, 8192);
    fx_close(&f);

    /* the client's smaller limit is enforced, exactly at the boundary */
    fx_open(&f, DEF_FLAGS, 0);
    assert_int_equal(
        version(&f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":256}}"),
        0);
    assert_int_equal(region_read(&f, 0, 0, 256, big), 0);
    assert_int_equal(region_read(&f, 0, 0, 257, big), EINVAL);
    assert_int_equal(region_write(&f, 0, R_FREE, big, 256), 0);
    assert_int_equal(region_write(&f, 0, R_FREE, big, 257), EINVAL);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 257, 257, big, &n), EINVAL);
    assert_int_equal(mig_read(&f, 8 + 256, 256, big, &n), 0);
    assert_int_equal(n, 256);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    assert_int_equal(mig_write(&f, big, 257), EINVAL);
    assert_int_equal(mig_write(&f, big, 256), 0);
    /* larger than any message the connection accepts: an error reply
     * from the header alone, and the connection goes on */
    vuc_put_u32(big, 8);
    vuc_put_u32(big + 4, 70000 - 8);
    assert_int_equal(req(&f, VUC_CMD_MIG_DATA_WRITE, big, 70000), EINVAL);
    assert_int_equal(state_now(&f), ST_RESUMING);
    fx_close(&f);

    /* 1 MiB default: a REGION_WRITE of exactly max is accepted by the
     * transport (it is rejected only because BAR0 is 4 KiB) */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_true(vuc_conn_max_msg(f.srv) >= VUC_HDR_SIZE + 16 + 1048576);
    fx_close(&f);
    free(big);
}

/* ---- message-level rules ---- */

static void test_no_reply(void **state)
{
    uint8_t b[24];
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    vuc_put_u64(b, R_SCRATCH0);
    vuc_put_u32(b + 8, 0);
    vuc_put_u32(b + 12, 8);
    vuc_put_u64(b + 16, 0x1234);
    assert_int_equal(xmit(&f, VUC_CMD_REGION_WRITE,
                          VUC_TYPE_COMMAND | VUC_FLAG_NO_REPLY, b, 24),
                     -EAGAIN);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x1234);
    /* no reply for a failing request either */
    vuc_put_u32(b + 8, 9);
    assert_int_equal(xmit(&f, VUC_CMD_REGION_WRITE,
                          VUC_TYPE_COMMAND | VUC_FLAG_NO_REPLY, b, 24),
                     -EAGAIN);
    assert_int_equal(f.serve_rc, -EAGAIN);
    /* a SET with No_reply still happens */
    vuc_put_u32(b, 16);
    vuc_put_u32(b + 4, F_SET | FEAT_STATE);
    vuc_put_u32(b + 8, ST_STOP);
    vuc_put_u32(b + 12, 0);
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_FEATURE,
                          VUC_TYPE_COMMAND | VUC_FLAG_NO_REPLY, b, 16),
                     -EAGAIN);
    assert_int_equal(state_now(&f), ST_STOP);
    fx_close(&f);
}

static void test_bad_commands(void **state)
{
    uint8_t b[32] = {0};
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    /* numbers the spec does not define */
    assert_int_equal(req(&f, 0, NULL, 0), ENOSYS);
    assert_int_equal(req(&f, 14, NULL, 0), ENOSYS);
    assert_int_equal(req(&f, VUC_CMD_MAX, NULL, 0), ENOSYS);
    assert_int_equal(req(&f, 0xffff, NULL, 0), ENOSYS);
    /* server -> client commands sent by the client */
    assert_int_equal(req(&f, VUC_CMD_DMA_READ, b, 16), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_DMA_WRITE, b, 16), EINVAL);
    /* DMA_MAP / DMA_UNMAP with argsz 0 */
    assert_int_equal(req(&f, VUC_CMD_DMA_MAP, b, 32), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_DMA_UNMAP, b, 24), EINVAL);
    /* not implemented; SET_IRQS with flags 0 is refused */
    assert_int_not_equal(req(&f, VUC_CMD_DEVICE_SET_IRQS, b, 20), 0);
    assert_int_not_equal(req(&f, VUC_CMD_REGION_WRITE_MULTI, b, 8), 0);
    assert_int_not_equal(req(&f, VUC_CMD_DEVICE_GET_REGION_IO_FDS, b, 16), 0);
    /* payload below the fixed size */
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, b, 15), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_REGION_READ, b, 8), EINVAL);
    /* DEVICE_RESET has no payload */
    assert_int_equal(req(&f, VUC_CMD_DEVICE_RESET, b, 4), EINVAL);
    /* an unknown message type */
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_RESET, 0x2, NULL, 0), 0);
    assert_int_equal(check_reply(&f, VUC_CMD_DEVICE_RESET), EINVAL);
    /* a reply to nothing closes the connection: no answer, and the
     * server drops the client (robust.header.reply-type) */
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_RESET, VUC_TYPE_REPLY, NULL, 0),
                     -EAGAIN);
    assert_int_equal(f.serve_rc, -ECONNABORTED);
    fx_close(&f);
}

static void test_header_size_below_16(void **state)
{
    uint8_t raw[16] = {0};
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    vuc_put_u16(raw + 2, VUC_CMD_DEVICE_RESET);
    vuc_put_u32(raw + 4, 8); /* declared size < header */
    assert_int_equal(vuc_conn_send_raw(f.cli, raw, 16, NULL, 0, 0), 0);
    /* cannot resynchronise: the server drops the connection */
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), -ECONNABORTED);
    assert_false(vuc_srv_negotiated(f.s));
    fx_close(&f);
}

/* ---- device ---- */

static void test_device_info(void **state)
{
    uint8_t b[32] = {0};
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    vuc_put_u32(b, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, b, 16), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_int_equal(vuc_get_u32(pl(&f)), 16);
    assert_int_equal(vuc_get_u32(pl(&f) + 4),
                     VUC_DEVICE_FLAGS_RESET | VUC_DEVICE_FLAGS_PCI);
    assert_int_equal(vuc_get_u32(pl(&f) + 8), 9);
    assert_int_equal(vuc_get_u32(pl(&f) + 12), 5);
    vuc_put_u32(b, 15);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, b, 16), EINVAL);
    /* trailing bytes */
    vuc_put_u32(b, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, b, 17), EINVAL);

    /* region info: 0..8, then 9 is out of range */
    for (uint32_t i = 0; i <= 9; i++) {
        memset(b, 0, sizeof(b));
        vuc_put_u32(b, 32);
        vuc_put_u32(b + 8, i);
        if (i == 9) {
            assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_REGION_INFO, b, 32),
                             EINVAL);
            break;
        }
        assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_REGION_INFO, b, 32), 0);
        assert_int_equal(f.rep.payload_len, 32);
        assert_int_equal(vuc_get_u32(pl(&f)), 32);
        assert_int_equal(vuc_get_u32(pl(&f) + 8), i);
        assert_int_equal(vuc_get_u32(pl(&f) + 12), 0);
        if (i == 0 || i == CFG_REGION) {
            assert_int_equal(vuc_get_u32(pl(&f) + 4),
                             VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE);
            assert_int_equal(vuc_get_u64(pl(&f) + 16),
                             i == 0 ? BAR0_SIZE : CFG_SIZE);
        } else if (i == 2) {
            /* BAR2: 1 MiB of memory the client may mmap */
            assert_int_equal(vuc_get_u32(pl(&f) + 4),
                             VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE |
                                 VUC_REGION_FLAG_MMAP);
            assert_int_equal(vuc_get_u64(pl(&f) + 16), 1u << 20);
        } else {
            assert_int_equal(vuc_get_u32(pl(&f) + 4), 0);
            assert_int_equal(vuc_get_u64(pl(&f) + 16), 0);
        }
    }
    memset(b, 0, sizeof(b));
    vuc_put_u32(b, 31);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_REGION_INFO, b, 32), EINVAL);

    /* IRQ info: INTx has one interrupt, the other four types none */
    for (uint32_t i = 0; i <= 5; i++) {
        memset(b, 0, sizeof(b));
        vuc_put_u32(b, 16);
        vuc_put_u32(b + 8, i);
        if (i == 5) {
            assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_IRQ_INFO, b, 16),
                             EINVAL);
            break;
        }
        assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_IRQ_INFO, b, 16), 0);
        assert_int_equal(f.rep.payload_len, 16);
        assert_int_equal(vuc_get_u32(pl(&f)), 16);
        assert_int_equal(vuc_get_u32(pl(&f) + 8), i);
        assert_int_equal(vuc_get_u32(pl(&f) + 12), i == 0 ? 1 : 0);
    }
    fx_close(&f);
}

static void test_region_bounds(void **state)
{
    uint8_t b[4096], w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    /* BAR0 up to its very end, not one byte past it */
    assert_int_equal(region_read(&f, 0, 4092, 4, b), 0);
    assert_int_equal(region_read(&f, 0, 0, 4096, b), 0);
    assert_int_equal(region_read(&f, 0, 4093, 4, b), EINVAL);
    assert_int_equal(region_read(&f, 0, 4096, 1, b), EINVAL);
    assert_int_equal(region_read(&f, 0, 4096, 0, b), 0);
    /* offset + count wraps */
    assert_int_equal(region_read(&f, 0, UINT64_MAX, 2, b), EINVAL);
    assert_int_equal(region_write(&f, 0, UINT64_MAX - 3, w, 8), EINVAL);
    /* config: 256 bytes */
    assert_int_equal(region_read(&f, CFG_REGION, 0, 256, b), 0);
    assert_int_equal(region_read(&f, CFG_REGION, 255, 2, b), EINVAL);
    /* regions of size 0, and past the last region */
    for (uint32_t r = 1; r < 7; r++)
        if (r != 2)
            assert_int_equal(region_read(&f, r, 0, 1, b), EINVAL);
    /* BAR2: memory, up to its end */
    assert_int_equal(region_write(&f, 2, (1u << 20) - 8, w, 8), 0);
    assert_int_equal(region_read(&f, 2, (1u << 20) - 8, 8, b), 0);
    assert_memory_equal(b, w, 8);
    assert_int_equal(region_read(&f, 2, (1u << 20) - 7, 8, b), EINVAL);
    assert_int_equal(region_read(&f, 8, 0, 1, b), EINVAL);
    assert_int_equal(region_read(&f, 9, 0, 1, b), EINVAL);
    assert_int_equal(region_write(&f, 9, 0, w, 1), EINVAL);
    /* count over the negotiated maximum */
    assert_int_equal(region_read(&f, 0, 0, 1048577, b), EINVAL);

    /* WRITE data length must equal count */
    memset(b, 0, 32);
    vuc_put_u64(b, R_SCRATCH0);
    vuc_put_u32(b + 12, 8);
    assert_int_equal(req(&f, VUC_CMD_REGION_WRITE, b, 16 + 4), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_REGION_WRITE, b, 16 + 9), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_REGION_WRITE, b, 16 + 8), 0);
    /* READ with trailing bytes */
    vuc_put_u32(b + 12, 4);
    assert_int_equal(req(&f, VUC_CMD_REGION_READ, b, 17), EINVAL);
    fx_close(&f);
}

static void test_bar0_registers(void **state)
{
    uint8_t b[8];
    struct fx f;
    uint64_t c0;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(bar_rd(&f, R_MAGIC, 4), 0x54435556u);
    assert_int_equal(region_read(&f, 0, 0, 4, b), 0);
    assert_memory_equal(b, "VUCT", 4);
    assert_int_equal(bar_rd(&f, R_REV, 4), 1);
    /* read-only registers ignore writes */
    bar_wr(&f, R_MAGIC, 0, 4);
    bar_wr(&f, R_REV, 0xff, 4);
    bar_wr(&f, R_TRACE_COUNT, 5, 4);
    bar_wr(&f, R_COUNTER, 0, 8);
    assert_int_equal(bar_rd(&f, R_MAGIC, 4), 0x54435556u);
    assert_int_equal(bar_rd(&f, R_REV, 4), 1);
    assert_int_equal(bar_rd(&f, R_TRACE_COUNT, 4), 0);
    assert_int_not_equal(bar_rd(&f, R_COUNTER, 8), 0);
    /* scratch and the free area are RW, at any width */
    bar_wr(&f, R_SCRATCH0, 0x0102030405060708ull, 8);
    bar_wr(&f, R_SCRATCH1 + 3, 0xab, 1);
    bar_wr(&f, 4094, 0xbeef, 2);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x0102030405060708ull);
    assert_int_equal(bar_rd(&f, R_SCRATCH0 + 2, 2), 0x0506);
    assert_int_equal(bar_rd(&f, R_SCRATCH1, 8), 0xab000000ull);
    assert_int_equal(bar_rd(&f, 4094, 2), 0xbeef);
    /* FAULT: bit 0 only, 0 disarms */
    bar_wr(&f, R_FAULT, 0xffffffffu, 4);
    assert_int_equal(bar_rd(&f, R_FAULT, 4), 1);
    bar_wr(&f, R_FAULT, 0, 4);
    assert_int_equal(bar_rd(&f, R_FAULT, 4), 0);
    assert_int_equal(set_state(&f, ST_STOP), 0); /* disarmed: no fault */

    /* COUNTER advances by one per message while running, not stopped */
    c0 = bar_rd(&f, R_COUNTER, 8);
    assert_int_equal(bar_rd(&f, R_COUNTER, 8), c0);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    c0 = bar_rd(&f, R_COUNTER, 8);
    assert_int_equal(bar_rd(&f, R_COUNTER, 8), c0 + 1);
    assert_int_equal(bar_rd(&f, R_COUNTER, 8), c0 + 2);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    c0 = bar_rd(&f, R_COUNTER, 8);
    assert_int_equal(bar_rd(&f, R_COUNTER, 8), c0 + 1);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    c0 = bar_rd(&f, R_COUNTER, 8);
    assert_int_equal(bar_rd(&f, R_COUNTER, 8), c0);
    fx_close(&f);
}

static void test_config_space(void **state)
{
    uint8_t cfg[256], b[4];
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(region_read(&f, CFG_REGION, 0, 256, cfg), 0);
    assert_int_not_equal(vuc_get_u16(cfg), 0xffff); /* vendor */
    assert_int_not_equal(vuc_get_u16(cfg), 0);
    assert_int_equal(cfg[0x0e] & 0x7f, 0);        /* type-0 header */
    assert_int_equal(cfg[0x0b], 0xff);            /* class code */
    assert_int_equal(vuc_get_u32(cfg + 0x10), 0); /* BAR0 */
    /* vendor and device ids are read-only */
    memset(b, 0x55, 4);
    assert_int_equal(region_write(&f, CFG_REGION, 0, b, 4), 0);
    assert_int_equal(region_read(&f, CFG_REGION, 0, 4, b), 0);
    assert_memory_equal(b, cfg, 4);
    /* BAR sizing: all ones reads back the 4 KiB size mask */
    memset(b, 0xff, 4);
    assert_int_equal(region_write(&f, CFG_REGION, 0x10, b, 4), 0);
    assert_int_equal(region_read(&f, CFG_REGION, 0x10, 4, b), 0);
    assert_int_equal(vuc_get_u32(b), 0xfffff000u);
    /* command register: only its defined writable bits */
    vuc_put_u16(b, 0xffff);
    assert_int_equal(region_write(&f, CFG_REGION, 0x04, b, 2), 0);
    assert_int_equal(region_read(&f, CFG_REGION, 0x04, 2, b), 0);
    assert_int_equal(vuc_get_u16(b), 0x0547);
    fx_close(&f);
}

/* ---- DEVICE_FEATURE ---- */

static void test_feature_errors(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    uint8_t d[8] = {0}, raw[4] = {16, 0, 0, 0};
    static const uint32_t notty[] = {0, 3, 4, 5, 9, 10, 0xffff};
    struct fx f;

    fx_open(&f, DEF_FLAGS, q);
    negotiate(&f);
    /* payload shorter than argsz + flags */
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, raw, 4), E(&f, EINVAL));
    /* argsz below the 8-byte prefix */
    assert_int_equal(feature(&f, 7, F_GET | FEAT_MIG, NULL, 0), E(&f, EINVAL));
    assert_int_equal(feature(&f, 0, F_PROBE | FEAT_MIG, NULL, 0),
                     E(&f, EINVAL));
    /* unknown flag bits */
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG | (1u << 19), NULL, 0),
                     E(&f, EINVAL));
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG | (1u << 31), NULL, 0),
                     E(&f, EINVAL));
    /* GET and SET together without PROBE */
    assert_int_equal(feature(&f, 16, F_GET | F_SET | FEAT_STATE, d, 8),
                     E(&f, EINVAL));
    /* features other than 1, 2, 6, 7, 8, with any method */
    for (size_t i = 0; i < sizeof(notty) / sizeof(notty[0]); i++) {
        assert_int_equal(feature(&f, 16, F_GET | notty[i], NULL, 0),
                         E(&f, ENOTTY));
        assert_int_equal(feature(&f, 16, F_PROBE | notty[i], NULL, 0),
                         E(&f, ENOTTY));
        assert_int_equal(feature(&f, 16, notty[i], NULL, 0), E(&f, ENOTTY));
    }
    /* none of GET, SET, PROBE */
    assert_int_equal(feature(&f, 16, FEAT_MIG, NULL, 0), E(&f, EINVAL));
    assert_int_equal(feature(&f, 16, FEAT_STATE, NULL, 0), E(&f, EINVAL));
    /* a method the feature lacks: SET of MIGRATION; GET of START and
     * STOP, SET of REPORT */
    assert_int_equal(feature(&f, 16, F_SET | FEAT_MIG, d, 8), E(&f, EINVAL));
    assert_int_equal(feature(&f, 16, F_PROBE | F_SET | FEAT_MIG, NULL, 0),
                     E(&f, EINVAL));
    for (uint32_t i = 6; i <= 8; i++) {
        uint32_t lacks = i == 8 ? F_SET : F_GET;

        assert_int_equal(feature(&f, 64, lacks | i, NULL, 0), E(&f, EINVAL));
        assert_int_equal(feature(&f, 64, F_PROBE | lacks | i, NULL, 0),
                         E(&f, EINVAL));
        assert_int_equal(feature(&f, 64, i, NULL, 0), E(&f, EINVAL));
    }
    /* argsz below the fixed data: START 8 + 16, REPORT 8 + 24 */
    memset(d, 0, sizeof(d));
    assert_int_equal(feature(&f, 23, F_SET | 6u, d, 8), E(&f, EINVAL));
    assert_int_equal(feature(&f, 31, F_GET | 8u, d, 8), E(&f, EINVAL));
    assert_int_equal(feature(&f, 7, F_SET | 7u, NULL, 0), E(&f, EINVAL));
    /* argsz below prefix + data */
    assert_int_equal(feature(&f, 15, F_GET | FEAT_MIG, NULL, 0), E(&f, EINVAL));
    assert_int_equal(feature(&f, 15, F_GET | FEAT_STATE, NULL, 0),
                     E(&f, EINVAL));
    vuc_put_u32(d, ST_STOP);
    assert_int_equal(feature(&f, 15, F_SET | FEAT_STATE, d, 8), E(&f, EINVAL));
    /* SET data shorter than device_state + data_fd */
    assert_int_equal(feature(&f, 16, F_SET | FEAT_STATE, d, 4), E(&f, EINVAL));
    assert_int_equal(feature(&f, 16, F_SET | FEAT_STATE, NULL, 0),
                     E(&f, EINVAL));
    /* none of that changed the state */
    assert_int_equal(state_now(&f), ST_RUNNING);
    fx_close(&f);
}

static void test_feature_get_probe(void **state)
{
    uint8_t req_pl[24], d[8];
    struct fx f;

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        uint64_t flags = vuc_fsm_flag_sets[i];

        fx_open(&f, flags, 0);
        negotiate(&f);
        /* MIGRATION GET: argsz 16, flags echoed, the flag set */
        assert_int_equal(feature(&f, 64, F_GET | FEAT_MIG, NULL, 0), 0);
        assert_int_equal(f.rep.payload_len, 16);
        assert_int_equal(vuc_get_u32(pl(&f)), 16);
        assert_int_equal(vuc_get_u32(pl(&f) + 4), F_GET | FEAT_MIG);
        assert_int_equal(vuc_get_u64(pl(&f) + 8), flags);
        fx_close(&f);
    }

    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    /* PROBE: success iff every indicated method exists; payload echoed */
    static const uint32_t ok[] = {
        F_PROBE | FEAT_MIG,
        F_PROBE | F_GET | FEAT_MIG,
        F_PROBE | FEAT_STATE,
        F_PROBE | F_GET | FEAT_STATE,
        F_PROBE | F_SET | FEAT_STATE,
        F_PROBE | F_GET | F_SET | FEAT_STATE,
        F_PROBE | 6u,
        F_PROBE | F_SET | 6u,
        F_PROBE | 7u,
        F_PROBE | F_SET | 7u,
        F_PROBE | 8u,
        F_PROBE | F_GET | 8u,
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        vuc_put_u32(req_pl, 8); /* PROBE needs no room for data */
        vuc_put_u32(req_pl + 4, ok[i]);
        memset(req_pl + 8, (int)i + 1, 16);
        assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, req_pl, 24), 0);
        assert_int_equal(f.rep.payload_len, 24);
        assert_memory_equal(pl(&f), req_pl, 24);
        assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, req_pl, 8), 0);
        assert_int_equal(f.rep.payload_len, 8);
        assert_memory_equal(pl(&f), req_pl, 8);
    }
    /* a PROBE|SET of MIG_DEVICE_STATE does not change the state */
    vuc_put_u32(d, ST_STOP);
    vuc_put_u32(d + 4, 0);
    assert_int_equal(feature(&f, 16, F_PROBE | F_SET | FEAT_STATE, d, 8), 0);
    assert_int_equal(state_now(&f), ST_RUNNING);
    assert_int_equal(get_state(&f), ST_RUNNING);
    fx_close(&f);
}

/* ---- the 8x8 matrix ---- */

struct expect {
    bool ok;
    uint32_t state;
    uint32_t path[16];
    int n;
};

/* The quirk saving-state-inside-path, as README.md states it. */
static int model_detour(uint64_t flags, uint32_t from, uint32_t to, uint32_t *p,
                        int n)
{
    uint32_t out[16];
    int k = 0;

    if (from == ST_RUNNING && to == ST_STOP_COPY &&
        (flags & VUC_MIGRATION_PRE_COPY)) {
        p[0] = ST_PRE_COPY;
        p[1] = ST_STOP_COPY;
        return 2;
    }
    for (int i = 0; i < n; i++) {
        out[k++] = p[i];
        if (p[i] == ST_STOP && i + 1 < n && p[i + 1] != ST_STOP_COPY) {
            out[k++] = ST_STOP_COPY;
            out[k++] = ST_STOP;
        }
    }
    memcpy(p, out, (size_t)k * sizeof(*out));
    return k;
}

static void expect_cell(uint64_t flags, uint64_t q, uint32_t from, uint32_t to,
                        struct expect *e)
{
    enum vuc_fsm_reject rej = vuc_fsm_check(flags, from, to);

    memset(e, 0, sizeof(*e));
    e->state = from;
    switch (rej) {
    case VUC_FSM_OK:
        if (from == to && (q & VUC_SRV_QUIRK_SAME_STATE_REJECTED))
            break; /* rejected, walks nothing */
        e->n = vuc_fsm_path(flags, from, to, e->path, 16);
        assert_true(e->n >= 0);
        if (e->n > 1 && (q & VUC_SRV_QUIRK_SAVING_INSIDE_PATH))
            e->n = model_detour(flags, from, to, e->path, e->n);
        e->ok = true;
        break;
    case VUC_FSM_REJ_STATE_RANGE:
        e->ok = (q & VUC_SRV_QUIRK_STATE8_ACCEPTED) != 0;
        break;
    case VUC_FSM_REJ_BLOCKED:
        if ((q & VUC_SRV_QUIRK_STOPCOPY_TO_PRECOPY) &&
            vuc_fsm_state_supported(flags, to)) {
            e->ok = true;
            e->path[0] = to;
            e->n = 1;
        }
        break;
    case VUC_FSM_REJ_UNSUPPORTED:
        if (q & VUC_SRV_QUIRK_UNADVERTISED_STATE) {
            e->n = vuc_fsm_path(ALL_FLAGS, from, to, e->path, 16);
            e->ok = e->n >= 0;
            if (!e->ok)
                e->n = 0;
        }
        break;
    default:
        break;
    }
    if (e->ok && e->n > 0)
        e->state = e->path[e->n - 1];
}

static void run_matrix(uint64_t flags, uint64_t q, const uint8_t *stream,
                       size_t slen)
{
    static const uint32_t targets[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 0xffffffffu};
    uint32_t tr[8];
    struct expect e;
    struct fx f;

    for (uint32_t from = 0; from < VUC_STATE_NR; from++) {
        if (from != ST_ERROR && !vuc_fsm_state_supported(flags, from))
            continue; /* unreachable without a quirk */
        for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
            uint32_t to = targets[t], err;
            size_t n;

            fx_open(&f, flags, q);
            negotiate(&f);
            reach(&f, from, stream, slen);
            expect_cell(flags, q, from, to, &e);
            err = set_state(&f, to);
            if (e.ok)
                assert_int_equal(err, 0);
            else
                assert_int_equal(err, E(&f, EINVAL));
            assert_int_equal(vuc_srv_mig_state(f.s), e.state);
            /* GET: the true state, or (quirk) the one before the last
             * successful SET: reach() did RUNNING -> from */
            if (q & VUC_SRV_QUIRK_STALE_GET)
                assert_int_equal(get_state(&f), e.ok ? from : ST_RUNNING);
            else
                assert_int_equal(get_state(&f), e.state);
            n = trace(&f, tr);
            assert_int_equal(n, (size_t)e.n);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(tr[i], e.path[i]);
            fx_close(&f);
        }
    }
}

static void test_fsm_matrix(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    uint8_t stream[STREAM_BUF];
    size_t slen = fresh_stream(stream, sizeof(stream));

    for (size_t i = 0; i < 4; i++)
        run_matrix(vuc_fsm_flag_sets[i], q, stream, slen);
}

static void test_reset_from_every_state(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    uint8_t stream[STREAM_BUF];
    size_t slen = fresh_stream(stream, sizeof(stream));
    size_t n;
    struct fx f;

    for (uint32_t st = 0; st < VUC_STATE_NR; st++) {
        fx_open(&f, ALL_FLAGS, q);
        negotiate(&f);
        bar_wr(&f, R_SCRATCH0, 0x77, 8);
        reach(&f, st, stream, slen);
        bar_wr(&f, R_FAULT, 1, 4);
        assert_int_equal(reset(&f), 0);
        assert_int_equal(f.rep.payload_len, 0);
        /* FAULT is disarmed in every case */
        assert_int_equal(bar_rd(&f, R_FAULT, 4), 0);
        if (q & VUC_SRV_QUIRK_RESET_KEEPS_STATE) {
            assert_int_equal(state_now(&f), st);
            fx_close(&f);
            continue;
        }
        assert_int_equal(state_now(&f), (q & VUC_SRV_QUIRK_RESET_GOES_TO_STOP)
                                            ? ST_STOP
                                            : ST_RUNNING);
        /* no data session survives a reset */
        assert_int_equal(mig_read(&f, 16, 8, NULL, &n), E(&f, EINVAL));
        assert_int_equal(mig_write(&f, stream, 8), E(&f, EINVAL));
        /* the device contents are kept (README: reset of migration only) */
        assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x77);
        /* the machine works again, without the fault that was armed */
        assert_int_equal(set_state(&f, ST_STOP), 0);
        fx_close(&f);
    }
}

/* ---- migration data ---- */

/* Device state as the tests set it: registers, big-state words, a free
 * BAR0 byte. */
static void scribble(struct fx *f, uint64_t seed)
{
    bar_wr(f, R_SCRATCH0, 0x1122334455667788ull ^ seed, 8);
    bar_wr(f, R_SCRATCH1, 0x99aabbccddeeff00ull ^ seed, 8);
    bar_wr(f, 0x100, 0xab ^ (seed & 0xff), 1);
    bar_wr(f, R_STATE_ADDR, 8, 8);
    bar_wr(f, R_STATE_DATA, 0xa1a2a3a4a5a6a7a8ull ^ seed, 8);
    bar_wr(f, R_STATE_DATA, 0xb1b2b3b4b5b6b7b8ull ^ seed, 8);
    bar_wr(f, R_DIRTY, 1000, 4); /* every page */
}

/*
 * Source (PRE_COPY, a change, STOP_COPY) to destination (RESUMING) over
 * the wire: the destination's DIGEST, registers and state words equal
 * the source's. Runs under quirks that must not disturb a round trip.
 */
static void test_stream_round_trip(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    uint8_t *s1 = malloc(4 * STREAM_BUF), s2[64];
    uint64_t counter, dig;
    size_t n = 0, n2, pre;
    struct fx f, g;

    assert_non_null(s1);
    fx_open(&f, DEF_FLAGS, q);
    negotiate(&f);
    scribble(&f, 0);
    dig = digest(&f);
    assert_int_not_equal(digest(&f), dig); /* COUNTER advanced */

    /* PRE_COPY: the initial data is ready at once; the rest of what is
     * ready ends with a short read; reading on gives 0 bytes */
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    pre = read_stream(&f, s1, 4 * STREAM_BUF);
    assert_int_equal(pre, 64 + 32 + FX_STATE);
    assert_int_equal(mig_read(&f, 8 + 100, 100, s2, &n2), 0);
    assert_int_equal(n2, 0);
    /* the device keeps running: a changed word is ready again */
    bar_wr(&f, R_STATE_ADDR, 4096 + 16, 8);
    bar_wr(&f, R_STATE_DATA, 0x0123456789abcdefull, 8);
    n = pre + read_stream(&f, s1 + pre, 4 * STREAM_BUF - pre);
    assert_int_equal(n, pre + 32 + 4096);
    /* STOP_COPY: the rest, then the end sticks; size 0 is 0 bytes */
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    counter = bar_rd(&f, R_COUNTER, 8);
    dig = digest(&f);
    assert_int_equal(digest(&f), dig); /* stopped: reading changes nothing */
    n += read_stream(&f, s1 + n, 4 * STREAM_BUF - n);
    assert_int_equal(n, pre + 32 + 4096 + 32 + REGS_SIZE + 48);
    assert_int_equal(count_records(s1, n), 5);
    assert_int_equal(mig_read(&f, 8 + 100, 100, s2, &n2), 0);
    assert_int_equal(n2, 0);
    assert_int_equal(mig_read(&f, 8, 0, s2, &n2), 0);
    assert_int_equal(n2, 0);
    assert_int_equal(mig_read(&f, 8 + 100, 100, s2, &n2), 0);
    assert_int_equal(n2, 0);
    assert_int_equal(digest(&f), dig);

    /* destination: a different device, then the stream */
    fx_open(&g, DEF_FLAGS, q);
    negotiate(&g);
    scribble(&g, 0x5555);
    assert_int_not_equal(digest(&g), dig);
    assert_int_equal(set_state(&g, ST_STOP), 0);
    assert_int_equal(set_state(&g, ST_RESUMING), 0);
    write_stream(&g, s1, n);
    assert_int_equal(set_state(&g, ST_STOP), 0);
    assert_int_equal(digest(&g), dig);
    assert_int_equal(bar_rd(&g, R_SCRATCH0, 8), 0x1122334455667788ull);
    assert_int_equal(bar_rd(&g, R_SCRATCH1, 8), 0x99aabbccddeeff00ull);
    assert_int_equal(bar_rd(&g, 0x100, 1), 0xab);
    assert_int_equal(bar_rd(&g, R_COUNTER, 8), counter);
    assert_int_equal(bar_rd(&g, R_STATE_ADDR, 8), 4096 + 24);
    bar_wr(&g, R_STATE_ADDR, 8, 8); /* ignored: stopped */
    assert_int_equal(bar_rd(&g, R_STATE_ADDR, 8), 4096 + 24);
    assert_int_equal(set_state(&g, ST_RUNNING), 0);
    bar_wr(&g, R_STATE_ADDR, 4096 + 16, 8);
    assert_int_equal(bar_rd(&g, R_STATE_DATA, 8), 0x0123456789abcdefull);
    bar_wr(&g, R_STATE_ADDR, 16, 8);
    assert_int_equal(bar_rd(&g, R_STATE_DATA, 8), 0xb1b2b3b4b5b6b7b8ull);
    fx_close(&g);
    fx_close(&f);
    free(s1);
}

static void test_stream_read_rules(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    uint8_t b[STREAM_BUF], rq[12] = {0};
    size_t n, total = 0;
    struct fx f;

    fx_open(&f, DEF_FLAGS, q);
    negotiate(&f);
    /* outside the saving group */
    assert_int_equal(mig_read(&f, 16, 8, b, &n), EINVAL);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(mig_read(&f, 16, 8, b, &n), EINVAL);
    assert_int_equal(mig_read(&f, 8, 0, b, &n), EINVAL);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    /* argsz < 8, payload not exactly 8 bytes, size above the maximum */
    assert_int_equal(mig_read(&f, 7, 8, b, &n), EINVAL);
    vuc_put_u32(rq, 16);
    vuc_put_u32(rq + 4, 8);
    assert_int_equal(req(&f, VUC_CMD_MIG_DATA_READ, rq, 12), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_MIG_DATA_READ, rq, 4), EINVAL);
    assert_int_equal(mig_read(&f, 0xffffffffu, 1048577, b, &n), EINVAL);
    /* argsz bounds the data: 10 bytes of the 100 asked for */
    assert_int_equal(mig_read(&f, 8 + 10, 100, b, &n), 0);
    assert_int_equal(n, 10);
    total += n;
    assert_int_equal(mig_read(&f, 8, 100, b, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mig_read(&f, 8 + 100, 0, b, &n), 0);
    assert_int_equal(n, 0);
    /* the stream continues where it was */
    for (;;) {
        assert_int_equal(mig_read(&f, 8 + 1000, 1000, b + total, &n), 0);
        total += n;
        if (n < 1000)
            break;
    }
    assert_int_equal(total, S_SIZE);
    assert_int_equal(count_records(b, total), 4);
    /* a read of exactly what is left is not short; the next one is */
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + S_SIZE, S_SIZE, b, &n), 0);
    assert_int_equal(n, S_SIZE);
    assert_int_equal(mig_read(&f, 8 + 1, 1, b, &n), 0);
    assert_int_equal(n, 0);
    /* leaving the saving group early discards the session; a new one
     * starts from the beginning */
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 100, 100, b, &n), 0);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 4, 4, b, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(vuc_get_u32(b), REC_MAGIC);
    assert_memory_equal(b, "VUCR", 4);
    /* a MIG_DATA_WRITE outside RESUMING */
    assert_int_equal(mig_write(&f, b, 4), EINVAL);
    /* PRE_COPY left early, and again */
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 50, 50, b, &n), 0);
    assert_int_equal(n, 50);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(read_stream(&f, b, sizeof(b)), 64 + 32 + FX_STATE);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(read_stream(&f, b, sizeof(b)), 32 + REGS_SIZE + 48);
    fx_close(&f);
}

static void test_stream_resume_failures(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    uint8_t s[STREAM_BUF], bad[STREAM_BUF], w[16];
    uint64_t dig;
    size_t n;
    struct fx f;

    n = fresh_stream(s, sizeof(s));
    fx_open(&f, DEF_FLAGS, q);
    negotiate(&f);
    scribble(&f, 9);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    dig = digest(&f);
    /* no data at all */
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    assert_int_equal(state_now(&f), ST_RESUMING);
    /* truncated: fails and stays RESUMING, the data is kept */
    write_stream(&f, s, n - 1);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    assert_int_equal(state_now(&f), ST_RESUMING);
    /* a multi-arc SET fails at its first arc, state still RESUMING */
    assert_int_equal(set_state(&f, ST_RUNNING), EINVAL);
    assert_int_equal(state_now(&f), ST_RESUMING);
    assert_int_equal(bar_rd(&f, R_TRACE_COUNT, 4), 0);
    /* (the stream is staged in the device's own state: what a failed
     * resume leaves there is not the old state, and the spec keeps
     * nothing of it) */
    /* completing it makes it valid */
    assert_int_equal(mig_write(&f, s + n - 1, 1), 0);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_not_equal(digest(&f), dig);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x5a5a5a5a5a5a5a5aull);

    /* bytes after the end: the write is taken, the stream is not */
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, n);
    assert_int_equal(mig_write(&f, s, 1), 0);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    assert_int_equal(state_now(&f), ST_RESUMING);

    /* wrong size field in the write */
    vuc_put_u32(w, 8);
    vuc_put_u32(w + 4, 10);
    assert_int_equal(req(&f, VUC_CMD_MIG_DATA_WRITE, w, 16), EINVAL);
    vuc_put_u32(w + 4, 4);
    assert_int_equal(req(&f, VUC_CMD_MIG_DATA_WRITE, w, 16), EINVAL);
    assert_int_equal(req(&f, VUC_CMD_MIG_DATA_WRITE, w, 4), EINVAL);

    /* corrupt: each kind of damage fails, and stays RESUMING */
    static const size_t flips[] = {
        0,           4,         8,       12,      16,  28,   32,
        40,          64 + 8,    64 + 24, 64 + 32, 100, 8000, S_SIZE - 4100,
        S_SIZE - 60, S_SIZE - 1};
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        memcpy(bad, s, n);
        bad[flips[i]] ^= 0x01;
        assert_int_equal(reset(&f), 0);
        assert_int_equal(set_state(&f, ST_RESUMING), 0);
        write_stream(&f, bad, n);
        assert_int_equal(set_state(&f, ST_STOP), EINVAL);
        assert_int_equal(state_now(&f), ST_RESUMING);
    }

    /* STOP -> RESUMING discards earlier data */
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, 100);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s + 100, n - 100);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    fx_close(&f);

    /* a stream of a device with another state size */
    {
        struct vuc_srv_opts o;

        vuc_srv_opts_init(&o);
        o.state_size = 2 * FX_STATE;
        o.quirks = q;
        fx_open_opts(&f, &o);
        negotiate(&f);
        assert_int_equal(set_state(&f, ST_RESUMING), 0);
        write_stream(&f, s, n);
        assert_int_equal(set_state(&f, ST_STOP), EINVAL);
        fx_close(&f);
    }
}

/* --resume-fail-to-error: a bad stream takes the device to ERROR. */
static void test_resume_fail_to_error(void **state)
{
    uint8_t s[STREAM_BUF];
    struct vuc_srv_opts o;
    uint32_t tr[8];
    size_t n;
    struct fx f;

    (void)state;
    n = fresh_stream(s, sizeof(s));
    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.resume_fail_to_error = true;
    fx_open_opts(&f, &o);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, n - 1);
    assert_int_equal(set_state(&f, ST_RUNNING), EINVAL);
    assert_int_equal(state_now(&f), ST_ERROR);
    assert_int_equal(trace(&f, tr), 1);
    assert_int_equal(tr[0], ST_ERROR);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL); /* reset needed */
    assert_int_equal(mig_write(&f, s, 1), EINVAL);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(state_now(&f), ST_RUNNING);
    /* nothing was loaded */
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0);
    /* a good stream still loads */
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, n);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x5a5a5a5a5a5a5a5aull);
    fx_close(&f);
}

/* An allocator that fails from the Nth call on (fail_after < 0: never). */
struct alloc_ctx {
    int count;
    int fail_after;
};

static void *counting_alloc(void *ctx, size_t n)
{
    struct alloc_ctx *a = ctx;

    if (a->fail_after >= 0 && a->count++ >= a->fail_after)
        return NULL;
    return malloc(n);
}

static void counting_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/*
 * Requests of up to 1 KiB land in four buffers in turn, the 4 KiB block
 * the server allocates after its state (server_priv.h, SRV_REQ_BUFS):
 * the nth request that fits is in buffer n % 4, a larger one is not in
 * any, and under ASan every byte of the four is poisoned between
 * requests, so a read of a handled request fails as in freed memory.
 */
struct ring_ctx {
    uint8_t *ring;
};

static void *ring_alloc(void *ctx, size_t n)
{
    uint8_t *p = malloc(n);

    if (n == 4096)
        ((struct ring_ctx *)ctx)->ring = p;
    return p;
}

/* gcc says ASan with __SANITIZE_ADDRESS__, clang with __has_feature */
#if defined(__SANITIZE_ADDRESS__)
#define RING_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RING_ASAN 1
#endif
#endif
#ifndef RING_ASAN
#define RING_ASAN 0
#endif
#if RING_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* The id in the header buffer k holds (read around ASan's poison). */
static uint16_t ring_id(const uint8_t *ring, unsigned k)
{
    const uint8_t *b = ring + (size_t)k * 1024;
    uint16_t id;

#if RING_ASAN
    for (size_t i = 0; i < 4096; i++)
        assert_true(__asan_address_is_poisoned(ring + i));
    ASAN_UNPOISON_MEMORY_REGION(b, 2);
#endif
    id = vuc_get_u16(b);
#if RING_ASAN
    ASAN_POISON_MEMORY_REGION(b, 2);
#endif
    return id;
}

static void test_request_buffers(void **state)
{
    struct ring_ctx rc = {NULL};
    struct vuc_srv_opts o;
    struct fx f;
    uint8_t big[2048];
    uint16_t before;

    (void)state;
    vuc_srv_opts_init(&o);
    o.state_size = 8192; /* not 4096: the ring is the one block of 4 KiB */
    o.alloc.alloc = ring_alloc;
    o.alloc.release = counting_release;
    o.alloc.ctx = &rc;
    fx_open_opts(&f, &o);
    assert_non_null(rc.ring);
    negotiate(&f); /* the first request: buffer 0 */
    assert_int_equal(ring_id(rc.ring, 0), f.id);
    for (unsigned n = 1; n < 10; n++) {
        assert_int_equal(get_state(&f), ST_RUNNING);
        assert_int_equal(ring_id(rc.ring, n % 4), f.id);
    }
    /* 10 requests so far; a 2 KiB one goes elsewhere and takes no turn */
    before = ring_id(rc.ring, 10 % 4);
    memset(big, 0, sizeof(big));
    assert_int_equal(
        region_write(&f, VUC_PCI_BAR0_REGION_INDEX, 0x800, big, sizeof(big)),
        0);
    for (unsigned k = 0; k < 4; k++)
        assert_int_not_equal(ring_id(rc.ring, k), f.id);
    assert_int_equal(ring_id(rc.ring, 10 % 4), before);
    assert_int_equal(get_state(&f), ST_RUNNING);
    assert_int_equal(ring_id(rc.ring, 10 % 4), f.id);
    fx_close(&f);
}

static void test_alloc_failures(void **state)
{
    struct vuc_srv_opts o;
    struct vuc_srv *s;
    uint8_t stream[STREAM_BUF], b[STREAM_BUF];
    uint32_t tr[8];
    size_t slen = fresh_stream(stream, sizeof(stream)), n;
    struct alloc_ctx a = {.count = 0, .fail_after = 0};
    struct fx f;

    (void)state;
    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.alloc.alloc = counting_alloc;
    o.alloc.release = counting_release;
    o.alloc.ctx = &a;

    /* the context itself, then the state, then the request buffers */
    assert_int_equal(vuc_srv_new(&o, &s), -ENOMEM);
    a.count = 0;
    a.fail_after = 1;
    assert_int_equal(vuc_srv_new(&o, &s), -ENOMEM);
    a.count = 0;
    a.fail_after = 2;
    assert_int_equal(vuc_srv_new(&o, &s), -ENOMEM);
    /* only one of the two hooks */
    o.alloc.release = NULL;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    o.alloc.release = counting_release;

    /* each of the three buffers of a session */
    for (int k = 0; k < 3; k++) {
        a.count = 0;
        a.fail_after = -1;
        fx_open_opts(&f, &o);
        negotiate(&f);
        /* RUNNING -> STOP -> STOP_COPY fails on its second arc and stays
         * at STOP, the last state reached (a failed SET leaves the state
         * on the path) */
        a.count = 0;
        a.fail_after = k;
        assert_int_equal(set_state(&f, ST_STOP_COPY), ENOMEM);
        assert_int_equal(state_now(&f), ST_STOP);
        assert_int_equal(trace(&f, tr), 1);
        assert_int_equal(tr[0], ST_STOP);
        /* STOP -> RESUMING: two buffers (the state is staged in place) */
        a.count = 0;
        if (k < 2) {
            assert_int_equal(set_state(&f, ST_RESUMING), ENOMEM);
            assert_int_equal(state_now(&f), ST_STOP);
            /* with memory both work */
            a.fail_after = -1;
            assert_int_equal(set_state(&f, ST_RESUMING), 0);
        } else {
            /* no third allocation to fail */
            assert_int_equal(set_state(&f, ST_RESUMING), 0);
            a.fail_after = -1;
        }
        write_stream(&f, stream, slen);
        assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
        /* a reply's copy buffer: the read fails and consumes nothing */
        a.count = 0;
        a.fail_after = 0;
        assert_int_equal(mig_read(&f, 8 + 64, 64, b, &n), ENOMEM);
        a.fail_after = -1;
        assert_int_equal(read_stream(&f, b, sizeof(b)), slen);
        assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x5a5a5a5a5a5a5a5aull);
        fx_close(&f);
    }

    /* invalid options */
    vuc_srv_opts_init(&o);
    o.mig_flags = VUC_MIGRATION_PRE_COPY;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    vuc_srv_opts_init(&o);
    o.quirks = 1ull << VUC_SRV_QUIRK_COUNT;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    vuc_srv_opts_init(&o);
    o.max_data_xfer_size = VUC_SRV_MAX_XFER_LIMIT + 1u;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    static const uint64_t bad_sizes[] = {1, 4095, 4097, 6000,
                                         VUC_SRV_STATE_SIZE_MAX + 4096};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        vuc_srv_opts_init(&o);
        o.state_size = bad_sizes[i];
        assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    }
    vuc_srv_opts_init(&o);
    o.state_size = 0; /* the default */
    assert_int_equal(vuc_srv_new(&o, &s), 0);
    vuc_srv_free(s);
    assert_int_equal(vuc_srv_new(NULL, &s), 0);
    assert_int_equal(vuc_srv_mig_state(s), ST_RUNNING);
    vuc_srv_free(s);
    vuc_srv_free(NULL);
}

/* ---- quirks, one by one ---- */

static void test_quirk_table(void **state)
{
    uint64_t bit, all = 0;

    (void)state;
    for (unsigned i = 0; i < VUC_SRV_QUIRK_COUNT; i++) {
        assert_non_null(vuc_srv_quirk_name(i));
        assert_non_null(vuc_srv_quirk_desc(i));
        assert_int_equal(vuc_srv_quirk_parse(vuc_srv_quirk_name(i), &bit), 0);
        assert_int_equal(bit, 1ull << i);
        all |= bit;
    }
    assert_int_equal(all, VUC_SRV_QUIRKS_KNOWN);
    assert_null(vuc_srv_quirk_name(VUC_SRV_QUIRK_COUNT));
    assert_null(vuc_srv_quirk_desc(VUC_SRV_QUIRK_COUNT));
    assert_int_equal(vuc_srv_quirk_parse("nope", &bit), -EINVAL);
    assert_int_equal(vuc_srv_quirk_parse("", &bit), -EINVAL);
    assert_int_equal(vuc_srv_quirk_parse(NULL, &bit), -EINVAL);
    assert_int_equal(vuc_srv_quirk_parse("state-8-accepted", &bit), 0);
    assert_int_equal(bit, VUC_SRV_QUIRK_STATE8_ACCEPTED);
}

static void test_quirk_each(void **state)
{
    uint32_t tr[8];
    struct fx f;

    (void)state;
    /* stopcopy-to-precopy-allowed */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_STOPCOPY_TO_PRECOPY);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(state_now(&f), ST_PRE_COPY);
    assert_int_equal(trace(&f, tr), 1);
    fx_close(&f);

    /* saving-state-inside-path */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_SAVING_INSIDE_PATH);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(trace(&f, tr), 2);
    assert_int_equal(tr[0], ST_PRE_COPY);
    assert_int_equal(tr[1], ST_STOP_COPY);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    assert_int_equal(trace(&f, tr), 4);
    assert_int_equal(tr[0], ST_STOP);
    assert_int_equal(tr[1], ST_STOP_COPY);
    assert_int_equal(tr[2], ST_STOP);
    assert_int_equal(tr[3], ST_RESUMING);
    fx_close(&f);

    /* unadvertised-state-accepted */
    fx_open(&f, VUC_MIGRATION_STOP_COPY, VUC_SRV_QUIRK_UNADVERTISED_STATE);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(state_now(&f), ST_PRE_COPY);
    assert_int_equal(set_state(&f, ST_RUNNING_P2P), 0);
    assert_int_equal(state_now(&f), ST_RUNNING_P2P);
    assert_int_equal(set_state(&f, ST_ERROR), EINVAL);
    assert_int_equal(set_state(&f, 8), EINVAL);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    fx_close(&f);

    /* reset-keeps-state */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_RESET_KEEPS_STATE);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    fx_close(&f);

    /* error-reply-with-payload: errors carry 8 bytes, successes as before */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_ERROR_WITH_PAYLOAD);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_ERROR), EINVAL);
    assert_int_equal(f.rep.payload_len, 8);
    assert_int_equal(f.rep.hdr.size, VUC_HDR_SIZE + 8);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(f.rep.payload_len, 0);
    fx_close(&f);

    /* error-errno-zero */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_ERRNO_ZERO);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_ERROR), ERR_ZERO);
    assert_int_equal(f.rep.payload_len, 0);
    fx_close(&f);

    /* both reply quirks together */
    fx_open(&f, DEF_FLAGS,
            VUC_SRV_QUIRK_ERRNO_ZERO | VUC_SRV_QUIRK_ERROR_WITH_PAYLOAD);
    negotiate(&f);
    assert_int_equal(feature(&f, 16, F_GET | 6, NULL, 0), ERR_ZERO);
    assert_int_equal(f.rep.payload_len, 8);
    fx_close(&f);

    /* get-returns-stale-state */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_STALE_GET);
    negotiate(&f);
    assert_int_equal(get_state(&f), ST_RUNNING);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(get_state(&f), ST_RUNNING);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(get_state(&f), ST_STOP);
    assert_int_equal(vuc_srv_mig_state(f.s), ST_STOP_COPY);
    fx_close(&f);

    /* state-8-accepted */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_STATE8_ACCEPTED);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, 8), 0);
    assert_int_equal(set_state(&f, 0x12345678u), 0);
    assert_int_equal(set_state(&f, 0xffffffffu), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    assert_int_equal(bar_rd(&f, R_TRACE_COUNT, 4), 0);
    assert_int_equal(set_state(&f, ST_ERROR), EINVAL);
    fx_close(&f);

    /* and without quirks, each of those is refused */
    fx_open(&f, VUC_MIGRATION_STOP_COPY, 0);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_PRE_COPY), EINVAL);
    assert_int_equal(set_state(&f, 8), EINVAL);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(set_state(&f, ST_PRE_COPY), EINVAL);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(state_now(&f), ST_RUNNING);
    fx_close(&f);
}

/* ---- the migratable state and its registers ---- */

/* The 8 bytes at addr, through STATE_ADDR and STATE_DATA (running). */
static uint64_t word_at(struct fx *f, uint64_t addr)
{
    bar_wr(f, R_STATE_ADDR, addr, 8);
    return bar_rd(f, R_STATE_DATA, 8);
}

static void dump_state(struct fx *f, uint8_t *out, size_t size)
{
    for (size_t a = 0; a < size; a += 8)
        vuc_put_u64(out + a, word_at(f, a));
}

/* The registers image (STREAM.md: REGS) as BAR0 shows it. */
static void regs_image(struct fx *f, uint8_t *out)
{
    assert_int_equal(region_read(f, 0, R_SCRATCH0, 16, out), 0);
    assert_int_equal(region_read(f, 0, R_STATE_ADDR, 8, out + 16), 0);
    assert_int_equal(region_read(f, 0, R_FREE, BAR0_SIZE - R_FREE, out + 24),
                     0);
    /* the DMA engine's 0x60..0x7f are not device state: zeros */
    memset(out + 24 + (0x60 - R_FREE), 0, 0x20);
    vuc_put_u64(out + REGS_SIZE - 8, bar_rd(f, R_COUNTER, 8));
}

/* Words that differ; each must have changed by DIRTY_PERMILLE's delta,
 * one per page. Returns the pages changed. */
static size_t changed_pages(const uint8_t *a, const uint8_t *b, size_t size)
{
    size_t n = 0, last_page = (size_t)-1;

    for (size_t i = 0; i < size; i += 8) {
        if (vuc_get_u64(a + i) == vuc_get_u64(b + i))
            continue;
        assert_int_equal(vuc_get_u64(b + i),
                         vuc_get_u64(a + i) + 0x9e3779b97f4a7c15ull);
        assert_int_not_equal(i / 4096, last_page);
        last_page = i / 4096;
        n++;
    }
    return n;
}

static void test_state_registers(void **state)
{
    uint8_t *s0 = malloc(FX_STATE), *s1 = malloc(FX_STATE);
    uint8_t regs[REGS_SIZE], b[16];
    struct vuc_xxh64 h;
    uint64_t dig;
    struct fx f;

    (void)state;
    assert_true(s0 && s1);
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(bar_rd(&f, R_STATE_SIZE, 8), FX_STATE);
    bar_wr(&f, R_STATE_SIZE, 0, 8);
    assert_int_equal(bar_rd(&f, R_STATE_SIZE, 8), FX_STATE);
    assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), 0);
    assert_int_equal(bar_rd(&f, R_STATE_DATA, 8), 0); /* a fresh state */

    /* a write stores and advances by 8; a read does not advance */
    bar_wr(&f, R_STATE_ADDR, 100, 8);
    bar_wr(&f, R_STATE_DATA, 0x1111222233334444ull, 8);
    assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), 108);
    bar_wr(&f, R_STATE_DATA, 0x5555666677778888ull, 8);
    assert_int_equal(bar_rd(&f, R_STATE_DATA, 8), 0);
    assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), 116);
    assert_int_equal(word_at(&f, 100), 0x1111222233334444ull);
    assert_int_equal(word_at(&f, 108), 0x5555666677778888ull);
    assert_int_equal(word_at(&f, 104), 0x7777888811112222ull); /* unaligned */
    assert_int_equal(bar_rd(&f, R_STATE_DATA + 4, 4), 0x77778888u);
    /* a partial STATE_DATA write is ignored */
    bar_wr(&f, R_STATE_DATA, 0xffffffffu, 4);
    assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), 104);
    assert_int_equal(bar_rd(&f, R_STATE_DATA, 8), 0x7777888811112222ull);
    /* STATE_ADDR and STATE_DATA in one write: stored at the new address */
    vuc_put_u64(b, 200);
    vuc_put_u64(b + 8, 0xabcdef0123456789ull);
    assert_int_equal(region_write(&f, 0, R_STATE_ADDR, b, 16), 0);
    assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), 208);
    assert_int_equal(word_at(&f, 200), 0xabcdef0123456789ull);
    /* the last word, and past it: ignored, reads 0 */
    bar_wr(&f, R_STATE_ADDR, FX_STATE - 8, 8);
    bar_wr(&f, R_STATE_DATA, 42, 8);
    assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), FX_STATE);
    assert_int_equal(word_at(&f, FX_STATE - 8), 42);
    static const uint64_t outside[] = {FX_STATE - 7, FX_STATE, FX_STATE + 8,
                                       UINT64_MAX - 3, UINT64_MAX};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        bar_wr(&f, R_STATE_ADDR, outside[i], 8);
        assert_int_equal(bar_rd(&f, R_STATE_DATA, 8), 0);
        bar_wr(&f, R_STATE_DATA, 7, 8);
        assert_int_equal(bar_rd(&f, R_STATE_ADDR, 8), outside[i]);
    }

    /* DIRTY_PERMILLE: ceil(4 pages * n / 1000) pages, one word each */
    static const struct {
        uint32_t n;
        size_t pages;
    } dp[] = {{500, 2}, {1, 1}, {1000, 4}, {250, 1},
              {251, 2}, {0, 0}, {1001, 0}, {0xffffffffu, 0}};
    for (size_t i = 0; i < sizeof(dp) / sizeof(dp[0]); i++) {
        dump_state(&f, s0, FX_STATE);
        bar_wr(&f, R_DIRTY, dp[i].n, 4);
        dump_state(&f, s1, FX_STATE);
        assert_int_equal(changed_pages(s0, s1, FX_STATE), dp[i].pages);
    }
    /* only a whole u32 write acts; it reads as 0 */
    dump_state(&f, s0, FX_STATE);
    bar_wr(&f, R_DIRTY, 1000, 2);
    assert_int_equal(bar_rd(&f, R_DIRTY, 4), 0);
    dump_state(&f, s1, FX_STATE);
    assert_int_equal(changed_pages(s0, s1, FX_STATE), 0);

    /* DIGEST is XXH64 of the state, then the registers image */
    bar_wr(&f, R_SCRATCH1, 0x0102030405060708ull, 8);
    bar_wr(&f, 0x777, 0x5a, 1);
    dump_state(&f, s0, FX_STATE);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    regs_image(&f, regs);
    vuc_xxh64_init(&h, 0);
    vuc_xxh64_update(&h, s0, FX_STATE);
    vuc_xxh64_update(&h, regs, REGS_SIZE);
    dig = digest(&f);
    assert_int_equal(dig, vuc_xxh64_digest(&h));
    /* a BAR0 read that spans DIGEST and STATE_DATA sees both */
    assert_int_equal(region_read(&f, 0, R_STATE_DATA + 4, 16 + 4 + 4, s1), 0);
    assert_int_equal(vuc_get_u64(s1 + 12), dig);

    /* stopped, nothing changes: not the registers, not the state, not
     * COUNTER; FAULT still arms */
    for (int i = 0; i < 4; i++) {
        static const uint32_t st[] = {ST_STOP, ST_STOP_COPY, ST_RESUMING,
                                      ST_ERROR};

        assert_int_equal(reset(&f), 0);
        if (st[i] == ST_ERROR) {
            bar_wr(&f, R_FAULT, 1, 4);
            assert_int_equal(set_state(&f, ST_STOP), EIO);
        } else {
            assert_int_equal(set_state(&f, st[i]), 0);
        }
        assert_int_equal(state_now(&f), st[i]);
        dig = digest(&f);
        bar_wr(&f, R_SCRATCH0, 0xdead, 8);
        bar_wr(&f, R_SCRATCH1 + 1, 0xbe, 1);
        bar_wr(&f, R_STATE_ADDR, 0, 8);
        bar_wr(&f, R_STATE_DATA, 0xdead, 8);
        bar_wr(&f, R_DIRTY, 1000, 4);
        bar_wr(&f, R_FREE, 0xff, 1);
        bar_wr(&f, 0xfff, 0xff, 1);
        bar_wr(&f, R_COUNTER, 0, 8);
        assert_int_equal(digest(&f), dig);
        bar_wr(&f, R_FAULT, 1, 4);
        assert_int_equal(bar_rd(&f, R_FAULT, 4), 1);
        bar_wr(&f, R_FAULT, 0, 4);
    }
    /* DEVICE_RESET does not wipe the state */
    assert_int_equal(reset(&f), 0);
    assert_int_equal(word_at(&f, 200), 0xabcdef0123456789ull);
    assert_int_equal(bar_rd(&f, R_SCRATCH1, 8), 0x0102030405060708ull);
    fx_close(&f);
    free(s0);
    free(s1);
}

static void test_state_size_option(void **state)
{
    static const struct {
        const char *text;
        uint64_t v;
    } ok[] = {
        {"4096", 4096},        {"4K", 4096},       {"4k", 4096},
        {"0x1000", 4096},      {"1M", 1u << 20},   {"1m", 1u << 20},
        {"64M", 64u << 20},    {"1G", 1ull << 30}, {"16G", 16ull << 30},
        {"1048576", 1u << 20},
    };
    static const char *bad[] = {
        "",    "0",   "4095",   "4097",
        "1K5", "17G", "-4096",  "+4K",
        "1T",  "K",   "4 K",    "4KB",
        "3K",  "0x",  "16385M", "18446744073709551615G"};
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(vuc_srv_size_parse(ok[i].text, &v), 0);
        assert_int_equal(v, ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vuc_srv_size_parse(bad[i], &v), -EINVAL);
    assert_int_equal(vuc_srv_size_parse(NULL, &v), -EINVAL);
    assert_int_equal(vuc_srv_size_parse("4K", NULL), -EINVAL);
}

/* ---- pre-copy: what it saves, and the quirk that loses it ---- */

#define MIB (1u << 20)

static void open_sized(struct fx *f, uint64_t size, uint64_t q)
{
    struct vuc_srv_opts o;

    vuc_srv_opts_init(&o);
    o.state_size = size;
    o.quirks = q;
    fx_open_opts(f, &o);
    negotiate(f);
}

static void precopy_case(uint64_t q)
{
    size_t cap = 3 * MIB, full, pre, stop;
    uint8_t *buf = malloc(cap);
    uint64_t dig;
    struct fx f, g;

    assert_non_null(buf);
    open_sized(&f, MIB, q);
    bar_wr(&f, R_DIRTY, 1000, 4);
    /* without pre-copy: everything goes in STOP_COPY */
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    full = read_all(&f, buf, cap, MIB);
    assert_int_equal(full, STREAM_LEN(MIB, 1u));
    assert_int_equal(reset(&f), 0);

    /* with it: 10% of the pages change during PRE_COPY (26 of 256, one
     * block each), and only those follow in STOP_COPY */
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    pre = read_all(&f, buf, cap, MIB);
    assert_int_equal(pre, 64 + 32 + MIB);
    bar_wr(&f, R_DIRTY, 100, 4);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    dig = digest(&f);
    stop = read_all(&f, buf + pre, cap - pre, MIB);
    if (q & VUC_SRV_QUIRK_PRECOPY_LOSES_DIRTY)
        assert_int_equal(stop, 32 + REGS_SIZE + 48);
    else
        assert_int_equal(stop, 26 * (32 + 4096) + 32 + REGS_SIZE + 48);
    assert_true(stop < full / 5);

    open_sized(&g, MIB, q);
    assert_int_equal(set_state(&g, ST_RESUMING), 0);
    write_all(&g, buf, pre + stop, 65536 + 3);
    assert_int_equal(set_state(&g, ST_STOP), 0);
    if (q & VUC_SRV_QUIRK_PRECOPY_LOSES_DIRTY)
        assert_int_not_equal(digest(&g), dig); /* stale, and accepted */
    else
        assert_int_equal(digest(&g), dig);
    if (q & VUC_SRV_QUIRK_PRECOPY_LOSES_DIRTY) {
        /* reading on in PRE_COPY after the change: nothing comes either */
        assert_int_equal(reset(&f), 0);
        assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
        assert_int_equal(read_all(&f, buf, cap, MIB), 64 + 32 + MIB);
        bar_wr(&f, R_DIRTY, 100, 4);
        assert_int_equal(read_all(&f, buf, cap, MIB), 0);
    }
    fx_close(&g);
    fx_close(&f);
    free(buf);
}

static void test_precopy_saves(void **state)
{
    (void)state;
    precopy_case(0);
}

static void test_precopy_loses_dirty(void **state)
{
    (void)state;
    precopy_case(VUC_SRV_QUIRK_PRECOPY_LOSES_DIRTY);
}

/* 64 MiB, in 1 MiB reads and writes. */
static void test_big_state(void **state)
{
    uint64_t size = 64ull * MIB, dig;
    size_t cap = (size_t)size + 2 * MIB, n;
    uint8_t *buf = malloc(cap);
    struct fx f, g;

    (void)state;
    assert_non_null(buf);
    open_sized(&f, size, 0);
    bar_wr(&f, R_DIRTY, 1000, 4);
    bar_wr(&f, R_DIRTY, 1000, 4);
    bar_wr(&f, R_STATE_ADDR, size - 8, 8);
    bar_wr(&f, R_STATE_DATA, 0xfeedfacecafef00dull, 8);
    bar_wr(&f, R_STATE_ADDR, 0, 8);
    bar_wr(&f, R_STATE_DATA, 0x0123456789abcdefull, 8);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    dig = digest(&f);
    n = read_all(&f, buf, cap, MIB);
    assert_int_equal(n, STREAM_LEN(size, 64u));
    assert_int_equal(count_records(buf, n), 67);

    open_sized(&g, size, 0);
    assert_int_equal(set_state(&g, ST_RESUMING), 0);
    write_all(&g, buf, n, MIB);
    assert_int_equal(set_state(&g, ST_STOP), 0);
    assert_int_equal(digest(&g), dig);
    assert_int_equal(set_state(&g, ST_RUNNING), 0);
    assert_int_equal(word_at(&g, size - 8), 0xfeedfacecafef00dull);
    assert_int_equal(word_at(&g, 0), 0x0123456789abcdefull);
    fx_close(&g);
    fx_close(&f);
    free(buf);
}

/* ---- pipelining: several requests before any reply ---- */

static uint16_t send_only(struct fx *f, uint16_t cmd, const void *p, size_t len)
{
    struct vuc_hdr h = {.id = ++f->id, .cmd = cmd};

    assert_int_equal(vuc_conn_send(f->cli, &h, p, len, NULL, 0, 0), 0);
    return h.id;
}

static void recv_for(struct fx *f, uint16_t id, uint16_t cmd)
{
    vuc_msg_release(&f->rep);
    assert_int_equal(vuc_conn_recv(f->cli, &f->rep, 0), 0);
    assert_int_equal(f->rep.hdr.id, id);
    assert_int_equal(f->rep.hdr.cmd, cmd);
    assert_int_equal(f->rep.hdr.flags, VUC_TYPE_REPLY);
}

static void test_pipelined(void **state)
{
    static const uint32_t sizes[] = {1000, 7, 0, 5000, 100000, 100};
    uint8_t ref[STREAM_BUF], got[STREAM_BUF], b[8], st[16];
    uint16_t ids[8];
    size_t n = 0, len;
    struct fx f, g;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    scribble(&f, 3);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    len = read_stream(&f, ref, sizeof(ref));
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    /* six reads and a REGION_READ in flight, then one pass of the
     * server: replies in order, each with its own id */
    for (size_t i = 0; i < 6; i++) {
        vuc_put_u32(b, 8 + sizes[i]);
        vuc_put_u32(b + 4, sizes[i]);
        ids[i] = send_only(&f, VUC_CMD_MIG_DATA_READ, b, 8);
    }
    vuc_put_u64(st, R_MAGIC);
    vuc_put_u32(st + 8, 0);
    vuc_put_u32(st + 12, 4);
    ids[6] = send_only(&f, VUC_CMD_REGION_READ, st, 16);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), -EAGAIN);
    for (size_t i = 0; i < 6; i++) {
        uint32_t k;

        recv_for(&f, ids[i], VUC_CMD_MIG_DATA_READ);
        k = vuc_get_u32(pl(&f) + 4);
        assert_int_equal(k, i < 4 ? sizes[i] : len - n);
        assert_int_equal(vuc_get_u32(pl(&f)), 8 + k);
        memcpy(got + n, pl(&f) + 8, k);
        n += k;
    }
    recv_for(&f, ids[6], VUC_CMD_REGION_READ);
    assert_int_equal(vuc_get_u32(pl(&f) + 16), 0x54435556u);
    assert_int_equal(n, len);
    assert_memory_equal(got, ref, len);

    /* the destination: writes and the SET, all in flight */
    fx_open(&g, DEF_FLAGS, 0);
    negotiate(&g);
    assert_int_equal(set_state(&g, ST_RESUMING), 0);
    {
        uint8_t *w = malloc(8 + 7000);
        size_t off = 0, k = 0;

        assert_non_null(w);
        while (off < len) {
            size_t seg = len - off < 7000 ? len - off : 7000;

            vuc_put_u32(w, 8);
            vuc_put_u32(w + 4, (uint32_t)seg);
            memcpy(w + 8, ref + off, seg);
            ids[k++] = send_only(&g, VUC_CMD_MIG_DATA_WRITE, w, 8 + seg);
            off += seg;
        }
        vuc_put_u32(st, 16);
        vuc_put_u32(st + 4, F_SET | FEAT_STATE);
        vuc_put_u32(st + 8, ST_STOP);
        vuc_put_u32(st + 12, 0xffffffffu);
        ids[k] = send_only(&g, VUC_CMD_DEVICE_FEATURE, st, 16);
        assert_int_equal(vuc_srv_serve(g.s, g.srv, 0), -EAGAIN);
        for (size_t i = 0; i < k; i++) {
            recv_for(&g, ids[i], VUC_CMD_MIG_DATA_WRITE);
            assert_int_equal(g.rep.payload_len, 0);
        }
        recv_for(&g, ids[k], VUC_CMD_DEVICE_FEATURE);
        free(w);
    }
    assert_int_equal(vuc_srv_mig_state(g.s), ST_STOP);
    assert_int_equal(digest(&g), digest(&f));

    /* writes that ask for no reply are parsed all the same */
    assert_int_equal(set_state(&g, ST_RESUMING), 0);
    {
        uint8_t *w = malloc(8 + 4000);
        size_t off = 0;

        assert_non_null(w);
        while (off < len) {
            size_t seg = len - off < 4000 ? len - off : 4000;

            vuc_put_u32(w, 8);
            vuc_put_u32(w + 4, (uint32_t)seg);
            memcpy(w + 8, ref + off, seg);
            assert_int_equal(xmit(&g, VUC_CMD_MIG_DATA_WRITE,
                                  VUC_TYPE_COMMAND | VUC_FLAG_NO_REPLY, w,
                                  8 + seg),
                             -EAGAIN);
            off += seg;
        }
        free(w);
    }
    assert_int_equal(set_state(&g, ST_STOP), 0);
    assert_int_equal(digest(&g), digest(&f));
    fx_close(&g);
    fx_close(&f);
}

/* A client that goes away mid-stream: the session is kept for the next. */
static void test_reconnect_mid_stream(void **state)
{
    uint8_t b[STREAM_BUF];
    size_t n, total;
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 1000, 1000, b, &n), 0);
    total = n;
    vuc_conn_close(f.cli);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    vuc_conn_close(f.srv);
    assert_int_equal(vuc_mem_pair(&f.cli, &f.srv), 0);
    negotiate(&f);
    assert_int_equal(state_now(&f), ST_STOP_COPY);
    total += read_stream(&f, b + total, sizeof(b) - total);
    assert_int_equal(total, S_SIZE);
    assert_int_equal(count_records(b, total), 4);
    fx_close(&f);
}

/* ---- the data quirks, each wrong in its one way ---- */

static void test_quirk_data(void **state)
{
    uint8_t s[STREAM_BUF], b[STREAM_BUF], z[2000] = {0};
    size_t slen = fresh_stream(s, sizeof(s)), n, total;
    struct fx f;

    (void)state;
    /* read-pads-to-requested: never a short read in STOP_COPY */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_READ_PADS);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(read_stream(&f, b, sizeof(b)), 64 + 32 + FX_STATE);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    total = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(mig_read(&f, 8 + 1000, 1000, b + total, &n), 0);
        assert_int_equal(n, 1000);
        total += n;
    }
    assert_memory_equal(b + 32 + REGS_SIZE + 48, z,
                        total - (32 + REGS_SIZE + 48));
    fx_close(&f);

    /* read-allowed-in-running: 0 bytes outside the saving group */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_READ_IN_RUNNING);
    negotiate(&f);
    assert_int_equal(mig_read(&f, 8 + 100, 100, b, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(mig_read(&f, 8 + 100, 100, b, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(read_stream(&f, b, sizeof(b)), S_SIZE);
    assert_int_equal(mig_read(&f, 7, 0, b, &n), EINVAL);
    fx_close(&f);

    /* write-allowed-outside-resuming: accepted and discarded */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_WRITE_OUTSIDE_RESUMING);
    negotiate(&f);
    assert_int_equal(mig_write(&f, s, 100), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_write(&f, s, 100), 0);
    assert_int_equal(read_stream(&f, b, sizeof(b)), S_SIZE);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, slen);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    fx_close(&f);

    /* resume-accepts-truncated: the end missing, or everything */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_RESUME_TRUNCATED);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, slen - 1);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x5a5a5a5a5a5a5a5aull);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    /* corrupt is still refused */
    memcpy(b, s, slen);
    b[200] ^= 1;
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, b, slen);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    fx_close(&f);

    /* resume-accepts-corrupt: a flipped byte is loaded */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_RESUME_CORRUPT);
    negotiate(&f);
    memcpy(b, s, slen);
    b[64 + 32 + 40] ^= 0x80; /* state byte 40 */
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, b, slen);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    assert_int_equal(word_at(&f, 40), 0x80);
    /* truncated is still refused */
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s, slen - 1);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    fx_close(&f);

    /* eof-not-sticky: after the end, the stream starts over */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_EOF_NOT_STICKY);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(read_stream(&f, b, sizeof(b)), S_SIZE);
    assert_int_equal(mig_read(&f, 8 + 100, 100, b, &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(vuc_get_u32(b), REC_MAGIC);
    assert_int_equal(vuc_get_u32(b + 8), 0); /* seq 0: a new HEADER */
    /* the end still shows once, as a short read, before it starts over */
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + S_SIZE, S_SIZE, b, &n), 0);
    assert_int_equal(n, S_SIZE);
    assert_int_equal(mig_read(&f, 8 + 100, 100, b, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mig_read(&f, 8 + 100, 100, b, &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(vuc_get_u32(b + 8), 0);
    fx_close(&f);

    /* read-over-max-accepted: above max_data_xfer_size is served */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_READ_OVER_MAX);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 0xffffffffu, MIB + 1, b, &n), 0);
    assert_int_equal(n, S_SIZE);
    fx_close(&f);
}

/* ---- verbose logging does not disturb anything ---- */

static void test_verbose(void **state)
{
    struct vuc_srv_opts o;
    struct fx f;
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

    (void)state;
    assert_true(saved >= 0 && devnull >= 0);
    dup2(devnull, 2);
    vuc_srv_opts_init(&o);
    o.verbose = true;
    fx_open_opts(&f, &o);
    assert_int_equal(reset(&f), EINVAL);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(
        xmit(&f, 77, VUC_TYPE_COMMAND | VUC_FLAG_NO_REPLY, NULL, 0), -EAGAIN);
    assert_int_equal(xmit(&f, 1, VUC_TYPE_REPLY, NULL, 0), -EAGAIN);
    fx_close(&f);
    dup2(saved, 2);
    close(saved);
    close(devnull);
}

/* ---- DMA: DMA_MAP / DMA_UNMAP and the engine behind BAR0 0x60 ---- */

#define R_DMA_ADDR     0x60u
#define R_DMA_LEN      0x68u
#define R_DMA_PATTERN  0x70u
#define R_DMA_DOORBELL 0x78u
#define R_DMA_STATUS   0x7cu
#define DMA_RW         (VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE)
#define PAT            0x0807060504030201ull
#define MEMFD_NAME     "vuct-dma"

/* Send a request with fds, let the server run, read its reply. */
static uint32_t req_fds(struct fx *f, uint16_t cmd, const void *p, size_t len,
                        const int *fds, size_t nfds)
{
    struct vuc_hdr h = {.id = ++f->id, .cmd = cmd};

    vuc_msg_release(&f->rep);
    assert_int_equal(vuc_conn_send(f->cli, &h, p, len, fds, nfds, 0), 0);
    f->serve_rc = vuc_srv_serve(f->s, f->srv, 0);
    assert_int_equal(f->serve_rc, -EAGAIN);
    assert_int_equal(vuc_conn_recv(f->cli, &f->rep, 0), 0);
    return check_reply(f, cmd);
}

static void map_payload(uint8_t b[32], uint32_t argsz, uint32_t flags,
                        uint64_t offset, uint64_t iova, uint64_t size)
{
    vuc_put_u32(b, argsz);
    vuc_put_u32(b + 4, flags);
    vuc_put_u64(b + 8, offset);
    vuc_put_u64(b + 16, iova);
    vuc_put_u64(b + 24, size);
}

/* DMA_MAP, with fd if >= 0. */
static uint32_t dma_map(struct fx *f, uint64_t iova, uint64_t size,
                        uint32_t flags, uint64_t offset, int fd)
{
    uint8_t b[32];
    uint32_t e;

    map_payload(b, 32, flags, offset, iova, size);
    e = req_fds(f, VUC_CMD_DMA_MAP, b, 32, &fd, fd >= 0 ? 1 : 0);
    if (e == 0)
        assert_int_equal(f->rep.payload_len, 0); /* spec: no payload */
    return e;
}

static uint32_t dma_unmap_raw(struct fx *f, uint32_t argsz, uint32_t flags,
                              uint64_t iova, uint64_t size)
{
    uint8_t b[24];
    uint32_t e;

    vuc_put_u32(b, argsz);
    vuc_put_u32(b + 4, flags);
    vuc_put_u64(b + 8, iova);
    vuc_put_u64(b + 16, size);
    e = req(f, VUC_CMD_DMA_UNMAP, b, 24);
    if (e == 0) {
        /* spec: "responds with the original DMA entry in the request" */
        assert_int_equal(f->rep.payload_len, 24);
        assert_memory_equal(pl(f), b, 24);
    }
    return e;
}

static uint32_t dma_unmap(struct fx *f, uint64_t iova, uint64_t size)
{
    return dma_unmap_raw(f, 24, 0, iova, size);
}

/* A memfd of size bytes, and its mapping in *mem. */
static int memfd(size_t size, uint8_t **mem)
{
    int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    if (mem) {
        *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(*mem != MAP_FAILED);
    }
    return fd;
}

/* Set up the engine and ring; for mapped-with-fd memory only (the
 * doorbell's reply must come next). Returns DMA_STATUS. */
static uint32_t dma_run(struct fx *f, uint64_t iova, uint64_t len,
                        uint64_t pattern)
{
    bar_wr(f, R_DMA_ADDR, iova, 8);
    bar_wr(f, R_DMA_LEN, len, 8);
    bar_wr(f, R_DMA_PATTERN, pattern, 8);
    bar_wr(f, R_DMA_DOORBELL, 1, 4);
    return (uint32_t)bar_rd(f, R_DMA_STATUS, 4);
}

/* Byte i of a transfer is byte i % 8 of the pattern. */
static void expect_pattern(const uint8_t *p, size_t n, uint64_t pattern,
                           size_t phase)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p[i], (uint8_t)(pattern >> (8 * ((phase + i) % 8))));
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Mappings of our memfds in this process (the test's and the server's). */
static int count_memfd_maps(void)
{
    FILE *fp = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, "memfd:" MEMFD_NAME))
            n++;
    fclose(fp);
    return n;
}

static void negotiate_caps(struct fx *f, const char *json)
{
    assert_int_equal(version(f, 0, 1, json), 0);
}

static void test_dma_map_rules(void **state)
{
    uint8_t b[40], *mem;
    int fd, fds[2], pfd[2];
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate_caps(&f, "{\"capabilities\":{\"max_dma_maps\":4}}");
    fd = memfd(64 * 1024, &mem);

    assert_int_equal(dma_map(&f, 0x100000, 0x10000, DMA_RW, 0, fd), 0);
    /* any overlap is EEXIST: the same, inside, over either end, around */
    assert_int_equal(dma_map(&f, 0x100000, 0x10000, DMA_RW, 0, -1), EEXIST);
    assert_int_equal(dma_map(&f, 0x104000, 0x1000, DMA_RW, 0, -1), EEXIST);
    assert_int_equal(dma_map(&f, 0xff000, 0x2000, DMA_RW, 0, -1), EEXIST);
    assert_int_equal(dma_map(&f, 0x10f000, 0x2000, DMA_RW, 0, -1), EEXIST);
    assert_int_equal(dma_map(&f, 0xf0000, 0x100000, DMA_RW, 0, -1), EEXIST);
    /* touching either end is fine (no fd: reached by DMA_WRITE) */
    assert_int_equal(dma_map(&f, 0x110000, 0x1000, DMA_RW, 0, -1), 0);
    assert_int_equal(dma_map(&f, 0xff000, 0x1000, VUC_DMA_FLAG_READ, 0, -1), 0);

    /* flags: unknown bits, or neither read nor write */
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW | 4, 0, -1), EINVAL);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, 1u << 31, 0, -1), EINVAL);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, 0, 0, -1), EINVAL);
    /* size 0, address + size past 2^64 (exactly to 2^64 - 1 is fine) */
    assert_int_equal(dma_map(&f, 0x200000, 0, DMA_RW, 0, -1), EINVAL);
    assert_int_equal(dma_map(&f, UINT64_MAX - 0xfff, 0x1001, DMA_RW, 0, -1),
                     EINVAL);
    /* argsz below the structure, a payload longer than it */
    map_payload(b, 31, DMA_RW, 0, 0x200000, 0x1000);
    assert_int_equal(req(&f, VUC_CMD_DMA_MAP, b, 32), EINVAL);
    map_payload(b, 32, DMA_RW, 0, 0x200000, 0x1000);
    assert_int_equal(req(&f, VUC_CMD_DMA_MAP, b, 33), EINVAL);
    /* no fd but an offset (spec: "zero if the region is not mappable") */
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 4096, -1), EINVAL);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 1, -1), EINVAL);
    /* two fds */
    fds[0] = fd;
    fds[1] = fd;
    assert_int_equal(req_fds(&f, VUC_CMD_DMA_MAP, b, 32, fds, 2), EINVAL);
    /* the fd must hold the whole range; an fd that cannot be mapped */
    assert_int_equal(dma_map(&f, 0x200000, 0x11000, DMA_RW, 0, fd), EINVAL);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 0xf001, fd), EINVAL);
    assert_int_equal(pipe(pfd), 0);
    assert_int_not_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 0, pfd[0]), 0);
    close(pfd[0]);
    close(pfd[1]);
    /* a read-only fd cannot be mapped writeable (mmap: EACCES), but can
     * be mapped read-only */
    {
        char path[64];
        int ro;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ro = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(ro >= 0);
        assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 0, ro), EACCES);
        assert_int_equal(
            dma_map(&f, 0x200000, 0x1000, VUC_DMA_FLAG_READ, 0, ro), 0);
        close(ro);
    }
    /* max_dma_maps (4 negotiated): the fifth fails with ENOSPC */
    assert_int_equal(dma_map(&f, 0x300000, 0x1000, DMA_RW, 0, -1), ENOSPC);
    /* none of the failures above mapped anything */
    assert_int_equal(dma_unmap(&f, 0x300000, 0x1000), ENOENT);

    /* UNMAP: exactly a mapping, else ENOENT */
    assert_int_equal(dma_unmap(&f, 0x100000, 0x1000), ENOENT);
    assert_int_equal(dma_unmap(&f, 0x101000, 0xf000), ENOENT);
    assert_int_equal(dma_unmap(&f, 0x100000, 0x11000), ENOENT);
    assert_int_equal(dma_unmap(&f, 0x500000, 0x1000), ENOENT);
    assert_int_equal(dma_unmap(&f, 0x100000, 0), ENOENT);
    /* flags are unused (must be 0); argsz must hold the 24-byte reply;
     * address + size must not wrap */
    assert_int_equal(dma_unmap_raw(&f, 24, 1, 0x100000, 0x10000), EINVAL);
    assert_int_equal(dma_unmap_raw(&f, 24, 2, 0x100000, 0x10000), EINVAL);
    assert_int_equal(dma_unmap_raw(&f, 23, 0, 0x100000, 0x10000), EINVAL);
    assert_int_equal(dma_unmap_raw(&f, 24, 0, UINT64_MAX, 2), EINVAL);
    memset(b, 0, sizeof(b));
    assert_int_equal(req(&f, VUC_CMD_DMA_UNMAP, b, 25), EINVAL);
    /* a larger argsz is fine; the entry comes back as sent */
    assert_int_equal(dma_unmap_raw(&f, 4096, 0, 0x100000, 0x10000), 0);
    assert_int_equal(dma_unmap(&f, 0x100000, 0x10000), ENOENT);
    /* room again for one more */
    assert_int_equal(dma_map(&f, 0x300000, 0x1000, DMA_RW, 0, -1), 0);
    assert_int_equal(dma_map(&f, 0x400000, 0x1000, DMA_RW, 0, -1), ENOSPC);
    /* an end of 2^64 - 1 is fine; 2^64 wraps (address + size overflows) */
    assert_int_equal(dma_unmap(&f, 0x300000, 0x1000), 0);
    assert_int_equal(dma_map(&f, UINT64_MAX - 0xfff, 0x1000, DMA_RW, 0, -1),
                     EINVAL);
    assert_int_equal(dma_map(&f, UINT64_MAX - 0x1000, 0x1000, DMA_RW, 0, -1),
                     0);
    assert_int_equal(dma_unmap(&f, UINT64_MAX - 0x1000, 0x1000), 0);
    munmap(mem, 64 * 1024);
    close(fd);
    fx_close(&f);

    /* without max_dma_maps the default, 65535, applies: not tested to
     * the end here; a client's larger value is capped to it */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate_caps(&f, "{\"capabilities\":{\"max_dma_maps\":1}}");
    assert_int_equal(dma_map(&f, 0x1000, 0x1000, DMA_RW, 0, -1), 0);
    assert_int_equal(dma_map(&f, 0x2000, 0x1000, DMA_RW, 0, -1), ENOSPC);
    fx_close(&f);
}

static void test_dma_engine_fd(void **state)
{
    const size_t sz = 64 * 1024;
    uint8_t *m1, *m2, *m3;
    int fd1 = memfd(sz, &m1), fd2 = memfd(sz, &m2), fd3 = memfd(sz, &m3);
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    /* three mappings: 1 and 2 adjacent, read-only 3 after a hole; 2 is the
     * file from offset 0x100 on (not page aligned) */
    assert_int_equal(dma_map(&f, 0x10000, sz, DMA_RW, 0, fd1), 0);
    assert_int_equal(dma_map(&f, 0x20000, sz - 0x100, DMA_RW, 0x100, fd2), 0);
    assert_int_equal(dma_map(&f, 0x40000, sz, VUC_DMA_FLAG_READ, 0, fd3), 0);

    /* the registers: ADDR, LEN, PATTERN read back, DOORBELL reads 0,
     * STATUS ignores writes */
    bar_wr(&f, R_DMA_ADDR, 0x1122334455667788ull, 8);
    bar_wr(&f, R_DMA_LEN, 0x99, 8);
    bar_wr(&f, R_DMA_PATTERN + 4, 0xabcd, 2);
    bar_wr(&f, R_DMA_STATUS, 5, 4);
    bar_wr(&f, R_DMA_DOORBELL, 3, 4); /* not 1 or 2: nothing runs */
    assert_int_equal(bar_rd(&f, R_DMA_ADDR, 8), 0x1122334455667788ull);
    assert_int_equal(bar_rd(&f, R_DMA_LEN, 8), 0x99);
    assert_int_equal(bar_rd(&f, R_DMA_PATTERN, 8), 0xabcd00000000ull);
    assert_int_equal(bar_rd(&f, R_DMA_DOORBELL, 4), 0);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), 0);

    /* one mapping, unaligned start and length */
    assert_int_equal(dma_run(&f, 0x10003, 29, PAT), 0);
    assert_true(all_zero(m1, 3));
    expect_pattern(m1 + 3, 29, PAT, 0);
    assert_true(all_zero(m1 + 32, sz - 32));
    /* across mappings 1 and 2: 2's bytes land at file offset 0x100 on */
    assert_int_equal(dma_run(&f, 0x1fff0, 0x30, ~PAT), 0);
    expect_pattern(m1 + sz - 0x10, 0x10, ~PAT, 0);
    expect_pattern(m2 + 0x100, 0x20, ~PAT, 0x10);
    assert_true(all_zero(m2, 0x100));
    assert_true(all_zero(m2 + 0x120, sz - 0x120));
    /* to the last byte of mapping 2 */
    assert_int_equal(dma_run(&f, 0x20000 + sz - 0x101, 1, PAT), 0);
    assert_int_equal(m2[sz - 1], 0x01);

    /* a hole: EFAULT, nothing written */
    memset(m1, 0, sz);
    assert_int_equal(dma_run(&f, 0x10000, 2 * sz, PAT), EFAULT);
    assert_int_equal(dma_run(&f, 0x8000, 0x9000, PAT), EFAULT);
    assert_int_equal(dma_run(&f, 0x30000, 1, PAT), EFAULT);
    assert_true(all_zero(m1, sz));
    /* read-only mapping: EACCES, nothing written; a hole after it still
     * says EFAULT */
    assert_int_equal(dma_run(&f, 0x40000, 8, PAT), EACCES);
    assert_int_equal(dma_run(&f, 0x40000, sz + 1, PAT), EFAULT);
    assert_true(all_zero(m3, sz));
    /* length 0 writes nothing and succeeds; a length past 2^64 faults;
     * more than 1 GiB is refused */
    assert_int_equal(dma_run(&f, 0x10000, 0, PAT), 0);
    assert_int_equal(dma_run(&f, UINT64_MAX, 2, PAT), EFAULT);
    assert_int_equal(dma_run(&f, 0x10000, (1ull << 30) + 1, PAT), EINVAL);
    assert_true(all_zero(m1, sz));

    /* the doorbell with the other registers in one write */
    {
        uint8_t regs[28];

        vuc_put_u64(regs, 0x10008);
        vuc_put_u64(regs + 8, 8);
        vuc_put_u64(regs + 16, PAT);
        vuc_put_u32(regs + 24, 1);
        assert_int_equal(region_write(&f, 0, R_DMA_ADDR, regs, 28), 0);
        expect_pattern(m1 + 8, 8, PAT, 0);
    }

    /* a stopped device does not DMA: EBUSY, nothing written; the setup
     * registers stay writable */
    memset(m1, 0, sz);
    for (int i = 0; i < 3; i++) {
        static const uint32_t st[] = {ST_STOP, ST_STOP_COPY, ST_RESUMING};

        assert_int_equal(reset(&f), 0);
        assert_int_equal(set_state(&f, st[i]), 0);
        assert_int_equal(dma_run(&f, 0x10000, 16, PAT), EBUSY);
        assert_int_equal(bar_rd(&f, R_DMA_LEN, 8), 16);
    }
    assert_int_equal(reset(&f), 0);
    bar_wr(&f, R_FAULT, 1, 4);
    assert_int_equal(set_state(&f, ST_STOP), EIO);
    assert_int_equal(dma_run(&f, 0x10000, 16, PAT), EBUSY);
    assert_true(all_zero(m1, sz));
    /* running again (PRE_COPY runs too) */
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(dma_run(&f, 0x10000, 16, PAT), 0);
    expect_pattern(m1, 16, PAT, 0);

    /* unmapped, the memory is out of reach */
    assert_int_equal(dma_unmap(&f, 0x10000, sz), 0);
    assert_int_equal(dma_run(&f, 0x10000, 16, PAT), EFAULT);
    fx_close(&f);
    munmap(m1, sz);
    munmap(m2, sz);
    munmap(m3, sz);
    close(fd1);
    close(fd2);
    close(fd3);
}

/* The engine's registers are not device state: not in DIGEST. */
static void test_dma_regs_not_state(void **state)
{
    struct fx f;
    uint64_t d0;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    d0 = digest(&f);
    bar_wr(&f, R_DMA_ADDR, 0x1234, 8);
    bar_wr(&f, R_DMA_LEN, 5, 8);
    bar_wr(&f, R_DMA_PATTERN, 7, 8);
    assert_int_equal(dma_run(&f, 0x1234, 5, 7), EBUSY);
    assert_int_equal(digest(&f), d0);
    fx_close(&f);
}

/* ---- the server's own DMA_WRITE requests (no fd) ---- */

static void send_cmd(struct fx *f, uint16_t cmd, const void *p, size_t len)
{
    struct vuc_hdr h = {.id = ++f->id, .cmd = cmd};

    assert_int_equal(vuc_conn_send(f->cli, &h, p, len, NULL, 0, 0), 0);
}

/* Queue the client's reply to the server's DMA_WRITE number `id`. */
static void send_dma_reply(struct fx *f, uint16_t id, uint64_t addr,
                           uint64_t count, uint32_t err)
{
    struct vuc_hdr h = {.id = id,
                        .cmd = VUC_CMD_DMA_WRITE,
                        .flags = VUC_TYPE_REPLY | (err ? VUC_FLAG_ERROR : 0),
                        .error = err};
    uint8_t b[16];

    vuc_put_u64(b, addr);
    vuc_put_u64(b + 8, count);
    assert_int_equal(vuc_conn_send(f->cli, &h, b, err ? 0 : 16, NULL, 0, 0), 0);
}

/* The next message from the server is DMA_WRITE number id of count
 * pattern bytes at addr (transfer phase `phase`). */
static void expect_dma_write(struct fx *f, uint16_t id, uint64_t addr,
                             uint64_t count, uint64_t pattern, size_t phase)
{
    struct vuc_msg m;

    assert_int_equal(vuc_conn_recv(f->cli, &m, 0), 0);
    assert_int_equal(m.hdr.id, id);
    assert_int_equal(m.hdr.cmd, VUC_CMD_DMA_WRITE);
    assert_int_equal(m.hdr.flags, VUC_TYPE_COMMAND);
    assert_int_equal(m.payload_len, 16 + count);
    assert_int_equal(vuc_get_u64(m.payload), addr);
    assert_int_equal(vuc_get_u64(m.payload + 8), count);
    expect_pattern(m.payload + 16, count, pattern, phase);
    vuc_msg_release(&m);
}

/* Queue the engine setup and the doorbell (4 requests; replies come
 * back after the server has run). */
static void queue_run(struct fx *f, uint64_t iova, uint64_t len,
                      uint64_t pattern)
{
    uint8_t b[24];

    vuc_put_u64(b, R_DMA_ADDR);
    vuc_put_u32(b + 8, 0);
    vuc_put_u32(b + 12, 8);
    vuc_put_u64(b + 16, iova);
    send_cmd(f, VUC_CMD_REGION_WRITE, b, 24);
    vuc_put_u64(b, R_DMA_LEN);
    vuc_put_u64(b + 16, len);
    send_cmd(f, VUC_CMD_REGION_WRITE, b, 24);
    vuc_put_u64(b, R_DMA_PATTERN);
    vuc_put_u64(b + 16, pattern);
    send_cmd(f, VUC_CMD_REGION_WRITE, b, 24);
    vuc_put_u64(b, R_DMA_DOORBELL);
    vuc_put_u32(b + 12, 4);
    vuc_put_u32(b + 16, 1);
    send_cmd(f, VUC_CMD_REGION_WRITE, b, 20);
}

/* The next message is the reply to REGION_WRITE number id. */
static void expect_write_reply(struct fx *f, uint16_t id)
{
    vuc_msg_release(&f->rep);
    assert_int_equal(vuc_conn_recv(f->cli, &f->rep, 0), 0);
    assert_int_equal(f->rep.hdr.id, id);
    assert_int_equal(f->rep.hdr.cmd, VUC_CMD_REGION_WRITE);
    assert_int_equal(f->rep.hdr.flags, VUC_TYPE_REPLY);
}

static uint16_t setup_replies(struct fx *f, uint16_t first)
{
    for (uint16_t i = 0; i < 3; i++)
        expect_write_reply(f, (uint16_t)(first + i));
    return (uint16_t)(first + 3); /* the doorbell's id */
}

static void test_dma_engine_nofd(void **state)
{
    uint8_t *mem;
    int fd = memfd(4096, &mem);
    uint16_t bell;
    struct fx f;
    uint8_t b[16];

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    /* 4 KiB transfers: 10000 bytes take three DMA_WRITE messages */
    negotiate_caps(&f, "{\"capabilities\":{\"max_data_xfer_size\":4096}}");
    assert_int_equal(dma_map(&f, 0x100000, 0x3000, DMA_RW, 0, -1), 0);

    /* the client's replies are queued behind the doorbell: the server
     * numbers its requests 1, 2, 3 on this connection */
    queue_run(&f, 0x100010, 10000, PAT);
    bell = f.id;
    send_dma_reply(&f, 1, 0x100010, 4096, 0);
    send_dma_reply(&f, 2, 0x101010, 4096, 0);
    send_dma_reply(&f, 3, 0x102010, 10000 - 8192, 0);
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    assert_int_equal(f.serve_rc, -EAGAIN);
    assert_int_equal(setup_replies(&f, (uint16_t)(bell - 3)), bell);
    expect_dma_write(&f, 1, 0x100010, 4096, PAT, 0);
    expect_dma_write(&f, 2, 0x101010, 4096, PAT, 4096);
    expect_dma_write(&f, 3, 0x102010, 10000 - 8192, PAT, 8192);
    expect_write_reply(&f, bell); /* after the DMA */
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), 0);

    /* no reply at all (the in-memory transport does not wait): EIO */
    queue_run(&f, 0x100000, 8, PAT);
    bell = f.id;
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 4, 0x100000, 8, PAT, 0);
    expect_write_reply(&f, bell);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), EIO);

    /* an error reply: EIO; a reply for another address: EIO */
    queue_run(&f, 0x100000, 8, PAT);
    bell = f.id;
    send_dma_reply(&f, 5, 0, 0, EFAULT);
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 5, 0x100000, 8, PAT, 0);
    expect_write_reply(&f, bell);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), EIO);
    queue_run(&f, 0x100000, 8, PAT);
    bell = f.id;
    send_dma_reply(&f, 6, 0x100008, 8, 0);
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 6, 0x100000, 8, PAT, 0);
    expect_write_reply(&f, bell);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), EIO);

    /* replies to something else are dropped; commands that come before
     * the reply wait until the doorbell has its reply, then run in order */
    queue_run(&f, 0x100000, 8, PAT);
    bell = f.id;
    send_dma_reply(&f, 99, 0x100000, 8, 0); /* not ours */
    vuc_put_u64(b, R_DMA_STATUS);
    vuc_put_u32(b + 8, 0);
    vuc_put_u32(b + 12, 4);
    send_cmd(&f, VUC_CMD_REGION_READ, b, 16); /* pipelined */
    send_cmd(&f, VUC_CMD_DEVICE_RESET, NULL, 0);
    send_dma_reply(&f, 7, 0x100000, 8, 0);
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    assert_int_equal(f.serve_rc, -EAGAIN);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 7, 0x100000, 8, PAT, 0);
    expect_write_reply(&f, bell);
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), 0);
    assert_int_equal(f.rep.hdr.id, bell + 1);
    assert_int_equal(f.rep.hdr.cmd, VUC_CMD_REGION_READ);
    assert_int_equal(vuc_get_u32(f.rep.payload + 16), 0); /* status ok */
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), 0);
    assert_int_equal(f.rep.hdr.id, bell + 2);
    assert_int_equal(f.rep.hdr.cmd, VUC_CMD_DEVICE_RESET);
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), -EAGAIN);

    /* more commands than the server keeps while waiting: the DMA fails,
     * every command is still answered, in order */
    queue_run(&f, 0x100000, 8, PAT);
    bell = f.id;
    for (int i = 0; i < 17; i++)
        send_cmd(&f, VUC_CMD_DEVICE_RESET, NULL, 0);
    send_dma_reply(&f, 8, 0x100000, 8, 0); /* too late: dropped */
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    assert_int_equal(f.serve_rc, -EAGAIN);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 8, 0x100000, 8, PAT, 0);
    expect_write_reply(&f, bell);
    for (int i = 0; i < 17; i++) {
        vuc_msg_release(&f.rep);
        assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), 0);
        assert_int_equal(f.rep.hdr.id, bell + 1 + i);
        assert_int_equal(f.rep.hdr.cmd, VUC_CMD_DEVICE_RESET);
    }
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), EIO);

    /* an fd mapping and a no-fd one in one write; a read-only no-fd
     * mapping is EACCES without any message */
    assert_int_equal(dma_map(&f, 0xff000, 0x1000, DMA_RW, 0, fd), 0);
    queue_run(&f, 0xffff8, 16, PAT);
    bell = f.id;
    send_dma_reply(&f, 9, 0x100000, 8, 0);
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 9, 0x100000, 8, PAT, 8);
    expect_write_reply(&f, bell);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), 0);
    expect_pattern(mem + 0xff8, 8, PAT, 0);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, VUC_DMA_FLAG_READ, 0, -1),
                     0);
    assert_int_equal(dma_run(&f, 0x200000, 8, PAT), EACCES);

    /* a peer that hangs up while the server waits: the write fails and
     * the server drops the connection after replying */
    queue_run(&f, 0x100000, 8, PAT);
    vuc_conn_shutdown(f.cli);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    assert_false(vuc_srv_negotiated(f.s));
    fx_close(&f);
    munmap(mem, 4096);
    close(fd);
}

/* Disconnect unmaps everything and closes every fd it had. */
static void test_dma_disconnect(void **state)
{
    int fds0 = count_fds(), maps0 = count_memfd_maps();
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate_caps(&f, "{\"capabilities\":{\"max_dma_maps\":3}}");
    for (int i = 0; i < 3; i++) {
        int fd = memfd(8192, NULL);

        assert_int_equal(
            dma_map(&f, 0x10000 * (uint64_t)(i + 1), 8192, DMA_RW, 0, fd), 0);
        close(fd);
    }
    /* the server keeps mappings, not fds */
    assert_int_equal(count_fds(), fds0);
    assert_int_equal(count_memfd_maps(), maps0 + 3);
    /* a failed map closes its fd too */
    {
        int fd = memfd(8192, NULL);

        assert_int_equal(dma_map(&f, 0x90000, 8192, DMA_RW, 0, fd), ENOSPC);
        close(fd);
        assert_int_equal(count_fds(), fds0);
    }
    /* the client goes away */
    vuc_conn_close(f.cli);
    f.cli = NULL;
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    assert_int_equal(count_memfd_maps(), maps0);
    assert_int_equal(count_fds(), fds0 + 0);
    /* the next client starts with nothing mapped, and the default limit */
    vuc_conn_close(f.srv);
    assert_int_equal(vuc_mem_pair(&f.cli, &f.srv), 0);
    negotiate(&f);
    assert_int_equal(dma_unmap(&f, 0x10000, 8192), ENOENT);
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            dma_map(&f, 0x10000 * (uint64_t)(i + 1), 8192, DMA_RW, 0, -1), 0);
    fx_close(&f); /* vuc_srv_free with maps: released too (LSan) */
    assert_int_equal(count_memfd_maps(), maps0);
}

/* ---- DMA logging: features 6, 7, 8 ---- */

#define F_LOG_START  6u
#define F_LOG_STOP   7u
#define F_LOG_REPORT 8u
#define LOG_IOVA     0x40000000ull
#define LOG_PAGES    1000u
#define LOG_PAGE     8192u

/* START with n (iova, length) pairs; the chosen page size in *chosen.
 * On success the reply must be the request with only page_size changed. */
static uint32_t log_start_raw(struct fx *f, uint32_t argsz, uint64_t page,
                              const uint64_t *ranges, uint32_t n, size_t extra,
                              uint64_t *chosen)
{
    size_t len = 8 + 16 + 16 * (size_t)n + extra;
    uint8_t *b = calloc(1, len);
    uint32_t e;

    assert_non_null(b);
    vuc_put_u32(b, argsz ? argsz : (uint32_t)len);
    vuc_put_u32(b + 4, F_SET | F_LOG_START);
    vuc_put_u64(b + 8, page);
    vuc_put_u32(b + 16, n);
    for (uint32_t i = 0; i < n; i++) {
        vuc_put_u64(b + 24 + 16 * (size_t)i, ranges[2 * i]);
        vuc_put_u64(b + 32 + 16 * (size_t)i, ranges[2 * i + 1]);
    }
    e = req(f, VUC_CMD_DEVICE_FEATURE, b, len);
    if (e == 0) {
        assert_int_equal(f->rep.payload_len, len);
        assert_memory_equal(pl(f), b, 8);
        assert_memory_equal(pl(f) + 16, b + 16, len - 16);
        if (chosen)
            *chosen = vuc_get_u64(pl(f) + 8);
    }
    free(b);
    return e;
}

static uint32_t log_start(struct fx *f, uint64_t page, const uint64_t *ranges,
                          uint32_t n, uint64_t *chosen)
{
    return log_start_raw(f, 0, page, ranges, n, 0, chosen);
}

static uint32_t log_stop(struct fx *f)
{
    uint8_t b[8];
    uint32_t e;

    vuc_put_u32(b, 8);
    vuc_put_u32(b + 4, F_SET | F_LOG_STOP);
    e = req(f, VUC_CMD_DEVICE_FEATURE, b, 8);
    if (e == 0) {
        assert_int_equal(f->rep.payload_len, 8);
        assert_memory_equal(pl(f), b, 8);
    }
    return e;
}

/* u64 words of a report's bitmap (page 0: 1, for requests that fail). */
static size_t report_words(uint64_t len, uint64_t page)
{
    if (page == 0)
        return 1;
    return (size_t)((len / page + (len % page != 0) + 63) / 64);
}

/*
 * REPORT; argsz 0 means exactly what the bitmap needs. On success checks
 * the reply (argsz = the size needed, flags, the request's 24 bytes) and
 * copies the bitmap to out (words of it), or sets *short_reply when argsz
 * left no room for it.
 */
static uint32_t log_report_raw(struct fx *f, uint64_t iova, uint64_t len,
                               uint64_t page, uint32_t argsz, uint64_t *out,
                               size_t words, bool *short_reply)
{
    uint8_t b[32];
    uint64_t need = 32 + 8 * (uint64_t)report_words(len, page);
    uint32_t e;

    vuc_put_u32(b, argsz ? argsz : (uint32_t)need);
    vuc_put_u32(b + 4, F_GET | F_LOG_REPORT);
    vuc_put_u64(b + 8, iova);
    vuc_put_u64(b + 16, len);
    vuc_put_u64(b + 24, page);
    e = req(f, VUC_CMD_DEVICE_FEATURE, b, 32);
    if (e)
        return e;
    assert_int_equal(vuc_get_u32(pl(f)), need);
    assert_int_equal(vuc_get_u32(pl(f) + 4), F_GET | F_LOG_REPORT);
    assert_memory_equal(pl(f) + 8, b + 8, 24);
    if (vuc_get_u32(b) < need) {
        /* spec: Message sizes: the size needed, no bitmap */
        assert_int_equal(f->rep.payload_len, 32);
        if (short_reply)
            *short_reply = true;
        return 0;
    }
    assert_int_equal(f->rep.payload_len, need);
    assert_int_equal(need - 32, words * 8);
    if (out)
        memcpy(out, pl(f) + 32, words * 8);
    if (short_reply)
        *short_reply = false;
    return 0;
}

static uint32_t log_report(struct fx *f, uint64_t iova, uint64_t len,
                           uint64_t page, uint64_t *out)
{
    return log_report_raw(f, iova, len, page, 0, out, report_words(len, page),
                          NULL);
}

/* Device writes at known places (the harness's, cases/case_dirty.c):
 * logging pages of the 1000-page range, offset, bytes. */
static const struct {
    uint32_t page, off, len;
} log_writes[] = {
    {0, 0, 8},
    {1, 4095, 2},
    {5, 100, 50},
    {63, 0, 2 * LOG_PAGE},
    {127, LOG_PAGE - 8, 16},
    {300, 0, 3 * LOG_PAGE},
    {LOG_PAGES - 1, LOG_PAGE - 8, 8},
};
#define N_LOG_WRITES (sizeof(log_writes) / sizeof(log_writes[0]))

static uint64_t write_addr(size_t i)
{
    return LOG_IOVA + (uint64_t)log_writes[i].page * LOG_PAGE +
           log_writes[i].off;
}

/*
 * The bitmap a REPORT of [iova, iova + len) at page must give after those
 * writes: the device logs at logpage (LOG_PAGE unless the server has
 * --logging-page-size), so a report page is dirty if it
 * overlaps, within the range, a logging page a byte was written in (a
 * finer report repeats the logging page's bit: docs/decisions.md,
 * Protocol decisions). Computed page by page here, independently of
 * vuc_bitmap.
 */
static uint64_t *want_bits_at(uint64_t iova, uint64_t len, uint64_t page,
                              uint64_t logpage, bool shift_up)
{
    size_t words = report_words(len, page);
    uint64_t *w = calloc(words + 1, 8), nbits = (len + page - 1) / page;

    assert_non_null(w);
    for (size_t i = 0; i < N_LOG_WRITES; i++) {
        uint64_t first = (write_addr(i) - LOG_IOVA) / logpage;
        uint64_t last =
            (write_addr(i) + log_writes[i].len - 1 - LOG_IOVA) / logpage;

        for (uint64_t lp = first; lp <= last; lp++) {
            uint64_t a = LOG_IOVA + lp * logpage, b = a + logpage;

            if (a < iova)
                a = iova;
            if (b > iova + len)
                b = iova + len;
            for (uint64_t x = a; x < b;
                 x = iova + ((x - iova) / page + 1) * page) {
                uint64_t n = (x - iova) / page + (shift_up ? 1 : 0);

                if (n < nbits)
                    w[n / 64] |= 1ull << (n % 64);
            }
        }
    }
    return w;
}

/* As expect_report for a device that logs at logpage (the writes were
 * made with it logging). */
static void expect_report_at(struct fx *f, uint64_t iova, uint64_t len,
                             uint64_t page, uint64_t logpage, bool shift_up)
{
    size_t words = report_words(len, page);
    uint64_t *got = calloc(words + 1, 8), *want;

    assert_non_null(got);
    want = want_bits_at(iova, len, page, logpage, shift_up);
    assert_int_equal(log_report(f, iova, len, page, got), 0);
    for (size_t i = 0; i < words; i++) {
        if (got[i] != want[i])
            print_error("report [0x%llx, +0x%llx) at %llu: word %zu is "
                        "0x%016llx, want 0x%016llx\n",
                        (unsigned long long)iova, (unsigned long long)len,
                        (unsigned long long)page, i, (unsigned long long)got[i],
                        (unsigned long long)want[i]);
        assert_int_equal(got[i], want[i]);
    }
    free(got);
    free(want);
}

static void expect_report(struct fx *f, uint64_t iova, uint64_t len,
                          uint64_t page, bool shift_up)
{
    expect_report_at(f, iova, len, page, LOG_PAGE, shift_up);
}

static void expect_empty(struct fx *f, uint64_t iova, uint64_t len,
                         uint64_t page)
{
    size_t words = report_words(len, page);
    uint64_t *got = calloc(words + 1, 8);

    assert_non_null(got);
    assert_int_equal(log_report(f, iova, len, page, got), 0);
    for (size_t i = 0; i < words; i++)
        assert_int_equal(got[i], 0);
    free(got);
}

/* Map the 1000 pages (memfd), optionally START over them, and make the
 * device write them. */
static void log_setup(struct fx *f, uint64_t quirks, bool start, int *fd,
                      uint8_t **mem)
{
    const uint64_t range[2] = {LOG_IOVA, (uint64_t)LOG_PAGES * LOG_PAGE};
    uint64_t chosen;

    fx_open(f, DEF_FLAGS, quirks);
    negotiate(f);
    *fd = memfd(range[1], mem);
    assert_int_equal(dma_map(f, range[0], range[1], DMA_RW, 0, *fd), 0);
    if (start) {
        assert_int_equal(log_start(f, LOG_PAGE, range, 1, &chosen), 0);
        assert_int_equal(chosen, LOG_PAGE);
    }
}

static void log_write_all(struct fx *f)
{
    for (size_t i = 0; i < N_LOG_WRITES; i++)
        assert_int_equal(dma_run(f, write_addr(i), log_writes[i].len, PAT), 0);
}

static void log_teardown(struct fx *f, int fd, uint8_t *mem)
{
    fx_close(f);
    munmap(mem, (size_t)LOG_PAGES * LOG_PAGE);
    close(fd);
}

/* log_bitmap_max: a START whose bitmaps would exceed it gets ENOMEM,
 * one within it starts; 0 keeps the 4 GiB default. */
static void test_log_bitmap_max(void **state)
{
    struct vuc_srv_opts o;
    uint64_t rs[2] = {LOG_IOVA, 0};
    struct fx f;

    (void)state;
    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.log_bitmap_max = 4096; /* 32768 pages */
    fx_open_opts(&f, &o);
    negotiate(&f);
    rs[1] = 32769ull * 4096;
    assert_int_equal(log_start(&f, 4096, rs, 1, NULL), ENOMEM);
    rs[1] = 32768ull * 4096;
    assert_int_equal(log_start(&f, 4096, rs, 1, NULL), 0);
    assert_int_equal(log_stop(&f), 0);
    fx_close(&f);

    o.log_bitmap_max = 0;
    fx_open_opts(&f, &o);
    negotiate(&f);
    rs[1] = 1ull << 40; /* 32 MiB of bitmap */
    assert_int_equal(log_start(&f, 4096, rs, 1, NULL), 0);
    assert_int_equal(log_stop(&f), 0);
    fx_close(&f);
}

/*
 * A DMA_MAP that fails leaves no mapping behind: not when the mapping
 * itself or the table's node for it cannot be allocated, not when
 * logging every mapping (num_ranges 0) cannot log it (log_bitmap_max):
 * the same range maps afterwards, where a mapping left in the table
 * would make it EEXIST.
 */
static void test_dma_map_fails_whole(void **state)
{
    struct alloc_ctx a = {.count = 0, .fail_after = -1};
    struct vuc_srv_opts o;
    struct fx f;

    (void)state;
    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.log_bitmap_max = 8; /* one bitmap word: one logged range */
    o.alloc.alloc = counting_alloc;
    o.alloc.release = counting_release;
    o.alloc.ctx = &a;
    fx_open_opts(&f, &o);
    negotiate(&f);
    /* the struct dma_map, then the table's first node */
    for (int k = 0; k < 2; k++) {
        a.count = 0;
        a.fail_after = k;
        assert_int_equal(dma_map(&f, 0x100000, 0x1000, DMA_RW, 0, -1), ENOMEM);
        a.fail_after = -1;
        assert_int_equal(dma_unmap(&f, 0x100000, 0x1000), ENOENT);
    }
    assert_int_equal(dma_map(&f, 0x100000, 0x1000, DMA_RW, 0, -1), 0);
    /* START logs the mapping there is: the bitmap budget is spent */
    assert_int_equal(log_start(&f, 4096, NULL, 0, NULL), 0);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 0, -1), ENOMEM);
    assert_int_equal(dma_unmap(&f, 0x200000, 0x1000), ENOENT);
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(dma_map(&f, 0x200000, 0x1000, DMA_RW, 0, -1), 0);
    assert_int_equal(dma_unmap(&f, 0x200000, 0x1000), 0);
    assert_int_equal(dma_unmap(&f, 0x100000, 0x1000), 0);
    fx_close(&f);
}

static void test_log_start_rules(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    const uint64_t r1[2] = {LOG_IOVA, 16 * LOG_PAGE};
    uint64_t rs[8], chosen;
    struct fx f;

    fx_open(&f, DEF_FLAGS, q);
    negotiate(&f);
    /* STOP before START: nothing to stop */
    assert_int_equal(log_stop(&f), E(&f, EINVAL));
    /* page size 0 and non-powers of two */
    if (!(q & VUC_SRV_QUIRK_START_BAD_PAGE_SIZE)) {
        assert_int_equal(log_start(&f, 0, r1, 1, NULL), E(&f, EINVAL));
        assert_int_equal(log_start(&f, 12288, r1, 1, NULL), E(&f, EINVAL));
        assert_int_equal(log_start(&f, (1ull << 63) + 1, r1, 1, NULL),
                         E(&f, EINVAL));
    }
    /* ranges aligned to the page size chosen; length 0; wrapping */
    rs[0] = LOG_IOVA + 4096;
    rs[1] = LOG_PAGE;
    assert_int_equal(log_start(&f, LOG_PAGE, rs, 1, NULL), E(&f, EINVAL));
    rs[0] = LOG_IOVA;
    rs[1] = LOG_PAGE + 4096;
    assert_int_equal(log_start(&f, LOG_PAGE, rs, 1, NULL), E(&f, EINVAL));
    rs[1] = 0;
    assert_int_equal(log_start(&f, LOG_PAGE, rs, 1, NULL), E(&f, EINVAL));
    rs[0] = 0xffffffffffffe000ull;
    rs[1] = 0x4000;
    assert_int_equal(log_start(&f, LOG_PAGE, rs, 1, NULL), E(&f, EOVERFLOW));
    /* the kernel's order: an unaligned range before a wrapping one */
    rs[2] = LOG_IOVA + 1;
    rs[3] = LOG_PAGE;
    assert_int_equal(log_start(&f, LOG_PAGE, rs, 2, NULL), E(&f, EOVERFLOW));
    rs[0] = LOG_IOVA + 1;
    rs[1] = LOG_PAGE;
    rs[2] = 0xffffffffffffe000ull;
    rs[3] = 0x4000;
    assert_int_equal(log_start(&f, LOG_PAGE, rs, 2, NULL), E(&f, EINVAL));
    /* overlapping ranges, in either order; touching ones are fine */
    if (!(q & VUC_SRV_QUIRK_OVERLAP_ACCEPTED)) {
        const uint64_t ov[6] = {LOG_IOVA + 2 * LOG_PAGE,
                                4 * LOG_PAGE,
                                LOG_IOVA,
                                4 * LOG_PAGE,
                                0,
                                LOG_PAGE};

        assert_int_equal(log_start(&f, LOG_PAGE, ov, 3, NULL), E(&f, EINVAL));
        assert_int_equal(log_start(&f, LOG_PAGE, ov + 2, 2, NULL), 0);
        assert_int_equal(log_stop(&f), 0);
    }
    /* more than 4096 ranges: E2BIG, as vfio core */
    assert_int_equal(log_start_raw(&f, 0, LOG_PAGE, NULL, 0, 0, NULL), 0);
    assert_int_equal(log_stop(&f), 0);
    {
        uint64_t *many = calloc(2 * 4097, 8);

        assert_non_null(many);
        for (uint32_t i = 0; i < 4097; i++) {
            many[2 * i] = LOG_IOVA + 2ull * i * LOG_PAGE;
            many[2 * i + 1] = LOG_PAGE;
        }
        assert_int_equal(log_start(&f, LOG_PAGE, many, 4097, NULL),
                         E(&f, E2BIG));
        assert_int_equal(log_start(&f, LOG_PAGE, many, 4096, NULL), 0);
        assert_int_equal(log_stop(&f), 0);
        free(many);
    }
    /* data must be 16 + 16 * num_ranges bytes; at least the 16 */
    assert_int_equal(log_start_raw(&f, 0, LOG_PAGE, r1, 1, 8, NULL),
                     E(&f, EINVAL));
    {
        uint8_t b[16];

        vuc_put_u32(b, 64);
        vuc_put_u32(b + 4, F_SET | F_LOG_START);
        vuc_put_u64(b + 8, LOG_PAGE);
        assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 16), E(&f, EINVAL));
    }
    /* more bitmap than the device will hold: ENOMEM */
    rs[0] = 0;
    rs[1] = 1ull << 62;
    assert_int_equal(log_start(&f, 4096, rs, 1, NULL), E(&f, ENOMEM));

    /* the hint: 4 KiB .. 1 GiB taken as is, others clamped */
    {
        static const struct {
            uint64_t hint, got;
        } h[] = {{4096, 4096},
                 {8192, 8192},
                 {1 << 21, 1 << 21},
                 {1ull << 30, 1ull << 30},
                 {2048, 4096},
                 {1, 4096},
                 {1ull << 31, 1ull << 30},
                 {1ull << 63, 1ull << 30}};

        for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
            rs[0] = 1ull << 32;
            rs[1] = 1ull << 32;
            assert_int_equal(log_start(&f, h[i].hint, rs, 1, &chosen), 0);
            assert_int_equal(chosen, h[i].got);
            assert_int_equal(log_stop(&f), 0);
        }
        /* ranges are checked against the size chosen, not the hint */
        rs[0] = 4096;
        rs[1] = 4096;
        assert_int_equal(log_start(&f, 2048, rs, 1, &chosen), 0);
        assert_int_equal(log_stop(&f), 0);
        rs[0] = 1ull << 30;
        rs[1] = 1ull << 30;
        assert_int_equal(log_start(&f, 1ull << 31, rs, 1, &chosen), 0);
        assert_int_equal(log_stop(&f), 0);
        rs[0] = 1ull << 29;
        assert_int_equal(log_start(&f, 1ull << 31, rs, 1, &chosen),
                         E(&f, EINVAL));
    }

    /* ranges need not be mapped; a second START is EBUSY (and leaves
     * the first running); STOP; then START works again */
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, &chosen), 0);
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), E(&f, EBUSY));
    assert_int_equal(log_start(&f, 0, r1, 1, NULL), E(&f, EBUSY));
    assert_int_equal(log_report(&f, LOG_IOVA, 16 * LOG_PAGE, 4096, NULL), 0);
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_stop(&f), E(&f, EINVAL));
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, &chosen), 0);
    assert_int_equal(log_stop(&f), 0);
    /* argsz only needs to cover the fixed part; it is echoed */
    assert_int_equal(log_start_raw(&f, 24, LOG_PAGE, r1, 1, 0, &chosen), 0);
    assert_int_equal(vuc_get_u32(pl(&f)), 24);
    assert_int_equal(log_stop(&f), 0);
    fx_close(&f);
}

static void test_log_report_rules(void **state)
{
    uint64_t q = *(uint64_t *)*state;
    const uint64_t r1[2] = {LOG_IOVA, 4096ull * LOG_PAGE};
    uint64_t bm[8];
    bool shrt = false;
    int fd;
    uint8_t *mem;
    struct fx f;

    fx_open(&f, DEF_FLAGS, q);
    negotiate_caps(&f, "{\"capabilities\":{\"max_data_xfer_size\":4096}}");
    /* before START */
    if (!(q & VUC_SRV_QUIRK_REPORT_BEFORE_START))
        assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 4096, bm),
                         E(&f, EINVAL));
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), 0);
    /* page sizes: powers of two from 4096 up */
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 0, bm), E(&f, EINVAL));
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 2048, bm),
                     E(&f, EINVAL));
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 12288, bm),
                     E(&f, EINVAL));
    assert_int_equal(
        log_report(&f, LOG_IOVA, 64 * 4096, (1ull << 63) + 4096, bm),
        E(&f, EINVAL));
    assert_int_equal(log_report(&f, LOG_IOVA, 1ull << 40, 1ull << 63, bm), 0);
    assert_int_equal(bm[0], 0);
    /* length 0; iova + length wrapping */
    assert_int_equal(log_report(&f, LOG_IOVA, 0, 4096, bm), E(&f, EINVAL));
    assert_int_equal(log_report(&f, UINT64_MAX - 4095, 8192, 4096, bm),
                     E(&f, EOVERFLOW));
    /* the request is exactly 24 bytes of data */
    {
        uint8_t b[33] = {0};

        vuc_put_u32(b, 4096);
        vuc_put_u32(b + 4, F_GET | F_LOG_REPORT);
        vuc_put_u64(b + 8, LOG_IOVA);
        vuc_put_u64(b + 16, 4096);
        vuc_put_u64(b + 24, 4096);
        assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 33), E(&f, EINVAL));
        assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 31), E(&f, EINVAL));
        assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 32), 0);
    }
    /* the bitmap is at most max_data_xfer_size (4096 here): 32768 pages
     * fit, one more is E2BIG */
    assert_int_equal(
        log_report_raw(&f, LOG_IOVA, 32768ull * 4096, 4096, 0, NULL, 512, NULL),
        0);
    assert_int_equal(
        log_report_raw(&f, LOG_IOVA, 32769ull * 4096, 4096, 0, NULL, 513, NULL),
        E(&f, E2BIG));
    /* far outside any logged range: zeros */
    expect_empty(&f, 0, 1ull << 20, 4096);
    assert_int_equal(log_stop(&f), 0);
    /* after STOP */
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 4096, bm),
                     E(&f, EINVAL));
    fx_close(&f);

    /* argsz too small for the bitmap: success, the argsz needed, no
     * bitmap, and the log is not cleared */
    log_setup(&f, q, true, &fd, &mem);
    log_write_all(&f);
    assert_int_equal(log_report_raw(&f, LOG_IOVA, 1024ull * LOG_PAGE, LOG_PAGE,
                                    32, NULL, 16, &shrt),
                     0);
    assert_true(shrt);
    assert_int_equal(log_report_raw(&f, LOG_IOVA, 1024ull * LOG_PAGE, LOG_PAGE,
                                    32 + 127, NULL, 16, &shrt),
                     0);
    assert_true(shrt);
    if (!(q & (VUC_SRV_QUIRK_REPORT_BIT_SHIFTED |
               VUC_SRV_QUIRK_REPORT_IGNORES_RANGES)))
        expect_report(&f, LOG_IOVA, 1024ull * LOG_PAGE, LOG_PAGE, false);
    log_teardown(&f, fd, mem);
}

/* Exact bitmaps at 1/2, 1, 2, 16 and 64 times the logging page, over the
 * whole range, a sub-range and a range larger than what is logged. */
static void test_log_bitmaps(void **state)
{
    static const uint64_t pages[] = {4096, 8192, 16384, 131072, 1ull << 19};
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    int fd;
    uint8_t *mem;
    struct fx f;

    (void)state;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        log_setup(&f, 0, true, &fd, &mem);
        log_write_all(&f);
        /* the bytes went where they should */
        expect_pattern(mem + write_addr(2) - LOG_IOVA, 50, PAT, 0);
        expect_report(&f, LOG_IOVA, whole, pages[i], false);
        /* cleared: a second report with no new writes is empty */
        expect_empty(&f, LOG_IOVA, whole, pages[i]);
        log_teardown(&f, fd, mem);
    }

    log_setup(&f, 0, true, &fd, &mem);
    log_write_all(&f);
    /* pages 5..300: the first and last page of the report are dirty, 296
     * pages is not a multiple of 64 */
    expect_report(&f, LOG_IOVA + 5 * LOG_PAGE, 296 * LOG_PAGE, LOG_PAGE, false);
    /* that cleared exactly pages 5..300: 0, 1, 301, 302 and 999 stay */
    {
        uint64_t bm[16] = {0};

        assert_int_equal(log_report(&f, LOG_IOVA, whole, LOG_PAGE, bm), 0);
        assert_int_equal(bm[0], 3);
        for (int i = 1; i < 15; i++)
            assert_int_equal(bm[i], i == 4 ? 3ull << (301 - 256) : 0);
        assert_int_equal(bm[15], 1ull << (999 - 960));
    }
    /* pages 2..62: between dirty 1 and 63, only 5 (and the tail bits 0) */
    log_write_all(&f);
    expect_report(&f, LOG_IOVA + 2 * LOG_PAGE, 61 * LOG_PAGE, LOG_PAGE, false);
    /* a report larger than the logged range: zeros outside it */
    log_write_all(&f);
    expect_report(&f, LOG_IOVA - (1ull << 20), whole + (2ull << 20), 4096,
                  false);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);
    /* an unaligned report base: each report page takes what it overlaps */
    log_write_all(&f);
    expect_report(&f, LOG_IOVA + 100, whole - 200, 16384, false);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA + 4096 * 3, 4096 * 700, 4096, false);
    log_teardown(&f, fd, mem);
}

/* num_ranges 0 logs every mapped range, ranges mapped later too. */
static void test_log_all_mapped(void **state)
{
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    uint64_t chosen;
    int fd, fd2;
    uint8_t *mem, *mem2;
    struct fx f;

    (void)state;
    log_setup(&f, 0, false, &fd, &mem);
    assert_int_equal(log_start(&f, LOG_PAGE, NULL, 0, &chosen), 0);
    assert_int_equal(chosen, LOG_PAGE);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
    /* a mapping added while logging, unaligned to the page */
    fd2 = memfd(4096, &mem2);
    assert_int_equal(dma_map(&f, 0x10000100, 0x200, DMA_RW, 0, fd2), 0);
    assert_int_equal(dma_run(&f, 0x10000180, 8, PAT), 0);
    {
        uint64_t bm[1];

        /* logged at 8 KiB: both 4 KiB halves of its page */
        assert_int_equal(log_report(&f, 0x10000000, 8 * 4096, 4096, bm), 0);
        assert_int_equal(bm[0], 3);
        assert_int_equal(log_report(&f, 0x10000000, 8 * 4096, 4096, bm), 0);
        assert_int_equal(bm[0], 0);
    }
    /* unmapping a range that covers no logging page whole keeps the
     * page's bit (a neighbour may share the page) */
    assert_int_equal(dma_run(&f, 0x10000180, 8, PAT), 0);
    assert_int_equal(dma_unmap(&f, 0x10000100, 0x200), 0);
    {
        uint64_t bm[1];

        assert_int_equal(log_report(&f, 0x10000000, 8 * 4096, 8192, bm), 0);
        assert_int_equal(bm[0], 1);
    }
    /* a mapping over ranges that unmaps left behind is covered where
     * they are not: many small maps, START, unmap them all, one big map */
    assert_int_equal(log_stop(&f), 0);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(
            dma_map(&f, 0x20000000 + i * 0x10000, 0x2000, DMA_RW, 0, -1), 0);
    assert_int_equal(log_start(&f, LOG_PAGE, NULL, 0, &chosen), 0);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(dma_unmap(&f, 0x20000000 + i * 0x10000, 0x2000), 0);
    assert_int_equal(dma_map(&f, 0x20000000, 0x200000, DMA_RW, 0, fd2), EINVAL);
    assert_int_equal(dma_map(&f, 0x20000000, 0x200000, DMA_RW, 0, -1), 0);
    assert_int_equal(dma_map(&f, 0x1fff0000, 0x10000, DMA_RW, 0, fd2), EINVAL);
    {
        uint8_t b[16];

        /* DMA_WRITE into it: mark pages 0x20000000 + 17 * 8 KiB .. */
        queue_run(&f, 0x20000000 + 17 * LOG_PAGE, 3 * LOG_PAGE, PAT);
        (void)b;
    }
    {
        uint16_t bell = f.id;
        uint64_t bm[1];

        send_dma_reply(&f, 1, 0x20000000 + 17 * LOG_PAGE, 3 * LOG_PAGE, 0);
        f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
        setup_replies(&f, (uint16_t)(bell - 3));
        expect_dma_write(&f, 1, 0x20000000 + 17 * LOG_PAGE, 3 * LOG_PAGE, PAT,
                         0);
        expect_write_reply(&f, bell);
        assert_int_equal(
            log_report(&f, 0x20000000, 64 * LOG_PAGE, LOG_PAGE, bm), 0);
        assert_int_equal(bm[0], 7ull << 17);
    }
    assert_int_equal(log_stop(&f), 0);
    munmap(mem2, 4096);
    close(fd2);
    log_teardown(&f, fd, mem);
}

/* DMA_UNMAP while logging drops the range's dirty pages; a write done
 * with DMA_WRITE messages (no fd) is logged too. */
static void test_log_unmap_and_nofd(void **state)
{
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    uint16_t bell;
    int fd;
    uint8_t *mem;
    struct fx f;

    (void)state;
    log_setup(&f, 0, true, &fd, &mem);
    log_write_all(&f);
    assert_int_equal(dma_unmap(&f, LOG_IOVA, whole), 0);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);
    /* mapped again without an fd: written with DMA_WRITE, logged */
    assert_int_equal(dma_map(&f, LOG_IOVA, whole, DMA_RW, 0, -1), 0);
    queue_run(&f, LOG_IOVA + 5 * LOG_PAGE + 100, 50, PAT);
    bell = f.id;
    send_dma_reply(&f, 1, LOG_IOVA + 5 * LOG_PAGE + 100, 50, 0);
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 1, LOG_IOVA + 5 * LOG_PAGE + 100, 50, PAT, 0);
    expect_write_reply(&f, bell);
    {
        uint64_t bm[1];

        assert_int_equal(log_report(&f, LOG_IOVA, 64 * LOG_PAGE, LOG_PAGE, bm),
                         0);
        assert_int_equal(bm[0], 1ull << 5);
    }
    /* a write whose reply failed still counts as dirty */
    queue_run(&f, LOG_IOVA, 8, PAT);
    bell = f.id;
    f.serve_rc = vuc_srv_serve(f.s, f.srv, 0);
    setup_replies(&f, (uint16_t)(bell - 3));
    expect_dma_write(&f, 2, LOG_IOVA, 8, PAT, 0);
    expect_write_reply(&f, bell);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), EIO);
    {
        uint64_t bm[1];

        assert_int_equal(log_report(&f, LOG_IOVA, 64 * LOG_PAGE, LOG_PAGE, bm),
                         0);
        assert_int_equal(bm[0], 1);
    }
    log_teardown(&f, fd, mem);
}

/* Logging stops when the client goes; the next one starts afresh. */
static void test_log_disconnect(void **state)
{
    const uint64_t r1[2] = {LOG_IOVA, 1ull << 40}; /* 1 TiB: lazily */
    int fds0 = count_fds();
    struct fx f;
    uint64_t bm[1];

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(log_start(&f, 4096, r1, 1, NULL), 0);
    vuc_conn_close(f.cli);
    f.cli = NULL;
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    vuc_conn_close(f.srv);
    assert_int_equal(vuc_mem_pair(&f.cli, &f.srv), 0);
    negotiate(&f);
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 4096, bm), EINVAL);
    assert_int_equal(log_stop(&f), EINVAL);
    assert_int_equal(log_start(&f, 4096, r1, 1, NULL), 0);
    fx_close(&f); /* freed while logging: LSan */
    assert_int_equal(count_fds(), fds0);
}

/* Quirk logging-kept-on-reconnect: the mappings and the log outlive the
 * client, and DEVICE_RESET (which never touches them); an unmap or a
 * STOP still ends them. */
static void test_quirk_logging_kept(void **state)
{
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    const uint64_t r1[2] = {LOG_IOVA, whole};
    int maps0 = count_memfd_maps(), fds0 = count_fds();
    uint64_t bm[1];
    int fd;
    uint8_t *mem;
    struct fx f;

    (void)state;
    log_setup(&f, VUC_SRV_QUIRK_LOGGING_KEPT, true, &fd, &mem);
    log_write_all(&f);
    /* the client goes, a new one negotiates */
    vuc_conn_close(f.cli);
    f.cli = NULL;
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    assert_false(vuc_srv_negotiated(f.s));
    vuc_conn_close(f.srv);
    assert_int_equal(vuc_mem_pair(&f.cli, &f.srv), 0);
    negotiate(&f);
    /* still mapped (the test's mapping and the server's), no fd kept */
    assert_int_equal(count_memfd_maps(), maps0 + 2);
    assert_int_equal(count_fds(), fds0 + 1);
    /* the old client's dirt is reported to the new one */
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), EBUSY);
    assert_int_equal(dma_map(&f, LOG_IOVA, LOG_PAGE, DMA_RW, 0, -1), EEXIST);
    assert_int_equal(dma_run(&f, LOG_IOVA + 5 * LOG_PAGE, 8, PAT), 0);
    /* DEVICE_RESET leaves both be */
    assert_int_equal(reset(&f), 0);
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * LOG_PAGE, LOG_PAGE, bm), 0);
    assert_int_equal(bm[0], 1ull << 5);
    /* an unmap releases the memory, a STOP the log */
    assert_int_equal(dma_unmap(&f, LOG_IOVA, whole), 0);
    assert_int_equal(count_memfd_maps(), maps0 + 1);
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_report(&f, LOG_IOVA, 64 * LOG_PAGE, LOG_PAGE, bm),
                     EINVAL);
    log_teardown(&f, fd, mem);

    /* a server freed with kept mappings and logging releases them */
    log_setup(&f, VUC_SRV_QUIRK_LOGGING_KEPT, true, &fd, &mem);
    vuc_conn_close(f.cli);
    f.cli = NULL;
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), 0);
    log_teardown(&f, fd, mem);
    assert_int_equal(count_memfd_maps(), maps0);
    assert_int_equal(count_fds(), fds0);
}

/* A server whose device logs at logpage (--logging-page-size), with the
 * 1000 pages mapped (memfd). */
static void logpage_setup(struct fx *f, uint64_t logpage, int *fd,
                          uint8_t **mem)
{
    struct vuc_srv_opts o;

    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.logging_page_size = logpage;
    fx_open_opts(f, &o);
    negotiate(f);
    *fd = memfd((size_t)LOG_PAGES * LOG_PAGE, mem);
    assert_int_equal(
        dma_map(f, LOG_IOVA, (uint64_t)LOG_PAGES * LOG_PAGE, DMA_RW, 0, *fd),
        0);
}

/* --logging-page-size: START logs at it whatever the hint and says so;
 * ranges are rounded out to it; REPORT is exact at any page size. */
static void test_log_page_size_option(void **state)
{
    static const uint64_t bad[] = {1,           2048,       4095,      12288,
                                   4096 + 8192, 1ull << 31, 1ull << 63};
    static const uint64_t reports[] = {4096, 8192, 65536, 131072, 1ull << 20};
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    const uint64_t r1[2] = {LOG_IOVA, whole};
    struct vuc_srv_opts o;
    struct vuc_srv *s;
    uint64_t chosen, bm[16];
    int fd;
    uint8_t *mem;
    struct fx f;

    (void)state;
    vuc_srv_opts_init(&o);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.logging_page_size = bad[i];
        assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    }
    o.logging_page_size = 1ull << 30;
    assert_int_equal(vuc_srv_new(&o, &s), 0);
    vuc_srv_free(s);

    /* 64 KiB: whatever the hint, the reply says 64 KiB; the writes mark
     * whole 64 KiB pages, reported exactly at finer and coarser pages */
    for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
        logpage_setup(&f, 65536, &fd, &mem);
        assert_int_equal(log_start(&f, i % 2 ? 4096 : LOG_PAGE, r1, 1, &chosen),
                         0);
        assert_int_equal(chosen, 65536);
        log_write_all(&f);
        expect_report_at(&f, LOG_IOVA, whole, reports[i], 65536, false);
        expect_empty(&f, LOG_IOVA, whole, reports[i]);
        /* a sub-range with unaligned ends, and an unaligned base */
        log_write_all(&f);
        expect_report_at(&f, LOG_IOVA + 5 * LOG_PAGE, 296 * LOG_PAGE,
                         reports[i], 65536, false);
        log_write_all(&f);
        expect_report_at(&f, LOG_IOVA + 100, whole - 200, reports[i], 65536,
                         false);
        assert_int_equal(log_stop(&f), 0);
        log_teardown(&f, fd, mem);
    }

    logpage_setup(&f, 65536, &fd, &mem);
    {
        /* two 4 KiB ranges in one 64 KiB page: accepted, merged, and the
         * whole page is logged (a write outside both marks it) */
        const uint64_t two[4] = {LOG_IOVA + 4096, 4096, LOG_IOVA + 12288, 4096};
        const uint64_t odd[2] = {LOG_IOVA + 4096, 4096};
        const uint64_t top[2] = {0xffffffffffffe000ull, 0x1000};

        assert_int_equal(log_start(&f, 4096, two, 2, &chosen), 0);
        assert_int_equal(chosen, 65536);
        assert_int_equal(dma_run(&f, LOG_IOVA + 60000, 8, PAT), 0);
        assert_int_equal(dma_run(&f, LOG_IOVA + 65536, 8, PAT), 0);
        assert_int_equal(log_report(&f, LOG_IOVA, 32 * 4096, 4096, bm), 0);
        assert_int_equal(bm[0], 0xffff);
        assert_int_equal(log_stop(&f), 0);
        /* the ranges are still checked against the hint's page */
        assert_int_equal(log_start(&f, 8192, odd, 1, NULL), EINVAL);
        /* an end that rounds up to 2^64 does not fit */
        assert_int_equal(log_start(&f, 4096, top, 1, NULL), EOVERFLOW);
        /* a hint above it: checked at the hint, logged at 64 KiB */
        assert_int_equal(log_start(&f, 1 << 21, odd, 1, NULL), EINVAL);
        assert_int_equal(log_start(&f, 1 << 21, r1, 1, NULL), EINVAL);
        {
            const uint64_t big[2] = {LOG_IOVA, 4ull << 20};

            assert_int_equal(log_start(&f, 1 << 21, big, 1, &chosen), 0);
            assert_int_equal(chosen, 65536);
            assert_int_equal(dma_run(&f, LOG_IOVA + 65536 * 3 + 5, 1, PAT), 0);
            assert_int_equal(log_report(&f, LOG_IOVA, 64 * 65536, 65536, bm),
                             0);
            assert_int_equal(bm[0], 1ull << 3);
            assert_int_equal(log_stop(&f), 0);
        }
        /* num_ranges 0: every mapping, at 64 KiB */
        assert_int_equal(log_start(&f, 4096, NULL, 0, &chosen), 0);
        assert_int_equal(chosen, 65536);
        log_write_all(&f);
        expect_report_at(&f, LOG_IOVA, whole, 8192, 65536, false);
        assert_int_equal(log_stop(&f), 0);
    }
    log_teardown(&f, fd, mem);
}

/* ---- BAR0 DIRTY_SIM_PERMILLE: logged pages dirty without DMA ---- */

#define R_DIRTY_SIM 0x80u
#define SIM_B_IOVA  (LOG_IOVA + 2000ull * LOG_PAGE)
#define SIM_B_PAGES 130u

/* The pages DIRTY_SIM_PERMILLE = n marks in a range of `pages` pages
 * (README.md), from the formula with plain products: floor(i * P / k)
 * for i < k = ceil(P * n / 1000). Bit `at` + page of w. */
static void sim_want(uint64_t *w, uint64_t at, uint64_t pages, uint32_t n)
{
    uint64_t k = (pages * n + 999) / 1000;

    for (uint64_t i = 0; i < k; i++) {
        uint64_t b = at + i * pages / k;

        w[b / 64] |= 1ull << (b % 64);
    }
}

static uint64_t popcount_words(const uint64_t *w, size_t words)
{
    uint64_t n = 0;

    for (size_t i = 0; i < words; i++)
        n += (uint64_t)__builtin_popcountll(w[i]);
    return n;
}

/* A REPORT must give exactly want (report_words(len, page) words). */
static void expect_bits(struct fx *f, uint64_t iova, uint64_t len,
                        uint64_t page, const uint64_t *want)
{
    size_t words = report_words(len, page);
    uint64_t *got = calloc(words, 8);

    assert_non_null(got);
    assert_int_equal(log_report(f, iova, len, page, got), 0);
    for (size_t i = 0; i < words; i++) {
        if (got[i] != want[i])
            print_error("report [0x%llx, +0x%llx) at %llu: word %zu is "
                        "0x%016llx, want 0x%016llx\n",
                        (unsigned long long)iova, (unsigned long long)len,
                        (unsigned long long)page, i, (unsigned long long)got[i],
                        (unsigned long long)want[i]);
        assert_int_equal(got[i], want[i]);
    }
    free(got);
}

/* Two logged ranges A (1000 pages) and B (130 pages), 870 pages apart;
 * nothing is mapped: the aid needs no memory. After DIRTY_SIM_PERMILLE =
 * n, a REPORT from A to B shows exactly its pages in both, and clears
 * them. */
static void sim_expect(struct fx *f, uint32_t n)
{
    const uint64_t span = SIM_B_IOVA + SIM_B_PAGES * LOG_PAGE - LOG_IOVA;
    uint64_t want[40] = {0};

    _Static_assert(2000 + SIM_B_PAGES <= 40 * 64, "want holds A to B");
    sim_want(want, 0, LOG_PAGES, n);
    sim_want(want, 2000, SIM_B_PAGES, n);
    expect_bits(f, LOG_IOVA, span, LOG_PAGE, want);
    expect_empty(f, LOG_IOVA, span, LOG_PAGE); /* reported, so cleared */
}

static void sim_check(struct fx *f, uint32_t n)
{
    bar_wr(f, R_DIRTY_SIM, n, 4);
    sim_expect(f, n);
}

static void test_log_dirty_sim(void **state)
{
    const uint64_t ab[4] = {LOG_IOVA, (uint64_t)LOG_PAGES * LOG_PAGE,
                            SIM_B_IOVA, (uint64_t)SIM_B_PAGES * LOG_PAGE};
    const uint64_t big[2] = {LOG_IOVA, 1ull << 30}; /* 2^18 pages of 4 KiB */
    const size_t big_words = (size_t)((big[1] >> 12) / 64);
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    uint64_t want[32] = {0}, huge[4], *bw;
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    bar_wr(&f, R_DIRTY_SIM, 10, 4); /* not logging: nothing to mark */
    assert_int_equal(log_start(&f, LOG_PAGE, ab, 2, NULL), 0);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);

    /* 1%: A pages 0, 100, .., 900; B (k = ceil(1.3) = 2) pages 0, 65 */
    sim_check(&f, 10);
    /* the boundaries: 1 (page 0 of each), 1000 (every page), and one
     * where k does not divide P (B: k = 44, uneven steps of 2 and 3) */
    sim_check(&f, 1);
    sim_check(&f, 1000);
    sim_check(&f, 333);

    /* a finer report repeats each marked logging page's bit */
    for (uint64_t p = 0; p < LOG_PAGES; p += 100)
        want[(2 * p) / 64] |= 3ull << ((2 * p) % 64);
    bar_wr(&f, R_DIRTY_SIM, 10, 4);
    expect_bits(&f, LOG_IOVA, whole, 4096, want);
    memset(want, 0, sizeof(want));
    want[0] = 1; /* B: pages 0 and 65 */
    want[1] = 2;
    expect_bits(&f, SIM_B_IOVA, SIM_B_PAGES * LOG_PAGE, LOG_PAGE, want);

    /* write-only, not stored, and ignored unless all 4 bytes carry 1..1000 */
    bar_wr(&f, R_DIRTY_SIM, 0, 4);
    bar_wr(&f, R_DIRTY_SIM, 1001, 4);
    bar_wr(&f, R_DIRTY_SIM, 0xffffffffu, 4);
    assert_int_equal(bar_rd(&f, R_DIRTY_SIM, 4), 0);
    bar_wr(&f, R_DIRTY_SIM, 10, 2);
    bar_wr(&f, R_DIRTY_SIM + 1, 10, 3);
    bar_wr(&f, R_DIRTY_SIM - 2, 10u << 16, 4);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);
    expect_empty(&f, SIM_B_IOVA, SIM_B_PAGES * LOG_PAGE, LOG_PAGE);
    /* a wider write that covers it counts (DMA_STATUS is read-only) */
    bar_wr(&f, R_DMA_STATUS, 10ull << 32, 8);
    sim_expect(&f, 10);

    /* a stopped device does not write, so dirties nothing */
    assert_int_equal(set_state(&f, ST_STOP), 0);
    bar_wr(&f, R_DIRTY_SIM, 1000, 4);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);
    expect_empty(&f, SIM_B_IOVA, SIM_B_PAGES * LOG_PAGE, LOG_PAGE);

    /* many words: 1 GiB at 4 KiB, an exact count of ceil(P * n / 1000) */
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_start(&f, 4096, big, 1, NULL), 0);
    bw = calloc(big_words, 8);
    assert_non_null(bw);
    sim_want(bw, 0, big[1] >> 12, 10);
    assert_int_equal(popcount_words(bw, big_words), 2622);
    bar_wr(&f, R_DIRTY_SIM, 10, 4);
    expect_bits(&f, big[0], big[1], 4096, bw);
    memset(bw, 0, big_words * 8);
    sim_want(bw, 0, big[1] >> 12, 999);
    assert_int_equal(popcount_words(bw, big_words), 261882);
    bar_wr(&f, R_DIRTY_SIM, 999, 4);
    expect_bits(&f, big[0], big[1], 4096, bw);
    expect_empty(&f, big[0], big[1], 4096);
    free(bw);

    /* logs over 512 MiB of bitmap in all (16 TiB at 4 KiB) are left
     * alone: 16 TiB + 64 pages is 8 bytes over */
    assert_int_equal(log_stop(&f), 0);
    huge[0] = LOG_IOVA;
    huge[1] = (1ull << 44) + 64 * 4096;
    huge[2] = 0;
    huge[3] = 8 * 4096; /* a second, small range: also left alone */
    assert_int_equal(log_start(&f, 4096, huge, 2, NULL), 0);
    bar_wr(&f, R_DIRTY_SIM, 1000, 4);
    expect_empty(&f, 0, 8 * 4096, 4096);
    expect_empty(&f, LOG_IOVA, 1ull << 33, 4096); /* 256 KiB of bitmap */
    fx_close(&f);
}

/* Each logging quirk, wrong in its one way. */
static void test_log_quirks(void **state)
{
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    const uint64_t r1[2] = {LOG_IOVA, whole};
    uint64_t chosen, bm[16];
    int fd;
    uint8_t *mem;
    struct fx f;

    (void)state;
    /* report-not-cleared: the second report is the first again */
    log_setup(&f, VUC_SRV_QUIRK_REPORT_NOT_CLEARED, true, &fd, &mem);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
    expect_report(&f, LOG_IOVA, whole, 4096, false);
    log_teardown(&f, fd, mem);

    /* report-bit-shifted: bit n + 1 for page n (and it still clears) */
    log_setup(&f, VUC_SRV_QUIRK_REPORT_BIT_SHIFTED, true, &fd, &mem);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, true);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA, whole, 16384, true);
    log_teardown(&f, fd, mem);

    /* report-ignores-ranges: dirty pages 63 and 64 just past a 61-page
     * report from page 2 show in its last word's tail */
    log_setup(&f, VUC_SRV_QUIRK_REPORT_IGNORES_RANGES, true, &fd, &mem);
    log_write_all(&f);
    assert_int_equal(
        log_report(&f, LOG_IOVA + 2 * LOG_PAGE, 61 * LOG_PAGE, LOG_PAGE, bm),
        0);
    assert_int_equal(bm[0], 1ull << 3 | 1ull << 61 | 1ull << 62);
    /* a range of whole words is right */
    expect_report(&f, LOG_IOVA + 64 * LOG_PAGE, 128 * LOG_PAGE, LOG_PAGE,
                  false);
    log_teardown(&f, fd, mem);

    /* report-wrong-scaling: log bit n is report bit n at any page size;
     * at the logging page size it is right */
    log_setup(&f, VUC_SRV_QUIRK_REPORT_WRONG_SCALING, true, &fd, &mem);
    log_write_all(&f);
    assert_int_equal(log_report(&f, LOG_IOVA, 128 * LOG_PAGE, 4096, bm), 0);
    assert_int_equal(bm[0], 1ull | 2ull | 1ull << 5 | 1ull << 63);
    assert_int_equal(bm[1], 1ull | 1ull << 63);
    assert_int_equal(bm[2] | bm[3], 0);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
    log_teardown(&f, fd, mem);

    /* start-accepts-bad-page-size: 0 and 12288 accepted and echoed */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_START_BAD_PAGE_SIZE);
    negotiate(&f);
    assert_int_equal(log_start(&f, 0, r1, 1, &chosen), 0);
    assert_int_equal(chosen, 0);
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_start(&f, 12288, r1, 1, &chosen), 0);
    assert_int_equal(chosen, 12288);
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_start(&f, 2048, r1, 1, &chosen), 0);
    assert_int_equal(chosen, 4096); /* a power of two is still clamped */
    assert_int_equal(log_stop(&f), 0);
    fx_close(&f);

    /* report-before-start-accepted: an empty bitmap before any START on
     * the connection, still EINVAL after a STOP */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_REPORT_BEFORE_START);
    negotiate(&f);
    expect_empty(&f, LOG_IOVA, 100 * 4096, 4096);
    assert_int_equal(log_report(&f, LOG_IOVA, 4096, 2048, bm), EINVAL);
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), 0);
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_report(&f, LOG_IOVA, 100 * 4096, 4096, bm), EINVAL);
    fx_close(&f);

    /* unmap-keeps-logging: after unmap and a new map there, the old
     * mapping's pages are still reported */
    log_setup(&f, VUC_SRV_QUIRK_UNMAP_KEEPS_LOGGING, true, &fd, &mem);
    log_write_all(&f);
    assert_int_equal(dma_unmap(&f, LOG_IOVA, whole), 0);
    assert_int_equal(dma_map(&f, LOG_IOVA, whole, DMA_RW, 0, fd), 0);
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
    log_teardown(&f, fd, mem);

    /* overlap-accepted: overlapping ranges start, their union is logged */
    {
        const uint64_t ov[4] = {LOG_IOVA, 4 * LOG_PAGE, LOG_IOVA + 2 * LOG_PAGE,
                                whole - 2 * LOG_PAGE};

        fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_OVERLAP_ACCEPTED);
        negotiate(&f);
        fd = memfd(whole, &mem);
        assert_int_equal(dma_map(&f, LOG_IOVA, whole, DMA_RW, 0, fd), 0);
        assert_int_equal(log_start(&f, LOG_PAGE, ov, 2, NULL), 0);
        log_write_all(&f);
        expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
        log_teardown(&f, fd, mem);
    }
}

/* ---- the socket event loop, in a child process ---- */

static int wait_exit(pid_t pid, int ms)
{
    int status;

    for (int i = 0; i < ms / 10; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void version_over(struct vuc_conn *c)
{
    static const uint8_t v[4] = {0, 0, 1, 0};
    struct vuc_hdr h = {.id = 7, .cmd = VUC_CMD_VERSION};
    struct vuc_msg m;

    assert_int_equal(vuc_conn_send(c, &h, v, 4, NULL, 0, 5000), 0);
    assert_int_equal(vuc_conn_recv(c, &m, 5000), 0);
    assert_int_equal(m.hdr.id, 7);
    assert_int_equal(m.hdr.flags, VUC_TYPE_REPLY);
    vuc_msg_release(&m);
}

static void test_run_socket(void **state)
{
    char path[108];
    struct vuc_conn *c1, *c2;
    struct stat st;
    uint8_t half[8] = {1, 0, 1, 0, 20, 0, 0, 0};
    pid_t pid;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/vucert-test-server-%d.sock",
             (int)getpid());
    unlink(path);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct vuc_srv *s;
        int rc = vuc_srv_new(NULL, &s);

        if (rc == 0)
            rc = vuc_srv_run(s, path);
        vuc_srv_free(s);
        _exit(rc == 0 ? 0 : 1);
    }
    /* client 1: half a header, then silence */
    assert_int_equal(vuc_unix_connect(path, 5000, &c1), 0);
    assert_int_equal(vuc_conn_send_raw(c1, half, sizeof(half), NULL, 0, 1000),
                     0);
    /* client 2 waits in the backlog until client 1 goes */
    assert_int_equal(vuc_unix_connect(path, 5000, &c2), 0);
    usleep(50000);
    vuc_conn_close(c1);
    version_over(c2);
    /* client 2 also goes silent mid-header; shutdown is not delayed */
    assert_int_equal(vuc_conn_send_raw(c2, half, sizeof(half), NULL, 0, 1000),
                     0);
    usleep(50000);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 5000), 0);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
    vuc_conn_close(c2);
}

/* ---- the quirks written for negotiate.*, fsm.* and dirty.* cases ---- */

static void test_quirk_version(void **state)
{
    static const char *malformed[] = {"{", "not json", "[1,2]",
                                      "{\"capabilities\":7}"};
    struct vuc_caps caps;
    struct fx f;

    (void)state;
    /* version-major-mismatch: the reply says 1 to a proposal of 0; a
     * proposal of 1 is still refused */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_VERSION_MAJOR_MISMATCH);
    assert_int_equal(xmit(&f, VUC_CMD_VERSION, 0, "\x01\x00\x01\x00", 4), 0);
    assert_int_equal(check_reply(&f, VUC_CMD_VERSION), EINVAL);
    assert_int_equal(f.serve_rc, -ECONNABORTED);
    fx_close(&f);
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_VERSION_MAJOR_MISMATCH);
    assert_int_equal(version(&f, 0, 1, NULL), 0);
    assert_int_equal(vuc_get_u16(pl(&f)), 1);
    assert_int_equal(vuc_get_u16(pl(&f) + 2), 1);
    fx_close(&f);

    /* version-minor-above: proposed + 1, at 0, 1 and the top */
    static const uint16_t minors[][2] = {{0, 1}, {1, 2}, {0xffff, 0}};
    for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
        fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_VERSION_MINOR_ABOVE);
        assert_int_equal(version(&f, 0, minors[i][0], NULL), 0);
        assert_int_equal(vuc_get_u16(pl(&f)), 0);
        assert_int_equal(vuc_get_u16(pl(&f) + 2), minors[i][1]);
        fx_close(&f);
    }

    /* caps-superset: every capability but twin_socket, with the values a
     * proposal of the defaults gets; no version data, none back */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_CAPS_SUPERSET);
    assert_int_equal(version(&f, 0, 1, "{\"capabilities\":{}}"), 0);
    assert_int_equal(
        vuc_caps_parse((const char *)pl(&f) + 4, f.rep.payload_len - 5, &caps),
        0);
    assert_int_equal(caps.present, VUC_CAP_MAX_MSG_FDS |
                                       VUC_CAP_MAX_DATA_XFER_SIZE |
                                       VUC_CAP_MAX_DMA_MAPS | VUC_CAP_PGSIZES |
                                       VUC_CAP_WRITE_MULTIPLE);
    assert_int_equal(caps.max_msg_fds, 1);
    assert_int_equal(caps.max_data_xfer_size, 1048576);
    assert_int_equal(caps.max_dma_maps, 65535);
    assert_int_equal(caps.pgsizes, 4096);
    assert_false(caps.write_multiple);
    fx_close(&f);
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_CAPS_SUPERSET);
    assert_int_equal(version(&f, 0, 1, NULL), 0);
    assert_int_equal(f.rep.payload_len, 4);
    fx_close(&f);

    /* max-xfer-above-proposal: 4 GiB claimed whatever was proposed, the
     * key only when proposed; what the server takes is still min(the
     * proposal, its own limit) */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_MAX_XFER_ABOVE);
    assert_int_equal(
        version(&f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":256}}"),
        0);
    assert_int_equal(
        vuc_caps_parse((const char *)pl(&f) + 4, f.rep.payload_len - 5, &caps),
        0);
    assert_int_equal(caps.present, VUC_CAP_MAX_DATA_XFER_SIZE);
    assert_int_equal(caps.max_data_xfer_size, 4294967296ull);
    {
        uint8_t big[300] = {0};

        assert_int_equal(region_read(&f, 0, 0, 256, big), 0);
        assert_int_equal(region_read(&f, 0, 0, 257, big), EINVAL);
    }
    fx_close(&f);
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_MAX_XFER_ABOVE);
    assert_int_equal(version(&f, 0, 1, "{\"capabilities\":{}}"), 0);
    assert_string_equal((const char *)pl(&f) + 4, "{\"capabilities\":{}}");
    fx_close(&f);

    /* json-required: 4 bytes of VERSION are refused, the connection stays
     * and version data is accepted */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_JSON_REQUIRED);
    assert_int_equal(version(&f, 0, 1, NULL), EINVAL);
    assert_false(vuc_srv_negotiated(f.s));
    assert_int_equal(version(&f, 0, 1, "{}"), 0);
    assert_true(vuc_srv_negotiated(f.s));
    fx_close(&f);

    /* json-malformed-accepted: what does not parse is taken as no
     * proposal at all; a well-formed zero limit and a missing NUL are
     * still refused */
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_JSON_MALFORMED_ACCEPTED);
        assert_int_equal(version(&f, 0, 1, malformed[i]), 0);
        assert_string_equal((const char *)pl(&f) + 4, "{\"capabilities\":{}}");
        assert_true(vuc_srv_negotiated(f.s));
        fx_close(&f);
    }
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_JSON_MALFORMED_ACCEPTED);
    assert_int_equal(
        version(&f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":0}}"),
        EINVAL);
    assert_int_equal(req(&f, VUC_CMD_VERSION, "\x00\x00\x01\x00{}", 6), EINVAL);
    assert_false(vuc_srv_negotiated(f.s));
    fx_close(&f);
}

static void test_quirk_feature(void **state)
{
    uint8_t d[8], b[16], big[300] = {0};
    size_t n;
    uint32_t tr[8];
    struct fx f;

    (void)state;
    /* max-xfer-exclusive: exactly the negotiated 256 bytes is refused in
     * every transfer, 255 works */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_MAX_XFER_EXCLUSIVE);
    assert_int_equal(
        version(&f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":256}}"),
        0);
    assert_int_equal(region_read(&f, 0, 0, 256, big), EINVAL);
    assert_int_equal(region_read(&f, 0, 0, 255, big), 0);
    assert_int_equal(region_write(&f, 0, R_FREE, big, 256), EINVAL);
    assert_int_equal(region_write(&f, 0, R_FREE, big, 255), 0);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 256, 256, big, &n), EINVAL);
    assert_int_equal(mig_read(&f, 8 + 255, 255, big, &n), 0);
    assert_int_equal(n, 255);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    assert_int_equal(mig_write(&f, big, 256), EINVAL);
    assert_int_equal(mig_write(&f, big, 255), 0);
    fx_close(&f);

    /* migration-flags-extra-bit: bit 3 with the flag set */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_MIG_FLAGS_EXTRA_BIT);
    negotiate(&f);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG, NULL, 0), 0);
    assert_int_equal(vuc_get_u64(pl(&f) + 8), DEF_FLAGS | 8u);
    fx_close(&f);

    /* migration-flags-zero: flags 0, the rest of the reply as usual, and
     * the state machine still works with the real flag set */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_MIG_FLAGS_ZERO);
    negotiate(&f);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG, NULL, 0), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_int_equal(vuc_get_u32(pl(&f)), 16);
    assert_int_equal(vuc_get_u32(pl(&f) + 4), F_GET | FEAT_MIG);
    assert_int_equal(vuc_get_u64(pl(&f) + 8), 0);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(state_now(&f), ST_PRE_COPY);
    fx_close(&f);

    /* probe-reply-differs: the PROBE flag is missing from the echo, the
     * rest is as sent; a failing PROBE still fails */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_PROBE_REPLY_DIFFERS);
    negotiate(&f);
    vuc_put_u32(b, 8);
    vuc_put_u32(b + 4, F_PROBE | F_GET | FEAT_MIG);
    memset(b + 8, 0x5a, 8);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 16), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_int_equal(vuc_get_u32(pl(&f)), 8);
    assert_int_equal(vuc_get_u32(pl(&f) + 4), F_GET | FEAT_MIG);
    assert_memory_equal(pl(&f) + 8, b + 8, 8);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | FEAT_MIG, NULL, 0),
                     EINVAL);
    fx_close(&f);

    /* get-set-accepted: GET|SET is a SET (and replies as one) */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_GET_SET_ACCEPTED);
    negotiate(&f);
    vuc_put_u32(d, ST_STOP);
    vuc_put_u32(d + 4, 0);
    assert_int_equal(feature(&f, 16, F_GET | F_SET | FEAT_STATE, d, 8), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_int_equal(state_now(&f), ST_STOP);
    /* a feature without SET still refuses it */
    assert_int_equal(feature(&f, 16, F_GET | F_SET | FEAT_MIG, NULL, 0),
                     EINVAL);
    fx_close(&f);

    /* unknown-feature-accepted: the request echoed; unknown flag bits
     * are still refused first */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_UNKNOWN_FEATURE);
    negotiate(&f);
    vuc_put_u32(b, 16);
    vuc_put_u32(b + 4, F_GET | 0x1234u);
    memset(b + 8, 0xa5, 8);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 16), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_memory_equal(pl(&f), b, 16);
    assert_int_equal(feature(&f, 16, F_PROBE | 3u, NULL, 0), 0);
    assert_int_equal(feature(&f, 16, F_GET | 3u | (1u << 20), NULL, 0), EINVAL);
    assert_int_equal(state_now(&f), ST_RUNNING);
    fx_close(&f);

    /* argsz-ignored: GET and SET with argsz 8 are served in full (the
     * 8-byte prefix is still required) */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_ARGSZ_IGNORED);
    negotiate(&f);
    assert_int_equal(feature(&f, 8, F_GET | FEAT_STATE, NULL, 0), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_int_equal(vuc_get_u32(pl(&f) + 8), ST_RUNNING);
    vuc_put_u32(d, ST_STOP);
    assert_int_equal(feature(&f, 8, F_SET | FEAT_STATE, d, 8), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    assert_int_equal(feature(&f, 7, F_GET | FEAT_STATE, NULL, 0), EINVAL);
    fx_close(&f);

    /* same-state-rejected: a SET to where the device is fails and walks
     * nothing; every other SET is as before */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_SAME_STATE_REJECTED);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_RUNNING), EINVAL);
    assert_int_equal(trace(&f, tr), 0);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    assert_int_equal(state_now(&f), ST_STOP);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    fx_close(&f);

    /* reset-goes-to-stop: from RUNNING and from ERROR, sessions ended */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_RESET_GOES_TO_STOP);
    negotiate(&f);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    bar_wr(&f, R_FAULT, 1, 4);
    assert_int_equal(set_state(&f, ST_RUNNING), EIO);
    assert_int_equal(state_now(&f), ST_ERROR);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(reset(&f), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    assert_int_equal(mig_read(&f, 16, 8, NULL, &n), EINVAL);
    fx_close(&f);

    /* no-migration: features 1 and 2 are ENOTTY whatever the method,
     * PROBE included, after the generic flag checks; the data transfers
     * EINVAL in every state there is (RUNNING); DMA logging works */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_NO_MIGRATION);
    negotiate(&f);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG, NULL, 0), ENOTTY);
    assert_int_equal(feature(&f, 8, F_PROBE | F_GET | FEAT_MIG, NULL, 0),
                     ENOTTY);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_STATE, NULL, 0), ENOTTY);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | FEAT_STATE, NULL, 0),
                     ENOTTY);
    assert_int_equal(set_state(&f, ST_STOP), ENOTTY);
    assert_int_equal(set_state(&f, ST_RUNNING), ENOTTY);
    assert_int_equal(feature(&f, 16, F_GET | F_SET | FEAT_STATE, NULL, 0),
                     EINVAL);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_MIG | (1u << 20), NULL, 0),
                     EINVAL);
    assert_int_equal(vuc_srv_mig_state(f.s), ST_RUNNING);
    assert_int_equal(mig_read(&f, 16, 8, NULL, &n), EINVAL);
    assert_int_equal(mig_read(&f, 8, 0, NULL, &n), EINVAL);
    assert_int_equal(mig_write(&f, big, 8), EINVAL);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | F_LOG_START, NULL, 0), 0);
    {
        const uint64_t r1[2] = {LOG_IOVA, 16 * LOG_PAGE};
        uint64_t chosen;

        assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, &chosen), 0);
        assert_int_equal(chosen, LOG_PAGE);
        assert_int_equal(log_stop(&f), 0);
    }
    assert_int_equal(reset(&f), 0);
    assert_int_equal(vuc_srv_mig_state(f.s), ST_RUNNING);
    fx_close(&f);

    /* reply-fd-attached: one fd with every successful DEVICE_FEATURE
     * reply (the server keeps no copy), none with an error reply or a
     * reply to another command */
    {
        int fds0 = count_fds();
        uint32_t flags[] = {F_GET | FEAT_MIG, F_GET | FEAT_STATE,
                            F_PROBE | F_GET | FEAT_MIG,
                            F_PROBE | F_SET | F_LOG_START};

        fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_REPLY_FD_ATTACHED);
        negotiate(&f);
        assert_int_equal(f.rep.nfds, 0);
        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            assert_int_equal(feature(&f, 16, flags[i], NULL, 0), 0);
            assert_int_equal(f.rep.nfds, 1);
            assert_true(fcntl(f.rep.fds[0], F_GETFD) >= 0);
            assert_int_equal(count_fds(), fds0 + 1);
        }
        assert_int_equal(set_state(&f, ST_STOP), 0);
        assert_int_equal(f.rep.nfds, 1);
        assert_int_equal(set_state(&f, ST_ERROR), EINVAL);
        assert_int_equal(f.rep.nfds, 0);
        assert_int_equal(feature(&f, 16, F_GET | 9u, NULL, 0), ENOTTY);
        assert_int_equal(f.rep.nfds, 0);
        assert_int_equal(reset(&f), 0);
        assert_int_equal(f.rep.nfds, 0);
        fx_close(&f);
        assert_int_equal(count_fds(), fds0);
    }
}

/* The logging quirks that the gates and the START/STOP/REPORT argument
 * checks of the dirty.* cases are written for. */
static void test_quirk_logging_args(void **state)
{
    const uint64_t whole = (uint64_t)LOG_PAGES * LOG_PAGE;
    const uint64_t r1[2] = {LOG_IOVA, whole};
    uint64_t bm[16], chosen;
    uint8_t b[32];
    int fd;
    uint8_t *mem;
    struct fx f;

    (void)state;
    /* probe-start-fails / probe-stop-report-fail: the PROBEs fail, the
     * methods work */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_PROBE_START_FAILS);
    negotiate(&f);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | F_LOG_START, NULL, 0),
                     ENOTTY);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | F_LOG_STOP, NULL, 0), 0);
    assert_int_equal(feature(&f, 8, F_PROBE | F_GET | F_LOG_REPORT, NULL, 0),
                     0);
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), 0);
    assert_int_equal(log_stop(&f), 0);
    fx_close(&f);
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_PROBE_STOP_REPORT_FAIL);
    negotiate(&f);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | F_LOG_START, NULL, 0), 0);
    assert_int_equal(feature(&f, 8, F_PROBE | F_SET | F_LOG_STOP, NULL, 0),
                     ENOTTY);
    assert_int_equal(feature(&f, 8, F_PROBE | F_GET | F_LOG_REPORT, NULL, 0),
                     ENOTTY);
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), 0);
    expect_empty(&f, LOG_IOVA, whole, LOG_PAGE);
    assert_int_equal(log_stop(&f), 0);
    fx_close(&f);

    /* start-twice-accepted: the second START replaces the first (its
     * range and page size); an invalid one leaves the first running */
    log_setup(&f, VUC_SRV_QUIRK_START_TWICE, true, &fd, &mem);
    {
        const uint64_t half[2] = {LOG_IOVA + 512 * LOG_PAGE, 64 * LOG_PAGE};
        const uint64_t bad[2] = {LOG_IOVA + 1, LOG_PAGE};

        assert_int_equal(log_start(&f, LOG_PAGE, bad, 1, NULL), EINVAL);
        assert_int_equal(log_start(&f, 4096, half, 1, &chosen), 0);
        assert_int_equal(chosen, 4096);
        assert_int_equal(dma_run(&f, LOG_IOVA, 8, PAT), 0);
        assert_int_equal(dma_run(&f, half[0], 8, PAT), 0);
        /* page 0 of the first range is no longer logged */
        assert_int_equal(log_report(&f, LOG_IOVA, 64 * 4096, 4096, bm), 0);
        assert_int_equal(bm[0], 0);
        assert_int_equal(log_report(&f, half[0], 64 * 4096, 4096, bm), 0);
        assert_int_equal(bm[0], 1);
    }
    assert_int_equal(log_stop(&f), 0);
    assert_int_equal(log_stop(&f), EINVAL);
    log_teardown(&f, fd, mem);

    /* start-overflow-accepted: a wrapping range is cut below the last
     * page; one wholly in the last page logs nothing */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_START_OVERFLOW);
    negotiate(&f);
    {
        const uint64_t wrap[2] = {0xffffffffffff0000ull, 0x20000};
        const uint64_t top[2] = {0xffffffffffffe000ull, 0x4000};

        assert_int_equal(log_start(&f, LOG_PAGE, wrap, 1, NULL), 0);
        expect_empty(&f, 0xffffffffffff0000ull, 0xe000, LOG_PAGE);
        assert_int_equal(log_stop(&f), 0);
        const uint64_t odd[2] = {0xffffffffffff0001ull, 0x20000};

        assert_int_equal(log_start(&f, LOG_PAGE, top, 1, NULL), 0);
        assert_int_equal(log_stop(&f), 0);
        /* alignment is still checked first */
        assert_int_equal(log_start(&f, LOG_PAGE, odd, 1, NULL), EINVAL);
    }
    fx_close(&f);

    /* start-unaligned-accepted: rounded out to whole logging pages */
    log_setup(&f, VUC_SRV_QUIRK_START_UNALIGNED, false, &fd, &mem);
    {
        const uint64_t odd[2] = {LOG_IOVA + 1, LOG_PAGE};
        const uint64_t wrap[2] = {0xffffffffffffe001ull, 0x1000};

        assert_int_equal(log_start(&f, LOG_PAGE, odd, 1, NULL), 0);
        /* [LOG_IOVA, + 2 pages) is logged: both pages report */
        assert_int_equal(dma_run(&f, LOG_IOVA, 2 * LOG_PAGE, PAT), 0);
        assert_int_equal(log_report(&f, LOG_IOVA, 4 * LOG_PAGE, LOG_PAGE, bm),
                         0);
        assert_int_equal(bm[0], 3);
        assert_int_equal(log_stop(&f), 0);
        /* rounding up to 2^64 wraps: refused as before */
        assert_int_equal(log_start(&f, LOG_PAGE, wrap, 1, NULL), EOVERFLOW);
    }
    log_teardown(&f, fd, mem);

    /* report-bad-page-accepted: 12288 is served at 8192 (and the reply
     * says so); below 4096 it is still refused */
    log_setup(&f, VUC_SRV_QUIRK_REPORT_BAD_PAGE, true, &fd, &mem);
    log_write_all(&f);
    vuc_put_u32(b, 32 + 8);
    vuc_put_u32(b + 4, F_GET | F_LOG_REPORT);
    vuc_put_u64(b + 8, LOG_IOVA);
    vuc_put_u64(b + 16, 64 * LOG_PAGE);
    vuc_put_u64(b + 24, 12288);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 32), 0);
    assert_int_equal(f.rep.payload_len, 40);
    assert_int_equal(vuc_get_u64(pl(&f) + 24), LOG_PAGE);
    assert_int_equal(vuc_get_u64(pl(&f) + 32),
                     1ull | 2ull | 1ull << 5 | 1ull << 63);
    assert_int_equal(log_report(&f, LOG_IOVA, 4096, 3000, bm), EINVAL);
    log_teardown(&f, fd, mem);

    /* stop-keeps-logging: STOP succeeds, REPORT is still served (and
     * logging goes on), a new START finds it busy */
    log_setup(&f, VUC_SRV_QUIRK_STOP_KEEPS_LOGGING, true, &fd, &mem);
    assert_int_equal(log_stop(&f), 0);
    log_write_all(&f);
    expect_report(&f, LOG_IOVA, whole, LOG_PAGE, false);
    assert_int_equal(log_start(&f, LOG_PAGE, r1, 1, NULL), EBUSY);
    log_teardown(&f, fd, mem);

    /* argsz-ignored: a REPORT whose bitmap exceeds argsz is sent whole */
    log_setup(&f, VUC_SRV_QUIRK_ARGSZ_IGNORED, true, &fd, &mem);
    log_write_all(&f);
    vuc_put_u32(b, 32);
    vuc_put_u32(b + 4, F_GET | F_LOG_REPORT);
    vuc_put_u64(b + 8, LOG_IOVA);
    vuc_put_u64(b + 16, 1024 * LOG_PAGE);
    vuc_put_u64(b + 24, LOG_PAGE);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 32), 0);
    assert_int_equal(vuc_get_u32(pl(&f)), 32 + 128);
    assert_int_equal(f.rep.payload_len, 32 + 128);
    log_teardown(&f, fd, mem);
}

/* ---- targeted bugs (--bug) ---- */

static void fx_open_bugs(struct fx *f, uint64_t flags, const char *const *bugs)
{
    struct vuc_srv_opts o;

    vuc_srv_opts_init(&o);
    o.mig_flags = flags;
    o.state_size = FX_STATE;
    for (; *bugs; bugs++)
        assert_int_equal(vuc_srv_bug_parse(*bugs, &o), 0);
    fx_open_opts(f, &o);
}

static void test_bug_table(void **state)
{
    struct vuc_srv_opts o;
    struct vuc_srv *s;
    uint64_t all = 0;

    (void)state;
    for (unsigned i = 0; i < VUC_SRV_BUG_COUNT; i++) {
        assert_non_null(vuc_srv_bug_name(i));
        assert_non_null(vuc_srv_bug_desc(i));
        vuc_srv_opts_init(&o);
        assert_int_equal(vuc_srv_bug_parse(vuc_srv_bug_name(i), &o), 0);
        assert_int_equal(o.bugs, 1ull << i);
        all |= o.bugs;
    }
    assert_int_equal(all, VUC_SRV_BUGS_KNOWN);
    assert_null(vuc_srv_bug_name(VUC_SRV_BUG_COUNT));
    assert_null(vuc_srv_bug_desc(VUC_SRV_BUG_COUNT));

    vuc_srv_opts_init(&o);
    assert_int_equal(vuc_srv_bug_parse("arc=STOP:RUNNING", &o), 0);
    assert_int_equal(o.arcs[ST_STOP], 1u << ST_RUNNING);
    assert_int_equal(vuc_srv_bug_parse("arc=*:ERROR", &o), 0);
    for (unsigned i = 0; i < VUC_SRV_ARC_STATES; i++)
        assert_true(o.arcs[i] & (1u << ST_ERROR));
    assert_int_equal(vuc_srv_bug_parse("arc=ERROR:*", &o), 0);
    assert_int_equal(o.arcs[ST_ERROR], 0xff);
    assert_int_equal(o.bugs, 0);

    static const char *const bad[] = {"",
                                      "nope",
                                      "arc=",
                                      "arc=STOP",
                                      "arc=STOP:",
                                      "arc=:STOP",
                                      "arc=STOP:8",
                                      "arc=STOP:RUNNINGX",
                                      "arc=**:STOP",
                                      "arc=STOP:RUNNING:STOP",
                                      "ARC=STOP:RUNNING"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vuc_srv_opts_init(&o);
        assert_int_equal(vuc_srv_bug_parse(bad[i], &o), -EINVAL);
    }
    assert_int_equal(vuc_srv_bug_parse(NULL, &o), -EINVAL);
    assert_int_equal(vuc_srv_bug_parse("stop-refused", NULL), -EINVAL);

    vuc_srv_opts_init(&o);
    o.bugs = VUC_SRV_BUGS_KNOWN + 1ull;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
}

/* arc=FROM:TO decides exactly that SET the other way. */
static void test_bug_arcs(void **state)
{
    static const char *const flip[] = {"arc=STOP:RUNNING", "arc=RUNNING:ERROR",
                                       "arc=ERROR:STOP", NULL};
    struct fx f;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, flip);
    negotiate(&f);
    /* must be refused: taken, straight to the target */
    assert_int_equal(set_state(&f, ST_ERROR), 0);
    assert_int_equal(state_now(&f), ST_ERROR);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(state_now(&f), ST_STOP);
    /* must succeed: refused, the state kept */
    assert_int_equal(set_state(&f, ST_RUNNING), EINVAL);
    assert_int_equal(state_now(&f), ST_STOP);
    /* every other arc as the spec says */
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(set_state(&f, ST_ERROR), EINVAL);
    assert_int_equal(set_state(&f, ST_RUNNING), 0); /* via STOP: not flipped */
    assert_int_equal(state_now(&f), ST_RUNNING);
    fx_close(&f);
}

/* The bugs of the negotiate, fsm and stream cases. */
static void test_bug_mig(void **state)
{
    static const char *const get8[] = {"get-reads-unsupported", NULL};
    static const char *const minor[] = {"minor-zero-refused", NULL};
    static const char *const odd[] = {"write-odd-size-refused", NULL};
    static const char *const end[] = {"stop-copy-exit-needs-end", NULL};
    static const char *const restart[] = {"precopy-stream-restarts", NULL};
    uint8_t buf[64] = {0}, head[16];
    struct fx f;
    size_t n;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, get8);
    negotiate(&f);
    assert_int_equal(get_state(&f), VUC_STATE_NR);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(get_state(&f), ST_STOP);
    fx_close(&f);

    fx_open_bugs(&f, DEF_FLAGS, minor);
    assert_int_equal(version(&f, 0, 0, NULL), EINVAL);
    negotiate(&f);
    fx_close(&f);

    fx_open_bugs(&f, DEF_FLAGS, odd);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    assert_int_equal(mig_write(&f, buf, 7), EINVAL);
    assert_int_equal(mig_write(&f, buf, 16), 0);
    fx_close(&f);

    fx_open_bugs(&f, DEF_FLAGS, end);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 16, 16, buf, &n), 0);
    assert_int_equal(set_state(&f, ST_STOP), EINVAL);
    assert_int_equal(set_state(&f, ST_RUNNING), EINVAL);
    assert_int_equal(state_now(&f), ST_STOP_COPY);
    assert_int_equal(reset(&f), 0); /* reset still ends it */
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    do
        assert_int_equal(mig_read(&f, 8 + sizeof(buf), sizeof(buf), buf, &n),
                         0);
    while (n == sizeof(buf));
    assert_int_equal(set_state(&f, ST_STOP), 0);
    fx_close(&f);

    /* the STOP_COPY stream begins again with the HEADER PRE_COPY sent */
    fx_open_bugs(&f, DEF_FLAGS, restart);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_PRE_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 16, 16, head, &n), 0);
    assert_int_equal(n, 16);
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    assert_int_equal(mig_read(&f, 8 + 16, 16, buf, &n), 0);
    assert_int_equal(n, 16);
    assert_memory_equal(buf, head, 16);
    fx_close(&f);
}

/* The bugs of the robust cases: success replies, and silence. */
static void test_bug_wire(void **state)
{
    static const char *const lax[] = {
        "short-payload-accepted",         "unknown-command-accepted",
        "argsz-below-min-dropped",        "argsz-huge-dropped",
        "feature-unknown-flags-accepted", NULL};
    uint8_t p[16] = {0};
    struct fx f;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, lax);
    negotiate(&f);
    /* a GET_INFO of 8 bytes (fixed 16): "done", with no payload */
    vuc_put_u32(p, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, p, 8), 0);
    assert_int_equal(f.rep.payload_len, 0);
    assert_int_equal(req(&f, 0x7fff, NULL, 0), 0);
    /* argsz 15 and 0xffffffff: no reply at all */
    vuc_put_u32(p, 15);
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_GET_INFO, VUC_TYPE_COMMAND, p, 16),
                     -EAGAIN);
    vuc_put_u32(p, 0xffffffffu);
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_GET_INFO, VUC_TYPE_COMMAND, p, 16),
                     -EAGAIN);
    /* and the stream goes on */
    vuc_put_u32(p, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, p, 16), 0);
    assert_int_equal(feature(&f, 16, F_GET | FEAT_STATE | (1u << 20), NULL, 0),
                     0);
    fx_close(&f);
}

/* The bugs of the device.*, negotiate.version.first, feature and
 * header cases. */
static void test_bug_device(void **state)
{
    static const char *const dev[] = {"dma-map-overlap-accepted",
                                      "unmap-inexact-accepted",
                                      "device-info-not-pci",
                                      "probe-ignores-methods",
                                      "set-reply-differs",
                                      "errno-invalid",
                                      "reused-id-dropped",
                                      "disconnect-resets-device",
                                      NULL};
    static const char *const early[] = {"command-before-version-served", NULL};
    uint8_t p[16] = {0}, d[8];
    uint16_t id;
    struct fx f;
    int fd;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, early);
    vuc_put_u32(p, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, p, 16), 0);
    fx_close(&f);

    fx_open_bugs(&f, DEF_FLAGS, dev);
    negotiate(&f);
    fd = memfd(0x10000, NULL);
    assert_int_equal(dma_map(&f, 0x100000, 0x10000, DMA_RW, 0, fd), 0);
    assert_int_equal(dma_map(&f, 0x104000, 0x1000, DMA_RW, 0, fd), 0);
    assert_int_equal(dma_unmap(&f, 0x100000, 0x1000), 0);  /* inexact */
    assert_int_equal(dma_unmap(&f, 0x100000, 0x10000), 0); /* still there */
    close(fd);
    /* no PCI flag */
    vuc_put_u32(p, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, p, 16), 0);
    assert_int_equal(vuc_get_u32(pl(&f) + 4) & VUC_DEVICE_FLAGS_PCI, 0);
    /* PROBE|SET of MIGRATION, which has no SET */
    assert_int_equal(
        feature(&f, 8, F_PROBE | F_GET | F_SET | FEAT_MIG, NULL, 0), 0);
    /* SET STOP: the reply's data_fd is 0 */
    vuc_put_u32(d, ST_STOP);
    vuc_put_u32(d + 4, 0xffffffffu);
    assert_int_equal(feature(&f, 16, F_SET | FEAT_STATE, d, 8), 0);
    assert_int_equal(f.rep.payload_len, 16);
    assert_int_equal(vuc_get_u32(pl(&f) + 12), 0);
    /* an error's errno is no errno */
    vuc_put_u32(d, 8);
    assert_int_equal(feature(&f, 16, F_SET | FEAT_STATE, d, 8),
                     EINVAL + 0x10000);
    /* the same id twice in a row: the second is dropped */
    id = f.id;
    f.id = (uint16_t)(id - 1); /* xmit numbers it id again */
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_GET_INFO, VUC_TYPE_COMMAND, p, 16),
                     -EAGAIN);
    /* a disconnect resets the device */
    assert_int_equal(vuc_srv_mig_state(f.s), ST_STOP);
    vuc_srv_disconnect(f.s);
    assert_int_equal(vuc_srv_mig_state(f.s), ST_RUNNING);
    fx_close(&f);
}

/* One save of f's device into s (cap bytes), from RUNNING to STOP. */
static size_t save_all(struct fx *f, uint8_t *s, size_t cap)
{
    size_t n;

    assert_int_equal(set_state(f, ST_STOP_COPY), 0);
    n = read_stream(f, s, cap);
    assert_int_equal(set_state(f, ST_STOP), 0);
    return n;
}

/* The bugs of stream.roundtrip and device.region-read.readable. */
static void test_bug_roundtrip(void **state)
{
    static const char *const discard[] = {"resume-discards-data", NULL};
    static const char *const replay[] = {"save-replays-first-registers", NULL};
    static const char *const config[] = {"config-read-refused", NULL};
    uint8_t *s1 = malloc(4 * STREAM_BUF);
    uint64_t d0;
    size_t n;
    struct fx f;

    (void)state;
    assert_non_null(s1);
    /* the stream is checked whole, then nothing of it is loaded */
    fx_open_bugs(&f, DEF_FLAGS, discard);
    negotiate(&f);
    scribble(&f, 1);
    n = save_all(&f, s1, 4 * STREAM_BUF);
    d0 = digest(&f);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    scribble(&f, 2); /* the device moves on */
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s1, n);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_not_equal(digest(&f), d0);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x1122334455667788ull ^ 2);
    fx_close(&f);

    /* the second stream carries the first one's registers */
    fx_open_bugs(&f, DEF_FLAGS, replay);
    negotiate(&f);
    scribble(&f, 1);
    (void)save_all(&f, s1, 4 * STREAM_BUF);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    scribble(&f, 2);
    n = save_all(&f, s1, 4 * STREAM_BUF);
    d0 = digest(&f);
    assert_int_equal(set_state(&f, ST_RESUMING), 0);
    write_stream(&f, s1, n);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_not_equal(digest(&f), d0);
    assert_int_equal(bar_rd(&f, R_SCRATCH0, 8), 0x1122334455667788ull ^ 1);
    fx_close(&f);

    /* a 0-byte write ends the stream */
    {
        static const char *const z[] = {"write-zero-ends-stream", NULL};
        static const char *const e[] = {"write-reply-echoes", NULL};
        static const uint8_t none[8] = {8};

        fx_open_bugs(&f, DEF_FLAGS, z);
        negotiate(&f);
        n = save_all(&f, s1, 4 * STREAM_BUF);
        assert_int_equal(set_state(&f, ST_RESUMING), 0);
        assert_int_equal(mig_write(&f, s1, 0), 0);
        write_stream(&f, s1, n);
        assert_int_equal(set_state(&f, ST_STOP), EINVAL);
        fx_close(&f);
        /* and a write's reply echoes argsz and size */
        fx_open_bugs(&f, DEF_FLAGS, e);
        negotiate(&f);
        assert_int_equal(set_state(&f, ST_STOP), 0);
        assert_int_equal(set_state(&f, ST_RESUMING), 0);
        assert_int_equal(req(&f, VUC_CMD_MIG_DATA_WRITE, none, 8), 0);
        assert_int_equal(f.rep.payload_len, 8);
        fx_close(&f);
    }

    /* a REGION_READ above the client's proposal of 1024 is served */
    {
        static const char *const l[] = {"limit-ignores-proposal", NULL};

        fx_open_bugs(&f, DEF_FLAGS, l);
        assert_int_equal(
            version(&f, 0, 1,
                    "{\"capabilities\":{\"max_data_xfer_size\":1024}}"),
            0);
        assert_int_equal(region_read(&f, 0, 0, 2048, NULL), 0);
        fx_close(&f);
    }

    /* config space cannot be read; BAR0 can */
    fx_open_bugs(&f, DEF_FLAGS, config);
    negotiate(&f);
    assert_int_equal(region_read(&f, 7, 0, 4, NULL), EINVAL);
    assert_int_equal(bar_rd(&f, 0, 4), 0x54435556u);
    fx_close(&f);
    free(s1);
}

/* start-num-ranges-trusted: num_ranges 2 with one range sent logs it */
static void test_bug_start_num_ranges(void **state)
{
    static const char *const bug[] = {"start-num-ranges-trusted", NULL};
    uint8_t d[32] = {0};
    struct fx f;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, bug);
    negotiate(&f);
    vuc_put_u64(d, 4096);
    vuc_put_u32(d + 8, 2); /* but one range follows */
    vuc_put_u64(d + 16, 0x100000);
    vuc_put_u64(d + 24, 0x10000);
    assert_int_equal(feature(&f, 40, F_SET | 6u, d, 32), 0);
    fx_close(&f);
    /* without it, refused */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(feature(&f, 40, F_SET | 6u, d, 32), EINVAL);
    fx_close(&f);
}

/* info-nonzero-dropped: DEVICE_GET_INFO with a request field set goes
 * unanswered; with all zero it is served */
static void test_bug_info_nonzero(void **state)
{
    static const char *const bug[] = {"info-nonzero-dropped", NULL};
    uint8_t p[16] = {0};
    struct fx f;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, bug);
    negotiate(&f);
    vuc_put_u32(p, 16);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, p, 16), 0);
    vuc_put_u32(p + 12, 5); /* num_irqs */
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_GET_INFO, VUC_TYPE_COMMAND, p, 16),
                     -EAGAIN);
    fx_close(&f);
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, p, 16), 0);
    fx_close(&f);
}

/* Is the file fd names mapped in this process (the server runs in it)? */
static bool self_maps(int fd)
{
    char line[512];
    struct stat st;
    bool found = false;
    FILE *f = fopen("/proc/self/maps", "r");

    assert_non_null(f);
    assert_int_equal(fstat(fd, &st), 0);
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        unsigned long long ino;
        found = sscanf(line, "%*s %*s %*s %*s %llu", &ino) == 1 &&
                ino == (unsigned long long)st.st_ino;
    }
    fclose(f);
    return found;
}

/* unmap-keeps-mapping: the exact unmap succeeds, the memory stays mapped */
static void test_bug_unmap_keeps_mapping(void **state)
{
    static const char *const bug[] = {"unmap-keeps-mapping", NULL};
    struct fx f;
    int fd;

    (void)state;
    for (int with_bug = 0; with_bug < 2; with_bug++) {
        if (with_bug)
            fx_open_bugs(&f, DEF_FLAGS, bug);
        else
            fx_open(&f, DEF_FLAGS, 0);
        negotiate(&f);
        fd = memfd(0x4000, NULL);
        assert_int_equal(dma_map(&f, 0x100000, 0x4000, DMA_RW, 0, fd), 0);
        assert_true(self_maps(fd));
        assert_int_equal(dma_unmap(&f, 0x100000, 0x4000), 0);
        assert_int_equal(self_maps(fd), with_bug);
        fx_close(&f);
        close(fd);
    }
}

/* SET_IRQS: INTx takes an eventfd for TRIGGER, which fires on DATA_NONE
 * and DATA_BOOL triggers and is closed when its client leaves (bug
 * irq-fds-kept: it stays open) */
static uint32_t set_irqs(struct fx *f, uint32_t flags, uint32_t index,
                         uint32_t start, uint32_t count, int fd)
{
    uint8_t b[21] = {0};
    size_t len = (flags & 2u) ? 21 : 20;

    vuc_put_u32(b, (uint32_t)len);
    vuc_put_u32(b + 4, flags);
    vuc_put_u32(b + 8, index);
    vuc_put_u32(b + 12, start);
    vuc_put_u32(b + 16, count);
    b[20] = 1;
    return req_fds(f, VUC_CMD_DEVICE_SET_IRQS, b, len, &fd, fd >= 0 ? 1 : 0);
}

/* The eventfd-id of fd (/proc/self/fdinfo), -1 if none. */
static long eventfd_id(int fd)
{
    char path[64], line[128];
    long id = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "eventfd-id: %ld", &id) == 1)
            break;
    fclose(f);
    return id;
}

/* Is the eventfd behind fd open as another fd too (the server's copy)? */
static bool eventfd_held(int fd)
{
    long id = eventfd_id(fd);

    for (int i = 0; i < 1024; i++)
        if (i != fd && id >= 0 && eventfd_id(i) == id)
            return true;
    return false;
}

static void test_set_irqs(void **state)
{
    static const char *const bug[] = {"irq-fds-kept", NULL};
    uint64_t v = 0;
    struct fx f;
    int efd;

    (void)state;
    for (int with_bug = 0; with_bug < 2; with_bug++) {
        if (with_bug)
            fx_open_bugs(&f, DEF_FLAGS, bug);
        else
            fx_open(&f, DEF_FLAGS, 0);
        negotiate(&f);
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(efd >= 0);
        /* EVENTFD | TRIGGER on INTx; not on MSI (no interrupts) */
        assert_int_equal(set_irqs(&f, 0x24, 1, 0, 1, efd), EINVAL);
        assert_int_equal(set_irqs(&f, 0x24, 0, 0, 1, efd), 0);
        assert_int_equal(set_irqs(&f, 0x21, 0, 0, 1, -1), 0); /* NONE */
        assert_int_equal(read(efd, &v, 8), 8);
        assert_int_equal(v, 1);
        assert_int_equal(set_irqs(&f, 0x22, 0, 0, 1, -1), 0); /* BOOL */
        assert_int_equal(read(efd, &v, 8), 8);
        /* masking is not supported; two data flags are refused */
        assert_int_equal(set_irqs(&f, 0x09, 0, 0, 1, -1), EINVAL);
        assert_int_equal(set_irqs(&f, 0x23, 0, 0, 1, -1), EINVAL);
        if (eventfd_id(efd) >= 0) /* kernels before 6.1 have no id */
            assert_true(eventfd_held(efd));
        vuc_srv_disconnect(f.s);
        if (eventfd_id(efd) >= 0)
            assert_int_equal(eventfd_held(efd), with_bug);
        fx_close(&f);
        close(efd);
    }
}

/* The engine's read run (doorbell 2): DMA_SUM holds the sum of the bytes
 * read, the memory is unchanged, nothing is logged (bug dma-read-logged:
 * the pages read are) */
static void test_dma_read_run(void **state)
{
    static const char *const bug[] = {"dma-read-logged", NULL};
    const uint64_t range[2] = {0x100000, 0x10000};
    uint64_t bm[1], chosen = 0;
    uint8_t *mem;
    struct fx f;
    int fd;

    (void)state;
    for (int with_bug = 0; with_bug < 2; with_bug++) {
        if (with_bug)
            fx_open_bugs(&f, DEF_FLAGS, bug);
        else
            fx_open(&f, DEF_FLAGS, 0);
        negotiate(&f);
        fd = memfd(0x10000, &mem);
        for (size_t i = 0; i < 0x10000; i++)
            mem[i] = (uint8_t)i;
        assert_int_equal(
            dma_map(&f, 0x100000, 0x10000, VUC_DMA_FLAG_READ, 0, fd), 0);
        assert_int_equal(log_start(&f, 4096, range, 1, &chosen), 0);
        bar_wr(&f, R_DMA_ADDR, 0x101000, 8);
        bar_wr(&f, R_DMA_LEN, 0x100, 8);
        bar_wr(&f, R_DMA_DOORBELL, 2, 4);
        assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), 0);
        /* bytes 0..255: 255 * 256 / 2 */
        assert_int_equal(bar_rd(&f, 0x88, 8), 32640);
        assert_int_equal(mem[0x1000], 0);
        assert_int_equal(mem[0x10ff], 0xff);
        /* a write run into read-only memory is refused */
        assert_int_equal(dma_run(&f, 0x101000, 8, PAT), EACCES);
        /* page 1 (of 16) is dirty only with the bug */
        assert_int_equal(log_report(&f, 0x100000, 0x10000, 4096, bm), 0);
        assert_int_equal(bm[0], with_bug ? 2u : 0u);
        fx_close(&f);
        munmap(mem, 0x10000);
        close(fd);
    }
}

/* BAR2's GET_REGION_INFO passes its memfd (bug region-info-extra-fds:
 * twice); the client's mmap of it and REGION_READ/WRITE see one memory */
static void test_bar2_mappable(void **state)
{
    static const char *const bug[] = {"region-info-extra-fds", NULL};
    uint8_t b[32] = {0}, w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t *map;
    struct fx f;

    (void)state;
    for (int with_bug = 0; with_bug < 2; with_bug++) {
        if (with_bug)
            fx_open_bugs(&f, DEF_FLAGS, bug);
        else
            fx_open(&f, DEF_FLAGS, 0);
        negotiate(&f);
        memset(b, 0, sizeof(b));
        vuc_put_u32(b, 32);
        vuc_put_u32(b + 8, 2);
        assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_REGION_INFO, b, 32), 0);
        assert_int_equal(f.rep.nfds, with_bug ? 2 : 1);
        map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f.rep.fds[0],
                   0);
        assert_true(map != MAP_FAILED);
        assert_int_equal(region_write(&f, 2, 64, w, 8), 0);
        assert_memory_equal(map + 64, w, 8);
        map[100] = 0x5a;
        assert_int_equal(region_read(&f, 2, 100, 1, b), 0);
        assert_int_equal(b[0], 0x5a);
        munmap(map, 4096);
        fx_close(&f);
    }
}

/* unknown-command-body-unread: an unknown command's body is read as the
 * next message; without the bug it is skipped with the command */
static void test_bug_unknown_body_unread(void **state)
{
    static const char *const bug[] = {"unknown-command-body-unread", NULL};
    struct vuc_hdr inner = {.id = 0x5e5e,
                            .cmd = VUC_CMD_DEVICE_GET_INFO,
                            .size = 32,
                            .flags = VUC_TYPE_COMMAND};
    uint8_t body[32] = {0};
    struct fx f;

    (void)state;
    vuc_hdr_encode(&inner, body, VUC_HDR_SIZE);
    vuc_put_u32(body + VUC_HDR_SIZE, 16);
    fx_open_bugs(&f, DEF_FLAGS, bug);
    negotiate(&f);
    assert_int_equal(req(&f, 0x7fff, body, sizeof(body)), ENOSYS);
    /* the body was a DEVICE_GET_INFO of its own, and it got a reply */
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), 0);
    assert_int_equal(f.rep.hdr.id, 0x5e5e);
    assert_int_equal(f.rep.hdr.cmd, VUC_CMD_DEVICE_GET_INFO);
    fx_close(&f);
    /* without it, the body goes with the command */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(req(&f, 0x7fff, body, sizeof(body)), ENOSYS);
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), -EAGAIN);
    fx_close(&f);
}

/* report-bitmap-padded: a REPORT bitmap of 61 pages (one word) comes
 * with a second, zero word, and argsz counts it; a small argsz still gets
 * the exact size */
static void test_bug_report_padded(void **state)
{
    static const char *const bug[] = {"report-bitmap-padded", NULL};
    static const uint64_t range[] = {0x100000, 0x100000};
    uint8_t b[32];
    struct fx f;

    (void)state;
    fx_open_bugs(&f, DEF_FLAGS, bug);
    negotiate(&f);
    assert_int_equal(log_start(&f, 4096, range, 1, NULL), 0);
    vuc_put_u32(b, 64);
    vuc_put_u32(b + 4, F_GET | F_LOG_REPORT);
    vuc_put_u64(b + 8, 0x100000);
    vuc_put_u64(b + 16, 61 * 4096);
    vuc_put_u64(b + 24, 4096);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 32), 0);
    assert_int_equal(f.rep.payload_len, 32 + 16);
    assert_int_equal(vuc_get_u32(pl(&f)), 32 + 16);
    assert_int_equal(vuc_get_u64(pl(&f) + 40), 0);
    vuc_put_u32(b, 32); /* no room: the exact size needed */
    assert_int_equal(req(&f, VUC_CMD_DEVICE_FEATURE, b, 32), 0);
    assert_int_equal(f.rep.payload_len, 32);
    assert_int_equal(vuc_get_u32(pl(&f)), 32 + 8);
    fx_close(&f);
    /* without it, one word */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(log_start(&f, 4096, range, 1, NULL), 0);
    assert_int_equal(log_report(&f, 0x100000, 61 * 4096, 4096, NULL), 0);
    fx_close(&f);
}

/* report-one-mapping / report-unlogged-dirty: two adjacent mappings
 * logged as one range; a REPORT across them, and one running past them */
static void test_bug_report_mappings(void **state)
{
    static const char *const one[] = {"report-one-mapping", NULL};
    static const char *const unl[] = {"report-unlogged-dirty", NULL};
    const char *const *bugs[] = {one, unl, NULL};
    static const uint64_t range[] = {0x100000, 0x20000};
    uint64_t w[1];
    struct fx f;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        int fd0 = memfd(0x10000, NULL), fd1 = memfd(0x10000, NULL);

        if (bugs[i])
            fx_open_bugs(&f, DEF_FLAGS, bugs[i]);
        else
            fx_open(&f, DEF_FLAGS, 0);
        negotiate(&f);
        assert_int_equal(dma_map(&f, 0x100000, 0x10000, DMA_RW, 0, fd0), 0);
        assert_int_equal(dma_map(&f, 0x110000, 0x10000, DMA_RW, 0, fd1), 0);
        assert_int_equal(log_start(&f, 4096, range, 1, NULL), 0);
        /* pages 8 to 23: across the two mappings */
        w[0] = 1;
        assert_int_equal(log_report(&f, 0x108000, 0x10000, 4096, w),
                         i == 0 ? EINVAL : 0);
        if (i != 0)
            assert_int_equal(w[0], 0);
        /* pages 24 to 39: the last 8 logged, 8 past every range */
        w[0] = 1;
        assert_int_equal(log_report(&f, 0x118000, 0x10000, 4096, w),
                         i == 0 ? EINVAL : 0);
        if (i == 1)
            assert_int_equal(w[0], 0xff00);
        if (i == 2)
            assert_int_equal(w[0], 0);
        fx_close(&f);
        close(fd0);
        close(fd1);
    }
}

/* max-msg-no-room: a MIG_DATA_WRITE of exactly the negotiated 1 MiB is
 * refused (its message is 1 MiB + 24 bytes); one 24 bytes shorter is not */
static void test_bug_max_msg_no_room(void **state)
{
    static const char *const bug[] = {"max-msg-no-room", NULL};
    const uint32_t mib = 1u << 20;
    uint8_t *data = calloc(1, mib);
    struct fx f;

    (void)state;
    assert_non_null(data);
    for (int with = 1; with >= 0; with--) {
        if (with)
            fx_open_bugs(&f, DEF_FLAGS, bug);
        else
            fx_open(&f, DEF_FLAGS, 0);
        negotiate(&f);
        assert_int_equal(set_state(&f, ST_STOP), 0);
        assert_int_equal(set_state(&f, ST_RESUMING), 0);
        assert_int_equal(mig_write(&f, data, mib - 24), 0);
        assert_int_equal(mig_write(&f, data, mib), with ? EINVAL : 0);
        fx_close(&f);
    }
    free(data);
}

/* limit-echoes-proposal: a proposal of 2^32 - 1 is announced back, but a
 * read above the server's own 1 MiB is still refused; a proposal below
 * the server's own is answered as usual */
static void test_bug_limit_echoes(void **state)
{
    static const char *const bug[] = {"limit-echoes-proposal", NULL};
    static const char huge[] =
        "{\"capabilities\":{\"max_data_xfer_size\":4294967295}}";
    struct vuc_caps caps;
    size_t n;
    struct fx f;

    (void)state;
    for (int with = 1; with >= 0; with--) {
        if (with)
            fx_open_bugs(&f, DEF_FLAGS, bug);
        else
            fx_open(&f, DEF_FLAGS, 0);
        assert_int_equal(version(&f, 0, 1, huge), 0);
        vuc_caps_defaults(&caps);
        assert_int_equal(vuc_caps_parse((const char *)pl(&f) + 4,
                                        f.rep.payload_len - 5, &caps),
                         0);
        assert_int_equal(caps.max_data_xfer_size,
                         with ? 4294967295ull : 1048576ull);
        assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
        assert_int_equal(mig_read(&f, 8 + (2u << 20), 2u << 20, NULL, &n),
                         EINVAL);
        fx_close(&f);
    }
    fx_open_bugs(&f, DEF_FLAGS, bug);
    assert_int_equal(
        version(&f, 0, 1, "{\"capabilities\":{\"max_data_xfer_size\":4096}}"),
        0);
    vuc_caps_defaults(&caps);
    assert_int_equal(
        vuc_caps_parse((const char *)pl(&f) + 4, f.rep.payload_len - 5, &caps),
        0);
    assert_int_equal(caps.max_data_xfer_size, 4096);
    fx_close(&f);
}

/* --require-arm: a device with a precondition (profiles/vucert-server-
 * arm.json says what it needs). */
static void test_require_arm(void **state)
{
    struct vuc_srv_opts o;
    struct fx f;

    (void)state;
    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.require_arm = true;
    fx_open_opts(&f, &o);
    negotiate(&f);
    assert_int_equal(set_state(&f, ST_STOP), 0);
    assert_int_equal(set_state(&f, ST_RUNNING), EBUSY);
    assert_int_equal(state_now(&f), ST_STOP);
    bar_wr(&f, 0x4c, 1, 4); /* in STOP too */
    assert_int_equal(bar_rd(&f, 0x4c, 4), 1);
    assert_int_equal(set_state(&f, ST_RUNNING), 0);
    assert_int_equal(bar_rd(&f, 0x4c, 4), 0);       /* the SET took it */
    assert_int_equal(set_state(&f, ST_RUNNING), 0); /* no transition */
    assert_int_equal(set_state(&f, ST_STOP_COPY), 0);
    bar_wr(&f, 0x4c, 1, 4);
    assert_int_equal(set_state(&f, ST_RUNNING), 0); /* a combination path */
    fx_close(&f);

    /* without the option ARM reads 0 and ignores writes */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    bar_wr(&f, 0x4c, 1, 4);
    assert_int_equal(bar_rd(&f, 0x4c, 4), 0);
    fx_close(&f);
}

/* feature-short-data-accepted: request data below the fixed part of its
 * feature and method is "done" (the request echoed) and nothing happens;
 * whole requests, and a GET that carries no data, are served as usual */
static void test_bug_feature_short_data(void **state)
{
    static const char *const bug[] = {"feature-short-data-accepted", NULL};
    uint8_t d[24] = {0};
    struct fx f;

    (void)state;
    for (int on = 0; on < 2; on++) {
        fx_open_bugs(&f, DEF_FLAGS, on ? bug : bug + 1);
        negotiate(&f);
        /* SET STOP cut to 4 of its 8 bytes: the state stays RUNNING */
        vuc_put_u32(d, ST_STOP);
        assert_int_equal(feature(&f, 12, F_SET | FEAT_STATE, d, 4),
                         on ? 0 : EINVAL);
        if (on) {
            assert_int_equal(f.rep.payload_len, 12);
            assert_int_equal(vuc_get_u32(pl(&f)), 12);
            assert_memory_equal(pl(&f) + 8, d, 4);
        }
        assert_int_equal(state_now(&f), ST_RUNNING);
        /* LOGGING_START cut to 8 of its 16 bytes: nothing is logged, so
         * a LOGGING_STOP has nothing to stop */
        memset(d, 0, sizeof(d));
        vuc_put_u64(d, 4096);
        assert_int_equal(
            feature(&f, 16, F_SET | VUC_FEATURE_DMA_LOGGING_START, d, 8),
            on ? 0 : EINVAL);
        assert_int_equal(
            feature(&f, 8, F_SET | VUC_FEATURE_DMA_LOGGING_STOP, NULL, 0),
            EINVAL);
        /* LOGGING_REPORT (a GET with data) cut to 16 of its 24 bytes */
        vuc_put_u64(d + 8, 4096);
        assert_int_equal(
            feature(&f, 24, F_GET | VUC_FEATURE_DMA_LOGGING_REPORT, d, 16),
            on ? 0 : EINVAL);
        /* a GET that carries no data: argsz 8 is still refused */
        assert_int_equal(feature(&f, 8, F_GET | FEAT_MIG, NULL, 0), EINVAL);
        /* and the whole SET is served */
        assert_int_equal(set_state(&f, ST_STOP), 0);
        assert_int_equal(state_now(&f), ST_STOP);
        fx_close(&f);
    }
}

/* ---- the quirks written for robust.* cases ---- */

static void test_quirk_wire(void **state)
{
    uint8_t raw[16] = {0}, info[16] = {0}, three[3 * 32];
    struct fx f;

    (void)state;
    vuc_put_u32(info, 16);
    /* short-size-ignored: no reply, no close, and nothing more is read
     * until the client goes */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_SHORT_SIZE_IGNORED);
    negotiate(&f);
    vuc_put_u16(raw + 2, VUC_CMD_DEVICE_RESET);
    vuc_put_u32(raw + 4, 8);
    assert_int_equal(vuc_conn_send_raw(f.cli, raw, 16, NULL, 0, 0), 0);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), -EAGAIN);
    assert_true(vuc_srv_negotiated(f.s));
    assert_int_equal(
        xmit(&f, VUC_CMD_DEVICE_GET_INFO, VUC_TYPE_COMMAND, info, 16), -EAGAIN);
    assert_int_equal(f.serve_rc, -EAGAIN);
    vuc_srv_disconnect(f.s); /* a new client is heard again */
    vuc_conn_close(f.cli);
    vuc_conn_close(f.srv);
    assert_int_equal(vuc_mem_pair(&f.cli, &f.srv), 0);
    negotiate(&f);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, info, 16), 0);
    fx_close(&f);

    /* reply-type-ignored: a Reply for DEVICE_RESET is dropped and the
     * connection goes on */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_REPLY_TYPE_IGNORED);
    negotiate(&f);
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_RESET, VUC_TYPE_REPLY, NULL, 0),
                     -EAGAIN);
    assert_int_equal(f.serve_rc, -EAGAIN);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, info, 16), 0);
    fx_close(&f);

    /* error-flag-ignored: a request with the Error flag gets nothing (the
     * clean server answers it as usual) */
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_GET_INFO,
                          VUC_TYPE_COMMAND | VUC_FLAG_ERROR, info, 16),
                     0);
    assert_int_equal(check_reply(&f, VUC_CMD_DEVICE_GET_INFO), 0);
    fx_close(&f);
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_ERROR_FLAG_IGNORED);
    negotiate(&f);
    assert_int_equal(xmit(&f, VUC_CMD_DEVICE_GET_INFO,
                          VUC_TYPE_COMMAND | VUC_FLAG_ERROR, info, 16),
                     -EAGAIN);
    assert_int_equal(f.serve_rc, -EAGAIN);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, info, 16), 0);
    fx_close(&f);

    /* pipeline-drops: of three requests read together only the first is
     * answered; the next one alone is answered again */
    fx_open(&f, DEF_FLAGS, VUC_SRV_QUIRK_PIPELINE_DROPS);
    negotiate(&f);
    for (int i = 0; i < 3; i++) {
        struct vuc_hdr h = {.id = (uint16_t)(0x100 + i),
                            .cmd = VUC_CMD_DEVICE_GET_INFO,
                            .size = 32,
                            .flags = VUC_TYPE_COMMAND};

        vuc_hdr_encode(&h, three + 32 * i, 16);
        memcpy(three + 32 * i + 16, info, 16);
    }
    assert_int_equal(vuc_conn_send_raw(f.cli, three, sizeof(three), NULL, 0, 0),
                     0);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), -EAGAIN);
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), 0);
    assert_int_equal(f.rep.hdr.id, 0x100);
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), -EAGAIN);
    assert_int_equal(req(&f, VUC_CMD_DEVICE_GET_INFO, info, 16), 0);
    fx_close(&f);
}

/* A server with quirks q on a socket, in a child process. */
static pid_t loop_start(const char *path, uint64_t q)
{
    pid_t pid;

    unlink(path);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct vuc_srv_opts o;
        struct vuc_srv *s;
        int rc;

        vuc_srv_opts_init(&o);
        o.quirks = q;
        rc = vuc_srv_new(&o, &s);
        if (rc == 0)
            rc = vuc_srv_run(s, path);
        vuc_srv_free(s);
        _exit(rc == 0 ? 0 : 1);
    }
    return pid;
}

static void loop_stop(pid_t pid, const char *path)
{
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 5000), 0);
    unlink(path);
}

static int count_pid_fds(pid_t pid)
{
    char dir[64];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* A client that negotiates and leaves; the server has seen it go once a
 * second client is served. */
static void client_visit(const char *path)
{
    struct vuc_conn *c;

    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    version_over(c);
    vuc_conn_close(c);
}

/* The connection is closed by the server: recv sees the end. */
static void expect_closed(struct vuc_conn *c)
{
    struct vuc_msg m;
    int rc = vuc_conn_recv(c, &m, 5000);

    assert_true(rc == -ECONNRESET || rc == -EPIPE);
    vuc_msg_release(&m);
}

static void test_quirk_loop(void **state)
{
    static const uint8_t v[4] = {0, 0, 1, 0};
    struct vuc_hdr h = {.id = 9, .cmd = VUC_CMD_VERSION, .size = 20};
    uint8_t hb[20];
    char path[108];
    struct vuc_conn *c;
    pid_t pid;
    int before, after;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/vucert-test-quirk-%d.sock",
             (int)getpid());
    vuc_hdr_encode(&h, hb, 16);
    memcpy(hb + 16, v, 4);

    /* leak-fd-per-connection: one fd more per client (none without).
     * Each count is taken while a client is being served, so exactly one
     * client socket is open then; 6 clients are accepted in between. */
    for (int leak = 0; leak < 2; leak++) {
        pid = loop_start(path, leak ? VUC_SRV_QUIRK_LEAK_FD : 0);
        client_visit(path);
        assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
        version_over(c);
        before = count_pid_fds(pid);
        vuc_conn_close(c);
        for (int i = 0; i < 5; i++)
            client_visit(path);
        assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
        version_over(c);
        after = count_pid_fds(pid);
        vuc_conn_close(c);
        assert_int_equal(after - before, leak ? 6 : 0);
        loop_stop(pid, path);
    }

    /* partial-message-dropped: a client silent mid-message is dropped; a
     * message whose rest follows at once is served */
    pid = loop_start(path, VUC_SRV_QUIRK_PARTIAL_DROPPED);
    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    assert_int_equal(vuc_conn_send_raw(c, hb, 10, NULL, 0, 1000), 0);
    assert_int_equal(vuc_conn_send_raw(c, hb + 10, 10, NULL, 0, 1000), 0);
    {
        struct vuc_msg m;

        assert_int_equal(vuc_conn_recv(c, &m, 5000), 0);
        assert_int_equal(m.hdr.id, 9);
        vuc_msg_release(&m);
    }
    assert_int_equal(vuc_conn_send_raw(c, hb, 3, NULL, 0, 1000), 0);
    usleep(100000);
    expect_closed(c);
    vuc_conn_close(c);
    client_visit(path); /* and the next client is served */
    loop_stop(pid, path);

    /* refuse-after-partial: after a client that left mid-message, the
     * next is closed at once, the one after is served */
    pid = loop_start(path, VUC_SRV_QUIRK_REFUSE_AFTER_PARTIAL);
    client_visit(path); /* leaving at a message boundary changes nothing */
    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    version_over(c);
    assert_int_equal(vuc_conn_send_raw(c, hb, 10, NULL, 0, 1000), 0);
    usleep(50000);
    vuc_conn_close(c);
    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    (void)vuc_conn_send_raw(c, hb, 20, NULL, 0, 1000); /* may see EPIPE */
    expect_closed(c);
    vuc_conn_close(c);
    client_visit(path);
    client_visit(path);
    loop_stop(pid, path);
}

/* Quirk hang-on-zero-read: a MIG_DATA_READ of 0 bytes, in any state,
 * and the server answers nothing more, ignores SIGTERM, and dies only of
 * SIGKILL. A read of 8 bytes before it is refused as usual (RUNNING). */
static void test_quirk_hang(void **state)
{
    struct vuc_hdr h = {.id = 20, .cmd = VUC_CMD_MIG_DATA_READ};
    uint8_t rd[16] = {0};
    char path[108];
    struct vuc_conn *c;
    struct vuc_msg m;
    int status;
    pid_t pid;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/vucert-test-hang-%d.sock",
             (int)getpid());
    pid = loop_start(path, VUC_SRV_QUIRK_HANG_ON_ZERO_READ);
    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    version_over(c);
    vuc_put_u32(rd, 16);
    vuc_put_u32(rd + 4, 8);
    assert_int_equal(vuc_conn_send(c, &h, rd, 8, NULL, 0, 1000), 0);
    assert_int_equal(vuc_conn_recv(c, &m, 5000), 0);
    assert_int_equal(m.hdr.id, 20);
    assert_int_equal(m.hdr.flags, VUC_TYPE_REPLY | VUC_FLAG_ERROR);
    assert_int_equal(m.hdr.error, EINVAL);
    vuc_msg_release(&m);
    /* size 0: no reply, and nothing after it is read */
    h.id = 21;
    vuc_put_u32(rd + 4, 0);
    assert_int_equal(vuc_conn_send(c, &h, rd, 8, NULL, 0, 1000), 0);
    h.id = 22;
    h.cmd = VUC_CMD_DEVICE_GET_INFO;
    assert_int_equal(vuc_conn_send(c, &h, rd, 16, NULL, 0, 1000), 0);
    assert_int_equal(vuc_conn_recv(c, &m, 300), -ETIMEDOUT);
    /* SIGTERM stays pending; SIGKILL ends it */
    kill(pid, SIGTERM);
    usleep(200000);
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    vuc_conn_close(c);
    unlink(path); /* a killed server leaves its socket */
}

/* Quirk exit-after-client: the server exits 0 and removes its socket
 * when its first client goes, however it went. */
static void test_quirk_exit_after_client(void **state)
{
    static const uint8_t bad_major[4] = {1, 0, 0, 0};
    struct vuc_hdr h = {.id = 3, .cmd = VUC_CMD_VERSION};
    char path[108];
    struct vuc_conn *c;
    struct stat st;
    pid_t pid;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/vucert-test-exit-%d.sock",
             (int)getpid());
    for (int how = 0; how < 3; how++) {
        pid = loop_start(path, VUC_SRV_QUIRK_EXIT_AFTER_CLIENT);
        if (how == 0) {
            client_visit(path); /* negotiates, then closes */
        } else {
            assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
            if (how == 2) {
                struct vuc_msg m;

                /* dropped by the server after its EINVAL: a major it
                 * does not speak */
                assert_int_equal(
                    vuc_conn_send(c, &h, bad_major, 4, NULL, 0, 1000), 0);
                assert_int_equal(vuc_conn_recv(c, &m, 5000), 0);
                assert_int_equal(m.hdr.error, EINVAL);
                vuc_msg_release(&m);
                expect_closed(c);
            }
            vuc_conn_close(c); /* how 1: without a message */
        }
        assert_int_equal(wait_exit(pid, 5000), 0);
        assert_int_equal(stat(path, &st), -1);
        assert_int_equal(errno, ENOENT);
    }
}

/* As loop_start, with the child's stderr into a pipe (*err, the reading
 * end) and no core file when it aborts. */
static pid_t loop_start_err(const char *path, uint64_t q, int *err)
{
    int p[2];
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        struct vuc_srv_opts o;
        struct vuc_srv *s;
        int rc;

        (void)setrlimit(RLIMIT_CORE, &no_core);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        vuc_srv_opts_init(&o);
        o.quirks = q;
        rc = vuc_srv_new(&o, &s);
        if (rc == 0)
            rc = vuc_srv_run(s, path);
        vuc_srv_free(s);
        _exit(rc == 0 ? 0 : 1);
    }
    close(p[1]);
    *err = p[0];
    return pid;
}

/* Everything a child wrote to the pipe fd (closed), as a string. */
static void read_err(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t k;

    while (n + 1 < cap && (k = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = 0;
    close(fd);
}

/* The child died of SIGABRT. */
static void expect_abort(pid_t pid)
{
    pid_t r = 0;
    int status = 0;

    for (int i = 0; i < 500 && (r = waitpid(pid, &status, WNOHANG)) == 0; i++)
        usleep(10000);
    if (r != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    assert_int_equal(r, pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Quirk crash-loop: the first client is served, the second connection
 * aborts the server and leaves PATH.crashed; a restart then aborts before
 * it creates the socket, until the marker is gone. */
static void test_quirk_crash_loop(void **state)
{
    char path[108], marker[128], err[512], want[256];
    struct vuc_conn *c;
    struct stat st;
    int efd;
    pid_t pid;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/vucert-test-crash-%d.sock",
             (int)getpid());
    snprintf(marker, sizeof(marker), "%s.crashed", path);
    unlink(path);
    unlink(marker);
    pid = loop_start_err(path, VUC_SRV_QUIRK_CRASH_LOOP, &efd);
    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    version_over(c);
    vuc_conn_close(c);
    assert_int_equal(stat(marker, &st), -1);
    assert_int_equal(vuc_unix_connect(path, 5000, &c), 0);
    expect_closed(c);
    vuc_conn_close(c);
    expect_abort(pid);
    read_err(efd, err, sizeof(err));
    assert_string_equal(
        err, "vucert-server: crash-loop quirk: Assertion 'state_ok' failed\n");
    assert_int_equal(stat(marker, &st), 0);

    /* the crash left the socket file; the restart makes no new one */
    assert_int_equal(stat(path, &st), 0);
    unlink(path);
    pid = loop_start_err(path, VUC_SRV_QUIRK_CRASH_LOOP, &efd);
    expect_abort(pid);
    read_err(efd, err, sizeof(err));
    snprintf(want, sizeof(want),
             "vucert-server: crash-loop quirk: stale %s from an earlier "
             "crash\n",
             marker);
    assert_string_equal(err, want);
    assert_int_equal(stat(path, &st), -1);

    /* without the marker it starts, and serves a first client again */
    unlink(marker);
    pid = loop_start(path, VUC_SRV_QUIRK_CRASH_LOOP);
    client_visit(path);
    loop_stop(pid, path);
    assert_int_equal(stat(marker, &st), -1);
}

/* ---- chaos modes (README.md: Chaos modes) ---- */

static void test_chaos_table(void **state)
{
    struct vuc_srv_opts o;
    struct vuc_srv *s;
    uint32_t m = 99;

    (void)state;
    assert_null(vuc_srv_chaos_name(0));
    assert_null(vuc_srv_chaos_name(VUC_SRV_CHAOS_COUNT));
    assert_null(vuc_srv_chaos_desc(VUC_SRV_CHAOS_COUNT));
    for (unsigned i = 1; i < VUC_SRV_CHAOS_COUNT; i++) {
        assert_non_null(vuc_srv_chaos_name(i));
        assert_non_null(vuc_srv_chaos_desc(i));
        assert_int_equal(vuc_srv_chaos_parse(vuc_srv_chaos_name(i), &m), 0);
        assert_int_equal(m, i);
    }
    assert_string_equal(vuc_srv_chaos_name(VUC_SRV_CHAOS_SLOW_DRIP),
                        "slow-drip");
    assert_int_equal(vuc_srv_chaos_parse("none", &m), 0);
    assert_int_equal(m, VUC_SRV_CHAOS_NONE);
    assert_int_equal(vuc_srv_chaos_parse("Slow-drip", &m), -EINVAL);
    assert_int_equal(vuc_srv_chaos_parse(NULL, &m), -EINVAL);
    vuc_srv_opts_init(&o);
    assert_int_equal(o.chaos, VUC_SRV_CHAOS_NONE);
    o.chaos = VUC_SRV_CHAOS_COUNT;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    assert_null(s);
    o.chaos = VUC_SRV_CHAOS_COUNT - 1;
    assert_int_equal(vuc_srv_new(&o, &s), 0);
    vuc_srv_free(s);
}

/* ---- planted defects (README.md: Planted defects) ---- */

static void test_plant_table(void **state)
{
    struct vuc_srv_opts o;
    struct vuc_srv *s;
    uint32_t bit = 0, all = 0;

    (void)state;
    for (unsigned i = 0; i < VUC_SRV_PLANT_COUNT; i++) {
        assert_non_null(vuc_srv_plant_name(i));
        assert_non_null(vuc_srv_plant_desc(i));
        assert_int_equal(vuc_srv_plant_parse(vuc_srv_plant_name(i), &bit), 0);
        assert_int_equal(bit, 1u << i);
        all |= bit;
    }
    assert_int_equal(all, VUC_SRV_PLANTS_KNOWN);
    assert_null(vuc_srv_plant_name(VUC_SRV_PLANT_COUNT));
    assert_null(vuc_srv_plant_desc(VUC_SRV_PLANT_COUNT));
    assert_int_equal(vuc_srv_plant_parse("overread", &bit), 0);
    assert_int_equal(bit, VUC_SRV_PLANT_OVERREAD);
    assert_int_equal(vuc_srv_plant_parse("leak", &bit), 0);
    assert_int_equal(bit, VUC_SRV_PLANT_LEAK);
    assert_int_equal(vuc_srv_plant_parse("abort-sequence", &bit), 0);
    assert_int_equal(bit, VUC_SRV_PLANT_ABORT_SEQUENCE);
    assert_int_equal(vuc_srv_plant_parse("Leak", &bit), -EINVAL);
    assert_int_equal(vuc_srv_plant_parse("", &bit), -EINVAL);
    assert_int_equal(vuc_srv_plant_parse(NULL, &bit), -EINVAL);
    vuc_srv_opts_init(&o);
    assert_int_equal(o.plants, 0);
    o.plants = 1u << VUC_SRV_PLANT_COUNT;
    assert_int_equal(vuc_srv_new(&o, &s), -EINVAL);
    assert_null(s);
    o.plants = VUC_SRV_PLANTS_KNOWN;
    assert_int_equal(vuc_srv_new(&o, &s), 0);
    vuc_srv_free(s);
}

/* The raw bytes a chaos server sends, over a socketpair (the server
 * side wrapped in a vuc_conn), so cut-short replies can be seen. */
struct chaos_fx {
    struct vuc_srv *s;
    struct vuc_conn *srv;
    int cli; /* raw client end, non-blocking reads */
    uint16_t id;
};

static void chaos_open(struct chaos_fx *f, uint32_t mode, uint32_t every,
                       uint16_t cmd)
{
    struct vuc_srv_opts o;
    int sv[2];

    vuc_srv_opts_init(&o);
    o.state_size = FX_STATE;
    o.chaos = mode;
    o.chaos_every = every;
    o.chaos_cmd = cmd;
    memset(f, 0, sizeof(*f));
    assert_int_equal(vuc_srv_new(&o, &f->s), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(vuc_conn_from_fd(sv[0], &f->srv), 0);
    f->cli = sv[1];
}

static void chaos_close(struct chaos_fx *f)
{
    vuc_conn_close(f->srv);
    close(f->cli);
    vuc_srv_free(f->s);
}

/* Send a request; the server handles it; returns vuc_srv_serve's code. */
static int chaos_req(struct chaos_fx *f, uint16_t cmd, const void *p,
                     size_t len)
{
    uint8_t b[128];

    assert_true(len + VUC_HDR_SIZE <= sizeof(b));
    vuc_put_u16(b, ++f->id);
    vuc_put_u16(b + 2, cmd);
    vuc_put_u32(b + 4, (uint32_t)(VUC_HDR_SIZE + len));
    vuc_put_u32(b + 8, VUC_TYPE_COMMAND);
    vuc_put_u32(b + 12, 0);
    if (len)
        memcpy(b + VUC_HDR_SIZE, p, len);
    assert_int_equal(write(f->cli, b, VUC_HDR_SIZE + len),
                     (ssize_t)(VUC_HDR_SIZE + len));
    return vuc_srv_serve(f->s, f->srv, 0);
}

/* Every byte the server has sent so far (-1: it closed, with none). */
static ssize_t chaos_read(struct chaos_fx *f, uint8_t *out, size_t cap)
{
    ssize_t n = recv(f->cli, out, cap, MSG_DONTWAIT);

    if (n < 0) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    return n == 0 ? -1 : n;
}

static void chaos_negotiate(struct chaos_fx *f)
{
    const uint8_t v[4] = {0, 0, 1, 0};
    uint8_t b[64];

    assert_int_equal(chaos_req(f, VUC_CMD_VERSION, v, 4), -EAGAIN);
    assert_int_equal(chaos_read(f, b, sizeof(b)), 20); /* never mangled */
    assert_int_equal(vuc_get_u16(b), f->id);
    assert_int_equal(vuc_get_u32(b + 4), 20);
    assert_int_equal(vuc_get_u32(b + 8), VUC_TYPE_REPLY);
}

static const uint8_t get_info[16] = {16};

static void test_chaos_modes(void **state)
{
    struct chaos_fx f;
    uint8_t b[256];
    ssize_t n;

    (void)state;
    for (uint32_t mode = 1; mode < VUC_SRV_CHAOS_COUNT; mode++) {
        chaos_open(&f, mode, 0, 0);
        /* before VERSION: a normal error reply */
        assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                         -EAGAIN);
        assert_int_equal(chaos_read(&f, b, sizeof(b)), 16);
        assert_int_equal(vuc_get_u32(b + 8), VUC_TYPE_REPLY | VUC_FLAG_ERROR);
        chaos_negotiate(&f);
        n = 0;
        switch (mode) {
        case VUC_SRV_CHAOS_CLOSE_MID_REPLY:
            /* the header and half the 16-byte payload, then closed */
            assert_int_equal(
                chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                -ECONNABORTED);
            assert_int_equal(chaos_read(&f, b, sizeof(b)), 24);
            assert_int_equal(vuc_get_u32(b + 4), 32);
            assert_false(vuc_srv_negotiated(f.s)); /* disconnected */
            chaos_close(&f);
            continue;
        default:
            assert_int_equal(
                chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16), -EAGAIN);
            n = chaos_read(&f, b, sizeof(b));
        }
        switch (mode) {
        case VUC_SRV_CHAOS_TRUNCATED_REPLY:
            assert_int_equal(n, 24);
            assert_int_equal(vuc_get_u32(b + 4), 32); /* declared in full */
            break;
        case VUC_SRV_CHAOS_WRONG_MESSAGE_ID:
            assert_int_equal(n, 32);
            assert_int_equal(vuc_get_u16(b), f.id + 1);
            break;
        case VUC_SRV_CHAOS_REPLY_NEVER_SENT:
            assert_int_equal(n, 0);
            break;
        case VUC_SRV_CHAOS_OVERSIZED_MSG_SIZE:
            assert_int_equal(n, 24);
            assert_int_equal(vuc_get_u16(b), f.id);
            assert_int_equal(vuc_get_u32(b + 4), VUC_SRV_CHAOS_OVERSIZE);
            assert_int_equal(vuc_get_u32(b + 16), 16); /* payload's argsz */
            break;
        case VUC_SRV_CHAOS_GARBAGE_BYTES:
            assert_int_equal(n, VUC_SRV_CHAOS_GARBAGE_LEN);
            break;
        case VUC_SRV_CHAOS_ERROR_FLAG_WITH_PAYLOAD:
            assert_int_equal(n, 32);
            assert_int_equal(vuc_get_u32(b + 4), 32);
            assert_int_equal(vuc_get_u32(b + 8),
                             VUC_TYPE_REPLY | VUC_FLAG_ERROR);
            assert_int_equal(vuc_get_u32(b + 12), EINVAL);
            assert_int_equal(vuc_get_u32(b + 24), 9); /* num_regions */
            break;
        case VUC_SRV_CHAOS_SLOW_DRIP:
            assert_int_equal(n, 32); /* all of it, in the end */
            assert_int_equal(vuc_get_u16(b), f.id);
            assert_int_equal(vuc_get_u32(b + 8), VUC_TYPE_REPLY);
            break;
        default:
            fail();
        }
        /* a reply without payload: DEVICE_RESET */
        assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_RESET, NULL, 0), -EAGAIN);
        n = chaos_read(&f, b, sizeof(b));
        switch (mode) {
        case VUC_SRV_CHAOS_TRUNCATED_REPLY:
        case VUC_SRV_CHAOS_OVERSIZED_MSG_SIZE:
        case VUC_SRV_CHAOS_GARBAGE_BYTES:
        case VUC_SRV_CHAOS_REPLY_NEVER_SENT:
            assert_int_equal(n, 0); /* silent, or (never-sent) unanswered */
            break;
        case VUC_SRV_CHAOS_ERROR_FLAG_WITH_PAYLOAD:
            assert_int_equal(n, 24); /* 8 bytes of junk under the error */
            break;
        default:
            assert_int_equal(n, 16);
        }
        /* the next client starts afresh */
        vuc_srv_disconnect(f.s);
        assert_int_equal(chaos_read(&f, b, sizeof(b)), 0);
        chaos_close(&f);
    }
}

static void test_chaos_choice(void **state)
{
    const uint8_t mig_get[8] = {16, 0, 0, 0, 1, 0, 1, 0}; /* feature 1 GET */
    struct chaos_fx f;
    uint8_t b[64];

    (void)state;
    /* every 3rd reply after VERSION, counted per connection */
    chaos_open(&f, VUC_SRV_CHAOS_WRONG_MESSAGE_ID, 3, 0);
    chaos_negotiate(&f);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                         -EAGAIN);
        assert_int_equal(chaos_read(&f, b, sizeof(b)), 32);
        assert_int_equal(vuc_get_u16(b), f.id + (i % 3 == 0));
    }
    /* a request with No_reply gets nothing and does not count */
    vuc_put_u16(b, ++f.id);
    vuc_put_u16(b + 2, VUC_CMD_DEVICE_GET_INFO);
    vuc_put_u32(b + 4, 32);
    vuc_put_u32(b + 8, VUC_FLAG_NO_REPLY);
    vuc_put_u32(b + 12, 0);
    memcpy(b + 16, get_info, 16);
    assert_int_equal(write(f.cli, b, 32), 32);
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 0);
    assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                     -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 32);
    assert_int_equal(vuc_get_u16(b), f.id + 1); /* the 6th counted */
    vuc_srv_disconnect(f.s);
    chaos_negotiate(&f);
    assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                     -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 32);
    assert_int_equal(vuc_get_u16(b), f.id); /* the count starts again */
    chaos_close(&f);

    /* only DEVICE_FEATURE replies */
    chaos_open(&f, VUC_SRV_CHAOS_REPLY_NEVER_SENT, 0, VUC_CMD_DEVICE_FEATURE);
    chaos_negotiate(&f);
    assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                     -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 32);
    assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_FEATURE, mig_get, 8),
                     -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 0);
    assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                     -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 32);
    assert_int_equal(vuc_get_u16(b), f.id);
    chaos_close(&f);
}

/* A silenced connection stays silent: not even the server's own
 * DMA_WRITE requests go out (the DMA fails with EIO). */
static void test_chaos_mute_dma(void **state)
{
    uint8_t map[32], w[24], bell[20], b[64];
    struct chaos_fx f;

    (void)state;
    chaos_open(&f, VUC_SRV_CHAOS_GARBAGE_BYTES, 0, VUC_CMD_DEVICE_GET_INFO);
    chaos_negotiate(&f);
    map_payload(map, 32, DMA_RW, 0, 0x100000, 0x1000);
    assert_int_equal(chaos_req(&f, VUC_CMD_DMA_MAP, map, 32), -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 16); /* not chosen */
    vuc_put_u64(w, R_DMA_LEN);
    vuc_put_u32(w + 8, 0);
    vuc_put_u32(w + 12, 8);
    vuc_put_u64(w + 16, 8);
    assert_int_equal(chaos_req(&f, VUC_CMD_REGION_WRITE, w, 24), -EAGAIN);
    vuc_put_u64(w, R_DMA_ADDR);
    vuc_put_u64(w + 16, 0x100000);
    assert_int_equal(chaos_req(&f, VUC_CMD_REGION_WRITE, w, 24), -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 64); /* two replies */
    assert_int_equal(chaos_req(&f, VUC_CMD_DEVICE_GET_INFO, get_info, 16),
                     -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), VUC_SRV_CHAOS_GARBAGE_LEN);
    vuc_put_u64(bell, R_DMA_DOORBELL);
    vuc_put_u32(bell + 8, 0);
    vuc_put_u32(bell + 12, 4);
    vuc_put_u32(bell + 16, 1);
    assert_int_equal(chaos_req(&f, VUC_CMD_REGION_WRITE, bell, 20), -EAGAIN);
    assert_int_equal(chaos_read(&f, b, sizeof(b)), 0); /* no DMA_WRITE */
    chaos_close(&f);
}

/* ---- hardening: clients that pull memory away, callers that pile up ---- */

/* The SIGBUS handler in force (cmocka's during a test). */
static void *sigbus_handler(void)
{
    struct sigaction now;

    assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
    return (now.sa_flags & SA_SIGINFO) ? (void *)(uintptr_t)now.sa_sigaction
                                       : (void *)(uintptr_t)now.sa_handler;
}

/*
 * A client that shrinks (ftruncate) its memfd after DMA_MAP: the server's
 * mapping past the new end would be SIGBUS. The engine reports EFAULT,
 * the bytes before the end are written, the server goes on, and the
 * handler it borrowed for the copy is given back.
 */
static void test_dma_client_shrinks(void **state)
{
    const size_t sz = 4 * 4096;
    const uint64_t iova = 0x100000;
    void *h0 = sigbus_handler();
    uint8_t *mem;
    int fd = memfd(sz, &mem);
    struct fx f;

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(dma_map(&f, iova, sz, DMA_RW, 0, fd), 0);
    assert_int_equal(dma_run(&f, iova, sz, PAT), 0);
    expect_pattern(mem, sz, PAT, 0);

    /* one page left: the write runs into the end of the file */
    assert_int_equal(ftruncate(fd, 4096), 0);
    assert_int_equal(dma_run(&f, iova, sz, ~PAT), EFAULT);
    expect_pattern(mem, 4096, ~PAT, 0); /* before the fault: written */
    assert_true(sigbus_handler() == h0);
    /* within what is left it works; past it, from its first byte, not */
    assert_int_equal(dma_run(&f, iova + 8, 100, PAT), 0);
    expect_pattern(mem + 8, 100, PAT, 0);
    assert_int_equal(dma_run(&f, iova + 8192, 1, PAT), EFAULT);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(dma_run(&f, iova, 8, PAT), EFAULT);
    /* grown back, the same mapping works again (fresh zero pages) */
    assert_int_equal(ftruncate(fd, (off_t)sz), 0);
    assert_int_equal(dma_run(&f, iova, sz, PAT), 0);
    expect_pattern(mem, sz, PAT, 0);
    assert_int_equal(dma_unmap(&f, iova, sz), 0);
    assert_true(sigbus_handler() == h0);
    assert_int_equal(state_now(&f), ST_RUNNING);
    fx_close(&f);
    munmap(mem, sz);
    close(fd);
}

/*
 * vuc_srv_handle called twice without vuc_srv_serve in between, each
 * time with more commands waiting than the server keeps while it waits
 * for its DMA_WRITE's reply: the queue is full when the second doorbell
 * rings. That DMA fails at once (EIO), nothing is written past the
 * queue, and the next vuc_srv_serve answers every command in order.
 */
static void test_handle_defer_full(void **state)
{
    uint16_t bell[2], resets[2];
    struct vuc_msg m;
    struct fx f;
    uint8_t b[20];

    (void)state;
    fx_open(&f, DEF_FLAGS, 0);
    negotiate(&f);
    assert_int_equal(dma_map(&f, 0x100000, 0x1000, DMA_RW, 0, -1), 0);
    bar_wr(&f, R_DMA_ADDR, 0x100000, 8);
    bar_wr(&f, R_DMA_LEN, 8, 8);
    bar_wr(&f, R_DMA_PATTERN, PAT, 8);
    vuc_put_u64(b, R_DMA_DOORBELL);
    vuc_put_u32(b + 8, 0);
    vuc_put_u32(b + 12, 4);
    vuc_put_u32(b + 16, 1);
    for (int k = 0; k < 2; k++) {
        send_cmd(&f, VUC_CMD_REGION_WRITE, b, 20);
        bell[k] = f.id;
        resets[k] = (uint16_t)(f.id + 1);
        for (int i = 0; i < 17; i++)
            send_cmd(&f, VUC_CMD_DEVICE_RESET, NULL, 0);
    }
    for (int k = 0; k < 2; k++) {
        assert_int_equal(vuc_conn_recv(f.srv, &m, 0), 0);
        assert_int_equal(m.hdr.id, bell[k]);
        assert_int_equal(vuc_srv_handle(f.s, f.srv, &m), 0);
        vuc_msg_release(&m);
    }
    assert_int_equal(vuc_srv_serve(f.s, f.srv, 0), -EAGAIN);
    for (int k = 0; k < 2; k++) {
        expect_dma_write(&f, (uint16_t)(k + 1), 0x100000, 8, PAT, 0);
        expect_write_reply(&f, bell[k]);
    }
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 17; i++) {
            vuc_msg_release(&f.rep);
            assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), 0);
            assert_int_equal(f.rep.hdr.id, resets[k] + i);
            assert_int_equal(f.rep.hdr.cmd, VUC_CMD_DEVICE_RESET);
            assert_int_equal(f.rep.hdr.flags, VUC_TYPE_REPLY);
        }
    }
    vuc_msg_release(&f.rep);
    assert_int_equal(vuc_conn_recv(f.cli, &f.rep, 0), -EAGAIN);
    assert_int_equal(bar_rd(&f, R_DMA_STATUS, 4), EIO);
    assert_int_equal(state_now(&f), ST_RUNNING);
    fx_close(&f);
}

/* ---- main ---- */

static uint64_t q_none = 0;
static uint64_t q_bits[VUC_SRV_QUIRK_COUNT];

#define QUIRKED(fn, i) cmocka_unit_test_prestate(fn, &q_bits[i])

int main(void)
{
    for (unsigned i = 0; i < VUC_SRV_QUIRK_COUNT; i++)
        q_bits[i] = 1ull << i;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_valid),
        cmocka_unit_test(test_version_absent_json),
        cmocka_unit_test(test_version_malformed),
        cmocka_unit_test(test_version_wrong_major),
        cmocka_unit_test(test_before_version),
        cmocka_unit_test(test_reconnect_keeps_device),
        cmocka_unit_test(test_max_xfer),
        cmocka_unit_test(test_no_reply),
        cmocka_unit_test(test_bad_commands),
        cmocka_unit_test(test_header_size_below_16),
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_region_bounds),
        cmocka_unit_test(test_bar0_registers),
        cmocka_unit_test(test_config_space),
        cmocka_unit_test_prestate(test_feature_errors, &q_none),
        cmocka_unit_test(test_feature_get_probe),
        cmocka_unit_test_prestate(test_fsm_matrix, &q_none),
        cmocka_unit_test_prestate(test_reset_from_every_state, &q_none),
        cmocka_unit_test_prestate(test_stream_round_trip, &q_none),
        cmocka_unit_test_prestate(test_stream_read_rules, &q_none),
        cmocka_unit_test_prestate(test_stream_resume_failures, &q_none),
        cmocka_unit_test(test_resume_fail_to_error),
        cmocka_unit_test(test_request_buffers),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_state_registers),
        cmocka_unit_test(test_state_size_option),
        cmocka_unit_test(test_precopy_saves),
        cmocka_unit_test(test_precopy_loses_dirty),
        cmocka_unit_test(test_big_state),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_reconnect_mid_stream),
        cmocka_unit_test(test_quirk_table),
        cmocka_unit_test(test_bug_table),
        cmocka_unit_test(test_bug_arcs),
        cmocka_unit_test(test_bug_mig),
        cmocka_unit_test(test_bug_wire),
        cmocka_unit_test(test_bug_device),
        cmocka_unit_test(test_bug_roundtrip),
        cmocka_unit_test(test_require_arm),
        cmocka_unit_test(test_bug_start_num_ranges),
        cmocka_unit_test(test_bug_unknown_body_unread),
        cmocka_unit_test(test_bug_report_padded),
        cmocka_unit_test(test_bug_report_mappings),
        cmocka_unit_test(test_bug_max_msg_no_room),
        cmocka_unit_test(test_bug_limit_echoes),
        cmocka_unit_test(test_bug_info_nonzero),
        cmocka_unit_test(test_set_irqs),
        cmocka_unit_test(test_dma_read_run),
        cmocka_unit_test(test_bar2_mappable),
        cmocka_unit_test(test_bug_unmap_keeps_mapping),
        cmocka_unit_test(test_bug_feature_short_data),
        cmocka_unit_test(test_quirk_each),
        cmocka_unit_test(test_quirk_data),
        /* each quirk changes exactly its rule: the matrix, reset, the
         * feature errors and a round trip under each one alone */
        QUIRKED(test_fsm_matrix, 0),
        QUIRKED(test_fsm_matrix, 1),
        QUIRKED(test_fsm_matrix, 2),
        QUIRKED(test_fsm_matrix, 3),
        QUIRKED(test_fsm_matrix, 4),
        QUIRKED(test_fsm_matrix, 5),
        QUIRKED(test_fsm_matrix, 6),
        QUIRKED(test_fsm_matrix, 7),
        QUIRKED(test_fsm_matrix, 8),
        QUIRKED(test_fsm_matrix, 9),
        QUIRKED(test_fsm_matrix, 10),
        QUIRKED(test_fsm_matrix, 11),
        QUIRKED(test_fsm_matrix, 12),
        QUIRKED(test_fsm_matrix, 13),
        QUIRKED(test_fsm_matrix, 14),
        QUIRKED(test_fsm_matrix, 15),
        QUIRKED(test_fsm_matrix, 16),
        QUIRKED(test_fsm_matrix, 17),
        QUIRKED(test_fsm_matrix, 18),
        QUIRKED(test_fsm_matrix, 19),
        QUIRKED(test_fsm_matrix, 20),
        QUIRKED(test_fsm_matrix, 21),
        QUIRKED(test_fsm_matrix, 22),
        QUIRKED(test_fsm_matrix, 23),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_VERSION_MAJOR_MISMATCH),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_VERSION_MINOR_ABOVE),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_CAPS_SUPERSET),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_JSON_REQUIRED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_JSON_MALFORMED_ACCEPTED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_MAX_XFER_EXCLUSIVE),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_MIG_FLAGS_EXTRA_BIT),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_PROBE_REPLY_DIFFERS),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_GET_SET_ACCEPTED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_UNKNOWN_FEATURE),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_ARGSZ_IGNORED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_SAME_STATE_REJECTED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_RESET_GOES_TO_STOP),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_PROBE_START_FAILS),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_PROBE_STOP_REPORT_FAIL),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_START_TWICE),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_START_OVERFLOW),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_START_UNALIGNED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_REPORT_BAD_PAGE),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_STOP_KEEPS_LOGGING),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_LEAK_FD),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_SHORT_SIZE_IGNORED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_REPLY_TYPE_IGNORED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_ERROR_FLAG_IGNORED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_PARTIAL_DROPPED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_PIPELINE_DROPS),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_REFUSE_AFTER_PARTIAL),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_LOGGING_KEPT),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_HANG_ON_ZERO_READ),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_EXIT_AFTER_CLIENT),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_CRASH_LOOP),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_MIG_FLAGS_ZERO),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_MAX_XFER_ABOVE),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_REPLY_FD_ATTACHED),
        QUIRKED(test_fsm_matrix, VUC_SRV_QUIRK_BIT_READ_REPLY_PADDED),
        QUIRKED(test_reset_from_every_state, 3),
        QUIRKED(test_reset_from_every_state, 4),
        QUIRKED(test_reset_from_every_state, 5),
        QUIRKED(test_reset_from_every_state, 8),
        QUIRKED(test_reset_from_every_state, 11),
        QUIRKED(test_reset_from_every_state, 12),
        QUIRKED(test_reset_from_every_state, 13),
        QUIRKED(test_reset_from_every_state, 14),
        QUIRKED(test_reset_from_every_state, 15),
        QUIRKED(test_reset_from_every_state,
                VUC_SRV_QUIRK_BIT_RESET_GOES_TO_STOP),
        QUIRKED(test_reset_from_every_state,
                VUC_SRV_QUIRK_BIT_SAME_STATE_REJECTED),
        QUIRKED(test_feature_errors, 4),
        QUIRKED(test_feature_errors, 5),
        QUIRKED(test_feature_errors, 6),
        /* a round trip is undisturbed by every quirk but the three that
         * break it on purpose (8, 13, 15: test_quirk_data, precopy) */
        QUIRKED(test_stream_round_trip, 0),
        QUIRKED(test_stream_round_trip, 1),
        QUIRKED(test_stream_round_trip, 2),
        QUIRKED(test_stream_round_trip, 3),
        QUIRKED(test_stream_round_trip, 4),
        QUIRKED(test_stream_round_trip, 5),
        QUIRKED(test_stream_round_trip, 6),
        QUIRKED(test_stream_round_trip, 7),
        QUIRKED(test_stream_round_trip, 9),
        QUIRKED(test_stream_round_trip, 10),
        QUIRKED(test_stream_round_trip, 11),
        QUIRKED(test_stream_round_trip, 12),
        QUIRKED(test_stream_round_trip, 14),
        /* the read rules hold under the resume-side quirks, the resume
         * rules under the read-side ones */
        QUIRKED(test_stream_read_rules, 11),
        QUIRKED(test_stream_read_rules, 12),
        QUIRKED(test_stream_read_rules, 15),
        QUIRKED(test_stream_resume_failures, 8),
        QUIRKED(test_stream_resume_failures, 9),
        QUIRKED(test_stream_resume_failures, 10),
        QUIRKED(test_stream_resume_failures, 13),
        QUIRKED(test_stream_resume_failures, 14),
        QUIRKED(test_stream_resume_failures, 15),
        cmocka_unit_test(test_dma_map_rules),
        cmocka_unit_test(test_dma_engine_fd),
        cmocka_unit_test(test_dma_regs_not_state),
        cmocka_unit_test(test_dma_engine_nofd),
        cmocka_unit_test(test_dma_disconnect),
        cmocka_unit_test_prestate(test_log_start_rules, &q_none),
        cmocka_unit_test_prestate(test_log_report_rules, &q_none),
        cmocka_unit_test(test_log_bitmaps),
        cmocka_unit_test(test_log_all_mapped),
        cmocka_unit_test(test_log_unmap_and_nofd),
        cmocka_unit_test(test_log_disconnect),
        cmocka_unit_test(test_quirk_logging_kept),
        cmocka_unit_test(test_log_page_size_option),
        cmocka_unit_test(test_log_dirty_sim),
        cmocka_unit_test(test_log_quirks),
        cmocka_unit_test(test_quirk_version),
        cmocka_unit_test(test_quirk_feature),
        cmocka_unit_test(test_quirk_logging_args),
        cmocka_unit_test(test_quirk_wire),
        cmocka_unit_test(test_quirk_loop),
        cmocka_unit_test(test_quirk_hang),
        cmocka_unit_test(test_quirk_exit_after_client),
        cmocka_unit_test(test_quirk_crash_loop),
        /* the logging rules under the logging quirks that leave them be */
        QUIRKED(test_log_start_rules, 16),
        QUIRKED(test_log_start_rules, 17),
        QUIRKED(test_log_start_rules, 18),
        QUIRKED(test_log_start_rules, 19),
        QUIRKED(test_log_start_rules, 20),
        QUIRKED(test_log_start_rules, 21),
        QUIRKED(test_log_start_rules, 22),
        QUIRKED(test_log_start_rules, 23),
        cmocka_unit_test(test_log_bitmap_max),
        cmocka_unit_test(test_dma_map_fails_whole),
        QUIRKED(test_log_report_rules, 16),
        QUIRKED(test_log_report_rules, 17),
        QUIRKED(test_log_report_rules, 18),
        QUIRKED(test_log_report_rules, 20),
        QUIRKED(test_log_report_rules, 21),
        QUIRKED(test_log_report_rules, 22),
        QUIRKED(test_log_report_rules, 23),
        cmocka_unit_test(test_verbose),
        cmocka_unit_test(test_run_socket),
        cmocka_unit_test(test_chaos_table),
        cmocka_unit_test(test_plant_table),
        cmocka_unit_test(test_chaos_modes),
        cmocka_unit_test(test_chaos_choice),
        cmocka_unit_test(test_chaos_mute_dma),
        cmocka_unit_test(test_dma_client_shrinks),
        cmocka_unit_test(test_handle_defer_full),
    };
    /* every quirk but planted-crash, which aborts on purpose (a SET of
     * PRE_COPY_P2P) and is shown by tests/e2e/test_fuzz_live.py, and
     * no-migration, which refuses every SET (test_quirk_feature) */
    _Static_assert(VUC_SRV_QUIRK_COUNT == 59 + 2,
                   "one QUIRKED test_fsm_matrix line per quirk");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
