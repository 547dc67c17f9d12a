/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the interval tree behind vucert-server's DMA mappings and
 * logged ranges (reference-server/itree.h). Random inserts, removes and
 * lookups, from a fixed seed, against a brute-force model: a pool of
 * intervals with a flag for those in the tree, every question answered
 * by looking at all of them. Intervals are drawn from three small windows
 * (at 0, at 2^32, and the last addresses below 2^64) so that overlaps,
 * intervals that touch, the lowest address and the highest end (2^64 - 1,
 * which nothing may contain) come up often; the pool is large enough for
 * the tree to grow three levels and shrink back, through every split,
 * borrow and merge. After every operation the tree's own check
 * (itree_check: order, fill, height, leaf chain, count) and an in-order
 * walk against the model; allocations fail at random in one test, and
 * every node allocated is freed.
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

#include "itree.h"

/* ---- a tiny deterministic PRNG (xorshift64*) ---- */

static uint64_t rng_state;

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

/* ---- node memory: counted, and failing on request ---- */

struct mem_ctx {
    long live;        /* allocated, not yet freed */
    unsigned fail_in; /* 1 in fail_in allocations fails (0: none) */
};

static void *mem_alloc(void *ctx, size_t n)
{
    struct mem_ctx *m = ctx;

    if (m->fail_in && rnd_below(m->fail_in) == 0)
        return NULL;
    m->live++;
    return malloc(n);
}

static void mem_release(void *ctx, void *p)
{
    struct mem_ctx *m = ctx;

    m->live--;
    free(p);
}

static struct mem_ctx mctx;
static const struct itree_mem mem = {mem_alloc, mem_release, &mctx};

/* ---- the pool, and the model's answers ---- */

#define POOL   2048u
#define WINDOW 4096u /* addresses per window */

struct item {
    uint64_t start, end;
    bool in;
    unsigned visits; /* itree_clear */
};

static struct item pool[POOL];

static const uint64_t window_base[3] = {0, 1ull << 32, UINT64_MAX - WINDOW};

/* An address in one of the windows; in the top one up to 2^64 - 1. */
static uint64_t rnd_addr(void)
{
    unsigned w = (unsigned)rnd_below(3);

    return window_base[w] + rnd_below(WINDOW + (w == 2));
}

/* An interval inside one window: mostly short, sometimes long. */
static void rnd_interval(uint64_t *a, uint64_t *b)
{
    uint64_t base = window_base[rnd_below(3)];
    uint64_t len = rnd_below(8) ? 1 + rnd_below(4) : 1 + rnd_below(WINDOW / 4);
    uint64_t off = rnd_below(WINDOW);

    if (len > WINDOW - off)
        len = WINDOW - off;
    *a = base + off;
    *b = *a + len;
}

/* [a, b) and [c, d) share an address (an empty one shares none). */
static bool meets(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return a < b && c < d && a < d && c < b;
}

static struct item *model_seek(uint64_t addr)
{
    struct item *best = NULL;

    for (unsigned i = 0; i < POOL; i++)
        if (pool[i].in && pool[i].end > addr &&
            (!best || pool[i].start < best->start))
            best = &pool[i];
    return best;
}

static unsigned model_count(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < POOL; i++)
        n += pool[i].in;
    return n;
}

/* ---- checks ---- */

/* The tree's invariants, and its walk is exactly the model, in order. */
static void check_tree(const struct itree *t)
{
    struct itree_it it;
    struct item *x, *prev = NULL;
    size_t walked = 0;

    assert_int_equal(itree_check(t), 0);
    assert_int_equal(t->n, model_count());
    for (x = itree_first(t, &it); x; x = itree_next(&it)) {
        assert_true(x->in);
        assert_int_equal(it.start, x->start);
        assert_int_equal(it.end, x->end);
        if (prev)
            assert_true(prev->end <= x->start);
        prev = x;
        walked++;
    }
    assert_int_equal(walked, t->n);
}

/* Every lookup at addr, and the walk over [a, b), against the model. */
static void check_queries(const struct itree *t, uint64_t addr, uint64_t a,
                          uint64_t b)
{
    struct item *want = model_seek(addr), *x;
    struct itree_it it;
    unsigned nwant = 0, got = 0;

    x = itree_seek(t, addr, &it);
    assert_ptr_equal(x, want);
    if (x) {
        assert_int_equal(it.start, x->start);
        assert_int_equal(it.end, x->end);
    }
    x = itree_find(t, addr, &it);
    assert_ptr_equal(x, want && want->start <= addr ? want : NULL);
    for (unsigned i = 0; i < POOL; i++)
        nwant += pool[i].in && meets(pool[i].start, pool[i].end, a, b);
    for (x = itree_overlap(t, a, b, &it); x && it.start < b;
         x = itree_next(&it)) {
        assert_true(meets(x->start, x->end, a, b));
        got++;
    }
    assert_int_equal(got, nwant);
    if (a >= b)
        assert_null(itree_overlap(t, a, b, &it));
}

