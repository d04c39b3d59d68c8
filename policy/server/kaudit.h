/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel refusals attributed to the agent (docs/SECURITY.md "Kernel refusals"). A static
 * binary, a Go program or a raw system call never passes through the shim's hooks; when the
 * kernel refuses it, its audit subsystem says so: Landlock in records of type 1423 (one per
 * denied access: domain, blockers, path) and 1424 (a domain's creator on its first logged
 * denial, "status=allocated ... pid=P", and its true denial count when it ends,
 * "status=deallocated denials=N"), seccomp in records of type 1326, each with a SYSCALL record
 * (pid, ppid, exe, syscall, exit) in the same event (the same serial).
 *
 * Three parts:
 * - the parser (kaudit_parse): one record's text, as the kernel sends it on the netlink
 *   socket, into its fields. Hostile input is refused, never trusted for lengths.
 * - the mapper (struct kaudit): groups records by event serial, maps a Landlock domain to the
 *   session whose root created it (the allocated record's pid is the root that sent the
 *   enforcement report, kaudit_root), attributes seccomp records by pid ancestry, and hands
 *   `kernel.deny` and `kernel.loss` records to a sink (cordond's audit writer). It does no
 *   I/O of its own besides the ancestry lookup in /proc, which the sink may replace.
 * - the listener (kaudit_net.c): the NETLINK_AUDIT socket bound to AUDIT_NLGRP_READLOG
 *   (CAP_AUDIT_READ), the kernel_audit modes off|on|if-enabled, and the restore at exit of
 *   what "on" changed (the enabled flag, the backlog limit).
 *
 * Every entry point of the mapper takes its lock: the listener thread feeds it, the events
 * thread notes roots, /metrics reads its counters.
 */
#ifndef CORDON_SERVER_KAUDIT_H
#define CORDON_SERVER_KAUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Record types (linux/audit.h; the Landlock ones are newer than Debian's headers). */
#define KAUDIT_SYSCALL 1300
#define KAUDIT_EOE 1320
#define KAUDIT_SECCOMP 1326
#define KAUDIT_LANDLOCK_ACCESS 1423
#define KAUDIT_LANDLOCK_DOMAIN 1424

#define KAUDIT_TEXT_MAX 8970 /* the kernel's MAX_AUDIT_MESSAGE_LENGTH */
#define KAUDIT_PATH_MAX 1024 /* longer paths are cut (and said so with "...") */
#define KAUDIT_NAME_MAX 256  /* exe, blockers */
#define KAUDIT_SESSION_MAX 64
#define KAUDIT_AGENT_MAX 64

/* SECCOMP_RET_ERRNO, the action of every refusal of cordon's filter, as a record's code gives
 * it (the action alone: the errno is not in the record). */
#define KAUDIT_SECCOMP_ERRNO 0x50000

/* One record's fields. Strings are NUL-terminated, "" when absent; numbers -1 when absent. */
struct kaudit_rec {
    int type;
    uint64_t serial;
    int64_t stamp_ms; /* the record's time, milliseconds since the epoch */
    int64_t pid, ppid;
    int64_t syscall, exit_code;
    uint64_t domain; /* Landlock, 0 when absent */
    int64_t denials; /* 1424 deallocated */
    int64_t code;    /* 1326: the filter's action (KAUDIT_SECCOMP_ERRNO) */
    int64_t arch;    /* SYSCALL, 1326: the AUDIT_ARCH_* of the system call */
    char status[16]; /* 1424: allocated | deallocated */
    char blockers[KAUDIT_NAME_MAX];
    char path[KAUDIT_PATH_MAX];
    char exe[KAUDIT_NAME_MAX];
    /* 1423 network and scope refusals: the address and port (daddr= dest=, or src= for a
     * bind), and the process a scoped signal or socket was aimed at (opid=); 0 and "" absent */
    char addr[48];
    int64_t port, opid;
};

/*
 * Parse one record: type is the netlink message type, text its payload (len bytes, need not
 * be NUL-terminated), which starts "audit(SECONDS.MILLIS:SERIAL): " and goes on with
 * key=value fields (a value quoted "...", bare, or hex-encoded for a string the kernel would
 * not print as is). Returns 0; -EINVAL when the stamp is missing or malformed or a field is
 * out of bounds; -E2BIG when len exceeds KAUDIT_TEXT_MAX. Fields the record lacks are left
 * absent; unknown fields are skipped.
 */
__attribute__((warn_unused_result)) int kaudit_parse(int type, const char *text, size_t len,
                                                     struct kaudit_rec *r);

/* Where the mapper's records go. */
struct kaudit_sink {
    /* An audit record: kind "kernel.deny" or "kernel.loss", the agent, fields a JSON object.
     * Returns 0 when it was written; a kernel.deny that was not counts as lost. */
    int (*emit)(void *ud, const char *kind, const char *agent, const char *fields);
    /* The parent of pid, or -1 (NULL: read from /proc/PID/stat). */
    pid_t (*parent)(void *ud, pid_t pid);
    void *ud;
};

struct kaudit_stats {
    uint64_t records;      /* records parsed (of the types above) */
    uint64_t malformed;    /* records refused by the parser, or too large to write */
    uint64_t denials;      /* kernel.deny records written */
    uint64_t unattributed; /* refusals of processes in no known session (other sandboxes, or a
                              root that never reported) */
    uint64_t lost;         /* denials the kernel counted and never logged (kernel.loss) */
    uint64_t overruns;     /* the socket overflowed (ENOBUFS): records lost uncounted */
    uint64_t domains;      /* domains mapped to a session */
    uint64_t unwritten;    /* records the audit log did not take (its writer failed) */
};

struct kaudit;

/* A mapper writing to sink (copied). Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int kaudit_new(const struct kaudit_sink *sink,
                                                   struct kaudit **out);
void kaudit_free(struct kaudit *k);

/* Feed one record (as kaudit_parse takes it) at now_ms (a monotonic clock). Records of the
 * same serial are one event, finished at its EOE record or when kaudit_tick finds it older
 * than KAUDIT_EVENT_MS. Returns 0 or kaudit_parse's error (counted as malformed). */
#define KAUDIT_EVENT_MS 500
int kaudit_feed(struct kaudit *k, int type, const char *text, size_t len, int64_t now_ms);

/* Finish events older than KAUDIT_EVENT_MS; refusals of a domain whose root has not reported
 * within KAUDIT_PEND_MS are attributed by ancestry or counted as unattributed. */
#define KAUDIT_PEND_MS 5000
void kaudit_tick(struct kaudit *k, int64_t now_ms);

/* Finish every open event and pending refusal now (the end of the run). */
void kaudit_flush(struct kaudit *k);

/* A root reported its sandbox: pid restricted itself for agent and session. Refusals of its
 * domain held until now are written. NULL k: nothing. */
void kaudit_root(struct kaudit *k, pid_t pid, const char *agent, const char *session);

/* A process of a session spoke on the event channel (pid is the kernel's, from the socket's
 * credentials): a seccomp refusal of this pid, or of a child of it, belongs to that session
 * even after it exited, when /proc no longer tells its parent. The last KAUDIT_PIDS are
 * kept. NULL k: nothing. */
#define KAUDIT_PIDS 4096
void kaudit_pid_seen(struct kaudit *k, pid_t pid, const char *agent, const char *session);

/*
 * A hook event of a session (the shim's fs.open, exec, ...) for path, which the kernel may
 * also refuse (the hook allowed it, or only logged it): the two records name each other. A
 * kernel refusal of the same pid and path written after it carries "hook" {kind, decision,
 * event_ts}; when the kernel's record came first, this returns its serial (the hook record
 * then carries "kernel_serial"), else 0. Only within KAUDIT_LINK_MS, among the last
 * KAUDIT_LINKS of each. NULL k or path: 0.
 */
#define KAUDIT_LINK_MS 10000
#define KAUDIT_LINKS 1024
uint64_t kaudit_hook_event(struct kaudit *k, pid_t pid, const char *session, const char *kind,
                           const char *decision, const char *path, double event_ts);

/* Domains mapped to a session whose end (the deallocated record) has not come yet. */
size_t kaudit_live_domains(struct kaudit *k);

/* Note n overruns of the socket. */
void kaudit_overrun(struct kaudit *k, uint64_t n);

/* The counters (all 0 for a NULL k). */
void kaudit_stats_get(struct kaudit *k, struct kaudit_stats *st);

/* ---- kaudit_net.c: the kernel's audit state and the listener ---- */

/* What AUDIT_GET reports. */
struct kaudit_state {
    uint32_t enabled; /* 0 off, 1 on, 2 on and locked until reboot */
    uint32_t failure; /* 0 silent, 1 printk, 2 panic */
    uint32_t pid;     /* the registered audit daemon, 0 none */
    uint32_t rate_limit, backlog_limit, lost, backlog;
};

/* Read the state. Returns 0, or a negative errno with err saying what failed and what to do
 * (-EPERM: reading it needs CAP_AUDIT_CONTROL; -EPROTONOSUPPORT: no audit in this kernel). */
int kaudit_state_get(struct kaudit_state *st, char *err, size_t errlen);

/* Set what mask names (KAUDIT_SET_*) from st: AUDIT_SET, which needs CAP_AUDIT_CONTROL.
 * Returns 0 or a negative errno with err set. */
#define KAUDIT_SET_ENABLED 0x01u /* AUDIT_STATUS_ENABLED */
#define KAUDIT_SET_BACKLOG 0x10u /* AUDIT_STATUS_BACKLOG_LIMIT */
int kaudit_state_set(unsigned mask, const struct kaudit_state *st, char *err, size_t errlen);

enum kaudit_mode { KAUDIT_OFF, KAUDIT_ON, KAUDIT_IF_ENABLED };
/* "off" | "on" | "if-enabled" into *m; -EINVAL otherwise. */
int kaudit_mode_parse(const char *s, enum kaudit_mode *m);

#define KAUDIT_BACKLOG 8192 /* the backlog limit "on" raises to (the default 64 drops bursts) */

struct kaudit_listener;

/*
 * Start the listener for mode (KAUDIT_OFF: *out NULL, returns 0). "on" enables audit when it
 * is off and raises the backlog limit to KAUDIT_BACKLOG, leaving the failure mode as it is;
 * "if-enabled" changes nothing and subscribes whatever the state (records flow once someone
 * enables audit). A thread reads the socket and feeds k. note gets one sentence on what was
 * done (for cordond's log). Returns 0; under "on" a negative errno with err set when the
 * socket or the change cannot be made; under "if-enabled" a failure is 0 with *out NULL and
 * the reason in note.
 */
int kaudit_listen_start(struct kaudit *k, enum kaudit_mode mode, struct kaudit_listener **out,
                        char *note, size_t notelen, char *err, size_t errlen);

/* Stop: read what the socket holds (up to drain_ms + 3 s), and up to drain_ms until
 * kaudit_live_domains() says no session's domain is still to end (its loss count is still to
 * come), flush k, then restore what
 * "on" changed unless another audit daemon registered meanwhile. note says what was restored. NULL
 * l: nothing. */
void kaudit_listen_stop(struct kaudit_listener *l, int drain_ms, char *note, size_t notelen);

#endif
