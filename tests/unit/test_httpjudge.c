/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A judged connection end to end in memory: requests the rules allow reach the origin exactly
 * as read and their responses come back; refused ones never reach the origin and get a 403
 * naming the rule, in their turn among pipelined requests, with the connection still usable;
 * unreadable requests get their 4xx and close the connection; every exchange is recorded.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data.h"
#include "policy/policy.h"
#include "policy/server/httpjudge.h"

static const struct policy_env test_env = {.vars = {"/h", "/c", "/w", "/tmp"}};

static const char *policy_text =
    "{\"cordon_policy\": 1, \"agent\": \"crm-agent\", \"sandbox\": {\"network\": {\"mode\": "
    "\"proxy\", \"allow\": [\"crm.internal:80\"], \"http\": ["
    "{\"host\": \"crm.internal:80\", \"rules\": ["
    "  {\"method\": [\"GET\", \"HEAD\"], \"path\": \"/api/orders/*\", \"action\": \"allow\"},"
    "  {\"method\": \"POST\", \"path\": \"/api/notes\", \"action\": \"allow\"},"
    "  {\"path\": \"/api/customers/export*\", \"action\": \"deny\"}"
    "], \"default\": \"deny\"}]}}}";

static struct policy *p;
static struct httprule_set *set;

#define MAXREC 128
static struct httpjudge_rec recs[MAXREC];
static char rec_paths[MAXREC][256], rec_methods[MAXREC][16], rec_classes[MAXREC][256];
static size_t nrec;

static void on_record(void *ctx, const struct httpjudge_rec *r)
{
    (void)ctx;
    cr_assert_lt(nrec, MAXREC);
    recs[nrec] = *r;
    snprintf(rec_paths[nrec], sizeof rec_paths[0], "%s", r->path);
    snprintf(rec_methods[nrec], sizeof rec_methods[0], "%s", r->method);
    recs[nrec].path = rec_paths[nrec];
    recs[nrec].method = rec_methods[nrec];
    recs[nrec].reason = "";
    snprintf(rec_classes[nrec], sizeof rec_classes[0], "%s", r->classes ? r->classes : "");
    recs[nrec].classes = rec_classes[nrec];
    nrec++;
}

static void setup(void)
{
    struct diag d;
    diag_init(&d);
    cr_assert_eq(policy_load(policy_text, strlen(policy_text), &test_env, &p, &d), 0, "%s: %s",
                 d.e[0].path, d.e[0].msg);
    char err[256] = "";
    cr_assert_eq(httprule_compile(p, &set, err, sizeof err), 0, "%s", err);
    nrec = 0;
}

static void teardown(void)
{
    httprule_free(set);
    policy_free(p);
}

TestSuite(httpjudge, .init = setup, .fini = teardown);

static struct httpjudge *judge_new(int observe)
{
    struct httpjudge_conf c = {.policy = p,
                               .rules = set,
                               .entry = 0,
                               .host = "crm.internal",
                               .port = 80,
                               .default_port = 80,
                               .agent = "crm-agent",
                               .policy_version = 3,
                               .observe = observe,
                               .record = on_record};
    struct httpjudge *j = NULL;
    cr_assert_eq(httpjudge_new(&c, &j), 0);
    return j;
}

/* Take everything the judge has for one side into a growing string. */
static void drain(struct httpjudge *j, int origin, char *out, size_t cap)
{
    size_t n, have = strlen(out);
    const char *b = origin ? httpjudge_to_origin(j, &n) : httpjudge_to_client(j, &n);
    cr_assert_lt(have + n, cap, "output overflows the test buffer");
    memcpy(out + have, b, n);
    out[have + n] = '\0';
    if (origin)
        httpjudge_sent_origin(j, n);
    else
        httpjudge_sent_client(j, n);
}

/* Feed the client's bytes in pieces of step (0: all at once). */
static void client(struct httpjudge *j, const char *s, size_t step)
{
    size_t len = strlen(s), pos = 0;
    while (pos < len) {
        size_t n = step && len - pos > step ? step : len - pos, used;
        cr_assert_eq(httpjudge_from_client(j, s + pos, n, &used), 0);
        if (used == 0)
            break;
        pos += used;
    }
}

static void origin_n(struct httpjudge *j, const char *s, size_t n)
{
    size_t used;
    cr_assert_eq(httpjudge_from_origin(j, s, n, &used), 0);
    cr_assert_eq(used, n);
}

static void origin(struct httpjudge *j, const char *s)
{
    origin_n(j, s, strlen(s));
}

#define GET_ORDER "GET /api/orders/17 HTTP/1.1\r\nHost: crm.internal\r\n\r\n"
#define GET_EXPORT "GET /api/customers/export HTTP/1.1\r\nHost: crm.internal\r\n\r\n"
#define OK_RESP "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\norder"

Test(httpjudge, allowed_request_reaches_the_origin_and_its_response_comes_back)
{
    struct httpjudge *j = judge_new(0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, GET_ORDER);
    origin(j, OK_RESP);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, OK_RESP);
    cr_assert_eq(nrec, 1);
    cr_assert(recs[0].allowed && recs[0].forwarded && recs[0].status == 200 && recs[0].rule == 0);
    cr_assert_str_eq(rec_paths[0], "/api/orders/17");
    cr_assert_eq(recs[0].bytes_down, strlen(OK_RESP));
    cr_assert_not(httpjudge_done(j));
    httpjudge_free(j);
}

