/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/io.h's socket half: io_wait and io_send_all, the deadline-bound wait and whole send
 * that the policy fetch, the connect hook's tunnel and `cordon run` share.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/io.h"

#define BIG (4u << 20) /* far more than a socket buffer holds */

static void pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

Test(io_wait, ready_or_the_deadline)
{
    int sv[2];
    pair(sv);
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(io_wait(sv[0], POLLIN, t0 + 60), 0, "nothing to read: the deadline");
    cr_assert_geq(clock_mono_ms() - t0, 55);
    cr_assert_eq(io_wait(sv[0], POLLIN, t0 - 1), 0, "a deadline passed: at once");
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(io_wait(sv[0], POLLIN, clock_mono_ms() + 1000), 1);
    cr_assert_eq(io_wait(sv[0], POLLOUT, clock_mono_ms() + 1000), 1);
    close(sv[0]);
    close(sv[1]);
}

static void *drain(void *arg)
{
    int fd = *(int *)arg;
    static char buf[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += (size_t)n;
    return (void *)total;
}

Test(io_send_all, everything_arrives_across_short_sends)
{
    int sv[2];
    pair(sv);
    char *big = calloc(1, BIG);
    cr_assert_not_null(big);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, drain, &sv[1]), 0);
    cr_assert_eq(io_send_all(sv[0], big, BIG, clock_mono_ms() + 10000), 0);
    close(sv[0]);
    void *got;
    pthread_join(t, &got);
    cr_assert_eq((size_t)got, BIG);
    close(sv[1]);
    free(big);
}

Test(io_send_all, a_peer_that_stops_reading_is_a_timeout)
{
    int sv[2];
    pair(sv);
    char *big = calloc(1, BIG);
    cr_assert_not_null(big);
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(io_send_all(sv[0], big, BIG, t0 + 100), -ETIMEDOUT);
    cr_assert_lt(clock_mono_ms() - t0, 5000);
    close(sv[0]);
    close(sv[1]);
    free(big);
}

Test(io_send_all, a_closed_peer_is_an_errno_not_a_signal)
{
    int sv[2];
    pair(sv);
    close(sv[1]);
    signal(SIGPIPE, SIG_DFL); /* MSG_NOSIGNAL: the process must survive */
    cr_assert_eq(io_send_all(sv[0], "abc", 3, clock_mono_ms() + 1000), -EPIPE);
    close(sv[0]);
}
