/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the audit log's readers on arbitrary bytes. The first byte picks the
 * reader: even, the bytes are a signed checkpoint note for note_checkpoint_verify; odd, they
 * are an audit.jsonl walked by audit_read_buf with signature checks against the golden key.
 * Any input must be judged without a crash or a leak, and a refusal must say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/audit/audit_read.h"
#include "policy/sign/key.h"
#include "policy/audit/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct key_trust trust;
    static int loaded;
    char err[512];
    if (!loaded) {
        if (key_trust_load(CORDON_TEST_DATA "/checkpoint/test.pub", &trust, err, sizeof err) != 0)
            abort();
        loaded = 1;
    }
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if ((data[0] & 1) == 0) {
        struct note_checkpoint cp;
        err[0] = '\0';
        int rc = note_checkpoint_verify(text, len, trust.keys[0].pk, &cp, err, sizeof err);
        if (rc != 0 && err[0] == '\0')
            __builtin_trap();
        return 0;
    }
    static struct audit_read_report r;
    struct audit_read_opts o = {.check_signatures = 1, .trust = trust.keys, .ntrust = trust.n};
    if (audit_read_buf(text, len, &o, &r) != 0)
        __builtin_trap();
    if (r.status != AUDIT_READ_VALID && r.problem[0] == '\0')
        __builtin_trap();
    if (r.bytes + r.torn_bytes > len)
        __builtin_trap();
    /* how the log ends and where writers stopped: consistent with the lines read */
    if (r.status == AUDIT_READ_VALID) {
        if (r.closed && r.lines == 0)
            __builtin_trap();
        for (uint64_t i = 0; i < r.gaps && i < AUDIT_READ_MAX_GAPS; i++)
            if (r.gap[i].last_line >= r.gap[i].line || r.gap[i].line >= r.lines ||
                (i && r.gap[i].line <= r.gap[i - 1].line))
                __builtin_trap();
    }
    return 0;
}
