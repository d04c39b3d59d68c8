/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agent keys and the keys file (see agents.h for the format and why only HMACs are stored).
 */
#include "policy/server/agents.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/grow.h"
#include "base/io.h"
#include "base/secret.h"

struct agents {
    pthread_rwlock_t lock;
    char path[4096];
    unsigned char *secret; /* 32 bytes, sodium_malloc'd */
    size_t n, cap;
    struct agents_entry *v;
    uint64_t revocations; /* atomic: grows with every revoke that revoked something */
};

const char *agents_strerror(int rc)
{
    switch (rc) {
    case AGENTS_OK:
        return "the key is live";
    case AGENTS_ERR_MALFORMED:
        return "the key is not ck_ followed by 43 base64url characters";
    case AGENTS_ERR_UNKNOWN:
        return "no agent holds this key";
    case AGENTS_ERR_REVOKED:
        return "the key was revoked";
    }
    return err_is_errno(rc) ? strerror(-rc) : "unknown agents status";
}

int agents_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AGENTS_NAME_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* Decode a key's 32 bytes; 0 or -EINVAL when the text is not exactly ck_ + 43 base64url. */
static int key_decode(const char *key, unsigned char raw[32])
{
    size_t bl;
    if (strncmp(key, "ck_", 3) != 0 || strlen(key) != AGENTS_KEY_LEN)
        return -EINVAL;
    if (sodium_base642bin(raw, 32, key + 3, 43, NULL, &bl, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bl != 32)
        return -EINVAL;
    return 0;
}

static void key_mac(const struct agents *a, const char *key, unsigned char mac[32])
{
    crypto_auth_hmacsha256(mac, (const unsigned char *)key, strlen(key), a->secret);
}

/* Append e: 0, -ENOSPC past AGENTS_MAX, -ENOMEM. */
static int push(struct agents *a, const struct agents_entry *e)
{
    int rc;
    if (a->n == AGENTS_MAX)
        return -ENOSPC;
    if ((rc = GROW(&a->v, &a->cap, a->n + 1)) != 0)
        return rc;
    a->v[a->n++] = *e;
    return 0;
}

static int parse_time(const char *s, time_t *out)
{
    if (strcmp(s, "-") == 0) {
        *out = 0;
        return 0;
    }
    if (!isdigit((unsigned char)s[0]) || strlen(s) > 12)
        return -EINVAL;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v <= 0)
        return -EINVAL;
    *out = (time_t)v;
    return 0;
}

