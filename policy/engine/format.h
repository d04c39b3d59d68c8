/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire formats, request side and response side, as the stages see them. A request body
 * is checked by one validating pass (syntax, nesting, duplicate members, NUL in strings)
 * before cJSON reads it, then each format's inspector finds the model, the tool definitions,
 * tool_choice, the tool calls of the history and every text-bearing position, each with a
 * path ("messages[2].content[0].text"), so that one extractor serves every stage that reads
 * text. The per-format files (format_chat.c, format_responses.c, format_messages.c,
 * format_embeddings.c) hold the inspector, the error shapes, the judge of a complete response
 * and the stream assembler of that format.
 */
#ifndef CORDON_POLICY_ENGINE_FORMAT_H
#define CORDON_POLICY_ENGINE_FORMAT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/engine/api.h"

/* Where a text sits in a request. */
enum engine_text_kind {
    ENGINE_TEXT_SYSTEM,      /* system / developer messages, Messages' system, instructions */
    ENGINE_TEXT_USER,        /* user text */
    ENGINE_TEXT_ASSISTANT,   /* assistant content in the history */
    ENGINE_TEXT_TOOL_ARGS,   /* assistant tool call arguments in the history */
    ENGINE_TEXT_TOOL_RESULT, /* tool results */
    ENGINE_TEXT_INPUT,       /* Responses input string or item text, embeddings input */
    ENGINE_TEXT_TOOL_DEF,    /* a tool the request defines: its description and schema */
    ENGINE_N_TEXT_KINDS
};
const char *engine_text_kind_name(enum engine_text_kind k);

struct engine_text {
    char *path; /* "messages[1].content[0].text" (owned) */
    enum engine_text_kind kind;
    const char *text; /* into the cJSON tree, or into owned when the text was built */
    size_t len;
    cJSON *node; /* the string node, so a stage may rewrite it; NULL if built */
    char *owned;
    cJSON *src;  /* a built text's source (a tool_use input object), rewritten in place; or NULL */
    size_t tool; /* 1 + the index in tools of the definition it is the text of; 0 for others */
};

/* A tool the request defines. */
struct engine_tool_def {
    const char *name; /* the function name, or a built-in tool's type */
    cJSON *node;      /* the definition, in its array */
    cJSON *array;     /* the array holding it ("tools" or legacy "functions") */
};

/* A tool call in the history. */
struct engine_tool_call {
    char *path;
    const char *name;
    char *args; /* arguments as JSON text (owned) */
    size_t args_len;
    const char *id; /* the call's id in the history (tool_calls[].id, tool_use.id, call_id) */
};

/* A tool result in the history: the tool it names (the legacy "function" role), or the id of
 * the call it answers; the tools stage finds the call and judges the tool. */
struct engine_tool_result {
    char *path;
    const char *name;    /* NULL unless the result names its tool */
    const char *call_id; /* NULL unless the result names its call */
    size_t calls_before; /* the history's calls that come before it: only those it answers */
};

struct engine_request {
    enum engine_format fmt;
    cJSON *root;
    const char *model; /* NULL when absent */
    int stream;
    size_t n_tools, cap_tools;
    struct engine_tool_def *tools;
    const char *tool_choice_forced; /* a named tool tool_choice forces, or NULL */
    int tool_choice_required;       /* tool_choice demands some tool ("required", "any") */
    size_t n_calls, cap_calls;
    struct engine_tool_call *calls;
    size_t n_results, cap_results;
    struct engine_tool_result *results;
    size_t n_texts, cap_texts;
    struct engine_text *texts;
    size_t tokens_input;        /* embeddings input given as tokens: no text to hand over */
    size_t opaque;              /* content whose text cannot be read (a file, a PDF document) */
    char opaque_at[128];        /* the first one's path and what it is */
    const char *stored_context; /* "previous_response_id" or "conversation" when present */
    int changed;                /* a stage rewrote the tree */
};

/* What a response yields to the stages' response hooks. */
enum engine_event_kind {
    ENGINE_EV_TEXT,      /* text delta, or a complete response's text */
    ENGINE_EV_TOOL_CALL, /* one complete tool call: name and arguments */
    ENGINE_EV_USAGE,     /* token counts */
    ENGINE_EV_ERROR,     /* the upstream's error event */
};
struct engine_event {
    enum engine_event_kind kind;
    const char *text;
    size_t len;
    const char *name, *id;
    const char *args;
    size_t args_len;
    uint64_t in_tokens, out_tokens; /* ENGINE_EV_USAGE; a count not reported is UINT64_MAX */
    /* ENGINE_EV_USAGE details, UINT64_MAX when not reported: cached input (OpenAI
     * *_tokens_details.cached_tokens, within the input count; Anthropic
     * cache_read_input_tokens, beside it), reasoning (OpenAI, within the output count), cache
     * writes (Anthropic cache_creation_input_tokens, beside the input count) */
    uint64_t cached_tokens, reasoning_tokens, cache_write_tokens;
};

