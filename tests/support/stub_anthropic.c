/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Anthropic Messages wire format of the stub upstream: the message object, its stream of
 * named events (message_start with the input usage, content_block_start for text or
 * tool_use, a ping, content_block_delta with text_delta or input_json_delta, content_block_stop,
 * message_delta with stop_reason and output usage, message_stop), the error event and the
 * error body. Each plan item is one content block.
 */
#include "tests/support/stub.h"

#include <cjson/cJSON.h>
#include <string.h>

static const char *stop_reason(const struct plan *pl)
{
    if (pl->finish_length)
        return "max_tokens";
    for (int i = 0; i < pl->nitems; i++)
        if (pl->items[i].kind == IT_TOOL)
            return "tool_use";
    return "end_turn";
}

static long long nonneg(long long v)
{
    return v > 0 ? v : 0;
}

/* The usage object; start: as message_start has it (output_tokens not yet known). */
static void usage_json(struct resp *r, struct sbuf *b, int start)
{
    const struct plan *pl = r->pl;
    long long in, out;
    plan_usage(pl, r->rq, &in, &out);
    sbuf_printf(b,
                "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"
                "\"cache_read_input_tokens\":%lld,\"output_tokens\":%lld",
                in, nonneg(pl->cache_create_tok), nonneg(pl->cached_tok), start ? 1 : out);
    if (start)
        sbuf_puts(b, ",\"service_tier\":\"standard\"");
    sbuf_put(b, "}", 1);
}

static void tool_id(struct resp *r, struct sbuf *b, int i)
{
    const struct item *it = &r->pl->items[i];
    if (it->id_len) {
        sbuf_json(b, r->pl->arena.p + it->id_off, it->id_len);
        return;
    }
    sbuf_put(b, "\"", 1);
    resp_id(r, b, "toolu_", i);
    sbuf_put(b, "\"", 1);
}

