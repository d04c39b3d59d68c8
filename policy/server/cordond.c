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

#include "base/secret.h"
#include "policy/audit/audit.h"
#include "policy/sign/key.h"
#include "policy/server/ledger.h"
#include "policy/server/log.h"
#include "policy/server/anomaly.h"
#include "policy/server/proxy.h"
#include "policy/server/events.h"
#include "policy/server/http.h"
#include "policy/server/kaudit.h"
#include "policy/server/ready.h"
#include "policy/server/server.h"
#include "policy/server/mint.h"
#include "policy/server/origintls.h"
#include "policy/server/sessions.h"
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
    "  --kernel-audit off|on|if-enabled\n"
    "                           record the kernel's own refusals (Landlock, seccomp) of the\n"
    "                           agents as kernel.deny (needs root: CAP_AUDIT_READ). if-enabled\n"
    "                           (default): only when audit is already enabled on the host; on:\n"
    "                           enable it and raise its backlog limit to 8192, restored at exit\n"
    "  --upstream 'NAME URL' (parsed and validated; used by the model\n"
    "                           proxy, not yet by this version)\n"
    "  --tls-ca PREFIX          the deployment CA (cordon keygen --ca PREFIX): terminate TLS\n"
    "                           for the sandbox.network.http hosts with \"tls\": \"terminate\"\n"
    "  --origin-ca FILE         PEM CAs trusted for those hosts' origins besides the system's\n"
    "  --log-format text|json   the log on standard error (or --log-file): text is one\n"
    "                           level=info msg=\"...\" key=value line per event (the default),\n"
    "                           json one JSON object per line; see docs/SERVER.md \"Logs\"\n"
    "  --log-file PATH          append the log to PATH (created 0600; lines start with time=)\n"
    "                           instead of standard error; SIGHUP reopens it (logrotate)\n"
    "  --check-config           validate the configuration and flags, then exit\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGHUP reloads the policies and reopens --log-file; SIGTERM, SIGINT or SIGQUIT\n"
    "stops (the audit log's stop record, the kernel audit state put back).\n"
    "See docs/SERVER.md.\n"
    "Exit status: 0 stopped cleanly, 1 could not start (the message says why), 2 usage,\n"
    "3 stopped because the audit log could no longer record (its writer process died, or\n"
    "the log failed with audit_on_failure exit): restart it, the next start records the gap.\n";

static struct srv g_srv;

