/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pure wire codec: bytes <-> structs. No I/O, no globals, no allocation,
 * nothing that wire bytes reach asserts. (The VERSION capabilities are
 * JSON, parsed here without json-c: codec/caps.c.)
 *
 * Conventions for every message below:
 *
 *   int vuc_X_decode(const uint8_t *p, size_t len, struct vuc_X *out);
 *     p/len is the payload (after the 16-byte header). Checks, in order:
 *     the fixed part fits; the variable part matches its declared count
 *     exactly; sums such as iova + length do not overflow. Returns the
 *     number of bytes consumed (>= 0) on success, so a caller that cares
 *     about trailing bytes compares it with len. Variable parts are
 *     returned as pointers into p (no copy). Unknown flag bits are NOT an
 *     error here; the *_KNOWN masks in wire.h let the caller decide.
 *     Errors: -EBADMSG (too short, or declared count disagrees with the
 *     bytes present), -EOVERFLOW (an address range wraps).
 *
 *   int vuc_X_encode(const struct vuc_X *in, uint8_t *p, size_t cap);
 *     Writes the payload into p. Returns the number of bytes written, or
 *     -ENOSPC if cap is too small. Encoders write exactly what the struct
 *     says (including inconsistent counts), so tests can build bad input.
 */
#ifndef VUCERT_CODEC_H
#define VUCERT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vucert/wire.h"

/* ---- header and message table (spec: Header, Commands) ---- */

struct vuc_hdr {
    uint16_t id;
    uint16_t cmd;
    uint32_t size; /* whole message, header included */
    uint32_t flags;
    uint32_t error;
};

/*
 * Decode a header from buf. Errors: -EBADMSG if len < 16 or the declared
 * size is below 16.
 */
int vuc_hdr_decode(const uint8_t *buf, size_t len, struct vuc_hdr *out);
/* Always writes 16 bytes; returns 16, or -ENOSPC if cap < 16. */
int vuc_hdr_encode(const struct vuc_hdr *in, uint8_t *buf, size_t cap);

static inline uint32_t vuc_hdr_type(const struct vuc_hdr *h)
{
    return h->flags & VUC_FLAG_TYPE_MASK;
}

struct vuc_msg_desc {
    uint16_t cmd;
    const char *name; /* "VFIO_USER_DEVICE_FEATURE" */
    enum vuc_dir dir;
    uint32_t req_min;
    uint32_t reply_min;
};

/* The table entry for cmd, or NULL for a number the spec does not define. */
const struct vuc_msg_desc *vuc_msg_desc(uint16_t cmd);
/* Short name ("DEVICE_FEATURE"), or "UNKNOWN" */
const char *vuc_cmd_name(uint16_t cmd);
/* All descriptors, in command order; *n receives the count. */
const struct vuc_msg_desc *vuc_msg_table(size_t *n);

/*
 * Check a message's size against the table: payload_len must be at least
 * req_min (is_reply false) or reply_min (is_reply true, not an error
 * reply). An error reply (Error flag) must be header only.
 * Errors: -ENOSYS unknown command, -EBADMSG too short / error reply with
 * payload.
 */
int vuc_msg_check(const struct vuc_hdr *h, size_t payload_len, bool is_reply);

/* ---- VFIO_USER_VERSION ---- */

struct vuc_version {
    uint16_t major;
    uint16_t minor;
    const char *json; /* NULL when absent; points into the payload */
    size_t json_len;  /* bytes before the terminating NUL */
    bool json_nul;    /* the version data ended with a NUL, as required */
};
int vuc_version_decode(const uint8_t *p, size_t len, struct vuc_version *out);
/* Writes major, minor, then json_len bytes of json and a NUL if json. */
int vuc_version_encode(const struct vuc_version *in, uint8_t *p, size_t cap);

enum vuc_cap_bit {
    VUC_CAP_MAX_MSG_FDS = 1u << 0,
    VUC_CAP_MAX_DATA_XFER_SIZE = 1u << 1,
    VUC_CAP_MAX_DMA_MAPS = 1u << 2,
    VUC_CAP_PGSIZES = 1u << 3,
    VUC_CAP_TWIN_SOCKET = 1u << 4,
    VUC_CAP_WRITE_MULTIPLE = 1u << 5,
};

