/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DSSE envelopes against golden vectors made by a second implementation (PyNaCl, see
 * tests/data/generate.py), and every way an envelope can be damaged or forged: each must be
 * refused with its own status and a message that says what failed. The tamper cases start
 * from the golden envelope, so a case fails for the one reason it is about.
 */
#include <criterion/criterion.h>
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "policy/sign/dsse.h"
#include "policy/sign/key.h"

#define TYPE "application/vnd.cordon.policy+json"
#define GOLDEN_ID "21fe31dfa154a261"

#define assert_has(text, phrase)                                                                   \
    cr_assert(strstr((text), (phrase)) != NULL, "expected \"%s\" in the message: %s", (phrase),    \
              (text))

static char tmpdir[64];        /* short: paths built from it always fit PATH_MAX */
static struct key_trust trust; /* the checked-in test.pub */

static void setup(void)
{
    char err[512] = "";

    cr_assert(sodium_init() >= 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cordon-test-dsse-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(key_trust_load(CORDON_TEST_DATA "/dsse/test.pub", &trust, err, sizeof err), 0,
                 "%s", err);
}

static void teardown(void)
{
    remove_tree(tmpdir);
}

/* A key the trust set does not hold. */
static struct key_secret *stranger_key(void)
{
    char prefix[PATH_MAX], path[PATH_MAX], err[512] = "";
    struct key_secret *k = NULL;

    snprintf(prefix, sizeof prefix, "%s/stranger", tmpdir);
    snprintf(path, sizeof path, "%s/stranger.key", tmpdir);
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(key_secret_load(path, &k, err, sizeof err), 0, "%s", err);
    return k;
}

static char *golden_text(size_t *len)
{
    return read_file(CORDON_TEST_DATA "/dsse/envelope.json", len);
}

static cJSON *golden_json(void)
{
    char *text = golden_text(NULL);
    cJSON *root = cJSON_Parse(text);

    cr_assert_not_null(root);
    free(text);
    return root;
}

static cJSON *first_sig(cJSON *root)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "signatures"), 0);
}

static char *print_and_free(cJSON *root)
{
    char *text = cJSON_PrintUnformatted(root);

    cr_assert_not_null(text);
    cJSON_Delete(root);
    return text;
}

static void set_string(cJSON *obj, const char *name, const char *value)
{
    cr_assert(cJSON_ReplaceItemInObjectCaseSensitive(obj, name, cJSON_CreateString(value)));
}

/* Decode a base64 member, flip one bit of byte i, write it back in standard base64. */
static void flip_b64(cJSON *obj, const char *name, size_t i)
{
    const char *b64 = cJSON_GetObjectItemCaseSensitive(obj, name)->valuestring;
    unsigned char bin[4096];
    char out[8192];
    size_t n = 0;

    cr_assert_eq(sodium_base642bin(bin, sizeof bin, b64, strlen(b64), NULL, &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL),
                 0);
    cr_assert(i < n);
    bin[i] ^= 0x01;
    sodium_bin2base64(out, sizeof out, bin, n, sodium_base64_VARIANT_ORIGINAL);
    set_string(obj, name, out);
}

