/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy fetch (see fetch.h). The request always says "Connection: close", so the body is
 * everything after the headers until the server closes; Content-Length, when present, must
 * agree, so a truncated envelope is an error rather than a bad signature further on.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/io.h"
#include "shim/fetch.h"

int fetch_split_hostport(const char *s, char *host, size_t hostlen, unsigned short *port)
{
    const char *colon, *h = s;
    size_t hl;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -EINVAL;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || v < 1 || v > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned short)v;
    return 0;
}

int fetch_target_parse(const char *url, struct fetch_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (strncmp(url, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&t->addr;
        const char *path = url + 5;
        if (path[0] != '/' || strlen(path) >= sizeof un->sun_path) {
            diag_set(err, errlen,
                     "%s: a unix: server needs an absolute socket path of at "
                     "most %zu bytes",
                     url, sizeof un->sun_path - 1);
            return -EINVAL;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        t->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
        snprintf(t->host, sizeof t->host, "localhost");
        return 0;
    }
    if (strncmp(url, "http://", 7) != 0) {
        diag_set(err, errlen,
                 "%s: expected http://HOST:PORT or unix:/PATH (cordond speaks "
                 "plain HTTP on loopback or a Unix socket)",
                 url);
        return -EINVAL;
    }
    char hp[FETCH_HOST_MAX], host[FETCH_HOST_MAX];
    const char *s = url + 7;
    size_t n = strcspn(s, "/");
    if (n >= sizeof hp || (s[n] && strcmp(s + n, "/") != 0)) {
        diag_set(err, errlen, "%s: expected http://HOST:PORT with no path", url);
        return -EINVAL;
    }
    memcpy(hp, s, n);
    hp[n] = '\0';
    if (fetch_split_hostport(hp, host, sizeof host, &t->port) != 0) {
        diag_set(err, errlen, "%s: expected http://HOST:PORT with a port from 1 to 65535", url);
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", t->port);
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0 || !res) {
        diag_set(err, errlen, "cannot resolve the cordond host %s: %s", host, gai_strerror(g));
        return -EHOSTUNREACH;
    }
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(t->host, sizeof t->host, "%s", hp);
    return 0;
}

/* Copy a header value, trimmed, into dst; -ENOSPC when it does not fit. */
static int header_value(const char *v, size_t n, char *dst, size_t cap)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        return -ENOSPC;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

int fetch_parse_response(const char *buf, size_t len, struct fetch_response *r, char *err,
                         size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->content_length = (size_t)-1;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i;
            break;
        }
    if (!end) {
        if (len > FETCH_MAX_HEADERS) {
            diag_set(err, errlen, "cordond's response headers exceed %d bytes", FETCH_MAX_HEADERS);
            return -EPROTO;
        }
        return -EAGAIN;
    }
    if ((size_t)(end - buf) > FETCH_MAX_HEADERS) {
        diag_set(err, errlen, "cordond's response headers exceed %d bytes", FETCH_MAX_HEADERS);
        return -EPROTO;
    }
    r->header_len = (size_t)(end - buf) + 4;
    if (memchr(buf, '\0', (size_t)(end - buf))) {
        diag_set(err, errlen, "cordond's response headers contain a NUL byte");
        return -EPROTO;
    }
    /* Status line: HTTP/1.x SP DDD [SP reason] */
    if ((size_t)(end - buf) < 12 ||
        (memcmp(buf, "HTTP/1.1 ", 9) != 0 && memcmp(buf, "HTTP/1.0 ", 9) != 0) || buf[9] < '1' ||
        buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
        (buf[12] != ' ' && buf[12] != '\r')) {
        diag_set(err, errlen,
                 "the server did not answer with an HTTP/1.x status line; is "
                 "CORDON_SERVER really cordond?");
        return -EPROTO;
    }
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    const char *line = memchr(buf, '\n', (size_t)(end - buf));
    while (line && line < end) {
        const char *s = line + 1;
        const char *e = memchr(s, '\r', (size_t)(end + 2 - s));
        if (!e || e[1] != '\n')
            break;
        size_t n = (size_t)(e - s);
        const char *colon = memchr(s, ':', n);
        if (!colon || colon == s) {
            diag_set(err, errlen, "cordond's response has a malformed header line");
            return -EPROTO;
        }
        size_t kl = (size_t)(colon - s);
        const char *v = colon + 1;
        size_t vl = n - kl - 1;
        int bad = 0;
        if (kl == 4 && strncasecmp(s, "ETag", 4) == 0)
            bad = header_value(v, vl, r->etag, sizeof r->etag);
        else if (kl == 12 && strncasecmp(s, "Cordon-Proxy", 12) == 0)
            bad = header_value(v, vl, r->proxy, sizeof r->proxy);
        else if (kl == 13 && strncasecmp(s, "Cordon-Events", 13) == 0)
            bad = header_value(v, vl, r->events, sizeof r->events);
        else if (kl == 9 && strncasecmp(s, "Cordon-CA", 9) == 0)
            bad = header_value(v, vl, r->ca, sizeof r->ca) ||
                  strspn(r->ca,
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
                      strlen(r->ca);
        else if (kl == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
            char num[24];
            char *ep;
            if (header_value(v, vl, num, sizeof num) != 0 || !num[0] || num[0] == '-') {
                bad = 1;
            } else {
                errno = 0;
                unsigned long long cl = strtoull(num, &ep, 10);
                if (errno || *ep || cl > FETCH_MAX_BODY ||
                    (r->content_length != (size_t)-1 && r->content_length != cl))
                    bad = 1;
                else
                    r->content_length = (size_t)cl;
            }
        } else if (kl == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
            diag_set(err, errlen,
                     "cordond answered with Transfer-Encoding, which the shim "
                     "does not accept; cordond must send Content-Length");
            return -EPROTO;
        }
        if (bad) {
            char q[64];
            snprintf(q, sizeof q, "%.*s", (int)(kl < 40 ? kl : 40), s);
            diag_set(err, errlen, "cordond's %s header is malformed or too long", q);
            return -EPROTO;
        }
        line = e + 1;
    }
    return 0;
}

/* A non-blocking socket connected to t before the deadline: the fd, or -errno with err set. */
static int fetch_connect(const struct fetch_target *t, int64_t deadline, int timeout_ms, char *err,
                         size_t errlen)
{
    int rc, fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = -errno;
        diag_set(err, errlen, "cannot create a socket to reach cordond: %s", strerror(errno));
        return rc;
    }
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EAGAIN) {
        rc = -errno;
        diag_set(err, errlen, "cannot connect to cordond at %s: %s", t->host, strerror(errno));
        goto fail;
    }
    int w = io_wait(fd, POLLOUT, deadline), soerr = 0;
    socklen_t sl = sizeof soerr;
    if (w == 0) {
        rc = -ETIMEDOUT;
        diag_set(err, errlen, "cordond at %s did not accept a connection within %d ms", t->host,
                 timeout_ms);
        goto fail;
    }
    if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
        rc = -(soerr ? soerr : errno);
        diag_set(err, errlen, "cannot connect to cordond at %s: %s", t->host, strerror(-rc));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return rc;
}

