/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS context cordond connects to the origins of terminated hosts with (sandbox.network.http
 * `tls: terminate`): TLS 1.2 or later, the peer verified against the system store plus the CA
 * file of origin_ca, and the origins' sessions kept so that a new tunnel to an origin resumes
 * instead of making a full handshake.
 *
 * A session is kept per origin, keyed by the name and port the tunnel verified (the name is
 * also what the certificate was checked against), at most ORIGINTLS_SESSIONS of them, the
 * oldest replaced first. A resumed session skips the certificate check: it stands for the one
 * that was verified for the same name and port through this context, and only such a session
 * is ever kept. Every function may be called from any thread.
 */
#ifndef CORDON_SERVER_ORIGINTLS_H
#define CORDON_SERVER_ORIGINTLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#define ORIGINTLS_SESSIONS 256

/* A context verifying against the system store and ca_file (NULL or "": none). Returns 0 with
 * *out (SSL_CTX_free), or -ENOMEM / -EINVAL with err saying which and what to do. */
__attribute__((warn_unused_result)) int origintls_ctx(const char *ca_file, SSL_CTX **out, char *err,
                                                      size_t errlen);

/* A connection of ctx to the origin host:port, set to verify host (an IP address or a name,
 * which is then also the Server Name) and to resume the origin's session when one is kept.
 * Returns the SSL (SSL_free), or NULL when out of memory. */
SSL *origintls_new(SSL_CTX *ctx, const char *host, unsigned port);

#endif
