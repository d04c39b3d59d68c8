/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond: the governance server. This file reads the configuration, opens what the server
 * holds (signing key, agents, policy set, audit log), binds the listeners, starts the HTTP
 * front, the tunnel and the event intake, and then waits for signals: SIGHUP reloads the
 * policy set, SIGTERM and SIGINT stop the server. The same loop re-signs the policy set when
 * its envelopes pass half their validity, so agents never see an expired policy from a
 * running server.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "policy/audit/audit.h"
#include "policy/sign/key.h"
#include "policy/server/events.h"
#include "policy/server/http.h"
#include "policy/server/server.h"
#include "policy/server/tunnel.h"

static const char usage[] =
    "usage: cordond [--config FILE] [--KEY VALUE]...\n"
    "\n"
    "The cordon governance server: serves each agent its signed policy (GET /v1/policy),\n"
    "tunnels the agents' egress (CONNECT, on its own port), takes the shims' events over a\n"
    "unix socket, and records everything in the audit log.\n"
    "\n"
    "Every config-file key is also a flag (underscores become dashes); flags override the\n"
    "file, and for listen/upstream the flags replace the file's list.\n"
    "  --config FILE            the config file (sshd_config-like `key value` lines, # comments)\n"
    "  --listen ADDR            HTTP: IPv4:PORT, [IPv6]:PORT or unix:/PATH (repeatable;\n"
    "                           default 127.0.0.1:7071; port 0 lets the kernel choose)\n"
    "  --tunnel-listen ADDR     CONNECT tunnel: IPv4:PORT or [IPv6]:PORT (default 127.0.0.1:7072)\n"
    "  --admin-listen ADDR      the admin endpoints, and only they: unix:/PATH (default\n"
    "                           unix:/run/cordond/admin.sock; directory made 0700, socket\n"
    "                           0600) or IPv4:PORT / [IPv6]:PORT; requests from a sandboxed\n"
    "                           process are refused whatever token they carry\n"
    "  --policies-dir DIR       one AGENT.json policy per agent\n"
    "  --policy FILE            single-policy mode: serve this one file (instead of a dir)\n"
    "  --agent-key-file FILE    single-policy mode: a ck_ key (file mode 0600) for its agent,\n"
    "                           held in memory only\n"
    "  --signing-key FILE       Ed25519 key that signs policies (cordon keygen); required\n"
    "  --audit-key FILE         Ed25519 key that signs audit checkpoints, held only by the audit\n"
    "                           writer process (default: the signing key, with a warning)\n"
    "  --state-dir DIR          server secret, keys file, versions (default /var/lib/cordond)\n"
    "  --agent-keys FILE        the keys file (default STATE/agents)\n"
    "  --audit-dir DIR          the audit log (default STATE/audit)\n"
    "  --admin-token-file FILE  admin bearer token (mode 0600); admin endpoints off without it\n"
    "                           (the admin_listen socket is then not created)\n"
    "  --events-socket PATH     event channel socket (default STATE/events.sock; off: none)\n"
    "  --ready-file FILE        written once listening: http=, tunnel=, admin=, events= lines\n"
    "  --policy-expiry DUR      validity of each signed policy (default 24h; re-signed at half)\n"
    "  --threads N, --connection-timeout S, --handshake-timeout S, --tunnel-idle-timeout S,\n"
    "  --max-connections N, --max-tunnels-per-agent N,\n"
    "  --max-tunnels N, --event-rate N, --event-burst N, --audit-fsync always|batch|none,\n"
    "  --audit-origin TEXT, --audit-on-failure refuse|exit,\n"
    "  --upstream 'NAME URL' (parsed and validated; used by the model\n"
    "                           proxy, not yet by this version)\n"
    "  --check-config           validate the configuration and flags, then exit\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGHUP reloads the policies; SIGTERM or SIGINT stops. See docs/SERVER.md.\n"
    "Exit status: 0 stopped cleanly, 1 could not start (the message says why), 2 usage,\n"
    "3 stopped because the audit log could no longer record (its writer process died, or\n"
    "the log failed with audit_on_failure exit): restart it, the next start records the gap.\n";

static struct srv g_srv;

