/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A judged connection (see httpjudge.h). The requests read and not yet answered form a queue
 * of turns, in the order the client sent them: a turn is either forwarded (its answer is the
 * origin's next response) or local (its answer is cordon's refusal, ready at once). After
 * every step the local turns at the head of the queue are answered, so the head is always a
 * forwarded turn waiting for the origin, or the queue is empty. That is what keeps a refusal
 * in its place among pipelined requests (RFC 9112 section 9.3.2: responses in request order).
 */
#include "policy/server/httpjudge.h"
#include "policy/server/httpstatus.h"
#include "policy/server/httppath.h"
#include "policy/server/httpreq.h"
#include "policy/data/data.h"
#include "policy/data/data_action.h"
#include "policy/data/data_vault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct obuf {
    char *p;
    size_t len, off, cap; /* bytes [off, len) are still to be sent */
    uint64_t total;       /* bytes ever put: what a turn sent is a difference of two */
};

struct turn {
    int local;       /* answered by cordon: canned holds the whole response */
    int close_after; /* the connection ends once this turn is answered */
    int head_sent;   /* some of the answer went to the client */
    int keep_alive;  /* the request's own */
    int minor;       /* the request's HTTP/1.<minor>: how its response may be re-framed */
    int allowed, forwarded, rule, status;
    char *canned;
    size_t canned_len;
    char *method, *path, *reason;
    uint64_t up, down;
    char classes[256]; /* data classes found in its bodies, comma-separated */
    unsigned rewritten;
};

struct httpjudge {
    struct httpjudge_conf c;
    struct httpreq_parser *req, *resp;
    struct obuf to_origin, to_client;
    struct data_stream *rq_st, *rs_st; /* the bodies being scanned (conf.data) */
    /* scan: what is done with each class in each direction (0 request, 1 response; tokenize
     * in a response is log: the vault restores instead), and whether any class is rewritten */
    enum data_action *act[2];
    int rewrites[2];
    struct data_vault *vault;     /* this connection's tokenize vault, made at its first value */
    struct data_restore *restore; /* the response body getting the vault's tokens back */
    /* A message whose body may change length: its head waits (built from the parser's fields
     * when it goes) and its body gathers here, up to HTTPJUDGE_HOLD_MAX (spill()). */
    int hold[2];
    struct obuf held[2];
    char stop[400]; /* why a scanned body was stopped */
    /* The origin answered the request being read before its body ended (a 401 with
     * keep-alive, say): that turn left the queue, and what is left of the request is counted
     * in `gone`, a turn nobody records. */
    int cur_answered;
    struct turn gone;
    struct turn q[HTTPJUDGE_PIPELINE_MAX + 1];
    size_t head, n;   /* the queue: q[head], ... q[head + n - 1] (mod size) */
    int in_request;   /* a request's head was read and its END not yet */
    int head_pending; /* part of a head arrived, not all of it */
    int cur_forward;  /* that request goes to the origin */
    int cur_chunked;  /* ... with a chunked body, chunked again on the way */
    int resp_chunked; /* the response being passed on is chunked */
    int resp_interim; /* the head passed on last was a 1xx */
    int client_stop;  /* nothing more of the client's is read */
    int client_eof;   /* the client closed its sending side */
    int closing;      /* the connection ends once to_client is sent */
    int nomem;
};

#define QSIZE (HTTPJUDGE_PIPELINE_MAX + 1)

static struct turn *turn_at(struct httpjudge *j, size_t i)
{
    return &j->q[(j->head + i) % QSIZE];
}

static void put(struct httpjudge *j, struct obuf *b, const char *p, size_t n)
{
    if (j->nomem || n == 0)
        return;
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off) { /* what was sent makes room first */
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n)
            cap *= 2;
        if (cap != b->cap) {
            char *np = realloc(b->p, cap);
            if (!np) {
                j->nomem = 1;
                return;
            }
            b->p = np;
            b->cap = cap;
        }
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->total += n;
}

