/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's data stage (policy/engine/stage_data.c): request texts rewritten in all four
 * formats, a block naming class and position, complete responses, streams in OpenAI chat and
 * Anthropic messages with every corpus-like value split at every offset across two and three
 * events, the holdback bound, tool argument fragments, the tokenize round trip, observe mode,
 * the fail-closed paths and the audit record, which names positions and never values. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "policy/data/data_edm.h"
#include "policy/data/data_vault.h"
#include "test_engine_support.h"

/* Values of the kinds the corpus holds (tests/data/classify), each with the label redact
 * gives it. Valid by their checksums where a class has one. */
static const struct value {
    const char *cls, *v, *label;
} k_values[] = {
    {"pii.email", "alice.smith@example.com", "[EMAIL]"},
    {"pii.credit_card", "4539 1488 0343 6467", "[CREDIT_CARD]"},
    {"pii.credit_card", "5425233430109903", "[CREDIT_CARD]"},
    {"pii.phone", "+44 20 7946 0958", "[PHONE]"},
    {"pii.ssn", "536-22-1234", "[SSN]"},
    {"pii.iban", "DE89 3704 0044 0532 0130 00", "[IBAN]"},
    {"pii.ip", "198.51.100.23", "[IP]"},
    {"pii.ip", "2001:db8:85a3::8a2e:370:7334", "[IP]"},
    {"health", "metformin", "[HEALTH]"},
    {"secret.aws_access_key", "AKIAZ3MSJV4WQ7XK2P5N", "[SECRET]"},
    {"secret.github_token", "ghp_R8vWq2LzX7nT4kP9sJ3mY6bC1dF5gH0aE2uQ", "[SECRET]"},
    {"secret.jwt",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "[SECRET]"},
    {"secret.private_key",
     "-----BEGIN RSA PRIVATE "
     "KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
     "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm\n"
     "-----END RSA PRIVATE KEY-----",
     "[SECRET]"},
};
#define N_VALUES (sizeof k_values / sizeof *k_values)

#define POLICY_REDACT                                                                              \
    ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"*\"]},\"data\":{\"pii.email\":"          \
    "\"redact\",\"pii.credit_card\":\"redact\",\"secret.*\":\"redact\"}}"

static const unsigned char k_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

/* A call with the data key and vault v (NULL: the call's own). */
static int dt_request(struct te *t, enum engine_format f, const char *body, struct data_vault *v)
{
    struct engine_call_info info = {
        .format = f, .agent = "a", .session = "s1", .vault = v, .data_key = k_key};
    if (t->c)
        engine_call_free(t->c);
    cr_assert_eq(engine_call_new(t->e, &info, &t->c), 0);
    t->out = NULL;
    t->out_len = 0;
    t->verdict = engine_call_request(t->c, body, strlen(body), &t->out, &t->out_len);
    cr_assert_geq(t->verdict, 0, "engine_call_request: %s", engine_strerror(t->verdict));
    return t->verdict;
}

/* A JSON string literal of s (malloc'ed). */
static char *jstr(const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *p = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return p;
}

static void put(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sink *s, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sink_put(s, buf, strlen(buf));
}

/* An OpenAI chat stream whose content is pieces[0..n). */
static char *chat_stream(const char *const *pieces, size_t n)
{
    struct sink s = {0};
    sink_put(&s, "", 0);
    put(&s,
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
        "\"\"},\"finish_reason\":null}]}%s\n\n",
        "");
    for (size_t i = 0; i < n; i++) {
        char *j = jstr(pieces[i]);
        put(&s,
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
            "\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},"
            "\"finish_reason\":null}]}\n\n",
            j);
        free(j);
    }
    put(&s,
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}%s\n\n"
        "data: [DONE]\n\n",
        "");
    return s.p;
}

/* An Anthropic messages stream whose text block is pieces[0..n). */
static char *messages_stream(const char *const *pieces, size_t n)
{
    struct sink s = {0};
    sink_put(&s, "", 0);
    put(&s,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
        "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\","
        "\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}%s\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "");
    for (size_t i = 0; i < n; i++) {
        char *j = jstr(pieces[i]);
        put(&s,
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
            "\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n",
            j);
        free(j);
    }
    put(&s,
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}%s\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        "");
    return s.p;
}

/* The text a client assembles from a stream, as the SDKs do: chat content deltas, or
 * Anthropic text deltas (which must all come before their block's stop). */
static char *assemble(const char *stream, enum engine_format f)
{
    struct sink s = {0};
    sink_put(&s, "", 0);
    int stopped = 0;
    const char *p = stream;
    while ((p = strstr(p, "data: ")) != NULL) {
        p += 6;
        const char *e = strstr(p, "\n\n");
        cr_assert_not_null(e, "an event without its blank line: %s", p);
        if (!strncmp(p, "[DONE]", 6)) {
            p = e;
            continue;
        }
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
        cr_assert_not_null(j, "the client cannot parse: %.*s", (int)(e - p), p);
        if (f == ENGINE_CHAT) {
            cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
            cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "delta"), "content");
            if (cJSON_IsString(c))
                sink_put(&s, c->valuestring, strlen(c->valuestring));
        } else {
            const char *type = cJSON_GetObjectItem(j, "type")->valuestring;
            if (!strcmp(type, "content_block_stop"))
                stopped = 1;
            cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "delta"), "text");
            if (cJSON_IsString(t)) {
                cr_assert(!stopped, "a text delta after its block's stop");
                cr_assert_eq(cJSON_GetObjectItem(j, "index")->valueint, 0);
                sink_put(&s, t->valuestring, strlen(t->valuestring));
            }
        }
        cJSON_Delete(j);
        p = e;
    }
    return s.p;
}

/* The stream in pieces through a fresh call; the text the client assembles. */
static char *through(struct te *t, enum engine_format f, const char *const *pieces, size_t n,
                     int *rc)
{
    const char *body = f == ENGINE_CHAT
                           ? "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"hi\"}]}"
                           : "{\"model\":\"claude-x\",\"stream\":true,\"max_tokens\":9,"
                             "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    cr_assert_eq(dt_request(t, f, body, NULL), ENGINE_ALLOW);
    char *in = f == ENGINE_CHAT ? chat_stream(pieces, n) : messages_stream(pieces, n);
    char *out = te_stream(t->c, in, 0, rc);
    free(in);
    return out;
}

