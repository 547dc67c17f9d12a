// SPDX-License-Identifier: BSD-3-Clause
/*
 * Disjoint intervals in a B+tree (itree.h).
 *
 * The intervals live in the leaves, sorted by start, LEAF_MIN to LEAF_MAX
 * of them in each (a root leaf may hold fewer, none at all once its
 * last interval went), each leaf linked to
 * its neighbours so that a walk steps from one to the next. An inner node
 * holds INNER_MIN to INNER_MAX children (the root at least 2) and, between
 * each two, a separator: every start under the left child is below it,
 * every start under the right one at or above it. All leaves are at the
 * same depth.
 *
 * A separator is the first start of its right child when a split or a
 * borrow sets it; removals leave it where it was, which keeps the rule
 * above but lets an interval that starts below it still reach past it
 * (the interval was inserted, left of it, after the one that set it went).
 * So the interval holding an address may be the last of the leaf before
 * the one the descent reaches: itree_seek looks there too.
 *
 * Leaves keep starts, ends and items in three arrays, so that the search
 * in a leaf reads the 128 bytes of its starts side by side, and then one
 * end and one item. Descents remember their path (struct path) rather than
 * nodes keeping parent pointers, which would have to change on every split.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "itree.h"

#define LEAF_MAX  16u
#define LEAF_MIN  (LEAF_MAX / 2)
#define INNER_MAX 32u
#define INNER_MIN (INNER_MAX / 2)
/* Deeper than any tree can be: h levels hold at least
 * 2 * INNER_MIN^(h - 2) * LEAF_MIN intervals, 2^64 for h = 17, more
 * than there are addresses to start them at. */
#define MAX_HEIGHT 17u

/* The count first, beside the keys a search reads next: at the end it
 * would be a cache line of its own to wait for. */
struct itree_leaf {
    unsigned n;
    struct itree_leaf *prev, *next;
    uint64_t start[LEAF_MAX];
    uint64_t end[LEAF_MAX];
    void *item[LEAF_MAX];
};

struct inner {
    unsigned n; /* children */
    /* key[i] separates child[i - 1] from child[i]; key[0] is unused */
    uint64_t key[INNER_MAX];
    void *child[INNER_MAX];
};

/* A descent: the inner node at each level and the child taken there. */
struct path {
    struct inner *node[MAX_HEIGHT];
    unsigned at[MAX_HEIGHT];
};

static void *node_alloc(const struct itree *t, size_t n)
{
    return t->mem->alloc(t->mem->ctx, n);
}

static void node_free(const struct itree *t, void *p)
{
    t->mem->release(t->mem->ctx, p);
}

void itree_init(struct itree *t, const struct itree_mem *mem)
{
    t->root = NULL;
    t->height = 0;
    t->n = 0;
    t->mem = mem;
}

/*
 * The first i in [lo, n) with k[i] > x, n if none. Without a branch on
 * the comparisons (the compiler makes the step a conditional move): for
 * addresses in no particular order each would be mispredicted half the
 * time, some twenty of them on a descent of a 64k tree.
 */
static unsigned upper(const uint64_t *k, unsigned lo, unsigned n, uint64_t x)
{
    const uint64_t *b = k + lo;
    unsigned len = n - lo;

    if (len == 0)
        return lo;
    /* the answer lies in [b, b + len] */
    while (len > 1) {
        unsigned half = len / 2;

        b += b[half] <= x ? half : 0;
        len -= half;
    }
    return (unsigned)(b - k) + (*b <= x);
}

/* The leaf where a start of addr belongs; the path to it into p. */
static struct itree_leaf *descend(const struct itree *t, uint64_t addr,
                                  struct path *p)
{
    void *x = t->root;

    for (unsigned lv = 0; lv + 1 < t->height; lv++) {
        struct inner *in = x;
        unsigned c = upper(in->key, 1, in->n, addr) - 1;

        if (p) {
            p->node[lv] = in;
            p->at[lv] = c;
        }
        x = in->child[c];
    }
    return x;
}

/* Position it at interval i of l, or past l's end at the next leaf's
 * first; the item there, or NULL past the last leaf. */
