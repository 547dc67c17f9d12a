// SPDX-License-Identifier: BSD-3-Clause
/*
 * A server's testimony: what a sanitizer, valgrind or the C library
 * wrote on its stderr when it failed. vucert finds the report's first
 * line, names the bug (kind and type) and the top frame of the stack in
 * the server's own code, so that findings can lead with what a device
 * author needs and be grouped by class.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "harness_priv.h"
#include "vucert/harness.h"

/* What in a server's stderr tells of its own failure: the first of
 * these starts the quote. */
static const char *const telling[] = {
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: MemorySanitizer",
    "WARNING: MemorySanitizer",
    "ERROR: ThreadSanitizer",
    "WARNING: ThreadSanitizer",
    "runtime error:",
    "UndefinedBehaviorSanitizer",
    "Assertion `",
    "Assertion failed",
    "assertion failed",
    "Assertion '",
    "*** stack smashing detected",
    "double free or corruption",
    "free(): invalid",
    "malloc(): ",
    "Invalid read of size",                    /* valgrind */
    "Invalid write of size",                   /* valgrind */
    "Invalid free",                            /* valgrind */
    "uninitialised value",                     /* valgrind */
    "definitely lost in",                      /* valgrind */
    "Process terminating with default action", /* valgrind */
};

/* valgrind's summary line with a non-zero count */
static const char *valgrind_errors(const char *s)
{
    const char *p = s;

    while ((p = strstr(p, "ERROR SUMMARY: ")) != NULL) {
        const char *n = p + strlen("ERROR SUMMARY: ");
        if (*n >= '1' && *n <= '9')
            return p;
        p = n;
    }
    return NULL;
}

const char *vuc_telling_line(const char *txt)
{
    const char *hit = NULL;

    for (size_t i = 0; i < sizeof(telling) / sizeof(telling[0]); i++) {
        const char *p = strstr(txt, telling[i]);
        if (p != NULL && (hit == NULL || p < hit))
            hit = p;
    }
    if (hit == NULL)
        hit = valgrind_errors(txt);
    if (hit != NULL)
        while (hit > txt && hit[-1] != '\n')
            hit--;
    return hit;
}

/* Frames that are the allocator, the sanitizer or the C library, not
 * the server: the class names the first frame after them. */
static bool runtime_frame(const char *fn, size_t n)
{
    static const char *const exact[] = {
        "malloc",       "calloc",        "realloc",      "free",
        "reallocarray", "valloc",        "memcpy",       "memmove",
        "memset",       "memcmp",        "bcmp",         "strlen",
        "strnlen",      "strcpy",        "strncpy",      "strcmp",
        "strncmp",      "strdup",        "strndup",      "abort",
        "raise",        "gsignal",       "pthread_kill", "posix_memalign",
        "memalign",     "aligned_alloc", "???",
    };

    if (n >= 2 && fn[0] == '_' && fn[1] == '_')
        return true;
    if ((n >= 12 && strncmp(fn, "operator new", 12) == 0) ||
        (n >= 15 && strncmp(fn, "operator delete", 15) == 0))
        return true;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strlen(exact[i]) == n && strncmp(fn, exact[i], n) == 0)
            return true;
    return false;
}

