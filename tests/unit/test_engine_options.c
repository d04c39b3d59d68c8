/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy document as the engine runs it: engine_options_from_policy() for the api.* keys,
 * the object form of argument constraints, and one regex dialect for `cordon policy check`
 * (policy/deep.c) and the proxy (the engine).
 */
#include "tests/unit/test_engine_support.h"

#include <errno.h>

#include "policy/deep.h"

#define ALLOW_GET ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"get_*\"]"

Test(engine_options, defaults_and_each_key)
{
    struct engine_options o;
    char err[256] = "";
    struct policy *p = te_policy(ALLOW_GET "}}");
    memset(&o, 0x5a, sizeof o);
    cr_assert_eq(engine_options_from_policy(p, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.on_denied_definition, ENGINE_DEFINITION_STRIP);
    cr_assert_eq(o.on_denied_call, ENGINE_CALL_DROP);
    cr_assert_eq(o.allow_stored_context, 0);
    cr_assert_null(o.arg_rules);
    cr_assert_eq(o.n_arg_rules, 0);
    cr_assert_eq(o.max_sse_line, 0, "limits are the server's");
    policy_free(p);

    p = te_policy(ALLOW_GET ",\"on_denied_definition\":\"refuse\",\"on_denied_call\":"
                            "\"notice\"},\"previous_response_id\":\"allow\"}");
    cr_assert_eq(engine_options_from_policy(p, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.on_denied_definition, ENGINE_DEFINITION_REFUSE);
    cr_assert_eq(o.on_denied_call, ENGINE_CALL_NOTICE);
    cr_assert_eq(o.allow_stored_context, 1);

    /* a value no parser would give is refused, not guessed */
    p->api.on_denied_call = (enum policy_denied_call)7;
    cr_assert_eq(engine_options_from_policy(p, &o, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "api.tools.on_denied_call"), "%s", err);
    policy_free(p);
}

/* engine_new without options runs the policy's own: the keys reach the stages. */
Test(engine_options, engine_new_without_options_follows_the_policy)
{
    struct te t;
    int status;
    te_open(&t, ALLOW_GET ",\"on_denied_definition\":\"refuse\"}}", NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[],\"tools\":[{"
                            "\"type\":\"function\",\"function\":{\"name\":"
                            "\"shell\"}}]}"),
                 ENGINE_REFUSE);
    cr_assert(strstr(te_error(&t, &status), "on_denied_definition is refuse"));
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"m\",\"input\":\"x\","
                            "\"previous_response_id\":\"resp_1\"}"),
                 ENGINE_REFUSE);
    te_close(&t);

    te_open(&t, ALLOW_GET "},\"previous_response_id\":\"allow\"}", NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[],\"tools\":[{"
                            "\"type\":\"function\",\"function\":{\"name\":"
                            "\"shell\"}}]}"),
                 ENGINE_REWRITE, "strip by default");
    cr_assert_eq(te_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"m\",\"input\":\"x\","
                            "\"previous_response_id\":\"resp_1\"}"),
                 ENGINE_ALLOW);
    te_close(&t);
}

static int history_with(struct te *t, const char *args)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{"
             "\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"get_order\","
             "\"arguments\":\"%s\"}}]}]}",
             args);
    return te_request(t, ENGINE_CHAT, body);
}

static void expect(struct te *t, const char *args, int ok, const char *why)
{
    int status;
    int v = history_with(t, args);
    if (ok) {
        cr_assert_eq(v, ENGINE_ALLOW, "%s: %s", args,
                     v == ENGINE_REFUSE ? te_error(t, &status) : "");
        return;
    }
    cr_assert_eq(v, ENGINE_REFUSE, "%s", args);
    const char *err = te_error(t, &status);
    cr_assert(strstr(err, why), "%s: want %s in %s", args, why, err);
}