struct vuc_caps {
    unsigned present; /* vuc_cap_bit set for each key found / to write */
    uint64_t max_msg_fds;
    uint64_t max_data_xfer_size;
    uint64_t max_dma_maps;
    uint64_t pgsizes;
    bool twin_supported;
    bool twin_has_fd_index;
    uint64_t twin_fd_index;
    bool write_multiple;
    unsigned unknown; /* unknown keys in "capabilities" and twin_socket
                         (the last of each), counted as they occur */
};

/* Fill caps with the spec defaults and present = 0. */
void vuc_caps_defaults(struct vuc_caps *caps);
/*
 * Parse version JSON (json_len bytes, no NUL needed): RFC 8259 exactly,
 * in RFC 3629 UTF-8; codec/caps.c says where JSON leaves the meaning open
 * and what it does there. An absent "capabilities" object leaves the
 * defaults; on error caps is unchanged. Errors: -EINVAL malformed JSON,
 * nested deeper than 32, top level not an object, "capabilities" not an
 * object, or a known key of the wrong type or a negative, non-integer or
 * above-UINT64_MAX number.
 */
int vuc_caps_parse(const char *json, size_t json_len, struct vuc_caps *caps);
/*
 * Write {"capabilities":{...}} with the keys in caps->present. Returns the
 * length written excluding the NUL it also writes; -ENOSPC.
 */
int vuc_caps_write(const struct vuc_caps *caps, char *buf, size_t cap);

/* ---- DEVICE_GET_INFO (request and reply share the layout) ---- */

struct vuc_device_info {
    uint32_t argsz;
    uint32_t flags;
    uint32_t num_regions;
    uint32_t num_irqs;
};
int vuc_device_info_decode(const uint8_t *p, size_t len,
                           struct vuc_device_info *out);
int vuc_device_info_encode(const struct vuc_device_info *in, uint8_t *p,
                           size_t cap);

/* ---- DEVICE_GET_REGION_INFO (request and reply) ---- */

struct vuc_region_info {
    uint32_t argsz;
    uint32_t flags;
    uint32_t index;
    uint32_t cap_offset;
    uint64_t size;
    uint64_t offset;
    const uint8_t *caps; /* bytes after the 32-byte struct (reply) */
    size_t caps_len;
};
int vuc_region_info_decode(const uint8_t *p, size_t len,
                           struct vuc_region_info *out);
int vuc_region_info_encode(const struct vuc_region_info *in, uint8_t *p,
                           size_t cap);

/* ---- REGION_READ / REGION_WRITE (spec: Read and Write Operations) ---- */

struct vuc_region_rw {
    uint64_t offset;
    uint32_t region;
    uint32_t count;
    const uint8_t *data; /* NULL / 0 for a READ request or WRITE reply */
    size_t data_len;
};
/*
 * with_data: the message carries count bytes of data (WRITE request, READ
 * reply); they must be exactly count bytes. Without data, any bytes after
 * the 16-byte fixed part are trailing (reported via the return value).
 */
int vuc_region_rw_decode(const uint8_t *p, size_t len, bool with_data,
                         struct vuc_region_rw *out);
int vuc_region_rw_encode(const struct vuc_region_rw *in, uint8_t *p,
                         size_t cap);

/* ---- DMA_MAP / DMA_UNMAP ---- */

struct vuc_dma_map {
    uint32_t argsz;
    uint32_t flags;
    uint64_t offset;
    uint64_t addr;
    uint64_t size;
};
/* Also -EOVERFLOW when addr + size wraps. */
int vuc_dma_map_decode(const uint8_t *p, size_t len, struct vuc_dma_map *out);
int vuc_dma_map_encode(const struct vuc_dma_map *in, uint8_t *p, size_t cap);

struct vuc_dma_unmap {
    uint32_t argsz;
    uint32_t flags;
    uint64_t addr;
    uint64_t size;
};
int vuc_dma_unmap_decode(const uint8_t *p, size_t len,
                         struct vuc_dma_unmap *out);
int vuc_dma_unmap_encode(const struct vuc_dma_unmap *in, uint8_t *p,
                         size_t cap);

/* ---- DMA_READ / DMA_WRITE (server -> client) ---- */

struct vuc_dma_rw {
    uint64_t addr;
    uint64_t count;
    const uint8_t *data;
    size_t data_len;
};
int vuc_dma_rw_decode(const uint8_t *p, size_t len, bool with_data,
                      struct vuc_dma_rw *out);
