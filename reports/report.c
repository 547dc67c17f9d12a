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
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "vucert/codec.h"
#include "vucert/fsm.h"
#include "vucert/report.h"

#define RESULTS_SCHEMA 1

bool vuc_result_not_passed(const struct vuc_result *r, bool strict)
{
    switch (r->verdict) {
    case VUC_FAIL:
    case VUC_ERROR:
    case VUC_BLOCKED:
        return true;
    case VUC_NON_STRICT:
        return strict;
    default:
        return false;
    }
}

/* ---- root causes ---- */

#define NOT_RUN SIZE_MAX

static size_t find_result(const struct vuc_result *res, size_t n,
                          const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(res[i].c->id, id) == 0)
            return i;
    return NOT_RUN;
}

/*
 * The root of BLOCKED result `start`: walk root_cause while it names a
 * BLOCKED result. stamp[i] == start + 1 marks what this walk has seen, so
 * a cycle ends it; the cycle's member run first stands for the cycle, so
 * that every member and every case blocked by one lands in one group
 * whichever member the walk came in by.
 */
static void follow(const struct vuc_result *res, const size_t *parent,
                   size_t start, size_t *stamp, struct vuc_root_cause *key)
{
    size_t cur = start;

    stamp[cur] = start + 1;
    for (;;) {
        const struct vuc_result *r = &res[cur];
        size_t next = parent[cur];

        if (r->verdict != VUC_BLOCKED || r->root_cause == NULL) {
            key->id = r->c->id;
            key->r = r;
            return;
        }
        if (next == NOT_RUN) {
            key->id = r->root_cause;
            key->r = NULL;
            return;
        }
        if (stamp[next] == start + 1) {
            size_t first = next;
            for (size_t k = parent[next]; k != next; k = parent[k])
                if (k < first)
                    first = k;
            key->id = res[first].c->id;
            key->r = &res[first];
            key->cycle = true;
            return;
        }
        stamp[next] = start + 1;
        cur = next;
    }
}

void vuc_root_causes_free(struct vuc_root_causes *rc)
{
    free(rc->root_of);
    free(rc->group_of);
    free(rc->groups);
    memset(rc, 0, sizeof(*rc));
}

/* Order groups by count, descending; equal counts keep the order they
 * were found in (run order), so reports do not reorder between runs. */
