// SPDX-License-Identifier: BSD-3-Clause
/*
 * Device profiles (profiles/README.md): how to make a device do what the
 * spec leaves to the device, as region accesses only.
 *
 * A profile is checked whole before any case runs, against the format
 * profiles/schema.json describes: strict JSON (RFC 8259), no key the
 * format does not know, every value of its type and in its range, and a
 * "schema" version this vucert reads. The first problem found is the
 * error, as "FILE:LINE: $.json.path: what is wrong".
 *
 * Line numbers: json-c builds the tree but keeps no positions in it. So
 * the raw text is scanned a second time by a small strict JSON lexer
 * (struct jscan) that tracks the JSON path of every value it passes; to
 * place an error it scans for the path the error names and takes the
 * line of that member's key (of the element's first character in an
 * array). The same scan, run once over the whole file before the checks,
 * refuses what json-c accepts beyond RFC 8259 (single quotes, NaN,
 * control characters in strings, "1.") and duplicate keys, whose earlier
 * values json-c would drop silently. It also hands back the raw text of
 * an integer, which json-c clamps when it is out of range.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vucert/codec.h"
#include "vucert/harness.h"

/* The profile format versions this vucert reads ("schema"). */
#define PROFILE_SCHEMA 1
/* A profile is a few KiB; this only stops reading a wrong file whole. */
#define PROFILE_MAX_BYTES (1u << 20)
#define PATH_CAP          256

/* ---- JSON paths: $.a.b[2], $["odd key"] ---- */

