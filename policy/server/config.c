/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cordond configuration parser. One table lists every key with its type and limits, so
 * the file, the flags and docs/SERVER.md cannot drift apart silently: the file reader and
 * config_set_flag() both go through set_key(), which validates a value the same way whatever
 * its origin.
 */
#include "policy/server/config.h"
#include "base/path.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/io.h"
#include "policy/data/data_action.h"
#include "policy/sign/envelope.h"

enum ktype { K_PATH, K_LISTEN, K_ADDR, K_ADMIN, K_UINT, K_DURATION, K_UPSTREAM, K_CHOICE, K_STR };

struct kdef {
    const char *name;
    enum ktype type;
    size_t off, size;
    unsigned min, max; /* K_UINT bounds */
};

/* The values a K_CHOICE key allows, "a|b|c". */
static const char *choices_of(const char *key)
{
    return strcmp(key, "audit_fsync") == 0    ? "always|batch|none"
           : strcmp(key, "kernel_audit") == 0 ? "off|on|if-enabled"
                                              : "refuse|exit";
}

#define F(m) offsetof(struct config, m), sizeof(((struct config *)0)->m)
static const struct kdef keys[] = {
    {"listen", K_LISTEN, F(listen), 0, 0},
    {"tunnel_listen", K_ADDR, F(tunnel_listen), 0, 0},
    {"admin_listen", K_ADMIN, F(admin_listen), 0, 0},
    {"policies_dir", K_PATH, F(policies_dir), 0, 0},
    {"policy_file", K_PATH, F(policy_file), 0, 0},
    {"agent_keys", K_PATH, F(agent_keys), 0, 0},
    {"agent_key_file", K_PATH, F(agent_key_file), 0, 0},
    {"audit_dir", K_PATH, F(audit_dir), 0, 0},
    {"signing_key", K_PATH, F(signing_key), 0, 0},
    {"audit_key", K_PATH, F(audit_key), 0, 0},
    {"admin_token_file", K_PATH, F(admin_token_file), 0, 0},
    {"state_dir", K_PATH, F(state_dir), 0, 0},
    {"events_socket", K_PATH, F(events_socket), 0, 0},
    {"ready_file", K_PATH, F(ready_file), 0, 0},
    {"audit_fsync", K_CHOICE, F(audit_fsync), 0, 0},
    {"audit_on_failure", K_CHOICE, F(audit_on_failure), 0, 0},
    {"audit_origin", K_STR, F(audit_origin), 0, 0},
    {"kernel_audit", K_CHOICE, F(kernel_audit), 0, 0},
    {"policy_expiry", K_DURATION, F(policy_expiry), 0, 0},
    {"threads", K_UINT, F(threads), 1, 256},
    {"connection_timeout", K_UINT, F(connection_timeout), 1, 3600},
    {"handshake_timeout", K_UINT, F(handshake_timeout), 1, 300},
    {"tunnel_idle_timeout", K_UINT, F(tunnel_idle_timeout), 1, 86400},
    {"max_connections", K_UINT, F(max_connections), 1, 65536},
    {"max_tunnels", K_UINT, F(max_tunnels), 1, 65536},
    {"max_tunnels_per_agent", K_UINT, F(max_tunnels_per_agent), 1, 65536},
    {"event_rate", K_UINT, F(event_rate), 1, 1000000},
    {"event_burst", K_UINT, F(event_burst), 1, 1000000},
    {"upstream", K_UPSTREAM, F(upstreams), 0, 0},
    {"upstream_connect_timeout_ms", K_UINT, F(upstream_connect_timeout_ms), 1, 3600000},
    {"upstream_first_byte_timeout_ms", K_UINT, F(upstream_first_byte_timeout_ms), 1, 3600000},
    {"upstream_idle_timeout_ms", K_UINT, F(upstream_idle_timeout_ms), 1, 3600000},
    {"proxy_max_body", K_UINT, F(proxy_max_body), 1024, 1073741824},
    {"data_key_file", K_PATH, F(data_key_file), 0, 0},
    {"tls_ca", K_PATH, F(tls_ca), 0, 0},
    {"origin_ca", K_PATH, F(origin_ca), 0, 0},
};
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen[0], sizeof c->listen[0], "127.0.0.1:7071");
    c->n_listen = 1;
    snprintf(c->tunnel_listen, sizeof c->tunnel_listen, "127.0.0.1:7072");
    snprintf(c->admin_listen, sizeof c->admin_listen, "unix:/run/cordond/admin.sock");
    snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/cordond");
    snprintf(c->audit_fsync, sizeof c->audit_fsync, "batch");
    snprintf(c->audit_on_failure, sizeof c->audit_on_failure, "refuse");
    snprintf(c->audit_origin, sizeof c->audit_origin, "cordond/audit");
    snprintf(c->kernel_audit, sizeof c->kernel_audit, "if-enabled");
    c->policy_expiry = 24 * 3600;
    c->threads = 4;
    c->connection_timeout = 30;
    c->handshake_timeout = 10;
    c->tunnel_idle_timeout = 600;
    c->max_connections = 1024;
    c->max_tunnels = 256;
    c->event_rate = 100;
    c->event_burst = 200;
    c->upstream_connect_timeout_ms = 5000;
    c->upstream_first_byte_timeout_ms = 60000;
    c->upstream_idle_timeout_ms = 60000;
    c->proxy_max_body = 8u << 20;
}

