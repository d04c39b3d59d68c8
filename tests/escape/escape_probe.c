/* SPDX-License-Identifier: Apache-2.0 */
/*
 * escape_probe: one statically linked program, one attack per mode. Every attack is made of
 * raw system calls (syscall(2), or inline int $0x80 for the i386 ABI), so no libc wrapper and
 * no LD_PRELOAD hook stands between the attack and the kernel: what the probe reports is what
 * the kernel decided. tests/escape/run.sh runs each mode under `cordon exec`.
 *
 * Output is one result line per attack:
 *     MODE: SUCCEEDED <what happened>            exit 0
 *     MODE: errno=EACCES (<step that failed>)    exit 1
 * A usage error exits 2, a failed setup step (something the attack needs before it can even
 * be tried) exits 3 and an attack this kernel cannot express at all (no IA32 emulation) exits
 * 4, so that none of them can pass for a refusal. Positive controls use the
 * same convention: exit 0 means the kernel allowed it.
 *
 * A few helper modes (listen, ulisten, victim, abi) run outside the sandbox for the runner.
 *
 * Safety: the probe sends network traffic only to loopback (127.0.0.0/8, ::1). Given another
 * destination, a sending mode creates its socket and stops before sending anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define X32_SYSCALL_BIT 0x40000000UL
/* i386 system call numbers (arch/x86/entry/syscalls/syscall_32.tbl) */
#define I386_READ 3
#define I386_OPEN 5
#define I386_CLOSE 6
#define I386_SOCKET 359
/* Landlock, spelled out so that the probe does not depend on the build host's headers */
#define LL_CREATE_RULESET_VERSION (1U << 0)

enum { WON = 0, REFUSED = 1, USAGE = 2, SETUP = 3 };

extern char **environ;

static const char *mode = "probe";

