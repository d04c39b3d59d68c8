/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model allowlist: the request's model must match one glob of the policy's api.models.
 * An empty list allows no model (docs/POLICY.md), so a policy without api.models makes
 * every model call fail here with a message that says so.
 */
#include "policy/engine/internal.h"

#include <stdio.h>
#include <string.h>
#include "base/glob.h"

static enum engine_verdict models_request(struct engine_call *c, struct engine_request *rq,
                                          struct engine_reason *why)
{
    const struct policy_list *m = &c->e->p->api.models;
    const char *model = rq->model ? rq->model : "";
    for (size_t i = 0; i < m->n; i++)
        if (glob_match(m->v[i], model))
            return ENGINE_ALLOW;
    char tag[160], list[200] = "";
    engine_policy_tag(c, tag, sizeof tag);
    size_t off = 0;
    for (size_t i = 0; i < m->n && off < sizeof list - 8; i++) {
        int n = snprintf(list + off, sizeof list - off, "%s\"%s\"", i ? ", " : "", m->v[i]);
        if (n < 0 || (size_t)n >= sizeof list - off) {
            snprintf(list + off, sizeof list - off, ", ...");
            break;
        }
        off += (size_t)n;
    }
    reason_set(why, 403, "cordon.model_denied",
               "model \"%.100s\" is not allowed by api.models of the %s (allowed: %s); call an "
               "allowed model or add \"%.100s\" to api.models", model, tag,
               m->n ? list : "none", model);
    return ENGINE_REFUSE;
}

const struct engine_stage engine_stage_models = {"models", models_request, NULL, NULL};