int config_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *salen)
{
    memset(sa, 0, sizeof *sa);
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)sa;
        const char *p = s + 5;
        size_t n = strlen(p);
        if (p[0] != '/' || n >= sizeof un->sun_path)
            return -EINVAL;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, p, n + 1);
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || colon[1] == '\0')
        return -EINVAL;
    char host[64];
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof host)
            return -EINVAL;
        memcpy(host, s + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        if (hl >= sizeof host)
            return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || port > 65535 || !isdigit((unsigned char)colon[1]) || strlen(colon + 1) > 5)
        return -EINVAL;
    if (s[0] == '[') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return -EINVAL;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *salen = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return -EINVAL;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *salen = sizeof *a4;
    }
    return 0;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
    if (!isdigit((unsigned char)v[0]) || strlen(v) > 10)
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -EINVAL;
    *out = (unsigned)n;
    return 0;
}

static int valid_upstream_name(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((struct config_upstream *)0)->name))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' &&
            s[i] != '-')
            return 0;
    return 1;
}

/* A path option of an upstream line (key_file=, ca_file=) into dst (PATH_MAX bytes). */
static int upstream_path(const struct config_upstream *u, const char *opt, const char *val,
                         size_t vl, char dst[PATH_MAX], const char *where, char *err, size_t errlen)
{
    if (val[0] != '/' || vl >= PATH_MAX) {
        diag_set(err, errlen,
                 "%s: upstream %s: %s: expected an absolute path shorter than %d bytes", where,
                 u->name, opt, PATH_MAX);
        return -EINVAL;
    }
    memcpy(dst, val, vl);
    dst[vl] = '\0';
    return 0;
}

/* One option of an upstream line after NAME URL: kind=, key_file=, key_env=, ca_file=,
 * models=. */
