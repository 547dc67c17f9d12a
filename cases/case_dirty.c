// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty.*: DMA dirty-page logging (spec: VFIO_DEVICE_FEATURE_DMA_LOGGING_
 * START/STOP and _REPORT; design.md: num_ranges = 0, REPORT page size,
 * clearing, bitmap layout). A wrong bit is silently corrupted guest memory
 * after migration, so bitmaps are checked bit for bit.
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

/* The guest memory vucert lends the device: 1 GiB-aligned, PAGES pages of
 * the logging page size (not a multiple of 64, so the last bitmap word is
 * partly outside the range). */
#define MEM_IOVA 0x40000000ull
#define PAGES    1000u
#define LOG_PAGE 8192u

struct dmamem {
    int fd;
    uint8_t *ptr;
    uint64_t iova, len;
};

static void mem_free(struct dmamem *m)
{
    if (m->ptr != NULL && m->ptr != MAP_FAILED)
        munmap(m->ptr, m->len);
    if (m->fd >= 0)
        close(m->fd);
    m->ptr = NULL;
    m->fd = -1;
}

/* DMA_MAP len bytes at iova, backed by a memfd passed to the server. */
static bool map_mem(struct vuc_ctx *ctx, struct dmamem *m, uint64_t iova,
                    uint64_t len)
{
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .addr = iova,
                             .size = len};
    uint8_t p[32];
    struct vuc_reply r;
    char eb[16];
    int rc;

    m->fd = memfd_create("vucert-guest", MFD_CLOEXEC);
    m->iova = iova;
    m->len = len;
    m->ptr = NULL;
    if (m->fd < 0 || ftruncate(m->fd, (off_t)len) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
        return false;
    }
    m->ptr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (m->ptr == MAP_FAILED) {
        vuc_verdict(ctx, VUC_ERROR, "mmap: %s", strerror(errno));
        return false;
    }
    vuc_dma_map_encode(&dm, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), &m->fd, 1, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DMA_MAP");
        return false;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_FAIL,
                    "setup: DMA_MAP of %llu bytes at 0x%llx with an fd "
                    "failed with errno %s",
                    (unsigned long long)len, (unsigned long long)iova,
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    return true;
}

static int unmap_mem(struct vuc_ctx *ctx, const struct dmamem *m,
                     struct vuc_reply *r)
{
    struct vuc_dma_unmap du = {.argsz = 24, .addr = m->iova, .size = m->len};
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

/* PROBE of DMA_LOGGING_START with SET: 1 supported, 0 not, < 0 after a
 * verdict. */
static int probe_start(struct vuc_ctx *ctx)
{
    struct vuc_reply r;
    int ok;
    int rc = vuc_client_feature(ctx->cl,
                                VUC_FEATURE_PROBE | VUC_FEATURE_SET |
                                    VUC_FEATURE_DMA_LOGGING_START,
                                VUC_FEATURE_HDR_SIZE, NULL, 0, &r);

    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE of DMA_LOGGING_START");
        return rc;
    }
    ok = !r.is_error;
    vuc_reply_release(&r);
    return ok;
}

static int log_start(struct vuc_ctx *ctx, uint64_t page,
                     const struct vuc_log_range *ranges, uint32_t n,
                     struct vuc_reply *r);
static int log_stop(struct vuc_ctx *ctx, struct vuc_reply *r);

/* Does a real LOGGING_START work? (It is stopped again.) */
static bool start_works(struct vuc_ctx *ctx)
{
    static const struct vuc_log_range rg = {0x40000000ull, 64 * 8192ull};
    struct vuc_reply r;
    bool ok;

    if (log_start(ctx, 8192, &rg, 1, &r) < 0)
        return false;
    ok = !r.is_error;
    vuc_reply_release(&r);
    if (ok && log_stop(ctx, &r) == 0)
        vuc_reply_release(&r);
    return ok;
}

