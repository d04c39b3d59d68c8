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

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/server/agents.h"
#include "policy/server/config.h"
#include "policy/server/decision.h"
#include "policy/server/pset.h"

struct audit_log;
struct proxy;

struct srv_metrics {
    uint64_t decisions[DECISION_KIND_N][DECISION_OUTCOME_N]; /* counted by srv_decide */
    uint64_t tunnels_open, tunnels_total, tunnel_bytes_up, tunnel_bytes_down;
    uint64_t events_accepted, events_dropped, events_malformed, events_connections;
    uint64_t admin_refused; /* admin requests refused for their peer (peer.h) */
    uint64_t audit_invalid; /* records the log refused as malformed: a bug in cordond */
    uint64_t proxy_upstream_errors, proxy_upstream_timeouts; /* model calls answered 502/504 */
    uint64_t origin_tls_full, origin_tls_resumed; /* handshakes with terminated hosts' origins */
};

struct mint_ca;

struct srv {
    struct config cfg;
    struct agents *agents;
    struct pset_manager *psets;
    struct audit_log *audit;
    pthread_rwlock_t audit_lock; /* srv_audit reads; closing the log at exit writes */
    int audit_failed; /* atomic: set by a failed append or by the main loop's once-a-second
                         look at the log, so /healthz needs no round trip to the writer */
    struct srv_metrics m;
    char proxy_addr[128];        /* Cordon-Proxy: HOST:PORT of the tunnel listener */
    char events_addr[256];       /* Cordon-Events: unix:/PATH, or "" */
    unsigned char admin_mac[32]; /* SHA-256 of the admin token; admin endpoints off if !admin_on */
    int admin_on;
    int stopping;
    struct proxy *proxy; /* the model proxy (proxy.h) */
    /* Open tunnels per agent, for max_tunnels_per_agent (tunnel.c). */
    pthread_mutex_t tunnel_lock;
    struct srv_tunnel_count *tunnel_counts;
    size_t n_tunnel_counts;
    struct sessions *sessions; /* session tokens (sessions.h); NULL: none are minted */
    struct ledger *ledger;     /* budgets and rates (ledger.h); NULL: calls with limits refused */
    struct anomaly *anomaly;   /* the anomaly response (anomaly.h); NULL: off */
    struct kaudit *kaudit;     /* kernel refusals (kaudit.h); NULL: kernel_audit off */
    /* TLS termination for sandbox.network.http "terminate" hosts: the deployment CA
     * (mint.h; NULL: tls_ca unset, such tunnels are refused) and the context that connects
     * to their origins, verifying them against the system store and origin_ca. */
    struct mint_ca *mint;
    struct ssl_ctx_st *origin_ctx;
    char ca_header[4096]; /* Cordon-CA: the CA certificate, DER in base64; "" without mint */
    /* The data key (data_key_file, 32 bytes): api.data's exact-data-match files and its
     * "hash" action, in the model proxy and at the egress. NULL: it could not be read, so
     * exact-data-match classes do not load and "hash" refuses (fail closed). */
    const unsigned char *data_key;
};

static inline void srv_count(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* srv_audit's results besides 0. */
#define SRV_AUDIT_FAILED (-EIO)     /* the log cannot record: refuse what requires audit */
#define SRV_AUDIT_INVALID (-EINVAL) /* this record was malformed: a bug, the log is fine */

/*
 * Append an audit record; fields is a JSON object text. sync: wait for disk. Returns 0;
 * SRV_AUDIT_FAILED when the log has failed (a write or sync error, or its writer is gone):
 * the caller of an action that requires audit refuses it with 503, and /healthz answers 503
 * from then on; or SRV_AUDIT_INVALID when the log refused this one record (fields not an
 * object, too large, a reserved kind): a coding mistake in cordond, said loudly on stderr and
 * counted in cordon_audit_invalid_total, while the log and /healthz stay as they were.
 */
int srv_audit(struct srv *s, const char *kind, const char *agent, const char *fields, int sync);

/* The same for a record built in b; a text that overflowed b is SRV_AUDIT_INVALID. */
int srv_audit_jbuf(struct srv *s, const char *kind, const char *agent, const struct jbuf *b,
                   int sync);

/* srv_audit without sync for fields that cordon's own JSON writer built (AUDIT_TRUSTED): this
 * side skips parsing them, the writer process still checks them in full. */
int srv_audit_trusted(struct srv *s, const char *kind, const char *agent, const char *fields);

/* 1 while the audit log can record (what /healthz reports), else 0. */
/*
 * The one decision path (decision.h): count d in the metrics, append its audit record, and
 * render a refusal into d->body (d->reply says how). Returns the final outcome, which is
 * DECISION_ALLOW only when the action may go on; an allow whose required record could not be
 * written becomes a refusal. The caller sends d->body, then calls decision_done().
 */
enum decision_outcome srv_decide(struct srv *s, struct decision *d);

int srv_healthy(struct srv *s);

/* The anomaly response's records (anomaly_record_fn): srv_audit with ud the struct srv. */
void srv_anomaly_record(void *ud, const char *kind, const char *agent, const char *fields,
                        int sync);

/* Reload the policy set (SIGHUP, POST /v1/admin/reload, push); audits the outcome. d gets
 * the diagnostics. Returns 0 or a negative errno. */
int srv_reload(struct srv *s, const struct pset_source *push, size_t npush, const char *why,
               struct diag *d);

#endif
