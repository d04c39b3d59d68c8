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

/*
 * A model call of agent was refused with 429 by a budget or rate (scope: its policy key,
 * "api.budget.session_tokens"; message: the refusal's text, which says what remains and when
 * it resets). The event thread of s tells each bound connection of the agent once per scope:
 * {"type":"refused","agent":A,"scope":S,"message":M} (docs/PROTOCOL.md "Event channel").
 * Safe from any thread; a full board drops the oldest. Without an intake it is a no-op.
 */
void events_refusal(struct srv *s, const char *agent, const char *scope, const char *message);

#endif
