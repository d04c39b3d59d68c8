/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session tokens (sessions.h). The table is small and short-lived: a linear scan under one
 * mutex, entries purged a TTL after they stopped being valid (until then an ended or expired
 * token is answered "revoked", not "unknown", so the refusal is recorded against its agent).
 */
#include "policy/server/sessions.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/grow.h"

#define RAW_ID 16
#define RAW_MAC 16

struct token_entry {
    unsigned char rid[RAW_ID];
    struct session_bind b;
    char parent[SESSIONS_SESSION_MAX + 1]; /* "" unless minted for a root inside a tree */
    int64_t expires_ms;
    int ended;
};

struct sessions {
    pthread_mutex_t mu;
    struct agents *a;
    int64_t ttl_ms;
    struct token_entry *v;
    size_t n, cap;
};

int sessions_new(struct agents *a, int64_t ttl_ms, struct sessions **out)
{
    *out = NULL;
    struct sessions *ss = calloc(1, sizeof *ss);
    if (!ss)
        return -ENOMEM;
    pthread_mutex_init(&ss->mu, NULL);
    ss->a = a;
    ss->ttl_ms = ttl_ms > 0 ? ttl_ms : SESSIONS_TTL_MS;
    *out = ss;
    return 0;
}

void sessions_free(struct sessions *ss)
{
    if (!ss)
        return;
    if (ss->v)
        sodium_memzero(ss->v, ss->cap * sizeof *ss->v);
    free(ss->v);
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

/* The MAC that binds rid to b under the server secret. */
static void token_mac(struct sessions *ss, const unsigned char rid[RAW_ID],
                      const struct session_bind *b, unsigned char mac[32])
{
    static const char tag[] = "cordon session v1";
    unsigned char msg[sizeof tag + RAW_ID + sizeof *b];
    size_t n = 0;
    memcpy(msg, tag, sizeof tag);
    n += sizeof tag;
    memcpy(msg + n, rid, RAW_ID);
    n += RAW_ID;
    const char *parts[] = {b->agent, b->key_id, b->session};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(parts[i]) + 1;
        memcpy(msg + n, parts[i], l);
        n += l;
    }
    agents_hmac(ss->a, msg, n, mac);
    sodium_memzero(msg, sizeof msg);
}

void sessions_token_id(const char *token, char id[SESSIONS_ID_LEN + 1])
{
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    memcpy(id, "st_", 3);
    sodium_bin2hex(id + 3, 17, h, 8);
}

/* Drop the entries that stopped being valid more than a TTL ago. Called with mu held. */
static void purge(struct sessions *ss, int64_t now)
{
    size_t w = 0;
    for (size_t i = 0; i < ss->n; i++) {
        if (now - ss->v[i].expires_ms > ss->ttl_ms) {
            sodium_memzero(&ss->v[i], sizeof ss->v[i]);
            continue;
        }
        if (w != i)
            ss->v[w] = ss->v[i];
        w++;
    }
    ss->n = w;
}

static int bound_ok(const char *s, size_t max)
{
    return s && s[0] && strlen(s) <= max;
}

