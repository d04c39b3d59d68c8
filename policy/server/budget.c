/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /v1/budget and the ledger's /metrics (budget.h). Both read the ledger's counters and the
 * agent's policy; neither changes anything.
 */
#include "policy/server/budget.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/engine/engine.h"
#include "policy/server/identity.h"
#include "policy/server/ledger.h"
#include "policy/server/server.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *const k_units[ENGINE_BUDGET_N_SCOPES] = {
    "usd", "usd", "usd", "tokens", "tokens", "tokens", "requests", "tokens", "calls", "calls"};

/* The limit the policy sets on scope k, in the ledger's units; < 0: none. */
static int64_t limit_of(const struct policy *p, int k)
{
    const double usd[] = {p->api.session_usd, p->api.day_usd, p->api.month_usd};
    switch (k) {
    case ENGINE_BUDGET_SESSION_USD:
    case ENGINE_BUDGET_DAY_USD:
    case ENGINE_BUDGET_MONTH_USD:
        return usd[k] < 0 ? -1 : (int64_t)(usd[k] * 1e12 + 0.5);
    case ENGINE_BUDGET_SESSION_TOKENS:
        return p->api.session_tokens;
    case ENGINE_BUDGET_DAY_TOKENS:
        return p->api.day_tokens;
    case ENGINE_BUDGET_MONTH_TOKENS:
        return p->api.month_tokens;
    case ENGINE_RATE_REQUESTS:
        return p->api.rate_requests_per_minute ? (int64_t)p->api.rate_requests_per_minute : -1;
    case ENGINE_RATE_TOKENS:
        return p->api.rate_tokens_per_minute ? (int64_t)p->api.rate_tokens_per_minute : -1;
    case ENGINE_RATE_CONC_AGENT:
        return p->api.rate_concurrent_per_agent ? (int64_t)p->api.rate_concurrent_per_agent : -1;
    default:
        return p->api.rate_concurrent_per_session ? (int64_t)p->api.rate_concurrent_per_session
                                                  : -1;
    }
}

static void add_amount(cJSON *o, const char *key, int usd, int64_t v)
{
    cJSON_AddNumberToObject(o, key, usd ? (double)v / 1e12 : (double)v);
}

int budget_report(struct srv *s, const struct identity *who, int64_t now_ms, char **out)
{
    if (!now_ms)
        now_ms = wall_ms();
    struct pset *set = pset_acquire(s->psets);
    const struct pset_entry *pe = pset_find(set, who->agent);
    if (!pe || !pe->policy) {
        pset_release(set);
        return -ENOENT;
    }
    const struct policy *p = pe->policy;
    struct engine_budget_ask a;
    memset(&a, 0, sizeof a);
    engine_budget_buckets(pe->engine, now_ms, &a);
    const char *session = who->via_session ? who->session : "";
    struct ledger_view v;
    memset(&v, 0, sizeof v);
    if (s->ledger)
        ledger_view_get(s->ledger, who->agent, session, a.day, a.month, now_ms, &v);
    cJSON *o = cJSON_CreateObject();
    cJSON *bud = cJSON_CreateArray(), *rates = cJSON_CreateArray();
    if (!o || !bud || !rates) {
        cJSON_Delete(o);
        cJSON_Delete(bud);
        cJSON_Delete(rates);
        pset_release(set);
        return -ENOMEM;
    }
    cJSON_AddStringToObject(o, "agent", who->agent);
    if (session[0])
        cJSON_AddStringToObject(o, "session", session);
    else
        cJSON_AddNullToObject(o, "session");
    cJSON_AddNumberToObject(o, "policy_version", (double)p->version);
    cJSON_AddStringToObject(o, "tz", p->api.budget_tz ? p->api.budget_tz : "UTC");
    cJSON_AddStringToObject(o, "day", a.day);
    cJSON_AddStringToObject(o, "month", a.month);
    cJSON_AddBoolToObject(o, "ledger", s->ledger != NULL);
    cJSON_AddItemToObject(o, "budgets", bud);
    cJSON_AddItemToObject(o, "rates", rates);
    for (int k = 0; k < ENGINE_BUDGET_N_SCOPES; k++) {
        int64_t lim = limit_of(p, k);
        if (lim < 0)
            continue;
        int usd = k <= ENGINE_BUDGET_MONTH_USD, rate = k >= ENGINE_RATE_REQUESTS;
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddItemToArray(rate ? rates : bud, e);
        cJSON_AddStringToObject(e, "name", engine_budget_scope_name((enum engine_budget_scope)k));
        cJSON_AddStringToObject(e, "unit", k_units[k]);
        int64_t used = v.spent[k] + v.reserved[k];
        add_amount(e, "limit", usd, lim);
        add_amount(e, rate ? "used" : "spent", usd, v.spent[k]);
        if (!rate)
            add_amount(e, "reserved", usd, v.reserved[k]);
        add_amount(e, "remaining", usd, used < lim ? lim - used : 0);
        int64_t reset = k == ENGINE_BUDGET_DAY_USD || k == ENGINE_BUDGET_DAY_TOKENS ? a.day_reset_ms
                        : k == ENGINE_BUDGET_MONTH_USD || k == ENGINE_BUDGET_MONTH_TOKENS
                            ? a.month_reset_ms
                        : k == ENGINE_RATE_REQUESTS || k == ENGINE_RATE_TOKENS ? v.minute_reset_ms
                                                                               : 0;
        if (reset) {
            char t[32];
            iso(reset, t, sizeof t);
            cJSON_AddStringToObject(e, "resets_at", t);
        } else {
            cJSON_AddNullToObject(e, "resets_at"); /* the session's end, or a call's */
        }
    }
    pset_release(set);
    *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *out ? 0 : -ENOMEM;
}

