/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.limits on Linux: which mechanism holds each limit (a cgroup the process is already
 * in, or a resource limit), decided before anything changes so that strict mode can refuse
 * cleanly, then the resource limits themselves. Private to sandbox/ (linux.c calls it).
 */
#ifndef CORDON_SANDBOX_LIMITS_H
#define CORDON_SANDBOX_LIMITS_H

#include "sandbox/sandbox.h"

/*
 * Fill r->resources: for processes and memory, a cgroup of this process whose limit is at
 * most the policy's, else an rlimit; cpu_seconds and open_files always as rlimits. A limit
 * nothing can enforce (processes of a root agent outside such a cgroup: root is not counted
 * by RLIMIT_NPROC) is SANDBOX_ERR_UNSUPPORTED under strict, a degradation under best_effort.
 * Changes nothing. Returns 0 or SANDBOX_ERR_* with err set.
 */
__attribute__((warn_unused_result)) int sandbox_limits_plan(const struct policy *p,
                                                            const struct sandbox_opts *o,
                                                            struct sandbox_report *r, char *err,
                                                            size_t errlen);

/*
 * Set the planned rlimits, soft and hard alike, each at the policy's value or the hard limit
 * already in place when that is lower (an unprivileged process cannot raise it, and a lower
 * one binds anyway); r->resources[].value says which. Nothing is set under dry_run.
 * Returns 0 or SANDBOX_ERR_SYSCALL with err set.
 */
__attribute__((warn_unused_result)) int sandbox_limits_apply(struct sandbox_report *r, int dry_run,
                                                             char *err, size_t errlen);

#endif
