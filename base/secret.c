/* SPDX-License-Identifier: Apache-2.0 */
/* The private-file reader (see secret.h). */
#include "base/secret.h"
#include "base/diag.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void secret_free(char *buf, size_t len)
{
    if (!buf)
        return;
    explicit_bzero(buf, len);
    free(buf);
}

/* The reader of every form; exact keeps the bytes as they are, an empty file included; owned
 * also refuses a file that another user owns. */
static int read_private(const char *what, const char *path, size_t max, int exact, int owned,
                        char **out, size_t *len, char *err, size_t errlen)
{
    int rc, fd = -1;
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, got = 0;
    *out = NULL;
    *len = 0;
    if (max == 0)
        max = SECRET_MAX_FILE;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ELOOP)
            diag_set(err, errlen,
                     "%s %s is a symbolic link; give the file itself (a link could "
                     "be swapped for another file)",
                     what, path);
        else
            diag_set(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        diag_set(err, errlen, "cannot stat %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        diag_set(err, errlen, "%s %s is not a regular file", what, path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = -EPERM;
        diag_set(err, errlen,
                 "%s %s is mode %04o, so group or others may %s it; make it "
                 "private with chmod 600 %s",
                 what, path, (unsigned)(st.st_mode & 07777), st.st_mode & 044 ? "read" : "change",
                 path);
        goto out;
    }
    if (owned && st.st_uid != geteuid()) {
        rc = -EPERM;
        diag_set(err, errlen,
                 "%s %s is owned by uid %u, not by uid %u that reads it, so another user "
                 "controls it; give it to this user with chown %u %s",
                 what, path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = -EFBIG;
        diag_set(err, errlen, "%s %s is %lld bytes, more than the %zu a %s can be", what, path,
                 (long long)st.st_size, max, what);
        goto out;
    }
    /* read to the end, not to st_size: a file that grows must not be cut silently */
    cap = (size_t)st.st_size + 1;
    rc = -ENOMEM;
    if (!(buf = malloc(cap + 1))) {
        diag_set(err, errlen, "out of memory reading %s %s", what, path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            diag_set(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap) {
            rc = -EFBIG;
            diag_set(err, errlen,
                     "%s %s grew while it was read; read it again when it is "
                     "written",
                     what, path);
            goto out;
        }
    }
    while (!exact && got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
        got--;
    if (!exact && got == 0) {
        rc = -ENODATA;
        diag_set(err, errlen, "%s %s is empty", what, path);
        goto out;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL; /* transferred */
    rc = 0;
out:
    if (buf) {
        explicit_bzero(buf, cap + 1);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int secret_read_file(const char *what, const char *path, size_t max, char **out, size_t *len,
                     char *err, size_t errlen)
{
    return read_private(what, path, max, 0, 0, out, len, err, errlen);
}

int secret_read_file_exact(const char *what, const char *path, size_t max, char **out, size_t *len,
                           char *err, size_t errlen)
{
    return read_private(what, path, max, 1, 0, out, len, err, errlen);
}

int secret_read_file_owned(const char *what, const char *path, size_t max, char **out, size_t *len,
                           char *err, size_t errlen)
{
    return read_private(what, path, max, 1, 1, out, len, err, errlen);
}
