// SPDX-License-Identifier: BSD-3-Clause
/*
 * Client memory (spec: Client memory access, VFIO_USER_DMA_MAP /
 * VFIO_USER_DMA_UNMAP, VFIO_USER_DMA_WRITE): the table of mapped ranges,
 * the DMA engine behind BAR0 0x60..0x7f, and the server's own DMA_WRITE
 * requests for ranges mapped without a file descriptor.
 *
 * A range mapped with an fd is mmap'ed (MAP_SHARED, with the protection
 * its flags give) and the fd is closed with the request; the engine
 * writes it with memcpy. A range mapped without one is reached with
 * VFIO_USER_DMA_WRITE messages sent to the client on the same socket
 * (twin-socket mode is never negotiated), each at most the negotiated
 * max_data_xfer_size, each waited for before the next. While the server
 * waits, the client may already have sent further commands (it pipelines,
 * or it has not read the DMA_WRITE yet): they are kept, in order, and
 * handled after the request that rang the doorbell has its reply.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "server_priv.h"

void dma_init(struct dma *d, const struct itree_mem *mem)
{
    memset(d, 0, sizeof(*d));
    itree_init(&d->maps, mem);
    d->max_maps = VUC_DEFAULT_MAX_DMA_MAPS;
}

/* Unmap m's memory and free it; m is out of the table. */
static void map_free(struct vuc_srv *s, struct dma_map *m)
{
    if (m->mmap_base)
        munmap(m->mmap_base, m->mmap_len);
    srv_release(s, m);
}

static void map_free_item(void *m, void *s)
{
    map_free(s, m);
}

void dma_release(struct vuc_srv *s)
{
    struct dma *d = &s->dma;

    itree_clear(&d->maps, map_free_item, s);
    dma_init(d, d->maps.mem);
}

/* The first map that ends after addr (NULL if none): the one holding
 * addr, else the next one up, at *it. Ends are <= 2^64 - 1 (DMA_MAP
 * refuses a range that wraps). */
static struct dma_map *find(const struct dma *d, uint64_t addr,
                            struct itree_it *it)
{
    return itree_seek(&d->maps, addr, it);
}

/* mmap the fd for dm; returns 0 or a positive errno. */
static int map_fd(int fd, const struct vuc_dma_map *dm, struct dma_map *out)
{
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096, aligned, delta, len, end;
    int prot = 0;
    struct stat st;
    void *p;

    /* mmap wants a page-aligned offset: map from the page before. */
    aligned = dm->offset & ~(page - 1);
    delta = dm->offset - aligned;
    if (__builtin_add_overflow(dm->size, delta, &len) || len > SIZE_MAX ||
        __builtin_add_overflow(dm->offset, dm->size, &end) ||
        aligned > (uint64_t)INT64_MAX)
        return EINVAL;
    if (fstat(fd, &st) < 0)
        return errno ? errno : EBADF;
    /* A regular file (memfd, tmpfs, hugetlbfs) must hold the whole range:
     * touching a page past its end would be SIGBUS. */
    if (S_ISREG(st.st_mode) && end > (uint64_t)st.st_size)
        return EINVAL;
    if (dm->flags & VUC_DMA_FLAG_READ)
        prot |= PROT_READ;
    if (dm->flags & VUC_DMA_FLAG_WRITE)
        prot |= PROT_WRITE;
    p = mmap(NULL, (size_t)len, prot, MAP_SHARED, fd, (off_t)aligned);
    if (p == MAP_FAILED)
        return errno ? errno : ENOMEM;
    out->mmap_base = p;
    out->mmap_len = (size_t)len;
    out->host = (uint8_t *)p + delta;
    return 0;
}

