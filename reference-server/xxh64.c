// SPDX-License-Identifier: BSD-3-Clause
/*
 * XXH64, written from xxHash's specification (doc/xxhash_spec.md,
 * "XXH64 algorithm description"). It is the BAR0 DIGEST of
 * vucert-server: a 64-bit hash fast enough (several GB/s) to digest a
 * 1 GiB device state on a register read.
 */
#include <string.h>

#include "vucert/stream.h"

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull
#define P4 0x85ebca77c2b2ae63ull
#define P5 0x27d4eb2f165667c5ull

static uint64_t rotl(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* Lanes are read as little-endian words, as the specification says. */
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, p, 8);
#else
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
#endif
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t round64(uint64_t acc, uint64_t lane)
{
    acc += lane * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static uint64_t merge(uint64_t acc, uint64_t v)
{
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

void vuc_xxh64_init(struct vuc_xxh64 *h, uint64_t seed)
{
    memset(h, 0, sizeof(*h));
    h->seed = seed;
    h->v[0] = seed + P1 + P2;
    h->v[1] = seed + P2;
    h->v[2] = seed;
    h->v[3] = seed - P1;
}

/* Consume whole 32-byte stripes; returns the bytes used. */
static size_t stripes(uint64_t v[4], const uint8_t *p, size_t n)
{
    uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
    size_t used = 0;

    while (n - used >= 32) {
        a = round64(a, rd64(p + used));
        b = round64(b, rd64(p + used + 8));
        c = round64(c, rd64(p + used + 16));
        d = round64(d, rd64(p + used + 24));
        used += 32;
    }
    v[0] = a;
    v[1] = b;
    v[2] = c;
    v[3] = d;
    return used;
}

void vuc_xxh64_update(struct vuc_xxh64 *h, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    if (!p || len == 0)
        return;
    h->total += len;
    if (h->memsize) {
        size_t take = 32 - h->memsize;

        if (take > len)
            take = len;
        memcpy(h->mem + h->memsize, p, take);
        h->memsize += take;
        p += take;
        len -= take;
        if (h->memsize < 32)
            return;
        stripes(h->v, h->mem, 32);
        h->memsize = 0;
    }
    {
        size_t used = stripes(h->v, p, len);

        p += used;
        len -= used;
    }
    if (len) {
        memcpy(h->mem, p, len);
        h->memsize = len;
    }
}

uint64_t vuc_xxh64_digest(const struct vuc_xxh64 *h)
{
    const uint8_t *p = h->mem;
    size_t n = h->memsize;
    uint64_t acc;

    if (h->total >= 32) {
        acc = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) +
              rotl(h->v[3], 18);
        for (int i = 0; i < 4; i++)
            acc = merge(acc, h->v[i]);
    } else {
        acc = h->seed + P5;
    }
    acc += h->total;
    while (n >= 8) {
        acc ^= round64(0, rd64(p));
        acc = rotl(acc, 27) * P1 + P4;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        acc ^= (uint64_t)rd32(p) * P1;
        acc = rotl(acc, 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    while (n--) {
        acc ^= (uint64_t)*p++ * P5;
        acc = rotl(acc, 11) * P1;
    }
    acc ^= acc >> 33;
    acc *= P2;
    acc ^= acc >> 29;
    acc *= P3;
    acc ^= acc >> 32;
    return acc;
}

uint64_t vuc_xxh64(const void *buf, size_t len, uint64_t seed)
{
    struct vuc_xxh64 h;

    vuc_xxh64_init(&h, seed);
    vuc_xxh64_update(&h, buf, len);
    return vuc_xxh64_digest(&h);
}
