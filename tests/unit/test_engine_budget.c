/* SPDX-License-Identifier: Apache-2.0 */
/* The budget stage (policy/engine/stage_budget.c) against a fake ledger: the worst case it
 * reserves (hostile max_tokens and n included), the 429 it answers with, settlement from each
 * API's usage priced with the policy's table, the estimate when no usage comes, release on
 * every path that spent nothing, OpenAI stream usage asked for and kept from the client, and
 * observe mode. */
#include <errno.h>
#include <unistd.h>

#include "test_engine_support.h"

#define NOW 1764680400000LL /* 2025-12-02T13:00:00Z */

struct fake {
    int reserves, settles, releases;
    int refuse; /* 1: refuse with scope */
    enum engine_budget_scope scope;
    int64_t remaining, reset_ms;
    int fail; /* -EIO from reserve */
    struct engine_budget_ask last;
    int64_t settled_usd, settled_tok;
    int estimated;
    uint64_t handle;
};

static int f_reserve(void *ud, const struct engine_budget_ask *a, uint64_t *h,
                     struct engine_budget_refusal *why)
{
    struct fake *f = ud;
    f->reserves++;
    f->last = *a;
    if (f->fail)
        return f->fail;
    if (f->refuse && !a->force) {
        why->scope = f->scope;
        why->limit = 1000;
        why->used = 1000 - f->remaining;
        why->remaining = f->remaining;
        why->reset_ms = f->reset_ms;
        return 1;
    }
    *h = ++f->handle;
    return 0;
}

static void f_settle(void *ud, uint64_t h, int64_t usd, int64_t tok, int est)
{
    struct fake *f = ud;
    cr_assert_eq(h, f->handle);
    f->settles++;
    f->settled_usd = usd;
    f->settled_tok = tok;
    f->estimated = est;
}

static void f_release(void *ud, uint64_t h)
{
    struct fake *f = ud;
    cr_assert_eq(h, f->handle);
    f->releases++;
}

static const struct engine_budget_ops f_ops = {f_reserve, f_settle, f_release};

#define PRICED                                                                                     \
    ",\"api\":{\"models\":[\"*\"],\"budget\":{\"day_usd\":5,\"prices\":{\"gpt-*\":"                \
    "{\"input_per_mtok\":1,\"output_per_mtok\":2,\"cached_input_per_mtok\":0.5,"                   \
    "\"reasoning_per_mtok\":4},\"claude-*\":{\"input_per_mtok\":3,\"output_per_mtok\":15,"         \
    "\"cached_input_per_mtok\":0.3,\"cache_write_per_mtok\":3.75}}}}"

/* A call of format f on te t with the fake ledger; returns the request verdict. */
static int call(struct te *t, struct fake *f, enum engine_format fmt, const char *body)
{
    struct engine_call_info info = {.format = fmt,
                                    .agent = "a",
                                    .session = "s1",
                                    .budget = f ? &f_ops : NULL,
                                    .budget_ud = f,
                                    .now_ms = NOW};
    if (t->c)
        engine_call_free(t->c);
    cr_assert_eq(engine_call_new(t->e, &info, &t->c), 0);
    t->verdict = engine_call_request(t->c, body, strlen(body), &t->out, &t->out_len);
    cr_assert_geq(t->verdict, 0);
    return t->verdict;
}

Test(engine_budget, reserves_the_worst_case)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    const char *body = "{\"model\":\"gpt-4o\",\"max_tokens\":100,\"n\":2,\"messages\":[]}";
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, body), ENGINE_ALLOW);
    int64_t in = (int64_t)strlen(body) / 3 + 1;
    cr_assert_eq(f.last.tokens, in + 200);
    /* input $1/Mtok = 10^6 p$/token; output the larger of output ($2) and reasoning ($4) */
    cr_assert_eq(f.last.usd_p, in * 1000000 + 200 * 4000000);
    cr_assert_eq(f.last.limit[ENGINE_BUDGET_DAY_USD], 5000000000000LL);
    cr_assert_eq(f.last.limit[ENGINE_BUDGET_SESSION_USD], -1);
    cr_assert_str_eq(f.last.day, "2025-12-02");
    cr_assert_str_eq(f.last.month, "2025-12");
    cr_assert_eq(f.last.day_reset_ms, 1764720000000LL);
    cr_assert_str_eq(f.last.session, "s1");
    /* no max_tokens: the model's maximum, from models_max_output, else the default */
    engine_call_finish(t.c, 1);
    te_close(&t);
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"budget\":{\"day_tokens\":100000000,"
            "\"models_max_output\":{\"gpt-4o*\":16384},\"max_tokens_default\":1000}}",
            NULL);
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"), ENGINE_ALLOW);
    cr_assert_eq(f.last.tokens, 32 / 3 + 1 + 16384);
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"o3\",\"messages\":[]}"), ENGINE_ALLOW);
    cr_assert_eq(f.last.tokens, 28 / 3 + 1 + 1000);
    cr_assert_eq(
        call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"max_tokens\":99999,\"messages\":[]}"),
        ENGINE_ALLOW);
    cr_assert_eq(f.last.tokens, 51 / 3 + 1 + 16384, "a max above the model's is the model's");
    te_close(&t);
}

