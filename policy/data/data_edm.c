/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exact-data-match files (data_edm.h): normalization, the keyed digests, the strict loader,
 * lookups, the candidate spans of text, and the writer. A file may come from anywhere a policy
 * points, so the loader trusts none of it: every field is checked before it is used, and the
 * size must be exactly what the count says.
 */
#include "policy/data/data_edm.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EDM_CONTEXT "cordon edm v1"      /* the digest subkey: BLAKE2b(this, key) */
#define KEYID_CONTEXT "cordon key id v1" /* the key id: BLAKE2b-128(this, key) */

struct data_edm {
    unsigned char sub[crypto_generichash_KEYBYTES];
    unsigned max_words;
    uint32_t min_len, max_len;
    size_t count;
    unsigned char *d; /* count * DATA_EDM_DIGEST, sorted */
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_punct(unsigned char c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

/* Bytes that end a word in text besides whitespace. */
static int is_sep(unsigned char c)
{
    return is_space(c) || (c && strchr("\"(),:;<>=[]{}|\\/`", c) != NULL);
}

size_t data_edm_normalize(const char *in, size_t len, char *out, size_t outcap)
{
    size_t n = 0;
    int space = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_space(c)) {
            space = n > 0;
            continue;
        }
        if (is_punct(c))
            continue;
        if (space) {
            if (n < outcap)
                out[n] = ' ';
            n++;
            space = 0;
        }
        if (n < outcap)
            out[n] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        n++;
    }
    return n;
}

size_t data_edm_words(const char *in, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        if (!is_sep((unsigned char)in[i]) && (i == 0 || is_sep((unsigned char)in[i - 1])))
            w++;
    return w;
}

static void derive(const unsigned char *key, unsigned char sub[crypto_generichash_KEYBYTES],
                   unsigned char id[16])
{
    crypto_generichash(sub, crypto_generichash_KEYBYTES, (const unsigned char *)EDM_CONTEXT,
                       sizeof EDM_CONTEXT - 1, key, DATA_KEY_LEN);
    crypto_generichash(id, 16, (const unsigned char *)KEYID_CONTEXT, sizeof KEYID_CONTEXT - 1, key,
                       DATA_KEY_LEN);
}

