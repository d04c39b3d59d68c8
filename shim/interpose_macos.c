/* SPDX-License-Identifier: Apache-2.0 */
/*
 * macOS: the hooks reach programs through dyld's interposing. A library loaded with
 * DYLD_INSERT_LIBRARIES that carries a __DATA,__interpose section gets each pair of that
 * section applied to every image loaded: calls to the second member go to the first, except
 * calls made from the interposing library itself, so a hook reaches the real function by
 * calling it by its own name.
 *
 * The pairs are made from shim/hooklist.h (the functions libSystem has; the glibc-only names
 * have no counterpart there) and name each symbol directly, so this file needs no system
 * header. What it does not do: hooking cannot reach a program that dyld starts without
 * DYLD_* variables (SIP-protected binaries such as /bin/sh and /usr/bin/env, hardened
 * runtime programs without the allow-dyld-environment-variables entitlement); the Seatbelt
 * profile applied by the root still binds them. docs/SECURITY.md lists these limits, and
 * docs/SHIM.md says what of the macOS shim exists.
 */
#ifdef __APPLE__
#include "shim/hooklist.h"

struct cordon_interpose {
    const void *replacement;
    const void *replacee;
};

/* Both members by their Mach-O symbol names: _<name> is libSystem's function, and
 * _cordon_hook_<name> is the hook that HOOK(<name>) defines (shim.h). */
#define CORDON_INTERPOSE_DECL(name)                                                                \
    extern const char cordon_replacee_##name __asm__("_" #name);                                   \
    extern const char cordon_replacement_##name __asm__("_cordon_hook_" #name);
#define CORDON_INTERPOSE_PAIR(name) {&cordon_replacement_##name, &cordon_replacee_##name},
#define CORDON_INTERPOSE_SKIP(name)

CORDON_HOOKS(CORDON_INTERPOSE_DECL, CORDON_INTERPOSE_SKIP)

__attribute__((used, section("__DATA,__interpose"))) static const struct cordon_interpose
    cordon_interpose[] = {CORDON_HOOKS(CORDON_INTERPOSE_PAIR, CORDON_INTERPOSE_SKIP)};
#else
/* Not macOS: nothing to interpose (an ISO C translation unit may not be empty). */
typedef int cordon_interpose_macos_only;
#endif
