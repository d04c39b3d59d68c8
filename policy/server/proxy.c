/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model proxy (proxy.h). One struct proxy_req per request, used by one thread at a time:
 * the MHD thread that serves the request, or, after the client left, the upstream loop that
 * drains the rest of the answer. Phases:
 *
 *   NEW -> HEAD (upstream called, waiting for its status) -> BODY (a whole answer gathered
 *   for engine_call_response, an error answer, the model list) or STREAM (an SSE answer fed
 *   through the engine's assembler into an MHD callback response) -> DONE
 *
 * Waiting is a suspended MHD connection: the proxy parks in upstream_read(), and the loop's
 * wake resumes the connection; libmicrohttpd then calls the handler (or the content reader)
 * again.
 */
#include "policy/server/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/glob.h"
#include "base/secret.h"
#include "policy/engine/engine.h"
#include "policy/server/identity.h"
#include "policy/server/ledger.h"
#include "policy/server/server.h"
#include "policy/server/upstream.h"

#define MAX_ANSWER (64u << 20) /* a whole (non-streamed) answer */
#define DRAIN_BYTES (8u << 20) /* read on after the client left, at most */
#define DRAIN_MS 30000u

struct proxy {
    struct srv *s;
    struct upstream_loop *loop;
    char *key[CONFIG_MAX_UPSTREAMS];
    size_t key_len[CONFIG_MAX_UPSTREAMS];
};

enum phase { P_NEW, P_HEAD, P_BODY, P_STREAM, P_DONE };

struct proxy_req {
    struct proxy *p;
    struct MHD_Connection *conn;
    enum phase phase;
    int models; /* GET /v1/models */
    enum engine_format fmt;
    struct identity who;
    struct pset *set; /* held while the engine is used */
    const struct pset_entry *pe;
    struct engine_call *call;
    int up; /* index in cfg.upstreams */
    struct up_call *uc;
    char *body; /* the client's body (owned) */
    size_t body_len;
    long status;
    char *ans; /* a gathered answer */
    size_t ans_len, ans_cap;
    char *out; /* stream bytes for the client not yet taken by MHD */
    size_t out_off, out_len, out_cap;
    int ended, recorded, detached;
    int64_t t0;
    char hdr[4][600];
};

/* ------------------------------------------------------------ keys and routing */

int proxy_open(struct srv *s, struct proxy **out, char *err, size_t errlen)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->s = s;
    for (size_t i = 0; i < s->cfg.n_upstreams; i++) {
        const struct config_upstream *u = &s->cfg.upstreams[i];
        if (u->key_file[0]) {
            char what[96];
            snprintf(what, sizeof what, "the key of upstream %s", u->name);
            int rc =
                secret_read_file(what, u->key_file, 4096, &p->key[i], &p->key_len[i], err, errlen);
            if (rc != 0) {
                proxy_close(p);
                return rc;
            }
        } else if (u->key_env[0]) {
            const char *v = getenv(u->key_env);
            if (!v || !v[0]) {
                snprintf(err, errlen,
                         "upstream %s: key_env %s is not set in cordond's "
                         "environment",
                         u->name, u->key_env);
                proxy_close(p);
                return -EINVAL;
            }
            p->key_len[i] = strlen(v);
            p->key[i] = strdup(v);
            if (!p->key[i]) {
                proxy_close(p);
                return -ENOMEM;
            }
        }
        if (p->key[i] && strpbrk(p->key[i], "\r\n")) {
            snprintf(err, errlen, "upstream %s: the key holds a line break", u->name);
            proxy_close(p);
            return -EINVAL;
        }
    }
    struct upstream_timeouts t = {s->cfg.upstream_connect_timeout_ms,
                                  s->cfg.upstream_first_byte_timeout_ms,
                                  s->cfg.upstream_idle_timeout_ms};
    int rc = upstream_loop_start(&t, &p->loop, err, errlen);
    if (rc != 0) {
        proxy_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void proxy_close(struct proxy *p)
{
    if (!p)
        return;
    upstream_loop_stop(p->loop);
    for (size_t i = 0; i < CONFIG_MAX_UPSTREAMS; i++)
        secret_free(p->key[i], p->key_len[i]);
    free(p);
}

void proxy_stats(struct proxy *p, uint64_t *calls, uint64_t *failed, uint64_t *timeouts)
{
    *calls = *failed = *timeouts = 0;
    if (p && p->loop)
        upstream_stats(p->loop, calls, failed, timeouts);
}

/* The first upstream of kind whose models globs match model (any model without globs). */
static int route(const struct config *cfg, int kind, const char *model)
{
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const struct config_upstream *u = &cfg->upstreams[i];
        if (u->kind != kind)
            continue;
        if (!u->models[0])
            return (int)i;
        char g[sizeof u->models];
        memcpy(g, u->models, sizeof g);
        for (char *save = NULL, *t = strtok_r(g, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (glob_match(t, model))
                return (int)i;
    }
    return -1;
}

/* URL of the endpoint on upstream u: a base ending in /v1 takes the path without /v1. */
static void endpoint_url(const struct config_upstream *u, const char *path, char *out,
                         size_t outlen)
{
    size_t ul = strlen(u->url);
    while (ul && u->url[ul - 1] == '/')
        ul--;
    if (strncmp(path, "/v1/", 4) == 0 && ul >= 3 && memcmp(u->url + ul - 3, "/v1", 3) == 0)
        path += 3;
    snprintf(out, outlen, "%.*s%s", (int)ul, u->url, path);
}

/* ------------------------------------------------------------ answers and records */

static struct MHD_Response *buf_response(const char *buf, size_t len, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_MUST_COPY);
    if (r && type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return r;
}

/* The engine's record without the members the audit log sets itself (type, agent). */
static void record(struct proxy_req *pr)
{
    if (pr->recorded || !pr->call)
        return;
    pr->recorded = 1;
    engine_call_finish(pr->call, (uint64_t)(clock_mono_ms() - pr->t0));
    char *j = engine_call_audit_json(pr->call);
    if (!j)
        return;
    char head[AGENTS_NAME_MAX + 64];
    snprintf(head, sizeof head, "{\"type\":\"model_call\",\"agent\":\"%s\",", pr->who.agent);
    size_t hl = strlen(head);
    if (strncmp(j, head, hl) == 0) {
        j[hl - 1] = '{';
        (void)srv_audit(pr->p->s, "model.call", pr->who.agent, j + hl - 1, 0);
    } else {
        (void)srv_audit(pr->p->s, "model.call", pr->who.agent, j, 0);
    }
    free(j);
}

/* A refusal of cordond's own (no engine call yet): through srv_decide, in its JSON shape. */
static int refuse_plain(struct proxy_req *pr, unsigned status, const char *code, const char *rule,
                        const char *msg, struct MHD_Response **resp, unsigned *st)
{
    struct decision d;
    decision_init(&d, DECISION_REQUEST, pr->who.agent[0] ? "model.call" : NULL);
    d.agent = pr->who.agent[0] ? pr->who.agent : NULL;
    d.key_id = pr->who.key_id[0] ? pr->who.key_id : NULL;
    d.what = engine_format_endpoint(pr->fmt);
    decision_refuse(&d, status, code, rule, "%s", msg);
    jbuf_key(&d.fields, "status");
    jbuf_u64(&d.fields, status);
    (void)srv_decide(pr->p->s, &d);
    *resp = d.body ? buf_response(d.body, d.body_len, "application/json") : NULL;
    *st = d.status;
    decision_done(&d);
    pr->phase = P_DONE;
    return *resp ? 0 : -1;
}

/* The engine's refusal (policy, malformed body, upstream failure): its status and body, in
 * the client's shape; counted through srv_decide, recorded as the call's model.call. */
static int refuse_engine(struct proxy_req *pr, struct MHD_Response **resp, unsigned *st)
{
    int status = 500;
    const char *body = NULL;
    size_t len = 0;
    if (engine_call_error(pr->call, &status, &body, &len) != 0) {
        body = "{\"error\":{\"code\":\"cordon.internal\",\"message\":\"no refusal to send\"}}";
        len = strlen(body);
    }
    struct decision d;
    decision_init(&d, DECISION_REQUEST, NULL);
    d.agent = pr->who.agent;
    d.key_id = pr->who.key_id;
    d.what = engine_format_endpoint(pr->fmt);
    decision_refuse(&d, (unsigned)status, "model_refused", "engine", "refused by the engine");
    d.reply = DECISION_REPLY_NONE;
    (void)srv_decide(pr->p->s, &d);
    decision_done(&d);
    record(pr);
    *resp = buf_response(body, len, "application/json");
    unsigned retry = engine_call_retry_after(pr->call);
    if (*resp && retry) { /* a budget or rate refusal: when to try again */
        char ra[16];
        snprintf(ra, sizeof ra, "%u", retry);
        MHD_add_response_header(*resp, "Retry-After", ra);
    }
    *st = (unsigned)status;
    pr->phase = P_DONE;
    return *resp ? 0 : -1;
}

/* An upstream failure: 502 or 504 naming the upstream and what went wrong. */
static int upstream_failed(struct proxy_req *pr, int status, const char *how, const char *what,
                           struct MHD_Response **resp, unsigned *st)
{
    struct engine_reason why = {.status = status};
    snprintf(why.code, sizeof why.code, "cordon.upstream");
    const char *name = pr->up >= 0 ? pr->p->s->cfg.upstreams[pr->up].name : "?";
    snprintf(why.message, sizeof why.message, "upstream %s: %s%s%.300s", name, how,
             what && what[0] ? ": " : "", what ? what : "");
    srv_count(status == 504 ? &pr->p->s->m.proxy_upstream_timeouts
                            : &pr->p->s->m.proxy_upstream_errors,
              1);
    if (!pr->call)
        return refuse_plain(pr, (unsigned)status, "upstream", "upstream", why.message, resp, st);
    engine_call_upstream(pr->call, 0, &why);
    return refuse_engine(pr, resp, st);
}

/* ------------------------------------------------------------ waiting */

static void park(void *ud)
{
    struct proxy_req *pr = ud;
    MHD_suspend_connection(pr->conn);
}

static void wake(void *ud)
{
    struct proxy_req *pr = ud;
    MHD_resume_connection(pr->conn);
}

static int out_add(struct proxy_req *pr, const char *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (pr->out_off == pr->out_len)
        pr->out_off = pr->out_len = 0;
    if (pr->out_len + len > pr->out_cap) {
        size_t cap = pr->out_cap ? pr->out_cap : 4096;
        while (cap < pr->out_len + len)
            cap *= 2;
        char *n = realloc(pr->out, cap);
        if (!n)
            return -ENOMEM;
        pr->out = n;
        pr->out_cap = cap;
    }
    memcpy(pr->out + pr->out_len, buf, len);
    pr->out_len += len;
    return 0;
}

static int emit(void *ud, const char *buf, size_t len)
{
    struct proxy_req *pr = ud;
    return pr->detached ? 0 : out_add(pr, buf, len);
}

/* The stream ended (st says how): the engine flushes what it held, then the record. */
static void stream_close(struct proxy_req *pr, enum up_state st)
{
    if (pr->ended)
        return;
    pr->ended = 1;
    if (st == UP_FAILED || st == UP_TIMEOUT) {
        struct engine_reason why = {.status = st == UP_TIMEOUT ? 504 : 502};
        snprintf(why.code, sizeof why.code, "cordon.upstream");
        snprintf(why.message, sizeof why.message, "upstream %s: the stream broke off: %s",
                 pr->p->s->cfg.upstreams[pr->up].name, upstream_error(pr->uc));
        srv_count(st == UP_TIMEOUT ? &pr->p->s->m.proxy_upstream_timeouts
                                   : &pr->p->s->m.proxy_upstream_errors,
                  1);
        if (engine_stream_error(pr->call, &why, emit, pr) != 0)
            pr->detached = 1; /* nothing more can be added */
    }
    if (engine_stream_end(pr->call, emit, pr) != 0)
        pr->detached = 1;
    record(pr);
}

/* MHD's content reader of a streamed answer. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct proxy_req *pr = cls;
    char tmp[16384];
    for (;;) {
        if (pr->out_off < pr->out_len) {
            size_t n = pr->out_len - pr->out_off;
            if (n > max)
                n = max;
            memcpy(buf, pr->out + pr->out_off, n);
            pr->out_off += n;
            return (ssize_t)n;
        }
        if (pr->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        enum up_state st;
        long status;
        size_t n = upstream_read(pr->uc, tmp, sizeof tmp, &st, &status, park, pr);
        if (n) {
            int rc = engine_stream_feed(pr->call, tmp, n, emit, pr);
            if (rc < 0) {
                pr->ended = 1; /* the engine emitted its in-stream error */
                record(pr);
            }
            continue;
        }
        if (st == UP_RUNNING)
            return 0; /* suspended until the loop's wake */
        stream_close(pr, st);
    }
}

