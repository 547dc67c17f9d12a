/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the dirty-page bitmaps (include/vucert/bitmap.h):
 * vuc_bitmap_convert, _mark and _clear against bit-by-bit models written
 * here from the header's definitions, with 128-bit arithmetic so that the
 * model cannot share the implementation's overflow handling. Page-size
 * ratios from 1/128 to 1024, bases aligned and not aligned to each other,
 * ranges cut anywhere, bitmaps of lengths that are not multiples of 64,
 * the first and last page, pre-set destination bits (OR semantics), and
 * the corners of the address space.
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
#include <sys/mman.h>

#include "vucert/bitmap.h"

typedef unsigned __int128 u128;

/* ---- a tiny deterministic PRNG (xorshift64*) ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* ---- models ---- */

static size_t words_for(uint64_t nbits)
{
    return (size_t)((nbits + 63) / 64);
}

static bool bit(const struct vuc_bitmap *b, uint64_t i)
{
    return i < b->nbits && ((b->words[i / 64] >> (i % 64)) & 1);
}

static void setbit(struct vuc_bitmap *b, uint64_t i)
{
    b->words[i / 64] |= 1ull << (i % 64);
}

static u128 page_start(const struct vuc_bitmap *b, uint64_t i)
{
    return (u128)b->base + ((u128)i << b->shift);
}

/* The header's words: every set src page's part inside [start, end) sets
 * each dst page it overlaps. */
static void model_convert(const struct vuc_bitmap *src, struct vuc_bitmap *dst,
                          uint64_t start, uint64_t end)
{
    for (uint64_t i = 0; i < src->nbits; i++) {
        u128 a = page_start(src, i), b = a + ((u128)1 << src->shift);

        if (!bit(src, i))
            continue;
        if (a < start)
            a = start;
        if (b > end)
            b = end;
        if (a >= b)
            continue;
        for (u128 j = (a - dst->base) >> dst->shift;
             j <= (b - 1 - dst->base) >> dst->shift && j < dst->nbits; j++)
            setbit(dst, (uint64_t)j);
    }
}

static void model_mark(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    for (uint64_t i = 0; i < bm->nbits; i++) {
        u128 a = page_start(bm, i), b = a + ((u128)1 << bm->shift);

        if (a < end && b > start)
            setbit(bm, i);
    }
}

static void model_clear(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    for (uint64_t i = 0; i < bm->nbits; i++) {
        u128 a = page_start(bm, i), b = a + ((u128)1 << bm->shift);

        if (a >= start && b <= end)
            bm->words[i / 64] &= ~(1ull << (i % 64));
    }
}

/* ---- fixtures ---- */

struct bm {
    struct vuc_bitmap b;
    uint64_t *copy; /* for the model */
};

static void bm_new(struct vuc_bitmap *b, uint64_t base, unsigned shift,
                   uint64_t nbits)
{
    b->base = base;
    b->shift = shift;
    b->nbits = nbits;
    b->words = calloc(words_for(nbits) + 1, sizeof(uint64_t));
    assert_non_null(b->words);
}

static void bm_dup(struct vuc_bitmap *to, const struct vuc_bitmap *from)
{
    *to = *from;
    to->words = calloc(words_for(from->nbits) + 1, sizeof(uint64_t));
    assert_non_null(to->words);
    memcpy(to->words, from->words, words_for(from->nbits) * 8);
}

static void bm_free(struct vuc_bitmap *b)
{
    free(b->words);
    b->words = NULL;
}

enum fill { F_SPARSE, F_HALF, F_FULL, F_EDGES, F_RUNS, F_COUNT };

/* Bits [0, nbits) set in a pattern; bits above nbits stay clear. */
static void fill(struct vuc_bitmap *b, enum fill f)
{
    uint64_t n = b->nbits;

    memset(b->words, 0, words_for(n) * 8);
    for (uint64_t i = 0; i < n; i++) {
        bool on = false;

        switch (f) {
        case F_SPARSE:
            on = rnd_below(100) == 0;
            break;
        case F_HALF:
            on = rnd() & 1;
            break;
        case F_FULL:
            on = true;
            break;
        case F_EDGES:
            on = i == 0 || i == n - 1 || i % 64 == 63 || i % 64 == 0;
            break;
        case F_RUNS:
            on = (i / (1 + i % 7)) % 3 == 0;
            break;
        default:
            break;
        }
        if (on)
            setbit(b, i);
    }
}

