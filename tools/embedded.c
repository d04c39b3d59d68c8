/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded default (see embedded.h): a private cordond started by `cordon run` when the
 * policy is a plain document and no server is configured. The run gets the whole two-layer
 * product (signed policy, egress tunnel, event intake, audit log) without anything to set up:
 * the keys are made here, used for one run and wiped with their directory.
 *
 * cordond runs as a child of the unsandboxed `cordon run` process, never inside the agent's
 * sandbox: it needs the network for the tunnel and write access to the audit directory, and
 * the agent must not be able to signal or trace it (Landlock scopes signals to the domain).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "base/diag.h"
#include "base/io.h"
#include "policy/sign/key.h"
#include "base/path.h"
#include "policy/policy.h"
#include "policy/server/mint.h"
#include "policy/server/ready.h"
#include "tools/cli.h"
#include "tools/embedded.h"

#ifndef CORDON_SBINDIR
#define CORDON_SBINDIR "/usr/local/sbin"
#endif

#define READY_WAIT_MS 30000
#define STOP_WAIT_MS 10000

int embedded_is_policy(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    if (path_read_file(path, 1u << 20, &buf, &len, NULL) != 0)
        return 0;
    cJSON *doc = cJSON_ParseWithLength(buf, len);
    int is = cJSON_IsObject(doc) && cJSON_GetObjectItemCaseSensitive(doc, "cordon_policy") &&
             !cJSON_GetObjectItemCaseSensitive(doc, "payloadType");
    cJSON_Delete(doc);
    free(buf);
    return is;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void remove_dir(const char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The default audit directory: $XDG_STATE_HOME/cordon/audit, else ~/.local/state/... */
static int default_audit_dir(char *out, size_t len)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, len, "%s/cordon/audit", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, len, "%s/.local/state/cordon/audit", home);
    else
        return -ENOENT;
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* cordond: $CORDON_CORDOND, next to cordon, in the build tree, then the install prefix. */
static int find_cordond(char *out, size_t len)
{
    static const char *const rel[] = {"/cordond", "/../policy/server/cordond", "/../sbin/cordond"};
    return cli_find_file("CORDON_CORDOND", rel, sizeof rel / sizeof rel[0],
                         CORDON_SBINDIR "/cordond", X_OK, out, len);
}

/* A fresh agent key, "ck_" + 43 characters of URL-safe base64, into a new 0600 file. */
static int write_agent_key(const char *path, char key[64], char *err, size_t errlen)
{
    unsigned char raw[32];
    int rc = 0;
    randombytes_buf(raw, sizeof raw);
    memcpy(key, "ck_", 3);
    sodium_bin2base64(key + 3, 61, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char line[66];
    size_t klen = (size_t)snprintf(line, sizeof line, "%s\n", key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0)
        rc = -errno;
    else
        rc = io_write_all(fd, line, klen);
    if (rc != 0)
        diag_set(err, errlen, "cannot write the agent key %s: %s", path, strerror(-rc));
    if (fd >= 0)
        close(fd);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(line, sizeof line);
    return rc;
}

/* The audit directory this run will use, canonical (path_canonical): the one judged, created
 * and handed to cordond, so that what is checked is what is written. */
static int audit_dir_for(const char *audit_dir, char *out, size_t len, char *err, size_t errlen)
{
    char dir[PATH_MAX], canon[PATH_MAXLEN];
    int rc;
    if (audit_dir)
        rc = snprintf(dir, sizeof dir, "%s", audit_dir) < (int)sizeof dir ? 0 : -ENAMETOOLONG;
    else
        rc = default_audit_dir(dir, sizeof dir);
    if (rc == -ENOENT) {
        diag_set(err, errlen,
                 "no audit directory: HOME and XDG_STATE_HOME are unset; pass "
                 "--audit DIR");
        return rc;
    }
    if (rc == 0)
        rc = path_canonical(dir, canon);
    if (rc == 0 && strlen(canon) >= len)
        rc = -ENAMETOOLONG;
    if (rc != 0) {
        diag_set(err, errlen,
                 "the audit directory %s cannot be resolved (%s), so it cannot be "
                 "judged against the agent's grants; pass --audit DIR with a path "
                 "that resolves",
                 dir, strerror(-rc));
        return rc;
    }
    memcpy(out, canon, strlen(canon) + 1);
    return 0;
}

int embedded_check_audit(const char *policy_path, const char *audit_dir, const char *workspace,
                         char *err, size_t errlen)
{
    int rc = 0;
    char dir[PATH_MAX], canon[PATH_MAXLEN], *buf = NULL;
    size_t len = 0;
    struct policy *p = NULL;
    struct diag *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    diag_init(d);
    /* judge what the kernel will see: the directory with every symlink of its existing part
     * followed (a planted ~/.local/state/cordon -> workspace), "//" and ".." folded */
    if ((rc = audit_dir_for(audit_dir, dir, sizeof dir, err, errlen)) != 0)
        goto out;
    if ((rc = cli_read_file(policy_path, 1u << 20, &buf, &len)) != 0) {
        diag_set(err, errlen, "cannot read the policy %s", policy_path);
        goto out;
    }
    if (cli_compile_policy(buf, len, workspace, 0, &p, d) != 0) {
        /* the server reports the errors in full when it loads the policy */
        rc = 0;
        goto out;
    }
    const struct policy_path *g = policy_grant_covering(p, dir, 1, canon, &rc);
    if (rc == 0 && g) {
        rc = -EPERM;
        char written[PATH_MAX];
        if (audit_dir)
            snprintf(written, sizeof written, "%s", audit_dir);
        else if (default_audit_dir(written, sizeof written) != 0)
            snprintf(written, sizeof written, "%s", dir);
        int differs = strcmp(written, dir) != 0;
        diag_set(err, errlen,
                 "the %saudit directory %s%s%s%s lies inside the agent's read_write "
                 "grant %s (%s), so the agent could rewrite its own audit log; "
                 "pass --audit DIR outside every read_write grant, or run from "
                 "another directory than HOME when the workspace is the current "
                 "directory",
                 audit_dir ? "" : "default ", written, differs ? ", which resolves to " : "",
                 differs ? dir : "", differs ? "," : "", g->raw, g->real ? g->real : g->path);
        goto out;
    }
    if ((rc = policy_check_policy_file(p, policy_path, err, errlen)) != 0)
        goto out;
    rc = 0;
out:
    policy_free(p);
    free(buf);
    free(d);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait for the ready file; 0, or -ECHILD when cordond exited first, -ETIMEDOUT. */
static int wait_ready(struct embedded *e, const char *ready, char *http, size_t len)
{
    for (long waited = 0; waited < READY_WAIT_MS; waited += 10) {
        int st;
        if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
            e->pid = 0;
            return -ECHILD;
        }
        struct ready rd;
        if (ready_read(ready, &rd, NULL, 0) == 0 && strlen(rd.http[0]) < len) {
            memcpy(http, rd.http[0], strlen(rd.http[0]) + 1);
            return 0;
        }
        sleep_ms(10);
    }
    return -ETIMEDOUT;
}

/* cordond's audit writer: its child named cordon-audit (policy/audit/audit_writer.c), or 0.
 * Should cordond die, the writer becomes a child of cordon run, which must not take it for a
 * process of the run. */
static pid_t find_writer(pid_t cordond)
{
    char path[96], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)cordond, (int)cordond);
    if (io_read_small(path, buf, sizeof buf) < 0)
        return 0;
    for (char *p = buf, *end; *p; p = end) {
        long c = strtol(p, &end, 10);
        if (end == p)
            break;
        char comm[32] = "";
        snprintf(path, sizeof path, "/proc/%ld/comm", c);
        if (io_read_small(path, comm, sizeof comm) < 0)
            continue;
        if (strncmp(comm, "cordon-audit", 12) == 0)
            return (pid_t)c;
    }
    return 0;
}

