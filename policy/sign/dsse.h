/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DSSE (Dead Simple Signing Envelope) v1: the envelope JSON, the pre-authentication encoding
 * (PAE) and Ed25519 signatures over it. Generic: it knows nothing of policies; envelope.h
 * adds the policy payload type, versions and expiry on top.
 *
 * Envelope:  {"payload": b64, "payloadType": str, "signatures": [{"keyid": str, "sig": b64}]}
 * PAE:       "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body   (LEN = ASCII decimal)
 * Base64 is the standard alphabet with padding when written; standard and URL-safe are both
 * accepted when read, as the DSSE specification asks.
 */
#ifndef CORDON_SIGN_DSSE_H
#define CORDON_SIGN_DSSE_H

#include <stddef.h>
#include "base/err.h"
#include "policy/sign/key.h"

#define DSSE_MAX_ENVELOPE (2u << 20) /* bytes of envelope JSON accepted */
#define DSSE_MAX_SIGNATURES 8

/* The codes are in DSSE's block of base/err.h, disjoint from every errno. */
enum dsse_status {
    DSSE_OK = 0,
    /* not JSON, not an object, a field missing or mistyped */
    DSSE_ERR_MALFORMED = ERR_BLOCK_DSSE - 1,
    /* over DSSE_MAX_ENVELOPE, or too many signatures */
    DSSE_ERR_TOO_LARGE = ERR_BLOCK_DSSE - 2,
    /* payload or a signature is not valid base64 */
    DSSE_ERR_BASE64 = ERR_BLOCK_DSSE - 3,
    /* payloadType differs from the one expected */
    DSSE_ERR_PAYLOAD_TYPE = ERR_BLOCK_DSSE - 4,
    /* signatures is empty */
    DSSE_ERR_NO_SIGNATURE = ERR_BLOCK_DSSE - 5,
    /* no signature carries a key id the trust set holds */
    DSSE_ERR_UNKNOWN_KEY = ERR_BLOCK_DSSE - 6,
    /* a trusted key's signature does not verify */
    DSSE_ERR_BAD_SIGNATURE = ERR_BLOCK_DSSE - 7,
    DSSE_ERR_NOMEM = ERR_BLOCK_DSSE - 8,
};

/* Write the PAE of (type, body) into a malloc'd buffer; caller frees. NULL on overflow/OOM. */
unsigned char *dsse_pae(const char *type, const unsigned char *body, size_t body_len,
                        size_t *out_len);

/*
 * Sign body under type with k; *out receives malloc'd, NUL-terminated envelope JSON (caller
 * frees). Returns DSSE_OK or a negative dsse_status.
 */
__attribute__((warn_unused_result)) int dsse_sign(const char *type, const unsigned char *body,
                                                  size_t body_len, const struct key_secret *k,
                                                  char **out);

/*
 * Verify an envelope: expected payloadType, at least one signature from a key in trust, and
 * every signature whose key id is trusted must verify (one good and one bad is a failure).
 * On success *payload receives the decoded payload (malloc'd, NUL-terminated, caller frees),
 * *payload_len its length and keyid (may be NULL) the id of the key that verified it.
 * err always receives a sentence naming what failed, why, and what to do.
 */
__attribute__((warn_unused_result)) int dsse_verify(const char *env, size_t env_len,
                                                    const char *type, const struct key_trust *trust,
                                                    unsigned char **payload, size_t *payload_len,
                                                    char keyid[KEY_ID_HEX + 1], char *err,
                                                    size_t errlen);

/* What a status means, in a few words: a DSSE code, or a negative errno (strerror). */
const char *dsse_strerror(int status);

#endif
