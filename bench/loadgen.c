/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen: an HTTP/1.1 load generator for cordon's proxy benchmarks. A closed loop keeps C
 * keep-alive connections busy back to back; an open loop schedules R requests per second on
 * a fixed timeline over C connections and measures each from its scheduled time, so a stall
 * shows up in the percentiles instead of silently slowing the schedule (coordinated
 * omission). Per request it measures the total latency, the time to the first byte of the
 * body and, for an SSE answer, the time to the first whole event; it prints count, errors,
 * rate and p50/p90/p99/max in microseconds, as text or --json. --hold N opens N streaming
 * requests and keeps them open, to measure a proxy's memory per stream. One epoll loop per
 * thread; every buffer and histogram is allocated before the clock starts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
#define MAX_THREADS 8

/* ---- a log-linear histogram of microseconds: 1/512 precision, fixed memory ---- */

#define H_SUB 512
#define H_BUCKETS (H_SUB * 2 + 40 * H_SUB)

struct hist {
    uint64_t n, max;
    uint64_t b[H_BUCKETS];
};

static unsigned h_index(uint64_t v)
{
    if (v < 2 * H_SUB)
        return (unsigned)v;
    unsigned e = 63 - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)) */
    unsigned shift = e - 9;                         /* keep 10 bits: 512 steps per octave */
    unsigned idx = 2 * H_SUB + (e - 10) * H_SUB + (unsigned)((v >> shift) - H_SUB);
    return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t h_value(unsigned idx)
{
    if (idx < 2 * H_SUB)
        return idx;
    unsigned e = (idx - 2 * H_SUB) / H_SUB + 10, m = (idx - 2 * H_SUB) % H_SUB;
    return ((uint64_t)(H_SUB + m)) << (e - 9);
}

static void h_add(struct hist *h, uint64_t us)
{
    h->b[h_index(us)]++;
    h->n++;
    if (us > h->max)
        h->max = us;
}

static void h_merge(struct hist *into, const struct hist *h)
{
    for (unsigned i = 0; i < H_BUCKETS; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
    if (h->max > into->max)
        into->max = h->max;
}

static uint64_t h_pct(const struct hist *h, double p)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n + 0.5), seen = 0;
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want)
            return h_value(i) < h->max ? h_value(i) : h->max;
    }
    return h->max;
}

/* ---- options and shared state ---- */

static struct {
    struct sockaddr_in addr;
    char *req; /* the whole request, rendered once */
    size_t req_len;
    int conns, threads, json, sse, hold;
    double duration, rate, hold_seconds;
    long long total; /* -n: requests in all (0: by duration) */
    atomic_int stop;
} G;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- one connection and the incremental parse of its answer ---- */

enum { K_CONNECTING, K_IDLE, K_SENDING, K_READING, K_HELD };
enum {
    B_HEAD,
    B_LENGTH,
    B_CHUNK_SIZE,
    B_CHUNK_EXT,
    B_CHUNK_LF,
    B_CHUNK_DATA,
    B_CHUNK_CR,
    B_CHUNK_DLF,
    B_TRAILER,
    B_TRAILER_LF,
    B_CLOSE,
    B_DONE
};

struct lconn {
    int fd, state, in_idle;
    size_t sent;
    char buf[BUF_SIZE];
    size_t have; /* bytes of the head gathered in buf */
    int body_state, status, is_sse, close_after, line_blank;
    uint64_t left; /* Content-Length or chunk bytes left */
    int64_t t_sched, t_first_byte, t_first_event;
    char prev1, prev2; /* the last body bytes, to find the first "\n\n" */
};

/* Look at body bytes for the first byte and the first whole SSE event. */
static void body_bytes(struct lconn *c, const char *p, size_t n, int64_t t)
{
    if (n == 0)
        return;
    if (!c->t_first_byte)
        c->t_first_byte = t;
    if (!c->is_sse || c->t_first_event)
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && c->prev1 == '\n') {
            c->t_first_event = t;
            return;
        }
        if (p[i] != '\r')
            c->prev1 = p[i];
    }
}

