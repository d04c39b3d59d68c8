/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Anthropic Messages (POST /v1/messages): the request's model, system, messages with their
 * content blocks (text, tool_use, tool_result, thinking, documents), tools and tool_choice;
 * the complete response's tool_use blocks; and the stream assembler.
 *
 * The stream names its events (message_start, content_block_start / _delta / _stop,
 * message_delta, message_stop, ping, error). A tool_use block is held from its
 * content_block_start to its content_block_stop, its input_json_delta fragments joined;
 * at the stop it is judged, and an allowed block goes to the client as start, one delta
 * with the whole input and stop. Text blocks flow on as they come. Block indices are
 * renumbered so that the client sees 0, 1, 2... with no gap where a block was dropped, and a
 * stop_reason "tool_use" with no tool_use left becomes "end_turn".
 */
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET cJSON_GetObjectItemCaseSensitive
#define MAX_BLOCKS 4096

static const char *const k_tool_keys[] = {"tool_choice", NULL};

/* Text blocks of a system prompt or a tool_result's content: a string or an array of blocks
 * with "text". */
static int texts_of(struct engine_request *rq, enum engine_text_kind k, cJSON *v,
                    struct engine_reason *why, const char *path)
{
    if (cJSON_IsString(v))
        return format_add_text(rq, k, v, "%s", path);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return format_bad(why, "%s must be a string or an array of blocks", path);
    int j = 0;
    cJSON *b;
    cJSON_ArrayForEach(b, v)
    {
        if (!cJSON_IsObject(b))
            return format_bad(why, "%s[%d] must be an object", path, j);
        cJSON *t = GET(b, "text");
        if (t && !cJSON_IsString(t))
            return format_bad(why, "%s[%d].text must be a string", path, j);
        if (t && format_add_text(rq, k, t, "%s[%d].text", path, j))
            return -ENOMEM;
        /* a document inside a tool result or a system block: its text only when given as text */
        const char *bt = format_str(b, "type");
        if (bt && !strcmp(bt, "document")) {
            cJSON *src = GET(b, "source");
            const char *st = cJSON_IsObject(src) ? format_str(src, "type") : NULL;
            if (st && !strcmp(st, "text") && cJSON_IsString(GET(src, "data"))) {
                if (format_add_text(rq, k, GET(src, "data"), "%s[%d].source.data", path, j))
                    return -ENOMEM;
            } else {
                format_add_opaque(rq, "a document given as a file, base64 or a URL", "%s[%d]", path,
                                  j);
            }
        }
        j++;
    }
    return 0;
}

