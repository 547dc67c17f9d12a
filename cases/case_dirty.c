// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty.*: DMA dirty-page logging (spec: VFIO_DEVICE_FEATURE_DMA_LOGGING_
 * START/STOP and _REPORT, with the kernel's vfio uAPI where the spec says
 * nothing). A wrong bit is silently corrupted guest memory after
 * migration, so bitmaps are checked bit for bit.
 *
 * A case judges one claim. Mapping the test memory, making the device
 * write it, starting and stopping logging and a first REPORT are setup
 * steps of many cases; each is the claim of one case (the OWN_* ids), and
 * when one goes wrong elsewhere the case is BLOCKED by its owner. While a
 * setup step fails, its owner stays the setup owner to the end of the case
 * (which stops there), so that a server death it caused is charged to the
 * owner too. The form of error replies is judged by its own cases and
 * ignored here.
 *
 * A device may keep logging and DMA mappings across reconnects and
 * DEVICE_RESET: every case first stops logging and unmaps the test memory
 * (the replies do not matter), so verdicts do not depend on case order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_START  "VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP"
#define SPEC_REPORT "VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT"
#define SPEC_MAP    "VFIO_USER_DMA_MAP"

/* The cases that judge the setup steps the others share. */
#define OWN_PROBE  "dirty.probe.start"
#define OWN_MAP    "dirty.dma.map-unmap"
#define OWN_WRITE  "dirty.dma.write-lands"
#define OWN_START  "dirty.start.valid"
#define OWN_PAGE   "dirty.start.page-size-returned"
#define OWN_STOP   "dirty.stop.valid"
#define OWN_REPORT "dirty.report.page-size-same"
#define OWN_SUB    "dirty.report.range-edges"
#define OWN_BEFORE "dirty.report.before-start"

/*
 * The guest memory vucert lends the device: MEM_LEN bytes at a 1 GiB-
 * aligned IOVA, all of it logged. The bitmap cases write PAGES logging
 * pages of the size the device chose (not a multiple of 64, so the last
 * bitmap word is partly outside the range); that fits logging pages of up
 * to MAX_PAGE. vucert asks for LOG_PAGE.
 */
#define MEM_IOVA 0x40000000ull
#define MEM_LEN  (64ull << 20)
#define PAGES    1000u
#define LOG_PAGE 8192u
#define MAX_PAGE 65536u
#define MIB      (1ull << 20)

struct dmamem {
    int fd;
    bool mapped;
};

#define DMAMEM_INIT                                                            \
    {                                                                          \
        .fd = -1, .mapped = false                                              \
    }

static bool pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static void mem_free(struct dmamem *m)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    m->mapped = false;
}

/* ---- requests ---- */

/* DMA_MAP (with an fd) or DMA_UNMAP of the test memory. */
static int dma_map(struct vuc_ctx *ctx, int fd, struct vuc_reply *r)
{
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .addr = MEM_IOVA,
                             .size = MEM_LEN};
    uint8_t p[32];

    vuc_dma_map_encode(&dm, p, sizeof(p));
    return vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), &fd, 1, r);
}

static int dma_unmap(struct vuc_ctx *ctx, struct vuc_reply *r)
{
    struct vuc_dma_unmap du = {.argsz = 24, .addr = MEM_IOVA, .size = MEM_LEN};
    uint8_t p[24];

    vuc_dma_unmap_encode(&du, p, sizeof(p));
    return vuc_client_call(ctx->cl, VUC_CMD_DMA_UNMAP, p, sizeof(p), NULL, 0,
                           r);
}

/* LOGGING_START; the reply (its page size) is returned unjudged. */
static int log_start(struct vuc_ctx *ctx, uint64_t page,
                     const struct vuc_log_range *ranges, uint32_t n,
                     struct vuc_reply *r)
{
    struct vuc_log_control lc = {.page_size = page, .num_ranges = n};
    size_t len = VUC_LOG_CONTROL_SIZE + (size_t)n * VUC_LOG_RANGE_SIZE;
    uint8_t buf[VUC_LOG_CONTROL_SIZE + 4 * VUC_LOG_RANGE_SIZE];
    int k = vuc_log_control_encode(&lc, ranges, buf, sizeof(buf));

    if (k < 0)
        return k;
    return vuc_client_feature(
        ctx->cl, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START,
        (uint32_t)(VUC_FEATURE_HDR_SIZE + len), buf, len, r);
}

static int log_stop(struct vuc_ctx *ctx, struct vuc_reply *r)
{
    return vuc_client_feature(ctx->cl,
                              VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_STOP,
                              VUC_FEATURE_HDR_SIZE, NULL, 0, r);
}

/* LOGGING_REPORT with the given argsz (0: exactly what the bitmap needs). */
static int log_report(struct vuc_ctx *ctx, uint64_t iova, uint64_t len,
                      uint64_t page, uint32_t argsz, struct vuc_reply *r)
{
    struct vuc_log_report rep = {
        .iova = iova, .length = len, .page_size = page};
    uint8_t buf[VUC_LOG_REPORT_SIZE];
    int64_t bytes = vuc_log_bitmap_bytes(len, page);

    vuc_log_report_encode(&rep, buf, sizeof(buf));
    if (argsz == 0)
        argsz = (uint32_t)(VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE +
                           (bytes > 0 ? (uint64_t)bytes : 0));
    return vuc_client_feature(ctx->cl,
                              VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_REPORT,
                              argsz, buf, sizeof(buf), r);
}

static int probe_req(struct vuc_ctx *ctx, uint32_t flags, struct vuc_reply *r)
{
    return vuc_client_feature(ctx->cl, VUC_FEATURE_PROBE | flags,
                              VUC_FEATURE_HDR_SIZE, NULL, 0, r);
}

/* ---- setup steps, each owned by the case that judges it ---- */

/* A request whose reply does not matter (cleanup); a wire failure is
 * BLOCKED by `owner`. false after a verdict. */
static bool quiet(struct vuc_ctx *ctx, int rc, struct vuc_reply *r,
                  const char *owner, const char *what)
{
    const char *prev = vuc_setup_begin(ctx, owner);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, what);
        return false;
    }
    vuc_reply_release(r);
    vuc_setup_end(ctx, prev);
    return true;
}

/* Logging stopped and the test memory unmapped, whatever an earlier case
 * or client left (a device may keep both across reconnects and resets). */
static bool clean(struct vuc_ctx *ctx)
{
    struct vuc_reply r;

    vuc_client_trace_note(ctx->cl, "# cleanup: stop logging, unmap the test "
                                   "memory (replies do not matter)");
    return quiet(ctx, log_stop(ctx, &r), &r, OWN_STOP, "LOGGING_STOP") &&
           quiet(ctx, dma_unmap(ctx, &r), &r, OWN_MAP, "DMA_UNMAP");
}

