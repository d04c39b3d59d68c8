/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hooks' decisions, as pure functions of a compiled policy and a path or program: no
 * system state besides what the arguments say, no allocation, so the same code answers in a
 * hook, in a unit test under ASan, and in `cordon doctor`.
 */
#ifndef CORDON_SHIM_DECIDE_H
#define CORDON_SHIM_DECIDE_H

#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"

/*
 * The index of the sandbox.filesystem.deny entry that covers path (absolute, normalized),
 * comparing with both the rule's path and its symlink-resolved form; DECIDE_NONE when none
 * does. real may be NULL or the caller's realpath() of path, which is compared too.
 */
#define DECIDE_NONE (-1) /* no entry covers the path: an answer, not an error */
int decide_fs_deny(const struct policy *p, const char *path, const char *real);

/*
 * decide_fs_deny for the hooks, which ask it on every open: the length of each entry's path
 * and resolved path is measured once (decide_fs_prepare), so a check compares a length and
 * then bytes instead of measuring every entry again, and a resolved path equal to the path
 * is not compared twice. len holds 2 per entry (DECIDE_NO_PATH: none, or the resolved path
 * is the same as the path).
 */
#define DECIDE_NO_PATH UINT32_MAX
struct decide_fs_index {
    const struct policy *p;
    uint32_t *len;
};

/* Fill ix for p with cap uint32_t of mem; with too little room ix falls back to
 * decide_fs_deny (ix->len NULL). */
void decide_fs_prepare(struct decide_fs_index *ix, const struct policy *p, uint32_t *mem,
                       size_t cap);

/* What decide_fs_deny(ix->p, path, NULL) answers. */
int decide_fs_deny_indexed(const struct decide_fs_index *ix, const char *path);

/*
 * Whether program (absolute path of the file to execute; real its resolved form or NULL)
 * may run under sandbox.exec. Returns 0 when allowed, 1 when denied; rule receives the
 * words for the message ("sandbox.exec.deny \"rm\"", "not in sandbox.exec.allow").
 */
int decide_exec(const struct policy *p, const char *program, const char *real, char *rule,
                size_t rulelen);

/*
 * decide_exec, and whether the kernel's exec grants reach program at all: the sandbox gives
 * EXECUTE only beneath the search directories, the exec allow paths (presets included) and,
 * in denylist mode, policy_exec_system_dirs, and never inside a file system deny. The kernel
 * judges the file itself, so real (program with its symlinks followed; NULL when unknown) is
 * what is compared when given. Returns 0 when the program may run, else the reason:
 * DECIDE_EXEC_RULE (sandbox.exec refuses it; rule as decide_exec gives it),
 * DECIDE_EXEC_FS_DENY (it lies in a sandbox.filesystem.deny entry; rule names it) or
 * DECIDE_EXEC_UNREACHED (no exec grant covers it; rule says so).
 */
enum { DECIDE_EXEC_RULE = 1, DECIDE_EXEC_FS_DENY = 2, DECIDE_EXEC_UNREACHED = 3 };
int decide_exec_reach(const struct policy *p, const char *program, const char *real, char *rule,
                      size_t rulelen);

/*
 * Lexically make path absolute against base (a directory, absolute) and normalize it
 * ("//", ".", ".." are folded) into out. Returns 0, or -ENAMETOOLONG when it does not fit.
 */
int decide_abspath(const char *base, const char *path, char *out, size_t outlen);

/*
 * The CONNECT request head the connect hook sends to cordond's tunnel (docs/PROTOCOL.md
 * "Egress tunnel") for host (a name as dnsmap_name_check leaves it, a dotted IPv4 address,
 * or an IPv6 address in brackets) and port, authenticated with key (ck_...) and naming
 * session (32 lowercase hex characters, or empty). Everything is checked before a byte is
 * written, so a name with a space, a CR or a LF (the map is shared with every process of the
 * tree) can never add a line to the request. Returns the length written to out (without a
 * NUL), or -EINVAL with why pointing at words for a person (a hostile or empty field, or
 * out too small).
 */
int decide_connect_head(const char *host, uint16_t port, const char *key, const char *session,
                        char *out, size_t cap, const char **why);

#endif
