/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond under load, each figure beside a baseline measured in the same run:
 *   - policy fetch latency (p50, p99) with CLIENTS keep-alive clients fetching at once,
 *     beside a bare libmicrohttpd server started here with the same thread pool and a fixed
 *     answer (the cost of MHD and the loopback path alone), and GET /healthz on cordond;
 *   - CONNECT tunnel throughput beside a direct loopback connection to the same sink.
 * The machine is shared and noisy: latencies are pooled over every request, throughputs are
 * the median of ROUNDS rounds. Run through bench/bench_server.sh, which starts the server.
 *
 * usage: bench_server HTTP_HOST:PORT TUNNEL_HOST:PORT KEY [THREADS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
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

static struct sockaddr_in http_sa, bare_sa, tun_sa, sink_sa;
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
    const struct sockaddr_in *sa;
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
    int fd = dial(c->sa);
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

static void latency(const struct sockaddr_in *sa, const char *path, double *p50, double *p99,
                    int *errors)
{
    static struct client cs[CLIENTS];
    pthread_t th[CLIENTS];
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        cs[i] = (struct client){.sa = sa, .path = path, .start = &b};
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
                         "%s\r\n\r\n",
                         ntohs(sink_sa.sin_port), key);
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

static enum MHD_Result bare(void *cls, struct MHD_Connection *c, const char *url,
                            const char *method, const char *version, const char *upload,
                            size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size;
    /* Answer on the second call, as cordond does: a response queued before libmicrohttpd
     * has finished reading the request ends the keep-alive connection. */
    static int seen;
    if (!*con_cls) {
        *con_cls = &seen;
        return MHD_YES;
    }
    static const char body[] = "{\"status\":\"ok\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || parse_addr(argv[1], &http_sa) || parse_addr(argv[2], &tun_sa)) {
        fprintf(stderr, "usage: bench_server HTTP_HOST:PORT TUNNEL_HOST:PORT KEY [THREADS]\n");
        return 2;
    }
    key = argv[3];
    signal(SIGPIPE, SIG_IGN); /* a closed connection is counted as an error, not fatal */
    unsigned threads = argc == 5 ? (unsigned)strtoul(argv[4], NULL, 10) : 2;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, bare,
        NULL, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
                                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
        MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        fprintf(stderr, "bench_server: cannot start the bare libmicrohttpd baseline\n");
        return 1;
    }
    bare_sa.sin_family = AF_INET;
    bare_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bare_sa.sin_port = htons(info->port);
    double p50, p99, h50, h99, b50, b99;
    int e1, e2, e3;
    latency(&bare_sa, "/", &b50, &b99, &e3); /* warm-up */
    latency(&http_sa, "/healthz", &h50, &h99, &e2);
    latency(&http_sa, "/v1/policy", &p50, &p99, &e1);
    latency(&bare_sa, "/", &b50, &b99, &e3);
    latency(&http_sa, "/healthz", &h50, &h99, &e2);
    MHD_stop_daemon(d);
    printf("policy fetch, %d clients x %d requests (keep-alive), %u server threads\n", CLIENTS,
           REQUESTS, threads);
    printf("  %-24s p50 %8.0f us   p99 %8.0f us   errors %d\n", "cordond GET /v1/policy", p50, p99,
           e1);
    printf("  %-24s p50 %8.0f us   p99 %8.0f us   errors %d\n", "cordond GET /healthz", h50, h99,
           e2);
    printf("  %-24s p50 %8.0f us   p99 %8.0f us   errors %d\n", "bare MHD (base)", b50, b99, e3);
    printf("  %-24s p50 x%.2f        p99 x%.2f\n", "ratio policy/base", p50 / b50, p99 / b99);

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
    return e1 || e2 || e3 ? 1 : 0;
}
