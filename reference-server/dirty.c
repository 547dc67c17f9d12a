// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA logging (features 6, 7, 8): not offered yet; DEVICE_FEATURE answers
 * ENOTTY for them (mig.c). The DMA code already reports to it.
 */
#include <errno.h>

#include "server_priv.h"

int dirty_feature(struct vuc_srv *s, struct vuc_msg *m,
                  const struct vuc_feature *f, struct srv_reply *r)
{
    (void)s, (void)m, (void)f, (void)r;
    return ENOTTY;
}

void dirty_mark(struct vuc_srv *s, uint64_t start, uint64_t end)
{
    (void)s, (void)start, (void)end;
}

int dirty_mapped(struct vuc_srv *s, uint64_t iova, uint64_t size)
{
    (void)s, (void)iova, (void)size;
    return 0;
}

void dirty_unmapped(struct vuc_srv *s, uint64_t iova, uint64_t size)
{
    (void)s, (void)iova, (void)size;
}

void dirty_release(struct vuc_srv *s)
{
    (void)s;
}
