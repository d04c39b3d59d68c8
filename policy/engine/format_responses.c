/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenAI Responses (POST /v1/responses): input as a string or as items (messages,
 * function_call, function_call_output, reasoning), instructions, flat function tools and
 * built-in tools; stored context (previous_response_id, conversation, stored prompts, item
 * references) is flagged so that the engine can refuse it; the complete response's
 * function_call items; and the stream assembler.
 *
 * The stream is semantic events with no [DONE]. A function_call item is held from
 * response.output_item.added to response.output_item.done, every event about it kept; at the
 * done it is judged on its final arguments, and an allowed call's events go on as received
 * (renumbered when an earlier item was dropped), a denied call's are dropped or replaced by a
 * message item holding the notice. The terminal response.completed carries the whole output
 * again; denied calls are taken out of it too.
 */
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET cJSON_GetObjectItemCaseSensitive
#define MAX_ITEMS 4096

static const char *const k_tool_keys[] = {"tool_choice", "parallel_tool_calls", NULL};

static enum engine_text_kind role_kind(const char *role)
{
    if (!role)
        return ENGINE_TEXT_INPUT;
    if (!strcmp(role, "system") || !strcmp(role, "developer"))
        return ENGINE_TEXT_SYSTEM;
    if (!strcmp(role, "assistant"))
        return ENGINE_TEXT_ASSISTANT;
    if (!strcmp(role, "user"))
        return ENGINE_TEXT_USER;
    return ENGINE_TEXT_INPUT;
}

static int parts(struct engine_request *rq, enum engine_text_kind k, cJSON *content,
                 struct engine_reason *why, const char *path)
{
    if (cJSON_IsString(content))
        return format_add_text(rq, k, content, "%s", path);
    if (!content || cJSON_IsNull(content))
        return 0;
    if (!cJSON_IsArray(content))
        return format_bad(why, "%s must be a string or an array of parts", path);
    int j = 0;
    cJSON *p;
    cJSON_ArrayForEach(p, content)
    {
        if (!cJSON_IsObject(p))
            return format_bad(why, "%s[%d] must be an object", path, j);
        const char *ptype = format_str(p, "type");
        if (ptype && !strcmp(ptype, "input_file"))
            format_add_opaque(rq, "an input_file part", "%s[%d]", path, j);
        static const char *const keys[] = {"text", "refusal"};
        for (int q = 0; q < 2; q++) {
            cJSON *t = GET(p, keys[q]);
            if (t && !cJSON_IsString(t))
                return format_bad(why, "%s[%d].%s must be a string", path, j, keys[q]);
            if (t && format_add_text(rq, k, t, "%s[%d].%s", path, j, keys[q]))
                return -ENOMEM;
        }
        j++;
    }
    return 0;
}

static int item(struct engine_request *rq, cJSON *it, int i, struct engine_reason *why)
{
    char path[64];
    snprintf(path, sizeof path, "input[%d]", i);
    if (!cJSON_IsObject(it))
        return format_bad(why, "%s must be an object", path);
    const char *type = format_str(it, "type");
    const char *role = format_str(it, "role");
    char sub[96];
    if (!type || !strcmp(type, "message")) {
        if (!role)
            return format_bad(why, "%s.role must be a string", path);
        snprintf(sub, sizeof sub, "%s.content", path);
        return parts(rq, role_kind(role), GET(it, "content"), why, sub);
    }
    if (!strcmp(type, "function_call") || !strcmp(type, "custom_tool_call")) {
        const char *name = format_str(it, "name");
        int custom = type[0] == 'c';
        cJSON *args = GET(it, custom ? "input" : "arguments");
        if (!name)
            return format_bad(why, "%s.name must be a string", path);
        if (args && !cJSON_IsString(args))
            return format_bad(why, "%s.%s must be a string", path, custom ? "input" : "arguments");
        /* a custom tool's input is free text: judged by name, its text scanned */
        const char *a = args && !custom ? args->valuestring : "{}";
        if (format_add_call(rq, name, a, strlen(a), "%s", path))
            return -ENOMEM;
        rq->calls[rq->n_calls - 1].id = format_str(it, "call_id");
        return args ? format_add_text(rq, ENGINE_TEXT_TOOL_ARGS, args, "%s.%s", path,
                                      custom ? "input" : "arguments")
                    : 0;
    }
    if (!strcmp(type, "function_call_output") || !strcmp(type, "custom_tool_call_output")) {
        const char *cid = format_str(it, "call_id");
        if (!cid)
            return format_bad(why, "%s.call_id must be a string", path);
        if (format_add_result(rq, NULL, cid, "%s", path))
            return -ENOMEM;
        snprintf(sub, sizeof sub, "%s.output", path);
        return parts(rq, ENGINE_TEXT_TOOL_RESULT, GET(it, "output"), why, sub);
    }
    if (!strcmp(type, "reasoning")) {
        snprintf(sub, sizeof sub, "%s.summary", path);
        return parts(rq, ENGINE_TEXT_ASSISTANT, GET(it, "summary"), why, sub);
    }
    if (!strcmp(type, "item_reference")) {
        rq->stored_context = "item_reference";
        return 0;
    }
    /* other item types (tool outputs of built-in tools...): text fields are still scanned */
    cJSON *t = GET(it, "output");
    if (cJSON_IsString(t)) {
        snprintf(sub, sizeof sub, "%s.output", path);
        return format_add_text(rq, ENGINE_TEXT_TOOL_RESULT, t, "%s", sub);
    }
    return 0;
}