static int hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)(ch | 0x20);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Feed body bytes. Returns 1 when the answer is complete, -1 when its framing is broken. */
static int body_feed(struct lconn *c, const char *p, size_t n, int64_t t)
{
    size_t i = 0;
    while (i < n) {
        switch (c->body_state) {
        case B_LENGTH: {
            size_t take = n - i < c->left ? n - i : (size_t)c->left;
            body_bytes(c, p + i, take, t);
            c->left -= take;
            i += take;
            if (c->left == 0)
                return 1;
            break;
        }
        case B_CLOSE:
            body_bytes(c, p + i, n - i, t);
            return 0;
        case B_CHUNK_SIZE: {
            int v = hex(p[i]);
            if (v >= 0) {
                if (c->left > (UINT64_MAX >> 4))
                    return -1;
                c->left = c->left * 16 + (uint64_t)v;
            } else if (p[i] == '\r') {
                c->body_state = B_CHUNK_LF;
            } else if (p[i] == ';' || p[i] == ' ') {
                c->body_state = B_CHUNK_EXT;
            } else {
                return -1;
            }
            i++;
            break;
        }
        case B_CHUNK_EXT:
            if (p[i++] == '\r')
                c->body_state = B_CHUNK_LF;
            break;
        case B_CHUNK_LF:
            if (p[i++] != '\n')
                return -1;
            c->body_state = c->left ? B_CHUNK_DATA : B_TRAILER;
            break;
        case B_CHUNK_DATA: {
            size_t take = n - i < c->left ? n - i : (size_t)c->left;
            body_bytes(c, p + i, take, t);
            c->left -= take;
            i += take;
            if (c->left == 0)
                c->body_state = B_CHUNK_CR;
            break;
        }
        case B_CHUNK_CR:
            if (p[i++] != '\r')
                return -1;
            c->body_state = B_CHUNK_DLF;
            break;
        case B_CHUNK_DLF:
            if (p[i++] != '\n')
                return -1;
            c->body_state = B_CHUNK_SIZE;
            break;
        case B_TRAILER: /* a trailer line, or the CRLF that ends the body */
            if (p[i] == '\r') {
                c->body_state = B_TRAILER_LF;
                c->line_blank = 1;
            } else {
                c->line_blank = 0;
                c->body_state = B_TRAILER_LF;
            }
            i++;
            break;
        case B_TRAILER_LF:
            if (p[i] == '\n') {
                if (c->line_blank)
                    return 1;
                c->body_state = B_TRAILER;
            }
            i++;
            break;
        default:
            return 1;
        }
    }
    return 0;
}

