/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon run`: start a command governed from its first instruction. cordon itself performs
 * the root sequence of the shim (shim/root.c: fetch or read the signed policy, verify,
 * compile, connect the event channel, apply the kernel sandbox, mark the tree), then starts
 * the command with libcordon.so preloaded, whose constructor takes the descendant path (hooks
 * only). Because the sandbox is already in place when the command is executed, the kernel
 * boundary holds even if the preload fails to load; the handshake makes that failure loud.
 *
 * cordon stays as a small supervisor: it forwards signals, runs the policy poller and exits
 * with the command's status (128+N when a signal ended it, as shells report).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "policy/diag.h"
#include "shim/events.h"
#include "shim/root.h"
#include "tools/cli.h"
#include "tools/embedded.h"
#include "tools/run.h"

#ifndef CORDON_LIBDIR
#define CORDON_LIBDIR "/usr/local/lib"
#endif

int run_find_shim(char *path, size_t len)
{
    static const char *const rel[] = {"/libcordon.so", "/../shim/libcordon.so",
                                      "/../lib/libcordon.so"};
    return cli_find_file("CORDON_SHIM_LIBRARY", rel, sizeof rel / sizeof rel[0],
                         CORDON_LIBDIR "/libcordon.so", R_OK, path, len);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * After a refused start: the command ran until the handshake timed out and may have started
 * processes of its own (even setsid ones). cordon is their subreaper, so once the command is
 * gone they are our children: kill them until none is left.
 */
static void kill_orphans(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    for (int round = 0; round < 200; round++) {
        int any = 0;
        FILE *f = fopen(path, "r");
        long c;
        while (f && fscanf(f, "%ld", &c) == 1) {
            kill((pid_t)c, SIGKILL);
            any = 1;
        }
        if (f)
            fclose(f);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            any = 1;
        if (!any)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int run_start(char *const argv[], const char *shim, double timeout_s, pid_t *pid, int *exec_errno,
              char *line, size_t linelen)
{
    int ex[2], hs[2];
    line[0] = '\0';
    *exec_errno = 0;
    if (pipe2(ex, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(hs, O_CLOEXEC) != 0) {
        close(ex[0]);
        close(ex[1]);
        return -errno;
    }
    /* so that what the command starts comes back to us if we must stop it (kill_orphans) */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    fflush(NULL);
    *pid = fork();
    if (*pid < 0) {
        int e = errno;
        close(ex[0]), close(ex[1]), close(hs[0]), close(hs[1]);
        return -e;
    }
    if (*pid == 0) {
        close(ex[0]);
        close(hs[0]);
        int w = fcntl(hs[1], F_DUPFD, 100); /* without close-on-exec: the shim writes to it */
        char v[16], *pre = NULL;
        snprintf(v, sizeof v, "%d", w);
        setenv("CORDON_HANDSHAKE_FD", v, 1);
        const char *old = getenv("LD_PRELOAD");
        if (old && *old && asprintf(&pre, "%s:%s", shim, old) > 0)
            setenv("LD_PRELOAD", pre, 1);
        else
            setenv("LD_PRELOAD", shim, 1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        execvp(argv[0], argv);
        int e = errno;
        ssize_t wr = write(ex[1], &e, sizeof e);
        (void)wr;
        _exit(e == ENOENT ? 127 : 126);
    }
    close(ex[1]);
    close(hs[1]);
    int e = 0;
    ssize_t r;
    while ((r = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(ex[0]);
    if (r == (ssize_t)sizeof e) {
        *exec_errno = e;
        close(hs[0]);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return RUN_EXEC_FAILED;
    }
    long long deadline = now_ms() + (long long)(timeout_s * 1000);
    size_t n = 0;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {hs[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        r = read(hs[0], line + n, linelen - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
        if (memchr(line, '\n', n) || n == linelen - 1)
            break;
    }
    close(hs[0]);
    line[n] = '\0';
    if (strncmp(line, "ok ", 3) == 0) {
        line[strcspn(line, "\n")] = '\0';
        return RUN_STARTED;
    }
    /* The shim exits 126 when it refuses; it said why on stderr. */
    int status;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
            return RUN_SHIM_REFUSED;
        return RUN_NO_HANDSHAKE;
    }
    kill(*pid, SIGKILL);
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
        ;
    kill_orphans();
    return RUN_NO_HANDSHAKE;
}

/* ---- the supervisor ---- */

static volatile pid_t child_pid;

static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    /* A signal from the terminal (Ctrl-C) reached the whole process group, the child
     * included; only signals sent to cordon alone are passed on. */
    if (si && si->si_code == SI_KERNEL)
        return;
    if (child_pid > 0)
        kill(child_pid, sig);
}

static struct root g_root;

/* Once the sandbox applies to cordon itself, leave without exit handlers: they (a leak
 * checker under a sanitizer, say) may need what the sandbox refuses (see cmd_exec.c). */
__attribute__((noreturn)) static void leave(int status)
{
    fflush(NULL);
    _exit(status);
}

static void *poller(void *arg)
{
    (void)arg;
    char msg[256], err[512];
    int failed = 0;
    for (;;) {
        sleep(g_root.policy->poll_seconds);
        int rc = root_poll_once(&g_root, msg, sizeof msg, err, sizeof err);
        if (rc == 1) {
            fprintf(stderr, "%s\n", msg);
            events_emit("policy.stale", "log", NULL);
        } else if (rc < 0 && !failed++) {
            fprintf(stderr, "cordon run: policy poll failed: %s (will keep trying)\n", err);
        }
    }
    return NULL;
}

struct run_source {
    const char *profile, *server, *key, *policy, *trust, *workspace;
};

/*
 * Where the policy comes from: the options, then the environment, then the profile file.
 * This is the one place that decides server, key and trust, so that another source (a
 * private cordond started for an unsigned policy) can be added here.
 */
static int run_resolve_source(const struct run_source *s, struct profile *p, char *err,
                              size_t errlen)
{
    memset(p, 0, sizeof *p);
    const struct {
        const char *opt, *env;
        char *dst;
        size_t cap;
    } f[] = {
        {s->server, "CORDON_SERVER", p->server, sizeof p->server},
        {s->key, "CORDON_KEY", p->key, sizeof p->key},
        {s->policy, "CORDON_POLICY", p->policy, sizeof p->policy},
        {s->trust, "CORDON_TRUST", p->trust, sizeof p->trust},
        {s->workspace, "CORDON_WORKSPACE", p->workspace, sizeof p->workspace},
        {NULL, "CORDON_LOG", p->log, sizeof p->log},
    };
    int from_options = s->server || s->policy;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const char *v = f[i].opt;
        /* --server or --policy on the command line: the environment's source is ignored,
         * so a stray CORDON_POLICY cannot shadow --server */
        if (!v && !(from_options && (i == 0 || i == 2)))
            v = getenv(f[i].env);
        if (!v || !*v)
            continue;
        if (strlen(v) >= f[i].cap) {
            diag_set(err, errlen, "%s is longer than %zu bytes", f[i].env, f[i].cap - 1);
            return -EINVAL;
        }
        memcpy(f[i].dst, v, strlen(v) + 1);
    }
    const char *file = s->profile ? s->profile : getenv("CORDON_PROFILE");
    if (file && *file) {
        int rc = profile_read_file(p, file, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (p->server[0] && p->policy[0] && !s->policy)
        p->policy[0] = '\0'; /* a server wins over an offline file from the environment */
    return profile_check(p, err, errlen);
}

__attribute__((noreturn)) static void run_governed(const struct run_source *srcp, double timeout,
                                                   char **cmd);

/*
 * The embedded default: a plain policy and no server. A private cordond serves the policy,
 * signed with a key made for this run, tunnels the egress and records the run; this process
 * stays outside the sandbox to stop it afterwards (a process inside could not even signal
 * it), while a child takes the governed path against it.
 */
static int run_embedded(const struct run_source *src, const char *audit, double timeout,
                        char **cmd)
{
    struct embedded e;
    char err[2048];
    if (embedded_check_audit(src->policy, audit, src->workspace, err, sizeof err) != 0) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        return ROOT_EXIT_RUN;
    }
    if (embedded_start(src->policy, audit, &e, err, sizeof err) != 0) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        return ROOT_EXIT_RUN;
    }
    struct run_source gov = *src;
    gov.policy = NULL;
    gov.server = e.server;
    gov.key = e.key;
    gov.trust = e.trust_path;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("run", "cannot start %s: %s", cmd[0], strerror(errno));
        (void)embedded_stop(&e);
        return ROOT_EXIT_RUN;
    }
    if (pid == 0)
        run_governed(&gov, timeout, cmd);
    sodium_memzero(e.key, sizeof e.key);
    child_pid = pid;
    struct sigaction sa = {0};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    int status = 0, code;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int stopped = embedded_stop(&e);
    fprintf(stderr,
            "cordon run: the audit log of this run is in %s%s\n"
            "  check it:    cordon audit verify %s\n"
            "  read it:     cordon audit query %s --since 1h\n",
            e.audit_dir, stopped == 0 ? "" : " (cordond did not close it cleanly)", e.audit_dir,
            e.audit_dir);
    return code;
}

static int run_run(int argc, char **argv)
{
    static const struct option opts[] = {{"profile", required_argument, NULL, 'P'},
                                         {"server", required_argument, NULL, 's'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"trust", required_argument, NULL, 't'},
                                         {"workspace", required_argument, NULL, 'w'},
                                         {"timeout-handshake", required_argument, NULL, 'T'},
                                         {"audit", required_argument, NULL, 'A'},
                                         {0, 0, 0, 0}};
    struct run_source src = {0};
    const char *audit = NULL;
    double timeout = 5;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            src.profile = optarg;
            break;
        case 's':
            src.server = optarg;
            break;
        case 'k':
            /* A key given as a value would stay readable in /proc/PID/cmdline (mode 0444)
             * for the whole run: keep a copy and wipe the argument. A file name stays. */
            if (strncmp(optarg, "ck_", 3) == 0) {
                static char keycopy[128];
                snprintf(keycopy, sizeof keycopy, "%s", optarg);
                sodium_memzero(optarg, strlen(optarg));
                src.key = keycopy;
            } else {
                src.key = optarg;
            }
            break;
        case 'p':
            src.policy = optarg;
            break;
        case 't':
            src.trust = optarg;
            break;
        case 'w':
            src.workspace = optarg;
            break;
        case 'A':
            audit = optarg;
            break;
        case 'T': {
            char *end;
            timeout = strtod(optarg, &end);
            if (*end || !(timeout > 0 && timeout <= 600))
                return cli_usage_error(&cmd_run,
                                       "--timeout-handshake %s: expected seconds "
                                       "from 0 to 600",
                                       optarg);
            break;
        }
        default:
            return cli_usage_error(&cmd_run, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(&cmd_run, "name the command to run after --");
    if (src.server && src.policy)
        return cli_usage_error(&cmd_run, "--server and --policy exclude each other: fetch the "
                                         "policy from cordond, or read a signed file");
    if (src.server && !src.key && !getenv("CORDON_KEY"))
        return cli_usage_error(&cmd_run, "--server needs --key (or CORDON_KEY)");
    if (src.policy && access(src.policy, R_OK) != 0)
        return cli_usage_error(&cmd_run, "--policy %s: %s", src.policy, strerror(errno));
    if (src.policy && embedded_is_policy(src.policy)) {
        if (src.trust || src.key)
            return cli_usage_error(&cmd_run, "%s is a plain policy: cordon run signs it for this "
                                             "run with a key of its own, so --trust and --key do "
                                             "not apply (sign it with `cordon sign` to use yours)",
                                   src.policy);
        return run_embedded(&src, audit, timeout, argv + optind);
    }
    if (audit)
        return cli_usage_error(&cmd_run, "--audit applies to a plain --policy only (the embedded "
                                         "cordond); a cordond you run keeps its own audit log");
    run_governed(&src, timeout, argv + optind);
}

/* Everything after the options: the root sequence, the command, the supervisor. Does not
 * return. */
__attribute__((noreturn)) static void run_governed(const struct run_source *srcp, double timeout,
                                                   char **cmd)
{
    struct run_source src = *srcp;

    char err[2048], shim[PATH_MAX];
    if (run_find_shim(shim, sizeof shim) != 0) {
        cli_error("run",
                  "libcordon.so was not found next to cordon, in the build tree or in "
                  "%s; set CORDON_SHIM_LIBRARY to its path",
                  CORDON_LIBDIR);
        leave(ROOT_EXIT_RUN);
    }
    root_init(&g_root);
    if (run_resolve_source(&src, &g_root.prof, err, sizeof err) != 0) {
        cli_error("run", "%s", err);
        leave(ROOT_EXIT_RUN);
    }
    snprintf(g_root.preload, sizeof g_root.preload, "%s", shim);
    if (root_prepare(&g_root, err, sizeof err) != 0 || root_enforce(&g_root, err, sizeof err)) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        root_free(&g_root);
        leave(ROOT_EXIT_RUN);
    }
    for (size_t i = 0; i < g_root.report.n_degradations; i++)
        fprintf(stderr, "cordon run: warning: not enforced: %s\n", g_root.report.degradations[i]);
    if (!g_root.online && strcmp(g_root.prof.log, "off") != 0)
        fprintf(stderr, "cordon run: offline mode (--policy): decisions are enforced but not "
                        "recorded by cordond\n");

    struct sigaction sa = {0};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);

    pid_t pid;
    int exec_errno;
    char line[128];
    int st = run_start(cmd, shim, timeout, &pid, &exec_errno, line, sizeof line);
    if (st < 0) {
        cli_error("run", "cannot start %s: %s", cmd[0], strerror(-st));
        leave(ROOT_EXIT_RUN);
    }
    if (st == RUN_EXEC_FAILED) {
        cli_error("run", "cannot run %s: %s%s", cmd[0], strerror(exec_errno),
                  exec_errno == EACCES ? " (the sandbox allows executing only the programs in "
                                         "sandbox.exec; see `cordon explain`)"
                                       : "");
        leave(exec_errno == ENOENT ? 127 : 126);
    }
    if (st == RUN_SHIM_REFUSED) {
        cli_error("run", "the shim in %s refused to start it (its reason is above)", cmd[0]);
        leave(ROOT_EXIT_RUN);
    }
    if (st == RUN_NO_HANDSHAKE) {
        cli_error("run",
                  "the shim did not load in %s within %g s (a static binary? a setuid "
                  "program? another architecture?), so it was stopped. The kernel "
                  "sandbox did apply; `cordon exec` runs a command under the kernel "
                  "layer alone, without hooks or events",
                  cmd[0], timeout);
        leave(ROOT_EXIT_RUN);
    }
    child_pid = pid;
    if (g_root.online && g_root.policy->sandbox.net.mode != POLICY_NET_NONE &&
        g_root.policy->poll_seconds > 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, poller, NULL) == 0)
            pthread_detach(t);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            cli_error("run", "lost track of %s: %s", cmd[0], strerror(errno));
            leave(ROOT_EXIT_RUN);
        }
    events_flush_dropped();
    leave(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

const struct cli_command cmd_run = {
    "run",
    "run a command governed by its agent's signed policy (sandbox, hooks, events)",
    "usage: cordon run [--profile FILE | --server URL --key KEY | --policy FILE]\n"
    "                  [--trust KEY.pub] [--audit DIR] [--workspace DIR] [--timeout-handshake S]\n"
    "                  -- CMD ARGS...\n"
    "\n"
    "Fetch the agent's signed policy from cordond (or read a signed envelope file), verify\n"
    "it, apply the kernel sandbox, then run CMD with libcordon.so preloaded so that its\n"
    "opens, connects and execs are decided, routed and recorded. Every descendant of CMD\n"
    "stays inside the sandbox and under the hooks.\n"
    "\n"
    "  --profile FILE         NAME=VALUE lines (CORDON_SERVER, CORDON_KEY, CORDON_TRUST,\n"
    "                         CORDON_POLICY, CORDON_WORKSPACE, CORDON_LOG)\n"
    "  --server URL           cordond: http://HOST:PORT or unix:/PATH\n"
    "  --key KEY              the agent key (ck_...) or a file (mode 0600) holding it;\n"
    "                         prefer the file or CORDON_KEY: a value is wiped from cordon's\n"
    "                         command line, but only once cordon has started\n"
    "  --policy FILE          a signed envelope (`cordon sign`): offline, nothing recorded;\n"
    "                         or a plain policy (JSON): the embedded default, below\n"
    "  --audit DIR            with a plain policy: where the audit log goes (default\n"
    "                         $XDG_STATE_HOME/cordon/audit or ~/.local/state/cordon/audit)\n"
    "  --trust KEY.pub        the public key that signs the policies (required, except\n"
    "                         with a plain policy)\n"
    "  --workspace DIR        the value of ${workspace} (default: the current directory)\n"
    "  --timeout-handshake S  how long to wait for the shim to answer in CMD (default 5)\n"
    "\n"
    "The embedded default: with a plain policy and no server, cordon run starts a private\n"
    "cordond for this run (a signing key and an agent key made for it, loopback ports), runs\n"
    "CMD against it, stops it afterwards and prints where the audit log is.\n"
    "\n"
    "Options win over the environment (CORDON_*), which wins over the profile file.\n"
    "The variables are described in docs/SHIM.md.\n"
    "\n"
    "Exit status: CMD's own, or 128+N when signal N ended it; 125 cordon refused before\n"
    "running CMD (no policy, bad signature, expired, server down, a strict policy the\n"
    "kernel cannot enforce) or the shim did not load in CMD; 126 CMD cannot be executed;\n"
    "127 CMD was not found.\n",
    run_run,
};