/* The line that starts at p, without "==PID==" and leading blanks. */
static const char *line_body(const char *p, const char *end)
{
    if (p < end && p[0] == '=' && p + 1 < end && p[1] == '=') {
        const char *q = memchr(p + 2, '=', (size_t)(end - p - 2));
        if (q != NULL && q + 1 < end && q[1] == '=')
            p = q + 2;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* A stack frame line: "#N 0x... in FN ..." (sanitizers) or
 * "at 0x...: FN (...)" / "by 0x...: FN (...)" (valgrind). Sets the
 * function's name and length. */
static bool frame_fn(const char *b, const char *end, const char **fn, size_t *n)
{
    const char *p;

    if (b < end && *b == '#' && b + 1 < end && isdigit((unsigned char)b[1])) {
        p = strstr(b, " in ");
        if (p == NULL || p >= end)
            return false;
        p += 4;
    } else if (end - b > 6 &&
               (strncmp(b, "at 0x", 5) == 0 || strncmp(b, "by 0x", 5) == 0)) {
        p = memchr(b, ':', (size_t)(end - b));
        if (p == NULL)
            return false;
        p += 2;
    } else {
        return false;
    }
    if (p >= end)
        return false;
    *fn = p;
    while (p < end && *p != ' ' && *p != '(')
        p++;
    *n = (size_t)(p - *fn);
    return *n > 0;
}

/* Words up to a stop word, joined by '-': "heap buffer overflow" and
 * "attempting double-free" become class words. */
static void words(const char *p, char *out, size_t cap)
{
    static const char *const stops[] = {" on ", " at ", " in ", " of ",
                                        " (",   ":",    " 0x",  " for "};
    const char *end = p + strcspn(p, "\n");
    size_t o = 0;

    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        const char *s = strstr(p, stops[i]);
        if (s != NULL && s < end && s > p)
            end = s;
    }
    for (; p < end && o + 1 < cap; p++) {
        if (isdigit((unsigned char)*p) || *p == '\'' || *p == '`')
            break;
        out[o++] = *p == ' ' ? '-' : (char)tolower((unsigned char)*p);
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    if (o == 0)
        snprintf(out, cap, "report");
}

static void kind_type(const char *line, const char *eol,
                      struct vuc_testimony *t)
{
    static const struct {
        const char *key, *kind, *type;
    } fixed[] = {
        {"LeakSanitizer", "lsan", "leak"},
        {"Invalid read of size", "valgrind", "invalid-read"},
        {"Invalid write of size", "valgrind", "invalid-write"},
        {"Invalid free", "valgrind", "invalid-free"},
        {"uninitialised value", "valgrind", "uninitialised-value"},
        {"definitely lost in", "valgrind", "definitely-lost"},
        {"Process terminating with default action", "valgrind", "fatal-signal"},
        {"ERROR SUMMARY: ", "valgrind", "errors"},
        {"*** stack smashing detected", "libc", "stack-smashing"},
        {"double free or corruption", "libc", "double-free-or-corruption"},
        {"free(): invalid", "libc", "invalid-free"},
        {"malloc(): ", "libc", "heap-corruption"},
        {"ssertion", "assert", "assertion"},
    };
    static const struct {
        const char *key, *kind;
    } san[] = {
        {"AddressSanitizer: ", "asan"},
        {"MemorySanitizer: ", "msan"},
        {"ThreadSanitizer: ", "tsan"},
        {"UndefinedBehaviorSanitizer: ", "ubsan"},
        {"runtime error: ", "ubsan"},
    };
    char l[512];
    size_t n = (size_t)(eol - line) < sizeof(l) - 1 ? (size_t)(eol - line)
                                                    : sizeof(l) - 1;

    memcpy(l, line, n);
    l[n] = '\0';
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strstr(l, fixed[i].key) != NULL) {
            snprintf(t->kind, sizeof(t->kind), "%s", fixed[i].kind);
            snprintf(t->type, sizeof(t->type), "%s", fixed[i].type);
            return;
        }
    for (size_t i = 0; i < sizeof(san) / sizeof(san[0]); i++) {
        const char *p = strstr(l, san[i].key);
        if (p != NULL) {
            snprintf(t->kind, sizeof(t->kind), "%s", san[i].kind);
            words(p + strlen(san[i].key), t->type, sizeof(t->type));
            return;
        }
    }
    snprintf(t->kind, sizeof(t->kind), "report");
    words(line_body(line, eol), t->type, sizeof(t->type));
}

/* UBSan's "path/file.c:12:5: runtime error: ...": "file.c:12". */
static void ubsan_site(const char *line, const char *eol, char *out, size_t cap)
{
    const char *re = strstr(line, ": runtime error:");
    const char *base = line, *colon;

    if (re == NULL || re > eol)
        return;
    for (const char *p = line; p < re; p++)
        if (*p == '/' || *p == ' ')
            base = p + 1;
    colon = memchr(base, ':', (size_t)(re - base));
    if (colon == NULL)
        return;
    colon = memchr(colon + 1, ':', (size_t)(re - colon - 1));
    snprintf(out, cap, "%.*s", (int)((colon ? colon : re) - base), base);
}

/* glibc's "prog: file.c:12: func: Assertion `x' failed.": func. */
static void assert_fn(const char *line, const char *eol, char *out, size_t cap)
{
    const char *a = strstr(line, ": Assertion");
    const char *p;

    if (a == NULL || a > eol)
        return;
    for (p = a; p > line && !(p[-1] == ' ' && p - 2 >= line && p[-2] == ':');
         p--)
        ;
    if (p > line)
        snprintf(out, cap, "%.*s", (int)(a - p), p);
}

bool vuc_testimony_parse(const char *txt, struct vuc_testimony *t)
{
    const char *first = txt ? vuc_telling_line(txt) : NULL;
    const char *p, *eol;
    size_t fo = 0;
    int nframes = 0, seen = 0;
    bool in_stack = false;

    memset(t, 0, sizeof(*t));
    if (first == NULL)
        return false;
    t->first = first;
    eol = first + strcspn(first, "\n");
    kind_type(first, eol, t);
    if (strcmp(t->kind, "ubsan") == 0)
        ubsan_site(first, eol, t->frame, sizeof(t->frame));
    else if (strcmp(t->kind, "assert") == 0)
        assert_fn(first, eol, t->frame, sizeof(t->frame));
    /* the first stack after the first line: its first frames, and the
     * first of them in the server's code */
    for (p = *eol ? eol + 1 : eol; *p && seen < 64; p = *eol ? eol + 1 : eol) {
        const char *b, *fn;
        size_t n;
        eol = p + strcspn(p, "\n");
        b = line_body(p, eol);
        seen++;
        if (!frame_fn(b, eol, &fn, &n)) {
            if (in_stack && b == eol)
                break; /* the blank line after the stack */
            continue;
        }
        in_stack = true;
        if (nframes < 3 && fo + 1 < sizeof(t->frames)) {
            int w = snprintf(t->frames + fo, sizeof(t->frames) - fo,
                             "%s    %.*s", fo ? "\n" : "", (int)(eol - b), b);
            if (w > 0)
                fo = fo + (size_t)w < sizeof(t->frames) ? fo + (size_t)w
                                                        : sizeof(t->frames) - 1;
            nframes++;
        }
        if (t->frame[0] == '\0' && !runtime_frame(fn, n))
            snprintf(t->frame, sizeof(t->frame), "%.*s", (int)n, fn);
        if (t->frame[0] != '\0' && nframes >= 3)
            break;
    }
    if (t->frame[0] == '\0')
        snprintf(t->frame, sizeof(t->frame), "?");
    snprintf(t->cls, sizeof(t->cls), "%s:%s:%s", t->kind, t->type, t->frame);
    return true;
}

void vuc_testimony_text(const struct vuc_testimony *t, char *buf, size_t cap)
{
    const char *eol = t->first + strcspn(t->first, "\n");

    snprintf(buf, cap, "%.*s%s%s", (int)(eol - t->first), t->first,
             t->frames[0] ? "\n" : "", t->frames);
}
