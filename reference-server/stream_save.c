// SPDX-License-Identifier: BSD-3-Clause
/*
 * The save side of the migration stream (STREAM.md): turns a device
 * state and its pending-block bitmap into records, handed out in pieces
 * so the server can put them in a MIG_DATA_READ reply without copying
 * the state (zero-copy while the device is stopped).
 *
 * A chunk's CRC must describe the bytes that follow its header, which
 * may go out over many reads. While the device is live (PRE_COPY) it
 * can change the state between two reads, so a chunk's payload is
 * copied to copybuf when its record starts and the CRC taken from the
 * copy; a change after that marks the block pending again, so it goes
 * out once more. Stopped (STOP_COPY), the state cannot change and the
 * payload is handed out from the state itself.
 */
#include <errno.h>
#include <string.h>

#include "stream_priv.h"

int vuc_save_init(struct vuc_save *w, const struct vuc_save_cfg *cfg)
{
    if (!w || !cfg || !cfg->state || !cfg->pending || !cfg->sent_crc ||
        !cfg->copybuf)
        return -EINVAL;
    if (vuc_stream_dev_check(&cfg->dev) < 0)
        return -EINVAL;
    memset(w, 0, sizeof(*w));
    w->dev = cfg->dev;
    w->state = cfg->state;
    w->pending = cfg->pending;
    w->sent_crc = cfg->sent_crc;
    w->copybuf = cfg->copybuf;
    w->live = cfg->live;
    w->lose_resent = cfg->lose_resent;
    w->nblocks = vuc_stream_blocks(&w->dev);
    w->block_op = vuc_crc32c_op(w->dev.block_size);
    w->next_type = VUC_STREAM_REC_HEADER;
    memset(w->pending, 0, vuc_stream_words(&w->dev) * sizeof(uint64_t));
    bits_fill(w->pending, 0, w->nblocks, true);
    return 0;
}

/* Work done ahead no longer holds (the state may change). */
static void ahead_drop(struct vuc_save *w)
{
    w->ahead_b = w->ahead_e = 0;
}

void vuc_save_live(struct vuc_save *w, bool live)
{
    ahead_drop(w);
    /* A chunk handed out from the state must not see the device run:
     * take the rest of it from a copy (the state is still unchanged). */
    if (live && w->in_rec && w->stable) {
        memcpy(w->copybuf, w->payload, w->plen);
        w->payload = w->copybuf;
        w->stable = false;
    }
    w->live = live;
}

void vuc_save_mark(struct vuc_save *w, uint64_t off, uint64_t len)
{
    uint64_t end, from, to;

    if (len == 0 || off >= w->dev.state_size)
        return;
    if (__builtin_add_overflow(off, len, &end) || end > w->dev.state_size)
        end = w->dev.state_size;
    from = off / w->dev.block_size;
    to = (end - 1) / w->dev.block_size + 1;
    if (w->lose_resent) {
        /* Blocks below the cursor went out in the first pass, all of
         * them once it wrapped: their changes are lost (quirk). */
        if (w->wrapped)
            return;
        if (from < w->cursor)
            from = w->cursor;
    }
    if (from < to) {
        bits_fill(w->pending, from, to, true);
        ahead_drop(w);
    }
}

void vuc_save_end(struct vuc_save *w, const uint8_t *regs)
{
    w->regs = regs;
    w->ending = true;
}

bool vuc_save_done(const struct vuc_save *w)
{
    return w->done;
}

static void start(struct vuc_save *w, uint16_t type, uint64_t off,
                  const uint8_t *payload, size_t plen, uint32_t pcrc,
                  bool stable)
{
    rec_encode(w->hdr, type, w->seq++, (uint32_t)plen, off, pcrc);
    w->in_rec = true;
    w->type = type;
    w->payload = payload;
    w->plen = plen;
    w->pos = 0;
    w->stable = stable;
}

static void start_header(struct vuc_save *w)
{
    uint8_t *s = w->small;

    memset(s, 0, VUC_STREAM_HDR_LEN);
    vuc_put_u32(s + VUC_STREAM_HDR_VERSION, VUC_STREAM_VERSION);
    vuc_put_u16(s + VUC_STREAM_HDR_VENDOR, w->dev.vendor);
    vuc_put_u16(s + VUC_STREAM_HDR_DEVICE, w->dev.device);
    vuc_put_u64(s + VUC_STREAM_HDR_STATE_SIZE, w->dev.state_size);
    vuc_put_u32(s + VUC_STREAM_HDR_BLOCK, w->dev.block_size);
    vuc_put_u32(s + VUC_STREAM_HDR_CHUNK, w->dev.chunk_size);
    vuc_put_u32(s + VUC_STREAM_HDR_REGS, w->dev.regs_size);
    start(w, VUC_STREAM_REC_HEADER, 0, s, VUC_STREAM_HDR_LEN,
          vuc_crc32c(0, s, VUC_STREAM_HDR_LEN), false);
}

/* The end of the pending run that starts at block b. */
static uint64_t run_end(const struct vuc_save *w, uint64_t b)
{
    uint64_t max = w->dev.chunk_size / w->dev.block_size, e = b + 1;

    while (e < w->nblocks && e - b < max && bit_test(w->pending, e))
        e++;
    return e;
}

