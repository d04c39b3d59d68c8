/* SPDX-License-Identifier: Apache-2.0 */
/* Anthropic Messages: every text position of a request found, complete responses judged,
 * and streams assembled: tool_use blocks held until their input is complete and judged,
 * denied blocks removed with the block indices renumbered and stop_reason kept consistent,
 * the same result for every split. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include "policy/engine/internal.h"
#include "policy/engine/sse.h"
#include "test_engine_support.h"

#define API                                                                                        \
    ",\"api\":{\"models\":[\"claude-*\"],\"tools\":{\"allow\":[\"get_weather\",\"search\"]}}"
#define REQ "{\"model\":\"claude-x\",\"max_tokens\":64,\"stream\":true,\"messages\":[]}"

Test(format_messages, every_text_position_is_found)
{
    static const char body[] =
        "{\"model\":\"claude-x\",\"max_tokens\":5,"
        "\"system\":[{\"type\":\"text\",\"text\":\"S\"}],\"messages\":["
        "{\"role\":\"user\",\"content\":\"U1\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"U2\"},{\"type\":\"image\","
        "\"source\":{\"type\":\"base64\",\"data\":\"AAAA\"}},{\"type\":\"document\",\"source\":"
        "{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"DOC\"}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"TH\","
        "\"signature\":\"x\"},{\"type\":\"text\",\"text\":\"A\"},{\"type\":\"tool_use\",\"id\":"
        "\"t1\",\"name\":\"search\",\"input\":{\"q\":\"ARG\"}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
        "\"content\":\"R1\"},{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"R2\"}]}]},"
        "{\"role\":\"assistant\",\"content\":\"A2\"}]}";
    static const struct {
        const char *path, *text;
        enum engine_text_kind kind;
    } want[] = {
        {"system[0].text", "S", ENGINE_TEXT_SYSTEM},
        {"messages[0].content", "U1", ENGINE_TEXT_USER},
        {"messages[1].content[0].text", "U2", ENGINE_TEXT_USER},
        {"messages[1].content[2].source.data", "DOC", ENGINE_TEXT_USER},
        {"messages[2].content[0].thinking", "TH", ENGINE_TEXT_ASSISTANT},
        {"messages[2].content[1].text", "A", ENGINE_TEXT_ASSISTANT},
        {"messages[2].content[2].input", "{\"q\":\"ARG\"}", ENGINE_TEXT_TOOL_ARGS},
        {"messages[3].content[0].content", "R1", ENGINE_TEXT_TOOL_RESULT},
        {"messages[3].content[1].content[0].text", "R2", ENGINE_TEXT_TOOL_RESULT},
        {"messages[4].content", "A2", ENGINE_TEXT_ASSISTANT},
    };
    struct te t;
    te_open(&t, API, NULL);
    cr_assert_eq(te_request(&t, ENGINE_MESSAGES, body), ENGINE_ALLOW);
    const struct engine_request *rq = &t.c->rq;
    cr_assert_eq(rq->n_texts, sizeof want / sizeof *want);
    for (size_t i = 0; i < rq->n_texts; i++) {
        cr_assert_str_eq(rq->texts[i].path, want[i].path, "position %zu", i);
        cr_assert_str_eq(rq->texts[i].text, want[i].text, "position %zu", i);
        cr_assert_eq(rq->texts[i].kind, want[i].kind, "position %zu", i);
    }
    cr_assert_eq(rq->n_calls, 1);
    cr_assert_str_eq(rq->calls[0].args, "{\"q\":\"ARG\"}");
    te_close(&t);
}

Test(format_messages, malformed_requests_in_anthropic_shape)
{
    struct te t;
    int status;
    te_open(&t, API, NULL);
    static const char *const bad[] = {
        "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
        "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"text\":\"x\"}]}]}",
        "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"tool_use\",\"name\":\"search\",\"input\":[1]}]}]}",
        "{\"model\":\"claude-x\",\"system\":5,\"messages\":[]}",
        "{\"model\":\"claude-x\",\"messages\":[],\"tool_choice\":\"any\"}",
        "{\"model\":\"claude-x\",\"messages\":[],\"tools\":[{\"input_schema\":{}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(te_request(&t, ENGINE_MESSAGES, bad[i]), ENGINE_REFUSE, "case %zu", i);
        cJSON *j = cJSON_Parse(te_error(&t, &status));
        cr_assert_eq(status, 400);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "type")->valuestring, "error");
        cJSON *e = cJSON_GetObjectItem(j, "error");
        cr_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
        cr_assert_str_eq(cJSON_GetObjectItem(e, "code")->valuestring, "cordon.malformed");
        cJSON_Delete(j);
    }
    te_close(&t);
}

/* What an SDK accumulates from a Messages stream. */
struct acc {
    char text[4096];
    char names[8][64], inputs[8][512], types[8][32];
    int n_blocks, open;
    char stop_reason[32];
    int pings, errors, stops;
    long in_tokens, out_tokens;
};