/* Junk beyond nbits in the last word must be ignored by convert. */
static void junk_tail(struct vuc_bitmap *b)
{
    if (b->nbits % 64)
        b->words[b->nbits / 64] |= ~0ull << (b->nbits % 64);
}

/*
 * Convert src into a dst of (dbase, dshift, dnbits) over [start, end)
 * with vuc_bitmap_convert and with the model, dst pre-set with random
 * bits (OR semantics), and compare every word (padding included).
 */
static void check_convert(const struct vuc_bitmap *src, uint64_t dbase,
                          unsigned dshift, uint64_t dnbits, uint64_t start,
                          uint64_t end)
{
    struct vuc_bitmap got, want;
    size_t nw = words_for(dnbits);

    bm_new(&got, dbase, dshift, dnbits);
    for (size_t w = 0; w < nw; w++)
        got.words[w] = (rnd() & rnd() & rnd()); /* some bits pre-set */
    if (dnbits % 64)
        got.words[nw - 1] &= ~0ull >> (64 - dnbits % 64);
    bm_dup(&want, &got);
    assert_int_equal(vuc_bitmap_convert(src, &got, start, end), 0);
    model_convert(src, &want, start, end);
    for (size_t w = 0; w < nw; w++) {
        if (got.words[w] != want.words[w]) {
            print_error(
                "src base 0x%llx shift %u nbits %llu; dst base 0x%llx "
                "shift %u nbits %llu; [0x%llx, 0x%llx): word %zu is "
                "0x%016llx, model 0x%016llx\n",
                (unsigned long long)src->base, src->shift,
                (unsigned long long)src->nbits, (unsigned long long)dbase,
                dshift, (unsigned long long)dnbits, (unsigned long long)start,
                (unsigned long long)end, w, (unsigned long long)got.words[w],
                (unsigned long long)want.words[w]);
            fail();
        }
    }
    /* the word after the bitmap is never touched */
    assert_int_equal(got.words[nw], 0);
    bm_free(&got);
    bm_free(&want);
}

/* dst pages needed to cover [dbase, end): what a REPORT allocates. */
static uint64_t dst_bits(uint64_t dbase, unsigned dshift, uint64_t end)
{
    u128 span = (u128)end - dbase;

    return (uint64_t)((span + ((u128)1 << dshift) - 1) >> dshift);
}

/* ---- conversion ---- */

/*
 * Every ratio from 1/16 to 16 (and the whole-word paths beyond 64), over
 * the whole source, with dst based at the source, before it, or at an
 * address aligned to neither page size.
 */
static void test_convert_ratios(void **state)
{
    static const uint64_t lens[] = {1, 2, 63, 64, 65, 127, 129, 1000, 4099};
    static const int ratios[] = {-7, -6, -5, -4, -3, -2, -1, 0,
                                 1,  2,  3,  4,  5,  6,  7,  10};
    const unsigned sshift = 13; /* 8 KiB logging pages */
    const uint64_t sbase = 0x40000000ull;

    (void)state;
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        for (int f = 0; f < F_COUNT; f++) {
            struct vuc_bitmap src;

            bm_new(&src, sbase, sshift, lens[li]);
            fill(&src, (enum fill)f);
            junk_tail(&src);
            for (size_t ri = 0; ri < sizeof(ratios) / sizeof(ratios[0]); ri++) {
                unsigned ds = (unsigned)((int)sshift + ratios[ri]);
                uint64_t end = sbase + (lens[li] << sshift);
                uint64_t P = 1ull << ds;
                /* the third is aligned to neither page size */
                const uint64_t bases[] = {sbase, sbase - 3 * P,
                                          P > 512 ? sbase - P + 512
                                                  : sbase - 3};

                for (size_t bi = 0; bi < 3; bi++) {
                    uint64_t db = bases[bi];

                    check_convert(&src, db, ds, dst_bits(db, ds, end), sbase,
                                  end);
                    /* a dst shorter than the range: clipped */
                    check_convert(&src, db, ds, dst_bits(db, ds, end) / 2 + 1,
                                  sbase, end);
                }
            }
            bm_free(&src);
        }
    }
}

/* Random sub-ranges: start and end anywhere (aligned or not), the report
 * based at start, like a REPORT of [start, end). */
