/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.limits (see limits.h). A cgroup bounds the sandbox's processes together and is
 * preferred; the launcher outside the sandbox makes it (sandbox/cgroup.h) and this code only
 * finds it. Without one, processes -> RLIMIT_NPROC (per real user id, counting every
 * process of that user on the host, and not binding root at all), memory -> RLIMIT_AS (per
 * process, address space), and always cpu_seconds -> RLIMIT_CPU and open_files ->
 * RLIMIT_NOFILE (per process). Soft and hard limits are set alike: the agent has no
 * CAP_SYS_RESOURCE left to raise a hard limit, and a soft one below it could be raised.
 * No stdio: the shim runs this in its constructor.
 */
#include "base/io.h"
#include "sandbox/limits.h"
#include "sandbox/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox/cgroup.h"

static const int rlimit_of[SANDBOX_N_LIMITS] = {RLIMIT_NPROC, RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE};
static const char *const rlimit_names[SANDBOX_N_LIMITS] = {"RLIMIT_NPROC", "RLIMIT_AS",
                                                           "RLIMIT_CPU", "RLIMIT_NOFILE"};

/*
 * 1 when the real uid is the host's root, whose processes fork() never counts against
 * RLIMIT_NPROC (the kernel exempts INIT_USER whatever its capabilities). A root mapped from
 * another uid by a user namespace is counted.
 */
static int real_uid_is_host_root(void)
{
    if (getuid() != 0)
        return 0;
    char buf[512];
    if (io_read_small("/proc/self/uid_map", buf, sizeof buf) < 0)
        return 1;
    for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        char *end;
        unsigned long inside = strtoul(line, &end, 10);
        unsigned long outside = strtoul(end, &end, 10);
        unsigned long count = strtoul(end, &end, 10);
        if (inside == 0 && count > 0)
            return outside == 0;
    }
    return 1;
}

int sandbox_limits_plan(const struct policy *p, const struct sandbox_opts *o,
                        struct sandbox_report *r, char *err, size_t errlen)
{
    const uint64_t want[SANDBOX_N_LIMITS] = {p->sandbox.limits.processes, p->sandbox.limits.memory,
                                             p->sandbox.limits.cpu_seconds,
                                             p->sandbox.limits.open_files};
    for (int i = 0; i < SANDBOX_N_LIMITS; i++) {
        struct sandbox_limit_state *ls = &r->resources[i];
        ls->want = ls->value = want[i];
        ls->via = want[i] ? SANDBOX_VIA_RLIMIT : SANDBOX_VIA_UNSET;
        snprintf(ls->where, sizeof ls->where, "%s", want[i] ? rlimit_names[i] : "");
        if (!want[i] || (i != SANDBOX_LIMIT_PROCESSES && i != SANDBOX_LIMIT_MEMORY))
            continue;
        enum sandbox_cgroup_kind kind;
        char file[sizeof ls->where];
        uint64_t cg = sandbox_cgroup_limit_of_self(
            i == SANDBOX_LIMIT_PROCESSES ? SANDBOX_CGROUP_PIDS : SANDBOX_CGROUP_MEMORY, &kind, file,
            sizeof file);
        if (cg && cg <= want[i]) {
            ls->via = kind == SANDBOX_CGROUP_V2 ? SANDBOX_VIA_CGROUP_V2 : SANDBOX_VIA_CGROUP_V1;
            ls->value = cg;
            snprintf(ls->where, sizeof ls->where, "%s", file);
            continue;
        }
        if (i == SANDBOX_LIMIT_MEMORY) {
            sandbox_report_note(r->limits, &r->n_limits,
                                "sandbox.limits.memory is RLIMIT_AS: each process's address "
                                "space, not the sandbox's memory together; runtimes that "
                                "reserve large ranges (Node.js, the JVM, Go) need far more");
            continue;
        }
        if (!real_uid_is_host_root()) {
            sandbox_report_note(r->limits, &r->n_limits,
                                "sandbox.limits.processes is RLIMIT_NPROC: it counts every "
                                "process of uid %u on the host, inside the sandbox or not",
                                (unsigned)getuid());
            continue;
        }
        char why[400];
        snprintf(why, sizeof why,
                 "sandbox.limits.processes (%llu) cannot be enforced: the agent runs as root, "
                 "whose processes RLIMIT_NPROC does not count, and no cgroup of this process "
                 "holds pids.max <= %llu%s%s%s",
                 (unsigned long long)want[i], (unsigned long long)want[i],
                 o->cgroup_error ? " (" : "", o->cgroup_error ? o->cgroup_error : "",
                 o->cgroup_error ? ")" : "");
        if (p->sandbox.enforcement == POLICY_STRICT) {
            snprintf(err, errlen,
                     "sandbox: %s; start the agent from a launcher that makes a cgroup for it "
                     "(`cordon exec` as root, or in a delegated cgroup subtree), run the agent "
                     "as a user of its own, or set \"enforcement\": \"best_effort\" to run "
                     "without the limit",
                     why);
            return SANDBOX_ERR_UNSUPPORTED;
        }
        ls->via = SANDBOX_VIA_NOTHING;
        ls->value = 0;
        snprintf(ls->where, sizeof ls->where, "nothing (root is not counted by RLIMIT_NPROC)");
        sandbox_report_note(r->degradations, &r->n_degradations, "%s", why);
    }
    if (o->cgroup_error && ((want[SANDBOX_LIMIT_PROCESSES] &&
                             r->resources[SANDBOX_LIMIT_PROCESSES].via == SANDBOX_VIA_RLIMIT) ||
                            (want[SANDBOX_LIMIT_MEMORY] &&
                             r->resources[SANDBOX_LIMIT_MEMORY].via == SANDBOX_VIA_RLIMIT)))
        sandbox_report_note(r->limits, &r->n_limits, "no cgroup holds sandbox.limits: %s",
                            o->cgroup_error);
    if (want[SANDBOX_LIMIT_CPU_SECONDS])
        sandbox_report_note(r->limits, &r->n_limits,
                            "sandbox.limits.cpu_seconds is RLIMIT_CPU: each process may use "
                            "%llu s of CPU (SIGKILL at the limit), not the sandbox together",
                            (unsigned long long)want[SANDBOX_LIMIT_CPU_SECONDS]);
    return 0;
}

int sandbox_limits_apply(struct sandbox_report *r, int dry_run, char *err, size_t errlen)
{
    for (int i = 0; i < SANDBOX_N_LIMITS; i++) {
        struct sandbox_limit_state *ls = &r->resources[i];
        if (ls->via != SANDBOX_VIA_RLIMIT)
            continue;
        struct rlimit cur;
        if (getrlimit(rlimit_of[i], &cur) != 0) {
            snprintf(err, errlen, "sandbox: cannot read %s: %s", rlimit_names[i], strerror(errno));
            return SANDBOX_ERR_SYSCALL;
        }
        rlim_t v = (rlim_t)ls->want;
        if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
            v = cur.rlim_max; /* a lower hard limit is already in place and binds */
        ls->value = (uint64_t)v;
        if (v < (rlim_t)ls->want)
            snprintf(ls->where, sizeof ls->where, "%s (already lower: %llu)", rlimit_names[i],
                     (unsigned long long)v);
        if (dry_run)
            continue;
        struct rlimit nl = {v, v};
        if (setrlimit(rlimit_of[i], &nl) != 0) {
            snprintf(err, errlen, "sandbox: cannot set %s to %llu: %s", rlimit_names[i],
                     (unsigned long long)v, strerror(errno));
            return SANDBOX_ERR_SYSCALL;
        }
    }
    return 0;
}
