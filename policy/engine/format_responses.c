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
        return args ? format_add_text(rq, ENGINE_TEXT_TOOL_ARGS, args, "%s.%s", path,
                                      custom ? "input" : "arguments")
                    : 0;
    }
    if (!strcmp(type, "function_call_output") || !strcmp(type, "custom_tool_call_output")) {
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

static int responses_response(struct engine_call *c, cJSON *root)
{
    format_usage(c, GET(root, "usage"), "input_tokens", "output_tokens");
    struct denied d = {0};
    int rc = filter_output(c, GET(root, "output"), 1, &d);
    denied_free(&d);
    return rc;
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
        for (size_t i = 0; i < h->n && !rc; i++) {
            struct kept_event *k = &h->ev[i];
            rc =
                emit_at(c, k->event, k->raw, k->raw_len, k->data, k->data_len, NULL, h->index, out);
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
    if (!strcmp(type, "response.output_text.delta")) {
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