/* DMA_MAP the test memory, backed by a memfd passed to the server. */
static bool map_mem(struct vuc_ctx *ctx, struct dmamem *m)
{
    const char *prev = vuc_setup_begin(ctx, OWN_MAP);
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (m->fd < 0) {
        m->fd = memfd_create("vucert-guest", MFD_CLOEXEC);
        if (m->fd < 0 || ftruncate(m->fd, (off_t)MEM_LEN) < 0) {
            vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
            return false;
        }
    }
    rc = dma_map(ctx, m->fd, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DMA_MAP");
        return false;
    }
    if (r.is_error) {
        vuc_blocked(ctx, OWN_MAP,
                    "DMA_MAP of %llu MiB at 0x%llx, readable and writeable, "
                    "with an fd, was rejected with errno %s",
                    MEM_LEN / MIB, MEM_IOVA,
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    m->mapped = true;
    vuc_setup_end(ctx, prev);
    return true;
}

static bool unmap_mem(struct vuc_ctx *ctx, struct dmamem *m)
{
    const char *prev = vuc_setup_begin(ctx, OWN_MAP);
    struct vuc_reply r;
    char eb[16];
    int rc = dma_unmap(ctx, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DMA_UNMAP");
        return false;
    }
    if (r.is_error) {
        vuc_blocked(ctx, OWN_MAP,
                    "DMA_UNMAP of exactly the mapping made (%llu MiB at "
                    "0x%llx) was rejected with errno %s",
                    MEM_LEN / MIB, MEM_IOVA,
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    m->mapped = false;
    vuc_setup_end(ctx, prev);
    return true;
}

/* STOP while logging, which must be accepted. */
static bool stop_ok(struct vuc_ctx *ctx)
{
    const char *prev = vuc_setup_begin(ctx, OWN_STOP);
    struct vuc_reply r;
    char eb[16];
    int rc = log_stop(ctx, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_STOP");
        return false;
    }
    if (r.is_error) {
        vuc_blocked(ctx, OWN_STOP,
                    "LOGGING_STOP while logging was rejected with errno %s",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    return true;
}

/* The whole test memory at LOG_PAGE: the START every case logs with. */
static const struct vuc_log_range one_range = {MEM_IOVA, MEM_LEN};

/*
 * START over one_range (the memory mapped). 1: accepted (the reply in *r
 * for the caller to release), 0: rejected (errno in *err), < 0 after a
 * verdict; a wire failure is BLOCKED by dirty.start.valid.
 */
static int start_req(struct vuc_ctx *ctx, struct vuc_reply *r, uint32_t *err)
{
    const char *prev = vuc_setup_begin(ctx, OWN_START);
    int rc = log_start(ctx, LOG_PAGE, &one_range, 1, r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_START");
        return -1;
    }
    vuc_setup_end(ctx, prev);
    if (r->is_error) {
        *err = r->error;
        vuc_reply_release(r);
        return 0;
    }
    return 1;
}

/*
 * The page size a START reply returns: 0 with *page when it is a power of
 * two of at least 4096, else -ENODATA (no page size in the reply),
 * -EINVAL (0 or not a power of two) or -ERANGE (a power of two below
 * 4096), with *page what it says.
 */
static int reply_page(const struct vuc_reply *r, uint64_t *page)
{
    struct vuc_feature f;

    *page = 0;
    if (vuc_feature_decode(r->payload, r->payload_len, &f) < 0 ||
        f.data_len < 8)
        return -ENODATA;
    *page = vuc_get_u64(f.data);
    if (!pow2(*page))
        return -EINVAL;
    return *page < 4096 ? -ERANGE : 0;
}

/* Start logging over the mapped test memory (a setup step, owned by
 * dirty.start.valid) and give the page size the device chose; a reply
 * without a usable page size is dirty.start.page-size-returned's to judge:
 * noted, and LOG_PAGE assumed. */
static bool start_ok(struct vuc_ctx *ctx, uint64_t *page)
{
    struct vuc_reply r;
    uint32_t err = 0;
    char eb[16];
    int rc = start_req(ctx, &r, &err);

    if (rc < 0)
        return false;
    if (rc == 0) {
        vuc_blocked(ctx, OWN_START,
                    "LOGGING_START of the mapped test memory (one range of "
                    "%llu MiB at 0x%llx, page size %u) was rejected with "
                    "errno %s",
                    MEM_LEN / MIB, MEM_IOVA, LOG_PAGE,
                    vuc_errno_name(err, eb, sizeof(eb)));
        return false;
    }
    if (reply_page(&r, page) != 0) {
        vuc_note(ctx,
                 "the START reply returns no usable page size (%llu); "
                 "vucert assumes the %u it asked for (" OWN_PAGE
                 " judges the reply)",
                 (unsigned long long)*page, LOG_PAGE);
        *page = LOG_PAGE;
    }
    vuc_reply_release(&r);
    return true;
}

/* true when the device logs: PROBE says so, or (a device whose PROBE is
 * wrong, dirty.probe.start's to judge, noted) a START of the mapped test
 * memory works; it is stopped again. SKIP when the device does not log. */
static bool logging_supported(struct vuc_ctx *ctx, struct dmamem *m)
{
    const char *prev = vuc_setup_begin(ctx, OWN_PROBE);
    struct vuc_reply r;
    uint32_t err = 0;
    int rc =
        probe_req(ctx, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE of DMA_LOGGING_START with SET");
        return false;
    }
    vuc_setup_end(ctx, prev);
    rc = !r.is_error;
    vuc_reply_release(&r);
    if (rc)
        return true;
    if (!m->mapped && !map_mem(ctx, m))
        return false;
    rc = start_req(ctx, &r, &err);
    if (rc < 0)
        return false;
    if (rc == 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device does not support DMA logging (PROBE of "
                    "DMA_LOGGING_START with SET fails, and so does START)");
        return false;
    }
    vuc_reply_release(&r);
    vuc_note(ctx, "PROBE of DMA_LOGGING_START with SET fails, yet START "
                  "works (" OWN_PROBE " judges it)");
    return stop_ok(ctx);
}

/* A fresh device with migration, logging stopped and the test memory
 * unmapped (then mapped again if `map`); false after a verdict. */
static bool fresh(struct vuc_ctx *ctx, struct dmamem *m, bool map)
{
    if (vuc_case_flags(ctx) == 0 || vuc_ctx_connect(ctx) == NULL ||
        !vuc_case_fresh(ctx) || !clean(ctx))
        return false;
    return !map || map_mem(ctx, m);
}

/* ... and with logging supported. */
static bool setup(struct vuc_ctx *ctx, struct dmamem *m, bool map)
{
    return fresh(ctx, m, map) && logging_supported(ctx, m);
}

/* ... and logging over the mapped test memory at *page. */
static bool start_logging(struct vuc_ctx *ctx, struct dmamem *m, uint64_t *page)
{
    return setup(ctx, m, true) && start_ok(ctx, page);
}

/* A request the case's rule says must be rejected: its verdict. */
static void expect_rejected(struct vuc_ctx *ctx, int rc, struct vuc_reply *r,
                            const char *what, const char *why)
{
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, what);
        return;
    }
    if (r->is_error)
        vuc_check(ctx);
    else
        vuc_verdict(ctx, VUC_VIOLATION(ctx), "%s was accepted; %s", what, why);
    vuc_reply_release(r);
}

/* ---- the DMA stimulus (profile: dma_write) ---- */

static bool dma_available(struct vuc_ctx *ctx)
{
    if (ctx->profile == NULL || ctx->profile->n_dma_writes == 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the profile names no DMA stimulus (dma_write), so vucert "
                    "cannot make the device write known pages");
        return false;
    }
    return true;
}

/* One of the profile's DMA stimuli (dma_write or dma_read). */
struct stim {
    const struct vuc_reg_write *writes;
    size_t n;
    const struct vuc_reg_ref *status; /* NULL: none */
    const char *key;
};

static struct stim stim_of(const struct vuc_profile *p, bool read)
{
    struct stim st = {p->dma_writes, p->n_dma_writes,
                      p->has_dma_status ? &p->dma_status : NULL, "dma_write"};

    if (read) {
        st.writes = p->dma_reads;
        st.n = p->n_dma_reads;
        st.status = p->has_dma_read_status ? &p->dma_read_status : NULL;
        st.key = "dma_read";
    }
    return st;
}

/* A stimulus for len bytes at iova, judging nothing: the DMA status in
 * *status (0 when the profile has no status register). < 0 after a
 * verdict. */
static int stimulus(struct vuc_ctx *ctx, const struct stim *sm, uint64_t iova,
                    uint64_t len, uint64_t *status)
{
    uint8_t v[8], st[8] = {0};
    uint32_t err = 0;
    char eb[16];
    int rc;

    *status = 0;
    for (size_t i = 0; i < sm->n; i++) {
        const struct vuc_reg_write *w = &sm->writes[i];
        uint64_t val = w->kind == VUC_VALUE_IOVA     ? iova
                       : w->kind == VUC_VALUE_LENGTH ? len
                                                     : w->value;
        vuc_put_u64(v, val);
        rc = vuc_client_region_write(ctx->cl, w->reg.region, w->reg.offset, v,
                                     w->reg.size, &err);
        if (rc == -EREMOTEIO) {
            vuc_blocked(ctx, OWN_WRITE,
                        "the profile's %s register write %zu was rejected "
                        "with errno %s",
                        sm->key, i, vuc_errno_name(err, eb, sizeof(eb)));
            return rc;
        }
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "the profile's DMA stimulus");
            return rc;
        }
    }
    if (sm->status == NULL)
        return 0;
    rc = vuc_case_reg_read(ctx, sm->status, st, sm->status->size);
    if (rc < 0) {
        if (rc == -EREMOTEIO)
            vuc_blocked(ctx, OWN_WRITE,
                        "reading the profile's %s status register was "
                        "rejected",
                        sm->key);
        else
            vuc_case_report_rc(ctx, rc, "reading the profile's DMA status");
        return rc;
    }
    *status = vuc_get_u64(st);
    return 0;
}

/* Make the device DMA-write len bytes at iova through the profile; a
 * failure is BLOCKED by dirty.dma.write-lands. */
static bool device_write(struct vuc_ctx *ctx, uint64_t iova, uint64_t len)
{
    const char *prev = vuc_setup_begin(ctx, OWN_WRITE);
    struct stim sm = stim_of(ctx->profile, false);
    uint64_t status;

    if (stimulus(ctx, &sm, iova, len, &status) < 0)
        return false;
    if (status != 0) {
        vuc_blocked(ctx, OWN_WRITE,
                    "the device reports DMA status %llu for a write of %llu "
                    "bytes at 0x%llx into mapped memory",
                    (unsigned long long)status, (unsigned long long)len,
                    (unsigned long long)iova);
        return false;
    }
    vuc_setup_end(ctx, prev);
    return true;
}

/* The memory the limit case lends without a file descriptor. */
#define NOFD_IOVA 0x7e0000000ull
#define NOFD_LEN  (4u * 4096u)
#define NOFD_DMA  (3u * 4096u + 100u)

/*
 * Memory lent without a file descriptor, on a fresh connection that
 * negotiated `proposal` and a fresh device: NOFD_LEN bytes at NOFD_IOVA,
 * DMA_MAP'ed with no fd, so the device reaches them only through
 * DMA_WRITE/DMA_READ requests to vucert. *mem is the caller's to free
 * (nofd_return). false after a verdict.
 */
static bool nofd_lend(struct vuc_ctx *ctx, const char *proposal,
                      const char *what, uint8_t **mem)
{
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .addr = NOFD_IOVA,
                             .size = NOFD_LEN};
    struct vuc_reply r;
    uint8_t p[32];
    char eb[16];
    int rc;

    *mem = NULL;
    if (!dma_available(ctx) || vuc_case_flags(ctx) == 0 ||
        vuc_ctx_connect_raw(ctx) == NULL)
        return false;
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              proposal, &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server did not negotiate %s (%s); the spec names no "
                    "proposal a server must take",
                    what,
                    rc < 0 ? vuc_client_last_error(ctx->cl) : "error reply");
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    if (!vuc_case_fresh(ctx))
        return false;
    *mem = calloc(1, NOFD_LEN);
    if (*mem == NULL ||
        vuc_client_add_memory(ctx->cl, NOFD_IOVA, *mem, NOFD_LEN) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "cannot lend client memory");
        return false;
    }
    vuc_dma_map_encode(&dm, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DMA_MAP without a file descriptor");
        return false;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_SKIP,
                    "DMA_MAP without a file descriptor was refused (errno "
                    "%s): the device cannot be made to send DMA_WRITE",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    vuc_client_dma_stats(ctx->cl, NULL, NULL, NULL, true);
    return true;
}

/* Take back what nofd_lend lent (any answer will do). */
static void nofd_return(struct vuc_ctx *ctx, uint8_t *mem)
{
    struct vuc_dma_unmap du = {
        .argsz = 24, .addr = NOFD_IOVA, .size = NOFD_LEN};
    struct vuc_reply r;
    uint8_t p[24];

    if (ctx->cl != NULL) {
        vuc_dma_unmap_encode(&du, p, sizeof(p));
        if (vuc_client_call(ctx->cl, VUC_CMD_DMA_UNMAP, p, 24, NULL, 0, &r) ==
            0)
            vuc_reply_release(&r);
        vuc_client_del_memory(ctx->cl, NOFD_IOVA);
    }
    free(mem);
}

/*
 * device.dma-write.within-limit: Read and Write Operations: "The count
 * field must not exceed the value of max_data_xfer_size of the peer, for
 * both reads and writes." vucert proposes 4096 and lends memory without a
 * file descriptor; the device's DMA of three pages and a bit reaches it
 * as DMA_WRITE (or DMA_READ) requests, each of count at most 4096.
 */
static void dma_within_limit(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const char prop[] = "{\"capabilities\":{\"max_data_xfer_size\":"
                               "4096}}";
    uint64_t status, most;
    uint8_t *mem;
    struct stim sm;
    unsigned n;

    (void)c;
    if (!nofd_lend(ctx, prop, "max_data_xfer_size 4096", &mem))
        goto out;
    sm = stim_of(ctx->profile, false);
    if (stimulus(ctx, &sm, NOFD_IOVA, NOFD_DMA, &status) < 0)
        goto out;
    vuc_client_dma_stats(ctx->cl, &n, &most, NULL, false);
    vuc_client_trace_note(ctx->cl,
                          "# the device's DMA of %u bytes: %u requests of at "
                          "most %llu bytes, status %llu",
                          NOFD_DMA, n, (unsigned long long)most,
                          (unsigned long long)status);
    if (most > 4096)
        vuc_verdict(ctx, VUC_FAIL,
                    "the server sent a DMA request of count %llu though "
                    "vucert's max_data_xfer_size is 4096 (\"The count field "
                    "must not exceed the value of max_data_xfer_size of the "
                    "peer\")",
                    (unsigned long long)most);
    else if (n == 0)
        vuc_blocked(ctx, OWN_WRITE,
                    "the device's DMA into memory lent without a file "
                    "descriptor sent no DMA_WRITE (status %llu)",
                    (unsigned long long)status);
    else
        vuc_check(ctx);
out:
    nofd_return(ctx, mem);
}

