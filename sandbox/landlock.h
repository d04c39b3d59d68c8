/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Landlock for the Linux sandbox: the constants newer than Debian's kernel headers (defined
 * here behind guards and chosen by the ABI the running kernel reports), and the ruleset built
 * from a compiled policy: file system grants with sibling expansion around denies, EXECUTE per
 * program, TCP port rules and IPC scopes.
 */
#ifndef CORDON_SANDBOX_LANDLOCK_H
#define CORDON_SANDBOX_LANDLOCK_H

#include <linux/landlock.h>
#include <stdint.h>
#include "sandbox/sandbox.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif

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