/* true when the device logs: PROBE says so, or (a device whose PROBE is
 * wrong, judged by dirty.probe.start) a real START works. A SKIP verdict
 * otherwise. */
static bool logging_supported(struct vuc_ctx *ctx)
{
    int p = probe_start(ctx);

    if (p < 0)
        return false;
    if (p == 1 || start_works(ctx))
        return true;
    vuc_verdict(ctx, VUC_SKIP,
                "the device does not support DMA logging (PROBE of "
                "DMA_LOGGING_START with SET fails, and so does START)");
    return false;
}

/* A fresh connection and device, with logging support; false after a
 * verdict. */
static bool setup(struct vuc_ctx *ctx)
{
    return vuc_ctx_connect(ctx) != NULL && vuc_case_fresh(ctx) &&
           logging_supported(ctx);
}

/* A request that must be rejected; judged here. */
static void expect_rejected(struct vuc_ctx *ctx, int rc, struct vuc_reply *r,
                            const char *what, const char *why)
{
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, what);
        return;
    }
    if (!r->is_error)
        vuc_verdict(ctx, VUC_FAIL, "%s was accepted; %s", what, why);
    vuc_reply_release(r);
}

/* ---- PROBE ---- */

static void probe(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    char eb[16];
    int rc;

    if (c->a == VUC_FEATURE_DMA_LOGGING_START) {
        /* the gate of every dirty case: judged on its own */
        if (vuc_ctx_connect(ctx) == NULL || !vuc_case_fresh(ctx))
            return;
        rc = probe_start(ctx);
        if (rc == 0 && start_works(ctx))
            vuc_verdict(ctx, VUC_FAIL,
                        "PROBE of DMA_LOGGING_START with SET fails, yet "
                        "LOGGING_START works (\"the probe will only return "
                        "success if all of the indicated methods are "
                        "supported\")");
        else if (rc == 0)
            vuc_verdict(ctx, VUC_SKIP,
                        "the device does not support DMA logging");
        return;
    }
    if (!setup(ctx))
        return;
    rc = vuc_client_feature(ctx->cl, VUC_FEATURE_PROBE | c->a | c->b,
                            VUC_FEATURE_HDR_SIZE, NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "PROBE");
        return;
    }
    if (r.is_error)
        vuc_verdict(ctx, VUC_FAIL,
                    "DMA_LOGGING_START is supported but PROBE of feature %u "
                    "fails (errno %s): START, STOP and REPORT come together",
                    c->a, vuc_errno_name(r.error, eb, sizeof(eb)));
    vuc_reply_release(&r);
}

/* ---- requests that must be rejected ---- */

static void report_before_start(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int rc;

    (void)c;
    if (!setup(ctx))
        return;
    rc = log_report(ctx, MEM_IOVA, 64 * 4096, 4096, 0, &r);
    expect_rejected(ctx, rc, &r, "REPORT before any START",
                    "\"This operation is only valid if logging of dirty "
                    "pages has been previously started\"");
}

static const struct vuc_log_range one_range = {MEM_IOVA,
                                               (uint64_t)PAGES *LOG_PAGE};

/* A fresh device with logging supported and started over one_range at
 * LOG_PAGE (setup of the cases that judge what follows); false after a
 * verdict. */
static bool start_logging(struct vuc_ctx *ctx)
{
    struct vuc_reply r;
    int rc;

    if (!setup(ctx))
        return false;
    rc = log_start(ctx, LOG_PAGE, &one_range, 1, &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, rc < 0 ? VUC_ERROR : VUC_FAIL,
                    "setup: LOGGING_START failed");
        vuc_reply_release(&r);
        return false;
    }
    vuc_reply_release(&r);
    return true;
}

static void start_twice(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int rc;

    (void)c;
    if (!start_logging(ctx))
        return;
    rc = log_start(ctx, LOG_PAGE, &one_range, 1, &r);
    expect_rejected(ctx, rc, &r, "a second START while logging",
                    "another start is not allowed before a STOP (uAPI)");
}

