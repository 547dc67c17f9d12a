/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_resume: vucert-server's migration stream parser (vuc_resume_*,
 * include/vucert/stream.h, reference-server/STREAM.md) on the input, for
 * a small fixed device (FZR_*). Input format: fuzz_priv.h.
 *
 * Properties:
 * - feed returns 0 or one of its documented errors, and the first error
 *   sticks: every later feed and finish return it;
 * - the segmentation does not matter: the stream fed whole and fed in
 *   pieces (sizes from the seed byte) ends with the same verdict and,
 *   when accepted, the same staged state and registers;
 * - finish accepts exactly the streams this file's own whole-buffer
 *   validator, written from STREAM.md, accepts, and then the staged
 *   state and registers are the ones that validator assembled;
 * - a stream the writer (vuc_save) produces is accepted and loads the
 *   state it was saved from; the same stream with exactly one byte
 *   changed is rejected unless CRCs are off (a CRC-32C catches every
 *   error burst of up to 32 bits);
 * - vuc_crc32c (SSE4.2 when the CPU has it) and vuc_crc32c_sw agree on
 *   the input, and vuc_crc32c_combine joins two halves' CRCs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/stream.h"
#include "vucert/wire.h"
#include "fuzz_priv.h"

#define NBLOCKS (FZR_STATE / FZR_BLOCK)
#define NWORDS  ((NBLOCKS + 63) / 64)

static const struct vuc_stream_dev dev = {
    .vendor = FZR_VENDOR,
    .device = FZR_DEVICE,
    .state_size = FZR_STATE,
    .block_size = FZR_BLOCK,
    .chunk_size = FZR_CHUNK,
    .regs_size = FZR_REGS,
};

/* What a stream loads, or why not. */
struct load {
    bool ok;
    bool complete; /* END seen */
    int err;       /* the parser's verdict (ref: 0 or 1) */
    uint8_t stage[FZR_STATE];
    uint8_t regs[FZR_REGS];
};

/* ---- the reference: STREAM.md, whole buffer at once ---- */

static uint32_t crc(const void *p, size_t n)
{
    return vuc_crc32c_sw(0, p, n);
}

/*
 * Validate buf as a stream for dev. With fix, first make every CRC
 * right in place (record header and payload CRCs, and END's whole-state
 * CRC), so that only structure decides. Fills out->ok, complete, stage
 * and regs.
 */
