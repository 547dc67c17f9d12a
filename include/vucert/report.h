/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writers for the results of a run: the console, results.json (schema 1,
 * design.md), junit.xml and matrix.md.
 */
#ifndef VUCERT_REPORT_H
#define VUCERT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vucert/harness.h"

/* One console line for a finished case (and its reason when not PASS;
 * with verbose, the exchange too). */
void vuc_report_console_case(FILE *f, const struct vuc_result *r, bool verbose);
/* Counts per verdict. */
void vuc_report_console_summary(FILE *f, const struct vuc_result *res,
                                size_t n);

int vuc_report_json(const char *path, const struct vuc_run_info *info,
                    const struct vuc_result *res, size_t n);
int vuc_report_junit(const char *path, const struct vuc_run_info *info,
                     const struct vuc_result *res, size_t n);
int vuc_report_matrix_md(const char *path, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n);

/*
 * Create dir (and parents) and write all reports into it. Returns 0 or
 * -errno with a message in err.
 */
int vuc_report_write_all(const char *dir, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n, char *err,
                         size_t errcap);

#endif /* VUCERT_REPORT_H */
