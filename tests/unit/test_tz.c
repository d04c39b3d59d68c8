/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/tz.h: TZif files of the installed tz database and hand-made ones, the POSIX rule of
 * the footer past the table, DST both ways north and south, and hostile files (truncated at
 * every byte, counts that would overflow, indexes out of range, leap seconds, junk footers).
 * glibc's localtime_r, run in this single-threaded test with TZ set, is the oracle for
 * thousands of instants; cordon itself never sets TZ.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/tz.h"

#define ZONEINFO "/usr/share/zoneinfo"

static int have_tzdata(void)
{
    FILE *f = fopen(ZONEINFO "/Europe/Brussels", "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* The zone files are the test's input: under CI they must be there (tools/install-deps.sh
 * installs tzdata); elsewhere a machine without them skips. */
static void need_tzdata(void)
{
    if (have_tzdata())
        return;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        cr_assert_fail("no tz database at " ZONEINFO ": install the tzdata package");
    cr_skip_test("no tz database at " ZONEINFO " (install tzdata)");
}

static struct tz *load(const char *name)
{
    char err[512] = "";
    struct tz *z = NULL;
    int rc = tz_load(ZONEINFO, name, &z, err, sizeof err);
    cr_assert_eq(rc, 0, "tz_load %s: %d %s", name, rc, err);
    return z;
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm);
}

static struct tz_local conv(const struct tz *z, int64_t t)
{
    struct tz_local l;
    cr_assert_eq(tz_convert(z, t, &l), 0);
    return l;
}

/* offset and DST just before and at a transition t */
static void expect_change(const struct tz *z, int64_t t, int32_t before, int32_t after,
                          int dst_before, int dst_after)
{
    struct tz_local a = conv(z, t - 1), b = conv(z, t);
    cr_expect_eq(a.offset, before, "%s at %lld-1: offset %d, expected %d", tz_name(z), (long long)t,
                 a.offset, before);
    cr_expect_eq(b.offset, after, "%s at %lld: offset %d, expected %d", tz_name(z), (long long)t,
                 b.offset, after);
    cr_expect_eq(a.is_dst, dst_before, "%s before %lld: is_dst", tz_name(z), (long long)t);
    cr_expect_eq(b.is_dst, dst_after, "%s at %lld: is_dst", tz_name(z), (long long)t);
}

Test(tz, brussels_both_ways)
{
    need_tzdata();
    struct tz *z = load("Europe/Brussels");
    /* 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC */
    expect_change(z, utc(2026, 3, 29, 1, 0, 0), 3600, 7200, 0, 1);
    expect_change(z, utc(2026, 10, 25, 1, 0, 0), 7200, 3600, 1, 0);
    struct tz_local l = conv(z, utc(2026, 3, 29, 0, 59, 59));
    cr_expect_eq(l.hour, 1);
    cr_expect_eq(l.min, 59);
    l = conv(z, utc(2026, 3, 29, 1, 0, 0));
    cr_expect_eq(l.hour, 3, "02:00 local is skipped: %d", l.hour);
    cr_expect_eq(l.wday, 6, "29 March 2026 is a Sunday");
    cr_expect_eq(l.min_of_day, 180);
    /* 02:30 local happens twice on 25 October */
    cr_expect_eq(conv(z, utc(2026, 10, 25, 0, 30, 0)).min_of_day, 150);
    cr_expect_eq(conv(z, utc(2026, 10, 25, 1, 30, 0)).min_of_day, 150);
    tz_free(z);
}

Test(tz, new_york_both_ways)
{
    need_tzdata();
    struct tz *z = load("America/New_York");
    expect_change(z, utc(2026, 3, 8, 7, 0, 0), -18000, -14400, 0, 1);
    expect_change(z, utc(2026, 11, 1, 6, 0, 0), -14400, -18000, 1, 0);
    struct tz_local l = conv(z, utc(2026, 1, 1, 3, 0, 0));
    cr_expect_eq(l.year, 2025);
    cr_expect_eq(l.month, 12);
    cr_expect_eq(l.mday, 31);
    cr_expect_eq(l.hour, 22);
    cr_expect_eq(l.wday, 2, "31 December 2025 is a Wednesday");
    tz_free(z);
}

