/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VFIO_USER_VERSION capabilities JSON (spec: VFIO_USER_VERSION, the
 * "version data" and Capabilities tables), parsed with json-c and
 * written by hand.
 *
 * The version data comes from the wire, so it is parsed with an explicit
 * length and must be exactly one JSON object: an embedded NUL, an
 * unfinished object or anything but whitespace after it is malformed.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "vucert/codec.h"

/* Fill caps with the spec's defaults; present and unknown are 0. */
void vuc_caps_defaults(struct vuc_caps *caps)
{
    memset(caps, 0, sizeof(*caps));
    caps->max_msg_fds = VUC_DEFAULT_MAX_MSG_FDS;
    caps->max_data_xfer_size = VUC_DEFAULT_MAX_DATA_XFER_SIZE;
    caps->max_dma_maps = VUC_DEFAULT_MAX_DMA_MAPS;
    caps->pgsizes = VUC_DEFAULT_PGSIZES;
    caps->twin_supported = false; /* spec: twin_socket.supported default */
    caps->twin_has_fd_index = false;
    caps->write_multiple = false; /* no default stated; absent = unsupported */
}

/*
 * A capability "number": the spec's counts and sizes are non-negative
 * integers, so doubles (1.0, 1e3) and negatives are wrong types.
 * json-c stores values above INT64_MAX as uint64 (and clamps values above
 * UINT64_MAX to UINT64_MAX, which we cannot detect).
 * Errors: -EINVAL.
 */
static int get_uint(struct json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return -EINVAL;
    if (json_object_get_int64(v) < 0)
        return -EINVAL;
    *out = json_object_get_uint64(v);
    return 0;
}

/* Errors: -EINVAL not a JSON boolean. */
static int get_bool(struct json_object *v, bool *out)
{
    if (!json_object_is_type(v, json_type_boolean))
        return -EINVAL;
    *out = json_object_get_boolean(v) != 0;
    return 0;
}

/*
 * The twin_socket object. Unknown keys inside it are counted in
 * caps->unknown like those directly inside "capabilities".
 * Errors: -EINVAL.
 */