static int upstream_option(struct config_upstream *u, const char *o, size_t ol, const char *where,
                           char *err, size_t errlen)
{
    const char *eq = memchr(o, '=', ol);
    size_t kl = eq ? (size_t)(eq - o) : ol;
    const char *val = eq ? eq + 1 : "";
    size_t vl = eq ? ol - kl - 1 : 0;
#define OPT(name) (kl == sizeof name - 1 && memcmp(o, name, kl) == 0)
    if (eq && vl > 0 && OPT("kind")) {
        if (vl == 6 && memcmp(val, "openai", 6) == 0)
            u->kind = CONFIG_UPSTREAM_KIND_OPENAI;
        else if (vl == 9 && memcmp(val, "anthropic", 9) == 0)
            u->kind = CONFIG_UPSTREAM_KIND_ANTHROPIC;
        else {
            diag_set(err, errlen,
                     "%s: upstream %s: kind: expected openai or anthropic, got "
                     "%.*s",
                     where, u->name, (int)vl, val);
            return -EINVAL;
        }
        return 0;
    }
    if (eq && vl > 0 && OPT("key_file"))
        return upstream_path(u, "key_file", val, vl, u->key_file, where, err, errlen);
    if (eq && vl > 0 && OPT("ca_file")) {
        int rc = upstream_path(u, "ca_file", val, vl, u->ca_file, where, err, errlen);
        if (rc != 0)
            return rc;
        if (access(u->ca_file, R_OK) != 0) {
            int e = errno;
            diag_set(err, errlen,
                     "%s: upstream %s: ca_file %s cannot be read: %s; give the PEM file of "
                     "the CAs the upstream's certificate chains to",
                     where, u->name, u->ca_file, strerror(e));
            return -EINVAL;
        }
        return 0;
    }
    if (eq && vl > 0 && OPT("key_env")) {
        int ok = vl < sizeof u->key_env && !isdigit((unsigned char)val[0]);
        for (size_t i = 0; ok && i < vl; i++)
            ok = isalnum((unsigned char)val[i]) || val[i] == '_';
        if (!ok) {
            diag_set(err, errlen,
                     "%s: upstream %s: key_env: expected the name of an "
                     "environment variable (A-Z a-z 0-9 _), got %.*s",
                     where, u->name, (int)vl, val);
            return -EINVAL;
        }
        memcpy(u->key_env, val, vl);
        u->key_env[vl] = '\0';
        return 0;
    }
    if (eq && vl > 0 && OPT("models")) {
        if (vl >= sizeof u->models || val[0] == ',' || val[vl - 1] == ',' ||
            memmem(val, vl, ",,", 2)) {
            diag_set(err, errlen,
                     "%s: upstream %s: models: expected GLOB,GLOB (no empty "
                     "glob, under %zu bytes)",
                     where, u->name, sizeof u->models);
            return -EINVAL;
        }
        memcpy(u->models, val, vl);
        u->models[vl] = '\0';
        return 0;
    }
#undef OPT
    diag_set(err, errlen,
             "%s: upstream %s: unknown option %.*s; expected kind=openai|anthropic, "
             "key_file=PATH, key_env=VAR, ca_file=PATH or models=GLOB,GLOB",
             where, u->name, (int)ol, o);
    return -EINVAL;
}

/* upstream NAME URL [kind=openai|anthropic] [key_file=PATH] [key_env=VAR] [models=GLOB,...] */
static int set_upstream(struct config *c, const char *v, const char *where, int replace, char *err,
                        size_t errlen)
{
    char q[96];
    diag_quote(v, q, sizeof q);
    const char *sp = strpbrk(v, " \t");
    const char *url = sp ? sp + 1 : "";
    while (*url == ' ' || *url == '\t')
        url++;
    size_t nl = sp ? (size_t)(sp - v) : strlen(v);
    size_t ul = strcspn(url, " \t");
    int http = strncmp(url, "http://", 7) == 0, https = strncmp(url, "https://", 8) == 0;
    const char *rest = url + (https ? 8 : 7);
    if (!sp || !valid_upstream_name(v, nl) || (!http && !https) || rest >= url + ul ||
        rest[0] == '/' || ul >= sizeof c->upstreams[0].url) {
        diag_set(err, errlen,
                 "%s: upstream: expected NAME URL [kind=openai|anthropic] "
                 "[key_file=PATH] [key_env=VAR] [models=GLOB,GLOB] (NAME in a-z 0-9 _ -, URL "
                 "http:// or https:// with a host), got %s",
                 where, q);
        return -EINVAL;
    }
    if (replace)
        c->n_upstreams = 0;
    for (size_t i = 0; i < c->n_upstreams; i++)
        if (strlen(c->upstreams[i].name) == nl && memcmp(c->upstreams[i].name, v, nl) == 0) {
            diag_set(err, errlen, "%s: upstream: %.*s is defined twice; keep one", where, (int)nl,
                     v);
            return -EINVAL;
        }
    if (c->n_upstreams == CONFIG_MAX_UPSTREAMS) {
        diag_set(err, errlen, "%s: upstream: more than %d upstreams", where, CONFIG_MAX_UPSTREAMS);
        return -EINVAL;
    }
    struct config_upstream u;
    memset(&u, 0, sizeof u);
    memcpy(u.name, v, nl);
    memcpy(u.url, url, ul);
    for (const char *o = url + ul;;) {
        while (*o == ' ' || *o == '\t')
            o++;
        if (*o == '\0')
            break;
        size_t ol = strcspn(o, " \t");
        if (upstream_option(&u, o, ol, where, err, errlen) != 0)
            return -EINVAL;
        o += ol;
    }
    if (u.kind == 0) {
        if (strcmp(u.name, "openai") == 0)
            u.kind = CONFIG_UPSTREAM_KIND_OPENAI;
        else if (strcmp(u.name, "anthropic") == 0)
            u.kind = CONFIG_UPSTREAM_KIND_ANTHROPIC;
        else {
            diag_set(err, errlen,
                     "%s: upstream %s: kind=openai or kind=anthropic is required "
                     "for an upstream not named openai or anthropic",
                     where, u.name);
            return -EINVAL;
        }
    }
    if (u.key_file[0] && u.key_env[0]) {
        diag_set(err, errlen, "%s: upstream %s: give key_file or key_env, not both", where, u.name);
        return -EINVAL;
    }
    c->upstreams[c->n_upstreams++] = u;
    return 0;
}

