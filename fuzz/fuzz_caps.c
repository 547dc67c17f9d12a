/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_caps: the VERSION capabilities JSON (vuc_caps_parse and
 * vuc_caps_write, codec/caps.c). The input is the version data as a
 * client or server would send it, without its NUL.
 *
 * Properties:
 * - parse returns 0 or -EINVAL, and leaves caps untouched on failure
 *   (codec.h);
 * - it agrees with json-c, the parser vucert used before its own
 *   (codec/caps.c says where and why they differ), read through the
 *   schema by oracle_parse below, written apart from codec/caps.c:
 *   - what vucert accepts, json-c's strict mode accepts, with the same
 *     capabilities (values, present bits, whether any key is unknown);
 *   - what json-c accepts and vucert rejects (asked about every short
 *     text and a sample of the others while fuzzing, about all in the
 *     replay: ask_about_rejected below) is a json-c leniency
 *     (json_c_leniency below, or UTF-8 that RFC 3629 forbids), and the
 *     same tree written as RFC 8259 text (canon below) is accepted, with
 *     the same capabilities; unless json-c clamped a number (at
 *     UINT64_MAX; before json-c 0.14 at INT64_MAX, JSONC_CLAMP below),
 *     or the text is not RFC 3629 UTF-8 (json-c's check is weaker);
 *   - inputs with "\u0000" are left out: json-c cuts a name at it;
 * - an accepted text is written back (only the keys present) and parsed
 *   again to equal capabilities: the same present bits and, for each key
 *   present, the same value (twin_socket: supported and fd_index);
 * - the text written is exactly what fits: -ENOSPC with one byte less
 *   than length + NUL, and it is idempotent (writing the reparsed caps
 *   gives the same text);
 * - what a server replies to these capabilities (the subset rule) is
 *   written and parsed the same way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vucert/codec.h"
#include "fuzz_priv.h"

#define TEXT_MAX 4096

/*
 * The json-c this builds with: Debian bookworm's 0.16 here, 0.13 in the
 * OSS-Fuzz base image ClusterFuzzLite builds in (Ubuntu 20.04).
 * - 0.14 keeps an integer above INT64_MAX as a uint64 and clamps it at
 *   UINT64_MAX; 0.13 has no uint64 and clamps at INT64_MAX, so there a
 *   value of at least INT64_MAX is only known to be that.
 * - 0.15 has json_tokener_get_parse_end() and JSON_TOKENER_VALIDATE_UTF8;
 *   before, the parse end is the (then documented) char_offset, and
 *   json-c does not check UTF-8 (check_oracle allows for that anyway).
 * - The leniencies of json_c_leniency() were found with 0.16; older
 *   strict modes take more (0.13 takes any isspace() as whitespace, and
 *   looser numbers), so with those only the canonical text is checked.
 */
#define JSONC_AT_LEAST(minor) (JSON_C_VERSION_NUM >= ((minor) << 8))
#if JSONC_AT_LEAST(14)
#define JSONC_CLAMP       UINT64_MAX
#define jsonc_get_uint(v) json_object_get_uint64(v)
#else
#define JSONC_CLAMP       ((uint64_t)INT64_MAX)
#define jsonc_get_uint(v) ((uint64_t)json_object_get_int64(v))
#endif
#if JSONC_AT_LEAST(15)
#define jsonc_parse_end(tok)   json_tokener_get_parse_end(tok)
#define JSONC_LENIENCIES_KNOWN 1
#else
#define jsonc_parse_end(tok)       ((size_t)(tok)->char_offset)
#define JSON_TOKENER_VALIDATE_UTF8 0
#define JSONC_LENIENCIES_KNOWN     0
#endif

/* ---- the oracle: json-c's tree, read through the schema ---- */

/* a non-negative JSON integer; json-c clamps it at JSONC_CLAMP */
static int oracle_uint(struct json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        return -EINVAL;
    *out = jsonc_get_uint(v);
    return 0;
}

static int oracle_bool(struct json_object *v, bool *out)
{
    if (!json_object_is_type(v, json_type_boolean))
        return -EINVAL;
    *out = json_object_get_boolean(v) != 0;
    return 0;
}

static int oracle_twin(struct json_object *obj, struct vuc_caps *c)
{
    if (!json_object_is_type(obj, json_type_object))
        return -EINVAL;
    json_object_object_foreach(obj, key, v)
    {
        if (strcmp(key, "supported") == 0) {
            if (oracle_bool(v, &c->twin_supported) < 0)
                return -EINVAL;
        } else if (strcmp(key, "fd_index") == 0) {
            if (oracle_uint(v, &c->twin_fd_index) < 0)
                return -EINVAL;
            c->twin_has_fd_index = true;
        } else {
            c->unknown++;
        }
    }
    return 0;
}

static int oracle_caps(struct json_object *obj, struct vuc_caps *c)
{
    static const char *const names[] = {"max_msg_fds", "max_data_xfer_size",
                                        "max_dma_maps", "pgsizes"};
    uint64_t *const fields[] = {&c->max_msg_fds, &c->max_data_xfer_size,
                                &c->max_dma_maps, &c->pgsizes};

    if (!json_object_is_type(obj, json_type_object))
        return -EINVAL;
    json_object_object_foreach(obj, key, v)
    {
        size_t i;

        for (i = 0; i < 4; i++)
            if (strcmp(key, names[i]) == 0)
                break;
        if (i < 4) {
            c->present |= 1u << i;
            if (oracle_uint(v, fields[i]) < 0)
                return -EINVAL;
        } else if (strcmp(key, "twin_socket") == 0) {
            c->present |= VUC_CAP_TWIN_SOCKET;
            if (oracle_twin(v, c) < 0)
                return -EINVAL;
        } else if (strcmp(key, "write_multiple") == 0) {
            c->present |= VUC_CAP_WRITE_MULTIPLE;
            if (oracle_bool(v, &c->write_multiple) < 0)
                return -EINVAL;
        } else {
            c->unknown++;
        }
    }
    return 0;
}

/* json-c's strict parse of the text; *root is its tree (or NULL). */
static int oracle_parse(const uint8_t *p, size_t n, struct vuc_caps *c,
                        struct json_object **root)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *caps;
    int r = -EINVAL;

    *root = NULL;
    FZ_CHECK(tok != NULL, "json_tokener_new");
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    if (n > 0 && !memchr(p, '\0', n))
        *root = json_tokener_parse_ex(tok, (const char *)p, (int)n);
    if (*root && jsonc_parse_end(tok) == n &&
        json_object_is_type(*root, json_type_object)) {
        vuc_caps_defaults(c);
        r = 0;
        if (json_object_object_get_ex(*root, "capabilities", &caps))
            r = oracle_caps(caps, c);
    }
    json_tokener_free(tok);
    return r;
}

