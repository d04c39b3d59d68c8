/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed policies as the shim sees them: a stamped policy verifies inside its validity window
 * and nowhere else, a stamp that is missing or malformed is refused with the field named, and
 * the time and duration parsers accept exactly the documented forms. The golden envelope in
 * tests/data/envelope was made by a second implementation (tests/data/generate.py).
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
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "policy/sign/dsse.h"
#include "policy/sign/envelope.h"
#include "policy/sign/key.h"

#define GOLDEN_ID "21fe31dfa154a261"
#define ISSUED ((time_t)1795863600)  /* 2026-11-28T11:00:00Z */
#define EXPIRES ((time_t)1796468400) /* 2026-12-05T11:00:00Z */

#define assert_has(text, phrase)                                                                   \
    cr_assert(strstr((text), (phrase)) != NULL, "expected \"%s\" in the message: %s", (phrase),    \
              (text))

static char tmpdir[64];
static struct key_trust trust;
static struct key_secret *key;

static void setup(void)
{
    char err[512] = "";

    cr_assert(sodium_init() >= 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cordon-test-envelope-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(key_trust_load(CORDON_TEST_DATA "/dsse/test.pub", &trust, err, sizeof err), 0,
                 "%s", err);
    key = golden_key(tmpdir);
}

static void teardown(void)
{
    key_secret_free(key);
    remove_tree(tmpdir);
}

static const struct envelope_stamp golden_stamp = {7, ISSUED, EXPIRES};

static char *sign(const char *policy, const struct envelope_stamp *st)
{
    char err[512] = "", *out = NULL;

    cr_assert_eq(envelope_sign(policy, strlen(policy), st, key, &out, err, sizeof err), ENVELOPE_OK,
                 "%s", err);
    return out;
}

/* An envelope around an arbitrary payload, to reach stamps envelope_sign would never write. */
static char *sign_raw(const char *payload)
{
    char *out = NULL;

    cr_assert_eq(dsse_sign(ENVELOPE_PAYLOAD_TYPE, (const unsigned char *)payload, strlen(payload),
                           key, &out),
                 DSSE_OK);
    return out;
}

static int verify_at(const char *env, time_t now, char **payload, struct envelope_stamp *st,
                     char *err, size_t errlen)
{
    size_t len;

    return envelope_verify(env, strlen(env), &trust, now, payload, &len, st, NULL, err, errlen);
}

static void expect_fail_at(const char *env, time_t now, int rc, const char *phrase)
{
    char *payload = (char *)"sentinel";
    struct envelope_stamp st = {0, 0, 0};
    char err[1024] = "";
    int got = verify_at(env, now, &payload, &st, err, sizeof err);

    cr_assert_eq(got, rc, "expected %d, got %d: %s", rc, got, err);
    cr_assert_null(payload, "no policy on failure");
    assert_has(err, phrase);
}

TestSuite(envelope, .init = setup, .fini = teardown);

Test(envelope, golden_envelope_verifies_with_its_stamp)
{
    char *env = read_file(CORDON_TEST_DATA "/envelope/policy.envelope.json", NULL);
    char *payload = NULL, keyid[KEY_ID_HEX + 1] = "", err[512] = "";
    struct envelope_stamp st;
    size_t len = 0;

    cr_assert_eq(envelope_verify(env, strlen(env), &trust, ISSUED + 3600, &payload, &len, &st,
                                 keyid, err, sizeof err),
                 ENVELOPE_OK, "%s", err);
    cr_assert_eq(st.version, 7);
    cr_assert_eq(st.issued_at, ISSUED);
    cr_assert_eq(st.expires_at, EXPIRES);
    cr_assert_str_eq(keyid, GOLDEN_ID);
    cr_assert_eq(strlen(payload), len);
    assert_has(payload, "\"agent\":\"claims-agent\"");
    assert_has(payload, "\"version\":7,\"issued_at\":\"2026-11-28T11:00:00Z\","
                        "\"expires_at\":\"2026-12-05T11:00:00Z\"}");
    free(payload);
    free(env);
}

Test(envelope, signing_reproduces_the_golden_envelope)
{
    char *policy = read_file(CORDON_TEST_DATA "/envelope/policy.json", NULL);
    size_t want_len;
    char *want = read_file(CORDON_TEST_DATA "/envelope/policy.envelope.json", &want_len);
    char *out = sign(policy, &golden_stamp);

    want[want_len - 1] = '\0'; /* the file's final newline */
    cr_assert_str_eq(out, want);
    free(out);
    free(want);
    free(policy);
}

Test(envelope, round_trip_keeps_the_policy_and_the_stamp)
{
    const struct envelope_stamp in = {123456789, 1700000000, 1700086400};
    char *env =
        sign("{\"cordon_policy\":1,\"agent\":\"a\",\"list\":[1,2.5,\"x\"],\"t\":true}", &in);
    char *payload = NULL, err[512] = "";
    struct envelope_stamp st;
    cJSON *doc;

    cr_assert_eq(verify_at(env, 1700000000, &payload, &st, err, sizeof err), ENVELOPE_OK, "%s",
                 err);
    cr_assert_eq(st.version, in.version);
    cr_assert_eq(st.issued_at, in.issued_at);
    cr_assert_eq(st.expires_at, in.expires_at);
    doc = cJSON_Parse(payload);
    cr_assert_not_null(doc);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "agent")->valuestring, "a");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "list")), 3);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "issued_at")->valuestring,
                     "2023-11-14T22:13:20Z");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "expires_at")->valuestring,
                     "2023-11-15T22:13:20Z");
    assert_has(payload, "\"version\":123456789,");
    cJSON_Delete(doc);
    free(payload);
    free(env);
}