static void digest(const unsigned char *sub, const char *norm, size_t len,
                   unsigned char d[DATA_EDM_DIGEST])
{
    crypto_generichash(d, DATA_EDM_DIGEST, (const unsigned char *)norm, len, sub,
                       crypto_generichash_KEYBYTES);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

static const char k_remake[] = "make it again with `cordon data fingerprint`";

/* Check buf (len bytes) and build the set; buf's digests are copied. */
static int load(const unsigned char *buf, size_t len, const unsigned char *key,
                struct data_edm **out, char *err, size_t errlen)
{
    unsigned char sub[crypto_generichash_KEYBYTES], id[16];
    int rc = DATA_ERR_EDM;
    struct data_edm *e = NULL;
    if (!key) {
        fail(err, errlen, "no data key was given to read the exact-data-match file");
        return -EINVAL;
    }
    if (len < DATA_EDM_HEADER) {
        if (len >= 8 && memcmp(buf, DATA_EDM_MAGIC, 8) != 0)
            goto magic;
        fail(err, errlen, "truncated: %zu bytes, shorter than the %d-byte header; %s", len,
             DATA_EDM_HEADER, k_remake);
        return DATA_ERR_EDM;
    }
    if (memcmp(buf, DATA_EDM_MAGIC, 8) != 0)
        goto magic;
    uint32_t version = rd32(buf + 8), max_words = rd32(buf + 12);
    uint32_t min_len = rd32(buf + 32), max_len = rd32(buf + 36);
    uint64_t count = rd64(buf + 40);
    if (version != DATA_EDM_VERSION) {
        fail(err, errlen, "format version %u; this cordon reads version %d; %s", version,
             DATA_EDM_VERSION, k_remake);
        return DATA_ERR_EDM;
    }
    derive(key, sub, id);
    if (sodium_memcmp(id, buf + 16, sizeof id) != 0) {
        fail(err, errlen,
             "made with another data key (key id differs); fingerprint the values again with "
             "the data key this cordon uses (cordond's data_key_file), or give the key the file "
             "was made with");
        goto out;
    }
    if (max_words < 1 || max_words > DATA_EDM_MAX_WORDS) {
        fail(err, errlen, "max_words %u is out of range (1..%d); %s", max_words, DATA_EDM_MAX_WORDS,
             k_remake);
        goto out;
    }
    if (count > DATA_EDM_COUNT_MAX) {
        fail(err, errlen, "count %llu is over the limit of %u values; split the values",
             (unsigned long long)count, DATA_EDM_COUNT_MAX);
        goto out;
    }
    if (count ? (min_len < 1 || min_len > max_len || max_len > DATA_EDM_VALUE_MAX)
              : (min_len != 0 || max_len != 0)) {
        fail(err, errlen, "value lengths %u..%u are not valid for %llu values; %s", min_len,
             max_len, (unsigned long long)count, k_remake);
        goto out;
    }
    size_t want = DATA_EDM_HEADER + (size_t)count * DATA_EDM_DIGEST;
    if (len != want) {
        fail(err, errlen, "%s: the header says %llu values (%zu bytes), the file has %zu bytes; %s",
             len < want ? "truncated" : "trailing bytes", (unsigned long long)count, want, len,
             k_remake);
        goto out;
    }
    const unsigned char *d = buf + DATA_EDM_HEADER;
    for (size_t i = 1; i < count; i++)
        if (memcmp(d + (i - 1) * DATA_EDM_DIGEST, d + i * DATA_EDM_DIGEST, DATA_EDM_DIGEST) >= 0) {
            fail(err, errlen, "digest %zu is not above digest %zu (the file must be sorted); %s", i,
                 i - 1, k_remake);
            goto out;
        }
    rc = -ENOMEM;
    if (!(e = calloc(1, sizeof *e)))
        goto out;
    if (count && !(e->d = malloc((size_t)count * DATA_EDM_DIGEST)))
        goto out;
    if (count)
        memcpy(e->d, d, (size_t)count * DATA_EDM_DIGEST);
    memcpy(e->sub, sub, sizeof sub);
    e->max_words = max_words;
    e->min_len = min_len;
    e->max_len = max_len;
    e->count = (size_t)count;
    *out = e;
    e = NULL;
    rc = 0;
out:
    data_edm_free(e);
    sodium_memzero(sub, sizeof sub);
    return rc;
magic:
    fail(err, errlen, "not an exact-data-match file (wrong magic); %s", k_remake);
    return DATA_ERR_EDM;
}

int data_edm_load_mem(const void *buf, size_t len, const unsigned char *key, struct data_edm **out,
                      char *err, size_t errlen)
{
    return load(buf, len, key, out, err, errlen);
}

int data_edm_load(const char *path, const unsigned char *key, struct data_edm **out, char *err,
                  size_t errlen)
{
    char why[256] = "";
    int rc = 0;
    unsigned char *buf = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        fail(err, errlen, "exact-data-match file %s: %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        fail(err, errlen, "exact-data-match file %s: %s", path, strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = DATA_ERR_EDM;
        fail(err, errlen, "exact-data-match file %s is not a regular file", path);
        goto out;
    }
    size_t max = DATA_EDM_HEADER + (size_t)DATA_EDM_COUNT_MAX * DATA_EDM_DIGEST;
    if ((uint64_t)st.st_size > max) {
        rc = DATA_ERR_EDM;
        fail(err, errlen, "exact-data-match file %s has %lld bytes, over the limit of %zu", path,
             (long long)st.st_size, max);
        goto out;
    }
    size_t len = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(len ? len : 1))) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : DATA_ERR_EDM;
            fail(err, errlen, "exact-data-match file %s: %s", path,
                 r < 0 ? strerror(errno) : "it shrank while it was read");
            goto out;
        }
        got += (size_t)r;
    }
    if ((rc = load(buf, len, key, out, why, sizeof why)) != 0)
        fail(err, errlen, "exact-data-match file %s: %s", path, why);
out:
    free(buf);
    close(fd);
    return rc;
}

void data_edm_free(struct data_edm *e)
{
    if (!e)
        return;
    free(e->d);
    sodium_memzero(e, sizeof *e);
    free(e);
}

size_t data_edm_count(const struct data_edm *e)
{
    return e->count;
}

unsigned data_edm_max_words(const struct data_edm *e)
{
    return e->max_words;
}

