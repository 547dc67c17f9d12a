// SPDX-License-Identifier: BSD-3-Clause
/*
 * negotiate.*: VFIO_USER_VERSION (spec: "VFIO_USER_VERSION", "Message
 * sizes", "Read and Write Operations"). Each case judges one rule of the
 * negotiation; a proposal of vucert's defaults that the server refuses is
 * negotiate.version.major's to judge (as in every other case's setup), a
 * refused proposal of minor 0 negotiate.version.older-minor's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_VERSION      "VFIO_USER_VERSION"
#define OWNER_DEFAULTS    "negotiate.version.major"
#define OWNER_OLDER_MINOR "negotiate.version.older-minor"

enum neg {
    NEG_OK,      /* a success reply */
    NEG_REFUSED, /* an error reply, or the connection closed (`how`) */
    NEG_BAD,     /* a verdict was recorded */
};

/* Negotiate on a fresh connection. */
static enum neg negotiate(struct vuc_ctx *ctx, uint16_t major, uint16_t minor,
                          const char *json, char *how, size_t howcap)
{
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (vuc_ctx_connect_raw(ctx) == NULL)
        return NEG_BAD;
    rc = vuc_client_negotiate(ctx->cl, major, minor, json, &r);
    if (rc == -ECONNRESET || rc == -EPIPE) {
        snprintf(how, howcap, "the server closed the connection");
        return NEG_REFUSED;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "VERSION");
        vuc_reply_release(&r); /* a reply it could not decode */
        return NEG_BAD;
    }
    if (r.is_error) {
        snprintf(how, howcap, "an error reply, errno %s",
                 vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return NEG_REFUSED;
    }
    vuc_reply_release(&r);
    return NEG_OK;
}

/* negotiate.version.major: the reply's major equals the proposal. */
static void version_major(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_negotiated *n;
    char how[64];

    (void)c;
    switch (negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, NULL, how,
                      sizeof(how))) {
    case NEG_BAD:
        return;
    case NEG_REFUSED:
        /* the server negotiated this before the run */
        vuc_blocked(ctx, OWNER_DEFAULTS,
                    "vucert's VERSION %u.%u with its default capabilities "
                    "was refused (%s)",
                    VUC_VERSION_MAJOR, VUC_VERSION_MINOR, how);
        return;
    case NEG_OK:
        break;
    }
    n = vuc_client_negotiated(ctx->cl);
    if (n->major != VUC_VERSION_MAJOR)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "proposed major %u, the reply says %u (\"The major "
                    "version in the reply must be the same as proposed\")",
                    VUC_VERSION_MAJOR, n->major);
    else
        vuc_check(ctx);
}

/* negotiate.version.minor: the reply's minor is not above the proposal,
 * for the current minor and for 0. */
static void version_minor(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint16_t minors[] = {VUC_VERSION_MINOR, 0};
    char how[64];

    (void)c;
    for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
        const struct vuc_negotiated *n;
        switch (negotiate(ctx, VUC_VERSION_MAJOR, minors[i], NULL, how,
                          sizeof(how))) {
        case NEG_BAD:
            return;
        case NEG_REFUSED:
            vuc_blocked(ctx,
                        minors[i] == VUC_VERSION_MINOR ? OWNER_DEFAULTS
                                                       : OWNER_OLDER_MINOR,
                        "VERSION %u.%u was refused (%s)", VUC_VERSION_MAJOR,
                        minors[i], how);
            return;
        case NEG_OK:
            break;
        }
        n = vuc_client_negotiated(ctx->cl);
        if (n->minor > minors[i]) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "proposed minor %u, the reply says %u (\"The minor "
                        "version in the reply must be equal to or less than "
                        "the minor version proposed\")",
                        minors[i], n->minor);
            return;
        }
        vuc_check(ctx);
    }
}

