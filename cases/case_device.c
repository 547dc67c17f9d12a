// SPDX-License-Identifier: BSD-3-Clause
/*
 * device.* and backend.*: what a server owes any client whatever its
 * migration support: the device it describes (DEVICE_GET_INFO), DMA
 * mappings (DMA_MAP over a mapping, DMA_UNMAP of what was not mapped),
 * and the device outliving a client's connection (Client Disconnection).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cases_priv.h"
#include "vucert/codec.h"

#define SPEC_INFO  "VFIO_USER_DEVICE_GET_INFO"
#define SPEC_MAP   "VFIO_USER_DMA_MAP"
#define SPEC_UNMAP "VFIO_USER_DMA_UNMAP"

/* The memory the DMA cases lend: 4 pages, far from where others map. */
#define MAP_IOVA 0x7f0000000ull
#define MAP_LEN  (4u * 4096u)

/* device.get-info.pci: "This version of the protocol only supports PCI
 * devices": the reply's flags say PCI. */
static void info_pci(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_device_info di = {.argsz = 16}, out;
    struct vuc_reply r;
    uint8_t p[16];
    char eb[16];
    int rc;

    (void)c;
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    vuc_device_info_encode(&di, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, p, sizeof(p), NULL,
                         0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_GET_INFO");
        return;
    }
    if (r.is_error)
        vuc_verdict(ctx, VUC_FAIL, "DEVICE_GET_INFO failed with errno %s",
                    vuc_errno_name(r.error, eb, sizeof(eb)));
    else if (vuc_device_info_decode(r.payload, r.payload_len, &out) < 0)
        vuc_verdict(ctx, VUC_FAIL,
                    "the DEVICE_GET_INFO reply (%zu payload bytes) cannot be "
                    "decoded",
                    r.payload_len);
    else if (!(out.flags & VUC_DEVICE_FLAGS_PCI))
        vuc_verdict(ctx, VUC_FAIL,
                    "DEVICE_GET_INFO flags 0x%x lack VFIO_DEVICE_FLAGS_PCI "
                    "(\"This version of the protocol only supports PCI "
                    "devices\")",
                    out.flags);
    else
        vuc_check(ctx);
    vuc_reply_release(&r);
}

/* DMA_MAP of [iova, iova + len) with fd (offset 0); the reply's errno in
 * *err (0: success). < 0: no usable reply (reported). */
static int map_fd(struct vuc_ctx *ctx, int fd, uint64_t iova, uint64_t len,
                  uint32_t *err)
{
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE,
                             .addr = iova,
                             .size = len};
    struct vuc_reply r;
    uint8_t p[32];
    int rc;

    vuc_dma_map_encode(&dm, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_MAP, p, sizeof(p), &fd, 1, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DMA_MAP");
        return rc;
    }
    *err = r.is_error ? (r.error ? r.error : 0xffffffffu) : 0;
    vuc_reply_release(&r);
    return 0;
}

static int unmap(struct vuc_ctx *ctx, uint64_t iova, uint64_t len,
                 uint32_t *err)
{
    struct vuc_dma_unmap du = {.argsz = 24, .addr = iova, .size = len};
    struct vuc_reply r;
    uint8_t p[24];
    int rc;

    vuc_dma_unmap_encode(&du, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DMA_UNMAP, p, sizeof(p), NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DMA_UNMAP");
        return rc;
    }
    *err = r.is_error ? (r.error ? r.error : 0xffffffffu) : 0;
    vuc_reply_release(&r);
    return 0;
}

/* A fresh connection with MAP_LEN bytes of a memfd mapped at MAP_IOVA;
 * the fd in *fd (the caller closes it). false after a verdict. */
