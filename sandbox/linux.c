/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_apply() on Linux: probe, decide what a strict policy can demand of this kernel and
 * which mechanism holds each of sandbox.limits, make the private IPC namespace when asked
 * (it needs the capabilities that go next), then no_new_privs, the capability drop, Landlock,
 * seccomp and the rlimits, in that order (Landlock and seccomp need no_new_privs; seccomp
 * comes after Landlock so nothing it refuses is needed while building the rest; the rlimits
 * come last so that a low one cannot starve the set-up).
 */
#include "sandbox/sandbox.h"
#include "sandbox/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "sandbox/landlock.h"
#include "sandbox/limits.h"
#include "sandbox/seccomp.h"

#ifndef CLONE_NEWIPC
#define CLONE_NEWIPC 0x08000000
#endif

/*
 * What the kernel lacks for this policy. Under strict the first gap is the error; under
 * best_effort each gap becomes a degradation in the report.
 */
static int check_kernel(const struct policy *p, struct sandbox_report *r, char *err, size_t errlen)
{
    int strict = p->sandbox.enforcement == POLICY_STRICT;
    struct gap {
        int missing;
        const char *what;
    } gaps[] = {
        {r->landlock_abi < 1,
         "landlock is not available (the kernel lacks it, or \"landlock\" is not in "
         "/sys/kernel/security/lsm); file system rules are not enforced; run on Linux 5.13+ "
         "with lsm=landlock"},
        {r->landlock_abi >= 1 && r->landlock_abi < 3,
         "landlock ABI < 3 lacks truncate control, so read-only files can be truncated; run "
         "on Linux 6.2+"},
        {r->landlock_abi >= 1 && r->landlock_abi < 4 && p->sandbox.net.mode != POLICY_NET_HOST,
         "landlock ABI < 4 lacks TCP rules; the policy's network mode needs them; run on "
         "Linux 6.7+"},
        {r->landlock_abi >= 1 && r->landlock_abi < 6 &&
             (p->sandbox.ipc.signals == POLICY_SCOPE_SCOPED ||
              p->sandbox.ipc.abstract_unix == POLICY_SCOPE_SCOPED),
         "landlock ABI < 6 lacks IPC scopes; signals and abstract unix sockets reach outside "
         "the sandbox; run on Linux 6.12+"},
        {!r->seccomp_available,
         "seccomp filters are not available; socket, ptrace and io_uring restrictions are not "
         "enforced"},
        {r->threads > 1,
         "the process has more than one thread, and Landlock restricts only the calling "
         "thread; apply the sandbox before starting threads"},
    };
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
        if (!gaps[i].missing)
            continue;
        if (strict) {
            snprintf(err, errlen,
                     "sandbox: %s; or set \"enforcement\": \"best_effort\" to run "
                     "with this gap reported",
                     gaps[i].what);
            return i == sizeof gaps / sizeof gaps[0] - 1 ? SANDBOX_ERR_THREADS
                                                         : SANDBOX_ERR_UNSUPPORTED;
        }
        sandbox_report_note(r->degradations, &r->n_degradations, "%s", gaps[i].what);
    }
    return 0;
}

/* 1 when the effective set holds cap (what unshare(CLONE_NEWIPC) needs: CAP_SYS_ADMIN). */
static int has_cap(int cap)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return 0;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

/*
 * sandbox.ipc.sysv "private": an IPC namespace of the process's own, made before the
 * capabilities go (it needs CAP_SYS_ADMIN) and before the filter (which refuses new
 * namespaces). SysV objects outside it cannot be named from inside, so the filter may then
 * let the SysV calls through. When it cannot be made, strict refuses and best_effort falls
 * back to "deny" and says so. Sets *sysv to what the filter must do.
 */
