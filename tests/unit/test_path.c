/* SPDX-License-Identifier: Apache-2.0 */
/* Path expansion and normalization: what a policy path turns into, and what is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"

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

/* ------------------------------------------------------------------ path_canonical */

static char canon_dir[256];

static void canon_setup(void)
{
    char tmpl[] = "/tmp/cordon-canon-XXXXXX", real[PATH_MAX];
    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_not_null(realpath(tmpl, real));
    cr_assert_lt(strlen(real), sizeof canon_dir);
    memcpy(canon_dir, real, strlen(real) + 1);
}

static void canon_teardown(void)
{
    char cmd[sizeof canon_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", canon_dir);
    cr_assert_eq(system(cmd), 0);
}

/* canon_dir + "/" + rel, into a static buffer (one at a time) */
static const char *at(const char *rel)
{
    static char buf[4][PATH_MAXLEN];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s%s", canon_dir, *rel ? "/" : "", rel);
    return buf[k];
}

static void canon_is(const char *in, const char *want)
{
    char out[PATH_MAXLEN];
    int rc = path_canonical(in, out);
    cr_assert_eq(rc, 0, "%s: rc %d (%s)", in, rc, strerror(-rc));
    cr_assert_str_eq(out, want, "%s became %s, want %s", in, out, want);
}

TestSuite(canonical, .init = canon_setup, .fini = canon_teardown);

Test(canonical, folds_slashes_dots_and_dotdot_in_what_does_not_exist)
{
    cr_assert_eq(mkdir(at("d"), 0700), 0);
    char in[PATH_MAXLEN];
    snprintf(in, sizeof in, "/%s//d/./new//deeper/../x/.", canon_dir);
    canon_is(in, at("d/new/x"));
    canon_is("//", "/");
    canon_is("/./", "/");
    canon_is("/..", "/");
    canon_is("/../../etc", "/etc");
    /* the textual check of item 5: "//tmp/x" must become what "/tmp/x" is */
    snprintf(in, sizeof in, "/%s/d", canon_dir);
    canon_is(in, at("d"));
}

Test(canonical, follows_symlink_chains_relative_and_absolute)
{
    cr_assert_eq(mkdir(at("real"), 0700), 0);
    cr_assert_eq(mkdir(at("real/sub"), 0700), 0);
    cr_assert_eq(symlink("real", at("c3")), 0); /* relative */
    cr_assert_eq(symlink("c3", at("c2")), 0);
    cr_assert_eq(symlink(at("c2"), at("c1")), 0); /* absolute */
    canon_is(at("c1"), at("real"));
    canon_is(at("c1/sub/new/audit"), at("real/sub/new/audit"));
    /* a link whose target climbs: sub/up -> ../.. */
    cr_assert_eq(symlink("../..", at("real/sub/up")), 0);
    canon_is(at("c1/sub/up/x"), at("x"));
}

Test(canonical, dotdot_after_a_symlink_is_the_target_parent)
{
    cr_assert_eq(mkdir(at("a"), 0700), 0);
    cr_assert_eq(mkdir(at("a/b"), 0700), 0);
    cr_assert_eq(symlink(at("a/b"), at("l")), 0);
    /* the kernel walks l to a/b, then ".." to a; a textual fold would give canon_dir */
    canon_is(at("l/../z"), at("a/z"));
}

Test(canonical, dotdot_back_into_existing_part_follows_links_again)
{
    cr_assert_eq(mkdir(at("ws"), 0700), 0);
    cr_assert_eq(mkdir(at("t"), 0700), 0);
    cr_assert_eq(symlink(at("ws"), at("t/alink")), 0);
    /* new does not exist; ".." climbs back to t, where alink is a symlink again */
    canon_is(at("t/new/../alink/audit"), at("ws/audit"));
}

Test(canonical, dangling_symlink_resolves_to_its_target)
{
    /* a planted ~/.local/state/cordon -> $WS/t with t not made yet */
    cr_assert_eq(mkdir(at("ws"), 0700), 0);
    cr_assert_eq(mkdir(at("state"), 0700), 0);
    cr_assert_eq(symlink(at("ws/t"), at("state/cordon")), 0);
    canon_is(at("state/cordon/audit"), at("ws/t/audit"));
}

Test(canonical, beneath_a_file_is_kept_by_name)
{
    cr_assert_eq(close(open(at("f"), O_CREAT | O_WRONLY, 0600)), 0);
    canon_is(at("f/x/../y"), at("f/y"));
}

Test(canonical, loops_are_refused)
{
    char out[PATH_MAXLEN];
    cr_assert_eq(symlink("l2", at("l1")), 0);
    cr_assert_eq(symlink("l1", at("l2")), 0);
    cr_assert_eq(path_canonical(at("l1/x"), out), -ELOOP);
    cr_assert_str_eq(out, "");
    cr_assert_eq(symlink("self", at("self")), 0);
    cr_assert_eq(path_canonical(at("self"), out), -ELOOP);
}

Test(canonical, relative_paths_start_at_the_current_directory)
{
    char old[PATH_MAXLEN];
    cr_assert_not_null(getcwd(old, sizeof old));
    cr_assert_eq(mkdir(at("rel"), 0700), 0);
    cr_assert_eq(chdir(at("rel")), 0);
    canon_is("x/../y", at("rel/y"));
    canon_is(".", at("rel"));
    canon_is("..", canon_dir);
    cr_assert_eq(chdir(old), 0);
}

Test(canonical, empty_and_too_long_are_refused)
{
    char out[PATH_MAXLEN];
    cr_assert_eq(path_canonical("", out), -EINVAL);
    cr_assert_eq(path_canonical(NULL, out), -EINVAL);
    char big[PATH_MAXLEN + 8];
    big[0] = '/';
    memset(big + 1, 'a', sizeof big - 2);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(path_canonical(big, out), -ENAMETOOLONG);
    /* short enough as written, too long once components are appended */
    char many[PATH_MAXLEN];
    size_t o = 0;
    while (o + 4 < sizeof many - 1) {
        memcpy(many + o, "/abc", 4);
        o += 4;
    }
    many[o] = '\0';
    cr_assert_eq(path_canonical(many, out), 0); /* 4092 bytes: fits */
    /* a symlink whose target makes the walk too long */
    char target[3000];
    target[0] = '/';
    memset(target + 1, 'b', sizeof target - 2);
    target[sizeof target - 1] = '\0';
    cr_assert_eq(symlink(target, at("longlink")), 0);
    char in[PATH_MAXLEN];
    int n = snprintf(in, sizeof in, "%s/longlink/", canon_dir);
    memset(in + n, 'c', sizeof in - 1 - (size_t)n);
    in[sizeof in - 1] = '\0';
    in[sizeof in - 2] = '\0'; /* 4094 bytes: fits as given */
    cr_assert_eq(path_canonical(in, out), -ENAMETOOLONG);
}

/* Act as nobody, without effective capabilities (an effective uid other than 0 clears them);
 * the saved ids stay 0 so that back_to_root() can return for the teardown. */
static void become_nobody(void)
{
    cr_assert_eq(setgroups(0, NULL), 0);
    cr_assert_eq(setresgid(65534, 65534, 0), 0);
    cr_assert_eq(setresuid(65534, 65534, 0), 0);
}

static void back_to_root(void)
{
    cr_assert_eq(setresuid(0, 0, 0), 0);
    cr_assert_eq(setresgid(0, 0, 0), 0);
}

Test(canonical, an_unreadable_prefix_is_an_error_not_a_guess)
{
    char out[PATH_MAXLEN];
    cr_assert_eq(mkdir(at("closed"), 0000), 0);
    int as_root = geteuid() == 0;
    if (as_root) { /* root sees through directory permissions: act as nobody */
        cr_assert_eq(chmod(canon_dir, 0755), 0);
        become_nobody();
    }
    cr_assert_eq(path_canonical(at("closed/x/y"), out), -EACCES);
    if (as_root)
        back_to_root();
    chmod(at("closed"), 0700);
}

/* Every code of the module lies outside errno's range (ENVELOPE_ERR_EXPIRED once equalled
 * -EINVAL), and path_strerror names each one apart, and an errno as strerror does. */
Test(path, codes_are_disjoint_from_errno_and_named)
{
    static const int codes[] = {PATH_ERR_SYNTAX,   PATH_ERR_VAR,    PATH_ERR_UNSET,
                                PATH_ERR_RELATIVE, PATH_ERR_DOTDOT, PATH_ERR_TOO_LONG};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(codes[i], 0);
        cr_assert(!err_is_errno(codes[i]), "code %d overlaps errno", codes[i]);
        cr_assert_str_neq(path_strerror(codes[i]), path_strerror(0));
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(path_strerror(codes[i]), path_strerror(codes[j]), "%d and %d",
                              codes[i], codes[j]);
    }
    cr_assert_str_eq(path_strerror(-ENOENT), strerror(ENOENT));
}