/* Set one key. where is "FILE:LINE" or "flag --KEY"; replace clears a list first. */
static int set_key(struct config *c, const struct kdef *k, const char *v, const char *where,
                   int replace, char *err, size_t errlen)
{
    char *field = (char *)c + k->off;
    char q[96];
    diag_quote(v, q, sizeof q);
    switch (k->type) {
    case K_PATH:
    case K_STR:
        if (strlen(v) >= k->size) {
            diag_set(err, errlen,
                     "%s: %s: value is %zu bytes, the limit is %zu; use a shorter "
                     "path",
                     where, k->name, strlen(v), k->size - 1);
            return -EINVAL;
        }
        if (k->type == K_PATH && v[0] != '/' && strcmp(k->name, "events_socket") != 0) {
            diag_set(err, errlen,
                     "%s: %s: expected an absolute path, got %s; write the path "
                     "from /",
                     where, k->name, q);
            return -EINVAL;
        }
        if (k->type == K_PATH && v[0] != '/' && strcmp(v, "off") != 0) {
            diag_set(err, errlen, "%s: %s: expected an absolute path or \"off\", got %s", where,
                     k->name, q);
            return -EINVAL;
        }
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case K_CHOICE: {
        size_t vl = strlen(v);
        int ok = 0;
        const char *choices = choices_of(k->name);
        for (const char *c0 = choices; c0 && !ok;
             c0 = strchr(c0, '|') ? strchr(c0, '|') + 1 : NULL) {
            size_t cl = strcspn(c0, "|");
            ok = cl == vl && memcmp(c0, v, vl) == 0 && vl < k->size;
        }
        if (!ok) {
            diag_set(err, errlen, "%s: %s: expected one of %s, got %s", where, k->name, choices, q);
            return -EINVAL;
        }
        snprintf(field, k->size, "%s", v);
        return 0;
    }
    case K_ADMIN: {
        struct sockaddr_storage sa;
        socklen_t sl;
        if (strlen(v) >= CONFIG_ADDR_MAX || config_parse_addr(v, &sa, &sl) != 0) {
            diag_set(err, errlen,
                     "%s: %s: expected unix:/ABSOLUTE/PATH (a socket only local "
                     "administrators can reach: the default is unix:/run/cordond/admin.sock), "
                     "IPv4:PORT or [IPv6]:PORT, got %s",
                     where, k->name, q);
            return -EINVAL;
        }
        snprintf(field, k->size, "%s", v);
        return 0;
    }
    case K_LISTEN:
    case K_ADDR: {
        struct sockaddr_storage sa;
        socklen_t sl;
        if (strlen(v) >= CONFIG_ADDR_MAX || config_parse_addr(v, &sa, &sl) != 0 ||
            (k->type == K_ADDR && sa.ss_family == AF_UNIX)) {
            diag_set(err, errlen, "%s: %s: expected %s, got %s", where, k->name,
                     k->type == K_ADDR ? "IPv4:PORT or [IPv6]:PORT (an address literal)"
                                       : "IPv4:PORT, [IPv6]:PORT or unix:/ABSOLUTE/PATH",
                     q);
            return -EINVAL;
        }
        if (k->type == K_ADDR) {
            snprintf(field, k->size, "%s", v);
            return 0;
        }
        if (replace)
            c->n_listen = 0;
        if (c->n_listen == CONFIG_MAX_LISTEN) {
            diag_set(err, errlen, "%s: listen: more than %d listen addresses; remove some", where,
                     CONFIG_MAX_LISTEN);
            return -EINVAL;
        }
        snprintf(c->listen[c->n_listen++], CONFIG_ADDR_MAX, "%s", v);
        return 0;
    }
    case K_UINT:
        if (parse_uint(v, k->min, k->max, (unsigned *)(void *)field) != 0) {
            diag_set(err, errlen, "%s: %s: expected a whole number from %u to %u, got %s", where,
                     k->name, k->min, k->max, q);
            return -EINVAL;
        }
        return 0;
    case K_DURATION: {
        time_t t;
        if (envelope_parse_duration(v, &t) != 0) {
            diag_set(err, errlen,
                     "%s: %s: expected a duration such as 90s, 30m, 24h or 7d, got "
                     "%s",
                     where, k->name, q);
            return -EINVAL;
        }
        if (t < 60) {
            diag_set(err, errlen,
                     "%s: %s: %s is too short: the server re-signs at half the "
                     "expiry, so use at least 60s",
                     where, k->name, q);
            return -EINVAL;
        }
        *(time_t *)(void *)field = t;
        return 0;
    }
    case K_UPSTREAM:
        return set_upstream(c, v, where, replace, err, errlen);
    }
    diag_set(err, errlen, "%s: %s: this key has no reader; report it as a bug", where, k->name);
    return -EINVAL;
}

