/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The anomaly response (docs/POLICY.md "api.anomaly", docs/SERVER.md "Anomaly response"):
 * sliding-window counters per agent, fed by the model proxy (requests, tokens, spend, its
 * refusals, the tools the model called), by the event intake (the shims' denied opens, execs
 * and connects) and by the tunnel (egress hosts the agent had not reached before), judged
 * against the thresholds of the agent's current policy.
 *
 * A trigger does what api.anomaly.on_trigger says: alert records it and counts it; throttle
 * also refuses the agent's model calls with 429 for throttle_seconds; quarantine refuses every
 * model call and tunnel of the agent, and ends the open ones, until an administrator releases
 * it. A quarantine survives a restart: the quarantined agents are kept in a small file
 * (anomaly_state_*), written whole and renamed into place on every change.
 *
 * Memory is fixed per agent: each window is a ring of 60 buckets (a second, ten seconds or a
 * minute wide), and the distinct names (tools, egress hosts) a table of ANOMALY_NAMES hashes.
 * One mutex guards the table; the work under it per call is a few hundred additions.
 * anomaly_generation() changes on every quarantine and release, so that the open tunnels and
 * streams look at the table only when something changed.
 */
#ifndef CORDON_SERVER_ANOMALY_H
#define CORDON_SERVER_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define ANOMALY_FILE "quarantine"    /* in cordond's state_dir */
#define ANOMALY_STATE_MAX (1u << 20) /* the largest state file read */
#define ANOMALY_REASON_MAX 200
#define ANOMALY_NAMES 128 /* distinct tools or hosts remembered per agent */
#define ANOMALY_LAST_DENIALS 5
#define ANOMALY_MAX_AGENTS 65536

/* What the counters count. */
enum anomaly_signal {
    ANOMALY_REQUESTS, /* model calls, per minute */
    ANOMALY_TOKENS,   /* input + output tokens, per minute */
    ANOMALY_SPEND,    /* micro-dollars, per hour */
    ANOMALY_DENIALS,  /* refusals of either layer, per 10 minutes */
    ANOMALY_TOOLS,    /* distinct tool names the model called, per 10 minutes */
    ANOMALY_HOSTS,    /* egress hosts not reached before, per hour */
    ANOMALY_N_SIGNALS
};

/* The name of a signal as the policy writes its threshold ("requests_per_minute"). */
const char *anomaly_signal_name(enum anomaly_signal s);

/* Where a record goes: the server's audit log (srv_audit), or a test's list. fields is a JSON
 * object text; sync: the record must be on disk before the caller goes on. */
typedef void (*anomaly_record_fn)(void *ud, const char *kind, const char *agent, const char *fields,
                                  int sync);

struct anomaly;

/*
 * A table whose quarantines are kept in state_path (NULL: in memory only). The file is read
 * now: a missing file is an empty table; one that cannot be read or parsed is an error (err
 * says which line and why), since starting without it would lift quarantines silently.
 * Returns 0 and *out, or a negative errno.
 */
__attribute__((warn_unused_result)) int anomaly_open(const char *state_path, anomaly_record_fn rec,
                                                     void *rec_ud, struct anomaly **out, char *err,
                                                     size_t errlen);
void anomaly_close(struct anomaly *a);

/*
 * The gate of a model call (tunnel: is_tunnel) before it is judged. Returns 0 when it may go
 * on; ANOMALY_QUARANTINED with *since_ms (wall clock) when the agent is quarantined;
 * ANOMALY_THROTTLED with *retry_s when it is throttled (model calls only). now_ms: the wall
 * clock, 0 for the real one.
 */
#define ANOMALY_QUARANTINED 1
#define ANOMALY_THROTTLED 2
int anomaly_gate(struct anomaly *a, const char *agent, int is_tunnel, int64_t now_ms,
                 int64_t *since_ms, unsigned *retry_s);

/*
 * Count amount of signal s for agent (for ANOMALY_TOOLS and ANOMALY_HOSTS, one name: amount
 * is ignored; what: the denied thing for ANOMALY_DENIALS, shown by `cordon status`), and judge
 * the windows against p's api.anomaly (p NULL or without api.anomaly: counted, never
 * triggered). A trigger records anomaly.trigger, and in enforce mode acts: throttle, or
 * quarantine (recorded as anomaly.quarantine, synchronously, and kept in the state file).
 * Returns 1 when this call quarantined the agent, else 0.
 */
int anomaly_note(struct anomaly *a, const char *agent, const struct policy *p,
                 enum anomaly_signal s, uint64_t amount, const char *what, int64_t now_ms);

/* Call fn(ud, agent) after each quarantine, once its record is written (the server wakes the
 * agent's streams with it); fn NULL: none. Returns once no call to the previous fn runs. */
void anomaly_on_quarantine(struct anomaly *a, void (*fn)(void *ud, const char *agent), void *ud);

/* 1 with *since_ms when agent is quarantined, else 0. */
int anomaly_quarantined(struct anomaly *a, const char *agent, int64_t *since_ms);

/* Changes on every quarantine and release (an atomic read, no lock). */
uint64_t anomaly_generation(const struct anomaly *a);

/*
 * Lift agent's quarantine (and throttle); by names who asked (recorded). Returns 1 when it was
 * quarantined, 0 when it was not, or a negative errno when the state file could not be
 * written (the quarantine then stays, so that memory and file agree).
 */
int anomaly_release(struct anomaly *a, const char *agent, const char *by, int64_t now_ms);

/* Every agent the table knows, as a JSON object text {"AGENT": {...}, ...}: the windows'
 * current values, quarantine and throttle, the last denials. Caller frees; NULL: no memory. */
char *anomaly_status_json(struct anomaly *a, int64_t now_ms);

/* The /metrics lines (Prometheus text) of the anomaly response. Caller frees. */
char *anomaly_metrics(struct anomaly *a);

/*
 * The state file: "cordon-quarantine 1", then one line per quarantined agent,
 * "AGENT SINCE_MS REASON" (the reason printable ASCII). anomaly_state_parse calls fn for each
 * entry (a hostile file gets no further than a diagnostic: names are checked, numbers bounded,
 * lines limited). Returns 0, or -EINVAL with err naming the line.
 */
typedef int (*anomaly_state_fn)(void *ud, const char *agent, int64_t since_ms, const char *reason);
__attribute__((warn_unused_result)) int anomaly_state_parse(const char *buf, size_t len,
                                                            anomaly_state_fn fn, void *ud,
                                                            char *err, size_t errlen);

#endif
