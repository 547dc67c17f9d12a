/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for codec/: every message encoded against a byte array laid
 * out by hand from the spec's Offset/Size tables, decoded back, and
 * probed at its boundaries (0, fixed size - 1, exact, count +-1, wrapping
 * ranges, cap one byte short). Plus the message table, capabilities JSON
 * and names.
 *
 * The expected arrays are little-endian: the spec says host byte order,
 * and this suite only runs on little-endian hosts (checked below).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vucert/codec.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "expected byte arrays are written for a little-endian host"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Encoded length must be exactly the vector, byte for byte. */
#define assert_encoded(r, buf, exp)                                            \
    do {                                                                       \
        assert_int_equal((r), (int)sizeof(exp));                               \
        assert_memory_equal((buf), (exp), sizeof(exp));                        \
    } while (0)

/* A copy of src in a heap block of exactly n bytes, so ASan catches any
 * read past n. */
static uint8_t *exact_copy(const void *src, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);

    assert_non_null(p);
    if (n)
        memcpy(p, src, n);
    return p;
}

/* ------------------------------------------------------------------ */
/* Header (spec: Header)                                               */
/* ------------------------------------------------------------------ */

static const uint8_t hdr_vec[] = {
    0x34, 0x12,             /* Message ID   @0  size 2 = 0x1234 */
    0x10, 0x00,             /* Command      @2  size 2 = 16 */
    0x20, 0x00, 0x00, 0x00, /* Message size @4  size 4 = 32 */
    0x21, 0x00, 0x00, 0x00, /* Flags        @8  size 4 = Reply | Error */
    0x16, 0x00, 0x00, 0x00, /* Error        @12 size 4 = 22 (EINVAL) */
};

static void test_hdr_encode(void **state)
{
    struct vuc_hdr h = {.id = 0x1234,
                        .cmd = VUC_CMD_DEVICE_FEATURE,
                        .size = 32,
                        .flags = VUC_TYPE_REPLY | VUC_FLAG_ERROR,
                        .error = EINVAL};
    uint8_t buf[32];

    (void)state;
    memset(buf, 0xee, sizeof(buf));
    assert_encoded(vuc_hdr_encode(&h, buf, sizeof(buf)), buf, hdr_vec);
    assert_int_equal(buf[16], 0xee); /* nothing past the header */
    assert_int_equal(vuc_hdr_encode(&h, buf, 15), -ENOSPC);
    assert_int_equal(vuc_hdr_encode(&h, buf, 16), 16);
}

static void test_hdr_decode(void **state)
{
    struct vuc_hdr h;
    uint8_t b[sizeof(hdr_vec)];

    (void)state;
    assert_int_equal(vuc_hdr_decode(hdr_vec, sizeof(hdr_vec), &h), 16);
    assert_int_equal(h.id, 0x1234);
    assert_int_equal(h.cmd, 16);
    assert_int_equal(h.size, 32);
    assert_int_equal(h.flags, 0x21);
    assert_int_equal(h.error, 22);
    assert_int_equal(vuc_hdr_type(&h), VUC_TYPE_REPLY);

    assert_int_equal(vuc_hdr_decode(NULL, 0, &h), -EBADMSG);
    assert_int_equal(vuc_hdr_decode(hdr_vec, 15, &h), -EBADMSG);

    /* Declared size 15 (below the header), 16 (header only) */
    memcpy(b, hdr_vec, sizeof(b));
    b[4] = 15;
    assert_int_equal(vuc_hdr_decode(b, sizeof(b), &h), -EBADMSG);
    b[4] = 16;
    assert_int_equal(vuc_hdr_decode(b, sizeof(b), &h), 16);
    assert_int_equal(h.size, 16);
    /* Declared size 0xffffffff is a valid header; the size is the
     * transport's business. */
    b[4] = b[5] = b[6] = b[7] = 0xff;
    assert_int_equal(vuc_hdr_decode(b, sizeof(b), &h), 16);
    assert_int_equal(h.size, 0xffffffffu);
}

/* ------------------------------------------------------------------ */
/* Message table (spec: Commands; msgs.def)                            */
/* ------------------------------------------------------------------ */

struct expect_desc {
    uint16_t cmd;
    const char *name; /* NULL: no such command */
    enum vuc_dir dir;
    uint32_t req_min;
    uint32_t reply_min;
};

/* Written out from msgs.def, one row per number 0..20. */
static const struct expect_desc expect_table[] = {
    {0, NULL, VUC_DIR_C2S, 0, 0},
    {1, "VERSION", VUC_DIR_C2S, 4, 4},
    {2, "DMA_MAP", VUC_DIR_C2S, 32, 0},
    {3, "DMA_UNMAP", VUC_DIR_C2S, 24, 24},
    {4, "DEVICE_GET_INFO", VUC_DIR_C2S, 16, 16},
    {5, "DEVICE_GET_REGION_INFO", VUC_DIR_C2S, 32, 32},
    {6, "DEVICE_GET_REGION_IO_FDS", VUC_DIR_C2S, 16, 16},
    {7, "DEVICE_GET_IRQ_INFO", VUC_DIR_C2S, 16, 16},
    {8, "DEVICE_SET_IRQS", VUC_DIR_C2S, 20, 0},
    {9, "REGION_READ", VUC_DIR_C2S, 16, 16},
    {10, "REGION_WRITE", VUC_DIR_C2S, 16, 16},
    {11, "DMA_READ", VUC_DIR_S2C, 16, 16},
    {12, "DMA_WRITE", VUC_DIR_S2C, 16, 16},
    {13, "DEVICE_RESET", VUC_DIR_C2S, 0, 0},
    {14, NULL, VUC_DIR_C2S, 0, 0}, /* was DIRTY_PAGES; removed */
    {15, "REGION_WRITE_MULTI", VUC_DIR_C2S, 8, 8},
    {16, "DEVICE_FEATURE", VUC_DIR_C2S, 8, 8},
    {17, "MIG_DATA_READ", VUC_DIR_C2S, 8, 8},
    {18, "MIG_DATA_WRITE", VUC_DIR_C2S, 8, 0},
    {19, NULL, VUC_DIR_C2S, 0, 0},
    {20, NULL, VUC_DIR_C2S, 0, 0},
};

static void test_table_every_number(void **state)
{
    size_t i, defined = 0;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(expect_table); i++) {
        const struct expect_desc *e = &expect_table[i];
        const struct vuc_msg_desc *d = vuc_msg_desc(e->cmd);
        char full[64];

        assert_int_equal(e->cmd, i);
        if (!e->name) {
            assert_null(d);
            assert_string_equal(vuc_cmd_name(e->cmd), "UNKNOWN");
            continue;
        }
        defined++;
        assert_non_null(d);
        assert_int_equal(d->cmd, e->cmd);
        snprintf(full, sizeof(full), "VFIO_USER_%s", e->name);
        assert_string_equal(d->name, full);
        assert_string_equal(vuc_cmd_name(e->cmd), e->name);
        assert_int_equal(d->dir, e->dir);
        assert_int_equal(d->req_min, e->req_min);
        assert_int_equal(d->reply_min, e->reply_min);
    }
    assert_int_equal(defined, 17);
    assert_null(vuc_msg_desc(VUC_CMD_MAX));
    assert_null(vuc_msg_desc(0xffff));
    assert_string_equal(vuc_cmd_name(0xffff), "UNKNOWN");
    /* The enum from wire.h agrees with the table */
    assert_int_equal(VUC_CMD_DEVICE_FEATURE, 16);
    assert_int_equal(VUC_CMD_MIG_DATA_READ, 17);
    assert_int_equal(VUC_CMD_MIG_DATA_WRITE, 18);
}

static void test_table_listing(void **state)
{
    size_t n = 0, i;
    const struct vuc_msg_desc *t = vuc_msg_table(&n);

    (void)state;
    assert_non_null(t);
    assert_int_equal(n, 17);
    for (i = 0; i < n; i++) {
        /* command order, and the same entries vuc_msg_desc() returns */
        if (i > 0)
            assert_true(t[i].cmd > t[i - 1].cmd);
        assert_ptr_equal(vuc_msg_desc(t[i].cmd), &t[i]);
    }
    assert_int_equal(t[0].cmd, 1);
    assert_int_equal(t[n - 1].cmd, 18);
    assert_true(t[n - 1].cmd < VUC_CMD_MAX);
    assert_non_null(vuc_msg_table(NULL));
}

static void test_msg_check(void **state)
{
    struct vuc_hdr h = {.cmd = VUC_CMD_DMA_MAP};

    (void)state;
    /* request: at least req_min */
    assert_int_equal(vuc_msg_check(&h, 0, false), -EBADMSG);
    assert_int_equal(vuc_msg_check(&h, 31, false), -EBADMSG);
    assert_int_equal(vuc_msg_check(&h, 32, false), 0);
    assert_int_equal(vuc_msg_check(&h, 33, false), 0);
    /* DMA_MAP reply has no payload */
    h.flags = VUC_TYPE_REPLY;
    assert_int_equal(vuc_msg_check(&h, 0, true), 0);

    /* reply: at least reply_min */
    h.cmd = VUC_CMD_DEVICE_FEATURE;
    assert_int_equal(vuc_msg_check(&h, 7, true), -EBADMSG);
    assert_int_equal(vuc_msg_check(&h, 8, true), 0);

    /* error reply: header only, whatever the reply_min */
    h.flags = VUC_TYPE_REPLY | VUC_FLAG_ERROR;
    assert_int_equal(vuc_msg_check(&h, 0, true), 0);
    assert_int_equal(vuc_msg_check(&h, 1, true), -EBADMSG);
    assert_int_equal(vuc_msg_check(&h, 8, true), -EBADMSG);
    h.cmd = VUC_CMD_DMA_MAP;
    assert_int_equal(vuc_msg_check(&h, 1, true), -EBADMSG);

    /* the Error flag means nothing in a request: sizes still apply */
    h.cmd = VUC_CMD_MIG_DATA_READ;
    h.flags = VUC_FLAG_ERROR;
    assert_int_equal(vuc_msg_check(&h, 0, false), -EBADMSG);
    assert_int_equal(vuc_msg_check(&h, 8, false), 0);

    /* no payload at all */
    h.cmd = VUC_CMD_DEVICE_RESET;
    h.flags = 0;
    assert_int_equal(vuc_msg_check(&h, 0, false), 0);
    assert_int_equal(vuc_msg_check(&h, 0, true), 0);

    /* unknown commands */
    h.cmd = 0;
    assert_int_equal(vuc_msg_check(&h, 0, false), -ENOSYS);
    h.cmd = 14;
    assert_int_equal(vuc_msg_check(&h, 100, true), -ENOSYS);
    h.cmd = 19;
    assert_int_equal(vuc_msg_check(&h, 0, false), -ENOSYS);
}

