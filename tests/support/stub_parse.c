/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request heads, chunked bodies and scenario markers for the stub upstream (see
 * stub_parse.h). The stub is fed hostile input by cordond's tests, so each parser is strict
 * and bounded: CRLF line ends only, no obs-fold, token header names, one Content-Length or
 * one "chunked" coding and never both, and every length checked before it is used. A refusal
 * names what was wrong so that a failing test says why.
 */
#include "tests/support/stub_parse.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int span_ieq(const char *buf, struct stub_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(buf + s.off, lit, n) == 0;
}

/* Does the comma-separated list in v[0..n) hold token tok (case-insensitive)? */
static int list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

static int parse_request_line(const char *b, size_t n, struct stub_head *h, const char **why)
{
    size_t i = 0;
    while (i < n && b[i] >= 'A' && b[i] <= 'Z')
        i++;
    if (i == 0 || i > 16 || i >= n || b[i] != ' ') {
        *why = "malformed request line: expected METHOD SP /path SP HTTP/1.1";
        return 400;
    }
    h->method = (struct stub_span){0, (uint32_t)i};
    size_t t = ++i;
    while (i < n && (unsigned char)b[i] > 0x20 && (unsigned char)b[i] < 0x7f)
        i++;
    if (i == t || i >= n || b[i] != ' ') {
        *why = "malformed request target: expected one path of visible ASCII characters";
        return 400;
    }
    if (b[t] != '/') {
        *why = "the request target must be a path starting with '/' (origin form)";
        return 400;
    }
    h->target = (struct stub_span){(uint32_t)t, (uint32_t)(i - t)};
    const char *q = memchr(b + t, '?', i - t);
    if (q) {
        h->path = (struct stub_span){(uint32_t)t, (uint32_t)(q - (b + t))};
        h->query = (struct stub_span){(uint32_t)(q + 1 - b), (uint32_t)(b + i - q - 1)};
    } else {
        h->path = h->target;
        h->query = (struct stub_span){(uint32_t)i, 0};
    }
    i++;
    if (n - i != 8 || memcmp(b + i, "HTTP/", 5) != 0 || b[i + 6] != '.') {
        *why = "malformed HTTP version in the request line";
        return 400;
    }
    if (b[i + 5] != '1' || (b[i + 7] != '0' && b[i + 7] != '1')) {
        *why = "unsupported HTTP version: this server speaks HTTP/1.0 and HTTP/1.1";
        return 505;
    }
    h->minor = b[i + 7] - '0';
    return 0;
}

static int parse_header_line(const char *buf, size_t ls, size_t le, struct stub_head *h,
                             const char **why)
{
    const char *b = buf + ls;
    size_t n = le - ls, i = 0;
    if (b[0] == ' ' || b[0] == '\t') {
        *why = "obsolete header line folding is not accepted";
        return 400;
    }
    while (i < n && is_tchar((unsigned char)b[i]))
        i++;
    if (i == 0 || i >= n || b[i] != ':') {
        *why = "malformed header line: expected a token name, ':' and a value";
        return 400;
    }
    if (h->nheaders >= STUB_MAX_HEADERS) {
        *why = "too many header lines (at most 128)";
        return 431;
    }
    size_t vs = i + 1;
    while (vs < n && (b[vs] == ' ' || b[vs] == '\t'))
        vs++;
    size_t ve = n;
    while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
        ve--;
    for (size_t k = vs; k < ve; k++) {
        unsigned char c = (unsigned char)b[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            *why = "a header value holds a control character";
            return 400;
        }
    }
    int k = h->nheaders++;
    h->h[k].name = (struct stub_span){(uint32_t)ls, (uint32_t)i};
    h->h[k].value = (struct stub_span){(uint32_t)(ls + vs), (uint32_t)(ve - vs)};
    return 0;
}