static int atoi_status(const char *p)
{
    int v = 0;
    for (int i = 0; i < 3; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* The value of header name in head[0..n), or NULL. */
static const char *header(const char *head, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', n), *end = head + n;
    while (p && p + 1 < end) {
        const char *ls = p + 1, *le = memchr(ls, '\n', (size_t)(end - ls));
        if (!le)
            break;
        if ((size_t)(le - ls) > nl && ls[nl] == ':' && strncasecmp(ls, name, nl) == 0) {
            const char *v = ls + nl + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = le;
    }
    return NULL;
}

/* Parse the head gathered in c->buf. 1: parsed (body state set, the rest fed); 0: more
 * needed; -1: not HTTP. */
static int head_feed(struct lconn *c, int64_t t, int *done)
{
    *done = 0;
    for (;;) {
        char *e = memmem(c->buf, c->have, "\r\n\r\n", 4);
        if (!e)
            return c->have >= BUF_SIZE ? -1 : 0;
        size_t hl = (size_t)(e - c->buf) + 4;
        if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0)
            return -1;
        c->status = atoi_status(c->buf + 9);
        if (c->status >= 100 && c->status < 200) { /* 100 Continue: the real head follows */
            memmove(c->buf, c->buf + hl, c->have - hl);
            c->have -= hl;
            continue;
        }
        size_t vl;
        const char *v;
        c->close_after = (v = header(c->buf, hl, "connection", &vl)) && vl == 5 &&
                         strncasecmp(v, "close", 5) == 0;
        v = header(c->buf, hl, "content-type", &vl);
        c->is_sse = G.sse || (v && vl >= 17 && strncasecmp(v, "text/event-stream", 17) == 0);
        c->prev1 = 0;
        if ((v = header(c->buf, hl, "transfer-encoding", &vl)) && vl >= 7 &&
            strncasecmp(v + vl - 7, "chunked", 7) == 0) {
            c->body_state = B_CHUNK_SIZE;
            c->left = 0;
        } else if ((v = header(c->buf, hl, "content-length", &vl))) {
            c->left = strtoull(v, NULL, 10);
            c->body_state = B_LENGTH;
        } else {
            c->body_state = B_CLOSE;
            c->close_after = 1;
        }
        if (c->status == 204 || c->status == 304 || (c->body_state == B_LENGTH && !c->left)) {
            *done = 1;
            return 1;
        }
        int r = body_feed(c, c->buf + hl, c->have - hl, t);
        if (r < 0)
            return -1;
        *done = r;
        c->have = 0;
        return 1;
    }
}

/* ---- one thread: its connections, its share of the schedule, its histograms ---- */

struct thr {
    int ep, tfd;
    pthread_t th;
    struct lconn *c;
    int nc;
    int *idle; /* a stack of idle connections */
    int nidle;
    struct hist lat, ttfb, fev;
    uint64_t done, errors, non2xx;
    double rate;
    int64_t start, deadline, next_due;
    long long k, target, issued;
    int64_t *queue; /* scheduled times waiting for a free connection */
    size_t qcap, qhead, qlen;
    int inflight, held, ended;
};

static void set_idle(struct thr *t, int i)
{
    t->c[i].state = K_IDLE;
    if (!t->c[i].in_idle) {
        t->c[i].in_idle = 1;
        t->idle[t->nidle++] = i;
    }
}

/* A connection ready for a request, or -1. Entries that stopped being idle are dropped. */
static int pop_idle(struct thr *t)
{
    while (t->nidle > 0) {
        int i = t->idle[--t->nidle];
        t->c[i].in_idle = 0;
        if (t->c[i].state == K_IDLE && t->c[i].fd >= 0)
            return i;
    }
    return -1;
}

static int conn_open(struct thr *t, int i)
{
    struct lconn *c = &t->c[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&G.addr, sizeof G.addr) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->state = K_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u32 = (uint32_t)i};
    return epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_reopen(struct thr *t, int i)
{
    struct lconn *c = &t->c[i];
    if (c->state == K_SENDING || c->state == K_READING)
        t->inflight--;
    close(c->fd);
    c->fd = -1;
    if (!atomic_load(&G.stop) && conn_open(t, i) != 0)
        t->errors++;
}

static void send_more(struct thr *t, int i)
{
    struct lconn *c = &t->c[i];
    while (c->sent < G.req_len) {
        ssize_t n = send(c->fd, G.req + c->sent, G.req_len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        t->errors++;
        conn_reopen(t, i);
        return;
    }
    c->state = K_READING;
}

static void start_request(struct thr *t, int i, int64_t sched)
{
    struct lconn *c = &t->c[i];
    c->t_sched = sched;
    c->t_first_byte = c->t_first_event = 0;
    c->sent = c->have = 0;
    c->body_state = B_HEAD;
    c->state = K_SENDING;
    t->inflight++;
    t->issued++;
    send_more(t, i);
}

static void finished(struct thr *t, int i, int64_t now)
{
    struct lconn *c = &t->c[i];
    t->inflight--;
    t->done++;
    if (c->status < 200 || c->status > 299)
        t->non2xx++;
    h_add(&t->lat, (uint64_t)(now - c->t_sched) / 1000);
    h_add(&t->ttfb, (uint64_t)((c->t_first_byte ? c->t_first_byte : now) - c->t_sched) / 1000);
    if (c->is_sse && c->t_first_event)
        h_add(&t->fev, (uint64_t)(c->t_first_event - c->t_sched) / 1000);
    if (c->close_after) {
        c->state = K_IDLE;
        conn_reopen(t, i);
    } else {
        set_idle(t, i);
    }
}

/* Read what there is. In hold mode an answer that reached its first event is held. */
static void read_more(struct thr *t, int i)
{
    struct lconn *c = &t->c[i];
    for (;;) {
        char *dst = c->body_state == B_HEAD ? c->buf + c->have : c->buf;
        size_t room = c->body_state == B_HEAD ? BUF_SIZE - c->have : BUF_SIZE;
        ssize_t n = read(c->fd, dst, room);
        int64_t now = now_ns();
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (c->state == K_READING && c->body_state == B_CLOSE && n == 0) {
                finished(t, i, now); /* close_after is set: it reconnects */
                return;
            }
            if (c->state == K_READING || c->state == K_HELD) {
                t->errors++;
                if (c->state == K_HELD) {
                    t->held--;
                    t->ended++;
                    c->state = K_IDLE;
                    close(c->fd);
                    return;
                }
            }
            conn_reopen(t, i);
            return;
        }
        int done = 0, r;
        if (c->body_state == B_HEAD) {
            c->have += (size_t)n;
            r = head_feed(c, now, &done);
            if (r == 0)
                continue;
        } else {
            r = body_feed(c, c->buf, (size_t)n, now);
            done = r == 1;
        }
        if (r < 0) {
            t->errors++;
            conn_reopen(t, i);
            return;
        }
        if (G.hold && c->state == K_READING && (c->t_first_event || (!c->is_sse && done))) {
            c->state = K_HELD;
            t->held++;
            t->inflight--;
        }
        if (done) {
            if (c->state == K_HELD) {
                t->held--;
                t->ended++;
                c->state = K_IDLE;
                close(c->fd);
                return;
            }
            finished(t, i, now);
            return;
        }
    }
}

static void on_event(struct thr *t, int i, uint32_t ev)
{
    struct lconn *c = &t->c[i];
    if (c->fd < 0)
        return;
    if (c->state == K_CONNECTING) {
        int err = 0;
        socklen_t sl = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            t->errors++;
            close(c->fd);
            c->fd = -1;
            usleep(10000);
            if (!atomic_load(&G.stop))
                conn_open(t, i);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        set_idle(t, i);
        return;
    }
    if (c->state == K_SENDING)
        send_more(t, i);
    if (c->state == K_READING || c->state == K_HELD || (c->state == K_IDLE && (ev & EPOLLRDHUP)))
        read_more(t, i);
}

static void arm(struct thr *t, int64_t at)
{
    struct itimerspec its = {0};
    its.it_value.tv_sec = at / 1000000000;
    its.it_value.tv_nsec = at % 1000000000;
    timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    struct epoll_event evs[256];
    int open_loop = G.rate > 0 && !G.hold;
    for (int i = 0; i < t->nc; i++)
        if (conn_open(t, i) != 0)
            t->errors++;
    t->next_due = t->start;
    if (open_loop) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
        epoll_ctl(t->ep, EPOLL_CTL_ADD, t->tfd, &ev);
        arm(t, t->next_due);
    }
    int64_t drain_until = 0;
    for (;;) {
        int64_t now = now_ns();
        int stopping = atomic_load(&G.stop) || (!G.hold && now >= t->deadline) ||
                       (t->target && t->issued >= t->target && !open_loop);
        if (open_loop && !stopping) {
            while (t->next_due <= now && t->next_due < t->deadline &&
                   (!t->target || t->k < t->target) && t->qlen < t->qcap) {
                t->queue[(t->qhead + t->qlen++) % t->qcap] = t->next_due;
                t->k++;
                t->next_due = t->start + (int64_t)((double)t->k * 1e9 / t->rate);
            }
            if (t->target && t->k >= t->target && t->qlen == 0 && t->inflight == 0)
                break;
            arm(t, t->next_due);
        }
        if (!stopping) {
            int i;
            while ((open_loop ? t->qlen > 0 : !G.hold || t->issued < t->nc) &&
                   (!t->target || open_loop || t->issued < t->target) && (i = pop_idle(t)) >= 0) {
                int64_t sched = now;
                if (open_loop) {
                    sched = t->queue[t->qhead];
                    t->qhead = (t->qhead + 1) % t->qcap;
                    t->qlen--;
                }
                start_request(t, i, sched);
            }
        } else {
            if (!drain_until)
                drain_until = now + 2000000000ll; /* answers in flight get 2 s to finish */
            if (t->inflight <= 0 || now >= drain_until || G.hold)
                break;
        }
        int n = epoll_wait(t->ep, evs, 256, 50);
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == UINT32_MAX) {
                uint64_t x;
                if (read(t->tfd, &x, sizeof x) < 0) {
                    /* EAGAIN: woken with nothing due */
                }
                continue;
            }
            on_event(t, (int)evs[k].data.u32, evs[k].events);
        }
    }
    return NULL;
}

