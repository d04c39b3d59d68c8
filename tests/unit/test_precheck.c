/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pre-start check of `cordon run` and `cordon exec` (tools/precheck.c): the program execvp
 * would pick is found as execvp finds it, and a program the sandbox will refuse is named with
 * the reason and the policy line that allows it, for a pyenv shim under HOME above all.
 * Programs are planted in a temporary HOME; nothing reads the real one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "shim/decide.h"
#include "tests/unit/support.h"
#include "tools/precheck.h"

static char root[256], home[300], ws[300];

static void plant(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, mode), 0);
}

static void mkdirs(const char *rel)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static void at(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "%s/%s", root, rel);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/cordon-precheck.XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    char r[PATH_MAX];
    cr_assert_not_null(realpath(root, r));
    cr_assert_lt(strlen(r), sizeof root);
    memcpy(root, r, strlen(r) + 1);
    snprintf(home, sizeof home, "%s/home", root);
    snprintf(ws, sizeof ws, "%s/ws", root);
    mkdirs("home/.pyenv/shims");
    mkdirs("home/.pyenv/versions/3.12/bin");
    mkdirs("home/.ssh");
    mkdirs("home/bin");
    mkdirs("ws/bin");
    mkdirs("notexec");
    char p[PATH_MAX + 64];
    at(p, sizeof p, "home/.pyenv/shims/python3");
    plant(p, "#!/usr/bin/env bash\nexec python3 \"$@\"\n", 0755);
    at(p, sizeof p, "home/.pyenv/versions/3.12/bin/python");
    plant(p, "#!/bin/sh\nexit 0\n", 0755);
    at(p, sizeof p, "home/.ssh/tool");
    plant(p, "#!/bin/sh\n", 0755);
    at(p, sizeof p, "home/bin/mytool");
    plant(p, "#!/bin/sh\n", 0755);
    at(p, sizeof p, "notexec/python3");
    plant(p, "#!/bin/sh\n", 0644);
    cr_assert_eq(chdir(ws), 0);
}

static void teardown(void)
{
    cr_assert_eq(chdir("/"), 0);
    remove_tree(root);
}

TestSuite(precheck, .init = setup, .fini = teardown);

static struct policy *load(const char *body)
{
    char doc[4096];
    snprintf(doc, sizeof doc, "{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {%s}}", body);
    struct policy_env env = {.vars = {.home = home, .cwd = ws, .workspace = ws, .tmp = "/tmp"},
                             .resolve_symlinks = 1};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    int rc = policy_load(doc, strlen(doc), &env, &p, &d);
    cr_assert_eq(rc, 0, "policy %s did not load", doc);
    return p;
}

static char msg[2048];

/* The PATH of a developer whose pyenv comes first. */
static const char *dev_path(void)
{
    static char pth[PATH_MAX * 2];
    snprintf(pth, sizeof pth, "%s/notexec:%s/.pyenv/shims:/usr/bin:/bin", root, home);
    return pth;
}

