/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenAI Responses API wire format of the stub upstream: the response object, and its
 * stream of named events ("event:" line plus "data:" with type and sequence_number, no
 * [DONE]): response.created, response.in_progress, then per output item
 * response.output_item.added, the content part or function call argument events and
 * response.output_item.done, and last response.completed (or response.incomplete) carrying
 * the whole output and the usage. Each plan item is one output item: a message with one
 * output_text part, or a function_call.
 */
#include "tests/support/stub.h"

#include <string.h>

static void ev_open(struct resp *r, const char *type)
{
    resp_begin_event(r, type);
    sbuf_printf(&r->ev, "{\"type\":\"%s\",\"sequence_number\":%d", type, r->seq++);
}

static void item_id(struct resp *r, struct sbuf *b, int i)
{
    sbuf_put(b, "\"", 1);
    resp_id(r, b, r->pl->items[i].kind == IT_TEXT ? "msg_" : "fc_", i);
    sbuf_put(b, "\"", 1);
}

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

static void text_part(struct resp *r, struct sbuf *b, int i, int full)
{
    sbuf_puts(b, "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":");
    if (full)
        resp_item_json(r, b, i, 0, item_len(&r->pl->items[i]));
    else
        sbuf_puts(b, "\"\"");
    sbuf_put(b, "}", 1);
}

/* Output item i, as added (in progress, empty) or done (completed, whole). */
static void item_json(struct resp *r, struct sbuf *b, int i, int done)
{
    const struct item *it = &r->pl->items[i];
    sbuf_puts(b, "{\"id\":");
    item_id(r, b, i);
    if (it->kind == IT_TEXT) {
        sbuf_printf(b,
                    ",\"type\":\"message\",\"status\":\"%s\",\"role\":\"assistant\","
                    "\"content\":[",
                    done ? "completed" : "in_progress");
        if (done)
            text_part(r, b, i, 1);
        sbuf_puts(b, "]}");
        return;
    }
    sbuf_printf(b, ",\"type\":\"function_call\",\"status\":\"%s\",\"arguments\":",
                done ? "completed" : "in_progress");
    if (done)
        resp_item_json(r, b, i, 0, it->len);
    else
        sbuf_puts(b, "\"\"");
    sbuf_puts(b, ",\"call_id\":");
    call_id(r, b, i);
    sbuf_puts(b, ",\"name\":");
    sbuf_json(b, r->pl->arena.p + it->name_off, it->name_len);
    sbuf_puts(b, "}");
}

static void usage_json(struct resp *r, struct sbuf *b)
{
    const struct plan *pl = r->pl;
    long long in, out;
    plan_usage(pl, r->rq, &in, &out);
    sbuf_printf(b,
                "{\"input_tokens\":%lld,\"input_tokens_details\":{\"cached_tokens\":%lld},"
                "\"output_tokens\":%lld,\"output_tokens_details\":{\"reasoning_tokens\":%lld},"
                "\"total_tokens\":%lld}",
                in, pl->cached_tok > 0 ? pl->cached_tok : 0, out,
                pl->reason_tok > 0 ? pl->reason_tok : 0, in + out);
}

/* The response object; final: completed (or incomplete) with its output and usage. */
static void response_json(struct resp *r, struct sbuf *b, int final)
{
    const struct plan *pl = r->pl;
    const char *status = !final ? "in_progress" : pl->finish_length ? "incomplete" : "completed";
    sbuf_puts(b, "{\"id\":");
    sbuf_json_str(b, r->id);
    sbuf_printf(b,
                ",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\","
                "\"background\":false,\"error\":null,\"incomplete_details\":%s,"
                "\"instructions\":null,\"max_output_tokens\":null,\"model\":",
                r->created, status,
                final && pl->finish_length ? "{\"reason\":\"max_output_tokens\"}" : "null");
    sbuf_json_str(b, pl->model);
    sbuf_puts(b, ",\"output\":[");
    for (int i = 0; final && i < pl->nitems; i++) {
        if (i)
            sbuf_put(b, ",", 1);
        item_json(r, b, i, 1);
    }
    sbuf_puts(b, "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                 "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":true,"
                 "\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"}},"
                 "\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\","
                 "\"usage\":");
    if (final)
        usage_json(r, b);
    else
        sbuf_puts(b, "null");
    sbuf_puts(b, ",\"user\":null,\"metadata\":{}}");
}

