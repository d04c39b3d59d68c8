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
 * Every stage is built: the data stage (stage_data.c) scans every text of the request and
 * of the response for the classes api.data names; the budget stage reserves through the
 * ledger the server passes in engine_call_info (api.h, struct engine_budget_ops) and
 * settles in the usage stage.
 *
 * Lifetimes: struct engine is built once per policy load and never modified; it may be
 * shared by every thread. struct engine_call is one model call, used by one thread at a time.
 */
#ifndef CORDON_POLICY_ENGINE_ENGINE_H
#define CORDON_POLICY_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "policy/engine/api.h"
#include "policy/policy.h"

/* The names of the vocabulary policy/engine/api.h declares (engine.c). */
const char *engine_strerror(int rc);

/* The format that serves path ("/v1/chat/completions" or "/chat/completions"), or -ENOENT. */
int engine_format_for_path(const char *path);
const char *engine_format_endpoint(enum engine_format f);
const char *engine_verdict_name(enum engine_verdict v);
const char *engine_stage_name(enum engine_stage_id s);

/*
 * The options policy p asks for: on_denied_definition, on_denied_call and
 * allow_stored_context from api.*; everything else zero (the defaults; the server sets its
 * limits afterwards). Argument constraints are not copied: engine_new() reads them from p.
 * Returns 0, or -EINVAL with err saying which key holds a value this engine does not know.
 */
int engine_options_from_policy(const struct policy *p, struct engine_options *o, char *err,
                               size_t errlen);

/*
 * Build the engine for policy p (borrowed: it must outlive the engine) and options o (copied,
 * but the strings it points to are borrowed; NULL: engine_options_from_policy(p)). Compiles
 * every constraint pattern once and reads the zone of every api.schedule rule once from
 * o->zoneinfo (base/tz.h). Returns 0 and *out (engine_free); ENGINE_ERR_REGEX with err
 * saying which pattern; a zone that cannot be read: -ENOENT (no such zone file), another
 * errno, or a TZ_ERR_* code (tz_strerror), with err naming the rule, the zone and the file;
 * -EINVAL from engine_options_from_policy(); -ENOMEM.
 */
__attribute__((warn_unused_result)) int engine_new(const struct policy *p,
                                                   const struct engine_options *o,
                                                   struct engine **out, char *err, size_t errlen);
void engine_free(struct engine *e);

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
__attribute__((warn_unused_result)) int engine_call_request(struct engine_call *c, const char *body,
                                                            size_t len, const char **out,
                                                            size_t *out_len);

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

/* The upstream answered with an error status the client gets as it is (a 4xx): the call
 * spent nothing, and the budget stage's reservation is released. */
void engine_call_no_charge(struct engine_call *c);

/* For a refusal of the budget stage (429): the seconds until the limit that refused resets,
 * for Retry-After; 0 for any other refusal. */
unsigned engine_call_retry_after(const struct engine_call *c);

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
 * judged; when api.data acts on the response (or the vault has tokens to restore), each text
 * position is held back at most the data scanner's window and goes out rewritten. Returns 0;
 * ENGINE_ERR_SSE_LINE / _SSE_EVENT / _TOO_LARGE / ENGINE_ERR_DATA (a blocked value, a text that
 * could not be scanned) after emitting the format's in-stream error event (the stream must
 * then end); the emit callback's negative value; -ENOMEM.
 */
__attribute__((warn_unused_result)) int engine_stream_feed(struct engine_call *c, const char *buf,
                                                           size_t len, engine_emit_fn emit,
                                                           void *ud);
/* The upstream stream ended (cleanly or not): flush what is held, judged. */
__attribute__((warn_unused_result)) int engine_stream_end(struct engine_call *c,
                                                          engine_emit_fn emit, void *ud);

/*
 * A complete (non-streamed) response body. Returns ENGINE_ALLOW (send it as it is),
 * ENGINE_REWRITE (send *out, owned by the call), ENGINE_REFUSE (the data stage blocked a value
 * of the response or could not scan it: send engine_call_error() instead), or a negative value
 * (ENGINE_ERR_MALFORMED: the body is not JSON of the format; the server sends it on unchanged
 * in observe mode and a 502 otherwise).
 */
__attribute__((warn_unused_result)) int engine_call_response(struct engine_call *c,
                                                             const char *body, size_t len,
                                                             const char **out, size_t *out_len);

/* Run the final hooks (usage, audit) once the call is over; latency_ms from request start
 * to the last byte. */
void engine_call_finish(struct engine_call *c, uint64_t latency_ms);

/* The longest text the data stage holds back per text position of a streamed response (the
 * data scanner's window), 0 when api.data has no response rule. */
size_t engine_data_window(const struct engine *e);

/*
 * The data stage's compiled classes, for what else scans with the same policy (the egress
 * judge, policy/server/httpjudge.h): the scanner, each class's name and its api.data action
 * for requests (act[0]) and responses (act[1]), in the data_action order of
 * policy/data/data_action.h. scanner is NULL when api.data acts on nothing. Valid as long as
 * e is.
 */
struct data_scanner;
struct engine_data_view {
    const struct data_scanner *scanner;
    size_t n;
    const char *const *names;
    const int *act[2];
};
void engine_data_view(const struct engine *e, struct engine_data_view *v);

/* The day and month buckets of now_ms (Unix ms) in the api.budget.tz of e's policy, and when
 * they end: the day, month, day_reset_ms and month_reset_ms of a (the rest is left as it
 * is). */
void engine_budget_buckets(const struct engine *e, int64_t now_ms, struct engine_budget_ask *a);

/* Whether api.schedule rule i of e's policy applies at now_ms (0: the clock), as a call's
 * schedule stage would see it: 1 active, 0 not, -1 when there is no rule i. For `cordon
 * status`; reads only what the engine read at init. */
int engine_schedule_active(const struct engine *e, size_t i, int64_t now_ms);

/* "api.budget.day_usd": the policy key a budget or rate scope comes from. */
const char *engine_budget_scope_name(enum engine_budget_scope s);

/* The record's view of one hook. */
const struct engine_decision *engine_call_decision(const struct engine_call *c,
                                                   enum engine_stage_id s, enum engine_hook h);

/* Tokens the upstream reported (0 when it did not). */
void engine_call_tokens(const struct engine_call *c, uint64_t *input, uint64_t *output);

/* Tool calls of the response: how many went to the client, and the names removed. */
size_t engine_call_tools_allowed(const struct engine_call *c);
size_t engine_call_tools_removed(const struct engine_call *c);
const char *engine_call_tool_removed(const struct engine_call *c, size_t i);
/* The name of the i-th tool call of the response, allowed or removed; NULL past the last. */
const char *engine_call_tool_name(const struct engine_call *c, size_t i);

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
