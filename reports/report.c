// SPDX-License-Identifier: BSD-3-Clause
/*
 * Report writers: console, results.json (schema 1), junit.xml, matrix.md.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vucert/codec.h"
#include "vucert/report.h"

#define RESULTS_SCHEMA 1

void vuc_report_console_case(FILE *f, const struct vuc_result *r, bool verbose)
{
    fprintf(f, "%-12s %-44s %8.1f ms\n", vuc_verdict_name(r->verdict), r->c->id,
            r->duration_ms);
    if (r->verdict != VUC_PASS && r->reason != NULL)
        fprintf(f, "             %s\n", r->reason);
    if (verbose && r->exchange != NULL && r->verdict != VUC_PASS &&
        r->verdict != VUC_SKIP) {
        const char *p = r->exchange;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            fprintf(f, "               | %.*s\n", (int)len, p);
            p += len + (e ? 1 : 0);
        }
    }
}

static void count(const struct vuc_result *res, size_t n,
                  size_t counts[VUC_VERDICT_NR])
{
    memset(counts, 0, sizeof(size_t) * VUC_VERDICT_NR);
    for (size_t i = 0; i < n; i++)
        counts[res[i].verdict]++;
}

void vuc_report_console_summary(FILE *f, const struct vuc_result *res, size_t n)
{
    size_t c[VUC_VERDICT_NR];

    count(res, n, c);
    fprintf(f,
            "\n%zu cases: %zu PASS, %zu FAIL, %zu NON-STRICT, "
            "%zu IMPL-DEFINED, %zu SKIP, %zu ERROR\n",
            n, c[VUC_PASS], c[VUC_FAIL], c[VUC_NON_STRICT], c[VUC_IMPL_DEFINED],
            c[VUC_SKIP], c[VUC_ERROR]);
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : json_object_new_null();
}

static json_object *flags_list(uint64_t flags)
{
    json_object *a = json_object_new_array();

    if (flags & VUC_MIGRATION_STOP_COPY)
        json_object_array_add(a, json_object_new_string("STOP_COPY"));
    if (flags & VUC_MIGRATION_P2P)
        json_object_array_add(a, json_object_new_string("P2P"));
    if (flags & VUC_MIGRATION_PRE_COPY)
        json_object_array_add(a, json_object_new_string("PRE_COPY"));
    return a;
}

int vuc_report_json(const char *path, const struct vuc_run_info *info,
                    const struct vuc_result *res, size_t n)
{
    json_object *root = json_object_new_object();
    json_object *server = json_object_new_object();
    json_object *cases = json_object_new_array();
    json_object *summary = json_object_new_object();
    size_t c[VUC_VERDICT_NR];
    char ver[32];
    int rc;

    json_object_object_add(root, "schema", json_object_new_int(RESULTS_SCHEMA));
    json_object_object_add(root, "tool", json_object_new_string("vucert"));
    json_object_object_add(root, "version", jstr(info->tool_version));
    json_object_object_add(server, "target", jstr(info->target_desc));
    if (info->negotiated) {
        snprintf(ver, sizeof(ver), "%u.%u", info->major, info->minor);
        json_object_object_add(server, "version", json_object_new_string(ver));
        json_object_object_add(
            server, "capabilities",
            info->server_json ? json_tokener_parse(info->server_json) : NULL);
    }
    if (info->mig_flags_known) {
        json_object_object_add(server, "migration_flags",
                               flags_list(info->mig_flags));
        json_object_object_add(server, "migration_flags_raw",
                               json_object_new_int64((int64_t)info->mig_flags));
    }
    json_object_object_add(server, "profile", jstr(info->profile));
    json_object_object_add(server, "destination", jstr(info->dest_desc));
    json_object_object_add(root, "server", server);
    for (size_t i = 0; i < n; i++) {
        const struct vuc_result *r = &res[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(r->c->id));
        json_object_object_add(o, "title", json_object_new_string(r->c->title));
        json_object_object_add(o, "spec", jstr(r->c->spec));
        json_object_object_add(
            o, "level", json_object_new_string(vuc_level_name(r->c->level)));
        json_object_object_add(
            o, "verdict", json_object_new_string(vuc_verdict_name(r->verdict)));
        json_object_object_add(o, "reason", jstr(r->reason));
        json_object_object_add(o, "duration_ms",
                               json_object_new_double(r->duration_ms));
        if (r->exchange != NULL)
            json_object_object_add(o, "exchange",
                                   json_object_new_string(r->exchange));
        json_object_array_add(cases, o);
    }
    json_object_object_add(root, "cases", cases);
    count(res, n, c);
    for (unsigned v = 0; v < VUC_VERDICT_NR; v++)
        json_object_object_add(summary, vuc_verdict_name((enum vuc_verdict)v),
                               json_object_new_int64((int64_t)c[v]));
    json_object_object_add(summary, "total", json_object_new_int64((int64_t)n));
    json_object_object_add(root, "summary", summary);
    json_object_object_add(root, "duration_ms",
                           json_object_new_double(info->duration_ms));
    rc = json_object_to_file_ext(
        path, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    json_object_put(root);
    return rc == 0 ? 0 : -EIO;
}

static void xml_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            /* XML 1.0 forbids most control characters */
            if (ch < 0x20 && ch != '\n' && ch != '\t')
                fputc('?', f);
            else
                fputc(ch, f);
        }
    }
}

