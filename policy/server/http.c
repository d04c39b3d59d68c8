/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP endpoints of cordond (see http.h for the threading model). One route table names
 * every endpoint: its method, its path (or path prefix), its handler, the listener it belongs
 * to and the label /metrics counts it under, so that an endpoint is one line here and nowhere
 * else. Every answer about a request goes through srv_decide() (decision.h): a refusal is the
 * error JSON of docs/PROTOCOL.md, {"error":{"code":"cordon.<what>","message":"..."}}, names
 * the case and what to do, and is audited whenever it judges a caller (a key, a token, a peer).
 */
#include "policy/server/http.h"
#include "policy/server/log.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "policy/audit/audit.h"
#include "policy/engine/engine.h"
#include "policy/server/anomaly.h"
#include "policy/server/peer.h"
#include "policy/server/identity.h"
#include "policy/server/kaudit.h"
#include "policy/server/budget.h"
#include "policy/server/proxy.h"
#include "policy/server/server.h"
#include "policy/server/sessions.h"

struct req;
typedef enum MHD_Result (*route_fn)(struct srv *s, struct MHD_Connection *c, struct req *r);

#define M_GET 0x1
#define M_HEAD 0x2
#define M_POST 0x4
#define M_ANY 0x7

#define R_PREFIX 0x1 /* path is a prefix; else the whole path */
#define R_ADMIN 0x2  /* served on admin_listen only; the others on listen only */
#define R_TOKEN 0x4  /* needs the admin token */
#define R_PROXY 0x8  /* the model proxy: body limit proxy_max_body */

struct route {
    const char *path;
    unsigned flags;
    unsigned methods; /* M_*; a listed path with another method is a 405 */
    route_fn fn;
    const char *label; /* cordon_http_requests_total{path=LABEL} */
    size_t max_body;
};