/* The next pending block from the cursor on, wrapping around; nblocks
 * if none. Sets wrapped when the first pass is complete. */
static uint64_t next_pending(struct vuc_save *w)
{
    uint64_t b = bits_next(w->pending, w->cursor, w->nblocks);

    if (b == w->nblocks) {
        w->wrapped = true;
        b = bits_next(w->pending, 0, w->nblocks);
    }
    return b;
}

/* CRCs of blocks [b, e) into sent_crc; returns the chunk's CRC. */
static uint32_t chunk_crc(struct vuc_save *w, const uint8_t *src, uint64_t b,
                          uint64_t e)
{
    vuc_crc32c_blocks(src, (size_t)(e - b), w->dev.block_size, w->sent_crc + b);
    return crc_fold(w->sent_crc + b, e - b, w->block_op);
}

/* A CHUNK of the pending run starting at block b. */
static void start_chunk(struct vuc_save *w, uint64_t b)
{
    uint64_t bs = w->dev.block_size, e = run_end(w, b);
    const uint8_t *src;
    uint32_t crc;
    size_t len;

    bits_fill(w->pending, b, e, false);
    w->cursor = e;
    len = (size_t)((e - b) * bs);
    src = w->state + b * bs;
    if (w->live) {
        memcpy(w->copybuf, src, len);
        src = w->copybuf;
        crc = chunk_crc(w, src, b, e);
    } else if (b == w->ahead_b && e == w->ahead_e) {
        crc = w->ahead_crc; /* stopped since: still right */
    } else {
        crc = chunk_crc(w, src, b, e);
    }
    ahead_drop(w);
    w->nchunks++;
    start(w, VUC_STREAM_REC_CHUNK, b * bs, src, len, crc, !w->live);
}

bool vuc_save_work_ahead(struct vuc_save *w)
{
    uint64_t b, e;

    if (w->live || w->done || w->next_type != 0 || w->ahead_e)
        return false;
    b = bits_next(w->pending, w->cursor, w->nblocks);
    if (b == w->nblocks)
        b = bits_next(w->pending, 0, w->nblocks);
    if (b == w->nblocks)
        return false;
    e = run_end(w, b);
    w->ahead_crc = chunk_crc(w, w->state + b * w->dev.block_size, b, e);
    w->ahead_b = b;
    w->ahead_e = e;
    return true;
}

static void start_end(struct vuc_save *w)
{
    uint8_t *s = w->small;

    /* The state as this stream builds it: every block as last sent. */
    memset(s, 0, VUC_STREAM_END_LEN);
    vuc_put_u64(s + VUC_STREAM_END_NCHUNKS, w->nchunks);
    vuc_put_u32(s + VUC_STREAM_END_STATE_CRC,
                crc_fold(w->sent_crc, w->nblocks, w->block_op));
    start(w, VUC_STREAM_REC_END, 0, s, VUC_STREAM_END_LEN,
          vuc_crc32c(0, s, VUC_STREAM_END_LEN), false);
}

/* Begin the next record; false when nothing is ready. */
static bool start_next(struct vuc_save *w)
{
    uint64_t b;

    switch (w->next_type) {
    case VUC_STREAM_REC_HEADER:
        start_header(w);
        w->next_type = 0;
        return true;
    case 0:
        b = next_pending(w);
        if (b < w->nblocks) {
            start_chunk(w, b);
            return true;
        }
        if (!w->ending || !w->regs)
            return false;
        start(w, VUC_STREAM_REC_REGS, 0, w->regs, w->dev.regs_size,
              vuc_crc32c(0, w->regs, w->dev.regs_size), false);
        w->next_type = VUC_STREAM_REC_END;
        return true;
    case VUC_STREAM_REC_END:
        start_end(w);
        w->next_type = -1;
        return true;
    default:
        return false;
    }
}

size_t vuc_save_next(struct vuc_save *w, size_t max, const uint8_t **p,
                     bool *stable)
{
    size_t n;

    if (max == 0 || w->done)
        return 0;
    if (!w->in_rec && !start_next(w))
        return 0;
    if (w->pos < VUC_STREAM_REC_HDR) {
        n = VUC_STREAM_REC_HDR - w->pos;
        *p = w->hdr + w->pos;
        *stable = false;
    } else {
        size_t at = w->pos - VUC_STREAM_REC_HDR;

        n = w->plen - at;
        *p = w->payload + at;
        *stable = w->stable;
    }
    if (n > max)
        n = max;
    w->pos += n;
    w->sent_bytes += n;
    if (w->pos == VUC_STREAM_REC_HDR + w->plen) {
        w->in_rec = false;
        if (w->type == VUC_STREAM_REC_END)
            w->done = true;
    }
    return n;
}

size_t vuc_save_read(struct vuc_save *w, uint8_t *dst, size_t n)
{
    size_t got = 0;

    while (got < n) {
        const uint8_t *p;
        bool stable;
        size_t k = vuc_save_next(w, n - got, &p, &stable);

        if (k == 0)
            break;
        memcpy(dst + got, p, k);
        got += k;
    }
    return got;
}