static int responses_inspect(struct engine_request *rq, struct engine_reason *why)
{
    cJSON *r = rq->root, *v;
    int rc;
    if ((rc = format_model_stream(rq, 1, why)) != 0)
        return rc;
    cJSON *ins = GET(r, "instructions");
    if (ins && !cJSON_IsNull(ins)) {
        if (!cJSON_IsString(ins))
            return format_bad(why, "\"instructions\" must be a string");
        if (format_add_text(rq, ENGINE_TEXT_SYSTEM, ins, "instructions"))
            return -ENOMEM;
    }
    static const char *const stored[] = {"previous_response_id", "conversation", "prompt"};
    for (int k = 0; k < 3; k++)
        if ((v = GET(r, stored[k])) && !cJSON_IsNull(v))
            rq->stored_context = stored[k];
    cJSON *in = GET(r, "input");
    if (cJSON_IsString(in)) {
        if (format_add_text(rq, ENGINE_TEXT_INPUT, in, "input"))
            return -ENOMEM;
    } else if (cJSON_IsArray(in)) {
        int i = 0;
        cJSON *it;
        cJSON_ArrayForEach(it, in)
        {
            if ((rc = item(rq, it, i++, why)) != 0)
                return rc;
        }
    } else if (in && !cJSON_IsNull(in)) {
        return format_bad(why, "\"input\" must be a string or an array of items");
    }
    cJSON *tools = GET(r, "tools");
    if (tools && !cJSON_IsNull(tools)) {
        if (!cJSON_IsArray(tools))
            return format_bad(why, "\"tools\" must be an array");
        int j = 0;
        cJSON *t;
        cJSON_ArrayForEach(t, tools)
        {
            if (!cJSON_IsObject(t))
                return format_bad(why, "tools[%d] must be an object", j);
            const char *type = format_str(t, "type"), *name = format_str(t, "name");
            if (type && !strcmp(type, "function") && !name)
                return format_bad(why, "tools[%d].name must be a string", j);
            if (format_add_tool(rq, name ? name : type ? type : "", t, tools))
                return -ENOMEM;
            j++;
        }
    }
    cJSON *tc = GET(r, "tool_choice");
    if (cJSON_IsString(tc)) {
        rq->tool_choice_required = !strcmp(tc->valuestring, "required");
    } else if (cJSON_IsObject(tc)) {
        const char *type = format_str(tc, "type"), *name = format_str(tc, "name");
        const char *mode = format_str(tc, "mode");
        if (!type)
            return format_bad(why, "\"tool_choice\".type must be a string");
        if (!strcmp(type, "allowed_tools"))
            rq->tool_choice_required = mode && !strcmp(mode, "required");
        else
            rq->tool_choice_forced = name ? name : type; /* a built-in tool by its type */
    } else if (tc && !cJSON_IsNull(tc)) {
        return format_bad(why, "\"tool_choice\" must be a string or an object");
    }
    return 0;
}

static char *responses_error_event(const struct engine_reason *why)
{
    cJSON *o = cJSON_CreateObject();
    size_t n;
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "type", "error") &&
        cJSON_AddStringToObject(o, "code", why->code) &&
        cJSON_AddStringToObject(o, "message", why->message) && cJSON_AddNullToObject(o, "param"))
        s = format_sse_event("error", o, &n);
    cJSON_Delete(o);
    return s;
}

