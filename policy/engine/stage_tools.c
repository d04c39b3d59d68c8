/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tool authorization, both sides of a call. On the request: tool definitions the policy
 * does not allow are stripped (or the request refused, per on_denied_definition), a
 * tool_choice that forces a denied tool is refused, and every tool call of the history is
 * judged as a response call would be, so a conversation cannot carry a denied call back in.
 * On the response: each complete tool call (the assemblers hand over only complete ones) is
 * judged on its name and on its arguments: valid JSON object, then each argument rule
 * (pattern matched in full, enum, numeric range, presence).
 */
#include "policy/engine/internal.h"
#include "policy/deep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/glob.h"

int tools_name_allowed(const struct engine *e, const char *name, struct engine_reason *why)
{
    const struct policy *p = e->p;
    char tag[160];
    engine_tag(p, tag, sizeof tag);
    for (size_t i = 0; i < p->api.tools_deny.n; i++)
        if (glob_match(p->api.tools_deny.v[i], name)) {
            reason_set(why, 403, "cordon.tool_denied",
                       "tool \"%.100s\" matches \"%s\" in api.tools.deny of the %s; remove it "
                       "from api.tools.deny to allow it",
                       name, p->api.tools_deny.v[i], tag);
            return 0;
        }
    for (size_t i = 0; i < p->api.tools_allow.n; i++)
        if (glob_match(p->api.tools_allow.v[i], name))
            return 1;
    reason_set(why, 403, "cordon.tool_denied",
               "tool \"%.100s\" is not in api.tools.allow of the %s%s; add it to "
               "api.tools.allow to allow it",
               name, tag, p->api.tools_allow.n ? "" : " (the list is empty: no tool is allowed)");
    return 0;
}

/* The value's text for pattern and enum: a string's value, a number's JSON text. */
static int value_text(const cJSON *v, char *num, size_t cap, const char **out)
{
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(num, cap, "%.0f", d);
        else
            snprintf(num, cap, "%.17g", d);
        *out = num;
        return 0;
    }
    return -1;
}

static enum engine_verdict check_arg(const struct engine *e, const struct arg_check *k,
                                     const char *name, const cJSON *args, struct engine_reason *why)
{
    char tag[160];
    engine_tag(e->p, tag, sizeof tag);
    const char *src = k->from_policy ? "api.tools.constraints" : "the argument rules";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k->arg);
    if (!v) {
        if (k->optional)
            return ENGINE_ALLOW;
        reason_set(why, 403, "cordon.tool_arguments",
                   "tool call \"%.100s\" lacks argument \"%s\", which %s of the %s "
                   "constrain; the call must give it",
                   name, k->arg, src, tag);
        return ENGINE_REFUSE;
    }
    char num[64];
    const char *txt = NULL;
    if (k->has_re || k->n_enum) {
        if (value_text(v, num, sizeof num, &txt) != 0) {
            reason_set(why, 403, "cordon.tool_arguments",
                       "tool call \"%.100s\": argument \"%s\" must be a string or a number "
                       "(%s of the %s)",
                       name, k->arg, src, tag);
            return ENGINE_REFUSE;
        }
        int m = k->has_re ? deep_regex_match(k->re, txt, strlen(txt)) : 1;
        if (m < 0) {
            reason_set(why, 403, "cordon.tool_arguments",
                       "tool call \"%.100s\": argument \"%s\" could not be checked against "
                       "\"%s\" (%s of the %s), so the call is refused",
                       name, k->arg, k->pattern, src, tag);
            return ENGINE_REFUSE;
        }
        if (!m) {
            reason_set(why, 403, "cordon.tool_arguments",
                       "tool call \"%.100s\": argument \"%s\" does not match \"%s\" in full "
                       "(%s of the %s)",
                       name, k->arg, k->pattern, src, tag);
            return ENGINE_REFUSE;
        }
        if (k->n_enum) {
            size_t i;
            for (i = 0; i < k->n_enum; i++)
                if (strcmp(k->enum_v[i], txt) == 0)
                    break;
            if (i == k->n_enum) {
                reason_set(why, 403, "cordon.tool_arguments",
                           "tool call \"%.100s\": argument \"%s\" is not one of the %zu values "
                           "%s of the %s allow",
                           name, k->arg, k->n_enum, src, tag);
                return ENGINE_REFUSE;
            }
        }
    }
    if (k->has_min || k->has_max) {
        if (!cJSON_IsNumber(v) || isnan(v->valuedouble) ||
            (k->has_min && v->valuedouble < k->min) || (k->has_max && v->valuedouble > k->max)) {
            reason_set(why, 403, "cordon.tool_arguments",
                       "tool call \"%.100s\": argument \"%s\" must be a number in [%g, %g] (%s "
                       "of the %s)",
                       name, k->arg, k->has_min ? k->min : -INFINITY,
                       k->has_max ? k->max : INFINITY, src, tag);
            return ENGINE_REFUSE;
        }
    }
    return ENGINE_ALLOW;
}