static int acc_event(void *ud, const struct sse_event *ev)
{
    struct acc *a = ud;
    if (!ev->dispatch)
        return 0;
    cJSON *j = cJSON_Parse(ev->data);
    cr_assert_not_null(j, "the client gets JSON: %s", ev->data);
    const char *type = cJSON_GetObjectItem(j, "type")->valuestring;
    cr_assert_str_eq(type, ev->event, "event line and type agree");
    cJSON *ix = cJSON_GetObjectItem(j, "index");
    if (!strcmp(type, "ping"))
        a->pings++;
    else if (!strcmp(type, "error"))
        a->errors++;
    else if (!strcmp(type, "message_stop"))
        a->stops++;
    else if (!strcmp(type, "content_block_start")) {
        cr_assert_eq(ix->valueint, a->n_blocks, "blocks are numbered 0, 1, 2 with no gap");
        cr_assert_eq(a->open, 0, "one block at a time");
        a->open = 1;
        cJSON *cb = cJSON_GetObjectItem(j, "content_block");
        snprintf(a->types[a->n_blocks], 32, "%s", cJSON_GetObjectItem(cb, "type")->valuestring);
        cJSON *nm = cJSON_GetObjectItem(cb, "name");
        if (nm)
            snprintf(a->names[a->n_blocks], 64, "%s", nm->valuestring);
        a->n_blocks++;
    } else if (!strcmp(type, "content_block_delta")) {
        cr_assert_eq(ix->valueint, a->n_blocks - 1, "a delta belongs to the open block");
        cJSON *d = cJSON_GetObjectItem(j, "delta");
        cJSON *t = cJSON_GetObjectItem(d, "text"), *pj = cJSON_GetObjectItem(d, "partial_json");
        if (t)
            strncat(a->text, t->valuestring, sizeof a->text - strlen(a->text) - 1);
        if (pj)
            strncat(a->inputs[ix->valueint], pj->valuestring, 511);
    } else if (!strcmp(type, "content_block_stop")) {
        cr_assert_eq(ix->valueint, a->n_blocks - 1);
        a->open = 0;
    } else if (!strcmp(type, "message_start")) {
        a->in_tokens =
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "message"), "usage"),
                                "input_tokens")
                ->valueint;
    } else if (!strcmp(type, "message_delta")) {
        snprintf(a->stop_reason, sizeof a->stop_reason, "%s",
                 cJSON_GetObjectItem(cJSON_GetObjectItem(j, "delta"), "stop_reason")->valuestring);
        a->out_tokens =
            cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "output_tokens")->valueint;
    }
    cJSON_Delete(j);
    return 0;
}

static void accumulate(const char *out, struct acc *a)
{
    memset(a, 0, sizeof *a);
    struct sse_parser *p;
    cr_assert_eq(sse_new(0, &p), 0);
    cr_assert_eq(sse_feed(p, out, strlen(out), acc_event, a), 0);
    cr_assert_eq(sse_finish(p, acc_event, a), 0);
    sse_free(p);
}

#define EV(name, data) "event: " name "\ndata: " data "\n\n"