static bool mapped(struct vuc_ctx *ctx, int *fd)
{
    uint32_t err = 0;
    char eb[16];

    *fd = -1;
    if (vuc_ctx_connect(ctx) == NULL)
        return false;
    /* a device that keeps mappings across reconnects may still hold this
     * one from an earlier case: take it back first (any answer will do) */
    if (unmap(ctx, MAP_IOVA, MAP_LEN, &err) < 0)
        return false;
    *fd = memfd_create("vucert-dma", MFD_CLOEXEC);
    if (*fd < 0 || ftruncate(*fd, MAP_LEN) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "memfd: %s", strerror(errno));
        return false;
    }
    if (map_fd(ctx, *fd, MAP_IOVA, MAP_LEN, &err) < 0)
        return false;
    if (err != 0) {
        vuc_blocked(ctx, "dirty.dma.map-unmap",
                    "DMA_MAP of %u bytes of a memfd at 0x%llx failed with "
                    "errno %s",
                    MAP_LEN, MAP_IOVA, vuc_errno_name(err, eb, sizeof(eb)));
        return false;
    }
    return true;
}

/* The exact unmap at the end. A refusal is dirty.dma.map-unmap's to
 * judge (an exact DMA_UNMAP of a mapping works), unless a map of the same
 * range now succeeds: then the mapping was lost, the case's own claim. */
static bool still_mapped(struct vuc_ctx *ctx, int fd, const char *after)
{
    uint32_t err = 0, again = 0;
    char eb[16];

    if (unmap(ctx, MAP_IOVA, MAP_LEN, &err) < 0)
        return false;
    if (err == 0)
        return true;
    if (map_fd(ctx, fd, MAP_IOVA, MAP_LEN, &again) < 0)
        return false;
    if (again == 0)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "after %s, DMA_UNMAP of the original mapping failed with "
                    "errno %s and a new DMA_MAP of it succeeded: the mapping "
                    "was lost",
                    after, vuc_errno_name(err, eb, sizeof(eb)));
    else
        vuc_blocked(ctx, "dirty.dma.map-unmap",
                    "after %s, DMA_UNMAP of exactly the mapping made failed "
                    "with errno %s",
                    after, vuc_errno_name(err, eb, sizeof(eb)));
    return false;
}

/* device.dma-map.overlap: "A command to map over an existing region must
 * be failed by the server with EEXIST set in error field in the reply." */
static void map_overlap(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const struct {
        uint64_t off, len;
        const char *what;
    } over[] = {
        {0, MAP_LEN, "the same range"},
        {MAP_LEN / 2, MAP_LEN, "a range over its second half and beyond"},
        {4096, 4096, "one page inside it"},
    };
    char eb[16];
    int fd;

    (void)c;
    if (!mapped(ctx, &fd))
        goto out;
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        uint32_t err = 0;

        if (map_fd(ctx, fd, MAP_IOVA + over[i].off, over[i].len, &err) < 0)
            goto out;
        if (err == EEXIST) {
            vuc_check(ctx);
            continue;
        }
        if (err == 0)
            vuc_verdict(ctx, VUC_FAIL,
                        "DMA_MAP of %s of a mapping succeeded; \"A command "
                        "to map over an existing region must be failed by the "
                        "server with EEXIST\"",
                        over[i].what);
        else
            vuc_verdict(ctx, VUC_FAIL,
                        "DMA_MAP of %s of a mapping failed with errno %s, not "
                        "EEXIST",
                        over[i].what, vuc_errno_name(err, eb, sizeof(eb)));
        goto out;
    }
    if (still_mapped(ctx, fd, "the refused maps over it"))
        vuc_check(ctx);
out:
    if (fd >= 0)
        close(fd);
}

/* device.dma-unmap.exact: "The address and size of the DMA region being
 * unmapped must match exactly a previous mapping." A client obligation;
 * a server that validates its input refuses the others and keeps the
 * mapping (Security Considerations: "should"). */
static void unmap_exact(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const struct {
        uint64_t off, len;
        const char *what;
    } bad[] = {
        {0, MAP_LEN / 2, "the first half of a mapping"},
        {4096, MAP_LEN - 4096, "a mapping but its first page"},
        {0, 2 * MAP_LEN, "a range twice a mapping's size"},
        {16 * MAP_LEN, MAP_LEN, "a range never mapped"},
    };
    int fd;

    (void)c;
    if (!mapped(ctx, &fd))
        goto out;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t err = 0;

        if (unmap(ctx, MAP_IOVA + bad[i].off, bad[i].len, &err) < 0)
            goto out;
        if (err == 0) {
            vuc_verdict(ctx, VUC_VIOLATION(ctx),
                        "DMA_UNMAP of %s succeeded (\"The address and size "
                        "of the DMA region being unmapped must match exactly "
                        "a previous mapping\")",
                        bad[i].what);
            goto out;
        }
        vuc_check(ctx);
    }
    if (still_mapped(ctx, fd, "the refused unmaps"))
        vuc_check(ctx);
