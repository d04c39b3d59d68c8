/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: cordond's config parser on arbitrary bytes. Every input is accepted or
 * refused with a message naming where; nothing crashes, and an accepted config keeps every
 * string terminated and every count within its array.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config c;
    char err[1024];
    config_defaults(&c);
    err[0] = '\0';
    int rc = config_parse(&c, (const char *)data, size, "fuzz.conf", err, sizeof err);
    if (rc != 0 && err[0] == '\0')
        __builtin_trap(); /* refused without a reason */
    if (rc == 0 && (c.n_listen > CONFIG_MAX_LISTEN || c.n_upstreams > CONFIG_MAX_UPSTREAMS ||
                    strnlen(c.policies_dir, sizeof c.policies_dir) == sizeof c.policies_dir))
        __builtin_trap();
    return 0;
}