static bool ident(const char *k)
{
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
        return false;
    for (k++; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9') || *k == '_'))
            return false;
    return true;
}

static void path_key(char *out, size_t cap, const char *base, const char *key)
{
    size_t len;

    /* a path too long for out is cut short: it then names no value, and
     * an error about it comes without its line */
    if (ident(key)) {
        if ((size_t)snprintf(out, cap, "%s.%s", base, key) >= cap)
            out[cap - 1] = '\0';
        return;
    }
    len = (size_t)snprintf(out, cap, "%s[\"", base);
    for (; *key && len + 8 < cap; key++) {
        unsigned char ch = (unsigned char)*key;
        if (ch == '"' || ch == '\\')
            len += (size_t)snprintf(out + len, cap - len, "\\%c", ch);
        else if (ch < 0x20)
            len += (size_t)snprintf(out + len, cap - len, "\\u%04x", ch);
        else
            out[len++] = (char)ch;
    }
    if (len + 3 <= cap)
        snprintf(out + len, cap - len, "\"]");
}

static void path_idx(char *out, size_t cap, const char *base, size_t i)
{
    if ((size_t)snprintf(out, cap, "%s[%zu]", base, i) >= cap)
        out[cap - 1] = '\0';
}

/* ---- the scan of the raw text ---- */

struct jscan {
    const char *s;
    size_t n, i;
    int line;
    char path[PATH_CAP];
    /* the path looked for (NULL: none), and where its value is */
    const char *want;
    int hit_line;
    size_t hit_off;
    /* the first problem: its line, path and message */
    bool failed;
    int bad_line;
    char bad_path[PATH_CAP];
    char bad_msg[160];
};

static bool scan_fail(struct jscan *sc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool scan_fail(struct jscan *sc, const char *fmt, ...)
{
    va_list ap;

    if (sc->failed)
        return false;
    sc->failed = true;
    sc->bad_line = sc->line;
    snprintf(sc->bad_path, sizeof(sc->bad_path), "%s", sc->path);
    va_start(ap, fmt);
    vsnprintf(sc->bad_msg, sizeof(sc->bad_msg), fmt, ap);
    va_end(ap);
    return false;
}

static void skip_ws(struct jscan *sc)
{
    for (; sc->i < sc->n; sc->i++) {
        char ch = sc->s[sc->i];
        if (ch == '\n')
            sc->line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            break;
    }
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int hex4(const char *p)
{
    int v = 0;

    for (int k = 0; k < 4; k++) {
        int d = hex_digit(p[k]);
        if (d < 0)
            return -1;
        v = (v << 4) | d;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at s[i]; decoded into out (malloc'd, for keys) when out is not
 * NULL. */
static bool scan_string(struct jscan *sc, char **out)
{
    size_t start = ++sc->i, len = 0;
    char *d = NULL;

    if (out != NULL) {
        size_t end = start;
        while (end < sc->n && sc->s[end] != '"')
            end += sc->s[end] == '\\' ? 2 : 1;
        d = malloc(end - start + 1);
        if (d == NULL)
            return scan_fail(sc, "out of memory");
    }
    while (sc->i < sc->n && sc->s[sc->i] != '"') {
        unsigned char ch = (unsigned char)sc->s[sc->i];
        unsigned cp;
        int h;

        if (ch < 0x20) {
            free(d);
            return scan_fail(sc,
                             "not valid JSON: a control character in a "
                             "string (write it as \\u%04x)",
                             ch);
        }
        if (ch != '\\') {
            if (d != NULL)
                d[len++] = (char)ch;
            sc->i++;
            continue;
        }
        if (sc->i + 1 >= sc->n)
            break;
        ch = (unsigned char)sc->s[sc->i + 1];
        sc->i += 2;
        switch (ch) {
        case '"':
        case '\\':
        case '/':
            cp = ch;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (sc->i + 4 > sc->n || (h = hex4(sc->s + sc->i)) < 0) {
                free(d);
                return scan_fail(sc, "not valid JSON: a bad \\u escape");
            }
            sc->i += 4;
            cp = (unsigned)h;
            if (cp >= 0xd800 && cp < 0xdc00 && sc->i + 6 <= sc->n &&
                sc->s[sc->i] == '\\' && sc->s[sc->i + 1] == 'u' &&
                (h = hex4(sc->s + sc->i + 2)) >= 0xdc00 && h < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)h - 0xdc00);
                sc->i += 6;
            }
            break;
        default:
            free(d);
            return scan_fail(sc, "not valid JSON: \\%c is no escape", ch);
        }
        if (d != NULL)
            len += put_utf8(d + len, cp);
    }
    if (sc->i >= sc->n) {
        free(d);
        return scan_fail(sc, "not valid JSON: a string does not end");
    }
    sc->i++;
    if (d != NULL) {
        d[len] = '\0';
        *out = d;
    }
    return true;
}

static bool digits(struct jscan *sc)
{
    size_t from = sc->i;

    while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
        sc->i++;
    return sc->i > from;
}

/* RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct jscan *sc)
{
    if (sc->s[sc->i] == '-')
        sc->i++;
    if (sc->i < sc->n && sc->s[sc->i] == '0')
        sc->i++;
    else if (!digits(sc))
        return scan_fail(sc, "not valid JSON: a bad number");
    if (sc->i < sc->n && sc->s[sc->i] == '.') {
        sc->i++;
        if (!digits(sc))
            return scan_fail(sc, "not valid JSON: a bad number");
    }
    if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
        sc->i++;
        if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
            sc->i++;
        if (!digits(sc))
            return scan_fail(sc, "not valid JSON: a bad number");
    }
    return true;
}

static bool scan_value(struct jscan *sc, int depth, bool member);

struct seen_key {
    char *key;
    int line;
};

static bool scan_object(struct jscan *sc, int depth)
{
    size_t base = strlen(sc->path), n_seen = 0;
    struct seen_key *seen = NULL;
    bool ok = false;

    sc->i++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == '}') {
        sc->i++;
        return true;
    }
    for (;;) {
        struct seen_key *grown;
        char *key = NULL;
        int key_line;

        skip_ws(sc);
        key_line = sc->line;
        if (sc->i >= sc->n || sc->s[sc->i] != '"') {
            scan_fail(sc, "not valid JSON: a key in double quotes expected");
            break;
        }
        if (!scan_string(sc, &key))
            break;
        path_key(sc->path + base, sizeof(sc->path) - base, "", key);
        for (size_t k = 0; k < n_seen && !sc->failed; k++) {
            if (strcmp(seen[k].key, key) == 0) {
                sc->line = key_line;
                scan_fail(sc, "duplicate key (first on line %d)", seen[k].line);
            }
        }
        grown = sc->failed ? NULL : realloc(seen, (n_seen + 1) * sizeof(*seen));
        if (grown == NULL) {
            free(key);
            scan_fail(sc, "out of memory");
            break;
        }
        seen = grown;
        seen[n_seen].key = key;
        seen[n_seen++].line = key_line;
        if (sc->want != NULL && strcmp(sc->path, sc->want) == 0)
            sc->hit_line = key_line;
        skip_ws(sc);
        if (sc->i >= sc->n || sc->s[sc->i] != ':') {
            scan_fail(sc, "not valid JSON: ':' expected after a key");
            break;
        }
        sc->i++;
        if (!scan_value(sc, depth + 1, true))
            break;
        sc->path[base] = '\0';
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->i < sc->n && sc->s[sc->i] == '}') {
            sc->i++;
            ok = true;
        } else {
            scan_fail(sc, "not valid JSON: ',' or '}' expected");
        }
        break;
    }
    for (size_t k = 0; k < n_seen; k++)
        free(seen[k].key);
    free(seen);
    return ok;
}

static bool scan_array(struct jscan *sc, int depth)
{
    size_t base = strlen(sc->path);

    sc->i++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == ']') {
        sc->i++;
        return true;
    }
    for (size_t idx = 0;; idx++) {
        path_idx(sc->path + base, sizeof(sc->path) - base, "", idx);
        if (!scan_value(sc, depth + 1, false))
            return false;
        sc->path[base] = '\0';
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->i < sc->n && sc->s[sc->i] == ']') {
            sc->i++;
            return true;
        }
        return scan_fail(sc, "not valid JSON: ',' or ']' expected");
    }
}

static bool scan_value(struct jscan *sc, int depth, bool member)
{
    static const char *const words[] = {"true", "false", "null"};
    char ch;

    skip_ws(sc);
    if (sc->want != NULL && strcmp(sc->path, sc->want) == 0) {
        if (!member)
            sc->hit_line = sc->line;
        sc->hit_off = sc->i;
    }
    if (sc->i >= sc->n)
        return scan_fail(sc, "not valid JSON: the file ends early");
    if (depth > 64)
        return scan_fail(sc, "nested too deep");
    ch = sc->s[sc->i];
    if (ch == '{')
        return scan_object(sc, depth);
    if (ch == '[')
        return scan_array(sc, depth);
    if (ch == '"')
        return scan_string(sc, NULL);
    if (ch == '-' || (ch >= '0' && ch <= '9'))
        return scan_number(sc);
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(words[k]);
        if (sc->n - sc->i >= len && memcmp(sc->s + sc->i, words[k], len) == 0) {
            sc->i += len;
            return true;
        }
    }
    if (ch == '\'')
        return scan_fail(sc, "not valid JSON: strings are in double quotes");
    return scan_fail(sc, "not valid JSON: a value expected, not '%c'", ch);
}

/* Scan the whole text; want: a path to place (or NULL). */
static void scan_text(struct jscan *sc, const char *text, size_t len,
                      const char *want)
{
    memset(sc, 0, sizeof(*sc));
    sc->s = text;
    sc->n = len;
    sc->line = 1;
    sc->want = want;
    sc->hit_off = SIZE_MAX;
    snprintf(sc->path, sizeof(sc->path), "$");
    if (!scan_value(sc, 0, false))
        return;
    skip_ws(sc);
    if (sc->i < sc->n) {
        sc->path[0] = '\0';
        scan_fail(sc, "not valid JSON: more after the top-level value");
    }
}

/* ---- checking the tree ---- */

struct pctx {
    const char *file;
    const char *text;
    size_t len;
    char *err;
    size_t cap;
};

static int perr(struct pctx *c, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE:LINE: PATH: message" (no LINE when the path was not found) */
static int perr(struct pctx *c, const char *at, const char *fmt, ...)
{
    struct jscan sc;
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    scan_text(&sc, c->text, c->len, at);
    if (sc.hit_line > 0)
        snprintf(c->err, c->cap, "%s:%d: %s: %s", c->file, sc.hit_line, at,
                 msg);
    else
        snprintf(c->err, c->cap, "%s: %s: %s", c->file, at, msg);
    return -EINVAL;
}

static const char *type_of(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a number with a fraction or exponent";
    case json_type_int:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "?";
}

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[64];

    if (lb >= 64 || la >= 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* Every key of o is one of allowed (NULL-terminated). */
static int check_keys(struct pctx *c, json_object *o, const char *at,
                      const char *const *allowed)
{
    json_object_object_foreach(o, key, val)
    {
        const char *near = NULL;
        unsigned best = 3;
        char sub[PATH_CAP], list[256];
        size_t len = 0;
        bool known = false;

        (void)val;
        for (const char *const *a = allowed; *a; a++) {
            unsigned d = edit_distance(key, *a);
            if (d == 0)
                known = true;
            if (d < best) {
                best = d;
                near = *a;
            }
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
                                    a == allowed ? "" : ", ", *a);
            if (len >= sizeof(list))
                len = sizeof(list) - 1;
        }
        if (known)
            continue;
        path_key(sub, sizeof(sub), at, key);
        if (near != NULL)
            return perr(c, sub,
                        "unknown key; did you mean \"%s\"? (known here: %s)",
                        near, list);
        return perr(c, sub, "unknown key (known here: %s)", list);
    }
    return 0;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int want_object(struct pctx *c, json_object *v, const char *at,
                       const char *const *allowed)
{
    if (!json_object_is_type(v, json_type_object))
        return perr(c, at, "must be an object, not %s", type_of(v));
    return check_keys(c, v, at, allowed);
}

/* A decimal ("24") or hexadecimal ("0x18") number in a string. */
static bool num_string(const char *s, uint64_t *out)
{
    const char *p = s;
    int base = 10;
    size_t nd = 0;
    char *end;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        p = s + 2;
        for (; p[nd]; nd++)
            if (hex_digit(p[nd]) < 0)
                return false;
        if (nd == 0 || nd > 16)
            return false;
    } else {
        for (; p[nd]; nd++)
            if (p[nd] < '0' || p[nd] > '9')
                return false;
        if (nd == 0 || nd > 20 || (nd > 1 && p[0] == '0'))
            return false;
    }
    errno = 0;
    *out = strtoull(p, &end, base);
    return errno == 0 && *end == '\0';
}

/*
 * An unsigned integer at `at`: a JSON integer, or a string "24" or "0x18";
 * at most max. json-c clamps integers past 64 bits, so the digits are
 * read from the text.
 */
static int get_uint(struct pctx *c, json_object *v, const char *at,
                    uint64_t max, uint64_t *out)
{
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (!num_string(s, out))
            return perr(c, at,
                        "\"%s\" is not a number: a string holds a decimal "
                        "(\"24\") or hexadecimal (\"0x18\", up to 16 digits) "
                        "number, without sign, spaces or leading zeros",
                        s);
    } else if (json_object_is_type(v, json_type_int)) {
        struct jscan sc;
        size_t len = 0;
        char *end;

        scan_text(&sc, c->text, c->len, at);
        if (sc.hit_off != SIZE_MAX) {
            const char *raw = c->text + sc.hit_off;
            while (sc.hit_off + len < c->len &&
                   ((raw[len] >= '0' && raw[len] <= '9') || raw[len] == '-'))
                len++;
            if (raw[0] == '-' && json_object_get_int64(v) != 0)
                return perr(c, at, "%.*s is negative", (int)len, raw);
            errno = 0;
            *out = strtoull(raw + (raw[0] == '-'), &end, 10);
            if (errno == ERANGE)
                return perr(c, at, "%.*s is out of range: at most %llu",
                            (int)len, raw, (unsigned long long)max);
        } else {
            if (json_object_get_int64(v) < 0)
                return perr(c, at, "%lld is negative",
                            (long long)json_object_get_int64(v));
            *out = json_object_get_uint64(v);
        }
    } else {
        return perr(c, at,
                    "must be a non-negative integer, or a string such as "
                    "\"0x18\"; not %s",
                    type_of(v));
    }
    if (*out > max)
        return perr(c, at, "%llu is out of range: at most %llu",
                    (unsigned long long)*out, (unsigned long long)max);
    return 0;
}

/* Member key of o, which must be there; its path in sub. */
static json_object *need(struct pctx *c, json_object *o, const char *at,
                         const char *key, char *sub, size_t subcap, int *rc)
{
    json_object *v = member(o, key);

    path_key(sub, subcap, at, key);
    if (v == NULL)
        *rc = perr(c, at, "\"%s\" is missing", key);
    return v;
}

static int get_string(struct pctx *c, json_object *o, const char *at,
                      const char *key, const char **out)
{
    json_object *v = member(o, key);
    char sub[PATH_CAP];

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string)) {
        path_key(sub, sizeof(sub), at, key);
        return perr(c, sub, "must be a string, not %s", type_of(v));
    }
    if (out != NULL)
        *out = json_object_get_string(v);
    return 0;
}

/* Every object may carry a "description": a string. */
static int described(struct pctx *c, json_object *o, const char *at)
{
    return get_string(c, o, at, "description", NULL);
}

static const char *const REG_KEYS[] = {"region", "offset", "size",
                                       "description", NULL};
static const char *const WRITE_KEYS[] = {"region", "offset",      "size",
                                         "value",  "description", NULL};

enum reg_kind {
    REG_VALUE, /* a register: 1, 2, 4 or 8 bytes */
    REG_BYTES, /* bytes: 1 to 64 */
};

/* {region, offset, size} at `at`, whose keys the caller has checked */
static int reg_fields(struct pctx *c, json_object *o, const char *at,
                      enum reg_kind kind, struct vuc_reg_ref *reg)
{
    uint64_t region, offset, size;
    char sub[PATH_CAP];
    json_object *v;
    int rc = 0;

    if ((v = need(c, o, at, "region", sub, sizeof(sub), &rc)) == NULL ||
        get_uint(c, v, sub, UINT32_MAX, &region) < 0)
        return -EINVAL;
    if ((v = need(c, o, at, "offset", sub, sizeof(sub), &rc)) == NULL ||
        get_uint(c, v, sub, UINT64_MAX, &offset) < 0)
        return -EINVAL;
    if ((v = need(c, o, at, "size", sub, sizeof(sub), &rc)) == NULL ||
        get_uint(c, v, sub, UINT64_MAX, &size) < 0)
        return -EINVAL;
    if (kind == REG_VALUE && size != 1 && size != 2 && size != 4 && size != 8)
        return perr(c, sub,
                    "%llu is not allowed: a register is 1, 2, 4 or 8 bytes",
                    (unsigned long long)size);
    if (kind == REG_BYTES && (size == 0 || size > 64))
        return perr(c, sub, "%llu is out of range: 1 to 64 bytes",
                    (unsigned long long)size);
    reg->region = (uint32_t)region;
    reg->offset = offset;
    reg->size = (uint32_t)size;
    return 0;
}

static int get_reg(struct pctx *c, json_object *o, const char *at,
                   enum reg_kind kind, struct vuc_reg_ref *reg)
{
    if (want_object(c, o, at, REG_KEYS) < 0 || described(c, o, at) < 0)
        return -EINVAL;
    return reg_fields(c, o, at, kind, reg);
}

/* One entry of "writes"; placeholders: "{iova}" and "{length}" allowed */
static int get_write(struct pctx *c, json_object *w, const char *at,
                     bool placeholders, struct vuc_reg_write *rw)
{
    char sub[PATH_CAP];
    json_object *v;
    uint64_t max;
    int rc = 0;

    if (want_object(c, w, at, WRITE_KEYS) < 0 || described(c, w, at) < 0 ||
        reg_fields(c, w, at, REG_VALUE, &rw->reg) < 0)
        return -EINVAL;
    if ((v = need(c, w, at, "value", sub, sizeof(sub), &rc)) == NULL)
        return rc;
    rw->kind = VUC_VALUE_CONST;
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        enum vuc_value_kind k = strcmp(s, "{iova}") == 0     ? VUC_VALUE_IOVA
                                : strcmp(s, "{length}") == 0 ? VUC_VALUE_LENGTH
                                                             : VUC_VALUE_CONST;
        if (k != VUC_VALUE_CONST && !placeholders)
            return perr(c, sub,
                        "\"%s\" is only for dma_write and dma_read: a "
                        "number here",
                        s);
        if (k != VUC_VALUE_CONST) {
            rw->kind = k;
            return 0;
        }
    }
    max = rw->reg.size == 8 ? UINT64_MAX : (1ull << (8 * rw->reg.size)) - 1;
    if (get_uint(c, v, sub, UINT64_MAX, &rw->value) < 0)
        return -EINVAL;
    if (rw->value > max)
        return perr(c, sub, "%llu does not fit in size %u: at most %llu",
                    (unsigned long long)rw->value, rw->reg.size,
                    (unsigned long long)max);
    return 0;
}

/* "writes": 1 to 16 region writes, of the object at `at` */
static int parse_writes(struct pctx *c, json_object *o, const char *at,
                        bool placeholders, struct vuc_reg_write *out,
                        size_t *count)
{
    char sub[PATH_CAP], el[PATH_CAP];
    json_object *writes;
    size_t n;
    int rc = 0;

    if ((writes = need(c, o, at, "writes", sub, sizeof(sub), &rc)) == NULL)
        return rc;
    if (!json_object_is_type(writes, json_type_array))
        return perr(c, sub, "must be an array, not %s", type_of(writes));
    n = json_object_array_length(writes);
    if (n == 0 || n > VUC_PROFILE_MAX_WRITES)
        return perr(c, sub, "%zu entries: 1 to %d are allowed", n,
                    VUC_PROFILE_MAX_WRITES);
    for (size_t i = 0; i < n; i++) {
        path_idx(el, sizeof(el), sub, i);
        if (get_write(c, json_object_array_get_idx(writes, i), el, placeholders,
                      &out[i]) < 0)
            return -EINVAL;
    }
    *count = n;
    return 0;
}

/* A state name at o.key, if there; any: "*" allowed (*out = ANY) */
static int get_state(struct pctx *c, json_object *o, const char *at,
                     const char *key, bool any, uint32_t *out)
{
    json_object *v = member(o, key);
    char sub[PATH_CAP];
    const char *s;
    uint32_t st;

    if (v == NULL)
        return 0;
    path_key(sub, sizeof(sub), at, key);
    if (!json_object_is_type(v, json_type_string))
        return perr(c, sub, "must be a state name (a string), not %s",
                    type_of(v));
    s = json_object_get_string(v);
    if (any && strcmp(s, "*") == 0) {
        *out = VUC_PROFILE_ANY_STATE;
        return 0;
    }
    if (vuc_state_parse(s, &st) < 0)
        return perr(c, sub,
                    "\"%s\" is not a state name: ERROR, STOP, RUNNING, "
                    "STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY or "
                    "PRE_COPY_P2P%s",
                    s, any ? ", or \"*\" for any" : "");
    if (strcmp(s, vuc_state_name(st)) != 0)
        return perr(c, sub, "\"%s\": write the state as the spec does, \"%s\"",
                    s, vuc_state_name(st));
    *out = st;
    return 0;
}

static int parse_injection(struct pctx *c, json_object *o,
                           struct vuc_profile *p)
{
    static const char *const keys[] = {"writes", "trigger", "description",
                                       NULL};
    static const char *const tkeys[] = {"from", "to", "description", NULL};
    const char *at = "$.error_injection";
    json_object *t;

    if (want_object(c, o, at, keys) < 0 || described(c, o, at) < 0 ||
        parse_writes(c, o, at, false, p->err_writes, &p->n_err_writes) < 0)
        return -EINVAL;
    p->err_trigger_from = VUC_STATE_RUNNING;
    p->err_trigger_to = VUC_STATE_STOP;
    if ((t = member(o, "trigger")) != NULL) {
        const char *tat = "$.error_injection.trigger";
        if (want_object(c, t, tat, tkeys) < 0 || described(c, t, tat) < 0 ||
            get_state(c, t, tat, "from", false, &p->err_trigger_from) < 0 ||
            get_state(c, t, tat, "to", false, &p->err_trigger_to) < 0)
            return -EINVAL;
    }
    p->has_error_injection = true;
    return 0;
}

static int parse_trace(struct pctx *c, json_object *o, struct vuc_profile *p)
{
    static const char *const keys[] = {"count", "states", "description", NULL};
    const char *at = "$.transition_trace";
    char sub[PATH_CAP];
    json_object *v;
    int rc = 0;

    if (want_object(c, o, at, keys) < 0 || described(c, o, at) < 0)
        return -EINVAL;
    if ((v = need(c, o, at, "count", sub, sizeof(sub), &rc)) == NULL ||
        get_reg(c, v, sub, REG_VALUE, &p->trace_count) < 0)
        return -EINVAL;
    if ((v = need(c, o, at, "states", sub, sizeof(sub), &rc)) == NULL ||
        get_reg(c, v, sub, REG_BYTES, &p->trace_states) < 0)
        return -EINVAL;
    p->has_trace = true;
    return 0;
}

/* dma_write / dma_read: writes with {iova} and {length}, and a status */
static int parse_dma(struct pctx *c, json_object *o, const char *at,
                     struct vuc_reg_write *writes, size_t *n, bool *has_status,
                     struct vuc_reg_ref *status)
{
    static const char *const keys[] = {"writes", "status", "description", NULL};
    char sub[PATH_CAP];
    json_object *st;

    if (want_object(c, o, at, keys) < 0 || described(c, o, at) < 0 ||
        parse_writes(c, o, at, true, writes, n) < 0)
        return -EINVAL;
    if ((st = member(o, "status")) != NULL) {
        path_key(sub, sizeof(sub), at, "status");
        if (get_reg(c, st, sub, REG_VALUE, status) < 0)
            return -EINVAL;
        *has_status = true;
    }
    return 0;
}

static int parse_preconditions(struct pctx *c, json_object *o,
                               struct vuc_profile *p)
{
    static const char *const keys[] = {"from",         "to",          "writes",
                                       "drain_stream", "description", NULL};
    const char *at = "$.preconditions";
    size_t n;

    if (!json_object_is_type(o, json_type_array))
        return perr(c, at, "must be an array, not %s", type_of(o));
    n = json_object_array_length(o);
    if (n > VUC_PROFILE_MAX_PRE)
        return perr(c, at, "%zu entries: at most %d are allowed", n,
                    VUC_PROFILE_MAX_PRE);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(o, i), *v;
        struct vuc_precondition *pc = &p->pre[i];
        char el[PATH_CAP], sub[PATH_CAP];

        path_idx(el, sizeof(el), at, i);
        if (want_object(c, e, el, keys) < 0 || described(c, e, el) < 0)
            return -EINVAL;
        pc->from = pc->to = VUC_PROFILE_ANY_STATE;
        if (get_state(c, e, el, "from", true, &pc->from) < 0 ||
            get_state(c, e, el, "to", true, &pc->to) < 0)
            return -EINVAL;
        if (member(e, "writes") != NULL &&
            parse_writes(c, e, el, false, pc->writes, &pc->n_writes) < 0)
            return -EINVAL;
        if ((v = member(e, "drain_stream")) != NULL) {
            path_key(sub, sizeof(sub), el, "drain_stream");
            if (!json_object_is_type(v, json_type_boolean))
                return perr(c, sub, "must be true or false, not %s",
                            type_of(v));
            pc->drain_stream = json_object_get_boolean(v);
        }
        if (pc->n_writes == 0 && !pc->drain_stream)
            return perr(c, el,
                        "does nothing: give it \"writes\" or "
                        "\"drain_stream\": true");
    }
    p->n_pre = n;
    return 0;
}