static const char *errname(int e)
{
    static char buf[24];
    const char *n = strerrorname_np(e);
    if (n)
        return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* Report a failed step with its errno; the runner judges which errno means "refused". */
static int failed(const char *step)
{
    int e = errno;
    printf("%s: errno=%s (%s)\n", mode, errname(e), step);
    fflush(stdout);
    return REFUSED;
}

static int setup_failed(const char *step)
{
    int e = errno;
    printf("%s: SETUP FAILED errno=%s (%s)\n", mode, errname(e), step);
    fflush(stdout);
    return SETUP;
}

static int usage(const char *how)
{
    fprintf(stderr, "usage: escape_probe %s %s\n", mode, how);
    return USAGE;
}

/* Print what was read, control characters masked, so the runner can look for canary tokens. */
static void show(const char *what, const char *buf, long n)
{
    printf("%s: SUCCEEDED %s %ld bytes: ", mode, what, n);
    for (long i = 0; i < n && i < 512; i++)
        putchar(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.');
    putchar('\n');
    fflush(stdout);
}

/* Read everything the kernel lets us read from fd and print it. */
static int drain(long fd, const char *what)
{
    char buf[4096];
    long n = syscall(SYS_read, fd, buf, sizeof buf);
    if (n < 0)
        return failed("read");
    show(what, buf, n);
    syscall(SYS_close, fd);
    return WON;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ files: reading */

static int m_read(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    long fd = syscall(SYS_open, argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("open");
    return drain(fd, "read");
}

static int m_openat(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("openat");
    return drain(fd, "openat read");
}

/* openat2 has its own entry point in the kernel; a filter or hook that knows only open and
 * openat would miss it. */
static int m_openat2(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC};
    long fd = syscall(SYS_openat2, AT_FDCWD, argv[1], &how, sizeof how);
    if (fd < 0)
        return failed("openat2");
    return drain(fd, "openat2 read");
}

/* A directory file descriptor taken with O_PATH (which Landlock does not restrict), then a
 * relative openat beneath it. */
static int m_openat_dirfd(int argc, char **argv)
{
    if (argc != 3)
        return usage("DIR NAME");
    long dfd = syscall(SYS_openat, AT_FDCWD, argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return failed("open O_PATH dir");
    long fd = syscall(SYS_openat, dfd, argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("openat dirfd");
    return drain(fd, "openat(dirfd) read");
}

/* An O_PATH descriptor of the file itself, reopened for reading through /proc/self/fd. */
static int m_proc_fd_reopen(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    long pfd = syscall(SYS_openat, AT_FDCWD, argv[1], O_PATH | O_CLOEXEC);
    if (pfd < 0)
        return failed("open O_PATH");
    char via[64];
    snprintf(via, sizeof via, "/proc/self/fd/%ld", pfd);
    long fd = syscall(SYS_openat, AT_FDCWD, via, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("reopen /proc/self/fd");
    return drain(fd, "reopened read");
}

/* name_to_handle_at + open_by_handle_at: no path is walked at open time, and root holds the
 * CAP_DAC_READ_SEARCH it needs. */
static int m_handle(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    union {
        struct file_handle fh;
        char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } h;
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (syscall(SYS_name_to_handle_at, AT_FDCWD, argv[1], &h.fh, &mount_id, 0) != 0)
        return failed("name_to_handle_at");
    /* AT_FDCWD names the mount of the current directory, which the runner keeps on the
     * canary's file system */
    long fd = syscall(SYS_open_by_handle_at, AT_FDCWD, &h.fh, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("open_by_handle_at");
    return drain(fd, "open_by_handle_at read");
}

static int m_chdir_read(int argc, char **argv)
{
    if (argc != 3)
        return usage("DIR NAME");
    if (syscall(SYS_chdir, argv[1]) != 0)
        return failed("chdir");
    long fd = syscall(SYS_open, argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("open relative");
    return drain(fd, "read after chdir");
}

/* Plant a symlink (the workspace allows that) and read through it. */
static int m_symlink_read(int argc, char **argv)
{
    if (argc != 3)
        return usage("TARGET LINK");
    if (syscall(SYS_symlink, argv[1], argv[2]) != 0)
        return failed("symlink");
    long fd = syscall(SYS_open, argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("open through symlink");
    return drain(fd, "read through symlink");
}

/* A hard link is a second name for the same inode: if it could be made in the workspace, the
 * workspace's rights might apply to the secret. */
static int m_link_read(int argc, char **argv)
{
    if (argc != 3)
        return usage("SRC DST");
    if (syscall(SYS_link, argv[1], argv[2]) != 0)
        return failed("link");
    printf("%s: note: link(2) succeeded, reading through it\n", mode);
    long fd = syscall(SYS_open, argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("open hard link");
    return drain(fd, "read through hard link");
}

/* The directory is made by the runner only after the sandbox is in place: a rule attached
 * when the sandbox was built cannot name it, so only the absence of a grant protects it. */
static int m_wait_read(int argc, char **argv)
{
    if (argc != 3)
        return usage("GOFILE PATH");
    printf("%s: waiting for %s\n", mode, argv[1]);
    fflush(stdout);
    struct stat st;
    for (int i = 0; i < 3000 && stat(argv[1], &st) != 0; i++)
        usleep(10000);
    long fd = syscall(SYS_open, argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed("open");
    return drain(fd, "read");
}

/* ------------------------------------------------------------------ files: writing */

static int write_flags(const char *path, int flags, const char *step)
{
    static const char data[] = "cordon escape probe was here\n";
    long fd = syscall(SYS_open, path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return failed(step);
    long n = syscall(SYS_write, fd, data, sizeof data - 1);
    if (n < 0)
        return failed("write");
    printf("%s: SUCCEEDED wrote %ld bytes to %s\n", mode, n, path);
    return WON;
}

static int m_write(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    return write_flags(argv[1], O_WRONLY | O_CREAT | O_TRUNC, "open O_WRONLY|O_CREAT|O_TRUNC");
}

static int m_append(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    return write_flags(argv[1], O_WRONLY | O_APPEND, "open O_WRONLY|O_APPEND");
}

/* Open for writing and close without writing: safe to aim at a system file. */
static int m_open_w(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    long fd = syscall(SYS_open, argv[1], O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return failed("open O_WRONLY");
    printf("%s: SUCCEEDED opened %s for writing (nothing written)\n", mode, argv[1]);
    return WON;
}

/* O_TRUNC destroys the content even when the file is opened read-only. */
static int m_open_trunc(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    long fd = syscall(SYS_open, argv[1], O_RDONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return failed("open O_RDONLY|O_TRUNC");
    printf("%s: SUCCEEDED opened with O_TRUNC\n", mode);
    return WON;
}

static int m_truncate(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    if (syscall(SYS_truncate, argv[1], 0L) != 0)
        return failed("truncate");
    printf("%s: SUCCEEDED truncated %s\n", mode, argv[1]);
    return WON;
}

static int m_rename(int argc, char **argv)
{
    if (argc != 3)
        return usage("SRC DST");
    if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 0) != 0)
        return failed("renameat2");
    printf("%s: SUCCEEDED renamed %s to %s\n", mode, argv[1], argv[2]);
    return WON;
}

static int m_exchange(int argc, char **argv)
{
    if (argc != 3)
        return usage("A B");
    if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0)
        return failed("renameat2 RENAME_EXCHANGE");
    printf("%s: SUCCEEDED exchanged %s and %s\n", mode, argv[1], argv[2]);
    return WON;
}

static int m_unlink(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    if (syscall(SYS_unlink, argv[1]) != 0)
        return failed("unlink");
    printf("%s: SUCCEEDED unlinked %s\n", mode, argv[1]);
    return WON;
}

/* Metadata: Landlock has no access right for chmod, chown, utimes or xattrs. */
static int m_meta(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    int won = 0;
    if (syscall(SYS_chmod, argv[1], 0644) == 0) {
        printf("%s: SUCCEEDED chmod 0644\n", mode);
        won = 1;
    } else {
        failed("chmod");
    }
    struct timespec ts[2] = {{0, 0}, {0, 0}};
    if (syscall(SYS_utimensat, AT_FDCWD, argv[1], ts, 0) == 0) {
        printf("%s: SUCCEEDED utimensat to the epoch\n", mode);
        won = 1;
    } else {
        failed("utimensat");
    }
    return won ? WON : REFUSED;
}

/* ------------------------------------------------------------------ exec */

static int m_exec(int argc, char **argv)
{
    if (argc < 2)
        return usage("PATH [ARGS...]");
    fflush(stdout);
    syscall(SYS_execve, argv[1], &argv[1], environ);
    return failed("execve");
}

static int m_symlink_exec(int argc, char **argv)
{
    if (argc < 3)
        return usage("TARGET LINK [ARGS...]");
    if (syscall(SYS_symlink, argv[1], argv[2]) != 0)
        return failed("symlink");
    fflush(stdout);
    syscall(SYS_execve, argv[2], &argv[2], environ);
    return failed("execve through symlink");
}

static int m_link_exec(int argc, char **argv)
{
    if (argc < 3)
        return usage("SRC DST [ARGS...]");
    if (syscall(SYS_link, argv[1], argv[2]) != 0)
        return failed("link");
    printf("%s: note: link(2) succeeded, executing it\n", mode);
    fflush(stdout);
    syscall(SYS_execve, argv[2], &argv[2], environ);
    return failed("execve hard link");
}

/* Copy a program into an anonymous memory file and execute that: no path, no directory. */
static int m_memfd_exec(int argc, char **argv)
{
    if (argc < 2)
        return usage("SRC [ARGS...]");
    long src = syscall(SYS_open, argv[1], O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return setup_failed("open source program");
    long mfd = syscall(SYS_memfd_create, "escape", 0U);
    if (mfd < 0)
        return failed("memfd_create");
    char buf[65536];
    long n;
    while ((n = syscall(SYS_read, src, buf, sizeof buf)) > 0)
        if (syscall(SYS_write, mfd, buf, n) != n)
            return setup_failed("copy into memfd");
    fflush(stdout);
    syscall(SYS_execveat, mfd, "", &argv[1], environ, AT_EMPTY_PATH);
    return failed("execveat memfd");
}

/* ------------------------------------------------------------------ network */

static int parse_addr(const char *host, const char *port, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    long p;
    if (parse_long(port, &p) != 0 || p < 0 || p > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
        return (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) && a6->sin6_addr.s6_addr[12] == 127;
}

/* TCP connect; variant "flags" adds SOCK_CLOEXEC and an explicit IPPROTO_TCP, as Python and
 * most runtimes do. */
static int tcp_connect(int argc, char **argv, int flags, int proto)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (argc != 3 || parse_addr(argv[1], argv[2], &ss, &len) != 0)
        return usage("ADDR PORT");
    long fd = syscall(SYS_socket, ss.ss_family, SOCK_STREAM | flags, proto);
    if (fd < 0)
        return failed("socket");
    if (syscall(SYS_connect, fd, &ss, len) != 0)
        return failed("connect");
    printf("%s: SUCCEEDED connected to %s port %s\n", mode, argv[1], argv[2]);
    return WON;
}

static int m_tcp(int argc, char **argv)
{
    return tcp_connect(argc, argv, 0, 0);
}

static int m_tcp_flags(int argc, char **argv)
{
    return tcp_connect(argc, argv, SOCK_CLOEXEC, IPPROTO_TCP);
}

/* UDP: the socket itself is the attack. Sent only to loopback. */
static int udp_attack(int argc, char **argv, unsigned long extra_type, unsigned long hibits)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (argc != 3 || parse_addr(argv[1], argv[2], &ss, &len) != 0)
        return usage("ADDR PORT");
    long fd = syscall(SYS_socket, (unsigned long)ss.ss_family | hibits,
                      (unsigned long)SOCK_DGRAM | extra_type | hibits, 0UL | hibits);
    if (fd < 0)
        return failed("socket");
    if (!is_loopback(&ss)) {
        printf("%s: SUCCEEDED a UDP socket was created (nothing sent: %s is not loopback)\n", mode,
               argv[1]);
        return WON;
    }
    static const char dgram[] = "cordon-escape-probe";
    if (syscall(SYS_sendto, fd, dgram, sizeof dgram - 1, 0, &ss, len) < 0)
        printf("%s: SUCCEEDED a UDP socket was created (sendto: errno=%s)\n", mode, errname(errno));
    else
        printf("%s: SUCCEEDED a UDP datagram was sent to %s port %s\n", mode, argv[1], argv[2]);
    return WON;
}

static int m_udp(int argc, char **argv)
{
    return udp_attack(argc, argv, 0, 0);
}

static int m_udp_flags(int argc, char **argv)
{
    return udp_attack(argc, argv, SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* The kernel reads socket()'s arguments as int: bits above 31 are dropped. A seccomp filter
 * that compares all 64 bits sees "not AF_INET" and lets the call through. */
static int m_udp_hibits(int argc, char **argv)
{
    return udp_attack(argc, argv, 0, 1UL << 32);
}

static int m_socket(int argc, char **argv)
{
    long d, t, p;
    if (argc != 4 || parse_long(argv[1], &d) || parse_long(argv[2], &t) || parse_long(argv[3], &p))
        return usage("DOMAIN TYPE PROTOCOL (numbers)");
    long fd = syscall(SYS_socket, d, t, p);
    if (fd < 0)
        return failed("socket");
    printf("%s: SUCCEEDED socket(%ld, %ld, %ld) created\n", mode, d, t, p);
    return WON;
}

/* TCP Fast Open: the connection is made by sendto/sendmsg, never by connect(2), so a rule
 * that only watches connect does not see it. */
static int tfo_attack(int argc, char **argv, int how, unsigned long hibits)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (argc != 3 || parse_addr(argv[1], argv[2], &ss, &len) != 0)
        return usage("ADDR PORT");
    if (!is_loopback(&ss)) {
        fprintf(stderr, "escape_probe: refusing to send to a non-loopback address\n");
        return USAGE;
    }
    long fd = syscall(SYS_socket, ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return setup_failed("socket (a TCP socket is expected to be allowed)");
    static char data[] = "cordon-escape-probe fast open\n";
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data - 1};
    struct msghdr msg = {.msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
    struct mmsghdr mm = {.msg_hdr = msg};
    unsigned long flags = MSG_FASTOPEN | hibits;
    long n;
    const char *step;
    if (how == 0) {
        n = syscall(SYS_sendto, fd, data, sizeof data - 1, flags, &ss, len);
        step = "sendto MSG_FASTOPEN";
    } else if (how == 1) {
        n = syscall(SYS_sendmsg, fd, &msg, flags);
        step = "sendmsg MSG_FASTOPEN";
    } else {
        n = syscall(SYS_sendmmsg, fd, &mm, 1UL, flags);
        step = "sendmmsg MSG_FASTOPEN";
    }
    if (n < 0)
        return failed(step);
    printf("%s: SUCCEEDED %s returned %ld: a TCP connection to port %s was opened\n", mode, step, n,
           argv[2]);
    return WON;
}

static int m_tfo_sendto(int argc, char **argv)
{
    return tfo_attack(argc, argv, 0, 0);
}

static int m_tfo_sendmsg(int argc, char **argv)
{
    return tfo_attack(argc, argv, 1, 0);
}

static int m_tfo_sendmmsg(int argc, char **argv)
{
    return tfo_attack(argc, argv, 2, 0);
}

/* sendto's flags are an unsigned int in the kernel: the high bits are dropped there. */
static int m_tfo_hibits(int argc, char **argv)
{
    return tfo_attack(argc, argv, 0, 1UL << 32);
}

static int m_io_uring(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 4U, &p);
    if (fd < 0)
        return failed("io_uring_setup");
    printf("%s: SUCCEEDED io_uring_setup returned a ring\n", mode);
    return WON;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name, const char *suffix)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s%s", name, suffix);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int m_uconnect(int argc, char **argv)
{
    if (argc != 2)
        return usage("NAME");
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, argv[1], "");
    long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return setup_failed("socket AF_UNIX");
    if (syscall(SYS_connect, fd, &a, len) != 0)
        return failed("connect abstract");
    printf("%s: SUCCEEDED connected to abstract socket @%s\n", mode, argv[1]);
    return WON;
}

static int m_usendto(int argc, char **argv)
{
    if (argc != 2)
        return usage("NAME");
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, argv[1], "-dgram");
    long fd = syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0)
        return setup_failed("socket AF_UNIX");
    if (syscall(SYS_sendto, fd, "x", 1UL, 0, &a, len) < 0)
        return failed("sendto abstract");
    printf("%s: SUCCEEDED sent a datagram to abstract socket @%s-dgram\n", mode, argv[1]);
    return WON;
}

static int m_socketpair(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    int sv[2];
    if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return failed("socketpair AF_UNIX");
    printf("%s: SUCCEEDED socketpair(AF_UNIX)\n", mode);
    return WON;
}

/* ------------------------------------------------------------------ other processes */

static long target_pid(const char *s)
{
    long pid;
    if (parse_long(s, &pid) != 0)
        return -1;
    return pid == 0 ? (long)getppid() : pid;
}

static int m_ptrace(int argc, char **argv)
{
    long pid;
    if (argc != 2 || (pid = target_pid(argv[1])) <= 0)
        return usage("PID (0: the parent)");
    if (syscall(SYS_ptrace, PTRACE_ATTACH, pid, 0L, 0L) != 0)
        return failed("ptrace PTRACE_ATTACH");
    int st;
    waitpid((pid_t)pid, &st, __WALL);
    syscall(SYS_ptrace, PTRACE_DETACH, pid, 0L, 0L);
    printf("%s: SUCCEEDED attached to pid %ld (detached again)\n", mode, pid);
    return WON;
}

static int vm_rw(int argc, char **argv, int write)
{
    long pid;
    if (argc != 3 || (pid = target_pid(argv[1])) <= 0)
        return usage("PID ADDR|env (0: the parent; env: $PROBE_VICTIM_ADDR)");
    const char *as = strcmp(argv[2], "env") == 0 ? getenv("PROBE_VICTIM_ADDR") : argv[2];
    if (!as)
        return usage("PID env: PROBE_VICTIM_ADDR is not set (run under `escape_probe victim`)");
    unsigned long addr = strtoul(as, NULL, 16);
    char buf[16] = "PWNED-by-probe";
    struct iovec local = {.iov_base = buf, .iov_len = sizeof buf};
    struct iovec remote = {.iov_base = (void *)addr, .iov_len = sizeof buf};
    long n = syscall(write ? SYS_process_vm_writev : SYS_process_vm_readv, pid, &local, 1UL,
                     &remote, 1UL, 0UL);
    if (n < 0)
        return failed(write ? "process_vm_writev" : "process_vm_readv");
    if (write)
        printf("%s: SUCCEEDED wrote %ld bytes into pid %ld\n", mode, n, pid);
    else
        show("process_vm_readv", buf, n);
    return WON;
}

static int m_vm_write(int argc, char **argv)
{
    return vm_rw(argc, argv, 1);
}

static int m_vm_read(int argc, char **argv)
{
    return vm_rw(argc, argv, 0);
}

/* Take a descriptor another process already holds (pidfd_getfd): no path is opened, so only
 * the ptrace check on the other process stands in the way. */
static int m_fd_steal(int argc, char **argv)
{
    long pid, tfd;
    if (argc != 3 || parse_long(argv[1], &pid) || parse_long(argv[2], &tfd) || pid <= 0)
        return usage("PID FD");
    long pfd = syscall(SYS_pidfd_open, pid, 0L);
    if (pfd < 0)
        return failed("pidfd_open");
    long fd = syscall(SYS_pidfd_getfd, pfd, tfd, 0L);
    if (fd < 0)
        return failed("pidfd_getfd");
    char buf[4096];
    long n = syscall(SYS_pread64, fd, buf, sizeof buf, 0L);
    if (n < 0)
        return failed("pread stolen descriptor");
    show("pidfd_getfd read", buf, n);
    return WON;
}

static int m_kill(int argc, char **argv)
{
    long pid, sig;
    if (argc != 3 || parse_long(argv[1], &pid) || parse_long(argv[2], &sig) || pid <= 0)
        return usage("PID SIGNAL");
    if (syscall(SYS_kill, pid, sig) != 0)
        return failed("kill");
    printf("%s: SUCCEEDED sent signal %ld to pid %ld\n", mode, sig, pid);
    return WON;
}

/* Positive control: a signal to a process inside the same sandbox is delivered. */
static int m_kill_child(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    pid_t c = fork();
    if (c < 0)
        return setup_failed("fork");
    if (c == 0) {
        pause();
        _exit(0);
    }
    if (syscall(SYS_kill, (long)c, (long)SIGKILL) != 0)
        return failed("kill own child");
    int st;
    waitpid(c, &st, 0);
    printf("%s: SUCCEEDED killed own child %d\n", mode, (int)c);
    return WON;
}

/* TIOCSTI pushes characters into the terminal's input: a sandboxed program could type a
 * command into the shell that started it. The variant hibits sets bit 32 of the request: the
 * kernel takes it as unsigned int and drops it, a 64-bit filter comparison does not. */
static int m_tiocsti(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "hibits") != 0))
        return usage("plain|hibits");
    struct termios t;
    if (tcgetattr(0, &t) != 0)
        return setup_failed("stdin is not a terminal (run under a pty)");
    unsigned long req = TIOCSTI;
    if (strcmp(argv[1], "hibits") == 0)
        req |= 1UL << 32;
    char c = '#';
    if (syscall(SYS_ioctl, 0L, req, &c) != 0)
        return failed("ioctl TIOCSTI");
    printf("%s: SUCCEEDED a character was pushed into the terminal input\n", mode);
    return WON;
}

static int m_euid(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    long e = syscall(SYS_geteuid), r = syscall(SYS_getuid);
    if (e != r) {
        printf("%s: SUCCEEDED the set-user-ID bit took effect: euid=%ld ruid=%ld\n", mode, e, r);
        return WON;
    }
    printf("%s: the set-user-ID bit was ignored: euid=%ld ruid=%ld\n", mode, e, r);
    return REFUSED;
}

static int m_status(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    long nnp = syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L);
    long sec = syscall(SYS_prctl, PR_GET_SECCOMP, 0L, 0L, 0L, 0L);
    printf("%s: no_new_privs=%ld seccomp=%ld\n", mode, nnp, sec);
    return WON;
}

/* Outside the sandbox: the Landlock ABI of this kernel, for the runner's skip decisions. */
static int m_abi(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0UL, LL_CREATE_RULESET_VERSION);
    printf("landlock_abi=%ld\n", v < 0 ? 0L : v);
    return WON;
}

/* ------------------------------------------------------------------ seccomp: syscalls */

struct sys_case {
    const char *name;
    long (*call)(const char *arg);
};

/* Each call uses arguments that are harmless if the sandbox lets it through: a resource is
 * created and released, or the kernel's own argument checks fail (ENOENT, EBADF, EINVAL).
 * Under the sandbox every one must fail with EPERM or EACCES before those checks. */
static long c_bpf(const char *arg)
{
    (void)arg;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    return syscall(SYS_bpf, (long)BPF_MAP_CREATE, &a, sizeof a);
}

static long c_perf(const char *arg)
{
    (void)arg;
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_SOFTWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_SW_DUMMY;
    a.disabled = 1;
    return syscall(SYS_perf_event_open, &a, 0L, -1L, -1L, (long)PERF_FLAG_FD_CLOEXEC);
}

static long c_keyctl(const char *arg)
{
    (void)arg;
    return syscall(SYS_keyctl, 0L /* KEYCTL_GET_KEYRING_ID */, -4L /* user keyring */, 0L);
}

static long c_add_key(const char *arg)
{
    (void)arg;
    return syscall(SYS_add_key, "user", "cordon-escape-probe", "x", 1UL,
                   -2L /* KEY_SPEC_PROCESS_KEYRING: gone when the probe exits */);
}

static long c_request_key(const char *arg)
{
    (void)arg;
    return syscall(SYS_request_key, "user", "cordon-escape-absent", NULL, 0L);
}

static long c_mount(const char *arg)
{
    if (!arg)
        return errno = EINVAL, -1;
    long r = syscall(SYS_mount, "cordon-escape", arg, "tmpfs", (long)MS_NOSUID, "size=1m");
    if (r == 0)
        syscall(SYS_umount2, arg, (long)MNT_DETACH);
    return r;
}

static long c_umount2(const char *arg)
{
    (void)arg;
    return syscall(SYS_umount2, "/nonexistent-cordon-escape", 0L);
}

static long c_pivot_root(const char *arg)
{
    (void)arg;
    return syscall(SYS_pivot_root, "/nonexistent-cordon-a", "/nonexistent-cordon-b");
}

static long c_move_mount(const char *arg)
{
    (void)arg;
    return syscall(SYS_move_mount, -1L, "", -1L, "", 0L);
}

static long c_open_tree(const char *arg)
{
    (void)arg;
    return syscall(SYS_open_tree, (long)AT_FDCWD, "/nonexistent-cordon-escape", 0L);
}

static long c_fsopen(const char *arg)
{
    (void)arg;
    return syscall(SYS_fsopen, "cordon-no-such-fs", 0L);
}

static long c_fsconfig(const char *arg)
{
    (void)arg;
    return syscall(SYS_fsconfig, -1L, 6L /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0L);
}

static long c_fsmount(const char *arg)
{
    (void)arg;
    return syscall(SYS_fsmount, -1L, 0L, 0L);
}

static long c_fspick(const char *arg)
{
    (void)arg;
    return syscall(SYS_fspick, (long)AT_FDCWD, "/nonexistent-cordon-escape", 0L);
}

static long c_mount_setattr(const char *arg)
{
    (void)arg;
    return syscall(SYS_mount_setattr, -1L, "", 0L, NULL, 0L);
}

static long c_kexec_load(const char *arg)
{
    (void)arg;
    /* no segments and an architecture that does not exist: EINVAL after the permission
     * checks, and never an unload of a loaded image */
    return syscall(SYS_kexec_load, 0L, 0L, NULL, 0x7f0000L);
}

static long c_kexec_file_load(const char *arg)
{
    (void)arg;
    return syscall(SYS_kexec_file_load, -1L, -1L, 0UL, "", 0UL);
}

static long c_init_module(const char *arg)
{
    (void)arg;
    return syscall(SYS_init_module, NULL, 0UL, "");
}

static long c_finit_module(const char *arg)
{
    (void)arg;
    return syscall(SYS_finit_module, -1L, "", 0L);
}

static long c_delete_module(const char *arg)
{
    (void)arg;
    return syscall(SYS_delete_module, "cordon_escape_absent", (long)O_NONBLOCK);
}

static long c_io_uring_setup(const char *arg)
{
    (void)arg;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    return syscall(SYS_io_uring_setup, 4U, &p);
}

static char vm_self_buf[8] = "self";

/* process_vm_readv of the probe's own memory: Landlock has no objection to a process reading
 * itself, so only the seccomp rule can refuse this. */
static long c_vm_readv_self(const char *arg)
{
    (void)arg;
    char out[8];
    struct iovec l = {.iov_base = out, .iov_len = sizeof out};
    struct iovec r = {.iov_base = vm_self_buf, .iov_len = sizeof vm_self_buf};
    return syscall(SYS_process_vm_readv, (long)getpid(), &l, 1UL, &r, 1UL, 0UL);
}

static long c_vm_writev_self(const char *arg)
{
    (void)arg;
    char in[8] = "self";
    struct iovec l = {.iov_base = in, .iov_len = sizeof in};
    struct iovec r = {.iov_base = vm_self_buf, .iov_len = sizeof vm_self_buf};
    return syscall(SYS_process_vm_writev, (long)getpid(), &l, 1UL, &r, 1UL, 0UL);
}

static long c_io_uring_enter(const char *arg)
{
    (void)arg;
    return syscall(SYS_io_uring_enter, -1L, 0L, 0L, 0L, NULL, 0L);
}

static long c_io_uring_register(const char *arg)
{
    (void)arg;
    return syscall(SYS_io_uring_register, -1L, 0L, NULL, 0L);
}

static long c_userfaultfd(const char *arg)
{
    (void)arg;
    return syscall(SYS_userfaultfd, (long)O_CLOEXEC);
}

static long c_quotactl(const char *arg)
{
    (void)arg;
    char buf[128];
    /* QCMD(Q_GETINFO, USRQUOTA) on a device that does not exist */
    return syscall(SYS_quotactl, (long)((0x800005U << 8) | 0), "/nonexistent-cordon", 0L, buf);
}

static long c_swapon(const char *arg)
{
    (void)arg;
    return syscall(SYS_swapon, "/nonexistent-cordon-escape", 0L);
}

static long c_swapoff(const char *arg)
{
    (void)arg;
    return syscall(SYS_swapoff, "/nonexistent-cordon-escape");
}

static long c_reboot(const char *arg)
{
    (void)arg;
    /* the second magic number is wrong: EINVAL after the capability check, never a reboot */
    return syscall(SYS_reboot, 0xfee1deadL, 0L, 0L, NULL);
}

static long c_settimeofday(const char *arg)
{
    (void)arg;
    /* neither time nor zone: the permission check runs, nothing changes */
    return syscall(SYS_settimeofday, NULL, NULL);
}

static long c_clock_settime(const char *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = -1}; /* invalid: EINVAL, nothing set */
    return syscall(SYS_clock_settime, (long)CLOCK_REALTIME, &ts);
}

/* adjtimex and clock_adjtime set the clock too (ADJ_SETOFFSET). ADJ_TICK with a tick out of
 * range passes the CAP_SYS_TIME check, then fails with EINVAL: nothing is adjusted. */
struct probe_timex {
    unsigned int modes;
    char rest[204];
};

static long c_adjtimex(const char *arg)
{
    (void)arg;
    union {
        struct probe_timex t;
        char raw[512];
    } tx;
    memset(&tx, 0, sizeof tx);
    tx.t.modes = 0x4000; /* ADJ_TICK; tick (offset 104 on x86-64) stays 0: out of range */
    return syscall(SYS_adjtimex, &tx);
}

static long c_clock_adjtime(const char *arg)
{
    (void)arg;
    union {
        struct probe_timex t;
        char raw[512];
    } tx;
    memset(&tx, 0, sizeof tx);
    tx.t.modes = 0x4000;
    return syscall(SYS_clock_adjtime, (long)CLOCK_REALTIME, &tx);
}

static long c_acct(const char *arg)
{
    (void)arg;
    return syscall(SYS_acct, "/nonexistent-cordon-escape");
}

static long c_tioclinux(const char *arg)
{
    (void)arg;
    char sub = 6; /* TIOCL_GETSHIFTSTATE: reads only */
    return syscall(SYS_ioctl, 0L, (long)TIOCLINUX, &sub);
}

/* Beyond the documented list, for a root agent: raw I/O port access (iopl, ioperm: the
 * hardware, below every kernel check) and the host name of the whole machine. */
static long c_iopl(const char *arg)
{
    (void)arg;
    return syscall(SYS_iopl, 3L);
}

static long c_ioperm(const char *arg)
{
    (void)arg;
    return syscall(SYS_ioperm, 0x80L, 1L, 1L); /* the POST diagnostic port; never touched */
}

static long c_sethostname(const char *arg)
{
    (void)arg;
    /* longer than __NEW_UTS_LEN: EINVAL, nothing set */
    static const char name[80] = "cordon-escape-probe";
    return syscall(SYS_sethostname, name, 70L);
}

static const struct sys_case sys_cases[] = {
    {"bpf", c_bpf},
    {"perf_event_open", c_perf},
    {"keyctl", c_keyctl},
    {"add_key", c_add_key},
    {"request_key", c_request_key},
    {"mount", c_mount},
    {"umount2", c_umount2},
    {"pivot_root", c_pivot_root},
    {"move_mount", c_move_mount},
    {"open_tree", c_open_tree},
    {"fsopen", c_fsopen},
    {"fsconfig", c_fsconfig},
    {"fsmount", c_fsmount},
    {"fspick", c_fspick},
    {"mount_setattr", c_mount_setattr},
    {"kexec_load", c_kexec_load},
    {"kexec_file_load", c_kexec_file_load},
    {"init_module", c_init_module},
    {"finit_module", c_finit_module},
    {"delete_module", c_delete_module},
    {"io_uring_setup", c_io_uring_setup},
    {"process_vm_readv", c_vm_readv_self},
    {"process_vm_writev", c_vm_writev_self},
    {"io_uring_enter", c_io_uring_enter},
    {"io_uring_register", c_io_uring_register},
    {"userfaultfd", c_userfaultfd},
    {"quotactl", c_quotactl},
    {"swapon", c_swapon},
    {"swapoff", c_swapoff},
    {"reboot", c_reboot},
    {"settimeofday", c_settimeofday},
    {"clock_settime", c_clock_settime},
    {"adjtimex", c_adjtimex},
    {"clock_adjtime", c_clock_adjtime},
    {"acct", c_acct},
    {"ioctl_tioclinux", c_tioclinux},
    {"iopl", c_iopl},
    {"ioperm", c_ioperm},
    {"sethostname", c_sethostname},
};

static int m_sys(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return usage("NAME [ARG]   (see `escape_probe sys list`)");
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < sizeof sys_cases / sizeof sys_cases[0]; i++)
            printf("%s\n", sys_cases[i].name);
        return WON;
    }
    for (size_t i = 0; i < sizeof sys_cases / sizeof sys_cases[0]; i++) {
        if (strcmp(argv[1], sys_cases[i].name) != 0)
            continue;
        errno = 0;
        long r = sys_cases[i].call(argc == 3 ? argv[2] : NULL);
        if (r < 0)
            return failed(sys_cases[i].name);
        printf("%s: SUCCEEDED %s returned %ld\n", mode, sys_cases[i].name, r);
        return WON;
    }
    return usage("NAME: unknown system call case");
}

/* ------------------------------------------------------------------ other processes by pid */

/*
 * One call that names another process by pid (or its process group, its user, a pidfd), with
 * arguments that change something observable: the runner compares `pidstate` of the victim
 * before and after, and checks that it is still alive. Every victim is a process the runner
 * made for the purpose. For the *_user cases TARGET is a uid (0: the caller's own user).
 */
struct sched_attr_v1 {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

#define IOPRIO_VALUE(cls, data) (((long)(cls) << 13) | (data))
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_WHO_PGRP 2
#define IOPRIO_WHO_USER 3
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#ifndef F_SETSIG
#define F_SETSIG 10
#endif
#define KCMP_VM 1

static long pid_prlimit_get(long pid)
{
    struct rlimit old;
    long r = syscall(SYS_prlimit64, pid, (long)RLIMIT_CPU, NULL, &old);
    if (r == 0)
        printf("%s: read RLIMIT_CPU of pid %ld: %llu:%llu\n", mode, pid,
               (unsigned long long)old.rlim_cur, (unsigned long long)old.rlim_max);
    return r;
}

/* the attack of the issue: 1 s of CPU, then the kernel kills the process */
static long pid_prlimit_cpu(long pid)
{
    struct rlimit nl = {1, 1};
    return syscall(SYS_prlimit64, pid, (long)RLIMIT_CPU, &nl, NULL);
}

/* an audit writer's next write dies of SIGXFSZ */
static long pid_prlimit_fsize(long pid)
{
    struct rlimit nl = {0, 0};
    return syscall(SYS_prlimit64, pid, (long)RLIMIT_FSIZE, &nl, NULL);
}

static long pid_prlimit_nofile(long pid)
{
    struct rlimit nl = {3, 3};
    return syscall(SYS_prlimit64, pid, (long)RLIMIT_NOFILE, &nl, NULL);
}

static long pid_sched_setaffinity(long pid)
{
    unsigned long mask = 1; /* CPU 0 only */
    return syscall(SYS_sched_setaffinity, pid, (long)sizeof mask, &mask);
}

static long pid_sched_setscheduler(long pid)
{
    struct sched_param sp = {0};
    return syscall(SYS_sched_setscheduler, pid, (long)SCHED_IDLE, &sp);
}

static long pid_sched_setparam(long pid)
{
    struct sched_param sp = {0}; /* what a SCHED_OTHER process has: no change, same checks */
    return syscall(SYS_sched_setparam, pid, &sp);
}

static long pid_sched_setattr(long pid)
{
    struct sched_attr_v1 a = {.size = sizeof a, .sched_policy = SCHED_IDLE};
    return syscall(SYS_sched_setattr, pid, &a, 0L);
}

static long pid_setpriority_process(long pid)
{
    return syscall(SYS_setpriority, (long)PRIO_PROCESS, pid, 19L);
}

static long pid_setpriority_pgrp(long pgid)
{
    return syscall(SYS_setpriority, (long)PRIO_PGRP, pgid, 19L);
}

static long pid_setpriority_user(long uid)
{
    return syscall(SYS_setpriority, (long)PRIO_USER, uid, 19L);
}

static long pid_ioprio_set_process(long pid)
{
    return syscall(SYS_ioprio_set, (long)IOPRIO_WHO_PROCESS, pid,
                   IOPRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
}

static long pid_ioprio_set_pgrp(long pgid)
{
    return syscall(SYS_ioprio_set, (long)IOPRIO_WHO_PGRP, pgid, IOPRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
}

static long pid_ioprio_set_user(long uid)
{
    return syscall(SYS_ioprio_set, (long)IOPRIO_WHO_USER, uid, IOPRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
}

static long pid_migrate_pages(long pid)
{
    unsigned long nodes = 1; /* node 0 to node 0: moves nothing, passes every check */
    return syscall(SYS_migrate_pages, pid, 64L, &nodes, &nodes);
}

static long pid_move_pages(long pid)
{
    void *page = NULL;
    int status = 0;
    return syscall(SYS_move_pages, pid, 1L, &page, NULL, &status, 0L); /* a query */
}

static long pid_kcmp(long pid)
{
    return syscall(SYS_kcmp, pid, (long)getpid(), (long)KCMP_VM, 0L, 0L);
}

static long pid_get_robust_list(long pid)
{
    void *head = NULL;
    size_t len = 0;
    return syscall(SYS_get_robust_list, pid, &head, &len);
}

static long pid_process_madvise(long pid)
{
    long pfd = syscall(SYS_pidfd_open, pid, 0L);
    if (pfd < 0)
        return pfd;
    struct iovec iov = {0};
    /* no range: every check runs, nothing is advised */
    return syscall(SYS_process_madvise, pfd, &iov, 0L, (long)MADV_COLD, 0L);
}

static long pid_setns(long pid)
{
    long pfd = syscall(SYS_pidfd_open, pid, 0L);
    if (pfd < 0)
        return pfd;
    return syscall(SYS_setns, pfd, (long)CLONE_NEWUTS);
}

static long pid_pidfd_open(long pid)
{
    long pfd = syscall(SYS_pidfd_open, pid, 0L);
    if (pfd >= 0)
        syscall(SYS_close, pfd);
    return pfd < 0 ? pfd : 0;
}

static long pid_pidfd_send_signal(long pid)
{
    long pfd = syscall(SYS_pidfd_open, pid, 0L);
    if (pfd < 0)
        return pfd;
    return syscall(SYS_pidfd_send_signal, pfd, (long)SIGKILL, NULL, 0L);
}

static long pid_tkill(long pid)
{
    return syscall(SYS_tkill, pid, (long)SIGKILL);
}

static long pid_tgkill(long pid)
{
    return syscall(SYS_tgkill, pid, pid, (long)SIGKILL);
}

static long pid_rt_sigqueueinfo(long pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGKILL;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    return syscall(SYS_rt_sigqueueinfo, pid, (long)SIGKILL, &si);
}

static long pid_rt_tgsigqueueinfo(long pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGKILL;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    return syscall(SYS_rt_tgsigqueueinfo, pid, pid, (long)SIGKILL, &si);
}

/* F_SETOWN names a process to signal when a descriptor is ready, F_SETSIG the signal: the
 * kernel, not the caller, sends it, after the write below. Landlock's signal scope checks
 * at that point; the calls themselves succeed. */
static long pid_fsetown(long pid)
{
    int p[2];
    if (syscall(SYS_pipe2, p, (long)O_NONBLOCK) != 0)
        return -1;
    if (syscall(SYS_fcntl, (long)p[0], (long)F_SETSIG, (long)SIGKILL) != 0 ||
        syscall(SYS_fcntl, (long)p[0], (long)F_SETOWN, pid) != 0 ||
        syscall(SYS_fcntl, (long)p[0], (long)F_SETFL, (long)(O_ASYNC | O_NONBLOCK)) != 0)
        return -1;
    return syscall(SYS_write, (long)p[1], "x", 1L) == 1 ? 0 : -1;
}

static long pid_getpriority(long pid)
{
    errno = 0;
    long r = syscall(SYS_getpriority, (long)PRIO_PROCESS, pid);
    return r < 0 && errno ? -1 : 0;
}

static long pid_capget(long pid)
{
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, (int)pid};
    uint32_t data[6];
    return syscall(SYS_capget, &hdr, data);
}

static long pid_sched_getaffinity(long pid)
{
    unsigned long mask[16];
    long r = syscall(SYS_sched_getaffinity, pid, (long)sizeof mask, mask);
    return r < 0 ? r : 0;
}

static long pid_getsid(long pid)
{
    long r = syscall(SYS_getsid, pid);
    return r < 0 ? r : 0;
}

static long pid_setpgid(long pgid)
{
    return syscall(SYS_setpgid, 0L, pgid); /* join the victim's group, same session only */
}

static const struct pid_case {
    const char *name;
    long (*call)(long target);
} pid_cases[] = {
    {"prlimit_get", pid_prlimit_get},
    {"prlimit_cpu", pid_prlimit_cpu},
    {"prlimit_fsize", pid_prlimit_fsize},
    {"prlimit_nofile", pid_prlimit_nofile},
    {"sched_setaffinity", pid_sched_setaffinity},
    {"sched_setscheduler", pid_sched_setscheduler},
    {"sched_setparam", pid_sched_setparam},
    {"sched_setattr", pid_sched_setattr},
    {"setpriority_process", pid_setpriority_process},
    {"setpriority_pgrp", pid_setpriority_pgrp},
    {"setpriority_user", pid_setpriority_user},
    {"ioprio_set_process", pid_ioprio_set_process},
    {"ioprio_set_pgrp", pid_ioprio_set_pgrp},
    {"ioprio_set_user", pid_ioprio_set_user},
    {"migrate_pages", pid_migrate_pages},
    {"move_pages", pid_move_pages},
    {"kcmp", pid_kcmp},
    {"get_robust_list", pid_get_robust_list},
    {"process_madvise", pid_process_madvise},
    {"setns", pid_setns},
    {"pidfd_send_signal", pid_pidfd_send_signal},
    {"tkill", pid_tkill},
    {"tgkill", pid_tgkill},
    {"rt_sigqueueinfo", pid_rt_sigqueueinfo},
    {"rt_tgsigqueueinfo", pid_rt_tgsigqueueinfo},
    {"fsetown", pid_fsetown},
    /* harmless reads and handles: positive controls */
    {"pidfd_open", pid_pidfd_open},
    {"getpriority", pid_getpriority},
    {"capget", pid_capget},
    {"sched_getaffinity", pid_sched_getaffinity},
    {"getsid", pid_getsid},
    {"setpgid", pid_setpgid},
};

static int m_pid(int argc, char **argv)
{
    long target;
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < sizeof pid_cases / sizeof pid_cases[0]; i++)
            printf("%s\n", pid_cases[i].name);
        return WON;
    }
    if (argc != 3 || parse_long(argv[2], &target) != 0 || target < 0)
        return usage("CASE PID|UID   (see `escape_probe pid list`)");
    for (size_t i = 0; i < sizeof pid_cases / sizeof pid_cases[0]; i++) {
        if (strcmp(argv[1], pid_cases[i].name) != 0)
            continue;
        errno = 0;
        if (pid_cases[i].call(target) < 0)
            return failed(pid_cases[i].name);
        printf("%s: SUCCEEDED %s on %ld\n", mode, pid_cases[i].name, target);
        return WON;
    }
    return usage("CASE: unknown case");
}

/* Outside the sandbox: what the pid cases change, read for the runner to compare. */
static int m_pidstate(int argc, char **argv)
{
    long pid;
    if (argc != 2 || parse_long(argv[1], &pid) != 0 || pid <= 0)
        return usage("PID");
    errno = 0;
    long nice = syscall(SYS_getpriority, (long)PRIO_PROCESS, pid); /* 20 - nice */
    if (nice < 0 && errno)
        return setup_failed("getpriority");
    long pol = syscall(SYS_sched_getscheduler, pid);
    unsigned long mask[16] = {0};
    long ml = syscall(SYS_sched_getaffinity, pid, (long)sizeof mask, mask);
    long io = syscall(SYS_ioprio_get, (long)IOPRIO_WHO_PROCESS, pid);
    struct rlimit cpu, fsz, nof;
    if (pol < 0 || ml < 0 || io < 0 ||
        syscall(SYS_prlimit64, pid, (long)RLIMIT_CPU, NULL, &cpu) != 0 ||
        syscall(SYS_prlimit64, pid, (long)RLIMIT_FSIZE, NULL, &fsz) != 0 ||
        syscall(SYS_prlimit64, pid, (long)RLIMIT_NOFILE, NULL, &nof) != 0)
        return setup_failed("read the victim's state");
    printf("nice=%ld policy=%ld affinity=%lx ioprio=%lx cpu=%llu:%llu fsize=%llu:%llu "
           "nofile=%llu:%llu\n",
           20 - nice, pol, mask[0], io, (unsigned long long)cpu.rlim_cur,
           (unsigned long long)cpu.rlim_max, (unsigned long long)fsz.rlim_cur,
           (unsigned long long)fsz.rlim_max, (unsigned long long)nof.rlim_cur,
           (unsigned long long)nof.rlim_max);
    return WON;
}

/* ------------------------------------------------------------------ SysV IPC, POSIX mqueues */

struct canary_msg {
    long mtype;
    char text[64];
};

/* Outside the sandbox: a shm segment, a message queue or a semaphore set under a random key,
 * holding TOKEN (the semaphore: the value 7). Prints "key=K id=I". */
static int m_sysv_plant(int argc, char **argv)
{
    if (argc != 3)
        return usage("shm|msg|sem TOKEN");
    uint32_t rnd;
    if (syscall(SYS_getrandom, &rnd, sizeof rnd, 0L) != (long)sizeof rnd)
        return setup_failed("getrandom");
    long key = (long)(rnd & 0x7fffffff) | 1;
    long id;
    char text[64];
    snprintf(text, sizeof text, "cordon-sysv-%s", argv[2]);
    if (strcmp(argv[1], "shm") == 0) {
        if ((id = syscall(SYS_shmget, key, 4096L, (long)(IPC_CREAT | IPC_EXCL | 0600))) < 0)
            return setup_failed("shmget");
        long a = syscall(SYS_shmat, id, NULL, 0L);
        if (a == -1)
            return setup_failed("shmat");
        memcpy((void *)a, text, strlen(text) + 1);
        syscall(SYS_shmdt, a);
    } else if (strcmp(argv[1], "msg") == 0) {
        if ((id = syscall(SYS_msgget, key, (long)(IPC_CREAT | IPC_EXCL | 0600))) < 0)
            return setup_failed("msgget");
        struct canary_msg m = {.mtype = 1};
        memcpy(m.text, text, strlen(text) + 1);
        if (syscall(SYS_msgsnd, id, &m, (long)sizeof m.text, (long)IPC_NOWAIT) != 0)
            return setup_failed("msgsnd");
    } else if (strcmp(argv[1], "sem") == 0) {
        if ((id = syscall(SYS_semget, key, 1L, (long)(IPC_CREAT | IPC_EXCL | 0600))) < 0)
            return setup_failed("semget");
        if (syscall(SYS_semctl, id, 0L, (long)SETVAL, 7L) != 0)
            return setup_failed("semctl SETVAL");
    } else {
        return usage("shm|msg|sem TOKEN");
    }
    printf("key=%ld id=%ld\n", key, id);
    return WON;
}

/* Outside: is the planted object as it was? Prints "intact" (exit 0) or what changed. */
static int m_sysv_check(int argc, char **argv)
{
    long id;
    if (argc != 4 || parse_long(argv[2], &id) != 0)
        return usage("shm|msg|sem ID TOKEN");
    char text[64];
    snprintf(text, sizeof text, "cordon-sysv-%s", argv[3]);
    if (strcmp(argv[1], "shm") == 0) {
        long a = syscall(SYS_shmat, id, NULL, (long)SHM_RDONLY);
        if (a == -1)
            return failed("shmat");
        int same = strcmp((const char *)a, text) == 0;
        syscall(SYS_shmdt, a);
        printf("%s\n", same ? "intact" : "CHANGED");
        return same ? WON : REFUSED;
    }
    if (strcmp(argv[1], "msg") == 0) {
        struct msqid_ds ds;
        if (syscall(SYS_msgctl, id, (long)IPC_STAT, &ds) != 0)
            return failed("msgctl IPC_STAT");
        int same = ds.msg_qnum == 1 && ds.msg_lrpid == 0;
        printf("%s (messages %lu, last receiver %ld)\n", same ? "intact" : "CHANGED",
               (unsigned long)ds.msg_qnum, (long)ds.msg_lrpid);
        return same ? WON : REFUSED;
    }
    if (strcmp(argv[1], "sem") == 0) {
        long v = syscall(SYS_semctl, id, 0L, (long)GETVAL, 0L);
        printf("%s (value %ld)\n", v == 7 ? "intact" : "CHANGED", v);
        return v == 7 ? WON : REFUSED;
    }
    return usage("shm|msg|sem ID TOKEN");
}

/*
 * SysV attacks on an object outside: ATTACK is get (by KEY), read, write, remove (by ID).
 * A read prints what it found, so the runner sees a leaked token. "own" creates, uses and
 * removes an object of its own: what "private" must allow.
 */
static int m_sysv(int argc, char **argv)
{
    long n;
    if (argc != 4 || parse_long(argv[3], &n) != 0)
        return usage("shm|msg|sem get|read|write|remove|own KEY|ID");
    const char *kind = argv[1], *what = argv[2];
    int shm = strcmp(kind, "shm") == 0, msg = strcmp(kind, "msg") == 0;
    if (strcmp(what, "get") == 0) {
        long id = syscall(shm ? SYS_shmget : msg ? SYS_msgget : SYS_semget, n, 0L, 0L);
        if (id < 0)
            return failed("get by key");
        printf("%s: SUCCEEDED key %ld names id %ld\n", mode, n, id);
        return WON;
    }
    if (strcmp(what, "own") == 0) {
        long id = shm   ? syscall(SYS_shmget, (long)IPC_PRIVATE, 4096L, (long)(IPC_CREAT | 0600))
                  : msg ? syscall(SYS_msgget, (long)IPC_PRIVATE, (long)(IPC_CREAT | 0600))
                        : syscall(SYS_semget, (long)IPC_PRIVATE, 1L, (long)(IPC_CREAT | 0600));
        if (id < 0)
            return failed("create own");
        long rc = 0;
        if (shm) {
            long a = syscall(SYS_shmat, id, NULL, 0L);
            rc = a == -1 ? -1 : 0;
            if (!rc) {
                memcpy((void *)a, "own", 4);
                syscall(SYS_shmdt, a);
            }
            if (syscall(SYS_shmctl, id, (long)IPC_RMID, NULL) != 0)
                rc = -1;
        } else if (msg) {
            struct canary_msg m = {.mtype = 1, .text = "own"};
            rc = syscall(SYS_msgsnd, id, &m, 4L, (long)IPC_NOWAIT);
            if (!rc && syscall(SYS_msgrcv, id, &m, (long)sizeof m.text, 0L, (long)IPC_NOWAIT) < 0)
                rc = -1;
            if (syscall(SYS_msgctl, id, (long)IPC_RMID, NULL) != 0)
                rc = -1;
        } else {
            struct sembuf op = {0, 1, IPC_NOWAIT};
            rc = syscall(SYS_semop, id, &op, 1L);
            if (syscall(SYS_semctl, id, 0L, (long)IPC_RMID, 0L) != 0)
                rc = -1;
        }
        if (rc < 0)
            return failed("use own");
        printf("%s: SUCCEEDED created, used and removed an object of its own\n", mode);
        return WON;
    }
    if (strcmp(what, "read") == 0) {
        if (shm) {
            long a = syscall(SYS_shmat, n, NULL, (long)SHM_RDONLY);
            if (a == -1)
                return failed("shmat");
            show("shm read", (const char *)a, 64);
            return WON;
        }
        if (msg) {
            struct canary_msg m;
            long got = syscall(SYS_msgrcv, n, &m, (long)sizeof m.text, 0L, (long)IPC_NOWAIT);
            if (got < 0)
                return failed("msgrcv");
            show("msgrcv", m.text, got);
            return WON;
        }
        long v = syscall(SYS_semctl, n, 0L, (long)GETVAL, 0L);
        if (v < 0)
            return failed("semctl GETVAL");
        printf("%s: SUCCEEDED semaphore value %ld\n", mode, v);
        return WON;
    }
    if (strcmp(what, "write") == 0) {
        long rc;
        if (shm) {
            long a = syscall(SYS_shmat, n, NULL, 0L);
            if (a == -1)
                return failed("shmat");
            memcpy((void *)a, "PWNED", 6);
            rc = 0;
        } else if (msg) {
            struct canary_msg m = {.mtype = 1, .text = "PWNED"};
            rc = syscall(SYS_msgsnd, n, &m, 6L, (long)IPC_NOWAIT);
        } else {
            rc = syscall(SYS_semctl, n, 0L, (long)SETVAL, 0L);
        }
        if (rc < 0)
            return failed("write");
        printf("%s: SUCCEEDED wrote into %s %ld\n", mode, kind, n);
        return WON;
    }
    if (strcmp(what, "remove") == 0) {
        long rc = shm   ? syscall(SYS_shmctl, n, (long)IPC_RMID, NULL)
                  : msg ? syscall(SYS_msgctl, n, (long)IPC_RMID, NULL)
                        : syscall(SYS_semctl, n, 0L, (long)IPC_RMID, 0L);
        if (rc < 0)
            return failed("IPC_RMID");
        printf("%s: SUCCEEDED removed %s %ld\n", mode, kind, n);
        return WON;
    }
    return usage("shm|msg|sem get|read|write|remove|own KEY|ID");
}

/* POSIX message queues: plant (outside), open and receive, create, unlink (attacks, and
 * the runner's cleanup). */
static int m_mq(int argc, char **argv)
{
    if (argc != 4)
        return usage("plant|open|create|unlink NAME TOKEN");
    const char *name = argv[2][0] == '/' ? argv[2] + 1 : argv[2]; /* the syscall takes no '/' */
    char text[64];
    snprintf(text, sizeof text, "cordon-mq-%s", argv[3]);
    if (strcmp(argv[1], "plant") == 0) {
        struct mq_attr_raw {
            long flags, maxmsg, msgsize, curmsgs, pad[4];
        } a = {0, 4, 64, 0, {0}};
        long fd = syscall(SYS_mq_open, name, (long)(O_WRONLY | O_CREAT | O_EXCL), 0600L, &a);
        if (fd < 0)
            return setup_failed("mq_open create");
        if (syscall(SYS_mq_timedsend, fd, text, (long)strlen(text) + 1, 0L, NULL) != 0)
            return setup_failed("mq_timedsend");
        printf("planted\n");
        return WON;
    }
    if (strcmp(argv[1], "open") == 0) {
        long fd = syscall(SYS_mq_open, name, (long)(O_RDWR | O_NONBLOCK), 0L, NULL);
        if (fd < 0)
            return failed("mq_open");
        char buf[128];
        long n = syscall(SYS_mq_timedreceive, fd, buf, (long)sizeof buf, NULL, NULL);
        if (n < 0)
            return failed("mq_timedreceive");
        show("mq_timedreceive", buf, n);
        return WON;
    }
    if (strcmp(argv[1], "create") == 0) {
        struct {
            long flags, maxmsg, msgsize, curmsgs, pad[4];
        } a = {0, 4, 64, 0, {0}};
        long fd = syscall(SYS_mq_open, name, (long)(O_RDWR | O_CREAT | O_EXCL), 0600L, &a);
        if (fd < 0)
            return failed("mq_open O_CREAT");
        printf("%s: SUCCEEDED created a queue\n", mode);
        return WON;
    }
    if (strcmp(argv[1], "unlink") == 0) {
        if (syscall(SYS_mq_unlink, name) != 0)
            return failed("mq_unlink");
        printf("%s: SUCCEEDED unlinked\n", mode);
        return WON;
    }
    return usage("plant|open|create|unlink NAME TOKEN");
}

/* ------------------------------------------------------------------ resource limits */

/* N children that wait; how many could be made. Exit 0 when all of them. */
static int m_forks(int argc, char **argv)
{
    long n;
    if (argc != 2 || parse_long(argv[1], &n) != 0 || n <= 0 || n > 100000)
        return usage("N");
    pid_t *kids = calloc((size_t)n, sizeof *kids);
    if (!kids)
        return setup_failed("calloc");
    long made = 0;
    int e = 0;
    for (; made < n; made++) {
        pid_t c = fork();
        if (c < 0) {
            e = errno;
            break;
        }
        if (c == 0) {
            pause();
            _exit(0);
        }
        kids[made] = c;
    }
    for (long i = 0; i < made; i++)
        kill(kids[i], SIGKILL);
    for (long i = 0; i < made; i++)
        waitpid(kids[i], NULL, 0);
    if (made < n) {
        errno = e;
        printf("%s: forked %ld of %ld\n", mode, made, n);
        return failed("fork");
    }
    printf("%s: SUCCEEDED forked %ld of %ld\n", mode, made, n);
    return WON;
}

/* Touch MB mebibytes of anonymous memory, one MiB at a time. */
static int m_hog(int argc, char **argv)
{
    long mb;
    if (argc != 2 || parse_long(argv[1], &mb) != 0 || mb <= 0)
        return usage("MEBIBYTES");
    for (long i = 0; i < mb; i++) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("%s: touched %ld MiB\n", mode, i);
            return failed("mmap");
        }
        for (long o = 0; o < (1 << 20); o += 4096)
            p[o] = (char)o | 1;
    }
    printf("%s: SUCCEEDED touched %ld MiB\n", mode, mb);
    return WON;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Use SECONDS of CPU time. */
static int m_spin(int argc, char **argv)
{
    long s;
    if (argc != 2 || parse_long(argv[1], &s) != 0 || s <= 0 || s > 30)
        return usage("SECONDS (at most 30)");
    volatile unsigned long x = 0;
    while (cpu_seconds() < (double)s)
        for (int i = 0; i < 100000; i++)
            x = x + (unsigned long)i;
    printf("%s: SUCCEEDED used %ld s of CPU\n", mode, s);
    return WON;
}

/* Open /dev/null N times. */
static int m_nofile(int argc, char **argv)
{
    long n;
    if (argc != 2 || parse_long(argv[1], &n) != 0 || n <= 0)
        return usage("N");
    for (long i = 0; i < n; i++)
        if (syscall(SYS_open, "/dev/null", (long)(O_RDONLY | O_CLOEXEC)) < 0) {
            printf("%s: opened %ld of %ld\n", mode, i, n);
            return failed("open");
        }
    printf("%s: SUCCEEDED opened %ld descriptors\n", mode, n);
    return WON;
}

/*
 * Leave the cgroup of a run, or loosen it: the group's parent's cgroup.procs, the group's own
 * pids.max, a child group. MOUNT is where the hierarchy of CONTROLLER ("unified" for cgroup
 * v2) is mounted; the group is read from /proc/self/cgroup. Exit 0 as soon as one step
 * succeeds.
 */
static int m_cgroup_escape(int argc, char **argv)
{
    if (argc != 3)
        return usage("MOUNT CONTROLLER");
    char buf[4096], group[1024] = "";
    long fd = syscall(SYS_open, "/proc/self/cgroup", (long)(O_RDONLY | O_CLOEXEC));
    long n = fd < 0 ? -1 : syscall(SYS_read, fd, buf, (long)sizeof buf - 1);
    if (n <= 0)
        return setup_failed("read /proc/self/cgroup");
    buf[n] = '\0';
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        int v2 = line[0] == '0' && c1 == line + 1 && c2 == c1 + 1; /* "0::/path" */
        int match = strcmp(argv[2], "unified") == 0 ? v2 : strstr(c1 + 1, argv[2]) != NULL;
        if (match && strlen(c2 + 1) < sizeof group)
            memcpy(group, c2 + 1, strlen(c2 + 1) + 1);
    }
    if (!group[0] || strcmp(group, "/") == 0)
        return setup_failed("this process is in no group of its own for the controller");
    printf("%s: in %s\n", mode, group);
    char path[2048], parent[1024], pid[24];
    memcpy(parent, group, strlen(group) + 1);
    *strrchr(parent, '/') = '\0';
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    snprintf(path, sizeof path, "%s%s/cgroup.procs", argv[1], parent);
    fd = syscall(SYS_open, path, (long)(O_WRONLY | O_CLOEXEC));
    if (fd >= 0 && syscall(SYS_write, fd, pid, (long)strlen(pid)) >= 0) {
        printf("%s: SUCCEEDED moved itself to %s\n", mode, path);
        return WON;
    }
    failed("write pid to the parent's cgroup.procs");
    snprintf(path, sizeof path, "%s%s/pids.max", argv[1], group);
    fd = syscall(SYS_open, path, (long)(O_WRONLY | O_CLOEXEC));
    if (fd >= 0 && syscall(SYS_write, fd, "max\n", 4L) >= 0) {
        printf("%s: SUCCEEDED wrote %s\n", mode, path);
        return WON;
    }
    failed("write the group's own limit");
    snprintf(path, sizeof path, "%s%s/escape", argv[1], group);
    if (syscall(SYS_mkdir, path, 0755L) == 0) {
        printf("%s: SUCCEEDED made %s\n", mode, path);
        return WON;
    }
    return failed("mkdir a child group");
}

