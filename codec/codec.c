/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user wire codec: header, message table and every message body.
 *
 * Buffers are never cast to structs: every field is read or written with
 * the vuc_get_* / vuc_put_* helpers of wire.h at the offset the spec's
 * table gives (the FOO_OFF_* constants below). Sizes of the fixed parts
 * are checked at compile time against msgs.def, so the table and the
 * codec cannot drift apart.
 *
 * Error convention (see codec.h): decoders return bytes consumed or
 * -EBADMSG / -EOVERFLOW; encoders return bytes written or -ENOSPC. Both
 * return -EMSGSIZE in the one case codec.h does not cover: a length that
 * does not fit in the int return value (> INT_MAX; only reachable with
 * buffers over 2 GiB).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vucert/codec.h"

/* ---- the message table, generated from msgs.def ---- */

/* Ordinal of each message in msgs.def; VUC_MSG_COUNT is their number. */
enum {
#define VUC_MSG(name, num, dir, req, rep) MSG_IDX_##name,
#include "vucert/msgs.def"
#undef VUC_MSG
    VUC_MSG_COUNT
};

/* Fixed sizes per message, so the codec can be checked against them. */
enum {
#define VUC_MSG(name, num, dir, req, rep)                                      \
    REQ_MIN_##name = (req), REPLY_MIN_##name = (rep),
#include "vucert/msgs.def"
#undef VUC_MSG
};

/*
 * A codec's fixed-part length equals a msgs.def size. Both are
 * enumerators of different (anonymous) enums, so compare them as int.
 */
#define SIZE_IS(len, size) ((int)(len) == (int)(size))

