/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 requests as they arrive on an egress tunnel to a host of sandbox.network.http: a
 * strict, bounded, incremental parser. It is fed the bytes of one connection in whatever
 * pieces TCP delivers them and yields, request after request (keep-alive and pipelining),
 * the head (method, target, fields), the body's bytes (Content-Length or chunked, decoded)
 * and the end of each request with its trailer fields.
 *
 * Strict means that whatever two HTTP implementations could read differently is refused
 * (RFC 9112 section 11.2, request smuggling): the parser never guesses, and every refusal
 * carries a sentence that says what was wrong and the status to answer with. Bounded means
 * that no input makes it hold more than its limits: a head is refused as soon as a line or
 * the whole outgrows them, not after it has been read.
 *
 * The same parser reads the origin's responses (httpreq_new_response), so that a tunnel knows
 * where each response ends: to answer a refused request in its turn among pipelined ones,
 * and to scan response bodies. A response's framing depends on the request it answers
 * (RFC 9112 section 6.3: none after HEAD), which the caller announces with httpreq_expect.
 *
 * No I/O, no global state: one parser per connection and direction, used by one thread.
 */
#ifndef CORDON_SERVER_HTTPREQ_H
#define CORDON_SERVER_HTTPREQ_H

#include <stddef.h>
#include <stdint.h>

/* The defaults of struct httpreq_limits (docs/POLICY.md "How a request is read"). */
#define HTTPREQ_REQUEST_LINE_MAX 8192  /* bytes of the request line, CRLF excluded */
#define HTTPREQ_FIELD_LINE_MAX 8192    /* bytes of one field line (or chunk-size line) */
#define HTTPREQ_FIELDS_MAX 100         /* field lines in the head, and again in the trailers */
#define HTTPREQ_HEAD_MAX 65536         /* bytes of head and trailers together */
#define HTTPREQ_CHUNK_MAX (1ull << 32) /* bytes of one chunk's data */

/* 0 in any member: its default above. */
struct httpreq_limits {
    size_t request_line, field_line, fields, head;
    uint64_t chunk;
};

struct httpreq_field {
    const char *name;  /* as sent (compare with httpreq_field_is: names are case-blind) */
    const char *value; /* leading and trailing whitespace removed */
};

enum httpreq_body {
    HTTPREQ_BODY_NONE,    /* no body (RFC 9112 section 6.3: neither framing field) */
    HTTPREQ_BODY_LENGTH,  /* Content-Length bytes */
    HTTPREQ_BODY_CHUNKED, /* Transfer-Encoding: chunked */
    HTTPREQ_BODY_CLOSE,   /* responses only: the body ends when the connection does */
};

/* One request's head (or, from a response parser, one response's); every string
 * NUL-terminated, owned by the parser. */
struct httpreq {
    const char *method;    /* "GET"; NULL for a response */
    const char *target;    /* the request-target as sent: "/a?b", "http://h/a", "*" */
    const char *path;      /* its path, still percent-encoded: "/a" ("*" for OPTIONS *) */
    const char *query;     /* what follows '?', or NULL when there is no '?' */
    const char *authority; /* absolute-form: the target's host[:port]; else NULL */
    const char *host;      /* the Host field's value (checked to agree with authority) */
    int minor;             /* HTTP/1.<minor>: 0 or 1 */
    size_t n_fields;
    const struct httpreq_field *fields;
    enum httpreq_body body;
    uint64_t content_length; /* HTTPREQ_BODY_LENGTH */
    int keep_alive;          /* 0: the connection ends after this request (Connection: close,
                                or HTTP/1.0 without keep-alive); the caller closes it */
    int expect_continue;     /* Expect: 100-continue */
    int upgrade;             /* Connection: upgrade: what follows may not be HTTP/1.1; the
                                caller must not go on parsing after a 101 */
    /* responses only */
    int status;                /* 100..599 */
    const char *reason_phrase; /* "OK", or "" */
    int interim;               /* a 1xx other than 101: the final response is still to come */
    const char *coding;        /* a transfer coding besides chunked ("gzip"), or NULL */
    const char *raw;           /* the head as received, start line to blank line */
    size_t raw_len;
    /* trailer fields of a chunked body; set when HTTPREQ_END is returned */
    size_t n_trailers;
    const struct httpreq_field *trailers;
};

