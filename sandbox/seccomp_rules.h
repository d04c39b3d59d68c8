/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp rules as a libseccomp filter context, for the build-time generator
 * (gen_seccomp.c) and the unit tests. Processes never call this: they load the BPF the
 * generator exported (seccomp.c).
 */
#ifndef CORDON_SANDBOX_SECCOMP_RULES_H
#define CORDON_SANDBOX_SECCOMP_RULES_H

#include <seccomp.h>
#include <stddef.h>
#include "policy/policy.h"
#include "sandbox/seccomp.h"

/*
 * Build the filter for a network mode, a unix-socket mode and a SysV IPC mode (allowed only
 * when the sandbox made an IPC namespace of its own). On success *out is a filter context
 * (caller releases it with seccomp_release) and *rules the number of rules added. Returns 0,
 * or a negative errno with err set.
 */
__attribute__((warn_unused_result)) int
sandbox_seccomp_build(enum policy_net mode, enum policy_unix ux, enum sandbox_sysv sysv,
                      scmp_filter_ctx *out, unsigned *rules, char *err, size_t errlen);

#endif
