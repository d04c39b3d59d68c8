/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A control group for one run, made by a launcher that stays OUTSIDE the sandbox (`cordon
 * exec`, and `cordon run`'s supervisor): the only place where the processes of a sandbox can be
 * limited together (a process count, their memory) and found again at the end, whatever they
 * did to their process tree. Linux only.
 *
 * Where the group goes, per controller: the unified (v2) hierarchy when it offers the
 * controller and some ancestor of the launcher's own group has it enabled for its children
 * (root, or a delegated subtree the launcher can write); otherwise the v1 hierarchy of that
 * controller (hybrid layouts: pids and memory as v1, only hugetlb on cgroup2), beneath the
 * launcher's own v1 group. A group is named cordon-<pidns>-<pid>-<random> after its launcher,
 * so a later create removes the empty groups of launchers that died before destroying theirs.
 *
 * The sandboxed process cannot leave its group: Landlock grants nothing in /sys, so
 * cgroup.procs cannot be opened, and seccomp refuses a new cgroup namespace.
 *
 * Use from a launcher:
 *
 *     struct sandbox_cgroup *g = NULL;
 *     struct sandbox_cgroup_want want = {.processes = 50, .memory = 512 << 20};
 *     if (sandbox_cgroup_create(&want, &g, err, sizeof err) != 0)
 *         ... no group: the sandbox falls back to rlimits (err says why) ...
 *     pid = fork();
 *     child:  sandbox_cgroup_join(g, 0) (async-signal-safe), sandbox_apply(), exec
 *     parent: wait; sandbox_cgroup_kill(g) for what is left; sandbox_cgroup_destroy(g)
 *
 * sandbox_apply() then finds the limits in the process's own cgroups by itself and reports
 * them; it needs no word from the launcher.
 */
#ifndef CORDON_SANDBOX_CGROUP_H
#define CORDON_SANDBOX_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox_cgroup;

/* The limits a group is made for; 0 means no limit on that resource. */
struct sandbox_cgroup_want {
    uint64_t processes; /* pids.max: processes and threads together */
    uint64_t memory;    /* bytes: memory.max (v2) or memory.limit_in_bytes (v1); swap too */
};

enum sandbox_cgroup_res { SANDBOX_CGROUP_PIDS, SANDBOX_CGROUP_MEMORY };
enum sandbox_cgroup_kind { SANDBOX_CGROUP_NONE, SANDBOX_CGROUP_V2, SANDBOX_CGROUP_V1 };

/*
 * Make a group holding every limit of want that this machine and this launcher can hold,
 * and write those limits. Returns 0 and *out (free with sandbox_cgroup_destroy) when at least
 * one limit is held (sandbox_cgroup_holds says which; err is then empty, or says why another
 * wanted limit is not held); -EINVAL when want asks for nothing, -ENOTSUP when no hierarchy
 * offers a wanted controller, -EACCES/-EPERM/-EROFS/... when the launcher may not create a
 * group: then nothing was created, *out is NULL and err says what failed and what to do.
 */
__attribute__((warn_unused_result)) int
sandbox_cgroup_create(const struct sandbox_cgroup_want *want, struct sandbox_cgroup **out,
                      char *err, size_t errlen);

/* How g holds res: SANDBOX_CGROUP_NONE when it does not. *file, when not NULL, gets the limit
 * file ("/sys/fs/cgroup/pids/cordon-.../pids.max"), owned by g. */
enum sandbox_cgroup_kind sandbox_cgroup_holds(const struct sandbox_cgroup *g,
                                              enum sandbox_cgroup_res res, const char **file);

/*
 * Move pid (0: the calling process) into every directory of g. Async-signal-safe (open,
 * write, close only): meant for the child between fork and exec. 0 or a negative errno.
 */
__attribute__((warn_unused_result)) int sandbox_cgroup_join(const struct sandbox_cgroup *g,
                                                            pid_t pid);

/* The processes in g now (those of its first directory), or a negative errno. */
int sandbox_cgroup_count(const struct sandbox_cgroup *g);

/*
 * SIGKILL everything in g (cgroup.kill where v2 has it, else every listed process, again
 * until none is listed) and wait up to two seconds for the group to empty. Returns the
 * number of processes signalled, or a negative errno (-EBUSY: still populated). The caller,
 * if it is their parent or subreaper, reaps them.
 */
int sandbox_cgroup_kill(const struct sandbox_cgroup *g);

/* Times the kernel's OOM killer killed a process of g because of its memory limit. */
unsigned long sandbox_cgroup_oom_kills(const struct sandbox_cgroup *g);

/*
 * Kill what is left (as sandbox_cgroup_kill), remove every directory of g and free it. NULL
 * is accepted. Returns 0, or the first negative errno with err (when not NULL) naming the
 * directory that could not be removed; g is freed either way.
 */
int sandbox_cgroup_destroy(struct sandbox_cgroup *g, char *err, size_t errlen);

/*
 * The tightest limit that the calling process's own cgroups (its group and every ancestor,
 * v2 or v1) put on res, without changing anything and without allocating. Returns the limit
 * (bytes, or processes) with *kind and file (the limit file) set, or 0 when none applies.
 */
uint64_t sandbox_cgroup_limit_of_self(enum sandbox_cgroup_res res, enum sandbox_cgroup_kind *kind,
                                      char *file, size_t filelen);

#endif
