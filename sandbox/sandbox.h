/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel sandbox: one compiled policy in, kernel restrictions out, and a report of exactly
 * what the kernel enforces afterwards. Linux applies Landlock (file system, TCP ports, IPC
 * scopes), a seccomp filter and no_new_privs; macOS applies a Seatbelt profile generated from
 * the same policy. Nothing here can be undone by the process once applied, and every child
 * inherits it across fork and exec.
 *
 * sandbox_apply() restricts the CALLING THREAD (and, through the seccomp TSYNC flag, the
 * seccomp part for all threads). Call it while the process has one thread: Landlock before ABI
 * 8 cannot restrict the other threads, so a strict policy refuses to apply when more exist.
 */
#ifndef CORDON_SANDBOX_SANDBOX_H
#define CORDON_SANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "policy/policy.h"

struct cJSON;

#define SANDBOX_MAX_PORTS 8
#define SANDBOX_MAX_NOTES 24
#define SANDBOX_NOTE_MAX 240

/* What the caller knows that the policy does not: where the governance proxy listens. */
struct sandbox_opts {
    size_t n_proxy_ports; /* TCP ports the agent may connect to in proxy mode */
    uint16_t proxy_ports[SANDBOX_MAX_PORTS];
    /* cordond's API port (its model proxy), 0 when no cordond is involved. In network mode
     * none it is the one TCP port connect() may reach, where Landlock has TCP rules (ABI 4);
     * proxy mode reaches it through proxy_ports. */
    uint16_t api_port;
    int dry_run;               /* build and count every rule, restrict nothing */
    size_t n_read_files;       /* files every process must be able to read: */
    const char *read_files[3]; /* libcordon.so when it lives outside /usr, /lib, and the CA
                                  bundle of terminated hosts (shim/root.c) */
    /* A launcher that tried to make a cgroup for sandbox.limits and could not says why here;
     * the sandbox puts it in its refusal or degradation (NULL: no launcher tried). Limits a
     * cgroup holds need no word: sandbox_apply finds them in /proc/self/cgroup. */
    const char *cgroup_error;
};

/* sandbox.limits, in the report's order. */
enum sandbox_limit {
    SANDBOX_LIMIT_PROCESSES,
    SANDBOX_LIMIT_MEMORY,
    SANDBOX_LIMIT_CPU_SECONDS,
    SANDBOX_LIMIT_OPEN_FILES,
    SANDBOX_N_LIMITS,
};

/* What enforces one limit. */
enum sandbox_via {
    SANDBOX_VIA_UNSET,     /* the policy sets no such limit */
    SANDBOX_VIA_CGROUP_V2, /* a cgroup v2 the process is in: the sandbox together */
    SANDBOX_VIA_CGROUP_V1, /* a cgroup v1 hierarchy (pids, memory): the sandbox together */
    SANDBOX_VIA_RLIMIT,    /* a resource limit: each process (RLIMIT_NPROC: each user) */
    SANDBOX_VIA_NOTHING,   /* asked for, enforced by nothing (best_effort: a degradation) */
};

struct sandbox_limit_state {
    uint64_t want;  /* the policy's value; 0: not set */
    uint64_t value; /* what the kernel enforces: want, or a tighter limit already in place */
    enum sandbox_via via;
    char where[256]; /* the cgroup's limit file, or the rlimit's name */
};

/* Microseconds spent in each phase of sandbox_apply(), for the enforcement report and bench/. */
struct sandbox_timing {
    double probe_us, fs_us, exec_us, net_us, seccomp_us, restrict_us, total_us;
};

struct sandbox_report {
    /* The kernel */
    int landlock_abi; /* 0: Landlock unavailable (disabled or too old) */
    int seccomp_available;
    /* What was applied */
    int landlock_applied;   /* a Landlock domain now restricts this thread */
    uint64_t fs_handled;    /* LANDLOCK_ACCESS_FS_* rights the ruleset handles */
    uint64_t net_handled;   /* LANDLOCK_ACCESS_NET_* rights the ruleset handles */
    uint64_t scoped;        /* LANDLOCK_SCOPE_* flags */
    unsigned fs_rules;      /* path-beneath rules for read/write grants (sibling expansion
                               included) */
    unsigned exec_rules;    /* path-beneath rules that grant EXECUTE */
    unsigned net_rules;     /* TCP port rules */
    uint16_t api_port;      /* mode none: the TCP port the agent may connect to (0: none) */
    unsigned expanded_dirs; /* directories expanded into sibling rules around a deny */

    /* What the kernel's audit log gets (kernel_audit, policy/server/kaudit.h) */
    unsigned landlock_log_flags; /* LANDLOCK_RESTRICT_SELF_LOG_* given to restrict_self */
    int landlock_marked; /* 1: the deliberate first denial that names the domain's creator to
                            the kernel's audit log (ABI 7) was refused as meant */
    int seccomp_logged;  /* the filter was installed with SECCOMP_FILTER_FLAG_LOG */

