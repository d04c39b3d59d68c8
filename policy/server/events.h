/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event intake (docs/PROTOCOL.md "Event channel"): a SOCK_SEQPACKET unix socket where each
 * shim sends a hello binding the connection to an agent key and session, then one JSON event
 * per message. One epoll thread serves every connection: messages are small and handling one
 * is a parse and a non-blocking audit append, so a single thread keeps per-agent rate-limit
 * state free of locks.
 */
#ifndef CORDON_SERVER_EVENTS_H
#define CORDON_SERVER_EVENTS_H

#include <stddef.h>

struct srv;
struct events;

#define EVENTS_MAX_MESSAGE 4096
#define EVENTS_MAX_CONNECTIONS 4096

/* Listen on path (an existing socket file is replaced) and serve. Returns 0, or a negative
 * errno with err set. */
__attribute__((warn_unused_result)) int events_start(struct srv *s, const char *path,
                                                     struct events **out, char *err, size_t errlen);
void events_stop(struct events *e);

#endif
