// SPDX-License-Identifier: BSD-3-Clause
/*
 * The spec traceability table: cases/spec_coverage.tsv, embedded at build
 * time (embed_tsv.cmake) and parsed here once. Columns: id, section,
 * keyword, sentence, cases, reason; a header line first.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/harness.h"

extern const char vuc_spec_coverage_tsv[];

enum { COLS = 6 };

static struct {
    char *text;
    struct vuc_spec_row *rows;
    size_t n;
    int rc;
    char err[128];
    bool done;
} tab;

/* Split one line (NUL-terminated, modified) into COLS fields. */
static bool split(char *line, const char **f)
{
    for (int i = 0; i < COLS; i++) {
        char *tabc = strchr(line, '\t');

        f[i] = line;
        if (i == COLS - 1)
            return tabc == NULL;
        if (tabc == NULL)
            return false;
        *tabc = '\0';
        line = tabc + 1;
    }
    return true;
}

static int parse(void)
{
    size_t lines = 1, n = 0, lineno = 0;
    char *p, *next;

    tab.text = strdup(vuc_spec_coverage_tsv);
    if (tab.text == NULL)
        return -ENOMEM;
    for (p = tab.text; *p; p++)
        lines += *p == '\n';
    tab.rows = calloc(lines, sizeof(*tab.rows));
    if (tab.rows == NULL)
        return -ENOMEM;
    for (p = tab.text; p != NULL && *p; p = next) {
        const char *f[COLS];

        next = strchr(p, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (lineno++ == 0 || *p == '\0')
            continue; /* the header, or the end */
        if (!split(p, f) || f[0][0] == '\0' || f[3][0] == '\0' ||
            (f[4][0] == '\0') == (f[5][0] == '\0')) {
            snprintf(tab.err, sizeof(tab.err),
                     "spec_coverage.tsv line %zu: want 6 tab-separated "
                     "fields, an id, a sentence, and cases or a reason",
                     lineno);
            return -EBADMSG;
        }
        tab.rows[n++] =
            (struct vuc_spec_row){f[0], f[1], f[2], f[3], f[4], f[5]};
    }
    tab.n = n;
    return 0;
}

int vuc_spec_rows(const struct vuc_spec_row **rows, size_t *n, char *err,
                  size_t errcap)
{
    if (!tab.done) {
        tab.rc = parse();
        tab.done = true;
    }
    if (tab.rc < 0) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "%s",
                     tab.rc == -ENOMEM ? "out of memory" : tab.err);
        return tab.rc;
    }
    *rows = tab.rows;
    *n = tab.n;
    return 0;
}

bool vuc_spec_row_names(const struct vuc_spec_row *r, const char *id)
{
    const char *p = r->cases;

    while (*p) {
        char glob[128];
        size_t len = strcspn(p, " ");

        if (len > 0 && len < sizeof(glob)) {
            memcpy(glob, p, len);
            glob[len] = '\0';
            if (fnmatch(glob, id, 0) == 0)
                return true;
        }
        p += len;
        p += strspn(p, " ");
    }
    return false;
}

bool vuc_spec_row_checkable(const struct vuc_spec_row *r)
{
    return strncmp(r->reason, "not checkable", 13) != 0;
}

int vuc_spec_coverage(struct vuc_coverage *cov)
{
    const struct vuc_spec_row *rows;
    size_t n;
    int rc = vuc_spec_rows(&rows, &n, NULL, 0);

    memset(cov, 0, sizeof(*cov));
    if (rc < 0)
        return rc;
    cov->rows = n;
    for (size_t i = 0; i < n; i++) {
        cov->checkable += vuc_spec_row_checkable(&rows[i]);
        cov->covered += rows[i].cases[0] != '\0';
    }
    return 0;
}
