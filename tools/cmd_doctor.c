/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon doctor`: what this machine can enforce, checked rather than assumed. It probes the
 * kernel (Landlock ABI, seccomp, user namespaces, no_new_privs), finds libcordon.so and
 * proves that it loads by running /bin/true under it with a throwaway key and a permissive
 * signed policy, waiting for the shim's handshake; with --policy it also shows what a policy
 * would get enforced here (a dry run of the sandbox, nothing is restricted).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/sign/envelope.h"
#include "policy/sign/key.h"
#include "policy/policy.h"
#include "policy/server/kaudit.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "tools/cli.h"
#include "tools/run.h"

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

/*
 * The dry run as `cordon exec` would meet it: with sandbox.limits.processes or .memory, in a
 * cgroup made for it (joined by a child, which hands the report back), as cordon exec makes
 * one. Returns sandbox_apply's result.
 */
static int dry_run_like_exec(const struct policy *p, struct sandbox_opts *so,
                             struct sandbox_report *r, char *err, size_t errlen)
{
    char cgerr[512] = "";
    struct sandbox_cgroup *g = run_limits_group(p, so, cgerr, sizeof cgerr);
    if (!g)
        return sandbox_apply(p, so, r, err, errlen);
    struct result {
        int rc;
        struct sandbox_report r;
        char err[1024];
    } *res = calloc(1, sizeof *res);
    int fds[2], rc = SANDBOX_ERR_SYSCALL;
    if (!res || pipe(fds) != 0) {
        snprintf(err, errlen, "doctor: cannot run the dry run in a cgroup");
        goto out;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        res->rc = sandbox_cgroup_join(g, 0) == 0
                      ? sandbox_apply(p, so, &res->r, res->err, sizeof res->err)
                      : SANDBOX_ERR_SYSCALL;
        ssize_t w = write(fds[1], res, sizeof *res);
        _exit(w == (ssize_t)sizeof *res ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (pid > 0 && got < sizeof *res) {
        ssize_t n = read(fds[0], (char *)res + got, sizeof *res - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (got == sizeof *res) {
        rc = res->rc;
        *r = res->r;
        snprintf(err, errlen, "%s", res->err);
    } else {
        snprintf(err, errlen, "doctor: the dry run in a cgroup did not report");
    }
out:
    free(res);
    (void)sandbox_cgroup_destroy(g, NULL, 0);
    return rc;
}

static int read_int_file(const char *path, long *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    int ok = fscanf(f, "%ld", v) == 1;
    fclose(f);
    return ok ? 0 : -EINVAL;
}

/* Sign a permissive policy with a throwaway key in dir and run /bin/true under the shim. */
static int check_shim_loads(const char *shim, char *msg, size_t len)
{
    char dir[] = "/tmp/cordon-doctor-XXXXXX", prefix[64], envp[96], pub[72], err[512];
    char *env = NULL, line[128];
    struct key_secret *k = NULL;
    int rc = -EIO;
    if (!mkdtemp(dir)) {
        rc = -errno;
        snprintf(msg, len, "cannot create a temporary directory: %s", strerror(-rc));
        return rc;
    }
    snprintf(prefix, sizeof prefix, "%s/doctor", dir);
    snprintf(envp, sizeof envp, "%s/doctor.envelope", dir);
    snprintf(pub, sizeof pub, "%s/doctor.pub", dir);
    /* No read_write grant: the envelope lies in a temporary directory, and a policy file the
     * sandbox could rewrite is refused. */
    static const char policy[] = "{\"cordon_policy\":1,\"agent\":\"doctor\",\"sandbox\":"
                                 "{\"enforcement\":\"best_effort\",\"filesystem\":"
                                 "{\"read_write\":[]},\"network\":{\"mode\":\"host\"}}}";
    char keyfile[80];
    snprintf(keyfile, sizeof keyfile, "%s.key", prefix);
    struct envelope_stamp st = {1, time(NULL) - 60, time(NULL) + 600};
    if (key_generate(prefix, NULL, err, sizeof err) != 0 ||
        key_secret_load(keyfile, &k, err, sizeof err) != 0 ||
        envelope_sign(policy, sizeof policy - 1, &st, k, &env, err, sizeof err) != 0) {
        snprintf(msg, len, "cannot make the test policy: %.400s", err);
        goto out;
    }
    FILE *f = fopen(envp, "w");
    if (!f || fputs(env, f) < 0 || fclose(f) != 0) {
        snprintf(msg, len, "cannot write %s", envp);
        goto out;
    }
    setenv("CORDON_POLICY", envp, 1);
    setenv("CORDON_TRUST", pub, 1);
    setenv("CORDON_WORKSPACE", dir, 1);
    setenv("CORDON_LOG", "off", 1);
    unsetenv("CORDON_SERVER");
    unsetenv("CORDON_PROFILE");
    unsetenv("CORDON_SESSION");
    pid_t pid;
    int exec_errno;
    char *argv[] = {"/bin/true", NULL};
    int s = run_start(argv, shim, 5, &pid, &exec_errno, line, sizeof line);
    if (s == RUN_STARTED) {
        snprintf(msg, len, "loads (/bin/true answered: %s)", line);
        rc = 0;
    } else if (s == RUN_EXEC_FAILED) {
        snprintf(msg, len, "cannot run /bin/true: %s", strerror(exec_errno));
    } else if (s == RUN_SHIM_REFUSED) {
        snprintf(msg, len, "loads but REFUSED the test policy (its reason is above)");
    } else {
        snprintf(msg, len, "does NOT load: /bin/true gave no handshake in 5 s");
    }
out:
    key_secret_free(k);
    free(env);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* kernel_audit (docs/SERVER.md "Kernel refusals"): what the kernel's audit state means for
 * each mode here. Information only: kernel audit is opt-in, never a problem. */
static void doctor_kernel_audit(int abi)
{
    struct kaudit_state st;
    char err[512];
    int rc = kaudit_state_get(&st, err, sizeof err);
    int ll = abi >= 7, sc = sandbox_seccomp_errno_logged();
    if (rc != 0) {
        printf("kernel audit    unknown: %s\n", err);
        printf("                kernel_audit if-enabled (the default) and on need cordond to run "
               "as root\n");
        return;
    }
    printf("kernel audit    %s, backlog limit %u, %u lost since boot%s%s\n",
           st.enabled == 2   ? "enabled and locked"
           : st.enabled == 1 ? "enabled"
                             : "off",
           st.backlog_limit, st.lost, st.pid ? ", an audit daemon is registered" : "",
           st.rate_limit ? ", rate limited" : "");
    printf("                Landlock refusals %s; seccomp refusals %s\n",
           ll ? "logged (ABI 7: the tree's executed programs too)"
              : "NOT logged (Landlock audit needs ABI 7, Linux 6.15)",
           sc ? "logged"
              : "NOT logged (\"errno\" is not in /proc/sys/kernel/seccomp/actions_logged)");
    if (st.enabled)
        printf("                kernel_audit if-enabled (the default) records them as "
               "kernel.deny%s\n",
               st.backlog_limit < KAUDIT_BACKLOG
                   ? "; a backlog limit this low drops most of a burst (on raises it to 8192)"
                   : "");
    else
        printf("                kernel_audit if-enabled (the default) records nothing while audit "
               "is off; kernel_audit on (cordon run --kernel-audit on) enables it for the run "
               "and restores it afterwards\n");
}

static int run_doctor(int argc, char **argv)
{
    static const struct option opts[] = {{"policy", required_argument, NULL, 'p'},
                                         {"trust", required_argument, NULL, 't'},
                                         {"workspace", required_argument, NULL, 'w'},
                                         {0, 0, 0, 0}};
    const char *policy_path = NULL, *trust = NULL, *workspace = NULL;
    int c, problems = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy_path = optarg;
            break;
        case 't':
            trust = optarg;
            break;
        case 'w':
            workspace = optarg;
            break;
        default:
            return cli_usage_error(&cmd_doctor, "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error(&cmd_doctor, "unexpected argument %s", argv[optind]);

    struct utsname u;
    if (uname(&u) == 0)
        printf("kernel          %s %s %s\n", u.sysname, u.release, u.machine);
    int abi = sandbox_probe_landlock_abi();
    printf("landlock        %s", abi > 0 ? "available" : "UNAVAILABLE");
    if (abi > 0)
        printf(", ABI %d%s", abi,
               abi < 4 ? " (no TCP rules: network \"proxy\" and \"none\" need ABI 4, Linux 6.7)"
                       : "");
    else
        printf(" (enable it: lsm=landlock on the kernel command line, Linux 5.13+)");
    printf("\n");
    if (abi <= 0)
        problems++;
    long v;
    int seccomp = access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0;
    printf("seccomp         %s\n", seccomp ? "available (filter mode)" : "UNAVAILABLE");
    if (!seccomp)
        problems++;
    if (read_int_file("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0)
        printf("user namespaces unprivileged_userns_clone=%ld\n", v);
    else if (read_int_file("/proc/sys/user/max_user_namespaces", &v) == 0)
        printf("user namespaces max_user_namespaces=%ld%s\n", v,
               v == 0 ? " (disabled)" : " (a sandboxed agent cannot create them: seccomp)");
    printf("no_new_privs    %s\n", sandbox_probe_no_new_privs()
                                       ? "already set (this shell runs inside a sandbox)"
                                       : "not set");
    int mode = sandbox_probe_seccomp_mode();
    printf("seccomp here    %s\n", mode == 2   ? "a filter applies to this shell"
                                   : mode == 0 ? "none"
                                               : "unknown");

    doctor_kernel_audit(abi);

    char shim[PATH_MAX], msg[512];
    if (run_find_shim(shim, sizeof shim) != 0) {
        printf("libcordon.so    NOT FOUND (next to cordon, the build tree or the library "
               "directory; set CORDON_SHIM_LIBRARY)\n");
        problems++;
    } else {
        printf("libcordon.so    %s\n", shim);
        fflush(stdout);
        char alias[RUN_ALIAS_DIR];
        int ok = run_shim_alias(shim, sizeof shim, alias, msg, sizeof msg);
        if (ok == 0)
            ok = check_shim_loads(shim, msg, sizeof msg);
        run_shim_alias_remove(alias);
        printf("shim            %s\n", msg);
        if (ok != 0)
            problems++;
    }

    if (policy_path) {
        char *buf = NULL, err[1024];
        size_t len = 0;
        struct policy *p = NULL;
        struct diag *d = malloc(sizeof *d);
        if (!d)
            return CLI_FAIL;
        diag_init(d);
        if (cli_read_policy("doctor", policy_path, trust, &buf, &len) != CLI_OK ||
            cli_compile_policy(buf, len, workspace, 0, &p, d) != CLI_OK) {
            cli_print_diag(stderr, policy_path, d);
            free(buf);
            free(d);
            return CLI_FAIL;
        }
        struct sandbox_opts so = {.dry_run = 1, .n_proxy_ports = 1, .proxy_ports = {8443}};
        struct sandbox_report r;
        printf("\npolicy %s (agent \"%s\", %s, %s):\n", policy_path, p->agent,
               policy_enforcement_name(p->sandbox.enforcement), policy_mode_name(p->mode));
        if (dry_run_like_exec(p, &so, &r, err, sizeof err) != SANDBOX_OK) {
            printf("  REFUSED here: %s\n", err);
            problems++;
        } else {
            printf("  file system   %u rules (%u directories expanded around denials)\n",
                   r.fs_rules, r.expanded_dirs);
            printf("  exec          %u rules\n", r.exec_rules);
            printf("  network       %s, %u TCP port rules\n", policy_net_name(r.net_mode),
                   r.net_rules);
            printf("  seccomp       %u rules\n", r.seccomp_rules);
            printf("  sysv ipc      %s\n", r.ipc_namespace
                                               ? "allowed in an IPC namespace of the sandbox's own"
                                               : "refused by seccomp");
            for (int i = 0; i < SANDBOX_N_LIMITS; i++) {
                const struct sandbox_limit_state *ls = &r.resources[i];
                if (ls->via == SANDBOX_VIA_UNSET)
                    continue;
                printf("  %-13s %llu, %s (%s)\n", sandbox_limit_name((enum sandbox_limit)i),
                       (unsigned long long)ls->want, sandbox_via_name(ls->via), ls->where);
            }
            for (size_t i = 0; i < r.n_degradations; i++)
                printf("  not enforced: %s\n", r.degradations[i]);
            for (size_t i = 0; i < r.n_limits; i++)
                printf("  limit: %s\n", r.limits[i]);
        }
        policy_free(p);
        free(buf);
        free(d);
    }
    printf("\n%s\n", problems ? "problems found: see the lines in capitals above"
                              : "ok: this machine can run governed agents");
    return problems ? CLI_FAIL : CLI_OK;
}

const struct cli_command cmd_doctor = {
    "doctor",
    "check what this machine can enforce, and that libcordon.so really loads",
    "usage: cordon doctor [--policy POLICY.json [--trust KEY.pub] [--workspace DIR]]\n"
    "\n"
    "Report the kernel, its Landlock ABI, seccomp, user namespaces, no_new_privs and the\n"
    "kernel's audit state (what cordond's kernel_audit would record here); find\n"
    "libcordon.so and prove that it loads by running /bin/true under it with a throwaway\n"
    "signed policy. With --policy, also show what that policy would get enforced on this\n"
    "machine (a dry run: nothing is restricted).\n"
    "\n"
    "Exit status: 0 everything needed works, 1 a problem was found (the line in capitals\n"
    "says which), 2 usage error.\n",
    run_doctor,
};
