/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Expansion and normalization of the paths a policy names. Pure string work except
 * path_resolve(), so the rules can be unit-tested without touching the file system.
 */
#include "base/path.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *var_value(const struct path_vars *v, const char *name, size_t n, int *known)
{
    static const struct {
        const char *name;
        size_t off;
    } vars[] = {
        {"home", offsetof(struct path_vars, home)},
        {"cwd", offsetof(struct path_vars, cwd)},
        {"workspace", offsetof(struct path_vars, workspace)},
        {"tmp", offsetof(struct path_vars, tmp)},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (strlen(vars[i].name) == n && memcmp(vars[i].name, name, n) == 0) {
            *known = 1;
            return *(const char *const *)((const char *)v + vars[i].off);
        }
    }
    *known = 0;
    return NULL;
}

static int append(char *out, size_t *o, const char *s, size_t n)
{
    if (*o + n >= PATH_MAXLEN)
        return PATH_ERR_TOO_LONG;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return PATH_OK;
}

int path_expand(const char *raw, const struct path_vars *v, char out[PATH_MAXLEN], char *why,
                size_t whylen)
{
    size_t o = 0;
    const char *p = raw;
    int rc;

    out[0] = '\0';
    if (p[0] == '~') {
        if (p[1] != '\0' && p[1] != '/') {
            snprintf(why, whylen, "\"~user\" is not supported; write the absolute path");
            return PATH_ERR_SYNTAX;
        }
        if (!v->home) {
            snprintf(why, whylen,
                     "\"~\" needs a home directory and none is known here; "
                     "set HOME");
            return PATH_ERR_UNSET;
        }
        if ((rc = append(out, &o, v->home, strlen(v->home))) != 0)
            goto too_long;
        p++;
    }
    while (*p) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                snprintf(why, whylen, "\"${\" without a closing \"}\"");
                return PATH_ERR_SYNTAX;
            }
            size_t n = (size_t)(end - (p + 2));
            if (n == 0) {
                snprintf(why, whylen, "empty variable name \"${}\"");
                return PATH_ERR_SYNTAX;
            }
            int known;
            const char *val = var_value(v, p + 2, n, &known);
            if (!known) {
                snprintf(why, whylen,
                         "unknown variable \"${%.*s}\"; known: ${home} ${cwd} ${workspace} "
                         "${tmp}",
                         (int)(n > 40 ? 40 : n), p + 2);
                return PATH_ERR_VAR;
            }
            if (!val) {
                snprintf(why, whylen, "variable \"${%.*s}\" has no value here", (int)n, p + 2);
                return PATH_ERR_UNSET;
            }
            if ((rc = append(out, &o, val, strlen(val))) != 0)
                goto too_long;
            p = end + 1;
            continue;
        }
        if ((rc = append(out, &o, p, 1)) != 0)
            goto too_long;
        p++;
    }
    rc = path_normalize(out);
    if (rc == PATH_ERR_RELATIVE)
        snprintf(why, whylen, "path must be absolute or start with ~ or a ${variable}");
    else if (rc == PATH_ERR_DOTDOT)
        snprintf(why, whylen, "path must not contain \"..\"; write the directory it means");
    return rc;

too_long:
    snprintf(why, whylen, "path is longer than %d bytes once expanded", PATH_MAXLEN - 1);
    return PATH_ERR_TOO_LONG;
}

int path_normalize(char *p)
{
    if (p[0] != '/')
        return PATH_ERR_RELATIVE;
    size_t r = 0, w = 0, len = strlen(p);
    while (r < len) {
        while (r < len && p[r] == '/')
            r++;
        size_t start = r;
        while (r < len && p[r] != '/')
            r++;
        size_t n = r - start;
        if (n == 0 || (n == 1 && p[start] == '.'))
            continue;
        if (n == 2 && p[start] == '.' && p[start + 1] == '.')
            return PATH_ERR_DOTDOT;
        p[w++] = '/';
        memmove(p + w, p + start, n);
        w += n;
    }
    if (w == 0)
        p[w++] = '/';
    p[w] = '\0';
    return PATH_OK;
}