static int parse_length(const char *v, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

static int head_semantics(const char *buf, struct stub_head *h, const char **why)
{
    int te = 0, have_host = 0, conn_close = 0, conn_keep = 0;
    for (int k = 0; k < h->nheaders; k++) {
        const char *v = buf + h->h[k].value.off;
        size_t vl = h->h[k].value.len;
        if (span_ieq(buf, h->h[k].name, "content-length")) {
            int64_t x;
            if (parse_length(v, vl, &x) != 0) {
                *why = "Content-Length is not a plain decimal number";
                return 400;
            }
            if (h->content_length >= 0 && h->content_length != x) {
                *why = "two Content-Length headers disagree";
                return 400;
            }
            h->content_length = x;
        } else if (span_ieq(buf, h->h[k].name, "transfer-encoding")) {
            if (te || vl != 7 || strncasecmp(v, "chunked", 7) != 0) {
                *why = "only a single \"chunked\" transfer coding is supported";
                return 501;
            }
            te = 1;
        } else if (span_ieq(buf, h->h[k].name, "host")) {
            if (have_host) {
                *why = "more than one Host header";
                return 400;
            }
            have_host = 1;
        } else if (span_ieq(buf, h->h[k].name, "connection")) {
            conn_close |= list_has(v, vl, "close");
            conn_keep |= list_has(v, vl, "keep-alive");
        } else if (span_ieq(buf, h->h[k].name, "expect")) {
            if (vl == 12 && strncasecmp(v, "100-continue", 12) == 0)
                h->expect_continue = 1;
        }
    }
    if (te && h->content_length >= 0) {
        *why = "both Transfer-Encoding and Content-Length are set";
        return 400;
    }
    if (te && h->minor == 0) {
        *why = "Transfer-Encoding is not allowed in an HTTP/1.0 request";
        return 400;
    }
    if (!have_host && h->minor == 1) {
        *why = "an HTTP/1.1 request needs a Host header";
        return 400;
    }
    if (h->content_length > (int64_t)STUB_MAX_BODY) {
        *why = "the request body is larger than 64 MiB";
        return 413;
    }
    h->chunked = te;
    h->keep_alive = h->minor == 1 ? !conn_close : conn_keep && !conn_close;
    return 0;
}

int stub_parse_head(const char *buf, size_t len, struct stub_head *h, const char **why)
{
    /* h->h[] is filled as far as nheaders says; every other field is set here */
    memset(h, 0, offsetof(struct stub_head, h));
    h->head_len = 0;
    h->content_length = -1;
    h->chunked = h->keep_alive = h->expect_continue = 0;
    size_t start = 0;
    /* RFC 9112 2.2: ignore blank lines before a request line (a client's stray CRLF) */
    while (start + 1 < len && start < 8 && buf[start] == '\r' && buf[start + 1] == '\n')
        start += 2;
    size_t scan = len < STUB_MAX_HEAD ? len : STUB_MAX_HEAD;
    const char *end = NULL;
    if (scan > start)
        end = memmem(buf + start, scan - start, "\r\n\r\n", 4);
    if (!end) {
        if (len >= STUB_MAX_HEAD) {
            *why = "the request head is larger than 64 KiB";
            return 431;
        }
        /* fail early on bytes that no head may hold, so garbage does not wait for a timeout */
        if (scan > start && memchr(buf + start, '\0', scan - start)) {
            *why = "the request head holds a NUL byte";
            return 400;
        }
        for (const char *lf = buf + start;
             scan > start && (lf = memchr(lf, '\n', scan - (size_t)(lf - buf))); lf++)
            if (lf == buf + start || lf[-1] != '\r') {
                *why = "a line of the request head ends in a bare LF (CRLF is required)";
                return 400;
            }
        return -EAGAIN;
    }
    size_t hend = (size_t)(end - buf) + 2; /* just past the last header line's CRLF */
    h->head_len = hend + 2;
    size_t ls = start;
    int first = 1;
    while (ls < hend) {
        const char *cr = memchr(buf + ls, '\r', hend - ls);
        if (!cr || cr + 1 >= buf + hend + 1 || cr[1] != '\n') {
            *why = "a line of the request head does not end in CRLF";
            return 400;
        }
        size_t le = (size_t)(cr - buf);
        if (memchr(buf + ls, '\n', le - ls) || memchr(buf + ls, '\0', le - ls)) {
            *why = "a line of the request head holds a bare LF or a NUL byte";
            return 400;
        }
        int rc;
        if (first) {
            if (le - ls > 8192) {
                *why = "the request line is longer than 8 KiB";
                return 431;
            }
            rc = parse_request_line(buf + ls, le - ls, h, why);
            if (rc == 0) {
                h->method.off += (uint32_t)ls;
                h->target.off += (uint32_t)ls;
                h->path.off += (uint32_t)ls;
                h->query.off += (uint32_t)ls;
            }
            first = 0;
        } else {
            if (le == ls) {
                *why = "an empty line inside the request head";
                return 400;
            }
            rc = parse_header_line(buf, ls, le, h, why);
        }
        if (rc != 0)
            return rc;
        ls = le + 2;
    }
    if (first) {
        *why = "the request has no request line";
        return 400;
    }
    return head_semantics(buf, h, why);
}

const char *stub_parse_header(const char *buf, const struct stub_head *h, const char *name,
                              size_t *vlen)
{
    for (int k = 0; k < h->nheaders; k++)
        if (span_ieq(buf, h->h[k].name, name)) {
            *vlen = h->h[k].value.len;
            return buf + h->h[k].value.off;
        }
    *vlen = 0;
    return NULL;
}

enum {
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,
    CH_TRAILER_LF,
    CH_LINE,
    CH_LINE_LF,
    CH_DONE
};

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int stub_parse_chunked(struct stub_chunked *st, const char *in, size_t len, size_t *used,
                       const char **data, size_t *dlen, const char **why)
{
    size_t i = 0;
    *data = NULL;
    *dlen = 0;
    *used = 0;
    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        switch (st->state) {
        case CH_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (++st->digits > 15) {
                    *why = "a chunk size has more than 15 hex digits";
                    return 400;
                }
                st->left = st->left * 16 + (uint64_t)v;
                i++;
                break;
            }
            if (st->digits == 0) {
                *why = "a chunk does not start with a hex size";
                return 400;
            }
            if (st->left > STUB_MAX_BODY) {
                *why = "a chunk is larger than 64 MiB";
                return 400;
            }
            if (c == '\r') {
                st->state = CH_SIZE_LF;
                i++;
            } else if (c == ';' || c == ' ' || c == '\t') {
                st->state = CH_EXT;
                st->trailer = 0;
                i++;
            } else {
                *why = "a chunk size line holds an unexpected character";
                return 400;
            }
            break;
        }
        case CH_EXT: /* chunk extensions are ignored, but bounded */
            if (c == '\r')
                st->state = CH_SIZE_LF;
            else if (c < 0x20 && c != '\t') {
                *why = "a chunk extension holds a control character";
                return 400;
            } else if (++st->trailer > 1024) {
                *why = "a chunk extension is longer than 1 KiB";
                return 400;
            }
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n') {
                *why = "a chunk size line does not end in CRLF";
                return 400;
            }
            i++;
            st->digits = 0;
            st->trailer = 0;
            st->state = st->left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = len - i;
            if (n > st->left)
                n = (size_t)st->left;
            *data = in + i;
            *dlen = n;
            st->left -= n;
            if (st->left == 0)
                st->state = CH_DATA_CR;
            *used = i + n;
            return 0;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (c != (st->state == CH_DATA_CR ? '\r' : '\n')) {
                *why = "chunk data is not followed by CRLF";
                return 400;
            }
            i++;
            st->state = st->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
            break;
        case CH_TRAILER: /* start of a trailer line, or the final CRLF */
            if (c == '\r') {
                st->state = CH_TRAILER_LF;
                i++;
                break;
            }
            st->state = CH_LINE;
            break;
        case CH_TRAILER_LF:
            if (c != '\n') {
                *why = "the chunked body does not end in CRLF";
                return 400;
            }
            st->state = CH_DONE;
            *used = i + 1;
            return 1;
        case CH_LINE:
            if (c == '\r')
                st->state = CH_LINE_LF;
            else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                *why = "a trailer line holds a control character";
                return 400;
            }
            if (++st->trailer > 8192) {
                *why = "the trailer section is larger than 8 KiB";
                return 400;
            }
            i++;
            break;
        case CH_LINE_LF:
            if (c != '\n') {
                *why = "a trailer line does not end in CRLF";
                return 400;
            }
            i++;
            st->state = CH_TRAILER;
            break;
        default:
            *used = i;
            return 1;
        }
    }
    *used = i;
    return i ? 0 : -EAGAIN;
}

