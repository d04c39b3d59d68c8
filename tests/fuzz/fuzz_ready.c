/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the ready-file parser (policy/server/ready.h) on arbitrary bytes. Nothing
 * may crash; a text is refused with a reason or accepted with every value terminated, within
 * bounds and free of control characters but the tab; and what is accepted is written back by
 * ready_format() into a text that parses to the same addresses (the writer and the reader
 * agree on the format).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/ready.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int clean(const char *v)
{
    size_t n = strnlen(v, READY_ADDR_MAX);
    if (n == READY_ADDR_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ready r, back;
    static char text[READY_MAX_BYTES + 1];
    char err[256];
    err[0] = '\0';
    int rc = ready_parse((const char *)data, size, &r, err, sizeof err);
    if (rc != 0) {
        if (err[0] == '\0' || (rc != -EINVAL && rc != -EFBIG))
            __builtin_trap(); /* refused without a reason, or with a code not documented */
        return 0;
    }
    if (r.n_http == 0 || r.n_http > READY_MAX_HTTP || !r.tunnel[0] || !clean(r.tunnel) ||
        !clean(r.admin) || !clean(r.events) || (r.events[0] && strncmp(r.events, "unix:/", 6) != 0))
        __builtin_trap();
    for (size_t i = 0; i < r.n_http; i++)
        if (!r.http[i][0] || !clean(r.http[i]))
            __builtin_trap();
    if (ready_format(&r, text, sizeof text) != 0 ||
        ready_parse(text, strlen(text), &back, err, sizeof err) != 0 ||
        memcmp(&r, &back, sizeof r) != 0)
        __builtin_trap();
    return 0;
}
