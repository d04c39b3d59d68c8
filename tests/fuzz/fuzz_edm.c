/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: exact-data-match files (policy/data/data_edm.h). The first byte chooses:
 *   even: the rest is an EDM file, loaded with a fixed key. Nothing may crash; a file is
 *         refused with a reason, or loaded with a count that matches its size, and lookups
 *         and word spans over the file's own bytes stay in bounds.
 *   odd:  the rest is text, searched against a set made at start-up. Every span reported is
 *         inside the text, after the previous one, and its normalized text is in the set.
 * Seeds in tests/fuzz/corpus/edm/ are made with the key below (key[i] = 3 * i + 5).
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data_edm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char key[DATA_KEY_LEN];
static struct data_edm *set;

struct check {
    const struct data_edm *e;
    const char *text;
    size_t len, last_end;
};

static int span(void *arg, size_t start, size_t end)
{
    struct check *c = arg;
    if (start >= end || end > c->len || start < c->last_end)
        abort();
    if (c->e == set && !data_edm_contains(set, c->text + start, end - start))
        abort();
    c->last_end = end;
    return 0;
}

static void init(void)
{
    static const char *const values[] = {"John Smith",
                                         "ACME, Inc.",
                                         "CLM-12345678",
                                         "O'Brien",
                                         "a",
                                         "x y z",
                                         "Zo\xc3\xab M\xc3\xbcller"};
    for (int i = 0; i < DATA_KEY_LEN; i++)
        key[i] = (unsigned char)(3 * i + 5);
    if (sodium_init() < 0)
        abort();
    struct data_edm_writer *w = NULL;
    struct data_buf b = {0};
    if (data_edm_writer_new(key, &w) != 0)
        abort();
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if (data_edm_writer_add(w, values[i], strlen(values[i])) != 0)
            abort();
    char err[256];
    if (data_edm_writer_finish(w, &b) != 0 ||
        data_edm_load_mem(b.p, b.len, key, &set, err, sizeof err) != 0)
        abort();
    data_edm_writer_free(w);
    data_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!set)
        init();
    if (size < 1)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if ((data[0] & 1) == 0) {
        struct data_edm *e = NULL;
        char err[512];
        err[0] = '\0';
        int rc = data_edm_load_mem(rest, n, key, &e, err, sizeof err);
        if (rc != 0) {
            if (e || !err[0])
                abort(); /* refused: nothing handed out, and a reason */
            return 0;
        }
        if (n != DATA_EDM_HEADER + data_edm_count(e) * DATA_EDM_DIGEST ||
            data_edm_max_words(e) < 1 || data_edm_max_words(e) > DATA_EDM_MAX_WORDS)
            abort();
        (void)data_edm_contains(e, rest, n);
        struct check c = {e, rest, n, 0};
        (void)data_edm_match_words(e, rest, n, span, &c);
        data_edm_free(e);
        return 0;
    }
    char norm[64];
    size_t k = data_edm_normalize(rest, n, norm, sizeof norm);
    if (k > n)
        abort(); /* normalization never lengthens */
    (void)data_edm_words(rest, n);
    struct check c = {set, rest, n, 0};
    if (data_edm_match_words(set, rest, n, span, &c) != 0)
        abort();
    return 0;
}
