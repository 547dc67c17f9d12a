// SPDX-License-Identifier: BSD-3-Clause
/*
 * Dirty-page bitmaps, a word at a time (include/vucert/bitmap.h).
 *
 * A conversion produces the destination 64 pages at a time. For a coarser
 * destination (2^k source pages per destination page) each group of 2^k
 * source bits is OR-folded onto its first bit and those bits are packed
 * together with a shift-and-mask network (the inverse of a perfect
 * shuffle); for a finer one (2^k destination pages per source page) the
 * network runs backwards to spread the source bits apart and a multiply
 * fills each one into 2^k copies. Ratios beyond 64 work on whole words.
 * A destination page that straddles a source page boundary (the bases are
 * not aligned to each other) takes the OR of its neighbour, again with
 * shifts. Only the (at most two) destination pages cut by start or end go
 * through an exact one-page path.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "vucert/bitmap.h"

/* The n low bits (n <= 64). */
static inline uint64_t low(uint64_t n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* n low bits set in every p-bit period (n <= p, p a power of two <= 64). */
static uint64_t period_mask(unsigned n, unsigned p)
{
    if (p >= 64)
        return low(n);
    return (~0ull / ((1ull << p) - 1)) * low(n);
}

/*
 * The networks for a ratio of 2^k (k <= 6): step t moves groups of 2^t
 * bits that lie 2^(k+t) apart next to each other.
 */
struct net {
    unsigned k;
    unsigned steps;          /* 6 - k */
    unsigned shift[6];       /* 2^(k+t) - 2^t */
    uint64_t pack_mask[6];   /* after step t of compress */
    uint64_t spread_mask[6]; /* after step t of expand */
    uint64_t starts;         /* bits at multiples of 2^k */
    uint64_t fill;           /* multiplier that copies a bit 2^k times */
};

static void net_init(struct net *n, unsigned k)
{
    n->k = k;
    n->steps = 6 - k;
    for (unsigned t = 0; t < n->steps; t++) {
        unsigned g = 1u << t, st = 1u << (k + t);

        n->shift[t] = st - g;
        n->pack_mask[t] = period_mask(2 * g, 2 * st);
        n->spread_mask[t] = period_mask(g, st);
    }
    n->starts = period_mask(1, 1u << k);
    n->fill = low(1ull << k);
}

/* Bits at multiples of 2^k (others zero) -> the 64 >> k low bits. */
static inline uint64_t compress(const struct net *n, uint64_t x)
{
    for (unsigned t = 0; t < n->steps && n->k; t++)
        x = (x | (x >> n->shift[t])) & n->pack_mask[t];
    return x;
}

/* The 64 >> k low bits -> bits at multiples of 2^k. */
static inline uint64_t expand(const struct net *n, uint64_t x)
{
    for (unsigned t = n->steps; t-- > 0 && n->k;)
        x = (x | (x << n->shift[t])) & n->spread_mask[t];
    return x;
}

/* ---- bit access ---- */

/* The 64 bits from bit `at` (bits >= nbits read as 0). */
static inline uint64_t get64(const struct vuc_bitmap *b, uint64_t at)
{
    uint64_t w, o, x;

    if (at >= b->nbits)
        return 0;
    w = at >> 6;
    o = at & 63;
    x = b->words[w] >> o;
    if (o && (w + 1) * 64 < b->nbits)
        x |= b->words[w + 1] << (64 - o);
    if (b->nbits - at < 64)
        x &= low(b->nbits - at);
    return x;
}

static inline uint64_t get1(const struct vuc_bitmap *b, uint64_t at)
{
    return at < b->nbits ? (b->words[at >> 6] >> (at & 63)) & 1 : 0;
}

/* true if any of bits [a, b) is set (clipped to nbits). */
static bool any(const struct vuc_bitmap *bm, uint64_t a, uint64_t b)
{
    uint64_t wa, wb;

    if (b > bm->nbits)
        b = bm->nbits;
    if (a >= b)
        return false;
    wa = a >> 6;
    wb = (b - 1) >> 6;
    if (wa == wb)
        return (bm->words[wa] >> (a & 63)) & low(b - a);
    if (bm->words[wa] >> (a & 63))
        return true;
    for (uint64_t w = wa + 1; w < wb; w++)
        if (bm->words[w])
            return true;
    return (bm->words[wb] & low(b - wb * 64)) != 0;
}

/* OR the n low bits of v (n <= 64, v has no other bits) in at bit at. */
static inline void put(struct vuc_bitmap *b, uint64_t at, uint64_t v,
                       uint64_t n)
{
    uint64_t w = at >> 6, o = at & 63;

    b->words[w] |= v << o;
    if (o && n > 64 - o)
        b->words[w + 1] |= v >> (64 - o);
}

static void set_bits(uint64_t *words, uint64_t a, uint64_t b)
{
    uint64_t wa = a >> 6, wb = (b - 1) >> 6;

    if (wa == wb) {
        words[wa] |= low(b - a) << (a & 63);
        return;
    }
    words[wa] |= ~0ull << (a & 63);
    for (uint64_t w = wa + 1; w < wb; w++)
        words[w] = ~0ull;
    words[wb] |= low(b - wb * 64);
}

/* Clear bits [a, b). Words that are zero already are not written: a
 * store would make an untouched (lazily allocated) page of the bitmap
 * resident. */
static inline void and_not(uint64_t *w, uint64_t mask)
{
    if (*w & mask)
        *w &= ~mask;
}

static void clear_bits(uint64_t *words, uint64_t a, uint64_t b)
{
    uint64_t wa = a >> 6, wb = (b - 1) >> 6;

    if (wa == wb) {
        and_not(&words[wa], low(b - a) << (a & 63));
        return;
    }
    and_not(&words[wa], ~0ull << (a & 63));
    for (uint64_t w = wa + 1; w < wb; w++)
        if (words[w])
            words[w] = 0;
    and_not(&words[wb], low(b - wb * 64));
}

static bool valid(const struct vuc_bitmap *b)
{
    return b && b->shift <= 63 && (b->words || b->nbits == 0);
}

/* ---- conversion ---- */

struct conv {
    const struct vuc_bitmap *src;
    struct net net;
    bool coarse;    /* dst pages >= src pages */
    unsigned k;     /* |dst shift - src shift| */
    uint64_t first; /* coarse: src bit of the first inner dst page;
                     * fine: its grid page (dst-sized, from src->base) */
    bool straddle;  /* dst pages cross src (coarse) / grid (fine) lines */
};

/* 64 dst bits (n of them wanted) from src bit `sb` on, coarse. */
static uint64_t chunk_coarse(const struct conv *cv, uint64_t sb, uint64_t n)
{
    const struct vuc_bitmap *src = cv->src;
    unsigned k = cv->k;
    uint64_t out = 0;

    if (k > 6) {
        uint64_t r = 1ull << k, extra = cv->straddle ? 1 : 0;

        for (uint64_t b = 0; b < n; b++) {
            uint64_t a = sb + (b << k), e = a + r + extra;

            if (a >= src->nbits)
                break; /* and so are all after it */
            if (any(src, a, e < a ? UINT64_MAX : e))
                out |= 1ull << b;
        }
        return out;
    }
    for (unsigned i = 0; i < (1u << k); i++) {
        uint64_t at = sb + 64 * (uint64_t)i;
        uint64_t x;

        if (at < sb || at >= src->nbits)
            break; /* beyond src (or past 2^64): zeros */
        x = get64(src, at);
        if (cv->straddle)
            x |= (x >> 1) | (get1(src, at + 64) << 63);
        for (unsigned s = 1; s < (1u << k); s <<= 1)
            x |= x >> s; /* the group's OR lands on its first bit */
        out |= compress(&cv->net, x & cv->net.starts) << (i * (64u >> k));
    }
    return out;
}

/* The 64 bits of src bits x (64 >> k of them), each repeated 2^k times. */
static inline uint64_t spread(const struct net *n, uint64_t x)
{
    return expand(n, x & low(64u >> n->k)) * n->fill;
}

/* 64 dst bits from grid page m on, fine. */
static uint64_t chunk_fine(const struct conv *cv, uint64_t m)
{
    const struct vuc_bitmap *src = cv->src;
    unsigned k = cv->k;
    uint64_t t = m & low(k), g, next;

    if (k <= 6) {
        uint64_t x = get64(src, m >> k), per = 64u >> k;
        uint64_t lo = spread(&cv->net, x), hi = 0;

        if (t || cv->straddle)
            hi = spread(&cv->net, per < 64 ? x >> per : 0);
        g = t ? (lo >> t) | (hi << (64 - t)) : lo;
        next = (hi >> t) & 1; /* grid page m + 64 */
    } else {
        uint64_t a = m >> k, run = (1ull << k) - t;
        uint64_t va = get1(src, a), vb = get1(src, a + 1);

        if (run >= 64) {
            g = va ? ~0ull : 0;
            next = run > 64 ? va : vb;
        } else {
            g = (va ? low(run) : 0) | (vb ? ~low(run) : 0);
            next = vb;
        }
    }
    if (cv->straddle)
        g |= (g >> 1) | (next << 63);
    return g;
}

/* One dst page j, exactly: its part inside [start, end). */
static void edge(const struct vuc_bitmap *src, struct vuc_bitmap *dst,
                 uint64_t j, uint64_t start, uint64_t end)
{
    uint64_t p0 = dst->base + (j << dst->shift), plast, a, b;

    plast = p0 + (low(dst->shift));
    if (plast < p0 || plast > end - 1)
        plast = end - 1; /* wrapped past 2^64, or cut by end */
    if (p0 < start)
        p0 = start;
    a = (p0 - src->base) >> src->shift;
    b = ((plast - src->base) >> src->shift) + 1;
    if (any(src, a, b))
        dst->words[j >> 6] |= 1ull << (j & 63);
}

int vuc_bitmap_convert(const struct vuc_bitmap *src, struct vuc_bitmap *dst,
                       uint64_t start, uint64_t end)
{
    struct conv cv = {.src = src};
    uint64_t jfirst, jlast, ja, jb, delta;
    unsigned ds, ss;

    if (!valid(src) || !valid(dst) || start > end || src->base > start ||
        dst->base > start)
        return -EINVAL;
    if (start == end || dst->nbits == 0 || src->nbits == 0)
        return 0;
    ds = dst->shift;
    ss = src->shift;
    jfirst = (start - dst->base) >> ds;
    jlast = (end - 1 - dst->base) >> ds;
    if (jfirst >= dst->nbits)
        return 0;
    if (jlast >= dst->nbits)
        jlast = dst->nbits - 1;
    /* Inner pages [ja, jb): wholly inside [start, end). */
    ja = jfirst + (((start - dst->base) & low(ds)) ? 1 : 0);
    jb = (end - dst->base) >> ds;
    if (jb > jlast + 1)
        jb = jlast + 1;

    edge(src, dst, jfirst, start, end);
    if (jlast != jfirst)
        edge(src, dst, jlast, start, end);
    if (ja >= jb)
        return 0;

    delta = dst->base + (ja << ds) - src->base; /* >= 0: >= start */
    cv.coarse = ds >= ss;
    cv.k = cv.coarse ? ds - ss : ss - ds;
    net_init(&cv.net, cv.k <= 6 ? cv.k : 0);
    if (cv.coarse) {
        cv.first = delta >> ss;
        cv.straddle = (delta & low(ss)) != 0;
    } else {
        cv.first = delta >> ds;
        cv.straddle = (delta & low(ds)) != 0;
    }

    for (uint64_t j = ja; j < jb;) {
        uint64_t n = jb - j < 64 ? jb - j : 64, v;

        if (cv.coarse && cv.k == 0 && !cv.straddle && !(j & 63) &&
            !((cv.first + (j - ja)) & 63) && n == 64) {
            /* Same page size, word-aligned on both sides: whole words. */
            uint64_t sw = (cv.first + (j - ja)) >> 6, dw = j >> 6;
            uint64_t words = (jb - j) >> 6, have;

            have = src->nbits > sw * 64 ? (src->nbits - sw * 64) >> 6 : 0;
            if (words > have)
                words = have;
            for (uint64_t i = 0; i < words; i++)
                dst->words[dw + i] |= src->words[sw + i];
            if (words) {
                j += words * 64;
                continue;
            }
        }
        if (!cv.coarse && cv.k <= 6 && !cv.straddle && !(j & 63)) {
            /* Finer, aligned: each whole src word makes 2^k dst words. */
            uint64_t m = cv.first + (j - ja), span = 64ull << cv.k;
            uint64_t sw = m >> (6 + cv.k), dw = j >> 6, words, have;
            unsigned per = 64u >> cv.k;

            words = !(m & (span - 1)) ? (jb - j) / span : 0;
            have = src->nbits > sw * 64 ? (src->nbits - sw * 64) >> 6 : 0;
            if (words > have)
                words = have;
            for (uint64_t i = 0; i < words; i++) {
                uint64_t x = src->words[sw + i];

                for (unsigned r = 0; x && r < (1u << cv.k); r++)
                    dst->words[dw + (i << cv.k) + r] |=
                        spread(&cv.net, x >> (r * per));
            }
            if (words) {
                j += words * span;
                continue;
            }
        }
        if (cv.coarse)
            v = chunk_coarse(&cv, cv.first + ((j - ja) << cv.k), n);
        else
            v = chunk_fine(&cv, cv.first + (j - ja));
        put(dst, j, v & low(n), n);
        j += n;
    }
    return 0;
}

int vuc_bitmap_mark(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    uint64_t a, b;

    if (!valid(bm) || start > end)
        return -EINVAL;
    if (end <= bm->base || start == end)
        return 0;
    if (start < bm->base)
        start = bm->base;
    a = (start - bm->base) >> bm->shift;
    b = ((end - 1 - bm->base) >> bm->shift) + 1;
    if (b > bm->nbits)
        b = bm->nbits;
    if (a < b)
        set_bits(bm->words, a, b);
    return 0;
}

int vuc_bitmap_clear(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    uint64_t a, b;

    if (!valid(bm) || start > end)
        return -EINVAL;
    if (end <= bm->base || start == end)
        return 0;
    if (start < bm->base)
        start = bm->base;
    a = (start - bm->base) >> bm->shift;
    if ((start - bm->base) & low(bm->shift))
        a++; /* the first page begins before start */
    b = (end - bm->base) >> bm->shift;
    if (b > bm->nbits)
        b = bm->nbits;
    if (a < b)
        clear_bits(bm->words, a, b);
    return 0;
}