int vuc_dma_rw_encode(const struct vuc_dma_rw *in, uint8_t *p, size_t cap);

/* ---- DEVICE_FEATURE ---- */

struct vuc_feature {
    uint32_t argsz;
    uint32_t flags;
    const uint8_t *data; /* feature-specific, after argsz+flags */
    size_t data_len;
};
int vuc_feature_decode(const uint8_t *p, size_t len, struct vuc_feature *out);
int vuc_feature_encode(const struct vuc_feature *in, uint8_t *p, size_t cap);

static inline uint32_t vuc_feature_index(uint32_t flags)
{
    return flags & VUC_FEATURE_MASK;
}

/* Feature 1 data: u64 flags. */
int vuc_feat_migration_decode(const uint8_t *p, size_t len, uint64_t *flags);
int vuc_feat_migration_encode(uint64_t flags, uint8_t *p, size_t cap);

/* Feature 2 data. */
struct vuc_mig_state {
    uint32_t device_state;
    uint32_t data_fd; /* unused in vfio-user; kept as sent */
};
int vuc_mig_state_decode(const uint8_t *p, size_t len,
                         struct vuc_mig_state *out);
int vuc_mig_state_encode(const struct vuc_mig_state *in, uint8_t *p,
                         size_t cap);

/* Features 6 (START) and 7 (STOP) data: control + inline ranges. */
struct vuc_log_range {
    uint64_t iova;
    uint64_t length;
};
struct vuc_log_control {
    uint64_t page_size;
    uint32_t num_ranges;
    uint32_t reserved;
    const uint8_t *ranges; /* num_ranges * 16 bytes, inline (spec) */
};
/* Decode checks len == 16 + num_ranges * 16 exactly (-EBADMSG). */
int vuc_log_control_decode(const uint8_t *p, size_t len,
                           struct vuc_log_control *out);
/* Encodes the 16-byte head then num_ranges ranges from `ranges`. */
int vuc_log_control_encode(const struct vuc_log_control *in,
                           const struct vuc_log_range *ranges, uint8_t *p,
                           size_t cap);
/* Range i of a decoded control (i < num_ranges); -EINVAL if out of range,
 * -EOVERFLOW if iova + length wraps. */
int vuc_log_range_get(const struct vuc_log_control *ctl, uint32_t i,
                      struct vuc_log_range *out);

/* Feature 8 data: request 24 bytes; reply adds the bitmap inline. */
struct vuc_log_report {
    uint64_t iova;
    uint64_t length;
    uint64_t page_size;
    const uint8_t *bitmap; /* reply only */
    size_t bitmap_len;
};
/* Also -EOVERFLOW when iova + length wraps. */
int vuc_log_report_decode(const uint8_t *p, size_t len,
                          struct vuc_log_report *out);
int vuc_log_report_encode(const struct vuc_log_report *in, uint8_t *p,
                          size_t cap);
/* Bytes of bitmap for length/page_size pages rounded up to u64 words;
 * -EINVAL for page_size 0, -EOVERFLOW if it does not fit in size_t. */
int64_t vuc_log_bitmap_bytes(uint64_t length, uint64_t page_size);

/* ---- MIG_DATA_READ / MIG_DATA_WRITE ---- */

struct vuc_mig_data {
    uint32_t argsz;
    uint32_t size;
    const uint8_t *data; /* READ reply and WRITE request */
    size_t data_len;
};
/* with_data: exactly `size` data bytes must follow (-EBADMSG). */
int vuc_mig_data_decode(const uint8_t *p, size_t len, bool with_data,
                        struct vuc_mig_data *out);
int vuc_mig_data_encode(const struct vuc_mig_data *in, uint8_t *p, size_t cap);

/* ---- names ---- */

/* "RUNNING", "STOP_COPY", ... ; "INVALID" for >= 8 */
const char *vuc_state_name(uint32_t state);
/* Parse a state name (case-insensitive); -EINVAL if unknown. */
int vuc_state_parse(const char *name, uint32_t *state);
/* errno name such as "EINVAL", or "E<number>" written into buf */
const char *vuc_errno_name(uint32_t err, char *buf, size_t cap);

#endif /* VUCERT_CODEC_H */