static int private_ipc(const struct policy *p, const struct sandbox_opts *o,
                       struct sandbox_report *r, enum sandbox_sysv *sysv, char *err, size_t errlen)
{
    *sysv = SANDBOX_SYSV_DENY;
    if (p->sandbox.ipc.sysv != POLICY_SYSV_PRIVATE)
        return 0;
    char why[200] = "";
    if (r->threads > 1)
        snprintf(why, sizeof why,
                 "unshare(CLONE_NEWIPC) would move only the calling thread, "
                 "and the process has %d",
                 r->threads);
    else if (o->dry_run && !has_cap(CAP_SYS_ADMIN))
        snprintf(why, sizeof why,
                 "creating an IPC namespace needs CAP_SYS_ADMIN, which this "
                 "process lacks");
    else if (!o->dry_run && syscall(SYS_unshare, (long)CLONE_NEWIPC) != 0)
        snprintf(why, sizeof why, "unshare(CLONE_NEWIPC) failed: %s%s", strerror(errno),
                 errno == EPERM ? " (it needs CAP_SYS_ADMIN)" : "");
    if (!why[0]) {
        r->ipc_namespace = 1;
        *sysv = SANDBOX_SYSV_ALLOW;
        return 0;
    }
    if (p->sandbox.enforcement == POLICY_STRICT) {
        snprintf(err, errlen,
                 "sandbox: sandbox.ipc.sysv is \"private\" but no IPC namespace can be made: "
                 "%s; run the agent as root, set sandbox.ipc.sysv to \"deny\" (SysV IPC "
                 "refused), or set \"enforcement\": \"best_effort\" to fall back to deny",
                 why);
        return SANDBOX_ERR_UNSUPPORTED;
    }
    sandbox_report_note(r->degradations, &r->n_degradations,
                        "sandbox.ipc.sysv \"private\" fell back to \"deny\" (SysV IPC is "
                        "refused): %s",
                        why);
    return 0;
}

/* What the mechanisms cannot do even when everything applied (docs/SECURITY.md). */
static const char *const limits[] = {
    "names inside a denied directory can be listed when its parent is granted; contents "
    "cannot be read",
    "rules name what existed when the sandbox was applied; new entries take the rights of "
    "their directory",
    "file descriptors opened before the sandbox keep working",
    "file modes and owners can change outside the grants (never setuid/setgid bits)",
    "the /proc/<pid>/fd lists of processes outside can be listed (descriptor numbers); "
    "their targets cannot be read or opened",
    NULL,
};

static void add_limits(const struct policy *p, const struct sandbox_opts *o,
                       struct sandbox_report *r)
{
    if (p->sandbox.net.mode == POLICY_NET_NONE && r->api_port)
        sandbox_report_note(r->limits, &r->n_limits,
                            "network mode none lets TCP connect() reach cordond's API port %u "
                            "(its model proxy) and nothing else; landlock filters TCP by port "
                            "only: that port is reachable on every address",
                            (unsigned)r->api_port);
    else if (p->sandbox.net.mode == POLICY_NET_NONE && o->api_port)
        sandbox_report_note(r->limits, &r->n_limits,
                            "network mode none: cordond's model proxy (port %u) is unreachable: "
                            "%s, so every inet socket stays refused",
                            (unsigned)o->api_port,
                            r->landlock_abi < 1 ? "landlock is not available; run on Linux 6.7+"
                            : r->landlock_abi < 4
                                ? "landlock ABI < 4 lacks TCP rules; run on Linux 6.7+"
                                : "seccomp filters are not available");
    if (p->sandbox.net.mode == POLICY_NET_PROXY) {
        sandbox_report_note(r->limits, &r->n_limits,
                            "landlock filters TCP by port only: the proxy port is reachable "
                            "on every address");
        sandbox_report_note(r->limits, &r->n_limits,
                            "listen() on an unbound TCP socket gets an ephemeral port: keep "
                            "inbound connections firewalled");
    }
    if (p->sandbox.ipc.unix_sockets == POLICY_UNIX_OPEN)
        sandbox_report_note(r->limits, &r->n_limits,
                            "connect() to pathname unix sockets is not checked (gpg-agent, "
                            "ssh-agent, docker.sock stay reachable); set "
                            "sandbox.ipc.unix_sockets to \"pairs\" to close it");
    for (size_t i = 0; limits[i]; i++)
        sandbox_report_note(r->limits, &r->n_limits, "%s", limits[i]);
}

/*
 * Capabilities a root agent keeps: what it needs to manage files inside the paths Landlock
 * grants (ownership, modes, reading files of other users there) and to drop to another user.
 * Everything else goes: CAP_FSETID (a setuid bit survives writes and chown only with it),
 * CAP_DAC_READ_SEARCH too (open_by_handle_at, the classic container
 * escape primitive; CAP_DAC_OVERRIDE already lets root search directories). With
 * CAP_SYS_ADMIN or CAP_PERFMON a root agent could read the
 * environment of processes outside the sandbox through /proc, with CAP_SYS_TIME move the
 * clock, with CAP_NET_ADMIN or CAP_SYS_RAWIO reach beneath every rule. no_new_privs keeps them
 * from coming back through setuid programs or file capabilities.
 */
static const int kept_caps[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SETUID, CAP_SETGID, CAP_KILL,
};

static int cap_kept(int cap)
{
    for (size_t i = 0; i < sizeof kept_caps / sizeof kept_caps[0]; i++)
        if (kept_caps[i] == cap)
            return 1;
    return 0;
}

/* Drop every capability but kept_caps from the bounding, ambient, inheritable, permitted
 * and effective sets. Returns the number of capabilities the process held and lost. */
