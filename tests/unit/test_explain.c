/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The explanation shows what will be enforced: resolved symlinks, the credential set,
 * defaults with their origin, and the programs an exec rule hits (without following the
 * /usr/bin/X11 -> . style links that once re-allowed rm).
 */
#include <criterion/criterion.h>
#include "tests/unit/support.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/explain.h"

static char dir[64];
static char home[128], bin[128], real_ws[128], ws_link[128];

static void touch(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "cannot create %s", path);
    close(fd);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cordon-explain-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(bin, sizeof bin, "%s/bin", dir);
    snprintf(real_ws, sizeof real_ws, "%s/real-ws", dir);
    snprintf(ws_link, sizeof ws_link, "%s/ws", dir);
    mkdir(home, 0700);
    mkdir(bin, 0755);
    mkdir(real_ws, 0755);
    cr_assert_eq(symlink(real_ws, ws_link), 0);
    char p[256];
    snprintf(p, sizeof p, "%s/.ssh", home);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/rm", bin);
    touch(p, 0755);
    snprintf(p, sizeof p, "%s/rmdir", bin);
    touch(p, 0755);
    snprintf(p, sizeof p, "%s/python3", bin);
    touch(p, 0755);
    snprintf(p, sizeof p, "%s/X11", bin);
    cr_assert_eq(symlink(".", p), 0); /* as on Debian: /usr/bin/X11 -> . */
}

static void teardown(void)
{
    remove_tree(dir);
}

static struct policy *compile(void)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"cordon_policy\": 1, \"agent\": \"x\", \"sandbox\": {\"exec\": {\"deny\": "
             "[\"rm*\"], \"search\": [\"%s\"]}, \"network\": {\"allow\": "
             "[\"*.git.example.com:443\"]}}, \"api\": {\"data\": {\"secret.*\": \"block\"}}}",
             bin);
    struct policy_env env = {.vars = {home, dir, ws_link, "/tmp"}, .resolve_symlinks = 1};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    cr_assert_eq(policy_load(json, strlen(json), &env, &p, &d), 0);
    return p;
}

static char *capture_text(const struct policy *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(policy_explain_text(p, f), 0);
    fclose(f);
    return buf;
}

Test(explain, text_shows_resolution_and_origins, .init = setup, .fini = teardown)
{
    struct policy *p = compile();
    char *t = capture_text(p);
    char want[512];
    /* ${workspace} is a symlink: the rule names its target, and says so */
    snprintf(want, sizeof want, "${workspace}           %s  -> %s (symlink resolved)  [default]",
             ws_link, real_ws);
    cr_assert(strstr(t, want), "missing '%s' in:\n%s", want, t);
    snprintf(want, sizeof want, "~/.ssh                 %s/.ssh  [credentials]", home);
    cr_assert(strstr(t, want), "missing '%s' in:\n%s", want, t);
    snprintf(want, sizeof want,
             "~/.aws                 %s/.aws  (does not exist yet)  "
             "[credentials]",
             home);
    cr_assert(strstr(t, want), "missing '%s' in:\n%s", want, t);
    cr_assert(strstr(t, "any name under git.example.com, port 443"), "%s", t);
    cr_assert(strstr(t, "(covers secret.aws_access_key"), "%s", t);
    cr_assert(strstr(t, "models    none allowed"), "%s", t);
    free(t);
    policy_free(p);
}

static void count(const char *path, void *arg)
{
    (void)path;
    (*(int *)arg)++;
}

Test(explain, exec_matches_do_not_follow_directory_links, .init = setup, .fini = teardown)
{
    struct policy *p = compile();
    int n = 0;
    policy_exec_matches(p, "rm*", count, &n);
    cr_assert_eq(n, 2, "rm* should hit rm and rmdir once each, got %d", n);
    n = 0;
    policy_exec_matches(p, "*", count, &n);
    cr_assert_eq(n, 3, "X11 -> . must not count as a program, got %d", n);
    char *t = capture_text(p);
    /* The rm* line names both programs once, each by its path, and nothing else; readdir
     * decides their order. */
    char want[512], other[512];
    snprintf(want, sizeof want, "rm*                    %s/rm, %s/rmdir\n", bin, bin);
    snprintf(other, sizeof other, "rm*                    %s/rmdir, %s/rm\n", bin, bin);
    cr_assert(strstr(t, want) || strstr(t, other), "missing '%s' in:\n%s", want, t);
    free(t);
    policy_free(p);
}

