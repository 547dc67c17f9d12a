// SPDX-License-Identifier: BSD-3-Clause
/*
 * stream.*: migration data over VFIO_USER_MIG_DATA_READ and
 * VFIO_USER_MIG_DATA_WRITE (spec: those sections, "Read and Write
 * Operations", "Direct State Transitions" RESUMING -> STOP, "Command
 * Concurrency"), and a whole migration from a source to a destination.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_READ   "VFIO_USER_MIG_DATA_READ"
#define SPEC_WRITE  "VFIO_USER_MIG_DATA_WRITE"
#define SPEC_RESUME "Direct State Transitions (RESUMING -> STOP)"

static uint64_t max_xfer(struct vuc_ctx *ctx)
{
    return vuc_client_negotiated(ctx->cl)->limits.max_data_xfer_size;
}

/* A fresh connection and device in `state`; false after a verdict. */
static bool at(struct vuc_ctx *ctx, uint32_t state)
{
    if (vuc_case_flags(ctx) == 0)
        return false;
    return vuc_ctx_connect(ctx) != NULL && vuc_case_fresh(ctx) &&
           vuc_case_reach(ctx, state);
}

/* MIG_DATA_READ exactly as given, reply returned unjudged. */
static int raw_read(struct vuc_ctx *ctx, uint32_t argsz, uint32_t size,
                    struct vuc_reply *r)
{
    struct vuc_mig_data md = {.argsz = argsz, .size = size};
    uint8_t p[VUC_MIG_DATA_HDR_SIZE];

    vuc_mig_data_encode(&md, p, sizeof(p));
    return vuc_client_call(ctx->cl, VUC_CMD_MIG_DATA_READ, p, sizeof(p), NULL,
                           0, r);
}

static int raw_write(struct vuc_ctx *ctx, const uint8_t *data, uint32_t size,
                     struct vuc_reply *r)
{
    struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE,
                              .size = size,
                              .data = data,
                              .data_len = size};
    size_t cap = VUC_MIG_DATA_HDR_SIZE + (size_t)size;
    uint8_t *p = malloc(cap);
    int rc, n;

    if (p == NULL)
        return -ENOMEM;
    n = vuc_mig_data_encode(&md, p, cap);
    rc = n < 0 ? n
               : vuc_client_call(ctx->cl, VUC_CMD_MIG_DATA_WRITE, p, (size_t)n,
                                 NULL, 0, r);
    free(p);
    return rc;
}

#define OWN_READ    "stream.read.full-to-end"
#define OWN_SIZE    "stream.read.reply-size"
#define OWN_WRITE   "stream.resume.odd-segments"
#define OWN_PRECOPY "stream.precopy.then-stopcopy"

/* Is the running case `id`? */
static bool is_case(struct vuc_ctx *ctx, const char *id)
{
    return strcmp(ctx->c->id, id) == 0;
}

/*
 * Judge a successful READ reply to a request of `asked` bytes: the data
 * length equals size, size <= asked, argsz = 8 + size (spec: "argsz is
 * the size of the above structure, including the size of the data").
 * These are stream.read.reply-size's rules: elsewhere a padded reply or a
 * wrong argsz is noted and the data is taken by its size field, and a
 * reply that leaves no data to take is BLOCKED by that case.
 * Returns the size, or -1 after a verdict.
 */
static int64_t judge_read(struct vuc_ctx *ctx, uint32_t asked,
                          const struct vuc_reply *r)
{
    bool own = is_case(ctx, OWN_SIZE);
    struct vuc_mig_data md;
    size_t data;

    if (vuc_mig_data_decode(r->payload, r->payload_len, false, &md) < 0) {
        vuc_blocked(ctx, OWN_SIZE,
                    "the MIG_DATA_READ reply carries %zu payload bytes, "
                    "below the 8-byte argsz and size",
                    r->payload_len);
        return -1;
    }
    data = r->payload_len - VUC_MIG_DATA_HDR_SIZE;
    if (md.size > asked) {
        vuc_blocked(ctx, OWN_SIZE,
                    "a read of %u bytes returned %u bytes (size must not "
                    "exceed the request)",
                    asked, md.size);
        return -1;
    }
    if (data < md.size) {
        vuc_blocked(ctx, OWN_SIZE,
                    "the MIG_DATA_READ reply's size is %u but it carries "
                    "%zu data bytes",
                    md.size, data);
        return -1;
    }
    if (data > md.size) {
        if (own) {
            vuc_verdict(ctx, VUC_FAIL,
                        "the reply to a read of %u bytes carries %zu data "
                        "bytes but its size field says %u; the data is "
                        "size bytes (\"size indicates the size of returned "
                        "migration data\")",
                        asked, data, md.size);
            return -1;
        }
        vuc_note(ctx, "MIG_DATA_READ replies carry bytes after the data their "
                      "size field counts (judged by " OWN_SIZE ")");
    }
    if (md.argsz != VUC_MIG_DATA_HDR_SIZE + md.size) {
        if (own) {
            vuc_verdict(ctx, VUC_FAIL,
                        "reply argsz is %u for %u data bytes; \"argsz is "
                        "the size of the above structure, including the "
                        "size of the data\"",
                        md.argsz, md.size);
            return -1;
        }
        vuc_note(ctx, "MIG_DATA_READ replies have an argsz other than 8 + "
                      "size (judged by " OWN_SIZE ")");
    }
    if (own)
        vuc_check(ctx);
    return md.size;
}

