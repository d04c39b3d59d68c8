/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data scanner's throughput (policy/data/data.h), beside its baseline in the same run.
 *
 *   bench_scan [MB [PART]]   (MB default 100; PART one of block, stream, baseline:
 *                             only that measure, for profiling; dump: print the corpus)
 *
 * Generates a mixed corpus deterministically (prose, code, JSON and logs, with a sprinkling of
 * real-shaped values of every class: addresses, phone numbers, cards, keys, tokens), then
 * measures, as medians of 5 runs on one core:
 *   - block mode: data_scan() over the corpus, every built-in class on;
 *   - streaming: the corpus fed in 512-byte chunks, matches taken and bytes released after
 *     every feed, as the engine's data stage does;
 *   - the same two with 1,000 custom words (and a 100,000-value exact-data-match set when the
 *     library has one);
 *   - the baseline: the same classes as PCRE2-JIT patterns, one pass over the corpus per
 *     pattern.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/data/data.h"
#include "policy/data/data_edm.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static uint32_t rn(uint32_t n)
{
    return rnd() % n;
}

struct buf {
    char *p;
    size_t n, cap;
};
static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(1);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}
static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static const char *const words[] = {
    "the",       "of",      "and",       "to",       "in",      "is",      "that",     "for",
    "it",        "as",      "was",       "with",     "be",      "by",      "on",       "not",
    "he",        "this",    "are",       "or",       "his",     "from",    "at",       "which",
    "but",       "have",    "an",        "had",      "they",    "you",     "were",     "their",
    "one",       "all",     "we",        "can",      "her",     "has",     "there",    "been",
    "if",        "more",    "when",      "will",     "would",   "who",     "so",       "no",
    "model",     "request", "response",  "customer", "order",   "service", "please",   "summarize",
    "following", "report",  "quarterly", "revenue",  "meeting", "project", "deadline", "update",
    "system",    "user",    "account",   "data",     "team",    "review",  "support",  "issue",
    "ticket",    "deploy",  "server",    "function", "return",  "value",   "number",   "email",
    "address",   "client",  "payment",   "invoice"};
#define NW (sizeof(words) / sizeof(words[0]))

static void prose(struct buf *b)
{
    int n = 8 + (int)rn(20);
    for (int i = 0; i < n; i++) {
        const char *w = words[rn(NW)];
        if (i == 0) {
            char c = (char)(w[0] & ~32);
            put(b, &c, 1);
            puts_(b, w + 1);
        } else {
            puts_(b, " ");
            puts_(b, w);
        }
        if (rn(12) == 0)
            putf(b, " %u", rn(100));
    }
    puts_(b, rn(5) ? ". " : ".\n");
}

static void code(struct buf *b)
{
    static const char *const lines[] = {
        "    for (size_t i = 0; i < n; i++) {\n",
        "        total += items[i].price * qty;\n",
        "    }\n",
        "    if (err != NULL) return -1;\n",
        "def handle(request, response):\n",
        "    result = client.fetch(url, timeout=30)\n",
        "    return json.dumps(payload)\n",
        "const user = await db.users.findOne({ id: userId });\n",
        "import { useState, useEffect } from 'react';\n",
        "    logger.info(\"processing batch %d of %d\", i, total)\n",
        "#include <stdio.h>\n",
        "    x = matrix[3][4] + offset_0x1f;\n",
        "    buf = malloc(4096);\n",
        "    let tokens = tokenizer.encode(text);\n",
        "    assert len(rows) == 128\n",
        "    std::vector<int> v(16, 0);\n"};
    int n = 3 + (int)rn(8);
    for (int i = 0; i < n; i++)
        puts_(b, lines[rn(sizeof(lines) / sizeof(lines[0]))]);
}

static void json(struct buf *b)
{
    putf(b,
         "{\"id\": %u, \"created\": \"2024-%02u-%02uT%02u:%02u:%02uZ\", \"model\": \"gpt-4o\", "
         "\"usage\": {\"prompt_tokens\": %u, \"completion_tokens\": %u}, \"status\": \"ok\", "
         "\"items\": [%u, %u, %u], \"price\": %u.%02u}\n",
         rnd(), 1 + rn(12), 1 + rn(28), rn(24), rn(60), rn(60), rn(4000), rn(2000), rn(1000),
         rn(1000), rn(1000), rn(500), rn(100));
}

