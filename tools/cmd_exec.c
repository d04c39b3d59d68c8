/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon exec`: run any command inside the kernel sandbox a policy describes. No shim and no
 * server: the sandbox is applied to this process, then the command replaces it and inherits
 * every restriction, as do all of its descendants.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "sandbox/sandbox.h"
#include "tools/cli.h"

/* The exit statuses of env(1) and timeout(1), so scripts can tell cordon's failure from the
 * command's. */
enum { EXEC_FAILED = 125, EXEC_CANNOT_RUN = 126, EXEC_NOT_FOUND = 127 };

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int run_exec(int argc, char **argv)
{
    static const struct option opts[] = {{"policy", required_argument, NULL, 'p'},
                                         {"trust", required_argument, NULL, 't'},
                                         {"workspace", required_argument, NULL, 'w'},
                                         {"proxy", required_argument, NULL, 'x'},
                                         {"report", no_argument, NULL, 'r'},
                                         {0, 0, 0, 0}};
    const char *policy_path = NULL, *trust_path = NULL, *workspace = NULL;
    struct sandbox_opts so = {0};
    int report = 0, c;
    char *buf = NULL, err[1024];
    size_t len = 0;
    struct policy *p = NULL;
    struct diag *d = NULL;
    int rc = EXEC_FAILED;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'p': policy_path = optarg; break;
        case 't': trust_path = optarg; break;
        case 'w': workspace = optarg; break;
        case 'r': report = 1; break;
        case 'x':
            if (so.n_proxy_ports == SANDBOX_MAX_PORTS ||
                parse_port(optarg, &so.proxy_ports[so.n_proxy_ports]) != 0)
                return cli_usage_error(&cmd_exec, "--proxy %s: expected a TCP port from 1 to "
                                                  "65535 (at most %d of them)", optarg,
                                       SANDBOX_MAX_PORTS);
            so.n_proxy_ports++;
            break;
        default: return cli_usage_error(&cmd_exec, "unknown option");
        }
    }
    if (!policy_path)
        return cli_usage_error(&cmd_exec, "--policy is required");
    if (optind >= argc)
        return cli_usage_error(&cmd_exec, "name the command to run after --");

    if (!(d = malloc(sizeof *d)))
        goto out;
    diag_init(d);
    if (cli_read_policy("exec", policy_path, trust_path, &buf, &len) != CLI_OK)
        goto out;
    if (cli_compile_policy(buf, len, workspace, 0, &p, d) != CLI_OK) {
        cli_print_diag(stderr, policy_path, d);
        cli_error("exec", "%s is not a valid policy; nothing was run", policy_path);
        goto out;
    }
    if (strcmp(policy_path, "-") != 0 &&
        policy_check_policy_file(p, policy_path, err, sizeof err) != 0) {
        cli_error("exec", "%s; nothing was run", err);
        goto out;
    }

    struct sandbox_report r;
    if (sandbox_apply(p, &so, &r, err, sizeof err) != SANDBOX_OK) {
        cli_error("exec", "%s", err);
        goto out;
    }
    for (size_t i = 0; i < r.n_degradations; i++)
        fprintf(stderr, "cordon exec: warning: not enforced: %s\n", r.degradations[i]);
    if (report) {
        char *json = sandbox_report_json(&r);
        if (json)
            fprintf(stderr, "%s\n", json);
        free(json);
    }
    fflush(stderr);
    execvp(argv[optind], argv + optind);
    int e = errno;
    if (e == EACCES)
        cli_error("exec", "cannot run %s: %s (the sandbox allows executing only the programs "
                          "in sandbox.exec; see `cordon explain`)",
                  argv[optind], strerror(e));
    else
        cli_error("exec", "cannot run %s: %s", argv[optind], strerror(e));
    /* Inside the sandbox now: leave without exit handlers, which (under a sanitizer, say)
     * may need what the sandbox refuses and would turn 126 into something else. */
    fflush(stderr);
    _exit(e == ENOENT ? EXEC_NOT_FOUND : EXEC_CANNOT_RUN);
out:
    policy_free(p);
    free(buf);
    free(d);
    return rc;
}

const struct cli_command cmd_exec = {
    "exec",
    "run a command inside the kernel sandbox a policy describes",
    "usage: cordon exec --policy POLICY.json [--trust KEY.pub] [--workspace DIR]\n"
    "                   [--proxy PORT]... [--report] -- CMD ARGS...\n"
    "\n"
    "Apply the policy's sandbox (Landlock file system, exec and TCP rules, IPC scopes, a\n"
    "seccomp filter, no_new_privs, and for root all but the file capabilities dropped) to\n"
    "this process, then run CMD in it. CMD and all of its descendants stay inside; nothing\n"
    "they do can lift the restrictions. See docs/SECURITY.md for the limits.\n"
    "\n"
    "  --policy FILE     the policy, or a signed envelope with --trust\n"
    "  --trust KEY.pub   verify the envelope with this public key first\n"
    "  --workspace DIR   the value of ${workspace} (default: the current directory)\n"
    "  --proxy PORT      in network mode \"proxy\", a TCP port CMD may connect to (the\n"
    "                    governance proxy); repeat for several\n"
    "  --report          print the enforcement report (JSON) on standard error first\n"
    "\n"
    "Under \"enforcement\": \"strict\" cordon refuses to run CMD when the kernel cannot\n"
    "enforce the policy; under \"best_effort\" it runs CMD and prints each gap.\n"
    "\n"
    "Exit status: CMD's own; 125 cordon failed before running CMD (invalid policy or\n"
    "envelope, the kernel cannot enforce a strict policy); 126 CMD cannot be executed\n"
    "(for instance the sandbox denies it); 127 CMD was not found.\n",
    run_exec,
};