static int sort_groups(struct vuc_root_causes *rc, size_t n)
{
    size_t *idx, *pos;
    struct vuc_root_cause *sorted;

    if (rc->n_groups == 0)
        return 0;
    idx = malloc(rc->n_groups * sizeof(*idx));
    pos = malloc(rc->n_groups * sizeof(*pos));
    sorted = malloc(rc->n_groups * sizeof(*sorted));
    if (idx == NULL || pos == NULL || sorted == NULL) {
        free(idx);
        free(pos);
        free(sorted);
        return -ENOMEM;
    }
    /* insertion sort: stable, and a run has at most VUC_MAX_CASES */
    for (size_t i = 0; i < rc->n_groups; i++) {
        size_t j = i;
        for (; j > 0 && rc->groups[idx[j - 1]].count < rc->groups[i].count; j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
    }
    for (size_t k = 0; k < rc->n_groups; k++) {
        sorted[k] = rc->groups[idx[k]];
        pos[idx[k]] = k;
    }
    for (size_t i = 0; i < n; i++)
        if (rc->group_of[i] != VUC_NO_GROUP)
            rc->group_of[i] = pos[rc->group_of[i]];
    free(rc->groups);
    rc->groups = sorted;
    free(idx);
    free(pos);
    return 0;
}

int vuc_root_causes_build(const struct vuc_result *res, size_t n, bool strict,
                          struct vuc_root_causes *out)
{
    size_t *parent = NULL, *stamp = NULL;
    int rc = -ENOMEM;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return 0;
    out->root_of = calloc(n, sizeof(*out->root_of));
    out->group_of = calloc(n, sizeof(*out->group_of));
    out->groups = calloc(n, sizeof(*out->groups));
    parent = calloc(n, sizeof(*parent));
    stamp = calloc(n, sizeof(*stamp));
    if (out->root_of == NULL || out->group_of == NULL || out->groups == NULL ||
        parent == NULL || stamp == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        bool blocked = res[i].verdict == VUC_BLOCKED;
        parent[i] = blocked && res[i].root_cause != NULL
                        ? find_result(res, n, res[i].root_cause)
                        : NOT_RUN;
        out->group_of[i] = VUC_NO_GROUP;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vuc_result *r = &res[i];
        struct vuc_root_cause key = {0};
        size_t g = 0;

        switch (r->verdict) {
        case VUC_FAIL:
        case VUC_ERROR:
        case VUC_NON_STRICT:
            key.id = r->c->id;
            key.r = r;
            break;
        case VUC_BLOCKED:
            follow(res, parent, i, stamp, &key);
            break;
        default:
            continue;
        }
        out->root_of[i] = key.id;
        if (!vuc_result_not_passed(r, strict))
            continue;
        out->not_passed++;
        while (g < out->n_groups && strcmp(out->groups[g].id, key.id) != 0)
            g++;
        if (g == out->n_groups)
            out->groups[out->n_groups++] = key;
        out->groups[g].count++;
        out->group_of[i] = g;
    }
    rc = sort_groups(out, n);
out:
    free(parent);
    free(stamp);
    if (rc < 0)
        vuc_root_causes_free(out);
    return rc;
}

/* ---- console ---- */

/* ANSI SGR colours per verdict: green PASS, red FAIL and ERROR, yellow
 * NON-STRICT and BLOCKED, cyan IMPL-DEFINED, grey SKIP. */
static const char *verdict_color(enum vuc_verdict v)
{
    switch (v) {
    case VUC_PASS:
        return "\033[32m";
    case VUC_FAIL:
    case VUC_ERROR:
        return "\033[1;31m";
    case VUC_NON_STRICT:
    case VUC_BLOCKED:
        return "\033[33m";
    case VUC_IMPL_DEFINED:
        return "\033[36m";
    default:
        return "\033[90m";
    }
}

void vuc_report_console_case(FILE *f, const struct vuc_result *r,
                             const struct vuc_console *con, size_t idx,
                             size_t total)
{
    int w = snprintf(NULL, 0, "%zu", total);
    bool verbose = con != NULL && con->verbose;

    if (total > 0)
        fprintf(f, "[%*zu/%zu] ", w, idx, total);
    if (con != NULL && con->color)
        fprintf(f, "%s%-12s\033[0m", verdict_color(r->verdict),
                vuc_verdict_name(r->verdict));
    else
        fprintf(f, "%-12s", vuc_verdict_name(r->verdict));
    fprintf(f, " %-44s %8.1f ms\n", r->c->id, r->duration_ms);
    if (r->verdict != VUC_PASS && r->reason != NULL)
        fprintf(f, "%*s%s\n", total > 0 ? 2 * w + 17 : 13, "", r->reason);
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

/* Results SKIPped because the device does not support migration. */
static size_t not_applicable(const struct vuc_result *res, size_t n,
                             const struct vuc_result **first)
{
    size_t na = 0;

    *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!res[i].no_migration)
            continue;
        if (na++ == 0)
            *first = &res[i];
    }
    return na;
}

static const char *plural(size_t k)
{
    return k == 1 ? "" : "s";
}

/* A reason up to its first newline, for one-line lists. */
static int line_len(const char *s)
{
    const char *e = strchr(s, '\n');
    return e ? (int)(e - s) : (int)strlen(s);
}

/* At most max bytes of s, on one line and safe in a table cell. */
static void md_text(FILE *f, const char *s, size_t max)
{
    for (; s && *s && max > 0; s++, max--) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputs(" ", f);
        else
            fputc(*s, f);
    }
}

/* The headline names this many roots; the list below has them all. */
#define HEADLINE_ROOTS 10

/*
 * "N not passed, K root causes: a (9), b (2)" and, per root, its verdict,
 * one-line reason and the cases it blocked: plain text for the console
 * (ids wrapped at 80 columns), markdown for matrix.md.
 */
