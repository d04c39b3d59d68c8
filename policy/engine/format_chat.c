/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenAI Chat Completions (POST /v1/chat/completions): the request's model, tools (and the
 * legacy "functions"), tool_choice, history tool calls and texts; the complete response's
 * tool calls; and the stream assembler.
 *
 * The stream: each chunk's choices[].delta carries content, and tool_calls fragments keyed
 * by index; a server that reuses index 0 for parallel calls tells them apart by a new id.
 * Content flows on as it comes. Tool call fragments are taken out of their chunk and held
 * until the choice's finish_reason (or [DONE], or the end), when each call is complete: it is
 * judged, and an allowed call goes to the client as one delta holding the whole call, with
 * its index renumbered among the calls that survive so that the SDKs' accumulators see
 * 0, 1, 2... A denied call is left out (or a content notice takes its place), and a
 * finish_reason "tool_calls" with no call left becomes "stop".
 */
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET cJSON_GetObjectItemCaseSensitive
#define MAX_CHOICES 1024

static const char *const k_tool_keys[] = {"tool_choice", "parallel_tool_calls", "function_call",
                                          NULL};

static enum engine_text_kind role_kind(const char *role)
{
    if (!strcmp(role, "system") || !strcmp(role, "developer"))
        return ENGINE_TEXT_SYSTEM;
    if (!strcmp(role, "assistant"))
        return ENGINE_TEXT_ASSISTANT;
    if (!strcmp(role, "tool") || !strcmp(role, "function"))
        return ENGINE_TEXT_TOOL_RESULT;
    return ENGINE_TEXT_USER; /* user, and any role a provider adds: still scanned */
}

/* A history tool call: {"name", "arguments"} (a tool_calls[].function or function_call). */
static int history_call(struct engine_request *rq, cJSON *fn, struct engine_reason *why,
                        const char *path)
{
    if (!cJSON_IsObject(fn))
        return format_bad(why, "%s must be an object with \"name\" and \"arguments\"", path);
    const char *name = format_str(fn, "name");
    cJSON *args = GET(fn, "arguments");
    if (!name)
        return format_bad(why, "%s.name must be a string", path);
    if (args && !cJSON_IsString(args))
        return format_bad(why, "%s.arguments must be a string of JSON", path);
    const char *a = args ? args->valuestring : "";
    if (format_add_call(rq, name, a, strlen(a), "%s", path) ||
        (args && format_add_text(rq, ENGINE_TEXT_TOOL_ARGS, args, "%s.arguments", path)))
        return -ENOMEM;
    return 0;
}

