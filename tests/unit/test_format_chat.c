/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI Chat Completions: every text position of a request found, complete responses
 * judged, and streams assembled: tool calls held until judged while text flows, denied calls
 * removed with indices and finish_reason kept consistent, the same result for every split. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include "policy/engine/internal.h"
#include "policy/engine/sse.h"
#include "test_engine_support.h"

#define API ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"get_weather\",\"search\"]}}"

Test(format_chat, every_text_position_is_found)
{
    static const char body[] =
        "{\"model\":\"gpt-4o\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"S\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"D\"}]},"
        "{\"role\":\"user\",\"content\":\"U1\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"U2\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:x\"}}]},"
        "{\"role\":\"assistant\",\"content\":\"A\",\"refusal\":\"R\",\"tool_calls\":[{\"id\":"
        "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"search\",\"arguments\":"
        "\"{\\\"q\\\":\\\"ARG\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"T\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"R2\"}],"
        "\"function_call\":{\"name\":\"search\",\"arguments\":\"{}\"}},"
        "{\"role\":\"function\",\"name\":\"search\",\"content\":\"F\"}]}";
    static const struct {
        const char *path, *text;
        enum engine_text_kind kind;
    } want[] = {
        {"messages[0].content", "S", ENGINE_TEXT_SYSTEM},
        {"messages[1].content[0].text", "D", ENGINE_TEXT_SYSTEM},
        {"messages[2].content", "U1", ENGINE_TEXT_USER},
        {"messages[3].content[0].text", "U2", ENGINE_TEXT_USER},
        {"messages[4].content", "A", ENGINE_TEXT_ASSISTANT},
        {"messages[4].refusal", "R", ENGINE_TEXT_ASSISTANT},
        {"messages[4].tool_calls[0].function.arguments", "{\"q\":\"ARG\"}", ENGINE_TEXT_TOOL_ARGS},
        {"messages[5].content", "T", ENGINE_TEXT_TOOL_RESULT},
        {"messages[6].content[0].refusal", "R2", ENGINE_TEXT_ASSISTANT},
        {"messages[6].function_call.arguments", "{}", ENGINE_TEXT_TOOL_ARGS},
        {"messages[7].content", "F", ENGINE_TEXT_TOOL_RESULT},
    };
    struct te t;
    te_open(&t, API, NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT, body), ENGINE_ALLOW);
    const struct engine_request *rq = &t.c->rq;
    cr_assert_eq(rq->n_texts, sizeof want / sizeof *want);
    for (size_t i = 0; i < rq->n_texts; i++) {
        cr_assert_str_eq(rq->texts[i].path, want[i].path, "position %zu", i);
        cr_assert_str_eq(rq->texts[i].text, want[i].text, "position %zu", i);
        cr_assert_eq(rq->texts[i].kind, want[i].kind, "position %zu", i);
    }
    cr_assert_eq(rq->n_calls, 2, "both history calls are judged");
    te_close(&t);
}

/* What an SDK accumulates from a chat stream. */
struct acc {
    char content[4096];
    char names[8][64], args[8][512], ids[8][64];
    int n_calls, max_index;
    char finish[32];
    int done, errors, chunks;
    long prompt_tokens;
};

static int acc_event(void *ud, const struct sse_event *ev)
{
    struct acc *a = ud;
    if (!ev->dispatch)
        return 0;
    if (!strcmp(ev->data, "[DONE]")) {
        a->done++;
        return 0;
    }
    cJSON *j = cJSON_Parse(ev->data);
    cr_assert_not_null(j, "the client gets JSON: %s", ev->data);
    a->chunks++;
    if (cJSON_GetObjectItem(j, "error"))
        a->errors++;
    cJSON *u = cJSON_GetObjectItem(j, "usage");
    if (cJSON_IsObject(u))
        a->prompt_tokens = cJSON_GetObjectItem(u, "prompt_tokens")->valueint;
    cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItem(j, "choices"))
    {
        cJSON *d = cJSON_GetObjectItem(ch, "delta");
        cJSON *c = cJSON_GetObjectItem(d, "content");
        if (cJSON_IsString(c))
            strncat(a->content, c->valuestring, sizeof a->content - strlen(a->content) - 1);
        cJSON *tc;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItem(d, "tool_calls"))
        {
            int ix = cJSON_GetObjectItem(tc, "index")->valueint;
            cr_assert(ix >= 0 && ix < 8);
            cr_assert(ix <= a->n_calls, "indices come in order with no gap");
            if (ix == a->n_calls)
                a->n_calls++;
            cJSON *id = cJSON_GetObjectItem(tc, "id");
            if (cJSON_IsString(id))
                snprintf(a->ids[ix], sizeof a->ids[ix], "%s", id->valuestring);
            cJSON *fn = cJSON_GetObjectItem(tc, "function");
            cJSON *nm = cJSON_GetObjectItem(fn, "name"), *ar = cJSON_GetObjectItem(fn, "arguments");
            if (cJSON_IsString(nm))
                strncat(a->names[ix], nm->valuestring, 63 - strlen(a->names[ix]));
            if (cJSON_IsString(ar))
                strncat(a->args[ix], ar->valuestring, 511 - strlen(a->args[ix]));
        }
        cJSON *fr = cJSON_GetObjectItem(ch, "finish_reason");
        if (cJSON_IsString(fr))
            snprintf(a->finish, sizeof a->finish, "%s", fr->valuestring);
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

