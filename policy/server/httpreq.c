/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The egress tunnel's HTTP/1.1 request parser (see httpreq.h). Heads and trailers are
 * gathered byte by byte into one bounded buffer, each line checked against its limit as it
 * grows and refused at the first bare CR or LF, so that a hostile line costs at most its
 * limit; a complete block is then parsed in one piece, which makes the result the same
 * however the bytes were split. Bodies are never buffered: their bytes are handed back as
 * pointers into the caller's input. Every rule that decides a refusal names its section of
 * RFC 9112 (HTTP/1.1) or RFC 9110 (HTTP semantics).
 */
#include "policy/server/httpreq.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state {
    S_HEAD,       /* gathering a head */
    S_LENGTH,     /* Content-Length body */
    S_CHUNK_LINE, /* gathering a chunk-size line */
    S_CHUNK_DATA, /* a chunk's data */
    S_CHUNK_CR,   /* the CRLF after a chunk's data */
    S_CHUNK_LF,
    S_TRAILERS, /* gathering the trailer section */
    S_CLOSE,    /* a response body that ends when the connection does */
    S_ENDING,   /* END is the next step */
    S_NEXT,     /* END was returned: the next byte starts a new request */
    S_DEAD,
};

/* Empty lines a server ignores before a request line (RFC 9112 section 2.2 asks for at least
 * one: some clients send a CRLF after a POST body). */
#define LEAD_EMPTY_MAX 4

/* Requests a response parser may wait on at once (pipelining depth). */
#define PENDING_MAX 64

struct httpreq_parser {
    struct httpreq_limits lim;
    int response; /* parses responses (httpreq_new_response) */
    /* response mode: whether each request still waiting for its response was a HEAD */
    unsigned char pending[PENDING_MAX];
    size_t pending_first, pending_n;
    enum state st;
    int err, status;
    char why[320];
    uint64_t count;

    /* the head, then the trailers, as received (lim.head bytes at most) */
    char *raw;
    size_t raw_len, block_start;
    size_t line_len, lines; /* of the block being gathered */
    int cr;                 /* the last byte was a CR */
    size_t lead;            /* empty lines skipped before this request line */
    /* NUL-terminated copies: raw's bytes at the same offsets, then path, query, authority */
    char *work;
    size_t extra_len;
    struct httpreq_field *fields; /* head fields, then trailers */
    size_t n_fields;

    struct httpreq req;
    int have_req;
    uint64_t remaining; /* body bytes left: Content-Length, or the current chunk */
    char *cline;        /* a chunk-size line */
    size_t cline_len;
};