/* One judged read; -1 after a verdict. An error reply is `owner`'s to
 * judge (NULL: this case's claim). */
static int64_t read_once_owned(struct vuc_ctx *ctx, uint32_t size,
                               const char *owner)
{
    struct vuc_reply r;
    int64_t got;
    char eb[16];
    const char *prev = vuc_setup_begin(ctx, owner);
    int rc = raw_read(ctx, VUC_MIG_DATA_HDR_SIZE + size, size, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DATA_READ");
        return -1;
    }
    if (r.is_error) {
        vuc_blocked(ctx, owner ? owner : ctx->c->id,
                    "MIG_DATA_READ of %u bytes in a saving state failed "
                    "with errno %s",
                    size, vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return -1;
    }
    vuc_setup_end(ctx, prev);
    got = judge_read(ctx, size, &r);
    vuc_reply_release(&r);
    return got;
}

/* A read on the way to what the case judges: stream.read.full-to-end
 * owns it. */
static int64_t read_once(struct vuc_ctx *ctx, uint32_t size)
{
    return read_once_owned(ctx, size, is_case(ctx, OWN_READ) ? NULL : OWN_READ);
}

/* Read to the end with judged reads of `size`; total in *total. */
static bool read_to_end(struct vuc_ctx *ctx, uint32_t size, uint64_t *total)
{
    *total = 0;
    for (;;) {
        int64_t got;
        if (*total >= ctx->opts->stream_limit) {
            vuc_blocked(ctx, OWN_READ,
                        "the stream did not end within %llu bytes "
                        "(--stream-limit): every read returned all it asked "
                        "for, so the client never sees the end (spec: \"If "
                        "this is less than the requested size, there is no "
                        "more migration data to read\")",
                        (unsigned long long)ctx->opts->stream_limit);
            return false;
        }
        got = read_once(ctx, size);
        if (got < 0)
            return false;
        *total += (uint64_t)got;
        if ((uint32_t)got < size)
            return true;
    }
}

/* stream.read.full-to-end */
static void full_to_end(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t total;

    (void)c;
    if (at(ctx, VUC_STATE_STOP_COPY) &&
        read_to_end(ctx, vuc_case_chunk(ctx), &total))
        vuc_check(ctx);
}

/* stream.read.eof-sticky */
static void eof_sticky(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t total;
    uint32_t size;

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    size = vuc_case_chunk(ctx);
    if (!read_to_end(ctx, size, &total))
        return;
    for (int i = 0; i < 3; i++) {
        int64_t got = read_once(ctx, size);
        if (got < 0)
            return;
        if (got != 0) {
            vuc_verdict(ctx, VUC_FAIL,
                        "after the end of the STOP_COPY stream (%llu bytes), "
                        "read %d returned %lld bytes; in STOP_COPY the end is "
                        "permanent (spec: VFIO_USER_MIG_DATA_READ)",
                        (unsigned long long)total, i + 1, (long long)got);
            return;
        }
    }
    vuc_check(ctx);
}

/* stream.read.reply-size: odd sizes, each reply judged */
static void reply_size(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint32_t sizes[] = {1, 7, 4093, 65539};
    uint64_t total;

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int64_t got;
        if (sizes[i] > max_xfer(ctx))
            break;
        got = read_once(ctx, sizes[i]);
        if (got < 0 || (uint32_t)got < sizes[i])
            return; /* a verdict, or the end already */
    }
    read_to_end(ctx, vuc_case_chunk(ctx), &total);
}

/* stream.read.max-xfer-exact */
static void max_exact(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t m;

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    m = max_xfer(ctx);
    if (m == 0 || m > (64u << 20)) {
        vuc_verdict(ctx, VUC_SKIP, "max_data_xfer_size %llu is not testable",
                    (unsigned long long)m);
        return;
    }
    if (read_once_owned(ctx, (uint32_t)m, NULL) >= 0)
        vuc_check(ctx);
}

/* stream.read.over-max */
static void over_max(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    uint64_t m;
    int rc;

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    m = max_xfer(ctx);
    if (m >= UINT32_MAX - VUC_MIG_DATA_HDR_SIZE || m > (64u << 20)) {
        vuc_verdict(ctx, VUC_SKIP, "max_data_xfer_size %llu is not testable",
                    (unsigned long long)m);
        return;
    }
    rc = raw_read(ctx, (uint32_t)(VUC_MIG_DATA_HDR_SIZE + m + 1),
                  (uint32_t)(m + 1), &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DATA_READ above max_data_xfer_size");
        return;
    }
    if (!r.is_error)
        vuc_verdict(ctx, VUC_FAIL,
                    "a read of %llu bytes, one above the negotiated "
                    "max_data_xfer_size, was served (%zu payload bytes); it "
                    "must be rejected (spec: Read and Write Operations)",
                    (unsigned long long)(m + 1), r.payload_len);
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
}