out:
    if (fd >= 0)
        close(fd);
}

/* Does process pid still map or hold the file st names? What it is, in
 * what (an excerpt of /proc/PID/maps or an fd link), or "" if neither;
 * < 0 when /proc/PID cannot be read. */
static int holds(pid_t pid, const struct stat *st, char *what, size_t cap)
{
    char path[64], line[512];
    struct dirent *de;
    struct stat fst;
    FILE *f;
    DIR *d;

    what[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long ino;
        char range[64];

        if (sscanf(line, "%63s %*s %*s %*s %llu", range, &ino) == 2 &&
            ino == (unsigned long long)st->st_ino && strstr(line, "memfd:")) {
            snprintf(what, cap, "it still maps it (/proc/%d/maps: %s)",
                     (int)pid, range);
            break;
        }
    }
    fclose(f);
    if (what[0] != '\0')
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -errno;
    while ((de = readdir(d)) != NULL) {
        char fp[384];

        if (de->d_name[0] == '.')
            continue;
        snprintf(fp, sizeof(fp), "%s/%s", path, de->d_name);
        if (stat(fp, &fst) == 0 && fst.st_ino == st->st_ino &&
            fst.st_dev == st->st_dev) {
            snprintf(what, cap, "it still holds its fd (as fd %.32s)",
                     de->d_name);
            break;
        }
    }
    closedir(d);
    return 0;
}

/* device.dma-unmap.releases: "if the file descriptor is mapped then the
 * server must release all references to that DMA region before
 * replying". Right after the reply to an exact DMA_UNMAP, the process
 * serving the socket neither maps the memfd nor holds an fd of it. The
 * process is the socket's listener (SO_PEERCRED); its /proc must be
 * readable, else SKIP. */
static void unmap_releases(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    char what[256], eb[16];
    struct stat st;
    uint32_t err = 0;
    pid_t pid;
    int fd, rc;

    (void)c;
    if (!mapped(ctx, &fd))
        goto out;
    pid = vuc_case_peer_pid(ctx);
    if (fstat(fd, &st) < 0) {
        vuc_verdict(ctx, VUC_ERROR, "fstat: %s", strerror(errno));
        goto out;
    }
    if (unmap(ctx, MAP_IOVA, MAP_LEN, &err) < 0)
        goto out;
    if (err != 0) {
        vuc_blocked(ctx, "dirty.dma.map-unmap",
                    "DMA_UNMAP of exactly the mapping made failed with errno "
                    "%s",
                    vuc_errno_name(err, eb, sizeof(eb)));
        goto out;
    }
    rc = pid > 0 ? holds(pid, &st, what, sizeof(what)) : -ESRCH;
    if (rc < 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "vucert cannot read the server's /proc (pid %d: %s), so "
                    "it cannot see what the server maps",
                    (int)pid, strerror(-rc));
        goto out;
    }
    vuc_client_trace_note(ctx->cl, "# /proc/%d: the memfd (inode %llu) %s",
                          (int)pid, (unsigned long long)st.st_ino,
                          what[0] ? what : "is neither mapped nor held");
    if (what[0] != '\0')
        vuc_verdict(ctx, VUC_FAIL,
                    "after the reply to DMA_UNMAP of a memfd mapping, %s "
                    "(\"the server must release all references to that DMA "
                    "region before replying\")",
                    what);
    else
        vuc_check(ctx);
out:
    if (fd >= 0)
        close(fd);
}

/* The eventfd-id of an eventfd in /proc/PID/fdinfo/FD ("self" for
 * vucert's own), -1 if none. */
