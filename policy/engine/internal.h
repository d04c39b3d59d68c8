/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the engine's files share and nothing outside policy/engine/ includes: the compiled
 * engine, the call and its record, the request as the stages see it, the stage vtable and
 * the per-format operations.
 */
#ifndef CORDON_POLICY_ENGINE_INTERNAL_H
#define CORDON_POLICY_ENGINE_INTERNAL_H

#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdarg.h>
#include "base/grow.h"
#include "policy/engine/api.h"
#include "policy/engine/format.h"
#include "policy/data/data_buf.h"
#include "policy/engine/sse.h"
#include "policy/policy.h"

struct engine_call;

/* ---- the data stage (stage_data.c): api.data over every text of a call ----
 *
 * Compiled once per policy (struct engine_data: the scanner of every class some rule acts on,
 * and each class's action per direction). Per call (struct data_call): the session's vault, the
 * data key, what was found (for the audit record), and the lanes of a streamed response. A lane
 * is one text position of the stream (a choice's content, a content block's text, an output
 * part's text): the upstream's deltas are fed in, and only the final part comes out, with the
 * actions applied and the vault's tokens restored; the format emits it in its own event shape.
 */
struct data_scanner;
struct data_stream;
struct data_vault;
struct data_restore;

enum data_dir { DATA_DIR_REQUEST, DATA_DIR_RESPONSE, DATA_N_DIRS };

struct engine_data; /* stage_data.c */
int engine_data_new(const struct policy *p, const struct engine_options *o,
                    struct engine_data **out, char *err, size_t errlen);
void engine_data_free(struct engine_data *d);

struct data_lane {
    char *path; /* "response.choices[0].delta.content" */
    int k0, k1; /* the format's key of the position */
    cJSON *env; /* the format's template for the events it emits (owned), or NULL */
    struct data_stream *st;
    struct data_restore *rs;
    int ended;
};

struct data_find; /* stage_data.c: one class's count and positions, per direction */

struct data_call {
    int on[DATA_N_DIRS]; /* the direction is scanned */
    int restore;         /* response texts get the vault's tokens back */
    int stream;          /* -1 not decided; 0 the raw path; 1 texts flow through lanes */
    int keeping;         /* the data stage keeps the record's text (before restoring tokens) */
    unsigned char key[32];
    int has_key;
    struct data_vault *vault;
    struct data_vault *own_vault; /* a call without a session's vault tokenizes into its own */
    int *act[DATA_N_DIRS];        /* the call's action per class (enum data_action) */
    int acts_set;                 /* act has the schedule's overrides (data_acts) */
    int *resp_apply;              /* the response's actions as applied: tokenize only restores */
    struct data_lane *lanes;
    size_t n_lanes, cap_lanes;
    struct data_find *finds;
    size_t n_finds, cap_finds;
    struct engine_reason cut; /* why the data stage refused or cut the stream */
};

/* Set up and free the call's part (engine_call_new / _free). */
int engine_data_call_init(struct engine_call *c, const struct engine_call_info *info);
void engine_data_call_free(struct engine_call *c);

/* 1 when the response's texts must flow through lanes (decided at the first use: response
 * rules, or tokens to restore); 0 for the raw, zero-copy path. */
int engine_data_stream_on(struct engine_call *c);
/* The lane at path (made on first use, with k0/k1 set). NULL on -ENOMEM. */
struct data_lane *engine_data_lane(struct engine_call *c, const char *path, int k0, int k1);
struct data_lane *engine_data_lane_find(struct engine_call *c, const char *path);
/* Feed text into the lane; append the final part (actions applied, tokens restored) to *out.
 * 0; ENGINE_ERR_DATA (a block, or the scanner failed: c->dc.cut says why; the format ends the
 * stream); -ENOMEM. In observe mode a block is only recorded. */
int engine_data_feed(struct engine_call *c, struct data_lane *l, const char *text, size_t len,
                     struct data_buf *out);
/* The lane's position ended: everything it holds, final. */
int engine_data_end(struct engine_call *c, struct data_lane *l, struct data_buf *out);

/* Block mode: the string node at path (a complete response's text, a request text) scanned in
 * direction dir; the actions applied in place (not in observe mode), tokens restored on the
 * response side. record 0: a copy of text already counted (the done events of a stream).
 * Returns 1 rewritten, 0 unchanged, ENGINE_ERR_DATA (refused: c->dc.cut), -ENOMEM. */
int engine_data_node(struct engine_call *c, enum data_dir dir, const char *path, cJSON *node,
                     int record);
/* Every string inside v (tool arguments, an input object), as engine_data_node(). */
int engine_data_json(struct engine_call *c, enum data_dir dir, const char *path, cJSON *v,
                     int record);
