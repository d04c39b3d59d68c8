/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network hooks. In network mode "proxy" the kernel lets TCP reach only cordond's ports, so the
 * connect hook turns every other TCP connect into a CONNECT through cordond's egress tunnel, naming
 * the host the program used (mapped back from a DNS placeholder, or the IP literal it gave) so the
 * policy judges names. The tunnel is reached from a socket of either family: an IPv6 socket reaches
 * an IPv4 tunnel through the IPv4-mapped address, and a socket that cannot (IPV6_V6ONLY, or IPv4
 * against an IPv6 tunnel) is swapped for one of the tunnel's family under the same descriptor
 * number. The handshake runs inside the hook with stack buffers: the socket is put in non-blocking
 * mode, every wait has a deadline, the response is read one byte at a time so not a byte of the
 * tunnelled stream is consumed, and the caller's flags are restored; a non-blocking caller thus
 * sees connect() return 0 at once, which POSIX allows.
 *
 * UDP to inet addresses is refused with a line that says why (the seccomp filter refuses UDP
 * sockets in "proxy" and "none" anyway). Mode "none" refuses TCP too, but for cordond's API
 * port (its model proxy), which the sandbox lets through; mode "host" passes everything and
 * records it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "base/clock.h"
#include "base/io.h"
#include "shim/decide.h"
#include "shim/dnsmap.h"
#include "shim/events.h"
#include "shim/hooks.h"

#define TUNNEL_TIMEOUT_MS 15000

static int (*r_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*r_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*r_sendmsg)(int, const struct msghdr *, int);
static int (*r_sendmmsg)(int, struct mmsghdr *, unsigned, int);

/* The socket's address family (SO_DOMAIN), or -1. */
static int sock_domain(int fd)
{
    int d = -1;
    socklen_t l = sizeof d;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &l) != 0)
        return -1;
    return d;
}

static int is_loopback(const struct sockaddr *sa, uint32_t v4)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return 0;
    }
    return (v4 >> 24) == 127;
}

static int to_cordond(const struct sockaddr *sa, uint16_t port, uint32_t v4, int named)
{
    int port_ok = 0;
    for (size_t i = 0; i < shim.n_cordond_ports; i++)
        port_ok |= shim.cordond_ports[i] == port;
    if (!port_ok || named)
        return 0;
    if (is_loopback(sa, v4))
        return 1;
    if (!shim.proxy_len || shim.proxy.ss_family != sa->sa_family)
        return 0;
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)&shim.proxy)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)&shim.proxy)->sin6_addr,
                  &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Mode none: 1 for cordond's API address (loopback, or the server's own numeric address, on
 * its port), the one TCP connection the sandbox lets through. */
static int to_api(const struct sockaddr *sa, uint16_t port, uint32_t v4, int named)
{
    if (!shim.server_port || port != shim.server_port || named)
        return 0;
    if (is_loopback(sa, v4))
        return 1;
    unsigned char a[sizeof(struct in6_addr)];
    if (sa->sa_family == AF_INET)
        return inet_pton(AF_INET, shim.server_host, a) == 1 &&
               memcmp(a, &((const struct sockaddr_in *)sa)->sin_addr, 4) == 0;
    return inet_pton(AF_INET6, shim.server_host, a) == 1 &&
           memcmp(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof a) == 0;
}

static void net_detail(char *mem, size_t cap, const char *host, uint16_t port, const char *proto,
                       const char *rule)
{
    struct jbuf b;
    jbuf_init(&b, mem, cap);
    jbuf_raw(&b, "{\"host\":");
    jbuf_str(&b, host, 300);
    jbuf_raw(&b, ",\"port\":");
    jbuf_u64(&b, port);
    jbuf_raw(&b, ",\"proto\":");
    jbuf_str(&b, proto, 0);
    jbuf_raw(&b, ",\"rule\":");
    jbuf_str(&b, rule, 900);
    jbuf_raw(&b, "}");
}

/*
 * Put a socket of the tunnel's family in fd's place, keeping its descriptor flags and the
 * options a client sets before connecting. An IPV6_V6ONLY socket cannot reach an IPv4
 * tunnel, nor an IPv4 socket an IPv6 one; the program keeps its descriptor number and gets
 * the byte stream it asked for (getsockname() then shows the other family). In network mode
 * proxy Landlock refuses bind(), so no local address is lost.
 */