static int block(struct engine_request *rq, cJSON *b, enum engine_text_kind k, int i, int j,
                 struct engine_reason *why)
{
    char path[96];
    snprintf(path, sizeof path, "messages[%d].content[%d]", i, j);
    if (!cJSON_IsObject(b))
        return format_bad(why, "%s must be an object", path);
    const char *type = format_str(b, "type");
    if (!type)
        return format_bad(why, "%s.type must be a string", path);
    cJSON *t;
    if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use")) {
        const char *name = format_str(b, "name");
        cJSON *input = GET(b, "input");
        if (!name)
            return format_bad(why, "%s.name must be a string", path);
        if (input && !cJSON_IsObject(input))
            return format_bad(why, "%s.input must be an object", path);
        char *args = input ? cJSON_PrintUnformatted(input) : strdup("{}");
        if (!args)
            return -ENOMEM;
        int rc = format_add_call(rq, name, args, strlen(args), "%s", path);
        if (rc) {
            free(args);
            return rc;
        }
        rq->calls[rq->n_calls - 1].id = format_str(b, "id");
        if ((rc = format_add_owned_text(rq, ENGINE_TEXT_TOOL_ARGS, args, "%s.input", path)) != 0)
            return rc;
        rq->texts[rq->n_texts - 1].src = input; /* the data stage rewrites the object */
        return 0;
    }
    if (!strcmp(type, "tool_result")) {
        const char *cid = format_str(b, "tool_use_id");
        if (!cid)
            return format_bad(why, "%s.tool_use_id must be a string", path);
        if (format_add_result(rq, NULL, cid, "%s", path))
            return -ENOMEM;
        char cp[112];
        snprintf(cp, sizeof cp, "%s.content", path);
        return texts_of(rq, ENGINE_TEXT_TOOL_RESULT, GET(b, "content"), why, cp);
    }
    if (!strcmp(type, "thinking")) {
        t = GET(b, "thinking");
        if (t && !cJSON_IsString(t))
            return format_bad(why, "%s.thinking must be a string", path);
        return t ? format_add_text(rq, ENGINE_TEXT_ASSISTANT, t, "%s.thinking", path) : 0;
    }
    if (!strcmp(type, "document")) {
        cJSON *src = GET(b, "source");
        const char *st = cJSON_IsObject(src) ? format_str(src, "type") : NULL;
        if (!st || (strcmp(st, "text") != 0 && strcmp(st, "content") != 0))
            format_add_opaque(rq, "a document given as a file, base64 or a URL", "%s", path);
        int rc = 0;
        if (cJSON_IsObject(src) && cJSON_IsString(GET(src, "data")) &&
            (format_str(src, "type") && !strcmp(format_str(src, "type"), "text")))
            rc = format_add_text(rq, k, GET(src, "data"), "%s.source.data", path);
        if (!rc && cJSON_IsObject(src) && cJSON_IsArray(GET(src, "content"))) {
            char cp[112];
            snprintf(cp, sizeof cp, "%s.source.content", path);
            rc = texts_of(rq, k, GET(src, "content"), why, cp);
        }
        return rc;
    }
    t = GET(b, "text");
    if (t && !cJSON_IsString(t))
        return format_bad(why, "%s.text must be a string", path);
    return t ? format_add_text(rq, k, t, "%s.text", path) : 0;
}

static int messages_inspect(struct engine_request *rq, struct engine_reason *why)
{
    cJSON *r = rq->root;
    int rc;
    if ((rc = format_model_stream(rq, 1, why)) != 0)
        return rc;
    if ((rc = texts_of(rq, ENGINE_TEXT_SYSTEM, GET(r, "system"), why, "system")) != 0)
        return rc;
    cJSON *msgs = GET(r, "messages"), *m;
    if (!cJSON_IsArray(msgs))
        return format_bad(why, "\"messages\" must be an array of messages");
    int i = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!cJSON_IsObject(m))
            return format_bad(why, "messages[%d] must be an object", i);
        const char *role = format_str(m, "role");
        if (!role)
            return format_bad(why, "messages[%d].role must be a string", i);
        enum engine_text_kind k =
            !strcmp(role, "assistant") ? ENGINE_TEXT_ASSISTANT : ENGINE_TEXT_USER;
        cJSON *content = GET(m, "content");
        if (cJSON_IsString(content)) {
            if (format_add_text(rq, k, content, "messages[%d].content", i))
                return -ENOMEM;
        } else if (cJSON_IsArray(content)) {
            int j = 0;
            cJSON *b;
            cJSON_ArrayForEach(b, content)
            {
                if ((rc = block(rq, b, k, i, j++, why)) != 0)
                    return rc;
            }
        } else {
            return format_bad(why,
                              "messages[%d].content must be a string or an array of "
                              "blocks",
                              i);
        }
        i++;
    }
    cJSON *tools = GET(r, "tools");
    if (tools && !cJSON_IsNull(tools)) {
        if (!cJSON_IsArray(tools))
            return format_bad(why, "\"tools\" must be an array");
        int j = 0;
        cJSON *t;
        cJSON_ArrayForEach(t, tools)
        {
            const char *name = format_str(t, "name");
            if (!cJSON_IsObject(t) || !name)
                return format_bad(why, "tools[%d] must be an object with a \"name\"", j);
            if (format_add_tool(rq, name, t, tools))
                return -ENOMEM;
            j++;
        }
    }
    cJSON *tc = GET(r, "tool_choice");
    if (cJSON_IsObject(tc)) {
        const char *type = format_str(tc, "type");
        if (!type)
            return format_bad(why, "\"tool_choice\".type must be a string");
        if (!strcmp(type, "any"))
            rq->tool_choice_required = 1;
        else if (!strcmp(type, "tool")) {
            if (!(rq->tool_choice_forced = format_str(tc, "name")))
                return format_bad(why, "\"tool_choice\" of type \"tool\" must have a \"name\"");
        }
    } else if (tc && !cJSON_IsNull(tc)) {
        return format_bad(why, "\"tool_choice\" must be an object");
    }
    return 0;
}