int sessions_mint(struct sessions *ss, const char *agent, const char *key_id, const char *session,
                  const char *parent, char token[SESSIONS_TOKEN_LEN + 1],
                  char id[SESSIONS_ID_LEN + 1])
{
    token[0] = '\0';
    if (!bound_ok(agent, AGENTS_NAME_MAX) || !bound_ok(key_id, AGENTS_ID_LEN) ||
        !bound_ok(session, SESSIONS_SESSION_MAX) ||
        (parent && strlen(parent) > SESSIONS_SESSION_MAX))
        return -EINVAL;
    struct token_entry e = {0};
    if (parent)
        memcpy(e.parent, parent, strlen(parent) + 1);
    randombytes_buf(e.rid, RAW_ID);
    memcpy(e.b.agent, agent, strlen(agent) + 1);
    memcpy(e.b.key_id, key_id, strlen(key_id) + 1);
    memcpy(e.b.session, session, strlen(session) + 1);
    unsigned char raw[RAW_ID + 32];
    memcpy(raw, e.rid, RAW_ID);
    token_mac(ss, e.rid, &e.b, raw + RAW_ID);
    pthread_mutex_lock(&ss->mu);
    int64_t now = clock_mono_ms();
    e.expires_ms = now + ss->ttl_ms;
    purge(ss, now);
    int rc = 0;
    if (ss->n >= SESSIONS_MAX)
        rc = -ENOSPC;
    else if (GROW(&ss->v, &ss->cap, ss->n + 1) != 0)
        rc = -ENOMEM;
    else
        ss->v[ss->n++] = e;
    pthread_mutex_unlock(&ss->mu);
    if (rc == 0) {
        memcpy(token, "cs_", 3);
        sodium_bin2base64(token + 3, SESSIONS_TOKEN_LEN + 1 - 3, raw, RAW_ID + RAW_MAC,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        if (id)
            sessions_token_id(token, id);
    }
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(&e, sizeof e);
    return rc;
}

int sessions_check(struct sessions *ss, const char *token, struct session_bind *b)
{
    memset(b, 0, sizeof *b);
    unsigned char raw[RAW_ID + RAW_MAC];
    size_t bl = 0;
    if (!token || strncmp(token, "cs_", 3) != 0 || strlen(token) != SESSIONS_TOKEN_LEN ||
        sodium_base642bin(raw, sizeof raw, token + 3, SESSIONS_TOKEN_LEN - 3, NULL, &bl, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bl != sizeof raw)
        return AGENTS_ERR_MALFORMED;
    int rc = AGENTS_ERR_UNKNOWN;
    pthread_mutex_lock(&ss->mu);
    int64_t now = clock_mono_ms();
    for (size_t i = 0; i < ss->n; i++) {
        struct token_entry *e = &ss->v[i];
        if (sodium_memcmp(e->rid, raw, RAW_ID) != 0)
            continue;
        unsigned char mac[32];
        token_mac(ss, e->rid, &e->b, mac);
        int good = sodium_memcmp(mac, raw + RAW_ID, RAW_MAC) == 0;
        sodium_memzero(mac, sizeof mac);
        if (!good)
            break; /* a known id with a forged MAC: unknown */
        *b = e->b;
        rc = e->ended || now >= e->expires_ms ? AGENTS_ERR_REVOKED : AGENTS_OK;
        break;
    }
    pthread_mutex_unlock(&ss->mu);
    sodium_memzero(raw, sizeof raw);
    /* The key it was minted under must still be live (agents_revoke, agent or key). */
    if (rc == AGENTS_OK && !agents_id_live(ss->a, b->key_id))
        rc = AGENTS_ERR_REVOKED;
    if (rc != AGENTS_OK && rc != AGENTS_ERR_REVOKED)
        memset(b, 0, sizeof *b);
    return rc;
}

size_t sessions_end(struct sessions *ss, const char *session)
{
    size_t n = 0;
    if (!session || !session[0])
        return 0;
    pthread_mutex_lock(&ss->mu);
    for (size_t i = 0; i < ss->n; i++) {
        if (!ss->v[i].ended &&
            (strcmp(ss->v[i].b.session, session) == 0 || strcmp(ss->v[i].parent, session) == 0)) {
            ss->v[i].ended = 1;
            n++;
        }
    }
    pthread_mutex_unlock(&ss->mu);
    return n;
}

size_t sessions_live(struct sessions *ss, const char *agent)
{
    size_t n = 0;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&ss->mu);
    for (size_t i = 0; i < ss->n; i++)
        n += !ss->v[i].ended && ss->v[i].expires_ms > now && strcmp(ss->v[i].b.agent, agent) == 0;
    pthread_mutex_unlock(&ss->mu);
    return n;
}
