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
#include "policy/server/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/glob.h"
#include "base/secret.h"
#include "policy/engine/engine.h"
#include "policy/server/anomaly.h"
#include "policy/server/events.h"
#include "policy/server/identity.h"
#include "policy/server/ledger.h"
#include "policy/server/server.h"
#include "policy/server/sessions.h"
#include "policy/server/upstream.h"

#define MAX_ANSWER (64u << 20) /* a whole (non-streamed) answer */
#define DRAIN_BYTES (8u << 20) /* read on after the client left, at most */
#define DRAIN_MS 30000u

struct proxy {
    struct srv *s;
    pthread_mutex_t streams_mu; /* the open streams, for proxy_quarantined */
    struct proxy_req *streams;
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
    struct data_vault *vault; /* the session's tokenize vault, held for the call (sessions.h) */
    int up;                   /* index in cfg.upstreams */
    struct up_call *uc;
    char *body; /* the client's body (owned) */
    size_t body_len;
    long status;
    char *ans; /* a gathered answer */
    size_t ans_len, ans_cap;
    char *out; /* stream bytes for the client not yet taken by MHD */
    size_t out_off, out_len, out_cap;
    char *dst; /* inside stream_reader: MHD's own buffer, which emit fills first */
    size_t dst_len, dst_max;
    int ended, recorded, detached;
    int quarantined; /* refused for a quarantine: not counted again by the anomaly response */
    uint64_t qgen;   /* anomaly_generation() when the call started */
    struct proxy_req *snext, *sprev; /* in p->streams while listed */
    int listed;
    int64_t t0;
};

/* ------------------------------------------------------------ keys and routing */

int proxy_open(struct srv *s, struct proxy **out, char *err, size_t errlen)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->s = s;
    pthread_mutex_init(&p->streams_mu, NULL);
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
    pthread_mutex_destroy(&p->streams_mu);
    for (size_t i = 0; i < CONFIG_MAX_UPSTREAMS; i++)
        secret_free(p->key[i], p->key_len[i]);
    free(p);
}

/* A stream is listed while its client is there to be woken: from its start to its end or its
 * detach. */
static void stream_list(struct proxy_req *pr, int on)
{
    struct proxy *p = pr->p;
    pthread_mutex_lock(&p->streams_mu);
    if (on && !pr->listed) {
        pr->sprev = NULL;
        pr->snext = p->streams;
        if (p->streams)
            p->streams->sprev = pr;
        p->streams = pr;
        pr->listed = 1;
    } else if (!on && pr->listed) {
        if (pr->sprev)
            pr->sprev->snext = pr->snext;
        else
            p->streams = pr->snext;
        if (pr->snext)
            pr->snext->sprev = pr->sprev;
        pr->listed = 0;
    }
    pthread_mutex_unlock(&p->streams_mu);
}

void proxy_quarantined(struct proxy *p, const char *agent)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->streams_mu);
    for (struct proxy_req *pr = p->streams; pr; pr = pr->snext)
        if (pr->uc && strcmp(pr->who.agent, agent) == 0)
            upstream_nudge(pr->uc);
    pthread_mutex_unlock(&p->streams_mu);
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

/* ------------------------------------------------------------ the anomaly response */

/* The price of a call from api.budget.prices (the first glob matching the model), in
 * micro-dollars; 0 when no price names it. */
static uint64_t call_micro_usd(const struct policy *p, const char *model, uint64_t in, uint64_t out)
{
    for (size_t i = 0; model && i < p->api.n_prices; i++)
        if (glob_match(p->api.prices[i].model, model)) {
            double usd = ((double)in * p->api.prices[i].input_per_mtok +
                          (double)out * p->api.prices[i].output_per_mtok) /
                         1e6;
            return usd > 0 && usd < 1e12 ? (uint64_t)(usd * 1e6) : 0;
        }
    return 0;
}

