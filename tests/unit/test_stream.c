/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for vucert-server's migration stream (vuc_stream,
 * include/vucert/stream.h, reference-server/STREAM.md): CRC32C and XXH64
 * against published vectors and an independent bitwise CRC; the writer
 * and the parser round trip; every segmentation, every truncation and
 * every single-bit flip of a small stream; streams for another device;
 * records out of order or out of bounds, built here with the test's own
 * encoder and CRC; dirty tracking while the device is live.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/stream.h"
#include "vucert/wire.h"

/* ---- the test's own CRC32C: bitwise, from the definition ---- */

static uint32_t crc_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

/* Deterministic bytes. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static void test_crc32c_vectors(void **state)
{
    static const uint8_t check[] = "123456789";
    uint8_t b[32];

    (void)state;
    assert_int_equal(crc_ref(check, 9), 0xe3069283u);
    assert_int_equal(vuc_crc32c(0, check, 9), 0xe3069283u);
    assert_int_equal(vuc_crc32c_sw(0, check, 9), 0xe3069283u);
    assert_int_equal(vuc_crc32c(0, check, 0), 0);
    assert_int_equal(vuc_crc32c(0, NULL, 5), 0);
    /* RFC 3720 B.4 */
    memset(b, 0, sizeof(b));
    assert_int_equal(vuc_crc32c(0, b, 32), 0x8a9136aau);
    assert_int_equal(vuc_crc32c_sw(0, b, 32), 0x8a9136aau);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(vuc_crc32c(0, b, 32), 0x62a8ab43u);
    assert_int_equal(vuc_crc32c_sw(0, b, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    assert_int_equal(vuc_crc32c(0, b, 32), 0x46dd794eu);
    assert_int_equal(vuc_crc32c_sw(0, b, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    assert_int_equal(vuc_crc32c(0, b, 32), 0x113fdb5cu);
    assert_int_equal(vuc_crc32c_sw(0, b, 32), 0x113fdb5cu);
}

static void test_crc32c_agree(void **state)
{
    enum { N = 3 * 4096 + 64 };
    uint8_t *buf = malloc(N), *copy = malloc(N);
    uint32_t out[8];

    (void)state;
    assert_non_null(buf);
    assert_non_null(copy);
    fill(buf, N, 1);
    /* every length to 600 at every alignment: table, instruction and
     * the definition agree (this also checks the generated tables) */
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len <= 600; len++) {
            uint32_t want = crc_ref(buf + off, len);

            assert_int_equal(vuc_crc32c(0, buf + off, len), want);
            assert_int_equal(vuc_crc32c_sw(0, buf + off, len), want);
        }
    }
    /* chaining at every split point */
    for (size_t k = 0; k <= 300; k++) {
        uint32_t want = crc_ref(buf, 300);

        assert_int_equal(vuc_crc32c(vuc_crc32c(0, buf, k), buf + k, 300 - k),
                         want);
        assert_int_equal(
            vuc_crc32c_sw(vuc_crc32c_sw(0, buf, k), buf + k, 300 - k), want);
        /* combining from the two halves' CRCs */
        assert_int_equal(vuc_crc32c_combine(crc_ref(buf, k),
                                            crc_ref(buf + k, 300 - k), 300 - k),
                         want);
    }
    assert_int_equal(vuc_crc32c_combine(0x12345678u, 0, 0), 0x12345678u);
    /* blocks: every count up to 7 (the interleaved path takes 3 at a
     * time) and several block sizes, unaligned too */
    /* (multiples of 256 take the carry-less multiply path where the CPU
     * has it: one, two, three and sixteen steps of 256 bytes) */
    static const size_t bss[] = {64, 256, 512, 768, 1000, 4096};
    for (size_t j = 0; j < sizeof(bss) / sizeof(bss[0]); j++) {
        size_t bs = bss[j];

        for (size_t n = 0; n <= 7 && n * bs <= N - 1; n++) {
            memset(out, 0, sizeof(out));
            vuc_crc32c_blocks(buf + 1, n, bs, out);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(out[i], crc_ref(buf + 1 + i * bs, bs));
            /* the same with a copy riding along, to an odd address */
            memset(out, 0, sizeof(out));
            memset(copy, 0xee, N);
            vuc_crc32c_copy_blocks(copy + 3, buf + 1, n, bs, out);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(out[i], crc_ref(buf + 1 + i * bs, bs));
            assert_memory_equal(copy + 3, buf + 1, n * bs);
            assert_int_equal(copy[2], 0xee);
            if (3 + n * bs < N)
                assert_int_equal(copy[3 + n * bs], 0xee);
        }
    }
    /* the op of a block size combines many blocks into one CRC */
    {
        uint32_t op = vuc_crc32c_op(512), acc;

        vuc_crc32c_blocks(buf, 7, 512, out);
        acc = out[0];
        for (int i = 1; i < 7; i++)
            acc = vuc_crc32c_combine_op(acc, out[i], op);
        assert_int_equal(acc, crc_ref(buf, 7 * 512));
    }
    free(copy);
    free(buf);
}

static void test_xxh64_vectors(void **state)
{
    /* from xxhash 0.8.1 (libxxhash), seeds 0 and PRIME64_1 + 6 */
    static const struct {
        size_t len;
        uint64_t h0, h1;
    } v[] = {
        {0, 0xef46db3751d8e999ull, 0x0b303d920ec349dfull},
        {1, 0xd24ec4f1a98c6e5bull, 0x1ba297d77eeae48aull},
        {3, 0x44bc2cf5ad770999ull, 0x7e49c9d7e85a4ab6ull},
        {39, 0xfbcea83c8a378bf1ull, 0xd91f66cd4a62534eull},
        {1024, 0x6f3914f18fe4df57ull, 0x23481c869eff426aull},
    };
    static const char *txt[] = {"", "a", "abc",
                                "Nobody inspects the spammish repetition"};
    const uint64_t seed1 = 0x9e3779b185ebca8dull;
    uint8_t big[1024];
    struct vuc_xxh64 h;

    (void)state;
    for (int i = 0; i < 1024; i++)
        big[i] = (uint8_t)i;
    for (size_t i = 0; i < 5; i++) {
        const uint8_t *p = i < 4 ? (const uint8_t *)txt[i] : big;

        assert_int_equal(vuc_xxh64(p, v[i].len, 0), v[i].h0);
        assert_int_equal(vuc_xxh64(p, v[i].len, seed1), v[i].h1);
        /* streaming, one byte at a time */
        vuc_xxh64_init(&h, 0);
        for (size_t k = 0; k < v[i].len; k++)
            vuc_xxh64_update(&h, p + k, 1);
        assert_int_equal(vuc_xxh64_digest(&h), v[i].h0);
    }
    /* streaming split at every point */
    for (size_t k = 0; k <= 1024; k++) {
        vuc_xxh64_init(&h, 0);
        vuc_xxh64_update(&h, big, k);
        vuc_xxh64_update(&h, big + k, 1024 - k);
        assert_int_equal(vuc_xxh64_digest(&h), v[4].h0);
    }
}

/* ---- a source and a destination ---- */

struct src {
    struct vuc_stream_dev d;
    uint8_t *state, *copy, *regs;
    uint64_t *pending;
    uint32_t *sent;
    struct vuc_save w;
};

struct dst {
    struct vuc_stream_dev d;
    uint8_t *stage, *regs;
    uint32_t *bcrc;
    uint64_t *cov;
    struct vuc_resume r;
};

static struct vuc_stream_dev mkdev(uint64_t state, uint32_t block,
                                   uint32_t chunk, uint32_t regs)
{
    struct vuc_stream_dev d = {
        .vendor = 0x1de5,
        .device = 0x0001,
        .state_size = state,
        .block_size = block,
        .chunk_size = chunk,
        .regs_size = regs,
    };

    assert_int_equal(vuc_stream_dev_check(&d), 0);
    return d;
}

/* Small: 4 blocks of 64 bytes, chunks of 2 blocks. */
static struct vuc_stream_dev small_dev(void)
{
    return mkdev(256, 64, 128, 16);
}

static void src_open(struct src *s, struct vuc_stream_dev d, bool live,
                     uint64_t seed)
{
    struct vuc_save_cfg cfg;

    memset(s, 0, sizeof(*s));
    s->d = d;
    s->state = malloc(d.state_size);
    s->copy = malloc(d.chunk_size);
    s->regs = malloc(d.regs_size);
    s->pending = calloc(vuc_stream_words(&d), sizeof(uint64_t));
    s->sent = calloc(vuc_stream_blocks(&d), sizeof(uint32_t));
    assert_true(s->state && s->copy && s->regs && s->pending && s->sent);
    fill(s->state, d.state_size, seed);
    fill(s->regs, d.regs_size, seed + 1000);
    cfg = (struct vuc_save_cfg){
        .dev = d,
        .state = s->state,
        .pending = s->pending,
        .sent_crc = s->sent,
        .copybuf = s->copy,
        .live = live,
    };
    assert_int_equal(vuc_save_init(&s->w, &cfg), 0);
}

static void src_close(struct src *s)
{
    free(s->state);
    free(s->copy);
    free(s->regs);
    free(s->pending);
    free(s->sent);
}

/* The whole stream of a stopped source; *len set, caller frees. */
static uint8_t *src_stream(struct src *s, size_t *len)
{
    size_t cap = 2 * s->d.state_size + s->d.regs_size + 4096, n;
    uint8_t *buf = malloc(cap);

    assert_non_null(buf);
    vuc_save_end(&s->w, s->regs);
    n = vuc_save_read(&s->w, buf, cap);
    assert_true(n < cap);
    assert_true(vuc_save_done(&s->w));
    *len = n;
    return buf;
}

static uint8_t *make_stream(struct vuc_stream_dev d, uint64_t seed, size_t *len)
{
    struct src s;
    uint8_t *buf;

    src_open(&s, d, false, seed);
    buf = src_stream(&s, len);
    src_close(&s);
    return buf;
}

static void dst_open(struct dst *t, struct vuc_stream_dev d, unsigned flags)
{
    struct vuc_resume_cfg cfg;

    memset(t, 0, sizeof(*t));
    t->d = d;
    t->stage = calloc(1, d.state_size);
    t->regs = calloc(1, d.regs_size);
    t->bcrc = calloc(vuc_stream_blocks(&d), sizeof(uint32_t));
    t->cov = malloc(vuc_stream_words(&d) * sizeof(uint64_t));
    assert_true(t->stage && t->regs && t->bcrc && t->cov);
    /* init must clear the coverage map itself */
    memset(t->cov, 0xff, vuc_stream_words(&d) * sizeof(uint64_t));
    cfg = (struct vuc_resume_cfg){
        .dev = d,
        .stage = t->stage,
        .regs = t->regs,
        .block_crc = t->bcrc,
        .covered = t->cov,
        .flags = flags,
    };
    assert_int_equal(vuc_resume_init(&t->r, &cfg), 0);
}

static void dst_close(struct dst *t)
{
    free(t->stage);
    free(t->regs);
    free(t->bcrc);
    free(t->cov);
}

/* Feed in segments of seg bytes; returns feed's first error, else
 * finish's result. */
static int feed_all(struct dst *t, const uint8_t *p, size_t len, size_t seg)
{
    for (size_t off = 0; off < len; off += seg) {
        size_t n = len - off < seg ? len - off : seg;
        int rc = vuc_resume_feed(&t->r, p + off, n);

        if (rc < 0)
            return rc;
    }
    return vuc_resume_finish(&t->r);
}

static int parse(struct vuc_stream_dev d, unsigned flags, const uint8_t *p,
                 size_t len, size_t seg)
{
    struct dst t;
    int rc;

    dst_open(&t, d, flags);
    rc = feed_all(&t, p, len, seg);
    dst_close(&t);
    return rc;
}

/* ---- the test's own record encoder ---- */

static size_t put_rec(uint8_t *out, uint16_t type, uint32_t seq,
                      uint64_t offset, const uint8_t *payload, uint32_t len)
{
    vuc_put_u32(out, 0x52435556u);
    vuc_put_u16(out + 4, type);
    vuc_put_u16(out + 6, 0);
    vuc_put_u32(out + 8, seq);
    vuc_put_u32(out + 12, len);
    vuc_put_u64(out + 16, offset);
    vuc_put_u32(out + 24, crc_ref(payload, len));
    vuc_put_u32(out + 28, crc_ref(out, 28));
    if (len)
        memcpy(out + 32, payload, len);
    return 32 + (size_t)len;
}

static size_t put_header(uint8_t *out, const struct vuc_stream_dev *d,
                         uint32_t version)
{
    uint8_t h[32] = {0};

    vuc_put_u32(h, version);
    vuc_put_u16(h + 4, d->vendor);
    vuc_put_u16(h + 6, d->device);
    vuc_put_u64(h + 8, d->state_size);
    vuc_put_u32(h + 16, d->block_size);
    vuc_put_u32(h + 20, d->chunk_size);
    vuc_put_u32(h + 24, d->regs_size);
    return put_rec(out, 1, 0, 0, h, 32);
}

static size_t put_end(uint8_t *out, uint32_t seq, uint64_t nchunks,
                      uint32_t state_crc)
{
    uint8_t e[16] = {0};

    vuc_put_u64(e, nchunks);
    vuc_put_u32(e + 12, state_crc);
    return put_rec(out, 4, seq, 0, e, 16);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
    struct vuc_stream_dev d = mkdev(8192, 512, 2048, 40);
    struct src s;
    struct dst t;
    size_t len, off = 0, nrec = 0;
    uint8_t *buf;

    (void)state;
    src_open(&s, d, false, 7);
    buf = src_stream(&s, &len);
    /* HEADER, 4 CHUNKs of 2048, REGS, END */
    assert_int_equal(len, 7 * 32 + 32 + 8192 + 40 + 16);
    assert_int_equal(s.w.sent_bytes, len);
    while (off < len) {
        uint32_t plen = vuc_get_u32(buf + off + 12);

        assert_int_equal(vuc_get_u32(buf + off), 0x52435556u);
        assert_int_equal(vuc_get_u32(buf + off + 8), nrec);
        assert_int_equal(vuc_get_u32(buf + off + 28), crc_ref(buf + off, 28));
        assert_int_equal(vuc_get_u32(buf + off + 24),
                         crc_ref(buf + off + 32, plen));
        if (nrec >= 1 && nrec <= 4) {
            assert_int_equal(vuc_get_u16(buf + off + 4), 2);
            assert_int_equal(vuc_get_u64(buf + off + 16), (nrec - 1) * 2048);
            assert_int_equal(plen, 2048);
            assert_memory_equal(buf + off + 32, s.state + (nrec - 1) * 2048,
                                2048);
        }
        off += 32 + plen;
        nrec++;
    }
    assert_int_equal(nrec, 7);
    /* the END carries the count and the whole state's CRC */
    assert_int_equal(vuc_get_u16(buf + len - 48 + 4), 4);
    assert_int_equal(vuc_get_u64(buf + len - 16), 4);
    assert_int_equal(vuc_get_u32(buf + len - 4), crc_ref(s.state, 8192));
    /* the HEADER names the device */
    assert_int_equal(vuc_get_u32(buf + 32), VUC_STREAM_VERSION);
    assert_int_equal(vuc_get_u16(buf + 36), 0x1de5);
    assert_int_equal(vuc_get_u64(buf + 40), 8192);

    dst_open(&t, d, 0);
    assert_int_equal(feed_all(&t, buf, len, len), 0);
    assert_memory_equal(t.stage, s.state, 8192);
    assert_memory_equal(t.regs, s.regs, 40);
    assert_true(t.r.seen_regs);
    /* finish again: same answer; more bytes after END: refused */
    assert_int_equal(vuc_resume_finish(&t.r), 0);
    assert_int_equal(vuc_resume_feed(&t.r, buf, 1), -EPROTO);
    assert_int_equal(vuc_resume_finish(&t.r), -EPROTO);
    dst_close(&t);
    /* after the end, the writer hands out nothing */
    {
        const uint8_t *p;
        bool st;

        assert_int_equal(vuc_save_next(&s.w, 100, &p, &st), 0);
    }
    free(buf);
    src_close(&s);
}

/* Stopped: payloads come from the state itself; live: never. */
static void test_pieces(void **state)
{
    struct vuc_stream_dev d = mkdev(4096, 512, 1024, 8);
    const uint8_t *p;
    bool st;
    size_t n;
    struct src s;

    (void)state;
    src_open(&s, d, false, 3);
    assert_int_equal(vuc_save_next(&s.w, 0, &p, &st), 0);
    n = vuc_save_next(&s.w, 1000, &p, &st); /* HEADER's header */
    assert_int_equal(n, 32);
    assert_false(st);
    n = vuc_save_next(&s.w, 1000, &p, &st); /* HEADER's payload */
    assert_int_equal(n, 32);
    n = vuc_save_next(&s.w, 10, &p, &st); /* CHUNK header, in part */
    assert_int_equal(n, 10);
    assert_false(st);
    n = vuc_save_next(&s.w, 1000, &p, &st);
    assert_int_equal(n, 22);
    n = vuc_save_next(&s.w, 5000, &p, &st); /* payload, from the state */
    assert_int_equal(n, 1024);
    assert_true(st);
    assert_ptr_equal(p, s.state);
    /* before vuc_save_end, nothing after the chunks */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vuc_save_next(&s.w, 5000, &p, &st), 32);
        assert_int_equal(vuc_save_next(&s.w, 5000, &p, &st), 1024);
        assert_ptr_equal(p, s.state + 1024 * (i + 1));
    }
    assert_int_equal(vuc_save_next(&s.w, 5000, &p, &st), 0);
    assert_false(vuc_save_done(&s.w));
    /* going live copies the rest of a chunk in flight */
    vuc_save_mark(&s.w, 0, 1);
    assert_int_equal(vuc_save_next(&s.w, 32, &p, &st), 32);
    assert_int_equal(vuc_save_next(&s.w, 100, &p, &st), 100);
    assert_true(st);
    vuc_save_live(&s.w, true);
    s.state[200] ^= 0xff; /* the device runs */
    vuc_save_mark(&s.w, 200, 1);
    assert_int_equal(vuc_save_next(&s.w, 5000, &p, &st), 412);
    assert_false(st);
    assert_int_equal(p[100] ^ 0xff, s.state[200]); /* the copy, as it was */
    src_close(&s);
}

