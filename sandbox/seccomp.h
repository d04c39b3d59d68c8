/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp half of the Linux sandbox: what Landlock cannot express. Socket families, types
 * and protocols (Landlock knows only TCP ports), TCP Fast Open (a connect hidden in sendto),
 * and the system calls an agent never needs and an escape often does (ptrace, io_uring, bpf,
 * mount, module loading, TIOCSTI, ...), calls that act on another process by pid (prlimit64,
 * sched_*, setpriority, ioprio_set) and SysV IPC. Denials return an errno rather than killing, so
 * the agent prints a sane error; system calls of other ABIs (i386, x32) are refused outright.
 */
#ifndef CORDON_SANDBOX_SECCOMP_H
#define CORDON_SANDBOX_SECCOMP_H

#include "sandbox/sandbox.h"

#include <linux/filter.h>

/* SysV IPC in the filter: refused, or allowed because the sandbox made an IPC namespace of
 * its own (the policy's "private" that the kernel granted; a "private" that could not be
 * made under best_effort is refused like "deny"). */
enum sandbox_sysv { SANDBOX_SYSV_DENY, SANDBOX_SYSV_ALLOW };

/*
 * Load the filter for network mode net (p's, or "proxy" for a mode "none" that may reach
 * cordond's API port: TCP sockets only), p's unix-socket mode and sysv (compiled into cordon at
 * build time, see seccomp_rules.c) for every thread of the process (TSYNC), unless dry_run.
 * Needs no_new_privs or CAP_SYS_ADMIN. Returns 0 or SANDBOX_ERR_* with err set.
 */
__attribute__((warn_unused_result)) int
sandbox_seccomp_apply(const struct policy *p, enum policy_net net, enum sandbox_sysv sysv,
                      int dry_run, struct sandbox_report *r, char *err, size_t errlen);

/* 1 when /proc/sys/kernel/seccomp/actions_logged lets the kernel log "errno" actions (the
 * filter's refusals) for a filter installed with SECCOMP_FILTER_FLAG_LOG, else 0. */
int sandbox_seccomp_errno_logged(void);

/* The compiled program for one combination, as the build made it (for the unit tests, which
 * build the rules again with libseccomp and compare): *len instructions, *rules rules. */
const struct sock_filter *sandbox_seccomp_program(enum policy_net net, enum policy_unix ux,
                                                  enum sandbox_sysv sysv, size_t *len,
                                                  unsigned *rules);

#endif