static void logline(struct buf *b)
{
    static const char *const lvl[] = {"INFO", "WARN", "DEBUG", "ERROR"};
    static const char *const path[] = {"/v1/chat/completions", "/api/users", "/healthz",
                                       "/static/app.js", "/v1/embeddings"};
    putf(b,
         "2024-%02u-%02u %02u:%02u:%02u.%03u %s [worker-%u] %s %s status=%u latency=%ums "
         "bytes=%u req_id=%08x\n",
         1 + rn(12), 1 + rn(28), rn(24), rn(60), rn(60), rn(1000), lvl[rn(4)], rn(16),
         rn(2) ? "GET" : "POST", path[rn(5)], rn(2) ? 200 : 404, rn(900), rn(100000), rnd());
}

/* real-shaped values of every class */
static void value(struct buf *b)
{
    switch (rn(16)) {
    case 0:
        putf(b, "Contact %s.%u@example.com for details. ", words[rn(NW)], rn(1000));
        break;
    case 1:
        putf(b, "Call me at (415) 555-%04u tomorrow. ", 1000 + rn(9000));
        break;
    case 2:
        puts_(b, "Card: 4111 1111 1111 1111, exp 12/27. ");
        break;
    case 3:
        putf(b, "SSN %03u-%02u-%04u on file. ", 100 + rn(500), 10 + rn(80), 1000 + rn(8000));
        break;
    case 4:
        puts_(b, "IBAN DE89 3704 0044 0532 0130 00 please. ");
        break;
    case 5:
        putf(b, "client ip %u.%u.%u.%u connected\n", 10 + rn(200), rn(255), rn(255), rn(255));
        break;
    case 6:
        puts_(b, "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n");
        break;
    case 7:
        puts_(b, "token ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5 leaked. ");
        break;
    case 8:
        puts_(b, "OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56\n");
        break;
    case 9:
        puts_(b, "password = \"Tr0ub4dor&3x\"\n");
        break;
    case 10:
        puts_(b, "DATABASE_URL=postgres://app:S3cretPw9@db.internal:5432/prod\n");
        break;
    case 11:
        puts_(b, "Patient was diagnosed with type 2 diabetes and takes metformin. ");
        break;
    case 12:
        puts_(b, "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3"
                 "ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n");
        break;
    case 13:
        puts_(b, "server at 2001:db8::8a2e:370:7334 answered. ");
        break;
    case 14:
        puts_(b, "routing number 021000021 for the wire. ");
        break;
    default:
        puts_(b, "slack xoxb-2048-1024-aBcDeFgHiJkLmNoP. ");
        break;
    }
}

static struct buf corpus(size_t mb)
{
    struct buf b = {0};
    size_t want = mb << 20;
    while (b.n < want) {
        uint32_t r = rn(100);
        if (r < 40)
            prose(&b);
        else if (r < 60)
            code(&b);
        else if (r < 78)
            json(&b);
        else if (r < 97)
            logline(&b);
        else
            value(&b);
    }
    b.n = want;
    return b;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* per core: the CPU time of this thread */
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmpd);
    return v[n / 2];
}

#define RUNS 5
static long last_count;

static double run_block(const struct data_scanner *s, const struct buf *c)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        struct data_match *m = NULL;
        double t0 = now();
        long n = data_scan(s, c->p, c->n, &m);
        t[r] = now() - t0;
        if (n < 0) {
            fprintf(stderr, "bench_scan: data_scan: %s\n", data_strerror((int)n));
            exit(1);
        }
        last_count = n;
        free(m);
    }
    return (double)c->n / median(t, RUNS) / 1e6;
}

static double run_stream(const struct data_scanner *s, const struct buf *c, size_t chunk)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        struct data_stream *st;
        long count = 0;
        double t0 = now();
        if (data_stream_new(s, &st) != 0)
            exit(1);
        for (size_t o = 0; o < c->n; o += chunk) {
            size_t l = c->n - o < chunk ? c->n - o : chunk;
            int rc = data_stream_feed(st, c->p + o, l);
            if (rc) {
                fprintf(stderr, "bench_scan: feed: %s\n", data_strerror(rc));
                exit(1);
            }
            size_t nm;
            data_stream_matches(st, &nm);
            count += (long)nm;
            data_stream_release(st, data_stream_ready(st));
        }
        if (data_stream_end(st) != 0)
            exit(1);
        size_t nm;
        data_stream_matches(st, &nm);
        count += (long)nm;
        data_stream_free(st);
        t[r] = now() - t0;
        last_count = count;
    }
    return (double)c->n / median(t, RUNS) / 1e6;
}

