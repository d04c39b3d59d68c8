/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Landlock ruleset of a policy.
 *
 * Landlock only grants: a rule on a directory covers everything beneath it, and nothing can
 * take a right back further down. A policy that allows $HOME but denies ~/.ssh is therefore
 * built by "sibling expansion": instead of one rule on $HOME, every entry of $HOME gets the
 * rule except .ssh, and a directory that holds a denied path deeper down is expanded in turn.
 * The directories on the way only get READ_DIR, so the names inside a denied directory can be
 * listed but nothing in it can be read, written or created (docs/SECURITY.md).
 *
 * Programs get EXECUTE one file at a time only where it matters: a search directory holding a
 * denied program is expanded into per-file rules (following no symlink, so Debian's
 * /usr/bin/X11 -> . cannot re-grant the directory); one without gets a single rule. Denied
 * programs are matched by inode, so a second name (a hard link, or a symlink elsewhere in the
 * search path) for a denied program is denied too.
 */
#include "base/glob.h"
#include "base/grow.h"
#include "sandbox/landlock.h"
#include "sandbox/report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* The ruleset attribute and the port rule as of ABI 6, whatever the headers know. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_EXEC (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE)
/* Rights that mean something on a file (the kernel refuses directory rights on a file). */
#define FS_FILE_RIGHTS                                                                             \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* A valid policy has at most 1024 denies, each one or two paths (a symlink and its target),
 * plus the credential set (70), the system set (21) and the host secret set (4, $XDG_STATE_HOME,
 * up to 64 from host_deny and 32 from cordond's own list), each one or two paths too; going
 * beyond is an error, never a silent drop. */
#define MAX_DENY 2600
#define MAX_DENIED_INODES 4096
#define MAX_DEPTH 32

uint64_t sandbox_landlock_fs_rights(int abi)
{
    uint64_t r = 0;
    if (abi > SANDBOX_LANDLOCK_KNOWN_ABI)
        abi = SANDBOX_LANDLOCK_KNOWN_ABI;
    /* Fall through from the newest ABI down, as the kernel's sandboxer sample does. */
    switch (abi) {
    case 7:
    case 6:
    case 5:
        r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        /* fall through */
    case 4:
    case 3:
        r |= LANDLOCK_ACCESS_FS_TRUNCATE;
        /* fall through */
    case 2:
        r |= LANDLOCK_ACCESS_FS_REFER;
        /* fall through */
    case 1:
        r |= (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* EXECUTE .. MAKE_SYM */
        break;
    default:
        break;
    }
    return r;
}

struct inode_id {
    dev_t dev;
    ino_t ino;
};

/*
 * Descriptors opened one after another get consecutive numbers; a run of them is closed with
 * one close_range() instead of a close() each. Rule building opens one descriptor per
 * program, so this halves the system calls of the biggest phase.
 */
struct fd_run {
    int first, last;
};

static void run_flush(struct fd_run *run)
{
    if (run->first < 0)
        return;
    if (syscall(SYS_close_range, (unsigned)run->first, (unsigned)run->last, 0) != 0)
        for (int fd = run->first; fd <= run->last; fd++)
            close(fd);
    run->first = run->last = -1;
}

/* Hand fd over to be closed; only an unbroken sequence is ever closed as a range. */
static void run_push(struct fd_run *run, int fd)
{
    if (run->first >= 0 && (fd != run->last + 1 || run->last - run->first >= 255))
        run_flush(run);
    if (run->first < 0)
        run->first = fd;
    run->last = fd;
}

struct ll {
    int ruleset;
    struct fd_run run;
    uint64_t fs; /* handled file system rights */
    struct sandbox_report *r;
    size_t n_deny;
    char *deny[MAX_DENY];      /* resolved denied paths */
    size_t deny_len[MAX_DENY]; /* their lengths: is_denied() runs for every entry of every
                                  expanded directory, against every deny */
    size_t n_denied_ino;
    struct inode_id denied_ino[MAX_DENIED_INODES]; /* programs that must not run */
    int overflow; /* a list above was full: refuse rather than enforce less */
    char *err;
    size_t errlen;
    /* The last parent add_deny() resolved: most denied paths that do not exist share one
     * (~ for the credential set), and resolving it again cost an open, a readlink and a close
     * for each of them. */
    int parent_ok;
    char parent_key[PATH_MAXLEN], parent_real[PATH_MAXLEN];
};

static int within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The path fd names, or -1 (when /proc is missing the rule still works by fd). */
static int fd_path(int fd, char *buf, size_t len)
{
    char link[48];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n <= 0 || buf[0] != '/')
        return -1;
    buf[n] = '\0';
    return 0;
}

static int add_rule_fd(struct ll *L, int fd, uint64_t rights, int is_dir, unsigned *counter)
{
    struct landlock_path_beneath_attr a = {
        .allowed_access = rights & L->fs & (is_dir ? ~0ULL : FS_FILE_RIGHTS),
        .parent_fd = fd,
    };
    if (!a.allowed_access)
        return 0;
    if (syscall(SYS_landlock_add_rule, L->ruleset, LL_RULE_PATH_BENEATH, &a, 0) != 0) {
        char where[PATH_MAXLEN] = "?";
        int e = errno;
        (void)fd_path(fd, where, sizeof where);
        snprintf(L->err, L->errlen, "landlock: cannot add a rule for %s: %s", where, strerror(e));
        return SANDBOX_ERR_SYSCALL;
    }
    (*counter)++;
    return 0;
}

/* Add a rule on path; a path that does not exist (or that we may not even look up) has
 * nothing to grant and is skipped. */
static int add_rule_path(struct ll *L, const char *path, uint64_t rights, unsigned *counter)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? add_rule_fd(L, fd, rights, S_ISDIR(st.st_mode), counter) : 0;
    close(fd);
    return rc;
}