static int parse_image_exclude(struct pctx *c, json_object *o,
                               struct vuc_profile *p)
{
    const char *at = "$.image_exclude";
    char el[PATH_CAP];
    size_t n;

    if (!json_object_is_type(o, json_type_array))
        return perr(c, at, "must be an array, not %s", type_of(o));
    n = json_object_array_length(o);
    if (n > VUC_PROFILE_MAX_WRITES)
        return perr(c, at, "%zu entries: at most %d are allowed", n,
                    VUC_PROFILE_MAX_WRITES);
    for (size_t i = 0; i < n; i++) {
        path_idx(el, sizeof(el), at, i);
        if (get_reg(c, json_object_array_get_idx(o, i), el, REG_BYTES,
                    &p->image_exclude[i]) < 0)
            return -EINVAL;
    }
    p->n_image_exclude = n;
    return 0;
}

static int parse_schema(struct pctx *c, json_object *root)
{
    json_object *v = member(root, "schema");
    uint64_t ver;

    if (v == NULL)
        return 0; /* written before the field: version 1 */
    if (!json_object_is_type(v, json_type_int))
        return perr(c, "$.schema", "must be an integer (%d), not %s",
                    PROFILE_SCHEMA, type_of(v));
    if (get_uint(c, v, "$.schema", UINT64_MAX, &ver) < 0)
        return -EINVAL;
    if (ver != PROFILE_SCHEMA)
        return perr(c, "$.schema",
                    "profile format version %llu is not one this vucert "
                    "reads (it reads %d)",
                    (unsigned long long)ver, PROFILE_SCHEMA);
    return 0;
}