static long eventfd_id(const char *pid, const char *fd)
{
    char path[96], line[128];
    long id = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%.16s/fdinfo/%.32s", pid, fd);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "eventfd-id: %ld", &id) == 1)
            break;
    fclose(f);
    return id;
}

/* The fd of process pid holding the eventfd with this id: its number, -1
 * if none, -2 if /proc/PID/fdinfo cannot be read. */
static int find_eventfd(pid_t pid, long id)
{
    char dir[64], p[16];
    struct dirent *de;
    int found = -1;
    DIR *d;

    snprintf(p, sizeof(p), "%d", (int)pid);
    snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
    d = opendir(dir);
    if (d == NULL)
        return -2;
    while (found < 0 && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && eventfd_id(p, de->d_name) == id)
            found = atoi(de->d_name);
    closedir(d);
    return found;
}

/* The first IRQ index that takes an eventfd (GET_IRQ_INFO: count >= 1,
 * VFIO_IRQ_INFO_EVENTFD): its index, -ENOENT if none, or another -errno
 * after a verdict. */
static int eventfd_irq(struct vuc_ctx *ctx)
{
    struct vuc_device_info di = {.argsz = 16}, out;
    struct vuc_reply r;
    uint8_t p[16];
    int rc;

    vuc_device_info_encode(&di, p, sizeof(p));
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_INFO, p, 16, NULL, 0, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_GET_INFO");
        return rc;
    }
    rc = r.is_error ? -EREMOTEIO
                    : vuc_device_info_decode(r.payload, r.payload_len, &out);
    vuc_reply_release(&r);
    if (rc < 0)
        return -ENOENT; /* device.get-info.pci judges the reply */
    for (uint32_t i = 0; i < out.num_irqs && i < 16; i++) {
        memset(p, 0, sizeof(p));
        vuc_put_u32(p, 16);
        vuc_put_u32(p + 8, i);
        rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_GET_IRQ_INFO, p, 16, NULL,
                             0, &r);
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "DEVICE_GET_IRQ_INFO");
            return rc;
        }
        rc = !r.is_error && r.payload_len >= 16 &&
             (vuc_get_u32(r.payload + 4) & 1u) && vuc_get_u32(r.payload + 12);
        vuc_reply_release(&r);
        if (rc)
            return (int)i;
    }
    return -ENOENT;
}

/*
 * device.disconnect.irq-fds-closed: Client Disconnection: "the server
 * should respond to a client disconnection as follows: ... all IRQ file
 * descriptors passed from the old client are closed". An eventfd set as
 * the trigger of the first IRQ that takes one (SET_IRQS DATA_EVENTFD |
 * ACTION_TRIGGER) is open in the server while its client is there, and
 * no longer once a new client is served. The eventfd is found by its
 * eventfd-id in /proc/PID/fdinfo (Linux 6.1 and later).
 */
