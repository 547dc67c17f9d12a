/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vucert-server's migration stream (reference-server/STREAM.md): the
 * checksums it uses, the save-side writer and the resume-side parser.
 *
 * Everything here is pure: no I/O, no allocation, no globals. The caller
 * owns every buffer (sizes from vuc_stream_words / vuc_stream_blocks),
 * so a fuzz target can drive the parser with nothing but bytes. Nothing
 * that stream bytes can reach asserts or aborts; errors are -errno.
 *
 * The stream is a sequence of records, each a 32-byte record header and
 * a payload:
 *
 *   HEADER  device identity, sizes            (first, seq 0)
 *   CHUNK   a block-aligned range of the state (any number, any order)
 *   REGS    the register part of the state    (once, after the chunks)
 *   END     chunk count and whole-state CRC    (last)
 *
 * Sequence numbers count records from 0 without gaps. Every record
 * header carries a CRC32C of itself and of its payload.
 */
#ifndef VUCERT_STREAM_H
#define VUCERT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- checksums ---- */

/*
 * CRC-32C (Castagnoli; iSCSI, RFC 3720): reflected polynomial 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF; check value of "123456789" is
 * 0xE3069283. zlib-style chaining: crc is the CRC of the bytes so far (0
 * to start), so vuc_crc32c(vuc_crc32c(0, a, na), b, nb) is the CRC of a
 * followed by b. Uses the SSE4.2 instruction when the CPU has it, else
 * vuc_crc32c_sw; the results are identical.
 */
uint32_t vuc_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table-driven version (slicing-by-8). */
uint32_t vuc_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* out[i] = vuc_crc32c(0, p + i * bs, bs) for i < n: several blocks at
 * once, interleaved for throughput. */
void vuc_crc32c_blocks(const uint8_t *p, size_t n, size_t bs, uint32_t *out);
/* vuc_crc32c_blocks(src, ...) and memcpy(dst, src, n * bs) in one pass
 * (dst and src must not overlap): the copy rides along with the CRC. */
void vuc_crc32c_copy_blocks(uint8_t *dst, const uint8_t *src, size_t n,
                            size_t bs, uint32_t *out);
/* The CRC of A followed by B from crc1 = CRC(A), crc2 = CRC(B) and
 * len2 = |B|, without the data (as zlib's crc32_combine). */
uint32_t vuc_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
/* The same with the length folded into op = vuc_crc32c_op(len2), for
 * combining many pieces of one length. */
uint32_t vuc_crc32c_op(uint64_t len2);
uint32_t vuc_crc32c_combine_op(uint32_t crc1, uint32_t crc2, uint32_t op);

/*
 * XXH64 (Yann Collet's xxHash, 64-bit variant, as specified in
 * xxhash's doc/xxhash_spec.md), one shot and streaming. XXH64 of no
 * bytes with seed 0 is 0xEF46DB3751D8E999.
 */
struct vuc_xxh64 {
    uint64_t v[4];
    uint64_t total;
    uint64_t seed;
    uint8_t mem[32];
    size_t memsize;
};
uint64_t vuc_xxh64(const void *buf, size_t len, uint64_t seed);
void vuc_xxh64_init(struct vuc_xxh64 *h, uint64_t seed);
void vuc_xxh64_update(struct vuc_xxh64 *h, const void *buf, size_t len);
uint64_t vuc_xxh64_digest(const struct vuc_xxh64 *h);

/* ---- format (STREAM.md) ---- */

#define VUC_STREAM_REC_MAGIC 0x52435556u /* "VUCR" in little endian */
#define VUC_STREAM_VERSION   2u
#define VUC_STREAM_REC_HDR   32u /* record header bytes */

enum vuc_stream_rec {
    VUC_STREAM_REC_HEADER = 1,
    VUC_STREAM_REC_CHUNK = 2,
    VUC_STREAM_REC_REGS = 3,
    VUC_STREAM_REC_END = 4,
};

/* Record header field offsets. */
#define VUC_STREAM_RH_MAGIC  0u  /* u32 VUC_STREAM_REC_MAGIC */
#define VUC_STREAM_RH_TYPE   4u  /* u16 enum vuc_stream_rec */
#define VUC_STREAM_RH_FLAGS  6u  /* u16 0 */
#define VUC_STREAM_RH_SEQ    8u  /* u32 record number, from 0 */
#define VUC_STREAM_RH_LEN    12u /* u32 payload bytes */
#define VUC_STREAM_RH_OFFSET 16u /* u64 CHUNK: byte offset in the state */
#define VUC_STREAM_RH_PCRC   24u /* u32 CRC32C of the payload */
#define VUC_STREAM_RH_HCRC   28u /* u32 CRC32C of bytes 0..27 */

