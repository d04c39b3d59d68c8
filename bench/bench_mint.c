/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What minting costs a TLS handshake (policy/server/mint.h). Full handshakes (TLS 1.3,
 * P-256, no resumption) over an in-memory BIO pair, the client trusting the CA alone and
 * checking the host name it sent by SNI, the server:
 *
 *   baseline   one SSL_CTX made once with the leaf, as an origin serving its own certificate
 *   cached     mint_server_ctx(host) for every connection, the host's leaf in the cache
 *   new host   mint_server_ctx for a host never seen, so every connection mints a leaf
 *
 * Both ends run in the one thread, so a handshake's figure holds the client's work too; the
 * difference between the rows is what mint adds. Beside them, mint_server_ctx alone on a hit
 * and on a miss. Medians of ROUNDS rounds; the machine is shared and noisy.
 *
 * usage: bench_mint [HANDSHAKES_PER_ROUND]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "policy/server/mint.h"

#define ROUNDS 5

static char err[512];
static unsigned long serial; /* names a host never seen */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_mint: %s: %s\n", what, err);
    exit(1);
}

/* One full handshake between client_ctx asking for host and server_ctx. */
static void handshake(SSL_CTX *server_ctx, SSL_CTX *client_ctx, const char *host)
{
    SSL *s = SSL_new(server_ctx), *c = SSL_new(client_ctx);
    BIO *sb, *cb;
    if (!s || !c || BIO_new_bio_pair(&sb, 0, &cb, 0) != 1)
        die("cannot set up a handshake");
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, host);
    SSL_set1_host(c, host);
    int cd = 0, sd = 0;
    for (int i = 0; i < 50 && !(cd && sd); i++) {
        if (!cd) {
            int r = SSL_do_handshake(c);
            if (r == 1)
                cd = 1;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
                break;
        }
        if (!sd) {
            int r = SSL_do_handshake(s);
            if (r == 1)
                sd = 1;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
                break;
        }
    }
    if (!(cd && sd)) {
        snprintf(err, sizeof err, "verify result %ld", SSL_get_verify_result(c));
        die("a handshake failed");
    }
    SSL_free(s);
    SSL_free(c);
}

enum mode { BASELINE, CACHED, NEW_HOST, HIT_ONLY, MISS_ONLY };

static double round_us(enum mode m, struct mint_ca *ca, SSL_CTX *fixed, SSL_CTX *client, int n)
{
    char host[64];
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        SSL_CTX *ctx = NULL;
        if (m == NEW_HOST || m == MISS_ONLY)
            snprintf(host, sizeof host, "h%lu.bench.internal", serial++);
        else
            snprintf(host, sizeof host, "crm.bench.internal");
        if (m != BASELINE && mint_server_ctx(ca, host, &ctx, err, sizeof err) != 0)
            die("mint_server_ctx");
        if (m <= NEW_HOST)
            handshake(m == BASELINE ? fixed : ctx, client, host);
        SSL_CTX_free(ctx);
    }
    return (now_us() - t0) / n;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 300;
    struct mint_ca *ca = NULL;
    SSL_CTX *fixed = NULL, *client = SSL_CTX_new(TLS_client_method());
    if (n < 1 || !client)
        return 2;
    /* A cache large enough that the new-host rows never evict: minting, not eviction. */
    struct mint_ca_opts o = {.cache_max = (size_t)n * ROUNDS * 2 + 16};
    if (mint_ca_ephemeral(&o, &ca, err, sizeof err) != 0)
        die("mint_ca_ephemeral");
    SSL_CTX_set_verify(client, SSL_VERIFY_PEER, NULL);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(client), mint_ca_cert(ca));
    SSL_CTX_set_session_cache_mode(client, SSL_SESS_CACHE_OFF);

    /* The baseline's context: the same leaf, in a context of its own made once. */
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    if (mint_leaf(ca, "crm.bench.internal", &cert, &key, err, sizeof err) != 0)
        die("mint_leaf");
    fixed = SSL_CTX_new(TLS_server_method());
    if (!fixed || SSL_CTX_use_certificate(fixed, cert) != 1 ||
        SSL_CTX_use_PrivateKey(fixed, key) != 1)
        die("the baseline context");
    X509_free(cert);
    EVP_PKEY_free(key);

    static const char *names[] = {"baseline (one context, made once)",
                                  "cached (mint_server_ctx hit)", "new host (mint_server_ctx miss)",
                                  "mint_server_ctx hit alone", "mint_server_ctx miss alone"};
    printf("bench_mint: %d per round, median of %d rounds, in-memory full handshakes\n", n, ROUNDS);
    for (int m = BASELINE; m <= MISS_ONLY; m++) {
        double r[ROUNDS];
        int per = m == HIT_ONLY ? n * 100 : n;
        for (int i = 0; i < ROUNDS; i++)
            r[i] = round_us((enum mode)m, ca, fixed, client, per);
        qsort(r, ROUNDS, sizeof *r, cmp);
        double med = r[ROUNDS / 2];
        printf("  %-36s %10.2f us  %10.0f /s\n", names[m], med, 1e6 / med);
    }
    struct mint_stats s;
    mint_stats(ca, &s);
    printf("  cache: %zu leaves, %lu hits, %lu mints, %lu evictions\n", s.cached, s.hits, s.mints,
           s.evictions);
    SSL_CTX_free(fixed);
    SSL_CTX_free(client);
    mint_ca_free(ca);
    return 0;
}
