/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the `cordon` subcommands. */
#include "tools/cli.h"

#include "base/grow.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    int rc = -1, fd = -1;
    char *b = NULL;
    size_t n = 0, cap = 0, alloc = 0;

    *buf = NULL;
    *len = 0;
    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
    } else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        fprintf(stderr, "cordon: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        fprintf(stderr, "cordon: cannot read %s: it is a directory; give a file\n", path);
        goto out;
    }
    for (;;) {
        if (n == cap) {
            /* doubling reads from 64 KiB, up to one byte past max: how a larger file shows */
            size_t want = cap ? cap * 2 : 65536;
            if (want > max + 1)
                want = max + 1;
            if ((rc = GROW(&b, &alloc, want + 1)) != 0) {
                fprintf(stderr, "cordon: cannot read %s: out of memory\n", path);
                goto out;
            }
            cap = want;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            fprintf(stderr, "cordon: cannot read %s: %s\n", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            rc = -EFBIG;
            fprintf(stderr, "cordon: %s is larger than %zu bytes, the most accepted here\n", path,
                    max);
            goto out;
        }
    }
    if (!b && !(b = malloc(1))) {
        rc = -ENOMEM;
        goto out;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL; /* transferred */
    rc = 0;
out:
    free(b);
    if (fd > STDIN_FILENO)
        close(fd);
    return rc;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cordon %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_print_diag(FILE *f, const char *label, const struct diag *d)
{
    char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
    for (size_t i = 0; i < d->count; i++) {
        diag_format(d, i, line, sizeof line);
        fprintf(f, "%s: %s\n", label, line);
    }
    if (d->dropped)
        fprintf(f, "%s: ... and %zu more errors not shown\n", label, d->dropped);
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cordon %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", cmd->usage);
    return CLI_USAGE;
}

int cli_wants_help(const struct cli_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(cmd->usage, stdout);
            return 1;
        }
    }
    return 0;
}

int cli_find_file(const char *env, const char *const rel[], size_t nrel, const char *installed,
                  int mode, char *out, size_t len)
{
    char buf[PATH_MAX];
    const char *v = env ? getenv(env) : NULL;
    if (v && *v)
        return realpath(v, buf) && access(buf, mode) == 0 &&
                       snprintf(out, len, "%s", buf) < (int)len
                   ? 0
                   : -ENOENT;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < nrel; i++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
            if (access(cand, mode) == 0 && realpath(cand, buf) &&
                snprintf(out, len, "%s", buf) < (int)len)
                return 0;
        }
    }
    if (installed && access(installed, mode) == 0 && snprintf(out, len, "%s", installed) < (int)len)
        return 0;
    return -ENOENT;
}