static int chat_message(struct engine_request *rq, cJSON *m, int i, struct engine_reason *why)
{
    char path[96];
    if (!cJSON_IsObject(m))
        return format_bad(why, "messages[%d] must be an object", i);
    const char *role = format_str(m, "role");
    if (!role)
        return format_bad(why, "messages[%d].role must be a string", i);
    enum engine_text_kind k = role_kind(role);
    if (k == ENGINE_TEXT_TOOL_RESULT) {
        /* "tool" answers a call by its id, the legacy "function" names its function */
        const char *name = role[0] == 'f' ? format_str(m, "name") : NULL;
        const char *cid = role[0] == 't' ? format_str(m, "tool_call_id") : NULL;
        if (!name && !cid)
            return format_bad(why, "messages[%d] (role %s) must name its %s", i, role,
                              role[0] == 't' ? "call in \"tool_call_id\"" : "function in \"name\"");
        if (format_add_result(rq, name, cid, "messages[%d]", i))
            return -ENOMEM;
    }
    cJSON *content = GET(m, "content");
    if (cJSON_IsString(content)) {
        if (format_add_text(rq, k, content, "messages[%d].content", i))
            return -ENOMEM;
    } else if (cJSON_IsArray(content)) {
        int j = 0;
        cJSON *part;
        cJSON_ArrayForEach(part, content)
        {
            if (!cJSON_IsObject(part))
                return format_bad(why, "messages[%d].content[%d] must be an object", i, j);
            const char *ptype = format_str(part, "type");
            if (ptype && !strcmp(ptype, "file"))
                format_add_opaque(rq, "a file part", "messages[%d].content[%d]", i, j);
            static const char *const keys[] = {"text", "refusal"};
            for (int q = 0; q < 2; q++) {
                cJSON *t = GET(part, keys[q]);
                if (!t)
                    continue;
                if (!cJSON_IsString(t))
                    return format_bad(why, "messages[%d].content[%d].%s must be a string", i, j,
                                      keys[q]);
                if (format_add_text(rq, k, t, "messages[%d].content[%d].%s", i, j, keys[q]))
                    return -ENOMEM;
            }
            j++;
        }
    } else if (content && !cJSON_IsNull(content)) {
        return format_bad(why,
                          "messages[%d].content must be a string, an array of parts or "
                          "null",
                          i);
    }
    cJSON *refusal = GET(m, "refusal");
    if (refusal && !cJSON_IsNull(refusal)) {
        if (!cJSON_IsString(refusal))
            return format_bad(why, "messages[%d].refusal must be a string", i);
        if (format_add_text(rq, k, refusal, "messages[%d].refusal", i))
            return -ENOMEM;
    }
    cJSON *tcs = GET(m, "tool_calls");
    if (tcs && !cJSON_IsNull(tcs)) {
        if (!cJSON_IsArray(tcs))
            return format_bad(why, "messages[%d].tool_calls must be an array", i);
        int j = 0, rc;
        cJSON *tc;
        cJSON_ArrayForEach(tc, tcs)
        {
            snprintf(path, sizeof path, "messages[%d].tool_calls[%d].function", i, j);
            if (!cJSON_IsObject(tc))
                return format_bad(why, "messages[%d].tool_calls[%d] must be an object", i, j);
            if ((rc = history_call(rq, GET(tc, "function"), why, path)) != 0)
                return rc;
            rq->calls[rq->n_calls - 1].id = format_str(tc, "id");
            j++;
        }
    }
    cJSON *fc = GET(m, "function_call");
    if (fc && !cJSON_IsNull(fc)) {
        snprintf(path, sizeof path, "messages[%d].function_call", i);
        int rc = history_call(rq, fc, why, path);
        if (rc)
            return rc;
    }
    return 0;
}

static int chat_inspect(struct engine_request *rq, struct engine_reason *why)
{
    cJSON *r = rq->root;
    int rc;
    if ((rc = format_model_stream(rq, 1, why)) != 0)
        return rc;
    cJSON *msgs = GET(r, "messages");
    if (!cJSON_IsArray(msgs))
        return format_bad(why, "\"messages\" must be an array of messages");
    int i = 0;
    cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if ((rc = chat_message(rq, m, i++, why)) != 0)
            return rc;
    }
    /* Predicted Outputs: text the model is handed to reuse */
    cJSON *pred = GET(r, "prediction");
    if (pred && !cJSON_IsNull(pred)) {
        if (!cJSON_IsObject(pred))
            return format_bad(why, "\"prediction\" must be an object");
        cJSON *pc = GET(pred, "content");
        if (cJSON_IsString(pc)) {
            if (format_add_text(rq, ENGINE_TEXT_ASSISTANT, pc, "prediction.content"))
                return -ENOMEM;
        } else if (cJSON_IsArray(pc)) {
            int j = 0;
            cJSON *part;
            cJSON_ArrayForEach(part, pc)
            {
                cJSON *t = GET(part, "text");
                if (!cJSON_IsObject(part) || (t && !cJSON_IsString(t)))
                    return format_bad(why, "prediction.content[%d] must be a text part", j);
                if (t &&
                    format_add_text(rq, ENGINE_TEXT_ASSISTANT, t, "prediction.content[%d].text", j))
                    return -ENOMEM;
                j++;
            }
        } else if (pc && !cJSON_IsNull(pc)) {
            return format_bad(why, "prediction.content must be a string or an array of parts");
        }
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
            const char *type = format_str(t, "type");
            const char *name = format_str(GET(t, "function"), "name");
            if (!name)
                name = format_str(GET(t, "custom"), "name");
            if (!name && type && !strcmp(type, "function"))
                return format_bad(why, "tools[%d].function.name must be a string", j);
            if (format_add_tool(rq, name ? name : type ? type : "", t, tools))
                return -ENOMEM;
            j++;
        }
    }
    cJSON *fns = GET(r, "functions");
    if (fns && !cJSON_IsNull(fns)) {
        if (!cJSON_IsArray(fns))
            return format_bad(why, "\"functions\" must be an array");
        int j = 0;
        cJSON *t;
        cJSON_ArrayForEach(t, fns)
        {
            const char *name = format_str(t, "name");
            if (!name)
                return format_bad(why, "functions[%d].name must be a string", j);
            if (format_add_tool(rq, name, t, fns))
                return -ENOMEM;
            j++;
        }
    }
    cJSON *tc = GET(r, "tool_choice");
    if (cJSON_IsString(tc)) {
        rq->tool_choice_required = !strcmp(tc->valuestring, "required");
    } else if (cJSON_IsObject(tc)) {
        const char *name = format_str(GET(tc, "function"), "name");
        if (!name)
            name = format_str(GET(tc, "custom"), "name");
        const char *mode = format_str(GET(tc, "allowed_tools"), "mode");
        if (name)
            rq->tool_choice_forced = name;
        else if (mode && !strcmp(mode, "required"))
            rq->tool_choice_required = 1;
        else if (!format_str(tc, "type"))
            return format_bad(why, "\"tool_choice\" names no tool");
    } else if (tc && !cJSON_IsNull(tc)) {
        return format_bad(why, "\"tool_choice\" must be a string or an object");
    }
    cJSON *fcall = GET(r, "function_call");
    if (cJSON_IsObject(fcall)) {
        const char *name = format_str(fcall, "name");
        if (!name)
            return format_bad(why, "\"function_call\" must name a function");
        if (!rq->tool_choice_forced)
            rq->tool_choice_forced = name;
    }
    return 0;
}