/* Insert item i with [a, b): refused exactly for an overlap, or (when
 * allocations fail) with ENOMEM and nothing changed. */
static void do_insert(struct itree *t, unsigned i, uint64_t a, uint64_t b)
{
    bool overlaps = false;
    size_t n = t->n;
    int rc;

    for (unsigned k = 0; k < POOL; k++)
        overlaps |= pool[k].in && meets(pool[k].start, pool[k].end, a, b);
    pool[i].start = a;
    pool[i].end = b;
    rc = itree_insert(t, a, b, &pool[i]);
    if (overlaps) {
        assert_int_equal(rc, EEXIST);
    } else if (rc == ENOMEM) {
        assert_true(mctx.fail_in != 0);
        assert_int_equal(t->n, n);
    } else {
        assert_int_equal(rc, 0);
        pool[i].in = true;
    }
}

/* Remove item i: by its start, or where a lookup inside it found it. */
static void do_remove(struct itree *t, unsigned i)
{
    struct itree_it it;

    if (rnd_below(2)) {
        assert_ptr_equal(itree_remove(t, pool[i].start), &pool[i]);
    } else {
        uint64_t a = pool[i].start + rnd_below(pool[i].end - pool[i].start);

        assert_ptr_equal(itree_find(t, a, &it), &pool[i]);
        itree_remove_at(t, &it);
    }
    pool[i].in = false;
    assert_null(itree_remove(t, pool[i].start));
}

static void reset(struct itree *t, unsigned fail_in)
{
    memset(pool, 0, sizeof(pool));
    memset(&mctx, 0, sizeof(mctx));
    mctx.fail_in = fail_in;
    itree_init(t, &mem);
}

static void visit(void *item, void *arg)
{
    (*(unsigned *)arg)++;
    ((struct item *)item)->visits++;
}

/* Empty it with itree_clear: every item once, every node freed. */
static void clear_and_count(struct itree *t)
{
    unsigned n = 0;

    itree_clear(t, visit, &n);
    assert_int_equal(n, model_count());
    for (unsigned i = 0; i < POOL; i++)
        assert_int_equal(pool[i].visits, pool[i].in ? 1 : 0);
    assert_null(t->root);
    assert_int_equal(t->n, 0);
    assert_int_equal(mctx.live, 0);
    assert_int_equal(itree_check(t), 0);
}

/* ---- tests ---- */

static void test_empty(void **state)
{
    struct itree t;
    struct itree_it it;

    (void)state;
    reset(&t, 0);
    assert_null(itree_first(&t, &it));
    assert_null(itree_seek(&t, 0, &it));
    assert_null(itree_find(&t, 0, &it));
    assert_null(itree_overlap(&t, 0, UINT64_MAX, &it));
    assert_null(itree_remove(&t, 0));
    assert_int_equal(itree_check(&t), 0);
    clear_and_count(&t);
}

/* Boundaries, written out: touching intervals are not overlaps, one
 * byte of overlap is, and the highest end is 2^64 - 1. */
