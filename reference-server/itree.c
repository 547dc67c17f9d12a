// SPDX-License-Identifier: BSD-3-Clause
/*
 * Disjoint intervals in an AVL tree (itree.h). Each node keeps the height
 * of its subtree; after an insert or a remove the heights are recomputed
 * from the changed node up, rotating wherever the two sides differ by
 * two, and the climb stops at the first subtree whose height did not
 * change (nothing above it can have changed either). Parent pointers
 * make the climb, in-order successors and a clear without a stack
 * possible.
 */
#include "itree.h"

static int height(const struct itree_node *x)
{
    return x ? x->height : 0;
}

static void update(struct itree_node *x)
{
    int l = height(x->left), r = height(x->right);

    x->height = 1 + (l > r ? l : r);
}

/* Put c where old was under parent (the root when parent is NULL). */
static void replace(struct itree *t, struct itree_node *parent,
                    struct itree_node *old, struct itree_node *c)
{
    if (!parent)
        t->root = c;
    else if (parent->left == old)
        parent->left = c;
    else
        parent->right = c;
    if (c)
        c->parent = parent;
}

/* x's right child takes its place; returns it. */
static struct itree_node *rotate_left(struct itree *t, struct itree_node *x)
{
    struct itree_node *y = x->right;

    x->right = y->left;
    if (y->left)
        y->left->parent = x;
    replace(t, x->parent, x, y);
    y->left = x;
    x->parent = y;
    update(x);
    update(y);
    return y;
}

/* x's left child takes its place; returns it. */
static struct itree_node *rotate_right(struct itree *t, struct itree_node *x)
{
    struct itree_node *y = x->left;

    x->left = y->right;
    if (y->right)
        y->right->parent = x;
    replace(t, x->parent, x, y);
    y->right = x;
    x->parent = y;
    update(x);
    update(y);
    return y;
}

/*
 * x's subtree changed below x (x->height is still its height from
 * before): restore the balance from x up. A subtree whose height came
 * out as it was ends the climb, whether or not it was rotated.
 */
static void rebalance(struct itree *t, struct itree_node *x)
{
    while (x) {
        int was = x->height;
        int l = height(x->left), r = height(x->right);

        if (l > r + 1) {
            if (height(x->left->left) < height(x->left->right))
                rotate_left(t, x->left);
            x = rotate_right(t, x);
        } else if (r > l + 1) {
            if (height(x->right->right) < height(x->right->left))
                rotate_right(t, x->right);
            x = rotate_left(t, x);
        } else {
            update(x);
        }
        if (x->height == was)
            break;
        x = x->parent;
    }
}

struct itree_node *itree_insert(struct itree *t, struct itree_node *x)
{
    struct itree_node **link = &t->root, *parent = NULL;

    /* Disjoint intervals: one wholly below a node can only meet nodes
     * of its left subtree, one wholly above only those of its right. */
    while (*link) {
        struct itree_node *n = *link;

        if (x->end <= n->start)
            link = &n->left;
        else if (x->start >= n->end)
            link = &n->right;
        else
            return n;
        parent = n;
    }
    x->left = x->right = NULL;
    x->parent = parent;
    x->height = 1;
    *link = x;
    t->n++;
    rebalance(t, parent);
    return NULL;
}

void itree_remove(struct itree *t, struct itree_node *x)
{
    struct itree_node *from; /* the lowest node whose subtree changed */

    if (!x->left || !x->right) {
        from = x->parent;
        replace(t, x->parent, x, x->left ? x->left : x->right);
    } else {
        /* Two children: x's successor, the lowest of its right subtree,
         * has no left child; it takes x's place. */
        struct itree_node *s = x->right;

        while (s->left)
            s = s->left;
        if (s->parent == x) {
            from = s;
        } else {
            from = s->parent;
            s->parent->left = s->right;
            if (s->right)
                s->right->parent = s->parent;
            s->right = x->right;
            x->right->parent = s;
        }
        s->left = x->left;
        x->left->parent = s;
        s->height = x->height; /* the height there before: see rebalance */
        replace(t, x->parent, x, s);
    }
    t->n--;
    x->left = x->right = x->parent = NULL;
    rebalance(t, from);
}

struct itree_node *itree_first_after(const struct itree *t, uint64_t addr)
{
    struct itree_node *n = t->root, *best = NULL;

    while (n) {
        if (n->end > addr) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

struct itree_node *itree_find(const struct itree *t, uint64_t addr)
{
    struct itree_node *n = t->root;

    while (n) {
        if (addr < n->start)
            n = n->left;
        else if (addr >= n->end)
            n = n->right;
        else
            return n;
    }
    return NULL;
}

struct itree_node *itree_overlap(const struct itree *t, uint64_t a, uint64_t b)
{
    struct itree_node *n = a < b ? itree_first_after(t, a) : NULL;

    return n && n->start < b ? n : NULL;
}

struct itree_node *itree_first(const struct itree *t)
{
    struct itree_node *n = t->root;

    while (n && n->left)
        n = n->left;
    return n;
}

struct itree_node *itree_next(const struct itree_node *x)
{
    struct itree_node *n;

    if (x->right) {
        for (n = x->right; n->left;)
            n = n->left;
        return n;
    }
    while (x->parent && x == x->parent->right)
        x = x->parent;
    return x->parent;
}

/* The first node of x's subtree in post-order: down to a leaf, left
 * first. */
static struct itree_node *leaf_below(struct itree_node *x)
{
    for (;;) {
        if (x->left)
            x = x->left;
        else if (x->right)
            x = x->right;
        else
            return x;
    }
}

void itree_clear(struct itree *t, void (*fn)(struct itree_node *, void *),
                 void *arg)
{
    struct itree_node *x = t->root ? leaf_below(t->root) : NULL;

    while (x) {
        struct itree_node *p = x->parent, *next = p;

        /* After a left child comes its sibling's subtree, then the
         * parent; taken before fn may free x (only x's address is
         * compared, and the sibling's subtree is not yet visited). */
        if (p && p->left == x && p->right)
            next = leaf_below(p->right);
        fn(x, arg);
        x = next;
    }
    itree_init(t);
}