/* START with a bad page-size hint (c->a): rejected, or a page size the
 * device chose instead (the hint is only a hint) */
static void start_bad_page(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    struct vuc_feature f;
    struct vuc_log_control lc;
    int rc;

    if (!setup(ctx))
        return;
    rc = log_start(ctx, c->a, &one_range, 1, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_START");
        return;
    }
    if (r.is_error) {
        vuc_reply_release(&r);
        return;
    }
    if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        vuc_log_control_decode(f.data, f.data_len, &lc) < 0) {
        vuc_verdict(ctx, VUC_FAIL, "the START reply cannot be decoded");
    } else if (lc.page_size < 4096 ||
               (lc.page_size & (lc.page_size - 1)) != 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "START with page size %u was accepted and the reply "
                    "says the device logs at %llu bytes, which is not a page "
                    "size (a power of two of at least 4096)",
                    c->a, (unsigned long long)lc.page_size);
    } else {
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "START with page size hint %u was accepted; the device "
                    "chose %llu",
                    c->a, (unsigned long long)lc.page_size);
    }
    vuc_reply_release(&r);
}

/* START with ranges that must be rejected */
static const struct vuc_log_range overflow_range[] = {
    {0xffffffffffffe000ull, 0x4000}};
static const struct vuc_log_range unaligned_range[] = {
    {MEM_IOVA + 1, LOG_PAGE}};
static const struct vuc_log_range overlap_ranges[] = {
    {MEM_IOVA, 4 * LOG_PAGE}, {MEM_IOVA + 2 * LOG_PAGE, 4 * LOG_PAGE}};

struct bad_start {
    const struct vuc_log_range *ranges;
    uint32_t n;
    const char *what, *why;
};

static const struct bad_start bs_overflow = {
    overflow_range, 1, "START with a range whose iova + length overflows",
    "the range wraps around the address space"};
static const struct bad_start bs_unaligned = {
    unaligned_range, 1, "START with a range not aligned to the page size",
    "ranges must be aligned to the logging page size (uAPI)"};
static const struct bad_start bs_overlap = {overlap_ranges, 2,
                                            "START with overlapping ranges",
                                            "ranges must not overlap (uAPI)"};

static void start_bad_ranges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    const struct bad_start *b = c->arg;
    struct vuc_reply r;
    int rc;

    if (!setup(ctx))
        return;
    rc = log_start(ctx, LOG_PAGE, b->ranges, b->n, &r);
    expect_rejected(ctx, rc, &r, b->what, b->why);
}

/* REPORT with a bad page size (c->a) after a START */
static void report_bad_page(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int rc;

    if (!start_logging(ctx))
        return;
    rc = log_report(ctx, MEM_IOVA, 64 * 8192, c->a, VUC_FEATURE_HDR_SIZE + 4096,
                    &r);
    expect_rejected(ctx, rc, &r,
                    "REPORT with a page size that is not a "
                    "power of two",
                    "\"page_size ... must be a power of two\"");
}

static void report_after_stop(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int rc;

    (void)c;
    if (!start_logging(ctx))
        return;
    rc = log_stop(ctx, &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, rc < 0 ? VUC_ERROR : VUC_FAIL,
                    "setup: LOGGING_STOP failed");
        vuc_reply_release(&r);
        return;
    }
    vuc_reply_release(&r);
    rc = log_report(ctx, MEM_IOVA, 64 * LOG_PAGE, LOG_PAGE, 0, &r);
    expect_rejected(ctx, rc, &r, "REPORT after STOP",
                    "logging is not running (\"If DMA logging is not enabled, "
                    "an error will be returned\", uAPI)");
}

/* ---- bitmap content ---- */

/* Guest writes, in logging pages of the 1000-page range: (page, offset in
 * the page, bytes). */