int srv_h_DMA_MAP(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                  struct srv_reply *r)
{
    struct dma *d = &s->dma;
    struct vuc_dma_map dm;
    struct dma_map *nm;
    struct itree_it it;
    int rc;

    (void)c, (void)r; /* no reply payload (spec) */
    rc = vuc_dma_map_decode(m->payload, m->payload_len, &dm);
    /* -EOVERFLOW: address + size wraps; the fields are decoded */
    if ((rc < 0 && rc != -EOVERFLOW) || m->payload_len != 32)
        return EINVAL;
    if (rc == -EOVERFLOW || dm.argsz < 32 || dm.size == 0)
        return EINVAL;
    /* Unknown bits, or neither readable nor writeable (as the kernel's
     * VFIO_IOMMU_MAP_DMA). */
    if ((dm.flags & ~VUC_DMA_FLAGS_KNOWN) || !(dm.flags & VUC_DMA_FLAGS_KNOWN))
        return EINVAL;
    /* bug dma-two-fds-accepted: the first fd taken, the rest closed
     * with the request */
    if ((m->nfds > 1 && !srv_bug(s, VUC_SRV_BUG(DMA_TWO_FDS))) ||
        m->fds_truncated)
        return EINVAL;
    /* spec: offset is "zero if the region is not mappable": a non-zero
     * one without an fd means the client meant to send one (the bug
     * dma-offset-without-fd-accepted maps it as memory without an fd) */
    if (m->nfds == 0 && dm.offset != 0 &&
        !srv_bug(s, VUC_SRV_BUG(DMA_OFFSET_NO_FD)))
        return EINVAL;
    /* spec: "A command to map over an existing region must be failed by
     * the server with EEXIST": any overlap (dm.addr + dm.size does
     * not wrap: checked above). */
    /* bug dma-map-overlap-accepted: "done", the old mapping kept */
    if (itree_overlap(&d->maps, dm.addr, dm.addr + dm.size, &it))
        return srv_bug(s, VUC_SRV_BUG(DMA_OVERLAP)) ? 0 : EEXIST;
    if (d->maps.n >= d->max_maps)
        return ENOSPC;
    nm = srv_alloc(s, sizeof(*nm));
    if (!nm)
        return ENOMEM;
    memset(nm, 0, sizeof(*nm));
    nm->iova = dm.addr;
    nm->size = dm.size;
    nm->flags = dm.flags;
    if (m->nfds >= 1 && (rc = map_fd(m->fds[0], &dm, nm)) != 0) {
        srv_release(s, nm);
        return rc;
    }
    /* The fd itself is closed with the request (vuc_msg_release). Into
     * the table before it is logged: taking it out again cannot fail,
     * while what dirty_mapped logged could not be told apart from what
     * was logged before. */
    if ((rc = itree_insert(&d->maps, dm.addr, dm.addr + dm.size, nm)) != 0) {
        map_free(s, nm);
        return rc; /* ENOMEM: no overlap since the check above */
    }
    if ((rc = dirty_mapped(s, dm.addr, dm.size)) != 0) {
        (void)itree_remove(&d->maps, dm.addr);
        map_free(s, nm);
        return rc;
    }
    return 0;
}

int srv_h_DMA_UNMAP(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                    struct srv_reply *r)
{
    struct dma *d = &s->dma;
    struct vuc_dma_unmap du;
    struct itree_it it;
    struct dma_map *mp;
    int rc;

    (void)c;
    rc = vuc_dma_unmap_decode(m->payload, m->payload_len, &du);
    if ((rc < 0 && rc != -EOVERFLOW) || m->payload_len != 24)
        return EINVAL;
    /* argsz: room for the reply, the 24-byte entry; flags are "unused in
     * this version" (there is no unmap-all or dirty-bitmap flag). */
    if (rc == -EOVERFLOW || du.argsz < 24 || du.flags != 0)
        return EINVAL;
    /* spec: "must match exactly a previous mapping" */
    mp = itree_find(&d->maps, du.addr, &it);
    if (!mp || mp->iova != du.addr || mp->size != du.size) {
        /* bug unmap-inexact-accepted: "done", nothing unmapped */
        if (!srv_bug(s, VUC_SRV_BUG(UNMAP_ANY)))
            return ENOENT;
        reply_add(r, m->payload, m->payload_len);
        return 0;
    }
    /* bug unmap-refused: the mapping stays */
    if (srv_bug(s, VUC_SRV_BUG(UNMAP_REFUSED)))
        return EBUSY;
    /* No DMA is in flight (the engine is synchronous): once unmapped,
     * nothing refers to the range. */
    itree_remove_at(&d->maps, &it);
    /* bug unmap-keeps-mapping: the range is forgotten, its mmap kept */
    if (srv_bug(s, VUC_SRV_BUG(UNMAP_KEEPS_MAPPING)))
        mp->mmap_base = NULL;
    map_free(s, mp);
    dirty_unmapped(s, du.addr, du.size);
    /* spec: "The server responds with the original DMA entry" */
    reply_add(r, m->payload, m->payload_len);
    return 0;
}

