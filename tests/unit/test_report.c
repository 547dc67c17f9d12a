/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for reports/: root-cause grouping (a FAIL blocking two
 * cases, a chain of BLOCKED cases, a root that was not run, cycles), the
 * console summary word for word, results.json against
 * docs/results.schema.json, junit.xml and matrix.md, from hand-made
 * results written to a temporary directory.
 *
 * No JSON Schema library is at hand, so the test carries a validator for
 * the keywords the schema uses; it fails on any other keyword, so that a
 * schema change cannot outgrow the check unnoticed. It also requires every
 * key the writer emits to be described in the schema, which the schema
 * itself cannot demand (later versions add fields: it must accept keys it
 * does not know).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vucert/report.h"
#include "vucert/wire.h"

#ifndef VUC_SOURCE_DIR
#error "VUC_SOURCE_DIR: the source tree, for docs/results.schema.json"
#endif

#define MAX_RESULTS 16

/* ---- building runs ---- */

struct run {
    struct vuc_case cases[MAX_RESULTS];
    struct vuc_result res[MAX_RESULTS];
    size_t n;
    struct vuc_run_info info;
};

static void run_init(struct run *run)
{
    memset(run, 0, sizeof(*run));
    run->info.tool_version = "0.1.0";
    run->info.target_desc = "/tmp/vfio-user.sock";
    run->info.negotiated = true;
    run->info.minor = 1;
    run->info.mig_flags_known = true;
    run->info.mig_flags = VUC_MIGRATION_STOP_COPY | VUC_MIGRATION_PRE_COPY;
    run->info.duration_ms = 12.5;
}

/* A result; `by` makes it BLOCKED by that case, with the runner's
 * "blocked by <id>: " reason. */
static struct vuc_result *add(struct run *run, const char *id,
                              enum vuc_verdict v, const char *by,
                              const char *reason)
{
    struct vuc_case *c = &run->cases[run->n];
    struct vuc_result *r = &run->res[run->n];
    char buf[512];

    assert_true(run->n < MAX_RESULTS);
    run->n++;
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->title, sizeof(c->title), "the title of %s", id);
    c->spec = "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE";
    c->source = "must";
    c->level = VUC_MUST;
    r->c = c;
    r->verdict = v;
    r->duration_ms = 1.25;
    r->checks = v == VUC_BLOCKED || v == VUC_SKIP ? 0 : 2;
    if (by != NULL) {
        assert_int_equal(v, VUC_BLOCKED);
        r->root_cause = strdup(by);
        snprintf(buf, sizeof(buf), "blocked by %s: %s", by, reason);
        r->reason = strdup(buf);
    } else if (reason != NULL) {
        r->reason = strdup(reason);
    }
    return r;
}

static void run_free(struct run *run)
{
    for (size_t i = 0; i < run->n; i++) {
        free(run->res[i].reason);
        free(run->res[i].exchange);
        free(run->res[i].root_cause);
        free(run->res[i].notes);
    }
}

#define R_STOP   "after SET STOP, GET reads RUNNING"
#define R_CLOSED "the server closed the connection"

/* A FAIL that blocks two cases, a PASS and a plain SKIP. */
static void run_fail_blocks_two(struct run *run)
{
    run_init(run);
    add(run, "negotiate.version.major", VUC_PASS, NULL, NULL);
    add(run, "fsm.RUNNING.STOP", VUC_FAIL, NULL, R_STOP);
    add(run, "fsm.STOP.RUNNING", VUC_BLOCKED, "fsm.RUNNING.STOP",
        "reaching STOP failed");
    add(run, "stream.read.full-to-end", VUC_BLOCKED, "fsm.RUNNING.STOP",
        "reaching STOP failed");
    add(run, "fsm.STOP.STOP_COPY", VUC_SKIP, NULL, "needs a profile");
}

/*
 * An ERROR first, then a chain: fsm.STOP.RUNNING blocked by
 * fsm.RUNNING.STOP_COPY, blocked by the FAIL fsm.RUNNING.STOP; last a case
 * blocked by one that was not run. The ERROR's group is found first, the
 * chain's is larger: the order of the groups is the sort's.
 */
static void run_chain(struct run *run)
{
    run_init(run);
    add(run, "dirty.report.page-size-half", VUC_ERROR, NULL, R_CLOSED);
    add(run, "fsm.STOP.RUNNING", VUC_BLOCKED, "fsm.RUNNING.STOP_COPY",
        "reaching STOP_COPY failed");
    add(run, "fsm.RUNNING.STOP_COPY", VUC_BLOCKED, "fsm.RUNNING.STOP",
        "reaching STOP failed");
    add(run, "fsm.RUNNING.STOP", VUC_FAIL, NULL, R_STOP);
    add(run, "stream.read.full-to-end", VUC_BLOCKED, "fsm.reset.from.STOP",
        "the reset failed");
}