/* After the client left: the loop feeds the rest of the stream to the engine. */
static void drain_feed(void *ud, const char *buf, size_t len)
{
    struct proxy_req *pr = ud;
    if (len == 0)
        return;
    if (pr->phase == P_STREAM) {
        if (!pr->ended && engine_stream_feed(pr->call, buf, len, emit, pr) < 0) {
            pr->ended = 1;
            record(pr);
        }
    } else if (pr->ans_len + len <= MAX_ANSWER) {
        if (pr->ans_len + len > pr->ans_cap) {
            size_t cap = pr->ans_cap ? pr->ans_cap : 16384;
            while (cap < pr->ans_len + len)
                cap *= 2;
            char *n = realloc(pr->ans, cap);
            if (!n)
                return;
            pr->ans = n;
            pr->ans_cap = cap;
        }
        memcpy(pr->ans + pr->ans_len, buf, len);
        pr->ans_len += len;
    }
}

static void req_free(struct proxy_req *pr)
{
    if (pr->uc)
        upstream_release(pr->uc);
    engine_call_free(pr->call);
    if (pr->set)
        pset_release(pr->set);
    free(pr->body);
    free(pr->ans);
    free(pr->out);
    free(pr);
}

static void drain_end(void *ud, enum up_state st)
{
    struct proxy_req *pr = ud;
    pr->uc = NULL; /* the loop frees it */
    if (pr->phase == P_STREAM) {
        stream_close(pr, st);
    } else if (pr->call && st == UP_DONE && pr->status >= 200 && pr->status < 300) {
        const char *o;
        size_t ol;
        if (engine_call_response(pr->call, pr->ans ? pr->ans : "", pr->ans_len, &o, &ol) < 0)
            pr->detached = 1; /* recorded as it is: the engine noted the malformed answer */
        record(pr);
    } else {
        record(pr);
    }
    req_free(pr);
}