int vuc_report_junit(const char *path, const struct vuc_run_info *info,
                     const struct vuc_result *res, size_t n)
{
    FILE *f = fopen(path, "w");
    size_t c[VUC_VERDICT_NR];

    if (f == NULL)
        return -errno;
    count(res, n, c);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites>\n<testsuite name=\"vucert\" tests=\"%zu\" "
            "failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            n, c[VUC_FAIL] + c[VUC_NON_STRICT], c[VUC_ERROR], c[VUC_SKIP],
            info->duration_ms / 1e3);
    for (size_t i = 0; i < n; i++) {
        const struct vuc_result *r = &res[i];
        const char *dot = strchr(r->c->id, '.');
        fprintf(f, "  <testcase classname=\"vucert.%.*s\" name=\"",
                dot ? (int)(dot - r->c->id) : (int)strlen(r->c->id), r->c->id);
        xml_escape(f, r->c->id);
        fprintf(f, "\" time=\"%.4f\">", r->duration_ms / 1e3);
        switch (r->verdict) {
        case VUC_FAIL:
        case VUC_NON_STRICT:
            fprintf(f, "\n    <failure type=\"%s\" message=\"",
                    vuc_verdict_name(r->verdict));
            xml_escape(f, r->reason);
            fprintf(f, "\">");
            xml_escape(f, r->exchange);
            fprintf(f, "</failure>\n  ");
            break;
        case VUC_ERROR:
            fprintf(f, "\n    <error message=\"");
            xml_escape(f, r->reason);
            fprintf(f, "\">");
            xml_escape(f, r->exchange);
            fprintf(f, "</error>\n  ");
            break;
        case VUC_SKIP:
            fprintf(f, "\n    <skipped message=\"");
            xml_escape(f, r->reason);
            fprintf(f, "\"/>\n  ");
            break;
        case VUC_IMPL_DEFINED:
            fprintf(f, "\n    <system-out>IMPL-DEFINED: ");
            xml_escape(f, r->reason);
            fprintf(f, "</system-out>\n  ");
            break;
        default:
            break;
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "</testsuite>\n</testsuites>\n");
    return fclose(f) == 0 ? 0 : -EIO;
}

static const char *symbol(enum vuc_verdict v)
{
    switch (v) {
    case VUC_PASS:
        return "ok";
    case VUC_FAIL:
        return "**FAIL**";
    case VUC_NON_STRICT:
        return "*ns*";
    case VUC_IMPL_DEFINED:
        return "impl";
    case VUC_SKIP:
        return "-";
    case VUC_ERROR:
        return "**ERR**";
    default:
        return "?";
    }
}

static void md_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputs(" ", f);
        else
            fputc(*s, f);
    }
}