static int is_denied(const struct ll *L, const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < L->n_deny; i++) {
        size_t n = L->deny_len[i];
        if (n == 1 ||
            (pl >= n && (path[n] == '\0' || path[n] == '/') && memcmp(path, L->deny[i], n) == 0))
            return 1;
    }
    return 0;
}

/*
 * Fences are never granted as a whole by a grant above them: a policy whose cwd is / would
 * otherwise grant /dev, and with it every disk. Unlike a deny, a fence does not refuse grants
 * made inside it (the device nodes of system_dev, or /dev/shm if a policy names it).
 */
static const char *const fences[] = {"/dev", NULL};

static int is_fence(const char *path)
{
    for (size_t i = 0; fences[i]; i++)
        if (strcmp(path, fences[i]) == 0)
            return 1;
    return 0;
}

static int deny_beneath(const struct ll *L, const char *dir)
{
    size_t dl = strlen(dir);
    for (size_t i = 0; i < L->n_deny; i++)
        if (L->deny_len[i] > dl && (dl == 1 || L->deny[i][dl] == '/') &&
            memcmp(L->deny[i], dir, dl) == 0)
            return 1;
    for (size_t i = 0; fences[i]; i++)
        if (within(fences[i], dir) && strcmp(fences[i], dir) != 0)
            return 1;
    return 0;
}

/*
 * Grant rights on everything in dir except the denied paths: READ_DIR on dir itself so it can
 * still be listed, a full rule on each entry that holds no denied path, and the same
 * expansion again for each entry that does.
 */
static int expand(struct ll *L, const char *dir, uint64_t rights, unsigned *counter, int depth)
{
    int rc = 0;
    if (depth > MAX_DEPTH) {
        snprintf(L->err, L->errlen,
                 "landlock: a deny rule lies more than %d directories "
                 "below its grant (%s); grant a directory closer to it",
                 MAX_DEPTH, dir);
        return SANDBOX_ERR_UNSUPPORTED;
    }
    L->r->expanded_dirs++;
    if ((rc = add_rule_path(L, dir, rights & LANDLOCK_ACCESS_FS_READ_DIR, counter)) != 0)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* nothing below we could grant */
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        char child[PATH_MAXLEN];
        if ((size_t)snprintf(child, sizeof child, "%s/%s", strcmp(dir, "/") ? dir : "", name) >=
            sizeof child)
            continue;
        if (is_denied(L, child) || is_fence(child))
            continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        }
        /* A symlink is no part of the directory's subtree: the grant never covered its
         * target, whose own rules decide when it is followed. */
        if (type == DT_LNK)
            continue;
        if (type == DT_DIR && deny_beneath(L, child)) {
            run_flush(&L->run);
            rc = expand(L, child, rights, counter, depth + 1);
            continue;
        }
        int fd = openat(dirfd(d), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        rc = add_rule_fd(L, fd, rights, type == DT_DIR, counter);
        run_push(&L->run, fd);
    }
    run_flush(&L->run);
    closedir(d);
    return rc;
}