/* stream.read.outside-saving */
static void read_outside(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint32_t states[] = {VUC_STATE_RUNNING, VUC_STATE_STOP,
                                      VUC_STATE_RESUMING};

    (void)c;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct vuc_reply r;
        int rc;
        if (!at(ctx, states[i]))
            return;
        rc = raw_read(ctx, VUC_MIG_DATA_HDR_SIZE + 64, 64, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "MIG_DATA_READ");
            return;
        }
        if (!r.is_error)
            vuc_verdict(ctx, VUC_FAIL,
                        "MIG_DATA_READ in %s succeeded (%zu payload bytes); "
                        "it is only valid in a saving state (PRE_COPY or "
                        "STOP_COPY)",
                        vuc_state_name(states[i]), r.payload_len);
        else
            vuc_check(ctx);
        vuc_reply_release(&r);
    }
}

/* stream.write.outside-resuming */
static void write_outside(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint32_t states[] = {VUC_STATE_RUNNING, VUC_STATE_STOP,
                                      VUC_STATE_STOP_COPY};
    uint8_t junk[16] = {0x56, 0x55, 0x43, 0x45, 0x52, 0x54};

    (void)c;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct vuc_reply r;
        int rc;
        if (!at(ctx, states[i]))
            return;
        rc = raw_write(ctx, junk, sizeof(junk), &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "MIG_DATA_WRITE");
            return;
        }
        if (!r.is_error)
            vuc_verdict(ctx, VUC_FAIL,
                        "MIG_DATA_WRITE in %s succeeded; it is only valid in "
                        "RESUMING",
                        vuc_state_name(states[i]));
        else
            vuc_check(ctx);
        vuc_reply_release(&r);
    }
}

static bool save(struct vuc_ctx *ctx, struct vuc_stream *s, uint8_t *digest,
                 bool *have_digest);

/* A fresh device in RESUMING, with nothing written yet. */
static bool at_resuming(struct vuc_ctx *ctx)
{
    return vuc_case_fresh(ctx) && vuc_case_reach(ctx, VUC_STATE_STOP) &&
           vuc_case_walk(ctx, VUC_STATE_STOP, VUC_STATE_RESUMING);
}

/*
 * stream.write.max-xfer-exact: a MIG_DATA_WRITE carrying exactly the
 * negotiated max_data_xfer_size (vucert proposes the spec's default, 1
 * MiB, so with most servers the full limit: far more than a socket
 * buffer holds, so the server reads it in many pieces), sent in one
 * write, is accepted. The data is the first max_data_xfer_size bytes of
 * a stream the device saved, so it is a valid prefix and a refusal can
 * only be about its size. What happens to the rest of the stream is the
 * resume cases'.
 */
#define WRITE_EXACT_MAX (16u << 20)

static void write_max_exact(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_stream s = {0};
    struct vuc_reply r;
    uint64_t m;
    bool have;
    char eb[16];
    int rc;

    (void)c;
    if (!save(ctx, &s, NULL, &have))
        goto out;
    m = max_xfer(ctx);
    if (m == 0 || m > WRITE_EXACT_MAX) {
        vuc_verdict(ctx, VUC_SKIP,
                    "max_data_xfer_size %llu is not testable (vucert writes "
                    "at most %u bytes at once)",
                    (unsigned long long)m, WRITE_EXACT_MAX);
        goto out;
    }
    if (s.len < m) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device's stream (%zu bytes) is shorter than "
                    "max_data_xfer_size (%llu): no write of valid data has "
                    "that size",
                    s.len, (unsigned long long)m);
        goto out;
    }
    if (!at_resuming(ctx))
        goto out;
    vuc_client_trace_note(ctx->cl,
                          "# MIG_DATA_WRITE of exactly max_data_xfer_size "
                          "(%llu bytes), in one write",
                          (unsigned long long)m);
    rc = raw_write(ctx, s.data, (uint32_t)m, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DATA_WRITE of max_data_xfer_size");
        goto out;
    }
    if (r.is_error)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a MIG_DATA_WRITE of %llu bytes, exactly the agreed "
                    "max_data_xfer_size, of the device's own stream, was "
                    "rejected with errno %s (the limit is the \"Maximum "
                    "count for data transfer messages\")",
                    (unsigned long long)m,
                    vuc_errno_name(r.error, eb, sizeof(eb)));
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
out:
    vuc_stream_free(&s);
}

/* stream.write.reply-empty: MIG_DATA_WRITE Reply: "There is no reply
 * payload for this message." */
