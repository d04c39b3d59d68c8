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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct obuf {
    char *p;
    size_t len, off, cap; /* bytes [off, len) are still to be sent */
};

struct turn {
    int local;       /* answered by cordon: canned holds the whole response */
    int close_after; /* the connection ends once this turn is answered */
    int head_sent;   /* some of the answer went to the client */
    int keep_alive;  /* the request's own */
    int allowed, forwarded, rule, status;
    char *canned;
    size_t canned_len;
    char *method, *path, *reason;
    uint64_t up, down;
    char classes[256]; /* data classes found in its bodies, comma-separated */
};

struct httpjudge {
    struct httpjudge_conf c;
    struct httpreq_parser *req, *resp;
    struct obuf to_origin, to_client;
    struct data_stream *rq_st, *rs_st; /* the bodies being scanned (conf.data) */
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

/* The last chunk and the trailer fields of a chunked message. */
static void put_chunk_end(struct httpjudge *j, struct obuf *b, const struct httpreq *m)
{
    put(j, b, "0\r\n", 3);
    for (size_t i = 0; m && i < m->n_trailers; i++) {
        put(j, b, m->trailers[i].name, strlen(m->trailers[i].name));
        put(j, b, ": ", 2);
        put(j, b, m->trailers[i].value, strlen(m->trailers[i].value));
        put(j, b, "\r\n", 2);
    }
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

static void pop(struct httpjudge *j)
{
    struct turn *t = turn_at(j, 0);
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

/*
 * Pass on what a scanned body has made final: the matches in it are noted, and a class whose
 * action is neither allow nor log stops it (returns 1 with *cls, nothing of the value out);
 * otherwise the final bytes go to out (chunked when the message is) and are released.
 * Returns 0, 1, or a negative error (the body could not be scanned: stopped too).
 */
static int pass_scanned(struct httpjudge *j, struct data_stream *st, int dir, struct turn *t,
                        struct obuf *out, int chunked, const char **cls)
{
    size_t nm, ready = data_stream_ready(st);
    const struct data_match *m = data_stream_matches(st, &nm);
    for (size_t i = 0; i < nm; i++) {
        const char *name = j->c.data->names[m[i].cls];
        int a = j->c.data->act[dir] ? j->c.data->act[dir][m[i].cls] : 0;
        note_class(t, name);
        if (a > 1 && !j->c.observe) { /* redact, mask, hash, tokenize, block: stopped */
            *cls = name;
            return 1;
        }
    }
    uint64_t base;
    size_t plen;
    const char *p = data_stream_pending(st, &base, &plen);
    if (ready) {
        if (chunked)
            put_chunk(j, out, p, ready);
        else
            put(j, out, p, ready);
        data_stream_release(st, ready);
    }
    return 0;
}

/* A scanned body: feed it (len 0 with end: its end). Returns as pass_scanned. */
static int scan_body(struct httpjudge *j, struct data_stream **stp, int dir, struct turn *t,
                     struct obuf *out, int chunked, const char *data, size_t len, int end,
                     const char **cls)
{
    if (!*stp && data_stream_new(j->c.data->scanner, stp) != 0)
        return -ENOMEM;
    int rc = end ? data_stream_end(*stp) : data_stream_feed(*stp, data, len);
    if (rc != 0) {
        *cls = "(the scanner failed)";
        return rc;
    }
    rc = pass_scanned(j, *stp, dir, t, out, chunked, cls);
    if (end || rc != 0) {
        data_stream_free(*stp);
        *stp = NULL;
    }
    return rc;
}

static int refuse_unreadable(struct httpjudge *j)
{
    /* Inside the body of a request already forwarded (a bad chunk size): that request is
     * answered by the refusal in its place, since the origin got only part of it, and the
     * connection ends there, before the origin's answer to the fragment could be passed on. */
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
 * place (the origin got only the bytes before the value), and the connection ends. */
static int refuse_body(struct httpjudge *j, const char *cls)
{
    struct turn *t = turn_at(j, j->n - 1);
    char body[1024], why[512];
    snprintf(why, sizeof why,
             "the request body holds %s, which api.data does not let leave (scan of "
             "sandbox.network.http[%zu])",
             cls, j->c.entry);
    snprintf(body, sizeof body,
             "cordon: %s %s on %s:%u is refused: %s (policy of agent %s, version %llu). The "
             "value was not sent; the connection is closed.\n",
             t->method ? t->method : "", t->path ? t->path : "", j->c.host, j->c.port, why,
             j->c.agent ? j->c.agent : "?", (unsigned long long)j->c.policy_version);
    free(t->reason);
    t->reason = strdup(why);
    t->allowed = 0;
    j->client_stop = 1;
    j->in_request = 0;
    j->cur_forward = 0;
    if (!t->reason)
        return -ENOMEM;
    char rule[64];
    snprintf(rule, sizeof rule, "sandbox.network.http[%zu].scan", j->c.entry);
    return canned(t, 403, rule, body, 1, 0);
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
    t->method = strdup(r->method);
    if (!t->method)
        return -ENOMEM;
    j->in_request = 1;
    j->cur_forward = 0;
    j->cur_chunked = r->body == HTTPREQ_BODY_CHUNKED;
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
        put(j, &j->to_origin, r->raw, r->raw_len);
        t->up = r->raw_len;
        if (httpreq_expect(j->resp, strcmp(r->method, "HEAD") == 0) != 0)
            return -ENOMEM; /* the queue bound is the same: never happens */
        return 0;
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
    httpreq_free(j->req);
    httpreq_free(j->resp);
    free(j->to_origin.p);
    free(j->to_client.p);
    free(j);
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
        if (st.event == HTTPREQ_MORE && !j->in_request && st.used)
            j->head_pending = 1;
        if (st.event == HTTPREQ_HEAD) {
            j->head_pending = 0;
            if ((rc = on_head(j, httpreq_request(j->req))) != 0)
                break;
        } else if (st.event == HTTPREQ_BODY) {
            if (j->cur_forward && j->c.data) {
                const char *cls = NULL;
                int sr = scan_body(j, &j->rq_st, 0, turn_at(j, j->n - 1), &j->to_origin,
                                   j->cur_chunked, st.data, st.len, 0, &cls);
                turn_at(j, j->n - 1)->up += st.len;
                if (sr != 0) {
                    rc = sr == -ENOMEM ? sr : refuse_body(j, cls);
                    pos = len;
                    break;
                }
            } else if (j->cur_forward) {
                if (j->cur_chunked)
                    put_chunk(j, &j->to_origin, st.data, st.len);
                else
                    put(j, &j->to_origin, st.data, st.len);
                turn_at(j, j->n - 1)->up += st.len;
            }
        } else if (st.event == HTTPREQ_END) {
            if (j->cur_forward && j->rq_st) {
                const char *cls = NULL;
                int sr = scan_body(j, &j->rq_st, 0, turn_at(j, j->n - 1), &j->to_origin,
                                   j->cur_chunked, NULL, 0, 1, &cls);
                if (sr != 0) {
                    rc = sr == -ENOMEM ? sr : refuse_body(j, cls);
                    pos = len;
                    break;
                }
            }
            if (j->cur_forward && j->cur_chunked) {
                size_t before = j->to_origin.len;
                put_chunk_end(j, &j->to_origin, httpreq_request(j->req));
                turn_at(j, j->n - 1)->up += j->to_origin.len - before;
            }
            j->in_request = 0;
            j->cur_forward = 0;
        } else {
            break; /* MORE: every byte given was used */
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
    j->closing = 1;
    if (!j->n)
        return 0;
    struct turn *t = turn_at(j, 0);
    if (t->head_sent)
        return 0; /* part of the answer went: cutting the connection is all that is left */
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

/* A response whose body holds a class the policy does not let in: its head went out, so the
 * connection is cut before the value; the record says why. */
static int cut_response(struct httpjudge *j, struct turn *t, const char *cls, int rc)
{
    char why[512];
    snprintf(why, sizeof why,
             "the response body holds %s, which api.data does not let in (scan of "
             "sandbox.network.http[%zu]); the response was cut before it",
             cls, j->c.entry);
    free(t->reason);
    t->reason = strdup(why);
    t->allowed = 0;
    j->closing = 1;
    if (j->rs_st) {
        data_stream_free(j->rs_st);
        j->rs_st = NULL;
    }
    return rc == -ENOMEM || !t->reason ? -ENOMEM : 0;
}

static int on_response_step(struct httpjudge *j, const struct httpreq_step *st)
{
    struct turn *t = j->n ? turn_at(j, 0) : NULL;
    if (!t || t->local)
        return origin_failed(j, "sent bytes nobody asked for");
    size_t before = j->to_client.len;
    const struct httpreq *r = httpreq_request(j->resp);
    if (st->event == HTTPREQ_HEAD) {
        if (r->status == 101)
            return origin_failed(j, "switched protocols without being asked to");
        put(j, &j->to_client, r->raw, r->raw_len);
        t->head_sent = 1;
        t->status = r->status;
        j->resp_chunked = r->body == HTTPREQ_BODY_CHUNKED;
        j->resp_interim = r->interim;
        if (!r->interim && !r->keep_alive)
            t->close_after = 1; /* the origin closes after this response */
    } else if (st->event == HTTPREQ_BODY && j->c.data) {
        const char *cls = NULL;
        int sr = scan_body(j, &j->rs_st, 1, t, &j->to_client, j->resp_chunked, st->data, st->len, 0,
                           &cls);
        if (sr != 0)
            return cut_response(j, t, cls, sr);
    } else if (st->event == HTTPREQ_BODY) {
        if (j->resp_chunked)
            put_chunk(j, &j->to_client, st->data, st->len);
        else
            put(j, &j->to_client, st->data, st->len);
    } else if (st->event == HTTPREQ_END) {
        if (j->rs_st) {
            const char *cls = NULL;
            int sr =
                scan_body(j, &j->rs_st, 1, t, &j->to_client, j->resp_chunked, NULL, 0, 1, &cls);
            if (sr != 0)
                return cut_response(j, t, cls, sr);
        }
        if (j->resp_chunked && !j->resp_interim)
            put_chunk_end(j, &j->to_client, r);
        if (!j->resp_interim) {
            t->down += j->to_client.len - before;
            pop(j);
            pump(j);
            return 0;
        }
    }
    t->down += j->to_client.len - before;
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
    if (j->in_request) {
        /* cut inside a request: what was forwarded of it is incomplete, so the origin's
         * answer (if any) is not trusted to be for a whole request */
        j->in_request = 0;
        j->closing = j->closing || j->cur_forward;
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
