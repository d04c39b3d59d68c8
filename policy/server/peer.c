/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin peer check (see peer.h). Everything read here comes from /proc, but part of it is
 * the peer's to choose (its command name is in the status text), so the parsers are strict
 * and bounded and are fuzzed (tests/fuzz/fuzz_peer.c).
 */
#include "policy/server/peer.h"
#include "base/grow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* ------------------------------------------------------------ /proc/PID/status */

/* The value of "key:" at the start of a line; -1 when absent, -2 when given twice or with a
 * value other than whitespace and one digit. */
static int status_digit(const char *text, size_t len, const char *key)
{
    size_t kl = strlen(key);
    int found = -1;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + 1;
        if (ll < kl + 1 || memcmp(line, key, kl) != 0 || line[kl] != ':')
            continue;
        if (found != -1)
            return -2;
        size_t i = kl + 1;
        while (i < ll && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i + 1 != ll || !isdigit((unsigned char)line[i]))
            return -2;
        found = line[i] - '0';
    }
    return found;
}

int peer_status_parse(const char *text, size_t len, struct peer_status *out)
{
    out->no_new_privs = out->seccomp = 0;
    if (!text || len > PEER_STATUS_MAX || memchr(text, '\0', len))
        return -EINVAL;
    int nnp = status_digit(text, len, "NoNewPrivs");
    int sec = status_digit(text, len, "Seccomp");
    if (nnp < 0 || nnp > 1 || sec == -2 || sec > 2)
        return -EINVAL;
    out->no_new_privs = nnp;
    out->seccomp = sec < 0 ? 0 : sec;
    return 0;
}

/* Read /proc/PID/status (or any small file) whole; -errno on failure. */
static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            close(fd);
            return -EFBIG;
        }
    }
    close(fd);
    *len = n;
    return 0;
}

/* PEER_GOVERNED, PEER_OUTSIDE, or PEER_UNKNOWN when the status cannot be read or parsed. */
static enum peer_verdict judge_pid(pid_t pid, char *why, size_t whylen)
{
    char path[64], *buf = malloc(PEER_STATUS_MAX);
    size_t len = 0;
    struct peer_status st;
    if (!buf) {
        snprintf(why, whylen, "out of memory reading the status of pid %d", (int)pid);
        return PEER_UNKNOWN;
    }
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int rc = read_small(path, buf, PEER_STATUS_MAX, &len);
    if (rc == 0)
        rc = peer_status_parse(buf, len, &st);
    free(buf);
    if (rc != 0) {
        snprintf(why, whylen, "the status of pid %d cannot be read (%s)", (int)pid, strerror(-rc));
        return PEER_UNKNOWN;
    }
    if (st.no_new_privs && st.seccomp == 2) {
        snprintf(why, whylen,
                 "pid %d runs with no_new_privs and a seccomp filter, as every "
                 "process cordon sandboxes does",
                 (int)pid);
        return PEER_GOVERNED;
    }
    snprintf(why, whylen, "pid %d runs outside every sandbox (no_new_privs %d, seccomp %d)",
             (int)pid, st.no_new_privs, st.seccomp);
    return PEER_OUTSIDE;
}

/* ------------------------------------------------------------ unix sockets */

static enum peer_verdict check_unix(int fd, pid_t *pidp, char *why, size_t whylen)
{
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cl != sizeof cr) {
        snprintf(why, whylen, "SO_PEERCRED failed: %s", strerror(errno));
        return PEER_UNKNOWN;
    }
    if (cr.pid <= 0) {
        snprintf(why, whylen,
                 "the peer's process is not visible from cordond's pid "
                 "namespace");
        return PEER_UNKNOWN;
    }
    *pidp = cr.pid;
    /* The pidfd names the very process that connected. Without it (before Linux 6.5) a peer
     * that exits at once leaves its pid free for reuse, and what is read below may describe
     * another process: docs/SECURITY.md says so. */
    int pidfd = -1;
    socklen_t pl = sizeof pidfd;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &pl) != 0)
        pidfd = -1;
    enum peer_verdict v = judge_pid(cr.pid, why, whylen);
    if (pidfd >= 0) {
        /* alive now, so the status just read was its own: a pid is not reused while its
         * process lives */
        int alive = syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM;
        close(pidfd);
        if (!alive) {
            snprintf(why, whylen, "pid %d exited before it could be judged", (int)cr.pid);
            return PEER_UNKNOWN;
        }
    }
    return v;
}

/* ------------------------------------------------------------ TCP */

