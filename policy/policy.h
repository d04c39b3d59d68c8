/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy document: parse (cJSON), validate every key, expand variables, resolve paths,
 * and compile into one immutable struct policy that sandbox/, the shim, the API engine and
 * `cordon explain` all read. The schema is specified in docs/POLICY.md; this header is its
 * in-memory twin.
 *
 * Everything hangs off one allocation arena owned by the struct policy; policy_free()
 * releases it all. Nothing in a compiled policy is ever modified after policy_load() returns.
 */
#ifndef CORDON_POLICY_POLICY_H
#define CORDON_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "base/diag.h"
#include "base/path.h"

#define POLICY_SCHEMA 1
#define POLICY_MAX_BYTES (1u << 20) /* a policy larger than 1 MiB is refused */
#define POLICY_MAX_DEPTH 8          /* the schema itself needs 6 (api.schedule[].tools.deny) */
#define POLICY_MAX_STRING 4096      /* bytes in any one string */
#define POLICY_MAX_ITEMS 1024       /* entries in any one array or object */

enum policy_mode { POLICY_MODE_ENFORCE, POLICY_MODE_OBSERVE };
enum policy_enforcement { POLICY_STRICT, POLICY_BEST_EFFORT };
enum policy_net { POLICY_NET_NONE, POLICY_NET_PROXY, POLICY_NET_HOST };
enum policy_scope { POLICY_SCOPE_SCOPED, POLICY_SCOPE_OPEN };
/* New unix sockets: any (open), or only stream socketpairs (pairs), which cannot reach a
 * named socket such as gpg-agent's or docker's. */
enum policy_unix { POLICY_UNIX_OPEN, POLICY_UNIX_PAIRS };
/* SysV IPC (shm, message queues, semaphores): refused (deny), or allowed inside an IPC
 * namespace of the sandbox's own (private), where objects outside cannot be named. */
enum policy_sysv { POLICY_SYSV_DENY, POLICY_SYSV_PRIVATE };
/* What api.data does with a value of a class; the order is strength ("strongest wins") and is
 * the same as policy/data/data_action.h's enum data_action. */
enum policy_action {
    POLICY_ACTION_ALLOW,
    POLICY_ACTION_LOG,
    POLICY_ACTION_REDACT,
    POLICY_ACTION_MASK,
    POLICY_ACTION_HASH,
    POLICY_ACTION_TOKENIZE,
    POLICY_ACTION_BLOCK
};
/* api.anomaly.on_trigger; "log" is read as alert, its name before alert existed. */
enum policy_trigger { POLICY_TRIGGER_ALERT, POLICY_TRIGGER_THROTTLE, POLICY_TRIGGER_QUARANTINE };
enum policy_record { POLICY_RECORD_DIGEST, POLICY_RECORD_TEXT };

/* Where a rule came from: the document, a documented default, the credential deny set, or the
 * host secret set (cordond's own keys, token, state and audit log: policy_host_paths and the
 * signed payload's host_deny), which no policy can switch off or grant. */
enum policy_origin {
    POLICY_ORIGIN_POLICY,
    POLICY_ORIGIN_DEFAULT,
    POLICY_ORIGIN_CREDENTIALS,
    POLICY_ORIGIN_HOST,
    POLICY_ORIGIN_PRESET /* a directory of a sandbox.presets entry */
};

#define POLICY_HOST_DENY_MAX 64 /* entries in a document's host_deny */

struct policy_list {
    size_t n;
    const char *const *v;
};

struct policy_path {
    const char *raw;  /* as written: "~/.ssh" */
    const char *path; /* expanded and normalized: "/home/a/.ssh" */
    const char *real; /* symlinks resolved; NULL when the path does not exist at compile time */
    enum policy_origin origin;
};

struct policy_paths {
    size_t n;
    const struct policy_path *v;
};

struct policy_endpoint {
    const char *raw;  /* "*.git.example.com:443" */
    const char *host; /* lowercase; "*.git.example.com" when wildcard, IPv6 without brackets */
    int wildcard;     /* host begins with "*.": any name strictly beneath the suffix */
    uint16_t port;    /* 0 means any port ("host:*") */
};