/* Standard base64 to URL-safe without padding, in place. */
static void to_urlsafe(char *s)
{
    char *p, *o = s;

    for (p = s; *p; p++) {
        if (*p == '=')
            continue;
        *o++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    *o = '\0';
}

static int verify(const char *env, unsigned char **payload, size_t *len, char *keyid, char *err,
                  size_t errlen)
{
    return dsse_verify(env, strlen(env), TYPE, &trust, payload, len, keyid, err, errlen);
}

/* Verify text expecting failure rc; the message must hold phrase; no payload comes back. */
static void expect_fail(const char *env, int rc, const char *phrase)
{
    unsigned char *payload = (unsigned char *)"sentinel";
    char keyid[KEY_ID_HEX + 1] = "sentinel";
    char err[1024] = "";
    size_t len = 99;
    int got = verify(env, &payload, &len, keyid, err, sizeof err);

    cr_assert_eq(got, rc, "expected %d (%s), got %d: %s", rc, dsse_strerror(rc), got, err);
    cr_assert_null(payload, "no payload on failure");
    cr_assert_eq(len, 0);
    cr_assert_str_eq(keyid, "", "no key id on failure");
    assert_has(err, phrase);
}

static void expect_ok(const char *env)
{
    unsigned char *payload = NULL;
    char keyid[KEY_ID_HEX + 1] = "";
    char err[1024] = "";
    size_t len = 0, want_len;
    char *want = read_file(CORDON_TEST_DATA "/dsse/payload.json", &want_len);
    int rc = verify(env, &payload, &len, keyid, err, sizeof err);

    cr_assert_eq(rc, DSSE_OK, "%s", err);
    cr_assert_eq(len, want_len);
    cr_assert_eq(memcmp(payload, want, len), 0);
    cr_assert_str_eq(keyid, GOLDEN_ID);
    free(payload);
    free(want);
}

TestSuite(dsse, .init = setup, .fini = teardown);

Test(dsse, pae_matches_the_specification_example)
{
    static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    size_t len = 0;
    unsigned char *pae =
        dsse_pae("http://example.com/HelloWorld", (const unsigned char *)"hello world", 11, &len);

    cr_assert_not_null(pae);
    cr_assert_eq(len, sizeof want - 1);
    cr_assert_eq(memcmp(pae, want, len), 0, "got %.*s", (int)len, pae);
    free(pae);
}

Test(dsse, pae_matches_the_golden_vector)
{
    size_t body_len, want_len, len = 0;
    char *body = read_file(CORDON_TEST_DATA "/dsse/payload.json", &body_len);
    char *want = read_file(CORDON_TEST_DATA "/dsse/pae.bin", &want_len);
    unsigned char *pae = dsse_pae(TYPE, (const unsigned char *)body, body_len, &len);

    cr_assert_not_null(pae);
    cr_assert_eq(len, want_len);
    cr_assert_eq(memcmp(pae, want, len), 0);
    free(pae);
    free(body);
    free(want);
}

Test(dsse, pae_of_an_empty_body_and_of_binary_bytes)
{
    static const unsigned char bin[] = {'a', 0, 'b'};
    static const unsigned char want_bin[] = "DSSEv1 1 t 3 a\0b";
    size_t len = 0;
    unsigned char *pae = dsse_pae("type", NULL, 0, &len);

    cr_assert_not_null(pae);
    cr_assert_eq(len, 16);
    cr_assert_eq(memcmp(pae, "DSSEv1 4 type 0 ", 16), 0);
    free(pae);

    pae = dsse_pae("t", bin, sizeof bin, &len);
    cr_assert_not_null(pae);
    cr_assert_eq(len, sizeof want_bin - 1);
    cr_assert_eq(memcmp(pae, want_bin, len), 0);
    free(pae);
}

Test(dsse, signing_reproduces_the_golden_envelope)
{
    struct key_secret *k = golden_key(tmpdir);
    size_t body_len, want_len;
    char *body = read_file(CORDON_TEST_DATA "/dsse/payload.json", &body_len);
    char *want = golden_text(&want_len);
    char *out = NULL;

    cr_assert_eq(dsse_sign(TYPE, (const unsigned char *)body, body_len, k, &out), DSSE_OK);
    /* The checked-in file ends with a newline; the envelope itself does not. */
    cr_assert_eq(want[want_len - 1], '\n');
    want[want_len - 1] = '\0';
    cr_assert_str_eq(out, want);
    free(out);
    free(body);
    free(want);
    key_secret_free(k);
}

Test(dsse, golden_envelope_verifies_with_the_checked_in_key)
{
    char *text = golden_text(NULL);

    expect_ok(text);
    free(text);
}

Test(dsse, sign_then_verify_round_trip_with_binary_payload)
{
    static const unsigned char body[] = {0x00, 0xff, 'x', 0x00, '\n'};
    struct key_secret *k = stranger_key();
    struct key_trust t = {.n = 1};
    unsigned char *payload = NULL;
    char keyid[KEY_ID_HEX + 1], err[512] = "";
    size_t len = 0;
    char *env = NULL;

    /* Trust the stranger's key this time: its .pub sits next to its .key. */
    {
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/stranger.pub", tmpdir);
        cr_assert_eq(key_trust_load(path, &t, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(dsse_sign("application/x-test", body, sizeof body, k, &env), DSSE_OK);
    cr_assert_eq(dsse_verify(env, strlen(env), "application/x-test", &t, &payload, &len, keyid, err,
                             sizeof err),
                 DSSE_OK, "%s", err);
    cr_assert_eq(len, sizeof body);
    cr_assert_eq(memcmp(payload, body, len), 0);
    cr_assert_eq(payload[len], 0, "the payload is NUL-terminated for the caller");
    cr_assert_str_eq(keyid, key_secret_id(k));
    free(payload);
    free(env);
    key_secret_free(k);
}

Test(dsse, flipped_payload_byte_is_a_bad_signature)
{
    cJSON *root = golden_json();
    char *env;

    flip_b64(root, "payload", 20);
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BAD_SIGNATURE, "does not verify");
    free(env);
}

Test(dsse, flipped_signature_byte_is_a_bad_signature)
{
    cJSON *root = golden_json();
    char *env;

    flip_b64(first_sig(root), "sig", 5);
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BAD_SIGNATURE, "signatures[0] by trusted key " GOLDEN_ID);
    free(env);
}

Test(dsse, changed_payload_type_is_refused_before_crypto)
{
    cJSON *root = golden_json();
    char *env;

    set_string(root, "payloadType", "application/json");
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_PAYLOAD_TYPE,
                "payloadType is \"application/json\", expected \"" TYPE "\"");
    free(env);
}

Test(dsse, verifying_for_another_type_is_refused)
{
    char *text = golden_text(NULL);
    char err[512] = "";
    unsigned char *payload = NULL;
    size_t len;

    cr_assert_eq(dsse_verify(text, strlen(text), "application/vnd.cordon.other+json", &trust,
                             &payload, &len, NULL, err, sizeof err),
                 DSSE_ERR_PAYLOAD_TYPE);
    assert_has(err, "expected \"application/vnd.cordon.other+json\"");
    cr_assert_null(payload);
    free(text);
}

Test(dsse, missing_signatures_field_is_malformed)
{
    cJSON *root = golden_json();
    char *env;

    cJSON_DeleteItemFromObjectCaseSensitive(root, "signatures");
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "\"signatures\" is missing");
    free(env);
}