static int replace_socket(int fd, int family)
{
    int fdflags = fcntl(fd, F_GETFD);
    int nfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fdflags < 0 || nfd < 0) {
        int e = errno;
        if (nfd >= 0)
            syscall(SYS_close, nfd);
        errno = e;
        return -1;
    }
    static const struct {
        int level, name;
        socklen_t size;
    } keep[] = {
        {IPPROTO_TCP, TCP_NODELAY, sizeof(int)},
        {SOL_SOCKET, SO_KEEPALIVE, sizeof(int)},
        {IPPROTO_TCP, TCP_KEEPIDLE, sizeof(int)},
        {IPPROTO_TCP, TCP_KEEPINTVL, sizeof(int)},
        {IPPROTO_TCP, TCP_KEEPCNT, sizeof(int)},
        {IPPROTO_TCP, TCP_USER_TIMEOUT, sizeof(int)},
        {SOL_SOCKET, SO_LINGER, sizeof(struct linger)},
        {SOL_SOCKET, SO_RCVTIMEO, sizeof(struct timeval)},
        {SOL_SOCKET, SO_SNDTIMEO, sizeof(struct timeval)},
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        union {
            int i;
            struct linger l;
            struct timeval tv;
        } v;
        socklen_t l = keep[i].size;
        if (getsockopt(fd, keep[i].level, keep[i].name, &v, &l) == 0 && l == keep[i].size)
            (void)setsockopt(nfd, keep[i].level, keep[i].name, &v, l);
    }
    long r = syscall(SYS_dup3, nfd, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0);
    int e = errno;
    syscall(SYS_close, nfd);
    errno = e;
    return r < 0 ? -1 : 0;
}

/* Start connecting fd (non-blocking, of family domain) to cordond's tunnel, whatever the
 * two families are. Returns what connect() returns. */
static int connect_tunnel(int fd, int domain)
{
    const struct sockaddr *px = (const struct sockaddr *)&shim.proxy;
    if (domain == px->sa_family)
        return REAL(connect)(fd, px, shim.proxy_len);
    int v6only = 0;
    socklen_t l = sizeof v6only;
    if (domain == AF_INET6 && px->sa_family == AF_INET &&
        getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l) == 0 && !v6only) {
        /* a dual-stack socket reaches 127.0.0.1 as ::ffff:127.0.0.1 */
        const struct sockaddr_in *p4 = (const struct sockaddr_in *)px;
        struct sockaddr_in6 m;
        memset(&m, 0, sizeof m);
        m.sin6_family = AF_INET6;
        m.sin6_port = p4->sin_port;
        m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&m.sin6_addr.s6_addr[12], &p4->sin_addr, 4);
        return REAL(connect)(fd, (const struct sockaddr *)&m, sizeof m);
    }
    if (replace_socket(fd, px->sa_family) != 0)
        return -1;
    return REAL(connect)(fd, px, shim.proxy_len);
}

static void tunnel_addr(char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (shim.proxy.ss_family == AF_INET6) {
        const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)&shim.proxy;
        inet_ntop(AF_INET6, &p6->sin6_addr, a, sizeof a);
        port = ntohs(p6->sin6_port);
        snprintf(out, cap, "[%s]:%u", a, port);
    } else {
        const struct sockaddr_in *p4 = (const struct sockaddr_in *)&shim.proxy;
        inet_ntop(AF_INET, &p4->sin_addr, a, sizeof a);
        port = ntohs(p4->sin_port);
        snprintf(out, cap, "%s:%u", a, port);
    }
}

/* The CONNECT handshake on fd (non-blocking, of family domain). 0 tunnel open; else the
 * errno to return, with words in why. */
