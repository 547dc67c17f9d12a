// SPDX-License-Identifier: BSD-3-Clause
/*
 * The migration stream format (STREAM.md): device descriptions, record
 * headers, and the block bitmaps that the writer and the parser both
 * keep.
 */
#include <errno.h>

#include "stream_priv.h"

static bool pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

int vuc_stream_dev_check(const struct vuc_stream_dev *d)
{
    if (!d)
        return -EINVAL;
    if (!pow2(d->block_size) || d->block_size < VUC_STREAM_BLOCK_MIN ||
        d->block_size > VUC_STREAM_BLOCK_MAX)
        return -EINVAL;
    if (d->state_size == 0 || d->state_size % d->block_size)
        return -EINVAL;
    /* Block numbers and byte offsets must fit everywhere they are used. */
    if (d->state_size / d->block_size > (uint64_t)SIZE_MAX / 8 ||
        d->state_size > (uint64_t)SIZE_MAX / 2)
        return -EINVAL;
    if (d->chunk_size == 0 || d->chunk_size % d->block_size ||
        d->chunk_size > VUC_STREAM_CHUNK_MAX)
        return -EINVAL;
    if (d->regs_size == 0 || d->regs_size > VUC_STREAM_REGS_MAX)
        return -EINVAL;
    return 0;
}

uint64_t vuc_stream_blocks(const struct vuc_stream_dev *d)
{
    return d->state_size / d->block_size;
}

uint64_t vuc_stream_words(const struct vuc_stream_dev *d)
{
    return (vuc_stream_blocks(d) + 63) / 64;
}

uint32_t rec_hcrc(const uint8_t in[VUC_STREAM_REC_HDR])
{
    return vuc_crc32c(0, in, VUC_STREAM_RH_HCRC);
}

void rec_encode(uint8_t out[VUC_STREAM_REC_HDR], uint16_t type, uint32_t seq,
                uint32_t len, uint64_t offset, uint32_t pcrc)
{
    vuc_put_u32(out + VUC_STREAM_RH_MAGIC, VUC_STREAM_REC_MAGIC);
    vuc_put_u16(out + VUC_STREAM_RH_TYPE, type);
    vuc_put_u16(out + VUC_STREAM_RH_FLAGS, 0);
    vuc_put_u32(out + VUC_STREAM_RH_SEQ, seq);
    vuc_put_u32(out + VUC_STREAM_RH_LEN, len);
    vuc_put_u64(out + VUC_STREAM_RH_OFFSET, offset);
    vuc_put_u32(out + VUC_STREAM_RH_PCRC, pcrc);
    vuc_put_u32(out + VUC_STREAM_RH_HCRC, rec_hcrc(out));
}

bool rec_decode(const uint8_t in[VUC_STREAM_REC_HDR], struct rec_hdr *h)
{
    h->type = vuc_get_u16(in + VUC_STREAM_RH_TYPE);
    h->flags = vuc_get_u16(in + VUC_STREAM_RH_FLAGS);
    h->seq = vuc_get_u32(in + VUC_STREAM_RH_SEQ);
    h->len = vuc_get_u32(in + VUC_STREAM_RH_LEN);
    h->offset = vuc_get_u64(in + VUC_STREAM_RH_OFFSET);
    h->pcrc = vuc_get_u32(in + VUC_STREAM_RH_PCRC);
    h->hcrc = vuc_get_u32(in + VUC_STREAM_RH_HCRC);
    return vuc_get_u32(in + VUC_STREAM_RH_MAGIC) == VUC_STREAM_REC_MAGIC;
}

void bits_fill(uint64_t *map, uint64_t from, uint64_t to, bool value)
{
    while (from < to && from % 64) {
        value ? bit_set(map, from) : bit_clear(map, from);
        from++;
    }
    while (to - from >= 64) {
        map[from / 64] = value ? ~0ull : 0;
        from += 64;
    }
    while (from < to) {
        value ? bit_set(map, from) : bit_clear(map, from);
        from++;
    }
}

uint64_t bits_next(const uint64_t *map, uint64_t from, uint64_t to)
{
    while (from < to) {
        uint64_t w = map[from / 64] >> (from % 64);

        if (w) {
            uint64_t b = from + (uint64_t)__builtin_ctzll(w);

            return b < to ? b : to;
        }
        from = (from / 64 + 1) * 64;
    }
    return to;
}

uint32_t crc_fold(const uint32_t *crc, uint64_t n, uint32_t op)
{
    uint32_t acc;

    if (n == 0)
        return 0;
    acc = crc[0];
    for (uint64_t i = 1; i < n; i++)
        acc = vuc_crc32c_combine_op(acc, crc[i], op);
    return acc;
}
