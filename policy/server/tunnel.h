/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The egress tunnel: HTTP CONNECT on its own listener (docs/PROTOCOL.md "Egress tunnel").
 * libmicrohttpd cannot hand a CONNECT connection over as a raw byte stream, so the tunnel has
 * a small server of its own.
 *
 * Threading: one thread per tunnel, bounded by max_tunnels. A tunnel is long-lived and
 * mostly waits; a thread with its own poll() loop keeps the relay, half-close and accounting
 * code short enough to audit, and the bound keeps memory predictable (small stacks). The
 * bytes move through a pipe per direction with splice(2), not through user space
 * (docs/INTERNALS.md "The tunnel's relay"; bench/bench_tunnel.sh measures it against a direct
 * connection).
 */
#ifndef CORDON_SERVER_TUNNEL_H
#define CORDON_SERVER_TUNNEL_H

#include <stddef.h>

struct srv;
struct tunnel;

#define TUNNEL_MAX_HEADER 8192 /* request line + headers */

/* Serve CONNECT on fd (bound, listening). Returns 0, or a negative errno with err set. */
__attribute__((warn_unused_result)) int tunnel_start(struct srv *s, int fd, struct tunnel **out,
                                                     char *err, size_t errlen);
/* Stop accepting and wait up to 3 seconds for open tunnels to end; returns how many are still
 * open (their threads keep running until the process exits). */
size_t tunnel_stop(struct tunnel *t);

#endif