static void write_reply_empty(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_stream s = {0};
    struct vuc_reply r;
    uint32_t n;
    bool have;
    char eb[16];
    int rc;

    (void)c;
    if (!save(ctx, &s, NULL, &have) || !at_resuming(ctx))
        goto out;
    n = s.len < 64 ? (uint32_t)s.len : 64;
    rc = raw_write(ctx, s.data, n, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DATA_WRITE");
        goto out;
    }
    if (r.is_error)
        vuc_blocked(ctx, OWN_WRITE,
                    "MIG_DATA_WRITE of the stream's first %u bytes failed "
                    "with errno %s",
                    n, vuc_errno_name(r.error, eb, sizeof(eb)));
    else if (r.payload_len != 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "the MIG_DATA_WRITE reply carries %zu payload bytes "
                    "(\"There is no reply payload for this message\")",
                    r.payload_len);
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
out:
    vuc_stream_free(&s);
}

/* stream.write.size-zero: MIG_DATA_WRITE of 0 bytes, before the stream
 * and in its middle, adds nothing to it: "the migration data is treated
 * like a stream". Either reply will do; the stream must still resume. */
static void write_size_zero(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_stream s = {0};
    size_t half;
    bool have;
    char err[256];

    (void)c;
    if (!save(ctx, &s, NULL, &have) || !at_resuming(ctx))
        goto out;
    half = s.len / 2;
    for (int i = 0; i < 2; i++) {
        struct vuc_stream part = {s.data + (i ? half : 0),
                                  i ? s.len - half : half};
        struct vuc_reply r;
        const char *prev;
        int rc = raw_write(ctx, NULL, 0, &r);

        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "MIG_DATA_WRITE of 0 bytes");
            goto out;
        }
        vuc_client_trace_note(ctx->cl, "# the 0-byte write: %s",
                              r.is_error ? "an error reply" : "success");
        vuc_reply_release(&r);
        prev = vuc_setup_begin(ctx, OWN_WRITE);
        if (vuc_case_write_stream(ctx, &part, err, sizeof(err)) < 0) {
            if (!ctx->stopped)
                vuc_blocked(ctx, OWN_WRITE, "writing the stream: %s", err);
            goto out;
        }
        vuc_setup_end(ctx, prev);
    }
    if (vuc_case_set_ok(ctx, VUC_STATE_STOP,
                        "RESUMING -> STOP with the whole stream, written "
                        "around two MIG_DATA_WRITE of 0 bytes"))
        vuc_check(ctx);
out:
    vuc_stream_free(&s);
}

/* stream.read.size-zero */
static void size_zero(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int64_t got;
    int rc;

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    rc = raw_read(ctx, VUC_MIG_DATA_HDR_SIZE, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "MIG_DATA_READ of 0 bytes");
        return;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "a read of 0 bytes is answered with an error reply");
        vuc_reply_release(&r);
        return;
    }
    got = judge_read(ctx, 0, &r);
    vuc_reply_release(&r);
    if (got < 0)
        return;
    /* the stream goes on: a 0-byte read is not its end */
    got = read_once(ctx, 1);
    if (got == 0)
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "after a read of 0 bytes the stream reports its end at "
                    "once");
    else if (got > 0)
        vuc_check(ctx);
}

/* Save a whole stream from a fresh device (STOP -> STOP_COPY -> read all
 * -> STOP). With digest, read the profile's digest in STOP. */
static bool save(struct vuc_ctx *ctx, struct vuc_stream *s, uint8_t *digest,
                 bool *have_digest)
{
    char err[256];

    const char *prev;
    bool ok;

    if (!at(ctx, VUC_STATE_STOP_COPY))
        return false;
    prev = vuc_setup_begin(ctx, OWN_READ);
    ok = vuc_case_read_stream(ctx, s, err, sizeof(err)) == 0;
    if (!ok && !ctx->stopped)
        vuc_blocked(ctx, OWN_READ, "saving the stream: %s", err);
    if (ok)
        vuc_setup_end(ctx, prev);
    if (!ok || !vuc_case_walk(ctx, VUC_STATE_STOP_COPY, VUC_STATE_STOP))
        return false;
    *have_digest = false;
    if (digest != NULL && vuc_case_digest(ctx, digest, 64) == 0)
        *have_digest = true;
    return true;
}

/* From a fresh device, STOP -> RESUMING, then write `len` bytes of s in
 * segments from seg[] (cycled). */
static bool resume_write(struct vuc_ctx *ctx, const uint8_t *data, size_t len,
                         const uint32_t *seg, size_t nseg)
{
    size_t off = 0, k = 0;
    uint32_t m = vuc_case_chunk(ctx);
    const char *owner = is_case(ctx, OWN_WRITE) ? NULL : OWN_WRITE;
    const char *prev;

    if (!vuc_case_fresh(ctx) || !vuc_case_reach(ctx, VUC_STATE_STOP) ||
        !vuc_case_walk(ctx, VUC_STATE_STOP, VUC_STATE_RESUMING))
        return false;
    prev = vuc_setup_begin(ctx, owner);
    while (off < len) {
        uint32_t n = seg[k++ % nseg];
        uint32_t e = 0;
        char eb[16];
        int rc;
        if (n > m)
            n = m;
        if (n > len - off)
            n = (uint32_t)(len - off);
        rc = vuc_client_mig_write(ctx->cl, data + off, n, &e);
        if (rc == -EREMOTEIO) {
            vuc_blocked(ctx, owner ? owner : ctx->c->id,
                        "MIG_DATA_WRITE of %u bytes at offset %zu failed "
                        "with errno %s",
                        n, off, vuc_errno_name(e, eb, sizeof(eb)));
            return false;
        }
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "MIG_DATA_WRITE");
            return false;
        }
        off += n;
    }
    vuc_setup_end(ctx, prev);
    return true;
}

