// SPDX-License-Identifier: BSD-3-Clause
/*
 * Device profiles (profiles/README.md): how to make a device do what the
 * spec leaves to the device, as region accesses only.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/codec.h"
#include "vucert/harness.h"

static int fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int get_u64(json_object *o, const char *key, const char *where,
                   bool required, uint64_t *out, char *err, size_t cap)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v)) {
        if (required)
            return fail(err, cap, "%s: \"%s\" is missing", where, key);
        return 1;
    }
    if (json_object_is_type(v, json_type_string)) {
        /* allow "0x18" for offsets and values */
        const char *s = json_object_get_string(v);
        char *end;
        errno = 0;
        *out = strtoull(s, &end, 0);
        if (errno != 0 || *s == '\0' || *end != '\0')
            return fail(err, cap, "%s: \"%s\" is not a number: %s", where, key,
                        s);
        return 0;
    }
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        return fail(err, cap, "%s: \"%s\" must be a non-negative integer",
                    where, key);
    *out = (uint64_t)json_object_get_int64(v);
    return 0;
}

static int get_reg(json_object *o, const char *where, bool value_size,
                   struct vuc_reg_ref *reg, char *err, size_t cap)
{
    uint64_t region = 0, offset = 0, size = 0;
    int rc;

    if (!json_object_is_type(o, json_type_object))
        return fail(err, cap, "%s must be an object", where);
    if ((rc = get_u64(o, "region", where, true, &region, err, cap)) != 0 ||
        (rc = get_u64(o, "offset", where, true, &offset, err, cap)) != 0 ||
        (rc = get_u64(o, "size", where, true, &size, err, cap)) != 0)
        return rc < 0 ? rc : -EINVAL;
    if (region > UINT32_MAX)
        return fail(err, cap, "%s: region %llu is out of range", where,
                    (unsigned long long)region);
    if (value_size ? (size != 1 && size != 2 && size != 4 && size != 8)
                   : (size == 0 || size > 64))
        return fail(err, cap, "%s: size %llu is not allowed here", where,
                    (unsigned long long)size);
    reg->region = (uint32_t)region;
    reg->offset = offset;
    reg->size = (uint32_t)size;
    return 0;
}

static int get_state(json_object *o, const char *key, const char *where,
                     uint32_t *out, char *err, size_t cap)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        return 1;
    if (!json_object_is_type(v, json_type_string) ||
        vuc_state_parse(json_object_get_string(v), out) < 0)
        return fail(err, cap, "%s: \"%s\" must be a state name", where, key);
    return 0;
}

/* "value": a number, or "{iova}" / "{length}" (filled in by vucert) */
static int get_value(json_object *w, const char *where,
                     struct vuc_reg_write *rw, char *err, size_t cap)
{
    json_object *v;
    int rc;

    rw->kind = VUC_VALUE_CONST;
    if (json_object_object_get_ex(w, "value", &v) &&
        json_object_is_type(v, json_type_string)) {
        const char *str = json_object_get_string(v);
        if (strcmp(str, "{iova}") == 0) {
            rw->kind = VUC_VALUE_IOVA;
            return 0;
        }
        if (strcmp(str, "{length}") == 0) {
            rw->kind = VUC_VALUE_LENGTH;
            return 0;
        }
    }
    rc = get_u64(w, "value", where, true, &rw->value, err, cap);
    return rc == 0 ? 0 : (rc < 0 ? rc : -EINVAL);
}