Test(tz, sydney_southern_hemisphere)
{
    need_tzdata();
    struct tz *z = load("Australia/Sydney");
    /* summer time ends 5 April 2026 03:00 AEDT, starts 4 October 2026 02:00 AEST */
    expect_change(z, utc(2026, 4, 4, 16, 0, 0), 39600, 36000, 1, 0);
    expect_change(z, utc(2026, 10, 3, 16, 0, 0), 36000, 39600, 0, 1);
    /* New Year's Day is in summer time */
    cr_expect_eq(conv(z, utc(2026, 12, 31, 14, 0, 0)).is_dst, 1);
    cr_expect_eq(conv(z, utc(2026, 12, 31, 14, 0, 0)).mday, 1);
    tz_free(z);
}

Test(tz, footer_rule_beyond_the_table)
{
    need_tzdata();
    struct tz *z = load("Europe/Brussels");
    /* the table of a fat file stops in 2037; these come from "CET-1CEST,M3.5.0,M10.5.0/3" */
    expect_change(z, utc(2100, 3, 28, 1, 0, 0), 3600, 7200, 0, 1);
    expect_change(z, utc(2100, 10, 31, 1, 0, 0), 7200, 3600, 1, 0);
    expect_change(z, utc(2300, 3, 25, 1, 0, 0), 3600, 7200, 0, 1);
    tz_free(z);
    z = load("Australia/Sydney");
    expect_change(z, utc(2200, 10, 4, 16, 0, 0), 36000, 39600, 0, 1);
    tz_free(z);
    z = load("America/New_York");
    expect_change(z, utc(2099, 3, 8, 7, 0, 0), -18000, -14400, 0, 1);
    tz_free(z);
}

/* Thousands of instants from 1850 to 2400 against glibc's localtime_r with TZ set. */
Test(tz, agrees_with_glibc)
{
    need_tzdata();
    static const char *const zones[] = {"Europe/Brussels", "America/New_York",  "Australia/Sydney",
                                        "Europe/Dublin",   "Asia/Kolkata",      "America/Sao_Paulo",
                                        "Pacific/Chatham", "Africa/Casablanca", "America/St_Johns",
                                        "Asia/Tehran",     "Pacific/Apia",      "Etc/GMT+5"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < sizeof zones / sizeof *zones; k++) {
        struct tz *z = load(zones[k]);
        char env[128];
        snprintf(env, sizeof env, ":%s/%s", ZONEINFO, zones[k]);
        setenv("TZ", env, 1);
        tzset();
        int64_t lo = utc(1850, 1, 1, 0, 0, 0), hi = utc(2400, 1, 1, 0, 0, 0);
        for (int i = 0; i < 20000; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int64_t t = lo + (int64_t)((seed >> 11) % (uint64_t)(hi - lo));
            time_t tt = (time_t)t;
            struct tm tm;
            cr_assert_not_null(localtime_r(&tt, &tm));
            struct tz_local l = conv(z, t);
            cr_assert(l.offset == tm.tm_gmtoff && l.is_dst == (tm.tm_isdst > 0) &&
                          l.year == tm.tm_year + 1900 && l.month == tm.tm_mon + 1 &&
                          l.mday == tm.tm_mday && l.hour == tm.tm_hour && l.min == tm.tm_min &&
                          l.sec == tm.tm_sec && l.wday == (tm.tm_wday + 6) % 7 &&
                          l.yday == tm.tm_yday,
                      "%s at %lld: cordon %+d dst %d %04lld-%02d-%02d %02d:%02d wday %d, glibc "
                      "%+ld dst %d %04d-%02d-%02d %02d:%02d wday %d",
                      zones[k], (long long)t, l.offset, l.is_dst, (long long)l.year, l.month,
                      l.mday, l.hour, l.min, l.wday, tm.tm_gmtoff, tm.tm_isdst, tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, (tm.tm_wday + 6) % 7);
        }
        tz_free(z);
    }
    unsetenv("TZ");
}

