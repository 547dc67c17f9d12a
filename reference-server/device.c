// SPDX-License-Identifier: BSD-3-Clause
/*
 * The device model: a PCI type-0 config space, a 4 KiB BAR0 register
 * file (map in README.md) and the big migratable state behind the
 * STATE_* registers; the region and IRQ queries, region I/O (a write of
 * the DMA doorbell runs the engine in dma.c before its reply) and
 * DEVICE_RESET. The DMA engine's registers (0x60..0x7f) are not device
 * state: writable in any state, and outside the registers image; nor is
 * DIRTY_SIM_PERMILLE (0x80), which marks logged pages (dirty.c).
 *
 * The device changes only while it runs: stopped (STOP, STOP_COPY,
 * RESUMING, ERROR), writes to device state are ignored, COUNTER does not
 * advance and reading DIGEST changes nothing. Every change of the big
 * state goes through state_changed(), which marks its blocks pending in
 * an open save session (dirty tracking for PRE_COPY).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "server_priv.h"

_Static_assert(DEV_BAR0_SIZE >= DEV_CFG_SIZE, "read_buf sized by BAR0");
_Static_assert(BAR0_TRACE_STATES + BAR0_TRACE_MAX == BAR0_COUNTER,
               "trace states end where COUNTER starts");
_Static_assert(BAR0_COUNTER + 8 == BAR0_STATE_SIZE, "register block layout");
_Static_assert(BAR0_DIGEST + 8 == BAR0_FREE_BASE, "register block layout");
_Static_assert(DEV_REGS_SIZE == 4040u, "registers image (STREAM.md)");
_Static_assert(BAR0_DMA_ADDR >= BAR0_FREE_BASE &&
                   BAR0_DMA_STATUS + 4 == BAR0_DMA_END,
               "the DMA engine sits in the free bytes");
_Static_assert(BAR0_DIRTY_SIM == BAR0_DMA_END &&
                   BAR0_DIRTY_SIM + 4 == BAR0_DIRTY_SIM_END,
               "DIRTY_SIM_PERMILLE follows the DMA engine");
_Static_assert(BAR0_DMA_SUM >= BAR0_DIRTY_SIM_END &&
                   BAR0_DMA_SUM + 8 == BAR0_DMA_SUM_END,
               "DMA_SUM follows DIRTY_SIM_PERMILLE");

/* DIRTY_PERMILLE adds this to the word it changes: odd, so the word
 * always changes (the golden ratio, 2^64 / phi). */
#define DIRTY_DELTA 0x9e3779b97f4a7c15ull

/* ---- PCI config space (PCI Local Bus 3.0, type-0 header) ---- */

#define CFG_VENDOR_ID   0x00u
#define CFG_DEVICE_ID   0x02u
#define CFG_COMMAND     0x04u
#define CFG_REVISION    0x08u
#define CFG_CLASS       0x09u /* prog-if, subclass, class: 3 bytes */
#define CFG_HEADER_TYPE 0x0eu
#define CFG_BAR0        0x10u
#define CFG_SUBSYS_VID  0x2cu
#define CFG_SUBSYS_ID   0x2eu
#define CFG_INT_LINE    0x3cu
#define CFG_INT_PIN     0x3du

/* Writable bits of config byte `off`; everything else is read-only. */
static uint8_t cfg_wmask(uint64_t off)
{
    switch (off) {
    case CFG_COMMAND:
        return 0x47; /* I/O, memory, bus master, parity error response */
    case CFG_COMMAND + 1:
        return 0x05; /* SERR# enable, INTx disable */
    case 0x0c:       /* cache line size */
    case 0x0d:       /* latency timer */
        return 0xff;
    case CFG_BAR0 + 1: /* 4 KiB 32-bit memory BAR: bits 31..12 */
        return 0xf0;
    case CFG_BAR0 + 2:
    case CFG_BAR0 + 3:
        return 0xff;
    case CFG_INT_LINE:
        return 0xff;
    default:
        return 0;
    }
}

/* The DMA engine, DIRTY_SIM_PERMILLE and DMA_SUM: in the free bytes,
 * but not device state. */
static bool in_dma(uint64_t off)
{
    return off >= BAR0_DMA_ADDR && off < BAR0_DMA_SUM_END;
}