Test(httpjudge, refused_request_never_reaches_the_origin_and_names_its_rule)
{
    struct httpjudge *j = judge_new(0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j, GET_EXPORT, 0);
    drain(j, 1, to_o, sizeof to_o);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_o, "");
    cr_assert(strncmp(to_c, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "%s", to_c);
    cr_assert(strstr(to_c, "X-Cordon-Rule: sandbox.network.http[0].rules[2]\r\n"), "%s", to_c);
    cr_assert(strstr(to_c, "/api/customers/export") && strstr(to_c, "crm-agent"), "%s", to_c);
    cr_assert_not(strstr(to_c, "Connection: close"), "a refusal keeps the connection: %s", to_c);
    cr_assert_eq(nrec, 1);
    cr_assert(!recs[0].allowed && !recs[0].forwarded && recs[0].status == 403);
    cr_assert_eq(recs[0].rule, 2);
    httpjudge_free(j);
}

Test(httpjudge, encoded_and_dotted_spellings_are_judged_as_what_they_are)
{
    static const char *const tricks[] = {
        "GET /api/%63ustomers/export HTTP/1.1\r\nHost: crm.internal\r\n\r\n",
        "GET /api/orders/../customers/export HTTP/1.1\r\nHost: crm.internal\r\n\r\n",
        "GET /api//customers/./export HTTP/1.1\r\nHost: crm.internal\r\n\r\n",
        "GET /api/orders/%2e%2e/customers/export HTTP/1.1\r\nHost: crm.internal\r\n\r\n",
        "GET /api/orders%2F..%2Fcustomers/export HTTP/1.1\r\nHost: crm.internal\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
        struct httpjudge *j = judge_new(0);
        static char to_o[4096], to_c[4096];
        to_o[0] = to_c[0] = '\0';
        client(j, tricks[i], 0);
        drain(j, 1, to_o, sizeof to_o);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert_str_eq(to_o, "", "%s reached the origin", tricks[i]);
        cr_assert(strncmp(to_c, "HTTP/1.1 4", 10) == 0, "%s: %s", tricks[i], to_c);
        httpjudge_free(j);
    }
}

Test(httpjudge, a_refusal_takes_its_turn_among_pipelined_requests)
{
    struct httpjudge *j = judge_new(0);
    static char to_o[8192], to_c[8192];
    to_o[0] = to_c[0] = '\0';
    client(j, GET_ORDER GET_EXPORT GET_ORDER, 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, GET_ORDER GET_ORDER);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, "", "the refusal waits for the first response");
    origin(j, OK_RESP);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, OK_RESP "HTTP/1.1 403 ", strlen(OK_RESP) + 13) == 0, "%s", to_c);
    origin(j, OK_RESP);
    to_c[0] = '\0';
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, OK_RESP);
    cr_assert_eq(nrec, 3);
    cr_assert(recs[0].status == 200 && recs[1].status == 403 && recs[2].status == 200);
    /* and the connection goes on */
    client(j, GET_ORDER, 0);
    to_o[0] = '\0';
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, GET_ORDER);
    httpjudge_free(j);
}

/* The payload of the chunked body that starts at s (after its head's blank line); NULL when
 * the chunks are not well formed. */
static char *dechunk(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char *end;
        unsigned long len = strtoul(s, &end, 16);
        if (end == s || strncmp(end, "\r\n", 2) != 0)
            return NULL;
        s = end + 2;
        if (len == 0)
            break;
        if (n + len >= cap || strlen(s) < len + 2 || strncmp(s + len, "\r\n", 2) != 0)
            return NULL;
        memcpy(out + n, s, len);
        n += len;
        s += len + 2;
    }
    out[n] = '\0';
    return strncmp(s, "\r\n", 2) == 0 ? out : NULL;
}

Test(httpjudge, bodies_are_reframed_and_a_refused_body_is_dropped)
{
    static char to_o[16384];
    const char *chunked =
        "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    const char *refused = "POST /api/customers/export HTTP/1.1\r\nHost: crm.internal\r\n"
                          "Content-Length: 11\r\n\r\nall records";
    const char *sized = "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\n"
                        "Content-Length: 4\r\n\r\nnote";
    char all[1024];
    snprintf(all, sizeof all, "%s%s%s", chunked, refused, sized);
    for (size_t step = 0; step <= 7; step++) {
        struct httpjudge *j = judge_new(0);
        to_o[0] = '\0';
        client(j, all, step);
        drain(j, 1, to_o, sizeof to_o);
        const char *head = "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
        cr_assert(strncmp(to_o, head, strlen(head)) == 0, "step %zu: %s", step, to_o);
        char body[64];
        cr_assert(dechunk(to_o + strlen(head), body, sizeof body), "step %zu: %s", step, to_o);
        cr_assert_str_eq(body, "abcde", "step %zu", step);
        cr_assert_not(strstr(to_o, "ext=1"), "step %zu: a chunk extension went on", step);
        cr_assert_not(strstr(to_o, "all records"), "step %zu: a refused body went on", step);
        const char *tail = strstr(to_o, "0\r\n\r\nPOST ");
        cr_assert(tail, "step %zu: %s", step, to_o);
        cr_assert_str_eq(tail + 5, sized, "step %zu", step);
        httpjudge_free(j);
    }
}