static void test_convert_subranges(void **state)
{
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        struct vuc_bitmap src;
        unsigned ss = 12 + (unsigned)rnd_below(4);
        int ratio = (int)rnd_below(13) - 6;
        unsigned ds = (unsigned)((int)ss + ratio);
        uint64_t n = 1 + rnd_below(700);
        uint64_t sbase = (1 + rnd_below(64)) << 20;
        uint64_t span = n << ss, start, end;

        if (ds < 12)
            ds = 12;
        bm_new(&src, sbase, ss, n);
        fill(&src, (enum fill)rnd_below(F_COUNT));
        switch (rnd_below(4)) {
        case 0: /* aligned to the source pages */
            start = sbase + (rnd_below(n) << ss);
            end = start + ((1 + rnd_below(n)) << ss);
            break;
        case 1: /* aligned to the destination pages */
            start = sbase + ((rnd_below(span) >> ds) << ds);
            end = start + ((1 + rnd_below(span >> ds | 1)) << ds);
            break;
        default: /* anywhere, past the end too */
            start = sbase + rnd_below(span);
            end = start + 1 + rnd_below(span + (span >> 2));
            break;
        }
        if (start < sbase)
            start = sbase;
        check_convert(&src, start, ds, dst_bits(start, ds, end), start, end);
        /* a dst based below the source, longer than needed */
        {
            uint64_t below = (1ull << ds) * 5,
                     db = sbase > below ? sbase - below : 0;

            check_convert(&src, db, ds, dst_bits(db, ds, end) + 70, start, end);
        }
        bm_free(&src);
    }
}

/*
 * The harness's scenario (cases/case_dirty.c): 1000 pages of 8 KiB at
 * 1 GiB, written at known places, reported at 4, 8, 16 and 128 KiB, over
 * the whole range, pages 5..300 and pages 2..62.
 */
static void test_convert_harness_scenario(void **state)
{
    static const struct {
        uint32_t page, off, len;
    } writes[] = {
        {0, 0, 8},       {1, 4095, 2},       {5, 100, 50},   {63, 0, 16384},
        {127, 8184, 16}, {300, 0, 3 * 8192}, {999, 8184, 8},
    };
    static const unsigned report_shift[] = {12, 13, 14, 17};
    const uint64_t iova = 0x40000000ull, page = 8192;
    struct vuc_bitmap log;

    (void)state;
    bm_new(&log, iova, 13, 1000);
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        uint64_t a = iova + writes[i].page * page + writes[i].off;

        assert_int_equal(vuc_bitmap_mark(&log, a, a + writes[i].len), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        unsigned ds = report_shift[i];

        check_convert(&log, iova, ds, dst_bits(iova, ds, iova + 1000 * page),
                      iova, iova + 1000 * page);
        check_convert(&log, iova + 5 * page, ds,
                      dst_bits(iova + 5 * page, ds, iova + 301 * page),
                      iova + 5 * page, iova + 301 * page);
        check_convert(&log, iova + 2 * page, ds,
                      dst_bits(iova + 2 * page, ds, iova + 63 * page),
                      iova + 2 * page, iova + 63 * page);
    }
    /* spelled out: the same size, pages 2..62 hold none of the writes
     * (1 and 63 are just outside), and the tail bits are 0 */
    {
        struct vuc_bitmap r;

        bm_new(&r, iova + 2 * page, 13, 61);
        assert_int_equal(
            vuc_bitmap_convert(&log, &r, iova + 2 * page, iova + 63 * page), 0);
        assert_int_equal(r.words[0], 1ull << 3); /* page 5 */
        bm_free(&r);
        /* the whole range at 8 KiB: word 0 has pages 0, 1, 5, 63 */
        bm_new(&r, iova, 13, 1000);
        assert_int_equal(vuc_bitmap_convert(&log, &r, iova, iova + 1000 * page),
                         0);
        assert_int_equal(r.words[0], 1ull | 2ull | 1ull << 5 | 1ull << 63);
        assert_int_equal(r.words[1], 1ull | 1ull << 63); /* 64, 127 */
        assert_int_equal(r.words[15], 1ull << (999 - 960));
        bm_free(&r);
    }
    bm_free(&log);
}

/* Every page-size pair with one set bit at each position of a short
 * bitmap, based at aligned and unaligned places: each bit alone. */