/* Three events: every pair of offsets for a value up to 48 bytes; for a longer one (a JWT, a
 * PEM block) every first offset with the second just after it, 7 bytes on and at the value's
 * last byte, and every second offset after the first byte, so each offset is a boundary in
 * each position (all pairs of a 200-byte block are 20,000 calls, minutes under ASan). */
static int pair_wanted(size_t i, size_t j, size_t vs, size_t ve)
{
    return ve - vs <= 48 || i == vs + 1 || j == i + 1 || j == i + 7 || j == ve - 1;
}

/* Every value, split at every offset across two events and across three (pair_wanted), comes
 * out redacted in both formats, the text around it whole. */
/* Every class of k_values redacted (the numeric ones, found by the C pass, among them). */
#define POLICY_REDACT_ALL                                                                          \
    ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"*\"]},\"data\":{\"pii.email\":"          \
    "\"redact\",\"pii.credit_card\":\"redact\",\"secret.*\":\"redact\",\"pii.phone\":\"redact\","  \
    "\"pii.ssn\":\"redact\",\"pii.iban\":\"redact\",\"pii.ip\":\"redact\",\"health\":\"redact\"}}"

static void splits(enum engine_format f, int three)
{
    struct te t;
    te_open(&t, POLICY_REDACT_ALL, NULL);
    for (size_t k = 0; k < N_VALUES; k++) {
        const struct value *v = &k_values[k];
        char text[1024], want[256];
        /* a PEM block's match runs to the end of its footer's line */
        snprintf(text, sizeof text, "Here it is: %s\nand more.", v->v);
        snprintf(want, sizeof want, "Here it is: %s\nand more.", v->label);
        size_t vs = 12, ve = vs + strlen(v->v); /* the value's bytes in text */
        for (size_t i = vs + 1; i < ve; i++)
            for (size_t j = three ? i + 1 : ve; j <= (three ? ve - 1 : ve); j++) {
                if (three && !pair_wanted(i, j, vs, ve))
                    continue;
                char a[1024], b[1024], c[1024];
                snprintf(a, sizeof a, "%.*s", (int)i, text);
                snprintf(b, sizeof b, "%.*s", (int)(j - i), text + i);
                snprintf(c, sizeof c, "%s", text + j);
                const char *pieces[] = {a, b, c};
                int rc;
                char *out = through(&t, f, pieces, 3, &rc);
                cr_assert_eq(rc, 0, "%s split at %zu/%zu: %s", v->cls, i, j, engine_strerror(rc));
                cr_assert_null(strstr(out, v->v), "%s leaked split at %zu/%zu", v->cls, i, j);
                char *got = assemble(out, f);
                cr_assert_str_eq(got, want, "%s split at %zu/%zu", v->cls, i, j);
                free(got);
                free(out);
            }
    }
    te_close(&t);
}

Test(engine_data, chat_stream_value_split_in_two_is_redacted)
{
    splits(ENGINE_CHAT, 0);
}

Test(engine_data, chat_stream_value_split_in_three_is_redacted, .timeout = 600)
{
    splits(ENGINE_CHAT, 1);
}

Test(engine_data, messages_stream_value_split_in_two_is_redacted)
{
    splits(ENGINE_MESSAGES, 0);
}

Test(engine_data, messages_stream_value_split_in_three_is_redacted, .timeout = 600)
{
    splits(ENGINE_MESSAGES, 1);
}

/* Text with nothing to find is held at most the window, a byte per event: fed past twice the
 * window, so a stream that held everything to its end fails. Once with e-mail alone (a
 * window of a few hundred bytes) and once with the secret classes (a PEM block's 16 KiB). */
static void holdback_bounded(const char *policy, size_t most)
{
    struct te t;
    te_open(&t, policy, NULL);
    size_t w = engine_data_window(t.e);
    cr_assert_gt(w, 0);
    cr_assert_leq(w, most, "a window of %zu bytes", w);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":"
                            "\"user\",\"content\":\"hi\"}]}",
                            NULL),
                 ENGINE_ALLOW);
    struct sink s = {0};
    sink_put(&s, "", 0);
    size_t fed = 0, out = 0;
    for (size_t i = 0; i < 2 * w + 100; i++) {
        char ev[256];
        const char word = "the quick brown fox jumps over lazy dogs "[i % 41];
        snprintf(ev, sizeof ev,
                 "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{"
                 "\"index\":0,\"delta\":{\"content\":\"%c\"},\"finish_reason\":null}]}\n\n",
                 word);
        size_t before = s.len; /* each feed emits whole events: read only the new ones */
        cr_assert_eq(engine_stream_feed(t.c, ev, strlen(ev), sink_put, &s), 0);
        fed++;
        char *got = assemble(s.p + before, ENGINE_CHAT);
        out += strlen(got);
        free(got);
        cr_assert_leq(fed - out, w, "held %zu bytes, window %zu", fed - out, w);
    }
    cr_assert_eq(engine_stream_end(t.c, sink_put, &s), 0);
    char *got = assemble(s.p, ENGINE_CHAT);
    cr_assert_eq(strlen(got), fed, "the rest goes at the end");
    cr_assert_gt(fed, 2 * w, "fed %zu bytes, window %zu", fed, w);
    free(got);
    free(s.p);
    te_close(&t);
}

Test(engine_data, holdback_is_bounded_by_the_window)
{
    holdback_bounded(",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":\"redact\"}}", 2048);
}

Test(engine_data, holdback_is_bounded_by_the_window_of_the_secret_classes, .timeout = 120)
{
    holdback_bounded(POLICY_REDACT, 65536);
}

/* With no response rule the stream goes on byte for byte, as before the data stage. */
Test(engine_data, no_response_rule_keeps_the_raw_stream)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":{\"request\":\"redact\","
            "\"response\":\"allow\"}}}",
            NULL);
    cr_assert_eq(engine_data_window(t.e), 0);
    const char *pieces[] = {"mail alice.smith@exa", "mple.com now"};
    int rc;
    char *out = through(&t, ENGINE_CHAT, pieces, 2, &rc);
    char *in = chat_stream(pieces, 2);
    cr_assert_str_eq(out, in);
    free(in);
    free(out);
    te_close(&t);
}