/* What embedded_start() needs before it makes anything: the policy's absolute path, cordond,
 * and the audit directory (judged, canonical and created). */
static int find_inputs(const char *policy_path, const char *audit_dir, struct embedded *e,
                       char *cordond, size_t cordond_len, char policy_abs[PATH_MAX], char *err,
                       size_t errlen)
{
    int rc;
    if (!realpath(policy_path, policy_abs)) {
        rc = -errno;
        diag_set(err, errlen, "cannot read the policy %s: %s", policy_path, strerror(errno));
        return rc;
    }
    if ((rc = find_cordond(cordond, cordond_len)) != 0) {
        diag_set(err, errlen,
                 "cordond was not found next to cordon, in the build tree or in "
                 "%s; build it (tools/build.sh) or set CORDON_CORDOND to its path",
                 CORDON_SBINDIR);
        return rc;
    }
    if ((rc = audit_dir_for(audit_dir, e->audit_dir, sizeof e->audit_dir, err, errlen)) != 0)
        return rc;
    if ((rc = make_dirs(e->audit_dir)) != 0) {
        diag_set(err, errlen, "cannot create the audit directory %s: %s", e->audit_dir,
                 strerror(-rc));
        return rc;
    }
    return 0;
}

/* The private directory: short, so that the event socket path fits in sun_path, and outside
 * ${tmp} when possible, since it is cordond's state directory and holds its server secret. */
