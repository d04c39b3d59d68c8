/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokenize vault: per session, a value found in a request becomes a placeholder
 * ("[EMAIL_1]") that the model sees instead, and the placeholder is turned back into the
 * value in the responses of the same session, so the user gets a coherent answer while the
 * model never saw the value.
 *
 *   - A token is "[" LABEL "_" N "]": LABEL from data_action_label(), N counted per label from
 *     1. The same (label, value) always gets the same token within one vault.
 *   - Bounded: at most max_entries values and max_bytes bytes of values. Beyond that
 *     data_vault_tokenize() answers DATA_ERR_BUDGET: the caller refuses the call (fail
 *     closed), it never forwards the value.
 *   - Thread-safe: one session may have parallel calls; every function takes the vault's
 *     mutex. Restorers may run while other calls tokenize.
 *   - Wiped: every value is wiped (sodium_memzero) when the vault is freed (session end).
 *   - Only tokens this vault minted are restored; a model-invented "[EMAIL_9]" is left alone.
 */
#ifndef CORDON_POLICY_DATA_DATA_VAULT_H
#define CORDON_POLICY_DATA_DATA_VAULT_H

#include <stddef.h>
#include "policy/data/data.h"
#include "policy/data/data_buf.h"

#define DATA_VAULT_ENTRIES_DEFAULT 4096
#define DATA_VAULT_BYTES_DEFAULT (1u << 20)
/* The longest token any vault mints: "[" + DATA_LABEL_MAX + "_" + 10 digits + "]". */
#define DATA_VAULT_TOKEN_MAX (DATA_LABEL_MAX + 13)

struct data_vault_limits {
    size_t max_entries; /* 0: DATA_VAULT_ENTRIES_DEFAULT */
    size_t max_bytes;   /* bytes of values held; 0: DATA_VAULT_BYTES_DEFAULT */
};

struct data_vault;

/* lim may be NULL (defaults). 0 and *out, or -ENOMEM. */
__attribute__((warn_unused_result)) int data_vault_new(const struct data_vault_limits *lim,
                                                       struct data_vault **out);
/* Wipe every value and free. NULL is fine. No other thread may use the vault any more. */
void data_vault_free(struct data_vault *v);

/* The token for value[0..len) of class cls_name, appended to *out: an existing one when the
 * (label, value) pair is known, else a new one. 0; DATA_ERR_BUDGET (vault full: refuse the
 * call); -EINVAL (empty value); -ENOMEM. On error *out is unchanged. */
__attribute__((warn_unused_result)) int data_vault_tokenize(struct data_vault *v,
                                                            const char *cls_name, const char *value,
                                                            size_t len, struct data_buf *out);

/* How many values the vault holds, and their bytes. */
size_t data_vault_count(struct data_vault *v);
size_t data_vault_bytes(struct data_vault *v);

/* The longest token this vault minted so far (0 when none): the restorer's holdback. */
size_t data_vault_window(struct data_vault *v);

/* A whole text with every token this vault minted replaced by its value, appended to *out.
 * Returns the number of tokens restored, or -ENOMEM (*out unchanged). */
__attribute__((warn_unused_result)) long data_vault_restore(struct data_vault *v, const char *text,
                                                            size_t len, struct data_buf *out);

/*
 * A streaming restorer: one text position of a response that arrives in pieces. Each feed
 * appends to *out the text that is final (tokens restored); it holds back at most the tail
 * that may still be the start of a token (at most DATA_VAULT_TOKEN_MAX - 1 bytes, from a '['
 * on), so "[EMA" + "IL_1]" across two chunks is restored. data_restore_end() releases
 * the rest. The restorer borrows the vault: free it first.
 */
struct data_restore;
__attribute__((warn_unused_result)) int data_restore_new(struct data_vault *v,
                                                         struct data_restore **out);
/* Wipes what it holds. */
void data_restore_free(struct data_restore *r);
/* Returns the number of tokens restored by this call (>= 0), or -ENOMEM: the restorer is then
 * dead and the caller fails the stream. */
__attribute__((warn_unused_result)) long data_restore_feed(struct data_restore *r, const char *buf,
                                                           size_t len, struct data_buf *out);
__attribute__((warn_unused_result)) long data_restore_end(struct data_restore *r,
                                                          struct data_buf *out);
/* Bytes held back now. */
size_t data_restore_pending(const struct data_restore *r);

#endif
