/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scenario table of the stub upstream. A scenario turns its parameters and the request
 * into a plan: a list of output items (texts and tool calls, each with how it is cut into
 * streamed deltas), how the answer ends (normally, with a mid-stream error, a dropped
 * connection, or no terminator), delays and usage numbers. The wire formats then render any
 * plan for any API, so a new scenario is one row and one small builder here. Every parameter
 * is checked against the row's list, so a typo in a test is an error, not a silent default.
 */
#include "tests/support/stub.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char stub_gen_text[STUB_GEN_LEN + 1] = "lorem ipsum ";

const char *const scen_common_keys =
    "input_tokens output_tokens cached_tokens reasoning_tokens cache_creation_tokens "
    "delay_ms first_byte_ms first_event_ms model finish";

struct ctx {
    struct plan *pl;
    const struct stub_params *p;
    const struct apireq *rq;
    char *whybuf;
    size_t whylen;
    const char **why;
};

static const char *pget(const struct ctx *c, const char *key, size_t *n)
{
    return stub_params_get(c->p, key, n);
}

static int bad(struct ctx *c, const char *key, const char *what)
{
    snprintf(c->whybuf, c->whylen, "scenario %s: parameter %s %s", c->p->name, key, what);
    *c->why = c->whybuf;
    return -EINVAL;
}

/* An integer parameter in [lo, hi], def when absent. */
static int pint(struct ctx *c, const char *key, long long def, long long lo, long long hi,
                long long *out)
{
    size_t n;
    const char *v = pget(c, key, &n);
    *out = def;
    if (!v)
        return 0;
    if (n == 2 && memcmp(v, "no", 2) == 0)
        v = "0", n = 1;
    if (stub_parse_int(v, n, lo, hi, out) != 0) {
        char what[96];
        snprintf(what, sizeof what, "must be an integer from %lld to %lld", lo, hi);
        return bad(c, key, what);
    }
    return 0;
}

static int pbool(struct ctx *c, const char *key, int def, int *out)
{
    size_t n;
    const char *v = pget(c, key, &n);
    *out = def;
    if (!v)
        return 0;
    if ((n == 1 && v[0] == '1') || (n == 4 && memcmp(v, "true", 4) == 0))
        *out = 1;
    else if ((n == 1 && v[0] == '0') || (n == 5 && memcmp(v, "false", 5) == 0))
        *out = 0;
    else
        return bad(c, key, "must be 0, 1, true or false");
    return 0;
}

/* Copy s[0..n) into the arena; its offset. */
static size_t stash(struct plan *pl, const char *s, size_t n)
{
    size_t off = pl->arena.len;
    sbuf_put(&pl->arena, s, n);
    return off;
}

