/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pre-start check (precheck.h). It asks the shim's own decision (shim/decide.h) about the
 * file execvp would pick, so the warning and the refusal inside the sandbox cannot disagree
 * on a rule; it only adds the words a person needs to change the policy.
 */
#include "tools/precheck.h"
#include "base/path.h"
#include "shim/decide.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int runnable(const char *f)
{
    struct stat st;
    return stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0;
}

/* The skip+1-th program of cmd's name on path that execvp could try (see precheck_resolve). */
static int resolve_nth(const char *cmd, const char *path, unsigned skip, char *out, size_t len)
{
    char cwd[PATH_MAXLEN], cand[PATH_MAXLEN];
    if (!cmd || !*cmd)
        return -ENOENT;
    if (!getcwd(cwd, sizeof cwd))
        return -errno;
    if (strchr(cmd, '/')) {
        if (skip)
            return -ENOENT;
        if (decide_abspath(cwd, cmd, out, len) != 0)
            return -ENAMETOOLONG;
        return 0;
    }
    for (size_t i = 0;; i++) {
        int rc = path_search_nth(path, cmd, i, cand, sizeof cand);
        if (rc == -ENOENT)
            return -ENOENT;
        if (rc == 0 && runnable(cand) && skip-- == 0)
            return decide_abspath(cwd, cand, out, len) == 0 ? 0 : -ENAMETOOLONG;
    }
}

int precheck_resolve(const char *cmd, const char *path, char *out, size_t len)
{
    return resolve_nth(cmd, path, 0, out, len);
}

/* The interpreter a "#!" line names, into interp; arg gets its first argument ("" if none).
 * 0 when file is such a script. */
static int shebang(const char *file, char *interp, size_t ilen, char *arg, size_t alen)
{
    char line[256];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n < 3 || line[0] != '#' || line[1] != '!')
        return -1;
    line[n] = '\0';
    char *s = line + 2, *nl = strchr(s, '\n');
    if (!nl)
        return -1; /* longer than the kernel reads: nothing reliable to judge */
    *nl = '\0';
    s += strspn(s, " \t");
    size_t w = strcspn(s, " \t");
    if (w == 0 || w >= ilen)
        return -1;
    memcpy(interp, s, w);
    interp[w] = '\0';
    s += w;
    s += strspn(s, " \t");
    w = strcspn(s, " \t");
    if (w >= alen)
        w = 0;
    memcpy(arg, s, w);
    arg[w] = '\0';
    return 0;
}

/* snprintf that may cut: a warning cut at the buffer's end is still a warning */
__attribute__((format(printf, 3, 4))) static void say(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

/* The policy line that would let file run, for the reason why. */
static void suggestion(const struct policy *p, int why, const char *rule, const char *file,
                       const char *home, char *out, size_t len)
{
    const char *dir = NULL;
    const struct policy_preset *pr = policy_preset_covering(home, file, &dir);
    int listed = 0;
    for (size_t i = 0; pr && i < p->sandbox.presets.n; i++)
        listed |= strcmp(p->sandbox.presets.v[i], pr->name) == 0;
    if (why == DECIDE_EXEC_RULE && strstr(rule, "sandbox.exec.deny")) {
        say(out, len, "remove that entry from sandbox.exec.deny");
        return;
    }
    if (why == DECIDE_EXEC_FS_DENY) {
        say(out, len,
            "move the program out of the denied directory, or remove the entry from "
            "sandbox.filesystem.deny (an entry of the credential deny set: set "
            "sandbox.filesystem.deny_credentials to false)");
        return;
    }
    char parent[PATH_MAXLEN];
    snprintf(parent, sizeof parent, "%s", file);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    /* the whole toolchain directory, not the program's: a pyenv shim runs the interpreter
     * of a version elsewhere beneath ~/.pyenv */
    if (pr && !listed)
        say(out, len,
            "add \"%s\" to sandbox.presets (it grants read and execute, never write, "
            "beneath %s), or add \"%s\" to sandbox.exec.allow",
            pr->name, dir, dir);
    else
        say(out, len,
            "add \"%s\" (its directory) or \"%s\" to sandbox.exec.allow: a path entry "
            "grants read and execute beneath it",
            parent, file);
}

/* Judge one file: 0 may run, else the reason with rule and hint filled. real (PATH_MAX
 * bytes) gets the file with its symlinks followed, or the file itself. */
static int judge_file(const struct policy *p, const char *file, const char *home, char *rule,
                      size_t rlen, char *hint, size_t hlen, char *real)
{
    const char *rp = realpath(file, real);
    if (!rp)
        snprintf(real, PATH_MAX, "%s", file);
    int why = decide_exec_reach(p, file, rp, rule, rlen);
    if (!why)
        return 0;
    suggestion(p, why, rule, real, home, hint, hlen);
    return why;
}

int precheck_judge(const struct policy *p, const char *cmd, const char *path, const char *home,
                   char *msg, size_t len)
{
    char file[PATH_MAXLEN], real[PATH_MAX], rule[512], hint[1024];
    if (len)
        msg[0] = '\0';
    if (precheck_resolve(cmd, path, file, sizeof file) != 0 || !runnable(file))
        return 0;
    if (judge_file(p, file, home, rule, sizeof rule, hint, sizeof hint, real)) {
        int link = strcmp(real, file) != 0;
        /* execvp goes on down PATH after EACCES: say which program runs in its place */
        char next[PATH_MAXLEN], nreal[PATH_MAX], nrule[512], nhint[1024], instead[PATH_MAXLEN + 64];
        instead[0] = '\0';
        for (unsigned k = 1; k < 64 && resolve_nth(cmd, path, k, next, sizeof next) == 0; k++)
            if (!judge_file(p, next, home, nrule, sizeof nrule, nhint, sizeof nhint, nreal)) {
                say(instead, sizeof instead, "; %s, next on PATH, runs in its place", next);
                break;
            }
        say(msg, len, "%s is %s%s%s, which this policy will not let run (%s)%s; to allow it, %s",
            cmd, file, link ? " -> " : "", link ? real : "", rule, instead, hint);
        return 1;
    }
    char interp[PATH_MAXLEN], arg[PATH_MAXLEN], ifile[PATH_MAXLEN];
    if (shebang(file, interp, sizeof interp, arg, sizeof arg) != 0 || interp[0] != '/')
        return 0;
    const char *which = interp;
    const char *base = strrchr(interp, '/') + 1;
    if (strcmp(base, "env") == 0 && arg[0] && arg[0] != '-' && !strchr(arg, '=')) {
        /* "#!/usr/bin/env python3": env runs what PATH names */
        if (precheck_resolve(arg, path, ifile, sizeof ifile) != 0 || !runnable(ifile))
            return 0;
        if (judge_file(p, interp, home, rule, sizeof rule, hint, sizeof hint, real) == 0)
            which = ifile;
    }
    if (!runnable(which))
        return 0;
    if (judge_file(p, which, home, rule, sizeof rule, hint, sizeof hint, real)) {
        say(msg, len,
            "%s is %s, a script whose interpreter %s this policy will not let run (%s); to "
            "allow it, %s",
            cmd, file, which, rule, hint);
        return 1;
    }
    return 0;
}

int precheck_warn(const struct policy *p, const char *who, const char *cmd, FILE *f)
{
    char msg[2048];
    int r = precheck_judge(p, cmd, getenv("PATH"), getenv("HOME"), msg, sizeof msg);
    if (r)
        fprintf(f, "cordon %s: warning: %s\n", who, msg);
    return r;
}
