/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's vocabulary: its codes, limits, enums and the structs its modules share (the
 * reason and decision of a hook, the options, what the server knows of a call). Types and
 * constants only; the functions are declared in the header of the file that defines them.
 * Code outside policy/engine includes policy/engine/engine.h, which includes this.
 */
#ifndef CORDON_POLICY_ENGINE_API_H
#define CORDON_POLICY_ENGINE_API_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

/* The engine's own codes (base/err.h): engine_strerror() names them. */
#define ENGINE_ERR_MALFORMED (ERR_BLOCK_ENGINE - 1) /* a body that is not what it claims */
#define ENGINE_ERR_SSE_LINE (ERR_BLOCK_ENGINE - 2)  /* an SSE line over the line limit */
#define ENGINE_ERR_SSE_EVENT (ERR_BLOCK_ENGINE - 3) /* an SSE event over the event limit */
#define ENGINE_ERR_REGEX (ERR_BLOCK_ENGINE - 4)     /* a constraint pattern does not compile */
#define ENGINE_ERR_STATE (ERR_BLOCK_ENGINE - 5)     /* a call used out of order */
#define ENGINE_ERR_TOO_LARGE (ERR_BLOCK_ENGINE - 6) /* a held-back tool call over its limit */
#define ENGINE_ERR_DATA (ERR_BLOCK_ENGINE - 7)      /* the data stage blocked or could not scan */

/* The four wire formats. */
enum engine_format {
    ENGINE_CHAT,       /* OpenAI POST /v1/chat/completions */
    ENGINE_RESPONSES,  /* OpenAI POST /v1/responses */
    ENGINE_MESSAGES,   /* Anthropic POST /v1/messages */
    ENGINE_EMBEDDINGS, /* OpenAI POST /v1/embeddings */
    ENGINE_N_FORMATS
};

enum engine_verdict { ENGINE_ALLOW, ENGINE_REWRITE, ENGINE_REFUSE };

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

/* Which hook of a stage. */
enum engine_hook { ENGINE_HOOK_REQUEST, ENGINE_HOOK_RESPONSE, ENGINE_HOOK_FINAL, ENGINE_N_HOOKS };

/* One hook's answer, as the record keeps it. For the response hook, which runs once per
 * event, the record keeps the strongest answer (refuse > rewrite > allow) and its reason,
 * and counts the events judged. */
struct engine_decision {
    int ran; /* 0: "not run" */
    enum engine_verdict verdict;
    struct engine_reason why; /* meaningful when verdict != ENGINE_ALLOW */
    unsigned events;          /* response hook: events judged */
};

/*
 * How the engine runs. The policy's part (api.tools.on_denied_definition,
 * api.tools.on_denied_call, api.previous_response_id) comes from engine_options_from_policy(),
 * the one place the document becomes options; the limits are the server's. Zero-initialised
 * options are the documented defaults, which are also the document's defaults.
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
    const char *tool;          /* tool name or glob */
    const char *arg;           /* argument name */
    const char *pattern;       /* regex matched against the whole value (vectorscan's dialect, the
                                  one `cordon policy check` accepts, policy/deep.h), or NULL */
    const char *const *enum_v; /* allowed values (strings compared with the string value, or
                                  with a number's JSON text), or NULL */
    size_t n_enum;
    int has_min, has_max; /* numeric bounds; the value must then be a JSON number */
    double min, max;
    int optional; /* 1: the argument may be absent */
};

struct engine_options {
    enum engine_on_denied_definition on_denied_definition;
    enum engine_on_denied_call on_denied_call;
    int allow_stored_context; /* 1: allow previous_response_id / conversation (Responses) */
    const struct engine_arg_rule *arg_rules;
    size_t n_arg_rules;
    size_t max_sse_line;    /* bytes in one SSE line; 0: ENGINE_DEFAULT_SSE_LINE */
    size_t max_held;        /* bytes of held-back tool calls per call; 0: ENGINE_DEFAULT_HELD */
    size_t max_record_text; /* text kept for the audit record when asked; 0: 64 KiB */
    const char *zoneinfo;   /* the tz database api.schedule's zones are read from, once, by
                               engine_new(); NULL: /usr/share/zoneinfo */
    /* The 32-byte data key (cordond's data_key_file) the exact-data-match files of api.data
     * were made with (borrowed, read by engine_new only); NULL: a policy with such a class
     * does not build. */
    const unsigned char *data_key;
};
#define ENGINE_DEFAULT_SSE_LINE (1u << 20)
#define ENGINE_DEFAULT_HELD (4u << 20)
#define ENGINE_MAX_DEPTH 128 /* JSON nesting accepted in a request or response */