/* ---- the server's own requests ---- */

/* Keep m; await_reply checks there is room (ndefer <= SRV_DEFER_MAX). */
static void defer(struct vuc_srv *s, struct vuc_msg *m, bool oversize)
{
    struct srv_deferred *dq = &s->defer[s->ndefer++];

    dq->m = *m;
    dq->oversize = oversize;
    memset(m, 0, sizeof(*m)); /* owned by the queue now */
}

/*
 * Wait for the reply to our request (id, cmd). Commands that come first
 * are deferred; replies to anything else are dropped. Returns 0 with the
 * reply in *rep, or EIO (no reply in time, the connection broke, or more
 * than SRV_DEFER_MAX commands came first; s->conn_err says whether the
 * connection must go).
 */
static int await_reply(struct vuc_srv *s, struct vuc_conn *c, uint16_t id,
                       uint16_t cmd, struct vuc_msg *rep)
{
    for (;;) {
        struct vuc_msg m;
        int rc;

        /* The queue has one spare slot, for the command that fills it;
         * it may be full on entry too (vuc_srv_handle called again
         * before vuc_srv_serve drained it). */
        if (s->ndefer > SRV_DEFER_MAX)
            return EIO;
        memset(&m, 0, sizeof(m));
        rc = vuc_conn_recv(c, &m, s->send_timeout_ms);
        if (rc == -EMSGSIZE) {
            if (vuc_hdr_type(&m.hdr) == VUC_TYPE_REPLY)
                continue; /* too big to be ours: dropped */
            defer(s, &m, true);
        } else if (rc < 0) {
            vuc_msg_release(&m);
            if (rc == -EBADMSG)
                s->conn_err = -ECONNABORTED; /* cannot resynchronise */
            else if (rc == -ECONNRESET || rc == -EPIPE)
                s->conn_err = rc;
            return EIO;
        } else if (vuc_hdr_type(&m.hdr) == VUC_TYPE_REPLY) {
            if (m.hdr.id == id && m.hdr.cmd == cmd) {
                *rep = m;
                return 0;
            }
            vuc_msg_release(&m); /* unsolicited, as in vuc_srv_handle */
            continue;
        } else {
            defer(s, &m, false);
        }
    }
}

/*
 * One request of the server's own (DMA_WRITE with data, or DMA_READ):
 * the 16-byte address and count, data when n_data > 0, on the twin socket
 * when twin-socket mode is on, and its reply in *rep. Returns 0 or EIO.
 */
static int server_request(struct vuc_srv *s, struct vuc_conn *c, uint16_t cmd,
                          uint64_t addr, uint64_t count, const uint8_t *data,
                          size_t n_data, struct vuc_msg *rep)
{
    struct vuc_hdr h = {
        .id = ++s->dma.next_id,
        .cmd = cmd,
        .flags = VUC_TYPE_COMMAND,
    };
    struct vuc_dma_rw w = {.addr = addr, .count = count};
    uint8_t head[16];
    struct iovec iov[2] = {
        {.iov_base = head, .iov_len = sizeof(head)},
        {.iov_base = (void *)(uintptr_t)data, .iov_len = n_data},
    };
    int rc;

    /* A chaos mode has left the client without framing: say nothing. */
    if (s->conn_err || s->chaos_mute)
        return EIO;
    if (vuc_dma_rw_encode(&w, head, sizeof(head)) != (int)sizeof(head))
        return EIO;
    /* spec: twin-socket mode's command channel (bug twin-socket-unused:
     * the main socket all the same) */
    if (s->twin && !srv_bug(s, VUC_SRV_BUG(TWIN_UNUSED)))
        c = s->twin;
    rc =
        vuc_conn_sendv(c, &h, iov, n_data ? 2 : 1, NULL, 0, s->send_timeout_ms);
    if (rc < 0) {
        /* A partial message has lost the framing; a gone peer is gone. */
        s->conn_err = rc == -EPIPE || rc == -ECONNRESET ? rc : -ECONNABORTED;
        return EIO;
    }
    memset(rep, 0, sizeof(*rep));
    return await_reply(s, c, h.id, h.cmd, rep) ? EIO : 0;
}

