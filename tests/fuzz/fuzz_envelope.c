/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: envelope_verify on arbitrary bytes against the golden test key. Nothing
 * but the golden envelope (and inputs that decode to exactly its signed bytes) may verify;
 * any other input must be refused with a message, without a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/sign/envelope.h"
#include "policy/sign/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct key_trust trust;
    static int loaded;
    char err[512];
    if (!loaded) {
        if (key_trust_load(CORDON_TEST_DATA "/dsse/test.pub", &trust, err, sizeof err) != 0)
            abort();
        loaded = 1;
    }
    char *payload = NULL;
    size_t plen = 0;
    struct envelope_stamp st;
    err[0] = '\0';
    /* A fixed "now" inside the golden envelope's validity keeps the run deterministic. */
    int rc = envelope_verify((const char *)data, size, &trust, 1800000000, &payload, &plen, &st,
                             NULL, err, sizeof err);
    if (rc == 0 && (!payload || st.version == 0))
        __builtin_trap();
    if (rc != 0 && (payload || err[0] == '\0'))
        __builtin_trap(); /* refused without a reason, or leaked a payload */
    free(payload);
    return 0;
}