Test(dsse, empty_signatures_array_is_no_signature)
{
    cJSON *root = golden_json();
    char *env;

    cr_assert(cJSON_ReplaceItemInObjectCaseSensitive(root, "signatures", cJSON_CreateArray()));
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_NO_SIGNATURE, "signatures array is empty");
    free(env);
}

Test(dsse, signature_from_an_unknown_key_lists_both_sides)
{
    struct key_secret *k = stranger_key();
    size_t body_len;
    char *body = read_file(CORDON_TEST_DATA "/dsse/payload.json", &body_len);
    char *env = NULL;
    char want[128];

    cr_assert_eq(dsse_sign(TYPE, (const unsigned char *)body, body_len, k, &env), DSSE_OK);
    expect_fail(env, DSSE_ERR_UNKNOWN_KEY, "no signature from a trusted key");
    snprintf(want, sizeof want, "envelope signed by %s; trust holds " GOLDEN_ID, key_secret_id(k));
    expect_fail(env, DSSE_ERR_UNKNOWN_KEY, want);
    expect_fail(env, DSSE_ERR_UNKNOWN_KEY, "add that key to the trust file");
    free(env);
    free(body);
    key_secret_free(k);
}

Test(dsse, bad_base64_in_payload)
{
    cJSON *root = golden_json();
    char *env;

    set_string(root, "payload", "eyJj!!!!");
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BASE64, "payload is not valid base64");
    free(env);
}

Test(dsse, bad_base64_in_signature)
{
    cJSON *root = golden_json();
    char *env;

    set_string(first_sig(root), "sig", "YgItLCBBDTnqyzlU/Bv3*titahVeRVd0J");
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BASE64, "signatures[0] field \"sig\" is not valid base64");
    free(env);
}

Test(dsse, mixed_alphabets_in_one_string_are_not_base64)
{
    cJSON *root = golden_json();
    char *env;

    /* '-' (URL-safe) and '+' (standard) together belong to no variant. */
    set_string(root, "payload", "ab-+");
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BASE64, "payload");
    free(env);
}

Test(dsse, non_json_and_trailing_garbage_are_malformed)
{
    char *text = golden_text(NULL);
    size_t len = strlen(text);
    char *padded = malloc(len + 3);

    expect_fail("this is not json", DSSE_ERR_MALFORMED, "not valid JSON");
    expect_fail("", DSSE_ERR_MALFORMED, "not valid JSON");
    expect_fail("{\"payload\":", DSSE_ERR_MALFORMED, "not valid JSON");
    memcpy(padded, text, len);
    memcpy(padded + len, "{}", 3);
    expect_fail(padded, DSSE_ERR_MALFORMED, "unexpected text after the JSON");
    free(padded);
    free(text);
}

