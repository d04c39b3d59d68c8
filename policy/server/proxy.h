/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model proxy (docs/SERVER.md "Model proxy"): POST /v1/chat/completions, /v1/responses,
 * /v1/messages, /v1/embeddings and GET /v1/models on the listen addresses (each also without
 * /v1). A call is identified only through identity_check(), judged by the agent's compiled
 * engine (policy/engine/engine.h), sent to the upstream its model and format route it to with
 * the provider's key (never the agent's credential), and its answer streamed back through the
 * engine as it arrives. Every call leaves one model.call audit record.
 *
 * The HTTP front (http.c) calls proxy_serve() each time libmicrohttpd hands it the request:
 * first with the whole body, then again after every resume. A request waiting on its
 * upstream suspends its connection, so no MHD thread ever blocks on a provider.
 */
#ifndef CORDON_SERVER_PROXY_H
#define CORDON_SERVER_PROXY_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct srv;
struct proxy;
struct proxy_req;

/* Read the provider keys and start the upstream loop. Returns 0 or a negative errno with err
 * set (which key, which file). */
__attribute__((warn_unused_result)) int proxy_open(struct srv *s, struct proxy **out, char *err,
                                                   size_t errlen);
/* Stop the loop and wipe the keys; after every HTTP daemon is stopped. */
void proxy_close(struct proxy *p);

/*
 * Serve one proxy request (url, method as MHD gave them). *body (len bytes, malloc'ed) is
 * taken over on the first call and set to NULL. Returns 0 with *resp NULL when the connection
 * is suspended (call again after the resume), 0 with *resp and *status to queue, or -1 to
 * close the connection.
 */
int proxy_serve(struct proxy *p, struct MHD_Connection *c, struct proxy_req **pr, const char *url,
                const char *method, char **body, size_t len, struct MHD_Response **resp,
                unsigned *status);

/* The request is over (ok: completed normally). A stream the client left is read on to its
 * end in the background, bounded, so that its record holds the usage. */
void proxy_req_done(struct proxy_req *pr, int ok);

/* agent was just quarantined (anomaly.h): its streams waiting on a silent upstream are woken,
 * so that each ends at once rather than at its next bytes. */
void proxy_quarantined(struct proxy *p, const char *agent);

/* /metrics: upstream calls, failures, timeouts. */
void proxy_stats(struct proxy *p, uint64_t *calls, uint64_t *failed, uint64_t *timeouts);

#endif
