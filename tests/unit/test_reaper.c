/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tools/reaper.c, which `cordon run` uses to end what a command leaves running: real processes
 * below a subreaper, detached with setsid, ignoring SIGTERM, or kept out (the private
 * cordond). Each case runs twice, with the /proc children files and with the /proc/PID/stat
 * scan that kernels without those files get.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/reaper.h"

static void setup(void)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    signal(SIGCHLD, SIG_DFL);
}

TestSuite(reaper, .init = setup, .timeout = 60);

static int alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[2] != 'Z' && rp[2] != 'X';
}

/* A child that starts a detached (setsid) grandchild sleeping 30 s, tells its pid through a
 * pipe and exits: the grandchild comes back to us, the subreaper. With ignore_term the
 * grandchild ignores SIGTERM. Returns the grandchild's pid. */
static pid_t detached(int ignore_term)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t c = fork();
    cr_assert(c >= 0);
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            setsid();
            if (ignore_term)
                signal(SIGTERM, SIG_IGN);
            pid_t me = getpid();
            if (write(p[1], &me, sizeof me) != (ssize_t)sizeof me)
                _exit(3);
            for (int i = 0; i < 300; i++)
                usleep(100 * 1000);
            _exit(0);
        }
        _exit(g > 0 ? 0 : 1);
    }
    pid_t g = 0;
    cr_assert_eq(read(p[0], &g, sizeof g), (ssize_t)sizeof g);
    close(p[0]);
    close(p[1]);
    int st;
    cr_assert_eq(waitpid(c, &st, 0), c);
    return g;
}

static void case_counts_and_ends(int scan)
{
    reaper_use_scan(scan);
    pid_t a = detached(0), b = detached(1);
    cr_assert_eq(reaper_count(NULL, 0), 2, "two detached grandchildren came back to us");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct reaper_result r;
    reaper_end(NULL, 0, 300, NULL, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert_eq(r.running, 2);
    cr_assert_eq(r.terminated, 1, "one ended by SIGTERM");
    cr_assert_eq(r.killed, 1, "the one ignoring SIGTERM needed SIGKILL");
    cr_assert_eq(r.left, 0);
    cr_assert_geq(ms, 290, "SIGKILL came only after the grace (%ld ms)", ms);
    cr_assert(!alive(a) && !alive(b));
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "every child was reaped");
    cr_assert_eq(errno, ECHILD);
    cr_assert_eq(reaper_count(NULL, 0), 0);
}

Test(reaper, counts_and_ends_detached_descendants)
{
    case_counts_and_ends(0);
}

Test(reaper, counts_and_ends_detached_descendants_by_scan)
{
    case_counts_and_ends(1);
}

static void case_keep(int scan)
{
    reaper_use_scan(scan);
    /* a kept child with a child of its own: neither is counted, signalled or reaped */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t kept = fork();
    cr_assert(kept >= 0);
    if (kept == 0) {
        pid_t g = fork();
        if (g == 0) {
            for (int i = 0; i < 300; i++)
                usleep(100 * 1000);
            _exit(0);
        }
        if (write(p[1], &g, sizeof g) != (ssize_t)sizeof g)
            _exit(3);
        for (int i = 0; i < 300; i++)
            usleep(100 * 1000);
        _exit(0);
    }
    pid_t below = 0;
    cr_assert_eq(read(p[0], &below, sizeof below), (ssize_t)sizeof below);
    pid_t other = detached(0);
    pid_t keep[1] = {kept};
    cr_assert_eq(reaper_count(keep, 1), 1);
    struct reaper_result r;
    reaper_end(keep, 1, 0, NULL, &r);
    cr_assert_eq(r.running, 1);
    cr_assert_eq(r.killed, 1, "grace 0: SIGKILL at once");
    cr_assert_eq(r.terminated, 0);
    cr_assert(!alive(other));
    cr_assert(alive(kept) && alive(below), "the kept process and its child were left alone");
    cr_assert_eq(reaper_reap(keep, 1), 0);
    cr_assert_eq(waitpid(kept, NULL, WNOHANG), 0, "the kept child was not reaped");
    kill(below, SIGKILL);
    kill(kept, SIGKILL);
    waitpid(kept, NULL, 0);
}

Test(reaper, leaves_kept_processes_alone)
{
    case_keep(0);
}

Test(reaper, leaves_kept_processes_alone_by_scan)
{
    case_keep(1);
}

Test(reaper, hurry_cuts_the_grace_short)
{
    detached(1);
    volatile sig_atomic_t hurry = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct reaper_result r;
    reaper_end(NULL, 0, 20000, &hurry, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 5, "a 20 s grace was not cut short");
    cr_assert_eq(r.killed, 1);
}

Test(reaper, reaps_orphans_that_died)
{
    pid_t g = detached(0);
    kill(g, SIGKILL);
    for (int i = 0; i < 100 && alive(g); i++)
        usleep(10 * 1000);
    cr_assert_eq(reaper_reap(NULL, 0), 1);
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
}