/* ---- command line and report ---- */

static const char usage_text[] =
    "usage: loadgen [options] http://127.0.0.1:PORT/path\n"
    "  -c N           connections (default 1)\n"
    "  -t N           threads, 1 to 8 (default 1)\n"
    "  -d SECONDS     how long to send (default 5)\n"
    "  -n N           send N requests in all instead (closed or open loop)\n"
    "  -r RATE        open loop: RATE requests/s on a fixed timeline, latency measured from\n"
    "                 each request's scheduled time (default: closed loop)\n"
    "  -m METHOD      request method (default GET, or POST with --body)\n"
    "  --body FILE    send FILE as the body (Content-Type: application/json unless -H sets it)\n"
    "  -H 'K: V'      add a header (repeatable)\n"
    "  --sse          treat every answer as SSE (else: by its Content-Type)\n"
    "  --hold N       open N streaming requests and hold them open until SIGINT/SIGTERM or\n"
    "                 --hold-seconds; prints how many reached their first event\n"
    "  --hold-seconds S\n"
    "  --json         print the report as one JSON object\n";

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&G.stop, 1);
}

static int build_request(const char *method, const char *path, const char *host, char **hdrs,
                         int nh, const char *body_file)
{
    char *body = NULL;
    long blen = 0;
    if (body_file) {
        FILE *f = fopen(body_file, "rb");
        if (!f || fseek(f, 0, SEEK_END) != 0 || (blen = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "loadgen: cannot read --body %s\n", body_file);
            if (f)
                fclose(f);
            return -1;
        }
        body = malloc((size_t)blen + 1);
        if (!body || fread(body, 1, (size_t)blen, f) != (size_t)blen) {
            fprintf(stderr, "loadgen: cannot read --body %s\n", body_file);
            fclose(f);
            free(body);
            return -1;
        }
        fclose(f);
    }
    size_t cap = 4096 + (size_t)blen;
    for (int i = 0; i < nh; i++)
        cap += strlen(hdrs[i]) + 2;
    G.req = malloc(cap);
    if (!G.req) {
        free(body);
        return -1;
    }
    int has_ct = 0;
    size_t n = (size_t)snprintf(G.req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host);
    for (int i = 0; i < nh; i++) {
        has_ct |= strncasecmp(hdrs[i], "content-type:", 13) == 0;
        n += (size_t)snprintf(G.req + n, cap - n, "%s\r\n", hdrs[i]);
    }
    if (body_file) {
        if (!has_ct)
            n += (size_t)snprintf(G.req + n, cap - n, "Content-Type: application/json\r\n");
        n += (size_t)snprintf(G.req + n, cap - n, "Content-Length: %ld\r\n", blen);
    }
    n += (size_t)snprintf(G.req + n, cap - n, "\r\n");
    if (blen)
        memcpy(G.req + n, body, (size_t)blen);
    G.req_len = n + (size_t)blen;
    free(body);
    return 0;
}