static void log_request(const struct vuc_srv *s, const struct vuc_msg *rep,
                        const char *what, uint64_t addr, size_t n, int err)
{
    if (s->opts.verbose)
        fprintf(stderr, "vucert-server: -> %s #%u addr=0x%llx count=%zu: %s\n",
                what, rep->hdr.id, (unsigned long long)addr, n,
                err ? "failed" : "ok");
}

/* VFIO_USER_DMA_WRITE of n bytes at addr; returns 0 or EIO. */
static int client_write(struct vuc_srv *s, struct vuc_conn *c, uint64_t addr,
                        const uint8_t *data, size_t n)
{
    struct vuc_msg rep;
    int err;

    if (server_request(s, c, VUC_CMD_DMA_WRITE, addr, n, data, n, &rep))
        return EIO;
    /* The reply is address(8) and count (8, or 4 in the spec's table):
     * an error, or another address, is a failed write. */
    err = (rep.hdr.flags & VUC_FLAG_ERROR) ||
                  (rep.payload_len >= 8 && vuc_get_u64(rep.payload) != addr)
              ? EIO
              : 0;
    log_request(s, &rep, "DMA_WRITE", addr, n, err);
    vuc_msg_release(&rep);
    return err;
}

/* VFIO_USER_DMA_READ of n bytes at addr into out; returns 0 or EIO. */
static int client_read(struct vuc_srv *s, struct vuc_conn *c, uint64_t addr,
                       uint8_t *out, size_t n)
{
    struct vuc_dma_rw rp;
    struct vuc_msg rep;
    int err = 0;

    if (server_request(s, c, VUC_CMD_DMA_READ, addr, n, NULL, 0, &rep))
        return EIO;
    /* The reply: address, count and the data; anything else failed. */
    if ((rep.hdr.flags & VUC_FLAG_ERROR) ||
        vuc_dma_rw_decode(rep.payload, rep.payload_len, true, &rp) < 0 ||
        rp.addr != addr || rp.count != n || rp.data_len != n)
        err = EIO;
    else
        memcpy(out, rp.data, n);
    log_request(s, &rep, "DMA_READ", addr, n, err);
    vuc_msg_release(&rep);
    return err;
}

/* ---- the DMA engine ---- */

/* n bytes of the pattern, starting at its byte `phase`: byte i of a
 * transfer is byte i % 8 of the pattern (host byte order). Copied in
 * blocks of a local buffer: p may be client memory, which is only ever
 * written, never read back. */
static void fill(uint8_t *p, size_t n, uint64_t pattern, uint64_t phase)
{
    uint8_t b[8], blk[256];
    size_t i = 0;

    vuc_put_u64(b, pattern);
    for (unsigned k = 0; k < 8; k++)
        blk[k] = b[(phase + k) & 7];
    for (size_t k = 8; k < sizeof(blk); k *= 2)
        memcpy(blk + k, blk, k);
    for (; n - i >= sizeof(blk); i += sizeof(blk))
        memcpy(p + i, blk, sizeof(blk));
    memcpy(p + i, blk, n - i);
}

/*
 * Client memory can vanish under the server: once a client shrinks
 * (ftruncate) a file it mapped, touching a page past the file's new end
 * raises SIGBUS, whatever was checked at DMA_MAP time. So every access
 * to a client mapping runs guarded: a SIGBUS handler, installed only for
 * the duration of the copy, jumps back out of it when the fault lies in
 * the bytes being copied, and the copy reports EFAULT. A signal handler
 * takes no context argument, so the guard in force is a thread-local:
 * the one piece of mutable global state in the server, set only while a
 * copy runs (the server is single threaded; another thread's copy would
 * have its own). A SIGBUS elsewhere goes to the handler that was there
 * before, as if the guard did not exist.
 */
struct bus_guard {
    sigjmp_buf jb;
    uintptr_t lo, hi;     /* pages of the bytes being copied */
    struct sigaction old; /* the handler before; restored after */
};