static const struct {
    uint32_t page, off, len;
} writes[] = {
    {0, 0, 8},                    /* the first page of the range */
    {1, 4095, 2},                 /* across the 4 KiB half of a page */
    {5, 100, 50},                 /* a few bytes mid-page */
    {63, 0, 2 * LOG_PAGE},        /* pages 63 and 64: across a u64 word */
    {127, LOG_PAGE - 8, 16},      /* pages 127 and 128 */
    {300, 0, 3 * LOG_PAGE},       /* pages 300..302 */
    {PAGES - 1, LOG_PAGE - 8, 8}, /* the last page of the range */
};

/* Make the device DMA-write len bytes at iova through the profile. */
static bool device_write(struct vuc_ctx *ctx, uint64_t iova, uint64_t len)
{
    const struct vuc_profile *p = ctx->profile;
    uint8_t v[8];

    for (size_t i = 0; i < p->n_dma_writes; i++) {
        const struct vuc_reg_write *w = &p->dma_writes[i];
        uint64_t val = w->kind == VUC_VALUE_IOVA     ? iova
                       : w->kind == VUC_VALUE_LENGTH ? len
                                                     : w->value;
        vuc_put_u64(v, val);
        if (vuc_client_region_write(ctx->cl, w->reg.region, w->reg.offset, v,
                                    w->reg.size, NULL) < 0) {
            vuc_verdict(ctx, VUC_ERROR,
                        "the profile's dma_write register write failed: %s",
                        vuc_client_last_error(ctx->cl));
            return false;
        }
    }
    if (p->has_dma_status) {
        uint8_t st[8] = {0};
        if (vuc_case_reg_read(ctx, &p->dma_status, st, p->dma_status.size) <
            0) {
            vuc_verdict(ctx, VUC_ERROR, "reading the DMA status failed");
            return false;
        }
        if (vuc_get_u64(st) != 0) {
            vuc_verdict(ctx, VUC_ERROR,
                        "the device reports DMA status %llu for a write of "
                        "%llu bytes at 0x%llx",
                        (unsigned long long)vuc_get_u64(st),
                        (unsigned long long)len, (unsigned long long)iova);
            return false;
        }
    }
    return true;
}

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

/*
 * Map the range, START logging at LOG_PAGE over it (num_ranges = nr, 0 for
 * "all mapped"), and make the device perform `writes`. Returns the logging
 * page size the device chose, or 0 after a verdict.
 */
static uint64_t prepare(struct vuc_ctx *ctx, struct dmamem *m, uint32_t nr)
{
    struct vuc_reply r;
    struct vuc_feature f;
    struct vuc_log_control lc;
    uint64_t page;
    int rc;

    if (!setup(ctx) || !dma_available(ctx) ||
        !map_mem(ctx, m, MEM_IOVA, (uint64_t)PAGES * LOG_PAGE))
        return 0;
    rc = log_start(ctx, LOG_PAGE, &one_range, nr, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_START");
        return 0;
    }
    if (r.is_error || vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        vuc_log_control_decode(f.data, f.data_len, &lc) < 0) {
        vuc_verdict(ctx, VUC_FAIL,
                    "setup: LOGGING_START of %u pages of %u bytes at 0x%llx "
                    "failed",
                    PAGES, LOG_PAGE, (unsigned long long)MEM_IOVA);
        vuc_reply_release(&r);
        return 0;
    }
    page = lc.page_size;
    vuc_reply_release(&r);
    if (page != LOG_PAGE) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the device logs at %llu-byte pages, not the %u vucert "
                    "asked for; the bitmap cases are written for %u",
                    (unsigned long long)page, LOG_PAGE, LOG_PAGE);
        return 0;
    }
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
        if (!device_write(ctx,
                          MEM_IOVA + (uint64_t)writes[i].page * LOG_PAGE +
                              writes[i].off,
                          writes[i].len))
            return 0;
    return page;
}