/* Read a small secret file that must be mode 0600 (no group/other bits); trims the newline. */
static int read_token_file(const char *what, const char *path, char *out, size_t outlen)
{
    char err[2 * PATH_MAX + 256], *buf = NULL;
    size_t len = 0;
    int rc = secret_read_file(what, path, outlen - 1, &buf, &len, err, sizeof err);
    if (rc != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    if (memchr(buf, '\n', len) || memchr(buf, '\r', len)) {
        log_msg(LOG_LEVEL_ERROR, "%s %s: expected one line", what, path);
        secret_free(buf, len);
        return -EINVAL;
    }
    memcpy(out, buf, len + 1);
    secret_free(buf, len);
    return 0;
}

/*
 * The once-a-second look at the audit writer. Whatever silences it must be loud: its death
 * (killed, crashed) stops cordond with status 3, so that a supervisor restarts it and the
 * next start records the gap; a failed log (write or sync error) refuses every action that
 * must be recorded (503, /healthz) and, with audit_on_failure exit, stops cordond as well.
 * Returns 0 to go on serving, 1 to stop.
 */
static int audit_watch(struct srv *s)
{
    char why[256];
    int st = audit_check(s->audit, why, sizeof why);
    if (st == AUDIT_OK)
        return 0;
    int was = __atomic_exchange_n(&s->audit_failed, 1, __ATOMIC_RELAXED);
    if (st == AUDIT_ERR_CLOSED) {
        log_msg(LOG_LEVEL_ERROR,
                "audit: %s. Nothing can be recorded any more: policy fetches and "
                "tunnels are refused (503), and cordond stops now with exit status 3 rather than "
                "serve unrecorded. Restart it (a supervisor with Restart=on-failure does); the "
                "next start records the gap in %s/audit.jsonl",
                why, s->cfg.audit_dir);
        return 1;
    }
    if (strcmp(s->cfg.audit_on_failure, "exit") == 0) {
        log_msg(LOG_LEVEL_ERROR,
                "audit: %s. audit_on_failure is exit: cordond stops now with exit "
                "status 3; fix the audit directory (disk full?) and restart it",
                why);
        return 1;
    }
    if (!was)
        log_msg(LOG_LEVEL_ERROR,
                "audit: %s. Policy fetches and tunnels are refused (503) and /healthz "
                "reports it until the audit directory is fixed and cordond restarted",
                why);
    return 0;
}

/* The directory of a unix socket path: created 0700 when missing (one level only: the admin
 * socket's directory is cordond's own, /run/cordond by default). */
static int socket_dir(const char *what, const char *spec)
{
    char dir[CONFIG_ADDR_MAX];
    if (strlen(spec + 5) >= sizeof dir)
        return -ENAMETOOLONG;
    memcpy(dir, spec + 5, strlen(spec + 5) + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        log_msg(LOG_LEVEL_ERROR, "%s: cannot create the directory %s: %s", what, dir,
                strerror(-rc));
        return rc;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        log_msg(LOG_LEVEL_ERROR, "%s: %s is not a directory", what, dir);
        return -ENOTDIR;
    }
    if (st.st_mode & 022)
        log_msg(LOG_LEVEL_WARN,
                "%s: %s is writable by group or others, who could "
                "put another socket in its place; make it 0700 (RuntimeDirectory=cordond does)",
                what, dir);
    return 0;
}

/* Bind and listen on spec (config_finish() checked it), writing the address bound (the port
 * the kernel chose) into bound. mode: for a unix socket, the mode it is created with (0: as
 * the umask says). Returns 0 or a negative errno, said on stderr. */
static int listen_on(const char *spec, int *fd_out, char *bound, size_t boundlen, mode_t mode)
{
    struct sockaddr_storage sa;
    socklen_t sl;
    int rc;
    if ((rc = config_parse_addr(spec, &sa, &sl)) != 0)
        return rc;
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
    rc = -errno;
    log_msg(LOG_LEVEL_ERROR, "cannot listen on %s: %s; is another server using it?", spec,
            strerror(-rc));
    if (fd >= 0)
        close(fd);
    return rc;
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
    {"kernel-audit", required_argument, NULL, 0},
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
    {"tls-ca", required_argument, NULL, 0},
    {"origin-ca", required_argument, NULL, 0},
    {"log-format", required_argument, NULL, 'L'},
    {"log-file", required_argument, NULL, 'O'},
    {0, 0, 0, 0},
};

/* What main() opens on the way up, held in one place so that one shut_down() releases
 * whatever was opened, however far the start got. */
struct run {
    const char *config_path;
    int check_only;
    enum log_form log_form;
    const char *log_file;
    int nsecrets;
    struct key_secret *signer;
    struct http *http;
    struct tunnel *tun;
    struct events *ev;
    struct kaudit_listener *kaudit;
    int fds[CONFIG_MAX_LISTEN], nfds, tfd, afd;
    char admin_bound[CONFIG_ADDR_MAX];
    char bound[CONFIG_MAX_LISTEN][CONFIG_ADDR_MAX];
    struct diag *d;
    sigset_t signals; /* the ones main waits for */
};

/* What this server keeps secret (config_secret_paths): borrowed by the policy set manager for
 * its whole life, hence static. */
static char g_secrets[CONFIG_MAX_SECRETS][PATH_MAX];
static const char *g_secret_ptrs[CONFIG_MAX_SECRETS];
/* The data key (data_key_file): the policies' exact-data-match files and api.data's "hash",
 * handed out as srv.data_key once read. */
static unsigned char g_data_key[32];

/* Returned by the option and configuration steps, which may end the process early with an
 * exit status: go on starting. The later steps return 0 or a negative errno (or the failing
 * module's own code), having said on stderr what failed. */
#define GO_ON (-1)

/* First pass over the flags: --help, --version, --config and --check-config, and whether the
 * command line parses at all; the other flags are applied after the file. Returns GO_ON or
 * the exit status. */
static int scan_options(int argc, char **argv, struct run *r)
{
    int c, idx;
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
            r->config_path = optarg;
        if (c == 'C')
            r->check_only = 1;
        if (c == 'L' && log_form_parse(optarg, &r->log_form) != 0) {
            log_msg(LOG_LEVEL_ERROR, "--log-format %s: expected text or json", optarg);
            return 2;
        }
        if (c == 'O')
            r->log_file = optarg;
        if (c == '?' || c == ':') {
            log_msg(LOG_LEVEL_ERROR, "unknown option or missing value: %s; the usage follows",
                    argv[optind - 1]);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        log_msg(LOG_LEVEL_ERROR, "unexpected argument %s", argv[optind]);
        return 2;
    }
    /* from here on every line is in the form asked for, the configuration's errors included */
    char err[PATH_MAX + 256];
    if (log_setup(r->log_form, r->log_file, err, sizeof err) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return 1;
    }
    return GO_ON;
}

/* Second pass: every --KEY VALUE flag onto the configuration, over the file's values.
 * Returns GO_ON or the exit status (2: a bad flag is a usage error). */
static int apply_flags(int argc, char **argv, struct config *cfg)
{
    char err[1024];
    int c, idx;
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
        if (config_set_flag(cfg, key, optarg, err, sizeof err) != 0) {
            log_msg(LOG_LEVEL_ERROR, "%s", err);
            return 2;
        }
    }
    return GO_ON;
}

