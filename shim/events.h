/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event channel to cordond (docs/PROTOCOL.md, "Event channel"): one JSON object per
 * SOCK_SEQPACKET message, sent without waiting. Everything here may run inside a hook: no
 * malloc, no stdio, no locks; messages are built in stack buffers, and a message that cannot
 * be sent at once is counted as dropped (an atomic counter) and reported later.
 */
#ifndef CORDON_SHIM_EVENTS_H
#define CORDON_SHIM_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/jbuf.h"

#define EVENTS_MAX_MSG 4096
#define EVENTS_MAX_PATH 1024
#define EVENTS_MAX_ARGV 2048

/* Use fd (already connected, hello sent) for events; -1 disables the channel. */
void events_set_fd(int fd);
int events_fd(void);

/* Send one message as it is; on failure the message is counted as dropped. Returns 0,
 * -EBADF when there is no channel, -EMSGSIZE when it went out short, or send's -errno. */
int events_send(const char *msg, size_t len);

/*
 * Send {"type":"event","kind":K,"decision":D,"pid":P,"ts":T,"detail":DETAIL}; detail is a
 * JSON object text (NULL: {}). When earlier messages were dropped, an events.dropped event
 * with their count goes first.
 */
void events_emit(const char *kind, const char *decision, const char *detail);

/* Messages this process could not send so far. */
uint64_t events_dropped(void);

/* Report the drops not yet reported (at exit). */
void events_flush_dropped(void);

#endif