/*
 * negotiate.twin-socket.offered: VERSION: "for server implementations
 * that do send server-to-client commands it is strongly recommended to
 * implement twin-socket support." vucert proposes twin_socket.supported
 * and lends memory without a file descriptor; if the device's DMA then
 * reaches it as DMA_WRITE/DMA_READ requests, the server sends
 * server-to-client commands, and should have enabled twin-socket mode;
 * once enabled, its commands come on the twin socket.
 */
static void twin_offered(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const char prop[] =
        "{\"capabilities\":{\"max_msg_fds\":8,\"twin_socket\":"
        "{\"supported\":true}}}";
    uint64_t status;
    unsigned n, on_twin;
    uint8_t *mem;
    struct stim sm;

    (void)c;
    if (!nofd_lend(ctx, prop, "a proposal with twin_socket", &mem))
        goto out;
    vuc_client_trace_note(ctx->cl, "# twin-socket mode %s",
                          vuc_client_twin(ctx->cl) ? "on" : "off");
    sm = stim_of(ctx->profile, false);
    if (stimulus(ctx, &sm, NOFD_IOVA, 4096, &status) < 0)
        goto out;
    vuc_client_dma_stats(ctx->cl, &n, NULL, &on_twin, false);
    if (n == 0 && status != 0)
        vuc_blocked(ctx, OWN_WRITE,
                    "the device's DMA into memory lent without a file "
                    "descriptor failed with status %llu and sent nothing",
                    (unsigned long long)status);
    else if (n == 0)
        vuc_verdict(ctx, VUC_SKIP,
                    "the device's DMA sent no server-to-client command "
                    "(status %llu)",
                    (unsigned long long)status);
    else if (!vuc_client_twin(ctx->cl))
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the server sends server-to-client commands (%u DMA "
                    "requests) but did not enable twin-socket mode when "
                    "vucert proposed it (\"it is strongly recommended to "
                    "implement twin-socket support\")",
                    n);
    else if (on_twin < n)
        vuc_verdict(ctx, VUC_FAIL,
                    "twin-socket mode is on, yet %u of %u DMA requests came "
                    "on the main socket (twin_socket: \"handles "
                    "server-to-client commands and their replies on a "
                    "separate socket\")",
                    n - on_twin, n);
    else
        vuc_check(ctx);
out:
    nofd_return(ctx, mem);
}

/*
 * device.dma.none-before-map: VFIO_USER_DMA_MAP "must be sent before the
 * server can perform any DMA to the client". With nothing mapped, the
 * device's DMA to an address the client never lent must not reach the
 * client: no DMA_WRITE or DMA_READ request comes (the device's DMA status
 * is noted, not judged: how a device reports the fault is its own).
 */
static void dma_none_before_map(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t status;
    struct stim sm;
    unsigned n;

    (void)c;
    if (!dma_available(ctx) || !fresh(ctx, &m, false))
        goto out;
    vuc_client_dma_stats(ctx->cl, NULL, NULL, NULL, true);
    sm = stim_of(ctx->profile, false);
    if (stimulus(ctx, &sm, NOFD_IOVA, 4096, &status) < 0)
        goto out;
    vuc_client_dma_stats(ctx->cl, &n, NULL, NULL, false);
    vuc_client_trace_note(ctx->cl,
                          "# DMA to unmapped 0x%llx: status %llu, %u DMA "
                          "requests to the client",
                          (unsigned long long)NOFD_IOVA,
                          (unsigned long long)status, n);
    if (n > 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "with no memory mapped, the device's DMA to 0x%llx sent "
                    "the client %u DMA request(s) (VFIO_USER_DMA_MAP \"must "
                    "be sent before the server can perform any DMA to the "
                    "client\")",
                    (unsigned long long)NOFD_IOVA, n);
    else
        vuc_check(ctx);
out:
    mem_free(&m);
}

/*
 * The writes, in logging pages (of the size the device chose) of the
 * PAGES-page range: first and last page, across the middle of a page and
 * within one half (reports at half the logging page), across u64 bitmap
 * words.
 */
enum { AT_START, AT_MID, AT_END };

static const struct dwrite {
    uint32_t page;  /* the logging page the write starts in ... */
    uint8_t at;     /* ... counted from its start, middle or end ... */
    int32_t off;    /* ... plus this many bytes */
    uint32_t pages; /* length: whole logging pages ... */
    uint32_t bytes; /* ... plus bytes */
} writes[] = {
    {0, AT_START, 0, 0, 8},        /* the first page of the range */
    {1, AT_MID, -1, 0, 2},         /* across the middle of a page */
    {5, AT_START, 100, 0, 50},     /* a few bytes in a first half */
    {63, AT_START, 0, 2, 0},       /* pages 63 and 64: across a u64 word */
    {127, AT_END, -8, 0, 16},      /* pages 127 and 128 */
    {300, AT_START, 0, 3, 0},      /* pages 300..302 */
    {PAGES - 1, AT_END, -8, 0, 8}, /* the last page, in its second half */
};

#define N_WRITES (sizeof(writes) / sizeof(writes[0]))

static void write_span(const struct dwrite *w, uint64_t page, uint64_t *addr,
                       uint64_t *len)
{
    uint64_t a = MEM_IOVA + (uint64_t)w->page * page;

    if (w->at == AT_MID)
        a += page / 2;
    else if (w->at == AT_END)
        a += page;
    *addr = a + (uint64_t)(int64_t)w->off;
    *len = (uint64_t)w->pages * page + w->bytes;
}

static bool do_writes(struct vuc_ctx *ctx, uint64_t page)
{
    vuc_client_trace_note(ctx->cl, "# profile: DMA writes at %llu-byte pages",
                          (unsigned long long)page);
    for (size_t i = 0; i < N_WRITES; i++) {
        uint64_t a, n;

        write_span(&writes[i], page, &a, &n);
        if (!device_write(ctx, a, n))
            return false;
    }
    return true;
}

/*
 * A fresh device logging the mapped test memory (num_ranges 1), with the
 * writes made; the page size it logs at, or 0 after a verdict.
 */
static uint64_t prepare(struct vuc_ctx *ctx, struct dmamem *m)
{
    uint64_t page;

    if (!dma_available(ctx) || !start_logging(ctx, m, &page))
        return 0;
    if (page > MAX_PAGE) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device logs at %llu-byte pages; the bitmap cases "
                    "write %u pages into %llu MiB of test memory, which "
                    "covers logging pages of up to %u bytes",
                    (unsigned long long)page, PAGES, MEM_LEN / MIB, MAX_PAGE);
        return 0;
    }
    return do_writes(ctx, page) ? page : 0;
}

/* ---- bitmaps ---- */

/*
 * What a REPORT of [iova, iova + len) at report page `rp` must show after
 * the writes, the device logging at `lp`: a bit is required where the
 * report page holds a written byte, and allowed where it overlaps a
 * logging page that holds one. Below the logging page size the device
 * "will format its internal logging to match the reporting page size
 * possibly by replicating bits" (spec: REPORT page_size), so both halves
 * of a dirty logging page may read dirty; at or above it the two sets are
 * the same. Bit n is (addr - iova) / rp, in u64 word n / 64.
 */
struct want {
    uint64_t *req, *allow;
    uint64_t nbits;
    size_t words;
};

static void want_free(struct want *w)
{
    free(w->req);
    free(w->allow);
    w->req = w->allow = NULL;
}

static void mark(uint64_t *bm, uint64_t iova, uint64_t len, uint64_t rp,
                 uint64_t a, uint64_t e)
{
    uint64_t lo = a > iova ? a : iova;
    uint64_t hi = e < iova + len ? e : iova + len;

    if (lo >= hi)
        return;
    for (uint64_t n = (lo - iova) / rp; n <= (hi - 1 - iova) / rp; n++)
        bm[n / 64] |= 1ull << (n % 64);
}

static bool want_init(struct want *w, uint64_t iova, uint64_t len, uint64_t rp,
                      uint64_t lp)
{
    w->nbits = (len + rp - 1) / rp;
    w->words = (size_t)((w->nbits + 63) / 64);
    w->req = calloc(w->words ? w->words : 1, sizeof(uint64_t));
    w->allow = calloc(w->words ? w->words : 1, sizeof(uint64_t));
    if (w->req == NULL || w->allow == NULL) {
        want_free(w);
        return false;
    }
    for (size_t i = 0; i < N_WRITES; i++) {
        uint64_t a, n;

        write_span(&writes[i], lp, &a, &n);
        mark(w->req, iova, len, rp, a, a + n);
        mark(w->allow, iova, len, rp, a / lp * lp, (a + n + lp - 1) / lp * lp);
    }
    return true;
}

/* A REPORT reply's bitmap, at least `need` bytes of it. */
struct got {
    uint8_t *bm;
    size_t len, need;
    bool rejected;
    uint32_t err;
};

static uint64_t got_word(const struct got *g, size_t w)
{
    return vuc_get_u64(g->bm + 8 * w);
}

/*
 * REPORT [iova, iova + len) at page rp. 0: a bitmap (g->rejected false)
 * or an error reply (g->rejected, g->err); -1 after a verdict. A reply
 * without the bitmap it needs is BLOCKED by `shape` (the case that judges
 * REPORT replies at that size: the running case itself when it is its
 * own claim); a longer bitmap is noted (dirty.report.outside-zero judges
 * what lies past the range).
 */