/* A message item holding the notice, in the place of a denied call. */
static cJSON *notice_item(const char *name, const struct engine_reason *why, const char *status)
{
    char notice[ENGINE_MESSAGE_MAX + 160];
    engine_notice_text(name, why, notice, sizeof notice);
    cJSON *it = cJSON_CreateObject(), *content = cJSON_CreateArray(), *p = cJSON_CreateObject();
    if (!it || !content || !p) {
        cJSON_Delete(it);
        cJSON_Delete(content);
        cJSON_Delete(p);
        return NULL;
    }
    cJSON_AddStringToObject(it, "type", "message");
    cJSON_AddStringToObject(it, "id", "msg_cordon_notice");
    cJSON_AddStringToObject(it, "role", "assistant");
    cJSON_AddStringToObject(it, "status", status);
    cJSON_AddItemToObject(it, "content", content);
    cJSON_AddItemToArray(content, p);
    cJSON_AddStringToObject(p, "type", "output_text");
    cJSON_AddStringToObject(p, "text", notice);
    cJSON_AddArrayToObject(p, "annotations");
    return it;
}

/* Judge the function_call items of an output array (a complete response, or the terminal
 * event's copy). judge 0: only remove the items whose ids are in the denied list. */
struct denied {
    char **ids;
    size_t n, cap;
};

static int is_denied(const struct denied *d, const cJSON *it)
{
    const char *id = format_str(it, "id"), *cid = format_str(it, "call_id");
    for (size_t i = 0; i < d->n; i++)
        if ((id && !strcmp(d->ids[i], id)) || (cid && !strcmp(d->ids[i], cid)))
            return 1;
    return 0;
}

static int deny_id(struct denied *d, const cJSON *it)
{
    const char *id = format_str(it, "id");
    if (!id)
        id = format_str(it, "call_id");
    if (!id)
        return 0;
    if (GROW(&d->ids, &d->cap, d->n + 1) || !(d->ids[d->n] = strdup(id)))
        return -ENOMEM;
    d->n++;
    return 0;
}

static int filter_output(struct engine_call *c, cJSON *output, int judge, struct denied *d)
{
    struct engine_reason why = {0};
    int changed = 0;
    if (!cJSON_IsArray(output))
        return 0;
    for (cJSON *it = output->child, *next; it; it = next) {
        next = it->next;
        const char *type = format_str(it, "type");
        if (judge && type && !strcmp(type, "message")) {
            cJSON *p;
            cJSON_ArrayForEach(p, GET(it, "content"))
            {
                const char *t = format_str(p, "text");
                if (t)
                    format_judge_text(c, t, strlen(t));
            }
            continue;
        }
        int custom = type && !strcmp(type, "custom_tool_call");
        if (!type || (strcmp(type, "function_call") != 0 && !custom))
            continue;
        /* a custom tool's input is free text: judged by name only */
        const char *name = format_str(it, "name");
        const char *args = custom ? "{}" : format_str(it, "arguments");
        if (judge) {
            if (format_judge_call(c, name, format_str(it, "call_id"), args, args ? strlen(args) : 0,
                                  &why))
                continue;
            if (deny_id(d, it))
                return -ENOMEM;
        } else if (!is_denied(d, it)) {
            continue;
        } else {
            reason_set(&why, 403, "cordon.tool_denied", "the policy denies this call");
        }
        changed = 1;
        if (c->e->o.on_denied_call == ENGINE_CALL_NOTICE) {
            cJSON *n = notice_item(name, &why, "completed");
            if (!n)
                return -ENOMEM;
            cJSON_ReplaceItemViaPointer(output, it, n);
        } else {
            cJSON_Delete(cJSON_DetachItemViaPointer(output, it));
        }
    }
    return changed;
}

static void denied_free(struct denied *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->ids[i]);
    free(d->ids);
    memset(d, 0, sizeof *d);
}

/* ---- the data stage's part (stage_data.c) ---- */

/* The texts of one output item (a message's parts, a reasoning item's summary and content, a
 * function call's arguments, a custom tool call's input), at output index oi. record 0: a copy
 * of text the stream's lanes counted already. 1 rewritten, 0, or the data stage's error. */