/* The configuration: the file, then the flags, then the checks of the whole and the secret
 * paths it implies. Returns GO_ON or the exit status. */
static int load_config(int argc, char **argv, struct config *cfg, struct run *r)
{
    char err[1024];
    const char *path = r->config_path;
    int rc;
    if (path && config_load_file(cfg, path, err, sizeof err) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return 1;
    }
    if ((rc = apply_flags(argc, argv, cfg)) != GO_ON)
        return rc;
    if (config_finish(cfg, err, sizeof err) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s%s%s", path ? path : "", path ? ": " : "", err);
        return 1;
    }
    /* What this server keeps secret: added to every policy it signs as host_deny, so that no
     * sandbox on the host reaches its keys, token, state or audit log whatever the layout. */
    r->nsecrets = config_secret_paths(cfg, g_secrets, CONFIG_MAX_SECRETS, err, sizeof err);
    if (r->nsecrets < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s%s%s", path ? path : "", path ? ": " : "", err);
        return 1;
    }
    for (int i = 0; i < r->nsecrets; i++)
        g_secret_ptrs[i] = g_secrets[i];
    return GO_ON;
}

/* libsodium, and the signals: SIGPIPE ignored, the three main waits for blocked in every
 * thread (each inherits the mask), so that only main's sigtimedwait takes them. */
static int prepare_process(struct run *r)
{
    if (sodium_init() < 0)
        return -EIO;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&r->signals);
    sigaddset(&r->signals, SIGHUP);
    sigaddset(&r->signals, SIGTERM);
    sigaddset(&r->signals, SIGINT);
    sigaddset(&r->signals, SIGQUIT); /* a stop too: its default would skip the restore */
    pthread_sigmask(SIG_BLOCK, &r->signals, NULL);
    return 0;
}

