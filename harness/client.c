// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert's client library: typed requests, strict reply framing checks and
 * a wire trace. See include/vucert/client.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "harness_priv.h"
#include "vucert/client.h"

#define TRACE_LINES    64
#define TRACE_LINE_MAX 200
#define TRACE_PAYLOAD  32

/* Socket send buffer asked for (the kernel caps it at wmem_max): room
 * for whole MIG_DATA_WRITEs, so the client sends on while the server is
 * still busy with the data it has (vucert-server's loop.c does the same
 * for its replies). */
#define CLIENT_SNDBUF (4 << 20)

struct trace_entry {
    bool is_msg;
    bool out;
    struct vuc_hdr h;
    size_t payload_len;
    uint8_t payload[TRACE_PAYLOAD]; /* the first bytes of it */
    char note[TRACE_LINE_MAX];
};

struct vuc_client {
    struct vuc_conn *conn;
    uint16_t next_id;
    int timeout_ms;
    struct vuc_negotiated neg;
    char last_error[256];
    bool lost; /* the server closed the connection */
    /* Ring of trace entries. Messages are recorded raw (header and the
     * first bytes of the payload) and formatted only when a verdict asks
     * for the trace: the common case, a PASS, never pays for it. */
    struct trace_entry trace[TRACE_LINES];
    unsigned trace_head;    /* index of the oldest entry */
    unsigned trace_n;       /* entries in the ring */
    unsigned trace_dropped; /* entries overwritten since the reset */
    char *trace_text;
    /* client memory the server reaches with DMA_READ/DMA_WRITE */
    struct {
        uint64_t iova, len;
        uint8_t *ptr;
    } mem[VUC_CLIENT_MAX_MEMORY];
    size_t n_mem;
    unsigned server_requests; /* served during the current call */
    unsigned dma_requests;    /* DMA_READ/WRITE since the last stats reset */
    uint64_t dma_count_max;   /* ... and the largest count among them */
    unsigned twin_requests;   /* ... of them on the twin socket */
    /* twin-socket mode: the client's end of the server -> client command
     * channel, taken from the VERSION reply (NULL: not negotiated) */
    struct vuc_conn *twin;
    /* Violations tolerated since the last vuc_client_take_notes: each
     * belongs to a case of its own, so the call goes on (client.h). */
    char notes[512];
    bool timed_out;         /* a wait for the server ran out */
    unsigned stray_fds;     /* fds on replies that carry none */
    uint64_t proposed_xfer; /* max_data_xfer_size vucert proposed */
    const char *record_dir; /* --record, or NULL */
    struct vuc_seq *seq;    /* --save-sequences: requests sent, or NULL */
    unsigned seq_sent;      /* requests sent while seq was set */
    /* scratch for requests */
    uint8_t *scratch;
    size_t scratch_cap;
};

static const char default_caps[] =
    "{\"capabilities\":{\"max_msg_fds\":8,"
    "\"max_data_xfer_size\":1048576,\"max_dma_maps\":65535,"
    "\"pgsizes\":4096}}";

const char *vuc_client_default_caps_json(void)
{
    return default_caps;
}

void vuc_reply_release(struct vuc_reply *r)
{
    if (r == NULL)
        return;
    vuc_msg_release(&r->msg);
    memset(r, 0, sizeof(*r));
}

static void set_error(struct vuc_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct vuc_client *cl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cl->last_error, sizeof(cl->last_error), fmt, ap);
    va_end(ap);
    vuc_client_trace_note(cl, "! %s", cl->last_error);
}

