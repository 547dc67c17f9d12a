/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the interval tree behind vucert-server's DMA mappings and
 * logged ranges (reference-server/itree.h). Random inserts, removes and
 * lookups, from a fixed seed, against a brute-force model: a pool of
 * intervals with a flag for those in the tree, every question answered
 * by looking at all of them. Intervals are drawn from three small windows
 * (at 0, at 2^32, and the last addresses below 2^64) so that overlaps,
 * intervals that touch, the lowest address and the highest end (2^64 - 1,
 * which nothing may contain) come up often. After every operation the
 * whole tree is checked: parent links, heights, AVL balance, order and
 * disjointness, and the count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

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

/* ---- the pool, and the model's answers ---- */

#define POOL   256u
#define WINDOW 512u /* addresses per window */

struct item {
    uint64_t tag; /* something besides the node, found back by itree_entry */
    struct itree_node node;
    bool in;
    unsigned visits; /* itree_clear */
};

static struct item pool[POOL];

static const uint64_t window_base[3] = {0, 1ull << 32, UINT64_MAX - WINDOW};

/* An address in one of the windows; in the top one up to 2^64 - 1. */
static uint64_t rnd_addr(unsigned w)
{
    return window_base[w] + rnd_below(WINDOW + (w == 2));
}

/* An interval inside one window: mostly short, sometimes long. */
static void rnd_interval(uint64_t *a, uint64_t *b)
{
    unsigned w = (unsigned)rnd_below(3);
    uint64_t base = window_base[w], top = base + WINDOW;
    uint64_t len = rnd_below(4) ? 1 + rnd_below(8) : 1 + rnd_below(WINDOW);
    uint64_t off = rnd_below(WINDOW);

    if (len > WINDOW - off)
        len = WINDOW - off;
    *a = base + off;
    *b = *a + len;
    if (*b > top)
        *b = top;
}

/* [a, b) and [c, d) share an address (an empty one shares none). */
static bool meets(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return a < b && c < d && a < d && c < b;
}

static struct itree_node *model_first_after(uint64_t addr)
{
    struct item *best = NULL;

    for (unsigned i = 0; i < POOL; i++)
        if (pool[i].in && pool[i].node.end > addr &&
            (!best || pool[i].node.start < best->node.start))
            best = &pool[i];
    return best ? &best->node : NULL;
}

static struct itree_node *model_find(uint64_t addr)
{
    for (unsigned i = 0; i < POOL; i++)
        if (pool[i].in && pool[i].node.start <= addr && addr < pool[i].node.end)
            return &pool[i].node;
    return NULL;
}

static unsigned model_count(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < POOL; i++)
        n += pool[i].in;
    return n;
}

/* ---- the tree's invariants ---- */

/* Height of x's subtree, checking links, heights and balance below x;
 * every interval in it lies within [lo, hi). */
static int check_subtree(const struct itree_node *x,
                         const struct itree_node *parent, uint64_t lo,
                         uint64_t hi, size_t *count)
{
    int l, r;

    if (!x)
        return 0;
    (*count)++;
    assert_ptr_equal(x->parent, parent);
    assert_true(x->start < x->end);
    assert_true(x->start >= lo && x->end <= hi);
    l = check_subtree(x->left, x, lo, x->start, count);
    r = check_subtree(x->right, x, x->end, hi, count);
    assert_true(l - r <= 1 && r - l <= 1);
    assert_int_equal(x->height, 1 + (l > r ? l : r));
    return x->height;
}

