// SPDX-License-Identifier: BSD-3-Clause
/*
 * Planted defects (--plant NAME): bugs of the kind a fuzzer exists to
 * find, planted so that the tests can prove that `vucert fuzz` finds them
 * and `vucert replay` reproduces them. A quirk or a bug is wrong about
 * the protocol in a way a conformance case judges from the replies; a
 * plant is wrong about memory or about staying alive, which no reply
 * shows: overread and leak are invisible without a sanitizer or valgrind,
 * and change nothing else the server does.
 *
 * The memory the plants misuse is malloc'ed directly (not through the
 * vuc_srv_alloc hooks), so that ASan and valgrind see a plain heap block,
 * and is reached through volatile accesses, so that the compiler can
 * neither drop the faulty read nor the leaked allocation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

struct plant_info {
    const char *name;
    const char *desc;
};

static const struct plant_info plant_table[VUC_SRV_PLANT_COUNT] = {
    {"overread", "a DEVICE_FEATURE payload of 5-7 bytes is read past its "
                 "heap copy (ASan, valgrind)"},
    {"leak", "every DEVICE_GET_IRQ_INFO leaks 64 bytes of heap (LSan, "
             "valgrind)"},
    {"abort-sequence", "abort() on DEVICE_RESET after GET_REGION_INFO, then "
                       "SET_IRQS, on a connection"},
};
_Static_assert(VUC_SRV_PLANT_OVERREAD == 1u << 0 &&
                   VUC_SRV_PLANT_LEAK == 1u << 1 &&
                   VUC_SRV_PLANT_ABORT_SEQUENCE == 1u << 2,
               "plant_table is in the order of the bits");

const char *vuc_srv_plant_name(unsigned i)
{
    return i < VUC_SRV_PLANT_COUNT ? plant_table[i].name : NULL;
}

const char *vuc_srv_plant_desc(unsigned i)
{
    return i < VUC_SRV_PLANT_COUNT ? plant_table[i].desc : NULL;
}

int vuc_srv_plant_parse(const char *name, uint32_t *bit)
{
    if (!name || !bit)
        return -EINVAL;
    for (unsigned i = 0; i < VUC_SRV_PLANT_COUNT; i++) {
        if (strcmp(name, plant_table[i].name) == 0) {
            *bit = 1u << i;
            return 0;
        }
    }
    return -EINVAL;
}

/* What the over-read read: written, never read, so the read stays. */
static volatile uint32_t overread_sink;
static volatile size_t overread_at = 4;
/* Where the leaked block's address passes through on its way to being
 * forgotten: nothing keeps it. */
static void *volatile leak_sink;

/*
 * Plant overread: copy the payload to a heap block of exactly its length
 * and read the u32 at offset 4 from it, 1 to 3 bytes of which lie past
 * the block. Byte by byte: valgrind lets an aligned 4-byte load that is
 * partly inside the block pass by default (--partial-loads-ok=yes), so
 * the defect would hide from it; a byte past the block is an invalid
 * read to valgrind and ASan alike.
 */
static void overread(struct vuc_srv *s, const uint8_t *payload, size_t len)
{
    uint8_t *copy = malloc(len);
    const volatile uint8_t *v;

    if (!copy)
        return;
    memcpy(copy, payload, len);
    /* the offset through a volatile: the compiler, which can see the
     * block's size, must not warn of (or fold away) the read past it */
    v = copy + overread_at;
    overread_sink = (uint32_t)v[0] | (uint32_t)v[1] << 8 |
                    (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
    if (s->opts.verbose && overread_sink == 0xffffffffu)
        fprintf(stderr, "vucert-server: overread plant read 0x%x\n",
                overread_sink);
    free(copy);
}

void plant_msg(struct vuc_srv *s, const struct vuc_hdr *h,
               const uint8_t *payload, size_t payload_len)
{
    if (!s->opts.plants)
        return;
    if ((s->opts.plants & VUC_SRV_PLANT_OVERREAD) &&
        h->cmd == VUC_CMD_DEVICE_FEATURE && payload && payload_len >= 5 &&
        payload_len <= 7)
        overread(s, payload, payload_len);
    if (!(s->opts.plants & VUC_SRV_PLANT_ABORT_SEQUENCE))
        return;
    /* The order REGION_INFO, SET_IRQS, RESET as a subsequence of the
     * connection's commands: plant_seq is how much of it has been seen. */
    switch (h->cmd) {
    case VUC_CMD_DEVICE_GET_REGION_INFO:
        if (s->plant_seq == 0)
            s->plant_seq = 1;
        break;
    case VUC_CMD_DEVICE_SET_IRQS:
        if (s->plant_seq == 1)
            s->plant_seq = 2;
        break;
    case VUC_CMD_DEVICE_RESET:
        if (s->plant_seq == 2) {
            fprintf(stderr, "vucert-server: abort-sequence plant: "
                            "DEVICE_RESET after GET_REGION_INFO and "
                            "SET_IRQS\n");
            srv_quiet_abort();
        }
        break;
    default:
        break;
    }
}

void plant_irq_info(struct vuc_srv *s)
{
    enum { LEAK_SIZE = 64 };

    if (!(s->opts.plants & VUC_SRV_PLANT_LEAK))
        return;
    leak_sink = malloc(LEAK_SIZE);
    if (leak_sink)
        memset(leak_sink, 0xa5, LEAK_SIZE);
    leak_sink = NULL;
}
