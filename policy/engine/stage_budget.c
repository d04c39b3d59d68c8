/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The budget stage (api.budget, api.rate): before a call goes upstream it reserves the call's
 * worst case in the ledger, atomically against every limit (per session, per day and per
 * month in api.budget.tz, per minute, concurrent); when the call ends the usage stage settles
 * the reservation from the upstream's usage, priced with api.budget.prices, or at the worst
 * case when no usage came; a call that never spent releases it. The ledger is the server's
 * (engine_call_info.budget): this file does no I/O and keeps no state beyond the call.
 *
 * The worst case: input tokens estimated as the request body's bytes / 3, rounded up (a
 * token is 3 to 4 bytes of English text, and the body's JSON syntax only adds bytes, so this
 * overestimates), plus the output the request allows: max_tokens (max_completion_tokens,
 * max_output_tokens) times n, or the model's maximum (api.budget.models_max_output,
 * api.budget.max_tokens_default, POLICY_MAX_TOKENS_DEFAULT) when it sets none. Every product
 * saturates at ENGINE_BUDGET_CAP, so a max_tokens of 2^63 times an n of 10,000 is a very
 * large reservation, refused by any limit, never an overflow.
 *
 * api.anomaly is not this stage's: cordond's anomaly response (policy/server/anomaly.c)
 * watches the agent's rates.
 */
#include "policy/engine/engine.h"
#include "policy/engine/internal.h"
#include "base/glob.h"
#include "base/tz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GET cJSON_GetObjectItemCaseSensitive
#define ENGINE_BUDGET_CAP (INT64_C(1) << 62) /* the most one reservation holds, either unit */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r) || r > ENGINE_BUDGET_CAP)
        return ENGINE_BUDGET_CAP;
    return r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > ENGINE_BUDGET_CAP)
        return ENGINE_BUDGET_CAP;
    return r;
}

/* A token count from the request: a non-negative JSON number, clamped; -1 when absent or not
 * a count (the upstream will refuse it; the reservation then takes the model's maximum). */
static int64_t req_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return -1;
    if (v->valuedouble >= (double)ENGINE_BUDGET_CAP)
        return ENGINE_BUDGET_CAP;
    return (int64_t)ceil(v->valuedouble);
}

/* US dollars per million tokens as pico-dollars per token: 1 $/Mtok = 10^6 p$/token. */
static int64_t per_token(double per_mtok)
{
    return per_mtok > 0 ? (int64_t)llround(per_mtok * 1e6) : 0;
}

static const struct policy_price *price_for(const struct policy *p, const char *model)
{
    for (size_t i = 0; i < p->api.n_prices; i++)
        if (glob_match(p->api.prices[i].model, model))
            return &p->api.prices[i];
    return NULL;
}

static int64_t model_max(const struct policy *p, const char *model)
{
    for (size_t i = 0; i < p->api.n_models_max; i++)
        if (glob_match(p->api.models_max[i].model, model))
            return (int64_t)p->api.models_max[i].max_output;
    return -1;
}

/* The output the request may produce, across its choices. */
static int64_t worst_output(const struct engine_call *c, const struct engine_request *rq)
{
    const struct policy *p = c->e->p;
    if (c->fmt == ENGINE_EMBEDDINGS)
        return 0;
    int64_t mx = -1, n = 1;
    const cJSON *r = rq->root;
    if (c->fmt == ENGINE_CHAT) {
        mx = req_count(GET(r, "max_completion_tokens"));
        int64_t legacy = req_count(GET(r, "max_tokens"));
        if (legacy > mx)
            mx = legacy;
        int64_t k = req_count(GET(r, "n"));
        if (k > 1)
            n = k;
    } else if (c->fmt == ENGINE_RESPONSES) {
        mx = req_count(GET(r, "max_output_tokens"));
    } else {
        mx = req_count(GET(r, "max_tokens"));
    }
    int64_t mm = model_max(p, c->model ? c->model : "");
    if (mx < 0)
        mx = mm >= 0                     ? mm
             : p->api.max_tokens_default ? (int64_t)p->api.max_tokens_default
                                         : POLICY_MAX_TOKENS_DEFAULT;
    else if (mm >= 0 && mx > mm)
        mx = mm; /* the model cannot produce more than its maximum */
    return sat_mul(mx, n);
}