static void *at(struct itree_it *it, struct itree_leaf *l, unsigned i)
{
    if (i >= l->n) {
        l = l->next;
        i = 0;
        if (!l)
            return NULL;
    }
    it->leaf = l;
    it->i = i;
    it->start = l->start[i];
    it->end = l->end[i];
    it->item = l->item[i];
    return it->item;
}

void *itree_seek(const struct itree *t, uint64_t addr, struct itree_it *it)
{
    struct itree_leaf *l, *p;
    unsigned j;

    if (!t->root)
        return NULL;
    l = descend(t, addr, NULL);
    j = upper(l->start, 0, l->n, addr);
    /* Below j the intervals start at or below addr: only the last of
     * them can hold it, the earlier ones end at or before its start. */
    if (j > 0)
        return at(it, l, l->end[j - 1] > addr ? j - 1 : j);
    /* None here starts at or below addr: the previous leaf's last may
     * still reach past it (see the top of this file). */
    p = l->prev;
    if (p && p->end[p->n - 1] > addr)
        return at(it, p, p->n - 1);
    return at(it, l, 0);
}

void *itree_find(const struct itree *t, uint64_t addr, struct itree_it *it)
{
    void *x = itree_seek(t, addr, it);

    return x && it->start <= addr ? x : NULL;
}

void *itree_overlap(const struct itree *t, uint64_t a, uint64_t b,
                    struct itree_it *it)
{
    void *x = a < b ? itree_seek(t, a, it) : NULL;

    return x && it->start < b ? x : NULL;
}

void *itree_first(const struct itree *t, struct itree_it *it)
{
    void *x = t->root;

    if (!x)
        return NULL;
    for (unsigned lv = 0; lv + 1 < t->height; lv++)
        x = ((struct inner *)x)->child[0];
    return at(it, x, 0);
}

void *itree_next(struct itree_it *it)
{
    return at(it, it->leaf, it->i + 1);
}

/* ---- insert ---- */

static void leaf_put(struct itree_leaf *l, unsigned j, uint64_t start,
                     uint64_t end, void *item)
{
    unsigned m = l->n - j;

    memmove(&l->start[j + 1], &l->start[j], m * sizeof(l->start[0]));
    memmove(&l->end[j + 1], &l->end[j], m * sizeof(l->end[0]));
    memmove(&l->item[j + 1], &l->item[j], m * sizeof(l->item[0]));
    l->start[j] = start;
    l->end[j] = end;
    l->item[j] = item;
    l->n++;
}

/* child, whose starts are at or above key, at position j >= 1 of x. */
static void inner_put(struct inner *x, unsigned j, uint64_t key, void *child)
{
    unsigned m = x->n - j;

    memmove(&x->key[j + 1], &x->key[j], m * sizeof(x->key[0]));
    memmove(&x->child[j + 1], &x->child[j], m * sizeof(x->child[0]));
    x->key[j] = key;
    x->child[j] = child;
    x->n++;
}

/* The upper half of l into the empty leaf r, linked after l. */
static void leaf_split(struct itree_leaf *l, struct itree_leaf *r)
{
    unsigned keep = LEAF_MAX / 2, m = l->n - keep;

    memset(r, 0, sizeof(*r));
    memcpy(r->start, &l->start[keep], m * sizeof(r->start[0]));
    memcpy(r->end, &l->end[keep], m * sizeof(r->end[0]));
    memcpy(r->item, &l->item[keep], m * sizeof(r->item[0]));
    r->n = m;
    l->n = keep;
    r->prev = l;
    r->next = l->next;
    if (l->next)
        l->next->prev = r;
    l->next = r;
}

