/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The budget stage (api.budget: spend per session and per day from token prices, and the
 * anomaly triggers' rates). Not built yet: until it is, a policy with a limit has every call
 * refused, because forwarding would spend without counting.
 */
#include "policy/engine/internal.h"

static enum engine_verdict budget_request(struct engine_call *c, struct engine_request *rq,
                                          struct engine_reason *why)
{
    (void)rq;
    const struct policy *p = c->e->p;
    if (p->api.session_usd < 0 && p->api.day_usd < 0) /* api.anomaly: cordond, anomaly.c */
        return ENGINE_ALLOW;
    char tag[160];
    engine_policy_tag(c, tag, sizeof tag);
    reason_set(why, 403, "cordon.stage_missing",
               "the %s has api.budget limits or api.anomaly triggers, and this cordond does not "
               "have the budget stage yet; the call is refused rather than spent uncounted. "
               "Remove them or run a cordond that enforces budgets",
               tag);
    return ENGINE_REFUSE;
}

const struct engine_stage engine_stage_budget = {"budget", budget_request, NULL, NULL};
