// SPDX-License-Identifier: BSD-3-Clause
/*
 * The resume side of the migration stream (STREAM.md): an incremental
 * parser that takes the stream in any segmentation, one byte at a time
 * if need be, and writes chunk payloads straight into the staging state.
 *
 * Nothing in the stream is trusted: a record header is checked (magic,
 * its CRC, sequence, order, every length and offset against this
 * device's sizes) before one byte of its payload is accepted, so a
 * payload can never land outside stage or regs. Per-block CRCs are
 * taken as the bytes arrive; a chunk's CRC and the whole state's CRC are
 * combined from them, so nothing is read twice.
 */
#include <errno.h>
#include <string.h>

#include "stream_priv.h"

#define FLAGS_KNOWN (VUC_RESUME_NO_VERIFY | VUC_RESUME_TRUNCATED)

int vuc_resume_init(struct vuc_resume *r, const struct vuc_resume_cfg *cfg)
{
    if (!r || !cfg || !cfg->stage || !cfg->regs || !cfg->block_crc ||
        !cfg->covered || (cfg->flags & ~FLAGS_KNOWN))
        return -EINVAL;
    if (vuc_stream_dev_check(&cfg->dev) < 0)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->c = *cfg;
    r->nblocks = vuc_stream_blocks(&cfg->dev);
    r->block_op = vuc_crc32c_op(cfg->dev.block_size);
    memset(r->c.covered, 0, vuc_stream_words(&cfg->dev) * sizeof(uint64_t));
    return 0;
}

static bool verify(const struct vuc_resume *r)
{
    return !(r->c.flags & VUC_RESUME_NO_VERIFY);
}

/* A record header is complete: judge it before any payload. */
static int on_rec_hdr(struct vuc_resume *r)
{
    const struct vuc_stream_dev *d = &r->c.dev;
    struct rec_hdr h;

    if (!rec_decode(r->hdr, &h))
        return -EBADMSG;
    if (verify(r) && h.hcrc != rec_hcrc(r->hdr))
        return -EBADMSG;
    if (h.flags)
        return -EBADMSG;
    if (h.type < VUC_STREAM_REC_HEADER || h.type > VUC_STREAM_REC_END)
        return -EBADMSG;
    if (h.seq != r->next_seq)
        return -EPROTO;
    if ((h.type == VUC_STREAM_REC_HEADER) == r->seen_header)
        return -EPROTO; /* HEADER first, and only once */
    switch (h.type) {
    case VUC_STREAM_REC_HEADER:
        if (h.len != VUC_STREAM_HDR_LEN || h.offset)
            return -EBADMSG;
        break;
    case VUC_STREAM_REC_CHUNK:
        if (r->seen_regs)
            return -EPROTO;
        /* Bounded by the HEADER's chunk size and this device's state. */
        if (h.len == 0 || h.len > r->chunk_size || h.len % d->block_size ||
            h.offset % d->block_size || h.offset > d->state_size ||
            h.len > d->state_size - h.offset)
            return -EBADMSG;
        break;
    case VUC_STREAM_REC_REGS:
        if (r->seen_regs)
            return -EPROTO;
        if (h.len != d->regs_size || h.offset)
            return -EBADMSG;
        break;
    default: /* END */
        if (!r->seen_regs)
            return -EPROTO;
        if (h.len != VUC_STREAM_END_LEN || h.offset)
            return -EBADMSG;
        break;
    }
    r->next_seq++;
    r->type = h.type;
    r->len = h.len;
    r->off = h.offset;
    r->pcrc = h.pcrc;
    r->pgot = 0;
    r->rec_crc = 0;
    r->blk_crc = 0;
    r->in_payload = true;
    return 0;
}

static int on_header(struct vuc_resume *r)
{
    const struct vuc_stream_dev *d = &r->c.dev;
    const uint8_t *s = r->small;
    uint32_t chunk = vuc_get_u32(s + VUC_STREAM_HDR_CHUNK);

    if (vuc_get_u32(s + VUC_STREAM_HDR_VERSION) != VUC_STREAM_VERSION)
        return -EPROTONOSUPPORT;
    if (vuc_get_u16(s + VUC_STREAM_HDR_VENDOR) != d->vendor ||
        vuc_get_u16(s + VUC_STREAM_HDR_DEVICE) != d->device ||
        vuc_get_u64(s + VUC_STREAM_HDR_STATE_SIZE) != d->state_size ||
        vuc_get_u32(s + VUC_STREAM_HDR_BLOCK) != d->block_size ||
        vuc_get_u32(s + VUC_STREAM_HDR_REGS) != d->regs_size)
        return -ENODEV;
    if (chunk == 0 || chunk % d->block_size || chunk > VUC_STREAM_CHUNK_MAX ||
        vuc_get_u32(s + VUC_STREAM_HDR_RESERVED))
        return -EBADMSG;
    r->chunk_size = chunk;
    r->seen_header = true;
    return 0;
}