#define ENV                                                                                        \
    "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-"    \
    "4o\""
#define CHUNK(choices) "data: {" ENV ",\"choices\":[" choices "]}\n\n"
#define DELTA(d) "{\"index\":0,\"delta\":" d ",\"finish_reason\":null}"

/* Text, then two parallel calls (search allowed, shell denied) in fragments, then finish,
 * usage and [DONE]. */
static const char k_parallel[] = CHUNK(DELTA("{\"role\":\"assistant\",\"content\":\"\"}"))
    CHUNK(DELTA("{\"content\":\"Let me \"}")) CHUNK(DELTA("{\"content\":\"look.\"}")) CHUNK(
        DELTA("{\"tool_calls\":[{\"index\":0,\"id\":\"call_A\",\"type\":\"function\","
              "\"function\":{\"name\":\"shell\",\"arguments\":\"\"}}]}"))
        CHUNK(DELTA(
            "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"cmd\\\":\"}}]}"))
            CHUNK(DELTA("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                        "\"\\\"rm -rf /\\\"}\"}}]}"))
                CHUNK(DELTA("{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\",\"type\":\"function\","
                            "\"function\":{\"name\":\"search\",\"arguments\":\"{\\\"q\\\"\"}}]}"))
                    CHUNK(DELTA(
                        "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\":\\\"cats\\\"}"
                        "\"}}]}")) CHUNK("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_"
                                         "calls\"}") "data: {" ENV
                                                     ",\"choices\":[],\"usage\":{\"prompt_tokens\":"
                                                     "17,\"completion_tokens\":9}}\n\n"
                                                     "data: [DONE]\n\n";

Test(format_chat, a_denied_parallel_call_is_removed_at_every_split)
{
    char *whole = te_stream_call(API, NULL, ENGINE_CHAT,
                                 "{\"model\":\"gpt-4o\",\"messages\":[],\"stream\":true}",
                                 k_parallel, 0, NULL);
    cr_assert_null(strstr(whole, "shell"), "the denied call never reaches the client");
    cr_assert_null(strstr(whole, "rm -rf"));
    struct acc a;
    accumulate(whole, &a);
    cr_assert_str_eq(a.content, "Let me look.");
    cr_assert_eq(a.n_calls, 1);
    cr_assert_str_eq(a.names[0], "search");
    cr_assert_str_eq(a.ids[0], "call_B");
    cr_assert_str_eq(a.args[0], "{\"q\":\"cats\"}");
    cr_assert_str_eq(a.finish, "tool_calls", "a call survived");
    cr_assert_eq(a.done, 1);
    cr_assert_eq(a.prompt_tokens, 17);
    cr_assert(strstr(whole, CHUNK(DELTA("{\"content\":\"Let me \"}"))),
              "an untouched chunk is forwarded byte for byte");
    for (size_t split = 1; split < sizeof k_parallel - 1; split++) {
        char *got = te_stream_call(API, NULL, ENGINE_CHAT,
                                   "{\"model\":\"gpt-4o\",\"messages\":[],\"stream\":true}",
                                   k_parallel, split, NULL);
        cr_assert_str_eq(got, whole, "split at %zu", split);
        free(got);
    }
    free(whole);
}