/* RESUMING -> STOP after a whole stream: stream.resume.odd-segments'
 * claim, a step of the others. */
static bool finish_resume(struct vuc_ctx *ctx, const char *what)
{
    const char *owner = is_case(ctx, OWN_WRITE) ? NULL : OWN_WRITE;
    const char *prev = vuc_setup_begin(ctx, owner);
    bool ok = vuc_case_set_ok(ctx, VUC_STATE_STOP, what);

    if (ok)
        vuc_setup_end(ctx, prev);
    return ok;
}

static const uint32_t whole_chunks[] = {1u << 20};

/* stream.resume.odd-segments */
static void odd_segments(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const uint32_t seg[] = {1, 3, 7, 4093, 65537, 1u << 20};
    struct vuc_stream s = {0};
    uint8_t d0[64], d1[64];
    bool have;

    (void)c;
    if (!save(ctx, &s, d0, &have))
        goto out;
    if (!resume_write(ctx, s.data, s.len, seg, sizeof(seg) / sizeof(seg[0])))
        goto out;
    if (!finish_resume(ctx, "RESUMING -> STOP after the whole stream, "
                            "written in segments of 1, 3, 7, 4093, 65537 and "
                            "1 MiB bytes"))
        goto out;
    if (have && vuc_case_digest(ctx, d1, sizeof(d1)) == 0 &&
        memcmp(d0, d1, ctx->profile->digest.size) != 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "the device state digest after resuming differs from the "
                    "one saved (a stream written in odd segments must resume "
                    "the same state)");
    else
        vuc_check(ctx);
out:
    vuc_stream_free(&s);
}

/* RESUMING -> STOP must fail; the state stays RESUMING or goes to ERROR */
static void expect_resume_fails(struct vuc_ctx *ctx, const char *what)
{
    struct vuc_reply r;
    uint32_t st;
    int rc = vuc_case_set_state(ctx, VUC_STATE_STOP, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "RESUMING -> STOP");
        return;
    }
    if (!r.is_error) {
        vuc_reply_release(&r);
        /* the spec asks for detection of incomplete data; of corrupt but
         * complete data it says only "if ... found" (the case's source) */
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "RESUMING -> STOP succeeded after %s; \"If the delivered "
                    "data is found to be incomplete, inconsistent, or "
                    "otherwise invalid, fail the SET command\"%s",
                    what,
                    ctx->c->level == VUC_MAY
                        ? " (the spec does not require a device to detect "
                          "corrupt data)"
                        : "");
        return;
    }
    vuc_reply_release(&r);
    if (!vuc_case_get(ctx, &st))
        return;
    if (st != VUC_STATE_RESUMING && st != VUC_STATE_ERROR)
        vuc_verdict(ctx, VUC_FAIL,
                    "after the failed RESUMING -> STOP, GET reads %s; the "
                    "state must stay RESUMING (or go to ERROR)",
                    vuc_state_name(st));
    else
        vuc_check(ctx);
}

/* stream.resume.truncated / .corrupt: a = 0 truncated, 1 corrupt */
static void resume_bad(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_stream s = {0};
    bool have;
    char what[96];

    if (!save(ctx, &s, NULL, &have))
        goto out;
    if (s.len == 0) {
        vuc_verdict(ctx, VUC_SKIP, "the device's stream is empty");
        goto out;
    }
    if (c->a == 0) {
        snprintf(what, sizeof(what),
                 "a stream missing its last byte (%zu of %zu bytes)", s.len - 1,
                 s.len);
        if (!resume_write(ctx, s.data, s.len - 1, whole_chunks, 1))
            goto out;
    } else {
        s.data[s.len / 2] ^= 0x01;
        snprintf(what, sizeof(what),
                 "a stream with bit 0 of byte %zu (of %zu) flipped", s.len / 2,
                 s.len);
        if (!resume_write(ctx, s.data, s.len, whole_chunks, 1))
            goto out;
    }
    expect_resume_fails(ctx, what);
out:
    vuc_stream_free(&s);
}

/* stream.resume.empty */
static void resume_empty(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    (void)c;
    if (!at(ctx, VUC_STATE_STOP) ||
        !vuc_case_walk(ctx, VUC_STATE_STOP, VUC_STATE_RESUMING))
        return;
    expect_resume_fails(ctx, "no data at all");
}

