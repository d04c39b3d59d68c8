/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: policy_load on arbitrary bytes. Any input must end in a compiled policy
 * or in diagnostics, never in a crash, a hang, a leak or undefined behaviour. Symlink
 * resolution is off so the run does not depend on the machine's file system.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct policy_env env = {
        .vars = {"/home/f", "/work/f", "/work/f/ws", "/tmp"},
        .resolve_symlinks = 0,
    };
    static struct diag d;
    struct policy *p = NULL;
    diag_init(&d);
    int rc = policy_load((const char *)data, size, &env, &p, &d);
    if (rc == 0) {
        /* A compiled policy must be internally consistent: walk what consumers read. */
        if (!p->agent || p->sandbox.fs.read_write.n > POLICY_MAX_ITEMS)
            __builtin_trap();
        for (size_t i = 0; i < p->sandbox.fs.deny.n; i++)
            if (p->sandbox.fs.deny.v[i].path[0] != '/')
                __builtin_trap();
        for (size_t i = 0; i < p->sandbox.net.n_allow; i++)
            if (strlen(p->sandbox.net.allow[i].host) == 0)
                __builtin_trap();
        /* sandbox.env: a name an allow rule names literally is never hidden */
        for (size_t i = 0; i < p->sandbox.env.allow.n; i++) {
            const char *a = p->sandbox.env.allow.v[i];
            if (!strpbrk(a, "*?") && policy_env_hides(p, a, NULL))
                __builtin_trap();
        }
        for (size_t i = 0; i < p->sandbox.env.hide.n; i++)
            (void)policy_env_hides(p, p->sandbox.env.hide.v[i], NULL);
        policy_free(p);
    } else if (diag_total(&d) == 0 && rc == -EINVAL) {
        __builtin_trap(); /* refused without saying why */
    }
    return 0;
}
