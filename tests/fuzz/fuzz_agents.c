/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the agent keys file parser on arbitrary bytes. A damaged file is refused
 * with the line number; an accepted one yields entries with valid ids and names.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/agents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agents *a = NULL;
    char err[1024];
    if (agents_open(NULL, NULL, &a, err, sizeof err) != 0)
        abort();
    err[0] = '\0';
    int rc = agents_parse(a, (const char *)data, size, err, sizeof err);
    if (rc != 0 && err[0] == '\0')
        __builtin_trap();
    char *list = agents_list_json(a);
    if (!list)
        __builtin_trap();
    free(list);
    agents_free(a);
    return 0;
}