static void irq_fds_closed(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    uint8_t p[20] = {0};
    struct vuc_reply r;
    char eb[16];
    pid_t pid;
    long id;
    int efd = -1, idx, rc, held;

    (void)c;
    if (ctx->target->exits_on_disconnect) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server exits when its client leaves (one client per "
                    "process): nothing it held outlives the connection");
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    idx = eventfd_irq(ctx);
    if (idx == -ENOENT)
        vuc_verdict(ctx, VUC_SKIP,
                    "no IRQ of the device takes an eventfd (GET_IRQ_INFO)");
    if (idx < 0)
        return;
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    id = -1;
    if (efd >= 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", efd);
        id = eventfd_id("self", fd);
    }
    pid = vuc_case_peer_pid(ctx);
    if (efd < 0 || id < 0 || pid <= 0) {
        vuc_verdict(ctx, VUC_SKIP,
                    "vucert cannot tell an eventfd apart in another process "
                    "(no eventfd-id in /proc/self/fdinfo before Linux 6.1), "
                    "or which process serves the socket");
        goto out;
    }
    vuc_put_u32(p, 20);
    vuc_put_u32(p + 4, (1u << 2) | (1u << 5)); /* DATA_EVENTFD|TRIGGER */
    vuc_put_u32(p + 8, (uint32_t)idx);
    vuc_put_u32(p + 16, 1);
    rc = vuc_client_call(ctx->cl, VUC_CMD_DEVICE_SET_IRQS, p, 20, &efd, 1, &r);
    if (rc < 0) {
        vuc_case_report_rc(ctx, rc, "DEVICE_SET_IRQS");
        goto out;
    }
    if (r.is_error) {
        vuc_verdict(ctx, VUC_SKIP,
                    "SET_IRQS of an eventfd for IRQ index %d was refused "
                    "(errno %s): the server holds no IRQ fd to close",
                    idx, vuc_errno_name(r.error, eb, sizeof(eb)));
        vuc_reply_release(&r);
        goto out;
    }
    vuc_reply_release(&r);
    held = find_eventfd(pid, id);
    if (held == -2) {
        vuc_verdict(ctx, VUC_SKIP, "/proc/%d/fdinfo cannot be read", (int)pid);
        goto out;
    }
    vuc_client_trace_note(ctx->cl, "# the server holds the eventfd as fd %d",
                          held);
    /* a new client is served once the old one's leaving is done (one
     * client at a time), or alongside it: either way, after the
     * disconnect the eventfd must be gone */
    vuc_ctx_disconnect(ctx);
    if (vuc_ctx_connect(ctx) == NULL)
        goto out;
    held = find_eventfd(vuc_case_peer_pid(ctx), id);
    if (held >= 0)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "after its client left, the server still holds the "
                    "eventfd that client set for IRQ index %d (as fd %d; "
                    "Client Disconnection: \"all IRQ file descriptors passed "
                    "from the old client are closed\")",
                    idx, held);
    else
        vuc_check(ctx);
out:
    if (efd >= 0)
        close(efd);
}

/*
 * negotiate.caps.max-msg-fds-default: VERSION, max_msg_fds: "If not
 * specified then the receiver must assume a value of 1." vucert proposes
 * capabilities without max_msg_fds, then asks for every reply that may
 * carry fds (DEVICE_GET_REGION_INFO and DEVICE_GET_REGION_IO_FDS of every
 * region): none may carry more than one.
 */
static void max_fds_default(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    static const char prop[] =
        "{\"capabilities\":{\"max_data_xfer_size\":1048576}}";
    unsigned replies = 0, most = 0;
    struct vuc_reply r;
    uint8_t p[32];
    int rc;

    (void)c;
    if (vuc_ctx_connect_raw(ctx) == NULL)
        return;
    rc = vuc_client_negotiate(ctx->cl, VUC_VERSION_MAJOR, VUC_VERSION_MINOR,
                              prop, &r);
    if (rc < 0 || r.is_error) {
        /* no case owns refusing a proposal: the spec names none a server
         * must take (as take_proposal in case_negotiate.c) */
        vuc_verdict(ctx, VUC_SKIP,
                    "the server did not negotiate capabilities without "
                    "max_msg_fds (%s); the spec names no proposal a server "
                    "must take",
                    rc < 0 ? vuc_client_last_error(ctx->cl) : "error reply");
        vuc_reply_release(&r);
        return;
    }
    vuc_reply_release(&r);
    for (uint32_t idx = 0; idx < VUC_PCI_NUM_REGIONS; idx++) {
        for (int k = 0; k < 2; k++) {
            uint16_t cmd = k == 0 ? VUC_CMD_DEVICE_GET_REGION_INFO
                                  : VUC_CMD_DEVICE_GET_REGION_IO_FDS;
            size_t len = k == 0 ? 32 : 16;

            /* argsz, flags, index[, ...]: room for the fixed reply */
            memset(p, 0, sizeof(p));
            vuc_put_u32(p, (uint32_t)len);
            vuc_put_u32(p + 8, idx);
            rc = vuc_client_call(ctx->cl, cmd, p, len, NULL, 0, &r);
            if (rc < 0) {
                vuc_case_report_rc(ctx, rc, vuc_cmd_name(cmd));
                return;
            }
            replies++;
            if (r.msg.nfds > most)
                most = (unsigned)r.msg.nfds;
            if (r.msg.nfds > 1 || r.msg.fds_truncated) {
                vuc_verdict(ctx, VUC_FAIL,
                            "with no max_msg_fds proposed, the %s reply for "
                            "region %u carries %s%zu fds (VERSION: \"If not "
                            "specified then the receiver must assume a value "
                            "of 1\")",
                            vuc_cmd_name(cmd), idx,
                            r.msg.fds_truncated ? "more than " : "",
                            r.msg.nfds);
                vuc_reply_release(&r);
                return;
            }
            vuc_reply_release(&r);
        }
    }
    vuc_client_trace_note(ctx->cl, "# %u replies, at most %u fd in one",
                          replies, most);
    vuc_check(ctx);
}