/* HEADER payload. */
#define VUC_STREAM_HDR_LEN        32u
#define VUC_STREAM_HDR_VERSION    0u  /* u32 VUC_STREAM_VERSION */
#define VUC_STREAM_HDR_VENDOR     4u  /* u16 PCI vendor id */
#define VUC_STREAM_HDR_DEVICE     6u  /* u16 PCI device id */
#define VUC_STREAM_HDR_STATE_SIZE 8u  /* u64 bytes of state */
#define VUC_STREAM_HDR_BLOCK      16u /* u32 block size */
#define VUC_STREAM_HDR_CHUNK      20u /* u32 largest CHUNK payload */
#define VUC_STREAM_HDR_REGS       24u /* u32 REGS payload bytes */
#define VUC_STREAM_HDR_RESERVED   28u /* u32 0 */

/* END payload. */
#define VUC_STREAM_END_LEN       16u
#define VUC_STREAM_END_NCHUNKS   0u  /* u64 CHUNK records in the stream */
#define VUC_STREAM_END_RESERVED  8u  /* u32 0 */
#define VUC_STREAM_END_STATE_CRC 12u /* u32 CRC32C of the whole state */

/* Limits the parser enforces whatever the device. */
#define VUC_STREAM_BLOCK_MIN 64u
#define VUC_STREAM_BLOCK_MAX (1u << 20)
#define VUC_STREAM_CHUNK_MAX (64u << 20)
#define VUC_STREAM_REGS_MAX  (1u << 20)

/*
 * A device as the stream describes it. state_size is a non-zero multiple
 * of block_size, a power of two in [BLOCK_MIN, BLOCK_MAX]; chunk_size a
 * multiple of block_size up to CHUNK_MAX (the writer's largest CHUNK;
 * the parser goes by the chunk size in the stream's HEADER, which must
 * obey the same rule); regs_size in [1, REGS_MAX].
 * vuc_stream_dev_check says whether d is valid.
 */
struct vuc_stream_dev {
    uint16_t vendor;
    uint16_t device;
    uint64_t state_size;
    uint32_t block_size;
    uint32_t chunk_size;
    uint32_t regs_size;
};

/* 0 or -EINVAL. */
int vuc_stream_dev_check(const struct vuc_stream_dev *d);
/* Blocks in the state, and u64 words of a bitmap with a bit per block.
 * d must be valid. */
uint64_t vuc_stream_blocks(const struct vuc_stream_dev *d);
uint64_t vuc_stream_words(const struct vuc_stream_dev *d);

/* ---- save: the writer ---- */

/*
 * The writer hands out the stream in pieces that point into the state
 * (no copy) or into its own record headers. Its caller owns:
 *   state     state_size bytes, read only here
 *   pending   vuc_stream_words() u64: bit b set = block b must be sent
 *   sent_crc  vuc_stream_blocks() u32: CRC32C of each block as sent
 *   copybuf   chunk_size bytes: chunk payloads are copied here first
 *             while the device is live (it may change the state between
 *             two calls, and a chunk must match the CRC in its header)
 *
 * Order: HEADER, then the pending blocks in CHUNK records of up to
 * chunk_size bytes, scanning from where it left off and wrapping around
 * (so a block changed after it was sent goes out again), then, once
 * vuc_save_end has been called and nothing is pending, REGS and END.
 */
struct vuc_save {
    struct vuc_stream_dev dev;
    const uint8_t *state;
    uint64_t *pending;
    uint32_t *sent_crc;
    uint8_t *copybuf;
    const uint8_t *regs; /* from vuc_save_end */
    uint64_t nblocks;
    uint32_t block_op; /* vuc_crc32c_op(block_size) */
    uint64_t cursor;   /* next block to look at */
    bool wrapped;      /* every block has been sent at least once */
    bool lose_resent;
    bool live;
    bool ending;
    bool done;     /* END has been handed out entirely */
    int next_type; /* the record to start next, 0: chunks */
    uint32_t seq;
    uint64_t nchunks;
    uint64_t sent_bytes;
    /* CRCs of the chunk [ahead_b, ahead_e) computed ahead of time */
    uint64_t ahead_b, ahead_e;
    uint32_t ahead_crc;
    /* the record being handed out */
    bool in_rec;
    uint16_t type;
    uint8_t hdr[VUC_STREAM_REC_HDR];
    uint8_t small[VUC_STREAM_HDR_LEN];
    const uint8_t *payload;
    size_t plen;
    size_t pos; /* over header + payload */
    bool stable;
};

struct vuc_save_cfg {
    struct vuc_stream_dev dev;
    const uint8_t *state;
    uint64_t *pending;
    uint32_t *sent_crc;
    uint8_t *copybuf;
    bool live; /* the device runs: it may change the state */
    /* Changes to blocks already sent are not tracked, so they never go
     * out again: the precopy-loses-dirty-state quirk, nothing else. */
    bool lose_resent;
};

/* Start a stream: every block pending. Errors: -EINVAL (NULL pointer,
 * invalid dev). */
