/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user wire constants and byte helpers.
 *
 * All numbers come from the vfio-user spec (QEMU's
 * docs/interop/vfio-user.rst) and, where the spec defers to it, the
 * kernel's include/uapi/linux/vfio.h (docs/decisions.md). Data on the wire
 * is in host byte order (spec: Protocol Specification); the get/put
 * helpers below are the one place that knows it.
 */
#ifndef VUCERT_WIRE_H
#define VUCERT_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * The texts vucert's cases were written from, and the revision of each
 * that was read (docs/decisions.md, Sources): results.json and junit.xml
 * name them, so a report says which spec it certifies against.
 */
#define VUC_SPEC_DOCUMENT      "QEMU docs/interop/vfio-user.rst"
#define VUC_SPEC_REVISION      "1053bb627cf5"
#define VUC_UAPI_DOCUMENT      "Linux include/uapi/linux/vfio.h"
#define VUC_UAPI_REVISION      "02256acf1e81"
#define VUC_VFIO_CORE_DOCUMENT "Linux drivers/vfio/vfio_main.c"
#define VUC_VFIO_CORE_REVISION "037dd1308c6d"

/* spec: Header */
#define VUC_HDR_SIZE 16u

#define VUC_FLAG_TYPE_MASK 0xfu
#define VUC_TYPE_COMMAND   0x0u
#define VUC_TYPE_REPLY     0x1u
#define VUC_FLAG_NO_REPLY  (1u << 4)
#define VUC_FLAG_ERROR     (1u << 5)
/* Bits 6-31 are not described by the spec. */
#define VUC_FLAGS_KNOWN 0x3fu

enum vuc_dir {
    VUC_DIR_C2S = 0,
    VUC_DIR_S2C = 1,
};

/* spec: Commands. Generated from msgs.def. */
enum vuc_cmd {
#define VUC_MSG(name, num, dir, req, rep) VUC_CMD_##name = (num),
#include "vucert/msgs.def"
#undef VUC_MSG
};

/* One past the highest command number the spec defines. */
#define VUC_CMD_MAX 19u

/* spec: VFIO_USER_VERSION; lvu-py uses 0.1 */
#define VUC_VERSION_MAJOR 0u
#define VUC_VERSION_MINOR 1u

/* spec: VFIO_USER_VERSION, Capabilities defaults */
#define VUC_DEFAULT_MAX_MSG_FDS        1u
#define VUC_DEFAULT_MAX_DATA_XFER_SIZE 1048576u
#define VUC_DEFAULT_MAX_DMA_MAPS       65535u
#define VUC_DEFAULT_PGSIZES            4096u

/* spec: VFIO_USER_DMA_MAP flags */
#define VUC_DMA_FLAG_READ   (1u << 0)
#define VUC_DMA_FLAG_WRITE  (1u << 1)
#define VUC_DMA_FLAGS_KNOWN 0x3u

/* spec: VFIO_USER_DEVICE_GET_INFO flags */
#define VUC_DEVICE_FLAGS_RESET (1u << 0)
#define VUC_DEVICE_FLAGS_PCI   (1u << 1)

/* spec: VFIO_USER_DEVICE_GET_REGION_INFO flags */
#define VUC_REGION_FLAG_READ  (1u << 0)
#define VUC_REGION_FLAG_WRITE (1u << 1)
#define VUC_REGION_FLAG_MMAP  (1u << 2)
#define VUC_REGION_FLAG_CAPS  (1u << 3)

/* <linux/vfio.h> VFIO_PCI_*_REGION_INDEX */
#define VUC_PCI_BAR0_REGION_INDEX   0u
#define VUC_PCI_ROM_REGION_INDEX    6u
#define VUC_PCI_CONFIG_REGION_INDEX 7u
#define VUC_PCI_VGA_REGION_INDEX    8u
#define VUC_PCI_NUM_REGIONS         9u

/* spec: VFIO_USER_DEVICE_FEATURE flags */
#define VUC_FEATURE_MASK  0xffffu
#define VUC_FEATURE_GET   (1u << 16)
#define VUC_FEATURE_SET   (1u << 17)
#define VUC_FEATURE_PROBE (1u << 18)
#define VUC_FEATURE_FLAGS_KNOWN                                                \
    (VUC_FEATURE_MASK | VUC_FEATURE_GET | VUC_FEATURE_SET | VUC_FEATURE_PROBE)

/* argsz + flags; feature argsz counts this prefix (kernel rule;
 * docs/decisions.md, DEVICE_FEATURE) */
#define VUC_FEATURE_HDR_SIZE 8u

/* spec: Device Features */
#define VUC_FEATURE_MIGRATION          1u
#define VUC_FEATURE_MIG_DEVICE_STATE   2u
#define VUC_FEATURE_DMA_LOGGING_START  6u
#define VUC_FEATURE_DMA_LOGGING_STOP   7u
#define VUC_FEATURE_DMA_LOGGING_REPORT 8u

/* spec: VFIO_DEVICE_FEATURE_MIGRATION flags */
#define VUC_MIGRATION_STOP_COPY (1ull << 0)
#define VUC_MIGRATION_P2P       (1ull << 1)
#define VUC_MIGRATION_PRE_COPY  (1ull << 2)
#define VUC_MIGRATION_KNOWN     0x7ull

/*
 * spec: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, enum vfio_device_mig_state.
 * The tag is vuc_state, not vuc_mig_state: C has one namespace for
 * struct and enum tags, and struct vuc_mig_state (codec.h) is the
 * feature-2 payload.
 */
enum vuc_state {
    VUC_STATE_ERROR = 0,
    VUC_STATE_STOP = 1,
    VUC_STATE_RUNNING = 2,
    VUC_STATE_STOP_COPY = 3,
    VUC_STATE_RESUMING = 4,
    VUC_STATE_RUNNING_P2P = 5,
    VUC_STATE_PRE_COPY = 6,
    VUC_STATE_PRE_COPY_P2P = 7,
};
#define VUC_STATE_NR 8u

/* Fixed payload sizes of the feature data (after argsz+flags). */
#define VUC_MIGRATION_DATA_SIZE 8u  /* u64 flags */
#define VUC_MIG_STATE_DATA_SIZE 8u  /* u32 device_state, u32 data_fd */
#define VUC_LOG_CONTROL_SIZE    16u /* page_size, num_ranges, reserved */
#define VUC_LOG_RANGE_SIZE      16u /* iova, length */
#define VUC_LOG_REPORT_SIZE     24u /* iova, length, page_size */

/* spec: VFIO_USER_MIG_DATA_READ / WRITE: argsz, size */
#define VUC_MIG_DATA_HDR_SIZE 8u

static inline uint16_t vuc_get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t vuc_get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t vuc_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void vuc_put_u16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof(v));
}

static inline void vuc_put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static inline void vuc_put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

#endif /* VUCERT_WIRE_H */