/*
 * device.region-write.max-xfer-exact: Read and Write Operations: "The
 * count field must not exceed the value of max_data_xfer_size of the
 * peer" makes a write of exactly that count one the server takes. The
 * first writable region that holds the agreed limit (at most 16 MiB) is
 * read in pieces, and what was read goes back in one REGION_WRITE of
 * exactly the limit: one message larger than a socket buffer, sent in
 * one write.
 */
#define WRITE_EXACT_MAX (16u << 20)

static void region_write_exact(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_region_info ri;
    uint64_t limit;
    uint32_t err = 0, idx;
    uint8_t *buf = NULL;
    char eb[16];
    int rc;

    (void)c;
    if (vuc_ctx_connect(ctx) == NULL)
        return;
    limit = vuc_client_negotiated(ctx->cl)->limits.max_data_xfer_size;
    if (limit == 0 || limit > WRITE_EXACT_MAX) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the agreed max_data_xfer_size %llu is not testable here "
                    "(vucert writes at most %u bytes)",
                    (unsigned long long)limit, WRITE_EXACT_MAX);
        return;
    }
    for (idx = 0; idx < VUC_PCI_NUM_REGIONS; idx++) {
        rc = vuc_client_region_info(ctx->cl, idx, &ri, &err);
        if (rc == -EREMOTEIO)
            continue;
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "DEVICE_GET_REGION_INFO");
            return;
        }
        if ((ri.flags & (VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE)) ==
                (VUC_REGION_FLAG_READ | VUC_REGION_FLAG_WRITE) &&
            ri.size >= limit)
            break;
    }
    if (idx == VUC_PCI_NUM_REGIONS) {
        vuc_verdict(ctx, VUC_SKIP,
                    "no readable and writable region holds the agreed "
                    "max_data_xfer_size (%llu bytes)",
                    (unsigned long long)limit);
        return;
    }
    buf = malloc((size_t)limit);
    if (buf == NULL) {
        vuc_verdict(ctx, VUC_ERROR, "out of memory");
        return;
    }
    /* the read, in pieces well inside the limit, is only the setup */
    for (uint64_t off = 0; off < limit;) {
        uint32_t n = (uint32_t)(limit - off < 4096 ? limit - off : 4096);

        rc = vuc_client_region_read(ctx->cl, idx, off, buf + off, n, &err);
        if (rc == -EREMOTEIO) {
            vuc_blocked(ctx, "device.region-read.readable",
                        "REGION_READ of %u bytes of region %u at 0x%llx "
                        "failed with errno %s",
                        n, idx, (unsigned long long)off,
                        vuc_errno_name(err, eb, sizeof(eb)));
            goto out;
        }
        if (rc < 0) {
            vuc_case_report_rc(ctx, rc, "REGION_READ");
            goto out;
        }
        off += n;
    }
    vuc_client_trace_note(ctx->cl,
                          "# one REGION_WRITE of %llu bytes to region %u",
                          (unsigned long long)limit, idx);
    rc = vuc_client_region_write(ctx->cl, idx, 0, buf, (uint32_t)limit, &err);
    if (rc == -EREMOTEIO)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a REGION_WRITE of exactly the agreed max_data_xfer_size "
                    "(%llu bytes, to region %u) was rejected with errno %s",
                    (unsigned long long)limit, idx,
                    vuc_errno_name(err, eb, sizeof(eb)));
    else if (rc < 0)
        vuc_case_report_rc(ctx, rc, "REGION_WRITE at max_data_xfer_size");
    else
        vuc_check(ctx);