static const char k_stream[] = EV(
    "message_start",
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":"
    "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"stop_reason\":"
    "null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}")
    EV("content_block_start",
       "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
       "{\"type\":\"text\",\"text\":\"\"}}") EV("ping", "{\"type\": \"ping\"}")
        EV("content_block_delta",
           "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
           "\"text_delta\",\"text\":\"Checking.\"}}")
            EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}") EV(
                "content_block_start",
                "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
                "{\"type\":\"tool_use\",\"id\":\"toolu_A\",\"name\":\"bash\",\"input\":{}}}")
                EV("content_block_delta",
                   "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                   "\"input_json_delta\",\"partial_json\":\"{\\\"cmd\\\": \\\"cat /etc/sh\"}}")
                    EV("content_block_delta",
                       "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                       "\"input_json_delta\",\"partial_json\":\"adow\\\"}\"}}")
                        EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
                            EV("content_block_start",
                               "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":"
                               "{\"type\":\"tool_use\",\"id\":\"toolu_B\",\"name\":\"get_weather\","
                               "\"input\":{}}}") EV("content_block_delta",
                                                    "{\"type\":\"content_block_delta\",\"index\":2,"
                                                    "\"delta\":{\"type\":"
                                                    "\"input_json_delta\",\"partial_json\":\"\"}}")
                                EV("content_block_delta", "{\"type\":\"content_block_delta\","
                                                          "\"index\":2,\"delta\":{\"type\":"
                                                          "\"input_json_delta\",\"partial_json\":"
                                                          "\"{\\\"city\\\": \\\"Oslo\\\"}\"}}")
                                    EV("content_block_stop",
                                       "{\"type\":\"content_block_stop\",\"index\":2}")
                                        EV("message_delta", "{\"type\":\"message_delta\",\"delta\":"
                                                            "{\"stop_reason\":\"tool_use\","
                                                            "\"stop_sequence\":null},\"usage\":{"
                                                            "\"output_tokens\":40}}")
                                            EV("message_stop", "{\"type\":\"message_stop\"}");

Test(format_messages, a_denied_tool_use_is_removed_at_every_split)
{
    char *whole = te_stream_call(API, NULL, ENGINE_MESSAGES, REQ, k_stream, 0, NULL);
    cr_assert_null(strstr(whole, "bash"), "the denied call never reaches the client");
    cr_assert_null(strstr(whole, "shadow"));
    struct acc a;
    accumulate(whole, &a);
    cr_assert_eq(a.n_blocks, 2);
    cr_assert_str_eq(a.types[0], "text");
    cr_assert_str_eq(a.text, "Checking.");
    cr_assert_str_eq(a.types[1], "tool_use");
    cr_assert_str_eq(a.names[1], "get_weather");
    cr_assert_str_eq(a.inputs[1], "{\"city\": \"Oslo\"}");
    cr_assert_str_eq(a.stop_reason, "tool_use");
    cr_assert_eq(a.pings, 1);
    cr_assert_eq(a.stops, 1);
    cr_assert_eq(a.in_tokens, 25);
    cr_assert_eq(a.out_tokens, 40);
    for (size_t split = 1; split < sizeof k_stream - 1; split++) {
        char *got = te_stream_call(API, NULL, ENGINE_MESSAGES, REQ, k_stream, split, NULL);
        cr_assert_str_eq(got, whole, "split at %zu", split);
        free(got);
    }
    free(whole);
}

Test(format_messages, usage_and_the_record)
{
    struct te t;
    char *got = te_stream_call(API, NULL, ENGINE_MESSAGES, REQ, k_stream, 0, &t);
    uint64_t in, out;
    engine_call_tokens(t.c, &in, &out);
    cr_assert_eq(in, 25);
    cr_assert_eq(out, 40);
    cr_assert_eq(engine_call_tools_allowed(t.c), 1);
    cr_assert_eq(engine_call_tools_removed(t.c), 1);
    cr_assert_str_eq(engine_call_tool_removed(t.c, 0), "bash");
    free(got);
    te_close(&t);
}

Test(format_messages, every_call_denied_gives_end_turn)
{
    static const char api[] = ",\"api\":{\"models\":[\"claude-*\"],\"tools\":{\"allow\":[\"x\"]}}";
    char *got = te_stream_call(api, NULL, ENGINE_MESSAGES, REQ, k_stream, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_blocks, 1);
    cr_assert_str_eq(a.stop_reason, "end_turn");
    free(got);
}

