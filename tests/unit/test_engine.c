/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's pipeline: each stage's request decision, refusals in the client's shape,
 * hostile bodies, observe mode, the fail-closed placeholders, tool authorization on the
 * request, argument rules, and the audit record. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>

#include "test_engine_support.h"

#define API_OK                                                                                     \
    ",\"api\":{\"models\":[\"gpt-4o*\",\"claude-*\"],\"tools\":{\"allow\":[\"get_*\","             \
    "\"search\"],\"deny\":[\"get_secret\"]}}"

#define CHAT(extra)                                                                                \
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","                                 \
    "\"content\":\"hi\"}]" extra "}"

Test(engine, paths_map_to_formats_with_and_without_v1)
{
    cr_assert_eq(engine_format_for_path("/v1/chat/completions"), ENGINE_CHAT);
    cr_assert_eq(engine_format_for_path("/chat/completions"), ENGINE_CHAT);
    cr_assert_eq(engine_format_for_path("/v1/messages?beta=true"), ENGINE_MESSAGES);
    cr_assert_eq(engine_format_for_path("/responses"), ENGINE_RESPONSES);
    cr_assert_eq(engine_format_for_path("/v1/embeddings"), ENGINE_EMBEDDINGS);
    cr_assert_eq(engine_format_for_path("/v1/models"), -ENOENT);
    cr_assert_eq(engine_format_for_path("/v2/messages"), -ENOENT);
}

Test(engine, an_allowed_call_is_forwarded_unchanged)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT, CHAT("")), ENGINE_ALLOW);
    cr_assert_str_eq(engine_call_model(t.c), "gpt-4o-mini");
    for (int s = 0; s < ENGINE_N_STAGES; s++) {
        const struct engine_decision *d = engine_call_decision(t.c, s, ENGINE_HOOK_REQUEST);
        int has_hook =
            s != ENGINE_STAGE_UPSTREAM && s != ENGINE_STAGE_USAGE && s != ENGINE_STAGE_AUDIT;
        cr_assert_eq(d->ran, has_hook, "stage %s", engine_stage_name(s));
        if (d->ran)
            cr_assert_eq(d->verdict, ENGINE_ALLOW, "stage %s", engine_stage_name(s));
    }
    te_close(&t);
}

Test(engine, a_denied_model_is_refused_in_each_clients_shape)
{
    struct te t;
    int status;
    te_open(&t, API_OK, NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT, "{\"model\":\"o3\",\"messages\":[]}"), ENGINE_REFUSE);
    const char *body = te_error(&t, &status);
    cr_assert_eq(status, 403);
    cJSON *j = cJSON_Parse(body);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "code")->valuestring, "cordon.model_denied");
    cr_assert(strstr(cJSON_GetObjectItem(e, "message")->valuestring, "\"o3\" is not allowed"));
    cr_assert(strstr(cJSON_GetObjectItem(e, "message")->valuestring, "\"gpt-4o*\""),
              "the message lists what is allowed");
    cJSON_Delete(j);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_TOOLS, ENGINE_HOOK_REQUEST);
    cr_assert_eq(d->ran, 0, "a stage after the refusal does not run");

    cr_assert_eq(te_request(&t, ENGINE_MESSAGES,
                            "{\"model\":\"gpt-3\",\"max_tokens\":5,"
                            "\"messages\":[]}"),
                 ENGINE_REFUSE);
    body = te_error(&t, &status);
    j = cJSON_Parse(body);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "type")->valuestring, "error");
    e = cJSON_GetObjectItem(j, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "permission_error");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "code")->valuestring, "cordon.model_denied");
    cJSON_Delete(j);
    te_close(&t);
}

Test(engine, no_models_in_the_policy_means_no_model)
{
    struct te t;
    int status;
    te_open(&t, "", NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT, CHAT("")), ENGINE_REFUSE);
    cr_assert(strstr(te_error(&t, &status), "allowed: none"));
    te_close(&t);
}

static void expect_malformed(struct te *t, enum engine_format f, const char *body,
                             const char *needle)
{
    int status;
    cr_assert_eq(te_request(t, f, body), ENGINE_REFUSE, "%s", body);
    const char *err = te_error(t, &status);
    cr_assert_eq(status, 400, "%s", body);
    cr_assert(strstr(err, "cordon.malformed"), "%s", err);
    cr_assert(strstr(err, needle), "want \"%s\" in %s", needle, err);
}