static int make_private_dir(struct embedded *e, char *err, size_t errlen)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    if (!rt || rt[0] != '/' || strlen(rt) > 80 || access(rt, W_OK) != 0)
        rt = geteuid() == 0 && access("/run", W_OK) == 0 ? "/run" : "/tmp";
    snprintf(e->dir, sizeof e->dir, "%s/cordon-run-XXXXXX", rt);
    if (!mkdtemp(e->dir)) {
        int rc = -errno;
        diag_set(err, errlen, "cannot create a private directory %s: %s", e->dir, strerror(errno));
        e->dir[0] = '\0';
        return rc;
    }
    return 0;
}

/* The files of the private directory that only cordond's command line names (struct embedded
 * holds the others). */
struct embedded_files {
    char signing[256]; /* the prefix key_generate() writes .key and .pub after */
    char auditkey[256];
    char events[256];
    char ready[256];
};

static void name_files(struct embedded *e, struct embedded_files *f)
{
    snprintf(f->signing, sizeof f->signing, "%s/signing", e->dir);
    snprintf(f->auditkey, sizeof f->auditkey, "%s/audit", e->dir);
    snprintf(f->events, sizeof f->events, "%s/events.sock", e->dir);
    snprintf(f->ready, sizeof f->ready, "%s/ready", e->dir);
    snprintf(e->trust_path, sizeof e->trust_path, "%s/signing.pub", e->dir);
    snprintf(e->key_path, sizeof e->key_path, "%s/agent.key", e->dir);
    snprintf(e->log_path, sizeof e->log_path, "%s/cordond.log", e->dir);
}

/* The run's three keys: the policy signing key, the audit checkpoint key (which only the audit
 * writer reads) and the agent key. */
static int make_keys(struct embedded *e, const struct embedded_files *f, char *err, size_t errlen)
{
    char keyid[KEY_ID_HEX + 1];
    int rc;
    if ((rc = key_generate(f->signing, keyid, err, errlen)) != 0)
        return rc;
    snprintf(e->signing_path, sizeof e->signing_path, "%s.key", f->signing);
    if ((rc = key_generate(f->auditkey, keyid, err, errlen)) != 0)
        return rc;
    snprintf(e->audit_key_path, sizeof e->audit_key_path, "%s/audit.key", e->dir);
    return write_agent_key(e->key_path, e->key, err, errlen);
}

/* Fork and exec cordond with its output in the log, in its own process group, killed should
 * this process die. */