Test(dsse, a_json_array_or_scalar_is_malformed)
{
    expect_fail("[]", DSSE_ERR_MALFORMED, "top level is an array, expected an object");
    expect_fail("[{\"payload\":\"\"}]", DSSE_ERR_MALFORMED, "an array");
    expect_fail("\"payload\"", DSSE_ERR_MALFORMED, "a string");
    expect_fail("42", DSSE_ERR_MALFORMED, "a number");
}

Test(dsse, each_missing_field_is_named)
{
    static const char *fields[] = {"payload", "payloadType"};
    size_t i;

    for (i = 0; i < 2; i++) {
        cJSON *root = golden_json();
        char *env, want[64];

        cJSON_DeleteItemFromObjectCaseSensitive(root, fields[i]);
        env = print_and_free(root);
        snprintf(want, sizeof want, "no \"%s\" field", fields[i]);
        expect_fail(env, DSSE_ERR_MALFORMED, want);
        free(env);
    }
    {
        cJSON *root = golden_json();
        char *env;

        cJSON_DeleteItemFromObjectCaseSensitive(first_sig(root), "sig");
        env = print_and_free(root);
        expect_fail(env, DSSE_ERR_MALFORMED, "signatures[0] field \"sig\" is missing");
        free(env);
    }
}

Test(dsse, each_mistyped_field_is_named)
{
    cJSON *root;
    char *env;

    root = golden_json();
    cJSON_ReplaceItemInObjectCaseSensitive(root, "payload", cJSON_CreateNumber(1));
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "field \"payload\" must be a string, got a number");
    free(env);

    root = golden_json();
    cJSON_ReplaceItemInObjectCaseSensitive(root, "payloadType", cJSON_CreateNull());
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "field \"payloadType\" must be a string, got null");
    free(env);

    root = golden_json();
    cJSON_ReplaceItemInObjectCaseSensitive(root, "signatures", cJSON_CreateObject());
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "\"signatures\" is an object");
    free(env);

    root = golden_json();
    cJSON_ReplaceItemInObjectCaseSensitive(first_sig(root), "keyid", cJSON_CreateNumber(7));
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "signatures[0] field \"keyid\" must be a string");
    free(env);

    root = golden_json();
    cJSON_ReplaceItemInObjectCaseSensitive(first_sig(root), "sig", cJSON_CreateTrue());
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "signatures[0] field \"sig\" is a boolean");
    free(env);

    root = golden_json();
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(root, "signatures"),
                         cJSON_CreateString("sig"));
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_MALFORMED, "signatures[1] is a string, expected an object");
    free(env);
}

Test(dsse, duplicate_members_are_malformed)
{
    char *text = golden_text(NULL);
    char *env = malloc(strlen(text) + 64);

    /* A second "payload" ahead of the real one: cJSON would keep both and return the first. */
    snprintf(env, strlen(text) + 64, "{\"payload\":\"e30=\",%s", text + 1);
    expect_fail(env, DSSE_ERR_MALFORMED, "the envelope has the field \"payload\" twice");

    snprintf(env, strlen(text) + 64, "{\"payloadType\":\"" TYPE "\",%s", text + 1);
    expect_fail(env, DSSE_ERR_MALFORMED, "\"payloadType\" twice");

    snprintf(env, strlen(text) + 64, "{\"signatures\":[],%s", text + 1);
    expect_fail(env, DSSE_ERR_MALFORMED, "\"signatures\" twice");
    free(env);
    free(text);

    {
        cJSON *root = golden_json();
        cJSON *sig = first_sig(root);

        /* Appending keeps the first "sig", so only a duplicate check can see the second. */
        cJSON_AddItemToObject(sig, "sig", cJSON_CreateString("AAAA"));
        env = print_and_free(root);
        expect_fail(env, DSSE_ERR_MALFORMED, "signatures[0] has the field \"sig\" twice");
        free(env);
    }
}