/* ------------------------------------------------------------------ */
/* VFIO_USER_VERSION                                                   */
/* ------------------------------------------------------------------ */

static const uint8_t version_vec[] = {
    0x00, 0x00,      /* version major @0 size 2 = 0 */
    0x01, 0x00,      /* version minor @2 size 2 = 1 */
    '{',  '}',  0x00 /* version data  @4, including the terminating NUL */
};

static void test_version(void **state)
{
    struct vuc_version v = {
        .major = 0, .minor = 1, .json = "{}", .json_len = 2};
    struct vuc_version d;
    uint8_t buf[16];
    const uint8_t no_nul[] = {0x02, 0x00, 0x03, 0x00, '{', '}'};

    (void)state;
    assert_encoded(vuc_version_encode(&v, buf, sizeof(buf)), buf, version_vec);
    assert_int_equal(vuc_version_encode(&v, buf, sizeof(version_vec) - 1),
                     -ENOSPC);
    assert_int_equal(vuc_version_encode(&v, buf, sizeof(version_vec)), 7);

    assert_int_equal(vuc_version_decode(version_vec, sizeof(version_vec), &d),
                     7);
    assert_int_equal(d.major, 0);
    assert_int_equal(d.minor, 1);
    assert_ptr_equal(d.json, (const char *)version_vec + 4);
    assert_int_equal(d.json_len, 2);
    assert_true(d.json_nul);

    /* no version data: 4 bytes, json NULL */
    v.json = NULL;
    v.json_len = 5; /* ignored without json */
    assert_int_equal(vuc_version_encode(&v, buf, 3), -ENOSPC);
    assert_int_equal(vuc_version_encode(&v, buf, 4), 4);
    assert_memory_equal(buf, version_vec, 4);
    assert_int_equal(vuc_version_decode(version_vec, 4, &d), 4);
    assert_null(d.json);
    assert_int_equal(d.json_len, 0);
    assert_false(d.json_nul);

    /* data without its NUL: reported, not an error */
    assert_int_equal(vuc_version_decode(no_nul, sizeof(no_nul), &d), 6);
    assert_int_equal(d.major, 2);
    assert_int_equal(d.minor, 3);
    assert_int_equal(d.json_len, 2);
    assert_false(d.json_nul);

    /* a lone NUL: empty data, NUL present */
    {
        const uint8_t lone[] = {0, 0, 1, 0, 0};

        assert_int_equal(vuc_version_decode(lone, sizeof(lone), &d), 5);
        assert_non_null(d.json);
        assert_int_equal(d.json_len, 0);
        assert_true(d.json_nul);
    }

    assert_int_equal(vuc_version_decode(NULL, 0, &d), -EBADMSG);
    assert_int_equal(vuc_version_decode(version_vec, 3, &d), -EBADMSG);
}

/* ------------------------------------------------------------------ */
/* DEVICE_GET_INFO                                                     */
/* ------------------------------------------------------------------ */

static const uint8_t device_info_vec[] = {
    0x10, 0x00, 0x00, 0x00, /* argsz       @0  size 4 = 16 */
    0x03, 0x00, 0x00, 0x00, /* flags       @4  size 4 = RESET | PCI */
    0x09, 0x00, 0x00, 0x00, /* num_regions @8  size 4 = 9 */
    0x05, 0x00, 0x00, 0x00, /* num_irqs    @12 size 4 = 5 */
};

static void test_device_info(void **state)
{
    struct vuc_device_info in = {.argsz = 16,
                                 .flags = VUC_DEVICE_FLAGS_RESET |
                                          VUC_DEVICE_FLAGS_PCI,
                                 .num_regions = 9,
                                 .num_irqs = 5};
    struct vuc_device_info out;
    uint8_t buf[32];

    (void)state;
    assert_encoded(vuc_device_info_encode(&in, buf, sizeof(buf)), buf,
                   device_info_vec);
    assert_int_equal(vuc_device_info_encode(&in, buf, 15), -ENOSPC);

    memset(&out, 0, sizeof(out));
    assert_int_equal(
        vuc_device_info_decode(device_info_vec, sizeof(device_info_vec), &out),
        16);
    assert_int_equal(out.argsz, 16);
    assert_int_equal(out.flags, 3);
    assert_int_equal(out.num_regions, 9);
    assert_int_equal(out.num_irqs, 5);

    assert_int_equal(vuc_device_info_decode(NULL, 0, &out), -EBADMSG);
    assert_int_equal(vuc_device_info_decode(device_info_vec, 15, &out),
                     -EBADMSG);
    /* trailing bytes: consumed is still 16 */
    memcpy(buf, device_info_vec, 16);
    assert_int_equal(vuc_device_info_decode(buf, 17, &out), 16);
}

/* ------------------------------------------------------------------ */
/* DEVICE_GET_REGION_INFO                                              */
/* ------------------------------------------------------------------ */

static const uint8_t region_info_vec[] = {
    0x28, 0x00, 0x00, 0x00, /* argsz      @0  size 4 = 40 */
    0x0f, 0x00, 0x00, 0x00, /* flags      @4  size 4 = R|W|MMAP|CAPS */
    0x07, 0x00, 0x00, 0x00, /* index      @8  size 4 = 7 (config) */
    0x20, 0x00, 0x00, 0x00, /* cap_offset @12 size 4 = 32 */
    0x00, 0x10, 0x00, 0x00, /* size       @16 size 8 = 0x1000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x00, 0x00, 0x00, 0x40, /* offset     @24 size 8 = 0x1_40000000 */
    0x01, 0x00, 0x00, 0x00, /*   (high half) */
    /* caps @32: vfio_info_cap_header id=1 version=1 next=0 */
    0x01, 0x00,             /* id */
    0x01, 0x00,             /* version */
    0x00, 0x00, 0x00, 0x00, /* next */
};

static void test_region_info(void **state)
{
    static const uint8_t caps[8] = {1, 0, 1, 0, 0, 0, 0, 0};
    struct vuc_region_info in = {
        .argsz = 40,
        .flags = VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE |
                 VUC_REGION_FLAG_MMAP | VUC_REGION_FLAG_CAPS,
        .index = VUC_PCI_CONFIG_REGION_INDEX,
        .cap_offset = 32,
        .size = 0x1000,
        .offset = 0x140000000ull,
        .caps = caps,
        .caps_len = sizeof(caps)};
    struct vuc_region_info out;
    uint8_t buf[64];

    (void)state;
    assert_encoded(vuc_region_info_encode(&in, buf, sizeof(buf)), buf,
                   region_info_vec);
    assert_int_equal(
        vuc_region_info_encode(&in, buf, sizeof(region_info_vec) - 1), -ENOSPC);
    assert_int_equal(vuc_region_info_encode(&in, buf, sizeof(region_info_vec)),
                     40);

    assert_int_equal(
        vuc_region_info_decode(region_info_vec, sizeof(region_info_vec), &out),
        40);
    assert_int_equal(out.argsz, 40);
    assert_int_equal(out.flags, 0xf);
    assert_int_equal(out.index, 7);
    assert_int_equal(out.cap_offset, 32);
    assert_int_equal(out.size, 0x1000);
    assert_int_equal(out.offset, 0x140000000ull);
    assert_ptr_equal(out.caps, region_info_vec + 32);
    assert_int_equal(out.caps_len, 8);

    /* the 32-byte request: no caps */
    in.caps = NULL;
    in.caps_len = 0;
    assert_int_equal(vuc_region_info_encode(&in, buf, 31), -ENOSPC);
    assert_int_equal(vuc_region_info_encode(&in, buf, 32), 32);
    assert_memory_equal(buf, region_info_vec, 32);
    assert_int_equal(vuc_region_info_decode(region_info_vec, 32, &out), 32);
    assert_null(out.caps);
    assert_int_equal(out.caps_len, 0);

    /* caps_len without caps is a caller bug, not a crash */
    in.caps_len = 4;
    assert_int_equal(vuc_region_info_encode(&in, buf, sizeof(buf)), -EINVAL);

    assert_int_equal(vuc_region_info_decode(NULL, 0, &out), -EBADMSG);
    assert_int_equal(vuc_region_info_decode(region_info_vec, 31, &out),
                     -EBADMSG);
}

/* ------------------------------------------------------------------ */
/* REGION_READ / REGION_WRITE                                          */
/* ------------------------------------------------------------------ */

static const uint8_t region_write_vec[] = {
    0x00, 0x02, 0x00, 0x00, /* offset @0  size 8 = 0x200 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x02, 0x00, 0x00, 0x00, /* region @8  size 4 = 2 */
    0x04, 0x00, 0x00, 0x00, /* count  @12 size 4 = 4 */
    0xde, 0xad, 0xbe, 0xef, /* data   @16 size count */
};

