/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TZif files (RFC 8536) and POSIX TZ rules, read once and converted with no global state
 * (tz.h). The parser trusts nothing in the file: the counts are checked against the bytes
 * there are before anything is read, every index against its table, the transitions for
 * order, the offsets for range, and the footer is parsed in full or the file is refused.
 */
#include "base/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tz_type {
    int32_t off; /* seconds east of UTC */
    uint8_t dst;
};

/* One end of a POSIX rule's daylight saving period. */
struct tz_date {
    char kind;    /* 'J' Julian day 1-365 without Feb 29, 'D' day 0-365, 'M' month.week.day */
    int a, b, c;  /* J/D: a = the day; M: a month 1-12, b week 1-5, c weekday 0-6 (Sunday 0) */
    int32_t time; /* seconds after local midnight, -167h to 167h (RFC 8536 v3) */
};

struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    struct tz_date start, end;
};

struct tz {
    char name[TZ_MAX_NAME + 1];
    size_t n_times;
    int64_t *times; /* ascending, UTC */
    uint8_t *idx;   /* the type in force from times[i] */
    size_t n_types; /* 1 to 256 */
    struct tz_type types[256];
    int has_rule; /* the footer's rule governs after the last transition */
    struct tz_rule rule;
};

const char *tz_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case TZ_ERR_NAME:
        return "not a valid time zone name";
    case TZ_ERR_MAGIC:
        return "not a TZif file";
    case TZ_ERR_TRUNCATED:
        return "TZif file is truncated";
    case TZ_ERR_FORMAT:
        return "TZif file is malformed";
    case TZ_ERR_FOOTER:
        return "TZif footer (POSIX TZ rule) is malformed";
    case TZ_ERR_TOO_LARGE:
        return "TZif file is larger than the limits";
    case TZ_ERR_LEAP:
        return "TZif file counts leap seconds";
    case TZ_ERR_RANGE:
        return "instant out of range";
    default:
        if (err_is_errno(rc))
            return strerror(-rc);
        return "unknown time zone error";
    }
}

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int tz_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TZ_MAX_NAME || s[0] == '/' || strstr(s, ".."))
        return 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '/' || ch == '_' || ch == '-' || ch == '+';
        if (!ok)
            return 0;
    }
    return 1;
}

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* H. Hinnant's days_from_civil / civil_from_days, exact for the proleptic Gregorian calendar. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *year, int *month, int *mday)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
    *mday = d;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int k[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : k[m - 1];
}

/* ---- POSIX TZ rules ---- */

/* std or dst name: three or more letters, or <...> of letters, digits, '+' and '-'. */
static int rule_name(const char **ps)
{
    const char *s = *ps;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
               *s == '+' || *s == '-') {
            s++;
            n++;
        }
        if (*s != '>' || n < 3)
            return -1;
        *ps = s + 1;
        return 0;
    }
    while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
        s++;
        n++;
    }
    if (n < 3)
        return -1;
    *ps = s;
    return 0;
}