Test(engine_budget, hostile_max_tokens_and_n_do_not_overflow)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    const char *bodies[] = {
        "{\"model\":\"gpt-4o\",\"max_tokens\":9223372036854775808,\"n\":10000,\"messages\":[]}",
        "{\"model\":\"gpt-4o\",\"max_completion_tokens\":1e300,\"n\":1e300,\"messages\":[]}",
        "{\"model\":\"gpt-4o\",\"max_tokens\":-5,\"n\":-1,\"messages\":[]}",
    };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(call(&t, &f, ENGINE_CHAT, bodies[i]), ENGINE_ALLOW, "%d", i);
        cr_assert_gt(f.last.tokens, 0, "%d", i);
        cr_assert_leq(f.last.tokens, INT64_C(1) << 62, "%d", i);
        cr_assert_gt(f.last.usd_p, 0, "%d", i);
        cr_assert_leq(f.last.usd_p, INT64_C(1) << 62, "%d", i);
        if (i < 2)
            cr_assert_eq(f.last.tokens, INT64_C(1) << 62, "%d saturates", i);
    }
    te_close(&t);
}

Test(engine_budget, refusal_is_a_429_that_says_which_what_remains_and_when)
{
    struct te t;
    struct fake f = {.refuse = 1,
                     .scope = ENGINE_BUDGET_DAY_USD,
                     .remaining = 250000000000LL,
                     .reset_ms = 1764720000000LL};
    te_open(&t, PRICED, NULL);
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"),
                 ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 429);
    cr_assert(strstr(err, "cordon.budget"), "%s", err);
    cr_assert(strstr(err, "api.budget.day_usd"), "%s", err);
    cr_assert(strstr(err, "$0.250000"), "what remains: %s", err);
    cr_assert(strstr(err, "2025-12-03T00:00:00Z"), "when it resets: %s", err);
    cr_assert_eq(engine_call_retry_after(t.c), 11 * 3600);
    cr_assert_eq(f.settles + f.releases, 0);
    engine_call_finish(t.c, 1);
    char *j = engine_call_audit_json(t.c);
    cr_assert(strstr(j, "\"outcome\":\"refused\""), "%s", j);
    free(j);
    /* a rate: its own code and the minute's end */
    f.scope = ENGINE_RATE_REQUESTS;
    f.remaining = 0;
    f.reset_ms = NOW + 60000;
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"),
                 ENGINE_REFUSE);
    err = te_error(&t, &status);
    cr_assert(strstr(err, "cordon.rate") && strstr(err, "requests_per_minute"), "%s", err);
    cr_assert_eq(engine_call_retry_after(t.c), 60);
    te_close(&t);
}

Test(engine_budget, settles_from_openai_usage_with_cached_and_reasoning)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"), ENGINE_ALLOW);
    engine_call_upstream(t.c, 1, NULL);
    const char *resp =
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1000,"
        "\"completion_tokens\":500,\"prompt_tokens_details\":{\"cached_tokens\":400},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":100}}}";
    const char *o;
    size_t ol;
    cr_assert_geq(engine_call_response(t.c, resp, strlen(resp), &o, &ol), 0);
    engine_call_finish(t.c, 5);
    cr_assert_eq(f.settles, 1);
    cr_assert_eq(f.estimated, 0);
    cr_assert_eq(f.settled_tok, 1500);
    /* 600 input at $1, 400 cached at $0.5, 400 output at $2, 100 reasoning at $4 */
    cr_assert_eq(f.settled_usd,
                 600 * 1000000LL + 400 * 500000LL + 400 * 2000000LL + 100 * 4000000LL);
    char *j = engine_call_audit_json(t.c);
    cr_assert(strstr(j, "\"estimated\":false"), "%s", j);
    cr_assert(strstr(j, "\"cached_input\":400"), "%s", j);
    free(j);
    te_close(&t);
}

Test(engine_budget, settles_from_anthropic_usage_with_cache_reads_and_writes)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    cr_assert_eq(
        call(&t, &f, ENGINE_MESSAGES, "{\"model\":\"claude-x\",\"max_tokens\":64,\"messages\":[]}"),
        ENGINE_ALLOW);
    engine_call_upstream(t.c, 1, NULL);
    const char *resp =
        "{\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
        "\"cache_read_input_tokens\":1000,\"cache_creation_input_tokens\":200}}";
    const char *o;
    size_t ol;
    cr_assert_geq(engine_call_response(t.c, resp, strlen(resp), &o, &ol), 0);
    engine_call_finish(t.c, 5);
    cr_assert_eq(f.settled_tok, 1320);
    cr_assert_eq(f.settled_usd,
                 100 * 3000000LL + 1000 * 300000LL + 200 * 3750000LL + 20 * 15000000LL);
    te_close(&t);
}