Test(format_chat, the_record_counts_what_was_allowed_and_removed)
{
    struct te t;
    char *got =
        te_stream_call(API, NULL, ENGINE_CHAT,
                       "{\"model\":\"gpt-4o\",\"messages\":[],\"stream\":true}", k_parallel, 0, &t);
    cr_assert_eq(engine_call_tools_allowed(t.c), 1);
    cr_assert_eq(engine_call_tools_removed(t.c), 1);
    cr_assert_str_eq(engine_call_tool_removed(t.c, 0), "shell");
    uint64_t in, out;
    engine_call_tokens(t.c, &in, &out);
    cr_assert_eq(in, 17);
    cr_assert_eq(out, 9);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_TOOLS, ENGINE_HOOK_RESPONSE);
    cr_assert_eq(d->verdict, ENGINE_REFUSE);
    cr_assert_str_eq(d->why.code, "cordon.tool_denied");
    engine_call_finish(t.c, 3);
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "\"removed\":[{\"name\":\"shell\",\"code\":\"cordon.tool_denied\""), "%s",
              rec);
    free(rec);
    free(got);
    te_close(&t);
}

Test(format_chat, text_flows_while_a_call_is_held)
{
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[],\"stream\":true}");
    struct sink s = {0};
    const char *cut = strstr(k_parallel, "rm -rf");
    cr_assert_eq(engine_stream_feed(t.c, k_parallel, (size_t)(cut - k_parallel), sink_put, &s), 0);
    cr_assert(strstr(s.p, "look."), "text before the call went on at once");
    cr_assert_null(strstr(s.p, "tool_calls"), "the call is held");
    cr_assert_null(strstr(s.p, "shell"));
    free(s.p);
    te_close(&t);
}

static const char k_only_denied[] =
    CHUNK(DELTA("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":"
                "\"c\",\"type\":\"function\",\"function\":{\"name\":\"shell\",\"arguments\":"
                "\"{}\"}}]}"))
        CHUNK("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}") "data: [DONE]\n\n";

Test(format_chat, no_call_left_turns_finish_reason_to_stop)
{
    char *got = te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}",
                               k_only_denied, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_calls, 0);
    cr_assert_str_eq(a.finish, "stop");
    cr_assert_null(strstr(got, "shell"));
    free(got);
}

Test(format_chat, notice_mode_puts_a_text_in_the_calls_place)
{
    struct engine_options o = {.on_denied_call = ENGINE_CALL_NOTICE};
    char *got = te_stream_call(API, &o, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}",
                               k_only_denied, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_calls, 0);
    cr_assert(strstr(a.content, "[cordon] the tool call \"shell\" was removed"), "%s", a.content);
    cr_assert_str_eq(a.finish, "stop");
    free(got);
}

/* A server that reuses index 0 for parallel calls, told apart by id. */
static const char k_reused[] = CHUNK(
    DELTA("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"type\":\"function\",\"function\":"
          "{\"name\":\"search\",\"arguments\":\"{\\\"q\\\":1}\"}}]}"))
    CHUNK(DELTA("{\"tool_calls\":[{\"index\":0,\"id\":\"c2\",\"type\":\"function\",\"function\":"
                "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\"\"}}]}"))
        CHUNK(DELTA(
            "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":\\\"Oslo\\\"}\"}}]}"))
            CHUNK("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}") "data: [DONE]\n\n";

Test(format_chat, a_reused_index_is_told_apart_by_id)
{
    char *got = te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}",
                               k_reused, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_calls, 2);
    cr_assert_str_eq(a.names[0], "search");
    cr_assert_str_eq(a.args[0], "{\"q\":1}");
    cr_assert_str_eq(a.names[1], "get_weather");
    cr_assert_str_eq(a.args[1], "{\"city\":\"Oslo\"}");
    free(got);
}

static const char k_malformed_args[] =
    CHUNK(DELTA("{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":"
                "{\"name\":\"search\",\"arguments\":\"{\\\"q\\\": \"}}]}"))
        CHUNK("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}");

Test(format_chat, malformed_arguments_are_denied_even_when_the_stream_just_ends)
{
    struct te t;
    char *got = te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}",
                               k_malformed_args, 0, &t);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_calls, 0);
    cr_assert_eq(engine_call_tools_removed(t.c), 1);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_TOOLS, ENGINE_HOOK_RESPONSE);
    cr_assert_str_eq(d->why.code, "cordon.tool_arguments");
    free(got);
    te_close(&t);
}