static struct item *new_item(struct ctx *c, int kind)
{
    if (c->pl->nitems >= STUB_MAX_ITEMS)
        return NULL;
    struct item *it = &c->pl->items[c->pl->nitems++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    return it;
}

/* Bytes per delta so that a text of len bytes goes in about chunks deltas. */
static size_t per_chunk(size_t len, long long chunks)
{
    if (chunks <= 1 || len == 0)
        return 0;
    return (len + (size_t)chunks - 1) / (size_t)chunks;
}

/* The reply text: text=... when given (cut into chunks=N deltas, or size=B bytes each), else
 * chunks x size bytes of generated text. */
static int add_text(struct ctx *c, const char *deftext, long long defchunks, long long defsize)
{
    long long chunks, size;
    if (pint(c, "chunks", defchunks, 1, 1000000, &chunks) ||
        pint(c, "size", defsize, 1, 64 << 20, &size))
        return -EINVAL;
    size_t n;
    const char *t = pget(c, "text", &n);
    if (!t && deftext) {
        t = deftext;
        n = strlen(deftext);
    }
    struct item *it = new_item(c, IT_TEXT);
    if (!it)
        return bad(c, "text", "is one item too many");
    if (t) {
        it->off = stash(c->pl, t, n);
        it->len = n;
        it->chunk = pget(c, "size", &(size_t){0}) ? (size_t)size : per_chunk(n, chunks);
    } else {
        if ((unsigned long long)chunks * (unsigned long long)size > (256ull << 20))
            return bad(c, "chunks", "times size is more than 256 MiB");
        it->gen = (uint64_t)chunks * (uint64_t)size;
        it->chunk = (size_t)size;
    }
    return 0;
}

static int add_tool(struct ctx *c, const char *name, size_t nlen, const char *args, size_t alen,
                    size_t chunk, int index)
{
    struct item *it = new_item(c, IT_TOOL);
    if (!it)
        return bad(c, "n", "is more calls than the 64 a plan holds");
    it->name_off = stash(c->pl, name, nlen);
    it->name_len = nlen;
    it->off = stash(c->pl, args, alen);
    it->len = alen;
    it->chunk = chunk;
    it->index = index;
    return 0;
}

/* name=, args= (defaults given), chunks= argument deltas; one call at chat index index. */
static int add_one_tool(struct ctx *c, const char *defargs, long long defchunks, int index)
{
    size_t nl, al;
    const char *name = pget(c, "name", &nl);
    const char *args = pget(c, "args", &al);
    long long chunks;
    if (pint(c, "chunks", defchunks, 1, 1000000, &chunks))
        return -EINVAL;
    if (!name) {
        name = "get_weather";
        nl = strlen(name);
    }
    if (!args) {
        args = defargs;
        al = strlen(args);
    }
    int rc = add_tool(c, name, nl, args, al, per_chunk(al, chunks), index);
    if (rc)
        return rc;
    size_t il;
    const char *id = pget(c, "id", &il);
    if (id) {
        struct item *it = &c->pl->items[c->pl->nitems - 1];
        it->id_off = stash(c->pl, id, il);
        it->id_len = il;
    }
    return 0;
}

static const char default_args[] = "{\"city\":\"Paris\",\"unit\":\"celsius\"}";

static int b_text(struct ctx *c)
{
    return add_text(c, NULL, 4, 16);
}

static int b_echo(struct ctx *c)
{
    long long size;
    if (pint(c, "size", 16, 1, 64 << 20, &size))
        return -EINVAL;
    struct item *it = new_item(c, IT_TEXT);
    it->off = stash(c->pl, c->rq->text.p ? c->rq->text.p : "", c->rq->text.len);
    it->len = c->rq->text.len;
    it->chunk = (size_t)size;
    return 0;
}

static int b_tool(struct ctx *c)
{
    return add_one_tool(c, default_args, 3, 0);
}

/* n calls of the same name; call k gets args= or {"call":k}. reused: every index is 0. */
static int parallel(struct ctx *c, int reused)
{
    long long n;
    if (pint(c, "n", 2, 1, STUB_MAX_ITEMS, &n))
        return -EINVAL;
    size_t nl, al;
    const char *name = pget(c, "name", &nl);
    const char *args = pget(c, "args", &al);
    if (!name) {
        name = "get_weather";
        nl = strlen(name);
    }
    for (int k = 0; k < n; k++) {
        char own[32];
        const char *a = args;
        size_t l = al;
        if (!args) {
            snprintf(own, sizeof own, "{\"call\":%d}", k);
            a = own;
            l = strlen(own);
        }
        int rc = add_tool(c, name, nl, a, l, per_chunk(l, 2), reused ? 0 : k);
        if (rc)
            return rc;
    }
    return 0;
}

static int b_tools_parallel(struct ctx *c)
{
    return parallel(c, 0);
}

static int b_tool_reused_index(struct ctx *c)
{
    return parallel(c, 1);
}

static int b_tool_bytewise(struct ctx *c)
{
    int split;
    if (pbool(c, "split_name", 0, &split) || add_one_tool(c, default_args, 1, 0))
        return -EINVAL;
    struct item *it = &c->pl->items[c->pl->nitems - 1];
    it->chunk = 1;
    it->split_name = split;
    return 0;
}

static int b_tool_malformed(struct ctx *c)
{
    return add_one_tool(c, "{\"city\": \"Par", 2, 0);
}

static int b_text_then_tool(struct ctx *c)
{
    if (add_text(c, "Let me look that up.", 2, 16))
        return -EINVAL;
    return add_one_tool(c, default_args, 2, 0);
}

/* The provider error type named by parameter key, into the plan. */
static int err_type(struct ctx *c, const char *key)
{
    size_t n;
    const char *t = pget(c, key, &n);
    if (!t)
        return 0;
    if (n >= sizeof c->pl->err_type)
        return bad(c, key, "is longer than 63 bytes");
    memcpy(c->pl->err_type, t, n);
    c->pl->err_type[n] = '\0';
    return 0;
}

/* after=K: deltas streamed before the error or the drop. */
static int with_after(struct ctx *c, int end, const char *deftext)
{
    long long after;
    if (add_text(c, deftext, 8, 16) || pint(c, "after", 2, 0, 1000000, &after))
        return -EINVAL;
    c->pl->end = end;
    c->pl->after = (int)after;
    return 0;
}

static int b_error_midstream(struct ctx *c)
{
    size_t n;
    const char *m = pget(c, "message", &n);
    if (!m) {
        m = "The server had an error while processing your request.";
        n = strlen(m);
    }
    c->pl->msg_off = stash(c->pl, m, n);
    c->pl->msg_len = n;
    if (with_after(c, END_ERROR, NULL))
        return -EINVAL;
    return err_type(c, "error");
}

static int b_status(struct ctx *c)
{
    long long code, ra;
    int sr;
    size_t n;
    if (pint(c, "code", 500, 400, 599, &code) || pint(c, "retry_after", -1, -1, 86400, &ra))
        return -EINVAL;
    c->pl->status = (int)code;
    c->pl->retry_after = (int)ra;
    if (pget(c, "should_retry", &n)) {
        if (pbool(c, "should_retry", 0, &sr))
            return -EINVAL;
        c->pl->should_retry = sr;
    }
    const char *m = pget(c, "message", &n);
    if (m) {
        c->pl->msg_off = stash(c->pl, m, n);
        c->pl->msg_len = n;
    }
    return err_type(c, "type");
}

static int b_slow_first_byte(struct ctx *c)
{
    /* the delays are common parameters; this scenario only gives them defaults */
    if (!pget(c, "first_byte_ms", &(size_t){0}))
        c->pl->first_byte_ms = 300;
    if (!pget(c, "first_event_ms", &(size_t){0}))
        c->pl->first_event_ms = 300;
    return add_text(c, NULL, 4, 16);
}

static int b_drop(struct ctx *c)
{
    return with_after(c, END_DROP, NULL);
}

static int b_huge(struct ctx *c)
{
    long long mib, size;
    if (pint(c, "mib", 4, 1, 1024, &mib) || pint(c, "size", 16384, 1, 16 << 20, &size))
        return -EINVAL;
    struct item *it = new_item(c, IT_TEXT);
    it->gen = (uint64_t)mib << 20;
    it->chunk = (size_t)size;
    return 0;
}

static int b_sse_long_line(struct ctx *c)
{
    long long bytes;
    if (pint(c, "bytes", 1 << 20, 1, 64 << 20, &bytes))
        return -EINVAL;
    struct item *it = new_item(c, IT_TEXT);
    it->gen = (uint64_t)bytes;
    it->chunk = 0; /* one delta: one data line of that many bytes */
    return 0;
}

static int b_sse_no_final_newline(struct ctx *c)
{
    c->pl->no_final_newline = 1;
    return add_text(c, NULL, 4, 16);
}

static int b_sse_unterminated(struct ctx *c)
{
    long long hold;
    size_t n;
    const char *mode = pget(c, "mode", &n);
    if (add_text(c, NULL, 4, 16) || pint(c, "hold_ms", 10000, 0, 3600000, &hold))
        return -EINVAL;
    if (!mode || (n == 4 && memcmp(mode, "hold", 4) == 0))
        c->pl->end = END_HOLD;
    else if (n == 5 && memcmp(mode, "close", 5) == 0)
        c->pl->end = END_CLOSE;
    else
        return bad(c, "mode", "must be hold or close");
    c->pl->hold_ms = (int)hold;
    return 0;
}

static int b_ping_storm(struct ctx *c)
{
    long long pings;
    if (add_text(c, NULL, 8, 16) || pint(c, "pings", 3, 1, 10000, &pings))
        return -EINVAL;
    c->pl->pings = (int)pings;
    return 0;
}

/* tokens="[EMAIL_1] [PHONE_1]" repeated repeat= times, size= bytes per delta (small, so a
 * token is split across deltas); tool=1 adds a call whose arguments carry the tokens too. */
static int b_placeholder(struct ctx *c)
{
    long long repeat, size;
    int tool;
    size_t n;
    const char *tok = pget(c, "tokens", &n);
    if (!tok) {
        tok = "[EMAIL_1] [PHONE_1]";
        n = strlen(tok);
    }
    if (pint(c, "repeat", 2, 1, 100000, &repeat) || pint(c, "size", 3, 1, 1 << 20, &size) ||
        pbool(c, "tool", 0, &tool))
        return -EINVAL;
    struct item *it = new_item(c, IT_TEXT);
    it->off = c->pl->arena.len;
    for (long long k = 0; k < repeat; k++) {
        if (k)
            sbuf_put(&c->pl->arena, " ", 1);
        sbuf_put(&c->pl->arena, tok, n);
    }
    it->len = c->pl->arena.len - it->off;
    it->chunk = (size_t)size;
    if (!tool)
        return 0;
    struct sbuf a = {0};
    sbuf_puts(&a, "{\"text\":");
    sbuf_json(&a, tok, n);
    sbuf_puts(&a, "}");
    size_t nl;
    const char *name = pget(c, "name", &nl);
    if (!name) {
        name = "send_message";
        nl = strlen(name);
    }
    int rc = a.oom ? bad(c, "tokens", "is too long")
                   : add_tool(c, name, nl, a.p, a.len, (size_t)size, 0);
    sbuf_free(&a);
    return rc;
}

struct scenario {
    const char *name;
    const char *keys; /* its own parameters, besides scen_common_keys */
    int (*build)(struct ctx *c);
    const char *summary;
};

static const struct scenario table[] = {
    {"text", "text chunks size", b_text,
     "a text reply: text=, or chunks x size bytes of generated text"},
    {"echo", "size", b_echo, "the reply is every text of the request, concatenated in order"},
    {"tool", "name args id chunks", b_tool, "one tool call with the given name and arguments"},
    {"tools_parallel", "n name args", b_tools_parallel, "n tool calls in one answer"},
    {"tool_bytewise", "name args id split_name", b_tool_bytewise,
     "one tool call whose arguments stream one character per event"},
    {"tool_malformed", "name args id chunks", b_tool_malformed,
     "one tool call whose arguments are not valid JSON"},
    {"tool_reused_index", "n name args", b_tool_reused_index,
     "n chat tool calls that all use index 0, with distinct ids"},
    {"text_then_tool", "text chunks size name args id", b_text_then_tool,
     "some text, then one tool call"},
    {"error_midstream", "text chunks size after error message", b_error_midstream,
     "after= deltas, a provider-shaped error event (non-streamed: a 500 answer)"},
    {"status", "code message type retry_after should_retry", b_status,
     "an HTTP error status with the provider's error body"},
    {"slow_first_byte", "text chunks size", b_slow_first_byte,
     "a text reply after first_byte_ms (default 300) and first_event_ms (default 300)"},
    {"drop", "text chunks size after", b_drop,
     "after= deltas, the connection closes with no terminator"},
    {"huge", "mib size", b_huge, "mib= MiB of generated text in deltas of size= bytes"},
    {"sse_long_line", "bytes", b_sse_long_line, "one text delta of bytes= bytes: one long line"},
    {"sse_no_final_newline", "text chunks size", b_sse_no_final_newline,
     "the last event of the stream lacks its final blank line"},
    {"sse_unterminated", "text chunks size mode hold_ms", b_sse_unterminated,
     "no terminator event: hold the connection hold_ms, or end the body (mode=close)"},
    {"ping_storm", "text chunks size pings", b_ping_storm,
     "pings= pings (Anthropic) or SSE comments (OpenAI) between every two deltas"},
    {"placeholder", "tokens repeat size tool name", b_placeholder,
     "the reply repeats tokens= (placeholders such as [EMAIL_1]) split across deltas"},
};

#define NSCEN ((int)(sizeof table / sizeof table[0]))

const char *scen_name(int i)
{
    return i >= 0 && i < NSCEN ? table[i].name : NULL;
}

const char *scen_summary(int i)
{
    return i >= 0 && i < NSCEN ? table[i].summary : NULL;
}

const char *scen_keys(int i)
{
    return i >= 0 && i < NSCEN ? table[i].keys : NULL;
}

/* Is key one of the blank-separated words of list? */
static int in_list(const char *list, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == kl && memcmp(p, key, kl) == 0)
            return 1;
        p = e;
    }
    return 0;
}

