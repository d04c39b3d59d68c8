/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root sequence (see root.h). Order matters and is fixed by the protocol: the event
 * channel is connected before the sandbox, because a policy with unix_sockets "pairs"
 * forbids new Unix sockets afterwards; the tree mark is exported only after the sandbox is
 * in place, so a mark always means the kernel restrictions exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/err.h"
#include "base/io.h"
#include "base/path.h"
#include "policy/policy.h"
#include "shim/dnsmap.h"
#include "shim/env.h"
#include "shim/events.h"
#include "shim/hookpol.h"
#include "shim/root.h"
#include "shim/rootlib_path.h"

void root_init(struct root *r)
{
    memset(r, 0, sizeof *r);
    r->event_fd = r->policy_fd = r->dns_fd = r->hooks_fd = -1;
}

void root_free(struct root *r)
{
    policy_free(r->policy);
    free(r->envelope);
    free(r->payload);
    sodium_memzero(r->key, sizeof r->key);
    r->policy = NULL;
    r->envelope = r->payload = NULL;
}

void root_digest(const char *buf, size_t len, char out[7 + 64 + 1])
{
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)buf, len);
    memcpy(out, "sha256:", 7);
    sodium_bin2hex(out + 7, 65, h, sizeof h);
}

int root_load_trust(const char *spec, struct key_trust *t, char *err, size_t errlen)
{
    char why[512];
    int rc;
    if (strncmp(spec, "cordon-ed25519 ", 15) == 0)
        rc = key_trust_parse(spec, strlen(spec), t, why, sizeof why);
    else
        rc = key_trust_load(spec, t, why, sizeof why);
    if (rc != 0)
        diag_set(err, errlen, "CORDON_TRUST: %s", why);
    return rc;
}

/*
 * The errno for an envelope_verify failure, so that what the root sequence returns is one
 * convention: the DSSE and envelope codes name what failed, the message says it, and the
 * caller needs only to know the class. Named one by one: their values are the sign room's.
 */
static int verify_errno(int rc)
{
    switch (rc) {
    case DSSE_ERR_NOMEM:
        return -ENOMEM;
    case DSSE_ERR_TOO_LARGE:
        return -EFBIG;
    case DSSE_ERR_UNKNOWN_KEY:
    case DSSE_ERR_BAD_SIGNATURE:
        return -EKEYREJECTED;
    case ENVELOPE_ERR_EXPIRED:
    case ENVELOPE_ERR_NOT_YET_VALID:
        return -EKEYEXPIRED;
    case DSSE_ERR_MALFORMED:
    case DSSE_ERR_BASE64:
    case DSSE_ERR_PAYLOAD_TYPE:
    case DSSE_ERR_NO_SIGNATURE:
    case ENVELOPE_ERR_PAYLOAD:
    case ENVELOPE_ERR_STAMP:
        return -EBADMSG;
    default:
        return err_is_errno(rc) ? rc : -EBADMSG;
    }
}

int root_verify(const struct key_trust *trust, const char *env, size_t len, uint64_t min_version,
                char **payload, size_t *payload_len, struct envelope_stamp *st,
                char keyid[KEY_ID_HEX + 1], char *err, size_t errlen)
{
    char why[512];
    int rc = envelope_verify(env, len, trust, time(NULL), payload, payload_len, st, keyid, why,
                             sizeof why);
    if (rc != 0) {
        const char *what = "";
        if (rc == ENVELOPE_ERR_EXPIRED)
            what = "; ask for a fresh policy (cordond re-signs on fetch, or run `cordon sign` "
                   "again)";
        else if (rc == DSSE_ERR_UNKNOWN_KEY || rc == DSSE_ERR_BAD_SIGNATURE)
            what = "; check that CORDON_TRUST holds the public key that signs this agent's "
                   "policies and that the envelope was not edited";
        diag_set(err, errlen, "the policy envelope was refused: %s%s", why, what);
        return verify_errno(rc);
    }
    if (st->version < min_version) {
        free(*payload);
        *payload = NULL;
        diag_set(err, errlen,
                 "the policy envelope has version %llu, lower than version %llu "
                 "already seen in this process tree; a rollback is refused",
                 (unsigned long long)st->version, (unsigned long long)min_version);
        return -ESTALE;
    }
    return 0;
}

