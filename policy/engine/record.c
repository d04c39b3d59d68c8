/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit record of one model call (engine_call_audit_json). Every stage appears with
 * each of its hooks, "not run" included, so that a reader can tell a stage that allowed
 * from one that never looked. Prompt and response are kept as SHA-256 digests; their text
 * only when the policy records text (api.audit record_prompts "text"). No I/O here: the
 * server appends the record to the audit log.
 */
#include "policy/engine/engine.h"
#include "policy/engine/internal.h"

#include <stdlib.h>
#include <string.h>

static void hex(const unsigned char d[32], char out[65])
{
    sodium_bin2hex(out, 65, d, 32);
}

static cJSON *decision(const struct engine_decision *d, int response)
{
    if (!d->ran)
        return cJSON_CreateString("not run");
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "decision", engine_verdict_name(d->verdict));
    if (d->verdict != ENGINE_ALLOW || d->why.code[0]) {
        if (d->why.status)
            cJSON_AddNumberToObject(o, "status", d->why.status);
        cJSON_AddStringToObject(o, "code", d->why.code);
        cJSON_AddStringToObject(o, "message", d->why.message);
    }
    if (response)
        cJSON_AddNumberToObject(o, "events", d->events);
    return o;
}

/* The budget stage's part: what was reserved and what was charged, in pico-dollars (exact)
 * and dollars, and whether the charge is the worst case because no usage came. */
static cJSON *budget_json(const struct engine_call *c)
{
    cJSON *b = cJSON_CreateObject();
    if (!b)
        return NULL;
    cJSON_AddNumberToObject(b, "reserved_usd", (double)c->budget_usd_p / 1e12);
    cJSON_AddNumberToObject(b, "reserved_pusd", (double)c->budget_usd_p);
    cJSON_AddNumberToObject(b, "reserved_tokens", (double)c->budget_tokens);
    const char *outcome = c->budget_done == 1   ? "charged"
                          : c->budget_done == 2 ? "released"
                          : c->budget_held      ? "open"
                                                : "refused";
    cJSON_AddStringToObject(b, "outcome", outcome);
    if (c->budget_done == 1) {
        cJSON_AddNumberToObject(b, "charged_usd", (double)c->charged_usd_p / 1e12);
        cJSON_AddNumberToObject(b, "charged_pusd", (double)c->charged_usd_p);
        cJSON_AddNumberToObject(b, "charged_tokens", (double)c->charged_tokens);
        cJSON_AddBoolToObject(b, "estimated", c->budget_est);
    }
    return b;
}