/* The baseline: one PCRE2-JIT pattern per class, one pass each (validators not counted). */
static const char *const baseline[] = {
    "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,24}",
    "(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{3}\\)|\\d{3})[ .-]?\\d{3}[ .-]?\\d{4}",
    "\\b(?:\\d[ -]?){12,18}\\d\\b",
    "\\b\\d{3}-\\d{2}-\\d{4}\\b",
    "\\b[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\\b",
    "\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b|(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,"
    "4})*",
    "\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b",
    "(?i:aws_secret_access_key|secret_access_key)[\"']?\\s*[:=]\\s*[\"']?[A-Za-z0-9/+=]{40}",
    "\\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    "\\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}",
    "\\bsk-ant-[A-Za-z0-9_-]{20,}",
    "\\bxox[baprs]-[A-Za-z0-9-]{10,}",
    "\\bAIza[0-9A-Za-z_-]{35}",
    "\\b(?:sk|rk|pk)_live_[0-9A-Za-z]{10,}",
    "\\beyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*",
    "-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "\\b(?:postgres(?:ql)?|mysql|mongodb(?:\\+srv)?|redis|amqp)://[^\\s:@/]+:[^\\s@/]+@[^\\s\"']+",
    "(?i:password|passwd|pwd|secret|token|api_key|apikey)[\"']?\\s*[:=]\\s*[\"']?[^\\s\"']{6,}",
    "(?i:\\b(?:diabetes|asthma|cancer|metformin|insulin|hypertension|depression)\\b)|\\b[A-TV-Z]"
    "\\d{2}\\.\\d{1,4}\\b",
    "(?i:routing|account|acct)[^\\n\\d]{0,20}\\d{6,17}|(?i:swift|bic)[^\\n]{0,10}[A-Z]{6}[A-Z0-9]{"
    "2}(?:[A-Z0-9]{3})?",
};
#define NB (sizeof(baseline) / sizeof(baseline[0]))

static double run_pcre(const struct buf *c)
{
    pcre2_code *re[NB];
    pcre2_match_data *md[NB];
    for (size_t i = 0; i < NB; i++) {
        int e;
        PCRE2_SIZE off;
        re[i] = pcre2_compile((PCRE2_SPTR)baseline[i], PCRE2_ZERO_TERMINATED, 0, &e, &off, NULL);
        if (!re[i] || pcre2_jit_compile(re[i], PCRE2_JIT_COMPLETE) != 0) {
            fprintf(stderr, "bench_scan: baseline pattern %zu does not compile\n", i);
            exit(1);
        }
        md[i] = pcre2_match_data_create_from_pattern(re[i], NULL);
    }
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        long count = 0;
        double t0 = now();
        for (size_t i = 0; i < NB; i++) {
            PCRE2_SIZE at = 0;
            while (at < c->n &&
                   pcre2_jit_match(re[i], (PCRE2_SPTR)c->p, c->n, at, 0, md[i], NULL) > 0) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md[i]);
                count++;
                at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
            }
        }
        t[r] = now() - t0;
        last_count = count;
    }
    for (size_t i = 0; i < NB; i++) {
        pcre2_match_data_free(md[i]);
        pcre2_code_free(re[i]);
    }
    return (double)c->n / median(t, RUNS) / 1e6;
}