static void test_every_segmentation(void **state)
{
    struct vuc_stream_dev d = mkdev(2048, 256, 512, 24);
    size_t len;
    uint8_t *buf = make_stream(d, 11, &len);

    (void)state;
    for (size_t seg = 1; seg <= len; seg++)
        assert_int_equal(parse(d, 0, buf, len, seg), 0);
    /* irregular segments: 1, 2, 3, ... */
    {
        struct dst t;
        size_t off = 0, k = 1;

        dst_open(&t, d, 0);
        while (off < len) {
            size_t n = len - off < k ? len - off : k;

            assert_int_equal(vuc_resume_feed(&t.r, buf + off, n), 0);
            off += n;
            k = k % 97 + 1;
        }
        assert_int_equal(vuc_resume_finish(&t.r), 0);
        dst_close(&t);
    }
    free(buf);
}

static void test_every_truncation(void **state)
{
    struct vuc_stream_dev d = mkdev(2048, 256, 512, 24);
    size_t len;
    uint8_t *buf = make_stream(d, 12, &len);

    (void)state;
    for (size_t cut = 0; cut < len; cut++) {
        struct dst t;

        dst_open(&t, d, 0);
        assert_int_equal(vuc_resume_feed(&t.r, buf, cut), 0);
        assert_int_equal(vuc_resume_finish(&t.r), -ENODATA);
        dst_close(&t);
        /* the truncated policy accepts it */
        assert_int_equal(parse(d, VUC_RESUME_TRUNCATED, buf, cut, 7), 0);
    }
    assert_int_equal(parse(d, 0, buf, len, 7), 0);
    free(buf);
}