/* stream.stopcopy.leave-early: leave STOP_COPY mid-stream, then migrate
 * again from the start */
static void leave_early(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_stream s = {0};
    bool have;

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    if (read_once(ctx, 16) < 0)
        return;
    /* the claim itself: a profile that drains the stream first would
     * hide the very thing judged here */
    if (!vuc_case_set_ok_as_is(ctx, VUC_STATE_STOP,
                               "leaving STOP_COPY before the end of the "
                               "stream"))
        return;
    if (!save(ctx, &s, NULL, &have))
        goto out;
    if (!resume_write(ctx, s.data, s.len, whole_chunks, 1))
        goto out;
    if (vuc_case_set_ok(ctx, VUC_STATE_STOP,
                        "RESUMING -> STOP with a stream saved after an "
                        "abandoned one"))
        vuc_check(ctx);
out:
    vuc_stream_free(&s);
}

/* stream.read.pipelined: four reads sent before any reply */
static void pipelined(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    enum { N = 4, SIZE = 4096 };
    uint8_t msg[N][VUC_HDR_SIZE + VUC_MIG_DATA_HDR_SIZE];
    uint16_t ids[N];

    (void)c;
    if (!at(ctx, VUC_STATE_STOP_COPY))
        return;
    for (int i = 0; i < N; i++) {
        struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE + SIZE,
                                  .size = SIZE};
        struct vuc_hdr h = {.id = (uint16_t)(0x7100 + i),
                            .cmd = VUC_CMD_MIG_DATA_READ,
                            .size = sizeof(msg[i]),
                            .flags = VUC_TYPE_COMMAND};
        ids[i] = h.id;
        vuc_hdr_encode(&h, msg[i], sizeof(msg[i]));
        vuc_mig_data_encode(&md, msg[i] + VUC_HDR_SIZE,
                            sizeof(msg[i]) - VUC_HDR_SIZE);
    }
    /* one write holding all four requests */
    if (vuc_client_send_raw(ctx->cl, msg, sizeof(msg)) < 0) {
        vuc_case_report_rc(ctx, -EPIPE, "sending four pipelined reads");
        return;
    }
    for (int i = 0; i < N; i++) {
        struct vuc_reply r;
        int rc = vuc_client_recv_any(ctx->cl, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "waiting for pipelined replies");
            return;
        }
        if (vuc_hdr_type(&r.msg.hdr) != VUC_TYPE_REPLY ||
            r.msg.hdr.cmd != VUC_CMD_MIG_DATA_READ || r.msg.hdr.id != ids[i]) {
            vuc_verdict(ctx, VUC_FAIL,
                        "reply %d of 4 pipelined reads is %s #%u (type %u); "
                        "expected the reply to #%u: replies come in order "
                        "(spec: Command Concurrency)",
                        i + 1, vuc_cmd_name(r.msg.hdr.cmd), r.msg.hdr.id,
                        vuc_hdr_type(&r.msg.hdr), ids[i]);
            vuc_reply_release(&r);
            return;
        }
        if (r.is_error) {
            vuc_verdict(ctx, VUC_FAIL, "pipelined read %d failed with errno %u",
                        i + 1, r.error);
            vuc_reply_release(&r);
            return;
        }
        if (judge_read(ctx, SIZE, &r) < 0) {
            vuc_reply_release(&r);
            return;
        }
        vuc_reply_release(&r);
    }
    vuc_check(ctx);
}

/* Read the rest of the current saving state's data onto s, as a step
 * owned by `owner` (NULL: the case's claim). */
static bool read_more_owned(struct vuc_ctx *ctx, struct vuc_stream *s,
                            const char *owner, const char *what)
{
    const char *prev = vuc_setup_begin(ctx, owner);
    char err[256];
    bool ok = vuc_case_read_more(ctx, s, err, sizeof(err)) == 0;

    if (!ok && !ctx->stopped)
        vuc_blocked(ctx, owner ? owner : ctx->c->id, "%s: %s", what, err);
    if (ok)
        vuc_setup_end(ctx, prev);
    return ok;
}

/* stream.precopy.then-stopcopy: the PRE_COPY and STOP_COPY parts form one
 * stream that resumes */
static void precopy_then_stopcopy(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t flags = vuc_case_flags(ctx);
    struct vuc_stream s = {0};

    (void)c;
    if (flags == 0)
        return;
    if (!(flags & VUC_MIGRATION_PRE_COPY)) {
        vuc_verdict(ctx, VUC_SKIP, "PRE_COPY is not advertised");
        return;
    }
    if (!at(ctx, VUC_STATE_PRE_COPY))
        return;
    if (!read_more_owned(ctx, &s, NULL, "reading in PRE_COPY"))
        goto out;
    vuc_client_trace_note(ctx->cl, "# %zu bytes read in PRE_COPY", s.len);
    if (!vuc_case_walk(ctx, VUC_STATE_PRE_COPY, VUC_STATE_STOP_COPY) ||
        !read_more_owned(ctx, &s, OWN_READ, "reading in STOP_COPY") ||
        !vuc_case_walk(ctx, VUC_STATE_STOP_COPY, VUC_STATE_STOP) ||
        !resume_write(ctx, s.data, s.len, whole_chunks, 1))
        goto out;
    /* the claim: the two parts resume as one stream */
    if (vuc_case_set_ok(ctx, VUC_STATE_STOP,
                        "RESUMING -> STOP with the PRE_COPY and STOP_COPY "
                        "data as one stream"))
        vuc_check(ctx);
out:
    vuc_stream_free(&s);
}