static int count_members(const cJSON *obj, const char *name)
{
    const cJSON *c;
    int n = 0;

    for (c = obj->child; c; c = c->next)
        n += strcmp(c->string, name) == 0;
    return n;
}

Test(envelope, signing_replaces_a_stamp_the_policy_already_carries)
{
    char *env = sign("{\"version\":\"old\",\"issued_at\":1,\"keep\":\"me\",\"expires_at\":null,"
                     "\"version\":3,\"Version\":\"other field\"}",
                     &golden_stamp);
    char *payload = NULL, err[512] = "";
    struct envelope_stamp st;
    cJSON *doc;

    cr_assert_eq(verify_at(env, ISSUED, &payload, &st, err, sizeof err), ENVELOPE_OK, "%s", err);
    cr_assert_eq(st.version, 7);
    doc = cJSON_Parse(payload);
    cr_assert_eq(count_members(doc, "version"), 1, "%s", payload);
    cr_assert_eq(count_members(doc, "issued_at"), 1, "%s", payload);
    cr_assert_eq(count_members(doc, "expires_at"), 1, "%s", payload);
    cr_assert_eq(count_members(doc, "Version"), 1, "only exact names are stamp fields");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "keep")->valuestring, "me");
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(doc, "version")->valuedouble, 7);
    cJSON_Delete(doc);
    free(payload);
    free(env);
}

