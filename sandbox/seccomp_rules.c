/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules of the seccomp filter, expressed with libseccomp (see seccomp.h for what they
 * cover and why). They depend only on the network mode, so the build runs them once per mode
 * (gen_seccomp.c) and compiles the resulting BPF into cordon: no process pays for building
 * the filter or for loading libseccomp. The unit tests build them again at run time and
 * compare.
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
    {"ptrace", 0}, {"process_vm_readv", 0}, {"process_vm_writev", 0}, {"bpf", 0},
    {"perf_event_open", 0}, {"keyctl", 0}, {"add_key", 0}, {"request_key", 0},
    {"mount", 0}, {"umount2", 0}, {"pivot_root", 0}, {"move_mount", 0}, {"open_tree", 0},
    {"open_tree_attr", 467}, {"fsopen", 0}, {"fsconfig", 0}, {"fsmount", 0}, {"fspick", 0},
    {"mount_setattr", 442}, {"kexec_load", 0}, {"kexec_file_load", 0}, {"init_module", 0},
    {"finit_module", 0}, {"delete_module", 0}, {"io_uring_setup", 0}, {"io_uring_enter", 0},
    {"io_uring_register", 0}, {"userfaultfd", 0}, {"quotactl", 0}, {"quotactl_fd", 443},
    {"swapon", 0}, {"swapoff", 0}, {"reboot", 0}, {"settimeofday", 0}, {"clock_settime", 0},
    {"adjtimex", 0}, {"clock_adjtime", 0}, {"acct", 0}, {"sethostname", 0},
    {"setdomainname", 0}, {NULL, 0},
};

/* Where each chmod-family call takes its mode, and the newer ones by number. */
static const struct {
    struct call call;
    unsigned mode_arg;
} chmod_calls[] = {
    {{"chmod", 0}, 1}, {{"fchmod", 0}, 1}, {{"fchmodat", 0}, 2}, {{"fchmodat2", 452}, 2},
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
        snprintf(f->err, f->errlen, "seccomp: this libseccomp does not know the system call "
                                    "%s; give its number in seccomp_rules.c", c->name);
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
                rc = deny2(f, EACCES, "socket", ARG_EQ32(0, (uint32_t)fams[i]),
                           ARG_EQ32(2, proto));
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

int sandbox_seccomp_build(enum policy_net mode, enum policy_unix ux, scmp_filter_ctx *out,
                          unsigned *rules, char *err, size_t errlen)
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
    if ((rc = deny1(&f, EPERM, "unshare", ARG_MASKED(0, CLONE_NEWTIME_FLAG,
                                                      CLONE_NEWTIME_FLAG))) != 0 ||
        (rc = deny(&f, ENOSYS, "clone3", 0, NULL)) != 0)
        goto out;
    /* TIOCSTI pushes characters into the terminal's input: typed commands for the parent
     * shell. TIOCLINUX can do the same on a virtual console. */
    if ((rc = deny1(&f, EPERM, "ioctl", ARG_EQ32(1, TIOCSTI))) != 0 ||
        (rc = deny1(&f, EPERM, "ioctl", ARG_EQ32(1, TIOCLINUX))) != 0)
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
