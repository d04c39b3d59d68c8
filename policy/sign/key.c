/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 key files: generation, the private key file (one line, mode 0600, checked like ssh
 * checks its keys) and trust text (public key lines, several to allow rotation). The formats
 * are specified in docs/PROTOCOL.md, "Keys and signed envelopes"; parsing is strict because a
 * key file that is almost right is a file someone edited. Every buffer that ever holds the
 * seed, raw or in base64, is wiped with sodium_memzero before it goes out of scope, and the
 * loaded secret lives in sodium_malloc'd memory (guard pages, locked when the system allows).
 */
#include "policy/sign/key.h"
#include "base/diag.h"
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define PUB_TAG "cordon-ed25519"
#define SEC_TAG "cordon-ed25519-private"
#define KEY_B64_MAX 128  /* longest base64 key field we bother decoding */
#define SEC_FILE_MAX 256 /* a private key file is one 85-byte line */
#define TRUST_FILE_MAX (64u << 10)
#define SHOW_MAX 24 /* characters of a bad token quoted back in an error */

struct key_secret {
    unsigned char sk[crypto_sign_SECRETKEYBYTES]; /* seed || pk, as libsodium wants it */
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char id[KEY_ID_HEX + 1];
};

static int sodium_ready(char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        diag_set(err, errlen,
                 "key: libsodium failed to initialise (no entropy source?); "
                 "check that /dev/urandom or getrandom() is available");
        return -EIO;
    }
    return 0;
}

static void key_id_of(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char id[KEY_ID_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, pk, crypto_sign_PUBLICKEYBYTES);
    sodium_bin2hex(id, KEY_ID_HEX + 1, h, KEY_ID_HEX / 2);
}

/*
 * Copy at most SHOW_MAX bytes of an untrusted token into dst for an error message, replacing
 * anything unprintable: the text may come from a hostile file and ends up on a terminal.
 */