static int rule_num(const char **ps, int maxdigits, int *out)
{
    const char *s = *ps;
    int v = 0, n = 0;
    while (*s >= '0' && *s <= '9') {
        if (++n > maxdigits)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (!n)
        return -1;
    *ps = s;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh at most maxh; *out in seconds, signed as written. */
static int rule_hms(const char **ps, int maxh, int32_t *out)
{
    const char *s = *ps;
    int sign = 1, h = 0, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (rule_num(&s, 3, &h) || h > maxh)
        return -1;
    if (*s == ':') {
        s++;
        if (rule_num(&s, 2, &m) || m > 59)
            return -1;
        if (*s == ':') {
            s++;
            if (rule_num(&s, 2, &sec) || sec > 59)
                return -1;
        }
    }
    *ps = s;
    *out = sign * (h * 3600 + m * 60 + sec);
    return 0;
}

static int rule_date(const char **ps, struct tz_date *d)
{
    const char *s = *ps;
    memset(d, 0, sizeof *d);
    if (*s == 'J') {
        s++;
        d->kind = 'J';
        if (rule_num(&s, 3, &d->a) || d->a < 1 || d->a > 365)
            return -1;
    } else if (*s == 'M') {
        s++;
        d->kind = 'M';
        if (rule_num(&s, 2, &d->a) || d->a < 1 || d->a > 12 || *s++ != '.' ||
            rule_num(&s, 1, &d->b) || d->b < 1 || d->b > 5 || *s++ != '.' ||
            rule_num(&s, 1, &d->c) || d->c > 6)
            return -1;
    } else {
        d->kind = 'D';
        if (rule_num(&s, 3, &d->a) || d->a > 365)
            return -1;
    }
    d->time = 2 * 3600;
    if (*s == '/') {
        s++;
        if (rule_hms(&s, 167, &d->time))
            return -1;
    }
    *ps = s;
    return 0;
}

static int parse_rule(const char *s, struct tz_rule *r)
{
    int32_t v;
    memset(r, 0, sizeof *r);
    if (rule_name(&s) || rule_hms(&s, 24, &v))
        return -1;
    r->std_off = -v; /* POSIX counts hours west of Greenwich */
    if (!*s)
        return 0;
    if (rule_name(&s))
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*s && *s != ',') {
        if (rule_hms(&s, 24, &v))
            return -1;
        r->dst_off = -v;
    }
    if (!*s) {
        /* no dates: the rule POSIX implementations default to (the United States') */
        const char *def = "M3.2.0,M11.1.0";
        if (rule_date(&def, &r->start) || *def++ != ',' || rule_date(&def, &r->end))
            return -1;
        return 0;
    }
    if (*s++ != ',' || rule_date(&s, &r->start) || *s++ != ',' || rule_date(&s, &r->end) || *s)
        return -1;
    return 0;
}

/* Day of year (0-365) the date names in year y. */
static int rule_yday(const struct tz_date *d, int64_t y)
{
    switch (d->kind) {
    case 'J':
        return d->a - 1 + (is_leap(y) && d->a >= 60);
    case 'D':
        return d->a > 364 + is_leap(y) ? 364 + is_leap(y) : d->a;
    default: {
        int64_t first = tz_days_from_civil(y, d->a, 1);
        int wd = (int)((first + 4) % 7 + 7) % 7; /* Sunday 0; 1970-01-01 was a Thursday */
        int mday = 1 + (d->c - wd + 7) % 7 + (d->b - 1) * 7;
        while (mday > month_days(y, d->a))
            mday -= 7;
        return (int)(first - tz_days_from_civil(y, 1, 1)) + mday - 1;
    }
    }
}

static int64_t rule_utc(const struct tz_date *d, int64_t y, int32_t off)
{
    return (tz_days_from_civil(y, 1, 1) + rule_yday(d, y)) * 86400 + d->time - off;
}

static void rule_at(const struct tz_rule *r, int64_t t, int32_t *off, int *dst)
{
    if (!r->has_dst) {
        *off = r->std_off;
        *dst = 0;
        return;
    }
    int64_t y;
    int m, md;
    tz_civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &md);
    int64_t s = rule_utc(&r->start, y, r->std_off), e = rule_utc(&r->end, y, r->dst_off);
    int in = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    *off = in ? r->dst_off : r->std_off;
    *dst = in;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_head {
    char version; /* 0, '2', '3', '4' */
    uint32_t isut, isstd, leap, time, type, chr;
};

#define TZIF_HEAD 44

static int read_head(const unsigned char *p, size_t len, struct tzif_head *h, const char *name,
                     char *err, size_t errlen)
{
    if (len < TZIF_HEAD) {
        say(err, errlen, "time zone \"%s\": the file is %zu bytes, shorter than a TZif header",
            name, len);
        return len >= 4 && memcmp(p, "TZif", 4) == 0 ? TZ_ERR_TRUNCATED : TZ_ERR_MAGIC;
    }
    if (memcmp(p, "TZif", 4) != 0) {
        say(err, errlen,
            "time zone \"%s\": the file does not start with \"TZif\", so it is not a "
            "compiled zone of the tz database",
            name);
        return TZ_ERR_MAGIC;
    }
    h->version = (char)p[4];
    if (h->version != 0 && h->version != '2' && h->version != '3' && h->version != '4') {
        say(err, errlen, "time zone \"%s\": TZif version byte 0x%02x is not 0, '2', '3' or '4'",
            name, p[4]);
        return TZ_ERR_FORMAT;
    }
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chr = be32(p + 40);
    return 0;
}

/* Bytes of the data block after a header: computed in 64 bits, so counts near 2^32 cannot
 * wrap it into something small. */
static uint64_t block_size(const struct tzif_head *h, unsigned tsize)
{
    return (uint64_t)h->time * tsize + h->time + (uint64_t)h->type * 6 + h->chr +
           (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

static int check_counts(const struct tzif_head *h, const char *name, char *err, size_t errlen)
{
    if (h->type < 1 || h->type > 256) {
        say(err, errlen,
            "time zone \"%s\": the file has %u local time types; a TZif file has 1 "
            "to 256",
            name, h->type);
        return TZ_ERR_FORMAT;
    }
    if (h->chr < 1) {
        say(err, errlen, "time zone \"%s\": the file has no designation characters", name);
        return TZ_ERR_FORMAT;
    }
    if ((h->isut && h->isut != h->type) || (h->isstd && h->isstd != h->type)) {
        say(err, errlen,
            "time zone \"%s\": the UT/standard indicator counts (%u, %u) are neither "
            "0 nor the number of types (%u)",
            name, h->isut, h->isstd, h->type);
        return TZ_ERR_FORMAT;
    }
    return 0;
}

static int read_block(struct tz *z, const unsigned char *p, const struct tzif_head *h,
                      unsigned tsize, char *err, size_t errlen)
{
    const char *name = z->name;
    if (h->leap) {
        say(err, errlen,
            "time zone \"%s\": the file counts leap seconds (a \"right/\" zone), "
            "whose clock is not POSIX time; use the zone of the same name without \"right/\"",
            name);
        return TZ_ERR_LEAP;
    }
    if (h->time > TZ_MAX_TIMES) {
        say(err, errlen, "time zone \"%s\": the file has %u transitions; at most %u are accepted",
            name, h->time, TZ_MAX_TIMES);
        return TZ_ERR_TOO_LARGE;
    }
    z->n_times = h->time;
    if (h->time) {
        z->times = malloc(h->time * sizeof *z->times);
        z->idx = malloc(h->time);
        if (!z->times || !z->idx)
            return -ENOMEM;
    }
    const unsigned char *tt = p, *ti = p + (size_t)h->time * tsize;
    const unsigned char *ty = ti + h->time, *ch = ty + (size_t)h->type * 6;
    const unsigned char *isstd = ch + h->chr, *isut = isstd + h->isstd;
    for (size_t i = 0; i < h->time; i++) {
        z->times[i] = tsize == 8 ? be64(tt + 8 * i) : (int32_t)be32(tt + 4 * i);
        if (i && z->times[i] <= z->times[i - 1]) {
            say(err, errlen, "time zone \"%s\": transition %zu is not later than the one before",
                name, i);
            return TZ_ERR_FORMAT;
        }
        if (z->times[i] < TZ_MIN_UTC || z->times[i] > TZ_MAX_UTC) {
            /* zic writes -2^59 as "the big bang"; anything that early or late is of no use */
            if (z->times[i] < TZ_MIN_UTC)
                z->times[i] = TZ_MIN_UTC;
            else
                z->times[i] = TZ_MAX_UTC;
            if (i && z->times[i] <= z->times[i - 1]) {
                say(err, errlen,
                    "time zone \"%s\": transitions %zu and %zu are both beyond the "
                    "range of time this module handles",
                    name, i - 1, i);
                return TZ_ERR_FORMAT;
            }
        }
        if (ti[i] >= h->type) {
            say(err, errlen, "time zone \"%s\": transition %zu names type %u of %u", name, i, ti[i],
                h->type);
            return TZ_ERR_FORMAT;
        }
        z->idx[i] = ti[i];
    }
    if (ch[h->chr - 1] != '\0') {
        say(err, errlen, "time zone \"%s\": the designations do not end with a NUL", name);
        return TZ_ERR_FORMAT;
    }
    z->n_types = h->type;
    for (size_t i = 0; i < h->type; i++) {
        const unsigned char *e = ty + 6 * i;
        int32_t off = (int32_t)be32(e);
        if (off < -89999 || off > 93599 || e[4] > 1 || e[5] >= h->chr) {
            say(err, errlen,
                "time zone \"%s\": local time type %zu (offset %ld s, dst %u, "
                "designation %u) is out of range",
                name, i, (long)off, e[4], e[5]);
            return TZ_ERR_FORMAT;
        }
        z->types[i].off = off;
        z->types[i].dst = e[4];
        if ((h->isstd && isstd[i] > 1) || (h->isut && isut[i] > 1) ||
            (h->isut && isut[i] && !(h->isstd && isstd[i]))) {
            say(err, errlen, "time zone \"%s\": the indicators of type %zu are invalid", name, i);
            return TZ_ERR_FORMAT;
        }
    }
    return 0;
}

void tz_free(struct tz *z)
{
    if (!z)
        return;
    free(z->times);
    free(z->idx);
    free(z);
}

static struct tz *tz_alloc(const char *name)
{
    struct tz *z = calloc(1, sizeof *z);
    if (z)
        snprintf(z->name, sizeof z->name, "%s", name ? name : "");
    return z;
}

int tz_parse(const void *buf, size_t len, const char *name, struct tz **out, char *err,
             size_t errlen)
{
    const unsigned char *p = buf;
    struct tzif_head h1, h2;
    int rc;
    *out = NULL;
    if (!name)
        name = "";
    if (len > TZ_MAX_FILE) {
        say(err, errlen, "time zone \"%s\": the file is %zu bytes; at most %u are accepted", name,
            len, TZ_MAX_FILE);
        return TZ_ERR_TOO_LARGE;
    }
    if ((rc = read_head(p, len, &h1, name, err, errlen)) != 0)
        return rc;
    uint64_t b1 = block_size(&h1, 4);
    if (b1 > len - TZIF_HEAD) {
        say(err, errlen,
            "time zone \"%s\": the header promises %llu bytes of data and the file "
            "has %zu",
            name, (unsigned long long)b1, len - TZIF_HEAD);
        return TZ_ERR_TRUNCATED;
    }
    const struct tzif_head *h = &h1;
    const unsigned char *data = p + TZIF_HEAD;
    unsigned tsize = 4;
    size_t end = TZIF_HEAD + (size_t)b1;
    if (h1.version == 0) {
        if ((rc = check_counts(&h1, name, err, errlen)) != 0)
            return rc;
    } else {
        if (len - end < TZIF_HEAD) {
            say(err, errlen,
                "time zone \"%s\": the file ends %zu bytes into the header of its 64-bit data, "
                "which is %d bytes",
                name, len - end, TZIF_HEAD);
            return TZ_ERR_TRUNCATED;
        }
        if ((rc = read_head(p + end, len - end, &h2, name, err, errlen)) != 0)
            return rc == TZ_ERR_MAGIC ? TZ_ERR_FORMAT : rc;
        if (h2.version != h1.version) {
            say(err, errlen, "time zone \"%s\": the two headers give different versions", name);
            return TZ_ERR_FORMAT;
        }
        if ((rc = check_counts(&h2, name, err, errlen)) != 0)
            return rc;
        uint64_t b2 = block_size(&h2, 8);
        if (b2 > len - end - TZIF_HEAD) {
            say(err, errlen,
                "time zone \"%s\": the second header promises %llu bytes of data "
                "and the file has %zu",
                name, (unsigned long long)b2, len - end - TZIF_HEAD);
            return TZ_ERR_TRUNCATED;
        }
        h = &h2;
        data = p + end + TZIF_HEAD;
        tsize = 8;
        end += TZIF_HEAD + (size_t)b2;
    }
    struct tz *z = tz_alloc(name);
    if (!z)
        return -ENOMEM;
    if ((rc = read_block(z, data, h, tsize, err, errlen)) != 0)
        goto out;
    if (h1.version != 0) {
        /* the footer: "\n" POSIX-TZ-string "\n", and nothing after it */
        const char *f = (const char *)p + end;
        size_t fl = len - end;
        const char *nl = fl > 1 && f[0] == '\n' ? memchr(f + 1, '\n', fl - 1) : NULL;
        if (!nl || (size_t)(nl - f) + 1 != fl || nl - f - 1 > 255) {
            say(err, errlen,
                "time zone \"%s\": the footer after the data is missing, too long "
                "or followed by other bytes",
                name);
            rc = TZ_ERR_FOOTER;
            goto out;
        }
        char rule[256];
        size_t rl = (size_t)(nl - f - 1);
        memcpy(rule, f + 1, rl);
        rule[rl] = '\0';
        if (rl && (memchr(rule, '\0', rl) || parse_rule(rule, &z->rule) != 0)) {
            say(err, errlen,
                "time zone \"%s\": the footer's rule \"%.64s\" is not a POSIX TZ "
                "string",
                name, rule);
            rc = TZ_ERR_FOOTER;
            goto out;
        }
        z->has_rule = rl > 0;
    } else if (end != len) {
        say(err, errlen, "time zone \"%s\": %zu bytes follow the data of a version 1 file", name,
            len - end);
        rc = TZ_ERR_FORMAT;
        goto out;
    }
    *out = z;
    z = NULL; /* transferred */
    rc = 0;
out:
    tz_free(z);
    return rc;
}

int tz_from_rule(const char *rule, const char *name, struct tz **out, char *err, size_t errlen)
{
    *out = NULL;
    struct tz *z = tz_alloc(name ? name : rule);
    if (!z)
        return -ENOMEM;
    if (!rule || strlen(rule) > 255 || parse_rule(rule, &z->rule) != 0) {
        say(err, errlen,
            "time zone rule \"%.64s\" is not a POSIX TZ string such as "
            "\"CET-1CEST,M3.5.0,M10.5.0/3\"",
            rule ? rule : "");
        tz_free(z);
        return TZ_ERR_FOOTER;
    }
    z->has_rule = 1;
    z->n_types = 1;
    z->types[0].off = z->rule.std_off;
    *out = z;
    return 0;
}

int tz_load(const char *dir, const char *name, struct tz **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!tz_name_valid(name)) {
        say(err, errlen,
            "time zone \"%.64s\" is not a valid zone name (letters, digits, '/', "
            "'_', '-', '+'; at most %d bytes, no \"..\")",
            name ? name : "", TZ_MAX_NAME);
        return TZ_ERR_NAME;
    }
    if (strcmp(name, "UTC") == 0)
        return tz_from_rule("UTC0", "UTC", out, err, errlen);
    if (!dir)
        dir = TZ_DEFAULT_DIR;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        say(err, errlen, "time zone \"%s\": the path under %.100s is too long", name, dir);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            say(err, errlen,
                "unknown time zone \"%s\": there is no %s (use an IANA name such as "
                "\"Europe/Brussels\", and install the tzdata package)",
                name, path);
        else
            say(err, errlen, "time zone \"%s\": cannot open %s: %s", name, path, strerror(e));
        return e == ENOTDIR ? -ENOENT : -e;
    }
    struct stat st;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        say(err, errlen, "time zone \"%s\": cannot stat %s: %s", name, path, strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        say(err, errlen, "unknown time zone \"%s\": %s is not a regular file", name, path);
        rc = TZ_ERR_MAGIC;
        goto out;
    }
    if (st.st_size > (off_t)TZ_MAX_FILE) {
        say(err, errlen, "time zone \"%s\": %s is %lld bytes; at most %u are accepted", name, path,
            (long long)st.st_size, TZ_MAX_FILE);
        rc = TZ_ERR_TOO_LARGE;
        goto out;
    }
    /* read to the end, one byte past the limit, whatever fstat said: the file may be growing */
    if (!(buf = malloc(TZ_MAX_FILE + 1))) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, TZ_MAX_FILE + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            say(err, errlen, "time zone \"%s\": cannot read %s: %s", name, path, strerror(-rc));
            goto out;
        }
        if (n == 0 || (len += (size_t)n) > TZ_MAX_FILE)
            break;
    }
    rc = tz_parse(buf, len, name, out, err, errlen);
    if (rc && err && errlen) {
        /* name the file: "time zone "X" (/usr/share/zoneinfo/X): ..." */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        const char *rest = strstr(tmp, "\": ");
        if (rest && strncmp(tmp, "time zone \"", 11) == 0)
            say(err, errlen, "time zone \"%s\" (%s): %s", name, path, rest + 3);
    }