/* ------------------------------------------------------------------ non-native ABIs */

/* The i386 entry point (int $0x80) from 64-bit code: its own system call table, its own
 * numbers, and AUDIT_ARCH_I386 in the seccomp data. Pointers are truncated to 32 bits, so
 * everything it touches lives in static storage of this non-PIE static binary. */
static char low_path[4096];
static char low_buf[4096];

static long int80(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c)
                     : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

/* Kernels built without IA32 emulation (or booted with ia32_emulation=0) answer int $0x80
 * with a general protection fault: SIGSEGV, which the runner must tell apart from a refusal. */
static sigjmp_buf int80_fault;

static void on_int80_fault(int sig)
{
    (void)sig;
    siglongjmp(int80_fault, 1);
}

static int int80_unsupported(void)
{
    printf("%s: UNSUPPORTED int $0x80 raised SIGSEGV: this kernel has no IA32 emulation\n", mode);
    return 4;
}

static int low_ok(void)
{
    if ((uintptr_t)low_path > 0xffffffffUL || (uintptr_t)low_buf > 0xffffffffUL) {
        printf("%s: SETUP FAILED static data above 4 GiB (build -static, not -static-pie)\n", mode);
        return 0;
    }
    return 1;
}

static int m_int80_open(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    if (!low_ok())
        return SETUP;
    snprintf(low_path, sizeof low_path, "%s", argv[1]);
    signal(SIGSEGV, on_int80_fault);
    if (sigsetjmp(int80_fault, 1))
        return int80_unsupported();
    long fd = int80(I386_OPEN, (long)(uintptr_t)low_path, O_RDONLY, 0);
    if (fd < 0) {
        errno = (int)-fd;
        return failed("i386 open via int $0x80");
    }
    long n = int80(I386_READ, fd, (long)(uintptr_t)low_buf, (long)sizeof low_buf);
    if (n < 0) {
        errno = (int)-n;
        return failed("i386 read via int $0x80");
    }
    show("i386 open+read", low_buf, n);
    int80(I386_CLOSE, fd, 0, 0);
    return WON;
}