static void test_region_rw(void **state)
{
    static const uint8_t data[4] = {0xde, 0xad, 0xbe, 0xef};
    struct vuc_region_rw in = {.offset = 0x200,
                               .region = 2,
                               .count = 4,
                               .data = data,
                               .data_len = sizeof(data)};
    struct vuc_region_rw out;
    uint8_t buf[64];
    uint8_t *p;

    (void)state;
    /* WRITE request / READ reply: with data */
    assert_encoded(vuc_region_rw_encode(&in, buf, sizeof(buf)), buf,
                   region_write_vec);
    assert_int_equal(vuc_region_rw_encode(&in, buf, 19), -ENOSPC);
    assert_int_equal(vuc_region_rw_encode(&in, buf, 20), 20);

    p = exact_copy(region_write_vec, sizeof(region_write_vec));
    assert_int_equal(vuc_region_rw_decode(p, 20, true, &out), 20);
    assert_int_equal(out.offset, 0x200);
    assert_int_equal(out.region, 2);
    assert_int_equal(out.count, 4);
    assert_ptr_equal(out.data, p + 16);
    assert_int_equal(out.data_len, 4);
    assert_memory_equal(out.data, data, 4);
    /* declared count vs bytes present: -1, +1 */
    assert_int_equal(vuc_region_rw_decode(p, 19, true, &out), -EBADMSG);
    free(p);
    memcpy(buf, region_write_vec, 20);
    buf[20] = 0;
    assert_int_equal(vuc_region_rw_decode(buf, 21, true, &out), -EBADMSG);
    buf[12] = 3; /* count 3, 4 bytes present */
    assert_int_equal(vuc_region_rw_decode(buf, 20, true, &out), -EBADMSG);
    buf[12] = 5; /* count 5, 4 bytes present */
    assert_int_equal(vuc_region_rw_decode(buf, 20, true, &out), -EBADMSG);
    /* count 0 with data: 16 bytes exactly */
    buf[12] = 0;
    assert_int_equal(vuc_region_rw_decode(buf, 16, true, &out), 16);
    assert_null(out.data);
    assert_int_equal(out.data_len, 0);

    /* READ request / WRITE reply: the 16-byte fixed part only */
    in.data = NULL;
    in.data_len = 0;
    assert_int_equal(vuc_region_rw_encode(&in, buf, 15), -ENOSPC);
    assert_int_equal(vuc_region_rw_encode(&in, buf, 16), 16);
    assert_memory_equal(buf, region_write_vec, 16);
    assert_int_equal(vuc_region_rw_decode(buf, 16, false, &out), 16);
    assert_int_equal(out.count, 4);
    assert_null(out.data);
    assert_int_equal(out.data_len, 0);
    /* trailing bytes reported by the return value */
    memcpy(buf, region_write_vec, 20);
    assert_int_equal(vuc_region_rw_decode(buf, 20, false, &out), 16);

    /* encoders write inconsistent counts as told */
    in.count = 8;
    in.data = data;
    in.data_len = 4;
    assert_int_equal(vuc_region_rw_encode(&in, buf, sizeof(buf)), 20);
    assert_int_equal(buf[12], 8);
    assert_int_equal(vuc_region_rw_decode(buf, 20, true, &out), -EBADMSG);

    /* offset + count wraps */
    in.offset = UINT64_MAX - 2;
    in.count = 4;
    assert_int_equal(vuc_region_rw_encode(&in, buf, sizeof(buf)), 20);
    assert_int_equal(vuc_region_rw_decode(buf, 20, true, &out), -EOVERFLOW);
    assert_int_equal(vuc_region_rw_decode(buf, 16, false, &out), -EOVERFLOW);
    in.offset = UINT64_MAX - 3; /* ends exactly at 2^64: still wraps */
    assert_int_equal(vuc_region_rw_encode(&in, buf, sizeof(buf)), 20);
    assert_int_equal(vuc_region_rw_decode(buf, 20, true, &out), -EOVERFLOW);
    in.offset = UINT64_MAX - 4; /* last byte at 2^64 - 1 */
    assert_int_equal(vuc_region_rw_encode(&in, buf, sizeof(buf)), 20);
    assert_int_equal(vuc_region_rw_decode(buf, 20, true, &out), 20);

    assert_int_equal(vuc_region_rw_decode(NULL, 0, false, &out), -EBADMSG);
    assert_int_equal(vuc_region_rw_decode(buf, 15, false, &out), -EBADMSG);
    assert_int_equal(vuc_region_rw_decode(buf, 15, true, &out), -EBADMSG);
}

/* ------------------------------------------------------------------ */
/* DMA_MAP / DMA_UNMAP                                                 */
/* ------------------------------------------------------------------ */

static const uint8_t dma_map_vec[] = {
    0x20, 0x00, 0x00, 0x00, /* argsz   @0  size 4 = 32 */
    0x03, 0x00, 0x00, 0x00, /* flags   @4  size 4 = READ | WRITE */
    0x00, 0x30, 0x00, 0x00, /* offset  @8  size 8 = 0x3000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x00, 0x00, 0x10, 0x00, /* address @16 size 8 = 0x1_00100000 */
    0x01, 0x00, 0x00, 0x00, /*   (high half) */
    0x00, 0x00, 0x20, 0x00, /* size    @24 size 8 = 0x200000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
};

static void test_dma_map(void **state)
{
    struct vuc_dma_map in = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .offset = 0x3000,
                             .addr = 0x100100000ull,
                             .size = 0x200000};
    struct vuc_dma_map out;
    uint8_t buf[48];
    uint8_t *p;

    (void)state;
    assert_encoded(vuc_dma_map_encode(&in, buf, sizeof(buf)), buf, dma_map_vec);
    assert_int_equal(vuc_dma_map_encode(&in, buf, 31), -ENOSPC);
    assert_int_equal(vuc_dma_map_encode(&in, buf, 32), 32);

    p = exact_copy(dma_map_vec, sizeof(dma_map_vec));
    assert_int_equal(vuc_dma_map_decode(p, 32, &out), 32);
    assert_int_equal(out.argsz, 32);
    assert_int_equal(out.flags, 3);
    assert_int_equal(out.offset, 0x3000);
    assert_int_equal(out.addr, 0x100100000ull);
    assert_int_equal(out.size, 0x200000);
    assert_int_equal(vuc_dma_map_decode(p, 31, &out), -EBADMSG);
    assert_int_equal(vuc_dma_map_decode(p, 0, &out), -EBADMSG);
    free(p);

    /* unknown flag bits are the caller's policy */
    in.flags = 0x80000003u;
    assert_int_equal(vuc_dma_map_encode(&in, buf, sizeof(buf)), 32);
    assert_int_equal(vuc_dma_map_decode(buf, 32, &out), 32);
    assert_int_equal(out.flags & ~VUC_DMA_FLAGS_KNOWN, 0x80000000u);

    /* addr + size wraps */
    in.addr = UINT64_MAX - 0xfff;
    in.size = 0x1000; /* end == 2^64 */
    assert_int_equal(vuc_dma_map_encode(&in, buf, sizeof(buf)), 32);
    assert_int_equal(vuc_dma_map_decode(buf, 32, &out), -EOVERFLOW);
    in.size = 0xfff; /* end == 2^64 - 1 */
    assert_int_equal(vuc_dma_map_encode(&in, buf, sizeof(buf)), 32);
    assert_int_equal(vuc_dma_map_decode(buf, 32, &out), 32);
    in.addr = UINT64_MAX;
    in.size = UINT64_MAX;
    assert_int_equal(vuc_dma_map_encode(&in, buf, sizeof(buf)), 32);
    assert_int_equal(vuc_dma_map_decode(buf, 32, &out), -EOVERFLOW);
    /* too short wins over overflow */
    assert_int_equal(vuc_dma_map_decode(buf, 31, &out), -EBADMSG);
}

