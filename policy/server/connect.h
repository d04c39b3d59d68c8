/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CONNECT request head the tunnel accepts (docs/PROTOCOL.md "Egress tunnel"): the most
 * exposed parser of cordond, kept apart from the socket code so that unit tests and a fuzzer
 * drive it directly.
 */
#ifndef CORDON_SERVER_CONNECT_H
#define CORDON_SERVER_CONNECT_H

#include <stddef.h>

/*
 * Parse a request head (hdr, NUL-terminated, up to and including the blank line). On success
 * fills host (lowercased; IPv6 without brackets), port, the proxy key (from "Bearer KEY" or
 * "Basic base64(USER:KEY)") and the session (empty when absent) and returns 0; otherwise
 * returns the HTTP status to refuse with (400, 405) and points why at a sentence.
 */
int connect_parse_request(const char *hdr, char *host, size_t hostlen, unsigned *port, char *key,
                          size_t keylen, char *session, size_t sessionlen, const char **why);

#endif