static int64_t usd_limit(double usd)
{
    return usd < 0 ? -1 : (int64_t)llround(usd * 1e12);
}

static void digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void bucket_names(struct engine_budget_ask *a, int64_t y, int m, int d)
{
    unsigned yy = (unsigned)(y < 0 ? 0 : y) % 10000u;
    digits(a->day, yy, 4);
    a->day[4] = '-';
    digits(a->day + 5, (unsigned)m, 2);
    a->day[7] = '-';
    digits(a->day + 8, (unsigned)d, 2);
    a->day[10] = '\0';
    memcpy(a->month, a->day, 7);
    a->month[7] = '\0';
}

/* The day and month buckets of now in api.budget.tz, and when each ends: UTC by arithmetic;
 * another zone through base/tz.h (no TZ, no localtime: safe from every thread). The bucket
 * names are the ledger's keys. */
void engine_budget_buckets(const struct engine *e, int64_t now_ms, struct engine_budget_ask *a)
{
    int64_t days = now_ms >= 0 ? now_ms / 86400000 : (now_ms - 86399999) / 86400000;
    const struct tz *z = e ? e->budget_tz : NULL;
    struct tz_local l;
    if (z && tz_convert(z, now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000, &l) == 0) {
        bucket_names(a, l.year, l.month, l.mday);
        int64_t ny, my;
        int nm, nd, mm = l.month == 12 ? 1 : l.month + 1;
        tz_civil_from_days(tz_days_from_civil(l.year, l.month, l.mday) + 1, &ny, &nm, &nd);
        my = l.month == 12 ? l.year + 1 : l.year;
        int64_t t1 = 0, t2 = 0;
        if (tz_local_to_utc(z, ny, nm, nd, 0, &t1) == 0 &&
            tz_local_to_utc(z, my, mm, 1, 0, &t2) == 0) {
            a->day_reset_ms = t1 * 1000;
            a->month_reset_ms = t2 * 1000;
            return;
        }
    }
    int64_t y;
    int m, d;
    tz_civil_from_days(days, &y, &m, &d);
    bucket_names(a, y, m, d);
    a->day_reset_ms = (days + 1) * 86400000;
    a->month_reset_ms = tz_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400000;
}

int budget_engine_init(struct engine *e, char *err, size_t errlen)
{
    const struct policy *p = e->p;
    const char *name = p->api.budget_tz;
    if (!p->api.has_budget || !name || !strcmp(name, "UTC"))
        return 0;
    char why[400] = "";
    int rc = tz_load(e->o.zoneinfo ? e->o.zoneinfo : TZ_DEFAULT_DIR, name, &e->budget_tz, why,
                     sizeof why);
    if (rc == -ENOMEM)
        return rc;
    if (rc)
        snprintf(err, errlen,
                 "api.budget.tz: %s; the policy cannot be used until its zone can be read", why);
    return rc;
}

void budget_engine_free(struct engine *e)
{
    tz_free(e->budget_tz);
    e->budget_tz = NULL;
}

const char *engine_budget_scope_name(enum engine_budget_scope s)
{
    static const char *const n[ENGINE_BUDGET_N_SCOPES] = {
        "api.budget.session_usd",        "api.budget.day_usd",
        "api.budget.month_usd",          "api.budget.session_tokens",
        "api.budget.day_tokens",         "api.budget.month_tokens",
        "api.rate.requests_per_minute",  "api.rate.tokens_per_minute",
        "api.rate.concurrent_per_agent", "api.rate.concurrent_per_session"};
    return (unsigned)s < ENGINE_BUDGET_N_SCOPES ? n[s] : "?";
}

