/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plan -> bytes for every answer of the stub upstream. A streamed answer is a walk over the
 * plan (start, then for each item: start, deltas, end; then finish) that a wire format
 * (struct fmt) renders event by event; the walk stops at every delay, and whenever the
 * connection's output passes a high-water mark the server flushes before asking for more, so
 * a huge answer is never held in memory whole. The same walk places the mid-stream error,
 * the drop and the missing terminator of the scenarios that need them. Non-streamed answers,
 * errors, embeddings and model lists are written whole.
 */
#include "tests/support/stub.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const *stub_model_ids;
int stub_model_count;

enum {
    PH_FIRST_BYTE,
    PH_HEAD,
    PH_START,
    PH_ITEM_START,
    PH_DELTA,
    PH_ITEM_END,
    PH_FINISH,
    PH_ABORT,
    PH_WHOLE,
    PH_OVER
};

const char *stub_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 529:
        return "Site Overloaded";
    default:
        return status < 500 ? "Client Error" : "Server Error";
    }
}

void stub_head_begin(struct sbuf *out, int status, enum stub_prov prov, const char *ctype,
                     long long clen, int close, uint64_t reqno)
{
    sbuf_printf(out, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\n", status, stub_reason(status), ctype);
    if (clen >= 0)
        sbuf_printf(out, "content-length: %lld\r\n", clen);
    else if (clen == -1)
        sbuf_puts(out, "transfer-encoding: chunked\r\n");
    sbuf_printf(out, "%s: req_%016llx\r\n", prov == PROV_ANTHROPIC ? "request-id" : "x-request-id",
                (unsigned long long)reqno);
    if (close)
        sbuf_puts(out, "connection: close\r\n");
}

void stub_error_answer(struct sbuf *out, enum stub_prov prov, int status, const char *type,
                       const char *msg, size_t msglen, int close, int retry_after, int should_retry,
                       uint64_t reqno)
{
    struct sbuf body = {0};
    if (prov == PROV_ANTHROPIC)
        anth_error_body(&body, status, type, msg, msglen, reqno);
    else
        openai_error_body(&body, status, type, msg, msglen);
    stub_head_begin(out, status, prov, "application/json", (long long)body.len, close, reqno);
    if (retry_after >= 0)
        sbuf_printf(out, "retry-after: %d\r\n", retry_after);
    if (should_retry >= 0)
        sbuf_printf(out, "x-should-retry: %s\r\n", should_retry ? "true" : "false");
    sbuf_puts(out, "\r\n");
    sbuf_put(out, body.p, body.len);
    if (body.oom)
        out->oom = 1;
    sbuf_free(&body);
}

void resp_init(struct resp *r, const struct apireq *rq, const struct plan *pl, struct sbuf *out,
               uint64_t reqno, int chunked, int close)
{
    r->rq = rq;
    r->pl = pl;
    r->out = out;
    r->ev.len = 0;
    r->chunked = chunked;
    r->close = close || !chunked;
    r->reqno = reqno;
    r->created = (long long)time(NULL);
    r->f = rq->api == API_CHAT        ? &fmt_chat
           : rq->api == API_RESPONSES ? &fmt_responses
           : rq->api == API_MESSAGES  ? &fmt_messages
                                      : NULL;
    const char *prefix = rq->api == API_CHAT        ? "chatcmpl-"
                         : rq->api == API_RESPONSES ? "resp_"
                                                    : "msg_";
    snprintf(r->id, sizeof r->id, "%s%016llx", prefix, (unsigned long long)reqno);
    r->phase = PH_FIRST_BYTE;
    r->item = r->deltas = r->seq = r->last_event = 0;
    r->pos = 0;
    r->bytes_out = 0;
}

void resp_id(const struct resp *r, struct sbuf *b, const char *prefix, int i)
{
    if (i < 0)
        sbuf_printf(b, "%s%016llx", prefix, (unsigned long long)r->reqno);
    else
        sbuf_printf(b, "%s%016llx_%d", prefix, (unsigned long long)r->reqno, i);
}

void resp_event(struct resp *r)
{
    if (r->chunked)
        sbuf_printf(r->out, "%zx\r\n", r->ev.len);
    sbuf_put(r->out, r->ev.p, r->ev.len);
    if (r->chunked)
        sbuf_put(r->out, "\r\n", 2);
    if (r->ev.oom)
        r->out->oom = 1;
    r->bytes_out += r->ev.len;
    r->ev.len = 0;
}

void resp_begin_event(struct resp *r, const char *name)
{
    if (name)
        sbuf_printf(&r->ev, "event: %s\n", name);
    sbuf_put(&r->ev, "data: ", 6);
}

void resp_end_event(struct resp *r)
{
    sbuf_put(&r->ev, "\n\n", 2);
    resp_event(r);
}

void resp_last_event(struct resp *r)
{
    if (!r->pl->no_final_newline)
        sbuf_put(&r->ev, "\n\n", 2);
    resp_event(r);
}

void resp_item_json(struct resp *r, struct sbuf *b, int i, uint64_t off, uint64_t n)
{
    const struct item *it = &r->pl->items[i];
    if (it->kind == IT_TEXT && it->gen) {
        /* generated text is ASCII without anything to escape: copy the pattern */
        if (sbuf_reserve(b, n + 2) != 0)
            return;
        b->p[b->len++] = '"';
        for (uint64_t k = 0; k < n;) {
            size_t at = (size_t)((off + k) % STUB_GEN_LEN);
            size_t take = STUB_GEN_LEN - at;
            if (take > n - k)
                take = (size_t)(n - k);
            memcpy(b->p + b->len, stub_gen_text + at, take);
            b->len += take;
            k += take;
        }
        b->p[b->len++] = '"';
        return;
    }
    sbuf_json(b, n ? r->pl->arena.p + it->off + off : "", (size_t)n);
}

/* The length of the next delta of item i from pos: its chunk size, grown to the end of a
 * UTF-8 sequence so that no event carries half a character. */
static size_t next_delta(const struct resp *r, int i, uint64_t pos)
{
    const struct item *it = &r->pl->items[i];
    uint64_t len = item_len(it), n = it->chunk ? it->chunk : len;
    if (n > len - pos)
        n = len - pos;
    if (!(it->kind == IT_TEXT && it->gen))
        n = stub_utf8_end(r->pl->arena.p + it->off, it->len, (size_t)(pos + n)) - pos;
    return (size_t)n;
}

static void end_body(struct resp *r)
{
    if (r->chunked)
        sbuf_put(r->out, "0\r\n\r\n", 5);
}

/* A non-streamed answer, an error, an embeddings list or a model list: head and body. */
static int whole(struct resp *r)
{
    const struct plan *pl = r->pl;
    const struct apireq *rq = r->rq;
    if (pl->status || (pl->end == END_ERROR && rq->api != API_EMBEDDINGS && rq->api != API_MODELS &&
                       rq->api != API_MODEL)) {
        int st = pl->status ? pl->status : 500;
        stub_error_answer(r->out, rq->prov, st, pl->err_type[0] ? pl->err_type : NULL,
                          pl->msg_len ? pl->arena.p + pl->msg_off : NULL, pl->msg_len, r->close,
                          pl->retry_after, pl->should_retry, r->reqno);
        return STEP_DONE;
    }
    struct sbuf *body = &r->ev;
    body->len = 0;
    if (rq->api == API_EMBEDDINGS)
        openai_embeddings(rq, pl, body);
    else if (rq->api == API_MODELS || rq->api == API_MODEL)
        stub_models(rq, body);
    else
        r->f->whole(r, body);
    if (rq->api == API_MODEL && body->len == 0) {
        static const char m[] = "The model does not exist.";
        stub_error_answer(r->out, rq->prov, 404, NULL, m, sizeof m - 1, r->close, -1, -1, r->reqno);
        return STEP_DONE;
    }
    stub_head_begin(r->out, 200, rq->prov, "application/json", (long long)body->len, r->close,
                    r->reqno);
    sbuf_puts(r->out, "\r\n");
    size_t n = pl->end == END_DROP ? body->len / 2 : body->len;
    sbuf_put(r->out, body->p, n);
    if (body->oom)
        r->out->oom = 1;
    r->bytes_out += n;
    body->len = 0;
    return pl->end == END_DROP ? STEP_DROP : STEP_DONE;
}

int resp_step(struct resp *r, int *ms)
{
    const struct plan *pl = r->pl;
    *ms = 0;
    switch (r->phase) {
    case PH_FIRST_BYTE:
        r->phase = pl->status || !r->rq->stream || !r->f ? PH_WHOLE : PH_HEAD;
        if (pl->first_byte_ms > 0) {
            *ms = pl->first_byte_ms;
            return STEP_DELAY;
        }
        return STEP_MORE;
    case PH_WHOLE:
        r->phase = PH_OVER;
        return whole(r);
    case PH_HEAD:
        stub_head_begin(r->out, 200, r->rq->prov, "text/event-stream; charset=utf-8",
                        r->chunked ? -1 : -2, r->close, r->reqno);
        sbuf_puts(r->out, "cache-control: no-cache\r\n\r\n");
        r->phase = PH_START;
        if (pl->first_event_ms > 0) {
            *ms = pl->first_event_ms;
            return STEP_DELAY;
        }
        return STEP_MORE;
    case PH_START:
        r->f->start(r);
        r->phase = PH_ITEM_START;
        r->item = 0;
        return STEP_MORE;
    case PH_ITEM_START:
        if (r->item >= pl->nitems) {
            r->phase = PH_FINISH;
            return STEP_MORE;
        }
        r->f->item_start(r, r->item);
        r->pos = 0;
        r->phase = PH_DELTA;
        return STEP_MORE;
    case PH_DELTA: {
        if (r->pos >= item_len(&pl->items[r->item])) {
            r->phase = PH_ITEM_END;
            return STEP_MORE;
        }
        if ((pl->end == END_ERROR || pl->end == END_DROP) && r->deltas >= pl->after) {
            r->phase = PH_ABORT;
            return STEP_MORE;
        }
        if (r->deltas > 0)
            for (int k = 0; k < pl->pings; k++)
                r->f->ping(r);
        size_t n = next_delta(r, r->item, r->pos);
        r->f->delta(r, r->item, r->pos, n);
        r->pos += n;
        r->deltas++;
        if (pl->delay_ms > 0) {
            *ms = pl->delay_ms;
            return STEP_DELAY;
        }
        return STEP_MORE;
    }
    case PH_ITEM_END:
        r->f->item_end(r, r->item);
        r->item++;
        r->phase = PH_ITEM_START;
        return STEP_MORE;
    case PH_FINISH:
        if (pl->end == END_ERROR || pl->end == END_DROP) {
            r->phase = PH_ABORT;
            return STEP_MORE;
        }
        r->phase = PH_OVER;
        if (pl->end == END_HOLD) {
            *ms = pl->hold_ms;
            return STEP_HOLD;
        }
        if (pl->end != END_CLOSE)
            r->f->finish(r);
        end_body(r);
        return STEP_DONE;
    case PH_ABORT:
        r->phase = PH_OVER;
        if (pl->end == END_DROP)
            return STEP_DROP;
        r->f->error(r);
        end_body(r);
        return STEP_DONE;
    default:
        return STEP_DONE;
    }
}