Test(envelope, signing_host_replaces_host_deny_and_plain_signing_keeps_it)
{
    static const char *const host[] = {"/etc/cordon/policy.key", "/var/lib/cordond"};
    const char *doc = "{\"cordon_policy\":1,\"agent\":\"a\",\"host_deny\":[\"/forged\"],"
                      "\"host_deny\":[\"/second\"]}";
    char *out = NULL, *payload = NULL, err[512] = "";
    struct envelope_stamp st;
    cr_assert_eq(
        envelope_sign_host(doc, strlen(doc), &golden_stamp, host, 2, key, &out, err, sizeof err),
        ENVELOPE_OK, "%s", err);
    cr_assert_eq(verify_at(out, ISSUED, &payload, &st, err, sizeof err), ENVELOPE_OK, "%s", err);
    cJSON *p = cJSON_Parse(payload);
    cr_assert_eq(count_members(p, "host_deny"), 1, "%s", payload);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "host_deny");
    cr_assert_eq(cJSON_GetArraySize(arr), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(arr, 0)->valuestring, "/etc/cordon/policy.key");
    cr_assert_str_eq(cJSON_GetArrayItem(arr, 1)->valuestring, "/var/lib/cordond");
    cJSON_Delete(p);
    free(payload);
    free(out);
    /* none to add: whatever the document claimed is removed */
    cr_assert_eq(
        envelope_sign_host(doc, strlen(doc), &golden_stamp, NULL, 0, key, &out, err, sizeof err),
        ENVELOPE_OK, "%s", err);
    cr_assert_eq(verify_at(out, ISSUED, &payload, &st, err, sizeof err), ENVELOPE_OK, "%s", err);
    p = cJSON_Parse(payload);
    cr_assert_eq(count_members(p, "host_deny"), 0, "%s", payload);
    cJSON_Delete(p);
    free(payload);
    free(out);
    /* cordon sign (envelope_sign) signs the document's own host_deny as written */
    const char *own = "{\"cordon_policy\":1,\"agent\":\"a\",\"host_deny\":[\"/srv/x\"]}";
    out = sign(own, &golden_stamp);
    cr_assert_eq(verify_at(out, ISSUED, &payload, &st, err, sizeof err), ENVELOPE_OK, "%s", err);
    assert_has(payload, "\"host_deny\":[\"/srv/x\"]");
    free(payload);
    free(out);
}

Test(envelope, signing_refuses_a_policy_that_is_not_an_object)
{
    static const char *bad[] = {"[1,2]", "42", "\"policy\"", "not json", "{} {}", ""};
    static const char *why[] = {"JSON array",     "not a JSON object", "not a JSON object",
                                "not valid JSON", "text after",        "not valid JSON"};
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "", *out = (char *)"sentinel";

        cr_assert_eq(
            envelope_sign(bad[i], strlen(bad[i]), &golden_stamp, key, &out, err, sizeof err),
            ENVELOPE_ERR_PAYLOAD, "case %zu", i);
        cr_assert_null(out);
        assert_has(err, "cannot sign the policy");
        assert_has(err, why[i]);
    }
}

Test(envelope, signing_refuses_a_stamp_it_could_not_verify)
{
    static const struct envelope_stamp bad[] = {
        {0, ISSUED, EXPIRES}, /* version 0 */
        {(UINT64_C(1) << 53) + 1, ISSUED, EXPIRES},
        {1, ISSUED, ISSUED},  /* empty window */
        {1, EXPIRES, ISSUED}, /* inverted window */
        {1, -1, EXPIRES},     /* before 1970 */
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "", *out = NULL;

        cr_assert_eq(envelope_sign("{}", 2, &bad[i], key, &out, err, sizeof err),
                     ENVELOPE_ERR_STAMP, "case %zu", i);
        cr_assert_null(out);
        assert_has(err, "refusing to sign");
    }
}

Test(envelope, expired_at_and_after_expires_at)
{
    char *env = sign("{}", &golden_stamp);
    char *payload = NULL, err[512] = "";

    cr_assert_eq(verify_at(env, EXPIRES - 1, &payload, NULL, err, sizeof err), ENVELOPE_OK,
                 "one second before expiry: %s", err);
    free(payload);
    expect_fail_at(env, EXPIRES, ENVELOPE_ERR_EXPIRED, "expired at 2026-12-05T11:00:00Z");
    expect_fail_at(env, EXPIRES + 86400, ENVELOPE_ERR_EXPIRED, "now 2026-12-06T11:00:00Z");
    expect_fail_at(env, EXPIRES, ENVELOPE_ERR_EXPIRED, "issued 2026-11-28T11:00:00Z");
    expect_fail_at(env, EXPIRES, ENVELOPE_ERR_EXPIRED,
                   "ask for a fresh policy / re-sign with a later --expires");
    free(env);
}