/* Grant rights on path, expanding around the denied paths beneath it; rules are counted in
 * *counter. Every grant, exec ones included, goes through here, so no grant can reach a
 * denied path. */
static int grant(struct ll *L, const char *path, uint64_t rights, unsigned *counter)
{
    char real[PATH_MAXLEN];
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return 0; /* a grant on a path that does not exist grants nothing */
    if (fd_path(fd, real, sizeof real) != 0) {
        /* no /proc: cannot compare with the denies, so grant only when none exist */
        struct stat st;
        int rc = 0;
        if (L->n_deny == 0 && fstat(fd, &st) == 0)
            rc = add_rule_fd(L, fd, rights, S_ISDIR(st.st_mode), counter);
        close(fd);
        return rc;
    }
    int rc = 0;
    if (is_denied(L, real)) {
        /* the whole grant lies inside a deny: nothing to add */
    } else if (deny_beneath(L, real)) {
        rc = expand(L, real, rights, counter, 0);
    } else {
        struct stat st;
        if (fstat(fd, &st) == 0)
            rc = add_rule_fd(L, fd, rights, S_ISDIR(st.st_mode), counter);
    }
    close(fd);
    return rc;
}

static void deny_path(struct ll *L, const char *path)
{
    for (size_t i = 0; i < L->n_deny; i++)
        if (strcmp(L->deny[i], path) == 0)
            return;
    if (L->n_deny >= MAX_DENY || !(L->deny[L->n_deny] = strdup(path))) {
        L->overflow = 1;
        return;
    }
    L->deny_len[L->n_deny] = strlen(path);
    L->n_deny++;
}

/* The denied path as the kernel will see it: symlinks resolved; for a path that does not
 * exist yet, its parent resolved and the name kept. */
static void add_deny(struct ll *L, const struct policy_path *pp, int resolved)
{
    char buf[PATH_MAXLEN];
    const char *use = pp->real;
    /* resolved: the policy was compiled a moment ago with symlinks resolved, and a path with
     * no target did not exist then; looking again costs a failed open for each of the credential
     * set's entries that a machine does not have */
    if (!use && !resolved) {
        int fd = open(pp->path, O_PATH | O_CLOEXEC);
        if (fd >= 0 && fd_path(fd, buf, sizeof buf) == 0)
            use = buf;
        if (fd >= 0)
            close(fd);
    }
    if (!use) {
        char parent[PATH_MAXLEN];
        const char *slash = strrchr(pp->path, '/');
        size_t pl = slash ? (size_t)(slash - pp->path) : 0;
        memcpy(parent, pp->path, pl);
        parent[pl] = '\0';
        if (!pl)
            memcpy(parent, "/", 2);
        if (!L->parent_ok || strcmp(parent, L->parent_key) != 0) {
            int fd = open(parent, O_PATH | O_CLOEXEC);
            L->parent_ok = fd >= 0 && fd_path(fd, L->parent_real, sizeof L->parent_real) == 0;
            if (L->parent_ok)
                memcpy(L->parent_key, parent, strlen(parent) + 1);
            if (fd >= 0)
                close(fd);
        }
        const char *rp = L->parent_real;
        if (L->parent_ok && (size_t)snprintf(buf, sizeof buf, "%s%s", strcmp(rp, "/") ? rp : "",
                                             slash) < sizeof buf)
            use = buf;
        else
            use = pp->path;
    }
    deny_path(L, use);
    /* the link itself, when the deny names a symlink: its own name is denied too */
    if (pp->real && strcmp(pp->real, pp->path) != 0)
        deny_path(L, pp->path);
}

/* ---------------------------------------------------------------- bind mounts */

#define MAX_MOUNTS 4096
#define MOUNTINFO_MAX (4u << 20)

struct mount_entry {
    unsigned long dev;
    char *root;  /* the directory of its file system the mount shows */
    char *point; /* where it is mounted */
};

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* a + b, where b is "" or starts with '/', without a doubled slash. */
static int join(char *out, size_t len, const char *a, const char *b)
{
    if (strcmp(a, "/") == 0)
        return (size_t)snprintf(out, len, "%s", *b ? b : "/") < len ? 0 : -1;
    return (size_t)snprintf(out, len, "%s%s", a, b) < len ? 0 : -1;
}