static char *chat_error_event(const struct engine_reason *why)
{
    char *e = format_openai_error(why);
    if (!e)
        return NULL;
    size_t n = strlen(e) + 9;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "data: %s\n\n", e);
    free(e);
    return s;
}

/* ---- complete responses ---- */

/* ---- the data stage's part (stage_data.c) ---- */

/* A complete message's texts (content, refusal, and any other string member but role). */
static int chat_data_message(struct engine_call *c, cJSON *msg, int ci)
{
    int changed = 0;
    if (!engine_data_stream_on(c))
        return 0;
    for (cJSON *k = msg->child; k; k = k->next) {
        if (!cJSON_IsString(k) || !strcmp(k->string, "role"))
            continue;
        char path[128];
        snprintf(path, sizeof path, "response.choices[%d].message.%.40s", ci, k->string);
        int rc = engine_data_node(c, DATA_DIR_RESPONSE, path, k, 1);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    cJSON *parts = GET(msg, "content");
    int j = 0;
    for (cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; p; p = p->next, j++) {
        char path[128];
        snprintf(path, sizeof path, "response.choices[%d].message.content[%d].text", ci, j);
        int rc = engine_data_node(c, DATA_DIR_RESPONSE, path, GET(p, "text"), 1);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    return changed;
}

/* A kept tool call's arguments (a string node of JSON), rewritten in place. */
static int chat_data_args(struct engine_call *c, const char *path, cJSON *node)
{
    if (!engine_data_stream_on(c) || !cJSON_IsString(node))
        return 0;
    char *s = NULL;
    int rc = engine_data_args(c, DATA_DIR_RESPONSE, path, node->valuestring,
                              strlen(node->valuestring), 1, &s);
    if (rc == 1 && !cJSON_SetValuestring(node, s))
        rc = -ENOMEM;
    free(s);
    return rc;
}

static int add_notice(cJSON *msg, const char *name, const struct engine_reason *why)
{
    char notice[ENGINE_MESSAGE_MAX + 160];
    engine_notice_text(name, why, notice, sizeof notice);
    const char *old = format_str(msg, "content");
    struct fbuf b = {0};
    if ((old && *old && (fbuf_put(&b, old, strlen(old)) || fbuf_put(&b, "\n", 1))) ||
        fbuf_put(&b, notice, strlen(notice))) {
        fbuf_free(&b);
        return -ENOMEM;
    }
    cJSON *s = cJSON_CreateString(b.p);
    fbuf_free(&b);
    if (!s)
        return -ENOMEM;
    if (GET(msg, "content"))
        cJSON_ReplaceItemInObjectCaseSensitive(msg, "content", s);
    else
        cJSON_AddItemToObject(msg, "content", s);
    return 0;
}

static int chat_response(struct engine_call *c, cJSON *root)
{
    int changed = 0;
    struct engine_reason why;
    format_usage(c, GET(root, "usage"), "prompt_tokens", "completion_tokens");
    cJSON *choices = GET(root, "choices");
    if (!choices)
        return 0;
    if (!cJSON_IsArray(choices))
        return ENGINE_ERR_MALFORMED;
    cJSON *ch;
    int ci = -1;
    cJSON_ArrayForEach(ch, choices)
    {
        ci++;
        cJSON *msg = GET(ch, "message");
        if (!cJSON_IsObject(msg))
            continue;
        int rc = chat_data_message(c, msg, ci);
        if (rc < 0)
            return rc;
        changed |= rc;
        const char *text = format_str(msg, "content");
        if (text)
            format_judge_text(c, text, strlen(text));
        int removed = 0, kept = 0, tj = 0;
        cJSON *tcs = GET(msg, "tool_calls");
        if (cJSON_IsArray(tcs)) {
            for (cJSON *tc = tcs->child, *next; tc; tc = next) {
                next = tc->next;
                cJSON *fn = GET(tc, "function");
                const char *name = format_str(fn, "name"), *args = format_str(fn, "arguments");
                if (format_judge_call(c, name, format_str(tc, "id"), args, args ? strlen(args) : 0,
                                      &why)) {
                    kept++;
                    char path[128];
                    snprintf(path, sizeof path,
                             "response.choices[%d].message.tool_calls[%d].function.arguments", ci,
                             tj++);
                    if ((rc = chat_data_args(c, path, GET(fn, "arguments"))) < 0)
                        return rc;
                    changed |= rc;
                    continue;
                }
                tj++;
                removed++;
                /* the notice first: name points into the call about to be freed */
                if (c->e->o.on_denied_call == ENGINE_CALL_NOTICE && add_notice(msg, name, &why))
                    return -ENOMEM;
                cJSON_Delete(cJSON_DetachItemViaPointer(tcs, tc));
            }
            if (!kept && removed)
                cJSON_DeleteItemFromObjectCaseSensitive(msg, "tool_calls");
        }
        cJSON *fc = GET(msg, "function_call");
        if (cJSON_IsObject(fc)) {
            const char *name = format_str(fc, "name"), *args = format_str(fc, "arguments");
            if (format_judge_call(c, name, NULL, args, args ? strlen(args) : 0, &why)) {
                kept++;
                char path[96];
                snprintf(path, sizeof path, "response.choices[%d].message.function_call.arguments",
                         ci);
                if ((rc = chat_data_args(c, path, GET(fc, "arguments"))) < 0)
                    return rc;
                changed |= rc;
            } else {
                removed++;
                if (c->e->o.on_denied_call == ENGINE_CALL_NOTICE && add_notice(msg, name, &why))
                    return -ENOMEM;
                cJSON_DeleteItemFromObjectCaseSensitive(msg, "function_call");
            }
        }
        if (removed) {
            changed = 1;
            const char *fr = format_str(ch, "finish_reason");
            if (!kept && fr && (!strcmp(fr, "tool_calls") || !strcmp(fr, "function_call")))
                cJSON_ReplaceItemInObjectCaseSensitive(ch, "finish_reason",
                                                       cJSON_CreateString("stop"));
        }
    }
    return changed;
}

/* ---- streams ---- */

struct slot {
    int choice, index, legacy, has_id, flushed;
    char *id;
    struct fbuf name, args;
};

struct chat_asm {
    struct slot *v;
    size_t n, cap;
    size_t held;
    cJSON *tmpl; /* the envelope of the last chunk that carried a tool call */
    int allowed[MAX_CHOICES], removed[MAX_CHOICES];
};

static void chat_free(void *p)
{
    struct chat_asm *a = p;
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].id);
        fbuf_free(&a->v[i].name);
        fbuf_free(&a->v[i].args);
    }
    free(a->v);
    cJSON_Delete(a->tmpl);
    free(a);
}

