/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upstream loop (upstream.h): one thread, one curl multi handle driven by the socket
 * interface (curl_multi_socket_action on the sockets an epoll set reports), so a pass costs
 * what its ready sockets cost, not a walk over every transfer. Every curl call happens on the
 * loop thread; other threads touch a call only under its lock and reach the loop through its
 * pending list, its flags and one eventfd, written once per pass however many ask.
 *
 * The consumer's wake (an MHD resume) is owed by the write and header callbacks and paid at
 * the end of the pass: a small answer's head, body and end, which arrive in one pass, cost
 * its MHD thread one resume instead of two or three.
 */
#include "policy/server/upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"

#define POOL_MAX 64 /* easy handles kept for reuse */
#define TEND_MS 50  /* how often the first-byte, idle and drain deadlines are checked */
#define MAX_EVENTS 64
#define UPSTREAM_RECV_BUFFER (8L << 10)

struct up_call {
    struct upstream_loop *l;
    pthread_mutex_t mu;
    CURL *e;
    struct curl_slist *hdrs;
    char *url;
    const char *body;
    size_t len;
    const char *ca_file;
    void (*wake)(void *ud);
    void *ud;
    /* under mu */
    char *q;
    size_t qoff, qlen, qcap;
    enum up_state state;
    long status;
    int paused, want_resume, cancel, parked, owner, in_loop;
    void (*feed)(void *ud, const char *buf, size_t len);
    void (*end)(void *ud, enum up_state st);
    void *dud;
    size_t drain_left;
    int64_t drain_until;
    char err[CURL_ERROR_SIZE + 64];
    /* loop thread only */
    int64_t started, last_byte;
    int owed;                    /* index + 1 in the loop's wake list, 0 when not on it */
    struct up_call *next, *prev; /* active list */
    struct up_call *pnext;       /* pending list */
};

struct upstream_loop {
    struct upstream_timeouts t;
    CURLM *m;
    pthread_t th;
    int ep, efd;        /* the epoll set of curl's sockets, and the eventfd other threads write */
    int signaled;       /* atomic: the eventfd was written and the loop has not taken it yet */
    int tend_now;       /* atomic: a call asks for a resume, a cancel or a drain */
    pthread_mutex_t mu; /* pending, stop */
    struct up_call *pending;
    int stop;
    /* loop thread only */
    struct up_call *active;
    int64_t timer_at; /* curl's next timeout (CURLMOPT_TIMERFUNCTION), -1 for none */
    struct up_call **owed;
    size_t n_owed, cap_owed;
    CURL *pool[POOL_MAX];
    size_t n_pool;
    char *ca_default;     /* curl's own CA bundle (CURLINFO_CAINFO), NULL when it has none */
    char *capath_default; /* and its CA directory (CURLINFO_CAPATH) */
    int ca_known;
    uint64_t calls, failed, timeouts;
};

