/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's HTTP front on libmicrohttpd: /v1/policy, /healthz, /metrics and the admin
 * endpoints (docs/PROTOCOL.md "Policy fetch" and "Admin endpoints").
 *
 * Threading: each listen socket gets one MHD daemon with an internal thread pool, every pool
 * thread running its own epoll loop over the shared listen socket (MHD_USE_INTERNAL_POLLING_
 * THREAD | MHD_USE_EPOLL + MHD_OPTION_THREAD_POOL_SIZE). A policy fetch costs a key HMAC and a
 * copy of an envelope signed in advance, so a few event-loop threads carry thousands of idle
 * keep-alive connections; the pool (rather than one loop) keeps one slow request, a
 * synchronous audit append or an admin reload that compiles regular expressions, from
 * stalling every other client. A thread per connection would spend memory on idle pollers.
 */
#ifndef CORDON_SERVER_HTTP_H
#define CORDON_SERVER_HTTP_H

#include <stddef.h>

struct srv;
struct http;

#define HTTP_MAX_BODY (8u << 20) /* a policy push; other endpoints allow 64 KiB */
#define HTTP_MAX_SMALL_BODY (64u << 10)
/* Per connection, libmicrohttpd's memory pool: the request line and headers must fit (431
 * beyond), and it is also the write buffer of a streamed (chunked) answer. 16 KiB is the
 * request-head limit of Node.js's HTTP server; every open stream holds one. */
#define HTTP_MEMORY_LIMIT (16u << 10)

/*
 * Start one daemon per listen socket (already bound and listening), and one for admin_fd
 * (the admin_listen socket, or -1 when the admin endpoints are off). The listen sockets serve
 * the policy fetch, /healthz and /metrics and answer the admin paths with 404; the admin
 * socket serves the admin paths alone, to peers outside every sandbox (peer.h). Returns 0, or a
 * negative errno with err set.
 */
__attribute__((warn_unused_result)) int http_start(struct srv *s, const int *fds, size_t n,
                                                   int admin_fd, struct http **out, char *err,
                                                   size_t errlen);
void http_stop(struct http *h);

#endif
