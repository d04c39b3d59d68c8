/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI Embeddings: the input's texts are found for the data stage, tokens are counted,
 * wrong types refused, usage read. */
#include <criterion/criterion.h>

#include "policy/engine/internal.h"
#include "test_engine_support.h"

#define API ",\"api\":{\"models\":[\"text-embedding-*\"]}"

Test(format_embeddings, every_text_position_is_found)
{
    struct te t;
    te_open(&t, API, NULL);
    cr_assert_eq(te_request(&t, ENGINE_EMBEDDINGS,
                            "{\"model\":\"text-embedding-3-small\","
                            "\"input\":\"one\"}"),
                 ENGINE_ALLOW);
    cr_assert_eq(t.c->rq.n_texts, 1);
    cr_assert_str_eq(t.c->rq.texts[0].path, "input");
    cr_assert_eq(t.c->rq.texts[0].kind, ENGINE_TEXT_INPUT);
    cr_assert_eq(te_request(&t, ENGINE_EMBEDDINGS,
                            "{\"model\":\"text-embedding-3-small\","
                            "\"input\":[\"a\",\"b\",[1,2],3]}"),
                 ENGINE_ALLOW);
    cr_assert_eq(t.c->rq.n_texts, 2);
    cr_assert_str_eq(t.c->rq.texts[1].path, "input[1]");
    cr_assert_str_eq(t.c->rq.texts[1].text, "b");
    cr_assert_eq(t.c->rq.tokens_input, 2);
    int status;
    cr_assert_eq(te_request(&t, ENGINE_EMBEDDINGS,
                            "{\"model\":\"text-embedding-3-small\","
                            "\"input\":{\"a\":1}}"),
                 ENGINE_REFUSE);
    cr_assert(strstr(te_error(&t, &status), "cordon.malformed"));
    cr_assert_eq(status, 400);
    cr_assert_eq(te_request(&t, ENGINE_EMBEDDINGS, "{\"model\":\"gpt-4o\",\"input\":\"x\"}"),
                 ENGINE_REFUSE);
    cr_assert(strstr(te_error(&t, &status), "cordon.model_denied"));
    te_close(&t);
}

Test(format_embeddings, usage_is_read)
{
    struct te t;
    te_open(&t, API, NULL);
    te_request(&t, ENGINE_EMBEDDINGS, "{\"model\":\"text-embedding-3-small\",\"input\":\"x\"}");
    static const char resp[] = "{\"object\":\"list\",\"data\":[{\"embedding\":[0.1]}],"
                               "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";
    const char *out;
    size_t n;
    cr_assert_eq(engine_call_response(t.c, resp, sizeof resp - 1, &out, &n), ENGINE_ALLOW);
    uint64_t in, o;
    engine_call_tokens(t.c, &in, &o);
    cr_assert_eq(in, 8);
    cr_assert_eq(o, 0);
    te_close(&t);
}
