/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcordon.so's constructor and shared state. Before main() runs, a process either proves
 * it belongs to a governed tree (the tree mark AND the kernel facts: no_new_privs and a
 * seccomp filter) and loads the tree's cached, verified policy, or it becomes the root of a
 * new tree and runs the whole root sequence (shim/root.c). Any failure on either path ends
 * the process with status 126 and one paragraph saying why and what to do: an agent never
 * runs without the policy it was meant to run under.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/diag.h"
#include "base/io.h"
#include "sandbox/sandbox.h"
#include "shim/dnsmap.h"
#include "shim/events.h"
#include "shim/handshake.h"
#include "shim/hookpol.h"
#include "shim/poll.h"
#include "shim/root.h"
#include "shim/rootlib.h"
#include "shim/rootlib_path.h"
#include "shim/shim.h"

struct shim_state shim HIDDEN = {.fds = {-1, -1, -1, -1}};

static struct root g_root; /* the root process keeps its root state for the poller */
/* This library's path, for LD_PRELOAD re-injection: the loader's own copy of the name
 * (dladdr), which stays valid as long as the library is loaded, that is always. */
static const char *g_self = "";
static const struct rootlib *g_rootlib; /* libcordon-root.so, loaded by roots only */

/*
 * What the constructor keeps for the life of the process, packed from the start of one
 * static block: a descendant's decoded hook image (at most START_POLICY_MAX bytes; a larger
 * one gets a mapping of its own), then the variables re-injected into children. Every page
 * an exec touches is a page fault, and a typical start touches one page of this block.
 */
#define ENV_SLOT 4200
#define START_POLICY_MAX (64 * 1024)
static union {
    struct policy align;
    char b[START_POLICY_MAX + SHIM_ENV_MAX * ENV_SLOT + sizeof "LD_PRELOAD=" + PATH_MAX +
           2 * POLICY_MAX_ITEMS * sizeof(uint32_t) + sizeof(uint32_t)];
} g_mem;
static size_t g_mem_used;
static const char *g_preload_entry; /* "LD_PRELOAD=" g_self */

void *shim_real(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

void **shim_real_slot(void **slot, const char *name)
{
    if (!__atomic_load_n(slot, __ATOMIC_ACQUIRE))
        __atomic_store_n(slot, dlsym(RTLD_NEXT, name), __ATOMIC_RELEASE);
    return slot;
}

int shim_is_own_fd(int fd)
{
    if (fd < 0)
        return 0;
    for (int i = 0; i < SHIM_FD_COUNT; i++)
        if (atomic_load(&shim.fds[i]) == fd)
            return 1;
    return 0;
}

static const char *const fd_env[SHIM_FD_COUNT] = {"CORDON_EVENT_FD", "CORDON_POLICY_FD",
                                                  "CORDON_DNS_FD", "CORDON_HOOKS_FD"};

/* Rewrite "NAME=N" in our env slot for NAME (no allocation). */
static void env_set_fd(const char *name, int fd)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < shim.n_env; i++)
        if (strncmp(shim.env[i], name, nl) == 0 && shim.env[i][nl] == '=') {
            char digits[16];
            int k = 0;
            unsigned v = (unsigned)fd;
            do {
                digits[k++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            char *w = shim.env[i] + nl + 1;
            while (k)
                *w++ = digits[--k];
            *w = '\0';
        }
}

void shim_move_own_fd(int fd)
{
    for (int i = 0; i < SHIM_FD_COUNT; i++) {
        if (atomic_load(&shim.fds[i]) != fd)
            continue;
        int n = fcntl(fd, F_DUPFD, 100);
        if (n < 0)
            continue; /* out of descriptors: the caller's dup2 takes the number anyway */
        atomic_store(&shim.fds[i], n);
        if (i == SHIM_FD_EVENT)
            events_set_fd(n);
        env_set_fd(fd_env[i], n);
        /* the old number is about to be replaced by the caller's dup2 */
    }
}

int shim_dir_of(int dirfd, char *buf, size_t len)
{
    if (dirfd == AT_FDCWD)
        return syscall(SYS_getcwd, buf, len) > 0 ? 0 : -errno;
    char link[32] = "/proc/self/fd/";
    int k = 14;
    char d[12];
    int nd = 0;
    unsigned v = (unsigned)dirfd;
    do {
        d[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (nd)
        link[k++] = d[--nd];
    link[k] = '\0';
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0)
        return -errno;
    if (n == 0 || buf[0] != '/')
        return -ENOTDIR; /* a pipe, a socket, an anonymous file */
    buf[n] = '\0';
    return 0;
}

/* ---- the lines on stderr ---- */

static void put(char *buf, size_t cap, size_t *n, const char *s)
{
    while (*s && *n + 1 < cap)
        buf[(*n)++] = *s++;
    buf[*n] = '\0';
}

/* Bounded string copy without stdio: the descendant path avoids snprintf, whose code is a
 * handful of libc pages that /bin/true and friends never touch otherwise, and each page
 * faulted in costs ~10 µs on the VMs this was measured on. */
static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    put(dst, cap, &n, src ? src : "");
}

/* Decimal digits of v appended at *n. */
static void put_u64(char *buf, size_t cap, size_t *n, unsigned long long v)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k && *n + 1 < cap)
        buf[(*n)++] = d[--k];
    buf[*n] = '\0';
}