/* What one finished call adds to its agent's windows (anomaly.h): a request, its tokens and
 * price, a denial for a refusal of a policy stage (decided, in observe mode too) and for each
 * tool call removed, and the tools the model called. */
static void anomaly_count_call(struct proxy_req *pr)
{
    struct anomaly *a = pr->p->s->anomaly;
    if (!a || pr->quarantined || !pr->pe)
        return;
    const struct policy *p = pr->pe->policy;
    const char *agent = pr->who.agent;
    const struct engine_call *c = pr->call;
    (void)anomaly_note(a, agent, p, ANOMALY_REQUESTS, 1, NULL, 0);
    uint64_t in = 0, out = 0;
    engine_call_tokens(c, &in, &out);
    if (in + out)
        (void)anomaly_note(a, agent, p, ANOMALY_TOKENS, in + out, NULL, 0);
    uint64_t micro = call_micro_usd(p, engine_call_model(c), in, out);
    if (micro)
        (void)anomaly_note(a, agent, p, ANOMALY_SPEND, micro, NULL, 0);
    for (int s = ENGINE_STAGE_MODELS; s < ENGINE_STAGE_UPSTREAM; s++) {
        const struct engine_decision *d =
            engine_call_decision(c, (enum engine_stage_id)s, ENGINE_HOOK_REQUEST);
        if (d && d->ran && d->verdict == ENGINE_REFUSE) {
            char what[96];
            snprintf(what, sizeof what, "model.call %s", d->why.code);
            (void)anomaly_note(a, agent, p, ANOMALY_DENIALS, 1, what, 0);
            break;
        }
    }
    const char *name;
    for (size_t i = 0; (name = engine_call_tool_removed(c, i)); i++) {
        char what[96];
        snprintf(what, sizeof what, "tool call %.70s", name);
        (void)anomaly_note(a, agent, p, ANOMALY_DENIALS, 1, what, 0);
    }
    for (size_t i = 0; (name = engine_call_tool_name(c, i)); i++)
        (void)anomaly_note(a, agent, p, ANOMALY_TOOLS, 1, name, 0);
}