__attribute__((format(printf, 4, 5))) static int fail(struct httpreq_parser *p, int err, int status,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    p->err = err;
    /* a response cordon cannot frame is the origin's fault: the client gets a 502 */
    p->status = p->response ? 502 : status;
    p->st = S_DEAD;
    return err;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int httpreq_field_is(const char *field, const char *name)
{
    for (; *field && *name; field++, name++)
        if (lower((unsigned char)*field) != lower((unsigned char)*name))
            return 0;
    return *field == *name;
}

const char *httpreq_field(const struct httpreq *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (httpreq_field_is(r->fields[i].name, name))
            return r->fields[i].value;
    return NULL;
}

/* RFC 9110 section 5.6.2: tchar, as a table (it is asked of every byte of every name). */
#define T1(c) [c] = 1
static const unsigned char tchar[256] = {
    T1('!'), T1('#'), T1('$'), T1('%'), T1('&'), T1('\''), T1('*'), T1('+'), T1('-'), T1('.'),
    T1('^'), T1('_'), T1('`'), T1('|'), T1('~'), T1('0'),  T1('1'), T1('2'), T1('3'), T1('4'),
    T1('5'), T1('6'), T1('7'), T1('8'), T1('9'), T1('A'),  T1('B'), T1('C'), T1('D'), T1('E'),
    T1('F'), T1('G'), T1('H'), T1('I'), T1('J'), T1('K'),  T1('L'), T1('M'), T1('N'), T1('O'),
    T1('P'), T1('Q'), T1('R'), T1('S'), T1('T'), T1('U'),  T1('V'), T1('W'), T1('X'), T1('Y'),
    T1('Z'), T1('a'), T1('b'), T1('c'), T1('d'), T1('e'),  T1('f'), T1('g'), T1('h'), T1('i'),
    T1('j'), T1('k'), T1('l'), T1('m'), T1('n'), T1('o'),  T1('p'), T1('q'), T1('r'), T1('s'),
    T1('t'), T1('u'), T1('v'), T1('w'), T1('x'), T1('y'),  T1('z'),
};
#undef T1

static int is_tchar(unsigned char c)
{
    return tchar[c];
}

/* 1 when the n bytes at b are the token t (lowercase), ASCII case ignored. */
static int token_is(const char *b, size_t n, const char *t)
{
    for (size_t i = 0; i < n; i++)
        if (!t[i] || lower((unsigned char)b[i]) != t[i])
            return 0;
    return t[n] == '\0';
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* A printable rendering of s for a message: at most 40 bytes, controls as '?'. */
static const char *show(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 4 < cap && i < 40; i++)
        out[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    if (s[i] && i + 4 < cap) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

int httpreq_new(const struct httpreq_limits *lim, struct httpreq_parser **out)
{
    *out = NULL;
    struct httpreq_parser *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->lim.request_line = lim && lim->request_line ? lim->request_line : HTTPREQ_REQUEST_LINE_MAX;
    p->lim.field_line = lim && lim->field_line ? lim->field_line : HTTPREQ_FIELD_LINE_MAX;
    p->lim.fields = lim && lim->fields ? lim->fields : HTTPREQ_FIELDS_MAX;
    p->lim.head = lim && lim->head ? lim->head : HTTPREQ_HEAD_MAX;
    p->lim.chunk = lim && lim->chunk ? lim->chunk : HTTPREQ_CHUNK_MAX;
    p->raw = malloc(p->lim.head + 1);
    /* the copies of path, query and authority are shorter than the target, itself within
     * the request line */
    p->work = malloc(p->lim.head + 1 + p->lim.request_line + 8);
    p->fields = calloc(2 * p->lim.fields, sizeof *p->fields);
    p->cline = malloc(p->lim.field_line + 1);
    if (!p->raw || !p->work || !p->fields || !p->cline) {
        httpreq_free(p);
        return -ENOMEM;
    }
    p->st = S_HEAD;
    *out = p;
    return 0;
}

int httpreq_new_response(const struct httpreq_limits *lim, struct httpreq_parser **out)
{
    int rc = httpreq_new(lim, out);
    if (rc == 0)
        (*out)->response = 1;
    return rc;
}

int httpreq_expect(struct httpreq_parser *p, int head)
{
    if (!p->response)
        return -EINVAL;
    if (p->pending_n == PENDING_MAX)
        return -ENOSPC;
    p->pending[(p->pending_first + p->pending_n) % PENDING_MAX] = (unsigned char)!!head;
    p->pending_n++;
    return 0;
}

int httpreq_eof(struct httpreq_parser *p, struct httpreq_step *st)
{
    st->event = HTTPREQ_MORE;
    st->used = 0;
    st->data = NULL;
    st->len = 0;
    switch (p->st) {
    case S_DEAD:
        return p->err;
    case S_CLOSE:
    case S_ENDING:
        p->count++;
        p->st = S_NEXT;
        st->event = HTTPREQ_END;
        return 0;
    case S_NEXT:
        return 0;
    case S_HEAD:
        if (p->raw_len == 0 && !p->cr)
            return 0;
        return fail(p, -EPIPE, 400, "the connection closed inside a %s's head",
                    p->response ? "response" : "request");
    default:
        return fail(p, -EPIPE, 400, "the connection closed inside a %s's body",
                    p->response ? "response" : "request");
    }
}

void httpreq_free(struct httpreq_parser *p)
{
    if (!p)
        return;
    free(p->raw);
    free(p->work);
    free(p->fields);
    free(p->cline);
    free(p);
}

const struct httpreq *httpreq_request(const struct httpreq_parser *p)
{
    return p->have_req ? &p->req : NULL;
}

const char *httpreq_reason(const struct httpreq_parser *p)
{
    return p->why;
}

int httpreq_status(const struct httpreq_parser *p)
{
    return p->status;
}

uint64_t httpreq_count(const struct httpreq_parser *p)
{
    return p->count;
}

static void reset(struct httpreq_parser *p)
{
    p->raw_len = p->block_start = p->line_len = p->lines = p->lead = 0;
    p->cr = 0;
    p->extra_len = 0;
    p->n_fields = 0;
    p->have_req = 0;
    memset(&p->req, 0, sizeof p->req);
    p->cline_len = 0;
}

static size_t line_max(const struct httpreq_parser *p, int trailers)
{
    return !trailers && p->lines == 0 ? p->lim.request_line : p->lim.field_line;
}

/* "request line" or "status line", for messages */
static const char *start_line(const struct httpreq_parser *p)
{
    return p->response ? "status line" : "request line";
}

static int head_too_big(struct httpreq_parser *p, int trailers)
{
    return fail(p, -EMSGSIZE, 431,
                "the %s is larger than %zu bytes in all; send fewer or shorter fields",
                trailers      ? "head with its trailer section"
                : p->response ? "response head"
                              : "request head",
                p->lim.head);
}

static int line_too_long(struct httpreq_parser *p, int trailers)
{
    if (!trailers && p->lines == 0)
        return fail(p, -EMSGSIZE, 414, "the %s is longer than %zu bytes%s", start_line(p),
                    p->lim.request_line, p->response ? "" : "; send a shorter URL");
    return fail(p, -EMSGSIZE, 431,
                "field line %zu of the %s is longer than %zu bytes; send a shorter field", p->lines,
                trailers ? "trailer section" : "head", p->lim.field_line);
}

/*
 * Gather the lines of a head (trailers 0) or a trailer section (1) from buf. Returns 1 when
 * the block's empty line was reached (*used: the bytes up to and including it), 0 when all
 * of buf was taken and more is needed, or a failure.
 */
static int gather(struct httpreq_parser *p, const char *buf, size_t len, size_t *used, int trailers)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (!trailers && p->raw_len == 0) {
            /* before the request line: empty lines are skipped (RFC 9112 section 2.2) */
            if (p->cr) {
                if (ch != '\n')
                    return fail(p, -EBADMSG, 400,
                                "a CR not followed by LF before the %s: lines end in CRLF "
                                "(RFC 9112 section 2.2)",
                                start_line(p));
                p->cr = 0;
                continue;
            }
            if (ch == '\r') {
                if (++p->lead > LEAD_EMPTY_MAX)
                    return fail(p, -EBADMSG, 400,
                                "more than %d empty lines before the %s (RFC 9112 section 2.2 "
                                "asks a server to ignore one)",
                                LEAD_EMPTY_MAX, start_line(p));
                p->cr = 1;
                continue;
            }
        }
        if (!p->cr && ch != '\r' && ch != '\n' && ch != '\0') {
            /* a run of ordinary bytes is taken at once, and refused where reading it byte by
             * byte would have refused it, so the answer does not depend on the split */
            size_t n = 1;
            while (i + n < len && buf[i + n] != '\r' && buf[i + n] != '\n' && buf[i + n] != '\0')
                n++;
            size_t head_room = p->lim.head - p->raw_len;
            size_t line_room = line_max(p, trailers) - p->line_len;
            if (head_room < n && head_room <= line_room)
                return head_too_big(p, trailers);
            if (line_room < n)
                return line_too_long(p, trailers);
            memcpy(p->raw + p->raw_len, buf + i, n);
            p->raw_len += n;
            p->line_len += n;
            i += n - 1;
            continue;
        }
        if (p->raw_len >= p->lim.head)
            return head_too_big(p, trailers);
        p->raw[p->raw_len++] = (char)ch;
        if (p->cr) {
            /* RFC 9112 section 2.2: a bare CR is invalid; some servers read it as a line
             * end and others do not, which is how a field is hidden from one of them */
            if (ch != '\n')
                return fail(p, -EBADMSG, 400,
                            "a bare CR (not followed by LF) in line %zu of the %s: RFC 9112 "
                            "section 2.2 forbids it; end lines with CRLF",
                            p->lines + 1, trailers ? "trailer section" : "head");
            p->cr = 0;
            if (p->line_len == 0 && (trailers || p->lines > 0)) {
                *used = i + 1;
                return 1;
            }
            p->lines++;
            if (p->lines > p->lim.fields + (trailers ? 0 : 1))
                return fail(p, -EMSGSIZE, 431,
                            "more than %zu field lines in the %s; send fewer fields", p->lim.fields,
                            trailers ? "trailer section" : "head");
            p->line_len = 0;
            continue;
        }
        if (ch == '\r') {
            p->cr = 1;
            continue;
        }
        /* RFC 9112 section 2.2 lets a recipient take a lone LF as a line end; one that does
         * and one that does not disagree on where a field ends, so it is refused */
        if (ch == '\n')
            return fail(p, -EBADMSG, 400,
                        "a bare LF (not preceded by CR) in line %zu of the %s: end lines with "
                        "CRLF (RFC 9112 section 2.2)",
                        p->lines + 1, trailers ? "trailer section" : "head");
        if (ch == '\0')
            return fail(p, -EBADMSG, 400,
                        "a NUL byte in line %zu of the %s: RFC 9110 section 5.5 forbids it",
                        p->lines + 1, trailers ? "trailer section" : "head");
    }
    *used = len;
    return 0;
}

/* A NUL-terminated copy of the n bytes at s in work's extra area. */
static const char *keep(struct httpreq_parser *p, const char *s, size_t n)
{
    char *d = p->work + p->lim.head + 1 + p->extra_len;
    memcpy(d, s, n);
    d[n] = '\0';
    p->extra_len += n + 1;
    return d;
}

/*
 * One field line (NUL-terminated, CRLF removed) into p->fields. first: the first line of the
 * block, where leading whitespace is not a fold but still refused.
 */
static int parse_field(struct httpreq_parser *p, char *line, int first, int trailers)
{
    char sh[64];
    const char *where = trailers ? "trailer section" : "head";
    if (is_ows((unsigned char)line[0])) {
        if (first && !trailers)
            return fail(p, -EBADMSG, 400,
                        "whitespace between the %s and the first field: RFC 9112 section 2.2 "
                        "forbids it (a recipient may ignore that line or fold it)",
                        start_line(p));
        /* RFC 9112 section 5.2: obs-fold is not allowed outside message/http; a server
         * either refuses it or unfolds it, and a proxy that passed it on would have the
         * origin see a field the rules did not */
        return fail(p, -EBADMSG, 400,
                    "a field line of the %s starts with whitespace (obs-fold, a folded "
                    "continuation): RFC 9112 section 5.2 forbids it; send each field on one "
                    "line",
                    where);
    }
    char *c = line;
    while (is_tchar((unsigned char)*c))
        c++;
    if (c == line)
        return fail(p, -EBADMSG, 400, "a field line of the %s has no field name (\"%s\")", where,
                    show(line, sh, sizeof sh));
    if (is_ows((unsigned char)*c))
        /* RFC 9112 section 5.1: no whitespace is allowed between the field name and the
         * colon; a server MUST refuse it, since a proxy might read "Host :" as another
         * field than the origin does */
        return fail(p, -EBADMSG, 400,
                    "whitespace between the field name \"%.*s\" and its colon: RFC 9112 section "
                    "5.1 requires a server to refuse it",
                    (int)(c - line > 40 ? 40 : c - line), line);
    if (*c != ':')
        return fail(p, -EBADMSG, 400,
                    "%s in the field name of \"%s\": a field line is NAME \":\" VALUE, its name "
                    "a token (RFC 9110 section 5.1)",
                    *c ? "an invalid character" : "no colon", show(line, sh, sizeof sh));
    *c = '\0';
    char *v = c + 1, *e = v + strlen(v);
    while (is_ows((unsigned char)*v))
        v++;
    while (e > v && is_ows((unsigned char)e[-1]))
        *--e = '\0';
    for (const char *q = v; *q; q++) {
        unsigned char ch = (unsigned char)*q;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return fail(p, -EBADMSG, 400,
                        "a control character (0x%02x) in the value of %s: RFC 9110 section "
                        "5.5 forbids it",
                        ch, show(line, sh, sizeof sh));
    }
    if (p->n_fields >= 2 * p->lim.fields)
        return fail(p, -EMSGSIZE, 431, "too many fields");
    p->fields[p->n_fields].name = line;
    p->fields[p->n_fields].value = v;
    p->n_fields++;
    return 0;
}

/* The lines of raw[from, raw_len) copied into work at the same offsets, fields parsed. */
static int parse_fields(struct httpreq_parser *p, size_t from, int trailers, char **first_line)
{
    size_t n = p->raw_len - from;
    char *s = p->work + from, *end = s + n;
    memcpy(s, p->raw + from, n);
    *end = '\0';
    if (first_line) {
        char *eol = strstr(s, "\r\n"); /* gather() saw a CRLF after every line */
        *eol = '\0';
        *first_line = s;
        s = eol + 2;
    }
    for (int first = 1; s < end; first = 0) {
        char *eol = strstr(s, "\r\n");
        if (eol == s)
            break; /* the empty line */
        *eol = '\0';
        int rc = parse_field(p, s, first, trailers);
        if (rc != 0)
            return rc;
        s = eol + 2;
    }
    return 0;
}

static int is_version(const char *v)
{
    return strncmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
           v[7] >= '0' && v[7] <= '9' && v[8] == '\0';
}

/* Host and an authority: letters, digits and "-._~:[]" only (a reg-name or IP literal and a
 * port; RFC 3986 section 3.2.2 allows more, which no egress host needs). */
static int valid_authority(const char *a)
{
    if (!*a)
        return 0;
    for (const char *q = a; *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
              strchr("-._~:[]", *q)))
            return 0;
    return 1;
}

