/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `cordon run` and `cordon doctor` share: finding libcordon.so, and starting a command
 * with it preloaded while waiting for the shim's handshake line.
 */
#ifndef CORDON_TOOLS_RUN_H
#define CORDON_TOOLS_RUN_H

#include <stddef.h>
#include <sys/types.h>

struct policy;
struct sandbox_cgroup;
struct sandbox_opts;

/* The libcordon.so to preload: CORDON_SHIM_LIBRARY, next to the cordon binary, the build
 * tree's shim/, or the installed library directory. 0 with path filled, -ENOENT. */
int run_find_shim(char *path, size_t len);

#define RUN_ALIAS_DIR 64 /* "/tmp/cordon-preload-XXXXXX" and its NUL, with room */

/* `cordon run` ended the command because its private cordond stopped during the run: the
 * decisions could no longer be recorded. */
#define RUN_EXIT_UNRECORDED 124

enum run_start {
    RUN_STARTED = 0,      /* the shim answered: *line holds its handshake */
    RUN_EXEC_FAILED = 1,  /* CMD could not be executed: *exec_errno says why */
    RUN_NO_HANDSHAKE = 2, /* CMD ran but no shim answered in time; the child was killed */
    RUN_SHIM_REFUSED = 3, /* the shim in CMD refused to start it (its message is on stderr) */
    RUN_REFUSED = 4       /* before_exec refused in the child (it said why on stderr) */
};

struct run_spawn {
    char *const *argv; /* CMD ARGS..., searched in PATH */
    const char *shim;  /* libcordon.so, prepended to LD_PRELOAD */
    double timeout_s;  /* how long to wait for the handshake */
    /* Called in the child after fork, before exec, with every signal at its default and
     * none blocked: `cordon run` applies the sandbox here. Non-zero refuses (RUN_REFUSED);
     * it prints why itself. NULL: nothing. */
    int (*before_exec)(void *ctx);
    void *ctx;
    int pdeathsig;         /* the child's parent-death signal (0: none) */
    volatile pid_t *track; /* receives the child's pid as soon as it exists (may be NULL) */
};

/*
 * Fork, and in the child exec s->argv (PATH search) with LD_PRELOAD=shim prepended and the
 * handshake pipe in CORDON_HANDSHAKE_FD. Waits for the exec (a close-on-exec pipe) and then
 * up to timeout_s seconds for the handshake. *pid receives the child. Without a handshake
 * the child is killed and reaped; what it started is left to the caller.
 */
int run_spawn(const struct run_spawn *s, pid_t *pid, int *exec_errno, char *line, size_t linelen);

/* run_spawn without before_exec, as a subreaper that kills whatever the command started when
 * no handshake comes (cordon doctor). */
int run_start(char *const argv[], const char *shim, double timeout_s, pid_t *pid, int *exec_errno,
              char *line, size_t linelen);

/*
 * What in the file system refuses to run cmd0 as this process stands (path_exec_blocker): a
 * directory on the way without search for this user, as /root (0700) is for all others. A
 * cmd0 with a slash is judged as given. A bare name is judged in each directory of PATH, the
 * first refusal counting, so ask only once an exec of it failed with EACCES: before, a PATH
 * directory this user cannot reach says nothing (execvp passes over it). 1 with why filled
 * ("/root is mode 0700 ..."), 0 when nothing there refuses.
 */
int run_exec_blocker(const char *cmd0, int exec_failed, char *why, size_t len);
/* What to do about it, for the message that follows a run_exec_blocker reason. */
#define RUN_BLOCKED_FIX                                                                            \
    "move the program where this user can reach it, or run as a user the directory lets through"

/*
 * LD_PRELOAD splits its value at spaces and colons, so a libcordon.so whose path holds one (a
 * clone in "/home/u/my projects") cannot be named there. When shim's path holds one, make a
 * private directory in /tmp (mode 0700) with symlinks named libcordon.so and
 * libcordon-root.so to the two libraries, and put the first one's path into shim (len
 * bytes): the kernel follows the link, so the sandbox grants, and the loader maps, the real
 * file. dir receives the directory for run_shim_alias_remove(), or "" when none was needed.
 * Returns 0, or a negative errno with err filled (what failed and what to do).
 */
__attribute__((warn_unused_result)) int
run_shim_alias(char *shim, size_t len, char dir[RUN_ALIAS_DIR], char *err, size_t errlen);
/* Remove what run_shim_alias made (nothing when dir is ""). */
void run_shim_alias_remove(const char *dir);

/*
 * The group that holds p's sandbox.limits (processes, memory) for a whole run, made from
 * outside the sandbox, where it can also be removed at the end (sandbox_cgroup_destroy).
 * NULL when p sets no limit or no group can be made; in the second case so->cgroup_error
 * points at why (which must live as long as so), and the sandbox falls back to rlimits or
 * refuses under strict what no rlimit holds (sandbox_apply). Used by run, exec and doctor.
 */
struct sandbox_cgroup *run_limits_group(const struct policy *p, struct sandbox_opts *so, char *why,
                                        size_t whylen);

#endif
