/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress allowlist matching and address classification for the tunnel (see egress.h).
 */
#include "base/glob.h"
#include "policy/server/egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

/* An IP literal as 16 bytes: IPv6 as it is, IPv4 (and IPv4-mapped IPv6) as ::ffff:a.b.c.d,
 * so that every spelling of one address compares equal. 1 when s is a literal. */
static int literal(const char *s, unsigned char out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 1;
    }
    return inet_pton(AF_INET6, s, out) == 1;
}

/* Does a rule's host name host? Names compare as text (both lowercase), IP literals as
 * addresses. */
static int same_host(const char *rule_host, const char *host)
{
    unsigned char a[16], b[16];
    if (literal(rule_host, a))
        return literal(host, b) && memcmp(a, b, 16) == 0;
    return strcmp(rule_host, host) == 0;
}

int egress_is_localhost_literal(const char *host)
{
    static const unsigned char v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    unsigned char a[16];
    return literal(host, a) && (memcmp(a, v4, 16) == 0 || memcmp(a, &in6addr_loopback, 16) == 0);
}

/* A rule "localhost" also admits the two loopback literals localhost stands for. */
static int rule_admits(const struct policy_endpoint *e, const char *host)
{
    if (e->wildcard)
        return 0;
    if (same_host(e->host, host))
        return 1;
    return strcmp(e->host, "localhost") == 0 && egress_is_localhost_literal(host);
}

const struct policy_endpoint *egress_match(const struct policy *p, const char *host, uint16_t port)
{
    const struct policy_endpoint *localhost = NULL;
    unsigned char lit[16];
    int is_lit = literal(host, lit);
    for (size_t i = 0; i < p->sandbox.net.n_allow; i++) {
        const struct policy_endpoint *e = &p->sandbox.net.allow[i];
        if (e->port != 0 && e->port != port)
            continue;
        if (e->wildcard) {
            if (is_lit)
                continue; /* "*.0.1" names names, never the address 10.0.0.1 */
            /* "*.git.example.com": a name strictly beneath the suffix, never the suffix itself. */
            size_t hl = strlen(host), sl = strlen(e->host + 1);
            if (hl > sl && host[0] != '.' && glob_match(e->host, host))
                return e;
        } else if (same_host(e->host, host)) {
            return e; /* the host as the program named it wins over the localhost rule */
        } else if (!localhost && rule_admits(e, host)) {
            localhost = e;
        }
    }
    return localhost;
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
    static const unsigned char ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0,    0,
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
    if (!rule_admits(rule, host))
        return 0;
    unsigned char buf[16];
    if (literal(host, buf))
        return 1; /* the policy names this very address (or localhost names it) */
    return strcmp(host, "localhost") == 0 && strcmp(cls, "loopback") == 0;
}

void egress_hint(const struct policy *p, const char *host, uint16_t port, char *out, size_t cap)
{
    out[0] = '\0';
    int loopish = strcmp(host, "localhost") == 0 || egress_is_localhost_literal(host);
    for (size_t i = 0; loopish && i < p->sandbox.net.n_allow; i++) {
        const struct policy_endpoint *e = &p->sandbox.net.allow[i];
        if ((e->port != 0 && e->port != port) || e->wildcard ||
            !(strcmp(e->host, "localhost") == 0 || egress_is_localhost_literal(e->host)))
            continue;
        snprintf(out, cap,
                 " (the policy has %s: a destination is judged as the program named it, so "
                 "localhost, 127.0.0.1 and [::1] are separate entries; \"localhost:PORT\" "
                 "admits all three)",
                 e->raw);
        return;
    }
}
