/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to vucert's command line: what ships with it, and where. */
#ifndef VUCERT_HARNESS_PATHS_H
#define VUCERT_HARNESS_PATHS_H

/*
 * The embedded default target: *cmd becomes the command that starts the
 * vucert-server beside the vucert executable, and, when *profile is
 * NULL, *profile becomes the path of its profile if one is found (the
 * run goes on without one otherwise). Both are malloc'ed. Returns 0, or
 * -ENOENT with a message on stderr when there is no vucert-server.
 */
int vuc_embedded_default(char **cmd, char **profile);

#endif