int peer_tcp_hex(const struct sockaddr *addr, int v4, char *out, size_t len)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        return (size_t)snprintf(out, len, "%08X:%04X", (unsigned)a->sin_addr.s_addr,
                                ntohs(a->sin_port)) < len
                   ? 0
                   : -EINVAL;
    }
    if (addr->sa_family != AF_INET6)
        return -EINVAL;
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    uint32_t w[4];
    memcpy(w, &a->sin6_addr, sizeof w);
    if (v4) {
        if (!IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            return -EINVAL;
        return (size_t)snprintf(out, len, "%08X:%04X", (unsigned)w[3], ntohs(a->sin6_port)) < len
                   ? 0
                   : -EINVAL;
    }
    return (size_t)snprintf(out, len, "%08X%08X%08X%08X:%04X", (unsigned)w[0], (unsigned)w[1],
                            (unsigned)w[2], (unsigned)w[3], ntohs(a->sin6_port)) < len
               ? 0
               : -EINVAL;
}

int peer_tcp_find(const char *text, size_t len, const char *local, const char *remote,
                  unsigned long *inode, unsigned *uid)
{
    if (!text || len > PEER_TCP_TABLE_MAX || memchr(text, '\0', len))
        return -EINVAL;
    size_t ll = strlen(local), rl = strlen(remote);
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + 1;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ... */
        const char *f[10];
        size_t fl[10], k = 0;
        for (size_t i = 0; i < n && k < 10;) {
            while (i < n && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i == n)
                break;
            f[k] = line + i;
            while (i < n && line[i] != ' ' && line[i] != '\t')
                i++;
            fl[k] = (size_t)(line + i - f[k]);
            k++;
        }
        if (k < 10 || fl[1] != ll || fl[2] != rl || memcmp(f[1], local, ll) != 0 ||
            memcmp(f[2], remote, rl) != 0)
            continue;
        unsigned long u = 0, ino = 0;
        int ok = fl[7] > 0 && fl[7] <= 10 && fl[9] > 0 && fl[9] <= 20;
        for (size_t i = 0; ok && i < fl[7]; i++) {
            ok = isdigit((unsigned char)f[7][i]);
            u = u * 10 + (unsigned long)(f[7][i] - '0');
        }
        for (size_t i = 0; ok && i < fl[9]; i++) {
            ok = isdigit((unsigned char)f[9][i]) && ino <= (~0UL - 9) / 10;
            ino = ino * 10 + (unsigned long)(f[9][i] - '0');
        }
        if (!ok || u > 0xffffffffUL)
            continue;
        *inode = ino;
        *uid = (unsigned)u;
        return 0;
    }
    return -ENOENT;
}

/* The whole of a /proc/net table, malloc'd (caller frees), or NULL (it cannot be opened, or
 * it reaches PEER_TCP_TABLE_MAX). */
static char *read_table(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t cap = 0, n = 0;
    char *buf = NULL;
    *len = 0;
    if (fd < 0)
        return NULL;
    if (GROW(&buf, &cap, 65536) != 0) {
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap && (cap >= PEER_TCP_TABLE_MAX || GROW(&buf, &cap, cap + 1) != 0)) {
            free(buf);
            buf = NULL;
            break;
        }
    }
    close(fd);
    *len = n;
    return buf;
}

/* 1 when addr is loopback or an address of one of this host's interfaces. */
static int is_local(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct in_addr *a = &((const struct sockaddr_in *)addr)->sin_addr;
        if ((ntohl(a->s_addr) >> 24) == 127)
            return 1;
    } else {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127)
            return 1;
    }
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0)
        return 1; /* cannot tell: treat as local, which refuses */
    int local = 0;
    for (struct ifaddrs *i = ifa; i && !local; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (addr->sa_family == AF_INET && i->ifa_addr->sa_family == AF_INET)
            local = ((const struct sockaddr_in *)addr)->sin_addr.s_addr ==
                    ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
        else if (addr->sa_family == AF_INET6 && i->ifa_addr->sa_family == AF_INET6)
            local = memcmp(&((const struct sockaddr_in6 *)addr)->sin6_addr,
                           &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16) == 0;
        else if (addr->sa_family == AF_INET6 && i->ifa_addr->sa_family == AF_INET) {
            const struct in6_addr *m = &((const struct sockaddr_in6 *)addr)->sin6_addr;
            local = IN6_IS_ADDR_V4MAPPED(m) &&
                    memcmp(m->s6_addr + 12, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr,
                           4) == 0;
        }
    }
    freeifaddrs(ifa);
    return local;
}