static const struct kdef *find_key(const char *name, size_t *idx)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0) {
            *idx = i;
            return &keys[i];
        }
    return NULL;
}

int config_parse(struct config *c, const char *text, size_t len, const char *name, char *err,
                 size_t errlen)
{
    if (len > CONFIG_MAX_BYTES) {
        diag_set(err, errlen, "%s: %zu bytes, the limit is %u; this is not a cordond config", name,
                 len, CONFIG_MAX_BYTES);
        return -EINVAL;
    }
    if (memchr(text, '\0', len)) {
        diag_set(err, errlen, "%s: holds a NUL byte; a config file is text", name);
        return -EINVAL;
    }
    size_t lineno = 0, pos = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%zu", name, lineno);
        if (ll >= CONFIG_MAX_LINE) {
            diag_set(err, errlen, "%s: line is longer than %d bytes; shorten it", where,
                     CONFIG_MAX_LINE - 1);
            return -EINVAL;
        }
        char line[CONFIG_MAX_LINE];
        memcpy(line, text + pos, ll);
        line[ll] = '\0';
        pos += ll + (nl ? 1 : 0);
        if (ll && line[ll - 1] == '\r')
            line[--ll] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *k = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        char *e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        for (char *s = p; *s; s++)
            if ((unsigned char)*s < 0x20 && *s != '\t') {
                diag_set(err, errlen, "%s: %s: the value holds a control character; remove it",
                         where, k);
                return -EINVAL;
            }
        size_t idx;
        const struct kdef *kd = find_key(k, &idx);
        if (!kd) {
            char q[96];
            diag_quote(k, q, sizeof q);
            diag_set(err, errlen, "%s: unknown key %s; see docs/SERVER.md for the keys", where, q);
            return -EINVAL;
        }
        if (*p == '\0') {
            diag_set(err, errlen, "%s: %s: missing value; write `%s VALUE`", where, k, k);
            return -EINVAL;
        }
        int list = kd->type == K_LISTEN || kd->type == K_UPSTREAM;
        if (!list && (c->set_file & (1ull << idx))) {
            diag_set(err, errlen, "%s: %s is set twice; keep one line", where, k);
            return -EINVAL;
        }
        int first = !(c->set_file & (1ull << idx));
        int rc = set_key(c, kd, p, where, list && first, err, errlen);
        if (rc != 0)
            return rc;
        c->set_file |= 1ull << idx;
    }
    return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = path_read_file(path, CONFIG_MAX_BYTES, &buf, &len, NULL);
    if (rc == -EINVAL)
        diag_set(err, errlen, "%s: not a regular file; name the config file", path);
    else if (rc == -EFBIG)
        diag_set(err, errlen, "%s: %zu bytes, the limit is %u; this is not a cordond config", path,
                 len, CONFIG_MAX_BYTES);
    else if (rc != 0)
        diag_set(err, errlen, "%s: cannot open the config file: %s", path, strerror(-rc));
    else
        rc = config_parse(c, buf, len, path, err, errlen);
    free(buf);
    return rc;
}

