/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upstream loop (upstream.h): one thread, one curl multi handle. Every curl call happens
 * on the loop thread; other threads touch a call only under its lock and reach the loop
 * through its pending list and curl_multi_wakeup().
 */
#include "policy/server/upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

#define POOL_MAX 64 /* easy handles kept for reuse */

struct up_call {
    struct upstream_loop *l;
    pthread_mutex_t mu;
    CURL *e;
    struct curl_slist *hdrs;
    char *url;
    const char *body;
    size_t len;
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
    struct up_call *next, *prev; /* active list */
    struct up_call *pnext;       /* pending list */
};

struct upstream_loop {
    struct upstream_timeouts t;
    CURLM *m;
    pthread_t th;
    pthread_mutex_t mu; /* pending, stop */
    struct up_call *pending;
    int stop;
    struct up_call *active;
    CURL *pool[POOL_MAX];
    size_t n_pool;
    uint64_t calls, failed, timeouts;
};

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
            if (c->parked) {
                c->parked = 0;
                c->wake(c->ud);
            }
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
    if (c->qlen + len > c->qcap) {
        if (c->qoff) {
            memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
            c->qlen -= c->qoff;
            c->qoff = 0;
        }
        if (c->qlen + len > c->qcap) {
            size_t cap = c->qcap ? c->qcap : 1024; /* most answers and events are small */
            while (cap < c->qlen + len)
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
    if (c->parked) {
        c->parked = 0;
        c->wake(c->ud);
    }
    pthread_mutex_unlock(&c->mu);
    return len;
}

static int setup(struct upstream_loop *l, struct up_call *c)
{
    CURL *e = l->n_pool ? l->pool[--l->n_pool] : curl_easy_init();
    if (!e)
        return -ENOMEM;
    curl_easy_reset(e);
    c->e = e;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)l->t.connect_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->err);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    if (c->body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
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

static void *loop_main(void *arg)
{
    struct upstream_loop *l = arg;
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
        int running;
        curl_multi_perform(l->m, &running);
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
        tend(l, clock_mono_ms());
        int nfds;
        curl_multi_poll(l->m, NULL, 0, l->active ? 50 : 1000, &nfds);
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
    curl_multi_setopt(l->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(l->m, CURLMOPT_MAXCONNECTS, 64L);
    pthread_mutex_init(&l->mu, NULL);
    int rc = pthread_create(&l->th, NULL, loop_main, l);
    if (rc != 0) {
        curl_multi_cleanup(l->m);
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
    curl_multi_wakeup(l->m);
    pthread_join(l->th, NULL);
    for (size_t i = 0; i < l->n_pool; i++)
        curl_easy_cleanup(l->pool[i]);
    curl_multi_cleanup(l->m);
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
    /* The loop takes the whole list at once and only then polls: a wakeup is owed only by
     * the call that finds the list empty (one wakeup per pass of the loop, not per call). */
    int first = l->pending == NULL;
    c->pnext = l->pending;
    l->pending = c;
    pthread_mutex_unlock(&l->mu);
    if (first)
        curl_multi_wakeup(l->m);
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
    if (wakeup)
        curl_multi_wakeup(c->l->m);
    return n;
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
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->l->m);
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
    pthread_mutex_unlock(&c->mu);
    if (in_loop)
        curl_multi_wakeup(c->l->m);
    else
        call_free(c);
}

void upstream_stats(struct upstream_loop *l, uint64_t *calls, uint64_t *failed, uint64_t *timeouts)
{
    *calls = __atomic_load_n(&l->calls, __ATOMIC_RELAXED);
    *failed = __atomic_load_n(&l->failed, __ATOMIC_RELAXED);
    *timeouts = __atomic_load_n(&l->timeouts, __ATOMIC_RELAXED);
}
