// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA logging (spec: VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP and
 * _REPORT; docs/decisions.md, DMA logging and Protocol decisions:
 * num_ranges = 0, REPORT page size, clearing, bitmap layout), and the
 * logging quirks.
 *
 * The log is one bitmap per logged range at the logging page size the
 * device picked at START; the DMA engine marks what it writes (dma.c). A
 * REPORT converts the bitmaps of the ranges it overlaps to the page size
 * it asks for (vuc_bitmap_convert: OR when coarser, repeated when finer),
 * then clears what it reported, as the kernel's "read back and clear".
 * Bitmaps above 64 KiB are mmap'ed and never written where no page is
 * dirty, so logging 1 TiB at 4 KiB pages reserves 32 MiB of address
 * space and costs memory only where DMA wrote.
 *
 * Logging belongs to the client whose memory it tracks: it stops on
 * disconnect, like the DMA mappings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/codec.h"
#include "server_priv.h"

/* Bitmaps up to this many bytes are plain allocations. */
#define SMALL_BITMAP 65536u

static bool pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static unsigned ilog2(uint64_t x)
{
    return 63u - (unsigned)__builtin_clzll(x);
}

static uint64_t page_of(const struct dirty *d)
{
    return 1ull << d->shift;
}

/* ---- logged ranges ---- */

static uint64_t bitmap_bytes(uint64_t len, unsigned shift)
{
    return (((len >> shift) + 63) / 64) * 8;
}

/* Free lr and its bitmap; lr is out of the log. */
static void range_free(struct vuc_srv *s, struct log_range *lr)
{
    if (lr->bytes > SMALL_BITMAP)
        srv_big_release(s, (uint8_t *)lr->bm.words, lr->bytes);
    else if (lr->bm.words != &lr->word)
        srv_release(s, lr->bm.words);
    srv_release(s, lr);
}

static void range_free_item(void *lr, void *s)
{
    range_free(s, lr);
}

/* A range of len bytes (a multiple of the page) at iova, with its
 * bitmap, into *out (not yet logged). Returns 0 or ENOMEM. */
static int range_new(struct vuc_srv *s, uint64_t iova, uint64_t len,
                     unsigned shift, struct log_range **out)
{
    uint64_t bytes = bitmap_bytes(len, shift);
    struct log_range *lr;
    void *w;

    *out = NULL;
    if (bytes > SIZE_MAX)
        return ENOMEM;
    lr = srv_alloc(s, sizeof(*lr));
    if (!lr)
        return ENOMEM;
    memset(lr, 0, sizeof(*lr));
    /* Up to 64 pages (a mapping logged by num_ranges 0 is often that
     * small) in the range itself: one allocation, one cache line fewer
     * for a DMA_MAP, a DMA_UNMAP or a write to reach. */
    if (bytes <= sizeof(lr->word)) {
        w = &lr->word;
    } else if (bytes > SMALL_BITMAP) {
        w = srv_lazy_alloc(s, (size_t)bytes);
    } else {
        w = srv_alloc(s, (size_t)bytes);
        if (w)
            memset(w, 0, (size_t)bytes);
    }
    if (!w) {
        srv_release(s, lr);
        return ENOMEM;
    }
    lr->iova = iova;
    lr->len = len;
    lr->bytes = (size_t)bytes;
    lr->bm.words = w;
    lr->bm.nbits = len >> shift;
    lr->bm.base = iova;
    lr->bm.shift = shift;
    *out = lr;
    return 0;
}

/* The first range that ends after addr (NULL if none): the one holding
 * addr, else the next one up, at *it. */
static struct log_range *find(const struct dirty *d, uint64_t addr,
                              struct itree_it *it)
{
    return itree_seek(&d->r, addr, it);
}

/* Log lr, which overlaps no logged range: 0 or ENOMEM. */
static int insert(struct dirty *d, struct log_range *lr)
{
    int rc = itree_insert(&d->r, lr->iova, lr->iova + lr->len, lr);

    if (!rc)
        d->bytes += lr->bytes;
    return rc;
}

