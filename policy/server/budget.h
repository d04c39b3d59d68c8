/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's view of the ledger (ledger.h) for the agent and the operator: GET /v1/budget,
 * where an agent sees its own budgets and rates (docs/PROTOCOL.md "Budget"), and the
 * /metrics counters of spend, reservations and refusals by reason.
 */
#ifndef CORDON_SERVER_BUDGET_H
#define CORDON_SERVER_BUDGET_H

#include <stdint.h>

struct srv;
struct identity;

/* The GET /v1/budget answer for who at now_ms (0: the clock): a JSON object, malloc'ed, in
 * *out. Returns 0; -ENOENT when the agent has no policy here; -ENOMEM. */
__attribute__((warn_unused_result)) int budget_report(struct srv *s, const struct identity *who,
                                                      int64_t now_ms, char **out);

/* The ledger's /metrics lines (Prometheus text), malloc'ed; NULL on -ENOMEM. "" when cordond
 * has no ledger. */
char *budget_metrics(struct srv *s);

#endif