static int report_get(struct vuc_ctx *ctx, uint64_t iova, uint64_t len,
                      uint64_t rp, const char *shape, struct got *g)
{
    struct vuc_reply r;
    struct vuc_feature f;
    struct vuc_log_report rep;
    int64_t need = vuc_log_bitmap_bytes(len, rp);
    int rc = log_report(ctx, iova, len, rp, 0, &r);

    memset(g, 0, sizeof(*g));
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        return -1;
    }
    if (r.is_error) {
        g->rejected = true;
        g->err = r.error;
        vuc_reply_release(&r);
        return 0;
    }
    g->need = need > 0 ? (size_t)need : 0;
    if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        vuc_log_report_decode(f.data, f.data_len, &rep) < 0 ||
        rep.bitmap_len < g->need) {
        vuc_blocked(ctx, shape,
                    "the REPORT reply at page size %llu carries %zu payload "
                    "bytes; a bitmap of %zu bytes was expected after the "
                    "%u-byte feature header and the %u-byte report",
                    (unsigned long long)rp, r.payload_len, g->need,
                    VUC_FEATURE_HDR_SIZE, VUC_LOG_REPORT_SIZE);
        vuc_reply_release(&r);
        return -1;
    }
    if (rep.bitmap_len > g->need)
        vuc_note(ctx,
                 "a REPORT bitmap of %zu bytes where %zu cover the range "
                 "(the rest is not read; judged by "
                 "dirty.report.outside-zero)",
                 rep.bitmap_len, g->need);
    g->len = rep.bitmap_len;
    g->bm = malloc(g->len ? g->len : 1);
    if (g->bm == NULL) {
        vuc_reply_release(&r);
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return -1;
    }
    if (g->len)
        memcpy(g->bm, rep.bitmap, g->len);
    vuc_reply_release(&r);
    return 0;
}

/*
 * Compare a bitmap with what the writes require and allow; on the first
 * wrong bit, BLOCKED by `owner` (the running case itself when the bitmap
 * is its claim) naming it, and false.
 */
static bool bitmap_ok(struct vuc_ctx *ctx, const struct got *g,
                      const struct want *w, uint64_t iova, uint64_t rp,
                      const char *owner, const char *what)
{
    for (size_t i = 0; i < w->words; i++) {
        uint64_t got = got_word(g, i), first = (uint64_t)i * 64;
        uint64_t bad;
        unsigned bit;
        uint64_t n;

        /* bits past the range are outside-zero's to judge */
        if (first + 64 > w->nbits) {
            uint64_t in = ~0ull >> (first + 64 - w->nbits);
            if (got & ~in)
                vuc_note(ctx,
                         "%s: bits past the end of the range are set "
                         "(dirty.report.outside-zero judges them)",
                         what);
            got &= in;
        }
        bad = (got & ~w->allow[i]) | (w->req[i] & ~got);
        if (bad == 0)
            continue;
        bit = (unsigned)__builtin_ctzll(bad);
        n = (uint64_t)i * 64 + bit;
        vuc_blocked(ctx, owner,
                    "%s: bitmap word %zu is 0x%016llx, expected 0x%016llx%s: "
                    "bit %llu (the %llu-byte page at 0x%llx) is %s",
                    what, i, (unsigned long long)got,
                    (unsigned long long)w->req[i],
                    w->allow[i] != w->req[i] ? " (or with bits of replicated "
                                               "logging pages)"
                                             : "",
                    (unsigned long long)n, (unsigned long long)rp,
                    (unsigned long long)(iova + n * rp),
                    (got >> bit) & 1 ? "set, but no byte of it or of its "
                                       "logging page was written"
                                     : "clear, but the device wrote there");
        return false;
    }
    return true;
}

/* REPORT [iova, iova + len) at rp, logged at lp, and judge the bitmap as
 * the running case's claim: a rejection, a reply without the bitmap and
 * a wrong bit are all its own. */
static void judge_report(struct vuc_ctx *ctx, uint64_t iova, uint64_t len,
                         uint64_t rp, uint64_t lp, const char *what)
{
    struct want w;
    struct got g;
    char eb[16];

    if (!want_init(&w, iova, len, rp, lp)) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    if (report_get(ctx, iova, len, rp, ctx->c->id, &g) < 0)
        goto out;
    if (g.rejected && rp < 4096)
        /* the spec requires only a power of two; the kernel refuses
         * report pages below 4096 */
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "%s: REPORT at %llu bytes, below 4096, was rejected "
                    "with errno %s (the spec asks only for a power of two; "
                    "the kernel refuses report pages below 4096)",
                    what, (unsigned long long)rp,
                    vuc_errno_name(g.err, eb, sizeof(eb)));
    else if (g.rejected)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "%s: REPORT at page size %llu while logging failed with "
                    "errno %s",
                    what, (unsigned long long)rp,
                    vuc_errno_name(g.err, eb, sizeof(eb)));
    else if (bitmap_ok(ctx, &g, &w, iova, rp, ctx->c->id, what))
        vuc_check(ctx);
out:
    free(g.bm);
    want_free(&w);
}

/* ---- PROBE ---- */

/* dirty.probe.start: PROBE of START with SET succeeds when START works. */
static void probe_start(struct vuc_ctx *ctx, struct dmamem *m)
{
    struct vuc_reply r;
    uint32_t err = 0;
    int rc;

    if (!fresh(ctx, m, false))
        return;
    rc = probe_req(ctx, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE of DMA_LOGGING_START with SET");
        return;
    }
    rc = !r.is_error;
    vuc_reply_release(&r);
    if (rc) {
        vuc_check(ctx);
        return;
    }
    /* PROBE says no: does a START of mapped memory work anyway? */
    if (!map_mem(ctx, m))
        return;
    rc = start_req(ctx, &r, &err);
    if (rc < 0)
        return;
    if (rc == 0) {
        vuc_verdict(ctx, VUC_SKIP, "the device does not support DMA logging");
        return;
    }
    vuc_reply_release(&r);
    vuc_verdict(ctx, VUC_VIOLATION(ctx),
                "PROBE of DMA_LOGGING_START with SET fails, yet LOGGING_START "
                "works (\"These features can also be probed to determine "
                "whether the device supports DMA logging\")");
}

/* dirty.probe.stop, dirty.probe.report: with START supported, PROBE of
 * feature c->a with c->b succeeds. */
static void probe(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (c->a == VUC_FEATURE_DMA_LOGGING_START) {
        probe_start(ctx, &m);
        goto out;
    }
    if (!setup(ctx, &m, false))
        goto out;
    rc = probe_req(ctx, c->a | c->b, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE");
        goto out;
    }
    if (r.is_error)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "DMA_LOGGING_START is supported but PROBE of feature %u "
                    "with %s fails (errno %s): START, STOP and REPORT come "
                    "together",
                    c->a, c->b == VUC_FEATURE_GET ? "GET" : "SET",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/* ---- what the shared setup steps rest on ---- */

/* dirty.dma.map-unmap: the test memory can be lent and taken back. */
static void map_unmap(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;

    (void)c;
    if (fresh(ctx, &m, true) && unmap_mem(ctx, &m))
        vuc_check(ctx);
    mem_free(&m);
}

/* dirty.dma.write-lands: the profile's stimulus DMA-writes mapped memory
 * without an error (the writes of the bitmap cases, at LOG_PAGE). */
static void write_lands(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;

    (void)c;
    if (dma_available(ctx) && fresh(ctx, &m, true) && do_writes(ctx, LOG_PAGE))
        vuc_check(ctx);
    mem_free(&m);
}

/* dirty.start.valid: a START of the mapped memory is accepted. */
static void start_valid(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page;

    (void)c;
    if (setup(ctx, &m, true) && start_ok(ctx, &page))
        vuc_check(ctx);
    mem_free(&m);
}

/* Judge the page size a START reply returns for hint `hint`: a power of
 * two ("page size"; the spec's page sizes are bits of pgsizes) of at
 * least 4096 (the kernel's smallest report page). */
static void judge_page(struct vuc_ctx *ctx, const struct vuc_reply *r,
                       uint64_t hint)
{
    uint64_t page;

    switch (reply_page(r, &page)) {
    case 0:
        vuc_client_trace_note(ctx->cl,
                              "# START with hint %llu: the device "
                              "logs at %llu",
                              (unsigned long long)hint,
                              (unsigned long long)page);
        vuc_check(ctx);
        break;
    case -ENODATA:
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "START with page size %llu was accepted, but its reply "
                    "(%zu payload bytes) carries no page size (\"On output "
                    "the device will return the page size it selected\")",
                    (unsigned long long)hint, r->payload_len);
        break;
    case -EINVAL:
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "START with page size %llu was accepted and the reply "
                    "says the device logs at %llu bytes, which is not a "
                    "page size (a power of two)",
                    (unsigned long long)hint, (unsigned long long)page);
        break;
    default:
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "START with page size %llu was accepted and the reply "
                    "says the device logs at %llu bytes (kernel rule: vfio "
                    "core refuses REPORT page sizes below 4096, so a client "
                    "cannot read the log at the size it was kept at)",
                    (unsigned long long)hint, (unsigned long long)page);
        break;
    }
}

/* A fresh device logging the mapped test memory, the START reply in *r
 * (the caller releases it); false after a verdict. */
static bool started(struct vuc_ctx *ctx, struct dmamem *m, struct vuc_reply *r)
{
    uint32_t err = 0;
    char eb[16];
    int rc;

    if (!setup(ctx, m, true))
        return false;
    rc = start_req(ctx, r, &err);
    if (rc == 0)
        vuc_blocked(ctx, OWN_START,
                    "LOGGING_START of the mapped test memory was rejected "
                    "with errno %s",
                    vuc_errno_name(err, eb, sizeof(eb)));
    return rc > 0;
}