static int common(struct ctx *c)
{
    struct plan *pl = c->pl;
    long long v;
    static const struct {
        const char *key;
        size_t field;
    } toks[] = {
        {"input_tokens", offsetof(struct plan, in_tok)},
        {"output_tokens", offsetof(struct plan, out_tok)},
        {"cached_tokens", offsetof(struct plan, cached_tok)},
        {"reasoning_tokens", offsetof(struct plan, reason_tok)},
        {"cache_creation_tokens", offsetof(struct plan, cache_create_tok)},
    };
    for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
        if (pint(c, toks[k].key, -1, 0, 1000000000000ll, &v))
            return -EINVAL;
        memcpy((char *)pl + toks[k].field, &v, sizeof v);
    }
    if (pint(c, "delay_ms", 0, 0, 600000, &v))
        return -EINVAL;
    pl->delay_ms = (int)v;
    if (pint(c, "first_byte_ms", 0, 0, 600000, &v))
        return -EINVAL;
    pl->first_byte_ms = (int)v;
    if (pint(c, "first_event_ms", 0, 0, 600000, &v))
        return -EINVAL;
    pl->first_event_ms = (int)v;
    size_t n;
    const char *m = pget(c, "model", &n);
    if (m) {
        if (n >= sizeof pl->model)
            return bad(c, "model", "is longer than 127 bytes");
        memcpy(pl->model, m, n);
        pl->model[n] = '\0';
    }
    const char *f = pget(c, "finish", &n);
    if (f) {
        if (n == 6 && memcmp(f, "length", 6) == 0)
            pl->finish_length = 1;
        else if (!(n == 4 && memcmp(f, "stop", 4) == 0))
            return bad(c, "finish", "must be stop or length");
    }
    return 0;
}

