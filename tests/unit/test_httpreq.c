/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The egress tunnel's HTTP/1.1 request parser: requests come out whole however TCP splits
 * them (every split of every sample gives the same transcript), pipelined requests come out
 * one by one, and every smuggling shape of RFC 9112 and every limit is refused with the status
 * to answer and a reason naming the rule.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/httpreq.h"

/* What a parser made of the input: one line per event, then "ERR status: reason" or the
 * state the input ended in. */
struct tr {
    char *s;
    size_t len, cap;
    char body[70000];
    size_t body_len;
};

static void put(struct tr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct tr *t, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        cr_assert_not_null(t->s);
    }
    memcpy(t->s + t->len, line, (size_t)n + 1);
    t->len += (size_t)n;
}

/* Feed p one piece; 0 while the parser lives, else its error. */
static int feed(struct httpreq_parser *p, struct tr *t, const char *buf, size_t len)
{
    struct httpreq_step st;
    for (;;) {
        int rc = httpreq_feed(p, buf, len, &st);
        if (rc != 0) {
            put(t, "ERR %d: %s\n", httpreq_status(p), httpreq_reason(p));
            return rc;
        }
        cr_assert_leq(st.used, len);
        buf += st.used;
        len -= st.used;
        const struct httpreq *r = httpreq_request(p);
        switch (st.event) {
        case HTTPREQ_MORE:
            cr_assert_eq(len, 0, "MORE with %zu bytes left", len);
            return 0;
        case HTTPREQ_HEAD:
            put(t,
                "HEAD %s %s path=%s query=%s authority=%s host=%s 1.%d body=%d cl=%llu ka=%d "
                "upgrade=%d expect=%d",
                r->method, r->target, r->path, r->query ? r->query : "(none)",
                r->authority ? r->authority : "(none)", r->host, r->minor, (int)r->body,
                (unsigned long long)r->content_length, r->keep_alive, r->upgrade,
                r->expect_continue);
            for (size_t i = 0; i < r->n_fields; i++)
                put(t, " [%s: %s]", r->fields[i].name, r->fields[i].value);
            put(t, "\n");
            t->body_len = 0;
            break;
        case HTTPREQ_BODY:
            cr_assert_gt(st.len, 0);
            cr_assert_lt(t->body_len + st.len, sizeof t->body);
            memcpy(t->body + t->body_len, st.data, st.len);
            t->body_len += st.len;
            break;
        case HTTPREQ_END:
            put(t, "END body=%.*s", (int)t->body_len, t->body);
            for (size_t i = 0; i < r->n_trailers; i++)
                put(t, " [trailer %s: %s]", r->trailers[i].name, r->trailers[i].value);
            put(t, "\n");
            break;
        }
    }
}

/* The transcript of in fed at the split points cuts (sorted, n of them). */
static char *run_cuts(const char *in, size_t len, const size_t *cuts, size_t n,
                      const struct httpreq_limits *lim)
{
    struct httpreq_parser *p = NULL;
    cr_assert_eq(httpreq_new(lim, &p), 0);
    struct tr *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    put(t, "%s", "");
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        size_t to = i < n ? cuts[i] : len;
        rc = feed(p, t, in + at, to - at);
        at = to;
    }
    if (rc == 0)
        put(t, "%s\n", httpreq_request(p) ? "(in a request)" : "(between requests)");
    char *s = t->s;
    free(t);
    httpreq_free(p);
    return s;
}

static char *run(const char *in)
{
    return run_cuts(in, strlen(in), NULL, 0, NULL);
}

/* The transcript of in whole; asserts that every split in two, and byte-by-byte feeding,
 * give the same one. */
static char *run_all_splits(const char *in, size_t len)
{
    char *whole = run_cuts(in, len, NULL, 0, NULL);
    for (size_t k = 1; k < len; k++) {
        char *s = run_cuts(in, len, &k, 1, NULL);
        cr_assert_str_eq(s, whole, "split at %zu differs", k);
        free(s);
    }
    size_t *cuts = malloc(sizeof *cuts * (len ? len : 1));
    for (size_t k = 1; k < len; k++)
        cuts[k - 1] = k;
    char *s = run_cuts(in, len, cuts, len ? len - 1 : 0, NULL);
    cr_assert_str_eq(s, whole, "byte by byte differs");
    free(s);
    free(cuts);
    return whole;
}

