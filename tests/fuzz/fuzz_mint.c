/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the host-name normalizer that runs before cordond mints a certificate
 * (mint_host_normalize, policy/server/mint.h), on arbitrary bytes. Nothing may crash; a name
 * is refused with MINT_ERR_HOST and a printable reason, or accepted as a name a certificate can
 * carry: a DNS name of lowercase letters, digits, '-' and '.' in labels of 1 to 63 bytes, at
 * most 253 bytes, or an address inet_pton reads. Normalizing the result again gives it back
 * unchanged, of the same kind (the cache is keyed by it: two spellings of one host must meet).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/mint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dns_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > MINT_HOST_MAX)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (i == n || c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)))
            return 0;
        label++;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[MINT_HOST_MAX + 1], again[MINT_HOST_MAX + 1], err[512];
    unsigned char addr[16];
    enum mint_host_kind kind = 0, kind2 = 0;

    err[0] = '\0';
    int rc = mint_host_normalize((const char *)data, size, out, &kind, err, sizeof err);
    if (rc != 0) {
        if (rc != MINT_ERR_HOST || err[0] == '\0' || out[0] != '\0')
            __builtin_trap(); /* refused without a reason, or with a code not documented */
        for (const char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                __builtin_trap(); /* the reason quotes a hostile byte as it is */
        return 0;
    }
    if (memchr(out, '\0', sizeof out) == NULL)
        __builtin_trap();
    switch (kind) {
    case MINT_HOST_DNS:
        if (!dns_ok(out))
            __builtin_trap();
        break;
    case MINT_HOST_IPV4:
        if (inet_pton(AF_INET, out, addr) != 1)
            __builtin_trap();
        break;
    case MINT_HOST_IPV6:
        if (inet_pton(AF_INET6, out, addr) != 1)
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
    if (mint_host_normalize(out, strlen(out), again, &kind2, err, sizeof err) != 0 ||
        strcmp(out, again) != 0 || kind != kind2)
        __builtin_trap(); /* not a fixed point */
    return 0;
}