/* Tool arguments given as JSON text: *out gets the rewritten text (malloc'ed) when the answer
 * is 1. Text that is not JSON is scanned as a plain string. */
int engine_data_args(struct engine_call *c, enum data_dir dir, const char *path, const char *args,
                     size_t len, int record, char **out);

/* The audit record's "data" member (NULL when the stage found nothing). */
struct jbuf;
/* The record's "data" member (per class: count, action, positions; no value), when any. */
void engine_data_audit(const struct engine_call *c, struct jbuf *b);

/* One stage: a small vtable, as a curl connection filter. A NULL hook is "not run". */
struct engine_stage {
    const char *name;
    enum engine_verdict (*request)(struct engine_call *c, struct engine_request *rq,
                                   struct engine_reason *why);
    enum engine_verdict (*event)(struct engine_call *c, const struct engine_event *ev,
                                 struct engine_reason *why);
    enum engine_verdict (*final)(struct engine_call *c, struct engine_reason *why);
};

extern const struct engine_stage engine_stage_quarantine, engine_stage_models,
    engine_stage_schedule, engine_stage_tools, engine_stage_data, engine_stage_budget,
    engine_stage_usage, engine_stage_audit;

/* A compiled argument check: api.tools.constraints and engine_options.arg_rules alike. The
 * pattern is compiled by policy/deep.h, the dialect `cordon policy check` accepts. */
struct deep_regex;
struct tz;
struct arg_check {
    const char *tool, *arg;
    int has_re;
    struct deep_regex *re;
    const char *pattern;
    const char *const *enum_v;
    size_t n_enum;
    int has_min, has_max;
    double min, max;
    int optional;
    int from_policy;
};

struct engine {
    const struct policy *p;
    struct engine_options o;
    size_t n_checks;
    struct arg_check *checks;
    /* api.schedule: the zone of each rule (rule_tz[i], shared by rules of one zone), loaded
     * once by engine_new() and owned in tz_own */
    struct tz **rule_tz, **tz_own;
    size_t n_tz_own;
    struct engine_data *data; /* NULL when api.data acts on nothing */
    /* api.budget.tz, loaded once by engine_new() when the policy has budgets (NULL: UTC) */
    struct tz *budget_tz;
};

/* A tool call of the response, judged: its name, the answer, a digest of its arguments, and
 * the arguments themselves when the policy records them as text. */
struct tool_note {
    char *name;
    int allowed;
    struct engine_reason why;
    unsigned char args_sha[32];
    char *args;
};

struct engine_call {
    const struct engine *e;
    enum engine_format fmt;
    const struct format_ops *ops;
    char *agent, *session;
    int quarantined;
    int64_t quarantined_since_ms;
    int observe;
    int state; /* 0 new, 1 request read, 2 refused, 3 finished */
    struct engine_decision d[ENGINE_N_STAGES][ENGINE_N_HOOKS];

    struct engine_request rq;
    char *model;
    int stream;
    char *out; /* rewritten request or response, or the error body */
    size_t out_len;
    struct engine_reason refusal;
    int refused;
    struct engine_reason would_refuse; /* observe mode: a refusal before the stages */

    /* response side */
    struct sse_parser *sse;
    void *asm_state; /* the format's stream assembler */
    uint64_t in_tokens, out_tokens;
    size_t tools_allowed;
    size_t n_removed;
    size_t n_notes, cap_notes;
    struct tool_note *notes;
    SHA256_CTX resp_hash; /* libcrypto: the CPU's SHA extensions, where libsodium's is portable C */
    unsigned char prompt_sha[32];
    char *resp_text; /* text of the response, kept when the policy records text */
    size_t resp_text_len, resp_text_cap;
    int resp_text_cut;
    uint64_t latency_ms;
    int stream_failed;
    engine_emit_fn emit;
    void *emit_ud;

    /* the budget stage (stage_budget.c) */
    size_t req_len;                       /* bytes of the request body */
    const struct engine_budget_ops *bops; /* NULL: no ledger */
    void *bops_ud;
    uint64_t budget_handle;
    int budget_held;                       /* a reservation is open */
    int budget_done;                       /* 1 settled, 2 released */
    int budget_est;                        /* settled at the worst case: no usage came */
    int64_t budget_usd_p, budget_tokens;   /* the worst case reserved */
    int64_t charged_usd_p, charged_tokens; /* what was settled */
    unsigned retry_after;                  /* seconds, for a 429 of the budget stage */
    int strip_usage; /* cordon added stream_options.include_usage: keep the usage chunk */
    int usage_seen;  /* an ENGINE_EV_USAGE came */
    uint64_t cached_tokens, reasoning_tokens, cache_write_tokens;
    /* schedule: the call's time and the api.schedule rules that apply at it (bit i: rule i) */
    int64_t now_ms;
    uint64_t sched_on[(POLICY_MAX_ITEMS + 63) / 64];
    size_t n_sched_on;
    struct data_call dc; /* the data stage's part of the call (stage_data.c) */
};