/* ---- the request ---- */

static const char *const k_requests[ENGINE_N_FORMATS] = {
    [ENGINE_CHAT] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"be "
                    "brief\"},{\"role\":\"user\",\"content\":\"write to alice.smith@example.com "
                    "today\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
                    "\"t1\",\"type\":\"function\",\"function\":{\"name\":\"send\",\"arguments\":"
                    "\"{\\\"to\\\":\\\"alice.smith@example.com\\\",\\\"n\\\":1}\"}}]}]}",
    [ENGINE_RESPONSES] = "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":[{"
                         "\"type\":\"input_text\",\"text\":\"write to alice.smith@example.com "
                         "today\"}]},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":"
                         "\"send\",\"arguments\":\"{\\\"to\\\":\\\"alice.smith@example.com\\\"}"
                         "\"}]}",
    [ENGINE_MESSAGES] = "{\"model\":\"claude-x\",\"max_tokens\":9,\"system\":\"be brief\","
                        "\"messages\":[{\"role\":\"user\",\"content\":\"write to "
                        "alice.smith@example.com today\"},{\"role\":\"assistant\",\"content\":[{"
                        "\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":\"send\",\"input\":{"
                        "\"to\":\"alice.smith@example.com\"}}]}]}",
    [ENGINE_EMBEDDINGS] = "{\"model\":\"text-embedding-3-small\",\"input\":[\"plain\",\"write "
                          "to alice.smith@example.com today\"]}",
};

Test(engine_data, request_texts_are_redacted_in_all_four_formats)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    for (int f = 0; f < ENGINE_N_FORMATS; f++) {
        cr_assert_eq(dt_request(&t, f, k_requests[f], NULL), ENGINE_REWRITE, "format %d", f);
        char *out = strndup(t.out, t.out_len);
        cr_assert_null(strstr(out, "alice.smith"), "format %d leaked: %s", f, out);
        cr_assert(strstr(out, "write to [EMAIL] today"), "format %d: %s", f, out);
        if (f != ENGINE_EMBEDDINGS) /* tool arguments in the history, still JSON */
            cr_assert(strstr(out, "[EMAIL]\\\"") || strstr(out, "\"to\":\"[EMAIL]\""),
                      "format %d: %s", f, out);
        cJSON *j = cJSON_Parse(out);
        cr_assert_not_null(j, "format %d: not JSON: %s", f, out);
        cJSON_Delete(j);
        const struct engine_decision *d =
            engine_call_decision(t.c, ENGINE_STAGE_DATA, ENGINE_HOOK_REQUEST);
        cr_assert_eq(d->verdict, ENGINE_REWRITE);
        char *rec = engine_call_audit_json(t.c);
        cr_assert_null(strstr(rec, "alice.smith"), "the record holds the value: %s", rec);
        cr_assert(strstr(rec, "\"class\":\"pii.email\""), "%s", rec);
        cr_assert(strstr(rec, "\"action\":\"redact\""), "%s", rec);
        free(rec);
        free(out);
    }
    te_close(&t);
}

Test(engine_data, audit_record_counts_and_names_positions)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT, k_requests[ENGINE_CHAT], NULL), ENGINE_REWRITE);
    char *rec = engine_call_audit_json(t.c);
    cJSON *j = cJSON_Parse(rec);
    cJSON *req = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "request");
    cr_assert(cJSON_IsArray(req), "%s", rec);
    cJSON *x = cJSON_GetArrayItem(req, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(x, "class")->valuestring, "pii.email");
    cr_assert_eq(cJSON_GetObjectItem(x, "count")->valueint, 2);
    cJSON *pos = cJSON_GetObjectItem(x, "positions");
    cr_assert_eq(cJSON_GetArraySize(pos), 2, "%s", rec);
    cr_assert_str_eq(cJSON_GetArrayItem(pos, 0)->valuestring, "messages[1].content");
    cr_assert_str_eq(cJSON_GetArrayItem(pos, 1)->valuestring,
                     "messages[2].tool_calls[0].function.arguments");
    cJSON_Delete(j);
    free(rec);
    te_close(&t);
}

Test(engine_data, block_names_class_and_position_never_the_value)
{
    struct te t;
    te_open(&t, ",\"api\":{\"models\":[\"*\"],\"data\":{\"secret.*\":\"block\"}}", NULL);
    const char *bodies[ENGINE_N_FORMATS] = {
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
        "\"user\",\"content\":\"key AKIAZ3MSJV4WQ7XK2P5N here\"}]}",
        "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\","
        "\"content\":\"key AKIAZ3MSJV4WQ7XK2P5N here\"}]}",
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"user\",\"content\":\"key AKIAZ3MSJV4WQ7XK2P5N here\"}]}",
        "{\"model\":\"m\",\"input\":[\"hi\",\"key AKIAZ3MSJV4WQ7XK2P5N here\"]}",
    };
    const char *where[ENGINE_N_FORMATS] = {"messages[1].content", "input[1].content",
                                           "messages[1].content", "input[1]"};
    for (int f = 0; f < ENGINE_N_FORMATS; f++) {
        cr_assert_eq(dt_request(&t, f, bodies[f], NULL), ENGINE_REFUSE, "format %d", f);
        int status;
        const char *err = te_error(&t, &status);
        cr_assert_eq(status, 403);
        cr_assert(strstr(err, "cordon.data_blocked"), "%s", err);
        cr_assert(strstr(err, "secret.aws_access_key"), "%s", err);
        cr_assert(strstr(err, where[f]), "format %d: %s", f, err);
        cr_assert_null(strstr(err, "AKIAZ3MSJV4WQ7XK2P5N"), "%s", err);
        char *rec = engine_call_audit_json(t.c);
        cr_assert_null(strstr(rec, "AKIAZ3MSJV4WQ7XK2P5N"), "%s", rec);
        free(rec);
    }
    te_close(&t);
}