/*
 * The bitmap the spec requires for a report of [iova, iova+len) at `page`:
 * the device logs whole logging pages (LOG_PAGE), so a report page is
 * dirty when it overlaps a logging page that a write touched. At a coarser
 * report page that is "any byte written in it"; at a finer one each
 * logging bit is repeated (spec: "replicating bits if the internal page
 * size is lower than requested"). Layout: design.md.
 */
static uint64_t *expected_bitmap(uint64_t iova, uint64_t len, uint64_t page,
                                 size_t *words)
{
    uint64_t npages = (len + page - 1) / page;
    uint64_t *bm;

    *words = (size_t)((npages + 63) / 64);
    bm = calloc(*words ? *words : 1, sizeof(uint64_t));
    if (bm == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        uint64_t a =
            MEM_IOVA + (uint64_t)writes[i].page * LOG_PAGE + writes[i].off;
        uint64_t e = a + writes[i].len;
        /* the logging pages the write dirtied */
        uint64_t la = a / LOG_PAGE * LOG_PAGE;
        uint64_t le = (e + LOG_PAGE - 1) / LOG_PAGE * LOG_PAGE;
        /* every report page overlapping them, inside the report */
        uint64_t lo = la > iova ? la : iova;
        uint64_t hi = le < iova + len ? le : iova + len;
        for (uint64_t x = lo; x < hi;
             x = iova + ((x - iova) / page + 1) * page) {
            uint64_t n = (x - iova) / page;
            bm[n / 64] |= 1ull << (n % 64);
        }
    }
    return bm;
}

/* REPORT [iova, iova+len) at page and compare with the expected bitmap. */
static bool check_report(struct vuc_ctx *ctx, uint64_t iova, uint64_t len,
                         uint64_t page, const char *what)
{
    struct vuc_reply r;
    struct vuc_feature f;
    struct vuc_log_report rep;
    size_t words;
    uint64_t *want = expected_bitmap(iova, len, page, &words);
    char eb[16];
    bool ok = false;
    int rc;

    if (want == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return false;
    }
    rc = log_report(ctx, iova, len, page, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        goto out;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_FAIL,
                    "%s: REPORT at page size %llu failed with errno %s", what,
                    (unsigned long long)page,
                    vuc_errno_name(r.error, eb, sizeof(eb)));
        goto out_r;
    }
    if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        vuc_log_report_decode(f.data, f.data_len, &rep) < 0 ||
        rep.bitmap_len != words * 8) {
        vuc_verdict(ctx, VUC_FAIL,
                    "%s: the REPORT reply carries %zu payload bytes; a bitmap "
                    "of %zu bytes was expected after the 24-byte header",
                    what, r.payload_len, words * 8);
        goto out_r;
    }
    for (size_t w = 0; w < words; w++) {
        uint64_t got = vuc_get_u64(rep.bitmap + 8 * w);
        if (got != want[w]) {
            uint64_t diff = got ^ want[w];
            unsigned bit = (unsigned)__builtin_ctzll(diff);
            uint64_t n = (uint64_t)w * 64 + bit;
            vuc_verdict(ctx, VUC_FAIL,
                        "%s: bitmap word %zu is 0x%016llx, expected "
                        "0x%016llx: bit %llu (the %llu-byte page at 0x%llx) "
                        "is %s",
                        what, w, (unsigned long long)got,
                        (unsigned long long)want[w], (unsigned long long)n,
                        (unsigned long long)page,
                        (unsigned long long)(iova + n * page),
                        (got >> bit) & 1 ? "set but the device never wrote "
                                           "there"
                                         : "clear but the device wrote there");
            goto out_r;
        }
    }
    ok = true;
out_r:
    vuc_reply_release(&r);
out:
    free(want);
    return ok;
}