static const char *const k_reason[ENGINE_BUDGET_N_SCOPES] = {
    "session_usd",           "day_usd",           "month_usd",
    "session_tokens",        "day_tokens",        "month_tokens",
    "requests_per_minute",   "tokens_per_minute", "concurrent_per_agent",
    "concurrent_per_session"};

char *budget_metrics(struct srv *s)
{
    if (!s->ledger)
        return strdup("");
    struct ledger_stats st;
    ledger_stats_get(s->ledger, &st);
    size_t cap = 4096;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    int n = snprintf(
        b, cap,
        "# HELP cordon_budget_spend_usd_total US dollars charged to agents by the ledger.\n"
        "# TYPE cordon_budget_spend_usd_total counter\ncordon_budget_spend_usd_total %.12f\n"
        "# TYPE cordon_budget_spend_tokens_total counter\ncordon_budget_spend_tokens_total "
        "%" PRId64 "\n"
        "# HELP cordon_budget_reservations_total Reservations by how they ended.\n"
        "# TYPE cordon_budget_reservations_total counter\n"
        "cordon_budget_reservations_total{outcome=\"made\"} %" PRIu64 "\n"
        "cordon_budget_reservations_total{outcome=\"settled\"} %" PRIu64 "\n"
        "cordon_budget_reservations_total{outcome=\"estimated\"} %" PRIu64 "\n"
        "cordon_budget_reservations_total{outcome=\"released\"} %" PRIu64 "\n"
        "# TYPE cordon_budget_reservations_open gauge\ncordon_budget_reservations_open %" PRIu64
        "\n# TYPE cordon_budget_reserved_usd gauge\ncordon_budget_reserved_usd %.12f\n"
        "# TYPE cordon_budget_ledger_errors_total counter\ncordon_budget_ledger_errors_total "
        "%" PRIu64 "\n"
        "# HELP cordon_budget_refusals_total Calls refused (429) by the budget or rate that "
        "refused them.\n# TYPE cordon_budget_refusals_total counter\n",
        (double)st.spent_usd_p / 1e12, st.spent_tokens, st.reservations, st.settled, st.estimated,
        st.released, st.open, (double)st.reserved_usd_p / 1e12, st.store_errors);
    size_t len = n > 0 ? (size_t)n : 0;
    for (int k = 0; k < ENGINE_BUDGET_N_SCOPES && len < cap; k++) {
        n = snprintf(b + len, cap - len,
                     "cordon_budget_refusals_total{reason=\"%s\"} %" PRIu64 "\n", k_reason[k],
                     st.refused[k]);
        if (n > 0)
            len += (size_t)n;
    }
    if (len >= cap)
        b[cap - 1] = '\0';
    return b;
}
