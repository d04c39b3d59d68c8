/* SPDX-License-Identifier: Apache-2.0 */
/* The upstream loop (policy/server/upstream.h) against the real stub upstream on loopback. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/server/upstream.h"

static pid_t stub_pid;
static int port;
static char dir[] = "/tmp/cordon-upstream-XXXXXX";

static void stub_start(void)
{
    cr_assert(mkdtemp(dir));
    char ready[256];
    snprintf(ready, sizeof ready, "%s/ready", dir);
    stub_pid = fork();
    cr_assert(stub_pid >= 0);
    if (stub_pid == 0) {
        execl(STUB_BIN, STUB_BIN, "--listen", "127.0.0.1:0", "--ready-file", ready, "--quiet",
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !port; i++) {
        FILE *f = fopen(ready, "r");
        if (f) {
            if (fscanf(f, "port=%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (!port)
            usleep(20000);
    }
    cr_assert(port > 0, "the stub did not start");
}

static void stub_stop(void)
{
    if (stub_pid > 0) {
        kill(stub_pid, SIGTERM);
        waitpid(stub_pid, NULL, 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

TestSuite(upstream, .init = stub_start, .fini = stub_stop, .timeout = 60);

static struct upstream_loop *loop_with(unsigned first_byte_ms)
{
    struct upstream_timeouts t = {1000, first_byte_ms, 5000};
    struct upstream_loop *l = NULL;
    char err[256];
    cr_assert_eq(upstream_loop_start(&t, &l, err, sizeof err), 0, "%s", err);
    return l;
}

/* A consumer that parks on a condition variable until the loop's wake. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int parked, woken;
};
static void w_park(void *ud)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->parked++;
    pthread_mutex_unlock(&w->mu);
}
static void w_wake(void *ud)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->woken++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}
static void w_wait(struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->woken < w->parked)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Read the whole answer, parking when nothing is there; slow: sleep between reads at first. */
static char *read_all(struct up_call *c, struct waiter *w, size_t *len, enum up_state *st,
                      long *status, int slow)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (int i = 0;; i++) {
        if (cap - n < 4096)
            b = realloc(b, cap *= 2);
        if (slow && i < 5)
            usleep(100000);
        size_t got = upstream_read(c, b + n, cap - n - 1, st, status, w_park, w);
        n += got;
        if (got)
            continue;
        if (*st != UP_RUNNING)
            break;
        w_wait(w);
    }
    b[n] = '\0';
    *len = n;
    return b;
}

static char url[128];
static const char *u(const char *path)
{
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return url;
}

Test(upstream, get_and_connection_reuse)
{
    struct upstream_loop *l = loop_with(2000);
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (int k = 0; k < 2; k++) {
        struct up_request rq = {.url = u("/v1/models"), .wake = w_wake, .ud = &w};
        struct up_call *c;
        cr_assert_eq(upstream_call(l, &rq, &c), 0);
        size_t n;
        enum up_state st;
        long status;
        char *b = read_all(c, &w, &n, &st, &status, 0);
        cr_assert_eq(st, UP_DONE, "%s", upstream_error(c));
        cr_assert_eq(status, 200);
        cr_assert(strstr(b, "gpt-4o-mini"), "%s", b);
        free(b);
        upstream_release(c);
    }
    /* both calls went over one connection */
    struct up_request rq = {.url = u("/__stub/stats"), .wake = w_wake, .ud = &w};
    struct up_call *c;
    cr_assert_eq(upstream_call(l, &rq, &c), 0);
    size_t n;
    enum up_state st;
    long status;
    char *b = read_all(c, &w, &n, &st, &status, 0);
    cr_assert(strstr(b, "\"connections\": 1") || strstr(b, "\"connections\":1"), "%s", b);
    free(b);
    upstream_release(c);
    upstream_loop_stop(l);
}