/* Reach the loop from another thread: one write per pass, whoever asks first. */
static void loop_signal(struct upstream_loop *l)
{
    if (__atomic_exchange_n(&l->signaled, 1, __ATOMIC_ACQ_REL))
        return;
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

/* Called under c->mu when c's consumer may now read: the wake itself waits for the end of the
 * pass (pay_wakes), when everything this pass brings for c has been queued. */
static void owe_wake(struct up_call *c)
{
    struct upstream_loop *l = c->l;
    if (c->owed || !c->parked)
        return;
    if (l->n_owed == l->cap_owed) {
        size_t cap = l->cap_owed ? l->cap_owed * 2 : 64;
        struct up_call **n = realloc(l->owed, cap * sizeof *n);
        if (!n) { /* no room to defer: wake now */
            c->parked = 0;
            c->wake(c->ud);
            return;
        }
        l->owed = n;
        l->cap_owed = cap;
    }
    l->owed[l->n_owed++] = c;
    c->owed = (int)l->n_owed;
}

static void pay_wakes(struct upstream_loop *l)
{
    for (size_t i = 0; i < l->n_owed; i++) {
        struct up_call *c = l->owed[i];
        if (!c)
            continue; /* finished (and woken) in the pass */
        pthread_mutex_lock(&c->mu);
        c->owed = 0;
        if (c->parked) {
            c->parked = 0;
            c->wake(c->ud);
        }
        pthread_mutex_unlock(&c->mu);
    }
    l->n_owed = 0;
}

static void call_free(struct up_call *c)
{
    curl_slist_free_all(c->hdrs);
    free(c->url);
    free(c->q);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct up_call *c = ud;
    size_t len = size * n;
    if (len <= 2 && (len == 0 || buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200) {
            pthread_mutex_lock(&c->mu);
            c->status = code;
            owe_wake(c);
            pthread_mutex_unlock(&c->mu);
        }
    }
    return len;
}

/* The queued bytes, moved out (under mu): a detached call feeds them before new ones. */
static char *take_queue(struct up_call *c, size_t *n)
{
    if (c->qlen <= c->qoff)
        return NULL;
    char *q = c->q;
    if (c->qoff)
        memmove(q, q + c->qoff, c->qlen - c->qoff);
    *n = c->qlen - c->qoff;
    c->q = NULL;
    c->qoff = c->qlen = c->qcap = 0;
    return q;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
    struct up_call *c = ud;
    size_t len = size * n, qn = 0;
    if (len == 0)
        return 0;
    c->last_byte = clock_mono_ms();
    pthread_mutex_lock(&c->mu);
    if (c->feed) {
        void (*feed)(void *, const char *, size_t) = c->feed;
        void *dud = c->dud;
        int over = len > c->drain_left;
        c->drain_left -= over ? c->drain_left : len;
        char *q = take_queue(c, &qn);
        pthread_mutex_unlock(&c->mu);
        if (q)
            feed(dud, q, qn); /* what was queued before the detach goes first */
        free(q);
        if (over)
            return 0; /* the drain's byte bound: abort the transfer */
        feed(dud, buf, len);
        return len;
    }
    if (c->qlen - c->qoff >= UPSTREAM_QUEUE_BOUND) {
        c->paused = 1;
        pthread_mutex_unlock(&c->mu);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (c->qoff && c->qoff == c->qlen)
        c->qoff = c->qlen = 0;
    if (c->qlen + len + 1 > c->qcap) { /* + 1: upstream_take ends the bytes with a NUL */
        if (c->qoff) {
            memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
            c->qlen -= c->qoff;
            c->qoff = 0;
        }
        if (c->qlen + len + 1 > c->qcap) {
            size_t cap = c->qcap ? c->qcap : 1024; /* most answers and events are small */
            while (cap < c->qlen + len + 1)
                cap *= 2;
            char *nq = realloc(c->q, cap);
            if (!nq) {
                pthread_mutex_unlock(&c->mu);
                return 0;
            }
            c->q = nq;
            c->qcap = cap;
        }
    }
    memcpy(c->q + c->qlen, buf, len);
    c->qlen += len;
    owe_wake(c);
    pthread_mutex_unlock(&c->mu);
    return len;
}

/* The options every transfer shares, set once per easy handle: a handle from the pool keeps
 * them, and setup() sets every option that differs between calls. */
static void configure(struct upstream_loop *l, CURL *e)
{
    if (!l->ca_known) { /* what a fresh handle verifies with, before any upstream's ca_file */
        char *def = NULL;
        if (curl_easy_getinfo(e, CURLINFO_CAINFO, &def) == CURLE_OK && def)
            l->ca_default = strdup(def);
        def = NULL;
        if (curl_easy_getinfo(e, CURLINFO_CAPATH, &def) == CURLE_OK && def)
            l->capath_default = strdup(def);
        l->ca_known = 1;
    }
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)l->t.connect_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    /* each easy handle holds a receive buffer, and an open stream holds its handle: 8 KiB
     * (curl's default is 16) is still a whole SSE event or more per read */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, UPSTREAM_RECV_BUFFER);
}

static int setup(struct upstream_loop *l, struct up_call *c)
{
    CURL *e;
    if (l->n_pool) {
        e = l->pool[--l->n_pool];
    } else {
        if (!(e = curl_easy_init()))
            return -ENOMEM;
        configure(l, e);
    }
    c->e = e;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->err);
    /* every transfer sets it, as a pooled handle may have served another upstream: the
     * upstream's ca_file, or the bundle curl was built with (curl reuses no connection across
     * two CA settings) */
    curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file ? c->ca_file : l->ca_default);
    /* and the CA directory curl was built with goes for a ca_file, which replaces the store */
    curl_easy_setopt(e, CURLOPT_CAPATH, c->ca_file ? NULL : l->capath_default);
    if (c->body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* after POSTFIELDS, which means POST */
    }
    c->started = c->last_byte = clock_mono_ms();
    c->err[0] = '\0';
    if (curl_multi_add_handle(l->m, e) != CURLM_OK)
        return -EIO;
    c->next = l->active;
    c->prev = NULL;
    if (l->active)
        l->active->prev = c;
    l->active = c;
    return 0;
}