static void expect_refused(const char *in, int status, const char *why)
{
    char *s = run(in);
    char want[64];
    snprintf(want, sizeof want, "ERR %d: ", status);
    cr_assert(strstr(s, want), "expected a %d refusal, got:\n%s", status, s);
    cr_assert(strstr(s, why), "expected a reason with \"%s\", got:\n%s", why, s);
    free(s);
}

Test(httpreq, a_simple_get)
{
    char *s = run("GET /api/orders/7?x=1 HTTP/1.1\r\nHost: crm.internal\r\nAccept: */*\r\n\r\n");
    cr_assert_str_eq(s, "HEAD GET /api/orders/7?x=1 path=/api/orders/7 query=x=1 authority=(none) "
                        "host=crm.internal 1.1 body=0 cl=0 ka=1 upgrade=0 expect=0 [Host: "
                        "crm.internal] [Accept: */*]\nEND body=\n(between requests)\n");
    free(s);
}

Test(httpreq, field_values_lose_surrounding_whitespace_only)
{
    char *s = run("GET / HTTP/1.1\r\nHost:crm.internal\r\nX-A: \t a  b \t\r\nX-Empty:\r\n\r\n");
    cr_assert(strstr(s, "[Host: crm.internal] [X-A: a  b] [X-Empty: ]"), "%s", s);
    free(s);
}

Test(httpreq, pipelined_requests_in_one_buffer)
{
    const char *in = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                     "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                     "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n2;ext=\"q v\"\r\nde\r\n0\r\nX-Sum: 1\r\n\r\n"
                     "\r\nGET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    char *s = run_all_splits(in, strlen(in));
    const char *want[] = {"HEAD GET /a ",
                          "END body=\n",
                          "HEAD POST /b ",
                          "body=1 cl=5 ka=1",
                          "END body=hello\n",
                          "HEAD PUT /c ",
                          "body=2",
                          "END body=abcde [trailer "
                          "X-Sum: 1]\n",
                          "HEAD GET /d ",
                          "ka=0",
                          "(between requests)"};
    const char *at = s;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *f = strstr(at, want[i]);
        cr_assert_not_null(f, "missing \"%s\" (in order) in:\n%s", want[i], s);
        at = f + strlen(want[i]);
    }
    cr_assert_null(strstr(s, "ERR"), "%s", s);
    free(s);
}

Test(httpreq, every_split_of_every_sample_gives_the_same_result)
{
    const char *samples[] = {
        "GET http://crm.internal/api?q=1 HTTP/1.1\r\nHost: CRM.internal:80\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\nhello "
        "world",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "00000a\r\n0123456789\r\n1 ; a ; b = c\r\nZ\r\n0\r\n\r\n",
        "OPTIONS * HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
        /* refused ones too: the error comes at the same point whatever the split */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdef\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        free(run_all_splits(samples[i], strlen(samples[i])));
}

Test(httpreq, http10_closes_unless_kept_alive_and_11_closes_on_close)
{
    char *s = run("GET / HTTP/1.0\r\nHost: h\r\n\r\n");
    cr_assert(strstr(s, "1.0 body=0 cl=0 ka=0"), "%s", s);
    free(s);
    s = run("GET / HTTP/1.0\r\nHost: h\r\nConnection: Keep-Alive\r\n\r\n");
    cr_assert(strstr(s, "ka=1"), "%s", s);
    free(s);
    s = run("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n");
    cr_assert(strstr(s, "ka=0"), "%s", s);
    free(s);
    s = run("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    cr_assert(strstr(s, "upgrade=1"), "%s", s);
    free(s);
}

Test(httpreq, leading_empty_lines_are_skipped_a_few_only)
{
    char *s = run("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(strstr(s, "HEAD GET / "), "%s", s);
    free(s);
    expect_refused("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                   "empty lines before the request line");
}

/* ---- request smuggling (RFC 9112 section 11.2) ---- */

Test(httpreq, content_length_with_transfer_encoding)
{
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n",
                   400, "both Transfer-Encoding and Content-Length");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                   "3\r\n\r\n",
                   400, "sections 6.1, 6.3 and 11.2");
}

Test(httpreq, duplicate_or_differing_content_length)
{
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
                   400, "more than one Content-Length");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\n",
                   400, "more than one Content-Length");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n", 400,
                   "not one decimal number");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", 400,
                   "not one decimal number");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400,
                   "not one decimal number");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
                   400, "too large");
}