/* host[:port] of a, lowercased, with def_port when a names none, into out ("h:443"). */
static void authority_key(const char *a, const char *def_port, char *out, size_t cap)
{
    size_t n = strlen(a);
    const char *colon = strrchr(a, ':');
    if (colon && strchr(colon, ']'))
        colon = NULL; /* a colon inside an IPv6 literal */
    size_t hl = colon ? (size_t)(colon - a) : n;
    if (hl > 0 && a[hl - 1] == '.')
        hl--; /* "crm.internal." is crm.internal */
    snprintf(out, cap, "%.*s:%s", (int)hl, a, colon && colon[1] ? colon + 1 : def_port);
    for (char *q = out; *q; q++)
        *q = (char)lower((unsigned char)*q);
}

static int parse_target(struct httpreq_parser *p, char *target)
{
    char sh[64];
    struct httpreq *r = &p->req;
    for (const char *q = target; *q; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '\\')
            return fail(p, -EBADMSG, 400,
                        "the request-target \"%s\" holds %s: send it percent-encoded (RFC "
                        "3986 section 2.1)",
                        show(target, sh, sizeof sh),
                        ch == '#'    ? "a '#' (a fragment is never sent)"
                        : ch == '\\' ? "a backslash, which some servers read as '/'"
                                     : "a byte that is not printable ASCII");
    }
    const char *path = target;
    if (target[0] == '/') {
        /* origin-form, RFC 9112 section 3.2.1 */
    } else if (strcmp(target, "*") == 0) {
        if (strcmp(r->method, "OPTIONS") != 0)
            return fail(p, -EBADMSG, 400,
                        "the request-target \"*\" is for OPTIONS only (RFC 9112 section "
                        "3.2.4)");
        r->path = keep(p, "*", 1);
        return 0;
    } else if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0 ||
               strncmp(target, "HTTP://", 7) == 0 || strncmp(target, "HTTPS://", 8) == 0) {
        /* absolute-form, RFC 9112 section 3.2.2 */
        int tls = target[4] == 's' || target[4] == 'S';
        const char *a = target + (tls ? 8 : 7);
        size_t al = strcspn(a, "/?");
        if (al == 0)
            return fail(p, -EBADMSG, 400, "the absolute request-target \"%s\" names no host",
                        show(target, sh, sizeof sh));
        r->authority = keep(p, a, al);
        if (strchr(r->authority, '@'))
            return fail(p, -EBADMSG, 400,
                        "the request-target \"%s\" carries user information before '@': "
                        "RFC 9110 section 4.2.4 forbids it in http(s) URIs",
                        show(target, sh, sizeof sh));
        if (!valid_authority(r->authority))
            return fail(p, -EBADMSG, 400,
                        "the request-target's host \"%s\" is not a host name or IP literal "
                        "with an optional port",
                        show(r->authority, sh, sizeof sh));
        path = a + al;
    } else {
        return fail(p, -EBADMSG, 400,
                    "the request-target \"%s\" is neither a path (\"/...\") nor an absolute "
                    "http(s) URL (RFC 9112 section 3.2)",
                    show(target, sh, sizeof sh));
    }
    const char *qm = strchr(path, '?');
    size_t pl = qm ? (size_t)(qm - path) : strlen(path);
    r->path = pl ? keep(p, path, pl) : keep(p, "/", 1);
    r->query = qm ? keep(p, qm + 1, strlen(qm + 1)) : NULL;
    return 0;
}