out:
    free(buf);
}

/* device.disconnect.keeps-state: Client Disconnection: "the device state
 * should otherwise be retained". The migration state is the part every
 * migratable device has: STOP, set by one client, is what the next one
 * reads. */
static void disconnect_keeps_state(struct vuc_ctx *ctx,
                                   const struct vuc_case *c)
{
    uint32_t st;

    (void)c;
    if (vuc_case_flags(ctx) == 0)
        return;
    if (ctx->target->exits_on_disconnect) {
        vuc_verdict(ctx, VUC_SKIP,
                    "the server exits when its client leaves (one client per "
                    "process): no device outlives the connection");
        return;
    }
    if (vuc_ctx_connect(ctx) == NULL || !vuc_case_fresh(ctx) ||
        !vuc_case_walk(ctx, VUC_STATE_RUNNING, VUC_STATE_STOP))
        return;
    vuc_ctx_disconnect(ctx);
    if (vuc_ctx_connect(ctx) == NULL || !vuc_case_get(ctx, &st))
        return;
    if (st != VUC_STATE_STOP)
        vuc_verdict(ctx, VUC_VIOLATION(ctx),
                    "a client left the device in STOP; the next client reads "
                    "%s (\"the device state should otherwise be retained\")",
                    vuc_state_name(st));
    else
        vuc_check(ctx);
}

/* device.region-read.readable: every region DEVICE_GET_REGION_INFO says
 * is readable can be read over the socket (Read and Write Operations:
 * REGION_READ "must be supported ... even if the corresponding memory or
 * device region has been shared as mappable"). The reads are those of
 * the device image stream.roundtrip compares. */
static void region_readable(struct vuc_ctx *ctx, const struct vuc_case *c)
{
    struct vuc_image img;

    if (vuc_ctx_connect(ctx) == NULL)
        return;
    if (vuc_case_image(ctx, &img, c->id) == 0) {
        vuc_client_trace_note(ctx->cl, "# %zu readable regions, %zu bytes read",
                              img.nparts, img.len);
        vuc_check(ctx);
    }
    vuc_image_free(&img);
}

size_t vuc_cases_device(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    VUC_CASE("negotiate.caps.max-msg-fds-default",
             "without max_msg_fds, no reply carries more than one fd",
             "VFIO_USER_VERSION", "must assume", max_fds_default, 0, 0, NULL);
    VUC_CASE("device.get-info.pci", "DEVICE_GET_INFO says the device is PCI",
             SPEC_INFO, "only supports PCI devices", info_pci, 0, 0, NULL);
    VUC_CASE("device.region-read.readable",
             "every readable region can be read with REGION_READ",
             "Read and Write Operations", "must be supported", region_readable,
             0, 0, NULL);
    VUC_CASE("device.region-write.max-xfer-exact",
             "one REGION_WRITE of exactly max_data_xfer_size is accepted",
             "Read and Write Operations", "must not exceed", region_write_exact,
             0, 0, NULL);
    VUC_CASE("device.dma-map.overlap",
             "DMA_MAP over an existing mapping fails with EEXIST", SPEC_MAP,
             "must be failed", map_overlap, 0, 0, NULL);
    /* the sentence binds the client; refusing what breaks it is
     * Security Considerations' "should" */
    VUC_CASE("device.dma-unmap.exact",
             "DMA_UNMAP of anything but a whole mapping is refused",
             "Security Considerations", "should", unmap_exact, 0, 0, NULL);
    VUC_CASE("device.dma-unmap.releases",
             "after DMA_UNMAP the server neither maps nor holds the fd",
             SPEC_UNMAP, "must release", unmap_releases, 0, 0, NULL);
    VUC_CASE("device.disconnect.irq-fds-closed",
             "the IRQ eventfds of a client are closed when it leaves",
             "Client Disconnection", "should", irq_fds_closed, 0, 0, NULL);
    VUC_CASE("device.disconnect.keeps-state",
             "the migration state outlives a client's connection",
             "Client Disconnection", "should otherwise be retained",
             disconnect_keeps_state, 0, 0, NULL);
    return n;
}
