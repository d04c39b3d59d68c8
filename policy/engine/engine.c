/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline: one model call through the stages in their fixed order (engine.h), each
 * hook's answer kept in the call's record, observe mode deciding without acting, and the
 * bytes for the client counted into the response digest.
 */
#include "policy/engine/engine.h"
#include "policy/engine/internal.h"
#include "policy/deep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request hooks run in this order; response hooks and final hooks too. The upstream stage
 * has no hooks: the server reports it (engine_call_upstream). */
static const struct engine_stage *const k_stages[ENGINE_N_STAGES] = {
    [ENGINE_STAGE_QUARANTINE] = &engine_stage_quarantine,
    [ENGINE_STAGE_MODELS] = &engine_stage_models,
    [ENGINE_STAGE_SCHEDULE] = &engine_stage_schedule,
    [ENGINE_STAGE_TOOLS] = &engine_stage_tools,
    [ENGINE_STAGE_DATA] = &engine_stage_data,
    [ENGINE_STAGE_BUDGET] = &engine_stage_budget,
    [ENGINE_STAGE_UPSTREAM] = NULL,
    [ENGINE_STAGE_USAGE] = &engine_stage_usage,
    [ENGINE_STAGE_AUDIT] = &engine_stage_audit,
};

const char *engine_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case ENGINE_ERR_MALFORMED:
        return "malformed body";
    case ENGINE_ERR_SSE_LINE:
        return "an event-stream line is longer than the line limit";
    case ENGINE_ERR_SSE_EVENT:
        return "an event-stream event is larger than the event limit";
    case ENGINE_ERR_REGEX:
        return "a constraint pattern does not compile";
    case ENGINE_ERR_STATE:
        return "engine call used out of order";
    case ENGINE_ERR_TOO_LARGE:
        return "a held-back tool call is larger than the limit";
    case ENGINE_ERR_DATA:
        return "the data stage blocked a value or could not scan the text";
    default:
        if (err_is_errno(rc))
            return strerror(-rc);
        return "unknown engine error";
    }
}

const char *engine_verdict_name(enum engine_verdict v)
{
    switch (v) {
    case ENGINE_ALLOW:
        return "allow";
    case ENGINE_REWRITE:
        return "rewrite";
    case ENGINE_REFUSE:
        return "refuse";
    }
    return "?";
}

const char *engine_stage_name(enum engine_stage_id s)
{
    static const char *const n[] = {"quarantine", "models",   "schedule", "tools", "data",
                                    "budget",     "upstream", "usage",    "audit"};
    return (unsigned)s < ENGINE_N_STAGES ? n[s] : "?";
}

static const char *const k_endpoints[ENGINE_N_FORMATS] = {"/v1/chat/completions", "/v1/responses",
                                                          "/v1/messages", "/v1/embeddings"};

const char *engine_format_endpoint(enum engine_format f)
{
    return (unsigned)f < ENGINE_N_FORMATS ? k_endpoints[f] : "?";
}

int engine_format_for_path(const char *path)
{
    if (!path)
        return -ENOENT;
    size_t n = strcspn(path, "?");
    for (int f = 0; f < ENGINE_N_FORMATS; f++) {
        const char *e = k_endpoints[f];
        size_t en = strlen(e);
        if (n == en && memcmp(path, e, n) == 0)
            return f;
        if (n == en - 3 && memcmp(path, e + 3, n) == 0) /* without "/v1" */
            return f;
    }
    return -ENOENT;
}