void dirty_release(struct vuc_srv *s)
{
    struct dirty *d = &s->log;
    const struct itree_mem *mem = d->r.mem;
    bool started = d->started;

    itree_clear(&d->r, range_free_item, s);
    srv_release(s, d->buf);
    memset(d, 0, sizeof(*d));
    itree_init(&d->r, mem);
    d->started = started; /* per connection: vuc_srv_disconnect resets */
}

/*
 * The parts of [a, b) no range covers yet, in order: their number, and
 * the first cap of them into out. Ranges that unmaps left behind may lie
 * anywhere inside a new mapping, so there can be many.
 */
static size_t gaps(const struct dirty *d, uint64_t a, uint64_t b,
                   struct vuc_log_range *out, size_t cap, uint64_t *bytes)
{
    struct itree_it it;
    uint64_t cur = a;
    size_t n = 0;

    *bytes = 0;
    for (const void *x = find(d, a, &it);; x = itree_next(&it)) {
        uint64_t next = x && it.start < b ? it.start : b;

        if (next > cur) {
            if (n < cap) {
                out[n].iova = cur;
                out[n].length = next - cur;
            }
            *bytes += bitmap_bytes(next - cur, d->shift);
            n++;
        }
        if (next >= b)
            break;
        cur = it.end;
        if (cur >= b)
            break;
    }
    return n;
}

/* Gaps cover() takes without an allocation: a new mapping meets few
 * logged ranges, mostly none. */
#define FEW_GAPS 4

/* Log [a, b) (page aligned) where no range does yet. All or nothing:
 * 0, or ENOMEM. */
static int cover(struct vuc_srv *s, uint64_t a, uint64_t b)
{
    struct dirty *d = &s->log;
    struct vuc_log_range few_g[FEW_GAPS], *g = few_g;
    struct log_range *few_lr[FEW_GAPS], **lr = few_lr;
    uint64_t bytes;
    size_t n = gaps(d, a, b, few_g, FEW_GAPS, &bytes), k = 0, logged = 0;
    int err = 0;

    if (n == 0)
        return 0;
    if (d->bytes + bytes > s->log_bitmap_max)
        return ENOMEM;
    if (n > FEW_GAPS) {
        g = srv_alloc(s, n * sizeof(*g));
        lr = srv_alloc(s, n * sizeof(*lr));
        if (!g || !lr)
            err = ENOMEM;
        else
            (void)gaps(d, a, b, g, n, &bytes);
    }
    /* Every range made before any is logged: the walk above saw the
     * log as it is. */
    for (; k < n && !err; k++)
        err = range_new(s, g[k].iova, g[k].length, d->shift, &lr[k]);
    while (!err && logged < k)
        if ((err = insert(d, lr[logged])) == 0)
            logged++;
    if (err) {
        /* All or nothing: what was logged goes again, and what was
         * made is freed (lr[k - 1] is NULL when its making failed). */
        while (logged--) {
            (void)itree_remove(&d->r, lr[logged]->iova);
            d->bytes -= lr[logged]->bytes;
        }
        for (size_t i = 0; i < k; i++)
            if (lr[i])
                range_free(s, lr[i]);
    }
    if (n > FEW_GAPS) {
        srv_release(s, g);
        srv_release(s, lr);
    }
    return err;
}

/* A mapping [iova, iova + size) rounded out to logging pages. The last
 * page of the address space cannot end a range (2^64 does not fit). */
static int cover_map(struct vuc_srv *s, uint64_t iova, uint64_t size)
{
    uint64_t mask = page_of(&s->log) - 1, a = iova & ~mask, b;

    if (__builtin_add_overflow(iova + size, mask, &b))
        b = ~mask; /* ~0 & ~mask: 2^64 - page */
    else
        b &= ~mask;
    return a < b ? cover(s, a, b) : 0;
}