int config_set_flag(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
    size_t idx;
    const struct kdef *kd = find_key(key, &idx);
    char where[96];
    snprintf(where, sizeof where, "flag --%s", key);
    for (char *p = where; *p; p++)
        if (*p == '_')
            *p = '-';
    if (!kd) {
        diag_set(err, errlen, "%s: no such setting", where);
        return -EINVAL;
    }
    int first = !(c->set_flag & (1ull << idx));
    int rc = set_key(c, kd, value, where, first, err, errlen);
    if (rc == 0)
        c->set_flag |= 1ull << idx;
    return rc;
}

static int default_in_state(char *field, size_t size, const char *state, const char *leaf)
{
    if (field[0])
        return 0;
    int n = snprintf(field, size, "%s/%s", state, leaf);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int config_finish(struct config *c, char *err, size_t errlen)
{
    if (c->policies_dir[0] && c->policy_file[0]) {
        diag_set(err, errlen,
                 "policies_dir and policy_file are both set; serve a directory of "
                 "NAME.json files or one file (--policy), not both");
        return -EINVAL;
    }
    if (!c->policies_dir[0] && !c->policy_file[0]) {
        diag_set(err, errlen,
                 "no policies: set policies_dir (a directory of NAME.json files) "
                 "or policy_file (--policy FILE)");
        return -EINVAL;
    }
    if (c->agent_key_file[0] && !c->policy_file[0]) {
        diag_set(err, errlen,
                 "agent_key_file is only for single-policy mode; add keys to a "
                 "policies_dir server with `cordon agent add`");
        return -EINVAL;
    }
    if (!c->signing_key[0]) {
        diag_set(err, errlen,
                 "signing_key is not set; create one with `cordon keygen PREFIX` "
                 "and set signing_key PREFIX.key");
        return -EINVAL;
    }
    if (!c->audit_dir[0] &&
        default_in_state(c->audit_dir, sizeof c->audit_dir, c->state_dir, "audit") != 0)
        goto toolong;
    c->data_key_default = !c->data_key_file[0];
    if (default_in_state(c->data_key_file, sizeof c->data_key_file, c->state_dir, "data.key") != 0)
        goto toolong;
    if (default_in_state(c->agent_keys, sizeof c->agent_keys, c->state_dir, "agents") != 0 ||
        default_in_state(c->events_socket, sizeof c->events_socket, c->state_dir, "events.sock") !=
            0)
        goto toolong;
    /* Single-policy mode serves one agent, which may then use every slot. */
    if (!c->max_tunnels_per_agent)
        c->max_tunnels_per_agent = c->policy_file[0]    ? c->max_tunnels
                                   : c->max_tunnels > 1 ? c->max_tunnels / 2
                                                        : 1;
    if (c->max_tunnels_per_agent > c->max_tunnels) {
        diag_set(err, errlen,
                 "max_tunnels_per_agent (%u) is above max_tunnels (%u); one agent "
                 "cannot hold more tunnels than the server allows in all",
                 c->max_tunnels_per_agent, c->max_tunnels);
        return -EINVAL;
    }
    /* The admin API needs a listener of its own: on a shared one it would answer agents too. */
    struct sockaddr_storage as, ls;
    socklen_t asl, lsl;
    if (config_parse_addr(c->admin_listen, &as, &asl) == 0) {
        for (size_t i = 0; i <= c->n_listen; i++) {
            const char *other = i < c->n_listen ? c->listen[i] : c->tunnel_listen;
            if (config_parse_addr(other, &ls, &lsl) != 0 || as.ss_family != ls.ss_family)
                continue;
            int same;
            if (as.ss_family == AF_UNIX)
                same = strcmp(((struct sockaddr_un *)&as)->sun_path,
                              ((struct sockaddr_un *)&ls)->sun_path) == 0;
            else if (as.ss_family == AF_INET)
                same = ((struct sockaddr_in *)&as)->sin_port != 0 &&
                       memcmp(&as, &ls, sizeof(struct sockaddr_in)) == 0;
            else
                same = ((struct sockaddr_in6 *)&as)->sin6_port != 0 &&
                       memcmp(&as, &ls, sizeof(struct sockaddr_in6)) == 0;
            if (same) {
                diag_set(err, errlen,
                         "admin_listen %s is also a %s address; the admin API "
                         "must have a listener of its own (agents reach listen and "
                         "tunnel_listen)",
                         c->admin_listen, i < c->n_listen ? "listen" : "tunnel_listen");
                return -EINVAL;
            }
        }
    }
    if (strcmp(c->events_socket, "off") != 0 &&
        strlen(c->events_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        diag_set(err, errlen,
                 "events_socket: %s is longer than a unix socket path may be (%zu "
                 "bytes); choose a shorter path",
                 c->events_socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return -EINVAL;
    }
    return 0;
toolong:
    diag_set(err, errlen, "state_dir: %s is too long to hold the server's files", c->state_dir);
    return -EINVAL;
}

/* Add path (normalized) to out when it is not there yet; 0, or -ENOSPC when out is full. */
static int secret_add(char (*out)[PATH_MAX], size_t max, size_t *n, const char *path)
{
    char norm[PATH_MAX];
    if (!path[0] || path[0] != '/' || strlen(path) >= sizeof norm)
        return 0;
    memcpy(norm, path, strlen(path) + 1);
    if (path_normalize(norm) != PATH_OK)
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i], norm) == 0)
            return 0;
    if (*n == max)
        return -ENOSPC;
    memcpy(out[(*n)++], norm, strlen(norm) + 1);
    return 0;
}