Test(engine_budget, no_usage_charges_the_estimate_marked)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"), ENGINE_ALLOW);
    engine_call_upstream(t.c, 1, NULL);
    const char *o;
    size_t ol;
    cr_assert_geq(engine_call_response(t.c, "{\"choices\":[]}", 14, &o, &ol), 0);
    engine_call_finish(t.c, 5);
    cr_assert_eq(f.settles, 1);
    cr_assert_eq(f.estimated, 1);
    cr_assert_eq(f.settled_usd, f.last.usd_p);
    char *j = engine_call_audit_json(t.c);
    cr_assert(strstr(j, "\"estimated\":true"), "%s", j);
    free(j);
    te_close(&t);
}

Test(engine_budget, released_on_every_path_that_spent_nothing)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    const char *body = "{\"model\":\"gpt-4o\",\"messages\":[]}";
    struct engine_reason why = {.status = 502};
    /* the upstream failed or timed out before answering */
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, body), ENGINE_ALLOW);
    engine_call_upstream(t.c, 0, &why);
    engine_call_finish(t.c, 1);
    cr_assert_eq(f.releases, 1);
    /* the upstream answered a 4xx */
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, body), ENGINE_ALLOW);
    engine_call_no_charge(t.c);
    engine_call_upstream(t.c, 1, NULL);
    engine_call_finish(t.c, 1);
    cr_assert_eq(f.releases, 2);
    /* an answer that began 2xx and then failed (a body cut short, not JSON) may have spent */
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, body), ENGINE_ALLOW);
    engine_call_upstream(t.c, 1, NULL);
    engine_call_upstream(t.c, 0, &why);
    engine_call_finish(t.c, 1);
    cr_assert_eq(f.releases, 2);
    cr_assert_eq(f.settles, 1);
    cr_assert_eq(f.estimated, 1);
    f.settles = 0;
    /* the client left before the upstream was called: the call is freed unfinished */
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, body), ENGINE_ALLOW);
    engine_call_free(t.c);
    t.c = NULL;
    cr_assert_eq(f.releases, 3);
    /* ... and after it answered, with no usage: the estimate */
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, body), ENGINE_ALLOW);
    engine_call_upstream(t.c, 1, NULL);
    engine_call_free(t.c);
    t.c = NULL;
    cr_assert_eq(f.settles, 1);
    cr_assert_eq(f.estimated, 1);
    cr_assert_eq(f.releases, 3);
    cr_assert_eq(f.reserves, 5);
    te_close(&t);
}

Test(engine_budget, openai_stream_usage_is_asked_for_and_kept_from_the_client)
{
    struct te t;
    struct fake f = {0};
    te_open(&t, PRICED, NULL);
    cr_assert_eq(
        call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}"),
        ENGINE_REWRITE);
    cr_assert(strstr(t.out, "\"stream_options\":{\"include_usage\":true}"), "%s", t.out);
    engine_call_upstream(t.c, 1, NULL);
    int rc;
    char *got = te_stream(t.c,
                          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},"
                          "\"finish_reason\":null}],\"usage\":null}\n\n"
                          "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,"
                          "\"completion_tokens\":3}}\n\n"
                          "data: [DONE]\n\n",
                          0, &rc);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(got, "\"hi\""), "%s", got);
    cr_assert_null(strstr(got, "prompt_tokens"), "the usage chunk reached the client: %s", got);
    cr_assert(strstr(got, "[DONE]"), "%s", got);
    free(got);
    engine_call_finish(t.c, 1);
    cr_assert_eq(f.settled_tok, 10);
    cr_assert_eq(f.estimated, 0);
    /* a client that asked gets its usage chunk, and the request goes as it is */
    cr_assert_eq(call(&t, &f, ENGINE_CHAT,
                      "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true},\"messages\":[]}"),
                 ENGINE_ALLOW);
    engine_call_upstream(t.c, 1, NULL);
    got = te_stream(t.c,
                    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,"
                    "\"completion_tokens\":3}}\n\ndata: [DONE]\n\n",
                    0, &rc);
    cr_assert(strstr(got, "prompt_tokens"), "%s", got);
    free(got);
    te_close(&t);
}

