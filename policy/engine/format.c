/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the four formats share: the validating pass every body goes through before cJSON
 * reads it, the builders the inspectors fill the request with, stripping a tool definition,
 * the OpenAI error object and SSE event printing.
 *
 * Why a pass of our own before cJSON: cJSON keeps the last of two members with one name
 * while a provider may keep the first (a model allowlist judged on one and served on the
 * other), it recurses without the bound we want, and it cuts a string at "\u0000", which
 * would hide the rest of that string from the data stage.
 */
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vp {
    const char *s;
    size_t n, i;
    int depth, max;
    char *err;
    size_t errlen;
};

static int vfail(struct vp *v, const char *what)
{
    snprintf(v->err, v->errlen, "%s at byte %zu", what, v->i);
    return ENGINE_ERR_MALFORMED;
}

static void ws(struct vp *v)
{
    while (v->i < v->n &&
           (v->s[v->i] == ' ' || v->s[v->i] == '\t' || v->s[v->i] == '\n' || v->s[v->i] == '\r'))
        v->i++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int v_string(struct vp *v)
{
    v->i++; /* the opening quote */
    while (v->i < v->n) {
        unsigned char c = (unsigned char)v->s[v->i];
        if (c == '"') {
            v->i++;
            return 0;
        }
        if (c < 0x20)
            return vfail(v, "control character in a string");
        if (c == '\\') {
            if (++v->i >= v->n)
                break;
            char e = v->s[v->i];
            if (e == 'u') {
                if (v->i + 4 >= v->n)
                    break;
                unsigned cp = 0;
                for (int k = 1; k <= 4; k++) {
                    int h = hexval(v->s[v->i + k]);
                    if (h < 0)
                        return vfail(v, "bad \\u escape");
                    cp = cp * 16 + (unsigned)h;
                }
                if (cp == 0)
                    return vfail(v, "\\u0000 in a string (refused: it would hide what follows)");
                v->i += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return vfail(v, "bad escape in a string");
        }
        v->i++;
    }
    return vfail(v, "unterminated string");
}

static int v_number(struct vp *v)
{
    size_t i = v->i;
    const char *s = v->s;
    if (i < v->n && s[i] == '-')
        i++;
    if (i < v->n && s[i] == '0')
        i++;
    else if (i < v->n && s[i] >= '1' && s[i] <= '9')
        while (i < v->n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return vfail(v, "bad number");
    if (i < v->n && s[i] == '.') {
        i++;
        if (!(i < v->n && s[i] >= '0' && s[i] <= '9'))
            return vfail(v, "bad number");
        while (i < v->n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < v->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < v->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!(i < v->n && s[i] >= '0' && s[i] <= '9'))
            return vfail(v, "bad number");
        while (i < v->n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    v->i = i;
    return 0;
}

static int v_word(struct vp *v, const char *w)
{
    size_t n = strlen(w);
    if (v->n - v->i < n || memcmp(v->s + v->i, w, n) != 0)
        return vfail(v, "unexpected character");
    v->i += n;
    return 0;
}

static int v_value(struct vp *v)
{
    int rc;
    ws(v);
    if (v->i >= v->n)
        return vfail(v, "unexpected end");
    char c = v->s[v->i];
    if (c == '{' || c == '[') {
        if (++v->depth > v->max) {
            snprintf(v->err, v->errlen, "nesting deeper than %d at byte %zu", v->max, v->i);
            return ENGINE_ERR_MALFORMED;
        }
        char close = c == '{' ? '}' : ']';
        v->i++;
        ws(v);
        if (v->i < v->n && v->s[v->i] == close) {
            v->i++;
            v->depth--;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                ws(v);
                if (v->i >= v->n || v->s[v->i] != '"')
                    return vfail(v, "expected a member name");
                if ((rc = v_string(v)) != 0)
                    return rc;
                ws(v);
                if (v->i >= v->n || v->s[v->i] != ':')
                    return vfail(v, "expected ':'");
                v->i++;
            }
            if ((rc = v_value(v)) != 0)
                return rc;
            ws(v);
            if (v->i >= v->n)
                return vfail(v, "unexpected end");
            if (v->s[v->i] == ',') {
                v->i++;
                continue;
            }
            if (v->s[v->i] == close) {
                v->i++;
                v->depth--;
                return 0;
            }
            return vfail(v, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"')
        return v_string(v);
    if (c == '-' || (c >= '0' && c <= '9'))
        return v_number(v);
    if (c == 't')
        return v_word(v, "true");
    if (c == 'f')
        return v_word(v, "false");
    if (c == 'n')
        return v_word(v, "null");
    return vfail(v, "unexpected character");
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0, 1 when an object holds one name twice (*dup set), -ENOMEM. */
static int find_dup(const cJSON *j, const char **dup)
{
    for (const cJSON *c = j->child; c; c = c->next)
        if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            int rc = find_dup(c, dup);
            if (rc)
                return rc;
        }
    if (!cJSON_IsObject(j))
        return 0;
    size_t n = 0;
    for (const cJSON *c = j->child; c; c = c->next)
        n++;
    if (n < 2)
        return 0;
    if (n <= 8) {
        for (const cJSON *a = j->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0) {
                    *dup = a->string;
                    return 1;
                }
        return 0;
    }
    const char **v = malloc(n * sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    for (const cJSON *c = j->child; c; c = c->next)
        v[k++] = c->string;
    qsort(v, n, sizeof *v, cmp_names);
    int rc = 0;
    for (k = 1; k < n && !rc; k++)
        if (strcmp(v[k - 1], v[k]) == 0) {
            *dup = v[k];
            rc = 1;
        }
    free(v);
    return rc;
}

int format_parse(const char *buf, size_t len, int max_depth, cJSON **out, char *err, size_t errlen)
{
    struct vp v = {.s = buf, .n = len, .max = max_depth, .err = err, .errlen = errlen};
    int rc = v_value(&v);
    if (rc)
        return rc;
    ws(&v);
    if (v.i != v.n)
        return vfail(&v, "text after the JSON value");
    cJSON *j = cJSON_ParseWithLength(buf, len);
    if (!j) {
        snprintf(err, errlen, "the JSON could not be read (out of memory?)");
        return -ENOMEM;
    }
    const char *dup = NULL;
    if ((rc = find_dup(j, &dup)) != 0) {
        if (rc == 1) {
            char q[80];
            snprintf(q, sizeof q, "%.64s", dup);
            snprintf(err, errlen,
                     "an object has two members named \"%s\" (each name may appear "
                     "once, or the proxy and the provider could read different values)",
                     q);
            rc = ENGINE_ERR_MALFORMED;
        }
        cJSON_Delete(j);
        return rc;
    }
    *out = j;
    return 0;
}

__attribute__((format(printf, 1, 0))) static char *vfmt(const char *fmt, va_list ap)
{
    char small[256];
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

int format_add_text(struct engine_request *rq, enum engine_text_kind k, cJSON *node,
                    const char *fmt, ...)
{
    if (!cJSON_IsString(node) || !node->valuestring)
        return 0;
    if (GROW(&rq->texts, &rq->cap_texts, rq->n_texts + 1))
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    char *path = vfmt(fmt, ap);
    va_end(ap);
    if (!path)
        return -ENOMEM;
    struct engine_text *t = &rq->texts[rq->n_texts++];
    memset(t, 0, sizeof *t);
    t->path = path;
    t->kind = k;
    t->node = node;
    t->text = node->valuestring;
    t->len = strlen(node->valuestring);
    return 0;
}

int format_add_owned_text(struct engine_request *rq, enum engine_text_kind k, char *owned,
                          const char *fmt, ...)
{
    if (!owned)
        return -ENOMEM;
    if (GROW(&rq->texts, &rq->cap_texts, rq->n_texts + 1)) {
        free(owned);
        return -ENOMEM;
    }
    va_list ap;
    va_start(ap, fmt);
    char *path = vfmt(fmt, ap);
    va_end(ap);
    if (!path) {
        free(owned);
        return -ENOMEM;
    }
    struct engine_text *t = &rq->texts[rq->n_texts++];
    memset(t, 0, sizeof *t);
    t->path = path;
    t->kind = k;
    t->owned = owned;
    t->text = owned;
    t->len = strlen(owned);
    return 0;
}

void format_add_opaque(struct engine_request *rq, const char *what, const char *fmt, ...)
{
    if (rq->opaque++)
        return;
    char path[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    snprintf(rq->opaque_at, sizeof rq->opaque_at, "%s at %s", what, path);
}

int format_add_tool(struct engine_request *rq, const char *name, cJSON *node, cJSON *array)
{
    if (GROW(&rq->tools, &rq->cap_tools, rq->n_tools + 1))
        return -ENOMEM;
    rq->tools[rq->n_tools++] = (struct engine_tool_def){name ? name : "", node, array};
    /* Its description and its schema's are text the model reads like a prompt: the data stage
     * scans the definition whole and rewrites it in place, unless the tools stage removed it
     * first (tool says which). */
    size_t at = 0;
    for (size_t i = 0; i + 1 < rq->n_tools; i++)
        at += rq->tools[i].array == array;
    int rc = format_add_owned_text(rq, ENGINE_TEXT_TOOL_DEF, cJSON_PrintUnformatted(node),
                                   "%s[%zu]", array->string ? array->string : "tools", at);
    if (rc)
        return rc;
    rq->texts[rq->n_texts - 1].src = node;
    rq->texts[rq->n_texts - 1].tool = rq->n_tools;
    return 0;
}

int format_add_call(struct engine_request *rq, const char *name, const char *args, size_t len,
                    const char *fmt, ...)
{
    if (GROW(&rq->calls, &rq->cap_calls, rq->n_calls + 1))
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    char *path = vfmt(fmt, ap);
    va_end(ap);
    char *a = malloc(len + 1);
    if (!path || !a) {
        free(path);
        free(a);
        return -ENOMEM;
    }
    memcpy(a, args, len);
    a[len] = '\0';
    rq->calls[rq->n_calls++] = (struct engine_tool_call){path, name ? name : "", a, len, NULL};
    return 0;
}

int format_add_result(struct engine_request *rq, const char *name, const char *call_id,
                      const char *fmt, ...)
{
    if (GROW(&rq->results, &rq->cap_results, rq->n_results + 1))
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    char *path = vfmt(fmt, ap);
    va_end(ap);
    if (!path)
        return -ENOMEM;
    rq->results[rq->n_results++] = (struct engine_tool_result){path, name, call_id, rq->n_calls};
    return 0;
}

void format_request_clear(struct engine_request *rq)
{
    for (size_t i = 0; i < rq->n_texts; i++) {
        free(rq->texts[i].path);
        free(rq->texts[i].owned);
    }
    for (size_t i = 0; i < rq->n_calls; i++) {
        free(rq->calls[i].path);
        free(rq->calls[i].args);
    }
    for (size_t i = 0; i < rq->n_results; i++)
        free(rq->results[i].path);
    free(rq->results);
    free(rq->texts);
    free(rq->calls);
    free(rq->tools);
    cJSON_Delete(rq->root);
    memset(rq, 0, sizeof *rq);
}

void format_strip_tool(struct engine_request *rq, size_t i)
{
    struct engine_tool_def *t = &rq->tools[i];
    if (!t->node)
        return;
    cJSON *arr = t->array;
    cJSON_Delete(cJSON_DetachItemViaPointer(arr, t->node));
    t->node = NULL;
    rq->changed = 1;
    if (cJSON_GetArraySize(arr) == 0)
        cJSON_Delete(cJSON_DetachItemViaPointer(rq->root, arr));
    for (size_t k = 0; k < rq->n_tools; k++)
        if (rq->tools[k].node)
            return;
    const struct format_ops *ops = format_ops_for(rq->fmt);
    for (const char *const *key = ops->tool_keys; key && *key; key++)
        cJSON_DeleteItemFromObjectCaseSensitive(rq->root, *key);
}

const char *format_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *openai_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    default:
        return "server_error";
    }
}

char *format_openai_error(const struct engine_reason *why)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    if (!e || !cJSON_AddStringToObject(e, "message", why->message) ||
        !cJSON_AddStringToObject(e, "type", openai_type(why->status)) ||
        !cJSON_AddNullToObject(e, "param") || !cJSON_AddStringToObject(e, "code", why->code)) {
        cJSON_Delete(o);
        return NULL;
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *format_sse_event(const char *event, const cJSON *data, size_t *len)
{
    char *d = cJSON_PrintUnformatted(data);
    if (!d)
        return NULL;
    size_t dn = strlen(d), en = event ? strlen(event) : 0;
    size_t n = (event ? 7 + en + 1 : 0) + 6 + dn + 2;
    char *s = malloc(n + 1);
    if (s) {
        if (event)
            snprintf(s, n + 1, "event: %s\ndata: %s\n\n", event, d);
        else
            snprintf(s, n + 1, "data: %s\n\n", d);
        *len = n;
    }
    free(d);
    return s;
}

const struct format_ops *format_ops_for(enum engine_format f)
{
    switch (f) {
    case ENGINE_CHAT:
        return &format_chat;
    case ENGINE_RESPONSES:
        return &format_responses;
    case ENGINE_MESSAGES:
        return &format_messages;
    case ENGINE_EMBEDDINGS:
        return &format_embeddings;
    default:
        return NULL;
    }
}

const char *engine_text_kind_name(enum engine_text_kind k)
{
    static const char *const n[] = {"system",      "user",  "assistant",      "tool_arguments",
                                    "tool_result", "input", "tool_definition"};
    return (unsigned)k < ENGINE_N_TEXT_KINDS ? n[k] : "?";
}

int fbuf_put(struct fbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2)
                return -ENOMEM;
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

void fbuf_free(struct fbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int format_emit_raw(struct engine_call *c, const struct sse_event *ev)
{
    return engine_emit(c, ev->raw, ev->raw_len);
}

int format_emit_event(struct engine_call *c, const char *event, const cJSON *data)
{
    size_t n = 0;
    char *s = format_sse_event(event, data, &n);
    if (!s)
        return -ENOMEM;
    int rc = engine_emit(c, s, n);
    free(s);
    return rc;
}

int format_unreadable(struct engine_call *c, const struct sse_event *ev, const char *what)
{
    struct engine_reason why;
    reason_set(&why, 502, "cordon.upstream_stream",
               "an event of the upstream's stream could not be read (%s); it was dropped, as "
               "it could carry a tool call",
               what);
    engine_record_response(c, ENGINE_STAGE_TOOLS, ENGINE_REFUSE, &why);
    return c->observe ? format_emit_raw(c, ev) : 0;
}

int format_event_object(struct engine_call *c, const struct sse_event *ev, cJSON **root)
{
    char err[160];
    *root = NULL;
    int rc = format_parse(ev->data, ev->data_len, ENGINE_MAX_DEPTH, root, err, sizeof err);
    if (rc == -ENOMEM)
        return rc;
    if (rc || !cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return format_unreadable(c, ev, rc ? err : "not a JSON object");
    }
    return 1;
}

int format_bad(struct engine_reason *why, const char *fmt, ...)
{
    char m[ENGINE_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    reason_set(why, 400, "cordon.malformed", "%s", m);
    return ENGINE_ERR_MALFORMED;
}

int format_model_stream(struct engine_request *rq, int streams, struct engine_reason *why)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(rq->root, "model");
    if (!cJSON_IsString(v))
        return format_bad(why, "\"model\" must be a string naming the model to call");
    rq->model = v->valuestring;
    if (!streams)
        return 0;
    v = cJSON_GetObjectItemCaseSensitive(rq->root, "stream");
    if (v && !cJSON_IsBool(v) && !cJSON_IsNull(v))
        return format_bad(why, "\"stream\" must be true or false");
    rq->stream = cJSON_IsTrue(v);
    return 0;
}

/* A usage count, or UINT64_MAX when absent or not a count. */
static uint64_t usage_count(const cJSON *v)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e18)
        return (uint64_t)v->valuedouble;
    return UINT64_MAX;
}

/* The priced details each API reports in its own place (format.h, struct engine_event). */
static void usage_details(const cJSON *usage, struct engine_event *ev)
{
    static const char *const cached[][2] = {{"prompt_tokens_details", "cached_tokens"},
                                            {"input_tokens_details", "cached_tokens"}};
    static const char *const reasoning[][2] = {{"completion_tokens_details", "reasoning_tokens"},
                                               {"output_tokens_details", "reasoning_tokens"}};
    for (int k = 0; k < 2; k++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(usage, cached[k][0]);
        uint64_t n = usage_count(cJSON_GetObjectItemCaseSensitive(d, cached[k][1]));
        if (n != UINT64_MAX)
            ev->cached_tokens = n;
        d = cJSON_GetObjectItemCaseSensitive(usage, reasoning[k][0]);
        n = usage_count(cJSON_GetObjectItemCaseSensitive(d, reasoning[k][1]));
        if (n != UINT64_MAX)
            ev->reasoning_tokens = n;
    }
    uint64_t n = usage_count(cJSON_GetObjectItemCaseSensitive(usage, "cache_read_input_tokens"));
    if (n != UINT64_MAX)
        ev->cached_tokens = n;
    n = usage_count(cJSON_GetObjectItemCaseSensitive(usage, "cache_creation_input_tokens"));
    if (n != UINT64_MAX)
        ev->cache_write_tokens = n;
}

void format_usage(struct engine_call *c, const cJSON *usage, const char *in_key,
                  const char *out_key)
{
    if (!cJSON_IsObject(usage))
        return;
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(usage, in_key);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(usage, out_key);
    struct engine_event ev = {.kind = ENGINE_EV_USAGE,
                              .in_tokens = UINT64_MAX,
                              .out_tokens = UINT64_MAX,
                              .cached_tokens = UINT64_MAX,
                              .reasoning_tokens = UINT64_MAX,
                              .cache_write_tokens = UINT64_MAX};
    if (cJSON_IsNumber(i) && i->valuedouble >= 0 && i->valuedouble < 1e18)
        ev.in_tokens = (uint64_t)i->valuedouble;
    if (cJSON_IsNumber(o) && o->valuedouble >= 0 && o->valuedouble < 1e18)
        ev.out_tokens = (uint64_t)o->valuedouble;
    usage_details(usage, &ev);
    struct engine_reason why;
    (void)engine_judge_event(c, &ev, &why);
}

/* Judge one complete tool call; 1 allowed, 0 denied (why set). */
int format_judge_call(struct engine_call *c, const char *name, const char *id, const char *args,
                      size_t len, struct engine_reason *why)
{
    struct engine_event ev = {.kind = ENGINE_EV_TOOL_CALL,
                              .name = name ? name : "",
                              .id = id,
                              .args = args ? args : "",
                              .args_len = args ? len : 0};
    memset(why, 0, sizeof *why);
    int ok = engine_judge_event(c, &ev, why) != ENGINE_REFUSE;
    engine_note_tool(c, ev.name, ok, why, ev.args, ev.args_len);
    return ok;
}

void format_judge_text(struct engine_call *c, const char *s, size_t n)
{
    struct engine_event ev = {.kind = ENGINE_EV_TEXT, .text = s, .len = n};
    struct engine_reason why;
    engine_keep_text(c, s, n);
    (void)engine_judge_event(c, &ev, &why);
}