static void ref_parse(uint8_t *buf, size_t len, bool fix, bool verify,
                      bool truncated, struct load *out)
{
    bool covered[NBLOCKS] = {false};
    bool seen_header = false, seen_regs = false;
    uint64_t nchunks = 0;
    uint32_t seq = 0, chunk_size = 0, state_crc = 0;
    size_t pos = 0;

    memset(out, 0, sizeof(*out));
    out->ok = false;
    while (pos < len) {
        uint8_t *h = buf + pos, *pl;
        uint32_t type, plen;
        uint64_t off;
        size_t have;

        if (out->complete)
            return; /* nothing may follow END */
        if (len - pos < VUC_STREAM_REC_HDR)
            goto cut; /* a cut record header */
        plen = vuc_get_u32(h + VUC_STREAM_RH_LEN);
        have = len - pos - VUC_STREAM_REC_HDR;
        pl = h + VUC_STREAM_REC_HDR;
        if (fix) {
            if (plen <= have)
                vuc_put_u32(h + VUC_STREAM_RH_PCRC, crc(pl, plen));
            vuc_put_u32(h + VUC_STREAM_RH_HCRC, crc(h, 28));
        }
        type = vuc_get_u16(h + VUC_STREAM_RH_TYPE);
        off = vuc_get_u64(h + VUC_STREAM_RH_OFFSET);
        if (vuc_get_u32(h + VUC_STREAM_RH_MAGIC) != VUC_STREAM_REC_MAGIC ||
            (verify && crc(h, 28) != vuc_get_u32(h + VUC_STREAM_RH_HCRC)) ||
            vuc_get_u16(h + VUC_STREAM_RH_FLAGS) != 0 ||
            vuc_get_u32(h + VUC_STREAM_RH_SEQ) != seq)
            return;
        /* order: HEADER first and once; CHUNKs, then REGS once, then END */
        if (type < VUC_STREAM_REC_HEADER || type > VUC_STREAM_REC_END ||
            seen_header != (type != VUC_STREAM_REC_HEADER) ||
            (type == VUC_STREAM_REC_CHUNK && seen_regs) ||
            (type == VUC_STREAM_REC_REGS && seen_regs) ||
            (type == VUC_STREAM_REC_END && !seen_regs))
            return;
        /* lengths and offsets: "others 0" */
        if (type == VUC_STREAM_REC_CHUNK) {
            if (plen == 0 || plen % FZR_BLOCK || plen > chunk_size ||
                off % FZR_BLOCK || off > FZR_STATE || plen > FZR_STATE - off)
                return;
        } else if (off != 0 ||
                   plen != (type == VUC_STREAM_REC_HEADER ? VUC_STREAM_HDR_LEN
                            : type == VUC_STREAM_REC_REGS
                                ? FZR_REGS
                                : VUC_STREAM_END_LEN)) {
            return;
        }
        if (plen > have)
            goto cut; /* a cut payload */
        if (verify && crc(pl, plen) != vuc_get_u32(h + VUC_STREAM_RH_PCRC))
            return;
        switch (type) {
        case VUC_STREAM_REC_HEADER:
            chunk_size = vuc_get_u32(pl + VUC_STREAM_HDR_CHUNK);
            if (vuc_get_u32(pl + VUC_STREAM_HDR_VERSION) !=
                    VUC_STREAM_VERSION ||
                vuc_get_u16(pl + VUC_STREAM_HDR_VENDOR) != FZR_VENDOR ||
                vuc_get_u16(pl + VUC_STREAM_HDR_DEVICE) != FZR_DEVICE ||
                vuc_get_u64(pl + VUC_STREAM_HDR_STATE_SIZE) != FZR_STATE ||
                vuc_get_u32(pl + VUC_STREAM_HDR_BLOCK) != FZR_BLOCK ||
                vuc_get_u32(pl + VUC_STREAM_HDR_REGS) != FZR_REGS ||
                vuc_get_u32(pl + VUC_STREAM_HDR_RESERVED) != 0 ||
                chunk_size == 0 || chunk_size % FZR_BLOCK ||
                chunk_size > VUC_STREAM_CHUNK_MAX)
                return;
            seen_header = true;
            break;
        case VUC_STREAM_REC_CHUNK:
            memcpy(out->stage + off, pl, plen);
            for (uint64_t b = off / FZR_BLOCK; b < (off + plen) / FZR_BLOCK;
                 b++)
                covered[b] = true;
            nchunks++;
            break;
        case VUC_STREAM_REC_REGS:
            memcpy(out->regs, pl, FZR_REGS);
            seen_regs = true;
            break;
        default: /* END */
            if (fix) {
                vuc_put_u32(pl + VUC_STREAM_END_STATE_CRC,
                            crc(out->stage, FZR_STATE));
                vuc_put_u32(h + VUC_STREAM_RH_PCRC, crc(pl, plen));
                vuc_put_u32(h + VUC_STREAM_RH_HCRC, crc(h, 28));
            }
            if (vuc_get_u64(pl + VUC_STREAM_END_NCHUNKS) != nchunks ||
                vuc_get_u32(pl + VUC_STREAM_END_RESERVED) != 0)
                return;
            state_crc = vuc_get_u32(pl + VUC_STREAM_END_STATE_CRC);
            out->complete = true;
            break;
        }
        seq++;
        pos += VUC_STREAM_REC_HDR + plen;
    }
    if (!out->complete)
        goto cut;
    for (size_t b = 0; b < NBLOCKS; b++)
        if (!covered[b])
            return; /* a block never sent */
    if (verify && crc(out->stage, FZR_STATE) != state_crc)
        return;
    out->ok = true;
    return;
cut:
    /* Incomplete: only a parser told to take a cut stream accepts it. */
    out->ok = truncated;
}

/* ---- the parser under test ---- */

static bool feed_err_ok(int rc)
{
    return rc == 0 || rc == -EBADMSG || rc == -EPROTO ||
           rc == -EPROTONOSUPPORT || rc == -ENODEV;
}

/* xorshift32: piece sizes from the seed */
static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/*
 * Parse buf in pieces (seed 0: whole) and finish. out->err is finish's
 * verdict; on success stage and regs are what the parser staged.
 */