static void test_convert_single_bits(void **state)
{
    (void)state;
    for (unsigned ss = 12; ss <= 20; ss += 4) {
        for (unsigned ds = 12; ds <= 24; ds++) {
            for (uint64_t n = 1; n <= 130; n += 43) {
                for (uint64_t i = 0; i < n; i++) {
                    struct vuc_bitmap src;
                    uint64_t sb = 1ull << 32, end = sb + (n << ss);

                    bm_new(&src, sb, ss, n);
                    setbit(&src, i);
                    check_convert(&src, sb, ds, dst_bits(sb, ds, end), sb, end);
                    check_convert(&src, sb - 4096 * 3, ds,
                                  dst_bits(sb - 4096 * 3, ds, end), sb + 100,
                                  end - 100);
                    bm_free(&src);
                }
            }
        }
    }
}

/* Shifts 0 and 63, pages that end at 2^64, ranges at the top. */
static void test_convert_extremes(void **state)
{
    struct vuc_bitmap src, dst;
    uint64_t top = ~0ull;

    (void)state;
    /* byte pages reported at 2^63-byte pages and back */
    bm_new(&src, 0, 0, 200);
    fill(&src, F_HALF);
    check_convert(&src, 0, 63, 2, 0, 200);
    check_convert(&src, 0, 63, 2, 5, 6);
    bm_free(&src);
    bm_new(&src, 0, 63, 2);
    setbit(&src, 1);
    check_convert(&src, top - 999, 0, 1000, top - 999, top);
    check_convert(&src, (1ull << 63) - 64, 0, 300, (1ull << 63) - 64,
                  (1ull << 63) + 100);
    bm_free(&src);
    /* a source whose last page ends at 2^64 - 4096 */
    bm_new(&src, top - (1ull << 24) + 1 - 4096, 12, 4096);
    fill(&src, F_EDGES);
    check_convert(&src, src.base, 12, 4096, src.base, top - 4095);
    check_convert(&src, src.base, 16, 256, src.base, top - 4095);
    check_convert(&src, src.base + 4096, 30, 1, src.base + 4096, top);
    check_convert(&src, src.base, 8, 1 << 16, src.base, src.base + (1 << 24));
    bm_free(&src);
    /* byte pages with a base near 2^64: indexes must not wrap */
    bm_new(&src, 0, 0, 10);
    fill(&src, F_FULL);
    check_convert(&src, 0, 1, 8, top - 100, top - 50);
    bm_free(&src);
    /* empty bitmaps and ranges */
    bm_new(&src, 4096, 12, 64);
    fill(&src, F_FULL);
    bm_new(&dst, 4096, 12, 0);
    assert_int_equal(vuc_bitmap_convert(&src, &dst, 4096, 8192), 0);
    bm_free(&dst);
    check_convert(&src, 4096, 12, 64, 8192, 8192);
    bm_free(&src);
}

static void test_convert_invalid(void **state)
{
    struct vuc_bitmap a, b;

    (void)state;
    bm_new(&a, 4096, 12, 64);
    bm_new(&b, 4096, 12, 64);
    assert_int_equal(vuc_bitmap_convert(NULL, &b, 4096, 8192), -EINVAL);
    assert_int_equal(vuc_bitmap_convert(&a, NULL, 4096, 8192), -EINVAL);
    /* start below a base */
    assert_int_equal(vuc_bitmap_convert(&a, &b, 4095, 8192), -EINVAL);
    b.base = 8192;
    assert_int_equal(vuc_bitmap_convert(&a, &b, 4096, 8192), -EINVAL);
    b.base = 4096;
    /* start > end */
    assert_int_equal(vuc_bitmap_convert(&a, &b, 8192, 4096), -EINVAL);
    /* shift 64 */
    b.shift = 64;
    assert_int_equal(vuc_bitmap_convert(&a, &b, 4096, 8192), -EINVAL);
    b.shift = 12;
    /* no words */
    free(a.words);
    a.words = NULL;
    assert_int_equal(vuc_bitmap_convert(&a, &b, 4096, 8192), -EINVAL);
    assert_int_equal(vuc_bitmap_mark(&a, 4096, 8192), -EINVAL);
    assert_int_equal(vuc_bitmap_clear(&a, 4096, 8192), -EINVAL);
    a.nbits = 0;
    assert_int_equal(vuc_bitmap_convert(&a, &b, 4096, 8192), 0);
    assert_int_equal(vuc_bitmap_mark(&b, 8192, 4096), -EINVAL);
    assert_int_equal(vuc_bitmap_clear(&b, 8192, 4096), -EINVAL);
    assert_int_equal(vuc_bitmap_mark(NULL, 0, 1), -EINVAL);
    bm_free(&b);
}

