/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes (see io.h). */
#include "base/io.h"

#include <errno.h>
#include <unistd.h>

int io_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* a regular file that takes nothing: full, or limited */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
