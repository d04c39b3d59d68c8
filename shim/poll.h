/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy poller of a tree's root (docs/SHIM.md, "The poller"): every poll_seconds a
 * conditional fetch of the agent's policy; a newer one published is one warning on stderr and
 * a policy.stale event (the sandbox itself changes only on restart), a failure is said once
 * and retried. The shim's root and `cordon run`'s supervisor run this same loop; they differ
 * only in how they reach the fetch (libcordon.so calls it through libcordon-root.so's table)
 * and in the name their lines start with.
 */
#ifndef CORDON_SHIM_POLL_H
#define CORDON_SHIM_POLL_H

#include <stddef.h>

struct root;

struct poll_job {
    struct root *root; /* whose policy is watched: root_prepare done, online */
    /* One conditional fetch: root_poll_once, or libcordon-root.so's entry for it. Returns 1
     * with msg set when a newer policy is published, 0 unchanged, negative with err set. */
    int (*once)(struct root *r, char *msg, size_t msglen, char *err, size_t errlen);
    const char *who; /* the start of its lines on stderr: "cordon", "cordon run" */
    int quiet;       /* say nothing on stderr (CORDON_LOG=off); the events still go */
    unsigned failed; /* rounds that failed so far (only the first is said) */
    /* cordond's notices on the event channel (docs/PROTOCOL.md "Event channel"): with
     * notices set, the poller also waits on notice_fd and says a quarantine once. */
    int notices, notice_fd;
    int quarantine_said;
    /* the budget or rate refusals said so far ({"type":"refused"}), by scope hash: each
     * scope is said once for the tree */
    unsigned refused_said[16];
    unsigned n_refused_said;
};

/* Read what cordond sent on job->notice_fd without waiting; a quarantine notice is said once
 * on stderr. Returns 1 when a quarantine notice was read, 0 when none, -1 when the channel is
 * closed. */
int poll_notices(struct poll_job *job);

/* One round, without the wait: fetch, and say what changed. Returns what once returned. */
int poll_round(struct poll_job *job);

/*
 * Run poll_round every root->policy->poll_seconds on a detached thread of its own, for the
 * life of the process; job must live as long. Returns 0, or a negative errno when the thread
 * cannot be started (a newer policy then goes unnoticed until restart: the caller says so).
 */
__attribute__((warn_unused_result)) int poll_start(struct poll_job *job);

#endif