/* The engine's record without the members the audit log sets itself (type, agent). */
static void record(struct proxy_req *pr)
{
    if (pr->recorded || !pr->call)
        return;
    pr->recorded = 1;
    engine_call_finish(pr->call, (uint64_t)(clock_mono_ms() - pr->t0));
    anomaly_count_call(pr);
    char *j = engine_call_audit_json(pr->call);
    if (!j)
        return;
    char head[AGENTS_NAME_MAX + 64];
    snprintf(head, sizeof head, "{\"type\":\"model_call\",\"agent\":\"%s\",", pr->who.agent);
    size_t hl = strlen(head);
    /* The pipeline's first stage, cordond's own (the engine starts at quarantine): who the
     * credential named, and which kind of credential it was. The engine's record is built by
     * jbuf, compact and escaped: the append skips its parse (the audit writer still checks it
     * in full before it is written). */
    if (strncmp(j, head, hl) == 0) {
        size_t jl = strlen(j + hl);
        char *line = malloc(jl + 160);
        if (line) {
            int n = snprintf(line, jl + 160,
                             "{\"identity\":{\"decision\":\"allow\",\"via\":\"%s\",\"key_id\":"
                             "\"%s\"},%s",
                             pr->who.via_session ? "session_token" : "agent_key", pr->who.key_id,
                             j + hl);
            if (n > 0 && (size_t)n < jl + 160)
                (void)srv_audit_trusted(pr->p->s, "model.call", pr->who.agent, line);
            free(line);
        } else { /* no memory for the identity's part: the record goes without it */
            j[hl - 1] = '{';
            (void)srv_audit_trusted(pr->p->s, "model.call", pr->who.agent, j + hl - 1);
        }
    } else {
        (void)srv_audit_trusted(pr->p->s, "model.call", pr->who.agent, j);
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
    /* the model list speaks Anthropic's API to a client that says it does */
    d.shape = pr->fmt == ENGINE_MESSAGES ||
                      (pr->models &&
                       MHD_lookup_connection_value(pr->conn, MHD_HEADER_KIND, "anthropic-version"))
                  ? DECISION_SHAPE_ANTHROPIC
                  : DECISION_SHAPE_OPENAI;
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

/* A throttled agent (api.anomaly on_trigger throttle): 429 with Retry-After. */
static int refuse_throttled(struct proxy_req *pr, unsigned retry, struct MHD_Response **resp,
                            unsigned *st)
{
    char m[256], ra[16];
    snprintf(m, sizeof m,
             "agent %s is throttled by cordond's anomaly response (api.anomaly.on_trigger "
             "\"throttle\"): retry in %u s",
             pr->who.agent, retry);
    int rc = refuse_plain(pr, 429, "throttled", "api.anomaly", m, resp, st);
    snprintf(ra, sizeof ra, "%u", retry);
    if (*resp)
        MHD_add_response_header(*resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    return rc;
}

/* A budget or rate refusal (429) told on the agent's event channel, once per scope
 * (events_refusal): the scope is the policy key the engine's message names. */
static void tell_refusal(struct proxy_req *pr, const char *body, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
    const char *msg = cJSON_IsString(m) ? m->valuestring : NULL;
    const char *p = msg ? strstr(msg, "api.budget.") : NULL;
    if (msg && !p)
        p = strstr(msg, "api.rate.");
    char scope[64];
    size_t n = 0;
    while (p && n + 1 < sizeof scope && ((*p >= 'a' && *p <= 'z') || *p == '.' || *p == '_'))
        scope[n++] = *p++;
    scope[n] = '\0';
    if (n)
        events_refusal(pr->p->s, pr->who.agent, scope, msg);
    cJSON_Delete(j);
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
    if (status == 429 && retry && pr->who.agent[0])
        tell_refusal(pr, body, len);
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

/* The engine's output: straight into MHD's buffer while the content reader runs and nothing
 * waits before it, the rest (or all, outside the reader) into out. */
static int emit(void *ud, const char *buf, size_t len)
{
    struct proxy_req *pr = ud;
    if (pr->detached)
        return 0;
    if (pr->dst && pr->out_off == pr->out_len) {
        size_t n = pr->dst_max - pr->dst_len;
        if (n > len)
            n = len;
        memcpy(pr->dst + pr->dst_len, buf, n);
        pr->dst_len += n;
        buf += n;
        len -= n;
    }
    return out_add(pr, buf, len);
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

/* A quarantine that lands while the stream runs ends it, checked between chunks: the engine
 * says why in the stream's own error shape, and the call is recorded. 1 when it ended. */
static int quarantine_cut(struct proxy_req *pr)
{
    struct anomaly *a = pr->p->s->anomaly;
    int64_t since = 0;
    if (!a || anomaly_generation(a) == pr->qgen)
        return 0;
    pr->qgen = anomaly_generation(a);
    if (!anomaly_quarantined(a, pr->who.agent, &since))
        return 0;
    struct engine_reason why = {.status = 403};
    snprintf(why.code, sizeof why.code, "cordon.quarantined");
    snprintf(why.message, sizeof why.message,
             "agent \"%s\" was quarantined by cordond's anomaly response while this stream "
             "ran; it is closed, and every model call and tunnel is refused until an "
             "administrator runs `cordon agent release %s`",
             pr->who.agent, pr->who.agent);
    pr->ended = 1;
    if (engine_stream_error(pr->call, &why, emit, pr) != 0 ||
        engine_stream_end(pr->call, emit, pr) != 0)
        pr->detached = 1;
    record(pr);
    return 1;
}

/* MHD's content reader of a streamed answer: what waits in out first, then the engine's
 * output of what the upstream queued, written into buf as it is emitted. */
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
        if (quarantine_cut(pr))
            continue; /* the in-stream error is queued, and the stream ended */
        enum up_state st;
        long status;
        size_t n = upstream_read(pr->uc, tmp, sizeof tmp, &st, &status, park, pr);
        pr->dst = buf;
        pr->dst_len = 0;
        pr->dst_max = max;
        if (n) {
            int rc = engine_stream_feed(pr->call, tmp, n, emit, pr);
            if (rc < 0) {
                pr->ended = 1; /* the engine emitted its in-stream error */
                record(pr);
            }
        } else if (st != UP_RUNNING) {
            stream_close(pr, st);
        }
        pr->dst = NULL;
        if (pr->dst_len)
            return (ssize_t)pr->dst_len;
        if (n == 0 && st == UP_RUNNING)
            return 0; /* suspended until the loop's wake */
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
    stream_list(pr, 0);
    if (pr->uc)
        upstream_release(pr->uc);
    engine_call_free(pr->call);
    sessions_vault_release(pr->p->s->sessions, pr->vault); /* after the call: it borrows it */
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
    /* pr->uc stays readable until this returns (its error says why a stream broke off, at a
     * stop too), and the loop frees it after: req_free must not release it */
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
    pr->uc = NULL; /* the loop's to free */
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
        stream_list(pr, 0); /* no client to wake any more */
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
    char url[700], hdr[3][600]; /* upstream_call copies the headers */
    endpoint_url(u, path, url, sizeof url);
    struct up_request rq = {.url = url,
                            .body = fwd,
                            .len = fwd_len,
                            .ca_file = u->ca_file[0] ? u->ca_file : NULL,
                            .wake = wake,
                            .ud = pr};
    size_t n = 0;
    if (fwd)
        rq.headers[n++] = "Content-Type: application/json";
    rq.headers[n++] = "Expect:";
    if (u->kind == CONFIG_UPSTREAM_KIND_ANTHROPIC) {
        const char *v = MHD_lookup_connection_value(pr->conn, MHD_HEADER_KIND, "anthropic-version");
        const char *b = MHD_lookup_connection_value(pr->conn, MHD_HEADER_KIND, "anthropic-beta");
        snprintf(hdr[0], sizeof hdr[0], "anthropic-version: %.500s", v ? v : "2023-06-01");
        rq.headers[n++] = hdr[0];
        if (b) {
            snprintf(hdr[1], sizeof hdr[1], "anthropic-beta: %.500s", b);
            rq.headers[n++] = hdr[1];
        }
        if (key) {
            snprintf(hdr[2], sizeof hdr[2], "x-api-key: %s", key);
            rq.headers[n++] = hdr[2];
        }
    } else if (key) {
        snprintf(hdr[2], sizeof hdr[2], "Authorization: Bearer %s", key);
        rq.headers[n++] = hdr[2];
    }
    int rc = upstream_call(pr->p->loop, &rq, &pr->uc);
    sodium_memzero(hdr[2], sizeof hdr[2]); /* the key: upstream_call copied it */
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
    int64_t q_since = 0;
    unsigned retry = 0;
    int gate = s->anomaly ? anomaly_gate(s->anomaly, pr->who.agent, 0, 0, &q_since, &retry) : 0;
    if (s->anomaly)
        pr->qgen = anomaly_generation(s->anomaly);
    if (gate == ANOMALY_THROTTLED)
        return refuse_throttled(pr, retry, resp, st);
    pr->quarantined = gate == ANOMALY_QUARANTINED;
    if (pr->quarantined && pr->models)
        return refuse_plain(pr, 403, "quarantined", "api.anomaly",
                            "this agent is quarantined by cordond's anomaly response; every "
                            "model call is refused until an administrator runs `cordon agent "
                            "release`",
                            resp, st);
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
    if (pr->who.via_session) /* api.data tokenize: restored in the same session's answers */
        pr->vault = sessions_vault_acquire(s->sessions, pr->who.agent, pr->who.session);
    struct engine_call_info info = {.format = pr->fmt,
                                    .agent = pr->who.agent,
                                    .session = pr->who.via_session ? pr->who.session : NULL,
                                    .budget = s->ledger ? &ledger_engine_ops : NULL,
                                    .budget_ud = s->ledger,
                                    .quarantined = pr->quarantined,
                                    .quarantined_since_ms = q_since,
                                    .vault = pr->vault,
                                    .data_key = pr->p->s->data_key};
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

/* Take what the upstream queued: the first piece becomes the answer's buffer as it is (a
 * small answer arrives whole, so it is neither copied nor grown), later pieces are appended.
 * Returns 0 with *st UP_RUNNING when parked, or with the final state. */
static int gather(struct proxy_req *pr, enum up_state *st)
{
    for (;;) {
        size_t n;
        long status;
        char *q = upstream_take(pr->uc, &n, st, &status, park, pr);
        if (!q)
            return 0;
        if (!pr->ans) {
            pr->ans = q;
            pr->ans_len = n;
            pr->ans_cap = n + 1;
        } else {
            if (pr->ans_len + n + 1 > pr->ans_cap) {
                size_t cap = pr->ans_cap * 2;
                while (cap < pr->ans_len + n + 1)
                    cap *= 2;
                char *nb = realloc(pr->ans, cap);
                if (!nb) {
                    free(q);
                    return -ENOMEM;
                }
                pr->ans = nb;
                pr->ans_cap = cap;
            }
            memcpy(pr->ans + pr->ans_len, q, n + 1);
            pr->ans_len += n;
            free(q);
        }
        if (pr->ans_len > MAX_ANSWER)
            return -EFBIG;
        if (*st != UP_RUNNING)
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
        stream_list(pr, 1);
        /* A chunked answer is written into the connection's own pool (what the pool has
         * free), not the block: the block serves an HTTP/1.0 client only. */
        *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_reader, pr, NULL);
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

/* A model list served: a model.call record like the refusals of GET /v1/models, with the
 * upstream asked and how many of its models the policy let through. */
static void record_models(struct proxy_req *pr, const char *list, size_t len)
{
    size_t upstream_n = 0, listed = 0;
    cJSON *in = cJSON_ParseWithLength(pr->ans ? pr->ans : "", pr->ans_len);
    cJSON *out = cJSON_ParseWithLength(list, len);
    upstream_n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(in, "data"));
    listed = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "data"));
    cJSON_Delete(in);
    cJSON_Delete(out);
    struct decision d;
    decision_init(&d, DECISION_REQUEST, "model.call");
    d.agent = pr->who.agent;
    d.key_id = pr->who.key_id[0] ? pr->who.key_id : NULL;
    d.what = "/v1/models";
    jbuf_key(&d.fields, "endpoint");
    jbuf_str(&d.fields, "/v1/models", 0);
    jbuf_key(&d.fields, "session");
    if (pr->who.via_session)
        jbuf_str(&d.fields, pr->who.session, 0);
    else
        jbuf_raw(&d.fields, "null");
    jbuf_key(&d.fields, "decision");
    jbuf_str(&d.fields, "allow", 0);
    jbuf_key(&d.fields, "status");
    jbuf_u64(&d.fields, 200);
    jbuf_key(&d.fields, "upstream");
    jbuf_str(&d.fields, pr->p->s->cfg.upstreams[pr->up].name, 0);
    jbuf_key(&d.fields, "upstream_models");
    jbuf_u64(&d.fields, upstream_n);
    jbuf_key(&d.fields, "models_listed");
    jbuf_u64(&d.fields, listed);
    (void)srv_decide(pr->p->s, &d);
    decision_done(&d);
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
        record_models(pr, o, ol);
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
        if (v == ENGINE_REFUSE) /* the data stage blocked a value of the answer */
            return refuse_engine(pr, resp, st);
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