Test(precheck, resolve_follows_path_like_execvp)
{
    char out[PATH_MAX], want[PATH_MAX + 64];
    /* the first entry holds a python3 without execute permission: skipped, as execvp does */
    cr_assert_eq(precheck_resolve("python3", dev_path(), out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/.pyenv/shims/python3", home);
    cr_assert_str_eq(out, want);
    /* a directory of the command's name is not a program */
    mkdirs("d/sh");
    char pth[PATH_MAX * 2];
    snprintf(pth, sizeof pth, "%s/d:/usr/bin", root);
    cr_assert_eq(precheck_resolve("sh", pth, out, sizeof out), 0);
    cr_assert_str_eq(out, "/usr/bin/sh");
    /* a path is taken as given, made absolute against the current directory */
    cr_assert_eq(precheck_resolve("bin/../bin/x", "/usr/bin", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/bin/x", ws);
    cr_assert_str_eq(out, want);
    /* an empty PATH entry is the current directory */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/here-only", ws);
    plant(p, "#!/bin/sh\n", 0755);
    cr_assert_eq(precheck_resolve("here-only", "/usr/bin::/bin", out, sizeof out), 0);
    cr_assert_str_eq(out, p);
    /* no PATH: glibc's default */
    cr_assert_eq(precheck_resolve("sh", NULL, out, sizeof out), 0);
    cr_assert_str_eq(out, "/bin/sh");
    cr_assert_eq(precheck_resolve("no-such-program-here", "/usr/bin", out, sizeof out), -ENOENT);
    cr_assert_eq(precheck_resolve("", "/usr/bin", out, sizeof out), -ENOENT);
}

Test(precheck, pyenv_shim_is_refused_without_the_preset_and_names_it)
{
    struct policy *p = load("");
    cr_assert_eq(precheck_judge(p, "python3", dev_path(), home, msg, sizeof msg), 1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "python3 is %s/.pyenv/shims/python3, which this policy", home);
    cr_assert(strstr(msg, want), "got: %s", msg);
    cr_assert(strstr(msg, "no exec rule reaches it"), "got: %s", msg);
    cr_assert(strstr(msg, "add \"home-toolchains\" to sandbox.presets"), "got: %s", msg);
    cr_assert(strstr(msg, "beneath ~/.pyenv), or add \"~/.pyenv\" to sandbox.exec.allow"),
              "got: %s", msg);
    /* execvp goes on down PATH after EACCES: the program that runs instead is named */
    cr_assert(strstr(msg, "; /usr/bin/python3, next on PATH, runs in its place;"), "got: %s", msg);
    policy_free(p);
}

Test(precheck, decide_exec_reach_gives_the_reason)
{
    struct policy *p = load("\"exec\": {\"deny\": [\"dd\"], \"allow\": [\"*\", \"~/bin\"]}");
    char rule[256], f[PATH_MAX + 64], r[PATH_MAX + 64];
    cr_assert_eq(decide_exec_reach(p, "/usr/bin/sh", NULL, rule, sizeof rule), 0);
    cr_assert_eq(decide_exec_reach(p, "/usr/lib/git-core/git-add", NULL, rule, sizeof rule), 0);
    cr_assert_eq(decide_exec_reach(p, "/usr/bin/dd", NULL, rule, sizeof rule), DECIDE_EXEC_RULE);
    cr_assert_str_eq(rule, "sandbox.exec.deny \"dd\"");
    snprintf(f, sizeof f, "%s/bin/mytool", home);
    cr_assert_eq(decide_exec_reach(p, f, NULL, rule, sizeof rule), 0);
    snprintf(f, sizeof f, "%s/.ssh/tool", home);
    cr_assert_eq(decide_exec_reach(p, f, NULL, rule, sizeof rule), DECIDE_EXEC_FS_DENY);
    cr_assert_str_eq(rule, "sandbox.filesystem.deny \"~/.ssh\"");
    /* the kernel judges the file a link points at: a link in /usr/bin to HOME is not reached */
    snprintf(f, sizeof f, "%s/.pyenv/shims/python3", home);
    cr_assert_eq(decide_exec_reach(p, "/usr/bin/python3", f, rule, sizeof rule),
                 DECIDE_EXEC_UNREACHED);
    cr_assert(strstr(rule, "no exec rule reaches it"));
    snprintf(r, sizeof r, "%s/bin/x", ws);
    cr_assert_eq(decide_exec_reach(p, r, NULL, rule, 0), DECIDE_EXEC_UNREACHED);
    policy_free(p);
    /* an allowlist makes the library directories unreachable too */
    p = load("\"exec\": {\"allow\": [\"git\"]}");
    cr_assert_eq(decide_exec_reach(p, "/usr/lib/git-core/git-add", NULL, rule, sizeof rule),
                 DECIDE_EXEC_RULE);
    policy_free(p);
}

Test(precheck, pyenv_shim_runs_with_the_preset)
{
    struct policy *p = load("\"presets\": [\"home-toolchains\"]");
    cr_assert_eq(precheck_judge(p, "python3", dev_path(), home, msg, sizeof msg), 0, "got: %s",
                 msg);
    cr_assert_str_eq(msg, "");
    policy_free(p);
}

Test(precheck, system_programs_run_under_the_default_policy)
{
    struct policy *p = load("");
    cr_assert_eq(precheck_judge(p, "sh", "/usr/bin:/bin", home, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(precheck_judge(p, "/bin/sh", NULL, home, msg, sizeof msg), 0, "%s", msg);
    /* not found: the start itself says so (127), no guess here */
    cr_assert_eq(precheck_judge(p, "no-such-program-here", "/usr/bin", home, msg, sizeof msg), 0);
    policy_free(p);
}

Test(precheck, exec_deny_names_the_rule)
{
    struct policy *p = load("\"exec\": {\"deny\": [\"sh\"]}");
    cr_assert_eq(precheck_judge(p, "/usr/bin/sh", "/usr/bin", home, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "sandbox.exec.deny \"sh\""), "got: %s", msg);
    cr_assert(strstr(msg, "remove that entry from sandbox.exec.deny"), "got: %s", msg);
    policy_free(p);
}

Test(precheck, allowlist_names_the_missing_allow_entry)
{
    struct policy *p = load("\"exec\": {\"allow\": [\"git\"]}");
    cr_assert_eq(precheck_judge(p, "sh", "/usr/bin", home, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "not in sandbox.exec.allow"), "got: %s", msg);
    cr_assert(strstr(msg, "to sandbox.exec.allow"), "got: %s", msg);
    policy_free(p);
}

Test(precheck, a_program_elsewhere_under_home_suggests_an_allow_path)
{
    struct policy *p = load("\"presets\": [\"home-toolchains\"]");
    char pth[PATH_MAX + 16], want[PATH_MAX + 64];
    snprintf(pth, sizeof pth, "%s/bin", home);
    cr_assert_eq(precheck_judge(p, "mytool", pth, home, msg, sizeof msg), 1);
    snprintf(want, sizeof want, "add \"%s/bin\" (its directory)", home);
    cr_assert(strstr(msg, want), "got: %s", msg);
    cr_assert_null(strstr(msg, "home-toolchains"), "got: %s", msg);
    policy_free(p);
}

Test(precheck, a_program_in_a_denied_directory_names_the_deny)
{
    struct policy *p = load("\"exec\": {\"allow\": [\"*\", \"~/.ssh\"]}");
    char pth[PATH_MAX + 16];
    snprintf(pth, sizeof pth, "%s/.ssh", home);
    cr_assert_eq(precheck_judge(p, "tool", pth, home, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "sandbox.filesystem.deny \"~/.ssh\""), "got: %s", msg);
    cr_assert(strstr(msg, "deny_credentials"), "got: %s", msg);
    policy_free(p);
}

Test(precheck, a_script_whose_interpreter_is_refused)
{
    char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
    snprintf(p1, sizeof p1, "%s/bin/run-direct", ws);
    snprintf(p2, sizeof p2, "#!%s/.pyenv/versions/3.12/bin/python -u\nprint(1)\n", home);
    plant(p1, p2, 0755);
    snprintf(p1, sizeof p1, "%s/bin/run-env", ws);
    plant(p1, "#!/usr/bin/env python3\nprint(1)\n", 0755);
    struct policy *p = load("\"exec\": {\"allow\": [\"*\", \"${workspace}/bin\"]}");
    cr_assert_eq(precheck_judge(p, "./bin/run-direct", dev_path(), home, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "a script whose interpreter"), "got: %s", msg);
    cr_assert(strstr(msg, "/.pyenv/versions/3.12/bin/python this policy"), "got: %s", msg);
    /* "#!/usr/bin/env python3": env is allowed, the python3 PATH gives it is not */
    cr_assert_eq(precheck_judge(p, "./bin/run-env", dev_path(), home, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "/.pyenv/shims/python3 this policy"), "got: %s", msg);
    cr_assert(strstr(msg, "home-toolchains"), "got: %s", msg);
    /* and with the system's python3 first it runs */
    cr_assert_eq(precheck_judge(p, "./bin/run-env", "/usr/bin:/bin", home, msg, sizeof msg), 0,
                 "%s", msg);
    policy_free(p);
}

Test(precheck, hostile_commands_and_files)
{
    struct policy *p = load("\"exec\": {\"allow\": [\"*\", \"${workspace}/bin\"]}");
    static char big[PATH_MAX * 3];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(precheck_judge(p, big, "/usr/bin", home, msg, sizeof msg), 0);
    cr_assert_eq(precheck_judge(p, "sh", big, home, msg, sizeof msg), 0);
    big[10] = '/';
    cr_assert_eq(precheck_judge(p, big, "/usr/bin", home, msg, sizeof msg), 0);
    char f[PATH_MAX + 64];
    const char *bodies[] = {
        "#!",                             /* no interpreter, no newline */
        "#!\n",                           /* empty */
        "#!relative/interp\n",            /* not absolute: nothing to judge */
        "#!/nonexistent/interp\n",        /* the start reports it */
        "#!/usr/bin/env\n",               /* env with nothing */
        "#!/usr/bin/env -S python3 -u\n", /* env options */
        "#!/usr/bin/env A=1\n",           /* an assignment */
        "\x7f"
        "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", /* a binary */
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        snprintf(f, sizeof f, "%s/bin/odd%zu", ws, i);
        plant(f, bodies[i], 0755);
        cr_assert_eq(precheck_judge(p, f, "/usr/bin", home, msg, sizeof msg), 0, "%zu: %s", i, msg);
    }
    /* a "#!" line longer than one read: nothing reliable to judge */
    static char longline[600];
    memset(longline, 'x', sizeof longline - 1);
    memcpy(longline, "#!/", 3);
    snprintf(f, sizeof f, "%s/bin/long", ws);
    plant(f, longline, 0755);
    cr_assert_eq(precheck_judge(p, f, "/usr/bin", home, msg, sizeof msg), 0);
    /* a tiny message buffer stays terminated */
    char tiny[8];
    struct policy *q = load("");
    cr_assert_eq(precheck_judge(q, "python3", dev_path(), home, tiny, sizeof tiny), 1);
    cr_assert_lt(strlen(tiny), sizeof tiny);
    policy_free(q);
    policy_free(p);
}

Test(precheck, warn_prints_one_line_with_the_command)
{
    struct policy *p = load("");
    char pth[PATH_MAX * 2 + 8];
    snprintf(pth, sizeof pth, "%s", dev_path());
    setenv("PATH", pth, 1);
    setenv("HOME", home, 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(precheck_warn(p, "exec", "python3", f), 1);
    fclose(f);
    cr_assert(strncmp(buf, "cordon exec: warning: python3 is ", 33) == 0, "got: %s", buf);
    cr_assert_eq(strchr(buf, '\n'), buf + len - 1, "one line: %s", buf);
    free(buf);
    policy_free(p);
}