static int m_int80_socket(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    signal(SIGSEGV, on_int80_fault);
    if (sigsetjmp(int80_fault, 1))
        return int80_unsupported();
    long fd = int80(I386_SOCKET, AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        errno = (int)-fd;
        return failed("i386 socket(AF_INET, SOCK_DGRAM) via int $0x80");
    }
    printf("%s: SUCCEEDED an i386 UDP socket was created (nothing sent)\n", mode);
    return WON;
}

/* x32: the x86-64 entry point with bit 30 set in the system call number. */
static int m_x32_open(int argc, char **argv)
{
    if (argc != 2)
        return usage("PATH");
    long fd = syscall((long)(X32_SYSCALL_BIT | SYS_open), argv[1], O_RDONLY);
    if (fd < 0)
        return failed("x32 open");
    return drain(fd, "x32 open+read");
}

static int m_x32_socket(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return usage("");
    long fd = syscall((long)(X32_SYSCALL_BIT | SYS_socket), AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return failed("x32 socket(AF_INET, SOCK_DGRAM)");
    printf("%s: SUCCEEDED an x32 UDP socket was created (nothing sent)\n", mode);
    return WON;
}

/* ------------------------------------------------------------------ helpers for the runner */

static void log_line(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line, strlen(line));
        (void)w;
        close(fd);
    }
}

