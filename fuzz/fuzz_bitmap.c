/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_bitmap: the dirty-page bitmaps (vuc_bitmap_convert, _mark and
 * _clear, include/vucert/bitmap.h, reference-server/bitmap.c) against a
 * model over page address intervals, written from the header's contracts
 * with 128-bit addresses (a page may end at or past 2^64), so it shares
 * none of the code's overflow handling: it turns address intervals into
 * intervals of page indices and sets or clears those a word at a time
 * (a convert goes over the runs of set src bits, the code under test over
 * the dst words). The bit-by-bit model it replaced (most of the run time) is
 * kept under FZB_BIT_MODEL, which checks the two against each other.
 * Two bitmaps S and D of up to FZB_MAX_BITS pages each, any shifts, bases
 * and fills, then a sequence of operations on them. Input format:
 * fuzz_priv.h.
 *
 * Properties, after every operation:
 * - the return code is the model's: 0, or -EINVAL exactly in the cases
 *   the header lists (NULL, a shift > 63, words NULL with nbits > 0,
 *   start > end, a base above start for convert);
 * - every word of both bitmaps equals the model's, the unused high bits
 *   of the last word included: convert only ORs, dst bits >= nbits are
 *   never touched, src bits >= nbits read as 0 (the fills leave junk
 *   there), and a refused call changes nothing; the words are allocated
 *   at their exact size, so ASan catches any access past them;
 * - a clear writes no word that was zero: the same clear runs on a copy
 *   of the words laid across a page boundary, each side made read-only
 *   when all its words are zero; a write there faults and the handler
 *   says so. The copy ends equal to the original.
 *
 * Set VUC_FUZZ_VERBOSE=1 to have it print the bitmaps and each operation
 * with what it returned.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vucert/bitmap.h"
#include "fuzz_priv.h"

typedef unsigned __int128 u128;

#define MAX_WORDS (FZB_MAX_BITS / 64)

/* A bitmap under test and its model (the same geometry). */
struct fz_bm {
    const char *name;
    struct vuc_bitmap lib;   /* words: exactly ceil(nbits / 64) on the heap */
    struct vuc_bitmap model; /* words: mw */
    uint64_t mw[MAX_WORDS];
#ifdef FZB_BIT_MODEL
    struct vuc_bitmap bit; /* the old model's, words: bw */
    uint64_t bw[MAX_WORDS];
#endif
};

/* The operation being checked, for the messages. */
struct fz_op {
    unsigned index;
    const char *what;
    const char *bad;
    uint64_t start, end;
};

static size_t words_for(uint64_t nbits)
{
    return (size_t)((nbits + 63) / 64);
}

#ifdef FZB_BIT_MODEL
/* ---- the old model: page intervals, bit by bit (bitmap.h) ----
 *
 * Built with -DFZB_BIT_MODEL (the fuzz_bitmap_models_replay test) it runs
 * beside the word model below, and both must agree after every operation:
 * that is how the word model was shown to accept and reject exactly what
 * this one did, over the corpus.
 */

/* Which arguments the header calls invalid. */
static bool bit_valid(const struct vuc_bitmap *b)
{
    return b && b->shift <= 63 && (b->words || b->nbits == 0);
}

static bool bit_get(const struct vuc_bitmap *b, uint64_t i)
{
    return i < b->nbits && ((b->words[i / 64] >> (i % 64)) & 1);
}

/* Page i is [lo, hi): base + i * page, exactly, past 2^64 too. */
static u128 page_lo(const struct vuc_bitmap *b, uint64_t i)
{
    return (u128)b->base + ((u128)i << b->shift);
}

static u128 page_hi(const struct vuc_bitmap *b, uint64_t i)
{
    return page_lo(b, i) + ((u128)1 << b->shift);
}

/*
 * For every set src page overlapping [start, end), every dst page that
 * overlaps (that page ∩ [start, end)) gets its bit. Consecutive src pages
 * share at most one dst page, so the loops cost src + dst nbits.
 */