Test(envelope, issued_in_the_future_within_and_beyond_clock_skew)
{
    char *env = sign("{}", &golden_stamp);
    char *payload = NULL, err[512] = "";

    cr_assert_eq(verify_at(env, ISSUED - ENVELOPE_CLOCK_SKEW, &payload, NULL, err, sizeof err),
                 ENVELOPE_OK, "a clock %d s behind is tolerated: %s", ENVELOPE_CLOCK_SKEW, err);
    free(payload);
    expect_fail_at(env, ISSUED - ENVELOPE_CLOCK_SKEW - 1, ENVELOPE_ERR_NOT_YET_VALID, "clock skew");
    expect_fail_at(env, ISSUED - ENVELOPE_CLOCK_SKEW - 1, ENVELOPE_ERR_NOT_YET_VALID,
                   "issued at 2026-11-28T11:00:00Z, in the future (now 2026-11-28T10:54:59Z");
    expect_fail_at(env, -1, ENVELOPE_ERR_NOT_YET_VALID, "before 1970");
    free(env);
}

struct bad_stamp {
    const char *payload;
    const char *phrase;
};

Test(envelope, missing_or_malformed_stamp_fields_are_named)
{
    const struct bad_stamp cases[] = {
        {"{\"issued_at\":\"2026-11-28T11:00:00Z\",\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is missing"},
        {"{\"version\":\"7\",\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is malformed"},
        {"{\"version\":0,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is malformed"},
        {"{\"version\":-3,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is malformed"},
        {"{\"version\":1.5,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is malformed"},
        {"{\"version\":9007199254740994,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is malformed"},
        {"{\"version\":1e400,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is malformed"},
        {"{\"version\":1,\"version\":2,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"version\" is given twice"},
        {"{\"version\":1,\"expires_at\":\"2026-12-05T11:00:00Z\"}", "\"issued_at\" is missing"},
        {"{\"version\":1,\"issued_at\":1795863600,\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"issued_at\" is malformed"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28 11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"issued_at\" is malformed"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28T11:00:00+00:00\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\"}",
         "\"issued_at\" is malformed"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28T11:00:00Z\"}", "\"expires_at\" is missing"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-02-30T11:00:00Z\"}",
         "\"expires_at\" is malformed"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-12-05T11:00:00Z\",\"expires_at\":\"2099-01-01T00:00:00Z\"}",
         "\"expires_at\" is given twice"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-11-28T11:00:00Z\"}",
         "is not after issued_at"},
        {"{\"version\":1,\"issued_at\":\"2026-11-28T11:00:00Z\","
         "\"expires_at\":\"2026-11-27T11:00:00Z\"}",
         "is not after issued_at"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *env = sign_raw(cases[i].payload);

        expect_fail_at(env, ISSUED, ENVELOPE_ERR_STAMP, cases[i].phrase);
        free(env);
    }
}

Test(envelope, version_up_to_two_to_the_53_is_accepted)
{
    char *env = sign_raw("{\"version\":9007199254740992,\"issued_at\":\"2026-11-28T11:00:00Z\","
                         "\"expires_at\":\"2026-12-05T11:00:00Z\"}");
    char *payload = NULL, err[512] = "";
    struct envelope_stamp st;

    cr_assert_eq(verify_at(env, ISSUED, &payload, &st, err, sizeof err), ENVELOPE_OK, "%s", err);
    cr_assert_eq(st.version, UINT64_C(9007199254740992));
    free(payload);
    free(env);
}

Test(envelope, a_signed_payload_that_is_not_an_object_is_refused)
{
    char *env = sign_raw("[{\"version\":1}]");

    expect_fail_at(env, ISSUED, ENVELOPE_ERR_PAYLOAD, "it is a JSON array, expected a JSON object");
    free(env);
    env = sign_raw("version: 1");
    expect_fail_at(env, ISSUED, ENVELOPE_ERR_PAYLOAD, "not valid JSON");
    free(env);
}

Test(envelope, dsse_failures_pass_through_unchanged)
{
    char *env = sign("{}", &golden_stamp);
    cJSON *root = cJSON_Parse(env);
    cJSON *sig = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "signatures"), 0);
    char *other = NULL, *tampered;

    /* A signature from the right key over other bytes: the payload was swapped. */
    cr_assert_eq(dsse_sign(ENVELOPE_PAYLOAD_TYPE, (const unsigned char *)"{}", 2, key, &other),
                 DSSE_OK);
    {
        cJSON *o = cJSON_Parse(other);
        cJSON *osig = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "signatures"), 0);

        cJSON_ReplaceItemInObjectCaseSensitive(
            sig, "sig",
            cJSON_CreateString(cJSON_GetObjectItemCaseSensitive(osig, "sig")->valuestring));
        cJSON_Delete(o);
    }
    tampered = cJSON_PrintUnformatted(root);
    expect_fail_at(tampered, ISSUED, DSSE_ERR_BAD_SIGNATURE, "does not verify");
    free(tampered);
    free(other);
    cJSON_Delete(root);

    /* Signed, but as something other than a policy. */
    cr_assert_eq(
        dsse_sign("application/vnd.in-toto+json", (const unsigned char *)"{}", 2, key, &other),
        DSSE_OK);
    expect_fail_at(other, ISSUED, DSSE_ERR_PAYLOAD_TYPE, "expected \"" ENVELOPE_PAYLOAD_TYPE "\"");
    free(other);
    free(env);
}