static int tunnel(int fd, int domain, const char *host, uint16_t port, int *status, char *why,
                  size_t wl)
{
    long long deadline = clock_mono_ms() + TUNNEL_TIMEOUT_MS;
    *status = 0;
    why[0] = '\0';
    char req[1024], ta[INET6_ADDRSTRLEN + 10];
    const char *bad = NULL;
    int len = decide_connect_head(host, port, shim.key, shim.session, req, sizeof req, &bad);
    if (len < 0) {
        snprintf(why, wl, "no CONNECT request was sent: %s", bad);
        return EINVAL;
    }
    tunnel_addr(ta, sizeof ta);
    int rc = connect_tunnel(fd, domain);
    if (rc != 0 && errno != EINPROGRESS) {
        snprintf(why, wl,
                 "cordond's egress tunnel at %s cannot be reached from this %s socket: "
                 "%s; is cordond running?",
                 ta, domain == AF_INET6 ? "IPv6" : "IPv4", strerror(errno));
        explicit_bzero(req, sizeof req);
        return ECONNREFUSED;
    }
    if (rc != 0) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (io_wait(fd, POLLOUT, deadline) <= 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
            snprintf(why, wl,
                     "cordond's egress tunnel at %s cannot be reached: %s; is cordond "
                     "running?",
                     ta, strerror(soerr ? soerr : ETIMEDOUT));
            explicit_bzero(req, sizeof req);
            return ECONNREFUSED;
        }
    }
    rc = io_send_all(fd, req, (size_t)len, deadline);
    explicit_bzero(req, sizeof req); /* the key was in it */
    if (rc == -ETIMEDOUT)
        goto timeout;
    if (rc != 0) {
        snprintf(why, wl, "sending CONNECT to cordond failed: %s", strerror(-rc));
        return ECONNREFUSED;
    }
    char resp[4096];
    size_t n = 0;
    while (n < sizeof resp - 1) {
        ssize_t r = recv(fd, resp + n, 1, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (io_wait(fd, POLLIN, deadline) <= 0)
                goto timeout;
            continue;
        }
        if (r <= 0) {
            snprintf(why, wl, "cordond closed the tunnel before answering");
            return ECONNREFUSED;
        }
        n++;
        if (n >= 4 && memcmp(resp + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    resp[n] = '\0';
    if (n < 12 || memcmp(resp, "HTTP/1.", 7) != 0) {
        snprintf(why, wl, "cordond's tunnel did not answer with HTTP");
        return ECONNREFUSED;
    }
    *status = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
    if (*status == 200)
        return 0;
    /* The refusal's body is one line naming the rule: read what arrives of it. */
    size_t cl = 0;
    const char *h = strcasestr(resp, "\r\ncontent-length:");
    if (h)
        cl = (size_t)strtoul(h + 17, NULL, 10);
    char body[768];
    size_t bn = 0;
    while (bn < cl && bn < sizeof body - 1) {
        ssize_t r = recv(fd, body + bn, 1, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (io_wait(fd, POLLIN, clock_mono_ms() + 1000) <= 0)
                break;
            continue;
        }
        if (r <= 0)
            break;
        if (body[bn] == '\n' || body[bn] == '\r')
            break;
        bn++;
    }
    body[bn] = '\0';
    snprintf(why, wl, "cordond refused the tunnel (%d)%s%s", *status, bn ? ": " : "", body);
    return (*status == 403 || *status == 407) ? EACCES : ECONNREFUSED;
timeout:
    snprintf(why, wl, "cordond's tunnel did not answer within %d s", TUNNEL_TIMEOUT_MS / 1000);
    return ETIMEDOUT;
}

static int deny_net(unsigned kind, const char *ev, const char *what, const char *host,
                    uint16_t port, const char *proto, const char *rule, int err)
{
    char subject[320], mem[1500], pp[8];
    struct jbuf b;
    jbuf_init(&b, pp, sizeof pp);
    jbuf_u64(&b, port);
    snprintf(subject, sizeof subject, "%s %s:%s", proto, host, pp);
    net_detail(mem, sizeof mem, host, port, proto, rule);
    if (shim.observe) {
        shim_report(kind, ev, "log", what, subject, rule, mem);
        return 0;
    }
    shim_report(kind, ev, "deny", what, subject, rule, mem);
    errno = err;
    return -1;
}

static int sock_type(int fd)
{
    int t = 0;
    socklen_t l = sizeof t;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &l) != 0)
        return -1;
    return t;
}