int itree_insert(struct itree *t, uint64_t start, uint64_t end, void *item)
{
    void *spare[MAX_HEIGHT + 1];
    unsigned need = 0, used = 0, j;
    struct itree_leaf *l, *r;
    struct inner *nr;
    struct path p;
    uint64_t key;
    void *child;
    int lv;

    if (!t->root) {
        l = node_alloc(t, sizeof(*l));
        if (!l)
            return ENOMEM;
        memset(l, 0, sizeof(*l));
        leaf_put(l, 0, start, end, item);
        t->root = l;
        t->height = 1;
        t->n = 1;
        return 0;
    }
    l = descend(t, start, &p);
    j = upper(l->start, 0, l->n, start);
    /* The intervals either side of where it goes: the one before ends
     * at or below start, the one after starts at or above end, or it
     * overlaps. Before: j - 1 here, or the previous leaf's last (all of
     * whose starts are below l's separator, which is at or below
     * start). After: j here, or the next leaf's first. */
    if (j > 0 ? l->end[j - 1] > start
              : l->prev && l->prev->end[l->prev->n - 1] > start)
        return EEXIST;
    if (j < l->n ? l->start[j] < end : l->next && l->next->start[0] < end)
        return EEXIST;
    if (l->n < LEAF_MAX) {
        leaf_put(l, j, start, end, item);
        t->n++;
        return 0;
    }

    /* The leaf splits, and so does each full inner node above it; a
     * full root gets a new one above. Every node that takes is
     * allocated before anything changes, so that a failure changes
     * nothing. */
    need = 1;
    for (lv = (int)t->height - 2; lv >= 0 && p.node[lv]->n == INNER_MAX; lv--)
        need++;
    if (lv < 0)
        need++;
    for (; used < need; used++) {
        spare[used] = node_alloc(t, used ? sizeof(struct inner)
                                         : sizeof(struct itree_leaf));
        if (!spare[used]) {
            while (used--)
                node_free(t, spare[used]);
            return ENOMEM;
        }
    }
    used = 0;

    r = spare[used++];
    leaf_split(l, r);
    if (j <= l->n)
        leaf_put(l, j, start, end, item);
    else
        leaf_put(r, j - l->n, start, end, item);
    t->n++;
    key = r->start[0];
    child = r;
    for (lv = (int)t->height - 2; lv >= 0; lv--) {
        struct inner *x = p.node[lv], *y;
        unsigned pos = p.at[lv] + 1, keep = INNER_MAX / 2;

        if (x->n < INNER_MAX) {
            inner_put(x, pos, key, child);
            return 0;
        }
        /* y takes x's upper half; the separator of its first child goes
         * up, and stays in y->key[0], unused there */
        y = spare[used++];
        y->n = INNER_MAX - keep;
        memcpy(y->key, &x->key[keep], y->n * sizeof(y->key[0]));
        memcpy(y->child, &x->child[keep], y->n * sizeof(y->child[0]));
        x->n = keep;
        if (pos <= keep)
            inner_put(x, pos, key, child);
        else
            inner_put(y, pos - keep, key, child);
        key = y->key[0];
        child = y;
    }
    nr = spare[used++];
    memset(nr, 0, sizeof(*nr));
    nr->n = 2;
    nr->child[0] = t->root;
    nr->child[1] = child;
    nr->key[1] = key;
    t->root = nr;
    t->height++;
    return 0;
}

/* ---- remove ---- */

static void leaf_del(struct itree_leaf *l, unsigned j)
{
    unsigned m = l->n - j - 1;

    memmove(&l->start[j], &l->start[j + 1], m * sizeof(l->start[0]));
    memmove(&l->end[j], &l->end[j + 1], m * sizeof(l->end[0]));
    memmove(&l->item[j], &l->item[j + 1], m * sizeof(l->item[0]));
    l->n--;
}

static void inner_del(struct inner *x, unsigned j)
{
    unsigned m = x->n - j - 1;

    memmove(&x->key[j], &x->key[j + 1], m * sizeof(x->key[0]));
    memmove(&x->child[j], &x->child[j + 1], m * sizeof(x->child[0]));
    x->n--;
}

/* b's intervals after a's; b leaves the chain and is freed. */
static void leaf_merge(const struct itree *t, struct itree_leaf *a,
                       struct itree_leaf *b)
{
    memcpy(&a->start[a->n], b->start, b->n * sizeof(b->start[0]));
    memcpy(&a->end[a->n], b->end, b->n * sizeof(b->end[0]));
    memcpy(&a->item[a->n], b->item, b->n * sizeof(b->item[0]));
    a->n += b->n;
    a->next = b->next;
    if (b->next)
        b->next->prev = a;
    node_free(t, b);
}

