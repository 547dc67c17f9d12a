/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A set of disjoint intervals [start, end) of uint64_t addresses, kept in
 * an AVL tree ordered by start: vucert-server's DMA mappings (dma.c) and
 * its logged ranges (dirty.c). Insert, remove and the lookups cost
 * O(log n); a walk over the k intervals that overlap [a, b) costs
 * O(log n + k), so that no DMA_MAP or DMA_UNMAP pays for the mappings it
 * does not touch.
 *
 * Because the intervals never overlap, ordering them by start orders them
 * by end too, and no interval-tree augmentation (a subtree's largest
 * end) is needed: the first interval that ends after an address is found
 * by one descent, and the ones after it by in-order successor.
 *
 * The tree is intrusive: the caller embeds a struct itree_node in its own
 * object and allocates it, so the tree itself never allocates and
 * nothing here can fail after the caller's allocation succeeded. An
 * interval may not reach 2^64 (end <= UINT64_MAX), as no DMA range can:
 * their ends are checked not to wrap. Not thread safe; nodes must not be
 * inserted or removed during a walk (removing the current node is fine
 * once its successor has been taken).
 */
#ifndef VUCERT_ITREE_H
#define VUCERT_ITREE_H

#include <stddef.h>
#include <stdint.h>

struct itree_node {
    /* What a descent reads first, together: 32 bytes that a 16-byte
     * aligned allocation never splits across two cache lines. */
    uint64_t start, end; /* [start, end), start < end; set before insert */
    struct itree_node *left, *right;
    struct itree_node *parent;
    int height; /* of the subtree rooted here: a leaf is 1 */
};

struct itree {
    struct itree_node *root;
    size_t n; /* nodes in the tree */
};

/* The object a node is embedded in. */
#define itree_entry(ptr, type, member)                                         \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void itree_init(struct itree *t)
{
    t->root = NULL;
    t->n = 0;
}

/*
 * Insert x, whose start and end are set: NULL, or (x not inserted) a
 * node that overlaps it. O(log n).
 */
struct itree_node *itree_insert(struct itree *t, struct itree_node *x);

/* Remove x, which is in t. O(log n). */
void itree_remove(struct itree *t, struct itree_node *x);

/* The first node that ends after addr (end > addr), else NULL: the one
 * containing addr if any, else the first above it. O(log n). */
struct itree_node *itree_first_after(const struct itree *t, uint64_t addr);

/* The node containing addr, else NULL. O(log n). */
struct itree_node *itree_find(const struct itree *t, uint64_t addr);

/* The first node that overlaps [a, b), else NULL (also for a >= b). The
 * rest follow by itree_next while their start is below b. O(log n). */
struct itree_node *itree_overlap(const struct itree *t, uint64_t a, uint64_t b);

/* The lowest node, else NULL; and the next in address order, else NULL
 * (O(1) amortised over a walk). */
struct itree_node *itree_first(const struct itree *t);
struct itree_node *itree_next(const struct itree_node *x);

/*
 * Empty the tree, calling fn(node, arg) once for every node, children
 * before their parent, so that fn may free it. O(n), no rebalancing.
 */
void itree_clear(struct itree *t, void (*fn)(struct itree_node *, void *),
                 void *arg);

#endif /* VUCERT_ITREE_H */