Test(engine_budget, observe_mode_counts_and_never_refuses)
{
    struct te t;
    struct fake f = {.refuse = 1, .scope = ENGINE_BUDGET_DAY_USD, .reset_ms = NOW + 1000};
    te_open(&t, ",\"mode\":\"observe\"" PRICED, NULL);
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"), ENGINE_ALLOW);
    cr_assert_eq(f.reserves, 2, "refused, then held by force");
    cr_assert(f.last.force);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_BUDGET, ENGINE_HOOK_REQUEST);
    cr_assert_eq(d->verdict, ENGINE_REFUSE);
    cr_assert_eq(d->why.status, 429);
    engine_call_upstream(t.c, 1, NULL);
    engine_call_finish(t.c, 1);
    cr_assert_eq(f.settles, 1);
    te_close(&t);
}

Test(engine_budget, fails_closed_without_a_ledger_or_a_price)
{
    struct te t;
    te_open(&t, PRICED, NULL);
    cr_assert_eq(call(&t, NULL, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"),
                 ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 503);
    cr_assert(strstr(err, "cordon.budget_unavailable"), "%s", err);
    struct fake f = {0};
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"o3\",\"messages\":[]}"), ENGINE_REFUSE);
    err = te_error(&t, &status);
    cr_assert_eq(status, 403);
    cr_assert(strstr(err, "cordon.budget_unpriced") && strstr(err, "o3"), "%s", err);
    f.fail = -EIO;
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"),
                 ENGINE_REFUSE);
    err = te_error(&t, &status);
    cr_assert_eq(status, 503);
    te_close(&t);
    /* a policy without limits never asks the ledger */
    te_open(&t, ",\"api\":{\"models\":[\"*\"]}", NULL);
    f = (struct fake){0};
    cr_assert_eq(call(&t, &f, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}"), ENGINE_ALLOW);
    cr_assert_eq(f.reserves, 0);
    te_close(&t);
}

Test(engine_budget, day_and_month_buckets_at_their_edges)
{
    struct te t;
    te_open(&t, "", NULL);
    static const struct {
        int64_t now;
        const char *day, *month;
        int64_t day_reset, month_reset;
    } v[] = {
        /* 2025-12-31T23:59:59.999Z: the month ends at the new year */
        {1767225599999LL, "2025-12-31", "2025-12", 1767225600000LL, 1767225600000LL},
        /* 2026-01-01T00:00:00Z */
        {1767225600000LL, "2026-01-01", "2026-01", 1767312000000LL, 1769904000000LL},
        /* 2028-02-29T12:00:00Z, a leap day: March starts the next day */
        {1835438400000LL, "2028-02-29", "2028-02", 1835481600000LL, 1835481600000LL},
        {0, "1970-01-01", "1970-01", 86400000LL, 2678400000LL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct engine_budget_ask a;
        memset(&a, 0, sizeof a);
        engine_budget_buckets(t.e, v[i].now, &a);
        cr_assert_str_eq(a.day, v[i].day, "%zu", i);
        cr_assert_str_eq(a.month, v[i].month, "%zu", i);
        cr_assert_eq(a.day_reset_ms, v[i].day_reset, "%zu", i);
        cr_assert_eq(a.month_reset_ms, v[i].month_reset, "%zu", i);
    }
    te_close(&t);
}

/* api.budget.tz: the day and the month are Brussels' (UTC+1 in winter, +2 in summer). */
Test(engine_budget, buckets_in_the_policy_zone)
{
    if (access("/usr/share/zoneinfo/Europe/Brussels", R_OK) != 0) {
        if (getenv("CI") && !strcmp(getenv("CI"), "true"))
            cr_assert_fail("no tz database at /usr/share/zoneinfo (install tzdata)");
        cr_skip_test("no tz database at /usr/share/zoneinfo");
    }
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"budget\":{\"day_tokens\":1000,"
            "\"tz\":\"Europe/Brussels\"}}",
            NULL);
    struct engine_budget_ask a;
    memset(&a, 0, sizeof a);
    /* 2025-12-31T23:30:00Z is 00:30 on 1 January in Brussels */
    engine_budget_buckets(t.e, 1767223800000LL, &a);
    cr_assert_str_eq(a.day, "2026-01-01");
    cr_assert_str_eq(a.month, "2026-01");
    cr_assert_eq(a.day_reset_ms, 1767308400000LL);   /* 2026-01-01T23:00:00Z */
    cr_assert_eq(a.month_reset_ms, 1769900400000LL); /* 2026-01-31T23:00:00Z */
    /* 2026-03-28T23:30:00Z is 00:30 on the 29th, the day of 23 hours (summer time at 02:00) */
    engine_budget_buckets(t.e, 1774740600000LL, &a);
    cr_assert_str_eq(a.day, "2026-03-29");
    cr_assert_eq(a.day_reset_ms, 1774821600000LL);   /* 2026-03-29T22:00:00Z */
    cr_assert_eq(a.month_reset_ms, 1774994400000LL); /* 2026-03-31T22:00:00Z */
    te_close(&t);
}