/* The whole of /proc/self/mountinfo, NUL-terminated (caller frees), or NULL. One buffer and
 * in-place parsing: page faults cost more than the parsing on a virtual machine. */
static char *read_mountinfo(void)
{
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    size_t cap = 16384, n = 0;
    char *buf = fd >= 0 ? malloc(cap) : NULL;
    while (buf) {
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n + 1 == cap && (cap >= MOUNTINFO_MAX || GROW(&buf, &cap, cap + 1) != 0)) {
            free(buf);
            buf = NULL;
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* Split the mountinfo text into entries (pointing into text). */
static size_t parse_mounts(char *text, struct mount_entry *m, size_t max)
{
    size_t n = 0;
    for (char *line = text, *next; line && *line && n < max; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        /* id parent major:minor root mount-point ... */
        char *save = NULL, *f[5];
        int k = 0;
        for (char *tok = strtok_r(line, " ", &save); tok && k < 5; tok = strtok_r(NULL, " ", &save))
            f[k++] = tok;
        unsigned maj, min;
        if (k < 5 || sscanf(f[2], "%u:%u", &maj, &min) != 2)
            continue;
        unescape(f[3]);
        unescape(f[4]);
        m[n].dev = (unsigned long)maj << 20 | min;
        m[n].root = f[3];
        m[n].point = f[4];
        n++;
    }
    return n;
}

/*
 * A denied directory is reachable wherever its file system is mounted again: a bind mount
 * of ~/.ssh into the workspace shows the same files under another path, and Landlock rules
 * follow the path walked. Deny every such second place too.
 */
static void deny_bind_mounts(struct ll *L)
{
    char *text = read_mountinfo();
    struct mount_entry *m = text ? malloc(sizeof *m * MAX_MOUNTS) : NULL;
    size_t nm = m ? parse_mounts(text, m, MAX_MOUNTS) : 0;
    size_t nd = L->n_deny; /* only the denies asked for, not the ones found here */
    for (size_t i = 0; i < nd; i++) {
        const char *d = L->deny[i];
        /* the mount that holds d: the longest mount point above it */
        size_t home = nm, best = 0;
        for (size_t k = 0; k < nm; k++) {
            size_t l = strlen(m[k].point);
            if (within(d, m[k].point) && (home == nm || l > best)) {
                home = k;
                best = l;
            }
        }
        if (home == nm)
            continue;
        /* d as a path inside its file system */
        char dfs[PATH_MAXLEN], where[PATH_MAXLEN];
        const char *rest = strcmp(m[home].point, "/") ? d + best : d;
        if (join(dfs, sizeof dfs, m[home].root, rest) != 0)
            continue;
        for (size_t k = 0; k < nm; k++) {
            if (k == home || m[k].dev != m[home].dev)
                continue;
            if (within(dfs, m[k].root)) {
                /* the mount shows d (or a parent of it): d is there too */
                const char *tail = strcmp(m[k].root, "/") ? dfs + strlen(m[k].root) : dfs;
                if (join(where, sizeof where, m[k].point, tail) == 0)
                    deny_path(L, where);
            } else if (within(m[k].root, dfs)) {
                deny_path(L, m[k].point); /* the mount shows a part of d: all of it */
            }
        }
    }
    free(m);
    free(text);
}

/* System paths every dynamically linked program needs to read (docs/SECURITY.md). */
static const char *const system_read[] = {
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", NULL,
};
/* Credentials of the machine itself, denied inside the system grants above. */
static const char *const system_deny[] = {
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssh/ssh_host_dsa_key",
    "/etc/security/opasswd",
    "/etc/ssl/private",
    "/etc/krb5.keytab",
    "/etc/wireguard",
    "/etc/ipsec.secrets",
    "/etc/ppp/chap-secrets",
    "/etc/ppp/pap-secrets",
    "/etc/NetworkManager/system-connections",
    "/etc/letsencrypt",
    "/etc/openvpn",
    "/etc/libvirt/secrets",
    NULL,
};
/* The ELF interpreters: the kernel opens them for execution, so they need EXECUTE. */
static const char *const loaders[] = {
    "/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-armhf.so.3",
    "/lib/ld-linux.so.2",          "/libx32/ld-linux-x32.so.2",  NULL,
};

struct dev_grant {
    const char *path;
    uint64_t rights;
};

static const struct dev_grant system_dev[] = {
    {"/dev/null",
     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE},
    {"/dev/zero", LANDLOCK_ACCESS_FS_READ_FILE},
    {"/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE},
    {"/dev/random", LANDLOCK_ACCESS_FS_READ_FILE},
    {"/dev/tty",
     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_IOCTL_DEV},
    {NULL, 0},
};

static int fs_rules(struct ll *L, const struct policy *p)
{
    int rc = 0;
    /* Read-write is everything but EXECUTE and device nodes: a root agent that may mknod a
     * block device in its workspace could open the raw disk beneath every rule. */
    uint64_t rw = L->fs & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                            LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_IOCTL_DEV);
    /* The machine's own credentials need a Landlock deny only where the file permissions
     * would let this process read them (as root); otherwise the expansion of /etc is cost
     * without benefit. */
    for (size_t i = 0; system_deny[i]; i++) {
        struct policy_path pp = {system_deny[i], system_deny[i], NULL, POLICY_ORIGIN_DEFAULT};
        /* AT_EACCESS: the effective uid decides, as it will for the agent's opens */
        if (faccessat(AT_FDCWD, system_deny[i], R_OK, AT_EACCESS) == 0)
            add_deny(L, &pp, 0);
    }

    for (size_t i = 0; i < p->sandbox.fs.deny.n; i++)
        add_deny(L, &p->sandbox.fs.deny.v[i], p->paths_resolved);
    deny_bind_mounts(L);
    unsigned *n = &L->r->fs_rules;
    for (size_t i = 0; rc == 0 && system_read[i]; i++)
        rc = grant(L, system_read[i], FS_READ, n);
    /* inside the /dev fence: these nodes, one rule each */
    for (size_t i = 0; rc == 0 && system_dev[i].path; i++)
        rc = add_rule_path(L, system_dev[i].path, system_dev[i].rights, n);
    if (rc == 0 && p->sandbox.net.mode == POLICY_NET_HOST)
        rc = grant(L, "/run/systemd/resolve", FS_READ, n); /* resolv.conf's target there */
    for (size_t i = 0; rc == 0 && i < p->sandbox.fs.read_only.n; i++)
        rc = grant(L, p->sandbox.fs.read_only.v[i].path, FS_READ, n);
    for (size_t i = 0; rc == 0 && i < p->sandbox.fs.read_write.n; i++)
        rc = grant(L, p->sandbox.fs.read_write.v[i].path, rw, n);
    return rc;
}

/* ---------------------------------------------------------------- exec */

static int inode_denied(const struct ll *L, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < L->n_denied_ino; i++)
        if (L->denied_ino[i].dev == dev && L->denied_ino[i].ino == ino)
            return 1;
    return 0;
}

static void deny_inode(struct ll *L, const struct stat *st)
{
    if (!S_ISREG(st->st_mode) || inode_denied(L, st->st_dev, st->st_ino))
        return;
    if (L->n_denied_ino >= MAX_DENIED_INODES) {
        L->overflow = 1;
        return;
    }
    L->denied_ino[L->n_denied_ino].dev = st->st_dev;
    L->denied_ino[L->n_denied_ino].ino = st->st_ino;
    L->n_denied_ino++;
}

static int name_matches(const struct policy_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (glob_match(l->v[i], name))
            return 1;
    return 0;
}

/* The search directories, resolved and without duplicates (/bin is /usr/bin here). */
static size_t search_dirs(const struct policy *p, char dirs[][PATH_MAXLEN], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < p->sandbox.exec.search.n && n < max; i++) {
        int fd = open(p->sandbox.exec.search.v[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            continue;
        int ok = fd_path(fd, dirs[n], PATH_MAXLEN) == 0;
        close(fd);
        for (size_t j = 0; ok && j < n; j++)
            if (strcmp(dirs[j], dirs[n]) == 0)
                ok = 0;
        if (ok)
            n++;
    }
    return n;
}

/*
 * A search directory's entries, read once: the denied names, the check for a program held
 * back and the per-file rules all walk this list. Each readdir pass of a large ext4 directory
 * rebuilds its hash tree in the kernel, and reading /usr/bin three times was an eighth of
 * the start of a policy that denies programs by name.
 */
struct dent {
    ino_t ino;
    unsigned char type;
    size_t name; /* offset in the names pool */
};

struct dir_ents {
    DIR *d; /* kept open: openat() works from its descriptor */
    struct stat st;
    struct dent *v;
    size_t n, cap;
    char *names;
    size_t used, names_cap;
};

static void dir_ents_free(struct dir_ents *e)
{
    if (e->d)
        closedir(e->d);
    free(e->v);
    free(e->names);
    memset(e, 0, sizeof *e);
}

/* Returns 0, -1 when dir cannot be read (nothing to grant), or SANDBOX_ERR_NOMEM. */
static int dir_ents_read(struct ll *L, const char *dir, struct dir_ents *e)
{
    memset(e, 0, sizeof *e);
    e->d = opendir(dir);
    if (!e->d)
        return -1;
    if (fstat(dirfd(e->d), &e->st) != 0) {
        dir_ents_free(e);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(e->d))) {
        size_t nl = strlen(de->d_name) + 1;
        if (GROW(&e->v, &e->cap, e->n + 1) != 0 ||
            GROW(&e->names, &e->names_cap, e->used + nl) != 0) {
            snprintf(L->err, L->errlen, "landlock: out of memory reading %s", dir);
            dir_ents_free(e);
            return SANDBOX_ERR_NOMEM;
        }
        memcpy(e->names + e->used, de->d_name, nl);
        e->v[e->n++] = (struct dent){.ino = de->d_ino, .type = de->d_type, .name = e->used};
        e->used += nl;
    }
    return 0;
}

/* One search directory: a single rule when nothing in it is held back, else one a file. */
static int exec_dir(struct ll *L, const char *dir, const struct dir_ents *e, const struct policy *p,
                    int allowlist)
{
    int rc = 0;
    /* Denylist mode with no denied program: nothing can be held back, so the directory is
     * not read at all (reading /usr/bin was most of the time a root spent on exec rules). */
    if (!allowlist && L->n_denied_ino == 0)
        return grant(L, dir, FS_EXEC, &L->r->exec_rules); /* around any fs deny */
    if (!e->d)
        return 0;
    int held_back = allowlist;
    for (size_t i = 0; i < e->n && !held_back; i++)
        if (e->v[i].type != DT_LNK && e->v[i].type != DT_DIR &&
            inode_denied(L, e->st.st_dev, e->v[i].ino))
            held_back = 1;
    if (!held_back)
        return grant(L, dir, FS_EXEC, &L->r->exec_rules); /* around any fs deny */
    for (size_t i = 0; rc == 0 && i < e->n; i++) {
        const struct dent *de = &e->v[i];
        const char *name = e->names + de->name;
        /* follow no symlink: X11 -> . would grant the whole directory again; a link to a
         * program works through the rule on its target */
        if (de->type == DT_LNK || de->type == DT_DIR || name[0] == '.')
            continue;
        if (allowlist && !name_matches(&p->sandbox.exec.allow_names, name))
            continue;
        /* getdents already gives type and inode: no stat per program */
        if (de->type == DT_REG && inode_denied(L, e->st.st_dev, de->ino))
            continue;
        char child[PATH_MAXLEN];
        if ((size_t)snprintf(child, sizeof child, "%s/%s", dir, name) >= sizeof child ||
            is_denied(L, child))
            continue;
        int fd = openat(dirfd(e->d), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        if (de->type == DT_REG ||
            (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !inode_denied(L, st.st_dev, st.st_ino)))
            rc = add_rule_fd(L, fd, FS_EXEC, 0, &L->r->exec_rules);
        run_push(&L->run, fd);
    }
    run_flush(&L->run);
    return rc;
}

static int exec_rules(struct ll *L, const struct policy *p)
{
    static char dirs[16][PATH_MAXLEN];
    static struct dir_ents ents[16];
    size_t nd = search_dirs(p, dirs, 16);
    int rc = 0;
    int allowlist =
        !(p->sandbox.exec.allow_names.n == 1 && strcmp(p->sandbox.exec.allow_names.v[0], "*") == 0);
    /* the directories are read only when a name decides something */
    int read_dirs = allowlist || p->sandbox.exec.deny_names.n || p->sandbox.exec.deny_paths.n;
    for (size_t i = 0; i < nd; i++) {
        memset(&ents[i], 0, sizeof ents[i]);
        if (read_dirs && (rc = dir_ents_read(L, dirs[i], &ents[i])) == SANDBOX_ERR_NOMEM)
            goto out;
        rc = 0;
    }

    /* The denied programs, by inode (a hard link is the same program) and by resolved path
     * (added to the deny list now that the file system grants are made, so that no exec
     * grant below reaches them: /usr/bin/clang is a link into /usr/lib, which gets EXECUTE
     * as a whole otherwise). A deny path that is a directory denies what lies beneath it. */
    for (size_t i = 0; i < nd && p->sandbox.exec.deny_names.n; i++) {
        const struct dir_ents *e = &ents[i];
        for (size_t k = 0; e->d && k < e->n; k++) {
            const char *name = e->names + e->v[k].name;
            struct stat st;
            char real[PATH_MAXLEN];
            if (!name_matches(&p->sandbox.exec.deny_names, name))
                continue;
            int fd = openat(dirfd(e->d), name, O_PATH | O_CLOEXEC);
            if (fd < 0)
                continue;
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                deny_inode(L, &st);
                if (fd_path(fd, real, sizeof real) == 0)
                    deny_path(L, real);
            }
            close(fd);
        }
    }
    for (size_t i = 0; i < p->sandbox.exec.deny_paths.n; i++) {
        const struct policy_path *dp = &p->sandbox.exec.deny_paths.v[i];
        struct stat st;
        if (stat(dp->path, &st) == 0)
            deny_inode(L, &st);
        deny_path(L, dp->real ? dp->real : dp->path);
    }
    for (size_t i = 0; rc == 0 && i < nd; i++)
        if (!is_denied(L, dirs[i]))
            rc = exec_dir(L, dirs[i], &ents[i], p, allowlist);
    /* Helper programs under the library directories run only in denylist mode; an allowlist
     * names what runs, and the ELF interpreter is all the kernel itself needs. */
    for (size_t i = 0; rc == 0 && !allowlist && policy_exec_system_dirs[i]; i++)
        rc = grant(L, policy_exec_system_dirs[i], FS_EXEC, &L->r->exec_rules);
    for (size_t i = 0; rc == 0 && loaders[i]; i++)
        rc = add_rule_path(L, loaders[i], FS_EXEC, &L->r->exec_rules);
    /* an allowed tree (a pyenv, an nvm) must also be listable: interpreters read their
     * library directories */
    for (size_t i = 0; rc == 0 && i < p->sandbox.exec.allow_paths.n; i++)
        rc = grant(L, p->sandbox.exec.allow_paths.v[i].path, FS_EXEC | LANDLOCK_ACCESS_FS_READ_DIR,
                   &L->r->exec_rules);
    if (rc == 0 && L->overflow) {
        snprintf(L->err, L->errlen,
                 "landlock: more than %d denied paths or %d denied "
                 "programs; deny a directory instead of its entries",
                 MAX_DENY, MAX_DENIED_INODES);
        rc = SANDBOX_ERR_UNSUPPORTED;
    }
out:
    for (size_t i = 0; i < nd; i++)
        dir_ents_free(&ents[i]);
    return rc;
}

/* ---------------------------------------------------------------- apply */

/*
 * The domain's first logged denial makes the kernel name its creator (an audit record of type
 * 1424, "status=allocated ... pid=P"); there is no other way to learn a domain's id. So the
 * new domain is refused once on purpose, at once: a character device, which no rule ever
 * grants, named after this process, in the first directory where the kernel gets as far as
 * asking Landlock (a read-only mount answers EROFS before that). Returns 1 when Landlock
 * refused it (EACCES), 0 otherwise. Nothing is created: were it allowed, CAP_MKNOD (dropped)
 * would still refuse it.
 */
static int mark_domain(void)
{
    static const char *const dirs[] = {"/tmp", "/dev/shm", "/var/tmp", "/"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s/.cordon-domain-%ld", strcmp(dirs[i], "/") ? dirs[i] : "",
                 (long)getpid());
        if (mknodat(AT_FDCWD, path, S_IFCHR | 0600, makedev(1, 3)) == 0) {
            (void)unlinkat(AT_FDCWD, path, 0);
            return 0;
        }
        if (errno == EACCES)
            return 1;
    }
    return 0;
}

