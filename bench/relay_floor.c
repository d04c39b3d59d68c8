/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay_floor: the least any proxy in front of the stub can cost, the floor beside which
 * bench/bench_proxy.sh prints cordond's saturation rate. Each client connection gets its own
 * connection to the upstream, and bytes are copied both ways as they come (one recv and one
 * send per segment, epoll level-triggered, no parsing, no policy, no log). An HTTP proxy does
 * at least this much per request, so its rate against the stub's own can be read against
 * this one's: the part of the gap that any second hop on loopback costs, and the part that
 * is the proxy's own work. Only for benchmarks: it trusts both ends and keeps no limits.
 *   relay_floor --upstream PORT --ready-file FILE [--threads N]
 * It listens on 127.0.0.1 on a port of the kernel's choosing, written as port=P to FILE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF (64 * 1024)

struct end {
    int fd;
    struct end *peer;
};

static int listen_fd;
static struct sockaddr_in upstream;

static int nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A new client and its own upstream connection, both watched by this thread's set. */
static void take_client(int ep)
{
    /* blocking, as the upstream socket is: a send waits for room rather than drop bytes (the
     * reads never block: MSG_DONTWAIT) */
    int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return; /* another thread took it */
    int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct end *ce = malloc(sizeof *ce), *ue = malloc(sizeof *ue);
    if (u < 0 || !ce || !ue || connect(u, (struct sockaddr *)&upstream, sizeof upstream) != 0) {
        fprintf(stderr, "relay_floor: cannot reach the upstream: %s\n", strerror(errno));
        goto fail;
    }
    (void)nodelay(c);
    (void)nodelay(u);
    *ce = (struct end){c, ue};
    *ue = (struct end){u, ce};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ce};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) != 0)
        goto fail;
    ev.data.ptr = ue;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev) != 0)
        goto fail;
    return;
fail:
    close(c);
    if (u >= 0)
        close(u);
    free(ce);
    free(ue);
}

/* Both ends closed (which takes them out of the epoll set) but kept: an event for the peer may
 * still be in the batch being handled, and reads fd -1. A benchmark's few connections. */
static void drop(struct end *e)
{
    if (e->fd >= 0)
        close(e->fd);
    if (e->peer->fd >= 0)
        close(e->peer->fd);
    e->fd = e->peer->fd = -1;
}

static void *relay_main(void *arg)
{
    (void)arg;
    static __thread char buf[RELAY_BUF];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) != 0) {
        perror("relay_floor: epoll");
        exit(1);
    }
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            struct end *e = evs[i].data.ptr;
            if (!e) {
                take_client(ep);
                continue;
            }
            if (e->fd < 0)
                continue;
            ssize_t r = recv(e->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                drop(e);
                continue;
            }
            /* the peer is a loopback socket with room for a segment; a short send only
             * when it is going away */
            for (ssize_t off = 0; off < r;) {
                ssize_t w = send(e->peer->fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                off += w;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long up = 0, threads = 1;
    const char *ready = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--upstream") == 0)
            up = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--ready-file") == 0)
            ready = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = strtol(argv[i + 1], NULL, 10);
    }
    if (up <= 0 || up > 65535 || !ready || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: relay_floor --upstream PORT --ready-file FILE [--threads N]\n");
        return 2;
    }
    upstream = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)up)};
    upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(listen_fd, 1024) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &al) != 0) {
        perror("relay_floor: listen");
        return 1;
    }
    for (long i = 1; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, relay_main, NULL) != 0) {
            fprintf(stderr, "relay_floor: cannot start a thread\n");
            return 1;
        }
    }
    FILE *f = fopen(ready, "w");
    if (!f || fprintf(f, "port=%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0) {
        perror("relay_floor: ready file");
        return 1;
    }
    relay_main(NULL);
    return 0;
}