/*
 * sandbox.network.http[]: the hosts whose HTTP requests cordond reads and judges one by one
 * (docs/POLICY.md "sandbox.network.http"). Every entry's host is covered by
 * sandbox.network.allow; the rules are tried in order and the first that matches decides,
 * else the entry's default.
 */
enum policy_http_tls { POLICY_HTTP_TLS_NONE, POLICY_HTTP_TLS_TERMINATE };
enum policy_http_action { POLICY_HTTP_ALLOW, POLICY_HTTP_DENY };
/* One query condition: "name": true (present), false (absent) or "REGEX" (present, and its
 * values match in full: every value for an allow rule, any value for a deny rule). */
enum policy_http_query_op {
    POLICY_HTTP_QUERY_PRESENT,
    POLICY_HTTP_QUERY_ABSENT,
    POLICY_HTTP_QUERY_MATCH
};

struct policy_http_query {
    const char *name; /* the parameter's name, compared after percent-decoding */
    enum policy_http_query_op op;
    const char *pattern; /* POLICY_HTTP_QUERY_MATCH: vectorscan's dialect, anchored at both
                            ends by deep_regex_compile; else NULL */
};

struct policy_http_rule {
    struct policy_list methods; /* exact method names ("GET"); empty: any method */
    const char *path;           /* glob (base/glob.h) over the normalized path; NULL: any path */
    size_t n_query;
    const struct policy_http_query *query; /* every condition must hold */
    enum policy_http_action action;
};

struct policy_http_host {
    struct policy_endpoint host; /* as a sandbox.network.allow entry */
    enum policy_http_tls tls;
    size_t n_rules;
    const struct policy_http_rule *rules;
    enum policy_http_action def; /* no rule matched: POLICY_HTTP_DENY unless written */
    int scan;                    /* bodies go through api.data's classification */
};

/* "pii.email": "redact" sets request and response alike; the object form
 * {"action", "request", "response", "allow", "deny"} sets them apart ("action" sets both, the
 * other two override it). allow: values that never count for this class (test card numbers in
 * docs); deny: values that always do. */
struct policy_data_rule {
    const char *cls; /* a built-in class, a custom class, or a glob over them ("secret.*") */
    enum policy_action request, response;
    struct policy_list allow, deny;
};

struct policy_data {
    size_t n;
    const struct policy_data_rule *v;
};

/* api.data.custom[]: a class of the policy's own, given by exactly one of pattern, words and
 * edm. */
struct policy_custom_class {
    const char *cls;
    const char *pattern;      /* regular expression, checked by policy_check_deep(); or NULL */
    struct policy_list words; /* words matched whole and case-blind; or empty */
    const char *edm;          /* absolute path of an exact-data-match file (cordond opens it
                                 with its data key when it loads the policy); or NULL */
    enum policy_action request, response;
    struct policy_list allow, deny;
};

/* One argument's constraint: "arg": "REGEX" or "arg": {"pattern", "enum", "min", "max",
 * "optional"}. Every check given must hold; an absent argument fails unless optional. */
struct policy_constraint {
    const char *tool;          /* tool name or glob */
    const char *arg;           /* argument name */
    const char *pattern;       /* regular expression the argument's value must match in full, or
                                  NULL (vectorscan's dialect, checked by policy_check_deep()) */
    const char *const *enum_v; /* allowed values (a string's value, a number's JSON text) */
    size_t n_enum;
    int has_min, has_max; /* numeric bounds: the value must then be a JSON number */
    double min, max;
    int optional; /* 1: the argument may be absent */
};

/* api.tools.on_denied_definition, api.tools.on_denied_call, api.previous_response_id */
enum policy_denied_definition { POLICY_DEFINITION_STRIP, POLICY_DEFINITION_REFUSE };
enum policy_denied_call { POLICY_CALL_DROP, POLICY_CALL_NOTICE };
enum policy_stored_context { POLICY_STORED_REFUSE, POLICY_STORED_ALLOW };