Test(format_messages, notice_mode_puts_a_text_block_in_the_calls_place)
{
    struct engine_options o = {.on_denied_call = ENGINE_CALL_NOTICE};
    char *got = te_stream_call(API, &o, ENGINE_MESSAGES, REQ, k_stream, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_blocks, 3);
    cr_assert_str_eq(a.types[1], "text");
    cr_assert(strstr(a.text, "[cordon] the tool call \"bash\" was removed"), "%s", a.text);
    cr_assert_str_eq(a.names[2], "get_weather");
    free(got);
}

Test(format_messages, observe_mode_forwards_every_byte)
{
    struct te t;
    char *got =
        te_stream_call(",\"mode\":\"observe\"" API, NULL, ENGINE_MESSAGES, REQ, k_stream, 0, &t);
    cr_assert_str_eq(got, k_stream);
    cr_assert_eq(engine_call_tools_removed(t.c), 1);
    free(got);
    te_close(&t);
}

Test(format_messages, text_flows_while_a_tool_use_is_held)
{
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_MESSAGES, REQ);
    struct sink s = {0};
    const char *cut = strstr(k_stream, "adow");
    cr_assert_eq(engine_stream_feed(t.c, k_stream, (size_t)(cut - k_stream), sink_put, &s), 0);
    cr_assert(strstr(s.p, "Checking."));
    cr_assert_null(strstr(s.p, "tool_use"));
    free(s.p);
    te_close(&t);
}

Test(format_messages, mid_stream_error_passes_through)
{
    static const char in[] =
        EV("content_block_start",
           "{\"type\":\"content_block_start\",\"index\":0,"
           "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"search\",\"input\":"
           "{}}}")
            EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                        "\"Overloaded\"}}");
    char *got = te_stream_call(API, NULL, ENGINE_MESSAGES, REQ, in, 0, NULL);
    cr_assert(strstr(got, "event: error\n"));
    /* the truncated call is judged at the end: its input {} is complete */
    cr_assert(strstr(got, "\"name\":\"search\""));
    free(got);
}

Test(format_messages, oversized_line_gives_an_anthropic_error_event)
{
    struct engine_options o = {.max_sse_line = 64};
    struct te t;
    te_open(&t, API, &o);
    te_request(&t, ENGINE_MESSAGES, REQ);
    char big[200];
    memset(big, 'x', sizeof big);
    struct sink s = {0};
    cr_assert_eq(engine_stream_feed(t.c, big, sizeof big, sink_put, &s), ENGINE_ERR_SSE_LINE);
    cr_assert(strncmp(s.p,
                      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                      "\"api_error\"",
                      60) == 0,
              "%s", s.p);
    free(s.p);
    te_close(&t);
}

Test(format_messages, complete_responses_are_judged)
{
    static const char resp[] =
        "{\"id\":\"msg\",\"type\":\"message\",\"role\":\"assistant\",\"content\":["
        "{\"type\":\"text\",\"text\":\"ok\"},"
        "{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"bash\",\"input\":{\"cmd\":\"id\"}}],"
        "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}";
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_MESSAGES, REQ);
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
    cJSON *j = cJSON_Parse(out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "content")), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "stop_reason")->valuestring, "end_turn");
    cJSON_Delete(j);
    uint64_t in, outt;
    engine_call_tokens(t.c, &in, &outt);
    cr_assert_eq(in, 3);
    cr_assert_eq(outt, 4);
    te_close(&t);

    struct engine_options o = {.on_denied_call = ENGINE_CALL_NOTICE};
    te_open(&t, API, &o);
    te_request(&t, ENGINE_MESSAGES, REQ);
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
    j = cJSON_Parse(out);
    cJSON *second = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "content"), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(second, "type")->valuestring, "text");
    cr_assert(strstr(cJSON_GetObjectItem(second, "text")->valuestring, "\"bash\" was removed"));
    cJSON_Delete(j);
    te_close(&t);
}
