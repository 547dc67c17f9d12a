/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_client: a hostile server. The input is what the server end of an
 * in-memory pair sends to vucert's client library (harness/client.c,
 * include/vucert/client.h) before each call of a session the input also
 * chooses; every wait has timeout 0. Input format: fuzz_priv.h.
 *
 * Properties:
 * - every call returns 0 or a negative errno the header documents
 *   (-ETIMEDOUT/-EAGAIN, -ECONNRESET, -EPIPE, -EPROTO, -EREMOTEIO,
 *   -ENOMEM, -EINVAL), never crashes, never reads past a buffer (the
 *   buffers handed to it have exactly the size asked, so ASan sees it);
 * - what a call returns with 0 is what it promises: a reply framed for
 *   its request (type Reply, same id and command, at least the fixed
 *   reply size unless an error), a MIG_DATA_READ of at most the size
 *   asked, negotiated limits with a JSON text that parses;
 * - a failed call says why (vuc_client_last_error is not empty);
 * - the server's DMA_READ/WRITE requests, answered from two adjacent
 *   4 KiB regions of client memory while a call waits, touch nothing
 *   outside them;
 * - the trace can always be formatted; no memory or fd is leaked.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vucert/client.h"
#include "vucert/codec.h"
#include "vucert/transport.h"
#include "vucert/wire.h"
#include "fuzz_priv.h"

/* The client memory the server may reach with DMA_READ/WRITE. */
#define CLIENT_IOVA 0x100000ull
#define CLIENT_MEM  4096u

static bool rc_ok(int rc)
{
    return rc == 0 || rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ECONNRESET ||
           rc == -EPIPE || rc == -EPROTO || rc == -EREMOTEIO || rc == -ENOMEM ||
           rc == -EINVAL;
}

/* A reply vuc_client_call accepted for request (id, cmd). */
static void check_framed(const struct vuc_reply *r, uint16_t id, uint16_t cmd)
{
    const struct vuc_hdr *h = &r->msg.hdr;

    FZ_CHECK(vuc_hdr_type(h) == VUC_TYPE_REPLY, "type %u", vuc_hdr_type(h));
    FZ_CHECK(h->id == id && h->cmd == cmd, "reply %u/%u to %u/%u", h->id,
             h->cmd, id, cmd);
    FZ_CHECK(r->is_error == ((h->flags & VUC_FLAG_ERROR) != 0), "is_error");
    FZ_CHECK(r->error == h->error, "error");
    FZ_CHECK(r->payload_len == r->msg.len - VUC_HDR_SIZE &&
                 r->msg.len == h->size,
             "payload length");
    /* a success reply below its fixed part is handed over too (noted):
     * a helper that decodes it refuses it (vuc_client_call) */
}

/* Read every byte of a reply the caller was handed. */
static unsigned touch(const uint8_t *p, size_t n)
{
    unsigned sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return sum;
}

static int memfd_get(void)
{
    static int fd = -1;

    if (fd < 0) {
        fd = memfd_create("fuzz_client", MFD_CLOEXEC);
        FZ_CHECK(fd >= 0, "memfd");
    }
    return fd;
}

/* The bytes the server sends, doctored as ctl says for the call to come. */
static void serve(struct vuc_conn *srv, uint8_t ctl, const uint8_t *p, size_t n,
                  uint16_t id, uint16_t cmd)
{
    uint8_t *b;
    int fd = memfd_get();

    if (n == 0)
        return;
    b = malloc(n);
    FZ_CHECK(b != NULL, "malloc");
    memcpy(b, p, n);
    if (n >= VUC_HDR_SIZE && (ctl & FZC_CTL_PATCH_HDR)) {
        vuc_put_u16(b, id);
        vuc_put_u16(b + 2, cmd);
        vuc_put_u32(b + 8, (vuc_get_u32(b + 8) & ~VUC_FLAG_TYPE_MASK) |
                               VUC_TYPE_REPLY);
    }
    if (n >= VUC_HDR_SIZE && (ctl & FZC_CTL_PATCH_SIZE))
        vuc_put_u32(b + 4, (uint32_t)n);
    /* The client end may be gone already; that is the client's problem. */
    (void)vuc_conn_send_raw(srv, b, n, (ctl & FZC_CTL_FD) ? &fd : NULL,
                            (ctl & FZC_CTL_FD) ? 1 : 0, 0);
    free(b);
}

