/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenAI wire formats of the stub upstream, as the official clients parse them: Chat
 * Completions (the chat.completion object, and chat.completion.chunk events as bare "data:"
 * lines ending in "data: [DONE]", with tool_calls deltas, finish_reason and the usage-only
 * final chunk when stream_options.include_usage is set), Embeddings (floats, or base64 of
 * little-endian float32), the model list and the error body. The Responses API is in
 * stub_responses.c. The model list serves Anthropic's shape too, chosen by the request's
 * provider.
 */
#include "tests/support/stub.h"

#include <sodium.h>
#include <string.h>

static void usage_json(struct resp *r, struct sbuf *b)
{
    const struct plan *pl = r->pl;
    long long in, out;
    plan_usage(pl, r->rq, &in, &out);
    sbuf_printf(b,
                "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
                "\"prompt_tokens_details\":{\"cached_tokens\":%lld,\"audio_tokens\":0},"
                "\"completion_tokens_details\":{\"reasoning_tokens\":%lld,\"audio_tokens\":0,"
                "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
                in, out, in + out, pl->cached_tok > 0 ? pl->cached_tok : 0,
                pl->reason_tok > 0 ? pl->reason_tok : 0);
}

static int has_tools(const struct plan *pl)
{
    for (int i = 0; i < pl->nitems; i++)
        if (pl->items[i].kind == IT_TOOL)
            return 1;
    return 0;
}

static const char *finish_reason(const struct plan *pl)
{
    return pl->finish_length ? "length" : has_tools(pl) ? "tool_calls" : "stop";
}

/* A tool call's id: id= of the scenario, else call_<request>_<i>. */
static void call_id(struct resp *r, struct sbuf *b, int i)
{
    const struct item *it = &r->pl->items[i];
    if (it->id_len) {
        sbuf_json(b, r->pl->arena.p + it->id_off, it->id_len);
        return;
    }
    sbuf_put(b, "\"", 1);
    resp_id(r, b, "call_", i);
    sbuf_put(b, "\"", 1);
}

static void chunk_begin(struct resp *r)
{
    resp_begin_event(r, NULL);
    sbuf_puts(&r->ev, "{\"id\":");
    sbuf_json_str(&r->ev, r->id);
    sbuf_printf(&r->ev,
                ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":", r->created);
    sbuf_json_str(&r->ev, r->pl->model);
    sbuf_puts(&r->ev, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_stub\","
                      "\"choices\":[");
}

static void chunk_end(struct resp *r)
{
    sbuf_puts(&r->ev, "]");
    if (r->rq->include_usage)
        sbuf_puts(&r->ev, ",\"usage\":null");
    sbuf_puts(&r->ev, "}");
    resp_end_event(r);
}

/* One chunk whose choice has the delta written by the caller between begin and end. */
static void choice_begin(struct resp *r)
{
    chunk_begin(r);
    sbuf_puts(&r->ev, "{\"index\":0,\"delta\":");
}

static void choice_end(struct resp *r, const char *finish)
{
    sbuf_puts(&r->ev, ",\"logprobs\":null,\"finish_reason\":");
    sbuf_json_str(&r->ev, finish);
    sbuf_puts(&r->ev, "}");
    chunk_end(r);
}

static void chat_start(struct resp *r)
{
    int text_first = r->pl->nitems > 0 && r->pl->items[0].kind == IT_TEXT;
    choice_begin(r);
    sbuf_printf(&r->ev, "{\"role\":\"assistant\",\"content\":%s,\"refusal\":null}",
                text_first ? "\"\"" : "null");
    choice_end(r, NULL);
}

static void chat_item_start(struct resp *r, int i)
{
    const struct item *it = &r->pl->items[i];
    if (it->kind != IT_TOOL)
        return;
    const char *name = r->pl->arena.p + it->name_off;
    size_t first = it->split_name && it->name_len > 1 ? 1 : it->name_len;
    choice_begin(r);
    sbuf_printf(&r->ev, "{\"tool_calls\":[{\"index\":%d,\"id\":", it->index);
    call_id(r, &r->ev, i);
    sbuf_puts(&r->ev, ",\"type\":\"function\",\"function\":{\"name\":");
    sbuf_json(&r->ev, name, first);
    sbuf_puts(&r->ev, ",\"arguments\":\"\"}}]}");
    choice_end(r, NULL);
    /* split_name: the rest of the name one byte per event, as some compatible servers do */
    for (size_t k = first; k < it->name_len; k++) {
        choice_begin(r);
        sbuf_printf(&r->ev, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"name\":", it->index);
        sbuf_json(&r->ev, name + k, 1);
        sbuf_puts(&r->ev, "}}]}");
        choice_end(r, NULL);
    }
}

