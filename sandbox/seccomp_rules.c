/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules of the seccomp filter, expressed with libseccomp (see seccomp.h for what they
 * cover and why). They depend only on the network mode, the unix-socket mode and whether SysV
 * IPC is allowed, so the build runs them once per combination (gen_seccomp.c) and compiles the
 * resulting BPF into cordon: no process pays for building the filter or for loading
 * libseccomp. The unit tests build them again at run time and compare.
 *
 * socket(2) and ioctl(2) take 32-bit arguments and the kernel drops the upper half of the
 * register, so an equality must look at the lower half only: with a plain comparison (even
 * libseccomp's SCMP_CMP32 form, which still checks the upper word) ioctl(0, TIOCSTI | 1 << 32)
 * slipped past the rule and the kernel ran TIOCSTI. Every equality is therefore a masked one,
 * (arg & 0xffffffff) == value; an ordering comparison with stray upper bits only errs towards
 * refusing. Rules only deny; the default is allow, so no two rules can disagree about a call.
 */
#include "sandbox/seccomp_rules.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#ifndef AF_MAX_KNOWN
#define AF_MAX_KNOWN 64 /* families above this are refused by one rule */
#endif

/*
 * Never needed by an agent, often by an escape or a kernel exploit. The number is used where
 * this libseccomp is older than the system call (x86_64 numbers); a name it resolves to
 * nothing, with no number, fails the build rather than leave a hole.
 */
struct call {
    const char *name;
    int x86_64_nr;
};

static const struct call denied_calls[] = {
    {"ptrace", 0},
    {"process_vm_readv", 0},
    {"process_vm_writev", 0},
    {"bpf", 0},
    {"perf_event_open", 0},
    {"keyctl", 0},
    {"add_key", 0},
    {"request_key", 0},
    {"mount", 0},
    {"umount2", 0},
    {"pivot_root", 0},
    {"move_mount", 0},
    {"open_tree", 0},
    {"open_tree_attr", 467},
    {"fsopen", 0},
    {"fsconfig", 0},
    {"fsmount", 0},
    {"fspick", 0},
    {"mount_setattr", 442},
    {"kexec_load", 0},
    {"kexec_file_load", 0},
    {"init_module", 0},
    {"finit_module", 0},
    {"delete_module", 0},
    {"io_uring_setup", 0},
    {"io_uring_enter", 0},
    {"io_uring_register", 0},
    {"userfaultfd", 0},
    {"quotactl", 0},
    {"quotactl_fd", 443},
    {"swapon", 0},
    {"swapoff", 0},
    {"reboot", 0},
    {"settimeofday", 0},
    {"clock_settime", 0},
    {"adjtimex", 0},
    {"clock_adjtime", 0},
    {"acct", 0},
    {"sethostname", 0},
    {"setdomainname", 0},
    {"setns", 0},
    {NULL, 0},
};

/*
 * System V IPC. Its objects are named by keys and ids that no Landlock rule or scope covers,
 * so a segment or queue made outside the sandbox could be attached, read and overwritten
 * from inside. Refused unless the sandbox has an IPC namespace of its own
 * (sandbox.ipc.sysv "private"), where nothing from outside can be named.
 */
static const char *const sysv_calls[] = {
    "shmget", "shmat",  "shmdt", "shmctl",     "msgget", "msgsnd", "msgrcv",
    "msgctl", "semget", "semop", "semtimedop", "semctl", NULL,
};

/*
 * POSIX message queues. Landlock refuses mq_open's open of the queue (the internal mqueue
 * mount is granted nowhere), but only after the kernel created it with O_CREAT, and mq_unlink
 * removes a queue without the path hooks Landlock checks: a queue of any program outside
 * could be deleted from inside. No agent needs them; the family is refused.
 */
static const char *const mq_calls[] = {
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", NULL,
};

/*
 * Calls that act on another process by pid, whose only kernel check is "same user or the
 * capability": a root agent, its capabilities dropped, still matches every root process on
 * the host. prlimit64 on another process sets limits the kernel enforces with SIGKILL and
 * SIGXFSZ (RLIMIT_CPU, RLIMIT_FSIZE: a dead or silenced audit writer), and SCHED_IDLE or an
 * affinity to one busy CPU starves it. Only pid 0, the caller, is allowed; glibc's
 * getrlimit/setrlimit pass 0, and so does every sched_* and nice(2) call a program makes on
 * itself. pthread_setaffinity_np and pthread_setschedparam pass a thread id, which a static
 * filter cannot tell from another process's pid: they are refused (docs/SECURITY.md).
 */
static const char *const self_only_calls[] = {
    "prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr", NULL,
};

/* Where each chmod-family call takes its mode, and the newer ones by number. */
static const struct {
    struct call call;
    unsigned mode_arg;
} chmod_calls[] = {
    {{"chmod", 0}, 1},
    {{"fchmod", 0}, 1},
    {{"fchmodat", 0}, 2},
    {{"fchmodat2", 452}, 2},
};

/* The namespace flags of clone(2) and unshare(2). CLONE_NEWTIME shares its bit with the exit
 * signal in clone's flags and exists only for unshare and clone3. */
static const unsigned long ns_flags[] = {
    0x00020000 /* NEWNS */,  0x02000000 /* NEWCGROUP */, 0x04000000 /* NEWUTS */,
    0x08000000 /* NEWIPC */, 0x10000000 /* NEWUSER */,   0x20000000 /* NEWPID */,
    0x40000000 /* NEWNET */,
};
#define CLONE_NEWTIME_FLAG 0x00000080UL

/* (argument n & mask) == value, on the full 64-bit register */
#define ARG_MASKED(n, mask, value) SCMP_CMP((n), SCMP_CMP_MASKED_EQ, (mask), (value))
#define ARG_EQ32(n, value) ARG_MASKED((n), 0xffffffffULL, (value))

struct filter {
    scmp_filter_ctx ctx;
    unsigned rules;
    char *err;
    size_t errlen;
};

static int resolve(struct filter *f, const struct call *c)
{
    int nr = seccomp_syscall_resolve_name(c->name);
    if (nr == __NR_SCMP_ERROR && c->x86_64_nr && seccomp_arch_native() == SCMP_ARCH_X86_64)
        nr = c->x86_64_nr;
    if (nr == __NR_SCMP_ERROR)
        snprintf(f->err, f->errlen,
                 "seccomp: this libseccomp does not know the system call "
                 "%s; give its number in seccomp_rules.c",
                 c->name);
    return nr;
}

static int deny_call(struct filter *f, int errnum, const struct call *c, unsigned n,
                     const struct scmp_arg_cmp *args)
{
    int nr = resolve(f, c);
    if (nr == __NR_SCMP_ERROR)
        return -EINVAL;
    int rc = seccomp_rule_add_array(f->ctx, SCMP_ACT_ERRNO((unsigned)errnum), nr, n, args);
    if (rc != 0) {
        snprintf(f->err, f->errlen, "seccomp: cannot add a rule for %s: %s", c->name,
                 strerror(-rc));
        return -EINVAL;
    }
    f->rules++;
    return 0;
}

static int deny(struct filter *f, int errnum, const char *name, unsigned n,
                const struct scmp_arg_cmp *args)
{
    const struct call c = {name, 0};
    return deny_call(f, errnum, &c, n, args);
}

static int deny1(struct filter *f, int errnum, const char *call, struct scmp_arg_cmp a)
{
    return deny(f, errnum, call, 1, &a);
}

static int deny2(struct filter *f, int errnum, const char *call, struct scmp_arg_cmp a,
                 struct scmp_arg_cmp b)
{
    struct scmp_arg_cmp args[2] = {a, b};
    return deny(f, errnum, call, 2, args);
}

/*
 * Sockets: only AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK may be created; INET only as TCP
 * (SOCK_STREAM, protocol 0 or IPPROTO_TCP), or not at all in mode none; NETLINK only as
 * NETLINK_ROUTE, which getaddrinfo() reads interface addresses through.
 */
static int socket_rules(struct filter *f, enum policy_net mode)
{
    int rc = 0;
    for (int fam = 0; rc == 0 && fam <= AF_MAX_KNOWN; fam++) {
        if (fam == AF_UNIX || fam == AF_NETLINK ||
            ((fam == AF_INET || fam == AF_INET6) && mode == POLICY_NET_PROXY))
            continue;
        rc = deny1(f, EACCES, "socket", ARG_EQ32(0, (uint32_t)fam));
    }
    if (rc == 0)
        rc = deny1(f, EACCES, "socket", SCMP_A0(SCMP_CMP_GT, AF_MAX_KNOWN));
    if (mode == POLICY_NET_PROXY) {
        const int fams[] = {AF_INET, AF_INET6};
        for (size_t i = 0; rc == 0 && i < 2; i++) {
            /* the type's low bits; SOCK_NONBLOCK and SOCK_CLOEXEC live above them */
            for (uint32_t t = 0; rc == 0 && t <= 0xf; t++)
                if (t != SOCK_STREAM)
                    rc = deny2(f, EACCES, "socket", ARG_EQ32(0, (uint32_t)fams[i]),
                               ARG_MASKED(1, 0xf, t));
            /* protocol 0 and IPPROTO_TCP (6) only: no MPTCP (262), SCTP, ... */
            for (uint32_t proto = 1; rc == 0 && proto < IPPROTO_TCP; proto++)
                rc = deny2(f, EACCES, "socket", ARG_EQ32(0, (uint32_t)fams[i]), ARG_EQ32(2, proto));
            if (rc == 0)
                rc = deny2(f, EACCES, "socket", ARG_EQ32(0, (uint32_t)fams[i]),
                           SCMP_A2(SCMP_CMP_GT, IPPROTO_TCP));
        }
    }
    if (rc == 0)
        rc = deny2(f, EACCES, "socket", ARG_EQ32(0, AF_NETLINK),
                   SCMP_A2(SCMP_CMP_GT, 0 /* NETLINK_ROUTE */));
    /* socketpair exists only for AF_UNIX in practice; refuse anything else outright */
    if (rc == 0)
        rc = deny1(f, EACCES, "socketpair", SCMP_A0(SCMP_CMP_LT, AF_UNIX));
    if (rc == 0)
        rc = deny1(f, EACCES, "socketpair", SCMP_A0(SCMP_CMP_GT, AF_UNIX));
    /* TCP Fast Open connects inside sendto/sendmsg, where Landlock's connect hook does not
     * look; refuse the flag so every TCP connection goes through connect(2). */
    if (rc == 0)
        rc = deny1(f, EACCES, "sendto", ARG_MASKED(3, MSG_FASTOPEN, MSG_FASTOPEN));
    if (rc == 0)
        rc = deny1(f, EACCES, "sendmsg", ARG_MASKED(2, MSG_FASTOPEN, MSG_FASTOPEN));
    if (rc == 0)
        rc = deny1(f, EACCES, "sendmmsg", ARG_MASKED(3, MSG_FASTOPEN, MSG_FASTOPEN));
    return rc;
}

/*
 * Unix sockets as pairs only: Landlock (up to ABI 7) does not check connect() to a named
 * socket, so the only way to keep gpg-agent, ssh-agent or docker.sock out of reach is to
 * create no socket that could connect. A stream socketpair cannot; a datagram one could
 * still sendto() a named socket, so it is refused too. Sockets inherited from before the
 * sandbox keep working.
 */
static int unix_pair_rules(struct filter *f)
{
    int rc = deny1(f, EACCES, "socket", ARG_EQ32(0, AF_UNIX));
    for (uint32_t t = 0; rc == 0 && t <= 0xf; t++)
        if (t != SOCK_STREAM)
            rc = deny1(f, EACCES, "socketpair", ARG_MASKED(1, 0xf, t));
    return rc;
}

int sandbox_seccomp_build(enum policy_net mode, enum policy_unix ux, enum sandbox_sysv sysv,
                          scmp_filter_ctx *out, unsigned *rules, char *err, size_t errlen)
{
    int rc = -ENOMEM;
    struct filter f = {seccomp_init(SCMP_ACT_ALLOW), 0, err, errlen};
    *out = NULL;
    if (!f.ctx) {
        snprintf(err, errlen, "seccomp: cannot create a filter (out of memory)");
        return rc;
    }
    rc = -EINVAL;
    /* Only the native ABI: i386 (int 0x80) and x32 calls would bypass every rule below. */
    if (seccomp_attr_set(f.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM)) != 0) {
        snprintf(err, errlen, "seccomp: libseccomp refused the bad-architecture action");
        goto out;
    }
    for (size_t i = 0; denied_calls[i].name; i++)
        if ((rc = deny_call(&f, EPERM, &denied_calls[i], 0, NULL)) != 0)
            goto out;
    /* setuid and setgid bits: a root agent owns the system's files, and a setuid-root copy
     * of an interpreter left anywhere would give root to every user of the host (the agent
     * itself runs with no_new_privs and gains nothing) */
    for (size_t i = 0; i < sizeof chmod_calls / sizeof chmod_calls[0]; i++) {
        unsigned a = chmod_calls[i].mode_arg;
        struct scmp_arg_cmp suid = ARG_MASKED(a, S_ISUID, S_ISUID);
        struct scmp_arg_cmp sgid = ARG_MASKED(a, S_ISGID, S_ISGID);
        if ((rc = deny_call(&f, EPERM, &chmod_calls[i].call, 1, &suid)) != 0 ||
            (rc = deny_call(&f, EPERM, &chmod_calls[i].call, 1, &sgid)) != 0)
            goto out;
    }
    /* New namespaces: a user namespace hands every capability back (inside it), and with
     * it rtnetlink and traffic control, a steady source of kernel exploits. clone3 passes its
     * flags in memory seccomp cannot read, so it answers ENOSYS and glibc falls back to
     * clone, whose flags it can. */
    for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
        struct scmp_arg_cmp fl = ARG_MASKED(0, ns_flags[i], ns_flags[i]);
        if ((rc = deny1(&f, EPERM, "unshare", fl)) != 0 ||
            (rc = deny1(&f, EPERM, "clone", fl)) != 0)
            goto out;
    }
    if ((rc = deny1(&f, EPERM, "unshare", ARG_MASKED(0, CLONE_NEWTIME_FLAG, CLONE_NEWTIME_FLAG))) !=
            0 ||
        (rc = deny(&f, ENOSYS, "clone3", 0, NULL)) != 0)
        goto out;
    /* TIOCSTI pushes characters into the terminal's input: typed commands for the parent
     * shell. TIOCLINUX can do the same on a virtual console. */
    if ((rc = deny1(&f, EPERM, "ioctl", ARG_EQ32(1, TIOCSTI))) != 0 ||
        (rc = deny1(&f, EPERM, "ioctl", ARG_EQ32(1, TIOCLINUX))) != 0)
        goto out;
    /* Another process's limits, scheduling, nice value and I/O priority (see
     * self_only_calls). The comparisons are on the whole register: a pid the kernel would
     * read as 0 with stray upper bits is refused, which only errs towards refusing. */
    for (size_t i = 0; self_only_calls[i]; i++)
        if ((rc = deny1(&f, EPERM, self_only_calls[i], SCMP_A0(SCMP_CMP_NE, 0))) != 0)
            goto out;
    /* setpriority and ioprio_set take (which, who): only (PRIO_PROCESS, 0) and
     * (IOPRIO_WHO_PROCESS, 0), the caller. A process group may hold processes outside the
     * sandbox (a pipeline's other commands), and PRIO_USER 0 is every process of the
     * caller's user: for root, every root process of the host. */
    if ((rc = deny1(&f, EPERM, "setpriority", SCMP_A0(SCMP_CMP_NE, 0 /* PRIO_PROCESS */))) != 0 ||
        (rc = deny1(&f, EPERM, "setpriority", SCMP_A1(SCMP_CMP_NE, 0))) != 0 ||
        (rc = deny1(&f, EPERM, "ioprio_set", SCMP_A0(SCMP_CMP_NE, 1 /* IOPRIO_WHO_PROCESS */))) !=
            0 ||
        (rc = deny1(&f, EPERM, "ioprio_set", SCMP_A1(SCMP_CMP_NE, 0))) != 0)
        goto out;
    for (size_t i = 0; mq_calls[i]; i++)
        if ((rc = deny(&f, EPERM, mq_calls[i], 0, NULL)) != 0)
            goto out;
    if (sysv == SANDBOX_SYSV_DENY)
        for (size_t i = 0; sysv_calls[i]; i++)
            if ((rc = deny(&f, EPERM, sysv_calls[i], 0, NULL)) != 0)
                goto out;
    /* The canary: how a process tells cordon's filter from any other (sandbox.h). */
    if ((rc = deny1(&f, SANDBOX_CANARY_ERRNO, "prctl",
                    ARG_EQ32(0, (uint32_t)SANDBOX_CANARY_OPTION))) != 0)
        goto out;
    if (mode != POLICY_NET_HOST && (rc = socket_rules(&f, mode)) != 0)
        goto out;
    if (ux == POLICY_UNIX_PAIRS && (rc = unix_pair_rules(&f)) != 0)
        goto out;
    *out = f.ctx;
    f.ctx = NULL; /* transferred */
    *rules = f.rules;
    rc = 0;
out:
    seccomp_release(f.ctx);
    return rc;
}