Test(format_chat, a_held_call_is_judged_when_the_stream_ends_without_finish)
{
    static const char in[] =
        CHUNK(DELTA("{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\","
                    "\"function\":{\"name\":\"search\",\"arguments\":\"{}\"}}]}"));
    char *got =
        te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}", in, 0, NULL);
    struct acc a;
    accumulate(got, &a);
    cr_assert_eq(a.n_calls, 1);
    cr_assert_str_eq(a.names[0], "search");
    free(got);
}

Test(format_chat, observe_mode_forwards_every_byte)
{
    struct te t;
    char *got = te_stream_call(",\"mode\":\"observe\"" API, NULL, ENGINE_CHAT,
                               "{\"model\":\"m\",\"messages\":[]}", k_parallel, 0, &t);
    cr_assert_str_eq(got, k_parallel);
    cr_assert_eq(engine_call_tools_removed(t.c), 1, "the record says what enforce would do");
    free(got);
    te_close(&t);
}

Test(format_chat, mid_stream_errors_and_keepalives_pass_and_unreadable_events_do_not)
{
    static const char in[] = ": keep-alive\n\n" CHUNK(
        DELTA("{\"content\":\"a\"}")) "data: {not json \"tool_calls\"\n\n"
                                      "data: "
                                      "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_"
                                      "error\"}}\n\n";
    char *got =
        te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}", in, 0, NULL);
    cr_assert(strstr(got, ": keep-alive\n\n"));
    cr_assert(strstr(got, "overloaded"));
    cr_assert_null(strstr(got, "not json"));
    free(got);
}

Test(format_chat, a_line_over_the_limit_ends_the_stream_with_an_error_event)
{
    struct engine_options o = {.max_sse_line = 128};
    struct te t;
    te_open(&t, API, &o);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    char big[400];
    memset(big, 'x', sizeof big);
    memcpy(big, "data: ", 6);
    struct sink s = {0};
    cr_assert_eq(engine_stream_feed(t.c, big, sizeof big, sink_put, &s), ENGINE_ERR_SSE_LINE);
    cr_assert(strncmp(s.p, "data: {\"error\":", 15) == 0, "%s", s.p);
    cr_assert(strstr(s.p, "cordon.upstream_stream"));
    cr_assert_eq(engine_stream_feed(t.c, "\n\n", 2, sink_put, &s), ENGINE_ERR_STATE);
    free(s.p);
    te_close(&t);
}

Test(format_chat, held_calls_are_bounded)
{
    struct engine_options o = {.max_held = 64};
    struct te t;
    te_open(&t, API, &o);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    struct sink s = {0};
    int rc = 0;
    for (int i = 0; i < 20 && !rc; i++) {
        static const char c[] = CHUNK(DELTA("{\"tool_calls\":[{\"index\":0,\"function\":{"
                                            "\"arguments\":\"0123456789\"}}]}"));
        rc = engine_stream_feed(t.c, c, sizeof c - 1, sink_put, &s);
    }
    cr_assert_eq(rc, ENGINE_ERR_TOO_LARGE);
    cr_assert(strstr(s.p, "larger than 64 bytes"), "%s", s.p);
    free(s.p);
    te_close(&t);
}

Test(format_chat, complete_responses_are_judged)
{
    static const char resp[] =
        "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        "null,\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"shell\","
        "\"arguments\":\"{}\"}},{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":"
        "\"search\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}";
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
    cJSON *j = cJSON_Parse(out);
    cJSON *msg =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
    cJSON *tcs = cJSON_GetObjectItem(msg, "tool_calls");
    cr_assert_eq(cJSON_GetArraySize(tcs), 1);
    cr_assert_null(strstr(out, "shell"));
    cJSON_Delete(j);

    /* only denied calls, notice mode: content holds the notice, finish_reason stop */
    struct engine_options o = {.on_denied_call = ENGINE_CALL_NOTICE};
    te_close(&t);
    te_open(&t, ",\"api\":{\"models\":[\"*\"]}", &o);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
    j = cJSON_Parse(out);
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    msg = cJSON_GetObjectItem(ch, "message");
    cr_assert_null(cJSON_GetObjectItem(msg, "tool_calls"));
    cr_assert_str_eq(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "stop");
    cr_assert(strstr(cJSON_GetObjectItem(msg, "content")->valuestring, "\"search\" was removed"),
              "%s", out);
    cJSON_Delete(j);
    cr_assert_eq(engine_call_response(t.c, "{", 1, &out, &n), ENGINE_ERR_MALFORMED);
    te_close(&t);
}