Test(tz, utc_needs_no_file)
{
    struct tz *z = NULL;
    char err[256];
    cr_assert_eq(tz_load("/nonexistent/zoneinfo", "UTC", &z, err, sizeof err), 0);
    struct tz_local l = conv(z, utc(2026, 12, 2, 18, 31, 0));
    cr_expect_eq(l.offset, 0);
    cr_expect_eq(l.min_of_day, 18 * 60 + 31);
    cr_expect_eq(l.wday, 2, "2 December 2026 is a Wednesday");
    cr_expect_str_eq(tz_name(z), "UTC");
    tz_free(z);
}

Test(tz, civil_days)
{
    for (int64_t d = -800000; d < 800000; d += 97) {
        int64_t y;
        int m, md;
        tz_civil_from_days(d, &y, &m, &md);
        cr_assert_eq(tz_days_from_civil(y, m, md), d);
        time_t t = (time_t)(d * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        cr_assert(y == tm.tm_year + 1900 && m == tm.tm_mon + 1 && md == tm.tm_mday, "day %lld",
                  (long long)d);
    }
}

Test(tz, posix_rules)
{
    struct {
        const char *rule;
        int y, mo, d, h, mi; /* a UTC instant */
        int32_t off;
        int dst;
    } k[] = {
        {"EST5EDT", 2026, 7, 1, 12, 0, -14400, 1}, /* no dates: the US rule */
        {"EST5EDT", 2026, 3, 8, 6, 59, -18000, 0},
        {"EST5EDT", 2026, 3, 8, 7, 0, -14400, 1},
        {"<+0330>-3:30", 2026, 7, 1, 0, 0, 12600, 0},
        {"<-03>3", 2026, 1, 1, 0, 0, -10800, 0},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2026, 10, 25, 0, 59, 7200, 1},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 2026, 10, 25, 1, 0, 3600, 0},
        /* all year in DST (RFC 8536 section 3.3.1's example) */
        {"EST5EDT,0/0,J365/25", 2026, 1, 1, 0, 0, -14400, 1},
        {"EST5EDT,0/0,J365/25", 2026, 12, 31, 23, 0, -14400, 1},
        {"EST5EDT,0/0,J365/25", 2028, 2, 29, 12, 0, -14400, 1},
        /* Julian day 60 is 1 March in every year; day 59 (zero-based) is 1 March only in a
         * year with no 29 February */
        {"AAA0BBB,J60/0,J300/0", 2028, 3, 1, 0, 0, 3600, 1},
        {"AAA0BBB,J60/0,J300/0", 2028, 2, 29, 23, 59, 0, 0},
        {"AAA0BBB,59/0,J300/0", 2028, 2, 29, 0, 0, 3600, 1},
        {"AAA0BBB,59/0,J300/0", 2028, 2, 28, 23, 59, 0, 0},
        /* negative and past-midnight transition times (version 3) */
        {"XXX3YYY,M3.2.0/-1,M11.1.0/26", 2026, 3, 8, 1, 59, -10800, 0},
        {"XXX3YYY,M3.2.0/-1,M11.1.0/26", 2026, 3, 8, 2, 0, -7200, 1},
        /* explicit DST offset, and negative DST as Dublin has it */
        {"AAA-2BBB-1,M10.5.0,M3.5.0/1", 2026, 7, 1, 0, 0, 7200, 0},
        {"AAA-2BBB-1,M10.5.0,M3.5.0/1", 2026, 1, 1, 0, 0, 3600, 1},
        /* week 5 is the last such weekday of the month */
        {"AAA0BBB,M2.5.0/0,M11.5.0/0", 2026, 2, 22, 0, 0, 3600, 1},
        {"AAA0BBB,M2.5.0/0,M11.5.0/0", 2026, 2, 21, 23, 59, 0, 0},
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        struct tz *z = NULL;
        char err[256] = "";
        cr_assert_eq(tz_from_rule(k[i].rule, NULL, &z, err, sizeof err), 0, "%s: %s", k[i].rule,
                     err);
        struct tz_local l = conv(z, utc(k[i].y, k[i].mo, k[i].d, k[i].h, k[i].mi, 0));
        cr_expect(l.offset == k[i].off && l.is_dst == k[i].dst,
                  "%s at %04d-%02d-%02d %02d:%02d UTC: offset %d dst %d, expected %d %d", k[i].rule,
                  k[i].y, k[i].mo, k[i].d, k[i].h, k[i].mi, l.offset, l.is_dst, k[i].off, k[i].dst);
        tz_free(z);
    }
    static const char *const bad[] = {
        "",
        "AB1",
        "CET",
        "CET-25",
        "CET-1CEST,M3.5.0",
        "1CET",
        "CET-1CEST,",
        "<AB>1",
        "<ABC1",
        "CET-1:60",
        "CET-1CEST,M13.1.0,M10.5.0",
        "CET-1CEST,M3.6.0,M10.5.0",
        "CET-1CEST,M3.5.7,M10.5.0",
        "CET-1CEST,J0,J10",
        "CET-1CEST,366,10",
        "CET-1CEST,M3.5.0/168,M10.5.0",
        "CET-1CEST,M3.5.0,M10.5.0x",
        "CET-1 CEST",
        "CET-0001",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct tz *z = NULL;
        char err[256] = "";
        cr_expect_eq(tz_from_rule(bad[i], NULL, &z, err, sizeof err), TZ_ERR_FOOTER,
                     "\"%s\" accepted", bad[i]);
        cr_expect_null(z);
        if (bad[i][0])
            cr_expect(strstr(err, "POSIX TZ") != NULL, "message: %s", err);
    }
}