Test(explain, json_has_the_compiled_form, .init = setup, .fini = teardown)
{
    struct policy *p = compile();
    cJSON *o = policy_explain_json(p);
    cr_assert_not_null(o);
    cJSON *rw = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sandbox"), "filesystem"), "read_write");
    cJSON *ws = cJSON_GetArrayItem(rw, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(ws, "as_written")->valuestring, "${workspace}");
    cr_assert_str_eq(cJSON_GetObjectItem(ws, "path")->valuestring, ws_link);
    cr_assert_str_eq(cJSON_GetObjectItem(ws, "resolved")->valuestring, real_ws);
    cr_assert_str_eq(cJSON_GetObjectItem(ws, "origin")->valuestring, "default");
    cJSON *deny = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sandbox"), "exec"), "deny_names");
    cJSON *progs = cJSON_GetObjectItem(cJSON_GetArrayItem(deny, 0), "programs");
    cr_assert_eq(cJSON_GetArraySize(progs), 2);
    cJSON *digest = cJSON_GetObjectItem(o, "digest");
    cr_assert_eq(strlen(digest->valuestring), 64);
    cJSON_Delete(o);
    policy_free(p);
}

Test(explain, write_failure_is_reported)
{
    struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
    struct policy *p = NULL;
    struct diag d;
    const char *j = "{\"cordon_policy\": 1, \"agent\": \"x\"}";
    diag_init(&d);
    cr_assert_eq(policy_load(j, strlen(j), &env, &p, &d), 0);
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    cr_assert_eq(policy_explain_text(p, f), -EIO);
    fclose(f);
    policy_free(p);
}

Test(explain, symlink_cannot_carry_a_grant_into_a_denied_directory, .init = setup, .fini = teardown)
{
    /* ws -> real-ws: granting the link while denying the target is a conflict */
    char json[1024];
    snprintf(json, sizeof json,
             "{\"cordon_policy\": 1, \"agent\": \"x\", \"sandbox\": {\"filesystem\": "
             "{\"read_only\": [\"%s\"], \"deny\": [\"%s\"]}}}",
             ws_link, real_ws);
    struct policy_env env = {.vars = {home, dir, dir, "/tmp"}, .resolve_symlinks = 1};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    cr_assert_neq(policy_load(json, strlen(json), &env, &p, &d), 0);
    cr_assert_null(p);
    cr_assert_str_eq(d.e[0].path, "sandbox.filesystem.read_only");
    cr_assert(strstr(d.e[0].msg, "also in deny"), "%s", d.e[0].msg);
}

Test(explain, wildcards_cover_custom_classes_too)
{
    const char *j = "{\"cordon_policy\": 1, \"agent\": \"x\", \"api\": {\"data\": {\"custom\": "
                    "[{\"class\": \"claim_id\", \"pattern\": \"CLM-[0-9]{8}\", \"action\": "
                    "\"redact\"}], \"claim*\": \"block\"}}}";
    struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    cr_assert_eq(policy_load(j, strlen(j), &env, &p, &d), 0);
    char *t = capture_text(p);
    cr_assert(strstr(t, "(covers claim_id)"), "%s", t);
    free(t);
    policy_free(p);
}

static struct policy *load_plain(const char *j)
{
    struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    cr_assert_eq(policy_load(j, strlen(j), &env, &p, &d), 0, "%s", d.count ? d.e[0].msg : "");
    return p;
}