struct text {
    char *p;
    size_t n, cap;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        FZ_CHECK(t->p != NULL, "realloc");
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void put_str(struct text *t, const char *s, size_t n)
{
    char esc[8];

    put(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x20 || ch == '"' || ch == '\\') {
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            put(t, esc, 6);
        } else {
            put(t, s + i, 1);
        }
    }
    put(t, "\"", 1);
}

/* json-c's tree as RFC 8259 text: what a strict writer makes of it (a
 * double is any double: no capability takes one) */
static void canon(struct text *t, struct json_object *o)
{
    char num[32];
    bool first = true;

    switch (json_object_get_type(o)) {
    case json_type_null:
        put(t, "null", 4);
        break;
    case json_type_boolean:
        put(t, json_object_get_boolean(o) ? "true" : "false",
            json_object_get_boolean(o) ? 4 : 5);
        break;
    case json_type_double:
        put(t, "0.5", 3);
        break;
    case json_type_int:
        if (json_object_get_int64(o) < 0)
            snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(o));
        else
            snprintf(num, sizeof(num), "%" PRIu64, jsonc_get_uint(o));
        put(t, num, strlen(num));
        break;
    case json_type_string:
        put_str(t, json_object_get_string(o),
                (size_t)json_object_get_string_len(o));
        break;
    case json_type_array:
        put(t, "[", 1);
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            if (i)
                put(t, ",", 1);
            canon(t, json_object_array_get_idx(o, i));
        }
        put(t, "]", 1);
        break;
    case json_type_object:
        put(t, "{", 1);
        json_object_object_foreach(o, key, v)
        {
            if (!first)
                put(t, ",", 1);
            first = false;
            put_str(t, key, strlen(key));
            put(t, ":", 1);
            canon(t, v);
        }
        put(t, "}", 1);
        break;
    }
}