/*
 * Check that buf is one JSON value: RFC 8259 syntax, nesting at most max_depth, no object
 * with two members of one name (compared after unescaping), no NUL in a string (cJSON's C
 * strings would cut the text there and hide the rest from every stage). Returns 0 and parses
 * into *out (cJSON_Delete), or ENGINE_ERR_MALFORMED with err saying what and where.
 */
__attribute__((warn_unused_result)) int format_parse(const char *buf, size_t len, int max_depth,
                                                     cJSON **out, char *err, size_t errlen);

/* Builders for the inspectors. Return 0 or -ENOMEM. */
int format_add_text(struct engine_request *rq, enum engine_text_kind k, cJSON *node,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A text built by the inspector (owned moves to the request), e.g. a tool input object
 * printed as JSON. */
int format_add_owned_text(struct engine_request *rq, enum engine_text_kind k, char *owned,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int format_add_tool(struct engine_request *rq, const char *name, cJSON *node, cJSON *array);
/* Content the data stage cannot read (a base64 file, a document by URL): counted, and the
 * first one's path kept, so that a policy with api.data refuses it rather than forwarding it
 * unscanned. */
void format_add_opaque(struct engine_request *rq, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A history tool result (name or call_id may be NULL, not both, and stay owned by the tree).
 * Returns 0 or -ENOMEM. */
int format_add_result(struct engine_request *rq, const char *name, const char *call_id,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int format_add_call(struct engine_request *rq, const char *name, const char *args, size_t len,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void format_request_clear(struct engine_request *rq);

/* Strip definition i from the request; drop the keys named in ops->tool_keys when no tool is
 * left, as the providers refuse an empty tools array. */
void format_strip_tool(struct engine_request *rq, size_t i);

struct engine_call;
struct sse_event;

struct format_ops {
    enum engine_format fmt;
    const char *endpoint;
    /* keys to drop once every tool is stripped */
    const char *const *tool_keys;
    /* fill rq from rq->root: 0, or ENGINE_ERR_MALFORMED with why (400 cordon.malformed) */
    int (*inspect)(struct engine_request *rq, struct engine_reason *why);
    /* the client's error body for why, malloc'ed; NULL on -ENOMEM */
    char *(*error_body)(const struct engine_reason *why);
    /* the in-stream error event, malloc'ed, complete with its blank line */
    char *(*error_event)(const struct engine_reason *why);
    /* judge a complete response: 0 unchanged, 1 rewritten, ENGINE_ERR_MALFORMED */
    int (*response)(struct engine_call *c, cJSON *root);
    /* the stream assembler: one SSE block; and the end of the stream */
    int (*stream_block)(struct engine_call *c, const struct sse_event *ev);
    int (*stream_end)(struct engine_call *c);
    void (*stream_free)(void *state);
};

extern const struct format_ops format_chat, format_responses, format_messages, format_embeddings;
const struct format_ops *format_ops_for(enum engine_format f);

/* An OpenAI error object {"error":{"message","type","param","code"}}, shared by chat,
 * responses and embeddings. */
char *format_openai_error(const struct engine_reason *why);

/* Print a cJSON value as one SSE data line with its blank line ("data: {...}\n\n"), or with
 * an event line first when event is not NULL. malloc'ed; *len set. */
char *format_sse_event(const char *event, const cJSON *data, size_t *len);

/* A growing byte string, NUL-terminated. */
struct fbuf {
    char *p;
    size_t len, cap;
};
int fbuf_put(struct fbuf *b, const char *s, size_t n);
void fbuf_free(struct fbuf *b);

/* Every format's first members: "model" (a string, into rq->model) and, where the format
 * streams, "stream" (true, false or null, into rq->stream). 0, or ENGINE_ERR_MALFORMED with why
 * set. */
int format_model_stream(struct engine_request *rq, int streams, struct engine_reason *why);

/* Fill why with a 400 cordon.malformed and return ENGINE_ERR_MALFORMED. */
int format_bad(struct engine_reason *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Usage numbers into an ENGINE_EV_USAGE, judged; in_key/out_key name the fields. */
void format_usage(struct engine_call *c, const cJSON *usage, const char *in_key,
                  const char *out_key);

/* Judge one complete tool call of the response through the response hooks and note it:
 * 1 allowed, 0 denied with why set. */
int format_judge_call(struct engine_call *c, const char *name, const char *id, const char *args,
                      size_t len, struct engine_reason *why);
/* A text of the response: kept for the record when asked, and judged. */
void format_judge_text(struct engine_call *c, const char *s, size_t n);

/* Small cJSON readers: the string at key, or NULL. */
const char *format_str(const cJSON *o, const char *key);

#endif
