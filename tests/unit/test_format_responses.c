/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI Responses: every text position of a request found, complete responses judged, and
 * streams assembled: a function_call item held from output_item.added to output_item.done,
 * a denied one dropped (and taken out of response.completed) with output indices
 * renumbered, the same result for every split. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include "policy/engine/internal.h"
#include "policy/engine/sse.h"
#include "test_engine_support.h"

#define API ",\"api\":{\"models\":[\"gpt-*\"],\"tools\":{\"allow\":[\"get_weather\",\"search\"]}}"
#define REQ "{\"model\":\"gpt-4o\",\"stream\":true,\"input\":\"x\"}"

Test(format_responses, every_text_position_is_found)
{
    static const char body[] =
        "{\"model\":\"gpt-4o\",\"instructions\":\"I\",\"input\":["
        "{\"role\":\"system\",\"content\":\"S\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"input_text\",\"text\":\"D\"}]},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
        "\"U\"},{\"type\":\"input_image\",\"image_url\":\"data:x\"}]},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
        "\"text\":\"A\"}]},"
        "{\"type\":\"reasoning\",\"id\":\"rs\",\"summary\":[{\"type\":\"summary_text\",\"text\":"
        "\"RS\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"search\",\"arguments\":"
        "\"{\\\"q\\\":\\\"ARG\\\"}\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"OUT\"}]}";
    static const struct {
        const char *path, *text;
        enum engine_text_kind kind;
    } want[] = {
        {"instructions", "I", ENGINE_TEXT_SYSTEM},
        {"input[0].content", "S", ENGINE_TEXT_SYSTEM},
        {"input[1].content[0].text", "D", ENGINE_TEXT_SYSTEM},
        {"input[2].content[0].text", "U", ENGINE_TEXT_USER},
        {"input[3].content[0].text", "A", ENGINE_TEXT_ASSISTANT},
        {"input[4].summary[0].text", "RS", ENGINE_TEXT_ASSISTANT},
        {"input[5].arguments", "{\"q\":\"ARG\"}", ENGINE_TEXT_TOOL_ARGS},
        {"input[6].output", "OUT", ENGINE_TEXT_TOOL_RESULT},
    };
    struct te t;
    te_open(&t, API, NULL);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES, body), ENGINE_ALLOW);
    const struct engine_request *rq = &t.c->rq;
    cr_assert_eq(rq->n_texts, sizeof want / sizeof *want);
    for (size_t i = 0; i < rq->n_texts; i++) {
        cr_assert_str_eq(rq->texts[i].path, want[i].path, "position %zu", i);
        cr_assert_str_eq(rq->texts[i].text, want[i].text, "position %zu", i);
        cr_assert_eq(rq->texts[i].kind, want[i].kind, "position %zu", i);
    }
    cr_assert_eq(rq->n_calls, 1);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES, "{\"model\":\"gpt-4o\",\"input\":\"plain\"}"),
                 ENGINE_ALLOW);
    cr_assert_eq(t.c->rq.n_texts, 1);
    cr_assert_str_eq(t.c->rq.texts[0].path, "input");
    cr_assert_eq(t.c->rq.texts[0].kind, ENGINE_TEXT_INPUT);
    te_close(&t);
}

#define EV(name, data) "event: " name "\ndata: " data "\n\n"