int vuc_save_init(struct vuc_save *w, const struct vuc_save_cfg *cfg);
/* Whether the device may change the state between calls. */
void vuc_save_live(struct vuc_save *w, bool live);
/* The device changed bytes [off, off + len) of the state: their blocks
 * are pending again (out of range bytes are ignored; with lose_resent,
 * so are blocks already sent). */
void vuc_save_mark(struct vuc_save *w, uint64_t off, uint64_t len);
/* The device has stopped: after what is pending, send REGS (regs_size
 * bytes at regs, which must stay unchanged until handed out) and END. */
void vuc_save_end(struct vuc_save *w, const uint8_t *regs);

/*
 * The next piece of the stream: at most max bytes, at *p. Returns its
 * length, 0 when nothing is ready (before vuc_save_end: nothing for now;
 * after it: the end of the stream). *stable tells whether *p points into
 * the state with the device stopped (it stays valid as long as the
 * state is not written); otherwise it is valid until the next call on w.
 */
size_t vuc_save_next(struct vuc_save *w, size_t max, const uint8_t **p,
                     bool *stable);
/* vuc_save_next into dst until n bytes or nothing is ready; returns the
 * bytes copied. */
size_t vuc_save_read(struct vuc_save *w, uint8_t *dst, size_t n);
/*
 * While the device is stopped, compute the CRCs of the chunk that comes
 * after the current record, so that the next call that starts it has
 * nothing left to compute: a server calls this after a reply has gone,
 * while the client is still reading it. Returns true if it did work.
 */
bool vuc_save_work_ahead(struct vuc_save *w);
/* true once END has been handed out entirely. */
bool vuc_save_done(const struct vuc_save *w);

/* ---- resume: the parser ---- */

/* Policy flags; 0 is the strict parser. */
#define VUC_RESUME_NO_VERIFY (1u << 0) /* ignore every CRC (a quirk) */
#define VUC_RESUME_TRUNCATED (1u << 1) /* finish accepts a cut stream */

/*
 * The parser writes chunk payloads straight into stage and the REGS
 * payload into regs. Its caller owns:
 *   stage      state_size bytes (contents before: anything)
 *   regs       regs_size bytes
 *   block_crc  vuc_stream_blocks() u32
 *   covered    vuc_stream_words() u64, cleared by vuc_resume_init
 * dev is this device; a HEADER that names another fails the stream.
 */
struct vuc_resume_cfg {
    struct vuc_stream_dev dev;
    uint8_t *stage;
    uint8_t *regs;
    uint32_t *block_crc;
    uint64_t *covered;
    unsigned flags;
};

struct vuc_resume {
    struct vuc_resume_cfg c;
    uint64_t nblocks;
    uint32_t block_op;
    int err; /* first error, sticky */
    /* the record being received */
    uint8_t hdr[VUC_STREAM_REC_HDR];
    size_t hhave;
    bool in_payload;
    uint16_t type;
    uint32_t len;
    uint64_t off;
    uint32_t pcrc;
    size_t pgot;
    uint32_t blk_crc; /* CRC of the block being received so far */
    uint32_t rec_crc; /* CRC of the record's payload so far */
    uint8_t small[VUC_STREAM_HDR_LEN];
    /* the stream so far */
    uint32_t next_seq;
    uint32_t chunk_size; /* from HEADER */
    bool seen_header;
    bool seen_regs;
    bool seen_end;
    uint64_t nchunks;
    uint64_t ncovered;
    uint32_t state_crc; /* from END */
};

/* Start a parse. Errors: -EINVAL (NULL pointer, invalid dev, unknown
 * flags). */
int vuc_resume_init(struct vuc_resume *r, const struct vuc_resume_cfg *cfg);
/*
 * Consume n more bytes of the stream, in any segmentation. Returns 0, or
 * the first error, which sticks (later calls return it too):
 *   -EINVAL           p NULL with n > 0
 *   -EBADMSG          a record is corrupt or malformed: magic, a CRC,
 *                     flags or reserved bits not 0, unknown type, a
 *                     length or offset out of bounds or not
 *                     block-aligned, an END whose count is wrong
 *   -EPROTO           records out of order: a sequence number gap, the
 *                     first record not HEADER, a second HEADER or REGS,
 *                     CHUNK after REGS, END before REGS, bytes after END
 *   -EPROTONOSUPPORT  the HEADER's format version is not this one
 *   -ENODEV           the HEADER names another device: vendor, device,
 *                     state size, block size or registers size differ
 */
int vuc_resume_feed(struct vuc_resume *r, const uint8_t *p, size_t n);
/*
 * The stream has ended: check it is whole and right. Returns 0, the
 * sticky error of feed, or:
 *   -ENODATA  incomplete: no END (cut anywhere, nothing at all), or a
 *             block of the state never sent
 *   -EBADMSG  the state assembled does not have END's CRC
 * With VUC_RESUME_TRUNCATED a stream without END is accepted as it is.
 */
int vuc_resume_finish(struct vuc_resume *r);

#endif /* VUCERT_STREAM_H */
