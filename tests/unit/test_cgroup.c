/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cgroup module against the real kernel: a group is made with its limits, a process
 * joins it and is bounded by it, what is inside is counted and killed, the group is removed
 * and nothing stays behind, and the empty groups of dead launchers are swept. Making a group
 * needs root (or a delegated subtree); elsewhere these tests skip and say so, and under
 * CI=true they fail instead.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup.h"

static void skip_or_fail(const char *why)
{
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        cr_assert_fail("CI=true, and %s", why);
    cr_skip_test("%s", why);
}

/* A group for want, or the test skips (fails under CI) with the module's own reason. */
static struct sandbox_cgroup *make(uint64_t processes, uint64_t memory)
{
    struct sandbox_cgroup_want want = {processes, memory};
    struct sandbox_cgroup *g = NULL;
    char err[512], why[600];
    int rc = sandbox_cgroup_create(&want, &g, err, sizeof err);
    if (rc != 0) {
        snprintf(why, sizeof why, "no cgroup can be made here: %s", err);
        skip_or_fail(why);
    }
    cr_assert_not_null(g);
    return g;
}

/* The directory of a limit file. */
static void dir_of(const char *file, char *dir, size_t len)
{
    snprintf(dir, len, "%s", file);
    char *slash = strrchr(dir, '/');
    cr_assert_not_null(slash);
    *slash = '\0';
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static long read_number(const char *path)
{
    char buf[64] = "";
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "cannot open %s", path);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert_gt(n, 0);
    return strtol(buf, NULL, 10);
}

/* A child that joins g, starts kids sleeping children, and sleeps; its pid. */
static pid_t start_member(struct sandbox_cgroup *g, int kids)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (sandbox_cgroup_join(g, 0) != 0)
            _exit(3);
        for (int i = 0; i < kids; i++)
            if (fork() == 0) {
                pause();
                _exit(0);
            }
        pause();
        _exit(0);
    }
    return pid;
}

static int wait_count(struct sandbox_cgroup *g, int want)
{
    int n = -1;
    for (int i = 0; i < 500 && (n = sandbox_cgroup_count(g)) != want; i++)
        usleep(2000);
    return n;
}

Test(cgroup, a_group_holds_its_limit_and_goes_away)
{
    struct sandbox_cgroup *g = make(20, 0);
    const char *file = NULL;
    enum sandbox_cgroup_kind kind = sandbox_cgroup_holds(g, SANDBOX_CGROUP_PIDS, &file);
    cr_assert_neq(kind, SANDBOX_CGROUP_NONE);
    cr_assert(strstr(file, "/pids.max"), "%s", file);
    cr_assert_eq(read_number(file), 20);
    cr_assert_eq(sandbox_cgroup_holds(g, SANDBOX_CGROUP_MEMORY, NULL), SANDBOX_CGROUP_NONE,
                 "memory was not asked for");
    char dir[1024];
    dir_of(file, dir, sizeof dir);
    cr_assert(strstr(dir, "/cordon-"), "%s", dir);
    cr_assert_eq(sandbox_cgroup_count(g), 0);

    pid_t m = start_member(g, 3);
    cr_assert_eq(wait_count(g, 4), 4, "the member and its three children are inside");
    cr_assert_eq(sandbox_cgroup_kill(g), 4);
    cr_assert_eq(sandbox_cgroup_count(g), 0);
    int status;
    cr_assert_eq(waitpid(m, &status, 0), m);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char err[512] = "";
    cr_assert_eq(sandbox_cgroup_destroy(g, err, sizeof err), 0, "%s", err);
    cr_assert(!exists(dir), "%s was left behind", dir);
}

