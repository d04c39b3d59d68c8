/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 key files. A private key lives in PREFIX.key (mode 0600, one line), the public key
 * in PREFIX.pub; both carry a key id, the first 8 bytes of SHA-256 over the 32-byte public
 * key, in lowercase hex. A trust file may list several public keys (one a line, '#' comments)
 * so that keys can be rotated. The text forms are specified in docs/PROTOCOL.md.
 *
 * Secret material is held in sodium_malloc'd memory and wiped by key_secret_free().
 */
#ifndef CORDON_SIGN_KEY_H
#define CORDON_SIGN_KEY_H

#include <stddef.h>
#include <stdint.h>

#define KEY_ID_HEX 16    /* characters in a key id */
#define KEY_TRUST_MAX 16 /* public keys one trust file may hold */

struct key_secret; /* opaque: seed, public key and id, in guarded memory */

struct key_public {
    char id[KEY_ID_HEX + 1];
    unsigned char pk[32];
};

struct key_trust {
    size_t n;
    struct key_public keys[KEY_TRUST_MAX];
};

/*
 * Generate a key pair and write PREFIX.key (O_EXCL, mode 0600) and PREFIX.pub (0644).
 * Refuses to overwrite either file. On success copies the key id into id_out (may be NULL).
 * Returns 0, or a negative errno; err gets a sentence for a person.
 */
__attribute__((warn_unused_result)) int
key_generate(const char *prefix, char id_out[KEY_ID_HEX + 1], char *err, size_t errlen);

/*
 * Load a private key file. Refuses a file readable or writable by group or others (-EPERM),
 * as ssh does. *out is owned by the caller and released with key_secret_free().
 */
__attribute__((warn_unused_result)) int key_secret_load(const char *path, struct key_secret **out,
                                                        char *err, size_t errlen);
void key_secret_free(struct key_secret *k);
const char *key_secret_id(const struct key_secret *k);
/* The 32-byte public half of k (the audit log names it in its start record). */
void key_secret_public(const struct key_secret *k, unsigned char pk[32]);
/* Sign msg; sig receives 64 bytes. */
void key_secret_sign(const struct key_secret *k, const unsigned char *msg, size_t len,
                     unsigned char sig[64]);

/*
 * Parse trust text: one or more public key lines. Used both for files and for a key given
 * inline (CORDON_TRUST may hold the value itself). Returns 0 or -EINVAL with err set.
 */
__attribute__((warn_unused_result)) int
key_trust_parse(const char *text, size_t len, struct key_trust *out, char *err, size_t errlen);
/* Read a trust file and parse it. */
__attribute__((warn_unused_result)) int key_trust_load(const char *path, struct key_trust *out,
                                                       char *err, size_t errlen);
/* The key with this id, or NULL. */
const struct key_public *key_trust_find(const struct key_trust *t, const char *id);

#endif