static void print_roots(FILE *f, const struct vuc_result *res, size_t n,
                        const struct vuc_root_causes *rc, bool md)
{
    const char *q = md ? "`" : "";

    fprintf(f, "%zu not passed, %zu root cause%s: ", rc->not_passed,
            rc->n_groups, plural(rc->n_groups));
    for (size_t g = 0; g < rc->n_groups && g < HEADLINE_ROOTS; g++) {
        fprintf(f, "%s%s%s%s", g ? ", " : "", q, rc->groups[g].id, q);
        if (rc->n_groups > 1)
            fprintf(f, " (%zu)", rc->groups[g].count);
    }
    if (rc->n_groups > HEADLINE_ROOTS)
        fprintf(f, ", and %zu more", rc->n_groups - HEADLINE_ROOTS);
    fprintf(f, "\n%s", md ? "\n" : "");
    for (size_t g = 0; g < rc->n_groups; g++) {
        const struct vuc_root_cause *root = &rc->groups[g];
        size_t blocked = 0, col;

        fprintf(f, "%s%s%s%s ", md ? "- " : "  ", q, root->id, q);
        if (root->r == NULL) {
            fprintf(f, "(not run)\n");
        } else {
            fprintf(f, "%s%s", vuc_verdict_name(root->r->verdict),
                    root->cycle ? " (in a cycle of BLOCKED cases)" : "");
            if (root->r->reason != NULL && root->r->reason[0] != '\0') {
                int len = line_len(root->r->reason);
                fputs(": ", f);
                if (md)
                    md_text(f, root->r->reason, (size_t)len);
                else
                    fprintf(f, "%.*s", len, root->r->reason);
            }
            fputc('\n', f);
        }
        for (size_t i = 0; i < n; i++)
            if (rc->group_of[i] == g && &res[i] != root->r)
                blocked++;
        if (blocked == 0)
            continue;
        col =
            (size_t)fprintf(f, "%sblocked %zu:", md ? "  - " : "    ", blocked);
        for (size_t i = 0, k = 0; i < n; i++) {
            size_t len;
            if (rc->group_of[i] != g || &res[i] == root->r)
                continue;
            len = strlen(res[i].c->id) + (md ? 2 : 0);
            /* room for ", id" and the comma a wrap after it adds */
            if (!md && col + 3 + len > 80 && k > 0) {
                fputs(",\n      ", f);
                col = 6;
            } else {
                fputs(k ? ", " : " ", f);
                col += k ? 2 : 1;
            }
            fprintf(f, "%s%s%s", q, res[i].c->id, q);
            col += len;
            k++;
        }
        fputc('\n', f);
    }
}

int vuc_report_console_summary(FILE *f, const struct vuc_run_info *info,
                               const struct vuc_result *res, size_t n)
{
    const struct vuc_result *first;
    size_t c[VUC_VERDICT_NR], na = not_applicable(res, n, &first);
    struct vuc_root_causes rc;
    int err;

    fputc('\n', f);
    if (na > 0)
        fprintf(f, "migration not supported: %zu case%s not applicable\n", na,
                plural(na));
    count(res, n, c);
    fprintf(f,
            "%zu cases: %zu PASS, %zu FAIL, %zu NON-STRICT, "
            "%zu IMPL-DEFINED, %zu SKIP, %zu ERROR, %zu BLOCKED\n",
            n, c[VUC_PASS], c[VUC_FAIL], c[VUC_NON_STRICT], c[VUC_IMPL_DEFINED],
            c[VUC_SKIP], c[VUC_ERROR], c[VUC_BLOCKED]);
    err = vuc_root_causes_build(res, n, info->strict, &rc);
    if (err < 0)
        return err;
    if (rc.not_passed > 0)
        print_roots(f, res, n, &rc, false);
    vuc_root_causes_free(&rc);
    return 0;
}

/* ---- results.json ---- */

/* The name of a single migration flag bit; "0x..." for bits vfio-user
 * does not define, so a report still shows what the server claimed. */
static const char *flag_name(uint64_t bit, char *buf, size_t cap)
{
    switch (bit) {
    case VUC_MIGRATION_STOP_COPY:
        return "STOP_COPY";
    case VUC_MIGRATION_P2P:
        return "P2P";
    case VUC_MIGRATION_PRE_COPY:
        return "PRE_COPY";
    default:
        snprintf(buf, cap, "0x%llx", (unsigned long long)bit);
        return buf;
    }
}