Test(engine_data, mask_and_hash_rewrite_the_value)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.credit_card\":\"mask\",\"pii.email\":"
            "\"hash\"}}",
            NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"card "
                            "4539 1488 0343 6467 mail alice.smith@example.com\"}]}",
                            NULL),
                 ENGINE_REWRITE);
    char *out = strndup(t.out, t.out_len);
    cr_assert(strstr(out, "**** **** **** 6467"), "%s", out);
    cr_assert(strstr(out, "[EMAIL:"), "%s", out);
    cr_assert_null(strstr(out, "alice"), "%s", out);
    free(out);
    te_close(&t);
}

Test(engine_data, hash_without_a_data_key_refuses)
{
    struct te t;
    te_open(&t, ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":\"hash\"}}", NULL);
    cr_assert_eq(te_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"alice.smith@example.com\"}]}"),
                 ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert(strstr(err, "cordon.data_key"), "%s", err);
    cr_assert_null(strstr(err, "alice"), "%s", err);
    te_close(&t);
}

/* A tool definition's description and schema, and chat's Predicted Outputs, are text the
 * model reads: scanned and rewritten like the messages, in every format with tools. */
Test(engine_data, tool_definitions_and_predictions_are_scanned)
{
    static const struct {
        enum engine_format f;
        const char *body;
    } cases[] = {
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
         "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"mail\",\"description\":"
         "\"send to bob.jones@example.org\",\"parameters\":{\"type\":\"object\",\"properties\":"
         "{\"to\":{\"type\":\"string\",\"description\":\"e.g. carol.white@example.net\"}}}}}],"
         "\"prediction\":{\"type\":\"content\",\"content\":\"dave.green@example.com\"}}"},
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
         "\"functions\":[{\"name\":\"mail\",\"description\":\"send to bob.jones@example.org\","
         "\"parameters\":{\"type\":\"object\",\"properties\":{\"to\":{\"description\":"
         "\"e.g. carol.white@example.net\"}}}}],\"prediction\":{\"type\":\"content\","
         "\"content\":[{\"type\":\"text\",\"text\":\"dave.green@example.com\"}]}}"},
        {ENGINE_MESSAGES,
         "{\"model\":\"claude-x\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":"
         "\"hi\"}],\"tools\":[{\"name\":\"mail\",\"description\":\"send to "
         "bob.jones@example.org\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"to\":"
         "{\"description\":\"e.g. carol.white@example.net dave.green@example.com\"}}}}]}"},
        {ENGINE_RESPONSES,
         "{\"model\":\"gpt-4o\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":"
         "\"mail\",\"description\":\"send to bob.jones@example.org\",\"parameters\":{\"type\":"
         "\"object\",\"properties\":{\"to\":{\"description\":\"e.g. carol.white@example.net "
         "dave.green@example.com\"}}}}]}"},
    };
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(dt_request(&t, cases[i].f, cases[i].body, NULL), ENGINE_REWRITE, "case %zu",
                     i);
        char *out = strndup(t.out, t.out_len);
        cr_assert_null(strstr(out, "@example."), "case %zu leaked: %s", i, out);
        cr_assert(strstr(out, "send to [EMAIL]"), "case %zu: %s", i, out);
        cr_assert(strstr(out, "e.g. [EMAIL]"), "case %zu: %s", i, out);
        cr_assert(strstr(out, "\"name\":\"mail\""), "case %zu: the tool keeps its name: %s", i,
                  out);
        cJSON *j = cJSON_Parse(out);
        cr_assert_not_null(j, "case %zu: not JSON: %s", i, out);
        cJSON_Delete(j);
        char *rec = engine_call_audit_json(t.c);
        cr_assert_null(strstr(rec, "@example."), "case %zu: the record holds a value: %s", i, rec);
        cr_assert(strstr(rec, "tools[0]") || strstr(rec, "functions[0]"), "case %zu: %s", i, rec);
        free(rec);
        free(out);
    }
    te_close(&t);
}

/* A definition the tools stage removed is not scanned (nothing of it goes upstream), and the
 * data stage never reads it after it is gone. */
Test(engine_data, a_stripped_definition_is_not_scanned)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"ok_*\"]},\"data\":{"
            "\"pii.email\":\"block\"}}",
            NULL);
    const char *body =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":["
        "{\"type\":\"function\",\"function\":{\"name\":\"secret_mail\",\"description\":\"send "
        "to bob.jones@example.org\"}},{\"type\":\"function\",\"function\":{\"name\":\"ok_get\","
        "\"description\":\"reads\"}}]}";
    cr_assert_eq(dt_request(&t, ENGINE_CHAT, body, NULL), ENGINE_REWRITE);
    char *out = strndup(t.out, t.out_len);
    cr_assert_null(strstr(out, "secret_mail"), "%s", out);
    cr_assert(strstr(out, "ok_get"), "%s", out);
    free(out);
    /* the same definition, allowed, holds a blocked value: refused */
    te_close(&t);
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"*\"]},\"data\":{"
            "\"pii.email\":\"block\"}}",
            NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT, body, NULL), ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert(strstr(err, "tools[0]"), "%s", err);
    te_close(&t);
}

/* Content whose text the data stage cannot read (a file, a PDF document) is refused under a
 * policy with api.data, never forwarded unscanned; without api.data it passes. */