/* dirty.start.page-size-returned */
static void page_returned(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;

    (void)c;
    if (!started(ctx, &m, &r))
        goto out;
    judge_page(ctx, &r, LOG_PAGE);
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/* dirty.start.reply-echo: "Upon success, the response data field will be
 * the same as the request, unless the page size was changed": all but
 * the page size (dirty.start.page-size-returned's) comes back as sent. */
static void reply_echo(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_log_control lc = {.page_size = LOG_PAGE, .num_ranges = 1};
    uint8_t want[VUC_LOG_CONTROL_SIZE + VUC_LOG_RANGE_SIZE];
    struct dmamem m = DMAMEM_INIT;
    struct vuc_feature f;
    struct vuc_reply r;

    (void)c;
    vuc_log_control_encode(&lc, &one_range, want, sizeof(want));
    if (!started(ctx, &m, &r))
        goto out;
    if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        f.data_len != sizeof(want) ||
        memcmp(f.data + 8, want + 8, sizeof(want) - 8) != 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "the START reply's data (%zu bytes) is not the request's "
                    "(%zu bytes: page_size, num_ranges, reserved and the "
                    "range) beyond the page size (\"the response data field "
                    "will be the same as the request, unless the page size "
                    "was changed\")",
                    r.payload_len >= VUC_FEATURE_HDR_SIZE
                        ? r.payload_len - VUC_FEATURE_HDR_SIZE
                        : 0,
                    sizeof(want));
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/*
 * dirty.report.clean: memory nothing wrote reports clean, at every page
 * size and scale, with no help from the device: 256 MiB of a memfd
 * (65536 pages of 4 KiB) logged, then REPORTs of all of it at 4096 (finer
 * than the device's page when it logs coarser), at the device's page and
 * at 16 times it, and of one 4 KiB page at 16 times the device's page
 * (a range smaller than one report page). Each bitmap must be all zero
 * (its size is the page-size cases' and outside-zero's to judge).
 */
#define CLEAN_IOVA 0x200000000ull
#define CLEAN_LEN  (256ull << 20)

static bool clean_report(struct vuc_ctx *ctx, uint64_t len, uint64_t rp,
                         uint64_t page)
{
    /* a REPORT refused, or without the bitmap it needs, at a page size
     * is the page-size case's to judge; what is set is this case's */
    const char *owner = rp < page    ? "dirty.report.page-size-half"
                        : rp == page ? OWN_REPORT
                                     : "dirty.report.page-size-16x";
    struct got g;
    char eb[16];
    bool ok = true;

    vuc_client_trace_note(ctx->cl, "# REPORT of %llu bytes at %llu",
                          (unsigned long long)len, (unsigned long long)rp);
    if (report_get(ctx, CLEAN_IOVA, len, rp, owner, &g) < 0)
        return false;
    if (g.rejected) {
        vuc_blocked(ctx, owner,
                    "a REPORT of %llu logged bytes at page size %llu was "
                    "rejected with errno %s",
                    (unsigned long long)len, (unsigned long long)rp,
                    vuc_errno_name(g.err, eb, sizeof(eb)));
        return false;
    }
    for (size_t i = 0; ok && i < g.need; i++)
        if (g.bm[i] != 0) {
            vuc_verdict(ctx, VUC_FAIL,
                        "nothing wrote the logged memory, yet the REPORT of "
                        "%llu bytes at page size %llu sets bits in bitmap "
                        "byte %zu (0x%02x)",
                        (unsigned long long)len, (unsigned long long)rp, i,
                        g.bm[i]);
            ok = false;
        }
    free(g.bm);
    if (ok)
        vuc_check(ctx);
    return ok;
}

/* The reply to a setup request owned by `owner`: true when it succeeded
 * (the caller releases *r), false after a verdict. */
static bool owned_reply(struct vuc_ctx *ctx, const char *owner, int rc,
                        struct vuc_reply *r, const char *what)
{
    char eb[16];

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, what);
        return false;
    }
    if (r->is_error) {
        vuc_blocked(ctx, owner, "%s was rejected with errno %s", what,
                    vuc_errno_name(r->error, eb, sizeof(eb)));
        vuc_reply_release(r);
        return false;
    }
    return true;
}

static void report_clean(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_log_range range = {CLEAN_IOVA, CLEAN_LEN};
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .addr = CLEAN_IOVA,
                             .size = CLEAN_LEN};
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    const char *prev;
    uint8_t p[32];
    uint64_t page;
    int fd = -1, rc;

    (void)c;
    if (!setup(ctx, &m, false))
        goto out;
    fd = memfd_create("vucert-clean", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)CLEAN_LEN) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
        goto out;
    }
    prev = vuc_setup_begin(ctx, OWN_MAP);
    vuc_dma_map_encode(&dm, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), &fd, 1, &r);
    if (!owned_reply(ctx, OWN_MAP, rc, &r, "DMA_MAP of 256 MiB of a memfd"))
        goto out;
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    prev = vuc_setup_begin(ctx, OWN_START);
    rc = log_start(ctx, LOG_PAGE, &range, 1, &r);
    if (!owned_reply(ctx, OWN_START, rc, &r, "LOGGING_START of 256 MiB"))
        goto out;
    if (reply_page(&r, &page) != 0)
        page = LOG_PAGE; /* dirty.start.page-size-returned's to judge */
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    if (page > CLEAN_LEN / 256) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device logs at %llu-byte pages, too coarse for 256 "
                    "MiB to hold 256 of them",
                    (unsigned long long)page);
        goto out;
    }
    (void)(clean_report(ctx, CLEAN_LEN, 4096, page) &&
           clean_report(ctx, CLEAN_LEN, page, page) &&
           clean_report(ctx, CLEAN_LEN, 16 * page, page) &&
           clean_report(ctx, 4096, 16 * page, page));
out:
    if (fd >= 0)
        close(fd);
    mem_free(&m);
}

/* dirty.stop.valid: a STOP while logging is accepted. */
static void stop_valid(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page;

    (void)c;
    if (start_logging(ctx, &m, &page) && stop_ok(ctx))
        vuc_check(ctx);
    mem_free(&m);
}

/* ---- requests that must be rejected ---- */

static void report_before_start(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    int rc;

    (void)c;
    if (setup(ctx, &m, true)) {
        rc = log_report(ctx, MEM_IOVA, 64 * LOG_PAGE, LOG_PAGE, 0, &r);
        expect_rejected(ctx, rc, &r, "REPORT with logging stopped",
                        "\"This operation is only valid if logging of dirty "
                        "pages has been previously started\"");
    }
    mem_free(&m);
}

static void start_twice(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    uint64_t page;
    int rc;

    (void)c;
    if (start_logging(ctx, &m, &page)) {
        rc = log_start(ctx, LOG_PAGE, &one_range, 1, &r);
        expect_rejected(ctx, rc, &r, "a second START while logging",
                        "kernel rule: \"Another start is not allowed in the "
                        "meantime\" (linux/vfio.h)");
    }
    mem_free(&m);
}

/* START with a page-size hint (c->a) no device can log at: rejected, or
 * answered with the page size the device chose instead. */
static void start_bad_page(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    int rc;

    if (!setup(ctx, &m, true))
        goto out;
    rc = log_start(ctx, c->a, &one_range, 1, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_START");
        goto out;
    }
    if (r.is_error) {
        vuc_client_trace_note(ctx->cl, "# the hint is refused");
        vuc_check(ctx);
    } else {
        judge_page(ctx, &r, c->a);
    }
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/* START with ranges the kernel rejects. The ranges are aligned to 2 MiB
 * where alignment is not what is wrong with them, so that a device logging
 * at any page up to that size rejects them for the reason meant. */
static const struct vuc_log_range overflow_range[] = {{0 - 2 * MIB, 4 * MIB}};
static const struct vuc_log_range unaligned_range[] = {
    {MEM_IOVA + 1, LOG_PAGE}};
static const struct vuc_log_range overlap_ranges[] = {
    {MEM_IOVA, 4 * MIB}, {MEM_IOVA + 2 * MIB, 4 * MIB}};

struct bad_start {
    const struct vuc_log_range *ranges;
    uint32_t n;
    const char *what, *why;
};

static const struct bad_start bs_overflow = {
    overflow_range, 1, "START with a range whose iova + length wraps",
    "kernel rule: vfio core refuses it with EOVERFLOW"};
static const struct bad_start bs_unaligned = {
    unaligned_range, 1, "START with a range not aligned to the page size",
    "kernel rule: vfio core refuses ranges not aligned to page_size"};
static const struct bad_start bs_overlap = {
    overlap_ranges, 2, "START with overlapping ranges",
    "kernel rule: vfio core refuses overlapping ranges"};

/* dirty.start.num-ranges: a START whose num_ranges says 2 ranges where
 * one follows, then 1 where two follow, is refused (and starts nothing,
 * so a right START after it works). */
static void start_num_ranges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const struct vuc_log_range halves[] = {
        {MEM_IOVA, MEM_LEN / 2}, {MEM_IOVA + MEM_LEN / 2, MEM_LEN / 2}};
    static const struct {
        uint32_t sent, said;
        const char *what;
    } v[] = {{1, 2, "START saying 2 ranges with 1 sent"},
             {2, 1, "START saying 1 range with 2 sent"}};
    struct dmamem m = DMAMEM_INIT;

    (void)c;
    if (!setup(ctx, &m, true))
        goto out;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct vuc_log_control lc = {.page_size = LOG_PAGE,
                                     .num_ranges = v[i].sent};
        uint8_t buf[VUC_LOG_CONTROL_SIZE + 2 * VUC_LOG_RANGE_SIZE];
        size_t len = VUC_LOG_CONTROL_SIZE + v[i].sent * VUC_LOG_RANGE_SIZE;
        struct vuc_reply r;
        int rc;

        vuc_log_control_encode(&lc, halves, buf, sizeof(buf));
        vuc_put_u32(buf + 8, v[i].said);
        rc = vuc_client_feature(
            ctx->cl, VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START,
            (uint32_t)(VUC_FEATURE_HDR_SIZE + len), buf, len, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, v[i].what);
            goto out;
        }
        if (!r.is_error) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "%s was accepted (the ranges are not num_ranges "
                        "entries of 16 bytes; Security Considerations: input "
                        "should be validated)",
                        v[i].what);
            vuc_reply_release(&r);
            goto out;
        }
        vuc_reply_release(&r);
        vuc_check(ctx);
    }
out:
    mem_free(&m);
}

static void start_bad_ranges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct bad_start *b = c->arg;
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    int rc;

    if (setup(ctx, &m, true)) {
        rc = log_start(ctx, LOG_PAGE, b->ranges, b->n, &r);
        expect_rejected(ctx, rc, &r, b->what, b->why);
    }
    mem_free(&m);
}

/* REPORT with a page size (c->a) that is not a power of two */
static void report_bad_page(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    uint64_t page;
    int rc;

    if (start_logging(ctx, &m, &page)) {
        rc = log_report(ctx, MEM_IOVA, 64 * page, c->a, 0, &r);
        expect_rejected(ctx, rc, &r,
                        "REPORT with a page size that is not a power of two",
                        "\"page_size ... must be a power of two\"");
    }
    mem_free(&m);
}

static void report_after_stop(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    uint64_t page;
    int rc;

    (void)c;
    if (start_logging(ctx, &m, &page) && stop_ok(ctx)) {
        rc = log_report(ctx, MEM_IOVA, 64 * page, page, 0, &r);
        expect_rejected(ctx, rc, &r, "REPORT after STOP",
                        "STOP ended the logging that made REPORT valid "
                        "(\"This operation is only valid if logging of dirty "
                        "pages has been previously started\")");
    }
    mem_free(&m);
}

/* ---- bitmap content ---- */

/* dirty.report.page-size-*: the whole range at c->a/16 x the page size
 * the device logs at */
static void report_scaled(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page = prepare(ctx, &m);
    char what[96];

    if (page != 0) {
        uint64_t rp = page * c->a / 16;
        snprintf(what, sizeof(what), "report page %llu, logging page %llu",
                 (unsigned long long)rp, (unsigned long long)page);
        judge_report(ctx, MEM_IOVA, (uint64_t)PAGES * page, rp, page, what);
    }
    mem_free(&m);
}

