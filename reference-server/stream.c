// SPDX-License-Identifier: BSD-3-Clause
/*
 * The migration stream format (README.md: "Migration stream"): a 24-byte
 * header and the device state image. A later format (chunked, large
 * streams) replaces this file; mig.c only needs seal and decode.
 *
 *   0  u32 magic     STREAM_MAGIC ("VUCS")
 *   4  u16 version   STREAM_VERSION
 *   6  u16 reserved  0
 *   8  u32 state_len DEV_STATE_SIZE
 *  12  u32 crc32     CRC-32/ISO-HDLC of the state bytes
 *  16  u64 reserved  0
 *  24  state_len bytes of state
 */
#include <errno.h>

#include "server_priv.h"

#define HDR_MAGIC     0u
#define HDR_VERSION   4u
#define HDR_RESERVED0 6u
#define HDR_STATE_LEN 8u
#define HDR_CRC       12u
#define HDR_RESERVED1 16u

_Static_assert(HDR_RESERVED1 + 8 == STREAM_HDR_SIZE, "stream header size");

/*
 * CRC-32/ISO-HDLC (IEEE 802.3, zlib's crc32): reflected polynomial
 * 0xEDB88320, initial value and final xor 0xFFFFFFFF; check value of
 * "123456789" is 0xCBF43926. Bitwise: the state is a few KiB.
 */
uint32_t stream_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

void stream_seal(uint8_t *buf)
{
    vuc_put_u32(buf + HDR_MAGIC, STREAM_MAGIC);
    vuc_put_u16(buf + HDR_VERSION, STREAM_VERSION);
    vuc_put_u16(buf + HDR_RESERVED0, 0);
    vuc_put_u32(buf + HDR_STATE_LEN, DEV_STATE_SIZE);
    vuc_put_u32(buf + HDR_CRC,
                stream_crc32(buf + STREAM_HDR_SIZE, DEV_STATE_SIZE));
    vuc_put_u64(buf + HDR_RESERVED1, 0);
}

int stream_decode(const uint8_t *buf, size_t len, const uint8_t **state)
{
    if (!buf || len < STREAM_HDR_SIZE)
        return EINVAL;
    if (vuc_get_u32(buf + HDR_MAGIC) != STREAM_MAGIC ||
        vuc_get_u16(buf + HDR_VERSION) != STREAM_VERSION ||
        vuc_get_u16(buf + HDR_RESERVED0) != 0 ||
        vuc_get_u64(buf + HDR_RESERVED1) != 0)
        return EINVAL;
    /* Only this device's state fits: the stream must be exactly it. */
    if (vuc_get_u32(buf + HDR_STATE_LEN) != DEV_STATE_SIZE ||
        len != STREAM_SIZE)
        return EINVAL;
    if (vuc_get_u32(buf + HDR_CRC) !=
        stream_crc32(buf + STREAM_HDR_SIZE, DEV_STATE_SIZE))
        return EINVAL;
    *state = buf + STREAM_HDR_SIZE;
    return 0;
}