#define DATA_TEXTS 1
#define DATA_CALLS 2
static int resp_data_item(struct engine_call *c, cJSON *it, int oi, int record, int what)
{
    const char *type = format_str(it, "type");
    char path[96];
    int changed = 0, rc;
    if (!cJSON_IsObject(it))
        return 0;
    int call = type && (!strcmp(type, "function_call") || !strcmp(type, "custom_tool_call"));
    if (!(what & (call ? DATA_CALLS : DATA_TEXTS)))
        return 0;
    if (call) {
        const char *key = type[0] == 'c' ? "input" : "arguments";
        cJSON *n = GET(it, key);
        if (!cJSON_IsString(n))
            return 0;
        char *s = NULL;
        snprintf(path, sizeof path, "response.output[%d].%s", oi, key);
        rc = engine_data_args(c, DATA_DIR_RESPONSE, path, n->valuestring, strlen(n->valuestring),
                              record, &s);
        if (rc == 1 && !cJSON_SetValuestring(n, s))
            rc = -ENOMEM;
        free(s);
        return rc;
    }
    static const char *const arrays[] = {"content", "summary"};
    for (int a = 0; a < 2; a++) {
        int j = 0;
        cJSON *parts = GET(it, arrays[a]);
        for (cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; p; p = p->next, j++) {
            static const char *const keys[] = {"text", "refusal"};
            for (int k = 0; k < 2; k++) {
                snprintf(path, sizeof path, "response.output[%d].%s[%d].%s", oi, arrays[a], j,
                         keys[k]);
                if ((rc = engine_data_node(c, DATA_DIR_RESPONSE, path, GET(p, keys[k]), record)) <
                    0)
                    return rc;
                changed |= rc;
            }
        }
    }
    return changed;
}

static int resp_data_output(struct engine_call *c, cJSON *output, int record, int what)
{
    int changed = 0, i = 0;
    if (!engine_data_stream_on(c))
        return 0;
    for (cJSON *it = cJSON_IsArray(output) ? output->child : NULL; it; it = it->next, i++) {
        int rc = resp_data_item(c, it, i, record, what);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    return changed;
}

static int responses_response(struct engine_call *c, cJSON *root)
{
    format_usage(c, GET(root, "usage"), "input_tokens", "output_tokens");
    struct denied d = {0};
    /* texts rewritten before they are judged and kept for the record; calls judged on what
     * the model sent, then rewritten */
    int dt = resp_data_output(c, GET(root, "output"), 1, DATA_TEXTS);
    if (dt < 0)
        return dt;
    int rc = filter_output(c, GET(root, "output"), 1, &d);
    denied_free(&d);
    if (rc < 0)
        return rc;
    int dr = resp_data_output(c, GET(root, "output"), 1, DATA_CALLS);
    return dr < 0 ? dr : rc | dr | dt;
}

/* ---- streams ---- */

struct kept_event {
    char *event, *data, *raw;
    size_t data_len, raw_len;
};

struct held_item {
    int index, active, custom;
    char *name, *id, *call_id;
    struct fbuf args;
    char *final_args; /* from .done events, which are authoritative */
    struct kept_event *ev;
    size_t n, cap;
};

struct resp_asm {
    int map[MAX_ITEMS]; /* upstream output_index -> client index + 1; 0 not seen; -1 dropped */
    int next_out;
    struct held_item *h;
    size_t n, cap;
    size_t held;
    struct denied denied;
};

static void held_clear(struct held_item *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->ev[i].event);
        free(h->ev[i].data);
        free(h->ev[i].raw);
    }
    free(h->ev);
    free(h->name);
    free(h->id);
    free(h->call_id);
    free(h->final_args);
    fbuf_free(&h->args);
    h->ev = NULL;
    h->n = h->cap = 0;
    h->name = h->id = h->call_id = h->final_args = NULL;
}