/* negotiate.version.older-minor: a proposal of minor 0 is taken. */
static void older_minor(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    char how[64];

    (void)c;
    switch (negotiate(ctx, VUC_VERSION_MAJOR, 0, NULL, how, sizeof(how))) {
    case NEG_BAD:
        return;
    case NEG_REFUSED:
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "VERSION %u.0 was refused (%s), while %u.%u is taken "
                    "(\"Both the client and server must support all minor "
                    "versions less than the maximum minor version it "
                    "supports\")",
                    VUC_VERSION_MAJOR, how, VUC_VERSION_MAJOR,
                    VUC_VERSION_MINOR);
        return;
    case NEG_OK:
        vuc_check(ctx);
        return;
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
    unsigned judged = 0;
    char how[64];

    (void)c;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        const struct vuc_negotiated *n;
        unsigned extra;
        bool ok = true;
        switch (negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                          props[i].json, how, sizeof(how))) {
        case NEG_BAD:
            return;
        case NEG_REFUSED:
            /* "If the server requires a capability the client did not
             * include, it closes the connection": nothing to judge */
            vuc_note(ctx, "the server refused the proposal %s (%s)",
                     props[i].json, how);
            continue;
        case NEG_OK:
            break;
        }
        n = vuc_client_negotiated(ctx->cl);
        extra = n->caps.present & ~props[i].proposed;
        for (unsigned b = 0; b < 6; b++) {
            if (extra & (1u << b)) {
                vuc_verdict(ctx, VUC_VIOLATION(ctx),
                            "proposed %s, the reply adds \"%s\" (\"The "
                            "capability list must be a subset of those "
                            "proposed\")",
                            props[i].json, cap_names[b]);
                ok = false;
            }
        }
        if (n->caps.unknown > 0) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "proposed %s, the reply adds %u capabilities vucert "
                        "did not propose: %s",
                        props[i].json, n->caps.unknown, n->json ? n->json : "");
            ok = false;
        }
        if (!ok)
            return;
        vuc_check(ctx);
        judged++;
    }
    if (judged == 0)
        vuc_verdict(ctx, VUC_SKIP,
                    "the server refused every proposal with fewer "
                    "capabilities, so no reply's capabilities could be "
                    "compared with one");
}

/* negotiate.json.absent: version data is optional. */
static void json_absent(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    char how[64];

    (void)c;
    switch (negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, "", how,
                      sizeof(how))) {
    case NEG_BAD:
        return;
    case NEG_REFUSED:
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "VERSION %u.%u without version data was refused (%s); "
                    "the version data is \"Optional\", and the server "
                    "\"sends a VFIO_USER_VERSION reply\" to the proposal",
                    VUC_VERSION_MAJOR, VUC_VERSION_MINOR, how);
        return;
    case NEG_OK:
        vuc_check(ctx);
        return;
    }
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
    if (rc == -ECONNRESET || rc == -EPIPE) {
        vuc_check(ctx); /* closing the connection is an answer */
        return;
    }
    if (rc == -EPROTO && r.msg.hdr.cmd == VUC_CMD_VERSION && !r.is_error) {
        /* a success reply whose version data vucert cannot read: it
         * was accepted all the same */
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "VERSION with malformed JSON was accepted (and the "
                    "reply's version data is unreadable too: %s); the "
                    "server could not have understood the proposal "
                    "(Security Considerations: input \"should\" be "
                    "validated)",
                    vuc_client_last_error(ctx->cl));
        vuc_reply_release(&r);
        return;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "VERSION with malformed JSON");
        vuc_reply_release(&r);
        return;
    }
    if (!r.is_error)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "VERSION with malformed JSON was accepted; the spec "
                    "defines version data as JSON, so the server could not "
                    "have understood the proposal (Security Considerations: "
                    "input \"should\" be validated)");
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
}

/* negotiate.limits.not-above-proposal: what the reply announces as the
 * server's max_data_xfer_size, against vucert's default proposal and a
 * small one. */