enum engine_verdict tools_judge_call(const struct engine *e, const char *name, const char *args,
                                     size_t args_len, struct engine_reason *why)
{
    if (!tools_name_allowed(e, name ? name : "", why))
        return ENGINE_REFUSE;
    /* "" is what servers send for a tool with no parameters. */
    size_t i = 0;
    while (i < args_len && strchr(" \t\r\n", args[i]))
        i++;
    if (i == args_len) {
        args = "{}";
        args_len = 2;
    }
    char err[200];
    cJSON *j = NULL;
    int rc = format_parse(args, args_len, ENGINE_MAX_DEPTH, &j, err, sizeof err);
    if (rc || !cJSON_IsObject(j)) {
        reason_set(why, 403, "cordon.tool_arguments",
                   "tool call \"%.100s\": the arguments are not a JSON object (%s)", name,
                   rc ? err : "another JSON value");
        cJSON_Delete(j);
        return ENGINE_REFUSE;
    }
    enum engine_verdict v = ENGINE_ALLOW;
    for (size_t k = 0; k < e->n_checks && v == ENGINE_ALLOW; k++)
        if (glob_match(e->checks[k].tool, name))
            v = check_arg(e, &e->checks[k], name, j, why);
    cJSON_Delete(j);
    return v;
}

/* The policy's api.tools, then the api.schedule rules that apply to the call. History calls
 * are judged by api.tools alone: they were made earlier, perhaps while no rule applied. */
static int call_name_allowed(const struct engine_call *c, const char *name,
                             struct engine_reason *why)
{
    return tools_name_allowed(c->e, name, why) && !engine_schedule_tool_denied(c, name, why);
}

static enum engine_verdict tools_request(struct engine_call *c, struct engine_request *rq,
                                         struct engine_reason *why)
{
    const struct engine *e = c->e;
    for (size_t i = 0; i < rq->n_calls; i++) {
        struct engine_tool_call *t = &rq->calls[i];
        if (tools_judge_call(e, t->name, t->args, t->args_len, why) == ENGINE_REFUSE) {
            struct engine_reason r = *why;
            reason_set(why, 403, "cordon.tool_history",
                       "the conversation history holds a "
                       "tool call the policy denies (%s): %s",
                       t->path, r.message);
            return ENGINE_REFUSE;
        }
    }
    /* A tool result is judged by the tool of the call it answers: a result for a denied tool
     * would hand the model what that tool gave, and one for a call the conversation does not
     * hold could be anything's. With stored context (previous_response_id, a conversation, an
     * item_reference), which the policy allowed, the call may lie in the part the proxy
     * cannot see: then only a result that names its tool is judged. */
    for (size_t i = 0; i < rq->n_results; i++) {
        const struct engine_tool_result *res = &rq->results[i];
        const char *name = res->name;
        for (size_t k = 0; !name && res->call_id && k < res->calls_before; k++)
            if (rq->calls[k].id && strcmp(rq->calls[k].id, res->call_id) == 0)
                name = rq->calls[k].name;
        if (!name) {
            if (rq->stored_context)
                continue;
            reason_set(why, 403, "cordon.tool_result",
                       "the conversation holds a tool result (%s) for call \"%.80s\", which no "
                       "tool call of the conversation made; send the assistant turn holding the "
                       "call before its result",
                       res->path, res->call_id);
            return ENGINE_REFUSE;
        }
        struct engine_reason r;
        if (!tools_name_allowed(e, name, &r)) {
            reason_set(why, 403, "cordon.tool_result",
                       "the conversation holds the result of a tool the policy denies (%s, "
                       "tool \"%.100s\"): %s",
                       res->path, name, r.message);
            return ENGINE_REFUSE;
        }
    }
    if (rq->tool_choice_forced) {
        struct engine_reason r;
        if (!call_name_allowed(c, rq->tool_choice_forced, &r)) {
            reason_set(why, 403, "cordon.tool_choice_denied",
                       "tool_choice forces tool \"%.100s\", which the policy denies: %s",
                       rq->tool_choice_forced, r.message);
            return ENGINE_REFUSE;
        }
    }
    enum engine_verdict v = ENGINE_ALLOW;
    size_t left = 0;
    for (size_t i = 0; i < rq->n_tools; i++) {
        struct engine_reason r;
        if (!rq->tools[i].node)
            continue;
        if (call_name_allowed(c, rq->tools[i].name, &r)) {
            left++;
            continue;
        }
        if (e->o.on_denied_definition == ENGINE_DEFINITION_REFUSE) {
            reason_set(why, 403, "cordon.tool_denied",
                       "the request defines a tool the policy "
                       "denies (on_denied_definition is refuse): %s",
                       r.message);
            return ENGINE_REFUSE;
        }
        *why = r;
        format_strip_tool(rq, i);
        v = ENGINE_REWRITE;
    }
    if (rq->tool_choice_required && !left && rq->n_tools) {
        struct engine_reason r = *why;
        reason_set(why, 403, "cordon.tool_choice_denied",
                   "tool_choice requires a tool call, and the policy denies every tool the "
                   "request defines: %s",
                   r.message);
        return ENGINE_REFUSE;
    }
    return v;
}

static enum engine_verdict tools_event(struct engine_call *c, const struct engine_event *ev,
                                       struct engine_reason *why)
{
    if (ev->kind != ENGINE_EV_TOOL_CALL)
        return ENGINE_ALLOW;
    if (engine_schedule_tool_denied(c, ev->name, why))
        return ENGINE_REFUSE;
    return tools_judge_call(c->e, ev->name, ev->args, ev->args_len, why);
}

const struct engine_stage engine_stage_tools = {"tools", tools_request, tools_event, NULL};
