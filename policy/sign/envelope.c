/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed policies: the stamp (version, issued_at, expires_at) that makes an old or replayed
 * policy detectable, on top of a DSSE envelope of type application/vnd.cordon.policy+json.
 * The stamp lives inside the signed payload, so it is covered by the signature. Times are
 * RFC 3339 UTC with second precision and no offset ("2026-11-28T11:00:00Z"); they are parsed
 * and formatted here with the days-from-civil algorithm rather than timegm/gmtime, so the
 * result depends on neither TZ, the locale nor the C library.
 */
#include "policy/sign/envelope.h"
#include "base/diag.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define VERSION_MAX (UINT64_C(1) << 53)      /* the largest integer a JSON double holds exactly */
#define TIME_MIN INT64_C(0)                  /* 1970-01-01T00:00:00Z */
#define TIME_MAX INT64_C(253402300799)       /* 9999-12-31T23:59:59Z */
#define DURATION_MAX (INT64_C(3650) * 86400) /* 10 years: longer is a mistake, not a policy */
#define TIME_LEN 20                          /* strlen("2026-11-28T11:00:00Z") */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* n ASCII digits at s, or -1. */
static int digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int envelope_parse_time(const char *s, time_t *out)
{
    int year, mon, day, hour, min, sec;
    int64_t t;

    if (s == NULL || out == NULL || strlen(s) != TIME_LEN)
        return -EINVAL;
    /* Exactly YYYY-MM-DDTHH:MM:SSZ: no lowercase t/z, no offset, no fraction, no space. */
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return -EINVAL;
    year = digits(s, 4);
    mon = digits(s + 5, 2);
    day = digits(s + 8, 2);
    hour = digits(s + 11, 2);
    min = digits(s + 14, 2);
    sec = digits(s + 17, 2);
    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 59)
        return -EINVAL;
    if ((unsigned)day > days_in_month(year, (unsigned)mon))
        return -EINVAL;
    t = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + hour * 3600 + min * 60 + sec;
    /* Where time_t is 32 bits, a date past 2038 does not fit: refuse rather than wrap. */
    if ((int64_t)(time_t)t != t)
        return -EINVAL;
    *out = (time_t)t;
    return 0;
}

void envelope_format_time(time_t t, char *buf, size_t len)
{
    int64_t y, secs = (int64_t)t, days;
    unsigned m, d, rem;

    if (buf == NULL || len == 0)
        return;
    /* Outside what the parser accepts: an empty string, which it will refuse. */
    if (secs < TIME_MIN || secs > TIME_MAX) {
        buf[0] = '\0';
        return;
    }
    days = secs / 86400;
    rem = (unsigned)(secs % 86400);
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02uZ", y, m, d, rem / 3600,
             rem / 60 % 60, rem % 60);
}

