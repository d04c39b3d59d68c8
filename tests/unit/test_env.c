/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.env: the globs and their case-blind match, allow over hide, the default credential
 * set and its switch, cordon's own profile never hidden, every malformed or hostile key
 * refused at its path; and the root's scrub (shim/env.c): a hidden variable leaves environ,
 * its bytes leave the kernel's block (/proc/self/environ), and only names reach the report.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/explain.h"
#include "policy/policy.h"
#include "shim/env.h"

static const struct policy_env test_env = {
    .vars = {.home = "/home/tester",
             .cwd = "/work/proj",
             .workspace = "/work/proj/ws",
             .tmp = "/tmp"},
};

#define P(body) "{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {\"env\": " body "}}"

static struct diag d;

static struct policy *load(const char *json)
{
    struct policy *p = NULL;
    diag_init(&d);
    int rc = policy_load(json, strlen(json), &test_env, &p, &d);
    if (rc != 0)
        cr_assert_null(p);
    return p;
}

static struct policy *load_ok(const char *json)
{
    struct policy *p = load(json);
    char line[512] = "";
    if (!p && d.count)
        diag_format(&d, 0, line, sizeof line);
    cr_assert_not_null(p, "policy refused: %s", line);
    return p;
}

static void expect_error(const char *json, const char *path, const char *msg)
{
    struct policy *p = load(json);
    cr_assert_null(p, "policy was accepted, expected an error at %s", path);
    char all[4096] = "";
    size_t o = 0;
    for (size_t i = 0; i < d.count; i++) {
        if (strcmp(d.e[i].path, path) == 0 && strstr(d.e[i].msg, msg))
            return;
        char line[512];
        diag_format(&d, i, line, sizeof line);
        o += (size_t)snprintf(all + o, sizeof all - o, "  %s\n", line);
        if (o >= sizeof all)
            break;
    }
    cr_assert_fail("no error at '%s' containing '%s'; got:\n%s", path, msg, all);
}

static int hides(const struct policy *p, const char *entry)
{
    return policy_env_hides(p, entry, NULL);
}

Test(env, default_set_hides_credentials_and_keeps_the_rest)
{
    struct policy *p = load_ok("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    const char *hidden[] = {"AWS_SECRET_ACCESS_KEY=x",
                            "AWS_SESSION_TOKEN=x",
                            "GITHUB_TOKEN=ghp_x",
                            "GH_TOKEN=x",
                            "NPM_TOKEN=x",
                            "OPENAI_API_KEY=sk",
                            "ANTHROPIC_API_KEY=x",
                            "STRIPE_SECRET_KEY=x",
                            "AZURE_CLIENT_SECRET=x",
                            "GOOGLE_APPLICATION_CREDENTIALS=/k.json",
                            "PGPASSWORD=x",
                            "MYSQL_PWD_PASSWORD=x",
                            "SSH_AUTH_SOCK=/run/a",
                            "DATABASE_URL=pg://",
                            "AWS_ACCESS_KEY_ID=AKIA",
                            "DEPLOY_PRIVATE_KEY=x",
                            "HF_TOKEN=x",
                            "github_token=lower case too",
                            "SENDGRID_APIKEY=x",
                            NULL};
    for (size_t i = 0; hidden[i]; i++)
        cr_expect(hides(p, hidden[i]), "%s should be hidden by default", hidden[i]);
    const char *shown[] = {"PATH=/usr/bin",
                           "HOME=/home/a",
                           "LANG=C.UTF-8",
                           "TERM=xterm",
                           "AWS_REGION=eu-west-1",
                           "TOKENIZERS_PARALLELISM=false",
                           "EDITOR=vi",
                           "SSH_TTY=/dev/pts/1",
                           "=x",
                           "",
                           NULL};
    for (size_t i = 0; shown[i]; i++)
        cr_expect(!hides(p, shown[i]), "%s should be shown", shown[i]);
    policy_free(p);
}