static const uint8_t dma_unmap_vec[] = {
    0x18, 0x00, 0x00, 0x00, /* argsz   @0  size 4 = 24 */
    0x00, 0x00, 0x00, 0x00, /* flags   @4  size 4 = 0 */
    0x00, 0x00, 0x10, 0x00, /* address @8  size 8 = 0x1_00100000 */
    0x01, 0x00, 0x00, 0x00, /*   (high half) */
    0x00, 0x00, 0x20, 0x00, /* size    @16 size 8 = 0x200000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
};

static void test_dma_unmap(void **state)
{
    struct vuc_dma_unmap in = {
        .argsz = 24, .flags = 0, .addr = 0x100100000ull, .size = 0x200000};
    struct vuc_dma_unmap out;
    uint8_t buf[32];
    uint8_t *p;

    (void)state;
    assert_encoded(vuc_dma_unmap_encode(&in, buf, sizeof(buf)), buf,
                   dma_unmap_vec);
    assert_int_equal(vuc_dma_unmap_encode(&in, buf, 23), -ENOSPC);
    assert_int_equal(vuc_dma_unmap_encode(&in, buf, 24), 24);

    p = exact_copy(dma_unmap_vec, sizeof(dma_unmap_vec));
    assert_int_equal(vuc_dma_unmap_decode(p, 24, &out), 24);
    assert_int_equal(out.argsz, 24);
    assert_int_equal(out.flags, 0);
    assert_int_equal(out.addr, 0x100100000ull);
    assert_int_equal(out.size, 0x200000);
    assert_int_equal(vuc_dma_unmap_decode(p, 23, &out), -EBADMSG);
    assert_int_equal(vuc_dma_unmap_decode(NULL, 0, &out), -EBADMSG);
    free(p);

    in.addr = UINT64_MAX - 0xfff;
    in.size = 0x1000;
    assert_int_equal(vuc_dma_unmap_encode(&in, buf, sizeof(buf)), 24);
    assert_int_equal(vuc_dma_unmap_decode(buf, 24, &out), -EOVERFLOW);
    in.size = 0xfff;
    assert_int_equal(vuc_dma_unmap_encode(&in, buf, sizeof(buf)), 24);
    assert_int_equal(vuc_dma_unmap_decode(buf, 24, &out), 24);
}

/* ------------------------------------------------------------------ */
/* DMA_READ / DMA_WRITE                                                */
/* ------------------------------------------------------------------ */

static const uint8_t dma_write_vec[] = {
    0x00, 0x10, 0x00, 0x00, /* address @0  size 8 = 0x1000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x03, 0x00, 0x00, 0x00, /* count   @8  size 8 = 3 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x01, 0x02, 0x03,       /* data    @16 size count */
};

static void test_dma_rw(void **state)
{
    static const uint8_t data[3] = {1, 2, 3};
    struct vuc_dma_rw in = {
        .addr = 0x1000, .count = 3, .data = data, .data_len = 3};
    struct vuc_dma_rw out;
    uint8_t buf[64];
    uint8_t *p;

    (void)state;
    assert_encoded(vuc_dma_rw_encode(&in, buf, sizeof(buf)), buf,
                   dma_write_vec);
    assert_int_equal(vuc_dma_rw_encode(&in, buf, 18), -ENOSPC);
    assert_int_equal(vuc_dma_rw_encode(&in, buf, 19), 19);

    p = exact_copy(dma_write_vec, sizeof(dma_write_vec));
    assert_int_equal(vuc_dma_rw_decode(p, 19, true, &out), 19);
    assert_int_equal(out.addr, 0x1000);
    assert_int_equal(out.count, 3);
    assert_ptr_equal(out.data, p + 16);
    assert_int_equal(out.data_len, 3);
    assert_int_equal(vuc_dma_rw_decode(p, 18, true, &out), -EBADMSG);
    /* without data (DMA_READ request, DMA_WRITE reply) */
    assert_int_equal(vuc_dma_rw_decode(p, 16, false, &out), 16);
    assert_null(out.data);
    assert_int_equal(out.data_len, 0);
    assert_int_equal(vuc_dma_rw_decode(p, 19, false, &out), 16);
    assert_int_equal(vuc_dma_rw_decode(p, 15, false, &out), -EBADMSG);
    free(p);

    memcpy(buf, dma_write_vec, sizeof(dma_write_vec));
    buf[19] = 0;
    assert_int_equal(vuc_dma_rw_decode(buf, 20, true, &out), -EBADMSG);
    /* a count that cannot match any buffer */
    buf[15] = 0x80;
    assert_int_equal(vuc_dma_rw_decode(buf, 19, true, &out), -EBADMSG);

    in.data = NULL;
    in.data_len = 0;
    assert_int_equal(vuc_dma_rw_encode(&in, buf, 15), -ENOSPC);
    assert_int_equal(vuc_dma_rw_encode(&in, buf, 16), 16);
    assert_memory_equal(buf, dma_write_vec, 16);

    /* addr + count wraps */
    in.addr = UINT64_MAX - 1;
    in.count = 2;
    assert_int_equal(vuc_dma_rw_encode(&in, buf, sizeof(buf)), 16);
    assert_int_equal(vuc_dma_rw_decode(buf, 16, false, &out), -EOVERFLOW);
    in.count = 1;
    assert_int_equal(vuc_dma_rw_encode(&in, buf, sizeof(buf)), 16);
    assert_int_equal(vuc_dma_rw_decode(buf, 16, false, &out), 16);
}

/* ------------------------------------------------------------------ */
/* DEVICE_FEATURE and the feature data                                 */
/* ------------------------------------------------------------------ */

static const uint8_t feature_vec[] = {
    0x18, 0x00, 0x00, 0x00, /* argsz @0 size 4 = 24 */
    0x02, 0x00, 0x02, 0x00, /* flags @4 size 4 = SET | index 2 */
    /* data @8: mig_state */
    0x01, 0x00, 0x00, 0x00, /*   device_state @0 size 4 = STOP */
    0xff, 0xff, 0xff, 0xff, /*   data_fd      @4 size 4 = -1 */
};

static void test_feature(void **state)
{
    static const uint8_t data[8] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    struct vuc_feature in = {.argsz = 24,
                             .flags =
                                 VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE,
                             .data = data,
                             .data_len = sizeof(data)};
    struct vuc_feature out;
    uint8_t buf[32];

    (void)state;
    assert_encoded(vuc_feature_encode(&in, buf, sizeof(buf)), buf, feature_vec);
    assert_int_equal(vuc_feature_encode(&in, buf, 15), -ENOSPC);
    assert_int_equal(vuc_feature_encode(&in, buf, 16), 16);

    assert_int_equal(vuc_feature_decode(feature_vec, 16, &out), 16);
    assert_int_equal(out.argsz, 24);
    assert_int_equal(out.flags, 0x20002);
    assert_int_equal(vuc_feature_index(out.flags), 2);
    assert_ptr_equal(out.data, feature_vec + 8);
    assert_int_equal(out.data_len, 8);

    /* argsz + flags only (a PROBE) */
    assert_int_equal(vuc_feature_decode(feature_vec, 8, &out), 8);
    assert_null(out.data);
    assert_int_equal(out.data_len, 0);
    in.data = NULL;
    in.data_len = 0;
    assert_int_equal(vuc_feature_encode(&in, buf, 7), -ENOSPC);
    assert_int_equal(vuc_feature_encode(&in, buf, 8), 8);
    assert_memory_equal(buf, feature_vec, 8);

    assert_int_equal(vuc_feature_decode(NULL, 0, &out), -EBADMSG);
    assert_int_equal(vuc_feature_decode(feature_vec, 7, &out), -EBADMSG);

    /* flag helpers */
    assert_int_equal(vuc_feature_index(VUC_FEATURE_GET | VUC_FEATURE_PROBE |
                                       VUC_FEATURE_DMA_LOGGING_REPORT),
                     8);
}

static const uint8_t migration_vec[] = {
    0x05, 0x00, 0x00, 0x00, /* flags @0 size 8 = STOP_COPY | PRE_COPY */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
};

static void test_feat_migration(void **state)
{
    uint64_t flags = 0;
    uint8_t buf[16];

    (void)state;
    assert_encoded(vuc_feat_migration_encode(VUC_MIGRATION_STOP_COPY |
                                                 VUC_MIGRATION_PRE_COPY,
                                             buf, sizeof(buf)),
                   buf, migration_vec);
    assert_int_equal(vuc_feat_migration_encode(1, buf, 7), -ENOSPC);
    assert_int_equal(vuc_feat_migration_decode(migration_vec, 8, &flags), 8);
    assert_int_equal(flags, 5);
    assert_int_equal(vuc_feat_migration_decode(migration_vec, 7, &flags),
                     -EBADMSG);
    assert_int_equal(vuc_feat_migration_decode(NULL, 0, &flags), -EBADMSG);
    /* high bits survive */
    assert_int_equal(vuc_feat_migration_encode(0x8000000000000001ull, buf, 8),
                     8);
    assert_int_equal(buf[7], 0x80);
    assert_int_equal(vuc_feat_migration_decode(buf, 8, &flags), 8);
    assert_int_equal(flags, 0x8000000000000001ull);
}

static void test_mig_state(void **state)
{
    /* feature_vec + 8 is the mig_state: STOP, data_fd -1 */
    struct vuc_mig_state in = {.device_state = VUC_STATE_STOP,
                               .data_fd = 0xffffffffu};
    struct vuc_mig_state out;
    uint8_t buf[16];
    const uint8_t running[] = {
        0x02, 0x00, 0x00, 0x00, /* device_state @0 size 4 = RUNNING */
        0x00, 0x00, 0x00, 0x00, /* data_fd      @4 size 4 = 0 */
    };

    (void)state;
    assert_int_equal(vuc_mig_state_encode(&in, buf, sizeof(buf)), 8);
    assert_memory_equal(buf, feature_vec + 8, 8);
    in.device_state = VUC_STATE_RUNNING;
    in.data_fd = 0;
    assert_encoded(vuc_mig_state_encode(&in, buf, sizeof(buf)), buf, running);
    assert_int_equal(vuc_mig_state_encode(&in, buf, 7), -ENOSPC);

    assert_int_equal(vuc_mig_state_decode(feature_vec + 8, 8, &out), 8);
    assert_int_equal(out.device_state, 1);
    assert_int_equal(out.data_fd, 0xffffffffu);
    assert_int_equal(vuc_mig_state_decode(running, 7, &out), -EBADMSG);
    assert_int_equal(vuc_mig_state_decode(NULL, 0, &out), -EBADMSG);
    /* out-of-range states decode; judging them is the caller's job */
    memcpy(buf, running, 8);
    buf[0] = 9;
    assert_int_equal(vuc_mig_state_decode(buf, 8, &out), 8);
    assert_int_equal(out.device_state, 9);
}

/* ------------------------------------------------------------------ */
/* DMA logging (features 6, 7, 8)                                      */
/* ------------------------------------------------------------------ */

static const uint8_t log_control_vec[] = {
    0x00, 0x10, 0x00, 0x00, /* page_size  @0  size 8 = 4096 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x02, 0x00, 0x00, 0x00, /* num_ranges @8  size 4 = 2 */
    0x00, 0x00, 0x00, 0x00, /* reserved   @12 size 4 = 0 */
    /* ranges[0] @16 */
    0x00, 0x00, 0x00, 0x80, /*   iova   @0 size 8 = 0x80000000 */
    0x00, 0x00, 0x00, 0x00, /*     (high half) */
    0x00, 0x00, 0x10, 0x00, /*   length @8 size 8 = 0x100000 */
    0x00, 0x00, 0x00, 0x00, /*     (high half) */
    /* ranges[1] @32 */
    0x00, 0x00, 0x00, 0x00, /*   iova   @0 size 8 = 0x1_00000000 */
    0x01, 0x00, 0x00, 0x00, /*     (high half) */
    0x00, 0x20, 0x00, 0x00, /*   length @8 size 8 = 0x2000 */
    0x00, 0x00, 0x00, 0x00, /*     (high half) */
};

static void test_log_control(void **state)
{
    static const struct vuc_log_range ranges[2] = {
        {.iova = 0x80000000ull, .length = 0x100000},
        {.iova = 0x100000000ull, .length = 0x2000},
    };
    struct vuc_log_control in = {.page_size = 4096, .num_ranges = 2};
    struct vuc_log_control out;
    struct vuc_log_range r;
    uint8_t buf[80];
    uint8_t *p;

    (void)state;
    assert_encoded(vuc_log_control_encode(&in, ranges, buf, sizeof(buf)), buf,
                   log_control_vec);
    assert_int_equal(vuc_log_control_encode(&in, ranges, buf, 47), -ENOSPC);
    assert_int_equal(vuc_log_control_encode(&in, ranges, buf, 48), 48);
    assert_int_equal(vuc_log_control_encode(&in, NULL, buf, 48), -EINVAL);

    p = exact_copy(log_control_vec, sizeof(log_control_vec));
    assert_int_equal(vuc_log_control_decode(p, 48, &out), 48);
    assert_int_equal(out.page_size, 4096);
    assert_int_equal(out.num_ranges, 2);
    assert_int_equal(out.reserved, 0);
    assert_ptr_equal(out.ranges, p + 16);
    assert_int_equal(vuc_log_range_get(&out, 0, &r), 0);
    assert_int_equal(r.iova, 0x80000000ull);
    assert_int_equal(r.length, 0x100000);
    assert_int_equal(vuc_log_range_get(&out, 1, &r), 0);
    assert_int_equal(r.iova, 0x100000000ull);
    assert_int_equal(r.length, 0x2000);
    assert_int_equal(vuc_log_range_get(&out, 2, &r), -EINVAL);
    assert_int_equal(vuc_log_range_get(&out, UINT32_MAX, &r), -EINVAL);

    /* len must be exactly 16 + num_ranges * 16 */
    assert_int_equal(vuc_log_control_decode(p, 47, &out), -EBADMSG);
    assert_int_equal(vuc_log_control_decode(p, 32, &out), -EBADMSG);
    assert_int_equal(vuc_log_control_decode(p, 15, &out), -EBADMSG);
    assert_int_equal(vuc_log_control_decode(p, 0, &out), -EBADMSG);
    free(p);
    memcpy(buf, log_control_vec, 48);
    memset(buf + 48, 0, 16);
    assert_int_equal(vuc_log_control_decode(buf, 49, &out), -EBADMSG);
    assert_int_equal(vuc_log_control_decode(buf, 64, &out), -EBADMSG);
    buf[8] = 1; /* num_ranges 1: 48 bytes is one range too many */
    assert_int_equal(vuc_log_control_decode(buf, 48, &out), -EBADMSG);
    assert_int_equal(vuc_log_control_decode(buf, 32, &out), 32);
    buf[8] = 3; /* num_ranges 3: one range short */
    assert_int_equal(vuc_log_control_decode(buf, 48, &out), -EBADMSG);
    assert_int_equal(vuc_log_control_decode(buf, 64, &out), 64);
    buf[8] = buf[9] = buf[10] = buf[11] = 0xff; /* num_ranges 2^32-1 */
    assert_int_equal(vuc_log_control_decode(buf, 48, &out), -EBADMSG);

    /* num_ranges 0 ("all writes should be logged"): head only */
    in.num_ranges = 0;
    in.reserved = 0xabcdef01u;
    assert_int_equal(vuc_log_control_encode(&in, NULL, buf, 15), -ENOSPC);
    assert_int_equal(vuc_log_control_encode(&in, NULL, buf, 16), 16);
    assert_memory_equal(buf, log_control_vec, 8);
    assert_int_equal(buf[8], 0);
    assert_int_equal(buf[12], 0x01); /* reserved written as given */
    assert_int_equal(buf[15], 0xab);
    assert_int_equal(vuc_log_control_decode(buf, 16, &out), 16);
    assert_int_equal(out.num_ranges, 0);
    assert_int_equal(out.reserved, 0xabcdef01u);
    assert_null(out.ranges);
    assert_int_equal(vuc_log_range_get(&out, 0, &r), -EINVAL);
    assert_int_equal(vuc_log_control_decode(buf, 17, &out), -EBADMSG);

    /* a range whose iova + length wraps */
    {
        const struct vuc_log_range bad[2] = {
            {.iova = 0x1000, .length = 0x1000},
            {.iova = UINT64_MAX - 0xfff, .length = 0x1000},
        };

        in.num_ranges = 2;
        assert_int_equal(vuc_log_control_encode(&in, bad, buf, sizeof(buf)),
                         48);
        assert_int_equal(vuc_log_control_decode(buf, 48, &out), -EOVERFLOW);
        /* a hand-built control gets the check from range_get too */
        out.page_size = 4096;
        out.num_ranges = 2;
        out.reserved = 0;
        out.ranges = buf + 16;
        assert_int_equal(vuc_log_range_get(&out, 0, &r), 0);
        assert_int_equal(vuc_log_range_get(&out, 1, &r), -EOVERFLOW);
    }
}

static const uint8_t log_report_vec[] = {
    0x00, 0x00, 0x00, 0x80, /* iova      @0  size 8 = 0x80000000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x00, 0x00, 0x41, 0x00, /* length    @8  size 8 = 0x410000 (65 pages) */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    0x00, 0x00, 0x01, 0x00, /* page_size @16 size 8 = 0x10000 */
    0x00, 0x00, 0x00, 0x00, /*   (high half) */
    /* bitmap @24: two u64 words, pages 0, 3 and 64 dirty */
    0x09, 0x00, 0x00, 0x00, /*   word 0, bits 0 and 3 */
    0x00, 0x00, 0x00, 0x00, /*     (high half) */
    0x01, 0x00, 0x00, 0x00, /*   word 1, bit 0 = page 64 */
    0x00, 0x00, 0x00, 0x00, /*     (high half) */
};

static void test_log_report(void **state)
{
    static const uint8_t bitmap[16] = {9, 0, 0, 0, 0, 0, 0, 0,
                                       1, 0, 0, 0, 0, 0, 0, 0};
    struct vuc_log_report in = {.iova = 0x80000000ull,
                                .length = 0x410000,
                                .page_size = 0x10000,
                                .bitmap = bitmap,
                                .bitmap_len = sizeof(bitmap)};
    struct vuc_log_report out;
    uint8_t buf[64];
    uint8_t *p;

    (void)state;
    /* reply: head + bitmap */
    assert_encoded(vuc_log_report_encode(&in, buf, sizeof(buf)), buf,
                   log_report_vec);
    assert_int_equal(vuc_log_report_encode(&in, buf, 39), -ENOSPC);
    assert_int_equal(vuc_log_report_encode(&in, buf, 40), 40);

    p = exact_copy(log_report_vec, sizeof(log_report_vec));
    assert_int_equal(vuc_log_report_decode(p, 40, &out), 40);
    assert_int_equal(out.iova, 0x80000000ull);
    assert_int_equal(out.length, 0x410000);
    assert_int_equal(out.page_size, 0x10000);
    assert_ptr_equal(out.bitmap, p + 24);
    assert_int_equal(out.bitmap_len, 16);
    assert_int_equal((int64_t)out.bitmap_len,
                     vuc_log_bitmap_bytes(out.length, out.page_size));

    /* request: the 24-byte head */
    assert_int_equal(vuc_log_report_decode(p, 24, &out), 24);
    assert_null(out.bitmap);
    assert_int_equal(out.bitmap_len, 0);
    assert_int_equal(vuc_log_report_decode(p, 23, &out), -EBADMSG);
    assert_int_equal(vuc_log_report_decode(NULL, 0, &out), -EBADMSG);
    free(p);
    in.bitmap = NULL;
    in.bitmap_len = 0;
    assert_int_equal(vuc_log_report_encode(&in, buf, 23), -ENOSPC);
    assert_int_equal(vuc_log_report_encode(&in, buf, 24), 24);
    assert_memory_equal(buf, log_report_vec, 24);
    in.bitmap_len = 8;
    assert_int_equal(vuc_log_report_encode(&in, buf, sizeof(buf)), -EINVAL);
    in.bitmap_len = 0;

    /* iova + length wraps */
    in.iova = UINT64_MAX - 0xffff;
    in.length = 0x10000;
    assert_int_equal(vuc_log_report_encode(&in, buf, sizeof(buf)), 24);
    assert_int_equal(vuc_log_report_decode(buf, 24, &out), -EOVERFLOW);
    in.length = 0xffff;
    assert_int_equal(vuc_log_report_encode(&in, buf, sizeof(buf)), 24);
    assert_int_equal(vuc_log_report_decode(buf, 24, &out), 24);

    /* page_size is reported, not judged: 0 and 3 decode */
    in.iova = 0;
    in.page_size = 0;
    assert_int_equal(vuc_log_report_encode(&in, buf, sizeof(buf)), 24);
    assert_int_equal(vuc_log_report_decode(buf, 24, &out), 24);
    assert_int_equal(out.page_size, 0);
}

static void test_log_bitmap_bytes(void **state)
{
    (void)state;
    assert_int_equal(vuc_log_bitmap_bytes(64 * 4096ull, 4096), 8);
    assert_int_equal(vuc_log_bitmap_bytes(65 * 4096ull, 4096), 16);
    assert_int_equal(vuc_log_bitmap_bytes(64 * 4096ull + 1, 4096), 16);
    assert_int_equal(vuc_log_bitmap_bytes(63 * 4096ull + 1, 4096), 8);
    assert_int_equal(vuc_log_bitmap_bytes(1, 4096), 8);
    assert_int_equal(vuc_log_bitmap_bytes(0, 4096), 0);
    assert_int_equal(vuc_log_bitmap_bytes(4096, 0), -EINVAL);
    assert_int_equal(vuc_log_bitmap_bytes(0, 0), -EINVAL);
    /* 1 TiB at 4 KiB: 2^28 pages, 2^22 words, 32 MiB */
    assert_int_equal(vuc_log_bitmap_bytes(1ull << 40, 4096), 32ull << 20);
    /* non powers of two are the caller's problem, but the math holds */
    assert_int_equal(vuc_log_bitmap_bytes(3 * 64 * 3ull, 3), 24);
    /* the whole address space at 1 byte per page: 2^61 bytes */
    assert_int_equal(vuc_log_bitmap_bytes(UINT64_MAX, 1), 1ll << 61);
    assert_int_equal(vuc_log_bitmap_bytes(UINT64_MAX, UINT64_MAX), 8);
}

/* ------------------------------------------------------------------ */
/* MIG_DATA_READ / MIG_DATA_WRITE                                      */
/* ------------------------------------------------------------------ */

static const uint8_t mig_read_req_vec[] = {
    0x08, 0x10, 0x00, 0x00, /* argsz @0 size 4 = 8 + 4096 */
    0x00, 0x10, 0x00, 0x00, /* size  @4 size 4 = 4096 */
};

static const uint8_t mig_data_vec[] = {
    0x0d, 0x00, 0x00, 0x00,      /* argsz @0 size 4 = 13 (8 + data) */
    0x05, 0x00, 0x00, 0x00,      /* size  @4 size 4 = 5 */
    'h',  'e',  'l',  'l',  'o', /* data @8 size 5 */
};

static void test_mig_data(void **state)
{
    struct vuc_mig_data in = {.argsz = 8 + 4096, .size = 4096};
    struct vuc_mig_data out;
    uint8_t buf[32];
    uint8_t *p;

    (void)state;
    /* READ request: argsz + size only */
    assert_encoded(vuc_mig_data_encode(&in, buf, sizeof(buf)), buf,
                   mig_read_req_vec);
    assert_int_equal(vuc_mig_data_encode(&in, buf, 7), -ENOSPC);
    assert_int_equal(vuc_mig_data_decode(mig_read_req_vec, 8, false, &out), 8);
    assert_int_equal(out.argsz, 4104);
    assert_int_equal(out.size, 4096);
    assert_null(out.data);
    assert_int_equal(out.data_len, 0);
    assert_int_equal(vuc_mig_data_decode(mig_read_req_vec, 7, false, &out),
                     -EBADMSG);
    assert_int_equal(vuc_mig_data_decode(NULL, 0, false, &out), -EBADMSG);
    /* with_data: size 4096 but nothing follows */
    assert_int_equal(vuc_mig_data_decode(mig_read_req_vec, 8, true, &out),
                     -EBADMSG);

    /* READ reply / WRITE request: data follows */
    in.argsz = 13;
    in.size = 5;
    in.data = (const uint8_t *)"hello";
    in.data_len = 5;
    assert_encoded(vuc_mig_data_encode(&in, buf, sizeof(buf)), buf,
                   mig_data_vec);
    assert_int_equal(vuc_mig_data_encode(&in, buf, 12), -ENOSPC);
    assert_int_equal(vuc_mig_data_encode(&in, buf, 13), 13);

    p = exact_copy(mig_data_vec, sizeof(mig_data_vec));
    assert_int_equal(vuc_mig_data_decode(p, 13, true, &out), 13);
    assert_int_equal(out.argsz, 13);
    assert_int_equal(out.size, 5);
    assert_ptr_equal(out.data, p + 8);
    assert_int_equal(out.data_len, 5);
    assert_int_equal(vuc_mig_data_decode(p, 12, true, &out), -EBADMSG);
    assert_int_equal(vuc_mig_data_decode(p, 13, false, &out), 8);
    free(p);
    memcpy(buf, mig_data_vec, 13);
    buf[13] = 0;
    assert_int_equal(vuc_mig_data_decode(buf, 14, true, &out), -EBADMSG);
    buf[4] = 4; /* size 4, 5 bytes present */
    assert_int_equal(vuc_mig_data_decode(buf, 13, true, &out), -EBADMSG);
    buf[4] = 6; /* size 6, 5 bytes present */
    assert_int_equal(vuc_mig_data_decode(buf, 13, true, &out), -EBADMSG);
    /* size 0 reply: end of stream, 8 bytes */
    buf[4] = 0;
    assert_int_equal(vuc_mig_data_decode(buf, 8, true, &out), 8);
    assert_int_equal(out.size, 0);
    assert_null(out.data);

    in.data = NULL;
    assert_int_equal(vuc_mig_data_encode(&in, buf, sizeof(buf)), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Capabilities JSON                                                   */
/* ------------------------------------------------------------------ */

/* Parse a string through an exact-size, non-NUL-terminated copy. */
static int parse_str(const char *s, struct vuc_caps *caps)
{
    size_t n = strlen(s);
    uint8_t *p = exact_copy(s, n);
    int r = vuc_caps_parse((const char *)p, n, caps);

    free(p);
    return r;
}

static void assert_defaults(const struct vuc_caps *c)
{
    assert_int_equal(c->max_msg_fds, 1);
    assert_int_equal(c->max_data_xfer_size, 1048576);
    assert_int_equal(c->max_dma_maps, 65535);
    assert_int_equal(c->pgsizes, 4096);
    assert_false(c->twin_supported);
    assert_false(c->twin_has_fd_index);
    assert_false(c->write_multiple);
}

static void test_caps_defaults(void **state)
{
    struct vuc_caps c;

    (void)state;
    memset(&c, 0x5a, sizeof(c));
    vuc_caps_defaults(&c);
    assert_defaults(&c);
    assert_int_equal(c.present, 0);
    assert_int_equal(c.unknown, 0);

    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(parse_str("{}", &c), 0);
    assert_defaults(&c);
    assert_int_equal(c.present, 0);
    assert_int_equal(c.unknown, 0);

    assert_int_equal(parse_str("{\"capabilities\":{}}", &c), 0);
    assert_defaults(&c);
    assert_int_equal(c.present, 0);

    /* keys beside "capabilities" are not capabilities */
    assert_int_equal(parse_str("{\"x\":1,\"max_msg_fds\":7}", &c), 0);
    assert_defaults(&c);
    assert_int_equal(c.present, 0);
    assert_int_equal(c.unknown, 0);
}

static void test_caps_all_keys(void **state)
{
    struct vuc_caps c;
    const char *s = " {\n  \"capabilities\": {\n"
                    "    \"max_msg_fds\": 8,\n"
                    "    \"max_data_xfer_size\": 2097152,\n"
                    "    \"max_dma_maps\": 0,\n"
                    "    \"pgsizes\": 2101248,\n"
                    "    \"twin_socket\": {\"supported\": true,"
                    " \"fd_index\": 0},\n"
                    "    \"write_multiple\": true\n  }\n} \n";

    (void)state;
    assert_int_equal(parse_str(s, &c), 0);
    assert_int_equal(c.present,
                     VUC_CAP_MAX_MSG_FDS | VUC_CAP_MAX_DATA_XFER_SIZE |
                         VUC_CAP_MAX_DMA_MAPS | VUC_CAP_PGSIZES |
                         VUC_CAP_TWIN_SOCKET | VUC_CAP_WRITE_MULTIPLE);
    assert_int_equal(c.max_msg_fds, 8);
    assert_int_equal(c.max_data_xfer_size, 2097152);
    assert_int_equal(c.max_dma_maps, 0);
    assert_int_equal(c.pgsizes, 0x201000);
    assert_true(c.twin_supported);
    assert_true(c.twin_has_fd_index);
    assert_int_equal(c.twin_fd_index, 0);
    assert_true(c.write_multiple);
    assert_int_equal(c.unknown, 0);

    /* one key at a time sets only its bit */
    assert_int_equal(parse_str("{\"capabilities\":{\"pgsizes\":65536}}", &c),
                     0);
    assert_int_equal(c.present, VUC_CAP_PGSIZES);
    assert_int_equal(c.pgsizes, 65536);
    assert_int_equal(c.max_msg_fds, 1);

    /* twin_socket with no members: present, supported false */
    assert_int_equal(parse_str("{\"capabilities\":{\"twin_socket\":{}}}", &c),
                     0);
    assert_int_equal(c.present, VUC_CAP_TWIN_SOCKET);
    assert_false(c.twin_supported);
    assert_false(c.twin_has_fd_index);

    /* write_multiple false is present and false */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"write_multiple\":false}}", &c), 0);
    assert_int_equal(c.present, VUC_CAP_WRITE_MULTIPLE);
    assert_false(c.write_multiple);

    /* the full u64 range */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"pgsizes\":18446744073709551615}}", &c),
        0);
    assert_int_equal(c.pgsizes, UINT64_MAX);
}