/* BAR0 bytes that are device state and plain storage (README.md). */
static bool bar0_state_byte(uint64_t off)
{
    return (off >= BAR0_SCRATCH0 && off < BAR0_FAULT) ||
           (off >= BAR0_STATE_ADDR && off < BAR0_STATE_DATA) ||
           (off >= BAR0_FREE_BASE && off < DEV_BAR0_SIZE && !in_dma(off));
}

void dev_init(struct dev *d, uint8_t *state, uint64_t state_size)
{
    uint8_t *c = d->cfg;

    memset(d, 0, sizeof(*d));
    d->intx_fd = -1;
    d->bar2_fd = -1;
    d->state = state;
    d->state_size = state_size;
    vuc_put_u32(d->bar0 + BAR0_MAGIC, BAR0_MAGIC_VALUE);
    vuc_put_u32(d->bar0 + BAR0_REV, BAR0_REV_VALUE);
    vuc_put_u64(d->bar0 + BAR0_STATE_SIZE, state_size);

    vuc_put_u16(c + CFG_VENDOR_ID, DEV_PCI_VENDOR);
    vuc_put_u16(c + CFG_DEVICE_ID, DEV_PCI_DEVICE);
    c[CFG_REVISION] = 0x01;
    c[CFG_CLASS] = (uint8_t)(DEV_PCI_CLASS & 0xff);
    c[CFG_CLASS + 1] = (uint8_t)((DEV_PCI_CLASS >> 8) & 0xff);
    c[CFG_CLASS + 2] = (uint8_t)((DEV_PCI_CLASS >> 16) & 0xff);
    c[CFG_HEADER_TYPE] = 0x00;
    /* BAR0: 32-bit, non-prefetchable memory, base 0 until assigned */
    vuc_put_u16(c + CFG_SUBSYS_VID, DEV_PCI_VENDOR);
    vuc_put_u16(c + CFG_SUBSYS_ID, DEV_PCI_DEVICE);
    c[CFG_INT_PIN] = 0x01; /* INTA#: one INTx interrupt */
}

int dev_region(uint32_t index, uint64_t *size, uint32_t *flags)
{
    if (index >= VUC_PCI_NUM_REGIONS)
        return EINVAL;
    *size = 0;
    *flags = 0;
    if (index == VUC_PCI_BAR0_REGION_INDEX) {
        *size = DEV_BAR0_SIZE;
        *flags = VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE;
    } else if (index == VUC_PCI_CONFIG_REGION_INDEX) {
        *size = DEV_CFG_SIZE;
        *flags = VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE;
    } else if (index == DEV_BAR2_INDEX) {
        *size = DEV_BAR2_SIZE;
        *flags =
            VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE | VUC_REGION_FLAG_MMAP;
    }
    return 0;
}

/* ---- the big state ---- */

static void state_changed(struct dev *d, uint64_t off, uint64_t len)
{
    if (d->tracker)
        vuc_save_mark(d->tracker, off, len);
}

static uint64_t state_addr(const struct dev *d)
{
    return vuc_get_u64(d->bar0 + BAR0_STATE_ADDR);
}

/* STATE_DATA read: the 8 bytes at STATE_ADDR, 0 when out of range. */
static uint64_t state_data(const struct dev *d)
{
    uint64_t a = state_addr(d);

    if (a > d->state_size - 8)
        return 0;
    return vuc_get_u64(d->state + a);
}

/* STATE_DATA write: store at STATE_ADDR and advance it by 8; ignored
 * when out of range. */
static void state_data_write(struct dev *d, uint64_t v)
{
    uint64_t a = state_addr(d);

    if (a > d->state_size - 8)
        return;
    vuc_put_u64(d->state + a, v);
    state_changed(d, a, 8);
    vuc_put_u64(d->bar0 + BAR0_STATE_ADDR, a + 8);
}

/*
 * DIRTY_PERMILLE = n (1..1000): change k = ceil(P * n / 1000) of the P
 * pages, spread evenly from a start that moves with COUNTER: pages
 * (COUNTER + floor(i * P / k)) mod P for i < k. In each, the u64 at byte
 * (COUNTER * 8) mod 4096 gets DIRTY_DELTA added, so it always changes.
 */
