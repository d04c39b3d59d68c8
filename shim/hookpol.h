/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hook image: the few parts of a compiled policy that the shim's hooks read (agent,
 * mode, network mode, version, sandbox.filesystem.deny, sandbox.exec's allow, deny and
 * search lists), already expanded and symlink-resolved by the root, in a compact form that
 * the root writes to a sealed memfd (CORDON_HOOKS_FD). A descendant decodes it in a few
 * microseconds instead of parsing the policy JSON again and resolving every path, which is
 * most of what an exec under the shim used to cost (docs/SHIM.md, "Cost").
 *
 * Form: NUL-terminated fields, in order: "cordon-hooks 1", version, mode (0 enforce, 1
 * observe), network mode (enum policy_net), agent; then six lists (filesystem.deny,
 * exec.allow names, exec.allow paths, exec.deny names, exec.deny paths, exec.search), each
 * a decimal count followed by its entries: a name is one field; a path is four (origin,
 * raw, path, real; an empty path or real means none). Nothing may follow the last list.
 */
#ifndef CORDON_SHIM_HOOKPOL_H
#define CORDON_SHIM_HOOKPOL_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define HOOKPOL_MAX_BYTES (4u << 20) /* an image larger than this is refused */

/* Encode what the hooks read of p (with the envelope's version) into *out (malloc'd).
 * Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int hookpol_encode(const struct policy *p, uint64_t version,
                                                       char **out, size_t *outlen);

/*
 * Decode an image into *out: one malloc'd struct policy whose strings point into buf, which
 * must stay alive and unchanged as long as *out is used. Only the members listed above are
 * set; the rest are zero. Returns 0, or -EINVAL with err saying what is malformed.
 */
__attribute__((warn_unused_result)) int hookpol_decode(const char *buf, size_t len,
                                                       struct policy **out, uint64_t *version,
                                                       char *err, size_t errlen);

/* Check an image and say how many bytes hookpol_decode_into needs for it. Returns 0, or
 * -EINVAL with err saying what is malformed. */
__attribute__((warn_unused_result)) int hookpol_measure(const char *buf, size_t len, size_t *need,
                                                        char *err, size_t errlen);

/* hookpol_decode into mem (memlen bytes, aligned for struct policy), which must outlive *out
 * like buf. need (may be NULL) gets the bytes the image takes once it is known to be well
 * formed, so a caller whose memory was too small knows how much to get. Returns 0, -EINVAL
 * (malformed) or -ENOMEM (mem too small, NULL or misaligned). */
__attribute__((warn_unused_result)) int hookpol_decode_into(const char *buf, size_t len, void *mem,
                                                            size_t memlen, size_t *need,
                                                            struct policy **out, uint64_t *version,
                                                            char *err, size_t errlen);

/* Release what hookpol_decode returned (not buf). */
void hookpol_free(struct policy *p);

#endif