static int is_keych(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int stub_parse_params(const char *s, size_t len, struct stub_params *out, char *arena,
                      const char **why)
{
    size_t i = 0, a = 0;
    out->n = 0;
    out->name[0] = '\0';
    while (i < len && is_blank(s[i]))
        i++;
    size_t ns = i;
    while (i < len && is_keych(s[i]))
        i++;
    if (i == ns || i - ns >= STUB_NAME_MAX) {
        *why = "expected a scenario name of [a-z0-9_], at most 31 characters";
        return -EINVAL;
    }
    memcpy(out->name, s + ns, i - ns);
    out->name[i - ns] = '\0';
    for (;;) {
        size_t b = i;
        while (i < len && is_blank(s[i]))
            i++;
        if (i >= len)
            return 0;
        if (i == b) {
            *why = "parameters must be separated by blanks";
            return -EINVAL;
        }
        size_t ks = i;
        while (i < len && is_keych(s[i]))
            i++;
        if (i == ks || i - ks >= STUB_KEY_MAX || i >= len || s[i] != '=') {
            *why = "expected key=value with a key of [a-z0-9_], at most 23 characters";
            return -EINVAL;
        }
        char key[STUB_KEY_MAX];
        memcpy(key, s + ks, i - ks);
        key[i - ks] = '\0';
        i++;
        const char *val = arena + a;
        size_t vs = a;
        if (i < len && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    *why = "a quoted value is not closed";
                    return -EINVAL;
                }
                char c = s[i++];
                if (c == '"')
                    break;
                if (c == '\\') {
                    if (i >= len) {
                        *why = "a quoted value ends in a backslash";
                        return -EINVAL;
                    }
                    char e = s[i++];
                    if (e == 'n')
                        c = '\n';
                    else if (e == 't')
                        c = '\t';
                    else if (e == '"' || e == '\\')
                        c = e;
                    else {
                        *why = "a quoted value holds an escape other than \\\" \\\\ \\n \\t";
                        return -EINVAL;
                    }
                }
                arena[a++] = c;
            }
        } else {
            while (i < len && !is_blank(s[i]))
                arena[a++] = s[i++];
        }
        int k;
        for (k = 0; k < out->n; k++)
            if (strcmp(out->p[k].key, key) == 0)
                break;
        if (k == out->n) {
            if (out->n >= STUB_MAX_PARAMS) {
                *why = "more than 32 parameters";
                return -EINVAL;
            }
            out->n++;
        }
        memcpy(out->p[k].key, key, sizeof key);
        out->p[k].val = val;
        out->p[k].vlen = a - vs;
    }
}