static int scope_is_usd(enum engine_budget_scope s)
{
    return s <= ENGINE_BUDGET_MONTH_USD;
}

/* "$0.000123" from pico-dollars, for messages. */
static void usd_text(int64_t p, char *buf, size_t cap)
{
    snprintf(buf, cap, "$%.6f", (double)p / 1e12);
}

static void refusal(struct engine_call *c, const struct engine_budget_refusal *r,
                    struct engine_reason *why)
{
    char tag[160], lim[40], rem[40], need[40], when[96];
    engine_policy_tag(c, tag, sizeof tag);
    int usd = scope_is_usd(r->scope);
    int64_t ask = usd ? c->budget_usd_p : c->budget_tokens;
    if (usd) {
        usd_text(r->limit, lim, sizeof lim);
        usd_text(r->remaining, rem, sizeof rem);
        usd_text(ask, need, sizeof need);
    } else {
        snprintf(lim, sizeof lim, "%lld", (long long)r->limit);
        snprintf(rem, sizeof rem, "%lld", (long long)r->remaining);
        snprintf(need, sizeof need, "%lld", (long long)ask);
    }
    int64_t wait = r->reset_ms > c->now_ms ? (r->reset_ms - c->now_ms + 999) / 1000 : 1;
    if (wait < 1)
        wait = 1;
    c->retry_after = wait > 86400 * 31 ? 86400 * 31 : (unsigned)wait;
    if (r->reset_ms > 0) {
        time_t t = (time_t)(r->reset_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "resets at %Y-%m-%dT%H:%M:%SZ", &tm);
    } else if (r->scope == ENGINE_BUDGET_SESSION_USD || r->scope == ENGINE_BUDGET_SESSION_TOKENS) {
        snprintf(when, sizeof when,
                 "it resets when the session ends (what open calls hold "
                 "comes back as they end)");
    } else {
        snprintf(when, sizeof when, "frees up when a call of the agent ends");
    }
    switch (r->scope) {
    case ENGINE_RATE_REQUESTS:
        reason_set(why, 429, "cordon.rate",
                   "%s: %s is %s requests a minute and this minute's are used; %s of %s "
                   "remain; %s (Retry-After %u s)",
                   tag, engine_budget_scope_name(r->scope), lim, rem, lim, when, c->retry_after);
        break;
    case ENGINE_RATE_CONC_AGENT:
    case ENGINE_RATE_CONC_SESSION:
        reason_set(why, 429, "cordon.rate",
                   "%s: %s is %s calls at once and %lld are open; %s of %s remain; a slot %s", tag,
                   engine_budget_scope_name(r->scope), lim, (long long)r->used, rem, lim, when);
        break;
    default:
        reason_set(why, 429, r->scope == ENGINE_RATE_TOKENS ? "cordon.rate" : "cordon.budget",
                   "%s: %s is %s; this call may cost up to %s%s and %s remain; %s "
                   "(Retry-After %u s). Lower max_tokens or wait",
                   tag, engine_budget_scope_name(r->scope), lim, need, usd ? "" : " tokens", rem,
                   when, c->retry_after);
    }
}

/* OpenAI chat streams report usage only when asked: ask, and keep the extra chunk from a
 * client that did not (format_chat.c). */
