/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The quarantine stage: an agent the anomaly response has quarantined gets every model call
 * refused, before anything else is judged. The server knows the quarantine; the engine is
 * told with the call (engine_call_info.quarantined and since when).
 */
#include <time.h>

#include "policy/engine/internal.h"

static enum engine_verdict quarantine_request(struct engine_call *c, struct engine_request *rq,
                                              struct engine_reason *why)
{
    (void)rq;
    if (!c->quarantined)
        return ENGINE_ALLOW;
    char since[40] = "an anomaly";
    if (c->quarantined_since_ms > 0) {
        time_t t = (time_t)(c->quarantined_since_ms / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    reason_set(why, 403, "cordon.quarantined",
               "agent \"%s\" is quarantined by cordond's anomaly response since %s; every "
               "model call and tunnel is refused until an administrator runs `cordon agent "
               "release %s`",
               c->agent, since, c->agent);
    return ENGINE_REFUSE;
}

const struct engine_stage engine_stage_quarantine = {"quarantine", quarantine_request, NULL, NULL};