static int drop_capabilities(char *err, size_t errlen)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0) {
        snprintf(err, errlen, "sandbox: cannot read the capabilities: %s", strerror(errno));
        return SANDBOX_ERR_SYSCALL;
    }
    int last = 63, dropped = 0;
    while (last > 0 && prctl(PR_CAPBSET_READ, last, 0, 0, 0) < 0)
        last--; /* the highest capability this kernel knows */
    int can_setpcap = (data[0].effective >> CAP_SETPCAP) & 1;
    for (int cap = 0; cap <= last; cap++) {
        if (cap_kept(cap))
            continue;
        if (can_setpcap && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
            prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            snprintf(err, errlen,
                     "sandbox: cannot drop capability %d from the bounding set: "
                     "%s",
                     cap, strerror(errno));
            return SANDBOX_ERR_SYSCALL;
        }
        uint32_t bit = 1u << (cap % 32);
        if (data[cap / 32].permitted & bit)
            dropped++;
        data[cap / 32].effective &= ~bit;
        data[cap / 32].permitted &= ~bit;
        data[cap / 32].inheritable &= ~bit;
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (syscall(SYS_capset, &hdr, data) != 0) {
        snprintf(err, errlen, "sandbox: cannot drop capabilities: %s", strerror(errno));
        return SANDBOX_ERR_SYSCALL;
    }
    return dropped;
}

int sandbox_apply(const struct policy *p, const struct sandbox_opts *o, struct sandbox_report *r,
                  char *err, size_t errlen)
{
    int rc;
    double t0 = sandbox_report_clock_us(), t;
    memset(r, 0, sizeof *r);
    r->enforcement = p->sandbox.enforcement;
    r->net_mode = p->sandbox.net.mode;

    r->landlock_abi = sandbox_probe_landlock_abi();
    r->seccomp_available =
        sandbox_probe_seccomp_mode() >= 0 && prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
    r->threads = sandbox_probe_threads();
    r->timing.probe_us = sandbox_report_clock_us() - t0;
    if ((rc = check_kernel(p, r, err, errlen)) != 0)
        return rc;
    if (p->sandbox.net.mode == POLICY_NET_PROXY && o->n_proxy_ports == 0)
        sandbox_report_note(r->limits, &r->n_limits,
                            "network mode proxy without a proxy port: no TCP connection is "
                            "allowed");
    r->sysv = p->sandbox.ipc.sysv;
    if ((rc = sandbox_limits_plan(p, o, r, err, errlen)) != 0)
        return rc;
    enum sandbox_sysv sysv;
    if ((rc = private_ipc(p, o, r, &sysv, err, errlen)) != 0)
        return rc;

    if (!o->dry_run && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "sandbox: cannot set no_new_privs: %s", strerror(errno));
        return SANDBOX_ERR_SYSCALL;
    }
    r->no_new_privs = o->dry_run ? sandbox_probe_no_new_privs() : 1;
    if (!o->dry_run) {
        int dropped = drop_capabilities(err, errlen);
        if (dropped < 0)
            return dropped;
        r->capabilities_dropped = (unsigned)dropped;
    }

    if (r->landlock_abi >= 1 &&
        (rc = sandbox_landlock_apply(p, o, r->landlock_abi, r, err, errlen)) != 0)
        return rc;

    /* Mode none with cordond's API port: Landlock lets TCP connect() reach that port alone
     * and refuses bind(), so the filter may let TCP sockets be made (the program of mode
     * proxy); UDP and every other family stay refused. Without Landlock's TCP rules, or
     * without a filter to refuse UDP, mode none keeps refusing every inet socket. */
    enum policy_net net = p->sandbox.net.mode;
    if (net == POLICY_NET_NONE && o->api_port && r->seccomp_available &&
        (r->net_handled & LANDLOCK_ACCESS_NET_CONNECT_TCP) && r->net_rules == 1) {
        net = POLICY_NET_PROXY;
        r->api_port = o->api_port;
    }
    t = sandbox_report_clock_us();
    if (r->seccomp_available &&
        (rc = sandbox_seccomp_apply(p, net, sysv, o->dry_run, r, err, errlen)) != 0)
        return rc;
    r->timing.seccomp_us = sandbox_report_clock_us() - t;

    /* The rlimits last: they only ever go down, which needs no capability, and a low
     * open_files or memory limit must not starve the Landlock and seccomp set-up above. */
    if ((rc = sandbox_limits_apply(r, o->dry_run, err, errlen)) != 0)
        return rc;

    add_limits(p, o, r);
    r->timing.total_us = sandbox_report_clock_us() - t0;
    return SANDBOX_OK;
}