static void test_every_bit_flip(void **state)
{
    struct vuc_stream_dev d = small_dev();
    size_t len, failed = 0;
    uint8_t *buf = make_stream(d, 13, &len);

    (void)state;
    assert_int_equal(len, 4 * 32 + 32 + 256 + 16 + 16 + 32);
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            int rc;

            buf[i] ^= (uint8_t)(1u << b);
            rc = parse(d, 0, buf, len, len);
            buf[i] ^= (uint8_t)(1u << b);
            assert_true(rc == -EBADMSG || rc == -EPROTO || rc == -ENODEV ||
                        rc == -EPROTONOSUPPORT || rc == -ENODATA);
            failed++;
        }
    }
    assert_int_equal(failed, 8 * len);
    assert_int_equal(parse(d, 0, buf, len, len), 0);
    /* without verification, a flipped payload bit goes through */
    buf[64 + 32 + 5] ^= 1;
    assert_int_equal(parse(d, 0, buf, len, len), -EBADMSG);
    assert_int_equal(parse(d, VUC_RESUME_NO_VERIFY, buf, len, len), 0);
    free(buf);
}

static void test_other_device(void **state)
{
    struct vuc_stream_dev d = small_dev(), o;
    uint8_t *buf, rec[64];
    size_t len;

    (void)state;
    o = d;
    o.vendor = 0x1234;
    buf = make_stream(o, 1, &len);
    assert_int_equal(parse(d, 0, buf, len, len), -ENODEV);
    free(buf);
    o = d;
    o.device = 2;
    buf = make_stream(o, 1, &len);
    assert_int_equal(parse(d, 0, buf, len, len), -ENODEV);
    free(buf);
    o = d;
    o.state_size = 512;
    buf = make_stream(o, 1, &len);
    assert_int_equal(parse(d, 0, buf, len, len), -ENODEV);
    free(buf);
    o = mkdev(256, 128, 128, 16);
    buf = make_stream(o, 1, &len);
    assert_int_equal(parse(d, 0, buf, len, len), -ENODEV);
    free(buf);
    o = d;
    o.regs_size = 17;
    buf = make_stream(o, 1, &len);
    assert_int_equal(parse(d, 0, buf, len, len), -ENODEV);
    free(buf);
    /* a different chunk size is fine: the HEADER says which */
    o = mkdev(256, 64, 64, 16);
    buf = make_stream(o, 1, &len);
    assert_int_equal(parse(d, 0, buf, len, len), 0);
    free(buf);
    /* another format version */
    len = put_header(rec, &d, 1);
    assert_int_equal(parse(d, 0, rec, len, len), -EPROTONOSUPPORT);
    len = put_header(rec, &d, 3);
    assert_int_equal(parse(d, 0, rec, len, len), -EPROTONOSUPPORT);
    len = put_header(rec, &d, VUC_STREAM_VERSION);
    assert_int_equal(parse(d, 0, rec, len, len), -ENODATA);
}

