/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model proxy's client side: every call to a model provider goes through one libcurl
 * multi handle driven by one thread of its own (the upstream loop). Connections are reused
 * from the multi's cache, HTTP/2 is used when the server offers it over TLS, TLS is verified,
 * and easy handles are kept for reuse, so a call costs no thread and no new connection.
 *
 * Data moves without a copy of the whole body: the request body is sent from the caller's
 * buffer, and response bytes are appended by the write callback to a bounded per-call queue
 * that the consumer (an MHD request thread) drains. When the queue is over its bound the
 * transfer is paused (CURL_WRITEFUNC_PAUSE); the consumer's read that makes room asks the
 * loop (curl_multi_wakeup) to resume it. A consumer that finds nothing to read parks itself
 * (the proxy suspends its MHD connection) and the loop calls wake once when bytes or the end
 * arrive; both happen under the call's lock, so a wakeup is never lost.
 */
#ifndef CORDON_SERVER_UPSTREAM_H
#define CORDON_SERVER_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct upstream_loop;
struct up_call;

struct upstream_timeouts {
    unsigned connect_ms, first_byte_ms, idle_ms;
};

#define UPSTREAM_QUEUE_BOUND (64u << 10) /* queued response bytes before the transfer pauses */
#define UPSTREAM_MAX_HEADERS 8

struct up_request {
    const char *url;
    const char *headers[UPSTREAM_MAX_HEADERS]; /* "Name: value", NULL-terminated; copied */
    const char *body;    /* borrowed until the call is released; NULL for a GET */
    const char *ca_file; /* the CAs to verify the upstream with, NULL: the system store;
                            borrowed until the call is released */
    size_t len;
    void (*wake)(void *ud); /* from the loop thread, under the call's lock, after a park */
    void *ud;
};

/* How a call ended, once it has. */
enum up_state { UP_RUNNING, UP_DONE, UP_FAILED, UP_TIMEOUT };

__attribute__((warn_unused_result)) int upstream_loop_start(const struct upstream_timeouts *t,
                                                            struct upstream_loop **out, char *err,
                                                            size_t errlen);
void upstream_loop_stop(struct upstream_loop *l);

/* Start a call. Returns 0 and *out, or a negative errno. */
__attribute__((warn_unused_result)) int
upstream_call(struct upstream_loop *l, const struct up_request *rq, struct up_call **out);

/*
 * Take up to max queued bytes. Returns the count; 0 with *state UP_RUNNING means nothing yet:
 * park(ud) was then called under the call's lock (when park is not NULL) and wake will
 * follow. With max 0 it only peeks at the status, parking while that is unknown. *status is the
 * upstream's HTTP status once known (0 before the first byte).
 */
size_t upstream_read(struct up_call *c, char *buf, size_t max, enum up_state *state, long *status,
                     void (*park)(void *ud), void *ud);

/*
 * For a consumer that gathers a whole answer: the queue itself (malloc'ed, *len bytes and a
 * NUL; the caller frees it) instead of a copy, once the transfer has ended (*state is then
 * final and nothing is left behind) or the queue is half its bound. NULL otherwise: park(ud)
 * was then called under the call's lock (when park is not NULL and the call runs on), and
 * wake will follow.
 */
char *upstream_take(struct up_call *c, size_t *len, enum up_state *state, long *status,
                    void (*park)(void *ud), void *ud);

/* The failure text of a UP_FAILED / UP_TIMEOUT call ("connect: Connection refused"). */
const char *upstream_error(const struct up_call *c);

/*
 * Give the call to the loop after the client went away: the rest of the response is handed
 * to feed(ud, ...) from the loop thread, at most max_bytes of it and for at most max_ms, then
 * end(ud, state) runs there once and the call is freed. Queued bytes are fed first.
 */
void upstream_detach(struct up_call *c, void (*feed)(void *ud, const char *buf, size_t len),
                     void (*end)(void *ud, enum up_state st), void *ud, size_t max_bytes,
                     unsigned max_ms);

/* Wake a consumer parked in upstream_read() now, as new bytes would (its reader then finds
 * none and may park again): for a stream that must look at something else at once. */
void upstream_nudge(struct up_call *c);

/* Done with the call: a running transfer is cancelled. */
void upstream_release(struct up_call *c);

/* Counters for /metrics: calls started, failed, timed out. */
void upstream_stats(struct upstream_loop *l, uint64_t *calls, uint64_t *failed, uint64_t *timeouts);

#endif
