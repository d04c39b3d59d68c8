/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pieces of the stub upstream (tests/support/stub_upstream) and how they meet: a growable
 * byte buffer (stub_buf.c), what a model API request asked for (stub_request.c), the scenario
 * table that turns a request into a plan of output items (stub_scenario.c), the wire formats
 * that turn a plan into bytes, whole or as SSE events (stub_openai.c, stub_anthropic.c,
 * stub_stream.c), the control API and request log (stub_control.c) and the epoll server
 * (stub_server.c). Everything but the server is free of sockets, so each part can be driven
 * directly. This is test code that never links a cordon library.
 */
#ifndef CORDON_STUB_H
#define CORDON_STUB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/support/stub_parse.h"

/* ---- stub_buf.c: bytes ---- */

/* A growable buffer. On allocation failure oom is set and later writes are dropped, so a
 * writer checks once at the end instead of after every call. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

int sbuf_reserve(struct sbuf *b, size_t more); /* 0, or -ENOMEM (and oom set) */
void sbuf_put(struct sbuf *b, const void *d, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD, so
 * the output is always valid JSON in UTF-8. */
void sbuf_json(struct sbuf *b, const char *s, size_t n);
void sbuf_json_str(struct sbuf *b, const char *s); /* NUL-terminated; NULL writes null */
void sbuf_free(struct sbuf *b);

int stub_utf8_valid(const char *s, size_t n);
/* The smallest end >= cut that does not fall inside a UTF-8 sequence of s[0..len). */
size_t stub_utf8_end(const char *s, size_t len, size_t cut);
int64_t stub_mono_ns(void);
/* Parse a decimal integer of s[0..n) in [lo, hi]; 0 or -EINVAL. */
int stub_parse_int(const char *s, size_t n, long long lo, long long hi, long long *out);

/* ---- stub_request.c: what a model API request asks for ---- */

enum stub_api {
    API_NONE,
    API_CHAT,       /* POST /v1/chat/completions */
    API_RESPONSES,  /* POST /v1/responses */
    API_MESSAGES,   /* POST /v1/messages */
    API_EMBEDDINGS, /* POST /v1/embeddings */
    API_MODELS,     /* GET /v1/models */
    API_MODEL,      /* GET /v1/models/ID */
};

enum stub_prov { PROV_OPENAI, PROV_ANTHROPIC };

struct apireq {
    enum stub_api api;
    enum stub_prov prov;
    int stream;        /* "stream": true */
    int include_usage; /* chat: "stream_options": {"include_usage": true} */
    char model[128];
    char model_id[128]; /* API_MODEL: the ID in the path */
    /* every text the request carried, concatenated in request order (see README.md) */
    struct sbuf text;
    /* embeddings */
    int emb_base64;
    int emb_dims;
    int emb_n;
    uint64_t emb_seed[2048];
};

#define STUB_EMB_MAX_INPUTS 2048
#define STUB_EMB_MAX_DIMS 4096

/* Read body[0..len) as a request of api. Returns 0, or 400 with why set (why points at a
 * static sentence). text is reset and refilled; its buffer is kept for the next request. */
int req_parse(struct apireq *rq, const char *body, size_t len, const char **why);

/* ---- stub_scenario.c: scenarios and plans ---- */

enum { IT_TEXT, IT_TOOL };
enum { END_OK, END_ERROR, END_DROP, END_HOLD, END_CLOSE };

#define STUB_MAX_ITEMS 64

/* One output item: a piece of text or one tool call. Strings live in plan.arena. */
struct item {
    int kind;
    size_t off, len; /* IT_TEXT: the text (when gen is 0); IT_TOOL: the arguments */
    uint64_t gen;    /* IT_TEXT: this many bytes of generated text instead */
    size_t chunk;    /* bytes per streamed delta (never splits a UTF-8 sequence); 0: one */
    size_t name_off, name_len, id_off, id_len; /* IT_TOOL */
    int index;                                 /* IT_TOOL: the chat tool_calls index */
    int split_name; /* IT_TOOL, chat only: send the name one byte per delta */
};

struct plan {
    char scenario[STUB_NAME_MAX];
    struct sbuf arena;
    int status;        /* 0: a normal answer; else the HTTP status of an error answer */
    char err_type[64]; /* provider error type; empty: the usual one for the status */
    size_t msg_off, msg_len;
    int retry_after;  /* seconds; -1: no Retry-After header */
    int should_retry; /* -1: no x-should-retry header; else its value */
    int first_byte_ms, first_event_ms, delay_ms;
    int nitems;
    struct item items[STUB_MAX_ITEMS];
    int end;     /* END_* */
    int after;   /* END_ERROR, END_DROP: streamed deltas before it */
    int hold_ms; /* END_HOLD */
    int no_final_newline;
    int pings;         /* extra pings (comments for OpenAI) between deltas */
    int finish_length; /* the answer was cut by max tokens */
    long long in_tok, out_tok, cached_tok, reason_tok, cache_create_tok; /* -1: derived */
    char model[128];
};

/* Build the plan for scenario params p (p->name is the scenario) answering rq. Returns 0, or
 * -EINVAL with why set for an unknown scenario, parameter or bad value (why may point into
 * whybuf, of whylen bytes). */
int scen_build(struct plan *pl, const struct stub_params *p, const struct apireq *rq, char *whybuf,
               size_t whylen, const char **why);
/* The table, for --help and the README check: name i, or NULL past the end. */
const char *scen_name(int i);
const char *scen_summary(int i);
const char *scen_keys(int i);
extern const char *const scen_common_keys;
/* The generated text: byte i of it is stub_gen_text[i % STUB_GEN_LEN]. */
#define STUB_GEN_LEN 12
extern const char stub_gen_text[STUB_GEN_LEN + 1];
/* Usage numbers of a plan answering rq, with the derived ones filled in. */
void plan_usage(const struct plan *pl, const struct apireq *rq, long long *in, long long *out);
uint64_t item_len(const struct item *it);

/* ---- stub_stream.c and the formats: plan -> bytes ---- */

struct resp;

/* One wire format (chat, responses, messages). Each callback writes whole events with
 * resp_event(); whole() writes a non-streamed body. */
struct fmt {
    void (*start)(struct resp *r);
    void (*item_start)(struct resp *r, int i);
    void (*delta)(struct resp *r, int i, uint64_t off, size_t n);
    void (*item_end)(struct resp *r, int i);
    void (*finish)(struct resp *r);
    void (*error)(struct resp *r);
    void (*ping)(struct resp *r);
    void (*whole)(struct resp *r, struct sbuf *body);
};

extern const struct fmt fmt_chat, fmt_responses, fmt_messages;

struct resp {
    const struct apireq *rq;
    const struct plan *pl;
    const struct fmt *f;
    struct sbuf *out;  /* the connection's pending output */
    struct sbuf ev;    /* one event being written */
    int chunked;       /* frame writes as HTTP/1.1 chunks */
    int close;         /* the connection closes after this answer */
    uint64_t reqno;    /* unique per request: ids derive from it */
    long long created; /* wall clock seconds */
    char id[48];       /* chatcmpl-..., resp_..., msg_... */
    /* the cursor over the stream */
    int phase, item, deltas, seq, last_event;
    uint64_t pos;
    uint64_t bytes_out;
};

enum { STEP_MORE, STEP_DELAY, STEP_DONE, STEP_DROP, STEP_HOLD };

/* chunked: the client speaks HTTP/1.1 (else a stream is delimited by the close); close: the
 * connection closes after the answer (the client asked, or it is HTTP/1.0). r->ev is kept. */
void resp_init(struct resp *r, const struct apireq *rq, const struct plan *pl, struct sbuf *out,
               uint64_t reqno, int chunked, int close);
/* Write the next piece of the answer into r->out: the whole of a non-streamed or error
 * answer, or the next events of a stream. Returns STEP_MORE (call again), STEP_DELAY (*ms
 * set: call again after that long), STEP_DONE (the answer is complete), STEP_DROP (write out
 * what is there, then close the connection) or STEP_HOLD (*ms set: stay silent that long,
 * then close). */
int resp_step(struct resp *r, int *ms);
/* Frame r->ev as one SSE event into r->out (as an HTTP chunk when chunked) and clear it.
 * resp_last_event() does the same for the stream's final event, which the
 * sse_no_final_newline scenario sends without its closing blank line. */
void resp_event(struct resp *r);
void resp_last_event(struct resp *r);
/* Start an SSE event in r->ev: an "event: NAME" line when name is not NULL, then "data: ".
 * The caller writes the JSON and calls resp_end_event() (or resp_last_event()). */
void resp_begin_event(struct resp *r, const char *name);
void resp_end_event(struct resp *r);
/* Append the JSON string of item i's bytes [off, off+n) (text, or tool arguments). */
void resp_item_json(struct resp *r, struct sbuf *b, int i, uint64_t off, uint64_t n);
/* Ids that derive from the request number: "<prefix><hex>" and "<prefix><hex>_<i>". */
void resp_id(const struct resp *r, struct sbuf *b, const char *prefix, int i);

/* A whole error answer of the request's provider: head and body into out. retry_after and
 * should_retry are -1 for no such header. */
void stub_error_answer(struct sbuf *out, enum stub_prov prov, int status, const char *type,
                       const char *msg, size_t msglen, int close, int retry_after, int should_retry,
                       uint64_t reqno);
/* The standard reason phrase of an HTTP status. */
const char *stub_reason(int status);
/* The status line and the header lines every answer has (content type, framing: clen >= 0
 * is a Content-Length, -1 is chunked, -2 is delimited by the close; the provider's request id
 * header; Connection: close when close). The caller adds any other header and the blank
 * line. */
void stub_head_begin(struct sbuf *out, int status, enum stub_prov prov, const char *ctype,
                     long long clen, int close, uint64_t reqno);

/* The model ids GET /v1/models lists (set once by main). */
extern const char *const *stub_model_ids;
extern int stub_model_count;

/* stub_openai.c: the bodies that have no stream */
void openai_error_body(struct sbuf *b, int status, const char *type, const char *msg,
                       size_t msglen);
void openai_embeddings(const struct apireq *rq, const struct plan *pl, struct sbuf *body);
void stub_models(const struct apireq *rq, struct sbuf *body);
/* stub_anthropic.c */
void anth_error_body(struct sbuf *b, int status, const char *type, const char *msg, size_t msglen,
                     uint64_t reqno);

/* ---- stub_control.c: the control API, the request log, counters ---- */

struct stub_stats {
    _Atomic long long requests, bytes_in, bytes_out, open_streams, open_conns, conns;
};
extern struct stub_stats stub_stats;

/* Open the request log (log_path may be NULL), keep at most keep records in memory for
 * GET /__stub/requests, and log bodies up to body_max bytes whole (longer ones by length and
 * SHA-256). 0, or -errno with why set. */
int ctl_init(const char *log_path, size_t keep, size_t body_max, const char **why);
void ctl_fini(void);
/* The next queued scenario for path (the first whose path is unset or equal), as marker
 * text "NAME key=value ..."; malloc'd, or NULL when none applies. */
char *ctl_queue_take(const char *path, size_t plen);
/* Record one request to the log and the in-memory list. sp may be NULL (no scenario);
 * source says where it came from ("queue", "marker", "default"). */
void ctl_record(const char *buf, const struct stub_head *h, const char *body, size_t blen,
                enum stub_api api, int stream, const struct stub_params *sp, const char *source,
                int status);
/* Check that marker text spec[0..len) names a scenario that takes these parameters: 0, or
 * -EINVAL with why set (maybe into whybuf). */
int ctl_check_spec(const char *spec, size_t len, char *whybuf, size_t wl, const char **why);
/* Answer a request under /__stub/ whole into out. */
void ctl_handle(const char *buf, const struct stub_head *h, const char *body, size_t blen,
                struct sbuf *out, int close, uint64_t reqno);

/* ---- stub_server.c: sockets ---- */

struct stub_config {
    const char *host; /* a loopback address */
    int port;         /* 0: the kernel picks */
    int threads;
    const char *openai_key;    /* NULL: any Authorization passes */
    const char *anthropic_key; /* NULL: any x-api-key passes */
    const char *scenario;      /* the default scenario, as marker text */
    int request_timeout_ms;    /* a request must arrive whole within this */
    int idle_timeout_ms;       /* an idle keep-alive connection, or a stalled write */
    int max_conns;
    int quiet;
};

/* Bind the listening sockets; *port receives the port. 0, or -errno with why set. */
int srv_start(const struct stub_config *cfg, int *port, const char **why);
/* Run the worker threads until srv_stop(), then close every connection. */
int srv_run(void);
void srv_stop(void);

#endif
