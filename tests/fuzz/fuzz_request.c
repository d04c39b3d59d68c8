/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the request side of every format (validating pass, inspector, the text
 * extractor, the stages' rewrite) on arbitrary bodies. The first byte picks the format.
 * Nothing crashes or leaks; a refusal always comes with a status and a JSON error body; a
 * rewritten body is JSON again; every extracted text has a path.
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "policy/engine/engine.h"
#include "policy/engine/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct engine *engine;
static struct policy *policy;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!engine) {
        static const char doc[] =
            "{\"cordon_policy\":1,\"agent\":\"f\",\"api\":{\"models\":[\"gpt-*\",\"claude-*\"],"
            "\"tools\":{\"allow\":[\"get_*\",\"search\"],\"deny\":[\"get_secret\"]}}}";
        struct policy_env env = {
            .vars = {.home = "/h", .cwd = "/c", .workspace = "/w", .tmp = "/tmp"}};
        struct diag d;
        diag_init(&d);
        char err[256];
        if (policy_load(doc, sizeof doc - 1, &env, &policy, &d) ||
            engine_new(policy, NULL, &engine, err, sizeof err))
            __builtin_trap();
    }
    struct engine_call_info info = {
        .format = (enum engine_format)(data[0] % ENGINE_N_FORMATS), .agent = "f", .session = "s"};
    struct engine_call *c;
    if (engine_call_new(engine, &info, &c))
        return 0;
    const char *out = NULL;
    size_t out_len = 0;
    int v = engine_call_request(c, (const char *)data + 1, size - 1, &out, &out_len);
    if (v == ENGINE_REFUSE) {
        int status;
        const char *body;
        size_t len;
        if (engine_call_error(c, &status, &body, &len) || (status != 400 && status != 403))
            __builtin_trap();
        cJSON *j = cJSON_ParseWithLength(body, len);
        if (!j)
            __builtin_trap();
        cJSON_Delete(j);
    } else if (v == ENGINE_REWRITE) {
        cJSON *j = NULL;
        char err[128];
        if (format_parse(out, out_len, ENGINE_MAX_DEPTH + 1, &j, err, sizeof err))
            __builtin_trap();
        cJSON_Delete(j);
    }
    for (size_t i = 0; i < c->rq.n_texts; i++)
        if (!c->rq.texts[i].path || !c->rq.texts[i].text)
            __builtin_trap();
    engine_call_finish(c, 0);
    free(engine_call_audit_json(c));
    engine_call_free(c);
    return 0;
}
