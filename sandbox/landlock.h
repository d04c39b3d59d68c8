/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Landlock for the Linux sandbox: the ruleset built from a compiled policy (file system grants
 * with sibling expansion around denies, EXECUTE per program, TCP port rules and IPC scopes),
 * at the ABI the running kernel reports. The constants are landlock_abi.h.
 */
#ifndef CORDON_SANDBOX_LANDLOCK_H
#define CORDON_SANDBOX_LANDLOCK_H

#include <stdint.h>
#include "sandbox/landlock_abi.h"
#include "sandbox/sandbox.h"

/* The highest ABI whose meaning this file knows. Newer kernels are used at this level:
 * upstream has renumbered features above it before, so nothing is guessed. */
#define SANDBOX_LANDLOCK_KNOWN_ABI 7

/*
 * Build the ruleset for p at ABI abi (>= 1) and, unless o->dry_run, restrict the calling
 * thread with it. Counts and timings go to r. Returns 0, or SANDBOX_ERR_* with err set.
 */
__attribute__((warn_unused_result)) int sandbox_landlock_apply(const struct policy *p,
                                                               const struct sandbox_opts *o,
                                                               int abi, struct sandbox_report *r,
                                                               char *err, size_t errlen);

/* Every LANDLOCK_ACCESS_FS_* right that ABI abi handles. */
uint64_t sandbox_landlock_fs_rights(int abi);

#endif