Test(engine_data, files_and_documents_cannot_be_scanned_and_are_refused)
{
    static const struct {
        enum engine_format f;
        const char *body, *want;
    } cases[] = {
        {ENGINE_CHAT,
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
         "\"text\":\"read this\"},{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\","
         "\"file_data\":\"data:application/pdf;base64,JVBERi0=\"}}]}]}",
         "a file part at messages[0].content[1]"},
        {ENGINE_RESPONSES,
         "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
         "\"input_file\",\"file_id\":\"file-1\"}]}]}",
         "an input_file part at input[0].content[0]"},
        {ENGINE_MESSAGES,
         "{\"model\":\"claude-x\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":"
         "[{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":"
         "\"application/pdf\",\"data\":\"JVBERi0=\"}}]}]}",
         "a document given as a file, base64 or a URL at messages[0].content[0]"},
        {ENGINE_MESSAGES,
         "{\"model\":\"claude-x\",\"max_tokens\":9,\"messages\":[{\"role\":\"assistant\","
         "\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"read\",\"input\":{}}]},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
         "\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":"
         "\"application/pdf\",\"data\":\"JVBERi0=\"}}]}]}]}",
         "a document given as a file, base64 or a URL at messages[1].content[0].content[0]"},
    };
    struct te t;
    int status;
    te_open(&t, POLICY_REDACT, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(dt_request(&t, cases[i].f, cases[i].body, NULL), ENGINE_REFUSE, "case %zu", i);
        const char *err = te_error(&t, &status);
        cr_assert_eq(status, 400, "case %zu", i);
        cr_assert(strstr(err, "cordon.data_scan"), "case %zu: %s", i, err);
        cr_assert(strstr(err, cases[i].want), "case %zu: %s", i, err);
    }
    te_close(&t);
    te_open(&t, ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"*\"]}}", NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_assert_eq(dt_request(&t, cases[i].f, cases[i].body, NULL), ENGINE_ALLOW, "case %zu", i);
    te_close(&t);
}

Test(engine_data, embeddings_tokens_cannot_be_scanned_and_are_refused)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    cr_assert_eq(dt_request(&t, ENGINE_EMBEDDINGS, "{\"model\":\"m\",\"input\":[[1,2,3]]}", NULL),
                 ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 400);
    cr_assert(strstr(err, "tokens"), "%s", err);
    te_close(&t);
}

Test(engine_data, observe_mode_records_and_forwards_unchanged)
{
    struct te t;
    te_open(&t,
            ",\"mode\":\"observe\",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":"
            "\"redact\",\"secret.*\":\"block\"}}",
            NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"alice.smith@example.com AKIAZ3MSJV4WQ7XK2P5N\"}]}",
                            NULL),
                 ENGINE_ALLOW);
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "\"mode\":\"observe\""), "%s", rec);
    cr_assert(strstr(rec, "\"class\":\"pii.email\",\"action\":\"redact\",\"applied\":false"), "%s",
              rec);
    cr_assert(strstr(rec, "\"action\":\"block\",\"applied\":false"), "%s", rec);
    cr_assert_null(strstr(rec, "AKIAZ3MSJV4WQ7XK2P5N"), "%s", rec);
    free(rec);
    /* the response too: unchanged, recorded */
    const char *pieces[] = {"to alice.smith@exa", "mple.com"};
    char *in = chat_stream(pieces, 2);
    int rc;
    char *out = te_stream(t.c, in, 0, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, in);
    free(in);
    free(out);
    te_close(&t);
}

/* ---- responses ---- */

Test(engine_data, complete_responses_are_redacted)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    const char *bodies[3] = {
        "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{"
        "\"role\":\"assistant\",\"content\":\"mail alice.smith@example.com\",\"tool_calls\":[{"
        "\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"send\",\"arguments\":"
        "\"{\\\"to\\\":\\\"alice.smith@example.com\\\"}\"}}]},\"finish_reason\":\"stop\"}]}",
        "{\"id\":\"r\",\"object\":\"response\",\"output\":[{\"type\":\"message\",\"id\":\"m\","
        "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"mail "
        "alice.smith@example.com\"}]},{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":"
        "\"send\",\"arguments\":\"{\\\"to\\\":\\\"alice.smith@example.com\\\"}\"}]}",
        "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
        "\"text\":\"mail alice.smith@example.com\"},{\"type\":\"tool_use\",\"id\":\"u\",\"name\":"
        "\"send\",\"input\":{\"to\":\"alice.smith@example.com\"}}],\"stop_reason\":\"tool_use\"}",
    };
    for (int f = 0; f < 3; f++) {
        cr_assert_eq(dt_request(&t, f, k_requests[f], NULL), ENGINE_REWRITE);
        const char *out;
        size_t ol;
        cr_assert_eq(engine_call_response(t.c, bodies[f], strlen(bodies[f]), &out, &ol),
                     ENGINE_REWRITE, "format %d", f);
        char *o = strndup(out, ol);
        cr_assert_null(strstr(o, "alice"), "format %d: %s", f, o);
        cr_assert(strstr(o, "mail [EMAIL]"), "format %d: %s", f, o);
        free(o);
        char *rec = engine_call_audit_json(t.c);
        cr_assert(strstr(rec, "\"response\":[{\"class\":\"pii.email\""), "%s", rec);
        free(rec);
    }
    te_close(&t);
}

Test(engine_data, a_blocked_value_refuses_a_complete_response)
{
    struct te t;
    te_open(&t, ",\"api\":{\"models\":[\"*\"],\"data\":{\"secret.*\":\"block\"}}", NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"hi\"}]}",
                            NULL),
                 ENGINE_ALLOW);
    const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"AKIAZ3MSJV4WQ7XK2P5N\"}}]}";
    const char *out;
    size_t ol;
    cr_assert_eq(engine_call_response(t.c, body, strlen(body), &out, &ol), ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 403);
    cr_assert(strstr(err, "response.choices[0].message.content"), "%s", err);
    cr_assert_null(strstr(err, "AKIA"), "%s", err);
    te_close(&t);
}

/* A blocked value in a stream: the stream is cut with the format's error event, and no byte
 * of the value goes out, wherever it was split. */
Test(engine_data, a_blocked_value_cuts_the_stream)
{
    struct te t;
    te_open(&t, ",\"api\":{\"models\":[\"*\"],\"data\":{\"secret.*\":\"block\"}}", NULL);
    const char *key = "AKIAZ3MSJV4WQ7XK2P5N";
    for (int f = ENGINE_CHAT; f <= ENGINE_MESSAGES; f += ENGINE_MESSAGES) {
        for (size_t i = 1; i < strlen(key); i++) {
            char a[64], b[64];
            snprintf(a, sizeof a, "ok %.*s", (int)i, key);
            snprintf(b, sizeof b, "%s done", key + i);
            const char *pieces[] = {a, b};
            int rc;
            char *out = through(&t, f, pieces, 2, &rc);
            cr_assert_eq(rc, ENGINE_ERR_DATA, "format %d split %zu: %s", f, i, engine_strerror(rc));
            cr_assert_null(strstr(out, "AKIAZ3"), "format %d split %zu leaked: %s", f, i, out);
            cr_assert(strstr(out, "cordon.data_blocked"), "%s", out);
            cr_assert(strstr(out, f == ENGINE_CHAT ? "response.choices[0].delta.content"
                                                   : "response.content[0].text"),
                      "%s", out);
            free(out);
        }
    }
    te_close(&t);
}