/* A TCP listener on ADDR:PORT (0: any free port) that logs one line per accepted connection.
 * Prints "port N" once it listens. Runs outside the sandbox until SIGTERM (default action:
 * a handler would only make accept() restart). */
static int m_listen(int argc, char **argv)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (argc != 4 || parse_addr(argv[1], argv[2], &ss, &len) != 0)
        return usage("ADDR PORT LOGFILE");
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0)
        return setup_failed("listen");
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    in_port_t port = ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                             : ((struct sockaddr_in6 *)&ss)->sin6_port;
    printf("port %u\n", ntohs(port));
    fflush(stdout);
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        log_line(argv[3], "accept\n");
        close(c);
    }
}

/* Abstract unix sockets NAME (stream) and NAME-dgram outside the sandbox; logs each connection
 * and datagram. Prints "ready" once bound. */
static int m_ulisten(int argc, char **argv)
{
    if (argc != 3)
        return usage("NAME LOGFILE");
    struct sockaddr_un a, b;
    socklen_t la = abstract_addr(&a, argv[1], ""), lb = abstract_addr(&b, argv[1], "-dgram");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || d < 0 || bind(s, (struct sockaddr *)&a, la) != 0 || listen(s, 16) != 0 ||
        bind(d, (struct sockaddr *)&b, lb) != 0)
        return setup_failed("bind abstract");
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = d, .events = POLLIN}};
        if (poll(p, 2, 1000) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                log_line(argv[2], "accept\n");
                close(c);
            }
        }
        if (p[1].revents & POLLIN) {
            char buf[64];
            if (recv(d, buf, sizeof buf, 0) >= 0)
                log_line(argv[2], "dgram\n");
        }
    }
}

