/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A plain main() for any fuzz target: runs LLVMFuzzerTestOneInput once
 * over every file named on the command line and every file in every
 * directory named (not recursing, in name order, skipping names that
 * start with '.' and README files). A directory that does not exist is
 * an empty one, so a target without regressions yet still replays.
 * ctest runs it over corpus/<target>/ and corpus/regressions/<target>/;
 * a violated property aborts, which fails the test.
 *
 * Exit status: 0 when every input ran, 1 when an input could not be
 * read, 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_priv.h"

/* libFuzzer calls it first if the target defines it; none does yet. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path, bool verbose)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!fp) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: %s: cannot size it\n", path);
        fclose(fp);
        return -1;
    }
    /* An exact-size copy, so ASan sees a read past the input. */
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        fprintf(stderr, "replay: %s: cannot read it\n", path);
        free(buf);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    if (verbose)
        fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool skipped(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

/* Returns the number of inputs run, or -1 if one could not be read. */
static long run_dir(const char *dir, bool verbose)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long ran = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (skipped(e->d_name))
            continue;
        if (n == cap) {
            char **nn;

            cap = cap ? 2 * cap : 64;
            nn = realloc(names, cap * sizeof(*names));
            if (!nn)
                break;
            names = nn;
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[n])
            break;
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (ran >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            ran = run_file(names[i], verbose) < 0 ? -1 : ran + 1;
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    bool verbose = false;
    long total = 0;
    int first = 1;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = true;
        first = 2;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s [-v] FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        struct stat st;
        long r;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            r = run_dir(argv[i], verbose);
        else if (stat(argv[i], &st) == 0)
            r = run_file(argv[i], verbose) < 0 ? -1 : 1;
        else
            r = 0; /* absent: nothing to replay */
        if (r < 0)
            return 1;
        total += r;
    }
    printf("replayed %ld inputs\n", total);
    return 0;
}