int path_resolve(const char *p, char real[PATH_MAXLEN])
{
    /* One open(O_PATH) and one readlink of its /proc fd resolve the whole chain; realpath()
     * would readlink every component. Without /proc, fall back to realpath(). */
    int fd = open(p, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, PATH_MAXLEN - 1);
    int saved = errno;
    close(fd);
    if (n > 0 && real[0] == '/') {
        real[n] = '\0';
        return 0;
    }
    if (n < 0 && saved != ENOENT && saved != EACCES)
        return -saved;
    char tmp[PATH_MAX];
    if (!realpath(p, tmp))
        return -errno;
    if (strlen(tmp) >= PATH_MAXLEN)
        return -ENAMETOOLONG;
    memcpy(real, tmp, strlen(tmp) + 1);
    return 0;
}

#define CANON_MAX_LINKS 40 /* the kernel's own limit (MAXSYMLINKS) */

/* Drop the last component of the absolute path d (length *n); "/" stays "/". */
static void canon_pop(char *d, size_t *n)
{
    while (*n > 1 && d[*n - 1] != '/')
        (*n)--;
    if (*n > 1)
        (*n)--;
    d[*n] = '\0';
}

int path_canonical(const char *p, char out[PATH_MAXLEN])
{
    /* rest: what is still to walk, kept at the end of a buffer twice PATH_MAXLEN long so that
     * a symlink's target can be put in front of it without moving the whole */
    char rest[2 * PATH_MAXLEN], link[PATH_MAXLEN];
    size_t n = 1, links = 0, ghost = 0; /* ghost: trailing components that do not exist */
    int rc;

    out[0] = '\0';
    if (!p || !*p)
        return -EINVAL;
    size_t plen = strlen(p);
    if (plen >= PATH_MAXLEN)
        return -ENAMETOOLONG;
    char *r = rest + sizeof rest - plen - 1;
    memcpy(r, p, plen + 1);
    if (p[0] != '/') {
        char cwd[PATH_MAXLEN];
        if (!getcwd(cwd, sizeof cwd))
            return errno == ERANGE ? -ENAMETOOLONG : -errno;
        size_t cl = strlen(cwd);
        if (cl + 1 + plen >= PATH_MAXLEN)
            return -ENAMETOOLONG;
        r -= cl + 1;
        memcpy(r, cwd, cl);
        r[cl] = '/';
    }
    out[0] = '/';
    out[1] = '\0';
    while (*r) {
        while (*r == '/')
            r++;
        if (!*r)
            break;
        size_t cl = strcspn(r, "/");
        const char *c = r;
        r += cl;
        if (cl == 1 && c[0] == '.')
            continue;
        if (cl == 2 && c[0] == '.' && c[1] == '.') {
            /* the existing part has no symlink left, so its parent is the real parent */
            canon_pop(out, &n);
            if (ghost)
                ghost--;
            continue;
        }
        size_t need = n + (n > 1) + cl;
        if (need >= PATH_MAXLEN)
            return -ENAMETOOLONG;
        size_t before = n;
        if (n > 1)
            out[n++] = '/';
        memcpy(out + n, c, cl);
        n += cl;
        out[n] = '\0';
        if (ghost) { /* beneath a name that does not exist nothing can exist */
            ghost++;
            continue;
        }
        struct stat st;
        if (lstat(out, &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) {
                ghost = 1;
                continue;
            }
            rc = -errno;
            goto fail;
        }
        if (!S_ISLNK(st.st_mode))
            continue;
        if (++links > CANON_MAX_LINKS) {
            rc = -ELOOP;
            goto fail;
        }
        ssize_t ll = readlink(out, link, sizeof link - 1);
        if (ll < 0) {
            rc = -errno;
            goto fail;
        }
        if (ll == 0) {
            rc = -ENOENT;
            goto fail;
        }
        /* the target takes the link's place in front of what is left to walk */
        size_t left = strlen(r);
        if ((size_t)ll + 1 + left >= PATH_MAXLEN) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        r -= (size_t)ll + 1;
        memcpy(r, link, (size_t)ll);
        r[ll] = '/';
        n = before;
        out[n] = '\0';
        if (link[0] == '/') {
            n = 1;
            out[1] = '\0';
        }
    }
    return 0;
fail:
    out[0] = '\0';
    return rc;
}