/* "writes": [{region, offset, size, value}, ...] of section `what` */
static int parse_writes(json_object *o, const char *what,
                        struct vuc_reg_write *out, size_t *count, char *err,
                        size_t cap)
{
    json_object *writes;
    size_t n;

    if (!json_object_object_get_ex(o, "writes", &writes) ||
        !json_object_is_type(writes, json_type_array))
        return fail(err, cap, "%s.writes must be an array", what);
    n = json_object_array_length(writes);
    if (n == 0 || n > VUC_PROFILE_MAX_WRITES)
        return fail(err, cap, "%s.writes: 1 to %d entries", what,
                    VUC_PROFILE_MAX_WRITES);
    for (size_t i = 0; i < n; i++) {
        json_object *w = json_object_array_get_idx(writes, i);
        struct vuc_reg_write *rw = &out[i];
        char where[64];
        int rc;

        snprintf(where, sizeof(where), "%s.writes[%zu]", what, i);
        if ((rc = get_reg(w, where, true, &rw->reg, err, cap)) < 0)
            return rc;
        rc = get_value(w, where, rw, err, cap);
        if (rc < 0)
            return rc;
    }
    *count = n;
    return 0;
}

static int parse_injection(json_object *o, struct vuc_profile *p, char *err,
                           size_t cap)
{
    json_object *trigger;
    int rc = parse_writes(o, "error_injection", p->err_writes, &p->n_err_writes,
                          err, cap);

    if (rc < 0)
        return rc;
    p->err_trigger_from = VUC_STATE_RUNNING;
    p->err_trigger_to = VUC_STATE_STOP;
    if (json_object_object_get_ex(o, "trigger", &trigger)) {
        if (get_state(trigger, "from", "error_injection.trigger",
                      &p->err_trigger_from, err, cap) < 0 ||
            get_state(trigger, "to", "error_injection.trigger",
                      &p->err_trigger_to, err, cap) < 0)
            return -EINVAL;
    }
    p->has_error_injection = true;
    return 0;
}

/* "from"/"to" of a precondition: a state name, or "*" (the default). */
static int pre_state(json_object *o, const char *key, const char *where,
                     uint32_t *out, char *err, size_t cap)
{
    json_object *v;

    *out = VUC_PROFILE_ANY_STATE;
    if (!json_object_object_get_ex(o, key, &v) ||
        (json_object_is_type(v, json_type_string) &&
         strcmp(json_object_get_string(v), "*") == 0))
        return 0;
    return get_state(o, key, where, out, err, cap);
}

static int parse_preconditions(json_object *o, struct vuc_profile *p, char *err,
                               size_t cap)
{
    size_t n;

    if (!json_object_is_type(o, json_type_array))
        return fail(err, cap, "preconditions must be an array");
    n = json_object_array_length(o);
    if (n > VUC_PROFILE_MAX_PRE)
        return fail(err, cap, "preconditions: at most %d entries",
                    VUC_PROFILE_MAX_PRE);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(o, i), *v;
        struct vuc_precondition *pc = &p->pre[i];
        char where[32];

        snprintf(where, sizeof(where), "preconditions[%zu]", i);
        if (!json_object_is_type(e, json_type_object))
            return fail(err, cap, "%s must be an object", where);
        if (pre_state(e, "from", where, &pc->from, err, cap) < 0 ||
            pre_state(e, "to", where, &pc->to, err, cap) < 0)
            return -EINVAL;
        if (json_object_object_get_ex(e, "writes", &v) &&
            parse_writes(e, where, pc->writes, &pc->n_writes, err, cap) < 0)
            return -EINVAL;
        if (json_object_object_get_ex(e, "drain_stream", &v)) {
            if (!json_object_is_type(v, json_type_boolean))
                return fail(err, cap, "%s.drain_stream must be true or false",
                            where);
            pc->drain_stream = json_object_get_boolean(v);
        }
        if (pc->n_writes == 0 && !pc->drain_stream)
            return fail(err, cap, "%s needs writes or drain_stream", where);
    }
    p->n_pre = n;
    return 0;
}

