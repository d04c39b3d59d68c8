/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile input for the classifier: 100 MB of digits, a million near-matches, invalid UTF-8,
 * NUL bytes, a 10 MB single token, and custom classes too costly to run. Each scan finishes
 * in bounded time and memory with a result or DATA_ERR_BUDGET, never a crash and never a
 * silent pass (a planted value is found whenever the scan says it read the text), and a
 * pathological custom pattern is refused by data_scanner_new with an error naming the class.
 */
#include <sys/resource.h>
#include <time.h>

#include "data_corpus.h"

#define MB (1024u * 1024u)
/* Bounds: generous for a shared machine and the sanitizer build, tight enough to catch a
 * scan that goes quadratic (100 MB at a quadratic rate would take hours). */
#define SECONDS_PER_100MB 120.0
#define EXTRA_MEMORY (256u * MB)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t maxrss(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (size_t)u.ru_maxrss * 1024;
}

static struct data_scanner *scanner;
static void setup(void)
{
    scanner = corpus_scanner(NULL, NULL);
}
static void teardown(void)
{
    data_scanner_free(scanner);
}
TestSuite(data_hostile, .init = setup, .fini = teardown, .timeout = 600);

static long class_id(const char *name)
{
    long c = corpus_builtin(name);
    cr_assert_geq(c, 0, "no built-in class %s", name);
    return c;
}

/* The match of class cls at exactly [start, end) is among m[0..n). */
static int has(const struct data_match *m, size_t n, const char *cls, size_t start, size_t end)
{
    long c = class_id(cls);
    for (size_t i = 0; i < n; i++)
        if ((long)m[i].cls == c && m[i].start == start && m[i].end == end)
            return 1;
    return 0;
}

/* Block scan of text, which ends with planted (a value of class cls): bounded in time and
 * memory; DATA_ERR_BUDGET, or a result that includes the planted value. */
static long block(const char *what, const char *text, size_t len, const char *cls,
                  const char *planted)
{
    size_t rss0 = maxrss();
    double t0 = now();
    struct data_match *m = NULL;
    long n = data_scan(scanner, text, len, &m);
    double dt = now() - t0;
    size_t grew = maxrss() > rss0 ? maxrss() - rss0 : 0;
    fprintf(stderr, "%-34s block:  %s (%ld) in %.2f s, %.1f MB/s, memory +%zu MB\n", what,
            n >= 0 ? "scanned" : data_strerror((int)n), n, dt, (double)len / MB / dt, grew / MB);
    cr_assert(n >= 0 || n == DATA_ERR_BUDGET, "%s: data_scan: %s", what, data_strerror((int)n));
    cr_assert_lt(dt, SECONDS_PER_100MB * ((double)len / (100.0 * MB)) + 10.0,
                 "%s: %zu bytes took %.1f s", what, len, dt);
    cr_assert_lt(grew, EXTRA_MEMORY, "%s: the scan took %zu MB beyond its input", what, grew / MB);
    if (n >= 0 && planted) {
        size_t pl = strlen(planted);
        cr_assert(has(m, (size_t)n, cls, len - pl, len),
                  "%s: the scan read the text (%ld matches) but missed the %s at its end: "
                  "a silent pass",
                  what, n, cls);
    }
    free(m);
    return n;
}

/* The same text streamed in feeds of chunk bytes: bounded memory (never more than the window
 * held back), DATA_ERR_BUDGET or the planted value found. */
