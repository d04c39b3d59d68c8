/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State shared by the shim's hook families, set once by the constructor and read-only after
 * (except the fds, which the fd hooks may move). Nothing here is for other programs: the
 * library exports only the hooked libc names.
 */
#ifndef CORDON_SHIM_SHIM_H
#define CORDON_SHIM_SHIM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "shim/decide.h"
#include "shim/profile.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

/* The name a hook is defined under (shim/hooklist.h lists them all): the libc name itself on
 * Linux, where the preloaded definition comes first in symbol lookup; cordon_hook_<name> on
 * macOS, where dyld swaps each pair of the __DATA,__interpose table (interpose_macos.c). */
#ifdef __APPLE__
#define HOOK(name) cordon_hook_##name
#else
#define HOOK(name) name
#endif

/* Kinds of denial, for CORDON_LOG=once. */
enum shim_kind {
    SHIM_KIND_FS = 1 << 0,
    SHIM_KIND_EXEC = 1 << 1,
    SHIM_KIND_NET = 1 << 2,
    SHIM_KIND_UDP = 1 << 3,
    SHIM_KIND_SETUID = 1 << 4,
    SHIM_KIND_KERNEL_FS = 1 << 5,
    SHIM_KIND_TUNNEL = 1 << 6,
    SHIM_KIND_KERNEL_EXEC = 1 << 7,
    SHIM_KIND_DNS = 1 << 8,      /* a name the tunnel cannot carry */
    SHIM_KIND_DNS_FULL = 1 << 9, /* the name map is full */
};

/* The shim's own descriptors, which close/dup2/close_range must not take away. */
enum shim_fd { SHIM_FD_EVENT, SHIM_FD_POLICY, SHIM_FD_DNS, SHIM_FD_HOOKS, SHIM_FD_COUNT };

#define SHIM_ENV_MAX 34

struct shim_state {
    _Atomic int active; /* hooks decide only when 1 */
    const struct policy *policy;
    struct decide_fs_index fs_deny; /* policy's filesystem.deny, measured once */
    int observe;
    enum policy_net net;
    enum profile_log log_mode;
    struct sockaddr_storage proxy; /* the egress tunnel */
    socklen_t proxy_len;
    uint16_t cordond_ports[8]; /* connects to these pass untouched */
    size_t n_cordond_ports;
    char server_host[256]; /* never mapped to a placeholder */
    uint16_t server_port;  /* cordond's API port (its model proxy); 0: no cordond */
    char key[PROFILE_KEY_LEN + 1];
    char session[33];
    char agent[128];
    uint64_t version;
    _Atomic int fds[SHIM_FD_COUNT];
    _Atomic unsigned said; /* kinds already printed */
    /* "NAME=value" strings re-injected into the environment of every exec. */
    size_t n_env;
    char *env[SHIM_ENV_MAX];
    int env_override[SHIM_ENV_MAX]; /* 1: replaces the child's value; 0: only if missing */
};

extern struct shim_state shim HIDDEN;

/* dlsym(RTLD_NEXT, name), for lazily resolved real functions. */
void *shim_real(const char *name) HIDDEN;
/* Fill *slot on first use and return slot; the race between threads is benign (both store
 * the same value). */
void **shim_real_slot(void **slot, const char *name) HIDDEN;
#define REAL(fn) (*(__typeof__(&r_##fn))shim_real_slot((void **)&r_##fn, #fn))

/*
 * Report a decision: one line on stderr (subject to CORDON_LOG) and one event.
 *   kind: enum shim_kind; ev_kind: "fs.open", "exec", ...; decision: "deny", "log", "allow"
 *   what: "open", "execve"...; subject: the path, program or host; rule: the words naming it
 *   detail: the event's detail JSON object text (may be NULL)
 */
void shim_report(unsigned kind, const char *ev_kind, const char *decision, const char *what,
                 const char *subject, const char *rule, const char *detail) HIDDEN;

/* Is fd one of the shim's own? */
int shim_is_own_fd(int fd) HIDDEN;
/* Move the shim fd that occupies fd elsewhere (used before dup2 onto it). */
void shim_move_own_fd(int fd) HIDDEN;

/* Build the environment for an exec: envp plus the shim's variables. out has room for cap
 * pointers; scratch holds a merged LD_PRELOAD. Returns out, or envp when it cannot fit. */
char *const *shim_env_for_exec(char *const envp[], char **out, size_t cap, char *scratch,
                               size_t scratchlen) HIDDEN;

/* The path of fd (readlink /proc/self/fd/N) or the cwd for AT_FDCWD, into buf. 0, or a
 * negative errno (-ENOTDIR: fd names no directory or file path). */
int shim_dir_of(int dirfd, char *buf, size_t len) HIDDEN;

#endif
