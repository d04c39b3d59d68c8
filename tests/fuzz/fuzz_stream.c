/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the stream assemblers (chat, messages, responses) on arbitrary upstream
 * bytes in arbitrary splits, under a policy that allows some tools and denies others, with or
 * without api.data rules on the response (the data stage's lanes). The first byte picks the
 * format, observe or enforce mode, the data rules and the chunk size. Nothing crashes or
 * leaks; in observe mode (whose policy has data rules) the client receives exactly the
 * upstream's bytes; and in enforce mode with data rules it receives the same bytes, and the
 * same verdict, as when the upstream's bytes come in one piece.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "policy/engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct engine *engines[3];
static struct policy *policies[3];

static struct engine *get_engine(int observe)
{
    if (engines[observe])
        return engines[observe];
    static const char *const docs[] = {
        "{\"cordon_policy\":1,\"agent\":\"f\",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":"
        "[\"get_*\",\"search\"],\"deny\":[\"get_secret\"],\"constraints\":{\"search\":{\"q\":"
        "\"[a-z]+\"}}}}}",
        "{\"cordon_policy\":1,\"agent\":\"f\",\"mode\":\"observe\",\"api\":{\"models\":[\"*\"],"
        "\"tools\":{\"allow\":[\"get_*\",\"search\"]},\"data\":{\"pii.*\":\"redact\","
        "\"secret.*\":\"block\"}}}",
        "{\"cordon_policy\":1,\"agent\":\"f\",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":"
        "[\"get_*\",\"search\"]},\"data\":{\"pii.*\":\"redact\",\"pii.phone\":\"mask\","
        "\"secret.*\":\"block\",\"health\":\"log\"}}}",
    };
    struct policy_env env = {.vars = {.home = "/h", .cwd = "/c", .workspace = "/w", .tmp = "/tmp"}};
    struct diag d;
    diag_init(&d);
    if (policy_load(docs[observe], strlen(docs[observe]), &env, &policies[observe], &d))
        __builtin_trap();
    char err[256];
    struct engine_options o = {.on_denied_call =
                                   observe == 1 ? ENGINE_CALL_DROP : ENGINE_CALL_NOTICE,
                               .max_sse_line = 4096,
                               .max_held = 8192};
    if (engine_new(policies[observe], &o, &engines[observe], err, sizeof err))
        __builtin_trap();
    return engines[observe];
}

struct sink {
    char *p;
    size_t len;
};

static int put(void *ud, const char *buf, size_t len)
{
    struct sink *s = ud;
    char *q = realloc(s->p, s->len + len + 1);
    if (!q)
        return -1;
    memcpy(q + s->len, buf, len);
    s->p = q;
    s->len += len;
    return 0;
}

/* One call's response: the upstream bytes fed in pieces of `chunk`, the client's bytes into
 * *s; the error of the feed or end (0 when none), *made 0 when no call could be made. */
static int respond(int which, int f, const uint8_t *data, size_t size, size_t chunk, struct sink *s,
                   int *made)
{
    static const enum engine_format fmts[] = {ENGINE_CHAT, ENGINE_MESSAGES, ENGINE_RESPONSES};
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"stream\":true,\"messages\":[]}",
        "{\"model\":\"m\",\"stream\":true,\"max_tokens\":9,\"messages\":[]}",
        "{\"model\":\"m\",\"stream\":true,\"input\":\"x\"}",
    };
    struct engine_call_info info = {.format = fmts[f], .agent = "f"};
    struct engine_call *c;
    *made = 0;
    if (engine_call_new(get_engine(which), &info, &c))
        return 0;
    *made = 1;
    const char *out;
    size_t out_len;
    if (engine_call_request(c, bodies[f], strlen(bodies[f]), &out, &out_len) != ENGINE_ALLOW)
        __builtin_trap();
    int rc = 0;
    for (size_t i = 0; i < size && !rc; i += chunk)
        rc = engine_stream_feed(c, (const char *)data + i, size - i < chunk ? size - i : chunk, put,
                                s);
    if (!rc)
        rc = engine_stream_end(c, put, s);
    engine_call_finish(c, 1);
    free(engine_call_audit_json(c));
    engine_call_free(c);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int f = data[0] % 3, observe = (data[0] >> 2) & 1;
    int which = observe ? 1 : (data[0] >> 7) & 1 ? 2 : 0; /* 2: enforce with data rules */
    size_t chunk = (size_t)(data[0] >> 3) + 1;
    data++;
    size--;
    struct sink s = {0};
    int made, rc = respond(which, f, data, size, chunk, &s, &made);
    if (!made)
        return 0;
    if (observe && !rc && (s.len != size || (size && memcmp(s.p, data, size) != 0)))
        __builtin_trap(); /* observe mode changed a byte */
    if (which == 2) {
        /* with data rules, the same upstream bytes in one piece: the data stage finds the same
         * values whatever the pieces (data.h: a stream reports what a block scan reports), so
         * the client gets the same bytes and the same verdict */
        struct sink w = {0};
        int wrc = respond(which, f, data, size, size ? size : 1, &w, &made);
        if (made && ((wrc != 0) != (rc != 0) ||
                     (!rc && (w.len != s.len || (s.len && memcmp(w.p, s.p, s.len) != 0)))))
            __builtin_trap(); /* the pieces changed what the data stage did */
        free(w.p);
    }
    free(s.p);
    return 0;
}