static int bit_convert(const struct vuc_bitmap *src, struct vuc_bitmap *dst,
                       uint64_t start, uint64_t end)
{
    if (!bit_valid(src) || !bit_valid(dst) || start > end ||
        src->base > start || dst->base > start)
        return -EINVAL;
    for (uint64_t i = 0; i < src->nbits; i++) {
        u128 lo = page_lo(src, i), hi = page_hi(src, i), j, jlast;

        if (lo >= end)
            break; /* and every page after it */
        if (!bit_get(src, i))
            continue;
        if (lo < start)
            lo = start;
        if (hi > end)
            hi = end;
        if (lo >= hi)
            continue;
        /* dst pages holding lo .. hi - 1; lo >= start >= dst->base */
        j = (lo - dst->base) >> dst->shift;
        jlast = (hi - 1 - dst->base) >> dst->shift;
        for (; j <= jlast && j < dst->nbits; j++)
            dst->words[(size_t)(j / 64)] |= 1ull << (unsigned)(j % 64);
    }
    return 0;
}

/* Every page overlapping [start, end); pages below base do not exist. */
static int bit_mark(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    if (!bit_valid(bm) || start > end)
        return -EINVAL;
    for (uint64_t i = 0; i < bm->nbits; i++) {
        if (page_lo(bm, i) >= end)
            break;
        if (start < end && page_hi(bm, i) > start)
            bm->words[i / 64] |= 1ull << (i % 64);
    }
    return 0;
}

/* Every page wholly inside [start, end). */
static int bit_clear(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    if (!bit_valid(bm) || start > end)
        return -EINVAL;
    for (uint64_t i = 0; i < bm->nbits; i++)
        if (page_lo(bm, i) >= start && page_hi(bm, i) <= end)
            bm->words[i / 64] &= ~(1ull << (i % 64));
    return 0;
}

#endif

/* ---- the model: page intervals, a word at a time (bitmap.h) ----
 *
 * Which pages an operation touches is an interval of page indices,
 * worked out from the page address intervals in 128-bit arithmetic (page
 * i is [base + i * page, base + (i + 1) * page), exactly, past 2^64
 * too); the bits of an interval are then set or cleared with a mask per
 * word. A convert goes over the runs of set src bits: a run's pages are
 * one address interval, and the dst pages it dirties are those that
 * overlap its part inside [start, end).
 */

/* Which arguments the header calls invalid. */
static bool model_valid(const struct vuc_bitmap *b)
{
    return b && b->shift <= 63 && (b->words || b->nbits == 0);
}

static uint64_t clamp_bits(u128 i, uint64_t nbits)
{
    return i < nbits ? (uint64_t)i : nbits;
}

/* The first page whose end is past a: it holds a, or is page 0. */
static u128 first_ending_after(const struct vuc_bitmap *b, u128 a)
{
    return a <= b->base ? 0 : (a - b->base) >> b->shift;
}

/* How many pages begin below a. */
static u128 count_beginning_below(const struct vuc_bitmap *b, u128 a)
{
    return a <= b->base ? 0 : ((a - 1 - b->base) >> b->shift) + 1;
}

/* How many pages end at or below a. */
static u128 count_ending_by(const struct vuc_bitmap *b, u128 a)
{
    return a <= b->base ? 0 : (a - b->base) >> b->shift;
}

/* Bits [lo, hi) of w set (or cleared), one mask per word. */
static void bits_range(uint64_t *w, uint64_t lo, uint64_t hi, bool set)
{
    while (lo < hi) {
        unsigned off = (unsigned)(lo % 64);
        uint64_t n = hi - lo < 64 - off ? hi - lo : 64 - off;
        uint64_t mask = (n == 64 ? ~0ull : (1ull << n) - 1) << off;

        if (set)
            w[lo / 64] |= mask;
        else
            w[lo / 64] &= ~mask;
        lo += n;
    }
}

/* The first bit >= i and < n that is one (or zero), else n. */
static uint64_t next_bit(const uint64_t *w, uint64_t i, uint64_t n, bool one)
{
    while (i < n) {
        uint64_t x = (one ? w[i / 64] : ~w[i / 64]) & (~0ull << (i % 64));

        if (x) {
            i = i / 64 * 64 + (uint64_t)__builtin_ctzll(x);
            return i < n ? i : n;
        }
        i = (i / 64 + 1) * 64;
    }
    return n;
}

/* Every page overlapping [a, e), a < e, gets its bit. */
static void mark_interval(struct vuc_bitmap *b, u128 a, u128 e)
{
    bits_range(b->words, clamp_bits(first_ending_after(b, a), b->nbits),
               clamp_bits(count_beginning_below(b, e), b->nbits), true);
}