static int on_end(struct vuc_resume *r)
{
    const uint8_t *s = r->small;

    if (vuc_get_u64(s + VUC_STREAM_END_NCHUNKS) != r->nchunks ||
        vuc_get_u32(s + VUC_STREAM_END_RESERVED))
        return -EBADMSG;
    r->state_crc = vuc_get_u32(s + VUC_STREAM_END_STATE_CRC);
    r->seen_end = true;
    return 0;
}

/* The payload is complete. */
static int on_payload(struct vuc_resume *r)
{
    r->in_payload = false;
    r->hhave = 0;
    if (verify(r) && r->rec_crc != r->pcrc)
        return -EBADMSG;
    switch (r->type) {
    case VUC_STREAM_REC_HEADER:
        return on_header(r);
    case VUC_STREAM_REC_CHUNK:
        r->nchunks++;
        return 0;
    case VUC_STREAM_REC_REGS:
        r->seen_regs = true;
        return 0;
    default:
        return on_end(r);
    }
}

/* Block b of the chunk is complete with CRC crc. */
static void block_done(struct vuc_resume *r, uint64_t b, uint32_t crc)
{
    uint64_t bs = r->c.dev.block_size;

    r->rec_crc = b * bs == r->off
                     ? crc
                     : vuc_crc32c_combine_op(r->rec_crc, crc, r->block_op);
    if (!bit_test(r->c.covered, b)) {
        bit_set(r->c.covered, b);
        r->ncovered++;
    }
}

/* Up to n payload bytes of a CHUNK into stage; returns the bytes taken. */
static size_t take_chunk(struct vuc_resume *r, const uint8_t *p, size_t n)
{
    size_t bs = r->c.dev.block_size, done = 0;

    if (n > r->len - r->pgot)
        n = r->len - r->pgot;
    while (done < n) {
        uint64_t at = r->off + r->pgot;
        uint64_t b = at / bs;
        size_t in = (size_t)(at % bs), t;

        if (in == 0 && n - done >= bs) {
            size_t nb = (n - done) / bs;

            t = nb * bs;
            vuc_crc32c_copy_blocks(r->c.stage + at, p + done, nb, bs,
                                   r->c.block_crc + b);
            for (size_t i = 0; i < nb; i++)
                block_done(r, b + i, r->c.block_crc[b + i]);
        } else {
            t = bs - in;
            if (t > n - done)
                t = n - done;
            memcpy(r->c.stage + at, p + done, t);
            r->blk_crc = vuc_crc32c(in ? r->blk_crc : 0, p + done, t);
            if (in + t == bs) {
                r->c.block_crc[b] = r->blk_crc;
                block_done(r, b, r->blk_crc);
            }
        }
        done += t;
        r->pgot += t;
    }
    return n;
}

/* Up to n payload bytes of another record; returns the bytes taken. */
static size_t take_small(struct vuc_resume *r, const uint8_t *p, size_t n)
{
    uint8_t *dst = r->type == VUC_STREAM_REC_REGS ? r->c.regs : r->small;

    if (n > r->len - r->pgot)
        n = r->len - r->pgot;
    memcpy(dst + r->pgot, p, n);
    r->rec_crc = vuc_crc32c(r->rec_crc, p, n);
    r->pgot += n;
    return n;
}

static int fail(struct vuc_resume *r, int err)
{
    r->err = err;
    return err;
}

int vuc_resume_feed(struct vuc_resume *r, const uint8_t *p, size_t n)
{
    int rc;

    if (!r || (n && !p))
        return -EINVAL;
    if (r->err)
        return r->err;
    while (n) {
        size_t t;

        if (r->seen_end)
            return fail(r, -EPROTO); /* bytes after END */
        if (!r->in_payload) {
            t = VUC_STREAM_REC_HDR - r->hhave;
            if (t > n)
                t = n;
            memcpy(r->hdr + r->hhave, p, t);
            r->hhave += t;
            p += t;
            n -= t;
            if (r->hhave < VUC_STREAM_REC_HDR)
                break;
            rc = on_rec_hdr(r);
            if (rc < 0)
                return fail(r, rc);
        } else {
            t = r->type == VUC_STREAM_REC_CHUNK ? take_chunk(r, p, n)
                                                : take_small(r, p, n);
            p += t;
            n -= t;
        }
        if (r->in_payload && r->pgot == r->len) {
            rc = on_payload(r);
            if (rc < 0)
                return fail(r, rc);
        }
    }
    return 0;
}

int vuc_resume_finish(struct vuc_resume *r)
{
    if (!r)
        return -EINVAL;
    if (r->err)
        return r->err;
    if (!r->seen_end)
        return (r->c.flags & VUC_RESUME_TRUNCATED) ? 0 : -ENODATA;
    if (r->ncovered != r->nblocks)
        return -ENODATA;
    if (verify(r) &&
        crc_fold(r->c.block_crc, r->nblocks, r->block_op) != r->state_crc)
        return -EBADMSG;
    return 0;
}
