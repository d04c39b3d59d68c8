/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sockets of the stub upstream: N worker threads, each with its own epoll instance and
 * its own SO_REUSEPORT listening socket on one loopback port (the kernel spreads connections
 * over them), edge-triggered connections, keep-alive and pipelining (one request at a time
 * per connection: the next is parsed only when the answer to the last is written, so
 * pipelined bytes wait in the kernel, bounded by the socket buffer), streamed answers
 * produced only as fast as the client reads them, a timerfd per connection for scenario
 * delays (made on first use), and a sweep every 250 ms for the request and idle timeouts
 * that bound slow or silent clients. Every refusal is an HTTP answer with a reason; the
 * connection is then closed with a lingering close so the client reads the answer.
 */
#include "tests/support/stub.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define HIGH_WATER (256u * 1024) /* stop producing a stream while this much waits to go out */
#define READ_CHUNK (64u * 1024)
#define MAX_IN ((size_t)STUB_MAX_HEAD + 2 * (size_t)STUB_MAX_BODY) /* chunked framing too */
#define LINGER_NS (2000000000ll)
#define MAX_THREADS 64

enum { H_LISTEN, H_SOCK, H_TIMER };
enum { C_READ, C_RESP, C_LINGER, C_DROP };

struct worker;
struct conn;

struct handle {
    int kind;
    struct conn *c;
};

struct conn {
    struct handle hs, ht;
    int fd, tfd;
    struct worker *w;
    struct conn *prev, *next;
    int state;
    int timer_wait, hold, streaming, closed;
    int keep_alive;
    struct sbuf in;
    size_t in_off;  /* bytes of in already consumed by earlier requests */
    size_t scanned; /* bytes after in_off searched for the end of the head */
    struct sbuf out;
    size_t out_off;
    int have_head, sent_continue;
    struct stub_head head;
    struct stub_chunked ch;
    size_t ch_pos; /* how far the chunked body has been decoded, from in_off */
    struct sbuf cbody;
    int64_t req_start, last_io, linger_start;
    struct apireq rq;
    struct plan pl;
    struct resp r;
    struct sbuf parena;
    struct stub_params sp;
    struct conn *rnext; /* in the worker's run queue */
    int queued;
    size_t turn_bytes; /* written in this turn */
    int turn_answers;  /* requests taken in this turn */
};

/* A connection may take TURN_ANSWERS requests, or write TURN_BYTES, per turn; then it goes
 * to the back of the run queue, so that a fast client on loopback (which sends its next
 * request before the stub looks elsewhere) cannot starve the others. */
#define TURN_BYTES (1u << 20)
#define TURN_ANSWERS 16

struct worker {
    int ep, lfd;
    pthread_t th;
    struct handle hl;
    struct conn *conns;
    struct conn *rq_head, *rq_tail;
    struct conn *dead; /* closed, to be freed once no event can name them */
};

static struct {
    struct stub_config cfg;
    int nworkers;
    struct worker w[MAX_THREADS];
    atomic_int stop;
    atomic_ullong reqno;
} S;

static void runq_push(struct conn *c)
{
    struct worker *w = c->w;
    if (c->queued)
        return;
    c->queued = 1;
    c->rnext = NULL;
    if (w->rq_tail)
        w->rq_tail->rnext = c;
    else
        w->rq_head = c;
    w->rq_tail = c;
}

static void runq_remove(struct conn *c)
{
    struct worker *w = c->w;
    struct conn *prev = NULL;
    for (struct conn *q = w->rq_head; q; prev = q, q = q->rnext)
        if (q == c) {
            if (prev)
                prev->rnext = q->rnext;
            else
                w->rq_head = q->rnext;
            if (w->rq_tail == q)
                w->rq_tail = prev;
            break;
        }
    c->queued = 0;
}

/* Close a connection. Its memory is freed at the end of the worker's loop iteration
 * (free_dead), since events for it may still wait in the batch being processed. */
static void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    if (c->closed)
        return;
    c->closed = 1;
    if (c->queued)
        runq_remove(c);
    if (c->streaming)
        atomic_fetch_sub(&stub_stats.open_streams, 1);
    atomic_fetch_sub(&stub_stats.open_conns, 1);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->tfd >= 0) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->tfd, NULL);
        close(c->tfd);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->rnext = w->dead;
    w->dead = c;
}

