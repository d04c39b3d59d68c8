/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the tunnel's CONNECT head parser on arbitrary bytes (as the tunnel calls
 * it: NUL-terminated, at most 8192 bytes). Accepted heads yield a host of the allowed
 * characters (a name's letters, digits, '.', '-' and '_', or an IPv6 address) and a port in
 * range; refused ones carry a status and a reason.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *hdr = malloc(size + 1);
    if (!hdr)
        return 0;
    memcpy(hdr, data, size);
    hdr[size] = '\0';
    char host[256], key[128], session[40];
    unsigned port = 0;
    const char *why = NULL;
    int st = connect_parse_request(hdr, host, sizeof host, &port, key, sizeof key, session,
                                   sizeof session, &why);
    if (st != 0 && (!why || (st != 400 && st != 405)))
        __builtin_trap();
    if (st == 0) {
        if (port == 0 || port > 65535 || host[0] == '\0')
            __builtin_trap();
        for (const char *p = host; *p; p++)
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr(".-_:", *p) &&
                !(*p >= 'a' && *p <= 'f'))
                __builtin_trap();
    }
    free(hdr);
    return 0;
}
