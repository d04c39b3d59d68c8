/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C2SP signed-note and tlog-checkpoint, the subset cordon writes and reads: one Ed25519
 * signature line by the log's own key, no extension lines. Parsing is strict (exact line
 * structure, canonical decimal and base64) because a checkpoint is evidence: two texts that
 * mean the same thing should not both verify.
 */
#include "policy/audit/note.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "policy/sign/key.h"

#define EMDASH "\xe2\x80\x94"

int note_origin_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NOTE_ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '/' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

void note_key_hash(const char *name, const unsigned char pk[32], unsigned char out[4])
{
    crypto_hash_sha256_state st;
    unsigned char h[32];
    static const unsigned char alg_ed25519 = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, &alg_ed25519, 1);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, 4);
}

int note_checkpoint_sign(const char *origin, uint64_t size, const unsigned char root[32],
                         const struct key_secret *k, char *out, size_t cap)
{
    char root64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    unsigned char blob[4 + 64], pk[32];
    char blob64[sodium_base64_ENCODED_LEN(sizeof blob, sodium_base64_VARIANT_ORIGINAL)];
    if (!note_origin_valid(origin))
        return -EINVAL;
    sodium_bin2base64(root64, sizeof root64, root, 32, sodium_base64_VARIANT_ORIGINAL);
    int body = snprintf(out, cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size, root64);
    if (body < 0 || (size_t)body >= cap)
        return -ENOSPC;
    key_secret_public(k, pk);
    note_key_hash(origin, pk, blob);
    key_secret_sign(k, (const unsigned char *)out, (size_t)body, blob + 4);
    sodium_bin2base64(blob64, sizeof blob64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    int all = snprintf(out + body, cap - (size_t)body, "\n" EMDASH " %s %s\n", origin, blob64);
    if (all < 0 || (size_t)all >= cap - (size_t)body)
        return -ENOSPC;
    return body + all;
}

/* The next line of text[*pos..len) without its LF; -1 when no LF terminates it. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *llen)
{
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (!nl)
        return -1;
    *line = text + *pos;
    *llen = (size_t)(nl - (text + *pos));
    *pos = (size_t)(nl - text) + 1;
    return 0;
}

int note_checkpoint_parse(const char *text, size_t len, struct note_checkpoint *cp, char *err,
                          size_t errlen)
{
    const char *l;
    size_t ll, pos = 0;
    memset(cp, 0, sizeof *cp);
    if (len > NOTE_MAX) {
        snprintf(err, errlen,
                 "checkpoint note is %zu bytes, more than the %d a checkpoint "
                 "can be; this is not a cordon checkpoint",
                 len, NOTE_MAX);
        return -EINVAL;
    }
    if (next_line(text, len, &pos, &l, &ll) != 0 || ll == 0 || ll > NOTE_ORIGIN_MAX) {
        snprintf(err, errlen, "checkpoint note: the first line (origin) is missing or too long");
        return -EINVAL;
    }
    memcpy(cp->origin, l, ll);
    cp->origin[ll] = '\0';
    if (!note_origin_valid(cp->origin)) {
        snprintf(err, errlen,
                 "checkpoint note: origin \"%.60s\" has characters outside "
                 "[A-Za-z0-9._/:-]",
                 cp->origin);
        return -EINVAL;
    }
    if (next_line(text, len, &pos, &l, &ll) != 0 || ll == 0 || ll > 20 || (ll > 1 && l[0] == '0')) {
        snprintf(err, errlen,
                 "checkpoint note: the second line must be the tree size in "
                 "decimal without leading zeros");
        return -EINVAL;
    }
    uint64_t size = 0;
    for (size_t i = 0; i < ll; i++) {
        if (l[i] < '0' || l[i] > '9' || size > (UINT64_MAX - 9) / 10) {
            snprintf(err, errlen,
                     "checkpoint note: tree size \"%.*s\" is not a decimal number "
                     "below 2^64",
                     (int)ll, l);
            return -EINVAL;
        }
        size = size * 10 + (uint64_t)(l[i] - '0');
    }
    cp->size = size;
    size_t bin = 0;
    const char *end = NULL;
    if (next_line(text, len, &pos, &l, &ll) != 0 || ll != 44 ||
        sodium_base642bin(cp->root, 32, l, ll, NULL, &bin, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        bin != 32 || end != l + ll) {
        snprintf(err, errlen,
                 "checkpoint note: the third line must be the 32-byte root hash "
                 "in standard base64");
        return -EINVAL;
    }
    if (next_line(text, len, &pos, &l, &ll) != 0 || ll != 0) {
        snprintf(err, errlen,
                 "checkpoint note: expected a blank line after the root hash "
                 "(extension lines are not used by cordon)");
        return -EINVAL;
    }
    cp->body_len = pos - 1;
    return 0;
}

int note_checkpoint_verify(const char *text, size_t len, const unsigned char pk[32],
                           struct note_checkpoint *cp, char *err, size_t errlen)
{
    int rc = note_checkpoint_parse(text, len, cp, err, errlen);
    if (rc != 0)
        return rc;
    unsigned char want[4];
    note_key_hash(cp->origin, pk, want);
    size_t pos = cp->body_len + 1, nlen = strlen(cp->origin), sigs = 0;
    const char *l;
    size_t ll;
    while (pos < len) {
        if (next_line(text, len, &pos, &l, &ll) != 0) {
            snprintf(err, errlen, "checkpoint note: the last signature line has no newline");
            return -EINVAL;
        }
        /* "— NAME BASE64" */
        if (ll < 5 + nlen || memcmp(l, EMDASH " ", 4) != 0) {
            snprintf(err, errlen,
                     "checkpoint note: signature line %zu does not start with "
                     "an em dash and a space",
                     sigs + 1);
            return -EINVAL;
        }
        sigs++;
        if (memcmp(l + 4, cp->origin, nlen) != 0 || l[4 + nlen] != ' ')
            continue; /* another name: a witness or another key; not ours to judge */
        unsigned char blob[4 + 64];
        size_t bin = 0;
        const char *b64 = l + 5 + nlen, *end = NULL;
        size_t b64len = ll - 5 - nlen;
        if (sodium_base642bin(blob, sizeof blob, b64, b64len, NULL, &bin, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != b64 + b64len || bin != sizeof blob)
            continue; /* not an Ed25519 signature, C2SP says to ignore unknown types */
        if (memcmp(blob, want, 4) != 0)
            continue;
        if (crypto_sign_verify_detached(blob + 4, (const unsigned char *)text, cp->body_len, pk) ==
            0)
            return 0;
    }
    if (sigs == 0) {
        snprintf(err, errlen, "checkpoint note for %s at size %llu carries no signature line",
                 cp->origin, (unsigned long long)cp->size);
        return -EINVAL;
    }
    snprintf(err, errlen,
             "checkpoint for %s at size %llu has no valid signature by the "
             "expected key; it was forged or altered, or signed by another key (check --trust)",
             cp->origin, (unsigned long long)cp->size);
    return -EPERM;
}