char *engine_call_audit_json(const struct engine_call *c)
{
    static const char *const hooks[] = {"request", "response", "final"};
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (!o)
        return NULL;
    const struct policy *p = c->e->p;
    cJSON_AddStringToObject(o, "type", "model_call");
    cJSON_AddStringToObject(o, "agent", c->agent);
    if (c->session)
        cJSON_AddStringToObject(o, "session", c->session);
    else
        cJSON_AddNullToObject(o, "session");
    cJSON_AddStringToObject(o, "model", c->model ? c->model : "");
    cJSON_AddStringToObject(o, "endpoint", engine_format_endpoint(c->fmt));
    cJSON_AddStringToObject(o, "mode", c->observe ? "observe" : "enforce");
    cJSON_AddNumberToObject(o, "policy_version", (double)p->version);
    cJSON_AddBoolToObject(o, "stream", c->stream);
    if (c->refused) {
        cJSON *r = cJSON_AddObjectToObject(o, "refusal");
        if (r) {
            cJSON_AddNumberToObject(r, "status", c->refusal.status);
            cJSON_AddStringToObject(r, "code", c->refusal.code);
            cJSON_AddStringToObject(r, "message", c->refusal.message);
        }
    }
    if (c->would_refuse.code[0]) {
        cJSON *r = cJSON_AddObjectToObject(o, "would_refuse");
        if (r) {
            cJSON_AddNumberToObject(r, "status", c->would_refuse.status);
            cJSON_AddStringToObject(r, "code", c->would_refuse.code);
            cJSON_AddStringToObject(r, "message", c->would_refuse.message);
        }
    }
    cJSON *stages = cJSON_AddArrayToObject(o, "stages");
    for (int st = 0; stages && st < ENGINE_N_STAGES; st++) {
        cJSON *e = cJSON_CreateObject();
        if (!e)
            goto out;
        cJSON_AddItemToArray(stages, e);
        cJSON_AddStringToObject(e, "stage", engine_stage_name(st));
        for (int h = 0; h < ENGINE_N_HOOKS; h++) {
            cJSON *d = decision(&c->d[st][h], h == ENGINE_HOOK_RESPONSE);
            if (!d)
                goto out;
            cJSON_AddItemToObject(e, hooks[h], d);
        }
    }
    cJSON *tools = cJSON_AddObjectToObject(o, "tools");
    if (tools) {
        cJSON_AddNumberToObject(tools, "allowed", (double)c->tools_allowed);
        cJSON *al = cJSON_AddArrayToObject(tools, "allowed_calls");
        cJSON *rm = cJSON_AddArrayToObject(tools, "removed");
        for (size_t i = 0; al && rm && i < c->n_notes; i++) {
            const struct tool_note *t = &c->notes[i];
            cJSON *r = cJSON_CreateObject();
            if (!r)
                goto out;
            cJSON_AddItemToArray(t->allowed ? al : rm, r);
            cJSON_AddStringToObject(r, "name", t->name ? t->name : "");
            if (!t->allowed) {
                cJSON_AddStringToObject(r, "code", t->why.code);
                cJSON_AddStringToObject(r, "message", t->why.message);
            }
            char ah[65];
            hex(t->args_sha, ah);
            cJSON_AddStringToObject(r, "arguments_sha256", ah);
            if (t->args)
                cJSON_AddStringToObject(r, "arguments", t->args);
        }
    }
    cJSON *data = engine_data_audit(c); /* per class: count, action, positions; no value */
    if (data)
        cJSON_AddItemToObject(o, "data", data);
    char h[65];
    hex(c->prompt_sha, h);
    cJSON_AddStringToObject(o, "prompt_sha256", h);
    crypto_hash_sha256_state st = c->resp_hash;
    unsigned char rd[32];
    crypto_hash_sha256_final(&st, rd);
    hex(rd, h);
    cJSON_AddStringToObject(o, "response_sha256", h);
    if (p->api.record_prompts == POLICY_RECORD_TEXT) {
        cJSON *texts = cJSON_AddArrayToObject(o, "prompt");
        for (size_t i = 0; texts && i < c->rq.n_texts; i++) {
            const struct engine_text *t = &c->rq.texts[i];
            cJSON *x = cJSON_CreateObject();
            if (!x)
                goto out;
            cJSON_AddItemToArray(texts, x);
            cJSON_AddStringToObject(x, "path", t->path);
            cJSON_AddStringToObject(x, "kind", engine_text_kind_name(t->kind));
            cJSON_AddStringToObject(x, "text", t->text);
        }
        cJSON_AddStringToObject(o, "response_text", c->resp_text ? c->resp_text : "");
        if (c->resp_text_cut)
            cJSON_AddBoolToObject(o, "response_text_cut", 1);
    }
    cJSON *tok = cJSON_AddObjectToObject(o, "tokens");
    if (tok) {
        cJSON_AddNumberToObject(tok, "input", (double)c->in_tokens);
        cJSON_AddNumberToObject(tok, "output", (double)c->out_tokens);
        if (c->cached_tokens)
            cJSON_AddNumberToObject(tok, "cached_input", (double)c->cached_tokens);
        if (c->reasoning_tokens)
            cJSON_AddNumberToObject(tok, "reasoning", (double)c->reasoning_tokens);
        if (c->cache_write_tokens)
            cJSON_AddNumberToObject(tok, "cache_write", (double)c->cache_write_tokens);
    }
    if (c->budget_done || c->budget_held || c->budget_tokens) {
        cJSON *bu = budget_json(c);
        if (!bu)
            goto out;
        cJSON_AddItemToObject(o, "budget", bu);
    }
    cJSON_AddNumberToObject(o, "latency_ms", (double)c->latency_ms);
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return s;
}
