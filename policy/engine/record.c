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

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jbuf.h"

static void hex(const unsigned char d[32], char out[65])
{
    sodium_bin2hex(out, 65, d, 32);
}

/* An array element's comma: none right after the array opened. */
static void elem(struct jbuf *b)
{
    if (b->len && b->p[b->len - 1] != '[')
        jbuf_raw(b, ",");
}

/* A number as cJSON prints one (integers plain; otherwise 15 significant digits, 17 when 15
 * do not read back the same), so a record's figures read the same however it was written. */
static void num(struct jbuf *b, double v)
{
    char t[32];
    if (v != v || v - v != 0) {
        jbuf_raw(b, "null");
        return;
    }
    if (v == (double)(int64_t)v && v > -9e15 && v < 9e15) {
        jbuf_i64(b, (int64_t)v);
        return;
    }
    snprintf(t, sizeof t, "%1.15g", v);
    if (strtod(t, NULL) != v)
        snprintf(t, sizeof t, "%1.17g", v);
    jbuf_raw(b, t);
}

static void kstr(struct jbuf *b, const char *k, const char *v)
{
    jbuf_key(b, k);
    jbuf_str(b, v, 0);
}

static void ku64(struct jbuf *b, const char *k, uint64_t v)
{
    jbuf_key(b, k);
    jbuf_u64(b, v);
}

static void reason(struct jbuf *b, const char *k, const struct engine_reason *r)
{
    jbuf_key(b, k);
    jbuf_raw(b, "{");
    ku64(b, "status", r->status);
    kstr(b, "code", r->code);
    kstr(b, "message", r->message);
    jbuf_raw(b, "}");
}

static void decision(struct jbuf *b, const struct engine_decision *d, int response)
{
    if (!d->ran) {
        jbuf_str(b, "not run", 0);
        return;
    }
    jbuf_raw(b, "{");
    kstr(b, "decision", engine_verdict_name(d->verdict));
    if (d->verdict != ENGINE_ALLOW || d->why.code[0]) {
        if (d->why.status)
            ku64(b, "status", d->why.status);
        kstr(b, "code", d->why.code);
        kstr(b, "message", d->why.message);
    }
    if (response)
        ku64(b, "events", (uint64_t)d->events);
    jbuf_raw(b, "}");
}

/* WHAT_usd, WHAT_pusd and WHAT_tokens: an amount in dollars, pico-dollars and tokens. */
static void amount(struct jbuf *b, const char *what, int64_t pusd, int64_t tokens)
{
    char k[32];
    snprintf(k, sizeof k, "%s_usd", what);
    jbuf_key(b, k);
    num(b, (double)pusd / 1e12);
    snprintf(k, sizeof k, "%s_pusd", what);
    jbuf_key(b, k);
    num(b, (double)pusd);
    snprintf(k, sizeof k, "%s_tokens", what);
    jbuf_key(b, k);
    num(b, (double)tokens);
}

/* The budget stage's part: what was reserved and what was charged, in pico-dollars (exact)
 * and dollars, and whether the charge is the worst case because no usage came. */
static void budget_json(struct jbuf *b, const struct engine_call *c)
{
    jbuf_key(b, "budget");
    jbuf_raw(b, "{");
    amount(b, "reserved", c->budget_usd_p, c->budget_tokens);
    const char *outcome = c->budget_done == 1   ? "charged"
                          : c->budget_done == 2 ? "released"
                          : c->budget_held      ? "open"
                                                : "refused";
    kstr(b, "outcome", outcome);
    if (c->budget_done == 1) {
        amount(b, "charged", c->charged_usd_p, c->charged_tokens);
        jbuf_key(b, "estimated");
        jbuf_bool(b, c->budget_est);
    }
    jbuf_raw(b, "}");
}