/* Hand-built streams: order and bounds. */
static void test_records(void **state)
{
    struct vuc_stream_dev d = small_dev();
    uint8_t b[4096], blk[256], regs[16] = {0}, z[64] = {0};
    uint32_t crc;
    size_t n;

    (void)state;
    fill(blk, sizeof(blk), 5);
    crc = crc_ref(blk, 256);

    /* a complete hand-built stream parses (so the encoder is right) */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, blk, 128);
    n += put_rec(b + n, 2, 2, 128, blk + 128, 128);
    n += put_rec(b + n, 3, 3, 0, regs, 16);
    n += put_end(b + n, 4, 2, crc);
    assert_int_equal(parse(d, 0, b, n, 3), 0);
    /* chunks in any order, resent, in block-sized pieces */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 192, blk + 192, 64);
    n += put_rec(b + n, 2, 2, 0, z, 64);
    n += put_rec(b + n, 2, 3, 64, blk + 64, 128);
    n += put_rec(b + n, 2, 4, 0, blk, 64);
    n += put_rec(b + n, 3, 5, 0, regs, 16);
    n += put_end(b + n, 6, 4, crc);
    assert_int_equal(parse(d, 0, b, n, 5), 0);
    /* a block never sent */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, blk, 128);
    n += put_rec(b + n, 3, 2, 0, regs, 16);
    n += put_end(b + n, 3, 1, crc);
    assert_int_equal(parse(d, 0, b, n, n), -ENODATA);
    /* the END's CRC is not the state's */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, blk, 128);
    n += put_rec(b + n, 2, 2, 128, blk + 128, 128);
    n += put_rec(b + n, 3, 3, 0, regs, 16);
    n += put_end(b + n, 4, 2, crc ^ 1);
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    assert_int_equal(parse(d, VUC_RESUME_NO_VERIFY, b, n, n), 0);
    /* the END's count is wrong */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, blk, 128);
    n += put_rec(b + n, 2, 2, 128, blk + 128, 128);
    n += put_rec(b + n, 3, 3, 0, regs, 16);
    n += put_end(b + n, 4, 3, crc);
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);

    /* order */
    n = put_rec(b, 2, 0, 0, blk, 128); /* CHUNK first */
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 2, 0, blk, 128); /* sequence gap */
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_header(b + n, &d, VUC_STREAM_VERSION); /* seq 0 again */
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    {
        uint8_t h2[64];

        put_header(h2, &d, VUC_STREAM_VERSION);
        vuc_put_u32(h2 + 8, 1); /* a second HEADER with the right seq */
        vuc_put_u32(h2 + 28, crc_ref(h2, 28));
        memcpy(b + n, h2, 64);
        n += 64;
    }
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 3, 1, 0, regs, 16);
    n += put_rec(b + n, 2, 2, 0, blk, 128); /* CHUNK after REGS */
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 3, 1, 0, regs, 16);
    n += put_rec(b + n, 3, 2, 0, regs, 16); /* REGS twice */
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_end(b + n, 1, 0, 0); /* END before REGS */
    assert_int_equal(parse(d, 0, b, n, n), -EPROTO);

    /* bounds */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 5, 1, 0, z, 8); /* unknown type */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 0, 1, 0, z, 8);
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, z, 0); /* empty CHUNK */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, blk, 192); /* above the chunk size */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 0, blk, 65); /* not whole blocks */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 32, blk, 64); /* misaligned */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 192, blk, 128); /* past the end */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, 256, blk, 64);
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 2, 1, UINT64_MAX - 63, blk, 64); /* wraps */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 3, 1, 0, regs, 15); /* REGS of another size */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 3, 1, 64, regs, 16); /* REGS with an offset */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    n = put_header(b, &d, VUC_STREAM_VERSION);
    n += put_rec(b + n, 3, 1, 0, regs, 16);
    n += put_rec(b + n, 4, 2, 0, z, 24); /* END of another size */
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    /* a huge length in a header whose CRC is right: refused before any
     * payload is taken */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    vuc_put_u32(b + n, 0x52435556u);
    vuc_put_u16(b + n + 4, 2);
    vuc_put_u16(b + n + 6, 0);
    vuc_put_u32(b + n + 8, 1);
    vuc_put_u32(b + n + 12, 0xffffffffu);
    vuc_put_u64(b + n + 16, 0);
    vuc_put_u32(b + n + 24, 0);
    vuc_put_u32(b + n + 28, crc_ref(b + n, 28));
    n += 32;
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    /* flags, reserved and the HEADER's own geometry */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    vuc_put_u16(b + 6, 1);
    vuc_put_u32(b + 28, crc_ref(b, 28));
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    {
        uint8_t h[32] = {0};

        vuc_put_u32(h, VUC_STREAM_VERSION);
        vuc_put_u16(h + 4, d.vendor);
        vuc_put_u16(h + 6, d.device);
        vuc_put_u64(h + 8, d.state_size);
        vuc_put_u32(h + 16, d.block_size);
        vuc_put_u32(h + 24, d.regs_size);
        n = put_rec(b, 1, 0, 0, h, 32); /* chunk size 0 */
        assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
        vuc_put_u32(h + 20, 96); /* not whole blocks */
        n = put_rec(b, 1, 0, 0, h, 32);
        assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
        vuc_put_u32(h + 20, VUC_STREAM_CHUNK_MAX + 64);
        n = put_rec(b, 1, 0, 0, h, 32);
        assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
        vuc_put_u32(h + 20, 64);
        vuc_put_u32(h + 28, 1); /* reserved */
        n = put_rec(b, 1, 0, 0, h, 32);
        assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    }
    /* a wrong magic */
    n = put_header(b, &d, VUC_STREAM_VERSION);
    b[0] ^= 0x20;
    assert_int_equal(parse(d, 0, b, n, n), -EBADMSG);
    /* errors stick */
    {
        struct dst t;

        dst_open(&t, d, 0);
        assert_int_equal(vuc_resume_feed(&t.r, b, n), -EBADMSG);
        b[0] ^= 0x20;
        assert_int_equal(vuc_resume_feed(&t.r, b, n), -EBADMSG);
        assert_int_equal(vuc_resume_finish(&t.r), -EBADMSG);
        dst_close(&t);
    }
}