static void dirty_permille(struct dev *d, uint32_t n)
{
    uint64_t pages = d->state_size / DEV_PAGE_SIZE, k, base, word;

    if (n < 1 || n > 1000 || pages == 0)
        return;
    k = (pages * n + 999) / 1000;
    base = d->counter % pages;
    word = (d->counter * 8) % DEV_PAGE_SIZE;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t pg = (base + i * pages / k) % pages;
        uint64_t at = pg * DEV_PAGE_SIZE + word;

        vuc_put_u64(d->state + at, vuc_get_u64(d->state + at) + DIRTY_DELTA);
        state_changed(d, at, 8);
    }
}

/* The DMA engine's registers (and DIRTY_SIM_PERMILLE after them) are not
 * device state: zeros in the image (STREAM.md), and loading an image
 * leaves them alone. */
#define REGS_DMA (DEV_REGS_FREE + (BAR0_DMA_ADDR - BAR0_FREE_BASE))
#define DMA_SIZE (BAR0_DMA_SUM_END - BAR0_DMA_ADDR)

void dev_regs_save(const struct dev *d, uint8_t *out)
{
    memcpy(out + DEV_REGS_SCRATCH, d->bar0 + BAR0_SCRATCH0,
           BAR0_FAULT - BAR0_SCRATCH0);
    memcpy(out + DEV_REGS_ADDR, d->bar0 + BAR0_STATE_ADDR, 8);
    memcpy(out + DEV_REGS_FREE, d->bar0 + BAR0_FREE_BASE,
           DEV_BAR0_SIZE - BAR0_FREE_BASE);
    memset(out + REGS_DMA, 0, DMA_SIZE);
    vuc_put_u64(out + DEV_REGS_COUNTER, d->counter);
}

void dev_regs_load(struct dev *d, const uint8_t *in)
{
    uint8_t dma[DMA_SIZE];

    memcpy(dma, d->bar0 + BAR0_DMA_ADDR, DMA_SIZE);
    memcpy(d->bar0 + BAR0_SCRATCH0, in + DEV_REGS_SCRATCH,
           BAR0_FAULT - BAR0_SCRATCH0);
    memcpy(d->bar0 + BAR0_STATE_ADDR, in + DEV_REGS_ADDR, 8);
    memcpy(d->bar0 + BAR0_FREE_BASE, in + DEV_REGS_FREE,
           DEV_BAR0_SIZE - BAR0_FREE_BASE);
    memcpy(d->bar0 + BAR0_DMA_ADDR, dma, DMA_SIZE);
    d->counter = vuc_get_u64(in + DEV_REGS_COUNTER);
    vuc_put_u64(d->bar0 + BAR0_COUNTER, d->counter);
}

void dev_stream_dev(const struct dev *d, struct vuc_stream_dev *out)
{
    out->vendor = DEV_PCI_VENDOR;
    out->device = DEV_PCI_DEVICE;
    out->state_size = d->state_size;
    out->block_size = DEV_BLOCK_SIZE;
    out->chunk_size = DEV_CHUNK_SIZE;
    out->regs_size = DEV_REGS_SIZE;
}

uint64_t dev_digest(const struct dev *d)
{
    uint8_t regs[DEV_REGS_SIZE];
    struct vuc_xxh64 h;

    dev_regs_save(d, regs);
    vuc_xxh64_init(&h, 0);
    vuc_xxh64_update(&h, d->state, (size_t)d->state_size);
    vuc_xxh64_update(&h, regs, sizeof(regs));
    return vuc_xxh64_digest(&h);
}

/* ---- region I/O ---- */

/* Put the bytes of the 8-byte register at reg that [off, off + n) holds. */
static void patch(uint8_t *out, uint64_t off, size_t n, uint64_t reg,
                  uint64_t v)
{
    uint8_t b[8];

    if (off >= reg + 8 || off + n <= reg)
        return;
    vuc_put_u64(b, v);
    for (uint64_t o = off > reg ? off : reg; o < reg + 8 && o < off + n; o++)
        out[o - off] = b[o - reg];
}

static bool overlaps(uint64_t off, size_t n, uint64_t reg, size_t w)
{
    return off < reg + w && off + n > reg;
}