static uint16_t call_cmd(unsigned call)
{
    switch (call) {
    case FZC_CALL_NEGOTIATE:
    case FZC_CALL_NEGOTIATE0:
        return VUC_CMD_VERSION;
    case FZC_CALL_MIG_READ:
        return VUC_CMD_MIG_DATA_READ;
    case FZC_CALL_MIG_WRITE:
        return VUC_CMD_MIG_DATA_WRITE;
    case FZC_CALL_REGION_READ:
        return VUC_CMD_REGION_READ;
    case FZC_CALL_REGION_WRITE:
        return VUC_CMD_REGION_WRITE;
    case FZC_CALL_REGION_INFO:
        return VUC_CMD_DEVICE_GET_REGION_INFO;
    case FZC_CALL_RESET:
        return VUC_CMD_DEVICE_RESET;
    default:
        return VUC_CMD_DEVICE_FEATURE;
    }
}

static void negotiated_ok(struct vuc_client *cl)
{
    const struct vuc_negotiated *n = vuc_client_negotiated(cl);
    struct vuc_caps c;

    FZ_CHECK(n != NULL, "no negotiation");
    if (n->json)
        FZ_CHECK(vuc_caps_parse(n->json, strlen(n->json), &c) == 0,
                 "negotiated JSON does not parse: %s", n->json);
}