/* The whole record into b (which may overflow: the caller then tries a larger one). */
static void write_record(struct jbuf *b, const struct engine_call *c)
{
    static const char *const hooks[] = {"request", "response", "final"};
    const struct policy *p = c->e->p;
    jbuf_raw(b, "{");
    kstr(b, "type", "model_call");
    kstr(b, "agent", c->agent);
    jbuf_key(b, "session");
    if (c->session)
        jbuf_str(b, c->session, 0);
    else
        jbuf_raw(b, "null");
    kstr(b, "model", c->model ? c->model : "");
    kstr(b, "endpoint", engine_format_endpoint(c->fmt));
    kstr(b, "mode", c->observe ? "observe" : "enforce");
    ku64(b, "policy_version", p->version);
    jbuf_key(b, "stream");
    jbuf_bool(b, c->stream);
    if (c->refused)
        reason(b, "refusal", &c->refusal);
    if (c->would_refuse.code[0])
        reason(b, "would_refuse", &c->would_refuse);
    jbuf_key(b, "stages");
    jbuf_raw(b, "[");
    for (int st = 0; st < ENGINE_N_STAGES; st++) {
        elem(b);
        jbuf_raw(b, "{");
        kstr(b, "stage", engine_stage_name(st));
        for (int h = 0; h < ENGINE_N_HOOKS; h++) {
            jbuf_key(b, hooks[h]);
            decision(b, &c->d[st][h], h == ENGINE_HOOK_RESPONSE);
        }
        jbuf_raw(b, "}");
    }
    jbuf_raw(b, "]");
    jbuf_key(b, "tools");
    jbuf_raw(b, "{");
    ku64(b, "allowed", c->tools_allowed);
    for (int allowed = 1; allowed >= 0; allowed--) {
        jbuf_key(b, allowed ? "allowed_calls" : "removed");
        jbuf_raw(b, "[");
        for (size_t i = 0; i < c->n_notes; i++) {
            const struct tool_note *t = &c->notes[i];
            if (!t->allowed != !allowed)
                continue;
            elem(b);
            jbuf_raw(b, "{");
            kstr(b, "name", t->name ? t->name : "");
            if (!t->allowed) {
                kstr(b, "code", t->why.code);
                kstr(b, "message", t->why.message);
            }
            char ah[65];
            hex(t->args_sha, ah);
            kstr(b, "arguments_sha256", ah);
            if (t->args)
                kstr(b, "arguments", t->args);
            jbuf_raw(b, "}");
        }
        jbuf_raw(b, "]");
    }
    jbuf_raw(b, "}");
    engine_data_audit(c, b); /* per class: count, action, positions; no value */
    char h[65];
    hex(c->prompt_sha, h);
    kstr(b, "prompt_sha256", h);
    SHA256_CTX st = c->resp_hash;
    unsigned char rd[32];
    SHA256_Final(rd, &st);
    hex(rd, h);
    kstr(b, "response_sha256", h);
    if (p->api.record_prompts == POLICY_RECORD_TEXT) {
        jbuf_key(b, "prompt");
        jbuf_raw(b, "[");
        for (size_t i = 0; i < c->rq.n_texts; i++) {
            const struct engine_text *t = &c->rq.texts[i];
            elem(b);
            jbuf_raw(b, "{");
            kstr(b, "path", t->path);
            kstr(b, "kind", engine_text_kind_name(t->kind));
            kstr(b, "text", t->text);
            jbuf_raw(b, "}");
        }
        jbuf_raw(b, "]");
        kstr(b, "response_text", c->resp_text ? c->resp_text : "");
        if (c->resp_text_cut) {
            jbuf_key(b, "response_text_cut");
            jbuf_bool(b, 1);
        }
    }
    jbuf_key(b, "tokens");
    jbuf_raw(b, "{");
    ku64(b, "input", c->in_tokens);
    ku64(b, "output", c->out_tokens);
    if (c->cached_tokens)
        ku64(b, "cached_input", c->cached_tokens);
    if (c->reasoning_tokens)
        ku64(b, "reasoning", c->reasoning_tokens);
    if (c->cache_write_tokens)
        ku64(b, "cache_write", c->cache_write_tokens);
    jbuf_raw(b, "}");
    if (c->budget_done || c->budget_held || c->budget_tokens)
        budget_json(b, c);
    ku64(b, "latency_ms", c->latency_ms);
    jbuf_raw(b, "}");
}

/* The audit log takes a record's fields up to 64 KiB (AUDIT_FIELDS_MAX): a record past twice
 * that is not tried further. */
#define RECORD_MAX ((size_t)128 << 10)

/* Written straight as text, without a tree of allocated nodes: this runs once per model call,
 * and the tree was a tenth of cordond's time per call at saturation (bench/bench_proxy.sh). A
 * record holding prompt text may outgrow the first buffer; it is then written again into one
 * twice as large, up to RECORD_MAX. */
char *engine_call_audit_json(const struct engine_call *c)
{
    for (size_t cap = 4096; cap <= RECORD_MAX; cap *= 2) {
        char *mem = malloc(cap);
        if (!mem)
            return NULL;
        struct jbuf b;
        jbuf_init(&b, mem, cap);
        write_record(&b, c);
        if (!b.overflow)
            return mem;
        free(mem);
    }
    return NULL;
}
