/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP endpoints of cordond (see http.h for the threading model). Every refusal is the
 * error JSON of docs/PROTOCOL.md, {"error":{"code":"cordon.<what>","message":"..."}}, and
 * names the case and what to do; every response is counted by path and status for /metrics.
 */
#include "policy/server/http.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/audit/audit.h"
#include "policy/server/peer.h"
#include "policy/server/server.h"

/* One per daemon: the agent-facing listeners serve everything but the admin endpoints, the
 * admin listener (admin_listen) serves those alone. */
struct listener {
    struct srv *s;
    int admin;
};

struct http {
    size_t n;
    struct MHD_Daemon *d[CONFIG_MAX_LISTEN + 1];
    struct listener l[CONFIG_MAX_LISTEN + 1];
};

struct req {
    enum srv_path path;
    char *body;
    size_t len, max;
    int too_big;
    int answered; /* refused before the body: the rest of the upload is discarded */
};

static enum srv_path classify(const char *url)
{
    if (strcmp(url, "/v1/policy") == 0)
        return SP_POLICY;
    if (strcmp(url, "/healthz") == 0)
        return SP_HEALTHZ;
    if (strcmp(url, "/metrics") == 0)
        return SP_METRICS;
    if (strncmp(url, "/v1/admin/", 10) == 0)
        return SP_ADMIN;
    return SP_OTHER;
}

static enum MHD_Result send_buf(struct srv *s, struct MHD_Connection *c, struct req *r,
                                unsigned status, const char *type, const char *buf, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (status < 600)
        srv_count(&s->m.requests[r->path][status], 1);
    return ret;
}