static cJSON *envelope(const cJSON *root)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (const cJSON *k = root ? root->child : NULL; k; k = k->next) {
        if (!strcmp(k->string, "choices") || !strcmp(k->string, "usage"))
            continue;
        cJSON *d = cJSON_Duplicate(k, 1);
        if (!d) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, k->string, d);
    }
    return o;
}

/* One chunk holding delta for choice: {"choices":[{"index":choice,"delta":delta,...}]}. */
static int emit_delta(struct engine_call *c, const cJSON *env, int choice, cJSON *delta)
{
    cJSON *o = envelope(env), *chs = cJSON_CreateArray(), *ch = cJSON_CreateObject();
    int rc = -ENOMEM;
    if (!o || !chs || !ch) {
        cJSON_Delete(delta);
        goto out;
    }
    cJSON_AddItemToObject(o, "choices", chs);
    cJSON_AddItemToArray(chs, ch);
    chs = NULL;
    cJSON_AddNumberToObject(ch, "index", choice);
    cJSON_AddItemToObject(ch, "delta", delta);
    cJSON_AddNullToObject(ch, "finish_reason");
    ch = NULL;
    rc = format_emit_event(c, NULL, o);
out:
    cJSON_Delete(chs);
    cJSON_Delete(ch);
    cJSON_Delete(o);
    return rc;
}