Test(engine, hostile_bodies_are_refused_with_400)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    expect_malformed(&t, ENGINE_CHAT, "", "unexpected end");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":", "unexpected end");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",}", "expected a member name");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\"} x", "text after");
    expect_malformed(&t, ENGINE_CHAT, "[1,2]", "must be a JSON object");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"o3\",\"model\":\"gpt-4o\",\"messages\":[]}",
                     "two members named \\\"model\\\"");
    expect_malformed(&t, ENGINE_CHAT,
                     "{\"model\":\"o3\",\"mod\\u0065l\":\"gpt-4o\",\"messages\":[]}",
                     "two members named");
    expect_malformed(&t, ENGINE_CHAT, CHAT(",\"x\":\"a\\u0000b\""), "\\\\u0000");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[],\"x\":01}",
                     "expected ','");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[],\"x\":-}",
                     "bad number");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[],\"x\":1.e5}",
                     "bad number");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":\"hi\"}",
                     "\\\"messages\\\" must be an array");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":5,\"messages\":[]}", "\\\"model\\\" must be");
    expect_malformed(&t, ENGINE_CHAT, CHAT(",\"stream\":\"yes\""), "\\\"stream\\\"");
    expect_malformed(&t, ENGINE_CHAT,
                     "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
                     "messages[0].content");
    expect_malformed(&t, ENGINE_CHAT,
                     "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
                     "\"content\":[{\"type\":\"text\",\"text\":{}}]}]}",
                     "messages[0].content[0].text must be a string");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[\"x\\q\"]}",
                     "bad escape");
    expect_malformed(&t, ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[\"a\nb\"]}",
                     "control character");
    te_close(&t);
}

Test(engine, nesting_is_bounded_at_128)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    for (int depth = 127; depth <= 129; depth++) {
        /* the body itself is depth 1; x holds depth - 1 more */
        size_t n = (size_t)depth * 2 + 128;
        char *b = malloc(n);
        size_t o = (size_t)snprintf(b, n, "{\"model\":\"gpt-4o\",\"messages\":[],\"x\":");
        for (int i = 1; i < depth; i++)
            b[o++] = '[';
        b[o++] = '1';
        for (int i = 1; i < depth; i++)
            b[o++] = ']';
        b[o++] = '}';
        b[o] = '\0';
        int v = te_request(&t, ENGINE_CHAT, b);
        if (depth <= 128) {
            cr_assert_eq(v, ENGINE_ALLOW, "depth %d", depth);
        } else {
            int status;
            cr_assert_eq(v, ENGINE_REFUSE, "depth %d", depth);
            cr_assert(strstr(te_error(&t, &status), "nesting deeper than 128"));
        }
        free(b);
    }
    /* 10,000 deep does not recurse the stack away */
    size_t n = 20000 + 64;
    char *b = malloc(n);
    memset(b, '[', 10000);
    memset(b + 10000, ']', 10000);
    b[20000] = '\0';
    cr_assert_eq(te_request(&t, ENGINE_CHAT, b), ENGINE_REFUSE);
    free(b);
    te_close(&t);
}

Test(engine, unknown_fields_pass_through)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT, CHAT(",\"future_field\":{\"a\":[1,2]}")),
                 ENGINE_ALLOW);
    te_close(&t);
}

Test(engine, a_quarantined_agent_is_refused_first)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "a", .quarantined = 1};
    cr_assert_eq(engine_call_new(t.e, &info, &t.c), 0);
    const char *o;
    size_t n;
    cr_assert_eq(engine_call_request(t.c, CHAT(""), strlen(CHAT("")), &o, &n), ENGINE_REFUSE);
    int status;
    cr_assert(strstr(te_error(&t, &status), "cordon.quarantined"));
    cr_assert_eq(status, 403);
    cr_assert_eq(engine_call_decision(t.c, ENGINE_STAGE_MODELS, ENGINE_HOOK_REQUEST)->ran, 0);
    te_close(&t);
}

Test(engine, a_quarantine_says_since_when_and_how_to_release)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    struct engine_call_info info = {.format = ENGINE_CHAT,
                                    .agent = "a",
                                    .quarantined = 1,
                                    .quarantined_since_ms = 1800000000000LL};
    cr_assert_eq(engine_call_new(t.e, &info, &t.c), 0);
    const char *o;
    size_t n;
    cr_assert_eq(engine_call_request(t.c, CHAT(""), strlen(CHAT("")), &o, &n), ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert(strstr(err, "since 2027-01-15T08:00:00Z"), "%s", err);
    cr_assert(strstr(err, "cordon agent release a"), "%s", err);
    te_close(&t);
}