int root_compile(const char *payload, size_t len, const char *workspace, struct policy **out,
                 char *err, size_t errlen)
{
    struct policy_env env;
    struct policy_env_storage *st = malloc(sizeof *st);
    struct diag *d = malloc(sizeof *d);
    int rc = -ENOMEM;
    if (!st || !d) {
        diag_set(err, errlen, "out of memory compiling the policy");
        goto out;
    }
    diag_init(d);
    if ((rc = policy_env_from_process(&env, st, workspace && *workspace ? workspace : NULL)) != 0) {
        diag_set(err, errlen,
                 "cannot establish the policy's variables (home, current and "
                 "workspace directories): %s; set HOME and CORDON_WORKSPACE to "
                 "existing directories",
                 strerror(-rc));
        goto out;
    }
    /* A descendant expands the variables as its root did (env -i drops HOME, a child may
     * chdir), so the hooks read the policy exactly as the kernel sandbox was built from it. */
    const char *h = getenv("CORDON_HOME"), *c = getenv("CORDON_CWD");
    if (h && h[0] == '/' && strlen(h) < sizeof st->home) {
        memcpy(st->home, h, strlen(h) + 1);
        env.vars.home = st->home;
    }
    if (c && c[0] == '/' && strlen(c) < sizeof st->cwd) {
        memcpy(st->cwd, c, strlen(c) + 1);
        env.vars.cwd = st->cwd;
        if (!(workspace && *workspace)) {
            memcpy(st->workspace, c, strlen(c) + 1);
            env.vars.workspace = st->workspace;
        }
    }
    env.resolve_symlinks = 1;
    if ((rc = policy_load(payload, len, &env, out, d)) != 0) {
        char first[DIAG_PATH_MAX + DIAG_MSG_MAX + 4] = "";
        if (d->count)
            diag_format(d, 0, first, sizeof first);
        diag_set(err, errlen,
                 "the signed policy does not compile here (%zu error%s, first: "
                 "%s); check it with `cordon policy check` in this environment",
                 diag_total(d), diag_total(d) == 1 ? "" : "s", first);
    }
out:
    free(st);
    free(d);
    return rc;
}

/* Read the whole offline envelope file. */
static int read_envelope_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    int rc = path_read_file(path, FETCH_MAX_BODY, buf, len, NULL);
    if (rc == -EFBIG)
        diag_set(err, errlen, "the policy envelope %s is larger than %u bytes", path,
                 FETCH_MAX_BODY);
    else if (rc == -EINVAL)
        diag_set(err, errlen, "the policy envelope %s (CORDON_POLICY) is not a regular file", path);
    else if (rc != 0)
        diag_set(err, errlen, "cannot read the policy envelope %s (CORDON_POLICY): %s", path,
                 strerror(-rc));
    return rc;
}

static int get_envelope(struct root *r, char *err, size_t errlen)
{
    if (!r->online)
        return read_envelope_file(r->prof.policy, &r->envelope, &r->envelope_len, err, errlen);
    struct fetch_response resp;
    char why[512];
    int rc = fetch_policy(&r->server, r->key, NULL, ROOT_FETCH_TIMEOUT_MS, &resp, &r->envelope,
                          &r->envelope_len, why, sizeof why);
    if (rc != 0) {
        diag_set(err, errlen,
                 "cannot fetch the policy from %s: %s; start cordond or check "
                 "CORDON_SERVER (there is no cached policy to fall back on)",
                 r->prof.server, why);
        return rc;
    }
    if (resp.status == 401) {
        diag_set(err, errlen,
                 "cordond at %s refused the agent key (401); check CORDON_KEY, "
                 "the key may be unknown or revoked",
                 r->prof.server);
        return -EACCES;
    }
    if (resp.status == 404) {
        diag_set(err, errlen,
                 "cordond at %s has no policy for this agent (404); publish one "
                 "for it on the server",
                 r->prof.server);
        return -ENOENT;
    }
    if (resp.status != 200) {
        diag_set(err, errlen, "cordond at %s answered the policy fetch with HTTP %d",
                 r->prof.server, resp.status);
        return -EPROTO;
    }
    memcpy(r->etag, resp.etag, sizeof r->etag);
    memcpy(r->proxy, resp.proxy, sizeof r->proxy);
    memcpy(r->ca, resp.ca, sizeof r->ca);
    memcpy(r->events_url, resp.events, sizeof r->events_url);
    return 0;
}