Test(tz, local_to_utc_gaps_and_repeats)
{
    need_tzdata();
    struct tz *z = load("Europe/Brussels");
    int64_t u;
    cr_assert_eq(tz_local_to_utc(z, 2026, 7, 1, 12 * 3600, &u), 0);
    cr_expect_eq(u, utc(2026, 7, 1, 10, 0, 0));
    /* 02:30 on 29 March 2026 does not exist: read as winter time, it is 01:30 UTC */
    cr_assert_eq(tz_local_to_utc(z, 2026, 3, 29, 2 * 3600 + 1800, &u), 0);
    cr_expect_eq(u, utc(2026, 3, 29, 1, 30, 0));
    /* 02:30 on 25 October 2026 happens twice: the first */
    cr_assert_eq(tz_local_to_utc(z, 2026, 10, 25, 2 * 3600 + 1800, &u), 0);
    cr_expect_eq(u, utc(2026, 10, 25, 0, 30, 0));
    /* 24:00 is the next midnight */
    cr_assert_eq(tz_local_to_utc(z, 2026, 12, 31, 86400, &u), 0);
    cr_expect_eq(u, utc(2026, 12, 31, 23, 0, 0));
    cr_expect_eq(tz_local_to_utc(z, 2026, 13, 1, 0, &u), TZ_ERR_RANGE);
    cr_expect_eq(tz_local_to_utc(z, 2026, 1, 1, 86401, &u), TZ_ERR_RANGE);
    tz_free(z);
}

Test(tz, range)
{
    struct tz *z = NULL;
    cr_assert_eq(tz_from_rule("CET-1CEST,M3.5.0,M10.5.0/3", "x", &z, NULL, 0), 0);
    struct tz_local l;
    cr_expect_eq(tz_convert(z, INT64_MAX, &l), TZ_ERR_RANGE);
    cr_expect_eq(tz_convert(z, INT64_MIN, &l), TZ_ERR_RANGE);
    cr_expect_eq(tz_convert(z, TZ_MAX_UTC, &l), 0);
    cr_expect_eq(tz_convert(z, TZ_MIN_UTC, &l), 0);
    tz_free(z);
}