void proxy_req_done(struct proxy_req *pr, int ok)
{
    if (!pr)
        return;
    if (!ok && pr->uc && pr->call && !pr->recorded &&
        (pr->phase == P_STREAM || pr->phase == P_BODY || pr->phase == P_HEAD)) {
        if (pr->phase == P_HEAD)
            pr->phase = engine_call_stream(pr->call) ? P_STREAM : P_BODY;
        pr->detached = 1;
        upstream_detach(pr->uc, drain_feed, drain_end, pr, DRAIN_BYTES, DRAIN_MS);
        return;
    }
    if (pr->phase == P_STREAM && !pr->ended && pr->call)
        record(pr);
    req_free(pr);
}

/* ------------------------------------------------------------ the phases */

/* The credential: Authorization: Bearer X, or x-api-key: X. */
static const char *credential(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && strncmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        return h;
    }
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
}

static int identify(struct proxy_req *pr, struct MHD_Response **resp, unsigned *st)
{
    const char *cred = credential(pr->conn);
    int rc = cred ? identity_check(pr->p->s, cred, &pr->who) : AGENTS_ERR_UNKNOWN;
    if (rc == AGENTS_OK)
        return 1;
    if (rc != AGENTS_ERR_REVOKED)
        memset(&pr->who, 0, sizeof pr->who);
    const char *msg = !cred ? "no credential: send Authorization: Bearer with the agent key "
                              "(ck_...) or session token (cs_...), or x-api-key"
                      : rc == AGENTS_ERR_REVOKED ? "the agent key or session was revoked or "
                                                   "has ended"
                                                 : "the credential is unknown to this server";
    (void)refuse_plain(pr, 401, rc == AGENTS_ERR_REVOKED ? "key_revoked" : "unknown_key",
                       "identity", msg, resp, st);
    return 0;
}