static void message_head(struct resp *r, struct sbuf *b)
{
    sbuf_puts(b, "{\"id\":");
    sbuf_json_str(b, r->id);
    sbuf_puts(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    sbuf_json_str(b, r->pl->model);
}

static void ev_open(struct resp *r, const char *type)
{
    resp_begin_event(r, type);
    sbuf_printf(&r->ev, "{\"type\":\"%s\"", type);
}

static void ev_close(struct resp *r)
{
    sbuf_put(&r->ev, "}", 1);
    resp_end_event(r);
}

static void ms_ping(struct resp *r)
{
    ev_open(r, "ping");
    ev_close(r);
}

static void ms_start(struct resp *r)
{
    ev_open(r, "message_start");
    sbuf_puts(&r->ev, ",\"message\":");
    message_head(r, &r->ev);
    sbuf_puts(&r->ev, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
    usage_json(r, &r->ev, 1);
    sbuf_put(&r->ev, "}", 1);
    ev_close(r);
    if (r->pl->nitems == 0)
        ms_ping(r);
}

static void ms_item_start(struct resp *r, int i)
{
    const struct item *it = &r->pl->items[i];
    ev_open(r, "content_block_start");
    sbuf_printf(&r->ev, ",\"index\":%d,\"content_block\":", i);
    if (it->kind == IT_TEXT) {
        sbuf_puts(&r->ev, "{\"type\":\"text\",\"text\":\"\"}");
    } else {
        sbuf_puts(&r->ev, "{\"type\":\"tool_use\",\"id\":");
        tool_id(r, &r->ev, i);
        sbuf_puts(&r->ev, ",\"name\":");
        sbuf_json(&r->ev, r->pl->arena.p + it->name_off, it->name_len);
        sbuf_puts(&r->ev, ",\"input\":{}}");
    }
    ev_close(r);
    if (i == 0)
        ms_ping(r); /* where the service sends its first ping */
}

static void ms_delta(struct resp *r, int i, uint64_t off, size_t n)
{
    int text = r->pl->items[i].kind == IT_TEXT;
    ev_open(r, "content_block_delta");
    sbuf_printf(&r->ev, ",\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":", i,
                text ? "text_delta" : "input_json_delta", text ? "text" : "partial_json");
    resp_item_json(r, &r->ev, i, off, n);
    sbuf_put(&r->ev, "}", 1);
    ev_close(r);
}

static void ms_item_end(struct resp *r, int i)
{
    ev_open(r, "content_block_stop");
    sbuf_printf(&r->ev, ",\"index\":%d", i);
    ev_close(r);
}

static void ms_finish(struct resp *r)
{
    ev_open(r, "message_delta");
    sbuf_puts(&r->ev, ",\"delta\":{\"stop_reason\":");
    sbuf_json_str(&r->ev, stop_reason(r->pl));
    sbuf_puts(&r->ev, ",\"stop_sequence\":null},\"usage\":");
    usage_json(r, &r->ev, 0);
    ev_close(r);
    ev_open(r, "message_stop");
    sbuf_put(&r->ev, "}", 1);
    resp_last_event(r);
}

static void ms_error(struct resp *r)
{
    const struct plan *pl = r->pl;
    resp_begin_event(r, "error");
    sbuf_puts(&r->ev, "{\"type\":\"error\",\"error\":{\"type\":");
    sbuf_json_str(&r->ev, pl->err_type[0] ? pl->err_type : "overloaded_error");
    sbuf_puts(&r->ev, ",\"message\":");
    sbuf_json(&r->ev, pl->arena.p + pl->msg_off, pl->msg_len);
    sbuf_puts(&r->ev, "},\"request_id\":");
    sbuf_printf(&r->ev, "\"req_%016llx\"}", (unsigned long long)r->reqno);
    resp_end_event(r);
}

static void ms_whole(struct resp *r, struct sbuf *b)
{
    const struct plan *pl = r->pl;
    message_head(r, b);
    sbuf_puts(b, ",\"content\":[");
    for (int i = 0; i < pl->nitems; i++) {
        const struct item *it = &pl->items[i];
        if (i)
            sbuf_put(b, ",", 1);
        if (it->kind == IT_TEXT) {
            sbuf_puts(b, "{\"type\":\"text\",\"text\":");
            resp_item_json(r, b, i, 0, item_len(it));
            sbuf_put(b, "}", 1);
            continue;
        }
        sbuf_puts(b, "{\"type\":\"tool_use\",\"id\":");
        tool_id(r, b, i);
        sbuf_puts(b, ",\"name\":");
        sbuf_json(b, pl->arena.p + it->name_off, it->name_len);
        sbuf_puts(b, ",\"input\":");
        /* input is an object on this API; arguments that are not one (tool_malformed) go as
         * the JSON string of their text, which a client must refuse as well */
        cJSON *j = cJSON_ParseWithLength(pl->arena.p + it->off, it->len);
        if (cJSON_IsObject(j))
            sbuf_put(b, pl->arena.p + it->off, it->len);
        else
            resp_item_json(r, b, i, 0, it->len);
        cJSON_Delete(j);
        sbuf_put(b, "}", 1);
    }
    sbuf_puts(b, "],\"stop_reason\":");
    sbuf_json_str(b, stop_reason(pl));
    sbuf_puts(b, ",\"stop_sequence\":null,\"usage\":");
    usage_json(r, b, 0);
    sbuf_put(b, "}", 1);
}

const struct fmt fmt_messages = {ms_start,  ms_item_start, ms_delta, ms_item_end,
                                 ms_finish, ms_error,      ms_ping,  ms_whole};

void anth_error_body(struct sbuf *b, int status, const char *type, const char *msg, size_t msglen,
                     uint64_t reqno)
{
    const char *dtype = "invalid_request_error", *dmsg = "The request is invalid.";
    switch (status) {
    case 401:
        dtype = "authentication_error";
        dmsg = "invalid x-api-key";
        break;
    case 403:
        dtype = "permission_error";
        dmsg = "Your API key does not have permission.";
        break;
    case 404:
        dtype = "not_found_error";
        dmsg = "The requested resource was not found.";
        break;
    case 413:
        dtype = "request_too_large";
        dmsg = "Request exceeds the maximum size.";
        break;
    case 429:
        dtype = "rate_limit_error";
        dmsg = "Number of requests has exceeded your rate limit.";
        break;
    case 529:
        dtype = "overloaded_error";
        dmsg = "Overloaded";
        break;
    default:
        if (status >= 500) {
            dtype = "api_error";
            dmsg = "Internal server error";
        }
    }
    sbuf_puts(b, "{\"type\":\"error\",\"error\":{\"type\":");
    sbuf_json_str(b, type ? type : dtype);
    sbuf_puts(b, ",\"message\":");
    if (msg)
        sbuf_json(b, msg, msglen);
    else
        sbuf_json_str(b, dmsg);
    sbuf_printf(b, "},\"request_id\":\"req_%016llx\"}", (unsigned long long)reqno);
}