int vuc_profile_load(const char *path, struct vuc_profile *p, char *err,
                     size_t errcap)
{
    json_object *root, *o;
    int rc = 0;

    memset(p, 0, sizeof(*p));
    root = json_object_from_file(path);
    if (root == NULL) {
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            snprintf(err, errcap, "%s: %s", path, strerror(errno));
            return -ENOENT;
        }
        fclose(f);
        return fail(err, errcap, "%s: not valid JSON: %s", path,
                    json_util_get_last_err());
    }
    if (!json_object_is_type(root, json_type_object)) {
        rc = fail(err, errcap, "%s: the top level must be an object", path);
        goto out;
    }
    p->path = strdup(path);
    if (json_object_object_get_ex(root, "name", &o))
        p->name = strdup(json_object_get_string(o));
    if (json_object_object_get_ex(root, "error_injection", &o)) {
        rc = parse_injection(o, p, err, errcap);
        if (rc < 0)
            goto out;
    }
    if (json_object_object_get_ex(root, "transition_trace", &o)) {
        json_object *c, *s;
        if (!json_object_object_get_ex(o, "count", &c) ||
            !json_object_object_get_ex(o, "states", &s)) {
            rc = fail(err, errcap,
                      "transition_trace needs \"count\" and \"states\"");
            goto out;
        }
        rc = get_reg(c, "transition_trace.count", true, &p->trace_count, err,
                     errcap);
        if (rc == 0)
            rc = get_reg(s, "transition_trace.states", false, &p->trace_states,
                         err, errcap);
        if (rc < 0)
            goto out;
        p->has_trace = true;
    }
    if (json_object_object_get_ex(root, "state_digest", &o)) {
        rc = get_reg(o, "state_digest", false, &p->digest, err, errcap);
        if (rc < 0)
            goto out;
        p->has_digest = true;
    }
    if (json_object_object_get_ex(root, "dma_write", &o)) {
        json_object *st;
        rc = parse_writes(o, "dma_write", p->dma_writes, &p->n_dma_writes, err,
                          errcap);
        if (rc < 0)
            goto out;
        if (json_object_object_get_ex(o, "status", &st)) {
            rc = get_reg(st, "dma_write.status", true, &p->dma_status, err,
                         errcap);
            if (rc < 0)
                goto out;
            p->has_dma_status = true;
        }
    }
    if (json_object_object_get_ex(root, "dma_read", &o)) {
        json_object *st;
        rc = parse_writes(o, "dma_read", p->dma_reads, &p->n_dma_reads, err,
                          errcap);
        if (rc < 0)
            goto out;
        if (json_object_object_get_ex(o, "status", &st)) {
            rc = get_reg(st, "dma_read.status", true, &p->dma_read_status, err,
                         errcap);
            if (rc < 0)
                goto out;
            p->has_dma_read_status = true;
        }
    }
    if (json_object_object_get_ex(root, "preconditions", &o)) {
        rc = parse_preconditions(o, p, err, errcap);
        if (rc < 0)
            goto out;
    }
    if (json_object_object_get_ex(root, "image_exclude", &o)) {
        size_t n;

        if (!json_object_is_type(o, json_type_array)) {
            rc = fail(err, errcap, "image_exclude must be an array");
            goto out;
        }
        n = json_object_array_length(o);
        if (n > VUC_PROFILE_MAX_WRITES) {
            rc = fail(err, errcap, "image_exclude: at most %d entries",
                      VUC_PROFILE_MAX_WRITES);
            goto out;
        }
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = get_reg(json_object_array_get_idx(o, i), "image_exclude",
                         false, &p->image_exclude[i], err, errcap);
        if (rc < 0)
            goto out;
        p->n_image_exclude = n;
    }
    if (json_object_object_get_ex(root, "state_mutation", &o)) {
        rc = parse_writes(o, "state_mutation", p->mut_writes, &p->n_mut_writes,
                          err, errcap);
        if (rc < 0)
            goto out;
    }
out:
    json_object_put(root);
    if (rc < 0) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
        snprintf(err, errcap, "%s", tmp);
        vuc_profile_free(p);
    }
    return rc;
}

void vuc_profile_free(struct vuc_profile *p)
{
    free(p->path);
    free(p->name);
    memset(p, 0, sizeof(*p));
}