static int flush_slot(struct engine_call *c, struct chat_asm *a, struct slot *s, const cJSON *env)
{
    struct engine_reason why;
    s->flushed = 1;
    int ch = s->choice;
    int ok = format_judge_call(c, s->name.p, s->id, s->args.p, s->args.len, &why);
    ok ? a->allowed[ch]++ : a->removed[ch]++;
    if (ok && engine_data_stream_on(c)) { /* the whole arguments, held: scanned as one */
        char path[128], *args = NULL;
        if (s->legacy)
            snprintf(path, sizeof path, "response.choices[%d].delta.function_call.arguments", ch);
        else
            snprintf(path, sizeof path,
                     "response.choices[%d].delta.tool_calls[%d].function.arguments", ch,
                     a->allowed[ch] - 1);
        int rc = engine_data_args(c, DATA_DIR_RESPONSE, path, s->args.p, s->args.len, 1, &args);
        if (rc < 0)
            return rc;
        if (rc == 1 && !c->observe) {
            fbuf_free(&s->args);
            rc = fbuf_put(&s->args, args, strlen(args));
            free(args);
            args = NULL;
            if (rc)
                return rc;
        }
        free(args);
    }
    if (c->observe)
        return 0;
    cJSON *delta = cJSON_CreateObject();
    if (!delta)
        return -ENOMEM;
    if (!ok) {
        if (c->e->o.on_denied_call != ENGINE_CALL_NOTICE) {
            cJSON_Delete(delta);
            return 0;
        }
        char notice[ENGINE_MESSAGE_MAX + 160];
        engine_notice_text(s->name.p, &why, notice, sizeof notice);
        cJSON_AddStringToObject(delta, "content", notice);
        return emit_delta(c, env, ch, delta);
    }
    cJSON *fn = cJSON_CreateObject();
    if (!fn) {
        cJSON_Delete(delta);
        return -ENOMEM;
    }
    cJSON_AddStringToObject(fn, "name", s->name.p ? s->name.p : "");
    cJSON_AddStringToObject(fn, "arguments", s->args.p ? s->args.p : "");
    if (s->legacy) {
        cJSON_AddItemToObject(delta, "function_call", fn);
    } else {
        cJSON *arr = cJSON_AddArrayToObject(delta, "tool_calls"), *tc = cJSON_CreateObject();
        if (!arr || !tc) {
            cJSON_Delete(fn);
            cJSON_Delete(tc);
            cJSON_Delete(delta);
            return -ENOMEM;
        }
        cJSON_AddItemToArray(arr, tc);
        cJSON_AddNumberToObject(tc, "index", a->allowed[ch] - 1);
        if (s->has_id)
            cJSON_AddStringToObject(tc, "id", s->id);
        cJSON_AddStringToObject(tc, "type", "function");
        cJSON_AddItemToObject(tc, "function", fn);
    }
    return emit_delta(c, env, ch, delta);
}