static char *console(const struct run *run)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(
        vuc_report_console_summary(f, &run->info, run->res, run->n), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("expected\n%s\n--- in ---\n%s", needle, hay);
}

static void lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle) != NULL)
        fail_msg("did not expect\n%s\n--- in ---\n%s", needle, hay);
}

/* ---- the reports on disk ---- */

struct outdir {
    char path[64];
};

static void write_reports(const struct run *run, struct outdir *d)
{
    char err[256] = "";

    snprintf(d->path, sizeof(d->path), "/tmp/test_report.XXXXXX");
    assert_non_null(mkdtemp(d->path));
    if (vuc_report_write_all(d->path, &run->info, run->res, run->n, err,
                             sizeof(err)) != 0)
        fail_msg("vuc_report_write_all: %s", err);
}

static char *slurp(const struct outdir *d, const char *name)
{
    char path[128], *buf;
    FILE *f;
    long len;

    snprintf(path, sizeof(path), "%s/%s", d->path, name);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static void remove_reports(const struct outdir *d)
{
    static const char *const names[] = {"results.json", "junit.xml",
                                        "matrix.md"};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", d->path, names[i]);
        unlink(path);
    }
    rmdir(d->path);
}

static json_object *load_results(const struct run *run)
{
    struct outdir d;
    json_object *doc;

    write_reports(run, &d);
    {
        char path[128];
        snprintf(path, sizeof(path), "%s/results.json", d.path);
        doc = json_object_from_file(path);
    }
    remove_reports(&d);
    assert_non_null(doc);
    return doc;
}

/* ---- a validator for the JSON Schema keywords the schema uses ---- */

struct validator {
    json_object *schema; /* the whole schema, for $ref */
    bool described;      /* every key emitted must be in "properties" */
    char err[1024];
};

static bool fail_at(struct validator *val, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail_at(struct validator *val, const char *at, const char *fmt, ...)
{
    size_t len;
    va_list ap;

    len = (size_t)snprintf(val->err, sizeof(val->err), "%s: ", at);
    va_start(ap, fmt);
    vsnprintf(val->err + len, sizeof(val->err) - len, fmt, ap);
    va_end(ap);
    return false;
}

static bool has_type(json_object *v, const char *t)
{
    enum json_type jt = json_object_get_type(v);

    if (strcmp(t, "null") == 0)
        return jt == json_type_null;
    if (strcmp(t, "boolean") == 0)
        return jt == json_type_boolean;
    if (strcmp(t, "integer") == 0)
        return jt == json_type_int;
    if (strcmp(t, "number") == 0)
        return jt == json_type_int || jt == json_type_double;
    if (strcmp(t, "string") == 0)
        return jt == json_type_string;
    if (strcmp(t, "array") == 0)
        return jt == json_type_array;
    if (strcmp(t, "object") == 0)
        return jt == json_type_object;
    fail_msg("schema names unknown type %s", t);
    return false;
}

static bool is_number(json_object *v)
{
    return has_type(v, "number");
}

static bool validate(struct validator *val, json_object *v, json_object *s,
                     const char *at);

static bool check_keyword(struct validator *val, json_object *v,
                          const char *key, json_object *arg, const char *at)
{
    char sub[256];

    if (strcmp(key, "$schema") == 0 || strcmp(key, "title") == 0 ||
        strcmp(key, "description") == 0 || strcmp(key, "$defs") == 0)
        return true;
    if (strcmp(key, "$ref") == 0) {
        const char *ref = json_object_get_string(arg);
        json_object *defs, *target;
        assert_true(strncmp(ref, "#/$defs/", 8) == 0);
        assert_true(json_object_object_get_ex(val->schema, "$defs", &defs));
        if (!json_object_object_get_ex(defs, ref + 8, &target))
            fail_msg("schema: dangling $ref %s", ref);
        return validate(val, v, target, at);
    }
    if (strcmp(key, "type") == 0) {
        if (json_object_is_type(arg, json_type_string))
            return has_type(v, json_object_get_string(arg))
                       ? true
                       : fail_at(val, at, "not of type %s",
                                 json_object_get_string(arg));
        for (size_t i = 0; i < json_object_array_length(arg); i++)
            if (has_type(v, json_object_get_string(
                                json_object_array_get_idx(arg, i))))
                return true;
        return fail_at(val, at, "not of type %s",
                       json_object_to_json_string(arg));
    }
    if (strcmp(key, "enum") == 0) {
        for (size_t i = 0; i < json_object_array_length(arg); i++)
            if (json_object_equal(v, json_object_array_get_idx(arg, i)))
                return true;
        return fail_at(val, at, "%s not in the enum",
                       json_object_to_json_string(v));
    }
    if (strcmp(key, "const") == 0)
        return json_object_equal(v, arg)
                   ? true
                   : fail_at(val, at, "%s is not the const",
                             json_object_to_json_string(v));
    if (strcmp(key, "minimum") == 0 || strcmp(key, "exclusiveMinimum") == 0) {
        bool excl = key[0] == 'e';
        if (!is_number(v))
            return true;
        if (excl ? json_object_get_double(v) > json_object_get_double(arg)
                 : json_object_get_double(v) >= json_object_get_double(arg))
            return true;
        return fail_at(val, at, "%s below %s", json_object_to_json_string(v),
                       key);
    }
    if (strcmp(key, "minItems") == 0)
        return !has_type(v, "array") || json_object_array_length(v) >=
                                            (size_t)json_object_get_int(arg)
                   ? true
                   : fail_at(val, at, "too few items");
    if (strcmp(key, "minLength") == 0)
        return !has_type(v, "string") ||
                       json_object_get_string_len(v) >= json_object_get_int(arg)
                   ? true
                   : fail_at(val, at, "too short");
    if (strcmp(key, "pattern") == 0) {
        regex_t re;
        int m;
        if (!has_type(v, "string"))
            return true;
        assert_int_equal(
            regcomp(&re, json_object_get_string(arg), REG_EXTENDED | REG_NOSUB),
            0);
        m = regexec(&re, json_object_get_string(v), 0, NULL, 0);
        regfree(&re);
        return m == 0 ? true
                      : fail_at(val, at, "\"%s\" does not match %s",
                                json_object_get_string(v),
                                json_object_get_string(arg));
    }
    if (strcmp(key, "required") == 0) {
        if (!has_type(v, "object"))
            return true;
        for (size_t i = 0; i < json_object_array_length(arg); i++) {
            const char *name =
                json_object_get_string(json_object_array_get_idx(arg, i));
            if (!json_object_object_get_ex(v, name, NULL))
                return fail_at(val, at, "required key \"%s\" missing", name);
        }
        return true;
    }
    if (strcmp(key, "properties") == 0) {
        if (!has_type(v, "object"))
            return true;
        json_object_object_foreach(v, name, child)
        {
            json_object *ps;
            snprintf(sub, sizeof(sub), "%s.%s", at, name);
            if (!json_object_object_get_ex(arg, name, &ps)) {
                if (val->described)
                    return fail_at(val, sub, "not described in the schema");
                continue;
            }
            if (!validate(val, child, ps, sub))
                return false;
        }
        return true;
    }
    if (strcmp(key, "items") == 0) {
        if (!has_type(v, "array"))
            return true;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
            if (!validate(val, json_object_array_get_idx(v, i), arg, sub))
                return false;
        }
        return true;
    }
    fail_msg("schema keyword %s at %s: teach the validator about it", key, at);
    return false;
}