/* Connect to the event socket and say hello for r's session; role, when set, is added to the
 * hello ("supervisor"). Returns the connected fd (close-on-exec) or a negative errno. */
static int dial_events(const struct root *r, const char *role, char *err, size_t errlen)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    const char *path = r->events_url + 5;
    if (strncmp(r->events_url, "unix:/", 6) != 0 || strlen(path) >= sizeof un.sun_path) {
        diag_set(err, errlen, "cordond announced an event channel %s that is not unix:/PATH",
                 r->events_url);
        return -EPROTO;
    }
    memcpy(un.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof un) != 0) {
        int e = errno;
        diag_set(err, errlen,
                 "cannot connect to cordond's event channel %s: %s; decisions "
                 "could not be recorded, so the agent does not start",
                 r->events_url, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    char mem[1024];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"type\":\"hello\",\"key\":");
    jbuf_str(&b, r->key, 0);
    jbuf_raw(&b, ",\"session\":");
    jbuf_str(&b, r->session, 0);
    jbuf_raw(&b, ",\"pid\":");
    jbuf_i64(&b, getpid());
    jbuf_raw(&b, ",\"policy_version\":");
    jbuf_u64(&b, r->stamp.version);
    jbuf_raw(&b, ",\"policy_digest\":");
    jbuf_str(&b, r->digest, 0);
    if (role) {
        jbuf_raw(&b, ",\"role\":");
        jbuf_str(&b, role, 0);
    }
    jbuf_raw(&b, "}");
    if (send(fd, mem, b.len, MSG_NOSIGNAL) != (ssize_t)b.len) {
        int e = errno;
        sodium_memzero(mem, sizeof mem);
        close(fd);
        diag_set(err, errlen, "cannot send the hello on cordond's event channel: %s", strerror(e));
        return -e;
    }
    sodium_memzero(mem, sizeof mem);
    return fd;
}

static int connect_events(struct root *r, char *err, size_t errlen)
{
    int fd = dial_events(r, NULL, err, errlen);
    if (fd < 0)
        return fd;
    /* Descendants inherit the connection (CORDON_EVENT_FD): clear close-on-exec. Moving it
     * above the low numbers keeps it out of the way of programs that dup2 onto 3, 4, 5. */
    int high = fcntl(fd, F_DUPFD, 100);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    r->event_fd = fd;
    events_set_fd(fd);
    return 0;
}

int root_open_supervisor_events(const struct root *r, char *err, size_t errlen)
{
    if (!r->online || !r->events_url[0])
        return -ENOENT;
    return dial_events(r, "supervisor", err, errlen);
}

static int add_port(struct sandbox_opts *o, unsigned short port)
{
    for (size_t i = 0; i < o->n_proxy_ports; i++)
        if (o->proxy_ports[i] == port)
            return 0;
    if (o->n_proxy_ports == SANDBOX_MAX_PORTS)
        return -ENOSPC;
    o->proxy_ports[o->n_proxy_ports++] = port;
    return 0;
}

