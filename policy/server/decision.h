/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's one decision path. Every answer a handler gives about a request (a policy fetch,
 * a tunnel, an event, an admin call, or a request refused for its form) is a struct decision:
 * who asked, what for, which rule or check decided, the outcome and the HTTP status. The
 * handler fills it in and calls srv_decide(), which alone counts it in the metrics, appends
 * its audit record and renders the refusal the client reads, in the same order every time:
 *
 *     struct decision d;
 *     decision_init(&d, DECISION_POLICY_FETCH, "policy.fetch");
 *     d.agent = agent;
 *     decision_refuse(&d, 404, "no_policy", "no_policy", "agent %s has no policy", agent);
 *     jbuf_key(&d.fields, "status");
 *     jbuf_u64(&d.fields, 404);
 *     srv_decide(s, &d);              -> counted, audited, d.body holds the JSON refusal
 *     send(d.status, d.body, d.body_len);
 *     decision_done(&d);
 *
 * An allowed decision whose action must be recorded (DECISION_AUDIT_REQUIRED: serving a
 * policy, opening a tunnel) becomes a refusal when its record cannot be written: 503 when the
 * log has failed, 500 when the record itself was invalid (a bug, see srv_audit).
 */
#ifndef CORDON_SERVER_DECISION_H
#define CORDON_SERVER_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include "base/jbuf.h"

struct srv;
struct diag;

/* What was decided about. The first three are cordon_decisions_total{kind} on /metrics. */
enum decision_kind {
    DECISION_POLICY_FETCH, /* GET /v1/policy */
    DECISION_TUNNEL,       /* CONNECT */
    DECISION_EVENT,        /* an event a shim reported */
    DECISION_ADMIN,        /* an admin request: its peer, its token, what it asked */
    DECISION_REQUEST,      /* a request refused for its form before anyone is named: unknown
                              path, method, size, syntax, a missing key, too many tunnels */
    DECISION_KIND_N
};

enum decision_outcome { DECISION_ALLOW, DECISION_DENY, DECISION_ERROR, DECISION_OUTCOME_N };

/* How a refusal reaches the client. */
/* The error object of a JSON refusal: cordond's own, or the model API's that the client speaks
 * (the model proxy's endpoints answer in the shape of the SDK calling them). */
enum decision_shape {
    DECISION_SHAPE_CORDON,    /* {"error":{"code","message"[,"diagnostics"]}} */
    DECISION_SHAPE_OPENAI,    /* {"error":{"message","type","param":null,"code"}} */
    DECISION_SHAPE_ANTHROPIC, /* {"type":"error","error":{"type","message","code"}} */
};

enum decision_reply {
    DECISION_REPLY_JSON,  /* {"error":{"code":"cordon.CODE","message":"..."}} (docs/PROTOCOL.md) */
    DECISION_REPLY_PLAIN, /* a whole HTTP/1.1 response with a text/plain body (the tunnel) */
    DECISION_REPLY_NONE,  /* nobody to answer (events) */
};

#define DECISION_AUDIT_SYNC 0x1     /* the record gates an action: wait until it is on disk */
#define DECISION_AUDIT_REQUIRED 0x2 /* no record, no action: an unrecorded allow is refused */

#define DECISION_MESSAGE_MAX 1024
#define DECISION_FIELDS_MAX (12u << 10) /* an event's record: a 4 KiB message re-escaped */

struct decision {
    /* who */
    const char *agent;  /* the agent, NULL while nobody is identified */
    const char *key_id; /* the key's id (ak_...), or NULL */
    const char *peer;   /* the client's address, for a refusal where the key names nobody */
    /* what */
    enum decision_kind kind;
    const char *what; /* the route, host:port or event kind (for the log) */
    /* which rule or check decided; appended to the audit record as "rule" when not NULL */
    const char *rule;
    enum decision_outcome outcome;
    unsigned status;  /* HTTP status of the answer */
    const char *code; /* a refusal's code: "key_revoked" is sent as "cordon.key_revoked" */
    char message[DECISION_MESSAGE_MAX]; /* a refusal's sentence: what, why, what to do */
    const struct diag *diag;            /* diagnostics listed in a JSON refusal, or NULL */
    enum decision_reply reply;
    enum decision_shape shape;    /* of a JSON refusal; DECISION_SHAPE_CORDON unless set */
    const char *audit_failed_msg; /* the 503 sentence when a required record cannot be written */
    uint64_t *also;               /* a counter of struct srv_metrics a refusal adds 1 to */
    /* the audit record: kind (NULL: none), flags, and the members the handler adds to fields
     * (an object opened by decision_init; srv_decide closes it) */
    const char *audit_kind;
    unsigned audit_flags;
    struct jbuf fields;
    char fields_mem[DECISION_FIELDS_MAX];
    /* set by srv_decide: srv_audit's result, and the refusal to send (body_len bytes) */
    int audit_rc;
    char *body;
    size_t body_len;
};

/* Start a decision of kind, allowed with 200 until a refusal is set; audit_kind may be NULL. */
void decision_init(struct decision *d, enum decision_kind kind, const char *audit_kind);

/* Make d a refusal: status, code (the cordon.* code of the answer), the rule or check that
 * decided, and the sentence (printf). Outcome DECISION_DENY (decision_fail: DECISION_ERROR,
 * for a failure of cordond or of what it depends on rather than a verdict). */
__attribute__((format(printf, 5, 6))) void decision_refuse(struct decision *d, unsigned status,
                                                           const char *code, const char *rule,
                                                           const char *fmt, ...);
__attribute__((format(printf, 5, 6))) void decision_fail(struct decision *d, unsigned status,
                                                         const char *code, const char *rule,
                                                         const char *fmt, ...);

/* Close d's audit record: its rule and peer members, and the closing brace. */
void decision_close_record(struct decision *d);

/* Turn an allow whose required record could not be written into its refusal: 500
 * cordon.audit_invalid when the record was invalid (a bug), 503 cordon.audit_failed else. */
void decision_unrecorded(struct decision *d, int invalid);

/* Render the refusal into d->body as d->reply says; d->body stays NULL without memory. */
void decision_render(struct decision *d);

/* Free what srv_decide rendered. */
void decision_done(struct decision *d);

/* The reason phrase of an HTTP status ("Forbidden"), "Error" for one it does not know. */
const char *decision_status_text(unsigned status);

/* The label of a kind for cordon_decisions_total, or NULL when the kind is not listed there;
 * and of an outcome ("allow", "deny", "error"). */
const char *decision_kind_name(enum decision_kind kind);
const char *decision_outcome_name(enum decision_outcome outcome);

#endif