/* dirty.report.page-size-*: the whole range at c->a/16 x LOG_PAGE */
static void report_scaled(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = {.fd = -1};
    uint64_t page = prepare(ctx, &m, 1);
    char what[96];

    if (page != 0) {
        uint64_t rp = page * c->a / 16;
        snprintf(what, sizeof(what), "report page %llu, logging page %llu",
                 (unsigned long long)rp, (unsigned long long)page);
        check_report(ctx, MEM_IOVA, (uint64_t)PAGES * page, rp, what);
    }
    mem_free(&m);
}

/* dirty.report.range-edges: a sub-range whose first and last pages were
 * written, 70 pages long (not a multiple of 64) */
static void range_edges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = {.fd = -1};
    uint64_t page = prepare(ctx, &m, 1);

    (void)c;
    if (page != 0)
        check_report(ctx, MEM_IOVA + 5 * page, 296 * page, page,
                     "a 296-page report from page 5 to page 300");
    mem_free(&m);
}

/* dirty.report.outside-zero: dirty pages just outside the reported range
 * (and the tail bits of its last word) must read 0 */
static void outside_zero(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = {.fd = -1};
    uint64_t page = prepare(ctx, &m, 1);

    (void)c;
    if (page != 0)
        check_report(ctx, MEM_IOVA + 2 * page, 61 * page, page,
                     "a 61-page report from page 2, between dirty pages 1 "
                     "and 63");
    mem_free(&m);
}

/* dirty.report.second-empty: REPORT clears what it reported */
static void second_empty(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = {.fd = -1};
    uint64_t page = prepare(ctx, &m, 1);
    struct vuc_reply r;
    struct vuc_feature f;
    struct vuc_log_report rep;

    (void)c;
    if (page == 0 || !check_report(ctx, MEM_IOVA, (uint64_t)PAGES * page, page,
                                   "the first REPORT"))
        goto out;
    if (log_report(ctx, MEM_IOVA, (uint64_t)PAGES * page, page, 0, &r) < 0 ||
        r.is_error || vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        vuc_log_report_decode(f.data, f.data_len, &rep) < 0) {
        vuc_verdict(ctx, VUC_FAIL, "the second REPORT failed");
        vuc_reply_release(&r);
        goto out;
    }
    for (size_t i = 0; i < rep.bitmap_len; i++) {
        if (rep.bitmap[i] != 0) {
            vuc_verdict(ctx, VUC_NON_STRICT,
                        "a second REPORT with no new DMA writes still shows "
                        "dirty pages (byte %zu is 0x%02x); the kernel reads "
                        "and clears the log (design.md)",
                        i, rep.bitmap[i]);
            break;
        }
    }
    vuc_reply_release(&r);
out:
    mem_free(&m);
}

/* dirty.start.all-ranges: num_ranges = 0 logs every mapped range */
static void all_ranges(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = {.fd = -1};
    struct vuc_reply r;
    int rc;

    (void)c;
    if (!setup(ctx))
        return;
    if (ctx->profile == NULL || ctx->profile->n_dma_writes == 0) {
        /* without a stimulus, only whether START accepts it */
        rc = log_start(ctx, LOG_PAGE, NULL, 0, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "LOGGING_START");
            return;
        }
        if (r.is_error)
            vuc_verdict(ctx, VUC_NON_STRICT,
                        "START with num_ranges = 0 was rejected; the spec "
                        "says \"A value of zero indicates that all writes "
                        "should be logged\" (the kernel rejects it)");
        vuc_reply_release(&r);
        return;
    }
    if (prepare(ctx, &m, 0) == 0) {
        if (ctx->res->verdict == VUC_FAIL)
            ctx->res->verdict = VUC_NON_STRICT; /* START rejected it */
        goto out;
    }
    check_report(ctx, MEM_IOVA, (uint64_t)PAGES * LOG_PAGE, LOG_PAGE,
                 "logging every mapped range (num_ranges = 0)");
out:
    mem_free(&m);
}

/* dirty.unmap.while-logging: an unmapped range's old dirty bits must not
 * come back on the memory mapped there next */