struct engine;      /* built once per policy load */
struct engine_call; /* one model call */

/* Bytes for the client, in order. Return 0, or a negative value to stop the stream. */
typedef int (*engine_emit_fn)(void *ud, const char *buf, size_t len);

struct data_vault; /* policy/data/data_vault.h */

/*
 * The ledger as the budget stage sees it (the server's policy/server/ledger.h behind it, a
 * fake in the unit tests): the engine computes the worst case and the limits, the ledger
 * holds the counts and decides atomically. Money is in pico-dollars (10^-12 USD) so that
 * every sum is exact; a limit < 0 is no limit.
 */
enum engine_budget_scope {
    ENGINE_BUDGET_SESSION_USD,
    ENGINE_BUDGET_DAY_USD,
    ENGINE_BUDGET_MONTH_USD,
    ENGINE_BUDGET_SESSION_TOKENS,
    ENGINE_BUDGET_DAY_TOKENS,
    ENGINE_BUDGET_MONTH_TOKENS,
    ENGINE_RATE_REQUESTS,   /* api.rate.requests_per_minute */
    ENGINE_RATE_TOKENS,     /* api.rate.tokens_per_minute */
    ENGINE_RATE_CONC_AGENT, /* api.rate.concurrent_per_agent */
    ENGINE_RATE_CONC_SESSION,
    ENGINE_BUDGET_N_SCOPES
};

struct engine_budget_ask {
    const char *agent;
    const char *session; /* "" for calls made with the agent key: they share one session */
    char day[16];        /* the day and month buckets in api.budget.tz: "2026-12-02", "2026-12" */
    char month[8];
    int64_t day_reset_ms, month_reset_ms; /* when those buckets end (Unix ms) */
    int64_t now_ms;
    int64_t usd_p;                         /* the worst case, pico-dollars */
    int64_t tokens;                        /* the worst case, tokens */
    int64_t limit[ENGINE_BUDGET_N_SCOPES]; /* < 0: none; pico-dollars, tokens or counts */
    int force; /* observe mode: hold it even over a limit (recorded as would-refuse) */
};

/* Why the ledger refused: the first scope over its limit, what remains there, when it resets
 * (Unix ms; 0 for concurrency, which resets when a call ends). */
struct engine_budget_refusal {
    enum engine_budget_scope scope;
    int64_t limit, used, remaining;
    int64_t reset_ms;
};

struct engine_budget_ops {
    /* Hold ask's worst case against every limit at once. 0 and *handle; 1 refused with *why;
     * a negative errno when the ledger cannot record (the call is then refused, 503). */
    int (*reserve)(void *ud, const struct engine_budget_ask *ask, uint64_t *handle,
                   struct engine_budget_refusal *why);
    /* The call is over: charge usd_p and tokens in place of the reservation (estimated: no
     * usage came and the worst case is charged). */
    void (*settle)(void *ud, uint64_t handle, int64_t usd_p, int64_t tokens, int estimated);
    /* The call never spent: drop the reservation. */
    void (*release)(void *ud, uint64_t handle);
};

/* What the server knows about the caller before the body is read. Strings are copied. */
struct engine_call_info {
    enum engine_format format;
    const char *agent;
    const char *session; /* the session id of the tree's mark; NULL when none */
    int quarantined;     /* the agent is quarantined (anomaly response): refuse everything */
    /* The ledger (NULL: none; a policy with api.budget or api.rate then has its calls refused
     * with 503 cordon.budget_unavailable). Borrowed: it must outlive the call. */
    const struct engine_budget_ops *budget;
    void *budget_ud;
    int64_t quarantined_since_ms; /* since when (wall clock, ms), for the refusal's message */
    int64_t now_ms; /* the call's time, ms since the epoch (UTC), by which api.schedule's
                       windows are read for the whole call; 0: the real clock */
    /* The data stage (api.data). vault: the session's tokenize vault (policy/data/data_vault.h),
     * borrowed, it must outlive the call; NULL: the call tokenizes into a vault of its own, so
     * its response restores only its own tokens. data_key: the 32-byte data key (cordond's
     * data_key_file) for the hash action, copied; NULL: a hash rule refuses the call. */
    struct data_vault *vault;
    const unsigned char *data_key;
};

#endif
