/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pre-start check of `cordon run` and `cordon exec`: before CMD starts, find the program
 * execvp will run and say so, once, when the policy will not let it run. Without it, a pyenv
 * or nvm shim refused by the sandbox makes a shell fall back to /usr/bin/python3 without a
 * word, or `cordon exec` ends with 126 and nothing to act on.
 */
#ifndef CORDON_TOOLS_PRECHECK_H
#define CORDON_TOOLS_PRECHECK_H

#include <stddef.h>
#include <stdio.h>
#include "policy/policy.h"

/*
 * The program execvp(cmd) runs: cmd itself when it holds a '/' (made absolute against the
 * current directory), else the first regular file with execute permission in path (a PATH
 * value; NULL or empty: "/bin:/usr/bin", glibc's default; an empty entry is the current
 * directory). out gets it (len bytes). Returns 0, or -ENOENT when nothing is found,
 * -ENAMETOOLONG when a candidate does not fit.
 */
__attribute__((warn_unused_result)) int precheck_resolve(const char *cmd, const char *path,
                                                         char *out, size_t len);

/*
 * Judge cmd under p as the sandbox will (decide_exec_reach, the shim's decision path), and the
 * interpreter of a "#!" script too (through path when it is "/usr/bin/env NAME"). When the
 * program may not run, msg gets one sentence (len bytes) naming the program, why, and the
 * policy line that would allow it; home (the agent's HOME, or NULL) lets it suggest a preset.
 * Returns 1 when it will be refused, 0 when it may run or is not found (the start reports
 * that itself).
 */
int precheck_judge(const struct policy *p, const char *cmd, const char *path, const char *home,
                   char *msg, size_t len);

/* precheck_judge with the process's PATH and HOME, printing "cordon WHO: warning: MSG" to
 * f when the program will be refused. Returns what precheck_judge returns. */
int precheck_warn(const struct policy *p, const char *who, const char *cmd, FILE *f);

#endif