int root_prepare(struct root *r, char *err, size_t errlen)
{
    int rc;
    /* A root expands the policy in its own environment, never in values an earlier tree
     * (or a forged mark) left behind. */
    unsetenv("CORDON_HOME");
    unsetenv("CORDON_CWD");
    if ((rc = root_load_trust(r->prof.trust, &r->trust, err, errlen)) != 0)
        return rc;
    r->online = r->prof.server[0] != '\0';
    if (r->online) {
        if ((rc = profile_key(&r->prof, r->key, err, errlen)) != 0)
            return rc;
        if ((rc = fetch_target_parse(r->prof.server, &r->server, err, errlen)) != 0)
            return rc;
    }
    if ((rc = get_envelope(r, err, errlen)) != 0)
        return rc;
    if ((rc = root_verify(&r->trust, r->envelope, r->envelope_len, 0, &r->payload, &r->payload_len,
                          &r->stamp, r->keyid, err, errlen)) != 0)
        return rc;
    root_digest(r->envelope, r->envelope_len, r->digest);
    if ((rc = root_compile(r->payload, r->payload_len, r->prof.workspace, &r->policy, err,
                           errlen)) != 0)
        return rc;
    /* An envelope file the sandbox could rewrite would let the agent put back an older one,
     * or remove it, for the next run: refused like a writable plain policy. */
    if (!r->online && (rc = policy_check_policy_file(r->policy, r->prof.policy, err, errlen)) != 0)
        return rc;
    unsigned char sid[16];
    randombytes_buf(sid, sizeof sid);
    sodium_bin2hex(r->session, sizeof r->session, sid, sizeof sid);

    if (r->online) {
        if (r->server.port)
            add_port(&r->sopts, r->server.port);
        /* The model proxy: in network mode none the only TCP port the tree may reach. */
        r->sopts.api_port = r->server.port;
        if (r->proxy[0]) {
            char host[FETCH_HOST_MAX];
            unsigned short port;
            if (fetch_split_hostport(r->proxy, host, sizeof host, &port) != 0) {
                diag_set(err, errlen,
                         "cordond announced a tunnel address %s that is not "
                         "HOST:PORT",
                         r->proxy);
                return -EPROTO;
            }
            add_port(&r->sopts, port);
        }
        if (r->events_url[0] && (rc = connect_events(r, err, errlen)) != 0)
            return rc;
    }
    return 0;
}

/* A sealed memfd holding buf: descendants can read it, nobody can change it, and it costs no
 * file on disk that a sandboxed process would need access to. Returns the fd (moved above the
 * low numbers) or -errno. */
static int sealed_memfd(const char *name, const char *buf, size_t len)
{
    int fd = memfd_create(name, MFD_ALLOW_SEALING), rc;
    if (fd < 0)
        return -errno;
    if ((rc = io_write_all(fd, buf, len)) != 0)
        goto fail;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        rc = -errno;
        goto fail;
    }
    int high = fcntl(fd, F_DUPFD, 100);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    return fd;
fail:
    close(fd);
    return rc;
}

/* The verified envelope (CORDON_POLICY_FD, the protocol's cache) and the hook image
 * (CORDON_HOOKS_FD, what descendants actually load: shim/hookpol.h). */
static int make_policy_fds(struct root *r, char *err, size_t errlen)
{
    int fd = sealed_memfd("cordon-policy", r->envelope, r->envelope_len);
    if (fd < 0) {
        diag_set(err, errlen, "cannot create the sealed policy cache for descendants: %s",
                 strerror(-fd));
        return fd;
    }
    r->policy_fd = fd;
    char *img = NULL;
    size_t len = 0;
    if (hookpol_encode(r->policy, r->stamp.version, &img, &len) != 0) {
        diag_set(err, errlen, "out of memory encoding the hook image for descendants");
        return -ENOMEM;
    }
    fd = sealed_memfd("cordon-hooks", img, len);
    free(img);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        fd = -e;
    }
    if (fd < 0) {
        diag_set(err, errlen, "cannot create the sealed hook image for descendants: %s",
                 strerror(-fd));
        return fd;
    }
    /* The memfd's identity: a descendant compares it with the fd it is given, so a
     * descriptor number reused for another file is never taken for the image. */
    snprintf(r->hooks_id, sizeof r->hooks_id, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    r->hooks_fd = fd;
    return 0;
}

static int put(const char *name, const char *value, char *err, size_t errlen)
{
    if (setenv(name, value, 1) != 0) {
        int e = errno;
        diag_set(err, errlen, "cannot set %s: %s", name, strerror(e));
        return -e;
    }
    return 0;
}

static int put_fd(const char *name, int fd, char *err, size_t errlen)
{
    char v[16];
    snprintf(v, sizeof v, "%d", fd);
    return put(name, v, err, errlen);
}