/* "STOP_COPY,PRE_COPY (0x5)", "none (0x0)" or "unknown". */
static void flags_text(const struct vuc_run_info *info, char *buf, size_t cap)
{
    size_t len = 0;
    char one[24];

    if (!info->mig_flags_known) {
        snprintf(buf, cap, "unknown (MIGRATION GET failed)");
        return;
    }
    buf[0] = '\0';
    for (unsigned b = 0; b < 64 && len < cap; b++) {
        uint64_t bit = 1ull << b;
        if (info->mig_flags & bit)
            len +=
                (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "," : "",
                                 flag_name(bit, one, sizeof(one)));
    }
    if (len < cap)
        snprintf(buf + len, cap - len, "%s(0x%llx)", len ? " " : "none ",
                 (unsigned long long)info->mig_flags);
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : json_object_new_null();
}

static json_object *flags_list(uint64_t flags)
{
    json_object *a = json_object_new_array();
    char one[24];

    for (unsigned b = 0; b < 64; b++) {
        uint64_t bit = 1ull << b;
        if (flags & bit)
            json_object_array_add(
                a, json_object_new_string(flag_name(bit, one, sizeof(one))));
    }
    return a;
}

/* ISO 8601 in UTC, "2026-12-07T06:36:02Z"; zone false drops the "Z" for
 * junit.xml, whose XSD pattern for timestamp has no zone. */
static bool iso_time(long long t, bool zone, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
        return false;
    return strftime(buf, cap, zone ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S",
                    &tm) > 0;
}

/* This machine's name; "localhost" when it has none. */
static void host_name(char *buf, size_t cap)
{
    if (gethostname(buf, cap) < 0 || buf[0] == '\0')
        snprintf(buf, cap, "localhost");
    buf[cap - 1] = '\0';
}

/* Where vucert ran: the machine's name, kernel and architecture. */
static json_object *json_host(void)
{
    json_object *o = json_object_new_object();
    char name[256];
    struct utsname u;
    bool un = uname(&u) == 0;

    host_name(name, sizeof(name));
    json_object_object_add(o, "hostname", json_object_new_string(name));
    json_object_object_add(o, "system", jstr(un ? u.sysname : NULL));
    json_object_object_add(o, "release", jstr(un ? u.release : NULL));
    json_object_object_add(o, "machine", jstr(un ? u.machine : NULL));
    return o;
}

static json_object *json_source(const char *document, const char *revision)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "document", json_object_new_string(document));
    json_object_object_add(o, "revision", json_object_new_string(revision));
    return o;
}

/* The spec the cases were written from, and the kernel sources it defers
 * to, each at the revision read (docs/decisions.md, Sources). */
static json_object *json_spec(void)
{
    json_object *o = json_source(VUC_SPEC_DOCUMENT, VUC_SPEC_REVISION);
    json_object *k = json_object_new_array();

    json_object_array_add(k, json_source(VUC_UAPI_DOCUMENT, VUC_UAPI_REVISION));
    json_object_array_add(
        k, json_source(VUC_VFIO_CORE_DOCUMENT, VUC_VFIO_CORE_REVISION));
    json_object_object_add(o, "kernel", k);
    return o;
}

static json_object *json_root_causes(const struct vuc_result *res, size_t n,
                                     const struct vuc_root_causes *rc)
{
    json_object *a = json_object_new_array();

    for (size_t g = 0; g < rc->n_groups; g++) {
        const struct vuc_root_cause *root = &rc->groups[g];
        json_object *o = json_object_new_object();
        json_object *ids = json_object_new_array();

        json_object_object_add(o, "case", json_object_new_string(root->id));
        json_object_object_add(
            o, "verdict",
            root->r ? json_object_new_string(vuc_verdict_name(root->r->verdict))
                    : json_object_new_null());
        json_object_object_add(o, "count",
                               json_object_new_int64((int64_t)root->count));
        for (size_t i = 0; i < n; i++)
            if (rc->group_of[i] == g)
                json_object_array_add(ids,
                                      json_object_new_string(res[i].c->id));
        json_object_object_add(o, "cases", ids);
        json_object_array_add(a, o);
    }
    return a;
}