static void tolerate(struct vuc_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A violation another case judges: note it and go on. */
static void tolerate(struct vuc_client *cl, const char *fmt, ...)
{
    char msg[200];
    size_t n = strlen(cl->notes);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vuc_client_trace_note(cl, "# tolerated: %s", msg);
    if (strstr(cl->notes, msg) != NULL)
        return;
    snprintf(cl->notes + n, sizeof(cl->notes) - n, "%s%s", n ? "; " : "", msg);
}

const char *vuc_client_take_notes(struct vuc_client *cl, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", cl->notes);
    cl->notes[0] = '\0';
    return buf;
}

unsigned vuc_client_stray_fds(const struct vuc_client *cl)
{
    return cl->stray_fds;
}

bool vuc_client_timed_out(const struct vuc_client *cl)
{
    return cl->timed_out;
}

bool vuc_client_lost(const struct vuc_client *cl)
{
    return cl->lost;
}

const char *vuc_client_last_error(const struct vuc_client *cl)
{
    return cl->last_error;
}

static struct trace_entry *trace_slot(struct vuc_client *cl)
{
    unsigned slot;

    if (cl->trace_n == TRACE_LINES) {
        slot = cl->trace_head;
        cl->trace_head = (cl->trace_head + 1) % TRACE_LINES;
        cl->trace_dropped++;
    } else {
        slot = (cl->trace_head + cl->trace_n++) % TRACE_LINES;
    }
    return &cl->trace[slot];
}

void vuc_client_trace_note(struct vuc_client *cl, const char *fmt, ...)
{
    struct trace_entry *e = trace_slot(cl);
    va_list ap;

    e->is_msg = false;
    va_start(ap, fmt);
    vsnprintf(e->note, sizeof(e->note), fmt, ap);
    va_end(ap);
}

void vuc_client_trace_reset(struct vuc_client *cl)
{
    cl->trace_head = 0;
    cl->trace_n = 0;
    cl->trace_dropped = 0;
}

static void format_msg(const struct trace_entry *e, char *line, size_t cap);

const char *vuc_client_trace(struct vuc_client *cl)
{
    size_t cap = (size_t)cl->trace_n * (TRACE_LINE_MAX + 1) + 64;
    size_t off = 0;
    char *s;

    s = realloc(cl->trace_text, cap);
    if (s == NULL)
        return "";
    cl->trace_text = s;
    s[0] = '\0';
    if (cl->trace_dropped > 0)
        off += (size_t)snprintf(s, cap, "... %u earlier lines elided ...\n",
                                cl->trace_dropped);
    for (unsigned i = 0; i < cl->trace_n && off < cap; i++) {
        const struct trace_entry *e =
            &cl->trace[(cl->trace_head + i) % TRACE_LINES];
        char line[TRACE_LINE_MAX];
        if (e->is_msg)
            format_msg(e, line, sizeof(line));
        off += (size_t)snprintf(s + off, cap - off, "%s\n",
                                e->is_msg ? line : e->note);
    }
    return s;
}

/* A one-line summary of the payload's interesting fields. */
static void describe(char *buf, size_t cap, uint16_t cmd, bool reply,
                     const uint8_t *p, size_t len)
{
    struct vuc_feature f;
    struct vuc_mig_state ms;
    struct vuc_mig_data md;
    struct vuc_region_rw rw;

    buf[0] = '\0';
    switch (cmd) {
    case VUC_CMD_DEVICE_FEATURE:
        if (vuc_feature_decode(p, len, &f) < 0)
            return;
        {
            uint32_t idx = vuc_feature_index(f.flags);
            int n = snprintf(buf, cap, " argsz=%u feature=%u%s%s%s", f.argsz,
                             idx, (f.flags & VUC_FEATURE_GET) ? " GET" : "",
                             (f.flags & VUC_FEATURE_SET) ? " SET" : "",
                             (f.flags & VUC_FEATURE_PROBE) ? " PROBE" : "");
            if (n < 0 || (size_t)n >= cap)
                return;
            if (idx == VUC_FEATURE_MIG_DEVICE_STATE &&
                !(f.flags & VUC_FEATURE_PROBE) &&
                vuc_mig_state_decode(f.data, f.data_len, &ms) >= 0)
                snprintf(buf + n, cap - (size_t)n, " state=%s(%u)",
                         vuc_state_name(ms.device_state), ms.device_state);
            else if (idx == VUC_FEATURE_MIGRATION && reply && f.data_len >= 8)
                snprintf(buf + n, cap - (size_t)n, " mig_flags=0x%llx",
                         (unsigned long long)vuc_get_u64(f.data));
        }
        break;
    case VUC_CMD_MIG_DATA_READ:
    case VUC_CMD_MIG_DATA_WRITE:
        if (vuc_mig_data_decode(p, len, false, &md) >= 0)
            snprintf(buf, cap, " argsz=%u size=%u", md.argsz, md.size);
        break;
    case VUC_CMD_REGION_READ:
    case VUC_CMD_REGION_WRITE:
        if (vuc_region_rw_decode(p, len, false, &rw) >= 0)
            snprintf(buf, cap, " region=%u offset=0x%llx count=%u", rw.region,
                     (unsigned long long)rw.offset, rw.count);
        break;
    case VUC_CMD_VERSION:
        if (len >= 4)
            snprintf(buf, cap, " %u.%u json=%zu bytes", vuc_get_u16(p),
                     vuc_get_u16(p + 2), len > 4 ? len - 4 : 0);
        break;
    default:
        break;
    }
}

static void format_msg(const struct trace_entry *e, char *line, size_t cap)
{
    const struct vuc_hdr *h = &e->h;
    bool reply = vuc_hdr_type(h) == VUC_TYPE_REPLY;
    size_t plen =
        e->payload_len < TRACE_PAYLOAD ? e->payload_len : TRACE_PAYLOAD;
    char detail[128];
    char ebuf[16];

    if (h->flags & VUC_FLAG_ERROR)
        snprintf(detail, sizeof(detail), " ERROR errno=%s",
                 vuc_errno_name(h->error, ebuf, sizeof(ebuf)));
    else
        describe(detail, sizeof(detail), h->cmd, reply, e->payload, plen);
    snprintf(line, cap, "%s #%u %s%s size=%u%s", e->out ? "->" : "<-", h->id,
             vuc_cmd_name(h->cmd), reply ? " reply" : "", h->size, detail);
}

void vuc_client_record(struct vuc_client *cl, const char *dir)
{
    cl->record_dir = dir;
}

void vuc_client_save_sequence(struct vuc_client *cl, struct vuc_seq *s)
{
    cl->seq = s;
    cl->seq_sent = 0;
}

/* --save-sequences: the request as sent, its fds described (a regular
 * file is a memfd of its size, anything else an eventfd). The VERSION
 * that opens a connection is left out: vucert fuzz negotiates itself. */
static void seq_note(struct vuc_client *cl, const struct vuc_hdr *h,
                     const struct iovec *iov, int iovcnt, size_t len,
                     const int *fds, size_t nfds)
{
    struct vuc_seq_fd d[VUC_SEQ_MAX_FDS];
    uint8_t *buf;
    size_t n = VUC_HDR_SIZE;

    if (cl->seq == NULL || (cl->seq_sent++ == 0 && h->cmd == VUC_CMD_VERSION) ||
        len > VUC_SEQ_MAX_MSG - VUC_HDR_SIZE || nfds > VUC_SEQ_MAX_FDS)
        return;
    for (size_t i = 0; i < nfds; i++) {
        struct stat st;
        d[i].kind = VUC_SEQ_FD_EVENTFD;
        d[i].size = 0;
        if (fstat(fds[i], &st) == 0 && S_ISREG(st.st_mode)) {
            d[i].kind = VUC_SEQ_FD_MEMFD;
            d[i].size = (uint64_t)st.st_size < VUC_SEQ_MAX_MEMFD
                            ? (uint64_t)st.st_size
                            : VUC_SEQ_MAX_MEMFD;
        }
    }
    buf = malloc(VUC_HDR_SIZE + len);
    if (buf == NULL)
        return;
    vuc_hdr_encode(h, buf, VUC_HDR_SIZE);
    for (int i = 0; i < iovcnt && n < VUC_HDR_SIZE + len; i++) {
        memcpy(buf + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    (void)vuc_seq_add(cl->seq, buf, n, d, (unsigned)nfds);
    free(buf);
}

/* --record: the message (header as given, then payload) as one file. */
static void record_msg(struct vuc_client *cl, const struct vuc_hdr *h,
                       const uint8_t *p, size_t len)
{
    char name[65], path[4096];
    uint8_t *buf;
    FILE *f;

    if (cl->record_dir == NULL || len > (64u << 20))
        return;
    buf = malloc(VUC_HDR_SIZE + len);
    if (buf == NULL)
        return;
    vuc_hdr_encode(h, buf, VUC_HDR_SIZE);
    if (len > 0)
        memcpy(buf + VUC_HDR_SIZE, p, len);
    vuc_sha256_hex(buf, VUC_HDR_SIZE + len, name);
    snprintf(path, sizeof(path), "%s/%s", cl->record_dir, name);
    f = fopen(path, "wbx"); /* an existing file holds the same bytes */
    if (f != NULL) {
        fwrite(buf, 1, VUC_HDR_SIZE + len, f);
        fclose(f);
    }
    free(buf);
}

/* A trace entry for a message of len payload bytes, p its first bytes
 * (at least min(len, TRACE_PAYLOAD) of them, or NULL). */
static void trace_add(struct vuc_client *cl, bool out, const struct vuc_hdr *h,
                      const uint8_t *p, size_t len)
{
    struct trace_entry *e = trace_slot(cl);

    e->is_msg = true;
    e->out = out;
    e->h = *h;
    e->payload_len = len;
    if (len > 0 && p != NULL)
        memcpy(e->payload, p, len < TRACE_PAYLOAD ? len : TRACE_PAYLOAD);
}

/* Trace a message whose whole payload is p (and record it). */
static void trace_msg(struct vuc_client *cl, bool out, const struct vuc_hdr *h,
                      const uint8_t *p, size_t len)
{
    if (p != NULL || len == 0)
        record_msg(cl, h, p, len);
    trace_add(cl, out, h, p, len);
}

int vuc_client_from_conn(struct vuc_conn *conn, int timeout_ms,
                         struct vuc_client **out)
{
    struct vuc_client *cl = calloc(1, sizeof(*cl));

    if (cl == NULL)
        return -ENOMEM;
    cl->conn = conn;
    cl->timeout_ms = timeout_ms;
    cl->next_id = 1;
    vuc_caps_defaults(&cl->neg.caps);
    vuc_caps_defaults(&cl->neg.limits);
    *out = cl;
    return 0;
}

int vuc_client_connect(const char *path, int timeout_ms,
                       struct vuc_client **out)
{
    struct vuc_conn *conn;
    int rc = vuc_unix_connect(path, timeout_ms, &conn);
    int sz = CLIENT_SNDBUF;

    if (rc < 0)
        return rc;
    (void)setsockopt(vuc_conn_fd(conn), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    rc = vuc_client_from_conn(conn, timeout_ms, out);
    if (rc < 0)
        vuc_conn_close(conn);
    return rc;
}

void vuc_client_close(struct vuc_client *cl)
{
    if (cl == NULL)
        return;
    vuc_conn_close(cl->conn);
    if (cl->twin != NULL)
        vuc_conn_close(cl->twin);
    free(cl->neg.json);
    free(cl->trace_text);
    free(cl->scratch);
    free(cl);
}

void vuc_client_set_timeout(struct vuc_client *cl, int timeout_ms)
{
    cl->timeout_ms = timeout_ms;
}

int vuc_client_timeout(const struct vuc_client *cl)
{
    return cl->timeout_ms;
}

struct vuc_conn *vuc_client_conn(struct vuc_client *cl)
{
    return cl->conn;
}

uint16_t vuc_client_next_id(const struct vuc_client *cl)
{
    return cl->next_id;
}

static const char *recv_err_str(int rc)
{
    switch (rc) {
    case -ETIMEDOUT:
        return "no reply within the timeout";
    case -ECONNRESET:
        return "the server closed the connection";
    case -EPIPE:
        return "the server closed the connection in the middle of a message";
    case -EBADMSG:
        return "a message declared a size below the 16-byte header";
    case -EMSGSIZE:
        return "a message declared a size above the largest vucert accepts";
    default:
        return strerror(-rc);
    }
}

int vuc_client_recv_any(struct vuc_client *cl, struct vuc_reply *r)
{
    int rc;

    memset(r, 0, sizeof(*r));
    rc = vuc_conn_recv(cl->conn, &r->msg, cl->timeout_ms);
    if (rc == -ECONNRESET || rc == -EPIPE)
        cl->lost = true;
    if (rc == -ETIMEDOUT)
        cl->timed_out = true;
    if (rc < 0) {
        if (rc == -EBADMSG || rc == -EMSGSIZE)
            trace_msg(cl, false, &r->msg.hdr, NULL, 0);
        set_error(cl, "%s", recv_err_str(rc));
        if (rc == -EBADMSG || rc == -EMSGSIZE)
            rc = -EPROTO;
        memset(r, 0, sizeof(*r));
        return rc;
    }
    r->is_error = (r->msg.hdr.flags & VUC_FLAG_ERROR) != 0;
    r->error = r->msg.hdr.error;
    r->payload = r->msg.payload;
    r->payload_len = r->msg.payload_len;
    trace_msg(cl, false, &r->msg.hdr, r->payload, r->payload_len);
    return 0;
}

/* Check the framing of a reply to request (id, cmd). */
static int check_reply(struct vuc_client *cl, uint16_t id, uint16_t cmd,
                       struct vuc_reply *r)
{
    const struct vuc_hdr *h = &r->msg.hdr;
    const struct vuc_msg_desc *d = vuc_msg_desc(cmd);

    if (vuc_hdr_type(h) != VUC_TYPE_REPLY) {
        set_error(cl, "expected a reply to #%u %s, got a message of type %u",
                  id, vuc_cmd_name(cmd), vuc_hdr_type(h));
        return -EPROTO;
    }
    if (h->id != id) {
        set_error(cl, "reply carries message id %u, expected %u", h->id, id);
        return -EPROTO;
    }
    if (h->cmd != cmd) {
        set_error(cl, "reply to %s carries command %u (%s)", vuc_cmd_name(cmd),
                  h->cmd, vuc_cmd_name(h->cmd));
        return -EPROTO;
    }
    /* A success reply shorter than its fixed part is whole and the stream
     * in step: what needed the missing fields fails to decode it and says
     * so; every other step goes on (a case judges one claim). */
    if (!r->is_error && d != NULL && r->payload_len < d->reply_min)
        tolerate(cl, "a %s reply payload of %zu bytes, below its fixed %u",
                 vuc_cmd_name(cmd), r->payload_len, d->reply_min);
    return 0;
}

int vuc_client_send_raw(struct vuc_client *cl, const void *buf, size_t len)
{
    struct vuc_hdr h;
    int rc;

    if (cl->seq != NULL && len <= VUC_SEQ_MAX_MSG &&
        !(cl->seq_sent++ == 0 && len >= 4 &&
          vuc_get_u16((const uint8_t *)buf + 2) == VUC_CMD_VERSION))
        (void)vuc_seq_add(cl->seq, buf, len, NULL, 0);
    if (vuc_hdr_decode(buf, len, &h) >= 0)
        trace_msg(cl, true, &h, (const uint8_t *)buf + VUC_HDR_SIZE,
                  len - VUC_HDR_SIZE);
    else
        vuc_client_trace_note(cl, "-> %zu raw bytes", len);
    rc = vuc_conn_send_raw(cl->conn, buf, len, NULL, 0, cl->timeout_ms);
    if (rc == -EPIPE || rc == -ECONNRESET)
        cl->lost = true;
    if (rc < 0)
        set_error(cl, "send failed: %s", strerror(-rc));
    return rc;
}

int vuc_client_add_memory(struct vuc_client *cl, uint64_t iova, void *ptr,
                          uint64_t len)
{
    uint64_t end;

    if (cl->n_mem == VUC_CLIENT_MAX_MEMORY)
        return -ENOSPC;
    if (len == 0 || __builtin_add_overflow(iova, len, &end))
        return -EINVAL;
    cl->mem[cl->n_mem].iova = iova;
    cl->mem[cl->n_mem].len = len;
    cl->mem[cl->n_mem].ptr = ptr;
    cl->n_mem++;
    return 0;
}

void vuc_client_dma_stats(struct vuc_client *cl, unsigned *requests,
                          uint64_t *count_max, unsigned *on_twin, bool reset)
{
    if (requests != NULL)
        *requests = cl->dma_requests;
    if (count_max != NULL)
        *count_max = cl->dma_count_max;
    if (on_twin != NULL)
        *on_twin = cl->twin_requests;
    if (reset) {
        cl->dma_requests = 0;
        cl->dma_count_max = 0;
        cl->twin_requests = 0;
    }
}

bool vuc_client_twin(const struct vuc_client *cl)
{
    return cl->twin != NULL;
}

void vuc_client_del_memory(struct vuc_client *cl, uint64_t iova)
{
    for (size_t i = 0; i < cl->n_mem; i++) {
        if (cl->mem[i].iova == iova) {
            cl->mem[i] = cl->mem[--cl->n_mem];
            return;
        }
    }
}

/* The registered client memory holding [addr, addr + count), or NULL. */
static uint8_t *client_memory(struct vuc_client *cl, uint64_t addr,
                              uint64_t count)
{
    uint64_t end;

    if (__builtin_add_overflow(addr, count, &end))
        return NULL;
    for (size_t i = 0; i < cl->n_mem; i++) {
        if (addr >= cl->mem[i].iova && end <= cl->mem[i].iova + cl->mem[i].len)
            return cl->mem[i].ptr + (addr - cl->mem[i].iova);
    }
    return NULL;
}

/*
 * Answer a command the server sent while vucert waited for a reply:
 * DMA_READ / DMA_WRITE against memory registered with
 * vuc_client_add_memory; anything else gets an error reply. A server
 * that floods the client with commands gets -EPROTO.
 */
static int serve_server_request(struct vuc_client *cl, struct vuc_conn *on,
                                struct vuc_reply *req)
{
    const struct vuc_hdr *h = &req->msg.hdr;
    struct vuc_hdr rh = {.id = h->id, .cmd = h->cmd, .flags = VUC_TYPE_REPLY};
    struct vuc_dma_rw rw;
    uint8_t fixed[16];
    struct iovec iov[2];
    int iovcnt = 0;
    uint8_t *mem = NULL;
    bool is_write = h->cmd == VUC_CMD_DMA_WRITE;

    if (++cl->server_requests > 65536) {
        set_error(cl, "the server sent more than 65536 commands while "
                      "vucert waited for one reply");
        return -EPROTO;
    }
    if ((h->cmd == VUC_CMD_DMA_READ || is_write) &&
        vuc_dma_rw_decode(req->payload, req->payload_len, is_write, &rw) >= 0) {
        cl->dma_requests++;
        cl->twin_requests += on == cl->twin;
        if (rw.count > cl->dma_count_max)
            cl->dma_count_max = rw.count;
        mem = client_memory(cl, rw.addr, rw.count);
    }
    if (mem == NULL || (!is_write && rw.count > SIZE_MAX / 2)) {
        rh.flags |= VUC_FLAG_ERROR;
        rh.error = (h->cmd == VUC_CMD_DMA_READ || is_write) ? EFAULT : ENOSYS;
    } else {
        struct vuc_dma_rw out = {.addr = rw.addr, .count = rw.count};
        vuc_dma_rw_encode(&out, fixed, sizeof(fixed));
        iov[iovcnt++] = (struct iovec){fixed, sizeof(fixed)};
        /* a DMA_WRITE of 0 bytes decodes with no data (NULL) */
        if (is_write && rw.count > 0)
            memcpy(mem, rw.data, rw.count);
        else
            iov[iovcnt++] = (struct iovec){mem, (size_t)rw.count};
    }
    if (h->flags & VUC_FLAG_NO_REPLY)
        return 0;
    trace_msg(cl, true, &rh, iovcnt ? fixed : NULL, iovcnt ? 16 : 0);
    return vuc_conn_sendv(on, &rh, iov, iovcnt, NULL, 0, cl->timeout_ms);
}

/* Trace (and --record) a message sent from pieces: the trace keeps its
 * first bytes, a recording needs them all. */
static void trace_iov(struct vuc_client *cl, const struct vuc_hdr *h,
                      const struct iovec *iov, int iovcnt, size_t len)
{
    uint8_t head[TRACE_PAYLOAD], *all = NULL, *dst = head;
    size_t cap = sizeof(head), n = 0;

    if (cl->record_dir != NULL && len <= (64u << 20)) {
        all = malloc(len ? len : 1);
        if (all != NULL) {
            dst = all;
            cap = len;
        }
    }
    for (int i = 0; i < iovcnt && n < cap; i++) {
        size_t k = iov[i].iov_len < cap - n ? iov[i].iov_len : cap - n;
        memcpy(dst + n, iov[i].iov_base, k);
        n += k;
    }
    if (all != NULL) {
        trace_msg(cl, true, h, all, len);
        free(all);
        return;
    }
    trace_add(cl, true, h, head, len); /* a partial copy is not recorded */
}

/* Send a request of len payload bytes in iovcnt pieces with the next
 * message id (*id). */
static int send_request(struct vuc_client *cl, uint16_t cmd,
                        const struct iovec *iov, int iovcnt, size_t len,
                        const int *fds, size_t nfds, uint16_t *id)
{
    struct vuc_hdr h = {
        .id = cl->next_id++,
        .cmd = cmd,
        .size = (uint32_t)(VUC_HDR_SIZE + len),
        .flags = VUC_TYPE_COMMAND,
    };
    int rc;

    *id = h.id;
    seq_note(cl, &h, iov, iovcnt, len, fds, nfds);
    if (iovcnt == 1) {
        trace_msg(cl, true, &h, iov[0].iov_base, len);
        rc = vuc_conn_send(cl->conn, &h, iov[0].iov_base, len, fds, nfds,
                           cl->timeout_ms);
    } else {
        trace_iov(cl, &h, iov, iovcnt, len);
        rc = vuc_conn_sendv(cl->conn, &h, iov, iovcnt, fds, nfds,
                            cl->timeout_ms);
    }
    if (rc == -EPIPE || rc == -ECONNRESET)
        cl->lost = true;
    if (rc < 0) {
        set_error(cl, "sending %s failed: %s", vuc_cmd_name(cmd),
                  rc == -EPIPE ? "the server closed the connection"
                               : strerror(-rc));
        return rc == -EPIPE ? -ECONNRESET : rc;
    }
    return 0;
}

/* Twin-socket mode: until the main socket has something, serve the
 * commands that come on the twin socket. */
static int serve_twin(struct vuc_client *cl)
{
    struct pollfd p[2] = {{.fd = vuc_conn_fd(cl->conn), .events = POLLIN},
                          {.fd = vuc_conn_fd(cl->twin), .events = POLLIN}};
    struct vuc_reply r;
    int rc;

    while (!vuc_conn_pending(cl->conn)) {
        do
            rc = poll(p, 2, cl->timeout_ms);
        while (rc < 0 && errno == EINTR);
        if (rc <= 0 || (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return 0; /* the main socket's turn, or its timeout */
        if (!(p[1].revents & POLLIN)) {
            /* the server closed its end: no more commands from it */
            vuc_conn_close(cl->twin);
            cl->twin = NULL;
            return 0;
        }
        memset(&r, 0, sizeof(r));
        rc = vuc_conn_recv(cl->twin, &r.msg, cl->timeout_ms);
        if (rc < 0) {
            vuc_conn_close(cl->twin);
            cl->twin = NULL;
            return 0;
        }
        r.payload = r.msg.payload;
        r.payload_len = r.msg.payload_len;
        trace_msg(cl, false, &r.msg.hdr, r.payload, r.payload_len);
        rc = vuc_hdr_type(&r.msg.hdr) == VUC_TYPE_COMMAND
                 ? serve_server_request(cl, cl->twin, &r)
                 : 0; /* a reply on the command channel: nothing asked */
        vuc_reply_release(&r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Wait for the reply to request (id, cmd), serving the server's own
 * commands meanwhile. */
static int wait_reply(struct vuc_client *cl, uint16_t id, uint16_t cmd,
                      struct vuc_reply *r)
{
    int rc;

    cl->server_requests = 0;
    for (;;) {
        if (cl->twin != NULL && (rc = serve_twin(cl)) < 0)
            return rc;
        rc = vuc_client_recv_any(cl, r);
        if (rc < 0)
            return rc;
        /* spec: Command Concurrency: unrelated server -> client messages
         * may come between a request and its reply */
        if (vuc_hdr_type(&r->msg.hdr) != VUC_TYPE_COMMAND)
            break;
        rc = serve_server_request(cl, cl->conn, r);
        vuc_reply_release(r);
        if (rc < 0)
            return rc;
    }
    rc = check_reply(cl, id, cmd, r);
    if (rc < 0) {
        vuc_reply_release(r);
        return rc;
    }
    /* spec: only these replies carry fds; others are closed at release */
    if (r->msg.nfds > 0 && cmd != VUC_CMD_DEVICE_GET_REGION_INFO &&
        cmd != VUC_CMD_DEVICE_GET_REGION_IO_FDS && cmd != VUC_CMD_VERSION) {
        cl->stray_fds += (unsigned)r->msg.nfds;
        tolerate(cl, "a %s reply carries %zu fds, which vucert closed",
                 vuc_cmd_name(cmd), r->msg.nfds);
    }
    return 0;
}

int vuc_client_call(struct vuc_client *cl, uint16_t cmd, const void *payload,
                    size_t len, const int *fds, size_t nfds,
                    struct vuc_reply *r)
{
    struct iovec iov = {(void *)payload, len};
    uint16_t id;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = send_request(cl, cmd, &iov, 1, len, fds, nfds, &id);
    if (rc < 0)
        return rc;
    return wait_reply(cl, id, cmd, r);
}

/* ---- negotiation ---- */

int vuc_client_negotiate(struct vuc_client *cl, uint16_t major, uint16_t minor,
                         const char *json, struct vuc_reply *r)
{
    struct vuc_reply local;
    struct vuc_version v = {.major = major, .minor = minor};
    struct vuc_version rv;
    uint8_t *buf;
    size_t cap;
    int n, rc;

    if (r == NULL)
        r = &local;
    memset(r, 0, sizeof(*r));
    if (json == NULL)
        json = default_caps;
    if (json[0] != '\0') {
        v.json = json;
        v.json_len = strlen(json);
    }
    cap = 4 + v.json_len + 1;
    buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    n = vuc_version_encode(&v, buf, cap);
    if (n < 0) {
        free(buf);
        return n;
    }
    rc = vuc_client_call(cl, VUC_CMD_VERSION, buf, (size_t)n, NULL, 0, r);
    free(buf);
    if (rc < 0)
        return rc;
    if (r->is_error)
        goto out;
    if (vuc_version_decode(r->payload, r->payload_len, &rv) < 0) {
        set_error(cl, "VERSION reply payload cannot be decoded");
        rc = -EPROTO;
        goto out;
    }
    cl->neg.major = rv.major;
    cl->neg.minor = rv.minor;
    vuc_caps_defaults(&cl->neg.caps);
    free(cl->neg.json);
    cl->neg.json = NULL;
    if (rv.json != NULL) {
        /* the server's bytes need not end in a NUL: copy exactly them */
        cl->neg.json = malloc(rv.json_len + 1);
        if (cl->neg.json != NULL) {
            memcpy(cl->neg.json, rv.json, rv.json_len);
            cl->neg.json[rv.json_len] = '\0';
        }
        if (vuc_caps_parse(rv.json, rv.json_len, &cl->neg.caps) < 0) {
            set_error(cl, "VERSION reply JSON is malformed: %.120s",
                      cl->neg.json ? cl->neg.json : "");
            rc = -EPROTO;
            goto out;
        }
    }
    cl->neg.limits = cl->neg.caps;
    /* vucert never takes more than it proposed (negotiate.limits.* judge
     * a claim above the proposal): a server announcing 4 GiB must not
     * make vucert accept, or allocate for, 4 GiB messages. */
    {
        struct vuc_caps mine;
        vuc_caps_defaults(&mine);
        if (json[0] != '\0')
            (void)vuc_caps_parse(json, strlen(json), &mine);
        if (cl->neg.limits.max_data_xfer_size > mine.max_data_xfer_size) {
            tolerate(cl,
                     "the server's max_data_xfer_size %llu is above the %llu "
                     "vucert proposed; vucert keeps to its own (judged by "
                     "negotiate.limits.not-above-proposal)",
                     (unsigned long long)cl->neg.limits.max_data_xfer_size,
                     (unsigned long long)mine.max_data_xfer_size);
            cl->neg.limits.max_data_xfer_size = mine.max_data_xfer_size;
        }
        cl->proposed_xfer = mine.max_data_xfer_size;
        /* twin-socket mode, when vucert asked for it and the reply names
         * a socket it passed: the command channel (spec: "The client
         * monitors the provided file descriptor for commands") */
        if (mine.twin_supported && cl->neg.caps.twin_supported &&
            cl->neg.caps.twin_has_fd_index &&
            cl->neg.caps.twin_fd_index < r->msg.nfds && cl->twin == NULL) {
            size_t i = (size_t)cl->neg.caps.twin_fd_index;
            if (vuc_conn_from_fd(r->msg.fds[i], &cl->twin) < 0)
                cl->twin = NULL;
            r->msg.fds[i] = -1; /* the conn's now, or closed */
        }
    }
    /* The limits vucert will honour when it talks to this server. */
    vuc_conn_set_max_msg(
        cl->conn,
        VUC_HDR_SIZE + 64 + (size_t)cl->neg.limits.max_data_xfer_size + 65536u);
    if (cl->twin != NULL)
        vuc_conn_set_max_msg(
            cl->twin, VUC_HDR_SIZE + 64 +
                          (size_t)cl->neg.limits.max_data_xfer_size + 65536u);
out:
    if (r == &local)
        vuc_reply_release(r);
    return rc;
}

const struct vuc_negotiated *vuc_client_negotiated(const struct vuc_client *cl)
{
    return &cl->neg;
}

/* ---- typed requests ---- */

/* An error reply to cmd becomes -EREMOTEIO with its errno in *err (if
 * err) and is released; any other reply is left to the caller: 0. */
static int reply_error(struct vuc_client *cl, uint16_t cmd, struct vuc_reply *r,
                       uint32_t *err)
{
    if (!r->is_error)
        return 0;
    if (err)
        *err = r->error;
    set_error(cl, "%s failed with errno %u", vuc_cmd_name(cmd), r->error);
    vuc_reply_release(r);
    return -EREMOTEIO;
}

/* Call; an error reply becomes -EREMOTEIO (reply_error). */
static int call_checked(struct vuc_client *cl, uint16_t cmd, const void *p,
                        size_t n, struct vuc_reply *r, uint32_t *err)
{
    int rc = vuc_client_call(cl, cmd, p, n, NULL, 0, r);

    return rc < 0 ? rc : reply_error(cl, cmd, r, err);
}

static uint8_t *scratch(struct vuc_client *cl, size_t n)
{
    if (n > cl->scratch_cap) {
        uint8_t *p = realloc(cl->scratch, n);
        if (p == NULL)
            return NULL;
        cl->scratch = p;
        cl->scratch_cap = n;
    }
    return cl->scratch;
}

int vuc_client_feature(struct vuc_client *cl, uint32_t flags, uint32_t argsz,
                       const void *data, size_t len, struct vuc_reply *r)
{
    struct vuc_feature f = {
        .argsz = argsz, .flags = flags, .data = data, .data_len = len};
    uint8_t *p = scratch(cl, VUC_FEATURE_HDR_SIZE + len);
    int n;

    if (p == NULL)
        return -ENOMEM;
    n = vuc_feature_encode(&f, p, VUC_FEATURE_HDR_SIZE + len);
    if (n < 0)
        return n;
    return vuc_client_call(cl, VUC_CMD_DEVICE_FEATURE, p, (size_t)n, NULL, 0,
                           r);
}

/* Feature GET returning fixed-size data into out. */
static int feature_get(struct vuc_client *cl, uint32_t index, void *out,
                       size_t size, uint32_t *err)
{
    struct vuc_reply r;
    struct vuc_feature f;
    int rc;

    rc = vuc_client_feature(cl, VUC_FEATURE_GET | index,
                            (uint32_t)(VUC_FEATURE_HDR_SIZE + size), NULL, 0,
                            &r);
    if (rc < 0)
        return rc;
    if (r.is_error) {
        if (err)
            *err = r.error;
        snprintf(cl->last_error, sizeof(cl->last_error),
                 "feature %u GET failed with errno %u", index, r.error);
        vuc_reply_release(&r);
        return -EREMOTEIO;
    }
    if (vuc_feature_decode(r.payload, r.payload_len, &f) < 0 ||
        f.data_len < size) {
        set_error(cl, "feature %u GET reply carries %zu data bytes, need %zu",
                  index, r.payload_len >= 8 ? r.payload_len - 8 : 0, size);
        vuc_reply_release(&r);
        return -EPROTO;
    }
    if (size > 0)
        memcpy(out, f.data, size);
    vuc_reply_release(&r);
    return 0;
}

int vuc_client_mig_flags(struct vuc_client *cl, uint64_t *flags, uint32_t *err)
{
    uint8_t d[8];
    int rc = feature_get(cl, VUC_FEATURE_MIGRATION, d, sizeof(d), err);

    if (rc == 0)
        *flags = vuc_get_u64(d);
    return rc;
}

int vuc_client_get_state(struct vuc_client *cl, uint32_t *state, uint32_t *err)
{
    uint8_t d[VUC_MIG_STATE_DATA_SIZE];
    struct vuc_mig_state ms;
    int rc = feature_get(cl, VUC_FEATURE_MIG_DEVICE_STATE, d, sizeof(d), err);

    if (rc == 0) {
        vuc_mig_state_decode(d, sizeof(d), &ms);
        *state = ms.device_state;
    }
    return rc;
}

int vuc_client_set_state(struct vuc_client *cl, uint32_t state,
                         struct vuc_reply *r)
{
    struct vuc_mig_state ms = {.device_state = state, .data_fd = UINT32_MAX};
    uint8_t d[VUC_MIG_STATE_DATA_SIZE];

    vuc_mig_state_encode(&ms, d, sizeof(d));
    return vuc_client_feature(
        cl, VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE,
        VUC_FEATURE_HDR_SIZE + sizeof(d), d, sizeof(d), r);
}

int vuc_client_reset(struct vuc_client *cl, struct vuc_reply *r)
{
    return vuc_client_call(cl, VUC_CMD_DEVICE_RESET, NULL, 0, NULL, 0, r);
}

int vuc_client_region_info(struct vuc_client *cl, uint32_t index,
                           struct vuc_region_info *info, uint32_t *err)
{
    struct vuc_region_info req = {.argsz = 32, .index = index};
    uint8_t p[32];
    struct vuc_reply r;
    int rc;

    vuc_region_info_encode(&req, p, sizeof(p));
    rc = vuc_client_call(cl, VUC_CMD_DEVICE_GET_REGION_INFO, p, sizeof(p), NULL,
                         0, &r);
    if (rc < 0)
        return rc;
    if (r.is_error) {
        if (err)
            *err = r.error;
        vuc_reply_release(&r);
        return -EREMOTEIO;
    }
    rc = vuc_region_info_decode(r.payload, r.payload_len, info);
    /* the caps pointer would dangle once the reply is released */
    info->caps = NULL;
    info->caps_len = 0;
    vuc_reply_release(&r);
    if (rc < 0) {
        set_error(cl, "REGION_INFO reply cannot be decoded");
        return -EPROTO;
    }
    return 0;
}

int vuc_client_region_read(struct vuc_client *cl, uint32_t region,
                           uint64_t offset, void *buf, uint32_t len,
                           uint32_t *err)
{
    struct vuc_region_rw rw = {
        .offset = offset, .region = region, .count = len};
    uint8_t p[16];
    struct vuc_reply r;
    int rc;

    vuc_region_rw_encode(&rw, p, sizeof(p));
    rc = call_checked(cl, VUC_CMD_REGION_READ, p, sizeof(p), &r, err);
    if (rc < 0)
        return rc;
    /* the data is `count` bytes; bytes after them are tolerated */
    rc = vuc_region_rw_decode(r.payload, r.payload_len, false, &rw);
    if (rc < 0 || rw.count != len || r.payload_len - 16 < len) {
        set_error(cl, "REGION_READ reply: count %u for a read of %u bytes%s",
                  rc < 0 ? 0 : rw.count, len,
                  rc < 0 || rw.count != len ? ""
                                            : " (fewer data bytes than count)");
        vuc_reply_release(&r);
        return -EPROTO;
    }
    if (r.payload_len - 16 > len)
        tolerate(cl, "a REGION_READ reply carries %zu bytes after its data",
                 r.payload_len - 16 - len);
    if (len > 0)
        memcpy(buf, r.payload + 16, len);
    vuc_reply_release(&r);
    return 0;
}

int vuc_client_region_write(struct vuc_client *cl, uint32_t region,
                            uint64_t offset, const void *buf, uint32_t len,
                            uint32_t *err)
{
    struct vuc_region_rw rw = {.offset = offset,
                               .region = region,
                               .count = len,
                               .data = buf,
                               .data_len = len};
    size_t cap = 16 + (size_t)len;
    uint8_t *p = scratch(cl, cap);
    struct vuc_reply r;
    int rc, n;

    if (p == NULL)
        return -ENOMEM;
    n = vuc_region_rw_encode(&rw, p, cap);
    if (n < 0)
        return n;
    rc = call_checked(cl, VUC_CMD_REGION_WRITE, p, (size_t)n, &r, err);
    if (rc < 0)
        return rc;
    vuc_reply_release(&r);
    return 0;
}

/*
 * A MIG_DATA_READ reply to a request of size: its data is the `size`
 * field's count of bytes (spec: VFIO_USER_MIG_DATA_READ), never the
 * message length. Bytes after them are tolerated and noted
 * (stream.read.reply-size judges them); a size above the request, or
 * fewer bytes than size, leave no data to take: -EPROTO.
 */
static int mig_read_reply(struct vuc_client *cl, uint32_t size,
                          const struct vuc_reply *r, struct vuc_mig_data *md)
{
    int rc = vuc_mig_data_decode(r->payload, r->payload_len, false, md);

    if (rc < 0 || md->size > size ||
        r->payload_len - VUC_MIG_DATA_HDR_SIZE < md->size) {
        set_error(cl, "MIG_DATA_READ reply: size %u for a request of %u%s",
                  rc < 0 ? 0 : md->size, size,
                  rc < 0 || md->size > size ? ""
                                            : " (fewer data bytes than size)");
        return -EPROTO;
    }
    md->data = r->payload + VUC_MIG_DATA_HDR_SIZE;
    md->data_len = md->size;
    if (r->payload_len - VUC_MIG_DATA_HDR_SIZE > md->size)
        tolerate(cl,
                 "a MIG_DATA_READ reply carries %zu bytes after the %u its "
                 "size field counts (judged by stream.read.reply-size)",
                 r->payload_len - VUC_MIG_DATA_HDR_SIZE - md->size, md->size);
    if (md->argsz != VUC_MIG_DATA_HDR_SIZE + md->size)
        tolerate(cl,
                 "a MIG_DATA_READ reply has argsz %u for %u data bytes "
                 "(judged by stream.read.reply-size)",
                 md->argsz, md->size);
    return 0;
}

int vuc_client_mig_read(struct vuc_client *cl, uint32_t size, void *buf,
                        uint32_t *got, uint32_t *err)
{
    struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE + size,
                              .size = size};
    uint8_t p[VUC_MIG_DATA_HDR_SIZE];
    struct vuc_reply r;
    int rc;

    vuc_mig_data_encode(&md, p, sizeof(p));
    rc = call_checked(cl, VUC_CMD_MIG_DATA_READ, p, sizeof(p), &r, err);
    if (rc < 0)
        return rc;
    rc = mig_read_reply(cl, size, &r, &md);
    if (rc == 0) {
        if (md.size > 0)
            memcpy(buf, md.data, md.size);
        *got = md.size;
    }
    vuc_reply_release(&r);
    return rc;
}

/* Send MIG_DATA_WRITE of size bytes from buf without copying them. */
static int mig_write_send(struct vuc_client *cl, const void *buf, uint32_t size,
                          uint16_t *id)
{
    struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE, .size = size};
    uint8_t fixed[VUC_MIG_DATA_HDR_SIZE];
    struct iovec iov[2] = {{fixed, sizeof(fixed)}, {(void *)buf, size}};

    vuc_mig_data_encode(&md, fixed, sizeof(fixed));
    return send_request(cl, VUC_CMD_MIG_DATA_WRITE, iov, size ? 2 : 1,
                        sizeof(fixed) + (size_t)size, NULL, 0, id);
}

/* Wait for a reply that carries no data the caller needs: 0, or
 * -EREMOTEIO with *err, or a wire error. */
static int wait_checked(struct vuc_client *cl, uint16_t id, uint16_t cmd,
                        uint32_t *err)
{
    struct vuc_reply r;
    int rc = wait_reply(cl, id, cmd, &r);

    if (rc < 0)
        return rc;
    rc = reply_error(cl, cmd, &r, err);
    vuc_reply_release(&r); /* a no-op after reply_error released it */
    return rc;
}

int vuc_client_mig_write(struct vuc_client *cl, const void *buf, uint32_t size,
                         uint32_t *err)
{
    uint16_t id;
    int rc = mig_write_send(cl, buf, size, &id);

    if (rc < 0)
        return rc;
    return wait_checked(cl, id, VUC_CMD_MIG_DATA_WRITE, err);
}

/* Ring of the ids of requests in flight, oldest first. */
struct inflight {
    uint16_t id[VUC_CLIENT_MAX_DEPTH];
    unsigned head, n;
};

static void inflight_push(struct inflight *f, uint16_t id)
{
    f->id[(f->head + f->n++) % VUC_CLIENT_MAX_DEPTH] = id;
}

static uint16_t inflight_pop(struct inflight *f)
{
    uint16_t id = f->id[f->head];

    f->head = (f->head + 1) % VUC_CLIENT_MAX_DEPTH;
    f->n--;
    return id;
}

static bool wire_ok(int rc)
{
    return rc == 0 || rc == -EREMOTEIO;
}

int vuc_client_mig_read_stream(struct vuc_client *cl, uint32_t chunk,
                               unsigned depth, vuc_client_sink sink, void *arg,
                               uint64_t *total, uint32_t *err)
{
    struct vuc_mig_data md = {.argsz = VUC_MIG_DATA_HDR_SIZE + chunk,
                              .size = chunk};
    uint8_t p[VUC_MIG_DATA_HDR_SIZE];
    struct inflight f = {0};
    bool more = true; /* no short reply yet: keep requesting */
    int rc = 0;

    *total = 0;
    if (depth == 0 || depth > VUC_CLIENT_MAX_DEPTH || sink == NULL)
        return -EINVAL;
    vuc_mig_data_encode(&md, p, sizeof(p));
    while (more || f.n > 0) {
        struct iovec iov = {p, sizeof(p)};
        struct vuc_reply r;
        uint16_t id;
        int src;

        while (more && f.n < depth) {
            src = send_request(cl, VUC_CMD_MIG_DATA_READ, &iov, 1, sizeof(p),
                               NULL, 0, &id);
            if (src < 0)
                return src;
            inflight_push(&f, id);
        }
        src = wait_reply(cl, inflight_pop(&f), VUC_CMD_MIG_DATA_READ, &r);
        if (src < 0)
            return src; /* the exchange is out of step: stop here */
        src = reply_error(cl, VUC_CMD_MIG_DATA_READ, &r, rc == 0 ? err : NULL);
        if (src == 0)
            src = mig_read_reply(cl, chunk, &r, &md);
        if (src == 0 && rc == 0 && md.size > 0) {
            src = sink(arg, md.data, md.size);
            if (src == 0)
                *total += md.size;
        }
        if (src == 0 && md.size < chunk)
            more = false; /* spec: a short reply is the end of the stream */
        vuc_reply_release(&r);
        if (src == -EPROTO)
            return src;
        if (src < 0 && rc == 0) {
            rc = src; /* answer what is in flight, then report */
            more = false;
        }
    }
    return rc;
}

int vuc_client_mig_write_stream(struct vuc_client *cl, const void *buf,
                                size_t len, uint32_t chunk, unsigned depth,
                                size_t *done, uint32_t *err)
{
    const uint8_t *p = buf;
    struct inflight f = {0};
    size_t sent = 0;
    int rc = 0;

    *done = 0;
    if (depth == 0 || depth > VUC_CLIENT_MAX_DEPTH || chunk == 0 ||
        (len > 0 && buf == NULL))
        return -EINVAL;
    while ((rc == 0 && sent < len) || f.n > 0) {
        uint16_t id;
        int src;

        while (rc == 0 && sent < len && f.n < depth) {
            uint32_t k = len - sent < chunk ? (uint32_t)(len - sent) : chunk;

            src = mig_write_send(cl, p + sent, k, &id);
            if (src < 0)
                return src;
            inflight_push(&f, id);
            sent += k;
        }
        src = wait_checked(cl, inflight_pop(&f), VUC_CMD_MIG_DATA_WRITE,
                           rc == 0 ? err : NULL);
        if (!wire_ok(src))
            return src;
        if (src < 0 && rc == 0)
            rc = src; /* send no more; answer what is in flight */
        if (rc == 0)
            *done += len - *done < chunk ? len - *done : chunk;
    }
    return rc;
}