int vuc_report_matrix_md(const char *path, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n)
{
    const struct vuc_result *cell[VUC_STATE_NR][VUC_STATE_NR] = {{NULL}};
    FILE *f = fopen(path, "w");
    bool any = false;

    if (f == NULL)
        return -errno;
    for (size_t i = 0; i < n; i++) {
        char from[32], to[32];
        uint32_t a, b;
        if (sscanf(res[i].c->id, "fsm.%31[A-Z_0-9].%31[A-Z_0-9]", from, to) !=
                2 ||
            vuc_state_parse(from, &a) < 0 || vuc_state_parse(to, &b) < 0 ||
            a >= VUC_STATE_NR || b >= VUC_STATE_NR)
            continue;
        cell[a][b] = &res[i];
    }
    fprintf(f, "# vucert transition matrix\n\n");
    fprintf(f, "- target: `%s`\n", info->target_desc ? info->target_desc : "?");
    if (info->mig_flags_known)
        fprintf(f, "- migration flags: %s%s%s (0x%llx)\n",
                (info->mig_flags & VUC_MIGRATION_STOP_COPY) ? "STOP_COPY" : "",
                (info->mig_flags & VUC_MIGRATION_P2P) ? " P2P" : "",
                (info->mig_flags & VUC_MIGRATION_PRE_COPY) ? " PRE_COPY" : "",
                (unsigned long long)info->mig_flags);
    else
        fprintf(f, "- migration flags: unknown (MIGRATION GET failed)\n");
    if (info->profile)
        fprintf(f, "- profile: `%s`\n", info->profile);
    fprintf(f, "\nRows: the state the device is in. Columns: the state "
               "requested with MIG_DEVICE_STATE SET. Each cell is the case "
               "`fsm.FROM.TO`.\n\n");
    fprintf(f, "| from \\ to |");
    for (uint32_t b = 0; b < VUC_STATE_NR; b++)
        fprintf(f, " %s |", vuc_state_name(b));
    fprintf(f, "\n|---|");
    for (uint32_t b = 0; b < VUC_STATE_NR; b++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (uint32_t a = 0; a < VUC_STATE_NR; a++) {
        fprintf(f, "| **%s** |", vuc_state_name(a));
        for (uint32_t b = 0; b < VUC_STATE_NR; b++)
            fprintf(f, " %s |", cell[a][b] ? symbol(cell[a][b]->verdict) : "");
        fprintf(f, "\n");
    }
    fprintf(f, "\nLegend: ok = PASS, **FAIL** = FAIL, *ns* = NON-STRICT, "
               "impl = IMPL-DEFINED, - = SKIP, **ERR** = ERROR (vucert could "
               "not run the case), empty = not run.\n");
    fprintf(f, "\n## Cells that did not pass\n\n");
    for (uint32_t a = 0; a < VUC_STATE_NR; a++) {
        for (uint32_t b = 0; b < VUC_STATE_NR; b++) {
            const struct vuc_result *r = cell[a][b];
            if (r == NULL || r->verdict == VUC_PASS)
                continue;
            if (r->verdict == VUC_SKIP && b != 0)
                continue; /* one line per skipped row is enough */
            any = true;
            fprintf(f, "- `%s` %s: ", r->c->id, vuc_verdict_name(r->verdict));
            md_text(f, r->reason);
            fprintf(f, "\n");
        }
    }
    if (!any)
        fprintf(f, "None.\n");
    return fclose(f) == 0 ? 0 : -EIO;
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int vuc_report_write_all(const char *dir, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n, char *err,
                         size_t errcap)
{
    static const struct {
        const char *name;
        int (*fn)(const char *, const struct vuc_run_info *,
                  const struct vuc_result *, size_t);
    } writers[] = {
        {"results.json", vuc_report_json},
        {"junit.xml", vuc_report_junit},
        {"matrix.md", vuc_report_matrix_md},
    };
    char path[4096];
    int rc = mkdir_p(dir);

    if (rc < 0) {
        snprintf(err, errcap, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, writers[i].name);
        rc = writers[i].fn(path, info, res, n);
        if (rc < 0) {
            snprintf(err, errcap, "%s: %s", path, strerror(-rc));
            return rc;
        }
    }
    return 0;
}
