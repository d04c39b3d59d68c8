/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The quarantine stage: an agent the anomaly response has quarantined gets every model call
 * refused, before anything else is judged. The server knows the quarantine; the engine is
 * told with the call (engine_call_info.quarantined).
 */
#include "policy/engine/internal.h"

static enum engine_verdict quarantine_request(struct engine_call *c, struct engine_request *rq,
                                              struct engine_reason *why)
{
    (void)rq;
    if (!c->quarantined)
        return ENGINE_ALLOW;
    reason_set(why, 403, "cordon.quarantined",
               "agent \"%s\" is quarantined after an anomaly; every model call is refused "
               "until an operator lifts the quarantine in cordond",
               c->agent);
    return ENGINE_REFUSE;
}

const struct engine_stage engine_stage_quarantine = {"quarantine", quarantine_request, NULL, NULL};