static const char *anthropic_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 403:
        return "permission_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    default:
        return "api_error";
    }
}

static cJSON *error_object(const struct engine_reason *why)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
    if (!o || !e || !cJSON_AddStringToObject(o, "type", "error")) {
        cJSON_Delete(o);
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(o, "error", e);
    if (!cJSON_AddStringToObject(e, "type", anthropic_type(why->status)) ||
        !cJSON_AddStringToObject(e, "message", why->message) ||
        !cJSON_AddStringToObject(e, "code", why->code)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static char *messages_error_body(const struct engine_reason *why)
{
    cJSON *o = error_object(why);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static char *messages_error_event(const struct engine_reason *why)
{
    cJSON *o = error_object(why);
    size_t n;
    char *s = o ? format_sse_event("error", o, &n) : NULL;
    cJSON_Delete(o);
    return s;
}

/* ---- complete responses ---- */

/* ---- the data stage's part (stage_data.c) ---- */

/* The texts of one content block of a complete response: text, thinking, a tool_use's input
 * (judged before, by the caller). 1 rewritten, 0, or the data stage's error. */
static int messages_data_block(struct engine_call *c, cJSON *b, const char *path, const char *type)
{
    char p[96];
    if (!strcmp(type, "tool_use") || !strcmp(type, "server_tool_use")) {
        snprintf(p, sizeof p, "%s.input", path);
        return engine_data_json(c, DATA_DIR_RESPONSE, p, GET(b, "input"), 1);
    }
    int changed = 0;
    static const char *const keys[] = {"text", "thinking"};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s.%s", path, keys[k]);
        int rc = engine_data_node(c, DATA_DIR_RESPONSE, p, GET(b, keys[k]), 1);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    return changed;
}

static int messages_response(struct engine_call *c, cJSON *root)
{
    struct engine_reason why;
    format_usage(c, GET(root, "usage"), "input_tokens", "output_tokens");
    cJSON *content = GET(root, "content");
    if (!content)
        return 0;
    if (!cJSON_IsArray(content))
        return ENGINE_ERR_MALFORMED;
    int kept = 0, removed = 0, changed = 0, bi = -1;
    for (cJSON *b = content->child, *next; b; b = next) {
        next = b->next;
        bi++;
        const char *type = format_str(b, "type");
        if (!type)
            continue;
        if (engine_data_stream_on(c)) {
            char path[64];
            snprintf(path, sizeof path, "response.content[%d]", bi);
            int rc = messages_data_block(c, b, path, type);
            if (rc < 0)
                return rc;
            changed |= rc;
        }
        if (!strcmp(type, "text")) {
            const char *t = format_str(b, "text");
            if (t)
                format_judge_text(c, t, strlen(t));
            continue;
        }
        if (strcmp(type, "tool_use") != 0)
            continue;
        const char *name = format_str(b, "name");
        cJSON *input = GET(b, "input");
        char *args = input ? cJSON_PrintUnformatted(input) : strdup("{}");
        if (!args)
            return -ENOMEM;
        int ok = format_judge_call(c, name, format_str(b, "id"), args, strlen(args), &why);
        free(args);
        if (ok) {
            kept++;
            continue;
        }
        removed++;
        if (c->e->o.on_denied_call == ENGINE_CALL_NOTICE) {
            char notice[ENGINE_MESSAGE_MAX + 160];
            engine_notice_text(name, &why, notice, sizeof notice);
            cJSON *t = cJSON_CreateObject();
            if (!t || !cJSON_AddStringToObject(t, "type", "text") ||
                !cJSON_AddStringToObject(t, "text", notice)) {
                cJSON_Delete(t);
                return -ENOMEM;
            }
            cJSON_ReplaceItemViaPointer(content, b, t);
        } else {
            cJSON_Delete(cJSON_DetachItemViaPointer(content, b));
        }
    }
    if (!removed)
        return changed;
    const char *sr = format_str(root, "stop_reason");
    if (!kept && sr && !strcmp(sr, "tool_use"))
        cJSON_ReplaceItemInObjectCaseSensitive(root, "stop_reason", cJSON_CreateString("end_turn"));
    return 1;
}

/* ---- streams ---- */

struct held {
    int index, active;
    cJSON *start; /* the content_block of content_block_start */
    struct fbuf json;
};

struct msg_asm {
    int map[MAX_BLOCKS]; /* upstream index -> client index + 1; 0 not seen; -1 dropped */
    int next_out;
    struct held *h;
    size_t n, cap;
    size_t held;
    int kept, removed;
};

static void messages_free(void *p)
{
    struct msg_asm *a = p;
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        cJSON_Delete(a->h[i].start);
        fbuf_free(&a->h[i].json);
    }
    free(a->h);
    free(a);
}

static const char *event_name(const struct sse_event *ev)
{
    return strcmp(ev->event, "message") ? ev->event : NULL;
}

/* Emit an event of three members: type, index, and key (taken). */
static int emit3(struct engine_call *c, const char *type, int index, const char *key, cJSON *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "type", type) ||
        !cJSON_AddNumberToObject(o, "index", index)) {
        cJSON_Delete(o);
        cJSON_Delete(v);
        return -ENOMEM;
    }
    if (key)
        cJSON_AddItemToObject(o, key, v);
    int rc = format_emit_event(c, type, o);
    cJSON_Delete(o);
    return rc;
}