/* ------------------------------------------------------------------ path_exec_blocker */

/* A 0700 directory of root's on the way (a clone in /root): named, with its mode. */
Test(exec_blocker, names_the_directory_whose_mode_refuses_search, .init = canon_setup,
     .fini = canon_teardown)
{
    if (geteuid() != 0)
        cr_skip_test("n/a: making a directory of another user's needs root");
    cr_assert_eq(chmod(canon_dir, 0755), 0);
    cr_assert_eq(mkdir(at("home"), 0700), 0);
    cr_assert_eq(mkdir(at("home/x"), 0755), 0);
    int fd = open(at("home/x/prog"), O_CREAT | O_WRONLY, 0755);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(mkdir(at("open"), 0755), 0);
    fd = open(at("open/prog"), O_CREAT | O_WRONLY, 0755);
    cr_assert_geq(fd, 0);
    close(fd);
    fd = open(at("open/data"), O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    char why[512] = "", want[512];

    /* root itself, with its capabilities, passes through */
    cr_assert_eq(path_exec_blocker(at("home/x/prog"), why, sizeof why), 0, "%s", why);

    become_nobody();
    cr_assert_eq(path_exec_blocker(at("home/x/prog"), why, sizeof why), 1);
    snprintf(want, sizeof want,
             "%s is mode 0700 (owner uid 0, gid 0), which grants no search to "
             "uid 65534 gid 65534",
             at("home"));
    cr_assert_str_eq(why, want);
    /* the walk stops at the first refusal, and a trailing slash changes nothing */
    cr_assert_eq(path_exec_blocker(at("home/x/"), why, sizeof why), 1);
    cr_assert(strstr(why, "/home is mode 0700"), "%s", why);
    /* a program without an execute bit is the file's own refusal */
    cr_assert_eq(path_exec_blocker(at("open/data"), why, sizeof why), 1);
    cr_assert(strstr(why, "/open/data is mode 0644"), "%s", why);
    cr_assert(strstr(why, "grants no execute"), "%s", why);
    /* nothing on the way refuses: 0, and why untouched */
    why[0] = '\0';
    cr_assert_eq(path_exec_blocker(at("open/prog"), why, sizeof why), 0);
    cr_assert_eq(path_exec_blocker(at("open//prog"), why, sizeof why), 0);
    cr_assert_eq(path_exec_blocker(at("open/missing/prog"), why, sizeof why), 0);
    cr_assert_str_eq(why, "");
    /* relative: from the current directory */
    cr_assert_eq(chdir(canon_dir), 0);
    cr_assert_eq(path_exec_blocker("home/x/prog", why, sizeof why), 1);
    cr_assert(strstr(why, "/home is mode 0700"), "%s", why);
    /* a short buffer is cut, not overrun */
    char tiny[8];
    memset(tiny, 'z', sizeof tiny);
    cr_assert_eq(path_exec_blocker(at("home/x/prog"), tiny, sizeof tiny), 1);
    cr_assert_eq(tiny[sizeof tiny - 1], '\0');
    cr_assert_eq(chdir("/"), 0);
    back_to_root();
}

Test(exec_blocker, refuses_empty_and_oversized_paths)
{
    char why[64] = "", big[PATH_MAXLEN + 16];
    cr_assert_eq(path_exec_blocker("", why, sizeof why), -EINVAL);
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    cr_assert_eq(path_exec_blocker(big, why, sizeof why), -ENAMETOOLONG);
    big[PATH_MAXLEN - 1] = '\0'; /* exactly PATH_MAXLEN - 1 bytes: judged */
    cr_assert_geq(path_exec_blocker(big, why, sizeof why), 0);
    /* a relative path that the current directory makes too long */
    cr_assert_eq(chdir("/tmp"), 0);
    cr_assert_eq(path_exec_blocker(big + 1, why, sizeof why), -ENAMETOOLONG);
}

/* The files execvp tries, in order: an empty entry is the current directory, the default
 * path stands in for none, a candidate too long is skipped, and the end is -ENOENT. */
Test(path, search_candidates_in_order)
{
    char out[32];
    cr_assert_eq(path_search_nth("/a::/b/", "py", 0, out, sizeof out), 0);
    cr_assert_str_eq(out, "/a/py");
    cr_assert_eq(path_search_nth("/a::/b/", "py", 1, out, sizeof out), 0);
    cr_assert_str_eq(out, "./py");
    cr_assert_eq(path_search_nth("/a::/b/", "py", 2, out, sizeof out), 0);
    cr_assert_str_eq(out, "/b//py");
    cr_assert_eq(path_search_nth("/a::/b/", "py", 3, out, sizeof out), -ENOENT);
    cr_assert_eq(path_search_nth(NULL, "sh", 1, out, sizeof out), 0);
    cr_assert_str_eq(out, "/usr/bin/sh");
    cr_assert_eq(path_search_nth("", "sh", 2, out, sizeof out), -ENOENT);
    cr_assert_eq(path_search_nth("/a-very-long-directory-name-here:/c", "py", 0, out, sizeof out),
                 -ENAMETOOLONG);
    cr_assert_eq(path_search_nth("/a-very-long-directory-name-here:/c", "py", 1, out, sizeof out),
                 0);
    cr_assert_str_eq(out, "/c/py");
}