static int parse_twin(struct json_object *obj, struct vuc_caps *caps)
{
    struct json_object_iterator it, end;

    if (!json_object_is_type(obj, json_type_object))
        return -EINVAL;
    it = json_object_iter_begin(obj);
    end = json_object_iter_end(obj);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        struct json_object *v = json_object_iter_peek_value(&it);
        int r = 0;

        if (strcmp(key, "supported") == 0) {
            r = get_bool(v, &caps->twin_supported);
        } else if (strcmp(key, "fd_index") == 0) {
            r = get_uint(v, &caps->twin_fd_index);
            caps->twin_has_fd_index = r == 0;
        } else {
            caps->unknown++;
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* The "capabilities" object. Errors: -EINVAL. */
static int parse_caps_obj(struct json_object *obj, struct vuc_caps *caps)
{
    const struct {
        const char *key;
        unsigned bit;
        uint64_t *field;
    } uints[] = {
        {"max_msg_fds", VUC_CAP_MAX_MSG_FDS, &caps->max_msg_fds},
        {"max_data_xfer_size", VUC_CAP_MAX_DATA_XFER_SIZE,
         &caps->max_data_xfer_size},
        {"max_dma_maps", VUC_CAP_MAX_DMA_MAPS, &caps->max_dma_maps},
        {"pgsizes", VUC_CAP_PGSIZES, &caps->pgsizes},
    };
    struct json_object_iterator it, end;

    if (!json_object_is_type(obj, json_type_object))
        return -EINVAL;
    it = json_object_iter_begin(obj);
    end = json_object_iter_end(obj);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        struct json_object *v = json_object_iter_peek_value(&it);
        bool known = false;
        size_t i;
        int r = 0;

        for (i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
            if (strcmp(key, uints[i].key) == 0) {
                r = get_uint(v, uints[i].field);
                caps->present |= uints[i].bit;
                known = true;
                break;
            }
        }
        if (known) {
            /* handled above */
        } else if (strcmp(key, "twin_socket") == 0) {
            r = parse_twin(v, caps);
            caps->present |= VUC_CAP_TWIN_SOCKET;
        } else if (strcmp(key, "write_multiple") == 0) {
            r = get_bool(v, &caps->write_multiple);
            caps->present |= VUC_CAP_WRITE_MULTIPLE;
        } else {
            caps->unknown++;
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/*
 * Parse the version data (json_len bytes; no NUL needed, and none may be
 * inside). caps is set to the defaults, then overwritten by the keys
 * found; on error caps is left unchanged. Keys outside "capabilities"
 * are ignored (the spec defines none).
 * Errors: -EINVAL malformed JSON (including an embedded NUL, invalid
 * UTF-8, an unfinished object or non-whitespace after it), top level not
 * an object, "capabilities" not an object, or a known key of the wrong
 * type / negative / non-integer; -ENOMEM json-c could not allocate.
 */
int vuc_caps_parse(const char *json, size_t json_len, struct vuc_caps *caps)
{
    struct json_tokener *tok;
    struct json_object *root, *obj;
    struct vuc_caps tmp;
    int r = 0;

    if (!json || json_len == 0 || json_len > (size_t)INT32_MAX)
        return -EINVAL;
    if (memchr(json, '\0', json_len))
        return -EINVAL;
    tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, json, (int)json_len);
    /* json-c consumes trailing whitespace; anything else stops it. */
    if (!root || json_tokener_get_parse_end(tok) != json_len) {
        r = -EINVAL;
        goto out;
    }
    if (!json_object_is_type(root, json_type_object)) {
        r = -EINVAL;
        goto out;
    }
    vuc_caps_defaults(&tmp);
    if (json_object_object_get_ex(root, "capabilities", &obj))
        r = parse_caps_obj(obj, &tmp);
    if (r == 0)
        *caps = tmp;
out:
    json_object_put(root);
    json_tokener_free(tok);
    return r;
}

/* The text vuc_caps_write builds; len counts what did not fit too. */
struct out {
    char *buf;
    size_t cap;
    size_t len;
};

static void put(struct out *o, const char *s)
{
    size_t n = strlen(s);

    if (o->len < o->cap)
        memcpy(o->buf + o->len, s, n < o->cap - o->len ? n : o->cap - o->len);
    o->len += n;
}

/* ,"key": (the comma unless first) */
static void put_key(struct out *o, const char *key, bool *first)
{
    if (!*first)
        put(o, ",");
    *first = false;
    put(o, "\"");
    put(o, key);
    put(o, "\":");
}

static void put_uint(struct out *o, const char *key, uint64_t v, bool *first)
{
    char num[24];

    put_key(o, key, first);
    snprintf(num, sizeof(num), "%" PRIu64, v);
    put(o, num);
}

static void put_bool(struct out *o, const char *key, bool v, bool *first)
{
    put_key(o, key, first);
    put(o, v ? "true" : "false");
}

/*
 * Write {"capabilities":{...}} with only the keys in caps->present, in
 * the spec's table order, with no whitespace, and a NUL after it: the
 * text json-c writes for the same object (JSON_C_TO_STRING_PLAIN), built
 * by hand because its keys are fixed and its values are numbers and
 * booleans, and because a server writes it for every client.
 * twin_socket is written as {"supported":b} plus "fd_index" when
 * twin_has_fd_index. Returns the length excluding the NUL.
 * Errors: -ENOSPC the text and its NUL do not fit in cap.
 */
int vuc_caps_write(const struct vuc_caps *caps, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    bool first = true, tw = true;

    put(&o, "{\"capabilities\":{");
    if (caps->present & VUC_CAP_MAX_MSG_FDS)
        put_uint(&o, "max_msg_fds", caps->max_msg_fds, &first);
    if (caps->present & VUC_CAP_MAX_DATA_XFER_SIZE)
        put_uint(&o, "max_data_xfer_size", caps->max_data_xfer_size, &first);
    if (caps->present & VUC_CAP_MAX_DMA_MAPS)
        put_uint(&o, "max_dma_maps", caps->max_dma_maps, &first);
    if (caps->present & VUC_CAP_PGSIZES)
        put_uint(&o, "pgsizes", caps->pgsizes, &first);
    if (caps->present & VUC_CAP_TWIN_SOCKET) {
        put_key(&o, "twin_socket", &first);
        put(&o, "{");
        put_bool(&o, "supported", caps->twin_supported, &tw);
        if (caps->twin_has_fd_index)
            put_uint(&o, "fd_index", caps->twin_fd_index, &tw);
        put(&o, "}");
    }
    if (caps->present & VUC_CAP_WRITE_MULTIPLE)
        put_bool(&o, "write_multiple", caps->write_multiple, &first);
    put(&o, "}}");
    if (o.len >= cap || o.len > (size_t)INT_MAX)
        return -ENOSPC;
    buf[o.len] = '\0';
    return (int)o.len;
}