static int emit_block(struct engine_call *c, int out, cJSON *start, const char *dtype,
                      const char *dkey, const char *dval)
{
    cJSON *d = cJSON_CreateObject();
    if (!d || !cJSON_AddStringToObject(d, "type", dtype) ||
        !cJSON_AddStringToObject(d, dkey, dval)) {
        cJSON_Delete(d);
        cJSON_Delete(start);
        return -ENOMEM;
    }
    int rc = emit3(c, "content_block_start", out, "content_block", start);
    if (!rc)
        rc = emit3(c, "content_block_delta", out, "delta", d);
    else
        cJSON_Delete(d);
    if (!rc)
        rc = emit3(c, "content_block_stop", out, NULL, NULL);
    return rc;
}

static int finish_block(struct engine_call *c, struct msg_asm *a, struct held *h)
{
    struct engine_reason why;
    h->active = 0;
    const char *name = format_str(h->start, "name");
    char *owned = NULL;
    const char *args = h->json.p;
    size_t len = h->json.len;
    if (!len) {
        cJSON *in = GET(h->start, "input");
        owned = in ? cJSON_PrintUnformatted(in) : strdup("{}");
        if (!owned)
            return -ENOMEM;
        args = owned;
        len = strlen(owned);
    }
    int ok = format_judge_call(c, name, format_str(h->start, "id"), args, len, &why);
    int rc = 0;
    ok ? a->kept++ : a->removed++;
    if (ok && engine_data_stream_on(c)) { /* the whole input, held: scanned as one */
        char path[64], *nargs = NULL;
        snprintf(path, sizeof path, "response.content[%d].input", h->index);
        rc = engine_data_args(c, DATA_DIR_RESPONSE, path, args, len, 1, &nargs);
        if (rc < 0)
            goto out;
        rc = 0;
        if (nargs) {
            free(owned);
            owned = nargs;
            args = owned;
            len = strlen(owned);
        }
    }
    if (c->observe)
        goto out;
    if (ok) {
        int out = a->next_out++;
        a->map[h->index] = out + 1;
        cJSON *start = h->start;
        h->start = NULL; /* transferred */
        cJSON *empty = cJSON_CreateObject();
        if (!empty) {
            cJSON_Delete(start);
            rc = -ENOMEM;
            goto out;
        }
        if (GET(start, "input"))
            cJSON_ReplaceItemInObjectCaseSensitive(start, "input", empty);
        else
            cJSON_AddItemToObject(start, "input", empty);
        rc = emit_block(c, out, start, "input_json_delta", "partial_json", args);
    } else if (c->e->o.on_denied_call == ENGINE_CALL_NOTICE) {
        int out = a->next_out++;
        a->map[h->index] = out + 1;
        char notice[ENGINE_MESSAGE_MAX + 160];
        engine_notice_text(name, &why, notice, sizeof notice);
        cJSON *start = cJSON_CreateObject();
        if (!start || !cJSON_AddStringToObject(start, "type", "text") ||
            !cJSON_AddStringToObject(start, "text", "")) {
            cJSON_Delete(start);
            rc = -ENOMEM;
            goto out;
        }
        rc = emit_block(c, out, start, "text_delta", "text", notice);
    } else {
        a->map[h->index] = -1;
    }
out:
    free(owned);
    cJSON_Delete(h->start);
    h->start = NULL;
    fbuf_free(&h->json);
    return rc;
}

