/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What cordond's parts share: the configuration, the agents, the policy set, the audit log
 * and the counters /metrics prints. One struct srv lives for the whole run; the HTTP front
 * (http.c), the tunnel (tunnel.c) and the event intake (events.c) each get a pointer to it.
 *
 * Counters are plain integers updated with atomic builtins: /metrics reads them without a
 * lock, and a reader that sees one counter a moment older than another is harmless.
 */
#ifndef CORDON_SERVER_SERVER_H
#define CORDON_SERVER_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/server/agents.h"
#include "policy/server/config.h"
#include "policy/server/pset.h"

struct audit_log;

enum srv_path { SP_POLICY, SP_HEALTHZ, SP_METRICS, SP_ADMIN, SP_OTHER, SP_N };
enum srv_decision_kind { SD_POLICY_FETCH, SD_TUNNEL, SD_EVENT, SD_N };
enum srv_decision { SD_ALLOW, SD_DENY, SD_ERROR, SD_DN };

struct srv_metrics {
    uint64_t requests[SP_N][600]; /* by path and HTTP status */
    uint64_t decisions[SD_N][SD_DN];
    uint64_t tunnels_open, tunnels_total, tunnel_bytes_up, tunnel_bytes_down;
    uint64_t events_accepted, events_dropped, events_malformed, events_connections;
    uint64_t admin_refused; /* admin requests refused for their peer (peer.h) */
};

struct srv {
    struct config cfg;
    struct agents *agents;
    struct pset_manager *psets;
    struct audit_log *audit;
    pthread_rwlock_t audit_lock; /* srv_audit reads; closing the log at exit writes */
    int audit_failed; /* atomic: set by a failed append or by the main loop's once-a-second
                         look at the log, so /healthz needs no round trip to the writer */
    struct srv_metrics m;
    char proxy_addr[128];  /* Cordon-Proxy: HOST:PORT of the tunnel listener */
    char events_addr[256]; /* Cordon-Events: unix:/PATH, or "" */
    unsigned char admin_mac[32]; /* SHA-256 of the admin token; admin endpoints off if !admin_on */
    int admin_on;
    int stopping;
    /* Open tunnels per agent, for max_tunnels_per_agent (tunnel.c). */
    pthread_mutex_t tunnel_lock;
    struct srv_tunnel_count *tunnel_counts;
    size_t n_tunnel_counts;
};

static inline void srv_count(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/*
 * Append an audit record; fields is a JSON object text. Returns 0, or -1 when the log has
 * failed (the caller of an action that requires audit refuses with 503). sync: wait for disk.
 */
int srv_audit(struct srv *s, const char *kind, const char *agent, const char *fields, int sync);

/* text as the inside of a JSON string for an audit field: quotes and backslashes escaped,
 * control characters made spaces, cut to fit out (outlen bytes, NUL included). */
void srv_json_text(const char *text, char *out, size_t outlen);

/* Reload the policy set (SIGHUP, POST /v1/admin/reload, push); audits the outcome. d gets
 * the diagnostics. Returns 0 or a negative errno. */
int srv_reload(struct srv *s, const struct pset_source *push, size_t npush, const char *why,
               struct diag *d);

#endif