/*
 * For every set src page overlapping [start, end), every dst page that
 * overlaps (that page ∩ [start, end)) gets its bit; src bits >= nbits
 * are not read.
 */
static int model_convert(const struct vuc_bitmap *src, struct vuc_bitmap *dst,
                         uint64_t start, uint64_t end)
{
    uint64_t i, k, n;

    if (!model_valid(src) || !model_valid(dst) || start > end ||
        src->base > start || dst->base > start)
        return -EINVAL;
    if (start == end)
        return 0;
    i = clamp_bits(first_ending_after(src, start), src->nbits);
    n = clamp_bits(count_beginning_below(src, end), src->nbits);
    for (; (i = next_bit(src->words, i, n, true)) < n; i = k) {
        u128 lo = (u128)src->base + ((u128)i << src->shift), hi;

        k = next_bit(src->words, i, n, false);
        hi = (u128)src->base + ((u128)k << src->shift);
        if (lo < start)
            lo = start;
        if (hi > end)
            hi = end;
        if (lo < hi) /* lo >= start >= dst->base */
            mark_interval(dst, lo, hi);
    }
    return 0;
}

/* Every page overlapping [start, end); pages below base do not exist. */
static int model_mark(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    if (!model_valid(bm) || start > end)
        return -EINVAL;
    if (start < end)
        mark_interval(bm, start, end);
    return 0;
}

/* Every page wholly inside [start, end). */
static int model_clear(struct vuc_bitmap *bm, uint64_t start, uint64_t end)
{
    if (!model_valid(bm) || start > end)
        return -EINVAL;
    bits_range(bm->words,
               clamp_bits(count_beginning_below(bm, start), bm->nbits),
               clamp_bits(count_ending_by(bm, end), bm->nbits), false);
    return 0;
}

/* ---- reports ---- */

static void describe(const struct fz_bm *m)
{
    fprintf(stderr, "  %s: base 0x%016llx shift %u nbits %llu\n", m->name,
            (unsigned long long)m->lib.base, m->lib.shift,
            (unsigned long long)m->lib.nbits);
}

static void scene(const struct fz_bm *s, const struct fz_bm *d,
                  const struct fz_op *o)
{
    fprintf(stderr, "fuzz_bitmap: op %u, %s%s%s, [0x%016llx, 0x%016llx)\n",
            o->index, o->what, o->bad ? " with " : "", o->bad ? o->bad : "",
            (unsigned long long)o->start, (unsigned long long)o->end);
    describe(s);
    describe(d);
}

/* Every word, the unused high bits of the last one included. */
static void compare(const struct fz_bm *m, const struct fz_bm *s,
                    const struct fz_bm *d, const struct fz_op *o)
{
    for (size_t w = 0; w < words_for(m->lib.nbits); w++) {
        if (m->lib.words[w] == m->mw[w])
            continue;
        scene(s, d, o);
        FZ_FAIL("%s word %zu is 0x%016llx, the model's 0x%016llx (differs "
                "in 0x%016llx)",
                m->name, w, (unsigned long long)m->lib.words[w],
                (unsigned long long)m->mw[w],
                (unsigned long long)(m->lib.words[w] ^ m->mw[w]));
    }
}

#ifdef FZB_BIT_MODEL
/* The word model and the old bit model agree: return code and words. */
static void check_models(const struct fz_bm *m, const struct fz_bm *s,
                         const struct fz_bm *d, const struct fz_op *o, int want,
                         int want_bit)
{
    if (want != want_bit) {
        scene(s, d, o);
        FZ_FAIL("the word model returned %d, the bit model %d", want, want_bit);
    }
    for (size_t w = 0; w < words_for(m->lib.nbits); w++) {
        if (m->mw[w] == m->bw[w])
            continue;
        scene(s, d, o);
        FZ_FAIL("%s word %zu: the word model's 0x%016llx, the bit model's "
                "0x%016llx",
                m->name, w, (unsigned long long)m->mw[w],
                (unsigned long long)m->bw[w]);
    }
}
#endif