/* RFC 3629 UTF-8, decoded to code points (codec/caps.c checks the
 * bytes' ranges instead) */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k;

        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((p[i] & 0xe0) == 0xc0)
            k = 1, cp = p[i] & 0x1fu;
        else if ((p[i] & 0xf0) == 0xe0)
            k = 2, cp = p[i] & 0x0fu;
        else if ((p[i] & 0xf8) == 0xf0)
            k = 3, cp = p[i] & 0x07u;
        else
            return false;
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3fu);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
            (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/*
 * The leniencies of json-c's strict mode known to fuzz_caps, found with
 * a scanner that only tells strings from the rest: outside strings a
 * single quote, NaN or Infinity, a leading zero, a '.' without a digit
 * on each side; inside them a raw control character. vucert rejects all of
 * these; any other text json-c accepts, vucert must accept too.
 */
static bool json_c_leniency(const uint8_t *p, size_t n)
{
    bool in_str = false;

    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i], next = i + 1 < n ? p[i + 1] : 0;

        if (in_str) {
            if (ch < 0x20)
                return true;
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == '\'' || ch == 'N' || ch == 'I')
            return true;
        else if (ch == '.' && !(next >= '0' && next <= '9' && i > 0 &&
                                p[i - 1] >= '0' && p[i - 1] <= '9'))
            return true;
        else if (ch == '0' && next >= '0' && next <= '9' &&
                 !(i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9'))
            return true;
    }
    return false;
}

static bool clamped(const struct vuc_caps *c)
{
    return ((c->present & VUC_CAP_MAX_MSG_FDS) &&
            c->max_msg_fds == JSONC_CLAMP) ||
           ((c->present & VUC_CAP_MAX_DATA_XFER_SIZE) &&
            c->max_data_xfer_size == JSONC_CLAMP) ||
           ((c->present & VUC_CAP_MAX_DMA_MAPS) &&
            c->max_dma_maps == JSONC_CLAMP) ||
           ((c->present & VUC_CAP_PGSIZES) && c->pgsizes == JSONC_CLAMP) ||
           (c->twin_has_fd_index && c->twin_fd_index == JSONC_CLAMP);
}

/* Where json-c read JSONC_CLAMP and vucert at least that, they agree:
 * take vucert's value. Nothing changes from json-c 0.14 on (vucert
 * rejects what is above UINT64_MAX); with 0.13, values from INT64_MAX
 * up. */
static void unclamp(struct vuc_caps *o, const struct vuc_caps *c)
{
    uint64_t *const ov[] = {&o->max_msg_fds, &o->max_data_xfer_size,
                            &o->max_dma_maps, &o->pgsizes, &o->twin_fd_index};
    const uint64_t cv[] = {c->max_msg_fds, c->max_data_xfer_size,
                           c->max_dma_maps, c->pgsizes, c->twin_fd_index};

    for (size_t i = 0; i < sizeof(cv) / sizeof(cv[0]); i++)
        if (*ov[i] == JSONC_CLAMP && cv[i] >= JSONC_CLAMP)
            *ov[i] = cv[i];
}

/* Equal capabilities; the unknown keys only in whether there are any. */
static void check_same(const struct vuc_caps *a, const struct vuc_caps *b)
{
    FZ_CHECK(a->present == b->present, "present 0x%x then 0x%x", a->present,
             b->present);
    if (a->present & VUC_CAP_MAX_MSG_FDS)
        FZ_CHECK(a->max_msg_fds == b->max_msg_fds, "max_msg_fds");
    if (a->present & VUC_CAP_MAX_DATA_XFER_SIZE)
        FZ_CHECK(a->max_data_xfer_size == b->max_data_xfer_size,
                 "max_data_xfer_size");
    if (a->present & VUC_CAP_MAX_DMA_MAPS)
        FZ_CHECK(a->max_dma_maps == b->max_dma_maps, "max_dma_maps");
    if (a->present & VUC_CAP_PGSIZES)
        FZ_CHECK(a->pgsizes == b->pgsizes, "pgsizes");
    if (a->present & VUC_CAP_TWIN_SOCKET) {
        FZ_CHECK(a->twin_supported == b->twin_supported, "twin supported");
        FZ_CHECK(
            a->twin_has_fd_index == b->twin_has_fd_index &&
                (!a->twin_has_fd_index || a->twin_fd_index == b->twin_fd_index),
            "twin fd_index");
    }
    if (a->present & VUC_CAP_WRITE_MULTIPLE)
        FZ_CHECK(a->write_multiple == b->write_multiple, "write_multiple");
    FZ_CHECK((a->unknown > 0) == (b->unknown > 0), "%u then %u unknown keys",
             a->unknown, b->unknown);
}

/*
 * json-c on a text vucert rejected costs more than everything else a run
 * does (most mutants are rejected, and json-c allocates as it goes), so
 * the fuzzer asks it about one rejected text in FZC_REJECTED_SAMPLE,
 * chosen by a hash of the text (a finding reproduces), and about every
 * short one (up to FZC_REJECTED_SHORT bytes). The replay (ctest, every
 * corpus input) asks about all: -DFZC_REJECTED_SAMPLE=1 is the old
 * target. What vucert accepts is always held to json-c.
 */
#ifndef FZC_REJECTED_SAMPLE
#define FZC_REJECTED_SAMPLE 8u
#endif
#define FZC_REJECTED_SHORT 32u

static bool ask_about_rejected(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

    if (FZC_REJECTED_SAMPLE <= 1 || n <= FZC_REJECTED_SHORT)
        return true;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return (h ^ (h >> 32)) % FZC_REJECTED_SAMPLE == 0;
}

/* Hold vucert's verdict on the text (r, c) to json-c's. */
static void check_oracle(const uint8_t *p, size_t n, int r,
                         const struct vuc_caps *c)
{
    struct json_object *root;
    struct vuc_caps o, again;
    struct text t = {0};
    int ro;

    if (memmem(p, n, "\\u0000", 6))
        return;
    if (r != 0 && !ask_about_rejected(p, n))
        return;
    ro = oracle_parse(p, n, &o, &root);
    if (r == 0) {
        FZ_CHECK(ro == 0, "accepted, json-c rejects: %.*s", (int)n, p);
        unclamp(&o, c);
        check_same(c, &o);
    } else if (ro == 0 && !clamped(&o)) {
        FZ_CHECK(!JSONC_LENIENCIES_KNOWN || json_c_leniency(p, n) ||
                     !utf8_valid(p, n),
                 "rejected, json-c accepts, and it is RFC 8259: %.*s", (int)n,
                 p);
        canon(&t, root);
        if (utf8_valid((const uint8_t *)t.p, t.n)) {
            FZ_CHECK(vuc_caps_parse(t.p, t.n, &again) == 0,
                     "rejected, and json-c's tree as RFC 8259 text too: %s",
                     t.p);
            check_same(&again, &o);
        }
        free(t.p);
    }
    json_object_put(root);
}

/* Write caps, parse the text again and compare; the text goes to out. */
static size_t round_trip(const struct vuc_caps *c, char *out)
{
    struct vuc_caps again;
    char *tight;
    int n, r;

    n = vuc_caps_write(c, out, TEXT_MAX);
    FZ_CHECK(n > 0 && n < TEXT_MAX && out[n] == '\0' &&
                 strlen(out) == (size_t)n,
             "vuc_caps_write returned %d", n);
    /* exactly n + 1 bytes are needed */
    tight = malloc((size_t)n + 1);
    FZ_CHECK(tight != NULL, "malloc");
    FZ_CHECK(vuc_caps_write(c, tight, (size_t)n) == -ENOSPC,
             "%d bytes and the NUL fit in %d", n, n);
    FZ_CHECK(vuc_caps_write(c, tight, (size_t)n + 1) == n &&
                 memcmp(tight, out, (size_t)n + 1) == 0,
             "write into exactly %d + 1 bytes", n);
    free(tight);

    r = vuc_caps_parse(out, (size_t)n, &again);
    FZ_CHECK(r == 0, "written caps do not parse (%d): %s", r, out);
    FZ_CHECK(again.unknown == 0, "%u unknown keys written", again.unknown);
    again.unknown = c->unknown;
    check_same(c, &again);
    return (size_t)n;
}

/* The capabilities a server replies (README: the subset rule). */
static void reply_of(const struct vuc_caps *cc, struct vuc_caps *rep)
{
    vuc_caps_defaults(rep);
    rep->present = cc->present;
    rep->max_msg_fds = cc->max_msg_fds < 1 ? cc->max_msg_fds : 1;
    rep->max_data_xfer_size = cc->max_data_xfer_size;
    rep->max_dma_maps = cc->max_dma_maps;
    rep->pgsizes = VUC_DEFAULT_PGSIZES;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vuc_caps c, before, again, rep;
    char *t1, *t2;
    size_t n1, n2;
    int r;

    /* Sentinel values show whether a failed parse touched caps. */
    memset(&c, 0xa5, sizeof(c));
    before = c;
    r = vuc_caps_parse((const char *)data, size, &c);
    FZ_CHECK(r == 0 || r == -EINVAL, "parse returned %d", r);
    check_oracle(data, size, r, &c);
    if (r < 0) {
        FZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0,
                 "a failed parse changed caps");
        return 0;
    }
    FZ_CHECK((c.present & ~0x3fu) == 0, "present 0x%x", c.present);
    if (size == 0)
        FZ_FAIL("empty text accepted");

    t1 = malloc(TEXT_MAX);
    t2 = malloc(TEXT_MAX);
    FZ_CHECK(t1 && t2, "malloc");
    n1 = round_trip(&c, t1);
    /* Writing what was parsed back is a fixed point. */
    if (n1 && vuc_caps_parse(t1, n1, &again) == 0) {
        n2 = round_trip(&again, t2);
        FZ_CHECK(n2 == 0 || (n1 == n2 && memcmp(t1, t2, n1) == 0),
                 "not idempotent: %s then %s", t1, t2);
    }
    reply_of(&c, &rep);
    (void)round_trip(&rep, t2);
    free(t1);
    free(t2);
    return 0;
}
