/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the request parsers of the stub upstream (tests/support/stub_parse.c),
 * which cordond's tests feed hostile bytes. The first input byte picks the parser: a request
 * head, a chunked body fed in pieces whose sizes come from the input, scenario parameters, or
 * a marker inside text. Every accepted result must stay inside the input; every refusal must
 * carry a status and a reason.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/stub_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(struct stub_span s, size_t len)
{
    if ((size_t)s.off + s.len > len)
        __builtin_trap();
}

static void fuzz_head(const char *b, size_t n)
{
    struct stub_head h;
    const char *why = NULL;
    int rc = stub_parse_head(b, n, &h, &why);
    if (rc == -EAGAIN)
        return;
    if (rc != 0) {
        if (!why || (rc != 400 && rc != 413 && rc != 431 && rc != 501 && rc != 505))
            __builtin_trap();
        return;
    }
    if (h.head_len > n || h.nheaders < 0 || h.nheaders > STUB_MAX_HEADERS ||
        h.content_length > (int64_t)STUB_MAX_BODY || (h.chunked && h.content_length >= 0))
        __builtin_trap();
    check_span(h.method, h.head_len);
    check_span(h.target, h.head_len);
    check_span(h.path, h.head_len);
    check_span(h.query, h.head_len);
    for (int k = 0; k < h.nheaders; k++) {
        check_span(h.h[k].name, h.head_len);
        check_span(h.h[k].value, h.head_len);
    }
    size_t vl;
    stub_parse_header(b, &h, "content-length", &vl);
    /* a chunked body after the head, fed in pieces of 1..16 bytes */
    if (h.chunked) {
        struct stub_chunked st = {0};
        size_t pos = h.head_len, total = 0;
        while (pos < n) {
            size_t piece = 1 + (unsigned char)b[pos] % 16, end = pos + piece > n ? n : pos + piece;
            size_t at = pos;
            for (;;) {
                size_t used, dlen;
                const char *d;
                int rc2 = stub_parse_chunked(&st, b + at, end - at, &used, &d, &dlen, &why);
                if (used > end - at || (dlen && (d < b + at || d + dlen > b + end)))
                    __builtin_trap();
                total += dlen;
                at += used;
                if (rc2 == 1 || rc2 == 400) {
                    if (rc2 == 400 && !why)
                        __builtin_trap();
                    return;
                }
                if (rc2 == -EAGAIN || at >= end)
                    break;
            }
            if (total > n)
                __builtin_trap();
            pos = end;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 200000)
        return 0;
    const char *b = (const char *)data + 1;
    size_t n = size - 1;
    char *copy = malloc(n + 1); /* exact-size copies so that ASan sees any overread */
    char *arena = malloc(n + 1);
    if (!copy || !arena)
        goto out;
    memcpy(copy, b, n);
    struct stub_params p;
    const char *why = NULL;
    size_t vl;
    switch (data[0] % 3) {
    case 0:
        fuzz_head(copy, n);
        break;
    case 1:
        if (stub_parse_params(copy, n, &p, arena, &why) == 0) {
            if (p.n < 0 || p.n > STUB_MAX_PARAMS || strlen(p.name) >= STUB_NAME_MAX)
                __builtin_trap();
            for (int k = 0; k < p.n; k++)
                if (p.p[k].val < arena || p.p[k].val + p.p[k].vlen > arena + n ||
                    stub_params_get(&p, p.p[k].key, &vl) == NULL)
                    __builtin_trap();
        } else if (!why) {
            __builtin_trap();
        }
        break;
    default: {
        int rc = stub_parse_marker(copy, n, &p, arena, &why);
        if ((rc < 0 && !why) || rc > 1)
            __builtin_trap();
        break;
    }
    }
out:
    free(copy);
    free(arena);
    return 0;
}
