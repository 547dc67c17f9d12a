/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dirty-page bitmaps (spec: VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
 * docs/decisions.md, DMA logging). Bit n of a bitmap lives in u64 word
 * n / 64 at bit n % 64 and stands for the page [base + n * page,
 * base + (n + 1) * page), page = 1 << shift.
 *
 * Pure code: no I/O, no allocation, no globals. Everything works a 64-bit
 * word at a time (page-size changes use shift-and-mask networks, not
 * per-bit loops), so a REPORT of a 32 MiB bitmap costs about a memcpy of
 * it. vucert-server keeps one bitmap per logged range at its logging page
 * size and converts it to the page size a REPORT asks for; fuzz_bitmap
 * compares vuc_bitmap_convert with a bit-by-bit model.
 */
#ifndef VUCERT_BITMAP_H
#define VUCERT_BITMAP_H

#include <stdint.h>

struct vuc_bitmap {
    uint64_t *words; /* ceil(nbits / 64) words (may be NULL if nbits is 0) */
    uint64_t nbits;  /* pages described; bits at and above are ignored */
    uint64_t base;   /* address of page 0 */
    unsigned shift;  /* page size = 1 << shift; 0 .. 63 */
};

/*
 * Report src at dst's page size, within the bytes [start, end): for every
 * set bit of src whose page overlaps [start, end), set every bit of dst
 * whose page overlaps (that page ∩ [start, end)). Bits are only set (OR),
 * never cleared; dst bits >= dst->nbits are never touched, src bits >=
 * src->nbits read as 0. Coarser dst pages get the OR of the src pages they
 * cover, finer ones repeat the bit of the src page they lie in; neither
 * base has to be aligned to the other's page size.
 *
 * Requires src->base <= start, dst->base <= start and start <= end (every
 * address is >= both bases, so no page index is negative).
 * Returns 0, or -EINVAL (NULL argument, a shift > 63, words NULL with
 * nbits > 0, or the requirements above broken).
 */
int vuc_bitmap_convert(const struct vuc_bitmap *src, struct vuc_bitmap *dst,
                       uint64_t start, uint64_t end);

/*
 * Set the bits of every page of bm that overlaps [start, end) (a DMA write
 * of those bytes). Addresses below bm->base are ignored. Returns 0, or
 * -EINVAL (as vuc_bitmap_convert, or start > end).
 */
int vuc_bitmap_mark(struct vuc_bitmap *bm, uint64_t start, uint64_t end);

/*
 * Clear the bits of every page of bm that lies wholly inside [start, end)
 * (a page partly outside keeps its bit: its other part was not reported).
 * Only words that are not zero are written, so clearing a lazily allocated
 * bitmap does not make its untouched pages resident. Returns 0, or
 * -EINVAL (as vuc_bitmap_mark).
 */
int vuc_bitmap_clear(struct vuc_bitmap *bm, uint64_t start, uint64_t end);

#endif /* VUCERT_BITMAP_H */
