/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes: every byte through a pipe that takes less at a time, and errors as errno;
 * small reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"

#define BIG (1u << 20) /* more than a pipe holds, so write(2) comes back short */

static void *drain(void *arg)
{
    int fd = *(int *)arg;
    size_t *total = malloc(sizeof *total);
    char buf[4096];
    ssize_t n;
    *total = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        *total += (size_t)n;
    return total;
}

Test(io, writes_every_byte_through_a_pipe)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, drain, &p[0]), 0);
    char *buf = calloc(1, BIG);
    cr_assert_eq(io_write_all(p[1], buf, BIG), 0);
    close(p[1]);
    size_t *total;
    pthread_join(t, (void **)&total);
    cr_assert_eq(*total, BIG);
    free(total);
    free(buf);
    close(p[0]);
}

Test(io, errors_are_negative_errno)
{
    cr_assert_eq(io_write_all(-1, "x", 1), -EBADF);
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    char *buf = calloc(1, BIG);
    cr_assert_eq(io_write_all(p[1], buf, BIG), -EAGAIN);
    free(buf);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(io_write_all(0, "", 0), 0);
}

/* A small file read whole and ended; a longer one cut at the buffer, still ended; an empty
 * one, a missing one and a directory are errors, never a stale buffer. */
Test(io, small_reads)
{
    char dir[] = "/tmp/cordon-io-XXXXXX", path[64], buf[8];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(io_write_all(fd, "abc", 3), 0);
    close(fd);
    cr_assert_eq(io_read_small(path, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "abc");

    fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert_eq(io_write_all(fd, "0123456789", 10), 0);
    close(fd);
    cr_assert_eq(io_read_small(path, buf, sizeof buf), 7);
    cr_assert_str_eq(buf, "0123456");

    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    memcpy(buf, "stale", 6);
    cr_assert_eq(io_read_small(path, buf, sizeof buf), -EIO);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(io_read_small(dir, buf, sizeof buf), -EISDIR);
    unlink(path);
    cr_assert_eq(io_read_small(path, buf, sizeof buf), -ENOENT);
    rmdir(dir);
}