static void not_above_proposal(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const char small[] =
        "{\"capabilities\":{\"max_data_xfer_size\":8192}}";
    const char *props[] = {vuc_client_default_caps_json(), small};
    unsigned judged = 0;
    char how[64];

    (void)c;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        const struct vuc_negotiated *n;
        struct vuc_caps mine;
        uint64_t p, got;
        vuc_caps_defaults(&mine);
        if (vuc_caps_parse(props[i], strlen(props[i]), &mine) < 0) {
            vuc_verdict(ctx, VUC_ERROR, "vucert cannot parse its proposal %s",
                        props[i]);
            return;
        }
        p = mine.max_data_xfer_size;
        switch (negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, props[i],
                          how, sizeof(how))) {
        case NEG_BAD:
            return;
        case NEG_REFUSED:
            if (i == 0) {
                vuc_blocked(ctx, OWNER_DEFAULTS,
                            "vucert's default proposal was refused (%s)", how);
                return;
            }
            vuc_note(ctx, "the server refused the proposal %s (%s)", props[i],
                     how);
            continue;
        case NEG_OK:
            break;
        }
        n = vuc_client_negotiated(ctx->cl);
        got = n->caps.max_data_xfer_size;
        if ((n->caps.present & VUC_CAP_MAX_DATA_XFER_SIZE) && got > p) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "proposed max_data_xfer_size %llu, the reply "
                        "announces %llu. Message sizes: \"the client and "
                        "server may each specify a max_data_xfer_size "
                        "value\", and a count \"must not exceed the value of "
                        "max_data_xfer_size of the peer\": a larger value "
                        "says the server takes more; vucert keeps to its "
                        "proposal",
                        (unsigned long long)p, (unsigned long long)got);
            return;
        }
        vuc_check(ctx);
        judged++;
    }
    if (judged == 0)
        vuc_verdict(ctx, VUC_SKIP, "no proposal was taken");
}

/* Negotiate `proposal` on a fresh connection. false after a verdict: SKIP
 * when the server refuses it (the spec names no value a server must
 * take). */
static bool take_proposal(struct vuc_ctx *ctx, const char *proposal)
{
    char how[64];

    switch (negotiate(ctx, VUC_VERSION_MAJOR, VUC_VERSION_MINOR, proposal, how,
                      sizeof(how))) {
    case NEG_OK:
        return true;
    case NEG_REFUSED:
        vuc_verdict(ctx, VUC_SKIP,
                    "the server refused the proposal %s (%s); the spec names "
                    "no value a server must take",
                    proposal, how);
        return false;
    case NEG_BAD:
    default:
        return false;
    }
}

/* The first region with all of `flags` that holds `size` bytes: its
 * index, -ENOENT when there is none (no verdict), or another -errno after
 * a verdict. */
static int find_region(struct vuc_ctx *ctx, uint32_t flags, uint64_t size)
{
    struct vuc_region_info ri;
    uint32_t err = 0;

    for (uint32_t idx = 0; idx < VUC_PCI_NUM_REGIONS; idx++) {
        int rc = vuc_client_region_info(ctx->cl, idx, &ri, &err);

        if (rc == -EREMOTEIO)
            continue;
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "DEVICE_GET_REGION_INFO");
            return rc;
        }
        if ((ri.flags & flags) == flags && ri.size >= size)
            return (int)idx;
    }
    return -ENOENT;
}

/*
 * negotiate.limits.max-data-xfer-size: a transfer of exactly the agreed
 * max_data_xfer_size is accepted. The agreed value is the client's
 * limit: the server's reply, capped at vucert's proposal (4096), so what
 * is read, written and allocated never follows a larger claim.
 */