/* stream.roundtrip: migrate the device to the destination (or onto
 * itself) and check the state arrived whole. Every step on the way is
 * owned by the case that judges it; the claim is the comparison. */
/* What stands for the device state in the round trip: the profile's
 * state_digest, else the device image. */
struct state_view {
    bool digest;
    uint8_t d[64];
    struct vuc_image img;
};

static bool view_read(struct vuc_ctx *ctx, struct state_view *v)
{
    v->digest = vuc_case_digest(ctx, v->d, sizeof(v->d)) == 0;
    if (v->digest)
        return true;
    return vuc_case_image(ctx, &v->img, "device.region-read.readable") == 0;
}

/* Where a and b differ, or false. */
static bool view_diff(struct vuc_ctx *ctx, const struct state_view *a,
                      const struct state_view *b, char *where, size_t cap)
{
    if (a->digest) {
        snprintf(where, cap, "the profile's state digest");
        return memcmp(a->d, b->d, ctx->profile->digest.size) != 0;
    }
    return vuc_image_diff(&a->img, &b->img, where, cap);
}

/* stream.roundtrip: migrate the device to the destination (or onto
 * itself) and check the state arrived whole: the profile's state_digest,
 * or without one the device image, read on the stopped source must read
 * the same on the destination. Migrating onto itself, the device runs a
 * little between the save and the resume (and is reset), so a resume that
 * does not load the stream shows. Every step on the way is owned by the
 * case that judges it; the claim is the comparison. */
static void roundtrip(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint64_t flags = vuc_case_flags(ctx);
    struct vuc_stream s = {0};
    struct state_view v0 = {0}, vp = {0}, v1 = {0};
    struct vuc_client *src, *dst = NULL;
    bool mutated = false;
    uint32_t cur = VUC_STATE_RUNNING, st;
    char where[128];

    (void)c;
    if (flags == 0 || vuc_ctx_connect(ctx) == NULL || !vuc_case_fresh(ctx))
        return;
    src = ctx->cl;
    /* source: RUNNING -> (PRE_COPY -> read -> change state ->) STOP_COPY */
    if (flags & VUC_MIGRATION_PRE_COPY) {
        if (!vuc_case_walk(ctx, VUC_STATE_RUNNING, VUC_STATE_PRE_COPY) ||
            !read_more_owned(ctx, &s, OWN_PRECOPY, "reading in PRE_COPY"))
            goto out;
        cur = VUC_STATE_PRE_COPY;
        mutated = vuc_case_mutate(ctx);
        if (ctx->res->verdict != VUC_PASS ||
            !read_more_owned(ctx, &s, OWN_PRECOPY, "reading in PRE_COPY"))
            goto out;
    } else {
        mutated = vuc_case_mutate(ctx);
        if (ctx->res->verdict != VUC_PASS)
            goto out;
    }
    if (!vuc_case_walk(ctx, cur, VUC_STATE_STOP_COPY) ||
        !read_more_owned(ctx, &s, OWN_READ, "reading in STOP_COPY") ||
        !vuc_case_walk(ctx, VUC_STATE_STOP_COPY, VUC_STATE_STOP) ||
        !view_read(ctx, &v0))
        goto out;
    vuc_client_trace_note(ctx->cl, "# saved %zu bytes%s", s.len,
                          mutated ? " (state changed during the save)" : "");

    if (ctx->dest != NULL) {
        /* destination: RESUMING -> write -> STOP */
        dst = vuc_ctx_connect_dest(ctx);
        if (dst == NULL)
            goto out;
        ctx->cl = dst;
    } else {
        /* onto itself: let the device run, so that its state moves away
         * from what was saved and must come back from the stream */
        if (!vuc_case_walk(ctx, VUC_STATE_STOP, VUC_STATE_RUNNING))
            goto out;
        for (int i = 0; i < 8; i++)
            if (!vuc_case_get(ctx, &st))
                goto out;
        if (!vuc_case_walk(ctx, VUC_STATE_RUNNING, VUC_STATE_STOP) ||
            !view_read(ctx, &vp))
            goto out;
        if (!view_diff(ctx, &v0, &vp, where, sizeof(where)))
            vuc_note(ctx,
                     "the device state (%s) did not change while the device "
                     "ran between the save and the resume, so whether the "
                     "resume restored it cannot be seen (a profile's "
                     "state_mutation would change it)",
                     v0.digest ? "its state digest" : "its readable regions");
    }
    if (!resume_write(ctx, s.data, s.len, whole_chunks, 1) ||
        !finish_resume(ctx, "RESUMING -> STOP with the whole stream") ||
        !view_read(ctx, &v1))
        goto out;
    if (view_diff(ctx, &v0, &v1, where, sizeof(where)))
        vuc_verdict(ctx, VUC_FAIL,
                    "after migrating %zu bytes%s, %s differs from the "
                    "source's: %s%s",
                    s.len, ctx->dest != NULL ? "" : " onto itself",
                    v0.digest ? "the state digest" : "the device image",
                    v0.digest ? "the bytes differ" : where,
                    mutated ? " (the source changed during PRE_COPY: were "
                              "the changes sent in STOP_COPY?)"
                            : "");
    else
        vuc_check(ctx);
out:
    if (dst != NULL) {
        ctx->cl = src;
        vuc_client_close(dst);
    }
    vuc_stream_free(&s);
    vuc_image_free(&v0.img);
    vuc_image_free(&vp.img);
    vuc_image_free(&v1.img);
}