void reason_set(struct engine_reason *r, int status, const char *code, const char *fmt, ...)
{
    r->status = status;
    snprintf(r->code, sizeof r->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* ---- the compiled engine ---- */

static int add_check(struct engine *e, size_t *cap, const char *tool, const char *arg,
                     const char *pattern, char *err, size_t errlen)
{
    if (GROW(&e->checks, cap, e->n_checks + 1))
        return -ENOMEM;
    struct arg_check *k = &e->checks[e->n_checks];
    memset(k, 0, sizeof *k);
    k->tool = tool;
    k->arg = arg;
    k->pattern = pattern;
    if (pattern) {
        /* Anchored both ends: the whole value must match, as api.tools.constraints says. */
        char m[256];
        int rc = deep_regex_compile(pattern, &k->re, m, sizeof m);
        if (rc == -ENOMEM)
            return rc;
        if (rc != 0) {
            snprintf(err, errlen,
                     "tool \"%s\" argument \"%s\": pattern \"%s\" cannot be "
                     "used: %s",
                     tool, arg, pattern, m);
            return ENGINE_ERR_REGEX;
        }
        k->has_re = 1;
    }
    e->n_checks++;
    return 0;
}

int engine_new(const struct policy *p, const struct engine_options *o, struct engine **out,
               char *err, size_t errlen)
{
    struct engine *e = calloc(1, sizeof *e);
    int rc = -ENOMEM;
    size_t cap = 0;
    if (!e)
        return -ENOMEM;
    e->p = p;
    if (o)
        e->o = *o;
    else if ((rc = engine_options_from_policy(p, &e->o, err, errlen)) != 0)
        goto out;
    rc = -ENOMEM;
    if (!e->o.max_sse_line)
        e->o.max_sse_line = ENGINE_DEFAULT_SSE_LINE;
    if (!e->o.max_held)
        e->o.max_held = ENGINE_DEFAULT_HELD;
    if (!e->o.max_record_text)
        e->o.max_record_text = 64u << 10;
    for (size_t i = 0; i < p->api.n_constraints; i++) {
        const struct policy_constraint *k = &p->api.constraints[i];
        if ((rc = add_check(e, &cap, k->tool, k->arg, k->pattern, err, errlen)) != 0)
            goto out;
        struct arg_check *c = &e->checks[e->n_checks - 1];
        c->from_policy = 1;
        c->enum_v = k->enum_v;
        c->n_enum = k->n_enum;
        c->has_min = k->has_min;
        c->has_max = k->has_max;
        c->min = k->min;
        c->max = k->max;
        c->optional = k->optional;
    }
    for (size_t i = 0; i < e->o.n_arg_rules; i++) {
        const struct engine_arg_rule *r = &e->o.arg_rules[i];
        if ((rc = add_check(e, &cap, r->tool, r->arg, r->pattern, err, errlen)) != 0)
            goto out;
        struct arg_check *k = &e->checks[e->n_checks - 1];
        k->enum_v = r->enum_v;
        k->n_enum = r->n_enum;
        k->has_min = r->has_min;
        k->has_max = r->has_max;
        k->min = r->min;
        k->max = r->max;
        k->optional = r->optional;
    }
    if ((rc = schedule_engine_init(e, err, errlen)) != 0 ||
        (rc = budget_engine_init(e, err, errlen)) != 0)
        goto out;
    if ((rc = engine_data_new(p, &e->o, &e->data, err, errlen)) != 0)
        goto out;
    *out = e;
    e = NULL; /* transferred */
    rc = 0;
out:
    engine_free(e);
    return rc;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_checks; i++)
        deep_regex_free(e->checks[i].re);
    free(e->checks);
    schedule_engine_free(e);
    engine_data_free(e->data);
    budget_engine_free(e);
    free(e);
}

/* ---- one call ---- */

int engine_call_new(const struct engine *e, const struct engine_call_info *info,
                    struct engine_call **out)
{
    if (!e || !info || (unsigned)info->format >= ENGINE_N_FORMATS)
        return -EINVAL;
    struct engine_call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->e = e;
    c->fmt = info->format;
    c->ops = format_ops_for(info->format);
    c->agent = strdup(info->agent ? info->agent : "");
    c->session = info->session ? strdup(info->session) : NULL;
    c->quarantined = info->quarantined;
    c->bops = info->budget;
    c->bops_ud = info->budget_ud;
    c->quarantined_since_ms = info->quarantined_since_ms;
    c->observe = e->p->mode == POLICY_MODE_OBSERVE;
    SHA256_Init(&c->resp_hash);
    /* first: the other stages' per-call state may ask which schedule rules apply */
    schedule_call_init(c, info->now_ms);
    if (!c->agent || (info->session && !c->session) || engine_data_call_init(c, info) != 0) {
        engine_call_free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void engine_call_free(struct engine_call *c)
{
    if (!c)
        return;
    if (c->budget_held) { /* a path that never finished the call: settle or release */
        const struct engine_decision *up = &c->d[ENGINE_STAGE_UPSTREAM][ENGINE_HOOK_REQUEST];
        if (up->ran && up->verdict == ENGINE_ALLOW)
            budget_settle(c);
        else
            budget_release(c);
    }
    if (c->ops && c->ops->stream_free && c->asm_state)
        c->ops->stream_free(c->asm_state);
    sse_free(c->sse);
    format_request_clear(&c->rq);
    for (size_t i = 0; i < c->n_notes; i++) {
        free(c->notes[i].name);
        free(c->notes[i].args);
    }
    free(c->notes);
    free(c->agent);
    free(c->session);
    free(c->model);
    free(c->out);
    free(c->resp_text);
    engine_data_call_free(c);
    free(c);
}

const char *engine_call_model(const struct engine_call *c)
{
    return c->model ? c->model : "";
}

int engine_call_stream(const struct engine_call *c)
{
    return c->stream;
}

static void set_out(struct engine_call *c, char *s)
{
    free(c->out);
    c->out = s;
    c->out_len = s ? strlen(s) : 0;
}

static int refuse(struct engine_call *c, const struct engine_reason *why)
{
    c->refusal = *why;
    c->refused = 1;
    c->state = 2;
    set_out(c, c->ops->error_body(why));
    return c->out ? ENGINE_REFUSE : -ENOMEM;
}

void engine_tag(const struct policy *p, char *buf, size_t cap)
{
    if (p->version)
        snprintf(buf, cap, "policy of agent \"%s\" v%llu", p->agent ? p->agent : "",
                 (unsigned long long)p->version);
    else
        snprintf(buf, cap, "policy of agent \"%s\" (unsigned)", p->agent ? p->agent : "");
}

void engine_policy_tag(const struct engine_call *c, char *buf, size_t cap)
{
    engine_tag(c->e->p, buf, cap);
}

int engine_call_request(struct engine_call *c, const char *body, size_t len, const char **out,
                        size_t *out_len)
{
    if (c->state != 0)
        return ENGINE_ERR_STATE;
    c->state = 1;
    c->req_len = len;
    SHA256((const unsigned char *)body, len, c->prompt_sha);
    char err[256], tag[160];
    struct engine_reason why = {0};
    cJSON *root = NULL;
    engine_policy_tag(c, tag, sizeof tag);
    int rc = format_parse(body, len, ENGINE_MAX_DEPTH, &root, err, sizeof err);
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        reason_set(&why, 400, "cordon.malformed",
                   "the request body is not valid JSON: %s; "
                   "send one JSON object as the %s API expects",
                   err, engine_format_endpoint(c->fmt));
        return refuse(c, &why);
    }
    c->rq.fmt = c->fmt;
    c->rq.root = root;
    if (!cJSON_IsObject(root)) {
        reason_set(&why, 400, "cordon.malformed", "the request body must be a JSON object");
        return refuse(c, &why);
    }
    if ((rc = c->ops->inspect(&c->rq, &why)) != 0) {
        if (rc == -ENOMEM)
            return rc;
        if (!why.code[0])
            reason_set(&why, 400, "cordon.malformed", "the request body is malformed");
        return refuse(c, &why);
    }
    c->stream = c->rq.stream;
    if (c->rq.model && !(c->model = strdup(c->rq.model)))
        return -ENOMEM;
    if (c->rq.stored_context && !c->e->o.allow_stored_context) {
        reason_set(&why, 403, "cordon.stored_context",
                   "the request names \"%s\": the provider would add context stored on its "
                   "side that cordon cannot see or judge (%s); send the whole conversation "
                   "in \"input\" instead, or allow stored context in the policy",
                   c->rq.stored_context, tag);
        if (!c->observe)
            return refuse(c, &why);
        c->would_refuse = why; /* observe mode: recorded, not acted on */
    }
    int refused = 0;
    for (int s = 0; s < ENGINE_N_STAGES && !refused; s++) {
        const struct engine_stage *st = k_stages[s];
        if (!st || !st->request)
            continue;
        struct engine_decision *d = &c->d[s][ENGINE_HOOK_REQUEST];
        memset(&why, 0, sizeof why);
        d->ran = 1;
        d->verdict = st->request(c, &c->rq, &why);
        d->why = why;
        /* A quarantine is the server's state, not a rule to observe: it holds in observe mode
         * too (a policy switched to observe after it was set does not lift it). */
        if (d->verdict == ENGINE_REFUSE && (!c->observe || s == ENGINE_STAGE_QUARANTINE)) {
            refused = 1;
            c->refusal = why;
        }
    }
    if (refused)
        return refuse(c, &c->refusal);
    if (c->observe || !c->rq.changed)
        return ENGINE_ALLOW;
    set_out(c, cJSON_PrintUnformatted(c->rq.root));
    if (!c->out)
        return -ENOMEM;
    *out = c->out;
    *out_len = c->out_len;
    return ENGINE_REWRITE;
}

int engine_call_error(struct engine_call *c, int *status, const char **body, size_t *len)
{
    if (!c->refused || !c->out)
        return ENGINE_ERR_STATE;
    *status = c->refusal.status;
    *body = c->out;
    *len = c->out_len;
    return 0;
}

void engine_call_upstream(struct engine_call *c, int ok, const struct engine_reason *why)
{
    struct engine_decision *d = &c->d[ENGINE_STAGE_UPSTREAM][ENGINE_HOOK_REQUEST];
    int answered = d->ran && d->verdict == ENGINE_ALLOW;
    d->ran = 1;
    d->verdict = ok ? ENGINE_ALLOW : ENGINE_REFUSE;
    if (!ok && answered)
        budget_settle(c); /* it answered 2xx, then failed in the body: it may have spent */
    else if (!ok)
        budget_release(c); /* the upstream never answered: nothing was spent */
    if (!ok && why) {
        d->why = *why;
        (void)refuse(c, why); /* the body engine_call_error() gives */
    }
}

void engine_call_no_charge(struct engine_call *c)
{
    budget_release(c);
}

unsigned engine_call_retry_after(const struct engine_call *c)
{
    return c->refused ? c->retry_after : 0;
}

int engine_stream_error(struct engine_call *c, const struct engine_reason *why, engine_emit_fn emit,
                        void *ud)
{
    c->emit = emit;
    c->emit_ud = ud;
    c->stream_failed = 1;
    engine_record_response(c, ENGINE_STAGE_UPSTREAM, ENGINE_REFUSE, why);
    char *s = c->ops->error_event(why);
    if (!s)
        return -ENOMEM;
    int rc = engine_emit(c, s, strlen(s));
    free(s);
    return rc;
}

static void record_event(struct engine_decision *d, enum engine_verdict v,
                         const struct engine_reason *why);

void engine_record_response(struct engine_call *c, enum engine_stage_id s, enum engine_verdict v,
                            const struct engine_reason *why)
{
    record_event(&c->d[s][ENGINE_HOOK_RESPONSE], v, why);
}

static void record_event(struct engine_decision *d, enum engine_verdict v,
                         const struct engine_reason *why)
{
    d->ran = 1;
    d->events++;
    if (d->events == 1 || v > d->verdict) {
        d->verdict = v;
        if (v != ENGINE_ALLOW)
            d->why = *why;
    }
}

enum engine_verdict engine_judge_event(struct engine_call *c, const struct engine_event *ev,
                                       struct engine_reason *why)
{
    enum engine_verdict worst = ENGINE_ALLOW;
    for (int s = 0; s < ENGINE_N_STAGES; s++) {
        const struct engine_stage *st = k_stages[s];
        if (!st || !st->event)
            continue;
        struct engine_reason r = {0};
        enum engine_verdict v = st->event(c, ev, &r);
        record_event(&c->d[s][ENGINE_HOOK_RESPONSE], v, &r);
        if (v > worst) {
            worst = v;
            *why = r;
        }
    }
    return worst;
}

void engine_note_tool(struct engine_call *c, const char *name, int allowed,
                      const struct engine_reason *why, const char *args, size_t args_len)
{
    allowed ? c->tools_allowed++ : c->n_removed++;
    if (GROW(&c->notes, &c->cap_notes, c->n_notes + 1))
        return; /* the counts stay right; only the detail is lost */
    struct tool_note *t = &c->notes[c->n_notes++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name ? name : "");
    t->allowed = allowed;
    if (!allowed)
        t->why = *why;
    SHA256((const unsigned char *)(args ? args : ""), args ? args_len : 0, t->args_sha);
    if (c->e->p->api.record_tool_arguments == POLICY_RECORD_TEXT && args) {
        size_t n = args_len < 4096 ? args_len : 4096; /* a record is not a transcript */
        if ((t->args = malloc(n + 1)) != NULL) {
            memcpy(t->args, args, n);
            t->args[n] = '\0';
        }
    }
}

void engine_keep_text(struct engine_call *c, const char *s, size_t n)
{
    if (c->e->p->api.record_prompts != POLICY_RECORD_TEXT || c->resp_text_cut)
        return;
    /* with tokens restored, the record keeps the text as it was before (data_keep_text), so
     * the log holds the tokens, not the values the session's vault gave back */
    if (c->dc.restore && !c->dc.keeping)
        return;
    size_t room = c->e->o.max_record_text - c->resp_text_len;
    if (n > room) {
        n = room;
        c->resp_text_cut = 1;
    }
    if (c->resp_text_len + n + 1 > c->resp_text_cap) {
        size_t cap = c->resp_text_cap ? c->resp_text_cap : 1024;
        while (cap < c->resp_text_len + n + 1)
            cap *= 2;
        char *q = realloc(c->resp_text, cap);
        if (!q) {
            c->resp_text_cut = 1;
            return;
        }
        c->resp_text = q;
        c->resp_text_cap = cap;
    }
    memcpy(c->resp_text + c->resp_text_len, s, n);
    c->resp_text_len += n;
    c->resp_text[c->resp_text_len] = '\0';
}

int engine_emit(struct engine_call *c, const char *buf, size_t len)
{
    if (!len)
        return 0;
    SHA256_Update(&c->resp_hash, (const unsigned char *)buf, len);
    return c->emit(c->emit_ud, buf, len);
}

void engine_notice_text(const char *name, const struct engine_reason *why, char *buf, size_t cap)
{
    snprintf(buf, cap, "[cordon] the tool call \"%s\" was removed (%s): %s", name ? name : "",
             why->code, why->message);
}

/* ---- streams ---- */

static int on_block(void *ud, const struct sse_event *ev)
{
    struct engine_call *c = ud;
    return c->ops->stream_block(c, ev);
}

static int stream_fail(struct engine_call *c, int rc)
{
    if (c->stream_failed)
        return rc;
    c->stream_failed = 1;
    struct engine_reason why;
    switch (rc) {
    case ENGINE_ERR_SSE_LINE:
        reason_set(&why, 502, "cordon.upstream_stream",
                   "the upstream sent an event-stream line "
                   "longer than %zu bytes; the stream was cut here",
                   c->e->o.max_sse_line);
        break;
    case ENGINE_ERR_SSE_EVENT:
        reason_set(&why, 502, "cordon.upstream_stream",
                   "the upstream sent an event larger than "
                   "%zu bytes; the stream was cut here",
                   4 * c->e->o.max_sse_line);
        break;
    case ENGINE_ERR_TOO_LARGE:
        reason_set(&why, 502, "cordon.upstream_stream",
                   "a tool call of the response is larger "
                   "than %zu bytes; the stream was cut here",
                   c->e->o.max_held);
        break;
    case ENGINE_ERR_DATA: /* a block or a text that could not be scanned: recorded already */
        why = c->dc.cut;
        break;
    default:
        return rc;
    }
    char *s = c->ops->error_event(&why);
    if (s) {
        (void)engine_emit(c, s, strlen(s));
        free(s);
    }
    if (rc != ENGINE_ERR_DATA)
        record_event(&c->d[ENGINE_STAGE_TOOLS][ENGINE_HOOK_RESPONSE], ENGINE_REFUSE, &why);
    return rc;
}

int engine_stream_feed(struct engine_call *c, const char *buf, size_t len, engine_emit_fn emit,
                       void *ud)
{
    if (c->state != 1)
        return ENGINE_ERR_STATE;
    if (c->stream_failed)
        return ENGINE_ERR_STATE;
    int rc;
    if (!c->sse && (rc = sse_new(c->e->o.max_sse_line, &c->sse)) != 0)
        return rc;
    c->emit = emit;
    c->emit_ud = ud;
    rc = sse_feed(c->sse, buf, len, on_block, c);
    return rc ? stream_fail(c, rc) : 0;
}

int engine_stream_end(struct engine_call *c, engine_emit_fn emit, void *ud)
{
    if (c->state != 1)
        return ENGINE_ERR_STATE;
    if (c->stream_failed)
        return 0;
    int rc;
    if (!c->sse && (rc = sse_new(c->e->o.max_sse_line, &c->sse)) != 0)
        return rc;
    c->emit = emit;
    c->emit_ud = ud;
    if ((rc = sse_finish(c->sse, on_block, c)) != 0)
        return stream_fail(c, rc);
    rc = c->ops->stream_end(c);
    return rc ? stream_fail(c, rc) : 0;
}

static int collect(void *ud, const char *buf, size_t len)
{
    (void)ud;
    (void)buf;
    (void)len;
    return 0;
}

int engine_call_response(struct engine_call *c, const char *body, size_t len, const char **out,
                         size_t *out_len)
{
    if (c->state != 1)
        return ENGINE_ERR_STATE;
    char err[256];
    cJSON *root = NULL;
    int rc = format_parse(body, len, ENGINE_MAX_DEPTH, &root, err, sizeof err);
    if (rc)
        return rc;
    c->emit = collect;
    rc = cJSON_IsObject(root) ? c->ops->response(c, root) : ENGINE_ERR_MALFORMED;
    if (rc == ENGINE_ERR_DATA) { /* a block, or a text that could not be scanned */
        cJSON_Delete(root);
        return refuse(c, &c->dc.cut);
    }
    if (rc == 1 && !c->observe) {
        set_out(c, cJSON_PrintUnformatted(root));
        cJSON_Delete(root);
        if (!c->out)
            return -ENOMEM;
        SHA256_Update(&c->resp_hash, (const unsigned char *)c->out, c->out_len);
        *out = c->out;
        *out_len = c->out_len;
        return ENGINE_REWRITE;
    }
    cJSON_Delete(root);
    if (rc < 0)
        return rc;
    SHA256_Update(&c->resp_hash, (const unsigned char *)body, len);
    return ENGINE_ALLOW;
}

void engine_call_finish(struct engine_call *c, uint64_t latency_ms)
{
    if (c->state == 3)
        return;
    c->latency_ms = latency_ms;
    for (int s = 0; s < ENGINE_N_STAGES; s++) {
        const struct engine_stage *st = k_stages[s];
        if (!st || !st->final)
            continue;
        struct engine_reason r = {0};
        struct engine_decision *d = &c->d[s][ENGINE_HOOK_FINAL];
        d->ran = 1;
        d->verdict = st->final(c, &r);
        d->why = r;
    }
    c->state = 3;
}

const struct engine_decision *engine_call_decision(const struct engine_call *c,
                                                   enum engine_stage_id s, enum engine_hook h)
{
    if ((unsigned)s >= ENGINE_N_STAGES || (unsigned)h >= ENGINE_N_HOOKS)
        return NULL;
    return &c->d[s][h];
}

void engine_call_tokens(const struct engine_call *c, uint64_t *input, uint64_t *output)
{
    *input = c->in_tokens;
    *output = c->out_tokens;
}

size_t engine_call_tools_allowed(const struct engine_call *c)
{
    return c->tools_allowed;
}

size_t engine_call_tools_removed(const struct engine_call *c)
{
    return c->n_removed;
}

const char *engine_call_tool_removed(const struct engine_call *c, size_t i)
{
    for (size_t k = 0; k < c->n_notes; k++)
        if (!c->notes[k].allowed && i-- == 0)
            return c->notes[k].name;
    return NULL;
}

const char *engine_call_tool_name(const struct engine_call *c, size_t i)
{
    return i < c->n_notes ? c->notes[i].name : NULL;
}
