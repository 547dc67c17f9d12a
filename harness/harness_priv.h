/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to harness/: the fuzz and replay commands, and SHA-256 naming. */
#ifndef VUCERT_HARNESS_PRIV_H
#define VUCERT_HARNESS_PRIV_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex SHA-256 of data, NUL-terminated. */
void vuc_sha256_hex(const void *data, size_t len, char out[65]);

/* `vucert fuzz ...` and `vucert replay ...` (argv[0] is the subcommand).
 * Exit codes: 0 nothing found / not reproduced, 1 a finding / reproduced,
 * 2 usage or the server could not be reached. */
int vuc_fuzz_main(int argc, char **argv);
int vuc_replay_main(int argc, char **argv);

#endif /* VUCERT_HARNESS_PRIV_H */
