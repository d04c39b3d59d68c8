/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static_responder: the baseline of bench/bench_stub.sh. It answers every HTTP/1.1 request
 * with the same bytes, read once from --response FILE (a whole response, head and body,
 * captured from the stub upstream), over keep-alive connections on loopback: the least a
 * server can do per request. Beside it, the stub's figures show what its own parsing,
 * scenario and log work cost. With --tls it speaks TLS (OpenSSL's defaults: TLS 1.3, session
 * tickets) with CERT (a PEM chain) and KEY, the fast TLS origin of bench/bench_http_rules.sh
 * --tls. Only for benchmarks: it trusts its client.
 *   static_responder --response FILE --ready-file FILE [--threads N] [--tls CERT KEY]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CBUF (64 * 1024)

static char *resp;
static size_t resp_len;
static int port;
static SSL_CTX *tls; /* NULL: plain HTTP */

struct sconn {
    int fd;
    SSL *ssl;                      /* with --tls */
    int handshake;                 /* the TLS handshake is still under way */
    size_t have, out_off, out_len; /* out_len: bytes of resp still owed, as a count */
    char in[CBUF];
};

/* Bytes of the first whole request in c->in (head and Content-Length body), or 0. */
static size_t request_len(struct sconn *c)
{
    char *e = memmem(c->in, c->have, "\r\n\r\n", 4);
    if (!e)
        return 0;
    size_t hl = (size_t)(e - c->in) + 4, cl = 0;
    for (char *p = c->in; p < e; p++)
        if ((*p == '\n') && strncasecmp(p + 1, "content-length:", 15) == 0)
            cl = strtoul(p + 16, NULL, 10);
    return hl + cl <= c->have ? hl + cl : 0;
}

/* send(2) or SSL_write: bytes written, -EAGAIN when the socket is full, -1 when it is gone. */
static ssize_t conn_send(struct sconn *c, const void *p, size_t n)
{
    if (!c->ssl) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        return w < 0 && errno == EAGAIN ? -EAGAIN : w > 0 ? w : -1;
    }
    int w = SSL_write(c->ssl, p, (int)n);
    if (w > 0)
        return w;
    int e = SSL_get_error(c->ssl, w);
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? -EAGAIN : -1;
}

/* read(2) or SSL_read: bytes read, -EAGAIN when there are none yet, -1 at the end. */
static ssize_t conn_recv(struct sconn *c, void *p, size_t n)
{
    if (!c->ssl) {
        ssize_t r = read(c->fd, p, n);
        return r < 0 && errno == EAGAIN ? -EAGAIN : r > 0 ? r : -1;
    }
    int r = SSL_read(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -EAGAIN : -1;
}

static void serve(int ep, struct sconn *c)
{
    while (c->handshake) { /* edge-triggered: on until OpenSSL waits for the socket */
        int r = SSL_accept(c->ssl);
        if (r == 1) {
            c->handshake = 0;
            break;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        goto gone;
    }
    for (;;) {
        while (c->out_len) { /* owed answers, written from the one shared copy */
            ssize_t n = conn_send(c, resp + c->out_off, resp_len - c->out_off);
            if (n == -EAGAIN)
                return;
            if (n <= 0)
                goto gone;
            c->out_off += (size_t)n;
            if (c->out_off == resp_len) {
                c->out_off = 0;
                c->out_len--;
            }
        }
        size_t rl;
        if ((rl = request_len(c)) > 0) {
            memmove(c->in, c->in + rl, c->have - rl);
            c->have -= rl;
            c->out_len++;
            continue;
        }
        if (c->have == CBUF)
            goto gone;
        ssize_t n = conn_recv(c, c->in + c->have, CBUF - c->have);
        if (n == -EAGAIN)
            return;
        if (n <= 0)
            goto gone;
        c->have += (size_t)n;
    }
gone:
    ERR_clear_error(); /* a failed peer's errors would be read as the next one's */
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

static void *worker(void *arg)
{
    int lfd = (int)(intptr_t)arg, ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[128];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 128, -1);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct sconn *c = calloc(1, sizeof *c);
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    if (tls && (!(c->ssl = SSL_new(tls)) || SSL_set_fd(c->ssl, fd) != 1)) {
                        SSL_free(c->ssl);
                        close(fd);
                        free(c);
                        continue;
                    }
                    c->handshake = c->ssl != NULL;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                    serve(ep, c);
                }
                continue;
            }
            serve(ep, evs[i].data.ptr);
        }
    }
    return NULL;
}

static int listen_on(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0)
        return -1;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    const char *rfile = NULL, *ready = NULL, *cert = NULL, *key = NULL;
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            cert = argv[++i];
            key = argv[i + 1];
        } else if (strcmp(argv[i], "--response") == 0)
            rfile = argv[i + 1];
        else if (strcmp(argv[i], "--ready-file") == 0)
            ready = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = (int)strtol(argv[i + 1], NULL, 10);
    }
    FILE *f = rfile ? fopen(rfile, "rb") : NULL;
    if (!f || !ready || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: static_responder --response FILE --ready-file FILE "
                        "[--threads N] [--tls CERT KEY]\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    resp_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    resp = malloc(resp_len + 1);
    if (!resp || fread(resp, 1, resp_len, f) != resp_len || resp_len == 0) {
        fprintf(stderr, "static_responder: cannot read %s\n", rfile);
        return 1;
    }
    fclose(f);
    if (cert && (!(tls = SSL_CTX_new(TLS_server_method())) ||
                 SSL_CTX_use_certificate_chain_file(tls, cert) != 1 ||
                 SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1 ||
                 SSL_CTX_check_private_key(tls) != 1)) {
        fprintf(stderr, "static_responder: --tls %s %s: not a PEM certificate chain and its key\n",
                cert, key);
        return 1;
    }
    if (tls)
        SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    signal(SIGPIPE, SIG_IGN);
    pthread_t th;
    for (int i = 0; i < threads; i++) {
        int lfd = listen_on();
        if (lfd < 0) {
            perror("static_responder: bind");
            return 1;
        }
        pthread_create(&th, NULL, worker, (void *)(intptr_t)lfd);
    }
    FILE *rf = fopen(ready, "w");
    if (!rf)
        return 1;
    fprintf(rf, "port=%d\n", port);
    fclose(rf);
    pause(); /* until SIGTERM */
    return 0;
}