/* -EINVAL for a malformed duration, -ERANGE for one over the 10-year cap. */
int envelope_parse_duration(const char *s, time_t *out)
{
    int64_t v = 0, unit;
    size_t i, n;

    if (s == NULL || out == NULL)
        return -EINVAL;
    n = strlen(s);
    if (n < 2)
        return -EINVAL;
    switch (s[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return -EINVAL;
    }
    for (i = 0; i < n - 1; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
        /* Stop before the product can overflow; anything past the cap is refused anyway. */
        if (v > DURATION_MAX)
            return -ERANGE;
    }
    if (v == 0)
        return -EINVAL;
    if (v > DURATION_MAX / unit)
        return -ERANGE;
    *out = (time_t)(v * unit);
    return 0;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse len bytes of JSON that must be one object and nothing else; NULL otherwise. */
static cJSON *parse_object(const char *text, size_t len, const char **why)
{
    const char *end = NULL;
    cJSON *v;

    if (memchr(text, '\0', len) != NULL) {
        *why = "it contains a NUL byte";
        return NULL;
    }
    v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (v == NULL) {
        *why = "it is not valid JSON";
        return NULL;
    }
    while (end < text + len && json_space(*end))
        end++;
    if (end != text + len) {
        *why = "there is text after the JSON value";
    } else if (!cJSON_IsObject(v)) {
        *why = cJSON_IsArray(v) ? "it is a JSON array" : "it is not a JSON object";
    } else {
        return v;
    }
    cJSON_Delete(v);
    return NULL;
}

static bool stamp_in_range(const struct envelope_stamp *st)
{
    /* Compared as integers: (double)(2^53 + 1) rounds to 2^53 and would slip through. */
    return st->version >= 1 && st->version <= VERSION_MAX && (int64_t)st->issued_at >= TIME_MIN &&
           (int64_t)st->issued_at <= TIME_MAX && (int64_t)st->expires_at >= TIME_MIN &&
           (int64_t)st->expires_at <= TIME_MAX && st->expires_at > st->issued_at;
}

/* host: NULL leaves the document's host_deny alone; otherwise it is replaced by n paths. */
static int sign_doc(const char *policy_json, size_t len, const struct envelope_stamp *st,
                    const char *const *host, size_t n, const struct key_secret *k, char **out,
                    char *err, size_t errlen)
{
    char issued[TIME_LEN + 1], expires[TIME_LEN + 1], version[24];
    const char *why = NULL;
    cJSON *doc = NULL;
    char *body = NULL;
    int rc = DSSE_ERR_MALFORMED;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL || policy_json == NULL || k == NULL || st == NULL) {
        diag_set(err, errlen, "envelope: no policy, stamp, key or output given (internal error)");
        return DSSE_ERR_MALFORMED;
    }
    *out = NULL;
    if (!stamp_in_range(st)) {
        rc = ENVELOPE_ERR_STAMP;
        diag_set(err, errlen,
                 "envelope: refusing to sign with stamp version %" PRIu64 ", issued "
                 "at %lld, expiring at %lld: the version must be 1 to 2^53 and "
                 "expires_at later than issued_at, both within 1970-9999",
                 st->version, (long long)st->issued_at, (long long)st->expires_at);
        goto out;
    }
    if ((doc = parse_object(policy_json, len, &why)) == NULL) {
        rc = ENVELOPE_ERR_PAYLOAD;
        diag_set(err, errlen,
                 "envelope: cannot sign the policy: %s; a policy is one JSON object "
                 "{\"cordon_policy\": 1, ...}: run cordon policy check on it",
                 why);
        goto out;
    }
    /* Drop every copy: a stale stamp left beside the new one would be ambiguous. */
    while (cJSON_GetObjectItemCaseSensitive(doc, "version") != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "version");
    while (cJSON_GetObjectItemCaseSensitive(doc, "issued_at") != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "issued_at");
    while (cJSON_GetObjectItemCaseSensitive(doc, "expires_at") != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "expires_at");
    if (host != NULL) {
        while (cJSON_GetObjectItemCaseSensitive(doc, "host_deny") != NULL)
            cJSON_DeleteItemFromObjectCaseSensitive(doc, "host_deny");
        if (n > 0) {
            cJSON *arr = cJSON_AddArrayToObject(doc, "host_deny");
            rc = DSSE_ERR_NOMEM;
            for (size_t i = 0; arr != NULL && i < n; i++) {
                cJSON *item = cJSON_CreateString(host[i]);
                if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
                    cJSON_Delete(item);
                    arr = NULL;
                }
            }
            if (arr == NULL) {
                diag_set(err, errlen, "envelope: out of memory adding host_deny");
                goto out;
            }
        }
    }

    /* Raw, not a double: the version is written as the exact integer it is. */
    snprintf(version, sizeof version, "%" PRIu64, st->version);
    envelope_format_time(st->issued_at, issued, sizeof issued);
    envelope_format_time(st->expires_at, expires, sizeof expires);
    rc = DSSE_ERR_NOMEM;
    if (cJSON_AddRawToObject(doc, "version", version) == NULL ||
        cJSON_AddStringToObject(doc, "issued_at", issued) == NULL ||
        cJSON_AddStringToObject(doc, "expires_at", expires) == NULL) {
        diag_set(err, errlen, "envelope: out of memory stamping the policy");
        goto out;
    }
    if ((body = cJSON_PrintUnformatted(doc)) == NULL) {
        diag_set(err, errlen, "envelope: out of memory printing the policy");
        goto out;
    }
    rc = dsse_sign(ENVELOPE_PAYLOAD_TYPE, (const unsigned char *)body, strlen(body), k, out);
    if (rc == DSSE_ERR_TOO_LARGE)
        diag_set(err, errlen,
                 "envelope: the signed policy would be over %u bytes, more than a "
                 "verifier accepts; shrink the policy",
                 DSSE_MAX_ENVELOPE);
    else if (rc != DSSE_OK)
        diag_set(err, errlen, "envelope: signing failed: %s", dsse_strerror(rc));
out:
    cJSON_free(body);
    cJSON_Delete(doc);
    return rc;
}