static void test_caps_unknown_keys(void **state)
{
    struct vuc_caps c;

    (void)state;
    assert_int_equal(parse_str("{\"capabilities\":{\"migration\":{\"pgsize\":"
                               "4096},\"max_msg_fds\":2,\"zz\":null,"
                               "\"twin_socket\":{\"future\":1}}}",
                               &c),
                     0);
    assert_int_equal(c.unknown, 3);
    assert_int_equal(c.present, VUC_CAP_MAX_MSG_FDS | VUC_CAP_TWIN_SOCKET);
    assert_int_equal(c.max_msg_fds, 2);
}

static void test_caps_wrong_types(void **state)
{
    static const char *const bad[] = {
        /* numbers that are not non-negative integers */
        "{\"capabilities\":{\"max_msg_fds\":-1}}",
        "{\"capabilities\":{\"max_msg_fds\":1.5}}",
        "{\"capabilities\":{\"max_msg_fds\":1.0}}",
        "{\"capabilities\":{\"max_data_xfer_size\":1e6}}",
        "{\"capabilities\":{\"max_data_xfer_size\":\"1048576\"}}",
        "{\"capabilities\":{\"max_dma_maps\":true}}",
        "{\"capabilities\":{\"max_dma_maps\":null}}",
        "{\"capabilities\":{\"pgsizes\":[4096]}}",
        "{\"capabilities\":{\"pgsizes\":{}}}",
        /* booleans */
        "{\"capabilities\":{\"write_multiple\":1}}",
        "{\"capabilities\":{\"write_multiple\":\"true\"}}",
        "{\"capabilities\":{\"write_multiple\":null}}",
        /* twin_socket */
        "{\"capabilities\":{\"twin_socket\":true}}",
        "{\"capabilities\":{\"twin_socket\":[]}}",
        "{\"capabilities\":{\"twin_socket\":{\"supported\":1}}}",
        "{\"capabilities\":{\"twin_socket\":{\"fd_index\":-1}}}",
        "{\"capabilities\":{\"twin_socket\":{\"fd_index\":\"0\"}}}",
        "{\"capabilities\":{\"twin_socket\":{\"fd_index\":0.5}}}",
        /* capabilities itself, top level */
        "{\"capabilities\":[]}",
        "{\"capabilities\":1}",
        "{\"capabilities\":null}",
        "[]",
        "1",
        "\"capabilities\"",
        "null",
        "true",
    };
    struct vuc_caps c, before;
    size_t i;

    (void)state;
    vuc_caps_defaults(&before);
    before.present = 0x3f;
    before.max_msg_fds = 42;
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        memcpy(&c, &before, sizeof(c)); /* padding included */
        if (parse_str(bad[i], &c) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        /* caps untouched on error */
        assert_memory_equal(&c, &before, sizeof(c));
    }
}

