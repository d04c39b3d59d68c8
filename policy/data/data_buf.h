/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The small pieces the data actions and the tokenize vault share: a byte buffer that wipes
 * what it held, and the label of a class ("pii.email" -> "EMAIL"). A module of its own so that
 * data_action (which calls the vault to tokenize) and data_vault (which names tokens by label)
 * do not depend on each other.
 */
#ifndef CORDON_POLICY_DATA_DATA_BUF_H
#define CORDON_POLICY_DATA_DATA_BUF_H

#include <stddef.h>

#define DATA_KEY_LEN 32   /* the data key: hash action and exact-data-match digests */
#define DATA_LABEL_MAX 48 /* a label is cut to this many characters */

/*
 * A growing byte buffer. Its bytes may be sensitive (a restored value, a text before its
 * rewrite): data_buf_free() wipes them, and growth wipes the old block before freeing it.
 */
struct data_buf {
    char *p;
    size_t len, cap;
};
/* Append n bytes. 0 or -ENOMEM (the buffer is unchanged). */
__attribute__((warn_unused_result)) int data_buf_put(struct data_buf *b, const void *p, size_t n);
/* Wipe and free; the buffer is empty afterwards and may be reused. */
void data_buf_free(struct data_buf *b);

/* The label of a class ("EMAIL") into out (NUL-terminated, at most DATA_LABEL_MAX + 1 bytes
 * with the NUL). Returns its length. */
size_t data_action_label(const char *cls_name, char *out, size_t outlen);

#endif