struct policy_price {
    const char *model; /* model name or glob */
    double input_per_mtok, output_per_mtok;
    /* < 0 when not given: cached input and cache writes are then priced as input, reasoning
     * as output */
    double cached_input_per_mtok, reasoning_per_mtok, cache_write_per_mtok;
};

/* api.budget.models_max_output: the most output tokens a model can produce. */
struct policy_model_max {
    const char *model; /* model name or glob */
    uint64_t max_output;
};

/* The output a request without max_tokens is reserved at, when neither
 * api.budget.models_max_output nor api.budget.max_tokens_default names one. */
#define POLICY_MAX_TOKENS_DEFAULT 65536

struct policy_window {
    const char *spec;   /* as written: "Mon-Fri 08:00-18:00" */
    int outside;        /* 1: the rules apply outside the window, 0: inside it */
    uint8_t days;       /* bit 0 Monday ... bit 6 Sunday */
    uint16_t start_min; /* minutes after midnight */
    uint16_t end_min;   /* may be <= start_min: the window wraps past midnight */
    const char *tz;     /* IANA zone name, "UTC" by default */
    int block;          /* refuse every model call while the rule applies */
    struct policy_data data;
    struct policy_list tools_deny;
    int has_models; /* models restricts the allowlist further while the rule applies */
    struct policy_list models;
};

struct policy {
    int schema;
    const char *agent;
    enum policy_mode mode;
    unsigned poll_seconds;
    /* Stamp added by signing; 0 / NULL in an unsigned source document. */
    uint64_t version;
    const char *issued_at;
    const char *expires_at;
    unsigned char digest[32]; /* SHA-256 of the document bytes as loaded */
    int paths_resolved;       /* compiled with resolve_symlinks: a path whose .real is NULL did
                                 not exist then */

    struct {
        enum policy_enforcement enforcement;
        struct {
            struct policy_paths read_write, read_only, deny;
            int deny_credentials;
        } fs;
        struct {
            struct policy_list allow_names; /* globs on file names; {"*"} by default */
            struct policy_paths allow_paths;
            struct policy_list deny_names;
            struct policy_paths deny_paths;
            struct policy_paths search; /* directories whose programs the names refer to */
        } exec;
        /* sandbox.presets as written; their directories are in exec.allow_paths with origin
         * POLICY_ORIGIN_PRESET (read and execute, never write). */
        struct policy_list presets;
        struct {
            enum policy_net mode;
            size_t n_allow;
            const struct policy_endpoint *allow;
            size_t n_http;
            const struct policy_http_host *http;
        } net;
        struct {
            enum policy_scope signals, abstract_unix;
            enum policy_unix unix_sockets;
            enum policy_sysv sysv;
        } ipc;
        /* sandbox.env: the variables of the environment the agent never sees. hide holds
         * the document's globs; policy_env_hide_default joins them unless hide_credentials
         * is 0. allow wins over both. Names are compared ASCII case-blind. */
        struct {
            struct policy_list hide, allow;
            int hide_credentials;
        } env;
        /* sandbox.limits; 0 means no limit. memory is in bytes. */
        struct {
            uint64_t processes, memory, cpu_seconds, open_files;
        } limits;
    } sandbox;