static bool validate(struct validator *val, json_object *v, json_object *s,
                     const char *at)
{
    json_object_object_foreach(s, key, arg)
    {
        if (!check_keyword(val, v, key, arg, at))
            return false;
    }
    return true;
}

static json_object *load_schema(void)
{
    json_object *s =
        json_object_from_file(VUC_SOURCE_DIR "/docs/results.schema.json");

    if (s == NULL)
        fail_msg("docs/results.schema.json: %s", json_util_get_last_err());
    return s;
}

static bool schema_valid(json_object *doc, char *err, size_t errcap)
{
    struct validator val = {.schema = load_schema(), .described = true};
    bool ok = validate(&val, doc, val.schema, "$");

    snprintf(err, errcap, "%s", val.err);
    json_object_put(val.schema);
    return ok;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no key %s in %s", key, json_object_to_json_string(o));
    return v;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = get(o, key);

    if (!json_object_is_type(v, json_type_string))
        fail_msg("%s is not a string", key);
    return json_object_get_string(v);
}

static json_object *case_at(json_object *doc, size_t i)
{
    return json_object_array_get_idx(get(doc, "cases"), i);
}

/* ---- root causes ---- */

static void test_fail_blocks_two(void **state)
{
    struct vuc_root_causes rc;
    struct run run;
    char *out;

    (void)state;
    run_fail_blocks_two(&run);
    assert_int_equal(vuc_root_causes_build(run.res, run.n, false, &rc), 0);
    assert_int_equal(rc.not_passed, 3);
    assert_int_equal(rc.n_groups, 1);
    assert_string_equal(rc.groups[0].id, "fsm.RUNNING.STOP");
    assert_ptr_equal(rc.groups[0].r, &run.res[1]);
    assert_int_equal(rc.groups[0].count, 3);
    assert_false(rc.groups[0].cycle);
    assert_null(rc.root_of[0]);
    assert_null(rc.root_of[4]); /* SKIP */
    for (size_t i = 1; i <= 3; i++) {
        assert_string_equal(rc.root_of[i], "fsm.RUNNING.STOP");
        assert_int_equal(rc.group_of[i], 0);
    }
    assert_int_equal(rc.group_of[0], VUC_NO_GROUP);
    assert_int_equal(rc.group_of[4], VUC_NO_GROUP);
    vuc_root_causes_free(&rc);

    out = console(&run);
    assert_string_equal(
        out, "\n"
             "5 cases: 1 PASS, 1 FAIL, 0 NON-STRICT, 0 IMPL-DEFINED, 1 SKIP, "
             "0 ERROR, 2 BLOCKED\n"
             "3 not passed, 1 root cause: fsm.RUNNING.STOP\n"
             "  fsm.RUNNING.STOP FAIL: " R_STOP "\n"
             "    blocked 2: fsm.STOP.RUNNING, stream.read.full-to-end\n");
    free(out);
    run_free(&run);
}