Test(engine, a_quarantine_holds_in_observe_mode)
{
    struct te t;
    te_open(&t, ",\"mode\":\"observe\"" API_OK, NULL);
    struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "a", .quarantined = 1};
    cr_assert_eq(engine_call_new(t.e, &info, &t.c), 0);
    const char *o;
    size_t n;
    cr_assert_eq(engine_call_request(t.c, CHAT(""), strlen(CHAT("")), &o, &n), ENGINE_REFUSE);
    int status;
    cr_assert(strstr(te_error(&t, &status), "cordon.quarantined"));
    te_close(&t);
}

Test(engine, observe_mode_decides_records_and_forwards)
{
    struct te t;
    te_open(&t, ",\"mode\":\"observe\"" API_OK, NULL);
    const char *body = "{\"model\":\"o3\",\"messages\":[],\"tools\":[{\"type\":\"function\","
                       "\"function\":{\"name\":\"rm_rf\"}}]}";
    cr_assert_eq(te_request(&t, ENGINE_CHAT, body), ENGINE_ALLOW);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_MODELS, ENGINE_HOOK_REQUEST);
    cr_assert_eq(d->verdict, ENGINE_REFUSE, "what enforce mode would have done");
    cr_assert_str_eq(d->why.code, "cordon.model_denied");
    d = engine_call_decision(t.c, ENGINE_STAGE_TOOLS, ENGINE_HOOK_REQUEST);
    cr_assert_eq(d->ran, 1, "later stages still decide");
    cr_assert_eq(d->verdict, ENGINE_REWRITE);
    cr_assert_null(t.out, "the body goes on unchanged");
    engine_call_finish(t.c, 5);
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "\"mode\":\"observe\""), "%s", rec);
    cr_assert(strstr(rec, "cordon.model_denied"), "%s", rec);
    free(rec);
    te_close(&t);
}

static cJSON *rewritten(struct te *t)
{
    cr_assert_eq(t->verdict, ENGINE_REWRITE);
    cr_assert_not_null(t->out);
    cJSON *j = cJSON_ParseWithLength(t->out, t->out_len);
    cr_assert_not_null(j);
    return j;
}

Test(engine, denied_tool_definitions_are_stripped)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    te_request(&t, ENGINE_CHAT,
               CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
                    "{\"type\":\"function\",\"function\":{\"name\":\"get_secret\"}},"
                    "{\"type\":\"function\",\"function\":{\"name\":\"shell\"}}],"
                    "\"tool_choice\":\"auto\""));
    cJSON *j = rewritten(&t);
    cJSON *tools = cJSON_GetObjectItem(j, "tools");
    cr_assert_eq(cJSON_GetArraySize(tools), 1);
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(tools->child, "function"), "name")->valuestring,
        "get_weather");
    cr_assert_not_null(cJSON_GetObjectItem(j, "tool_choice"), "a tool is left: keep the choice");
    cJSON_Delete(j);

    /* every tool denied: the array and the keys that need it go */
    te_request(&t, ENGINE_CHAT,
               CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                    "\"shell\"}}],\"tool_choice\":\"auto\","
                    "\"parallel_tool_calls\":true"));
    j = rewritten(&t);
    cr_assert_null(cJSON_GetObjectItem(j, "tools"));
    cr_assert_null(cJSON_GetObjectItem(j, "tool_choice"));
    cr_assert_null(cJSON_GetObjectItem(j, "parallel_tool_calls"));
    cJSON_Delete(j);

    /* the legacy functions array too */
    te_request(&t, ENGINE_CHAT, CHAT(",\"functions\":[{\"name\":\"search\"},{\"name\":\"rm\"}]"));
    j = rewritten(&t);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "functions")), 1);
    cJSON_Delete(j);

    /* Anthropic and Responses shapes */
    te_request(&t, ENGINE_MESSAGES,
               "{\"model\":\"claude-x\",\"max_tokens\":9,\"messages\":[],"
               "\"tools\":[{\"name\":\"get_a\",\"input_schema\":{}},"
               "{\"name\":\"exec\",\"input_schema\":{}}],"
               "\"tool_choice\":{\"type\":\"auto\"}}");
    j = rewritten(&t);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tools")), 1);
    cJSON_Delete(j);
    te_request(&t, ENGINE_RESPONSES,
               "{\"model\":\"gpt-4o\",\"input\":\"x\",\"tools\":["
               "{\"type\":\"function\",\"name\":\"exec\"},"
               "{\"type\":\"web_search\"}]}");
    j = rewritten(&t);
    cr_assert_null(cJSON_GetObjectItem(j, "tools"), "a built-in tool is judged by its type");
    cJSON_Delete(j);
    te_close(&t);
}