/* Read a small secret file that must be mode 0600 (no group/other bits); trims the newline. */
static int read_secret_file(const char *what, const char *path, char *out, size_t outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "cordond: %s %s: cannot open: %s\n", what, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        fprintf(stderr, "cordond: %s %s: must be a regular file readable only by its owner; "
                "run chmod 600 %s\n", what, path, path);
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, out, outlen - 1);
    close(fd);
    if (n <= 0) {
        fprintf(stderr, "cordond: %s %s: empty or unreadable\n", what, path);
        return -1;
    }
    out[n] = '\0';
    size_t l = strcspn(out, "\r\n");
    if (strspn(out + l, "\r\n") != strlen(out + l)) {
        fprintf(stderr, "cordond: %s %s: expected one line\n", what, path);
        sodium_memzero(out, outlen);
        return -1;
    }
    out[l] = '\0';
    return 0;
}

/*
 * The once-a-second look at the audit writer. Whatever silences it must be loud: its death
 * (killed, crashed) stops cordond with status 3, so that a supervisor restarts it and the
 * next start records the gap; a failed log (write or sync error) refuses every action that
 * must be recorded (503, /healthz) and, with audit_on_failure exit, stops cordond as well.
 * Returns 0 to go on serving, -1 to stop.
 */
static int audit_watch(struct srv *s)
{
    char why[256];
    int st = audit_check(s->audit, why, sizeof why);
    if (st == AUDIT_OK)
        return 0;
    int was = __atomic_exchange_n(&s->audit_failed, 1, __ATOMIC_RELAXED);
    if (st == AUDIT_ERR_CLOSED) {
        fprintf(stderr,
                "cordond: audit: %s. Nothing can be recorded any more: policy fetches and "
                "tunnels are refused (503), and cordond stops now with exit status 3 rather than "
                "serve unrecorded. Restart it (a supervisor with Restart=on-failure does); the "
                "next start records the gap in %s/audit.jsonl\n",
                why, s->cfg.audit_dir);
        return -1;
    }
    if (strcmp(s->cfg.audit_on_failure, "exit") == 0) {
        fprintf(stderr,
                "cordond: audit: %s. audit_on_failure is exit: cordond stops now with exit "
                "status 3; fix the audit directory (disk full?) and restart it\n",
                why);
        return -1;
    }
    if (!was)
        fprintf(stderr,
                "cordond: audit: %s. Policy fetches and tunnels are refused (503) and /healthz "
                "reports it until the audit directory is fixed and cordond restarted\n",
                why);
    return 0;
}


/* The directory of a unix socket path: created 0700 when missing (one level only: the admin
 * socket's directory is cordond's own, /run/cordond by default). */
static int socket_dir(const char *what, const char *spec)
{
    char dir[CONFIG_ADDR_MAX];
    if (strlen(spec + 5) >= sizeof dir)
        return -1;
    memcpy(dir, spec + 5, strlen(spec + 5) + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cordond: %s: cannot create the directory %s: %s\n", what, dir,
                strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cordond: %s: %s is not a directory\n", what, dir);
        return -1;
    }
    if (st.st_mode & 022)
        fprintf(stderr, "cordond: warning: %s: %s is writable by group or others, who could "
                "put another socket in its place; make it 0700 (RuntimeDirectory=cordond does)\n",
                what, dir);
    return 0;
}