int path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether st's mode bits grant bit (1: execute/search) to the effective ids. */
static int mode_grants(const struct stat *st, unsigned bit)
{
    unsigned m = (unsigned)st->st_mode;
    if (st->st_uid == geteuid())
        return (m >> 6) & bit;
    gid_t g[256];
    int n = getgroups(256, g);
    int member = st->st_gid == getegid();
    for (int i = 0; i < n && !member; i++)
        member = g[i] == st->st_gid;
    return member ? (m >> 3) & bit : m & bit;
}

/* The part p[0..n) (a directory on the way, or the program when last) refuses. */
static int blocker_at(char *p, size_t n, int last, char *why, size_t whylen)
{
    char c = p[n];
    p[n] = '\0';
    int rc = 0;
    struct stat st;
    if (faccessat(AT_FDCWD, p, X_OK, AT_EACCESS) != 0 && errno == EACCES && stat(p, &st) == 0) {
        const char *right = last && !S_ISDIR(st.st_mode) ? "execute" : "search";
        if (!mode_grants(&st, 1))
            snprintf(why, whylen,
                     "%s is mode %04o (owner uid %u, gid %u), which grants no %s to uid %u gid %u",
                     p, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
                     right, (unsigned)geteuid(), (unsigned)getegid());
        else
            snprintf(why, whylen,
                     "%s refuses %s to uid %u though its mode %04o grants it (a noexec mount, an "
                     "ACL or a security module)",
                     p, right, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777));
        rc = 1;
    }
    p[n] = c;
    return rc;
}

int path_exec_blocker(const char *path, char *why, size_t whylen)
{
    char p[PATH_MAXLEN];
    size_t n = strlen(path), o = 0;
    if (n == 0)
        return -EINVAL;
    if (path[0] != '/') {
        if (!getcwd(p, sizeof p))
            return -errno;
        o = strlen(p);
        if (o > 1)
            p[o++] = '/';
    }
    if (o + n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p + o, path, n + 1);
    n += o;
    /* The walk stops at the first part that refuses: the ones after it cannot even be seen. */
    if (blocker_at(p, 1, 0, why, whylen))
        return 1;
    for (size_t i = 1; i <= n; i++) {
        if ((p[i] != '/' && p[i] != '\0') || p[i - 1] == '/')
            continue;
        if (blocker_at(p, i, p[i] == '\0', why, whylen))
            return 1;
    }
    return 0;
}

int path_read_file(const char *path, size_t max, char **out, size_t *len, unsigned *mode)
{
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf = NULL;
    *out = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (mode)
        *mode = (unsigned)st.st_mode;
    rc = -EINVAL;
    if (!S_ISREG(st.st_mode))
        goto out;
    rc = -EFBIG;
    if (st.st_size > (off_t)max) {
        *len = (size_t)st.st_size;
        goto out;
    }
    rc = -ENOMEM;
    if (!(buf = malloc((size_t)st.st_size + 1)))
        goto out;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL; /* transferred */
    *len = got;
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

const char *path_strerror(int status)
{
    switch (status) {
    case PATH_OK:
        return "ok";
    case PATH_ERR_SYNTAX:
        return "malformed variable or \"~user\"";
    case PATH_ERR_VAR:
        return "unknown variable";
    case PATH_ERR_UNSET:
        return "variable has no value here";
    case PATH_ERR_RELATIVE:
        return "path is not absolute";
    case PATH_ERR_DOTDOT:
        return "path contains \"..\"";
    case PATH_ERR_TOO_LONG:
        return "path is too long";
    default:
        return err_is_errno(status) ? strerror(-status) : "unknown path error";
    }
}

int path_search_nth(const char *path, const char *cmd, size_t i, char *out, size_t len)
{
    if (!path || !*path)
        path = "/bin:/usr/bin";
    const char *d = path;
    for (; i > 0; i--) {
        d = strchr(d, ':');
        if (!d)
            return -ENOENT;
        d++;
    }
    const char *e = strchrnul(d, ':');
    int n = e == d ? snprintf(out, len, "./%s", cmd)
                   : snprintf(out, len, "%.*s/%s", (int)(e - d), d, cmd);
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}