Test(format_chat, an_unterminated_last_chunk_is_judged_not_passed)
{
    /* openai-node reads the data of a last event that lacks its blank line: the proxy must
     * judge it like any other, not forward its bytes as a tail */
    static const char in[] =
        CHUNK(DELTA("{\"content\":\"x\"}")) "data: {" ENV ",\"choices\":[{\"index\":0,\"delta\":{"
                                            "\"tool_calls\":[{\"index\":0,\"id\":"
                                            "\"c\",\"type\":\"function\",\"function\":{\"name\":"
                                            "\"shell\",\"arguments\":\"{}\"}}]},"
                                            "\"finish_reason\":\"tool_calls\"}]}";
    for (size_t split = 0; split < sizeof in - 1; split += 7) {
        char *got = te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}", in,
                                   split, NULL);
        cr_assert_null(strstr(got, "shell"), "split %zu: %s", split, got);
        struct acc a;
        accumulate(got, &a);
        cr_assert_str_eq(a.finish, "stop");
        free(got);
    }
}

Test(format_chat, a_one_megabyte_line_is_refused_at_the_default_limit)
{
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    size_t n = (1u << 20) + 16;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "data: ", 6);
    struct sink s = {0};
    cr_assert_eq(engine_stream_feed(t.c, big, n, sink_put, &s), ENGINE_ERR_SSE_LINE);
    cr_assert(strstr(s.p, "longer than 1048576 bytes"), "%s", s.p);
    free(big);
    free(s.p);
    te_close(&t);
}

Test(format_chat, several_choices_are_kept_apart)
{
    static const char in[] =
        CHUNK("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"type\":"
              "\"function\",\"function\":{\"name\":\"shell\",\"arguments\":\"{}\"}}]},"
              "\"finish_reason\":null},{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,"
              "\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":\"search\","
              "\"arguments\":\"{}\"}}]},\"finish_reason\":null}")
            CHUNK("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"},{\"index\":1,"
                  "\"delta\":{},\"finish_reason\":\"tool_calls\"}") "data: [DONE]\n\n";
    char *got =
        te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}", in, 0, NULL);
    cr_assert_null(strstr(got, "shell"));
    cr_assert(strstr(got, "\"choices\":[{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,"
                          "\"id\":\"b\""),
              "%s", got);
    cr_assert(strstr(got, "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"},{\"index\":1,"
                          "\"delta\":{},\"finish_reason\":\"tool_calls\"}"),
              "%s", got);
    free(got);
}

Test(format_chat, many_empty_calls_are_bounded_and_huge_indices_are_safe)
{
    struct engine_options o = {.max_held = 4096};
    struct te t;
    te_open(&t, API, &o);
    te_request(&t, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    struct sink s = {0};
    int rc = 0;
    for (int i = 0; i < 10000 && !rc; i++) {
        char c[256];
        snprintf(c, sizeof c, CHUNK(DELTA("{\"tool_calls\":[{\"index\":%d,\"id\":\"c%d\"}]}")), i,
                 i);
        rc = engine_stream_feed(t.c, c, strlen(c), sink_put, &s);
    }
    cr_assert_eq(rc, ENGINE_ERR_TOO_LARGE);
    te_close(&t);
    free(s.p);
    static const char in[] = CHUNK("{\"index\":1e300,\"delta\":{\"content\":\"x\"}}")
        CHUNK("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1e300,\"id\":\"a\","
              "\"function\":{\"name\":\"search\",\"arguments\":\"{}\"}}]},"
              "\"finish_reason\":\"tool_calls\"}");
    char *got =
        te_stream_call(API, NULL, ENGINE_CHAT, "{\"model\":\"m\",\"messages\":[]}", in, 0, NULL);
    cr_assert_null(strstr(got, "\"content\":\"x\""),
                   "an event with a choice out of range is dropped");
    cr_assert(strstr(got, "\"name\":\"search\""));
    free(got);
}
