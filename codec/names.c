/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Names for migration states and errnos, for reports, traces and the
 * command line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "vucert/codec.h"

/* spec: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, the state table */
static const char *const state_names[VUC_STATE_NR] = {
    [VUC_STATE_ERROR] = "ERROR",
    [VUC_STATE_STOP] = "STOP",
    [VUC_STATE_RUNNING] = "RUNNING",
    [VUC_STATE_STOP_COPY] = "STOP_COPY",
    [VUC_STATE_RESUMING] = "RESUMING",
    [VUC_STATE_RUNNING_P2P] = "RUNNING_P2P",
    [VUC_STATE_PRE_COPY] = "PRE_COPY",
    [VUC_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};
_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == 8,
               "the spec defines states 0-7");

/* The spec name of state, or "INVALID" for >= 8. No errors. */
const char *vuc_state_name(uint32_t state)
{
    return state < VUC_STATE_NR ? state_names[state] : "INVALID";
}

/* ASCII only: locale must not change what a state name means. */
static char fold(char c)
{
    if (c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    if (c == '-')
        return '_';
    return c;
}

/* name equals the spec name ref, ignoring case and '-' for '_'. */
static int name_eq(const char *name, const char *ref)
{
    for (; *name && *ref; name++, ref++) {
        if (fold(*name) != *ref)
            return 0;
    }
    return *name == '\0' && *ref == '\0';
}

/*
 * Parse "STOP_COPY", "stop_copy", "stop-copy", ... into *state.
 * Returns 0. Errors: -EINVAL NULL or unknown name (including "INVALID").
 */
int vuc_state_parse(const char *name, uint32_t *state)
{
    uint32_t i;

    if (!name)
        return -EINVAL;
    for (i = 0; i < VUC_STATE_NR; i++) {
        if (name_eq(name, state_names[i])) {
            *state = i;
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * Linux values are what matter on the wire, but the table is built from
 * <errno.h> so it is right on any host. Aliases with the same value on
 * Linux (EOPNOTSUPP/ENOTSUP, EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK) come
 * first-listed-wins; glibc's strerrorname_np() makes the same choices.
 */
static const struct {
    int num;
    const char *name;
} errno_names[] = {
#define E(x)                                                                   \
    {                                                                          \
        x, #x                                                                  \
    }
    E(EPERM),
    E(ENOENT),
    E(ESRCH),
    E(EINTR),
    E(EIO),
    E(ENXIO),
    E(E2BIG),
    E(ENOEXEC),
    E(EBADF),
    E(ECHILD),
    E(EAGAIN),
    E(ENOMEM),
    E(EACCES),
    E(EFAULT),
    E(EBUSY),
    E(EEXIST),
    E(EXDEV),
    E(ENODEV),
    E(ENOTDIR),
    E(EISDIR),
    E(EINVAL),
    E(ENFILE),
    E(EMFILE),
    E(ENOTTY),
    E(EFBIG),
    E(ENOSPC),
    E(ESPIPE),
    E(EROFS),
    E(EMLINK),
    E(EPIPE),
    E(EDOM),
    E(ERANGE),
    E(EDEADLK),
    E(ENAMETOOLONG),
    E(ENOLCK),
    E(ENOSYS),
    E(ENOTEMPTY),
    E(ELOOP),
    E(ENOMSG),
    E(EIDRM),
    E(ENODATA),
    E(ETIME),
    E(EPROTO),
    E(EBADMSG),
    E(EOVERFLOW),
    E(EILSEQ),
    E(ENOTSOCK),
    E(EMSGSIZE),
    E(EPROTOTYPE),
    E(ENOPROTOOPT),
    E(EOPNOTSUPP),
    E(ENOTSUP),
    E(EADDRINUSE),
    E(EADDRNOTAVAIL),
    E(ENETDOWN),
    E(ECONNABORTED),
    E(ECONNRESET),
    E(ENOBUFS),
    E(EISCONN),
    E(ENOTCONN),
    E(ESHUTDOWN),
    E(ETIMEDOUT),
    E(ECONNREFUSED),
    E(EALREADY),
    E(EINPROGRESS),
    E(ECANCELED),
    E(EPROTONOSUPPORT),
#undef E
};

/*
 * The symbolic name of err ("EINVAL"), or "E<number>" (also "E0")
 * written into buf and returned. If buf cannot hold the whole of that,
 * returns the constant "E?" rather than a truncated number. No errors.
 */
const char *vuc_errno_name(uint32_t err, char *buf, size_t cap)
{
    size_t i;
    int n;

    for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++) {
        if ((uint32_t)errno_names[i].num == err)
            return errno_names[i].name;
    }
    if (!buf || cap == 0)
        return "E?";
    n = snprintf(buf, cap, "E%u", err);
    if (n < 0 || (size_t)n >= cap)
        return "E?";
    return buf;
}