Test(env, only_the_name_is_judged_never_the_value)
{
    struct policy *p = load_ok("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    cr_expect(!hides(p, "NOTE=MY_TOKEN"));
    cr_expect(!hides(p, "NOTE=PASSWORD=hunter2"));
    cr_expect(hides(p, "GITHUB_TOKEN"), "a bare name is judged too");
    cr_expect(hides(p, "GITHUB_TOKEN="), "an empty value is still hidden");
    policy_free(p);
}

Test(env, allow_wins_over_hide_and_over_the_default_set)
{
    struct policy *p =
        load_ok(P("{\"hide\": [\"ACME_*\"], \"allow\": [\"ACME_PUBLIC_*\", \"CI_JOB_TOKEN\"]}"));
    cr_expect(hides(p, "ACME_DB=x"));
    cr_expect(!hides(p, "ACME_PUBLIC_URL=x"));
    struct policy_env_verdict v;
    cr_expect(!policy_env_hides(p, "CI_JOB_TOKEN=x", &v));
    cr_expect_str_eq(v.hide, "*_TOKEN", "the rule that would hide it is still told");
    cr_expect(v.is_default);
    cr_expect_str_eq(v.allow, "CI_JOB_TOKEN");
    cr_expect(policy_env_hides(p, "ACME_DB=x", &v));
    cr_expect_str_eq(v.hide, "ACME_*");
    cr_expect(!v.is_default);
    cr_expect_null(v.allow);
    cr_expect(hides(p, "GITHUB_TOKEN=x"), "the document's hide adds to the default set");
    policy_free(p);
}

Test(env, globs_are_case_blind_and_match_the_whole_name)
{
    struct policy *p = load_ok(P("{\"hide\": [\"corp_?EY\", \"X*Y\"]}"));
    cr_expect(hides(p, "CORP_KEY=1"));
    cr_expect(hides(p, "corp_key=1"));
    cr_expect(!hides(p, "CORP_KEYS=1"), "a glob matches the whole name, not a prefix");
    cr_expect(!hides(p, "ACORP_KEY=1"));
    cr_expect(hides(p, "XY=1"));
    cr_expect(hides(p, "X_ANY_Y=1"));
    cr_expect(!hides(p, "X_ANY_Z=1"));
    policy_free(p);
}

Test(env, hide_credentials_false_leaves_only_the_documents_rules)
{
    struct policy *p = load_ok(P("{\"hide\": [\"ACME_KEY\"], \"hide_credentials\": false}"));
    cr_expect(!hides(p, "GITHUB_TOKEN=x"));
    cr_expect(!hides(p, "AWS_SECRET_ACCESS_KEY=x"));
    cr_expect(hides(p, "ACME_KEY=x"));
    policy_free(p);
}

Test(env, cordons_own_profile_is_never_hidden)
{
    struct policy *p = load_ok(P("{\"hide\": [\"*\"]}"));
    cr_expect(hides(p, "PATH=/usr/bin"), "\"*\" hides everything else");
    cr_expect(!hides(p, "CORDON_KEY=ck_x"));
    cr_expect(!hides(p, "CORDON_SESSION_TOKEN=x"));
    cr_expect(!hides(p, "LD_PRELOAD=/lib/libcordon.so"));
    cr_expect(hides(p, "LD_PRELOAD_EXTRA=x"), "only LD_PRELOAD itself is spared");
    cr_expect(hides(p, "XCORDON_KEY=x"));
    policy_free(p);
}

Test(env, malformed_keys_are_refused_at_their_path)
{
    expect_error(P("[]"), "sandbox.env", "expected an object");
    expect_error(P("{\"hid\": []}"), "sandbox.env.hid", "unknown key");
    expect_error(P("{\"hide\": \"GITHUB_TOKEN\"}"), "sandbox.env.hide", "expected an array");
    expect_error(P("{\"hide\": [3]}"), "sandbox.env.hide[0]", "expected a string");
    expect_error(P("{\"hide\": [\"\"]}"), "sandbox.env.hide[0]", "");
    expect_error(P("{\"hide\": [\"A=B\"]}"), "sandbox.env.hide[0]", "expected a variable name");
    expect_error(P("{\"allow\": [\"HAS SPACE\"]}"), "sandbox.env.allow[0]",
                 "expected a variable name");
    expect_error(P("{\"hide\": [\"A\", \"A\"]}"), "sandbox.env.hide[1]", "listed twice");
    expect_error(P("{\"hide_credentials\": \"no\"}"), "sandbox.env.hide_credentials",
                 "expected true or false");
}

Test(env, hostile_keys_are_refused_without_harm)
{
    /* a name longer than any glob may be, and an array past the item limit */
    char json[16384];
    char name[300];
    memset(name, 'A', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(json, sizeof json, P("{\"hide\": [\"%s\"]}"), name);
    expect_error(json, "sandbox.env.hide[0]", "at most 128");
    size_t o = (size_t)snprintf(json, sizeof json,
                                "{\"cordon_policy\": 1, \"agent\": \"a\", "
                                "\"sandbox\": {\"env\": {\"allow\": [");
    for (int i = 0; i < 1100; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "%s\"V%d\"", i ? "," : "", i);
    snprintf(json + o, sizeof json - o, "]}}}");
    expect_error(json, "sandbox.env.allow", "at most 1024");
    /* a control character in a glob */
    expect_error(P("{\"hide\": [\"A\\u0001\"]}"), "sandbox.env.hide[0]", "");
}

Test(env, a_long_variable_name_is_judged_whole)
{
    struct policy *p = load_ok("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    size_t n = 100000;
    char *e = malloc(n + 16);
    cr_assert_not_null(e);
    memset(e, 'A', n);
    memcpy(e + n, "_TOKEN=v", 9);
    cr_expect(hides(p, e));
    memcpy(e + n, "_TOKENS=v", 10);
    cr_expect(!hides(p, e));
    free(e);
    policy_free(p);
}

/* ---- the root's scrub ---- */

extern char **environ;

/* The whole of /proc/self/environ, the kernel's block as it is now. */
static size_t read_environ(char *buf, size_t cap)
{
    int fd = open("/proc/self/environ", O_RDONLY);
    cr_assert_geq(fd, 0);
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    close(fd);
    return n;
}

/* tests/CMakeLists.txt starts this suite with UNIT_ENV_PLANTED_TOKEN in its environment, so
 * the value lies in the block the kernel placed at exec, as an agent's would. */
Test(env, scrub_removes_the_value_from_environ_and_the_kernels_block)
{
    const char *planted = getenv("UNIT_ENV_PLANTED_TOKEN");
    cr_assert_not_null(planted, "run this suite through ctest, which plants "
                                "UNIT_ENV_PLANTED_TOKEN in its environment");
    char value[128];
    snprintf(value, sizeof value, "%s", planted);
    static char buf[1 << 20];
    size_t n = read_environ(buf, sizeof buf);
    cr_assert_not_null(memmem(buf, n, value, strlen(value)), "control: the value is in the block");
    setenv("UNIT_ENV_SET_LATER_PASSWORD", "set-by-the-program", 1);
    setenv("UNIT_ENV_KEPT", "kept-value", 1);

    struct policy *p = load_ok("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    struct env_hidden h;
    cr_assert_eq(env_scrub(p, &h), 0);
    cr_expect_null(getenv("UNIT_ENV_PLANTED_TOKEN"));
    cr_expect_null(getenv("UNIT_ENV_SET_LATER_PASSWORD"));
    cr_expect_str_eq(getenv("UNIT_ENV_KEPT"), "kept-value");
    for (char **e = environ; *e; e++)
        cr_expect(!policy_env_hides(p, *e, NULL), "%.40s is still in environ", *e);
    n = read_environ(buf, sizeof buf);
    cr_expect_null(memmem(buf, n, value, strlen(value)), "the value is still in the block");
    cr_expect_null(memmem(buf, n, "UNIT_ENV_PLANTED_TOKEN", 22), "the name too is overwritten");
    cr_expect_geq(h.n, 2);
    cr_expect_geq(h.scrubbed, 1, "the planted variable was in the kernel's block");
    cr_expect_lt(h.scrubbed, h.n, "the one the program set is not in the block");

    cJSON *o = cJSON_CreateObject();
    cr_assert_eq(env_hidden_json(&h, o), 0);
    char *text = cJSON_PrintUnformatted(o);
    cr_expect(strstr(text, "\"UNIT_ENV_PLANTED_TOKEN\""), "%s", text);
    cr_expect(strstr(text, "\"UNIT_ENV_SET_LATER_PASSWORD\""), "%s", text);
    cr_expect_null(strstr(text, value), "a value reached the report: %s", text);
    cr_expect_null(strstr(text, "set-by-the-program"), "%s", text);
    cr_expect(strstr(text, "\"truncated\":false"), "%s", text);
    free(text);
    cJSON_Delete(o);
    policy_free(p);
}

Test(env, scrub_report_counts_every_variable_and_cuts_only_names)
{
    char name[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "UNIT_ENV_MANY_%03d_SECRET_SOMETHING_LONG", i);
        setenv(name, "v", 1);
    }
    struct policy *p = load_ok("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    struct env_hidden h;
    cr_assert_eq(env_scrub(p, &h), 0);
    cr_expect_geq(h.n, 200);
    cr_expect_lt(h.listed, h.n);
    cr_expect(h.truncated);
    cr_expect_leq(h.used, sizeof h.names);
    cr_expect_null(getenv("UNIT_ENV_MANY_199_SECRET_SOMETHING_LONG"));
    policy_free(p);
}

Test(env, explain_lists_what_would_be_hidden_by_name)
{
    setenv("UNIT_ENV_EXPLAIN_API_KEY", "explain-secret-value", 1);
    setenv("UNIT_ENV_EXPLAIN_ALLOWED_TOKEN", "allowed-value", 1);
    struct policy *p = load_ok(P("{\"allow\": [\"UNIT_ENV_EXPLAIN_ALLOWED_*\"]}"));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(policy_explain_text(p, f), 0);
    fclose(f);
    cr_expect(strstr(text, "hidden now   UNIT_ENV_EXPLAIN_API_KEY (*_API_KEY, the credential set)"),
              "%s", text);
    cr_expect(strstr(text, "shown now    UNIT_ENV_EXPLAIN_ALLOWED_TOKEN (*_TOKEN, allowed by "
                           "UNIT_ENV_EXPLAIN_ALLOWED_*)"),
              "%s", text);
    cr_expect_null(strstr(text, "explain-secret-value"), "a value was printed");
    free(text);
    cJSON *o = policy_explain_json(p);
    char *js = cJSON_PrintUnformatted(o);
    cr_expect(strstr(js, "{\"name\":\"UNIT_ENV_EXPLAIN_API_KEY\",\"rule\":\"*_API_KEY\","
                         "\"default\":true}"),
              "%s", js);
    cr_expect_null(strstr(js, "explain-secret-value"));
    free(js);
    cJSON_Delete(o);
    policy_free(p);
}

Test(env, the_notice_names_and_counts_and_fits_its_buffer)
{
    struct env_hidden h;
    memset(&h, 0, sizeof h);
    char line[64];
    cr_expect_eq(env_hidden_line(&h, line, sizeof line), 0, "nothing hidden, nothing said");
    cr_expect_str_eq(line, "");
    memcpy(h.names, "GITHUB_TOKEN\0PGPASSWORD", 24);
    h.used = 24;
    h.n = h.listed = 2;
    char big[256];
    size_t n = env_hidden_line(&h, big, sizeof big);
    cr_expect_str_eq(big, "sandbox.env hid 2 variables from the agent: GITHUB_TOKEN PGPASSWORD "
                          "(list one in sandbox.env.allow to pass it on)");
    cr_expect_eq(n, strlen(big));
    n = env_hidden_line(&h, line, sizeof line);
    cr_expect_eq(n, strlen(line), "cut short, the length is what was written");
    cr_expect_lt(n, sizeof line);
    h.n = 1;
    h.used = 13;
    h.listed = 1;
    (void)env_hidden_line(&h, big, sizeof big);
    cr_expect(strstr(big, "hid 1 variable from"), "%s", big);
}