static int spawn_cordond(struct embedded *e, char *cordond, char *policy_abs,
                         struct embedded_files *f, const struct embedded_upstream *ups,
                         size_t n_ups, const char *kernel_audit, const char *origin_ca, char *err,
                         size_t errlen)
{
    /* The upstream lines, in cordond's flag form (docs/SERVER.md): never a key, only where
     * cordond reads it. */
    static char lines[EMBEDDED_MAX_UPSTREAMS][sizeof ups->url + PATH_MAX + 96];
    for (size_t i = 0; i < n_ups && i < EMBEDDED_MAX_UPSTREAMS; i++) {
        int w = snprintf(lines[i], sizeof lines[i], "%s %s kind=%s %s%s", ups[i].name, ups[i].url,
                         ups[i].name, ups[i].key_file[0] ? "key_file=" : "key_env=",
                         ups[i].key_file[0] ? ups[i].key_file : ups[i].key_env);
        if (w < 0 || (size_t)w >= sizeof lines[i]) {
            diag_set(err, errlen, "the upstream %s is too long for cordond", ups[i].name);
            return -ENAMETOOLONG;
        }
    }
    int logfd = open(e->log_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (logfd < 0) {
        int rc = -errno;
        diag_set(err, errlen, "cannot create %s: %s", e->log_path, strerror(errno));
        return rc;
    }
    /* audit-on-failure exit: a log that can no longer record stops this cordond, and the
     * run with it (cmd_run.c), instead of letting the agent go on unrecorded. */
    char *argv[] = {cordond,
                    "--listen",
                    "127.0.0.1:0",
                    "--tunnel-listen",
                    "127.0.0.1:0",
                    "--policy",
                    policy_abs,
                    "--agent-key-file",
                    e->key_path,
                    "--signing-key",
                    e->signing_path,
                    "--audit-key",
                    e->audit_key_path,
                    "--state-dir",
                    e->dir,
                    "--audit-dir",
                    e->audit_dir,
                    "--events-socket",
                    f->events,
                    "--ready-file",
                    f->ready,
                    "--audit-on-failure",
                    "exit",
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL};
    char **tail = argv;
    while (*tail)
        tail++;
    if (kernel_audit) {
        *tail++ = "--kernel-audit";
        *tail++ = (char *)kernel_audit;
    }
    for (size_t i = 0; i < n_ups && i < EMBEDDED_MAX_UPSTREAMS; i++) {
        *tail++ = "--upstream";
        *tail++ = lines[i];
    }
    if (e->ca_prefix[0]) {
        *tail++ = "--tls-ca";
        *tail++ = e->ca_prefix;
    }
    if (e->ca_prefix[0] && origin_ca) {
        *tail++ = "--origin-ca";
        *tail++ = (char *)origin_ca;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(logfd);
        diag_set(err, errlen, "cannot start cordond: %s", strerror(errno));
        return rc;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(127);
        /* its own process group: a Ctrl-C meant for the agent must not stop the server
         * before the run has been recorded to the end */
        setpgid(0, 0);
        /* If cordon run itself is killed, nothing supervises the run any more: cordond goes
         * too, by SIGTERM, so that it still writes its stop record and puts back the kernel
         * audit state it changed (--kernel-audit on). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        execv(cordond, argv);
        _exit(127);
    }
    close(logfd);
    e->pid = pid;
    return 0;
}

/* Wait until cordond listens and take its address; when it does not, err quotes what it
 * said. */
static int await_cordond(struct embedded *e, const struct embedded_files *f, char *err,
                         size_t errlen)
{
    char http[256];
    int rc;
    if ((rc = wait_ready(e, f->ready, http, sizeof http)) != 0) {
        char said[1024];
        (void)!io_read_small(e->log_path, said, sizeof said); /* none: said stays "" */
        while (*said && said[strlen(said) - 1] == '\n')
            said[strlen(said) - 1] = '\0';
        char why[48] = "it exited";
        if (rc != -ECHILD)
            snprintf(why, sizeof why, "no answer within %d s", READY_WAIT_MS / 1000);
        diag_set(err, errlen, "the private cordond did not start (%s)%s%s; its output is in %s",
                 why, *said ? ":\n" : "", said, e->log_path);
        return rc;
    }
    if (snprintf(e->server, sizeof e->server, "http://%s", http) >= (int)sizeof e->server) {
        diag_set(err, errlen, "cordond listens on an address too long to use: %s", http);
        return -ENAMETOOLONG;
    }
    return 0;
}

/* Remove the key files: cordond holds the keys in memory once it listens, or has failed. */
static void unlink_keys(const struct embedded *e)
{
    if (e->signing_path[0])
        unlink(e->signing_path);
    if (e->audit_key_path[0])
        unlink(e->audit_key_path);
    if (e->key_path[0])
        unlink(e->key_path);
    if (e->ca_prefix[0]) {
        char key[PATH_MAX + 16];
        snprintf(key, sizeof key, "%s.ca.key", e->ca_prefix);
        unlink(key);
    }
}

/* The audit writer was cordond's child; with cordond gone it is ours. It exits once it has
 * written and synced what it holds, and until then it holds the audit directory's lock: give
 * it that time, so that the log is complete before anyone is told to verify it and the next
 * run with the same --audit directory finds the lock free. */
static void wait_writer(struct embedded *e)
{
    for (long waited = 0; e->writer_pid > 0 && waited < STOP_WAIT_MS; waited += 10) {
        pid_t r = waitpid(e->writer_pid, NULL, WNOHANG);
        if (r == e->writer_pid || (r < 0 && errno == ECHILD && kill(e->writer_pid, 0) != 0))
            break;
        sleep_ms(10);
    }
    e->writer_pid = 0;
}

/* Stop cordond: SIGTERM, SIGKILL after STOP_WAIT_MS, then wait for its audit writer (found
 * before the signal, while it is still cordond's child). 0 when cordond exited 0 on the
 * SIGTERM, or -EIO; 0 also when none runs. */
static int stop_cordond(struct embedded *e)
{
    int rc = 0;
    if (e->pid > 0) {
        int st = 0;
        if (e->writer_pid <= 0)
            e->writer_pid = find_writer(e->pid);
        kill(e->pid, SIGTERM);
        long waited = 0;
        pid_t r;
        while ((r = waitpid(e->pid, &st, WNOHANG)) == 0 && waited < STOP_WAIT_MS) {
            sleep_ms(10);
            waited += 10;
        }
        if (r == 0) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, &st, 0);
        }
        if (r <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = -EIO;
        e->pid = 0;
    }
    wait_writer(e);
    return rc;
}

/* A start that failed: nothing left running, no key anywhere, and the directory kept only
 * when cordond's output in it is the explanation. */
static void abort_start(struct embedded *e)
{
    sodium_memzero(e->key, sizeof e->key);
    stop_cordond(e);
    unlink_keys(e);
    if (access(e->log_path, R_OK) != 0)
        remove_dir(e->dir);
}

/* Does the policy document name a host whose TLS cordond terminates? */
static int policy_terminates(const char *policy_abs)
{
    char *buf = NULL;
    size_t len = 0;
    int yes = 0;
    if (path_read_file(policy_abs, 1u << 20, &buf, &len, NULL) != 0)
        return 0;
    cJSON *doc = cJSON_ParseWithLength(buf, len);
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(doc, "sandbox");
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(sb, "network");
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(net, "http");
    for (const cJSON *h = cJSON_IsArray(http) ? http->child : NULL; h; h = h->next) {
        const cJSON *tls = cJSON_GetObjectItemCaseSensitive(h, "tls");
        yes |= cJSON_IsString(tls) && strcmp(tls->valuestring, "terminate") == 0;
    }
    cJSON_Delete(doc);
    free(buf);
    return yes;
}

/* The run's deployment CA, in the private directory (cordond reads it at start, then its key
 * is removed): valid 30 days, the longest a run is expected to last. */
static int make_ca(struct embedded *e, char *err, size_t errlen)
{
    struct mint_ca_opts o = {.days = 30};
    snprintf(e->ca_prefix, sizeof e->ca_prefix, "%s/deploy", e->dir);
    int rc = mint_ca_create(e->ca_prefix, &o, NULL, err, errlen);
    if (rc != 0)
        e->ca_prefix[0] = '\0';
    return rc < 0 ? rc : rc ? -EINVAL : 0;
}

int embedded_start(const char *policy_path, const char *audit_dir,
                   const struct embedded_upstream *ups, size_t n_ups, const char *kernel_audit,
                   const char *origin_ca, struct embedded *e, char *err, size_t errlen)
{
    char cordond[PATH_MAX], policy_abs[PATH_MAX];
    struct embedded_files f;
    int rc;
    memset(e, 0, sizeof *e);
    if ((rc = find_inputs(policy_path, audit_dir, e, cordond, sizeof cordond, policy_abs, err,
                          errlen)) != 0 ||
        (rc = make_private_dir(e, err, errlen)) != 0)
        goto out;
    name_files(e, &f);
    if ((rc = make_keys(e, &f, err, errlen)) != 0 ||
        (policy_terminates(policy_abs) && (rc = make_ca(e, err, errlen)) != 0) ||
        (rc = spawn_cordond(e, cordond, policy_abs, &f, ups, n_ups, kernel_audit, origin_ca, err,
                            errlen)) != 0 ||
        (rc = await_cordond(e, &f, err, errlen)) != 0)
        goto out;
    e->writer_pid = find_writer(e->pid);
    /* cordond holds both keys in memory now. The private directory may lie inside the
     * agent's grants (${tmp}), and the signing key also signs the audit checkpoints: an agent
     * that could read it could forge them. So neither key stays on disk. */
    unlink_keys(e);
    rc = 0;
out:
    if (rc != 0)
        abort_start(e);
    return rc;
}

int embedded_tail(const struct embedded *e, char *out, size_t len)
{
    out[0] = '\0';
    int fd = open(e->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    char buf[4096];
    off_t from = fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof buf - 1
                     ? st.st_size - (off_t)sizeof buf + 1
                     : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    /* the last three lines, each indented, control characters shown as '?' */
    const char *p = buf + n;
    for (int lines = 0; p > buf && lines < 3;) {
        p--;
        if (*p == '\n' && ++lines == 3)
            p++;
    }
    size_t o = 0;
    for (int start = 1; *p && o + 4 < len; p++) {
        if (start) {
            out[o++] = ' ';
            out[o++] = ' ';
            start = 0;
        }
        if (*p == '\n')
            start = 1;
        out[o++] = (*p == '\n' || (unsigned char)*p >= 0x20) && *p != 0x7f ? *p : '?';
    }
    out[o] = '\0';
    return 0;
}

void embedded_abandon(struct embedded *e)
{
    sodium_memzero(e->key, sizeof e->key);
    e->pid = 0;
    wait_writer(e);
}

int embedded_stop(struct embedded *e)
{
    int rc = stop_cordond(e);
    sodium_memzero(e->key, sizeof e->key);
    if (rc != 0)
        fprintf(stderr,
                "cordon run: the private cordond did not stop cleanly; its output is "
                "in %s\n",
                e->log_path);
    else
        remove_dir(e->dir);
    return rc;
}
