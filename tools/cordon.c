/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordon: the one command users type. This file only dispatches; each family of subcommands
 * lives in its own cmd_*.c and registers a struct cli_command.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

static const struct cli_command *const commands[] = {
    &cmd_run,
    &cmd_exec,
    &cmd_doctor,
    &cmd_keygen,
    &cmd_sign,
    &cmd_verify,
    &cmd_policy_check,
    &cmd_policy_push,
    &cmd_policy_reload,
    &cmd_explain,
    &cmd_audit_verify,
    &cmd_audit_query,
    &cmd_agent_add,
    &cmd_agent_revoke,
    &cmd_agent_list,
    &cmd_data_fingerprint,
    NULL,
};

static void print_help(FILE *f)
{
    fprintf(f, "usage: cordon COMMAND [ARGS...]\n\n"
               "cordon governs AI agents with one signed policy: a kernel sandbox around the\n"
               "agent's processes and a governance server in front of its model calls.\n\n"
               "Commands:\n");
    for (size_t i = 0; commands[i]; i++)
        fprintf(f, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-14s %s\n", "version", "print the version");
    fprintf(f, "  %-14s %s\n", "help [COMMAND]", "this text, or a command's own help");
    fprintf(f, "\nEvery command takes --help. Exit status: 0 success, 1 the policy or\n"
               "signature is invalid, 2 usage error (exec passes on its command's status).\n"
               "See docs/POLICY.md for the policy format, docs/SECURITY.md for what is\n"
               "enforced and its limits.\n");
}

/* Match argv against a (possibly two-word) command name; returns words consumed or 0. */
static int match(const struct cli_command *c, int argc, char **argv)
{
    const char *sp = strchr(c->name, ' ');
    if (!sp)
        return strcmp(argv[0], c->name) == 0 ? 1 : 0;
    size_t n = (size_t)(sp - c->name);
    if (strncmp(argv[0], c->name, n) != 0 || argv[0][n] != '\0' || argc < 2)
        return 0;
    return strcmp(argv[1], sp + 1) == 0 ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("cordon %s\n", CORDON_VERSION);
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        if (argc == 2 || strcmp(argv[1], "help") != 0) {
            print_help(stdout);
            return CLI_OK;
        }
        for (size_t i = 0; commands[i]; i++)
            if (match(commands[i], argc - 2, argv + 2)) {
                fputs(commands[i]->usage, stdout);
                return CLI_OK;
            }
        fprintf(stderr, "cordon help: no command \"%s\"; `cordon help` lists them\n", argv[2]);
        return CLI_USAGE;
    }
    for (size_t i = 0; commands[i]; i++) {
        int used = match(commands[i], argc - 1, argv + 1);
        if (!used)
            continue;
        int sub_argc = argc - used;
        char **sub_argv = argv + used;
        if (cli_wants_help(commands[i], sub_argc, sub_argv))
            return CLI_OK;
        return commands[i]->run(sub_argc, sub_argv);
    }
    if (strcmp(argv[1], "policy") == 0)
        fprintf(stderr, "cordon policy: expected a subcommand: check\n");
    else if (strcmp(argv[1], "data") == 0)
        fprintf(stderr, "cordon data: expected a subcommand: fingerprint\n");
    else if (strcmp(argv[1], "audit") == 0)
        fprintf(stderr, "cordon audit: expected a subcommand: verify or query\n");
    else
        fprintf(stderr, "cordon: unknown command \"%s\"; `cordon help` lists the commands\n",
                argv[1]);
    return CLI_USAGE;
}
