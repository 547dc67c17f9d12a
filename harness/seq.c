// SPDX-License-Identifier: BSD-3-Clause
/*
 * Message sequences for vucert fuzz and replay, and their reproducer
 * files. A sequence is what a client sends after VERSION: messages (each
 * with the fds it carries, described, not copied: a memfd of a size, an
 * eventfd) and "shrink" steps that cut a memfd the sequence made to a new
 * size while the server may still have it mapped.
 *
 * Format 2 ("VUCERT-REPRO 2\n", then records):
 *   'M' u32 len, u8 nfds, nfds x (u8 kind, u64 size), len message bytes
 *   'S' u8 memfd index (0: the first memfd the sequence made), u64 size
 * Format 1 ("VUCERT-REPRO 1\n", then per message u32 len and its bytes)
 * is still read. All integers little-endian.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_priv.h"
#include "vucert/wire.h"

#define MAGIC1 "VUCERT-REPRO 1\n"
#define MAGIC2 "VUCERT-REPRO 2\n"

void vuc_seq_clear(struct vuc_seq *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->m[i].b);
    s->n = 0;
}

void vuc_seq_free(struct vuc_seq *s)
{
    vuc_seq_clear(s);
    free(s->m);
    s->m = NULL;
    s->cap = 0;
}

static struct vuc_seq_msg *slot(struct vuc_seq *s)
{
    if (s->n == VUC_SEQ_MAX)
        return NULL;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        struct vuc_seq_msg *m = realloc(s->m, (size_t)cap * sizeof(*m));
        if (m == NULL)
            return NULL;
        s->m = m;
        s->cap = cap;
    }
    memset(&s->m[s->n], 0, sizeof(s->m[0]));
    return &s->m[s->n];
}

int vuc_seq_add(struct vuc_seq *s, const void *b, size_t len,
                const struct vuc_seq_fd *fds, unsigned nfds)
{
    struct vuc_seq_msg *m = slot(s);

    if (m == NULL || len > VUC_SEQ_MAX_MSG || nfds > VUC_SEQ_MAX_FDS)
        return -ENOSPC;
    m->b = malloc(len ? len : 1);
    if (m->b == NULL)
        return -ENOMEM;
    memcpy(m->b, b, len);
    m->len = (uint32_t)len;
    m->nfds = (uint8_t)nfds;
    for (unsigned i = 0; i < nfds; i++)
        m->fd[i] = fds[i];
    s->n++;
    return 0;
}

int vuc_seq_add_shrink(struct vuc_seq *s, unsigned memfd, uint64_t size)
{
    struct vuc_seq_msg *m = slot(s);

    if (m == NULL)
        return -ENOSPC;
    m->shrink = true;
    m->fd[0].kind = (uint8_t)memfd;
    m->fd[0].size = size;
    s->n++;
    return 0;
}

int vuc_seq_copy(struct vuc_seq *dst, const struct vuc_seq *src)
{
    vuc_seq_clear(dst);
    for (int i = 0; i < src->n; i++) {
        const struct vuc_seq_msg *m = &src->m[i];
        int rc = m->shrink
                     ? vuc_seq_add_shrink(dst, m->fd[0].kind, m->fd[0].size)
                     : vuc_seq_add(dst, m->b, m->len, m->fd, m->nfds);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The sequence as a format-2 file body, or NULL; *len its length. */
static uint8_t *encode(const struct vuc_seq *s, size_t *len)
{
    size_t total = strlen(MAGIC2), at;
    uint8_t *out;

    for (int i = 0; i < s->n; i++)
        total += s->m[i].shrink ? 10 : 6 + 9u * s->m[i].nfds + s->m[i].len;
    out = malloc(total);
    if (out == NULL)
        return NULL;
    memcpy(out, MAGIC2, strlen(MAGIC2));
    at = strlen(MAGIC2);
    for (int i = 0; i < s->n; i++) {
        const struct vuc_seq_msg *m = &s->m[i];
        if (m->shrink) {
            out[at] = 'S';
            out[at + 1] = m->fd[0].kind;
            vuc_put_u64(out + at + 2, m->fd[0].size);
            at += 10;
            continue;
        }
        out[at] = 'M';
        vuc_put_u32(out + at + 1, m->len);
        out[at + 5] = m->nfds;
        at += 6;
        for (unsigned k = 0; k < m->nfds; k++, at += 9) {
            out[at] = m->fd[k].kind;
            vuc_put_u64(out + at + 1, m->fd[k].size);
        }
        memcpy(out + at, m->b, m->len);
        at += m->len;
    }
    *len = at;
    return out;
}

int vuc_seq_name(const struct vuc_seq *s, char out[65])
{
    size_t len;
    uint8_t *b = encode(s, &len);

    if (b == NULL)
        return -ENOMEM;
    vuc_sha256_hex(b, len, out);
    free(b);
    return 0;
}

