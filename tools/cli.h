/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of the `cordon` command: exit codes, bounded file reading, error printing and
 * the one table of subcommands that both dispatch and `cordon help` read.
 */
#ifndef CORDON_TOOLS_CLI_H
#define CORDON_TOOLS_CLI_H

#include <stddef.h>
#include <stdio.h>
#include "base/diag.h"

enum cli_exit {
    CLI_OK = 0,         /* success, valid */
    CLI_FAIL = 1,       /* the policy or signature is invalid, verification failed */
    CLI_USAGE = 2,      /* wrong arguments, or a file could not be read or written */
    CLI_INCOMPLETE = 3, /* `cordon audit verify`: the log holds, but a writer stopped without
                           its stop record (at the end: not closed; or inside: a gap) */
};

struct cli_command {
    const char *name;                  /* "policy check" */
    const char *summary;               /* one line for `cordon help` */
    const char *usage;                 /* full --help text */
    int (*run)(int argc, char **argv); /* argv[0] is the last word of name */
};

/*
 * Read a whole file ("-" is standard input) into a malloc'd NUL-terminated buffer; refuses
 * files larger than max bytes. Returns 0 or a negative errno, and prints a sentence naming
 * the file on failure.
 */
__attribute__((warn_unused_result)) int cli_read_file(const char *path, size_t max, char **buf,
                                                      size_t *len);

/* "cordon CMD: " + message + newline on stderr. */
__attribute__((format(printf, 2, 3))) void cli_error(const char *cmd, const char *fmt, ...);

/* Print every diagnostic as "label: path: message", one a line, to f. */
void cli_print_diag(FILE *f, const char *label, const struct diag *d);

/* Show usage for cmd on stderr (usage error) and return CLI_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* If argv holds -h or --help, print cmd's usage to stdout and return 1. */
int cli_wants_help(const struct cli_command *cmd, int argc, char **argv);

/*
 * Find a file that ships with cordon: the path in the environment variable env when it is set
 * (and then only there), else each of rel (e.g. "/../shim/libcordon.so") appended to the
 * directory of the running cordon binary, else installed. mode is the access(2) mode the file
 * must allow (R_OK for a library, X_OK for a program). Writes the resolved path into out.
 * Returns 0 or -ENOENT.
 */
__attribute__((warn_unused_result)) int cli_find_file(const char *env, const char *const rel[],
                                                      size_t nrel, const char *installed, int mode,
                                                      char *out, size_t len);

struct policy;
/*
 * Validate and compile a policy document for this process's environment (workspace may be
 * NULL: the current directory). With deep set, also run policy_check_deep(). Errors go to d.
 * Returns 0 with *out (policy_free), CLI_FAIL when the document is invalid, CLI_USAGE when
 * the environment is unusable (a workspace that does not exist).
 */
__attribute__((warn_unused_result)) int cli_compile_policy(const char *buf, size_t len,
                                                           const char *workspace, int deep,
                                                           struct policy **out, struct diag *d);

/*
 * Read a policy document, or with trust_path a signed envelope verified against that trust
 * file, and return the policy JSON in *owned (caller frees). An envelope given without a
 * trust file is refused, never read as a policy. Prints the reason on failure. Returns
 * CLI_OK, CLI_FAIL (invalid, too large or unverifiable) or CLI_USAGE (unreadable).
 */
__attribute__((warn_unused_result)) int cli_read_policy(const char *cmd, const char *path,
                                                        const char *trust_path, char **owned,
                                                        size_t *len);

/* The subcommands, defined by the command files. */
extern const struct cli_command cmd_keygen, cmd_sign, cmd_verify, cmd_policy_check, cmd_explain,
    cmd_exec, cmd_audit_verify, cmd_audit_query, cmd_agent_add, cmd_agent_revoke, cmd_agent_list,
    cmd_policy_push, cmd_policy_reload, cmd_run, cmd_doctor, cmd_data_fingerprint;

#endif