/* b's children after a's, sep between them; b is freed. */
static void inner_merge(const struct itree *t, struct inner *a, struct inner *b,
                        uint64_t sep)
{
    b->key[0] = sep;
    memcpy(&a->key[a->n], b->key, b->n * sizeof(b->key[0]));
    memcpy(&a->child[a->n], b->child, b->n * sizeof(b->child[0]));
    a->n += b->n;
    node_free(t, b);
}

/* Inner node p->node[lv] lost a child: refill it from a sibling, or
 * merge it with one (and its parent loses a child in turn). */
static void fix_inner(struct itree *t, const struct path *p, int lv)
{
    for (;; lv--) {
        struct inner *x = p->node[lv], *y, *ls, *rs;
        unsigned at;

        if (lv == 0) {
            /* the root with one child: that child is the root */
            if (x->n == 1) {
                t->root = x->child[0];
                t->height--;
                node_free(t, x);
            }
            return;
        }
        if (x->n >= INNER_MIN)
            return;
        y = p->node[lv - 1];
        at = p->at[lv - 1];
        ls = at > 0 ? y->child[at - 1] : NULL;
        rs = at + 1 < y->n ? y->child[at + 1] : NULL;
        if (ls && ls->n > INNER_MIN) {
            /* ls's last child becomes x's first */
            memmove(&x->key[1], &x->key[0], x->n * sizeof(x->key[0]));
            memmove(&x->child[1], &x->child[0], x->n * sizeof(x->child[0]));
            x->key[1] = y->key[at];
            x->child[0] = ls->child[ls->n - 1];
            x->n++;
            y->key[at] = ls->key[ls->n - 1];
            ls->n--;
            return;
        }
        if (rs && rs->n > INNER_MIN) {
            /* rs's first child becomes x's last */
            x->key[x->n] = y->key[at + 1];
            x->child[x->n] = rs->child[0];
            x->n++;
            y->key[at + 1] = rs->key[1];
            inner_del(rs, 0);
            return;
        }
        if (ls) {
            inner_merge(t, ls, x, y->key[at]);
            inner_del(y, at);
        } else {
            inner_merge(t, x, rs, y->key[at + 1]);
            inner_del(y, at + 1);
        }
    }
}

/* Leaf l, below p's last inner node, has fewer than LEAF_MIN intervals:
 * refill it from a sibling, or merge it with one. */
static void fix_leaf(struct itree *t, const struct path *p,
                     struct itree_leaf *l)
{
    int lv = (int)t->height - 2;
    struct inner *x = p->node[lv];
    unsigned at = p->at[lv];
    struct itree_leaf *ls = at > 0 ? x->child[at - 1] : NULL;
    struct itree_leaf *rs = at + 1 < x->n ? x->child[at + 1] : NULL;

    if (ls && ls->n > LEAF_MIN) {
        unsigned k = ls->n - 1;

        leaf_put(l, 0, ls->start[k], ls->end[k], ls->item[k]);
        ls->n--;
        x->key[at] = l->start[0];
        return;
    }
    if (rs && rs->n > LEAF_MIN) {
        leaf_put(l, l->n, rs->start[0], rs->end[0], rs->item[0]);
        leaf_del(rs, 0);
        x->key[at + 1] = rs->start[0];
        return;
    }
    /* an inner node has two children at least: one of them exists */
    if (ls) {
        leaf_merge(t, ls, l);
        inner_del(x, at);
    } else {
        leaf_merge(t, l, rs);
        inner_del(x, at + 1);
    }
    fix_inner(t, p, lv);
}

/* Take interval j out of leaf l; p is the path to l, or NULL: then it is
 * found again if the leaf runs low. */
static void take(struct itree *t, struct itree_leaf *l, unsigned j,
                 const struct path *p)
{
    uint64_t start = l->start[j];
    struct path again;

    leaf_del(l, j);
    t->n--;
    /* A root leaf stays, empty or not: a client that maps and unmaps
     * one region over and over costs no allocation for it. */
    if (t->height == 1 || l->n >= LEAF_MIN)
        return;
    if (!p) {
        /* the separators did not move: start still leads to l */
        (void)descend(t, start, &again);
        p = &again;
    }
    fix_leaf(t, p, l);
}