Test(engine, on_denied_definition_refuse)
{
    struct te t;
    struct engine_options o = {.on_denied_definition = ENGINE_DEFINITION_REFUSE};
    int status;
    te_open(&t, API_OK, &o);
    cr_assert_eq(te_request(&t, ENGINE_CHAT,
                            CHAT(",\"tools\":[{\"type\":\"function\","
                                 "\"function\":{\"name\":\"shell\"}}]")),
                 ENGINE_REFUSE);
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 403);
    cr_assert(strstr(err, "cordon.tool_denied"));
    cr_assert(strstr(err, "\\\"shell\\\" is not in api.tools.allow"), "%s", err);
    te_close(&t);
}

Test(engine, a_tool_choice_forcing_a_denied_tool_is_refused)
{
    struct te t;
    int status;
    te_open(&t, API_OK, NULL);
    static const struct {
        enum engine_format f;
        const char *body;
    } cases[] = {
        {ENGINE_CHAT, CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"shell\""
                           "}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
                           "\"shell\"}}")},
        {ENGINE_CHAT, CHAT(",\"functions\":[{\"name\":\"shell\"}],\"function_call\":{\"name\":"
                           "\"shell\"}")},
        {ENGINE_CHAT, CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"shell\""
                           "}}],\"tool_choice\":\"required\"")},
        {ENGINE_MESSAGES, "{\"model\":\"claude-x\",\"messages\":[],\"tools\":[{\"name\":"
                          "\"shell\"}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"shell\"}}"},
        {ENGINE_MESSAGES, "{\"model\":\"claude-x\",\"messages\":[],\"tools\":[{\"name\":"
                          "\"shell\"}],\"tool_choice\":{\"type\":\"any\"}}"},
        {ENGINE_RESPONSES, "{\"model\":\"gpt-4o\",\"input\":\"x\",\"tools\":[{\"type\":"
                           "\"function\",\"name\":\"shell\"}],\"tool_choice\":{\"type\":"
                           "\"function\",\"name\":\"shell\"}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(te_request(&t, cases[i].f, cases[i].body), ENGINE_REFUSE, "case %zu", i);
        cr_assert(strstr(te_error(&t, &status), "cordon.tool_choice_denied"), "case %zu", i);
    }
    te_close(&t);
}

Test(engine, history_cannot_smuggle_a_denied_call)
{
    struct te t;
    int status;
    te_open(&t, API_OK, NULL);
    static const struct {
        enum engine_format f;
        const char *body;
    } cases[] = {
        {ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"assistant\",\"content\":"
                      "null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{"
                      "\"name\":\"shell\",\"arguments\":\"{}\"}}]}]}"},
        {ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"assistant\","
                      "\"function_call\":{\"name\":\"get_secret\",\"arguments\":\"{}\"}}]}"},
        {ENGINE_MESSAGES, "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"assistant\","
                          "\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"shell\","
                          "\"input\":{}}]}]}"},
        {ENGINE_RESPONSES, "{\"model\":\"gpt-4o\",\"input\":[{\"type\":\"function_call\","
                           "\"call_id\":\"c\",\"name\":\"shell\",\"arguments\":\"{}\"}]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(te_request(&t, cases[i].f, cases[i].body), ENGINE_REFUSE, "case %zu", i);
        const char *err = te_error(&t, &status);
        cr_assert(strstr(err, "cordon.tool_history"), "case %zu: %s", i, err);
    }
    /* an allowed call in the history is fine */
    cr_assert_eq(te_request(&t, ENGINE_CHAT,
                            "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"assistant\","
                            "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{"
                            "\"name\":\"search\",\"arguments\":\"{\\\"q\\\":1}\"}}]},{\"role\":"
                            "\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"}]}"),
                 ENGINE_ALLOW);
    te_close(&t);
}

