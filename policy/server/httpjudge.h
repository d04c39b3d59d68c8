/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One connection to a host of sandbox.network.http, judged request by request: the tunnel
 * hands the judge what each side sent, and the judge says what goes where. A request its
 * rules allow goes to the origin and the origin's response comes back; a request they refuse
 * never reaches the origin, and the client gets a 403 that names the rule, in its turn among
 * pipelined requests, on a connection that stays usable. A request that cannot be read
 * safely (httpreq.h refuses it) gets its 4xx and the connection closes after it.
 *
 * No I/O, no threads: the caller (the tunnel's relay) owns the sockets, writes the two output
 * buffers out and stops feeding a side while its output is backed up. Messages are re-framed
 * as they pass (a chunked body is decoded by the parser and chunked again), so what the
 * origin receives is exactly what the judge read, whatever the client's framing tricks.
 *
 * Each request is recorded through conf.record once its exchange is over: method, normalized
 * path, the deciding rule, what enforce mode decides, whether it was forwarded, the status the
 * client got and the bytes each way. In observe mode (conf.observe) every request is
 * forwarded and the record says what enforce mode would have done.
 */
#ifndef CORDON_SERVER_HTTPJUDGE_H
#define CORDON_SERVER_HTTPJUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/engine/engine.h"
#include "policy/policy.h"
#include "policy/server/httprule.h"

/* Requests read but not yet answered; past it the judge takes no more of the client's bytes
 * until a response completes (httpjudge_from_client's *used). */
#define HTTPJUDGE_PIPELINE_MAX 64
/* Output held for one side past which the caller should stop reading the other side. */
#define HTTPJUDGE_OUT_HIGH (256u * 1024)
/* A scanned body whose values api.data rewrites may change length. A Content-Length message
 * is held, head and body, up to this many bytes, and goes out with its new length; past it
 * the rest streams chunked (or, to an HTTP/1.0 client, to the connection's close), and an
 * HTTP/1.0 request, which can be framed no other way, is refused. */
#define HTTPJUDGE_HOLD_MAX (256u * 1024)

/* One request's exchange, for the audit record (strings valid during the call only). */
struct httpjudge_rec {
    const char *method;
    const char *path;    /* normalized; the path as sent when it could not be normalized */
    const char *reason;  /* the verdict's sentence (httprule_verdict.reason) */
    int rule;            /* deciding rule's index in the entry, -1: the entry's default or none */
    int allowed;         /* what enforce mode decides */
    int forwarded;       /* it went to the origin (allowed, or observe mode) */
    int status;          /* the status the client got: the origin's, cordon's, or 0 (cut) */
    uint64_t bytes_up;   /* request bytes as forwarded (0 when refused) */
    uint64_t bytes_down; /* response bytes sent to the client */
    const char *classes; /* data classes found in its bodies (scan), comma-separated, or "" */
    unsigned rewritten;  /* values api.data rewrote in its bodies (redact, mask, hash, tokenize,
                            and tokens restored in the response) */
};

struct httpjudge_conf {
    const struct policy *policy;      /* outlives the judge */
    const struct httprule_set *rules; /* compiled from policy */
    size_t entry;                     /* sandbox.network.http index (httprule_host) */
    const char *host;                 /* the tunnel's endpoint, as httppath_host gives it */
    unsigned port;
    unsigned default_port; /* a Host without a port: 80 for plain HTTP, 443 when terminated */
    const char *agent;     /* named in refusals */
    uint64_t policy_version;
    int observe;
    /*
     * scan: the entry's bodies go through api.data's classes (NULL: not scanned), streamed
     * with the scanner's holdback. Each class's action for the direction applies: redact,
     * mask and hash rewrite the value (hash with hash_key, DATA_KEY_LEN bytes; without it a
     * hashed class stops the body); tokenize puts a placeholder in the request from a vault
     * of this connection's, and its responses get the values back; block stops the body before
     * the value: a request is answered 403 in its place and the connection ends, a response is
     * answered 403 if its head is still held, else cut. The request asks for an unencoded
     * response (Accept-Encoding: identity), and a body with a Content-Encoding is refused
     * (415 from the client, 502 from the origin): compressed text could not be scanned.
     */
    const struct engine_data_view *data;
    const unsigned char *hash_key;
    void (*record)(void *ctx, const struct httpjudge_rec *r);
    void *ctx;
};

struct httpjudge;

/* Returns 0 and *out (httpjudge_free), or -ENOMEM. conf is copied; its pointers are kept. */
__attribute__((warn_unused_result)) int httpjudge_new(const struct httpjudge_conf *conf,
                                                      struct httpjudge **out);
/* Requests still open are recorded as cut (status 0, or the status already sent). */
void httpjudge_free(struct httpjudge *j);

/*
 * Bytes from the client (len may be 0). *used: how many were taken; fewer than len when
 * HTTPJUDGE_PIPELINE_MAX requests wait for their responses or the client's part is over
 * (the rest is to be offered again later, or dropped once httpjudge_done). Returns 0 or
 * -ENOMEM.
 */
__attribute__((warn_unused_result)) int httpjudge_from_client(struct httpjudge *j, const char *buf,
                                                              size_t len, size_t *used);
/* Bytes from the origin, the same way. An origin that sends what cannot be framed as the
 * responses to what was forwarded ends the connection (a 502 if nothing of its response was
 * sent yet). */
__attribute__((warn_unused_result)) int httpjudge_from_origin(struct httpjudge *j, const char *buf,
                                                              size_t len, size_t *used);
/* A side closed its sending half. Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int httpjudge_client_eof(struct httpjudge *j);
__attribute__((warn_unused_result)) int httpjudge_origin_eof(struct httpjudge *j);

/* What is to be written to each side; the caller writes a prefix and says how much. */
const char *httpjudge_to_origin(const struct httpjudge *j, size_t *len);
void httpjudge_sent_origin(struct httpjudge *j, size_t n);
const char *httpjudge_to_client(const struct httpjudge *j, size_t *len);
void httpjudge_sent_client(struct httpjudge *j, size_t n);

/* 1 while part of a request head has arrived and not the rest: the caller bounds how long
 * that may last, since a client that sends its head a byte at a time holds the connection. */
int httpjudge_head_pending(const struct httpjudge *j);
/* A pending head took too long: the client gets 408 and the connection ends. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int httpjudge_head_timeout(struct httpjudge *j);

/* 1 once nothing more will go to the origin: shut its writing side when to_origin is empty. */
int httpjudge_origin_over(const struct httpjudge *j);
/* 1 once nothing more will go to the client: close the connection when to_client is empty. */
int httpjudge_done(const struct httpjudge *j);

#endif
