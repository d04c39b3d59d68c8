/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger's figures, each beside its baseline from the same run (medians of ROUNDS):
 *
 * 1. Throughput: reservations plus settlements per second with 64 threads hammering one
 *    agent (every call under one agent mutex: the worst case) and 64 agents, in memory and
 *    with the journal in a temporary directory; the baseline is one thread incrementing a
 *    mutex-protected counter, uncontended.
 * 2. Cost per model call of the budget and rate stages: one complete call through the engine
 *    (request, upstream answer with usage, finish, audit record) on a policy with api.budget
 *    and api.rate, against the same policy without them, the ledger in memory.
 *
 * usage: bench_ledger [SECONDS_PER_ROUND [calls]]   (default 0.3; "calls": the second figure
 * alone)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "policy/engine/engine.h"
#include "policy/policy.h"
#include "policy/server/ledger.h"

#define ROUNDS 7
#define THREADS 64

static double secs = 0.3;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

/* ---- 1. throughput */

struct worker {
    struct ledger *l;
    char agent[32];
    volatile int *stop;
    uint64_t ops;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct engine_budget_ask a;
    memset(&a, 0, sizeof a);
    a.agent = w->agent;
    a.session = "s";
    snprintf(a.day, sizeof a.day, "2025-12-02");
    snprintf(a.month, sizeof a.month, "2025-12");
    a.usd_p = 1000;
    a.tokens = 10;
    for (int k = 0; k < ENGINE_BUDGET_N_SCOPES; k++)
        a.limit[k] = -1;
    a.limit[ENGINE_BUDGET_DAY_USD] = INT64_C(1) << 61;
    a.limit[ENGINE_BUDGET_SESSION_TOKENS] = INT64_C(1) << 61;
    a.now_ms = 1764633600000LL;
    while (!*w->stop) {
        uint64_t h;
        struct engine_budget_refusal why;
        if (ledger_reserve(w->l, &a, &h, &why) != 0)
            abort();
        ledger_settle(w->l, h, 500, 5, 0);
        w->ops += 2;
    }
    return NULL;
}

static double run_threads(struct ledger *l, int same_agent)
{
    static struct worker w[THREADS];
    pthread_t t[THREADS];
    volatile int stop = 0;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.l = l, .stop = &stop};
        snprintf(w[i].agent, sizeof w[i].agent, same_agent ? "agent" : "agent-%d", i);
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
            abort();
    }
    double t0 = now_s();
    usleep((useconds_t)(secs * 1e6));
    stop = 1;
    uint64_t ops = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ops += w[i].ops;
    }
    return (double)ops / (now_s() - t0);
}

static double run_mutex_counter(void)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile uint64_t counter = 0;
    uint64_t n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 4096; i++) {
            pthread_mutex_lock(&mu);
            counter = counter + 1;
            pthread_mutex_unlock(&mu);
        }
        n += 4096;
    } while ((t = now_s()) - t0 < secs);
    return (double)n / (t - t0);
}

static struct ledger *open_ledger(const char *journal)
{
    struct ledger_store *st = NULL;
    struct ledger *l = NULL;
    char err[512];
    if (journal) {
        unlink(journal);
        if (ledger_journal_open(journal, 0, &st, err, sizeof err) != 0) {
            fprintf(stderr, "bench_ledger: %s\n", err);
            exit(1);
        }
    }
    if (ledger_open(st, 0, &l, err, sizeof err) != 0) {
        fprintf(stderr, "bench_ledger: %s\n", err);
        exit(1);
    }
    return l;
}

/* ---- 2. the stages' cost per call */

static const struct policy_env k_env = {
    .vars = {.home = "/home/b", .cwd = "/w", .workspace = "/w", .tmp = "/tmp"}};

static struct policy *load(const char *doc)
{
    struct diag d;
    diag_init(&d);
    struct policy *p = NULL;
    if (policy_load(doc, strlen(doc), &k_env, &p, &d) != 0) {
        fprintf(stderr, "bench_ledger: a bench policy does not load\n");
        exit(1);
    }
    return p;
}

static const char k_body[] =
    "{\"model\":\"gpt-4o-mini\",\"max_tokens\":256,\"messages\":[{\"role\":"
    "\"system\",\"content\":\"You are a helpful assistant.\"},{\"role\":"
    "\"user\",\"content\":\"What is the weather in Paris today?\"}]}";
