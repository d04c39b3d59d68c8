/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress allowlist matching and address classification for the tunnel (see egress.h).
 */
#include "policy/server/egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "policy/policy.h"

const struct policy_endpoint *egress_match(const struct policy *p, const char *host,
                                           uint16_t port)
{
    for (size_t i = 0; i < p->sandbox.net.n_allow; i++) {
        const struct policy_endpoint *e = &p->sandbox.net.allow[i];
        if (e->port != 0 && e->port != port)
            continue;
        if (e->wildcard) {
            /* "*.github.com": a name strictly beneath the suffix, never the suffix itself. */
            size_t hl = strlen(host), sl = strlen(e->host + 1);
            if (hl > sl && host[0] != '.' && policy_glob_match(e->host, host))
                return e;
        } else if (strcmp(e->host, host) == 0) {
            return e;
        }
    }
    return NULL;
}

static const char *v4_class(uint32_t a)
{
    if (a == 0xA9FEA9FEu || a == 0x646464C8u) /* 169.254.169.254, 100.100.100.200 */
        return "metadata";
    if ((a >> 24) == 127)
        return "loopback";
    if ((a >> 16) == 0xA9FE)
        return "link-local";
    if ((a >> 24) == 0)
        return "unspecified";
    return NULL;
}

const char *egress_addr_class(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_class(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return "unspecified";
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    static const unsigned char ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0x02, 0x54};
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    /* IPv6 forms that carry an IPv4 address a gateway on the path may reach: mapped and
     * compatible (::ffff:a.b.c.d, ::a.b.c.d), the NAT64 well-known prefix 64:ff9b::/96
     * (RFC 6052) and 6to4 2002:AABB:CCDD::/48 (RFC 3056). Each is judged as that IPv4. */
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a) || memcmp(a->s6_addr, nat64, 12) == 0) {
        uint32_t v4;
        memcpy(&v4, &a->s6_addr[12], 4);
        return v4_class(ntohl(v4));
    }
    if (a->s6_addr[0] == 0x20 && a->s6_addr[1] == 0x02) {
        uint32_t v4;
        memcpy(&v4, &a->s6_addr[2], 4);
        const char *c = v4_class(ntohl(v4));
        if (c)
            return c;
    }
    if (memcmp(a->s6_addr, ec2, 16) == 0)
        return "metadata";
    if (IN6_IS_ADDR_LOOPBACK(a))
        return "loopback";
    if (IN6_IS_ADDR_UNSPECIFIED(a))
        return "unspecified";
    if (IN6_IS_ADDR_LINKLOCAL(a))
        return "link-local";
    return NULL;
}

int egress_addr_allowed(const struct policy_endpoint *rule, const char *host,
                        const struct sockaddr *sa)
{
    const char *cls = egress_addr_class(sa);
    if (!cls)
        return 1;
    if (rule->wildcard || strcmp(rule->host, host) != 0)
        return 0;
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
        return 1; /* the policy names this very address */
    return strcmp(host, "localhost") == 0 && strcmp(cls, "loopback") == 0;
}
