/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data actions: what becomes of a value the scanner (data.h) found. A policy names one action
 * per class and per direction (request, response); this module turns a value into the text
 * that replaces it ([EMAIL], ************1111, [EMAIL:3f2a...], [EMAIL_1]) and rewrites a text
 * given its matches. ALLOW and LOG leave the value alone, BLOCK refuses the whole text: both
 * are the caller's (the engine's data stage) to carry out.
 *
 * Labels: the class name upper-cased, the part after its last dot, non-alphanumerics as '_':
 * pii.email -> EMAIL, pii.credit_card -> CREDIT_CARD, health -> HEALTH, custom claim_id ->
 * CLAIM_ID; every secret.* class is SECRET, so a label never tells which kind of secret it was.
 *
 * Hash: keyed BLAKE2b (libsodium crypto_generichash) of the value's bytes as found, with a
 * subkey derived from the 32-byte data key for this use only (so a hash never equals an
 * exact-data-match digest made with the same key): "[EMAIL:" + the first 16 hex characters of
 * the 128-bit digest + "]". Stable for one key: analysts can join on it. It is not
 * anonymisation: whoever holds the key can hash every value of a small value space (phone
 * numbers, SSNs) and reverse it.
 */
#ifndef CORDON_POLICY_DATA_DATA_ACTION_H
#define CORDON_POLICY_DATA_DATA_ACTION_H

#include <stddef.h>
#include <stdint.h>
#include "policy/data/data.h"
#include "policy/data/data_buf.h"

/* The same order, and strength for "strongest wins", as policy.h's enum policy_action. */
enum data_action {
    DATA_ALLOW,
    DATA_LOG,
    DATA_REDACT,
    DATA_MASK,
    DATA_HASH,
    DATA_TOKENIZE,
    DATA_BLOCK
};
/* "allow", "log", "redact", "mask", "hash", "tokenize", "block"; "?" out of range. */
const char *data_action_name(enum data_action a);

struct data_vault; /* data_vault.h */

struct data_act_ctx {
    const unsigned char *hash_key; /* DATA_KEY_LEN bytes, for DATA_HASH; NULL: hash fails */
    struct data_vault *vault;      /* for DATA_TOKENIZE; NULL: tokenize fails closed */
};

/*
 * The text that replaces one value of class cls_name under action a, appended to *out:
 *   DATA_REDACT   "[EMAIL]"
 *   DATA_MASK     the value with every ASCII letter and digit but the last 4 of them turned
 *                 into '*', other bytes kept: "4111 1111 1111 1111" -> "**** **** **** 1111";
 *                 a value of 4 or fewer alphanumerics is masked whole
 *   DATA_HASH     "[EMAIL:0123456789abcdef]"
 *   DATA_TOKENIZE "[EMAIL_1]" from ctx->vault (data_vault_tokenize())
 * Returns 0; -EINVAL for another action or a missing key/vault; DATA_ERR_BUDGET when the vault
 * is full (the text must then not be forwarded); -ENOMEM. On error *out is unchanged.
 */
__attribute__((warn_unused_result)) int
data_action_replace(enum data_action a, const char *cls_name, const char *value, size_t len,
                    const struct data_act_ctx *ctx, struct data_buf *out);

/*
 * text[0..len), whose first byte is at offset base of its stream (0 for a whole text), with
 * every match m[0..n) whose class's action (action_of_class[m.cls]) is REDACT, MASK, HASH or
 * TOKENIZE replaced, appended to *out; other matches are left as they are. Matches must be in
 * order, not overlap, and lie inside [base, base + len) (else -EINVAL). class_names[m.cls]
 * names each class (data_scanner_class_name()). Returns the number of values replaced (>= 0);
 * -EINVAL, DATA_ERR_BUDGET, -ENOMEM: then *out is unchanged and the text must not go out.
 */
__attribute__((warn_unused_result)) long
data_action_apply(const char *text, size_t len, uint64_t base, const struct data_match *m, size_t n,
                  const enum data_action *action_of_class, const char *const *class_names,
                  const struct data_act_ctx *ctx, struct data_buf *out);

/*
 * Read a data key file: exactly DATA_KEY_LEN bytes, a regular file of mode 0600 or stricter
 * owned by the caller (or root). Returns 0 with key filled; -errno or -EINVAL (wrong size,
 * mode too open) with err saying which and what to do. The caller wipes key after use.
 */
__attribute__((warn_unused_result)) int
data_key_read(const char *path, unsigned char key[DATA_KEY_LEN], char *err, size_t errlen);

#endif
