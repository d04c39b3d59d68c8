/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond under load, each figure beside a baseline measured in the same run:
 *   - policy fetch latency (p50, p99) with CLIENTS keep-alive clients fetching at once,
 *     beside GET /healthz on the same server (the cost of MHD and the network path alone);
 *   - CONNECT tunnel throughput beside a direct loopback connection to the same sink.
 * The machine is shared and noisy: latencies are pooled over every request, throughputs are
 * the median of ROUNDS rounds. Run through bench/bench_server.sh, which starts the server.
 *
 * usage: bench_server HTTP_HOST:PORT TUNNEL_HOST:PORT KEY
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 100
#define REQUESTS 40 /* per client and per path */
#define ROUNDS 5
#define BYTES (128u << 20)

static struct sockaddr_in http_sa, tun_sa, sink_sa;
static const char *key;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *c = strrchr(s, ':');
    if (!c || (size_t)(c - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = '\0';
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)strtoul(c + 1, NULL, 10));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int dial(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        perror("bench_server: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One request on a keep-alive connection; returns the status or -1. */
static int request(int fd, const char *req, size_t len)
{
    char buf[16384];
    size_t got = 0;
    if (write(fd, req, len) != (ssize_t)len)
        return -1;
    char *end = NULL;
    while (!end) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = got - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    return (int)strtol(buf + 9, NULL, 10); /* "HTTP/1.1 200" */
}

struct client {
    const char *path;
    double lat[REQUESTS];
    int errors;
    pthread_barrier_t *start;
};

static void *client(void *arg)
{
    struct client *c = arg;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n", c->path,
                     key);
    int fd = dial(&http_sa);
    pthread_barrier_wait(c->start);
    for (int i = 0; i < REQUESTS; i++) {
        double t0 = now_us();
        if (request(fd, req, (size_t)n) != 200)
            c->errors++;
        c->lat[i] = now_us() - t0;
    }
    close(fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency(const char *path, double *p50, double *p99, int *errors)
{
    static struct client cs[CLIENTS];
    pthread_t th[CLIENTS];
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        cs[i] = (struct client){.path = path, .start = &b};
        pthread_create(&th[i], NULL, client, &cs[i]);
    }
    static double all[CLIENTS * REQUESTS];
    *errors = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        memcpy(all + i * REQUESTS, cs[i].lat, sizeof cs[i].lat);
        *errors += cs[i].errors;
    }
    pthread_barrier_destroy(&b);
    qsort(all, CLIENTS * REQUESTS, sizeof all[0], cmp_d);
    *p50 = all[CLIENTS * REQUESTS / 2];
    *p99 = all[CLIENTS * REQUESTS * 99 / 100];
}

/* The sink: reads a connection to EOF, then answers one byte so the sender knows it all
 * arrived. */
static void *sink(void *arg)
{
    int l = *(int *)arg;
    char *buf = malloc(1 << 16);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        while (read(c, buf, 1 << 16) > 0)
            ;
        if (write(c, "k", 1) != 1)
            perror("sink");
        close(c);
    }
    return NULL;
}

static double push(int tunnel)
{
    char *buf = calloc(1, 1 << 16), ack;
    int fd = dial(tunnel ? &tun_sa : &sink_sa);
    double t0 = now_us();
    if (tunnel) {
        char req[512], resp[256];
        int n = snprintf(req, sizeof req,
                         "CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer "
                         "%s\r\n\r\n", ntohs(sink_sa.sin_port), key);
        ssize_t r;
        if (write(fd, req, (size_t)n) != n || (r = read(fd, resp, sizeof resp - 1)) <= 0 ||
            strncmp(resp, "HTTP/1.1 200", 12) != 0) {
            fprintf(stderr, "bench_server: the tunnel was refused\n");
            exit(1);
        }
    }
    for (size_t sent = 0; sent < BYTES;) {
        ssize_t w = write(fd, buf, 1 << 16);
        if (w <= 0) {
            perror("bench_server: write");
            exit(1);
        }
        sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    if (read(fd, &ack, 1) != 1) {
        fprintf(stderr, "bench_server: no acknowledgement from the sink\n");
        exit(1);
    }
    double secs = (now_us() - t0) / 1e6;
    close(fd);
    free(buf);
    return BYTES / secs / (1 << 20);
}

int main(int argc, char **argv)
{
    if (argc != 4 || parse_addr(argv[1], &http_sa) || parse_addr(argv[2], &tun_sa)) {
        fprintf(stderr, "usage: bench_server HTTP_HOST:PORT TUNNEL_HOST:PORT KEY\n");
        return 2;
    }
    key = argv[3];
    double p50, p99, h50, h99;
    int e1, e2;
    latency("/healthz", &h50, &h99, &e2); /* warm-up */
    latency("/v1/policy", &p50, &p99, &e1);
    latency("/healthz", &h50, &h99, &e2);
    printf("policy fetch, %d clients x %d requests (keep-alive)\n", CLIENTS, REQUESTS);
    printf("  %-22s p50 %8.0f us   p99 %8.0f us   errors %d\n", "GET /v1/policy", p50, p99, e1);
    printf("  %-22s p50 %8.0f us   p99 %8.0f us   errors %d\n", "GET /healthz (base)", h50, h99,
           e2);
    printf("  %-22s p50 x%.2f        p99 x%.2f\n", "ratio", p50 / h50, p99 / h99);

    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t sl = sizeof sink_sa;
    sink_sa.sin_family = AF_INET;
    sink_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&sink_sa, sizeof sink_sa) != 0 || listen(l, 16) != 0 ||
        getsockname(l, (struct sockaddr *)&sink_sa, &sl) != 0) {
        perror("bench_server: sink");
        return 1;
    }
    pthread_t st;
    pthread_create(&st, NULL, sink, &l);
    double direct[ROUNDS], tun[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) { /* interleaved, so drift hits both alike */
        direct[i] = push(0);
        tun[i] = push(1);
    }
    qsort(direct, ROUNDS, sizeof direct[0], cmp_d);
    qsort(tun, ROUNDS, sizeof tun[0], cmp_d);
    printf("tunnel throughput, %u MiB per round, median of %d rounds\n", BYTES >> 20, ROUNDS);
    printf("  %-22s %8.0f MiB/s\n", "CONNECT tunnel", tun[ROUNDS / 2]);
    printf("  %-22s %8.0f MiB/s\n", "direct (base)", direct[ROUNDS / 2]);
    printf("  %-22s x%.2f\n", "ratio", tun[ROUNDS / 2] / direct[ROUNDS / 2]);
    return e1 || e2 ? 1 : 0;
}