static int parse_root(struct pctx *c, json_object *root, struct vuc_profile *p)
{
    static const char *const keys[] = {"schema",           "name",
                                       "description",      "error_injection",
                                       "transition_trace", "state_digest",
                                       "dma_write",        "dma_read",
                                       "preconditions",    "image_exclude",
                                       "state_mutation",   NULL};
    static const char *const mut_keys[] = {"writes", "description", NULL};
    const char *name = NULL;
    json_object *o;

    if (!json_object_is_type(root, json_type_object))
        return perr(c, "$", "the top level must be an object, not %s",
                    type_of(root));
    /* the version first: a later format's keys are not misspellings */
    if (parse_schema(c, root) < 0 || check_keys(c, root, "$", keys) < 0 ||
        get_string(c, root, "$", "name", &name) < 0 ||
        described(c, root, "$") < 0)
        return -EINVAL;
    if (name != NULL && (p->name = strdup(name)) == NULL)
        return -ENOMEM;
    if ((o = member(root, "error_injection")) != NULL &&
        parse_injection(c, o, p) < 0)
        return -EINVAL;
    if ((o = member(root, "transition_trace")) != NULL &&
        parse_trace(c, o, p) < 0)
        return -EINVAL;
    if ((o = member(root, "state_digest")) != NULL) {
        if (get_reg(c, o, "$.state_digest", REG_BYTES, &p->digest) < 0)
            return -EINVAL;
        p->has_digest = true;
    }
    if ((o = member(root, "dma_write")) != NULL &&
        parse_dma(c, o, "$.dma_write", p->dma_writes, &p->n_dma_writes,
                  &p->has_dma_status, &p->dma_status) < 0)
        return -EINVAL;
    if ((o = member(root, "dma_read")) != NULL &&
        parse_dma(c, o, "$.dma_read", p->dma_reads, &p->n_dma_reads,
                  &p->has_dma_read_status, &p->dma_read_status) < 0)
        return -EINVAL;
    if ((o = member(root, "preconditions")) != NULL &&
        parse_preconditions(c, o, p) < 0)
        return -EINVAL;
    if ((o = member(root, "image_exclude")) != NULL &&
        parse_image_exclude(c, o, p) < 0)
        return -EINVAL;
    if ((o = member(root, "state_mutation")) != NULL &&
        (want_object(c, o, "$.state_mutation", mut_keys) < 0 ||
         described(c, o, "$.state_mutation") < 0 ||
         parse_writes(c, o, "$.state_mutation", false, p->mut_writes,
                      &p->n_mut_writes) < 0))
        return -EINVAL;
    return 0;
}