static void responses_free(void *p)
{
    struct resp_asm *a = p;
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        held_clear(&a->h[i]);
    free(a->h);
    denied_free(&a->denied);
    free(a);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int keep(struct engine_call *c, struct resp_asm *a, struct held_item *h,
                const struct sse_event *ev)
{
    a->held += ev->raw_len + ev->data_len;
    if (a->held > c->e->o.max_held)
        return ENGINE_ERR_TOO_LARGE;
    if (GROW(&h->ev, &h->cap, h->n + 1))
        return -ENOMEM;
    struct kept_event *k = &h->ev[h->n];
    k->event = dupn(ev->event, ev->event_len);
    k->data = dupn(ev->data, ev->data_len);
    k->raw = dupn(ev->raw, ev->raw_len);
    k->data_len = ev->data_len;
    k->raw_len = ev->raw_len;
    if (!k->event || !k->data || !k->raw) {
        free(k->event);
        free(k->data);
        free(k->raw);
        return -ENOMEM;
    }
    h->n++;
    return 0;
}

static const char *event_name(const char *e)
{
    return strcmp(e, "message") ? e : NULL;
}

/* Emit one event about output item index: raw when the client's index is the same. */
static int emit_at(struct engine_call *c, const char *event, const char *raw, size_t raw_len,
                   const char *data, size_t data_len, cJSON *root, int index, int out)
{
    if (index == out)
        return engine_emit(c, raw, raw_len);
    cJSON *own = NULL;
    char err[64];
    if (!root) {
        if (format_parse(data, data_len, ENGINE_MAX_DEPTH, &own, err, sizeof err))
            return 0;
        root = own;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(root, "output_index", cJSON_CreateNumber(out));
    int rc = format_emit_event(c, event_name(event), root);
    cJSON_Delete(own);
    return rc;
}

/* A kept event of a call whose arguments the data stage rewrote: the first argument delta
 * carries them whole, later deltas are dropped, the done events and the item carry them. */
static int emit_rewritten(struct engine_call *c, const struct kept_event *k, int index, int out,
                          int custom, const char *nargs, int *sent)
{
    cJSON *root = NULL;
    char err[64];
    if (format_parse(k->data, k->data_len, ENGINE_MAX_DEPTH, &root, err, sizeof err))
        return 0;
    const char *type = format_str(root, "type");
    const char *key = custom ? "input" : "arguments";
    int rc = 0;
    if (type && (strstr(type, "_arguments.delta") || strstr(type, "_input.delta"))) {
        if (*sent)
            goto out;
        *sent = 1;
        cJSON_ReplaceItemInObjectCaseSensitive(root, "delta", cJSON_CreateString(nargs));
    } else if (type && (strstr(type, "_arguments.done") || strstr(type, "_input.done"))) {
        cJSON_ReplaceItemInObjectCaseSensitive(root, key, cJSON_CreateString(nargs));
    } else if (type && !strcmp(type, "response.output_item.done")) {
        cJSON *it = GET(root, "item");
        if (cJSON_IsObject(it) && GET(it, key))
            cJSON_ReplaceItemInObjectCaseSensitive(it, key, cJSON_CreateString(nargs));
    } else if (type && !strcmp(type, "response.output_item.added")) {
        cJSON *it = GET(root, "item");
        if (cJSON_IsObject(it) && cJSON_IsString(GET(it, key)) && *GET(it, key)->valuestring)
            cJSON_ReplaceItemInObjectCaseSensitive(it, key, cJSON_CreateString(nargs));
    }
    if (index != out)
        cJSON_ReplaceItemInObjectCaseSensitive(root, "output_index", cJSON_CreateNumber(out));
    rc = format_emit_event(c, event_name(k->event), root);
out:
    cJSON_Delete(root);
    return rc;
}

static int finish_item(struct engine_call *c, struct resp_asm *a, struct held_item *h)
{
    struct engine_reason why;
    h->active = 0;
    const char *args = h->final_args ? h->final_args : h->args.p;
    size_t len = h->final_args ? strlen(h->final_args) : h->args.len;
    if (h->custom) { /* free text input: judged by name only */
        args = "{}";
        len = 2;
    }
    int ok = format_judge_call(c, h->name, h->call_id, args, len, &why);
    int rc = 0;
    char *nargs = NULL; /* the arguments as the data stage rewrote them */
    if (ok && engine_data_stream_on(c)) {
        const char *raw = h->final_args ? h->final_args : h->args.p;
        size_t rlen = h->final_args ? strlen(h->final_args) : h->args.len;
        char path[64];
        snprintf(path, sizeof path, "response.output[%d].%s", h->index,
                 h->custom ? "input" : "arguments");
        if ((rc = engine_data_args(c, DATA_DIR_RESPONSE, path, raw, rlen, 1, &nargs)) < 0)
            return rc;
        rc = 0;
    }
    if (!ok) {
        cJSON *it = cJSON_CreateObject();
        if (!it)
            return -ENOMEM;
        if (h->id)
            cJSON_AddStringToObject(it, "id", h->id);
        if (h->call_id)
            cJSON_AddStringToObject(it, "call_id", h->call_id);
        rc = deny_id(&a->denied, it);
        cJSON_Delete(it);
        if (rc)
            return rc;
        a->held += 64; /* the list of denied ids is bounded with the rest */
    }
    if (c->observe)
        goto out;
    if (ok) {
        int out = a->next_out++;
        a->map[h->index] = out + 1;
        int sent = 0;
        for (size_t i = 0; i < h->n && !rc; i++) {
            struct kept_event *k = &h->ev[i];
            if (nargs)
                rc = emit_rewritten(c, k, h->index, out, h->custom, nargs, &sent);
            else
                rc = emit_at(c, k->event, k->raw, k->raw_len, k->data, k->data_len, NULL, h->index,
                             out);
        }
    } else if (c->e->o.on_denied_call == ENGINE_CALL_NOTICE) {
        int out = a->next_out++;
        a->map[h->index] = out + 1;
        static const char *const kinds[] = {"response.output_item.added",
                                            "response.output_item.done"};
        for (int k = 0; k < 2 && !rc; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON *it = notice_item(h->name, &why, k ? "completed" : "in_progress");
            if (!o || !it) {
                cJSON_Delete(o);
                cJSON_Delete(it);
                return -ENOMEM;
            }
            cJSON_AddStringToObject(o, "type", kinds[k]);
            cJSON_AddNumberToObject(o, "output_index", out);
            cJSON_AddItemToObject(o, "item", it);
            rc = format_emit_event(c, kinds[k], o);
            cJSON_Delete(o);
        }
    } else {
        a->map[h->index] = -1;
    }
out:
    free(nargs);
    held_clear(h);
    return rc;
}

static struct held_item *held_at(struct resp_asm *a, int index)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->h[i].active && a->h[i].index == index)
            return &a->h[i];
    return NULL;
}