/* The budget stage's zone (stage_budget.c): loaded from e->o.zoneinfo when the policy has
 * limits; 0, -ENOMEM, or a tz_load() error with err naming api.budget.tz. */
int budget_engine_init(struct engine *e, char *err, size_t errlen);
void budget_engine_free(struct engine *e);

/* The budget stage's end of a call (stage_budget.c): settle from usage (or at the worst case
 * when none came), or release when nothing was spent. Idempotent. */
void budget_settle(struct engine_call *c);
void budget_release(struct engine_call *c);

/* reason helpers */
void reason_set(struct engine_reason *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Run every stage's response hook on ev; record; returns the strongest verdict, with *why. In
 * observe mode the verdict is still returned: the caller forwards unchanged. */
enum engine_verdict engine_judge_event(struct engine_call *c, const struct engine_event *ev,
                                       struct engine_reason *why);

/* The tools stage's judgement of one call, shared by request history and response. */
enum engine_verdict tools_judge_call(const struct engine *e, const char *name, const char *args,
                                     size_t args_len, struct engine_reason *why);
int tools_name_allowed(const struct engine *e, const char *name, struct engine_reason *why);

/* Record a tool call of the response as allowed or removed. */
void engine_note_tool(struct engine_call *c, const char *name, int allowed,
                      const struct engine_reason *why, const char *args, size_t args_len);

/* Bytes that went to the client (hashed, text kept when asked). */
int engine_emit(struct engine_call *c, const char *buf, size_t len);
void engine_keep_text(struct engine_call *c, const char *s, size_t n);

/* The notice that stands in a denied tool call's place (on_denied_call notice). */
void engine_notice_text(const char *name, const struct engine_reason *why, char *buf, size_t cap);

/* Record a response-side answer of stage s that no stage hook gave (an unreadable event). */
void engine_record_response(struct engine_call *c, enum engine_stage_id s, enum engine_verdict v,
                            const struct engine_reason *why);

/* Stream helpers for the assemblers: the block's raw bytes; a cJSON value as an event; an
 * event that cannot be read (dropped, as it could carry a tool call; forwarded in observe
 * mode). Return 0 or the emit callback's negative value. */
int format_emit_raw(struct engine_call *c, const struct sse_event *ev);
int format_emit_event(struct engine_call *c, const char *event, const cJSON *data);
int format_unreadable(struct engine_call *c, const struct sse_event *ev, const char *what);
/* A dispatched event's data as a JSON object: 1 with *root (the caller cJSON_Deletes it); for
 * data that is not one, what format_unreadable() returned (0 or negative); -ENOMEM. */
int format_event_object(struct engine_call *c, const struct sse_event *ev, cJSON **root);

/*
 * The schedule stage (stage_schedule.c). schedule_engine_init() loads every rule's zone from
 * e->o.zoneinfo (0; -ENOMEM; a tz_load() error with err naming the rule and the zone);
 * schedule_call_init() reads the call's time (0: the real clock) and which rules apply.
 */
int schedule_engine_init(struct engine *e, char *err, size_t errlen);
void schedule_engine_free(struct engine *e);
void schedule_call_init(struct engine_call *c, int64_t now_ms);
/* 1 when a rule that applies to the call lists name in its tools.deny (why says which rule
 * and until when); 0 otherwise. The tools stage asks for request definitions, a forced
 * tool_choice and response tool calls. */
int engine_schedule_tool_denied(const struct engine_call *c, const char *name,
                                struct engine_reason *why);
/* The data action for class cls (a built-in or custom class name) from the rules that apply
 * to the call, on the request (response 0) or the response (1) side: *found 1 when a rule
 * names the class (exactly, or with a glob), and the action; *found 0 (and ALLOW) when none
 * does, and api.data decides. In one rule the most specific entry decides (the exact name,
 * else the longest glob), as in api.data; across rules the strongest action wins. */
enum policy_action engine_schedule_data_action(const struct engine_call *c, const char *cls,
                                               int response, int *found);

/* "policy of agent "a" v3": which policy a message speaks of. */
void engine_policy_tag(const struct engine_call *c, char *buf, size_t cap);
void engine_tag(const struct policy *p, char *buf, size_t cap);

#endif