int scen_build(struct plan *pl, const struct stub_params *p, const struct apireq *rq, char *whybuf,
               size_t whylen, const char **why)
{
    struct ctx c = {pl, p, rq, whybuf, whylen, why};
    const struct scenario *s = NULL;
    for (int i = 0; i < NSCEN; i++)
        if (strcmp(table[i].name, p->name) == 0)
            s = &table[i];
    if (!s) {
        snprintf(whybuf, whylen, "unknown scenario \"%s\" (see tests/support/README.md)", p->name);
        *why = whybuf;
        return -EINVAL;
    }
    for (int k = 0; k < p->n; k++)
        if (!in_list(s->keys, p->p[k].key) && !in_list(scen_common_keys, p->p[k].key)) {
            snprintf(whybuf, whylen, "scenario %s has no parameter %s (it takes: %s; and %s)",
                     s->name, p->p[k].key, s->keys, scen_common_keys);
            *why = whybuf;
            return -EINVAL;
        }
    pl->arena.len = 0;
    pl->arena.oom = 0;
    memcpy(pl->scenario, s->name, strlen(s->name) + 1);
    pl->status = 0;
    pl->err_type[0] = '\0';
    pl->msg_off = pl->msg_len = 0;
    pl->retry_after = pl->should_retry = -1;
    pl->nitems = 0;
    pl->end = END_OK;
    pl->after = pl->hold_ms = pl->no_final_newline = pl->pings = pl->finish_length = 0;
    snprintf(pl->model, sizeof pl->model, "%s", rq->model);
    if (common(&c) != 0 || s->build(&c) != 0)
        return -EINVAL;
    if (pl->arena.oom) {
        *why = "out of memory while building the answer";
        return -EINVAL;
    }
    return 0;
}

uint64_t item_len(const struct item *it)
{
    return it->kind == IT_TEXT && it->gen ? it->gen : it->len;
}

void plan_usage(const struct plan *pl, const struct apireq *rq, long long *in, long long *out)
{
    uint64_t ob = 0;
    for (int i = 0; i < pl->nitems; i++)
        ob += item_len(&pl->items[i]);
    *in = pl->in_tok >= 0 ? pl->in_tok : (long long)(rq->text.len / 4 + 1);
    *out = pl->out_tok >= 0 ? pl->out_tok : (long long)(ob / 4 + 1);
}