static void parse(const uint8_t *buf, size_t len, unsigned flags, uint32_t seed,
                  struct load *out)
{
    static uint32_t block_crc[NBLOCKS];
    static uint64_t covered[NWORDS];
    struct vuc_resume r;
    struct vuc_resume_cfg cfg = {
        .dev = dev,
        .stage = out->stage,
        .regs = out->regs,
        .block_crc = block_crc,
        .covered = covered,
        .flags = flags,
    };
    uint32_t x = seed * 2654435761u + 1u;
    int first = 0, rc;

    /* "contents before: anything" */
    memset(out->stage, 0xee, sizeof(out->stage));
    memset(out->regs, 0xee, sizeof(out->regs));
    FZ_CHECK(vuc_resume_init(&r, &cfg) == 0, "vuc_resume_init");
    for (size_t at = 0; at < len || at == 0;) {
        size_t n = len - at;

        if (seed && n > 0) {
            /* mostly small pieces, now and then a large one */
            uint32_t v = next_rand(&x);

            n = (v & 0x300) ? 1 + (v & 63) : 1 + (v % 4096);
            if (n > len - at)
                n = len - at;
        }
        rc = vuc_resume_feed(&r, len ? buf + at : NULL, n);
        FZ_CHECK(feed_err_ok(rc), "feed returned %d", rc);
        FZ_CHECK(first == 0 || rc == first, "error %d did not stick (%d)",
                 first, rc);
        if (first == 0)
            first = rc;
        at += n;
        if (n == 0)
            break;
    }
    out->err = vuc_resume_finish(&r);
    FZ_CHECK(first == 0 || out->err == first,
             "finish returned %d after feed failed with %d", out->err, first);
    FZ_CHECK(first != 0 || out->err == 0 || out->err == -ENODATA ||
                 out->err == -EBADMSG,
             "finish returned %d", out->err);
    FZ_CHECK(vuc_resume_finish(&r) == out->err, "finish is not repeatable");
    out->ok = out->err == 0;
    out->complete = r.seen_end;
}

/* ---- the target ---- */

static void check_crc(const uint8_t *p, size_t n)
{
    size_t h = n / 2;
    uint32_t a = vuc_crc32c(0, p, h), b = vuc_crc32c(0, p + h, n - h);
    uint32_t all = vuc_crc32c(0, p, n);

    FZ_CHECK(all == vuc_crc32c_sw(0, p, n), "CRC-32C sw and hw differ");
    FZ_CHECK(vuc_crc32c(a, p + h, n - h) == all, "CRC-32C chaining");
    FZ_CHECK(vuc_crc32c_combine(a, b, n - h) == all, "CRC-32C combine");
}

static void check_stream(uint8_t *buf, size_t len, unsigned pflags,
                         uint32_t seed, bool fix)
{
    static struct load ref, whole, pieces;
    bool verify = !(pflags & VUC_RESUME_NO_VERIFY);
    bool trunc = (pflags & VUC_RESUME_TRUNCATED) != 0;

    ref_parse(buf, len, fix, verify, trunc, &ref);
    parse(buf, len, pflags, 0, &whole);
    parse(buf, len, pflags, seed | 1u, &pieces);
    FZ_CHECK(whole.err == pieces.err, "whole %d, in pieces %d", whole.err,
             pieces.err);
    FZ_CHECK(whole.ok == ref.ok, "the parser says %d, STREAM.md says %s",
             whole.err, ref.ok ? "valid" : "invalid");
    if (!whole.ok)
        return;
    FZ_CHECK(memcmp(whole.regs, pieces.regs, FZR_REGS) == 0 || !ref.complete,
             "registers depend on the segmentation");
    if (!ref.complete)
        return; /* a cut stream: what it stages is the device's business */
    FZ_CHECK(memcmp(whole.stage, pieces.stage, FZR_STATE) == 0,
             "the state depends on the segmentation");
    FZ_CHECK(memcmp(whole.stage, ref.stage, FZR_STATE) == 0,
             "the staged state is not the stream's");
    FZ_CHECK(memcmp(whole.regs, ref.regs, FZR_REGS) == 0,
             "the registers are not the stream's");
}