static void test_chain_and_not_run(void **state)
{
    struct vuc_root_causes rc;
    struct run run;
    char *out;

    (void)state;
    run_chain(&run);
    assert_int_equal(vuc_root_causes_build(run.res, run.n, false, &rc), 0);
    assert_int_equal(rc.not_passed, 5);
    assert_int_equal(rc.n_groups, 3);
    /* the chain's group is largest, then the ERROR, found before the root
     * that was not run */
    assert_string_equal(rc.groups[0].id, "fsm.RUNNING.STOP");
    assert_ptr_equal(rc.groups[0].r, &run.res[3]);
    assert_int_equal(rc.groups[0].count, 3);
    assert_string_equal(rc.groups[1].id, "dirty.report.page-size-half");
    assert_int_equal(rc.groups[1].count, 1);
    assert_string_equal(rc.groups[2].id, "fsm.reset.from.STOP");
    assert_null(rc.groups[2].r);
    assert_int_equal(rc.groups[2].count, 1);
    assert_string_equal(rc.root_of[1], "fsm.RUNNING.STOP");
    assert_string_equal(rc.root_of[2], "fsm.RUNNING.STOP");
    assert_int_equal(rc.group_of[1], 0);
    assert_int_equal(rc.group_of[0], 1);
    assert_int_equal(rc.group_of[4], 2);
    vuc_root_causes_free(&rc);

    out = console(&run);
    assert_string_equal(
        out, "\n"
             "5 cases: 0 PASS, 1 FAIL, 0 NON-STRICT, 0 IMPL-DEFINED, 0 SKIP, "
             "1 ERROR, 3 BLOCKED\n"
             "5 not passed, 3 root causes: fsm.RUNNING.STOP (3), "
             "dirty.report.page-size-half (1), fsm.reset.from.STOP (1)\n"
             "  fsm.RUNNING.STOP FAIL: " R_STOP "\n"
             "    blocked 2: fsm.STOP.RUNNING, fsm.RUNNING.STOP_COPY\n"
             "  dirty.report.page-size-half ERROR: " R_CLOSED "\n"
             "  fsm.reset.from.STOP (not run)\n"
             "    blocked 1: stream.read.full-to-end\n");
    free(out);
    run_free(&run);
}

/* fsm.STOP.RUNNING leads into a cycle of fsm.RUNNING.STOP and
 * fsm.STOP.STOP_COPY; robust.header.short-msg-size names itself. */