static void rs_start(struct resp *r)
{
    static const char *const names[] = {"response.created", "response.in_progress"};
    for (int k = 0; k < 2; k++) {
        ev_open(r, names[k]);
        sbuf_puts(&r->ev, ",\"response\":");
        response_json(r, &r->ev, 0);
        sbuf_put(&r->ev, "}", 1);
        resp_end_event(r);
    }
}

/* The fields that locate an event in item i: item_id, output_index (and content_index). */
static void locate(struct resp *r, int i, int content)
{
    sbuf_puts(&r->ev, ",\"item_id\":");
    item_id(r, &r->ev, i);
    sbuf_printf(&r->ev, ",\"output_index\":%d", i);
    if (content)
        sbuf_puts(&r->ev, ",\"content_index\":0");
}

static void rs_item_start(struct resp *r, int i)
{
    ev_open(r, "response.output_item.added");
    sbuf_printf(&r->ev, ",\"output_index\":%d,\"item\":", i);
    item_json(r, &r->ev, i, 0);
    sbuf_put(&r->ev, "}", 1);
    resp_end_event(r);
    if (r->pl->items[i].kind != IT_TEXT)
        return;
    ev_open(r, "response.content_part.added");
    locate(r, i, 1);
    sbuf_puts(&r->ev, ",\"part\":");
    text_part(r, &r->ev, i, 0);
    sbuf_put(&r->ev, "}", 1);
    resp_end_event(r);
}

static void rs_delta(struct resp *r, int i, uint64_t off, size_t n)
{
    int text = r->pl->items[i].kind == IT_TEXT;
    ev_open(r, text ? "response.output_text.delta" : "response.function_call_arguments.delta");
    locate(r, i, text);
    sbuf_puts(&r->ev, ",\"delta\":");
    resp_item_json(r, &r->ev, i, off, n);
    sbuf_puts(&r->ev, text ? ",\"logprobs\":[]}" : "}");
    resp_end_event(r);
}

static void rs_item_end(struct resp *r, int i)
{
    const struct item *it = &r->pl->items[i];
    if (it->kind == IT_TEXT) {
        ev_open(r, "response.output_text.done");
        locate(r, i, 1);
        sbuf_puts(&r->ev, ",\"text\":");
        resp_item_json(r, &r->ev, i, 0, item_len(it));
        sbuf_puts(&r->ev, ",\"logprobs\":[]}");
        resp_end_event(r);
        ev_open(r, "response.content_part.done");
        locate(r, i, 1);
        sbuf_puts(&r->ev, ",\"part\":");
        text_part(r, &r->ev, i, 1);
        sbuf_put(&r->ev, "}", 1);
        resp_end_event(r);
    } else {
        ev_open(r, "response.function_call_arguments.done");
        locate(r, i, 0);
        sbuf_puts(&r->ev, ",\"name\":");
        sbuf_json(&r->ev, r->pl->arena.p + it->name_off, it->name_len);
        sbuf_puts(&r->ev, ",\"arguments\":");
        resp_item_json(r, &r->ev, i, 0, it->len);
        sbuf_put(&r->ev, "}", 1);
        resp_end_event(r);
    }
    ev_open(r, "response.output_item.done");
    sbuf_printf(&r->ev, ",\"output_index\":%d,\"item\":", i);
    item_json(r, &r->ev, i, 1);
    sbuf_put(&r->ev, "}", 1);
    resp_end_event(r);
}

static void rs_finish(struct resp *r)
{
    ev_open(r, r->pl->finish_length ? "response.incomplete" : "response.completed");
    sbuf_puts(&r->ev, ",\"response\":");
    response_json(r, &r->ev, 1);
    sbuf_put(&r->ev, "}", 1);
    resp_last_event(r);
}

static void rs_error(struct resp *r)
{
    const struct plan *pl = r->pl;
    ev_open(r, "error");
    sbuf_puts(&r->ev, ",\"code\":");
    sbuf_json_str(&r->ev, pl->err_type[0] ? pl->err_type : "server_error");
    sbuf_puts(&r->ev, ",\"message\":");
    sbuf_json(&r->ev, pl->arena.p + pl->msg_off, pl->msg_len);
    sbuf_puts(&r->ev, ",\"param\":null}");
    resp_end_event(r);
}

static void rs_ping(struct resp *r)
{
    sbuf_puts(&r->ev, ": ping\n\n");
    resp_event(r);
}

static void rs_whole(struct resp *r, struct sbuf *b)
{
    response_json(r, b, 1);
}

const struct fmt fmt_responses = {rs_start,  rs_item_start, rs_delta, rs_item_end,
                                  rs_finish, rs_error,      rs_ping,  rs_whole};