/* Tool call arguments arrive in fragments; the call goes out whole, with the value redacted,
 * wherever the fragments split it. */
Test(engine_data, tool_argument_fragments_are_redacted)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    const char *args = "{\"to\":\"alice.smith@example.com\",\"n\":1}";
    for (size_t i = 1; i < strlen(args); i++) {
        cr_assert_eq(dt_request(&t, ENGINE_CHAT, k_requests[ENGINE_CHAT], NULL), ENGINE_REWRITE);
        char p1[128], p2[128];
        snprintf(p1, sizeof p1, "%.*s", (int)i, args);
        snprintf(p2, sizeof p2, "%s", args + i);
        char *j1 = jstr(p1), *j2 = jstr(p2);
        char in[2048];
        snprintf(
            in, sizeof in,
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":"
            "0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
            "\"function\":{\"name\":\"send\",\"arguments\":%s}}]},\"finish_reason\":null}]}"
            "\n\n"
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":"
            "0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":%s}}]},"
            "\"finish_reason\":null}]}\n\n"
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":"
            "0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
            "data: [DONE]\n\n",
            j1, j2);
        free(j1);
        free(j2);
        int rc;
        char *out = te_stream(t.c, in, 0, &rc);
        cr_assert_eq(rc, 0);
        cr_assert_null(strstr(out, "alice"), "split %zu: %s", i, out);
        cr_assert(strstr(out, "[EMAIL]"), "split %zu: %s", i, out);
        cr_assert(strstr(out, "\"name\":\"send\""), "split %zu: %s", i, out);
        free(out);
    }
    /* Anthropic: input_json_delta fragments */
    for (size_t i = 1; i < strlen(args); i++) {
        cr_assert_eq(dt_request(&t, ENGINE_MESSAGES, k_requests[ENGINE_MESSAGES], NULL),
                     ENGINE_REWRITE);
        char p1[128], p2[128];
        snprintf(p1, sizeof p1, "%.*s", (int)i, args);
        snprintf(p2, sizeof p2, "%s", args + i);
        char *j1 = jstr(p1), *j2 = jstr(p2);
        char in[2048];
        snprintf(in, sizeof in,
                 "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                 "\"content_block\":{\"type\":\"tool_use\",\"id\":\"u\",\"name\":\"send\","
                 "\"input\":{}}}\n\n"
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":%s}}\n\n"
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":%s}}\n\n"
                 "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}"
                 "\n\n",
                 j1, j2);
        free(j1);
        free(j2);
        int rc;
        char *out = te_stream(t.c, in, 0, &rc);
        cr_assert_eq(rc, 0);
        cr_assert_null(strstr(out, "alice"), "split %zu: %s", i, out);
        cr_assert(strstr(out, "[EMAIL]"), "split %zu: %s", i, out);
        free(out);
    }
    te_close(&t);
}

/* ---- tokenize ---- */

#define POLICY_TOKENIZE                                                                            \
    ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":{\"request\":\"tokenize\","              \
    "\"response\":\"allow\"}}}"

Test(engine_data, tokenize_round_trip_in_one_session)
{
    struct te t;
    struct data_vault *v;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    te_open(&t, POLICY_TOKENIZE, NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                            "\"content\":\"write to alice.smith@example.com\"}]}",
                            v),
                 ENGINE_REWRITE);
    char *fwd = strndup(t.out, t.out_len);
    cr_assert_null(strstr(fwd, "alice"), "the upstream would see it: %s", fwd);
    cr_assert(strstr(fwd, "[EMAIL_1]"), "%s", fwd);
    free(fwd);
    /* the model answers with the token, split anywhere */
    const char *ans = "Sent to [EMAIL_1] as asked.";
    for (size_t i = 1; i < strlen(ans); i++) {
        if (i > 1)
            cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                                    "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
                                    "\"user\",\"content\":\"again alice.smith@example.com\"}]}",
                                    v),
                         ENGINE_REWRITE);
        char a[64], b[64];
        snprintf(a, sizeof a, "%.*s", (int)i, ans);
        snprintf(b, sizeof b, "%s", ans + i);
        const char *pieces[] = {a, b};
        char *in = chat_stream(pieces, 2);
        int rc;
        char *out = te_stream(t.c, in, 0, &rc);
        cr_assert_eq(rc, 0);
        char *got = assemble(out, ENGINE_CHAT);
        cr_assert_str_eq(got, "Sent to alice.smith@example.com as asked.", "split %zu", i);
        free(got);
        free(out);
        free(in);
    }
    /* a complete response of the same session, and a token this vault never minted */
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"alice.smith@example.com\"}]}",
                            v),
                 ENGINE_REWRITE);
    const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"[EMAIL_1] and [EMAIL_9]\"}}]}";
    const char *out;
    size_t ol;
    cr_assert_eq(engine_call_response(t.c, body, strlen(body), &out, &ol), ENGINE_REWRITE);
    char *o = strndup(out, ol);
    cr_assert(strstr(o, "alice.smith@example.com and [EMAIL_9]"), "%s", o);
    free(o);
    te_close(&t);
    data_vault_free(v);
}

Test(engine_data, a_full_vault_refuses_the_call)
{
    struct te t;
    struct data_vault *v;
    struct data_vault_limits lim = {.max_entries = 1};
    cr_assert_eq(data_vault_new(&lim, &v), 0);
    te_open(&t, POLICY_TOKENIZE, NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"alice.smith@example.com bob.jones@example.org\"}]}",
                            v),
                 ENGINE_REFUSE);
    int status;
    const char *err = te_error(&t, &status);
    cr_assert_eq(status, 413);
    cr_assert(strstr(err, "cordon.data_budget"), "%s", err);
    cr_assert_null(strstr(err, "bob.jones"), "%s", err);
    te_close(&t);
    data_vault_free(v);
}