static void test_caps_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "{\"capabilities\":{}",
        "{\"capabilities\"}",
        "{\"capabilities\":{},}",
        "{capabilities:{}}",
        "{\"a\":01}",
        "{} x",                     /* trailing garbage */
        "{}}",                      /* trailing garbage */
        "{}{}",                     /* two objects */
        "{} {\"capabilities\":{}}", /* two objects */
        "{\"a\":\"\xff\"}",         /* not UTF-8 */
    };
    struct vuc_caps c;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        if (parse_str(bad[i], &c) != -EINVAL)
            fail_msg("accepted: '%s'", bad[i]);
    }
    assert_int_equal(vuc_caps_parse(NULL, 0, &c), -EINVAL);
    assert_int_equal(vuc_caps_parse("{}", 0, &c), -EINVAL);
}

/* RFC 8259 and RFC 3629 to the letter, at each edge of the grammar. */
static void test_caps_rfc8259(void **state)
{
    static const char *const good[] = {
        " \t\r\n{ \t\r\n} \t\r\n",
        "{\"x\":[0,-0,1,-1,0.5,-0.0e0,1E+2,1e-2,123456789012345678901234]}",
        "{\"x\":[true,false,null,\"\",[],{},[[]],{\"\":{}}]}",
        /* every escape; a surrogate pair, and one alone */
        "{\"x\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\\ud800\"}",
        /* UTF-8 of 2, 3 and 4 bytes, at the edges of each range */
        "{\"x\":\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
        "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}",
        "{\"\xc3\xa9\":1,\"\\u0041\":2}",
    };
    static const char *const bad[] = {
        /* json-c accepted each of these */
        "{'x':1}",
        "{\"x\":'a'}",
        "{\"x\":NaN}",
        "{\"x\":Infinity}",
        "{\"x\":-Infinity}",
        "{\"x\":-01}",
        "{\"x\":1.}",
        "{\"x\":1.e5}",
        "{\"x\":\"\t\"}", /* a raw control character */
        "{\"x\":\"\x01\"}",
        /* and the rest of the grammar */
        "{\"x\":+1}",
        "{\"x\":.5}",
        "{\"x\":-}",
        "{\"x\":1e}",
        "{\"x\":1e+}",
        "{\"x\":0x10}",
        "{\"x\":tru}",
        "{\"x\":True}",
        "{\"x\":nulll}",
        "{\"x\":\"\\x\"}",
        "{\"x\":\"\\U0041\"}",
        "{\"x\":\"\\u00G0\"}",
        "{\"x\":\"\\u00\"}",
        "{\"x\":\"abc}",
        "{\"x\":[1,]}",
        "{\"x\":[,1]}",
        "{\"x\":[1 2]}",
        "{\"x\"::1}",
        "{\"x\" 1}",
        "{,\"x\":1}",
        "{\"x\":1,,\"y\":2}",
        "{\"x\":/*c*/1}",
        "{\"x\":1}\f",
        "\v{}",
        /* UTF-8: overlong, surrogate, above U+10FFFF, cut short, stray */
        "{\"x\":\"\xc0\x80\"}",
        "{\"x\":\"\xc1\xbf\"}",
        "{\"x\":\"\xe0\x9f\xbf\"}",
        "{\"x\":\"\xed\xa0\x80\"}",
        "{\"x\":\"\xf0\x8f\xbf\xbf\"}",
        "{\"x\":\"\xf4\x90\x80\x80\"}",
        "{\"x\":\"\xf5\x80\x80\x80\"}",
        "{\"x\":\"\xe2\x82\"}",
        "{\"x\":\"\x80\"}",
        "{\"x\":\"\xc3\"}",
    };
    struct vuc_caps c;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(good); i++)
        if (parse_str(good[i], &c) != 0)
            fail_msg("rejected: '%s'", good[i]);
    for (i = 0; i < ARRAY_SIZE(bad); i++)
        if (parse_str(bad[i], &c) != -EINVAL)
            fail_msg("accepted: '%s'", bad[i]);
}