/* Tool results are judged by the tool of the call they answer: a result for a denied tool,
 * or for a call the conversation does not hold, is refused in every format. */
Test(engine, tool_results_are_judged_by_their_call)
{
    struct te t;
    int status;
    te_open(&t, API_OK, NULL);
    static const struct {
        enum engine_format f;
        const char *body;
        const char *want; /* in the refusal, or NULL: allowed */
    } cases[] = {
        /* chat: the legacy function role names a denied function */
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"function\",\"name\":\"get_secret\","
         "\"content\":\"s3cr3t\"}]}",
         "tool \\\"get_secret"},
        /* chat: a tool message for a call no assistant turn made */
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"ghost\","
         "\"content\":\"r\"}]}",
         "ghost"},
        /* chat: the result answers an allowed call */
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
         "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"search\",\"arguments\":\"{}\"}}]},"
         "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"}]}",
         NULL},
        /* chat: a result that comes before the call it names */
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c1\","
         "\"content\":\"r\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":"
         "\"function\",\"function\":{\"name\":\"search\",\"arguments\":\"{}\"}}]}]}",
         "c1"},
        /* chat: a tool message that names no call */
        {ENGINE_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}",
         "tool_call_id"},
        /* Anthropic: a tool_result whose tool_use is not in the conversation */
        {ENGINE_MESSAGES,
         "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
         "\"tool_result\",\"tool_use_id\":\"toolu_9\",\"content\":\"r\"}]}]}",
         "toolu_9"},
        {ENGINE_MESSAGES,
         "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
         "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_order\",\"input\":{}}]},{\"role\":"
         "\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
         "\"content\":\"r\"}]}]}",
         NULL},
        /* Responses: a function_call_output for an unknown call_id */
        {ENGINE_RESPONSES,
         "{\"model\":\"gpt-4o\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":"
         "\"call_x\",\"output\":\"r\"}]}",
         "call_x"},
        {ENGINE_RESPONSES,
         "{\"model\":\"gpt-4o\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"call_1\","
         "\"name\":\"search\",\"arguments\":\"{}\"},{\"type\":\"function_call_output\","
         "\"call_id\":\"call_1\",\"output\":\"r\"}]}",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        enum engine_verdict v = te_request(&t, cases[i].f, cases[i].body);
        if (!cases[i].want) {
            cr_assert_eq(v, ENGINE_ALLOW, "case %zu: %s", i, te_error(&t, &status));
            continue;
        }
        cr_assert_eq(v, ENGINE_REFUSE, "case %zu", i);
        const char *err = te_error(&t, &status);
        cr_assert(strstr(err, cases[i].want), "case %zu: %s", i, err);
        if (strcmp(cases[i].want, "tool_call_id") != 0) {
            cr_assert_eq(status, 403, "case %zu", i);
            cr_assert(strstr(err, "cordon.tool_result"), "case %zu: %s", i, err);
        } else {
            cr_assert_eq(status, 400, "case %zu", i);
        }
    }
    te_close(&t);
    /* with stored context the policy allows, the call may be in the part the proxy cannot
     * see: an unknown call id then passes, a result naming a denied tool still does not */
    struct engine_options o = {.allow_stored_context = 1};
    te_open(&t, API_OK, &o);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"previous_response_id\":\"resp_1\",\"input\":"
                            "[{\"type\":\"function_call_output\",\"call_id\":\"call_x\","
                            "\"output\":\"r\"}]}"),
                 ENGINE_ALLOW);
    te_close(&t);
}

Test(engine, stored_context_is_refused_unless_allowed)
{
    struct te t;
    int status;
    te_open(&t, API_OK, NULL);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"input\":\"x\","
                            "\"previous_response_id\":\"resp_1\"}"),
                 ENGINE_REFUSE);
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 403);
    cr_assert(strstr(err, "cordon.stored_context"), "%s", err);
    cr_assert(strstr(err, "previous_response_id"), "%s", err);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"input\":\"x\","
                            "\"conversation\":\"conv_1\"}"),
                 ENGINE_REFUSE);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"input\":[{\"type\":"
                            "\"item_reference\",\"id\":\"msg_1\"}]}"),
                 ENGINE_REFUSE);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"input\":\"x\","
                            "\"previous_response_id\":null}"),
                 ENGINE_ALLOW);
    te_close(&t);
    struct engine_options o = {.allow_stored_context = 1};
    te_open(&t, API_OK, &o);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"input\":\"x\","
                            "\"previous_response_id\":\"resp_1\"}"),
                 ENGINE_ALLOW);
    te_close(&t);
}