/* dirty.report.range-edges: a sub-range whose first and last pages were
 * written, 296 pages long (not a multiple of 64) */
static void range_edges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page = prepare(ctx, &m);

    (void)c;
    if (page != 0)
        judge_report(ctx, MEM_IOVA + 5 * page, 296 * page, page, page,
                     "a 296-page report from page 5 to page 300");
    mem_free(&m);
}

/* dirty.report.outside-zero: with dirty pages on both sides of a 61-page
 * report, the bits past its end (the tail of its last word) read 0, and
 * the bitmap ends with that word: the reply is the request "with the
 * bitmap added on the end", an array of u64s "with 1 bit reporting a
 * page_size unit of IOVA" of the range asked for, so a word or byte more
 * reports IOVA nobody asked about. The bits inside are range-edges' to
 * judge. */
static void outside_zero(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page = prepare(ctx, &m);
    uint64_t nbits = 61;
    struct got g = {0};
    char eb[16];

    (void)c;
    if (page == 0 || report_get(ctx, MEM_IOVA + 2 * page, nbits * page, page,
                                OWN_SUB, &g) < 0)
        goto out;
    if (g.rejected) {
        vuc_blocked(ctx, OWN_SUB,
                    "REPORT of pages 2 to 62 of the logged range failed with "
                    "errno %s",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
        goto out;
    }
    if (g.len > g.need) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a %llu-page report carries a %zu-byte bitmap, where the "
                    "range needs %zu (%llu bits in whole u64 words): the "
                    "reply is the request \"with the bitmap added on the "
                    "end\", 1 bit \"reporting a page_size unit of IOVA\" "
                    "of the requested range",
                    (unsigned long long)nbits, g.len, g.need,
                    (unsigned long long)nbits);
        goto out;
    }
    /* bit n is bit n % 64 of u64 word n / 64 */
    for (size_t i = 0; i < g.len / 8; i++) {
        uint64_t first = (uint64_t)i * 64, past = got_word(&g, i);
        if (first + 64 <= nbits)
            continue;
        if (first < nbits)
            past &= ~0ull << (nbits - first);
        if (past != 0) {
            uint64_t n = (uint64_t)i * 64 + (unsigned)__builtin_ctzll(past);
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "a %llu-page report from page 2, between dirty pages "
                        "1 and 63, sets bit %llu, past its end (\"The bits "
                        "outside of the requested range must be zero\")",
                        (unsigned long long)nbits, (unsigned long long)n);
            goto out;
        }
    }
    vuc_check(ctx);
out:
    free(g.bm);
    mem_free(&m);
}

/* True when no bit of the first g->need bytes is set. */
static bool all_clear(const struct got *g, size_t *at)
{
    for (size_t i = 0; i < g->need; i++) {
        if (g->bm[i] != 0) {
            *at = i;
            return false;
        }
    }
    return true;
}

/*
 * dirty.report.across-mappings / .into-unmapped: two adjacent DMA
 * mappings of XMAP_LEN each (two memfds), logged as one range, nothing
 * written. c->a picks the REPORT window, in halves of a mapping from
 * XMAP_IOVA: [1, 3) crosses from the first mapping into the second, [3, 5)
 * from the second into IOVA that is neither mapped nor logged.
 *
 * Across the mappings the range is logged memory like any other: the
 * REPORT must be served ("returns the dirty bitmap for a specific IOVA
 * range"), its bits clear. Past the mappings the spec says nothing of a
 * REPORT of IOVA that was never mapped or logged: refusing it is the
 * server's choice (noted), but a bitmap it returns may set no bit there,
 * or anywhere, since nothing wrote (and nothing can write unmapped IOVA).
 * The bitmap's size is dirty.report.outside-zero's to judge. Before it,
 * each half-mapping of the window that is mapped is reported on its own,
 * a setup step: bits there are dirty.report.clean's (memory nothing wrote
 * reports clean), so what the crossing REPORT shows is about crossing.
 */
#define XMAP_IOVA 0x300000000ull
#define XMAP_LEN  (16ull << 20)

/* DMA_MAP of [iova, iova + XMAP_LEN) backed by fd, owned by OWN_MAP. */
static bool xmap_one(struct vuc_ctx *ctx, uint64_t iova, int fd)
{
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .addr = iova,
                             .size = XMAP_LEN};
    const char *prev = vuc_setup_begin(ctx, OWN_MAP);
    struct vuc_reply r;
    uint8_t p[32];
    int rc;

    vuc_dma_map_encode(&dm, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), &fd, 1, &r);
    if (!owned_reply(ctx, OWN_MAP, rc, &r,
                     "DMA_MAP of 16 MiB of a memfd beside another mapping"))
        return false;
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    return true;
}

/* DMA_UNMAP of a mapping an earlier case may have left (reply ignored). */
static bool xunmap_one(struct vuc_ctx *ctx, uint64_t iova)
{
    struct vuc_dma_unmap du = {.argsz = 24, .addr = iova, .size = XMAP_LEN};
    struct vuc_reply r;
    uint8_t p[24];

    vuc_dma_unmap_encode(&du, p, sizeof(p));
    return quiet(
        ctx,
        vuc_client_call(ctx->cl, VUC_CMD_DMA_UNMAP, p, sizeof(p), NULL, 0, &r),
        &r, OWN_MAP, "DMA_UNMAP");
}

static void report_xmap(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct vuc_log_range range = {XMAP_IOVA, 2 * XMAP_LEN};
    uint64_t half = XMAP_LEN / 2, from = XMAP_IOVA + c->a * half;
    bool unmapped = c->a == 3;
    struct dmamem m = DMAMEM_INIT;
    struct got g = {0};
    struct vuc_reply r;
    const char *prev;
    int fd[2] = {-1, -1}, rc;
    uint64_t page;
    char eb[16];
    size_t at;

    if (!setup(ctx, &m, false) || !xunmap_one(ctx, XMAP_IOVA) ||
        !xunmap_one(ctx, XMAP_IOVA + XMAP_LEN))
        goto out;
    for (unsigned i = 0; i < 2; i++) {
        fd[i] = memfd_create("vucert-xmap", MFD_CLOEXEC);
        if (fd[i] < 0 || ftruncate(fd[i], (off_t)XMAP_LEN) < 0) {
            vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
            goto out;
        }
        if (!xmap_one(ctx, XMAP_IOVA + (uint64_t)i * XMAP_LEN, fd[i]))
            goto out;
    }
    prev = vuc_setup_begin(ctx, OWN_START);
    rc = log_start(ctx, LOG_PAGE, &range, 1, &r);
    if (!owned_reply(ctx, OWN_START, rc, &r,
                     "LOGGING_START of two adjacent 16 MiB mappings as one "
                     "range"))
        goto out;
    if (reply_page(&r, &page) != 0)
        page = LOG_PAGE; /* dirty.start.page-size-returned's to judge */
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    if (page > half / 64) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device logs at %llu-byte pages, too coarse for 8 MiB "
                    "to hold 64 of them",
                    (unsigned long long)page);
        goto out;
    }
    /* the mapped IOVA of the window, one mapping at a time: memory
     * nothing wrote reports clean (dirty.report.clean's claim; it also
     * reads and clears what START may have marked) */
    for (uint64_t a = from; a < from + 2 * half && a < XMAP_IOVA + 2 * XMAP_LEN;
         a += half) {
        bool clean_ok;

        prev = vuc_setup_begin(ctx, OWN_REPORT);
        if (report_get(ctx, a, half, page, OWN_REPORT, &g) < 0)
            goto out;
        if (g.rejected) {
            vuc_blocked(ctx, OWN_REPORT,
                        "a REPORT of 8 MiB inside one DMA mapping failed "
                        "with errno %s",
                        vuc_errno_name(g.err, eb, sizeof(eb)));
            goto out;
        }
        vuc_setup_end(ctx, prev);
        clean_ok = all_clear(&g, &at);
        free(g.bm);
        g.bm = NULL;
        if (!clean_ok) {
            vuc_blocked(ctx, "dirty.report.clean",
                        "nothing wrote the mappings, yet a REPORT of 8 MiB "
                        "inside one of them sets bits (byte %zu)",
                        at);
            goto out;
        }
    }
    vuc_client_trace_note(ctx->cl, "# REPORT of [0x%llx, 0x%llx) at %llu",
                          (unsigned long long)from,
                          (unsigned long long)(from + 2 * half),
                          (unsigned long long)page);
    if (report_get(ctx, from, 2 * half, page, ctx->c->id, &g) < 0)
        goto out;
    if (g.rejected && unmapped) {
        vuc_note(ctx,
                 "a REPORT from the second mapping into IOVA never mapped nor "
                 "logged was refused with errno %s (the spec says nothing of "
                 "such a range)",
                 vuc_errno_name(g.err, eb, sizeof(eb)));
        vuc_check(ctx);
    } else if (g.rejected) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a REPORT of 16 MiB of logged memory, from the middle of "
                    "one DMA mapping to the middle of the next, failed with "
                    "errno %s (REPORT \"returns the dirty bitmap for a "
                    "specific IOVA range\")",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
    } else if (!all_clear(&g, &at)) {
        uint64_t addr = from + (uint64_t)at * 8 * page;
        vuc_verdict(
            ctx, VUC_VIOLATION(ctx),
            "nothing wrote the two mappings, yet the REPORT of "
            "[0x%llx, 0x%llx) at page size %llu sets bits in bitmap "
            "byte %zu (0x%02x, pages from 0x%llx, %s)",
            (unsigned long long)from, (unsigned long long)(from + 2 * half),
            (unsigned long long)page, at, g.bm[at], (unsigned long long)addr,
            addr >= XMAP_IOVA + 2 * XMAP_LEN ? "IOVA never mapped"
                                             : "mapped memory");
    } else {
        vuc_check(ctx);
    }
out:
    free(g.bm);
    for (unsigned i = 0; i < 2; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    mem_free(&m);
}

/* dirty.report.second-empty: REPORT clears what it reported */
/*
 * dirty.report.reads-clean: "Only DMA writes are logged." With logging
 * on and the log read once (whatever START left in it is other cases'
 * to judge), the device DMA-reads pages 1..3 and 300..302 of the range
 * (the profile's dma_read); the next REPORT shows no page dirty.
 */
