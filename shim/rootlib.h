/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcordon-root.so: the part of the shim that only the root of a tree needs (the profile's
 * key and trust, the fetch, the DSSE verification, the policy compiler, the kernel sandbox),
 * with libsodium and cJSON behind it. libcordon.so loads it with dlopen only when its
 * constructor takes the root path, so that a descendant (every exec in a governed tree)
 * loads no library but libcordon.so itself: loading and relocating libsodium and cJSON was a
 * fifth of an exec's cost. The library exports one symbol, a table of these entry points;
 * where it is found is shim/rootlib_path.h.
 */
#ifndef CORDON_SHIM_ROOTLIB_H
#define CORDON_SHIM_ROOTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "shim/root.h"

#define ROOTLIB_SYMBOL "cordon_rootlib"

struct rootlib {
    /* sodium_init, then root_prepare and root_enforce on r (r->prof already loaded). */
    int (*start)(struct root *r, char *err, size_t errlen);
    /* root_poll_once. */
    int (*poll_once)(struct root *r, char *msg, size_t msglen, char *err, size_t errlen);
    /* A descendant of a tree without a hook image: check the cached envelope against
     * want_digest, verify it with trust and compile it for this process. */
    int (*load_envelope)(const char *trust, const char *workspace, const char *env, size_t len,
                         const char *want_digest, struct policy **out, uint64_t *version, char *err,
                         size_t errlen);
};

#endif
