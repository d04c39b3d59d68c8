/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the engine's suites (test_engine*.c, test_format_*.c): a policy from a few
 * lines of JSON, one call through the engine, a stream fed whole or split at every byte. */
#ifndef CORDON_TESTS_ENGINE_SUPPORT_H
#define CORDON_TESTS_ENGINE_SUPPORT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "policy/engine/engine.h"
#include "policy/policy.h"

static const struct policy_env te_env = {
    .vars = {.home = "/home/tester",
             .cwd = "/work/proj",
             .workspace = "/work/proj/ws",
             .tmp = "/tmp"},
};

/* A policy of agent "a" whose body is extra (",\"mode\":...,\"api\":{...}"). */
static inline struct policy *te_policy(const char *extra)
{
    char doc[8192];
    snprintf(doc, sizeof doc, "{\"cordon_policy\":1,\"agent\":\"a\"%s}", extra);
    struct diag d;
    diag_init(&d);
    struct policy *p = NULL;
    int rc = policy_load(doc, strlen(doc), &te_env, &p, &d);
    if (rc) {
        char line[512] = "";
        if (d.count)
            diag_format(&d, 0, line, sizeof line);
        cr_assert_fail("policy does not load: %s\n%s", line, doc);
    }
    return p;
}

struct te {
    struct policy *p;
    struct engine *e;
    struct engine_call *c;
    int verdict;
    const char *out;
    size_t out_len;
};

static inline void te_open(struct te *t, const char *extra, const struct engine_options *o)
{
    memset(t, 0, sizeof *t);
    t->p = te_policy(extra);
    char err[512] = "";
    int rc = engine_new(t->p, o, &t->e, err, sizeof err);
    cr_assert_eq(rc, 0, "engine_new: %s", err);
}

/* Start a call of format f and run the request hooks on body. */
static inline int te_request(struct te *t, enum engine_format f, const char *body)
{
    struct engine_call_info info = {.format = f, .agent = "a", .session = "s1"};
    if (t->c)
        engine_call_free(t->c);
    cr_assert_eq(engine_call_new(t->e, &info, &t->c), 0);
    t->out = NULL;
    t->out_len = 0;
    t->verdict = engine_call_request(t->c, body, strlen(body), &t->out, &t->out_len);
    cr_assert_geq(t->verdict, 0, "engine_call_request: %s", engine_strerror(t->verdict));
    return t->verdict;
}

/* The refusal's code and body (asserting there is one). */
static inline const char *te_error(struct te *t, int *status)
{
    const char *body;
    size_t len;
    cr_assert_eq(engine_call_error(t->c, status, &body, &len), 0, "no refusal");
    return body;
}

static inline void te_close(struct te *t)
{
    engine_call_free(t->c);
    engine_free(t->e);
    policy_free(t->p);
}

struct sink {
    char *p;
    size_t len, cap;
};

static inline int sink_put(void *ud, const char *buf, size_t len)
{
    struct sink *s = ud;
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->p = realloc(s->p, s->cap);
        cr_assert_not_null(s->p);
    }
    memcpy(s->p + s->len, buf, len);
    s->len += len;
    s->p[s->len] = '\0';
    return 0;
}

/* Feed in through the call's stream side: whole (split 0) or as in[0..split) then one byte
 * at a time; returns what the client got (caller frees). *rc gets the first error. */
static inline char *te_stream(struct engine_call *c, const char *in, size_t split, int *rc)
{
    struct sink s = {0};
    size_t len = strlen(in);
    int r = 0;
    sink_put(&s, "", 0);
    if (!split) {
        r = engine_stream_feed(c, in, len, sink_put, &s);
    } else {
        r = engine_stream_feed(c, in, split < len ? split : len, sink_put, &s);
        for (size_t i = split; i < len && !r; i++)
            r = engine_stream_feed(c, in + i, 1, sink_put, &s);
    }
    if (!r)
        r = engine_stream_end(c, sink_put, &s);
    if (rc)
        *rc = r;
    return s.p;
}

/* A fresh call of format f on policy extra with request body, then the stream; returns the
 * client's bytes. */
static inline char *te_stream_call(const char *extra, const struct engine_options *o,
                                   enum engine_format f, const char *body, const char *in,
                                   size_t split, struct te *keep)
{
    struct te t;
    te_open(&t, extra, o);
    cr_assert_eq(te_request(&t, f, body), ENGINE_ALLOW);
    int rc;
    char *got = te_stream(t.c, in, split, &rc);
    cr_assert_eq(rc, 0, "stream: %s", engine_strerror(rc));
    if (keep)
        *keep = t;
    else
        te_close(&t);
    return got;
}

#endif
