/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_http_rules: the latency that judging plain HTTP request by request adds
 * (policy/server/httpjudge.c), beside an opaque tunnel to the same origin and the origin
 * straight, on loopback (bench/bench_http_rules.sh starts the origin and two cordonds).
 *
 *   bench_http_rules [--tls CAFILE [--handshakes SECONDS,THREADS] [--origin-pid PID]]
 *                    ORIGIN_PORT OPAQUE_TUNNEL JUDGED_TUNNEL KEYFILE [REQUESTS [ROUNDS
 * [CONCURRENCY,... [OPAQUE_PID JUDGED_PID]]]]
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
 *
 * With --tls the origin speaks TLS and the client does too, with CAFILE (the origin's CA and
 * cordond's deployment CA) verifying the origin's address: end to end straight and through the
 * opaque tunnel, and to cordond through the judged one, whose host is "tls": "terminate"
 * (cordond answers with a certificate it minted, judges each request and talks TLS to the
 * origin). Then come the new connections per second on each path: THREADS threads (default 32)
 * for SECONDS (default 1) per run each open a connection (its tunnel and its TLS handshake, with
 * no session to resume), send one GET, read the answer and close, over and over, in the same
 * interleaved rounds. The warm-up before them leaves cordond's minted certificate cached. The
 * client's own handshakes share the machine with the servers, so each rate is also given as
 * CPU per connection: cordond's on the tunnels and, with --origin-pid, the origin's direct.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
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
/* with --tls the judged path is the terminated one */
static const char *path_name[P_COUNT] = {"direct", "opaque", "judged"};

struct target {
    unsigned origin_port;
    struct sockaddr_in tunnel[P_COUNT]; /* [P_DIRECT] is the origin itself */
    char key[128];
    SSL_CTX *tls; /* NULL: plain HTTP */
};

struct hconn {
    int fd;
    SSL *ssl; /* with --tls */
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

/* The client's TLS over fd, verified for 127.0.0.1 against CAFILE; no session is offered, so
 * each handshake is a full one. Returns the session, or NULL with the reason on stderr. */
static SSL *tls_open(const struct target *t, int fd, int path)
{
    SSL *ssl = SSL_new(t->tls);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") != 1)
        goto fail;
    ERR_clear_error();
    if (SSL_connect(ssl) == 1)
        return ssl;
    long v = SSL_get_verify_result(ssl);
    fprintf(stderr, "bench_http_rules: %s: TLS handshake failed: %s\n", path_name[path],
            v != X509_V_OK ? X509_verify_cert_error_string(v)
                           : ERR_reason_error_string(ERR_peek_last_error()));
fail:
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
}

/* A connection to the origin, straight or through path's tunnel (CONNECT, then HTTP), with its
 * TLS session in *ssl under --tls. */
static int open_conn(const struct target *t, int path, SSL **ssl)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    *ssl = NULL;
    if (fd < 0 || connect(fd, (const struct sockaddr *)&t->tunnel[path], sizeof t->tunnel[0])) {
        perror("bench_http_rules: connect");
        goto fail;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char head[512], resp[1024];
    size_t got = 0;
    if (path == P_DIRECT)
        goto tunnelled;
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
tunnelled:
    if (t->tls && !(*ssl = tls_open(t, fd, path)))
        goto fail;
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* send(2) or SSL_write of all n bytes; a TLS socket is non-blocking, and a request is small
 * enough that waiting for room is spinning for a moment. */
static int conn_send(const struct hconn *c, const void *p, size_t n)
{
    if (!c->ssl)
        return write_all(c->fd, p, n);
    for (;;) {
        int w = SSL_write(c->ssl, p, (int)n);
        if (w > 0)
            return 0; /* without partial writes, all of it */
        if (SSL_get_error(c->ssl, w) != SSL_ERROR_WANT_WRITE &&
            SSL_get_error(c->ssl, w) != SSL_ERROR_WANT_READ)
            return -1;
    }
}

/* recv(2) or SSL_read: bytes read, 0 when a TLS socket has none yet, -1 at the end. Plain, one
 * recv per readiness as before; TLS reads until OpenSSL waits, since bytes it has decrypted
 * but not handed over would never wake epoll. */
static ssize_t conn_recv(const struct hconn *c, void *p, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, p, n, 0);
        return r > 0 ? r : -1;
    }
    int r = SSL_read(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
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
        if ((c->fd = open_conn(t, path, &c->ssl)) < 0)
            goto out;
        nopen++;
        if (c->ssl)
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        c->warm = WARMUP;
        c->left = WARMUP + requests / conc + (i < requests % conc);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            goto out;
    }
    int active = conc;
    for (int i = 0; i < conc; i++) {
        conns[i].t0 = now_ns();
        if (conn_send(&conns[i], req, req_len) != 0)
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
            do {
                ssize_t r = conn_recv(c, c->in + c->have, RBUF - c->have);
                if (r < 0)
                    goto broken;
                if (r == 0)
                    break;
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
                    break;
                }
                c->t0 = now_ns();
                if (conn_send(c, req, req_len) != 0)
                    goto broken;
                c->left--;
            } while (c->ssl);
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
    for (int i = 0; i < nopen; i++) {
        SSL_free(conns[i].ssl);
        close(conns[i].fd);
    }
    close(ep);
    return rc;
}

/* The new-connection runs: each thread opens, asks once and closes until the deadline. */
struct hs_job {
    const struct target *t;
    int path;
    uint64_t until;
    long done; /* connections answered */
    int failed;
};

static void *hs_thread(void *arg)
{
    struct hs_job *j = arg;
    struct hconn c;
    while (now_ns() < j->until) {
        memset(&c, 0, offsetof(struct hconn, in));
        if ((c.fd = open_conn(j->t, j->path, &c.ssl)) < 0)
            goto fail;
        int d = 0;
        if (conn_send(&c, req, req_len) != 0)
            goto broke;
        while (d == 0) {
            ssize_t r = conn_recv(&c, c.in + c.have, RBUF - c.have);
            if (r <= 0) /* blocking: 0 is not "later" */
                goto broke;
            c.have += (size_t)r;
            d = answer_done(&c);
        }
        if (d < 0)
            goto broke;
        (void)SSL_shutdown(c.ssl); /* its close_notify, without waiting for the peer's */
        SSL_free(c.ssl);
        close(c.fd);
        j->done++;
    }
    return NULL;
broke:
    fprintf(stderr, "bench_http_rules: %s: a new connection got no answer: %.200s\n",
            path_name[j->path], c.have ? c.in : strerror(errno));
    SSL_free(c.ssl);
    close(c.fd);
fail:
    j->failed = 1;
    return NULL;
}

/* One new-connection run on path: nthreads threads for seconds; connections per second, and in
 * *count how many. */
static int hs_once(const struct target *t, int path, int nthreads, double seconds, double *rate,
                   long *count)
{
    enum { MAX_HS_THREADS = 64 };
    struct hs_job jobs[MAX_HS_THREADS];
    pthread_t th[MAX_HS_THREADS];
    uint64_t t0 = now_ns(), t1;
    long done = 0;
    int rc = 0, started = 0;
    for (int i = 0; i < nthreads && i < MAX_HS_THREADS; i++, started++) {
        jobs[i] = (struct hs_job){.t = t, .path = path, .until = t0 + (uint64_t)(seconds * 1e9)};
        if (pthread_create(&th[i], NULL, hs_thread, &jobs[i]) != 0)
            break;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        done += jobs[i].done;
        rc |= jobs[i].failed ? -1 : 0;
    }
    t1 = now_ns();
    *rate = (double)done / ((double)(t1 - t0) / 1e9);
    *count = done;
    return started == nthreads ? rc : -1;
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
    const char *cafile = NULL;
    double hs_seconds = 1;
    int hs_threads = 32;
    long origin_pid = 0;
    while (argc > 2 && strncmp(argv[1], "--", 2) == 0) {
        if (strcmp(argv[1], "--tls") == 0)
            cafile = argv[2];
        else if (strcmp(argv[1], "--origin-pid") == 0)
            origin_pid = strtol(argv[2], NULL, 10);
        else if (strcmp(argv[1], "--handshakes") != 0 ||
                 sscanf(argv[2], "%lf,%d", &hs_seconds, &hs_threads) != 2 || hs_seconds < 0.1 ||
                 hs_seconds > 60 || hs_threads < 1 || hs_threads > 64)
            argc = 0; /* the usage */
        if (argc == 0)
            break;
        argc -= 2;
        argv += 2;
    }
    if (argc < 5 || argc > 10 || argc == 9) {
        fprintf(
            stderr,
            "usage: bench_http_rules [--tls CAFILE [--handshakes SECONDS,THREADS] "
            "[--origin-pid PID]] ORIGIN_PORT OPAQUE_TUNNEL JUDGED_TUNNEL KEYFILE [REQUESTS [ROUNDS "
            "[CONCURRENCY,... [OPAQUE_PID JUDGED_PID]]]]\n"
            "  (--handshakes: SECONDS 0.1 to 60 per run, THREADS 1 to 64)\n");
        return 2;
    }
    struct target t = {.origin_port = (unsigned)strtoul(argv[1], NULL, 10)};
    if (cafile) {
        if (!(t.tls = SSL_CTX_new(TLS_client_method())) ||
            SSL_CTX_load_verify_locations(t.tls, cafile, NULL) != 1) {
            fprintf(stderr,
                    "bench_http_rules: --tls %s: not a readable PEM file of CA "
                    "certificates; give the origin's CA and cordond's deployment CA\n",
                    cafile);
            return 2;
        }
        SSL_CTX_set_verify(t.tls, SSL_VERIFY_PEER, NULL);
        /* the client's sessions are never offered again: every handshake is a full one */
        SSL_CTX_set_session_cache_mode(t.tls, SSL_SESS_CACHE_OFF);
        path_name[P_JUDGED] = "terminated";
    }
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
    /* new connections per second, [path][round], and cordond's CPU per connection */
    static double hs[P_COUNT][MAX_ROUNDS], hs_cpu[P_COUNT][MAX_ROUNDS];
    for (int i = 0; i < rounds; i++)
        for (int ci = 0; ci < nconc + (t.tls != NULL); ci++)
            for (int k = 0; k < P_COUNT; k++) {
                int p = (i + k) % P_COUNT;
                if (ci == nconc) { /* the round's new-connection runs, after its latency runs */
                    long who = p == P_DIRECT ? origin_pid : pids[p], done = 0;
                    double w = 0, c0 = who ? cpu_of(who, &w) : 0;
                    if (hs_once(&t, p, hs_threads, hs_seconds, &hs[p][i], &done) != 0 || !done)
                        return 1;
                    if (who)
                        hs_cpu[p][i] = (cpu_of(who, &w) - c0) * 1e6 / (double)done;
                    continue;
                }
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
           "(+%d warm-up per connection)%s\n",
           rounds, requests, WARMUP,
           t.tls ? "; TLS end to end direct and opaque, terminated by cordond" : "");
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
        printf("  %-10s %9s %9s%s\n", "", "p50", "p99",
               pids[1] ? "   CPU us/req: cordond  audit writer" : "");
        for (int p = 0; p < P_COUNT; p++) {
            printf("  %-10s %9.1f %9.1f", path_name[p], median(p50[ci][p], rounds),
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
        printf("  %-10s %9.1f %9.1f", "added", median(d50, rounds), median(d99, rounds));
        if (pids[1])
            printf("  %20.1f %13.1f", median(dc[0], rounds), median(dc[1], rounds));
        printf("   (%s - opaque, median of the per-round differences)\n", path_name[P_JUDGED]);
        printf("  %-10s %8.2fx %8.2fx   (%s / opaque, median of the per-round ratios)\n", "ratio",
               median(r50, rounds), median(r99, rounds), path_name[P_JUDGED]);
    }
    if (t.tls) {
        double rd[MAX_ROUNDS], ro[MAX_ROUNDS];
        for (int i = 0; i < rounds; i++) {
            rd[i] = hs[P_JUDGED][i] / hs[P_DIRECT][i];
            ro[i] = hs[P_JUDGED][i] / hs[P_OPAQUE][i];
        }
        printf("new TLS connections per second (connect, tunnel, full handshake, one GET, "
               "close): %d threads, %.1f s per run, median of %d rounds\n",
               hs_threads, hs_seconds, rounds);
        for (int p = 0; p < P_COUNT; p++) {
            printf("  %-10s %9.0f /s", path_name[p], median(hs[p], rounds));
            if (p == P_DIRECT ? origin_pid != 0 : pids[1] != 0)
                printf("   %-7s CPU %7.1f us/connection", p == P_DIRECT ? "origin" : "cordond",
                       median(hs_cpu[p], rounds));
            printf("\n");
        }
        printf("  %-10s %8.2fx      (terminated / direct, median of the per-round ratios)\n",
               "ratio", median(rd, rounds));
        printf("  %-10s %8.2fx      (terminated / opaque)\n", "", median(ro, rounds));
    }
    /* every round's figures, so that the spread behind each median is in the report */
    printf("each round, p50/p99 us: direct opaque %s\n", path_name[P_JUDGED]);
    for (int ci = 0; ci < nconc; ci++)
        for (int i = 0; i < rounds; i++) {
            printf("  c=%-3d round %-2d", concs[ci], i + 1);
            for (int p = 0; p < P_COUNT; p++)
                printf("  %7.1f/%-7.1f", p50[ci][p][i], p99[ci][p][i]);
            printf("\n");
        }
    for (int i = 0; t.tls && i < rounds; i++)
        printf("  new connections/s round %-2d %9.0f %9.0f %9.0f\n", i + 1, hs[P_DIRECT][i],
               hs[P_OPAQUE][i], hs[P_JUDGED][i]);
    SSL_CTX_free(t.tls);
    free(lat);
    return 0;
}