static const char k_stream[] = EV(
    "response.created", "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":"
                        "{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}")
    EV("response.output_item.added",
       "{\"type\":\"response.output_item.added\",\"sequence_number"
       "\":1,\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"role\":"
       "\"assistant\",\"status\":\"in_progress\",\"content\":[]}}")
        EV("response.output_text.delta",
           "{\"type\":\"response.output_text.delta\",\"sequence_number"
           "\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi.\"}")
            EV("response.output_item.done",
               "{\"type\":\"response.output_item.done\",\"sequence_number"
               "\":3,\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"status\":"
               "\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
               "\"text\":"
               "\"Hi.\"}]}}") EV("response.output_item.added",
                                 "{\"type\":\"response.output_item.added\",\"sequence_number"
                                 "\":4,\"output_index\":1,\"item\":{\"type\":\"function_call\","
                                 "\"id\":\"fc_A\",\"call_id\":"
                                 "\"call_A\",\"name\":\"exec\",\"arguments\":\"\",\"status\":\"in_"
                                 "progress\"}}") EV("response.function_call_arguments.delta",
                                                    "{\"type\":\"response.function_call_arguments"
                                                    ".delta\",\"sequence_number\":5,\"item_id\":"
                                                    "\"fc_A\",\"output_index\":1,\"delta\":"
                                                    "\"{\\\"c\\\":\\\"reboot\\\"}\"}")
                EV("response.function_call_arguments.done",
                   "{\"type\":\"response.function_call_arguments"
                   ".done\",\"sequence_number\":6,\"item_id\":\"fc_A\",\"output_index\":1,"
                   "\"arguments\":"
                   "\"{\\\"c\\\":\\\"reboot\\\"}\"}")
                    EV("response.output_item.done",
                       "{\"type\":\"response.output_item.done\",\"sequence_number"
                       "\":7,\"output_index\":1,\"item\":{\"type\":\"function_call\",\"id\":\"fc_"
                       "A\",\"call_id\":"
                       "\"call_A\",\"name\":\"exec\",\"arguments\":\"{\\\"c\\\":\\\"reboot\\\"}\","
                       "\"status\":"
                       "\"completed\"}}")
                        EV("response.output_item.added",
                           "{\"type\":\"response.output_item.added\",\"sequence_number"
                           "\":8,\"output_index\":2,\"item\":{\"type\":\"function_call\",\"id\":"
                           "\"fc_B\",\"call_id\":"
                           "\"call_B\",\"name\":\"search\",\"arguments\":\"\",\"status\":\"in_"
                           "progress\"}}") EV("response.function_call_arguments.delta",
                                              "{\"type\":\"response.function_call_arguments"
                                              ".delta\",\"sequence_number\":9,\"item_id\":\"fc_B\","
                                              "\"output_index\":2,\"delta\":"
                                              "\"{\\\"q\\\":\\\"x\\\"}\"}")
                            EV("response.function_call_arguments.done",
                               "{\"type\":\"response.function_call_arguments"
                               ".done\",\"sequence_number\":10,\"item_id\":\"fc_B\",\"output_"
                               "index\":2,\"arguments\":"
                               "\"{\\\"q\\\":\\\"x\\\"}\"}")
                                EV("response.output_item.done",
                                   "{\"type\":\"response.output_item.done\",\"sequence_number"
                                   "\":11,\"output_index\":2,\"item\":{\"type\":\"function_call\","
                                   "\"id\":\"fc_B\",\"call_id\":"
                                   "\"call_B\",\"name\":\"search\",\"arguments\":\"{\\\"q\\\":"
                                   "\\\"x\\\"}\",\"status\":"
                                   "\"completed\"}}")
                                    EV("response.completed",
                                       "{\"type\":\"response.completed\",\"sequence_number\":12,"
                                       "\"response\":{\"id\":\"resp_1\",\"status\":\"completed\","
                                       "\"output\":[{\"type\":\"message\""
                                       ",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[{"
                                       "\"type\":\"output_text\",\"text\":"
                                       "\"Hi.\"}]},{\"type\":\"function_call\",\"id\":\"fc_A\","
                                       "\"call_id\":\"call_A\",\"name\":"
                                       "\"exec\",\"arguments\":\"{}\"},{\"type\":\"function_call\","
                                       "\"id\":\"fc_B\",\"call_id\":"
                                       "\"call_B\",\"name\":\"search\",\"arguments\":\"{\\\"q\\\":"
                                       "\\\"x\\\"}\"}],\"usage\":{"
                                       "\"input_tokens\":30,\"output_tokens\":12,\"total_tokens\":"
                                       "42}}}");

struct acc {
    int items, calls;
    char names[8][32];
    int max_index;
    int completed_outputs;
    char text[256];
};

static int acc_event(void *ud, const struct sse_event *ev)
{
    struct acc *a = ud;
    if (!ev->dispatch)
        return 0;
    cJSON *j = cJSON_Parse(ev->data);
    cr_assert_not_null(j);
    const char *type = cJSON_GetObjectItem(j, "type")->valuestring;
    cJSON *ix = cJSON_GetObjectItem(j, "output_index");
    if (!strcmp(type, "response.output_item.added")) {
        cr_assert_eq(ix->valueint, a->items, "output indices 0, 1, 2 with no gap");
        cJSON *it = cJSON_GetObjectItem(j, "item");
        if (!strcmp(cJSON_GetObjectItem(it, "type")->valuestring, "function_call"))
            snprintf(a->names[a->calls++], 32, "%s", cJSON_GetObjectItem(it, "name")->valuestring);
        a->items++;
    } else if (ix) {
        cr_assert_lt(ix->valueint, a->items, "an event about an item the client knows");
    }
    if (!strcmp(type, "response.output_text.delta"))
        strncat(a->text, cJSON_GetObjectItem(j, "delta")->valuestring, 100);
    if (!strcmp(type, "response.completed"))
        a->completed_outputs =
            cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "response"), "output"));
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

