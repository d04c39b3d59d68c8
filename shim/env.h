/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's environment without the variables its policy hides (sandbox.env): the root of a
 * governed tree removes them from environ and overwrites their bytes where the kernel put them
 * at exec, so neither getenv() nor /proc/PID/environ shows a hidden value, and every process
 * the tree starts inherits the environment without them. Names are kept for the enforcement
 * report; values never leave this module.
 */
#ifndef CORDON_SHIM_ENV_H
#define CORDON_SHIM_ENV_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "policy/policy.h"

/* Bytes of names kept for the report: with the sandbox report, an event fits in cordond's 4 KiB
 * message. The count covers every variable; only the names are cut short. */
#define ENV_NAMES_MAX 1024

struct env_hidden {
    size_t n;        /* variables removed from the environment */
    size_t scrubbed; /* of them, those whose bytes were overwritten in the kernel's block */
    size_t listed;   /* names held in names[] */
    size_t used;     /* bytes of names[] in use */
    int truncated;   /* some names did not fit */
    char names[ENV_NAMES_MAX]; /* the listed names, each NUL-terminated, one after another */
};

/*
 * Remove from environ every variable p hides, and overwrite with zero bytes each one that lies
 * in the block the kernel placed at exec (what /proc/self/environ reads; located from
 * /proc/self/stat, or below AT_EXECFN when /proc cannot be read). A string the program set
 * itself (setenv, putenv) is removed but left untouched: it may live in read-only memory.
 * Only the root of a tree calls this, before main() and before the sandbox: descendants
 * inherit the result. h gets what was hidden. Returns 0, or -ENOMEM (nothing removed).
 */
__attribute__((warn_unused_result)) int env_scrub(const struct policy *p, struct env_hidden *h);

/* Remove the variable name from environ and overwrite its string in the kernel's block, as
 * env_scrub does, before the caller sets it again: the root replaces the agent key it was
 * started with (CORDON_KEY) by the session token, and the key must not stay readable in
 * /proc/PID/environ. Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int env_forget(const char *name);

/* Add {"hidden": N, "names": [...], "scrubbed": M, "truncated": bool} as "env" to o (N counts
 * environment entries; a name given twice is listed once). Returns
 * 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int env_hidden_json(const struct env_hidden *h, cJSON *o);

/* One line for a person, "sandbox.env hid N variable(s) from the agent: A B ...; ..." with
 * no newline, into buf (truncated to len). Nothing is written when h->n is 0. Returns the
 * length. */
size_t env_hidden_line(const struct env_hidden *h, char *buf, size_t len);

#endif