static int parse_request_line(struct httpreq_parser *p, char *line)
{
    char sh[64];
    struct httpreq *r = &p->req;
    /* RFC 9112 section 3: method SP request-target SP HTTP-version, single spaces */
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
        return fail(p, -EBADMSG, 400,
                    "the request line \"%s\" is not METHOD SP TARGET SP HTTP/1.1 with single "
                    "spaces (RFC 9112 section 3)",
                    show(line, sh, sizeof sh));
    *sp1 = *sp2 = '\0';
    r->method = line;
    r->target = sp1 + 1;
    const char *version = sp2 + 1;
    for (const char *q = r->method; *q; q++)
        if (!is_tchar((unsigned char)*q))
            return fail(p, -EBADMSG, 400, "the method \"%s\" is not a token (RFC 9110 section 9.1)",
                        show(r->method, sh, sizeof sh));
    if (strcmp(version, "HTTP/1.1") == 0)
        r->minor = 1;
    else if (strcmp(version, "HTTP/1.0") == 0)
        r->minor = 0;
    else if (is_version(version))
        return fail(p, -EBADMSG, 505,
                    "%s is not HTTP/1.1 or HTTP/1.0, the versions cordon reads on a judged "
                    "host%s",
                    version,
                    strcmp(version, "HTTP/2.0") == 0
                        ? "; HTTP/2 with prior knowledge cannot be judged, let the client "
                          "use HTTP/1.1"
                        : "");
    else
        return fail(p, -EBADMSG, 400,
                    "the request line ends in \"%s\", not an HTTP version (RFC 9112 section "
                    "2.3)",
                    show(version, sh, sizeof sh));
    if (strcmp(r->method, "CONNECT") == 0)
        return fail(p, -EBADMSG, 405,
                    "CONNECT inside a judged connection would open a tunnel the rules cannot "
                    "read; connect to the host directly");
    return parse_target(p, (char *)r->target);
}