int dirty_mapped(struct vuc_srv *s, uint64_t iova, uint64_t size)
{
    if (!s->log.on || !s->log.all)
        return 0;
    return cover_map(s, iova, size);
}

void dirty_unmapped(struct vuc_srv *s, uint64_t iova, uint64_t size)
{
    struct dirty *d = &s->log;
    uint64_t end = iova + size;
    struct itree_it it;

    /* The memory is gone: its dirty pages mean nothing any more, and a
     * new mapping there must not inherit them. The range stays logged
     * (it is one the client asked for, or, logging every mapping, it is
     * harmless: nothing can write there unmapped). Pages shared with a
     * neighbouring mapping keep their bits (vuc_bitmap_clear clears
     * whole pages only). */
    if (!d->on || srv_quirk(s, VUC_SRV_QUIRK_UNMAP_KEEPS_LOGGING))
        return;
    for (struct log_range *lr = find(d, iova, &it); lr && it.start < end;
         lr = itree_next(&it))
        (void)vuc_bitmap_clear(&lr->bm, iova, end);
}

void dirty_mark(struct vuc_srv *s, uint64_t start, uint64_t end)
{
    struct dirty *d = &s->log;
    struct itree_it it;

    if (!d->on)
        return;
    for (struct log_range *lr = find(d, start, &it); lr && it.start < end;
         lr = itree_next(&it))
        (void)vuc_bitmap_mark(&lr->bm, start, end);
}

/* ---- DIRTY_SIM_PERMILLE (a benchmark and test aid) ---- */

/* Above this many bitmap bytes in all (16 TiB at 4 KiB pages) it does
 * nothing: 1% at 4 KiB touches every page of the lazily allocated log, so
 * one message could otherwise make the server commit up to
 * LOG_BITMAP_MAX (4 GiB). */
#define SIM_BITMAP_MAX (512ull << 20)

/*
 * Of the P pages of bm, pages floor(i * P / k) for i < k =
 * ceil(P * n / 1000) become dirty: k distinct pages, evenly spread, the
 * first one included. i * P / k is stepped exactly as quotient and
 * remainder (no 128-bit product), and each word is written once, with
 * all its new bits. P * n cannot wrap: P < 2^52 pages of >= 4 KiB.
 */
static void simulate_range(struct vuc_bitmap *bm, uint32_t n)
{
    uint64_t pages = bm->nbits, k, dq, dr, q = 0, r = 0, w = 0, acc = 0;

    if (pages == 0)
        return;
    k = (pages * n + 999) / 1000;
    if (k == pages) {
        /* every page: whole words */
        for (uint64_t i = 0; i < pages / 64; i++)
            bm->words[i] = ~0ull;
        if (pages % 64)
            bm->words[pages / 64] |= (1ull << (pages % 64)) - 1;
        return;
    }
    dq = pages / k;
    dr = pages % k;
    for (uint64_t i = 0; i < k; i++) {
        if (q >> 6 != w) {
            if (acc)
                bm->words[w] |= acc;
            w = q >> 6;
            acc = 0;
        }
        acc |= 1ull << (q & 63);
        q += dq;
        r += dr;
        if (r >= k) {
            r -= k;
            q++;
        }
    }
    if (acc)
        bm->words[w] |= acc;
}

void dirty_simulate(struct vuc_srv *s, uint32_t permille)
{
    struct dirty *d = &s->log;
    struct itree_it it;

    /* As a DMA write: only logged ranges record it, mapped or not. */
    if (!d->on || permille < 1 || permille > 1000 || d->bytes > SIM_BITMAP_MAX)
        return;
    for (struct log_range *lr = itree_first(&d->r, &it); lr;
         lr = itree_next(&it))
        simulate_range(&lr->bm, permille);
}

/* ---- LOGGING_START ---- */

