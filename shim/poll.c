/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy poller (see poll.h). Its lines go out with write(2), not stdio: in the shim the
 * thread runs inside the agent, whose stdio buffers and locks are the agent's own.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

#include "base/jbuf.h"
#include "shim/events.h"
#include "shim/poll.h"
#include "shim/root.h"

#define POLL_STACK (256 * 1024) /* the thread needs little, and lives in the agent */

static void say(const char *line, size_t n)
{
    ssize_t w = write(2, line, n);
    (void)w;
}

int poll_round(struct poll_job *job)
{
    struct root *r = job->root;
    char msg[256], err[512];
    msg[0] = err[0] = '\0';
    int rc = job->once(r, msg, sizeof msg, err, sizeof err);
    if (rc == 1) {
        if (!job->quiet) {
            size_t n = strnlen(msg, sizeof msg - 1);
            msg[n] = '\n';
            say(msg, n + 1);
            msg[n] = '\0';
        }
        /* an ETag with a quote is not one cordond sends: leave it out rather than cut it */
        char etag[81];
        size_t el = strchr(r->etag, '"') ? 0 : strnlen(r->etag, sizeof etag - 1);
        memcpy(etag, r->etag, el);
        etag[el] = '\0';
        char mem[160];
        struct jbuf b;
        jbuf_init(&b, mem, sizeof mem);
        jbuf_raw(&b, "{\"running\":");
        jbuf_u64(&b, r->stamp.version);
        jbuf_raw(&b, ",\"etag\":");
        jbuf_str(&b, etag, 0);
        jbuf_raw(&b, "}");
        events_emit("policy.stale", "log", b.overflow ? NULL : mem);
    } else if (rc < 0 && job->failed++ == 0 && !job->quiet) {
        char line[768];
        int n = snprintf(line, sizeof line,
                         "%s: policy poll failed: %s (will keep trying every %u s)\n", job->who,
                         err, r->policy->poll_seconds);
        if (n > 0)
            say(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    return rc;
}

/* The value of "key": in a flat JSON text, copied up to cap-1 bytes of [A-Za-z0-9._-] (an
 * agent name, a number); "" when absent. cordond's notices are flat and small. */
static void notice_field(const char *msg, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(msg, key);
    if (!p)
        return;
    p += strlen(key);
    if (*p == '"')
        p++;
    size_t n = 0;
    while (n + 1 < cap && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
        out[n++] = *p++;
    out[n] = '\0';
}

/* Say a quarantine notice once: "WHO: agent A is quarantined by cordond since T; ...". */
static void say_notice(struct poll_job *job, const char *msg)
{
    if (job->quarantine_said++ || job->quiet)
        return;
    char agent[80], since[24], when[40] = "?";
    notice_field(msg, "\"agent\":", agent, sizeof agent);
    notice_field(msg, "\"since_ms\":", since, sizeof since);
    time_t t = (time_t)(strtoll(since, NULL, 10) / 1000);
    struct tm tm;
    if (since[0] && gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[512];
    int k = snprintf(line, sizeof line,
                     "%s: agent %s is quarantined by cordond since %s; model calls and "
                     "tunnels are refused until an admin runs `cordon agent release`\n",
                     job->who, agent, when);
    if (k > 0)
        say(line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

/* The JSON string value of "key" in msg, unescaped into out (cap bytes, control characters
 * as spaces, \\u escapes as '?'); "" when absent. */
static void notice_text(const char *msg, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = strstr(msg, key);
    if (p) {
        p += strlen(key);
        while (*p == ' ')
            p++;
    }
    if (p && *p == '"') {
        for (p++; *p && *p != '"' && n + 1 < cap; p++) {
            char ch = *p;
            if (ch == '\\' && p[1]) {
                p++;
                ch = *p == 'u' ? '?' : *p == 'n' || *p == 't' || *p == 'r' ? ' ' : *p;
                if (*p == 'u')
                    for (int k = 0; k < 4 && p[1]; k++)
                        p++;
            }
            out[n++] = (unsigned char)ch < 0x20 ? ' ' : ch;
        }
    }
    out[n] = '\0';
}

/* Say a budget or rate refusal once per scope: "WHO: model calls of agent A are refused: M". */
static void say_refused(struct poll_job *job, const char *msg)
{
    char agent[80], scope[64], text[600];
    notice_field(msg, "\"agent\":", agent, sizeof agent);
    notice_field(msg, "\"scope\":", scope, sizeof scope);
    notice_text(msg, "\"message\":", text, sizeof text);
    unsigned h = 2166136261u;
    for (const char *p = scope; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (unsigned i = 0; i < job->n_refused_said; i++)
        if (job->refused_said[i] == h)
            return;
    if (job->n_refused_said < sizeof job->refused_said / sizeof job->refused_said[0])
        job->refused_said[job->n_refused_said++] = h;
    if (job->quiet)
        return;
    char line[800];
    int k = snprintf(line, sizeof line, "%s: model calls of agent %s are refused: %s\n", job->who,
                     agent, text[0] ? text : scope);
    if (k > 0)
        say(line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

int poll_notices(struct poll_job *job)
{
    int seen = 0;
    for (int i = 0; i < 16; i++) {
        char msg[1200];
        ssize_t n = recv(job->notice_fd, msg, sizeof msg - 1, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return seen;
        if (n == 0)
            return -1;
        msg[n] = '\0';
        if (strstr(msg, "\"type\":\"refused\"")) {
            say_refused(job, msg);
            continue;
        }
        if (!strstr(msg, "\"type\":\"quarantine\""))
            continue;
        seen = 1;
        say_notice(job, msg);
    }
    return seen;
}

/* Wait for the next round, reading cordond's notices meanwhile when there is a channel. */
static void wait_round(struct poll_job *job)
{
    int64_t end = clock_mono_ms() + (int64_t)job->root->policy->poll_seconds * 1000;
    for (;;) {
        int64_t left = end - clock_mono_ms();
        if (left <= 0)
            return;
        if (!job->notices || job->notice_fd < 0) {
            struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd p = {.fd = job->notice_fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n > 0 && (p.revents & POLLIN) && poll_notices(job) >= 0)
            continue;
        if (n > 0)
            job->notices = 0; /* closed or broken: rounds go on without it */
    }
}

static void *poll_loop(void *arg)
{
    struct poll_job *job = arg;
    if (job->root->notice[0]) /* came before the session token */
        say_notice(job, job->root->notice);
    for (;;) {
        wait_round(job);
        (void)poll_round(job);
    }
    return NULL;
}

int poll_start(struct poll_job *job)
{
    pthread_t t;
    pthread_attr_t a;
    int rc = pthread_attr_init(&a);
    if (rc != 0)
        return -rc;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, POLL_STACK);
    rc = pthread_create(&t, &a, poll_loop, job);
    pthread_attr_destroy(&a);
    return -rc;
}