static struct held *held_at(struct msg_asm *a, int index)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->h[i].active && a->h[i].index == index)
            return &a->h[i];
    return NULL;
}

/* Forward an event about block index, renumbered when the client's index differs. */
static int forward(struct engine_call *c, struct msg_asm *a, const struct sse_event *ev,
                   cJSON *root, int index)
{
    if (c->observe)
        return format_emit_raw(c, ev);
    int m = a->map[index];
    if (m == -1)
        return 0; /* a dropped block */
    if (m == 0 || m - 1 == index)
        return format_emit_raw(c, ev);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "index", cJSON_CreateNumber(m - 1));
    return format_emit_event(c, event_name(ev), root);
}

/* ---- stream texts through the data stage's lanes ---- */

/* Emit a content_block_delta of block out holding member (text, thinking) = text. */
static int emit_text_delta(struct engine_call *c, int out, const char *dtype, const char *member,
                           const char *text)
{
    cJSON *d = cJSON_CreateObject();
    if (!d || !cJSON_AddStringToObject(d, "type", dtype) ||
        !cJSON_AddStringToObject(d, member, text)) {
        cJSON_Delete(d);
        return -ENOMEM;
    }
    return emit3(c, "content_block_delta", out, "delta", d);
}

/* The client's index of upstream block index. */
static int client_index(const struct msg_asm *a, int index)
{
    int m = a->map[index];
    return m > 0 ? m - 1 : index;
}

/* A text_delta or thinking_delta: fed to the block's lane; what the lane releases goes out as
 * the same event (nothing when it holds everything). */