static void test_boundaries(void **state)
{
    struct itree t;
    struct itree_it it;

    (void)state;
    reset(&t, 0);
    do_insert(&t, 0, 100, 200);
    assert_true(pool[0].in);
    do_insert(&t, 1, 200, 300); /* touches above */
    assert_true(pool[1].in);
    do_insert(&t, 2, 50, 100); /* touches below */
    assert_true(pool[2].in);
    do_insert(&t, 3, 199, 200); /* the last byte of 0 */
    assert_false(pool[3].in);
    do_insert(&t, 3, 99, 101); /* across 2 and 0 */
    assert_false(pool[3].in);
    do_insert(&t, 3, 0, 1000); /* over all */
    assert_false(pool[3].in);
    do_insert(&t, 3, 150, 151); /* inside 0 */
    assert_false(pool[3].in);
    do_insert(&t, 3, 0, 50);
    assert_true(pool[3].in);
    do_insert(&t, 4, UINT64_MAX - 1, UINT64_MAX);
    assert_true(pool[4].in);
    do_insert(&t, 5, UINT64_MAX - 10, UINT64_MAX - 1);
    assert_true(pool[5].in);
    check_tree(&t);

    assert_ptr_equal(itree_find(&t, 0, &it), &pool[3]);
    assert_ptr_equal(itree_find(&t, 100, &it), &pool[0]);
    assert_ptr_equal(itree_find(&t, 199, &it), &pool[0]);
    assert_int_equal(it.start, 100);
    assert_int_equal(it.end, 200);
    assert_ptr_equal(itree_find(&t, 200, &it), &pool[1]);
    assert_null(itree_find(&t, 300, &it));
    assert_ptr_equal(itree_find(&t, UINT64_MAX - 1, &it), &pool[4]);
    assert_null(itree_find(&t, UINT64_MAX, &it));
    assert_ptr_equal(itree_seek(&t, 300, &it), &pool[5]);
    assert_null(itree_seek(&t, UINT64_MAX, &it));
    assert_null(itree_overlap(&t, 300, UINT64_MAX - 10, &it));
    assert_ptr_equal(itree_overlap(&t, 300, UINT64_MAX - 9, &it), &pool[5]);
    assert_ptr_equal(itree_overlap(&t, 199, 200, &it), &pool[0]);
    assert_null(itree_overlap(&t, 150, 150, &it)); /* empty */
    assert_null(itree_overlap(&t, 200, 100, &it)); /* reversed */
    /* removal is by exact start */
    assert_null(itree_remove(&t, 101));
    assert_null(itree_remove(&t, 99));
    do_remove(&t, 0);
    check_tree(&t);
    assert_null(itree_find(&t, 150, &it));
    do_insert(&t, 0, 100, 200);
    assert_true(pool[0].in);
    check_tree(&t);
    clear_and_count(&t);
}

/*
 * An interval that starts below a separator left by a removal but
 * reaches past it: the one holding an address just above the separator
 * is the last of the leaf before the one the descent reaches.
 */
static void test_stale_separator(void **state)
{
    struct itree t;
    struct itree_it it;

    (void)state;
    reset(&t, 0);
    /* 17 intervals of 10 at 0, 100, ..., 1600: the 17th splits the leaf
     * in two, [0, 710) .. and [800, 810) .., separated by 800 */
    for (unsigned i = 0; i < 17; i++)
        do_insert(&t, i, i * 100ull, i * 100ull + 10);
    assert_int_equal(t.height, 2);
    /* two more on the left, so that it can lose one without a merge */
    do_insert(&t, 17, 50, 60);
    do_insert(&t, 18, 150, 160);
    check_tree(&t);
    /* [800, 810) goes, the separator stays; [700, 710) goes too, and
     * [750, 890) fits in between, left of 800, reaching past it */
    do_remove(&t, 8);
    do_remove(&t, 7);
    do_insert(&t, 7, 750, 890);
    assert_true(pool[7].in);
    assert_int_equal(t.height, 2);
    check_tree(&t);
    assert_ptr_equal(itree_find(&t, 850, &it), &pool[7]);
    assert_ptr_equal(itree_seek(&t, 820, &it), &pool[7]);
    assert_ptr_equal(itree_seek(&t, 890, &it), &pool[9]);
    assert_ptr_equal(itree_overlap(&t, 880, 900, &it), &pool[7]);
    assert_ptr_equal(itree_next(&it), &pool[9]);
    do_insert(&t, 8, 880, 895); /* overlaps [750, 890) */
    assert_false(pool[8].in);
    do_insert(&t, 8, 890, 895);
    assert_true(pool[8].in);
    check_tree(&t);
    clear_and_count(&t);
}