/* ---- hand-made TZif images ---- */

struct img {
    unsigned char b[8192];
    size_t len;
    size_t head2; /* offset of the second header (0 for version 1) */
};

static void put32(struct img *m, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        m->b[m->len++] = (unsigned char)(v >> (8 * i));
}

static void put64(struct img *m, int64_t v)
{
    put32(m, (uint32_t)((uint64_t)v >> 32));
    put32(m, (uint32_t)v);
}

static void head(struct img *m, char version, uint32_t isut, uint32_t isstd, uint32_t leap,
                 uint32_t time, uint32_t type, uint32_t chr)
{
    memcpy(m->b + m->len, "TZif", 4);
    m->b[m->len + 4] = (unsigned char)version;
    memset(m->b + m->len + 5, 0, 15);
    m->len += 20;
    put32(m, isut);
    put32(m, isstd);
    put32(m, leap);
    put32(m, time);
    put32(m, type);
    put32(m, chr);
}

/* Two types (+1h "AAA", +2h DST "BBB") and transitions at 1000, 2000, 3000 seconds. */
static void block(struct img *m, int tsize)
{
    static const int64_t t[3] = {1000, 2000, 3000};
    static const uint8_t ix[3] = {1, 0, 1};
    for (int i = 0; i < 3; i++)
        tsize == 8 ? put64(m, t[i]) : put32(m, (uint32_t)t[i]);
    for (int i = 0; i < 3; i++)
        m->b[m->len++] = ix[i];
    put32(m, 3600);
    m->b[m->len++] = 0;
    m->b[m->len++] = 0;
    put32(m, 7200);
    m->b[m->len++] = 1;
    m->b[m->len++] = 4;
    memcpy(m->b + m->len, "AAA\0BBB\0", 8);
    m->len += 8;
    m->b[m->len++] = 0; /* isstd */
    m->b[m->len++] = 0;
    m->b[m->len++] = 0; /* isut */
    m->b[m->len++] = 0;
}

static void v1(struct img *m)
{
    memset(m, 0, sizeof *m);
    head(m, 0, 2, 2, 0, 3, 2, 8);
    block(m, 4);
}

static void v2(struct img *m, const char *footer)
{
    memset(m, 0, sizeof *m);
    head(m, '2', 2, 2, 0, 3, 2, 8);
    block(m, 4);
    m->head2 = m->len;
    head(m, '2', 2, 2, 0, 3, 2, 8);
    block(m, 8);
    m->len += (size_t)snprintf((char *)m->b + m->len, sizeof m->b - m->len, "\n%s\n", footer);
}

static int parse(const struct img *m, struct tz **z, char *err, size_t errlen)
{
    *z = NULL;
    return tz_parse(m->b, m->len, "test", z, err, errlen);
}

Test(tz, version_1_file)
{
    struct img m;
    v1(&m);
    struct tz *z = NULL;
    char err[256] = "";
    cr_assert_eq(parse(&m, &z, err, sizeof err), 0, "%s", err);
    cr_expect_eq(conv(z, 999).offset, 3600, "before the first transition: type 0");
    cr_expect_eq(conv(z, 1000).offset, 7200);
    cr_expect_eq(conv(z, 1000).is_dst, 1);
    cr_expect_eq(conv(z, 2500).offset, 3600);
    cr_expect_eq(conv(z, 3000).offset, 7200);
    cr_expect_eq(conv(z, 4000000000).offset, 7200, "past the table with no footer: the last type");
    tz_free(z);
}

Test(tz, version_2_footer_after_the_table)
{
    struct img m;
    v2(&m, "AAA-1");
    struct tz *z = NULL;
    char err[256] = "";
    cr_assert_eq(parse(&m, &z, err, sizeof err), 0, "%s", err);
    cr_expect_eq(conv(z, 2999).offset, 3600);
    cr_expect_eq(conv(z, 3000).offset, 3600, "from the last transition on, the footer rules");
    tz_free(z);
    v2(&m, "");
    cr_assert_eq(parse(&m, &z, err, sizeof err), 0, "%s", err);
    cr_expect_eq(conv(z, 3000).offset, 7200, "an empty footer: the last type");
    tz_free(z);
}