/* A chat history holding one call of get_order with args (a JSON text, escaped for a JSON
 * string already). */
static int history_with(struct te *t, const char *args)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{"
             "\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"get_order\","
             "\"arguments\":\"%s\"}}]}]}",
             args);
    return te_request(t, ENGINE_CHAT, body);
}

Test(engine, argument_rules_pattern_enum_range_presence_and_json)
{
    static const char *const regions[] = {"eu", "us"};
    static const struct engine_arg_rule rules[] = {
        {.tool = "get_*", .arg = "region", .enum_v = regions, .n_enum = 2},
        {.tool = "get_order", .arg = "limit", .has_min = 1, .min = 1, .has_max = 1, .max = 50},
        {.tool = "get_order", .arg = "note", .pattern = "[a-z ]*", .optional = 1},
    };
    struct engine_options o = {.arg_rules = rules, .n_arg_rules = 3};
    struct te t;
    int status;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"get_*\"],\"constraints\":"
            "{\"get_order\":{\"id\":\"[0-9]+\"}}}}",
            &o);
    static const struct {
        const char *args;
        int ok;
        const char *why;
    } cases[] = {
        {"{\\\"id\\\":\\\"123\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":10}", 1, NULL},
        {"{\\\"id\\\":123,\\\"region\\\":\\\"us\\\",\\\"limit\\\":50,\\\"note\\\":\\\"ok\\\"}", 1,
         NULL},
        {"{\\\"id\\\":\\\"12a\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":10}", 0,
         "does not match"},
        {"{\\\"id\\\":\\\"1\\\\n2\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":10}", 0,
         "does not match"},
        {"{\\\"region\\\":\\\"eu\\\",\\\"limit\\\":10}", 0, "lacks argument \\\"id\\\""},
        {"{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"ap\\\",\\\"limit\\\":10}", 0, "not one of"},
        {"{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":51}", 0, "[1, 50]"},
        {"{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":\\\"5\\\"}", 0, "[1, 50]"},
        {"{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":5,\\\"note\\\":\\\"A\\\"}",
         0, "does not match"},
        {"{\\\"id\\\":[1],\\\"region\\\":\\\"eu\\\",\\\"limit\\\":5}", 0, "string or a number"},
        {"{\\\"id\\\":\\\"1\\\",", 0, "not a JSON object"},
        {"[1]", 0, "not a JSON object"},
        {"{\\\"id\\\":\\\"1\\\",\\\"id\\\":\\\"x\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":5}", 0,
         "two members"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int v = history_with(&t, cases[i].args);
        if (cases[i].ok) {
            cr_assert_eq(v, ENGINE_ALLOW, "case %zu", i);
            continue;
        }
        cr_assert_eq(v, ENGINE_REFUSE, "case %zu", i);
        const char *err = te_error(&t, &status);
        cr_assert(strstr(err, cases[i].why), "case %zu: want %s in %s", i, cases[i].why, err);
    }
    te_close(&t);
}

Test(engine, a_pattern_that_does_not_compile_fails_engine_new)
{
    static const struct engine_arg_rule rules[] = {{.tool = "t", .arg = "a", .pattern = "("}};
    struct engine_options o = {.arg_rules = rules, .n_arg_rules = 1};
    struct policy *p = te_policy("");
    struct engine *e = NULL;
    char err[256];
    cr_assert_eq(engine_new(p, &o, &e, err, sizeof err), ENGINE_ERR_REGEX);
    cr_assert(strstr(err, "tool \"t\" argument \"a\""), "%s", err);
    cr_assert_null(e);
    policy_free(p);
}

