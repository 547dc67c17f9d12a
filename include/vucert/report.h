/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writers for the results of a run: the console, results.json (schema 1,
 * docs/results.schema.json), junit.xml, matrix.md and matrix.html.
 */
#ifndef VUCERT_REPORT_H
#define VUCERT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vucert/harness.h"

/*
 * Whether a result counts against the run (exit status 1): FAIL, ERROR,
 * BLOCKED, and NON-STRICT under --strict. Every report uses this, so the
 * console, junit.xml and the exit status agree.
 */
bool vuc_result_not_passed(const struct vuc_result *r, bool strict);

/* ---- root causes: which failure each result that did not pass is due to */

#define VUC_NO_GROUP SIZE_MAX

struct vuc_root_cause {
    const char *id;             /* the root case */
    const struct vuc_result *r; /* its result; NULL when it was not run */
    bool cycle;                 /* it is BLOCKED in a cycle of BLOCKED cases */
    size_t count;               /* results not passed that it accounts for */
};

struct vuc_root_causes {
    /* Per result: the id of its root cause. A FAIL, ERROR or NON-STRICT
     * result is its own root; a BLOCKED one's root is found by following
     * root_cause through BLOCKED results until a result that is not
     * BLOCKED, a case that was not run, or a cycle (whose root is the
     * member run first). NULL for PASS, IMPL-DEFINED and SKIP. */
    const char **root_of;
    /* Per result: its group in groups when it did not pass, else
     * VUC_NO_GROUP. */
    size_t *group_of;
    struct vuc_root_cause *groups; /* by count descending, then run order */
    size_t n_groups;
    size_t not_passed;
};

/* Group the results by root cause. The strings point into res, which
 * must outlive out. Returns 0 or -ENOMEM. */
int vuc_root_causes_build(const struct vuc_result *res, size_t n, bool strict,
                          struct vuc_root_causes *out);
void vuc_root_causes_free(struct vuc_root_causes *rc);

/* ---- writers ---- */

/* One console line for a finished case (and its reason when not PASS;
 * with verbose, the exchange too). */
/* How the console shows a case: colour (the caller decides: a tty,
 * NO_COLOR, --color), and with verbose the exchange of a case that did
 * not pass. */
struct vuc_console {
    bool color;
    bool verbose;
};
/* "[idx/total] VERDICT id   time", and the reason when not PASS. */
void vuc_report_console_case(FILE *f, const struct vuc_result *r,
                             const struct vuc_console *con, size_t idx,
                             size_t total);
/*
 * Counts per verdict; "migration not supported" when results were not
 * applicable; and, when any result did not pass (info->strict decides
 * for NON-STRICT), the root causes with the cases each one blocked.
 * Returns 0, or -ENOMEM after printing the counts alone.
 */
int vuc_report_console_summary(FILE *f, const struct vuc_run_info *info,
                               const struct vuc_result *res, size_t n);

int vuc_report_json(const char *path, const struct vuc_run_info *info,
                    const struct vuc_result *res, size_t n);
int vuc_report_junit(const char *path, const struct vuc_run_info *info,
                     const struct vuc_result *res, size_t n);
int vuc_report_matrix_md(const char *path, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n);
/* s with &, <, > and " as entities and control characters but tab and
 * newline as '?': fit for XML and HTML text and attribute values. */
void vuc_report_escape(FILE *f, const char *s);

/* mkdir -p dir (0755): 0, or a negative errno. */
int vuc_report_mkdir_p(const char *dir);

/*
 * What the spec expects of SET `to` in state `from` under the run's
 * migration flags (the kernel's rules, include/vucert/fsm.h): "accepted"
 * (a direct arc, or no change), "via S1>S2" (a combination arc: accepted,
 * through these states), "rejected", or "" when the flags are unknown.
 * Returns buf.
 */
const char *vuc_report_expect(const struct vuc_run_info *info, uint32_t from,
                              uint32_t to, char *buf, size_t cap);
/* matrix.html: self-contained (reports/html.c) */
int vuc_report_matrix_html(const char *path, const struct vuc_run_info *info,
                           const struct vuc_result *res, size_t n);

/*
 * Create dir (and parents) and write all reports into it. Returns 0 or
 * -errno with a message in err.
 */
int vuc_report_write_all(const char *dir, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n, char *err,
                         size_t errcap);

#endif /* VUCERT_REPORT_H */
