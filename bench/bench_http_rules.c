/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_http_rules: the latency that judging plain HTTP request by request adds
 * (policy/server/httpjudge.c), beside an opaque tunnel to the same origin and the origin
 * straight, on loopback (bench/bench_http_rules.sh starts the origin and two cordonds).
 *
 *   bench_http_rules ORIGIN_PORT OPAQUE_TUNNEL JUDGED_TUNNEL KEYFILE [REQUESTS [ROUNDS
 *                    [CONCURRENCY,... [OPAQUE_PID JUDGED_PID]]]]
 *
 * OPAQUE_TUNNEL and JUDGED_TUNNEL are two cordonds' tunnel listeners (IPV4:PORT): the first
 * relays ORIGIN_PORT as a plain allowed endpoint, the second names it in sandbox.network.http.
 * For each concurrency C (default 1,32) and each path, one run opens C keep-alive
 * connections, each through its own tunnel, and keeps each busy with one small GET after
 * another until REQUESTS requests (default 20000, split across the connections) are
 * answered, after a discarded warm-up of WARMUP requests per connection. A request's latency
 * is from the send of its bytes to the last byte of its answer, in nanoseconds, so p50 and p99
 * are exact over the run. Rounds interleave the three paths, rotating which goes first so that
 * a slow moment of a shared machine falls on each in turn; the report is the median over
 * ROUNDS (default 7) rounds of each run's p50 and p99, and "added" is the median of each
 * round's judged minus opaque. With the two PIDs it adds each cordond's CPU per request.
 *
 * One epoll thread drives every connection: the client costs the same on each path, and the
 * figure that matters is the difference measured in the same run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 64
#define MAX_CONC 256
#define MAX_CONCS 8
#define WARMUP 50
#define RBUF 4096

enum { P_DIRECT, P_OPAQUE, P_JUDGED, P_COUNT };
static const char *const path_name[P_COUNT] = {"direct", "opaque", "judged"};

struct target {
    unsigned origin_port;
    struct sockaddr_in tunnel[P_COUNT]; /* [P_DIRECT] is the origin itself */
    char key[128];
};

struct hconn {
    int fd;
    int left; /* requests still to send, warm-up included */
    int warm; /* warm-up requests still to send */
    uint64_t t0;
    size_t have;
    char in[RBUF];
};