static int valid_id(const char *s)
{
    if (strlen(s) != AGENTS_ID_LEN || strncmp(s, "ak_", 3) != 0)
        return 0;
    for (int i = 3; i < AGENTS_ID_LEN; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

int agents_parse(struct agents *a, const char *text, size_t len, char *err, size_t errlen)
{
    if (len > AGENTS_FILE_MAX) {
        diag_set(err, errlen, "%s: larger than %u bytes; this is not a cordond keys file", a->path,
                 AGENTS_FILE_MAX);
        return -EINVAL;
    }
    if (memchr(text, '\0', len)) {
        diag_set(err, errlen, "%s: holds a NUL byte; restore the file from a backup", a->path);
        return -EINVAL;
    }
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char line[512];
        if (ll >= sizeof line) {
            diag_set(err, errlen,
                     "%s:%zu: line longer than %zu bytes; the file was edited or "
                     "damaged, restore it from a backup",
                     a->path, lineno, sizeof line - 1);
            return -EINVAL;
        }
        memcpy(line, text + pos, ll);
        line[ll] = '\0';
        pos += ll + (nl ? 1 : 0);
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char f[5][128];
        char extra[2];
        int nf =
            sscanf(line, "%127s %127s %127s %127s %127s %1s", f[0], f[1], f[2], f[3], f[4], extra);
        struct agents_entry e = {0};
        const char *why = NULL;
        size_t ml;
        if (nf != 5)
            why = "expected 5 fields: KEY_ID AGENT HMAC CREATED REVOKED";
        else if (!valid_id(f[0]))
            why = "KEY_ID is not ak_ + 16 lowercase hex digits";
        else if (!agents_valid_name(f[1]))
            why = "AGENT is not 1 to 64 letters, digits, '.', '_' or '-'";
        else if (strlen(f[2]) != 64 || sodium_hex2bin(e.mac, 32, f[2], 64, NULL, &ml, NULL) != 0 ||
                 ml != 32)
            why = "HMAC is not 64 hex digits";
        else if (parse_time(f[3], &e.created) != 0 || e.created == 0)
            why = "CREATED is not a positive number of seconds";
        else if (parse_time(f[4], &e.revoked) != 0)
            why = "REVOKED is not \"-\" or a positive number of seconds";
        if (why) {
            diag_set(err, errlen,
                     "%s:%zu: %s; the file was edited or damaged, restore it from "
                     "a backup",
                     a->path, lineno, why);
            return -EINVAL;
        }
        for (size_t i = 0; i < a->n; i++)
            if (strcmp(a->v[i].id, f[0]) == 0) {
                diag_set(err, errlen,
                         "%s:%zu: key id %s appears twice; restore the file from "
                         "a backup",
                         a->path, lineno, f[0]);
                return -EINVAL;
            }
        memcpy(e.id, f[0], AGENTS_ID_LEN + 1);
        memcpy(e.name, f[1], strlen(f[1]) + 1); /* valid_name bounded it to 64 */
        int rc = push(a, &e);
        if (rc == -ENOSPC) {
            diag_set(err, errlen, "%s: more than %d keys; remove revoked ones", a->path,
                     AGENTS_MAX);
            return -EINVAL;
        }
        if (rc != 0) {
            diag_set(err, errlen, "%s: out of memory reading the keys file", a->path);
            return rc;
        }
    }
    return 0;
}

/* Create the server secret: 32 random bytes in a new 0600 file, synced before it is used. */
static int create_secret(struct agents *a, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int rc = -errno;
        diag_set(err, errlen,
                 "%s: cannot create the server secret: %s; check that the "
                 "state directory exists and is writable",
                 path, strerror(errno));
        return rc;
    }
    randombytes_buf(a->secret, 32);
    int ok = fchmod(fd, 0600) == 0 && io_write_all(fd, a->secret, 32) == 0 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        diag_set(err, errlen, "%s: cannot write the server secret", path);
        return -EIO;
    }
    return 0;
}

/* Read the server secret (base/secret.h: no symlink, mode 0600, wiped), or create it. */
static int load_secret(struct agents *a, const char *path, char *err, size_t errlen)
{
    char *buf = NULL, why[2 * 4096 + 256];
    size_t len = 0;
    int rc = secret_read_file_exact("the server secret", path, 64, &buf, &len, why, sizeof why);
    if (rc == -ENOENT)
        return create_secret(a, path, err, errlen);
    if (rc == 0 && len == 32)
        memcpy(a->secret, buf, 32);
    secret_free(buf, len);
    if (rc == 0 && len == 32)
        return 0;
    if (rc == 0 || rc == -EINVAL || rc == -EFBIG || rc == -ENODATA) {
        diag_set(err, errlen,
                 "%s: not a 32-byte regular file; restore the server secret (or "
                 "remove it, which invalidates every agent key)",
                 path);
        return -EINVAL;
    }
    diag_set(err, errlen, "%s", why); /* a symlink, a loose mode (chmod 600), cannot open */
    return rc;
}

int agents_open(const char *keys_path, const char *secret_path, struct agents **out, char *err,
                size_t errlen)
{
    int rc = -ENOMEM;
    char *buf = NULL;
    FILE *f = NULL;
    struct agents *a = calloc(1, sizeof *a);
    if (!a || sodium_init() < 0) {
        diag_set(err, errlen, "out of memory, or libsodium cannot start");
        goto out;
    }
    pthread_rwlock_init(&a->lock, NULL);
    snprintf(a->path, sizeof a->path, "%s", keys_path ? keys_path : "");
    a->secret = sodium_malloc(32);
    if (!a->secret) {
        diag_set(err, errlen, "out of memory for the server secret");
        goto out;
    }
    if (secret_path && (rc = load_secret(a, secret_path, err, errlen)) != 0)
        goto out;
    if (!secret_path)
        randombytes_buf(a->secret, 32); /* tests and single-policy mode: nothing persists */
    if (keys_path) {
        f = fopen(keys_path, "re");
        if (!f && errno != ENOENT) {
            rc = -errno;
            diag_set(err, errlen, "%s: cannot open the keys file: %s", keys_path, strerror(errno));
            goto out;
        }
        if (f) {
            buf = malloc(AGENTS_FILE_MAX + 1);
            if (!buf) {
                rc = -ENOMEM;
                diag_set(err, errlen, "%s: out of memory reading the keys file", keys_path);
                goto out;
            }
            size_t n = fread(buf, 1, AGENTS_FILE_MAX + 1, f);
            if ((rc = agents_parse(a, buf, n, err, errlen)) != 0)
                goto out;
        }
    }
    *out = a;
    a = NULL; /* transferred */
    rc = 0;
out:
    if (f)
        fclose(f);
    free(buf);
    agents_free(a);
    return rc;
}

