/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VFIO_USER_VERSION capabilities JSON (spec: VFIO_USER_VERSION, the
 * "version data" and Capabilities tables), parsed and written by hand.
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
 * The parser. The version data comes from the peer, so it is read by a
 * recursive descent over RFC 8259 written for this one schema: it
 * allocates nothing (a server parses it for every client; json-c built an
 * object tree of fifteen allocations and duplicated the locale for each),
 * keeps no state between calls, and nests at most DEPTH_MAX deep, so
 * that the recursion is bounded by the limit and not by the input.
 *
 * What it accepts is RFC 8259 exactly: only " \t\n\r" as whitespace, no
 * leading zeros, no single quotes, comments or trailing commas, no raw
 * control characters in strings, and UTF-8 as RFC 3629 defines it (no
 * overlong forms, surrogates or code points above U+10FFFF). json-c's
 * strict mode took single quotes, NaN, Infinity, "1.", "-01" and raw
 * control characters too: a peer that sends them now fails VERSION.
 * Where JSON leaves the meaning open, it follows json-c, which vucert
 * used before, so that no valid text changes meaning:
 * - a name that occurs twice in an object: the last one counts;
 * - "-0" is the integer 0;
 * - nesting: DEPTH_MAX levels, json-c's default limit.
 * Where json-c erred it does not: an integer above UINT64_MAX is not a
 * capability value (json-c clamped it to UINT64_MAX), and a name with
 * "\u0000" in it is not the name before the NUL (json-c cut it there).
 * fuzz_caps holds the two parsers to this, input by input.
 */

/* json-c's JSON_TOKENER_DEFAULT_DEPTH: a value nests at most 32 deep,
 * the top-level object being 1 and its members 2; an empty object or
 * array can be 32 deep, but nothing can be inside it */
#define DEPTH_MAX 32

/* Where an object's members have meaning. */
enum where {
    W_NONE, /* anything unknown, and every array element */
    W_TOP,  /* the version data: "capabilities" */
    W_CAPS, /* the capabilities object */
    W_TWIN, /* twin_socket */
};

/* A known member whose value has the wrong type; the member occurring
 * again clears it first, so that the last one counts. */
enum bad_bit {
    BAD_CAPS = 1u << 8, /* "capabilities" not an object */
    BAD_TWIN_SUPPORTED = 1u << 9,
    BAD_TWIN_FD_INDEX = 1u << 10,
    /* bits 0-5: the vuc_cap_bit of a key in "capabilities" */
};

enum kind {
    K_OTHER, /* a string, null, array, or number that is not a u64 */
    K_UINT,  /* an integer from 0 to UINT64_MAX */
    K_BOOL,
    K_OBJECT,
};

struct value {
    enum kind kind;
    uint64_t u;
    bool b;
};

struct parser {
    const unsigned char *p, *end;
    unsigned depth;
    struct vuc_caps caps;
    unsigned bad;          /* enum bad_bit and vuc_cap_bit */
    unsigned unknown_caps; /* keys not known, in "capabilities" */
    unsigned unknown_twin; /* and in twin_socket */
};

/* Longest known name ("max_data_xfer_size") and one more byte. */
#define NAME_MAX_LEN 19

struct name {
    char s[NAME_MAX_LEN];
    size_t len;
    bool other; /* longer, not ASCII, or with U+0000: no known name */
};

static int value(struct parser *ps, enum where w, struct value *v);

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                               *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Consume c after whitespace. Errors: -EINVAL it is not there. */
static int expect(struct parser *ps, unsigned char c)
{
    skip_ws(ps);
    if (ps->p == ps->end || *ps->p != c)
        return -EINVAL;
    ps->p++;
    return 0;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (uint32_t)((c | 0x20) - 'a' + 10);
        else
            return -EINVAL;
    }
    *out = v;
    return 0;
}

/*
 * One UTF-8 sequence of 2 to 4 bytes at p (RFC 3629, section 4).
 * Returns its length; -EINVAL overlong, a surrogate, above U+10FFFF, or
 * cut short.
 */
static int utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    int n;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return -EINVAL;
    if (end - p < n)
        return -EINVAL;
    /* the second byte's range is what rules out the forbidden forms */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return -EINVAL;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return -EINVAL;
    return n;
}

/*
 * A string, its opening quote next. With nm, its text is kept there
 * when it can be a known name. Errors: -EINVAL.
 */
