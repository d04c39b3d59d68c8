/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoints as C2SP signed notes: a tlog-checkpoint body (origin line, decimal tree size,
 * base64 root hash) followed by a blank line and signature lines "\u2014 NAME base64(keyhash ||
 * signature)". Ed25519 only; the key hash is the first 4 bytes of SHA-256(NAME || "\n" || 0x01
 * || public key). cordon uses the checkpoint origin as the key name, so one name identifies
 * both the log and the key that vouches for it.
 */
#ifndef CORDON_AUDIT_NOTE_H
#define CORDON_AUDIT_NOTE_H

#include <stddef.h>
#include <stdint.h>

struct key_secret;

#define NOTE_ORIGIN_MAX 255
#define NOTE_MAX 4096 /* a signed checkpoint note is far smaller; anything larger is refused */

struct note_checkpoint {
    char origin[NOTE_ORIGIN_MAX + 1];
    uint64_t size;
    unsigned char root[32];
    size_t body_len; /* bytes of the signed body, final newline included */
};

/* 1 if s is a usable origin/key name: 1..255 bytes of [A-Za-z0-9._/:-]. */
int note_origin_valid(const char *s);

/* The 4-byte signed-note key hash of an Ed25519 key under name. */
void note_key_hash(const char *name, const unsigned char pk[32], unsigned char out[4]);

/*
 * Write the signed checkpoint for (origin, size, root) into out (NUL-terminated). Returns the
 * length, -EINVAL when origin is invalid, or -ENOSPC when it does not fit in cap bytes.
 */
__attribute__((warn_unused_result)) int note_checkpoint_sign(const char *origin, uint64_t size,
                                                             const unsigned char root[32],
                                                             const struct key_secret *k, char *out,
                                                             size_t cap);

/*
 * Parse a signed checkpoint note and verify it with pk under the origin as key name. Returns
 * 0 with *cp filled; -EINVAL when the text is not a checkpoint note (err says which part);
 * -EPERM when it is well formed but carries no valid signature by pk (err says so).
 */
__attribute__((warn_unused_result)) int note_checkpoint_verify(const char *text, size_t len,
                                                               const unsigned char pk[32],
                                                               struct note_checkpoint *cp,
                                                               char *err, size_t errlen);

/* Parse the body only, no signature check (to show what an unverifiable note claims). */
__attribute__((warn_unused_result)) int note_checkpoint_parse(const char *text, size_t len,
                                                              struct note_checkpoint *cp, char *err,
                                                              size_t errlen);

#endif