Test(httpjudge, smuggling_shapes_are_refused_and_close_the_connection)
{
    static const char *const bad[] = {
        "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 4\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 4\r\n"
        "Content-Length: 5\r\n\r\nabcde",
        "GET /api/orders/1 HTTP/1.1\r\nHost: crm.internal\r\nX: a\r\n b\r\n\r\n",
        "GET /api/orders/1 HTTP/1.1\r\nHost: crm.internal\rX: y\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct httpjudge *j = judge_new(0);
        static char to_o[4096], to_c[4096];
        to_o[0] = to_c[0] = '\0';
        client(j, bad[i], 0);
        drain(j, 1, to_o, sizeof to_o);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert_str_eq(to_o, "", "case %zu reached the origin", i);
        cr_assert(strncmp(to_c, "HTTP/1.1 400 ", 13) == 0, "case %zu: %s", i, to_c);
        cr_assert(strstr(to_c, "Connection: close"), "case %zu: %s", i, to_c);
        cr_assert(httpjudge_done(j), "case %zu", i);
        httpjudge_free(j);
    }
}

Test(httpjudge, host_that_differs_from_the_tunnel_is_refused)
{
    struct httpjudge *j = judge_new(0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j, "GET /api/orders/1 HTTP/1.1\r\nHost: other.internal\r\n\r\n", 0);
    drain(j, 1, to_o, sizeof to_o);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_o, "");
    cr_assert(strncmp(to_c, "HTTP/1.1 421 Misdirected Request\r\n", 34) == 0, "%s", to_c);
    cr_assert(strstr(to_c, "X-Cordon-Rule: http.host\r\n"), "%s", to_c);
    httpjudge_free(j);
}

Test(httpjudge, an_http10_keep_alive_client_is_told_it_stays_connected)
{
    struct httpjudge *j = judge_new(0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j,
           "GET /api/customers/export HTTP/1.0\r\nHost: crm.internal\r\nConnection: "
           "keep-alive\r\n\r\n",
           0);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strstr(to_c, "Connection: keep-alive\r\n"), "%s", to_c);
    cr_assert_not(httpjudge_done(j));
    httpjudge_free(j);
}

Test(httpjudge, observe_mode_forwards_and_records_what_enforce_would_do)
{
    struct httpjudge *j = judge_new(1);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j, GET_EXPORT, 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, GET_EXPORT);
    origin(j, OK_RESP);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, OK_RESP);
    cr_assert_eq(nrec, 1);
    cr_assert(!recs[0].allowed && recs[0].forwarded && recs[0].status == 200);
    httpjudge_free(j);
}

Test(httpjudge, chunked_response_and_head_and_interim_pass_intact)
{
    struct httpjudge *j = judge_new(0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j, "HEAD /api/orders/1 HTTP/1.1\r\nHost: crm.internal\r\n\r\n" GET_ORDER, 0);
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    origin(j, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "4\r\nabcd\r\n0\r\nT: v\r\n\r\n");
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
                           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n4\r\nabcd\r\n0\r\nT: v\r\n\r\n");
    cr_assert_eq(nrec, 2);
    httpjudge_free(j);
}

Test(httpjudge, origin_failures_become_a_502_or_a_cut)
{
    struct httpjudge *j = judge_new(0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    cr_assert_eq(httpjudge_origin_eof(j), 0);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 502 ", 13) == 0, "%s", to_c);
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);

    j = judge_new(0);
    to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd");
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 502 ", 13) == 0, "%s", to_c);
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);

    j = judge_new(0);
    to_c[0] = '\0';
    origin(j, OK_RESP); /* nobody asked */
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);
}

Test(httpjudge, upgrades_and_connect_are_refused_even_in_observe_mode)
{
    struct httpjudge *j = judge_new(1);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "GET /api/orders/1 HTTP/1.1\r\nHost: crm.internal\r\nConnection: upgrade\r\n"
           "Upgrade: websocket\r\n\r\n",
           0);
    drain(j, 1, to_o, sizeof to_o);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_o, "");
    cr_assert(strncmp(to_c, "HTTP/1.1 403 ", 13) == 0, "%s", to_c);
    httpjudge_free(j);
}

Test(httpjudge, pipelining_is_bounded_and_resumes)
{
    struct httpjudge *j = judge_new(0);
    size_t n = HTTPJUDGE_PIPELINE_MAX + 5, len = strlen(GET_ORDER);
    char *all = malloc(n * len + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(all + i * len, GET_ORDER, len);
    all[n * len] = '\0';
    size_t used;
    cr_assert_eq(httpjudge_from_client(j, all, n * len, &used), 0);
    cr_assert_eq(used, HTTPJUDGE_PIPELINE_MAX * len, "took %zu bytes", used);
    origin(j, OK_RESP);
    size_t more;
    cr_assert_eq(httpjudge_from_client(j, all + used, n * len - used, &more), 0);
    cr_assert_eq(more, len);
    free(all);
    httpjudge_free(j);
    cr_assert_eq(nrec, HTTPJUDGE_PIPELINE_MAX + 1, "every request is recorded, cut ones too");
}

Test(httpjudge, connection_close_ends_the_exchange)
{
    struct httpjudge *j = judge_new(0);
    client(
        j,
        "GET /api/orders/1 HTTP/1.1\r\nHost: crm.internal\r\nConnection: close\r\n\r\n" GET_ORDER,
        0);
    size_t n;
    httpjudge_to_origin(j, &n);
    cr_assert_eq(n,
                 strlen("GET /api/orders/1 HTTP/1.1\r\nHost: crm.internal\r\nConnection: "
                        "close\r\n\r\n"),
                 "nothing after the last request goes on");
    cr_assert(httpjudge_origin_over(j));
    origin(j, OK_RESP);
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);
}

