/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model proxy's engine: every decision cordond makes about one model call, and no I/O.
 * cordond's HTTP front hands the engine a request body and then the upstream's response
 * bytes as they arrive; the engine says what to forward, what to refuse, and what to write
 * to the audit log. The server does the reading and writing.
 *
 * The shape is a chain of stages with one interface (as curl's connection filters and
 * nginx's phases): each stage has a request hook, a hook per response event and a final
 * hook, and each hook answers allow, rewrite or refuse with a reason. The order is fixed:
 *
 *   quarantine -> models -> schedule -> tools -> data -> budget -> (upstream)
 *       -> response inspection (the response hooks of tools and data) -> usage -> audit
 *
 * Every hook's answer is kept in the call's record; a hook that did not run is "not run" in
 * the audit record, never left out. In observe mode every stage decides and is recorded as
 * enforce mode would have decided, but the request and the response go through unchanged.
 *
 * Stages the next issues fill (schedule, data, budget) are here as fail-closed placeholders:
 * a policy that uses them has every call refused with cordon.stage_missing rather than
 * forwarded unchecked.
 *
 * Lifetimes: struct engine is built once per policy load and never modified; it may be
 * shared by every thread. struct engine_call is one model call, used by one thread at a time.
 */
#ifndef CORDON_POLICY_ENGINE_ENGINE_H
#define CORDON_POLICY_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "policy/policy.h"

/* The engine's own codes (base/err.h): engine_strerror() names them. */
#define ENGINE_ERR_MALFORMED (ERR_BLOCK_ENGINE - 1)   /* a body that is not what it claims */
#define ENGINE_ERR_SSE_LINE (ERR_BLOCK_ENGINE - 2)    /* an SSE line over the line limit */
#define ENGINE_ERR_SSE_EVENT (ERR_BLOCK_ENGINE - 3)   /* an SSE event over the event limit */
#define ENGINE_ERR_REGEX (ERR_BLOCK_ENGINE - 4)       /* a constraint pattern does not compile */
#define ENGINE_ERR_STATE (ERR_BLOCK_ENGINE - 5)       /* a call used out of order */
#define ENGINE_ERR_TOO_LARGE (ERR_BLOCK_ENGINE - 6)   /* a held-back tool call over its limit */

const char *engine_strerror(int rc);

/* The four wire formats. */
enum engine_format {
    ENGINE_CHAT,       /* OpenAI POST /v1/chat/completions */
    ENGINE_RESPONSES,  /* OpenAI POST /v1/responses */
    ENGINE_MESSAGES,   /* Anthropic POST /v1/messages */
    ENGINE_EMBEDDINGS, /* OpenAI POST /v1/embeddings */
    ENGINE_N_FORMATS
};

/* The format that serves path ("/v1/chat/completions" or "/chat/completions"), or -1. */
int engine_format_for_path(const char *path);
const char *engine_format_endpoint(enum engine_format f);

enum engine_verdict { ENGINE_ALLOW, ENGINE_REWRITE, ENGINE_REFUSE };
const char *engine_verdict_name(enum engine_verdict v);

/* Why a hook answered as it did. code is "cordon.<what>"; message tells a developer which
 * rule, which policy version and what to change; status is the HTTP status of a refusal
 * (400 malformed, 403 policy, 429 budget and rate, 502/504 upstream). */
#define ENGINE_CODE_MAX 48
#define ENGINE_MESSAGE_MAX 512
struct engine_reason {
    int status;
    char code[ENGINE_CODE_MAX];
    char message[ENGINE_MESSAGE_MAX];
};

/* The stages, in pipeline order. */
enum engine_stage_id {
    ENGINE_STAGE_QUARANTINE,
    ENGINE_STAGE_MODELS,
    ENGINE_STAGE_SCHEDULE,
    ENGINE_STAGE_TOOLS,
    ENGINE_STAGE_DATA,
    ENGINE_STAGE_BUDGET,
    ENGINE_STAGE_UPSTREAM, /* decided by the server: engine_call_upstream() */
    ENGINE_STAGE_USAGE,
    ENGINE_STAGE_AUDIT,
    ENGINE_N_STAGES
};
const char *engine_stage_name(enum engine_stage_id s);

/* Which hook of a stage. */
enum engine_hook { ENGINE_HOOK_REQUEST, ENGINE_HOOK_RESPONSE, ENGINE_HOOK_FINAL, ENGINE_N_HOOKS };

/* One hook's answer, as the record keeps it. For the response hook, which runs once per
 * event, the record keeps the strongest answer (refuse > rewrite > allow) and its reason,
 * and counts the events judged. */
struct engine_decision {
    int ran;                      /* 0: "not run" */
    enum engine_verdict verdict;
    struct engine_reason why;     /* meaningful when verdict != ENGINE_ALLOW */
    unsigned events;              /* response hook: events judged */
};

/*
 * Options the policy document does not carry yet; a later step moves them into api.* of
 * the document. Zero-initialised options are the documented defaults.
 */
enum engine_on_denied_definition {
    ENGINE_DEFINITION_STRIP,  /* a request tool the policy does not allow is removed (default) */
    ENGINE_DEFINITION_REFUSE, /* ... or the whole request is refused with 403 */
};
enum engine_on_denied_call {
    ENGINE_CALL_DROP,   /* a denied response tool call is removed (default) */
    ENGINE_CALL_NOTICE, /* ... and a text notice stands in its place */
};

/* A constraint on one argument of a tool call, beyond api.tools.constraints' patterns. All
 * the checks given must hold; an absent argument fails unless optional is set. */
struct engine_arg_rule {
    const char *tool;     /* tool name or glob */
    const char *arg;      /* argument name */
    const char *pattern;  /* POSIX extended regex matched against the whole value, or NULL */
    const char *const *enum_v; /* allowed values (strings compared with the string value, or
                                  with a number's JSON text), or NULL */
    size_t n_enum;
    int has_min, has_max; /* numeric bounds; the value must then be a JSON number */
    double min, max;
    int optional;         /* 1: the argument may be absent */
};

struct engine_options {
    enum engine_on_denied_definition on_denied_definition;
    enum engine_on_denied_call on_denied_call;
    int allow_stored_context; /* 1: allow previous_response_id / conversation (Responses) */
    const struct engine_arg_rule *arg_rules;
    size_t n_arg_rules;
    size_t max_sse_line;  /* bytes in one SSE line; 0: ENGINE_DEFAULT_SSE_LINE */
    size_t max_held;      /* bytes of held-back tool calls per call; 0: ENGINE_DEFAULT_HELD */
    size_t max_record_text; /* text kept for the audit record when asked; 0: 64 KiB */
};
#define ENGINE_DEFAULT_SSE_LINE (1u << 20)
#define ENGINE_DEFAULT_HELD (4u << 20)
#define ENGINE_MAX_DEPTH 128 /* JSON nesting accepted in a request or response */

struct engine;      /* built once per policy load */
struct engine_call; /* one model call */

/* Bytes for the client, in order. Return 0, or a negative value to stop the stream. */
typedef int (*engine_emit_fn)(void *ud, const char *buf, size_t len);

/*
 * Build the engine for policy p (borrowed: it must outlive the engine) and options o (may be
 * NULL; copied, but the strings it points to are borrowed). Compiles every constraint
 * pattern once. Returns 0 and *out (engine_free); ENGINE_ERR_REGEX with err saying which
 * pattern; -ENOMEM.
 */
__attribute__((warn_unused_result)) int engine_new(const struct policy *p,
                                                   const struct engine_options *o,
                                                   struct engine **out, char *err,
                                                   size_t errlen);
void engine_free(struct engine *e);

/* What the server knows about the caller before the body is read. Strings are copied. */
struct engine_call_info {
    enum engine_format format;
    const char *agent;
    const char *session;  /* the session id of the tree's mark; NULL when none */
    int quarantined;      /* the agent is quarantined (anomaly response): refuse everything */
};

/* Start a call. Returns 0 and *out (engine_call_free), -EINVAL, -ENOMEM. */
__attribute__((warn_unused_result)) int engine_call_new(const struct engine *e,
                                                        const struct engine_call_info *info,
                                                        struct engine_call **out);
void engine_call_free(struct engine_call *c);

/*
 * Run the request hooks over body (len bytes; need not be NUL-terminated). Returns:
 *   ENGINE_ALLOW   forward body as it is;
 *   ENGINE_REWRITE forward *out (*out_len bytes, owned by the call, valid until it is freed);
 *   ENGINE_REFUSE  do not call upstream: send engine_call_error()'s status and body.
 * In observe mode the answer is ENGINE_ALLOW unless the body is malformed (a body the engine
 * cannot read is never forwarded). A negative value is -ENOMEM or ENGINE_ERR_STATE.
 */
__attribute__((warn_unused_result)) int engine_call_request(struct engine_call *c,
                                                            const char *body, size_t len,
                                                            const char **out, size_t *out_len);

/* The call's facts once the request is read: model ("" when none), and whether the client
 * asked for a stream. */
const char *engine_call_model(const struct engine_call *c);
int engine_call_stream(const struct engine_call *c);

/* The refusal to send: HTTP status and a body in the client's own error shape (an OpenAI
 * error object, an Anthropic error). *body is owned by the call. Returns 0, or ENGINE_ERR_STATE
 * when nothing was refused. */
int engine_call_error(struct engine_call *c, int *status, const char **body, size_t *len);

/* The server's answer from upstream, recorded as the upstream stage's decision: ok 1 when a
 * response came; else why is the failure (502/504, "cordon.upstream", which upstream failed
 * and how), and engine_call_error() then gives it in the client's shape. */
void engine_call_upstream(struct engine_call *c, int ok, const struct engine_reason *why);

/* End a stream the server must cut (upstream failure mid-stream, a limit of its own): emit
 * the format's in-stream error event for why and record it. Returns 0 or emit's value. */
__attribute__((warn_unused_result)) int engine_stream_error(struct engine_call *c,
                                                            const struct engine_reason *why,
                                                            engine_emit_fn emit, void *ud);

/*
 * GET /v1/models: the upstream's list (OpenAI {"object":"list","data":[{"id"...}]} or
 * Anthropic {"data":[...],"first_id","last_id","has_more"}) with only the models api.models
 * allows. Returns 0 and *out (malloc'ed, NUL-terminated, caller frees), ENGINE_ERR_MALFORMED
 * when body is not such a list, -ENOMEM.
 */
__attribute__((warn_unused_result)) int engine_models_filter(const struct engine *e,
                                                             const char *body, size_t len,
                                                             char **out, size_t *out_len);

/*
 * A streamed response: feed upstream bytes as they come, any split. Bytes that may go on at
 * once are emitted at once; a tool call is held back until its arguments are complete and
 * judged. Returns 0; ENGINE_ERR_SSE_LINE / _SSE_EVENT / _TOO_LARGE after emitting the
 * format's in-stream error event (the stream must then end); the emit callback's negative
 * value; -ENOMEM.
 */
__attribute__((warn_unused_result)) int engine_stream_feed(struct engine_call *c,
                                                           const char *buf, size_t len,
                                                           engine_emit_fn emit, void *ud);
/* The upstream stream ended (cleanly or not): flush what is held, judged. */
__attribute__((warn_unused_result)) int engine_stream_end(struct engine_call *c,
                                                          engine_emit_fn emit, void *ud);

/*
 * A complete (non-streamed) response body. Returns ENGINE_ALLOW (send it as it is),
 * ENGINE_REWRITE (send *out, owned by the call), or a negative value (ENGINE_ERR_MALFORMED:
 * the body is not JSON of the format; the server sends it on unchanged in observe mode and
 * a 502 otherwise).
 */
__attribute__((warn_unused_result)) int engine_call_response(struct engine_call *c,
                                                             const char *body, size_t len,
                                                             const char **out, size_t *out_len);

/* Run the final hooks (usage, audit) once the call is over; latency_ms from request start
 * to the last byte. */
void engine_call_finish(struct engine_call *c, uint64_t latency_ms);

/* The record's view of one hook. */
const struct engine_decision *engine_call_decision(const struct engine_call *c,
                                                   enum engine_stage_id s, enum engine_hook h);

/* Tokens the upstream reported (0 when it did not). */
void engine_call_tokens(const struct engine_call *c, uint64_t *input, uint64_t *output);

/* Tool calls of the response: how many went to the client, and the names removed. */
size_t engine_call_tools_allowed(const struct engine_call *c);
size_t engine_call_tools_removed(const struct engine_call *c);
const char *engine_call_tool_removed(const struct engine_call *c, size_t i);

/*
 * The audit record of the call, one JSON object (to be added to docs/AUDIT-FORMAT.md when
 * cordond writes it): "type":"model_call", agent, session,
 * model, endpoint, mode, every stage's decision per hook ("not run" included), tool calls
 * allowed and removed, SHA-256 of the prompt (the request body) and of the response as sent,
 * the texts when the policy records text, tokens and latency. Returns a NUL-terminated
 * string the caller frees with free(), or NULL on -ENOMEM. No I/O: the server writes it.
 */
char *engine_call_audit_json(const struct engine_call *c);

#endif