/* Flush the held calls of one choice (choice < 0: of all). */
static int flush(struct engine_call *c, struct chat_asm *a, int choice, const cJSON *env)
{
    for (size_t i = 0; i < a->n; i++) {
        struct slot *s = &a->v[i];
        if (s->flushed || (choice >= 0 && s->choice != choice))
            continue;
        int rc = flush_slot(c, a, s, env ? env : a->tmpl);
        if (rc)
            return rc;
    }
    return 0;
}

static struct slot *new_slot(struct chat_asm *a, int choice, int index, int legacy)
{
    struct slot *s = NULL;
    for (size_t i = 0; i < a->n && !s; i++) /* a flushed slot is free again */
        if (a->v[i].flushed)
            s = &a->v[i];
    if (s) {
        free(s->id);
        fbuf_free(&s->name);
        fbuf_free(&s->args);
    } else {
        if (GROW(&a->v, &a->cap, a->n + 1))
            return NULL;
        s = &a->v[a->n++];
    }
    memset(s, 0, sizeof *s);
    a->held += sizeof *s; /* a stream of empty calls is bounded too */
    s->choice = choice;
    s->index = index;
    s->legacy = legacy;
    return s;
}

static struct slot *find_slot(struct chat_asm *a, int choice, int index, const char *id)
{
    if (id && *id)
        for (size_t i = a->n; i-- > 0;) {
            struct slot *s = &a->v[i];
            if (!s->flushed && s->choice == choice && s->has_id && !strcmp(s->id, id))
                return s;
        }
    for (size_t i = a->n; i-- > 0;) {
        struct slot *s = &a->v[i];
        if (s->flushed || s->choice != choice || s->index != index || s->legacy)
            continue;
        if (id && *id && s->has_id)
            break; /* index reused for a new call, told apart by its id */
        return s;
    }
    return NULL;
}

static int take(struct engine_call *c, struct chat_asm *a, struct slot *s, const cJSON *fn)
{
    const char *name = format_str(fn, "name"), *args = format_str(fn, "arguments");
    size_t nn = name ? strlen(name) : 0, an = args ? strlen(args) : 0;
    a->held += nn + an;
    if (a->held > c->e->o.max_held)
        return ENGINE_ERR_TOO_LARGE;
    if ((nn && fbuf_put(&s->name, name, nn)) || (an && fbuf_put(&s->args, args, an)))
        return -ENOMEM;
    return 0;
}

static int take_tool_calls(struct engine_call *c, struct chat_asm *a, int choice, cJSON *tcs)
{
    cJSON *tc;
    cJSON_ArrayForEach(tc, tcs)
    {
        cJSON *ix = GET(tc, "index");
        int index = cJSON_IsNumber(ix) ? ix->valueint : 0; /* cJSON saturates valueint */
        const char *id = format_str(tc, "id");
        struct slot *s = find_slot(a, choice, index, id);
        if (!s && !(s = new_slot(a, choice, index, 0)))
            return -ENOMEM;
        if (a->held > c->e->o.max_held)
            return ENGINE_ERR_TOO_LARGE;
        if (id && *id && !s->has_id) {
            if (!(s->id = strdup(id)))
                return -ENOMEM;
            s->has_id = 1;
        }
        int rc = take(c, a, s, GET(tc, "function"));
        if (rc)
            return rc;
    }
    return 0;
}

static int chunk_empty(const cJSON *root)
{
    const cJSON *u = GET(root, "usage");
    if (u && !cJSON_IsNull(u))
        return 0;
    const cJSON *ch;
    cJSON_ArrayForEach(ch, GET(root, "choices"))
    {
        const cJSON *d = GET(ch, "delta"), *fr = GET(ch, "finish_reason");
        const cJSON *lp = GET(ch, "logprobs");
        if ((d && d->child) || (fr && !cJSON_IsNull(fr)) || (lp && !cJSON_IsNull(lp)))
            return 0;
    }
    return 1;
}

/* ---- stream texts through the data stage's lanes ---- */

/* One string member of a choice's delta (content, refusal, ...): fed to its lane, and replaced
 * by what the lane releases (removed when nothing is released yet). */
