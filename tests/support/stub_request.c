/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a model API request asks for: the model, whether to stream, the chat
 * stream_options.include_usage flag, the embeddings inputs, and every text it carried (for
 * the echo scenario and for scenario markers). The three request shapes (chat messages,
 * Responses input items, Anthropic messages and content blocks) are read by one walk:
 * a string content, a "text" field of a part or block, a tool_result's "content" and a
 * function_call_output's "output" are texts; they are taken in request order, system or
 * instructions first.
 */
#include "tests/support/stub.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, const cJSON *s)
{
    dst[0] = '\0';
    if (!cJSON_IsString(s) || !s->valuestring)
        return;
    size_t n = strlen(s->valuestring);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s->valuestring, n);
    dst[n] = '\0';
}

static void add_text(struct sbuf *t, const cJSON *s)
{
    if (cJSON_IsString(s) && s->valuestring)
        sbuf_puts(t, s->valuestring);
}

/* A content value: a string, or an array of parts / blocks. Depth-bounded by the caller. */
static void walk_content(struct sbuf *t, const cJSON *c, int depth)
{
    if (depth > 8)
        return;
    if (cJSON_IsString(c)) {
        add_text(t, c);
        return;
    }
    if (!cJSON_IsArray(c))
        return;
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        if (cJSON_IsString(part)) {
            add_text(t, part);
            continue;
        }
        if (!cJSON_IsObject(part))
            continue;
        add_text(t, cJSON_GetObjectItemCaseSensitive(part, "text"));
        add_text(t, cJSON_GetObjectItemCaseSensitive(part, "output"));
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(part, "content");
        if (inner)
            walk_content(t, inner, depth + 1);
    }
}

static int parse_embeddings(struct apireq *rq, const cJSON *root, const char **why)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
    rq->emb_base64 = cJSON_IsString(fmt) && strcmp(fmt->valuestring, "base64") == 0;
    if (fmt &&
        !(cJSON_IsString(fmt) && (rq->emb_base64 || strcmp(fmt->valuestring, "float") == 0))) {
        *why = "encoding_format must be \"float\" or \"base64\"";
        return 400;
    }
    rq->emb_dims = 16;
    if (dims) {
        if (!cJSON_IsNumber(dims) || dims->valuedouble < 1 ||
            dims->valuedouble > STUB_EMB_MAX_DIMS) {
            *why = "dimensions must be a number from 1 to 4096";
            return 400;
        }
        rq->emb_dims = (int)dims->valuedouble;
    }
    /* each input gets a seed from its content, so equal inputs get equal vectors */
    rq->emb_n = 0;
    const cJSON *one[1] = {in};
    int many = cJSON_IsArray(in) && cJSON_GetArraySize(in) > 0 &&
               !cJSON_IsNumber(cJSON_GetArrayItem(in, 0));
    if (!in || (!cJSON_IsString(in) && !cJSON_IsArray(in))) {
        *why = "input must be a string, an array of strings or an array of token arrays";
        return 400;
    }
    const cJSON *e = many ? in->child : one[0];
    for (; e; e = many ? e->next : NULL) {
        if (rq->emb_n >= STUB_EMB_MAX_INPUTS) {
            *why = "more than 2048 embedding inputs";
            return 400;
        }
        uint64_t h = 1469598103934665603ull;
        if (cJSON_IsString(e)) {
            for (const unsigned char *p = (const unsigned char *)e->valuestring; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        } else if (cJSON_IsArray(e)) {
            const cJSON *tok;
            cJSON_ArrayForEach(tok, e)
            {
                if (!cJSON_IsNumber(tok)) {
                    *why = "a token array holds something other than numbers";
                    return 400;
                }
                h = (h ^ (uint64_t)(long long)tok->valuedouble) * 1099511628211ull;
            }
        } else {
            *why = "input must be a string, an array of strings or an array of token arrays";
            return 400;
        }
        rq->emb_seed[rq->emb_n++] = h;
        add_text(&rq->text, e);
    }
    return 0;
}

int req_parse(struct apireq *rq, const char *body, size_t len, const char **why)
{
    int rc = 400;
    rq->text.len = 0;
    rq->text.oom = 0;
    rq->stream = rq->include_usage = 0;
    rq->emb_n = 0;
    snprintf(rq->model, sizeof rq->model, "%s", "stub-model");
    if (rq->api == API_MODELS || rq->api == API_MODEL)
        return 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        *why = "the request body is not valid JSON";
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        *why = "the request body is not a JSON object";
        goto out;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model && !cJSON_IsString(model)) {
        *why = "model must be a string";
        goto out;
    }
    if (model)
        copy_str(rq->model, sizeof rq->model, model);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stream");
    rq->stream = cJSON_IsTrue(st);
    if (rq->api == API_EMBEDDINGS) {
        rc = parse_embeddings(rq, root, why);
        goto out;
    }
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    rq->include_usage =
        rq->api == API_CHAT && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
    /* system / instructions first, then the conversation */
    walk_content(&rq->text, cJSON_GetObjectItemCaseSensitive(root, "system"), 0);
    add_text(&rq->text, cJSON_GetObjectItemCaseSensitive(root, "instructions"));
    const cJSON *conv =
        cJSON_GetObjectItemCaseSensitive(root, rq->api == API_RESPONSES ? "input" : "messages");
    if (rq->api == API_RESPONSES && cJSON_IsString(conv)) {
        add_text(&rq->text, conv);
    } else if (cJSON_IsArray(conv)) {
        const cJSON *m;
        cJSON_ArrayForEach(m, conv)
        {
            if (!cJSON_IsObject(m))
                continue;
            walk_content(&rq->text, cJSON_GetObjectItemCaseSensitive(m, "content"), 0);
            add_text(&rq->text, cJSON_GetObjectItemCaseSensitive(m, "output"));
        }
    } else {
        *why = rq->api == API_RESPONSES ? "input must be a string or an array of items"
                                        : "messages must be an array";
        goto out;
    }
    rc = rq->text.oom ? 500 : 0;
    if (rc)
        *why = "out of memory while reading the request";
out:
    cJSON_Delete(root);
    return rc;
}
