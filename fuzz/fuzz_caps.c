/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_caps: the VERSION capabilities JSON (vuc_caps_parse and
 * vuc_caps_write, codec/caps.c). The input is the version data as a
 * client or server would send it, without its NUL.
 *
 * Properties:
 * - parse returns 0, -EINVAL or -ENOMEM, and leaves caps untouched on
 *   failure (codec.h);
 * - an accepted text is written back (only the keys present) and parsed
 *   again to equal capabilities: the same present bits and, for each key
 *   present, the same value (twin_socket: supported and fd_index);
 * - the text written is exactly what fits: -ENOSPC with one byte less
 *   than length + NUL, and it is idempotent (writing the reparsed caps
 *   gives the same text);
 * - what a server replies to these capabilities (the subset rule) is
 *   written and parsed the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/codec.h"
#include "fuzz_priv.h"

#define TEXT_MAX 4096

static void check_equal(const struct vuc_caps *a, const struct vuc_caps *b)
{
    FZ_CHECK(a->present == b->present, "present 0x%x then 0x%x", a->present,
             b->present);
    if (a->present & VUC_CAP_MAX_MSG_FDS)
        FZ_CHECK(a->max_msg_fds == b->max_msg_fds, "max_msg_fds");
    if (a->present & VUC_CAP_MAX_DATA_XFER_SIZE)
        FZ_CHECK(a->max_data_xfer_size == b->max_data_xfer_size,
                 "max_data_xfer_size");
    if (a->present & VUC_CAP_MAX_DMA_MAPS)
        FZ_CHECK(a->max_dma_maps == b->max_dma_maps, "max_dma_maps");
    if (a->present & VUC_CAP_PGSIZES)
        FZ_CHECK(a->pgsizes == b->pgsizes, "pgsizes");
    if (a->present & VUC_CAP_TWIN_SOCKET) {
        FZ_CHECK(a->twin_supported == b->twin_supported, "twin supported");
        FZ_CHECK(
            a->twin_has_fd_index == b->twin_has_fd_index &&
                (!a->twin_has_fd_index || a->twin_fd_index == b->twin_fd_index),
            "twin fd_index");
    }
    if (a->present & VUC_CAP_WRITE_MULTIPLE)
        FZ_CHECK(a->write_multiple == b->write_multiple, "write_multiple");
    FZ_CHECK(b->unknown == 0, "%u unknown keys written", b->unknown);
}

/* Write caps, parse the text again and compare; the text goes to out. */
static size_t round_trip(const struct vuc_caps *c, char *out)
{
    struct vuc_caps again;
    char *tight;
    int n, r;

    n = vuc_caps_write(c, out, TEXT_MAX);
    if (n == -ENOMEM)
        return 0;
    FZ_CHECK(n > 0 && n < TEXT_MAX && out[n] == '\0' &&
                 strlen(out) == (size_t)n,
             "vuc_caps_write returned %d", n);
    /* exactly n + 1 bytes are needed */
    tight = malloc((size_t)n + 1);
    FZ_CHECK(tight != NULL, "malloc");
    FZ_CHECK(vuc_caps_write(c, tight, (size_t)n) == -ENOSPC,
             "%d bytes and the NUL fit in %d", n, n);
    FZ_CHECK(vuc_caps_write(c, tight, (size_t)n + 1) == n &&
                 memcmp(tight, out, (size_t)n + 1) == 0,
             "write into exactly %d + 1 bytes", n);
    free(tight);

    r = vuc_caps_parse(out, (size_t)n, &again);
    if (r == -ENOMEM)
        return 0;
    FZ_CHECK(r == 0, "written caps do not parse (%d): %s", r, out);
    check_equal(c, &again);
    return (size_t)n;
}

/* The capabilities a server replies (README: the subset rule). */
static void reply_of(const struct vuc_caps *cc, struct vuc_caps *rep)
{
    vuc_caps_defaults(rep);
    rep->present = cc->present;
    rep->max_msg_fds = cc->max_msg_fds < 1 ? cc->max_msg_fds : 1;
    rep->max_data_xfer_size = cc->max_data_xfer_size;
    rep->max_dma_maps = cc->max_dma_maps;
    rep->pgsizes = VUC_DEFAULT_PGSIZES;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vuc_caps c, before, again, rep;
    char *t1, *t2;
    size_t n1, n2;
    int r;

    /* Sentinel values show whether a failed parse touched caps. */
    memset(&c, 0xa5, sizeof(c));
    before = c;
    r = vuc_caps_parse((const char *)data, size, &c);
    FZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM, "parse returned %d", r);
    if (r < 0) {
        FZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0,
                 "a failed parse changed caps");
        return 0;
    }
    FZ_CHECK((c.present & ~0x3fu) == 0, "present 0x%x", c.present);
    if (size == 0)
        FZ_FAIL("empty text accepted");

    t1 = malloc(TEXT_MAX);
    t2 = malloc(TEXT_MAX);
    FZ_CHECK(t1 && t2, "malloc");
    n1 = round_trip(&c, t1);
    /* Writing what was parsed back is a fixed point. */
    if (n1 && vuc_caps_parse(t1, n1, &again) == 0) {
        n2 = round_trip(&again, t2);
        FZ_CHECK(n2 == 0 || (n1 == n2 && memcmp(t1, t2, n1) == 0),
                 "not idempotent: %s then %s", t1, t2);
    }
    reply_of(&c, &rep);
    (void)round_trip(&rep, t2);
    free(t1);
    free(t2);
    return 0;
}