/* OpenAI Responses: the output_text deltas go through the lane; the done event, the part, the
 * item and the terminal response repeat the text, rewritten the same way. */
Test(engine_data, responses_stream_is_redacted_in_every_event)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    const char *v = "alice.smith@example.com";
    for (size_t i = 1; i < strlen(v); i++) {
        cr_assert_eq(dt_request(&t, ENGINE_RESPONSES,
                                "{\"model\":\"gpt-4o\",\"stream\":true,\"input\":\"hi\"}", NULL),
                     ENGINE_ALLOW);
        char full[128], a[128], b[128];
        snprintf(full, sizeof full, "mail %s now", v);
        snprintf(a, sizeof a, "mail %.*s", (int)i, v);
        snprintf(b, sizeof b, "%s now", v + i);
        char in[8192];
        snprintf(
            in, sizeof in,
            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":"
            "0,\"response\":{\"id\":\"r\",\"object\":\"response\",\"output\":[]}}\n\n"
            "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
            "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"m\",\"role\":"
            "\"assistant\",\"content\":[]}}\n\n"
            "event: response.content_part.added\ndata: {\"type\":\"response.content_part."
            "added\",\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"part\":{"
            "\"type\":\"output_text\",\"text\":\"\"}}\n\n"
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
            "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"%s\"}\n\n"
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
            "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"%s\"}\n\n"
            "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\","
            "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"text\":\"%s\"}\n\n"
            "event: response.content_part.done\ndata: {\"type\":\"response.content_part.done\","
            "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
            "\"output_text\",\"text\":\"%s\"}}\n\n"
            "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\","
            "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"m\",\"role\":"
            "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"%s\"}]}}\n\n"
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{"
            "\"id\":\"r\",\"object\":\"response\",\"output\":[{\"type\":\"message\",\"id\":"
            "\"m\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"
            "\"%s\"}]}]}}\n\n",
            a, b, full, full, full, full);
        int rc;
        char *out = te_stream(t.c, in, 0, &rc);
        cr_assert_eq(rc, 0);
        cr_assert_null(strstr(out, "alice"), "split %zu: %s", i, out);
        /* the deltas assemble to the text the done events carry */
        struct sink s = {0};
        sink_put(&s, "", 0);
        int dones = 0;
        for (const char *p = out; (p = strstr(p, "data: ")) != NULL; p++) {
            const char *e = strstr(p, "\n\n");
            cJSON *j = cJSON_ParseWithLength(p + 6, (size_t)(e - p - 6));
            cr_assert_not_null(j, "%s", p);
            const char *type = cJSON_GetObjectItem(j, "type")->valuestring;
            if (!strcmp(type, "response.output_text.delta")) {
                const char *d = cJSON_GetObjectItem(j, "delta")->valuestring;
                sink_put(&s, d, strlen(d));
            } else if (!strcmp(type, "response.output_text.done")) {
                cr_assert_str_eq(cJSON_GetObjectItem(j, "text")->valuestring, "mail [EMAIL] now");
                cr_assert_str_eq(s.p, "mail [EMAIL] now", "deltas before done, split %zu", i);
                dones++;
            }
            cJSON_Delete(j);
        }
        cr_assert_eq(dones, 1);
        size_t repeats = 0;
        for (const char *p = out; (p = strstr(p, "\"text\":\"mail [EMAIL] now\"")) != NULL; p++)
            repeats++;
        cr_assert_eq(repeats, 4, "done, part, item and response rewritten: %s", out);
        free(s.p);
        free(out);
    }
    char *rec = engine_call_audit_json(t.c);
    cr_assert(strstr(rec, "response.output[0].content[0].text"), "%s", rec);
    cr_assert(strstr(rec, "\"count\":1"), "counted once, not per repeat: %s", rec);
    free(rec);
    te_close(&t);
}

/* A window of api.schedule with data actions: inside it the window's action applies, outside
 * it api.data's (here none). */
Test(engine_data, schedule_windows_override_data_actions)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Mon-Fri 08:00-18:00\","
            "\"data\":{\"pii.email\":\"redact\"}}]}",
            NULL);
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"mail "
                       "alice.smith@example.com\"}]}";
    struct tm in = {.tm_year = 126, .tm_mon = 11, .tm_mday = 2, .tm_hour = 10}; /* a Wednesday */
    struct tm out = in;
    out.tm_hour = 20;
    int64_t when[2] = {(int64_t)timegm(&in) * 1000, (int64_t)timegm(&out) * 1000};
    for (int k = 0; k < 2; k++) {
        struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "a", .now_ms = when[k]};
        engine_call_free(t.c);
        cr_assert_eq(engine_call_new(t.e, &info, &t.c), 0);
        t.verdict = engine_call_request(t.c, body, strlen(body), &t.out, &t.out_len);
        if (k == 0) {
            cr_assert_eq(t.verdict, ENGINE_REWRITE, "inside the window");
            cr_assert(memmem(t.out, t.out_len, "mail [EMAIL]", 12));
        } else {
            cr_assert_eq(t.verdict, ENGINE_ALLOW, "outside the window");
        }
    }
    te_close(&t);
}

/* An exact-data-match class: the engine reads the file with the data key of its options, and
 * a value of the file is found in a prompt and tokenized; without the key the policy does not
 * build, with a message that names the class. */
