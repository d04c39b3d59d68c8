/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name resolution hooks for network mode "proxy". The sandbox refuses UDP, so the agent
 * cannot ask a DNS server anything; instead every name gets a placeholder address from the
 * shared map (shim/dnsmap.c) and the connect hook hands the name to cordond, which resolves
 * it itself and judges the name the program used. That includes names that /etc/hosts
 * answers (`localhost` among them) and numeric-looking names glibc would read as an address
 * ("127.1", "0x7f000001"): cordond sees them as written. Only IP literals (dotted-quad IPv4,
 * IPv6), AI_PASSIVE lookups (a local address to bind, which the sandbox refuses anyway) and
 * cordond's own host name are resolved for real.
 *
 * What a lookup answers: one address per call, so that a name never reaches the tunnel
 * twice for one connection attempt. AF_INET and AF_UNSPEC get the IPv4 placeholder; AF_INET6
 * the IPv6 one, with or without AI_V4MAPPED and AI_ALL. AI_ADDRCONFIG changes nothing: the
 * connect hook reaches the tunnel from a socket of either family. A name the tunnel cannot
 * carry (a space, a CR or LF, over 253 characters) is refused with EAI_NONAME and a line; a
 * full map with EAI_FAIL and a line.
 *
 * getaddrinfo's result must be released by glibc's freeaddrinfo(), which frees each entry
 * and its ai_canonname with free(): entries are therefore malloc'd here, with the address
 * inside the same block, exactly as glibc lays them out.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "shim/dnsmap.h"
#include "shim/events.h"
#include "shim/hooks.h"

static int (*r_getaddrinfo)(const char *, const char *, const struct addrinfo *,
                            struct addrinfo **);
static struct hostent *(*r_gethostbyname)(const char *);
static struct hostent *(*r_gethostbyname2)(const char *, int);
static int (*r_gethostbyname_r)(const char *, struct hostent *, char *, size_t, struct hostent **,
                                int *);
static int (*r_gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
                                 struct hostent **, int *);
static int (*r_getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
                            socklen_t, int);

enum dns_way { DNS_REAL, DNS_MAP, DNS_REFUSE };

static int is_server_host(const char *name)
{
    size_t n = strlen(name), sn = strlen(shim.server_host);
    if (n && name[n - 1] == '.')
        n--;
    return sn && n == sn && strncasecmp(name, shim.server_host, n) == 0;
}

/* Resolve for real, hand out a placeholder (low: the name as the map keeps it), or refuse
 * (why: the words). */
static enum dns_way way(const char *name, char *low, size_t cap, const char **why)
{
    if (!atomic_load(&shim.active) || shim.net != POLICY_NET_PROXY || !name || !*name ||
        dnsmap_is_literal(name) || is_server_host(name))
        return DNS_REAL;
    return dnsmap_name_check(name, low, cap, why) == 0 ? DNS_MAP : DNS_REFUSE;
}

static void report(unsigned kind, const char *what, const char *name, const char *rule)
{
    char mem[900];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"host\":");
    jbuf_str(&b, name, 300);
    jbuf_raw(&b, ",\"rule\":");
    jbuf_str(&b, rule, 400);
    jbuf_raw(&b, "}");
    /* Not a policy decision (observe mode changes nothing): the name cannot be carried. */
    shim_report(kind, "net.dns", "deny", what, name, rule, mem);
}

static void refuse_name(const char *what, const char *name, const char *why)
{
    char rule[400];
    struct jbuf b;
    jbuf_init(&b, rule, sizeof rule);
    jbuf_raw(&b, "not resolved: ");
    jbuf_raw(&b, why);
    jbuf_raw(&b, "; cordond's tunnel carries host names, IPv4 and IPv6 addresses only");
    report(SHIM_KIND_DNS, what, name, rule);
}

/* The placeholder for low (a checked name), or 0 after saying why there is none. */
static uint32_t assign(const char *what, const char *low, int af)
{
    uint32_t a = dnsmap_assign(low);
    if (!a) {
        report(SHIM_KIND_DNS_FULL, what, low,
               dnsmap_full()
                   ? "not resolved: the name map of network mode \"proxy\" is full (4096 names "
                     "in this process tree); start the program again for a new map"
                   : "not resolved: the name map of network mode \"proxy\" cannot be mapped");
        return 0;
    }
    char mem[600], ip[INET6_ADDRSTRLEN];
    if (af == AF_INET6) {
        struct in6_addr a6;
        dnsmap_addr6(a, &a6);
        inet_ntop(AF_INET6, &a6, ip, sizeof ip);
    } else {
        struct in_addr ia = {htonl(a)};
        inet_ntop(AF_INET, &ia, ip, sizeof ip);
    }
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"host\":");
    jbuf_str(&b, low, 300);
    jbuf_raw(&b, ",\"placeholder\":");
    jbuf_str(&b, ip, 0);
    jbuf_raw(&b, "}");
    events_emit("net.dns", "allow", mem);
    return a;
}