static char *error_json(const char *code, const char *msg, const struct diag *d)
{
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    char full[64];
    snprintf(full, sizeof full, "cordon.%s", code);
    cJSON_AddStringToObject(e, "code", full);
    cJSON_AddStringToObject(e, "message", msg);
    if (d && diag_total(d)) {
        cJSON *arr = cJSON_AddArrayToObject(e, "diagnostics");
        for (size_t i = 0; i < d->count; i++) {
            char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
            diag_format(d, i, line, sizeof line);
            cJSON_AddItemToArray(arr, cJSON_CreateString(line));
        }
        if (d->dropped) {
            char line[64];
            snprintf(line, sizeof line, "... and %zu more", d->dropped);
            cJSON_AddItemToArray(arr, cJSON_CreateString(line));
        }
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

__attribute__((format(printf, 6, 7))) static enum MHD_Result
send_error(struct srv *s, struct MHD_Connection *c, struct req *r, unsigned status,
           const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *j = error_json(code, msg, NULL);
    if (!j)
        return MHD_NO;
    enum MHD_Result ret = send_buf(s, c, r, status, "application/json", j, strlen(j));
    free(j);
    return ret;
}

static enum MHD_Result send_json(struct srv *s, struct MHD_Connection *c, struct req *r,
                                 unsigned status, cJSON *o)
{
    char *j = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!j)
        return MHD_NO;
    enum MHD_Result ret = send_buf(s, c, r, status, "application/json", j, strlen(j));
    free(j);
    return ret;
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

static enum MHD_Result do_policy(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    const char *why = NULL, *key = bearer(c, &why);
    char agent[AGENTS_NAME_MAX + 1], id[AGENTS_ID_LEN + 1];
    if (!key)
        return send_error(s, c, r, 401, "unauthorized",
                          "the Authorization header is %s; send Authorization: Bearer ck_... "
                          "with the agent's key (CORDON_KEY)", why);
    int st = agents_check(s->agents, key, agent, id);
    if (st != AGENTS_OK) {
        srv_count(&s->m.decisions[SD_POLICY_FETCH][SD_DENY], 1);
        return send_error(s, c, r, 401, st == AGENTS_ERR_REVOKED ? "key_revoked" : "unknown_key",
                          "%s", st == AGENTS_ERR_REVOKED
                                    ? "the agent key was revoked; ask the administrator for a "
                                      "new one (cordon agent add)"
                                : st == AGENTS_ERR_MALFORMED
                                    ? "the agent key is not ck_ followed by 43 base64url "
                                      "characters; check CORDON_KEY"
                                    : "the agent key is unknown to this server; check CORDON_KEY "
                                      "and CORDON_SERVER");
    }
    struct pset *set = pset_acquire(s->psets);
    const struct pset_entry *e = pset_find(set, agent);
    enum MHD_Result ret;
    char fields[512];
    if (!e) {
        pset_release(set);
        srv_count(&s->m.decisions[SD_POLICY_FETCH][SD_DENY], 1);
        snprintf(fields, sizeof fields, "{\"key_id\":\"%s\",\"status\":404}", id);
        (void)srv_audit(s, "policy.fetch", agent, fields, 0);
        return send_error(s, c, r, 404, "no_policy",
                          "agent %s has no policy on this server; add %s.json to the policies "
                          "directory and reload", agent, agent);
    }
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    int not_modified = inm && strcmp(inm, e->etag) == 0;
    snprintf(fields, sizeof fields,
             "{\"key_id\":\"%s\",\"status\":%d,\"version\":%" PRIu64 ",\"etag\":\"v%" PRIu64
             "\"}", id, not_modified ? 304 : 200, e->version, e->version);
    /* Serving a policy requires audit: if the log has failed, refuse rather than serve
     * unrecorded. */
    if (srv_audit(s, "policy.fetch", agent, fields, 0) != 0) {
        pset_release(set);
        srv_count(&s->m.decisions[SD_POLICY_FETCH][SD_ERROR], 1);
        return send_error(s, c, r, 503, "audit_failed",
                          "the audit log cannot be written, so no policy is served; the "
                          "operator must fix the audit directory (disk full?) and restart "
                          "cordond");
    }
    struct MHD_Response *resp =
        not_modified ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
                     : MHD_create_response_from_buffer(e->envelope_len, e->envelope,
                                                       MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        pset_release(set);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, e->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Cordon-Proxy", s->proxy_addr);
    if (s->events_addr[0])
        MHD_add_response_header(resp, "Cordon-Events", s->events_addr);
    if (!not_modified)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    pset_release(set);
    unsigned status = not_modified ? 304 : 200;
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    srv_count(&s->m.requests[r->path][status], 1);
    srv_count(&s->m.decisions[SD_POLICY_FETCH][SD_ALLOW], 1);
    return ret;
}

/* ------------------------------------------------------------ /healthz, /metrics */

static enum MHD_Result do_healthz(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    if (__atomic_load_n(&s->audit_failed, __ATOMIC_RELAXED))
        return send_error(s, c, r, 503, "audit_failed",
                          "the audit log has failed; fix the audit directory and restart");
    static const char ok[] = "{\"status\":\"ok\"}";
    return send_buf(s, c, r, 200, "application/json", ok, sizeof ok - 1);
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

static enum MHD_Result do_metrics(struct srv *s, struct MHD_Connection *c, struct req *r)
{
    static const char *const paths[SP_N] = {"/v1/policy", "/healthz", "/metrics", "/v1/admin",
                                            "other"};
    static const char *const kinds[SD_N] = {"policy.fetch", "tunnel", "event"};
    static const char *const decs[SD_DN] = {"allow", "deny", "error"};
    struct sbuf b = {0};
    sb_add(&b, "# HELP cordon_http_requests_total HTTP responses by path and status.\n"
               "# TYPE cordon_http_requests_total counter\n");
    for (int p = 0; p < SP_N; p++)
        for (int st = 100; st < 600; st++) {
            uint64_t v = ld(&s->m.requests[p][st]);
            if (v)
                sb_add(&b, "cordon_http_requests_total{path=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                       paths[p], st, v);
        }
    sb_add(&b, "# HELP cordon_decisions_total Decisions by kind and outcome.\n"
               "# TYPE cordon_decisions_total counter\n");
    for (int k = 0; k < SD_N; k++)
        for (int d = 0; d < SD_DN; d++)
            sb_add(&b, "cordon_decisions_total{kind=\"%s\",decision=\"%s\"} %" PRIu64 "\n",
                   kinds[k], decs[d], ld(&s->m.decisions[k][d]));
    struct audit_stats as;
    audit_stats_get(s->audit, &as);
    sb_add(&b,
           "# TYPE cordon_audit_records gauge\ncordon_audit_records %" PRIu64 "\n"
           "# TYPE cordon_audit_synced gauge\ncordon_audit_synced %" PRIu64 "\n"
           "# TYPE cordon_audit_lag gauge\ncordon_audit_lag %" PRIu64 "\n"
           "# TYPE cordon_audit_failed gauge\ncordon_audit_failed %d\n",
           as.records, as.synced, as.records >= as.synced ? as.records - as.synced : 0,
           as.failed ? 1 : 0);
    sb_add(&b,
           "# TYPE cordon_tunnels_open gauge\ncordon_tunnels_open %" PRIu64 "\n"
           "# TYPE cordon_tunnels_total counter\ncordon_tunnels_total %" PRIu64 "\n"
           "# TYPE cordon_tunnel_bytes_total counter\n"
           "cordon_tunnel_bytes_total{direction=\"up\"} %" PRIu64 "\n"
           "cordon_tunnel_bytes_total{direction=\"down\"} %" PRIu64 "\n",
           ld(&s->m.tunnels_open), ld(&s->m.tunnels_total), ld(&s->m.tunnel_bytes_up),
           ld(&s->m.tunnel_bytes_down));
    sb_add(&b,
           "# TYPE cordon_events_total counter\n"
           "cordon_events_total{outcome=\"accepted\"} %" PRIu64 "\n"
           "cordon_events_total{outcome=\"dropped\"} %" PRIu64 "\n"
           "cordon_events_total{outcome=\"malformed\"} %" PRIu64 "\n",
           ld(&s->m.events_accepted), ld(&s->m.events_dropped), ld(&s->m.events_malformed));
    sb_add(&b,
           "# HELP cordon_admin_refused_total Admin requests refused for their peer (a governed "
           "or unidentified process).\n"
           "# TYPE cordon_admin_refused_total counter\ncordon_admin_refused_total %" PRIu64 "\n",
           ld(&s->m.admin_refused));
    uint64_t reloads, failures;
    pset_manager_stats(s->psets, &reloads, &failures);
    struct pset *set = pset_acquire(s->psets);
    sb_add(&b,
           "# TYPE cordon_policy_set_generation gauge\ncordon_policy_set_generation %" PRIu64
           "\n# TYPE cordon_policy_set_agents gauge\ncordon_policy_set_agents %zu\n"
           "# TYPE cordon_policy_reloads_total counter\ncordon_policy_reloads_total %" PRIu64
           "\n# TYPE cordon_policy_reload_failures_total counter\n"
           "cordon_policy_reload_failures_total %" PRIu64 "\n",
           set->generation, set->n, reloads, failures);
    pset_release(set);
    if (!b.p)
        return MHD_NO;
    enum MHD_Result ret = send_buf(s, c, r, 200, "text/plain; version=0.0.4", b.p, b.len);
    free(b.p);
    return ret;
}

/* ------------------------------------------------------------ admin */

static int admin_ok(struct srv *s, struct MHD_Connection *c, const char **why)
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

static enum MHD_Result send_reload_result(struct srv *s, struct MHD_Connection *c,
                                          struct req *r, int rc, struct diag *d)
{
    if (rc != 0) {
        char *j = error_json("policy_invalid", "the new policy set was refused and the "
                             "previous one is still served; fix every diagnostic and retry", d);
        enum MHD_Result ret =
            j ? send_buf(s, c, r, 422, "application/json", j, strlen(j)) : MHD_NO;
        free(j);
        return ret;
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
    return send_json(s, c, r, 200, o);
}

static enum MHD_Result do_admin(struct srv *s, struct MHD_Connection *c, struct req *r,
                                const char *url, const char *method)
{
    const char *why = NULL;
    char msg[512];
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    const char *want = NULL;
    if (strcmp(url, "/v1/admin/reload") == 0 || strcmp(url, "/v1/admin/policies") == 0 ||
        strcmp(url, "/v1/admin/agents/revoke") == 0)
        want = "POST";
    else if (strcmp(url, "/v1/admin/agents") == 0)
        want = "GET or POST";
    else
        return send_error(s, c, r, 404, "not_found", "no admin endpoint %s; see "
                          "docs/PROTOCOL.md \"Admin endpoints\"", "at this path");
    if (!post && !(get && strcmp(want, "GET or POST") == 0))
        return send_error(s, c, r, 405, "method_not_allowed", "%s takes %s, not %s", url, want,
                          method);
    if (!admin_ok(s, c, &why))
        return send_error(s, c, r, 401, "unauthorized", "%s; send Authorization: Bearer with "
                          "the token from the server's admin_token_file", why);
    if (strcmp(url, "/v1/admin/agents") == 0 && get) {
        char *j = agents_list_json(s->agents);
        if (!j)
            return MHD_NO;
        enum MHD_Result ret = send_buf(s, c, r, 200, "application/json", j, strlen(j));
        free(j);
        return ret;
    }
    if (strcmp(url, "/v1/admin/reload") == 0) {
        struct diag *d = malloc(sizeof *d);
        if (!d)
            return MHD_NO;
        diag_init(d);
        int rc = srv_reload(s, NULL, 0, "admin", d);
        enum MHD_Result ret = send_reload_result(s, c, r, rc, d);
        free(d);
        return ret;
    }
    if (strcmp(url, "/v1/admin/policies") == 0) {
        static const char *const allowed[] = {"files", NULL};
        cJSON *o = parse_body(r, allowed, msg, sizeof msg);
        if (!o)
            return send_error(s, c, r, 400, "bad_request", "%s; send {\"files\":[{\"name\":"
                              "\"AGENT.json\",\"content\":\"...\"}]}", msg);
        cJSON *files = cJSON_GetObjectItemCaseSensitive(o, "files");
        int n = cJSON_GetArraySize(files);
        struct pset_source *src = NULL;
        enum MHD_Result ret;
        if (!cJSON_IsArray(files) || n < 1 || n > 256) {
            cJSON_Delete(o);
            return send_error(s, c, r, 400, "bad_request", "files: expected an array of 1 to "
                              "256 {\"name\",\"content\"} objects");
        }
        src = calloc((size_t)n, sizeof *src);
        int i = 0;
        for (cJSON *f = files->child; f && src; f = f->next, i++) {
            cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
            cJSON *ct = cJSON_GetObjectItemCaseSensitive(f, "content");
            if (!cJSON_IsObject(f) || !cJSON_IsString(nm) || !cJSON_IsString(ct) ||
                cJSON_GetArraySize(f) != 2) {
                free(src);
                cJSON_Delete(o);
                return send_error(s, c, r, 400, "bad_request", "files[%d]: expected exactly "
                                  "{\"name\":\"AGENT.json\",\"content\":\"<policy text>\"}", i);
            }
            src[i].file = nm->valuestring;
            src[i].text = ct->valuestring;
            src[i].len = strlen(ct->valuestring);
        }
        struct diag *d = malloc(sizeof *d);
        if (!src || !d) {
            free(src);
            free(d);
            cJSON_Delete(o);
            return MHD_NO;
        }
        diag_init(d);
        int rc = srv_reload(s, src, (size_t)n, "push", d);
        ret = send_reload_result(s, c, r, rc, d);
        free(d);
        free(src);
        cJSON_Delete(o);
        return ret;
    }
    /* agents add / revoke */
    static const char *const add_keys[] = {"agent", NULL};
    static const char *const rev_keys[] = {"agent", "id", NULL};
    int revoke = strcmp(url, "/v1/admin/agents/revoke") == 0;
    cJSON *o = parse_body(r, revoke ? rev_keys : add_keys, msg, sizeof msg);
    if (!o)
        return send_error(s, c, r, 400, "bad_request", "%s; send %s", msg,
                          revoke ? "{\"agent\":\"NAME\"} or {\"id\":\"ak_...\"}"
                                 : "{\"agent\":\"NAME\"}");
    cJSON *ag = cJSON_GetObjectItemCaseSensitive(o, "agent");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    cJSON *which = ag ? ag : id;
    if (!cJSON_IsString(which) || (ag && id) ||
        (ag && !agents_valid_name(ag->valuestring))) {
        cJSON_Delete(o);
        return send_error(s, c, r, 400, "bad_request", "expected %s",
                          revoke ? "exactly one of agent (a valid agent name) or id"
                                 : "agent: 1 to 64 letters, digits, '.', '_' or '-'");
    }
    char err[512], fields[256];
    enum MHD_Result ret;
    if (!revoke) {
        char key[AGENTS_KEY_LEN + 1], kid[AGENTS_ID_LEN + 1];
        if (agents_add(s->agents, which->valuestring, key, kid, err, sizeof err) != 0) {
            ret = send_error(s, c, r, 500, "agent_add_failed", "%s", err);
        } else {
            snprintf(fields, sizeof fields, "{\"key_id\":\"%s\"}", kid);
            (void)srv_audit(s, "agent.add", which->valuestring, fields, 1);
            cJSON *res = cJSON_CreateObject();
            cJSON_AddStringToObject(res, "agent", which->valuestring);
            cJSON_AddStringToObject(res, "id", kid);
            cJSON_AddStringToObject(res, "key", key);
            ret = send_json(s, c, r, 201, res);
        }
        sodium_memzero(key, sizeof key);
    } else {
        size_t count = 0;
        if (agents_revoke(s->agents, which->valuestring, &count, err, sizeof err) != 0) {
            ret = send_error(s, c, r, 500, "agent_revoke_failed", "%s", err);
        } else if (count == 0) {
            ret = send_error(s, c, r, 404, "no_such_key", "no live key matches %s; list them "
                             "with `cordon agent list`", ag ? "that agent" : "that id");
        } else {
            if (ag)
                snprintf(fields, sizeof fields, "{\"count\":%zu}", count);
            else
                snprintf(fields, sizeof fields, "{\"id\":\"%s\",\"count\":%zu}",
                         which->valuestring, count);
            (void)srv_audit(s, "agent.revoke", ag ? which->valuestring : NULL, fields, 1);
            cJSON *res = cJSON_CreateObject();
            cJSON_AddNumberToObject(res, "revoked", (double)count);
            ret = send_json(s, c, r, 200, res);
        }
    }
    cJSON_Delete(o);
    return ret;
}

/* ------------------------------------------------------------ admin peer check */

/*
 * Refuse an admin request from a governed process, or from a local process cordond cannot
 * name, before its token or body is looked at (policy/server/peer.h). Returns MHD_YES with
 * *refused clear when the peer may go on, else the queued 403.
 */
static enum MHD_Result admin_peer_gate(struct srv *s, struct MHD_Connection *c, struct req *r,
                                       const char *url, int *refused)
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
    if (v == PEER_OUTSIDE || v == PEER_REMOTE)
        return MHD_YES;
    *refused = 1;
    srv_count(&s->m.admin_refused, 1);
    char fields[900], esc_url[200], esc_why[500];
    srv_json_text(url, esc_url, sizeof esc_url);
    srv_json_text(why, esc_why, sizeof esc_why);
    snprintf(fields, sizeof fields,
             "{\"path\":\"%s\",\"peer_pid\":%d,\"verdict\":\"%s\",\"why\":\"%s\"}", esc_url,
             (int)pid, v == PEER_GOVERNED ? "governed" : "unidentified", esc_why);
    (void)srv_audit(s, "admin.refused", NULL, fields, 0);
    if (v == PEER_GOVERNED)
        return send_error(s, c, r, 403, "admin_from_sandbox",
                          "cordond refuses admin requests from a governed process: %s. The "
                          "admin API is for administrators outside every sandbox, whatever "
                          "token they hold; run the command from a shell or unit without "
                          "NoNewPrivileges and a system call filter",
                          why);
    return send_error(s, c, r, 403, "admin_peer_unknown",
                      "cordond cannot tell which process sent this admin request (%s), so it "
                      "refuses it; use the unix admin socket (admin_listen) from a process "
                      "that stays connected until the answer",
                      why);
}

/* ------------------------------------------------------------ dispatch */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    const struct listener *L = cls;
    struct srv *s = L->s;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->path = classify(url);
        r->max = strcmp(url, "/v1/admin/policies") == 0 ? HTTP_MAX_BODY : HTTP_MAX_SMALL_BODY;
        *con_cls = r;
        /* Each listener serves its half only, answered before any body is read. */
        if (L->admin && r->path != SP_ADMIN) {
            r->answered = 1;
            return send_error(s, c, r, 404, "not_found", "this is cordond's admin listener "
                              "(admin_listen): it serves /v1/admin/* only; the policy fetch, "
                              "/healthz and /metrics are on listen");
        }
        if (!L->admin && r->path == SP_ADMIN) {
            r->answered = 1;
            if (!s->admin_on)
                return send_error(s, c, r, 404, "not_found", "no admin endpoints here: this "
                                  "server has no admin_token_file, and when it has one they "
                                  "are served only on admin_listen (%s), never on listen",
                                  s->cfg.admin_listen);
            return send_error(s, c, r, 404, "not_found", "the admin endpoints are not served "
                              "on this listener; they are on admin_listen (%s), for "
                              "administrators outside every sandbox", s->cfg.admin_listen);
        }
        if (L->admin) {
            int refused;
            enum MHD_Result ret = admin_peer_gate(s, c, r, url, &refused);
            if (refused) {
                r->answered = 1;
                return ret;
            }
        }
        /* Refuse a declared oversized body before reading any of it (libmicrohttpd accepts a
         * response only here or after the upload, not in the middle of it). */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > r->max) {
            r->too_big = 1;
            return send_error(s, c, r, 413, "too_large", "the request body is over %zu bytes",
                              r->max);
        }
        return MHD_YES;
    }
    if (*upload_size && r->answered) {
        *upload_size = 0; /* refused already: the body is not kept */
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (*upload_size) {
        if (r->too_big || r->len + *upload_size > r->max) {
            /* A chunked body that grows past the limit: discard the rest, refuse at the end. */
            free(r->body);
            r->body = NULL;
            r->len = 0;
            r->too_big = 2;
            *upload_size = 0;
            return MHD_YES;
        }
        char *nb = realloc(r->body, r->len + *upload_size + 1);
        if (!nb)
            return MHD_NO;
        r->body = nb;
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        r->body[r->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big == 1)
        return MHD_YES; /* the 413 is already queued */
    if (r->too_big == 2)
        return send_error(s, c, r, 413, "too_large", "the request body is over %zu bytes",
                          r->max);
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    switch (r->path) {
    case SP_POLICY:
    case SP_HEALTHZ:
    case SP_METRICS:
        if (!get)
            return send_error(s, c, r, 405, "method_not_allowed", "%s takes GET, not %.16s", url,
                              method);
        return r->path == SP_POLICY    ? do_policy(s, c, r)
               : r->path == SP_HEALTHZ ? do_healthz(s, c, r)
                                       : do_metrics(s, c, r);
    case SP_ADMIN:
        return do_admin(s, c, r, url, method);
    default:
        return send_error(s, c, r, 404, "not_found", "no such endpoint; cordond serves "
                          "/v1/policy, /healthz and /metrics here, and /v1/admin/* on "
                          "admin_listen");
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *r = *con_cls;
    if (r) {
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
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t prev = __atomic_load_n(&last_s, __ATOMIC_RELAXED);
    if (prev == (int64_t)ts.tv_sec ||
        !__atomic_compare_exchange_n(&last_s, &prev, (int64_t)ts.tv_sec, 0, __ATOMIC_RELAXED,
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
    if (skipped)
        fprintf(stderr, "cordond: http: %s (%" PRIu64 " similar lines suppressed)\n", line,
                skipped);
    else
        fprintf(stderr, "cordond: http: %s\n", line);
}

int http_start(struct srv *s, const int *fds, size_t n, int admin_fd, struct http **out,
               char *err, size_t errlen)
{
    struct http *h = calloc(1, sizeof *h);
    if (!h || n > CONFIG_MAX_LISTEN) {
        free(h);
        return -1;
    }
    for (size_t i = 0; i < n + (admin_fd >= 0); i++) {
        int admin = i == n;
        h->l[i].s = s;
        h->l[i].admin = admin;
        /* admin requests are rare: one thread; a reload in it stalls no agent */
        h->d[i] = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
            handler, &h->l[i], MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_LISTEN_SOCKET, admin ? admin_fd : fds[i], MHD_OPTION_THREAD_POOL_SIZE,
            admin ? 1u : s->cfg.threads, MHD_OPTION_CONNECTION_TIMEOUT,
            s->cfg.connection_timeout, MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
        if (!h->d[i]) {
            snprintf(err, errlen, "cannot start the HTTP server on %s (libmicrohttpd refused; "
                     "see the lines above)", admin ? s->cfg.admin_listen : s->cfg.listen[i]);
            http_stop(h);
            return -1;
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
    free(h);
}
