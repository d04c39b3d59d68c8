/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to policy/audit/: the frames between the caller's handle (audit.c) and the writer
 * process (audit_writer.c) on their socket pair, and the whole reads and writes both sides do
 * on it. The layout is described in docs/SECURITY.md ("Audit writer isolation"); both ends
 * are built from the same tree, so it carries no version. The writer re-validates every frame
 * as if the caller were hostile.
 */
#ifndef CORDON_AUDIT_FRAME_H
#define CORDON_AUDIT_FRAME_H

#include "policy/audit/audit_read.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FRAME_APPEND = 1, FRAME_STATS = 2, FRAME_CLOSE = 3 };
enum { FRAME_SYNC = 0x1, FRAME_REPLY = 0x2 };

struct frame_hdr {
    uint32_t len; /* body bytes after this header */
    uint8_t type;
    uint8_t flags;
    uint16_t kind_len; /* the body is kind, agent, fields, back to back */
    uint16_t agent_len;
    uint16_t pad;
    uint64_t id; /* echoed in the reply; 0 for frames without one */
};

#define FRAME_BODY_MAX (AUDIT_FIELDS_MAX + AUDIT_KIND_MAX + AUDIT_AGENT_MAX)

struct frame_reply {
    uint64_t id; /* 0: an unsolicited notice (the writer failed) */
    int32_t status;
    uint32_t failed;
    uint64_t seq;
    uint64_t records, synced, checkpoints, last_checkpoint_size;
};

struct frame_init {
    int32_t status;
    char err[500];
};

/* Write all of buf to the socket (or, for a test's pipe, the descriptor) without raising
 * SIGPIPE. Returns 0 or a negative errno. */
static inline int frame_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read exactly len bytes. Returns 0, -EPIPE at end of file, or a negative errno. */
static inline int frame_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -EPIPE : -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#endif