void agents_free(struct agents *a)
{
    if (!a)
        return;
    if (a->secret)
        sodium_free(a->secret);
    if (a->v)
        sodium_memzero(a->v, a->cap * sizeof *a->v);
    free(a->v);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

int agents_check(struct agents *a, const char *key, char name[AGENTS_NAME_MAX + 1],
                 char id[AGENTS_ID_LEN + 1])
{
    unsigned char raw[32], mac[32];
    if (key_decode(key, raw) != 0)
        return AGENTS_ERR_MALFORMED;
    sodium_memzero(raw, sizeof raw);
    key_mac(a, key, mac);
    int rc = AGENTS_ERR_UNKNOWN;
    pthread_rwlock_rdlock(&a->lock);
    size_t hit = SIZE_MAX;
    for (size_t i = 0; i < a->n; i++) {
        /* Constant time per entry; no early exit, so timing says nothing about position. */
        int eq = sodium_memcmp(a->v[i].mac, mac, 32) == 0;
        if (eq && hit == SIZE_MAX)
            hit = i;
    }
    if (hit != SIZE_MAX) {
        rc = a->v[hit].revoked ? AGENTS_ERR_REVOKED : AGENTS_OK;
        if (name)
            memcpy(name, a->v[hit].name, sizeof a->v[hit].name);
        if (id)
            memcpy(id, a->v[hit].id, sizeof a->v[hit].id);
    }
    pthread_rwlock_unlock(&a->lock);
    sodium_memzero(mac, sizeof mac);
    return rc;
}

/* Rewrite the keys file with the entries in memory (caller holds the write lock). */
static int save(struct agents *a, char *err, size_t errlen)
{
    char tmp[4200];
    if (!a->path[0])
        return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", a->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int rc = -errno;
        diag_set(err, errlen, "%s: cannot write the keys file: %s", tmp, strerror(errno));
        return rc;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int rc = -errno;
        close(fd);
        unlink(tmp);
        diag_set(err, errlen, "%s: cannot write the keys file: %s", tmp, strerror(-rc));
        return rc;
    }
    fprintf(f, "# cordond agent keys: KEY_ID AGENT HMAC-SHA-256(server secret, key) CREATED "
               "REVOKED\n# Written by cordond; edit with `cordon agent add|revoke`.\n");
    for (size_t i = 0; i < a->n; i++) {
        const struct agents_entry *e = &a->v[i];
        if (e->ephemeral)
            continue;
        char hex[65], rev[24];
        sodium_bin2hex(hex, sizeof hex, e->mac, 32);
        if (e->revoked)
            snprintf(rev, sizeof rev, "%lld", (long long)e->revoked);
        else
            snprintf(rev, sizeof rev, "-");
        fprintf(f, "%s %s %s %lld %s\n", e->id, e->name, hex, (long long)e->created, rev);
    }
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, a->path) != 0) {
        diag_set(err, errlen, "%s: cannot write the keys file: %s", a->path, strerror(errno));
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

static int add_entry(struct agents *a, struct agents_entry *e, int persist, char *err,
                     size_t errlen)
{
    int rc;
    pthread_rwlock_wrlock(&a->lock);
    if ((rc = push(a, e)) != 0) {
        diag_set(err, errlen, "cannot add a key: %s",
                 rc == -ENOSPC ? "the keys file is full" : "out of memory");
        goto out;
    }
    if (persist && (rc = save(a, err, errlen)) != 0)
        a->n--; /* memory follows the file: the key does not exist */
out:
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int agents_add(struct agents *a, const char *name, char key[AGENTS_KEY_LEN + 1],
               char id[AGENTS_ID_LEN + 1], char *err, size_t errlen)
{
    if (!agents_valid_name(name)) {
        diag_set(err, errlen, "agent name must be 1 to 64 letters, digits, '.', '_' or '-'");
        return -EINVAL;
    }
    unsigned char raw[32], rid[8];
    struct agents_entry e = {0};
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(rid, sizeof rid);
    memcpy(key, "ck_", 3);
    sodium_bin2base64(key + 3, AGENTS_KEY_LEN - 2, raw, 32,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    memcpy(e.id, "ak_", 3);
    sodium_bin2hex(e.id + 3, 17, rid, sizeof rid);
    snprintf(e.name, sizeof e.name, "%s", name);
    key_mac(a, key, e.mac);
    e.created = time(NULL);
    int rc = add_entry(a, &e, 1, err, errlen);
    if (rc != 0)
        sodium_memzero(key, AGENTS_KEY_LEN + 1);
    else if (id)
        memcpy(id, e.id, sizeof e.id);
    return rc;
}

int agents_add_ephemeral(struct agents *a, const char *name, const char *key, char *err,
                         size_t errlen)
{
    unsigned char raw[32], h[crypto_hash_sha256_BYTES];
    if (!agents_valid_name(name)) {
        diag_set(err, errlen, "agent name must be 1 to 64 letters, digits, '.', '_' or '-'");
        return -EINVAL;
    }
    if (key_decode(key, raw) != 0) {
        diag_set(err, errlen,
                 "the agent key is not ck_ followed by 43 base64url characters; "
                 "create one with `cordon agent add` or 32 random bytes");
        return -EINVAL;
    }
    sodium_memzero(raw, sizeof raw);
    struct agents_entry e = {0};
    /* A stable id for logs that reveals nothing about the key: derived from its HMAC. */
    key_mac(a, key, e.mac);
    crypto_hash_sha256(h, e.mac, 32);
    memcpy(e.id, "ak_", 3);
    sodium_bin2hex(e.id + 3, 17, h, 8);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.created = time(NULL);
    e.ephemeral = 1;
    return add_entry(a, &e, 0, err, errlen);
}

int agents_revoke(struct agents *a, const char *id_or_name, size_t *count, char *err, size_t errlen)
{
    int rc = 0;
    size_t n = 0;
    time_t now = time(NULL);
    pthread_rwlock_wrlock(&a->lock);
    time_t *old = calloc(a->n ? a->n : 1, sizeof *old);
    if (!old) {
        rc = -ENOMEM;
        diag_set(err, errlen, "out of memory revoking a key");
        goto out;
    }
    for (size_t i = 0; i < a->n; i++) {
        old[i] = a->v[i].revoked;
        if (!a->v[i].revoked &&
            (strcmp(a->v[i].id, id_or_name) == 0 || strcmp(a->v[i].name, id_or_name) == 0)) {
            a->v[i].revoked = now;
            n++;
        }
    }
    if (n && (rc = save(a, err, errlen)) != 0) {
        for (size_t i = 0; i < a->n; i++)
            a->v[i].revoked = old[i];
        n = 0;
    }
    if (n)
        __atomic_add_fetch(&a->revocations, 1, __ATOMIC_RELEASE);
out:
    pthread_rwlock_unlock(&a->lock);
    free(old);
    *count = n;
    return rc;
}

uint64_t agents_revocations(struct agents *a)
{
    return __atomic_load_n(&a->revocations, __ATOMIC_ACQUIRE);
}

int agents_id_live(struct agents *a, const char *id)
{
    int live = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].id, id) == 0)
            live = !a->v[i].revoked;
    pthread_rwlock_unlock(&a->lock);
    return live;
}

char *agents_list_json(struct agents *a)
{
    char *out = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto out;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "id", a->v[i].id);
        cJSON_AddStringToObject(o, "agent", a->v[i].name);
        cJSON_AddNumberToObject(o, "created", (double)a->v[i].created);
        if (a->v[i].revoked)
            cJSON_AddNumberToObject(o, "revoked", (double)a->v[i].revoked);
        else
            cJSON_AddNullToObject(o, "revoked");
        if (a->v[i].ephemeral)
            cJSON_AddTrueToObject(o, "ephemeral");
    }
    out = cJSON_PrintUnformatted(arr);
out:
    pthread_rwlock_unlock(&a->lock);
    cJSON_Delete(arr);
    return out;
}

void agents_hmac(struct agents *a, const void *msg, size_t len, unsigned char mac[32])
{
    crypto_auth_hmacsha256(mac, (const unsigned char *)msg, len, a->secret);
}
