// SPDX-License-Identifier: BSD-3-Clause
/*
 * Chaos modes (--chaos NAME): a deliberately hostile server. A quirk is
 * wrong about the protocol in one named way; a chaos mode breaks the
 * transport under it, so that the test suite can show that vucert ends
 * within its timeouts, never crashes, and names what went wrong when the
 * server it judges is broken, slow or hostile (issue 6).
 *
 * Requests are handled as usual (the device acts on them); only the reply
 * that goes out is mangled, and only the replies chosen: after VERSION
 * (whose reply is never touched, so a client can always connect and
 * negotiate), of the command asked for (chaos_cmd, else any), every
 * chaos_every-th of them on a connection. A mode that leaves the client
 * unable to find the next message boundary (truncated-reply,
 * oversized-msg-size, garbage-bytes) mutes the connection: requests are
 * still read and handled, but nothing more is sent on it, so the client
 * has to notice by itself (its timeout) rather than be rescued by later
 * bytes. close-mid-reply closes it; the next client is served as usual.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vucert/codec.h"
#include "server_priv.h"

struct chaos_info {
    const char *name;
    const char *desc;
};

static const struct chaos_info chaos_table[VUC_SRV_CHAOS_COUNT] = {
    [VUC_SRV_CHAOS_NONE] = {"none", "replies as usual"},
    [VUC_SRV_CHAOS_TRUNCATED_REPLY] = {"truncated-reply",
                                       "half a reply, then silence"},
    [VUC_SRV_CHAOS_WRONG_MESSAGE_ID] = {"wrong-message-id",
                                        "the reply carries the id + 1"},
    [VUC_SRV_CHAOS_REPLY_NEVER_SENT] = {"reply-never-sent",
                                        "the request is handled, never "
                                        "answered"},
    [VUC_SRV_CHAOS_CLOSE_MID_REPLY] = {"close-mid-reply",
                                       "half a reply, then the connection "
                                       "closes"},
    [VUC_SRV_CHAOS_OVERSIZED_MSG_SIZE] = {"oversized-msg-size",
                                          "the header declares 0x7fffffff "
                                          "bytes, then silence"},
    [VUC_SRV_CHAOS_GARBAGE_BYTES] = {"garbage-bytes",
                                     "64 random bytes instead, then silence"},
    [VUC_SRV_CHAOS_ERROR_FLAG_WITH_PAYLOAD] = {"error-flag-with-payload",
                                               "Error flag, EINVAL and a "
                                               "payload"},
    [VUC_SRV_CHAOS_SLOW_DRIP] = {"slow-drip",
                                 "the first 64 bytes one by one, 2 ms apart"},
};

const char *vuc_srv_chaos_name(unsigned i)
{
    return i > 0 && i < VUC_SRV_CHAOS_COUNT ? chaos_table[i].name : NULL;
}

const char *vuc_srv_chaos_desc(unsigned i)
{
    return i > 0 && i < VUC_SRV_CHAOS_COUNT ? chaos_table[i].desc : NULL;
}

int vuc_srv_chaos_parse(const char *name, uint32_t *mode)
{
    if (!name || !mode)
        return -EINVAL;
    for (unsigned i = 0; i < VUC_SRV_CHAOS_COUNT; i++) {
        if (strcmp(name, chaos_table[i].name) == 0) {
            *mode = i;
            return 0;
        }
    }
    return -EINVAL;
}

/* The garbage is pseudo-random but the same on every connection, so a
 * run that goes wrong can be replayed (splitmix64). */
#define CHAOS_SEED 0x243f6a8885a308d3ull

void chaos_reset(struct vuc_srv *s)
{
    s->chaos_seen = 0;
    s->chaos_mute = false;
    s->chaos_rng = CHAOS_SEED;
}

