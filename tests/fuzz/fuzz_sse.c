/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the event-stream parser on arbitrary bytes in arbitrary splits (the
 * first byte picks the chunk size, the second the line limit). Nothing crashes, every error
 * is one of the parser's, and when the input is accepted the raw bytes of the blocks add up
 * to exactly the input: what the proxy forwards unchanged is what it received.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/engine/engine.h"
#include "policy/engine/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    const uint8_t *in;
    size_t len, off;
};

static int check(void *ud, const struct sse_event *ev)
{
    struct acc *a = ud;
    if (ev->raw_len > a->len - a->off || memcmp(a->in + a->off, ev->raw, ev->raw_len) != 0)
        __builtin_trap(); /* a block's bytes are not the input's, in order */
    a->off += ev->raw_len;
    if (ev->data[ev->data_len] != '\0' || ev->event_len == 0)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1, max_line = (size_t)data[1] * 4 + 1;
    data += 2;
    size -= 2;
    struct sse_parser *p;
    if (sse_new(max_line, &p))
        return 0;
    struct acc a = {data, size, 0};
    int rc = 0;
    for (size_t i = 0; i < size && !rc; i += chunk)
        rc = sse_feed(p, (const char *)data + i, size - i < chunk ? size - i : chunk, check, &a);
    if (!rc)
        rc = sse_finish(p, check, &a);
    if (rc && rc != ENGINE_ERR_SSE_LINE && rc != ENGINE_ERR_SSE_EVENT && rc != -12)
        __builtin_trap();
    if (!rc && a.off != size)
        __builtin_trap(); /* bytes lost */
    sse_free(p);
    return 0;
}