static int messages_data_delta(struct engine_call *c, struct msg_asm *a, const struct sse_event *ev,
                               cJSON *d, int index)
{
    const char *member = GET(d, "text") ? "text" : "thinking";
    cJSON *t = GET(d, member);
    const char *dtype = format_str(d, "type");
    char path[64];
    snprintf(path, sizeof path, "response.content[%d].%s", index, member);
    struct data_lane *l = engine_data_lane(c, path, index, 0);
    if (!l)
        return -ENOMEM;
    if (!l->env && !(l->env = cJSON_CreateString(dtype ? dtype : "text_delta")))
        return -ENOMEM;
    struct data_buf out = {0};
    int rc = engine_data_feed(c, l, t->valuestring, strlen(t->valuestring), &out);
    if (!rc && c->observe) {
        format_judge_text(c, t->valuestring, strlen(t->valuestring));
        rc = format_emit_raw(c, ev);
    } else if (!rc && a->map[index] != -1 && out.len) {
        format_judge_text(c, out.p, out.len);
        rc = data_buf_put(&out, "", 1)
                 ? -ENOMEM
                 : emit_text_delta(c, client_index(a, index), l->env->valuestring, member, out.p);
    }
    data_buf_free(&out);
    return rc;
}

/* End the lanes of block index (index < 0: of all): what they held goes out as one delta. */
static int messages_data_end(struct engine_call *c, struct msg_asm *a, int index)
{
    for (size_t i = 0; i < c->dc.n_lanes; i++) {
        struct data_lane *l = &c->dc.lanes[i];
        if (l->ended || (index >= 0 && l->k0 != index))
            continue;
        struct data_buf out = {0};
        int rc = engine_data_end(c, l, &out);
        if (!rc && out.len && !c->observe && a->map[l->k0] != -1) {
            format_judge_text(c, out.p, out.len);
            rc = data_buf_put(&out, "", 1)
                     ? -ENOMEM
                     : emit_text_delta(c, client_index(a, l->k0),
                                       l->env ? l->env->valuestring : "text_delta",
                                       strrchr(l->path, '.') + 1, out.p);
        }
        data_buf_free(&out);
        if (rc)
            return rc;
    }
    return 0;
}

