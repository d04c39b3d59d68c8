/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cost of one hooked call, measured inside one process: open+close of a cached file,
 * stat, and socket+connect+close to a loopback listener. Run the same binary with and
 * without libcordon.so preloaded (bench/bench_shim.sh does) and compare the medians.
 *   hookbench open|stat|connect N TARGET [ROUNDS]
 *     (TARGET: a file, or a TCP port on 127.0.0.1; ROUNDS: 1 to 99, default 7)
 * Prints the median over ROUNDS rounds of N calls, in nanoseconds per call.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        return 2;
    const char *what = argv[1], *target = argv[3];
    long n = strtol(argv[2], NULL, 10);
    int rounds = argc == 5 ? (int)strtol(argv[4], NULL, 10) : 7;
    if (n < 1 || rounds < 1 || rounds > 99)
        return 2;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((unsigned short)strtol(target, NULL, 10))};
    double r[99];
    for (int round = 0; round < rounds; round++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            if (!strcmp(what, "open")) {
                int fd = open(target, O_RDONLY);
                if (fd < 0)
                    return 1;
                close(fd);
            } else if (!strcmp(what, "stat")) {
                struct stat st;
                if (stat(target, &st) != 0)
                    return 1;
            } else {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
                    return 1;
                close(fd);
            }
        }
        r[round] = (now_ns() - t0) / (double)n;
    }
    qsort(r, (size_t)rounds, sizeof r[0], cmp);
    printf("%.0f\n", r[rounds / 2]);
    return 0;
}