/* ---- input ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned shift_of(uint8_t v)
{
    return v < FZB_SHIFT_BAD ? v & 63u : 64u + (v & 63u);
}

/* An address (fuzz_priv.h: addr); own is anchor 0. */
static uint64_t addr(struct fz_in *in, uint64_t own, const struct fz_bm *s,
                     const struct fz_bm *d)
{
    uint8_t sel = fz_u8(in);
    uint64_t sp = 1ull << (s->lib.shift & 63), dp = 1ull << (d->lib.shift & 63);
    const uint64_t anchor[4] = {own, s->lib.base, d->lib.base, 0};
    const uint64_t unit[4] = {1, sp, dp, 64 * sp};
    uint64_t v;

    if (sel & FZB_ADDR_RAW)
        return fz_u64(in);
    v = fz_u16(in) * unit[(sel & FZB_ADDR_UNIT) >> 2];
    v = sel & FZB_ADDR_MINUS ? anchor[sel & FZB_ADDR_ANCHOR] - v
                             : anchor[sel & FZB_ADDR_ANCHOR] + v;
    if (sel & FZB_ADDR_BYTE)
        v += (uint64_t)(int64_t)(int8_t)fz_u8(in);
    return v;
}

/* The words of m and its model, from the fill byte (fuzz_priv.h). */
static void fill(struct fz_in *in, struct fz_bm *m)
{
    uint8_t f = fz_u8(in);
    size_t nw = words_for(m->lib.nbits);
    unsigned density = (f & FZB_FILL_DENSITY) >> 2;
    uint64_t seed = 0;

    if ((f & FZB_FILL_KIND) == FZB_FILL_RANDOM)
        seed = fz_u64(in);
    for (size_t w = 0; w < nw; w++) {
        uint64_t x = 0;

        switch (f & FZB_FILL_KIND) {
        case FZB_FILL_RAW:
            x = fz_u64(in);
            break;
        case FZB_FILL_RANDOM:
            x = splitmix64(&seed);
            if (density == 1 || density == 2)
                x &= splitmix64(&seed);
            if (density == 2)
                x &= splitmix64(&seed);
            if (density == 3)
                x |= splitmix64(&seed);
            break;
        case FZB_FILL_ONES:
            x = ~0ull;
            break;
        default:
            break;
        }
        m->lib.words[w] = x;
    }
    if ((f & FZB_FILL_NO_TAIL) && m->lib.nbits % 64)
        m->lib.words[nw - 1] &= ~0ull >> (64 - m->lib.nbits % 64);
    if (nw)
        memcpy(m->mw, m->lib.words, nw * sizeof(uint64_t));
#ifdef FZB_BIT_MODEL
    if (nw)
        memcpy(m->bw, m->lib.words, nw * sizeof(uint64_t));
#endif
}

/* ---- clear writes no zero word ---- */

/*
 * Two pages of a memfd, mapped twice for the whole process: the copy of
 * the words is written through view (always read-write) and cleared
 * through test, whose pages are made read-only or writable only when
 * that changes (an mmap, mprotect and sigaction per run were a quarter of
 * the target's time).
 */
static struct {
    uint8_t *view, *test;
    size_t page;
    bool ro[2]; /* test's two pages */
    struct sigaction old_segv, old_bus;
} ro_map;

/* Set while vuc_bitmap_clear runs on the copy. */
static volatile sig_atomic_t clearing;

static void zero_word_written(int sig)
{
    static const char msg[] =
        "fuzz_bitmap.c: property violated: vuc_bitmap_clear wrote a word "
        "that was zero (it faulted on a page made read-only because all "
        "its words were zero)\n";

    if (!clearing) {
        /* not ours: the fault comes again, to the handler we replaced */
        sigaction(sig, sig == SIGSEGV ? &ro_map.old_segv : &ro_map.old_bus,
                  NULL);
        return;
    }
    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to say */
    }
    abort();
}

static void ro_map_init(void)
{
    struct sigaction sa;
    void *v, *t;
    int fd;

    ro_map.page = (size_t)sysconf(_SC_PAGESIZE);
    fd = memfd_create("fuzz_bitmap", MFD_CLOEXEC);
    FZ_CHECK(fd >= 0 && ftruncate(fd, (off_t)(2 * ro_map.page)) == 0,
             "memfd of two pages");
    v = mmap(NULL, 2 * ro_map.page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    t = mmap(NULL, 2 * ro_map.page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    FZ_CHECK(v != MAP_FAILED && t != MAP_FAILED, "mmap of two pages");
    close(fd);
    ro_map.view = v;
    ro_map.test = t;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = zero_word_written;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &ro_map.old_segv);
    sigaction(SIGBUS, &sa, &ro_map.old_bus);
}

/* test's page i read-only (or read-write) */
static void ro_page(unsigned i, bool ro)
{
    if (ro_map.ro[i] == ro)
        return;
    FZ_CHECK(mprotect(ro_map.test + i * ro_map.page, ro_map.page,
                      ro ? PROT_READ : PROT_READ | PROT_WRITE) == 0,
             "mprotect");
    ro_map.ro[i] = ro;
}

static bool all_zero(const uint64_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i])
            return false;
    return true;
}