static void test_cycle(void **state)
{
    struct vuc_root_causes rc;
    struct run run;
    char *out;

    (void)state;
    run_init(&run);
    add(&run, "fsm.STOP.RUNNING", VUC_BLOCKED, "fsm.RUNNING.STOP", "a");
    add(&run, "fsm.RUNNING.STOP", VUC_BLOCKED, "fsm.STOP.STOP_COPY", "b");
    add(&run, "fsm.STOP.STOP_COPY", VUC_BLOCKED, "fsm.RUNNING.STOP", "c");
    add(&run, "robust.header.short-msg-size", VUC_BLOCKED,
        "robust.header.short-msg-size", "d");
    assert_int_equal(vuc_root_causes_build(run.res, run.n, false, &rc), 0);
    assert_int_equal(rc.not_passed, 4);
    assert_int_equal(rc.n_groups, 2);
    /* the cycle's member run first, whichever member a walk enters by */
    assert_string_equal(rc.groups[0].id, "fsm.RUNNING.STOP");
    assert_ptr_equal(rc.groups[0].r, &run.res[1]);
    assert_true(rc.groups[0].cycle);
    assert_int_equal(rc.groups[0].count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(rc.root_of[i], "fsm.RUNNING.STOP");
    assert_string_equal(rc.groups[1].id, "robust.header.short-msg-size");
    assert_true(rc.groups[1].cycle);
    assert_int_equal(rc.groups[1].count, 1);
    vuc_root_causes_free(&rc);

    out = console(&run);
    assert_string_equal(
        out, "\n"
             "4 cases: 0 PASS, 0 FAIL, 0 NON-STRICT, 0 IMPL-DEFINED, 0 SKIP, "
             "0 ERROR, 4 BLOCKED\n"
             "4 not passed, 2 root causes: fsm.RUNNING.STOP (3), "
             "robust.header.short-msg-size (1)\n"
             "  fsm.RUNNING.STOP BLOCKED (in a cycle of BLOCKED cases): "
             "blocked by fsm.STOP.STOP_COPY: b\n"
             "    blocked 2: fsm.STOP.RUNNING, fsm.STOP.STOP_COPY\n"
             "  robust.header.short-msg-size BLOCKED (in a cycle of BLOCKED "
             "cases): blocked by robust.header.short-msg-size: d\n");
    free(out);
    run_free(&run);
}

/* Many blocked cases wrap at 80 columns; many roots are cut from the
 * headline but all listed. */
static void test_console_wraps(void **state)
{
    static const char *const to[] = {"ERROR",     "STOP",        "RUNNING",
                                     "STOP_COPY", "RESUMING",    "RUNNING_P2P",
                                     "PRE_COPY",  "PRE_COPY_P2P"};
    struct run run;
    char id[64], *out, *line;

    (void)state;
    run_init(&run);
    add(&run, "fsm.reset.from.STOP", VUC_FAIL, NULL, "no reset");
    for (size_t i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "fsm.STOP.%s", to[i]);
        add(&run, id, VUC_BLOCKED, "fsm.reset.from.STOP", "x");
    }
    out = console(&run);
    contains(out, "    blocked 8: fsm.STOP.ERROR, fsm.STOP.STOP, "
                  "fsm.STOP.RUNNING,\n"
                  "      fsm.STOP.STOP_COPY, fsm.STOP.RESUMING, "
                  "fsm.STOP.RUNNING_P2P,\n"
                  "      fsm.STOP.PRE_COPY, fsm.STOP.PRE_COPY_P2P\n");
    /* the lists of ids; a reason is as long as it is */
    for (line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strncmp(line, "    ", 4) == 0)
            assert_true(strlen(line) <= 80);
    free(out);
    run_free(&run);

    run_init(&run);
    for (size_t i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "robust.case-%02zu", i);
        add(&run, id, VUC_FAIL, NULL, "bad");
    }
    out = console(&run);
    contains(out, "12 not passed, 12 root causes: robust.case-00 (1), ");
    contains(out, "robust.case-09 (1), and 2 more\n");
    contains(out, "  robust.case-11 FAIL: bad\n");
    free(out);
    run_free(&run);
}

/* Without --strict a NON-STRICT passes but still roots what it blocked;
 * with it, it fails and counts in its own group. */
static void test_strict(void **state)
{
    struct vuc_root_causes rc;
    struct outdir d;
    struct run run;
    char *out, *xml;
    json_object *doc;

    (void)state;
    run_init(&run);
    add(&run, "fsm.RUNNING.RUNNING_P2P", VUC_NON_STRICT, NULL,
        "the device should reject it");
    run.cases[0].source = "should";
    run.cases[0].level = VUC_SHOULD;
    add(&run, "stream.read.full-to-end", VUC_BLOCKED, "fsm.RUNNING.RUNNING_P2P",
        "reaching RUNNING_P2P failed");
    add(&run, "negotiate.version.major", VUC_PASS, NULL, NULL);
    assert_false(vuc_result_not_passed(&run.res[0], false));
    assert_true(vuc_result_not_passed(&run.res[0], true));

    assert_int_equal(vuc_root_causes_build(run.res, run.n, false, &rc), 0);
    assert_int_equal(rc.not_passed, 1);
    assert_int_equal(rc.n_groups, 1);
    assert_int_equal(rc.groups[0].count, 1);
    assert_int_equal(rc.group_of[0], VUC_NO_GROUP);
    assert_string_equal(rc.root_of[0], "fsm.RUNNING.RUNNING_P2P");
    vuc_root_causes_free(&rc);
    out = console(&run);
    contains(out, "1 not passed, 1 root cause: fsm.RUNNING.RUNNING_P2P\n"
                  "  fsm.RUNNING.RUNNING_P2P NON-STRICT: the device should "
                  "reject it\n"
                  "    blocked 1: stream.read.full-to-end\n");
    free(out);
    write_reports(&run, &d);
    xml = slurp(&d, "junit.xml");
    contains(xml, " failures=\"1\" errors=\"0\"");
    contains(xml, "<system-out>NON-STRICT: the device should reject it");
    lacks(xml, "type=\"NON-STRICT\"");
    free(xml);
    remove_reports(&d);
    doc = load_results(&run);
    assert_int_equal(
        json_object_get_int(get(get(doc, "summary"), "not_passed")), 1);
    assert_string_equal(get_str(case_at(doc, 0), "root_cause"),
                        "fsm.RUNNING.RUNNING_P2P");
    json_object_put(doc);

    run.info.strict = true;
    assert_int_equal(vuc_root_causes_build(run.res, run.n, true, &rc), 0);
    assert_int_equal(rc.not_passed, 2);
    assert_int_equal(rc.groups[0].count, 2);
    assert_int_equal(rc.group_of[0], 0);
    vuc_root_causes_free(&rc);
    out = console(&run);
    contains(out, "2 not passed, 1 root cause: fsm.RUNNING.RUNNING_P2P\n");
    free(out);
    write_reports(&run, &d);
    xml = slurp(&d, "junit.xml");
    contains(xml, " failures=\"2\" errors=\"0\"");
    contains(xml, "<failure type=\"NON-STRICT\" message=\"the device should "
                  "reject it\">");
    contains(xml, "<property name=\"strict\" value=\"true\"/>");
    free(xml);
    remove_reports(&d);
    run_free(&run);
}