Test(engine_data, exact_data_match_class_with_the_data_key)
{
    struct data_edm_writer *w;
    struct data_buf file = {0};
    cr_assert_eq(data_edm_writer_new(k_key, &w), 0);
    cr_assert_eq(data_edm_writer_add(w, "Jane Q Customer", 15), 0);
    cr_assert_eq(data_edm_writer_finish(w, &file), 0);
    data_edm_writer_free(w);
    char path[] = "/tmp/cordon-edm-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, file.p, file.len), (ssize_t)file.len);
    close(fd);
    data_buf_free(&file);
    char extra[512];
    snprintf(extra, sizeof extra,
             ",\"api\":{\"models\":[\"*\"],\"data\":{\"custom\":[{\"class\":\"customer\","
             "\"edm\":\"%s\",\"action\":\"redact\"}]}}",
             path);
    struct policy *p = te_policy(extra);
    struct engine *e = NULL;
    char err[512] = "";
    cr_assert_neq(engine_new(p, NULL, &e, err, sizeof err), 0, "no key: the policy does not build");
    cr_assert(strstr(err, "customer") && strstr(err, "data_key_file"), "%s", err);
    engine_free(e);
    policy_free(p);
    struct engine_options o = {.data_key = k_key};
    struct te t;
    te_open(&t, extra, &o);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"the "
                            "claim of Jane Q Customer is late\"}]}",
                            NULL),
                 ENGINE_REWRITE);
    char *out = strndup(t.out, t.out_len);
    cr_assert(strstr(out, "[CUSTOMER]"), "%s", out);
    cr_assert_null(strstr(out, "Jane"), "%s", out);
    free(out);
    te_close(&t);
    unlink(path);
}

/* tokenize on the response side restores the session's tokens and lets a value that is new in
 * the response pass (counted); a custom class named in api.data takes the action given there. */
Test(engine_data, response_tokenize_passes_new_values_and_custom_classes_take_api_data)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":\"tokenize\",\"claim_id\":"
            "\"block\",\"custom\":[{\"class\":\"claim_id\",\"pattern\":\"CLM-[0-9]{8}\","
            "\"action\":\"redact\"}]}}",
            NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"mail "
                            "alice.smith@example.com\"}]}",
                            NULL),
                 ENGINE_REWRITE);
    const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"[EMAIL_1] and bob.jones@example.org\"}}]}";
    const char *out;
    size_t ol;
    cr_assert_eq(engine_call_response(t.c, body, strlen(body), &out, &ol), ENGINE_REWRITE);
    char *o = strndup(out, ol);
    cr_assert(strstr(o, "alice.smith@example.com and bob.jones@example.org"), "%s", o);
    free(o);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"claim "
                            "CLM-12345678\"}]}",
                            NULL),
                 ENGINE_REFUSE, "api.data's block for the custom class, not its own redact");
    int status;
    const char *err = te_error(&t, &status);
    cr_assert(strstr(err, "claim_id"), "%s", err);
    cr_assert_null(strstr(err, "12345678"), "%s", err);
    te_close(&t);
}

/* With prompts recorded as text, the record holds the tokens the model saw and sent, never the
 * values the vault gave back to the client. */
Test(engine_data, recorded_text_keeps_tokens_not_restored_values)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"audit\":{\"prompts\":\"text\"},\"data\":{\"pii.email\":"
            "{\"request\":\"tokenize\",\"response\":\"allow\"}}}",
            NULL);
    cr_assert_eq(dt_request(&t, ENGINE_CHAT,
                            "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                            "\"content\":\"write to alice.smith@example.com\"}]}",
                            NULL),
                 ENGINE_REWRITE);
    const char *pieces[] = {"Sent to [EMA", "IL_1]."};
    char *in = chat_stream(pieces, 2);
    int rc;
    char *out = te_stream(t.c, in, 0, &rc);
    cr_assert_eq(rc, 0);
    char *got = assemble(out, ENGINE_CHAT);
    cr_assert_str_eq(got, "Sent to alice.smith@example.com.");
    engine_call_finish(t.c, 1);
    char *rec = engine_call_audit_json(t.c);
    cr_assert_null(strstr(rec, "alice.smith"), "%s", rec);
    cr_assert(strstr(rec, "\"response_text\":\"Sent to [EMAIL_1].\""), "%s", rec);
    free(rec);
    free(got);
    free(out);
    free(in);
    te_close(&t);
}

/* A Responses function call, held until done: its arguments go out rewritten in the delta,
 * the done event and the item. */
Test(engine_data, responses_function_call_arguments_are_redacted)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    cr_assert_eq(dt_request(&t, ENGINE_RESPONSES,
                            "{\"model\":\"gpt-4o\",\"stream\":true,\"input\":\"hi\"}", NULL),
                 ENGINE_ALLOW);
    const char *in =
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
        "\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc\",\"call_id\":\"c1\","
        "\"name\":\"send\",\"arguments\":\"\"}}\n\n"
        "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_"
        "arguments.delta\",\"item_id\":\"fc\",\"output_index\":0,\"delta\":\"{\\\"to\\\":\\\"alice."
        "smi\"}\n\n"
        "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_"
        "arguments.delta\",\"item_id\":\"fc\",\"output_index\":0,\"delta\":\"th@example.com\\\"}\"}"
        "\n\n"
        "event: response.function_call_arguments.done\ndata: {\"type\":\"response.function_call_"
        "arguments.done\",\"item_id\":\"fc\",\"output_index\":0,\"arguments\":\"{\\\"to\\\":"
        "\\\"alice."
        "smith@example.com\\\"}\"}\n\n"
        "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\","
        "\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc\",\"call_id\":\"c1\","
        "\"name\":\"send\",\"arguments\":\"{\\\"to\\\":\\\"alice.smith@example.com\\\"}\"}}\n\n";
    int rc;
    char *out = te_stream(t.c, in, 0, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_null(strstr(out, "alice"), "%s", out);
    size_t n = 0;
    for (const char *p = out; (p = strstr(p, "[EMAIL]")) != NULL; p++)
        n++;
    cr_assert_eq(n, 3, "the delta, the done event and the item: %s", out);
    free(out);
    te_close(&t);
}

/* Invalid UTF-8 is scanned as bytes, not skipped: a card number between stray bytes is still
 * found and redacted. */
Test(engine_data, invalid_utf8_around_a_value_is_scanned)
{
    struct te t;
    te_open(&t, POLICY_REDACT, NULL);
    int v = dt_request(&t, ENGINE_CHAT,
                       "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe "
                       "4539 1488 0343 6467 \xc3\"}]}",
                       NULL);
    cr_assert_eq(v, ENGINE_REWRITE);
    cr_assert_null(memmem(t.out, t.out_len, "4539 1488", 9));
    cr_assert(memmem(t.out, t.out_len, "[CREDIT_CARD]", 13));
    te_close(&t);
}
