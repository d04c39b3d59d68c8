/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole writes. write(2) may write less than asked (a pipe, a signal, a full socket buffer);
 * every caller that must not lose bytes goes through here. No allocation, no stdio: safe in
 * a hook and between fork and exec.
 */
#ifndef CORDON_BASE_IO_H
#define CORDON_BASE_IO_H

#include <stddef.h>

/* Write all len bytes of buf to fd, retrying after EINTR and short writes. Returns 0, or a
 * negative errno (-EAGAIN on a non-blocking descriptor that is full; what was written before
 * stays written). */
__attribute__((warn_unused_result)) int io_write_all(int fd, const void *buf, size_t len);

#endif
