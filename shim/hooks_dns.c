/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name resolution hooks for network mode "proxy". The sandbox refuses UDP, so the agent
 * cannot ask a DNS server anything; instead each name gets a placeholder address from the
 * shared map (shim/dnsmap.c) and the connect hook hands the name to cordond, which resolves
 * it itself. Numeric hosts, "localhost" and cordond's own host name are resolved for real.
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

/* Should this name get a placeholder? */
static int mapped(const char *name)
{
    if (!atomic_load(&shim.active) || shim.net != POLICY_NET_PROXY || !name || !*name)
        return 0;
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1)
        return 0;
    size_t n = strlen(name);
    if (strcasecmp(name, "localhost") == 0 ||
        (n > 10 && strcasecmp(name + n - 10, ".localhost") == 0) ||
        (shim.server_host[0] && strcasecmp(name, shim.server_host) == 0))
        return 0;
    return n <= DNSMAP_NAME_MAX;
}

static uint32_t assign(const char *name)
{
    uint32_t a = dnsmap_assign(name);
    if (a) {
        char mem[600], ip[16];
        struct in_addr ia = {htonl(a)};
        inet_ntop(AF_INET, &ia, ip, sizeof ip);
        struct jbuf b;
        jb_init(&b, mem, sizeof mem);
        jb_raw(&b, "{\"host\":");
        jb_str(&b, name, 300);
        jb_raw(&b, ",\"placeholder\":");
        jb_str(&b, ip, 0);
        jb_raw(&b, "}");
        events_emit("net.dns", "allow", mem);
    }
    return a;
}

EXPORT int HOOK(getaddrinfo)(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    int family = hints ? hints->ai_family : AF_UNSPEC;
    if (!mapped(node) || (hints && (hints->ai_flags & AI_NUMERICHOST)) ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return REAL(getaddrinfo)(node, service, hints, res);
    int saved = errno;
    uint16_t port = 0;
    if (service && *service) {
        char *end;
        long v = strtol(service, &end, 10);
        if (!*end && v >= 0 && v <= 65535) {
            port = (uint16_t)v;
        } else {
            /* A service name: let glibc look it up against a numeric host. */
            struct addrinfo h = {.ai_flags = AI_NUMERICHOST,
                                 .ai_family = AF_INET,
                                 .ai_socktype = hints ? hints->ai_socktype : 0};
            struct addrinfo *r = NULL;
            int g = REAL(getaddrinfo)("127.0.0.1", service, &h, &r);
            if (g != 0)
                return g;
            port = ntohs(((struct sockaddr_in *)r->ai_addr)->sin_port);
            freeaddrinfo(r);
        }
    }
    uint32_t a = assign(node);
    if (!a)
        return EAI_AGAIN; /* the map is full (4096 names in this tree) */
    int socktype = hints && hints->ai_socktype ? hints->ai_socktype : SOCK_STREAM;
    int proto = hints && hints->ai_protocol ? hints->ai_protocol
                : socktype == SOCK_DGRAM    ? IPPROTO_UDP
                                            : IPPROTO_TCP;
    size_t alen = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in6));
    if (!ai)
        return EAI_MEMORY;
    ai->ai_family = family == AF_INET6 ? AF_INET6 : AF_INET;
    ai->ai_socktype = socktype;
    ai->ai_protocol = proto;
    ai->ai_addrlen = (socklen_t)alen;
    ai->ai_addr = (struct sockaddr *)(ai + 1);
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ai->ai_addr;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
        uint32_t be = htonl(a);
        memcpy(&s6->sin6_addr.s6_addr[12], &be, 4);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ai->ai_addr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        s4->sin_addr.s_addr = htonl(a);
    }
    if (hints && (hints->ai_flags & AI_CANONNAME)) {
        ai->ai_canonname = strdup(node);
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
        memset(addr, 0, 16);
        addr[10] = addr[11] = (char)0xff;
        uint32_t be = htonl(a);
        memcpy(addr + 12, &be, 4);
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

static struct hostent *by_name(const char *name, int af)
{
    uint32_t a = assign(name);
    if (!a || fill_hostent(name, af, a, &tls_he, tls_buf, sizeof tls_buf) != 0) {
        h_errno = TRY_AGAIN;
        return NULL;
    }
    return &tls_he;
}

EXPORT struct hostent *HOOK(gethostbyname)(const char *name)
{
    if (!mapped(name))
        return REAL(gethostbyname)(name);
    return by_name(name, AF_INET);
}

EXPORT struct hostent *HOOK(gethostbyname2)(const char *name, int af)
{
    if (!mapped(name) || (af != AF_INET && af != AF_INET6))
        return REAL(gethostbyname2)(name, af);
    return by_name(name, af);
}

static int by_name_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
                     struct hostent **result, int *herr)
{
    uint32_t a = assign(name);
    *result = NULL;
    if (!a) {
        *herr = TRY_AGAIN;
        return EAGAIN;
    }
    int rc = fill_hostent(name, af, a, ret, buf, len);
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
    if (!mapped(name))
        return REAL(gethostbyname_r)(name, ret, buf, len, result, herr);
    return by_name_r(name, AF_INET, ret, buf, len, result, herr);
}

EXPORT int HOOK(gethostbyname2_r)(const char *name, int af, struct hostent *ret, char *buf, size_t len,
                            struct hostent **result, int *herr)
{
    if (!mapped(name) || (af != AF_INET && af != AF_INET6))
        return REAL(gethostbyname2_r)(name, af, ret, buf, len, result, herr);
    return by_name_r(name, af, ret, buf, len, result, herr);
}

EXPORT int HOOK(getnameinfo)(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                       char *serv, socklen_t servlen, int flags)
{
    const char *name = NULL;
    if (atomic_load(&shim.active) && sa && host && hostlen && !(flags & NI_NUMERICHOST)) {
        if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in))
            name = dnsmap_lookup(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
        else if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
            const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
            if (IN6_IS_ADDR_V4MAPPED(a6)) {
                uint32_t v;
                memcpy(&v, &a6->s6_addr[12], 4);
                name = dnsmap_lookup(ntohl(v));
            }
        }
    }
    if (!name)
        return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    if (strlen(name) >= hostlen)
        return EAI_OVERFLOW;
    memcpy(host, name, strlen(name) + 1);
    if (serv && servlen)
        return REAL(getnameinfo)(sa, salen, NULL, 0, serv, servlen, flags);
    return 0;
}