Test(dsse, oversize_input_is_refused_before_parsing)
{
    char *text = golden_text(NULL);
    size_t len = strlen(text);
    char *big = malloc(DSSE_MAX_ENVELOPE + 2);
    char err[512] = "";
    unsigned char *payload = NULL;
    size_t plen;

    /* Exactly at the limit (whitespace padding is valid JSON) is accepted... */
    memset(big, ' ', DSSE_MAX_ENVELOPE + 1);
    memcpy(big, text, len);
    big[DSSE_MAX_ENVELOPE] = '\0';
    cr_assert_eq(
        dsse_verify(big, DSSE_MAX_ENVELOPE, TYPE, &trust, &payload, &plen, NULL, err, sizeof err),
        DSSE_OK, "%s", err);
    free(payload);
    /* ...one byte more is not. */
    big[DSSE_MAX_ENVELOPE] = ' ';
    big[DSSE_MAX_ENVELOPE + 1] = '\0';
    expect_fail(big, DSSE_ERR_TOO_LARGE, "over the limit of 2097152");
    free(big);
    free(text);
}

static char *with_signature_copies(int n)
{
    cJSON *root = golden_json();
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "signatures");
    int i;

    for (i = 1; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(cJSON_GetArrayItem(arr, 0), 1));
    return print_and_free(root);
}

Test(dsse, more_than_eight_signatures_is_too_large)
{
    char *env = with_signature_copies(DSSE_MAX_SIGNATURES);

    expect_ok(env);
    free(env);
    env = with_signature_copies(DSSE_MAX_SIGNATURES + 1);
    expect_fail(env, DSSE_ERR_TOO_LARGE, "more than 8 signatures");
    free(env);
}

Test(dsse, one_good_and_one_bad_trusted_signature_fails_in_either_order)
{
    int order;

    for (order = 0; order < 2; order++) {
        cJSON *root = golden_json();
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "signatures");
        cJSON *bad = cJSON_Duplicate(cJSON_GetArrayItem(arr, 0), 1);
        char *env, want[64];

        flip_b64(bad, "sig", 63);
        if (order == 0)
            cJSON_AddItemToArray(arr, bad);
        else
            cJSON_InsertItemInArray(arr, 0, bad);
        env = print_and_free(root);
        snprintf(want, sizeof want, "signatures[%d] by trusted key", order == 0 ? 1 : 0);
        expect_fail(env, DSSE_ERR_BAD_SIGNATURE, want);
        free(env);
    }
}

Test(dsse, a_signature_claiming_a_trusted_id_but_made_by_another_key_fails)
{
    struct key_secret *k = stranger_key();
    size_t body_len;
    char *body = read_file(CORDON_TEST_DATA "/dsse/payload.json", &body_len);
    char *env = NULL;
    cJSON *root;

    cr_assert_eq(dsse_sign(TYPE, (const unsigned char *)body, body_len, k, &env), DSSE_OK);
    root = cJSON_Parse(env);
    free(env);
    set_string(first_sig(root), "keyid", GOLDEN_ID);
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BAD_SIGNATURE, "does not verify");
    free(env);
    free(body);
    key_secret_free(k);
}

Test(dsse, a_cosignature_from_an_unknown_key_does_not_hurt)
{
    struct key_secret *k = stranger_key();
    size_t body_len;
    char *body = read_file(CORDON_TEST_DATA "/dsse/payload.json", &body_len);
    char *other = NULL, *env;
    cJSON *root, *theirs;

    cr_assert_eq(dsse_sign(TYPE, (const unsigned char *)body, body_len, k, &other), DSSE_OK);
    theirs = cJSON_Parse(other);
    root = golden_json();
    cJSON_InsertItemInArray(cJSON_GetObjectItemCaseSensitive(root, "signatures"), 0,
                            cJSON_Duplicate(first_sig(theirs), 1));
    env = print_and_free(root);
    expect_ok(env);
    free(env);
    cJSON_Delete(theirs);
    free(other);
    free(body);
    key_secret_free(k);
}

Test(dsse, urlsafe_and_unpadded_base64_are_accepted)
{
    cJSON *root = golden_json();
    char payload[1024], sig[256];
    char *env;

    snprintf(payload, sizeof payload, "%s",
             cJSON_GetObjectItemCaseSensitive(root, "payload")->valuestring);
    snprintf(sig, sizeof sig, "%s",
             cJSON_GetObjectItemCaseSensitive(first_sig(root), "sig")->valuestring);
    to_urlsafe(payload);
    to_urlsafe(sig);
    /* The golden payload and signature both use '+' or '/', so this really is another form. */
    cr_assert(strpbrk(payload, "-_") != NULL && strpbrk(sig, "-_") != NULL);
    set_string(root, "payload", payload);
    set_string(first_sig(root), "sig", sig);
    env = print_and_free(root);
    expect_ok(env);
    free(env);

    /* Standard alphabet without padding, too. */
    root = golden_json();
    snprintf(sig, sizeof sig, "%s",
             cJSON_GetObjectItemCaseSensitive(first_sig(root), "sig")->valuestring);
    cr_assert_not_null(strchr(sig, '='));
    *strchr(sig, '=') = '\0';
    set_string(first_sig(root), "sig", sig);
    env = print_and_free(root);
    expect_ok(env);
    free(env);
}