/* The port of service, as getaddrinfo reads it: digits, or a name from /etc/services
 * (unless AI_NUMERICSERV). 0 or an EAI_ code. */
static int service_port(const char *service, const struct addrinfo *hints, uint16_t *port)
{
    *port = 0;
    if (!service || !*service)
        return 0;
    unsigned long v = 0;
    size_t i = 0;
    for (; service[i] >= '0' && service[i] <= '9' && i < 6; i++)
        v = v * 10 + (unsigned long)(service[i] - '0');
    if (!service[i] && v <= 65535) {
        *port = (uint16_t)v;
        return 0;
    }
    if (hints && (hints->ai_flags & AI_NUMERICSERV))
        return EAI_NONAME;
    /* A service name: let glibc look it up against a numeric host. */
    struct addrinfo h = {.ai_flags = AI_NUMERICHOST,
                         .ai_family = AF_INET,
                         .ai_socktype = hints ? hints->ai_socktype : 0,
                         .ai_protocol = hints ? hints->ai_protocol : 0};
    struct addrinfo *r = NULL;
    int g = REAL(getaddrinfo)("127.0.0.1", service, &h, &r);
    if (g != 0)
        return g;
    *port = ntohs(((struct sockaddr_in *)r->ai_addr)->sin_port);
    freeaddrinfo(r);
    return 0;
}

EXPORT int HOOK(getaddrinfo)(const char *node, const char *service, const struct addrinfo *hints,
                             struct addrinfo **res)
{
    int family = hints ? hints->ai_family : AF_UNSPEC;
    int flags = hints ? hints->ai_flags : 0;
    char low[DNSMAP_NAME_MAX + 1];
    const char *why = NULL;
    enum dns_way w = way(node, low, sizeof low, &why);
    if (w == DNS_REAL || (flags & (AI_NUMERICHOST | AI_PASSIVE)) ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return REAL(getaddrinfo)(node, service, hints, res);
    int saved = errno;
    if (w == DNS_REFUSE) {
        refuse_name("getaddrinfo", node, why);
        errno = saved;
        return EAI_NONAME;
    }
    uint16_t port;
    int g = service_port(service, hints, &port);
    if (g != 0)
        return g;
    int af = family == AF_INET6 ? AF_INET6 : AF_INET;
    uint32_t a = assign("getaddrinfo", low, af);
    if (!a) {
        errno = saved;
        return EAI_FAIL;
    }
    int socktype = hints && hints->ai_socktype ? hints->ai_socktype : SOCK_STREAM;
    int proto = hints && hints->ai_protocol ? hints->ai_protocol
                : socktype == SOCK_DGRAM    ? IPPROTO_UDP
                                            : IPPROTO_TCP;
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in6));
    if (!ai)
        return EAI_MEMORY;
    ai->ai_flags = flags;
    ai->ai_family = af;
    ai->ai_socktype = socktype;
    ai->ai_protocol = proto;
    ai->ai_addr = (struct sockaddr *)(ai + 1);
    if (af == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ai->ai_addr;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        dnsmap_addr6(a, &s6->sin6_addr);
        ai->ai_addrlen = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ai->ai_addr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        s4->sin_addr.s_addr = htonl(a);
        ai->ai_addrlen = sizeof *s4;
    }
    if (flags & AI_CANONNAME) {
        ai->ai_canonname = strdup(low);
        if (!ai->ai_canonname) {
            free(ai);
            return EAI_MEMORY;
        }
    }
    *res = ai;
    errno = saved;
    return 0;
}