    struct {
        struct policy_list models;
        struct policy_data data;
        size_t n_custom;
        const struct policy_custom_class *custom;
        struct policy_list tools_allow, tools_deny;
        size_t n_constraints;
        const struct policy_constraint *constraints;
        enum policy_denied_definition on_denied_definition;
        enum policy_denied_call on_denied_call;
        enum policy_stored_context previous_response_id;
        double session_usd, day_usd; /* < 0: no limit */
        size_t n_prices;
        const struct policy_price *prices;
        /* api.budget beyond session_usd / day_usd; api.rate. has_budget: api.budget or
         * api.rate sets a limit (the budget stage then counts every call). */
        int has_budget;
        double month_usd;                                 /* < 0: no limit */
        int64_t session_tokens, day_tokens, month_tokens; /* < 0: no limit */
        const char *budget_tz;                            /* IANA zone, "UTC" by default */
        uint64_t max_tokens_default;                      /* 0: POLICY_MAX_TOKENS_DEFAULT */
        size_t n_models_max;
        const struct policy_model_max *models_max;
        unsigned rate_requests_per_minute;                               /* 0: no limit */
        uint64_t rate_tokens_per_minute;                                 /* 0: no limit */
        unsigned rate_concurrent_per_agent, rate_concurrent_per_session; /* 0: no limit */
        size_t n_schedule;
        const struct policy_window *schedule;
        int has_anomaly;
        unsigned requests_per_minute, denials_per_10_minutes; /* 0: that trigger is off */
        enum policy_trigger on_trigger;
        /* More api.anomaly triggers, 0 (or < 0 for the spend) when off, and the cool-down of
         * on_trigger throttle. */
        uint64_t tokens_per_minute;
        double usd_per_hour;
        unsigned distinct_tools_per_10_minutes, new_egress_hosts_per_hour;
        unsigned throttle_seconds;
        enum policy_record record_prompts, record_tool_arguments;
    } api;

    struct policy_arena *arena; /* private */
};

/* The environment a policy is compiled for. */
struct policy_env {
    struct path_vars vars;  /* values of ~ ${home} ${cwd} ${workspace} ${tmp} */
    int resolve_symlinks;   /* 1: fill policy_path.real with realpath() */
    const char *state_home; /* $XDG_STATE_HOME when absolute: its cordon/ is a host secret */
    /* More host secrets, absolute paths, from the caller rather than the document: cordond
     * compiles what it is about to sign with the host_deny it will add. */
    const char *const *host_deny;
    size_t n_host_deny;
};

/*
 * Parse, validate and compile buf (len bytes, need not be NUL-terminated). Every error found
 * is added to d (which the caller has diag_init'ed). Returns 0 and *out on success (caller
 * owns it: policy_free); -EINVAL when the document has errors (d says which), -ENOMEM.
 */
__attribute__((warn_unused_result)) int policy_load(const char *buf, size_t len,
                                                    const struct policy_env *env,
                                                    struct policy **out, struct diag *d);
void policy_free(struct policy *p);

/* Fill env from the process: HOME (or the passwd entry), getcwd(), TMPDIR or /tmp; the
 * workspace is workspace when given, else the current directory. Strings point into
 * storage owned by the caller-provided buffer block. Returns 0 or a negative errno. */
struct policy_env_storage {
    char home[PATH_MAXLEN], cwd[PATH_MAXLEN], workspace[PATH_MAXLEN], tmp[PATH_MAXLEN];
    char state[PATH_MAXLEN];
};
__attribute__((warn_unused_result)) int policy_env_from_process(struct policy_env *env,
                                                                struct policy_env_storage *st,
                                                                const char *workspace);

/*
 * The grant of p that covers path, judged as the kernel will see both: path and every grant
 * in their canonical form (path_canonical: symlinks that exist followed, "//", "." and ".."
 * folded). With write_only, only read_write grants count. Returns the grant, or NULL when none
 * covers path; canon (PATH_MAXLEN bytes) gets the canonical path and *rc the canonicaliser's
 * result: when *rc != 0 nothing was judged, and the caller must refuse rather than guess.
 */
const struct policy_path *policy_grant_covering(const struct policy *p, const char *path,
                                                int write_only, char canon[PATH_MAXLEN], int *rc);

/*
 * Refuse a policy file the sandbox it describes could rewrite: one inside a read_write grant
 * of p, judged as policy_grant_covering() does. The agent would otherwise edit the policy its
 * next run obeys (or, for a signed file, put back an older envelope). Returns 0; -EPERM with
 * err saying which grant and what to do; or the canonicaliser's negative errno with err set.
 */
__attribute__((warn_unused_result)) int
policy_check_policy_file(const struct policy *p, const char *path, char *err, size_t errlen);