Test(httpjudge, responses_in_pieces_pass_whole)
{
    const char *resp = "HTTP/1.1 200 OK\r\nServer: BaseHTTP/0.6 Python/3.11.7\r\nDate: Thu, 03 Dec "
                       "2026 12:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n\r\n"
                       "origin saw GET /api/orders/1\n";
    for (size_t step = 1; step <= 40; step += 13) {
        struct httpjudge *j = judge_new(0);
        static char to_c[4096];
        to_c[0] = '\0';
        client(j, GET_ORDER, 0);
        size_t len = strlen(resp), pos = 0;
        while (pos < len) {
            size_t n = len - pos > step ? step : len - pos, used;
            cr_assert_eq(httpjudge_from_origin(j, resp + pos, n, &used), 0);
            cr_assert_eq(used, n, "step %zu at %zu: took %zu of %zu", step, pos, used, n);
            pos += n;
        }
        drain(j, 0, to_c, sizeof to_c);
        cr_assert_str_eq(to_c, resp, "step %zu", step);
        httpjudge_free(j);
    }
}

Test(httpjudge, a_head_that_does_not_arrive_in_time_gets_408_and_a_close)
{
    struct httpjudge *j = judge_new(0);
    static char to_c[4096];
    to_c[0] = '\0';
    cr_assert_not(httpjudge_head_pending(j));
    client(j, "GET /api/orders/1 HTTP/1.1\r\nHo", 0);
    cr_assert(httpjudge_head_pending(j));
    cr_assert_eq(httpjudge_head_timeout(j), 0);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0, "%s", to_c);
    cr_assert(strstr(to_c, "Connection: close"), "%s", to_c);
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);
    /* a complete head is not pending */
    j = judge_new(0);
    client(j, GET_ORDER, 0);
    cr_assert_not(httpjudge_head_pending(j));
    httpjudge_free(j);
}

Test(httpjudge, a_bad_chunk_in_a_forwarded_body_answers_that_request_and_ends)
{
    struct httpjudge *j = judge_new(0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nTransfer-Encoding: chunked\r\n\r\n"
           "10000000000000000\r\n",
           0);
    origin(j, OK_RESP); /* what the origin says to the fragment is not passed on */
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 400 ", 13) == 0, "%s", to_c);
    cr_assert_not(strstr(to_c, "200 OK"), "%s", to_c);
    cr_assert(httpjudge_done(j) && httpjudge_origin_over(j));
    httpjudge_free(j);
}

/* scan: api.data's classes in the bodies, with the stream's holdback; two classes (card,
 * email) with an action for each direction. */
static struct data_scanner *two_scanner;
static const char *two_names[2];
static int two_act[2][2];
static struct engine_data_view two_view;
static const unsigned char test_key[32] = {1, 2, 3};
static int rewriting_observe; /* the next judge_rewriting() is in observe mode */

enum { A_ALLOW, A_LOG, A_REDACT, A_MASK, A_HASH, A_TOKENIZE, A_BLOCK };

