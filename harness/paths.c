// SPDX-License-Identifier: BSD-3-Clause
/*
 * Where vucert finds what ships with it. Two layouts:
 *
 *   a build tree  build/bin/vucert, build/bin/vucert-server, and the
 *                 profiles of the source tree (VUC_PROFILE_DIR);
 *   installed     <prefix>/bin/vucert, <prefix>/bin/vucert-server and
 *                 <prefix>/share/vucert/profiles/ (cmake --install, the
 *                 .deb; VUC_PROFILE_REL is the last relative to the first).
 *
 * Both are found from the executable's own path, not from PATH or the
 * working directory, so a tree installed under any prefix, or moved,
 * still finds its own files. The installed place is tried first: a
 * package built on a machine that still has the source tree must not
 * read that tree's profiles, which may be newer than the package.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

#ifndef VUC_PROFILE_DIR
#define VUC_PROFILE_DIR "profiles"
#endif
#ifndef VUC_PROFILE_REL
#define VUC_PROFILE_REL "../share/vucert/profiles"
#endif

/* The directory of the running executable; NULL if /proc is not there. */
static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return strdup(dirname(buf));
}

static bool is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first of the profile directories that holds name, or NULL. */
static char *find_profile(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];

    snprintf(p, sizeof(p), "%s/%s/%s", dir, VUC_PROFILE_REL, name);
    if (is_file(p)) /* without the bin/.. that reports would show */
        return realpath(p, NULL);
    snprintf(p, sizeof(p), "%s/%s", VUC_PROFILE_DIR, name);
    if (is_file(p))
        return strdup(p);
    return NULL;
}

int vuc_embedded_default(char **cmd, char **profile)
{
    char *dir = exe_dir();
    char path[PATH_MAX + 64], *q;

    if (dir == NULL) {
        fprintf(stderr, "vucert: no --socket or --server-cmd given, and "
                        "/proc/self/exe does not say where vucert is\n");
        return -ENOENT;
    }
    snprintf(path, sizeof(path), "%s/vucert-server", dir);
    if (!is_file(path)) {
        fprintf(stderr,
                "vucert: no --socket or --server-cmd given, and there is no "
                "vucert-server beside vucert (%s)\n",
                path);
        free(dir);
        return -ENOENT;
    }
    /* for sh -c: the path in single quotes, each of its own as '\'' */
    *cmd = malloc(4 * strlen(path) + 64);
    if (*cmd == NULL) {
        free(dir);
        return -ENOMEM;
    }
    q = *cmd;
    *q++ = '\'';
    for (const char *s = path; *s; s++) {
        if (*s == '\'') {
            memcpy(q, "'\\''", 4);
            q += 4;
        } else {
            *q++ = *s;
        }
    }
    strcpy(q, "' --socket {socket}");
    if (*profile == NULL)
        *profile = find_profile(dir, "vucert-server.json");
    free(dir);
    return 0;
}