static void test_empty_and_flags(void **state)
{
    struct vuc_stream_dev d = small_dev();
    size_t len;
    uint8_t *buf = make_stream(d, 21, &len);
    struct dst t;

    (void)state;
    assert_int_equal(parse(d, 0, buf, 0, 1), -ENODATA);
    assert_int_equal(parse(d, VUC_RESUME_TRUNCATED, buf, 0, 1), 0);
    /* a truncated stream loads what arrived */
    dst_open(&t, d, VUC_RESUME_TRUNCATED);
    assert_int_equal(vuc_resume_feed(&t.r, buf, 64 + 32 + 100), 0);
    assert_int_equal(vuc_resume_finish(&t.r), 0);
    assert_memory_equal(t.stage, buf + 96, 100);
    assert_false(t.r.seen_regs);
    dst_close(&t);
    /* the truncated policy still checks a complete stream */
    buf[len - 1] ^= 1;
    assert_int_equal(parse(d, VUC_RESUME_TRUNCATED, buf, len, len), -EBADMSG);
    free(buf);
}

static void test_bad_arguments(void **state)
{
    struct vuc_stream_dev d = small_dev(), o;
    struct vuc_save_cfg sc;
    struct vuc_resume_cfg rc;
    struct vuc_save w;
    struct vuc_resume r;
    uint8_t st[256], copy[128], regs[16];
    uint64_t map[1];
    uint32_t crc[4];

    (void)state;
    o = d;
    o.block_size = 96;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o = d;
    o.block_size = 32; /* below the minimum */
    o.chunk_size = 32;
    o.state_size = 64;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o = d;
    o.state_size = 0;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o.state_size = 100;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o = d;
    o.chunk_size = 0;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o.chunk_size = 96;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o.chunk_size = VUC_STREAM_CHUNK_MAX + 64;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o = d;
    o.regs_size = 0;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    o.regs_size = VUC_STREAM_REGS_MAX + 1;
    assert_int_equal(vuc_stream_dev_check(&o), -EINVAL);
    assert_int_equal(vuc_stream_dev_check(NULL), -EINVAL);
    assert_int_equal(vuc_stream_blocks(&d), 4);
    assert_int_equal(vuc_stream_words(&d), 1);

    sc = (struct vuc_save_cfg){d, st, map, crc, copy, false, false};
    assert_int_equal(vuc_save_init(&w, &sc), 0);
    assert_int_equal(map[0], 0xf); /* exactly the 4 blocks pending */
    assert_int_equal(vuc_save_init(NULL, &sc), -EINVAL);
    assert_int_equal(vuc_save_init(&w, NULL), -EINVAL);
    sc.copybuf = NULL;
    assert_int_equal(vuc_save_init(&w, &sc), -EINVAL);
    sc.copybuf = copy;
    sc.dev.state_size = 100;
    assert_int_equal(vuc_save_init(&w, &sc), -EINVAL);

    rc = (struct vuc_resume_cfg){d, st, regs, crc, map, 0};
    assert_int_equal(vuc_resume_init(&r, &rc), 0);
    assert_int_equal(vuc_resume_feed(&r, NULL, 0), 0);
    assert_int_equal(vuc_resume_feed(&r, NULL, 1), -EINVAL);
    assert_int_equal(vuc_resume_feed(NULL, st, 1), -EINVAL);
    assert_int_equal(vuc_resume_finish(NULL), -EINVAL);
    rc.flags = 4;
    assert_int_equal(vuc_resume_init(&r, &rc), -EINVAL);
    rc.flags = 0;
    rc.stage = NULL;
    assert_int_equal(vuc_resume_init(&r, &rc), -EINVAL);
    rc.stage = st;
    rc.dev.block_size = 100;
    assert_int_equal(vuc_resume_init(&r, &rc), -EINVAL);
    assert_int_equal(vuc_resume_init(NULL, &rc), -EINVAL);
}