static void free_dead(struct worker *w)
{
    for (struct conn *c = w->dead, *n; c; c = n) {
        n = c->rnext;
        sbuf_free(&c->in);
        sbuf_free(&c->out);
        sbuf_free(&c->cbody);
        sbuf_free(&c->rq.text);
        sbuf_free(&c->pl.arena);
        sbuf_free(&c->r.ev);
        sbuf_free(&c->parena);
        free(c);
    }
    w->dead = NULL;
}

static int arm_timer(struct conn *c, int ms)
{
    if (c->tfd < 0) {
        c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (c->tfd < 0)
            return -errno;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ht};
        if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->tfd, &ev) != 0) {
            close(c->tfd);
            c->tfd = -1;
            return -errno;
        }
    }
    struct itimerspec its = {0};
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    if (ms <= 0)
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(c->tfd, 0, &its, NULL) != 0)
        return -errno;
    c->timer_wait = 1;
    return 0;
}

/* Write what is pending. 0: all written; 1: the socket is full; -1: the peer is gone. */
static int flush(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->turn_bytes += (size_t)n;
            atomic_fetch_add(&stub_stats.bytes_out, n);
            c->last_io = stub_mono_ns();
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return -1;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > (4u << 20)) /* a huge answer is over: give its memory back */
        sbuf_free(&c->out);
    return 0;
}

/* Read more of the request. 1: got bytes; 0: nothing there now; -1: the peer closed or
 * failed; -2: the request outgrew every bound (the caller answers 413). */