void shim_report(unsigned kind, const char *ev_kind, const char *decision, const char *what,
                 const char *subject, const char *rule, const char *detail)
{
    int saved = errno;
    int deny = strcmp(decision, "deny") == 0, logd = strcmp(decision, "log") == 0;
    if ((deny || logd) && shim.log_mode != PROFILE_LOG_OFF) {
        unsigned prev = atomic_fetch_or(&shim.said, kind);
        if (shim.log_mode == PROFILE_LOG_ALL || !(prev & kind)) {
            char line[2048], q[1200];
            struct jbuf jq;
            jbuf_init(&jq, q, sizeof q);
            jbuf_str(&jq, subject, 1024);
            size_t n = 0;
            put(line, sizeof line, &n, deny ? "cordon: denied " : "cordon: observe: would deny ");
            put(line, sizeof line, &n, what);
            put(line, sizeof line, &n, "(");
            put(line, sizeof line, &n, q);
            put(line, sizeof line, &n, "): ");
            put(line, sizeof line, &n, rule);
            put(line, sizeof line, &n, " (policy ");
            put(line, sizeof line, &n, shim.agent);
            put(line, sizeof line, &n, " v");
            char v[24];
            struct jbuf jv;
            jbuf_init(&jv, v, sizeof v);
            jbuf_u64(&jv, shim.version);
            put(line, sizeof line, &n, v);
            put(line, sizeof line, &n, ")\n");
            if (n + 1 >= sizeof line)
                line[sizeof line - 2] = '\n';
            ssize_t w = write(2, line, n);
            (void)w;
        }
    }
    events_emit(ev_kind, decision, detail);
    errno = saved;
}

/* ---- the environment of children ---- */

static const struct {
    const char *name;
    int override;
} env_names[] = {
    {"CORDON_SESSION", 1},
    {"CORDON_POLICY_DIGEST", 1},
    {"CORDON_POLICY_FD", 1},
    {"CORDON_EVENT_FD", 1},
    {"CORDON_DNS_FD", 1},
    {"CORDON_HOOKS_FD", 1},
    {"CORDON_HOOKS_ID", 1},
    {"CORDON_SERVER", 1},
    {"CORDON_KEY", 1},
    {"CORDON_TRUST", 1},
    {"CORDON_POLICY", 1},
    {"CORDON_WORKSPACE", 1},
    {"CORDON_PROXY", 1},
    {"CORDON_HOME", 1},
    {"CORDON_CWD", 1},
    {"CORDON_LOG", 0},
    {"HTTPS_PROXY", 0},
    /* the CA bundle of hosts cordond terminates TLS for (shim/root.c): only if removed, so a
     * process may still point a child at a bundle of its own */
    {"SSL_CERT_FILE", 0},
    {"REQUESTS_CA_BUNDLE", 0},
    {"CURL_CA_BUNDLE", 0},
    {"NODE_EXTRA_CA_CERTS", 0},
    {"GIT_SSL_CAINFO", 0},
    {"https_proxy", 0},
    {"NO_PROXY", 0},
    {"no_proxy", 0},
    /* The model clients' variables (docs/SHIM.md "Model clients"): the tree's credential and
     * cordond's API, restored over whatever a process put in a child's environment, so that a
     * provider key an agent sets is never what a client sends. */
    {"OPENAI_API_KEY", 1},
    {"ANTHROPIC_API_KEY", 1},
    {"OPENAI_BASE_URL", 1},
    {"ANTHROPIC_BASE_URL", 1},
};