static int make_call(struct vuc_client *cl, unsigned call, unsigned arg)
{
    uint16_t id = vuc_client_next_id(cl);
    struct vuc_reply r;
    struct vuc_region_info ri;
    uint8_t *buf;
    uint64_t flags;
    uint32_t v = 0, err = 0, got = UINT32_MAX, size;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    switch (call) {
    case FZC_CALL_NEGOTIATE:
    case FZC_CALL_NEGOTIATE0:
        rc = vuc_client_negotiate(cl, 0, 1,
                                  call == FZC_CALL_NEGOTIATE ? NULL : "", &r);
        if (rc == 0) {
            check_framed(&r, id, VUC_CMD_VERSION);
            if (!r.is_error)
                negotiated_ok(cl);
        }
        vuc_reply_release(&r);
        break;
    case FZC_CALL_GET_STATE:
        rc = vuc_client_get_state(cl, &v, &err);
        break;
    case FZC_CALL_SET_STATE:
        rc = vuc_client_set_state(cl, arg % 9, &r);
        if (rc == 0)
            check_framed(&r, id, VUC_CMD_DEVICE_FEATURE);
        vuc_reply_release(&r);
        break;
    case FZC_CALL_MIG_READ:
        size = arg * 16;
        buf = malloc(size ? size : 1);
        FZ_CHECK(buf != NULL, "malloc");
        rc = vuc_client_mig_read(cl, size, buf, &got, &err);
        if (rc == 0)
            FZ_CHECK(got <= size, "read %u of %u", got, size);
        if (rc == 0)
            (void)touch(buf, got);
        free(buf);
        break;
    case FZC_CALL_MIG_WRITE:
        size = arg * 16;
        buf = calloc(1, size ? size : 1);
        FZ_CHECK(buf != NULL, "calloc");
        rc = vuc_client_mig_write(cl, buf, size, &err);
        free(buf);
        break;
    case FZC_CALL_REGION_READ:
        size = arg * 8;
        buf = malloc(size ? size : 1);
        FZ_CHECK(buf != NULL, "malloc");
        rc = vuc_client_region_read(cl, 0, 0, buf, size, &err);
        if (rc == 0)
            (void)touch(buf, size);
        free(buf);
        break;
    case FZC_CALL_REGION_WRITE:
        size = arg * 8;
        buf = calloc(1, size ? size : 1);
        FZ_CHECK(buf != NULL, "calloc");
        rc = vuc_client_region_write(cl, 0, 0x58, buf, size, &err);
        free(buf);
        break;
    case FZC_CALL_REGION_INFO:
        rc = vuc_client_region_info(cl, arg, &ri, &err);
        if (rc == 0)
            FZ_CHECK(ri.caps == NULL && ri.caps_len == 0, "dangling caps");
        break;
    case FZC_CALL_FEATURE:
        rc = vuc_client_feature(cl, VUC_FEATURE_GET | arg, 16, NULL, 0, &r);
        if (rc == 0) {
            check_framed(&r, id, VUC_CMD_DEVICE_FEATURE);
            (void)touch(r.payload, r.payload_len);
        }
        vuc_reply_release(&r);
        break;
    case FZC_CALL_MIG_FLAGS:
        rc = vuc_client_mig_flags(cl, &flags, &err);
        break;
    case FZC_CALL_RESET:
        rc = vuc_client_reset(cl, &r);
        if (rc == 0)
            check_framed(&r, id, VUC_CMD_DEVICE_RESET);
        vuc_reply_release(&r);
        break;
    default: /* FZC_CALL_RECV_ANY */
        rc = vuc_client_recv_any(cl, &r);
        if (rc == 0) {
            FZ_CHECK(r.payload_len == r.msg.len - VUC_HDR_SIZE, "payload");
            (void)touch(r.payload, r.payload_len);
        }
        vuc_reply_release(&r);
        break;
    }
    FZ_CHECK(rc_ok(rc), "call %u returned %d", call, rc);
    /* client.h: last_error says what went wrong with framing and waits */
    if (rc == -EPROTO || rc == -ETIMEDOUT || rc == -EAGAIN ||
        rc == -ECONNRESET || rc == -EPIPE) {
        const char *e = vuc_client_last_error(cl);

        FZ_CHECK(e != NULL && e[0] != '\0', "call %u failed (%d) silently",
                 call, rc);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct vuc_conn *cli, *srv;
    struct vuc_client *cl;
    uint8_t *mem[2];
    const char *t;
    struct fz_fds fds;

    (void)memfd_get();
    fds = fz_fds_begin();
    FZ_CHECK(vuc_mem_pair(&cli, &srv) == 0, "vuc_mem_pair");
    FZ_CHECK(vuc_client_from_conn(cli, 0, &cl) == 0, "vuc_client_from_conn");
    /* Client memory for the server's DMA_READ/WRITE: two adjacent 4 KiB
     * regions, each an exact-size allocation, so ASan sees any access
     * that runs past one. */
    for (int i = 0; i < 2; i++) {
        mem[i] = calloc(1, CLIENT_MEM);
        FZ_CHECK(mem[i] != NULL, "calloc");
        FZ_CHECK(vuc_client_add_memory(cl,
                                       CLIENT_IOVA + (uint64_t)i * CLIENT_MEM,
                                       mem[i], CLIENT_MEM) == 0,
                 "vuc_client_add_memory");
    }
    while (!fz_empty(&in)) {
        unsigned call = fz_u8(&in) % FZC_CALL_COUNT;
        uint8_t ctl = fz_u8(&in);
        const uint8_t *p;
        size_t n;

        p = fz_take(&in, fz_u16(&in), &n);
        if (srv) {
            serve(srv, ctl, p, n, vuc_client_next_id(cl), call_cmd(call));
            if (ctl & FZC_CTL_HANGUP) {
                vuc_conn_close(srv);
                srv = NULL;
            }
        }
        make_call(cl, call, (ctl & FZC_CTL_ARG) >> 4);
    }
    /* What the client received is formatted for verdicts (once: it is
     * the whole exchange, and formatting it is what costs). */
    t = vuc_client_trace(cl);
    FZ_CHECK(t != NULL, "no trace");
    (void)strlen(t);
    vuc_client_close(cl);
    vuc_conn_close(srv);
    free(mem[0]);
    free(mem[1]);
    fz_fds_check(fds);
    return 0;
}