Test(cgroup, destroy_kills_what_is_left_and_removes_the_group)
{
    struct sandbox_cgroup *g = make(20, 0);
    const char *file;
    sandbox_cgroup_holds(g, SANDBOX_CGROUP_PIDS, &file);
    char dir[1024];
    dir_of(file, dir, sizeof dir);
    pid_t m = start_member(g, 2);
    cr_assert_eq(wait_count(g, 3), 3);
    cr_assert_eq(sandbox_cgroup_destroy(g, NULL, 0), 0);
    cr_assert(!exists(dir), "%s was left behind", dir);
    int status;
    cr_assert_eq(waitpid(m, &status, 0), m);
    cr_assert(WIFSIGNALED(status));
}

/* In the group: how many children can be made, up to 40. */
static int forks_inside(struct sandbox_cgroup *g)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        if (sandbox_cgroup_join(g, 0) != 0)
            _exit(3);
        int made = 0;
        for (; made < 40; made++) {
            pid_t c = fork();
            if (c < 0)
                break;
            if (c == 0) {
                pause();
                _exit(0);
            }
        }
        if (write(fds[1], &made, sizeof made) != sizeof made)
            _exit(4);
        _exit(0);
    }
    close(fds[1]);
    int made = -1;
    cr_assert_eq(read(fds[0], &made, sizeof made), (ssize_t)sizeof made);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return made;
}

Test(cgroup, pids_max_stops_the_forks_of_every_member)
{
    struct sandbox_cgroup *g = make(10, 0);
    cr_assert_eq(forks_inside(g), 9, "ten processes in all: the member and nine children");
    cr_assert_eq(sandbox_cgroup_destroy(g, NULL, 0), 0);
}

Test(cgroup, a_member_finds_its_limit_by_itself)
{
    struct sandbox_cgroup *g = make(30, 64ULL << 20);
    const char *pfile = NULL, *mfile = NULL;
    enum sandbox_cgroup_kind pk = sandbox_cgroup_holds(g, SANDBOX_CGROUP_PIDS, &pfile);
    enum sandbox_cgroup_kind mk = sandbox_cgroup_holds(g, SANDBOX_CGROUP_MEMORY, &mfile);
    cr_assert_neq(pk, SANDBOX_CGROUP_NONE);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct {
            uint64_t pids, mem;
            int pk, mk;
            char pf[512], mf[512];
        } seen = {0};
        enum sandbox_cgroup_kind k;
        if (sandbox_cgroup_join(g, 0) != 0)
            _exit(3);
        seen.pids = sandbox_cgroup_limit_of_self(SANDBOX_CGROUP_PIDS, &k, seen.pf, sizeof seen.pf);
        seen.pk = (int)k;
        seen.mem = sandbox_cgroup_limit_of_self(SANDBOX_CGROUP_MEMORY, &k, seen.mf, sizeof seen.mf);
        seen.mk = (int)k;
        _exit(write(fds[1], &seen, sizeof seen) == sizeof seen ? 0 : 4);
    }
    close(fds[1]);
    struct {
        uint64_t pids, mem;
        int pk, mk;
        char pf[512], mf[512];
    } seen;
    cr_assert_eq(read(fds[0], &seen, sizeof seen), (ssize_t)sizeof seen);
    waitpid(pid, NULL, 0);
    cr_assert_eq(seen.pids, 30);
    cr_assert_eq(seen.pk, (int)pk);
    cr_assert_str_eq(seen.pf, pfile);
    if (mk != SANDBOX_CGROUP_NONE) {
        cr_assert_eq(seen.mem, 64ULL << 20);
        cr_assert_str_eq(seen.mf, mfile);
    }
    cr_assert_eq(sandbox_cgroup_destroy(g, NULL, 0), 0);
}