Test(engine, the_audit_record_lists_every_stage_and_hook)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    te_request(&t, ENGINE_CHAT, CHAT(""));
    engine_call_upstream(t.c, 1, NULL);
    const char *resp = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"hello\"},\"finish_reason\":\"stop\"}],"
                       "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3}}";
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, strlen(resp), &out, &n), ENGINE_ALLOW);
    engine_call_finish(t.c, 42);
    char *rec = engine_call_audit_json(t.c);
    cJSON *j = cJSON_Parse(rec);
    cr_assert_not_null(j, "%s", rec);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "agent")->valuestring, "a");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "session")->valuestring, "s1");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "gpt-4o-mini");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "endpoint")->valuestring, "/v1/chat/completions");
    cJSON *stages = cJSON_GetObjectItem(j, "stages");
    cr_assert_eq(cJSON_GetArraySize(stages), ENGINE_N_STAGES);
    cJSON *models = cJSON_GetArrayItem(stages, ENGINE_STAGE_MODELS);
    cr_assert_str_eq(cJSON_GetObjectItem(models, "stage")->valuestring, "models");
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(models, "request"), "decision")->valuestring,
        "allow");
    cr_assert_str_eq(cJSON_GetObjectItem(models, "response")->valuestring, "not run");
    cJSON *up = cJSON_GetArrayItem(stages, ENGINE_STAGE_UPSTREAM);
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(up, "request"), "decision")->valuestring, "allow");
    cJSON *usage = cJSON_GetArrayItem(stages, ENGINE_STAGE_USAGE);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(usage, "response"), "events")->valueint, 2,
                 "a text and a usage event");
    cJSON *tok = cJSON_GetObjectItem(j, "tokens");
    cr_assert_eq(cJSON_GetObjectItem(tok, "input")->valueint, 11);
    cr_assert_eq(cJSON_GetObjectItem(tok, "output")->valueint, 3);
    cr_assert_eq(cJSON_GetObjectItem(j, "latency_ms")->valueint, 42);
    /* digests: of the request body, and of the response as sent */
    unsigned char d[32];
    char h[65];
    crypto_hash_sha256(d, (const unsigned char *)CHAT(""), strlen(CHAT("")));
    sodium_bin2hex(h, sizeof h, d, 32);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "prompt_sha256")->valuestring, h);
    crypto_hash_sha256(d, (const unsigned char *)resp, strlen(resp));
    sodium_bin2hex(h, sizeof h, d, 32);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "response_sha256")->valuestring, h);
    cr_assert_null(cJSON_GetObjectItem(j, "prompt"), "no text unless the policy asks");
    cJSON_Delete(j);
    free(rec);
    te_close(&t);
}

Test(engine, the_record_keeps_text_when_the_policy_asks)
{
    struct te t;
    te_open(&t, ",\"api\":{\"models\":[\"*\"],\"audit\":{\"prompts\":\"text\"}}", NULL);
    te_request(&t, ENGINE_CHAT, CHAT(""));
    const char *resp = "{\"choices\":[{\"message\":{\"content\":\"the answer\"}}]}";
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, strlen(resp), &out, &n), ENGINE_ALLOW);
    engine_call_finish(t.c, 1);
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "{\"path\":\"messages[0].content\",\"kind\":\"user\",\"text\":\"hi\"}"),
              "%s", rec);
    cr_assert(strstr(rec, "\"response_text\":\"the answer\""), "%s", rec);
    free(rec);
    te_close(&t);
}

Test(engine, calls_used_out_of_order_say_so)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "a"};
    cr_assert_eq(engine_call_new(t.e, &info, &t.c), 0);
    struct sink s = {0};
    cr_assert_eq(engine_stream_feed(t.c, "x", 1, sink_put, &s), ENGINE_ERR_STATE);
    int status;
    const char *b;
    size_t n;
    cr_assert_eq(engine_call_error(t.c, &status, &b, &n), ENGINE_ERR_STATE);
    te_request(&t, ENGINE_CHAT, CHAT(""));
    cr_assert_eq(engine_call_request(t.c, "{}", 2, &b, &n), ENGINE_ERR_STATE);
    info.format = (enum engine_format)99;
    struct engine_call *c = NULL;
    cr_assert_eq(engine_call_new(t.e, &info, &c), -EINVAL);
    te_close(&t);
    free(s.p);
}

Test(engine, observe_mode_records_a_stored_context_it_would_refuse)
{
    struct te t;
    te_open(&t, ",\"mode\":\"observe\"" API_OK, NULL);
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"input\":\"x\","
                            "\"previous_response_id\":\"resp_1\"}"),
                 ENGINE_ALLOW);
    engine_call_finish(t.c, 1);
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "\"would_refuse\":{\"status\":403,\"code\":\"cordon.stored_context\""),
              "%s", rec);
    free(rec);
    te_close(&t);
}