static int ask_stream_usage(struct engine_call *c, struct engine_request *rq)
{
    if (c->fmt != ENGINE_CHAT || !rq->stream || c->observe)
        return 0;
    cJSON *so = GET(rq->root, "stream_options");
    if (cJSON_IsObject(so) && cJSON_IsTrue(GET(so, "include_usage")))
        return 0;
    if (!cJSON_IsObject(so)) {
        cJSON_DeleteItemFromObjectCaseSensitive(rq->root, "stream_options");
        if (!(so = cJSON_AddObjectToObject(rq->root, "stream_options")))
            return -ENOMEM;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(so, "include_usage");
    if (!cJSON_AddTrueToObject(so, "include_usage"))
        return -ENOMEM;
    rq->changed = 1;
    c->strip_usage = 1;
    return 0;
}

static enum engine_verdict budget_request(struct engine_call *c, struct engine_request *rq,
                                          struct engine_reason *why)
{
    const struct policy *p = c->e->p;
    char tag[160];
    if (!p->api.has_budget)
        return ENGINE_ALLOW;
    if (!c->bops) {
        engine_policy_tag(c, tag, sizeof tag);
        reason_set(why, 503, "cordon.budget_unavailable",
                   "the %s has api.budget or api.rate limits and this cordond has no ledger to "
                   "count them in; the call is refused rather than spent uncounted",
                   tag);
        return ENGINE_REFUSE;
    }
    const char *model = c->model ? c->model : "";
    const struct policy_price *pr = price_for(p, model);
    int usd = p->api.session_usd >= 0 || p->api.day_usd >= 0 || p->api.month_usd >= 0;
    if (usd && !pr) {
        engine_policy_tag(c, tag, sizeof tag);
        reason_set(why, 403, "cordon.budget_unpriced",
                   "the %s limits spending in US dollars and api.budget.prices has no price "
                   "for model \"%s\", so the call cannot be counted; add a price for it",
                   tag, model);
        return ENGINE_REFUSE;
    }
    int64_t in = (int64_t)(c->req_len / 3 + 1), out = worst_output(c, rq);
    if ((int64_t)rq->tokens_input > in)
        in = (int64_t)rq->tokens_input; /* embeddings input given as token arrays */
    int64_t in_p = 0, out_p = 0;
    if (pr) {
        in_p = per_token(pr->input_per_mtok);
        int64_t cw = per_token(pr->cache_write_per_mtok);
        if (cw > in_p)
            in_p = cw; /* an input written to the cache costs the most */
        out_p = per_token(pr->output_per_mtok);
        int64_t rs = per_token(pr->reasoning_per_mtok);
        if (rs > out_p)
            out_p = rs;
    }
    struct engine_budget_ask a;
    memset(&a, 0, sizeof a);
    if (!c->now_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    a.agent = c->agent;
    a.session = c->session ? c->session : "";
    a.now_ms = c->now_ms;
    engine_budget_buckets(c->e, c->now_ms, &a);
    a.tokens = sat_add(in, out);
    a.usd_p = sat_add(sat_mul(in, in_p), sat_mul(out, out_p));
    a.limit[ENGINE_BUDGET_SESSION_USD] = usd_limit(p->api.session_usd);
    a.limit[ENGINE_BUDGET_DAY_USD] = usd_limit(p->api.day_usd);
    a.limit[ENGINE_BUDGET_MONTH_USD] = usd_limit(p->api.month_usd);
    a.limit[ENGINE_BUDGET_SESSION_TOKENS] = p->api.session_tokens;
    a.limit[ENGINE_BUDGET_DAY_TOKENS] = p->api.day_tokens;
    a.limit[ENGINE_BUDGET_MONTH_TOKENS] = p->api.month_tokens;
    a.limit[ENGINE_RATE_REQUESTS] =
        p->api.rate_requests_per_minute ? (int64_t)p->api.rate_requests_per_minute : -1;
    a.limit[ENGINE_RATE_TOKENS] =
        p->api.rate_tokens_per_minute ? (int64_t)p->api.rate_tokens_per_minute : -1;
    a.limit[ENGINE_RATE_CONC_AGENT] =
        p->api.rate_concurrent_per_agent ? (int64_t)p->api.rate_concurrent_per_agent : -1;
    a.limit[ENGINE_RATE_CONC_SESSION] =
        p->api.rate_concurrent_per_session ? (int64_t)p->api.rate_concurrent_per_session : -1;
    c->budget_usd_p = a.usd_p;
    c->budget_tokens = a.tokens;
    struct engine_budget_refusal r;
    memset(&r, 0, sizeof r);
    int rc = c->bops->reserve(c->bops_ud, &a, &c->budget_handle, &r);
    enum engine_verdict v = ENGINE_ALLOW;
    if (rc < 0) {
        reason_set(why, 503, "cordon.budget_unavailable",
                   "the ledger cannot record the reservation (%s); the call is refused rather "
                   "than spent uncounted; see cordond's log",
                   strerror(-rc));
        return ENGINE_REFUSE;
    }
    if (rc == 1) {
        refusal(c, &r, why);
        if (!c->observe)
            return ENGINE_REFUSE;
        /* observe mode: recorded as refused, and still counted */
        v = ENGINE_REFUSE;
        a.force = 1;
        if (c->bops->reserve(c->bops_ud, &a, &c->budget_handle, &r) != 0)
            return v;
    }
    c->budget_held = 1;
    if (ask_stream_usage(c, rq) != 0) {
        budget_release(c);
        reason_set(why, 503, "cordon.budget_unavailable", "out of memory");
        return ENGINE_REFUSE;
    }
    return v;
}

/* What the usage cost, priced as each API counts: OpenAI's cached input is part of its input
 * count and reasoning part of its output; Anthropic's cache reads and writes are beside the
 * input count. A price not given falls back to input (cached, cache writes) or output
 * (reasoning). */
static void usage_cost(const struct engine_call *c, int64_t *usd_p, int64_t *tokens)
{
    const struct policy_price *pr = price_for(c->e->p, c->model ? c->model : "");
    int64_t in = c->in_tokens == UINT64_MAX ? 0 : (int64_t)c->in_tokens;
    int64_t out = c->out_tokens == UINT64_MAX ? 0 : (int64_t)c->out_tokens;
    int64_t cached = c->cached_tokens == UINT64_MAX ? 0 : (int64_t)c->cached_tokens;
    int64_t reason = c->reasoning_tokens == UINT64_MAX ? 0 : (int64_t)c->reasoning_tokens;
    int64_t cw = c->cache_write_tokens == UINT64_MAX ? 0 : (int64_t)c->cache_write_tokens;
    int anthropic = c->fmt == ENGINE_MESSAGES;
    int64_t plain_in = anthropic ? in : (in > cached ? in - cached : 0);
    int64_t plain_out = out > reason ? out - reason : 0;
    if (reason > out)
        reason = out;
    if (!anthropic && cached > in)
        cached = in;
    *tokens = sat_add(sat_add(plain_in, cached), sat_add(sat_add(plain_out, reason), cw));
    if (!pr) {
        *usd_p = 0;
        return;
    }
    int64_t pin = per_token(pr->input_per_mtok), pout = per_token(pr->output_per_mtok);
    int64_t pc = pr->cached_input_per_mtok >= 0 ? per_token(pr->cached_input_per_mtok) : pin;
    int64_t pr_ = pr->reasoning_per_mtok >= 0 ? per_token(pr->reasoning_per_mtok) : pout;
    int64_t pw = pr->cache_write_per_mtok >= 0 ? per_token(pr->cache_write_per_mtok) : pin;
    *usd_p =
        sat_add(sat_add(sat_mul(plain_in, pin), sat_mul(cached, pc)),
                sat_add(sat_add(sat_mul(plain_out, pout), sat_mul(reason, pr_)), sat_mul(cw, pw)));
}

void budget_settle(struct engine_call *c)
{
    if (!c->budget_held)
        return;
    c->budget_held = 0;
    c->budget_done = 1;
    if (c->usage_seen) {
        usage_cost(c, &c->charged_usd_p, &c->charged_tokens);
    } else {
        c->budget_est = 1;
        c->charged_usd_p = c->budget_usd_p;
        c->charged_tokens = c->budget_tokens;
    }
    c->bops->settle(c->bops_ud, c->budget_handle, c->charged_usd_p, c->charged_tokens,
                    c->budget_est);
}

void budget_release(struct engine_call *c)
{
    if (!c->budget_held)
        return;
    c->budget_held = 0;
    c->budget_done = 2;
    c->bops->release(c->bops_ud, c->budget_handle);
}

const struct engine_stage engine_stage_budget = {"budget", budget_request, NULL, NULL};
