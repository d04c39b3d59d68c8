/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the audit log's readers on arbitrary bytes. The first byte picks the
 * reader: even, the bytes are a signed checkpoint note for note_checkpoint_verify; odd, they
 * are an audit.jsonl walked by audit_read_buf with signature checks against the golden key.
 * Any input must be judged without a crash or a leak, and a refusal must say why; the walk's
 * fast path (no visitor) and its general path must give the same verdict.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/audit/audit_read.h"
#include "policy/sign/key.h"
#include "policy/audit/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int visit_all(const struct audit_rec *rec, void *ctx)
{
    (void)rec;
    (void)ctx;
    return 0;
}

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
    /* with a visitor every line takes the general path: the verdict must be the same */
    static struct audit_read_report g;
    o.visit = visit_all;
    if (audit_read_buf(text, len, &o, &g) != 0 || g.status != r.status ||
        g.bad_line != r.bad_line || g.lines != r.lines || g.bytes != r.bytes ||
        g.torn_bytes != r.torn_bytes || g.checkpoints != r.checkpoints || g.gaps != r.gaps ||
        strcmp(g.problem, r.problem) != 0)
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