/* UDP gate for sendto/sendmsg/connect: 0 pass, -1 refused. */
static int udp_gate(int fd, const struct sockaddr *sa, socklen_t len, const char *what)
{
    if (!atomic_load(&shim.active) || !sa || shim.net == POLICY_NET_HOST ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return 0;
    int saved = errno;
    if (sock_type(fd) != SOCK_DGRAM) {
        errno = saved;
        return 0;
    }
    char host[DNSMAP_NAME_MAX + 1];
    uint16_t port = 0;
    uint32_t v4;
    int named;
    if (dnsmap_target(sa, len, host, sizeof host, &port, &named, &v4) != 0)
        snprintf(host, sizeof host, "?");
    int rc = deny_net(SHIM_KIND_UDP, "net.udp", what, host, port, "udp",
                      shim.net == POLICY_NET_NONE
                          ? "sandbox.network.mode \"none\": no network at all"
                          : "sandbox.network.mode \"proxy\" carries TCP through cordond only; "
                            "UDP is refused",
                      EACCES);
    if (rc == 0)
        errno = saved;
    return rc;
}

int hooks_net_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (!atomic_load(&shim.active) || !sa || len < sizeof(sa_family_t) ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return REAL(connect)(fd, sa, len);
    int saved = errno, type = sock_type(fd), domain = sock_domain(fd);
    errno = saved;
    if (type == SOCK_DGRAM) {
        if (udp_gate(fd, sa, len, "connect") != 0)
            return -1;
        return REAL(connect)(fd, sa, len);
    }
    /* Not a TCP socket, or an address of the other family (which the kernel refuses with
     * EAFNOSUPPORT or EINVAL): the kernel answers. */
    if (type != SOCK_STREAM || domain != sa->sa_family)
        return REAL(connect)(fd, sa, len);
    if (domain == AF_INET6 && len >= sizeof(struct sockaddr_in6) &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
        int v6only = 0;
        socklen_t ol = sizeof v6only;
        if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) == 0 && v6only) {
            errno = saved;
            return REAL(connect)(fd, sa, len); /* an IPv6-only socket cannot reach IPv4 */
        }
        errno = saved;
    }
    char host[DNSMAP_NAME_MAX + 1], mem[1500];
    uint16_t port = 0;
    uint32_t v4;
    int named;
    if (dnsmap_target(sa, len, host, sizeof host, &port, &named, &v4) != 0) {
        if (!dnsmap_lookup_sa(sa, len))
            return REAL(connect)(fd, sa, len); /* short address: the kernel says EINVAL */
        /* A placeholder whose name another process of the tree made unsendable: no CONNECT
         * can carry it, in observe mode too. */
        static const char rule[] = "the name behind this placeholder address is not a host "
                                   "name (the tree's shared name map was written to)";
        net_detail(mem, sizeof mem, "(unsendable name)", port, "tcp", rule);
        shim_report(SHIM_KIND_TUNNEL, "net.connect", "deny", "connect", "(unsendable name)", rule,
                    mem);
        errno = EINVAL;
        return -1;
    }
    if (shim.net == POLICY_NET_HOST) {
        net_detail(mem, sizeof mem, host, port, "tcp", "sandbox.network.mode \"host\"");
        events_emit("net.connect", "allow", mem);
        return REAL(connect)(fd, sa, len);
    }
    if (shim.net == POLICY_NET_NONE) {
        /* cordond's API port, which the sandbox lets through where Landlock has TCP rules */
        if (to_api(sa, port, v4, named))
            return REAL(connect)(fd, sa, len);
        if (deny_net(SHIM_KIND_NET, "net.connect", "connect", host, port, "tcp",
                     "sandbox.network.mode \"none\": no network at all", EACCES) != 0)
            return -1;
        return REAL(connect)(fd, sa, len);
    }
    if (to_cordond(sa, port, v4, named))
        return REAL(connect)(fd, sa, len);
    if (!shim.proxy_len || !shim.key[0]) {
        if (deny_net(SHIM_KIND_NET, "net.connect", "connect", host, port, "tcp",
                     "sandbox.network.mode \"proxy\", but there is no cordond tunnel (offline "
                     "mode: set CORDON_SERVER)",
                     EACCES) != 0)
            return -1;
        return REAL(connect)(fd, sa, len);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if (!(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int status;
    char why[900];
    int err = tunnel(fd, domain, host, port, &status, why, sizeof why);
    /* fd may now be another socket (replace_socket): give it the caller's flags */
    fcntl(fd, F_SETFL, flags);
    if (err == 0) {
        net_detail(mem, sizeof mem, host, port, "tcp", "tunnel");
        events_emit("net.connect", "allow", mem);
        errno = saved;
        return 0;
    }
    char subject[320], pp[8];
    struct jbuf b;
    jbuf_init(&b, pp, sizeof pp);
    jbuf_u64(&b, port);
    snprintf(subject, sizeof subject, "%s:%s", host, pp);
    net_detail(mem, sizeof mem, host, port, "tcp", why);
    /* cordond decided (and audits) the refusal itself; the event is the shim's view of it. */
    shim_report(status == 403 || status == 407 ? SHIM_KIND_NET : SHIM_KIND_TUNNEL, "net.connect",
                "deny", "connect", subject, why, mem);
    errno = err;
    return -1;
}

EXPORT int HOOK(connect)(int fd, const struct sockaddr *sa, socklen_t len)
{
    return hooks_net_connect(fd, sa, len);
}

EXPORT ssize_t HOOK(sendto)(int fd, const void *buf, size_t len, int flags,
                            const struct sockaddr *sa, socklen_t alen)
{
    if (sa && udp_gate(fd, sa, alen, "sendto") != 0)
        return -1;
    return REAL(sendto)(fd, buf, len, flags, sa, alen);
}

EXPORT ssize_t HOOK(sendmsg)(int fd, const struct msghdr *m, int flags)
{
    if (m && m->msg_name && udp_gate(fd, m->msg_name, m->msg_namelen, "sendmsg") != 0)
        return -1;
    return REAL(sendmsg)(fd, m, flags);
}

EXPORT int HOOK(sendmmsg)(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    for (unsigned i = 0; v && i < n; i++)
        if (v[i].msg_hdr.msg_name &&
            udp_gate(fd, v[i].msg_hdr.msg_name, v[i].msg_hdr.msg_namelen, "sendmmsg") != 0)
            return -1;
    return REAL(sendmmsg)(fd, v, n, flags);
}