/* Names for the enums, as written in the document. */
const char *policy_mode_name(enum policy_mode m);
const char *policy_enforcement_name(enum policy_enforcement e);
const char *policy_net_name(enum policy_net n);
const char *policy_scope_name(enum policy_scope s);
const char *policy_unix_name(enum policy_unix u);
const char *policy_sysv_name(enum policy_sysv s);
const char *policy_action_name(enum policy_action a);
const char *policy_trigger_name(enum policy_trigger t);
const char *policy_record_name(enum policy_record r);
const char *policy_denied_definition_name(enum policy_denied_definition d);
const char *policy_denied_call_name(enum policy_denied_call d);
const char *policy_stored_context_name(enum policy_stored_context s);
const char *policy_origin_name(enum policy_origin o);
const char *policy_http_tls_name(enum policy_http_tls t);
const char *policy_http_action_name(enum policy_http_action a);

/* The built-in data classes the classifier knows, NULL-terminated. */
extern const char *const policy_data_classes[];
/* The default credential deny set, NULL-terminated, as written ("~/.ssh"). */
extern const char *const policy_credential_paths[];
/* The host secret set every policy denies whatever it says, NULL-terminated, as written:
 * cordond's default configuration, state and runtime directories and the embedded default's
 * audit location. $XDG_STATE_HOME/cordon is added when the variable is set. */
extern const char *const policy_host_paths[];
/* The default set of environment variables hidden from the agent, NULL-terminated globs
 * (docs/POLICY.md "sandbox.env" says why each is there). */
extern const char *const policy_env_hide_default[];

/* How sandbox.env judges one variable. */
struct policy_env_verdict {
    const char *hide;  /* the hide glob that matches, or NULL */
    const char *allow; /* the allow glob that matches, or NULL */
    int is_default;    /* hide came from policy_env_hide_default */
};

/*
 * Whether p hides the variable of entry, an environment string "NAME=value" (or a bare NAME):
 * only the part before the first '=' is judged, the value never read. cordon's own profile
 * (CORDON_* and LD_PRELOAD) is never hidden: the shim of every descendant needs it. Returns 1
 * when hidden; v (may be NULL) gets the rules that matched, also when an allow rule won.
 */
int policy_env_hides(const struct policy *p, const char *entry, struct policy_env_verdict *v);
/* A named set of directories sandbox.presets grants read and execute beneath (never
 * write); paths are written as in a policy ("~/.pyenv"), NULL-terminated. */
struct policy_preset {
    const char *name;
    const char *const *paths;
};
/* The known presets, ended by an entry whose name is NULL. */
extern const struct policy_preset policy_presets[];
/* The known preset names joined by ", " into out (a message naming them). */
void policy_preset_names(char *out, size_t len);
/*
 * The preset whose directories hold path (absolute, normalized) for a HOME of home (absolute),
 * or NULL: what a message can suggest when a program there may not run. *dir (when not NULL)
 * gets the preset directory as written ("~/.pyenv").
 */
const struct policy_preset *policy_preset_covering(const char *home, const char *path,
                                                   const char **dir);

/* The default exec search directories, NULL-terminated. */
extern const char *const policy_exec_search_default[];
/* The library directories whose helper programs (git's git-core, the loader) the sandbox lets
 * run in denylist mode, whatever the search directories are; NULL-terminated. */
extern const char *const policy_exec_system_dirs[];

/* api.anomaly's distinct-name triggers (tools, egress hosts) count at most this many names
 * per window: cordond keeps a fixed table of them per agent. */
#define POLICY_ANOMALY_DISTINCT_MAX 100

/* The bounds of sandbox.limits, as docs/POLICY.md gives them. */
#define POLICY_LIMIT_PROCESSES_MAX 4194304ULL     /* PID_MAX_LIMIT */
#define POLICY_LIMIT_MEMORY_MIN (1ULL << 20)      /* 1M */
#define POLICY_LIMIT_MEMORY_MAX (1ULL << 50)      /* 1024T */
#define POLICY_LIMIT_CPU_MAX 31536000ULL          /* a year of CPU time */
#define POLICY_LIMIT_OPEN_FILES_MIN 3ULL          /* stdin, stdout, stderr */
#define POLICY_LIMIT_OPEN_FILES_MAX 2147483584ULL /* the ceiling of fs.nr_open on 64-bit */

#endif