static void expect_bad(struct img *m, int want, const char *what)
{
    struct tz *z = NULL;
    char err[256] = "";
    int rc = parse(m, &z, err, sizeof err);
    cr_expect_eq(rc, want, "%s: got %d (%s), expected %d", what, rc, err, want);
    cr_expect_null(z);
    cr_expect(!rc || strstr(err, "time zone \"test\"") != NULL, "%s: message %s", what, err);
    tz_free(z);
}

static void set32(struct img *m, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        m->b[off + (size_t)i] = (unsigned char)(v >> (8 * (3 - i)));
}

Test(tz, hostile_files)
{
    struct img m;
    size_t h2, data2;
    /* counts (second header): isut 20, isstd 24, leap 28, time 32, type 36, chr 40 */
    v2(&m, "AAA-1");
    h2 = m.head2;
    data2 = h2 + 44;

    memcpy(m.b, "TZig", 4);
    expect_bad(&m, TZ_ERR_MAGIC, "bad magic");
    v2(&m, "AAA-1");
    m.b[4] = '5';
    expect_bad(&m, TZ_ERR_FORMAT, "unknown version");
    v2(&m, "AAA-1");
    set32(&m, h2 + 32, 0xffffffffu);
    expect_bad(&m, TZ_ERR_TRUNCATED, "timecnt 2^32-1");
    v2(&m, "AAA-1");
    set32(&m, h2 + 40, 0xffffffffu);
    expect_bad(&m, TZ_ERR_TRUNCATED, "charcnt 2^32-1");
    v2(&m, "AAA-1");
    set32(&m, 32, 0x40000000u);
    expect_bad(&m, TZ_ERR_TRUNCATED, "v1 timecnt 2^30");
    v2(&m, "AAA-1");
    set32(&m, h2 + 36, 0);
    expect_bad(&m, TZ_ERR_FORMAT, "no types");
    v2(&m, "AAA-1");
    set32(&m, h2 + 24, 1);
    expect_bad(&m, TZ_ERR_FORMAT, "isstdcnt neither 0 nor typecnt");
    v2(&m, "AAA-1");
    m.b[data2 + 3 * 8 + 1] = 2;
    expect_bad(&m, TZ_ERR_FORMAT, "type index out of range");
    v2(&m, "AAA-1");
    set32(&m, data2 + 12, 500); /* transition 1 at 500, before transition 0 at 1000 */
    expect_bad(&m, TZ_ERR_FORMAT, "transitions out of order");
    v2(&m, "AAA-1");
    set32(&m, data2 + 3 * 9, 0x80000000u);
    expect_bad(&m, TZ_ERR_FORMAT, "offset -2^31");
    v2(&m, "AAA-1");
    set32(&m, data2 + 3 * 9, 100000);
    expect_bad(&m, TZ_ERR_FORMAT, "offset over 26 hours");
    v2(&m, "AAA-1");
    m.b[data2 + 3 * 9 + 4] = 2;
    expect_bad(&m, TZ_ERR_FORMAT, "isdst 2");
    v2(&m, "AAA-1");
    m.b[data2 + 3 * 9 + 5] = 8;
    expect_bad(&m, TZ_ERR_FORMAT, "designation index past the characters");
    v2(&m, "AAA-1");
    m.b[data2 + 3 * 9 + 12 + 7] = 'X';
    expect_bad(&m, TZ_ERR_FORMAT, "designations without a final NUL");
    v2(&m, "AAA-1");
    m.b[data2 + 3 * 9 + 12 + 8 + 2] = 1; /* isut without isstd */
    expect_bad(&m, TZ_ERR_FORMAT, "UT indicator without standard indicator");
    v2(&m, "AAA-1");
    set32(&m, h2 + 28, 1);
    m.len += 12;
    expect_bad(&m, TZ_ERR_LEAP, "leap seconds");
    v2(&m, "AAA-1");
    set32(&m, h2 + 32, TZ_MAX_TIMES + 1);
    expect_bad(&m, TZ_ERR_TRUNCATED, "many transitions, few bytes");
    v2(&m, "garbage!");
    expect_bad(&m, TZ_ERR_FOOTER, "footer not a rule");
    v2(&m, "AAA-1");
    m.len--;
    expect_bad(&m, TZ_ERR_FOOTER, "footer without its newline");
    v2(&m, "AAA-1");
    m.b[m.len++] = 'x';
    expect_bad(&m, TZ_ERR_FOOTER, "bytes after the footer");
    v2(&m, "AAA-1");
    m.b[data2 - 44 + 4] = '3';
    expect_bad(&m, TZ_ERR_FORMAT, "headers of two versions");
    v1(&m);
    m.b[m.len++] = '\n';
    expect_bad(&m, TZ_ERR_FORMAT, "bytes after a version 1 file");
    v2(&m, "AAA-1");
    m.len = h2 + 10;
    expect_bad(&m, TZ_ERR_TRUNCATED, "cut in the second header");
    v2(&m, "AAA-1");
    m.len = h2 + 44 + 20;
    expect_bad(&m, TZ_ERR_TRUNCATED, "cut in the 64-bit data");

    /* every prefix of a valid file is refused, never read past */
    v2(&m, "CET-1CEST,M3.5.0,M10.5.0/3");
    size_t full = m.len;
    for (size_t n = 0; n < full; n++) {
        unsigned char *cut = malloc(n ? n : 1);
        memcpy(cut, m.b, n);
        struct tz *z = NULL;
        int rc = tz_parse(cut, n, "test", &z, NULL, 0);
        cr_expect_lt(rc, 0, "prefix of %zu bytes accepted", n);
        cr_expect_null(z);
        free(cut);
    }
    struct tz *z = NULL;
    cr_expect_eq(tz_parse(m.b, TZ_MAX_FILE + 1, "test", &z, NULL, 0), TZ_ERR_TOO_LARGE);
}