static int string(struct parser *ps, struct name *nm)
{
    if (nm) {
        nm->len = 0;
        nm->other = false;
    }
    ps->p++; /* the quote */
    for (;;) {
        uint32_t cp;
        int n;

        if (ps->p == ps->end)
            return -EINVAL;
        cp = *ps->p;
        if (cp == '"') {
            ps->p++;
            return 0;
        }
        if (cp < 0x20) {
            return -EINVAL; /* RFC 8259: control characters are escaped */
        } else if (cp >= 0x80) {
            n = utf8_seq(ps->p, ps->end);
            if (n < 0)
                return n;
            ps->p += n;
            cp = 0x80; /* in a name: not ASCII, not a known one */
        } else if (cp == '\\') {
            if (ps->end - ps->p < 2)
                return -EINVAL;
            switch (ps->p[1]) {
            case '"':
            case '\\':
            case '/':
                cp = ps->p[1];
                break;
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                cp = 0x80; /* no known name holds one */
                break;
            case 'u':
                if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp) < 0)
                    return -EINVAL;
                ps->p += 4;
                break;
            default:
                return -EINVAL;
            }
            ps->p += 2;
        } else {
            ps->p++;
        }
        if (!nm)
            continue;
        if (cp == 0 || cp >= 0x80 || nm->len == NAME_MAX_LEN)
            nm->other = true;
        else
            nm->s[nm->len++] = (char)cp;
    }
}

static bool name_is(const struct name *nm, const char *s)
{
    return !nm->other && strlen(s) == nm->len && memcmp(nm->s, s, nm->len) == 0;
}

/*
 * A number (RFC 8259, section 6). v is K_UINT for an integer without
 * fraction or exponent from 0 to UINT64_MAX ("-0" included), else
 * K_OTHER. Errors: -EINVAL.
 */
static int number(struct parser *ps, struct value *v)
{
    const unsigned char *p = ps->p, *end = ps->end;
    bool neg = false, fits = true, integer = true;
    uint64_t u = 0;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p == end || *p < '0' || *p > '9')
        return -EINVAL;
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (__builtin_mul_overflow(u, 10u, &u) ||
                __builtin_add_overflow(u, (uint64_t)(*p - '0'), &u))
                fits = false;
        }
    }
    if (p < end && *p == '.') {
        integer = false;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return -EINVAL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return -EINVAL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;
    v->kind = integer && fits && (!neg || u == 0) ? K_UINT : K_OTHER;
    v->u = v->kind == K_UINT ? u : 0;
    return 0;
}

static int literal(struct parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return -EINVAL;
    ps->p += n;
    return 0;
}

/* A known u64 member in "capabilities" (bit) or twin_socket (fd_index). */
static void set_uint(struct parser *ps, unsigned bit, const struct value *v,
                     uint64_t *field)
{
    if (v->kind == K_UINT)
        *field = v->u;
    else
        ps->bad |= bit;
}

static void set_bool(struct parser *ps, unsigned bit, const struct value *v,
                     bool *field)
{
    if (v->kind == K_BOOL)
        *field = v->b;
    else
        ps->bad |= bit;
}

/*
 * The value of member nm of an object where w, the colon behind. A
 * known member starts afresh each time it occurs, so the last one counts.
 */
static int member(struct parser *ps, enum where w, const struct name *nm)
{
    static const struct {
        const char *name;
        unsigned bit;
    } uints[] = {
        {"max_msg_fds", VUC_CAP_MAX_MSG_FDS},
        {"max_data_xfer_size", VUC_CAP_MAX_DATA_XFER_SIZE},
        {"max_dma_maps", VUC_CAP_MAX_DMA_MAPS},
        {"pgsizes", VUC_CAP_PGSIZES},
    };
    struct vuc_caps *c = &ps->caps;
    uint64_t *const fields[] = {&c->max_msg_fds, &c->max_data_xfer_size,
                                &c->max_dma_maps, &c->pgsizes};
    struct value v;
    int r;

    if (w == W_TOP && name_is(nm, "capabilities")) {
        vuc_caps_defaults(c);
        ps->bad = 0;
        ps->unknown_caps = ps->unknown_twin = 0;
        r = value(ps, W_CAPS, &v);
        if (r == 0 && v.kind != K_OBJECT)
            ps->bad |= BAD_CAPS;
        return r;
    }
    if (w == W_CAPS) {
        for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
            if (!name_is(nm, uints[i].name))
                continue;
            c->present |= uints[i].bit;
            ps->bad &= ~uints[i].bit;
            r = value(ps, W_NONE, &v);
            set_uint(ps, uints[i].bit, &v, fields[i]);
            return r;
        }
        if (name_is(nm, "twin_socket")) {
            c->present |= VUC_CAP_TWIN_SOCKET;
            c->twin_supported = false;
            c->twin_has_fd_index = false;
            c->twin_fd_index = 0;
            ps->bad &= ~((unsigned)VUC_CAP_TWIN_SOCKET | BAD_TWIN_SUPPORTED |
                         BAD_TWIN_FD_INDEX);
            ps->unknown_twin = 0;
            r = value(ps, W_TWIN, &v);
            if (r == 0 && v.kind != K_OBJECT)
                ps->bad |= VUC_CAP_TWIN_SOCKET;
            return r;
        }
        if (name_is(nm, "write_multiple")) {
            c->present |= VUC_CAP_WRITE_MULTIPLE;
            ps->bad &= ~(unsigned)VUC_CAP_WRITE_MULTIPLE;
            r = value(ps, W_NONE, &v);
            set_bool(ps, VUC_CAP_WRITE_MULTIPLE, &v, &c->write_multiple);
            return r;
        }
        ps->unknown_caps++;
    } else if (w == W_TWIN) {
        if (name_is(nm, "supported")) {
            ps->bad &= ~(unsigned)BAD_TWIN_SUPPORTED;
            r = value(ps, W_NONE, &v);
            set_bool(ps, BAD_TWIN_SUPPORTED, &v, &c->twin_supported);
            return r;
        }
        if (name_is(nm, "fd_index")) {
            ps->bad &= ~(unsigned)BAD_TWIN_FD_INDEX;
            r = value(ps, W_NONE, &v);
            c->twin_has_fd_index = v.kind == K_UINT;
            set_uint(ps, BAD_TWIN_FD_INDEX, &v, &c->twin_fd_index);
            return r;
        }
        ps->unknown_twin++;
    }
    return value(ps, W_NONE, &v);
}