Test(dsse, a_signature_without_keyid_is_tried_against_every_trusted_key)
{
    cJSON *root = golden_json();
    char *env;

    cJSON_DeleteItemFromObjectCaseSensitive(first_sig(root), "keyid");
    env = print_and_free(root);
    expect_ok(env);
    free(env);

    root = golden_json();
    set_string(first_sig(root), "keyid", "");
    env = print_and_free(root);
    expect_ok(env);
    free(env);

    /* Without a key id, a signature that verifies with no trusted key is an unknown signer. */
    root = golden_json();
    cJSON_DeleteItemFromObjectCaseSensitive(first_sig(root), "keyid");
    flip_b64(first_sig(root), "sig", 0);
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_UNKNOWN_KEY, "no key id");
    free(env);
}

Test(dsse, a_trusted_signature_of_the_wrong_length_is_bad)
{
    cJSON *root = golden_json();
    char *env;

    /* 48 zero bytes: valid base64, not an Ed25519 signature. */
    set_string(first_sig(root), "sig",
               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    env = print_and_free(root);
    expect_fail(env, DSSE_ERR_BAD_SIGNATURE, "does not verify");
    free(env);
}

Test(dsse, a_rotated_trust_set_verifies_with_the_old_key)
{
    struct key_secret *k = stranger_key();
    char path[PATH_MAX], err[512] = "";
    char *text = golden_text(NULL);
    struct key_trust both;
    unsigned char *payload = NULL;
    char keyid[KEY_ID_HEX + 1];
    size_t len;

    snprintf(path, sizeof path, "%s/stranger.pub", tmpdir);
    cr_assert_eq(key_trust_load(path, &both, err, sizeof err), 0, "%s", err);
    both.keys[both.n++] = trust.keys[0];
    cr_assert_eq(
        dsse_verify(text, strlen(text), TYPE, &both, &payload, &len, keyid, err, sizeof err),
        DSSE_OK, "%s", err);
    cr_assert_str_eq(keyid, GOLDEN_ID);
    free(payload);
    free(text);
    key_secret_free(k);
}

Test(dsse, an_empty_trust_set_trusts_nothing)
{
    struct key_trust none = {.n = 0};
    char *text = golden_text(NULL);
    char err[512] = "";
    unsigned char *payload = NULL;
    size_t len;

    cr_assert_eq(
        dsse_verify(text, strlen(text), TYPE, &none, &payload, &len, NULL, err, sizeof err),
        DSSE_ERR_UNKNOWN_KEY);
    assert_has(err, "trust holds no key");
    cr_assert_null(payload);
    free(text);
}

Test(dsse, a_nul_byte_inside_the_envelope_is_malformed)
{
    char *text = golden_text(NULL);
    size_t len = strlen(text);
    char err[512] = "";
    unsigned char *payload = NULL;
    size_t plen;

    text[len - 1] = '\0'; /* the final newline */
    cr_assert_eq(dsse_verify(text, len, TYPE, &trust, &payload, &plen, NULL, err, sizeof err),
                 DSSE_ERR_MALFORMED);
    assert_has(err, "NUL byte");
    free(text);
}

Test(dsse, strerror_names_every_status)
{
    static const int codes[] = {DSSE_OK,
                                DSSE_ERR_MALFORMED,
                                DSSE_ERR_TOO_LARGE,
                                DSSE_ERR_BASE64,
                                DSSE_ERR_PAYLOAD_TYPE,
                                DSSE_ERR_NO_SIGNATURE,
                                DSSE_ERR_UNKNOWN_KEY,
                                DSSE_ERR_BAD_SIGNATURE,
                                DSSE_ERR_NOMEM};
    size_t i, j;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        cr_assert_str_neq(dsse_strerror(codes[i]), dsse_strerror(-999));
        for (j = 0; j < i; j++)
            cr_assert_str_neq(dsse_strerror(codes[i]), dsse_strerror(codes[j]));
    }
}