Test(httpreq, transfer_encoding_other_than_a_final_chunked)
{
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
                   "does not end in chunked");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
                   "section 6.3");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                   "transfer coding \"gzip\"");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   400, "more than once");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400,
                   "does not end in chunked");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400,
                   "without parameters");
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked\r\n\r\n", 400,
                   "not a list of coding names");
    expect_refused("POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                   "HTTP/1.0");
    /* case-blind, as coding names are */
    char *s = run("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n");
    cr_assert(strstr(s, "END body="), "%s", s);
    free(s);
}

Test(httpreq, obs_fold_bare_cr_bare_lf_and_space_before_colon)
{
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400, "section 5.2");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", 400, "obs-fold");
    expect_refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, "section 2.2");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rX-B: b\r\n\r\n", 400, "bare CR");
    expect_refused("GET / HTTP/1.1\rHost: h\r\n\r\n", 400, "bare CR");
    expect_refused("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\n\r\n", 400, "bare LF");
    expect_refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "section 5.1");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400,
                   "between the field name \"Transfer-Encoding\" and its colon");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", 400, "no colon");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400, "no field name");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX(A): v\r\n\r\n", 400, "invalid character");
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", 400, "control character");
}

Test(httpreq, a_nul_byte_is_refused)
{
    const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    char *s = run_cuts(in, sizeof in - 1, NULL, 0, NULL);
    cr_assert(strstr(s, "ERR 400: a NUL byte"), "%s", s);
    free(s);
}

Test(httpreq, host_missing_repeated_or_disagreeing)
{
    expect_refused("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "no Host field");
    expect_refused("GET / HTTP/1.0\r\n\r\n", 400, "no Host field");
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "more than one Host");
    expect_refused("GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, "is not a host name");
    expect_refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "is not a host name");
    expect_refused("GET http://crm.internal/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400,
                   "section 3.2.2");
    expect_refused("GET http://crm.internal:8080/ HTTP/1.1\r\nHost: crm.internal\r\n\r\n", 400,
                   "but Host is \"crm.internal\"");
    expect_refused("GET http://user@crm.internal/ HTTP/1.1\r\nHost: crm.internal\r\n\r\n", 400,
                   "user information");
    expect_refused("GET http:///x HTTP/1.1\r\nHost: crm.internal\r\n\r\n", 400, "names no host");
    /* the same authority in other spellings agrees */
    char *s = run("GET https://CRM.Internal./x?y HTTP/1.1\r\nHost: crm.internal:443\r\n\r\n");
    cr_assert(strstr(s, "path=/x query=y authority=CRM.Internal. host=crm.internal:443"), "%s", s);
    free(s);
    s = run("GET http://crm.internal HTTP/1.1\r\nHost: crm.internal\r\n\r\n");
    cr_assert(strstr(s, "path=/ query=(none)"), "%s", s);
    free(s);
}