static void limit_xfer(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const char proposal[] =
        "{\"capabilities\":{\"max_data_xfer_size\":4096}}";
    uint64_t limit;
    uint8_t *buf;
    uint32_t err = 0;
    char eb[16];
    int idx, rc;

    (void)c;
    if (!take_proposal(ctx, proposal))
        return;
    limit = vuc_client_negotiated(ctx->cl)->limits.max_data_xfer_size;
    if (limit == 0 || limit > 4096) {
        vuc_verdict(ctx, VUC_SKIP, "max_data_xfer_size %llu is not testable",
                    (unsigned long long)limit);
        return;
    }
    idx = find_region(ctx, VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE, limit);
    if (idx == -ENOENT)
        vuc_verdict(ctx, VUC_SKIP,
                    "no readable and writable region holds max_data_xfer_size "
                    "(%llu) bytes",
                    (unsigned long long)limit);
    if (idx < 0)
        return;
    buf = malloc(limit);
    if (buf == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    /* the write puts back what the read got */
    rc = vuc_client_region_read(ctx->cl, (uint32_t)idx, 0, buf, (uint32_t)limit,
                                &err);
    if (rc == 0)
        rc = vuc_client_region_write(ctx->cl, (uint32_t)idx, 0, buf,
                                     (uint32_t)limit, &err);
    free(buf);
    if (rc == -EREMOTEIO)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a %llu-byte access to region %d (exactly the agreed "
                    "max_data_xfer_size) was rejected with errno %s",
                    (unsigned long long)limit, idx,
                    vuc_errno_name(err, eb, sizeof(eb)));
    else if (rc < 0)
        vuc_case_report_rc(ctx, rc, "REGION_READ/WRITE at max_data_xfer_size");
    else
        vuc_check(ctx);
}

/*
 * negotiate.limits.reply-within: Read and Write Operations: "The count
 * field must not exceed the value of max_data_xfer_size of the peer, for
 * both reads and writes." With vucert's limit 1024, a REGION_READ of 2048
 * bytes would have the server send more data than its peer takes: it must
 * be refused, not served.
 */
static void limit_reply(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const char proposal[] =
        "{\"capabilities\":{\"max_data_xfer_size\":1024}}";
    uint8_t *buf;
    uint32_t err = 0;
    int idx, rc;

    (void)c;
    if (!take_proposal(ctx, proposal))
        return;
    idx = find_region(ctx, VUC_REGION_FLAG_READ, 2048);
    if (idx == -ENOENT)
        vuc_verdict(ctx, VUC_SKIP, "no readable region holds 2048 bytes");
    if (idx < 0)
        return;
    buf = malloc(2048);
    if (buf == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    rc = vuc_client_region_read(ctx->cl, (uint32_t)idx, 0, buf, 2048, &err);
    free(buf);
    if (rc == -EREMOTEIO)
        vuc_check(ctx);
    else if (rc == 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "a REGION_READ of 2048 bytes of region %d was served "
                    "though vucert's max_data_xfer_size is 1024 (\"The count "
                    "field must not exceed the value of max_data_xfer_size of "
                    "the peer\")",
                    idx);
    else
        vuc_case_report_rc(ctx, rc, "REGION_READ of 2048 bytes");
}

/*
 * negotiate.limits.large-proposal: proposals of max_data_xfer_size at and
 * above the server's own limit: 2^32 - 1 first, whose reply tells the
 * server's own limit A0 (the smaller of the two, for a server that takes
 * the smaller), then A0 + 1 and A0 exactly. After each, the value the
 * server announced (capped at the proposal: vucert keeps to what it
 * proposed) is one the server takes: a MIG_DATA_READ of exactly that many
 * bytes in STOP_COPY is served. Above LARGE_READ_MAX, a read of
 * LARGE_READ_MAX bytes, below what was announced, is asked instead. A
 * server that echoes a huge proposal it cannot take fails here; one that
 * announces its own smaller value passes whatever it is. A read of exactly
 * the limit refused while one byte less is served is the limit taken as
 * exclusive: stream.read.max-xfer-exact's to judge (BLOCKED).
 */
#define LARGE_READ_MAX (16u << 20)

/* MIG_DATA_READ of `size` in STOP_COPY on the current connection: true
 * when served, false after a verdict. */
static bool read_at_limit(struct vuc_ctx *ctx, uint64_t proposal,
                          uint64_t announced, uint32_t size)
{
    struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE + size,
                              .size = size};
    uint8_t p[VUC_MIG_DATA_HDR_SIZE];
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (!vuc_case_fresh(ctx) || !vuc_case_reach(ctx, VUC_STATE_STOP_COPY))
        return false;
    vuc_mig_data_encode(&md, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_MIG_DATA_READ, p, sizeof(p), NULL, 0,
                         &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DATA_READ at the announced limit");
        return false;
    }
    if (r.is_error && size == announced && size > 1) {
        /* a limit taken as exclusive is stream.read.max-xfer-exact's:
         * one byte less tells */
        uint32_t err = r.error;

        vuc_reply_release(&r);
        md.argsz = VUC_MIG_DATA_HDR_SIZE + size - 1;
        md.size = size - 1;
        vuc_mig_data_encode(&md, p, sizeof(p));
        if (!vuc_case_fresh(ctx) || !vuc_case_reach(ctx, VUC_STATE_STOP_COPY))
            return false;
        rc = vuc_client_call(ctx->cl, VUC_CMD_MIG_DATA_READ, p, sizeof(p), NULL,
                             0, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "MIG_DATA_READ below the limit");
            return false;
        }
        if (!r.is_error) {
            vuc_blocked(ctx, "stream.read.max-xfer-exact",
                        "a MIG_DATA_READ of exactly the announced %u bytes "
                        "was rejected with errno %s, one of %u bytes served",
                        size, vuc_errno_name(err, eb, sizeof(eb)), size - 1);
            vuc_reply_release(&r);
            return false;
        }
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "proposed max_data_xfer_size %llu, the reply announces "
                    "%llu, yet a MIG_DATA_READ of %u bytes in STOP_COPY was "
                    "rejected with errno %s (max_data_xfer_size is the "
                    "\"Maximum count for data transfer messages\" the "
                    "server itself announced)",
                    (unsigned long long)proposal, (unsigned long long)announced,
                    size, vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    vuc_check(ctx);
    return true;
}

static void large_proposal(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t props[3] = {0xffffffffull, 0, 0}, a0 = 0;
    size_t nprops = 1;

    (void)c;
    for (size_t i = 0; i < nprops; i++) {
        char json[96];
        uint64_t a;
        uint32_t size;

        snprintf(json, sizeof(json),
                 "{\"capabilities\":{\"max_data_xfer_size\":%llu}}",
                 (unsigned long long)props[i]);
        if (!take_proposal(ctx, json))
            return;
        if (vuc_case_flags(ctx) == 0)
            return;
        a = vuc_client_negotiated(ctx->cl)->limits.max_data_xfer_size;
        if ((vuc_client_negotiated(ctx->cl)->caps.present &
             VUC_CAP_MAX_DATA_XFER_SIZE) &&
            vuc_client_negotiated(ctx->cl)->caps.max_data_xfer_size >
                props[i]) {
            /* a claim above the proposal is not believed: vucert keeps to
             * its proposal (not-above-proposal records the claim), and
             * what the server takes says nothing of its claim then */
            vuc_note(ctx,
                     "proposed max_data_xfer_size %llu, the reply announces "
                     "%llu, above it (judged by "
                     "negotiate.limits.not-above-proposal); not read at",
                     (unsigned long long)props[i],
                     (unsigned long long)vuc_client_negotiated(ctx->cl)
                         ->caps.max_data_xfer_size);
            if (i == 0) {
                vuc_verdict(ctx, VUC_SKIP,
                            "the server announced more than the largest "
                            "proposal, so what it agreed to is not known");
                return;
            }
            continue;
        }
        if (a == 0) {
            vuc_verdict(ctx, VUC_SKIP,
                        "proposed max_data_xfer_size %llu, the reply "
                        "announces 0: nothing to read at that limit",
                        (unsigned long long)props[i]);
            return;
        }
        if (i == 0) {
            a0 = a;
            if (a0 < LARGE_READ_MAX) {
                props[nprops++] = a0 + 1;
                props[nprops++] = a0;
            }
        }
        size = (uint32_t)(a < LARGE_READ_MAX ? a : LARGE_READ_MAX);
        vuc_client_trace_note(
            ctx->cl, "# proposed %llu, announced %llu: a read of %u",
            (unsigned long long)props[i], (unsigned long long)a, size);
        if (!read_at_limit(ctx, props[i], a, size))
            return;
    }
}

/* negotiate.version.first: a command before VERSION is not served. */
static void version_first(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_device_info di = {.argsz = 16};
    struct vuc_reply r;
    uint8_t p[16];
    int rc;

    (void)c;
    if (vuc_ctx_connect_raw(ctx) == NULL)
        return;
    vuc_device_info_encode(&di, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL,
                         0, &r);
    if (rc == -ECONNRESET || rc == -EPIPE) {
        vuc_check(ctx); /* refused by closing the connection */
        return;
    }
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_GET_INFO before VERSION");
        return;
    }
    if (r.is_error)
        vuc_check(ctx);
    else
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "DEVICE_GET_INFO sent before any VERSION was served "
                    "(\"Upon establishing a connection, the client must "
                    "send a VFIO_USER_VERSION message\"; a server should "
                    "refuse what breaks it)");
    vuc_reply_release(&r);
}

