/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Descriptor hooks: close, close_range, dup2, dup3. The shim holds a few inherited
 * descriptors (the event channel, the sealed policy cache, the DNS map)
 * that descendants need; programs that close every descriptor before exec (Python's
 * subprocess with close_fds, daemons) would otherwise cut every grandchild off its policy.
 *
 * The choice: close() and close_range() on a shim descriptor report success and leave it
 * open (the program believes it closed it and never uses the number again); dup2()/dup3()
 * onto a shim descriptor first move the shim's descriptor to a free number and then do what
 * was asked, so the program gets exactly the descriptor it wanted.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/hooks.h"

static int (*r_close)(int);
static int (*r_close_range)(unsigned, unsigned, int);
static int (*r_dup2)(int, int);
static int (*r_dup3)(int, int, int);

int hooks_fd_close(int fd)
{
    if (shim_is_own_fd(fd))
        return 0;
    return REAL(close)(fd);
}

static int real_close_range(unsigned first, unsigned last, int flags)
{
    if (REAL(close_range))
        return r_close_range(first, last, flags);
    return (int)syscall(SYS_close_range, first, last, flags);
}

int hooks_fd_close_range(unsigned first, unsigned last, int flags)
{
    /* Close the range around each shim descriptor inside it, lowest first. */
    unsigned lo = first;
    for (;;) {
        unsigned next = ~0u;
        for (int i = 0; i < SHIM_FD_COUNT; i++) {
            int fd = atomic_load(&shim.fds[i]);
            if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= last && (unsigned)fd < next)
                next = (unsigned)fd;
        }
        if (next == ~0u)
            return lo <= last ? real_close_range(lo, last, flags) : 0;
        if (next > lo && real_close_range(lo, next - 1, flags) != 0)
            return -1;
        if (next == last)
            return 0;
        lo = next + 1;
    }
}

EXPORT int HOOK(close)(int fd)
{
    return hooks_fd_close(fd);
}

EXPORT int HOOK(close_range)(unsigned first, unsigned last, int flags)
{
    if (first > last) {
        errno = EINVAL;
        return -1;
    }
    return hooks_fd_close_range(first, last, flags);
}

EXPORT int HOOK(dup2)(int oldfd, int newfd)
{
    if (oldfd != newfd && shim_is_own_fd(newfd))
        shim_move_own_fd(newfd);
    return REAL(dup2)(oldfd, newfd);
}

EXPORT int HOOK(dup3)(int oldfd, int newfd, int flags)
{
    if (oldfd != newfd && shim_is_own_fd(newfd))
        shim_move_own_fd(newfd);
    return REAL(dup3)(oldfd, newfd, flags);
}
