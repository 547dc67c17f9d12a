// SPDX-License-Identifier: BSD-3-Clause
/*
 * matrix.html: the report a reader opens in a browser. One self-contained
 * file (inline CSS, no script, nothing fetched), readable printed: the
 * run, the 8x8 transition matrix coloured by verdict with a link from
 * every cell that did not pass to its case, the root causes, every case
 * that did not pass with its reason and exchange, and the spec
 * traceability table when the run knows it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/fsm.h"
#include "vucert/report.h"

/* The anchor of a case: "case-" and its id (ids are [a-zA-Z0-9._-]). */
static void anchor(FILE *f, const char *id)
{
    fputs("case-", f);
    vuc_report_escape(f, id);
}

/* CSS class and short text of a verdict. */
static const char *vclass(enum vuc_verdict v)
{
    switch (v) {
    case VUC_PASS:
        return "pass";
    case VUC_FAIL:
        return "fail";
    case VUC_NON_STRICT:
        return "ns";
    case VUC_IMPL_DEFINED:
        return "impl";
    case VUC_SKIP:
        return "skip";
    case VUC_ERROR:
        return "err";
    case VUC_BLOCKED:
        return "blk";
    default:
        return "none";
    }
}

static const char css[] =
    "body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;"
    "padding:.25em .45em;vertical-align:top}th{background:#eee}"
    "table.matrix td{text-align:center;min-width:5.5em}"
    "table.matrix th.row{text-align:right}"
    "table.matrix .exp{font-size:11px;color:#555}"
    ".pass{background:#cfeccf}.fail{background:#f4b6b6}"
    ".ns{background:#fbe3a6}.impl{background:#d9e4f5}"
    ".skip{background:#f2f2f2;color:#777}.err{background:#e6b3e6}"
    ".blk{background:#f7d2b4}.none{background:#fff}"
    "td a{color:inherit}pre{white-space:pre-wrap;background:#f7f7f7;"
    "padding:.5em;font-size:12px}"
    "dl.meta dt{font-weight:bold;float:left;clear:left;width:11em}"
    "dl.meta dd{margin-left:11.5em}"
    ".legend span{display:inline-block;padding:0 .5em;margin-right:.3em;"
    "border:1px solid #bbb}"
    "@media print{a{text-decoration:none}.case{break-inside:avoid}}";

static void meta(FILE *f, const struct vuc_run_info *info, size_t n,
                 const size_t counts[VUC_VERDICT_NR])
{
    fputs("<dl class=\"meta\">\n<dt>target</dt><dd><code>", f);
    vuc_report_escape(f, info->target_desc ? info->target_desc : "?");
    fputs("</code></dd>\n", f);
    if (info->negotiated)
        fprintf(f, "<dt>protocol</dt><dd>vfio-user %u.%u</dd>\n",
                (unsigned)info->major, (unsigned)info->minor);
    if (info->mig_flags_known)
        fprintf(f, "<dt>migration flags</dt><dd>0x%llx</dd>\n",
                (unsigned long long)info->mig_flags);
    if (info->profile) {
        fputs("<dt>profile</dt><dd><code>", f);
        vuc_report_escape(f, info->profile);
        fputs("</code></dd>\n", f);
    }
    if (info->command_line) {
        fputs("<dt>command</dt><dd><code>", f);
        vuc_report_escape(f, info->command_line);
        fputs("</code></dd>\n", f);
    }
    fprintf(f, "<dt>vucert</dt><dd>%s</dd>\n",
            info->tool_version ? info->tool_version : "?");
    fprintf(f, "<dt>duration</dt><dd>%.1f ms</dd>\n", info->duration_ms);
    fprintf(f, "<dt>cases</dt><dd>%zu:", n);
    for (int v = 0; v < VUC_VERDICT_NR; v++)
        fprintf(f, "%s %zu %s", v ? "," : "", counts[v],
                vuc_verdict_name((enum vuc_verdict)v));
    fputs("</dd>\n</dl>\n", f);
}