/* {"x":[[...inner...]]}: inner (if any) at nesting depth levels, the
 * top object being 1, inside levels - 2 arrays */
static int parse_nested(int levels, const char *inner)
{
    char buf[256];
    struct vuc_caps c;
    int n = snprintf(buf, sizeof(buf), "{\"x\":");

    for (int i = 2; i < levels; i++)
        buf[n++] = '[';
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", inner);
    for (int i = 2; i < levels; i++)
        buf[n++] = ']';
    snprintf(buf + n, sizeof(buf) - (size_t)n, "}");
    return parse_str(buf, &c);
}

/* Where JSON leaves the meaning open, the parser follows json-c. */
static void test_caps_json_c_choices(void **state)
{
    struct vuc_caps c;

    (void)state;
    /* nesting: a value 32 deep (the top object is 1), not 33 */
    assert_int_equal(parse_nested(32, "[]"), 0);
    assert_int_equal(parse_nested(32, "{}"), 0);
    assert_int_equal(parse_nested(32, "1"), 0);
    assert_int_equal(parse_nested(32, "[1]"), -EINVAL);
    assert_int_equal(parse_nested(32, "{\"a\":1}"), -EINVAL);
    assert_int_equal(parse_nested(33, ""), 0); /* the last array at 32 */
    assert_int_equal(parse_nested(34, ""), -EINVAL);

    /* the last of a name counts, wherever it is */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"max_msg_fds\":-1,\"max_msg_fds\":2}}",
                  &c),
        0);
    assert_int_equal(c.max_msg_fds, 2);
    assert_int_equal(
        parse_str("{\"capabilities\":{\"max_msg_fds\":2,\"max_msg_fds\":-1}}",
                  &c),
        -EINVAL);
    assert_int_equal(parse_str("{\"capabilities\":{\"pgsizes\":8192},"
                               "\"capabilities\":{\"max_dma_maps\":3}}",
                               &c),
                     0);
    assert_int_equal(c.present, VUC_CAP_MAX_DMA_MAPS);
    assert_int_equal(c.pgsizes, 4096);
    assert_int_equal(c.max_dma_maps, 3);
    assert_int_equal(parse_str("{\"capabilities\":1,\"capabilities\":{}}", &c),
                     0);
    assert_int_equal(parse_str("{\"capabilities\":{},\"capabilities\":1}", &c),
                     -EINVAL);
    assert_int_equal(parse_str("{\"capabilities\":{\"twin_socket\":{\"fd_"
                               "index\":5,\"y\":1},\"twin_socket\":{\"supported"
                               "\":true}}}",
                               &c),
                     0);
    assert_true(c.twin_supported);
    assert_false(c.twin_has_fd_index);
    assert_int_equal(c.unknown, 0);
    assert_int_equal(parse_str("{\"capabilities\":{\"twin_socket\":{\"fd_"
                               "index\":-1},\"twin_socket\":{}}}",
                               &c),
                     0);

    /* -0 is the integer 0; -0.0 is not an integer */
    assert_int_equal(parse_str("{\"capabilities\":{\"max_msg_fds\":-0}}", &c),
                     0);
    assert_int_equal(c.max_msg_fds, 0);
    assert_int_equal(parse_str("{\"capabilities\":{\"max_msg_fds\":-0.0}}", &c),
                     -EINVAL);

    /* a name is compared unescaped */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"max\\u005Fmsg_fds\":9}}", &c), 0);
    assert_int_equal(c.max_msg_fds, 9);
    assert_int_equal(c.unknown, 0);
}

/* Where json-c erred, the parser does not. */
static void test_caps_json_c_errors(void **state)
{
    struct vuc_caps c;

    (void)state;
    /* above UINT64_MAX is not clamped to it */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"pgsizes\":18446744073709551616}}", &c),
        -EINVAL);
    assert_int_equal(
        parse_str("{\"capabilities\":{\"pgsizes\":99999999999999999999}}", &c),
        -EINVAL);
    assert_int_equal(
        parse_str("{\"capabilities\":{\"x\":18446744073709551616}}", &c), 0);
    /* a name with U+0000 is not the name before it */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"max_msg_fds\\u0000\":-1}}", &c), 0);
    assert_int_equal(c.present, 0);
    assert_int_equal(c.unknown, 1);
    /* a name longer than any known one, starting like one */
    assert_int_equal(
        parse_str("{\"capabilities\":{\"max_data_xfer_sizes\":-1}}", &c), 0);
    assert_int_equal(c.unknown, 1);
}

static void test_caps_explicit_length(void **state)
{
    /* not NUL-terminated: only json_len bytes count */
    static const char buf[] = "{\"capabilities\":{\"max_msg_fds\":3}}GARBAGE";
    const size_t n = strlen("{\"capabilities\":{\"max_msg_fds\":3}}");
    struct vuc_caps c;

    (void)state;
    assert_int_equal(vuc_caps_parse(buf, n, &c), 0);
    assert_int_equal(c.max_msg_fds, 3);
    assert_int_equal(vuc_caps_parse(buf, n + 1, &c), -EINVAL);
    assert_int_equal(vuc_caps_parse(buf, n - 1, &c), -EINVAL);
    /* an embedded NUL, before or after the object */
    assert_int_equal(vuc_caps_parse("{}\0", 3, &c), -EINVAL);
    assert_int_equal(vuc_caps_parse("{\"a\0\":1}", 8, &c), -EINVAL);
    assert_int_equal(vuc_caps_parse("\0{}", 3, &c), -EINVAL);
    /* an object cut short by the length is unfinished */
    assert_int_equal(
        vuc_caps_parse("{\"capabilities\":{\"max_msg_fds\":12}}", 32, &c),
        -EINVAL);
}

