/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data stage (api.data: classify every text position of the request and the response,
 * redact or block by class). Not built yet: until it is, a policy with api.data rules or
 * custom classes has every call refused, because forwarding would send text unscanned.
 * The extractor it will read (engine_request.texts) is already complete for every format.
 */
#include "policy/engine/internal.h"

static enum engine_verdict data_request(struct engine_call *c, struct engine_request *rq,
                                        struct engine_reason *why)
{
    (void)rq;
    const struct policy *p = c->e->p;
    if (!p->api.data.n && !p->api.n_custom)
        return ENGINE_ALLOW;
    char tag[160];
    engine_policy_tag(c, tag, sizeof tag);
    reason_set(why, 403, "cordon.stage_missing",
               "the %s has api.data rules, and this cordond does not have the data stage yet; "
               "the call is refused rather than forwarded unscanned. Remove api.data or run a "
               "cordond that classifies data",
               tag);
    return ENGINE_REFUSE;
}

const struct engine_stage engine_stage_data = {"data", data_request, NULL, NULL};