/*
 * cordond answers the root's sandbox report with the tree's session token,
 * {"type":"session","token":"cs_..."} (docs/PROTOCOL.md "Session tokens"). It is the only
 * message cordond sends on the channel, and it comes before any descendant holds the
 * connection. Without an answer in time (an older cordond), r->token stays "" and the tree
 * keeps the agent key.
 */
#define ROOT_TOKEN_WAIT_MS 3000

static void receive_token(struct root *r)
{
    struct pollfd p = {.fd = r->event_fd, .events = POLLIN};
    int64_t end = clock_mono_ms() + ROOT_TOKEN_WAIT_MS;
    char msg[512];
    for (;;) {
        int64_t left = end - clock_mono_ms();
        if (left <= 0)
            return;
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        ssize_t got = recv(r->event_fd, msg, sizeof msg - 1, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            return;
        msg[got] = '\0';
        if (strstr(msg, "\"type\":\"quarantine\"") && (size_t)got < sizeof r->notice) {
            memcpy(r->notice, msg, (size_t)got + 1); /* for the poller to say */
            continue;
        }
        cJSON *o = cJSON_ParseWithLength(msg, (size_t)got);
        sodium_memzero(msg, sizeof msg);
        cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        cJSON *tok = cJSON_GetObjectItemCaseSensitive(o, "token");
        int done = cJSON_IsString(type) && strcmp(type->valuestring, "session") == 0 &&
                   cJSON_IsString(tok) && strncmp(tok->valuestring, "cs_", 3) == 0 &&
                   profile_key_valid(tok->valuestring);
        if (done)
            memcpy(r->token, tok->valuestring, sizeof r->token);
        if (cJSON_IsString(tok))
            sodium_memzero(tok->valuestring, strlen(tok->valuestring));
        cJSON_Delete(o);
        if (done)
            return;
    }
}

/* Does the policy name a host whose TLS cordond terminates? */
static int wants_ca(const struct policy *p)
{
    for (size_t i = 0; p && i < p->sandbox.net.n_http; i++)
        if (p->sandbox.net.http[i].tls == POLICY_HTTP_TLS_TERMINATE)
            return 1;
    return 0;
}

/*
 * The CA bundle of the tree when cordond terminates TLS for some of its hosts: the CAs the
 * process trusted (SSL_CERT_FILE when it names a readable file, else the system bundle) and
 * cordond's deployment CA after them, in a file of its own (0644, $TMPDIR/cordon-ca-PID.pem,
 * or /tmp) that every process of the tree may read and `cordon run` removes at the end. The usual
 * variables then name it (root_export). A client that pins or reads only its own store fails on
 * those hosts (docs/SECURITY.md). Returns 0 (r->bundle set, or "" when there is nothing to do) or a
 * negative errno.
 */
static int write_bundle(struct root *r, char *err, size_t errlen)
{
    r->bundle[0] = '\0';
    if (!r->ca[0] || !wants_ca(r->policy))
        return 0;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/' || strlen(tmp) > 200)
        tmp = "/tmp";
    /* Named after this process, so that `cordon run` removes it when the tree has ended; a
     * name already taken (a stale file, or someone else's) gets a random one instead. */
    snprintf(r->bundle, sizeof r->bundle, "%s/cordon-ca-%d.pem", tmp, (int)getpid());
    int fd = open(r->bundle, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        snprintf(r->bundle, sizeof r->bundle, "%s/cordon-ca-XXXXXX", tmp);
        fd = mkostemp(r->bundle, O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        diag_set(err, errlen, "cannot create the CA bundle in %s: %s", tmp, strerror(e));
        r->bundle[0] = '\0';
        return -e;
    }
    const char *base = getenv("SSL_CERT_FILE");
    struct stat st;
    if (!base || stat(base, &st) != 0 || !S_ISREG(st.st_mode) || access(base, R_OK) != 0)
        base = "/etc/ssl/certs/ca-certificates.crt";
    int rc = 0, in = open(base, O_RDONLY | O_CLOEXEC);
    char buf[16384];
    ssize_t n;
    while (in >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if ((rc = io_write_all(fd, buf, (size_t)n)) != 0)
            break;
    if (in >= 0)
        close(in);
    /* the CA: its base64 DER in PEM lines */
    size_t len = strlen(r->ca);
    if (rc == 0)
        rc = io_write_all(fd, "\n-----BEGIN CERTIFICATE-----\n", 29);
    for (size_t i = 0; rc == 0 && i < len; i += 64) {
        size_t k = len - i < 64 ? len - i : 64;
        if ((rc = io_write_all(fd, r->ca + i, k)) == 0)
            rc = io_write_all(fd, "\n", 1);
    }
    if (rc == 0)
        rc = io_write_all(fd, "-----END CERTIFICATE-----\n", 26);
    if (rc == 0 && fchmod(fd, 0644) != 0)
        rc = -errno;
    close(fd);
    if (rc != 0) {
        diag_set(err, errlen, "cannot write the CA bundle %s: %s", r->bundle, strerror(-rc));
        unlink(r->bundle);
        r->bundle[0] = '\0';
        return rc;
    }
    return 0;
}

/*
 * The enforcement report as one event: compact, and within what the channel carries
 * (EVENTS_MAX_MSG with the event's own members around it). An event over that is dropped
 * whole, and with this one would go the session token it is answered with and the kernel
 * domain's name. So what does not fit is cut, said so, and counted: first the names of
 * hidden variables (env.truncated; env.hidden keeps the count), then the limit and
 * degradation notes from the last (notes_cut: how many). Returns the text (free()) or NULL.
 */
#define REPORT_ROOM (EVENTS_MAX_MSG - 192)

static char *report_fit(cJSON *rep)
{
    char *json = cJSON_PrintUnformatted(rep);
    cJSON *env = cJSON_GetObjectItemCaseSensitive(rep, "env");
    cJSON *names = cJSON_GetObjectItemCaseSensitive(env, "names");
    int cut = 0;
    while (json && strlen(json) > REPORT_ROOM) {
        int n = cJSON_GetArraySize(names);
        if (n > 0) {
            cJSON_DeleteItemFromArray(names, n - 1);
            cJSON_ReplaceItemInObjectCaseSensitive(env, "truncated", cJSON_CreateTrue());
        } else {
            cJSON *lim = cJSON_GetObjectItemCaseSensitive(rep, "limits");
            cJSON *deg = cJSON_GetObjectItemCaseSensitive(rep, "degradations");
            cJSON *from = cJSON_GetArraySize(lim) > 0 ? lim : deg;
            int k = cJSON_GetArraySize(from);
            if (k == 0)
                break; /* nothing left to cut: the event is dropped and counted as such */
            cJSON_DeleteItemFromArray(from, k - 1);
            cut++;
            cJSON_DeleteItemFromObjectCaseSensitive(rep, "notes_cut");
            cJSON_AddNumberToObject(rep, "notes_cut", cut);
        }
        free(json);
        json = cJSON_PrintUnformatted(rep);
    }
    return json;
}

int root_enforce(struct root *r, char *err, size_t errlen)
{
    int rc;
    char why[1024];
    if (r->preload[0]) {
        /* libcordon.so for every descendant, and libcordon-root.so beside it for a process
         * of the tree that has to become a root again (a mark without its kernel facts). */
        r->sopts.read_files[0] = r->preload;
        r->sopts.n_read_files = 1;
        if (rootlib_path(r->preload, r->rootlib, sizeof r->rootlib) == 0 &&
            access(r->rootlib, R_OK) == 0)
            r->sopts.read_files[r->sopts.n_read_files++] = r->rootlib;
    }
    if ((rc = write_bundle(r, err, errlen)) != 0)
        return rc;
    if (r->bundle[0])
        r->sopts.read_files[r->sopts.n_read_files++] = r->bundle;
    /* The hidden variables go first: what the tree starts inherits this environment, and
     * /proc/self/stat, which locates the kernel's copy, is still readable. The variables the
     * root exports below (the session token under the SDKs' key names among them) come
     * after, so a hide rule never takes them from the agent. */
    if ((rc = env_scrub(r->policy, &r->hidden)) != 0) {
        diag_set(err, errlen,
                 "out of memory removing the variables sandbox.env hides from the "
                 "environment");
        return rc;
    }
    (void)env_hidden_line(&r->hidden, r->env_notice, sizeof r->env_notice);
    if (sandbox_apply(r->policy, &r->sopts, &r->report, why, sizeof why) != SANDBOX_OK) {
        diag_set(err, errlen, "%s", why);
        return -EPERM;
    }
    cJSON *rep = sandbox_report_object(&r->report);
    char *json = rep && env_hidden_json(&r->hidden, rep) == 0 ? report_fit(rep) : NULL;
    cJSON_Delete(rep);
    if (!json) {
        diag_set(err, errlen, "out of memory writing the enforcement report");
        return -ENOMEM;
    }
    events_emit("sandbox.report", "allow", json);
    free(json);
    if (r->event_fd >= 0)
        receive_token(r);

    if ((rc = make_policy_fds(r, err, errlen)) != 0)
        return rc;
    if (r->policy->sandbox.net.mode == POLICY_NET_PROXY) {
        int fd = dnsmap_create();
        if (fd >= 0) {
            int high = fcntl(fd, F_DUPFD, 100);
            if (high >= 0) {
                close(fd);
                fd = high; /* the mapping made by dnsmap_create stays valid */
            }
            r->dns_fd = fd;
        }
    }
    /* The effective profile, so descendants that lost it (env -i) get it back from the
     * hooks, and so a profile file need not be readable inside the sandbox. */
    /* Inside the tree the session token stands for the agent key (cordond checks both the
     * same way): the key itself never enters the environment of what the tree runs. */
    const char *cred = r->token[0] ? r->token : r->key;
    if (r->token[0] && env_forget("CORDON_KEY") != 0) {
        diag_set(err, errlen, "out of memory removing the agent key from the environment");
        return -ENOMEM;
    }
    if (r->online) {
        if ((rc = put("CORDON_SERVER", r->prof.server, err, errlen)) ||
            (rc = put("CORDON_KEY", cred, err, errlen)))
            return rc;
    } else if ((rc = put("CORDON_POLICY", r->prof.policy, err, errlen))) {
        return rc;
    }
    /* Trust inline: descendants verify the cache with it, and a trust file need not be
     * readable inside the sandbox. */
    char trust[KEY_TRUST_MAX * 100 + 1];
    size_t tl = 0;
    for (size_t i = 0; i < r->trust.n; i++) {
        char b64[64];
        sodium_bin2base64(b64, sizeof b64, r->trust.keys[i].pk, 32, sodium_base64_VARIANT_ORIGINAL);
        int n = snprintf(trust + tl, sizeof trust - tl, "cordon-ed25519 %s %s\n",
                         r->trust.keys[i].id, b64);
        if (n < 0 || (size_t)n >= sizeof trust - tl)
            break;
        tl += (size_t)n;
    }
    if ((rc = put("CORDON_TRUST", trust, err, errlen)) ||
        (r->prof.workspace[0] && (rc = put("CORDON_WORKSPACE", r->prof.workspace, err, errlen))))
        return rc;
    if (r->prof.log[0] && (rc = put("CORDON_LOG", r->prof.log, err, errlen)))
        return rc;
    /* Every value of the profile file is in the environment now: a descendant starts from
     * the environment alone and never opens the file (which the sandbox may not grant). */
    unsetenv("CORDON_PROFILE");
    if (r->event_fd >= 0 && (rc = put_fd("CORDON_EVENT_FD", r->event_fd, err, errlen)))
        return rc;
    if (r->dns_fd >= 0 && (rc = put_fd("CORDON_DNS_FD", r->dns_fd, err, errlen)))
        return rc;
    if (r->online && r->proxy[0] && r->policy->sandbox.net.mode == POLICY_NET_PROXY) {
        char url[FETCH_HOST_MAX * 2 + 64];
        /* The key rides in the proxy URL so that clients honouring HTTPS_PROXY authenticate
         * their own CONNECT (Basic, key as the password; docs/PROTOCOL.md). */
        snprintf(url, sizeof url, "http://cordon:%s@%s", cred, r->proxy);
        if ((rc = put("CORDON_PROXY", r->proxy, err, errlen)) ||
            (rc = put("HTTPS_PROXY", url, err, errlen)) ||
            (rc = put("https_proxy", url, err, errlen)) ||
            (rc = put("NO_PROXY", "localhost,127.0.0.1,::1", err, errlen)) ||
            (rc = put("no_proxy", "localhost,127.0.0.1,::1", err, errlen)))
            return rc;
        sodium_memzero(url, sizeof url);
        /* Not HTTP_PROXY or ALL_PROXY: plain http through a proxy uses absolute-form GET
         * requests, which the tunnel port refuses; the connect hook tunnels plain http
         * itself. */
    }
    if (r->bundle[0]) {
        static const char *const names[] = {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                            "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if ((rc = put(names[i], r->bundle, err, errlen)))
                return rc;
    }
    if (r->online && r->server.port) {
        char base[FETCH_HOST_MAX + 16];
        snprintf(base, sizeof base, "http://%s/v1", r->server.host);
        if ((rc = put("OPENAI_BASE_URL", base, err, errlen)))
            return rc;
        snprintf(base, sizeof base, "http://%s", r->server.host);
        if ((rc = put("ANTHROPIC_BASE_URL", base, err, errlen)))
            return rc;
        /* The SDKs' own variables name the credential for cordond's model proxy, over what
         * the agent had: a provider key in the agent's environment is never sent anywhere,
         * cordond holds the real ones (docs/SHIM.md "Model clients"). */
        if ((rc = put("OPENAI_API_KEY", cred, err, errlen)) ||
            (rc = put("ANTHROPIC_API_KEY", cred, err, errlen)))
            return rc;
    }
    {
        struct policy_env pe;
        struct policy_env_storage *ps = malloc(sizeof *ps);
        if (!ps) {
            diag_set(err, errlen, "out of memory exporting the tree's directories");
            return -ENOMEM;
        }
        rc = policy_env_from_process(&pe, ps, NULL);
        if (rc != 0)
            diag_set(err, errlen,
                     "cannot establish the home and current directories to "
                     "export for descendants: %s",
                     strerror(-rc));
        if (rc == 0)
            rc = put("CORDON_HOME", pe.vars.home, err, errlen);
        if (rc == 0)
            rc = put("CORDON_CWD", pe.vars.cwd, err, errlen);
        free(ps);
        if (rc)
            return rc;
    }
    /* The mark last: it must never exist without the sandbox and the cache behind it. */
    if ((rc = put_fd("CORDON_HOOKS_FD", r->hooks_fd, err, errlen)) ||
        (rc = put("CORDON_HOOKS_ID", r->hooks_id, err, errlen)) ||
        (rc = put_fd("CORDON_POLICY_FD", r->policy_fd, err, errlen)) ||
        (rc = put("CORDON_POLICY_DIGEST", r->digest, err, errlen)) ||
        (rc = put("CORDON_SESSION", r->session, err, errlen)))
        return rc;
    return 0;
}

int root_poll_once(struct root *r, char *msg, size_t msglen, char *err, size_t errlen)
{
    struct fetch_response resp;
    char *env = NULL, *payload = NULL;
    size_t len = 0, plen = 0;
    struct envelope_stamp st;
    char keyid[KEY_ID_HEX + 1];
    int rc = fetch_policy(&r->server, r->key, r->etag, ROOT_FETCH_TIMEOUT_MS, &resp, &env, &len,
                          err, errlen);
    if (rc != 0)
        return rc;
    if (resp.status == 304) {
        free(env);
        return 0;
    }
    if (resp.status != 200) {
        diag_set(err, errlen, "cordond answered the policy poll with HTTP %d", resp.status);
        free(env);
        return -EPROTO;
    }
    rc = root_verify(&r->trust, env, len, r->stamp.version, &payload, &plen, &st, keyid, err,
                     errlen);
    free(env);
    free(payload);
    if (rc != 0)
        return rc;
    memcpy(r->etag, resp.etag, sizeof r->etag);
    if (st.version == r->stamp.version)
        return 0;
    snprintf(msg, msglen,
             "cordon: policy v%llu is published; this process runs v%llu; "
             "restart to apply",
             (unsigned long long)st.version, (unsigned long long)r->stamp.version);
    return 1;
}