/* Fill a hostent in buf (the _r functions' layout): name, no aliases, one address. */
static int fill_hostent(const char *name, int af, uint32_t a, struct hostent *he, char *buf,
                        size_t len)
{
    size_t nl = strlen(name) + 1, al = af == AF_INET6 ? 16 : 4;
    size_t need = nl + al + 4 * sizeof(char *) + 16;
    if (len < need)
        return ERANGE;
    char *p = buf;
    uintptr_t mis = (uintptr_t)p % sizeof(char *);
    if (mis)
        p += sizeof(char *) - mis;
    char **ptrs = (char **)p; /* aliases[0], addr_list[0], addr_list[1] */
    p += 3 * sizeof(char *);
    char *addr = p;
    p += al;
    char *nm = p;
    memcpy(nm, name, nl);
    if (af == AF_INET6) {
        struct in6_addr a6;
        dnsmap_addr6(a, &a6);
        memcpy(addr, &a6, 16);
    } else {
        uint32_t be = htonl(a);
        memcpy(addr, &be, 4);
    }
    ptrs[0] = NULL;
    ptrs[1] = addr;
    ptrs[2] = NULL;
    he->h_name = nm;
    he->h_aliases = &ptrs[0];
    he->h_addrtype = af;
    he->h_length = (int)al;
    he->h_addr_list = &ptrs[1];
    return 0;
}

static __thread struct hostent tls_he;
static __thread char tls_buf[512];

static struct hostent *by_name(const char *what, const char *name, int af)
{
    char low[DNSMAP_NAME_MAX + 1];
    const char *why = NULL;
    if (way(name, low, sizeof low, &why) == DNS_REFUSE) {
        refuse_name(what, name, why);
        h_errno = HOST_NOT_FOUND;
        return NULL;
    }
    uint32_t a = assign(what, low, af);
    if (!a || fill_hostent(low, af, a, &tls_he, tls_buf, sizeof tls_buf) != 0) {
        h_errno = NO_RECOVERY;
        return NULL;
    }
    return &tls_he;
}

EXPORT struct hostent *HOOK(gethostbyname)(const char *name)
{
    char low[DNSMAP_NAME_MAX + 1];
    const char *why;
    if (way(name, low, sizeof low, &why) == DNS_REAL)
        return REAL(gethostbyname)(name);
    return by_name("gethostbyname", name, AF_INET);
}

EXPORT struct hostent *HOOK(gethostbyname2)(const char *name, int af)
{
    char low[DNSMAP_NAME_MAX + 1];
    const char *why;
    if (way(name, low, sizeof low, &why) == DNS_REAL || (af != AF_INET && af != AF_INET6))
        return REAL(gethostbyname2)(name, af);
    return by_name("gethostbyname2", name, af);
}

static int by_name_r(const char *what, const char *name, int af, struct hostent *ret, char *buf,
                     size_t len, struct hostent **result, int *herr)
{
    char low[DNSMAP_NAME_MAX + 1];
    const char *why = NULL;
    *result = NULL;
    if (way(name, low, sizeof low, &why) == DNS_REFUSE) {
        refuse_name(what, name, why);
        *herr = HOST_NOT_FOUND;
        return 0; /* as glibc: no error, no result */
    }
    uint32_t a = assign(what, low, af);
    if (!a) {
        *herr = NO_RECOVERY;
        return EAGAIN;
    }
    int rc = fill_hostent(low, af, a, ret, buf, len);
    if (rc != 0) {
        *herr = NETDB_INTERNAL;
        return rc;
    }
    *result = ret;
    return 0;
}

EXPORT int HOOK(gethostbyname_r)(const char *name, struct hostent *ret, char *buf, size_t len,
                                 struct hostent **result, int *herr)
{
    char low[DNSMAP_NAME_MAX + 1];
    const char *why;
    if (way(name, low, sizeof low, &why) == DNS_REAL)
        return REAL(gethostbyname_r)(name, ret, buf, len, result, herr);
    return by_name_r("gethostbyname_r", name, AF_INET, ret, buf, len, result, herr);
}

EXPORT int HOOK(gethostbyname2_r)(const char *name, int af, struct hostent *ret, char *buf,
                                  size_t len, struct hostent **result, int *herr)
{
    char low[DNSMAP_NAME_MAX + 1];
    const char *why;
    if (way(name, low, sizeof low, &why) == DNS_REAL || (af != AF_INET && af != AF_INET6))
        return REAL(gethostbyname2_r)(name, af, ret, buf, len, result, herr);
    return by_name_r("gethostbyname2_r", name, af, ret, buf, len, result, herr);
}

EXPORT int HOOK(getnameinfo)(const struct sockaddr *sa, socklen_t salen, char *host,
                             socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
    const char *name = NULL;
    if (atomic_load(&shim.active) && sa && host && hostlen && !(flags & NI_NUMERICHOST))
        name = dnsmap_lookup_sa(sa, salen);
    if (!name)
        return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    size_t n = strlen(name);
    if (n >= hostlen)
        return EAI_OVERFLOW;
    memcpy(host, name, n + 1);
    if (serv && servlen)
        return REAL(getnameinfo)(sa, salen, NULL, 0, serv, servlen, flags);
    return 0;
}
