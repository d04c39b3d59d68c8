/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_tunnel: bulk throughput through cordond's CONNECT tunnel beside the same transfer
 * straight to the origin, on loopback (bench/bench_tunnel.sh starts cordond and the origin).
 *
 *   bench_tunnel origin PORTFILE
 *       listen on 127.0.0.1, write the port to PORTFILE, and serve each connection: a
 *       9-byte request ('U' or 'D', then a 64-bit little-endian count), then for 'U' read
 *       count bytes and answer one byte, for 'D' send count bytes and close.
 *   bench_tunnel run ORIGIN_PORT TUNNEL_HOST:PORT KEYFILE [MIB [ROUNDS [SERVER_PID]]]
 *       interleaved rounds of direct and tunnelled transfers of MIB MiB up (to the origin)
 *       and down (from it); prints the median MiB/s of each beside its baseline and the ratio,
 *       and with SERVER_PID the server's CPU time per GiB relayed.
 *   bench_tunnel once direct|tunnel up|down ORIGIN_PORT TUNNEL_HOST:PORT KEYFILE [MIB]
 *       one transfer, for a profiler.
 *
 * Both ends use blocking sockets and BENCH_BUF-byte (256 KiB) reads and writes, so that the
 * ends themselves cost as little as a well-behaved client and origin would; the figure that
 * matters is the ratio, measured in the same run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BUF (256 * 1024)
#define MAX_ROUNDS 64

static char sendbuf[BENCH_BUF];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = recv(fd, c, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Send count bytes of sendbuf; returns 0 or -1. */
static int send_bulk(int fd, uint64_t count)
{
    while (count) {
        size_t n = count < BENCH_BUF ? (size_t)count : BENCH_BUF;
        if (write_all(fd, sendbuf, n) != 0)
            return -1;
        count -= n;
    }
    return 0;
}

/* Read and drop count bytes; returns 0, or -1 when the stream ended early. */
static int recv_bulk(int fd, char *buf, uint64_t count)
{
    while (count) {
        size_t want = count < BENCH_BUF ? (size_t)count : BENCH_BUF;
        ssize_t r = recv(fd, buf, want, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        count -= (uint64_t)r;
    }
    return 0;
}

static void *origin_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char req[9];
    char *buf = malloc(BENCH_BUF);
    if (buf && read_all(fd, req, sizeof req) == 0) {
        uint64_t count = 0;
        for (int i = 8; i >= 1; i--)
            count = count << 8 | req[i];
        if (req[0] == 'U' && recv_bulk(fd, buf, count) == 0)
            (void)write_all(fd, "K", 1);
        else if (req[0] == 'D')
            (void)send_bulk(fd, count);
    }
    free(buf);
    close(fd);
    return NULL;
}

static int origin(const char *portfile)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 64) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
        perror("bench_tunnel: origin listener");
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.t", portfile);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
        rename(tmp, portfile) != 0) {
        perror("bench_tunnel: port file");
        return 1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        pthread_t th;
        if (pthread_create(&th, &attr, origin_conn, (void *)(intptr_t)c) != 0)
            close(c);
    }
}

struct target {
    unsigned origin_port;
    struct sockaddr_in tunnel;
    char key[128];
};

static int dial(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        perror("bench_tunnel: connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* A connection to the origin, straight or through the tunnel (CONNECT, then the raw stream). */
static int open_stream(const struct target *t, int tunnel)
{
    struct sockaddr_in o = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)t->origin_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (!tunnel)
        return dial(&o);
    int fd = dial(&t->tunnel);
    if (fd < 0)
        return -1;
    char head[512];
    int n = snprintf(head, sizeof head,
                     "CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                     "Proxy-Authorization: Bearer %s\r\n\r\n",
                     t->origin_port, t->origin_port, t->key);
    char resp[1024];
    size_t got = 0;
    if (n < 0 || (size_t)n >= sizeof head || write_all(fd, head, (size_t)n) != 0)
        goto fail;
    /* read byte by byte up to the blank line, so no byte of the stream is taken */
    while (got < sizeof resp - 1) {
        if (recv(fd, resp + got, 1, 0) != 1)
            goto fail;
        got++;
        resp[got] = '\0';
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "bench_tunnel: the tunnel refused: %.200s\n", resp);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* One transfer of mib MiB; returns MiB/s, or a negative number when it failed. */
static double transfer(const struct target *t, int tunnel, int up, uint64_t mib, char *buf)
{
    uint64_t count = mib << 20;
    unsigned char req[9] = {up ? 'U' : 'D'};
    for (int i = 1; i <= 8; i++)
        req[i] = (unsigned char)(count >> (8 * (i - 1)));
    double t0 = now_s();
    int fd = open_stream(t, tunnel);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, req, sizeof req);
    if (rc == 0 && up) {
        char k;
        rc = send_bulk(fd, count) == 0 && read_all(fd, &k, 1) == 0 && k == 'K' ? 0 : -1;
    } else if (rc == 0) {
        rc = recv_bulk(fd, buf, count);
    }
    double dt = now_s() - t0;
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "bench_tunnel: a %s %s transfer failed\n", tunnel ? "tunnelled" : "direct",
                up ? "up" : "down");
        return -1;
    }
    return (double)mib / dt;
}