/* Random operations against the model, checked after each. */
static void random_ops(unsigned ops, unsigned fail_in, uint64_t seed)
{
    struct itree t;
    unsigned peak = 0, peak_height = 0;

    rng_state = seed;
    reset(&t, fail_in);
    for (unsigned op = 0; op < ops; op++) {
        /* the pool fills up for the first half, then drains */
        bool growing = op < ops / 2;
        unsigned i = (unsigned)rnd_below(POOL);
        uint64_t a, b;

        /* growing: 3 in 4 picks of one out insert it, 1 in 4 picks of
         * one in remove it; draining the other way round */
        if (!pool[i].in && (rnd_below(4) == 0) != growing) {
            rnd_interval(&a, &b);
            do_insert(&t, i, a, b);
        } else if (pool[i].in && (rnd_below(4) == 0) == growing) {
            do_remove(&t, i);
        }
        if (t.n > peak)
            peak = (unsigned)t.n;
        if (t.height > peak_height)
            peak_height = t.height;
        if (op % 16 == 0 || t.n < 40)
            check_tree(&t);
        else
            assert_int_equal(itree_check(&t), 0);
        rnd_interval(&a, &b);
        if (rnd_below(8) == 0) /* sometimes across windows, or empty */
            b = rnd_below(2) ? UINT64_MAX : a - rnd_below(2);
        check_queries(&t, rnd_addr(), a, b);
    }
    check_tree(&t);
    /* down to a few, in no order: merges all the way up */
    for (unsigned i = (unsigned)rnd_below(POOL), k = 0; t.n > 40; k++) {
        if (pool[(i + k * 7) % POOL].in) {
            do_remove(&t, (i + k * 7) % POOL);
            assert_int_equal(itree_check(&t), 0);
        }
    }
    check_tree(&t);
    /* it grew three levels (two hold at most 32 x 16) and came back */
    assert_true(peak > 600);
    assert_true(peak_height >= 3);
    assert_true(t.height <= 2);
    clear_and_count(&t);
}

static void test_random_ops(void **state)
{
    (void)state;
    random_ops(24000, 0, 0x2545f4914f6cdd1dull);
}

/* Every allocation may fail: an insert that fails changes nothing. */
static void test_alloc_failures(void **state)
{
    (void)state;
    random_ops(12000, 8, 0x9e3779b97f4a7c15ull);
}

/* Ascending, descending and shuffled inserts and removes of many, as a
 * DMA client maps and unmaps: every lookup finds its own, the tree
 * stays shallow, and nothing leaks. */
static void test_orders(void **state)
{
    enum { N = 65535 };
    struct item *items = calloc(N, sizeof(*items));
    unsigned *ord = calloc(N, sizeof(*ord));
    struct itree t;
    struct itree_it it;
    unsigned none = 0;

    (void)state;
    assert_non_null(items);
    assert_non_null(ord);
    rng_state = 0x9e3779b97f4a7c15ull;
    memset(&mctx, 0, sizeof(mctx));
    for (int pass = 0; pass < 3; pass++) {
        itree_init(&t, &mem);
        for (unsigned i = 0; i < N; i++)
            ord[i] = pass == 1 ? N - 1 - i : i;
        if (pass == 2)
            for (unsigned i = N - 1; i > 0; i--) {
                unsigned j = (unsigned)rnd_below(i + 1), x = ord[i];

                ord[i] = ord[j];
                ord[j] = x;
            }
        for (unsigned i = 0; i < N; i++) {
            struct item *x = &items[ord[i]];

            x->start = (uint64_t)ord[i] * 8192;
            x->end = x->start + 4096;
            assert_int_equal(itree_insert(&t, x->start, x->end, x), 0);
        }
        assert_int_equal(t.n, N);
        assert_int_equal(itree_check(&t), 0);
        /* 65535 in leaves of at least 8, inner nodes of at least 16 */
        assert_true(t.height <= 4);
        for (unsigned i = 0; i < N; i++) {
            uint64_t a = (uint64_t)i * 8192;

            assert_ptr_equal(itree_find(&t, a + 4095, &it), &items[i]);
            assert_null(itree_find(&t, a + 4096, &it));
            assert_ptr_equal(itree_seek(&t, a + 4096, &it),
                             i + 1 < N ? &items[i + 1] : NULL);
        }
        /* remove half (every other, in the insert order), then the rest */
        for (unsigned i = 0; i < N; i += 2)
            assert_ptr_equal(itree_remove(&t, items[ord[i]].start),
                             &items[ord[i]]);
        assert_int_equal(t.n, N / 2);
        assert_int_equal(itree_check(&t), 0);
        for (unsigned i = 1; i < N; i += 2)
            assert_ptr_equal(itree_remove(&t, items[ord[i]].start),
                             &items[ord[i]]);
        /* the root leaf stays, empty, until a clear */
        assert_int_equal(t.n, 0);
        assert_int_equal(t.height, 1);
        assert_int_equal(itree_check(&t), 0);
        assert_null(itree_first(&t, &it));
        assert_null(itree_seek(&t, 0, &it));
        itree_clear(&t, visit, &none);
        assert_int_equal(none, 0);
        assert_null(t.root);
        assert_int_equal(mctx.live, 0);
    }
    free(items);
    free(ord);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_stale_separator),
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_orders),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