/* ---- migration not supported ---- */

static void run_no_migration(struct run *run)
{
    static const char *const na[] = {"fsm.RUNNING.STOP", "fsm.STOP.RUNNING",
                                     "dirty.report.page-size-half"};

    run_init(run);
    run->info.mig_flags = VUC_MIGRATION_P2P;
    add(run, "negotiate.version.major", VUC_PASS, NULL, NULL);
    add(run, "fsm.flags.valid", VUC_FAIL, NULL,
        "migration flags 0x2 lack VFIO_MIGRATION_STOP_COPY");
    for (size_t i = 0; i < 3; i++)
        add(run, na[i], VUC_SKIP, NULL,
            "migration not supported: the device's migration flags 0x2 "
            "lack VFIO_MIGRATION_STOP_COPY")
            ->no_migration = true;
}

static void test_no_migration(void **state)
{
    struct outdir d;
    struct run run;
    char *out, *md;
    json_object *doc;

    (void)state;
    run_no_migration(&run);
    out = console(&run);
    assert_string_equal(
        out, "\n"
             "migration not supported: 3 cases not applicable\n"
             "5 cases: 1 PASS, 1 FAIL, 0 NON-STRICT, 0 IMPL-DEFINED, 3 SKIP, "
             "0 ERROR, 0 BLOCKED\n"
             "1 not passed, 1 root cause: fsm.flags.valid\n"
             "  fsm.flags.valid FAIL: migration flags 0x2 lack "
             "VFIO_MIGRATION_STOP_COPY\n");
    free(out);

    write_reports(&run, &d);
    md = slurp(&d, "matrix.md");
    contains(md, "- migration flags: P2P (0x2)\n");
    contains(md, "**Migration is not supported**: 3 cases not applicable");
    lacks(md, "| from \\ to |");
    lacks(md, "| **STOP** |");
    contains(md, "## Root causes\n\n"
                 "1 not passed, 1 root cause: `fsm.flags.valid`\n\n"
                 "- `fsm.flags.valid` FAIL: migration flags 0x2 lack "
                 "VFIO_MIGRATION_STOP_COPY\n");
    free(md);
    remove_reports(&d);

    doc = load_results(&run);
    assert_false(json_object_get_boolean(get(doc, "migration_supported")));
    assert_true(json_object_is_type(get(case_at(doc, 2), "root_cause"),
                                    json_type_null));
    json_object_put(doc);
    run_free(&run);
}

/* ---- results.json ---- */

static void fill_info(struct run *run)
{
    run->info.started = 1700000000; /* 2023-11-14T22:13:20Z */
    run->info.command_line = "vucert certify --socket /tmp/vfio-user.sock";
    run->info.timeout_ms = 5000;
    run->info.shuffled = true;
    run->info.shuffle_seed = UINT64_MAX;
    run->info.mig_flags =
        VUC_MIGRATION_STOP_COPY | VUC_MIGRATION_P2P | (1ull << 3);
    run->info.server_json = strdup("{\"capabilities\":{\"max_msg_fds\":8}}");
    run->info.profile = "profiles/vucert-server.json";
}