static void show(char *dst, size_t dstlen, const char *src, size_t len)
{
    size_t i, o = 0;

    if (dstlen == 0)
        return;
    for (i = 0; i < len && i < SHOW_MAX && o + 1 < dstlen; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (i < len && o + 4 < dstlen) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static bool is_key_id(const char *s, size_t len)
{
    size_t i;

    if (len != KEY_ID_HEX)
        return false;
    for (i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/*
 * Decode the base64 key field of a line into 32 bytes. Only the form we write is accepted
 * (standard alphabet, padded): these are our files, not a third party's envelopes. The
 * scratch buffer may hold a seed, so it is wiped on every path.
 */
static int decode_key32(const char *b64, size_t len, unsigned char out[32], char *why,
                        size_t whylen)
{
    unsigned char tmp[KEY_B64_MAX];
    size_t n = 0;
    int rc = -EINVAL;

    if (len == 0) {
        diag_set(why, whylen, "the key field is empty");
        goto out;
    }
    if (len > KEY_B64_MAX) {
        diag_set(why, whylen, "the key field is %zu characters, expected 44 (base64 of 32 bytes)",
                 len);
        goto out;
    }
    if (sodium_base642bin(tmp, sizeof tmp, b64, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        diag_set(why, whylen, "the key field is not valid base64 (standard alphabet, padded)");
        goto out;
    }
    if (n != 32) {
        diag_set(why, whylen, "the key field decodes to %zu bytes, expected 32", n);
        goto out;
    }
    memcpy(out, tmp, 32);
    rc = 0;
out:
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

/* Length of the token at s (up to a space or the end of the line). */
static size_t token(const char *s, size_t len)
{
    const char *sp = memchr(s, ' ', len);
    return sp ? (size_t)(sp - s) : len;
}

/*
 * One public key line: TAG SP KEYID SP BASE64 [SP COMMENT]. why receives the reason for a
 * rejection, without the "trust: line N" prefix the caller adds.
 */
static int parse_pub_line(const char *line, size_t len, struct key_public *out, char *why,
                          size_t whylen)
{
    char shown[SHOW_MAX + 8];
    char computed[KEY_ID_HEX + 1];
    size_t n, pos = 0;

    n = token(line, len);
    if (n == strlen(SEC_TAG) && memcmp(line, SEC_TAG, n) == 0) {
        /* Never quote the rest of this line: it is a seed. */
        diag_set(why, whylen,
                 "this is a private key (%s), not a public key; pass the .pub "
                 "file instead and keep the .key file secret",
                 SEC_TAG);
        return -EINVAL;
    }
    if (n != strlen(PUB_TAG) || memcmp(line, PUB_TAG, n) != 0) {
        show(shown, sizeof shown, line, n);
        diag_set(why, whylen, "expected a line \"%s KEYID BASE64\", got one starting \"%s\"",
                 PUB_TAG, shown);
        return -EINVAL;
    }
    pos = n + 1;
    if (pos > len) {
        diag_set(why, whylen, "the key id and key are missing after \"%s\"", PUB_TAG);
        return -EINVAL;
    }
    n = token(line + pos, len - pos);
    if (!is_key_id(line + pos, n)) {
        show(shown, sizeof shown, line + pos, n);
        diag_set(why, whylen, "the key id \"%s\" is not %d lowercase hex characters", shown,
                 KEY_ID_HEX);
        return -EINVAL;
    }
    memcpy(out->id, line + pos, KEY_ID_HEX);
    out->id[KEY_ID_HEX] = '\0';
    pos += n + 1;
    if (pos > len) {
        diag_set(why, whylen, "the key is missing after the key id %s", out->id);
        return -EINVAL;
    }
    /* Whatever follows the key field, after one space, is a free comment. */
    n = token(line + pos, len - pos);
    if (decode_key32(line + pos, n, out->pk, why, whylen) != 0)
        return -EINVAL;
    key_id_of(out->pk, computed);
    if (strcmp(computed, out->id) != 0) {
        diag_set(why, whylen,
                 "the key id %s does not match the key, whose id is %s; the line "
                 "was edited or damaged: copy the .pub file from the signer again",
                 out->id, computed);
        return -EINVAL;
    }
    return 0;
}

static bool is_blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

static int trust_parse(const char *text, size_t len, const char *origin, struct key_trust *out,
                       char *err, size_t errlen)
{
    char why[256];
    struct key_public kp;
    size_t pos = 0, i;
    unsigned lineno = 0;

    memset(out, 0, sizeof *out);
    if (text == NULL || memchr(text, '\0', len) != NULL) {
        diag_set(err, errlen,
                 "%s: contains a NUL byte; a trust file is text, one "
                 "\"%s KEYID BASE64\" line per key",
                 origin, PUB_TAG);
        return -EINVAL;
    }
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        bool dup = false;

        pos += n + (nl ? 1 : 0);
        lineno++;
        /* Tolerate files that went through a Windows editor. */
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (is_blank(line, n) || line[0] == '#')
            continue;
        if (parse_pub_line(line, n, &kp, why, sizeof why) != 0) {
            diag_set(err, errlen, "%s: line %u: %s", origin, lineno, why);
            memset(out, 0, sizeof *out);
            return -EINVAL;
        }
        /* The same key pasted twice is harmless; count it once. */
        for (i = 0; i < out->n; i++)
            if (memcmp(out->keys[i].pk, kp.pk, sizeof kp.pk) == 0)
                dup = true;
        if (dup)
            continue;
        if (out->n == KEY_TRUST_MAX) {
            diag_set(err, errlen,
                     "%s: line %u: more than %d keys; a trust file holds at most %d "
                     "(the current key and those being rotated): remove retired keys",
                     origin, lineno, KEY_TRUST_MAX, KEY_TRUST_MAX);
            memset(out, 0, sizeof *out);
            return -EINVAL;
        }
        out->keys[out->n++] = kp;
    }
    if (out->n == 0) {
        diag_set(err, errlen,
                 "%s: no public key found; expected at least one line \"%s KEYID "
                 "BASE64\" (the content of a .pub file written by cordon keygen)",
                 origin, PUB_TAG);
        return -EINVAL;
    }
    return 0;
}

int key_trust_parse(const char *text, size_t len, struct key_trust *out, char *err, size_t errlen)
{
    if (out == NULL) {
        diag_set(err, errlen, "trust: no output given (internal error)");
        return -EINVAL;
    }
    return trust_parse(text, len, "trust", out, err, errlen);
}

/*
 * Read a small whole file into buf (cap bytes). -EFBIG when it holds more than cap. Used for
 * the private key too, so it never copies through stdio's own buffers.
 */
static int read_small(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;

    for (;;) {
        ssize_t r;

        if (n == cap) {
            char probe;
            do
                r = read(fd, &probe, 1);
            while (r < 0 && errno == EINTR);
            if (r < 0)
                return -errno;
            if (r > 0)
                return -EFBIG;
            break;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

int key_trust_load(const char *path, struct key_trust *out, char *err, size_t errlen)
{
    char origin[PATH_MAX + 16];
    char *buf = NULL;
    struct stat st;
    size_t len = 0;
    int fd = -1;
    int rc = -1;

    if (out == NULL || path == NULL) {
        diag_set(err, errlen, "trust: no path or output given (internal error)");
        return -EINVAL;
    }
    memset(out, 0, sizeof *out);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        diag_set(err, errlen,
                 "trust: cannot open %s: %s; point CORDON_TRUST at the .pub file of "
                 "the key that signs your policies",
                 path, strerror(-rc));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        diag_set(err, errlen, "trust: cannot stat %s: %s", path, strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        diag_set(err, errlen, "trust: %s is not a regular file; expected a .pub file", path);
        goto out;
    }
    buf = malloc(TRUST_FILE_MAX);
    if (buf == NULL) {
        rc = -ENOMEM;
        diag_set(err, errlen, "trust: out of memory reading %s", path);
        goto out;
    }
    rc = read_small(fd, buf, TRUST_FILE_MAX, &len);
    if (rc == -EFBIG) {
        rc = -EINVAL;
        diag_set(err, errlen,
                 "trust: %s is over %u bytes; a trust file holds at most %d key "
                 "lines: is this the right file?",
                 path, TRUST_FILE_MAX, KEY_TRUST_MAX);
        goto out;
    }
    if (rc != 0) {
        diag_set(err, errlen, "trust: cannot read %s: %s", path, strerror(-rc));
        goto out;
    }
    snprintf(origin, sizeof origin, "trust file %s", path);
    rc = trust_parse(buf, len, origin, out, err, errlen);
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

const struct key_public *key_trust_find(const struct key_trust *t, const char *id)
{
    size_t i;

    if (t == NULL || id == NULL)
        return NULL;
    for (i = 0; i < t->n && i < KEY_TRUST_MAX; i++)
        if (strcmp(t->keys[i].id, id) == 0)
            return &t->keys[i];
    return NULL;
}

/*
 * Parse the private key line in buf. The caller owns and wipes buf; seed is wiped here on
 * every path once it has served to derive the key pair.
 */
static int parse_secret(const char *buf, size_t len, struct key_secret *k, char *why, size_t whylen)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    char file_id[KEY_ID_HEX + 1];
    size_t n, pos;
    int rc = -EINVAL;

    /* Exactly one line: strip its terminator, then no other may remain. */
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0) {
        diag_set(why, whylen, "the file is empty; expected one line \"%s KEYID BASE64\"", SEC_TAG);
        goto out;
    }
    if (memchr(buf, '\n', len) != NULL || memchr(buf, '\0', len) != NULL) {
        diag_set(why, whylen, "expected a single line \"%s KEYID BASE64\"", SEC_TAG);
        goto out;
    }
    n = token(buf, len);
    if (n != strlen(SEC_TAG) || memcmp(buf, SEC_TAG, n) != 0) {
        if (n == strlen(PUB_TAG) && memcmp(buf, PUB_TAG, n) == 0)
            diag_set(why, whylen,
                     "this is a public key (%s), not a private key; pass the .key "
                     "file",
                     PUB_TAG);
        else
            diag_set(why, whylen, "not a cordon private key; expected a line \"%s KEYID BASE64\"",
                     SEC_TAG);
        goto out;
    }
    pos = n + 1;
    n = pos <= len ? token(buf + pos, len - pos) : 0;
    if (pos > len || !is_key_id(buf + pos, n)) {
        diag_set(why, whylen, "the key id is not %d lowercase hex characters", KEY_ID_HEX);
        goto out;
    }
    memcpy(file_id, buf + pos, KEY_ID_HEX);
    file_id[KEY_ID_HEX] = '\0';
    pos += n + 1;
    if (pos > len) {
        diag_set(why, whylen, "the key is missing after the key id %s", file_id);
        goto out;
    }
    if (memchr(buf + pos, ' ', len - pos) != NULL) {
        diag_set(why, whylen, "unexpected text after the key; a private key line has 3 fields");
        goto out;
    }
    if (decode_key32(buf + pos, len - pos, seed, why, whylen) != 0)
        goto out;
    if (crypto_sign_seed_keypair(k->pk, k->sk, seed) != 0) {
        diag_set(why, whylen, "libsodium could not derive the key pair");
        goto out;
    }
    key_id_of(k->pk, k->id);
    if (strcmp(k->id, file_id) != 0) {
        diag_set(why, whylen,
                 "the key id %s does not match the key, whose id is %s; the file was "
                 "edited or damaged: restore it from backup or generate a new key",
                 file_id, k->id);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int key_secret_load(const char *path, struct key_secret **out, char *err, size_t errlen)
{
    char why[512];
    char *buf = NULL; /* holds the seed in base64: wiped on every path out */
    struct key_secret *k = NULL;
    size_t len = 0;
    int rc = -1;

    if (out == NULL || path == NULL) {
        diag_set(err, errlen, "key: no path or output given (internal error)");
        return -EINVAL;
    }
    *out = NULL;
    if ((rc = sodium_ready(err, errlen)) != 0)
        goto out;
    /* As ssh does: a key others can read may already be someone else's key (-EPERM, with the
     * chmod that fixes it); a symbolic link in its place is refused too (-ELOOP). */
    rc = secret_read_file_exact("the private key", path, SEC_FILE_MAX, &buf, &len, why, sizeof why);
    if (rc == -EFBIG) {
        rc = -EINVAL;
        diag_set(err, errlen,
                 "key: %s: over %d bytes, not a cordon private key; expected one "
                 "line \"%s KEYID BASE64\"",
                 path, SEC_FILE_MAX, SEC_TAG);
        goto out;
    }
    if (rc != 0) {
        diag_set(err, errlen, "key: %s%s", why,
                 rc == -ENOENT   ? "; create a key pair with cordon keygen"
                 : rc == -EINVAL ? "; expected a .key file"
                 : rc == -EPERM  ? " (and consider the key exposed if others could read it)"
                                 : "");
        goto out;
    }
    k = sodium_malloc(sizeof *k);
    if (k == NULL) {
        rc = -ENOMEM;
        diag_set(err, errlen, "key: cannot allocate guarded memory for the key");
        goto out;
    }
    if ((rc = parse_secret(buf, len, k, why, sizeof why)) != 0) {
        diag_set(err, errlen, "key: %s: %s", path, why);
        goto out;
    }
    *out = k;
    k = NULL; /* transferred */
    rc = 0;
out:
    secret_free(buf, len);
    key_secret_free(k);
    return rc;
}

void key_secret_free(struct key_secret *k)
{
    if (k == NULL)
        return;
    sodium_memzero(k, sizeof *k);
    sodium_free(k);
}

const char *key_secret_id(const struct key_secret *k)
{
    return k ? k->id : NULL;
}

void key_secret_public(const struct key_secret *k, unsigned char pk[32])
{
    memcpy(pk, k->pk, crypto_sign_PUBLICKEYBYTES);
}

void key_secret_sign(const struct key_secret *k, const unsigned char *msg, size_t len,
                     unsigned char sig[64])
{
    crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/*
 * Create path exclusively with mode, write text, flush it to disk. fchmod because the mode
 * given to open() passes through the umask, and a 0600 key must not depend on it.
 */
static int write_new(const char *path, mode_t mode, const char *text, size_t len, bool *made)
{
    int fd, rc;

    *made = false;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
    if (fd < 0)
        return -errno;
    *made = true;
    rc = fchmod(fd, mode) != 0 ? -errno : 0;
    if (rc == 0)
        rc = write_all(fd, text, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

int key_generate(const char *prefix, char id_out[KEY_ID_HEX + 1], char *err, size_t errlen)
{
    char keypath[PATH_MAX], pubpath[PATH_MAX];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char secline[160]; /* holds the seed in base64: wiped on every path */
    char publine[160];
    unsigned char seed[crypto_sign_SEEDBYTES];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char id[KEY_ID_HEX + 1];
    bool key_made = false, pub_made = false;
    int n, rc = -1;

    if (prefix == NULL || *prefix == '\0') {
        diag_set(err, errlen, "key: no path prefix given; pass one such as ./policy-signer");
        return -EINVAL;
    }
    if ((rc = sodium_ready(err, errlen)) != 0)
        goto out;
    if (snprintf(keypath, sizeof keypath, "%s.key", prefix) >= (int)sizeof keypath ||
        snprintf(pubpath, sizeof pubpath, "%s.pub", prefix) >= (int)sizeof pubpath) {
        rc = -ENAMETOOLONG;
        diag_set(err, errlen, "key: the path prefix is too long (over %d bytes)", PATH_MAX - 5);
        goto out;
    }
    randombytes_buf(seed, sizeof seed);
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        rc = -EIO;
        diag_set(err, errlen, "key: libsodium could not derive a key pair");
        goto out;
    }
    key_id_of(pk, id);

    sodium_bin2base64(b64, sizeof b64, seed, sizeof seed, sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(secline, sizeof secline, "%s %s %s\n", SEC_TAG, id, b64);
    sodium_memzero(b64, sizeof b64);
    if (n < 0 || (size_t)n >= sizeof secline) {
        rc = -EIO;
        diag_set(err, errlen, "key: internal error formatting the key line");
        goto out;
    }
    rc = write_new(keypath, 0600, secline, (size_t)n, &key_made);
    if (rc != 0) {
        if (rc == -EEXIST)
            diag_set(err, errlen,
                     "key: %s already exists; refusing to overwrite a key: choose "
                     "another prefix, or move the old key away first",
                     keypath);
        else
            diag_set(err, errlen, "key: cannot write %s: %s", keypath, strerror(-rc));
        goto out;
    }

    sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(publine, sizeof publine, "%s %s %s\n", PUB_TAG, id, b64);
    rc = write_new(pubpath, 0644, publine, (size_t)n, &pub_made);
    if (rc != 0) {
        if (rc == -EEXIST)
            diag_set(err, errlen,
                     "key: %s already exists; refusing to overwrite a key: choose "
                     "another prefix, or move the old key away first",
                     pubpath);
        else
            diag_set(err, errlen, "key: cannot write %s: %s", pubpath, strerror(-rc));
        goto out;
    }
    if (id_out != NULL)
        memcpy(id_out, id, sizeof id);
    rc = 0;
out:
    /* A half-written pair is worse than none: the next keygen would refuse to run. */
    if (rc != 0 && pub_made)
        unlink(pubpath);
    if (rc != 0 && key_made)
        unlink(keypath);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(secline, sizeof secline);
    sodium_memzero(b64, sizeof b64);
    return rc;
}
