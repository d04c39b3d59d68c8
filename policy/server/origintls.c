/* SPDX-License-Identifier: Apache-2.0 */
/* The origins' TLS context and the sessions it resumes (see origintls.h). */
#include "policy/server/origintls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#define KEY_MAX 272 /* "host:port": a name of up to 255 bytes, a colon and a port */

struct kept {
    char key[KEY_MAX];
    SSL_SESSION *sess;
    unsigned long long used; /* when it was last stored: the oldest goes first */
};

struct store {
    pthread_mutex_t mu;
    unsigned long long clock;
    struct kept v[ORIGINTLS_SESSIONS];
};

static int ctx_index = -1, ssl_index = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void store_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct store *st = ptr;
    if (!st)
        return;
    for (size_t i = 0; i < ORIGINTLS_SESSIONS; i++)
        SSL_SESSION_free(st->v[i].sess);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static void key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void indexes(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, store_free);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, key_free);
}

/* A session the origin gave (a TLS 1.3 ticket arrives after the handshake, as data is read):
 * a copy is kept under the connection's key when its handshake was verified. A copy, since
 * the session given stays the connection's own, which OpenSSL marks not resumable when that
 * connection ends in an error (an origin that closes without close_notify, a cut tunnel).
 * Returns 0: the caller keeps its reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *given)
{
    const char *key = SSL_get_ex_data(ssl, ssl_index);
    struct store *st = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (!key || !st || SSL_get_verify_result(ssl) != X509_V_OK)
        return 0;
    SSL_SESSION *sess = SSL_SESSION_dup(given);
    if (!sess)
        return 0;
    pthread_mutex_lock(&st->mu);
    struct kept *slot = NULL;
    for (size_t i = 0; i < ORIGINTLS_SESSIONS && !slot; i++)
        if (st->v[i].sess && strcmp(st->v[i].key, key) == 0)
            slot = &st->v[i];
    for (size_t i = 0; i < ORIGINTLS_SESSIONS && !slot; i++)
        if (!st->v[i].sess)
            slot = &st->v[i];
    if (!slot) {
        slot = &st->v[0];
        for (size_t i = 1; i < ORIGINTLS_SESSIONS; i++)
            if (st->v[i].used < slot->used)
                slot = &st->v[i];
    }
    SSL_SESSION_free(slot->sess);
    snprintf(slot->key, sizeof slot->key, "%s", key);
    slot->sess = sess;
    slot->used = ++st->clock;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

int origintls_ctx(const char *ca_file, SSL_CTX **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_once(&once, indexes);
    struct store *st = calloc(1, sizeof *st);
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!st || !c || ctx_index < 0 || ssl_index < 0 ||
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_default_verify_paths(c) != 1) {
        snprintf(err, errlen,
                 "tls: cannot make the origins' TLS context (out of memory, or no system CA "
                 "store)");
        free(st);
        SSL_CTX_free(c);
        return -ENOMEM;
    }
    pthread_mutex_init(&st->mu, NULL);
    if (SSL_CTX_set_ex_data(c, ctx_index, st) != 1) {
        store_free(NULL, st, NULL, 0, 0, NULL);
        SSL_CTX_free(c);
        snprintf(err, errlen, "tls: out of memory");
        return -ENOMEM;
    }
    if (ca_file && ca_file[0] && SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1) {
        snprintf(err, errlen,
                 "origin_ca %s: not a readable PEM file of CA certificates; give a file of one "
                 "or more \"BEGIN CERTIFICATE\" blocks",
                 ca_file);
        SSL_CTX_free(c);
        return -EINVAL;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* sessions are kept here, by origin, not in OpenSSL's own cache (which a client does not
     * look up) */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, on_new_session);
    *out = c;
    return 0;
}

SSL *origintls_new(SSL_CTX *ctx, const char *host, unsigned port)
{
    SSL *o = SSL_new(ctx);
    char *key = malloc(KEY_MAX);
    if (!o || !key) {
        SSL_free(o);
        free(key);
        return NULL;
    }
    snprintf(key, KEY_MAX, "%.255s:%u", host, port);
    if (SSL_set_ex_data(o, ssl_index, key) != 1) {
        free(key);
        SSL_free(o);
        return NULL;
    }
    int ip = strchr(host, ':') || strspn(host, "0123456789.") == strlen(host);
    if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(o), host) != 1
           : SSL_set1_host(o, host) != 1 || SSL_set_tlsext_host_name(o, host) != 1) {
        SSL_free(o);
        return NULL;
    }
    struct store *st = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (st) {
        pthread_mutex_lock(&st->mu);
        for (size_t i = 0; i < ORIGINTLS_SESSIONS; i++)
            if (st->v[i].sess && strcmp(st->v[i].key, key) == 0) {
                (void)SSL_set_session(o, st->v[i].sess); /* a new reference of its own */
                break;
            }
        pthread_mutex_unlock(&st->mu);
    }
    return o;
}