Test(engine_options, constraint_objects_from_the_policy_are_enforced)
{
    struct te t;
    te_open(&t,
            ALLOW_GET
            ",\"constraints\":{\"get_order\":{\"id\":\"\\\\d+\",\"region\":{"
            "\"enum\":[\"eu\",\"us\",7]},\"limit\":{\"min\":1,\"max\":50,\"optional\":true},"
            "\"note\":{\"pattern\":\"[a-z ]*\",\"optional\":true}}}}}",
            NULL);
    expect(&t, "{\\\"id\\\":\\\"12\\\",\\\"region\\\":\\\"eu\\\"}", 1, NULL);
    expect(&t, "{\\\"id\\\":12,\\\"region\\\":7,\\\"limit\\\":50,\\\"note\\\":\\\"ok\\\"}", 1,
           NULL);
    expect(&t, "{\\\"id\\\":\\\"1a\\\",\\\"region\\\":\\\"eu\\\"}", 0, "does not match");
    expect(&t, "{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"ap\\\"}", 0, "not one of the 3 values");
    expect(&t, "{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"eu\\\",\\\"limit\\\":0}", 0, "[1, 50]");
    expect(&t, "{\\\"id\\\":\\\"1\\\"}", 0, "lacks argument \\\"region\\\"");
    expect(&t, "{\\\"id\\\":\\\"1\\\",\\\"region\\\":\\\"eu\\\",\\\"note\\\":\\\"A\\\"}", 0,
           "api.tools.constraints");
    te_close(&t);
}

/* What the check accepts the proxy runs, with the same meaning; what it refuses the proxy
 * refuses to load. */
Test(engine_options, one_dialect_for_the_check_and_the_proxy)
{
    static const struct {
        const char *pattern; /* as JSON string text */
        int valid;
    } cases[] = {
        {"\\\\d{3}", 1}, /* vectorscan's \d: POSIX ERE has none */
        {"[[:alpha:]]+", 1}, {"(?i)abc", 1}, {"(a)\\\\1", 0}, /* back-reference */
        {"a(?=b)", 0},                                        /* look-ahead */
        {"a)|(b", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char extra[512];
        snprintf(extra, sizeof extra,
                 ALLOW_GET ",\"constraints\":{\"get_order\":{\"id\":\"%s\""
                           "}}}}",
                 cases[i].pattern);
        struct policy *p = te_policy(extra);
        struct diag d;
        diag_init(&d);
        size_t deep = policy_check_deep(p, DEEP_ZONEINFO_DIR, &d);
        struct engine *e = NULL;
        char err[512] = "";
        int rc = engine_new(p, NULL, &e, err, sizeof err);
        cr_assert_eq(deep == 0, cases[i].valid, "case %zu: check", i);
        cr_assert_eq(rc == 0, cases[i].valid, "case %zu: engine_new %d %s", i, rc, err);
        if (!cases[i].valid)
            cr_assert_eq(rc, ENGINE_ERR_REGEX, "case %zu", i);
        engine_free(e);
        policy_free(p);
    }

    struct te t;
    te_open(&t,
            ALLOW_GET ",\"constraints\":{\"get_order\":{\"id\":\"\\\\d{3}\",\"k\":"
                      "\"(?i)abc|x\"}}}}",
            NULL);
    expect(&t, "{\\\"id\\\":\\\"123\\\",\\\"k\\\":\\\"ABC\\\"}", 1, NULL);
    expect(&t, "{\\\"id\\\":\\\"123\\\",\\\"k\\\":\\\"x\\\"}", 1, NULL);
    expect(&t, "{\\\"id\\\":\\\"ddd\\\",\\\"k\\\":\\\"x\\\"}", 0, "does not match");
    expect(&t, "{\\\"id\\\":\\\"123\\\",\\\"k\\\":\\\"abcx\\\"}", 0, "does not match");
    expect(&t, "{\\\"id\\\":\\\"123\\\\\\\\n\\\",\\\"k\\\":\\\"x\\\"}", 0, "does not match");
    te_close(&t);
}