int vuc_seq_save(const struct vuc_seq *s, const char *path)
{
    size_t len;
    uint8_t *b = encode(s, &len);
    FILE *fp;
    int rc = 0;

    if (b == NULL)
        return -ENOMEM;
    fp = fopen(path, "wb");
    if (fp == NULL) {
        rc = -errno;
    } else {
        if (fwrite(b, 1, len, fp) != len)
            rc = -EIO;
        if (fclose(fp) != 0 && rc == 0)
            rc = -EIO;
    }
    free(b);
    return rc;
}

/* Bounded reads from a file held in memory. */
struct rd {
    const uint8_t *p;
    size_t left;
};

static bool take(struct rd *r, void *out, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static int parse2(struct rd *r, struct vuc_seq *s, const char **why)
{
    uint8_t type, b[9];

    while (take(r, &type, 1)) {
        if (type == 'S') {
            if (!take(r, b, 9)) {
                *why = "a shrink step is cut short";
                return -EINVAL;
            }
            if (vuc_seq_add_shrink(s, b[0], vuc_get_u64(b + 1)) < 0) {
                *why = "too many steps";
                return -EINVAL;
            }
        } else if (type == 'M') {
            struct vuc_seq_fd fds[VUC_SEQ_MAX_FDS];
            uint8_t hd[5];
            uint32_t len;
            unsigned nfds;
            if (!take(r, hd, 5)) {
                *why = "a message record is cut short";
                return -EINVAL;
            }
            len = vuc_get_u32(hd);
            nfds = hd[4];
            if (nfds > VUC_SEQ_MAX_FDS || len > VUC_SEQ_MAX_MSG) {
                *why = "a message is too large or carries too many fds";
                return -EINVAL;
            }
            for (unsigned k = 0; k < nfds; k++) {
                if (!take(r, b, 9) ||
                    (b[0] != VUC_SEQ_FD_MEMFD && b[0] != VUC_SEQ_FD_EVENTFD)) {
                    *why = "an fd is cut short or of an unknown kind";
                    return -EINVAL;
                }
                fds[k].kind = b[0];
                fds[k].size = vuc_get_u64(b + 1);
                if (fds[k].size > VUC_SEQ_MAX_MEMFD) {
                    *why = "a memfd is larger than vucert makes";
                    return -EINVAL;
                }
            }
            if (r->left < len) {
                *why = "a message is cut short";
                return -EINVAL;
            }
            if (vuc_seq_add(s, r->p, len, fds, nfds) < 0) {
                *why = "too many messages";
                return -EINVAL;
            }
            r->p += len;
            r->left -= len;
        } else {
            *why = "an unknown record type";
            return -EINVAL;
        }
    }
    return 0;
}

static int parse1(struct rd *r, struct vuc_seq *s, const char **why)
{
    uint8_t lb[4];

    while (r->left > 0) {
        uint32_t n;
        if (!take(r, lb, 4) || (n = vuc_get_u32(lb)) > r->left ||
            n > VUC_SEQ_MAX_MSG) {
            *why = "a message is cut short or too large";
            return -EINVAL;
        }
        if (vuc_seq_add(s, r->p, n, NULL, 0) < 0) {
            *why = "too many messages";
            return -EINVAL;
        }
        r->p += n;
        r->left -= n;
    }
    return 0;
}

int vuc_seq_parse(const void *data, size_t len, struct vuc_seq *s,
                  const char **why)
{
    struct rd r = {data, len};
    size_t ml = strlen(MAGIC1);
    int rc;

    vuc_seq_clear(s);
    *why = NULL;
    if (len >= ml && memcmp(data, MAGIC2, ml) == 0) {
        r.p += ml;
        r.left -= ml;
        rc = parse2(&r, s, why);
    } else if (len >= ml && memcmp(data, MAGIC1, ml) == 0) {
        r.p += ml;
        r.left -= ml;
        rc = parse1(&r, s, why);
    } else {
        *why = "not a vucert reproducer";
        return -EINVAL;
    }
    if (rc < 0)
        vuc_seq_clear(s);
    return rc;
}

int vuc_seq_load(const char *path, struct vuc_seq *s, char *err, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, have = 0;
    const char *why;
    int rc;

    if (fp == NULL) {
        rc = -errno;
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return rc;
    }
    for (;;) {
        size_t got;
        if (len == have) {
            uint8_t *nb;
            if (have >= (size_t)VUC_SEQ_MAX * (VUC_SEQ_MAX_MSG + 64)) {
                snprintf(err, cap, "%s: larger than any reproducer", path);
                fclose(fp);
                free(buf);
                return -EFBIG;
            }
            have = have ? have * 2 : 65536;
            nb = realloc(buf, have);
            if (nb == NULL) {
                fclose(fp);
                free(buf);
                snprintf(err, cap, "%s: out of memory", path);
                return -ENOMEM;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, have - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(fp)) {
        snprintf(err, cap, "%s: read error", path);
        fclose(fp);
        free(buf);
        return -EIO;
    }
    fclose(fp);
    rc = vuc_seq_parse(buf, len, s, &why);
    if (rc < 0)
        snprintf(err, cap, "%s: %s", path, why);
    free(buf);
    return rc;
}
