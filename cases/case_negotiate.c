// SPDX-License-Identifier: BSD-3-Clause
/*
 * negotiate.*: VFIO_USER_VERSION (spec: "VFIO_USER_VERSION", "Message
 * sizes", "Read and Write Operations").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_VERSION "VFIO_USER_VERSION"

/* Negotiate on a fresh connection; false (verdict recorded) unless a
 * success reply arrived. */
static bool negotiate(struct vuc_ctx *ctx, uint16_t major, uint16_t minor,
                      const char *json)
{
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (vuc_ctx_connect_raw(ctx) == NULL)
        return false;
    rc = vuc_client_negotiate(ctx->cl, major, minor, json, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "VERSION");
        return false;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_FAIL, "VERSION %u.%u was rejected (errno %s)",
                    major, minor, vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    return true;
}

/* negotiate.version.major: the reply's major equals the proposal. */
static void version_major(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_negotiated *n;

    (void)c;
    if (!negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL))
        return;
    n = vuc_client_negotiated(ctx->cl);
    if (n->major != VUC_VERSION_MAJOR)
        vuc_verdict(ctx, VUC_FAIL,
                    "proposed major %u, the reply says %u (\"The major "
                    "version in the reply must be the same as proposed\")",
                    VUC_VERSION_MAJOR, n->major);
}

/* negotiate.version.minor: the reply's minor is not above the proposal,
 * for the current minor and for 0. */
static void version_minor(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint16_t minors[] = {VUC_VERSION_MINOR, 0};

    (void)c;
    for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
        const struct vuc_negotiated *n;
        if (!negotiate(ctx, VUC_VERSION_MAJOR, minors[i], NULL))
            return;
        n = vuc_client_negotiated(ctx->cl);
        if (n->minor > minors[i])
            vuc_verdict(ctx, VUC_FAIL,
                        "proposed minor %u, the reply says %u (\"The minor "
                        "version in the reply must be equal to or less than "
                        "the minor version proposed\")",
                        minors[i], n->minor);
    }
}

static const char *cap_names[] = {"max_msg_fds",  "max_data_xfer_size",
                                  "max_dma_maps", "pgsizes",
                                  "twin_socket",  "write_multiple"};

/* negotiate.caps.subset: the reply names no capability not proposed. */
static void caps_subset(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const struct {
        const char *json;
        unsigned proposed;
    } props[] = {
        {"{\"capabilities\":{\"max_msg_fds\":1}}", VUC_CAP_MAX_MSG_FDS},
        {"{\"capabilities\":{}}", 0},
        {"{}", 0},
    };

    (void)c;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        const struct vuc_negotiated *n;
        unsigned extra;
        if (!negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                       props[i].json))
            return;
        n = vuc_client_negotiated(ctx->cl);
        extra = n->caps.present & ~props[i].proposed;
        for (unsigned b = 0; b < 6; b++) {
            if (extra & (1u << b))
                vuc_verdict(ctx, VUC_FAIL,
                            "proposed %s, the reply adds \"%s\" (\"The "
                            "capability list must be a subset of those "
                            "proposed\")",
                            props[i].json, cap_names[b]);
        }
        if (n->caps.unknown > 0)
            vuc_verdict(ctx, VUC_FAIL,
                        "proposed %s, the reply adds %u capabilities vucert "
                        "did not propose: %s",
                        props[i].json, n->caps.unknown, n->json ? n->json : "");
    }
}

/* negotiate.json.absent: version data is optional. */
static void json_absent(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    (void)c;
    negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, "");
}

/* negotiate.json.malformed: garbage version data. */
static void json_malformed(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int rc;

    (void)c;
    if (vuc_ctx_connect_raw(ctx) == NULL)
        return;
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              "{\"capabilities\": {\"max_msg_fds\": ", &r);
    if (rc == -ECONNRESET || rc == -EPIPE)
        return; /* closing the connection is an answer */
    if (rc == -EPROTO) {
        /* a reply arrived but it is malformed */
        vuc_verdict(ctx, VUC_FAIL, "%s", vuc_client_last_error(ctx->cl));
        vuc_reply_release(&r);
        return;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "VERSION with malformed JSON");
        return;
    }
    if (!r.is_error)
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "VERSION with malformed JSON was accepted; the spec "
                    "defines version data as JSON, so the server could not "
                    "have understood the proposal");
    vuc_reply_release(&r);
}

/* negotiate.limits.max-data-xfer-size: a transfer of exactly the
 * server's max_data_xfer_size is accepted. */
static void limit_xfer(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_negotiated *n;
    struct vuc_region_info ri;
    uint64_t limit;
    uint8_t *buf;
    uint32_t err = 0;
    char eb[16];
    int rc;

    (void)c;
    if (!negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                   "{\"capabilities\":{\"max_data_xfer_size\":4096}}"))
        return;
    n = vuc_client_negotiated(ctx->cl);
    limit = n->limits.max_data_xfer_size;
    if (limit == 0 || limit > (64u << 20)) {
        vuc_verdict(ctx, VUC_SKIP, "max_data_xfer_size %llu is not testable",
                    (unsigned long long)limit);
        return;
    }
    for (uint32_t idx = 0; idx < VUC_PCI_NUM_REGIONS; idx++) {
        if (vuc_client_region_info(ctx->cl, idx, &ri, NULL) < 0)
            continue;
        if ((ri.flags & (VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE)) !=
                (VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE) ||
            ri.size < limit)
            continue;
        buf = malloc(limit);
        if (buf == NULL) {
            vuc_verdict(ctx, VUC_ERROR, "out of memory");
            return;
        }
        rc =
            vuc_client_region_read(ctx->cl, idx, 0, buf, (uint32_t)limit, &err);
        if (rc == 0)
            rc = vuc_client_region_write(ctx->cl, idx, 0, buf, (uint32_t)limit,
                                         &err);
        free(buf);
        if (rc == -EREMOTEIO)
            vuc_verdict(ctx, VUC_FAIL,
                        "a %llu-byte access to region %u (exactly the "
                        "negotiated max_data_xfer_size) was rejected with "
                        "errno %s",
                        (unsigned long long)limit, idx,
                        vuc_errno_name(err, eb, sizeof(eb)));
        else if (rc < 0)
            vuc_case_report_rc(ctx, rc,
                               "REGION_READ/WRITE at max_data_xfer_size");
        return;
    }
    vuc_verdict(ctx, VUC_SKIP,
                "no readable and writable region holds max_data_xfer_size "
                "(%llu) bytes",
                (unsigned long long)limit);
}

size_t vuc_cases_negotiate(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    VUC_CASE("negotiate.version.major", "the reply's major equals the proposal",
             SPEC_VERSION, "must", version_major, 0, 0, NULL);
    VUC_CASE("negotiate.version.minor", "the reply's minor is not above it",
             SPEC_VERSION, "must", version_minor, 0, 0, NULL);
    VUC_CASE("negotiate.caps.subset",
             "the reply's capabilities are a subset of the proposal",
             SPEC_VERSION, "must", caps_subset, 0, 0, NULL);
    VUC_CASE("negotiate.json.absent",
             "VERSION without version data is accepted", SPEC_VERSION, "must",
             json_absent, 0, 0, NULL);
    VUC_CASE("negotiate.json.malformed",
             "malformed version JSON is rejected or the connection closed",
             SPEC_VERSION, "should", json_malformed, 0, 0, NULL);
    VUC_CASE("negotiate.limits.max-data-xfer-size",
             "a transfer of exactly max_data_xfer_size is accepted",
             SPEC_VERSION, "must", limit_xfer, 0, 0, NULL);
    return n;
}