static void put_chunk(struct httpjudge *j, struct obuf *b, const char *p, size_t n)
{
    char size[24];
    if (n == 0)
        return;
    int k = snprintf(size, sizeof size, "%zx\r\n", n);
    put(j, b, size, (size_t)k);
    put(j, b, p, n);
    put(j, b, "\r\n", 2);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static void record(struct httpjudge *j, struct turn *t)
{
    if (!j->c.record)
        return;
    struct httpjudge_rec r = {.method = t->method ? t->method : "",
                              .path = t->path ? t->path : "",
                              .reason = t->reason ? t->reason : "",
                              .rule = t->rule,
                              .allowed = t->allowed,
                              .forwarded = t->forwarded,
                              .status = t->status,
                              .bytes_up = t->up,
                              .bytes_down = t->down,
                              .classes = t->classes};
    r.rewritten = t->rewritten;
    j->c.record(j->c.ctx, &r);
}

static void turn_clear(struct turn *t)
{
    free(t->canned);
    free(t->method);
    free(t->path);
    free(t->reason);
    memset(t, 0, sizeof *t);
}

/* The turn of the request being read: the last in the queue, or `gone` once the origin
 * answered it early (cur_answered). */
static struct turn *reading(struct httpjudge *j)
{
    return j->cur_answered || !j->n ? &j->gone : turn_at(j, j->n - 1);
}

/* The head of the request being read went to the origin: the origin's next response owed is
 * its answer (none has a body after HEAD). Not before: a response to a request still held
 * here would be one the origin was never sent. */
static void expect_answer(struct httpjudge *j, const struct httpreq *r)
{
    if (httpreq_expect(j->resp, strcmp(r->method, "HEAD") == 0) != 0)
        j->nomem = 1; /* the queue bound is the same: never happens */
}

/* The first content coding of m other than identity, over every Content-Encoding field (RFC
 * 9110 section 8.4: each a list, in the order the codings were applied), into buf; NULL when
 * the body is not encoded. */
static const char *encoded(const struct httpreq *m, char *buf, size_t cap)
{
    for (size_t i = 0; i < m->n_fields; i++) {
        if (!httpreq_field_is(m->fields[i].name, "Content-Encoding"))
            continue;
        for (const char *p = m->fields[i].value; *p;) {
            p += strspn(p, " \t,");
            size_t n = strcspn(p, ",");
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                n--;
            if (n && !(n == 8 && strncasecmp(p, "identity", 8) == 0)) {
                snprintf(buf, cap, "%.*s", (int)(n < 40 ? n : 40), p);
                return buf;
            }
            p += n;
        }
    }
    return NULL;
}

static void pop(struct httpjudge *j)
{
    struct turn *t = turn_at(j, 0);
    if (j->in_request && j->n == 1)
        j->cur_answered = 1; /* it was the request still being read */
    record(j, t);
    if (t->close_after || !t->keep_alive)
        j->closing = 1;
    turn_clear(t);
    j->head = (j->head + 1) % QSIZE;
    j->n--;
}

/* Answer the local turns at the head of the queue. */
static void pump(struct httpjudge *j)
{
    while (j->n && !j->closing && turn_at(j, 0)->local) {
        struct turn *t = turn_at(j, 0);
        put(j, &j->to_client, t->canned, t->canned_len);
        t->down = t->canned_len;
        t->head_sent = 1;
        pop(j);
    }
}

/* A complete response of cordon's: status, a plain-text body that says what to do, and the
 * rule in a header a program can read. */
static int canned(struct turn *t, int status, const char *rule, const char *body, int close,
                  int keep_alive_10)
{
    size_t blen = strlen(body);
    size_t cap = blen + strlen(rule) + 256;
    char *p = malloc(cap);
    if (!p)
        return -ENOMEM;
    int n = snprintf(p, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\nX-Cordon-Rule: %s\r\n"
                     "%s\r\n%s",
                     status, http_status_text((unsigned)status), blen, rule,
                     close           ? "Connection: close\r\n"
                     : keep_alive_10 ? "Connection: keep-alive\r\n"
                                     : "",
                     body);
    if (n < 0 || (size_t)n >= cap) {
        free(p);
        return -ENOMEM;
    }
    t->local = 1;
    t->status = status;
    t->canned = p;
    t->canned_len = (size_t)n;
    if (close)
        t->close_after = 1;
    return 0;
}

static struct turn *push(struct httpjudge *j)
{
    struct turn *t = turn_at(j, j->n);
    memset(t, 0, sizeof *t);
    t->rule = -1;
    t->keep_alive = 1;
    j->n++;
    return t;
}

/* The request's rule-free name in a header value: no CR, LF or non-ASCII byte. */
static void header_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* A request the parser refused: its status and why, then the connection closes. */
/* Add a class to a turn's list, once. */
static void note_class(struct turn *t, const char *name)
{
    size_t n = strlen(name), have = strlen(t->classes);
    for (const char *p = t->classes; (p = strstr(p, name)); p += n)
        if ((p == t->classes || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return;
    if (have + n + 2 < sizeof t->classes)
        snprintf(t->classes + have, sizeof t->classes - have, "%s%s", have ? "," : "", name);
}

/* The framing fields put_head leaves out, and what it does instead. */
#define HEAD_NO_LENGTH 1u  /* Content-Length: the body's length is to change */
#define HEAD_IDENTITY 2u   /* Accept-Encoding: replaced by identity (a scanned request) */
#define HEAD_NO_CONNECT 4u /* Connection, Keep-Alive: replaced by the extra line's close */

/* A head rebuilt from the parser's fields: its start line as sent, the fields but those flags
 * leave out, the extra line (with its CRLF, or NULL) and the blank line. The parser refused
 * every field it could not read unambiguously, so a field written back means the same. */
static void put_head(struct httpjudge *j, struct obuf *out, const struct httpreq *m, unsigned flags,
                     const char *extra)
{
    const char *eol = memchr(m->raw, '\n', m->raw_len);
    put(j, out, m->raw, eol ? (size_t)(eol - m->raw) + 1 : m->raw_len);
    for (size_t i = 0; i < m->n_fields; i++) {
        const char *n = m->fields[i].name;
        if (((flags & HEAD_NO_LENGTH) && httpreq_field_is(n, "Content-Length")) ||
            ((flags & HEAD_IDENTITY) && httpreq_field_is(n, "Accept-Encoding")) ||
            ((flags & HEAD_NO_CONNECT) &&
             (httpreq_field_is(n, "Connection") || httpreq_field_is(n, "Keep-Alive"))))
            continue;
        put(j, out, n, strlen(n));
        put(j, out, ": ", 2);
        put(j, out, m->fields[i].value, strlen(m->fields[i].value));
        put(j, out, "\r\n", 2);
    }
    if (flags & HEAD_IDENTITY)
        put(j, out, "Accept-Encoding: identity\r\n", 27);
    if (extra)
        put(j, out, extra, strlen(extra));
    put(j, out, "\r\n", 2);
}

/* A held message goes no further: whatever it gathered is dropped. */
static void drop_held(struct httpjudge *j, int dir)
{
    j->hold[dir] = 0;
    j->held[dir].len = j->held[dir].off = 0;
}

/* A held message's head went out: a response's turn has its head and status, a request's
 * answer is now owed by the origin (expect_answer). */
static void head_went(struct httpjudge *j, int dir, const struct httpreq *m)
{
    if (dir) {
        turn_at(j, 0)->head_sent = 1;
        turn_at(j, 0)->status = m->status;
    } else {
        expect_answer(j, m);
    }
    drop_held(j, dir);
}

/* A held message outgrew the hold: its head goes with a framing that needs no length, then
 * what was held. Returns 0, or 1 for an HTTP/1.0 request, which has no such framing. */
static int spill(struct httpjudge *j, int dir)
{
    const struct httpreq *m = httpreq_request(dir ? j->resp : j->req);
    struct obuf *out = dir ? &j->to_client : &j->to_origin, *h = &j->held[dir];
    if (!dir && m->minor == 0) {
        snprintf(j->stop, sizeof j->stop,
                 "an HTTP/1.0 request body over %u bytes that api.data rewrites: its new "
                 "length could not be announced before it was known; send it as HTTP/1.1",
                 HTTPJUDGE_HOLD_MAX);
        return 1;
    }
    if (!dir) {
        put_head(j, out, m, HEAD_NO_LENGTH | HEAD_IDENTITY, "Transfer-Encoding: chunked\r\n");
        j->cur_chunked = 1;
        put_chunk(j, out, h->p, h->len);
    } else if (turn_at(j, 0)->minor >= 1 && m->minor >= 1) {
        /* chunked only where both ends speak HTTP/1.1 (RFC 9112 section 6.1) */
        put_head(j, out, m, HEAD_NO_LENGTH, "Transfer-Encoding: chunked\r\n");
        j->resp_chunked = 1;
        put_chunk(j, out, h->p, h->len);
    } else { /* an HTTP/1.0 client reads to the close (RFC 9112 section 6.3, item 8) */
        put_head(j, out, m, HEAD_NO_LENGTH | HEAD_NO_CONNECT, "Connection: close\r\n");
        turn_at(j, 0)->close_after = 1;
        put(j, out, h->p, h->len);
    }
    head_went(j, dir, m);
    return 0;
}

/* The end of a held message: its head with the length it has now, then its body. */
static void unhold(struct httpjudge *j, int dir)
{
    if (!j->hold[dir])
        return;
    const struct httpreq *m = httpreq_request(dir ? j->resp : j->req);
    struct obuf *out = dir ? &j->to_client : &j->to_origin, *h = &j->held[dir];
    char cl[48];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", h->len);
    put_head(j, out, m, HEAD_NO_LENGTH | (dir ? 0u : HEAD_IDENTITY), cl);
    put(j, out, h->p, h->len);
    head_went(j, dir, m);
}

/* Body bytes on their way (dir 0: to the origin, 1: to the client), framed as the message
 * now is: held, chunked, or as they are. Returns 0, or 1 (j->stop says why) when a held
 * request outgrows the hold and cannot go otherwise. */
static int emit(struct httpjudge *j, int dir, const char *p, size_t n)
{
    if (j->hold[dir]) {
        put(j, &j->held[dir], p, n);
        return j->held[dir].len > HTTPJUDGE_HOLD_MAX ? spill(j, dir) : 0;
    }
    struct obuf *out = dir ? &j->to_client : &j->to_origin;
    if (dir ? j->resp_chunked : j->cur_chunked)
        put_chunk(j, out, p, n);
    else
        put(j, out, p, n);
    return 0;
}

/* Text a response gives back: the vault's tokens restored, when it minted any. */
static int restored(struct httpjudge *j, struct turn *t, const char *p, size_t n, int end)
{
    struct data_buf b = {0};
    long k = end ? data_restore_end(j->restore, &b) : data_restore_feed(j->restore, p, n, &b);
    int rc = k < 0 ? -ENOMEM : emit(j, 1, b.p ? b.p : "", b.len);
    if (k > 0)
        t->rewritten += (unsigned)k;
    data_buf_free(&b);
    return rc;
}

/*
 * The matches m[0..nm) of a text of direction dir judged by their classes' actions: each is
 * noted in the turn's record, and a class blocked (or hashed with no key) stops the text:
 * returns 1, j->stop says why. Otherwise 0, with *rewrite set when some value is to be
 * rewritten (data_action_apply()); -ENOMEM. In observe mode nothing is stopped or rewritten,
 * and the record says what enforce mode would have refused.
 */
static int judge_matches(struct httpjudge *j, int dir, struct turn *t, const struct data_match *m,
                         size_t nm, const char *where, int *rewrite)
{
    *rewrite = 0;
    for (size_t i = 0; i < nm; i++) {
        const char *name = j->c.data->names[m[i].cls];
        enum data_action a = j->act[dir][m[i].cls];
        note_class(t, name);
        if (j->c.observe && t->allowed && (a == DATA_BLOCK || (a == DATA_HASH && !j->c.hash_key))) {
            char why[400];
            snprintf(why, sizeof why,
                     "the %s %s holds %s, which api.data %s (scan of "
                     "sandbox.network.http[%zu])",
                     dir ? "response" : "request", where, name,
                     a == DATA_BLOCK ? "blocks" : "hashes with a data key this cordond lacks",
                     j->c.entry);
            char *r = strdup(why);
            if (!r)
                return -ENOMEM;
            free(t->reason);
            t->reason = r;
            t->allowed = 0;
        }
        if (j->c.observe || a <= DATA_LOG)
            continue; /* observe mode: the record names the class, nothing is done */
        if (a == DATA_BLOCK) {
            snprintf(j->stop, sizeof j->stop, "%s, which api.data blocks", name);
            return 1;
        }
        if (a == DATA_HASH && !j->c.hash_key) {
            snprintf(j->stop, sizeof j->stop,
                     "%s, which api.data hashes, and this cordond has no data key to hash "
                     "with (set data_key_file in cordond.conf)",
                     name);
            return 1;
        }
        if (a == DATA_TOKENIZE && !j->vault && data_vault_new(NULL, &j->vault) != 0)
            return -ENOMEM;
        *rewrite = 1;
    }
    return 0;
}

/* text[0..len) (at offset base of its stream) with the values of m[0..nm) rewritten, into
 * *b. Returns 0, 1 (a full vault: j->stop says why) or -ENOMEM. */
static int rewrite_text(struct httpjudge *j, int dir, struct turn *t, const char *text, size_t len,
                        uint64_t base, const struct data_match *m, size_t nm, struct data_buf *b)
{
    struct data_act_ctx ctx = {.hash_key = j->c.hash_key, .vault = j->vault};
    long k = data_action_apply(text, len, base, m, nm, j->act[dir], j->c.data->names, &ctx, b);
    if (k == -ENOMEM)
        return -ENOMEM;
    if (k < 0) {
        snprintf(j->stop, sizeof j->stop,
                 "a value that could not be rewritten (the connection's tokenize vault is "
                 "full); open a new connection");
        return 1;
    }
    t->rewritten += (unsigned)k;
    return 0;
}

/*
 * Pass on what a scanned body has made final: its matches judged (judge_matches), then the
 * final bytes, with their values rewritten, emitted and released. Returns 0, 1 (stopped:
 * nothing of the value went out) or -ENOMEM.
 */
static int pass_scanned(struct httpjudge *j, struct data_stream *st, int dir, struct turn *t)
{
    size_t nm, ready = data_stream_ready(st);
    const struct data_match *m = data_stream_matches(st, &nm);
    int rewrite, rc = judge_matches(j, dir, t, m, nm, "body", &rewrite);
    if (rc != 0 || !ready)
        return rc;
    uint64_t base;
    size_t plen;
    const char *p = data_stream_pending(st, &base, &plen);
    struct data_buf b = {0};
    if (rewrite && (rc = rewrite_text(j, dir, t, p, ready, base, m, nm, &b)) == 0) {
        p = b.p ? b.p : "";
        ready = b.len;
    }
    if (rc == 0)
        rc = dir && j->restore ? restored(j, t, p, ready, 0) : emit(j, dir, p, ready);
    data_buf_free(&b);
    if (rc == 0)
        data_stream_release(st, data_stream_ready(st));
    return rc;
}

/*
 * The end of a chunked message (dir 0: to the origin): the last chunk and the trailer fields.
 * On a scan host each field's value is a text of its own for api.data, judged and rewritten
 * like a body. Returns 0, 1 (stopped: j->stop says why; the field that holds the value and
 * the message's end never go out) or -ENOMEM.
 */
static int end_chunked(struct httpjudge *j, int dir, struct turn *t, const struct httpreq *m)
{
    struct obuf *out = dir ? &j->to_client : &j->to_origin;
    int rc = 0;
    put(j, out, "0\r\n", 3);
    for (size_t i = 0; rc == 0 && m && i < m->n_trailers; i++) {
        const char *v = m->trailers[i].value;
        size_t vl = strlen(v);
        struct data_match *mt = NULL;
        struct data_buf b = {0};
        long k = j->c.data ? data_scan(j->c.data->scanner, v, vl, &mt) : 0;
        int rewrite = 0;
        if (k < 0) {
            snprintf(j->stop, sizeof j->stop, "a trailer field the scanner could not scan");
            rc = k == -ENOMEM ? -ENOMEM : 1;
        } else if (k > 0 &&
                   (rc = judge_matches(j, dir, t, mt, (size_t)k, "trailer", &rewrite)) == 0 &&
                   rewrite && (rc = rewrite_text(j, dir, t, v, vl, 0, mt, (size_t)k, &b)) == 0) {
            v = b.p ? b.p : "";
            vl = b.len;
        }
        if (rc == 0) { /* a field that stops the message is not written, nor any after it */
            put(j, out, m->trailers[i].name, strlen(m->trailers[i].name));
            put(j, out, ": ", 2);
            put(j, out, v, vl);
            put(j, out, "\r\n", 2);
        }
        data_buf_free(&b);
        free(mt);
    }
    if (rc == 0)
        put(j, out, "\r\n", 2);
    return rc;
}

/* A scanned body: feed it (len 0 with end: its end). Returns as pass_scanned; a scanner
 * failure stops the body too. */
static int scan_body(struct httpjudge *j, struct data_stream **stp, int dir, struct turn *t,
                     const char *data, size_t len, int end)
{
    if (!*stp && data_stream_new(j->c.data->scanner, stp) != 0)
        return -ENOMEM;
    int rc = end ? data_stream_end(*stp) : data_stream_feed(*stp, data, len);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        snprintf(j->stop, sizeof j->stop, "text the scanner could not scan within its budget");
        rc = 1;
    } else {
        rc = pass_scanned(j, *stp, dir, t);
    }
    if (rc == 0 && end && dir && j->restore)
        rc = restored(j, t, NULL, 0, 1);
    if (end || rc != 0) {
        data_stream_free(*stp);
        *stp = NULL;
    }
    return rc;
}

/* The request the origin answered early (cur_answered) cannot go on: the connection ends
 * here, and the origin never gets the rest of a request it could not then read to its end. */
static int end_answered(struct httpjudge *j)
{
    j->client_stop = j->closing = 1;
    j->in_request = j->cur_forward = 0;
    drop_held(j, 0);
    return 0;
}

static int refuse_unreadable(struct httpjudge *j)
{
    /* Inside the body of a request already forwarded (a bad chunk size): that request is
     * answered by the refusal in its place, since the origin got only part of it, and the
     * connection ends there, before the origin's answer to the fragment could be passed on. */
    if (j->in_request && j->cur_answered)
        return end_answered(j); /* the request already answered goes on unreadable */
    int cut = j->in_request && j->cur_forward;
    struct turn *t = cut ? turn_at(j, j->n - 1) : push(j);
    char body[1024];
    snprintf(body, sizeof body,
             "cordon: a request to %s:%u was refused %s, because %s. The connection is closed; "
             "send a well-formed HTTP/1.1 request.\n",
             j->c.host, j->c.port, cut ? "while its body was read" : "before it was read",
             httpreq_reason(j->req));
    free(t->reason);
    t->reason = strdup(httpreq_reason(j->req));
    if (!t->method)
        t->method = strdup("");
    if (!t->path)
        t->path = strdup("");
    j->client_stop = 1;
    j->in_request = 0;
    j->cur_forward = 0;
    if (!t->reason || !t->method || !t->path)
        return -ENOMEM;
    return canned(t, httpreq_status(j->req) ? httpreq_status(j->req) : 400, "http.parse", body, 1,
                  0);
}

/* A request whose body holds a class the policy does not let leave: answered 403 in its
 * place. A held request never reached the origin: the rest of its body is dropped and the
 * connection goes on. Otherwise the origin got the bytes before the value, and the connection
 * ends so that it never gets the rest. */
static int refuse_body(struct httpjudge *j)
{
    if (j->cur_answered)
        return end_answered(j); /* the client has its answer already */
    struct turn *t = turn_at(j, j->n - 1);
    int held = j->hold[0]; /* nothing of it went: the connection can go on */
    char body[1200], why[512];
    snprintf(why, sizeof why, "the request body holds %s (scan of sandbox.network.http[%zu])",
             j->stop, j->c.entry);
    drop_held(j, 0);
    snprintf(body, sizeof body,
             "cordon: %s %s on %s:%u is refused: %s (policy of agent %s, version %llu). %s\n",
             t->method ? t->method : "", t->path ? t->path : "", j->c.host, j->c.port, why,
             j->c.agent ? j->c.agent : "?", (unsigned long long)j->c.policy_version,
             held ? "Nothing of the request was sent; the connection stays usable."
                  : "The value was not sent; the connection is closed.");
    free(t->reason);
    t->reason = strdup(why);
    t->allowed = 0;
    t->forwarded = !held; /* the bytes before the value did go */
    j->cur_forward = 0;
    if (!held) {
        j->client_stop = 1;
        j->in_request = 0;
    } /* held: the rest of its body is read and dropped (in_request stays) */
    if (!t->reason)
        return -ENOMEM;
    char rule[64];
    snprintf(rule, sizeof rule, "sandbox.network.http[%zu].scan", j->c.entry);
    return canned(t, 403, rule, body, !held, t->minor == 0 && t->keep_alive);
}

/* A request head: judged, then forwarded or answered in its turn. */
static int on_head(struct httpjudge *j, const struct httpreq *r)
{
    struct turn *t = push(j);
    struct httprule_verdict v = {0};
    char why[HTTPRULE_REASON_MAX];
    const char *rule = "sandbox.network.http";
    char rname[64];
    int status = 403, rc = 0, judged = 0, observable = 1;
    t->keep_alive = r->keep_alive;
    t->minor = r->minor;
    t->method = strdup(r->method);
    if (!t->method)
        return -ENOMEM;
    j->in_request = 1;
    j->cur_forward = 0;
    j->cur_chunked = r->body == HTTPREQ_BODY_CHUNKED;
    char cebuf[48];
    const char *ce =
        j->c.data && r->body != HTTPREQ_BODY_NONE ? encoded(r, cebuf, sizeof cebuf) : NULL;
    j->cur_answered = 0;
    turn_clear(&j->gone);
    if (r->upgrade || strcmp(r->method, "CONNECT") == 0) {
        /* what follows a 101 or a CONNECT is not HTTP/1.1 and could not be judged */
        snprintf(why, sizeof why,
                 "%s on %s:%u: a protocol upgrade or a tunnel inside a judged connection "
                 "cannot be judged request by request",
                 r->method, j->c.host, j->c.port);
        observable = 0; /* refused in observe mode too: nothing after it could be read */
    } else if (httprule_check_host(j->c.host, j->c.port, r->host, j->c.default_port, why,
                                   sizeof why) != 0) {
        status = 421; /* RFC 9110 section 15.5.20: this connection does not serve that Host */
        rule = "http.host";
    } else if (ce) {
        snprintf(why, sizeof why,
                 "%s on %s:%u has a body with Content-Encoding: %s, and this host's bodies "
                 "are scanned, which compressed text cannot be; send the body uncompressed",
                 r->method, j->c.host, j->c.port, ce);
        status = 415; /* RFC 9110 section 15.5.16 */
        rule = "http.scan";
        observable = 0; /* observe mode could not say what the body held either */
    } else {
        struct httprule_request rq = {.method = r->method, .path = r->path, .query = r->query};
        rc = httprule_judge(j->c.rules, j->c.entry, &rq, &v);
        if (rc == -ENOMEM)
            return rc;
        judged = 1;
        snprintf(why, sizeof why, "%s", v.reason);
        if (rc == -EINVAL)
            status = 400;
        t->rule = v.rule;
        t->allowed = rc == 0 && v.action == POLICY_HTTP_ALLOW;
        if (v.rule >= 0)
            snprintf(rname, sizeof rname, "sandbox.network.http[%zu].rules[%d]", j->c.entry,
                     v.rule);
        else
            snprintf(rname, sizeof rname, "sandbox.network.http[%zu].default", j->c.entry);
        rule = rc == 0 || v.rule >= 0 ? rname : "http.path";
    }
    t->path = dup_or_empty(judged && v.path ? v.path : r->path);
    t->reason = strdup(why);
    httprule_verdict_free(&v);
    if (!t->path || !t->reason)
        return -ENOMEM;
    if (!r->keep_alive)
        j->client_stop = 1; /* the client's last request: nothing after it is read */
    if (t->allowed || (j->c.observe && observable)) {
        t->forwarded = 1;
        j->cur_forward = 1;
        if (!j->c.data) {
            put(j, &j->to_origin, r->raw, r->raw_len);
        } else if (!j->rewrites[0] || r->body != HTTPREQ_BODY_LENGTH) {
            put_head(j, &j->to_origin, r, HEAD_IDENTITY, NULL);
        } else if (r->expect_continue && r->minor >= 1) {
            /* the client waits for the origin's 100 before its body: the head goes now,
             * with a framing that lets the body change length */
            put_head(j, &j->to_origin, r, HEAD_NO_LENGTH | HEAD_IDENTITY,
                     "Transfer-Encoding: chunked\r\n");
            j->cur_chunked = 1;
        } else {
            j->hold[0] = 1; /* the head waits for the body's new length (unhold, spill) */
            return 0;
        }
        expect_answer(j, r);
        return j->nomem ? -ENOMEM : 0;
    }
    char body[2048], safe_rule[64];
    snprintf(safe_rule, sizeof safe_rule, "%s", rule);
    header_safe(safe_rule);
    snprintf(body, sizeof body,
             "cordon: %s %s on %s:%u is refused: %s (policy of agent %s, version %llu). If "
             "the agent needs it, change that rule in the agent's policy.\n",
             r->method, t->path, j->c.host, j->c.port, why, j->c.agent ? j->c.agent : "?",
             (unsigned long long)j->c.policy_version);
    /* A client that waits for 100 Continue may never send the body it announced: after the
     * refusal the connection is not read further, and closes. */
    int close = r->expect_continue && r->body != HTTPREQ_BODY_NONE;
    if (close)
        j->client_stop = 1;
    /* an HTTP/1.0 client that asked to stay connected is told it may (RFC 9112 section 9.3) */
    return canned(t, status, safe_rule, body, close, r->minor == 0 && r->keep_alive);
}

int httpjudge_new(const struct httpjudge_conf *conf, struct httpjudge **out)
{
    struct httpjudge *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j)
        return -ENOMEM;
    j->c = *conf;
    if (httpreq_new(NULL, &j->req) != 0 || httpreq_new_response(NULL, &j->resp) != 0) {
        httpjudge_free(j);
        return -ENOMEM;
    }
    for (int dir = 0; conf->data && dir < 2; dir++) {
        size_t n = conf->data->n;
        if (!(j->act[dir] = calloc(n ? n : 1, sizeof *j->act[dir]))) {
            httpjudge_free(j);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            int a = conf->data->act[dir] ? conf->data->act[dir][i] : DATA_ALLOW;
            if (a < DATA_ALLOW || a > DATA_BLOCK)
                a = DATA_BLOCK; /* an action this judge does not know: the strongest */
            if (dir == 1 && a == DATA_TOKENIZE)
                a = DATA_LOG; /* a response's own values pass; the vault's come back */
            j->act[dir][i] = (enum data_action)a;
            /* observe mode rewrites nothing, so nothing needs holding */
            j->rewrites[dir] |= !conf->observe && a >= DATA_REDACT && a <= DATA_TOKENIZE;
        }
    }
    *out = j;
    return 0;
}

void httpjudge_free(struct httpjudge *j)
{
    if (!j)
        return;
    while (j->n) {
        struct turn *t = turn_at(j, 0);
        if (!t->head_sent)
            t->status = 0; /* cut before any answer */
        record(j, t);
        turn_clear(t);
        j->head = (j->head + 1) % QSIZE;
        j->n--;
    }
    data_stream_free(j->rq_st);
    data_stream_free(j->rs_st);
    data_restore_free(j->restore);
    data_vault_free(j->vault); /* wipes the values it held */
    free(j->act[0]);
    free(j->act[1]);
    free(j->held[0].p);
    free(j->held[1].p);
    httpreq_free(j->req);
    httpreq_free(j->resp);
    free(j->to_origin.p);
    free(j->to_client.p);
    free(j);
}

/* One step of the client's: a head, body bytes or a request's end. Returns 0, 1 when the
 * client's input is not read further (a value stopped the body), or -ENOMEM. */
static int client_event(struct httpjudge *j, const struct httpreq_step *st)
{
    const struct httpreq *r = httpreq_request(j->req);
    if (st->event == HTTPREQ_HEAD) {
        j->head_pending = 0;
        return on_head(j, r);
    }
    if (!j->cur_forward) {
        /* a refused request's body is read and dropped, to its end */
        if (st->event == HTTPREQ_END)
            j->in_request = 0;
        return 0;
    }
    int sr = 0;
    if (st->event == HTTPREQ_BODY) {
        sr = j->c.data ? scan_body(j, &j->rq_st, 0, reading(j), st->data, st->len, 0)
                       : emit(j, 0, st->data, st->len);
    } else if (st->event == HTTPREQ_END) {
        if (j->rq_st)
            sr = scan_body(j, &j->rq_st, 0, reading(j), NULL, 0, 1);
        if (sr == 0 && j->cur_chunked)
            sr = end_chunked(j, 0, reading(j), r); /* the trailers, scanned on a scan host */
        if (sr == 0) {
            unhold(j, 0);
            j->in_request = 0;
            j->cur_forward = 0;
        }
    }
    if (sr == 1) {
        /* held, nothing of the request went: the rest of its body is read and dropped and
         * the connection goes on; else the connection ends before the value */
        int held = j->hold[0] && !j->cur_answered;
        if (refuse_body(j) != 0)
            return -ENOMEM;
        if (held && st->event == HTTPREQ_END)
            j->in_request = 0;
        return held ? 0 : 1;
    }
    return sr;
}

int httpjudge_from_client(struct httpjudge *j, const char *buf, size_t len, size_t *used)
{
    size_t pos = 0;
    int rc = 0;
    *used = 0;
    while ((!j->client_stop || j->in_request) && !j->closing) {
        if (!j->in_request && j->n >= HTTPJUDGE_PIPELINE_MAX)
            break; /* the origin has 64 requests to answer first */
        struct httpreq_step st;
        int fr = httpreq_feed(j->req, buf + pos, len - pos, &st);
        if (fr == -ENOMEM)
            return -ENOMEM;
        if (fr != 0) {
            pos = len; /* nothing after a refusal is read */
            rc = refuse_unreadable(j);
            break;
        }
        pos += st.used;
        if (st.event == HTTPREQ_MORE) {
            if (!j->in_request && st.used)
                j->head_pending = 1;
            break; /* every byte given was used */
        }
        /* bytes_up: what of the request went to the origin, as it went */
        uint64_t mark = j->to_origin.total;
        int er = client_event(j, &st);
        reading(j)->up += j->to_origin.total - mark;
        if (er < 0)
            return er;
        if (er == 1) {
            pos = len;
            break;
        }
    }
    if (j->client_stop && !j->in_request)
        pos = len; /* the client's part is over: what follows is dropped */
    *used = pos;
    pump(j);
    return rc ? rc : j->nomem ? -ENOMEM : 0;
}

/* The origin sent what cannot be the responses to what was forwarded, or stopped early. */
static int origin_failed(struct httpjudge *j, const char *why)
{
    int held = j->hold[1];
    j->closing = 1;
    drop_held(j, 1); /* a held response is not passed on */
    data_restore_free(j->restore);
    j->restore = NULL;
    if (!j->n)
        return 0;
    struct turn *t = turn_at(j, 0);
    if (t->head_sent && !held)
        return 0; /* part of the answer went: cutting the connection is all that is left */
    /* (after a 1xx, a held final response can still be replaced by the 502) */
    char body[1024];
    snprintf(body, sizeof body,
             "cordon: the origin %s:%u %s, so there is no response to pass on. Try again; if "
             "it persists, the origin is at fault.\n",
             j->c.host, j->c.port, why);
    free(t->canned);
    t->canned = NULL;
    if (canned(t, 502, "http.origin", body, 1, 0) != 0)
        return -ENOMEM;
    put(j, &j->to_client, t->canned, t->canned_len);
    t->down = t->canned_len;
    t->head_sent = 1;
    pop(j);
    return 0;
}

/* A response whose body holds a class the policy does not let in. Its head still held: the
 * client gets a 403 in its place. Else the head went out, so the connection is cut before the
 * value. The record says why, and the connection ends. */
static int cut_response(struct httpjudge *j, struct turn *t, int rc)
{
    char why[512];
    int held = j->hold[1];
    snprintf(why, sizeof why, "the response body holds %s (scan of sandbox.network.http[%zu])%s",
             j->stop, j->c.entry, held ? "" : "; the response was cut before it");
    free(t->reason);
    t->reason = strdup(why);
    t->allowed = 0;
    drop_held(j, 1);
    data_stream_free(j->rs_st);
    j->rs_st = NULL;
    data_restore_free(j->restore);
    j->restore = NULL;
    if (rc == -ENOMEM || !t->reason)
        return -ENOMEM;
    if (!held) {
        j->closing = 1;
        return 0;
    }
    char body[1200], rule[64];
    snprintf(body, sizeof body,
             "cordon: the response of %s:%u to %s %s is refused: %s (policy of agent %s, version "
             "%llu). Nothing of it was passed on; the connection is closed.\n",
             j->c.host, j->c.port, t->method ? t->method : "", t->path ? t->path : "", why,
             j->c.agent ? j->c.agent : "?", (unsigned long long)j->c.policy_version);
    snprintf(rule, sizeof rule, "sandbox.network.http[%zu].scan", j->c.entry);
    if (canned(t, 403, rule, body, 1, 0) != 0)
        return -ENOMEM;
    put(j, &j->to_client, t->canned, t->canned_len);
    t->down = t->canned_len;
    t->head_sent = 1;
    pop(j);
    j->closing = 1;
    return 0;
}

static int on_response_step(struct httpjudge *j, const struct httpreq_step *st)
{
    struct turn *t = j->n ? turn_at(j, 0) : NULL;
    if (!t || t->local)
        return origin_failed(j, "sent bytes nobody asked for");
    uint64_t before = j->to_client.total;
    const struct httpreq *r = httpreq_request(j->resp);
    if (st->event == HTTPREQ_HEAD) {
        if (r->status == 101)
            return origin_failed(j, "switched protocols without being asked to");
        char cebuf[48];
        int scanned = j->c.data && r->body != HTTPREQ_BODY_NONE;
        const char *ce = scanned ? encoded(r, cebuf, sizeof cebuf) : NULL;
        if (scanned && (r->coding || ce)) {
            char why[200];
            snprintf(why, sizeof why,
                     "sent a body with %s %s, though asked for none, and this host's "
                     "bodies are scanned, which compressed text cannot be",
                     r->coding ? "Transfer-Encoding" : "Content-Encoding",
                     r->coding ? r->coding : ce);
            return origin_failed(j, why);
        }
        j->resp_chunked = r->body == HTTPREQ_BODY_CHUNKED;
        j->resp_interim = r->interim;
        int restore = !r->interim && r->body != HTTPREQ_BODY_NONE && j->vault &&
                      data_vault_count(j->vault) > 0 && !j->c.observe;
        if (restore && data_restore_new(j->vault, &j->restore) != 0)
            return -ENOMEM;
        if (!r->interim && r->body == HTTPREQ_BODY_LENGTH && (j->rewrites[1] || restore)) {
            j->hold[1] = 1; /* the head waits for the body's new length (unhold, spill) */
        } else {
            put(j, &j->to_client, r->raw, r->raw_len);
            t->head_sent = 1;
            t->status = r->status;
        }
        if (!r->interim && !r->keep_alive)
            t->close_after = 1; /* the origin closes after this response */
    } else if (st->event == HTTPREQ_BODY && j->c.data) {
        int sr = scan_body(j, &j->rs_st, 1, t, st->data, st->len, 0);
        if (sr != 0)
            return cut_response(j, t, sr);
    } else if (st->event == HTTPREQ_BODY) {
        if (j->resp_chunked)
            put_chunk(j, &j->to_client, st->data, st->len);
        else
            put(j, &j->to_client, st->data, st->len);
    } else if (st->event == HTTPREQ_END) {
        if (j->rs_st) {
            int sr = scan_body(j, &j->rs_st, 1, t, NULL, 0, 1);
            if (sr != 0)
                return cut_response(j, t, sr);
        } else if (j->restore) { /* an empty body */
            int sr = restored(j, t, NULL, 0, 1);
            if (sr != 0)
                return cut_response(j, t, sr);
        }
        data_restore_free(j->restore);
        j->restore = NULL;
        unhold(j, 1);
        if (j->resp_chunked && !j->resp_interim) {
            int sr = end_chunked(j, 1, t, r);
            if (sr != 0)
                return cut_response(j, t, sr);
        }
        if (!j->resp_interim) {
            t->down += j->to_client.total - before;
            pop(j);
            pump(j);
            return 0;
        }
    }
    t->down += j->to_client.total - before;
    return 0;
}

int httpjudge_from_origin(struct httpjudge *j, const char *buf, size_t len, size_t *used)
{
    size_t pos = 0;
    int rc = 0;
    while (!j->closing) {
        struct httpreq_step st;
        int fr = httpreq_feed(j->resp, buf + pos, len - pos, &st);
        if (fr == -ENOMEM)
            return -ENOMEM;
        if (fr != 0) {
            char why[600];
            snprintf(why, sizeof why, "sent a response that cannot be read (%s)",
                     httpreq_reason(j->resp));
            rc = origin_failed(j, why);
            break;
        }
        pos += st.used;
        if (st.event == HTTPREQ_MORE)
            break;
        if ((rc = on_response_step(j, &st)) != 0)
            break;
    }
    *used = j->closing ? len : pos;
    return rc ? rc : j->nomem ? -ENOMEM : 0;
}

int httpjudge_client_eof(struct httpjudge *j)
{
    j->client_eof = 1;
    if (j->in_request && j->hold[0] && !j->cur_answered && j->n) {
        /* cut inside a request still held: nothing of it went, so it is dropped (recorded as
         * cut) and the answers to the requests before it still come */
        struct turn *t = turn_at(j, j->n - 1);
        t->status = 0;
        record(j, t);
        turn_clear(t);
        j->n--;
        drop_held(j, 0);
        j->in_request = j->cur_forward = 0;
    } else if (j->in_request) {
        /* cut inside a request: what was forwarded of it is incomplete, so the origin's
         * answer (if any) is not trusted to be for a whole request */
        j->in_request = 0;
        j->closing = j->closing || (j->cur_forward && !j->cur_answered);
    }
    j->client_stop = 1;
    pump(j);
    return j->nomem ? -ENOMEM : 0;
}

int httpjudge_origin_eof(struct httpjudge *j)
{
    struct httpreq_step st;
    if (j->closing)
        return 0;
    int rc = httpreq_eof(j->resp, &st);
    if (rc == 0 && st.event == HTTPREQ_END && j->n) {
        if ((rc = on_response_step(j, &st)) != 0)
            return rc;
    }
    if (j->n)
        return origin_failed(j, "closed the connection before it answered");
    j->closing = 1;
    return j->nomem ? -ENOMEM : 0;
}

const char *httpjudge_to_origin(const struct httpjudge *j, size_t *len)
{
    *len = j->to_origin.len - j->to_origin.off;
    return j->to_origin.p ? j->to_origin.p + j->to_origin.off : "";
}

void httpjudge_sent_origin(struct httpjudge *j, size_t n)
{
    j->to_origin.off += n;
}

const char *httpjudge_to_client(const struct httpjudge *j, size_t *len)
{
    *len = j->to_client.len - j->to_client.off;
    return j->to_client.p ? j->to_client.p + j->to_client.off : "";
}

void httpjudge_sent_client(struct httpjudge *j, size_t n)
{
    j->to_client.off += n;
}

int httpjudge_head_pending(const struct httpjudge *j)
{
    return j->head_pending && !j->client_stop && !j->closing;
}

int httpjudge_head_timeout(struct httpjudge *j)
{
    if (!httpjudge_head_pending(j))
        return 0;
    struct turn *t = push(j);
    char body[512];
    snprintf(body, sizeof body,
             "cordon: a request head to %s:%u did not arrive in time, so the connection is "
             "closed; send each request's head at once.\n",
             j->c.host, j->c.port);
    t->method = strdup("");
    t->path = strdup("");
    t->reason = strdup("the request head did not arrive in time");
    j->client_stop = 1;
    j->head_pending = 0;
    if (!t->method || !t->path || !t->reason || canned(t, 408, "http.timeout", body, 1, 0) != 0)
        return -ENOMEM;
    pump(j);
    return j->nomem ? -ENOMEM : 0;
}

int httpjudge_origin_over(const struct httpjudge *j)
{
    return (j->client_stop && !j->in_request) || j->closing;
}

int httpjudge_done(const struct httpjudge *j)
{
    return j->closing || (j->client_stop && !j->in_request && j->n == 0);
}