static void unmap_while_logging(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct dmamem m = {.fd = -1}, m2 = {.fd = -1};
    uint64_t page = prepare(ctx, &m, 1);
    struct vuc_reply r;
    struct vuc_feature f;
    struct vuc_log_report rep;
    int rc;

    (void)c;
    if (page == 0)
        goto out;
    rc = unmap_mem(ctx, &m, &r);
    if (rc < 0 || r.is_error) {
        vuc_verdict(ctx, VUC_FAIL, "DMA_UNMAP of a logged range failed");
        vuc_reply_release(&r);
        goto out;
    }
    vuc_reply_release(&r);
    if (!map_mem(ctx, &m2, MEM_IOVA, (uint64_t)PAGES * page))
        goto out;
    rc = log_report(ctx, MEM_IOVA, (uint64_t)PAGES * page, page, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        goto out;
    }
    if (!r.is_error && vuc_feature_decode(r.payload, r.payload_len, &f) >= 0 &&
        vuc_log_report_decode(f.data, f.data_len, &rep) >= 0) {
        for (size_t i = 0; i < rep.bitmap_len; i++) {
            if (rep.bitmap[i] != 0) {
                vuc_verdict(ctx, VUC_NON_STRICT,
                            "after DMA_UNMAP of the logged range and a new "
                            "DMA_MAP at the same address, REPORT still shows "
                            "the old mapping's dirty pages (byte %zu = "
                            "0x%02x)",
                            i, rep.bitmap[i]);
                break;
            }
        }
    }
    vuc_reply_release(&r);
out:
    mem_free(&m);
    mem_free(&m2);
}

/* dirty.disconnect.stops-logging */
static void disconnect_stops(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    int rc;

    (void)c;
    if (!start_logging(ctx))
        return;
    vuc_client_trace_note(ctx->cl, "# disconnect while logging, reconnect");
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    rc = log_report(ctx, MEM_IOVA, 64 * LOG_PAGE, LOG_PAGE, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        return;
    }
    if (!r.is_error)
        vuc_verdict(ctx, VUC_NON_STRICT,
                    "after the client that started logging disconnected, a "
                    "new client's REPORT is served: logging outlived the "
                    "client whose memory it tracked (spec: Client "
                    "Disconnection)");
    vuc_reply_release(&r);
}

/* dirty.report.argsz-small: the reply says how much room it needs */
static void argsz_small(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_reply r;
    struct vuc_feature f;
    uint32_t need = VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE + 8 * 16;
    int rc;

    (void)c;
    if (!start_logging(ctx))
        return;
    /* 1024 pages: a 128-byte bitmap; room for the header only */
    rc = log_report(ctx, MEM_IOVA, 1024ull * LOG_PAGE, LOG_PAGE,
                    VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "LOGGING_REPORT");
        return;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_IMPL_DEFINED,
                    "a REPORT whose bitmap does not fit argsz is rejected; "
                    "spec: Message sizes prefers a reply with the argsz "
                    "needed");
    } else if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
               r.payload_len > VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the reply carries %zu payload bytes where argsz allowed "
                    "%u (argsz is the maximum size of the reply payload)",
                    r.payload_len, VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE);
    } else if (f.argsz != need) {
        vuc_verdict(ctx, VUC_FAIL,
                    "the reply's argsz is %u; the full reply needs %u "
                    "(spec: Message sizes: \"the argsz field in the reply "
                    "indicates the needed size\")",
                    f.argsz, need);
    }
    vuc_reply_release(&r);
}