Test(upstream, streamed_body_with_pause_and_resume)
{
    struct upstream_loop *l = loop_with(2000);
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    const char *body = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"[[stub:huge mib=2]]\"}]}";
    struct up_request rq = {.url = u("/v1/chat/completions"),
                            .headers = {"Content-Type: application/json"},
                            .body = body,
                            .len = strlen(body),
                            .wake = w_wake,
                            .ud = &w};
    struct up_call *c;
    cr_assert_eq(upstream_call(l, &rq, &c), 0);
    size_t n;
    enum up_state st;
    long status;
    char *b = read_all(c, &w, &n, &st, &status, 1); /* slow: the transfer must pause */
    cr_assert_eq(st, UP_DONE, "%s", upstream_error(c));
    cr_assert_eq(status, 200);
    cr_assert_gt(n, 2u << 20);
    cr_assert(strstr(b + n - 64, "[DONE]"));
    free(b);
    upstream_release(c);
    upstream_loop_stop(l);
}

Test(upstream, refused_and_timed_out)
{
    struct upstream_loop *l = loop_with(200);
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct up_request rq = {.url = "http://127.0.0.1:1/v1/models", .wake = w_wake, .ud = &w};
    struct up_call *c;
    cr_assert_eq(upstream_call(l, &rq, &c), 0);
    size_t n;
    enum up_state st;
    long status;
    free(read_all(c, &w, &n, &st, &status, 0));
    cr_assert_eq(st, UP_FAILED);
    cr_assert_eq(status, 0);
    cr_assert(upstream_error(c)[0]);
    upstream_release(c);

    const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"[[stub:slow_first_byte first_byte_ms=1500]]\"}]}";
    struct up_request rq2 = {.url = u("/v1/chat/completions"),
                             .headers = {"Content-Type: application/json"},
                             .body = body,
                             .len = strlen(body),
                             .wake = w_wake,
                             .ud = &w};
    cr_assert_eq(upstream_call(l, &rq2, &c), 0);
    free(read_all(c, &w, &n, &st, &status, 0));
    cr_assert_eq(st, UP_TIMEOUT);
    cr_assert(strstr(upstream_error(c), "upstream_first_byte_timeout_ms"), "%s", upstream_error(c));
    upstream_release(c);
    upstream_loop_stop(l);
}

static size_t fed;
static int ended = -1;
static pthread_mutex_t dmu = PTHREAD_MUTEX_INITIALIZER;
static void d_feed(void *ud, const char *buf, size_t len)
{
    (void)ud;
    (void)buf;
    pthread_mutex_lock(&dmu);
    fed += len;
    pthread_mutex_unlock(&dmu);
}
static void d_end(void *ud, enum up_state st)
{
    (void)ud;
    pthread_mutex_lock(&dmu);
    ended = (int)st;
    pthread_mutex_unlock(&dmu);
}

Test(upstream, detach_and_cancel)
{
    struct upstream_loop *l = loop_with(2000);
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    const char *body = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"[[stub:text chunks=10 size=8 delay_ms=20]]\"}]}";
    struct up_request rq = {.url = u("/v1/chat/completions"),
                            .headers = {"Content-Type: application/json"},
                            .body = body,
                            .len = strlen(body),
                            .wake = w_wake,
                            .ud = &w};
    struct up_call *c;
    cr_assert_eq(upstream_call(l, &rq, &c), 0);
    char b[64];
    enum up_state st;
    long status;
    while (upstream_read(c, b, sizeof b, &st, &status, NULL, NULL) == 0)
        usleep(10000);
    upstream_detach(c, d_feed, d_end, NULL, 1 << 20, 5000);
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&dmu);
        int e = ended;
        pthread_mutex_unlock(&dmu);
        if (e >= 0)
            break;
        usleep(10000);
    }
    cr_assert_eq(ended, UP_DONE);
    cr_assert_gt(fed, 100);

    /* a call released while it runs is cancelled, and the loop goes on */
    cr_assert_eq(upstream_call(l, &rq, &c), 0);
    upstream_release(c);
    uint64_t calls, failed, timeouts;
    upstream_stats(l, &calls, &failed, &timeouts);
    cr_assert_eq(calls, 2);
    upstream_loop_stop(l);
}