enum httpreq_event {
    HTTPREQ_MORE, /* every byte given was used; feed more */
    HTTPREQ_HEAD, /* a head is complete: httpreq_request() */
    HTTPREQ_BODY, /* body bytes (decoded from chunks): data, len, pointing into the input */
    HTTPREQ_END,  /* the request is complete (its trailers, if any, in httpreq_request()) */
};

struct httpreq_step {
    enum httpreq_event event;
    size_t used;      /* input bytes consumed by this step */
    const char *data; /* HTTPREQ_BODY */
    size_t len;
};

struct httpreq_parser;

/* A parser with lim (NULL: the defaults). Returns 0 and *out (httpreq_free), -ENOMEM. */
__attribute__((warn_unused_result)) int httpreq_new(const struct httpreq_limits *lim,
                                                    struct httpreq_parser **out);
void httpreq_free(struct httpreq_parser *p);

/*
 * A parser of responses, with the same limits. Before the response to each request arrives
 * (in practice: as each request is forwarded), the caller says whether that request was a
 * HEAD with httpreq_expect, which returns 0, -ENOSPC when 64 requests already wait, or
 * -EINVAL on a request parser. A response with no request waiting is refused. Failures carry
 * status 502: the origin sent what cannot be framed.
 */
__attribute__((warn_unused_result)) int httpreq_new_response(const struct httpreq_limits *lim,
                                                             struct httpreq_parser **out);
__attribute__((warn_unused_result)) int httpreq_expect(struct httpreq_parser *p, int head);

/*
 * The connection's end (the peer closed its side): 0 and END for a response whose body runs
 * to the close (or a message whose END was not yet returned), 0 and MORE between messages;
 * -EPIPE inside a head or a framed body (the message was cut short).
 */
__attribute__((warn_unused_result)) int httpreq_eof(struct httpreq_parser *p,
                                                    struct httpreq_step *st);

/*
 * Feed len bytes of the connection (len may be 0). Returns 0 and one step: the caller
 * advances its input by st->used and calls again until the step is HTTPREQ_MORE. After a
 * HEAD, the next call goes on with the body (or gives END at once for a request without
 * one); after END, with the next pipelined request. Failure is final, every later call
 * returns it again:
 *   -EBADMSG  the bytes are not a request this parser accepts (status 400, 405 or 505);
 *   -EMSGSIZE a limit was reached (status 414 or 431, or 400 for a chunk);
 *   -ENOTSUP  a transfer coding other than chunked (status 501);
 *   -ENOMEM.
 * httpreq_reason() says why, httpreq_status() gives the status to answer with.
 */
__attribute__((warn_unused_result)) int httpreq_feed(struct httpreq_parser *p, const char *buf,
                                                     size_t len, struct httpreq_step *st);

/* The request whose head was returned, valid until the call after its END; else NULL. */
const struct httpreq *httpreq_request(const struct httpreq_parser *p);
/* Why the parser failed (a sentence naming the RFC 9112 rule), or "" before a failure. */
const char *httpreq_reason(const struct httpreq_parser *p);
/* The HTTP status to refuse with after a failure (400, 405, 414, 431, 501, 505); 0 before. */
int httpreq_status(const struct httpreq_parser *p);
/* Requests completed so far (END returned). */
uint64_t httpreq_count(const struct httpreq_parser *p);

/* 1 when field name equals name, ASCII case ignored. */
int httpreq_field_is(const char *field, const char *name);
/* The value of r's first field named name (case-blind), or NULL. */
const char *httpreq_field(const struct httpreq *r, const char *name);

#endif