    int seccomp_installed;
    unsigned seccomp_rules;
    int no_new_privs;
    unsigned capabilities_dropped; /* capabilities the process held and lost (root agents) */
    int threads;                   /* threads in the process when the sandbox was applied */
    enum policy_enforcement enforcement;
    enum policy_net net_mode;
    enum policy_sysv sysv; /* the policy's sandbox.ipc.sysv */
    int ipc_namespace;     /* 1: the process got an IPC namespace of its own ("private");
                              0: SysV IPC is refused by seccomp */
    struct sandbox_limit_state resources[SANDBOX_N_LIMITS];
    struct sandbox_timing timing;
    /* Each degradation: something the policy asked for that the kernel does not enforce
     * (best_effort only; strict refuses instead). */
    size_t n_degradations;
    char degradations[SANDBOX_MAX_NOTES][SANDBOX_NOTE_MAX];
    /* Each limit: something the mechanism cannot do even when everything applied. */
    size_t n_limits;
    char limits[SANDBOX_MAX_NOTES][SANDBOX_NOTE_MAX];
};

/* The codes are in SANDBOX's block of base/err.h, disjoint from every errno. */
enum sandbox_status {
    SANDBOX_OK = 0,
    /* strict policy, kernel lacks a feature (err says which) */
    SANDBOX_ERR_UNSUPPORTED = ERR_BLOCK_SANDBOX - 1,
    /* strict policy, more than one thread */
    SANDBOX_ERR_THREADS = ERR_BLOCK_SANDBOX - 2,
    /* a Landlock, seccomp or prctl call failed unexpectedly */
    SANDBOX_ERR_SYSCALL = ERR_BLOCK_SANDBOX - 3,
    SANDBOX_ERR_NOMEM = ERR_BLOCK_SANDBOX - 4,
};

/*
 * Apply the sandbox the policy describes to the calling process. On SANDBOX_OK the report
 * says what the kernel enforces. On failure err holds a sentence that says what failed, why,
 * and what to do (run on a newer kernel, or set "enforcement": "best_effort"); the process may
 * then already carry part of the restrictions and must not run the agent.
 */
__attribute__((warn_unused_result)) int sandbox_apply(const struct policy *p,
                                                      const struct sandbox_opts *o,
                                                      struct sandbox_report *r, char *err,
                                                      size_t errlen);

/* The report as JSON text (malloc'd, caller frees), for `cordon exec --report` and the
 * enforcement report the shim sends to cordond. NULL on OOM. */
char *sandbox_report_json(const struct sandbox_report *r);
/* The same report as a cJSON object (caller cJSON_Delete's it), for a caller that adds to it
 * (the shim's root adds what sandbox.env hid). NULL on OOM. */
struct cJSON *sandbox_report_object(const struct sandbox_report *r);

/* The same report as text for a person (`cordon exec --report=text`), one fact a line.
 * Writes at most len bytes (NUL-terminated, truncated when short); returns the length the
 * whole text needs, as snprintf does. */
size_t sandbox_report_text(const struct sandbox_report *r, char *buf, size_t len);

/* Names used in the report: "processes", "memory", "cpu_seconds", "open_files"; and
 * "cgroup v2", "cgroup v1", "rlimit", "nothing", "unset". */
const char *sandbox_limit_name(enum sandbox_limit l);
/* What a sandbox_apply status means, in a few words: a sandbox code, or a negative errno
 * (strerror). err from sandbox_apply says more. */
const char *sandbox_strerror(int status);
const char *sandbox_via_name(enum sandbox_via v);

/* ---- probe.c: what this kernel offers, without changing anything ---- */

/* The Landlock ABI version, 0 when Landlock is unavailable. */
int sandbox_probe_landlock_abi(void);
/* Threads in this process (from /proc/self/status), or -1 when it cannot be read. */
int sandbox_probe_threads(void);
/* 1 when this process already runs with no_new_privs, 0 otherwise. */
int sandbox_probe_no_new_privs(void);
/* Seccomp mode from /proc/self/status: 0 none, 1 strict, 2 filter; -1 unknown. */
int sandbox_probe_seccomp_mode(void);

/*
 * cordon's seccomp filter answers prctl(SANDBOX_CANARY_OPTION, ...), an option no kernel
 * knows (the kernel says EINVAL), with SANDBOX_CANARY_ERRNO. no_new_privs and "a seccomp
 * filter" are true in any hardened container or systemd unit; this answer is true only
 * under cordon's sandbox, so the shim can tell a governed tree from a forged mark.
 */
#define SANDBOX_CANARY_OPTION 0x434f5244 /* "CORD" */
#define SANDBOX_CANARY_ERRNO 131         /* ENOTRECOVERABLE */
/* 1 when the calling process runs under cordon's seccomp filter, 0 otherwise. */
int sandbox_probe_cordon_filter(void);

/* ---- seatbelt.c: the macOS profile (generated on every OS, applied only on macOS) ---- */

/*
 * The SBPL profile for the policy: deny by default; read and write grants as subpaths;
 * read-metadata but not read-data on denied paths; network-outbound only to the proxy ports
 * on localhost. *out is malloc'd text (caller frees). Returns 0, -ENOMEM.
 */
__attribute__((warn_unused_result)) int
sandbox_seatbelt_profile(const struct policy *p, const struct sandbox_opts *o, char **out);

#endif