static json_object *json_case(const struct vuc_result *r, const char *root)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(r->c->id));
    json_object_object_add(o, "title", json_object_new_string(r->c->title));
    json_object_object_add(o, "spec", jstr(r->c->spec));
    json_object_object_add(o, "source", jstr(r->c->source));
    json_object_object_add(o, "level",
                           json_object_new_string(vuc_level_name(r->c->level)));
    json_object_object_add(
        o, "verdict", json_object_new_string(vuc_verdict_name(r->verdict)));
    json_object_object_add(o, "reason", jstr(r->reason));
    json_object_object_add(o, "root_cause", jstr(root));
    json_object_object_add(o, "notes", jstr(r->notes));
    json_object_object_add(o, "checks", json_object_new_int64(r->checks));
    json_object_object_add(o, "duration_ms",
                           json_object_new_double(r->duration_ms));
    if (r->exchange != NULL)
        json_object_object_add(o, "exchange",
                               json_object_new_string(r->exchange));
    return o;
}

int vuc_report_json(const char *path, const struct vuc_run_info *info,
                    const struct vuc_result *res, size_t n)
{
    json_object *root, *server, *cases, *summary;
    const struct vuc_result *first;
    struct vuc_root_causes rc;
    size_t c[VUC_VERDICT_NR];
    char buf[32];
    int err;

    err = vuc_root_causes_build(res, n, info->strict, &rc);
    if (err < 0)
        return err;
    root = json_object_new_object();
    server = json_object_new_object();
    cases = json_object_new_array();
    summary = json_object_new_object();
    json_object_object_add(root, "schema", json_object_new_int(RESULTS_SCHEMA));
    json_object_object_add(root, "tool", json_object_new_string("vucert"));
    json_object_object_add(root, "version", jstr(info->tool_version));
    json_object_object_add(root, "spec", json_spec());
    json_object_object_add(root, "started",
                           iso_time(info->started, true, buf, sizeof(buf))
                               ? json_object_new_string(buf)
                               : json_object_new_null());
    json_object_object_add(root, "command_line", jstr(info->command_line));
    json_object_object_add(root, "host", json_host());
    json_object_object_add(root, "timeout_s",
                           info->timeout_ms > 0
                               ? json_object_new_double(info->timeout_ms / 1e3)
                               : json_object_new_null());
    json_object_object_add(root, "strict",
                           json_object_new_boolean(info->strict));
    json_object_object_add(root, "shuffle_seed",
                           info->shuffled
                               ? json_object_new_uint64(info->shuffle_seed)
                               : json_object_new_null());
    if (info->coverage.rows > 0) {
        struct json_object *cov = json_object_new_object();

        json_object_object_add(cov, "rows",
                               json_object_new_uint64(info->coverage.rows));
        json_object_object_add(
            cov, "checkable", json_object_new_uint64(info->coverage.checkable));
        json_object_object_add(cov, "covered",
                               json_object_new_uint64(info->coverage.covered));
        json_object_object_add(root, "spec_coverage", cov);
    } else {
        json_object_object_add(root, "spec_coverage", json_object_new_null());
    }
    json_object_object_add(server, "target", jstr(info->target_desc));
    if (info->negotiated) {
        snprintf(buf, sizeof(buf), "%u.%u", info->major, info->minor);
        json_object_object_add(server, "version", json_object_new_string(buf));
        json_object_object_add(
            server, "capabilities",
            info->server_json ? json_tokener_parse(info->server_json) : NULL);
    }
    if (info->mig_flags_known) {
        json_object_object_add(server, "migration_flags",
                               flags_list(info->mig_flags));
        json_object_object_add(server, "migration_flags_raw",
                               json_object_new_uint64(info->mig_flags));
    }
    json_object_object_add(server, "profile", jstr(info->profile));
    json_object_object_add(server, "destination", jstr(info->dest_desc));
    json_object_object_add(root, "server", server);
    json_object_object_add(
        root, "migration_supported",
        json_object_new_boolean(not_applicable(res, n, &first) == 0));
    for (size_t i = 0; i < n; i++)
        json_object_array_add(cases, json_case(&res[i], rc.root_of[i]));
    json_object_object_add(root, "cases", cases);
    count(res, n, c);
    for (unsigned v = 0; v < VUC_VERDICT_NR; v++)
        json_object_object_add(summary, vuc_verdict_name((enum vuc_verdict)v),
                               json_object_new_int64((int64_t)c[v]));
    json_object_object_add(summary, "total", json_object_new_int64((int64_t)n));
    json_object_object_add(summary, "not_passed",
                           json_object_new_int64((int64_t)rc.not_passed));
    json_object_object_add(summary, "root_causes",
                           json_root_causes(res, n, &rc));
    json_object_object_add(root, "summary", summary);
    json_object_object_add(root, "duration_ms",
                           json_object_new_double(info->duration_ms));
    err = json_object_to_file_ext(
        path, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    json_object_put(root);
    vuc_root_causes_free(&rc);
    return err == 0 ? 0 : -EIO;
}

/* ---- junit.xml ---- */

void vuc_report_escape(FILE *f, const char *s)
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

static void xml_property(FILE *f, const char *name, const char *value)
{
    fprintf(f, "    <property name=\"%s\" value=\"", name);
    vuc_report_escape(f, value ? value : "");
    fprintf(f, "\"/>\n");
}

static void junit_properties(FILE *f, const struct vuc_run_info *info)
{
    char buf[256];

    fprintf(f, "  <properties>\n");
    xml_property(f, "target", info->target_desc);
    xml_property(f, "vucert_version", info->tool_version);
    flags_text(info, buf, sizeof(buf));
    xml_property(f, "migration_flags", buf);
    if (info->shuffled)
        snprintf(buf, sizeof(buf), "%llu",
                 (unsigned long long)info->shuffle_seed);
    else
        snprintf(buf, sizeof(buf), "none");
    xml_property(f, "shuffle_seed", buf);
    xml_property(f, "strict", info->strict ? "true" : "false");
    xml_property(f, "profile", info->profile ? info->profile : "none");
    if (info->timeout_ms > 0)
        snprintf(buf, sizeof(buf), "%g", info->timeout_ms / 1e3);
    else
        snprintf(buf, sizeof(buf), "unknown");
    xml_property(f, "timeout_s", buf);
    xml_property(f, "spec", VUC_SPEC_DOCUMENT " at " VUC_SPEC_REVISION);
    fprintf(f, "  </properties>\n");
}

/* A BLOCKED failure's message names the root cause; the reason names
 * only the case that blocked it, which may itself be BLOCKED. */
static void junit_blocked(FILE *f, const struct vuc_result *r, const char *root)
{
    char direct[128];

    snprintf(direct, sizeof(direct), "blocked by %s:", root ? root : "");
    fprintf(f, "\n    <failure type=\"BLOCKED\" message=\"");
    if (root != NULL && (r->reason == NULL ||
                         strncmp(r->reason, direct, strlen(direct)) != 0)) {
        fputs("root cause ", f);
        vuc_report_escape(f, root);
        fputs(r->reason ? "; " : "", f);
    }
    vuc_report_escape(f, r->reason);
    fprintf(f, "\">");
    vuc_report_escape(f, r->exchange);
    fprintf(f, "</failure>\n  ");
}

/* The root causes of a run and the report file to write them into;
 * on failure neither is left to free. */
static int open_with_causes(const char *path, const struct vuc_run_info *info,
                            const struct vuc_result *res, size_t n,
                            struct vuc_root_causes *rc, FILE **f)
{
    int err = vuc_root_causes_build(res, n, info->strict, rc);

    if (err < 0)
        return err;
    *f = fopen(path, "w");
    if (*f == NULL) {
        err = -errno;
        vuc_root_causes_free(rc);
        return err;
    }
    return 0;
}

int vuc_report_junit(const char *path, const struct vuc_run_info *info,
                     const struct vuc_result *res, size_t n)
{
    struct vuc_root_causes rc;
    size_t c[VUC_VERDICT_NR], failures = 0;
    char stamp[32], host[256];
    FILE *f;
    int err;

    err = open_with_causes(path, info, res, n, &rc, &f);
    if (err < 0)
        return err;
    count(res, n, c);
    /* failures are what fails the run but ERROR, so the suite fails
     * exactly when vucert exits 1 */
    for (size_t i = 0; i < n; i++)
        if (res[i].verdict != VUC_ERROR &&
            vuc_result_not_passed(&res[i], info->strict))
            failures++;
    host_name(host, sizeof(host));
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites>\n<testsuite name=\"vucert\" tests=\"%zu\" "
            "failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
            n, failures, c[VUC_ERROR], c[VUC_SKIP], info->duration_ms / 1e3);
    if (iso_time(info->started, false, stamp, sizeof(stamp)))
        fprintf(f, " timestamp=\"%s\"", stamp);
    fprintf(f, " hostname=\"");
    vuc_report_escape(f, host);
    fprintf(f, "\">\n");
    junit_properties(f, info);
    for (size_t i = 0; i < n; i++) {
        const struct vuc_result *r = &res[i];
        const char *dot = strchr(r->c->id, '.');
        enum vuc_verdict v = r->verdict;

        fprintf(f, "  <testcase classname=\"vucert.%.*s\" name=\"",
                dot ? (int)(dot - r->c->id) : (int)strlen(r->c->id), r->c->id);
        vuc_report_escape(f, r->c->id);
        fprintf(f, "\" time=\"%.4f\">", r->duration_ms / 1e3);
        if (v == VUC_NON_STRICT && !info->strict)
            v = VUC_IMPL_DEFINED; /* reported, but it does not fail */
        switch (v) {
        case VUC_FAIL:
        case VUC_NON_STRICT:
            fprintf(f, "\n    <failure type=\"%s\" message=\"",
                    vuc_verdict_name(r->verdict));
            vuc_report_escape(f, r->reason);
            fprintf(f, "\">");
            vuc_report_escape(f, r->exchange);
            fprintf(f, "</failure>\n  ");
            break;
        case VUC_BLOCKED:
            junit_blocked(f, r, rc.root_of[i]);
            break;
        case VUC_ERROR:
            fprintf(f, "\n    <error message=\"");
            vuc_report_escape(f, r->reason);
            fprintf(f, "\">");
            vuc_report_escape(f, r->exchange);
            fprintf(f, "</error>\n  ");
            break;
        case VUC_SKIP:
            fprintf(f, "\n    <skipped message=\"");
            vuc_report_escape(f, r->reason);
            fprintf(f, "\"/>\n  ");
            break;
        case VUC_IMPL_DEFINED:
            fprintf(f, "\n    <system-out>%s: ", vuc_verdict_name(r->verdict));
            vuc_report_escape(f, r->reason);
            fprintf(f, "</system-out>\n  ");
            break;
        default:
            break;
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "</testsuite>\n</testsuites>\n");
    vuc_root_causes_free(&rc);
    return fclose(f) == 0 ? 0 : -EIO;
}

/* ---- matrix.md ---- */

const char *vuc_report_expect(const struct vuc_run_info *info, uint32_t from,
                              uint32_t to, char *buf, size_t cap)
{
    uint32_t path[VUC_STATE_NR];
    int n;

    buf[0] = '\0';
    if (!info->mig_flags_known)
        return buf;
    if (from != VUC_STATE_ERROR &&
        !vuc_fsm_state_supported(info->mig_flags, from)) {
        snprintf(buf, cap, "n/a"); /* a state these flags cannot reach */
        return buf;
    }
    if (vuc_fsm_check(info->mig_flags, from, to) != VUC_FSM_OK) {
        snprintf(buf, cap, "rejected");
        return buf;
    }
    n = vuc_fsm_path(info->mig_flags, from, to, path, VUC_STATE_NR);
    if (n <= 1) {
        snprintf(buf, cap, "accepted");
        return buf;
    }
    snprintf(buf, cap, "via ");
    for (int i = 0; i < n - 1; i++) {
        size_t at = strlen(buf);
        snprintf(buf + at, cap - at, "%s%s", i ? ">" : "",
                 vuc_state_name(path[i]));
    }
    return buf;
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
    case VUC_BLOCKED:
        return "blk";
    default:
        return "?";
    }
}