static void grid(FILE *f, const struct vuc_run_info *info,
                 const struct vuc_result *cell[][VUC_STATE_NR])
{
    char flags[160], exp[160];

    fprintf(f,
            "<p>Migration flags <code>%s</code>. Rows: the state the "
            "device is in. Columns: the state requested with "
            "MIG_DEVICE_STATE SET. Each cell is the case "
            "<code>fsm.FROM.TO</code>: its verdict (a cell that did not "
            "pass links to its reason and exchange), and under it what the "
            "spec expects there: <i>accepted</i>, <i>via S</i> (a "
            "combination arc, accepted through S), <i>rejected</i>, or "
            "<i>n/a</i> (a state these flags do not have).</p>\n"
            "<table class=\"matrix\" id=\"matrix\">\n<tr><th>from "
            "\\ to</th>",
            info->mig_flags_known
                ? vuc_fsm_flags_str(info->mig_flags, flags, sizeof(flags))
                : "unknown");
    for (uint32_t b = 0; b < VUC_STATE_NR; b++)
        fprintf(f, "<th>%s</th>", vuc_state_name(b));
    fputs("</tr>\n", f);
    for (uint32_t a = 0; a < VUC_STATE_NR; a++) {
        fprintf(f, "<tr><th class=\"row\">%s</th>", vuc_state_name(a));
        for (uint32_t b = 0; b < VUC_STATE_NR; b++) {
            const struct vuc_result *r = cell[a][b];

            if (r == NULL) {
                fputs("<td class=\"none\"></td>", f);
                continue;
            }
            fprintf(f, "<td class=\"%s\" title=\"", vclass(r->verdict));
            vuc_report_escape(f, r->reason ? r->reason
                                           : vuc_verdict_name(r->verdict));
            fputs("\">", f);
            if (r->verdict == VUC_PASS) {
                fputs("PASS", f);
            } else {
                fputs("<a href=\"#", f);
                anchor(f, r->c->id);
                fprintf(f, "\">%s</a>", vuc_verdict_name(r->verdict));
            }
            vuc_report_expect(info, a, b, exp, sizeof(exp));
            if (exp[0] != '\0') {
                fputs("<br><span class=\"exp\">", f);
                vuc_report_escape(f, exp);
                fputs("</span>", f);
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"legend\">", f);
    for (int v = 0; v < VUC_VERDICT_NR; v++)
        fprintf(f, "<span class=\"%s\">%s</span>", vclass((enum vuc_verdict)v),
                vuc_verdict_name((enum vuc_verdict)v));
    fputs("</p>\n", f);
}

static void roots(FILE *f, const struct vuc_result *res, size_t n,
                  const struct vuc_root_causes *rc)
{
    fputs("<h2 id=\"root-causes\">Root causes</h2>\n", f);
    if (rc->not_passed == 0) {
        fputs("<p>None: every case passed or was skipped.</p>\n", f);
        return;
    }
    fprintf(f, "<p>%zu cases did not pass, for %zu root cause%s.</p>\n<ul>\n",
            rc->not_passed, rc->n_groups, rc->n_groups == 1 ? "" : "s");
    for (size_t g = 0; g < rc->n_groups; g++) {
        const struct vuc_root_cause *root = &rc->groups[g];
        size_t k = 0;

        fputs("<li><a href=\"#", f);
        anchor(f, root->id);
        fputs("\"><code>", f);
        vuc_report_escape(f, root->id);
        fprintf(f, "</code></a> %s (%zu)",
                root->r ? vuc_verdict_name(root->r->verdict) : "not run",
                root->count);
        for (size_t i = 0; i < n; i++) {
            if (rc->group_of[i] != g || &res[i] == root->r)
                continue;
            fputs(k++ ? ", " : ": blocked ", f);
            fputs("<a href=\"#", f);
            anchor(f, res[i].c->id);
            fputs("\"><code>", f);
            vuc_report_escape(f, res[i].c->id);
            fputs("</code></a>", f);
        }
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static void cases(FILE *f, const struct vuc_result *res, size_t n)
{
    fputs("<h2 id=\"cases\">Cases that did not pass</h2>\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct vuc_result *r = &res[i];

        if (r->verdict == VUC_PASS || r->verdict == VUC_SKIP)
            continue;
        fputs("<div class=\"case\" id=\"", f);
        anchor(f, r->c->id);
        fprintf(f, "\"><h3><span class=\"%s\">%s</span> <code>",
                vclass(r->verdict), vuc_verdict_name(r->verdict));
        vuc_report_escape(f, r->c->id);
        fputs("</code></h3>\n<p>", f);
        vuc_report_escape(f, r->c->title);
        fputs("</p>\n<p>", f);
        vuc_report_escape(f, r->reason);
        fputs("</p>\n", f);
        if (r->root_cause != NULL) {
            fputs("<p>blocked by <a href=\"#", f);
            anchor(f, r->root_cause);
            fputs("\"><code>", f);
            vuc_report_escape(f, r->root_cause);
            fputs("</code></a></p>\n", f);
        }
        if (r->exchange != NULL && r->exchange[0] != '\0') {
            fputs("<pre>", f);
            vuc_report_escape(f, r->exchange);
            fputs("</pre>\n", f);
        }
        fputs("</div>\n", f);
    }
    /* the skipped ones, in one list: the reason is what a reader needs */
    fputs("<h2 id=\"skipped\">Skipped</h2>\n<ul>\n", f);
    for (size_t i = 0; i < n; i++) {
        if (res[i].verdict != VUC_SKIP)
            continue;
        fputs("<li id=\"", f);
        anchor(f, res[i].c->id);
        fputs("\"><code>", f);
        vuc_report_escape(f, res[i].c->id);
        fputs("</code>: ", f);
        vuc_report_escape(f, res[i].reason);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

/* A case id of a row, linked when the run has a result for it. */
static void row_case(FILE *f, const char *id, size_t len,
                     const struct vuc_result *res, size_t n)
{
    const struct vuc_result *r = NULL;

    for (size_t i = 0; i < n && r == NULL; i++)
        if (strlen(res[i].c->id) == len && memcmp(res[i].c->id, id, len) == 0)
            r = &res[i];
    if (r != NULL && r->verdict != VUC_PASS) {
        fprintf(f, "<a class=\"%s\" href=\"#", vclass(r->verdict));
        fputs("case-", f);
        fprintf(f, "%.*s\">", (int)len, id);
    }
    fprintf(f, "<code>%.*s</code>", (int)len, id);
    if (r != NULL && r->verdict != VUC_PASS)
        fputs("</a>", f);
}

static void coverage(FILE *f, const struct vuc_run_info *info,
                     const struct vuc_result *res, size_t n)
{
    const struct vuc_coverage *cov = &info->coverage;

    if (info->spec_rows == NULL || cov->checkable == 0)
        return;
    fprintf(f,
            "<h2 id=\"coverage\">Spec coverage</h2>\n<p>%zu of the %zu "
            "sentences of the spec that can be checked over the wire have a "
            "case (%.1f%%); %zu rows in all.</p>\n<table "
            "class=\"coverage\">\n<tr><th>row</th><th>section</th>"
            "<th>keyword</th><th>sentence</th><th>cases, or why none</th>"
            "</tr>\n",
            cov->covered, cov->checkable,
            100.0 * (double)cov->covered / (double)cov->checkable, cov->rows);
    for (size_t i = 0; i < info->n_spec_rows; i++) {
        const struct vuc_spec_row *row = &info->spec_rows[i];
        const char *p = row->cases;

        fputs("<tr><td>", f);
        vuc_report_escape(f, row->id);
        fputs("</td><td>", f);
        vuc_report_escape(f, row->section);
        fputs("</td><td>", f);
        vuc_report_escape(f, row->keyword);
        fputs("</td><td>", f);
        vuc_report_escape(f, row->sentence);
        fputs("</td><td>", f);
        if (p == NULL || *p == '\0')
            vuc_report_escape(f, row->reason);
        while (p != NULL && *p) {
            size_t len = strcspn(p, " ");

            if (len > 0) {
                row_case(f, p, len, res, n);
                fputc(' ', f);
            }
            p += len;
            p += strspn(p, " ");
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

int vuc_report_matrix_html(const char *path, const struct vuc_run_info *info,
                           const struct vuc_result *res, size_t n)
{
    const struct vuc_result *cell[VUC_STATE_NR][VUC_STATE_NR] = {{NULL}};
    size_t counts[VUC_VERDICT_NR] = {0}, cells = 0;
    struct vuc_root_causes rc;
    FILE *f;
    int err;

    err = vuc_root_causes_build(res, n, info->strict, &rc);
    if (err < 0)
        return err;
    f = fopen(path, "w");
    if (f == NULL) {
        err = -errno;
        vuc_root_causes_free(&rc);
        return err;
    }
    for (size_t i = 0; i < n; i++) {
        char from[32], to[32];
        uint32_t a, b;

        if (res[i].verdict < VUC_VERDICT_NR)
            counts[res[i].verdict]++;
        if (sscanf(res[i].c->id, "fsm.%31[A-Z_0-9].%31[A-Z_0-9]", from, to) !=
                2 ||
            vuc_state_parse(from, &a) < 0 || vuc_state_parse(to, &b) < 0 ||
            a >= VUC_STATE_NR || b >= VUC_STATE_NR)
            continue;
        cell[a][b] = &res[i];
        cells++;
    }
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
            "charset=\"utf-8\"><title>vucert report</title><style>%s"
            "</style></head><body>\n<h1>vucert: transition matrix and "
            "results</h1>\n",
            css);
    meta(f, info, n, counts);
    fputs("<h2 id=\"transitions\">Transitions</h2>\n", f);
    if (cells == 0)
        fputs("<p>No transition case was run (migration is not supported, "
              "or none was selected).</p>\n",
              f);
    else
        grid(f, info, cell);
    roots(f, res, n, &rc);
    cases(f, res, n);
    coverage(f, info, res, n);
    fputs("</body></html>\n", f);
    vuc_root_causes_free(&rc);
    return fclose(f) == 0 ? 0 : -EIO;
}