static void print_hist(const char *name, const struct hist *h, int json, int last)
{
    if (json)
        printf("\"%s\":{\"n\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu}%s", name,
               (unsigned long long)h->n, (unsigned long long)h_pct(h, 50),
               (unsigned long long)h_pct(h, 90), (unsigned long long)h_pct(h, 99),
               (unsigned long long)h->max, last ? "" : ",");
    else if (h->n)
        printf("%-16s p50 %8llu  p90 %8llu  p99 %8llu  max %8llu\n", name,
               (unsigned long long)h_pct(h, 50), (unsigned long long)h_pct(h, 90),
               (unsigned long long)h_pct(h, 99), (unsigned long long)h->max);
}

int main(int argc, char **argv)
{
    const char *method = NULL, *body = NULL, *url = NULL;
    char *hdrs[64];
    int nh = 0;
    G.conns = 1;
    G.threads = 1;
    G.duration = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--json") == 0) {
            G.json = 1;
            takes = 0;
        } else if (strcmp(a, "--sse") == 0) {
            G.sse = 1;
            takes = 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (a[0] != '-') {
            url = a;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "loadgen: %s needs a value (see --help)\n", a);
            return 2;
        } else if (strcmp(a, "-c") == 0) {
            G.conns = (int)strtol(v, NULL, 10);
        } else if (strcmp(a, "-t") == 0) {
            G.threads = (int)strtol(v, NULL, 10);
        } else if (strcmp(a, "-d") == 0) {
            G.duration = strtod(v, NULL);
        } else if (strcmp(a, "-n") == 0) {
            G.total = strtoll(v, NULL, 10);
        } else if (strcmp(a, "-r") == 0) {
            G.rate = strtod(v, NULL);
        } else if (strcmp(a, "-m") == 0) {
            method = v;
        } else if (strcmp(a, "--body") == 0) {
            body = v;
        } else if (strcmp(a, "-H") == 0) {
            if (nh >= 64) {
                fprintf(stderr, "loadgen: at most 64 headers\n");
                return 2;
            }
            hdrs[nh++] = argv[i + 1];
        } else if (strcmp(a, "--hold") == 0) {
            G.hold = (int)strtol(v, NULL, 10);
        } else if (strcmp(a, "--hold-seconds") == 0) {
            G.hold_seconds = strtod(v, NULL);
        } else {
            fprintf(stderr, "loadgen: unknown option %s (see --help)\n", a);
            return 2;
        }
        i += takes;
    }
    if (G.hold)
        G.conns = G.hold;
    if (!url || strncmp(url, "http://", 7) != 0 || G.conns < 1 || G.threads < 1 ||
        G.threads > MAX_THREADS || G.duration <= 0 || G.rate < 0 || G.total < 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (G.threads > G.conns)
        G.threads = G.conns;
    char host[256];
    const char *hs = url + 7, *slash = strchr(hs, '/'), *colon = strchr(hs, ':');
    const char *path = slash ? slash : "/";
    size_t hl = slash ? (size_t)(slash - hs) : strlen(hs);
    if (hl >= sizeof host || !colon || (slash && colon > slash)) {
        fprintf(stderr, "loadgen: the URL must be http://ADDRESS:PORT/path\n");
        return 2;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    char ip[64];
    size_t il = (size_t)(colon - hs);
    if (il >= sizeof ip)
        return 2;
    memcpy(ip, hs, il);
    ip[il] = '\0';
    if (strcmp(ip, "localhost") == 0)
        snprintf(ip, sizeof ip, "127.0.0.1");
    G.addr.sin_family = AF_INET;
    G.addr.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
    if (inet_pton(AF_INET, ip, &G.addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: %s is not an IPv4 address\n", ip);
        return 2;
    }
    if (build_request(method ? method : body ? "POST" : "GET", path, host, hdrs, nh, body) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    static struct thr T[MAX_THREADS];
    int64_t start = now_ns() + 20000000; /* 20 ms to connect before the timeline starts */
    for (int k = 0; k < G.threads; k++) {
        struct thr *t = &T[k];
        t->nc = G.conns / G.threads + (k < G.conns % G.threads);
        t->c = calloc((size_t)t->nc, sizeof *t->c);
        t->idle = calloc((size_t)t->nc, sizeof *t->idle);
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        t->rate = G.rate / G.threads;
        t->start = start;
        t->deadline = start + (int64_t)(G.duration * 1e9);
        t->target = G.total ? G.total / G.threads + (k < G.total % G.threads) : 0;
        t->qcap = G.rate > 0 ? (size_t)(t->rate * (G.duration + 1)) + 16 : 1;
        t->queue = calloc(t->qcap, sizeof *t->queue);
        if (!t->c || !t->idle || t->ep < 0 || t->tfd < 0 || !t->queue) {
            fprintf(stderr, "loadgen: out of memory or descriptors\n");
            return 1;
        }
        for (int i = 0; i < t->nc; i++)
            t->c[i].fd = -1;
    }
    for (int k = 0; k < G.threads; k++)
        pthread_create(&T[k].th, NULL, thr_main, &T[k]);
    if (G.hold) {
        int64_t until = G.hold_seconds > 0 ? now_ns() + (int64_t)(G.hold_seconds * 1e9) : 0;
        int reported = 0;
        while (!atomic_load(&G.stop) && (!until || now_ns() < until)) {
            usleep(50000);
            int held = 0;
            for (int k = 0; k < G.threads; k++)
                held += T[k].held;
            if (!reported && held >= G.hold) {
                printf("held=%d\n", held);
                fflush(stdout);
                reported = 1;
            }
        }
        atomic_store(&G.stop, 1);
    }
    struct hist *lat = calloc(3, sizeof *lat);
    uint64_t done = 0, errors = 0, non2xx = 0;
    int unfinished = 0, held = 0, ended = 0;
    for (int k = 0; k < G.threads; k++) {
        pthread_join(T[k].th, NULL);
        h_merge(&lat[0], &T[k].lat);
        h_merge(&lat[1], &T[k].ttfb);
        h_merge(&lat[2], &T[k].fev);
        done += T[k].done;
        errors += T[k].errors;
        non2xx += T[k].non2xx;
        unfinished += T[k].inflight > 0 ? T[k].inflight : 0;
        held += T[k].held;
        ended += T[k].ended;
    }
    double secs = (double)(now_ns() - start) / 1e9;
    if (!G.hold && G.duration > 0 && !G.total && secs > G.duration)
        secs = G.duration; /* the rate over the sending window, not the drain */
    const char *mode = G.hold ? "hold" : G.rate > 0 ? "open" : "closed";
    if (G.json) {
        printf("{\"mode\":\"%s\",\"connections\":%d,\"threads\":%d,\"rate_target\":%.1f,"
               "\"seconds\":%.3f,\"requests\":%llu,\"errors\":%llu,\"non2xx\":%llu,"
               "\"unfinished\":%d,\"rate\":%.1f,\"held\":%d,",
               mode, G.conns, G.threads, G.rate, secs, (unsigned long long)done,
               (unsigned long long)errors, (unsigned long long)non2xx, unfinished,
               (double)done / secs, G.hold ? held + ended : 0);
        print_hist("latency_us", &lat[0], 1, 0);
        print_hist("ttfb_us", &lat[1], 1, 0);
        print_hist("first_event_us", &lat[2], 1, 1);
        printf("}\n");
    } else {
        printf("loadgen: %s loop, %d connections, %d threads, %.2f s\n", mode, G.conns, G.threads,
               secs);
        printf("requests %llu  errors %llu  non-2xx %llu  unfinished %d  rate %.1f req/s\n",
               (unsigned long long)done, (unsigned long long)errors, (unsigned long long)non2xx,
               unfinished, (double)done / secs);
        if (G.hold)
            printf("held %d streams (%d ended early)\n", held, ended);
        print_hist("latency_us", &lat[0], 0, 0);
        print_hist("ttfb_us", &lat[1], 0, 0);
        print_hist("first_event_us", &lat[2], 0, 0);
    }
    free(lat);
    return errors || unfinished || non2xx ? 1 : 0;
}