static void chat_delta(struct resp *r, int i, uint64_t off, size_t n)
{
    const struct item *it = &r->pl->items[i];
    choice_begin(r);
    if (it->kind == IT_TEXT) {
        sbuf_puts(&r->ev, "{\"content\":");
        resp_item_json(r, &r->ev, i, off, n);
        sbuf_puts(&r->ev, "}");
    } else {
        sbuf_printf(&r->ev,
                    "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":", it->index);
        resp_item_json(r, &r->ev, i, off, n);
        sbuf_puts(&r->ev, "}}]}");
    }
    choice_end(r, NULL);
}

static void chat_item_end(struct resp *r, int i)
{
    (void)r;
    (void)i;
}

static void chat_finish(struct resp *r)
{
    choice_begin(r);
    sbuf_puts(&r->ev, "{}");
    choice_end(r, finish_reason(r->pl));
    if (r->rq->include_usage) {
        chunk_begin(r);
        sbuf_puts(&r->ev, "],\"usage\":");
        usage_json(r, &r->ev);
        sbuf_puts(&r->ev, "}");
        resp_end_event(r);
    }
    resp_begin_event(r, NULL);
    sbuf_puts(&r->ev, "[DONE]");
    resp_last_event(r);
}

static void chat_error(struct resp *r)
{
    const struct plan *pl = r->pl;
    resp_begin_event(r, NULL);
    sbuf_puts(&r->ev, "{\"error\":{\"message\":");
    sbuf_json(&r->ev, pl->arena.p + pl->msg_off, pl->msg_len);
    sbuf_puts(&r->ev, ",\"type\":");
    sbuf_json_str(&r->ev, pl->err_type[0] ? pl->err_type : "server_error");
    sbuf_puts(&r->ev, ",\"param\":null,\"code\":null}}");
    resp_end_event(r);
}

static void sse_comment(struct resp *r)
{
    /* OpenAI streams have no ping event; a comment line is what SSE readers must skip */
    sbuf_puts(&r->ev, ": ping\n\n");
    resp_event(r);
}

static void chat_whole(struct resp *r, struct sbuf *b)
{
    const struct plan *pl = r->pl;
    sbuf_puts(b, "{\"id\":");
    sbuf_json_str(b, r->id);
    sbuf_printf(b, ",\"object\":\"chat.completion\",\"created\":%lld,\"model\":", r->created);
    sbuf_json_str(b, pl->model);
    sbuf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    int ntext = 0;
    for (int i = 0; i < pl->nitems; i++)
        ntext += pl->items[i].kind == IT_TEXT;
    if (ntext == 0) {
        sbuf_puts(b, "null");
    } else {
        /* the texts as one JSON string: write each, then join by dropping the inner quotes */
        sbuf_put(b, "\"", 1);
        for (int i = 0; i < pl->nitems; i++) {
            if (pl->items[i].kind != IT_TEXT)
                continue;
            size_t at = b->len;
            resp_item_json(r, b, i, 0, item_len(&pl->items[i]));
            if (b->oom)
                return;
            memmove(b->p + at, b->p + at + 1, b->len - at - 2);
            b->len -= 2;
        }
        sbuf_put(b, "\"", 1);
    }
    sbuf_puts(b, ",\"refusal\":null,\"annotations\":[]");
    if (has_tools(pl)) {
        sbuf_puts(b, ",\"tool_calls\":[");
        int first = 1;
        for (int i = 0; i < pl->nitems; i++) {
            const struct item *it = &pl->items[i];
            if (it->kind != IT_TOOL)
                continue;
            sbuf_puts(b, first ? "{\"id\":" : ",{\"id\":");
            first = 0;
            call_id(r, b, i);
            sbuf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
            sbuf_json(b, pl->arena.p + it->name_off, it->name_len);
            sbuf_puts(b, ",\"arguments\":");
            resp_item_json(r, b, i, 0, it->len);
            sbuf_puts(b, "}}");
        }
        sbuf_puts(b, "]");
    }
    sbuf_puts(b, "},\"logprobs\":null,\"finish_reason\":");
    sbuf_json_str(b, finish_reason(pl));
    sbuf_puts(b, "}],\"usage\":");
    usage_json(r, b);
    sbuf_puts(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_stub\"}");
}

const struct fmt fmt_chat = {chat_start,  chat_item_start, chat_delta,  chat_item_end,
                             chat_finish, chat_error,      sse_comment, chat_whole};

/* Component d of input k's vector: a multiple of 1/256 in [-1, 1], so that a float32 holds
 * it exactly and the float and base64 encodings of one input decode to equal numbers. */
static float emb_value(const struct apireq *rq, int k, int d)
{
    uint64_t x = rq->emb_seed[k] + 0x9e3779b97f4a7c15ull * (uint64_t)(d + 1);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (float)((int)(x % 513) - 256) / 256.0f;
}

void openai_embeddings(const struct apireq *rq, const struct plan *pl, struct sbuf *b)
{
    long long in = pl->in_tok >= 0 ? pl->in_tok : (long long)(rq->text.len / 4 + 1);
    unsigned char raw[STUB_EMB_MAX_DIMS * 4];
    char b64[sizeof raw * 4 / 3 + 8];
    sbuf_puts(b, "{\"object\":\"list\",\"data\":[");
    for (int k = 0; k < rq->emb_n; k++) {
        sbuf_printf(b, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", k ? "," : "", k);
        if (rq->emb_base64) {
            for (int d = 0; d < rq->emb_dims; d++) {
                float v = emb_value(rq, k, d);
                uint32_t u;
                memcpy(&u, &v, 4);
                for (int j = 0; j < 4; j++)
                    raw[d * 4 + j] = (unsigned char)(u >> (8 * j)); /* little-endian */
            }
            sodium_bin2base64(b64, sizeof b64, raw, (size_t)rq->emb_dims * 4,
                              sodium_base64_VARIANT_ORIGINAL);
            sbuf_json_str(b, b64);
        } else {
            sbuf_put(b, "[", 1);
            for (int d = 0; d < rq->emb_dims; d++)
                sbuf_printf(b, "%s%.9g", d ? "," : "", (double)emb_value(rq, k, d));
            sbuf_put(b, "]", 1);
        }
        sbuf_put(b, "}", 1);
    }
    sbuf_puts(b, "],\"model\":");
    sbuf_json_str(b, pl->model);
    sbuf_printf(b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}", in, in);
}

static void one_model(const struct apireq *rq, struct sbuf *b, const char *id)
{
    if (rq->prov == PROV_ANTHROPIC) {
        sbuf_puts(b, "{\"type\":\"model\",\"id\":");
        sbuf_json_str(b, id);
        sbuf_puts(b, ",\"display_name\":");
        sbuf_json_str(b, id);
        sbuf_puts(b, ",\"created_at\":\"2025-01-01T00:00:00Z\"}");
    } else {
        sbuf_puts(b, "{\"id\":");
        sbuf_json_str(b, id);
        sbuf_puts(b, ",\"object\":\"model\",\"created\":1735689600,\"owned_by\":\"stub\"}");
    }
}

void stub_models(const struct apireq *rq, struct sbuf *b)
{
    if (rq->api == API_MODEL) {
        for (int i = 0; i < stub_model_count; i++)
            if (strcmp(stub_model_ids[i], rq->model_id) == 0)
                one_model(rq, b, stub_model_ids[i]);
        return; /* empty: the caller answers 404 */
    }
    sbuf_puts(b, rq->prov == PROV_ANTHROPIC ? "{\"data\":[" : "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < stub_model_count; i++) {
        if (i)
            sbuf_put(b, ",", 1);
        one_model(rq, b, stub_model_ids[i]);
    }
    sbuf_put(b, "]", 1);
    if (rq->prov == PROV_ANTHROPIC && stub_model_count > 0) {
        sbuf_puts(b, ",\"has_more\":false,\"first_id\":");
        sbuf_json_str(b, stub_model_ids[0]);
        sbuf_puts(b, ",\"last_id\":");
        sbuf_json_str(b, stub_model_ids[stub_model_count - 1]);
    } else if (rq->prov == PROV_ANTHROPIC) {
        sbuf_puts(b, ",\"has_more\":false,\"first_id\":null,\"last_id\":null");
    }
    sbuf_put(b, "}", 1);
}

void openai_error_body(struct sbuf *b, int status, const char *type, const char *msg, size_t msglen)
{
    const char *dtype = "invalid_request_error", *code = NULL, *dmsg = "The request is invalid.";
    switch (status) {
    case 401:
        code = "invalid_api_key";
        dmsg = "Incorrect API key provided.";
        break;
    case 403:
        dtype = "permission_denied";
        dmsg = "You are not allowed to make this request.";
        break;
    case 404:
        code = "not_found";
        dmsg = "The requested resource does not exist.";
        break;
    case 413:
        code = "request_too_large";
        dmsg = "The request body is too large.";
        break;
    case 429:
        dtype = "requests";
        code = "rate_limit_exceeded";
        dmsg = "Rate limit reached for requests.";
        break;
    default:
        if (status >= 500) {
            dtype = "server_error";
            dmsg = "The server had an error while processing your request.";
        }
    }
    sbuf_puts(b, "{\"error\":{\"message\":");
    if (msg)
        sbuf_json(b, msg, msglen);
    else
        sbuf_json_str(b, dmsg);
    sbuf_puts(b, ",\"type\":");
    sbuf_json_str(b, type ? type : dtype);
    sbuf_puts(b, ",\"param\":null,\"code\":");
    sbuf_json_str(b, code);
    sbuf_puts(b, "}}");
}