/* Every process holding socket inode ino: the worst verdict among them. */
static enum peer_verdict owners(unsigned long ino, unsigned uid, pid_t *pidp, char *why,
                                size_t whylen)
{
    char want[48];
    snprintf(want, sizeof want, "socket:[%lu]", ino);
    DIR *proc = opendir("/proc");
    if (!proc) {
        snprintf(why, whylen, "/proc cannot be read: %s", strerror(errno));
        return PEER_UNKNOWN;
    }
    enum peer_verdict worst = PEER_UNKNOWN;
    int found = 0;
    struct dirent *de;
    while ((de = readdir(proc)) && worst != PEER_GOVERNED) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char dir[64];
        struct stat st;
        snprintf(dir, sizeof dir, "/proc/%ld", pid);
        /* the socket's owner uid narrows the search; root's processes can hold anyone's */
        if (stat(dir, &st) != 0 || (st.st_uid != uid && st.st_uid != 0))
            continue;
        snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
        DIR *fds = opendir(dir);
        if (!fds)
            continue;
        struct dirent *fe;
        int holds = 0;
        while (!holds && (fe = readdir(fds))) {
            char target[64];
            if (fe->d_name[0] == '.')
                continue;
            ssize_t n = readlinkat(dirfd(fds), fe->d_name, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            holds = strcmp(target, want) == 0;
        }
        closedir(fds);
        if (!holds)
            continue;
        char one[256];
        enum peer_verdict v = judge_pid((pid_t)pid, one, sizeof one);
        if (!found || v == PEER_GOVERNED || (v == PEER_UNKNOWN && worst == PEER_OUTSIDE)) {
            worst = v;
            *pidp = (pid_t)pid;
            snprintf(why, whylen, "%s", one);
        }
        found = 1;
    }
    closedir(proc);
    if (!found)
        snprintf(why, whylen,
                 "no process that cordond can see holds the peer's socket "
                 "(inode %lu, uid %u)",
                 ino, uid);
    return found ? worst : PEER_UNKNOWN;
}

static enum peer_verdict check_tcp(int fd, pid_t *pidp, char *why, size_t whylen)
{
    struct sockaddr_storage me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) != 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) != 0) {
        snprintf(why, whylen, "the connection's addresses cannot be read: %s", strerror(errno));
        return PEER_UNKNOWN;
    }
    /* The peer's socket is the line whose local address is our peer and remote is us. An
     * IPv4 client reaching a dual-stack IPv6 listener sits in the IPv4 table. */
    struct {
        const char *table;
        int v4;
    } tries[2];
    size_t nt = 0;
    if (me.ss_family == AF_INET) {
        tries[nt++] = (__typeof__(tries[0])){"/proc/self/net/tcp", 0};
    } else {
        tries[nt++] = (__typeof__(tries[0])){"/proc/self/net/tcp6", 0};
        if (IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&peer)->sin6_addr))
            tries[nt++] = (__typeof__(tries[0])){"/proc/self/net/tcp", 1};
    }
    /* The kernel prints the table in pieces, and a socket opened or closed elsewhere between
     * two pieces can make it skip a line: a miss is read again before it counts. */
    for (size_t t = 0; t < 3 * nt; t++) {
        char lhex[48], rhex[48];
        int v4 = tries[t % nt].v4;
        if (peer_tcp_hex((struct sockaddr *)&peer, v4, lhex, sizeof lhex) != 0 ||
            peer_tcp_hex((struct sockaddr *)&me, v4, rhex, sizeof rhex) != 0)
            continue;
        size_t len = 0;
        char *text = read_table(tries[t % nt].table, &len);
        unsigned long ino = 0;
        unsigned uid = 0;
        int rc = text ? peer_tcp_find(text, len, lhex, rhex, &ino, &uid) : -EIO;
        free(text);
        if (rc != 0)
            continue;
        if (ino == 0) {
            snprintf(why, whylen, "the peer's socket has no owner any more (it was closed)");
            return PEER_UNKNOWN;
        }
        return owners(ino, uid, pidp, why, whylen);
    }
    if (!is_local((struct sockaddr *)&peer)) {
        snprintf(why, whylen, "the peer is on another host; only the token is checked");
        return PEER_REMOTE;
    }
    snprintf(why, whylen, "the peer's socket is not in this network namespace's TCP table");
    return PEER_UNKNOWN;
}

enum peer_verdict peer_check(int fd, pid_t *pid, char *why, size_t whylen)
{
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    *pid = 0;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) != 0) {
        snprintf(why, whylen, "the connection cannot be examined: %s", strerror(errno));
        return PEER_UNKNOWN;
    }
    if (me.ss_family == AF_UNIX)
        return check_unix(fd, pid, why, whylen);
    if (me.ss_family == AF_INET || me.ss_family == AF_INET6)
        return check_tcp(fd, pid, why, whylen);
    snprintf(why, whylen, "the connection is of address family %d", me.ss_family);
    return PEER_UNKNOWN;
}
