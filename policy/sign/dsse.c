/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DSSE v1 envelopes (the secure-systems-lab DSSE specification, protocol.md and envelope.md)
 * signed with Ed25519. Verification is the gate every policy passes before the shim trusts a
 * rule, so it is deliberately unforgiving: a size cap before parsing, duplicate members
 * rejected (cJSON keeps both, and two parsers could pick different ones), the payload type
 * checked before any crypto, and any signature that names a trusted key but fails is fatal
 * even when another one verifies. Every failure leaves one sentence in err: what failed, why,
 * and what to do; text that came from the envelope is quoted only after being made printable.
 */
#include "policy/sign/dsse.h"
#include "base/diag.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define SIG_BYTES crypto_sign_BYTES
#define SHOW_MAX 40 /* characters of untrusted text quoted back in an error */

/* One decoded entry of "signatures". */
struct sig_entry {
    const char *keyid;  /* NULL or "" when the entry names no key (the spec allows that) */
    const char *b64;    /* points into the JSON tree */
    unsigned char *sig; /* decoded, malloc'd */
    size_t sig_len;
};

/* Make untrusted text safe and short enough for a terminal. */
static void show(char *dst, size_t dstlen, const char *src)
{
    size_t i, o = 0;

    if (dstlen == 0)
        return;
    for (i = 0; src[i] != '\0' && i < SHOW_MAX && o + 1 < dstlen; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (src[i] != '\0' && o + 4 < dstlen) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* Append to a message being assembled in a fixed buffer; truncation is acceptable. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t len, const char *fmt,
                                                         ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

unsigned char *dsse_pae(const char *type, const unsigned char *body, size_t body_len,
                        size_t *out_len)
{
    char head[64];
    unsigned char *buf;
    size_t type_len, head_len, total;
    int n;

    if (type == NULL || out_len == NULL || (body == NULL && body_len != 0))
        return NULL;
    type_len = strlen(type);
    /* "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body: two decimal lengths, four spaces. */
    n = snprintf(head, sizeof head, "DSSEv1 %zu ", type_len);
    if (n < 0 || (size_t)n >= sizeof head)
        return NULL;
    head_len = (size_t)n;
    n = snprintf(NULL, 0, " %zu ", body_len);
    if (n < 0)
        return NULL;
    if (type_len > SIZE_MAX - head_len - (size_t)n ||
        body_len > SIZE_MAX - head_len - (size_t)n - type_len)
        return NULL;
    total = head_len + type_len + (size_t)n + body_len;
    buf = malloc(total + 1); /* +1: snprintf below writes its NUL */
    if (buf == NULL)
        return NULL;
    memcpy(buf, head, head_len);
    memcpy(buf + head_len, type, type_len);
    snprintf((char *)buf + head_len + type_len, (size_t)n + 1, " %zu ", body_len);
    if (body_len)
        memcpy(buf + head_len + type_len + (size_t)n, body, body_len);
    *out_len = total;
    return buf;
}

int dsse_sign(const char *type, const unsigned char *body, size_t body_len,
              const struct key_secret *k, char **out)
{
    unsigned char sig[SIG_BYTES];
    char sig_b64[sodium_base64_ENCODED_LEN(SIG_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    unsigned char *pae = NULL;
    char *body_b64 = NULL;
    char *text = NULL;
    cJSON *root = NULL, *sigs, *entry;
    size_t pae_len = 0, b64_len;
    int rc = DSSE_ERR_NOMEM;

    if (out == NULL)
        return DSSE_ERR_MALFORMED;
    *out = NULL;
    if (type == NULL || k == NULL || (body == NULL && body_len != 0))
        return DSSE_ERR_MALFORMED;
    /* Base64 grows the body by 4/3: refuse early what the verifier would refuse anyway. */
    if (body_len > DSSE_MAX_ENVELOPE / 4 * 3)
        return DSSE_ERR_TOO_LARGE;
    if ((pae = dsse_pae(type, body, body_len, &pae_len)) == NULL)
        goto out;
    key_secret_sign(k, pae, pae_len, sig);

    b64_len = sodium_base64_ENCODED_LEN(body_len, sodium_base64_VARIANT_ORIGINAL);
    if ((body_b64 = malloc(b64_len)) == NULL)
        goto out;
    sodium_bin2base64(body_b64, b64_len, body, body_len, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(sig_b64, sizeof sig_b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);

    if ((root = cJSON_CreateObject()) == NULL)
        goto out;
    if (cJSON_AddStringToObject(root, "payload", body_b64) == NULL ||
        cJSON_AddStringToObject(root, "payloadType", type) == NULL ||
        (sigs = cJSON_AddArrayToObject(root, "signatures")) == NULL)
        goto out;
    if ((entry = cJSON_CreateObject()) == NULL)
        goto out;
    if (!cJSON_AddItemToArray(sigs, entry)) {
        cJSON_Delete(entry);
        goto out;
    }
    if (cJSON_AddStringToObject(entry, "keyid", key_secret_id(k)) == NULL ||
        cJSON_AddStringToObject(entry, "sig", sig_b64) == NULL)
        goto out;
    if ((text = cJSON_PrintUnformatted(root)) == NULL)
        goto out;
    if (strlen(text) > DSSE_MAX_ENVELOPE) {
        rc = DSSE_ERR_TOO_LARGE;
        goto out;
    }
    *out = text;
    text = NULL; /* transferred */
    rc = DSSE_OK;
out:
    cJSON_free(text);
    cJSON_Delete(root);
    free(body_b64);
    free(pae);
    return rc;
}

/*
 * Decode base64 in whichever of the four forms it is written (standard or URL-safe, padded or
 * not): DSSE requires verifiers to accept both alphabets. Each variant must consume the whole
 * string. *out is malloc'd with one spare byte, set to NUL, so a payload is also a C string.
 */
static int b64_decode_any(const char *s, unsigned char **out, size_t *out_len)
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL,
        sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE,
        sodium_base64_VARIANT_URLSAFE_NO_PADDING,
    };
    size_t len = strlen(s), cap = len / 4 * 3 + 3, n, i;
    unsigned char *buf = malloc(cap + 1);

    if (buf == NULL)
        return DSSE_ERR_NOMEM;
    for (i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        n = 0;
        /* b64_end NULL: libsodium itself fails unless the whole input was consumed. */
        if (sodium_base642bin(buf, cap, s, len, NULL, &n, NULL, variants[i]) == 0) {
            buf[n] = '\0';
            *out = buf;
            *out_len = n;
            return DSSE_OK;
        }
    }
    free(buf);
    return DSSE_ERR_BASE64;
}

/*
 * Find member name in obj, refusing duplicates. Walks the children rather than calling
 * cJSON_GetObjectItem, which silently returns the first of two equal names. *out is NULL when
 * the member is absent. Linear in the object's size: a hostile envelope may hold many members.
 */
static int member(const cJSON *obj, const char *name, const char *where, const cJSON **out,
                  char *err, size_t errlen)
{
    const cJSON *c;

    *out = NULL;
    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL || strcmp(c->string, name) != 0)
            continue;
        if (*out != NULL) {
            diag_set(err, errlen,
                     "envelope: %s has the field \"%s\" twice; a DSSE envelope has "
                     "each field once (the envelope is damaged or was tampered with)",
                     where, name);
            return DSSE_ERR_MALFORMED;
        }
        *out = c;
    }
    return DSSE_OK;
}

static int string_member(const cJSON *obj, const char *name, const char *where, bool required,
                         const char **out, char *err, size_t errlen)
{
    const cJSON *v;
    int rc;

    *out = NULL;
    if ((rc = member(obj, name, where, &v, err, errlen)) != DSSE_OK)
        return rc;
    if (v == NULL || (!required && cJSON_IsNull(v))) {
        if (!required)
            return DSSE_OK;
        diag_set(err, errlen,
                 "envelope: %s has no \"%s\" field; expected a DSSE envelope "
                 "{\"payload\", \"payloadType\", \"signatures\"}",
                 where, name);
        return DSSE_ERR_MALFORMED;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        diag_set(err, errlen, "envelope: %s field \"%s\" must be a string, got %s", where, name,
                 diag_json_type(v));
        return DSSE_ERR_MALFORMED;
    }
    *out = v->valuestring;
    return DSSE_OK;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse the envelope text and check its shape; fills body/type and the signature entries. */
static int parse_envelope(const char *env, size_t env_len, cJSON **root_out, const char **body,
                          const char **type, struct sig_entry *sigs, size_t *nsigs, char *err,
                          size_t errlen)
{
    const cJSON *arr, *e, *sv;
    const char *end = NULL;
    cJSON *root;
    size_t n = 0;
    int rc;

    if (env_len > DSSE_MAX_ENVELOPE) {
        diag_set(err, errlen,
                 "envelope: %zu bytes, over the limit of %u; this is not a cordon "
                 "policy envelope, or the policy is too large: split or shrink it",
                 env_len, DSSE_MAX_ENVELOPE);
        return DSSE_ERR_TOO_LARGE;
    }
    if (memchr(env, '\0', env_len) != NULL) {
        diag_set(err, errlen,
                 "envelope: contains a NUL byte, so it is not JSON text; fetch the "
                 "envelope again or check what produced it");
        return DSSE_ERR_MALFORMED;
    }
    root = cJSON_ParseWithLengthOpts(env, env_len, &end, 0);
    *root_out = root;
    if (root == NULL) {
        diag_set(err, errlen,
                 "envelope: not valid JSON (error near byte %zu); expected a DSSE "
                 "envelope {\"payload\", \"payloadType\", \"signatures\"}",
                 end && end >= env ? (size_t)(end - env) : (size_t)0);
        return DSSE_ERR_MALFORMED;
    }
    /* cJSON's own trailing-garbage check wants a NUL inside the length; do it here. */
    while (end != NULL && end < env + env_len && json_space(*end))
        end++;
    if (end != env + env_len) {
        diag_set(err, errlen,
                 "envelope: unexpected text after the JSON object (byte %zu); the "
                 "envelope is damaged: fetch it again",
                 end ? (size_t)(end - env) : (size_t)0);
        return DSSE_ERR_MALFORMED;
    }
    if (!cJSON_IsObject(root)) {
        diag_set(err, errlen,
                 "envelope: the top level is %s, expected an object {\"payload\", "
                 "\"payloadType\", \"signatures\"}",
                 diag_json_type(root));
        return DSSE_ERR_MALFORMED;
    }
    if ((rc = string_member(root, "payload", "the envelope", true, body, err, errlen)) != 0 ||
        (rc = string_member(root, "payloadType", "the envelope", true, type, err, errlen)) != 0)
        return rc;
    if ((rc = member(root, "signatures", "the envelope", &arr, err, errlen)) != 0)
        return rc;
    if (arr == NULL || !cJSON_IsArray(arr)) {
        diag_set(err, errlen,
                 "envelope: the field \"signatures\" %s%s; expected an array of "
                 "{\"keyid\", \"sig\"}",
                 arr ? "is " : "is missing", arr ? diag_json_type(arr) : "");
        return DSSE_ERR_MALFORMED;
    }
    for (e = arr->child; e != NULL; e = e->next) {
        char where[48];

        if (n == DSSE_MAX_SIGNATURES) {
            diag_set(err, errlen,
                     "envelope: more than %d signatures; cordon accepts at most %d: "
                     "drop signatures from retired keys",
                     DSSE_MAX_SIGNATURES, DSSE_MAX_SIGNATURES);
            return DSSE_ERR_TOO_LARGE;
        }
        snprintf(where, sizeof where, "signatures[%zu]", n);
        if (!cJSON_IsObject(e)) {
            diag_set(err, errlen, "envelope: %s is %s, expected an object {\"keyid\", \"sig\"}",
                     where, diag_json_type(e));
            return DSSE_ERR_MALFORMED;
        }
        if ((rc = string_member(e, "keyid", where, false, &sigs[n].keyid, err, errlen)) != 0)
            return rc;
        if ((rc = member(e, "sig", where, &sv, err, errlen)) != 0)
            return rc;
        if (sv == NULL || !cJSON_IsString(sv) || sv->valuestring == NULL) {
            diag_set(err, errlen,
                     "envelope: %s field \"sig\" %s%s; expected the base64 "
                     "signature",
                     where, sv ? "is " : "is missing", sv ? diag_json_type(sv) : "");
            return DSSE_ERR_MALFORMED;
        }
        /* Decoded only once the payload type is known to be right. */
        sigs[n].b64 = sv->valuestring;
        n++;
    }
    if (n == 0) {
        diag_set(err, errlen,
                 "envelope: the signatures array is empty; the policy was never "
                 "signed: sign it with cordon sign");
        return DSSE_ERR_NO_SIGNATURE;
    }
    *nsigs = n;
    return DSSE_OK;
}

static bool sig_verifies(const struct sig_entry *s, const unsigned char *pae, size_t pae_len,
                         const struct key_public *kp)
{
    return s->sig_len == SIG_BYTES &&
           crypto_sign_verify_detached(s->sig, pae, pae_len, kp->pk) == 0;
}

/* "(envelope signed by a, b; trust holds c, d)" for the unknown-key message. */
static void describe_keys(char *buf, size_t len, const struct sig_entry *sigs, size_t nsigs,
                          const struct key_trust *trust)
{
    char shown[SHOW_MAX + 8];
    size_t i;

    buf[0] = '\0';
    append(buf, len, "envelope signed by ");
    for (i = 0; i < nsigs; i++) {
        if (sigs[i].keyid != NULL && sigs[i].keyid[0] != '\0')
            show(shown, sizeof shown, sigs[i].keyid);
        else
            snprintf(shown, sizeof shown, "%s", "(no key id)");
        append(buf, len, "%s%s", i ? ", " : "", shown);
    }
    append(buf, len, "; trust holds ");
    for (i = 0; i < trust->n && i < KEY_TRUST_MAX; i++)
        append(buf, len, "%s%s", i ? ", " : "", trust->keys[i].id);
    if (trust->n == 0)
        append(buf, len, "no key");
}

int dsse_verify(const char *env, size_t env_len, const char *type, const struct key_trust *trust,
                unsigned char **payload, size_t *payload_len, char keyid[KEY_ID_HEX + 1], char *err,
                size_t errlen)
{
    struct sig_entry sigs[DSSE_MAX_SIGNATURES];
    char shown[SHOW_MAX + 8], shown2[SHOW_MAX + 8];
    char keys[1024]; /* 8 quoted ids seen and 16 trusted ones fit */
    cJSON *root = NULL;
    const char *body_b64 = NULL, *got_type = NULL;
    const struct key_public *good = NULL;
    unsigned char *body = NULL, *pae = NULL;
    size_t body_len = 0, pae_len = 0, nsigs = 0, i, j;
    long bad = -1;
    int rc = DSSE_ERR_MALFORMED;

    memset(sigs, 0, sizeof sigs);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (payload != NULL)
        *payload = NULL;
    if (payload_len != NULL)
        *payload_len = 0;
    if (keyid != NULL)
        keyid[0] = '\0';
    if (env == NULL || type == NULL || trust == NULL) {
        diag_set(err, errlen,
                 "envelope: no envelope, payload type or trust set given "
                 "(internal error)");
        return DSSE_ERR_MALFORMED;
    }
    if (sodium_init() < 0) {
        diag_set(err, errlen, "envelope: libsodium failed to initialise");
        return DSSE_ERR_NOMEM;
    }
    rc = parse_envelope(env, env_len, &root, &body_b64, &got_type, sigs, &nsigs, err, errlen);
    if (rc != DSSE_OK)
        goto out;
    /* Before any crypto: a signature over the wrong type must not even be looked at. */
    if (strcmp(got_type, type) != 0) {
        rc = DSSE_ERR_PAYLOAD_TYPE;
        show(shown, sizeof shown, got_type);
        show(shown2, sizeof shown2, type);
        diag_set(err, errlen,
                 "envelope: payloadType is \"%s\", expected \"%s\"; this envelope "
                 "does not carry what was asked for: check the file or URL",
                 shown, shown2);
        goto out;
    }
    if ((rc = b64_decode_any(body_b64, &body, &body_len)) != DSSE_OK) {
        diag_set(err, errlen,
                 "envelope: the payload is not valid base64; the envelope is damaged: "
                 "fetch it again");
        goto out;
    }
    for (i = 0; i < nsigs; i++) {
        if ((rc = b64_decode_any(sigs[i].b64, &sigs[i].sig, &sigs[i].sig_len)) != DSSE_OK) {
            diag_set(err, errlen,
                     "envelope: signatures[%zu] field \"sig\" is not valid base64; "
                     "the envelope is damaged: fetch it again",
                     i);
            goto out;
        }
    }
    if ((pae = dsse_pae(type, body, body_len, &pae_len)) == NULL) {
        rc = DSSE_ERR_NOMEM;
        diag_set(err, errlen, "envelope: out of memory");
        goto out;
    }
    for (i = 0; i < nsigs; i++) {
        const struct sig_entry *s = &sigs[i];
        bool named = s->keyid != NULL && s->keyid[0] != '\0';
        bool claimed = false, ok = false;

        for (j = 0; j < trust->n && j < KEY_TRUST_MAX && !ok; j++) {
            const struct key_public *kp = &trust->keys[j];

            /* The key id is an unauthenticated hint: it only narrows which keys to try. */
            if (named && strcmp(s->keyid, kp->id) != 0)
                continue;
            claimed = true;
            if (sig_verifies(s, pae, pae_len, kp)) {
                ok = true;
                if (good == NULL)
                    good = kp;
            }
        }
        /*
         * A signature that names a trusted key and fails is an alteration or a forgery: fatal
         * even beside a good one. One without a key id that matches nothing may be a co-signer
         * we do not know, like a signature from an untrusted key id.
         */
        if (named && claimed && !ok && bad < 0)
            bad = (long)i;
    }
    if (bad >= 0) {
        rc = DSSE_ERR_BAD_SIGNATURE;
        diag_set(err, errlen,
                 "envelope: signatures[%ld] by trusted key %s does not verify; the "
                 "payload or signature was changed after signing, or another key "
                 "claims this id: fetch the policy again, and if it persists re-sign it",
                 bad, sigs[bad].keyid /* equal to a trusted id, so printable */);
        goto out;
    }
    if (good == NULL) {
        rc = DSSE_ERR_UNKNOWN_KEY;
        describe_keys(keys, sizeof keys, sigs, nsigs, trust);
        diag_set(err, errlen,
                 "envelope: no signature from a trusted key (%s); sign with the key "
                 "whose .pub you pinned, or add that key to the trust file",
                 keys);
        goto out;
    }
    if (keyid != NULL)
        memcpy(keyid, good->id, KEY_ID_HEX + 1);
    if (payload != NULL) {
        *payload = body;
        body = NULL; /* transferred */
    }
    if (payload_len != NULL)
        *payload_len = body_len;
    rc = DSSE_OK;
out:
    for (i = 0; i < DSSE_MAX_SIGNATURES; i++)
        free(sigs[i].sig);
    free(pae);
    free(body);
    cJSON_Delete(root);
    return rc;
}

const char *dsse_strerror(int status)
{
    switch (status) {
    case DSSE_OK:
        return "ok";
    case DSSE_ERR_MALFORMED:
        return "malformed envelope";
    case DSSE_ERR_TOO_LARGE:
        return "envelope too large or too many signatures";
    case DSSE_ERR_BASE64:
        return "invalid base64 in envelope";
    case DSSE_ERR_PAYLOAD_TYPE:
        return "unexpected payload type";
    case DSSE_ERR_NO_SIGNATURE:
        return "envelope has no signature";
    case DSSE_ERR_UNKNOWN_KEY:
        return "no signature from a trusted key";
    case DSSE_ERR_BAD_SIGNATURE:
        return "signature does not verify";
    case DSSE_ERR_NOMEM:
        return "out of memory";
    default:
        return err_is_errno(status) ? strerror(-status) : "unknown DSSE error";
    }
}
