/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole writes, and whole reads of small files. write(2) may write less than asked (a pipe, a
 * signal, a full socket buffer); every caller that must not lose bytes goes through here. No
 * allocation, no stdio: safe in a hook and between fork and exec.
 */
#ifndef CORDON_BASE_IO_H
#define CORDON_BASE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write all len bytes of buf to fd, retrying after EINTR and short writes. Returns 0, or a
 * negative errno (-EAGAIN on a non-blocking descriptor that is full; what was written before
 * stays written). */
__attribute__((warn_unused_result)) int io_write_all(int fd, const void *buf, size_t len);

/* Wait until fd has one of events (POLLIN, POLLOUT...) or clock_mono_ms() reaches
 * deadline_ms, retrying after EINTR. Returns 1 ready, 0 the deadline passed, or a negative
 * errno. No allocation: safe in a hook. */
__attribute__((warn_unused_result)) int io_wait(int fd, short events, int64_t deadline_ms);

/* Send all len bytes on a socket (MSG_NOSIGNAL) before deadline_ms, waiting between short
 * sends when it is non-blocking: io_write_all for a socket that must not stall forever.
 * Returns 0, -ETIMEDOUT, or send's negative errno; what went out before stays sent. */
__attribute__((warn_unused_result)) int io_send_all(int fd, const void *buf, size_t len,
                                                    int64_t deadline_ms);

/* Read the file at path (a /proc or /sys entry, a ready file) into buf, at most cap - 1
 * bytes, and end them with '\0' (cap >= 1). Returns the length read, or a negative errno
 * (-EIO for an empty file, which no caller can use). No allocation: safe in a hook. */
__attribute__((warn_unused_result)) ssize_t io_read_small(const char *path, char *buf, size_t cap);

#endif