/* ---- the device runs while the stream goes out ---- */

static size_t drain(struct src *s, uint8_t *out, size_t cap, size_t step)
{
    size_t n = 0, k;

    do {
        assert_true(n + step <= cap);
        k = vuc_save_read(&s->w, out + n, step);
        n += k;
    } while (k == step);
    return n;
}

static void test_live_dirty(void **state)
{
    struct vuc_stream_dev d = mkdev(64 * 1024, 4096, 16384, 32);
    size_t cap = 512 * 1024, first, second, rest, total;
    uint8_t *buf = malloc(cap);
    struct src s;
    struct dst t;

    (void)state;
    assert_non_null(buf);
    src_open(&s, d, true, 31);
    /* the initial data, then nothing is ready */
    first = drain(&s, buf, cap, 1000);
    assert_int_equal(first, 32 + 32 + 4 * (32 + 16384));
    assert_int_equal(vuc_save_read(&s.w, buf + first, 100), 0);
    /* the device changes blocks 1 and 9: exactly those come again */
    s.state[4096 + 10] ^= 0x55;
    vuc_save_mark(&s.w, 4096 + 10, 1);
    s.state[9 * 4096] ^= 0x55;
    vuc_save_mark(&s.w, 9 * 4096, 1);
    second = drain(&s, buf + first, cap - first, 333);
    assert_int_equal(second, 2 * (32 + 4096));
    /* a change while a chunk is half read: the chunk stays whole and
     * the block comes once more */
    s.state[5 * 4096] ^= 1;
    vuc_save_mark(&s.w, 5 * 4096, 1);
    total = first + second;
    total += vuc_save_read(&s.w, buf + total, 1000);
    s.state[5 * 4096 + 100] ^= 1;
    vuc_save_mark(&s.w, 5 * 4096 + 100, 1);
    /* marks out of range are ignored; a range that runs past the end is
     * cut at the end */
    vuc_save_mark(&s.w, d.state_size, 8);
    vuc_save_mark(&s.w, d.state_size - 1, UINT64_MAX);
    s.state[d.state_size - 1] ^= 1;
    /* STOP_COPY */
    vuc_save_live(&s.w, false);
    vuc_save_end(&s.w, s.regs);
    rest = drain(&s, buf + total, cap - total, 4096);
    total += rest;
    assert_true(vuc_save_done(&s.w));
    /* the rest of block 5, block 5 again, block 15, REGS, END */
    assert_int_equal(rest, (32 + 4096 - 1000) + (32 + 4096) + (32 + 4096) +
                               (32 + 32) + (32 + 16));
    dst_open(&t, d, 0);
    assert_int_equal(feed_all(&t, buf, total, 4097), 0);
    assert_memory_equal(t.stage, s.state, d.state_size);
    dst_close(&t);
    free(buf);
    src_close(&s);
}