struct time_case {
    const char *text;
    int year, mon, day, hour, min, sec;
};

static time_t oracle(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return timegm(&tm);
}

Test(envelope, parse_time_accepts_valid_rfc3339_utc)
{
    const struct time_case ok[] = {
        {"1970-01-01T00:00:00Z", 1970, 1, 1, 0, 0, 0},
        {"2026-11-28T11:00:00Z", 2026, 11, 28, 11, 0, 0},
        {"2028-02-29T12:34:56Z", 2028, 2, 29, 12, 34, 56}, /* leap day */
        {"2000-02-29T23:59:59Z", 2000, 2, 29, 23, 59, 59}, /* divisible by 400: leap */
        {"2026-12-31T23:59:59Z", 2026, 12, 31, 23, 59, 59},
        {"2038-01-19T03:14:08Z", 2038, 1, 19, 3, 14, 8}, /* past 32-bit time_t */
        {"9999-12-31T23:59:59Z", 9999, 12, 31, 23, 59, 59},
    };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        time_t t = -1;

        cr_assert_eq(envelope_parse_time(ok[i].text, &t), 0, "%s", ok[i].text);
        cr_assert_eq(t, oracle(ok[i].year, ok[i].mon, ok[i].day, ok[i].hour, ok[i].min, ok[i].sec),
                     "%s", ok[i].text);
    }
    {
        time_t t;

        cr_assert_eq(envelope_parse_time("2026-11-28T11:00:00Z", &t), 0);
        cr_assert_eq(t, ISSUED);
    }
}

Test(envelope, parse_time_refuses_everything_else)
{
    static const char *bad[] = {
        "2027-02-29T00:00:00Z", /* not a leap year */
        "2100-02-29T00:00:00Z", /* century, not divisible by 400 */
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z", /* no leap seconds */
        "2026-01-01t00:00:00Z",
        "2026-01-01T00:00:00z",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00.5Z",
        "2026-01-01 00:00:00Z",
        " 2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z ",
        "2026-01-01T00:00:00",
        "2026-1-01T00:00:00Z",
        "+026-01-01T00:00:00Z",
        "2026-01-01T0a:00:00Z",
        "1969-12-31T23:59:59Z",
        "",
        "2026/01/01T00:00:00Z",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t = 12345;

        cr_assert_neq(envelope_parse_time(bad[i], &t), 0, "\"%s\" must be refused", bad[i]);
        cr_assert_eq(t, 12345, "nothing written on failure");
    }
    cr_assert_eq(envelope_parse_time("2027-02-29T00:00:00Z", &(time_t){0}), -EINVAL);
}