static void build_env(void)
{
    /* Packed one after the other, after the decoded policy, so only the pages the values
     * need are touched. */
    size_t used = g_mem_used;
    shim.n_env = 0;
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0] && shim.n_env < SHIM_ENV_MAX;
         i++) {
        const char *v = getenv(env_names[i].name);
        size_t nl = strlen(env_names[i].name);
        /* room for env_set_fd to write a longer descriptor number later */
        size_t need = v ? nl + strlen(v) + 2 +
                              (nl > 3 && strcmp(env_names[i].name + nl - 3, "_FD") == 0 ? 8 : 0)
                        : 0;
        if (!v || need > ENV_SLOT || used + need > sizeof g_mem.b)
            continue;
        char *slot = g_mem.b + used;
        size_t m = 0;
        put(slot, need, &m, env_names[i].name);
        put(slot, need, &m, "=");
        put(slot, need, &m, v);
        shim.env[shim.n_env] = slot;
        shim.env_override[shim.n_env] = env_names[i].override;
        shim.n_env++;
        used += need;
    }
    size_t sl = strlen(g_self);
    if (sl && sl < PATH_MAX && used + sl + sizeof "LD_PRELOAD=" <= sizeof g_mem.b) {
        char *e = g_mem.b + used;
        size_t m = 0;
        put(e, sl + sizeof "LD_PRELOAD=", &m, "LD_PRELOAD=");
        put(e, sl + sizeof "LD_PRELOAD=", &m, g_self);
        g_preload_entry = e;
        used += m + 1;
    }
    g_mem_used = used;
}

/* The lengths of filesystem.deny for the open hooks (decide_fs_prepare), after the
 * environment in the same static block. */
static void index_fs_deny(void)
{
    size_t at = (g_mem_used + sizeof(uint32_t) - 1) & ~(sizeof(uint32_t) - 1);
    size_t cap = at < sizeof g_mem.b ? (sizeof g_mem.b - at) / sizeof(uint32_t) : 0;
    decide_fs_prepare(&shim.fs_deny, shim.policy, (uint32_t *)(void *)(g_mem.b + at), cap);
    if (shim.fs_deny.len)
        g_mem_used = at + 2 * shim.policy->sandbox.fs.deny.n * sizeof(uint32_t);
}

static int name_is(const char *entry, const char *var)
{
    size_t i = 0;
    while (var[i] && entry[i] == var[i])
        i++;
    return var[i] == '\0' && entry[i] == '=';
}

static int has_name(char *const envp[], const char *entry)
{
    size_t nl = (size_t)(strchr(entry, '=') - entry);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], entry, nl) == 0 && envp[i][nl] == '=')
            return 1;
    return 0;
}

char *const *shim_env_for_exec(char *const envp[], char **out, size_t cap, char *scratch,
                               size_t scratchlen)
{
    size_t n = 0;
    int preload_done = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        int skip = 0;
        for (size_t k = 0; k < shim.n_env && !skip; k++) {
            size_t nl = (size_t)(strchr(shim.env[k], '=') - shim.env[k]);
            if (shim.env_override[k] && strncmp(envp[i], shim.env[k], nl) == 0 &&
                envp[i][nl] == '=')
                skip = 1;
        }
        if (skip)
            continue;
        if (n + 1 >= cap)
            return (char *const *)envp;
        if (name_is(envp[i], "LD_PRELOAD") && g_self[0] && !strstr(envp[i], g_self)) {
            size_t m = 0;
            put(scratch, scratchlen, &m, "LD_PRELOAD=");
            put(scratch, scratchlen, &m, g_self);
            put(scratch, scratchlen, &m, ":");
            put(scratch, scratchlen, &m, envp[i] + 11);
            out[n++] = scratch;
            preload_done = 1;
            continue;
        }
        if (name_is(envp[i], "LD_PRELOAD"))
            preload_done = 1;
        out[n++] = envp[i];
    }
    for (size_t k = 0; k < shim.n_env; k++) {
        if (!shim.env_override[k] && has_name(envp, shim.env[k]))
            continue;
        if (n + 1 >= cap)
            return (char *const *)envp;
        out[n++] = shim.env[k];
    }
    if (!preload_done && g_preload_entry) {
        if (n + 1 >= cap)
            return (char *const *)envp;
        out[n++] = (char *)g_preload_entry;
    }
    out[n] = NULL;
    return out;
}

