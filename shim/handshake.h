/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake of `cordon run` (docs/PROTOCOL.md, CORDON_HANDSHAKE_FD): the shim's
 * constructor in CMD writes one line to the pipe it is given, then closes it, so that the
 * supervisor knows the preload loaded and under which policy. The line is
 *
 *     ok pid=PID policy=vVERSION\n
 *
 * with PID and VERSION in decimal without leading zeros. The writer and the parser live
 * here together so that the two sides cannot disagree; the parser reads what a process in
 * the sandbox wrote, so it takes nothing but that exact form.
 */
#ifndef CORDON_SHIM_HANDSHAKE_H
#define CORDON_SHIM_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#define HANDSHAKE_MAX 64 /* bytes of the longest line, its newline included */

struct handshake {
    long pid;         /* the process that answered, from 1 to INT32_MAX */
    uint64_t version; /* the version of the policy it runs under */
};

/*
 * The line for pid and version into buf (cap bytes, at least HANDSHAKE_MAX), NUL-terminated.
 * No stdio and no allocation: it runs in the constructor of every command `cordon run`
 * starts. Returns the length of the line (its newline included), or 0 when cap is too small.
 */
size_t handshake_format(char *buf, size_t cap, long pid, uint64_t version);

/*
 * Parse what the pipe gave so far: len bytes of buf, which need not be NUL-terminated.
 * Returns 0 when they are exactly one valid line (*h filled), -EAGAIN when they are a valid
 * beginning of one that lacks its newline, -EPROTO for anything else: another text, a NUL,
 * a number out of range or with leading zeros, bytes after the newline, more than
 * HANDSHAKE_MAX bytes.
 */
__attribute__((warn_unused_result)) int handshake_parse(const char *buf, size_t len,
                                                        struct handshake *h);

#endif