Test(explain, limits_and_sysv_are_shown_with_their_mechanisms)
{
    struct policy *p = load_plain("{\"cordon_policy\": 1, \"agent\": \"x\", \"sandbox\": {\"ipc\": "
                                  "{\"sysv\": \"private\"}, \"limits\": {\"processes\": 50, "
                                  "\"memory\": \"512M\", \"cpu_seconds\": 60, "
                                  "\"open_files\": 1024}}}");
    char *t = capture_text(p);
    cr_assert(strstr(t, "SysV IPC in an IPC namespace of the sandbox's own"), "%s", t);
    cr_assert(strstr(t, "processes   50, the sandbox together (a cgroup; else RLIMIT_NPROC"), "%s",
              t);
    cr_assert(strstr(t, "memory      512M (536870912 bytes)"), "%s", t);
    cr_assert(strstr(t, "cpu_seconds 60, each process (RLIMIT_CPU)"), "%s", t);
    cr_assert(strstr(t, "open_files  1024, each process (RLIMIT_NOFILE)"), "%s", t);
    free(t);
    cJSON *o = policy_explain_json(p);
    cJSON *sb = cJSON_GetObjectItem(o, "sandbox");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(sb, "ipc"), "sysv")->valuestring,
                     "private");
    cJSON *lim = cJSON_GetObjectItem(sb, "limits");
    cr_assert_eq(cJSON_GetObjectItem(lim, "memory")->valuedouble, 536870912.0);
    cr_assert_eq(cJSON_GetObjectItem(lim, "processes")->valuedouble, 50.0);
    cJSON_Delete(o);
    policy_free(p);

    p = load_plain("{\"cordon_policy\": 1, \"agent\": \"x\"}");
    t = capture_text(p);
    cr_assert(strstr(t, "SysV IPC refused"), "%s", t);
    cr_assert(strstr(t, "limits    none: no process, memory, CPU time or open-file limit"), "%s",
              t);
    free(t);
    o = policy_explain_json(p);
    lim = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sandbox"), "limits");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(lim, "processes")), "no limit is null");
    cJSON_Delete(o);
    policy_free(p);
}

Test(explain, proxy_keys_and_constraint_objects_are_shown)
{
    struct policy *p = load_plain(
        "{\"cordon_policy\": 1, \"agent\": \"x\", \"api\": {\"tools\": {\"allow\": [\"*\"], "
        "\"on_denied_definition\": \"refuse\", \"constraints\": {\"crm\": {\"id\": \"[0-9]+\", "
        "\"region\": {\"enum\": [\"eu\", \"us\"], \"optional\": true}, \"n\": {\"min\": 1, "
        "\"max\": 9}}}}}}");
    char *t = capture_text(p);
    cr_assert(strstr(t, "crm: argument id must match /[0-9]+/\n"), "%s", t);
    cr_assert(strstr(t, "crm: argument region must be one of \"eu\", \"us\" (it may be absent)"),
              "%s", t);
    cr_assert(strstr(t, "crm: argument n must be a number from 1 to 9\n"), "%s", t);
    cr_assert(strstr(t, "a denied tool definition is refused (403), a denied tool call is "
                        "removed\n"),
              "%s", t);
    cr_assert(strstr(t, "stored prompts refused"), "%s", t);
    free(t);
    cJSON *o = policy_explain_json(p);
    cJSON *tools = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "tools");
    cr_assert_str_eq(cJSON_GetObjectItem(tools, "on_denied_definition")->valuestring, "refuse");
    cr_assert_str_eq(cJSON_GetObjectItem(tools, "on_denied_call")->valuestring, "drop");
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "previous_response_id")->valuestring,
        "refuse");
    cJSON *cs = cJSON_GetObjectItem(tools, "constraints");
    cr_assert_eq(cJSON_GetArraySize(cs), 3);
    cJSON *r = cJSON_GetArrayItem(cs, 1);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "pattern")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "enum")), 2);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "optional")));
    cJSON *n = cJSON_GetArrayItem(cs, 2);
    cr_assert_eq(cJSON_GetObjectItem(n, "min")->valuedouble, 1.0);
    cr_assert_eq(cJSON_GetObjectItem(n, "max")->valuedouble, 9.0);
    cJSON_Delete(o);
    policy_free(p);
}

