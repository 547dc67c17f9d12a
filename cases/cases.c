// SPDX-License-Identifier: BSD-3-Clause
/* The case registry: every case, in run order. */
#include <fnmatch.h>

#include "cases_priv.h"

size_t vuc_cases_all(struct vuc_case *out, size_t max)
{
    size_t n = 0;

    n += vuc_cases_negotiate(out + n, n < max ? max - n : 0);
    n += vuc_cases_fsm(out + n, n < max ? max - n : 0);
    n += vuc_cases_stream(out + n, n < max ? max - n : 0);
    n += vuc_cases_dirty(out + n, n < max ? max - n : 0);
    n += vuc_cases_device(out + n, n < max ? max - n : 0);
    n += vuc_cases_backend(out + n, n < max ? max - n : 0);
    n += vuc_cases_robust(out + n, n < max ? max - n : 0);
    return n;
}

bool vuc_case_selected(const char *id, const char *const *include,
                       size_t n_include, const char *const *exclude,
                       size_t n_exclude)
{
    bool in = n_include == 0;

    for (size_t i = 0; i < n_include && !in; i++)
        in = fnmatch(include[i], id, 0) == 0;
    for (size_t i = 0; i < n_exclude && in; i++)
        in = fnmatch(exclude[i], id, 0) != 0;
    return in;
}
