/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the quarantine state file parser (policy/server/anomaly.h) on arbitrary
 * bytes. Nothing may crash; a file is refused with a reason and -EINVAL, or every entry it
 * yields has a valid agent name, a time within 2^53 and a printable reason within bounds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/agents.h"
#include "policy/server/anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *ud, const char *agent, int64_t since_ms, const char *reason)
{
    (void)ud;
    size_t n = strlen(reason);
    if (!agents_valid_name(agent) || since_ms < 0 || since_ms > (INT64_C(1) << 53) * 10 ||
        n > ANOMALY_REASON_MAX)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (reason[i] < 0x20 || reason[i] > 0x7e)
            __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    err[0] = '\0';
    int rc = anomaly_state_parse((const char *)data, size, check, NULL, err, sizeof err);
    if (rc != 0 && (rc != -EINVAL || err[0] == '\0'))
        __builtin_trap(); /* refused without a reason, or with a code not documented */
    return 0;
}