static void stream(const char *what, const char *text, size_t len, size_t chunk, const char *cls,
                   const char *planted)
{
    struct data_stream *st;
    cr_assert_eq(data_stream_new(scanner, &st), 0);
    size_t w = data_scanner_window(scanner), rss0 = maxrss(), n = 0,
           pl = planted ? strlen(planted) : 0;
    int found = 0, rc = 0;
    size_t held = 0;
    long c = cls ? class_id(cls) : -1;
    double t0 = now();
    for (size_t off = 0; off < len + chunk && !rc; off += chunk) {
        if (off < len)
            rc = data_stream_feed(st, text + off, len - off < chunk ? len - off : chunk);
        else /* after the last feed */
            rc = data_stream_end(st);
        if (rc)
            break;
        uint64_t base;
        size_t plen, nm;
        data_stream_pending(st, &base, &plen);
        size_t ready = data_stream_ready(st);
        if (plen - ready > held)
            held = plen - ready;
        const struct data_match *m = data_stream_matches(st, &nm);
        for (size_t i = 0; i < nm; i++)
            found |= (long)m[i].cls == c && m[i].start == len - pl && m[i].end == len;
        n += nm;
        data_stream_release(st, ready);
    }
    double dt = now() - t0;
    size_t grew = maxrss() > rss0 ? maxrss() - rss0 : 0;
    data_stream_free(st);
    fprintf(stderr,
            "%-34s stream: %s (%zu) in %.2f s, %.1f MB/s, memory +%zu MB, at most %zu bytes "
            "held back\n",
            what, rc ? data_strerror(rc) : "scanned", n, dt, (double)len / MB / dt, grew / MB,
            held);
    cr_expect_leq(held, w, "%s: %zu bytes held back, window %zu", what, held, w);
    cr_assert(rc == 0 || rc == DATA_ERR_BUDGET, "%s: stream: %s", what, data_strerror(rc));
    cr_assert_lt(dt, SECONDS_PER_100MB * ((double)len / (100.0 * MB)) + 10.0,
                 "%s: %zu bytes took %.1f s", what, len, dt);
    cr_assert_lt(grew, EXTRA_MEMORY, "%s: the stream took %zu MB", what, grew / MB);
    if (!rc && planted)
        cr_assert(found, "%s: the stream read everything but missed the %s at its end", what, cls);
}

