/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One spelling per resource: the path, query and host of a request on a judged egress host
 * (sandbox.network.http) brought to the form its rules are matched against. docs/POLICY.md
 * ("How a request is read and its path normalized") is the user's side of this contract.
 *
 * The path is percent-decoded (every escape, not only the unreserved characters, since the
 * rules are written with the characters themselves), its "." and ".." segments resolved
 * (RFC 3986 section 5.2.4) and runs of '/' folded. What origins read in different ways is
 * refused rather than given one of its meanings, since a rule judged on one reading could be
 * escaped through another: an encoded '/' (%2F) or backslash (%5C), an encoded NUL or other
 * control character, an encoded dot segment ("%2e%2e"), and a ".." that would remove an empty
 * segment (folding "//" before or after resolving gives different paths).
 *
 * Pure functions, no allocation.
 */
#ifndef CORDON_SERVER_HTTPPATH_H
#define CORDON_SERVER_HTTPPATH_H

#include <stddef.h>

/* Cut every segment at its first ';' before decoding: the reading of servers that drop path
 * parameters ("/a;v=1/b" as "/a/b"), which a judge must consider too. */
#define HTTPPATH_STRIP_PARAMS 1

/*
 * Normalize the len bytes of raw, a request's path as sent (percent-encoded, starting with
 * '/'; or "*"), into out (cap bytes, NUL-terminated). Returns 0; -EINVAL with *why set to a
 * sentence saying what was refused; -ENAMETOOLONG when out is too small. The result starts
 * with '/', has no "//", no "." or ".." segment and no NUL; it keeps a trailing '/'.
 */
__attribute__((warn_unused_result)) int httppath_normalize(const char *raw, size_t len, int flags,
                                                           char *out, size_t cap, const char **why);

/* One query parameter, decoded (both point into the caller's buffer). */
struct httppath_param {
    const char *name;
    const char *value; /* "" for "?flag" and "?flag=" alike */
};

/*
 * Split query (what follows '?', not NUL-terminated: len bytes) into parameters at '&',
 * each NAME[=VALUE], percent-decoded with '+' read as a space (the form encoding every HTML
 * form and most clients use). Empty pieces ("a&&b") are skipped. The decoded strings go into
 * buf (cap bytes; len + 1 per parameter is always enough). Returns 0 and *n; -EINVAL with *why
 * for a malformed escape or an encoded NUL; -E2BIG when there are more than max parameters;
 * -ENAMETOOLONG when buf is too small.
 */
__attribute__((warn_unused_result)) int httppath_query(const char *query, size_t len,
                                                       struct httppath_param *v, size_t max,
                                                       size_t *n, char *buf, size_t cap,
                                                       const char **why);

/*
 * A Host value or target authority ("CRM.internal.:8080", "[::1]:80") as the policy's
 * endpoints name hosts: lowercased, one trailing dot removed, an IPv6 literal without its
 * brackets, into host (cap bytes); *port gets the port, or 0 when none is written. Returns 0,
 * -EINVAL with *why, or -ENAMETOOLONG.
 */
__attribute__((warn_unused_result)) int httppath_host(const char *authority, char *host, size_t cap,
                                                      unsigned *port, const char **why);

#endif