static struct httpjudge *judge_rewriting(int card_rq, int card_rs, int mail_rq, int mail_rs,
                                         int with_key)
{
    struct data_class_spec spec[2] = {{.name = "pii.credit_card"}, {.name = "pii.email"}};
    struct data_config cfg = {.classes = spec, .n_classes = 2};
    char err[256];
    if (!two_scanner)
        cr_assert_eq(data_scanner_new(&cfg, &two_scanner, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < 2; i++) {
        two_names[i] = data_scanner_class_name(two_scanner, i);
        int card = strcmp(two_names[i], "pii.credit_card") == 0;
        two_act[0][i] = card ? card_rq : mail_rq;
        two_act[1][i] = card ? card_rs : mail_rs;
    }
    two_view = (struct engine_data_view){
        .scanner = two_scanner, .n = 2, .names = two_names, .act = {two_act[0], two_act[1]}};
    struct httpjudge_conf c = {.policy = p,
                               .rules = set,
                               .host = "crm.internal",
                               .port = 80,
                               .default_port = 80,
                               .agent = "crm-agent",
                               .data = &two_view,
                               .hash_key = with_key ? test_key : NULL,
                               .observe = rewriting_observe,
                               .record = on_record};
    rewriting_observe = 0;
    struct httpjudge *j = NULL;
    cr_assert_eq(httpjudge_new(&c, &j), 0);
    return j;
}

/* Card numbers blocked in responses, and in requests too or allowed there. */
static struct httpjudge *judge_scanning(int request_blocks)
{
    return judge_rewriting(request_blocks ? A_BLOCK : A_ALLOW, A_BLOCK, A_ALLOW, A_ALLOW, 0);
}

Test(httpjudge, scan_stops_a_card_in_a_request_body_at_every_split)
{
    const char *head =
        "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 26\r\n\r\n";
    const char *body = "card=5555555555554444&x=1\n";
    for (size_t cut = 0; cut <= strlen(body); cut++) {
        struct httpjudge *j = judge_scanning(1);
        static char to_o[4096], to_c[4096];
        to_o[0] = to_c[0] = '\0';
        char first[256];
        snprintf(first, sizeof first, "%s%.*s", head, (int)cut, body);
        client(j, first, 0);
        client(j, body + cut, 0);
        drain(j, 1, to_o, sizeof to_o);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert_not(strstr(to_o, "5555555555554444"), "cut %zu: the card reached the origin",
                      cut);
        cr_assert(strncmp(to_c, "HTTP/1.1 403 ", 13) == 0 && strstr(to_c, ".scan"), "cut %zu: %s",
                  cut, to_c);
        httpjudge_free(j);
    }
    cr_assert_str_eq(recs[nrec - 1].classes, "pii.credit_card");
}

Test(httpjudge, scan_lets_clean_bodies_through_and_cuts_a_card_in_a_response)
{
    struct httpjudge *j = judge_scanning(0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 21\r\n\r\n"
           "card=5555555555554444",
           0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert(strstr(to_o, "card=5555555555554444"), "request: allow lets it leave: %s", to_o);
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\nyour card=5555555555554444\n");
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_not(strstr(to_c, "5555555555554444"), "the card reached the client: %s", to_c);
    cr_assert(httpjudge_done(j), "the response is cut and the connection ends");
    httpjudge_free(j);
}

/* Rewriting actions: the rewritten message goes out with a length that is its own (held,
 * then Content-Length; chunked or to the close past HTTPJUDGE_HOLD_MAX), and the connection
 * stays usable. */
/* The body of the first message in s, after its head, by its own framing. */
static size_t body_of(const char *s, char *out, size_t cap)
{
    const char *b = strstr(s, "\r\n\r\n");
    cr_assert(b, "no head end in %s", s);
    b += 4;
    const char *cl = strstr(s, "Content-Length: ");
    size_t n = 0;
    if (strstr(s, "Transfer-Encoding: chunked") && strstr(s, "Transfer-Encoding: chunked") < b) {
        for (;;) {
            char *end;
            unsigned long k = strtoul(b, &end, 16);
            cr_assert(end[0] == '\r' && end[1] == '\n', "bad chunk line at %.20s", b);
            b = end + 2;
            if (k == 0)
                break;
            cr_assert_lt(n + k, cap);
            memcpy(out + n, b, k);
            n += k;
            b += k + 2;
        }
    } else if (cl && cl < b) {
        n = strtoul(cl + 16, NULL, 10);
        cr_assert_leq(n, strlen(b), "Content-Length %zu, %zu bytes follow", n, strlen(b));
        memcpy(out, b, n);
    } else {
        n = strlen(b);
        memcpy(out, b, n);
    }
    out[n] = '\0';
    return n;
}

Test(httpjudge, redact_in_a_request_body_at_every_split_keeps_the_framing_true)
{
    const char *head =
        "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nAccept-Encoding: gzip, br\r\n"
        "Content-Length: 26\r\n\r\n";
    const char *body = "card=5555555555554444&x=1\n";
    for (size_t cut = 0; cut <= strlen(body); cut++) {
        struct httpjudge *j = judge_rewriting(A_REDACT, A_ALLOW, A_ALLOW, A_ALLOW, 0);
        static char to_o[8192], to_c[8192], got[4096];
        to_o[0] = to_c[0] = '\0';
        char first[256];
        snprintf(first, sizeof first, "%s%.*s", head, (int)cut, body);
        client(j, first, 0);
        drain(j, 1, to_o, sizeof to_o);
        if (cut < strlen(body))
            cr_assert_not(strstr(to_o, "\r\n\r\n"), "cut %zu: the head went before the body: %s",
                          cut, to_o);
        client(j, body + cut, 0);
        client(j, GET_ORDER, 0);
        drain(j, 1, to_o, sizeof to_o);
        cr_assert_not(strstr(to_o, "5555555555554444"), "cut %zu: the card reached the origin",
                      cut);
        body_of(to_o, got, sizeof got);
        cr_assert_str_eq(got, "card=[CREDIT_CARD]&x=1\n", "cut %zu: %s", cut, to_o);
        cr_assert(strstr(to_o, "Content-Length: 23\r\n"), "cut %zu: %s", cut, to_o);
        cr_assert(strstr(to_o, "Accept-Encoding: identity\r\n") && !strstr(to_o, "gzip"),
                  "a scanned request asks for an unencoded response: %s", to_o);
        cr_assert(strstr(to_o, "\nGET /api/orders/17 HTTP/1.1\r\n"),
                  "cut %zu: the next request follows: %s", cut, to_o);
        origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" OK_RESP);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert(strstr(to_c, "ok") && strstr(to_c, "order"), "cut %zu: %s", cut, to_c);
        cr_assert_not(httpjudge_done(j), "the connection stays usable");
        httpjudge_free(j);
        cr_assert_eq(recs[nrec - 2].rewritten, 1);
        cr_assert_str_eq(recs[nrec - 2].classes, "pii.credit_card");
        cr_assert_eq(recs[nrec - 2].status, 200);
    }
}

Test(httpjudge, mask_and_hash_in_a_response_go_with_their_new_length)
{
    struct httpjudge *j = judge_rewriting(A_ALLOW, A_MASK, A_ALLOW, A_HASH, 1);
    static char to_c[4096], got[4096];
    to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    const char *rb = "card 5555555555554444 of ada@example.org\n";
    char resp[512];
    snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(rb), rb);
    for (size_t i = 0; resp[i]; i++) /* a byte at a time */
        origin_n(j, resp + i, 1);
    drain(j, 0, to_c, sizeof to_c);
    body_of(to_c, got, sizeof got);
    cr_assert(strstr(got, "card ************4444 of [EMAIL:"), "%s", to_c);
    cr_assert_not(strstr(to_c, "ada@example.org") || strstr(to_c, "5555555555554444"), "%s", to_c);
    char cl[48];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(got));
    cr_assert(strstr(to_c, cl), "the new length, once: %s", to_c);
    cr_assert_not(strstr(strstr(to_c, cl) + 1, "Content-Length"), "%s", to_c);
    cr_assert_eq(recs[nrec - 1].rewritten, 2);
    cr_assert_not(httpjudge_done(j));
    httpjudge_free(j);
}