static const char k_answer[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"Sunny, 21 degrees.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":25,\"completion_tokens\":7,\"total_tokens\":32}}";

/* Calls per second through engine e (with the ledger l, or none). */
static double run_calls(const struct engine *e, struct ledger *l)
{
    struct engine_call_info info = {.format = ENGINE_CHAT,
                                    .agent = "bench",
                                    .session = "s1",
                                    .budget = l ? &ledger_engine_ops : NULL,
                                    .budget_ud = l};
    uint64_t n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 256; i++) {
            struct engine_call *c = NULL;
            if (engine_call_new(e, &info, &c) != 0)
                abort();
            const char *o;
            size_t ol;
            if (engine_call_request(c, k_body, sizeof k_body - 1, &o, &ol) != ENGINE_ALLOW)
                abort();
            engine_call_upstream(c, 1, NULL);
            if (engine_call_response(c, k_answer, sizeof k_answer - 1, &o, &ol) < 0)
                abort();
            engine_call_finish(c, 1);
            free(engine_call_audit_json(c));
            engine_call_free(c);
        }
        n += 256;
    } while ((t = now_s()) - t0 < secs);
    return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        secs = atof(argv[1]);
    if (secs <= 0)
        secs = 0.3;
    char journal[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(journal, sizeof journal, "%s/bench-ledger-%d.journal", tmp && tmp[0] ? tmp : "/tmp",
             (int)getpid());
    double base[ROUNDS], one[ROUNDS], many[ROUNDS], jone[ROUNDS], jmany[ROUNDS];
    struct ledger *mem = open_ledger(NULL), *jl = open_ledger(journal);
    int only_calls = argc > 2 && !strcmp(argv[2], "calls");
    for (int r = 0; r < ROUNDS && !only_calls; r++) {
        base[r] = run_mutex_counter();
        one[r] = run_threads(mem, 1);
        many[r] = run_threads(mem, 0);
        jone[r] = run_threads(jl, 1);
        jmany[r] = run_threads(jl, 0);
    }
    ledger_close(jl);
    unlink(journal);
    double b = median(base, ROUNDS);
    if (!only_calls)
        printf(
            "ledger throughput, %d threads, reservations + settlements per second (medians of %d "
            "rounds of %.2f s):\n",
            THREADS, ROUNDS, secs);
    if (!only_calls) {
        printf("  baseline: uncontended mutex counter, 1 thread   %12.0f /s\n", b);
        printf("  in memory, one agent (one mutex)                %12.0f /s  (%.3f x baseline)\n",
               median(one, ROUNDS), median(one, ROUNDS) / b);
        printf("  in memory, %d agents                            %12.0f /s  (%.3f x baseline)\n",
               THREADS, median(many, ROUNDS), median(many, ROUNDS) / b);
        printf("  journal, one agent                              %12.0f /s  (%.3f x baseline)\n",
               median(jone, ROUNDS), median(jone, ROUNDS) / b);
        printf("  journal, %d agents                              %12.0f /s  (%.3f x baseline)\n",
               THREADS, median(jmany, ROUNDS), median(jmany, ROUNDS) / b);
    }

    static const char with[] =
        "{\"cordon_policy\":1,\"agent\":\"bench\",\"api\":{\"models\":[\"gpt-*\"],"
        "\"tools\":{\"allow\":[\"*\"]},\"budget\":{\"session_usd\":1e6,\"day_usd\":1e6,"
        "\"month_usd\":1e6,\"day_tokens\":1000000000000000,\"prices\":{\"gpt-4o-mini\":"
        "{\"input_per_mtok\":0.15,\"output_per_mtok\":0.6}}},\"rate\":{\"requests_per_minute\":"
        "1000000,\"tokens_per_minute\":1000000000000,\"concurrent_per_agent\":1000}}}";
    static const char without[] = "{\"cordon_policy\":1,\"agent\":\"bench\",\"api\":{\"models\":["
                                  "\"gpt-*\"],\"tools\":{\"allow\":[\"*\"]}}}";
    struct policy *pw = load(with), *po = load(without);
    struct engine *ew = NULL, *eo = NULL;
    char err[256];
    if (engine_new(pw, NULL, &ew, err, sizeof err) || engine_new(po, NULL, &eo, err, sizeof err))
        return 1;
    /* rounds alternate which runs first, so that a neighbour's load falls on both alike */
    enum { CR = 3 * ROUNDS };
    double us_w[CR], us_o[CR], diff[CR];
    for (int r = 0; r < CR; r++) {
        if (r & 1) {
            us_w[r] = 1e6 / run_calls(ew, mem);
            us_o[r] = 1e6 / run_calls(eo, NULL);
        } else {
            us_o[r] = 1e6 / run_calls(eo, NULL);
            us_w[r] = 1e6 / run_calls(ew, mem);
        }
        diff[r] = us_w[r] - us_o[r];
    }
    printf("cost per model call, one thread (medians of %d rounds):\n", CR);
    printf("  pipeline without budget and rate   %8.2f us\n", median(us_o, CR));
    printf("  pipeline with budget and rate      %8.2f us\n", median(us_w, CR));
    printf("  budget + rate stages               %8.2f us  (median of the per-round "
           "differences; target < 20 us)\n",
           median(diff, CR));
    engine_free(ew);
    engine_free(eo);
    policy_free(pw);
    policy_free(po);
    ledger_close(mem);
    return 0;
}