void dev_read(const struct dev *d, uint32_t region, uint64_t off, uint8_t *out,
              size_t n)
{
    if (n == 0)
        return; /* out may be NULL: memcpy must not see it */
    if (region == VUC_PCI_CONFIG_REGION_INDEX) {
        memcpy(out, d->cfg + off, n);
        return;
    }
    if (region == DEV_BAR2_INDEX) {
        memcpy(out, d->bar2 + off, n); /* the caller made it (dev_bar2) */
        return;
    }
    /* STATE_DATA, DIRTY_PERMILLE and DIGEST are zero in the image. */
    memcpy(out, d->bar0 + off, n);
    if (overlaps(off, n, BAR0_STATE_DATA, 8))
        patch(out, off, n, BAR0_STATE_DATA, state_data(d));
    if (overlaps(off, n, BAR0_DIGEST, 8))
        patch(out, off, n, BAR0_DIGEST, dev_digest(d));
}

/* A write acts on a register only if it covers all of it. */
static bool covers(uint64_t off, size_t n, uint64_t reg, size_t w)
{
    return off <= reg && off + n >= reg + w;
}

void dev_write(struct dev *d, uint32_t region, uint64_t off,
               const uint8_t *data, size_t n, bool running)
{
    /* a REGION_WRITE of count 0 has no data (NULL): found by vucert fuzz
     * (UBSan: null pointer passed to memcpy) */
    if (n == 0)
        return;
    if (region == DEV_BAR2_INDEX) {
        memcpy(d->bar2 + off, data, n); /* memory: in any state */
        return;
    }
    if (region == VUC_PCI_CONFIG_REGION_INDEX) {
        for (size_t i = 0; i < n; i++) {
            uint64_t o = off + i;
            uint8_t wm = cfg_wmask(o);

            d->cfg[o] = (uint8_t)((d->cfg[o] & ~wm) | (data[i] & wm));
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t o = off + i;

        if (o == BAR0_FAULT)
            d->bar0[o] = data[i] & 1u; /* other FAULT bits read as zero */
        else if (o >= BAR0_ARM && o < BAR0_ARM + 4 && d->arm_reg)
            d->bar0[o] = data[i]; /* ARM: writable in any state */
        else if (o >= BAR0_DMA_ADDR && o < BAR0_DMA_DOORBELL)
            d->bar0[o] = data[i]; /* engine setup: writable in any state */
        else if (running && bar0_state_byte(o))
            d->bar0[o] = data[i];
    }
    d->fault_armed = (d->bar0[BAR0_FAULT] & 1u) != 0;
    if (!running)
        return; /* a stopped device does not change */
    /* After the plain bytes: a write of STATE_ADDR and STATE_DATA
     * together stores at the new address. */
    if (covers(off, n, BAR0_STATE_DATA, 8))
        state_data_write(d, vuc_get_u64(data + (BAR0_STATE_DATA - off)));
    if (covers(off, n, BAR0_DIRTY, 4))
        dirty_permille(d, vuc_get_u32(data + (BAR0_DIRTY - off)));
}

uint32_t dev_doorbell(uint64_t off, const uint8_t *data, size_t n)
{
    uint32_t v;

    if (!covers(off, n, BAR0_DMA_DOORBELL, 4))
        return 0;
    v = vuc_get_u32(data + (BAR0_DMA_DOORBELL - off));
    return v == DMA_OP_WRITE || v == DMA_OP_READ ? v : 0;
}

bool dev_dirty_sim(uint64_t off, const uint8_t *data, size_t n,
                   uint32_t *permille)
{
    if (!covers(off, n, BAR0_DIRTY_SIM, 4))
        return false;
    *permille = vuc_get_u32(data + (BAR0_DIRTY_SIM - off));
    return true;
}

void dev_tick(struct dev *d)
{
    d->counter++;
    vuc_put_u64(d->bar0 + BAR0_COUNTER, d->counter);
}

void dev_set_trace(struct dev *d, const uint32_t *states, size_t n)
{
    if (n > BAR0_TRACE_MAX)
        n = BAR0_TRACE_MAX;
    vuc_put_u32(d->bar0 + BAR0_TRACE_COUNT, (uint32_t)n);
    memset(d->bar0 + BAR0_TRACE_STATES, 0, BAR0_TRACE_MAX);
    for (size_t i = 0; i < n; i++)
        d->bar0[BAR0_TRACE_STATES + i] = (uint8_t)states[i];
}

bool dev_fault_fire(struct dev *d)
{
    if (!d->fault_armed)
        return false;
    dev_fault_disarm(d);
    return true;
}

void dev_fault_disarm(struct dev *d)
{
    d->fault_armed = false;
    memset(d->bar0 + BAR0_FAULT, 0, 4);
}

/* VFIO_IRQ_SET_* (<linux/vfio.h>) */
#define IRQ_DATA_NONE      (1u << 0)
#define IRQ_DATA_BOOL      (1u << 1)
#define IRQ_DATA_EVENTFD   (1u << 2)
#define IRQ_ACTION_MASK    (1u << 3)
#define IRQ_ACTION_UNMASK  (1u << 4)
#define IRQ_ACTION_TRIGGER (1u << 5)
#define IRQ_INFO_EVENTFD   (1u << 0)

/* ---- handlers ---- */

int srv_h_DEVICE_GET_INFO(struct vuc_srv *s, struct vuc_conn *c,
                          struct vuc_msg *m, struct srv_reply *r)
{
    struct vuc_device_info in,
        out = {
            .argsz = 16,
            .flags = VUC_DEVICE_FLAGS_RESET | VUC_DEVICE_FLAGS_PCI,
            .num_regions = VUC_PCI_NUM_REGIONS,
            .num_irqs = DEV_NUM_IRQS,
        };
    uint8_t *p;
    int rc;

    (void)c;
    if (srv_bug(s, VUC_SRV_BUG(NOT_PCI)))
        out.flags &= ~VUC_DEVICE_FLAGS_PCI;
    rc = vuc_device_info_decode(m->payload, m->payload_len, &in);
    if (rc < 0 || (size_t)rc != m->payload_len)
        return EINVAL;
    if (in.argsz < out.argsz)
        return EINVAL;
    p = reply_fixed(r, 16);
    if (!p || vuc_device_info_encode(&out, p, 16) != 16)
        return EIO;
    return 0;
}

int srv_h_DEVICE_GET_REGION_INFO(struct vuc_srv *s, struct vuc_conn *c,
                                 struct vuc_msg *m, struct srv_reply *r)
{
    struct vuc_region_info in, out;
    uint8_t *p;
    int rc;

    (void)c;
    rc = vuc_region_info_decode(m->payload, m->payload_len, &in);
    if (rc < 0 || (size_t)rc != m->payload_len)
        return EINVAL;
    if (in.argsz < 32)
        return EINVAL;
    memset(&out, 0, sizeof(out));
    if (dev_region(in.index, &out.size, &out.flags))
        return EINVAL;
    out.argsz = 32; /* no region capabilities */
    out.index = in.index;
    if (in.index == DEV_BAR2_INDEX) {
        /* spec: the file descriptor to mmap() at offset 0 */
        rc = dev_bar2(&s->dev);
        if (rc)
            return rc;
        r->fds[r->nfds++] = s->dev.bar2_fd;
        /* bug region-info-extra-fds: one per page, whatever the client
         * takes in one message */
        if (srv_bug(s, VUC_SRV_BUG(REGION_INFO_EXTRA_FDS)))
            r->fds[r->nfds++] = s->dev.bar2_fd;
    }
    p = reply_fixed(r, 32);
    if (!p || vuc_region_info_encode(&out, p, 32) != 32)
        return EIO;
    return 0;
}

int srv_h_DEVICE_GET_IRQ_INFO(struct vuc_srv *s, struct vuc_conn *c,
                              struct vuc_msg *m, struct srv_reply *r)
{
    /* struct vfio_irq_info: argsz, flags, index, count (u32 each) */
    uint32_t argsz, index;
    uint8_t *p;

    (void)c;
    plant_irq_info(s);
    if (m->payload_len != 16)
        return EINVAL;
    argsz = vuc_get_u32(m->payload);
    index = vuc_get_u32(m->payload + 8);
    if (argsz < 16 || index >= DEV_NUM_IRQS)
        return EINVAL;
    p = reply_fixed(r, 16);
    if (!p)
        return EIO;
    vuc_put_u32(p, 16);
    vuc_put_u32(p + 4, index == 0 ? IRQ_INFO_EVENTFD : 0u);
    vuc_put_u32(p + 8, index);
    vuc_put_u32(p + 12, index == 0 ? 1u : 0u); /* INTx only */
    return 0;
}

int dev_bar2(struct dev *d)
{
    void *p;
    int fd;

    if (d->bar2 != NULL)
        return 0;
    fd = memfd_create("vucert-server-bar2", MFD_CLOEXEC);
    if (fd < 0)
        return errno;
    if (ftruncate(fd, DEV_BAR2_SIZE) < 0) {
        close(fd);
        return EIO;
    }
    p = mmap(NULL, DEV_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return ENOMEM;
    }
    d->bar2_fd = fd;
    d->bar2 = p;
    return 0;
}

void dev_bar2_release(struct dev *d)
{
    if (d->bar2 != NULL)
        munmap(d->bar2, DEV_BAR2_SIZE);
    if (d->bar2_fd >= 0)
        close(d->bar2_fd);
    d->bar2 = NULL;
    d->bar2_fd = -1;
}

void dev_irqs_release(struct dev *d)
{
    if (d->intx_fd >= 0)
        close(d->intx_fd);
    d->intx_fd = -1;
}

static void intx_trigger(const struct dev *d)
{
    uint64_t one = 1;

    if (d->intx_fd >= 0 && write(d->intx_fd, &one, sizeof(one)) < 0) {
        /* a full counter or a closed reader: the interrupt is lost, as
         * on a real line nobody listens to */
    }
}

/*
 * spec: VFIO_USER_DEVICE_SET_IRQS. The device has one interrupt, INTx
 * (index 0), neither maskable nor automasked: TRIGGER only. An eventfd
 * is kept until replaced, de-assigned (DATA_EVENTFD without fds, or
 * DATA_NONE with count and start 0) or its client leaves (spec: Client
 * Disconnection: "all IRQ file descriptors passed from the old client are
 * closed").
 */
int srv_h_DEVICE_SET_IRQS(struct vuc_srv *s, struct vuc_conn *c,
                          struct vuc_msg *m, struct srv_reply *r)
{
    const uint8_t *p = m->payload;
    uint32_t argsz, flags, index, start, count, data, action, have;

    (void)c, (void)r;
    if (m->payload_len < 20 || m->fds_truncated)
        return EINVAL;
    argsz = vuc_get_u32(p);
    flags = vuc_get_u32(p + 4);
    index = vuc_get_u32(p + 8);
    start = vuc_get_u32(p + 12);
    count = vuc_get_u32(p + 16);
    data = flags & (IRQ_DATA_NONE | IRQ_DATA_BOOL | IRQ_DATA_EVENTFD);
    action = flags & (IRQ_ACTION_MASK | IRQ_ACTION_UNMASK | IRQ_ACTION_TRIGGER);
    /* "The flags are mutually exclusive for both sets." */
    if (argsz < 20 || argsz > m->payload_len || (flags & ~0x3fu) ||
        __builtin_popcount(data) != 1 || __builtin_popcount(action) != 1 ||
        index >= DEV_NUM_IRQS)
        return EINVAL;
    have = index == 0 ? 1u : 0u;
    if (action != IRQ_ACTION_TRIGGER)
        return EINVAL; /* nothing here is maskable */
    if (data == IRQ_DATA_NONE && count == 0 && start == 0) {
        if (index == 0)
            dev_irqs_release(&s->dev); /* disable all of the index */
        return m->nfds ? EINVAL : 0;
    }
    if (count == 0 || start >= have || count > have - start)
        return EINVAL;
    switch (data) {
    case IRQ_DATA_NONE:
        if (m->nfds)
            return EINVAL;
        intx_trigger(&s->dev);
        return 0;
    case IRQ_DATA_BOOL:
        if (m->nfds || argsz < 20 + count)
            return EINVAL;
        if (p[20])
            intx_trigger(&s->dev);
        return 0;
    default: /* IRQ_DATA_EVENTFD */
        if (m->nfds > count)
            return EINVAL;
        dev_irqs_release(&s->dev);
        if (m->nfds == 1) {
            s->dev.intx_fd = m->fds[0];
            m->fds[0] = -1; /* kept: not closed with the message */
        }
        return 0;
    }
}

/* spec: Read and Write Operations; every bound checked, overflow-safe. */
static int check_access(const struct vuc_srv *s, const struct vuc_region_rw *a,
                        uint32_t need)
{
    uint64_t size, end;
    uint32_t flags;

    if (dev_region(a->region, &size, &flags))
        return EINVAL;
    if (size == 0 || (flags & need) != need)
        return EINVAL;
    if (a->count > s->xfer)
        return EINVAL;
    /* quirk: the limit taken as exclusive */
    if (a->count == s->xfer && srv_quirk(s, VUC_SRV_QUIRK_MAX_XFER_EXCLUSIVE))
        return EINVAL;
    if (__builtin_add_overflow(a->offset, (uint64_t)a->count, &end) ||
        end > size)
        return EINVAL;
    return 0;
}

int srv_h_REGION_READ(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                      struct srv_reply *r)
{
    struct vuc_region_rw a;
    uint8_t *p;
    int rc;

    (void)c;
    rc = vuc_region_rw_decode(m->payload, m->payload_len, false, &a);
    if (rc < 0 || (size_t)rc != m->payload_len)
        return EINVAL;
    rc = check_access(s, &a, VUC_REGION_FLAG_READ);
    if (rc == 0 && a.region == DEV_BAR2_INDEX)
        rc = dev_bar2(&s->dev);
    if (rc)
        return rc;
    if (a.region == VUC_PCI_CONFIG_REGION_INDEX &&
        srv_bug(s, VUC_SRV_BUG(CONFIG_READ_REFUSED)))
        return EINVAL;
    if (a.region == DEV_BAR2_INDEX) {
        /* memory: the reply's data comes straight from it */
        a.data = NULL;
        a.data_len = 0;
        p = reply_fixed(r, 16);
        if (!p || vuc_region_rw_encode(&a, p, 16) != 16)
            return EIO;
        reply_add(r, s->dev.bar2 + a.offset, a.count);
        return 0;
    }
    /* check_access bounded count by a region size <= sizeof(read_buf)
     * (BAR0 and config space) */
    dev_read(&s->dev, a.region, a.offset, s->read_buf, a.count);
    a.data = NULL;
    a.data_len = 0;
    p = reply_fixed(r, 16);
    if (!p || vuc_region_rw_encode(&a, p, 16) != 16)
        return EIO;
    reply_add(r, s->read_buf, a.count);
    return 0;
}

int srv_h_REGION_WRITE(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                       struct srv_reply *r)
{
    struct vuc_region_rw a;
    uint32_t permille, op;
    uint8_t *p;
    int rc;

    /* with_data: exactly count bytes of data must follow */
    rc = vuc_region_rw_decode(m->payload, m->payload_len, true, &a);
    if (rc < 0 || (size_t)rc != m->payload_len || a.data_len != a.count)
        return EINVAL;
    rc = check_access(s, &a, VUC_REGION_FLAG_WRITE);
    if (rc == 0 && a.region == DEV_BAR2_INDEX)
        rc = dev_bar2(&s->dev);
    if (rc)
        return rc;
    dev_write(&s->dev, a.region, a.offset, a.data, a.count,
              mig_running(s->mig.state));
    /* The engine runs before the reply: DMA_STATUS is final when the
     * client sees the write acknowledged. */
    if (a.region == VUC_PCI_BAR0_REGION_INDEX &&
        (op = dev_doorbell(a.offset, a.data, a.count)) != 0)
        dma_engine_run(s, c, op);
    /* A stopped device writes nothing, so it dirties nothing either. */
    if (a.region == VUC_PCI_BAR0_REGION_INDEX && mig_running(s->mig.state) &&
        dev_dirty_sim(a.offset, a.data, a.count, &permille))
        dirty_simulate(s, permille);
    a.data = NULL;
    a.data_len = 0;
    p = reply_fixed(r, 16);
    if (!p || vuc_region_rw_encode(&a, p, 16) != 16)
        return EIO;
    return 0;
}

int srv_h_DEVICE_RESET(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                       struct srv_reply *r)
{
    (void)c, (void)r;
    /* spec: "Neither the request or reply have a payload." */
    if (m->payload_len != 0)
        return EINVAL;
    /*
     * A reset of the migration function only: the migration state goes
     * back to RUNNING and fault injection is disarmed; BAR0 and config
     * contents are kept (README.md).
     */
    dev_fault_disarm(&s->dev);
    mig_reset(s);
    return 0;
}