/* ---- stream texts through the data stage's lanes ---- */

/* The text events of the stream: a delta and its done event per text position. */
static const struct text_kind {
    const char *delta, *done; /* event types */
    const char *sub;          /* "output_index" is the first key; this the second */
    const char *done_key;     /* the done event's member holding the whole text */
    const char *arr, *leaf;   /* the position: response.output[O].arr[S].leaf */
} k_texts[] = {
    {"response.output_text.delta", "response.output_text.done", "content_index", "text", "content",
     "text"},
    {"response.refusal.delta", "response.refusal.done", "content_index", "refusal", "content",
     "refusal"},
    {"response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
     "summary_index", "text", "summary", "text"},
    {"response.reasoning_text.delta", "response.reasoning_text.done", "content_index", "text",
     "content", "reasoning_text"},
};

/* Emit root (an event of the stream) as the client's output index out. */
static int emit_root(struct engine_call *c, const struct sse_event *ev, cJSON *root, int index,
                     int out)
{
    if (index != out)
        cJSON_ReplaceItemInObjectCaseSensitive(root, "output_index", cJSON_CreateNumber(out));
    return format_emit_event(c, event_name(ev->event), root);
}

static struct data_lane *text_lane(struct engine_call *c, const struct text_kind *k, cJSON *root,
                                   int index)
{
    cJSON *sub = GET(root, k->sub);
    int si = cJSON_IsNumber(sub) ? sub->valueint : 0;
    char path[128];
    snprintf(path, sizeof path, "response.output[%d].%s[%d].%s", index, k->arr, si, k->leaf);
    return engine_data_lane(c, path, index, si);
}

/*
 * An event about a non-held output item when the lanes are on. Answers 1 when it emitted (or
 * dropped) the event itself, 0 to let the caller forward it, or an error. A text delta goes
 * through its lane and out with what the lane released; a done event is preceded by the
 * lane's tail, and its whole text (like the parts and items that repeat it) is rewritten as
 * the lanes rewrote the deltas.
 */