static int line_at(const char *text, size_t off)
{
    int line = 1;

    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

/* The whole file, NUL-terminated; -errno with a message. */
static int slurp(const char *path, char **text, size_t *len, char *err,
                 size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t got;
    char *buf;

    if (f == NULL) {
        int e = errno;
        snprintf(err, cap, "%s: %s", path, strerror(e));
        return e == ENOENT ? -ENOENT : -e;
    }
    buf = malloc(PROFILE_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, cap, "%s: out of memory", path);
        return -ENOMEM;
    }
    got = fread(buf, 1, PROFILE_MAX_BYTES + 1, f);
    if (ferror(f) || got > PROFILE_MAX_BYTES) {
        snprintf(err, cap, "%s: %s", path,
                 ferror(f) ? strerror(errno) : "larger than 1 MiB");
        fclose(f);
        free(buf);
        return -EINVAL;
    }
    fclose(f);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

int vuc_profile_load(const char *path, struct vuc_profile *p, char *err,
                     size_t errcap)
{
    struct pctx c = {.file = path, .err = err, .cap = errcap};
    struct json_tokener *tok;
    json_object *root = NULL;
    enum json_tokener_error jerr;
    struct jscan sc;
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = slurp(path, &text, &len, err, errcap);
    if (rc < 0)
        return rc;
    c.text = text;
    c.len = len;
    tok = json_tokener_new();
    if (tok == NULL) {
        free(text);
        snprintf(err, errcap, "%s: out of memory", path);
        return -ENOMEM;
    }
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    if (len <= INT32_MAX)
        root = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    if (root == NULL || jerr != json_tokener_success) {
        size_t end = json_tokener_get_parse_end(tok);
        snprintf(err, errcap, "%s:%d: not valid JSON: %s", path,
                 line_at(text, end < len ? end : len),
                 jerr == json_tokener_continue ? "the file ends early"
                                               : json_tokener_error_desc(jerr));
        rc = -EINVAL;
        goto out;
    }
    /* what json-c lets by: not RFC 8259, or a key given twice */
    scan_text(&sc, text, len, NULL);
    if (sc.failed) {
        if (sc.bad_path[0] != '\0')
            snprintf(err, errcap, "%s:%d: %s: %s", path, sc.bad_line,
                     sc.bad_path, sc.bad_msg);
        else
            snprintf(err, errcap, "%s:%d: %s", path, sc.bad_line, sc.bad_msg);
        rc = -EINVAL;
        goto out;
    }
    rc = parse_root(&c, root, p);
    if (rc == 0 && (p->path = strdup(path)) == NULL)
        rc = -ENOMEM;
    if (rc == -ENOMEM)
        snprintf(err, errcap, "%s: out of memory", path);
out:
    json_object_put(root);
    json_tokener_free(tok);
    free(text);
    if (rc < 0)
        vuc_profile_free(p);
    return rc;
}

void vuc_profile_free(struct vuc_profile *p)
{
    free(p->path);
    free(p->name);
    memset(p, 0, sizeof(*p));
}