out:
    free(buf);
    close(fd);
    return rc;
}

const char *tz_name(const struct tz *z)
{
    return z->name;
}

/* Offset and DST flag at utc. */
static void offset_at(const struct tz *z, int64_t t, int32_t *off, int *dst)
{
    size_t n = z->n_times;
    if ((n == 0 || t >= z->times[n - 1]) && z->has_rule) {
        rule_at(&z->rule, t, off, dst);
        return;
    }
    const struct tz_type *ty = &z->types[0];
    if (n && t >= z->times[0]) {
        size_t lo = 0, hi = n; /* the last i with times[i] <= t */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (z->times[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        ty = &z->types[z->idx[lo]];
    }
    *off = ty->off;
    *dst = ty->dst;
}

int tz_convert(const struct tz *z, int64_t utc, struct tz_local *out)
{
    if (utc < TZ_MIN_UTC || utc > TZ_MAX_UTC)
        return TZ_ERR_RANGE;
    int32_t off;
    int dst;
    offset_at(z, utc, &off, &dst);
    int64_t local = utc + off;
    int64_t days = floor_div(local, 86400);
    int64_t secs = local - days * 86400;
    out->offset = off;
    out->is_dst = dst;
    tz_civil_from_days(days, &out->year, &out->month, &out->mday);
    out->hour = (int)(secs / 3600);
    out->min = (int)(secs / 60 % 60);
    out->sec = (int)(secs % 60);
    out->min_of_day = out->hour * 60 + out->min;
    out->wday = (int)(((days + 3) % 7 + 7) % 7);
    out->yday = (int)(days - tz_days_from_civil(out->year, 1, 1));
    return 0;
}

int tz_local_to_utc(const struct tz *z, int64_t year, int month, int mday, int32_t sec_of_day,
                    int64_t *out)
{
    if (year < -10000000 || year > 10000000 || month < 1 || month > 12 || mday < 1 || mday > 31 ||
        sec_of_day < 0 || sec_of_day > 86400)
        return TZ_ERR_RANGE;
    int64_t l = tz_days_from_civil(year, month, mday) * 86400 + sec_of_day;
    if (l < TZ_MIN_UTC + 2 * 86400 || l > TZ_MAX_UTC - 2 * 86400)
        return TZ_ERR_RANGE;
    int32_t before, after, o;
    int dst;
    offset_at(z, l - 86400 - 93600, &before, &dst);
    offset_at(z, l + 86400 + 93600, &after, &dst);
    int64_t u1 = l - before, u2 = l - after;
    offset_at(z, u1, &o, &dst);
    int ok1 = o == before;
    offset_at(z, u2, &o, &dst);
    int ok2 = o == after;
    if (ok1 && ok2)
        *out = u1 < u2 ? u1 : u2;
    else if (ok2)
        *out = u2;
    else
        *out = u1; /* valid, or a time the change skipped: read with the offset before it */
    return 0;
}
