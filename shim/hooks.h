/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gates the hook families share, so that syscall() and the libc wrappers reach the same
 * decision by the same code. Each returns 0 to let the call through and -1 (errno set) to
 * refuse it; denials are reported by the gate itself.
 */
#ifndef CORDON_SHIM_HOOKS_H
#define CORDON_SHIM_HOOKS_H

#include <sys/socket.h>
#include "shim/shim.h"

int hooks_fs_gate(int dirfd, const char *path, int flags, const char *what) HIDDEN;
/* After a real open failed: report a kernel refusal (EACCES/EPERM) with the path. */
void hooks_fs_after(int dirfd, const char *path, int flags, const char *what, int err) HIDDEN;
int hooks_fd_close(int fd) HIDDEN;
int hooks_fd_close_range(unsigned first, unsigned last, int flags) HIDDEN;

int hooks_exec_execve(const char *path, char *const argv[], char *const envp[]) HIDDEN;
int hooks_exec_execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                        int flags) HIDDEN;
int hooks_net_connect(int fd, const struct sockaddr *sa, socklen_t len) HIDDEN;

#endif