static int chat_data_delta(struct engine_call *c, const cJSON *root, int choice, cJSON *delta,
                           int last, int *changed)
{
    for (cJSON *k = delta->child, *next; k; k = next) {
        next = k->next;
        if (!cJSON_IsString(k) || !strcmp(k->string, "role"))
            continue;
        char path[128];
        snprintf(path, sizeof path, "response.choices[%d].delta.%.40s", choice, k->string);
        struct data_lane *l = engine_data_lane(c, path, choice, 0);
        if (!l || (!l->env && !(l->env = envelope(root))))
            return -ENOMEM;
        struct data_buf out = {0};
        int rc = engine_data_feed(c, l, k->valuestring, strlen(k->valuestring), &out);
        if (!rc && last) /* the choice ends in this chunk: its text goes whole */
            rc = engine_data_end(c, l, &out);
        if (!rc && c->observe) {
            format_judge_text(c, k->valuestring, strlen(k->valuestring));
        } else if (!rc) {
            format_judge_text(c, out.p ? out.p : "", out.len);
            if (!out.len)
                cJSON_Delete(cJSON_DetachItemViaPointer(delta, k));
            else if (data_buf_put(&out, "", 1) || !cJSON_SetValuestring(k, out.p))
                rc = -ENOMEM;
            *changed = 1;
        }
        data_buf_free(&out);
        if (rc)
            return rc;
    }
    return 0;
}

/* End the lanes of one choice (choice < 0: of all) and emit what they held, each as one delta
 * in the shape of its choice's chunks. */
