/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenAI Embeddings (POST /v1/embeddings): the input goes through the data stage like a
 * prompt. It is a string, an array of strings, or tokens (an array of integers, or of
 * arrays of integers); tokens carry no text the extractor can hand over, and are counted in
 * tokens_input so that the data stage can refuse what it cannot read. No tools, no stream.
 */
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GET cJSON_GetObjectItemCaseSensitive

static int embeddings_inspect(struct engine_request *rq, struct engine_reason *why)
{
    cJSON *r = rq->root;
    int rc;
    if ((rc = format_model_stream(rq, 0, why)) != 0)
        return rc;
    cJSON *in = GET(r, "input");
    if (cJSON_IsString(in))
        return format_add_text(rq, ENGINE_TEXT_INPUT, in, "input");
    if (!cJSON_IsArray(in))
        return format_bad(why, "\"input\" must be a string, an array of strings or tokens");
    int i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, in)
    {
        if (cJSON_IsString(e)) {
            if (format_add_text(rq, ENGINE_TEXT_INPUT, e, "input[%d]", i))
                return -ENOMEM;
        } else if (cJSON_IsNumber(e) || cJSON_IsArray(e)) {
            rq->tokens_input++;
        } else {
            return format_bad(why, "input[%d] must be a string or tokens", i);
        }
        i++;
    }
    return 0;
}

static char *embeddings_error_event(const struct engine_reason *why)
{
    return format_openai_error(why); /* never streamed; the server sends it as a body */
}

static int embeddings_response(struct engine_call *c, cJSON *root)
{
    format_usage(c, GET(root, "usage"), "prompt_tokens", "completion_tokens");
    return 0;
}

static int embeddings_block(struct engine_call *c, const struct sse_event *ev)
{
    return format_emit_raw(c, ev);
}

static int embeddings_end(struct engine_call *c)
{
    (void)c;
    return 0;
}

const struct format_ops format_embeddings = {
    .fmt = ENGINE_EMBEDDINGS,
    .endpoint = "/v1/embeddings",
    .tool_keys = NULL,
    .inspect = embeddings_inspect,
    .error_body = format_openai_error,
    .error_event = embeddings_error_event,
    .response = embeddings_response,
    .stream_block = embeddings_block,
    .stream_end = embeddings_end,
    .stream_free = free,
};
