/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to cases/: the expectation tables (written from the spec, not
 * from fsm/) and helpers shared by the case files.
 */
#ifndef VUCERT_CASES_PRIV_H
#define VUCERT_CASES_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vucert/harness.h"

/* What the spec expects of SET from -> to (cases/expect.c). */
enum vuc_expect {
    VUC_EXP_SKIP = 0,     /* from is not advertised: the row does not apply */
    VUC_EXP_ACCEPT,       /* must succeed, GET then reads `to` */
    VUC_EXP_REJ_ERROR,    /* ERROR cannot be requested */
    VUC_EXP_REJ_FROM_ERR, /* from ERROR only DEVICE_RESET leads out */
    VUC_EXP_REJ_UNADV,    /* `to` is not advertised by the flag set */
    VUC_EXP_REJ_BLOCKED,  /* STOP_COPY -> PRE_COPY(_P2P) is not allowed */
};

/* Expectation for flag set `flags` (one of the four); VUC_EXP_SKIP for an
 * unknown set. */
enum vuc_expect vuc_expect_set(uint64_t flags, uint32_t from, uint32_t to);
const char *vuc_expect_reason(enum vuc_expect e);

/* State advertised by the flag set (spec: VFIO_DEVICE_FEATURE_MIGRATION,
 * "interpreted in the same way as VFIO"). */
bool vuc_expect_state_advertised(uint64_t flags, uint32_t state);

/* The direct arcs of the spec for the flag set. */
bool vuc_expect_direct_arc(uint64_t flags, uint32_t from, uint32_t to);
bool vuc_expect_saving(uint32_t state);

/*
 * Is `path` (n hops, path[n-1] == to) an acceptable combination path from
 * `from` under the spec's rules? Every hop a direct arc; no interior
 * state of the saving group unless the path has been in the group since
 * its start (the session continues); as short as the shortest such path.
 * On false, why[] says which rule broke.
 */
bool vuc_expect_path_ok(uint64_t flags, uint32_t from, const uint32_t *path,
                        size_t n, char *why, size_t whycap);
/* The same, graded: a path longer than the shortest breaks a "should be
 * selected" rule, a broken one a "cannot" (spec: Complex State
 * Transitions). */
enum vuc_path_verdict {
    VUC_PATH_OK = 0,
    VUC_PATH_LONGER, /* valid, but not the shortest */
    VUC_PATH_BAD,    /* not arcs, or a saving-group state inside */
};
int vuc_expect_path_check(uint64_t flags, uint32_t from, const uint32_t *path,
                          size_t n, char *why, size_t whycap);
/* Length of the shortest acceptable path, or -1 if none. */
int vuc_expect_shortest(uint64_t flags, uint32_t from, uint32_t to);
/* One shortest acceptable path (for reaching a state); returns n or -1. */
int vuc_expect_path(uint64_t flags, uint32_t from, uint32_t to, uint32_t *path,
                    size_t max);

/* ---- helpers shared by the case files (cases/common.c) ---- */

struct vuc_stream {
    uint8_t *data;
    size_t len;
};
void vuc_stream_free(struct vuc_stream *s);

/* The flag set the server advertised, or 0 (a verdict is recorded and the
 * caller returns) when unknown. */
uint64_t vuc_case_flags(struct vuc_ctx *ctx);

/* Reset the device and make sure it is RUNNING (falling back to SET
 * RUNNING, then to restarting a server vucert runs). false: a verdict was
 * recorded. */
bool vuc_case_fresh(struct vuc_ctx *ctx);
/* The pid of the process serving ctx's connection (SO_PEERCRED: the one
 * that called listen()), or 0. */
pid_t vuc_case_peer_pid(struct vuc_ctx *ctx);

/* GET the state; false after recording a verdict. */
bool vuc_case_get(struct vuc_ctx *ctx, uint32_t *state);

/* SET MIG_DEVICE_STATE `to`, after what the profile's preconditions say
 * the device needs first (its register writes, draining the stream).
 * vuc_client_set_state's returns, or -ECANCELED when a precondition step
 * failed (an ERROR is recorded; vuc_case_report_rc adds nothing). */
int vuc_case_set_state(struct vuc_ctx *ctx, uint32_t to, struct vuc_reply *r);

/* SET a state that must be accepted (setup steps); false after a FAIL
 * naming `why`. */
bool vuc_case_set_ok(struct vuc_ctx *ctx, uint32_t state, const char *why);
/* The same without the profile's preconditions: for a claim that a
 * precondition would hide (leaving STOP_COPY before the stream's end). */
bool vuc_case_set_ok_as_is(struct vuc_ctx *ctx, uint32_t state,
                           const char *why);

/*
 * The size of the reads and writes that move a stream: half the
 * negotiated max_data_xfer_size (1 at least), at most 1 MiB. Transfers of
 * exactly the limit are legal, but a server wrong at the limit itself is
 * judged by the cases about the limit alone.
 */
uint32_t vuc_case_chunk(struct vuc_ctx *ctx);

