/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress decisions for the CONNECT tunnel: is host:port on the agent's
 * sandbox.network.allow, and is an address the name resolved to one the tunnel may reach.
 * The host is judged as the program named it: a name as that name, an IP literal as that
 * address (every spelling of one address is the same literal: "::1" and "0:0::1",
 * "127.0.0.1" and "::ffff:127.0.0.1"). One exception: an entry "localhost" also admits the
 * literals 127.0.0.1 and ::1, because programs such as curl (7.78 and later) turn localhost
 * into those addresses themselves before they connect. Loopback, link-local, cloud metadata
 * and unspecified addresses (and the IPv6 forms that carry such an IPv4 address) are refused
 * unless the policy names that exact IP literal, or "localhost" for loopback: a name that
 * merely resolves there is how SSRF and DNS rebinding reach internal services.
 */
#ifndef CORDON_SERVER_EGRESS_H
#define CORDON_SERVER_EGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct policy;
struct policy_endpoint;

/*
 * The allow entry matching host (lowercased by the caller; IPv6 without brackets) and port,
 * or NULL: the first entry that names host itself (a wildcard never matches an IP literal),
 * else the first "localhost" entry when host is 127.0.0.1 or ::1.
 */
const struct policy_endpoint *egress_match(const struct policy *p, const char *host, uint16_t port);

/* 1 when host is the IP literal 127.0.0.1 or ::1 (in any spelling). */
int egress_is_localhost_literal(const char *host);

/*
 * For a refused loopback destination (localhost, 127.0.0.1, ::1): when the policy names
 * another of the three on that port, words that say so and what to write, starting with a
 * space, into out (cap bytes); else out is "".
 */
void egress_hint(const struct policy *p, const char *host, uint16_t port, char *out, size_t cap);

/*
 * Classify an address: NULL when it is an ordinary destination, else the name of the class
 * ("loopback", "link-local", "metadata", "unspecified"). Metadata wins over link-local.
 */
const char *egress_addr_class(const struct sockaddr *sa);

/*
 * May the tunnel connect to sa, reached by resolving host under rule? 1 yes, 0 no. A special
 * address is allowed only when the rule is not a wildcard and names host (as egress_match
 * reads it), and host is an IP literal, or "localhost" and the address is loopback.
 */
int egress_addr_allowed(const struct policy_endpoint *rule, const char *host,
                        const struct sockaddr *sa);

#endif