/* Build the upstream headers and start the call. */
static int start_upstream(struct proxy_req *pr, const char *path, const char *fwd, size_t fwd_len)
{
    const struct config_upstream *u = &pr->p->s->cfg.upstreams[pr->up];
    const char *key = pr->p->key[pr->up];
    char url[700];
    endpoint_url(u, path, url, sizeof url);
    struct up_request rq = {.url = url, .body = fwd, .len = fwd_len, .wake = wake, .ud = pr};
    size_t n = 0;
    if (fwd)
        rq.headers[n++] = "Content-Type: application/json";
    rq.headers[n++] = "Expect:";
    if (u->kind == CONFIG_UPSTREAM_KIND_ANTHROPIC) {
        const char *v = MHD_lookup_connection_value(pr->conn, MHD_HEADER_KIND, "anthropic-version");
        const char *b = MHD_lookup_connection_value(pr->conn, MHD_HEADER_KIND, "anthropic-beta");
        snprintf(pr->hdr[0], sizeof pr->hdr[0], "anthropic-version: %.500s", v ? v : "2023-06-01");
        rq.headers[n++] = pr->hdr[0];
        if (b) {
            snprintf(pr->hdr[1], sizeof pr->hdr[1], "anthropic-beta: %.500s", b);
            rq.headers[n++] = pr->hdr[1];
        }
        if (key) {
            snprintf(pr->hdr[2], sizeof pr->hdr[2], "x-api-key: %s", key);
            rq.headers[n++] = pr->hdr[2];
        }
    } else if (key) {
        snprintf(pr->hdr[2], sizeof pr->hdr[2], "Authorization: Bearer %s", key);
        rq.headers[n++] = pr->hdr[2];
    }
    int rc = upstream_call(pr->p->loop, &rq, &pr->uc);
    memset(pr->hdr[2], 0, sizeof pr->hdr[2]); /* curl copied it */
    pr->phase = P_HEAD;
    return rc;
}