/* An object or array, its opening bracket next. Errors: -EINVAL. */
static int container(struct parser *ps, enum where w, bool object)
{
    unsigned char close = object ? '}' : ']';
    int r;

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        struct value v;

        if (object) {
            struct name nm;

            skip_ws(ps);
            if (ps->p == ps->end || *ps->p != '"')
                return -EINVAL;
            r = string(ps, &nm);
            if (r == 0)
                r = expect(ps, ':');
            if (r == 0)
                r = member(ps, w, &nm);
        } else {
            r = value(ps, W_NONE, &v);
        }
        if (r < 0)
            return r;
        skip_ws(ps);
        if (ps->p == ps->end)
            return -EINVAL;
        if (*ps->p == close)
            break;
        if (*ps->p != ',')
            return -EINVAL;
        ps->p++;
    }
    ps->p++;
    return 0;
}

/* Any value; w says what an object's members mean. Errors: -EINVAL. */
static int value(struct parser *ps, enum where w, struct value *v)
{
    int r;

    v->kind = K_OTHER;
    skip_ws(ps);
    if (ps->p == ps->end || ++ps->depth > DEPTH_MAX)
        return -EINVAL;
    switch (*ps->p) {
    case '{':
        v->kind = K_OBJECT;
        r = container(ps, w, true);
        break;
    case '[':
        r = container(ps, W_NONE, false);
        break;
    case '"':
        r = string(ps, NULL);
        break;
    case 't':
        v->kind = K_BOOL;
        v->b = true;
        r = literal(ps, "true", 4);
        break;
    case 'f':
        v->kind = K_BOOL;
        v->b = false;
        r = literal(ps, "false", 5);
        break;
    case 'n':
        r = literal(ps, "null", 4);
        break;
    default:
        r = number(ps, v);
        break;
    }
    ps->depth--;
    return r;
}

/*
 * Parse the version data (json_len bytes; no NUL needed, and none may be
 * inside). caps is set to the defaults, then overwritten by the keys
 * found; on error caps is left unchanged. Keys outside "capabilities"
 * are ignored (the spec defines none).
 * Errors: -EINVAL malformed JSON (including an embedded NUL, invalid
 * UTF-8, an unfinished object or non-whitespace after it), top level not
 * an object, "capabilities" not an object, or a known key of the wrong
 * type / negative / non-integer / above UINT64_MAX.
 */
int vuc_caps_parse(const char *json, size_t json_len, struct vuc_caps *caps)
{
    struct parser ps;
    struct value v;
    int r;

    if (!json || json_len == 0 || json_len > (size_t)INT32_MAX)
        return -EINVAL;
    if (memchr(json, '\0', json_len))
        return -EINVAL;
    memset(&ps, 0, sizeof(ps));
    ps.p = (const unsigned char *)json;
    ps.end = ps.p + json_len;
    vuc_caps_defaults(&ps.caps);
    r = value(&ps, W_TOP, &v);
    if (r < 0)
        return r;
    skip_ws(&ps);
    if (v.kind != K_OBJECT || ps.p != ps.end || ps.bad)
        return -EINVAL;
    ps.caps.unknown = ps.unknown_caps + ps.unknown_twin;
    *caps = ps.caps;
    return 0;
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
