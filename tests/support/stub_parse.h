/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parsers of the stub upstream (tests/support/stub_*.c) that see hostile bytes:
 * HTTP/1.1 request heads, chunked request bodies, and the scenario markers and parameter lists
 * ("[[stub:NAME key=value ...]]"). Kept apart from the socket code so that a libFuzzer target
 * (tests/fuzz/fuzz_stub.c) drives them directly. Nothing here allocates.
 */
#ifndef CORDON_STUB_PARSE_H
#define CORDON_STUB_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define STUB_MAX_HEAD (64u * 1024) /* request line + headers + blank line */
#define STUB_MAX_HEADERS 128       /* header lines in one head */
#define STUB_MAX_BODY (64u << 20)  /* a request body, framed either way */

/* A byte range of the buffer a head was parsed from. */
struct stub_span {
    uint32_t off, len;
};

struct stub_head {
    struct stub_span method, target, path, query; /* query excludes the '?' */
    int minor;                                    /* HTTP/1.minor: 0 or 1 */
    int nheaders;
    struct {
        struct stub_span name, value; /* value without surrounding blanks */
    } h[STUB_MAX_HEADERS];
    size_t head_len;        /* bytes of the head, blank line included */
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding: chunked */
    int keep_alive;         /* the client allows another request on this connection */
    int expect_continue;    /* Expect: 100-continue */
};

/*
 * Parse the request head at the start of buf[0..len). Returns 0 and fills head when a whole
 * head is there; -EAGAIN when more bytes are needed (and none of them is already wrong);
 * otherwise the HTTP status to refuse with (400, 413, 431, 501, 505), with why pointing at a
 * sentence. The spans in head index buf.
 */
int stub_parse_head(const char *buf, size_t len, struct stub_head *head, const char **why);

/* Case-insensitive lookup of a header; NULL when absent. *vlen receives the value's length. */
const char *stub_parse_header(const char *buf, const struct stub_head *head, const char *name,
                              size_t *vlen);

/* Decoder state for a chunked body; zero it before the first call. */
struct stub_chunked {
    int state;
    int digits;
    uint64_t left;  /* data bytes left in the current chunk */
    size_t trailer; /* bytes of trailer section seen */
};

/*
 * Decode chunked framing from in[0..len). Sets *used to the bytes consumed and, when the
 * step yields body bytes, points *data and *dlen at them (inside in). Returns 1 when the body
 * (last chunk and trailers) is complete, 0 after a step that made progress, -EAGAIN when
 * in holds too little to go on, or 400 for broken framing (why set). Call again with the
 * unconsumed rest until it returns 1, -EAGAIN or 400.
 */
int stub_parse_chunked(struct stub_chunked *st, const char *in, size_t len, size_t *used,
                       const char **data, size_t *dlen, const char **why);

#define STUB_MAX_PARAMS 32
#define STUB_NAME_MAX 32
#define STUB_KEY_MAX 24

struct stub_param {
    char key[STUB_KEY_MAX];
    const char *val; /* inside the arena given to the parser; not NUL-terminated */
    size_t vlen;
};

/* A scenario name and its parameters. */
struct stub_params {
    char name[STUB_NAME_MAX];
    int n;
    struct stub_param p[STUB_MAX_PARAMS];
};

/*
 * Parse "NAME key=value key=\"quoted value\" ..." from s[0..len): NAME and keys are
 * [a-z0-9_], a bare value runs to the next blank, a quoted one takes \" and \\ escapes.
 * Unescaped values are written to arena, which must hold at least len bytes. Returns 0, or
 * -EINVAL with why set. A later key overrides an earlier one of the same name.
 */
int stub_parse_params(const char *s, size_t len, struct stub_params *out, char *arena,
                      const char **why);

/*
 * Find the last "[[stub:...]]" marker in text[0..len). Returns 0 and fills out (arena as
 * for stub_parse_params) when one is found, 1 when there is none, -EINVAL when that marker
 * is malformed (why set). Inside the marker, "]]" within a quoted value does not close it.
 */
int stub_parse_marker(const char *text, size_t len, struct stub_params *out, char *arena,
                      const char **why);

/* The value of key in p, or NULL; *vlen receives its length. */
const char *stub_params_get(const struct stub_params *p, const char *key, size_t *vlen);

#endif