static void test_json_schema(void **state)
{
    struct run run;
    json_object *doc, *s, *rcs, *flags, *ids;
    char err[1024];
    int64_t sum = 0;

    (void)state;
    run_chain(&run);
    fill_info(&run);
    run.res[3].exchange = strdup("> SET STOP\n< RUNNING");
    run.res[3].notes = strdup("a reply carried an fd it did not need");
    run.cases[0].source = "kernel uAPI";
    run.cases[0].level = VUC_SHOULD;
    doc = load_results(&run);
    if (!schema_valid(doc, err, sizeof(err)))
        fail_msg("results.json against the schema: %s", err);

    assert_int_equal(json_object_get_int(get(doc, "schema")), 1);
    assert_string_equal(get_str(doc, "started"), "2023-11-14T22:13:20Z");
    assert_string_equal(get_str(doc, "command_line"),
                        "vucert certify --socket /tmp/vfio-user.sock");
    assert_true(json_object_get_double(get(doc, "timeout_s")) == 5.0);
    assert_false(json_object_get_boolean(get(doc, "strict")));
    assert_true(json_object_get_uint64(get(doc, "shuffle_seed")) == UINT64_MAX);
    /* the spec revision, and where vucert ran */
    assert_string_equal(get_str(get(doc, "spec"), "document"),
                        VUC_SPEC_DOCUMENT);
    assert_string_equal(get_str(get(doc, "spec"), "revision"),
                        VUC_SPEC_REVISION);
    assert_string_equal(
        get_str(json_object_array_get_idx(get(get(doc, "spec"), "kernel"), 0),
                "revision"),
        VUC_UAPI_REVISION);
    assert_true(strlen(get_str(get(doc, "host"), "hostname")) > 0);
    assert_string_equal(get_str(get(doc, "host"), "system"), "Linux");
    assert_true(json_object_get_boolean(get(doc, "migration_supported")));
    flags = get(get(doc, "server"), "migration_flags");
    assert_int_equal(json_object_array_length(flags), 3);
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(flags, 0)),
        "STOP_COPY");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(flags, 1)), "P2P");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(flags, 2)), "0x8");
    assert_int_equal(
        json_object_get_int(get(get(doc, "server"), "migration_flags_raw")),
        0xb);

    assert_string_equal(get_str(case_at(doc, 0), "source"), "kernel uAPI");
    assert_string_equal(get_str(case_at(doc, 0), "level"), "SHOULD");
    assert_string_equal(get_str(case_at(doc, 0), "root_cause"),
                        "dirty.report.page-size-half");
    assert_string_equal(get_str(case_at(doc, 1), "verdict"), "BLOCKED");
    assert_string_equal(get_str(case_at(doc, 1), "root_cause"),
                        "fsm.RUNNING.STOP");
    assert_string_equal(get_str(case_at(doc, 3), "root_cause"),
                        "fsm.RUNNING.STOP");
    assert_string_equal(get_str(case_at(doc, 3), "notes"),
                        "a reply carried an fd it did not need");
    assert_int_equal(json_object_get_int(get(case_at(doc, 3), "checks")), 2);
    assert_string_equal(get_str(case_at(doc, 4), "root_cause"),
                        "fsm.reset.from.STOP");
    assert_true(
        json_object_is_type(get(case_at(doc, 1), "notes"), json_type_null));

    s = get(doc, "summary");
    assert_int_equal(json_object_get_int(get(s, "BLOCKED")), 3);
    assert_int_equal(json_object_get_int(get(s, "not_passed")), 5);
    rcs = get(s, "root_causes");
    assert_int_equal(json_object_array_length(rcs), 3);
    assert_string_equal(get_str(json_object_array_get_idx(rcs, 0), "case"),
                        "fsm.RUNNING.STOP");
    assert_string_equal(get_str(json_object_array_get_idx(rcs, 0), "verdict"),
                        "FAIL");
    ids = get(json_object_array_get_idx(rcs, 0), "cases");
    assert_int_equal(json_object_array_length(ids), 3);
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(ids, 0)),
        "fsm.STOP.RUNNING");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(ids, 2)),
        "fsm.RUNNING.STOP");
    assert_true(json_object_is_type(
        get(json_object_array_get_idx(rcs, 2), "verdict"), json_type_null));
    for (size_t g = 0; g < json_object_array_length(rcs); g++) {
        json_object *o = json_object_array_get_idx(rcs, g);
        int64_t cnt = json_object_get_int64(get(o, "count"));
        assert_int_equal(cnt, json_object_array_length(get(o, "cases")));
        sum += cnt;
    }
    assert_int_equal(sum, 5);
    json_object_put(doc);
    free(run.info.server_json);
    run_free(&run);

    /* what main.c may leave unset, and a server that did not negotiate */
    run_fail_blocks_two(&run);
    run.info.negotiated = false;
    run.info.mig_flags_known = false;
    run.info.tool_version = NULL;
    doc = load_results(&run);
    if (!schema_valid(doc, err, sizeof(err)))
        fail_msg("results.json against the schema: %s", err);
    assert_true(json_object_is_type(get(doc, "started"), json_type_null));
    assert_true(json_object_is_type(get(doc, "timeout_s"), json_type_null));
    assert_true(json_object_is_type(get(doc, "shuffle_seed"), json_type_null));
    assert_false(
        json_object_object_get_ex(get(doc, "server"), "migration_flags", NULL));
    json_object_put(doc);
    run_free(&run);
}

/* The validator is what the schema test leans on: it must say no. */
static void test_schema_check_fails(void **state)
{
    struct run run;
    json_object *doc;
    char err[1024];

    (void)state;
    run_chain(&run);
    doc = load_results(&run);
    assert_true(schema_valid(doc, err, sizeof(err)));

    json_object_object_del(case_at(doc, 1), "root_cause");
    assert_false(schema_valid(doc, err, sizeof(err)));
    contains(err, "required key \"root_cause\" missing");
    json_object_object_add(case_at(doc, 1), "root_cause",
                           json_object_new_string("fsm.RUNNING.STOP"));
    assert_true(schema_valid(doc, err, sizeof(err)));

    json_object_object_add(case_at(doc, 1), "level",
                           json_object_new_string("LOW"));
    assert_false(schema_valid(doc, err, sizeof(err)));
    contains(err, "$.cases[1].level");
    json_object_object_add(case_at(doc, 1), "level",
                           json_object_new_string("MAY"));

    json_object_object_add(get(doc, "summary"), "not_passed",
                           json_object_new_string("5"));
    assert_false(schema_valid(doc, err, sizeof(err)));
    json_object_object_add(get(doc, "summary"), "not_passed",
                           json_object_new_int(5));

    json_object_object_add(doc, "undocumented", json_object_new_int(1));
    assert_false(schema_valid(doc, err, sizeof(err)));
    contains(err, "not described");
    json_object_put(doc);
    run_free(&run);
}