/* The transfer of c is over: give its handle back and tell whoever waits. */
static void finish(struct upstream_loop *l, struct up_call *c, enum up_state st, const char *why)
{
    if (c->e) {
        curl_multi_remove_handle(l->m, c->e);
        if (l->n_pool < POOL_MAX)
            l->pool[l->n_pool++] = c->e;
        else
            curl_easy_cleanup(c->e);
        c->e = NULL;
        if (c->prev)
            c->prev->next = c->next;
        else
            l->active = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    if (st == UP_FAILED)
        __atomic_add_fetch(&l->failed, 1, __ATOMIC_RELAXED);
    if (st == UP_TIMEOUT)
        __atomic_add_fetch(&l->timeouts, 1, __ATOMIC_RELAXED);
    if (c->owed) { /* woken here, with the end, rather than at the end of the pass */
        l->owed[c->owed - 1] = NULL;
        c->owed = 0;
    }
    pthread_mutex_lock(&c->mu);
    c->state = st;
    c->in_loop = 0;
    if (why && !c->err[0])
        snprintf(c->err, sizeof c->err, "%s", why);
    if (c->parked) {
        c->parked = 0;
        c->wake(c->ud);
    }
    void (*end)(void *, enum up_state) = c->end;
    void *dud = c->dud;
    int gone = !c->owner;
    size_t qn = 0;
    char *q = end ? take_queue(c, &qn) : NULL;
    pthread_mutex_unlock(&c->mu);
    if (q)
        c->feed(dud, q, qn);
    free(q);
    if (end)
        end(dud, st);
    if (gone)
        call_free(c);
}

/* Per pass: resume, cancel, drain and time out the active calls. */
static void tend(struct upstream_loop *l, int64_t now)
{
    for (struct up_call *c = l->active, *nx; c; c = nx) {
        nx = c->next;
        pthread_mutex_lock(&c->mu);
        int resume = c->want_resume, cancel = c->cancel;
        c->want_resume = 0;
        if (resume)
            c->paused = 0;
        long status = c->status;
        int drained = c->feed != NULL, paused = c->paused;
        int64_t until = c->drain_until;
        size_t qn = 0;
        char *q = drained ? take_queue(c, &qn) : NULL;
        pthread_mutex_unlock(&c->mu);
        if (q)
            c->feed(c->dud, q, qn);
        free(q);
        if (cancel) {
            finish(l, c, UP_FAILED, "cancelled");
            continue;
        }
        if (resume)
            curl_easy_pause(c->e, CURLPAUSE_CONT);
        char why[96];
        if (status == 0 && now - c->started > (int64_t)l->t.first_byte_ms) {
            snprintf(why, sizeof why, "no response within %u ms (upstream_first_byte_timeout_ms)",
                     l->t.first_byte_ms);
            finish(l, c, UP_TIMEOUT, why);
        } else if (status && !paused && now - c->last_byte > (int64_t)l->t.idle_ms) {
            snprintf(why, sizeof why, "no bytes for %u ms (upstream_idle_timeout_ms)",
                     l->t.idle_ms);
            finish(l, c, UP_TIMEOUT, why);
        } else if (drained && now > until) {
            finish(l, c, UP_TIMEOUT, "the client left and the rest took too long");
        }
    }
}

/* CURLMOPT_SOCKETFUNCTION: keep the epoll set equal to what curl waits for. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    struct upstream_loop *l = userp;
    if (what == CURL_POLL_REMOVE) {
        (void)epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL); /* ENOENT: closed already */
        curl_multi_assign(l->m, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                                       ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
                             .data.fd = fd};
    /* a closed socket leaves the set by itself, and its number may come back: try the other
     * operation when the set disagrees with what curl_multi_assign remembers */
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->ep, op, fd, &ev) != 0)
        (void)epoll_ctl(l->ep, errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    if (!socketp)
        curl_multi_assign(l->m, fd, l);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants CURL_SOCKET_TIMEOUT next (-1: never). */
static int on_timer(CURLM *m, long ms, void *userp)
{
    (void)m;
    struct upstream_loop *l = userp;
    l->timer_at = ms < 0 ? -1 : clock_mono_ms() + ms;
    return 0;
}

static void take_done(struct upstream_loop *l)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct up_call *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode rc = msg->data.result;
        char why[160];
        snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
        finish(l, c,
               rc == CURLE_OK                   ? UP_DONE
               : rc == CURLE_OPERATION_TIMEDOUT ? UP_TIMEOUT
                                                : UP_FAILED,
               rc == CURLE_OK ? NULL : why);
    }
}

