/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time zones without global state. cordond is multithreaded, so it cannot switch the
 * process-wide TZ per request, and localtime_r() reads whatever zone the process has. This
 * module reads a zone's compiled rules once (a TZif file of the tz database, RFC 8536,
 * versions 1 to 4) into a struct tz, and converts UTC instants to local time from that struct
 * alone: the transitions of the file's table, then the POSIX TZ rule of its footer for
 * instants past the table (a v2+ file with a slim table ends its transitions early and
 * leaves the rest to the footer). No TZ variable, no tzset(), no localtime().
 *
 * A struct tz is read-only once tz_load() or tz_parse() returns it, so any number of threads
 * may convert with one struct at once. Files are hostile input: every count, index, offset
 * and the footer are checked, and a file larger than TZ_MAX_FILE is refused.
 */
#ifndef CORDON_BASE_TZ_H
#define CORDON_BASE_TZ_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

/* The module's own codes (base/err.h); tz_strerror() names them, and errno values too. */
#define TZ_ERR_NAME (ERR_BLOCK_TZ - 1)      /* a zone name that cannot name a zone file */
#define TZ_ERR_MAGIC (ERR_BLOCK_TZ - 2)     /* not a TZif file (leapseconds, tzdata.zi) */
#define TZ_ERR_TRUNCATED (ERR_BLOCK_TZ - 3) /* the counts promise more bytes than there are */
#define TZ_ERR_FORMAT (ERR_BLOCK_TZ - 4)    /* a count, index, offset or order is invalid */
#define TZ_ERR_FOOTER (ERR_BLOCK_TZ - 5)    /* the POSIX TZ rule of the footer is invalid */
#define TZ_ERR_TOO_LARGE (ERR_BLOCK_TZ - 6) /* a file or table beyond the limits below */
#define TZ_ERR_LEAP (ERR_BLOCK_TZ - 7)      /* a zone that counts leap seconds ("right/") */
#define TZ_ERR_RANGE (ERR_BLOCK_TZ - 8)     /* an instant beyond what tz_convert() handles */

#define TZ_MAX_FILE (256u << 10) /* bytes; the largest zone of the tz database is < 4 KiB */
#define TZ_MAX_TIMES 4096        /* transitions kept (the fattest real zone has < 2000) */
#define TZ_MAX_NAME 64           /* bytes of a zone name, as api.schedule[].tz allows */
#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"

/* Instants tz_convert() accepts: years about -10^7 to 10^7, far past any policy's need. */
#define TZ_MIN_UTC (-(INT64_C(1) << 48))
#define TZ_MAX_UTC (INT64_C(1) << 48)

struct tz;

/* Local time at one instant. */
struct tz_local {
    int32_t offset;  /* seconds east of UTC: +3600 in Brussels in winter, -14400 in New York
                        in summer */
    int is_dst;      /* 1 when daylight saving time is in effect */
    int64_t year;    /* proleptic Gregorian */
    int month, mday; /* 1-12, 1-31 */
    int hour, min, sec;
    int wday;       /* 0 Monday ... 6 Sunday (ISO order, as policy_window.days counts) */
    int yday;       /* 0-365 */
    int min_of_day; /* hour * 60 + min */
};

const char *tz_strerror(int rc);

/* 1 when name may name a zone file: 1 to TZ_MAX_NAME bytes of letters, digits, '/', '_', '-'
 * and '+', not starting with '/', without "..". The same rule as the policy's tz. */
int tz_name_valid(const char *name);

/*
 * Load zone name from directory dir (NULL: TZ_DEFAULT_DIR). "UTC" needs no file and always
 * loads. Returns 0 and *out (tz_free); TZ_ERR_NAME; -ENOENT (no such zone file), -EACCES and
 * other errnos from open/read; the parser's codes below. err (may be NULL) gets a sentence
 * naming the zone, the file and what is wrong with it.
 */
__attribute__((warn_unused_result)) int tz_load(const char *dir, const char *name, struct tz **out,
                                                char *err, size_t errlen);

/*
 * Parse a TZif image (len bytes). name is kept for messages (tz_name). Returns 0 and *out
 * (tz_free); TZ_ERR_MAGIC, TZ_ERR_TRUNCATED, TZ_ERR_FORMAT, TZ_ERR_FOOTER, TZ_ERR_TOO_LARGE,
 * TZ_ERR_LEAP with err saying which; -ENOMEM.
 */
__attribute__((warn_unused_result)) int tz_parse(const void *buf, size_t len, const char *name,
                                                 struct tz **out, char *err, size_t errlen);

/*
 * A zone from a POSIX TZ rule alone ("CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT", "<+0330>-3:30"),
 * as a TZif footer holds it. Returns 0 and *out (tz_free); TZ_ERR_FOOTER with err; -ENOMEM.
 */
__attribute__((warn_unused_result)) int tz_from_rule(const char *rule, const char *name,
                                                     struct tz **out, char *err, size_t errlen);

void tz_free(struct tz *z);

/* The name given at load ("Europe/Brussels"). */
const char *tz_name(const struct tz *z);

/* Local time at utc (seconds since the epoch, UTC). Returns 0, or TZ_ERR_RANGE when utc is
 * outside [TZ_MIN_UTC, TZ_MAX_UTC]. Reads only z: safe from any thread. */
__attribute__((warn_unused_result)) int tz_convert(const struct tz *z, int64_t utc,
                                                   struct tz_local *out);

/*
 * The UTC instant of a local wall-clock time (year, month 1-12, mday 1-31, seconds into the
 * day 0-86400) in zone z. A time that happens twice (clocks set back) gives the earlier
 * instant; a time that does not happen (clocks set forward) is read with the offset in force
 * before the change, which names the instant just after it (02:30 on the day Brussels moves
 * to summer time gives 01:30 UTC, 03:30 local). Returns 0 and *out, or TZ_ERR_RANGE.
 */
__attribute__((warn_unused_result)) int tz_local_to_utc(const struct tz *z, int64_t year, int month,
                                                        int mday, int32_t sec_of_day, int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. For callers that count in
 * local days (a budget's day and month in the policy's zone). */
int64_t tz_days_from_civil(int64_t year, int month, int mday);
void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *mday);

#endif
