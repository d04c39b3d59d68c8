/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress decisions for the CONNECT tunnel: is host:port on the agent's
 * sandbox.network.allow, and is an address the name resolved to one the tunnel may reach.
 * Loopback, link-local, cloud metadata and unspecified addresses (and their IPv4-mapped IPv6
 * forms) are refused unless the policy names that exact IP literal, or "localhost" for
 * loopback: a name that merely resolves there is how SSRF and DNS rebinding reach internal
 * services.
 */
#ifndef CORDON_SERVER_EGRESS_H
#define CORDON_SERVER_EGRESS_H

#include <stdint.h>
#include <sys/socket.h>

struct policy;
struct policy_endpoint;

/* The first allow entry matching host (lowercased by the caller) and port, or NULL. */
const struct policy_endpoint *egress_match(const struct policy *p, const char *host,
                                           uint16_t port);

/*
 * Classify an address: NULL when it is an ordinary destination, else the name of the class
 * ("loopback", "link-local", "metadata", "unspecified"). Metadata wins over link-local.
 */
const char *egress_addr_class(const struct sockaddr *sa);

/*
 * May the tunnel connect to sa, reached by resolving host under rule? 1 yes, 0 no. A special
 * address is allowed only when the rule is not a wildcard and names host exactly, and host is
 * an IP literal, or "localhost" and the address is loopback.
 */
int egress_addr_allowed(const struct policy_endpoint *rule, const char *host,
                        const struct sockaddr *sa);

#endif
