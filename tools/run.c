/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting a command under the shim (see run.h), for `cordon run` and `cordon doctor`: the
 * fork, the preload, and the wait for the shim's handshake line (shim/handshake.h), which
 * says that libcordon.so really loaded in the command.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/io.h"
#include "base/path.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "shim/handshake.h"
#include "shim/root.h"
#include "shim/rootlib_path.h"
#include "tools/cli.h"
#include "tools/reaper.h"
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

int run_shim_alias(char *shim, size_t len, char dir[RUN_ALIAS_DIR], char *err, size_t errlen)
{
    char root[PATH_MAXLEN], link[RUN_ALIAS_DIR + 32];
    dir[0] = '\0';
    if (!strpbrk(shim, " \t\n:"))
        return 0;
    snprintf(dir, RUN_ALIAS_DIR, "/tmp/cordon-preload-XXXXXX");
    if (!mkdtemp(dir)) { /* mode 0700 */
        int e = errno;
        snprintf(err, errlen,
                 "%s holds a space or a colon, which LD_PRELOAD cannot carry, and no private "
                 "directory for a link to it could be made in /tmp (%s); move the build to a "
                 "path without them, or set CORDON_SHIM_LIBRARY to a copy there",
                 shim, strerror(e));
        dir[0] = '\0';
        return -e;
    }
    int rc = 0;
    if (rootlib_path(shim, root, sizeof root) == 0 && access(root, R_OK) == 0) {
        snprintf(link, sizeof link, "%s/" ROOTLIB_FILE, dir);
        if (symlink(root, link) != 0)
            rc = -errno;
    }
    snprintf(link, sizeof link, "%s/libcordon.so", dir);
    if (rc == 0 && symlink(shim, link) != 0)
        rc = -errno;
    if (rc == 0 && strlen(link) >= len)
        rc = -ENAMETOOLONG;
    if (rc != 0) {
        snprintf(err, errlen,
                 "%s holds a space or a colon, which LD_PRELOAD cannot carry, and the link to "
                 "it in %s could not be made (%s); move the build to a path without them",
                 shim, dir, strerror(-rc));
        run_shim_alias_remove(dir);
        dir[0] = '\0';
        return rc;
    }
    memcpy(shim, link, strlen(link) + 1);
    return 0;
}

void run_shim_alias_remove(const char *dir)
{
    char link[RUN_ALIAS_DIR + 32];
    if (!dir[0])
        return;
    snprintf(link, sizeof link, "%s/libcordon.so", dir);
    unlink(link);
    snprintf(link, sizeof link, "%s/" ROOTLIB_FILE, dir);
    unlink(link);
    rmdir(dir);
}

int run_spawn(const struct run_spawn *s, pid_t *pid, int *exec_errno, char *line, size_t linelen)
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
    pid_t parent = getpid();
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
        /* The parent's handlers and mask are not the command's: defaults first, so that a
         * Ctrl-C while the sandbox is being applied stops this process as it would CMD. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        if (s->pdeathsig && (prctl(PR_SET_PDEATHSIG, s->pdeathsig) != 0 || getppid() != parent))
            _exit(ROOT_EXIT_RUN); /* the parent is already gone */
        if (s->before_exec && s->before_exec(s->ctx) != 0) {
            int refused = -1;
            (void)!io_write_all(ex[1], &refused, sizeof refused);
            _exit(ROOT_EXIT_RUN);
        }
        int w = fcntl(hs[1], F_DUPFD, 100); /* without close-on-exec: the shim writes to it */
        char v[16], *pre = NULL;
        snprintf(v, sizeof v, "%d", w);
        setenv("CORDON_HANDSHAKE_FD", v, 1);
        const char *old = getenv("LD_PRELOAD");
        if (old && *old && asprintf(&pre, "%s:%s", s->shim, old) > 0)
            setenv("LD_PRELOAD", pre, 1);
        else
            setenv("LD_PRELOAD", s->shim, 1);
        execvp(s->argv[0], s->argv);
        int e = errno;
        (void)!io_write_all(ex[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    if (s->track)
        *s->track = *pid;
    close(ex[1]);
    close(hs[1]);
    int e = 0;
    ssize_t r;
    while ((r = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(ex[0]);
    if (r == (ssize_t)sizeof e) {
        close(hs[0]);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (e < 0)
            return RUN_REFUSED;
        *exec_errno = e;
        return RUN_EXEC_FAILED;
    }
    int64_t deadline = clock_mono_ms() + (int64_t)(s->timeout_s * 1000);
    size_t n = 0;
    struct handshake h;
    for (;;) {
        if (io_wait(hs[0], POLLIN, deadline) <= 0)
            break;
        r = read(hs[0], line + n, linelen - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
        /* a whole line, or what can no longer become one */
        if (handshake_parse(line, n, &h) != -EAGAIN || n == linelen - 1)
            break;
    }
    close(hs[0]);
    line[n] = '\0';
    if (handshake_parse(line, n, &h) == 0) {
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
    return RUN_NO_HANDSHAKE;
}

int run_exec_blocker(const char *cmd0, int exec_failed, char *why, size_t len)
{
    if (strchr(cmd0, '/'))
        return path_exec_blocker(cmd0, why, len) == 1;
    if (!exec_failed)
        return 0;
    const char *path = getenv("PATH");
    char cand[PATH_MAXLEN];
    for (size_t i = 0;; i++) {
        int rc = path_search_nth(path, cmd0, i, cand, sizeof cand);
        if (rc == -ENOENT)
            return 0;
        if (rc == 0 && path_exec_blocker(cand, why, len) == 1)
            return 1;
    }
}

int run_start(char *const argv[], const char *shim, double timeout_s, pid_t *pid, int *exec_errno,
              char *line, size_t linelen)
{
    /* so that what the command starts comes back to us if we must stop it */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct run_spawn s = {.argv = argv, .shim = shim, .timeout_s = timeout_s};
    int st = run_spawn(&s, pid, exec_errno, line, linelen);
    if (st == RUN_NO_HANDSHAKE) {
        struct reaper_result rr;
        reaper_end(NULL, 0, 0, NULL, &rr);
    }
    return st;
}

struct sandbox_cgroup *run_limits_group(const struct policy *p, struct sandbox_opts *so, char *why,
                                        size_t whylen)
{
    struct sandbox_cgroup *g = NULL;
    if (!p->sandbox.limits.processes && !p->sandbox.limits.memory)
        return NULL;
    struct sandbox_cgroup_want want = {p->sandbox.limits.processes, p->sandbox.limits.memory};
    why[0] = '\0';
    if (sandbox_cgroup_create(&want, &g, why, whylen) != 0)
        g = NULL;
    if (why[0])
        so->cgroup_error = why;
    return g;
}