static int resp_data_event(struct engine_call *c, struct resp_asm *a, const struct sse_event *ev,
                           cJSON *root, const char *type, int index)
{
    int m = a->map[index], out = m > 0 ? m - 1 : index, rc = 0;
    for (size_t i = 0; i < sizeof k_texts / sizeof *k_texts; i++) {
        const struct text_kind *k = &k_texts[i];
        int is_delta = !strcmp(type, k->delta);
        if (!is_delta && strcmp(type, k->done) != 0)
            continue;
        struct data_lane *l = text_lane(c, k, root, index);
        if (!l)
            return -ENOMEM;
        struct data_buf buf = {0};
        cJSON *d = GET(root, "delta");
        if (is_delta) {
            if (!cJSON_IsString(d))
                return 0;
            if (!l->env && !(l->env = cJSON_Duplicate(root, 1)))
                return -ENOMEM;
            rc = engine_data_feed(c, l, d->valuestring, strlen(d->valuestring), &buf);
            if (!rc && c->observe) {
                format_judge_text(c, d->valuestring, strlen(d->valuestring));
                rc = format_emit_raw(c, ev);
            } else if (!rc && m != -1 && buf.len) {
                format_judge_text(c, buf.p, buf.len);
                if (GET(root, "logprobs")) /* tokens of the text the lane rewrote */
                    cJSON_ReplaceItemInObjectCaseSensitive(root, "logprobs", cJSON_CreateArray());
                rc = data_buf_put(&buf, "", 1) || !cJSON_SetValuestring(d, buf.p)
                         ? -ENOMEM
                         : emit_root(c, ev, root, index, out);
            }
            data_buf_free(&buf);
            return rc ? rc : 1;
        }
        rc = engine_data_end(c, l, &buf);
        if (!rc && buf.len && !c->observe && m != -1 && l->env) {
            format_judge_text(c, buf.p, buf.len);
            cJSON *e = l->env;
            cJSON *dn = GET(e, "delta");
            if (GET(e, "logprobs"))
                cJSON_ReplaceItemInObjectCaseSensitive(e, "logprobs", cJSON_CreateArray());
            rc = data_buf_put(&buf, "", 1) || !dn || !cJSON_SetValuestring(dn, buf.p)
                     ? -ENOMEM
                     : emit_root(c, ev, e, index, out);
        }
        data_buf_free(&buf);
        if (rc)
            return rc;
        rc = engine_data_node(c, DATA_DIR_RESPONSE, l->path, GET(root, k->done_key), 0);
        if (rc < 0)
            return rc;
        if (!rc || c->observe)
            return 0;
        return m == -1 ? 1 : (rc = emit_root(c, ev, root, index, out)) ? rc : 1;
    }
    if (!strcmp(type, "response.content_part.added") ||
        !strcmp(type, "response.content_part.done") ||
        !strcmp(type, "response.reasoning_summary_part.added") ||
        !strcmp(type, "response.reasoning_summary_part.done")) {
        char path[96];
        snprintf(path, sizeof path, "response.output[%d].part", index);
        rc = engine_data_json(c, DATA_DIR_RESPONSE, path, GET(root, "part"), 0);
    } else if (!strcmp(type, "response.output_item.added") ||
               !strcmp(type, "response.output_item.done")) {
        rc = resp_data_item(c, GET(root, "item"), index, 0, DATA_TEXTS);
    }
    if (rc <= 0 || c->observe)
        return rc;
    return m == -1 ? 1 : (rc = emit_root(c, ev, root, index, out)) ? rc : 1;
}

static int responses_event(struct engine_call *c, struct resp_asm *a, const struct sse_event *ev,
                           cJSON *root)
{
    const char *type = format_str(root, "type");
    if (!type)
        type = ev->event;
    if (!strcmp(type, "error")) {
        struct engine_event e = {.kind = ENGINE_EV_ERROR, .text = ev->data, .len = ev->data_len};
        struct engine_reason why;
        (void)engine_judge_event(c, &e, &why);
        return format_emit_raw(c, ev);
    }
    cJSON *resp = GET(root, "response");
    if (cJSON_IsObject(resp) &&
        (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete") ||
         !strcmp(type, "response.failed"))) {
        format_usage(c, GET(resp, "usage"), "input_tokens", "output_tokens");
        /* a held call the stream never finished is judged now */
        for (size_t i = 0; i < a->n; i++)
            if (a->h[i].active) {
                int rc = finish_item(c, a, &a->h[i]);
                if (rc)
                    return rc;
            }
        int rc = filter_output(c, GET(resp, "output"), 0, &a->denied);
        if (rc < 0)
            return rc;
        int dr = resp_data_output(c, GET(resp, "output"), 0, DATA_TEXTS | DATA_CALLS);
        if (dr < 0)
            return dr;
        rc |= dr;
        if (!rc || c->observe)
            return format_emit_raw(c, ev);
        return format_emit_event(c, event_name(ev->event), root);
    }
    cJSON *ix = GET(root, "output_index");
    if (!ix)
        return format_emit_raw(c, ev); /* response.created, in_progress, ... */
    if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 || ix->valuedouble >= MAX_ITEMS)
        return format_unreadable(c, ev, "an output_index out of range");
    int index = (int)ix->valuedouble;
    struct held_item *h = held_at(a, index);
    if (!strcmp(type, "response.output_item.added")) {
        cJSON *it = GET(root, "item");
        const char *it_type = format_str(it, "type");
        if (h || a->map[index])
            return format_unreadable(c, ev, "an output item added twice");
        if (it_type &&
            (!strcmp(it_type, "function_call") || !strcmp(it_type, "custom_tool_call"))) {
            for (size_t i = 0; i < a->n && !h; i++) /* a finished item's entry is free */
                if (!a->h[i].active)
                    h = &a->h[i];
            if (h) {
                held_clear(h);
            } else {
                if (GROW(&a->h, &a->cap, a->n + 1))
                    return -ENOMEM;
                h = &a->h[a->n++];
            }
            memset(h, 0, sizeof *h);
            h->index = index;
            h->active = 1;
            h->custom = it_type[0] == 'c';
            const char *name = format_str(it, "name"), *id = format_str(it, "id");
            const char *cid = format_str(it, "call_id"), *args = format_str(it, "arguments");
            if (!(h->name = strdup(name ? name : "")) || (id && !(h->id = strdup(id))) ||
                (cid && !(h->call_id = strdup(cid))) ||
                (args && *args && fbuf_put(&h->args, args, strlen(args))))
                return -ENOMEM;
            return c->observe ? format_emit_raw(c, ev) : keep(c, a, h, ev);
        }
        a->map[index] = ++a->next_out;
    }
    if (h) {
        int rc;
        if (!strcmp(type, "response.function_call_arguments.delta") ||
            !strcmp(type, "response.custom_tool_call_input.delta")) {
            const char *d = format_str(root, "delta");
            size_t n = d ? strlen(d) : 0;
            a->held += n;
            if (a->held > c->e->o.max_held)
                return ENGINE_ERR_TOO_LARGE;
            if (n && fbuf_put(&h->args, d, n))
                return -ENOMEM;
        } else if (!strcmp(type, "response.function_call_arguments.done") ||
                   !strcmp(type, "response.output_item.done")) {
            const char *fa = format_str(root, "arguments");
            if (!fa)
                fa = format_str(GET(root, "item"), "arguments");
            if (fa) {
                free(h->final_args);
                if (!(h->final_args = strdup(fa)))
                    return -ENOMEM;
            }
        }
        if (c->observe)
            rc = format_emit_raw(c, ev);
        else
            rc = keep(c, a, h, ev);
        if (!rc && !strcmp(type, "response.output_item.done"))
            rc = finish_item(c, a, h);
        return rc;
    }
    if (engine_data_stream_on(c)) {
        int rc = resp_data_event(c, a, ev, root, type, index);
        if (rc)
            return rc < 0 ? rc : 0;
    } else if (!strcmp(type, "response.output_text.delta")) {
        const char *d = format_str(root, "delta");
        if (d)
            format_judge_text(c, d, strlen(d));
    }
    if (c->observe)
        return format_emit_raw(c, ev);
    int m = a->map[index];
    if (m == -1)
        return 0;
    if (m == 0)
        return format_emit_raw(c, ev);
    return emit_at(c, ev->event, ev->raw, ev->raw_len, ev->data, ev->data_len, root, index, m - 1);
}