static int fill(struct conn *c)
{
    if (c->in_off > 0 && (c->in_off == c->in.len || c->in_off > c->in.cap / 2)) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    size_t have = c->in.len - c->in_off, want = READ_CHUNK;
    if (have >= MAX_IN)
        return -2;
    if (c->have_head && !c->head.chunked && c->head.content_length > 0) {
        size_t need = c->head.head_len + (size_t)c->head.content_length;
        if (need > have && need - have > want)
            want = need - have;
    }
    if (c->in.cap - c->in.len < READ_CHUNK / 4 || c->in.cap - c->in.len < want)
        if (sbuf_reserve(&c->in, want) != 0)
            return -2;
    for (;;) {
        ssize_t n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
        if (n > 0) {
            c->in.len += (size_t)n;
            atomic_fetch_add(&stub_stats.bytes_in, n);
            c->last_io = stub_mono_ns();
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

static int path_is(const char *b, const struct stub_head *h, const char *lit)
{
    return h->path.len == strlen(lit) && memcmp(b + h->path.off, lit, h->path.len) == 0;
}

static int method_is(const char *b, const struct stub_head *h, const char *lit)
{
    return h->method.len == strlen(lit) && memcmp(b + h->method.off, lit, h->method.len) == 0;
}

/* Whose error shape a request gets: Anthropic's for /v1/messages and for any request that
 * carries Anthropic's headers, OpenAI's otherwise. */
static enum stub_prov guess_prov(const char *b, const struct stub_head *h)
{
    size_t n;
    if (h->path.len >= 12 && memcmp(b + h->path.off, "/v1/messages", 12) == 0)
        return PROV_ANTHROPIC;
    if (stub_parse_header(b, h, "anthropic-version", &n) ||
        stub_parse_header(b, h, "x-api-key", &n))
        return PROV_ANTHROPIC;
    return PROV_OPENAI;
}

static enum stub_api route(const char *b, const struct stub_head *h, int *method_ok, char *model_id,
                           size_t idcap)
{
    static const struct {
        const char *path, *method;
        enum stub_api api;
    } routes[] = {
        {"/v1/chat/completions", "POST", API_CHAT}, {"/v1/responses", "POST", API_RESPONSES},
        {"/v1/messages", "POST", API_MESSAGES},     {"/v1/embeddings", "POST", API_EMBEDDINGS},
        {"/v1/models", "GET", API_MODELS},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (path_is(b, h, routes[i].path)) {
            *method_ok = method_is(b, h, routes[i].method);
            return routes[i].api;
        }
    const char *p = b + h->path.off;
    if (h->path.len > 11 && memcmp(p, "/v1/models/", 11) == 0 && h->path.len - 11 < idcap &&
        !memchr(p + 11, '/', h->path.len - 11)) {
        memcpy(model_id, p + 11, h->path.len - 11);
        model_id[h->path.len - 11] = '\0';
        *method_ok = method_is(b, h, "GET");
        return API_MODEL;
    }
    *method_ok = 1;
    return API_NONE;
}

/* Does the request carry exactly the key the stub was given (when it was given one)? On
 * Anthropic paths that is "x-api-key: KEY", or, with no x-api-key at all, "Authorization:
 * Bearer KEY", which is how @anthropic-ai/sdk 1.x sends an API key. */
static int authorized(const char *b, const struct stub_head *h, enum stub_prov prov)
{
    const char *key = prov == PROV_ANTHROPIC ? S.cfg.anthropic_key : S.cfg.openai_key;
    if (!key)
        return 1;
    size_t n, kl = strlen(key);
    const char *v;
    if (prov == PROV_ANTHROPIC && (v = stub_parse_header(b, h, "x-api-key", &n)))
        return n == kl && memcmp(v, key, kl) == 0;
    v = stub_parse_header(b, h, "authorization", &n);
    return v && n == kl + 7 && memcmp(v, "Bearer ", 7) == 0 && memcmp(v + 7, key, kl) == 0;
}

/* Refuse a request whose framing is broken: answer, then close (lingering, so the client
 * reads the answer even while it is still sending). */
static void refuse(struct conn *c, int status, const char *why, int use_head)
{
    /* use_head: c->head describes the bytes at in_off (some of its fields, at least) */
    enum stub_prov prov =
        use_head && c->head.method.len ? guess_prov(c->in.p + c->in_off, &c->head) : PROV_OPENAI;
    uint64_t reqno = atomic_fetch_add(&S.reqno, 1) + 1;
    stub_error_answer(&c->out, prov, status, NULL, why, strlen(why), 1, -1, -1, reqno);
    c->state = C_LINGER;
    c->keep_alive = 0;
}

/* Pick the scenario: the control queue, else the request's last marker, else --scenario. */
static int pick(struct conn *c, const char *b, char *whybuf, size_t wl, const char **why,
                const char **source)
{
    struct apireq *rq = &c->rq;
    char *spec = ctl_queue_take(b + c->head.path.off, c->head.path.len);
    int rc;
    if (spec) {
        size_t n = strlen(spec);
        *source = "queue";
        c->parena.len = 0;
        rc = sbuf_reserve(&c->parena, n + 1);
        if (rc == 0)
            rc = stub_parse_params(spec, n, &c->sp, c->parena.p, why);
        free(spec);
        return rc;
    }
    c->parena.len = 0;
    if (sbuf_reserve(&c->parena, rq->text.len + 1) != 0) {
        *why = "out of memory";
        return -ENOMEM;
    }
    rc = stub_parse_marker(rq->text.p ? rq->text.p : "", rq->text.len, &c->sp, c->parena.p, why);
    if (rc <= 0) {
        *source = "marker";
        if (rc < 0) {
            snprintf(whybuf, wl, "stub: bad [[stub:...]] marker: %s", *why);
            *why = whybuf;
        }
        return rc;
    }
    *source = "default";
    size_t n = strlen(S.cfg.scenario);
    if (sbuf_reserve(&c->parena, n + 1) != 0)
        return -ENOMEM;
    return stub_parse_params(S.cfg.scenario, n, &c->sp, c->parena.p, why);
}

/* One whole request is in: answer it (or start answering it). */
static void dispatch(struct conn *c, const char *b, const char *body, size_t blen)
{
    struct stub_head *h = &c->head;
    uint64_t reqno = atomic_fetch_add(&S.reqno, 1) + 1;
    int close = !h->keep_alive || atomic_load(&S.stop);
    c->keep_alive = !close;
    atomic_fetch_add(&stub_stats.requests, 1);
    if (h->path.len >= 8 && memcmp(b + h->path.off, "/__stub/", 8) == 0) {
        ctl_handle(b, h, body, blen, &c->out, close, reqno);
        if (close)
            c->state = C_LINGER;
        return;
    }
    struct apireq *rq = &c->rq;
    int method_ok;
    char whybuf[600];
    const char *why = NULL, *source = NULL;
    rq->api = route(b, h, &method_ok, rq->model_id, sizeof rq->model_id);
    rq->prov = rq->api == API_CHAT || rq->api == API_RESPONSES || rq->api == API_EMBEDDINGS
                   ? PROV_OPENAI
               : rq->api == API_MESSAGES ? PROV_ANTHROPIC
                                         : guess_prov(b, h);
    int status = 0;
    if (rq->api == API_NONE) {
        snprintf(whybuf, sizeof whybuf, "Unknown request URL: %.*s %.*s.", (int)h->method.len,
                 b + h->method.off, (int)h->path.len, b + h->path.off);
        why = whybuf;
        status = 404;
    } else if (!method_ok) {
        why = "wrong method for this path (chat, responses, messages and embeddings take POST; "
              "models take GET)";
        status = 405;
    } else if (!authorized(b, h, rq->prov)) {
        why = NULL;
        status = 401;
    } else if ((status = req_parse(rq, body, blen, &why)) != 0) {
    } else if (pick(c, b, whybuf, sizeof whybuf, &why, &source) != 0 ||
               scen_build(&c->pl, &c->sp, rq, whybuf, sizeof whybuf, &why) != 0) {
        status = 400;
        source = NULL;
    }
    ctl_record(b, h, body, blen, rq->api, rq->stream, source ? &c->sp : NULL, source,
               status         ? status
               : c->pl.status ? c->pl.status
                              : 200);
    if (status) {
        stub_error_answer(&c->out, rq->prov, status, NULL, why, why ? strlen(why) : 0, close, -1,
                          -1, reqno);
        if (close)
            c->state = C_LINGER;
        return;
    }
    resp_init(&c->r, rq, &c->pl, &c->out, reqno, h->minor == 1, close);
    c->state = C_RESP;
    if (rq->stream && !c->pl.status && c->r.f) {
        c->streaming = 1;
        atomic_fetch_add(&stub_stats.open_streams, 1);
    }
}

static void want_continue(struct conn *c)
{
    if (c->head.expect_continue && c->head.minor == 1 && !c->sent_continue) {
        sbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        c->sent_continue = 1;
    }
}

static int suspicious(const char *b, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++)
        if (b[i] == '\0' || (b[i] == '\n' && (i == 0 || b[i - 1] != '\r')))
            return 1;
    return 0;
}

/* Take the next request from the input. 1: it was answered or its answer started (or it
 * was refused); 0: more input is needed. */
static int take_request(struct conn *c)
{
    const char *b = c->in.p + c->in_off, *why = NULL;
    size_t n = c->in.len - c->in_off;
    if (!c->have_head) {
        if (n == 0)
            return 0;
        if (!c->req_start)
            c->req_start = stub_mono_ns();
        /* look at the new bytes only (and 3 before them): the parser runs once the blank
         * line is there, or a byte that no head may hold (NUL, a bare LF) */
        size_t from = c->scanned > 3 ? c->scanned - 3 : 0;
        if (n < STUB_MAX_HEAD && !memmem(b + from, n - from, "\r\n\r\n", 4) &&
            !suspicious(b, from, n)) {
            c->scanned = n;
            return 0;
        }
        int rc = stub_parse_head(b, n, &c->head, &why);
        if (rc == -EAGAIN) {
            c->scanned = n;
            return 0;
        }
        if (rc != 0) {
            refuse(c, rc, why, 1);
            return 1;
        }
        c->have_head = 1;
        c->sent_continue = 0;
        c->scanned = 0;
        if (c->head.chunked) {
            memset(&c->ch, 0, sizeof c->ch);
            c->ch_pos = c->head.head_len;
            c->cbody.len = 0;
        }
    }
    const char *body;
    size_t blen, used_all;
    if (c->head.chunked) {
        for (;;) {
            size_t used, dlen;
            const char *data;
            int rc =
                stub_parse_chunked(&c->ch, b + c->ch_pos, n - c->ch_pos, &used, &data, &dlen, &why);
            c->ch_pos += used;
            if (dlen) {
                if (c->cbody.len + dlen > STUB_MAX_BODY) {
                    refuse(c, 413, "the request body is larger than 64 MiB", 1);
                    return 1;
                }
                sbuf_put(&c->cbody, data, dlen);
            }
            if (rc == 1)
                break;
            if (rc == 400) {
                refuse(c, 400, why, 1);
                return 1;
            }
            if (rc == -EAGAIN) {
                want_continue(c);
                return 0;
            }
        }
        if (c->cbody.oom) {
            refuse(c, 413, "out of memory for the request body", 1);
            return 1;
        }
        body = c->cbody.p ? c->cbody.p : "";
        blen = c->cbody.len;
        used_all = c->ch_pos;
    } else {
        size_t cl = c->head.content_length > 0 ? (size_t)c->head.content_length : 0;
        if (n < c->head.head_len + cl) {
            want_continue(c);
            return 0;
        }
        body = b + c->head.head_len;
        blen = cl;
        used_all = c->head.head_len + cl;
    }
    dispatch(c, b, body, blen);
    c->in_off += used_all;
    c->have_head = 0;
    c->req_start = 0;
    return 1;
}

static void end_answer(struct conn *c)
{
    if (c->streaming) {
        atomic_fetch_sub(&stub_stats.open_streams, 1);
        c->streaming = 0;
    }
    c->state = c->r.close ? C_LINGER : C_READ;
    if (c->r.close)
        c->keep_alive = 0;
}

/* Produce more of the answer in progress, until it waits, ends, or enough is pending. */
static void produce(struct conn *c)
{
    while (c->state == C_RESP && !c->timer_wait && c->out.len - c->out_off < HIGH_WATER) {
        int ms, st = resp_step(&c->r, &ms);
        if (st == STEP_MORE)
            continue;
        if (st == STEP_DONE) {
            end_answer(c);
        } else if (st == STEP_DROP) {
            c->state = C_DROP;
        } else if (arm_timer(c, ms) != 0) {
            c->state = C_DROP; /* no timer: end it rather than hang */
        } else if (st == STEP_HOLD) {
            c->hold = 1;
        }
    }
}

/* Drive a connection as far as it can go without blocking, or until its turn is over. */
static void conn_run(struct conn *c)
{
    c->turn_bytes = 0;
    c->turn_answers = 0;
    for (;;) {
        if (c->turn_bytes >= TURN_BYTES && c->state == C_RESP && !c->timer_wait) {
            runq_push(c);
            return;
        }
        if (c->state == C_RESP)
            produce(c);
        if (c->out.oom || c->in.oom) {
            conn_close(c);
            return;
        }
        int fr = flush(c);
        if (fr < 0) {
            conn_close(c);
            return;
        }
        if (fr > 0)
            return; /* EPOLLOUT brings us back */
        if (c->state == C_DROP) {
            conn_close(c);
            return;
        }
        if (c->state == C_LINGER) {
            /* answered and closing: stop sending, read and drop what the client still sends
             * so that our answer is not lost to a reset, until it closes or the sweep does */
            if (!c->linger_start) {
                c->linger_start = stub_mono_ns();
                shutdown(c->fd, SHUT_WR);
            }
            char sink[16384];
            for (;;) {
                ssize_t n = read(c->fd, sink, sizeof sink);
                if (n > 0)
                    continue;
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return;
                conn_close(c);
                return;
            }
        }
        if (c->state == C_RESP) {
            if (c->timer_wait)
                return;
            continue;
        }
        /* C_READ: the next request, unless this turn already had one */
        if (c->turn_answers >= TURN_ANSWERS) {
            runq_push(c);
            return;
        }
        if (take_request(c)) {
            c->turn_answers++;
            continue;
        }
        if (c->out_off < c->out.len)
            continue; /* a 100 Continue to write first */
        int rr = fill(c);
        if (rr > 0)
            continue;
        if (rr == -2) {
            refuse(c, 413, "the request is larger than the stub accepts (64 MiB of body)",
                   c->have_head);
            continue;
        }
        if (rr < 0) {
            conn_close(c);
            return;
        }
        return;
    }
}

static void on_timer(struct conn *c)
{
    uint64_t x;
    while (read(c->tfd, &x, sizeof x) < 0 && errno == EINTR)
        ;
    if (!c->timer_wait)
        return;
    c->timer_wait = 0;
    if (c->hold) {
        conn_close(c);
        return;
    }
    conn_run(c);
}

static void on_accept(struct worker *w)
{
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: the next event retries */
        if (atomic_load(&stub_stats.open_conns) >= S.cfg.max_conns) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->tfd = -1;
        c->w = w;
        c->hs = (struct handle){H_SOCK, c};
        c->ht = (struct handle){H_TIMER, c};
        c->last_io = stub_mono_ns();
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = &c->hs};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        atomic_fetch_add(&stub_stats.open_conns, 1);
        atomic_fetch_add(&stub_stats.conns, 1);
        conn_run(c);
    }
}

/* Every 250 ms: end requests that take too long to arrive, idle connections, stalled writes
 * and lingering closes that the client does not finish. */
static void sweep(struct worker *w)
{
    int64_t now = stub_mono_ns();
    int64_t req_ns = (int64_t)S.cfg.request_timeout_ms * 1000000;
    int64_t idle_ns = (int64_t)S.cfg.idle_timeout_ms * 1000000;
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == C_LINGER) {
            if (c->linger_start && now - c->linger_start > LINGER_NS)
                conn_close(c);
        } else if (c->state == C_READ && c->req_start && now - c->req_start > req_ns) {
            refuse(c, 408, "the request did not arrive whole within the request timeout",
                   c->have_head);
            conn_run(c);
        } else if (c->state == C_READ && !c->req_start && c->out_off == c->out.len &&
                   now - c->last_io > idle_ns) {
            conn_close(c);
        } else if (c->state == C_RESP && c->out_off < c->out.len && now - c->last_io > idle_ns) {
            conn_close(c); /* the client stopped reading */
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    int64_t last_sweep = stub_mono_ns();
    while (!atomic_load(&S.stop)) {
        int n = epoll_wait(w->ep, evs, 256, w->rq_head ? 0 : 250);
        for (int i = 0; i < n; i++) {
            struct handle *hd = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (hd->kind != H_LISTEN && hd->c->closed)
                continue; /* closed earlier in this batch */
            if (hd->kind == H_LISTEN) {
                on_accept(w);
            } else if (hd->kind == H_TIMER) {
                on_timer(hd->c);
            } else if (e & EPOLLERR) {
                conn_close(hd->c);
            } else if ((e & (EPOLLRDHUP | EPOLLHUP)) && hd->c->state == C_RESP) {
                conn_close(hd->c); /* the client went away in the middle of an answer */
            } else {
                conn_run(hd->c);
            }
        }
        /* one more turn for each connection that was waiting for one */
        int turns = 0;
        for (struct conn *q = w->rq_head; q; q = q->rnext)
            turns++;
        while (w->rq_head && turns-- > 0) {
            struct conn *c = w->rq_head;
            w->rq_head = c->rnext;
            if (!w->rq_head)
                w->rq_tail = NULL;
            c->queued = 0;
            conn_run(c);
        }
        int64_t now = stub_mono_ns();
        if (now - last_sweep >= 250000000) {
            sweep(w);
            last_sweep = now;
        }
        free_dead(w);
    }
    while (w->conns)
        conn_close(w->conns);
    free_dead(w);
    return NULL;
}

static int listen_one(int *port, const char **why)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket() failed";
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    if (inet_pton(AF_INET, S.cfg.host, &sa.sin_addr) != 1) {
        close(fd);
        *why = "--listen needs an IPv4 address such as 127.0.0.1:0";
        return -EINVAL;
    }
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        close(fd);
        *why = "--listen must be a loopback address (127.0.0.0/8): the stub never leaves the "
               "machine";
        return -EINVAL;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        *why = "cannot bind or listen on the --listen address";
        return -e;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

int srv_start(const struct stub_config *cfg, int *port, const char **why)
{
    S.cfg = *cfg;
    S.nworkers = cfg->threads < 1 ? 1 : cfg->threads > MAX_THREADS ? MAX_THREADS : cfg->threads;
    *port = cfg->port;
    for (int i = 0; i < S.nworkers; i++) {
        struct worker *w = &S.w[i];
        /* the first socket learns the port (when 0 was asked); the others join it */
        int fd = listen_one(port, why);
        if (fd < 0)
            return fd;
        w->lfd = fd;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) {
            *why = "epoll_create1() failed";
            return -errno;
        }
        w->hl = (struct handle){H_LISTEN, NULL};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->hl};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            *why = "epoll_ctl() failed";
            return -errno;
        }
    }
    return 0;
}

int srv_run(void)
{
    for (int i = 0; i < S.nworkers; i++) {
        int rc = pthread_create(&S.w[i].th, NULL, worker_main, &S.w[i]);
        if (rc != 0)
            return -rc;
    }
    return 0;
}

void srv_stop(void)
{
    atomic_store(&S.stop, 1);
    for (int i = 0; i < S.nworkers; i++) {
        pthread_join(S.w[i].th, NULL);
        close(S.w[i].lfd);
        close(S.w[i].ep);
    }
}