static struct data_scanner *scanner_edm(const char *const *custom, size_t n_custom,
                                        const struct data_edm *edm)
{
    static struct data_class_spec sp[32];
    size_t n = 0;
    memset(sp, 0, sizeof(sp));
    /* BENCH_CLASSES=a,b,c: only those built-in classes (to see where the time goes) */
    const char *only = getenv("BENCH_CLASSES");
    for (int b = 0; data_builtin_classes[b]; b++) {
        const char *nm = data_builtin_classes[b];
        size_t l = strlen(nm);
        const char *f = only ? strstr(only, nm) : NULL;
        if (!only || (f && (f[l] == ',' || f[l] == 0)))
            sp[n++].name = nm;
    }
    if (custom) {
        sp[n].name = "custom_words";
        sp[n].words = custom;
        sp[n].n_words = n_custom;
        n++;
    }
    if (edm) {
        sp[n].name = "customers";
        sp[n].edm = edm;
        n++;
    }
    struct data_config cfg = {sp, n, 100u * 1000 * 1000, 0};
    struct data_scanner *s;
    char err[512];
    if (data_scanner_new(&cfg, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_scan: %s\n", err);
        exit(1);
    }
    return s;
}

static struct data_scanner *scanner(const char *const *custom, size_t n_custom)
{
    return scanner_edm(custom, n_custom, NULL);
}

/* 100,000 customer names of two or three words, some of which the corpus holds. */
static struct data_edm *make_edm(void)
{
    unsigned char key[DATA_KEY_LEN];
    struct data_edm_writer *w;
    struct data_buf b = {0};
    struct data_edm *e = NULL;
    char err[256], v[64];
    memset(key, 7, sizeof(key));
    if (data_edm_writer_new(key, &w) != 0)
        exit(1);
    for (unsigned i = 0; i < 100000; i++) {
        int l = snprintf(v, sizeof(v), "%s %s %05u", words[i % NW], words[(i / NW) % NW], i);
        if (data_edm_writer_add(w, v, (size_t)l) != 0)
            exit(1);
    }
    if (data_edm_writer_finish(w, &b) != 0 ||
        data_edm_load_mem(b.p, b.len, key, &e, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_scan: edm: %s\n", err);
        exit(1);
    }
    data_edm_writer_free(w);
    data_buf_free(&b);
    return e;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100;
    if (mb == 0 || mb > 2000) {
        fprintf(stderr, "usage: bench_scan [MB]   (1..2000, default 100)\n");
        return 2;
    }
    const char *only = argc > 2 ? argv[2] : NULL;
    struct buf c = corpus(mb);
    if (only && strcmp(only, "dump") == 0) {
        fwrite(c.p, 1, c.n, stdout); /* the corpus itself, to look at */
        free(c.p);
        return 0;
    }
    if (only) {
        struct data_scanner *o = scanner(NULL, 0);
        double r = strcmp(only, "block") == 0      ? run_block(o, &c)
                   : strcmp(only, "stream") == 0   ? run_stream(o, &c, 512)
                   : strcmp(only, "baseline") == 0 ? run_pcre(&c)
                                                   : 0;
        printf("%s: %.0f MB/s (%ld matches)\n", only, r, last_count);
        data_scanner_free(o);
        free(c.p);
        return 0;
    }
    printf("bench_scan: %zu MB mixed corpus (prose, code, JSON, logs, real-shaped values), "
           "medians of %d, one core\n",
           mb, RUNS);
    struct data_scanner *s = scanner(NULL, 0);
    double blk = run_block(s, &c);
    long nb = last_count;
    double str = run_stream(s, &c, 512);
    long ns = last_count;
    printf("  all %d built-in classes, block mode      %8.0f MB/s  (%ld matches)\n",
           (int)(sizeof(void *) ? 21 : 0), blk, nb);
    printf("  all built-in classes, 512-byte stream    %8.0f MB/s  (%ld matches)\n", str, ns);
    data_scanner_free(s);

    /* 1,000 custom words */
    static char wbuf[1000][24];
    static const char *wl[1000];
    for (int i = 0; i < 1000; i++) {
        snprintf(wbuf[i], sizeof(wbuf[i]), "projzx%c%c%03d", 'a' + i % 26, 'a' + (i / 26) % 26, i);
        wl[i] = wbuf[i];
    }
    s = scanner(wl, 1000);
    double cblk = run_block(s, &c);
    double cstr = run_stream(s, &c, 512);
    printf("  + 1,000 custom words, block mode         %8.0f MB/s\n", cblk);
    printf("  + 1,000 custom words, 512-byte stream    %8.0f MB/s\n", cstr);
    data_scanner_free(s);

    struct data_edm *edm = make_edm();
    s = scanner_edm(wl, 1000, edm);
    double eblk = run_block(s, &c);
    double estr = run_stream(s, &c, 512);
    printf("  + 1,000 words + 100,000-value EDM, block %8.0f MB/s\n", eblk);
    printf("  + 1,000 words + 100,000-value EDM, 512 B %8.0f MB/s\n", estr);
    data_scanner_free(s);
    data_edm_free(edm);

    double base = run_pcre(&c);
    printf("  baseline: %zu PCRE2-JIT patterns, one pass each %5.0f MB/s  (%ld matches)\n", NB,
           base, last_count);
    printf("  block mode is %.1fx the baseline, streaming %.1fx\n", blk / base, str / base);
    free(c.p);
    return 0;
}