static void reads_clean(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page = 0, len, status;
    const char *prev;
    struct got g = {0};
    struct stim sm;
    char eb[16];
    size_t at;

    (void)c;
    if (ctx->profile == NULL || ctx->profile->n_dma_reads == 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the profile names no DMA read stimulus (dma_read), so "
                    "vucert cannot make the device read guest memory");
        return;
    }
    if (!start_logging(ctx, &m, &page))
        goto out;
    len = (uint64_t)PAGES * page;
    if (page > MAX_PAGE) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device logs at %llu-byte pages, larger than the "
                    "test memory's %u pages hold",
                    (unsigned long long)page, PAGES);
        goto out;
    }
    prev = vuc_setup_begin(ctx, OWN_REPORT);
    if (report_get(ctx, MEM_IOVA, len, page, OWN_REPORT, &g) < 0)
        goto out;
    if (g.rejected) {
        vuc_blocked(ctx, OWN_REPORT, "a REPORT failed with errno %s",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
        goto out;
    }
    vuc_setup_end(ctx, prev);
    free(g.bm);
    g.bm = NULL;
    sm = stim_of(ctx->profile, true);
    for (int k = 0; k < 2; k++) {
        uint64_t at_page = k == 0 ? 1 : 300;

        if (stimulus(ctx, &sm, MEM_IOVA + at_page * page, 3 * page, &status) <
            0)
            goto out;
        if (status != 0) {
            vuc_verdict(ctx, VUC_ERROR,
                        "the profile's dma_read of 3 pages at 0x%llx left "
                        "status %llu: the profile or the device does not "
                        "read mapped memory",
                        (unsigned long long)(MEM_IOVA + at_page * page),
                        (unsigned long long)status);
            goto out;
        }
    }
    if (report_get(ctx, MEM_IOVA, len, page, OWN_REPORT, &g) < 0)
        goto out;
    if (g.rejected)
        vuc_blocked(ctx, OWN_REPORT,
                    "the REPORT after the reads failed with "
                    "errno %s",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
    else if (!all_clear(&g, &at))
        vuc_verdict(ctx, VUC_FAIL,
                    "after the device only DMA-read pages 1-3 and 300-302, "
                    "REPORT shows dirty pages (byte %zu of the bitmap is "
                    "0x%02x; \"Only DMA writes are logged\")",
                    at, g.bm[at]);
    else
        vuc_check(ctx);
out:
    free(g.bm);
    mem_free(&m);
}

static void second_empty(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page = prepare(ctx, &m), len = (uint64_t)PAGES * page;
    struct want w = {0};
    struct got g = {0};
    const char *prev;
    char eb[16];
    size_t at;

    (void)c;
    if (page == 0)
        goto out;
    if (!want_init(&w, MEM_IOVA, len, page, page)) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        goto out;
    }
    /* the first REPORT, at the logging page size, is page-size-same's */
    prev = vuc_setup_begin(ctx, OWN_REPORT);
    if (report_get(ctx, MEM_IOVA, len, page, OWN_REPORT, &g) < 0)
        goto out;
    if (g.rejected) {
        vuc_blocked(ctx, OWN_REPORT, "the first REPORT failed with errno %s",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
        goto out;
    }
    if (!bitmap_ok(ctx, &g, &w, MEM_IOVA, page, OWN_REPORT, "the first REPORT"))
        goto out;
    vuc_setup_end(ctx, prev);
    free(g.bm);
    g.bm = NULL;
    if (report_get(ctx, MEM_IOVA, len, page, OWN_REPORT, &g) < 0)
        goto out;
    if (g.rejected)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a second REPORT, with logging on, failed with errno %s; "
                    "kernel rule: REPORT reads back and clears the log, so "
                    "it would be empty",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
    else if (!all_clear(&g, &at))
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a second REPORT with no new DMA writes still shows dirty "
                    "pages (byte %zu is 0x%02x); kernel rule: REPORT \"read"
                    "[s] back and clear[s] the device DMA log\"",
                    at, g.bm[at]);
    else
        vuc_check(ctx);
out:
    free(g.bm);
    want_free(&w);
    mem_free(&m);
}

/* dirty.start.all-ranges: num_ranges = 0 logs every mapped range */
static void all_ranges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    bool stim = ctx->profile != NULL && ctx->profile->n_dma_writes > 0;
    struct want w = {0};
    struct got g = {0};
    struct vuc_reply r;
    const char *prev;
    uint64_t page, len;
    char eb[16];
    int rc;

    (void)c;
    if (!setup(ctx, &m, true))
        goto out;
    rc = log_start(ctx, LOG_PAGE, NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_START");
        goto out;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "START with num_ranges = 0 was rejected with errno %s; "
                    "\"A value of zero indicates that all writes should be "
                    "logged\" (the kernel rejects it)",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        goto out;
    }
    if (reply_page(&r, &page) != 0) {
        vuc_note(ctx,
                 "the START reply returns no usable page size (%llu); "
                 "vucert assumes the %u it asked for (" OWN_PAGE
                 " judges the reply)",
                 (unsigned long long)page, LOG_PAGE);
        page = LOG_PAGE;
    }
    vuc_reply_release(&r);
    if (!stim) {
        /* without a stimulus, only whether START accepts it */
        vuc_client_trace_note(ctx->cl, "# no dma_write in the profile: only "
                                       "the START is judged");
        vuc_check(ctx);
        goto out;
    }
    if (page > MAX_PAGE) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device logs at %llu-byte pages; vucert's writes "
                    "cover logging pages of up to %u bytes",
                    (unsigned long long)page, MAX_PAGE);
        goto out;
    }
    len = (uint64_t)PAGES * page;
    if (!do_writes(ctx, page))
        goto out;
    if (!want_init(&w, MEM_IOVA, len, page, page)) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        goto out;
    }
    prev = vuc_setup_begin(ctx, OWN_REPORT);
    if (report_get(ctx, MEM_IOVA, len, page, OWN_REPORT, &g) < 0)
        goto out;
    if (g.rejected) {
        vuc_blocked(ctx, OWN_REPORT,
                    "REPORT of the memory logged with num_ranges = 0 failed "
                    "with errno %s",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
        goto out;
    }
    vuc_setup_end(ctx, prev);
    /* Bits where nothing was written are a wrong REPORT (page-size-same's
     * claim); written pages that read clean are writes not logged. */
    for (size_t i = 0; i < w.words; i++) {
        if (got_word(&g, i) & ~w.allow[i]) {
            vuc_setup_begin(ctx, OWN_REPORT);
            (void)bitmap_ok(ctx, &g, &w, MEM_IOVA, page, OWN_REPORT,
                            "REPORT with num_ranges = 0");
            goto out;
        }
    }
    for (size_t i = 0; i < w.words; i++) {
        uint64_t miss = w.req[i] & ~got_word(&g, i);
        if (miss != 0) {
            uint64_t n = (uint64_t)i * 64 + (unsigned)__builtin_ctzll(miss);
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "with num_ranges = 0, the device wrote the %llu-byte "
                        "page at 0x%llx but REPORT shows it clean (\"A value "
                        "of zero indicates that all writes should be "
                        "logged\")",
                        (unsigned long long)page,
                        (unsigned long long)(MEM_IOVA + n * page));
            goto out;
        }
    }
    vuc_check(ctx);
out:
    free(g.bm);
    want_free(&w);
    mem_free(&m);
}

/* dirty.unmap.while-logging: an unmapped range's old dirty bits do not
 * come back on the memory mapped there next */
static void unmap_while_logging(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    uint64_t page = prepare(ctx, &m), len = (uint64_t)PAGES * page;
    struct got g = {0};
    const char *prev;
    char eb[16];
    size_t at;

    (void)c;
    if (page == 0 || !unmap_mem(ctx, &m) || !map_mem(ctx, &m))
        goto out;
    prev = vuc_setup_begin(ctx, OWN_REPORT);
    if (report_get(ctx, MEM_IOVA, len, page, OWN_REPORT, &g) < 0)
        goto out;
    vuc_setup_end(ctx, prev);
    if (g.rejected)
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "after DMA_UNMAP of the logged memory and a new DMA_MAP "
                    "there, REPORT of it is refused (errno %s): the device "
                    "dropped its log with the mapping",
                    vuc_errno_name(g.err, eb, sizeof(eb)));
    else if (!all_clear(&g, &at))
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "after DMA_UNMAP of the logged memory and a new DMA_MAP "
                    "at the same address, REPORT still shows the old "
                    "mapping's dirty pages (byte %zu = 0x%02x); the spec "
                    "says nothing of the log of unmapped memory",
                    at, g.bm[at]);
    else
        vuc_check(ctx);
out:
    free(g.bm);
    mem_free(&m);
}

/* dirty.disconnect.stops-logging */
static void disconnect_stops(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    const char *prev;
    struct vuc_reply r;
    uint64_t page;
    int rc;

    (void)c;
    if (!setup(ctx, &m, true))
        goto out;
    /* A served REPORT tells that logging goes on only where a REPORT
     * without logging is refused (dirty.report.before-start's claim). */
    prev = vuc_setup_begin(ctx, OWN_BEFORE);
    rc = log_report(ctx, MEM_IOVA, 64 * LOG_PAGE, LOG_PAGE, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        goto out;
    }
    if (!r.is_error) {
        vuc_blocked(ctx, OWN_BEFORE,
                    "REPORT with logging stopped was accepted, so a REPORT "
                    "served after the reconnect would not tell whether "
                    "logging went on");
        vuc_reply_release(&r);
        goto out;
    }
    vuc_reply_release(&r);
    vuc_setup_end(ctx, prev);
    if (!start_ok(ctx, &page))
        goto out;
    vuc_client_trace_note(ctx->cl, "# disconnect while logging, reconnect");
    if (vuc_ctx_connect(ctx) == NULL)
        goto out;
    rc = log_report(ctx, MEM_IOVA, 64 * page, page, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        goto out;
    }
    if (r.is_error)
        vuc_check(ctx);
    else
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "after the client that started logging disconnected, a "
                    "new client's REPORT is served: logging outlived the "
                    "client whose memory it tracked (spec: Client "
                    "Disconnection unmaps the client's memory and keeps the "
                    "device state, and says nothing of logging)");
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/* dirty.report.argsz-small: the reply says how much room it needs */
static void argsz_small(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = DMAMEM_INIT;
    struct vuc_reply r;
    struct vuc_feature f;
    uint32_t room = VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE;
    uint32_t need = room + 8 * 16;
    uint64_t page;
    int rc;

    (void)c;
    if (!start_logging(ctx, &m, &page))
        goto out;
    /* 1024 pages: a 128-byte bitmap; room for the header only */
    rc = log_report(ctx, MEM_IOVA, 1024 * page, page, room, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        goto out;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "a REPORT whose bitmap does not fit argsz is rejected; "
                    "spec: Message sizes describes a reply with the argsz "
                    "needed instead");
    } else if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
               r.payload_len > room) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the reply carries %zu payload bytes where argsz allowed "
                    "%u (\"In a request, it defines the maximum expected "
                    "reply payload size\"; \"the full payload is not "
                    "included in the reply\")",
                    r.payload_len, room);
    } else if (f.argsz != need) {
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "the reply's argsz is %u; the full reply needs %u "
                    "(spec: Message sizes: \"the argsz field in the reply "
                    "indicates the needed size\")",
                    f.argsz, need);
    } else {
        vuc_check(ctx);
    }
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/*
 * The table. Each case's source is the keyword of the sentence it judges
 * (quoted beside it); a sentence that defines what a request does or
 * returns ("returns", "will return", "start/stop DMA logging") is the
 * request's meaning, and is held as a MUST.
 */