size_t vuc_cases_dirty(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    VUC_CASE("dirty.probe.start", "PROBE of DMA_LOGGING_START with SET",
             SPEC_START, "must", probe, VUC_FEATURE_DMA_LOGGING_START,
             VUC_FEATURE_SET, NULL);
    VUC_CASE("dirty.probe.stop", "PROBE of DMA_LOGGING_STOP with SET",
             SPEC_START, "must", probe, VUC_FEATURE_DMA_LOGGING_STOP,
             VUC_FEATURE_SET, NULL);
    VUC_CASE("dirty.probe.report", "PROBE of DMA_LOGGING_REPORT with GET",
             SPEC_REPORT, "must", probe, VUC_FEATURE_DMA_LOGGING_REPORT,
             VUC_FEATURE_GET, NULL);
    VUC_CASE("dirty.report.before-start", "REPORT before START is rejected",
             SPEC_REPORT, "must", report_before_start, 0, 0, NULL);
    VUC_CASE("dirty.start.twice", "a second START while logging is rejected",
             SPEC_START, "must", start_twice, 0, 0, NULL);
    VUC_CASE("dirty.start.page-size-zero", "START with page size 0", SPEC_START,
             "must", start_bad_page, 0, 0, NULL);
    VUC_CASE("dirty.start.page-size-not-pow2", "START with page size 12288",
             SPEC_START, "must", start_bad_page, 12288, 0, NULL);
    VUC_CASE("dirty.start.overflow", "a range whose iova + length overflows",
             SPEC_START, "must", start_bad_ranges, 0, 0, &bs_overflow);
    VUC_CASE("dirty.start.unaligned", "an unaligned range is rejected",
             SPEC_START, "must", start_bad_ranges, 0, 0, &bs_unaligned);
    VUC_CASE("dirty.start.overlap", "overlapping ranges are rejected",
             SPEC_START, "must", start_bad_ranges, 0, 0, &bs_overlap);
    VUC_CASE("dirty.start.all-ranges", "num_ranges = 0 logs every mapping",
             SPEC_START, "should", all_ranges, 0, 0, NULL);
    VUC_CASE("dirty.report.page-size-bad",
             "REPORT with a page size that is not a power of two", SPEC_REPORT,
             "must", report_bad_page, 12288, 0, NULL);
    VUC_CASE("dirty.report.page-size-half",
             "exact bitmap at half the logging page size", SPEC_REPORT, "must",
             report_scaled, 8, 0, NULL);
    VUC_CASE("dirty.report.page-size-same",
             "exact bitmap at the logging page size", SPEC_REPORT, "must",
             report_scaled, 16, 0, NULL);
    VUC_CASE("dirty.report.page-size-double",
             "exact bitmap at twice the logging page size", SPEC_REPORT, "must",
             report_scaled, 32, 0, NULL);
    VUC_CASE("dirty.report.page-size-16x",
             "exact bitmap at 16 times the logging page size", SPEC_REPORT,
             "must", report_scaled, 256, 0, NULL);
    VUC_CASE("dirty.report.range-edges",
             "the first and last page of a report range", SPEC_REPORT, "must",
             range_edges, 0, 0, NULL);
    VUC_CASE("dirty.report.outside-zero", "bits outside the range are zero",
             SPEC_REPORT, "must", outside_zero, 0, 0, NULL);
    VUC_CASE("dirty.report.second-empty",
             "a second REPORT with no new writes is empty", SPEC_REPORT,
             "should", second_empty, 0, 0, NULL);
    VUC_CASE("dirty.report.after-stop", "REPORT after STOP is rejected",
             SPEC_REPORT, "must", report_after_stop, 0, 0, NULL);
    VUC_CASE("dirty.report.argsz-small",
             "a REPORT too large for argsz gets the argsz needed",
             "Message sizes", "must", argsz_small, 0, 0, NULL);
    VUC_CASE("dirty.unmap.while-logging",
             "unmapping a logged range drops its dirty pages", SPEC_START,
             "should", unmap_while_logging, 0, 0, NULL);
    VUC_CASE("dirty.disconnect.stops-logging",
             "logging stops when its client disconnects",
             "Client Disconnection", "should", disconnect_stops, 0, 0, NULL);
    return n;
}
