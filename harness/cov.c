// SPDX-License-Identifier: BSD-3-Clause
/*
 * Edge coverage from an AFL++-instrumented server. vucert creates a
 * System V shared-memory map and names it in the environment variable
 * __AFL_SHM_ID, the convention AFL++ uses with its targets: a server
 * built with afl-clang-fast or afl-clang-lto finds the map at start-up
 * and counts each edge it runs in one byte of it. After a sequence vucert
 * folds the counts, in AFL++'s hit-count buckets, into what it has seen:
 * an input that reaches a new edge or bucket is worth keeping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "harness_priv.h"

/* AFL++'s buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+ */
static uint8_t bucket(uint8_t n)
{
    if (n <= 2)
        return n;
    if (n == 3)
        return 4;
    if (n <= 7)
        return 8;
    if (n <= 15)
        return 16;
    if (n <= 31)
        return 32;
    if (n <= 127)
        return 64;
    return 128;
}

int vuc_cov_open(struct vuc_cov *c, size_t size, char *err, size_t cap)
{
    char id[16];

    memset(c, 0, sizeof(*c));
    c->id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600);
    if (c->id < 0) {
        snprintf(err, cap, "shmget of %zu bytes: %s", size, strerror(errno));
        return -errno;
    }
    c->map = shmat(c->id, NULL, 0);
    if (c->map == (void *)-1) {
        int e = errno;
        shmctl(c->id, IPC_RMID, NULL);
        snprintf(err, cap, "shmat: %s", strerror(e));
        c->map = NULL;
        return -e;
    }
    /* Linux lets the servers attach a segment marked for removal: it
     * goes when the last of them detaches, even if vucert is killed */
    shmctl(c->id, IPC_RMID, NULL);
    c->virgin = calloc(1, size);
    if (c->virgin == NULL) {
        shmdt(c->map);
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    c->size = size;
    snprintf(id, sizeof(id), "%d", c->id);
    setenv("__AFL_SHM_ID", id, 1);
    /* the instrumented server then skips its own checks of the map */
    snprintf(id, sizeof(id), "%zu", size);
    setenv("AFL_MAP_SIZE", id, 1);
    return 0;
}

void vuc_cov_close(struct vuc_cov *c)
{
    if (c->map != NULL)
        shmdt(c->map);
    unsetenv("__AFL_SHM_ID");
    unsetenv("AFL_MAP_SIZE");
    free(c->virgin);
    memset(c, 0, sizeof(*c));
}

void vuc_cov_reset(struct vuc_cov *c)
{
    if (c->map != NULL)
        memset(c->map, 0, c->size);
}

unsigned vuc_cov_merge(struct vuc_cov *c)
{
    const uint64_t *w = (const uint64_t *)c->map;
    unsigned fresh = 0;

    if (c->map == NULL)
        return 0;
    for (size_t i = 0; i < c->size / 8; i++) {
        if (w[i] == 0)
            continue; /* most of the map, most of the time */
        for (size_t k = i * 8; k < i * 8 + 8; k++) {
            uint8_t b = bucket(c->map[k]);
            if (b == 0 || (b & ~c->virgin[k]) == 0)
                continue;
            if (c->virgin[k] == 0)
                c->edges++;
            c->virgin[k] |= b;
            fresh++;
        }
    }
    return fresh;
}