/* The codings of one Transfer-Encoding value, appended to what earlier lines gave. */
struct te {
    int n, chunked, last_chunked;
    char other[40];
};

static int parse_te(struct httpreq_parser *p, const char *v, struct te *t)
{
    char sh[64];
    const char *s = v;
    for (;;) {
        while (is_ows((unsigned char)*s))
            s++;
        const char *b = s;
        while (is_tchar((unsigned char)*s))
            s++;
        size_t n = (size_t)(s - b);
        while (is_ows((unsigned char)*s))
            s++;
        if (n == 0 || (*s && *s != ','))
            return fail(p, -EBADMSG, 400,
                        "Transfer-Encoding \"%s\" is not a list of coding names%s (RFC 9112 "
                        "section 6.1)",
                        show(v, sh, sizeof sh), *s == ';' ? " without parameters" : "");
        int is_chunked = token_is(b, n, "chunked");
        t->n++;
        t->last_chunked = is_chunked;
        if (is_chunked)
            t->chunked++;
        else if (!t->other[0])
            snprintf(t->other, sizeof t->other, "%.*s", (int)(n > 32 ? 32 : n), b);
        if (!*s)
            return 0;
        s++;
    }
}

/* RFC 9112 section 6.2: Content-Length = 1*DIGIT, into the request's framing. */
static int parse_length(struct httpreq_parser *p, const char *cl)
{
    char sh[64];
    uint64_t n = 0;
    const char *q = cl;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (n > (UINT64_MAX >> 1) / 10)
            return fail(p, -EBADMSG, 400, "Content-Length %s is too large",
                        show(cl, sh, sizeof sh));
        n = n * 10 + (uint64_t)(*q - '0');
    }
    if (q == cl || *q)
        return fail(p, -EBADMSG, 400,
                    "Content-Length \"%s\" is not one decimal number (RFC 9112 sections 6.2 "
                    "and 6.3)",
                    show(cl, sh, sizeof sh));
    p->req.body = n ? HTTPREQ_BODY_LENGTH : HTTPREQ_BODY_NONE;
    p->req.content_length = n;
    return 0;
}

/* RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ] */
static int parse_status_line(struct httpreq_parser *p, char *line)
{
    char sh[64];
    struct httpreq *r = &p->req;
    const char *l = line;
    if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
        !(l[9] >= '1' && l[9] <= '5') || !(l[10] >= '0' && l[10] <= '9') ||
        !(l[11] >= '0' && l[11] <= '9') || (l[12] != ' ' && l[12] != '\0'))
        return fail(p, -EBADMSG, 502,
                    "the status line \"%s\" is not HTTP/1.x, a space and a status code from "
                    "100 to 599 (RFC 9112 section 4)",
                    show(line, sh, sizeof sh));
    r->minor = l[7] - '0';
    r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    r->reason_phrase = l[12] ? line + 13 : line + 12;
    for (const char *q = r->reason_phrase; *q; q++)
        if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
            return fail(p, -EBADMSG, 502, "a control character in the status line's reason");
    r->method = NULL;
    return 0;
}

/*
 * A response's framing, RFC 9112 section 6.3: no body for a HEAD request's response, a 1xx,
 * 204 or 304; chunked when it is the final transfer coding; Content-Length; else the body
 * runs to the end of the connection. What the client and cordon could frame differently is
 * refused, so that the two never disagree on where the next response starts.
 */