static int messages_event(struct engine_call *c, struct msg_asm *a, const struct sse_event *ev,
                          cJSON *root)
{
    const char *type = format_str(root, "type");
    if (!type)
        type = ev->event;
    if (!strcmp(type, "message_start")) {
        format_usage(c, GET(GET(root, "message"), "usage"), "input_tokens", "output_tokens");
        return format_emit_raw(c, ev);
    }
    if (!strcmp(type, "error")) {
        struct engine_event e = {.kind = ENGINE_EV_ERROR, .text = ev->data, .len = ev->data_len};
        struct engine_reason why;
        (void)engine_judge_event(c, &e, &why);
        return format_emit_raw(c, ev);
    }
    if (!strcmp(type, "message_delta")) {
        format_usage(c, GET(root, "usage"), "input_tokens", "output_tokens");
        cJSON *d = GET(root, "delta");
        const char *sr = format_str(d, "stop_reason");
        if (c->observe || !sr || strcmp(sr, "tool_use") || a->kept || !a->removed)
            return format_emit_raw(c, ev);
        cJSON_ReplaceItemInObjectCaseSensitive(d, "stop_reason", cJSON_CreateString("end_turn"));
        return format_emit_event(c, event_name(ev), root);
    }
    if (strncmp(type, "content_block_", 14) != 0)
        return format_emit_raw(c, ev); /* ping, message_stop, and events yet to come */
    cJSON *ix = GET(root, "index");
    if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 || ix->valuedouble >= MAX_BLOCKS)
        return format_unreadable(c, ev, "a content block event without a valid index");
    int index = (int)ix->valuedouble;
    struct held *h = held_at(a, index);
    if (!strcmp(type, "content_block_start")) {
        cJSON *cb = GET(root, "content_block");
        const char *cbt = format_str(cb, "type");
        if (h || a->map[index])
            return format_unreadable(c, ev, "a content block started twice");
        if (cbt && !strcmp(cbt, "tool_use")) {
            for (size_t i = 0; i < a->n && !h; i++) /* a finished block's entry is free */
                if (!a->h[i].active)
                    h = &a->h[i];
            if (!h) {
                if (GROW(&a->h, &a->cap, a->n + 1))
                    return -ENOMEM;
                h = &a->h[a->n++];
            }
            memset(h, 0, sizeof *h);
            a->held += sizeof *h;
            if (a->held > c->e->o.max_held)
                return ENGINE_ERR_TOO_LARGE;
            h->index = index;
            h->active = 1;
            if (!(h->start = cJSON_Duplicate(cb, 1)))
                return -ENOMEM;
            return c->observe ? format_emit_raw(c, ev) : 0;
        }
        a->map[index] = ++a->next_out; /* client index next_out - 1 */
        if (engine_data_stream_on(c) && cJSON_IsObject(cb)) {
            char path[64];
            snprintf(path, sizeof path, "response.content[%d]", index);
            int rc = messages_data_block(c, cb, path, cbt ? cbt : "");
            if (rc < 0)
                return rc;
            if (rc && !c->observe) {
                cJSON_ReplaceItemInObjectCaseSensitive(root, "index",
                                                       cJSON_CreateNumber(a->map[index] - 1));
                return format_emit_event(c, event_name(ev), root);
            }
        }
        return forward(c, a, ev, root, index);
    }
    if (!strcmp(type, "content_block_delta")) {
        cJSON *d = GET(root, "delta");
        if (h) {
            const char *pj = format_str(d, "partial_json");
            size_t n = pj ? strlen(pj) : 0;
            a->held += n;
            if (a->held > c->e->o.max_held)
                return ENGINE_ERR_TOO_LARGE;
            if (n && fbuf_put(&h->json, pj, n))
                return -ENOMEM;
            return c->observe ? format_emit_raw(c, ev) : 0;
        }
        if (engine_data_stream_on(c) &&
            (cJSON_IsString(GET(d, "text")) || cJSON_IsString(GET(d, "thinking"))))
            return messages_data_delta(c, a, ev, d, index);
        const char *t = format_str(d, "text");
        if (t)
            format_judge_text(c, t, strlen(t));
        return forward(c, a, ev, root, index);
    }
    if (!strcmp(type, "content_block_stop") && h) {
        int rc = finish_block(c, a, h);
        return rc || !c->observe ? rc : format_emit_raw(c, ev);
    }
    if (!strcmp(type, "content_block_stop") && engine_data_stream_on(c)) {
        int rc = messages_data_end(c, a, index); /* the held tail goes before the stop */
        if (rc)
            return rc;
    }
    return forward(c, a, ev, root, index);
}

static int messages_block(struct engine_call *c, const struct sse_event *ev)
{
    struct msg_asm *a = c->asm_state;
    if (!a && !(a = c->asm_state = calloc(1, sizeof *a)))
        return -ENOMEM;
    if (!ev->dispatch)
        return format_emit_raw(c, ev);
    cJSON *root;
    int rc = format_event_object(c, ev, &root);
    if (rc != 1)
        return rc;
    rc = messages_event(c, a, ev, root);
    cJSON_Delete(root);
    return rc;
}

static int messages_end(struct engine_call *c)
{
    struct msg_asm *a = c->asm_state;
    if (a && engine_data_stream_on(c)) {
        int rc = messages_data_end(c, a, -1);
        if (rc)
            return rc;
    }
    for (size_t i = 0; a && i < a->n; i++)
        if (a->h[i].active) {
            int rc = finish_block(c, a, &a->h[i]);
            if (rc)
                return rc;
        }
    return 0;
}

const struct format_ops format_messages = {
    .fmt = ENGINE_MESSAGES,
    .endpoint = "/v1/messages",
    .tool_keys = k_tool_keys,
    .inspect = messages_inspect,
    .error_body = messages_error_body,
    .error_event = messages_error_event,
    .response = messages_response,
    .stream_block = messages_block,
    .stream_end = messages_end,
    .stream_free = messages_free,
};