Test(cgroup, memory_limit_is_written_with_swap)
{
    struct sandbox_cgroup *g = make(0, 32ULL << 20);
    const char *file = NULL;
    if (sandbox_cgroup_holds(g, SANDBOX_CGROUP_MEMORY, &file) == SANDBOX_CGROUP_NONE) {
        sandbox_cgroup_destroy(g, NULL, 0);
        skip_or_fail("no hierarchy here offers the memory controller");
    }
    cr_assert_eq(read_number(file), 32L << 20);
    char dir[1024], sw[1100];
    dir_of(file, dir, sizeof dir);
    snprintf(sw, sizeof sw, "%s/memory.memsw.limit_in_bytes", dir);
    if (exists(sw))
        cr_assert_eq(read_number(sw), 32L << 20, "swap must not stretch the limit");
    snprintf(sw, sizeof sw, "%s/memory.swap.max", dir);
    if (exists(sw))
        cr_assert_eq(read_number(sw), 0);
    cr_assert_eq(sandbox_cgroup_oom_kills(g), 0);
    cr_assert_eq(sandbox_cgroup_destroy(g, NULL, 0), 0);
    cr_assert(!exists(dir));
}

Test(cgroup, empty_groups_of_dead_launchers_are_swept)
{
    struct sandbox_cgroup *g = make(5, 0);
    const char *file;
    sandbox_cgroup_holds(g, SANDBOX_CGROUP_PIDS, &file);
    char dir[1024], parent[1024], prefix[256];
    dir_of(file, dir, sizeof dir);
    dir_of(dir, parent, sizeof parent);
    /* cordon-<pidns>-<pid>-<random>: the same pid namespace, a pid that is gone */
    const char *base = strrchr(dir, '/') + 1;
    const char *dash = strchr(base + strlen("cordon-"), '-');
    snprintf(prefix, sizeof prefix, "%.*s", (int)(dash - base + 1), base);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    pid_t live = fork();
    if (live == 0) {
        pause();
        _exit(0);
    }
    char stale[2400], alive[2400];
    snprintf(stale, sizeof stale, "%s/%s%d-deadbeef", parent, prefix, (int)dead);
    snprintf(alive, sizeof alive, "%s/%s%d-feedface", parent, prefix, (int)live);
    cr_assert_eq(mkdir(stale, 0755), 0, "%s: %s", stale, strerror(errno));
    cr_assert_eq(mkdir(alive, 0755), 0, "%s: %s", alive, strerror(errno));
    cr_assert_eq(sandbox_cgroup_destroy(g, NULL, 0), 0);
    struct sandbox_cgroup *g2 = make(5, 0);
    int stale_left = exists(stale), alive_left = exists(alive);
    rmdir(stale);
    rmdir(alive);
    kill(live, SIGKILL);
    waitpid(live, NULL, 0);
    cr_assert_eq(sandbox_cgroup_destroy(g2, NULL, 0), 0);
    cr_assert(!stale_left, "the group of a dead launcher was not swept");
    cr_assert(alive_left, "the group of a live launcher was swept");
}

Test(cgroup, nothing_to_hold_is_an_error_and_null_is_accepted)
{
    struct sandbox_cgroup_want none = {0, 0};
    struct sandbox_cgroup *g = (struct sandbox_cgroup *)1;
    char err[256];
    cr_assert_eq(sandbox_cgroup_create(&none, &g, err, sizeof err), -EINVAL);
    cr_assert_null(g);
    cr_assert(strstr(err, "no limit"), "%s", err);
    cr_assert_eq(sandbox_cgroup_destroy(NULL, NULL, 0), 0);
    cr_assert_eq(sandbox_cgroup_holds(NULL, SANDBOX_CGROUP_PIDS, NULL), SANDBOX_CGROUP_NONE);
}

Test(cgroup, the_launchers_own_limits_are_read_without_a_group)
{
    /* whatever this machine has: the probe must answer, and a limit it names must exist */
    enum sandbox_cgroup_kind kind;
    char file[512];
    uint64_t v = sandbox_cgroup_limit_of_self(SANDBOX_CGROUP_PIDS, &kind, file, sizeof file);
    if (v) {
        cr_assert_neq(kind, SANDBOX_CGROUP_NONE);
        cr_assert_eq((uint64_t)read_number(file), v);
    } else {
        cr_assert_eq(kind, SANDBOX_CGROUP_NONE);
        cr_assert_str_eq(file, "");
    }
}