Test(format_responses, a_denied_function_call_is_removed_at_every_split)
{
    struct te t;
    char *whole = te_stream_call(API, NULL, ENGINE_RESPONSES, REQ, k_stream, 0, &t);
    cr_assert_null(strstr(whole, "exec"), "%s", whole);
    cr_assert_null(strstr(whole, "reboot"));
    struct acc a;
    accumulate(whole, &a);
    cr_assert_eq(a.items, 2);
    cr_assert_eq(a.calls, 1);
    cr_assert_str_eq(a.names[0], "search");
    cr_assert_str_eq(a.text, "Hi.");
    cr_assert_eq(a.completed_outputs, 2, "the terminal event's copy is filtered too");
    uint64_t in, out;
    engine_call_tokens(t.c, &in, &out);
    cr_assert_eq(in, 30);
    cr_assert_eq(out, 12);
    te_close(&t);
    for (size_t split = 1; split < sizeof k_stream - 1; split++) {
        char *got = te_stream_call(API, NULL, ENGINE_RESPONSES, REQ, k_stream, split, NULL);
        cr_assert_str_eq(got, whole, "split at %zu", split);
        free(got);
    }
    free(whole);
}

Test(format_responses, notice_mode_and_observe_mode)
{
    struct engine_options o = {.on_denied_call = ENGINE_CALL_NOTICE};
    char *got = te_stream_call(API, &o, ENGINE_RESPONSES, REQ, k_stream, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.items, 3);
    cr_assert_eq(a.calls, 1);
    cr_assert(strstr(got, "[cordon] the tool call \\\"exec\\\" was removed"), "%s", got);
    cr_assert_eq(a.completed_outputs, 3);
    free(got);
    got =
        te_stream_call(",\"mode\":\"observe\"" API, NULL, ENGINE_RESPONSES, REQ, k_stream, 0, NULL);
    cr_assert_str_eq(got, k_stream);
    free(got);
}

Test(format_responses, complete_responses_are_judged)
{
    static const char resp[] =
        "{\"id\":\"r\",\"output\":[{\"type\":\"function_call\",\"id\":\"fc\",\"call_id\":\"c\","
        "\"name\":\"exec\",\"arguments\":\"{}\"},{\"type\":\"message\",\"role\":\"assistant\","
        "\"content\":[{\"type\":\"output_text\",\"text\":\"t\"}]}],"
        "\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_RESPONSES, REQ);
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
    cr_assert_null(strstr(out, "exec"));
    cJSON *j = cJSON_Parse(out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "output")), 1);
    cJSON_Delete(j);
    te_close(&t);
}

Test(format_responses, an_error_event_in_responses_shape)
{
    struct engine_options o = {.max_sse_line = 64};
    struct te t;
    te_open(&t, API, &o);
    te_request(&t, ENGINE_RESPONSES, REQ);
    char big[200];
    memset(big, 'x', sizeof big);
    struct sink s = {0};
    cr_assert_eq(engine_stream_feed(t.c, big, sizeof big, sink_put, &s), ENGINE_ERR_SSE_LINE);
    cr_assert(strncmp(s.p,
                      "event: error\ndata: {\"type\":\"error\",\"code\":"
                      "\"cordon.upstream_stream\"",
                      60) == 0,
              "%s", s.p);
    free(s.p);
    te_close(&t);
}

Test(format_responses, custom_tool_calls_are_judged_by_name)
{
    static const char resp[] =
        "{\"id\":\"r\",\"output\":[{\"type\":\"custom_tool_call\",\"id\":\"ct\",\"call_id\":\"c\","
        "\"name\":\"exec\",\"input\":\"reboot\"},{\"type\":\"custom_tool_call\",\"id\":\"ct2\","
        "\"call_id\":\"c2\",\"name\":\"search\",\"input\":\"cats\"}]}";
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_RESPONSES, REQ);
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
    cr_assert_null(strstr(out, "reboot"));
    cr_assert(strstr(out, "cats"));
    te_close(&t);
    static const char in[] =
        EV("response.output_item.added",
           "{\"type\":\"response.output_item.added\","
           "\"output_index\":0,\"item\":{\"type\":\"custom_tool_call\",\"id\":\"ct\",\"call_id\":"
           "\"c\",\"name\":\"exec\",\"input\":\"\"}}")
            EV("response.custom_tool_call_input.delta",
               "{\"type\":\"response.custom_tool_call_input"
               ".delta\",\"output_index\":0,\"item_id\":\"ct\",\"delta\":\"reboot\"}")
                EV("response.output_item.done", "{\"type\":\"response.output_item.done\","
                                                "\"output_index\":0,\"item\":{\"type\":\"custom_"
                                                "tool_call\",\"id\":\"ct\",\"call_id\":"
                                                "\"c\",\"name\":\"exec\",\"input\":\"reboot\"}}");
    char *got = te_stream_call(API, NULL, ENGINE_RESPONSES, REQ, in, 0, NULL);
    cr_assert_str_eq(got, "");
    free(got);
}