Test(envelope, format_time_agrees_with_gmtime_and_round_trips)
{
    char buf[32], want[32];
    time_t t, back;
    struct tm tm;

    envelope_format_time(0, buf, sizeof buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    envelope_format_time(oracle(2028, 2, 29, 0, 0, 0), buf, sizeof buf);
    cr_assert_str_eq(buf, "2028-02-29T00:00:00Z");
    envelope_format_time(ISSUED, buf, 21); /* the documented minimum */
    cr_assert_str_eq(buf, "2026-11-28T11:00:00Z");

    /* A sweep with an odd step touches every month, leap years and both sides of 2038. */
    for (t = 0; t < (time_t)4102444800; t += 86400 * 7 + 3607) {
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        envelope_format_time(t, buf, sizeof buf);
        cr_assert_str_eq(buf, want);
        cr_assert_eq(envelope_parse_time(buf, &back), 0, "%s", buf);
        cr_assert_eq(back, t, "%s", buf);
    }
    /* Outside 1970..9999 there is no valid text: an empty string, which parsing refuses. */
    envelope_format_time(-1, buf, sizeof buf);
    cr_assert_str_eq(buf, "");
}

Test(envelope, parse_duration_accepts_one_positive_count_and_unit)
{
    static const struct {
        const char *text;
        time_t secs;
    } ok[] = {
        {"90s", 90}, {"30m", 1800},           {"24h", 86400},        {"7d", 604800},
        {"1s", 1},   {"3650d", 3650 * 86400}, {"87600h", 315360000},
    };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        time_t t = 0;

        cr_assert_eq(envelope_parse_duration(ok[i].text, &t), 0, "%s", ok[i].text);
        cr_assert_eq(t, ok[i].secs, "%s", ok[i].text);
    }
}

Test(envelope, parse_duration_refuses_everything_else)
{
    static const char *bad[] = {
        "",     "0h",    "0s", "-1h", "+1h",  "1x",    "1H",         "1h2m",
        " 1h",  "1h ",   "h",  "1",   "1.5h", "3651d", "315360001s", "99999999999999999999999d",
        "1e3s", "0x10s",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t = 12345;

        cr_assert_neq(envelope_parse_duration(bad[i], &t), 0, "\"%s\" must be refused", bad[i]);
        cr_assert_eq(t, 12345, "nothing written on failure");
    }
}

/* Every code of the module lies outside errno's range (ENVELOPE_ERR_EXPIRED once equalled
 * -EINVAL), and envelope_strerror names each one apart, and an errno as strerror does. */
Test(envelope, codes_are_disjoint_from_errno_and_named)
{
    static const int codes[] = {ENVELOPE_ERR_PAYLOAD, ENVELOPE_ERR_STAMP,
                                ENVELOPE_ERR_EXPIRED, ENVELOPE_ERR_NOT_YET_VALID,
                                DSSE_ERR_MALFORMED,   DSSE_ERR_BAD_SIGNATURE};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(codes[i], 0);
        cr_assert(!err_is_errno(codes[i]), "code %d overlaps errno", codes[i]);
        cr_assert_str_neq(envelope_strerror(codes[i]), envelope_strerror(0));
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(envelope_strerror(codes[i]), envelope_strerror(codes[j]), "%d and %d",
                              codes[i], codes[j]);
    }
    cr_assert_str_eq(envelope_strerror(-ENOENT), strerror(ENOENT));
}

/* Every code of the module lies outside errno's range (ENVELOPE_ERR_EXPIRED once equalled
 * -EINVAL), and dsse_strerror names each one apart, and an errno as strerror does. */
Test(envelope, dsse_codes_are_disjoint_from_errno_and_named)
{
    static const int codes[] = {DSSE_ERR_MALFORMED,     DSSE_ERR_TOO_LARGE,    DSSE_ERR_BASE64,
                                DSSE_ERR_PAYLOAD_TYPE,  DSSE_ERR_NO_SIGNATURE, DSSE_ERR_UNKNOWN_KEY,
                                DSSE_ERR_BAD_SIGNATURE, DSSE_ERR_NOMEM};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(codes[i], 0);
        cr_assert(!err_is_errno(codes[i]), "code %d overlaps errno", codes[i]);
        cr_assert_str_neq(dsse_strerror(codes[i]), dsse_strerror(0));
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(dsse_strerror(codes[i]), dsse_strerror(codes[j]), "%d and %d",
                              codes[i], codes[j]);
    }
    cr_assert_str_eq(dsse_strerror(-ENOENT), strerror(ENOENT));
}
