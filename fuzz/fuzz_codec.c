/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_codec: every decoder of codec.h on the input. Byte 0 picks one
 * decoder (< FZK_COUNT) or all of them (otherwise); the rest is the
 * payload.
 *
 * Properties, for each decoder:
 * - decode never reads past len (ASan: the replay and libFuzzer hand
 *   over an exact-size buffer) and returns consumed bytes <= len or
 *   -EBADMSG / -EOVERFLOW (codec.h);
 * - its contract holds: counts agree with the bytes present, ranges do
 *   not wrap, variable parts point inside the input;
 * - decode -> encode -> decode is stable: encoding needs exactly the
 *   bytes decoded (one fewer is -ENOSPC), writes them back byte for byte
 *   (the wire layout has one encoding), and decoding the encoding gives
 *   the same struct, field by field, pointer fields compared by content.
 *   The one exception: VERSION data without its NUL is encoded with one.
 * Also vuc_msg_check and the name helpers on any value, and the
 * state-name round trip.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/codec.h"
#include "vucert/wire.h"
#include "fuzz_priv.h"

static bool wraps(uint64_t a, uint64_t b)
{
    uint64_t s;

    return __builtin_add_overflow(a, b, &s);
}

static void check_dec_rc(int r, size_t len, const char *what)
{
    FZ_CHECK(r == -EBADMSG || r == -EOVERFLOW || (r >= 0 && (size_t)r <= len),
             "%s decode returned %d for %zu bytes", what, r, len);
}