/* mode: for a unix socket, the mode it is created with (0: as the umask says). */
static int listen_on(const char *spec, int *fd_out, char *bound, size_t boundlen, mode_t mode)
{
    struct sockaddr_storage sa;
    socklen_t sl;
    if (config_parse_addr(spec, &sa, &sl) != 0)
        return -1;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        goto fail;
    if (sa.ss_family == AF_UNIX) {
        struct stat st;
        const char *p = ((struct sockaddr_un *)&sa)->sun_path;
        if (lstat(p, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(p);
    } else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    mode_t old = 0;
    if (sa.ss_family == AF_UNIX && mode)
        old = umask(0777 & ~mode); /* never a moment with a wider mode */
    int bound_ok = bind(fd, (struct sockaddr *)&sa, sl) == 0;
    if (sa.ss_family == AF_UNIX && mode) {
        umask(old);
        if (bound_ok && chmod(((struct sockaddr_un *)&sa)->sun_path, mode) != 0)
            bound_ok = 0;
    }
    if (!bound_ok || listen(fd, 512) != 0)
        goto fail;
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &gl);
    char host[INET6_ADDRSTRLEN];
    if (got.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&got;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(bound, boundlen, "%s:%u", host, ntohs(a->sin_port));
    } else if (got.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&got;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(bound, boundlen, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        snprintf(bound, boundlen, "%s", spec);
    }
    *fd_out = fd;
    return 0;
fail:
    fprintf(stderr, "cordond: cannot listen on %s: %s; is another server using it?\n", spec,
            strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int write_ready(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "cordond: cannot write the ready file %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static const struct option opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"check-config", no_argument, NULL, 'C'},
    {"version", no_argument, NULL, 'V'},
    {"listen", required_argument, NULL, 0},
    {"tunnel-listen", required_argument, NULL, 0},
    {"admin-listen", required_argument, NULL, 0},
    {"policies-dir", required_argument, NULL, 0},
    {"policy", required_argument, NULL, 0},
    {"policy-file", required_argument, NULL, 0},
    {"agent-keys", required_argument, NULL, 0},
    {"agent-key-file", required_argument, NULL, 0},
    {"audit-dir", required_argument, NULL, 0},
    {"signing-key", required_argument, NULL, 0},
    {"audit-key", required_argument, NULL, 0},
    {"admin-token-file", required_argument, NULL, 0},
    {"state-dir", required_argument, NULL, 0},
    {"events-socket", required_argument, NULL, 0},
    {"ready-file", required_argument, NULL, 0},
    {"audit-fsync", required_argument, NULL, 0},
    {"audit-on-failure", required_argument, NULL, 0},
    {"audit-origin", required_argument, NULL, 0},
    {"policy-expiry", required_argument, NULL, 0},
    {"threads", required_argument, NULL, 0},
    {"connection-timeout", required_argument, NULL, 0},
    {"handshake-timeout", required_argument, NULL, 0},
    {"tunnel-idle-timeout", required_argument, NULL, 0},
    {"max-connections", required_argument, NULL, 0},
    {"max-tunnels", required_argument, NULL, 0},
    {"max-tunnels-per-agent", required_argument, NULL, 0},
    {"event-rate", required_argument, NULL, 0},
    {"event-burst", required_argument, NULL, 0},
    {"upstream", required_argument, NULL, 0},
    {0, 0, 0, 0},
};

int main(int argc, char **argv)
{
    struct srv *s = &g_srv;
    char err[1024];
    const char *config_path = NULL;
    int c, idx, rc = 1, check_only = 0;
    struct key_secret *signer = NULL;
    struct http *http = NULL;
    struct tunnel *tun = NULL;
    struct events *ev = NULL;
    int fds[CONFIG_MAX_LISTEN], nfds = 0, tfd = -1, afd = -1;
    char admin_bound[CONFIG_ADDR_MAX] = "";
    static char secrets[CONFIG_MAX_SECRETS][PATH_MAX];
    static const char *secret_ptrs[CONFIG_MAX_SECRETS];
    char bound[CONFIG_MAX_LISTEN][CONFIG_ADDR_MAX];
    struct diag *d = NULL;

    config_defaults(&s->cfg);
    pthread_rwlock_init(&s->audit_lock, NULL);
    pthread_mutex_init(&s->tunnel_lock, NULL);
    /* First pass: --config and --help; flags are applied after the file. */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, &idx)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == 'V') {
            printf("cordond %s\n", CORDON_VERSION);
            return 0;
        }
        if (c == 'c')
            config_path = optarg;
        if (c == 'C')
            check_only = 1;
        if (c == '?' || c == ':') {
            fprintf(stderr, "cordond: unknown option or missing value: %s\n%s",
                    argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "cordond: unexpected argument %s\n", argv[optind]);
        return 2;
    }
    if (config_path && config_load_file(&s->cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: %s\n", err);
        return 1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, &idx)) != -1) {
        if (c != 0)
            continue;
        char key[64];
        const char *name = strcmp(opts[idx].name, "policy") == 0 ? "policy-file" : opts[idx].name;
        snprintf(key, sizeof key, "%s", name);
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        if (config_set_flag(&s->cfg, key, optarg, err, sizeof err) != 0) {
            fprintf(stderr, "cordond: %s\n", err);
            return 2;
        }
    }
    if (config_finish(&s->cfg, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: %s%s%s\n", config_path ? config_path : "",
                config_path ? ": " : "", err);
        return 1;
    }
    struct config *cfg = &s->cfg;
    /* What this server keeps secret: added to every policy it signs as host_deny, so that no
     * sandbox on the host reaches its keys, token, state or audit log whatever the layout. */
    int nsecrets = config_secret_paths(cfg, secrets, CONFIG_MAX_SECRETS, err, sizeof err);
    if (nsecrets < 0) {
        fprintf(stderr, "cordond: %s%s%s\n", config_path ? config_path : "",
                config_path ? ": " : "", err);
        return 1;
    }
    for (int i = 0; i < nsecrets; i++)
        secret_ptrs[i] = secrets[i];
    if (check_only) {
        printf("cordond: configuration is valid\n");
        return 0;
    }
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits: only main waits on them */

    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cordond: state_dir %s: cannot create: %s\n", cfg->state_dir,
                strerror(errno));
        return 1;
    }
    if (key_secret_load(cfg->signing_key, &signer, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: signing_key: %s\n", err);
        return 1;
    }
    if (cfg->admin_token_file[0]) {
        char tok[512];
        if (read_secret_file("admin_token_file", cfg->admin_token_file, tok, sizeof tok) != 0)
            goto out;
        if (strlen(tok) < 16) {
            fprintf(stderr, "cordond: admin_token_file %s: the token is shorter than 16 "
                    "characters; write a long random one (e.g. head -c 32 /dev/urandom | "
                    "base64)\n", cfg->admin_token_file);
            sodium_memzero(tok, sizeof tok);
            goto out;
        }
        crypto_hash_sha256(s->admin_mac, (const unsigned char *)tok, strlen(tok));
        sodium_memzero(tok, sizeof tok);
        s->admin_on = 1;
    }
    char secret_path[PATH_MAX + 16];
    snprintf(secret_path, sizeof secret_path, "%s/server.secret", cfg->state_dir);
    if (agents_open(cfg->agent_keys, secret_path, &s->agents, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: agents: %s\n", err);
        goto out;
    }
    /* The audit writer is the only process that should hold the checkpoint key: this one
     * answers requests and holds the policy signing key, so with one key for both a
     * compromised request handler could sign checkpoints of its own. */
    const char *audit_key = cfg->audit_key[0] ? cfg->audit_key : cfg->signing_key;
    if (strcmp(audit_key, cfg->signing_key) == 0)
        fprintf(stderr, "cordond: warning: audit_key is not set (or is signing_key): audit "
                        "checkpoints are signed with the policy signing key, which the request-"
                        "handling process also holds; set audit_key to a key of its own (cordon "
                        "keygen) so that only the audit writer can sign checkpoints\n");
    struct audit_config ac = {.dir = cfg->audit_dir, .key_path = audit_key,
                              .origin = cfg->audit_origin,
                              .fsync = strcmp(cfg->audit_fsync, "always") == 0 ? AUDIT_FSYNC_ALWAYS
                                       : strcmp(cfg->audit_fsync, "none") == 0 ? AUDIT_FSYNC_NONE
                                                                               : AUDIT_FSYNC_BATCH};
    if (audit_open(&ac, &s->audit, err, sizeof err) != AUDIT_OK) {
        fprintf(stderr, "cordond: audit: %s\n", err);
        goto out;
    }
    d = malloc(sizeof *d);
    if (!d)
        goto out;
    diag_init(d);
    char versions[PATH_MAX + 16];
    snprintf(versions, sizeof versions, "%s/versions", cfg->state_dir);
    struct pset_options po = {.policies_dir = cfg->policies_dir[0] ? cfg->policies_dir : NULL,
                              .policy_file = cfg->policy_file[0] ? cfg->policy_file : NULL,
                              .versions_path = versions, .key = signer,
                              .expiry = cfg->policy_expiry, .host_deny = secret_ptrs,
                              .n_host_deny = (size_t)nsecrets};
    if (pset_manager_open(&po, &s->psets, d) != 0) {
        fprintf(stderr, "cordond: the policies are invalid; nothing is served:\n");
        for (size_t i = 0; i < d->count; i++) {
            char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
            diag_format(d, i, line, sizeof line);
            fprintf(stderr, "  %s\n", line);
        }
        goto out;
    }
    if (cfg->agent_key_file[0]) {
        char key[128];
        struct pset *cur = pset_acquire(s->psets);
        int bad = read_secret_file("agent_key_file", cfg->agent_key_file, key, sizeof key) != 0 ||
                  agents_add_ephemeral(s->agents, cur->v[0].agent, key, err, sizeof err) != 0;
        pset_release(cur);
        sodium_memzero(key, sizeof key);
        if (bad) {
            fprintf(stderr, "cordond: agent_key_file %s: %s\n", cfg->agent_key_file, err);
            goto out;
        }
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        if (listen_on(cfg->listen[i], &fds[nfds], bound[i], sizeof bound[i], 0) != 0)
            goto out;
        nfds++;
    }
    if (listen_on(cfg->tunnel_listen, &tfd, s->proxy_addr, sizeof s->proxy_addr, 0) != 0)
        goto out;
    /* The admin endpoints listen only on admin_listen, and only when there is a token. */
    if (s->admin_on &&
        ((strncmp(cfg->admin_listen, "unix:", 5) == 0 &&
          socket_dir("admin_listen", cfg->admin_listen) != 0) ||
         listen_on(cfg->admin_listen, &afd, admin_bound, sizeof admin_bound, 0600) != 0))
        goto out;
    if (strcmp(cfg->events_socket, "off") != 0)
    {
        /* config_finish() bounded the path to a sun_path (108 bytes) */
        memcpy(s->events_addr, "unix:", 5);
        memcpy(s->events_addr + 5, cfg->events_socket, strlen(cfg->events_socket) + 1);
    }
    if (s->events_addr[0] && events_start(s, cfg->events_socket, &ev, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: %s\n", err);
        goto out;
    }
    if (tunnel_start(s, tfd, &tun, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: %s\n", err);
        goto out;
    }
    tfd = -1; /* transferred */
    if (http_start(s, fds, (size_t)nfds, afd, &http, err, sizeof err) != 0) {
        fprintf(stderr, "cordond: %s\n", err);
        goto out;
    }
    nfds = 0; /* transferred: MHD closes them */
    afd = -1;
    char ready[4096];
    size_t rl = 0;
    for (size_t i = 0; i < cfg->n_listen; i++)
        rl += (size_t)snprintf(ready + rl, sizeof ready - rl, "http=%s\n", bound[i]);
    rl += (size_t)snprintf(ready + rl, sizeof ready - rl, "tunnel=%s\n", s->proxy_addr);
    if (admin_bound[0])
        rl += (size_t)snprintf(ready + rl, sizeof ready - rl, "admin=%s\n", admin_bound);
    if (s->events_addr[0])
        snprintf(ready + rl, sizeof ready - rl, "events=%s\n", s->events_addr);
    if (cfg->ready_file[0] && write_ready(cfg->ready_file, ready) != 0)
        goto out;
    fprintf(stderr, "cordond %s: serving\n%s", CORDON_VERSION, ready);

    time_t retry_at = 0;
    int stop_status = 0;
    for (;;) {
        struct timespec one = {1, 0};
        int sig = sigtimedwait(&set, NULL, &one);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            diag_init(d);
            (void)srv_reload(s, NULL, 0, "sighup", d);
            continue;
        }
        if (audit_watch(s) != 0) {
            stop_status = 3;
            break;
        }
        struct pset *cur = pset_acquire(s->psets);
        time_t due = cur->resign_at, now = time(NULL);
        pset_release(cur);
        if (now >= due && now >= retry_at) {
            diag_init(d);
            /* A failed re-sign is retried a minute later, not every second. */
            if (srv_reload(s, NULL, 0, "resign", d) != 0)
                retry_at = now + 60;
        }
    }
    fprintf(stderr, "cordond: stopping%s\n", stop_status ? " (exit status 3: the audit log "
                    "can no longer record)" : "");
    rc = stop_status;
out:
    http_stop(http);
    events_stop(ev);
    size_t left = tunnel_stop(tun);
    if (left)
        fprintf(stderr, "cordond: %zu tunnel(s) still open at exit; their tunnel.close records "
                "are lost\n", left);

    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (tfd >= 0)
        close(tfd);
    if (afd >= 0)
        close(afd);
    pthread_rwlock_wrlock(&s->audit_lock);
    if (s->audit && audit_close(s->audit) != AUDIT_OK && rc == 0)
        rc = 1;
    s->audit = NULL;
    pthread_rwlock_unlock(&s->audit_lock);
    if (!left) { /* a tunnel thread still running may use them: leave them to the exit */
        pset_manager_free(s->psets);
        agents_free(s->agents);
    }
    key_secret_free(signer);
    free(d);
    return rc;
}
