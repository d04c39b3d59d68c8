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
 * No I/O, no global state: one parser per connection, used by one thread.
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
};

/* One request's head; every string NUL-terminated, owned by the parser. */
struct httpreq {
    const char *method;    /* "GET" */
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
    const char *raw;         /* the head as received, request line to blank line */
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