int sandbox_landlock_apply(const struct policy *p, const struct sandbox_opts *o, int abi,
                           struct sandbox_report *r, char *err, size_t errlen)
{
    int rc = SANDBOX_ERR_NOMEM;
    struct ll *L = calloc(1, sizeof *L);
    if (!L) {
        snprintf(err, errlen, "landlock: out of memory");
        return rc;
    }
    L->ruleset = -1;
    L->run.first = L->run.last = -1;
    L->r = r;
    L->err = err;
    L->errlen = errlen;
    L->fs = sandbox_landlock_fs_rights(abi);

    struct ll_ruleset_attr attr = {.handled_access_fs = L->fs};
    size_t attr_size = sizeof attr.handled_access_fs;
    if (abi >= 4 && p->sandbox.net.mode != POLICY_NET_HOST)
        attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
    if (abi >= 4)
        attr_size = offsetof(struct ll_ruleset_attr, scoped);
    if (abi >= 6) {
        if (p->sandbox.ipc.signals == POLICY_SCOPE_SCOPED)
            attr.scoped |= LANDLOCK_SCOPE_SIGNAL;
        if (p->sandbox.ipc.abstract_unix == POLICY_SCOPE_SCOPED)
            attr.scoped |= LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        attr_size = sizeof attr;
    }
    r->fs_handled = attr.handled_access_fs;
    r->net_handled = attr.handled_access_net;
    r->scoped = attr.scoped;