static void matrix_grid(FILE *f, const struct vuc_run_info *info,
                        const struct vuc_result *cell[][VUC_STATE_NR])
{
    bool any = false;
    char exp[160];

    fprintf(f, "\nRows: the state the device is in. Columns: the state "
               "requested with MIG_DEVICE_STATE SET. Each cell is the case "
               "`fsm.FROM.TO`: its verdict, then what the spec expects "
               "there for these migration flags (acc: accepted, rej: "
               "rejected, via S: a combination arc, accepted through S; "
               "n/a: a state these flags do not have).\n\n");
    fprintf(f, "| from \\ to |");
    for (uint32_t b = 0; b < VUC_STATE_NR; b++)
        fprintf(f, " %s |", vuc_state_name(b));
    fprintf(f, "\n|---|");
    for (uint32_t b = 0; b < VUC_STATE_NR; b++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (uint32_t a = 0; a < VUC_STATE_NR; a++) {
        fprintf(f, "| **%s** |", vuc_state_name(a));
        for (uint32_t b = 0; b < VUC_STATE_NR; b++) {
            const char *e = vuc_report_expect(info, a, b, exp, sizeof(exp));
            fprintf(f, " %s", cell[a][b] ? symbol(cell[a][b]->verdict) : "");
            if (strcmp(e, "accepted") == 0)
                fputs(" acc", f);
            else if (strcmp(e, "rejected") == 0)
                fputs(" rej", f);
            else if (*e)
                fprintf(f, " %s", e);
            fputs(" |", f);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nLegend: ok = PASS, **FAIL** = FAIL, *ns* = NON-STRICT, "
               "impl = IMPL-DEFINED, - = SKIP, **ERR** = ERROR (vucert could "
               "not run the case), blk = BLOCKED: setup failed; see root "
               "cause, empty = not run.\n");
    fprintf(f, "\n## Cells that did not pass\n\n");
    for (uint32_t a = 0; a < VUC_STATE_NR; a++) {
        uint32_t skipped = 0;
        for (uint32_t b = 0; b < VUC_STATE_NR; b++)
            skipped += cell[a][b] && cell[a][b]->verdict == VUC_SKIP;
        if (skipped == VUC_STATE_NR) {
            /* a whole row skipped (its state unsupported): one line */
            any = true;
            fprintf(f, "- row **%s**, all %u cells SKIP: ", vuc_state_name(a),
                    VUC_STATE_NR);
            md_text(f, cell[a][0]->reason, SIZE_MAX);
            fprintf(f, "\n");
            continue;
        }
        for (uint32_t b = 0; b < VUC_STATE_NR; b++) {
            const struct vuc_result *r = cell[a][b];
            if (r == NULL || r->verdict == VUC_PASS)
                continue;
            any = true;
            fprintf(f, "- `%s` %s: ", r->c->id, vuc_verdict_name(r->verdict));
            md_text(f, r->reason, SIZE_MAX);
            fprintf(f, "\n");
        }
    }
    if (!any)
        fprintf(f, "None.\n");
}

int vuc_report_matrix_md(const char *path, const struct vuc_run_info *info,
                         const struct vuc_result *res, size_t n)
{
    const struct vuc_result *cell[VUC_STATE_NR][VUC_STATE_NR] = {{NULL}};
    const struct vuc_result *na_first;
    size_t na = not_applicable(res, n, &na_first);
    struct vuc_root_causes rc;
    char flags[256];
    FILE *f;
    int err;

    err = open_with_causes(path, info, res, n, &rc, &f);
    if (err < 0)
        return err;
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
    flags_text(info, flags, sizeof(flags));
    fprintf(f, "- migration flags: %s\n", flags);
    if (info->profile)
        fprintf(f, "- profile: `%s`\n", info->profile);
    if (na > 0) {
        /* every cell would be "-": say why once instead */
        fprintf(f,
                "\n**Migration is not supported**: %zu case%s not "
                "applicable, so there is no transition matrix.",
                na, plural(na));
        if (na_first->reason != NULL) {
            fputs(" `", f);
            fprintf(f, "%s`: ", na_first->c->id);
            md_text(f, na_first->reason, SIZE_MAX);
        }
        fputc('\n', f);
    } else {
        matrix_grid(f, info, cell);
    }
    if (info->coverage.checkable > 0)
        fprintf(f,
                "\n- spec coverage: %zu of the %zu sentences of the spec "
                "that can be checked over the wire have a case (%.1f%%; "
                "`vucert certify --list --coverage` lists them)\n",
                info->coverage.covered, info->coverage.checkable,
                100.0 * (double)info->coverage.covered /
                    (double)info->coverage.checkable);
    fprintf(f, "\n## Root causes\n\n");
    if (rc.not_passed > 0)
        print_roots(f, res, n, &rc, true);
    else
        fprintf(f, "None.\n");
    vuc_root_causes_free(&rc);
    return fclose(f) == 0 ? 0 : -EIO;
}

int vuc_report_mkdir_p(const char *dir)
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
        {"matrix.html", vuc_report_matrix_html},
    };
    char path[4096];
    int rc = vuc_report_mkdir_p(dir);

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
