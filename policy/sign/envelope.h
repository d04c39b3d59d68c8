/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed policies: a policy document stamped with version, issued_at and expires_at, wrapped
 * in a DSSE envelope of type application/vnd.cordon.policy+json. This is what cordond serves,
 * what `cordon sign` writes and what the shim verifies before it trusts a single rule.
 */
#ifndef CORDON_SIGN_ENVELOPE_H
#define CORDON_SIGN_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "base/err.h"
#include "policy/sign/dsse.h"

#define ENVELOPE_PAYLOAD_TYPE "application/vnd.cordon.policy+json"

enum envelope_status {
    ENVELOPE_OK = 0,
    /* DSSE_ERR_* values pass through unchanged; these are in ENVELOPE's block of base/err.h */
    /* payload is not a JSON object */
    ENVELOPE_ERR_PAYLOAD = ERR_BLOCK_ENVELOPE - 1,
    /* version/issued_at/expires_at missing or malformed */
    ENVELOPE_ERR_STAMP = ERR_BLOCK_ENVELOPE - 2,
    /* now >= expires_at */
    ENVELOPE_ERR_EXPIRED = ERR_BLOCK_ENVELOPE - 3,
    /* now < issued_at - skew */
    ENVELOPE_ERR_NOT_YET_VALID = ERR_BLOCK_ENVELOPE - 4,
};

#define ENVELOPE_CLOCK_SKEW 300 /* seconds of clock difference tolerated on issued_at */

struct envelope_stamp {
    uint64_t version; /* >= 1 */
    time_t issued_at;
    time_t expires_at; /* > issued_at */
};

/*
 * Stamp a policy (JSON object text) with st, replacing any version/issued_at/expires_at it
 * carries, and sign it. Timestamps are written as RFC 3339 UTC ("2026-11-28T11:00:00Z").
 * *out receives the envelope JSON (malloc'd, caller frees).
 */
__attribute__((warn_unused_result)) int envelope_sign(const char *policy_json, size_t len,
                                                      const struct envelope_stamp *st,
                                                      const struct key_secret *k, char **out,
                                                      char *err, size_t errlen);

/*
 * envelope_sign, and the signer's own secret paths written into the payload as the top-level
 * member "host_deny" (an array of n absolute paths), which every verifier then denies to the
 * sandbox (docs/POLICY.md, "The host secret set"). Like the stamp it replaces whatever the
 * document carried; n == 0 removes it. envelope_sign() itself leaves a document's host_deny
 * as written.
 */
__attribute__((warn_unused_result)) int envelope_sign_host(const char *policy_json, size_t len,
                                                           const struct envelope_stamp *st,
                                                           const char *const *host_deny, size_t n,
                                                           const struct key_secret *k, char **out,
                                                           char *err, size_t errlen);

/*
 * Verify an envelope at time now: DSSE with the policy payload type, then the stamp
 * (present, well-formed, issued_at <= now + skew, now < expires_at). On success *payload gets
 * the policy JSON (malloc'd, caller frees) and *st the stamp. keyid may be NULL.
 */
__attribute__((warn_unused_result)) int
envelope_verify(const char *env, size_t env_len, const struct key_trust *trust, time_t now,
                char **payload, size_t *payload_len, struct envelope_stamp *st,
                char keyid[KEY_ID_HEX + 1], char *err, size_t errlen);

/* What a status of envelope_sign or envelope_verify means, in a few words: an envelope code,
 * a DSSE code (dsse_strerror) or a negative errno (strerror). */
const char *envelope_strerror(int status);

/* Parse "2026-11-28T11:00:00Z" (UTC only). Returns 0 or -EINVAL. */
int envelope_parse_time(const char *s, time_t *out);
/* Format t as RFC 3339 UTC into buf (at least 21 bytes). */
void envelope_format_time(time_t t, char *buf, size_t len);
/* Parse a duration "90s", "30m", "24h", "7d" (a positive integer and one unit). */
int envelope_parse_duration(const char *s, time_t *out);

#endif
