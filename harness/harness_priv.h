/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to harness/: the fuzz and replay commands, and SHA-256 naming. */
#ifndef VUCERT_HARNESS_PRIV_H
#define VUCERT_HARNESS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lower-case hex SHA-256 of data, NUL-terminated. */
void vuc_sha256_hex(const void *data, size_t len, char out[65]);

/* `vucert fuzz ...` and `vucert replay ...` (argv[0] is the subcommand).
 * Exit codes: 0 nothing found / not reproduced, 1 a finding / reproduced,
 * 2 usage or the server could not be reached. */
int vuc_fuzz_main(int argc, char **argv);
int vuc_replay_main(int argc, char **argv);

/* ---- message sequences (harness/seq.c) ---- */

#define VUC_SEQ_MAX        256         /* steps in a sequence */
#define VUC_SEQ_MAX_MSG    (16u << 20) /* bytes in one message */
#define VUC_SEQ_MAX_FDS    8           /* fds one message carries */
#define VUC_SEQ_MAX_MEMFD  (64u << 20) /* bytes in a memfd vucert makes */
#define VUC_SEQ_FD_MEMFD   1           /* a memfd of fd[].size bytes */
#define VUC_SEQ_FD_EVENTFD 2           /* an eventfd */

struct vuc_seq_fd {
    uint8_t kind; /* VUC_SEQ_FD_*; for a shrink step, the memfd's index */
    uint64_t size;
};

/* One step: a message with the fds it carries, or (shrink) cutting the
 * sequence's memfd number fd[0].kind to fd[0].size bytes. */
struct vuc_seq_msg {
    uint8_t *b;
    uint32_t len;
    uint8_t nfds;
    bool shrink;
    struct vuc_seq_fd fd[VUC_SEQ_MAX_FDS];
};

struct vuc_seq {
    struct vuc_seq_msg *m;
    int n, cap;
};

void vuc_seq_clear(struct vuc_seq *s);
void vuc_seq_free(struct vuc_seq *s);
/* Append a copy of the message (-ENOSPC: too many steps, too large). */
int vuc_seq_add(struct vuc_seq *s, const void *b, size_t len,
                const struct vuc_seq_fd *fds, unsigned nfds);
int vuc_seq_add_shrink(struct vuc_seq *s, unsigned memfd, uint64_t size);
int vuc_seq_copy(struct vuc_seq *dst, const struct vuc_seq *src);
/* Reproducer files: format 2 is written, 1 and 2 are read. On error,
 * err says why (with the path). */
int vuc_seq_save(const struct vuc_seq *s, const char *path);
int vuc_seq_load(const char *path, struct vuc_seq *s, char *err, size_t cap);
int vuc_seq_parse(const void *data, size_t len, struct vuc_seq *s,
                  const char **why);
/* SHA-256 of the sequence's file form: its name. */
int vuc_seq_name(const struct vuc_seq *s, char out[65]);
/* Append every request the client sends from now on to s (NULL stops);
 * the VERSION that opens the connection is left out. */
struct vuc_client;
void vuc_client_save_sequence(struct vuc_client *cl, struct vuc_seq *s);

/* ---- a server's testimony (harness/testimony.c) ---- */

/*
 * What a sanitizer, valgrind or the C library said when the server
 * failed: the report's first line, its kind and bug type, and the first
 * frames of its stack in the server's own code. class is
 * "KIND:TYPE:FRAME", the key findings are grouped by.
 */
struct vuc_testimony {
    const char *first; /* the first line, in the parsed text */
    char kind[16];     /* asan, lsan, ubsan, msan, tsan, valgrind, assert,
                          libc */
    char type[64];     /* heap-buffer-overflow, leak, invalid-read, ... */
    char frame[96];    /* the top frame in the server's code, or "?" */
    char frames[512];  /* the first frame lines, as written */
    char cls[192];
};

/* Parse txt; false if it holds no report. */
bool vuc_testimony_parse(const char *txt, struct vuc_testimony *t);
/* "FIRST LINE\n  FRAMES" for a finding, into buf. */
void vuc_testimony_text(const struct vuc_testimony *t, char *buf, size_t cap);

/* ---- AFL++ edge coverage (harness/cov.c) ---- */

/*
 * A map in System V shared memory, named to the servers vucert starts by
 * the environment variable __AFL_SHM_ID, as AFL++ names it to its
 * targets: a server built with afl-clang-fast or afl-clang-lto counts
 * the edges it runs into it.
 */
struct vuc_cov {
    int id;
    uint8_t *map;
    uint8_t *virgin; /* hit-count buckets seen so far, per edge */
    size_t size;
    unsigned edges; /* edges seen so far */
};

int vuc_cov_open(struct vuc_cov *c, size_t size, char *err, size_t cap);
void vuc_cov_close(struct vuc_cov *c);
void vuc_cov_reset(struct vuc_cov *c);
/* Fold the map into what was seen: the number of edges or hit-count
 * buckets that are new (then the input is worth keeping). */
unsigned vuc_cov_merge(struct vuc_cov *c);

/* ---- certify --jobs (harness/jobs.c) ---- */

struct vuc_target;
struct vuc_profile;
struct vuc_options;
struct vuc_run_info;
struct vuc_case;
struct vuc_result;

/* What the jobs run: the selected cases (order[0..n_sel)) on servers
 * started from target's (and dest's) --server-cmd template. */
struct vuc_jobs {
    unsigned jobs;
    const struct vuc_target *target, *dest;
    const struct vuc_profile *profile;
    const struct vuc_options *opts;
    struct vuc_run_info *info;
    const struct vuc_case *cases;
    const size_t *order;
    size_t n_sel;
};

/* Run them on j->jobs server instances at once; res[k] gets the result
 * of order[k], and done(arg, k, n_done) is called as each comes in. */
int vuc_run_jobs(const struct vuc_jobs *j, struct vuc_result *res,
                 void (*done)(void *arg, size_t k, size_t n_done), void *arg);

#endif /* VUCERT_HARNESS_PRIV_H */