static int has(const struct data_edm *e, const char *norm, size_t n)
{
    if (n < e->min_len || n > e->max_len || !e->count)
        return 0;
    unsigned char d[DATA_EDM_DIGEST];
    digest(e->sub, norm, n, d);
    size_t lo = 0, hi = e->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(e->d + mid * DATA_EDM_DIGEST, d, DATA_EDM_DIGEST);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int data_edm_contains(const struct data_edm *e, const char *value, size_t len)
{
    char norm[DATA_EDM_VALUE_MAX];
    size_t n = data_edm_normalize(value, len, norm, sizeof norm);
    int r = n <= sizeof norm && has(e, norm, n);
    sodium_memzero(norm, n < sizeof norm ? n : sizeof norm);
    return r;
}

int data_edm_match_words(const struct data_edm *e, const char *text, size_t len,
                         data_edm_match_fn cb, void *arg)
{
    if (!e->count)
        return 0;
    char norm[DATA_EDM_VALUE_MAX + 1];
    size_t i = 0;
    int rc = 0;
    while (i < len) {
        while (i < len && is_sep((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        size_t ws = i, ends[DATA_EDM_MAX_WORDS], nl[DATA_EDM_MAX_WORDS];
        size_t k = 0, n = 0, j = ws;
        int space = 0;
        /* normalize word after word from ws, noting the normalized length at each word's end */
        while (k < e->max_words && j < len && n <= e->max_len) {
            int in_word = 0;
            for (; j < len; j++) {
                unsigned char c = (unsigned char)text[j];
                if (is_sep(c) && in_word)
                    break;
                if (!is_sep(c))
                    in_word = 1;
                if (is_space(c)) {
                    space = n > 0;
                    continue;
                }
                if (is_punct(c))
                    continue;
                if (space) {
                    if (n < sizeof norm)
                        norm[n] = ' ';
                    n++;
                    space = 0;
                }
                if (n < sizeof norm)
                    norm[n] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
                n++;
            }
            if (!in_word)
                break;
            ends[k] = j;
            nl[k] = n;
            k++;
        }
        size_t next = k ? ends[0] : len;
        if (k && nl[0] > 0) {
            for (size_t w = k; w-- > 0;) {
                if (w > 0 && nl[w] == nl[w - 1])
                    continue; /* the last word adds nothing: the shorter span is the match */
                if (nl[w] > sizeof norm || !has(e, norm, nl[w]))
                    continue;
                size_t s = ws, end = ends[w];
                while (s < end && is_punct((unsigned char)text[s]))
                    s++;
                while (end > s && is_punct((unsigned char)text[end - 1]))
                    end--;
                if (s < end && (rc = cb(arg, s, end)) != 0)
                    goto out;
                next = ends[w];
                break;
            }
        }
        i = next;
    }
out:
    sodium_memzero(norm, sizeof norm);
    return rc;
}

/* ---- the writer ---- */

struct data_edm_writer {
    unsigned char sub[crypto_generichash_KEYBYTES], id[16];
    unsigned char *d;
    size_t n, cap;
    unsigned max_words;
    uint32_t min_len, max_len;
};

int data_edm_writer_new(const unsigned char *key, struct data_edm_writer **out)
{
    if (!key)
        return -EINVAL;
    struct data_edm_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    derive(key, w->sub, w->id);
    *out = w;
    return 0;
}

int data_edm_writer_add(struct data_edm_writer *w, const char *value, size_t len)
{
    char norm[DATA_EDM_VALUE_MAX + 1];
    int rc = 0;
    size_t n = data_edm_normalize(value, len, norm, sizeof norm);
    size_t words = data_edm_words(value, len);
    if (n == 0) {
        rc = -EINVAL;
        goto out;
    }
    if (n > DATA_EDM_VALUE_MAX || words > DATA_EDM_MAX_WORDS) {
        rc = -E2BIG;
        goto out;
    }
    if (w->n >= DATA_EDM_COUNT_MAX) {
        rc = -E2BIG;
        goto out;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        unsigned char *d = realloc(w->d, cap * DATA_EDM_DIGEST);
        if (!d) {
            rc = -ENOMEM;
            goto out;
        }
        w->d = d;
        w->cap = cap;
    }
    digest(w->sub, norm, n, w->d + w->n * DATA_EDM_DIGEST);
    w->n++;
    if (words > w->max_words)
        w->max_words = (unsigned)words;
    if (!w->min_len || n < w->min_len)
        w->min_len = (uint32_t)n;
    if (n > w->max_len)
        w->max_len = (uint32_t)n;
out:
    sodium_memzero(norm, sizeof norm);
    return rc;
}

size_t data_edm_writer_count(const struct data_edm_writer *w)
{
    return w->n;
}

static int cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, DATA_EDM_DIGEST);
}

int data_edm_writer_finish(struct data_edm_writer *w, struct data_buf *out)
{
    if (w->n)
        qsort(w->d, w->n, DATA_EDM_DIGEST, cmp_digest);
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        if (k == 0 || memcmp(w->d + (k - 1) * DATA_EDM_DIGEST, w->d + i * DATA_EDM_DIGEST,
                             DATA_EDM_DIGEST) != 0)
            memmove(w->d + k++ * DATA_EDM_DIGEST, w->d + i * DATA_EDM_DIGEST, DATA_EDM_DIGEST);
    w->n = k;
    unsigned char h[DATA_EDM_HEADER] = {0};
    memcpy(h, DATA_EDM_MAGIC, 8);
    wr32(h + 8, DATA_EDM_VERSION);
    wr32(h + 12, w->max_words ? w->max_words : 1);
    memcpy(h + 16, w->id, 16);
    wr32(h + 32, k ? w->min_len : 0);
    wr32(h + 36, k ? w->max_len : 0);
    wr64(h + 40, k);
    size_t before = out->len;
    int rc = data_buf_put(out, h, sizeof h);
    if (rc == 0 && k)
        rc = data_buf_put(out, w->d, k * DATA_EDM_DIGEST);
    if (rc != 0)
        out->len = before;
    return rc;
}

void data_edm_writer_free(struct data_edm_writer *w)
{
    if (!w)
        return;
    free(w->d);
    sodium_memzero(w, sizeof *w);
    free(w);
}