/*
 * Clear [start, end) of a copy of before (the words of m before its
 * clear), split words before the page boundary, each side read-only if
 * it is all zero; the copy must end as m's words did.
 */
static void check_clear_copy(const struct fz_bm *m, const uint64_t *before,
                             uint8_t split, const struct fz_bm *s,
                             const struct fz_bm *d, const struct fz_op *o)
{
    size_t nw = words_for(m->lib.nbits), k = split % (nw + 1);
    struct vuc_bitmap c = m->lib;
    uint64_t *w;
    int r;

    if (nw == 0)
        return;
    if (!ro_map.view)
        ro_map_init();
    memcpy((uint64_t *)(void *)(ro_map.view + ro_map.page) - k, before,
           nw * sizeof(uint64_t));
    w = (uint64_t *)(void *)(ro_map.test + ro_map.page) - k;
    /* a side with no word of the copy may stay as it is */
    if (k > 0)
        ro_page(0, all_zero(w, k));
    if (k < nw)
        ro_page(1, all_zero(w + k, nw - k));

    c.words = w;
    clearing = 1;
    r = vuc_bitmap_clear(&c, o->start, o->end);
    clearing = 0;

    if (r != 0 || memcmp(c.words, m->lib.words, nw * sizeof(uint64_t))) {
        scene(s, d, o);
        FZ_FAIL("the same clear on a copy returned %d and different words", r);
    }
}

/* ---- operations ---- */

static const char *const op_names[8] = {
    "convert S to D", "convert D to S", "mark S",         "mark D",
    "clear S",        "clear D",        "convert S to D", "convert D to S",
};

/* An argument as the op passes it: the bitmap, or an invalid variant. */
struct arg {
    struct vuc_bitmap lib, model;
#ifdef FZB_BIT_MODEL
    struct vuc_bitmap bit;
#endif
    bool null;
};

static void make_arg(struct arg *a, const struct fz_bm *m, unsigned bad,
                     uint8_t op)
{
    a->lib = m->lib;
    a->model = m->model;
    a->null = bad == FZB_BAD_NULL;
    if (bad == FZB_BAD_WORDS) {
        a->lib.words = NULL;
        a->model.words = NULL;
    } else if (bad == FZB_BAD_SHIFT) {
        a->lib.shift = a->model.shift = 64u + (op >> 6);
    }
#ifdef FZB_BIT_MODEL
    a->bit = a->model;
    if (a->bit.words)
        a->bit.words = m->bit.words;
#endif
}

static void run_op(struct fz_in *in, unsigned index, struct fz_bm *s,
                   struct fz_bm *d, bool verbose)
{
    static const char *const bad_names[4] = {NULL, "a NULL bitmap",
                                             "NULL words", "a shift > 63"};
    uint8_t op = fz_u8(in), kind = op & FZB_OP_KIND, split = 0;
    unsigned bad = op & FZB_OP_BAD;
    struct fz_op o = {index, op_names[kind], bad_names[bad >> 3], 0, 0};
    uint64_t before[MAX_WORDS];
    struct fz_bm *m;
    struct arg a, b;
    int got, want;
#ifdef FZB_BIT_MODEL
    int want_bit;
#endif

    o.start =
        addr(in, s->lib.base > d->lib.base ? s->lib.base : d->lib.base, s, d);
    o.end = addr(in, o.start, s, d);
    if (kind == FZB_OP_CLEAR_S || kind == FZB_OP_CLEAR_D)
        split = fz_u8(in);