/* Every command number must index the lookup table below. */
#define VUC_MSG(name, num, dir, req, rep)                                      \
    _Static_assert((num) > 0 && (num) < VUC_CMD_MAX,                           \
                   "command number of " #name " out of range");
#include "vucert/msgs.def"
#undef VUC_MSG

/* spec: Commands lists 17 commands (1-13, 15-18). */
_Static_assert(VUC_MSG_COUNT == 17, "msgs.def must list 17 commands");

static const struct vuc_msg_desc msg_table[VUC_MSG_COUNT] = {
#define VUC_MSG(name, num, dir, req, rep)                                      \
    [MSG_IDX_##name] = {(num), "VFIO_USER_" #name, (dir), (req), (rep)},
#include "vucert/msgs.def"
#undef VUC_MSG
};

/*
 * Command number -> 1 + index into msg_table; 0 marks a number the spec
 * does not define. A duplicate command number in msgs.def is an
 * initializer override, which -Wextra (gcc) and clang report.
 */
static const uint8_t msg_slot[VUC_CMD_MAX] = {
#define VUC_MSG(name, num, dir, req, rep) [(num)] = MSG_IDX_##name + 1,
#include "vucert/msgs.def"
#undef VUC_MSG
};
_Static_assert(VUC_MSG_COUNT < UINT8_MAX, "msg_slot entries are uint8_t");

/* The short name is the table name without this prefix. */
#define VFIO_USER_PREFIX_LEN (sizeof("VFIO_USER_") - 1)

/* Returns the descriptor, or NULL. No errors. */
const struct vuc_msg_desc *vuc_msg_desc(uint16_t cmd)
{
    if (cmd >= VUC_CMD_MAX || msg_slot[cmd] == 0)
        return NULL;
    return &msg_table[msg_slot[cmd] - 1];
}

/* Returns the short name, or "UNKNOWN". No errors. */
const char *vuc_cmd_name(uint16_t cmd)
{
    const struct vuc_msg_desc *d = vuc_msg_desc(cmd);

    return d ? d->name + VFIO_USER_PREFIX_LEN : "UNKNOWN";
}

/* Returns the table (msgs.def order, which is command order). No errors. */
const struct vuc_msg_desc *vuc_msg_table(size_t *n)
{
    if (n)
        *n = VUC_MSG_COUNT;
    return msg_table;
}

/*
 * spec: Header ("If an error occurs, the reply message must only include
 * the reply header") and each command's Request/Reply table.
 * Errors: -ENOSYS unknown command; -EBADMSG payload shorter than the
 * table's minimum, or an error reply that carries a payload.
 */
int vuc_msg_check(const struct vuc_hdr *h, size_t payload_len, bool is_reply)
{
    const struct vuc_msg_desc *d = vuc_msg_desc(h->cmd);

    if (!d)
        return -ENOSYS;
    if (is_reply && (h->flags & VUC_FLAG_ERROR))
        return payload_len == 0 ? 0 : -EBADMSG;
    if (payload_len < (is_reply ? d->reply_min : d->req_min))
        return -EBADMSG;
    return 0;
}

/* ---- helpers ---- */

/* A length as an int return value; -EMSGSIZE if it does not fit. */
static int ret_len(size_t n)
{
    return n > (size_t)INT_MAX ? -EMSGSIZE : (int)n;
}

/*
 * Size of an encoding with a fixed part and var_len further bytes.
 * Errors: -ENOSPC it does not fit in cap (or in size_t); -EMSGSIZE it
 * does not fit in an int.
 */
static int enc_size(size_t fixed, size_t var_len, size_t cap, size_t *total)
{
    if (__builtin_add_overflow(fixed, var_len, total) || *total > cap)
        return -ENOSPC;
    return ret_len(*total);
}

/*
 * A variable part must be exactly count bytes after the fixed part.
 * Errors: -EBADMSG otherwise (including a count too large for size_t).
 */
static int dec_exact(size_t len, size_t fixed, uint64_t count, size_t *total)
{
    size_t n;

#if SIZE_MAX < UINT64_MAX
    if (count > SIZE_MAX)
        return -EBADMSG;
#endif
    n = (size_t)count;
    if (__builtin_add_overflow(fixed, n, total) || *total != len)
        return -EBADMSG;
    return ret_len(*total);
}

/* An address range [base, base + size) must not wrap. */
static bool range_wraps(uint64_t base, uint64_t size)
{
    uint64_t end;

    return __builtin_add_overflow(base, size, &end);
}

/* Copy n bytes of caller data; src may be NULL only when n is 0. */
static int copy_var(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n == 0)
        return 0;
    if (!src)
        return -EINVAL;
    memcpy(dst, src, n);
    return 0;
}

/* ---- header (spec: Header) ---- */

enum {
    HDR_OFF_ID = 0,
    HDR_OFF_CMD = 2,
    HDR_OFF_SIZE = 4,
    HDR_OFF_FLAGS = 8,
    HDR_OFF_ERROR = 12,
    HDR_LEN = 16,
};
_Static_assert(HDR_LEN == VUC_HDR_SIZE, "header is 16 bytes (spec: Header)");

/* Errors: -EBADMSG len < 16 or declared size < 16. Returns 16. */
int vuc_hdr_decode(const uint8_t *buf, size_t len, struct vuc_hdr *out)
{
    if (len < HDR_LEN)
        return -EBADMSG;
    out->id = vuc_get_u16(buf + HDR_OFF_ID);
    out->cmd = vuc_get_u16(buf + HDR_OFF_CMD);
    out->size = vuc_get_u32(buf + HDR_OFF_SIZE);
    out->flags = vuc_get_u32(buf + HDR_OFF_FLAGS);
    out->error = vuc_get_u32(buf + HDR_OFF_ERROR);
    if (out->size < HDR_LEN)
        return -EBADMSG;
    return HDR_LEN;
}

/* Errors: -ENOSPC cap < 16. Returns 16. */
int vuc_hdr_encode(const struct vuc_hdr *in, uint8_t *buf, size_t cap)
{
    if (cap < HDR_LEN)
        return -ENOSPC;
    vuc_put_u16(buf + HDR_OFF_ID, in->id);
    vuc_put_u16(buf + HDR_OFF_CMD, in->cmd);
    vuc_put_u32(buf + HDR_OFF_SIZE, in->size);
    vuc_put_u32(buf + HDR_OFF_FLAGS, in->flags);
    vuc_put_u32(buf + HDR_OFF_ERROR, in->error);
    return HDR_LEN;
}

/* ---- VFIO_USER_VERSION ---- */

enum {
    VER_OFF_MAJOR = 0,
    VER_OFF_MINOR = 2,
    VER_OFF_DATA = 4,
    VER_LEN = 4,
};
_Static_assert(SIZE_IS(VER_LEN, REQ_MIN_VERSION) &&
                   SIZE_IS(VER_LEN, REPLY_MIN_VERSION),
               "VERSION fixed part");

/*
 * The version data is optional; when present it should end with its NUL
 * (spec: "including terminating NUL"). json_len excludes only that final
 * NUL: a NUL inside the data stays in json/json_len, where
 * vuc_caps_parse() rejects it. Returns len.
 * Errors: -EBADMSG len < 4; -EMSGSIZE len > INT_MAX.
 */
int vuc_version_decode(const uint8_t *p, size_t len, struct vuc_version *out)
{
    size_t n;

    if (len < VER_LEN)
        return -EBADMSG;
    out->major = vuc_get_u16(p + VER_OFF_MAJOR);
    out->minor = vuc_get_u16(p + VER_OFF_MINOR);
    out->json = NULL;
    out->json_len = 0;
    out->json_nul = false;
    n = len - VER_LEN;
    if (n > 0) {
        out->json = (const char *)(p + VER_OFF_DATA);
        out->json_nul = p[len - 1] == '\0';
        out->json_len = out->json_nul ? n - 1 : n;
    }
    return ret_len(len);
}

/*
 * Writes major, minor and, when json is non-NULL, json_len bytes of json
 * followed by a NUL. Errors: -ENOSPC; -EMSGSIZE.
 */
int vuc_version_encode(const struct vuc_version *in, uint8_t *p, size_t cap)
{
    size_t var = 0, total;
    int r;

    if (in->json && __builtin_add_overflow(in->json_len, 1, &var))
        return -ENOSPC;
    r = enc_size(VER_LEN, var, cap, &total);
    if (r < 0)
        return r;
    vuc_put_u16(p + VER_OFF_MAJOR, in->major);
    vuc_put_u16(p + VER_OFF_MINOR, in->minor);
    if (in->json) {
        if (in->json_len)
            memcpy(p + VER_OFF_DATA, in->json, in->json_len);
        p[VER_OFF_DATA + in->json_len] = '\0';
    }
    return r;
}

/* ---- DEVICE_GET_INFO ---- */

enum {
    DI_OFF_ARGSZ = 0,
    DI_OFF_FLAGS = 4,
    DI_OFF_NUM_REGIONS = 8,
    DI_OFF_NUM_IRQS = 12,
    DI_LEN = 16,
};
_Static_assert(SIZE_IS(DI_LEN, REQ_MIN_DEVICE_GET_INFO) &&
                   SIZE_IS(DI_LEN, REPLY_MIN_DEVICE_GET_INFO),
               "DEVICE_GET_INFO is 16 bytes");

/* Returns 16; bytes after it are trailing. Errors: -EBADMSG len < 16. */
int vuc_device_info_decode(const uint8_t *p, size_t len,
                           struct vuc_device_info *out)
{
    if (len < DI_LEN)
        return -EBADMSG;
    out->argsz = vuc_get_u32(p + DI_OFF_ARGSZ);
    out->flags = vuc_get_u32(p + DI_OFF_FLAGS);
    out->num_regions = vuc_get_u32(p + DI_OFF_NUM_REGIONS);
    out->num_irqs = vuc_get_u32(p + DI_OFF_NUM_IRQS);
    return DI_LEN;
}

/* Returns 16. Errors: -ENOSPC. */
int vuc_device_info_encode(const struct vuc_device_info *in, uint8_t *p,
                           size_t cap)
{
    if (cap < DI_LEN)
        return -ENOSPC;
    vuc_put_u32(p + DI_OFF_ARGSZ, in->argsz);
    vuc_put_u32(p + DI_OFF_FLAGS, in->flags);
    vuc_put_u32(p + DI_OFF_NUM_REGIONS, in->num_regions);
    vuc_put_u32(p + DI_OFF_NUM_IRQS, in->num_irqs);
    return DI_LEN;
}

/* ---- DEVICE_GET_REGION_INFO ---- */

enum {
    RI_OFF_ARGSZ = 0,
    RI_OFF_FLAGS = 4,
    RI_OFF_INDEX = 8,
    RI_OFF_CAP_OFFSET = 12,
    RI_OFF_SIZE = 16,
    RI_OFF_OFFSET = 24,
    RI_LEN = 32,
};
_Static_assert(SIZE_IS(RI_LEN, REQ_MIN_DEVICE_GET_REGION_INFO) &&
                   SIZE_IS(RI_LEN, REPLY_MIN_DEVICE_GET_REGION_INFO),
               "DEVICE_GET_REGION_INFO is 32 bytes");

/*
 * Everything after the 32-byte struct is returned as caps (the reply's
 * capability chain; argsz may promise more than was sent, spec: Message
 * sizes). Returns len. Errors: -EBADMSG len < 32; -EMSGSIZE.
 */
int vuc_region_info_decode(const uint8_t *p, size_t len,
                           struct vuc_region_info *out)
{
    if (len < RI_LEN)
        return -EBADMSG;
    out->argsz = vuc_get_u32(p + RI_OFF_ARGSZ);
    out->flags = vuc_get_u32(p + RI_OFF_FLAGS);
    out->index = vuc_get_u32(p + RI_OFF_INDEX);
    out->cap_offset = vuc_get_u32(p + RI_OFF_CAP_OFFSET);
    out->size = vuc_get_u64(p + RI_OFF_SIZE);
    out->offset = vuc_get_u64(p + RI_OFF_OFFSET);
    out->caps_len = len - RI_LEN;
    out->caps = out->caps_len ? p + RI_LEN : NULL;
    return ret_len(len);
}

/*
 * Writes the 32-byte struct then caps_len bytes of caps.
 * Errors: -ENOSPC; -EINVAL caps NULL with caps_len > 0; -EMSGSIZE.
 */
int vuc_region_info_encode(const struct vuc_region_info *in, uint8_t *p,
                           size_t cap)
{
    size_t total;
    int r = enc_size(RI_LEN, in->caps_len, cap, &total);

    if (r < 0)
        return r;
    if (copy_var(p + RI_LEN, in->caps, in->caps_len) < 0)
        return -EINVAL;
    vuc_put_u32(p + RI_OFF_ARGSZ, in->argsz);
    vuc_put_u32(p + RI_OFF_FLAGS, in->flags);
    vuc_put_u32(p + RI_OFF_INDEX, in->index);
    vuc_put_u32(p + RI_OFF_CAP_OFFSET, in->cap_offset);
    vuc_put_u64(p + RI_OFF_SIZE, in->size);
    vuc_put_u64(p + RI_OFF_OFFSET, in->offset);
    return r;
}

/* ---- REGION_READ / REGION_WRITE (spec: Read and Write Operations) ---- */

enum {
    RW_OFF_OFFSET = 0,
    RW_OFF_REGION = 8,
    RW_OFF_COUNT = 12,
    RW_OFF_DATA = 16,
    RW_LEN = 16,
};
_Static_assert(SIZE_IS(RW_LEN, REQ_MIN_REGION_READ) &&
                   SIZE_IS(RW_LEN, REPLY_MIN_REGION_READ) &&
                   SIZE_IS(RW_LEN, REQ_MIN_REGION_WRITE) &&
                   SIZE_IS(RW_LEN, REPLY_MIN_REGION_WRITE),
               "REGION_READ/WRITE fixed part is 16 bytes");

/*
 * with_data: exactly count data bytes follow (WRITE request, READ reply).
 * Returns 16 + count with data, else 16 (further bytes are trailing).
 * Errors: -EBADMSG too short or data length != count; -EOVERFLOW
 * offset + count wraps.
 */
int vuc_region_rw_decode(const uint8_t *p, size_t len, bool with_data,
                         struct vuc_region_rw *out)
{
    size_t total = RW_LEN;
    int r = RW_LEN;

    if (len < RW_LEN)
        return -EBADMSG;
    out->offset = vuc_get_u64(p + RW_OFF_OFFSET);
    out->region = vuc_get_u32(p + RW_OFF_REGION);
    out->count = vuc_get_u32(p + RW_OFF_COUNT);
    out->data = NULL;
    out->data_len = 0;
    if (with_data) {
        r = dec_exact(len, RW_LEN, out->count, &total);
        if (r < 0)
            return r;
        out->data_len = total - RW_LEN;
        out->data = out->data_len ? p + RW_OFF_DATA : NULL;
    }
    if (range_wraps(out->offset, out->count))
        return -EOVERFLOW;
    return r;
}

/*
 * Writes offset, region, count as given, then data_len bytes of data.
 * Errors: -ENOSPC; -EINVAL data NULL with data_len > 0; -EMSGSIZE.
 */
int vuc_region_rw_encode(const struct vuc_region_rw *in, uint8_t *p, size_t cap)
{
    size_t total;
    int r = enc_size(RW_LEN, in->data_len, cap, &total);

    if (r < 0)
        return r;
    if (copy_var(p + RW_OFF_DATA, in->data, in->data_len) < 0)
        return -EINVAL;
    vuc_put_u64(p + RW_OFF_OFFSET, in->offset);
    vuc_put_u32(p + RW_OFF_REGION, in->region);
    vuc_put_u32(p + RW_OFF_COUNT, in->count);
    return r;
}

/* ---- DMA_MAP / DMA_UNMAP ---- */

enum {
    MAP_OFF_ARGSZ = 0,
    MAP_OFF_FLAGS = 4,
    MAP_OFF_OFFSET = 8,
    MAP_OFF_ADDR = 16,
    MAP_OFF_SIZE = 24,
    MAP_LEN = 32,
};
_Static_assert(SIZE_IS(MAP_LEN, REQ_MIN_DMA_MAP),
               "DMA_MAP request is 32 bytes");

/*
 * Returns 32. Errors: -EBADMSG len < 32; -EOVERFLOW addr + size wraps
 * (the exclusive end must be representable, as vfio core's
 * check_add_overflow requires).
 */
int vuc_dma_map_decode(const uint8_t *p, size_t len, struct vuc_dma_map *out)
{
    if (len < MAP_LEN)
        return -EBADMSG;
    out->argsz = vuc_get_u32(p + MAP_OFF_ARGSZ);
    out->flags = vuc_get_u32(p + MAP_OFF_FLAGS);
    out->offset = vuc_get_u64(p + MAP_OFF_OFFSET);
    out->addr = vuc_get_u64(p + MAP_OFF_ADDR);
    out->size = vuc_get_u64(p + MAP_OFF_SIZE);
    if (range_wraps(out->addr, out->size))
        return -EOVERFLOW;
    return MAP_LEN;
}

/* Returns 32. Errors: -ENOSPC. */
int vuc_dma_map_encode(const struct vuc_dma_map *in, uint8_t *p, size_t cap)
{
    if (cap < MAP_LEN)
        return -ENOSPC;
    vuc_put_u32(p + MAP_OFF_ARGSZ, in->argsz);
    vuc_put_u32(p + MAP_OFF_FLAGS, in->flags);
    vuc_put_u64(p + MAP_OFF_OFFSET, in->offset);
    vuc_put_u64(p + MAP_OFF_ADDR, in->addr);
    vuc_put_u64(p + MAP_OFF_SIZE, in->size);
    return MAP_LEN;
}

enum {
    UNMAP_OFF_ARGSZ = 0,
    UNMAP_OFF_FLAGS = 4,
    UNMAP_OFF_ADDR = 8,
    UNMAP_OFF_SIZE = 16,
    UNMAP_LEN = 24,
};
_Static_assert(SIZE_IS(UNMAP_LEN, REQ_MIN_DMA_UNMAP) &&
                   SIZE_IS(UNMAP_LEN, REPLY_MIN_DMA_UNMAP),
               "DMA_UNMAP request and reply are 24 bytes");

/* Returns 24. Errors: -EBADMSG len < 24; -EOVERFLOW addr + size wraps. */
int vuc_dma_unmap_decode(const uint8_t *p, size_t len,
                         struct vuc_dma_unmap *out)
{
    if (len < UNMAP_LEN)
        return -EBADMSG;
    out->argsz = vuc_get_u32(p + UNMAP_OFF_ARGSZ);
    out->flags = vuc_get_u32(p + UNMAP_OFF_FLAGS);
    out->addr = vuc_get_u64(p + UNMAP_OFF_ADDR);
    out->size = vuc_get_u64(p + UNMAP_OFF_SIZE);
    if (range_wraps(out->addr, out->size))
        return -EOVERFLOW;
    return UNMAP_LEN;
}

/* Returns 24. Errors: -ENOSPC. */
int vuc_dma_unmap_encode(const struct vuc_dma_unmap *in, uint8_t *p, size_t cap)
{
    if (cap < UNMAP_LEN)
        return -ENOSPC;
    vuc_put_u32(p + UNMAP_OFF_ARGSZ, in->argsz);
    vuc_put_u32(p + UNMAP_OFF_FLAGS, in->flags);
    vuc_put_u64(p + UNMAP_OFF_ADDR, in->addr);
    vuc_put_u64(p + UNMAP_OFF_SIZE, in->size);
    return UNMAP_LEN;
}

/* ---- DMA_READ / DMA_WRITE (server -> client) ---- */

/*
 * The DMA_WRITE reply table gives count a size of 4; like msgs.def we use
 * 8, as in every other count of these messages, so all four layouts are
 * address(8) + count(8) [+ data].
 */
enum {
    DRW_OFF_ADDR = 0,
    DRW_OFF_COUNT = 8,
    DRW_OFF_DATA = 16,
    DRW_LEN = 16,
};
_Static_assert(SIZE_IS(DRW_LEN, REQ_MIN_DMA_READ) &&
                   SIZE_IS(DRW_LEN, REPLY_MIN_DMA_READ) &&
                   SIZE_IS(DRW_LEN, REQ_MIN_DMA_WRITE) &&
                   SIZE_IS(DRW_LEN, REPLY_MIN_DMA_WRITE),
               "DMA_READ/WRITE fixed part is 16 bytes");

/*
 * with_data: exactly count data bytes follow (DMA_WRITE request, DMA_READ
 * reply). Returns 16 + count with data, else 16.
 * Errors: -EBADMSG too short or data length != count; -EOVERFLOW
 * addr + count wraps; -EMSGSIZE.
 */
int vuc_dma_rw_decode(const uint8_t *p, size_t len, bool with_data,
                      struct vuc_dma_rw *out)
{
    size_t total = DRW_LEN;
    int r = DRW_LEN;

    if (len < DRW_LEN)
        return -EBADMSG;
    out->addr = vuc_get_u64(p + DRW_OFF_ADDR);
    out->count = vuc_get_u64(p + DRW_OFF_COUNT);
    out->data = NULL;
    out->data_len = 0;
    if (with_data) {
        r = dec_exact(len, DRW_LEN, out->count, &total);
        if (r < 0)
            return r;
        out->data_len = total - DRW_LEN;
        out->data = out->data_len ? p + DRW_OFF_DATA : NULL;
    }
    if (range_wraps(out->addr, out->count))
        return -EOVERFLOW;
    return r;
}

/* Errors: -ENOSPC; -EINVAL data NULL with data_len > 0; -EMSGSIZE. */
int vuc_dma_rw_encode(const struct vuc_dma_rw *in, uint8_t *p, size_t cap)
{
    size_t total;
    int r = enc_size(DRW_LEN, in->data_len, cap, &total);

    if (r < 0)
        return r;
    if (copy_var(p + DRW_OFF_DATA, in->data, in->data_len) < 0)
        return -EINVAL;
    vuc_put_u64(p + DRW_OFF_ADDR, in->addr);
    vuc_put_u64(p + DRW_OFF_COUNT, in->count);
    return r;
}

/* ---- DEVICE_FEATURE ---- */

enum {
    FEAT_OFF_ARGSZ = 0,
    FEAT_OFF_FLAGS = 4,
    FEAT_OFF_DATA = 8,
    FEAT_LEN = 8,
};
_Static_assert(FEAT_LEN == VUC_FEATURE_HDR_SIZE &&
                   SIZE_IS(FEAT_LEN, REQ_MIN_DEVICE_FEATURE) &&
                   SIZE_IS(FEAT_LEN, REPLY_MIN_DEVICE_FEATURE),
               "DEVICE_FEATURE fixed part is argsz + flags");

/*
 * data is everything after argsz + flags; its layout depends on the
 * feature. Returns len. Errors: -EBADMSG len < 8; -EMSGSIZE.
 */
int vuc_feature_decode(const uint8_t *p, size_t len, struct vuc_feature *out)
{
    if (len < FEAT_LEN)
        return -EBADMSG;
    out->argsz = vuc_get_u32(p + FEAT_OFF_ARGSZ);
    out->flags = vuc_get_u32(p + FEAT_OFF_FLAGS);
    out->data_len = len - FEAT_LEN;
    out->data = out->data_len ? p + FEAT_OFF_DATA : NULL;
    return ret_len(len);
}

/* Errors: -ENOSPC; -EINVAL data NULL with data_len > 0; -EMSGSIZE. */
int vuc_feature_encode(const struct vuc_feature *in, uint8_t *p, size_t cap)
{
    size_t total;
    int r = enc_size(FEAT_LEN, in->data_len, cap, &total);

    if (r < 0)
        return r;
    if (copy_var(p + FEAT_OFF_DATA, in->data, in->data_len) < 0)
        return -EINVAL;
    vuc_put_u32(p + FEAT_OFF_ARGSZ, in->argsz);
    vuc_put_u32(p + FEAT_OFF_FLAGS, in->flags);
    return r;
}

/* Feature 1 (MIGRATION): u64 flags at 0. Returns 8. Errors: -EBADMSG. */
int vuc_feat_migration_decode(const uint8_t *p, size_t len, uint64_t *flags)
{
    if (len < VUC_MIGRATION_DATA_SIZE)
        return -EBADMSG;
    *flags = vuc_get_u64(p);
    return VUC_MIGRATION_DATA_SIZE;
}

/* Returns 8. Errors: -ENOSPC. */
int vuc_feat_migration_encode(uint64_t flags, uint8_t *p, size_t cap)
{
    if (cap < VUC_MIGRATION_DATA_SIZE)
        return -ENOSPC;
    vuc_put_u64(p, flags);
    return VUC_MIGRATION_DATA_SIZE;
}

/* Feature 2 (MIG_DEVICE_STATE). */
enum {
    MS_OFF_DEVICE_STATE = 0,
    MS_OFF_DATA_FD = 4,
    MS_LEN = 8,
};
_Static_assert(MS_LEN == VUC_MIG_STATE_DATA_SIZE, "mig_state is 8 bytes");

/* Returns 8. Errors: -EBADMSG len < 8. */
int vuc_mig_state_decode(const uint8_t *p, size_t len,
                         struct vuc_mig_state *out)
{
    if (len < MS_LEN)
        return -EBADMSG;
    out->device_state = vuc_get_u32(p + MS_OFF_DEVICE_STATE);
    out->data_fd = vuc_get_u32(p + MS_OFF_DATA_FD);
    return MS_LEN;
}

/* Returns 8. Errors: -ENOSPC. */
int vuc_mig_state_encode(const struct vuc_mig_state *in, uint8_t *p, size_t cap)
{
    if (cap < MS_LEN)
        return -ENOSPC;
    vuc_put_u32(p + MS_OFF_DEVICE_STATE, in->device_state);
    vuc_put_u32(p + MS_OFF_DATA_FD, in->data_fd);
    return MS_LEN;
}

/* Features 6 and 7 (DMA_LOGGING_START / STOP): ranges inline (spec). */
enum {
    LC_OFF_PAGE_SIZE = 0,
    LC_OFF_NUM_RANGES = 8,
    LC_OFF_RESERVED = 12,
    LC_OFF_RANGES = 16,
    LC_LEN = 16,
    LR_OFF_IOVA = 0,
    LR_OFF_LENGTH = 8,
    LR_LEN = 16,
};
_Static_assert(LC_LEN == VUC_LOG_CONTROL_SIZE, "log control head");
_Static_assert(LR_LEN == VUC_LOG_RANGE_SIZE, "log range");

/*
 * Returns 16 + num_ranges * 16, which must equal len. num_ranges 0 is
 * valid on the wire (spec: "all writes should be logged").
 * Errors: -EBADMSG len < 16 or len != 16 + num_ranges * 16; -EOVERFLOW
 * some range's iova + length wraps.
 */
int vuc_log_control_decode(const uint8_t *p, size_t len,
                           struct vuc_log_control *out)
{
    size_t bytes, total;
    uint32_t i;
    int r;

    if (len < LC_LEN)
        return -EBADMSG;
    out->page_size = vuc_get_u64(p + LC_OFF_PAGE_SIZE);
    out->num_ranges = vuc_get_u32(p + LC_OFF_NUM_RANGES);
    out->reserved = vuc_get_u32(p + LC_OFF_RESERVED);
    out->ranges = NULL;
    if (__builtin_mul_overflow((size_t)out->num_ranges, (size_t)LR_LEN, &bytes))
        return -EBADMSG;
    r = dec_exact(len, LC_LEN, bytes, &total);
    if (r < 0)
        return r;
    out->ranges = out->num_ranges ? p + LC_OFF_RANGES : NULL;
    for (i = 0; i < out->num_ranges; i++) {
        const uint8_t *rp = p + LC_OFF_RANGES + (size_t)i * LR_LEN;

        if (range_wraps(vuc_get_u64(rp + LR_OFF_IOVA),
                        vuc_get_u64(rp + LR_OFF_LENGTH)))
            return -EOVERFLOW;
    }
    return r;
}

/*
 * Writes the head as given, then num_ranges entries of ranges (which may
 * be NULL only when num_ranges is 0).
 * Errors: -ENOSPC; -EINVAL ranges NULL with num_ranges > 0; -EMSGSIZE.
 */
int vuc_log_control_encode(const struct vuc_log_control *in,
                           const struct vuc_log_range *ranges, uint8_t *p,
                           size_t cap)
{
    size_t bytes, total;
    uint32_t i;
    int r;

    if (__builtin_mul_overflow((size_t)in->num_ranges, (size_t)LR_LEN, &bytes))
        return -ENOSPC;
    r = enc_size(LC_LEN, bytes, cap, &total);
    if (r < 0)
        return r;
    if (in->num_ranges && !ranges)
        return -EINVAL;
    vuc_put_u64(p + LC_OFF_PAGE_SIZE, in->page_size);
    vuc_put_u32(p + LC_OFF_NUM_RANGES, in->num_ranges);
    vuc_put_u32(p + LC_OFF_RESERVED, in->reserved);
    for (i = 0; i < in->num_ranges; i++) {
        uint8_t *rp = p + LC_OFF_RANGES + (size_t)i * LR_LEN;

        vuc_put_u64(rp + LR_OFF_IOVA, ranges[i].iova);
        vuc_put_u64(rp + LR_OFF_LENGTH, ranges[i].length);
    }
    return r;
}

/*
 * Range i of a decoded control. Returns 0.
 * Errors: -EINVAL i >= num_ranges (or no ranges); -EOVERFLOW iova +
 * length wraps.
 */
int vuc_log_range_get(const struct vuc_log_control *ctl, uint32_t i,
                      struct vuc_log_range *out)
{
    const uint8_t *rp;

    if (i >= ctl->num_ranges || !ctl->ranges)
        return -EINVAL;
    rp = ctl->ranges + (size_t)i * LR_LEN;
    out->iova = vuc_get_u64(rp + LR_OFF_IOVA);
    out->length = vuc_get_u64(rp + LR_OFF_LENGTH);
    if (range_wraps(out->iova, out->length))
        return -EOVERFLOW;
    return 0;
}

/* Feature 8 (DMA_LOGGING_REPORT). */
enum {
    REP_OFF_IOVA = 0,
    REP_OFF_LENGTH = 8,
    REP_OFF_PAGE_SIZE = 16,
    REP_OFF_BITMAP = 24,
    REP_LEN = 24,
};
_Static_assert(REP_LEN == VUC_LOG_REPORT_SIZE, "log report head");

/*
 * Everything after the 24-byte head is the bitmap (a request has none).
 * Whether bitmap_len matches vuc_log_bitmap_bytes() is the caller's
 * check: only it knows whether this is a request or a reply, and the
 * page size may be invalid. Returns len.
 * Errors: -EBADMSG len < 24; -EOVERFLOW iova + length wraps; -EMSGSIZE.
 */
int vuc_log_report_decode(const uint8_t *p, size_t len,
                          struct vuc_log_report *out)
{
    if (len < REP_LEN)
        return -EBADMSG;
    out->iova = vuc_get_u64(p + REP_OFF_IOVA);
    out->length = vuc_get_u64(p + REP_OFF_LENGTH);
    out->page_size = vuc_get_u64(p + REP_OFF_PAGE_SIZE);
    out->bitmap_len = len - REP_LEN;
    out->bitmap = out->bitmap_len ? p + REP_OFF_BITMAP : NULL;
    if (range_wraps(out->iova, out->length))
        return -EOVERFLOW;
    return ret_len(len);
}

/* Errors: -ENOSPC; -EINVAL bitmap NULL with bitmap_len > 0; -EMSGSIZE. */
int vuc_log_report_encode(const struct vuc_log_report *in, uint8_t *p,
                          size_t cap)
{
    size_t total;
    int r = enc_size(REP_LEN, in->bitmap_len, cap, &total);

    if (r < 0)
        return r;
    if (copy_var(p + REP_OFF_BITMAP, in->bitmap, in->bitmap_len) < 0)
        return -EINVAL;
    vuc_put_u64(p + REP_OFF_IOVA, in->iova);
    vuc_put_u64(p + REP_OFF_LENGTH, in->length);
    vuc_put_u64(p + REP_OFF_PAGE_SIZE, in->page_size);
    return r;
}

/*
 * ceil(length / page_size) bits, rounded up to whole u64 words (spec:
 * "an array of u64s"), in bytes. Errors: -EINVAL page_size 0; -EOVERFLOW
 * the result does not fit in size_t.
 */
int64_t vuc_log_bitmap_bytes(uint64_t length, uint64_t page_size)
{
    uint64_t pages, words;

    if (page_size == 0)
        return -EINVAL;
    pages = length / page_size + (length % page_size != 0);
    words = pages / 64 + (pages % 64 != 0);
    /* words <= 2^58, so words * 8 <= 2^61 fits in int64_t. */
#if SIZE_MAX < UINT64_MAX
    if (words > SIZE_MAX / 8)
        return -EOVERFLOW;
#endif
    return (int64_t)(words * 8);
}

/* ---- MIG_DATA_READ / MIG_DATA_WRITE ---- */

enum {
    MD_OFF_ARGSZ = 0,
    MD_OFF_SIZE = 4,
    MD_OFF_DATA = 8,
    MD_LEN = 8,
};
_Static_assert(MD_LEN == VUC_MIG_DATA_HDR_SIZE &&
                   SIZE_IS(MD_LEN, REQ_MIN_MIG_DATA_READ) &&
                   SIZE_IS(MD_LEN, REPLY_MIN_MIG_DATA_READ) &&
                   SIZE_IS(MD_LEN, REQ_MIN_MIG_DATA_WRITE),
               "MIG_DATA_READ/WRITE fixed part is argsz + size");

/*
 * with_data: exactly size data bytes follow (READ reply, WRITE request).
 * Returns 8 + size with data, else 8.
 * Errors: -EBADMSG too short or data length != size; -EMSGSIZE.
 */
int vuc_mig_data_decode(const uint8_t *p, size_t len, bool with_data,
                        struct vuc_mig_data *out)
{
    size_t total = MD_LEN;
    int r = MD_LEN;

    if (len < MD_LEN)
        return -EBADMSG;
    out->argsz = vuc_get_u32(p + MD_OFF_ARGSZ);
    out->size = vuc_get_u32(p + MD_OFF_SIZE);
    out->data = NULL;
    out->data_len = 0;
    if (with_data) {
        r = dec_exact(len, MD_LEN, out->size, &total);
        if (r < 0)
            return r;
        out->data_len = total - MD_LEN;
        out->data = out->data_len ? p + MD_OFF_DATA : NULL;
    }
    return r;
}

/* Errors: -ENOSPC; -EINVAL data NULL with data_len > 0; -EMSGSIZE. */
int vuc_mig_data_encode(const struct vuc_mig_data *in, uint8_t *p, size_t cap)
{
    size_t total;
    int r = enc_size(MD_LEN, in->data_len, cap, &total);

    if (r < 0)
        return r;
    if (copy_var(p + MD_OFF_DATA, in->data, in->data_len) < 0)
        return -EINVAL;
    vuc_put_u32(p + MD_OFF_ARGSZ, in->argsz);
    vuc_put_u32(p + MD_OFF_SIZE, in->size);
    return r;
}