/* ---- mark and clear ---- */

static void test_mark_clear(void **state)
{
    (void)state;
    for (int iter = 0; iter < 4000; iter++) {
        struct vuc_bitmap got, want;
        unsigned shift = 12 + (unsigned)rnd_below(6);
        uint64_t n = 1 + rnd_below(300), base = rnd_below(1 << 10) << 20;
        uint64_t span = n << shift;
        uint64_t start = base + rnd_below(span + 8192);
        uint64_t end = start + rnd_below(span);

        if (rnd() & 1 && start >= 5000)
            start -= 5000; /* from below the base */
        bm_new(&got, base, shift, n);
        fill(&got, (enum fill)rnd_below(F_COUNT));
        bm_dup(&want, &got);
        if (iter & 1) {
            assert_int_equal(vuc_bitmap_mark(&got, start, end), 0);
            model_mark(&want, start, end);
        } else {
            assert_int_equal(vuc_bitmap_clear(&got, start, end), 0);
            model_clear(&want, start, end);
        }
        assert_memory_equal(got.words, want.words, words_for(n) * 8);
        assert_int_equal(got.words[words_for(n)], 0);
        bm_free(&got);
        bm_free(&want);
    }
}

/* The first and last page, a page cut by the range, and the top. */
static void test_mark_clear_edges(void **state)
{
    struct vuc_bitmap b;

    (void)state;
    bm_new(&b, 1ull << 30, 12, 100);
    assert_int_equal(vuc_bitmap_mark(&b, (1ull << 30) - 1, (1ull << 30) + 1),
                     0);
    assert_int_equal(b.words[0], 1);
    assert_int_equal(vuc_bitmap_mark(&b, (1ull << 30) + 99 * 4096 + 4095,
                                     (1ull << 30) + 200 * 4096),
                     0);
    assert_int_equal(b.words[1], 1ull << 35);
    /* a range that cuts both pages clears neither */
    assert_int_equal(
        vuc_bitmap_clear(&b, (1ull << 30) + 1, (1ull << 30) + 100 * 4096 - 1),
        0);
    assert_int_equal(b.words[0], 1);
    assert_int_equal(b.words[1], 1ull << 35);
    /* one that covers them does */
    assert_int_equal(vuc_bitmap_clear(&b, 0, ~0ull), 0);
    assert_int_equal(b.words[0] | b.words[1], 0);
    /* below the base: nothing */
    assert_int_equal(vuc_bitmap_mark(&b, 0, 1ull << 30), 0);
    assert_int_equal(b.words[0], 0);
    /* empty range */
    assert_int_equal(vuc_bitmap_mark(&b, 1ull << 31, 1ull << 31), 0);
    bm_free(&b);

    /* the last page of the address space */
    bm_new(&b, ~0ull - 4095 - 4096, 12, 2);
    assert_int_equal(vuc_bitmap_mark(&b, ~0ull - 1, ~0ull), 0);
    assert_int_equal(b.words[0], 2);
    assert_int_equal(vuc_bitmap_clear(&b, ~0ull - 4095, ~0ull), 0);
    assert_int_equal(b.words[0], 2); /* the page ends at 2^64, past end */
    bm_free(&b);
}

/* Clearing zeros writes nothing: a read-only zero bitmap survives. */
static void test_clear_is_lazy(void **state)
{
    size_t len = 1 << 20;
    uint64_t *w =
        mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct vuc_bitmap b = {
        .words = w, .nbits = len * 8, .base = 0, .shift = 12};

    (void)state;
    assert_true(w != MAP_FAILED);
    assert_int_equal(vuc_bitmap_clear(&b, 0, (uint64_t)len * 8 * 4096), 0);
    assert_int_equal(vuc_bitmap_clear(&b, 4096 * 3, 4096 * 3000), 0);
    munmap(w, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_ratios),
        cmocka_unit_test(test_convert_subranges),
        cmocka_unit_test(test_convert_harness_scenario),
        cmocka_unit_test(test_convert_single_bits),
        cmocka_unit_test(test_convert_extremes),
        cmocka_unit_test(test_convert_invalid),
        cmocka_unit_test(test_mark_clear),
        cmocka_unit_test(test_mark_clear_edges),
        cmocka_unit_test(test_clear_is_lazy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