static char req[512];
static size_t req_len;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* A connection to the origin, straight or through path's tunnel (CONNECT, then HTTP). */
static int open_conn(const struct target *t, int path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (const struct sockaddr *)&t->tunnel[path], sizeof t->tunnel[0])) {
        perror("bench_http_rules: connect");
        goto fail;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (path == P_DIRECT)
        return fd;
    char head[512], resp[1024];
    size_t got = 0;
    int n = snprintf(head, sizeof head,
                     "CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                     "Proxy-Authorization: Bearer %s\r\n\r\n",
                     t->origin_port, t->origin_port, t->key);
    if (n < 0 || (size_t)n >= sizeof head || write_all(fd, head, (size_t)n) != 0)
        goto fail;
    /* byte by byte up to the blank line, so that no byte of the stream is taken */
    while (got < sizeof resp - 1) {
        if (recv(fd, resp + got, 1, 0) != 1)
            goto fail;
        resp[++got] = '\0';
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "bench_http_rules: the %s tunnel refused: %.200s\n", path_name[path], resp);
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* 1 when c->in holds one whole 200 answer and nothing more, 0 when it needs more, -1 when it
 * is not the answer a GET the rules allow gets. */
static int answer_done(const struct hconn *c)
{
    const char *e = memmem(c->in, c->have, "\r\n\r\n", 4);
    if (!e)
        return c->have < RBUF ? 0 : -1;
    if (c->have < 12 || memcmp(c->in, "HTTP/1.1 200", 12) != 0)
        return -1;
    size_t hl = (size_t)(e - c->in) + 4, cl = 0;
    int seen = 0;
    for (const char *p = c->in; p < e; p++)
        if (*p == '\n' && strncasecmp(p + 1, "content-length:", 15) == 0) {
            cl = strtoul(p + 16, NULL, 10);
            seen = 1;
        }
    if (!seen || hl + cl > RBUF)
        return -1;
    return c->have < hl + cl ? 0 : c->have == hl + cl ? 1 : -1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(uint32_t *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

/* One run: conc connections on path, requests answered in all (after the warm-up); the
 * run's p50 and p99 in microseconds. Returns 0, or -1 with the reason on stderr. */
static int run_once(const struct target *t, int path, int conc, int requests, uint32_t *lat,
                    double *p50, double *p99)
{
    static struct hconn conns[MAX_CONC];
    int ep = epoll_create1(0), rc = -1, nopen = 0;
    size_t nlat = 0;
    if (ep < 0)
        return -1;
    for (int i = 0; i < conc; i++) {
        struct hconn *c = &conns[i];
        memset(c, 0, offsetof(struct hconn, in));
        if ((c->fd = open_conn(t, path)) < 0)
            goto out;
        nopen++;
        c->warm = WARMUP;
        c->left = WARMUP + requests / conc + (i < requests % conc);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            goto out;
    }
    int active = conc;
    for (int i = 0; i < conc; i++) {
        conns[i].t0 = now_ns();
        if (write_all(conns[i].fd, req, req_len) != 0)
            goto broken;
        conns[i].left--;
    }
    while (active) {
        struct epoll_event evs[MAX_CONC];
        int n = epoll_wait(ep, evs, MAX_CONC, 10000);
        if (n <= 0) {
            fprintf(stderr, "bench_http_rules: %s: no answer within 10 s\n", path_name[path]);
            goto out;
        }
        for (int k = 0; k < n; k++) {
            struct hconn *c = evs[k].data.ptr;
            ssize_t r = recv(c->fd, c->in + c->have, RBUF - c->have, 0);
            if (r <= 0)
                goto broken;
            c->have += (size_t)r;
            int d = answer_done(c);
            if (d < 0) {
                fprintf(stderr, "bench_http_rules: %s: unexpected answer: %.200s\n",
                        path_name[path], c->in);
                goto out;
            }
            if (!d)
                continue;
            uint64_t t1 = now_ns();
            if (c->warm)
                c->warm--;
            else
                lat[nlat++] = (uint32_t)(t1 - c->t0 < UINT32_MAX ? t1 - c->t0 : UINT32_MAX);
            c->have = 0;
            if (c->left == 0) {
                active--;
                continue;
            }
            c->t0 = now_ns();
            if (write_all(c->fd, req, req_len) != 0)
                goto broken;
            c->left--;
        }
    }
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    *p50 = pct_us(lat, nlat, 0.50);
    *p99 = pct_us(lat, nlat, 0.99);
    rc = 0;
    goto out;
broken:
    fprintf(stderr, "bench_http_rules: %s: a connection broke: %s\n", path_name[path],
            strerror(errno));
out:
    for (int i = 0; i < nopen; i++)
        close(conns[i].fd);
    close(ep);
    return rc;
}

/* utime + stime of pid in seconds, or -1. */
static double cpu_of_one(long pid)
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

/* cpu_of_one of pid, and in *writer that of the children its main thread forked: cordond's
 * audit writer is one, and every judged request's http.request record costs it a parse and a
 * write. */
static double cpu_of(long pid, double *writer)
{
    char path[64], list[1024];
    *writer = 0;
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(list, 1, sizeof list - 1, f);
        fclose(f);
        list[n] = '\0';
        for (char *p = list, *e; *p; p = e) {
            long child = strtol(p, &e, 10);
            if (e == p)
                break;
            double c = cpu_of_one(child);
            if (c > 0)
                *writer += c;
        }
    }
    return cpu_of_one(pid);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int parse_addr(struct sockaddr_in *sa, const char *s)
{
    char host[64];
    unsigned port = 0;
    if (sscanf(s, "%63[^:]:%u", host, &port) != 2 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 10 || argc == 9) {
        fprintf(stderr, "usage: bench_http_rules ORIGIN_PORT OPAQUE_TUNNEL JUDGED_TUNNEL KEYFILE "
                        "[REQUESTS [ROUNDS [CONCURRENCY,... [OPAQUE_PID JUDGED_PID]]]]\n");
        return 2;
    }
    struct target t = {.origin_port = (unsigned)strtoul(argv[1], NULL, 10)};
    t.tunnel[P_DIRECT] = (struct sockaddr_in){.sin_family = AF_INET,
                                              .sin_port = htons((uint16_t)t.origin_port),
                                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (parse_addr(&t.tunnel[P_OPAQUE], argv[2]) != 0 ||
        parse_addr(&t.tunnel[P_JUDGED], argv[3]) != 0) {
        fprintf(stderr, "bench_http_rules: expected the tunnels as IPV4:PORT\n");
        return 2;
    }
    FILE *f = fopen(argv[4], "r");
    if (!f || !fgets(t.key, sizeof t.key, f)) {
        perror("bench_http_rules: agent key file");
        return 1;
    }
    fclose(f);
    t.key[strcspn(t.key, "\r\n")] = '\0';
    int requests = argc > 5 ? (int)strtol(argv[5], NULL, 10) : 20000;
    int rounds = argc > 6 ? (int)strtol(argv[6], NULL, 10) : 7;
    int concs[MAX_CONCS] = {1, 32}, nconc = 2;
    if (argc > 7) {
        nconc = 0;
        for (char *s = argv[7], *e; *s && nconc < MAX_CONCS; s = *e ? e + 1 : e) {
            concs[nconc] = (int)strtol(s, &e, 10);
            if (concs[nconc] < 1 || concs[nconc] > MAX_CONC || (*e && *e != ',')) {
                fprintf(stderr, "bench_http_rules: a concurrency is 1 to %d\n", MAX_CONC);
                return 2;
            }
            nconc++;
        }
    }
    long pids[P_COUNT] = {0, argc > 9 ? strtol(argv[8], NULL, 10) : 0,
                          argc > 9 ? strtol(argv[9], NULL, 10) : 0};
    if (rounds < 1 || rounds > MAX_ROUNDS || requests < 100 || requests > 10000000 || !nconc) {
        fprintf(stderr, "bench_http_rules: ROUNDS is 1 to %d, REQUESTS 100 to 10000000\n",
                MAX_ROUNDS);
        return 2;
    }
    /* a GET the third rule allows, with the headers a client library sends */
    int n = snprintf(req, sizeof req,
                     "GET /api/orders/1042?fields=status,total HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%u\r\nUser-Agent: bench_http_rules/1\r\n"
                     "Accept: application/json\r\nAccept-Encoding: identity\r\n\r\n",
                     t.origin_port);
    if (n < 0 || (size_t)n >= sizeof req)
        return 1;
    req_len = (size_t)n;
    uint32_t *lat = malloc((size_t)requests * sizeof *lat);
    if (!lat)
        return 1;
    /* [conc][path][round] */
    static double p50[MAX_CONCS][P_COUNT][MAX_ROUNDS], p99[MAX_CONCS][P_COUNT][MAX_ROUNDS];
    /* CPU us per request: [..][0] cordond, [..][1] its audit writer */
    static double cpu[MAX_CONCS][P_COUNT][2][MAX_ROUNDS];
    for (int ci = 0; ci < nconc; ci++) /* warm up: first tunnels, first connects */
        for (int p = 0; p < P_COUNT; p++) {
            double a, b;
            if (run_once(&t, p, concs[ci], requests / 10 + 100, lat, &a, &b) != 0)
                return 1;
        }
    for (int i = 0; i < rounds; i++)
        for (int ci = 0; ci < nconc; ci++)
            for (int k = 0; k < P_COUNT; k++) {
                int p = (i + k) % P_COUNT;
                double w0 = 0, w1 = 0, c0 = pids[p] ? cpu_of(pids[p], &w0) : 0;
                if (run_once(&t, p, concs[ci], requests, lat, &p50[ci][p][i], &p99[ci][p][i]))
                    return 1;
                if (pids[p]) {
                    double c1 = cpu_of(pids[p], &w1), per = 1e6 / (requests + WARMUP * concs[ci]);
                    cpu[ci][p][0][i] = (c1 - c0) * per;
                    cpu[ci][p][1][i] = (w1 - w0) * per;
                }
            }
    printf("per-request latency in us: median of %d interleaved rounds, %d requests per run "
           "(+%d warm-up per connection)\n",
           rounds, requests, WARMUP);
    for (int ci = 0; ci < nconc; ci++) {
        double d50[MAX_ROUNDS], d99[MAX_ROUNDS], r50[MAX_ROUNDS], r99[MAX_ROUNDS];
        for (int i = 0; i < rounds; i++) {
            d50[i] = p50[ci][P_JUDGED][i] - p50[ci][P_OPAQUE][i];
            d99[i] = p99[ci][P_JUDGED][i] - p99[ci][P_OPAQUE][i];
            r50[i] = p50[ci][P_JUDGED][i] / p50[ci][P_OPAQUE][i];
            r99[i] = p99[ci][P_JUDGED][i] / p99[ci][P_OPAQUE][i];
        }
        printf("concurrency %d (%d keep-alive connection%s%s)\n", concs[ci], concs[ci],
               concs[ci] > 1 ? "s" : "", concs[ci] > 1 ? ", each through its own tunnel" : "");
        printf("  %-8s %9s %9s%s\n", "", "p50", "p99",
               pids[1] ? "   CPU us/req: cordond  audit writer" : "");
        for (int p = 0; p < P_COUNT; p++) {
            printf("  %-8s %9.1f %9.1f", path_name[p], median(p50[ci][p], rounds),
                   median(p99[ci][p], rounds));
            if (pids[1] && p != P_DIRECT)
                printf("  %20.1f %13.1f", median(cpu[ci][p][0], rounds),
                       median(cpu[ci][p][1], rounds));
            printf("\n");
        }
        double dc[2][MAX_ROUNDS];
        for (int w = 0; w < 2; w++)
            for (int i = 0; i < rounds; i++)
                dc[w][i] = cpu[ci][P_JUDGED][w][i] - cpu[ci][P_OPAQUE][w][i];
        printf("  %-8s %9.1f %9.1f", "added", median(d50, rounds), median(d99, rounds));
        if (pids[1])
            printf("  %20.1f %13.1f", median(dc[0], rounds), median(dc[1], rounds));
        printf("   (judged - opaque, median of the per-round differences)\n");
        printf("  %-8s %8.2fx %8.2fx   (judged / opaque, median of the per-round ratios)\n",
               "ratio", median(r50, rounds), median(r99, rounds));
    }
    /* every round's figures, so that the spread behind each median is in the report */
    printf("each round, p50/p99 us: direct opaque judged\n");
    for (int ci = 0; ci < nconc; ci++)
        for (int i = 0; i < rounds; i++) {
            printf("  c=%-3d round %-2d", concs[ci], i + 1);
            for (int p = 0; p < P_COUNT; p++)
                printf("  %7.1f/%-7.1f", p50[ci][p][i], p99[ci][p][i]);
            printf("\n");
        }
    free(lat);
    return 0;
}