static void *loop_main(void *arg)
{
    struct upstream_loop *l = arg;
    int64_t last_tend = clock_mono_ms();
    for (;;) {
        pthread_mutex_lock(&l->mu);
        struct up_call *p = l->pending;
        l->pending = NULL;
        int stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        while (p) {
            struct up_call *nx = p->pnext;
            if (setup(l, p) != 0)
                finish(l, p, UP_FAILED, "cannot start the transfer");
            p = nx;
        }
        if (stop)
            break;
        int64_t now = clock_mono_ms();
        int64_t wait = l->active ? TEND_MS - (now - last_tend) : 1000;
        if (l->timer_at >= 0 && l->timer_at - now < wait)
            wait = l->timer_at - now;
        if (wait < 0)
            wait = 0;
        struct epoll_event ev[MAX_EVENTS];
        int n = epoll_wait(l->ep, ev, MAX_EVENTS, (int)wait);
        int running;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == l->efd) {
                uint64_t v;
                ssize_t r = read(l->efd, &v, sizeof v);
                (void)r;
                /* a read-modify-write, so that what the signalling thread stored before
                 * (pending calls, tend_now) is seen by this pass */
                (void)__atomic_exchange_n(&l->signaled, 0, __ATOMIC_ACQ_REL);
                continue;
            }
            uint32_t e = ev[i].events;
            int how = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                      ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                      ((e & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(l->m, ev[i].data.fd, how, &running);
        }
        now = clock_mono_ms();
        if (l->timer_at >= 0 && l->timer_at <= now) {
            l->timer_at = -1;
            curl_multi_socket_action(l->m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        take_done(l);
        if (__atomic_exchange_n(&l->tend_now, 0, __ATOMIC_ACQ_REL) || now - last_tend >= TEND_MS) {
            tend(l, now);
            last_tend = now;
            take_done(l); /* an unpause may have ended a transfer */
        }
        pay_wakes(l);
    }
    while (l->active)
        finish(l, l->active, UP_FAILED, "cordond is stopping");
    return NULL;
}

int upstream_loop_start(const struct upstream_timeouts *t, struct upstream_loop **out, char *err,
                        size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot start the upstream loop: curl_global_init failed");
        return -EIO;
    }
    struct upstream_loop *l = calloc(1, sizeof *l);
    if (!l || !(l->m = curl_multi_init())) {
        free(l);
        snprintf(err, errlen, "cannot start the upstream loop: out of memory");
        return -ENOMEM;
    }
    l->t = *t;
    l->timer_at = -1;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = l->efd;
    if (l->ep < 0 || l->efd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &ev) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot start the upstream loop: epoll/eventfd: %s", strerror(e));
        if (l->ep >= 0)
            close(l->ep);
        if (l->efd >= 0)
            close(l->efd);
        curl_multi_cleanup(l->m);
        free(l);
        return -e;
    }
    curl_multi_setopt(l->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(l->m, CURLMOPT_MAXCONNECTS, 64L);
    curl_multi_setopt(l->m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l->m, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(l->m, CURLMOPT_TIMERDATA, l);
    pthread_mutex_init(&l->mu, NULL);
    int rc = pthread_create(&l->th, NULL, loop_main, l);
    if (rc != 0) {
        curl_multi_cleanup(l->m);
        close(l->ep);
        close(l->efd);
        free(l);
        snprintf(err, errlen, "cannot start the upstream loop: %s", strerror(rc));
        return -rc;
    }
    *out = l;
    return 0;
}

void upstream_loop_stop(struct upstream_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_mutex_unlock(&l->mu);
    loop_signal(l);
    pthread_join(l->th, NULL);
    for (size_t i = 0; i < l->n_pool; i++)
        curl_easy_cleanup(l->pool[i]);
    curl_multi_cleanup(l->m);
    close(l->ep);
    close(l->efd);
    free(l->ca_default);
    free(l->capath_default);
    free(l->owed);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int upstream_call(struct upstream_loop *l, const struct up_request *rq, struct up_call **out)
{
    struct up_call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->l = l;
    c->url = strdup(rq->url);
    c->body = rq->body;
    c->len = rq->len;
    c->ca_file = rq->ca_file;
    c->wake = rq->wake;
    c->ud = rq->ud;
    c->owner = 1;
    c->in_loop = 1;
    int ok = c->url != NULL;
    for (size_t i = 0; ok && i < UPSTREAM_MAX_HEADERS && rq->headers[i]; i++) {
        struct curl_slist *h = curl_slist_append(c->hdrs, rq->headers[i]);
        ok = h != NULL;
        if (h)
            c->hdrs = h;
    }
    if (!ok) {
        call_free(c);
        return -ENOMEM;
    }
    __atomic_add_fetch(&l->calls, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&l->mu);
    c->pnext = l->pending;
    l->pending = c;
    pthread_mutex_unlock(&l->mu);
    loop_signal(l); /* once per pass of the loop, not per call */
    *out = c;
    return 0;
}

size_t upstream_read(struct up_call *c, char *buf, size_t max, enum up_state *state, long *status,
                     void (*park)(void *ud), void *ud)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->qlen - c->qoff;
    if (n > max)
        n = max;
    if (n) {
        memcpy(buf, c->q + c->qoff, n);
        c->qoff += n;
    }
    int wakeup = 0;
    if (c->paused && !c->want_resume && c->qlen - c->qoff < UPSTREAM_QUEUE_BOUND / 2)
        c->want_resume = wakeup = 1;
    *state = c->qlen > c->qoff ? UP_RUNNING : c->state;
    *status = c->status;
    if (n == 0 && *state == UP_RUNNING && park && (max > 0 || c->status == 0)) {
        c->parked = 1;
        park(ud);
    }
    pthread_mutex_unlock(&c->mu);
    if (wakeup) {
        __atomic_store_n(&c->l->tend_now, 1, __ATOMIC_RELEASE);
        loop_signal(c->l);
    }
    return n;
}

char *upstream_take(struct up_call *c, size_t *len, enum up_state *state, long *status,
                    void (*park)(void *ud), void *ud)
{
    pthread_mutex_lock(&c->mu);
    *state = c->state;
    *status = c->status;
    *len = 0;
    char *q = NULL;
    if (c->state != UP_RUNNING || c->qlen - c->qoff >= UPSTREAM_QUEUE_BOUND / 2)
        q = take_queue(c, len);
    int wakeup = 0;
    if (c->paused && !c->want_resume && c->qlen - c->qoff < UPSTREAM_QUEUE_BOUND / 2)
        c->want_resume = wakeup = 1;
    if (!q && c->state == UP_RUNNING && park) {
        c->parked = 1;
        park(ud);
    }
    pthread_mutex_unlock(&c->mu);
    if (q)
        q[*len] = '\0'; /* the queue always keeps a byte for it */
    if (wakeup) {
        __atomic_store_n(&c->l->tend_now, 1, __ATOMIC_RELEASE);
        loop_signal(c->l);
    }
    return q;
}

const char *upstream_error(const struct up_call *c)
{
    return c->err;
}

void upstream_detach(struct up_call *c, void (*feed)(void *ud, const char *buf, size_t len),
                     void (*end)(void *ud, enum up_state st), void *ud, size_t max_bytes,
                     unsigned max_ms)
{
    pthread_mutex_lock(&c->mu);
    c->parked = 0;
    c->owner = 0;
    if (!c->in_loop) {
        enum up_state st = c->state;
        pthread_mutex_unlock(&c->mu);
        if (c->qlen > c->qoff)
            feed(ud, c->q + c->qoff, c->qlen - c->qoff);
        end(ud, st);
        call_free(c);
        return;
    }
    c->feed = feed;
    c->end = end;
    c->dud = ud;
    c->drain_left = max_bytes;
    c->drain_until = clock_mono_ms() + max_ms;
    if (c->paused)
        c->want_resume = 1;
    struct upstream_loop *l = c->l; /* c is the loop's now: it may be freed at any time */
    pthread_mutex_unlock(&c->mu);
    __atomic_store_n(&l->tend_now, 1, __ATOMIC_RELEASE);
    loop_signal(l);
}

void upstream_release(struct up_call *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->owner = 0;
    c->parked = 0;
    int in_loop = c->in_loop;
    if (in_loop)
        c->cancel = 1;
    struct upstream_loop *l = c->l; /* once unlocked, the loop may free c */
    pthread_mutex_unlock(&c->mu);
    if (in_loop) {
        __atomic_store_n(&l->tend_now, 1, __ATOMIC_RELEASE);
        loop_signal(l);
    } else {
        call_free(c);
    }
}

void upstream_stats(struct upstream_loop *l, uint64_t *calls, uint64_t *failed, uint64_t *timeouts)
{
    *calls = __atomic_load_n(&l->calls, __ATOMIC_RELAXED);
    *failed = __atomic_load_n(&l->failed, __ATOMIC_RELAXED);
    *timeouts = __atomic_load_n(&l->timeouts, __ATOMIC_RELAXED);
}

void upstream_nudge(struct up_call *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->parked) {
        c->parked = 0;
        c->wake(c->ud);
    }
    pthread_mutex_unlock(&c->mu);
}
