/* SPDX-License-Identifier: Apache-2.0 */
/* Path expansion and normalization: what a policy path turns into, and what is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/path.h"

static const struct path_vars vars = {"/home/u", "/src/repo", "/src/repo/ws", "/tmp"};

static void expands(const char *raw, const char *want)
{
    char out[PATH_MAXLEN], why[256] = "";
    int rc = path_expand(raw, &vars, out, why, sizeof why);
    cr_assert_eq(rc, PATH_OK, "%s: %s", raw, why);
    cr_assert_str_eq(out, want, "%s expanded to %s, want %s", raw, out, want);
}

static void refuses(const char *raw, int status, const char *why_part)
{
    char out[PATH_MAXLEN], why[256] = "";
    int rc = path_expand(raw, &vars, out, why, sizeof why);
    cr_assert_eq(rc, status, "%s: rc %d, want %d (%s)", raw, rc, status, why);
    cr_assert(strstr(why, why_part), "%s: reason '%s' lacks '%s'", raw, why, why_part);
}

Test(path, tilde_and_variables)
{
    expands("~", "/home/u");
    expands("~/.ssh", "/home/u/.ssh");
    expands("${home}/.aws/credentials", "/home/u/.aws/credentials");
    expands("${cwd}", "/src/repo");
    expands("${workspace}/out", "/src/repo/ws/out");
    expands("${tmp}", "/tmp");
    expands("/etc/hosts", "/etc/hosts");
    expands("${workspace}${tmp}", "/src/repo/ws/tmp"); /* concatenation is plain text */
}

Test(path, normalization)
{
    expands("//usr///bin/", "/usr/bin");
    expands("/./a/./b/.", "/a/b");
    expands("/", "/");
    expands("~/", "/home/u");
    expands("/a/.hidden/..x", "/a/.hidden/..x"); /* "..x" is a name, not a climb */
}

Test(path, refusals)
{
    refuses("relative/path", PATH_ERR_RELATIVE, "must be absolute");
    refuses("", PATH_ERR_RELATIVE, "must be absolute");
    refuses("/a/../b", PATH_ERR_DOTDOT, "must not contain \"..\"");
    refuses("${workspace}/..", PATH_ERR_DOTDOT, "\"..\"");
    refuses("~bob/x", PATH_ERR_SYNTAX, "~user");
    refuses("${nope}/x", PATH_ERR_VAR, "unknown variable \"${nope}\"");
    refuses("${}", PATH_ERR_SYNTAX, "empty variable name");
    refuses("${home", PATH_ERR_SYNTAX, "without a closing");
}

Test(path, unset_variable)
{
    struct path_vars none = {0};
    char out[PATH_MAXLEN], why[256];
    cr_assert_eq(path_expand("~/.ssh", &none, out, why, sizeof why), PATH_ERR_UNSET);
    cr_assert(strstr(why, "set HOME"));
    cr_assert_eq(path_expand("${workspace}", &none, out, why, sizeof why), PATH_ERR_UNSET);
}

Test(path, too_long)
{
    char raw[PATH_MAXLEN + 10];
    raw[0] = '/';
    memset(raw + 1, 'a', sizeof raw - 2);
    raw[sizeof raw - 1] = '\0';
    refuses(raw, PATH_ERR_TOO_LONG, "longer than");
    /* many expansions that together overflow */
    char many[5000] = "";
    for (int i = 0; i < 400; i++) /* 4800 bytes once expanded */
        strcat(many, "${workspace}");
    refuses(many, PATH_ERR_TOO_LONG, "longer than");
}

Test(path, within_respects_component_boundaries)
{
    cr_assert(path_within("/home/u/.ssh", "/home/u/.ssh"));
    cr_assert(path_within("/home/u/.ssh/id_rsa", "/home/u/.ssh"));
    cr_assert(!path_within("/home/u/.sshfoo", "/home/u/.ssh"));
    cr_assert(path_within("/anything", "/"));
    cr_assert(!path_within("/home", "/home/u"));
}

Test(path, resolve_follows_symlinks_and_reports_missing)
{
    char dir[] = "/tmp/cordon-path-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char target[256], link[256], real[PATH_MAXLEN];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert_eq(path_resolve(link, real), 0);
    cr_assert_str_eq(real, target);
    snprintf(link, sizeof link, "%s/missing", dir);
    cr_assert_eq(path_resolve(link, real), -ENOENT);
    unlink(link);
    snprintf(link, sizeof link, "%s/link", dir);
    unlink(link);
    rmdir(target);
    rmdir(dir);
}
