/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What judging a request on a sandbox.network.http host costs cordond's CPU, before any
 * network: a typical client's GET parsed (policy/server/httpreq.h), its path normalized and
 * judged against the five rules (httprule.h), with a query pattern; the same request
 * pipelined 64 to a buffer; and a 1 MiB chunked body in 16 KiB segments. Beside them, from the
 * same run: finding the end of the head with memmem, the least a proxy that frames requests
 * at all can do. Medians of ROUNDS rounds; the machine is shared and noisy.
 *
 * usage: bench_httpreq [REQUESTS_PER_ROUND]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"
#include "policy/server/httppath.h"
#include "policy/server/httpreq.h"
#include "policy/server/httprule.h"

#define ROUNDS 11

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char policy_text[] =
    "{\"cordon_policy\":1,\"agent\":\"bench\",\"sandbox\":{\"network\":{\"mode\":\"proxy\","
    "\"allow\":[\"crm.internal:443\"],\"http\":[{\"host\":\"crm.internal:443\",\"tls\":"
    "\"terminate\",\"rules\":["
    "{\"path\":\"/api/customers/export*\",\"action\":\"deny\"},"
    "{\"method\":\"DELETE\",\"action\":\"deny\"},"
    "{\"method\":[\"GET\",\"HEAD\"],\"path\":\"/api/customers/*\",\"query\":{\"id\":\"[0-9]+\"},"
    "\"action\":\"allow\"},"
    "{\"method\":\"POST\",\"path\":\"/api/orders\",\"action\":\"allow\"},"
    "{\"method\":\"GET\",\"path\":\"/api/orders/*\",\"action\":\"allow\"}],"
    "\"default\":\"deny\"}]}}}";

static const char request[] =
    "GET /api/orders/12345/items?expand=lines&page=2 HTTP/1.1\r\n"
    "Host: crm.internal\r\n"
    "User-Agent: python-requests/2.31.0\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: application/json\r\n"
    "Connection: keep-alive\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl\r\n"
    "X-Request-Id: 5f0c1f9e-7d1a-4c1b-9f3e-1a2b3c4d5e6f\r\n"
    "\r\n";

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp);
    return v[ROUNDS / 2];
}

/* Parse every request of buf (len bytes) with p; returns the requests seen. */
static size_t parse_all(struct httpreq_parser *p, const char *buf, size_t len,
                        const struct httprule_set *set)
{
    size_t n = 0;
    for (;;) {
        struct httpreq_step st;
        if (httpreq_feed(p, buf, len, &st) != 0) {
            fprintf(stderr, "bench_httpreq: refused: %s\n", httpreq_reason(p));
            exit(1);
        }
        buf += st.used;
        len -= st.used;
        if (st.event == HTTPREQ_MORE)
            return n;
        if (st.event == HTTPREQ_HEAD && set) {
            const struct httpreq *r = httpreq_request(p);
            struct httprule_request rq = {r->method, r->path, r->query};
            struct httprule_verdict v;
            if (httprule_judge(set, 0, &rq, &v) != 0 || v.action != POLICY_HTTP_ALLOW) {
                fprintf(stderr, "bench_httpreq: not allowed: %s\n", v.reason);
                exit(1);
            }
            httprule_verdict_free(&v);
        }
        if (st.event == HTTPREQ_END)
            n++;
    }
}

int main(int argc, char **argv)
{
    size_t reqs = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
    struct policy *pol = NULL;
    struct diag d;
    diag_init(&d);
    struct httprule_set *set = NULL;
    char err[256];
    if (policy_load(policy_text, sizeof policy_text - 1, &env, &pol, &d) != 0 ||
        httprule_compile(pol, &set, err, sizeof err) != 0) {
        fprintf(stderr, "bench_httpreq: the policy does not load\n");
        return 1;
    }
    size_t rl = sizeof request - 1;
    char *pipe = malloc(rl * 64);
    for (int i = 0; i < 64; i++)
        memcpy(pipe + (size_t)i * rl, request, rl);
    /* 1 MiB of body in 16 KiB chunks, then fed in 16 KiB segments */
    size_t body = 1 << 20, chunk = 16384;
    char *chunked = malloc(body + 4096);
    size_t cl = (size_t)snprintf(chunked, 200,
                                 "POST /api/orders HTTP/1.1\r\nHost: crm.internal\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t o = 0; o < body; o += chunk) {
        cl += (size_t)snprintf(chunked + cl, 16, "%zx\r\n", chunk);
        memset(chunked + cl, 'x', chunk);
        cl += chunk;
        memcpy(chunked + cl, "\r\n", 2);
        cl += 2;
    }
    memcpy(chunked + cl, "0\r\n\r\n", 5);
    cl += 5;

    double base[ROUNDS], parse[ROUNDS], judge[ROUNDS], piped[ROUNDS], bodyr[ROUNDS];
    volatile size_t sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < reqs; i++)
            sink += (size_t)((const char *)memmem(request, rl, "\r\n\r\n", 4) - request);
        base[r] = (now_ns() - t0) / (double)reqs;

        struct httpreq_parser *p = NULL;
        if (httpreq_new(NULL, &p) != 0)
            return 1;
        t0 = now_ns();
        for (size_t i = 0; i < reqs; i++)
            sink += parse_all(p, request, rl, NULL);
        parse[r] = (now_ns() - t0) / (double)reqs;
        t0 = now_ns();
        for (size_t i = 0; i < reqs; i++)
            sink += parse_all(p, request, rl, set);
        judge[r] = (now_ns() - t0) / (double)reqs;
        t0 = now_ns();
        for (size_t i = 0; i < reqs / 64 + 1; i++)
            sink += parse_all(p, pipe, rl * 64, set);
        piped[r] = (now_ns() - t0) / (double)((reqs / 64 + 1) * 64);
        t0 = now_ns();
        for (size_t o = 0; o < cl; o += chunk)
            sink += parse_all(p, chunked + o, cl - o < chunk ? cl - o : chunk, NULL);
        bodyr[r] = (double)body / ((now_ns() - t0) / 1e9) / 1e6;
        httpreq_free(p);
    }
    printf("bench_httpreq: %zu requests per round, %d rounds, medians (%zu)\n", reqs, ROUNDS,
           (size_t)(sink & 1));
    printf("  baseline: find the head's end (memmem)       %8.0f ns/request\n", median(base));
    printf("  parse the head (%zu bytes, 8 fields)         %8.0f ns/request\n", rl, median(parse));
    printf("  parse + normalize + judge (5 rules, 1 regex) %8.0f ns/request\n", median(judge));
    printf("  the same, 64 pipelined in one buffer         %8.0f ns/request\n", median(piped));
    printf("  chunked body, 16 KiB chunks and segments     %8.0f MB/s (handed back in place)\n",
           median(bodyr));
    httprule_free(set);
    policy_free(pol);
    free(pipe);
    free(chunked);
    return 0;
}
