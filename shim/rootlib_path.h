/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where libcordon-root.so is: beside libcordon.so, under a fixed name. The root sequence
 * (shim/root.c) needs the path to keep the library readable inside the sandbox, and
 * libcordon.so (shim/shim.c) to load it; both take it from here, so neither includes the
 * other's module. No libc call: libcordon.so computes it before anything else is set up.
 */
#ifndef CORDON_SHIM_ROOTLIB_PATH_H
#define CORDON_SHIM_ROOTLIB_PATH_H

#include <errno.h>
#include <stddef.h>

#define ROOTLIB_FILE "libcordon-root.so" /* next to libcordon.so */

/* The path of libcordon-root.so beside the shim at shim_path, into out (len bytes). Returns
 * 0, -EINVAL when shim_path is empty, -ENAMETOOLONG when out is too small. */
static inline int rootlib_path(const char *shim_path, char *out, size_t len)
{
    const char *slash = NULL;
    for (const char *s = shim_path; *s; s++)
        if (*s == '/')
            slash = s;
    size_t dir = slash ? (size_t)(slash - shim_path) + 1 : 0;
    size_t need = dir + sizeof ROOTLIB_FILE;
    if (!shim_path[0])
        return -EINVAL;
    if (need > len)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < dir; i++)
        out[i] = shim_path[i];
    for (size_t i = 0; i < sizeof ROOTLIB_FILE; i++)
        out[dir + i] = ROOTLIB_FILE[i];
    return 0;
}

#endif
