/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon exec`: run any command inside the kernel sandbox a policy describes. No shim and no
 * server: the sandbox is applied to this process, then the command replaces it and inherits
 * every restriction, as do all of its descendants.
 *
 * When the policy limits processes or memory (sandbox.limits) and a cgroup can be made, the
 * limit must be held from outside the sandbox: cordon exec then forks. The parent stays
 * outside, makes the group, passes signals on, and when the command ends kills what is left in
 * the group, removes it and exits as the command did; the child joins the group, applies the
 * sandbox and execs. Without such limits nothing forks: the common start stays one exec.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/path.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "shim/env.h"
#include "tools/cli.h"
#include "tools/precheck.h"
#include "tools/run.h"

/* The exit statuses of env(1) and timeout(1), so scripts can tell cordon's failure from the
 * command's. */
enum { EXEC_FAILED = 125, EXEC_CANNOT_RUN = 126, EXEC_NOT_FOUND = 127 };
enum report_form { REPORT_NONE, REPORT_JSON, REPORT_TEXT };

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

/*
 * Apply the sandbox to this process and exec cmd. Returns EXEC_FAILED when the sandbox cannot
 * be applied (nothing ran); does not return otherwise: the command runs, or this process
 * leaves with 126 or 127.
 */
static int sandbox_and_exec(const struct policy *p, const struct sandbox_opts *so,
                            enum report_form report, char **cmd)
{
    struct sandbox_report r;
    struct env_hidden hidden;
    char err[1024];
    /* what sandbox.env hides never reaches the command: exec copies environ as it is now */
    if (env_scrub(p, &hidden) != 0) {
        cli_error("exec",
                  "out of memory removing the variables sandbox.env hides; %s was not "
                  "started",
                  cmd[0]);
        return EXEC_FAILED;
    }
    if (sandbox_apply(p, so, &r, err, sizeof err) != SANDBOX_OK) {
        cli_error("exec", "%s", err);
        return EXEC_FAILED;
    }
    for (size_t i = 0; i < r.n_degradations; i++)
        fprintf(stderr, "cordon exec: warning: not enforced: %s\n", r.degradations[i]);
    if (report == REPORT_JSON) {
        cJSON *o = sandbox_report_object(&r);
        char *json = o && env_hidden_json(&hidden, o) == 0 ? cJSON_Print(o) : NULL;
        cJSON_Delete(o);
        if (json)
            fprintf(stderr, "%s\n", json);
        free(json);
    } else if (report == REPORT_TEXT) {
        char text[8192];
        sandbox_report_text(&r, text, sizeof text);
        fputs(text, stderr);
        fprintf(stderr, "env: %zu variable%s hidden (sandbox.env)%s", hidden.n,
                hidden.n == 1 ? "" : "s", hidden.n ? ":" : "");
        for (size_t o = 0; o < hidden.used; o += strlen(hidden.names + o) + 1)
            fprintf(stderr, " %s", hidden.names + o);
        fprintf(stderr, "%s\n", hidden.truncated ? " ..." : "");
    }
    fflush(stderr);
    execvp(cmd[0], cmd);
    int e = errno;
    char why[PATH_MAXLEN + 160];
    if (e == EACCES && run_exec_blocker(cmd[0], 1, why, sizeof why))
        cli_error("exec", "cannot run %s: the file system refused: %s (not the policy: %s)", cmd[0],
                  why, RUN_BLOCKED_FIX);
    else if (e == EACCES)
        cli_error("exec",
                  "cannot run %s: %s (the sandbox allows executing only the programs "
                  "in sandbox.exec; see `cordon explain`)",
                  cmd[0], strerror(e));
    else
        cli_error("exec", "cannot run %s: %s", cmd[0], strerror(e));
    /* Inside the sandbox now: leave without exit handlers, which (under a sanitizer, say)
     * may need what the sandbox refuses and would turn 126 into something else. */
    fflush(stderr);
    _exit(e == ENOENT ? EXEC_NOT_FOUND : EXEC_CANNOT_RUN);
}

/* ---------------------------------------------------------------- the cgroup launcher */

static const int forwarded[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};
static volatile sig_atomic_t command_pid;

static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    /* The terminal sends ^C, ^\ and window changes to the whole foreground process group,
     * the command included: passing them on would deliver them twice. */
    if (si && si->si_code == SI_KERNEL)
        return;
    int saved = errno;
    if (command_pid > 0)
        (void)kill((pid_t)command_pid, sig);
    errno = saved;
}

/* End this process the way the command ended: killed by sig, without a core of its own. */
static void die_like(int sig)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    _exit(128 + sig);
}

/*
 * Run cmd in group g: fork, the child joins g, applies the sandbox and execs; the parent waits
 * outside, passes signals on, and at the end kills what is left in g and removes it. Returns
 * the command's exit status (or EXEC_FAILED); *sig is the signal that ended the command, or 0.
 */
static int run_in_cgroup(struct sandbox_cgroup *g, const struct policy *p,
                         const struct sandbox_opts *so, enum report_form report, char **cmd,
                         int *sig)
{
    sigset_t block, old;
    char err[512];
    int status = 0, rc = EXEC_FAILED;
    *sig = 0;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(&block, forwarded[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    /* orphans of the command come back here, so that they can be reaped after the kill */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    pid_t self = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("exec", "cannot fork: %s; nothing was run", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* a launcher killed outright takes the command with it */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != self)
            _exit(EXEC_FAILED);
        int j = sandbox_cgroup_join(g, 0);
        if (j != 0) {
            cli_error("exec", "cannot join the cgroup made for the limits: %s; nothing was run",
                      strerror(-j));
            _exit(EXEC_FAILED);
        }
        _exit(sandbox_and_exec(p, so, report, cmd));
    }
    command_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    command_pid = 0;
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : EXEC_FAILED;
    if (WIFSIGNALED(status))
        *sig = WTERMSIG(status);
    unsigned long ooms = sandbox_cgroup_oom_kills(g);
    if (ooms)
        cli_error("exec",
                  "the memory limit (sandbox.limits.memory) was reached: the kernel "
                  "killed %lu process%s of the command",
                  ooms, ooms == 1 ? "" : "es");
out:
    /* what the command left running dies with the run, and the group goes */
    if (sandbox_cgroup_destroy(g, err, sizeof err) != 0)
        cli_error("exec", "warning: %s", err);
    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(-1, NULL, WNOHANG);
        if (w < 0)
            break; /* ECHILD: every child reaped */
        if (w == 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return rc;
}

static int run_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},    {"trust", required_argument, NULL, 't'},
        {"workspace", required_argument, NULL, 'w'}, {"proxy", required_argument, NULL, 'x'},
        {"report", optional_argument, NULL, 'r'},    {0, 0, 0, 0}};
    const char *policy_path = NULL, *trust_path = NULL, *workspace = NULL;
    struct sandbox_opts so = {0};
    enum report_form report = REPORT_NONE;
    int c, sig = 0;
    char *buf = NULL, cgerr[512] = "", err[1024];
    struct sandbox_cgroup *g = NULL;
    size_t len = 0;
    struct policy *p = NULL;
    struct diag *d = NULL;
    int rc = EXEC_FAILED;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy_path = optarg;
            break;
        case 't':
            trust_path = optarg;
            break;
        case 'w':
            workspace = optarg;
            break;
        case 'r':
            if (!optarg || strcmp(optarg, "json") == 0)
                report = REPORT_JSON;
            else if (strcmp(optarg, "text") == 0)
                report = REPORT_TEXT;
            else
                return cli_usage_error(&cmd_exec, "--report=%s: expected json or text", optarg);
            break;
        case 'x':
            if (so.n_proxy_ports == SANDBOX_MAX_PORTS ||
                parse_port(optarg, &so.proxy_ports[so.n_proxy_ports]) != 0)
                return cli_usage_error(&cmd_exec,
                                       "--proxy %s: expected a TCP port from 1 to "
                                       "65535 (at most %d of them)",
                                       optarg, SANDBOX_MAX_PORTS);
            so.n_proxy_ports++;
            break;
        default:
            return cli_usage_error(&cmd_exec, "unknown option");
        }
    }
    if (!policy_path)
        return cli_usage_error(&cmd_exec, "--policy is required");
    if (optind >= argc)
        return cli_usage_error(&cmd_exec, "name the command to run after --");

    char why[PATH_MAXLEN + 160];
    if (run_exec_blocker(argv[optind], 0, why, sizeof why)) {
        cli_error("exec", "cannot run %s: the file system refused: %s; nothing was run (%s)",
                  argv[optind], why, RUN_BLOCKED_FIX);
        rc = EXEC_CANNOT_RUN;
        goto out;
    }
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

    /* said before the sandbox exists, so the refusal inside it is not the first word */
    precheck_warn(p, "exec", argv[optind], stderr);

    /* the limits are held best by a group made from outside the sandbox; without one the
     * sandbox falls back to rlimits, or refuses (strict) what no rlimit can hold */
    g = run_limits_group(p, &so, cgerr, sizeof cgerr);
    if (g) {
        rc = run_in_cgroup(g, p, &so, report, argv + optind, &sig);
        g = NULL; /* destroyed there */
    } else {
        rc = sandbox_and_exec(p, &so, report, argv + optind);
    }
out:
    policy_free(p);
    free(buf);
    free(d);
    if (sig)
        die_like(sig);
    return rc;
}

const struct cli_command cmd_exec = {
    "exec",
    "run a command inside the kernel sandbox a policy describes",
    "usage: cordon exec --policy POLICY.json [--trust KEY.pub] [--workspace DIR]\n"
    "                   [--proxy PORT]... [--report[=json|text]] -- CMD ARGS...\n"
    "\n"
    "Apply the policy's sandbox (Landlock file system, exec and TCP rules, IPC scopes, a\n"
    "seccomp filter, no_new_privs, and for root all but the file capabilities dropped) to\n"
    "this process, then run CMD in it. CMD and all of its descendants stay inside; nothing\n"
    "they do can lift the restrictions. The variables sandbox.env hides (credentials such\n"
    "as AWS_SECRET_ACCESS_KEY, *_TOKEN, *_API_KEY) are not passed to CMD. See\n"
    "docs/SECURITY.md for the limits.\n"
    "\n"
    "  --policy FILE     the policy, or a signed envelope with --trust\n"
    "  --trust KEY.pub   verify the envelope with this public key first\n"
    "  --workspace DIR   the value of ${workspace} (default: the current directory)\n"
    "  --proxy PORT      in network mode \"proxy\", a TCP port CMD may connect to (the\n"
    "                    governance proxy); repeat for several\n"
    "  --report[=FORM]   print the enforcement report on standard error first: json\n"
    "                    (the default) or text\n"
    "\n"
    "With sandbox.limits.processes or .memory, cordon exec makes a cgroup for CMD when it\n"
    "may (root, or a delegated cgroup subtree): it then stays outside the sandbox as CMD's\n"
    "parent, passes signals on, and when CMD exits kills whatever CMD left in the group\n"
    "and removes it. Otherwise those limits are rlimits (see docs/POLICY.md).\n"
    "\n"
    "Under \"enforcement\": \"strict\" cordon refuses to run CMD when the kernel cannot\n"
    "enforce the policy; under \"best_effort\" it runs CMD and prints each gap.\n"
    "\n"
    "Before it starts CMD, cordon exec finds the program as execvp does (through PATH) and\n"
    "prints one warning when the policy will not let it run, naming the rule and the policy\n"
    "line that would allow it (a \"sandbox.presets\" entry, a \"sandbox.exec.allow\" path).\n"
    "\n"
    "Exit status: CMD's own; 125 cordon failed before running CMD (invalid policy or\n"
    "envelope, the kernel cannot enforce a strict policy); 126 CMD cannot be executed\n"
    "(for instance the sandbox denies it); 127 CMD was not found.\n",
    run_exec,
};