int envelope_sign(const char *policy_json, size_t len, const struct envelope_stamp *st,
                  const struct key_secret *k, char **out, char *err, size_t errlen)
{
    return sign_doc(policy_json, len, st, NULL, 0, k, out, err, errlen);
}

int envelope_sign_host(const char *policy_json, size_t len, const struct envelope_stamp *st,
                       const char *const *host_deny, size_t n, const struct key_secret *k,
                       char **out, char *err, size_t errlen)
{
    static const char *const none[1] = {NULL};
    return sign_doc(policy_json, len, st, host_deny ? host_deny : none, host_deny ? n : 0, k, out,
                    err, errlen);
}

/* The one member called name; NULL when absent, *dup set when it appears more than once. */
static const cJSON *stamp_member(const cJSON *obj, const char *name, bool *dup)
{
    const cJSON *c, *found = NULL;

    *dup = false;
    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL || strcmp(c->string, name) != 0)
            continue;
        if (found != NULL)
            *dup = true;
        found = c;
    }
    return found;
}

static int read_time_field(const cJSON *doc, const char *name, time_t *out, char *err,
                           size_t errlen)
{
    const cJSON *v;
    bool dup;

    v = stamp_member(doc, name, &dup);
    if (v == NULL || dup || !cJSON_IsString(v) || v->valuestring == NULL ||
        envelope_parse_time(v->valuestring, out) != 0) {
        diag_set(err, errlen,
                 "envelope: policy stamp field \"%s\" is %s; expected one RFC 3339 "
                 "UTC time like \"2026-11-28T11:00:00Z\": re-sign the policy with "
                 "cordon sign",
                 name,
                 v == NULL ? "missing"
                 : dup     ? "given twice"
                           : "malformed");
        return ENVELOPE_ERR_STAMP;
    }
    return 0;
}

static int read_stamp(const cJSON *doc, struct envelope_stamp *st, char *err, size_t errlen)
{
    const cJSON *v;
    bool dup;
    int rc;

    v = stamp_member(doc, "version", &dup);
    /* In range first, so the cast that tests for a fraction is defined. */
    if (v == NULL || dup || !cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > (double)VERSION_MAX ||
        (double)(uint64_t)v->valuedouble != v->valuedouble) {
        diag_set(err, errlen,
                 "envelope: policy stamp field \"version\" is %s; expected one "
                 "positive integer up to 2^53: re-sign the policy with cordon sign",
                 v == NULL ? "missing"
                 : dup     ? "given twice"
                           : "malformed");
        return ENVELOPE_ERR_STAMP;
    }
    st->version = (uint64_t)v->valuedouble;
    if ((rc = read_time_field(doc, "issued_at", &st->issued_at, err, errlen)) != 0 ||
        (rc = read_time_field(doc, "expires_at", &st->expires_at, err, errlen)) != 0)
        return rc;
    if (st->expires_at <= st->issued_at) {
        char a[TIME_LEN + 1], b[TIME_LEN + 1];

        envelope_format_time(st->issued_at, a, sizeof a);
        envelope_format_time(st->expires_at, b, sizeof b);
        diag_set(err, errlen,
                 "envelope: policy stamp field \"expires_at\" (%s) is not after "
                 "issued_at (%s); re-sign the policy with a positive --expires",
                 b, a);
        return ENVELOPE_ERR_STAMP;
    }
    return 0;
}