size_t vuc_cases_stream(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    VUC_CASE("stream.read.full-to-end", "STOP_COPY data reads to a short read",
             SPEC_READ, "must", full_to_end, 0, 0, NULL);
    VUC_CASE("stream.read.eof-sticky",
             "after the end of STOP_COPY data every read returns 0 bytes",
             SPEC_READ, "must", eof_sticky, 0, 0, NULL);
    VUC_CASE("stream.read.reply-size",
             "reply size never above the request; argsz = 8 + size", SPEC_READ,
             "must", reply_size, 0, 0, NULL);
    VUC_CASE("stream.read.max-xfer-exact",
             "a read of exactly max_data_xfer_size is served",
             "Read and Write Operations", "must", max_exact, 0, 0, NULL);
    /* VFIO_USER_VERSION: max_data_xfer_size is the "Maximum count for
     * data transfer messages", as for stream.read.max-xfer-exact */
    VUC_CASE("stream.write.max-xfer-exact",
             "a write of exactly max_data_xfer_size, in one write, is "
             "accepted",
             "Read and Write Operations", "must", write_max_exact, 0, 0, NULL);
    VUC_CASE("stream.read.over-max",
             "a read above max_data_xfer_size is rejected",
             "Read and Write Operations", "must", over_max, 0, 0, NULL);
    VUC_CASE("stream.read.outside-saving",
             "MIG_DATA_READ outside PRE_COPY/STOP_COPY is rejected", SPEC_READ,
             "must", read_outside, 0, 0, NULL);
    VUC_CASE("stream.write.outside-resuming",
             "MIG_DATA_WRITE outside RESUMING is rejected", SPEC_WRITE, "must",
             write_outside, 0, 0, NULL);
    VUC_CASE("stream.write.reply-empty",
             "a MIG_DATA_WRITE reply has no payload", SPEC_WRITE,
             "there is no reply payload", write_reply_empty, 0, 0, NULL);
    VUC_CASE("stream.write.size-zero",
             "writes of 0 bytes leave the stream whole", SPEC_WRITE,
             "treated like a stream", write_size_zero, 0, 0, NULL);
    VUC_CASE("stream.read.size-zero", "a read of 0 bytes is answered sensibly",
             SPEC_READ, "should", size_zero, 0, 0, NULL);
    VUC_CASE("stream.read.pipelined",
             "pipelined reads are answered in order with their ids",
             "Command Concurrency", "must", pipelined, 0, 0, NULL);
    VUC_CASE("stream.precopy.then-stopcopy",
             "PRE_COPY data then STOP_COPY data resume as one stream",
             SPEC_READ, "must", precopy_then_stopcopy, 0, 0, NULL);
    VUC_CASE("stream.resume.odd-segments",
             "a stream written in odd segment sizes resumes", SPEC_WRITE,
             "must", odd_segments, 0, 0, NULL);
    VUC_CASE("stream.resume.truncated",
             "RESUMING -> STOP fails when the last byte is missing",
             SPEC_RESUME, "must", resume_bad, 0, 0, NULL);
    VUC_CASE("stream.resume.empty",
             "RESUMING -> STOP fails when nothing was written", SPEC_RESUME,
             "must", resume_empty, 0, 0, NULL);
    /* "If the delivered data is found to be ... otherwise invalid": the
     * spec does not require finding corrupt data */
    VUC_CASE("stream.resume.corrupt",
             "RESUMING -> STOP fails when a bit is flipped", SPEC_RESUME,
             "silent", resume_bad, 1, 0, NULL);
    VUC_CASE("stream.stopcopy.leave-early",
             "leaving STOP_COPY early leaves the device able to migrate",
             "Direct State Transitions", "must", leave_early, 0, 0, NULL);
    VUC_CASE("stream.roundtrip",
             "the device state arrives whole at the destination",
             "VFIO_USER_MIG_DATA_READ/WRITE", "must", roundtrip, 0, 0, NULL);
    return n;
}