static _Thread_local struct bus_guard *bus_guard;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    struct bus_guard *g = bus_guard;
    uintptr_t a = (uintptr_t)si->si_addr;

    (void)uc;
    if (g && a >= g->lo && a < g->hi)
        siglongjmp(g->jb, 1);
    /* Not a fault of the copy: put the old handler back; the access
     * faults again on return and goes to it. */
    if (g)
        sigaction(sig, &g->old, NULL);
    else
        signal(sig, SIG_DFL);
}

/* The bytes of a read run, summed (DMA_SUM). */
static uint64_t sum_bytes(const uint8_t *p, size_t n, uint64_t sum)
{
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return sum;
}

/* fill() into client memory (read: sum it into *sum instead); returns 0,
 * or EFAULT when the memory is gone (the bytes before the fault are
 * written, or summed). */
static uint32_t guarded(uint8_t *p, size_t n, bool read, uint64_t pattern,
                        uint64_t phase, uint64_t *sum)
{
    struct sigaction sa;
    struct bus_guard g;
    uint32_t err = 0;
    long pg = sysconf(_SC_PAGESIZE);
    /* What the copy uses after sigsetjmp lives in memory, where a
     * longjmp cannot leave a stale register copy (-Wclobbered). */
    uint8_t *volatile dst = p;
    volatile size_t len = n;
    volatile uint64_t pat = pattern, ph = phase;
    volatile bool rd = read;
    uint64_t *volatile out = sum;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    /* a fault may be reported at the start of its page */
    g.lo = (uintptr_t)p & ~(uintptr_t)(pg > 0 ? pg - 1 : 4095);
    g.hi = (uintptr_t)p + n;
    if (sigaction(SIGBUS, &sa, &g.old) < 0)
        return EFAULT; /* cannot guard: do not touch it */
    bus_guard = &g;
    /* savemask 1: the jump out of the handler unblocks SIGBUS again */
    if (sigsetjmp(g.jb, 1) == 0) {
        if (rd)
            *out = sum_bytes(dst, len, *out);
        else
            fill(dst, len, pat, ph);
    } else {
        err = EFAULT;
    }
    bus_guard = NULL;
    sigaction(SIGBUS, &g.old, NULL);
    return err;
}

/* Check that [addr, end) is mapped with `perm` (VUC_DMA_FLAG_WRITE or
 * _READ): 0, EFAULT, EACCES. */
static uint32_t check_span(const struct dma *d, uint64_t addr, uint64_t end,
                           uint32_t perm)
{
    struct itree_it it;
    uint32_t err = 0;

    for (const struct dma_map *m = find(d, addr, &it); addr < end;
         m = itree_next(&it)) {
        if (!m || it.start > addr)
            return EFAULT; /* a hole */
        if (!(m->flags & perm))
            err = EACCES; /* unless there is a hole further on */
        addr = it.end;
    }
    return err;
}

/* Write [addr, addr + len) with the pattern; returns 0 or an errno. */
static uint32_t engine(struct vuc_srv *s, struct vuc_conn *c, uint64_t addr,
                       uint64_t len, uint64_t pattern)
{
    struct dma *d = &s->dma;
    struct itree_it it;
    uint64_t end;
    uint8_t *buf = NULL;
    uint32_t err;

    /* The device must not change outside the running states. */
    if (!mig_running(s->mig.state))
        return EBUSY;
    /* bug dma-stimulus-fails: the engine never writes */
    if (srv_bug(s, VUC_SRV_BUG(STIMULUS_FAILS)))
        return EIO;
    if (len == 0)
        return 0;
    if (len > DMA_ENGINE_MAX)
        return EINVAL;
    if (__builtin_add_overflow(addr, len, &end))
        return EFAULT;
    if ((err = check_span(d, addr, end, VUC_DMA_FLAG_WRITE)) != 0) {
        /* bug dma-unmapped-sends: the client is asked to take it anyway */
        if (err == EFAULT && srv_bug(s, VUC_SRV_BUG(DMA_UNMAPPED_SENDS)) &&
            (buf = srv_alloc(s, (size_t)(len < 4096 ? len : 4096))) != NULL) {
            fill(buf, (size_t)(len < 4096 ? len : 4096), pattern, 0);
            (void)client_write(s, c, addr, buf,
                               (size_t)(len < 4096 ? len : 4096));
            srv_release(s, buf);
        }
        return err;
    }

    /* check_span found every byte mapped: the walk meets no hole */
    for (const struct dma_map *m = find(d, addr, &it); addr < end;
         m = itree_next(&it)) {
        uint64_t stop = m->iova + m->size < end ? m->iova + m->size : end;

        if (m->host) {
            err = guarded(m->host + (addr - m->iova), (size_t)(stop - addr),
                          false, pattern, addr - (end - len), NULL);
            /* Dirty even when the client's file shrank under the copy:
             * how far a copy got is not known, and a page reported clean
             * would be lost. */
            dirty_mark(s, addr, stop);
            if (err) {
                srv_release(s, buf);
                return err;
            }
            addr = stop;
            continue;
        }
        /* bug dma-write-ignores-limit: the server's own limit */
        size_t lim = srv_bug(s, VUC_SRV_BUG(DMA_WRITE_OWN_LIMIT))
                         ? s->xfer_limit
                         : s->xfer;

        while (addr < stop) {
            size_t n = stop - addr < lim ? (size_t)(stop - addr) : lim;

            if (!buf && !(buf = srv_alloc(s, len < lim ? (size_t)len : lim)))
                return ENOMEM;
            fill(buf, n, pattern, addr - (end - len));
            err = (uint32_t)client_write(s, c, addr, buf, n);
            /* Dirty even when the reply failed: the client may well have
             * written it, and a page reported clean would be lost. */
            dirty_mark(s, addr, addr + n);
            if (err) {
                srv_release(s, buf);
                return EIO;
            }
            addr += n;
        }
    }
    srv_release(s, buf);
    return 0;
}

