/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The processes a run leaves behind. `cordon run` makes itself a child subreaper
 * (PR_SET_CHILD_SUBREAPER) before it starts the command, so every process the command starts
 * stays among cordon's descendants however it detaches (setsid, a double fork, a daemon):
 * an orphan is re-parented to the nearest subreaper, never past it. This module finds those
 * descendants in /proc, counts them and ends them.
 *
 * keep[] names processes that are not part of the run (the private cordond and its audit
 * writer): they and everything below them are never counted, signalled or reaped here.
 */
#ifndef CORDON_TOOLS_REAPER_H
#define CORDON_TOOLS_REAPER_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct reaper_result {
    unsigned running;    /* descendants running when the end began */
    unsigned terminated; /* ended by SIGTERM within the grace period */
    unsigned killed;     /* needed SIGKILL (the grace ran out, or there was none) */
    unsigned left;       /* still there after 5 s of SIGKILL (uninterruptible sleep) */
};

/* The descendants of this process that are running (not zombies), outside keep[]. */
unsigned reaper_count(const pid_t *keep, size_t nkeep);

/*
 * End every descendant outside keep[]: SIGTERM and SIGCONT (a stopped process must run to
 * act on SIGTERM) to each, a wait of up to grace_ms for them to exit, then SIGKILL, repeated
 * until none is left or 5 s have passed. A process that appears meanwhile (a child forked by
 * one that is being ended) is treated the same way. grace_ms 0 sends SIGKILL at once. When
 * *hurry becomes non-zero during the grace (a second Ctrl-C), SIGKILL follows at once.
 * Children of this process that exit are reaped (never those in keep[]). Fills *out.
 */
void reaper_end(const pid_t *keep, size_t nkeep, long grace_ms, volatile sig_atomic_t *hurry,
                struct reaper_result *out);

/* Reap this process's children that have exited, except those in keep[]: orphans of the run
 * that died while it goes on. Returns how many were reaped. */
unsigned reaper_reap(const pid_t *keep, size_t nkeep);

/* Walk /proc/PID/stat even where the children files exist, as on kernels without them
 * (CONFIG_PROC_CHILDREN unset). For tests of that path; off by default. */
void reaper_use_scan(int on);

#endif