/* lose_resent (a quirk): changes to blocks already sent are not tracked. */
static void test_lose_resent(void **state)
{
    struct vuc_stream_dev d = mkdev(64 * 1024, 4096, 16384, 32);
    size_t cap = 512 * 1024, total, n;
    uint8_t *buf = malloc(cap);
    struct src s;
    struct dst t;

    (void)state;
    assert_non_null(buf);
    src_open(&s, d, true, 41);
    s.w.lose_resent = true;
    /* first pass half done: block 1 was sent and changes (lost), block
     * 12 was not sent yet and changes (still goes out) */
    total = vuc_save_read(&s.w, buf, 64 + 2 * (32 + 16384));
    s.state[4096] ^= 1;
    vuc_save_mark(&s.w, 4096, 1);
    s.state[12 * 4096] ^= 1;
    vuc_save_mark(&s.w, 12 * 4096, 1);
    n = drain(&s, buf + total, cap - total, 5000);
    assert_int_equal(n, 2 * (32 + 16384));
    total += n;
    /* after the first pass, every change is lost */
    s.state[15 * 4096 + 8] ^= 1;
    vuc_save_mark(&s.w, 15 * 4096 + 8, 1);
    assert_int_equal(vuc_save_read(&s.w, buf + total, 100), 0);
    vuc_save_live(&s.w, false);
    vuc_save_end(&s.w, s.regs);
    n = drain(&s, buf + total, cap - total, 5000);
    assert_int_equal(n, 32 + 32 + 32 + 16);
    total += n;
    /* a consistent stream of a stale state */
    dst_open(&t, d, 0);
    assert_int_equal(feed_all(&t, buf, total, 1), 0);
    assert_int_equal(t.stage[12 * 4096], s.state[12 * 4096]);
    assert_int_not_equal(t.stage[4096], s.state[4096]);
    assert_int_not_equal(t.stage[15 * 4096 + 8], s.state[15 * 4096 + 8]);
    t.stage[4096] ^= 1;
    t.stage[15 * 4096 + 8] ^= 1;
    assert_memory_equal(t.stage, s.state, d.state_size);
    dst_close(&t);
    free(buf);
    src_close(&s);
}

