/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A set of disjoint intervals [start, end) of uint64_t addresses, each
 * with a caller's item, kept in a B+tree ordered by start:
 * vucert-server's DMA mappings (dma.c) and its logged ranges (dirty.c).
 * Insert, remove and the lookups cost O(log n); a walk over the k
 * intervals that overlap [a, b) costs O(log n + k), so that no DMA_MAP
 * or DMA_UNMAP pays for the mappings it does not touch.
 *
 * Why a B+tree: with tens of thousands of mappings the table no longer
 * fits the caches, and what a lookup costs is the cache lines it must
 * wait for, one after the other. A binary tree waits for one per level,
 * 17 levels at 64k mappings; a B+tree keeps the starts and ends of up to
 * 16 intervals in one leaf, and its inner levels are small enough to stay
 * cached, so a lookup waits for about one leaf.
 *
 * Because the intervals never overlap, ordering them by start orders them
 * by end too: the first interval that ends after an address is found by
 * one descent, the ones after it by stepping through the leaves.
 *
 * The tree allocates its own nodes (struct itree_mem); only an insert
 * can fail (ENOMEM, and then nothing changed). Intervals may not reach
 * 2^64 (end <= UINT64_MAX), as no DMA range can: their ends are checked
 * not to wrap. Items are the caller's, never NULL, and never touched
 * here. Not thread safe; an insert or a remove invalidates every
 * iterator.
 */
#ifndef VUCERT_ITREE_H
#define VUCERT_ITREE_H

#include <stddef.h>
#include <stdint.h>

/* Where the nodes come from: alloc returns NULL on failure. */
struct itree_mem {
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *p);
    void *ctx;
};

struct itree_leaf;

struct itree {
    /* a leaf when height is 1, kept when it empties; NULL before the
     * first insert and after itree_clear (height 0) */
    void *root;
    unsigned height; /* levels, the leaves included */
    size_t n;        /* intervals */
    const struct itree_mem *mem;
};

/* A position in the tree: the interval there and its item. */
struct itree_it {
    uint64_t start, end;
    void *item;
    struct itree_leaf *leaf; /* private */
    unsigned i;
};

void itree_init(struct itree *t, const struct itree_mem *mem);

/*
 * Add [start, end) (start < end) with item. Returns 0, EEXIST (an
 * interval overlaps it) or ENOMEM; nothing changed on failure.
 * O(log n).
 */
int itree_insert(struct itree *t, uint64_t start, uint64_t end, void *item);

/* Remove the interval that starts at start: its item, or NULL (none
 * does). O(log n). */
void *itree_remove(struct itree *t, uint64_t start);

/* Remove the interval at *it, as a lookup left it (nothing inserted or
 * removed since): no descent unless its leaf runs low. O(log n). */
void itree_remove_at(struct itree *t, const struct itree_it *it);

/*
 * Lookups, O(log n): each returns an item and sets *it to its position,
 * or returns NULL (*it undefined).
 *   seek:    the first interval that ends after addr (the one holding
 *            addr if any, else the next one up);
 *   find:    the interval holding addr;
 *   overlap: the first interval that overlaps [a, b) (none when a >= b);
 *            the others follow by itree_next while it->start < b;
 *   first:   the lowest interval.
 */
void *itree_seek(const struct itree *t, uint64_t addr, struct itree_it *it);
void *itree_find(const struct itree *t, uint64_t addr, struct itree_it *it);
void *itree_overlap(const struct itree *t, uint64_t a, uint64_t b,
                    struct itree_it *it);
void *itree_first(const struct itree *t, struct itree_it *it);

/* Step to the next interval up: its item, or NULL at the end. O(1). */
void *itree_next(struct itree_it *it);

/*
 * Empty the tree, calling fn(item, arg) for every interval (fn may free
 * the item). O(n).
 */
void itree_clear(struct itree *t, void (*fn)(void *item, void *arg), void *arg);

/* For tests: 0 if the tree keeps every invariant (ordering, disjoint
 * intervals, node fill, one height, the leaf chain, the count), else the
 * negative source line of the first check that failed. O(n). */
int itree_check(const struct itree *t);

#endif /* VUCERT_ITREE_H */
