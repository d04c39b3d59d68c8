/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The anomaly response's cost per model call (policy/server/anomaly.h): what the proxy does
 * for one call (the gate, then a request, its tokens, its price and one tool name counted and
 * judged against a policy with every trigger set and none reached), with 1 agent and with
 * 1,000 agents in the table, and from 1 and 4 threads at once. Beside it, from the same run:
 * an uncontended mutex-protected counter (the least any shared per-agent count costs), and the
 * engine's judgement of a small chat request (the pipeline without the anomaly response).
 * Medians of ROUNDS rounds; the machine is shared and noisy.
 *
 * usage: bench_anomaly [CALLS_PER_ROUND]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/engine/engine.h"
#include "policy/policy.h"
#include "policy/server/anomaly.h"

#define ROUNDS 11

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char policy_text[] =
    "{\"cordon_policy\":1,\"agent\":\"bench\",\"api\":{\"models\":[\"gpt-4o-mini\"],"
    "\"tools\":{\"allow\":[\"get_*\"]},"
    "\"budget\":{\"prices\":{\"gpt-4o-mini\":{\"input_per_mtok\":0.15,\"output_per_mtok\":0.6}}},"
    "\"anomaly\":{\"requests_per_minute\":100000,\"tokens_per_minute\":1000000000000,"
    "\"usd_per_hour\":1000000,\"denials_per_10_minutes\":100000,"
    "\"distinct_tools_per_10_minutes\":100,\"new_egress_hosts_per_hour\":100,"
    "\"on_trigger\":\"quarantine\"}}}";

static struct policy *pol;
static struct anomaly *table;
static size_t calls;

/* What proxy.c does for one call: the gate before, the counts after. */
static void one_call(const char *agent)
{
    int64_t since;
    unsigned retry;
    (void)anomaly_gate(table, agent, 0, 0, &since, &retry);
    (void)anomaly_note(table, agent, pol, ANOMALY_REQUESTS, 1, NULL, 0);
    (void)anomaly_note(table, agent, pol, ANOMALY_TOKENS, 420, NULL, 0);
    (void)anomaly_note(table, agent, pol, ANOMALY_SPEND, 90, NULL, 0);
    (void)anomaly_note(table, agent, pol, ANOMALY_TOOLS, 1, "get_weather", 0);
}

static void *worker(void *arg)
{
    const char *agent = arg;
    for (size_t i = 0; i < calls; i++)
        one_call(agent);
    return NULL;
}

/* ns per call with n threads, each its own agent name when distinct. */
static double run_threads(int n, int distinct)
{
    static char names[8][32];
    pthread_t t[8];
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "bench-%d", distinct ? i : 0);
        pthread_create(&t[i], NULL, worker, names[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return (now_us() - t0) * 1000 / (double)(calls * (size_t)n);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile uint64_t counter;

static double run_mutex(void)
{
    double t0 = now_us();
    for (size_t i = 0; i < calls * 5; i++) { /* five counts, as one_call makes */
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return (now_us() - t0) * 1000 / (double)calls;
}

static double run_engine(const struct engine *e)
{
    static const char body[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                               "\"content\":\"what is the weather in Brussels?\"}],"
                               "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                               "\"get_weather\",\"parameters\":{\"type\":\"object\"}}}]}";
    size_t n = calls / 10 ? calls / 10 : 1;
    double t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "bench"};
        struct engine_call *c = NULL;
        const char *out;
        size_t ol;
        if (engine_call_new(e, &info, &c) != 0 ||
            engine_call_request(c, body, sizeof body - 1, &out, &ol) < 0) {
            fprintf(stderr, "bench_anomaly: the engine refused the bench request\n");
            exit(1);
        }
        engine_call_free(c);
    }
    return (now_us() - t0) * 1000 / (double)n;
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp);
    return v[ROUNDS / 2];
}

int main(int argc, char **argv)
{
    calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    if (!calls)
        calls = 200000;
    struct policy_env env;
    struct policy_env_storage st;
    struct diag d;
    diag_init(&d);
    char err[512];
    struct engine *e = NULL;
    if (policy_env_from_process(&env, &st, NULL) != 0 ||
        policy_load(policy_text, sizeof policy_text - 1, &env, &pol, &d) != 0 ||
        engine_new(pol, NULL, &e, err, sizeof err) != 0 ||
        anomaly_open(NULL, NULL, NULL, &table, err, sizeof err) != 0) {
        fprintf(stderr, "bench_anomaly: cannot set up the policy, engine or table\n");
        return 1;
    }
    double one[ROUNDS], many[ROUNDS], thr[ROUNDS], thr_same[ROUNDS], mx[ROUNDS], eng[ROUNDS];
    (void)run_threads(1, 0); /* warm: the table, the pages, the caches */
    for (int r = 0; r < ROUNDS; r++) {
        one[r] = run_threads(1, 0);
        mx[r] = run_mutex();
        eng[r] = run_engine(e);
    }
    /* 1,000 other agents in the table, the benched one behind them */
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "other-%d", i);
        (void)anomaly_note(table, name, pol, ANOMALY_REQUESTS, 1, NULL, 0);
    }
    for (int r = 0; r < ROUNDS; r++) {
        many[r] = run_threads(1, 0);
        thr[r] = run_threads(4, 1);
        thr_same[r] = run_threads(4, 0);
    }
    printf("anomaly response per model call (gate + 4 counts judged), %zu calls x %d rounds, "
           "median:\n",
           calls, ROUNDS);
    printf("  1 agent, 1 thread            %8.0f ns\n", median(one));
    printf("  1,001 agents, 1 thread       %8.0f ns  (the busy one moves to the front)\n",
           median(many));
    printf("  4 threads, 4 agents          %8.0f ns  (wall time / calls)\n", median(thr));
    printf("  4 threads, 1 agent           %8.0f ns\n", median(thr_same));
    printf("baselines, same run:\n");
    printf("  mutex counter x5, 1 thread   %8.0f ns\n", median(mx));
    printf("  engine request (chat, 1 tool)%8.0f ns\n", median(eng));
    anomaly_close(table);
    engine_free(e);
    policy_free(pol);
    return 0;
}