static int response_framing(struct httpreq_parser *p, size_t n_cl, const char *cl, int has_te,
                            const struct te *te, int close, int ka)
{
    struct httpreq *r = &p->req;
    int rc;
    if (p->pending_n == 0)
        return fail(p, -EBADMSG, 502, "a response arrived with no request waiting for it");
    int head = p->pending[p->pending_first];
    r->interim = r->status < 200 && r->status != 101;
    if (!r->interim) {
        /* the final response (or the switch to another protocol) answers that request */
        p->pending_first = (p->pending_first + 1) % PENDING_MAX;
        p->pending_n--;
    }
    r->upgrade = r->status == 101;
    r->keep_alive = r->minor == 1 ? !close : ka && !close;
    if (r->status < 200 || head || r->status == 204 || r->status == 304) {
        r->body = HTTPREQ_BODY_NONE;
    } else if (has_te && n_cl) {
        /* section 6.3 (item 3): Transfer-Encoding wins, and the message "ought to be
         * handled as an error"; a client that read the length would be desynchronized */
        return fail(p, -EBADMSG, 502,
                    "the response has both Transfer-Encoding and Content-Length (RFC 9112 "
                    "section 6.3)");
    } else if (has_te && te->last_chunked) {
        if (te->chunked > 1)
            return fail(p, -EBADMSG, 502,
                        "the response's Transfer-Encoding names chunked more than once (RFC "
                        "9112 section 7.1)");
        r->body = HTTPREQ_BODY_CHUNKED;
        if (te->other[0])
            r->coding = keep(p, te->other, strlen(te->other));
    } else if (has_te) {
        /* section 6.3 (item 4): the body of a response whose last coding is not chunked
         * ends with the connection */
        r->body = HTTPREQ_BODY_CLOSE;
        r->coding = keep(p, te->other, strlen(te->other));
        r->keep_alive = 0;
    } else if (n_cl > 1) {
        return fail(p, -EBADMSG, 502,
                    "the response has more than one Content-Length field (RFC 9112 section "
                    "6.3)");
    } else if (n_cl == 1) {
        if ((rc = parse_length(p, cl)) != 0)
            return rc;
    } else {
        /* section 6.3 (item 8) */
        r->body = HTTPREQ_BODY_CLOSE;
        r->keep_alive = 0;
    }
    p->have_req = 1;
    return 0;
}

static int parse_head(struct httpreq_parser *p)
{
    char sh[64];
    struct httpreq *r = &p->req;
    char *line = NULL;
    int rc;
    if ((rc = parse_fields(p, 0, 0, &line)) != 0)
        return rc;
    if ((rc = p->response ? parse_status_line(p, line) : parse_request_line(p, line)) != 0)
        return rc;
    r->fields = p->fields;
    r->n_fields = p->n_fields;
    r->raw = p->raw;
    r->raw_len = p->raw_len;

    size_t n_host = 0, n_cl = 0;
    const char *cl = NULL;
    int has_te = 0, close = 0, ka = 0;
    struct te te = {0};
    for (size_t i = 0; i < r->n_fields; i++) {
        const char *name = r->fields[i].name, *v = r->fields[i].value;
        if (httpreq_field_is(name, "host")) {
            n_host++;
            r->host = v;
        } else if (httpreq_field_is(name, "content-length")) {
            n_cl++;
            cl = v;
        } else if (httpreq_field_is(name, "transfer-encoding")) {
            has_te = 1;
            if ((rc = parse_te(p, v, &te)) != 0)
                return rc;
        } else if (httpreq_field_is(name, "connection")) {
            /* a list of tokens; only three of them matter here */
            for (const char *s = v; *s;) {
                while (*s == ',' || is_ows((unsigned char)*s))
                    s++;
                const char *b = s;
                while (*s && *s != ',' && !is_ows((unsigned char)*s))
                    s++;
                size_t n = (size_t)(s - b);
                close |= token_is(b, n, "close");
                ka |= token_is(b, n, "keep-alive");
                r->upgrade |= token_is(b, n, "upgrade");
            }
        } else if (httpreq_field_is(name, "expect")) {
            r->expect_continue |= httpreq_field_is(v, "100-continue");
        }
    }
    if (p->response)
        return response_framing(p, n_cl, cl, has_te, &te, close, ka);
    /* RFC 9112 section 3.2: a request without Host, or with more than one, gets 400 */
    if (n_host == 0)
        return fail(p, -EBADMSG, 400,
                    "no Host field: RFC 9112 section 3.2 requires one, and cordon judges a "
                    "request by the host it names");
    if (n_host > 1)
        return fail(p, -EBADMSG, 400,
                    "more than one Host field (RFC 9112 section 3.2): servers may pick different "
                    "ones; send one");
    if (!valid_authority(r->host))
        return fail(p, -EBADMSG, 400,
                    "Host \"%s\" is not a host name or IP literal with an optional port (RFC "
                    "9112 section 3.2)",
                    show(r->host, sh, sizeof sh));
    if (r->authority) {
        /* RFC 9112 section 3.2.2 has a proxy use the target's authority and ignore Host; an
         * origin may route by Host: when the two differ, refuse rather than pick one */
        int tls = r->target[4] == 's' || r->target[4] == 'S';
        char a[300], h[300];
        authority_key(r->authority, tls ? "443" : "80", a, sizeof a);
        authority_key(r->host, tls ? "443" : "80", h, sizeof h);
        if (strcmp(a, h) != 0)
            return fail(p, -EBADMSG, 400,
                        "the request-target names host \"%s\" but Host is \"%s\": a server may "
                        "route by either (RFC 9112 section 3.2.2); send the same host in both",
                        show(r->authority, sh, sizeof sh), r->host);
    }
    if (has_te && n_cl)
        /* RFC 9112 sections 6.1 and 6.3 (item 3): a server may refuse this, and must not
         * forward both; a front and a back that frame the body by different fields is the
         * classic request smuggling of section 11.2 */
        return fail(p, -EBADMSG, 400,
                    "both Transfer-Encoding and Content-Length: servers may frame the body by "
                    "different ones (request smuggling, RFC 9112 sections 6.1, 6.3 and 11.2); "
                    "send one");
    if (has_te && r->minor == 0)
        /* RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding is faulty */
        return fail(p, -EBADMSG, 400,
                    "Transfer-Encoding in an HTTP/1.0 request: RFC 9112 section 6.1 treats its "
                    "framing as faulty; use HTTP/1.1 or Content-Length");
    if (has_te) {
        /* RFC 9112 section 6.3 (item 4): unless chunked is the final coding, the length of
         * a request body cannot be known, and the server must answer 400 */
        if (!te.last_chunked)
            return fail(p, -EBADMSG, 400,
                        "Transfer-Encoding does not end in chunked, so the body's end cannot be "
                        "found (RFC 9112 section 6.3); end the list with chunked");
        /* RFC 9112 section 7.1: chunked is applied once */
        if (te.chunked > 1)
            return fail(p, -EBADMSG, 400,
                        "Transfer-Encoding names chunked more than once (RFC 9112 section 7.1); "
                        "name it once");
        /* RFC 9112 section 6.1: a coding the server does not understand gets 501 */
        if (te.other[0])
            return fail(p, -ENOTSUP, 501,
                        "transfer coding \"%s\" is not read on a judged host, so the body "
                        "could not be judged; send the body with chunked alone or with "
                        "Content-Length",
                        te.other);
        r->body = HTTPREQ_BODY_CHUNKED;
    } else if (n_cl > 1) {
        /* RFC 9112 section 6.3 (item 5): differing values are an unrecoverable error; equal
         * ones are refused too, since what one server folds another may not */
        return fail(p, -EBADMSG, 400,
                    "more than one Content-Length field (RFC 9112 section 6.3): servers may "
                    "pick different ones; send one");
    } else if (n_cl == 1) {
        if ((rc = parse_length(p, cl)) != 0)
            return rc;
    }
    r->keep_alive = r->minor == 1 ? !close : ka && !close;
    p->have_req = 1;
    return 0;
}