    switch (kind) {
    case FZB_OP_MARK_S:
    case FZB_OP_MARK_D:
        m = kind == FZB_OP_MARK_S ? s : d;
        make_arg(&a, m, bad, op);
        got = vuc_bitmap_mark(a.null ? NULL : &a.lib, o.start, o.end);
        want = model_mark(a.null ? NULL : &a.model, o.start, o.end);
#ifdef FZB_BIT_MODEL
        want_bit = bit_mark(a.null ? NULL : &a.bit, o.start, o.end);
#endif
        break;
    case FZB_OP_CLEAR_S:
    case FZB_OP_CLEAR_D:
        m = kind == FZB_OP_CLEAR_S ? s : d;
        make_arg(&a, m, bad, op);
        if (m->lib.nbits)
            memcpy(before, m->lib.words,
                   words_for(m->lib.nbits) * sizeof(uint64_t));
        got = vuc_bitmap_clear(a.null ? NULL : &a.lib, o.start, o.end);
        want = model_clear(a.null ? NULL : &a.model, o.start, o.end);
#ifdef FZB_BIT_MODEL
        want_bit = bit_clear(a.null ? NULL : &a.bit, o.start, o.end);
#endif
        if (!bad && got == 0 && want == 0) {
            compare(m, s, d, &o);
            check_clear_copy(m, before, split, s, d, &o);
        }
        break;
    default: {
        const struct fz_bm *src = kind & 1 ? d : s;

        m = kind & 1 ? s : d; /* the dst */
        make_arg(&a, src, op & FZB_OP_BAD_DST ? 0 : bad, op);
        make_arg(&b, m, op & FZB_OP_BAD_DST ? bad : 0, op);
        got = vuc_bitmap_convert(a.null ? NULL : &a.lib, b.null ? NULL : &b.lib,
                                 o.start, o.end);
        want = model_convert(a.null ? NULL : &a.model, b.null ? NULL : &b.model,
                             o.start, o.end);
#ifdef FZB_BIT_MODEL
        want_bit = bit_convert(a.null ? NULL : &a.bit, b.null ? NULL : &b.bit,
                               o.start, o.end);
#endif
        break;
    }
    }
    if (verbose)
        fprintf(stderr, "op %u: %s%s%s [0x%016llx, 0x%016llx): %d\n", index,
                o.what, o.bad ? " with " : "", o.bad ? o.bad : "",
                (unsigned long long)o.start, (unsigned long long)o.end, got);
#ifdef FZB_BIT_MODEL
    check_models(s, s, d, &o, want, want_bit);
    check_models(d, s, d, &o, want, want_bit);
#endif
    if (got != want) {
        scene(s, d, &o);
        FZ_FAIL("returned %d, the model %d", got, want);
    }
    /* both: convert must not write its src either */
    compare(s, s, d, &o);
    compare(d, s, d, &o);
}

static void init_bm(struct fz_bm *m, const char *name, unsigned shift,
                    uint64_t nbits)
{
    size_t nw = words_for(nbits);

    m->name = name;
    m->lib.shift = shift;
    m->lib.nbits = nbits;
    /* words NULL for nbits 0, as the header allows */
    m->lib.words = nw ? malloc(nw * sizeof(uint64_t)) : NULL;
    FZ_CHECK(!nw || m->lib.words, "malloc");
    m->model = m->lib;
    m->model.words = m->mw;
#ifdef FZB_BIT_MODEL
    m->bit = m->lib;
    m->bit.words = m->bw;
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct fz_bm *s = calloc(1, sizeof(*s)), *d = calloc(1, sizeof(*d));
    bool verbose = getenv("VUC_FUZZ_VERBOSE") != NULL;
    unsigned ss, ds;
    uint64_t sn, dn;

    FZ_CHECK(s && d, "calloc");
    ss = shift_of(fz_u8(&in));
    ds = shift_of(fz_u8(&in));
    sn = fz_u16(&in) % (FZB_MAX_BITS + 1);
    dn = fz_u16(&in) % (FZB_MAX_BITS + 1);
    init_bm(s, "S", ss, sn);
    init_bm(d, "D", ds, dn);
    s->lib.base = s->model.base = addr(&in, 0, s, d);
    d->lib.base = d->model.base = addr(&in, 0, s, d);
#ifdef FZB_BIT_MODEL
    s->bit.base = s->lib.base;
    d->bit.base = d->lib.base;
#endif
    fill(&in, s);
    fill(&in, d);
    if (verbose) {
        describe(s);
        describe(d);
    }

    for (unsigned i = 0; i < FZB_MAX_OPS && !fz_empty(&in); i++)
        run_op(&in, i, s, d, verbose);

    free(s->lib.words);
    free(d->lib.words);
    free(s);
    free(d);
    return 0;
}
