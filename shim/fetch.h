/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A deliberately tiny HTTP/1.1 client for one request: GET /v1/policy from cordond over TCP
 * (http://HOST:PORT) or a Unix socket (unix:/PATH). Every read is bounded and every wait has
 * a deadline; the response parser is a pure function so hostile responses can be tested
 * without a network. libcurl is not used: loading it costs more than the whole fetch.
 */
#ifndef CORDON_SHIM_FETCH_H
#define CORDON_SHIM_FETCH_H

#include <stddef.h>
#include <sys/socket.h>

#define FETCH_MAX_HEADERS 16384           /* bytes of status line and headers */
#define FETCH_MAX_BODY (2u * 1024 * 1024) /* an envelope is at most 2 MiB */
#define FETCH_HOST_MAX 256
#define FETCH_CA_MAX 4096 /* a CA certificate, DER in base64 (P-256: about 700 characters) */

/* Where cordond answers, resolved once (before the sandbox and the DNS hook exist). */
struct fetch_target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[FETCH_HOST_MAX]; /* for the Host header: "127.0.0.1:8443" or "localhost" */
    unsigned short port;       /* 0 for a Unix socket */
};

struct fetch_response {
    int status;
    char etag[128];
    char proxy[FETCH_HOST_MAX];  /* Cordon-Proxy: HOST:PORT, "" when absent */
    char events[FETCH_HOST_MAX]; /* Cordon-Events: unix:/PATH, "" when absent */
    char ca[FETCH_CA_MAX];       /* Cordon-CA: base64 DER of the deployment CA, "" when absent */
    size_t content_length;       /* (size_t)-1 when absent */
    size_t header_len;           /* bytes before the body */
};

/* Parse http://HOST:PORT (HOST a name, an IPv4 address or [IPv6]) or unix:/PATH and resolve
 * it. Returns 0 or a negative errno with err set. */
__attribute__((warn_unused_result)) int fetch_target_parse(const char *url, struct fetch_target *t,
                                                           char *err, size_t errlen);

/*
 * Parse the status line and headers of buf (len bytes, the whole response read so far).
 * Returns 0 when the header section is complete and valid, -EAGAIN when more bytes are
 * needed, -EPROTO when it is malformed or too large (err says how).
 */
__attribute__((warn_unused_result)) int fetch_parse_response(const char *buf, size_t len,
                                                             struct fetch_response *r, char *err,
                                                             size_t errlen);

/*
 * GET /v1/policy with the agent key, and If-None-Match when etag is non-empty. On 200 *body
 * receives the envelope (malloc'd, NUL-terminated, caller frees) and *body_len its length; on
 * any other status *body is NULL and r->status says what happened. Returns 0 when a response
 * was received, or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EPROTO...) with err set.
 */
__attribute__((warn_unused_result)) int fetch_policy(const struct fetch_target *t, const char *key,
                                                     const char *etag, int timeout_ms,
                                                     struct fetch_response *r, char **body,
                                                     size_t *body_len, char *err, size_t errlen);

/* Split "HOST:PORT" ("[v6]:PORT" too) into host (without brackets) and port. 0 or -EINVAL. */
int fetch_split_hostport(const char *s, char *host, size_t hostlen, unsigned short *port);

#endif