/* Read [addr, addr + len) and sum its bytes into *sum; returns 0 or an
 * errno. A read dirties nothing (spec: "Only DMA writes are logged"). */
static uint32_t engine_read(struct vuc_srv *s, struct vuc_conn *c,
                            uint64_t addr, uint64_t len, uint64_t *sum)
{
    struct dma *d = &s->dma;
    struct itree_it it;
    uint8_t *buf = NULL;
    uint64_t end;
    uint32_t err;

    *sum = 0;
    if (!mig_running(s->mig.state))
        return EBUSY;
    if (len == 0)
        return 0;
    if (len > DMA_ENGINE_MAX)
        return EINVAL;
    if (__builtin_add_overflow(addr, len, &end))
        return EFAULT;
    if ((err = check_span(d, addr, end, VUC_DMA_FLAG_READ)) != 0)
        return err;
    for (const struct dma_map *m = find(d, addr, &it); addr < end;
         m = itree_next(&it)) {
        uint64_t stop = m->iova + m->size < end ? m->iova + m->size : end;

        /* bug dma-read-logged: reads are logged as if they wrote */
        if (srv_bug(s, VUC_SRV_BUG(DMA_READ_LOGGED)))
            dirty_mark(s, addr, stop);
        if (m->host) {
            err = guarded(m->host + (addr - m->iova), (size_t)(stop - addr),
                          true, 0, 0, sum);
            if (err)
                break;
            addr = stop;
            continue;
        }
        while (addr < stop) {
            size_t n = stop - addr < s->xfer ? (size_t)(stop - addr) : s->xfer;

            if (!buf &&
                !(buf = srv_alloc(s, len < s->xfer ? (size_t)len : s->xfer)))
                return ENOMEM;
            if (client_read(s, c, addr, buf, n)) {
                srv_release(s, buf);
                return EIO;
            }
            *sum = sum_bytes(buf, n, *sum);
            addr += n;
        }
    }
    srv_release(s, buf);
    return err;
}

void dma_engine_run(struct vuc_srv *s, struct vuc_conn *c, uint32_t op)
{
    uint8_t *b = s->dev.bar0;
    uint64_t sum = 0;
    uint32_t st;

    if (op == DMA_OP_READ) {
        st = engine_read(s, c, vuc_get_u64(b + BAR0_DMA_ADDR),
                         vuc_get_u64(b + BAR0_DMA_LEN), &sum);
        vuc_put_u64(b + BAR0_DMA_SUM, sum);
    } else {
        st = engine(s, c, vuc_get_u64(b + BAR0_DMA_ADDR),
                    vuc_get_u64(b + BAR0_DMA_LEN),
                    vuc_get_u64(b + BAR0_DMA_PATTERN));
    }
    vuc_put_u32(b + BAR0_DMA_STATUS, st);
}