static enum MHD_Result do_policy(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result do_healthz(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result do_metrics(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_list(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_add(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_revoke(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_reload(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_push(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_unknown(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_release(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result admin_status(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result not_found(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result do_proxy(struct srv *s, struct MHD_Connection *c, struct req *r);
static enum MHD_Result do_budget(struct srv *s, struct MHD_Connection *c, struct req *r);

#define SMALL HTTP_MAX_SMALL_BODY
#define ADMIN_AUTH (R_ADMIN | R_TOKEN)

/* The first entry whose path matches decides; entries with the same path differ by method.
 * The last one matches everything. */
static const struct route routes[] = {
    {"/v1/policy", 0, M_GET | M_HEAD, do_policy, "/v1/policy", SMALL},
    {"/healthz", 0, M_GET | M_HEAD, do_healthz, "/healthz", SMALL},
    {"/metrics", 0, M_GET | M_HEAD, do_metrics, "/metrics", SMALL},
    {"/v1/admin/agents", ADMIN_AUTH, M_GET, admin_list, "/v1/admin", SMALL},
    {"/v1/admin/agents", ADMIN_AUTH, M_POST, admin_add, "/v1/admin", SMALL},
    {"/v1/admin/agents/revoke", ADMIN_AUTH, M_POST, admin_revoke, "/v1/admin", SMALL},
    {"/v1/admin/reload", ADMIN_AUTH, M_POST, admin_reload, "/v1/admin", SMALL},
    {"/v1/admin/policies", ADMIN_AUTH, M_POST, admin_push, "/v1/admin", HTTP_MAX_BODY},
    {"/v1/admin/agents/release", ADMIN_AUTH, M_POST, admin_release, "/v1/admin", SMALL},
    {"/v1/admin/status", ADMIN_AUTH, M_GET, admin_status, "/v1/admin", SMALL},
    {"/v1/admin/", R_PREFIX | R_ADMIN, M_ANY, admin_unknown, "/v1/admin", SMALL},
    {"/v1/chat/completions", R_PROXY, M_POST, do_proxy, "/v1/chat/completions", 0},
    {"/chat/completions", R_PROXY, M_POST, do_proxy, "/v1/chat/completions", 0},
    {"/v1/responses", R_PROXY, M_POST, do_proxy, "/v1/responses", 0},
    {"/responses", R_PROXY, M_POST, do_proxy, "/v1/responses", 0},
    {"/v1/messages", R_PROXY, M_POST, do_proxy, "/v1/messages", 0},
    {"/messages", R_PROXY, M_POST, do_proxy, "/v1/messages", 0},
    {"/v1/embeddings", R_PROXY, M_POST, do_proxy, "/v1/embeddings", 0},
    {"/embeddings", R_PROXY, M_POST, do_proxy, "/v1/embeddings", 0},
    {"/v1/models", R_PROXY, M_GET, do_proxy, "/v1/models", 0},
    {"/v1/budget", 0, M_GET | M_HEAD, do_budget, "/v1/budget", SMALL},
    {"/budget", 0, M_GET | M_HEAD, do_budget, "/v1/budget", SMALL},
    {"/models", R_PROXY, M_GET, do_proxy, "/v1/models", 0},
    {"", R_PREFIX, M_ANY, not_found, "other", SMALL},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Responses are counted by route and status, 100 to 599. */
#define STATUS_MIN 100
#define STATUS_SLOTS 500

struct http;

/* One per daemon: the agent-facing listeners serve everything but the admin endpoints, the
 * admin listener (admin_listen) serves those alone. */
struct listener {
    struct srv *s;
    struct http *h;
    int admin;
};

struct http {
    size_t n;
    struct MHD_Daemon *d[CONFIG_MAX_LISTEN + 1];
    struct listener l[CONFIG_MAX_LISTEN + 1];
    uint64_t (*hits)[STATUS_SLOTS]; /* [N_ROUTES]: responses by route and status */
};

struct req {
    const struct listener *L;
    size_t route; /* index in routes[] */
    const char *url, *method;
    pid_t peer_pid; /* the admin listener's peer, once judged */
    char *body;
    size_t len, max, cap;
    size_t declared; /* Content-Length, when sent and within max: the body buffer's size */
    int too_big;
    int answered;            /* refused before the body: the rest of the upload is discarded */
    struct proxy_req *proxy; /* a model proxy request (proxy.h) */
};

static unsigned method_bit(const char *m)
{
    return strcmp(m, "GET") == 0    ? M_GET
           : strcmp(m, "HEAD") == 0 ? M_HEAD
           : strcmp(m, "POST") == 0 ? M_POST
                                    : 0;
}

static int path_matches(const struct route *rt, const char *url)
{
    if (rt->flags & R_PREFIX)
        return strncmp(url, rt->path, strlen(rt->path)) == 0;
    return strcmp(url, rt->path) == 0;
}

/* The route for url and method: the first entry whose path matches, or the entry of the same
 * path that takes this method. *allowed gets the methods that path takes. */
static size_t route_find(const char *url, const char *method, unsigned *allowed)
{
    size_t first = N_ROUTES - 1;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (path_matches(&routes[i], url)) {
            first = i;
            break;
        }
    unsigned m = method_bit(method);
    size_t hit = N_ROUTES;
    *allowed = 0;
    for (size_t i = first; i < N_ROUTES; i++) {
        if (strcmp(routes[i].path, routes[first].path) != 0 ||
            routes[i].flags != routes[first].flags)
            continue;
        *allowed |= routes[i].methods;
        if (hit == N_ROUTES && (routes[i].methods == M_ANY || (routes[i].methods & m)))
            hit = i;
    }
    return hit == N_ROUTES ? first : hit;
}

/* ------------------------------------------------------------ answers */

static enum MHD_Result queue(struct MHD_Connection *c, struct req *r, unsigned status,
                             struct MHD_Response *resp)
{
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_SLOTS)
        srv_count(&r->L->h->hits[r->route][status - STATUS_MIN], 1);
    return ret;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, struct req *r, unsigned status,
                                const char *type, const char *buf, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return queue(c, r, status, resp);
}

static enum MHD_Result send_json(struct MHD_Connection *c, struct req *r, unsigned status, cJSON *o)
{
    char *j = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!j)
        return MHD_NO;
    enum MHD_Result ret = send_buf(c, r, status, "application/json", j, strlen(j));
    free(j);
    return ret;
}

/* Decide d and, when it is a refusal, send it. *allowed (may be NULL) is 1 when the caller
 * must now answer the allowed request itself. */
static enum MHD_Result decide(struct srv *s, struct MHD_Connection *c, struct req *r,
                              struct decision *d, int *allowed)
{
    d->what = r->url;
    enum decision_outcome o = srv_decide(s, d);
    if (allowed)
        *allowed = o == DECISION_ALLOW;
    if (o == DECISION_ALLOW)
        return MHD_YES;
    enum MHD_Result ret =
        d->body ? send_buf(c, r, d->status, "application/json", d->body, d->body_len) : MHD_NO;
    decision_done(d);
    return ret;
}

/* The error shape of the model API a path belongs to (with or without /v1, as the SDKs build
 * their URLs), or cordond's own for any other path. */
static enum decision_shape api_shape(const char *url)
{
    static const char *const openai[] = {"/chat/completions", "/responses", "/embeddings",
                                         "/models"};
    if (!url)
        return DECISION_SHAPE_CORDON;
    if (strncmp(url, "/v1/", 4) == 0)
        url += 3;
    if (strcmp(url, "/messages") == 0)
        return DECISION_SHAPE_ANTHROPIC;
    for (size_t i = 0; i < sizeof openai / sizeof openai[0]; i++)
        if (strcmp(url, openai[i]) == 0)
            return DECISION_SHAPE_OPENAI;
    return DECISION_SHAPE_CORDON;
}

/* A refusal for the form of the request (unknown path, method, size, body): counted with the
 * responses, not audited, since it names and judges nobody. */
__attribute__((format(printf, 5, 6))) static enum MHD_Result refuse(struct srv *s,
                                                                    struct MHD_Connection *c,
                                                                    struct req *r, unsigned status,
                                                                    const char *fmt, ...)
{
    static const struct {
        unsigned status;
        const char *code;
    } codes[] = {{400, "bad_request"},
                 {404, "not_found"},
                 {405, "method_not_allowed"},
                 {413, "too_large"},
                 {503, "audit_failed"}};
    const char *code = "error";
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].status == status)
            code = codes[i].code;
    struct decision d;
    decision_init(&d, DECISION_REQUEST, NULL);
    va_list ap;
    va_start(ap, fmt);
    char msg[DECISION_MESSAGE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    decision_refuse(&d, status, code, NULL, "%s", msg);
    d.shape = api_shape(r->url);
    if (d.shape == DECISION_SHAPE_OPENAI && strstr(r->url, "/models") &&
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "anthropic-version"))
        d.shape = DECISION_SHAPE_ANTHROPIC; /* the model list, asked by an Anthropic client */
    return decide(s, c, r, &d, NULL);
}

/* The client's address, for the record of a refusal whose key names nobody. */
static const char *peer_text(struct MHD_Connection *c, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "unknown");
    if (!ci || !ci->client_addr)
        return out;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_UNIX)
        snprintf(out, outlen, "unix");
    return out;
}

/* The bearer value of a header, or NULL (and *why set) when missing or not Bearer. */
static const char *bearer(struct MHD_Connection *c, const char **why)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        *why = "missing";
        return NULL;
    }
    if (strncmp(h, "Bearer ", 7) != 0) {
        *why = "not a Bearer key";
        return NULL;
    }
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

/* ------------------------------------------------------------ /v1/policy */

/* The record of a policy fetch: key_id (when a key was identified), status, and for a served
 * policy its version and ETag. */
static void fetch_fields(struct decision *d, const char *key_id, unsigned status,
                         const struct pset_entry *e)
{
    struct jbuf *f = &d->fields;
    if (key_id) {
        jbuf_key(f, "key_id");
        jbuf_str(f, key_id, 0);
    }
    jbuf_key(f, "status");
    jbuf_u64(f, status);
    if (e) {
        char etag[32];
        snprintf(etag, sizeof etag, "v%" PRIu64, e->version);
        jbuf_key(f, "version");
        jbuf_u64(f, e->version);
        jbuf_key(f, "etag");
        jbuf_str(f, etag, 0);
    }
}

/* Who asks: a live agent key in Authorization: Bearer. Returns 1 with agent and id set, or 0
 * with d made the 401 (audited: a missing, revoked or unknown key is someone knocking). */
static int identify(struct srv *s, struct MHD_Connection *c, struct decision *d, char *agent,
                    char *id, char *peer, size_t peerlen)
{
    const char *why = NULL, *key = bearer(c, &why);
    struct identity who;
    int st = key ? identity_check(s, key, &who) : AGENTS_ERR_UNKNOWN;
    if (key) {
        memcpy(agent, who.agent, sizeof who.agent);
        memcpy(id, who.key_id, sizeof who.key_id);
    }
    if (key && st == AGENTS_OK)
        return 1;
    d->peer = peer_text(c, peer, peerlen);
    if (!key) {
        decision_refuse(d, 401, "unauthorized", "agent_key.missing",
                        "the Authorization header is %s; send Authorization: Bearer ck_... "
                        "with the agent's key (CORDON_KEY)",
                        why);
    } else if (st == AGENTS_ERR_REVOKED) {
        d->agent = agent;
        d->key_id = id;
        decision_refuse(d, 401, "key_revoked", "agent_key.revoked",
                        "the agent key was revoked; ask the administrator for a new one "
                        "(cordon agent add)");
    } else if (st == AGENTS_ERR_MALFORMED) {
        decision_refuse(d, 401, "unknown_key", "agent_key.malformed",
                        "the agent key is not ck_ followed by 43 base64url characters; check "
                        "CORDON_KEY");
    } else {
        decision_refuse(d, 401, "unknown_key", "agent_key.unknown",
                        "the agent key is unknown to this server; check CORDON_KEY and "
                        "CORDON_SERVER");
    }
    fetch_fields(d, d->key_id, 401, NULL);
    return 0;
}

static enum MHD_Result send_policy(struct srv *s, struct MHD_Connection *c, struct req *r,
                                   const struct pset_entry *e, int not_modified)
{
    struct MHD_Response *resp =
        not_modified
            ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(e->envelope_len, e->envelope, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, e->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Cordon-Proxy", s->proxy_addr);
    if (s->events_addr[0])
        MHD_add_response_header(resp, "Cordon-Events", s->events_addr);
    if (s->ca_header[0]) /* the deployment CA, for the shim's bundle (docs/PROTOCOL.md) */
        MHD_add_response_header(resp, "Cordon-CA", s->ca_header);
    if (!not_modified)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return queue(c, r, not_modified ? 304 : 200, resp);
}

static enum MHD_Result do_policy(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    struct decision d;
    decision_init(&d, DECISION_POLICY_FETCH, "policy.fetch");
    char agent[AGENTS_NAME_MAX + 1], id[AGENTS_ID_LEN + 1], peer[INET6_ADDRSTRLEN + 8];
    if (!identify(s, c, &d, agent, id, peer, sizeof peer))
        return decide(s, c, r, &d, NULL);
    d.agent = agent;
    d.key_id = id;
    struct pset *set = pset_acquire(s->psets);
    const struct pset_entry *e = pset_find(set, agent);
    if (!e) {
        pset_release(set);
        decision_refuse(&d, 404, "no_policy", "policy_set",
                        "agent %s has no policy on this server; add %s.json to the policies "
                        "directory and reload",
                        agent, agent);
        fetch_fields(&d, id, 404, NULL);
        return decide(s, c, r, &d, NULL);
    }
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int not_modified = inm && strcmp(inm, e->etag) == 0, allowed = 0;
    fetch_fields(&d, id, not_modified ? 304 : 200, e);
    /* Serving a policy requires audit: if the log has failed, refuse rather than serve
     * unrecorded. */
    d.audit_flags = DECISION_AUDIT_REQUIRED;
    d.audit_failed_msg = "the audit log cannot be written, so no policy is served; the "
                         "operator must fix the audit directory (disk full?) and restart cordond";
    enum MHD_Result ret = decide(s, c, r, &d, &allowed);
    if (allowed)
        ret = send_policy(s, c, r, e, not_modified);
    pset_release(set);
    return ret;
}

/* ------------------------------------------------------------ /healthz, /metrics */

static enum MHD_Result do_healthz(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    if (!srv_healthy(s))
        return refuse(s, c, r, 503,
                      "the audit log has failed; fix the audit directory and restart");
    static const char ok[] = "{\"status\":\"ok\"}";
    return send_buf(c, r, 200, "application/json", ok, sizeof ok - 1);
}

struct sbuf {
    char *p;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 8192) + (size_t)n;
        char *np = realloc(b->p, cap);
        if (!np)
            return;
        b->p = np;
        b->cap = cap;
    }
}

static uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* cordon_http_requests_total: one series per route label and status, the routes that share
 * a label (the admin endpoints) summed, labels in the order of the table. */
static void metrics_requests(struct http *h, struct sbuf *b)
{
    sb_add(b, "# HELP cordon_http_requests_total HTTP responses by path and status.\n"
              "# TYPE cordon_http_requests_total counter\n");
    for (size_t i = 0; i < N_ROUTES; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(routes[j].label, routes[i].label) == 0;
        if (seen)
            continue;
        for (unsigned st = 0; st < STATUS_SLOTS; st++) {
            uint64_t v = 0;
            for (size_t j = i; j < N_ROUTES; j++)
                if (strcmp(routes[j].label, routes[i].label) == 0)
                    v += ld(&h->hits[j][st]);
            if (v)
                sb_add(b, "cordon_http_requests_total{path=\"%s\",status=\"%u\"} %" PRIu64 "\n",
                       routes[i].label, st + STATUS_MIN, v);
        }
    }
}

static void metrics_decisions(struct srv *s, struct sbuf *b)
{
    sb_add(b, "# HELP cordon_decisions_total Decisions by kind and outcome.\n"
              "# TYPE cordon_decisions_total counter\n");
    for (int k = 0; k < DECISION_KIND_N; k++) {
        const char *kind = decision_kind_name((enum decision_kind)k);
        for (int o = 0; kind && o < DECISION_OUTCOME_N; o++)
            sb_add(b, "cordon_decisions_total{kind=\"%s\",decision=\"%s\"} %" PRIu64 "\n", kind,
                   decision_outcome_name((enum decision_outcome)o), ld(&s->m.decisions[k][o]));
    }
}

static void metrics_audit(struct srv *s, struct sbuf *b)
{
    struct audit_stats as;
    audit_stats_get(s->audit, &as);
    sb_add(b,
           "# TYPE cordon_audit_records gauge\ncordon_audit_records %" PRIu64 "\n"
           "# TYPE cordon_audit_synced gauge\ncordon_audit_synced %" PRIu64 "\n"
           "# TYPE cordon_audit_lag gauge\ncordon_audit_lag %" PRIu64 "\n"
           "# TYPE cordon_audit_failed gauge\ncordon_audit_failed %d\n",
           as.records, as.synced, as.records >= as.synced ? as.records - as.synced : 0,
           as.failed ? 1 : 0);
    sb_add(b,
           "# HELP cordon_audit_invalid_total Audit records refused as malformed, each lost to "
           "a defect of cordond (the log itself stays sound).\n"
           "# TYPE cordon_audit_invalid_total counter\ncordon_audit_invalid_total %" PRIu64 "\n",
           ld(&s->m.audit_invalid));
    struct kaudit_stats ks;
    kaudit_stats_get(s->kaudit, &ks);
    sb_add(b,
           "# HELP cordon_kernel_records_total Kernel audit records read (Landlock, seccomp, "
           "SYSCALL, EOE).\n# TYPE cordon_kernel_records_total counter\n"
           "cordon_kernel_records_total %" PRIu64 "\n"
           "# HELP cordon_kernel_denials_total Kernel refusals recorded as kernel.deny.\n"
           "# TYPE cordon_kernel_denials_total counter\ncordon_kernel_denials_total %" PRIu64
           "\n# HELP cordon_kernel_lost_total Refusals the kernel counted in a session's domain "
           "and never logged (kernel.loss).\n# TYPE cordon_kernel_lost_total counter\n"
           "cordon_kernel_lost_total %" PRIu64 "\n"
           "# HELP cordon_kernel_overruns_total Times the audit socket overflowed (records "
           "lost uncounted).\n# TYPE cordon_kernel_overruns_total counter\n"
           "cordon_kernel_overruns_total %" PRIu64 "\n"
           "# HELP cordon_kernel_unattributed_total Kernel refusals of processes in no known "
           "session.\n# TYPE cordon_kernel_unattributed_total counter\n"
           "cordon_kernel_unattributed_total %" PRIu64 "\n"
           "# HELP cordon_kernel_malformed_total Kernel audit records the parser refused.\n"
           "# TYPE cordon_kernel_malformed_total counter\ncordon_kernel_malformed_total %" PRIu64
           "\n# HELP cordon_kernel_domains_total Landlock domains mapped to a session.\n"
           "# TYPE cordon_kernel_domains_total counter\ncordon_kernel_domains_total %" PRIu64 "\n",
           ks.records, ks.denials, ks.lost, ks.overruns, ks.unattributed, ks.malformed, ks.domains);
    uint64_t calls, failed, timeouts;
    proxy_stats(s->proxy, &calls, &failed, &timeouts);
    sb_add(b,
           "# HELP cordon_upstream_calls_total Model calls sent to an upstream.\n"
           "# TYPE cordon_upstream_calls_total counter\ncordon_upstream_calls_total %" PRIu64
           "\n# HELP cordon_upstream_errors_total Model calls answered 502 or 504 for their "
           "upstream, by what failed.\n# TYPE cordon_upstream_errors_total counter\n"
           "cordon_upstream_errors_total{why=\"error\"} %" PRIu64 "\n"
           "cordon_upstream_errors_total{why=\"timeout\"} %" PRIu64 "\n",
           calls, ld(&s->m.proxy_upstream_errors), ld(&s->m.proxy_upstream_timeouts));
}

static void metrics_traffic(struct srv *s, struct sbuf *b)
{
    sb_add(b,
           "# TYPE cordon_tunnels_open gauge\ncordon_tunnels_open %" PRIu64 "\n"
           "# TYPE cordon_tunnels_total counter\ncordon_tunnels_total %" PRIu64 "\n"
           "# TYPE cordon_tunnel_bytes_total counter\n"
           "cordon_tunnel_bytes_total{direction=\"up\"} %" PRIu64 "\n"
           "cordon_tunnel_bytes_total{direction=\"down\"} %" PRIu64 "\n",
           ld(&s->m.tunnels_open), ld(&s->m.tunnels_total), ld(&s->m.tunnel_bytes_up),
           ld(&s->m.tunnel_bytes_down));
    sb_add(b,
           "# HELP cordon_origin_tls_handshakes_total TLS handshakes with the origins of "
           "terminated hosts, by whether they resumed a kept session.\n"
           "# TYPE cordon_origin_tls_handshakes_total counter\n"
           "cordon_origin_tls_handshakes_total{resumed=\"no\"} %" PRIu64 "\n"
           "cordon_origin_tls_handshakes_total{resumed=\"yes\"} %" PRIu64 "\n",
           ld(&s->m.origin_tls_full), ld(&s->m.origin_tls_resumed));
    sb_add(b,
           "# TYPE cordon_events_total counter\n"
           "cordon_events_total{outcome=\"accepted\"} %" PRIu64 "\n"
           "cordon_events_total{outcome=\"dropped\"} %" PRIu64 "\n"
           "cordon_events_total{outcome=\"malformed\"} %" PRIu64 "\n",
           ld(&s->m.events_accepted), ld(&s->m.events_dropped), ld(&s->m.events_malformed));
    sb_add(b,
           "# HELP cordon_admin_refused_total Admin requests refused for their peer (a governed "
           "or unidentified process).\n"
           "# TYPE cordon_admin_refused_total counter\ncordon_admin_refused_total %" PRIu64 "\n",
           ld(&s->m.admin_refused));
}

static void metrics_policies(struct srv *s, struct sbuf *b)
{
    uint64_t reloads, failures;
    pset_manager_stats(s->psets, &reloads, &failures);
    struct pset *set = pset_acquire(s->psets);
    sb_add(b,
           "# TYPE cordon_policy_set_generation gauge\ncordon_policy_set_generation %" PRIu64
           "\n# TYPE cordon_policy_set_agents gauge\ncordon_policy_set_agents %zu\n"
           "# TYPE cordon_policy_reloads_total counter\ncordon_policy_reloads_total %" PRIu64
           "\n# TYPE cordon_policy_reload_failures_total counter\n"
           "cordon_policy_reload_failures_total %" PRIu64 "\n",
           set->generation, set->n, reloads, failures);
    pset_release(set);
}

static enum MHD_Result do_metrics(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    struct sbuf b = {0};
    metrics_requests(r->L->h, &b);
    metrics_decisions(s, &b);
    metrics_audit(s, &b);
    metrics_traffic(s, &b);
    metrics_policies(s, &b);
    char *bm = budget_metrics(s);
    if (bm)
        sb_add(&b, "%s", bm);
    free(bm);
    char *am = s->anomaly ? anomaly_metrics(s->anomaly) : NULL;
    if (am)
        sb_add(&b, "%s", am);
    free(am);
    if (!b.p)
        return MHD_NO;
    enum MHD_Result ret = send_buf(c, r, 200, "text/plain; version=0.0.4", b.p, b.len);
    free(b.p);
    return ret;
}

/* ------------------------------------------------------------ admin: who asks */

/* The record of a refused admin request: admin.refused with path, peer_pid, verdict, why. */
static void admin_refused_fields(struct decision *d, const char *url, pid_t pid,
                                 const char *verdict, const char *why)
{
    struct jbuf *f = &d->fields;
    jbuf_key(f, "path");
    jbuf_str(f, url, 190);
    jbuf_key(f, "peer_pid");
    jbuf_i64(f, (int64_t)pid);
    jbuf_key(f, "verdict");
    jbuf_str(f, verdict, 0);
    jbuf_key(f, "why");
    jbuf_str(f, why, 490);
}

/*
 * Refuse an admin request from a governed process, or from a local process cordond cannot
 * name, before its token or body is looked at (policy/server/peer.h). Returns MHD_YES with
 * *refused clear when the peer may go on, else the queued 403.
 */
static enum MHD_Result admin_peer_gate(struct srv *s, struct MHD_Connection *c, struct req *r,
                                       int *refused)
{
    *refused = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    char why[400];
    pid_t pid = 0;
    enum peer_verdict v = PEER_UNKNOWN;
    if (ci)
        v = peer_check(ci->connect_fd, &pid, why, sizeof why);
    else
        snprintf(why, sizeof why, "the connection's socket is not known");
    r->peer_pid = pid;
    if (v == PEER_OUTSIDE || v == PEER_REMOTE)
        return MHD_YES;
    *refused = 1;
    struct decision d;
    decision_init(&d, DECISION_ADMIN, "admin.refused");
    d.also = &s->m.admin_refused;
    admin_refused_fields(&d, r->url, pid, v == PEER_GOVERNED ? "governed" : "unidentified", why);
    if (v == PEER_GOVERNED)
        decision_refuse(&d, 403, "admin_from_sandbox", NULL,
                        "cordond refuses admin requests from a governed process: %s. The "
                        "admin API is for administrators outside every sandbox, whatever "
                        "token they hold; run the command from a shell or unit without "
                        "NoNewPrivileges and a system call filter",
                        why);
    else
        decision_refuse(&d, 403, "admin_peer_unknown", NULL,
                        "cordond cannot tell which process sent this admin request (%s), so it "
                        "refuses it; use the unix admin socket (admin_listen) from a process "
                        "that stays connected until the answer",
                        why);
    return decide(s, c, r, &d, NULL);
}

/* The admin token, compared in constant time through its hash. Returns 1, or 0 with *why. */
static int admin_token_ok(struct srv *s, struct MHD_Connection *c, const char **why)
{
    if (!s->admin_on) {
        *why = "admin endpoints are off on this server (no admin_token_file)";
        return 0;
    }
    const char *tok = bearer(c, why);
    if (!tok) {
        *why = strcmp(*why, "missing") == 0 ? "the Authorization header is missing"
                                            : "the Authorization header is not a Bearer token";
        return 0;
    }
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)tok, strlen(tok));
    int ok = sodium_memcmp(h, s->admin_mac, 32) == 0;
    sodium_memzero(h, sizeof h);
    if (!ok)
        *why = "the admin token is wrong";
    return ok;
}

/* Returns MHD_YES with *refused clear when the token is right, else the queued 401 (audited
 * as admin.refused, verdict "unauthorized": someone tried the admin API without the token). */
static enum MHD_Result admin_token_gate(struct srv *s, struct MHD_Connection *c, struct req *r,
                                        int *refused)
{
    const char *why = NULL;
    *refused = !admin_token_ok(s, c, &why);
    if (!*refused)
        return MHD_YES;
    struct decision d;
    decision_init(&d, DECISION_ADMIN, "admin.refused");
    admin_refused_fields(&d, r->url, r->peer_pid, "unauthorized", why);
    decision_refuse(&d, 401, "unauthorized", "admin.token",
                    "%s; send Authorization: Bearer with the token from the server's "
                    "admin_token_file",
                    why);
    return decide(s, c, r, &d, NULL);
}

/* ------------------------------------------------------------ admin: what is asked */

/* Parse r->body as a JSON object whose members are all in allowed; NULL with msg set. */
static cJSON *parse_body(struct req *r, const char *const *allowed, char *msg, size_t msglen)
{
    if (!r->body || r->len == 0) {
        snprintf(msg, msglen, "the request body is empty; send a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(r->body, r->len, &end, 0);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(msg, msglen, "the request body is not a JSON object");
        return NULL;
    }
    while (end && (size_t)(end - r->body) < r->len && strchr(" \t\r\n", *end))
        end++;
    if (end && (size_t)(end - r->body) != r->len) {
        cJSON_Delete(o);
        snprintf(msg, msglen, "the request body has text after the JSON object");
        return NULL;
    }
    for (cJSON *it = o->child; it; it = it->next) {
        int known = 0;
        for (size_t i = 0; allowed[i]; i++)
            known |= strcmp(it->string, allowed[i]) == 0;
        char q[96];
        diag_quote(it->string, q, sizeof q);
        if (!known) {
            snprintf(msg, msglen, "unknown member %s in the request body", q);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static enum MHD_Result admin_list(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    (void)s;
    char *j = agents_list_json(s->agents);
    if (!j)
        return MHD_NO;
    enum MHD_Result ret = send_buf(c, r, 200, "application/json", j, strlen(j));
    free(j);
    return ret;
}

/* The body of add and revoke: {"agent":"NAME"}, or for revoke {"id":"ak_..."} instead. Returns
 * the parsed object with *which (the member's string) and *by_agent, or NULL with the 400
 * queued in *ret. */
static cJSON *agent_target(struct srv *s, struct MHD_Connection *c, struct req *r, int revoke,
                           const char **which, int *by_agent, enum MHD_Result *ret)
{
    static const char *const add_keys[] = {"agent", NULL};
    static const char *const rev_keys[] = {"agent", "id", NULL};
    char msg[512];
    cJSON *o = parse_body(r, revoke ? rev_keys : add_keys, msg, sizeof msg);
    if (!o) {
        *ret =
            refuse(s, c, r, 400, "%s; send %s", msg,
                   revoke ? "{\"agent\":\"NAME\"} or {\"id\":\"ak_...\"}" : "{\"agent\":\"NAME\"}");
        return NULL;
    }
    cJSON *ag = cJSON_GetObjectItemCaseSensitive(o, "agent");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    cJSON *w = ag ? ag : id;
    if (!cJSON_IsString(w) || (ag && id) || (ag && !agents_valid_name(ag->valuestring))) {
        cJSON_Delete(o);
        *ret = refuse(s, c, r, 400, "expected %s",
                      revoke ? "exactly one of agent (a valid agent name) or id"
                             : "agent: 1 to 64 letters, digits, '.', '_' or '-'");
        return NULL;
    }
    *which = w->valuestring;
    *by_agent = ag != NULL;
    return o;
}

/* An admin action that failed in cordond or its keys file (not a verdict on the caller). */
static enum MHD_Result admin_failed(struct srv *s, struct MHD_Connection *c, struct req *r,
                                    const char *code, const char *err)
{
    struct decision d;
    decision_init(&d, DECISION_ADMIN, NULL);
    decision_fail(&d, 500, code, NULL, "%s", err);
    return decide(s, c, r, &d, NULL);
}

static enum MHD_Result admin_add(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    const char *name;
    int by_agent;
    enum MHD_Result ret;
    cJSON *o = agent_target(s, c, r, 0, &name, &by_agent, &ret);
    if (!o)
        return ret;
    char err[512], key[AGENTS_KEY_LEN + 1], kid[AGENTS_ID_LEN + 1];
    if (agents_add(s->agents, name, key, kid, err, sizeof err) != 0) {
        ret = admin_failed(s, c, r, "agent_add_failed", err);
    } else {
        struct decision d;
        decision_init(&d, DECISION_ADMIN, "agent.add");
        d.agent = name;
        d.audit_flags = DECISION_AUDIT_SYNC;
        jbuf_key(&d.fields, "key_id");
        jbuf_str(&d.fields, kid, 0);
        (void)decide(s, c, r, &d, NULL); /* the key exists now: it is shown even unrecorded */
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "agent", name);
        cJSON_AddStringToObject(res, "id", kid);
        cJSON_AddStringToObject(res, "key", key);
        ret = send_json(c, r, 201, res);
    }
    sodium_memzero(key, sizeof key);
    cJSON_Delete(o);
    return ret;
}

static enum MHD_Result admin_revoke(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    const char *which;
    int by_agent;
    enum MHD_Result ret;
    cJSON *o = agent_target(s, c, r, 1, &which, &by_agent, &ret);
    if (!o)
        return ret;
    char err[512];
    size_t count = 0;
    if (agents_revoke(s->agents, which, &count, err, sizeof err) != 0) {
        ret = admin_failed(s, c, r, "agent_revoke_failed", err);
    } else if (count == 0) {
        struct decision d;
        decision_init(&d, DECISION_ADMIN, NULL);
        decision_refuse(&d, 404, "no_such_key", NULL,
                        "no live key matches %s; list them with `cordon agent list`",
                        by_agent ? "that agent" : "that id");
        ret = decide(s, c, r, &d, NULL);
    } else {
        struct decision d;
        decision_init(&d, DECISION_ADMIN, "agent.revoke");
        d.agent = by_agent ? which : NULL;
        d.audit_flags = DECISION_AUDIT_SYNC;
        if (!by_agent) {
            jbuf_key(&d.fields, "id");
            jbuf_str(&d.fields, which, 64);
        }
        jbuf_key(&d.fields, "count");
        jbuf_u64(&d.fields, count);
        (void)decide(s, c, r, &d, NULL); /* revoked already: the answer says so regardless */
        cJSON *res = cJSON_CreateObject();
        cJSON_AddNumberToObject(res, "revoked", (double)count);
        ret = send_json(c, r, 200, res);
    }
    cJSON_Delete(o);
    return ret;
}

/* A reload's answer: 200 with the set, or 422 with every diagnostic (the old set stays). */
static enum MHD_Result send_reload_result(struct srv *s, struct MHD_Connection *c, struct req *r,
                                          int rc, const struct diag *dg)
{
    if (rc != 0) {
        struct decision d;
        decision_init(&d, DECISION_ADMIN, NULL); /* srv_reload recorded policy.reload */
        d.diag = dg;
        decision_refuse(&d, 422, "policy_invalid", NULL,
                        "the new policy set was refused and the previous one is still served; "
                        "fix every diagnostic and retry");
        return decide(s, c, r, &d, NULL);
    }
    struct pset *set = pset_acquire(s->psets);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddNumberToObject(o, "generation", (double)set->generation);
    cJSON *arr = cJSON_AddArrayToObject(o, "agents");
    for (size_t i = 0; i < set->n; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "agent", set->v[i].agent);
        cJSON_AddNumberToObject(a, "version", (double)set->v[i].version);
        cJSON_AddItemToArray(arr, a);
    }
    pset_release(set);
    return send_json(c, r, 200, o);
}

static enum MHD_Result reload_and_answer(struct srv *s, struct MHD_Connection *c, struct req *r,
                                         const struct pset_source *src, size_t n, const char *why)
{
    struct diag *d = malloc(sizeof *d);
    if (!d)
        return MHD_NO;
    diag_init(d);
    int rc = srv_reload(s, src, n, why, d);
    enum MHD_Result ret = send_reload_result(s, c, r, rc, d);
    free(d);
    return ret;
}

static enum MHD_Result admin_reload(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    return reload_and_answer(s, c, r, NULL, 0, "admin");
}

/* The files of a push body, {"files":[{"name","content"}...]}: an array of n sources pointing
 * into o (the caller frees it, not the strings), or NULL with the 400 queued in *ret. */
static struct pset_source *push_sources(struct srv *s, struct MHD_Connection *c, struct req *r,
                                        cJSON *o, int *n, enum MHD_Result *ret)
{
    cJSON *files = cJSON_GetObjectItemCaseSensitive(o, "files");
    *n = cJSON_GetArraySize(files);
    if (!cJSON_IsArray(files) || *n < 1 || *n > 256) {
        *ret = refuse(s, c, r, 400,
                      "files: expected an array of 1 to 256 {\"name\","
                      "\"content\"} objects");
        return NULL;
    }
    struct pset_source *src = calloc((size_t)*n, sizeof *src);
    if (!src) {
        *ret = MHD_NO;
        return NULL;
    }
    int i = 0;
    for (cJSON *f = files->child; f; f = f->next, i++) {
        cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
        cJSON *ct = cJSON_GetObjectItemCaseSensitive(f, "content");
        if (!cJSON_IsObject(f) || !cJSON_IsString(nm) || !cJSON_IsString(ct) ||
            cJSON_GetArraySize(f) != 2) {
            free(src);
            *ret = refuse(s, c, r, 400,
                          "files[%d]: expected exactly {\"name\":\"AGENT.json\","
                          "\"content\":\"<policy text>\"}",
                          i);
            return NULL;
        }
        src[i].file = nm->valuestring;
        src[i].text = ct->valuestring;
        src[i].len = strlen(ct->valuestring);
    }
    return src;
}

static enum MHD_Result admin_push(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    static const char *const allowed[] = {"files", NULL};
    char msg[512];
    cJSON *o = parse_body(r, allowed, msg, sizeof msg);
    if (!o)
        return refuse(s, c, r, 400,
                      "%s; send {\"files\":[{\"name\":\"AGENT.json\","
                      "\"content\":\"...\"}]}",
                      msg);
    int n = 0;
    enum MHD_Result ret;
    struct pset_source *src = push_sources(s, c, r, o, &n, &ret);
    if (src)
        ret = reload_and_answer(s, c, r, src, (size_t)n, "push");
    free(src);
    cJSON_Delete(o);
    return ret;
}

/* POST /v1/admin/agents/release {"agent":"NAME"}: lift the agent's quarantine (anomaly.h),
 * which records anomaly.release. 404 when it is not quarantined. */
static enum MHD_Result admin_release(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    const char *name;
    int by_agent;
    enum MHD_Result ret;
    cJSON *o = agent_target(s, c, r, 0, &name, &by_agent, &ret);
    if (!o)
        return ret;
    int rc = s->anomaly ? anomaly_release(s->anomaly, name, "admin", 0) : 0;
    if (rc < 0) {
        char err[PATH_MAX + 256];
        snprintf(err, sizeof err,
                 "cannot write the quarantine state file in %s: %s; the agent stays "
                 "quarantined",
                 s->cfg.state_dir, strerror(-rc));
        ret = admin_failed(s, c, r, "release_failed", err);
    } else if (rc == 0) {
        struct decision d;
        decision_init(&d, DECISION_ADMIN, NULL);
        decision_refuse(&d, 404, "not_quarantined", NULL,
                        "agent %s is not quarantined; `cordon status` shows who is", name);
        ret = decide(s, c, r, &d, NULL);
    } else {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "agent", name);
        cJSON_AddBoolToObject(res, "released", 1);
        ret = send_json(c, r, 200, res);
    }
    cJSON_Delete(o);
    return ret;
}

/* One agent of GET /v1/admin/status: its policy, sessions and anomaly state. */
static cJSON *status_agent(struct srv *s, cJSON *list, const char *name)
{
    for (cJSON *it = list->child; it; it = it->next) {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "agent");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return it;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "agent", name);
    cJSON_AddNumberToObject(o, "sessions",
                            s->sessions ? (double)sessions_live(s->sessions, name) : 0);
    cJSON_AddNullToObject(o, "budget"); /* no ledger in this cordond */
    cJSON_AddItemToArray(list, o);
    return o;
}

/* The agent's budgets and rates as GET /v1/budget shows them to its agent key (budget.c):
 * "budget": {"budgets": [...], "rates": [...]}, or null when the policy sets none. */
static void status_budget(struct srv *s, cJSON *o, const char *agent, int64_t now)
{
    struct identity who;
    memset(&who, 0, sizeof who);
    snprintf(who.agent, sizeof who.agent, "%s", agent);
    char *j = NULL;
    cJSON *rep = budget_report(s, &who, now, &j) == 0 ? cJSON_Parse(j) : NULL;
    free(j);
    cJSON *b = cJSON_GetObjectItemCaseSensitive(rep, "budgets");
    cJSON *r = cJSON_GetObjectItemCaseSensitive(rep, "rates");
    if (cJSON_GetArraySize(b) + cJSON_GetArraySize(r) > 0) {
        cJSON *n = cJSON_CreateObject();
        cJSON_AddItemToObject(n, "budgets", cJSON_DetachItemViaPointer(rep, b));
        cJSON_AddItemToObject(n, "rates", cJSON_DetachItemViaPointer(rep, r));
        cJSON_AddItemToObject(n, "day", cJSON_DetachItemFromObject(rep, "day"));
        cJSON_AddItemToObject(n, "month", cJSON_DetachItemFromObject(rep, "month"));
        cJSON_ReplaceItemInObjectCaseSensitive(o, "budget", n);
    }
    cJSON_Delete(rep);
}

/* GET /v1/admin/status: every agent with a policy or anomaly state (`cordon status`). */
static enum MHD_Result admin_status(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    (void)r;
    int64_t now = clock_real_ms();
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "now_ms", (double)now);
    cJSON *list = cJSON_AddArrayToObject(res, "agents");
    struct pset *set = pset_acquire(s->psets);
    for (size_t i = 0; i < set->n; i++) {
        const struct pset_entry *e = &set->v[i];
        cJSON *o = status_agent(s, list, e->agent);
        cJSON_AddNumberToObject(o, "policy_version", (double)e->version);
        if (e->policy) {
            const struct policy *p = e->policy;
            cJSON_AddStringToObject(o, "mode", policy_mode_name(p->mode));
            cJSON *sch = cJSON_AddArrayToObject(o, "schedule");
            for (size_t k = 0; k < p->api.n_schedule; k++) {
                cJSON *w = cJSON_CreateObject();
                cJSON_AddStringToObject(w, "rule", p->api.schedule[k].spec);
                cJSON_AddBoolToObject(w, "outside", p->api.schedule[k].outside);
                cJSON_AddBoolToObject(w, "active", engine_schedule_active(e->engine, k, now) == 1);
                cJSON_AddItemToArray(sch, w);
            }
            status_budget(s, o, e->agent, now);
            cJSON *th = cJSON_AddObjectToObject(o, "thresholds");
            if (p->api.has_anomaly) {
                cJSON_AddNumberToObject(th, "requests_per_minute", p->api.requests_per_minute);
                cJSON_AddNumberToObject(th, "tokens_per_minute", (double)p->api.tokens_per_minute);
                cJSON_AddNumberToObject(th, "usd_per_hour", p->api.usd_per_hour);
                cJSON_AddNumberToObject(th, "denials_per_10_minutes",
                                        p->api.denials_per_10_minutes);
                cJSON_AddNumberToObject(th, "distinct_tools_per_10_minutes",
                                        p->api.distinct_tools_per_10_minutes);
                cJSON_AddNumberToObject(th, "new_egress_hosts_per_hour",
                                        p->api.new_egress_hosts_per_hour);
                cJSON_AddStringToObject(th, "on_trigger", policy_trigger_name(p->api.on_trigger));
            }
        }
    }
    pset_release(set);
    char *aj = s->anomaly ? anomaly_status_json(s->anomaly, now) : NULL;
    cJSON *an = aj ? cJSON_Parse(aj) : NULL;
    free(aj);
    for (cJSON *it = an ? an->child : NULL; it; it = it->next) {
        cJSON *o = status_agent(s, list, it->string);
        for (cJSON *f = it->child; f; f = f->next)
            cJSON_AddItemToObject(o, f->string, cJSON_Duplicate(f, 1));
    }
    cJSON_Delete(an);
    return send_json(c, r, 200, res);
}

static enum MHD_Result admin_unknown(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    return refuse(s, c, r, 404,
                  "no admin endpoint %s; see docs/PROTOCOL.md \"Admin "
                  "endpoints\"",
                  "at this path");
}

/* ------------------------------------------------------------ the model proxy */

static enum MHD_Result do_proxy(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    struct MHD_Response *resp = NULL;
    unsigned status = 0;
    if (!s->proxy)
        return refuse(s, c, r, 503, "the model proxy is not running");
    if (proxy_serve(s->proxy, c, &r->proxy, r->url, r->method, &r->body, r->len, &resp, &status) !=
        0)
        return MHD_NO;
    return resp ? queue(c, r, status, resp) : MHD_YES;
}

/* GET /v1/budget: the agent's own budgets and rates (docs/PROTOCOL.md "Budget"). */
static enum MHD_Result do_budget(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    struct decision d;
    decision_init(&d, DECISION_REQUEST, NULL);
    char agent[AGENTS_NAME_MAX + 1], id[AGENTS_ID_LEN + 1], peer[INET6_ADDRSTRLEN + 8];
    if (!identify(s, c, &d, agent, id, peer, sizeof peer))
        return decide(s, c, r, &d, NULL);
    decision_done(&d);
    const char *why = NULL, *key = bearer(c, &why);
    struct identity who;
    if (!key || identity_check(s, key, &who) != AGENTS_OK)
        return refuse(s, c, r, 401, "the credential ended while it was read; send it again");
    char *j = NULL;
    int rc = budget_report(s, &who, 0, &j);
    if (rc == -ENOENT)
        return refuse(s, c, r, 404,
                      "agent %s has no policy on this server; add %s.json to the policies "
                      "directory and reload",
                      who.agent, who.agent);
    if (rc != 0)
        return MHD_NO;
    enum MHD_Result ret = send_buf(c, r, 200, "application/json", j, strlen(j));
    free(j);
    return ret;
}

static enum MHD_Result not_found(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    return refuse(s, c, r, 404,
                  "no such endpoint; cordond serves /v1/policy, /healthz and "
                  "/metrics here, and /v1/admin/* on admin_listen");
}

/* ------------------------------------------------------------ dispatch */

static int takes(const struct route *rt, unsigned m)
{
    return rt->methods == M_ANY || (rt->methods & m);
}

static const char *methods_text(unsigned allowed)
{
    return (allowed & M_GET) && (allowed & M_POST) ? "GET or POST"
           : (allowed & M_POST)                    ? "POST"
                                                   : "GET";
}

/* Each listener serves its half only, answered before any body is read. Returns 1 when r
 * was refused (the 404 is queued in *ret). */
static int wrong_listener(struct srv *s, struct MHD_Connection *c, struct req *r,
                          enum MHD_Result *ret)
{
    int admin_route = (routes[r->route].flags & R_ADMIN) != 0;
    if (r->L->admin && !admin_route)
        *ret = refuse(s, c, r, 404,
                      "this is cordond's admin listener (admin_listen): it serves "
                      "/v1/admin/* only; the policy fetch, /healthz and /metrics are on listen");
    else if (!r->L->admin && admin_route && !s->admin_on)
        *ret = refuse(s, c, r, 404,
                      "no admin endpoints here: this server has no "
                      "admin_token_file, and when it has one they are served only on "
                      "admin_listen (%s), never on listen",
                      s->cfg.admin_listen);
    else if (!r->L->admin && admin_route)
        *ret = refuse(s, c, r, 404,
                      "the admin endpoints are not served on this listener; they "
                      "are on admin_listen (%s), for administrators outside every sandbox",
                      s->cfg.admin_listen);
    else
        return 0;
    return 1;
}

/* The first call of a request, with its head only: find the route, and refuse what can be
 * refused before the body (wrong listener, a governed admin peer, a declared oversized body). */
static enum MHD_Result begin(const struct listener *L, struct MHD_Connection *c, const char *url,
                             const char *method, void **con_cls)
{
    struct srv *s = L->s;
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    unsigned allowed;
    r->L = L;
    r->url = url;
    r->method = method;
    r->route = route_find(url, method, &allowed);
    r->max = routes[r->route].max_body;
    if (routes[r->route].flags & R_PROXY)
        r->max = s->cfg.proxy_max_body;
    *con_cls = r;
    enum MHD_Result ret;
    if (wrong_listener(s, c, r, &ret)) {
        r->answered = 1;
        return ret;
    }
    if (L->admin) {
        int refused;
        ret = admin_peer_gate(s, c, r, &refused);
        if (refused) {
            r->answered = 1;
            return ret;
        }
    }
    /* Refuse a declared oversized body before reading any of it (libmicrohttpd accepts a
     * response only here or after the upload, not in the middle of it). */
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > r->max) {
        r->too_big = 1;
        return refuse(s, c, r, 413, "the request body is over %zu bytes", r->max);
    }
    r->declared = (size_t)declared;
    return MHD_YES;
}

/* A piece of the body. A chunked body that grows past the limit is discarded and refused at
 * the end. */
static enum MHD_Result take_body(struct req *r, const char *upload, size_t *upload_size)
{
    if (r->answered || r->too_big || r->len + *upload_size > r->max) {
        if (!r->answered && !r->too_big) {
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            r->too_big = 2;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->len + *upload_size + 1 > r->cap) {
        /* the declared length at once (a held stream keeps its body: no slack), else
         * geometric growth: a large body arrives in many small pieces */
        size_t cap = r->cap                                 ? r->cap
                     : r->declared >= r->len + *upload_size ? r->declared + 1
                                                            : 4096;
        while (cap < r->len + *upload_size + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb)
            return MHD_NO;
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, upload, *upload_size);
    r->len += *upload_size;
    r->body[r->len] = '\0';
    *upload_size = 0;
    return MHD_YES;
}

/* The whole request is in: method, token, then the route's handler. */
static enum MHD_Result dispatch(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    const struct route *rt = &routes[r->route];
    if (!takes(rt, method_bit(r->method))) {
        unsigned allowed;
        (void)route_find(r->url, r->method, &allowed);
        return refuse(s, c, r, 405, "%s takes %s, not %.16s", r->url, methods_text(allowed),
                      r->method);
    }
    if (rt->flags & R_TOKEN) {
        int refused;
        enum MHD_Result ret = admin_token_gate(s, c, r, &refused);
        if (refused)
            return ret;
    }
    return rt->fn(s, c, r);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    const struct listener *L = cls;
    struct req *r = *con_cls;
    if (!r)
        return begin(L, c, url, method, con_cls);
    if (*upload_size)
        return take_body(r, upload, upload_size);
    if (r->answered || r->too_big == 1)
        return MHD_YES; /* the refusal is already queued */
    if (r->too_big == 2)
        return refuse(L->s, c, r, 413, "the request body is over %zu bytes", r->max);
    return dispatch(L->s, c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    struct req *r = *con_cls;
    if (r) {
        proxy_req_done(r->proxy, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own messages (mostly about malformed requests): one line a second at most,
 * so that a client sending garbage cannot flood the server's log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static int64_t last_s;
    static uint64_t suppressed;
    int64_t now_s = clock_mono_ms() / 1000;
    int64_t prev = __atomic_load_n(&last_s, __ATOMIC_RELAXED);
    if (prev == now_s || !__atomic_compare_exchange_n(&last_s, &prev, now_s, 0, __ATOMIC_RELAXED,
                                                      __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&suppressed, 1, __ATOMIC_RELAXED);
        return;
    }
    uint64_t skipped = __atomic_exchange_n(&suppressed, 0, __ATOMIC_RELAXED);
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    char sup[24];
    snprintf(sup, sizeof sup, "%" PRIu64, skipped);
    log_kv(LOG_LEVEL_WARN, line, "component", "http", "suppressed", sup, NULL);
}

static struct MHD_Daemon *start_daemon(struct srv *s, struct listener *L, int fd)
{
    /* admin requests are rare: one thread; a reload in it stalls no agent. MHD_USE_TURBO reads
     * and writes a socket before asking epoll whether it is ready (non-blocking: EAGAIN costs
     * what the check would have), which saves about one system call per proxied request. */
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO,
        0, NULL, NULL, handler, L, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, L->admin ? 1u : s->cfg.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.connection_timeout, MHD_OPTION_CONNECTION_LIMIT,
        s->cfg.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
}

int http_start(struct srv *s, const int *fds, size_t n, int admin_fd, struct http **out, char *err,
               size_t errlen)
{
    if (n > CONFIG_MAX_LISTEN) {
        snprintf(err, errlen, "cannot start the HTTP server: %zu listen addresses, at most %d", n,
                 CONFIG_MAX_LISTEN);
        return -EINVAL;
    }
    struct http *h = calloc(1, sizeof *h);
    if (h)
        h->hits = calloc(N_ROUTES, sizeof *h->hits);
    if (!h || !h->hits) {
        snprintf(err, errlen, "cannot start the HTTP server: out of memory");
        http_stop(h);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n + (admin_fd >= 0); i++) {
        int admin = i == n;
        h->l[i] = (struct listener){.s = s, .h = h, .admin = admin};
        h->d[i] = start_daemon(s, &h->l[i], admin ? admin_fd : fds[i]);
        if (!h->d[i]) {
            snprintf(err, errlen,
                     "cannot start the HTTP server on %s (libmicrohttpd refused; "
                     "see the lines above)",
                     admin ? s->cfg.admin_listen : s->cfg.listen[i]);
            http_stop(h);
            return -EIO;
        }
        h->n = i + 1;
    }
    *out = h;
    return 0;
}

void http_stop(struct http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        MHD_stop_daemon(h->d[i]);
    free(h->hits);
    free(h);
}