static void test_caps_write(void **state)
{
    struct vuc_caps c, d;
    char buf[512];
    int n;

    (void)state;
    vuc_caps_defaults(&c);
    n = vuc_caps_write(&c, buf, sizeof(buf));
    assert_string_equal(buf, "{\"capabilities\":{}}");
    assert_int_equal(n, (int)strlen(buf));

    c.present = VUC_CAP_MAX_MSG_FDS | VUC_CAP_MAX_DATA_XFER_SIZE |
                VUC_CAP_MAX_DMA_MAPS | VUC_CAP_PGSIZES | VUC_CAP_TWIN_SOCKET |
                VUC_CAP_WRITE_MULTIPLE;
    c.max_msg_fds = 16;
    c.max_dma_maps = 0;
    c.pgsizes = UINT64_MAX;
    c.twin_supported = true;
    c.twin_has_fd_index = true;
    c.twin_fd_index = 1;
    c.write_multiple = true;
    n = vuc_caps_write(&c, buf, sizeof(buf));
    assert_string_equal(buf, "{\"capabilities\":{\"max_msg_fds\":16,"
                             "\"max_data_xfer_size\":1048576,"
                             "\"max_dma_maps\":0,"
                             "\"pgsizes\":18446744073709551615,"
                             "\"twin_socket\":{\"supported\":true,"
                             "\"fd_index\":1},"
                             "\"write_multiple\":true}}");
    assert_int_equal(n, (int)strlen(buf));

    /* round trip */
    assert_int_equal(vuc_caps_parse(buf, (size_t)n, &d), 0);
    assert_int_equal(d.present, c.present);
    assert_int_equal(d.max_msg_fds, 16);
    assert_int_equal(d.max_data_xfer_size, 1048576);
    assert_int_equal(d.max_dma_maps, 0);
    assert_int_equal(d.pgsizes, UINT64_MAX);
    assert_true(d.twin_supported);
    assert_true(d.twin_has_fd_index);
    assert_int_equal(d.twin_fd_index, 1);
    assert_true(d.write_multiple);
    assert_int_equal(d.unknown, 0);

    /* -ENOSPC: the NUL must fit too */
    assert_int_equal(vuc_caps_write(&c, buf, (size_t)n), -ENOSPC);
    assert_int_equal(vuc_caps_write(&c, buf, 0), -ENOSPC);
    assert_int_equal(vuc_caps_write(&c, buf, (size_t)n + 1), n);
    assert_int_equal(buf[n], '\0');

    /* only present keys; twin without fd_index */
    c.present = VUC_CAP_TWIN_SOCKET | VUC_CAP_WRITE_MULTIPLE;
    c.twin_supported = false;
    c.twin_has_fd_index = false;
    c.write_multiple = false;
    n = vuc_caps_write(&c, buf, sizeof(buf));
    assert_string_equal(buf, "{\"capabilities\":{\"twin_socket\":"
                             "{\"supported\":false},"
                             "\"write_multiple\":false}}");
    assert_int_equal(vuc_caps_parse(buf, (size_t)n, &d), 0);
    assert_int_equal(d.present, c.present);
    assert_false(d.twin_supported);
    assert_false(d.twin_has_fd_index);
    assert_false(d.write_multiple);
}

/* The VERSION payload carries the caps JSON: encode, decode, parse. */
static void test_version_with_caps(void **state)
{
    struct vuc_caps c, d;
    struct vuc_version v = {.major = VUC_VERSION_MAJOR,
                            .minor = VUC_VERSION_MINOR};
    struct vuc_version out;
    char json[128];
    uint8_t buf[160];
    int n, m;

    (void)state;
    vuc_caps_defaults(&c);
    c.present = VUC_CAP_MAX_DATA_XFER_SIZE;
    c.max_data_xfer_size = 65536;
    n = vuc_caps_write(&c, json, sizeof(json));
    assert_true(n > 0);
    v.json = json;
    v.json_len = (size_t)n;
    m = vuc_version_encode(&v, buf, sizeof(buf));
    assert_int_equal(m, 4 + n + 1);
    assert_int_equal(vuc_version_decode(buf, (size_t)m, &out), m);
    assert_true(out.json_nul);
    assert_int_equal(out.json_len, (size_t)n);
    assert_int_equal(vuc_caps_parse(out.json, out.json_len, &d), 0);
    assert_int_equal(d.present, VUC_CAP_MAX_DATA_XFER_SIZE);
    assert_int_equal(d.max_data_xfer_size, 65536);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static void test_state_names(void **state)
{
    static const char *const names[8] = {
        "ERROR",    "STOP",        "RUNNING",  "STOP_COPY",
        "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
    };
    uint32_t i, s;

    (void)state;
    for (i = 0; i < VUC_STATE_NR; i++) {
        assert_string_equal(vuc_state_name(i), names[i]);
        s = 99;
        assert_int_equal(vuc_state_parse(vuc_state_name(i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(vuc_state_name(8), "INVALID");
    assert_string_equal(vuc_state_name(UINT32_MAX), "INVALID");

    assert_int_equal(vuc_state_parse("stop-copy", &s), 0);
    assert_int_equal(s, VUC_STATE_STOP_COPY);
    assert_int_equal(vuc_state_parse("Stop_Copy", &s), 0);
    assert_int_equal(s, VUC_STATE_STOP_COPY);
    assert_int_equal(vuc_state_parse("pre-copy-p2p", &s), 0);
    assert_int_equal(s, VUC_STATE_PRE_COPY_P2P);
    assert_int_equal(vuc_state_parse("running", &s), 0);
    assert_int_equal(s, VUC_STATE_RUNNING);
    assert_int_equal(vuc_state_parse("error", &s), 0);
    assert_int_equal(s, VUC_STATE_ERROR);

    s = 77;
    assert_int_equal(vuc_state_parse("INVALID", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("STO", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("STOP_", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("STOPCOPY", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("STOP COPY", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("RUNNING ", &s), -EINVAL);
    assert_int_equal(vuc_state_parse("2", &s), -EINVAL);
    assert_int_equal(vuc_state_parse(NULL, &s), -EINVAL);
    assert_int_equal(s, 77);
}

static void test_errno_names(void **state)
{
    static const struct {
        uint32_t num;
        const char *name;
    } known[] = {
        {EINVAL, "EINVAL"},
        {EEXIST, "EEXIST"},
        {ENOENT, "ENOENT"},
        {ENOTTY, "ENOTTY"},
        {E2BIG, "E2BIG"},
        {EOVERFLOW, "EOVERFLOW"},
        {EFAULT, "EFAULT"},
        {ENOMEM, "ENOMEM"},
        {ENOSPC, "ENOSPC"},
        {EBADMSG, "EBADMSG"},
        {EMSGSIZE, "EMSGSIZE"},
        {EPERM, "EPERM"},
        {EACCES, "EACCES"},
        {EBUSY, "EBUSY"},
        {ENOSYS, "ENOSYS"},
        {EPROTO, "EPROTO"},
        {ENXIO, "ENXIO"},
        {ERANGE, "ERANGE"},
        {ENOMSG, "ENOMSG"},
        {EAGAIN, "EAGAIN"},
        {EIO, "EIO"},
        {EOPNOTSUPP, "EOPNOTSUPP"},
        {ETIMEDOUT, "ETIMEDOUT"},
        {ECONNRESET, "ECONNRESET"},
        {EPIPE, "EPIPE"},
        {EBADF, "EBADF"},
    };
    char buf[16];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(known); i++)
        assert_string_equal(vuc_errno_name(known[i].num, buf, sizeof(buf)),
                            known[i].name);
    /* ENOTSUP is EOPNOTSUPP on Linux; either way it has a name */
    assert_true(vuc_errno_name(ENOTSUP, buf, sizeof(buf))[0] == 'E');
    assert_string_not_equal(vuc_errno_name(ENOTSUP, buf, sizeof(buf)), "E95");

    assert_string_equal(vuc_errno_name(0, buf, sizeof(buf)), "E0");
    assert_string_equal(vuc_errno_name(9999, buf, sizeof(buf)), "E9999");
    assert_string_equal(vuc_errno_name(UINT32_MAX, buf, sizeof(buf)),
                        "E4294967295");
    /* buffer too small for the number: no truncated digits */
    assert_string_equal(vuc_errno_name(9999, buf, 5), "E?");
    assert_string_equal(vuc_errno_name(9999, buf, 6), "E9999");
    assert_string_equal(vuc_errno_name(9999, NULL, 0), "E?");
    /* names do not need the buffer */
    assert_string_equal(vuc_errno_name(EINVAL, NULL, 0), "EINVAL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr_encode),
        cmocka_unit_test(test_hdr_decode),
        cmocka_unit_test(test_table_every_number),
        cmocka_unit_test(test_table_listing),
        cmocka_unit_test(test_msg_check),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_region_info),
        cmocka_unit_test(test_region_rw),
        cmocka_unit_test(test_dma_map),
        cmocka_unit_test(test_dma_unmap),
        cmocka_unit_test(test_dma_rw),
        cmocka_unit_test(test_feature),
        cmocka_unit_test(test_feat_migration),
        cmocka_unit_test(test_mig_state),
        cmocka_unit_test(test_log_control),
        cmocka_unit_test(test_log_report),
        cmocka_unit_test(test_log_bitmap_bytes),
        cmocka_unit_test(test_mig_data),
        cmocka_unit_test(test_caps_defaults),
        cmocka_unit_test(test_caps_all_keys),
        cmocka_unit_test(test_caps_unknown_keys),
        cmocka_unit_test(test_caps_wrong_types),
        cmocka_unit_test(test_caps_malformed),
        cmocka_unit_test(test_caps_explicit_length),
        cmocka_unit_test(test_caps_rfc8259),
        cmocka_unit_test(test_caps_json_c_choices),
        cmocka_unit_test(test_caps_json_c_errors),
        cmocka_unit_test(test_caps_write),
        cmocka_unit_test(test_version_with_caps),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_errno_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
