/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp half of the Linux sandbox: what Landlock cannot express. Socket families, types
 * and protocols (Landlock knows only TCP ports), TCP Fast Open (a connect hidden in sendto),
 * and the system calls an agent never needs and an escape often does (ptrace, io_uring, bpf,
 * mount, module loading, TIOCSTI, ...). Denials return an errno rather than killing, so the
 * agent prints a sane error; system calls of other ABIs (i386, x32) are refused outright.
 */
#ifndef CORDON_SANDBOX_SECCOMP_H
#define CORDON_SANDBOX_SECCOMP_H

#include "sandbox/sandbox.h"

/*
 * Load the filter for p's network mode (compiled into cordon at build time, see
 * seccomp_rules.c) for every thread of the process (TSYNC), unless dry_run. Needs
 * no_new_privs or CAP_SYS_ADMIN. Returns 0 or SANDBOX_ERR_* with err set.
 */
__attribute__((warn_unused_result)) int sandbox_seccomp_apply(const struct policy *p,
                                                              int dry_run,
                                                              struct sandbox_report *r,
                                                              char *err, size_t errlen);

#endif