static void check_tree(const struct itree *t)
{
    const struct itree_node *x, *prev = NULL;
    size_t count = 0, walked = 0;

    check_subtree(t->root, NULL, 0, UINT64_MAX, &count);
    assert_int_equal(count, t->n);
    assert_int_equal(t->n, model_count());
    /* in order: ascending, disjoint, exactly the model's */
    for (x = itree_first(t); x; x = itree_next(x)) {
        struct item *it = itree_entry(x, struct item, node);

        assert_true(it->in);
        assert_int_equal(it->tag, (uint64_t)(it - pool) * 7919);
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
    struct itree_node *x;
    unsigned want = 0, got = 0;

    assert_ptr_equal(itree_first_after(t, addr), model_first_after(addr));
    assert_ptr_equal(itree_find(t, addr), model_find(addr));
    for (unsigned i = 0; i < POOL; i++)
        want += pool[i].in && meets(pool[i].node.start, pool[i].node.end, a, b);
    for (x = itree_overlap(t, a, b); x && x->start < b; x = itree_next(x)) {
        assert_true(meets(x->start, x->end, a, b));
        got++;
    }
    assert_int_equal(got, want);
    if (a >= b)
        assert_null(itree_overlap(t, a, b));
}

/* Insert item i with [a, b): the tree must refuse exactly an overlap. */
static void do_insert(struct itree *t, unsigned i, uint64_t a, uint64_t b)
{
    struct itree_node *clash;
    bool overlaps = false;

    for (unsigned k = 0; k < POOL; k++)
        overlaps |=
            pool[k].in && meets(pool[k].node.start, pool[k].node.end, a, b);
    pool[i].node.start = a;
    pool[i].node.end = b;
    clash = itree_insert(t, &pool[i].node);
    if (overlaps) {
        assert_non_null(clash);
        assert_true(itree_entry(clash, struct item, node)->in);
        assert_true(meets(clash->start, clash->end, a, b));
    } else {
        assert_null(clash);
        pool[i].in = true;
    }
}

static void reset_pool(void)
{
    memset(pool, 0, sizeof(pool));
    for (unsigned i = 0; i < POOL; i++)
        pool[i].tag = (uint64_t)i * 7919;
}

static void visit(struct itree_node *x, void *arg)
{
    struct item *it = itree_entry(x, struct item, node);

    (*(unsigned *)arg)++;
    it->visits++;
    /* what a caller that frees the node would do to it */
    memset(x, 0xa5, sizeof(*x));
}

/* ---- tests ---- */

static void test_empty(void **state)
{
    struct itree t;
    unsigned n = 0;

    (void)state;
    itree_init(&t);
    assert_null(itree_first(&t));
    assert_null(itree_first_after(&t, 0));
    assert_null(itree_find(&t, 0));
    assert_null(itree_overlap(&t, 0, UINT64_MAX));
    itree_clear(&t, visit, &n);
    assert_int_equal(n, 0);
}

/* Boundaries, written out: touching intervals are not overlaps, one
 * byte of overlap is, and the highest end is 2^64 - 1. */
static void test_boundaries(void **state)
{
    struct itree t;

    (void)state;
    reset_pool();
    itree_init(&t);
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

    assert_ptr_equal(itree_find(&t, 0), &pool[3].node);
    assert_ptr_equal(itree_find(&t, 100), &pool[0].node);
    assert_ptr_equal(itree_find(&t, 199), &pool[0].node);
    assert_ptr_equal(itree_find(&t, 200), &pool[1].node);
    assert_null(itree_find(&t, 300));
    assert_ptr_equal(itree_find(&t, UINT64_MAX - 1), &pool[4].node);
    assert_null(itree_find(&t, UINT64_MAX));
    assert_ptr_equal(itree_first_after(&t, 300), &pool[5].node);
    assert_null(itree_first_after(&t, UINT64_MAX));
    assert_null(itree_overlap(&t, 300, UINT64_MAX - 10));
    assert_ptr_equal(itree_overlap(&t, 300, UINT64_MAX - 9), &pool[5].node);
    assert_ptr_equal(itree_overlap(&t, 199, 200), &pool[0].node);
    assert_null(itree_overlap(&t, 150, 150)); /* empty */
    assert_null(itree_overlap(&t, 200, 100)); /* reversed */

    /* the successor of a node with two children takes its place */
    itree_remove(&t, &pool[0].node);
    pool[0].in = false;
    check_tree(&t);
    assert_null(itree_find(&t, 150));
    do_insert(&t, 0, 100, 200);
    assert_true(pool[0].in);
    check_tree(&t);
}

/* Thousands of random operations against the model, checked after each. */
static void test_random_ops(void **state)
{
    struct itree t;
    unsigned n = 0;

    (void)state;
    rng_state = 0x2545f4914f6cdd1dull;
    reset_pool();
    itree_init(&t);
    for (unsigned op = 0; op < 40000; op++) {
        unsigned i = (unsigned)rnd_below(POOL);
        uint64_t a, b;

        /* inserts win when few are in, removes when many are */
        if (!pool[i].in && rnd_below(POOL) >= model_count()) {
            rnd_interval(&a, &b);
            do_insert(&t, i, a, b);
        } else if (pool[i].in) {
            itree_remove(&t, &pool[i].node);
            pool[i].in = false;
        }
        if (op % 8 == 0 || t.n < 8)
            check_tree(&t);
        rnd_interval(&a, &b);
        if (rnd_below(8) == 0) /* sometimes across windows, or empty */
            b = rnd_below(2) ? UINT64_MAX : a - rnd_below(2);
        check_queries(&t, rnd_addr((unsigned)rnd_below(3)), a, b);
    }
    check_tree(&t);
    /* a clear visits every node once, children before their parent */
    itree_clear(&t, visit, &n);
    assert_int_equal(n, model_count());
    for (unsigned i = 0; i < POOL; i++)
        assert_int_equal(pool[i].visits, pool[i].in ? 1 : 0);
    assert_null(t.root);
    assert_int_equal(t.n, 0);
}

/* Ascending, descending and shuffled inserts and removes of many: the
 * tree stays an AVL tree (height at most 1.44 log2(n + 2)). */
static void test_orders(void **state)
{
    enum { N = 20000 };
    struct itree_node *nodes = calloc(N, sizeof(*nodes));
    unsigned *ord = calloc(N, sizeof(*ord));
    struct itree t;

    (void)state;
    assert_non_null(nodes);
    assert_non_null(ord);
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int pass = 0; pass < 3; pass++) {
        itree_init(&t);
        for (unsigned i = 0; i < N; i++)
            ord[i] = pass == 1 ? N - 1 - i : i;
        if (pass == 2)
            for (unsigned i = N - 1; i > 0; i--) {
                unsigned j = (unsigned)rnd_below(i + 1), x = ord[i];

                ord[i] = ord[j];
                ord[j] = x;
            }
        for (unsigned i = 0; i < N; i++) {
            nodes[ord[i]].start = (uint64_t)ord[i] * 8192;
            nodes[ord[i]].end = (uint64_t)ord[i] * 8192 + 4096;
            assert_null(itree_insert(&t, &nodes[ord[i]]));
        }
        assert_int_equal(t.n, N);
        /* 1.4405 log2(N + 2) - 0.3277 < 20.3 for N = 20000 */
        assert_true(t.root->height <= 20);
        for (unsigned i = 0; i < N; i++) {
            uint64_t a = (uint64_t)i * 8192;

            assert_ptr_equal(itree_find(&t, a + 4095), &nodes[i]);
            assert_null(itree_find(&t, a + 4096));
            assert_ptr_equal(itree_first_after(&t, a + 4096),
                             i + 1 < N ? &nodes[i + 1] : NULL);
        }
        /* remove half (every other, in the insert order), then the rest */
        for (unsigned i = 0; i < N; i += 2)
            itree_remove(&t, &nodes[ord[i]]);
        assert_int_equal(t.n, N / 2);
        assert_true(t.root->height <= 20);
        for (unsigned i = 1; i < N; i += 2) {
            assert_ptr_equal(itree_find(&t, nodes[ord[i]].start),
                             &nodes[ord[i]]);
            itree_remove(&t, &nodes[ord[i]]);
        }
        assert_null(t.root);
        assert_int_equal(t.n, 0);
    }
    free(nodes);
    free(ord);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_orders),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
