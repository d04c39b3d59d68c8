/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules of sandbox.network.http applied to one request: which entry a connection's host
 * falls under, and which of its rules (or its default) decides a request, with the sentence
 * that names the rule ("sandbox.network.http[0].rules[1]: deny path /api/customers/export*").
 *
 * The path is judged in its normal form (httppath.h), and when it holds path parameters
 * (";v=1") also as servers that drop them read it: the request is allowed only when every
 * reading is. A query condition on a repeated parameter is judged toward refusal: every value
 * must match for an allow rule, one is enough for a deny rule.
 *
 * A compiled set is immutable and may be shared by every thread; it hangs on the policy it
 * was compiled from, which must outlive it.
 */
#ifndef CORDON_SERVER_HTTPRULE_H
#define CORDON_SERVER_HTTPRULE_H

#include <stddef.h>

#include "policy/policy.h"

/* Query parameters judged in one request at most; more is refused as unjudgeable. */
#define HTTPRULE_PARAMS_MAX 256
#define HTTPRULE_REASON_MAX 512

struct httprule_set;

/*
 * Compile the query patterns of p's sandbox.network.http (vectorscan, as the deep check did).
 * Returns 0 and *out (httprule_free); -EINVAL or -ELIBACC with err naming the pattern and
 * why; -ENOMEM.
 */
__attribute__((warn_unused_result)) int
httprule_compile(const struct policy *p, struct httprule_set **out, char *err, size_t errlen);
void httprule_free(struct httprule_set *s);

/*
 * The index of the entry of sandbox.network.http whose host covers host (lowercased, an IPv6
 * literal without brackets: httppath_host) and port, or -1: requests to hosts no entry names
 * are not judged (the connection stays an opaque tunnel). Covers as egress_match reads
 * allow entries: the name, a wildcard strictly above it, "localhost" for the loopback
 * literals; a port "*" covers every port.
 */
int httprule_host(const struct policy *p, const char *host, unsigned port);

/*
 * Does a request's Host value (httpreq's host) name the endpoint the tunnel was opened to
 * (conn_host lowercased, an IPv6 literal without brackets; conn_port)? A Host without a port
 * means default_port (80 for plain HTTP, 443 when cordond terminated TLS). Returns 0 when it
 * does; -EINVAL with err saying what differs otherwise: the rules were chosen for the
 * tunnel's host, and an origin serving several names would answer for the Host's.
 */
__attribute__((warn_unused_result)) int
httprule_check_host(const char *conn_host, unsigned conn_port, const char *host_field,
                    unsigned default_port, char *err, size_t errlen);

struct httprule_request {
    const char *method; /* "GET" */
    const char *path;   /* as sent, percent-encoded (httpreq's path) */
    const char *query;  /* as sent, without '?'; NULL when there is none */
};

struct httprule_verdict {
    enum policy_http_action action;
    int rule;   /* index of the deciding rule in the entry, or -1: the entry's default */
    char *path; /* the normalized path that was judged (httprule_verdict_free) */
    char reason[HTTPRULE_REASON_MAX];
};

/*
 * Judge rq under entry `host` (an index from httprule_host) of the set's policy. Returns 0
 * and v (free v->path with httprule_verdict_free); when the request cannot be judged (a path
 * httppath refuses, a malformed query, too many parameters) -EINVAL with v->action deny,
 * v->rule -1 and v->reason saying why, which the caller answers with 400; -ENOMEM; -EIO
 * when a pattern cannot run (also a deny). Every failure leaves v a deny with v->path NULL.
 */
__attribute__((warn_unused_result)) int httprule_judge(const struct httprule_set *s, size_t host,
                                                       const struct httprule_request *rq,
                                                       struct httprule_verdict *v);
void httprule_verdict_free(struct httprule_verdict *v);

#endif
