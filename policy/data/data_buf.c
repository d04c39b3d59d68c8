/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wiping byte buffers and class labels (data_buf.h). A buffer never uses realloc: the old
 * block may hold a value and is wiped before it is freed.
 */
#include "policy/data/data_buf.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int data_buf_put(struct data_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return -ENOMEM;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        /* not realloc: the old block may hold a value and must be wiped before it is freed */
        char *q = malloc(cap);
        if (!q)
            return -ENOMEM;
        if (b->len)
            memcpy(q, b->p, b->len);
        if (b->p) {
            sodium_memzero(b->p, b->cap);
            free(b->p);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void data_buf_free(struct data_buf *b)
{
    if (b->p) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

size_t data_action_label(const char *cls_name, char *out, size_t outlen)
{
    if (!outlen)
        return 0;
    const char *s = cls_name ? cls_name : "";
    if (strncmp(s, "secret.", 7) == 0 || strcmp(s, "secret") == 0)
        s = "secret";
    else if (strrchr(s, '.'))
        s = strrchr(s, '.') + 1;
    size_t n = 0;
    for (; *s && n < DATA_LABEL_MAX && n + 1 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        out[n++] = isalnum(ch) && ch < 0x80 ? (char)toupper(ch) : '_';
    }
    if (n == 0 && outlen > 4) {
        memcpy(out, "DATA", 4);
        n = 4;
    }
    out[n] = '\0';
    return n;
}