Test(tz, real_files_truncated)
{
    need_tzdata();
    FILE *f = fopen(ZONEINFO "/America/New_York", "rb");
    cr_assert_not_null(f);
    static unsigned char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct tz *z = NULL;
    cr_assert_eq(tz_parse(buf, n, "America/New_York", &z, NULL, 0), 0);
    tz_free(z);
    for (size_t k = 0; k < n; k++) {
        unsigned char *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        cr_expect_lt(tz_parse(cut, k, "x", &z, NULL, 0), 0, "prefix of %zu bytes accepted", k);
        free(cut);
    }
}

Test(tz, names_and_files)
{
    struct tz *z = NULL;
    char err[512] = "";
    cr_expect_eq(tz_load(ZONEINFO, "../../etc/passwd", &z, err, sizeof err), TZ_ERR_NAME);
    cr_expect_eq(tz_load(ZONEINFO, "/etc/passwd", &z, err, sizeof err), TZ_ERR_NAME);
    cr_expect_eq(tz_load(ZONEINFO, "Europe/Brussels\n", &z, err, sizeof err), TZ_ERR_NAME);
    cr_expect_eq(tz_load(ZONEINFO, "", &z, err, sizeof err), TZ_ERR_NAME);
    cr_expect_eq(tz_load("/nonexistent/zoneinfo", "Europe/Brussels", &z, err, sizeof err), -ENOENT);
    cr_expect(strstr(err, "tzdata") != NULL, "message: %s", err);
    need_tzdata();
    cr_expect_eq(tz_load(ZONEINFO, "Europe/Brusels", &z, err, sizeof err), -ENOENT);
    cr_expect(strstr(err, "unknown time zone \"Europe/Brusels\"") != NULL, "message: %s", err);
    cr_expect_eq(tz_load(ZONEINFO, "Europe", &z, err, sizeof err), TZ_ERR_MAGIC, "a directory");
    cr_expect_eq(tz_load(ZONEINFO, "leapseconds", &z, err, sizeof err), TZ_ERR_MAGIC);
    cr_expect(strstr(err, ZONEINFO "/leapseconds") != NULL, "message names the file: %s", err);
    FILE *f = fopen(ZONEINFO "/right/Europe/Brussels", "rb");
    if (f) {
        fclose(f);
        cr_expect_eq(tz_load(ZONEINFO, "right/Europe/Brussels", &z, err, sizeof err), TZ_ERR_LEAP);
        cr_expect(strstr(err, "leap seconds") != NULL, "message: %s", err);
    }
    /* a symbolic link, as Debian installs UTC and many aliases */
    cr_expect_eq(tz_load(ZONEINFO, "Etc/UTC", &z, err, sizeof err), 0, "%s", err);
    tz_free(z);
    cr_expect_str_eq(tz_strerror(TZ_ERR_LEAP), "TZif file counts leap seconds");
    cr_expect_str_eq(tz_strerror(-ENOENT), strerror(ENOENT));
}