/* ---- start ---- */

__attribute__((noreturn)) static void refuse(const char *prog, const char *why)
{
    char line[3000];
    int n = snprintf(line, sizeof line,
                     "cordon: %s was not started: %s. The policy could not be put in place, so "
                     "nothing ran (exit status %d; see docs/SHIM.md).\n",
                     prog, why, ROOT_EXIT_SHIM);
    if (n > 0) {
        ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
    _exit(ROOT_EXIT_SHIM);
}

/* The kernel facts of a governed tree: two prctl calls, no /proc read. */
static int kernel_facts(void)
{
    /* no_new_privs and "some seccomp filter" hold in any hardened container or systemd
     * unit: only the canary of cordon's own filter proves the sandbox is in place. */
    return sandbox_probe_no_new_privs() == 1 && sandbox_probe_cordon_filter();
}

static int env_fd(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -ENOENT;
    int fd = 0; /* plain digits, without strtol's pages */
    for (int i = 0; v[i]; i++) {
        if (v[i] < '0' || v[i] > '9' || i == 5)
            return -EINVAL;
        fd = fd * 10 + (v[i] - '0');
    }
    if (fd > 65535 || fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    return fd;
}

static void set_proxy(const char *hostport)
{
    char host[FETCH_HOST_MAX];
    unsigned short port;
    if (!hostport || fetch_split_hostport(hostport, host, sizeof host, &port) != 0)
        return;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&shim.proxy;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&shim.proxy;
    /* The usual tunnel address is numeric: no resolver (and its pages) in every exec. */
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        shim.proxy_len = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        shim.proxy_len = sizeof *in6;
    } else {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        char ps[8];
        size_t pn = 0;
        put_u64(ps, sizeof ps, &pn, port);
        if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
            return;
        memcpy(&shim.proxy, res->ai_addr, res->ai_addrlen);
        shim.proxy_len = res->ai_addrlen;
        freeaddrinfo(res);
    }
    if (shim.n_cordond_ports < 8)
        shim.cordond_ports[shim.n_cordond_ports++] = port;
}

static void set_server(const char *server)
{
    if (!server || strncmp(server, "http://", 7) != 0)
        return;
    char hp[FETCH_HOST_MAX], host[FETCH_HOST_MAX];
    unsigned short port;
    copy(hp, sizeof hp, server + 7);
    hp[strcspn(hp, "/")] = '\0';
    if (fetch_split_hostport(hp, host, sizeof host, &port) != 0)
        return;
    copy(shim.server_host, sizeof shim.server_host, host);
    shim.server_port = port;
    if (shim.n_cordond_ports < 8)
        shim.cordond_ports[shim.n_cordond_ports++] = port;
}

/* Load libcordon-root.so from beside this library (the root path and the fallback path of
 * a descendant need it; see rootlib.h). */
static const struct rootlib *rootlib(const char *prog)
{
    if (g_rootlib)
        return g_rootlib;
    char path[PATH_MAX + 32], why[sizeof path + 600];
    if (rootlib_path(g_self, path, sizeof path) != 0)
        refuse(prog, "cannot tell where libcordon.so was loaded from, so libcordon-root.so "
                     "cannot be found beside it");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const struct rootlib *t = h ? dlsym(h, ROOTLIB_SYMBOL) : NULL;
    if (!t) {
        snprintf(why, sizeof why,
                 "cannot load %s (%s); it is installed beside libcordon.so and holds what the "
                 "root of a governed tree needs: reinstall cordon",
                 path, dlerror());
        refuse(prog, why);
    }
    g_rootlib = t;
    return t;
}

/* The status of a memfd sealed against every change, so what was checked is what stays;
 * refuses anything else. The seals are read before the size, which they then fix. */
static void sealed_stat(const char *prog, int fd, const char *name, size_t max, struct stat *st)
{
    char why[256];
    int seals = fcntl(fd, F_GET_SEALS);
    int want = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    if (seals < 0 || (seals & want) != want || fstat(fd, st) != 0 || st->st_size <= 0 ||
        (size_t)st->st_size > max) {
        snprintf(why, sizeof why, "the tree's policy cache (%s) is not a sealed cordon memfd",
                 name);
        refuse(prog, why);
    }
}

/* Read all of a sealed memfd into a malloc'd buffer. */
static char *read_sealed(const char *prog, int fd, const char *name, size_t max, size_t *len)
{
    char why[256];
    struct stat st;
    sealed_stat(prog, fd, name, max, &st);
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf)
        refuse(prog, "out of memory");
    while (got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r <= 0) {
            snprintf(why, sizeof why, "the tree's policy cache (%s) cannot be read", name);
            refuse(prog, why);
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* The hook image path: the root compiled the policy, resolved its paths and sealed what the
 * hooks read into CORDON_HOOKS_FD. The image is checked by its seals and its identity
 * (CORDON_HOOKS_ID, the memfd's device and inode), not against the signing key: see
 * docs/SECURITY.md, "Descendants do not check the signature again". It is mapped, not
 * copied: its pages are already in memory. */
static struct policy *descend_image(const char *prog, int fd, const char *want)
{
    char err[512], why[700], id[48];
    struct stat st;
    sealed_stat(prog, fd, "CORDON_HOOKS_FD", HOOKPOL_MAX_BYTES, &st);
    size_t il = 0;
    id[0] = '\0';
    put_u64(id, sizeof id, &il, (unsigned long long)st.st_dev);
    put(id, sizeof id, &il, ":");
    put_u64(id, sizeof id, &il, (unsigned long long)st.st_ino);
    if (strcmp(id, want) != 0)
        refuse(prog, "the tree's hook image is not the one CORDON_HOOKS_ID names (the "
                     "descriptor was replaced); start the agent again from its profile");
    size_t len = (size_t)st.st_size, need = 0;
    const char *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (img == MAP_FAILED)
        refuse(prog, "the tree's hook image (CORDON_HOOKS_FD) cannot be mapped");
    /* Static memory, not malloc: an exec's first malloc costs a getrandom, two brk calls
     * and fresh heap pages, more than the rest of this path together. */
    void *mem = g_mem.b;
    struct policy *pol = NULL;
    uint64_t version = 0;
    int rc = hookpol_decode_into(img, len, mem, START_POLICY_MAX, &need, &pol, &version, err,
                                 sizeof err);
    if (rc == -ENOMEM) { /* a policy larger than the static block: a mapping of its own */
        mem = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            refuse(prog, "out of memory for the tree's hook image");
        rc = hookpol_decode_into(img, len, mem, need, NULL, &pol, &version, err, sizeof err);
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "the tree's hook image is malformed: %s", err);
        refuse(prog, why);
    }
    if (mem == g_mem.b)
        g_mem_used = (need + 15) & ~(size_t)15;
    /* The mapping stays: the policy's strings point into it for the life of the process. */
    shim.version = version;
    atomic_store(&shim.fds[SHIM_FD_HOOKS], fd);
    return pol;
}

/* The envelope path, for a tree whose root left no hook image: libcordon-root.so verifies
 * the cached envelope with the trust key the root exported and compiles it here. */
static struct policy *descend_envelope(const char *prog, int fd, const char *want)
{
    char err[1024];
    size_t got = 0;
    char *env = read_sealed(prog, fd, "CORDON_POLICY_FD", FETCH_MAX_BODY, &got);
    const char *trust = getenv("CORDON_TRUST"), *ws = getenv("CORDON_WORKSPACE");
    struct policy *pol = NULL;
    uint64_t version = 0;
    if (rootlib(prog)->load_envelope(trust ? trust : "", ws ? ws : "", env, got, want, &pol,
                                     &version, err, sizeof err) != 0)
        refuse(prog, err);
    free(env);
    shim.version = version;
    return pol;
}

/*
 * The descendant path. Returns 0 when hooks can be installed, 1 when the process must run
 * with the kernel layer alone (the cache is gone), and refuses on tampering. It reads the
 * profile from the environment alone: the root exported the effective values (inline trust,
 * the key's value) and dropped CORDON_PROFILE, so a descendant reads no profile or trust
 * file to start.
 */
static int descend(const char *prog)
{
    char err[512];
    if (profile_log_mode(getenv("CORDON_LOG"), &shim.log_mode, err, sizeof err) != 0)
        refuse(prog, err);
    int fd = env_fd("CORDON_POLICY_FD");
    const char *want = getenv("CORDON_POLICY_DIGEST");
    int hfd = env_fd("CORDON_HOOKS_FD");
    const char *hwant = getenv("CORDON_HOOKS_ID");
    if (fd < 0 || !want || (hwant && hfd < 0)) {
        if (shim.log_mode != PROFILE_LOG_OFF) {
            static const char m[] = "cordon: the policy cache of this process tree is gone "
                                    "(CORDON_POLICY_FD or CORDON_HOOKS_FD was closed by a "
                                    "program the shim cannot see); the kernel sandbox still "
                                    "applies, but this process runs without hooks or events\n";
            ssize_t w = write(2, m, sizeof m - 1);
            (void)w;
        }
        return 1;
    }
    struct policy *pol =
        hfd >= 0 && hwant ? descend_image(prog, hfd, hwant) : descend_envelope(prog, fd, want);
    shim.policy = pol;
    atomic_store(&shim.fds[SHIM_FD_POLICY], fd);
    int efd = env_fd("CORDON_EVENT_FD");
    if (efd >= 0) {
        atomic_store(&shim.fds[SHIM_FD_EVENT], efd);
        events_set_fd(efd);
    }
    int dfd = env_fd("CORDON_DNS_FD");
    if (dfd >= 0 && dnsmap_attach(dfd) == 0)
        atomic_store(&shim.fds[SHIM_FD_DNS], dfd);
    const char *sess = getenv("CORDON_SESSION");
    copy(shim.session, sizeof shim.session, sess);
    /* The key authenticates the tunnel, so only a tree with one needs it (network mode
     * proxy against cordond; an offline root exports no CORDON_PROXY). */
    const char *key = getenv("CORDON_KEY");
    if (key && *key && pol->sandbox.net.mode == POLICY_NET_PROXY && getenv("CORDON_PROXY")) {
        char k[PROFILE_KEY_LEN + 1];
        if (profile_key_of(key, k, err, sizeof err) == 0)
            memcpy(shim.key, k, sizeof k);
        explicit_bzero(k, sizeof k);
    }
    return 0;
}

static void handshake(void)
{
    int fd = env_fd("CORDON_HANDSHAKE_FD");
    unsetenv("CORDON_HANDSHAKE_FD");
    if (fd < 0)
        return;
    char line[HANDSHAKE_MAX];
    size_t n = handshake_format(line, sizeof line, (long)getpid(), shim.version);
    if (n)
        (void)!io_write_all(fd, line, n); /* no answer is what cordon run reports */
    close(fd);
}

static void send_start(int argc, char **argv)
{
    if (events_fd() < 0)
        return;
    char mem[EVENTS_MAX_ARGV + 64];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"argv\":[");
    size_t used = 0;
    for (int i = 0; argv && i < argc && argv[i]; i++) {
        size_t l = strlen(argv[i]);
        if (used + l > EVENTS_MAX_ARGV) {
            jbuf_raw(&b, i ? ",\"...\"" : "\"...\"");
            break;
        }
        if (i)
            jbuf_raw(&b, ",");
        jbuf_str(&b, argv[i], EVENTS_MAX_ARGV);
        used += l;
    }
    jbuf_raw(&b, "]}");
    events_emit("shim.start", "allow", b.overflow ? "{\"argv\":[\"...\"]}" : mem);
}

static void at_exit(void)
{
    events_flush_dropped();
}

/* The root path: no mark, or a mark without the kernel facts behind it (forged or stale).
 * Only a root loads libcordon-root.so (libsodium, cJSON, the compiler, the sandbox); a
 * descendant needs none of it. Kept out of the constructor so that the descendant's stack
 * frame stays small: every page of stack an exec touches is a fault. */
__attribute__((noinline)) static void become_root(const char *prog)
{
    char err[2048];
    memset(&g_root, 0, sizeof g_root); /* root_init, which lives in libcordon-root.so */
    g_root.event_fd = g_root.policy_fd = g_root.dns_fd = g_root.hooks_fd = -1;
    copy(g_root.preload, sizeof g_root.preload, g_self);
    if (profile_load(&g_root.prof, err, sizeof err) != 0 ||
        rootlib(prog)->start(&g_root, err, sizeof err) != 0)
        refuse(prog, err);
    /* libcordon-root.so has its own copies of the event channel and the DNS map; the
     * hooks use this library's. */
    if (g_root.event_fd >= 0)
        events_set_fd(g_root.event_fd);
    if (g_root.dns_fd >= 0 && dnsmap_attach(g_root.dns_fd) != 0)
        refuse(prog, "cannot map the DNS name map of network mode proxy");
    shim.log_mode = g_root.prof.log_mode;
    shim.policy = g_root.policy;
    shim.version = g_root.stamp.version;
    memcpy(shim.key, g_root.key, sizeof shim.key);
    memcpy(shim.session, g_root.session, sizeof shim.session);
    atomic_store(&shim.fds[SHIM_FD_POLICY], g_root.policy_fd);
    atomic_store(&shim.fds[SHIM_FD_EVENT], g_root.event_fd);
    atomic_store(&shim.fds[SHIM_FD_DNS], g_root.dns_fd);
    atomic_store(&shim.fds[SHIM_FD_HOOKS], g_root.hooks_fd);
    if (!g_root.online && shim.log_mode != PROFILE_LOG_OFF) {
        static const char m[] = "cordon: offline mode (CORDON_POLICY, no CORDON_SERVER): "
                                "decisions are enforced but not recorded by cordond\n";
        ssize_t w = write(2, m, sizeof m - 1);
        (void)w;
    }
    if (g_root.env_notice[0] && shim.log_mode != PROFILE_LOG_OFF) {
        char l[sizeof g_root.env_notice + 16];
        int n = snprintf(l, sizeof l, "cordon: %s\n", g_root.env_notice);
        ssize_t w = write(2, l, n > 0 && (size_t)n < sizeof l ? (size_t)n : 0);
        (void)w;
    }
    for (size_t i = 0; i < g_root.report.n_degradations; i++) {
        char l[SANDBOX_NOTE_MAX + 64];
        int n = snprintf(l, sizeof l, "cordon: warning: not enforced: %s\n",
                         g_root.report.degradations[i]);
        ssize_t w = write(2, l, n > 0 && (size_t)n < sizeof l ? (size_t)n : 0);
        (void)w;
    }
}

__attribute__((constructor)) static void shim_init(int argc, char **argv, char **envp)
{
    (void)envp;
    int saved = errno;
    const char *prog = argc > 0 && argv && argv[0] ? argv[0] : "the program";
    Dl_info di;
    if (dladdr((void *)shim_init, &di) && di.dli_fname)
        g_self = di.dli_fname;

    const char *session = getenv("CORDON_SESSION");
    int marked = session && strlen(session) == 32 && kernel_facts();
    int hooks = 1;
    if (marked) {
        if (descend(prog) != 0)
            hooks = 0;
    } else {
        become_root(prog);
    }
    if (shim.policy) {
        copy(shim.agent, sizeof shim.agent, shim.policy->agent);
        shim.observe = shim.policy->mode == POLICY_MODE_OBSERVE;
        shim.net = shim.policy->sandbox.net.mode;
    }
    set_server(getenv("CORDON_SERVER"));
    set_proxy(getenv("CORDON_PROXY"));
    build_env();
    if (shim.policy)
        index_fs_deny();
    if (hooks && shim.policy)
        atomic_store(&shim.active, 1);
    /* Nothing of the program runs before this point, so the handshake fd needs no
     * protection from the fd hooks; it must really be closed (cordon run waits for it). */
    handshake();
    send_start(argc, argv);
    atexit(at_exit);
    if (!marked && g_root.online && shim.net != POLICY_NET_NONE &&
        g_root.policy->poll_seconds > 0) {
        static struct poll_job job;
        job.root = &g_root;
        job.once = g_rootlib->poll_once;
        job.who = "cordon";
        job.quiet = shim.log_mode == PROFILE_LOG_OFF;
        job.notices = g_root.event_fd >= 0; /* a quarantine notice from cordond */
        job.notice_fd = g_root.event_fd;
        if (poll_start(&job) != 0 && shim.log_mode != PROFILE_LOG_OFF) {
            static const char m[] = "cordon: cannot start the policy poller; a newer policy "
                                    "will not be noticed until restart\n";
            ssize_t w = write(2, m, sizeof m - 1);
            (void)w;
        }
    }
    errno = saved;
}