/* Read the whole save stream of the current saving state. */
int vuc_case_read_stream(struct vuc_ctx *ctx, struct vuc_stream *s, char *err,
                         size_t errcap);
/* Read the rest of the current session onto the end of s. */
int vuc_case_read_more(struct vuc_ctx *ctx, struct vuc_stream *s, char *err,
                       size_t errcap);
/* Perform the profile's state_mutation writes; false (verdict recorded
 * only on a failed write) when there are none or one failed. */
bool vuc_case_mutate(struct vuc_ctx *ctx);
/* Read the profile's state digest into buf (digest.size bytes): 0, or
 * -ENOENT when the profile names none, or a client error. */
int vuc_case_digest(struct vuc_ctx *ctx, uint8_t *buf, size_t cap);

/*
 * The device image: what the device shows through REGION_READ of every
 * readable region (BARs, config space), up to VUC_IMAGE_REGION_MAX bytes
 * of each, less the profile's image_exclude bytes (zeroed). Without a
 * state_digest in the profile it stands for the device state: read on a
 * stopped device it must come back whole from a migration.
 */
#define VUC_IMAGE_REGION_MAX (64u * 1024u)
struct vuc_image {
    uint8_t *data;
    size_t len;
    struct {
        uint32_t region;
        size_t at, len;
    } part[VUC_PCI_NUM_REGIONS];
    size_t nparts;
};
/* 0, or -errno after recording a verdict (BLOCKED by owner when a read is
 * refused). */
int vuc_case_image(struct vuc_ctx *ctx, struct vuc_image *img,
                   const char *owner);
/* Where a and b first differ ("region 0 offset 0x28: 0x05 vs 0x11"), or
 * false when they are equal. */
bool vuc_image_diff(const struct vuc_image *a, const struct vuc_image *b,
                    char *where, size_t cap);
void vuc_image_free(struct vuc_image *img);

/* Write a stream in chunks of vuc_case_chunk bytes. */
int vuc_case_write_stream(struct vuc_ctx *ctx, const struct vuc_stream *s,
                          char *err, size_t errcap);

/* Use the profile to bring a fresh device into ERROR. false: a verdict
 * (SKIP without a profile, ERROR if it did not work) was recorded. */
bool vuc_case_inject_error(struct vuc_ctx *ctx);

/* From a fresh device, walk direct arcs to `state` (RESUMING: after
 * saving a stream and writing it back, so that leaving RESUMING is a
 * valid request). false after recording a verdict. */
bool vuc_case_reach(struct vuc_ctx *ctx, uint32_t state);
/* Walk direct arcs from `from` (the state now) to `to`, each a setup
 * step owned by its matrix cell. false after recording a verdict. */
bool vuc_case_walk(struct vuc_ctx *ctx, uint32_t from, uint32_t to);

/* Read a profile register value. */
int vuc_case_reg_read(struct vuc_ctx *ctx, const struct vuc_reg_ref *reg,
                      void *buf, uint32_t size);

/* A call that got no usable reply: FAIL for what the server did (timeout,
 * closed connection, malformed reply), ERROR for vucert's own failures.
 * `what` names the request. */
void vuc_case_report_rc(struct vuc_ctx *ctx, int rc, const char *what);

/* Append a case to a table being built (out, n, max in scope). source_
 * is the keyword of the spec sentence the case checks ("must", "must
 * only include", "should", "cannot", "kernel uAPI", "silent"); the level,
 * and so the verdict of a violation, follows from it (docs/verdicts.md,
 * Grading follows the spec's words). */
#define VUC_CASE(id_, title_, spec_, source_, fn_, a_, b_, arg_)               \
    do {                                                                       \
        if (n < max) {                                                         \
            struct vuc_case *k = &out[n];                                      \
            memset(k, 0, sizeof(*k));                                          \
            snprintf(k->id, sizeof(k->id), "%s", id_);                         \
            snprintf(k->title, sizeof(k->title), "%s", title_);                \
            k->spec = spec_;                                                   \
            k->source = source_;                                               \
            k->level = vuc_source_level(source_);                              \
            k->run = fn_;                                                      \
            k->a = a_;                                                         \
            k->b = b_;                                                         \
            k->arg = arg_;                                                     \
        }                                                                      \
        n++;                                                                   \
    } while (0)

/* The verdict for a violation of the running case's own rule. */
#define VUC_VIOLATION(ctx) vuc_level_verdict((ctx)->c->level)

/* Case tables of each file, for the registry. */
size_t vuc_cases_fsm(struct vuc_case *out, size_t max);
size_t vuc_cases_negotiate(struct vuc_case *out, size_t max);
size_t vuc_cases_stream(struct vuc_case *out, size_t max);
size_t vuc_cases_dirty(struct vuc_case *out, size_t max);
size_t vuc_cases_robust(struct vuc_case *out, size_t max);
size_t vuc_cases_device(struct vuc_case *out, size_t max);
size_t vuc_cases_backend(struct vuc_case *out, size_t max);

#endif /* VUCERT_CASES_PRIV_H */
