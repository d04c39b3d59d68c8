/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The usage stage: token counts from the response's usage events (each format's assembler
 * turns its own usage fields into ENGINE_EV_USAGE), and the audit stage, whose final hook
 * marks the record complete; the record itself is built by record.c for the server. The
 * usage stage's final hook settles the budget stage's reservation (stage_budget.c).
 */
#include "policy/engine/internal.h"

static enum engine_verdict usage_event(struct engine_call *c, const struct engine_event *ev,
                                       struct engine_reason *why)
{
    (void)why;
    if (ev->kind != ENGINE_EV_USAGE)
        return ENGINE_ALLOW;
    if (ev->in_tokens != UINT64_MAX)
        c->in_tokens = ev->in_tokens;
    if (ev->out_tokens != UINT64_MAX)
        c->out_tokens = ev->out_tokens;
    if (ev->cached_tokens != UINT64_MAX)
        c->cached_tokens = ev->cached_tokens;
    if (ev->reasoning_tokens != UINT64_MAX)
        c->reasoning_tokens = ev->reasoning_tokens;
    if (ev->cache_write_tokens != UINT64_MAX)
        c->cache_write_tokens = ev->cache_write_tokens;
    if (ev->in_tokens != UINT64_MAX || ev->out_tokens != UINT64_MAX)
        c->usage_seen = 1;
    return ENGINE_ALLOW;
}

/* The budget stage's reservation ends here: settled from the usage (or at the worst case,
 * marked estimated, when none came) once the upstream answered; released otherwise. */
static enum engine_verdict usage_final(struct engine_call *c, struct engine_reason *why)
{
    (void)why;
    const struct engine_decision *up = &c->d[ENGINE_STAGE_UPSTREAM][ENGINE_HOOK_REQUEST];
    if (up->ran && up->verdict == ENGINE_ALLOW)
        budget_settle(c);
    else
        budget_release(c);
    return ENGINE_ALLOW;
}

static enum engine_verdict audit_final(struct engine_call *c, struct engine_reason *why)
{
    (void)c;
    (void)why;
    return ENGINE_ALLOW;
}

const struct engine_stage engine_stage_usage = {"usage", NULL, usage_event, usage_final};
const struct engine_stage engine_stage_audit = {"audit", NULL, NULL, audit_final};
