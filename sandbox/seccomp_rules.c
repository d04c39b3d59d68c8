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

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#ifndef AF_MAX_KNOWN
#define AF_MAX_KNOWN 64 /* families above this are refused by one rule */
#endif

/* Never needed by an agent, often by an escape or a kernel exploit. */
static const char *const denied_calls[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "keyctl",
    "add_key", "request_key", "mount", "umount2", "pivot_root", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "userfaultfd", "quotactl", "swapon", "swapoff",
    "reboot", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "acct",
    "sethostname", "setdomainname", NULL,
};

/* (argument n & mask) == value, on the full 64-bit register */
#define ARG_MASKED(n, mask, value) SCMP_CMP((n), SCMP_CMP_MASKED_EQ, (mask), (value))
#define ARG_EQ32(n, value) ARG_MASKED((n), 0xffffffffULL, (value))

struct filter {
    scmp_filter_ctx ctx;
    unsigned rules;
    char *err;
    size_t errlen;
};

static int deny(struct filter *f, int errnum, const char *call, unsigned n,
                const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name(call);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* not a system call on this architecture */
    int rc = seccomp_rule_add_array(f->ctx, SCMP_ACT_ERRNO((unsigned)errnum), nr, n, args);
    if (rc != 0) {
        snprintf(f->err, f->errlen, "seccomp: cannot add a rule for %s: %s", call,
                 strerror(-rc));
        return -EINVAL;
    }
    f->rules++;
    return 0;
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

int sandbox_seccomp_build(enum policy_net mode, scmp_filter_ctx *out, unsigned *rules,
                          char *err, size_t errlen)
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
    for (size_t i = 0; denied_calls[i]; i++)
        if ((rc = deny(&f, EPERM, denied_calls[i], 0, NULL)) != 0)
            goto out;
    /* TIOCSTI pushes characters into the terminal's input: typed commands for the parent
     * shell. TIOCLINUX can do the same on a virtual console. */
    if ((rc = deny1(&f, EPERM, "ioctl", ARG_EQ32(1, TIOCSTI))) != 0 ||
        (rc = deny1(&f, EPERM, "ioctl", ARG_EQ32(1, TIOCLINUX))) != 0)
        goto out;
    if (mode != POLICY_NET_HOST && (rc = socket_rules(&f, mode)) != 0)
        goto out;
    *out = f.ctx;
    f.ctx = NULL; /* transferred */
    *rules = f.rules;
    rc = 0;
out:
    seccomp_release(f.ctx);
    return rc;
}
