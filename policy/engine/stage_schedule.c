/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schedule stage (api.schedule: time windows that block calls or narrow models, tools and
 * data rules). Not built yet: until it is, a policy with schedule rules has every call
 * refused, because forwarding would ignore rules the policy's author wrote.
 */
#include "policy/engine/internal.h"

static enum engine_verdict schedule_request(struct engine_call *c, struct engine_request *rq,
                                            struct engine_reason *why)
{
    (void)rq;
    if (!c->e->p->api.n_schedule)
        return ENGINE_ALLOW;
    char tag[160];
    engine_policy_tag(c, tag, sizeof tag);
    reason_set(why, 403, "cordon.stage_missing",
               "the %s has api.schedule rules, and this cordond does not have the schedule "
               "stage yet; calls are refused rather than forwarded unchecked. Remove "
               "api.schedule or run a cordond that enforces it",
               tag);
    return ENGINE_REFUSE;
}

const struct engine_stage engine_stage_schedule = {"schedule", schedule_request, NULL, NULL};