/* The admin token: its SHA-256 only is kept, and the admin endpoints are on. */
static int load_admin_token(struct srv *s)
{
    const struct config *cfg = &s->cfg;
    char tok[512];
    int rc;
    if ((rc = read_token_file("admin_token_file", cfg->admin_token_file, tok, sizeof tok)) != 0)
        return rc;
    if (strlen(tok) < 16) {
        log_msg(LOG_LEVEL_ERROR,
                "admin_token_file %s: the token is shorter than 16 "
                "characters; write a long random one (e.g. head -c 32 /dev/urandom | "
                "base64)",
                cfg->admin_token_file);
        sodium_memzero(tok, sizeof tok);
        return -EINVAL;
    }
    crypto_hash_sha256(s->admin_mac, (const unsigned char *)tok, strlen(tok));
    sodium_memzero(tok, sizeof tok);
    s->admin_on = 1;
    return 0;
}

/* The ledger of budgets (ledger.h), from its journal in the state dir: replayed, open
 * reservations charged, compacted, before any call is served. */
static int open_ledger(struct srv *s)
{
    char path[PATH_MAX + 32], err[1024];
    struct ledger_store *st = NULL;
    snprintf(path, sizeof path, "%s/ledger.journal", s->cfg.state_dir);
    int rc = ledger_journal_open(path, 0, &st, err, sizeof err);
    if (rc == 0)
        rc = ledger_open(st, 0, &s->ledger, err, sizeof err);
    if (rc != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    struct ledger_stats ls;
    ledger_stats_get(s->ledger, &ls);
    if (ls.recovered_open || ls.damaged)
        log_msg(LOG_LEVEL_WARN,
                "ledger: %" PRIu64 " reservation(s) open at the last stop charged at "
                "their worst case; %" PRIu64 " damaged journal line(s) skipped",
                ls.recovered_open, ls.damaged);
    return 0;
}

/* The deployment CA (tls_ca) and the context that connects to terminated hosts' origins. */
static int open_tls(struct srv *s)
{
    const struct config *cfg = &s->cfg;
    char err[1024];
    int rc;
    if (!cfg->tls_ca[0])
        return 0;
    if ((rc = mint_ca_open(cfg->tls_ca, NULL, &s->mint, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "tls_ca: %s", err);
        return rc < 0 ? rc : -EINVAL;
    }
    SSL_CTX *c = NULL;
    char cerr[PATH_MAX + 160];
    int crc = origintls_ctx(cfg->origin_ca, &c, cerr, sizeof cerr);
    if (crc != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", cerr);
        return crc;
    }
    /* The CA certificate for the shims, which build the governed processes' bundle from it. */
    unsigned char *der = NULL;
    int dl = i2d_X509(mint_ca_cert(s->mint), &der);
    if (dl <= 0 || (size_t)dl * 4 / 3 + 4 >= sizeof s->ca_header) {
        log_msg(LOG_LEVEL_ERROR, "tls_ca: the CA certificate is too large to hand to the shims");
        OPENSSL_free(der);
        SSL_CTX_free(c);
        return -EINVAL;
    }
    sodium_bin2base64(s->ca_header, sizeof s->ca_header, der, (size_t)dl,
                      sodium_base64_VARIANT_ORIGINAL);
    OPENSSL_free(der);
    s->origin_ctx = c;
    return 0;
}

/* The state directory, the policy signing key, the admin token and the agent keys. */
static int open_keys(struct srv *s, struct run *r)
{
    const struct config *cfg = &s->cfg;
    char err[1024];
    int rc;
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        log_msg(LOG_LEVEL_ERROR, "state_dir %s: cannot create: %s", cfg->state_dir, strerror(-rc));
        return rc;
    }
    if ((rc = key_secret_load(cfg->signing_key, &r->signer, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "signing_key: %s", err);
        return rc;
    }
    if (cfg->admin_token_file[0] && (rc = load_admin_token(s)) != 0)
        return rc;
    char secret_path[PATH_MAX + 16];
    snprintf(secret_path, sizeof secret_path, "%s/server.secret", cfg->state_dir);
    if ((rc = agents_open(cfg->agent_keys, secret_path, &s->agents, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "agents: %s", err);
        return rc;
    }
    if ((rc = sessions_new(s->agents, 0, &s->sessions)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "out of memory for the session tokens");
        return rc;
    }
    /* The quarantines of the anomaly response outlive a restart (anomaly.h). */
    char qpath[PATH_MAX + 16];
    snprintf(qpath, sizeof qpath, "%s/" ANOMALY_FILE, cfg->state_dir);
    if ((rc = anomaly_open(qpath, srv_anomaly_record, s, &s->anomaly, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "anomaly: %s", err);
        return rc;
    }
    return open_tls(s);
}

/* The audit log and its writer process, which holds the checkpoint key. */
static int open_audit_log(struct srv *s)
{
    const struct config *cfg = &s->cfg;
    char err[1024];
    /* The audit writer is the only process that should hold the checkpoint key: this one
     * answers requests and holds the policy signing key, so with one key for both a
     * compromised request handler could sign checkpoints of its own. */
    const char *audit_key = cfg->audit_key[0] ? cfg->audit_key : cfg->signing_key;
    if (strcmp(audit_key, cfg->signing_key) == 0)
        log_msg(LOG_LEVEL_WARN,
                "audit_key is not set (or is signing_key): audit "
                "checkpoints are signed with the policy signing key, which the request-"
                "handling process also holds; set audit_key to a key of its own (cordon "
                "keygen) so that only the audit writer can sign checkpoints");
    struct audit_config ac = {.dir = cfg->audit_dir,
                              .key_path = audit_key,
                              .origin = cfg->audit_origin,
                              .fsync = strcmp(cfg->audit_fsync, "always") == 0 ? AUDIT_FSYNC_ALWAYS
                                       : strcmp(cfg->audit_fsync, "none") == 0 ? AUDIT_FSYNC_NONE
                                                                               : AUDIT_FSYNC_BATCH};
    int rc = audit_open(&ac, &s->audit, err, sizeof err);
    if (rc != AUDIT_OK) {
        log_msg(LOG_LEVEL_ERROR, "audit: %s", err);
        return rc;
    }
    return 0;
}

/* Single-policy mode's --agent-key-file: the key, for the one policy's agent, in memory only. */
static int add_agent_key(struct srv *s)
{
    const struct config *cfg = &s->cfg;
    char err[1024], key[128];
    int rc;
    if ((rc = read_token_file("agent_key_file", cfg->agent_key_file, key, sizeof key)) != 0)
        return rc;
    struct pset *cur = pset_acquire(s->psets);
    rc = agents_add_ephemeral(s->agents, cur->v[0].agent, key, err, sizeof err);
    pset_release(cur);
    sodium_memzero(key, sizeof key);
    if (rc != 0)
        log_msg(LOG_LEVEL_ERROR, "agent_key_file %s: %s", cfg->agent_key_file, err);
    return rc;
}

/* The policy set, checked and signed whole (every error listed), and the single policy's
 * agent key. */
static int open_policies(struct srv *s, struct run *r)
{
    const struct config *cfg = &s->cfg;
    struct diag *d = r->d = malloc(sizeof *d);
    int rc;
    if (!d) {
        log_msg(LOG_LEVEL_ERROR, "out of memory");
        return -ENOMEM;
    }
    diag_init(d);
    char versions[PATH_MAX + 16];
    snprintf(versions, sizeof versions, "%s/versions", cfg->state_dir);
    char kerr[512] = "";
    if (config_data_key_load(cfg, g_data_key, kerr, sizeof kerr) == 0) {
        s->data_key = g_data_key;
    } else {
        log_msg(LOG_LEVEL_WARN,
                "data_key_file: %s; api.data exact-data-match classes do not load and its "
                "\"hash\" action refuses",
                kerr);
    }
    struct pset_options po = {.policies_dir = cfg->policies_dir[0] ? cfg->policies_dir : NULL,
                              .policy_file = cfg->policy_file[0] ? cfg->policy_file : NULL,
                              .versions_path = versions,
                              .key = r->signer,
                              .expiry = cfg->policy_expiry,
                              .host_deny = g_secret_ptrs,
                              .n_host_deny = (size_t)r->nsecrets,
                              .data_key = s->data_key};
    if ((rc = pset_manager_open(&po, &s->psets, d)) != 0) {
        char n[24];
        snprintf(n, sizeof n, "%zu", diag_total(d));
        log_kv(LOG_LEVEL_ERROR, "the policies are invalid; nothing is served", "errors", n, NULL);
        for (size_t i = 0; i < d->count; i++) {
            char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
            diag_format(d, i, line, sizeof line);
            log_kv(LOG_LEVEL_ERROR, "policy error", "error", line, NULL);
        }
        return rc;
    }
    return cfg->agent_key_file[0] ? add_agent_key(s) : 0;
}

/* Bind every listener: HTTP, the tunnel, the admin endpoints (only on admin_listen, and only
 * when there is a token) and, unless it is off, name the event socket. */
static int start_listeners(struct srv *s, struct run *r)
{
    const struct config *cfg = &s->cfg;
    int rc;
    for (size_t i = 0; i < cfg->n_listen; i++) {
        if ((rc = listen_on(cfg->listen[i], &r->fds[r->nfds], r->bound[i], sizeof r->bound[i],
                            0)) != 0)
            return rc;
        r->nfds++;
    }
    rc = listen_on(cfg->tunnel_listen, &r->tfd, s->proxy_addr, sizeof s->proxy_addr, 0);
    if (rc != 0)
        return rc;
    if (s->admin_on) {
        if (strncmp(cfg->admin_listen, "unix:", 5) == 0 &&
            (rc = socket_dir("admin_listen", cfg->admin_listen)) != 0)
            return rc;
        if ((rc = listen_on(cfg->admin_listen, &r->afd, r->admin_bound, sizeof r->admin_bound,
                            0600)) != 0)
            return rc;
    }
    if (strcmp(cfg->events_socket, "off") != 0) {
        /* config_finish() bounded the path to a sun_path (108 bytes) */
        memcpy(s->events_addr, "unix:", 5);
        memcpy(s->events_addr + 5, cfg->events_socket, strlen(cfg->events_socket) + 1);
    }
    return 0;
}

/* A quarantine wakes the agent's streams parked on a silent upstream, to end them now. */
static void wake_streams(void *ud, const char *agent)
{
    proxy_quarantined(ud, agent);
}

/* kernel.deny and kernel.loss from the kernel's audit records (kaudit.h) into the log. */
static int kaudit_emit(void *ud, const char *kind, const char *agent, const char *fields)
{
    return srv_audit_trusted(ud, kind, agent, fields) == 0 ? 0 : -1;
}

/* The kernel's refusals (kernel_audit): before the event intake, which names the roots. Under
 * "on" a failure stops the start; otherwise it is said and cordond goes on without. */
static int start_kernel_audit(struct srv *s, struct run *r)
{
    char err[1024], note[512];
    enum kaudit_mode mode;
    if (kaudit_mode_parse(s->cfg.kernel_audit, &mode) != 0 || mode == KAUDIT_OFF)
        return 0;
    const struct kaudit_sink sink = {.emit = kaudit_emit, .ud = s};
    int rc = kaudit_new(&sink, &s->kaudit);
    if (rc != 0) {
        log_kv(LOG_LEVEL_ERROR, "kernel audit", "error", strerror(-rc), NULL);
        return rc;
    }
    rc = kaudit_listen_start(s->kaudit, mode, &r->kaudit, note, sizeof note, err, sizeof err);
    if (rc != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    if (note[0])
        log_msg(LOG_LEVEL_WARN, "%s", note);
    if (!r->kaudit) { /* if-enabled with no way to listen: nothing to map */
        kaudit_free(s->kaudit);
        s->kaudit = NULL;
    }
    return 0;
}

/* The event intake, the tunnel and the HTTP front, each taking its listener. */
static int start_services(struct srv *s, struct run *r)
{
    char err[1024];
    int rc;
    if ((rc = start_kernel_audit(s, r)) != 0)
        return rc;
    if (s->events_addr[0] &&
        (rc = events_start(s, s->cfg.events_socket, &r->ev, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    if ((rc = tunnel_start(s, r->tfd, &r->tun, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    r->tfd = -1; /* transferred */
    if ((rc = proxy_open(s, &s->proxy, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "model proxy: %s", err);
        return rc;
    }
    anomaly_on_quarantine(s->anomaly, wake_streams, s->proxy);
    if ((rc = http_start(s, r->fds, (size_t)r->nfds, r->afd, &r->http, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    r->nfds = 0; /* transferred: MHD closes them */
    r->afd = -1;
    return 0;
}

_Static_assert(READY_MAX_HTTP >= CONFIG_MAX_LISTEN && READY_ADDR_MAX >= CONFIG_ADDR_MAX,
               "every listener fits in the ready file");

/* Say where the server listens (policy/server/ready.h): the ready file, when asked for, and
 * the same lines on standard error. */
static int announce_ready(struct srv *s, struct run *r)
{
    const struct config *cfg = &s->cfg;
    struct ready rd;
    char text[READY_MAX_BYTES + 1], err[PATH_MAX + 128];
    int rc;
    memset(&rd, 0, sizeof rd);
    for (size_t i = 0; i < cfg->n_listen; i++)
        snprintf(rd.http[rd.n_http++], sizeof rd.http[0], "%s", r->bound[i]);
    snprintf(rd.tunnel, sizeof rd.tunnel, "%s", s->proxy_addr);
    snprintf(rd.admin, sizeof rd.admin, "%s", r->admin_bound);
    snprintf(rd.events, sizeof rd.events, "%s", s->events_addr);
    if ((rc = ready_format(&rd, text, sizeof text)) != 0) {
        log_msg(LOG_LEVEL_ERROR,
                "the listeners' addresses cannot be written as a ready file "
                "(%s): a listen path holds a control character",
                strerror(-rc));
        return rc;
    }
    if (cfg->ready_file[0] && (rc = ready_write(cfg->ready_file, &rd, err, sizeof err)) != 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return rc;
    }
    /* one line for the operator; the ready file keeps its own format for the starter */
    char http[READY_MAX_HTTP * (READY_ADDR_MAX + 1) + 1] = "";
    size_t hn = 0;
    for (size_t i = 0; i < rd.n_http; i++) {
        int w = snprintf(http + hn, sizeof http - hn, "%s%s", i ? "," : "", rd.http[i]);
        if (w < 0 || (size_t)w >= sizeof http - hn)
            break;
        hn += (size_t)w;
    }
    log_kv(LOG_LEVEL_INFO, "serving", "version", CORDON_VERSION, "http", http, "tunnel", rd.tunnel,
           "admin", rd.admin, "events", rd.events, NULL);
    return 0;
}

/*
 * Serve until told to stop: SIGHUP reloads the policy set, SIGTERM and SIGINT stop; once a
 * second the audit writer is looked at and the set re-signed when it passes half its
 * validity. Returns the exit status: 0, or 3 when the audit log can no longer record.
 */
static int serve(struct srv *s, struct run *r)
{
    struct diag *d = r->d;
    time_t retry_at = 0;
    int stop_status = 0;
    for (;;) {
        struct timespec one = {1, 0};
        int sig = sigtimedwait(&r->signals, NULL, &one);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
            break;
        if (sig == SIGHUP) {
            char err[PATH_MAX + 256];
            if (log_reopen(err, sizeof err) != 0)
                log_msg(LOG_LEVEL_ERROR, "%s", err);
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
    if (stop_status)
        log_kv(LOG_LEVEL_ERROR, "stopping: the audit log can no longer record", "exit_status", "3",
               NULL);
    else
        log_kv(LOG_LEVEL_INFO, "stopping", "exit_status", "0", NULL);
    return stop_status;
}

/* Stop and release whatever the start opened, the audit log last but for the policy set and
 * the agents, which a tunnel thread still running may use. Returns rc, or 1 when a clean stop
 * could not close the audit log. */
static int shut_down(struct srv *s, struct run *r, int rc)
{
    http_stop(r->http);
    anomaly_on_quarantine(s->anomaly, NULL, NULL); /* before the proxy it calls goes */
    proxy_close(s->proxy); /* after the HTTP front: drained calls write their records */
    s->proxy = NULL;
    ledger_close(s->ledger); /* after the proxy: its calls settled or released */
    s->ledger = NULL;
    events_stop(r->ev);
    /* after the intake (no root is named any more), before the log closes: the ended
     * sessions' domains are waited for a moment, for their loss counts */
    char note[512];
    kaudit_listen_stop(r->kaudit, 2000, note, sizeof note);
    if (note[0])
        log_msg(LOG_LEVEL_WARN, "%s", note);
    r->kaudit = NULL;
    kaudit_free(s->kaudit);
    s->kaudit = NULL;
    size_t left = tunnel_stop(r->tun);
    if (left)
        log_msg(LOG_LEVEL_WARN,
                "%zu tunnel(s) still open at exit; their tunnel.close records "
                "are lost",
                left);

    for (int i = 0; i < r->nfds; i++)
        close(r->fds[i]);
    if (r->tfd >= 0)
        close(r->tfd);
    if (r->afd >= 0)
        close(r->afd);
    pthread_rwlock_wrlock(&s->audit_lock);
    if (s->audit && audit_close(s->audit) != AUDIT_OK && rc == 0)
        rc = 1;
    s->audit = NULL;
    pthread_rwlock_unlock(&s->audit_lock);
    if (!left) { /* a tunnel thread still running may use them: leave them to the exit */
        pset_manager_free(s->psets);
        sessions_free(s->sessions);
        anomaly_close(s->anomaly);
        agents_free(s->agents);
        mint_ca_free(s->mint);
        SSL_CTX_free(s->origin_ctx);
    }
    key_secret_free(r->signer);
    free(r->d);
    if (!left)
        sodium_memzero(g_data_key, sizeof g_data_key);
    return rc;
}

int main(int argc, char **argv)
{
    struct srv *s = &g_srv;
    struct run r = {.tfd = -1, .afd = -1};
    int rc;

    config_defaults(&s->cfg);
    pthread_rwlock_init(&s->audit_lock, NULL);
    pthread_mutex_init(&s->tunnel_lock, NULL);
    if ((rc = scan_options(argc, argv, &r)) != GO_ON ||
        (rc = load_config(argc, argv, &s->cfg, &r)) != GO_ON)
        return rc;
    if (r.check_only) {
        printf("cordond: configuration is valid\n");
        return 0;
    }
    if (prepare_process(&r) != 0)
        return 1;
    rc = 1;
    /* The audit writer is forked before the ledger's flusher, the first thread: a fork while
     * another thread holds an allocator lock leaves the child stuck on it. */
    if (open_keys(s, &r) == 0 && open_audit_log(s) == 0 && open_ledger(s) == 0 &&
        open_policies(s, &r) == 0 && start_listeners(s, &r) == 0 && start_services(s, &r) == 0 &&
        announce_ready(s, &r) == 0)
        rc = serve(s, &r);
    return shut_down(s, &r, rc);
}