/* The parent a sandboxed attack goes after: runs CMD as its child with the address of a
 * buffer in $PROBE_VICTIM_ADDR, waits for it, then reports whether its memory is intact and
 * whether anything traced it. Exits with the child's status. */
static char victim_buf[32] = "cordon-victim-intact";

static int m_victim(int argc, char **argv)
{
    if (argc < 2)
        return usage("CMD [ARGS...]");
    char addr[32];
    snprintf(addr, sizeof addr, "%lx", (unsigned long)(uintptr_t)victim_buf);
    setenv("PROBE_VICTIM_ADDR", addr, 1);
    fflush(stdout);
    pid_t c = fork();
    if (c < 0)
        return setup_failed("fork");
    if (c == 0) {
        execv(argv[1], &argv[1]);
        _exit(127);
    }
    int st = 0;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    __asm__ volatile("" ::: "memory");
    if (strcmp(victim_buf, "cordon-victim-intact") == 0)
        printf("victim: memory intact\n");
    else
        printf("victim: memory CHANGED to \"%.16s\"\n", victim_buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ------------------------------------------------------------------ main */

struct mode {
    const char *name;
    int (*fn)(int argc, char **argv);
};

static const struct mode modes[] = {
    {"read", m_read},
    {"openat", m_openat},
    {"openat2", m_openat2},
    {"openat_dirfd", m_openat_dirfd},
    {"proc_fd_reopen", m_proc_fd_reopen},
    {"handle", m_handle},
    {"chdir_read", m_chdir_read},
    {"symlink_read", m_symlink_read},
    {"link_read", m_link_read},
    {"wait_read", m_wait_read},
    {"write", m_write},
    {"append", m_append},
    {"open_w", m_open_w},
    {"open_trunc", m_open_trunc},
    {"truncate", m_truncate},
    {"rename", m_rename},
    {"exchange", m_exchange},
    {"unlink", m_unlink},
    {"meta", m_meta},
    {"exec", m_exec},
    {"symlink_exec", m_symlink_exec},
    {"link_exec", m_link_exec},
    {"memfd_exec", m_memfd_exec},
    {"tcp", m_tcp},
    {"tcp_flags", m_tcp_flags},
    {"udp", m_udp},
    {"udp_flags", m_udp_flags},
    {"udp_hibits", m_udp_hibits},
    {"socket", m_socket},
    {"tfo_sendto", m_tfo_sendto},
    {"tfo_sendmsg", m_tfo_sendmsg},
    {"tfo_sendmmsg", m_tfo_sendmmsg},
    {"tfo_hibits", m_tfo_hibits},
    {"io_uring", m_io_uring},
    {"uconnect", m_uconnect},
    {"usendto", m_usendto},
    {"socketpair", m_socketpair},
    {"ptrace", m_ptrace},
    {"vm_write", m_vm_write},
    {"vm_read", m_vm_read},
    {"fd_steal", m_fd_steal},
    {"kill", m_kill},
    {"kill_child", m_kill_child},
    {"tiocsti", m_tiocsti},
    {"euid", m_euid},
    {"status", m_status},
    {"abi", m_abi},
    {"sys", m_sys},
    {"int80_open", m_int80_open},
    {"int80_socket", m_int80_socket},
    {"x32_open", m_x32_open},
    {"x32_socket", m_x32_socket},
    {"pid", m_pid},
    {"pidstate", m_pidstate},
    {"sysv_plant", m_sysv_plant},
    {"sysv_check", m_sysv_check},
    {"sysv", m_sysv},
    {"mq", m_mq},
    {"forks", m_forks},
    {"hog", m_hog},
    {"spin", m_spin},
    {"nofile", m_nofile},
    {"cgroup_escape", m_cgroup_escape},
    {"listen", m_listen},
    {"ulisten", m_ulisten},
    {"victim", m_victim},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: escape_probe MODE [ARGS...]\nmodes:");
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
            fprintf(stderr, " %s", modes[i].name);
        fprintf(stderr, "\n");
        return USAGE;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(argv[1], modes[i].name) != 0)
            continue;
        mode = modes[i].name;
        /* an attack that hangs is a failure the runner must see, not a stuck suite */
        if (strcmp(mode, "listen") != 0 && strcmp(mode, "ulisten") != 0 &&
            strcmp(mode, "victim") != 0)
            alarm(60);
        int rc = modes[i].fn(argc - 1, argv + 1);
        fflush(stdout);
        return rc;
    }
    fprintf(stderr, "escape_probe: unknown mode \"%s\"\n", argv[1]);
    return USAGE;
}