static int chat_data_end(struct engine_call *c, int choice)
{
    for (size_t i = 0; i < c->dc.n_lanes; i++) {
        struct data_lane *l = &c->dc.lanes[i];
        if (l->ended || (choice >= 0 && l->k0 != choice))
            continue;
        struct data_buf out = {0};
        int rc = engine_data_end(c, l, &out);
        if (!rc && out.len && !c->observe) {
            format_judge_text(c, out.p, out.len);
            cJSON *delta = cJSON_CreateObject();
            const char *member = strrchr(l->path, '.') + 1;
            if (!delta || data_buf_put(&out, "", 1) ||
                !cJSON_AddStringToObject(delta, member, out.p)) {
                cJSON_Delete(delta);
                rc = -ENOMEM;
            } else {
                rc = emit_delta(c, l->env, l->k0, delta);
            }
        }
        data_buf_free(&out);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * The budget stage asked for stream_options.include_usage on a client's behalf (the usage is
 * what the call is charged): the extra usage-only chunk ("choices": []) is not the client's,
 * so it is dropped (1), and a usage riding on a chunk with choices is taken off it (0, with
 * *changed). The "usage": null the upstream then adds to every other chunk is left as it is:
 * a client that reads usage reads null, as it would for a chunk without it.
 */
static int usage_chunk_strip(cJSON *root, int *changed)
{
    cJSON *u = GET(root, "usage");
    if (!u || cJSON_IsNull(u))
        return 0;
    cJSON *choices = GET(root, "choices");
    if (!choices || (cJSON_IsArray(choices) && !choices->child))
        return 1;
    cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
    *changed = 1;
    return 0;
}

static int chat_chunk(struct engine_call *c, struct chat_asm *a, const struct sse_event *ev,
                      cJSON *root)
{
    int rc, changed = 0;
    if (GET(root, "error")) {
        struct engine_event e = {.kind = ENGINE_EV_ERROR, .text = ev->data, .len = ev->data_len};
        struct engine_reason why;
        (void)engine_judge_event(c, &e, &why);
        return format_emit_raw(c, ev);
    }
    format_usage(c, GET(root, "usage"), "prompt_tokens", "completion_tokens");
    if (c->strip_usage && (rc = usage_chunk_strip(root, &changed)) != 0)
        return rc == 1 ? 0 : rc;
    cJSON *choices = GET(root, "choices"), *ch;
    if (choices && !cJSON_IsArray(choices))
        return format_unreadable(c, ev, "\"choices\" is not an array");
    cJSON_ArrayForEach(ch, choices)
    {
        cJSON *ix = GET(ch, "index");
        int choice = cJSON_IsNumber(ix) ? ix->valueint : 0;
        if (choice < 0 || choice >= MAX_CHOICES)
            return format_unreadable(c, ev, "a choice index out of range");
        cJSON *delta = GET(ch, "delta");
        int lanes = engine_data_stream_on(c);
        if (lanes) {
            cJSON *lp = GET(ch, "logprobs"); /* tokens of the text the lanes rewrite */
            if (!c->observe && lp && !cJSON_IsNull(lp)) {
                cJSON_ReplaceItemInObjectCaseSensitive(ch, "logprobs", cJSON_CreateNull());
                changed = 1;
            }
        }
        if (cJSON_IsObject(delta)) {
            const char *text = format_str(delta, "content");
            if (lanes) {
                if ((rc = chat_data_delta(c, root, choice, delta,
                                          format_str(ch, "finish_reason") != NULL, &changed)) != 0)
                    return rc;
            } else if (text) {
                format_judge_text(c, text, strlen(text));
            }
            cJSON *tcs = GET(delta, "tool_calls"), *fc = GET(delta, "function_call");
            if (tcs && !cJSON_IsNull(tcs)) {
                if (!cJSON_IsArray(tcs))
                    return format_unreadable(c, ev, "\"tool_calls\" is not an array");
                if ((rc = take_tool_calls(c, a, choice, tcs)) != 0)
                    return rc;
                cJSON_DeleteItemFromObjectCaseSensitive(delta, "tool_calls");
                changed = 1;
            }
            if (cJSON_IsObject(fc)) {
                struct slot *s = NULL;
                for (size_t i = a->n; i-- > 0 && !s;)
                    if (!a->v[i].flushed && a->v[i].choice == choice && a->v[i].legacy)
                        s = &a->v[i];
                if (!s && !(s = new_slot(a, choice, -1, 1)))
                    return -ENOMEM;
                if ((rc = take(c, a, s, fc)) != 0)
                    return rc;
                cJSON_DeleteItemFromObjectCaseSensitive(delta, "function_call");
                changed = 1;
            }
            if (changed && !c->observe) {
                cJSON_Delete(a->tmpl);
                if (!(a->tmpl = envelope(root)))
                    return -ENOMEM;
            }
        }
        const char *fr = format_str(ch, "finish_reason");
        if (fr) {
            if (lanes && (rc = chat_data_end(c, choice)) != 0)
                return rc;
            if ((rc = flush(c, a, choice, root)) != 0)
                return rc;
            if (!a->allowed[choice] && a->removed[choice] &&
                (!strcmp(fr, "tool_calls") || !strcmp(fr, "function_call"))) {
                cJSON_ReplaceItemInObjectCaseSensitive(ch, "finish_reason",
                                                       cJSON_CreateString("stop"));
                changed = 1;
            }
        }
    }
    if (c->observe || !changed)
        return format_emit_raw(c, ev);
    if (chunk_empty(root))
        return 0;
    return format_emit_event(c, NULL, root);
}

static int chat_block(struct engine_call *c, const struct sse_event *ev)
{
    struct chat_asm *a = c->asm_state;
    if (!a && !(a = c->asm_state = calloc(1, sizeof *a)))
        return -ENOMEM;
    if (!ev->dispatch)
        return format_emit_raw(c, ev);
    if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)) {
        int rc = engine_data_stream_on(c) ? chat_data_end(c, -1) : 0;
        if (!rc)
            rc = flush(c, a, -1, NULL);
        return rc ? rc : format_emit_raw(c, ev);
    }
    cJSON *root;
    int rc = format_event_object(c, ev, &root);
    if (rc != 1)
        return rc;
    rc = chat_chunk(c, a, ev, root);
    cJSON_Delete(root);
    return rc;
}

static int chat_end(struct engine_call *c)
{
    struct chat_asm *a = c->asm_state;
    int rc = a && engine_data_stream_on(c) ? chat_data_end(c, -1) : 0;
    return rc ? rc : a ? flush(c, a, -1, NULL) : 0;
}

const struct format_ops format_chat = {
    .fmt = ENGINE_CHAT,
    .endpoint = "/v1/chat/completions",
    .tool_keys = k_tool_keys,
    .inspect = chat_inspect,
    .error_body = format_openai_error,
    .error_event = chat_error_event,
    .response = chat_response,
    .stream_block = chat_block,
    .stream_end = chat_end,
    .stream_free = chat_free,
};