Test(explain, http_hosts_and_their_rules_are_shown)
{
    struct policy *p = load_plain(
        "{\"cordon_policy\": 1, \"agent\": \"x\", \"sandbox\": {\"network\": {\"allow\": "
        "[\"crm.internal:443\"], \"http\": [{\"host\": \"crm.internal:443\", \"tls\": "
        "\"terminate\", \"scan\": true, \"rules\": [{\"method\": [\"GET\", \"HEAD\"], "
        "\"path\": \"/api/orders/*\", \"query\": {\"id\": \"[0-9]+\", \"all\": false}, "
        "\"action\": \"allow\"}, {\"action\": \"deny\"}]}]}}}");
    char *t = capture_text(p);
    cr_assert(strstr(t, "    http    crm.internal:443             rules per request, tls "
                        "terminate, bodies scanned by api.data\n"),
              "%s", t);
    cr_assert(strstr(t, "      [0] allow method GET|HEAD path /api/orders/* query id matching "
                        "/[0-9]+/ query all absent\n      [1] deny every request\n      "
                        "otherwise deny\n"),
              "%s", t);
    free(t);
    cJSON *o = policy_explain_json(p);
    cJSON *h = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sandbox"), "network"),
                            "http"),
        0);
    cr_assert_not_null(h);
    cr_assert_str_eq(cJSON_GetObjectItem(h, "tls")->valuestring, "terminate");
    cr_assert_str_eq(cJSON_GetObjectItem(h, "default")->valuestring, "deny");
    cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(h, "rules"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r0, "query"), "id")->valuestring,
                     "[0-9]+");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(r0, "query"), "all")));
    cJSON_Delete(o);
    policy_free(p);
}

Test(explain, data_actions_per_direction_lists_and_custom_kinds)
{
    struct policy *p = load_plain(
        "{\"cordon_policy\": 1, \"agent\": \"x\", \"api\": {\"data\": {\"pii.email\": "
        "{\"request\": \"tokenize\", \"response\": \"redact\", \"allow\": [\"a@b.example\"]}, "
        "\"pii.credit_card\": \"mask\", \"custom\": [{\"class\": \"drugs\", \"words\": "
        "[\"ozempic\", \"wegovy\"], \"action\": \"block\"}, {\"class\": \"customer\", \"edm\": "
        "\"/etc/c.edm\", \"action\": \"hash\", \"deny\": [\"ACME\"]}]}}}");
    char *t = capture_text(p);
    cr_assert(strstr(t, "pii.email              request tokenize, response redact  (1 allowed "
                        "value)"),
              "%s", t);
    cr_assert(strstr(t, "pii.credit_card        mask\n"), "%s", t);
    cr_assert(strstr(t, "drugs                  block  (custom: 2 words)"), "%s", t);
    cr_assert(strstr(t, "customer               hash  (1 denied value)  (custom: "
                        "exact-data-match file /etc/c.edm)"),
              "%s", t);
    free(t);
    cJSON *o = policy_explain_json(p);
    cJSON *api = cJSON_GetObjectItem(o, "api");
    cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(api, "data"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(r0, "request")->valuestring, "tokenize");
    cr_assert_str_eq(cJSON_GetObjectItem(r0, "response")->valuestring, "redact");
    cr_assert_null(cJSON_GetObjectItem(r0, "action"), "no single action when they differ");
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(r0, "allow"), 0)->valuestring,
                     "a@b.example");
    cJSON *r1 = cJSON_GetArrayItem(cJSON_GetObjectItem(api, "data"), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(r1, "action")->valuestring, "mask");
    cJSON *cu = cJSON_GetObjectItem(api, "custom");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(cu, 0), "words")), 2);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cu, 1), "edm")->valuestring,
                     "/etc/c.edm");
    cJSON_Delete(o);
    policy_free(p);
}

Test(explain, presets_are_named_and_their_paths_marked)
{
    struct policy *p = load_plain("{\"cordon_policy\": 1, \"agent\": \"x\", \"sandbox\": "
                                  "{\"presets\": [\"home-toolchains\"]}}");
    char *t = capture_text(p);
    cr_assert(strstr(t, "preset home-toolchains: read and execute, never write"), "%s", t);
    cr_assert(strstr(t, "~/.pyenv               /h/.pyenv"), "%s", t);
    cr_assert(strstr(t, "[preset]"), "%s", t);
    free(t);
    cJSON *o = policy_explain_json(p);
    cJSON *pr = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sandbox"), "presets");
    cr_assert_eq(cJSON_GetArraySize(pr), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(pr, 0)->valuestring, "home-toolchains");
    cJSON *ap = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sandbox"), "exec"),
                                    "allow_paths");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ap, 0), "origin")->valuestring,
                     "preset");
    cJSON_Delete(o);
    policy_free(p);
}