/* Fields that RFC 9110 section 6.5.1 keeps out of trailers (framing, routing, request
 * modifiers, authentication, content processing): a server that merges trailers into the
 * head would act on them after the rules judged the head without them. */
static const char *const trailer_forbidden[] = {"content-length",
                                                "transfer-encoding",
                                                "host",
                                                "connection",
                                                "trailer",
                                                "content-type",
                                                "content-encoding",
                                                "cookie",
                                                "authorization",
                                                "proxy-authorization",
                                                "expect",
                                                "te",
                                                "range",
                                                "content-range",
                                                "set-cookie",
                                                "upgrade",
                                                "keep-alive",
                                                "cache-control",
                                                "max-forwards",
                                                NULL};

static int parse_trailers(struct httpreq_parser *p)
{
    size_t from = p->n_fields;
    int rc = parse_fields(p, p->block_start, 1, NULL);
    if (rc != 0)
        return rc;
    for (size_t i = from; i < p->n_fields; i++)
        for (const char *const *f = trailer_forbidden; *f; f++)
            if (httpreq_field_is(p->fields[i].name, *f)) {
                char sh[64];
                return fail(p, -EBADMSG, 400,
                            "the trailer field %s is one RFC 9110 section 6.5.1 keeps out of "
                            "trailers; send it in the head",
                            show(p->fields[i].name, sh, sizeof sh));
            }
    p->req.trailers = p->fields + from;
    p->req.n_trailers = p->n_fields - from;
    return 0;
}

static int hexval(unsigned char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* RFC 9112 section 7.1: chunk-size [ chunk-ext ] CRLF, chunk-ext per section 7.1.1. */
static int parse_chunk_line(struct httpreq_parser *p)
{
    char sh[64];
    const char *s = p->cline;
    p->cline[p->cline_len] = '\0';
    while (*s == '0' && hexval((unsigned char)s[1]) >= 0)
        s++; /* leading zeros count for nothing */
    uint64_t n = 0;
    int digits = 0;
    for (; hexval((unsigned char)*s) >= 0; s++, digits++) {
        if (digits == 16)
            /* 16 hex digits are 64 bits: one more would overflow, whatever it is */
            return fail(p, -EMSGSIZE, 400,
                        "chunk size \"%s\" does not fit in 64 bits (RFC 9112 section 7.1)",
                        show(p->cline, sh, sizeof sh));
        n = n << 4 | (uint64_t)hexval((unsigned char)*s);
    }
    if (s == p->cline)
        return fail(p, -EBADMSG, 400,
                    "chunk size \"%s\" is not a hexadecimal number (RFC 9112 section 7.1)",
                    show(p->cline, sh, sizeof sh));
    if (n > p->lim.chunk)
        return fail(p, -EMSGSIZE, 400,
                    "a chunk of %llu bytes is larger than the %llu a judged host accepts; send "
                    "smaller chunks",
                    (unsigned long long)n, (unsigned long long)p->lim.chunk);
    /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), RFC 9112 section 7.1.1 */
    while (*s) {
        while (is_ows((unsigned char)*s))
            s++;
        if (*s != ';')
            goto bad_ext;
        s++;
        while (is_ows((unsigned char)*s))
            s++;
        const char *b = s;
        while (is_tchar((unsigned char)*s))
            s++;
        if (s == b)
            goto bad_ext;
        while (is_ows((unsigned char)*s))
            s++;
        if (*s != '=')
            continue;
        s++;
        while (is_ows((unsigned char)*s))
            s++;
        if (*s == '"') {
            /* quoted-string, RFC 9110 section 5.6.4 */
            for (s++;; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch == '"')
                    break;
                if (ch == '\\') {
                    s++;
                    ch = (unsigned char)*s;
                    if (!ch || (ch < 0x20 && ch != '\t') || ch == 0x7f)
                        goto bad_ext;
                    continue;
                }
                if (!ch || (ch < 0x20 && ch != '\t') || ch == 0x7f)
                    goto bad_ext;
            }
            s++;
        } else {
            b = s;
            while (is_tchar((unsigned char)*s))
                s++;
            if (s == b)
                goto bad_ext;
        }
    }
    p->remaining = n;
    return 0;