/* The request head into req (cap bytes): its length, or -EINVAL with err set. */
static int fetch_request(const struct fetch_target *t, const char *key, const char *etag, char *req,
                         size_t cap, char *err, size_t errlen)
{
    int cond = etag && *etag;
    int n =
        snprintf(req, cap,
                 "GET /v1/policy HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                 "%s%s%sUser-Agent: libcordon/" CORDON_VERSION "\r\n"
                 "Connection: close\r\n\r\n",
                 t->host, key, cond ? "If-None-Match: " : "", cond ? etag : "", cond ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        diag_set(err, errlen, "the policy request does not fit in %zu bytes", cap);
        return -EINVAL;
    }
    return n;
}

/* Send the request before the deadline. 0 or -errno with err set. */
static int fetch_send(int fd, const struct fetch_target *t, const char *req, size_t n,
                      int64_t deadline, char *err, size_t errlen)
{
    int rc = io_send_all(fd, req, n, deadline);
    if (rc == -ETIMEDOUT)
        diag_set(err, errlen, "cordond at %s stopped reading the request", t->host);
    else if (rc != 0)
        diag_set(err, errlen, "cannot send the policy request to cordond: %s", strerror(-rc));
    return rc;
}

/*
 * Read the answer into buf (cap bytes, one kept for a NUL) until the server closes or the
 * body Content-Length announced is complete, parsing the headers into r as soon as they are
 * whole. *len receives the bytes read. 0 or -errno with err set.
 */
