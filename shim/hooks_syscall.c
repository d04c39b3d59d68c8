/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The syscall() function: programs (and some runtimes) call system calls by number through
 * it, which would slip past the named hooks. The numbers that open files, connect, execute or
 * close descriptors go through the same gates as their libc wrappers; every other number is
 * forwarded untouched with all six arguments. A raw `syscall` instruction (static binaries,
 * Go) is beyond any hook: the kernel sandbox covers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/hooks.h"

static long (*r_syscall)(long, ...);

EXPORT long HOOK(syscall)(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    long rc;
    switch (n) {
#ifdef SYS_open
    case SYS_open:
        if (hooks_fs_gate(AT_FDCWD, (const char *)a1, (int)a2, "open") != 0)
            return -1;
        rc = REAL(syscall)(n, a1, a2, a3, a4, a5, a6);
        if (rc < 0)
            hooks_fs_after(AT_FDCWD, (const char *)a1, (int)a2, "open", errno);
        return rc;
#endif
    case SYS_openat:
        if (hooks_fs_gate((int)a1, (const char *)a2, (int)a3, "openat") != 0)
            return -1;
        rc = REAL(syscall)(n, a1, a2, a3, a4, a5, a6);
        if (rc < 0)
            hooks_fs_after((int)a1, (const char *)a2, (int)a3, "openat", errno);
        return rc;
#ifdef SYS_openat2
    case SYS_openat2: {
        const struct open_how *how = (const struct open_how *)a3;
        int flags = how ? (int)how->flags : 0;
        if (hooks_fs_gate((int)a1, (const char *)a2, flags, "openat2") != 0)
            return -1;
        rc = REAL(syscall)(n, a1, a2, a3, a4, a5, a6);
        if (rc < 0)
            hooks_fs_after((int)a1, (const char *)a2, flags, "openat2", errno);
        return rc;
    }
#endif
    case SYS_connect:
        return hooks_net_connect((int)a1, (const struct sockaddr *)a2, (socklen_t)a3);
    case SYS_execve:
        return hooks_exec_execve((const char *)a1, (char *const *)a2, (char *const *)a3);
    case SYS_execveat:
        return hooks_exec_execveat((int)a1, (const char *)a2, (char *const *)a3, (char *const *)a4,
                                   (int)a5);
    case SYS_close:
        return hooks_fd_close((int)a1);
#ifdef SYS_close_range
    case SYS_close_range:
        return hooks_fd_close_range((unsigned)a1, (unsigned)a2, (int)a3);
#endif
    default:
        return REAL(syscall)(n, a1, a2, a3, a4, a5, a6);
    }
}