    L->ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (L->ruleset < 0) {
        snprintf(err, errlen, "landlock: cannot create a ruleset at ABI %d: %s", abi,
                 strerror(errno));
        rc = SANDBOX_ERR_SYSCALL;
        goto out;
    }

    double t = sandbox_report_clock_us();
    if ((rc = fs_rules(L, p)) != 0)
        goto out;
    /* Files the caller needs every process to read (libcordon.so outside the system paths). */
    for (size_t i = 0; i < o->n_read_files; i++)
        if ((rc = add_rule_path(L, o->read_files[i], LANDLOCK_ACCESS_FS_READ_FILE, &r->fs_rules)) !=
            0)
            goto out;
    if (L->overflow) {
        snprintf(err, errlen,
                 "landlock: more than %d denied paths; deny a directory instead of "
                 "its entries",
                 MAX_DENY);
        rc = SANDBOX_ERR_UNSUPPORTED;
        goto out;
    }
    r->timing.fs_us = sandbox_report_clock_us() - t;

    t = sandbox_report_clock_us();
    if ((rc = exec_rules(L, p)) != 0)
        goto out;
    r->timing.exec_us = sandbox_report_clock_us() - t;

    t = sandbox_report_clock_us();
    /* Mode proxy: cordond's ports (the API and the tunnel). Mode none: the API port alone,
     * so that the agent reaches cordond's model proxy and nothing else. */
    const uint16_t *ports = o->proxy_ports;
    size_t n_ports = o->n_proxy_ports;
    if (p->sandbox.net.mode == POLICY_NET_NONE) {
        ports = &o->api_port;
        n_ports = o->api_port != 0;
    }
    for (size_t i = 0; attr.handled_access_net && i < n_ports; i++) {
        struct ll_net_port_attr na = {LANDLOCK_ACCESS_NET_CONNECT_TCP, ports[i]};
        if (syscall(SYS_landlock_add_rule, L->ruleset, LL_RULE_NET_PORT, &na, 0) != 0) {
            snprintf(err, errlen, "landlock: cannot allow TCP port %u: %s", ports[i],
                     strerror(errno));
            rc = SANDBOX_ERR_SYSCALL;
            goto out;
        }
        r->net_rules++;
    }
    r->timing.net_us = sandbox_report_clock_us() - t;

    t = sandbox_report_clock_us();
    if (!o->dry_run) {
        /* ABI 7: the kernel logs the denials of the programs the tree executes too, not
         * only those of this one (kaudit.h attributes them to the session). */
        unsigned flags = abi >= 7 ? LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON : 0;
        if (syscall(SYS_landlock_restrict_self, L->ruleset, flags) != 0) {
            snprintf(err, errlen,
                     "landlock: cannot restrict this process: %s (no_new_privs "
                     "must be set first)",
                     strerror(errno));
            rc = SANDBOX_ERR_SYSCALL;
            goto out;
        }
        r->landlock_applied = 1;
        r->landlock_log_flags = flags;
        if (abi >= 7)
            r->landlock_marked = mark_domain();
    }
    r->timing.restrict_us = sandbox_report_clock_us() - t;
    rc = 0;
out:
    if (L->ruleset >= 0)
        close(L->ruleset);
    for (size_t i = 0; i < L->n_deny; i++)
        free(L->deny[i]);
    free(L);
    return rc;
}
