/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An incremental, bounded parser of server-sent events (the WHATWG "event stream"
 * interpretation): lines end in CR, LF or CRLF; a line starting with ':' is a comment; a
 * field is "name: value" (one leading space of the value dropped) or a bare name; data lines
 * join with "\n"; a blank line ends the block. Bytes may arrive in any split.
 *
 * Each block is handed over with its raw bytes, terminators included, so that a proxy that
 * leaves an event alone forwards exactly the bytes it received: the raw bytes of all blocks,
 * plus what sse_finish() hands over, are the input, in order. A block whose data is empty
 * (comments, keep-alives, a lone "event:" line) is not an event by the standard; it still
 * comes out, with dispatch 0, so that its bytes can be forwarded.
 *
 * Bounds: a line over max_line bytes, or a block over 4 * max_line, is an error, and the
 * parser refuses every later byte; nothing grows without limit.
 */
#ifndef CORDON_POLICY_ENGINE_SSE_H
#define CORDON_POLICY_ENGINE_SSE_H

#include <stddef.h>

struct sse_event {
    const char *raw; /* the block's bytes as received */
    size_t raw_len;
    int dispatch;      /* 1: an event (data was given); 0: comments or empty fields only */
    const char *event; /* the event type: "message" when none was given */
    size_t event_len;
    const char *data; /* the data lines joined with "\n", NUL-terminated */
    size_t data_len;
    const char *id; /* the last event id so far (persists across events), "" when none */
    size_t id_len;
    long retry;   /* the last valid retry field, -1 when none */
    int complete; /* 0 for the tail sse_finish() hands over without its blank line:
                     the standard discards it, but some clients (openai-node) still
                     read its data, so a proxy must judge it like any event */
};

struct sse_parser;

/* A parser with max_line bytes per line (0: 1 MiB). Returns 0 and *out, or -ENOMEM. */
__attribute__((warn_unused_result)) int sse_new(size_t max_line, struct sse_parser **out);
void sse_free(struct sse_parser *p);

typedef int (*sse_block_fn)(void *ud, const struct sse_event *ev);

/* Feed len bytes. Calls cb for each block completed; returns 0, cb's nonzero value (and stops
 * there, the rest unread), ENGINE_ERR_SSE_LINE, ENGINE_ERR_SSE_EVENT, or -ENOMEM. After an
 * error every later call returns the same error. */
__attribute__((warn_unused_result)) int sse_feed(struct sse_parser *p, const char *buf, size_t len,
                                                 sse_block_fn cb, void *ud);

/* The stream ended. A pending line is taken as ended; a block without its blank line is
 * handed over with complete 0 (dispatch 1 when it holds data), so its
 * bytes can still be judged and forwarded or dropped. Returns as sse_feed(). */
__attribute__((warn_unused_result)) int sse_finish(struct sse_parser *p, sse_block_fn cb, void *ud);

#endif