static char *filled(size_t len)
{
    char *p = malloc(len + 1);
    cr_assert_not_null(p);
    return p;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static unsigned next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

Test(data_hostile, a_hundred_megabytes_of_digits)
{
    const char *tail = " dana.ruiz@example.com";
    size_t len = 100 * MB, tl = strlen(tail);
    char *t = filled(len);
    for (size_t i = 0; i < len - tl; i++)
        t[i] = (char)('0' + next() % 10);
    memcpy(t + len - tl, tail, tl);
    block("100 MB of digits, one run", t, len, "pii.email", tail + 1);
    stream("100 MB of digits, one run", t, len, 64 * 1024, "pii.email", tail + 1);
    /* the same digits in card-shaped groups: thousands pass Luhn and an issuer's prefix, so a
     * scan that reads them reports matches or runs out of its match budget */
    for (size_t i = 0; i + 20 <= len - tl; i += 20) {
        for (size_t g = 0; g < 4; g++)
            t[i + g * 5 + 4] = ' ';
        t[i + 19] = '\n';
    }
    long n = block("100 MB of grouped digits", t, len, "pii.email", tail + 1);
    cr_assert(n == DATA_ERR_BUDGET || n > 1,
              "100 MB of random card-shaped digit groups and no match but the planted one");
    free(t);
}

Test(data_hostile, a_million_near_matches)
{
    static const struct {
        const char *what, *near, *cls, *real;
    } kinds[] = {
        {"1M cards failing Luhn", "4111 1111 1111 1112 | ", "pii.credit_card",
         "4111 1111 1111 1111"},
        {"1M addresses without a TLD", "dana.ruiz@example | ", "pii.email",
         "dana.ruiz@example.com"},
        {"1M SSNs of area 000", "SSN 000-12-3456 | ", "pii.ssn", "SSN 123-12-3456"},
        {"1M IBANs failing mod-97", "DE00370400440532013000 | ", "pii.iban",
         "DE89370400440532013000"},
        {"1M keys one char short", "AKIAABCDEFGHIJKLMNO | ", "secret.aws_access_key",
         "AKIAABCDEFGHIJKLMNOP"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t nl = strlen(kinds[k].near), rl = strlen(kinds[k].real), len = 1000000 * nl + rl;
        char *t = filled(len);
        for (size_t i = 0; i < 1000000; i++)
            memcpy(t + i * nl, kinds[k].near, nl);
        memcpy(t + len - rl, kinds[k].real, rl);
        const char *planted = kinds[k].real;
        if (!strncmp(planted, "SSN ", 4))
            planted += 4;
        struct data_match *m = NULL;
        double t0 = now();
        long n = data_scan(scanner, t, len, &m);
        double dt = now() - t0;
        fprintf(stderr, "%-34s block:  %s (%ld) in %.2f s\n", kinds[k].what,
                n >= 0 ? "scanned" : data_strerror((int)n), n, dt);
        cr_assert(n >= 0 || n == DATA_ERR_BUDGET, "%s: %s", kinds[k].what, data_strerror((int)n));
        cr_assert_lt(dt, 60.0, "%s: %.1f s", kinds[k].what, dt);
        if (n >= 0) {
            size_t pl = strlen(planted);
            cr_assert(has(m, (size_t)n, kinds[k].cls, len - pl, len),
                      "%s: the planted %s at the end was not found (%ld matches)", kinds[k].what,
                      kinds[k].cls, n);
            cr_expect_eq(n, 1, "%s: %ld matches, want only the planted one", kinds[k].what, n);
        }
        free(m);
        stream(kinds[k].what, t, len, 512, kinds[k].cls, planted);
        free(t);
    }
}

static void found_in(const char *what, const char *text, size_t len, const char *cls,
                     const char *value)
{
    const char *at = memmem(text, len, value, strlen(value));
    cr_assert_not_null(at);
    size_t s = (size_t)(at - text), e = s + strlen(value);
    struct data_match *m = NULL;
    long n = data_scan(scanner, text, len, &m);
    cr_assert_geq(n, 0, "%s: data_scan refused: %s", what, data_strerror((int)n));
    cr_assert(has(m, (size_t)n, cls, s, e), "%s: the %s at [%zu,%zu) was not found", what, cls, s,
              e);
    free(m);
    /* and one byte at a time through a stream */
    size_t *cuts = malloc(len * sizeof *cuts), nm;
    cr_assert_not_null(cuts);
    for (size_t i = 1; i < len; i++)
        cuts[i - 1] = i;
    int rc = corpus_stream(scanner, text, len, cuts, len - 1, &m, &nm, what);
    cr_assert_eq(rc, 0, "%s: stream: %s", what, data_strerror(rc));
    cr_assert(has(m, nm, cls, s, e), "%s: the stream missed the %s at [%zu,%zu)", what, cls, s, e);
    free(m);
    free(cuts);
}

Test(data_hostile, invalid_utf8_is_scanned_as_bytes)
{
    static const char *bad[] = {
        "\xff", "\xfe\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80",
        "\x80", "\xc3",     "\xe2\x82"};
    static const struct {
        const char *cls, *value;
    } vals[] = {{"pii.email", "dana.ruiz@example.com"},
                {"pii.credit_card", "4111 1111 1111 1111"},
                {"pii.iban", "DE89370400440532013000"},
                {"secret.aws_access_key", "AKIAABCDEFGHIJKLMNOP"}};
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
        for (size_t v = 0; v < sizeof vals / sizeof *vals; v++) {
            char text[256], what[64];
            /* spaced from the bad bytes, then touching them */
            int n = snprintf(text, sizeof text, "x%s %s %s y", bad[b], vals[v].value, bad[b]);
            snprintf(what, sizeof what, "invalid UTF-8 #%zu around %s", b, vals[v].cls);
            found_in(what, text, (size_t)n, vals[v].cls, vals[v].value);
            n = snprintf(text, sizeof text, "%s%s%s", bad[b], vals[v].value, bad[b]);
            snprintf(what, sizeof what, "invalid UTF-8 #%zu touching %s", b, vals[v].cls);
            found_in(what, text, (size_t)n, vals[v].cls, vals[v].value);
        }
}

Test(data_hostile, nul_bytes_are_scanned_not_ends)
{
    static const char v[] = "dana.ruiz@example.com";
    char text[128];
    size_t vl = sizeof v - 1;
    memset(text, 0, sizeof text);
    memcpy(text + 7, v, vl);
    found_in("NUL bytes around an address", text, 7 + vl + 9, "pii.email", v);
    /* after a megabyte of NUL bytes */
    size_t len = MB + vl + 1;
    char *t = calloc(1, len);
    cr_assert_not_null(t);
    memcpy(t + MB, v, vl);
    struct data_match *m = NULL;
    long n = data_scan(scanner, t, len, &m);
    cr_assert_geq(n, 0, "a megabyte of NUL: %s", data_strerror((int)n));
    cr_assert(has(m, (size_t)n, "pii.email", MB, MB + vl),
              "the address after a megabyte of NUL bytes was not found");
    free(m);
    free(t);
    /* NUL inside a card number breaks it: nothing reported over the NUL */
    static const char card[] = "4111 1111\0 1111 1111";
    n = data_scan(scanner, card, sizeof card - 1, &m);
    cr_assert_geq(n, 0);
    for (long i = 0; i < n; i++)
        cr_expect(!(m[i].start <= 9 && m[i].end > 9), "a match spans the NUL byte");
    free(m);
}

Test(data_hostile, a_ten_megabyte_single_token)
{
    static const char *kinds[] = {"A", "base64", "1", "a@", "ghp_"};
    size_t len = 10 * MB;
    char *t = filled(len);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        char what[64];
        snprintf(what, sizeof what, "10 MB token '%s'", kinds[k]);
        if (!strcmp(kinds[k], "base64")) {
            static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            for (size_t i = 0; i < len; i++)
                t[i] = b64[next() % 64];
        } else if (!strcmp(kinds[k], "a@")) { /* a 10 MB local part before a domain */
            memset(t, 'a', len);
            memcpy(t + len - 12, "@example.com", 12);
        } else if (!strcmp(kinds[k], "ghp_")) { /* a token prefix followed by 10 MB */
            memset(t, 'Z', len);
            memcpy(t, "ghp_", 4);
        } else {
            memset(t, kinds[k][0], len);
        }
        block(what, t, len, NULL, NULL);
        stream(what, t, len, 4096, NULL, NULL);
    }
    free(t);
}

/* Custom patterns too costly to run, or that vectorscan cannot compile, are refused when the
 * scanner is built, with the class named. */
static int refused(const char *cls, const char *pattern, char *why, size_t wl)
{
    struct data_class_spec spec = {.name = cls, .pattern = pattern};
    struct data_config cfg = {.classes = &spec, .n_classes = 1};
    struct data_scanner *s = NULL;
    char err[512] = "";
    int rc = data_scanner_new(&cfg, &s, err, sizeof err);
    if (rc == 0) {
        data_scanner_free(s);
        snprintf(why, wl, "accepted");
        return 0;
    }
    cr_assert_null(s);
    cr_assert(rc == DATA_ERR_PATHOLOGICAL || rc == DATA_ERR_PATTERN,
              "pattern /%s/: %d %s (%s), want DATA_ERR_PATHOLOGICAL or DATA_ERR_PATTERN", pattern,
              rc, data_strerror(rc), err);
    cr_assert(strstr(err, cls), "pattern /%s/ refused, but the error '%s' does not name class %s",
              pattern, err, cls);
    snprintf(why, wl, "%s: %s", data_strerror(rc), err);
    return 1;
}

Test(data_hostile, pathological_custom_classes_are_refused_naming_the_class)
{
    static const char *evil[] = {
        "(a+)+b",
        "(x+x+)+y",
        "(a|aa)*c",
        "(\\w+\\s?)*$",
        "(.*a){20}",
        "[a-z]{1,100000}",
        "(a{1,1000}){1,1000}",
        "((a*)*)*b",
        "(.*){1,32000}z",
        "(?:[0-9]+[-. ]?)+$",
    };
    char fail[4096] = "", why[600];
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        char cls[32];
        snprintf(cls, sizeof cls, "evil_%zu", i);
        int r = refused(cls, evil[i], why, sizeof why);
        fprintf(stderr, "  /%s/ -> %s\n", evil[i], why);
        if (!r) {
            size_t used = strlen(fail);
            snprintf(fail + used, sizeof fail - used, " /%s/", evil[i]);
        }
    }
    cr_expect_eq(fail[0], '\0', "pathological patterns accepted by data_scanner_new:%s", fail);
    /* what vectorscan cannot compile, and a pattern that matches the empty string */
    cr_assert(refused("backref", "(a)\\1", why, sizeof why), "/(a)\\1/ was accepted");
    cr_assert(refused("lookahead", "a(?=b)", why, sizeof why), "/a(?=b)/ was accepted");
    cr_assert(refused("empty", "[0-9]*", why, sizeof why), "/[0-9]*/ (empty match) accepted");
    /* and an ordinary one is not refused, so the refusals above mean something */
    cr_assert(!refused("claim_id", "CLM-[0-9]{8}", why, sizeof why),
              "/CLM-[0-9]{8}/ was refused: %s", why);
}