/* utime + stime of pid in seconds, or -1. */
static double cpu_of(long pid)
{
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    unsigned long ut = 0, st = 0;
    /* after the name: state (3), then fields 4..13, utime (14), stime (15) */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_target(struct target *t, const char *port, const char *tun, const char *keyfile)
{
    char host[64];
    unsigned tport = 0;
    t->origin_port = (unsigned)strtoul(port, NULL, 10);
    if (sscanf(tun, "%63[^:]:%u", host, &tport) != 2 ||
        inet_pton(AF_INET, host, &t->tunnel.sin_addr) != 1) {
        fprintf(stderr, "bench_tunnel: expected the tunnel as IPV4:PORT, got %s\n", tun);
        return -1;
    }
    t->tunnel.sin_family = AF_INET;
    t->tunnel.sin_port = htons((uint16_t)tport);
    FILE *f = fopen(keyfile, "r");
    if (!f || !fgets(t->key, sizeof t->key, f)) {
        perror("bench_tunnel: agent key file");
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    t->key[strcspn(t->key, "\r\n")] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    memset(sendbuf, 'x', sizeof sendbuf);
    if (argc == 3 && strcmp(argv[1], "origin") == 0)
        return origin(argv[2]);
    struct target t = {0};
    char *buf = malloc(BENCH_BUF);
    if (!buf)
        return 1;
    if (argc >= 7 && argc <= 8 && strcmp(argv[1], "once") == 0) {
        if (parse_target(&t, argv[4], argv[5], argv[6]) != 0)
            return 1;
        uint64_t mib = argc > 7 ? strtoull(argv[7], NULL, 10) : 1024;
        double r =
            transfer(&t, strcmp(argv[2], "tunnel") == 0, strcmp(argv[3], "up") == 0, mib, buf);
        if (r < 0)
            return 1;
        printf("%s %s %.0f MiB/s\n", argv[2], argv[3], r);
        return 0;
    }
    if (argc < 5 || argc > 8 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: bench_tunnel origin PORTFILE\n"
                        "       bench_tunnel run ORIGIN_PORT TUNNEL_HOST:PORT KEYFILE [MIB "
                        "[ROUNDS [SERVER_PID]]]\n"
                        "       bench_tunnel once direct|tunnel up|down ORIGIN_PORT "
                        "TUNNEL_HOST:PORT KEYFILE [MIB]\n");
        return 2;
    }
    if (parse_target(&t, argv[2], argv[3], argv[4]) != 0)
        return 1;
    uint64_t mib = argc > 5 ? strtoull(argv[5], NULL, 10) : 1024;
    int rounds = argc > 6 ? atoi(argv[6]) : 7;
    long pid = argc > 7 ? strtol(argv[7], NULL, 10) : 0;
    if (rounds < 1 || rounds > MAX_ROUNDS || !mib) {
        fprintf(stderr, "bench_tunnel: ROUNDS is 1 to %d and MIB at least 1\n", MAX_ROUNDS);
        return 2;
    }
    /* [up/down][direct/tunnel][round]; cpu: the server's seconds per tunnelled round */
    static double r[2][2][MAX_ROUNDS], cpu[2][MAX_ROUNDS];
    (void)transfer(&t, 1, 1, 64, buf); /* warm up: first tunnel, first connect */
    for (int i = 0; i < rounds; i++) {
        for (int up = 1; up >= 0; up--) {
            /* alternate which goes first, so a slow moment of the machine is shared */
            for (int k = 0; k < 2; k++) {
                int tunnel = (i + k) % 2;
                double c0 = pid ? cpu_of(pid) : 0;
                double x = transfer(&t, tunnel, up, mib, buf);
                if (x < 0)
                    return 1;
                r[!up][tunnel][i] = x;
                if (tunnel)
                    cpu[!up][i] = pid ? cpu_of(pid) - c0 : 0;
            }
        }
    }
    printf("%-6s %14s %14s %7s", "", "direct MiB/s", "tunnel MiB/s", "ratio");
    if (pid)
        printf(" %18s", "cordond CPU s/GiB");
    printf("   (%" PRIu64 " MiB, median of %d interleaved rounds)\n", mib, rounds);
    for (int d = 0; d < 2; d++) {
        double ratios[MAX_ROUNDS];
        for (int i = 0; i < rounds; i++)
            ratios[i] = r[d][1][i] / r[d][0][i];
        double direct = median(r[d][0], rounds), tun = median(r[d][1], rounds);
        double ratio = median(ratios, rounds);
        printf("%-6s %14.0f %14.0f %6.2fx", d ? "down" : "up", direct, tun, ratio);
        if (pid)
            printf(" %18.2f", median(cpu[d], rounds) * 1024.0 / (double)mib);
        printf("\n");
    }
    return 0;
}
