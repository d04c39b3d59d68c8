/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon run`: start a command governed from its first instruction, and end the run when
 * the command ends. The process the user started (the supervisor) performs the first half of
 * the shim's root sequence (shim/root.c: fetch or read the signed policy, verify, compile,
 * connect the event channel), opens an event connection of its own, becomes the subreaper of
 * the run and forks the command. The child applies the kernel sandbox to itself (the second
 * half: root_enforce) and executes CMD with libcordon.so preloaded, whose constructor takes
 * the descendant path (hooks only). Because the sandbox is in place when CMD is executed, the
 * kernel boundary holds even if the preload fails to load; the handshake makes that loud.
 *
 * The supervisor stays outside the sandbox: it forwards signals, runs the policy poller,
 * watches the private cordond of the embedded default, and when CMD exits ends what CMD left
 * running (tools/reaper.c), records session.end and exits with CMD's status (128+N when a
 * signal ended it, as shells report).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/io.h"
#include "base/path.h"
#include "base/secret.h"
#include "sandbox/cgroup.h"
#include "shim/events.h"
#include "shim/poll.h"
#include "shim/root.h"
#include "tools/cli.h"
#include "tools/precheck.h"
#include "tools/embedded.h"
#include "tools/reaper.h"
#include "tools/run.h"

#ifndef CORDON_LIBDIR
#define CORDON_LIBDIR "/usr/local/lib"
#endif

/* ---- the supervisor ---- */

/*
 * The process the user started stays outside the sandbox for the whole run. It is the
 * command's parent and the subreaper of everything the command starts; the command is a
 * child that applies the sandbox to itself and then executes CMD (run_spawn's before_exec).
 * So the supervisor can still end the run's processes when CMD exits (Landlock's signal scope
 * would refuse it a signal to a process outside its own domain if it were inside one), can
 * record the end on an event connection of its own, and can notice its private cordond dying.
 */

static volatile pid_t child_pid;       /* CMD, while it runs */
static volatile sig_atomic_t g_ending; /* CMD has exited: its descendants are being ended */
static volatile sig_atomic_t g_hurry;  /* a signal asked to skip the rest of the grace */

static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (g_ending) {
        /* a second Ctrl-C (or a SIGTERM) while the run's processes are being ended: do not
         * wait out the grace period */
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT)
            g_hurry = 1;
        return;
    }
    /* A signal from the terminal (Ctrl-C) reached the whole process group, the child
     * included; only signals sent to cordon alone are passed on. */
    if (si && si->si_code == SI_KERNEL)
        return;
    int saved = errno;
    pid_t p = child_pid;
    if (p > 0)
        kill(p, sig);
    errno = saved;
}

static void on_child(int sig)
{
    (void)sig; /* only to interrupt ppoll() */
}

static struct root g_root;

struct run_source {
    const char *profile, *server, *key, *policy, *trust, *workspace;
};

/* Where the policy comes from: the options, then the environment, then the profile file
 * (profile_load_from). Another source (the private cordond of the embedded default) replaces
 * the options here. */
static int run_resolve_source(const struct run_source *s, struct profile *p, char *err,
                              size_t errlen)
{
    const struct profile_source src = {.file = s->profile,
                                       .server = s->server,
                                       .key = s->key,
                                       .policy = s->policy,
                                       .trust = s->trust,
                                       .workspace = s->workspace};
    return profile_load_from(p, &src, err, errlen);
}

struct run_opts {
    double handshake_s; /* --timeout-handshake */
    double grace_s;     /* --grace */
    int detach_ok;      /* --detach-ok */
};

#define RUN_GRACE_DEFAULT 5.0

/* What the child does between fork and exec: the root's second half, the sandbox. */
struct enforce_ctx {
    const char *cmd;
    const struct sandbox_cgroup *cgroup; /* the run's group, made by the supervisor, or NULL */
};

static int enforce_in_child(void *arg)
{
    const struct enforce_ctx *c = arg;
    char err[2048];
    /* Into the run's group before the sandbox: sandbox_apply finds the limits there, and
     * once Landlock applies nothing below /sys can be written, so the tree cannot leave it. */
    int jr = c->cgroup ? sandbox_cgroup_join(c->cgroup, 0) : 0;
    if (jr != 0) {
        cli_error("run", "cannot join the run's cgroup: %s; %s was not started", strerror(-jr),
                  c->cmd);
        return jr;
    }
    int rc = root_enforce(&g_root, err, sizeof err);
    if (rc != 0) {
        cli_error("run", "%s; %s was not started", err, c->cmd);
        return rc;
    }
    for (size_t i = 0; i < g_root.report.n_degradations; i++)
        fprintf(stderr, "cordon run: warning: not enforced: %s\n", g_root.report.degradations[i]);
    if (g_root.env_notice[0] && strcmp(g_root.prof.log, "off") != 0)
        fprintf(stderr, "cordon run: %s\n", g_root.env_notice);
    if (!g_root.online && strcmp(g_root.prof.log, "off") != 0)
        fprintf(stderr, "cordon run: offline mode (--policy): decisions are enforced but not "
                        "recorded by cordond\n");
    return 0;
}

/* session.end: how the run ended, on the supervisor's own event connection. */
static void send_session_end(int status, int signo, const struct reaper_result *rr,
                             const struct run_opts *o, unsigned still)
{
    char mem[512];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"status\":");
    jbuf_i64(&b, status);
    if (signo) {
        jbuf_raw(&b, ",\"signal\":");
        jbuf_i64(&b, signo);
    }
    jbuf_raw(&b, ",\"still_running\":");
    jbuf_u64(&b, still);
    jbuf_raw(&b, ",\"terminated\":");
    jbuf_u64(&b, rr->terminated);
    jbuf_raw(&b, ",\"killed\":");
    jbuf_u64(&b, rr->killed);
    jbuf_raw(&b, ",\"left_running\":");
    jbuf_u64(&b, o->detach_ok ? still : rr->left);
    jbuf_raw(&b, ",\"grace_ms\":");
    jbuf_u64(&b, (uint64_t)(o->grace_s * 1000));
    jbuf_raw(&b, o->detach_ok ? ",\"detach_ok\":true}" : ",\"detach_ok\":false}");
    events_emit("session.end", "log", mem);
}

/*
 * Wait (at most 2 s) until cordond has read everything sent on the supervisor's connection,
 * session.end included. cordond reads a connection's messages in order and closes its end when
 * it reads the end of the stream, so that close means session.end was judged, while this
 * process still existed for cordond to look at (it checks the sender in /proc).
 */
static void finish_events(int fd)
{
    if (fd < 0 || shutdown(fd, SHUT_WR) != 0)
        return;
    int64_t deadline = clock_mono_ms() + 2000;
    for (;;) {
        if (io_wait(fd, POLLIN, deadline) <= 0)
            return;
        char b[64];
        ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
    }
}

static const char *plural(unsigned n)
{
    return n == 1 ? "" : "es";
}

/*
 * The private cordond stopped while CMD ran: nothing the run does can be recorded any more, so
 * the run ends here. Says what stopped and where to look.
 */
static void report_lost_cordond(struct embedded *e, int wstatus, const char *cmd,
                                const struct reaper_result *rr, const struct run_opts *o)
{
    char how[96], said[1024];
    if (WIFSIGNALED(wstatus))
        snprintf(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(wstatus));
    cli_error("run",
              "the private cordond %s while %s was running, so the run's decisions could no "
              "longer be recorded: %s and the %u process%s it had started were ended "
              "(SIGTERM, then SIGKILL after %g s; %u needed SIGKILL)",
              how, cmd, cmd, rr->running ? rr->running - 1 : 0,
              plural(rr->running ? rr->running - 1 : 0), o->grace_s, rr->killed);
    if (embedded_tail(e, said, sizeof said) == 0 && said[0])
        fprintf(stderr, "cordon run: cordond said:\n%s\n", said);
    fprintf(stderr,
            "cordon run: the audit log of this run is in %s; it ends where cordond stopped\n"
            "  check it:         cordon audit verify %s\n"
            "  cordond's output: %s\n",
            e->audit_dir, e->audit_dir, e->log_path);
}

/* The CA bundle the tree's root wrote for it (shim/root.c: $TMPDIR/cordon-ca-PID.pem, when
 * cordond terminates TLS for some of its hosts), once the tree has ended. */
static void remove_bundle(pid_t root)
{
    const char *tmp = getenv("TMPDIR");
    char path[300];
    if (root <= 0)
        return;
    if (!tmp || tmp[0] != '/' || strlen(tmp) > 200)
        tmp = "/tmp";
    snprintf(path, sizeof path, "%s/cordon-ca-%d.pem", tmp, (int)root);
    (void)unlink(path);
}

/*
 * Everything after the options: the root sequence, the command, the supervision, the end.
 * e is the private cordond of the embedded default, or NULL. Returns the exit status.
 */
static int supervise(const struct run_source *srcp, const struct run_opts *o, char **cmd,
                     struct embedded *e)
{
    struct run_source src = *srcp;
    char err[2048], shim[PATH_MAX], alias[RUN_ALIAS_DIR] = "";
    int code = ROOT_EXIT_RUN, sup_fd = -1;
    struct sandbox_cgroup *cg = NULL;
    char cgerr[512] = "";
    if (e) {
        src.policy = NULL;
        src.server = e->server;
        src.key = e->key;
        src.trust = e->trust_path;
    }
    if (run_find_shim(shim, sizeof shim) != 0) {
        cli_error("run",
                  "libcordon.so was not found next to cordon, in the build tree or in "
                  "%s; set CORDON_SHIM_LIBRARY to its path",
                  CORDON_LIBDIR);
        goto out;
    }
    if (run_shim_alias(shim, sizeof shim, alias, err, sizeof err) != 0) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        goto out;
    }
    root_init(&g_root);
    if (run_resolve_source(&src, &g_root.prof, err, sizeof err) != 0) {
        cli_error("run", "%s", err);
        goto out;
    }
    snprintf(g_root.preload, sizeof g_root.preload, "%s", shim);
    if (root_prepare(&g_root, err, sizeof err) != 0) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        goto out;
    }
    if (e)
        sodium_memzero(e->key, sizeof e->key); /* the root holds its own copy now */
    /* said before CMD starts: a refused pyenv or nvm shim otherwise shows up, if at all, as
     * a shell quietly running another program of the same name */
    precheck_warn(g_root.policy, "run", cmd[0], stderr);
    sup_fd = root_open_supervisor_events(&g_root, err, sizeof err);
    if (sup_fd < 0 && sup_fd != -ENOENT) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        goto out;
    }

    /* sandbox.limits processes and memory are held for the whole tree by a group made here,
     * outside the sandbox, where it can also be removed at the end; without one the sandbox
     * falls back to rlimits, or refuses under strict what no rlimit holds (sandbox_apply). */
    cg = run_limits_group(g_root.policy, &g_root.sopts, cgerr, sizeof cgerr);

    /* Every process CMD starts stays below this one, however it detaches. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        cli_error("run", "cannot become the subreaper of the run (prctl: %s); %s was not started",
                  strerror(errno), cmd[0]);
        goto out;
    }
    /* A closed stderr must not kill the supervisor mid-run (the child restores SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);
    sigset_t chld, waitmask;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &waitmask); /* delivered only inside ppoll() below */
    sigdelset(&waitmask, SIGCHLD);
    struct sigaction ca = {0};
    ca.sa_handler = on_child;
    sigemptyset(&ca.sa_mask);
    sigaction(SIGCHLD, &ca, NULL);
    struct sigaction sa = {0};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);

    pid_t keep[2] = {e ? e->pid : 0, e ? e->writer_pid : 0}, pid;
    struct reaper_result rr;
    int exec_errno;
    char line[128];
    struct enforce_ctx ec = {cmd[0], cg};
    struct run_spawn sp = {.argv = cmd,
                           .shim = shim,
                           .timeout_s = o->handshake_s,
                           .before_exec = enforce_in_child,
                           .ctx = &ec,
                           .pdeathsig = SIGKILL,
                           .track = &child_pid};
    int st = run_spawn(&sp, &pid, &exec_errno, line, sizeof line);
    if (st != RUN_STARTED) {
        child_pid = 0;
        reaper_end(keep, 2, 0, NULL, &rr); /* whatever CMD started before it was refused */
    }
    if (st < 0) {
        cli_error("run", "cannot start %s: %s", cmd[0], strerror(-st));
        goto out;
    }
    if (st == RUN_REFUSED)
        goto out;
    if (st == RUN_EXEC_FAILED) {
        char why[PATH_MAXLEN + 160];
        if (exec_errno == EACCES && run_exec_blocker(cmd[0], 1, why, sizeof why))
            cli_error("run", "cannot run %s: the file system refused: %s (not the policy: %s)",
                      cmd[0], why, RUN_BLOCKED_FIX);
        else
            cli_error("run", "cannot run %s: %s%s", cmd[0], strerror(exec_errno),
                      exec_errno == EACCES ? " (the sandbox allows executing only the programs in "
                                             "sandbox.exec; see `cordon explain`)"
                                           : "");
        code = exec_errno == ENOENT ? 127 : 126;
        goto out;
    }
    if (st == RUN_SHIM_REFUSED) {
        cli_error("run", "the shim in %s refused to start it (its reason is above)", cmd[0]);
        goto out;
    }
    if (st == RUN_NO_HANDSHAKE) {
        cli_error("run",
                  "the shim did not load in %s within %g s (a static binary? a setuid "
                  "program? another architecture?), so it was stopped. The kernel "
                  "sandbox did apply; `cordon exec` runs a command under the kernel "
                  "layer alone, without hooks or events",
                  cmd[0], o->handshake_s);
        goto out;
    }
    /* From here on this process speaks on its own connection: the one CMD inherited is
     * shared with every process of the tree, which could shut it down. */
    if (sup_fd >= 0) {
        events_set_fd(sup_fd);
        if (g_root.event_fd >= 0)
            close(g_root.event_fd);
        g_root.event_fd = -1;
    }
    if (g_root.online && g_root.policy->poll_seconds > 0) {
        static struct poll_job job;
        job.root = &g_root;
        job.once = root_poll_once;
        job.who = "cordon run";
        job.notices = sup_fd >= 0; /* cordond tells this connection of a quarantine */
        job.notice_fd = sup_fd;
        if (poll_start(&job) != 0)
            fprintf(stderr, "cordon run: warning: cannot start the policy poller; a newer "
                            "policy will not be noticed during this run\n");
    }

    /* Wait for CMD, for the private cordond, for cordond's end of our connection. */
    int status = 0, lost = 0, lost_status = 0, hup_told = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            cli_error("run", "lost track of %s: %s", cmd[0], strerror(errno));
            goto out;
        }
        if (e && e->pid > 0 && waitpid(e->pid, &lost_status, WNOHANG) == e->pid) {
            e->pid = 0;
            lost = 1;
            break;
        }
        pid_t skip[3] = {pid, keep[0], keep[1]};
        (void)reaper_reap(skip, 3);
        struct pollfd pf = {sup_fd, POLLRDHUP, 0};
        int watch = !e && sup_fd >= 0 && !hup_told;
        struct timespec tick = {1, 0};
        int pr = ppoll(&pf, watch ? 1 : 0, &tick, &waitmask);
        if (pr > 0 && watch && (pf.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
            hup_told = 1;
            fprintf(stderr,
                    "cordon run: warning: cordond closed this run's event connection "
                    "(it stopped, or the agent key was revoked): what %s does from now "
                    "on is not recorded, and its end will not be either\n",
                    cmd[0]);
        }
    }
    g_ending = 1;
    child_pid = 0;
    if (lost) {
        reaper_end(&keep[1], 1, (long)(o->grace_s * 1000), &g_hurry, &rr);
        report_lost_cordond(e, lost_status, cmd[0], &rr, o);
        embedded_abandon(e);
        e = NULL;
        code = RUN_EXIT_UNRECORDED;
        goto out;
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    events_flush_dropped();
    unsigned still;
    memset(&rr, 0, sizeof rr);
    if (o->detach_ok) {
        still = reaper_count(keep, 2);
        if (still)
            fprintf(stderr,
                    "cordon run: %s exited; %u process%s it started still run%s "
                    "(--detach-ok), inside the sandbox%s\n",
                    cmd[0], still, plural(still), still == 1 ? "s" : "",
                    e ? ", no longer recorded once the private cordond stops" : "");
    } else {
        reaper_end(keep, 2, (long)(o->grace_s * 1000), &g_hurry, &rr);
        still = rr.running;
        if (still)
            fprintf(stderr,
                    "cordon run: %s exited; the %u process%s it started that still "
                    "ran %s ended (%u by SIGTERM, %u needed SIGKILL after the %g s "
                    "grace%s)\n",
                    cmd[0], still, plural(still), still == 1 ? "was" : "were", rr.terminated,
                    rr.killed, o->grace_s, rr.left ? ", some survived even SIGKILL" : "");
    }
    send_session_end(code, WIFSIGNALED(status) ? WTERMSIG(status) : 0, &rr, o, still);
    finish_events(sup_fd);
out:
    run_shim_alias_remove(alias);
    remove_bundle(pid);
    if (cg) {
        /* what the reaper could not end (it left the tree's reach) ends with the group */
        char why[512];
        if (sandbox_cgroup_destroy(cg, why, sizeof why) != 0)
            fprintf(stderr, "cordon run: warning: %s\n", why);
        cg = NULL;
    }
    if (e) {
        int stopped = embedded_stop(e);
        fprintf(stderr,
                "cordon run: the audit log of this run is in %s%s\n"
                "  check it:    cordon audit verify %s\n"
                "  read it:     cordon audit query %s --since 1h\n",
                e->audit_dir, stopped == 0 ? "" : " (cordond did not close it cleanly)",
                e->audit_dir, e->audit_dir);
    }
    return code;
}

/*
 * The embedded default: a plain policy and no server. A private cordond serves the policy,
 * signed with a key made for this run, tunnels the egress and records the run.
 */
struct run_upstreams {
    struct embedded_upstream v[EMBEDDED_MAX_UPSTREAMS];
    size_t n;
    const char *kernel_audit; /* --kernel-audit, NULL: cordond's default */
    const char *origin_ca;    /* --origin-ca, NULL: the system's CAs only */
};

static int run_embedded(const struct run_source *src, const char *audit, const struct run_opts *o,
                        const struct run_upstreams *ups, char **cmd)
{
    struct embedded e;
    char err[2048];
    if (embedded_check_audit(src->policy, audit, src->workspace, err, sizeof err) != 0) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        return ROOT_EXIT_RUN;
    }
    if (embedded_start(src->policy, audit, ups->v, ups->n, ups->kernel_audit, ups->origin_ca, &e,
                       err, sizeof err) != 0) {
        cli_error("run", "%s; %s was not started", err, cmd[0]);
        return ROOT_EXIT_RUN;
    }
    /* The provider keys of cordon run's environment went to the private cordond (key_env);
     * the agent never sees them: inside the tree these names hold its session token. */
    unsetenv("OPENAI_API_KEY");
    unsetenv("ANTHROPIC_API_KEY");
    return supervise(src, o, cmd, &e);
}

/* --upstream NAME=URL: NAME openai or anthropic (also the API's kind), URL http(s)://. */
static int parse_upstream(struct run_upstreams *u, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    size_t nl = eq ? (size_t)(eq - arg) : 0;
    int known = eq && ((nl == 6 && memcmp(arg, "openai", 6) == 0) ||
                       (nl == 9 && memcmp(arg, "anthropic", 9) == 0));
    if (!known) {
        snprintf(err, errlen,
                 "--upstream %s: expected openai=URL or anthropic=URL (the model "
                 "API cordond forwards to, e.g. openai=http://127.0.0.1:8080/v1)",
                 arg);
        return -EINVAL;
    }
    const char *url = eq + 1;
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) >= sizeof u->v[0].url || strpbrk(url, " \t\r\n")) {
        snprintf(err, errlen,
                 "--upstream %s: the URL must start with http:// or https://, "
                 "hold no spaces and be shorter than %zu bytes",
                 arg, sizeof u->v[0].url);
        return -EINVAL;
    }
    for (size_t i = 0; i < u->n; i++)
        if (strlen(u->v[i].name) == nl && memcmp(u->v[i].name, arg, nl) == 0) {
            snprintf(err, errlen, "--upstream %.*s= is given twice; give each API once", (int)nl,
                     arg);
            return -EINVAL;
        }
    struct embedded_upstream *e = &u->v[u->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->name, arg, nl);
    snprintf(e->url, sizeof e->url, "%s", url);
    snprintf(e->key_env, sizeof e->key_env, "%s", nl == 6 ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY");
    return 0;
}

/* --upstream-key NAME=FILE, after every --upstream: FILE mode 0600 and not empty (read here
 * with base/secret.h to say so before anything starts, wiped; cordond reads it itself). */
static int parse_upstream_key(struct run_upstreams *u, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    struct embedded_upstream *e = NULL;
    for (size_t i = 0; eq && i < u->n; i++)
        if (strlen(u->v[i].name) == (size_t)(eq - arg) &&
            memcmp(u->v[i].name, arg, (size_t)(eq - arg)) == 0)
            e = &u->v[i];
    if (!eq || !eq[1]) {
        snprintf(err, errlen,
                 "--upstream-key %s: expected NAME=FILE (openai=FILE or "
                 "anthropic=FILE, a file of mode 0600 holding the provider's key)",
                 arg);
        return -EINVAL;
    }
    if (!e) {
        snprintf(err, errlen,
                 "--upstream-key %s: there is no --upstream %.*s=URL for it; "
                 "give the upstream too",
                 arg, (int)(eq - arg), arg);
        return -EINVAL;
    }
    char path[PATH_MAX], why[1024];
    if (!realpath(eq + 1, path)) {
        int e2 = errno;
        snprintf(err, errlen, "--upstream-key %s: %s", arg, strerror(e2));
        return -e2;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = secret_read_file("the upstream key file", path, 16384, &buf, &len, why, sizeof why);
    secret_free(buf, len);
    if (rc != 0) {
        snprintf(err, errlen, "--upstream-key %s: %s", arg, why);
        return rc;
    }
    snprintf(e->key_file, sizeof e->key_file, "%s", path);
    return 0;
}

/* Each upstream without a key file takes its key from cordon run's environment. */
static int check_upstream_env(const struct run_upstreams *u, char *err, size_t errlen)
{
    for (size_t i = 0; i < u->n; i++) {
        const char *v = u->v[i].key_file[0] ? "x" : getenv(u->v[i].key_env);
        if (!v || !*v) {
            snprintf(err, errlen,
                     "--upstream %s=%s: %s is not set in cordon run's "
                     "environment; set it (the agent never sees it) or give --upstream-key "
                     "%s=FILE",
                     u->v[i].name, u->v[i].url, u->v[i].key_env, u->v[i].name);
            return -EINVAL;
        }
    }
    return 0;
}

/* Seconds up to max, as --timeout-handshake (more than 0) and --grace (0 too) take them. */
static int parse_seconds(const char *s, int zero_ok, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0 || (zero_ok && v == 0)) || !(v <= max))
        return -EINVAL;
    *out = v;
    return 0;
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
                                         {"grace", required_argument, NULL, 'g'},
                                         {"detach-ok", no_argument, NULL, 'D'},
                                         {"upstream", required_argument, NULL, 'u'},
                                         {"upstream-key", required_argument, NULL, 'K'},
                                         {"kernel-audit", required_argument, NULL, 'R'},
                                         {"origin-ca", required_argument, NULL, 'C'},
                                         {0, 0, 0, 0}};
    struct run_upstreams ups = {0};
    const char *upkeys[EMBEDDED_MAX_UPSTREAMS * 4];
    size_t n_upkeys = 0;
    char uerr[PATH_MAX + 1200];
    struct run_source src = {0};
    struct run_opts o = {.handshake_s = 5, .grace_s = RUN_GRACE_DEFAULT};
    const char *audit = NULL;
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
        case 'T':
            if (parse_seconds(optarg, 0, 600, &o.handshake_s) != 0)
                return cli_usage_error(&cmd_run,
                                       "--timeout-handshake %s: expected seconds "
                                       "from 0 to 600",
                                       optarg);
            break;
        case 'g':
            if (parse_seconds(optarg, 1, 3600, &o.grace_s) != 0)
                return cli_usage_error(&cmd_run,
                                       "--grace %s: expected seconds from 0 to 3600 (0: "
                                       "SIGKILL at once)",
                                       optarg);
            break;
        case 'D':
            o.detach_ok = 1;
            break;
        case 'u':
            /* two names, each once: the table never overflows */
            if (parse_upstream(&ups, optarg, uerr, sizeof uerr) != 0)
                return cli_usage_error(&cmd_run, "%s", uerr);
            break;
        case 'R':
            if (strcmp(optarg, "off") != 0 && strcmp(optarg, "on") != 0 &&
                strcmp(optarg, "if-enabled") != 0)
                return cli_usage_error(&cmd_run,
                                       "--kernel-audit %s: expected off, on or if-enabled", optarg);
            ups.kernel_audit = optarg;
            break;
        case 'C':
            if (optarg[0] != '/' || access(optarg, R_OK) != 0)
                return cli_usage_error(&cmd_run,
                                       "--origin-ca %s: expected the absolute path of a readable "
                                       "PEM file of CA certificates",
                                       optarg);
            ups.origin_ca = optarg;
            break;
        case 'K':
            if (n_upkeys == sizeof upkeys / sizeof upkeys[0])
                return cli_usage_error(&cmd_run, "--upstream-key: given too often; once per "
                                                 "upstream");
            upkeys[n_upkeys++] = optarg; /* judged once every --upstream is known */
            break;
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
    char why[PATH_MAXLEN + 160];
    if (run_exec_blocker(argv[optind], 0, why, sizeof why)) {
        cli_error("run", "cannot run %s: the file system refused: %s; nothing was started (%s)",
                  argv[optind], why, RUN_BLOCKED_FIX);
        return 126;
    }
    int plain = src.policy && embedded_is_policy(src.policy);
    if (ups.kernel_audit && !plain)
        return cli_usage_error(&cmd_run, "--kernel-audit applies to the embedded default (a "
                                         "plain --policy): a cordond you run has its own "
                                         "kernel_audit line (docs/SERVER.md)");
    if (ups.origin_ca && !plain)
        return cli_usage_error(&cmd_run, "--origin-ca applies to the embedded default (a plain "
                                         "--policy): a cordond you run has its own origin_ca "
                                         "line (docs/SERVER.md)");
    if ((ups.n || n_upkeys) && !plain)
        return cli_usage_error(&cmd_run, "--upstream and --upstream-key apply to the embedded "
                                         "default (a plain --policy): a cordond you run has its "
                                         "own upstream lines (docs/SERVER.md)");
    for (size_t i = 0; i < n_upkeys; i++)
        if (parse_upstream_key(&ups, upkeys[i], uerr, sizeof uerr) != 0)
            return cli_usage_error(&cmd_run, "%s", uerr);
    if (check_upstream_env(&ups, uerr, sizeof uerr) != 0)
        return cli_usage_error(&cmd_run, "%s", uerr);
    if (plain) {
        if (src.trust || src.key)
            return cli_usage_error(&cmd_run,
                                   "%s is a plain policy: cordon run signs it for this "
                                   "run with a key of its own, so --trust and --key do "
                                   "not apply (sign it with `cordon sign` to use yours)",
                                   src.policy);
        return run_embedded(&src, audit, &o, &ups, argv + optind);
    }
    if (audit)
        return cli_usage_error(&cmd_run, "--audit applies to a plain --policy only (the embedded "
                                         "cordond); a cordond you run keeps its own audit log");
    return supervise(&src, &o, argv + optind, NULL);
}

const struct cli_command cmd_run = {
    "run",
    "run a command governed by its agent's signed policy (sandbox, hooks, events)",
    "usage: cordon run [--profile FILE | --server URL --key KEY | --policy FILE]\n"
    "                  [--trust KEY.pub] [--audit DIR] [--workspace DIR] [--timeout-handshake S]\n"
    "                  [--grace S] [--detach-ok] [--upstream openai=URL]\n"
    "                  [--upstream anthropic=URL] [--upstream-key NAME=FILE]\n"
    "                  [--kernel-audit off|on|if-enabled] [--origin-ca FILE] -- CMD ARGS...\n"
    "\n"
    "Fetch the agent's signed policy from cordond (or read a signed envelope file), verify\n"
    "it, apply the kernel sandbox, then run CMD with libcordon.so preloaded so that its\n"
    "opens, connects and execs are decided, routed and recorded. Every descendant of CMD\n"
    "stays inside the sandbox and under the hooks.\n"
    "\n"
    "A run ends when CMD ends. cordon run stays outside the sandbox as the parent of CMD and\n"
    "the subreaper of everything CMD starts (setsid and double forks included). When CMD\n"
    "exits, every process it started that still runs gets SIGTERM, and SIGKILL after the\n"
    "grace period; the audit log gets a session.end record with CMD's status, how many\n"
    "processes still ran and how many needed SIGKILL.\n"
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
    "  --grace S              seconds between SIGTERM and SIGKILL for what CMD leaves\n"
    "                         running (default 5; 0: SIGKILL at once). A second Ctrl-C or\n"
    "                         SIGTERM to cordon run cuts it short\n"
    "  --detach-ok            let what CMD started outlive the run (the old behaviour): it\n"
    "                         keeps running inside the sandbox, and session.end says so\n"
    "  --upstream NAME=URL    with a plain policy: the model API the private cordond's proxy\n"
    "                         forwards to, NAME openai or anthropic (each once), URL\n"
    "                         http(s)://...; its key is cordon run's OPENAI_API_KEY or\n"
    "                         ANTHROPIC_API_KEY, which CMD never sees\n"
    "  --upstream-key NAME=FILE  the key of upstream NAME from FILE (mode 0600) instead\n"
    "  --kernel-audit MODE    with a plain policy, run as root: whether the private cordond\n"
    "                         records the kernel's own refusals (a static binary's, a raw\n"
    "                         system call's) as kernel.deny: if-enabled (default) only when\n"
    "                         the host's audit is already enabled; on enables it for the run\n"
    "                         (backlog limit 8192) and restores it afterwards; off\n"
    "  --origin-ca FILE       with a plain policy: PEM CAs the private cordond trusts, besides\n"
    "                         the system's, for the origins of the hosts whose TLS it\n"
    "                         terminates (sandbox.network.http \"tls\": \"terminate\"; it\n"
    "                         makes a CA for the run to mint their certificates)\n"
    "\n"
    "Model clients: inside the tree OPENAI_BASE_URL and ANTHROPIC_BASE_URL point at cordond,\n"
    "and OPENAI_API_KEY and ANTHROPIC_API_KEY hold the run's session token (cs_...), never a\n"
    "provider key: cordond checks the token, applies the policy and forwards the call with\n"
    "the upstream's key.\n"
    "\n"
    "The embedded default: with a plain policy and no server, cordon run starts a private\n"
    "cordond for this run (a signing key and an agent key made for it, loopback ports), runs\n"
    "CMD against it, stops it afterwards and prints where the audit log is. If that cordond\n"
    "stops during the run (its audit writer died, its disk filled), the run's decisions can\n"
    "no longer be recorded: cordon run ends CMD and everything it started, says so and exits\n"
    "124.\n"
    "\n"
    "Options win over the environment (CORDON_*), which wins over the profile file.\n"
    "The variables are described in docs/SHIM.md.\n"
    "\n"
    "Before it starts CMD, cordon run finds the program as execvp does (through PATH) and\n"
    "prints one warning when the policy will not let it run, naming the rule and the policy\n"
    "line that would allow it (a \"sandbox.presets\" entry, a \"sandbox.exec.allow\" path).\n"
    "\n"
    "Exit status: CMD's own, or 128+N when signal N ended it; 124 the private cordond\n"
    "stopped during the run, which was ended (embedded default); 125 cordon refused before\n"
    "running CMD (no policy, bad signature, expired, server down, a strict policy the\n"
    "kernel cannot enforce) or the shim did not load in CMD; 126 CMD cannot be executed;\n"
    "127 CMD was not found.\n",
    run_run,
};
