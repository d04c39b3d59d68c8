/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The name map of network mode "proxy": getaddrinfo() and friends answer with a placeholder
 * address, and connect() maps the placeholder back to the name so that the CONNECT request,
 * and the policy, see the host name the program used and not an address. Each name has one
 * slot and two placeholders: 198.18.0.0 + 1 + slot in 198.18.0.0/15 (RFC 2544's
 * benchmarking block) and 2001:2::198.18.0.0 + 1 + slot in 2001:2::/48 (RFC 5180's), so an
 * IPv4 and an IPv6 socket reach the same name; neither block is routed to the Internet.
 * The IPv4-mapped form (::ffff:198.18.x.y) maps back too. The table lives in a MAP_SHARED
 * memfd made by the root, inherited by fork (shared memory) and by exec (CORDON_DNS_FD), so
 * a child resolves a name and another process of the tree can connect to it.
 *
 * Lock-free: a slot is claimed with an atomic counter and published with a release store, so
 * a hook in a signal handler or a vfork child cannot deadlock on it. Nothing here allocates.
 */
#ifndef CORDON_SHIM_DNSMAP_H
#define CORDON_SHIM_DNSMAP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DNSMAP_SLOTS 4096
#define DNSMAP_NAME_MAX 253     /* a DNS name without its trailing dot */
#define DNSMAP_BASE 0xC6120000u /* 198.18.0.0; slot i is 198.18.0.0 + 1 + i */
/* The first 12 bytes of an IPv6 placeholder: 2001:2::/96; the last 4 are the IPv4 one. */
#define DNSMAP_PREFIX6                                                                             \
    {                                                                                              \
        0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0                                             \
    }

/* Create a new table in a memfd (not close-on-exec); returns the fd or -errno. */
int dnsmap_create(void);
/* Map an inherited table fd. 0 or -errno. */
int dnsmap_attach(int fd);
/* Use caller-provided memory of dnsmap_size() bytes (unit tests). */
void dnsmap_use(void *mem);
size_t dnsmap_size(void);

/*
 * Is name a host name the tunnel can carry? Letters, digits, '-', '_' and '.', 1 to 253
 * characters once one trailing dot is dropped ("crm.internal." is "crm.internal"), no empty
 * label. On success writes the lowercased name to out (cap >= DNSMAP_NAME_MAX + 1) and
 * returns 0; otherwise returns -EINVAL and points why (if not NULL) at words for a person.
 * An IP literal passes this check only when it is made of those characters (an IPv4
 * literal): callers test for literals first.
 */
int dnsmap_name_check(const char *name, char *out, size_t cap, const char **why);

/* Is s an IP literal as the policy writes one: dotted-quad IPv4 (inet_pton), or IPv6 with
 * an optional "%scope"? "127.1" and "0x7f000001" are not: they are names. */
int dnsmap_is_literal(const char *s);

/* The placeholder IPv4 address (host order) for name (checked with dnsmap_name_check and
 * lowercased), adding it if new; 0 when the name is refused or the table is full
 * (dnsmap_full()). A process that attached no table gets a private one on first use,
 * shared with its forks only. */
uint32_t dnsmap_assign(const char *name);
/* 1 when every slot is taken. */
int dnsmap_full(void);
/* The name behind an IPv4 placeholder (host order), or NULL. */
const char *dnsmap_lookup(uint32_t addr);
/* The IPv6 placeholder of an IPv4 one (host order). */
void dnsmap_addr6(uint32_t addr, struct in6_addr *out);
/* The name behind an inet address: an IPv4 placeholder, its IPv4-mapped form, or an IPv6
 * placeholder; NULL for anything else (and for a short len). */
const char *dnsmap_lookup_sa(const struct sockaddr *sa, socklen_t len);
/* 1 when addr (host order) lies in 198.18.0.0/15. */
int dnsmap_is_placeholder(uint32_t addr);

/*
 * The host to put in a CONNECT request for a destination address, and its port: the name
 * behind a placeholder; a.b.c.d for IPv4 and IPv4-mapped IPv6; [IPv6] in brackets. Returns
 * 0, or -EINVAL for a family other than inet, a short len, or a name in the (shared, so
 * writable by any process of the tree) map that dnsmap_name_check refuses. *named is 1 when
 * the host came from the map. v4 receives the IPv4 address (host order) for IPv4 and
 * IPv4-mapped destinations, 0 otherwise.
 */
int dnsmap_target(const struct sockaddr *sa, socklen_t len, char *host, size_t hl, uint16_t *port,
                  int *named, uint32_t *v4);

#endif
