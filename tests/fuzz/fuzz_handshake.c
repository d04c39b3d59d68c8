/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the parser of `cordon run`'s handshake line (shim/handshake.h), which
 * reads what a process inside the sandbox wrote to a pipe. It must accept or refuse, never
 * crash or read past its input; an accepted line must be exactly what handshake_format
 * writes for the values it found (one canonical form), and every shorter prefix of an
 * accepted line must ask for more.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shim/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct handshake h;
    int rc = handshake_parse(buf, size, &h);
    if (rc != 0 && rc != -EAGAIN && rc != -EPROTO)
        __builtin_trap();
    if (rc == -EAGAIN && (size >= HANDSHAKE_MAX || memchr(buf, '\n', size)))
        __builtin_trap();
    if (rc != 0)
        return 0;
    char line[HANDSHAKE_MAX];
    size_t n = handshake_format(line, sizeof line, h.pid, h.version);
    if (n != size || memcmp(line, buf, size) != 0)
        __builtin_trap();
    struct handshake p;
    for (size_t i = 0; i < size; i++)
        if (handshake_parse(buf, i, &p) != -EAGAIN)
            __builtin_trap();
    return 0;
}
