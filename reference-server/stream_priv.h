/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the stream writer (stream_save.c) and parser (stream_resume.c)
 * share: record header encoding and block bitmaps (stream_format.c).
 */
#ifndef VUCERT_STREAM_PRIV_H
#define VUCERT_STREAM_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "vucert/stream.h"
#include "vucert/wire.h"

struct rec_hdr {
    uint16_t type;
    uint16_t flags;
    uint32_t seq;
    uint32_t len;
    uint64_t offset;
    uint32_t pcrc;
    uint32_t hcrc;
};

/* Write a record header, its own CRC included. */
void rec_encode(uint8_t out[VUC_STREAM_REC_HDR], uint16_t type, uint32_t seq,
                uint32_t len, uint64_t offset, uint32_t pcrc);
/* Read the fields of a record header; the caller judges them. Returns
 * true if the magic is right. */
bool rec_decode(const uint8_t in[VUC_STREAM_REC_HDR], struct rec_hdr *h);
/* CRC32C a record header should carry over its first 28 bytes. */
uint32_t rec_hcrc(const uint8_t in[VUC_STREAM_REC_HDR]);

static inline bool bit_test(const uint64_t *map, uint64_t b)
{
    return (map[b / 64] >> (b % 64)) & 1u;
}

static inline void bit_set(uint64_t *map, uint64_t b)
{
    map[b / 64] |= 1ull << (b % 64);
}

static inline void bit_clear(uint64_t *map, uint64_t b)
{
    map[b / 64] &= ~(1ull << (b % 64));
}

/* Set or clear bits [from, to). */
void bits_fill(uint64_t *map, uint64_t from, uint64_t to, bool value);
/* First set bit in [from, to), or to if none. */
uint64_t bits_next(const uint64_t *map, uint64_t from, uint64_t to);

/* The CRC of n consecutive blocks from their CRCs (op: the block size). */
uint32_t crc_fold(const uint32_t *crc, uint64_t n, uint32_t op);

#endif /* VUCERT_STREAM_PRIV_H */