static int start(struct proxy_req *pr, const char *url, const char *method,
                 struct MHD_Response **resp, unsigned *st)
{
    struct srv *s = pr->p->s;
    pr->up = -1;
    pr->models = strcmp(url, "/v1/models") == 0 || strcmp(url, "/models") == 0;
    int f = pr->models ? ENGINE_CHAT : engine_format_for_path(url);
    pr->fmt = f < 0 ? ENGINE_CHAT : (enum engine_format)f;
    if (!identify(pr, resp, st))
        return *resp ? 0 : -1;
    pr->set = pset_acquire(s->psets);
    pr->pe = pset_find(pr->set, pr->who.agent);
    if (!pr->pe || !pr->pe->engine) {
        char m[160];
        snprintf(m, sizeof m, "agent %s has no policy on this server", pr->who.agent);
        return refuse_plain(pr, 403, "no_policy", "policy", m, resp, st);
    }
    if (pr->models) {
        int anthropic =
            MHD_lookup_connection_value(pr->conn, MHD_HEADER_KIND, "anthropic-version") != NULL;
        pr->up = route(
            &s->cfg, anthropic ? CONFIG_UPSTREAM_KIND_ANTHROPIC : CONFIG_UPSTREAM_KIND_OPENAI, "");
        for (size_t i = 0; pr->up < 0 && i < s->cfg.n_upstreams; i++)
            if (s->cfg.upstreams[i].kind ==
                (anthropic ? CONFIG_UPSTREAM_KIND_ANTHROPIC : CONFIG_UPSTREAM_KIND_OPENAI))
                pr->up = (int)i;
        if (pr->up < 0)
            return refuse_plain(pr, 502, "upstream", "upstream",
                                "no upstream of this kind is configured (upstream lines in "
                                "cordond.conf)",
                                resp, st);
        (void)method;
        return start_upstream(pr, "/v1/models", NULL, 0) == 0 ? 1 : -1;
    }
    struct engine_call_info info = {.format = pr->fmt,
                                    .agent = pr->who.agent,
                                    .session = pr->who.via_session ? pr->who.session : NULL,
                                    .budget = s->ledger ? &ledger_engine_ops : NULL,
                                    .budget_ud = s->ledger};
    if (engine_call_new(pr->pe->engine, &info, &pr->call) != 0)
        return -1;
    const char *fwd = NULL;
    size_t fwd_len = 0;
    int v = engine_call_request(pr->call, pr->body ? pr->body : "", pr->body_len, &fwd, &fwd_len);
    if (v < 0)
        return -1;
    if (v == ENGINE_REFUSE)
        return refuse_engine(pr, resp, st);
    if (v == ENGINE_ALLOW) {
        fwd = pr->body ? pr->body : "";
        fwd_len = pr->body_len;
    }
    int kind =
        pr->fmt == ENGINE_MESSAGES ? CONFIG_UPSTREAM_KIND_ANTHROPIC : CONFIG_UPSTREAM_KIND_OPENAI;
    pr->up = route(&s->cfg, kind, engine_call_model(pr->call));
    if (pr->up < 0)
        return upstream_failed(pr, 502,
                               "no upstream serves this model (upstream lines "
                               "and their models= in cordond.conf)",
                               NULL, resp, st);
    if (start_upstream(pr, engine_format_endpoint(pr->fmt), fwd, fwd_len) != 0)
        return -1;
    return 1;
}