Test(httpjudge, hash_without_a_data_key_stops_the_body)
{
    struct httpjudge *j = judge_rewriting(A_HASH, A_ALLOW, A_ALLOW, A_ALLOW, 0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 21\r\n\r\n"
           "card=5555555555554444",
           0);
    drain(j, 1, to_o, sizeof to_o);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_not(strstr(to_o, "5555"), "%s", to_o);
    cr_assert(strncmp(to_c, "HTTP/1.1 403 ", 13) == 0 && strstr(to_c, "data_key_file"), "%s", to_c);
    httpjudge_free(j);
}

Test(httpjudge, tokenize_hides_the_value_from_the_origin_and_restores_it_in_the_response)
{
    struct httpjudge *j = judge_rewriting(A_ALLOW, A_ALLOW, A_TOKENIZE, A_TOKENIZE, 0);
    static char to_o[4096], to_c[4096], got[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 18\r\n\r\n"
           "to=ada@example.org",
           0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_not(strstr(to_o, "ada@example.org"), "%s", to_o);
    body_of(to_o, got, sizeof got);
    cr_assert_str_eq(got, "to=[EMAIL_1]", "%s", to_o);
    /* the origin echoes the token, split inside it, and names a value of its own */
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 41\r\n\r\nsent to [EMA");
    origin(j, "IL_1]; cc bob@example.org ok\n");
    drain(j, 0, to_c, sizeof to_c);
    body_of(to_c, got, sizeof got);
    cr_assert_str_eq(got, "sent to ada@example.org; cc bob@example.org ok\n", "%s", to_c);
    httpjudge_free(j);
}

Test(httpjudge, a_response_over_the_hold_goes_chunked_or_to_the_close)
{
    size_t big = HTTPJUDGE_HOLD_MAX + 5000;
    char *rb = malloc(big + 64);
    memset(rb, 'a', big);
    memcpy(rb + 1000, " 5555555555554444 ", 18);
    memcpy(rb + big - 100, " 4111111111111111 ", 18);
    rb[big] = '\0';
    for (int minor = 1; minor >= 0; minor--) {
        struct httpjudge *j = judge_rewriting(A_ALLOW, A_REDACT, A_ALLOW, A_ALLOW, 0);
        size_t cap = big * 2 + 4096;
        char *to_c = malloc(cap), *got = malloc(cap), *resp = malloc(big + 256);
        to_c[0] = '\0';
        client(j, minor ? GET_ORDER : "GET /api/orders/17 HTTP/1.0\r\nHost: crm.internal\r\n\r\n",
               0);
        int k =
            snprintf(resp, big + 256, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", big, rb);
        for (int off = 0; off < k; off += 4096) {
            origin_n(j, resp + off, (size_t)(k - off < 4096 ? k - off : 4096));
            drain(j, 0, to_c, cap);
        }
        size_t n = body_of(to_c, got, cap);
        cr_assert(strstr(to_c, minor ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n"),
                  "HTTP/1.%d: %.200s", minor, to_c);
        cr_assert_eq(n, big - 2 * 16 + 2 * strlen("[CREDIT_CARD]"), "HTTP/1.%d", minor);
        cr_assert_not(strstr(got, "5555555555554444") || strstr(got, "4111111111111111"));
        cr_assert_eq(httpjudge_done(j), minor == 0, "HTTP/1.%d", minor);
        httpjudge_free(j);
        free(to_c);
        free(got);
        free(resp);
    }
    free(rb);
}

Test(httpjudge, a_held_response_with_a_blocked_value_is_refused_whole)
{
    struct httpjudge *j = judge_rewriting(A_ALLOW, A_BLOCK, A_ALLOW, A_REDACT, 0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nyour card=5555555555554444");
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 403 ", 13) == 0, "%s", to_c);
    cr_assert_not(strstr(to_c, "200 OK") || strstr(to_c, "5555"), "%s", to_c);
    cr_assert(strstr(to_c, "pii.credit_card, which api.data blocks"), "%s", to_c);
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);
    cr_assert_eq(recs[nrec - 1].status, 403);
}

/* A request body with a Content-Encoding is refused with 415 (the connection stays usable), a
 * response with one gets a 502: compressed text could not be scanned. Every Content-Encoding
 * field counts, each a list. */
Test(httpjudge, encoded_bodies_are_refused_on_a_scanned_host)
{
    static const struct {
        const char *rq, *rs, *coding;
    } cases[] = {
        {"Content-Encoding: gzip\r\n", "Content-Encoding: gzip\r\n", "gzip"},
        {"Content-Encoding: identity\r\nContent-Encoding: gzip\r\n",
         "Content-Encoding: identity, gzip\r\n", "gzip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct httpjudge *j = judge_rewriting(A_BLOCK, A_BLOCK, A_ALLOW, A_ALLOW, 0);
        static char to_o[4096], to_c[4096], m[1024];
        to_o[0] = to_c[0] = '\0';
        snprintf(m, sizeof m,
                 "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\n%sContent-Length: 4\r\n\r\n"
                 "xxxx" GET_ORDER,
                 cases[i].rq);
        client(j, m, 0);
        drain(j, 1, to_o, sizeof to_o);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert(strncmp(to_c, "HTTP/1.1 415 ", 13) == 0 && strstr(to_c, "uncompressed"),
                  "case %zu: %s", i, to_c);
        cr_assert_not(strstr(to_o, "POST"), "case %zu: the encoded request stays here: %s", i,
                      to_o);
        cr_assert(strstr(to_o, "GET /api/orders/17"), "case %zu: the connection stays usable", i);
        snprintf(m, sizeof m, "HTTP/1.1 200 OK\r\n%sContent-Length: 4\r\n\r\nzzzz", cases[i].rs);
        origin(j, m);
        to_c[0] = '\0';
        drain(j, 0, to_c, sizeof to_c);
        char want[64];
        snprintf(want, sizeof want, "Content-Encoding %s", cases[i].coding);
        cr_assert(strncmp(to_c, "HTTP/1.1 502 ", 13) == 0 && strstr(to_c, want), "case %zu: %s", i,
                  to_c);
        cr_assert_not(strstr(to_c, "zzzz"), "%s", to_c);
        httpjudge_free(j);
    }
}

Test(httpjudge, observe_mode_passes_a_blocked_value_and_records_the_refusal_it_would_make)
{
    rewriting_observe = 1;
    struct httpjudge *j = judge_rewriting(A_BLOCK, A_ALLOW, A_REDACT, A_ALLOW, 0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    const char *req = "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 38\r\n\r\n"
                      "card=5555555555554444&to=a@example.org";
    client(j, req, 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert(strstr(to_o, "card=5555555555554444&to=a@example.org"), "observe changes nothing: %s",
              to_o);
    cr_assert(strstr(to_o, "Content-Length: 38\r\n"), "%s", to_o);
    origin(j, OK_RESP);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, OK_RESP);
    cr_assert_eq(nrec, 1);
    cr_assert(!recs[0].allowed && recs[0].forwarded, "the record says enforce mode would refuse");
    cr_assert_eq(recs[0].rewritten, 0);
    httpjudge_free(j);
}

Test(httpjudge, an_http10_origin_response_over_the_hold_goes_to_the_close_not_chunked)
{
    size_t big = HTTPJUDGE_HOLD_MAX + 5000, cap = big * 2 + 4096;
    char *resp = malloc(big + 256), *to_c = malloc(cap), *got = malloc(cap);
    int k = snprintf(
        resp, 256, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: %zu\r\n\r\n", big);
    memset(resp + k, 'a', big);
    resp[k + big] = '\0';
    struct httpjudge *j = judge_rewriting(A_ALLOW, A_REDACT, A_ALLOW, A_ALLOW, 0);
    to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    for (size_t off = 0; off < (size_t)k + big; off += 4096) {
        origin_n(j, resp + off, (size_t)k + big - off < 4096 ? (size_t)k + big - off : 4096);
        drain(j, 0, to_c, cap);
    }
    cr_assert(strncmp(to_c, "HTTP/1.0 200 OK\r\n", 17) == 0, "%.80s", to_c);
    cr_assert_not(strstr(to_c, "Transfer-Encoding"), "%.200s", to_c);
    cr_assert(strstr(to_c, "Connection: close\r\n") && !strstr(to_c, "keep-alive"), "%.200s", to_c);
    cr_assert_eq(body_of(to_c, got, cap), big);
    cr_assert(httpjudge_done(j), "the body ends with the connection");
    httpjudge_free(j);
    free(resp);
    free(to_c);
    free(got);
}

Test(httpjudge, a_response_to_a_request_still_held_is_not_passed_on)
{
    struct httpjudge *j = judge_rewriting(A_REDACT, A_ALLOW, A_ALLOW, A_ALLOW, 0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 26\r\n\r\ncard=", 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, "", "the request is held");
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforge");
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_not(strstr(to_c, "forge"), "%s", to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 502 ", 13) == 0, "%s", to_c);
    client(j, "5555555555554444&x=1\n", 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, "", "nothing goes to an origin that answered what it was not sent");
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);
}

Test(httpjudge, an_early_answer_then_a_blocked_value_in_the_rest_of_the_body)
{
    struct httpjudge *j = judge_rewriting(A_BLOCK, A_ALLOW, A_ALLOW, A_ALLOW, 0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n",
           0);
    drain(j, 1, to_o, sizeof to_o);
    origin(j, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strstr(to_c, "401"), "%s", to_c);
    cr_assert_eq(nrec, 1, "the answered request is recorded once");
    client(j, "15\r\ncard=5555555555554444\r\n0\r\n\r\n", 0);
    drain(j, 1, to_o, sizeof to_o);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_not(strstr(to_o, "5555555555554444"), "%s", to_o);
    cr_assert(httpjudge_done(j), "the connection ends before the value");
    httpjudge_free(j);
    cr_assert_eq(nrec, 1);
}

Test(httpjudge, a_held_final_response_after_a_1xx_is_replaced_by_a_502_when_the_origin_cuts)
{
    struct httpjudge *j = judge_rewriting(A_ALLOW, A_REDACT, A_ALLOW, A_ALLOW, 0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j, GET_ORDER, 0);
    origin(j, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nabc");
    cr_assert_eq(httpjudge_origin_eof(j), 0);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 103 ", 13) == 0, "%s", to_c);
    cr_assert(strstr(to_c, "HTTP/1.1 502 ") && !strstr(to_c, "200 OK"), "%s", to_c);
    httpjudge_free(j);
    cr_assert_eq(nrec, 1);
    cr_assert_eq(recs[0].status, 502);
}

Test(httpjudge, bytes_up_is_what_went_to_the_origin)
{
    struct httpjudge *j = judge_rewriting(A_REDACT, A_ALLOW, A_ALLOW, A_ALLOW, 0);
    static char to_o[4096];
    to_o[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nAccept-Encoding: gzip, br\r\n"
           "Content-Length: 21\r\n\r\ncard=5555555555554444",
           0);
    drain(j, 1, to_o, sizeof to_o);
    origin(j, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    cr_assert_eq(nrec, 1);
    cr_assert_eq(recs[0].bytes_up, strlen(to_o), "bytes_up %llu, the origin got %zu",
                 (unsigned long long)recs[0].bytes_up, strlen(to_o));
    httpjudge_free(j);
    nrec = 0;
    j = judge_rewriting(A_BLOCK, A_ALLOW, A_REDACT, A_ALLOW, 0); /* e-mail rewritten: held */
    to_o[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 21\r\n\r\n"
           "card=5555555555554444",
           0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert_str_eq(to_o, "");
    httpjudge_free(j);
    cr_assert_eq(nrec, 1);
    cr_assert_eq(recs[0].bytes_up, 0, "nothing of the held, refused request went");
}

Test(httpjudge, trailer_fields_are_scanned_like_bodies)
{
    struct httpjudge *j = judge_rewriting(A_BLOCK, A_ALLOW, A_REDACT, A_ALLOW, 0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\nok\r\n0\r\nX-Mail: to ada@example.org\r\n\r\n",
           0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert(strstr(to_o, "0\r\nX-Mail: to [EMAIL]\r\n\r\n"), "a redacted trailer: %s", to_o);
    cr_assert_not(strstr(to_o, "ada@example.org"), "%s", to_o);
    origin(j, OK_RESP);
    to_o[0] = '\0';
    client(j,
           "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\nok\r\n0\r\nX-Note: card 5555555555554444\r\n\r\n",
           0);
    drain(j, 1, to_o, sizeof to_o);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_not(strstr(to_o, "5555555555554444"), "%s", to_o);
    cr_assert(strstr(to_c, "HTTP/1.1 403 ") && strstr(to_c, "pii.credit_card"), "%s", to_c);
    httpjudge_free(j);
}

Test(httpjudge, a_client_that_stops_inside_a_held_request_still_gets_the_answers_before_it)
{
    struct httpjudge *j = judge_rewriting(A_REDACT, A_ALLOW, A_ALLOW, A_ALLOW, 0);
    static char to_o[4096], to_c[4096];
    to_o[0] = to_c[0] = '\0';
    client(j,
           GET_ORDER "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 26\r\n"
                     "\r\ncard=",
           0);
    cr_assert_eq(httpjudge_client_eof(j), 0);
    drain(j, 1, to_o, sizeof to_o);
    cr_assert(strstr(to_o, "GET /api/orders/17") && !strstr(to_o, "POST"), "%s", to_o);
    origin(j, OK_RESP);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert_str_eq(to_c, OK_RESP, "the first request is still answered");
    cr_assert(httpjudge_done(j));
    httpjudge_free(j);
    cr_assert_eq(nrec, 2);
}

Test(httpjudge, a_held_request_with_a_blocked_value_leaves_the_connection_usable)
{
    /* e-mail redacted in requests: bodies are held, so a blocked card stops a request that
     * never reached the origin */
    const char *body = "card=5555555555554444&x=1\n";
    for (size_t cut = 0; cut <= strlen(body); cut++) {
        struct httpjudge *j = judge_rewriting(A_BLOCK, A_ALLOW, A_REDACT, A_ALLOW, 0);
        static char to_o[4096], to_c[4096], first[256];
        to_o[0] = to_c[0] = '\0';
        snprintf(first, sizeof first,
                 "POST /api/notes HTTP/1.1\r\nHost: crm.internal\r\nContent-Length: 26\r\n\r\n%.*s",
                 (int)cut, body);
        client(j, first, 0);
        client(j, body + cut, 0);
        client(j, GET_ORDER, 0);
        drain(j, 1, to_o, sizeof to_o);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert_not(strstr(to_o, "POST"), "cut %zu: %s", cut, to_o);
        cr_assert(strncmp(to_o, "GET /api/orders/17 HTTP/1.1\r\n", 28) == 0,
                  "cut %zu: the next request goes on: %s", cut, to_o);
        cr_assert(strncmp(to_c, "HTTP/1.1 403 ", 13) == 0 && strstr(to_c, "stays usable"),
                  "cut %zu: %s", cut, to_c);
        origin(j, OK_RESP);
        drain(j, 0, to_c, sizeof to_c);
        cr_assert(strstr(to_c, "order"), "cut %zu: %s", cut, to_c);
        cr_assert_not(httpjudge_done(j));
        httpjudge_free(j);
        cr_assert_eq(nrec, 2);
        cr_assert(!recs[0].forwarded && recs[0].status == 403 && recs[0].bytes_up == 0);
        nrec = 0;
    }
}

Test(httpjudge, a_refused_last_request_ends_the_connection_once_answered)
{
    struct httpjudge *j = judge_new(0);
    static char to_c[4096];
    to_c[0] = '\0';
    client(j,
           "GET /api/customers/export HTTP/1.1\r\nHost: crm.internal\r\nConnection: close\r\n\r\n",
           0);
    drain(j, 0, to_c, sizeof to_c);
    cr_assert(strncmp(to_c, "HTTP/1.1 403 ", 13) == 0, "%s", to_c);
    cr_assert(httpjudge_done(j), "nothing is left to wait for");
    httpjudge_free(j);
}