int envelope_verify(const char *env, size_t env_len, const struct key_trust *trust, time_t now,
                    char **payload, size_t *payload_len, struct envelope_stamp *st,
                    char keyid[KEY_ID_HEX + 1], char *err, size_t errlen)
{
    char now_s[TIME_LEN + 1], issued[TIME_LEN + 1], expires[TIME_LEN + 1];
    struct envelope_stamp stamp;
    unsigned char *body = NULL;
    size_t body_len = 0;
    const char *why = NULL;
    cJSON *doc = NULL;
    int rc;

    if (payload != NULL)
        *payload = NULL;
    if (payload_len != NULL)
        *payload_len = 0;
    rc = dsse_verify(env, env_len, ENVELOPE_PAYLOAD_TYPE, trust, &body, &body_len, keyid, err,
                     errlen);
    if (rc != DSSE_OK)
        goto out;
    if ((doc = parse_object((const char *)body, body_len, &why)) == NULL) {
        rc = ENVELOPE_ERR_PAYLOAD;
        diag_set(err, errlen,
                 "envelope: the signed payload is not a policy: %s, expected a JSON "
                 "object; the signer signed the wrong file: sign the policy itself",
                 why);
        goto out;
    }
    if ((rc = read_stamp(doc, &stamp, err, errlen)) != 0)
        goto out;
    envelope_format_time(now, now_s, sizeof now_s);
    envelope_format_time(stamp.issued_at, issued, sizeof issued);
    envelope_format_time(stamp.expires_at, expires, sizeof expires);
    if ((int64_t)now >= (int64_t)stamp.expires_at) {
        rc = ENVELOPE_ERR_EXPIRED;
        diag_set(err, errlen,
                 "envelope: policy version %" PRIu64 " expired at %s (now %s, issued "
                 "%s); ask for a fresh policy / re-sign with a later --expires",
                 stamp.version, expires, now_s[0] ? now_s : "after 9999", issued);
        goto out;
    }
    /*
     * issued_at is at most year 9999, so subtracting the skew cannot overflow. A clock before
     * 1970 is broken, whatever the stamp says.
     */
    if ((int64_t)now < TIME_MIN || (int64_t)stamp.issued_at - ENVELOPE_CLOCK_SKEW > (int64_t)now) {
        rc = ENVELOPE_ERR_NOT_YET_VALID;
        diag_set(err, errlen,
                 "envelope: policy version %" PRIu64 " is issued at %s, in the future "
                 "(now %s, more than %d s of clock skew); check this machine's clock "
                 "(NTP) and the signer's",
                 stamp.version, issued, now_s[0] ? now_s : "before 1970", ENVELOPE_CLOCK_SKEW);
        goto out;
    }
    if (st != NULL)
        *st = stamp;
    if (payload != NULL) {
        *payload = (char *)body;
        body = NULL; /* transferred */
    }
    if (payload_len != NULL)
        *payload_len = body_len;
    rc = ENVELOPE_OK;
out:
    if (rc != ENVELOPE_OK && keyid != NULL)
        keyid[0] = '\0';
    cJSON_Delete(doc);
    free(body);
    return rc;
}

const char *envelope_strerror(int status)
{
    switch (status) {
    case ENVELOPE_OK:
        return "ok";
    case ENVELOPE_ERR_PAYLOAD:
        return "the payload is not a JSON object";
    case ENVELOPE_ERR_STAMP:
        return "version, issued_at or expires_at is missing or malformed";
    case ENVELOPE_ERR_EXPIRED:
        return "the policy has expired";
    case ENVELOPE_ERR_NOT_YET_VALID:
        return "the policy is not valid yet (issued in the future)";
    default:
        if (err_is_errno(status))
            return strerror(-status);
        return dsse_strerror(status);
    }
}
