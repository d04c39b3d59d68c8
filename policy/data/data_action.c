/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data actions: the replacement text of a value under redact, mask, hash and tokenize, and the
 * rewrite of a text from its matches (data_action.h). Buffers that may hold values are wiped
 * when they grow and when they are freed, so a value never lingers in freed heap memory.
 */
#include "policy/data/data_action.h"
#include "policy/data/data_vault.h"
#include "base/secret.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hash action's subkey: BLAKE2b of this string keyed with the data key. */
#define HASH_CONTEXT "cordon data hash v1"

const char *data_action_name(enum data_action a)
{
    static const char *const n[] = {"allow", "log", "redact", "mask", "hash", "tokenize", "block"};
    return (unsigned)a < sizeof n / sizeof n[0] ? n[a] : "?";
}

/* "[EMAIL:0123456789abcdef]" */
static int put_hash(const char *label, const char *value, size_t len, const unsigned char *key,
                    struct data_buf *out)
{
    unsigned char sub[crypto_generichash_KEYBYTES], d[16];
    char hex[2 * sizeof d + 1], txt[DATA_LABEL_MAX + 24];
    int rc = -EINVAL;
    if (crypto_generichash(sub, sizeof sub, (const unsigned char *)HASH_CONTEXT,
                           sizeof HASH_CONTEXT - 1, key, DATA_KEY_LEN) != 0 ||
        crypto_generichash(d, sizeof d, (const unsigned char *)value, len, sub, sizeof sub) != 0)
        goto out;
    sodium_bin2hex(hex, sizeof hex, d, 8);
    int n = snprintf(txt, sizeof txt, "[%s:%s]", label, hex);
    rc = data_buf_put(out, txt, (size_t)n);
out:
    sodium_memzero(sub, sizeof sub);
    sodium_memzero(d, sizeof d);
    return rc;
}

/* Every ASCII letter and digit but the last 4 becomes '*'. */
static int put_mask(const char *value, size_t len, struct data_buf *out)
{
    size_t alnum = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] < 0x80 && isalnum((unsigned char)value[i]))
            alnum++;
    size_t keep_from = alnum > 4 ? alnum - 4 : alnum; /* 4 or fewer: masked whole */
    size_t before = out->len, seen = 0;
    char chunk[256];
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch >= 0x80) {
            /* other scripts' letters are value, not layout: one '*' per UTF-8 character */
            if ((ch & 0xc0) != 0x80)
                chunk[k++] = '*';
        } else {
            chunk[k++] = isalnum(ch) && seen++ < keep_from ? '*' : (char)ch;
        }
        if (k == sizeof chunk) {
            rc = data_buf_put(out, chunk, k);
            k = 0;
        }
    }
    if (rc == 0)
        rc = data_buf_put(out, chunk, k);
    sodium_memzero(chunk, sizeof chunk);
    if (rc != 0)
        out->len = before;
    return rc;
}

int data_action_replace(enum data_action a, const char *cls_name, const char *value, size_t len,
                        const struct data_act_ctx *ctx, struct data_buf *out)
{
    char label[DATA_LABEL_MAX + 1], txt[DATA_LABEL_MAX + 3];
    data_action_label(cls_name, label, sizeof label);
    switch (a) {
    case DATA_REDACT: {
        int n = snprintf(txt, sizeof txt, "[%s]", label);
        return data_buf_put(out, txt, (size_t)n);
    }
    case DATA_MASK:
        return put_mask(value, len, out);
    case DATA_HASH:
        if (!ctx || !ctx->hash_key)
            return -EINVAL;
        return put_hash(label, value, len, ctx->hash_key, out);
    case DATA_TOKENIZE:
        if (!ctx || !ctx->vault)
            return -EINVAL;
        return data_vault_tokenize(ctx->vault, cls_name, value, len, out);
    default:
        return -EINVAL;
    }
}

static int rewrites(enum data_action a)
{
    return a == DATA_REDACT || a == DATA_MASK || a == DATA_HASH || a == DATA_TOKENIZE;
}

long data_action_apply(const char *text, size_t len, uint64_t base, const struct data_match *m,
                       size_t n, const enum data_action *action_of_class,
                       const char *const *class_names, const struct data_act_ctx *ctx,
                       struct data_buf *out)
{
    size_t before = out->len;
    uint64_t at = base; /* stream offset of the next byte of text to copy */
    long done = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].start < at || m[i].end < m[i].start || m[i].end - base > len) {
            rc = -EINVAL;
            goto fail;
        }
        enum data_action a = action_of_class[m[i].cls];
        if (!rewrites(a))
            continue;
        if ((rc = data_buf_put(out, text + (at - base), (size_t)(m[i].start - at))) != 0)
            goto fail;
        if ((rc = data_action_replace(a, class_names[m[i].cls], text + (m[i].start - base),
                                      (size_t)(m[i].end - m[i].start), ctx, out)) != 0)
            goto fail;
        at = m[i].end;
        done++;
    }
    if ((rc = data_buf_put(out, text + (at - base), (size_t)(base + len - at))) != 0)
        goto fail;
    return done;
fail:
    /* nothing of the half-rewritten text stays readable in the buffer */
    sodium_memzero(out->p + before, out->len - before);
    out->len = before;
    return rc;
}

int data_key_read(const char *path, unsigned char key[DATA_KEY_LEN], char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = secret_read_file_exact("the data key", path, 4096, &buf, &len, err, errlen);
    if (rc != 0)
        return rc;
    if (len != DATA_KEY_LEN) {
        snprintf(err, errlen,
                 "the data key %s has %zu bytes, expected exactly %d random bytes; make one "
                 "with `head -c %d /dev/urandom > %s && chmod 600 %s`",
                 path, len, DATA_KEY_LEN, DATA_KEY_LEN, path, path);
        rc = -EINVAL;
    } else {
        memcpy(key, buf, DATA_KEY_LEN);
    }
    secret_free(buf, len);
    return rc;
}