static uint64_t next_rand(struct vuc_srv *s)
{
    uint64_t z = (s->chaos_rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Is the reply to req one of those chosen? Counts the eligible ones. */
static bool chosen(struct vuc_srv *s, const struct vuc_hdr *req)
{
    uint32_t every = s->opts.chaos_every ? s->opts.chaos_every : 1;

    if (!s->negotiated || req->cmd == VUC_CMD_VERSION)
        return false;
    if (s->opts.chaos_cmd && req->cmd != s->opts.chaos_cmd)
        return false;
    return ++s->chaos_seen % every == 0;
}

/* The whole reply as bytes (header with its size, then the payload).
 * Returns NULL on ENOMEM; *len its length. */
static uint8_t *gather(struct vuc_srv *s, const struct vuc_hdr *rh,
                       const struct iovec *iov, int iovcnt, size_t *len)
{
    struct vuc_hdr h = *rh;
    size_t n = VUC_HDR_SIZE, at = VUC_HDR_SIZE;
    uint8_t *buf;

    for (int i = 0; i < iovcnt; i++)
        if (__builtin_add_overflow(n, iov[i].iov_len, &n))
            return NULL;
    if (n > UINT32_MAX || !(buf = srv_alloc(s, n)))
        return NULL;
    h.size = (uint32_t)n;
    (void)vuc_hdr_encode(&h, buf, VUC_HDR_SIZE);
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(buf + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    *len = n;
    return buf;
}

/* How much of a reply of len bytes a cut-short mode sends: the header
 * and half the payload, or half the header when there is no payload,
 * so that the declared size is never met. */
static size_t cut(size_t len)
{
    return len > VUC_HDR_SIZE ? VUC_HDR_SIZE + (len - VUC_HDR_SIZE) / 2
                              : VUC_HDR_SIZE / 2;
}

static int send_cut(struct vuc_srv *s, struct vuc_conn *c,
                    const struct vuc_hdr *rh, const struct iovec *iov,
                    int iovcnt)
{
    size_t len;
    uint8_t *buf = gather(s, rh, iov, iovcnt, &len);
    int rc;

    if (!buf)
        return -ENOMEM;
    rc = vuc_conn_send_raw(c, buf, cut(len), NULL, 0, s->send_timeout_ms);
    srv_release(s, buf);
    return rc;
}

static int send_drip(struct vuc_srv *s, struct vuc_conn *c,
                     const struct vuc_hdr *rh, const struct iovec *iov,
                     int iovcnt)
{
    const struct timespec pause = {
        .tv_sec = 0,
        .tv_nsec = (long)VUC_SRV_CHAOS_DRIP_US * 1000,
    };
    size_t len, i = 0;
    uint8_t *buf = gather(s, rh, iov, iovcnt, &len);
    int rc = 0;

    if (!buf)
        return -ENOMEM;
    for (; rc == 0 && i < len && i < VUC_SRV_CHAOS_DRIP_BYTES; i++) {
        if (i)
            nanosleep(&pause, NULL);
        rc = vuc_conn_send_raw(c, buf + i, 1, NULL, 0, s->send_timeout_ms);
    }
    if (rc == 0 && i < len) {
        nanosleep(&pause, NULL);
        rc =
            vuc_conn_send_raw(c, buf + i, len - i, NULL, 0, s->send_timeout_ms);
    }
    srv_release(s, buf);
    return rc;
}

static int send_oversized(struct vuc_srv *s, struct vuc_conn *c,
                          const struct vuc_hdr *rh, const struct iovec *iov,
                          int iovcnt)
{
    struct vuc_hdr h = *rh;
    uint8_t b[VUC_HDR_SIZE + 8] = {0};
    size_t n = 0;

    h.size = VUC_SRV_CHAOS_OVERSIZE;
    (void)vuc_hdr_encode(&h, b, VUC_HDR_SIZE);
    /* "a few bytes" of the real payload, zeros if it has fewer */
    for (int i = 0; i < iovcnt && n < 8; i++) {
        size_t k = iov[i].iov_len < 8 - n ? iov[i].iov_len : 8 - n;

        memcpy(b + VUC_HDR_SIZE + n, iov[i].iov_base, k);
        n += k;
    }
    return vuc_conn_send_raw(c, b, sizeof(b), NULL, 0, s->send_timeout_ms);
}

static int send_garbage(struct vuc_srv *s, struct vuc_conn *c)
{
    uint8_t b[VUC_SRV_CHAOS_GARBAGE_LEN];

    for (size_t i = 0; i < sizeof(b); i += 8)
        vuc_put_u64(b + i, next_rand(s));
    return vuc_conn_send_raw(c, b, sizeof(b), NULL, 0, s->send_timeout_ms);
}

static int send_error_payload(struct vuc_srv *s, struct vuc_conn *c,
                              const struct vuc_hdr *rh, const struct iovec *iov,
                              int iovcnt)
{
    static const uint8_t junk[8] = {0xba, 0xdc, 0x0f, 0xfe,
                                    0xba, 0xdc, 0x0f, 0xfe};
    struct iovec jiov = {.iov_base = (void *)(uintptr_t)junk,
                         .iov_len = sizeof(junk)};
    struct vuc_hdr h = *rh;
    size_t n = 0;

    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    h.flags |= VUC_FLAG_ERROR;
    h.error = EINVAL;
    /* The payload the success reply had, or 8 bytes when it had none. */
    if (n == 0) {
        iov = &jiov;
        iovcnt = 1;
    }
    return vuc_conn_sendv(c, &h, iov, iovcnt, NULL, 0, s->send_timeout_ms);
}

int chaos_sendv(struct vuc_srv *s, struct vuc_conn *c,
                const struct vuc_hdr *req, struct vuc_hdr *rh,
                const struct iovec *iov, int iovcnt, const int *fds,
                size_t nfds)
{
    uint32_t mode = s->opts.chaos;
    int rc;

    if (s->chaos_mute)
        return 0; /* the client has lost the framing: say nothing more */
    if (mode == VUC_SRV_CHAOS_NONE || !chosen(s, req))
        return vuc_conn_sendv(c, rh, iov, iovcnt, fds, nfds,
                              s->send_timeout_ms);
    if (s->opts.verbose)
        fprintf(stderr, "vucert-server: chaos %s: reply to #%u %s\n",
                chaos_table[mode].name, req->id, vuc_cmd_name(req->cmd));
    switch (mode) {
    case VUC_SRV_CHAOS_TRUNCATED_REPLY:
        s->chaos_mute = true;
        return send_cut(s, c, rh, iov, iovcnt);
    case VUC_SRV_CHAOS_WRONG_MESSAGE_ID: {
        struct vuc_hdr h = *rh;

        h.id = (uint16_t)(h.id + 1);
        return vuc_conn_sendv(c, &h, iov, iovcnt, NULL, 0, s->send_timeout_ms);
    }
    case VUC_SRV_CHAOS_REPLY_NEVER_SENT:
        return 0;
    case VUC_SRV_CHAOS_CLOSE_MID_REPLY:
        rc = send_cut(s, c, rh, iov, iovcnt);
        return rc < 0 ? rc : -ECONNABORTED;
    case VUC_SRV_CHAOS_OVERSIZED_MSG_SIZE:
        s->chaos_mute = true;
        return send_oversized(s, c, rh, iov, iovcnt);
    case VUC_SRV_CHAOS_GARBAGE_BYTES:
        s->chaos_mute = true;
        return send_garbage(s, c);
    case VUC_SRV_CHAOS_ERROR_FLAG_WITH_PAYLOAD:
        return send_error_payload(s, c, rh, iov, iovcnt);
    case VUC_SRV_CHAOS_SLOW_DRIP:
        return send_drip(s, c, rh, iov, iovcnt);
    default:
        return vuc_conn_sendv(c, rh, iov, iovcnt, NULL, 0, s->send_timeout_ms);
    }
}
