/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: base/tz.c on hostile TZif files and POSIX TZ rules. Nothing crashes or
 * reads out of bounds, every error is one of the module's, and a zone that loads converts
 * any instant to a sane local time (offset within 26 hours, fields in range).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct tz *z, const uint8_t *data, size_t size)
{
    int64_t probes[8] = {0, -1, 1, TZ_MIN_UTC, TZ_MAX_UTC, 2147483647, -2147483648LL, 4102444800LL};
    for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
        int64_t v;
        memcpy(&v, data + i, 8);
        probes[(i / 8) % 8] = v % TZ_MAX_UTC;
    }
    for (size_t i = 0; i < 8; i++) {
        struct tz_local l;
        if (tz_convert(z, probes[i], &l) != 0)
            __builtin_trap(); /* every probe is in range */
        if (l.offset < -89999 || l.offset > 93599 || l.month < 1 || l.month > 12 || l.mday < 1 ||
            l.mday > 31 || l.min_of_day < 0 || l.min_of_day >= 1440 || l.wday < 0 || l.wday > 6 ||
            l.sec < 0 || l.sec > 59 || l.yday < 0 || l.yday > 365)
            __builtin_trap();
        /* exercised, not checked: a hostile zone may change offsets twice in a day, where a
         * wall-clock time has no single answer */
        int64_t back;
        if (l.year > -9000000 && l.year < 9000000)
            (void)tz_local_to_utc(z, l.year, l.month, l.mday, l.hour * 3600 + l.min * 60, &back);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tz *z = NULL;
    char err[256];
    int rc = tz_parse(data, size, "fuzz", &z, err, sizeof err);
    if (rc == 0) {
        exercise(z, data, size);
        tz_free(z);
    } else if (rc != TZ_ERR_MAGIC && rc != TZ_ERR_TRUNCATED && rc != TZ_ERR_FORMAT &&
               rc != TZ_ERR_FOOTER && rc != TZ_ERR_TOO_LARGE && rc != TZ_ERR_LEAP) {
        __builtin_trap();
    }
    /* the same bytes as a POSIX TZ rule */
    char rule[300];
    size_t n = size < sizeof rule - 1 ? size : sizeof rule - 1;
    memcpy(rule, data, n);
    rule[n] = '\0';
    z = NULL;
    rc = tz_from_rule(rule, "fuzz", &z, err, sizeof err);
    if (rc == 0) {
        exercise(z, data, size);
        tz_free(z);
    } else if (rc != TZ_ERR_FOOTER) {
        __builtin_trap();
    }
    return 0;
}