/* Work done ahead changes no byte of the stream, and is dropped when the
 * state may change. */
static void test_work_ahead(void **state)
{
    struct vuc_stream_dev d = mkdev(64 * 1024, 4096, 16384, 32);
    size_t cap = 256 * 1024, n1, n2 = 0, k;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    struct src s;
    struct dst t;

    (void)state;
    assert_true(a && b);
    /* plain */
    src_open(&s, d, false, 61);
    vuc_save_end(&s.w, s.regs);
    n1 = drain(&s, a, cap, 5000);
    src_close(&s);
    /* the same stream with work ahead after every read */
    src_open(&s, d, false, 61);
    assert_false(vuc_save_work_ahead(&s.w)); /* HEADER first */
    vuc_save_end(&s.w, s.regs);
    do {
        k = vuc_save_read(&s.w, b + n2, 5000);
        n2 += k;
        if (vuc_save_work_ahead(&s.w))
            assert_false(vuc_save_work_ahead(&s.w)); /* done already */
    } while (k == 5000);
    assert_int_equal(n2, n1);
    assert_memory_equal(a, b, n1);
    assert_false(vuc_save_work_ahead(&s.w)); /* done */
    src_close(&s);

    /* work ahead, then the device runs and changes that chunk: the
     * stream carries the new bytes */
    src_open(&s, d, false, 62);
    n2 = vuc_save_read(&s.w, b, 64 + 32 + 100);
    assert_true(vuc_save_work_ahead(&s.w)); /* blocks 4..7 */
    vuc_save_live(&s.w, true);
    assert_false(vuc_save_work_ahead(&s.w)); /* not while live */
    s.state[5 * 4096] ^= 0xff;
    vuc_save_mark(&s.w, 5 * 4096, 1);
    vuc_save_live(&s.w, false);
    vuc_save_end(&s.w, s.regs);
    n2 += drain(&s, b + n2, cap - n2, 3000);
    dst_open(&t, d, 0);
    assert_int_equal(feed_all(&t, b, n2, 999), 0);
    assert_memory_equal(t.stage, s.state, d.state_size);
    dst_close(&t);
    src_close(&s);
    free(a);
    free(b);
}

/* The server's geometry: 4 KiB blocks, 1 MiB chunks, 1 MiB reads. */
static void test_server_geometry(void **state)
{
    struct vuc_stream_dev d = mkdev(5u << 20, 4096, 1u << 20, 4040);
    size_t cap = (6u << 20), len;
    uint8_t *buf = malloc(cap);
    struct src s;
    struct dst t;

    (void)state;
    assert_non_null(buf);
    src_open(&s, d, false, 51);
    vuc_save_end(&s.w, s.regs);
    len = drain(&s, buf, cap, 1u << 20);
    assert_int_equal(len, 64 + 5 * (32 + (1u << 20)) + 32 + 4040 + 48);
    dst_open(&t, d, 0);
    assert_int_equal(feed_all(&t, buf, len, 1u << 20), 0);
    assert_memory_equal(t.stage, s.state, d.state_size);
    assert_memory_equal(t.regs, s.regs, 4040);
    dst_close(&t);
    free(buf);
    src_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_agree),
        cmocka_unit_test(test_xxh64_vectors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_every_segmentation),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_other_device),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_empty_and_flags),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_live_dirty),
        cmocka_unit_test(test_lose_resent),
        cmocka_unit_test(test_work_ahead),
        cmocka_unit_test(test_server_geometry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