static int cmp_range(const void *a, const void *b)
{
    const struct vuc_log_range *x = a, *y = b;

    return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/*
 * One START range, checked in the kernel's order: alignment, then wrap.
 * Returns 0 (*keep false when a quirk cut the range to nothing), or
 * EINVAL / EOVERFLOW.
 */
static int start_range(const struct vuc_srv *s, uint64_t page, uint64_t *iova,
                       uint64_t *len, bool *keep)
{
    uint64_t mask = page - 1, end;

    *keep = true;
    /* quirk start-unaligned-accepted: rounded out to whole pages (an end
     * that rounds up to 2^64 wraps, and is refused below) */
    if (srv_quirk(s, VUC_SRV_QUIRK_START_UNALIGNED) && *len &&
        !__builtin_add_overflow(*iova, *len, &end)) {
        uint64_t a = *iova & ~mask, b;

        if (__builtin_add_overflow(end, mask, &b))
            b = 0;
        else
            b &= ~mask;
        *iova = a;
        *len = b - a;
    }
    if (((*iova | *len) & mask) || *len == 0)
        return EINVAL;
    if (__builtin_add_overflow(*iova, *len, &end)) {
        if (!srv_quirk(s, VUC_SRV_QUIRK_START_OVERFLOW))
            return EOVERFLOW;
        /* quirk start-overflow-accepted: cut at the top, where the last
         * page cannot end a range (2^64 does not fit) */
        if (*iova >= 0 - page)
            *keep = false;
        else
            *len = (0 - page) - *iova;
    }
    return 0;
}

/* Sorted and checked ranges of a START into *out (n of them). Returns 0
 * or EINVAL / EOVERFLOW / ENOMEM, in the kernel's order per range. */
static int start_ranges(struct vuc_srv *s, const struct vuc_log_control *lc,
                        uint64_t page, struct vuc_log_range **out, size_t *n)
{
    struct vuc_log_range *v;
    size_t k = 0, nr = 0;

    *out = NULL;
    *n = 0;
    v = srv_alloc(s,
                  (size_t)(lc->num_ranges ? lc->num_ranges : 1) * sizeof(*v));
    if (!v)
        return ENOMEM;
    for (uint32_t i = 0; i < lc->num_ranges; i++) {
        const uint8_t *p = lc->ranges + (size_t)i * VUC_LOG_RANGE_SIZE;
        uint64_t iova = vuc_get_u64(p), len = vuc_get_u64(p + 8);
        bool keep;
        int err = start_range(s, page, &iova, &len, &keep);

        if (err) {
            srv_release(s, v);
            return err;
        }
        if (!keep)
            continue;
        v[nr].iova = iova;
        v[nr].length = len;
        nr++;
    }
    qsort(v, nr, sizeof(*v), cmp_range);
    for (size_t i = 0; i < nr; i++) {
        struct vuc_log_range *last = k ? &v[k - 1] : NULL;

        if (last && v[i].iova < last->iova + last->length) {
            if (!srv_quirk(s, VUC_SRV_QUIRK_OVERLAP_ACCEPTED)) {
                srv_release(s, v);
                return EINVAL; /* uAPI: ranges must not overlap */
            }
            /* quirk: log the union */
            if (v[i].iova + v[i].length > last->iova + last->length)
                last->length = v[i].iova + v[i].length - last->iova;
            continue;
        }
        v[k++] = v[i];
    }
    *out = v;
    *n = k;
    return 0;
}

/*
 * The logging page size for a hint: the hint itself from 4 KiB to 1 GiB,
 * else the nearest of those. Non-powers of two are the caller's business
 * (rejected, or, quirk, rounded down).
 */
static unsigned pick_shift(uint64_t hint)
{
    unsigned sh = hint ? ilog2(hint) : LOG_MIN_SHIFT;

    if (sh < LOG_MIN_SHIFT)
        sh = LOG_MIN_SHIFT;
    if (sh > LOG_MAX_SHIFT)
        sh = LOG_MAX_SHIFT;
    return sh;
}

/*
 * --logging-page-size: a device that tracks at its own granularity, so
 * ranges aligned to the hint's page are rounded out to whole logging
 * pages; ranges that then overlap or touch are merged (v is sorted, and
 * rounding keeps it so). As under start-unaligned-accepted, an end that rounds
 * up to 2^64 does not fit a range: EOVERFLOW. Returns 0 or EOVERFLOW.
 */
static int round_out(struct vuc_log_range *v, size_t *n, unsigned shift)
{
    uint64_t mask = (1ull << shift) - 1;
    size_t k = 0;

    for (size_t i = 0; i < *n; i++) {
        uint64_t a = v[i].iova & ~mask, b;

        /* v[i].iova + v[i].length does not wrap: start_range checked */
        if (__builtin_add_overflow(v[i].iova + v[i].length, mask, &b))
            return EOVERFLOW;
        b &= ~mask;
        if (k && a <= v[k - 1].iova + v[k - 1].length) {
            if (b > v[k - 1].iova + v[k - 1].length)
                v[k - 1].length = b - v[k - 1].iova;
            continue;
        }
        v[k].iova = a;
        v[k].length = b - a;
        k++;
    }
    *n = k;
    return 0;
}

static int start(struct vuc_srv *s, struct vuc_msg *m,
                 const struct vuc_feature *f, struct srv_reply *r)
{
    struct dirty *d = &s->log;
    struct vuc_log_control lc;
    struct vuc_log_range *v = NULL;
    struct itree_it it;
    size_t nv = 0;
    uint64_t page, hint, total = 0;
    unsigned shift;
    uint8_t *p;
    int rc, err = 0;

    if (f->data_len < VUC_LOG_CONTROL_SIZE)
        return EINVAL;
    /* uAPI: "Another start is not allowed in the meantime"; the quirk
     * replaces the first once the second is found valid */
    if (d->on && !srv_quirk(s, VUC_SRV_QUIRK_START_TWICE))
        return EBUSY;
    hint = vuc_get_u64(f->data);
    if (!pow2(hint) && !srv_quirk(s, VUC_SRV_QUIRK_START_BAD_PAGE_SIZE))
        return EINVAL;
    page = 1ull << pick_shift(hint);
    if (vuc_get_u32(f->data + 8) > LOG_MAX_RANGES)
        return E2BIG; /* as vfio core, before reading the ranges */
    rc = vuc_log_control_decode(f->data, f->data_len, &lc);
    /* bug start-num-ranges-trusted: as many ranges as were sent, at
     * most num_ranges, whatever num_ranges says */
    if (rc < 0 && rc != -EOVERFLOW && f->data_len >= VUC_LOG_CONTROL_SIZE &&
        srv_bug(s, VUC_SRV_BUG(START_NUM_RANGES))) {
        static uint8_t
            fixed[VUC_LOG_CONTROL_SIZE + LOG_MAX_RANGES * VUC_LOG_RANGE_SIZE];
        size_t have = (f->data_len - VUC_LOG_CONTROL_SIZE) / VUC_LOG_RANGE_SIZE;
        uint32_t said = vuc_get_u32(f->data + 8);
        uint32_t n = said < have ? said : (uint32_t)have;
        size_t len = VUC_LOG_CONTROL_SIZE + (size_t)n * VUC_LOG_RANGE_SIZE;

        memcpy(fixed, f->data, len);
        vuc_put_u32(fixed + 8, n);
        rc = vuc_log_control_decode(fixed, len, &lc);
    }
    /* -EOVERFLOW: a range wraps; start_ranges says so in its turn. */
    if (rc < 0 && rc != -EOVERFLOW)
        return EINVAL; /* the ranges are not 16 * num_ranges bytes */
    /* bug start-refused: ranges given, and the START fails */
    if (lc.num_ranges > 0 && srv_bug(s, VUC_SRV_BUG(START_REFUSED)))
        return EINVAL;
    if ((err = start_ranges(s, &lc, page, &v, &nv)) != 0)
        return err;
    /* spec: "page_size hints what tracking granularity the device should
     * try to achieve"; with --logging-page-size the device has its own */
    shift = pick_shift(hint);
    if (s->opts.logging_page_size) {
        shift = ilog2(s->opts.logging_page_size);
        if ((err = round_out(v, &nv, shift)) != 0) {
            srv_release(s, v);
            return err;
        }
    }
    if (d->on)
        dirty_release(s); /* quirk start-twice-accepted */

    d->shift = shift;
    /* bug all-ranges-logs-nothing: num_ranges 0 covers no mapping */
    d->all = lc.num_ranges == 0 && !srv_bug(s, VUC_SRV_BUG(ALL_RANGES_NOTHING));
    d->on = true; /* so that cover() sees the page size; undone on error */
    d->bytes = 0;
    for (size_t i = 0; i < nv; i++)
        total += bitmap_bytes(v[i].length, d->shift);
    if (total > s->log_bitmap_max)
        err = ENOMEM;
    /* v is sorted and disjoint, and the log empty: no insert can clash */
    for (size_t i = 0; i < nv && !err; i++) {
        struct log_range *lr;

        if ((err = range_new(s, v[i].iova, v[i].length, d->shift, &lr)))
            break;
        /* bug start-marks-all-dirty: every page dirty from the start */
        if (srv_bug(s, VUC_SRV_BUG(START_ALL_DIRTY)))
            (void)vuc_bitmap_mark(&lr->bm, lr->iova, lr->iova + lr->len);
        if ((err = insert(d, lr)) != 0)
            range_free(s, lr);
    }
    srv_release(s, v);
    /* docs/decisions.md, Protocol decisions: num_ranges 0 logs every
     * mapped range (and, dma.c, every range mapped while logging) */
    for (const void *x = itree_first(&s->dma.maps, &it); d->all && x && !err;
         x = itree_next(&it))
        err = cover_map(s, it.start, it.end - it.start);
    if (err) {
        dirty_release(s);
        return err;
    }
    d->started = true;
    /* bug start-reply-without-page-size: the reply is the header alone */
    if (srv_bug(s, VUC_SRV_BUG(START_NO_PAGE_SIZE)))
        return 0;

    /* The request with the page size the device chose (spec: "On output
     * the device will return the page size it selected"); the quirk
     * claims the bad hint it accepted. */
    p = reply_fixed(r, VUC_FEATURE_HDR_SIZE + 8);
    if (!p)
        return EIO;
    memcpy(p, m->payload, VUC_FEATURE_HDR_SIZE);
    vuc_put_u64(p + VUC_FEATURE_HDR_SIZE, pow2(hint) ? page_of(d) : hint);
    /* bug start-reply-drops-ranges: num_ranges and reserved only */
    reply_add(r, f->data + 8,
              srv_bug(s, VUC_SRV_BUG(START_REPLY_SHORT))
                  ? VUC_LOG_CONTROL_SIZE - 8
                  : f->data_len - 8);
    return 0;
}

/* ---- LOGGING_STOP ---- */

static int stop(struct vuc_srv *s, struct vuc_msg *m, struct srv_reply *r)
{
    /* The spec gives STOP no data: whatever came is echoed. */
    if (!s->log.on)
        return EINVAL; /* nothing to stop */
    /* bug stop-refused: logging goes on */
    if (srv_bug(s, VUC_SRV_BUG(STOP_REFUSED)))
        return EBUSY;
    /* quirk stop-keeps-logging: "stopped", and logging goes on */
    if (!srv_quirk(s, VUC_SRV_QUIRK_STOP_KEEPS_LOGGING))
        dirty_release(s);
    reply_add(r, m->payload, m->payload_len);
    return 0;
}

/* ---- LOGGING_REPORT ---- */

static int buf_reserve(struct vuc_srv *s, size_t n)
{
    struct dirty *d = &s->log;

    if (d->buf_cap >= n)
        return 0;
    srv_release(s, d->buf);
    d->buf_cap = 0;
    d->buf = srv_alloc(s, n);
    if (!d->buf)
        return ENOMEM;
    d->buf_cap = n;
    return 0;
}

/* Quirk report-bit-shifted: every bit one page up (the top one lost). */
static void shift_up(uint64_t *w, size_t words, uint64_t nbits)
{
    uint64_t carry = 0;

    for (size_t i = 0; i < words; i++) {
        uint64_t next = w[i] >> 63;

        w[i] = (w[i] << 1) | carry;
        carry = next;
    }
    if (nbits % 64)
        w[words - 1] &= ~0ull >> (64 - nbits % 64);
}

/* The bitmap of [iova, end) at dst's page size into dst (zeroed). */
static void fill_report(struct vuc_srv *s, struct vuc_bitmap *dst,
                        uint64_t iova, uint64_t end, size_t words)
{
    struct dirty *d = &s->log;
    struct itree_it it;
    uint64_t stop = end;

    if (srv_quirk(s, VUC_SRV_QUIRK_REPORT_IGNORES_RANGES)) {
        /* quirk: whole words, the tail past the range included */
        uint64_t span;

        dst->nbits = (uint64_t)words * 64;
        if (__builtin_mul_overflow(dst->nbits, 1ull << dst->shift, &span) ||
            __builtin_add_overflow(iova, span, &stop))
            stop = UINT64_MAX;
    }
    if (srv_quirk(s, VUC_SRV_QUIRK_REPORT_WRONG_SCALING))
        dst->shift = d->shift; /* quirk: log bit n is report bit n */
    for (const struct log_range *lr = find(d, iova, &it); lr && it.start < stop;
         lr = itree_next(&it)) {
        uint64_t a = lr->iova > iova ? lr->iova : iova;
        uint64_t b = lr->iova + lr->len < stop ? lr->iova + lr->len : stop;

        (void)vuc_bitmap_convert(&lr->bm, dst, a, b);
    }
}

/* Bug report-one-mapping: the log kept per DMA mapping, so a REPORT is
 * served only inside the mapping its iova lies in. */
static bool in_one_mapping(const struct vuc_srv *s, uint64_t iova, uint64_t end)
{
    struct itree_it it;

    return itree_find(&s->dma.maps, iova, &it) && end <= it.end;
}

/* Bug report-unlogged-dirty: the pages of dst that no logged range
 * covers are reported dirty ("not tracked" taken for "maybe written"). */
static void mark_unlogged(struct vuc_srv *s, struct vuc_bitmap *dst,
                          uint64_t iova, uint64_t end)
{
    struct dirty *d = &s->log;
    struct itree_it it;
    uint64_t at = iova;

    for (const void *x = find(d, iova, &it); x && it.start < end;
         x = itree_next(&it)) {
        if (it.start > at)
            (void)vuc_bitmap_mark(dst, at, it.start);
        if (it.end > at)
            at = it.end;
    }
    if (at < end)
        (void)vuc_bitmap_mark(dst, at, end);
}

static int report(struct vuc_srv *s, const struct vuc_feature *f,
                  struct srv_reply *r)
{
    struct dirty *d = &s->log;
    struct vuc_log_report rq;
    struct vuc_bitmap dst;
    struct itree_it it;
    uint64_t end, need, page;
    size_t pad;
    int64_t bytes;
    uint8_t *p;
    int rc;

    rc = vuc_log_report_decode(f->data, f->data_len, &rq);
    if ((rc < 0 && rc != -EOVERFLOW) || f->data_len != VUC_LOG_REPORT_SIZE)
        return EINVAL;
    /* spec: "only valid if logging of dirty pages has been previously
     * started"; the quirk serves an empty log before any START */
    if (!d->on &&
        (d->started || !srv_quirk(s, VUC_SRV_QUIRK_REPORT_BEFORE_START)))
        return EINVAL;
    /* docs/decisions.md, DMA logging: any power of two from 4096 up (the
     * kernel's rule); the quirk serves another size at the power of two
     * below it */
    page = rq.page_size;
    if (page && !pow2(page) && srv_quirk(s, VUC_SRV_QUIRK_REPORT_BAD_PAGE))
        page = 1ull << ilog2(page);
    if (!pow2(page) || page < 4096 || rq.length == 0)
        return EINVAL;
    if (rc == -EOVERFLOW)
        return EOVERFLOW;
    end = rq.iova + rq.length;
    if (srv_bug(s, VUC_SRV_BUG(REPORT_ONE_MAPPING)) &&
        !in_one_mapping(s, rq.iova, end))
        return EINVAL;
    bytes = vuc_log_bitmap_bytes(rq.length, page);
    /* The bitmap is the reply's data: at most max_data_xfer_size, as a
     * REGION_READ's; a client that wants more splits the range. */
    if (bytes < 0 || (uint64_t)bytes > s->xfer)
        return E2BIG;
    need = VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE + (uint64_t)bytes;

    p = reply_fixed(r, VUC_FEATURE_HDR_SIZE + VUC_LOG_REPORT_SIZE);
    if (!p)
        return EIO;
    vuc_put_u32(p, (uint32_t)need);
    vuc_put_u32(p + 4, f->flags);
    memcpy(p + VUC_FEATURE_HDR_SIZE, f->data, VUC_LOG_REPORT_SIZE);
    vuc_put_u64(p + VUC_FEATURE_HDR_SIZE + 16, page); /* the one served */
    /* spec: Message sizes: too small an argsz gets the size needed and
     * no bitmap; nothing is reported, so nothing is cleared (the quirk
     * sends the bitmap anyway) */
    if (f->argsz < need && !srv_quirk(s, VUC_SRV_QUIRK_ARGSZ_IGNORED))
        return 0;
    /* bug report-bitmap-padded: the bitmap is sent with a spare zero
     * word after it, and argsz counts it */
    pad = srv_bug(s, VUC_SRV_BUG(REPORT_PADDED)) ? 8 : 0;
    vuc_put_u32(p, (uint32_t)(need + pad));
    if (buf_reserve(s, (size_t)bytes + pad))
        return ENOMEM;
    memset(d->buf, 0, (size_t)bytes + pad);
    dst.words = (uint64_t *)(void *)d->buf;
    dst.nbits = (rq.length - 1) / page + 1;
    dst.base = rq.iova;
    dst.shift = ilog2(page);
    if (d->on) {
        fill_report(s, &dst, rq.iova, end, (size_t)bytes / 8);
        if (srv_bug(s, VUC_SRV_BUG(REPORT_UNLOGGED)))
            mark_unlogged(s, &dst, rq.iova, end);
        if (srv_quirk(s, VUC_SRV_QUIRK_REPORT_BIT_SHIFTED))
            shift_up(dst.words, (size_t)bytes / 8, (rq.length - 1) / page + 1);
        /* uAPI: "read back and clear" (docs/decisions.md, DMA logging),
         * for exactly the range reported: pages wholly inside it */
        for (struct log_range *lr = find(d, rq.iova, &it);
             !srv_quirk(s, VUC_SRV_QUIRK_REPORT_NOT_CLEARED) && lr &&
             it.start < end;
             lr = itree_next(&it))
            (void)vuc_bitmap_clear(&lr->bm, rq.iova, end);
    }
    reply_add(r, d->buf, (size_t)bytes + pad);
    return 0;
}

int dirty_feature(struct vuc_srv *s, struct vuc_msg *m,
                  const struct vuc_feature *f, struct srv_reply *r)
{
    switch (vuc_feature_index(f->flags)) {
    case VUC_FEATURE_DMA_LOGGING_START:
        return start(s, m, f, r);
    case VUC_FEATURE_DMA_LOGGING_STOP:
        return stop(s, m, r);
    case VUC_FEATURE_DMA_LOGGING_REPORT:
        return report(s, f, r);
    default:
        return ENOTTY;
    }
}
