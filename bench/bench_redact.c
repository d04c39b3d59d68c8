/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data stage's own cost per streamed call, without sockets: the engine runs the request
 * hooks over a chat prompt holding an e-mail address and a card number, then a stream of 32
 * content deltas of 16 bytes, with api.data off (no rules: the raw, zero-copy path) and on
 * (every built-in PII and secret class, both directions), in the same run. Printed: the
 * request hooks, the first event (what a client's first byte waits for once the upstream's
 * first event is in), and the whole call, in microseconds per call (mean of N calls).
 *   bench_redact [N]   (default 20000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/diag.h"
#include "policy/engine/engine.h"
#include "policy/policy.h"

static int sink(void *ud, const char *buf, size_t len)
{
    (void)ud;
    (void)buf;
    (void)len;
    return 0;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int run(const char *label, const char *doc, int n)
{
    static const struct policy_env env = {
        .vars = {.home = "/h", .cwd = "/w", .workspace = "/w", .tmp = "/tmp"}};
    struct diag d;
    diag_init(&d);
    struct policy *p = NULL;
    struct engine *e = NULL;
    char err[256] = "";
    if (policy_load(doc, strlen(doc), &env, &p, &d) != 0 ||
        engine_new(p, NULL, &e, err, sizeof err) != 0) {
        fprintf(stderr, "bench_redact: the policy does not load: %s\n", err);
        return 1;
    }
    const char *body = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"Mail alice.smith@example.com the card 4539 "
                       "1488 0343 6467.\"}]}";
    static char stream[16384];
    size_t sl = 0;
    sl += (size_t)snprintf(stream + sl, sizeof stream - sl,
                           "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                           "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                           "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
    size_t first = sl;
    for (int i = 0; i < 32; i++)
        sl += (size_t)snprintf(stream + sl, sizeof stream - sl,
                               "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
                               "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
                               "{\"content\":\"lorem ipsum dol \"},\"finish_reason\":null}]}\n\n");
    sl += (size_t)snprintf(stream + sl, sizeof stream - sl, "data: [DONE]\n\n");
    double treq = 0, tfirst = 0, tall = 0;
    for (int k = 0; k < n; k++) {
        struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "a"};
        struct engine_call *c = NULL;
        const char *o;
        size_t ol;
        if (engine_call_new(e, &info, &c) != 0)
            return 1;
        double t0 = now_us();
        int v = engine_call_request(c, body, strlen(body), &o, &ol);
        double t1 = now_us();
        int rc = engine_stream_feed(c, stream, first, sink, NULL);
        double t2 = now_us();
        if (!rc)
            rc = engine_stream_feed(c, stream + first, sl - first, sink, NULL);
        if (!rc)
            rc = engine_stream_end(c, sink, NULL);
        double t3 = now_us();
        engine_call_free(c);
        if (v < 0 || rc) {
            fprintf(stderr, "bench_redact: the call failed: %s\n", engine_strerror(v < 0 ? v : rc));
            return 1;
        }
        treq += t1 - t0;
        tfirst += t2 - t1;
        tall += t3 - t0;
    }
    printf("%-9s request %7.2f us  first event %7.2f us  whole call (32 deltas) %8.2f us\n", label,
           treq / n, tfirst / n, tall / n);
    engine_free(e);
    policy_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20000;
    if (n <= 0)
        n = 20000;
    printf("bench_redact: the engine alone, mean of %d calls\n", n);
    return run("data off", "{\"cordon_policy\":1,\"agent\":\"a\",\"api\":{\"models\":[\"*\"]}}",
               n) ||
           run("data on",
               "{\"cordon_policy\":1,\"agent\":\"a\",\"api\":{\"models\":[\"*\"],\"data\":{"
               "\"pii.*\":\"redact\",\"secret.*\":\"redact\",\"health\":\"log\",\"financial\":"
               "\"log\"}}}",
               n);
}