/* ---- junit.xml and matrix.md ---- */

static void test_junit(void **state)
{
    struct outdir d;
    struct run run;
    char *xml;

    (void)state;
    run_chain(&run);
    fill_info(&run);
    write_reports(&run, &d);
    xml = slurp(&d, "junit.xml");
    /* the FAIL and three BLOCKED fail, the ERROR errs: exit status 1 */
    contains(xml, "tests=\"5\" failures=\"4\" errors=\"1\" skipped=\"0\"");
    contains(xml, " timestamp=\"2023-11-14T22:13:20\" hostname=\"");
    contains(xml, "  <properties>\n"
                  "    <property name=\"target\" "
                  "value=\"/tmp/vfio-user.sock\"/>\n"
                  "    <property name=\"vucert_version\" value=\"0.1.0\"/>\n"
                  "    <property name=\"migration_flags\" "
                  "value=\"STOP_COPY,P2P,0x8 (0xb)\"/>\n"
                  "    <property name=\"shuffle_seed\" "
                  "value=\"18446744073709551615\"/>\n"
                  "    <property name=\"strict\" value=\"false\"/>\n"
                  "    <property name=\"profile\" "
                  "value=\"profiles/vucert-server.json\"/>\n"
                  "    <property name=\"timeout_s\" value=\"5\"/>\n"
                  "    <property name=\"spec\" value=\"" VUC_SPEC_DOCUMENT
                  " at " VUC_SPEC_REVISION "\"/>\n"
                  "  </properties>\n");
    /* a chain: the message names the root, not only the next link */
    contains(xml, "name=\"fsm.STOP.RUNNING\" time=\"0.0013\">\n"
                  "    <failure type=\"BLOCKED\" message=\"root cause "
                  "fsm.RUNNING.STOP; blocked by fsm.RUNNING.STOP_COPY: "
                  "reaching STOP_COPY failed\">");
    contains(xml, "name=\"fsm.RUNNING.STOP_COPY\" time=\"0.0013\">\n"
                  "    <failure type=\"BLOCKED\" message=\"blocked by "
                  "fsm.RUNNING.STOP: reaching STOP failed\">");
    contains(xml, "<failure type=\"BLOCKED\" message=\"blocked by "
                  "fsm.reset.from.STOP: the reset failed\">");
    free(xml);
    remove_reports(&d);
    free(run.info.server_json);
    run_free(&run);
}

static void test_matrix(void **state)
{
    struct outdir d;
    struct run run;
    char *md;

    (void)state;
    run_fail_blocks_two(&run);
    write_reports(&run, &d);
    md = slurp(&d, "matrix.md");
    contains(md, "- migration flags: STOP_COPY,PRE_COPY (0x5)\n");
    lacks(md, "Migration is not supported");
    /* each cell: the verdict (empty: not run), then what the spec
     * expects there for STOP_COPY,PRE_COPY */
    contains(md, "\n| **RUNNING** |  rej | **FAIL** acc |  acc |  via STOP |  "
                 "via STOP |  rej |  acc |  rej |\n");
    /* BLOCKED is blk and a SKIP is -, never ok */
    contains(md, "\n| **STOP** |  rej |  acc | blk acc | - acc |  acc |  rej "
                 "|  via RUNNING |  rej |\n");
    contains(md, "blk = BLOCKED: setup failed; see root cause");
    contains(md, "- `fsm.STOP.RUNNING` BLOCKED: blocked by fsm.RUNNING.STOP: "
                 "reaching STOP failed\n");
    contains(md, "## Root causes\n\n"
                 "3 not passed, 1 root cause: `fsm.RUNNING.STOP`\n\n"
                 "- `fsm.RUNNING.STOP` FAIL: " R_STOP "\n"
                 "  - blocked 2: `fsm.STOP.RUNNING`, "
                 "`stream.read.full-to-end`\n");
    free(md);
    remove_reports(&d);
    run_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_blocks_two),
        cmocka_unit_test(test_chain_and_not_run),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_console_wraps),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_no_migration),
        cmocka_unit_test(test_json_schema),
        cmocka_unit_test(test_schema_check_fails),
        cmocka_unit_test(test_junit),
        cmocka_unit_test(test_matrix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
