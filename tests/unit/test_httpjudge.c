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

static void origin(struct httpjudge *j, const char *s)
{
    size_t used;
    cr_assert_eq(httpjudge_from_origin(j, s, strlen(s), &used), 0);
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

/* scan: api.data's classes in the bodies, with the stream's holdback */
static struct data_scanner *card_scanner;
static const char *card_names[1];
static const int block_act[1] = {6 /* DATA_BLOCK */}, allow_act[1] = {0};
static struct engine_data_view card_view;

static struct httpjudge *judge_scanning(int request_blocks)
{
    struct data_class_spec spec = {.name = "pii.credit_card"};
    struct data_config cfg = {.classes = &spec, .n_classes = 1};
    char err[256];
    if (!card_scanner)
        cr_assert_eq(data_scanner_new(&cfg, &card_scanner, err, sizeof err), 0, "%s", err);
    card_names[0] = data_scanner_class_name(card_scanner, 0);
    card_view =
        (struct engine_data_view){.scanner = card_scanner,
                                  .n = 1,
                                  .names = card_names,
                                  .act = {request_blocks ? block_act : allow_act, block_act}};
    struct httpjudge_conf c = {.policy = p,
                               .rules = set,
                               .host = "crm.internal",
                               .port = 80,
                               .default_port = 80,
                               .agent = "crm-agent",
                               .data = &card_view,
                               .record = on_record};
    struct httpjudge *j = NULL;
    cr_assert_eq(httpjudge_new(&c, &j), 0);
    return j;
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