size_t vuc_cases_negotiate(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    /* "The major version in the reply must be the same as proposed." */
    VUC_CASE("negotiate.version.major", "the reply's major equals the proposal",
             SPEC_VERSION, "must", version_major, 0, 0, NULL);
    /* "The minor version in the reply must be equal to or less than the
     * minor version proposed." */
    VUC_CASE("negotiate.version.minor", "the reply's minor is not above it",
             SPEC_VERSION, "must", version_minor, 0, 0, NULL);
    /* "Both the client and server must support all minor versions less
     * than the maximum minor version it supports." */
    VUC_CASE("negotiate.version.older-minor",
             "a proposal of minor 0 is accepted", SPEC_VERSION, "must",
             older_minor, 0, 0, NULL);
    /* "Upon establishing a connection, the client must send a
     * VFIO_USER_VERSION message": a client obligation, so refusing what
     * breaks it is Security Considerations' "should". */
    VUC_CASE("negotiate.version.first", "a command before VERSION is refused",
             "Security Considerations", "should", version_first, 0, 0, NULL);
    /* "The capability list must be a subset of those proposed." */
    VUC_CASE("negotiate.caps.subset",
             "the reply's capabilities are a subset of the proposal",
             SPEC_VERSION, "must", caps_subset, 0, 0, NULL);
    /* The version data is "Optional" (the client's choice), and to the
     * proposal the server "sends a VFIO_USER_VERSION reply according to
     * the following rules": nothing lets it require the data. */
    VUC_CASE("negotiate.json.absent",
             "VERSION without version data is accepted", SPEC_VERSION,
             "sends a reply", json_absent, 0, 0, NULL);
    /* The Version section says nothing of data that is not JSON; Security
     * Considerations: tools "should be used on both sides to validate
     * input". */
    VUC_CASE("negotiate.json.malformed",
             "malformed version JSON is rejected or the connection closed",
             "Security Considerations", "should", json_malformed, 0, 0, NULL);
    /* Each capability is what "the sender supports", and Message sizes:
     * "the client and server may each specify a max_data_xfer_size
     * value"; a count "must not exceed the value of max_data_xfer_size
     * of the peer". Nothing ties the server's value to the client's (the
     * subset rule is about the list of names): a larger one is the
     * server's choice, IMPL-DEFINED. */
    VUC_CASE("negotiate.limits.not-above-proposal",
             "the reply's max_data_xfer_size is not above the proposal",
             "Message sizes", "may each specify", not_above_proposal, 0, 0,
             NULL);
    /* max_data_xfer_size is the "Maximum count for data transfer
     * messages" (VFIO_USER_VERSION); Message sizes: it "defines the
     * maximum data that may be read or written". A maximum the server
     * itself announced leaves it no room to refuse exactly that much. */
    VUC_CASE("negotiate.limits.max-data-xfer-size",
             "a transfer of exactly the agreed max_data_xfer_size is "
             "accepted",
             SPEC_VERSION, "defines the maximum", limit_xfer, 0, 0, NULL);
    /* The same rule ("defines the maximum"), for proposals at and above
     * the server's own limit, up to 2^32 - 1. */
    VUC_CASE("negotiate.limits.large-proposal",
             "after a proposal at or above the server's limit (up to 2^32 - "
             "1), a read of the limit announced is served",
             SPEC_VERSION, "defines the maximum", large_proposal, 0, 0, NULL);
    VUC_CASE("negotiate.limits.reply-within",
             "no reply carries more data than the client's max_data_xfer_size",
             "Read and Write Operations", "must not exceed", limit_reply, 0, 0,
             NULL);
    return n;
}
