/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The name map of network mode "proxy": getaddrinfo() and friends answer with a placeholder
 * address from 198.18.0.0/15 (RFC 2544's benchmarking block, never routed to the Internet),
 * and connect() maps the placeholder back to the name so that the CONNECT request, and the
 * policy, see the host name and not an address. The table lives in a MAP_SHARED memfd made
 * by the root, inherited by fork (shared memory) and by exec (CORDON_DNS_FD), so a child
 * resolves a name and another process of the tree can connect to it.
 *
 * Lock-free: a slot is claimed with an atomic counter and published with a release store, so
 * a hook in a signal handler or a vfork child cannot deadlock on it.
 */
#ifndef CORDON_SHIM_DNSMAP_H
#define CORDON_SHIM_DNSMAP_H

#include <stddef.h>
#include <stdint.h>

#define DNSMAP_SLOTS 4096
#define DNSMAP_NAME_MAX 254
#define DNSMAP_BASE 0xC6120000u /* 198.18.0.0; slot i is 198.18.0.0 + 1 + i */

/* Create a new table in a memfd (not close-on-exec); returns the fd or -errno. */
int dnsmap_create(void);
/* Map an inherited table fd. 0 or -errno. */
int dnsmap_attach(int fd);
/* Use caller-provided memory of dnsmap_size() bytes (unit tests). */
void dnsmap_use(void *mem);
size_t dnsmap_size(void);

/* The placeholder IPv4 address (host order) for name (lowercased), adding it if new; 0 when
 * the table is full or not attached. */
uint32_t dnsmap_assign(const char *name);
/* The name behind a placeholder (host order), or NULL. */
const char *dnsmap_lookup(uint32_t addr);
/* 1 when addr (host order) lies in 198.18.0.0/15. */
int dnsmap_is_placeholder(uint32_t addr);

#endif