/* Same bytes (both may be NULL when n is 0). */
static bool same_bytes(const void *a, size_t na, const void *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

/* A variable part lies inside [p, p + len). */
static void check_inside(const uint8_t *p, size_t len, const void *v, size_t n,
                         const char *what)
{
    const uint8_t *q = v;

    if (n == 0)
        return;
    FZ_CHECK(q >= p && q <= p + len && n <= (size_t)(p + len - q),
             "%s points outside the input", what);
}

/*
 * The encoding of what was decoded from p: exactly n bytes (one fewer
 * does not fit), equal to p unless it is known to differ. Returns a
 * malloc'ed exact-size buffer.
 */
#define ROUND_TRIP(e, encode, in, p, n, must_equal, what)                      \
    do {                                                                       \
        (e) = malloc((n) ? (n) : 1);                                           \
        FZ_CHECK((e) != NULL, "malloc");                                       \
        if ((n) > 0)                                                           \
            FZ_CHECK(encode((in), (e), (n)-1) == -ENOSPC,                      \
                     "%s encode fits in one byte less", what);                 \
        FZ_CHECK(encode((in), (e), (n)) == (int)(n),                           \
                 "%s encode does not give %zu bytes", what, (size_t)(n));      \
        if (must_equal)                                                        \
            FZ_CHECK(memcmp((e), (p), (n)) == 0,                               \
                     "%s encode differs from the input", what);                \
    } while (0)

static void k_hdr(const uint8_t *p, size_t len)
{
    struct vuc_hdr a, b;
    uint8_t buf[VUC_HDR_SIZE];
    int r = vuc_hdr_decode(p, len, &a), c1, c2;

    check_dec_rc(r, len, "header");
    FZ_CHECK((r < 0) == (len < 16 || vuc_get_u32(p + 4) < 16),
             "header decode %d for size field %u", r,
             len >= 8 ? vuc_get_u32(p + 4) : 0);
    if (r < 0)
        return;
    FZ_CHECK(r == 16, "header decode consumed %d", r);
    FZ_CHECK(vuc_hdr_encode(&a, buf, 15) == -ENOSPC, "header in 15 bytes");
    FZ_CHECK(vuc_hdr_encode(&a, buf, sizeof(buf)) == 16, "header encode");
    FZ_CHECK(memcmp(buf, p, 16) == 0, "header encode differs");
    FZ_CHECK(vuc_hdr_decode(buf, sizeof(buf), &b) == 16, "header decode 2");
    FZ_CHECK(a.id == b.id && a.cmd == b.cmd && a.size == b.size &&
                 a.flags == b.flags && a.error == b.error,
             "header round trip");

    /* The table check: -ENOSYS exactly for numbers the table lacks. */
    for (int reply = 0; reply < 2; reply++) {
        const struct vuc_msg_desc *d = vuc_msg_desc(a.cmd);
        size_t pl = len - 16;

        c1 = vuc_msg_check(&a, pl, reply != 0);
        FZ_CHECK((c1 == -ENOSYS) == (d == NULL), "msg_check %d", c1);
        if (!d)
            continue;
        FZ_CHECK(d->cmd == a.cmd, "table entry for %u is %u", a.cmd, d->cmd);
        if (reply && (a.flags & VUC_FLAG_ERROR))
            c2 = pl == 0 ? 0 : -EBADMSG;
        else
            c2 = pl < (reply ? d->reply_min : d->req_min) ? -EBADMSG : 0;
        FZ_CHECK(c1 == c2, "msg_check %s %zu bytes: %d, expected %d", d->name,
                 pl, c1, c2);
    }
    FZ_CHECK(vuc_cmd_name(a.cmd) != NULL, "no name");
}

static void k_version(const uint8_t *p, size_t len)
{
    struct vuc_version a, b;
    uint8_t *e;
    size_t n;
    int r = vuc_version_decode(p, len, &a);

    check_dec_rc(r, len, "VERSION");
    if (r < 0)
        return;
    FZ_CHECK((size_t)r == len && len >= 4, "VERSION consumed %d of %zu", r,
             len);
    FZ_CHECK((a.json != NULL) == (len > 4), "VERSION data");
    check_inside(p, len, a.json, a.json_len + a.json_nul, "VERSION json");
    FZ_CHECK(!a.json || 4 + a.json_len + a.json_nul == len, "json_len");
    /* data without its NUL comes back with one */
    n = (size_t)r + (a.json && !a.json_nul);
    ROUND_TRIP(e, vuc_version_encode, &a, p, n, a.json_nul || !a.json,
               "VERSION");
    FZ_CHECK(vuc_version_decode(e, n, &b) == (int)n, "VERSION decode 2");
    FZ_CHECK(a.major == b.major && a.minor == b.minor &&
                 same_bytes(a.json, a.json_len, b.json, b.json_len) &&
                 (b.json_nul || !b.json),
             "VERSION round trip");
    free(e);
}

static void k_device_info(const uint8_t *p, size_t len)
{
    struct vuc_device_info a, b;
    uint8_t *e;
    int r = vuc_device_info_decode(p, len, &a);

    check_dec_rc(r, len, "DEVICE_INFO");
    if (r < 0)
        return;
    FZ_CHECK(r == 16, "DEVICE_INFO consumed %d", r);
    ROUND_TRIP(e, vuc_device_info_encode, &a, p, (size_t)r, true,
               "DEVICE_INFO");
    FZ_CHECK(vuc_device_info_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0, "DEVICE_INFO round trip");
    free(e);
}

static void k_region_info(const uint8_t *p, size_t len)
{
    struct vuc_region_info a, b;
    uint8_t *e;
    int r = vuc_region_info_decode(p, len, &a);

    check_dec_rc(r, len, "REGION_INFO");
    if (r < 0)
        return;
    FZ_CHECK((size_t)r == len && a.caps_len == len - 32, "caps_len");
    check_inside(p, len, a.caps, a.caps_len, "caps");
    ROUND_TRIP(e, vuc_region_info_encode, &a, p, (size_t)r, true,
               "REGION_INFO");
    FZ_CHECK(vuc_region_info_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(a.argsz == b.argsz && a.flags == b.flags && a.index == b.index &&
                 a.cap_offset == b.cap_offset && a.size == b.size &&
                 a.offset == b.offset &&
                 same_bytes(a.caps, a.caps_len, b.caps, b.caps_len),
             "REGION_INFO round trip");
    free(e);
}

static void k_region_rw(const uint8_t *p, size_t len, bool with_data)
{
    struct vuc_region_rw a, b;
    uint8_t *e;
    int r = vuc_region_rw_decode(p, len, with_data, &a);

    check_dec_rc(r, len, "REGION_RW");
    if (r < 0)
        return;
    FZ_CHECK(!wraps(a.offset, a.count), "REGION_RW range wraps");
    if (with_data)
        FZ_CHECK((size_t)r == len && a.data_len == a.count &&
                     len == 16 + (size_t)a.count,
                 "REGION_RW count %u with %zu bytes", a.count, len);
    else
        FZ_CHECK(r == 16 && a.data == NULL && a.data_len == 0, "no data");
    check_inside(p, len, a.data, a.data_len, "REGION_RW data");
    ROUND_TRIP(e, vuc_region_rw_encode, &a, p, (size_t)r, true, "REGION_RW");
    FZ_CHECK(vuc_region_rw_decode(e, (size_t)r, with_data, &b) == r,
             "decode 2");
    FZ_CHECK(a.offset == b.offset && a.region == b.region &&
                 a.count == b.count &&
                 same_bytes(a.data, a.data_len, b.data, b.data_len),
             "REGION_RW round trip");
    free(e);
}

static void k_dma_map(const uint8_t *p, size_t len)
{
    struct vuc_dma_map a, b;
    uint8_t *e;
    int r = vuc_dma_map_decode(p, len, &a);

    check_dec_rc(r, len, "DMA_MAP");
    if (r < 0)
        return;
    FZ_CHECK(r == 32 && !wraps(a.addr, a.size), "DMA_MAP");
    ROUND_TRIP(e, vuc_dma_map_encode, &a, p, (size_t)r, true, "DMA_MAP");
    FZ_CHECK(vuc_dma_map_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0, "DMA_MAP round trip");
    free(e);
}

static void k_dma_unmap(const uint8_t *p, size_t len)
{
    struct vuc_dma_unmap a, b;
    uint8_t *e;
    int r = vuc_dma_unmap_decode(p, len, &a);

    check_dec_rc(r, len, "DMA_UNMAP");
    if (r < 0)
        return;
    FZ_CHECK(r == 24, "DMA_UNMAP consumed %d", r);
    ROUND_TRIP(e, vuc_dma_unmap_encode, &a, p, (size_t)r, true, "DMA_UNMAP");
    FZ_CHECK(vuc_dma_unmap_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0, "DMA_UNMAP round trip");
    free(e);
}

static void k_dma_rw(const uint8_t *p, size_t len, bool with_data)
{
    struct vuc_dma_rw a, b;
    uint8_t *e;
    int r = vuc_dma_rw_decode(p, len, with_data, &a);

    check_dec_rc(r, len, "DMA_RW");
    if (r < 0)
        return;
    FZ_CHECK(!wraps(a.addr, a.count), "DMA_RW range wraps");
    if (with_data)
        FZ_CHECK((size_t)r == len && a.data_len == a.count &&
                     len - 16 == a.count,
                 "DMA_RW count %llu with %zu bytes",
                 (unsigned long long)a.count, len);
    else
        FZ_CHECK(r == 16 && a.data == NULL && a.data_len == 0, "no data");
    check_inside(p, len, a.data, a.data_len, "DMA_RW data");
    ROUND_TRIP(e, vuc_dma_rw_encode, &a, p, (size_t)r, true, "DMA_RW");
    FZ_CHECK(vuc_dma_rw_decode(e, (size_t)r, with_data, &b) == r, "decode 2");
    FZ_CHECK(a.addr == b.addr && a.count == b.count &&
                 same_bytes(a.data, a.data_len, b.data, b.data_len),
             "DMA_RW round trip");
    free(e);
}

static void k_feature(const uint8_t *p, size_t len)
{
    struct vuc_feature a, b;
    uint8_t *e;
    int r = vuc_feature_decode(p, len, &a);

    check_dec_rc(r, len, "FEATURE");
    if (r < 0)
        return;
    FZ_CHECK((size_t)r == len && a.data_len == len - 8, "FEATURE data");
    check_inside(p, len, a.data, a.data_len, "FEATURE data");
    FZ_CHECK(vuc_feature_index(a.flags) == (a.flags & 0xffffu), "index");
    ROUND_TRIP(e, vuc_feature_encode, &a, p, (size_t)r, true, "FEATURE");
    FZ_CHECK(vuc_feature_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(a.argsz == b.argsz && a.flags == b.flags &&
                 same_bytes(a.data, a.data_len, b.data, b.data_len),
             "FEATURE round trip");
    free(e);
}

static void k_feat_migration(const uint8_t *p, size_t len)
{
    uint64_t a, b;
    uint8_t buf[8];
    int r = vuc_feat_migration_decode(p, len, &a);

    check_dec_rc(r, len, "feature 1");
    if (r < 0)
        return;
    FZ_CHECK(r == 8, "feature 1 consumed %d", r);
    FZ_CHECK(vuc_feat_migration_encode(a, buf, 7) == -ENOSPC, "7 bytes");
    FZ_CHECK(vuc_feat_migration_encode(a, buf, 8) == 8, "encode");
    FZ_CHECK(memcmp(buf, p, 8) == 0, "feature 1 encode differs");
    FZ_CHECK(vuc_feat_migration_decode(buf, 8, &b) == 8 && a == b,
             "feature 1 round trip");
}

static void k_mig_state(const uint8_t *p, size_t len)
{
    struct vuc_mig_state a, b;
    uint8_t *e;
    int r = vuc_mig_state_decode(p, len, &a);

    check_dec_rc(r, len, "MIG_DEVICE_STATE");
    if (r < 0)
        return;
    FZ_CHECK(r == 8, "MIG_DEVICE_STATE consumed %d", r);
    ROUND_TRIP(e, vuc_mig_state_encode, &a, p, (size_t)r, true,
               "MIG_DEVICE_STATE");
    FZ_CHECK(vuc_mig_state_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0, "MIG_DEVICE_STATE round trip");
    free(e);
}

static void k_log_control(const uint8_t *p, size_t len)
{
    struct vuc_log_control a, b;
    struct vuc_log_range *rg = NULL, x;
    uint8_t *e;
    int r = vuc_log_control_decode(p, len, &a);

    check_dec_rc(r, len, "LOG_CONTROL");
    if (r < 0)
        return;
    FZ_CHECK((size_t)r == len && len == 16 + 16 * (size_t)a.num_ranges,
             "LOG_CONTROL %u ranges in %zu bytes", a.num_ranges, len);
    check_inside(p, len, a.ranges, 16 * (size_t)a.num_ranges, "ranges");
    if (a.num_ranges) {
        rg = calloc(a.num_ranges, sizeof(*rg));
        FZ_CHECK(rg != NULL, "calloc");
    }
    for (uint32_t i = 0; i < a.num_ranges; i++) {
        FZ_CHECK(vuc_log_range_get(&a, i, &rg[i]) == 0, "range %u", i);
        FZ_CHECK(rg[i].iova == vuc_get_u64(p + 16 + 16 * (size_t)i) &&
                     rg[i].length == vuc_get_u64(p + 24 + 16 * (size_t)i) &&
                     !wraps(rg[i].iova, rg[i].length),
                 "range %u", i);
    }
    FZ_CHECK(vuc_log_range_get(&a, a.num_ranges, &x) == -EINVAL,
             "range past the count");
    e = malloc((size_t)r);
    FZ_CHECK(e != NULL, "malloc");
    FZ_CHECK(vuc_log_control_encode(&a, rg, e, (size_t)r - 1) == -ENOSPC,
             "LOG_CONTROL in one byte less");
    FZ_CHECK(vuc_log_control_encode(&a, rg, e, (size_t)r) == r, "encode");
    FZ_CHECK(memcmp(e, p, (size_t)r) == 0, "LOG_CONTROL encode differs");
    FZ_CHECK(vuc_log_control_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(a.page_size == b.page_size && a.num_ranges == b.num_ranges &&
                 a.reserved == b.reserved &&
                 same_bytes(a.ranges, 16 * (size_t)a.num_ranges, b.ranges,
                            16 * (size_t)b.num_ranges),
             "LOG_CONTROL round trip");
    free(e);
    free(rg);
}

static void k_log_report(const uint8_t *p, size_t len)
{
    struct vuc_log_report a, b;
    uint8_t *e;
    int64_t bytes;
    int r = vuc_log_report_decode(p, len, &a);

    check_dec_rc(r, len, "LOG_REPORT");
    if (r < 0)
        return;
    FZ_CHECK((size_t)r == len && a.bitmap_len == len - 24 &&
                 !wraps(a.iova, a.length),
             "LOG_REPORT");
    check_inside(p, len, a.bitmap, a.bitmap_len, "bitmap");
    ROUND_TRIP(e, vuc_log_report_encode, &a, p, (size_t)r, true, "LOG_REPORT");
    FZ_CHECK(vuc_log_report_decode(e, (size_t)r, &b) == r, "decode 2");
    FZ_CHECK(a.iova == b.iova && a.length == b.length &&
                 a.page_size == b.page_size &&
                 same_bytes(a.bitmap, a.bitmap_len, b.bitmap, b.bitmap_len),
             "LOG_REPORT round trip");
    free(e);

    /* A bit per page, in whole u64 words. */
    bytes = vuc_log_bitmap_bytes(a.length, a.page_size);
    if (a.page_size == 0) {
        FZ_CHECK(bytes == -EINVAL, "page size 0: %lld", (long long)bytes);
    } else {
        uint64_t pages =
            a.length / a.page_size + (a.length % a.page_size ? 1u : 0u);

        FZ_CHECK(bytes >= 0 && bytes % 8 == 0 &&
                     (uint64_t)bytes / 8 == pages / 64 + (pages % 64 != 0),
                 "bitmap bytes %lld for %llu pages", (long long)bytes,
                 (unsigned long long)pages);
    }
}

static void k_mig_data(const uint8_t *p, size_t len, bool with_data)
{
    struct vuc_mig_data a, b;
    uint8_t *e;
    int r = vuc_mig_data_decode(p, len, with_data, &a);

    check_dec_rc(r, len, "MIG_DATA");
    if (r < 0)
        return;
    if (with_data)
        FZ_CHECK((size_t)r == len && a.data_len == a.size && len - 8 == a.size,
                 "MIG_DATA size %u with %zu bytes", a.size, len);
    else
        FZ_CHECK(r == 8 && a.data == NULL && a.data_len == 0, "no data");
    check_inside(p, len, a.data, a.data_len, "MIG_DATA data");
    ROUND_TRIP(e, vuc_mig_data_encode, &a, p, (size_t)r, true, "MIG_DATA");
    FZ_CHECK(vuc_mig_data_decode(e, (size_t)r, with_data, &b) == r, "decode 2");
    FZ_CHECK(a.argsz == b.argsz && a.size == b.size &&
                 same_bytes(a.data, a.data_len, b.data, b.data_len),
             "MIG_DATA round trip");
    free(e);
}

static void k_names(const uint8_t *p, size_t len)
{
    char buf[32], name[64];
    uint32_t v = 0, st;
    size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;

    if (len >= 4)
        v = vuc_get_u32(p);
    /* state names: name -> number -> the same name */
    FZ_CHECK(vuc_state_name(v) != NULL, "state name");
    if (v < VUC_STATE_NR) {
        FZ_CHECK(vuc_state_parse(vuc_state_name(v), &st) == 0 && st == v,
                 "state %u name round trip", v);
    }
    memcpy(name, p, n);
    name[n] = '\0';
    if (vuc_state_parse(name, &st) == 0)
        FZ_CHECK(st < VUC_STATE_NR, "parsed state %u", st);
    FZ_CHECK(vuc_errno_name(v, buf, sizeof(buf)) != NULL, "errno name");
    FZ_CHECK(vuc_errno_name(v, buf, 1) != NULL, "errno name, 1 byte");
    FZ_CHECK(vuc_cmd_name((uint16_t)v) != NULL, "command name");
}

static void run(enum fzk_kind k, const uint8_t *p, size_t len)
{
    switch (k) {
    case FZK_HDR:
        k_hdr(p, len);
        break;
    case FZK_VERSION:
        k_version(p, len);
        break;
    case FZK_DEVICE_INFO:
        k_device_info(p, len);
        break;
    case FZK_REGION_INFO:
        k_region_info(p, len);
        break;
    case FZK_REGION_RW:
    case FZK_REGION_RW_DATA:
        k_region_rw(p, len, k == FZK_REGION_RW_DATA);
        break;
    case FZK_DMA_MAP:
        k_dma_map(p, len);
        break;
    case FZK_DMA_UNMAP:
        k_dma_unmap(p, len);
        break;
    case FZK_DMA_RW:
    case FZK_DMA_RW_DATA:
        k_dma_rw(p, len, k == FZK_DMA_RW_DATA);
        break;
    case FZK_FEATURE:
        k_feature(p, len);
        break;
    case FZK_FEAT_MIGRATION:
        k_feat_migration(p, len);
        break;
    case FZK_MIG_STATE:
        k_mig_state(p, len);
        break;
    case FZK_LOG_CONTROL:
        k_log_control(p, len);
        break;
    case FZK_LOG_REPORT:
        k_log_report(p, len);
        break;
    case FZK_MIG_DATA:
    case FZK_MIG_DATA_DATA:
        k_mig_data(p, len, k == FZK_MIG_DATA_DATA);
        break;
    case FZK_NAMES:
        k_names(p, len);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel;

    if (size == 0)
        return 0;
    sel = data[0];
    if (sel < FZK_COUNT) {
        run((enum fzk_kind)sel, data + 1, size - 1);
    } else {
        for (int k = 0; k < FZK_COUNT; k++)
            run((enum fzk_kind)k, data + 1, size - 1);
    }
    return 0;
}