void *itree_remove(struct itree *t, uint64_t start)
{
    struct itree_leaf *l;
    struct path p;
    unsigned j;
    void *item;

    if (!t->root)
        return NULL;
    l = descend(t, start, &p);
    j = upper(l->start, 0, l->n, start);
    if (j == 0 || l->start[j - 1] != start)
        return NULL;
    item = l->item[j - 1];
    take(t, l, j - 1, &p);
    return item;
}

void itree_remove_at(struct itree *t, const struct itree_it *it)
{
    take(t, it->leaf, it->i, NULL);
}

/* ---- clear ---- */

static void clear_node(struct itree *t, void *x, unsigned depth,
                       void (*fn)(void *, void *), void *arg)
{
    if (depth + 1 == t->height) {
        struct itree_leaf *l = x;

        for (unsigned i = 0; i < l->n; i++)
            fn(l->item[i], arg);
    } else {
        struct inner *in = x;

        for (unsigned i = 0; i < in->n; i++)
            clear_node(t, in->child[i], depth + 1, fn, arg);
    }
    node_free(t, x);
}

void itree_clear(struct itree *t, void (*fn)(void *item, void *arg), void *arg)
{
    if (t->root)
        clear_node(t, t->root, 0, fn, arg);
    itree_init(t, t->mem);
}

/* ---- check ---- */

struct check {
    const struct itree *t;
    size_t n;
    const struct itree_leaf *last; /* the previous leaf in order */
};

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            return -__LINE__;                                                  \
    } while (0)

/* The subtree at x, at depth, holding starts in [lo, hi). */
static int check_node(struct check *c, const void *x, unsigned depth,
                      uint64_t lo, uint64_t hi)
{
    bool root = depth == 0;

    if (depth + 1 == c->t->height) {
        const struct itree_leaf *l = x;

        CHECK(l->n <= LEAF_MAX && l->n >= (root ? 0 : LEAF_MIN));
        CHECK(l->prev == c->last);
        CHECK(!c->last || c->last->next == l);
        for (unsigned i = 0; i < l->n; i++) {
            CHECK(l->start[i] >= lo && l->start[i] < hi);
            CHECK(l->start[i] < l->end[i]);
            CHECK(l->item[i] != NULL);
            if (i > 0)
                CHECK(l->end[i - 1] <= l->start[i]);
            else if (c->last)
                CHECK(c->last->end[c->last->n - 1] <= l->start[0]);
        }
        c->n += l->n;
        c->last = l;
        return 0;
    } else {
        const struct inner *in = x;

        CHECK(depth + 1 < c->t->height);
        CHECK(in->n <= INNER_MAX && in->n >= (root ? 2 : INNER_MIN));
        for (unsigned i = 1; i < in->n; i++)
            CHECK(in->key[i] > (i > 1 ? in->key[i - 1] : lo) &&
                  in->key[i] < hi);
        for (unsigned i = 0; i < in->n; i++) {
            int rc =
                check_node(c, in->child[i], depth + 1, i > 0 ? in->key[i] : lo,
                           i + 1 < in->n ? in->key[i + 1] : hi);

            if (rc)
                return rc;
        }
        return 0;
    }
}

int itree_check(const struct itree *t)
{
    struct check c = {.t = t, .n = 0, .last = NULL};
    int rc;

    if (!t->root) {
        CHECK(t->height == 0 && t->n == 0);
        return 0;
    }
    CHECK(t->n > 0 || t->height == 1); /* an empty tree: a leaf at most */
    CHECK(t->height >= 1 && t->height <= MAX_HEIGHT);
    /* every start is below 2^64 - 1: each ends after it */
    rc = check_node(&c, t->root, 0, 0, UINT64_MAX);
    if (rc)
        return rc;
    CHECK(c.last->next == NULL);
    CHECK(c.n == t->n);
    return 0;
}