static int fetch_receive(int fd, const struct fetch_target *t, int64_t deadline, int timeout_ms,
                         char *buf, size_t cap, size_t *len, struct fetch_response *r, char *err,
                         size_t errlen)
{
    int have_headers = 0;
    *len = 0;
    for (;;) {
        ssize_t got = recv(fd, buf + *len, cap - 1 - *len, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (io_wait(fd, POLLIN, deadline) <= 0) {
                diag_set(err, errlen, "cordond at %s did not finish its answer within %d ms",
                         t->host, timeout_ms);
                return -ETIMEDOUT;
            }
            continue;
        }
        if (got < 0) {
            int rc = -errno;
            diag_set(err, errlen, "reading cordond's answer failed: %s", strerror(errno));
            return rc;
        }
        *len += (size_t)got;
        if (!have_headers) {
            int p = fetch_parse_response(buf, *len, r, err, errlen);
            if (p == 0)
                have_headers = 1;
            else if (p != -EAGAIN)
                return p;
        }
        if (have_headers && r->content_length != (size_t)-1 &&
            *len - r->header_len >= r->content_length)
            break;
        if (got == 0)
            break;
        if (*len == cap - 1) {
            diag_set(err, errlen, "cordond's answer exceeds %u bytes", FETCH_MAX_BODY);
            return -EFBIG;
        }
    }
    if (!have_headers) {
        diag_set(err, errlen, "cordond at %s closed the connection before a complete answer",
                 t->host);
        return -EPROTO;
    }
    return 0;
}

/* Check the body of a complete answer (len bytes in *buf) against r, and on 200 hand it over:
 * *body takes *buf, moved to its start and NUL-terminated. 0 or -errno with err set. */
static int fetch_body(char **buf, size_t len, const struct fetch_response *r, char **body,
                      size_t *body_len, char *err, size_t errlen)
{
    size_t blen = len - r->header_len;
    if (r->content_length != (size_t)-1 && blen != r->content_length) {
        diag_set(err, errlen, "cordond's answer was cut: %zu of %zu body bytes", blen,
                 r->content_length);
        return -EPROTO;
    }
    if (blen > FETCH_MAX_BODY) {
        diag_set(err, errlen, "cordond's answer exceeds %u bytes", FETCH_MAX_BODY);
        return -EFBIG;
    }
    if (r->status == 200) {
        char *b = *buf;
        memmove(b, b + r->header_len, blen);
        b[blen] = '\0';
        char *shrunk = realloc(b, blen + 1);
        *body = shrunk ? shrunk : b;
        *body_len = blen;
        *buf = NULL; /* transferred */
    }
    return 0;
}

int fetch_policy(const struct fetch_target *t, const char *key, const char *etag, int timeout_ms,
                 struct fetch_response *r, char **body, size_t *body_len, char *err, size_t errlen)
{
    int rc, fd = -1;
    char *buf = NULL, req[1024];
    size_t cap = FETCH_MAX_HEADERS + FETCH_MAX_BODY + 1, len = 0;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    *body = NULL;
    *body_len = 0;

    if ((rc = fetch_connect(t, deadline, timeout_ms, err, errlen)) < 0)
        goto out;
    fd = rc;
    if ((rc = fetch_request(t, key, etag, req, sizeof req, err, errlen)) < 0)
        goto out;
    if ((rc = fetch_send(fd, t, req, (size_t)rc, deadline, err, errlen)) != 0)
        goto out;
    if (!(buf = malloc(cap))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = fetch_receive(fd, t, deadline, timeout_ms, buf, cap, &len, r, err, errlen)) != 0)
        goto out;
    rc = fetch_body(&buf, len, r, body, body_len, err, errlen);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}