Test(httpreq, request_lines_and_targets)
{
    expect_refused("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "single spaces");
    expect_refused("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "single spaces");
    expect_refused("GET /\r\nHost: h\r\n\r\n", 400, "single spaces");
    expect_refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/2");
    expect_refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "prior knowledge");
    expect_refused("GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400, "not an HTTP version");
    expect_refused("G<T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "not a token");
    expect_refused("CONNECT crm.internal:443 HTTP/1.1\r\nHost: crm.internal:443\r\n\r\n", 405,
                   "CONNECT");
    expect_refused("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "OPTIONS only");
    expect_refused("GET crm.internal:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "neither a path");
    expect_refused("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment");
    expect_refused("GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "backslash");
    expect_refused("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "not printable ASCII");
}

/* ---- chunked bodies ---- */

Test(httpreq, chunk_sizes_that_do_not_fit_or_are_not_hex)
{
    const char *head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct {
        const char *body, *why;
        int status;
    } cases[] = {
        {"10000000000000000\r\n", "does not fit in 64 bits", 400}, /* 2^64 */
        {"ffffffffffffffff\r\n", "larger than the", 400},          /* 2^64 - 1 */
        {"1ffffffffffffffff1\r\n", "does not fit in 64 bits", 400},
        {"g\r\n", "not a hexadecimal number", 400},
        {"-1\r\n", "not a hexadecimal number", 400},
        {" 5\r\n", "not a hexadecimal number", 400},
        {"5 \r\nabcde\r\n", "other than chunk extensions", 400},
        {"5;\r\n", "other than chunk extensions", 400},
        {"5;a=\r\n", "other than chunk extensions", 400},
        {"5;a=\"x\r\n", "other than chunk extensions", 400},
        {"5x\r\n", "other than chunk extensions", 400},
        {"5\nabcde\r\n", "bare LF", 400},
        {"5\rabcde\r\n", "bare CR", 400},
        {"5\r\nabcdefg\r\n", "not followed by CRLF", 400},
        {"5\r\nabcde\n0\r\n\r\n", "not followed by CRLF", 400},
        {"0\r\nContent-Length: 5\r\n\r\n", "keeps out of trailers", 400},
        {"0\r\nHost: evil\r\n\r\n", "keeps out of trailers", 400},
        {"0\r\n folded\r\n\r\n", "obs-fold", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[512];
        snprintf(in, sizeof in, "%s%s", head, cases[i].body);
        char *s = run(in);
        char want[32];
        snprintf(want, sizeof want, "ERR %d: ", cases[i].status);
        cr_assert(strstr(s, want) && strstr(s, cases[i].why), "case %zu (%s): %s", i, cases[i].body,
                  s);
        free(s);
    }
    /* leading zeros count for nothing: 17 digits, the value 16 */
    char in[256];
    snprintf(in, sizeof in, "%s00000000000000010\r\n0123456789abcdef\r\n0\r\n\r\n", head);
    char *s = run(in);
    cr_assert(strstr(s, "END body=0123456789abcdef\n"), "%s", s);
    free(s);
}

Test(httpreq, chunk_limit_is_configurable)
{
    struct httpreq_limits lim = {.chunk = 4};
    const char *in =
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n";
    char *s = run_cuts(in, strlen(in), NULL, 0, &lim);
    cr_assert(strstr(s, "ERR 400: a chunk of 5 bytes is larger than the 4"), "%s", s);
    free(s);
}

/* ---- limits ---- */

Test(httpreq, a_one_megabyte_header_line_is_refused_early)
{
    size_t n = 1 << 20;
    char *in = malloc(n + 64);
    int o = snprintf(in, n + 64, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(in + o, 'a', n);
    memcpy(in + o + n, "\r\n\r\n", 5);
    struct httpreq_parser *p = NULL;
    cr_assert_eq(httpreq_new(NULL, &p), 0);
    struct httpreq_step st;
    int rc = httpreq_feed(p, in, strlen(in), &st);
    cr_assert_eq(rc, -EMSGSIZE);
    cr_assert_eq(httpreq_status(p), 431);
    cr_assert(strstr(httpreq_reason(p), "longer than 8192 bytes"), "%s", httpreq_reason(p));
    /* dead stays dead */
    cr_assert_eq(httpreq_feed(p, "x", 1, &st), -EMSGSIZE);
    httpreq_free(p);
    free(in);
}

Test(httpreq, a_long_request_line_is_414)
{
    size_t n = 9000;
    char *in = malloc(n + 64);
    memcpy(in, "GET /", 5);
    memset(in + 5, 'a', n);
    memcpy(in + 5 + n, " HTTP/1.1\r\nHost: h\r\n\r\n", 23);
    char *s = run(in);
    cr_assert(strstr(s, "ERR 414: the request line is longer than 8192"), "%s", s);
    free(s);
    free(in);
}

Test(httpreq, ten_thousand_headers_are_refused)
{
    size_t cap = 10000 * 16 + 64;
    char *in = malloc(cap);
    size_t o = (size_t)snprintf(in, cap, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 10000; i++)
        o += (size_t)snprintf(in + o, cap - o, "X-%d: v\r\n", i);
    snprintf(in + o, cap - o, "\r\n");
    char *s = run(in);
    cr_assert(strstr(s, "ERR 431: more than 100 field lines in the head"), "%s", s);
    free(s);
    free(in);
}

Test(httpreq, the_head_as_a_whole_is_bounded)
{
    struct httpreq_limits lim = {.head = 100};
    const char *in =
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789012345678901234567890123456789\r\n"
        "X-B: 0123456789012345678901234567890123456789\r\n\r\n";
    char *s = run_cuts(in, strlen(in), NULL, 0, &lim);
    cr_assert(strstr(s, "ERR 431: the request head is larger than 100 bytes"), "%s", s);
    free(s);
}

Test(httpreq, the_raw_head_is_kept_for_forwarding)
{
    const char *in = "\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\nbody";
    struct httpreq_parser *p = NULL;
    cr_assert_eq(httpreq_new(NULL, &p), 0);
    struct httpreq_step st;
    cr_assert_eq(httpreq_feed(p, in, strlen(in), &st), 0);
    cr_assert_eq(st.event, HTTPREQ_HEAD);
    cr_assert_eq(st.used, strlen(in) - 4);
    const struct httpreq *r = httpreq_request(p);
    cr_assert_eq(r->raw_len, strlen(in) - 6);
    cr_assert_eq(memcmp(r->raw, in + 2, r->raw_len), 0);
    cr_assert_str_eq(httpreq_field(r, "HOST"), "h");
    cr_assert_null(httpreq_field(r, "cookie"));
    cr_assert_eq(httpreq_feed(p, in + st.used, 4, &st), 0);
    cr_assert_eq(st.event, HTTPREQ_END);
    cr_assert_eq(st.used, 0);
    cr_assert_eq(httpreq_count(p), 1);
    httpreq_free(p);
}

/* ---- responses ---- */

/* The transcript of a response stream fed at one split point (0: whole), for requests whose
 * HEAD-ness heads gives, then the connection's end when eof. */
static char *run_resp(const char *in, size_t len, size_t cut, const char *heads, int eof)
{
    struct httpreq_parser *p = NULL;
    cr_assert_eq(httpreq_new_response(NULL, &p), 0);
    for (const char *h = heads; *h; h++)
        cr_assert_eq(httpreq_expect(p, *h == 'H'), 0);
    struct tr *t = calloc(1, sizeof *t);
    put(t, "%s", "");
    size_t pieces[2][2] = {{0, cut ? cut : len}, {cut ? cut : len, len}};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        const char *buf = in + pieces[k][0];
        size_t n = pieces[k][1] - pieces[k][0];
        struct httpreq_step st;
        for (;;) {
            rc = httpreq_feed(p, buf, n, &st);
            if (rc != 0) {
                put(t, "ERR %d: %s\n", httpreq_status(p), httpreq_reason(p));
                break;
            }
            buf += st.used;
            n -= st.used;
            const struct httpreq *r = httpreq_request(p);
            if (st.event == HTTPREQ_MORE)
                break;
            if (st.event == HTTPREQ_HEAD) {
                put(t, "HEAD %d %s 1.%d body=%d cl=%llu ka=%d interim=%d upgrade=%d coding=%s\n",
                    r->status, r->reason_phrase, r->minor, (int)r->body,
                    (unsigned long long)r->content_length, r->keep_alive, r->interim, r->upgrade,
                    r->coding ? r->coding : "(none)");
                t->body_len = 0;
            } else if (st.event == HTTPREQ_BODY) {
                memcpy(t->body + t->body_len, st.data, st.len);
                t->body_len += st.len;
            } else {
                put(t, "END body=%.*s\n", (int)t->body_len, t->body);
            }
        }
    }
    if (rc == 0 && eof) {
        struct httpreq_step st;
        rc = httpreq_eof(p, &st);
        if (rc != 0)
            put(t, "EOF ERR: %s\n", httpreq_reason(p));
        else
            put(t, "EOF %s body=%.*s\n", st.event == HTTPREQ_END ? "END" : "clean",
                (int)t->body_len, t->body);
    }
    char *s = t->s;
    free(t);
    httpreq_free(p);
    return s;
}

static char *resp_all_splits(const char *in, const char *heads, int eof)
{
    size_t len = strlen(in);
    char *whole = run_resp(in, len, 0, heads, eof);
    for (size_t k = 1; k < len; k++) {
        char *s = run_resp(in, len, k, heads, eof);
        cr_assert_str_eq(s, whole, "split at %zu differs", k);
        free(s);
    }
    return whole;
}

Test(httpresp, pipelined_responses_are_framed_by_their_requests)
{
    const char *in = "HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                     "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" /* to a HEAD: no body */
                     "HTTP/1.1 204 No Content\r\n\r\n"
                     "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n"
                     "HTTP/1.0 200\r\n\r\nuntil the end";
    char *s = resp_all_splits(in, "GHGGG", 1);
    cr_assert_str_eq(s, "HEAD 100 Continue 1.1 body=0 cl=0 ka=1 interim=1 upgrade=0 coding=(none)\n"
                        "END body=\n"
                        "HEAD 200 OK 1.1 body=1 cl=5 ka=1 interim=0 upgrade=0 coding=(none)\n"
                        "END body=hello\n"
                        "HEAD 200 OK 1.1 body=0 cl=0 ka=1 interim=0 upgrade=0 coding=(none)\n"
                        "END body=\n"
                        "HEAD 204 No Content 1.1 body=0 cl=0 ka=1 interim=0 upgrade=0 "
                        "coding=(none)\nEND body=\n"
                        "HEAD 404 Not Found 1.1 body=2 cl=0 ka=1 interim=0 upgrade=0 coding=gzip\n"
                        "END body=abc\n"
                        "HEAD 200  1.0 body=3 cl=0 ka=0 interim=0 upgrade=0 coding=(none)\n"
                        "EOF END body=until the end\n");
    free(s);
}

Test(httpresp, a_response_with_no_request_or_ambiguous_framing_is_refused)
{
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    char *s = run_resp(two, strlen(two), 0, "G", 0);
    cr_assert(strstr(s, "ERR 502: a response arrived with no request waiting for it"), "%s", s);
    free(s);
    const char *bad[][2] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         "both Transfer-Encoding and Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
         "more than one Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not one decimal number"},
        {"HTTP/1.1 20 OK\r\n\r\n", "status code from 100 to 599"},
        {"HTTP/2 200\r\n\r\n", "is not HTTP/1.x"},
        {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold"},
        {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "section 5.1"},
        {"HTTP/1.1 200 OK\rX: a\r\n\r\n", "bare CR"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = run_resp(bad[i][0], strlen(bad[i][0]), 0, "G", 0);
        cr_assert(strstr(s, "ERR 502: ") && strstr(s, bad[i][1]), "case %zu: %s", i, s);
        free(s);
    }
}

Test(httpresp, switching_protocols_and_connection_ends)
{
    char *s = run_resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                       strlen("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), 0,
                       "G", 0);
    cr_assert(strstr(s, "HEAD 101 Switching Protocols 1.1 body=0 cl=0 ka=1 interim=0 upgrade=1"),
              "%s", s);
    free(s);
    /* a close between responses is clean, one inside a framed body is not */
    s = run_resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                 strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 0, "G", 1);
    cr_assert(strstr(s, "END body=ok\nEOF clean"), "%s", s);
    free(s);
    s = run_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
                 strlen("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok"), 0, "G", 1);
    cr_assert(strstr(s, "EOF ERR: the connection closed inside a response's body"), "%s", s);
    free(s);
    s = run_resp("HTTP/1.1 200 OK\r\nContent-", strlen("HTTP/1.1 200 OK\r\nContent-"), 0, "G", 1);
    cr_assert(strstr(s, "EOF ERR: the connection closed inside a response's head"), "%s", s);
    free(s);
    struct httpreq_parser *p = NULL;
    cr_assert_eq(httpreq_new(NULL, &p), 0);
    cr_assert_eq(httpreq_expect(p, 0), -EINVAL, "a request parser waits on nothing");
    httpreq_free(p);
    cr_assert_eq(httpreq_new_response(NULL, &p), 0);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(httpreq_expect(p, 0), 0);
    cr_assert_eq(httpreq_expect(p, 0), -ENOSPC);
    httpreq_free(p);
}