int stub_parse_marker(const char *text, size_t len, struct stub_params *out, char *arena,
                      const char **why)
{
    /* the last marker wins, so that a later turn of a conversation can pick another scenario */
    const char *m = NULL, *p = text;
    for (;;) {
        const char *f = memmem(p, len - (size_t)(p - text), "[[stub:", 7);
        if (!f)
            break;
        m = f;
        p = f + 7;
    }
    if (!m)
        return 1;
    size_t s = (size_t)(m - text) + 7, i = s;
    int quoted = 0;
    while (i + 1 < len && i - s <= 65536) {
        char c = text[i];
        if (quoted && c == '\\') {
            i += 2;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && c == ']' && text[i + 1] == ']')
            break;
        i++;
    }
    if (i + 1 >= len || i - s > 65536) {
        *why = "a [[stub:...]] marker is not closed by ]] (or is longer than 64 KiB)";
        return -EINVAL;
    }
    return stub_parse_params(text + s, i - s, out, arena, why);
}

const char *stub_params_get(const struct stub_params *p, const char *key, size_t *vlen)
{
    for (int k = 0; k < p->n; k++)
        if (strcmp(p->p[k].key, key) == 0) {
            *vlen = p->p[k].vlen;
            return p->p[k].val;
        }
    return NULL;
}