size_t vuc_cases_dirty(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    /* START/STOP: "These features can also be probed to determine whether
     * the device supports DMA logging"; DEVICE_FEATURE: "the probe will
     * only return success if all of the indicated methods are supported" */
    VUC_CASE("dirty.probe.start", "PROBE of DMA_LOGGING_START with SET",
             SPEC_START, "can also be probed", probe,
             VUC_FEATURE_DMA_LOGGING_START, VUC_FEATURE_SET, NULL);
    VUC_CASE("dirty.probe.stop", "PROBE of DMA_LOGGING_STOP with SET",
             SPEC_START, "can also be probed", probe,
             VUC_FEATURE_DMA_LOGGING_STOP, VUC_FEATURE_SET, NULL);
    /* DEVICE_FEATURE: "VFIO_DEVICE_FEATURE_PROBE instructs the server to
     * probe for feature support" (REPORT is one of the features listed) */
    VUC_CASE("dirty.probe.report", "PROBE of DMA_LOGGING_REPORT with GET",
             "VFIO_USER_DEVICE_FEATURE", "probe for feature support", probe,
             VUC_FEATURE_DMA_LOGGING_REPORT, VUC_FEATURE_GET, NULL);
    /* DMA_MAP: "inform it of the memory regions the server can access";
     * DMA_UNMAP: "no longer available for DMA" (exactly a previous map) */
    VUC_CASE("dirty.dma.map-unmap",
             "the test memory can be mapped with an fd and unmapped", SPEC_MAP,
             "the memory regions the server can access", map_unmap, 0, 0, NULL);
    /* DMA_MAP, as above: the device can write what it was lent (the
     * profile's dma_write makes it) */
    VUC_CASE("dirty.report.reads-clean", "DMA reads leave the log clean",
             SPEC_START, "only", reads_clean, 0, 0, NULL);
    VUC_CASE("negotiate.twin-socket.offered",
             "a server that sends commands enables twin-socket mode",
             "VFIO_USER_VERSION", "strongly recommended", twin_offered, 0, 0,
             NULL);
    VUC_CASE("device.dma.none-before-map",
             "no DMA reaches the client before it maps memory", SPEC_MAP,
             "must be sent before", dma_none_before_map, 0, 0, NULL);
    VUC_CASE("device.dma-write.within-limit",
             "the server's DMA requests keep to the client's limit",
             "Read and Write Operations", "must not exceed", dma_within_limit,
             0, 0, NULL);
    VUC_CASE("dirty.dma.write-lands",
             "the profile's DMA stimulus writes mapped memory", SPEC_MAP,
             "the memory regions the server can access", write_lands, 0, 0,
             NULL);
    /* "Upon VFIO_DEVICE_FEATURE_SET, start/stop DMA logging" */
    VUC_CASE("dirty.start.valid",
             "a START of one mapped, aligned range succeeds", SPEC_START,
             "start/stop DMA logging", start_valid, 0, 0, NULL);
    /* "On output the device will return the page size it selected" */
    VUC_CASE("dirty.start.page-size-returned",
             "START's reply returns the page size the device selected",
             SPEC_START, "will return the page size it selected", page_returned,
             0, 0, NULL);
    VUC_CASE("dirty.start.reply-echo",
             "START's reply repeats the request but for the page size",
             SPEC_START, "will be the same as the request", reply_echo, 0, 0,
             NULL);
    /* REPORT: "the bitmap ... indicating dirty pages"; nothing wrote */
    VUC_CASE("dirty.report.clean",
             "memory nothing wrote reports clean at every page size",
             SPEC_REPORT, "must", report_clean, 0, 0, NULL);
    /* "Upon VFIO_DEVICE_FEATURE_SET, start/stop DMA logging" */
    VUC_CASE("dirty.stop.valid", "a STOP while logging succeeds", SPEC_START,
             "start/stop DMA logging", stop_valid, 0, 0, NULL);
    /* "This operation is only valid if logging of dirty pages has been
     * previously started" */
    VUC_CASE("dirty.report.before-start", "REPORT before START is rejected",
             SPEC_REPORT, "only valid if", report_before_start, 0, 0, NULL);
    /* linux/vfio.h: "Another start is not allowed in the meantime" */
    VUC_CASE("dirty.start.twice", "a second START while logging is rejected",
             SPEC_START, "kernel uAPI", start_twice, 0, 0, NULL);
    /* "If the device cannot do the hinted page size then it's the driver's
     * choice which page size to pick ... On output the device will return
     * the page size it selected" */
    VUC_CASE("dirty.start.page-size-zero", "START with page size 0", SPEC_START,
             "will return the page size it selected", start_bad_page, 0, 0,
             NULL);
    VUC_CASE("dirty.start.page-size-not-pow2", "START with page size 12288",
             SPEC_START, "will return the page size it selected",
             start_bad_page, 12288, 0, NULL);
    /* the spec sets no rule on START ranges; vfio core refuses a wrapping
     * range (EOVERFLOW), an unaligned one and overlapping ones (EINVAL) */
    VUC_CASE("dirty.start.overflow", "a range whose iova + length overflows",
             SPEC_START, "kernel uAPI", start_bad_ranges, 0, 0, &bs_overflow);
    VUC_CASE("dirty.start.unaligned", "an unaligned range is rejected",
             SPEC_START, "kernel uAPI", start_bad_ranges, 0, 0, &bs_unaligned);
    VUC_CASE("dirty.start.overlap", "overlapping ranges are rejected",
             SPEC_START, "kernel uAPI", start_bad_ranges, 0, 0, &bs_overlap);
    VUC_CASE("dirty.start.num-ranges",
             "a START whose num_ranges disagrees with its ranges is refused",
             "Security Considerations", "should", start_num_ranges, 0, 0, NULL);
    /* "A value of zero indicates that all writes should be logged" */
    VUC_CASE("dirty.start.all-ranges", "num_ranges = 0 logs every mapping",
             SPEC_START, "should be logged", all_ranges, 0, 0, NULL);
    /* "page_size is the unit of granularity of the bitmap, and must be a
     * power of two" */
    VUC_CASE("dirty.report.page-size-bad",
             "REPORT with a page size that is not a power of two", SPEC_REPORT,
             "must be a power of two", report_bad_page, 12288, 0, NULL);
    /* "returns the dirty bitmap for a specific IOVA range", "1 bit
     * reporting a page_size unit of IOVA"; page_size "doesn't have to
     * match the value given to START because the driver will format its
     * internal logging to match the reporting page size" */
    VUC_CASE("dirty.report.page-size-half",
             "exact bitmap at half the logging page size", SPEC_REPORT,
             "returns the dirty bitmap", report_scaled, 8, 0, NULL);
    VUC_CASE("dirty.report.page-size-same",
             "exact bitmap at the logging page size", SPEC_REPORT,
             "returns the dirty bitmap", report_scaled, 16, 0, NULL);
    VUC_CASE("dirty.report.page-size-double",
             "exact bitmap at twice the logging page size", SPEC_REPORT,
             "returns the dirty bitmap", report_scaled, 32, 0, NULL);
    VUC_CASE("dirty.report.page-size-16x",
             "exact bitmap at 16 times the logging page size", SPEC_REPORT,
             "returns the dirty bitmap", report_scaled, 256, 0, NULL);
    /* "returns the dirty bitmap for a specific IOVA range" */
    VUC_CASE("dirty.report.range-edges",
             "the first and last page of a report range", SPEC_REPORT,
             "returns the dirty bitmap", range_edges, 0, 0, NULL);
    /* "The bits outside of the requested range must be zero"; "The data
     * field of the response is identical, except with the bitmap added on
     * the end", the bitmap "1 bit reporting a page_size unit of IOVA" */
    VUC_CASE("dirty.report.outside-zero",
             "bits outside the range are zero, the bitmap no longer than it",
             SPEC_REPORT, "must be zero", outside_zero, 0, 0, NULL);
    /* "returns the dirty bitmap for a specific IOVA range": any range
     * of logged memory, whatever DMA mappings it spans */
    VUC_CASE("dirty.report.across-mappings",
             "a REPORT across two adjacent DMA mappings is served, clean",
             SPEC_REPORT, "returns the dirty bitmap", report_xmap, 1, 0, NULL);
    /* the same, for a range that runs past the mappings: the spec says
     * nothing of IOVA never mapped or logged, so a refusal is allowed;
     * a bitmap must still show no page nothing wrote */
    VUC_CASE("dirty.report.into-unmapped",
             "a REPORT running into unmapped IOVA is refused or clean",
             SPEC_REPORT, "returns the dirty bitmap", report_xmap, 3, 0, NULL);
    /* the spec says nothing of clearing; linux/vfio.h: REPORT will "read
     * back and clear the device DMA log" */
    VUC_CASE("dirty.report.second-empty",
             "a second REPORT with no new writes is empty", SPEC_REPORT,
             "kernel uAPI", second_empty, 0, 0, NULL);
    /* "This operation is only valid if logging of dirty pages has been
     * previously started": a STOP ends what START started */
    VUC_CASE("dirty.report.after-stop", "REPORT after STOP is rejected",
             SPEC_REPORT, "only valid if", report_after_stop, 0, 0, NULL);
    /* Message sizes: "In a reply, the server sets argsz field to the size
     * needed for a full payload size ... the full payload is not included
     * in the reply" */
    VUC_CASE("dirty.report.argsz-small",
             "a REPORT too large for argsz gets the argsz needed",
             "Message sizes", "sets argsz field to the size needed",
             argsz_small, 0, 0, NULL);
    /* silent: DMA_UNMAP speaks of releasing references to the memory, not
     * of the log; Client Disconnection is about disconnects only */
    VUC_CASE("dirty.unmap.while-logging",
             "unmapping a logged range drops its dirty pages", SPEC_START,
             "silent", unmap_while_logging, 0, 0, NULL);
    /* silent: Client Disconnection "should" unmap the client's memory and
     * close its IRQ fds, and otherwise retain the device state; it names
     * no rule for logging */
    VUC_CASE("dirty.disconnect.stops-logging",
             "logging stops when its client disconnects",
             "Client Disconnection", "silent", disconnect_stops, 0, 0, NULL);
    return n;
}