/* A valid stream of state and regs from the writer; returns its length. */
static size_t save(const uint8_t *state, const uint8_t *regs, uint8_t *out,
                   size_t cap)
{
    static uint64_t pending[NWORDS];
    static uint32_t sent_crc[NBLOCKS];
    static uint8_t copybuf[FZR_CHUNK];
    struct vuc_save w;
    struct vuc_save_cfg cfg = {
        .dev = dev,
        .state = state,
        .pending = pending,
        .sent_crc = sent_crc,
        .copybuf = copybuf,
        .live = false,
    };
    size_t n = 0, got;

    FZ_CHECK(vuc_save_init(&w, &cfg) == 0, "vuc_save_init");
    vuc_save_end(&w, regs);
    while ((got = vuc_save_read(&w, out + n, cap - n)) > 0)
        n += got;
    FZ_CHECK(vuc_save_done(&w) && n < cap, "the writer did not finish");
    return n;
}

static void mutate(struct fz_in *in, unsigned pflags, uint32_t seed)
{
    static uint8_t state[FZR_STATE], regs[FZR_REGS], orig[8192], buf[8192];
    static struct load got;
    uint32_t x = fz_u8(in) * 2654435761u + 7u;
    size_t len, changed = 0, first = 0;
    struct fz_in pairs;

    for (size_t i = 0; i < FZR_STATE; i += 4)
        vuc_put_u32(state + i, next_rand(&x));
    for (size_t i = 0; i < FZR_REGS; i++)
        regs[i] = (uint8_t)next_rand(&x);
    len = save(state, regs, orig, sizeof(orig));

    /* the round trip: the writer's stream loads the state it came from */
    parse(orig, len, pflags, seed | 1u, &got);
    FZ_CHECK(got.ok && memcmp(got.stage, state, FZR_STATE) == 0 &&
                 memcmp(got.regs, regs, FZR_REGS) == 0,
             "the writer's stream does not load its state (%d)", got.err);

    memcpy(buf, orig, len);
    pairs = *in;
    while (in->n >= 3) {
        size_t pos = fz_u16(in) % len;

        buf[pos] ^= fz_u8(in);
    }
    /*
     * Whether one byte changed, or more (changed stops at 2): only the
     * positions the input named can differ. A second pass over the input
     * costs less than comparing the whole stream byte by byte did.
     */
    for (struct fz_in again = pairs; again.n >= 3 && changed < 2;) {
        size_t pos = fz_u16(&again) % len;

        (void)fz_u8(&again);
        if (buf[pos] != orig[pos] && (changed == 0 || pos != first)) {
            first = pos;
            changed++;
        }
    }
#ifdef FZR_COUNT_ALL
    {
        /* the old count, over every byte (fuzz_resume_models_replay) */
        size_t all = 0;

        for (size_t i = 0; i < len; i++)
            all += buf[i] != orig[i];
        FZ_CHECK((all < 2 ? all : 2) == changed,
                 "%zu bytes changed, counted %zu", all, changed);
    }
#endif
    check_stream(buf, len, pflags, seed, false);
    if (changed == 1 && !(pflags & VUC_RESUME_NO_VERIFY)) {
        parse(buf, len, pflags, 0, &got);
        FZ_CHECK(!got.ok, "a stream with one byte changed was accepted");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    uint8_t mode, seed;
    unsigned pflags = 0;
    uint8_t *buf;

    if (size < 2)
        return 0;
    check_crc(data, size);
    mode = fz_u8(&in);
    seed = fz_u8(&in);
    if (mode & FZR_MODE_NO_VERIFY)
        pflags |= VUC_RESUME_NO_VERIFY;
    if (mode & FZR_MODE_TRUNCATED)
        pflags |= VUC_RESUME_TRUNCATED;
    switch (mode & FZR_MODE_KIND) {
    case FZR_MODE_MUTATE:
        mutate(&in, pflags, seed);
        break;
    case FZR_MODE_FIX:
    case FZR_MODE_RAW:
        /* an exact-size copy: the reference may rewrite CRCs in place */
        buf = malloc(in.n ? in.n : 1);
        FZ_CHECK(buf != NULL, "malloc");
        memcpy(buf, in.p, in.n);
        check_stream(buf, in.n, pflags, seed,
                     (mode & FZR_MODE_KIND) == FZR_MODE_FIX);
        free(buf);
        break;
    default:
        break;
    }
    return 0;
}