static int responses_block(struct engine_call *c, const struct sse_event *ev)
{
    struct resp_asm *a = c->asm_state;
    if (!a && !(a = c->asm_state = calloc(1, sizeof *a)))
        return -ENOMEM;
    if (!ev->dispatch)
        return format_emit_raw(c, ev);
    cJSON *root;
    int rc = format_event_object(c, ev, &root);
    if (rc != 1)
        return rc;
    rc = responses_event(c, a, ev, root);
    cJSON_Delete(root);
    return rc;
}

static int responses_end(struct engine_call *c)
{
    struct resp_asm *a = c->asm_state;
    for (size_t i = 0; a && engine_data_stream_on(c) && i < c->dc.n_lanes; i++) {
        struct data_lane *l = &c->dc.lanes[i];
        struct data_buf buf = {0};
        int rc = engine_data_end(c, l, &buf);
        int m = a->map[l->k0];
        if (!rc && buf.len && !c->observe && m != -1 && l->env) {
            format_judge_text(c, buf.p, buf.len);
            cJSON *dn = GET(l->env, "delta");
            if (data_buf_put(&buf, "", 1) || !dn || !cJSON_SetValuestring(dn, buf.p))
                rc = -ENOMEM;
            else {
                if (m > 0)
                    cJSON_ReplaceItemInObjectCaseSensitive(l->env, "output_index",
                                                           cJSON_CreateNumber(m - 1));
                rc = format_emit_event(c, format_str(l->env, "type"), l->env);
            }
        }
        data_buf_free(&buf);
        if (rc)
            return rc;
    }
    for (size_t i = 0; a && i < a->n; i++)
        if (a->h[i].active) {
            int rc = finish_item(c, a, &a->h[i]);
            if (rc)
                return rc;
        }
    return 0;
}

const struct format_ops format_responses = {
    .fmt = ENGINE_RESPONSES,
    .endpoint = "/v1/responses",
    .tool_keys = k_tool_keys,
    .inspect = responses_inspect,
    .error_body = format_openai_error,
    .error_event = responses_error_event,
    .response = responses_response,
    .stream_block = responses_block,
    .stream_end = responses_end,
    .stream_free = responses_free,
};