/* One struct tz, many threads converting at once: each gets what one thread alone gets. */
struct job {
    const struct tz *z;
    int64_t start;
    int bad;
};

static void *convert_many(void *arg)
{
    struct job *j = arg;
    for (int64_t i = 0; i < 200000; i++) {
        int64_t t = j->start + i * 3607;
        struct tz_local a, b;
        if (tz_convert(j->z, t, &a) || tz_convert(j->z, t, &b) || memcmp(&a, &b, sizeof a) != 0 ||
            a.offset != (a.is_dst ? 7200 : 3600))
            j->bad++;
    }
    return NULL;
}

Test(tz, shared_between_threads)
{
    need_tzdata();
    struct tz *z = load("Europe/Brussels");
    pthread_t th[4];
    struct job j[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (struct job){.z = z, .start = utc(1990 + 10 * i, 1, 1, 0, 0, 0)};
        cr_assert_eq(pthread_create(&th[i], NULL, convert_many, &j[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(j[i].bad, 0, "thread %d: %d conversions differ", i, j[i].bad);
    }
    tz_free(z);
}

Test(tz, too_many_transitions)
{
    /* a well-formed version 1 file with one transition more than the limit */
    size_t n = TZ_MAX_TIMES + 1, len = 44 + n * 5 + 6 + 4;
    unsigned char *b = calloc(1, len);
    cr_assert_not_null(b);
    memcpy(b, "TZif", 4);
    uint32_t counts[6] = {0, 0, 0, (uint32_t)n, 1, 4};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 4; k++)
            b[20 + 4 * i + k] = (unsigned char)(counts[i] >> (8 * (3 - k)));
    for (size_t i = 0; i < n; i++) {
        uint32_t t = (uint32_t)(i * 1000);
        for (int k = 0; k < 4; k++)
            b[44 + 4 * i + (size_t)k] = (unsigned char)(t >> (8 * (3 - k)));
    }
    memcpy(b + 44 + n * 5 + 6, "CET", 4);
    struct tz *z = NULL;
    char err[256] = "";
    cr_expect_eq(tz_parse(b, len, "big", &z, err, sizeof err), TZ_ERR_TOO_LARGE, "%s", err);
    cr_expect(strstr(err, "4097 transitions"), "%s", err);
    /* one fewer loads */
    counts[3] = (uint32_t)(n - 1);
    for (int k = 0; k < 4; k++)
        b[32 + k] = (unsigned char)(counts[3] >> (8 * (3 - k)));
    memmove(b + 44 + (n - 1) * 4, b + 44 + n * 4, n - 1); /* indexes */
    memmove(b + 44 + (n - 1) * 5, b + 44 + n * 5, 6 + 4); /* type, designation */
    cr_expect_eq(tz_parse(b, len - 5, "big", &z, err, sizeof err), 0, "%s", err);
    tz_free(z);
    free(b);
}