Test(engine, the_models_list_is_filtered_by_api_models)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    static const char openai[] = "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":"
                                 "\"model\"},{\"id\":\"o3\",\"object\":\"model\"},{\"id\":"
                                 "\"gpt-4o-mini\",\"object\":\"model\"}]}";
    char *out = NULL;
    size_t n;
    cr_assert_eq(engine_models_filter(t.e, openai, sizeof openai - 1, &out, &n), 0);
    cr_assert_str_eq(out, "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":"
                          "\"model\"},{\"id\":\"gpt-4o-mini\",\"object\":\"model\"}]}");
    free(out);
    static const char anthropic[] = "{\"data\":[{\"id\":\"x-1\",\"type\":\"model\"},{\"id\":"
                                    "\"claude-a\",\"type\":\"model\"},{\"id\":\"claude-b\","
                                    "\"type\":\"model\"},{\"id\":\"y\"}],\"has_more\":false,"
                                    "\"first_id\":\"x-1\",\"last_id\":\"y\"}";
    cr_assert_eq(engine_models_filter(t.e, anthropic, sizeof anthropic - 1, &out, &n), 0);
    cr_assert(strstr(out, "\"first_id\":\"claude-a\",\"last_id\":\"claude-b\""), "%s", out);
    cr_assert_null(strstr(out, "x-1"));
    free(out);
    cr_assert_eq(engine_models_filter(t.e, "{\"data\":5}", 10, &out, &n), ENGINE_ERR_MALFORMED);
    cr_assert_eq(engine_models_filter(t.e, "{", 1, &out, &n), ENGINE_ERR_MALFORMED);
    te_close(&t);
}

Test(engine, upstream_failures_in_the_clients_shape)
{
    struct te t;
    te_open(&t, API_OK, NULL);
    te_request(&t, ENGINE_MESSAGES, "{\"model\":\"claude-x\",\"messages\":[]}");
    struct engine_reason why;
    snprintf(why.code, sizeof why.code, "cordon.upstream");
    snprintf(why.message, sizeof why.message, "upstream \"anthropic\" timed out after 30 s");
    why.status = 504;
    engine_call_upstream(t.c, 0, &why);
    int status;
    const char *body = te_error(&t, &status);
    cr_assert_eq(status, 504);
    cr_assert(strstr(body, "\"type\":\"error\",\"error\":{\"type\":\"api_error\""), "%s", body);
    cr_assert(strstr(body, "timed out"));
    te_close(&t);
    te_open(&t, API_OK, NULL);
    te_request(&t, ENGINE_CHAT, CHAT(",\"stream\":true"));
    struct sink s = {0};
    why.status = 502;
    cr_assert_eq(engine_stream_error(t.c, &why, sink_put, &s), 0);
    static const char want[] = "data: {\"error\":{\"message\":\"upstream";
    cr_assert(strncmp(s.p, want, sizeof want - 1) == 0, "%s", s.p);
    engine_call_finish(t.c, 1);
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "\"stage\":\"upstream\""), "%s", rec);
    free(rec);
    free(s.p);
    te_close(&t);
}

Test(engine, tool_arguments_are_digested_or_kept_as_the_policy_says)
{
    static const char resp[] =
        "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
        "\"function\":{\"name\":\"search\",\"arguments\":\"{\\\"q\\\":\\\"cats\\\"}\"}},{\"id\":"
        "\"b\",\"type\":\"function\",\"function\":{\"name\":\"rm\",\"arguments\":\"{}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}]}";
    for (int text = 0; text < 2; text++) {
        struct te t;
        te_open(&t,
                text ? ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"search\"]},"
                       "\"audit\":{\"tool_arguments\":\"text\"}}"
                     : API_OK,
                NULL);
        te_request(&t, ENGINE_CHAT, CHAT(""));
        const char *out;
        size_t n;
        cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_REWRITE);
        engine_call_finish(t.c, 1);
        char *rec = engine_call_audit_json(t.c);
        cr_assert(strstr(rec, "\"allowed_calls\":[{\"name\":\"search\",\"arguments_sha256\":\""),
                  "%s", rec);
        cr_assert_eq(strstr(rec, "\"arguments\":\"{\\\"q\\\":\\\"cats\\\"}\"") != NULL, text, "%s",
                     rec);
        free(rec);
        te_close(&t);
    }
}