bad_ext:
    return fail(p, -EBADMSG, 400,
                "the chunk-size line \"%s\" has something other than chunk extensions after the "
                "size (RFC 9112 sections 7.1 and 7.1.1)",
                show(p->cline, sh, sizeof sh));
}

int httpreq_feed(struct httpreq_parser *p, const char *buf, size_t len, struct httpreq_step *st)
{
    size_t off = 0, u = 0;
    int rc;
    st->event = HTTPREQ_MORE;
    st->used = 0;
    st->data = NULL;
    st->len = 0;
    for (;;) {
        switch (p->st) {
        case S_DEAD:
            return p->err;
        case S_NEXT:
            reset(p);
            p->st = S_HEAD;
            break;
        case S_ENDING:
            p->count++;
            p->st = S_NEXT;
            st->event = HTTPREQ_END;
            st->used = off;
            return 0;
        case S_HEAD:
            if ((rc = gather(p, buf + off, len - off, &u, 0)) < 0)
                return rc;
            off += u;
            st->used = off;
            if (rc == 0)
                return 0;
            if ((rc = parse_head(p)) != 0)
                return rc;
            if (p->req.body == HTTPREQ_BODY_CHUNKED) {
                p->st = S_CHUNK_LINE;
            } else if (p->req.body == HTTPREQ_BODY_LENGTH) {
                p->remaining = p->req.content_length;
                p->st = S_LENGTH;
            } else if (p->req.body == HTTPREQ_BODY_CLOSE) {
                p->st = S_CLOSE;
            } else {
                p->st = S_ENDING;
            }
            st->event = HTTPREQ_HEAD;
            return 0;
        case S_CLOSE:
            if (off == len) {
                st->used = off;
                return 0;
            }
            st->event = HTTPREQ_BODY;
            st->data = buf + off;
            st->len = len - off;
            st->used = len;
            return 0;
        case S_LENGTH:
        case S_CHUNK_DATA: {
            if (off == len) {
                st->used = off;
                return 0;
            }
            size_t n = len - off;
            if (n > p->remaining)
                n = (size_t)p->remaining;
            st->event = HTTPREQ_BODY;
            st->data = buf + off;
            st->len = n;
            st->used = off + n;
            p->remaining -= n;
            if (p->remaining == 0)
                p->st = p->st == S_LENGTH ? S_ENDING : S_CHUNK_CR;
            return 0;
        }
        case S_CHUNK_CR:
        case S_CHUNK_LF:
            if (off == len) {
                st->used = off;
                return 0;
            }
            if (buf[off] != (p->st == S_CHUNK_CR ? '\r' : '\n'))
                return fail(p, -EBADMSG, 400,
                            "a chunk's data is not followed by CRLF: its size does not match "
                            "its data (RFC 9112 section 7.1)");
            off++;
            p->st = p->st == S_CHUNK_CR ? S_CHUNK_LF : S_CHUNK_LINE;
            break;
        case S_CHUNK_LINE:
            for (;; off++) {
                if (off == len) {
                    st->used = off;
                    return 0;
                }
                unsigned char ch = (unsigned char)buf[off];
                if (p->cr) {
                    if (ch != '\n')
                        return fail(p, -EBADMSG, 400,
                                    "a bare CR in a chunk-size line: end it with CRLF (RFC "
                                    "9112 sections 2.2 and 7.1)");
                    p->cr = 0;
                    off++;
                    break;
                }
                if (ch == '\r') {
                    p->cr = 1;
                    continue;
                }
                if (ch == '\n' || ch == '\0')
                    return fail(p, -EBADMSG, 400,
                                "a %s in a chunk-size line: end it with CRLF (RFC 9112 "
                                "sections 2.2 and 7.1)",
                                ch ? "bare LF" : "NUL byte");
                if (p->cline_len >= p->lim.field_line)
                    return fail(p, -EMSGSIZE, 400,
                                "a chunk-size line is longer than %zu bytes (its extensions "
                                "are too long)",
                                p->lim.field_line);
                p->cline[p->cline_len++] = (char)ch;
            }
            if ((rc = parse_chunk_line(p)) != 0)
                return rc;
            p->cline_len = 0;
            if (p->remaining) {
                p->st = S_CHUNK_DATA;
            } else {
                /* the last chunk: the trailer section follows (RFC 9112 section 7.1.2) */
                p->st = S_TRAILERS;
                p->block_start = p->raw_len;
                p->lines = p->line_len = 0;
            }
            break;
        case S_TRAILERS:
            if ((rc = gather(p, buf + off, len - off, &u, 1)) < 0)
                return rc;
            off += u;
            if (rc == 0) {
                st->used = off;
                return 0;
            }
            if ((rc = parse_trailers(p)) != 0)
                return rc;
            p->st = S_ENDING;
            break;
        }
    }
}