int config_secret_paths(const struct config *c, char (*out)[PATH_MAX], size_t max, char *err,
                        size_t errlen)
{
    char admin_dir[PATH_MAX] = "";
    if (c->admin_token_file[0] && strncmp(c->admin_listen, "unix:/", 6) == 0) {
        snprintf(admin_dir, sizeof admin_dir, "%s", c->admin_listen + 5);
        char *slash = strrchr(admin_dir, '/');
        if (slash && slash != admin_dir)
            *slash = '\0';
        else
            admin_dir[0] = '\0'; /* a socket directly in / : the socket itself is not secret */
    }
    const struct {
        const char *key, *path;
    } sec[] = {
        {"signing_key", c->signing_key},
        {"audit_key", c->audit_key},
        {"admin_token_file", c->admin_token_file},
        {"state_dir", c->state_dir},
        {"audit_dir", c->audit_dir},
        {"agent_keys", c->agent_keys},
        {"agent_key_file", c->agent_key_file},
        {"policies_dir", c->policies_dir},
        {"policy_file", c->policy_file},
        {"data_key_file", c->data_key_file},
        {"admin_listen", admin_dir},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++) {
        if (!sec[i].path[0])
            continue;
        char canon[PATH_MAXLEN];
        int have = path_canonical(sec[i].path, canon) == 0;
        if ((have && strcmp(canon, "/") == 0) || strcmp(sec[i].path, "/") == 0) {
            diag_set(err, errlen,
                     "%s: / cannot hold cordond's secrets: every path cordond "
                     "keeps secret is denied to every sandbox, and this would be all of them; "
                     "give it a directory of its own",
                     sec[i].key);
            return -EINVAL;
        }
        if ((have && secret_add(out, max, &n, canon) != 0) ||
            secret_add(out, max, &n, sec[i].path) != 0) {
            diag_set(err, errlen, "more than %zu secret paths", max);
            return -EINVAL;
        }
    }
    return (int)n;
}

int config_data_key_load(const struct config *c, unsigned char key[32], char *err, size_t errlen)
{
    const char *path = c->data_key_file;
    int rc = data_key_read(path, key, err, errlen);
    if (rc != -ENOENT || !c->data_key_default)
        return rc;
    /* the default place, first start: make the key, synced before anything is hashed with it */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        diag_set(err, errlen,
                 "data_key_file %s: cannot create the data key: %s; check that the state "
                 "directory exists and is writable, or set data_key_file",
                 path, strerror(errno));
        return rc;
    }
    randombytes_buf(key, 32);
    int ok = fchmod(fd, 0600) == 0 && io_write_all(fd, key, 32) == 0 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        sodium_memzero(key, 32);
        diag_set(err, errlen, "data_key_file %s: cannot write the data key", path);
        return -EIO;
    }
    return 0;
}