static int gather(struct proxy_req *pr, enum up_state *st)
{
    for (;;) {
        if (pr->ans_cap - pr->ans_len < 16384) {
            size_t cap = pr->ans_cap ? pr->ans_cap * 2 : 32768;
            char *n = realloc(pr->ans, cap);
            if (!n)
                return -ENOMEM;
            pr->ans = n;
            pr->ans_cap = cap;
        }
        long status;
        size_t n = upstream_read(pr->uc, pr->ans + pr->ans_len, pr->ans_cap - pr->ans_len - 1, st,
                                 &status, park, pr);
        pr->ans_len += n;
        if (pr->ans_len > MAX_ANSWER)
            return -EFBIG;
        if (n == 0)
            return 0;
    }
}

/* The upstream answered: an error, a stream, or a whole body to gather. */
static int head(struct proxy_req *pr, struct MHD_Response **resp, unsigned *st)
{
    char none[1];
    enum up_state us;
    long status;
    (void)upstream_read(pr->uc, none, 0, &us, &status, park, pr);
    if (status == 0 && us == UP_RUNNING)
        return 1; /* parked */
    pr->status = status;
    if (status == 0) {
        return upstream_failed(pr, us == UP_TIMEOUT ? 504 : 502,
                               us == UP_TIMEOUT ? "timed out" : "failed", upstream_error(pr->uc),
                               resp, st);
    }
    if (status == 401 || status == 403) {
        char m[128];
        snprintf(m, sizeof m, "HTTP %ld; check its key_file or key_env", status);
        return upstream_failed(pr, 502, "refused cordond's provider key", m, resp, st);
    }
    if (status >= 500) {
        char m[64];
        snprintf(m, sizeof m, "HTTP %ld", status);
        return upstream_failed(pr, 502, "answered with a server error", m, resp, st);
    }
    if (pr->call && (status < 200 || status >= 300))
        engine_call_no_charge(pr->call); /* the provider's refusal costs nothing */
    if (pr->call && status >= 200 && status < 300 && engine_call_stream(pr->call)) {
        engine_call_upstream(pr->call, 1, NULL);
        pr->phase = P_STREAM;
        *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, pr, NULL);
        if (!*resp)
            return -1;
        MHD_add_response_header(*resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/event-stream; charset=utf-8");
        MHD_add_response_header(*resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        *st = 200;
        return 0;
    }
    if (pr->call)
        engine_call_upstream(pr->call, 1, NULL);
    pr->phase = P_BODY;
    return 2;
}

/* The whole answer is in: filter or judge it, and send it. */
static int body_done(struct proxy_req *pr, enum up_state us, struct MHD_Response **resp,
                     unsigned *st)
{
    if (us != UP_DONE)
        return upstream_failed(pr, us == UP_TIMEOUT ? 504 : 502,
                               us == UP_TIMEOUT ? "timed out in the answer"
                                                : "failed in the answer",
                               upstream_error(pr->uc), resp, st);
    const char *ans = pr->ans ? pr->ans : "";
    if (pr->models) {
        char *o = NULL;
        size_t ol = 0;
        if (pr->status != 200 ||
            engine_models_filter(pr->pe->engine, ans, pr->ans_len, &o, &ol) != 0) {
            free(o);
            return upstream_failed(pr, 502, "did not answer with a model list", NULL, resp, st);
        }
        *resp = buf_response(o, ol, "application/json");
        free(o);
        *st = 200;
        pr->phase = P_DONE;
        return *resp ? 0 : -1;
    }
    const char *out = ans;
    size_t out_len = pr->ans_len;
    if (pr->status >= 200 && pr->status < 300) {
        int v = engine_call_response(pr->call, ans, pr->ans_len, &out, &out_len);
        if (v == ENGINE_ALLOW) {
            out = ans;
            out_len = pr->ans_len;
        } else if (v < 0) {
            return upstream_failed(pr, 502,
                                   "answered a body that is not JSON of its "
                                   "format",
                                   NULL, resp, st);
        }
    }
    *resp = buf_response(out, out_len, "application/json");
    *st = (unsigned)pr->status;
    record(pr);
    pr->phase = P_DONE;
    return *resp ? 0 : -1;
}

int proxy_serve(struct proxy *p, struct MHD_Connection *c, struct proxy_req **prp, const char *url,
                const char *method, char **body, size_t len, struct MHD_Response **resp,
                unsigned *status)
{
    *resp = NULL;
    struct proxy_req *pr = *prp;
    if (!pr) {
        pr = calloc(1, sizeof *pr);
        if (!pr)
            return -1;
        pr->p = p;
        pr->conn = c;
        pr->t0 = clock_mono_ms();
        pr->body = *body;
        pr->body_len = len;
        *body = NULL;
        *prp = pr;
    }
    int rc = 1;
    if (pr->phase == P_NEW) {
        rc = start(pr, url, method, resp, status);
        if (rc <= 0)
            return rc;
    }
    if (pr->phase == P_HEAD) {
        rc = head(pr, resp, status);
        if (rc <= 0 || rc == 1)
            return rc < 0 ? -1 : 0;
    }
    if (pr->phase == P_BODY) {
        enum up_state us;
        if (gather(pr, &us) != 0)
            return upstream_failed(pr, 502,
                                   "answered more than cordond holds for one "
                                   "answer",
                                   NULL, resp, status);
        if (us == UP_RUNNING)
            return 0; /* parked */
        return body_done(pr, us, resp, status);
    }
    return *resp ? 0 : -1;
}
